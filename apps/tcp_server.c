/*
 * The listening TCP service skeleton (tcp_server.h): process, listener,
 * accept loop, connection list and cap, request accounting, stop.
 *
 * Accept, in call order:
 *   rn__tsrv_start() -> accept_submit() ... accept_done() [L]:
 *     a handle: over the cap -> SO_LINGER 0 + close (refuse_done);
 *               else allocate the connection, link it, tso_open()
 *     at the cap the listener refuses new SYNs with a RST
 *     (RN_SO_LISTEN_REFUSE, cap_check()), so a peer over the cap sees its
 *     connect refused rather than a connection that is reset at once
 *     RN_ECANCELED: the stop closed the listener; nothing more
 *     another error: ts_retry fires in 100 ms -> accept_submit()
 *   then accept_submit() again.
 * A connection's requests, in call order:
 *   rn__tsrv_submit() ... conn_done() [L]: tc_inflight--, then tso_done() if
 *   the connection is still open; a closing one is freed when its last
 *   request was delivered (conn_free()).
 * An idle connection's wait, in call order:
 *   rn__tsrv_wait_input(): the socket joins the service's readiness set
 *   (once; a one-shot registration, re-armed by each later wait), and the
 *   set's wait request is submitted unless it is out already
 *   ... rset_done() [L]: each event is matched to its connection by handle
 *   and tc_gen (event_conn()); one still waiting gets tso_ready(); then the
 *   wait request goes out again.  Only rset_done() submits while it runs,
 *   so the events it reads are not overwritten under it.
 */
#include <assert.h>
#include <malloc.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refnet/runtime.h"
#include "refnet/error.h"
#include "apps/apps.h"
#include "apps/tcp_server.h"

#define TSRV_RETRY RN_MSEC(100)
/* After this many connections at once have all closed, the heap's free
 * memory goes back to the system, TSRV_TRIM_AFTER later (when the
 * transport has let go of theirs too). */
#define TSRV_TRIM_PEAK 256u
#define TSRV_TRIM_AFTER RN_SEC(2)

rn_time_t rn__tsrv_now(const struct tsrv *s)
{
    return rn_stack_now(s->ts_stack);
}

/* ---- One service on several loops ---------------------------------------------
 * With receive-side scaling each loop runs an instance of a service, and
 * the cap is the service's: the instances of one name and port share the
 * count of their connections.  An instance whose change crosses the cap
 * has the others look at their listeners again (a post to each one's
 * stack); between the crossing and that look a SYN may still get in on
 * another loop, and is then reset as over the cap (ss_refused). */
#define TSRV_SHARE_MAX 64

struct tsrv_share {
    struct tsrv_share *tsh_next;          /* [share_lock] */
    char tsh_key[40];                     /* [I] "name:port" */
    _Atomic uint32_t tsh_active;          /* [A] connections of all instances */
    unsigned tsh_n;                       /* [share_lock] */
    struct tsrv *tsh_members[TSRV_SHARE_MAX]; /* [share_lock] */
};

static pthread_mutex_t share_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tsrv_share *shares;        /* [share_lock] */

static void cap_check(struct tsrv *s);
static void rset_submit(struct tsrv *s);

static void cap_recheck(struct rn_stack *st, struct rn_work *w)
{
    struct tsrv *s = (struct tsrv *)((char *)w - offsetof(struct tsrv, ts_cap_work));

    (void)st;
    atomic_store(&s->ts_cap_posted, false);
    cap_check(s);
}

/* Joins the instances of name:port (making the group).  0 or RN_ENOMEM. */
static int share_join(struct tsrv *s, const char *name, uint16_t port)
{
    struct tsrv_share *sh;
    char key[40];
    int err = 0;

    snprintf(key, sizeof(key), "%.30s:%u", name, port);
    pthread_mutex_lock(&share_lock);
    for (sh = shares; sh != NULL && strcmp(sh->tsh_key, key) != 0; sh = sh->tsh_next)
        ;
    if (sh == NULL && (sh = calloc(1, sizeof(*sh))) != NULL) {
        snprintf(sh->tsh_key, sizeof(sh->tsh_key), "%s", key);
        atomic_init(&sh->tsh_active, 0);
        sh->tsh_next = shares;
        shares = sh;
    }
    if (sh == NULL || sh->tsh_n == TSRV_SHARE_MAX)
        err = RN_ENOMEM;
    else
        sh->tsh_members[sh->tsh_n++] = s;
    pthread_mutex_unlock(&share_lock);
    if (err == 0)
        s->ts_share = sh;
    return err;
}

