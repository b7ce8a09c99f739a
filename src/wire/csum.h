/*
 * The Internet checksum (RFC 1071) and its helpers.
 *
 * Used on every packet by IPv4 (header), ICMP, ICMPv6, UDP and TCP (with the
 * IPv4 or IPv6 pseudo-header), and by the forwarding path's TTL decrement (RFC 1624).
 *
 * The accumulator.  A uint64_t accumulator holds a partial one's-complement
 * sum of 16-bit big-endian words, not yet folded.  Only its value modulo
 * 0xffff matters, so:
 *   - host-order 16-bit quantities (a port, a length, each half of a
 *     host-order IPv4 address) may be added to it with plain `+`, as long as
 *     the total stays below 2^64 (it always does for packet-sized work);
 *   - rn__csum_partial() continues from any accumulator, folded or not;
 *   - rn_csum_fold() turns it into the 16-bit value stored in a checksum
 *     field (host order; store it with rn_put_be16()).
 * Checking a received header: rn_csum_fold(rn__csum_partial(hdr, len, 0))
 * is 0 exactly when the checksum stored inside it is right.
 */
#ifndef REFNET_WIRE_CSUM_H
#define REFNET_WIRE_CSUM_H

#include <stddef.h>
#include <stdint.h>

#include "refnet/addr.h"

/* Flag for the parsers that verify a transport checksum (UDP, TCP): the
 * link already verified it (receive checksum offload), so skip the sum. */
#define RN_CSUM_VERIFIED 0x1u

/*
 * Returns acc plus the one's-complement sum of the len bytes at p, read as
 * big-endian 16-bit words from p; an odd last byte counts as the high byte
 * of a word padded with zero.  p may have any alignment.  Reads exactly
 * [p, p + len).  The result is folded to at most 0xffff.
 *
 * To sum a message held in pieces, sum each piece from 0 and combine with
 * rn_csum_block_add(), which handles pieces starting at odd offsets.
 */
uint64_t rn__csum_partial(const void *p, size_t len, uint64_t acc);

/* Folds a 64-bit accumulator to 16 bits with end-around carry; returns the
 * folded sum, not complemented.  For use in this header. */
static inline uint16_t rn__csum_fold16(uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32); /* <= 0x1fffffffe */
    s = (s & 0xffffffffu) + (s >> 32); /* <= 0xffffffff */
    s = (s & 0xffffu) + (s >> 16);     /* <= 0x1fffe */
    s = (s & 0xffffu) + (s >> 16);     /* <= 0xffff */
    return (uint16_t)s;
}

/* Returns the checksum field value for an accumulator: the one's complement
 * of its folded sum, in host order.  Over data that already holds a correct
 * checksum it returns 0. */
static inline uint16_t rn_csum_fold(uint64_t acc)
{
    return (uint16_t)~rn__csum_fold16(acc);
}

/* Returns the checksum field value of the len bytes at p (a shorthand for
 * rn_csum_fold(rn__csum_partial(p, len, 0))). */
static inline uint16_t rn_csum(const void *p, size_t len)
{
    return rn_csum_fold(rn__csum_partial(p, len, 0));
}

/*
 * Returns the accumulator of the IPv4 pseudo-header (RFC 768, RFC 9293
 * section 3.1): source and destination address (host order), protocol, and
 * the upper-layer length in bytes (header plus payload).  Start the sum of
 * a UDP or TCP segment from it.
 */
static inline uint64_t rn_csum_pseudo4(uint32_t src, uint32_t dst,
                                       uint8_t proto, uint32_t len)
{
    return (uint64_t)(src >> 16) + (src & 0xffffu) + (dst >> 16) +
           (dst & 0xffffu) + proto + len;
}

/*
 * Returns the accumulator of the IPv6 pseudo-header (RFC 8200 8.1): source
 * and destination address, the upper-layer length (header plus payload)
 * and the next-header value of the upper-layer protocol.  Start the sum of
 * a UDP, TCP or ICMPv6 message over IPv6 from it.
 */
static inline uint64_t rn_csum_pseudo6(const struct rn_ip6 *src, const struct rn_ip6 *dst,
                                       uint8_t proto, uint32_t len)
{
    uint64_t s = (uint64_t)(len >> 16) + (len & 0xffffu) + proto;
    unsigned i;

    for (i = 0; i < RN_IP6_LEN; i += 2)
        s += (uint64_t)((unsigned)src->i6_octet[i] << 8 | src->i6_octet[i + 1]) +
             (uint64_t)((unsigned)dst->i6_octet[i] << 8 | dst->i6_octet[i + 1]);
    return s;
}

/*
 * Returns acc plus part, where part is the accumulator of a piece of the
 * message that starts `offset` bytes into it.  A piece at an odd offset has
 * its bytes in the other halves of the 16-bit words, so its folded sum is
 * byte-swapped first (RFC 1071 section 2(B)).
 */
static inline uint64_t rn_csum_block_add(uint64_t acc, uint64_t part,
                                         size_t offset)
{
    uint64_t s;

    if (offset & 1)
        part = __builtin_bswap16(rn__csum_fold16(part));
    s = acc + part;
    return s + (s < part); /* end-around carry: 2^64 == 1 mod 0xffff */
}

/*
 * Returns the new checksum field value after one 16-bit word covered by the
 * checksum changes from old_word to new_word (host order), given the field's
 * current value csum.  RFC 1624 equation 3, HC' = ~(~HC + ~m + m'), which
 * unlike equation 2 never produces 0xffff where a full recomputation would
 * produce 0x0000.  Used to decrement the TTL without summing the header
 * again.
 */
static inline uint16_t rn_csum_update16(uint16_t csum, uint16_t old_word,
                                        uint16_t new_word)
{
    uint64_t s = (uint64_t)(uint16_t)~csum + (uint16_t)~old_word + new_word;

    return (uint16_t)~rn__csum_fold16(s);
}

#endif /* REFNET_WIRE_CSUM_H */
