/*
 * Requests and their completions: submission, start on the loop thread,
 * timeouts, poll requests, and the three ways a completion is delivered
 * (socket.h, "Requests").
 *
 * A request's life, in call order:
 *   rn_sock_submit() [L] -> req_start()                    (callback)
 *   rn_sock_submit_cq() [any] -> posted -> req_start()     (completion queue)
 *   blocking call [B] -> rn__sock_req_wait() -> posted -> req_start()
 *   req_start(): immediate operations complete at once; the others queue
 *     on their socket and rn__sock_kick() pulls from the transport
 *   ... rn__sock_req_complete(): off the socket, "request" dropped, then
 *     callback: posted -> req_deliver() kills the request, or keeps it as
 *               a spare of its process (req_keep_spare()), then runs the
 *               callback
 *     queue:    pushed on the rn_cq, eventfd written; rn_cq_reap() kills it
 *     waiter:   the blocked thread is woken; it kills the request
 *
 * The process's next callback request takes a spare instead of a new
 * object (req_reuse()): the keep-alive path of a server makes no object
 * and allocates nothing per request.  The spares are the process's, not a
 * socket's, so that a connection gone idle keeps no request record (a
 * million idle connections, not a million idle records); a process keeps
 * at most REQ_SPARES_MAX.  A spare is held by "request.spare" rather than
 * "create" and describes itself as idle; the process's exit kills them.
 *
 * A request holds "request" on its process from submission and on its
 * socket from start, so neither can be released under it; both holds end
 * at completion (the process's at delivery, for callbacks, since the
 * callback is handed the process).  The object itself lives on until its
 * completion has been delivered or reaped, so a queue nobody reaps shows
 * in `refnet objects` as completed requests.
 */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "refnet/error.h"
#include "socket/sock_priv.h"

/* The most entries one poll request may watch. */
#define REQ_POLL_MAX 1024
/* Idle request records a process keeps for reuse: a callback's next
 * request takes one, so a few cover the requests delivered at once. */
#define REQ_SPARES_MAX 32u

static const char *const op_names[SOP_COUNT_] = {
    [RN_SOP_SEND] = "send",       [RN_SOP_RECV] = "recv",     [RN_SOP_CONNECT] = "connect",
    [RN_SOP_ACCEPT] = "accept",   [RN_SOP_CLOSE] = "close",   [RN_SOP_POLL] = "poll",
    [RN_SOP_RSET_WAIT] = "wait",
    [SOP_OPEN] = "open",          [SOP_BIND] = "bind",        [SOP_LISTEN] = "listen",
    [SOP_SHUTDOWN] = "shutdown",  [SOP_SETOPT] = "setsockopt", [SOP_GETOPT] = "getsockopt",
    [SOP_GETNAME] = "getname",    [SOP_FCNTL] = "fcntl",      [SOP_IOCTL] = "ioctl",
    [SOP_TCPINFO] = "tcp_info",   [SOP_SETOPT_STR] = "setsockopt",
    [SOP_GETOPT_STR] = "getsockopt",
};

static const char *const req_state_names[] = {
    [REQ_NEW] = "submitted",
    [REQ_PENDING] = "pending",
    [REQ_DONE] = "completed",
    [REQ_SPARE] = "idle",
};

static void req_describe(const void *ob, char *buf, size_t len)
{
    const struct sock_req *rq = ob;
    unsigned state = atomic_load_explicit(&rq->rq_state, memory_order_relaxed);
    const char *op = rq->rq_op > 0 && rq->rq_op < SOP_COUNT_ ? op_names[rq->rq_op] : "?";
    const char *sn = state < 4 ? req_state_names[state] : "?";

    if (state == REQ_SPARE)
        snprintf(buf, len, "request idle, kept for reuse by process %d", rq->rq_arg);
    else if (rq->rq_op == RN_SOP_POLL)
        snprintf(buf, len, "request poll %u handles %s", rq->rq_nfds, sn);
    else if (rq->rq_op == RN_SOP_RSET_WAIT)
        snprintf(buf, len, "request wait readiness set #%d %s", rq->rq_handle, sn);
    else if (rq->rq_op == SOP_OPEN)
        snprintf(buf, len, "request open %s", sn);
    else
        snprintf(buf, len, "request %s socket #%d %s", op, rq->rq_handle, sn);
}

