/*
 * UDP header parse and emit for IPv4 (see udp.h).
 *
 * Header layout (RFC 768), offsets in bytes:
 *   0 source port  2 destination port  4 length  6 checksum  8 data
 * The checksum covers the IPv4 pseudo-header, the header and the data.
 */
#include <assert.h>

#include "wire/bytes.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

enum rn_drop rn__udp_parse4(const uint8_t *p, size_t len, uint32_t src,
                           uint32_t dst, unsigned flags,
                           struct rn_udp_hdr *uh)
{
    uint16_t ulen;

    assert(p != NULL || len == 0);
    assert(uh != NULL);

    if (len < RN_UDP_HLEN)
        return RN_DROP_TRUNCATED;
    ulen = rn_get_be16(p + 4);
    if (ulen < RN_UDP_HLEN || ulen > len)
        return RN_DROP_BAD_UDP_LEN;
    uh->uh_sport = rn_get_be16(p);
    uh->uh_dport = rn_get_be16(p + 2);
    uh->uh_len = ulen;
    uh->uh_sum = rn_get_be16(p + 6);
    uh->uh_payload = p + RN_UDP_HLEN;
    uh->uh_paylen = ulen - RN_UDP_HLEN;
    if (uh->uh_sum != 0 && !(flags & RN_CSUM_VERIFIED) &&
        rn_csum_fold(rn__csum_partial(
            p, ulen, rn_csum_pseudo4(src, dst, RN_IPPROTO_UDP, ulen))) != 0)
        return RN_DROP_BAD_UDP_CSUM;
    return RN_DROP_NONE;
}

size_t rn__udp_emit4(uint8_t *dgram, const struct rn_udp_hdr *uh, uint32_t src,
                    uint32_t dst)
{
    size_t ulen;
    uint16_t sum;

    assert(dgram != NULL && uh != NULL);
    assert(uh->uh_paylen <= RN_UDP_MAX_PAYLEN);

    ulen = RN_UDP_HLEN + uh->uh_paylen;
    rn_put_be16(dgram, uh->uh_sport);
    rn_put_be16(dgram + 2, uh->uh_dport);
    rn_put_be16(dgram + 4, (uint16_t)ulen);
    rn_put_be16(dgram + 6, 0);
    sum = rn_csum_fold(rn__csum_partial(
        dgram, ulen, rn_csum_pseudo4(src, dst, RN_IPPROTO_UDP, (uint32_t)ulen)));
    rn_put_be16(dgram + 6, sum == 0 ? 0xffff : sum);
    return RN_UDP_HLEN;
}
