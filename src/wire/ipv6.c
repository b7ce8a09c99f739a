/*
 * IPv6 fixed header parse and emit, the extension header walk, and the
 * text forms and helpers of IPv6 addresses (see ipv6.h and refnet/addr.h).
 *
 * Fixed header layout (RFC 8200 3), offsets in bytes:
 *   0 version|traffic class|flow label  4 payload length  6 next header
 *   7 hop limit  8 source  24 destination  40 extension headers or payload
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "base/hex.h"
#include "refnet/error.h"
#include "wire/bytes.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

enum rn_drop rn__ip6_parse(const uint8_t *p, size_t len, struct rn_ip6_hdr *ip)
{
    uint32_t w;

    if (len < RN_IP6_HLEN)
        return RN_DROP_TRUNCATED;
    w = rn_get_be32(p);
    if ((w >> 28) != 6)
        return RN_DROP_BAD_IP_VERSION;
    ip->ip6_tclass = (uint8_t)(w >> 20);
    ip->ip6_flow = w & 0xfffffu;
    ip->ip6_plen = rn_get_be16(p + 4);
    if ((size_t)ip->ip6_plen > len - RN_IP6_HLEN)
        return RN_DROP_BAD_IP6_PAYLOAD_LEN;
    ip->ip6_nxt = p[6];
    ip->ip6_hlim = p[7];
    memcpy(ip->ip6_src.i6_octet, p + 8, RN_IP6_LEN);
    memcpy(ip->ip6_dst.i6_octet, p + 24, RN_IP6_LEN);
    ip->ip6_payload = p + RN_IP6_HLEN;
    return RN_DROP_NONE;
}

size_t rn__ip6_emit(uint8_t *out, const struct rn_ip6_hdr *ip)
{
    rn_put_be32(out, 6u << 28 | (uint32_t)ip->ip6_tclass << 20 | (ip->ip6_flow & 0xfffffu));
    rn_put_be16(out + 4, ip->ip6_plen);
    out[6] = ip->ip6_nxt;
    out[7] = ip->ip6_hlim;
    memcpy(out + 8, ip->ip6_src.i6_octet, RN_IP6_LEN);
    memcpy(out + 24, ip->ip6_dst.i6_octet, RN_IP6_LEN);
    return RN_IP6_HLEN;
}

/* Sets the answer of a drop and returns its reason. */
static enum rn_drop ext_drop(struct rn_ip6_ext *ex, enum rn_drop reason, int code, size_t ptr)
{
    ex->ex_pp_code = code;
    ex->ex_pp_ptr = (uint32_t)ptr;
    return reason;
}

/* Walks the options of the hop-by-hop or destination options header in
 * [start, end) of p.  Returns RN_DROP_NONE or why it is dropped. */
static enum rn_drop ext_options(const uint8_t *p, size_t start, size_t end, bool hop,
                                bool dst_mcast, struct rn_ip6_ext *ex)
{
    size_t i = start;

    while (i < end) {
        uint8_t type = p[i], olen;

        if (type == RN_IP6_OPT_PAD1) {
            i++;
            continue;
        }
        if (i + 2 > end || i + 2 + (size_t)p[i + 1] > end)
            return ext_drop(ex, RN_DROP_BAD_IP6_EXT, -1, 0);
        olen = p[i + 1];
        if (type == RN_IP6_OPT_PADN) {
            /* Any content: RFC 8200 leaves it to the receiver to ignore. */
        } else if (type == RN_IP6_OPT_ROUTER_ALERT && hop) {
            if (olen != 2)
                return ext_drop(ex, RN_DROP_BAD_IP6_EXT, 2, i);
            ex->ex_router_alert = true;
        } else {
            switch (RN_IP6_OPT_ACTION(type)) {
            case RN_IP6_OPT_SKIP:
                break;
            case RN_IP6_OPT_DISCARD:
                return ext_drop(ex, RN_DROP_IP6_UNKNOWN_OPTION, -1, i);
            case RN_IP6_OPT_DISCARD_ICMP:
                return ext_drop(ex, RN_DROP_IP6_UNKNOWN_OPTION, 2, i);
            default:
                return ext_drop(ex, RN_DROP_IP6_UNKNOWN_OPTION, dst_mcast ? -1 : 2, i);
            }
        }
        i += 2 + (size_t)olen;
    }
    return RN_DROP_NONE;
}

enum rn_drop rn__ip6_ext_walk(const uint8_t *p, size_t len, uint8_t nxt, bool dst_mcast,
                              struct rn_ip6_ext *ex)
{
    size_t off = RN_IP6_HLEN, nxt_off = 6, hlen;
    enum rn_drop reason;

