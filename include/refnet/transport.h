/*
 * The transports of a stack: set-up, the ephemeral port range and the UDP
 * counters.
 *
 * The host (daemon, simulator, tests) calls rn_transport_init() once after
 * rn_stack_create(): it registers UDP and TCP with the network layer and
 * sets up the socket layer above them (socket.h).  Their teardown runs
 * inside rn_stack_destroy(), sockets first.
 *
 * Thread safety: [L] loop thread of the stack (or before its loop runs).
 */
#ifndef REFNET_TRANSPORT_H
#define REFNET_TRANSPORT_H

#include <stdint.h>

struct rn_stack;

/* [L] Sets up UDP, TCP (with its default parameters, unless rn_tcp_init()
 * ran first) and the socket layer on st, each unless already set up.
 * Returns 0 or RN_ENOMEM. */
int rn_transport_init(struct rn_stack *st);

/* [L] UDP alone (rn_transport_init() calls it).  Returns 0, RN_EEXIST or
 * RN_ENOMEM. */
int rn_udp_init(struct rn_stack *st);

/* The default ephemeral port range (RFC 6335 section 6). */
#define RN_EPHEMERAL_LO 49152
#define RN_EPHEMERAL_HI 65535

/* [L] Sets the range ephemeral ports are picked from, for every transport
 * of st.  Returns 0, or RN_EINVAL unless 1 <= lo <= hi. */
int rn_transport_set_ephemeral(struct rn_stack *st, uint16_t lo, uint16_t hi);

/* UDP counters of a stack (also in `refnet stat`, as udp.*). */
struct rn_udp_stats {
    uint64_t us_in;             /* datagrams queued to an endpoint */
    uint64_t us_out;            /* datagrams sent */
    uint64_t us_no_port;        /* datagrams to a port nobody bound */
    uint64_t us_in_errors;      /* bad length, bad checksum, receive queue full */
    uint64_t us_csum_errors;    /* of which a bad checksum */
    uint64_t us_rcvbuf_errors;  /* of which a full receive queue */
};

/* [L] Copies st's UDP counters into out (zero if UDP is not set up). */
void rn_udp_stats(struct rn_stack *st, struct rn_udp_stats *out);

#endif /* REFNET_TRANSPORT_H */