static void req_release(void *ob)
{
    struct sock_req *rq = ob;

    free(rq->rq_links);
}

static const struct rn_ob_type_ops req_ops = {
    .name = "request",
    .size = sizeof(struct sock_req),
    .release = req_release,
    .describe = req_describe,
    /* Its creator's (or "request.spare"), and a passing holder or two
     * (the loop, an enumeration, a snapshot). */
    .holders = 3,
};

/* Who holds a request (object.h, "Holder contracts"): its own creator
 * until it completes, and the loop's universal one-call holds.  An idle
 * record a socket keeps for its next request is held by "request.spare"
 * instead of "create", so a pending request and a spare one never look
 * alike in the ledger. */
static const struct rn_ob_holder req_holders[] = {
    {"create", 0, 0, 0, "expected: pending until it completes"},
    {"request.spare", 0, 0, 0, "expected: idle, kept by its socket for the next request"},
};
static const struct rn_ob_contract req_contract = {req_holders, 2, NULL, 0, 0};

void rn__sock_req_types_init(void)
{
    rn__sock_types.st_tag_spare = rn_tag_intern("request.spare");
    rn__sock_types.st_req = rn_ob_type_register(&req_ops);
    if (rn__sock_types.st_req != NULL)
        (void)rn_ob_type_set_contract(rn__sock_types.st_req, &req_contract);
}

/* ---- Queues and timeouts ------------------------------------------------------- */

static void req_timeout(struct rn_timer *t, rn_time_t now)
{
    struct sock_req *rq = (struct sock_req *)((char *)t - offsetof(struct sock_req, rq_timer));
    unsigned i;

    (void)now;
    if (rq->rq_op == RN_SOP_POLL) {
        for (i = 0; i < rq->rq_nfds; i++)
            rq->rq_fds[i].pf_revents = 0;
        rn__sock_req_complete(rq, 0);
        return;
    }
    /* A blocking stream send or waiting receive reports what it moved
     * before the time ran out, as send(2) and recv(2) do under SO_SNDTIMEO
     * and SO_RCVTIMEO.  A request's own sq_timeout gives up: RN_EAGAIN
     * (socket.h), and a stream whose send gave up is for its user to
     * abort. */
    if (rq->rq_target == REQ_WAITER && rq->rq_done > 0)
        rn__sock_req_complete(rq, (ssize_t)rq->rq_done);
    else if (rq->rq_target == REQ_WAITER && rq->rq_op == RN_SOP_CONNECT)
        rn__sock_req_complete(rq, RN_EINPROGRESS);  /* as Linux: it goes on */
    else
        rn__sock_req_complete(rq, RN_EAGAIN);
}

static void req_arm(struct sock_req *rq)
{
    if (rq->rq_timeout > 0)
        rn_timer_arm(rn_stack_timers(rq->rq_stack), &rq->rq_timer,
                     rn_stack_now(rq->rq_stack) + rq->rq_timeout);
}

void rn__sock_req_queue(struct req_queue *q, struct sock_req *rq)
{
    assert(rq->rq_queue == NULL);
    rq->rq_next = NULL;
    rq->rq_prev = q->rqq_tail;
    if (q->rqq_tail != NULL)
        q->rqq_tail->rq_next = rq;
    else
        q->rqq_head = rq;
    q->rqq_tail = rq;
    rq->rq_queue = q;
    req_arm(rq);
}

static void req_unqueue(struct sock_req *rq)
{
    struct req_queue *q = rq->rq_queue;

    if (rq->rq_prev != NULL)
        rq->rq_prev->rq_next = rq->rq_next;
    else
        q->rqq_head = rq->rq_next;
    if (rq->rq_next != NULL)
        rq->rq_next->rq_prev = rq->rq_prev;
    else
        q->rqq_tail = rq->rq_prev;
    rq->rq_next = rq->rq_prev = NULL;
    rq->rq_queue = NULL;
}

void rn__sock_req_flush(struct req_queue *q, ssize_t result)
{
    while (q->rqq_head != NULL)
        rn__sock_req_complete(q->rqq_head, result);
}

/* ---- Poll requests --------------------------------------------------------------- */

