/*
 * All of refnet's wire formats in one include: byte access, the Internet
 * checksum, Ethernet, ARP, IPv4, ICMP, IPv6, ICMPv6, UDP and TCP.  Parse and emit only;
 * no protocol state lives in src/wire.
 *
 * Conventions shared by every header here:
 *   - Parsers take (const uint8_t *p, size_t len), never read outside
 *     [p, p + len), never allocate, and fill a small struct of host-order
 *     fields plus pointers into p.  They return enum rn_drop: RN_DROP_NONE
 *     (0) or the reason to count the packet under (refnet/drop.h).
 *   - Emitters write into a buffer the caller sized (each header says how
 *     much) and return the bytes written.
 *   - IPv4 addresses are uint32_t in host order; IPv6 addresses struct
 *     rn_ip6 (refnet/addr.h).
 */
#ifndef REFNET_WIRE_WIRE_H
#define REFNET_WIRE_WIRE_H

#include "wire/arp.h"
#include "wire/bytes.h"
#include "wire/csum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"
#include "wire/ipv6.h"
#include "wire/icmpv6.h"

#endif /* REFNET_WIRE_WIRE_H */
