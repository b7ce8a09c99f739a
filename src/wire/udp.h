/*
 * UDP over IPv4 (RFC 768): parse and emit only.
 *
 * The transport layer parses every IPv4 payload of protocol 17 with
 * rn__udp_parse4(), which also verifies the checksum over the pseudo-header,
 * and builds datagrams with rn__udp_emit4() once the payload is in place.
 */
#ifndef REFNET_WIRE_UDP_H
#define REFNET_WIRE_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "refnet/drop.h"
#include "wire/csum.h"

#define RN_UDP_HLEN 8
/* Most payload one IPv4 datagram can carry: 65535 - 20 - 8. */
#define RN_UDP_MAX_PAYLEN 65507

/* A parsed UDP header.  Ports are host order. */
struct rn_udp_hdr {
    uint16_t uh_sport;         /* source port (emit) */
    uint16_t uh_dport;         /* destination port (emit) */
    uint16_t uh_len;           /* length field: header plus payload */
    uint16_t uh_sum;           /* checksum as received; 0 means none */
    const uint8_t *uh_payload; /* first payload byte; parse only */
    size_t uh_paylen;          /* uh_len - RN_UDP_HLEN (emit) */
};

/*
 * Parses the UDP datagram of len bytes at p (the IPv4 payload, ip_paylen)
 * sent from src to dst (host order) into *uh.  Returns RN_DROP_NONE or:
 *   RN_DROP_TRUNCATED     len < RN_UDP_HLEN;
 *   RN_DROP_BAD_UDP_LEN   the length field is below 8 or above len;
 *   RN_DROP_BAD_UDP_CSUM  the checksum is not 0 and does not verify.
 * A zero checksum means the sender computed none, which IPv4 allows.  With
 * RN_CSUM_VERIFIED in flags the checksum is not summed.  Bytes beyond the
 * length field are not part of the datagram and are excluded from
 * uh_paylen.  Reads only [p, p + len).
 */
enum rn_drop rn__udp_parse4(const uint8_t *p, size_t len, uint32_t src,
                           uint32_t dst, unsigned flags,
                           struct rn_udp_hdr *uh);

/*
 * Writes the 8-byte UDP header described by *uh (uh_sport, uh_dport,
 * uh_paylen; the rest is ignored) at dgram, for a datagram from src to dst.
 * The uh_paylen payload bytes must already be at dgram + RN_UDP_HLEN: the
 * checksum covers them.  A checksum that computes to 0 is sent as 0xffff,
 * since 0 means "none".  Returns RN_UDP_HLEN.
 */
size_t rn__udp_emit4(uint8_t *dgram, const struct rn_udp_hdr *uh, uint32_t src,
                    uint32_t dst);

#endif /* REFNET_WIRE_UDP_H */