/* The readiness of entry i of a poll request. */
static unsigned poll_entry(struct sock_req *rq, unsigned i, struct sock *so)
{
    struct rn_pollfd *pf = &rq->rq_fds[i];
    unsigned m = so != NULL ? rn__sock_ready(so) : RN_POLLNVAL;

    return m & (pf->pf_events | RN_POLLERR | RN_POLLHUP | RN_POLLNVAL);
}

/* Fills every pf_revents and returns how many entries are ready.  Before
 * the request is linked it looks handles up; after, it reads its links. */
static unsigned poll_eval(struct sock_req *rq, bool linked)
{
    unsigned i, n = 0;

    for (i = 0; i < rq->rq_nfds; i++) {
        struct sock *so = linked ? rq->rq_links[i].pl_so
                                 : rn__sock_handle(rq->rq_proc, rq->rq_fds[i].pf_handle);

        rq->rq_fds[i].pf_revents = poll_entry(rq, i, so);
        n += rq->rq_fds[i].pf_revents != 0;
    }
    return n;
}

static void poll_link(struct poll_link *pl, struct sock *so)
{
    rn_ob_ref(so, RN_TAG_REQUEST);
    pl->pl_so = so;
    pl->pl_prev = NULL;
    pl->pl_next = so->so_pollers;
    if (pl->pl_next != NULL)
        pl->pl_next->pl_prev = pl;
    so->so_pollers = pl;
    pl->pl_linked = true;
}

static void poll_unlink(struct poll_link *pl)
{
    struct sock *so = pl->pl_so;

    if (!pl->pl_linked)
        return;
    if (pl->pl_prev != NULL)
        pl->pl_prev->pl_next = pl->pl_next;
    else
        so->so_pollers = pl->pl_next;
    if (pl->pl_next != NULL)
        pl->pl_next->pl_prev = pl->pl_prev;
    pl->pl_next = pl->pl_prev = NULL;
    pl->pl_linked = false;
    pl->pl_so = NULL;
    rn_ob_deref(so, RN_TAG_REQUEST);
}

static void poll_start(struct sock_req *rq)
{
    unsigned i, n = poll_eval(rq, false);

    if (n > 0 || rq->rq_poll_now) {
        rn__sock_req_complete(rq, n);
        return;
    }
    for (i = 0; i < rq->rq_nfds; i++) {
        struct sock *so = rn__sock_handle(rq->rq_proc, rq->rq_fds[i].pf_handle);

        rq->rq_links[i].pl_req = rq;
        if (so != NULL)
            poll_link(&rq->rq_links[i], so);
    }
    req_arm(rq);
}

bool rn__sock_poll_check(struct sock_req *rq)
{
    unsigned n = poll_eval(rq, true);

    if (n == 0)
        return false;
    rn__sock_req_complete(rq, n);
    return true;
}

/* ---- Completion ---------------------------------------------------------------------- */

/* Makes delivered request rq a spare record of process p, if p is
 * running and keeps fewer than REQ_SPARES_MAX.  Returns false if rq is to
 * be killed instead.  Only callback requests are kept: they are made and
 * finished on the loop thread, and have no per-kind memory.  The spare
 * names its process by number (rq_arg) for describe, which may run on any
 * thread. [L] */
static bool req_keep_spare(struct sock_req *rq, struct rn_proc *p)
{
    if (rq->rq_op == RN_SOP_POLL || rq->rq_op == RN_SOP_RSET_WAIT || rq->rq_op == SOP_OPEN ||
        rq->rq_links != NULL || rn__sock_types.st_tag_spare == RN_TAG_NONE)
        return false;
    if (atomic_load_explicit(&p->p_state, memory_order_relaxed) != PROC_RUNNING ||
        p->p_nspares >= REQ_SPARES_MAX)
        return false;
    if (rn_ob_transfer(rq, RN_TAG_CREATE, rn__sock_types.st_tag_spare) != 0)
        return false;
    rq->rq_arg = (int)atomic_load_explicit(&p->p_pid, memory_order_relaxed);
    atomic_store_explicit(&rq->rq_state, REQ_SPARE, memory_order_relaxed);
    rq->rq_next = p->p_spares;
    p->p_spares = rq;
    p->p_nspares++;
    return true;
}

void rn__sock_spares_drop(struct rn_proc *p)
{
    struct sock_req *rq;

    while ((rq = p->p_spares) != NULL) {
        p->p_spares = rq->rq_next;
        p->p_nspares--;
        (void)rn_ob_transfer(rq, rn__sock_types.st_tag_spare, RN_TAG_CREATE);
        rn_ob_kill(rq);
    }
}

