/*
 * ICMPv6 parse and emit, and the validation and building of neighbour
 * solicitations and advertisements (see icmpv6.h).
 *
 * Message layout (RFC 4443 2.1): 0 type  1 code  2 checksum  4 body.
 * NS and NA (RFC 4861 4.3, 4.4): 4 reserved or flags  8 target  24 options,
 * each option: 0 type  1 length in units of 8 bytes  2 data.
 */
#include <assert.h>
#include <string.h>

#include "wire/bytes.h"
#include "wire/csum.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"

enum rn_drop rn__icmp6_parse(const uint8_t *p, size_t len, const struct rn_ip6 *src,
                             const struct rn_ip6 *dst, unsigned flags, struct rn_icmp6_hdr *ic)
{
    if (len < RN_ICMP6_HLEN)
        return RN_DROP_BAD_ICMP;
    if (!(flags & RN_CSUM_VERIFIED) &&
        rn_csum_fold(rn__csum_partial(p, len, rn_csum_pseudo6(src, dst, RN_IPPROTO_ICMPV6,
                                                              (uint32_t)len))) != 0)
        return RN_DROP_BAD_ICMP_CSUM;
    ic->ic6_type = p[0];
    ic->ic6_code = p[1];
    ic->ic6_sum = rn_get_be16(p + 2);
    ic->ic6_rest = rn_get_be32(p + 4);
    ic->ic6_data = p + RN_ICMP6_HLEN;
    ic->ic6_datalen = len - RN_ICMP6_HLEN;
    ic->ic6_qproto = RN_IP6_NH_NONE;
    ic->ic6_ql4 = NULL;
    ic->ic6_ql4len = 0;
    if (rn_icmp6_is_error(ic->ic6_type)) {
        const uint8_t *q = ic->ic6_data;
        size_t qlen = ic->ic6_datalen;
        struct rn_ip6_ext ex;

        if (qlen < RN_IP6_HLEN || (q[0] >> 4) != 6)
            return RN_DROP_BAD_ICMP;
        memcpy(ic->ic6_qsrc.i6_octet, q + 8, RN_IP6_LEN);
        memcpy(ic->ic6_qdst.i6_octet, q + 24, RN_IP6_LEN);
        /* The quote is cut short; walk what there is of its chain, and
         * leave the protocol unknown if the walk cannot reach it. */
        if (qlen > RN_IP6_HLEN + RN_IP6_MAX_PAYLOAD)
            qlen = RN_IP6_HLEN + RN_IP6_MAX_PAYLOAD;
        if (rn__ip6_ext_walk(q, qlen, q[6], false, &ex) == RN_DROP_NONE &&
            (!ex.ex_frag || ex.ex_frag_off == 0)) {
            /* Unfragmented, or a first fragment: its upper-layer header. */
            ic->ic6_qproto = ex.ex_proto;
            ic->ic6_ql4 = q + ex.ex_off;
            ic->ic6_ql4len = qlen - ex.ex_off;
        }
    }
    return RN_DROP_NONE;
}

void rn__icmp6_set_csum(uint8_t *msg, size_t len, const struct rn_ip6 *src,
                        const struct rn_ip6 *dst)
{
    rn_put_be16(msg + 2, 0);
    rn_put_be16(msg + 2, rn_csum_fold(rn__csum_partial(
                             msg, len, rn_csum_pseudo6(src, dst, RN_IPPROTO_ICMPV6,
                                                       (uint32_t)len))));
}

size_t rn__icmp6_emit_error(uint8_t *out, size_t cap, const struct rn_ip6 *src,
                            const struct rn_ip6 *dst, uint8_t type, uint8_t code, uint32_t rest,
                            const uint8_t *orig, size_t orig_len)
{
    size_t q;

    assert(cap >= RN_ICMP6_HLEN && cap <= RN_ICMP6_ERR_MAXLEN);
    q = orig_len < cap - RN_ICMP6_HLEN ? orig_len : cap - RN_ICMP6_HLEN;
    out[0] = type;
    out[1] = code;
    rn_put_be32(out + 4, rest);
    memcpy(out + RN_ICMP6_HLEN, orig, q);
    rn__icmp6_set_csum(out, RN_ICMP6_HLEN + q, src, dst);
    return RN_ICMP6_HLEN + q;
}

/* True if dst is a solicited-node multicast address (ff02::1:ff00:0/104). */
static bool is_solicited_node(const struct rn_ip6 *dst)
{
    static const uint8_t pfx[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};

    return memcmp(dst->i6_octet, pfx, sizeof(pfx)) == 0;
}