    assert(len >= RN_IP6_HLEN && len <= RN_IP6_HLEN + RN_IP6_MAX_PAYLOAD);
    memset(ex, 0, sizeof(*ex));
    ex->ex_pp_code = -1;
    /* Each header walked advances off by at least 8 bytes, so the loop
     * ends within len / 8 turns. */
    for (;;) {
        switch (nxt) {
        case RN_IP6_NH_HOPOPTS:
        case RN_IP6_NH_DSTOPTS:
            if (nxt == RN_IP6_NH_HOPOPTS && off != RN_IP6_HLEN)
                return ext_drop(ex, RN_DROP_BAD_IP6_EXT, 1, nxt_off);
            if (off + 2 > len)
                return ext_drop(ex, RN_DROP_BAD_IP6_EXT, -1, 0);
            hlen = ((size_t)p[off + 1] + 1) * 8;
            if (off + hlen > len)
                return ext_drop(ex, RN_DROP_BAD_IP6_EXT, -1, 0);
            reason = ext_options(p, off + 2, off + hlen, nxt == RN_IP6_NH_HOPOPTS, dst_mcast,
                                 ex);
            if (reason != RN_DROP_NONE)
                return reason;
            break;
        case RN_IP6_NH_ROUTING:
            if (off + 4 > len)
                return ext_drop(ex, RN_DROP_BAD_IP6_EXT, -1, 0);
            hlen = ((size_t)p[off + 1] + 1) * 8;
            if (off + hlen > len)
                return ext_drop(ex, RN_DROP_BAD_IP6_EXT, -1, 0);
            /* Segments left 0: the header is ignored whatever its type
             * (RFC 8200 4.4).  Otherwise a host refuses it: type 0 by RFC
             * 5095, the others because refnet forwards nothing. */
            if (p[off + 3] != 0)
                return ext_drop(ex, p[off + 2] == 0 ? RN_DROP_IP6_ROUTING_TYPE0
                                                    : RN_DROP_IP6_ROUTING,
                                0, off + 2);
            break;
        case RN_IP6_NH_FRAGMENT: {
            uint16_t w;
            size_t fraglen;

            if (off + 8 > len)
                return ext_drop(ex, RN_DROP_BAD_IP6_EXT, -1, 0);
            hlen = 8;
            w = rn_get_be16(p + off + 2);
            if ((w & 0xfff8) == 0 && (w & 1) == 0) {
                ex->ex_atomic = true;  /* RFC 8021: processed on its own */
                break;
            }
            fraglen = len - (off + 8);
            if ((w & 1) && (fraglen == 0 || fraglen % 8 != 0))
                return ext_drop(ex, RN_DROP_BAD_IP6_FRAG, 0, 4);
            if ((size_t)(w & 0xfff8) + fraglen > RN_IP6_MAX_PAYLOAD)
                return ext_drop(ex, RN_DROP_BAD_IP6_FRAG, 0, off + 2);
            ex->ex_frag = true;
            ex->ex_frag_hdr = (uint16_t)off;
            ex->ex_frag_off = w & 0xfff8;
            ex->ex_frag_more = (w & 1) != 0;
            ex->ex_frag_id = rn_get_be32(p + off + 4);
            ex->ex_proto = p[off];
            ex->ex_nxt_off = (uint16_t)off;
            ex->ex_off = (uint16_t)(off + 8);
            return RN_DROP_NONE;
        }
        default:
            ex->ex_proto = nxt;
            ex->ex_off = (uint16_t)off;
            ex->ex_nxt_off = (uint16_t)nxt_off;
            return RN_DROP_NONE;
        }
        nxt = p[off];
        nxt_off = off;
        off += hlen;
    }
}

/* ---- Addresses ----------------------------------------------------------- */

bool rn_ip6_in_prefix(const struct rn_ip6 *a, const struct rn_ip6 *net, unsigned plen)
{
    unsigned full = plen / 8, rest = plen % 8;

    assert(plen <= 128);
    if (memcmp(a->i6_octet, net->i6_octet, full) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((a->i6_octet[full] ^ net->i6_octet[full]) & (0xff00u >> rest) & 0xff) == 0;
}

struct rn_ip6 rn_ip6_net(const struct rn_ip6 *a, unsigned plen)
{
    struct rn_ip6 n = *a;
    unsigned i;

    assert(plen <= 128);
    for (i = 0; i < RN_IP6_LEN; i++) {
        if (plen >= 8)
            plen -= 8;
        else {
            n.i6_octet[i] &= (uint8_t)(0xff00u >> plen);
            plen = 0;
        }
    }
    return n;
}

struct rn_ip6 rn_ip6_solicited_node(const struct rn_ip6 *a)
{
    struct rn_ip6 s = {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff}};

    s.i6_octet[13] = a->i6_octet[13];
    s.i6_octet[14] = a->i6_octet[14];
    s.i6_octet[15] = a->i6_octet[15];
    return s;
}