static void req_deliver(struct rn_stack *st, struct rn_work *w)
{
    struct sock_req *rq = (struct sock_req *)((char *)w - offsetof(struct sock_req, rq_work));
    struct rn_proc *p = rq->rq_proc;
    struct rn_sock_completion comp = rq->rq_comp;
    rn_sock_done_fn fn = rq->rq_fn;

    rn__sock_mark_loop(p->p_sl);
    (void)st;
    /* The record is done with before the callback runs, so that the next
     * request the callback submits on the socket reuses it: a keep-alive
     * exchange then makes no object and allocates nothing.  The process
     * stays held ("request") until the callback has returned. */
    rq->rq_proc = NULL;
    if (!req_keep_spare(rq, p))
        rn_ob_kill(rq);
    fn(p, &comp);
    rn_ob_deref(p, RN_TAG_REQUEST);
}

static void cq_push(struct rn_cq *cq, struct sock_req *rq)
{
    uint64_t one = 1;
    ssize_t n;

    /* Everything under the lock: once the entry is visible and the lock
     * dropped, the queue may be reaped and destroyed. */
    pthread_mutex_lock(&cq->cq_lock);
    rq->rq_cqnext = NULL;
    if (cq->cq_tail != NULL)
        cq->cq_tail->rq_cqnext = rq;
    else
        cq->cq_head = rq;
    cq->cq_tail = rq;
    atomic_fetch_sub_explicit(&cq->cq_inflight, 1, memory_order_relaxed);
    n = write(cq->cq_efd, &one, sizeof(one));
    (void)n;  /* the counter cannot overflow at one per completion */
    pthread_mutex_unlock(&cq->cq_lock);
}

void rn__sock_req_complete(struct sock_req *rq, ssize_t result)
{
    struct rn_proc *p = rq->rq_proc;
    unsigned i;

    assert(atomic_load_explicit(&rq->rq_state, memory_order_relaxed) != REQ_DONE);
    rn_timer_cancel(rn_stack_timers(rq->rq_stack), &rq->rq_timer);
    if (rq->rq_queue != NULL)
        req_unqueue(rq);
    if (rq->rq_op == RN_SOP_POLL && rq->rq_links != NULL) {
        for (i = 0; i < rq->rq_nfds; i++)
            poll_unlink(&rq->rq_links[i]);
    }
    rq->rq_comp.sc_result = result;
    if (rq->rq_so != NULL) {
        struct sock *so = rq->rq_so;

        rq->rq_so = NULL;
        rn_ob_deref(so, RN_TAG_REQUEST);
    }
    atomic_store_explicit(&rq->rq_state, REQ_DONE, memory_order_relaxed);
    switch (rq->rq_target) {
    case REQ_CALLBACK:
        rn_stack_post(rq->rq_stack, &rq->rq_work, req_deliver);
        break;
    case REQ_CQ:
        rq->rq_proc = NULL;
        rn_ob_deref(p, RN_TAG_REQUEST);
        cq_push(rq->rq_cq, rq);  /* rq may be gone after this */
        break;
    case REQ_WAITER: {
        struct req_waiter *w = rq->rq_waiter;

        rq->rq_proc = NULL;
        rn_ob_deref(p, RN_TAG_REQUEST);
        /* The woken thread kills rq and leaves rn__sock_req_wait(), which
         * ends w, once it has the lock: nothing here touches either after
         * the unlock. */
        pthread_mutex_lock(&w->rw_lock);
        w->rw_signalled = true;
        pthread_cond_signal(&w->rw_cond);
        pthread_mutex_unlock(&w->rw_lock);
        break;
    }
    }
}

/* ---- Start ---------------------------------------------------------------------------- */

/* Queues a pending operation, pulls, and honours RN_MSG_DONTWAIT: what
 * cannot complete now answers RN_EAGAIN, or for a stream send the bytes
 * taken so far, as a non-blocking send(2) does. */
static void req_pend(struct sock_req *rq, struct req_queue *q)
{
    rn__sock_req_queue(q, rq);
    rn__sock_kick(rq->rq_so);
    if (rq->rq_queue != NULL && (rq->rq_flags & RN_MSG_DONTWAIT))
        rn__sock_req_complete(rq, rq->rq_done > 0 ? (ssize_t)rq->rq_done : RN_EAGAIN);
}

