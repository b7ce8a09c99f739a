/*
 * Known-good Ethernet frames for the wire tests, captured from the Linux
 * kernel between two network namespaces (198.18.0.1, 02:00:00:00:00:01 and
 * 198.18.0.2, 02:00:00:00:00:02) with checksum offload turned off, so every
 * checksum in them was computed by Linux and checked by Wireshark.  The
 * bytes live in helper_frames.c.
 */
#ifndef REFNET_TEST_WIRE_FRAMES_H
#define REFNET_TEST_WIRE_FRAMES_H

#include <stddef.h>
#include <stdint.h>

/* ARP request: who has 198.18.0.2? tell 198.18.0.1 (42 bytes, unpadded) */
extern const uint8_t frame_arp_request[42];

/* ARP reply: 198.18.0.2 is at 02:00:00:00:00:02 */
extern const uint8_t frame_arp_reply[42];

/* ICMP echo request 198.18.0.1 > 198.18.0.2, id 0x4d2f seq 1, 56 data bytes */
extern const uint8_t frame_ping_request[98];

/* ICMP echo reply to ping_request, from the Linux kernel */
extern const uint8_t frame_ping_reply[98];

/* ICMP echo request with an IPv4 record-route option (ping -R), IHL 15 */
extern const uint8_t frame_ping_rr[138];

/* first fragment (MF, offset 0) of a 3008-byte ICMP echo request */
extern const uint8_t frame_frag0[1514];

/* last fragment (offset 2960) of the same echo request */
extern const uint8_t frame_frag2[82];

/* TCP SYN 198.18.0.1:36922 > 198.18.0.2:8080: MSS 1460, SACK-perm, TS, NOP, WS 10 */
extern const uint8_t frame_tcp_syn[74];

/* TCP SYN|ACK answering tcp_syn */
extern const uint8_t frame_tcp_synack[74];

/* TCP PSH|ACK with NOP, NOP, TS and 13 data bytes "hello refnet\n" */
extern const uint8_t frame_tcp_data[79];

/* UDP 198.18.0.1:50631 > 198.18.0.2:9999, 13 bytes "hello refnet\n" */
extern const uint8_t frame_udp_dgram[55];

/* ICMP port unreachable from the Linux kernel, quoting udp_dgram */
extern const uint8_t frame_icmp_port_unreach[83];

#endif /* REFNET_TEST_WIRE_FRAMES_H */