struct rn_mac rn_ip6_mcast_mac(const struct rn_ip6 *a)
{
    struct rn_mac m = {{0x33, 0x33, a->i6_octet[12], a->i6_octet[13], a->i6_octet[14],
                        a->i6_octet[15]}};

    return m;
}

struct rn_ip6 rn_ip6_linklocal_from_mac(const struct rn_mac *mac)
{
    const uint8_t *o = mac->mac_octet;
    struct rn_ip6 a = {{0xfe, 0x80, 0, 0, 0, 0, 0, 0, (uint8_t)(o[0] ^ 0x02), o[1], o[2], 0xff,
                        0xfe, o[3], o[4], o[5]}};

    return a;
}

char *rn_ip6_addr_fmt(const struct rn_ip6 *a, char *buf)
{
    uint16_t g[8];
    int best = -1, bestlen = 0, i, n = 0;

    assert(buf != NULL);
    if (rn_ip6_is_v4mapped(a)) {
        snprintf(buf, RN_IP6_STRLEN, "::ffff:%u.%u.%u.%u", a->i6_octet[12], a->i6_octet[13],
                 a->i6_octet[14], a->i6_octet[15]);
        return buf;
    }
    for (i = 0; i < 8; i++)
        g[i] = rn_get_be16(a->i6_octet + 2 * i);
    /* The longest run of zero groups, two or more, the first on a tie. */
    for (i = 0; i < 8;) {
        int j = i;

        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > bestlen && j - i >= 2) {
            best = i;
            bestlen = j - i;
        }
        i = j == i ? i + 1 : j;
    }
    for (i = 0; i < 8; i++) {
        if (i == best) {
            n += snprintf(buf + n, (size_t)(RN_IP6_STRLEN - n), "::");
            i += bestlen - 1;
            continue;
        }
        n += snprintf(buf + n, (size_t)(RN_IP6_STRLEN - n), "%s%x",
                      i == 0 || i == best + bestlen ? "" : ":", g[i]);
    }
    return buf;
}

/* Reads an address from s up to the first character that cannot be part of
 * one.  Returns 0 with *end after it, or RN_EINVAL with *err. */
static int ip6_scan(const char *s, struct rn_ip6 *out, const char **end, const char **err)
{
    uint16_t g[8] = {0};
    int ng = 0, gap = -1;
    const char *q = s;
    struct rn_ip6 a;

    if (q[0] == ':') {
        if (q[1] != ':') {
            *err = "address starts with a single ':'";
            return RN_EINVAL;
        }
        gap = 0;
        q += 2;
    }
    while (*q != '\0' && *q != '/') {
        unsigned v = 0;
        int nd = 0, d;
        const char *start = q;

        if (ng == 8) {
            *err = "more than 8 groups";
            return RN_EINVAL;
        }
        while ((d = rn__hex_digit(*q)) >= 0) {
            if (++nd > 4) {
                *err = "a group has more than 4 hex digits";
                return RN_EINVAL;
            }
            v = v << 4 | (unsigned)d;
            q++;
        }
        if (*q == '.') {
            uint32_t v4;

            /* A dotted quad fills the last two groups. */
            if (ng > 6 || rn__ip4_addr_scan(start, &v4, &q, err) < 0) {
                if (ng > 6)
                    *err = "dotted quad past the sixth group";
                return RN_EINVAL;
            }
            g[ng++] = (uint16_t)(v4 >> 16);
            g[ng++] = (uint16_t)v4;
            break;
        }
        if (nd == 0) {
            *err = *q == ':' ? "more than one '::'" : "a group has no hex digit";
            return RN_EINVAL;
        }
        g[ng++] = (uint16_t)v;
        if (*q != ':')
            break;
        q++;
        if (*q == ':') {
            if (gap >= 0) {
                *err = "more than one '::'";
                return RN_EINVAL;
            }
            gap = ng;
            q++;
        } else if (*q == '\0' || *q == '/') {
            *err = "address ends with a single ':'";
            return RN_EINVAL;
        }
    }
    if (gap < 0 && ng != 8) {
        *err = "fewer than 8 groups and no '::'";
        return RN_EINVAL;
    }
    if (gap >= 0 && ng == 8) {
        *err = "'::' stands for no group";
        return RN_EINVAL;
    }
    memset(&a, 0, sizeof(a));
    for (int i = 0; i < ng; i++) {
        int at = gap >= 0 && i >= gap ? 8 - (ng - i) : i;

        rn_put_be16(a.i6_octet + 2 * at, g[i]);
    }
    *out = a;
    *end = q;
    return 0;
}