enum rn_drop rn__nd6_parse(const struct rn_icmp6_hdr *ic, uint8_t hlim,
                           const struct rn_ip6 *src, const struct rn_ip6 *dst,
                           struct rn_nd6 *nd)
{
    const uint8_t *p = ic->ic6_data;
    size_t len = ic->ic6_datalen, off;
    bool ns = ic->ic6_type == RN_ICMP6_NEIGHBOR_SOLICIT;
    uint8_t want = ns ? RN_ND_OPT_SRC_LLADDR : RN_ND_OPT_TGT_LLADDR;

    assert(ns || ic->ic6_type == RN_ICMP6_NEIGHBOR_ADVERT);
    /* The 4 bytes of ic6_rest are part of the message: 24 bytes in all
     * means 16 here, the target. */
    if (hlim != 255 || ic->ic6_code != 0 || len < RN_ND_NS_LEN - RN_ICMP6_HLEN)
        return RN_DROP_BAD_NDP;
    memset(nd, 0, sizeof(*nd));
    memcpy(nd->nd_target.i6_octet, p, RN_IP6_LEN);
    if (rn_ip6_is_multicast(&nd->nd_target))
        return RN_DROP_BAD_NDP;
    nd->nd_flags = ns ? 0 : ic->ic6_rest & (RN_ND_NA_ROUTER | RN_ND_NA_SOLICITED |
                                             RN_ND_NA_OVERRIDE);
    for (off = RN_IP6_LEN; off < len;) {
        size_t olen;

        if (off + 2 > len || p[off + 1] == 0)
            return RN_DROP_BAD_NDP;
        olen = (size_t)p[off + 1] * 8;
        if (off + olen > len)
            return RN_DROP_BAD_NDP;
        /* An Ethernet address option is 8 bytes; a longer one is for
         * another link type and is not ours to read. */
        if (p[off] == want && olen == 8) {
            nd->nd_has_lladdr = true;
            memcpy(nd->nd_lladdr.mac_octet, p + off + 2, RN_MAC_LEN);
        }
        off += olen;
    }
    if (ns && rn_ip6_is_any(src) && (!is_solicited_node(dst) || nd->nd_has_lladdr))
        return RN_DROP_BAD_NDP;
    if (!ns && rn_ip6_is_multicast(dst) && (nd->nd_flags & RN_ND_NA_SOLICITED))
        return RN_DROP_BAD_NDP;
    return RN_DROP_NONE;
}

/* Writes the body shared by NS and NA: the 4 bytes, target, and a
 * link-layer address option of type opt if ll is not NULL. */
static size_t nd_emit(uint8_t *out, uint8_t type, uint32_t rest, const struct rn_ip6 *src,
                      const struct rn_ip6 *dst, const struct rn_ip6 *target, uint8_t opt,
                      const struct rn_mac *ll)
{
    size_t len = RN_ND_NS_LEN;

    out[0] = type;
    out[1] = 0;
    rn_put_be32(out + 4, rest);
    memcpy(out + 8, target->i6_octet, RN_IP6_LEN);
    if (ll != NULL) {
        out[24] = opt;
        out[25] = 1;
        memcpy(out + 26, ll->mac_octet, RN_MAC_LEN);
        len = RN_ND_NS_LL_LEN;
    }
    rn__icmp6_set_csum(out, len, src, dst);
    return len;
}

size_t rn__nd6_emit_ns(uint8_t *out, const struct rn_ip6 *src, const struct rn_ip6 *dst,
                       const struct rn_ip6 *target, const struct rn_mac *sll)
{
    return nd_emit(out, RN_ICMP6_NEIGHBOR_SOLICIT, 0, src, dst, target, RN_ND_OPT_SRC_LLADDR,
                   sll);
}

size_t rn__nd6_emit_na(uint8_t *out, const struct rn_ip6 *src, const struct rn_ip6 *dst,
                       const struct rn_ip6 *target, uint32_t flags, const struct rn_mac *tll)
{
    assert(tll != NULL);
    return nd_emit(out, RN_ICMP6_NEIGHBOR_ADVERT, flags, src, dst, target,
                   RN_ND_OPT_TGT_LLADDR, tll);
}

/* Walks the options at p (len bytes), calling fn for each.  Returns false
 * if one has length 0 or runs past the end. */
static bool nd_options(const uint8_t *p, size_t len,
                       void (*fn)(uint8_t type, const uint8_t *o, size_t olen, void *ctx),
                       void *ctx)
{
    size_t off, olen;

    for (off = 0; off < len; off += olen) {
        if (off + 2 > len || p[off + 1] == 0)
            return false;
        olen = (size_t)p[off + 1] * 8;
        if (off + olen > len)
            return false;
        fn(p[off], p + off, olen, ctx);
    }
    return true;
}