/* Leaves the group (freed with its last member), taking its connections
 * out of the count; from here nothing is posted to s.  At the stop's
 * start: a post made before is queued ahead of the stop's end, so it runs
 * while s is still there. */
static void share_leave(struct tsrv *s)
{
    struct tsrv_share *sh = s->ts_share, **pp;
    unsigned i;

    if (sh == NULL)
        return;
    pthread_mutex_lock(&share_lock);
    atomic_fetch_sub(&sh->tsh_active, s->ts_stats.ss_active);
    for (i = 0; i < sh->tsh_n && sh->tsh_members[i] != s; i++)
        ;
    if (i < sh->tsh_n)
        sh->tsh_members[i] = sh->tsh_members[--sh->tsh_n];
    if (sh->tsh_n == 0) {
        for (pp = &shares; *pp != sh; pp = &(*pp)->tsh_next)
            ;
        *pp = sh->tsh_next;
        free(sh);
    }
    pthread_mutex_unlock(&share_lock);
    s->ts_share = NULL;
}

/* The service's connections over every loop. */
static uint32_t share_active(const struct tsrv *s)
{
    return s->ts_share != NULL ? atomic_load(&s->ts_share->tsh_active) : s->ts_stats.ss_active;
}

/* s's connections change by delta (+1, -1): the count, and if it crossed
 * the cap, the other instances look again. */
static void share_count(struct tsrv *s, int delta)
{
    struct tsrv_share *sh = s->ts_share;
    uint32_t before, after;
    unsigned i;

    if (sh == NULL)
        return;
    before = delta > 0 ? atomic_fetch_add(&sh->tsh_active, 1)
                       : atomic_fetch_sub(&sh->tsh_active, 1);
    after = delta > 0 ? before + 1 : before - 1;
    if ((before >= s->ts_max_conns) == (after >= s->ts_max_conns))
        return;
    pthread_mutex_lock(&share_lock);
    for (i = 0; i < sh->tsh_n; i++) {
        struct tsrv *m = sh->tsh_members[i];

        if (m != s && !atomic_exchange(&m->ts_cap_posted, true))
            rn_stack_post(m->ts_stack, &m->ts_cap_work, cap_recheck);
    }
    pthread_mutex_unlock(&share_lock);
}

/* ---- Connections ------------------------------------------------------------ */

/* Makes the listener refuse new SYNs at the cap (the service's, over all
 * its loops) and listen again under it. */
static void cap_check(struct tsrv *s)
{
    bool full = share_active(s) >= s->ts_max_conns;

    if (full == s->ts_refusing || s->ts_stopping || s->ts_draining)
        return;
    if (rn_sock_setopt(s->ts_proc, s->ts_listen, RN_SO_LISTEN_REFUSE, full) == 0)
        s->ts_refusing = full;
}

void rn__tsrv_set_max_conns(struct tsrv *s, unsigned max)
{
    assert(max > 0);
    s->ts_max_conns = max;
    cap_check(s);
}

static void trim_fire(struct rn_timer *t, rn_time_t now)
{
    struct tsrv *s = (struct tsrv *)((char *)t - offsetof(struct tsrv, ts_trim));

    (void)now;
    if (s->ts_stats.ss_active == 0)
        (void)malloc_trim(0);
}

static void conn_link(struct tsrv *s, struct tsrv_conn *c)
{
    c->tc_prev = NULL;
    c->tc_next = s->ts_conns;
    if (c->tc_next != NULL)
        c->tc_next->tc_prev = c;
    s->ts_conns = c;
    s->ts_stats.ss_active++;
    share_count(s, +1);
    if (s->ts_stats.ss_active > s->ts_peak)
        s->ts_peak = s->ts_stats.ss_active;
    cap_check(s);
}

