/*
 * Ethernet II frames: parse and emit only.  MAC addresses and their text
 * form are public (refnet/addr.h).
 *
 * The link drivers hand whole frames (no preamble, no FCS) to the network
 * layer, which parses them with rn__eth_parse() and dispatches on the
 * EtherType; the output path writes the 14-byte header with rn__eth_emit().
 * 802.1Q tags are recognised and reported as unsupported, never parsed past.
 */
#ifndef REFNET_WIRE_ETH_H
#define REFNET_WIRE_ETH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "refnet/addr.h"
#include "refnet/drop.h"
#include "refnet/error.h"

#define RN_ETH_ALEN 6        /* bytes in a MAC address */
#define RN_ETH_HLEN 14       /* Ethernet II header: dst, src, type */
#define RN_ETH_MIN_FRAME 60  /* shortest frame on the wire, without FCS */
#define RN_ETH_MTU 1500      /* largest payload of an untagged frame */

/* EtherTypes (host order). */
#define RN_ETHERTYPE_IPV4 0x0800
#define RN_ETHERTYPE_ARP 0x0806
#define RN_ETHERTYPE_VLAN 0x8100  /* 802.1Q tag */
#define RN_ETHERTYPE_QINQ 0x88a8  /* 802.1ad service tag */
#define RN_ETHERTYPE_IPV6 0x86dd
/* Values below this are 802.3 length fields, not EtherTypes. */
#define RN_ETHERTYPE_MIN 0x0600

/* A parsed Ethernet II header.  Filled by rn__eth_parse(), read by
 * rn__eth_emit() (eh_payload and eh_paylen are ignored there). */
struct rn_eth_hdr {
    struct rn_mac eh_dst;      /* destination address */
    struct rn_mac eh_src;      /* source address */
    uint16_t eh_type;          /* EtherType, host order */
    const uint8_t *eh_payload; /* frame + RN_ETH_HLEN */
    size_t eh_paylen;          /* frame length - RN_ETH_HLEN; may include
                                * padding up to the 60-byte minimum frame,
                                * which the network layer trims */
};

/*
 * Parses the Ethernet II header of the len-byte frame at p into *eh.
 * Returns RN_DROP_NONE, or:
 *   RN_DROP_TRUNCATED              len < RN_ETH_HLEN;
 *   RN_DROP_BAD_ETH                the source address is a group address;
 *   RN_DROP_UNSUPPORTED_ETHERTYPE  a VLAN or QinQ tag, or an 802.3 length
 *                                  field (type < 0x0600).
 * On the last two *eh is filled all the same, so the caller can report what
 * it saw.  Reads only [p, p + len); keeps pointers into p.
 */
enum rn_drop rn__eth_parse(const uint8_t *p, size_t len, struct rn_eth_hdr *eh);

/* Writes the 14-byte header for dst, src and EtherType type (host order) at
 * out, which must have RN_ETH_HLEN bytes.  Returns RN_ETH_HLEN. */
size_t rn__eth_emit(uint8_t *out, const struct rn_mac *dst,
                   const struct rn_mac *src, uint16_t type);

/* True if m is ff:ff:ff:ff:ff:ff. */
static inline bool rn_mac_is_broadcast(const struct rn_mac *m)
{
    static const uint8_t bc[RN_ETH_ALEN] = {0xff, 0xff, 0xff,
                                            0xff, 0xff, 0xff};

    return memcmp(m->mac_octet, bc, RN_ETH_ALEN) == 0;
}

/* True if m is a group address (I/G bit set): multicast or broadcast. */
static inline bool rn_mac_is_multicast(const struct rn_mac *m)
{
    return (m->mac_octet[0] & 0x01) != 0;
}

/* True if m is 00:00:00:00:00:00. */
static inline bool rn_mac_is_zero(const struct rn_mac *m)
{
    static const uint8_t zero[RN_ETH_ALEN];

    return memcmp(m->mac_octet, zero, RN_ETH_ALEN) == 0;
}

/* True if a and b are the same address. */
static inline bool rn_mac_equal(const struct rn_mac *a, const struct rn_mac *b)
{
    return memcmp(a->mac_octet, b->mac_octet, RN_ETH_ALEN) == 0;
}

#endif /* REFNET_WIRE_ETH_H */