int rn_ip6_addr_parse(const char *s, struct rn_ip6 *a, const char **errmsg)
{
    const char *err = "not an IPv6 address";
    const char *end;
    struct rn_ip6 v;

    assert(a != NULL);
    if (s == NULL || *s == '\0') {
        err = "empty IPv6 address";
        goto out_err;
    }
    if (ip6_scan(s, &v, &end, &err) < 0)
        goto out_err;
    if (*end != '\0') {
        err = *end == '/' ? "unexpected prefix length ('/')"
                          : "trailing characters after the address";
        goto out_err;
    }
    *a = v;
    return 0;

out_err:
    if (errmsg != NULL)
        *errmsg = err;
    return RN_EINVAL;
}

int rn_ip6_cidr_parse(const char *s, struct rn_ip6 *a, unsigned *plen, const char **errmsg)
{
    const char *err = "not an IPv6 prefix";
    const char *end;
    struct rn_ip6 v;
    unsigned n = 0;

    assert(a != NULL && plen != NULL);
    if (s == NULL || *s == '\0') {
        err = "empty prefix";
        goto out_err;
    }
    if (ip6_scan(s, &v, &end, &err) < 0)
        goto out_err;
    if (*end != '/') {
        err = *end == '\0' ? "missing '/prefix-length'" : "trailing characters after the address";
        goto out_err;
    }
    end++;
    if (*end < '0' || *end > '9') {
        err = "prefix length has no digits";
        goto out_err;
    }
    if (end[0] == '0' && end[1] != '\0') {
        err = "prefix length has a leading zero";
        goto out_err;
    }
    while (*end >= '0' && *end <= '9') {
        n = n * 10 + (unsigned)(*end - '0');
        if (n > 128) {
            err = "prefix length above 128";
            goto out_err;
        }
        end++;
    }
    if (*end != '\0') {
        err = "trailing characters after the prefix length";
        goto out_err;
    }
    *a = v;
    *plen = n;
    return 0;

out_err:
    if (errmsg != NULL)
        *errmsg = err;
    return RN_EINVAL;
}

char *rn_inaddr_fmt(const struct rn_inaddr *ia, char *buf)
{
    if (rn_inaddr_is_v4(ia))
        return rn_ip4_addr_fmt(rn_inaddr_to_v4(ia), buf);
    return rn_ip6_addr_fmt(&ia->ia_ip6, buf);
}

int rn_inaddr_parse(const char *s, struct rn_inaddr *ia, const char **errmsg)
{
    uint32_t v4;
    struct rn_ip6 v6;

    assert(ia != NULL);
    if (s != NULL && strchr(s, ':') == NULL) {
        if (rn_ip4_addr_parse(s, &v4, errmsg) < 0)
            return RN_EINVAL;
        *ia = rn_inaddr_v4(v4);
        return 0;
    }
    if (rn_ip6_addr_parse(s, &v6, errmsg) < 0)
        return RN_EINVAL;
    *ia = rn_inaddr_v6(&v6);
    return 0;
}

bool rn__ip6_frag_chain_whole(const uint8_t *p, size_t len, const struct rn_ip6_ext *ex)
{
    size_t off = (size_t)ex->ex_frag_hdr + 8;
    uint8_t nxt;

    if ((size_t)ex->ex_frag_hdr + 8 > len)
        return false;
    nxt = p[ex->ex_frag_hdr];
    while (nxt == RN_IP6_NH_HOPOPTS || nxt == RN_IP6_NH_ROUTING || nxt == RN_IP6_NH_DSTOPTS ||
           nxt == RN_IP6_NH_AH) {
        size_t hlen;

        if (off + 2 > len)
            return false;
        /* AH counts its length in 4-byte words, less 2 (RFC 4302 2.2). */
        hlen = nxt == RN_IP6_NH_AH ? ((size_t)p[off + 1] + 2) * 4 : ((size_t)p[off + 1] + 1) * 8;
        nxt = p[off];
        off += hlen;
        if (off > len)
            return false;
    }
    switch (nxt) {
    case RN_IPPROTO_TCP:
        return off + 20 <= len;
    case RN_IPPROTO_UDP:
    case RN_IPPROTO_ICMPV6:
        return off + 8 <= len;
    default:
        return true;
    }
}