static void conn_free(struct tsrv_conn *c)
{
    struct tsrv *s = c->tc_srv;

    assert(c->tc_inflight == 0);
    if (c->tc_registered && (unsigned)c->tc_handle < s->ts_nbyhandle &&
        s->ts_byhandle[c->tc_handle] == c)
        s->ts_byhandle[c->tc_handle] = NULL;
    if (c->tc_prev != NULL)
        c->tc_prev->tc_next = c->tc_next;
    else
        s->ts_conns = c->tc_next;
    if (c->tc_next != NULL)
        c->tc_next->tc_prev = c->tc_prev;
    s->ts_stats.ss_active--;
    share_count(s, -1);
    cap_check(s);
    if (s->ts_stats.ss_active == 0 && s->ts_peak >= TSRV_TRIM_PEAK && !s->ts_stopping) {
        s->ts_peak = 0;
        (void)rn_timer_arm(rn_stack_timers(s->ts_stack), &s->ts_trim,
                           rn__tsrv_now(s) + TSRV_TRIM_AFTER);
    }
    if (s->ts_ops->tso_free != NULL)
        s->ts_ops->tso_free(c);
    free(c);
}

/* Frees c if it is closing and nothing of it is in flight.  Called only
 * after the service's callbacks returned, so they never see c freed. */
static void conn_settle(struct tsrv_conn *c)
{
    if ((c->tc_closing || c->tc_srv->ts_stopping) && c->tc_inflight == 0)
        conn_free(c);
}

void rn__tsrv_settle(struct tsrv_conn *c)
{
    conn_settle(c);
}

static void conn_done(struct rn_proc *p, const struct rn_sock_completion *cmp)
{
    struct tsrv_conn *c = cmp->sc_user;
    struct tsrv *s = c->tc_srv;

    (void)p;
    assert(c->tc_inflight > 0);
    c->tc_inflight--;
    if (!c->tc_closing && !s->ts_stopping)
        s->ts_ops->tso_done(c, cmp);
    conn_settle(c);
}

int rn__tsrv_submit(struct tsrv_conn *c, struct rn_sock_req *rq)
{
    struct tsrv *s = c->tc_srv;
    int err;

    assert(!c->tc_closing);
    rq->sq_handle = c->tc_handle;
    rq->sq_user = c;
    err = rn_sock_submit(s->ts_proc, rq, conn_done);
    if (err == 0)
        c->tc_inflight++;
    return err;
}

/* ---- Idle connections: the readiness set --------------------------------------- */

/* Records c under its handle, for its events.  0 or RN_ENOMEM. */
static int byhandle_put(struct tsrv *s, struct tsrv_conn *c)
{
    unsigned h = (unsigned)c->tc_handle, n;
    struct tsrv_conn **t;

    if (h >= s->ts_nbyhandle) {
        for (n = s->ts_nbyhandle ? s->ts_nbyhandle : 64; n <= h; n *= 2)
            ;
        t = realloc(s->ts_byhandle, n * sizeof(*t));
        if (t == NULL)
            return RN_ENOMEM;
        memset(t + s->ts_nbyhandle, 0, (n - s->ts_nbyhandle) * sizeof(*t));
        s->ts_byhandle = t;
        s->ts_nbyhandle = n;
    }
    s->ts_byhandle[h] = c;
    return 0;
}

int rn__tsrv_wait_input(struct tsrv_conn *c)
{
    struct tsrv *s = c->tc_srv;
    struct rn_rset_event ev = {
        .re_events = RN_POLLIN | RN_RSET_ONESHOT,
        .re_data.rd_u64 = (uint64_t)c->tc_gen << 32 | (uint32_t)c->tc_handle,
    };
    int err;

    assert(!c->tc_closing && !c->tc_waiting && s->ts_rset > 0);
    if (!c->tc_registered) {
        err = byhandle_put(s, c);
        if (err == 0)
            err = rn_rset_ctl(s->ts_proc, s->ts_rset, RN_RSET_ADD, c->tc_handle, &ev);
        if (err < 0)
            return err;
        c->tc_registered = true;
    } else if ((err = rn_rset_ctl(s->ts_proc, s->ts_rset, RN_RSET_MOD, c->tc_handle, &ev)) < 0) {
        return err;
    }
    c->tc_waiting = true;
    if (!s->ts_rset_out)
        rset_submit(s);
    return 0;
}

bool rn__tsrv_wait_cancel(struct tsrv_conn *c)
{
    bool was = c->tc_waiting;

    c->tc_waiting = false;
    return was;
}

/* The connection an event is about, if it is still the one that waited:
 * a connection closed since may have left its handle to a new one. */
static struct tsrv_conn *event_conn(const struct tsrv *s, const struct rn_rset_event *ev)
{
    uint32_t h = (uint32_t)ev->re_data.rd_u64;
    struct tsrv_conn *c = h < s->ts_nbyhandle ? s->ts_byhandle[h] : NULL;

