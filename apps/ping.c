/*
 * The ICMP echo client (ping.h).
 *
 * Requests go out through rn_icmp_echo_send(), replies come back through
 * the stack's echo-reply observer (stack.h).  One timer on the stack's heap
 * drives it:
 *
 *   timer -> ping_send() for request n -> re-arm for n+1 after the interval
 *         ... after the last request: arm for pp_wait, then done
 *   echo reply received -> ping_on_echo() -> match by id and seq -> callback
 *
 * Everything runs on the stack's loop thread and reads time only from the
 * stack (rn_stack_now), so a simulated ping replays exactly.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "apps/ping.h"
#include "refnet/error.h"
#include "refnet/runtime.h"
#include "refnet/stack.h"

#define PING_DEFAULT_SIZE 56u
/* The ICMP echo header: type, code, checksum, identifier, sequence. */
#define PING_ICMP_HLEN 8u
#define PING_MAX_SIZE RN_ICMP_ECHO_DATA_MAX

struct rn_ping {
    struct rn_stack *pg_stack;      /* [I] the stack it runs on */
    struct rn_ping_params pg_p;     /* [I] parameters, defaults filled in */
    struct rn_timer pg_timer;       /* [L] next request, or the final wait */
    uint32_t pg_next;               /* [L] sequence number of the next request, 1-based */
    bool pg_done;                   /* [L] finished */
    rn_time_t *pg_sent_at;          /* [I] pg_p.pp_count + 1 slots; 0 = not sent */
    uint8_t *pg_answered;           /* [L] pg_p.pp_count + 1 flags */
    uint8_t *pg_buf;                /* [I] scratch: the data of one request */
    struct rn_ping_stats pg_stats;  /* [L] */
};

/* The data byte at offset i of request seq. */
static uint8_t ping_pattern(uint16_t seq, size_t i)
{
    return (uint8_t)(i * 131u + seq * 7u + (i >> 8));
}

static void ping_finish(struct rn_ping *p)
{
    p->pg_done = true;
    p->pg_stats.ps_finished = rn_stack_now(p->pg_stack);
    rn_timer_cancel(rn_stack_timers(p->pg_stack), &p->pg_timer);
}

/* Builds and sends request seq. */
static void ping_send(struct rn_ping *p, uint16_t seq)
{
    struct rn_stack *st = p->pg_stack;
    struct rn_icmp_echo req = {
        .ie_dst = p->pg_p.pp_dst,
        .ie_id = p->pg_p.pp_id,
        .ie_seq = seq,
        .ie_data = p->pg_buf,
        .ie_len = p->pg_p.pp_size,
    };
    size_t i;

    p->pg_sent_at[seq] = rn_stack_now(st);
    for (i = 0; i < p->pg_p.pp_size; i++)
        p->pg_buf[i] = ping_pattern(seq, i);
    if (rn_icmp_echo_send(st, &req) < 0) {
        p->pg_stats.ps_send_errors++;
        return;
    }
    p->pg_stats.ps_sent++;
}

static void ping_timer(struct rn_timer *t, rn_time_t now)
{
    struct rn_ping *p = (struct rn_ping *)((char *)t - offsetof(struct rn_ping, pg_timer));
    struct rn_timer_heap *h = rn_stack_timers(p->pg_stack);

    if (p->pg_next > p->pg_p.pp_count) {
        ping_finish(p);  /* the final wait is over */
        return;
    }
    if (p->pg_next == 1)
        p->pg_stats.ps_started = now;
    ping_send(p, (uint16_t)p->pg_next);
    p->pg_next++;
    if (p->pg_next <= p->pg_p.pp_count)
        rn_timer_arm(h, &p->pg_timer, now + p->pg_p.pp_interval);
    else
        rn_timer_arm(h, &p->pg_timer, now + p->pg_p.pp_wait);
}