static void req_start_connect(struct sock_req *rq, struct sock *so)
{
    int err;

    if (so->so_connq.rqq_head != NULL) {
        rn__sock_req_complete(rq, RN_EALREADY);
        return;
    }
    err = rn__sock_addr_in(so, &rq->rq_to, &rq->rq_to);
    if (err == 0)
        err = so->so_ops->to_connect(so->so_t, &rq->rq_to);
    rn__sock_names(so);
    if (err != RN_EINPROGRESS) {
        rn__sock_req_complete(rq, err);
        return;
    }
    if (rq->rq_flags & RN_MSG_DONTWAIT) {
        rn__sock_req_complete(rq, RN_EINPROGRESS);
        return;
    }
    rn__sock_req_queue(&so->so_connq, rq);
    rn__sock_kick(so);
}

/* Runs an operation that has a socket. */
static void req_start_on(struct sock_req *rq, struct sock *so)
{
    const struct rn_transport_ops *ops = so->so_ops;
    struct hslot *hs;
    int err;

    rn_ob_ref(so, RN_TAG_REQUEST);
    rq->rq_so = so;
    /* A non-blocking handle waits for nothing (socket.h); the flag is the
     * handle's, not the socket's, when several share it. */
    hs = rn__sock_open_slot(rq->rq_proc, rq->rq_handle);
    if (rn__sock_slot_nonblock(hs != NULL ? hs : so->so_slot))
        rq->rq_flags |= RN_MSG_DONTWAIT;
    /* Blocking calls honour the socket's timeouts. */
    if (rq->rq_target == REQ_WAITER && rq->rq_timeout == 0) {
        if (rq->rq_op == RN_SOP_RECV || rq->rq_op == RN_SOP_ACCEPT)
            rq->rq_timeout = so->so_rcvtimeo;
        else if (rq->rq_op == RN_SOP_SEND || rq->rq_op == RN_SOP_CONNECT)
            rq->rq_timeout = so->so_sndtimeo;
    }
    switch (rq->rq_op) {
    case RN_SOP_SEND:
        if (rq->rq_has_to && (err = rn__sock_addr_in(so, &rq->rq_to, &rq->rq_to)) < 0) {
            rn__sock_req_complete(rq, err);
            break;
        }
        req_pend(rq, &so->so_sendq);
        break;
    case RN_SOP_RECV:
        req_pend(rq, &so->so_recvq);
        break;
    case RN_SOP_ACCEPT: {
        int64_t listening = 0;

        if (ops->to_type != RN_SOCK_STREAM)
            rn__sock_req_complete(rq, RN_EOPNOTSUPP);
        else if (ops->to_getopt(so->so_t, RN_SO_ACCEPTCONN, &listening) == 0 && !listening)
            rn__sock_req_complete(rq, RN_EINVAL);  /* not listening, as Linux answers */
        else
            req_pend(rq, &so->so_acceptq);
        break;
    }
    case RN_SOP_CONNECT:
        req_start_connect(rq, so);
        break;
    case RN_SOP_CLOSE:
        /* Without memory for its record the handle stays open, and the
         * caller may close it again. */
        err = rn__sock_close_slot(hs != NULL ? hs : so->so_slot, rq);
        if (err < 0)
            rn__sock_req_complete(rq, err);
        break;
    case SOP_BIND:
        rn__sock_req_complete(rq, rn__sock_bind(so, &rq->rq_to));
        break;
    case SOP_LISTEN:
        err = ops->to_listen(so->so_t, rq->rq_arg);
        rn__sock_names(so);
        rn__sock_req_complete(rq, err);
        break;
    case SOP_SHUTDOWN:
        err = ops->to_shutdown(so->so_t, rq->rq_arg);
        rn__sock_kick(so);
        if (so->so_ritems != NULL)
            rn__rset_sock_event(so, 0);
        rn__sock_req_complete(rq, err);
        break;
    case SOP_SETOPT:
        err = rn__sock_setopt(so, (enum rn_sockopt)rq->rq_arg, rq->rq_val);
        if (err == 0 && so->so_ritems != NULL)
            rn__rset_sock_event(so, 0);
        rn__sock_req_complete(rq, err);
        break;
    case SOP_GETOPT:
        rn__sock_req_complete(rq, rn__sock_getopt(so, (enum rn_sockopt)rq->rq_arg, &rq->rq_val));
        break;
    case SOP_GETNAME:
        ops->to_getname(so->so_t, &rq->rq_local, &rq->rq_remote);
        rn__sock_addr_out(so, &rq->rq_local);
        rn__sock_addr_out(so, &rq->rq_remote);
        rn__sock_req_complete(rq, 0);
        break;
    case SOP_IOCTL: {
        int v = 0;

        err = rn__sock_ioctl(so, (unsigned long)rq->rq_val, &v);
        rq->rq_val = v;
        rn__sock_req_complete(rq, err);
        break;
    }
    case SOP_TCPINFO:
        rn__sock_req_complete(rq, rn__sock_tcp_info(so, rq->rq_buf));
        break;
    case SOP_SETOPT_STR:
        rn__sock_req_complete(rq, rn__sock_setopt_str(so, (enum rn_sockopt)rq->rq_arg,
                                                      rq->rq_buf));
        break;
    case SOP_GETOPT_STR:
        rn__sock_req_complete(rq, rn__sock_getopt_str(so, (enum rn_sockopt)rq->rq_arg,
                                                      rq->rq_buf, rq->rq_len));
        break;
    default:
        assert(!"unknown socket operation");
    }
}

