/*
 * IPv4 header parse and emit, the options walker, TTL decrement, and the
 * text forms of addresses and prefixes (see ipv4.h).
 *
 * Header layout (RFC 791 section 3.1), offsets in bytes:
 *   0 version|IHL  1 TOS  2 total length  4 id  6 flags|fragment offset
 *   8 TTL  9 protocol  10 checksum  12 source  16 destination  20 options
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "refnet/error.h"
#include "wire/bytes.h"
#include "wire/csum.h"
#include "wire/ipv4.h"

#define IP4_DF 0x4000       /* don't fragment */
#define IP4_MF 0x2000       /* more fragments */
#define IP4_OFFMASK 0x1fff  /* fragment offset, in 8-byte units */

/* True if every option in the area is well-formed. */
static bool ip4_opts_valid(const uint8_t *opts, size_t len)
{
    struct rn_ip4_opt_iter it;
    struct rn_ip4_opt opt;
    int rc;

    rn__ip4_opt_init(&it, opts, len);
    while ((rc = rn__ip4_opt_next(&it, &opt)) > 0)
        ;
    return rc == 0;
}

enum rn_drop rn__ip4_parse(const uint8_t *p, size_t len, struct rn_ip4_hdr *ip)
{
    size_t hlen, tot;
    uint16_t frag;

    assert(p != NULL || len == 0);
    assert(ip != NULL);

    if (len < RN_IP4_HLEN)
        return RN_DROP_TRUNCATED;
    if (p[0] >> 4 != 4)
        return RN_DROP_BAD_IP_VERSION;
    hlen = (size_t)(p[0] & 0x0f) * 4;
    if (hlen < RN_IP4_HLEN || hlen > len)
        return RN_DROP_BAD_IP_HDR_LEN;
    tot = rn_get_be16(p + 2);
    /* Ethernet pads short frames to 60 bytes, so len may exceed the total
     * length; the reverse means the packet was cut. */
    if (tot < hlen || tot > len)
        return RN_DROP_BAD_IP_TOTAL_LEN;
    if (rn_csum(p, hlen) != 0)
        return RN_DROP_BAD_IP_CSUM;

    ip->ip_hlen = (uint8_t)hlen;
    ip->ip_tos = p[1];
    ip->ip_len = (uint16_t)tot;
    ip->ip_id = rn_get_be16(p + 4);
    frag = rn_get_be16(p + 6);
    ip->ip_df = (frag & IP4_DF) != 0;
    ip->ip_mf = (frag & IP4_MF) != 0;
    ip->ip_off = (uint16_t)((frag & IP4_OFFMASK) * 8);
    ip->ip_ttl = p[8];
    ip->ip_proto = p[9];
    ip->ip_sum = rn_get_be16(p + 10);
    ip->ip_src = rn_get_be32(p + 12);
    ip->ip_dst = rn_get_be32(p + 16);
    ip->ip_optlen = (uint8_t)(hlen - RN_IP4_HLEN);
    ip->ip_opts = ip->ip_optlen ? p + RN_IP4_HLEN : NULL;
    ip->ip_payload = p + hlen;
    ip->ip_paylen = (uint16_t)(tot - hlen);

    if (ip->ip_optlen && !ip4_opts_valid(ip->ip_opts, ip->ip_optlen))
        return RN_DROP_BAD_IP_OPTIONS;
    /* The "ping of death": a fragment that would reassemble past 64 KiB. */
    if ((uint32_t)ip->ip_off + ip->ip_paylen > RN_IP4_MAX_LEN)
        return RN_DROP_FRAG_TOO_BIG;
    /* Every fragment but the last carries a multiple of 8 bytes, since the
     * next one's offset is counted in 8-byte units (RFC 791 section 2.3). */
    if (ip->ip_mf && (ip->ip_paylen == 0 || (ip->ip_paylen & 7) != 0))
        return RN_DROP_BAD_IP_FRAG;
    return RN_DROP_NONE;
}

