/*
 * The UDP echo service (RFC 862) on the loop thread (apps.h).
 *
 * It keeps ep_depth receive requests outstanding on one socket; each slot
 * cycles receive -> send the same bytes back to the sender -> receive, so
 * up to ep_depth datagrams are in hand at once, each in its own 64 KiB
 * buffer (a reassembled datagram of the largest size fits).
 *
 * Stop, in call order:
 *   rn__echo_stop(): wait ("stop") for the process's release, rn_proc_exit()
 *     -> the socket layer cancels the outstanding requests (each callback
 *        sees RN_ECANCELED and does not resubmit), closes the socket
 *     -> the process is released once every request was delivered
 *   -> echo_stop_fired() [any] -> posted -> echo_stop_done() [L]: done(),
 *      then the service's memory goes.
 * Hosted (ep_proc set): rn__echo_stop() only stops resubmitting; the host
 * exits its process and calls rn__echo_released() once it was released.
 */
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>

#include "refnet/runtime.h"
#include "apps/apps.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/socket.h"

#define ECHO_BUF 65536u
#define ECHO_DEPTH_DEFAULT 8u
#define ECHO_DEPTH_MAX 256u

struct echo_slot {
    struct rn_echo *es_echo;   /* [I] */
    uint8_t *es_buf;           /* [I] ECHO_BUF bytes */
};

struct rn_echo {
    struct rn_stack *e_stack;        /* [I] */
    struct rn_proc *e_proc;          /* [L] held by "service", and by its
                                        creator's reference until stop */
    bool e_hosted;                   /* [I] runs in the host's process (borrowed) */
    int e_handle;                    /* [I] the socket */
    unsigned e_depth;                /* [I] slots */
    struct echo_slot *e_slots;       /* [I] */
    bool e_stopping;                 /* [L] */
    struct rn_echo_stats e_stats;    /* [L] */
    struct rn_ob_wait e_wait;        /* "stop": for the process's release */
    struct rn_work e_work;           /* posted when it fires */
    void (*e_done)(void *ctx);       /* [L] */
    void *e_done_ctx;                /* [L] */
};

static void echo_done(struct rn_proc *p, const struct rn_sock_completion *c);

static void echo_recv(struct echo_slot *es)
{
    struct rn_echo *e = es->es_echo;
    struct rn_sock_req rq = {
        .sq_op = RN_SOP_RECV,
        .sq_handle = e->e_handle,
        .sq_buf = es->es_buf,
        .sq_len = ECHO_BUF,
        .sq_user = es,
    };

    if (rn_sock_submit(e->e_proc, &rq, echo_done) < 0)
        e->e_stats.es_recv_errors++;
}

static void echo_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct echo_slot *es = c->sc_user;
    struct rn_echo *e = es->es_echo;

    if (c->sc_op == RN_SOP_RECV) {
        if (c->sc_result >= 0 && !e->e_stopping) {
            struct rn_sock_req rq = {
                .sq_op = RN_SOP_SEND,
                .sq_handle = e->e_handle,
                .sq_buf = es->es_buf,
                .sq_len = (size_t)c->sc_result,
                .sq_to = &c->sc_addr,
                .sq_user = es,
            };

            e->e_stats.es_received++;
            if (rn_sock_submit(p, &rq, echo_done) == 0)
                return;
            e->e_stats.es_send_errors++;
        } else if (c->sc_result < 0 && c->sc_result != RN_ECANCELED && !e->e_stopping) {
            e->e_stats.es_recv_errors++;
        }
    } else if (c->sc_op == RN_SOP_SEND) {
        if (c->sc_result >= 0)
            e->e_stats.es_echoed++;
        else if (c->sc_result != RN_ECANCELED)
            e->e_stats.es_send_errors++;
    }
    if (!e->e_stopping)
        echo_recv(es);
}

static void echo_free(struct rn_echo *e)
{
    unsigned i;

    for (i = 0; i < e->e_depth; i++)
        free(e->e_slots[i].es_buf);
    free(e->e_slots);
    free(e);
}

int rn__echo_start(struct rn_stack *st, const struct rn_echo_params *params,
                  struct rn_echo **out)
{
    struct rn_echo_params ep = params ? *params : (struct rn_echo_params){0};
    struct rn_sockaddr_in local = {0};
    struct rn_echo *e;
    unsigned i;
    int err;
    bool inet6;