void rn__sock_req_start(struct sock_req *rq)
{
    struct rn_proc *p = rq->rq_proc;
    bool running;
    struct sock *so;

    rn__sock_mark_loop(p->p_sl);
    /* Completion may hand rq to another thread that frees it: hold it
     * until this function is done with it. */
    rn_ob_ref(rq, RN_TAG_LOOP);
    atomic_store_explicit(&rq->rq_state, REQ_PENDING, memory_order_relaxed);
    running = atomic_load_explicit(&p->p_state, memory_order_relaxed) == PROC_RUNNING;
    if (rq->rq_op == SOP_OPEN) {
        rn__sock_req_complete(rq, running ? rn__sock_open(p, rq->rq_arg, (int)rq->rq_val)
                                       : RN_ESHUTDOWN);
    } else if (rq->rq_op == RN_SOP_POLL) {
        poll_start(rq);
    } else if (rq->rq_op == RN_SOP_RSET_WAIT) {
        rn__rset_req_start(rq);
    } else if (rq->rq_op == SOP_FCNTL) {
        /* Flags belong to the handle, a socket's or a readiness set's. */
        rn__sock_req_complete(rq, running ? rn__sock_fcntl(p, rq->rq_handle, rq->rq_arg,
                                                           (int)rq->rq_val)
                                          : RN_EBADF);
    } else {
        so = running ? rn__sock_handle(p, rq->rq_handle) : NULL;
        if (so != NULL)
            req_start_on(rq, so);
        else if (!running || rq->rq_op != RN_SOP_CLOSE ||
                 !rn__rset_close_handle(p, rq->rq_handle, rq))
            rn__sock_req_complete(rq, RN_EBADF);
    }
    rn_ob_deref(rq, RN_TAG_LOOP);
}

static void req_start_work(struct rn_stack *st, struct rn_work *w)
{
    (void)st;
    rn__sock_req_start((struct sock_req *)((char *)w - offsetof(struct sock_req, rq_work)));
}

/* ---- Submission ------------------------------------------------------------------------- */

struct sock_req *rn__sock_req_new(struct rn_proc *p, int op, int handle, enum req_target target)
{
    struct sock_req *rq = rn_ob_create(rn__sock_types.st_req, RN_TAG_CREATE);

    if (rq == NULL)
        return NULL;
    rq->rq_stack = p->p_stack;
    rq->rq_op = op;
    rq->rq_handle = handle;
    rq->rq_target = target;
    rq->rq_comp.sc_op = op < RN_SOP_COUNT_ ? (enum rn_sock_op)op : 0;
    rq->rq_comp.sc_handle = handle;
    rn_timer_init(&rq->rq_timer, req_timeout);
    rn_ob_ref(p, RN_TAG_REQUEST);
    rq->rq_proc = p;
    rn_ob_publish(rq);
    return rq;
}

/* Takes a spare record of process p for a callback request op on handle,
 * or returns NULL.  The record's "request.spare" hold becomes its
 * creator's again, so the ledger dates the request from now.  [L] */
