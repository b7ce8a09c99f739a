/*
 * ARP for IPv4 over Ethernet (RFC 826): parse and emit only.
 *
 * The network layer's neighbour cache parses every ARP frame payload with
 * rn__arp_parse() and answers or resolves with rn__arp_emit().  Other hardware
 * or protocol types are rejected: refnet only resolves IPv4 on Ethernet.
 */
#ifndef REFNET_WIRE_ARP_H
#define REFNET_WIRE_ARP_H

#include <stddef.h>
#include <stdint.h>

#include "refnet/drop.h"
#include "wire/eth.h"

#define RN_ARP_LEN 28        /* Ethernet/IPv4 ARP packet, without padding */
#define RN_ARP_HTYPE_ETHER 1 /* hardware type: Ethernet */
#define RN_ARP_OP_REQUEST 1
#define RN_ARP_OP_REPLY 2

/* An Ethernet/IPv4 ARP packet.  IPv4 addresses are host order. */
struct rn_arp {
    uint16_t ar_op;      /* RN_ARP_OP_REQUEST or RN_ARP_OP_REPLY */
    struct rn_mac ar_sha; /* sender hardware address */
    uint32_t ar_spa;     /* sender protocol address */
    struct rn_mac ar_tha; /* target hardware address (zero in a request) */
    uint32_t ar_tpa;     /* target protocol address */
};

/*
 * Parses the ARP packet of len bytes at p (the Ethernet payload; trailing
 * padding is ignored) into *ar.  Returns RN_DROP_NONE, or:
 *   RN_DROP_TRUNCATED  len < RN_ARP_LEN;
 *   RN_DROP_BAD_ARP    hardware type not 1, protocol type not 0x0800,
 *                      address lengths not 6 and 4, opcode not 1 or 2, or a
 *                      group sender hardware address (no host has one, and
 *                      caching it would send unicast traffic to a group).
 * Reads only [p, p + len).
 */
enum rn_drop rn__arp_parse(const uint8_t *p, size_t len, struct rn_arp *ar);

/* Writes the 28-byte ARP packet *ar at out, which must have RN_ARP_LEN
 * bytes.  A request is {RN_ARP_OP_REQUEST, our MAC, our IP, zero MAC, the IP
 * sought}, sent to RN_MAC_BROADCAST; a reply swaps the roles and goes to
 * the requester.  Returns RN_ARP_LEN. */
size_t rn__arp_emit(uint8_t *out, const struct rn_arp *ar);

#endif /* REFNET_WIRE_ARP_H */