    if (ep.ep_port == 0)
        ep.ep_port = 7;
    if (ep.ep_depth == 0)
        ep.ep_depth = ECHO_DEPTH_DEFAULT;
    if (ep.ep_depth > ECHO_DEPTH_MAX)
        return RN_EINVAL;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return RN_ENOMEM;
    e->e_stack = st;
    e->e_depth = ep.ep_depth;
    e->e_slots = calloc(ep.ep_depth, sizeof(*e->e_slots));
    if (e->e_slots == NULL) {
        free(e);
        return RN_ENOMEM;
    }
    for (i = 0; i < ep.ep_depth; i++) {
        e->e_slots[i].es_echo = e;
        e->e_slots[i].es_buf = malloc(ECHO_BUF);
        if (e->e_slots[i].es_buf == NULL) {
            echo_free(e);
            return RN_ENOMEM;
        }
    }
    e->e_hosted = ep.ep_proc != NULL;
    if (e->e_hosted) {
        e->e_proc = ep.ep_proc;
    } else if ((err = rn_proc_create(st, "echo", &e->e_proc)) < 0) {
        echo_free(e);
        return err;
    }
    /* Every address of a stack that speaks IPv6: one dual-stack socket. */
    inet6 = ep.ep_addr == 0 && rn__apps_stack_has_ipv6(st);
    err = rn_sock_open(e->e_proc, RN_SOCK_DGRAM | (inet6 ? RN_SOCK_INET6 : 0), 0);
    if (err < 0)
        goto out_exit;
    e->e_handle = err;
    if (ep.ep_rcvbuf != 0 &&
        (err = rn_sock_setopt(e->e_proc, e->e_handle, RN_SO_RCVBUF, ep.ep_rcvbuf)) < 0)
        goto out_exit;
    local.sin_addr = ep.ep_addr;
    local.sin_port = ep.ep_port;
    if (inet6) {
        local.sin_family = RN_AF_INET6;
        local.sin6_addr = RN_IP6_ANY;
    }
    err = rn_sock_bind(e->e_proc, e->e_handle, &local);
    if (err < 0)
        goto out_exit;
    /* The service's own hold on its process, beside the creator's that
     * rn_proc_exit() consumes.  A hosted one is the host's to hold. */
    if (!e->e_hosted)
        rn_ob_ref(e->e_proc, RN_TAG_SERVICE);
    for (i = 0; i < e->e_depth; i++)
        echo_recv(&e->e_slots[i]);
    *out = e;
    return 0;

out_exit:
    /* Nothing was submitted: the process exits on its own, closing the
     * socket, and nobody needs to hear about it.  A hosted socket stays
     * open in the host's process, which the host exits. */
    if (!e->e_hosted)
        rn_proc_exit(e->e_proc);
    echo_free(e);
    return err;
}

static void echo_stop_done(struct rn_stack *st, struct rn_work *w)
{
    struct rn_echo *e = (struct rn_echo *)((char *)w - offsetof(struct rn_echo, e_work));

    (void)st;
    if (e->e_done != NULL)
        e->e_done(e->e_done_ctx);
    echo_free(e);
}

/* The process was released (on whichever thread let go last). */
static void echo_stop_fired(struct rn_ob_wait *w, void *ctx)
{
    struct rn_echo *e = ctx;

    (void)w;
    rn_stack_post(e->e_stack, &e->e_work, echo_stop_done);
}

void rn__echo_stop(struct rn_echo *e, void (*done)(void *ctx), void *ctx)
{
    struct rn_proc *p = e->e_proc;
    int err;

    assert(!e->e_stopping);
    e->e_stopping = true;
    e->e_done = done;
    e->e_done_ctx = ctx;
    if (e->e_hosted)
        return;  /* the host exits its process, then rn__echo_released() */
    err = rn_ob_wait_release(p, &e->e_wait, NULL, "stop", echo_stop_fired, e);
    assert(err == 0);
    (void)err;
    rn_proc_exit(p);
    e->e_proc = NULL;
    rn_ob_deref(p, RN_TAG_SERVICE);
}

void rn__echo_released(struct rn_echo *e)
{
    assert(e->e_hosted && e->e_stopping);
    if (e->e_done != NULL)
        e->e_done(e->e_done_ctx);
    echo_free(e);
}

void rn__echo_stats(const struct rn_echo *e, struct rn_echo_stats *out)
{
    *out = e->e_stats;
}

struct rn_proc *rn__echo_proc(const struct rn_echo *e)
{
    return e->e_proc;
}
