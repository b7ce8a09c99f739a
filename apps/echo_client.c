/*
 * The UDP echo client (echo_client.h), on the loop thread.
 *
 * A timer on the stack's heap sends datagram n, then re-arms for n+1 after
 * the interval (after the last, for the final wait).  ec_depth receive
 * requests stay outstanding; each completion is checked against what was
 * sent and the receive is submitted again.
 *
 *   timer -> client_send(n) -> rn_sock_submit(SEND) ... completion frees it
 *   rn_sock_submit(RECV) -> client_done() -> check -> rn_sock_submit(RECV)
 *
 * Stop, in call order (the same shape as the echo service's):
 *   rn__echo_client_stop(): wait ("stop") for the process's release,
 *     rn_proc_exit() -> outstanding requests complete with RN_ECANCELED
 *   -> process released -> client_stop_fired() [any] -> posted ->
 *   client_stop_done() [L]: done(), then the client's memory goes.
 */
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "apps/echo_client.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/runtime.h"
#include "refnet/socket.h"
#include "refnet/transport.h"

#define EC_BUF 65536u
#define EC_DEPTH_DEFAULT 8u
#define EC_DEPTH_MAX 64u

enum { EC_RECV, EC_SEND };

/* What a request's sq_user points to: a receive slot or one send. */
struct ec_req {
    int er_kind;                   /* [I] EC_RECV or EC_SEND */
    struct rn_echo_client *er_c;   /* [I] */
    uint8_t *er_buf;               /* [I] EC_BUF bytes (receive) or the datagram (send) */
};

struct rn_echo_client {
    struct rn_stack *c_stack;           /* [I] */
    struct rn_proc *c_proc;             /* [L] creator's reference until stop */
    int c_handle;                       /* [I] the socket */
    struct rn_echo_client_params c_p;   /* [I] with defaults filled in */
    struct rn_sockaddr_in c_server;     /* [I] */
    struct ec_req *c_slots;             /* [I] c_p.ec_depth receive slots */
    rn_time_t *c_sent_at;               /* [I] c_p.ec_count + 1; 0: not sent */
    uint32_t *c_size;                   /* [I] c_p.ec_count + 1: size of each datagram */
    uint8_t *c_echoed;                  /* [L] c_p.ec_count + 1 flags */
    uint32_t c_next;                    /* [L] next sequence number to send, 1-based */
    struct rn_timer c_timer;            /* [L] next send, or the final wait */
    bool c_done;                        /* [L] */
    bool c_stopping;                    /* [L] */
    struct rn_echo_client_stats c_stats; /* [L] */
    struct rn_ob_wait c_wait;           /* "stop": for the process's release */
    struct rn_work c_work;              /* posted when it fires */
    void (*c_done_fn)(void *ctx);       /* [L] */
    void *c_done_ctx;                   /* [L] */
};

/* Byte i (>= 4) of datagram seq. */
/* A datagram's sequence number, in its first four bytes, big-endian. */
static void put_seq(uint8_t *p, uint32_t seq)
{
    p[0] = (uint8_t)(seq >> 24);
    p[1] = (uint8_t)(seq >> 16);
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
}