    if (c == NULL || c->tc_gen != (uint32_t)(ev->re_data.rd_u64 >> 32) || !c->tc_waiting ||
        c->tc_closing)
        return NULL;
    return c;
}

static void rset_done(struct rn_proc *p, const struct rn_sock_completion *cmp)
{
    struct tsrv *s = cmp->sc_user;
    struct tsrv_conn *c;
    ssize_t i;

    (void)p;
    if (s->ts_stopping) {
        s->ts_rset_out = false;
        return;  /* cancelled by the exit */
    }
    /* ts_rset_out stays set while the events are read: a connection that
     * waits again meanwhile does not submit over this buffer. */
    for (i = 0; i < cmp->sc_result; i++) {
        c = event_conn(s, &s->ts_events[i]);
        if (c == NULL)
            continue;
        c->tc_waiting = false;
        s->ts_ops->tso_ready(c, s->ts_events[i].re_events);
        conn_settle(c);
    }
    s->ts_rset_out = false;
    if (cmp->sc_result < 0) {
        (void)rn_timer_arm(rn_stack_timers(s->ts_stack), &s->ts_rset_retry,
                           rn__tsrv_now(s) + TSRV_RETRY);
        return;
    }
    if (!s->ts_stopping)
        rset_submit(s);
}

static void rset_submit(struct tsrv *s)
{
    struct rn_sock_req rq = {
        .sq_op = RN_SOP_RSET_WAIT, .sq_handle = s->ts_rset, .sq_buf = s->ts_events,
        .sq_len = sizeof(s->ts_events), .sq_user = s,
    };

    if (rn_sock_submit(s->ts_proc, &rq, rset_done) == 0) {
        s->ts_rset_out = true;
        return;
    }
    (void)rn_timer_arm(rn_stack_timers(s->ts_stack), &s->ts_rset_retry,
                       rn__tsrv_now(s) + TSRV_RETRY);
}

static void rset_retry(struct rn_timer *t, rn_time_t now)
{
    struct tsrv *s = (struct tsrv *)((char *)t - offsetof(struct tsrv, ts_rset_retry));

    (void)now;
    if (!s->ts_stopping && !s->ts_rset_out)
        rset_submit(s);
}

void rn__tsrv_close(struct tsrv_conn *c, bool abort)
{
    struct tsrv *s = c->tc_srv;
    struct rn_sock_req rq = {.sq_op = RN_SOP_CLOSE};

    if (c->tc_closing || s->ts_stopping)
        return;
    /* A waiting connection's registration goes with its socket. */
    c->tc_waiting = false;
    if (abort) {
        (void)rn_sock_setopt(s->ts_proc, c->tc_handle, RN_SO_LINGER, 0);
        s->ts_stats.ss_aborted++;
    } else {
        s->ts_stats.ss_closed++;
    }
    /* Submitting first: rn__tsrv_submit() wants an open connection.  If no
     * request could be made (no memory), the handle stays open until the
     * stop closes it, and the connection goes once nothing of it is in
     * flight (conn_settle()). */
    (void)rn__tsrv_submit(c, &rq);
    c->tc_closing = true;
}

/* ---- Accepting ----------------------------------------------------------------- */

static void accept_submit(struct tsrv *s);

static void refuse_done(struct rn_proc *p, const struct rn_sock_completion *cmp)
{
    (void)p;
    (void)cmp;  /* the close of a refused connection: nothing to do */
}

static void accept_retry(struct rn_timer *t, rn_time_t now)
{
    struct tsrv *s = (struct tsrv *)((char *)t - offsetof(struct tsrv, ts_retry));

    (void)now;
    if (!s->ts_stopping && !s->ts_draining)
        accept_submit(s);
}

static void accepted(struct tsrv *s, int h)
{
    struct tsrv_conn *c = NULL;
    struct rn_sock_req rq = {.sq_op = RN_SOP_CLOSE, .sq_handle = h, .sq_user = s};

    s->ts_stats.ss_accepted++;
    if (share_active(s) < s->ts_max_conns)
        c = calloc(1, s->ts_ops->tso_conn_size);
    if (c == NULL) {
        /* Over the cap (or out of memory): reset it at once. */
        s->ts_stats.ss_refused++;
        (void)rn_sock_setopt(s->ts_proc, h, RN_SO_LINGER, 0);
        (void)rn_sock_submit(s->ts_proc, &rq, refuse_done);
        return;
    }
    c->tc_srv = s;
    c->tc_handle = h;
    c->tc_gen = ++s->ts_gen;
    conn_link(s, c);
    s->ts_ops->tso_open(c);
    conn_settle(c);
}

