/*
 * ICMP message parse and emit (see icmp.h).
 *
 * Header layout (RFC 792), offsets in bytes:
 *   0 type  1 code  2 checksum  4 type-specific ("rest of header")  8 data
 * The checksum covers the whole message, without a pseudo-header.
 */
#include <assert.h>
#include <string.h>

#include "wire/bytes.h"
#include "wire/csum.h"
#include "wire/icmp.h"

/* Checks the quoted datagram of an error message and fills the ic_q*
 * fields.  Returns false if the quote is not usable. */
static bool icmp_parse_quote(struct rn_icmp_hdr *ic)
{
    const uint8_t *q = ic->ic_data;
    size_t qhlen;

    if (ic->ic_datalen < RN_IP4_HLEN || q[0] >> 4 != 4)
        return false;
    qhlen = (size_t)(q[0] & 0x0f) * 4;
    if (qhlen < RN_IP4_HLEN || ic->ic_datalen < qhlen + RN_ICMP_QUOTE_L4)
        return false;
    ic->ic_qproto = q[9];
    ic->ic_qsrc = rn_get_be32(q + 12);
    ic->ic_qdst = rn_get_be32(q + 16);
    ic->ic_ql4 = q + qhlen;
    ic->ic_ql4len = ic->ic_datalen - qhlen;
    return true;
}

enum rn_drop rn__icmp_parse(const uint8_t *p, size_t len,
                           struct rn_icmp_hdr *ic)
{
    assert(p != NULL || len == 0);
    assert(ic != NULL);

    if (len < RN_ICMP_HLEN)
        return RN_DROP_TRUNCATED;
    if (rn_csum(p, len) != 0)
        return RN_DROP_BAD_ICMP_CSUM;
    ic->ic_type = p[0];
    ic->ic_code = p[1];
    ic->ic_sum = rn_get_be16(p + 2);
    ic->ic_rest = rn_get_be32(p + 4);
    ic->ic_data = p + RN_ICMP_HLEN;
    ic->ic_datalen = len - RN_ICMP_HLEN;
    ic->ic_qsrc = 0;
    ic->ic_qdst = 0;
    ic->ic_qproto = 0;
    ic->ic_ql4 = NULL;
    ic->ic_ql4len = 0;
    if (rn_icmp_is_error(ic->ic_type) && !icmp_parse_quote(ic))
        return RN_DROP_BAD_ICMP;
    return RN_DROP_NONE;
}

size_t rn__icmp_emit_echo_reply(uint8_t *out, const struct rn_icmp_hdr *req)
{
    size_t len;

    assert(out != NULL && req != NULL);
    assert(req->ic_type == RN_ICMP_ECHO);
    assert(req->ic_data != NULL || req->ic_datalen == 0);

    len = RN_ICMP_HLEN + req->ic_datalen;
    /* Data first: when answering in place it is already there. */
    if (req->ic_datalen && req->ic_data != out + RN_ICMP_HLEN)
        memmove(out + RN_ICMP_HLEN, req->ic_data, req->ic_datalen);
    out[0] = RN_ICMP_ECHO_REPLY;
    out[1] = 0;
    rn_put_be16(out + 2, 0);
    rn_put_be32(out + 4, req->ic_rest);
    rn_put_be16(out + 2, rn_csum(out, len));
    return len;
}

size_t rn__icmp_emit_error(uint8_t *out, uint8_t type, uint8_t code,
                          uint32_t rest, const uint8_t *orig, size_t orig_len)
{
    size_t ohlen, qlen;

    assert(out != NULL && orig != NULL);
    assert(rn_icmp_is_error(type));
    assert(orig_len >= RN_IP4_HLEN);
    ohlen = (size_t)(orig[0] & 0x0f) * 4;
    assert(ohlen >= RN_IP4_HLEN && ohlen <= orig_len);

    qlen = ohlen + RN_ICMP_QUOTE_L4;
    if (qlen > orig_len)
        qlen = orig_len;
    out[0] = type;
    out[1] = code;
    rn_put_be16(out + 2, 0);
    rn_put_be32(out + 4, rest);
    memcpy(out + RN_ICMP_HLEN, orig, qlen);
    rn_put_be16(out + 2, rn_csum(out, RN_ICMP_HLEN + qlen));
    return RN_ICMP_HLEN + qlen;
}

size_t rn__icmp_emit_port_unreach(uint8_t *out, const uint8_t *orig,
                                 size_t orig_len)
{
    return rn__icmp_emit_error(out, RN_ICMP_DEST_UNREACH, RN_ICMP_UNREACH_PORT,
                              0, orig, orig_len);
}

size_t rn__icmp_emit_frag_needed(uint8_t *out, uint16_t mtu,
                                const uint8_t *orig, size_t orig_len)
{
    /* RFC 1191 section 4: unused high 16 bits, next-hop MTU in the low. */
    return rn__icmp_emit_error(out, RN_ICMP_DEST_UNREACH,
                              RN_ICMP_UNREACH_FRAG_NEEDED, mtu, orig,
                              orig_len);
}

size_t rn__icmp_emit_reasm_timeout(uint8_t *out, const uint8_t *orig,
                                  size_t orig_len)
{
    return rn__icmp_emit_error(out, RN_ICMP_TIME_EXCEEDED,
                              RN_ICMP_TIMXCEED_REASM, 0, orig, orig_len);
}

bool rn__icmp_may_send_error(const struct rn_ip4_hdr *ip)
{
    uint32_t src;

    assert(ip != NULL);
    src = ip->ip_src;
    if (ip->ip_off != 0)
        return false;
    if (rn_ip4_is_multicast(ip->ip_dst) || rn_ip4_is_bcast(ip->ip_dst))
        return false;
    /* Not a single host: zero, loopback, broadcast, multicast, class E
     * (240.0.0.0/4, which also holds the limited broadcast). */
    if (rn_ip4_is_any(src) || rn_ip4_is_loopback(src) ||
        rn_ip4_is_multicast(src) || (src & 0xf0000000u) == 0xf0000000u)
        return false;
    /* Never an error about an error (an unreadable ICMP type counts as
     * one, to be safe), so two hosts cannot feed each other errors. */
    if (ip->ip_proto == RN_IPPROTO_ICMP &&
        (ip->ip_paylen == 0 || rn_icmp_is_error(ip->ip_payload[0])))
        return false;
    return true;
}