static void ra_option(uint8_t type, const uint8_t *o, size_t olen, void *ctx)
{
    struct rn_ra6 *ra = ctx;

    if (type == RN_ND_OPT_SRC_LLADDR && olen == 8) {
        ra->ra_has_lladdr = true;
        memcpy(ra->ra_lladdr.mac_octet, o + 2, RN_MAC_LEN);
    } else if (type == RN_ND_OPT_MTU && olen == 8) {
        ra->ra_mtu = rn_get_be32(o + 4);
    } else if (type == RN_ND_OPT_PREFIX && olen == 32) {
        struct rn_nd6_prefix *pi;

        if (ra->ra_nprefix == RN_ND_RA_MAX_PREFIXES) {
            ra->ra_prefix_over++;
            return;
        }
        pi = &ra->ra_prefix[ra->ra_nprefix++];
        pi->pi_plen = o[2] > 128 ? 128 : o[2];
        pi->pi_flags = o[3] & (RN_ND_PI_ONLINK | RN_ND_PI_AUTO);
        pi->pi_valid = rn_get_be32(o + 4);
        pi->pi_preferred = rn_get_be32(o + 8);
        memcpy(pi->pi_prefix.i6_octet, o + 16, RN_IP6_LEN);
    }
}

enum rn_drop rn__ra6_parse(const struct rn_icmp6_hdr *ic, uint8_t hlim, const struct rn_ip6 *src,
                           struct rn_ra6 *ra)
{
    const uint8_t *p = ic->ic6_data;

    assert(ic->ic6_type == RN_ICMP6_ROUTER_ADVERT);
    /* 16 bytes in all: the 8 of the header (hop limit, flags, lifetime in
     * ic6_rest) and 8 here, the reachable and retransmission times. */
    if (!rn_ip6_is_linklocal(src) || hlim != 255 || ic->ic6_code != 0 || ic->ic6_datalen < 8)
        return RN_DROP_BAD_RA;
    memset(ra, 0, sizeof(*ra));
    ra->ra_cur_hlim = (uint8_t)(ic->ic6_rest >> 24);
    ra->ra_flags = (uint8_t)(ic->ic6_rest >> 16);
    ra->ra_lifetime = (uint16_t)ic->ic6_rest;
    ra->ra_reachable = rn_get_be32(p);
    ra->ra_retrans = rn_get_be32(p + 4);
    if (!nd_options(p + 8, ic->ic6_datalen - 8, ra_option, ra))
        return RN_DROP_BAD_RA;
    return RN_DROP_NONE;
}

static void redirect_option(uint8_t type, const uint8_t *o, size_t olen, void *ctx)
{
    struct rn_redirect6 *rd = ctx;

    if (type == RN_ND_OPT_TGT_LLADDR && olen == 8) {
        rd->rd_has_lladdr = true;
        memcpy(rd->rd_lladdr.mac_octet, o + 2, RN_MAC_LEN);
    }
}

enum rn_drop rn__redirect6_parse(const struct rn_icmp6_hdr *ic, uint8_t hlim,
                                 const struct rn_ip6 *src, struct rn_redirect6 *rd)
{
    const uint8_t *p = ic->ic6_data;

    assert(ic->ic6_type == RN_ICMP6_REDIRECT);
    if (!rn_ip6_is_linklocal(src) || hlim != 255 || ic->ic6_code != 0 ||
        ic->ic6_datalen < 2 * RN_IP6_LEN)
        return RN_DROP_BAD_REDIRECT;
    memset(rd, 0, sizeof(*rd));
    memcpy(rd->rd_target.i6_octet, p, RN_IP6_LEN);
    memcpy(rd->rd_dst.i6_octet, p + RN_IP6_LEN, RN_IP6_LEN);
    if (rn_ip6_is_multicast(&rd->rd_dst) ||
        (!rn_ip6_is_linklocal(&rd->rd_target) && !rn_ip6_eq(&rd->rd_target, &rd->rd_dst)))
        return RN_DROP_BAD_REDIRECT;
    if (!nd_options(p + 2 * RN_IP6_LEN, ic->ic6_datalen - 2 * RN_IP6_LEN, redirect_option, rd))
        return RN_DROP_BAD_REDIRECT;
    return RN_DROP_NONE;
}

size_t rn__nd6_emit_rs(uint8_t *out, const struct rn_ip6 *src, const struct rn_ip6 *dst,
                       const struct rn_mac *sll)
{
    size_t len = 8;

    out[0] = RN_ICMP6_ROUTER_SOLICIT;
    out[1] = 0;
    rn_put_be32(out + 4, 0);
    if (sll != NULL) {
        out[8] = RN_ND_OPT_SRC_LLADDR;
        out[9] = 1;
        memcpy(out + 10, sll->mac_octet, RN_MAC_LEN);
        len = RN_ND_RS_LL_LEN;
    }
    rn__icmp6_set_csum(out, len, src, dst);
    return len;
}