size_t rn__ip4_emit(uint8_t *out, const struct rn_ip4_hdr *ip)
{
    size_t hlen;
    uint16_t frag;

    assert(out != NULL && ip != NULL);
    assert(ip->ip_optlen <= RN_IP4_MAX_OPTLEN && ip->ip_optlen % 4 == 0);
    assert(ip->ip_optlen == 0 || ip->ip_opts != NULL);
    assert(ip->ip_off % 8 == 0);

    hlen = RN_IP4_HLEN + (size_t)ip->ip_optlen;
    assert(hlen + ip->ip_paylen <= RN_IP4_MAX_LEN);
    assert((size_t)ip->ip_off + ip->ip_paylen <= RN_IP4_MAX_LEN);

    out[0] = (uint8_t)(4 << 4 | hlen / 4);
    out[1] = ip->ip_tos;
    rn_put_be16(out + 2, (uint16_t)(hlen + ip->ip_paylen));
    rn_put_be16(out + 4, ip->ip_id);
    frag = (uint16_t)(ip->ip_off / 8);
    if (ip->ip_df)
        frag |= IP4_DF;
    if (ip->ip_mf)
        frag |= IP4_MF;
    rn_put_be16(out + 6, frag);
    out[8] = ip->ip_ttl;
    out[9] = ip->ip_proto;
    rn_put_be16(out + 10, 0);
    rn_put_be32(out + 12, ip->ip_src);
    rn_put_be32(out + 16, ip->ip_dst);
    if (ip->ip_optlen && ip->ip_opts != out + RN_IP4_HLEN)
        memmove(out + RN_IP4_HLEN, ip->ip_opts, ip->ip_optlen);
    rn_put_be16(out + 10, rn_csum(out, hlen));
    return hlen;
}

enum rn_drop rn__ip4_dec_ttl(uint8_t *hdr)
{
    uint16_t old_word, new_word;

    assert(hdr != NULL);
    if (hdr[8] <= 1)
        return RN_DROP_IP_TTL_EXPIRED;
    /* TTL shares its checksum word with the protocol octet. */
    old_word = rn_get_be16(hdr + 8);
    new_word = (uint16_t)(old_word - 0x100);
    rn_put_be16(hdr + 8, new_word);
    rn_put_be16(hdr + 10,
                rn_csum_update16(rn_get_be16(hdr + 10), old_word, new_word));
    return RN_DROP_NONE;
}

/* ---- Options ------------------------------------------------------------ */

void rn__ip4_opt_init(struct rn_ip4_opt_iter *it, const uint8_t *opts,
                     size_t len)
{
    assert(it != NULL);
    assert(opts != NULL || len == 0);
    it->oi_p = opts;
    it->oi_len = len;
    it->oi_off = 0;
    it->oi_bad = false;
}

/* True if optlen is acceptable for an option of this type.  Unknown types
 * only need room for their type and length octets. */
static bool ip4_opt_len_ok(uint8_t type, size_t optlen)
{
    switch (type) {
    case RN_IPOPT_RR:
    case RN_IPOPT_LSRR:
    case RN_IPOPT_SSRR:
        return optlen >= 3; /* type, length, pointer */
    case RN_IPOPT_TS:
        return optlen >= 4; /* type, length, pointer, overflow|flags */
    case RN_IPOPT_RA:
        return optlen == 4; /* RFC 2113: a 2-byte value */
    default:
        return optlen >= 2;
    }
}

int rn__ip4_opt_next(struct rn_ip4_opt_iter *it, struct rn_ip4_opt *opt)
{
    assert(it != NULL && opt != NULL);

    if (it->oi_bad)
        return RN_EFORMAT;
    while (it->oi_off < it->oi_len) {
        size_t left = it->oi_len - it->oi_off;
        const uint8_t *q = it->oi_p + it->oi_off;
        size_t optlen;

        if (q[0] == RN_IPOPT_EOL) {
            /* The rest is padding; finish the walk for good. */
            it->oi_off = it->oi_len;
            return 0;
        }
        if (q[0] == RN_IPOPT_NOP) {
            it->oi_off++;
            continue;
        }
        if (left < 2)
            goto out_bad;
        optlen = q[1];
        if (optlen > left || !ip4_opt_len_ok(q[0], optlen))
            goto out_bad;
        opt->io_type = q[0];
        opt->io_len = (uint8_t)optlen;
        opt->io_data = q + 2;
        it->oi_off += optlen;
        return 1;
    }
    return 0;

out_bad:
    it->oi_bad = true;
    return RN_EFORMAT;
}

/* ---- Addresses ---------------------------------------------------------- */