static struct sock_req *req_reuse(struct rn_proc *p, int op, int handle)
{
    struct sock_req *rq = p->p_spares;

    if (op == RN_SOP_POLL || op == RN_SOP_RSET_WAIT || rq == NULL)
        return NULL;
    p->p_spares = rq->rq_next;
    p->p_nspares--;
    if (rn_ob_transfer(rq, rn__sock_types.st_tag_spare, RN_TAG_CREATE) != 0)
        return NULL;  /* cannot happen: the process holds it */
    memset(rq, 0, sizeof(*rq));
    rq->rq_stack = p->p_stack;
    rq->rq_op = op;
    rq->rq_handle = handle;
    rq->rq_target = REQ_CALLBACK;
    rq->rq_comp.sc_op = (enum rn_sock_op)op;
    rq->rq_comp.sc_handle = handle;
    rn_timer_init(&rq->rq_timer, req_timeout);
    rn_ob_ref(p, RN_TAG_REQUEST);
    rq->rq_proc = p;
    atomic_store_explicit(&rq->rq_state, REQ_NEW, memory_order_relaxed);
    return rq;
}

/* Validates a submitted request and makes its object.  Returns 0 and *out,
 * or RN_EINVAL / RN_ENOMEM. */
static int req_from_desc(struct rn_proc *p, const struct rn_sock_req *d, enum req_target target,
                         struct sock_req **out)
{
    struct sock_req *rq;

    if (d == NULL || d->sq_op < RN_SOP_SEND || d->sq_op >= RN_SOP_COUNT_)
        return RN_EINVAL;
    if ((d->sq_op == RN_SOP_SEND || d->sq_op == RN_SOP_RECV) && d->sq_buf == NULL &&
        d->sq_len > 0)
        return RN_EINVAL;
    if (d->sq_op == RN_SOP_CONNECT && d->sq_to == NULL)
        return RN_EINVAL;
    if (d->sq_op == RN_SOP_POLL &&
        (d->sq_nfds == 0 || d->sq_nfds > REQ_POLL_MAX || d->sq_fds == NULL))
        return RN_EINVAL;
    if (d->sq_op == RN_SOP_RSET_WAIT && !rn__rset_req_valid(d))
        return RN_EINVAL;
    rq = target == REQ_CALLBACK ? req_reuse(p, d->sq_op, d->sq_handle) : NULL;
    if (rq == NULL)
        rq = rn__sock_req_new(p, d->sq_op, d->sq_op == RN_SOP_POLL ? 0 : d->sq_handle, target);
    if (rq == NULL)
        return RN_ENOMEM;
    if (d->sq_op == RN_SOP_POLL) {
        rq->rq_links = calloc(d->sq_nfds, sizeof(*rq->rq_links));
        if (rq->rq_links == NULL) {
            rq->rq_proc = NULL;
            rn_ob_deref(p, RN_TAG_REQUEST);
            rn_ob_kill(rq);
            return RN_ENOMEM;
        }
    }
    rq->rq_buf = d->sq_buf;
    rq->rq_len = d->sq_len;
    if (d->sq_to != NULL) {
        rq->rq_to = *d->sq_to;
        rq->rq_has_to = true;
    }
    rq->rq_flags = d->sq_flags;
    rq->rq_timeout = d->sq_timeout;
    rq->rq_fds = d->sq_fds;
    rq->rq_nfds = d->sq_nfds;
    rq->rq_poll_now = d->sq_poll_now;
    rq->rq_comp.sc_user = d->sq_user;
    *out = rq;
    return 0;
}

int rn_sock_submit(struct rn_proc *p, const struct rn_sock_req *d, rn_sock_done_fn fn)
{
    struct sock_req *rq;
    int err;

    assert(fn != NULL);
    rn__sock_mark_loop(p->p_sl);
    err = req_from_desc(p, d, REQ_CALLBACK, &rq);
    if (err < 0)
        return err;
    rq->rq_fn = fn;
    rn__sock_req_start(rq);
    return 0;
}

