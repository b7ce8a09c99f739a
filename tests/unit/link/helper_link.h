/*
 * Helpers shared by the link-layer unit tests: frames with sequence
 * numbers, real ARP/ICMP/UDP frames with valid checksums, and private
 * temporary files.
 */
#ifndef REFNET_TEST_HELPER_LINK_H
#define REFNET_TEST_HELPER_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "refnet/link.h"
#include "refnet/netbuf.h"

/* Addresses used by the tests (198.18.0.0/15 only). */
extern const uint8_t th_mac_a[6];
extern const uint8_t th_mac_b[6];
#define TH_IP_LINUX 0xc6120001u   /* 198.18.0.1 */
#define TH_IP_REFNET 0xc6120002u  /* 198.18.0.2 */
/* Test frames claim IPv4, the only kind the fault filter corrupts; their
 * payload is a numbered pattern, not a real datagram. */
#define TH_ETHERTYPE_TEST 0x0800

/* Makes a pool with defaults and the given max; fails the test on error. */
struct rn_nbpool *th_pool(uint32_t max);

/* Returns the owner "test", registered once. */
rn_nb_owner_t th_owner(void);

/* A test frame of len bytes (>= 18): Ethernet header a->b with the test
 * ethertype, then seq (4 bytes, big endian), then bytes derived from seq. */
struct rn_netbuf *th_frame(struct rn_nbpool *pool, uint32_t seq, size_t len);

/* Returns the seq of a test frame. */
uint32_t th_frame_seq(const struct rn_netbuf *nb);

/* Returns true if nb is exactly the test frame th_frame(seq, len) made. */
int th_frame_intact(const struct rn_netbuf *nb, uint32_t seq, size_t len);

/* Writes an ARP request "who has tip, tell sip" from mac into buf (42
 * bytes).  Returns its length. */
size_t th_arp_request(uint8_t *buf, const uint8_t *mac, uint32_t sip, uint32_t tip);

/* Writes an ARP reply "sip is at mac" to (dmac, dip).  Returns 42. */
size_t th_arp_reply(uint8_t *buf, const uint8_t *mac, uint32_t sip, const uint8_t *dmac,
                    uint32_t dip);

/* Writes an ICMP echo request with payload_len bytes of payload.  Returns
 * its length. */
size_t th_icmp_echo(uint8_t *buf, const uint8_t *smac, const uint8_t *dmac, uint32_t sip,
                    uint32_t dip, uint16_t id, uint16_t seq, size_t payload_len);

/* Writes a UDP datagram with a valid checksum.  Returns its length. */
size_t th_udp(uint8_t *buf, const uint8_t *smac, const uint8_t *dmac, uint32_t sip, uint32_t dip,
              uint16_t sport, uint16_t dport, size_t payload_len);

/* The Internet checksum of len bytes, folded, not inverted. */
uint16_t th_csum_fold(const uint8_t *p, size_t len, uint32_t sum);

/* Copies len bytes into a fresh packet from pool. */
struct rn_netbuf *th_packet(struct rn_nbpool *pool, const void *data, size_t len);

/* Returns a path in a fresh private temp directory: "<dir>/<name>". */
const char *th_tmp_path(const char *name);
/* Removes the temp directory and what is in it. */
void th_tmp_cleanup(void);

#endif
