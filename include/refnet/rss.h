/*
 * Receive-side scaling: which of a link's receive queues a frame belongs
 * to, decided as a network adapter does (Microsoft's RSS specification,
 * "NdisHashFunctionToeplitz"): a Toeplitz hash under a 40-byte secret key
 * of the flow's addresses and ports, as they arrive, then an indirection
 * table of 128 entries that maps the hash's low seven bits to a queue.
 *
 * refnet uses it twice with the same answer: the TAP device steers each
 * frame the kernel sends to refnet onto a queue with a program computed
 * from the key (TUNSETSTEERINGEBPF, src/link/tap_steer.c), and refnet
 * itself knows from rn_rss_flow_queue() which queue, and so which loop,
 * a flow's frames will reach, before any arrives (a connect picks its
 * local port so that the answers come back to its own loop).
 *
 * What is hashed, and what is not:
 *   - IPv4 and IPv6 TCP and UDP, not fragments: source address,
 *     destination address, source port, destination port (12 or 36
 *     bytes, in network order).
 *   - Everything else goes to queue 0: ARP, neighbour discovery, ICMP and
 *     ICMPv6, IPv4 fragments, IPv6 datagrams with extension headers,
 *     VLAN-tagged frames, anything too short to carry its ports.  The
 *     loop of queue 0 passes on what belongs to another: an ICMP error
 *     goes to the queue of the flow it speaks of
 *     (rn_rss_icmp_error_queue()), a datagram reassembled from fragments
 *     to the queue of its flow.
 *
 * The indirection table is fixed: entry i holds queue i mod n, so a
 * hash's queue is (hash mod 128) mod n.  Changing the key or the number
 * of queues moves flows; both are set before a link opens and never
 * after.
 *
 * Thread safety: pure functions; any thread.
 */
#ifndef REFNET_RSS_H
#define REFNET_RSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/addr.h"

/* Bytes of the secret key: enough for the 36 bytes of an IPv6 4-tuple. */
#define RN_RSS_KEY_LEN 40
/* Entries of the indirection table. */
#define RN_RSS_TABLE_LEN 128u
/* Queues at most (loops of one stack). */
#define RN_RSS_QUEUES_MAX 64u
/* Ports a multi-queue TAP can pin to a queue (rn_link_tap_pin()). */
#define RN_RSS_PINS_MAX 4096u
/* The text of a key: 40 two-digit hexadecimal bytes separated by ':'. */
#define RN_RSS_KEY_STRLEN (RN_RSS_KEY_LEN * 3)

/* How a link spreads frames over its receive queues. */
struct rn_rss {
    uint8_t rs_key[RN_RSS_KEY_LEN];  /* the Toeplitz key */
    unsigned rs_queues;              /* 1 .. RN_RSS_QUEUES_MAX */
};

/* The key of Microsoft's RSS verification data, which adapters ship as
 * their default; refnet's default too. */
extern const uint8_t rn_rss_default_key[RN_RSS_KEY_LEN];

/* Sets *rss to the default key and n queues (1 if n is 0). */
void rn_rss_init(struct rn_rss *rss, unsigned n);

/* The Toeplitz hash of len bytes (at most RN_RSS_KEY_LEN - 4) under key. */
uint32_t rn_rss_toeplitz(const uint8_t key[RN_RSS_KEY_LEN], const uint8_t *in, size_t len);

/* The queue of a hash: the indirection table's entry hash mod 128. */
static inline unsigned rn_rss_queue_of(const struct rn_rss *rss, uint32_t hash)
{
    return (hash % RN_RSS_TABLE_LEN) % rss->rs_queues;
}

/* The hash of a TCP or UDP flow's frames as they arrive: src is the
 * sender (the peer), dst refnet's address; ports in host order.  Both
 * addresses must be of one family: IPv4-mapped addresses hash as IPv4. */
uint32_t rn_rss_flow_hash(const struct rn_rss *rss, const struct rn_inaddr *src,
                          const struct rn_inaddr *dst, uint16_t sport, uint16_t dport);

/* The queue those frames reach. */
static inline unsigned rn_rss_flow_queue(const struct rn_rss *rss, const struct rn_inaddr *src,
                                         const struct rn_inaddr *dst, uint16_t sport,
                                         uint16_t dport)
{
    return rn_rss_queue_of(rss, rn_rss_flow_hash(rss, src, dst, sport, dport));
}

/* The queue of an Ethernet frame (len bytes from its destination
 * address), as the device's steering program decides it.  *hashed (may
 * be NULL) tells whether its flow was hashed or it went to queue 0 for
 * what it is. */
unsigned rn_rss_frame_queue(const struct rn_rss *rss, const uint8_t *frame, size_t len,
                            bool *hashed);

/* For an ICMP or ICMPv6 error (destination unreachable, packet too big,
 * time exceeded, parameter problem) in an Ethernet frame, about a TCP or
 * UDP packet this side sent: sets *queue to the queue where that flow's
 * frames arrive (its addresses and ports reversed, as the peer's answers
 * carry them), *proto (RN_IPPROTO_TCP or UDP) and *lport (this side's
 * port, host order) unless NULL, and returns true.  Returns false for any
 * other frame, and for an error whose quoted packet has no ports (a later
 * fragment) or is cut short before them. */
bool rn_rss_icmp_error_queue(const struct rn_rss *rss, const uint8_t *frame, size_t len,
                             unsigned *queue, uint8_t *proto, uint16_t *lport);

/* Parses a key written as 40 hexadecimal bytes, each two digits,
 * separated by ':' (as ethtool prints one).  Returns 0, or -1 with a
 * one-line reason in err (errlen bytes). */
int rn_rss_key_parse(const char *text, uint8_t key[RN_RSS_KEY_LEN], char *err, size_t errlen);

/* Writes key as rn_rss_key_parse() reads it, into buf of at least
 * RN_RSS_KEY_STRLEN bytes. */
void rn_rss_key_format(const uint8_t key[RN_RSS_KEY_LEN], char *buf, size_t len);

/* The 32 key bits that input bit i (0 = the most significant bit of the
 * first byte) adds to the hash when set.  i < (RN_RSS_KEY_LEN - 4) * 8. */
uint32_t rn_rss_key_window(const uint8_t key[RN_RSS_KEY_LEN], unsigned i);

#endif /* REFNET_RSS_H */
