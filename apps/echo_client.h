/*
 * A UDP echo client (RFC 862) that runs on a stack's loop thread: the
 * other half of the echo service (apps.h), for the simulator's scenarios
 * and tests.
 *
 * It is an ordinary client of the socket layer: a process "echo-client"
 * with one datagram socket on an ephemeral port.  It sends ec_count
 * datagrams, one per interval, of sizes drawn from ec_seed between
 * ec_min_size and ec_max_size; each starts with its sequence number and
 * goes on with a pattern of that number, so every reply is checked byte
 * for byte against what was sent.  A reply that differs is *mismatched*:
 * the datagram was corrupted somewhere and nothing caught it.  A datagram
 * that never comes back is *lost*, which on a lossy link is no error.
 *
 * Thread safety: [L] the stack's loop thread only (in the simulator, the
 * simulating thread).  rn_sock_layer_init() must have run on the stack.
 */
#ifndef REFNET_APPS_ECHO_CLIENT_H
#define REFNET_APPS_ECHO_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "refnet/clock.h"

struct rn_stack;
struct rn_echo_client;

/* The smallest datagram: its 4-byte sequence number. */
#define RN_ECHO_CLIENT_MIN_SIZE 4u

/* Parameters.  A zero field takes its default. */
struct rn_echo_client_params {
    uint32_t ec_dst;          /* the echo server, host order (required) */
    uint16_t ec_port;         /* its port; default 7 */
    uint32_t ec_count;        /* datagrams to send, 1..65535; default 1 */
    uint32_t ec_min_size;     /* smallest datagram, >= 4; default 4 */
    uint32_t ec_max_size;     /* largest, <= 65507; default 1472 */
    uint64_t ec_seed;         /* draws the sizes */
    rn_time_t ec_interval;    /* between datagrams; default 10 ms */
    rn_time_t ec_wait;        /* how long after the last send replies are
                                 still awaited; default 2 s */
    unsigned ec_depth;        /* receives kept outstanding; default 8 */
};

/* Counters, a snapshot. */
struct rn_echo_client_stats {
    uint32_t ecs_sent;          /* datagrams the socket accepted */
    uint32_t ecs_send_errors;   /* sends that failed (no route, no buffers) */
    uint32_t ecs_echoed;        /* datagrams that came back exactly (first copy) */
    uint32_t ecs_dups;          /* further exact copies */
    uint32_t ecs_mismatched;    /* replies from the server that differ from
                                   anything sent: wrong size or bytes */
    uint32_t ecs_foreign;       /* datagrams from anyone but the server */
    uint32_t ecs_recv_errors;   /* receives that failed other than by the stop */
    uint64_t ecs_bytes_sent;    /* payload bytes of ecs_sent */
    uint64_t ecs_bytes_echoed;  /* payload bytes of ecs_echoed */
    rn_time_t ecs_rtt_min;      /* over echoed datagrams; 0 if none */
    rn_time_t ecs_rtt_max;
    rn_time_t ecs_rtt_sum;
    rn_time_t ecs_started;      /* stack time of the first send */
    rn_time_t ecs_finished;     /* stack time it finished, 0 while running */
};

/* [L] Opens the client's process and socket and schedules the first send
 * for the stack's next poll.  Returns 0 and sets *out; RN_EINVAL for bad
 * parameters or a stack without transports; RN_ENOMEM; or the socket
 * layer's code. */
int rn__echo_client_start(struct rn_stack *st, const struct rn_echo_client_params *params,
                         struct rn_echo_client **out);

/* [L] True once everything was sent and either every datagram came back
 * or ec_wait passed after the last. */
bool rn__echo_client_done(const struct rn_echo_client *c);

/* [L] Copies the counters. */
void rn__echo_client_stats(const struct rn_echo_client *c, struct rn_echo_client_stats *out);

/* [L] Stops the client: no more sends, its process exits (cancelling its
 * requests and closing its socket), and once the process has been
 * released done(ctx) runs on the loop thread (may be NULL) and c is freed.
 * Stop it before destroying the stack, and run the stack until done. */
void rn__echo_client_stop(struct rn_echo_client *c, void (*done)(void *ctx), void *ctx);

#endif /* REFNET_APPS_ECHO_CLIENT_H */