static void ping_on_echo(struct rn_stack *st, const struct rn_icmp_echo_rx *er, void *ctx)
{
    struct rn_ping *p = ctx;
    struct rn_ping_reply r = {0};
    size_t i;

    if (er->er_id != p->pg_p.pp_id || er->er_seq == 0 || er->er_seq > p->pg_p.pp_count ||
        p->pg_sent_at[er->er_seq] == 0 || p->pg_done) {
        p->pg_stats.ps_foreign++;
        return;
    }
    r.pr_src = er->er_src;
    r.pr_seq = er->er_seq;
    r.pr_ttl = er->er_ttl;
    r.pr_bytes = (uint32_t)(PING_ICMP_HLEN + er->er_datalen);
    r.pr_rtt = rn_stack_now(st) - p->pg_sent_at[er->er_seq];
    r.pr_corrupt = er->er_datalen != p->pg_p.pp_size;
    for (i = 0; !r.pr_corrupt && i < er->er_datalen; i++)
        r.pr_corrupt = er->er_data[i] != ping_pattern(er->er_seq, i);
    if (r.pr_corrupt) {
        p->pg_stats.ps_corrupt++;
    } else if (p->pg_answered[er->er_seq]) {
        r.pr_dup = true;
        p->pg_stats.ps_dups++;
    } else {
        p->pg_answered[er->er_seq] = 1;
        p->pg_stats.ps_received++;
        p->pg_stats.ps_rtt_sum += r.pr_rtt;
        if (p->pg_stats.ps_received == 1 || r.pr_rtt < p->pg_stats.ps_rtt_min)
            p->pg_stats.ps_rtt_min = r.pr_rtt;
        if (r.pr_rtt > p->pg_stats.ps_rtt_max)
            p->pg_stats.ps_rtt_max = r.pr_rtt;
    }
    if (p->pg_p.pp_on_reply != NULL)
        p->pg_p.pp_on_reply(p->pg_p.pp_ctx, &r);
    /* Everything sent and answered: no need to sit out the wait. */
    if (p->pg_next > p->pg_p.pp_count && p->pg_stats.ps_received == p->pg_p.pp_count)
        ping_finish(p);
}

int rn__ping_start(struct rn_stack *st, const struct rn_ping_params *params,
                  struct rn_ping **out)
{
    struct rn_ping *p;
    int err;

    assert(st != NULL && params != NULL && out != NULL);
    if (params->pp_dst == 0 || params->pp_count > 65535 || params->pp_size > PING_MAX_SIZE)
        return RN_EINVAL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return RN_ENOMEM;
    p->pg_stack = st;
    p->pg_p = *params;
    if (p->pg_p.pp_count == 0)
        p->pg_p.pp_count = 1;
    if (p->pg_p.pp_size == 0 && !p->pg_p.pp_size_set)
        p->pg_p.pp_size = PING_DEFAULT_SIZE;
    if (p->pg_p.pp_interval == 0)
        p->pg_p.pp_interval = RN_SEC(1);
    if (p->pg_p.pp_wait == 0)
        p->pg_p.pp_wait = RN_SEC(2);
    if (p->pg_p.pp_id == 0)
        p->pg_p.pp_id = (uint16_t)(rn_stack_seed(st) * 0x9e3779b97f4a7c15ull >> 48) | 1;
    p->pg_sent_at = calloc(p->pg_p.pp_count + 1, sizeof(*p->pg_sent_at));
    p->pg_answered = calloc(p->pg_p.pp_count + 1, 1);
    p->pg_buf = malloc(p->pg_p.pp_size + 1);
    if (p->pg_sent_at == NULL || p->pg_answered == NULL ||
        p->pg_buf == NULL) {
        err = RN_ENOMEM;
        goto out_free;
    }
    err = rn_icmp_set_echo_observer(st, ping_on_echo, p);
    if (err < 0)
        goto out_free;
    p->pg_next = 1;
    rn_timer_init(&p->pg_timer, ping_timer);
    err = rn_timer_arm(rn_stack_timers(st), &p->pg_timer, rn_stack_now(st) ? rn_stack_now(st) : 1);
    if (err < 0) {
        rn_icmp_set_echo_observer(st, NULL, NULL);
        goto out_free;
    }
    *out = p;
    return 0;

out_free:
    free(p->pg_buf);
    free(p->pg_answered);
    free(p->pg_sent_at);
    free(p);
    return err;
}

bool rn__ping_done(const struct rn_ping *p)
{
    return p->pg_done;
}

void rn__ping_stats(const struct rn_ping *p, struct rn_ping_stats *out)
{
    *out = p->pg_stats;
}

void rn__ping_free(struct rn_ping *p)
{
    if (p == NULL)
        return;
    rn_timer_cancel(rn_stack_timers(p->pg_stack), &p->pg_timer);
    rn_icmp_set_echo_observer(p->pg_stack, NULL, NULL);
    free(p->pg_buf);
    free(p->pg_answered);
    free(p->pg_sent_at);
    free(p);
}