static uint32_t get_seq(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t ec_pattern(uint32_t seq, size_t i)
{
    return (uint8_t)(i * 151u + seq * 13u + (i >> 8) * 7u);
}

/* splitmix64's finaliser. */
static uint64_t ec_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void client_finish(struct rn_echo_client *c)
{
    if (c->c_done)
        return;
    c->c_done = true;
    c->c_stats.ecs_finished = rn_stack_now(c->c_stack);
    rn_timer_cancel(rn_stack_timers(c->c_stack), &c->c_timer);
}

static void client_done(struct rn_proc *p, const struct rn_sock_completion *cpl);

static void client_recv(struct ec_req *r)
{
    struct rn_echo_client *c = r->er_c;
    struct rn_sock_req rq = {
        .sq_op = RN_SOP_RECV,
        .sq_handle = c->c_handle,
        .sq_buf = r->er_buf,
        .sq_len = EC_BUF,
        .sq_user = r,
    };

    if (rn_sock_submit(c->c_proc, &rq, client_done) < 0)
        c->c_stats.ecs_recv_errors++;
}

static void client_send(struct rn_echo_client *c, uint32_t seq)
{
    uint32_t size = c->c_size[seq], i;
    struct ec_req *r = malloc(sizeof(*r));
    struct rn_sock_req rq = {
        .sq_op = RN_SOP_SEND,
        .sq_handle = c->c_handle,
        .sq_len = size,
        .sq_to = &c->c_server,
    };

    if (r == NULL || (r->er_buf = malloc(size)) == NULL) {
        free(r);
        c->c_stats.ecs_send_errors++;
        return;
    }
    r->er_kind = EC_SEND;
    r->er_c = c;
    put_seq(r->er_buf, seq);
    for (i = RN_ECHO_CLIENT_MIN_SIZE; i < size; i++)
        r->er_buf[i] = ec_pattern(seq, i);
    rq.sq_buf = r->er_buf;
    rq.sq_user = r;
    c->c_sent_at[seq] = rn_stack_now(c->c_stack);
    if (rn_sock_submit(c->c_proc, &rq, client_done) < 0) {
        free(r->er_buf);
        free(r);
        c->c_stats.ecs_send_errors++;
    }
}

/* Checks one datagram that arrived from the server. */
static void client_check(struct rn_echo_client *c, const uint8_t *d, size_t len)
{
    struct rn_echo_client_stats *s = &c->c_stats;
    uint32_t seq;
    rn_time_t rtt;
    size_t i;

    if (len < RN_ECHO_CLIENT_MIN_SIZE) {
        s->ecs_mismatched++;
        return;
    }
    seq = get_seq(d);
    if (seq == 0 || seq > c->c_p.ec_count || c->c_sent_at[seq] == 0 || len != c->c_size[seq]) {
        s->ecs_mismatched++;
        return;
    }
    for (i = RN_ECHO_CLIENT_MIN_SIZE; i < len; i++) {
        if (d[i] != ec_pattern(seq, i)) {
            s->ecs_mismatched++;
            return;
        }
    }
    if (c->c_echoed[seq]) {
        s->ecs_dups++;
        return;
    }
    c->c_echoed[seq] = 1;
    rtt = rn_stack_now(c->c_stack) - c->c_sent_at[seq];
    s->ecs_echoed++;
    s->ecs_bytes_echoed += len;
    s->ecs_rtt_sum += rtt;
    if (s->ecs_echoed == 1 || rtt < s->ecs_rtt_min)
        s->ecs_rtt_min = rtt;
    if (rtt > s->ecs_rtt_max)
        s->ecs_rtt_max = rtt;
    if (c->c_next > c->c_p.ec_count && s->ecs_echoed == s->ecs_sent)
        client_finish(c);
}

static void client_done(struct rn_proc *p, const struct rn_sock_completion *cpl)
{
    struct ec_req *r = cpl->sc_user;
    struct rn_echo_client *c = r->er_c;

    (void)p;
    if (r->er_kind == EC_SEND) {
        if (cpl->sc_result >= 0) {
            c->c_stats.ecs_sent++;
            c->c_stats.ecs_bytes_sent += (uint64_t)cpl->sc_result;
        } else if (cpl->sc_result != RN_ECANCELED) {
            c->c_stats.ecs_send_errors++;
        }
        free(r->er_buf);
        free(r);
        return;
    }
    if (c->c_stopping)
        return;
    if (cpl->sc_result >= 0) {
        if (cpl->sc_addr.sin_addr != c->c_server.sin_addr ||
            cpl->sc_addr.sin_port != c->c_server.sin_port)
            c->c_stats.ecs_foreign++;
        else if (cpl->sc_flags & RN_MSG_TRUNC)
            c->c_stats.ecs_mismatched++;
        else if (!c->c_done)
            client_check(c, r->er_buf, (size_t)cpl->sc_result);
    } else {
        c->c_stats.ecs_recv_errors++;
    }
    client_recv(r);
}

static void client_timer(struct rn_timer *t, rn_time_t now)
{
    struct rn_echo_client *c =
        (struct rn_echo_client *)((char *)t - offsetof(struct rn_echo_client, c_timer));
    struct rn_timer_heap *h = rn_stack_timers(c->c_stack);

    if (c->c_next > c->c_p.ec_count) {
        client_finish(c);  /* the final wait is over */
        return;
    }
    if (c->c_next == 1)
        c->c_stats.ecs_started = now;
    client_send(c, c->c_next);
    c->c_next++;
    rn_timer_arm(h, &c->c_timer,
                 now + (c->c_next <= c->c_p.ec_count ? c->c_p.ec_interval : c->c_p.ec_wait));
}

static void client_free(struct rn_echo_client *c)
{
    unsigned i;

    if (c->c_slots != NULL) {
        for (i = 0; i < c->c_p.ec_depth; i++)
            free(c->c_slots[i].er_buf);
    }
    free(c->c_slots);
    free(c->c_sent_at);
    free(c->c_size);
    free(c->c_echoed);
    free(c);
}

int rn__echo_client_start(struct rn_stack *st, const struct rn_echo_client_params *params,
                         struct rn_echo_client **out)
{
    struct rn_sockaddr_in any = {0};
    struct rn_echo_client *c;
    uint32_t i, span;
    int err;

    assert(st != NULL && params != NULL && out != NULL);
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return RN_ENOMEM;
    c->c_stack = st;
    c->c_p = *params;
    if (c->c_p.ec_port == 0)
        c->c_p.ec_port = 7;
    if (c->c_p.ec_count == 0)
        c->c_p.ec_count = 1;
    if (c->c_p.ec_min_size == 0)
        c->c_p.ec_min_size = RN_ECHO_CLIENT_MIN_SIZE;
    if (c->c_p.ec_max_size == 0)
        c->c_p.ec_max_size = 1472;
    if (c->c_p.ec_interval == 0)
        c->c_p.ec_interval = RN_MSEC(10);
    if (c->c_p.ec_wait == 0)
        c->c_p.ec_wait = RN_SEC(2);
    if (c->c_p.ec_depth == 0)
        c->c_p.ec_depth = EC_DEPTH_DEFAULT;
    if (c->c_p.ec_dst == 0 || c->c_p.ec_count > 65535 ||
        c->c_p.ec_min_size < RN_ECHO_CLIENT_MIN_SIZE || c->c_p.ec_max_size > RN_UDP_MAX_PAYLOAD ||
        c->c_p.ec_min_size > c->c_p.ec_max_size || c->c_p.ec_depth > EC_DEPTH_MAX) {
        free(c);
        return RN_EINVAL;
    }
    c->c_server.sin_addr = c->c_p.ec_dst;
    c->c_server.sin_port = c->c_p.ec_port;
    c->c_slots = calloc(c->c_p.ec_depth, sizeof(*c->c_slots));
    c->c_sent_at = calloc(c->c_p.ec_count + 1, sizeof(*c->c_sent_at));
    c->c_size = calloc(c->c_p.ec_count + 1, sizeof(*c->c_size));
    c->c_echoed = calloc(c->c_p.ec_count + 1, 1);
    if (c->c_slots == NULL || c->c_sent_at == NULL || c->c_size == NULL || c->c_echoed == NULL) {
        client_free(c);
        return RN_ENOMEM;
    }
    for (i = 0; i < c->c_p.ec_depth; i++) {
        c->c_slots[i].er_kind = EC_RECV;
        c->c_slots[i].er_c = c;
        c->c_slots[i].er_buf = malloc(EC_BUF);
        if (c->c_slots[i].er_buf == NULL) {
            client_free(c);
            return RN_ENOMEM;
        }
    }
    span = c->c_p.ec_max_size - c->c_p.ec_min_size + 1;
    for (i = 1; i <= c->c_p.ec_count; i++)
        c->c_size[i] = c->c_p.ec_min_size + (uint32_t)(ec_mix(c->c_p.ec_seed ^ ec_mix(i)) % span);

    err = rn_proc_create(st, "echo-client", &c->c_proc);
    if (err < 0) {
        client_free(c);
        return err;
    }
    err = rn_sock_open(c->c_proc, RN_SOCK_DGRAM, 0);
    if (err < 0)
        goto out_exit;
    c->c_handle = err;
    err = rn_sock_bind(c->c_proc, c->c_handle, &any);
    if (err < 0)
        goto out_exit;
    for (i = 0; i < c->c_p.ec_depth; i++)
        client_recv(&c->c_slots[i]);
    c->c_next = 1;
    rn_timer_init(&c->c_timer, client_timer);
    rn_timer_arm(rn_stack_timers(st), &c->c_timer, rn_stack_now(st) ? rn_stack_now(st) : 1);
    *out = c;
    return 0;

out_exit:
    /* Nothing was submitted: the process exits on its own. */
    rn_proc_exit(c->c_proc);
    client_free(c);
    return err;
}

bool rn__echo_client_done(const struct rn_echo_client *c)
{
    return c->c_done;
}

void rn__echo_client_stats(const struct rn_echo_client *c, struct rn_echo_client_stats *out)
{
    *out = c->c_stats;
}

static void client_stop_done(struct rn_stack *st, struct rn_work *w)
{
    struct rn_echo_client *c =
        (struct rn_echo_client *)((char *)w - offsetof(struct rn_echo_client, c_work));

    (void)st;
    if (c->c_done_fn != NULL)
        c->c_done_fn(c->c_done_ctx);
    client_free(c);
}

/* The process was released (on whichever thread let go last). */
static void client_stop_fired(struct rn_ob_wait *w, void *ctx)
{
    struct rn_echo_client *c = ctx;

    (void)w;
    rn_stack_post(c->c_stack, &c->c_work, client_stop_done);
}

void rn__echo_client_stop(struct rn_echo_client *c, void (*done)(void *ctx), void *ctx)
{
    struct rn_proc *p = c->c_proc;
    int err;

    assert(!c->c_stopping);
    c->c_stopping = true;
    c->c_done_fn = done;
    c->c_done_ctx = ctx;
    client_finish(c);
    err = rn_ob_wait_release(p, &c->c_wait, NULL, "stop", client_stop_fired, c);
    assert(err == 0);
    (void)err;
    c->c_proc = NULL;
    rn_proc_exit(p);
}
