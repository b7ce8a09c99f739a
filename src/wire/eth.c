/*
 * Ethernet II header parse and emit, MAC address text form (see eth.h).
 */
#include <assert.h>
#include <ctype.h>

#include "base/hex.h"
#include "refnet/error.h"
#include "wire/bytes.h"
#include "wire/eth.h"

enum rn_drop rn__eth_parse(const uint8_t *p, size_t len, struct rn_eth_hdr *eh)
{
    assert(p != NULL || len == 0);
    assert(eh != NULL);

    if (len < RN_ETH_HLEN)
        return RN_DROP_TRUNCATED;
    memcpy(eh->eh_dst.mac_octet, p, RN_ETH_ALEN);
    memcpy(eh->eh_src.mac_octet, p + RN_ETH_ALEN, RN_ETH_ALEN);
    eh->eh_type = rn_get_be16(p + 2 * RN_ETH_ALEN);
    eh->eh_payload = p + RN_ETH_HLEN;
    eh->eh_paylen = len - RN_ETH_HLEN;

    /* A group address is never a valid source (IEEE 802-2014 8.2). */
    if (rn_mac_is_multicast(&eh->eh_src))
        return RN_DROP_BAD_ETH;
    /*
     * Tagged frames carry the real EtherType 4 bytes further on.  We do not
     * handle VLANs, and reading the inner type as if it were ours would
     * deliver another VLAN's traffic, so they stop here.  802.3 frames with
     * a length field (LLC: STP, CDP and the like) are not ours either.
     */
    if (eh->eh_type == RN_ETHERTYPE_VLAN || eh->eh_type == RN_ETHERTYPE_QINQ ||
        eh->eh_type < RN_ETHERTYPE_MIN)
        return RN_DROP_UNSUPPORTED_ETHERTYPE;
    return RN_DROP_NONE;
}

size_t rn__eth_emit(uint8_t *out, const struct rn_mac *dst,
                   const struct rn_mac *src, uint16_t type)
{
    assert(out != NULL && dst != NULL && src != NULL);

    memcpy(out, dst->mac_octet, RN_ETH_ALEN);
    memcpy(out + RN_ETH_ALEN, src->mac_octet, RN_ETH_ALEN);
    rn_put_be16(out + 2 * RN_ETH_ALEN, type);
    return RN_ETH_HLEN;
}

char *rn_mac_fmt(const struct rn_mac *m, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    char *q = buf;
    int i;

    assert(m != NULL && buf != NULL);
    for (i = 0; i < RN_ETH_ALEN; i++) {
        if (i > 0)
            *q++ = ':';
        *q++ = hex[m->mac_octet[i] >> 4];
        *q++ = hex[m->mac_octet[i] & 0x0f];
    }
    *q = '\0';
    return buf;
}

int rn_mac_parse(const char *s, struct rn_mac *m, const char **errmsg)
{
    /* Per-group messages, so that the error says where the problem is. */
#define GROUP_MSGS(what)                                                     \
    {"group 1 " what, "group 2 " what, "group 3 " what,                      \
     "group 4 " what, "group 5 " what, "group 6 " what}
    static const char *const no_digit[RN_ETH_ALEN] =
        GROUP_MSGS("has no hex digit");
    static const char *const too_long[RN_ETH_ALEN] =
        GROUP_MSGS("has more than two hex digits");
    static const char *const non_hex[RN_ETH_ALEN] =
        GROUP_MSGS("has a character that is not a hex digit");
#undef GROUP_MSGS
    struct rn_mac tmp;
    const char *err;
    char sep = 0;
    int i;

    assert(m != NULL);
    if (s == NULL || *s == '\0') {
        err = "empty MAC address";
        goto out_err;
    }
    for (i = 0; i < RN_ETH_ALEN; i++) {
        int hi, lo;

        if (i > 0) {
            if (*s != ':' && *s != '-') {
                if (*s == '\0')
                    err = "fewer than six groups";
                else if (isalnum((unsigned char)*s))
                    err = non_hex[i - 1];
                else
                    err = "groups must be separated by ':' or '-'";
                goto out_err;
            }
            if (sep != 0 && *s != sep) {
                err = "mixed ':' and '-' separators";
                goto out_err;
            }
            sep = *s++;
        }
        hi = rn__hex_digit(*s);
        if (hi < 0) {
            err = no_digit[i];
            goto out_err;
        }
        s++;
        lo = rn__hex_digit(*s);
        if (lo < 0) {
            /* One digit: "2:0:0:0:0:1" is common shorthand. */
            tmp.mac_octet[i] = (uint8_t)hi;
            continue;
        }
        s++;
        if (rn__hex_digit(*s) >= 0) {
            err = too_long[i];
            goto out_err;
        }
        tmp.mac_octet[i] = (uint8_t)(hi << 4 | lo);
    }
    if (*s != '\0') {
        if (*s == ':' || *s == '-')
            err = "more than six groups";
        else if (isalnum((unsigned char)*s))
            err = non_hex[RN_ETH_ALEN - 1];
        else
            err = "trailing characters after the sixth group";
        goto out_err;
    }
    *m = tmp;
    return 0;

out_err:
    if (errmsg != NULL)
        *errmsg = err;
    return RN_EINVAL;
}