static void accept_done(struct rn_proc *p, const struct rn_sock_completion *cmp)
{
    struct tsrv *s = cmp->sc_user;

    (void)p;
    if (s->ts_stopping || s->ts_draining)
        return;  /* a handle accepted meanwhile is closed by the exit */
    if (cmp->sc_result > 0) {
        accepted(s, (int)cmp->sc_result);
        accept_submit(s);
        return;
    }
    s->ts_stats.ss_accept_errors++;
    if (rn_timer_arm(rn_stack_timers(s->ts_stack), &s->ts_retry, rn__tsrv_now(s) + TSRV_RETRY) < 0)
        accept_submit(s);
}

static void accept_submit(struct tsrv *s)
{
    struct rn_sock_req rq = {.sq_op = RN_SOP_ACCEPT, .sq_handle = s->ts_listen, .sq_user = s};

    if (rn_sock_submit(s->ts_proc, &rq, accept_done) < 0) {
        s->ts_stats.ss_accept_errors++;
        (void)rn_timer_arm(rn_stack_timers(s->ts_stack), &s->ts_retry,
                           rn__tsrv_now(s) + TSRV_RETRY);
    }
}

/* ---- Start and stop ---------------------------------------------------------------- */

static void count_addr6(const struct rn_addr6_row *row, void *ctx)
{
    (void)row;
    (*(unsigned *)ctx)++;
}

bool rn__apps_stack_has_ipv6(struct rn_stack *st)
{
    unsigned n = 0;

    rn_stack_addrs6(st, count_addr6, &n);
    return n > 0;
}

int rn__tsrv_start(struct tsrv *s, struct rn_stack *st, const struct tsrv_ops *ops,
               const struct tsrv_params *params)
{
    struct rn_sockaddr_in local = {.sin_addr = params->tsp_addr, .sin_port = params->tsp_port};
    int err, type = RN_SOCK_STREAM;

    assert(ops->tso_conn_size >= sizeof(struct tsrv_conn));
    assert(params->tsp_port != 0 && params->tsp_max_conns > 0);
    s->ts_ops = ops;
    s->ts_stack = st;
    s->ts_max_conns = params->tsp_max_conns;
    atomic_init(&s->ts_cap_posted, false);
    if (share_join(s, params->tsp_name, params->tsp_port) != 0)
        return RN_ENOMEM;
    rn_timer_init(&s->ts_retry, accept_retry);
    rn_timer_init(&s->ts_trim, trim_fire);
    rn_timer_init(&s->ts_rset_retry, rset_retry);
    s->ts_hosted = params->tsp_proc != NULL;
    if (s->ts_hosted)
        s->ts_proc = params->tsp_proc;
    else if ((err = rn_proc_create(st, params->tsp_name, &s->ts_proc)) < 0) {
        share_leave(s);
        return err;
    }
    /* On every address of a stack that speaks IPv6: one dual-stack
     * listener on ::, which takes IPv4 clients as mapped addresses. */
    if (params->tsp_addr == 0 && rn__apps_stack_has_ipv6(st)) {
        type |= RN_SOCK_INET6;
        local.sin_family = RN_AF_INET6;
        local.sin6_addr = RN_IP6_ANY;
    }
    err = rn_sock_open(s->ts_proc, type, 0);
    if (err < 0)
        goto out_exit;
    s->ts_listen = err;
    /* As servers do: a restart may listen again while the connections of
     * the last run wait in TIME_WAIT on the port. */
    err = rn_sock_setopt(s->ts_proc, s->ts_listen, RN_SO_REUSEADDR, 1);
    if (err == 0)
        err = rn_sock_bind(s->ts_proc, s->ts_listen, &local);
    if (err < 0)
        goto out_exit;
    err = rn_sock_listen(s->ts_proc, s->ts_listen, (int)params->tsp_backlog);
    if (err < 0)
        goto out_exit;
    /* The set its idle connections will wait in, and its wait. */
    if (ops->tso_ready != NULL) {
        err = rn_rset_create(s->ts_proc, 0);
        if (err < 0)
            goto out_exit;
        s->ts_rset = err;
    }
    /* The service's own hold on its process, beside the creator's that
     * rn_proc_exit() consumes.  A hosted one is the host's to hold. */
    if (!s->ts_hosted)
        rn_ob_ref(s->ts_proc, RN_TAG_SERVICE);
    accept_submit(s);
    if (s->ts_rset > 0)
        rset_submit(s);
    return 0;

out_exit:
    /* Nothing was submitted: the process exits on its own, closing the
     * socket, and nobody needs to hear about it.  A hosted socket stays
     * open in the host's process, which the host exits. */
    if (!s->ts_hosted)
        rn_proc_exit(s->ts_proc);
    s->ts_proc = NULL;
    share_leave(s);
    return err;
}