int rn_sock_submit_cq(struct rn_proc *p, const struct rn_sock_req *d, struct rn_cq *cq)
{
    struct sock_req *rq;
    int err;

    assert(cq != NULL);
    err = req_from_desc(p, d, REQ_CQ, &rq);
    if (err < 0)
        return err;
    rq->rq_cq = cq;
    atomic_fetch_add_explicit(&cq->cq_inflight, 1, memory_order_relaxed);
    rn_stack_post(p->p_stack, &rq->rq_work, req_start_work);
    return 0;
}

void rn__sock_req_wait(struct sock_req *rq)
{
    assert(rq->rq_target == REQ_WAITER);
    assert(!rn__sock_on_loop(rq->rq_proc->p_sl) &&
           "the blocking socket API was called on the loop thread");
    struct req_waiter w = {.rw_signalled = false};

    pthread_mutex_init(&w.rw_lock, NULL);
    pthread_cond_init(&w.rw_cond, NULL);
    rq->rq_waiter = &w;
    rn_stack_post(rq->rq_stack, &rq->rq_work, req_start_work);
    pthread_mutex_lock(&w.rw_lock);
    while (!w.rw_signalled)
        pthread_cond_wait(&w.rw_cond, &w.rw_lock);
    pthread_mutex_unlock(&w.rw_lock);
    pthread_cond_destroy(&w.rw_cond);
    pthread_mutex_destroy(&w.rw_lock);
}

/* ---- Completion queues --------------------------------------------------------------------- */

int rn_cq_create(struct rn_cq **out)
{
    struct rn_cq *cq = calloc(1, sizeof(*cq));

    if (cq == NULL)
        return RN_ENOMEM;
    cq->cq_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (cq->cq_efd < 0) {
        free(cq);
        return RN_EIO;
    }
    pthread_mutex_init(&cq->cq_lock, NULL);
    *out = cq;
    return 0;
}

int rn_cq_fd(const struct rn_cq *cq)
{
    return cq->cq_efd;
}

unsigned rn_cq_inflight(const struct rn_cq *cq)
{
    return atomic_load_explicit(&cq->cq_inflight, memory_order_relaxed);
}

unsigned rn_cq_reap(struct rn_cq *cq, struct rn_sock_completion *out, unsigned max)
{
    struct sock_req *taken = NULL, **tail = &taken, *rq;
    uint64_t v;
    unsigned n = 0;
    ssize_t r;

    pthread_mutex_lock(&cq->cq_lock);
    r = read(cq->cq_efd, &v, sizeof(v));  /* clear; rewritten below if more wait */
    (void)r;
    while (n < max && (rq = cq->cq_head) != NULL) {
        cq->cq_head = rq->rq_cqnext;
        if (cq->cq_head == NULL)
            cq->cq_tail = NULL;
        rq->rq_cqnext = NULL;
        *tail = rq;
        tail = &rq->rq_cqnext;
        n++;
    }
    if (cq->cq_head != NULL) {
        v = 1;
        r = write(cq->cq_efd, &v, sizeof(v));
        (void)r;
    }
    pthread_mutex_unlock(&cq->cq_lock);
    for (n = 0; (rq = taken) != NULL; n++) {
        taken = rq->rq_cqnext;
        out[n] = rq->rq_comp;
        rn_ob_kill(rq);
    }
    return n;
}

unsigned rn_cq_wait(struct rn_cq *cq, struct rn_sock_completion *out, unsigned max,
                    int timeout_ms)
{
    struct pollfd pfd = {.fd = cq->cq_efd, .events = POLLIN};
    unsigned n = rn_cq_reap(cq, out, max);

    if (n > 0)
        return n;
    if (poll(&pfd, 1, timeout_ms) <= 0)
        return 0;
    return rn_cq_reap(cq, out, max);
}

int rn_cq_destroy(struct rn_cq *cq)
{
    struct sock_req *rq;

    pthread_mutex_lock(&cq->cq_lock);
    if (atomic_load_explicit(&cq->cq_inflight, memory_order_relaxed) > 0) {
        pthread_mutex_unlock(&cq->cq_lock);
        return RN_EBUSY;
    }
    rq = cq->cq_head;
    cq->cq_head = cq->cq_tail = NULL;
    pthread_mutex_unlock(&cq->cq_lock);
    while (rq != NULL) {
        struct sock_req *next = rq->rq_cqnext;

        rn_ob_kill(rq);
        rq = next;
    }
    close(cq->cq_efd);
    pthread_mutex_destroy(&cq->cq_lock);
    free(cq);
    return 0;
}
