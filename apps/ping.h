/*
 * An ICMP echo client ("ping") that runs inside a stack's loop.
 *
 * It sends echo requests on the stack's timers and matches the replies
 * that the network layer hands to its echo-reply observer (net.h,
 * rn_icmp_set_echo_observer), so it works under any host: the simulator
 * drives it in virtual time and `refnet sim ping` prints what it sees.
 * Round-trip times are measured on the stack's clock, i.e. virtual time in
 * the simulator.
 *
 * Each request carries sequence number 1, 2, ... and a data pattern that
 * depends on the sequence number, so a reply whose data differs from what
 * was sent is counted as corrupt rather than received.
 *
 * Thread safety: every function runs on the stack's loop thread (in the
 * simulator, the simulating thread).  One ping per stack at a time: it
 * takes the stack's one echo-reply observer.
 */
#ifndef REFNET_APPS_PING_H
#define REFNET_APPS_PING_H

#include <stdbool.h>
#include <stdint.h>

#include "refnet/clock.h"

struct rn_stack;
struct rn_ping;

/* One reply, as the callback sees it. */
struct rn_ping_reply {
    uint32_t pr_src;      /* who answered, host order */
    uint16_t pr_seq;      /* its sequence number, 1-based */
    uint8_t pr_ttl;       /* TTL as received */
    uint32_t pr_bytes;    /* ICMP bytes: 8 + data, as ping prints them */
    rn_time_t pr_rtt;     /* now - when request pr_seq was sent */
    bool pr_dup;          /* a second reply to the same request */
    bool pr_corrupt;      /* the data differs from what was sent */
};

typedef void (*rn_ping_reply_fn)(void *ctx, const struct rn_ping_reply *r);

/* Parameters.  A zero field takes its default. */
struct rn_ping_params {
    uint32_t pp_dst;            /* destination, host order (required) */
    uint16_t pp_id;             /* echo identifier; default from the stack's seed */
    uint32_t pp_count;          /* requests to send, 1..65535; default 1 */
    uint32_t pp_size;           /* data bytes per request, 0..65507; default 56.
                                   Set pp_size_set for an explicit 0. */
    bool pp_size_set;           /* pp_size is meant even when 0 */
    rn_time_t pp_interval;      /* between requests; default 1 s */
    rn_time_t pp_wait;          /* how long after the last request replies are
                                   still awaited; default 2 s */
    rn_ping_reply_fn pp_on_reply;  /* called for every reply, or NULL */
    void *pp_ctx;               /* its argument */
};

/* Counters, a snapshot. */
struct rn_ping_stats {
    uint32_t ps_sent;           /* requests handed to IP */
    uint32_t ps_send_errors;    /* requests IP refused (no route, no buffers) */
    uint32_t ps_received;       /* requests answered with the right data (first reply each) */
    uint32_t ps_dups;           /* further replies to answered requests */
    uint32_t ps_corrupt;        /* replies whose data differed */
    uint32_t ps_foreign;        /* replies for another id or an unknown sequence */
    rn_time_t ps_rtt_min;       /* over received replies; 0 if none */
    rn_time_t ps_rtt_max;
    rn_time_t ps_rtt_sum;       /* ps_rtt_sum / ps_received is the mean */
    rn_time_t ps_started;       /* stack time of the first request */
    rn_time_t ps_finished;      /* stack time it finished, 0 while running */
};

/* Creates a ping on st and schedules its first request for the stack's
 * next poll.  Returns 0 and sets *out; RN_EINVAL for bad parameters;
 * RN_EBUSY if the stack's echo-reply observer is taken (another ping);
 * RN_ENOMEM.  Free it with rn__ping_free() before the stack is destroyed. */
int rn__ping_start(struct rn_stack *st, const struct rn_ping_params *params,
                  struct rn_ping **out);

/* True once every request was sent and either every one was answered or
 * pp_wait passed after the last. */
bool rn__ping_done(const struct rn_ping *p);

/* Copies the counters. */
void rn__ping_stats(const struct rn_ping *p, struct rn_ping_stats *out);

/* Stops the ping (no further requests; late replies are ignored), gives
 * the observer back and frees it.  p may be NULL. */
void rn__ping_free(struct rn_ping *p);

#endif /* REFNET_APPS_PING_H */