void rn__tsrv_drain(struct tsrv *s)
{
    struct rn_sock_req rq = {.sq_op = RN_SOP_CLOSE, .sq_handle = s->ts_listen, .sq_user = s};
    struct tsrv_conn *c, *next;

    if (s->ts_draining || s->ts_stopping)
        return;
    s->ts_draining = true;
    rn_timer_cancel(rn_stack_timers(s->ts_stack), &s->ts_retry);
    /* The listener's close cancels its pending accept (accept_done()
     * ignores it) and refuses what arrives from now on.  Without memory
     * for the request, the stop closes it. */
    (void)rn_sock_submit(s->ts_proc, &rq, refuse_done);
    for (c = s->ts_conns; c != NULL; c = next) {
        next = c->tc_next;
        if (c->tc_closing || s->ts_ops->tso_drain == NULL)
            continue;
        s->ts_ops->tso_drain(c);
        conn_settle(c);
    }
}

void rn__tsrv_drain_status(const struct tsrv *s, uint32_t *conns, uint64_t *left,
                           uint64_t *sent)
{
    const struct tsrv_conn *c;

    *conns = 0;
    *left = 0;
    for (c = s->ts_conns; c != NULL; c = c->tc_next) {
        (*conns)++;
        if (!c->tc_closing && s->ts_ops->tso_left != NULL)
            *left += s->ts_ops->tso_left(c);
    }
    *sent = s->ts_stats.ss_bytes_out;
}

/* The process was released: every request was delivered, so whatever is
 * left has nothing in flight. */
static void stop_finish(struct tsrv *s)
{
    while (s->ts_conns != NULL)
        conn_free(s->ts_conns);
    free(s->ts_byhandle);
    s->ts_byhandle = NULL;
    s->ts_nbyhandle = 0;
    if (s->ts_done != NULL)
        s->ts_done(s->ts_done_ctx);
    s->ts_ops->tso_stopped(s);
}

static void stop_done(struct rn_stack *st, struct rn_work *w)
{
    struct tsrv *s = (struct tsrv *)((char *)w - offsetof(struct tsrv, ts_work));

    (void)st;
    stop_finish(s);
}

void rn__tsrv_released(struct tsrv *s)
{
    assert(s->ts_hosted && s->ts_stopping);
    stop_finish(s);
}

/* The process was released (on whichever thread let go last). */
static void stop_fired(struct rn_ob_wait *w, void *ctx)
{
    struct tsrv *s = ctx;

    (void)w;
    rn_stack_post(s->ts_stack, &s->ts_work, stop_done);
}

void rn__tsrv_stop(struct tsrv *s, void (*done)(void *ctx), void *ctx)
{
    struct rn_proc *p = s->ts_proc;
    struct tsrv_conn *c;
    int err;

    assert(!s->ts_stopping);
    s->ts_stopping = true;
    share_leave(s);
    s->ts_done = done;
    s->ts_done_ctx = ctx;
    rn_timer_cancel(rn_stack_timers(s->ts_stack), &s->ts_retry);
    rn_timer_cancel(rn_stack_timers(s->ts_stack), &s->ts_trim);
    rn_timer_cancel(rn_stack_timers(s->ts_stack), &s->ts_rset_retry);
    /* Open connections are reset rather than closed gracefully, so the
     * stop never waits on a peer. */
    for (c = s->ts_conns; c != NULL; c = c->tc_next) {
        if (!c->tc_closing) {
            (void)rn_sock_setopt(p, c->tc_handle, RN_SO_LINGER, 0);
            s->ts_stats.ss_aborted++;
        }
    }
    if (s->ts_hosted)
        return;  /* the host exits its process, then rn__tsrv_released() */
    err = rn_ob_wait_release(p, &s->ts_wait, NULL, "stop", stop_fired, s);
    assert(err == 0);
    (void)err;
    rn_proc_exit(p);
    s->ts_proc = NULL;
    rn_ob_deref(p, RN_TAG_SERVICE);
}