int rn_ip4_mask_to_plen(uint32_t mask)
{
    /* A contiguous mask is ones then zeros, so its complement is a run of
     * low ones, and adding one to such a run clears every bit of it. */
    uint32_t inv = ~mask;

    if ((inv & (inv + 1)) != 0)
        return RN_EINVAL;
    return mask == 0 ? 0 : 32 - __builtin_ctz(mask);
}

char *rn_ip4_addr_fmt(uint32_t addr, char *buf)
{
    assert(buf != NULL);
    snprintf(buf, RN_IP4_STRLEN, "%u.%u.%u.%u", addr >> 24,
             (addr >> 16) & 0xff, (addr >> 8) & 0xff, addr & 0xff);
    return buf;
}

/*
 * Parses a dotted quad at the start of s.  Returns 0 and sets *addr and
 * *end (the first byte after the address), or RN_EINVAL with *errmsg set.
 */
int rn__ip4_addr_scan(const char *s, uint32_t *addr, const char **end,
                      const char **errmsg)
{
#define OCTET_MSGS(what)                                                     \
    {"octet 1 " what, "octet 2 " what, "octet 3 " what, "octet 4 " what}
    static const char *const no_digit[4] = OCTET_MSGS("has no digits");
    static const char *const too_big[4] = OCTET_MSGS("is greater than 255");
    static const char *const lead_zero[4] =
        OCTET_MSGS("has a leading zero (octal is not accepted)");
#undef OCTET_MSGS
    uint32_t a = 0;
    int i;

    for (i = 0; i < 4; i++) {
        unsigned v = 0;

        if (i > 0) {
            if (*s != '.') {
                *errmsg = (*s == '\0' || *s == '/')
                              ? "fewer than four octets"
                              : "octets must be separated by '.'";
                return RN_EINVAL;
            }
            s++;
        }
        if (*s < '0' || *s > '9') {
            *errmsg = no_digit[i];
            return RN_EINVAL;
        }
        if (s[0] == '0' && s[1] >= '0' && s[1] <= '9') {
            *errmsg = lead_zero[i];
            return RN_EINVAL;
        }
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (unsigned)(*s - '0');
            if (v > 255) {
                *errmsg = too_big[i];
                return RN_EINVAL;
            }
            s++;
        }
        a = a << 8 | v;
    }
    if (*s == '.') {
        *errmsg = "more than four octets";
        return RN_EINVAL;
    }
    *addr = a;
    *end = s;
    return 0;
}

int rn_ip4_addr_parse(const char *s, uint32_t *addr, const char **errmsg)
{
    const char *err = NULL;
    const char *end;
    uint32_t a;

    assert(addr != NULL);
    if (s == NULL || *s == '\0') {
        err = "empty IPv4 address";
        goto out_err;
    }
    if (rn__ip4_addr_scan(s, &a, &end, &err) < 0)
        goto out_err;
    if (*end != '\0') {
        err = *end == '/' ? "unexpected prefix length ('/')"
                          : "trailing characters after the address";
        goto out_err;
    }
    *addr = a;
    return 0;

out_err:
    if (errmsg != NULL)
        *errmsg = err;
    return RN_EINVAL;
}

int rn_ip4_cidr_parse(const char *s, uint32_t *addr, unsigned *plen,
                      const char **errmsg)
{
    const char *err = NULL;
    const char *end;
    unsigned v = 0;
    uint32_t a;

    assert(addr != NULL && plen != NULL);
    if (s == NULL || *s == '\0') {
        err = "empty prefix";
        goto out_err;
    }
    if (rn__ip4_addr_scan(s, &a, &end, &err) < 0)
        goto out_err;
    if (*end != '/') {
        err = *end == '\0' ? "missing '/prefix-length'"
                           : "trailing characters after the address";
        goto out_err;
    }
    end++;
    if (*end < '0' || *end > '9') {
        err = "prefix length has no digits";
        goto out_err;
    }
    if (end[0] == '0' && end[1] >= '0' && end[1] <= '9') {
        err = "prefix length has a leading zero";
        goto out_err;
    }
    while (*end >= '0' && *end <= '9') {
        v = v * 10 + (unsigned)(*end - '0');
        if (v > 32) {
            err = "prefix length is greater than 32";
            goto out_err;
        }
        end++;
    }
    if (*end != '\0') {
        err = "trailing characters after the prefix length";
        goto out_err;
    }
    *addr = a;
    *plen = v;
    return 0;

out_err:
    if (errmsg != NULL)
        *errmsg = err;
    return RN_EINVAL;
}
