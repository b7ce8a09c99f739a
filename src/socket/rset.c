/*
 * Readiness sets (readiness.h): epoll's model on the socket layer, with a
 * wait that costs in proportion to the ready sockets, not the registered
 * ones.
 *
 * A set is an object, "readiness set", in a handle slot of its process.
 * Each registration (struct rset_item, allocated at RN_RSET_ADD, freed at
 * RN_RSET_DEL or when its set or its socket closes) holds its socket under
 * "readiness-set" and sits on up to three lists:
 *   - the set's list of its registrations (ri_inext), for its close;
 *   - the socket's list of its registrations in any set (so_ritems,
 *     ri_snext), for events and for the socket's close;
 *   - while it may be ready, its set's ready list (ri_rnext), oldest
 *     first.  Nothing else is ever scanned by a wait.
 *
 * An event, in call order:
 *   transport upcall -> sock_upcall() (socket.c) -> rn__sock_kick()
 *     -> rn__rset_sock_event(): each armed registration of the socket that
 *        the event concerns and that is ready now joins its set's ready
 *        list, unless it is on it already
 *     -> rset_queue() -> if waits pend: rset_wake_post()
 *   ... posted -> rset_wake_work() -> rset_serve(): the oldest waits take
 *     what is ready, one after the other, while they find something.
 * Deferring the wake to posted work lets every event of one poll of the
 * stack join the list before a wait takes it, so a waiter gets a batch.
 *
 * A wait (rn_rset_wait() [L], an RN_SOP_RSET_WAIT request, rn_epoll_wait()
 * from another thread), in call order:
 *   -> rset_harvest(): takes each registration off the ready list once and
 *      re-reads its readiness: not ready, it stays off; ready, it is
 *      reported, then goes back to the tail if level-triggered, stays off
 *      if edge-triggered (until the next event), and is disarmed if
 *      one-shot (until RN_RSET_MOD).
 *   -> nothing ready and waiting allowed: the wait is queued on the set
 *      (requests on rs_reqs, blocked threads on rs_calls) until an event
 *      serves it, its timeout fires (0 events) or the set closes
 *      (RN_ECANCELED).
 * The event filter follows epoll's: an event concerns a registration if it
 * names one of its bits (a readable event also stands for RN_POLLRDHUP, as
 * the peer's FIN arrives as one), RN_POLLERR and RN_POLLHUP always, and an
 * event of unknown kind (0: a shutdown) concerns all.
 *
 * Blocking calls from other threads post a struct rset_call that lives on
 * the caller's stack, so nothing is allocated per call; the caller sleeps
 * on its condition variable until the loop has filled in the result.
 *
 * Everything but the blocking calls' own waiting runs on the loop thread.
 * Legend: [L] loop thread only; [I] immutable after creation; [A] atomic,
 * readable from any thread (describe).
 */
#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "refnet/error.h"
#include "refnet/readiness.h"
#include "socket/sock_priv.h"

/* The readiness bits a registration may ask for, and those always
 * reported. */
#define RSET_POLL_BITS (RN_POLLIN | RN_POLLOUT | RN_POLLRDHUP | RN_POLLERR | RN_POLLHUP)
#define RSET_ALWAYS (RN_POLLERR | RN_POLLHUP)
#define RSET_FLAGS (RN_RSET_ET | RN_RSET_ONESHOT)

/* One registration: a socket in a set. */
struct rset_item {
    struct rset *ri_set;          /* [I] */
    struct sock *ri_so;           /* [I] held by "readiness-set" */
    int ri_handle;                /* [I] the socket's handle */
    uint32_t ri_events;           /* [L] RN_POLL* bits and RN_RSET_* flags */
    bool ri_armed;                /* [L] false once a one-shot was reported,
                                     until RN_RSET_MOD */
    bool ri_queued;               /* [L] on the set's ready list */
    union rn_rset_data ri_data;   /* [L] the user's value */
    struct rset_item *ri_inext;   /* [L] the set's registrations */
    struct rset_item *ri_iprev;
    struct rset_item *ri_snext;   /* [L] the socket's registrations */
    struct rset_item *ri_sprev;
    struct rset_item *ri_rnext;   /* [L] the ready list, iff ri_queued */
    struct rset_item *ri_rprev;
};

struct rset_call;

/* A readiness set: an object of type "readiness set". */
struct rset {
    struct sock_layer *rs_sl;         /* [I] */
    struct rn_proc *rs_proc;          /* [I] borrowed, as a socket's: the
                                         process ends after its handles */
    int rs_handle;                    /* [I] */
    struct rset_item *rs_items;       /* [L] every registration */
    struct rset_item *rs_rhead;       /* [L] the ready list, oldest first */
    struct rset_item *rs_rtail;       /* [L] */
    struct req_queue rs_reqs;         /* [L] pending wait requests; each holds
                                         "request" on the set, and its rq_val
                                         is its place in line (rs_seq) */
    struct rset_call *rs_chead;       /* [L] blocked threads' waits, each
                                         holding "readiness-call" */
    struct rset_call *rs_ctail;       /* [L] */
    uint64_t rs_seq;                  /* [L] the next wait's place in line */
    struct rn_work rs_wake;           /* posts rset_wake_work() */
    bool rs_wake_posted;              /* [L] rs_wake is queued, holding "loop" */
    int rs_efd;                       /* [I] the eventfd, or -1 */
    bool rs_efd_up;                   /* [L] the eventfd reads as readable */
    _Atomic uint32_t rs_nitems;       /* [A] registrations */
    _Atomic uint32_t rs_nready;       /* [A] on the ready list */
    _Atomic uint32_t rs_nwaiting;     /* [A] waits queued (requests, threads) */
    atomic_bool rs_closed;            /* [A] its close began */
};

/* The operations a blocking call runs on the loop. */
enum rset_call_op {
    CALL_CREATE,
    CALL_CTL,
    CALL_EVENTFD,
    CALL_WAIT,
};

/* A blocking call in flight, on its caller's stack. */
struct rset_call {
    struct rn_work rc_work;           /* posts rset_call_work() */
    struct rn_proc *rc_proc;          /* held by "readiness-call" */
    enum rset_call_op rc_op;          /* [I] */
    int rc_set;                       /* [I] the set's handle (not CREATE) */
    unsigned rc_flags;                /* [I] CREATE */
    int rc_ctl_op;                    /* [I] CTL */
    int rc_h;                         /* [I] CTL */
    const struct rn_rset_event *rc_ev; /* [I] CTL */
    struct rn_rset_event *rc_out;     /* [I] WAIT */
    unsigned rc_max;                  /* [I] WAIT */
    int rc_timeout_ms;                /* [I] WAIT: -1 forever, 0 none */
    /* While queued on a set (WAIT), [L]: */
    struct rset *rc_rs;               /* held by "readiness-call" while queued */
    struct rset_call *rc_next;
    struct rset_call *rc_prev;
    uint64_t rc_seq;                  /* its place in line */
    struct rn_timer rc_timer;         /* its timeout */
    /* The result, then the hand-back. */
    int rc_result;
    pthread_mutex_t rc_lock;
    pthread_cond_t rc_cond;
    bool rc_done;                     /* under rc_lock */
};

/* ---- The object ------------------------------------------------------------------ */

static void rset_describe(const void *ob, char *buf, size_t len)
{
    const struct rset *rs = ob;

    if (atomic_load_explicit(&rs->rs_closed, memory_order_relaxed)) {
        snprintf(buf, len, "readiness set #%d closed", rs->rs_handle);
        return;
    }
    snprintf(buf, len, "readiness set #%d %u sockets, %u ready, %u waiting", rs->rs_handle,
             atomic_load_explicit(&rs->rs_nitems, memory_order_relaxed),
             atomic_load_explicit(&rs->rs_nready, memory_order_relaxed),
             atomic_load_explicit(&rs->rs_nwaiting, memory_order_relaxed));
}

static void rset_release(void *ob)
{
    struct rset *rs = ob;

    assert(rs->rs_items == NULL && rs->rs_reqs.rqq_head == NULL && rs->rs_chead == NULL);
    if (rs->rs_efd >= 0)
        close(rs->rs_efd);
}

static const struct rn_ob_type_ops rset_ops = {
    .name = "readiness set",
    .size = sizeof(struct rset),
    .release = rset_release,
    .describe = rset_describe,
};

/* Who holds a readiness set (object.h, "Holder contracts"); condition
 * bit 0, "in a handle slot", covers its handle's hold. */
#define RSET_COND_SLOT 0x1u
static const char *const rset_conds[] = {"in a handle slot"};
static const struct rn_ob_holder rset_holders[] = {
    {"create", 0, 0, 0, "expected: its own, until its handle closes"},
    {"handle", RSET_COND_SLOT, RN_HOLD_DYING | RN_HOLD_ONE, 0,
     "expected while its handle is open or closing"},
    {"request", 0, RN_HOLD_DYING, 0, "expected while a wait on it is pending"},
    {"readiness-call", 0, RN_HOLD_DYING, 0, "expected while a wait on it is in flight"},
};
static const struct rn_ob_contract rset_contract = {
    rset_holders, sizeof(rset_holders) / sizeof(rset_holders[0]), rset_conds, 1, 0,
};

void rn__rset_types_init(void)
{
    rn_tag_t held = rn_tag_intern("readiness-set");
    rn_tag_t call = rn_tag_intern("readiness-call");

    if (held == RN_TAG_NONE || call == RN_TAG_NONE)
        return;
    rn__sock_types.st_tag_rset = held;
    rn__sock_types.st_tag_rcall = call;
    rn__sock_types.st_rset = rn_ob_type_register(&rset_ops);
    if (rn__sock_types.st_rset != NULL)
        (void)rn_ob_type_set_contract(rn__sock_types.st_rset, &rset_contract);
}

/* ---- Look-ups --------------------------------------------------------------------- */

/* The open readiness set behind handle h, or NULL with *err RN_EBADF (no
 * open handle) or RN_EINVAL (a socket). */
static struct rset *set_of(struct rn_proc *p, int h, int *err)
{
    struct hslot *hs = rn__sock_open_slot(p, h);

    if (hs == NULL) {
        *err = RN_EBADF;
        return NULL;
    }
    if (hs->hs_rset == NULL) {
        *err = RN_EINVAL;
        return NULL;
    }
    return hs->hs_rset;
}

/* The registration of so in rs, or NULL.  A socket is in few sets. */
static struct rset_item *item_of(struct rset *rs, struct sock *so)
{
    struct rset_item *it;

    for (it = so->so_ritems; it != NULL; it = it->ri_snext) {
        if (it->ri_set == rs)
            return it;
    }
    return NULL;
}

/* What a registration is reported for. */
static uint32_t item_mask(const struct rset_item *it)
{
    return (it->ri_events & RSET_POLL_BITS) | RSET_ALWAYS;
}

/* ---- The eventfd ------------------------------------------------------------------ */

/* Makes the eventfd say whether the ready list has anything. */
static void efd_sync(struct rset *rs)
{
    bool up = rs->rs_rhead != NULL;
    uint64_t v = 1;
    ssize_t n;

    if (rs->rs_efd < 0 || up == rs->rs_efd_up)
        return;
    if (up)
        n = write(rs->rs_efd, &v, sizeof(v));
    else
        n = read(rs->rs_efd, &v, sizeof(v));
    (void)n;  /* a counter of at most 1 neither overflows nor blocks */
    rs->rs_efd_up = up;
}

/* ---- The ready list -------------------------------------------------------------- */

static void ready_append(struct rset *rs, struct rset_item *it)
{
    assert(!it->ri_queued);
    it->ri_rnext = NULL;
    it->ri_rprev = rs->rs_rtail;
    if (rs->rs_rtail != NULL)
        rs->rs_rtail->ri_rnext = it;
    else
        rs->rs_rhead = it;
    rs->rs_rtail = it;
    it->ri_queued = true;
    atomic_fetch_add_explicit(&rs->rs_nready, 1, memory_order_relaxed);
}

static void ready_unlink(struct rset *rs, struct rset_item *it)
{
    assert(it->ri_queued);
    if (it->ri_rprev != NULL)
        it->ri_rprev->ri_rnext = it->ri_rnext;
    else
        rs->rs_rhead = it->ri_rnext;
    if (it->ri_rnext != NULL)
        it->ri_rnext->ri_rprev = it->ri_rprev;
    else
        rs->rs_rtail = it->ri_rprev;
    it->ri_rnext = it->ri_rprev = NULL;
    it->ri_queued = false;
    atomic_fetch_sub_explicit(&rs->rs_nready, 1, memory_order_relaxed);
}

/* Takes up to max events off the ready list into out and returns how
 * many.  Each registration on the list is looked at once at most: those
 * put back at the tail (level-triggered) come after the last one that was
 * on it when the harvest began. */
static unsigned rset_harvest(struct rset *rs, struct rn_rset_event *out, unsigned max)
{
    struct rset_item *it, *last = rs->rs_rtail;
    unsigned n = 0;

    while (n < max && (it = rs->rs_rhead) != NULL) {
        bool was_last = it == last;
        uint32_t m = 0;

        ready_unlink(rs, it);
        if (it->ri_armed)
            m = rn__sock_ready(it->ri_so) & item_mask(it);
        if (m != 0) {
            out[n].re_events = m;
            out[n].re_data = it->ri_data;
            n++;
            if (it->ri_events & RN_RSET_ONESHOT)
                it->ri_armed = false;
            else if (!(it->ri_events & RN_RSET_ET))
                ready_append(rs, it);
        }
        if (was_last)
            break;
    }
    efd_sync(rs);
    return n;
}

/* ---- Waits and their wake-up ------------------------------------------------------ */

/* Completes a queued wait request with result and drops its hold on rs. */
static void req_finish(struct rset *rs, struct sock_req *rq, ssize_t result)
{
    atomic_fetch_sub_explicit(&rs->rs_nwaiting, 1, memory_order_relaxed);
    rn__sock_req_complete(rq, result);  /* takes it off rs_reqs */
    rn_ob_deref(rs, RN_TAG_REQUEST);
}

/* Hands a blocking call its result and wakes its thread; c may be gone as
 * soon as this returns. */
static void call_finish(struct rset_call *c, int result)
{
    struct rset *rs = c->rc_rs;
    struct rn_proc *p = c->rc_proc;

    if (rs != NULL) {
        /* Off the set's line, timer stopped, hold dropped. */
        if (c->rc_prev != NULL)
            c->rc_prev->rc_next = c->rc_next;
        else
            rs->rs_chead = c->rc_next;
        if (c->rc_next != NULL)
            c->rc_next->rc_prev = c->rc_prev;
        else
            rs->rs_ctail = c->rc_prev;
        rn_timer_cancel(rn_stack_timers(p->p_stack), &c->rc_timer);
        atomic_fetch_sub_explicit(&rs->rs_nwaiting, 1, memory_order_relaxed);
        c->rc_rs = NULL;
        rn_ob_deref(rs, rn__sock_types.st_tag_rcall);
    }
    c->rc_proc = NULL;
    rn_ob_deref(p, rn__sock_types.st_tag_rcall);
    c->rc_result = result;
    pthread_mutex_lock(&c->rc_lock);
    c->rc_done = true;
    pthread_cond_signal(&c->rc_cond);
    pthread_mutex_unlock(&c->rc_lock);
}

/* Serves the waits in line, oldest first, while the ready list gives
 * each something. */
static void rset_serve(struct rset *rs)
{
    while (rs->rs_rhead != NULL) {
        struct sock_req *rq = rs->rs_reqs.rqq_head;
        struct rset_call *c = rs->rs_chead;
        unsigned n;

        if (rq != NULL && (c == NULL || (uint64_t)rq->rq_val < c->rc_seq)) {
            n = rset_harvest(rs, rq->rq_buf, (unsigned)(rq->rq_len / sizeof(struct rn_rset_event)));
            if (n == 0)
                break;
            req_finish(rs, rq, n);
        } else if (c != NULL) {
            n = rset_harvest(rs, c->rc_out, c->rc_max);
            if (n == 0)
                break;
            call_finish(c, (int)n);
        } else {
            break;
        }
    }
}

static void rset_wake_work(struct rn_stack *st, struct rn_work *w)
{
    struct rset *rs = (struct rset *)((char *)w - offsetof(struct rset, rs_wake));

    rn__sock_mark_loop(rn__sock_layer(st));
    rs->rs_wake_posted = false;
    rset_serve(rs);
    rn_ob_deref(rs, RN_TAG_LOOP);
}

/* Puts a registration that is ready now on the ready list, and has the
 * waits served once the current work of the loop is done. */
static void rset_queue(struct rset *rs, struct rset_item *it)
{
    ready_append(rs, it);
    efd_sync(rs);
    if (rs->rs_wake_posted ||
        (rs->rs_reqs.rqq_head == NULL && rs->rs_chead == NULL))
        return;
    rs->rs_wake_posted = true;
    rn_ob_ref(rs, RN_TAG_LOOP);
    rn_stack_post(rs->rs_proc->p_stack, &rs->rs_wake, rset_wake_work);
}

/* ---- Events from the socket layer --------------------------------------------------- */

void rn__rset_sock_event(struct sock *so, unsigned events)
{
    uint32_t concerned = events == 0 ? ~0u : events;
    uint32_t ready = 0;
    bool read = false;
    struct rset_item *it;

    if (events & RN_POLLIN)
        concerned |= RN_POLLRDHUP;  /* the peer's FIN comes as a readable event */
    for (it = so->so_ritems; it != NULL; it = it->ri_snext) {
        if (it->ri_queued || !it->ri_armed || !(concerned & item_mask(it)))
            continue;
        if (!read) {
            ready = rn__sock_ready(so);
            read = true;
        }
        if (ready & item_mask(it))
            rset_queue(it->ri_set, it);
    }
}

/* Ends a registration: off every list, its hold on the socket dropped. */
static void item_remove(struct rset_item *it)
{
    struct rset *rs = it->ri_set;
    struct sock *so = it->ri_so;

    if (it->ri_queued) {
        ready_unlink(rs, it);
        efd_sync(rs);
    }
    if (it->ri_iprev != NULL)
        it->ri_iprev->ri_inext = it->ri_inext;
    else
        rs->rs_items = it->ri_inext;
    if (it->ri_inext != NULL)
        it->ri_inext->ri_iprev = it->ri_iprev;
    if (it->ri_sprev != NULL)
        it->ri_sprev->ri_snext = it->ri_snext;
    else
        so->so_ritems = it->ri_snext;
    if (it->ri_snext != NULL)
        it->ri_snext->ri_sprev = it->ri_sprev;
    atomic_fetch_sub_explicit(&rs->rs_nitems, 1, memory_order_relaxed);
    free(it);
    rn_ob_deref(so, rn__sock_types.st_tag_rset);
}

void rn__rset_sock_closing(struct sock *so)
{
    while (so->so_ritems != NULL)
        item_remove(so->so_ritems);
}

/* ---- Create, control, close [L] ---------------------------------------------------- */

static int rset_create(struct rn_proc *p, unsigned flags)
{
    struct hslot *hs;
    struct rset *rs;
    int err, efd = -1;

    if (flags & ~RN_RSET_EVENTFD)
        return RN_EINVAL;
    if (atomic_load_explicit(&p->p_state, memory_order_relaxed) != PROC_RUNNING)
        return RN_ESHUTDOWN;
    hs = rn__sock_slot_alloc(p, &err);
    if (hs == NULL)
        return err;
    if (flags & RN_RSET_EVENTFD) {
        efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (efd < 0) {
            rn__sock_slot_free(hs);
            return RN_EIO;
        }
    }
    rs = rn_ob_create(rn__sock_types.st_rset, RN_TAG_CREATE);
    if (rs == NULL) {
        if (efd >= 0)
            close(efd);
        rn__sock_slot_free(hs);
        return RN_ENOMEM;
    }
    rs->rs_sl = p->p_sl;
    rs->rs_proc = p;
    rs->rs_handle = hs->hs_handle;
    rs->rs_efd = efd;
    rn_ob_cond_set(rs, RSET_COND_SLOT);
    rn_ob_ref(rs, RN_TAG_HANDLE);
    hs->hs_rset = rs;
    rn_ob_publish(rs);
    return hs->hs_handle;
}

static int rset_ctl(struct rn_proc *p, int set, int op, int h, const struct rn_rset_event *ev)
{
    struct rset_item *it;
    struct hslot *ths;
    struct rset *rs;
    struct sock *so;
    int err;

    rs = set_of(p, set, &err);
    ths = rn__sock_open_slot(p, h);
    if (rs == NULL && err == RN_EBADF)
        return RN_EBADF;
    if (ths == NULL)
        return RN_EBADF;
    if (rs == NULL || h == set)
        return RN_EINVAL;
    if (ths->hs_so == NULL)
        return RN_EPERM;  /* another set: sets do not nest */
    if (op != RN_RSET_ADD && op != RN_RSET_MOD && op != RN_RSET_DEL)
        return RN_EINVAL;
    if (op != RN_RSET_DEL &&
        (ev == NULL || (ev->re_events & ~(uint32_t)(RSET_POLL_BITS | RSET_FLAGS)) != 0))
        return RN_EINVAL;
    so = ths->hs_so;
    it = item_of(rs, so);
    switch (op) {
    case RN_RSET_ADD:
        if (it != NULL)
            return RN_EEXIST;
        it = calloc(1, sizeof(*it));
        if (it == NULL)
            return RN_ENOMEM;
        it->ri_set = rs;
        it->ri_so = so;
        it->ri_handle = h;
        rn_ob_ref(so, rn__sock_types.st_tag_rset);
        it->ri_inext = rs->rs_items;
        if (it->ri_inext != NULL)
            it->ri_inext->ri_iprev = it;
        rs->rs_items = it;
        it->ri_snext = so->so_ritems;
        if (it->ri_snext != NULL)
            it->ri_snext->ri_sprev = it;
        so->so_ritems = it;
        atomic_fetch_add_explicit(&rs->rs_nitems, 1, memory_order_relaxed);
        break;
    case RN_RSET_MOD:
        if (it == NULL)
            return RN_ENOENT;
        break;
    default:
        if (it == NULL)
            return RN_ENOENT;
        item_remove(it);
        return 0;
    }
    it->ri_events = ev->re_events;
    it->ri_data = ev->re_data;
    it->ri_armed = true;
    /* Ready already: the next wait reports it, as epoll does. */
    if (!it->ri_queued && (rn__sock_ready(so) & item_mask(it)))
        rset_queue(rs, it);
    return 0;
}

int rn__rset_close(struct hslot *hs)
{
    struct rset *rs = hs->hs_rset;

    assert(rs != NULL && !hs->hs_closing);
    /* The process's exit waits for the set's release ("cleanup"). */
    if (rn__sock_slot_closing(hs) < 0)
        return RN_ENOMEM;
    atomic_store_explicit(&rs->rs_closed, true, memory_order_relaxed);
    while (rs->rs_items != NULL)
        item_remove(rs->rs_items);
    while (rs->rs_reqs.rqq_head != NULL)
        req_finish(rs, rs->rs_reqs.rqq_head, RN_ECANCELED);
    while (rs->rs_chead != NULL)
        call_finish(rs->rs_chead, RN_ECANCELED);
    rn_ob_kill(rs);
    hs->hs_rset = NULL;
    rn_ob_deref_cond(rs, RN_TAG_HANDLE, RSET_COND_SLOT);
    return 0;
}

bool rn__rset_close_handle(struct rn_proc *p, int h, struct sock_req *req)
{
    struct hslot *hs = rn__sock_open_slot(p, h);
    int err;

    if (hs == NULL || hs->hs_rset == NULL)
        return false;
    err = rn__rset_close(hs);
    if (req != NULL)
        rn__sock_req_complete(req, err);
    return true;
}

/* ---- Wait requests -------------------------------------------------------------------- */

bool rn__rset_req_valid(const struct rn_sock_req *d)
{
    return d->sq_buf != NULL && d->sq_len >= sizeof(struct rn_rset_event);
}

/* A queued wait request's time ran out: 0 events. */
static void req_timeout(struct rn_timer *t, rn_time_t now)
{
    struct sock_req *rq = (struct sock_req *)((char *)t - offsetof(struct sock_req, rq_timer));
    struct rset *rs = (struct rset *)((char *)rq->rq_queue - offsetof(struct rset, rs_reqs));

    (void)now;
    req_finish(rs, rq, 0);
}

void rn__rset_req_start(struct sock_req *rq)
{
    struct rn_proc *p = rq->rq_proc;
    size_t max = rq->rq_len / sizeof(struct rn_rset_event);
    struct rset *rs = NULL;
    unsigned n;
    int err = RN_EBADF;

    if (max > UINT32_MAX)
        max = UINT32_MAX;
    if (atomic_load_explicit(&p->p_state, memory_order_relaxed) == PROC_RUNNING)
        rs = set_of(p, rq->rq_handle, &err);
    if (rs == NULL) {
        rn__sock_req_complete(rq, err);
        return;
    }
    n = rset_harvest(rs, rq->rq_buf, (unsigned)max);
    if (n > 0 || rq->rq_poll_now) {
        rn__sock_req_complete(rq, n);
        return;
    }
    rn_ob_ref(rs, RN_TAG_REQUEST);
    rq->rq_val = (int64_t)rs->rs_seq++;
    rn_timer_init(&rq->rq_timer, req_timeout);
    rn__sock_req_queue(&rs->rs_reqs, rq);  /* arms the timeout */
    atomic_fetch_add_explicit(&rs->rs_nwaiting, 1, memory_order_relaxed);
}

/* ---- The immediate calls [L] ------------------------------------------------------------ */

int rn_rset_create(struct rn_proc *p, unsigned flags)
{
    rn__sock_mark_loop(p->p_sl);
    return rset_create(p, flags);
}

int rn_rset_ctl(struct rn_proc *p, int rset, int op, int h, const struct rn_rset_event *ev)
{
    rn__sock_mark_loop(p->p_sl);
    return rset_ctl(p, rset, op, h, ev);
}

int rn_rset_wait(struct rn_proc *p, int rset, struct rn_rset_event *out, unsigned max)
{
    struct rset *rs;
    int err;

    rn__sock_mark_loop(p->p_sl);
    rs = set_of(p, rset, &err);
    if (rs == NULL)
        return err;
    if (out == NULL || max == 0)
        return RN_EINVAL;
    if (max > INT32_MAX)
        max = INT32_MAX;
    return (int)rset_harvest(rs, out, max);
}

static int rset_eventfd(struct rn_proc *p, int set)
{
    struct rset *rs;
    int err;

    rs = set_of(p, set, &err);
    if (rs == NULL)
        return err;
    return rs->rs_efd >= 0 ? rs->rs_efd : RN_EINVAL;
}

int rn_rset_eventfd(struct rn_proc *p, int rset)
{
    rn__sock_mark_loop(p->p_sl);
    return rset_eventfd(p, rset);
}

/* ---- The blocking calls [B] -------------------------------------------------------------- */

/* A blocked wait's time ran out: 0 events. */
static void call_timeout(struct rn_timer *t, rn_time_t now)
{
    struct rset_call *c = (struct rset_call *)((char *)t - offsetof(struct rset_call, rc_timer));

    (void)now;
    call_finish(c, 0);
}

/* Starts a blocking wait on the loop: served at once, or queued. */
static void call_wait(struct rset_call *c)
{
    struct rn_proc *p = c->rc_proc;
    struct rset *rs;
    unsigned n;
    int err;

    rs = set_of(p, c->rc_set, &err);
    if (rs == NULL) {
        call_finish(c, err);
        return;
    }
    n = rset_harvest(rs, c->rc_out, c->rc_max);
    if (n > 0 || c->rc_timeout_ms == 0) {
        call_finish(c, (int)n);
        return;
    }
    rn_ob_ref(rs, rn__sock_types.st_tag_rcall);
    c->rc_rs = rs;
    c->rc_seq = rs->rs_seq++;
    c->rc_next = NULL;
    c->rc_prev = rs->rs_ctail;
    if (rs->rs_ctail != NULL)
        rs->rs_ctail->rc_next = c;
    else
        rs->rs_chead = c;
    rs->rs_ctail = c;
    atomic_fetch_add_explicit(&rs->rs_nwaiting, 1, memory_order_relaxed);
    rn_timer_init(&c->rc_timer, call_timeout);
    if (c->rc_timeout_ms > 0)
        rn_timer_arm(rn_stack_timers(p->p_stack), &c->rc_timer,
                     rn_stack_now(p->p_stack) + (rn_time_t)c->rc_timeout_ms * RN_NSEC_PER_MSEC);
}

static void rset_call_work(struct rn_stack *st, struct rn_work *w)
{
    struct rset_call *c = (struct rset_call *)((char *)w - offsetof(struct rset_call, rc_work));
    struct rn_proc *p = c->rc_proc;
    bool running = atomic_load_explicit(&p->p_state, memory_order_relaxed) == PROC_RUNNING;

    rn__sock_mark_loop(rn__sock_layer(st));
    switch (c->rc_op) {
    case CALL_CREATE:
        call_finish(c, running ? rset_create(p, c->rc_flags) : RN_ESHUTDOWN);
        break;
    case CALL_CTL:
        call_finish(c, running ? rset_ctl(p, c->rc_set, c->rc_ctl_op, c->rc_h, c->rc_ev)
                               : RN_EBADF);
        break;
    case CALL_EVENTFD:
        call_finish(c, running ? rset_eventfd(p, c->rc_set) : RN_EBADF);
        break;
    case CALL_WAIT:
        if (running)
            call_wait(c);
        else
            call_finish(c, RN_EBADF);
        break;
    }
}

/* Runs c on p's loop and returns its result once it is done. */
static int call_run(struct rn_proc *p, struct rset_call *c)
{
    assert(!rn__sock_on_loop(p->p_sl) &&
           "a blocking readiness set call was made on the loop thread");
    pthread_mutex_init(&c->rc_lock, NULL);
    pthread_cond_init(&c->rc_cond, NULL);
    rn_ob_ref(p, rn__sock_types.st_tag_rcall);
    c->rc_proc = p;
    rn_stack_post(p->p_stack, &c->rc_work, rset_call_work);
    pthread_mutex_lock(&c->rc_lock);
    while (!c->rc_done)
        pthread_cond_wait(&c->rc_cond, &c->rc_lock);
    pthread_mutex_unlock(&c->rc_lock);
    pthread_cond_destroy(&c->rc_cond);
    pthread_mutex_destroy(&c->rc_lock);
    return c->rc_result;
}

int rn_epoll_create(struct rn_proc *p, unsigned flags)
{
    struct rset_call c = {.rc_op = CALL_CREATE, .rc_flags = flags};

    return call_run(p, &c);
}

int rn_epoll_ctl(struct rn_proc *p, int rset, int op, int h, const struct rn_rset_event *ev)
{
    struct rset_call c = {.rc_op = CALL_CTL, .rc_set = rset, .rc_ctl_op = op, .rc_h = h,
                          .rc_ev = ev};

    return call_run(p, &c);
}

int rn_epoll_eventfd(struct rn_proc *p, int rset)
{
    struct rset_call c = {.rc_op = CALL_EVENTFD, .rc_set = rset};

    return call_run(p, &c);
}

int rn_epoll_wait(struct rn_proc *p, int rset, struct rn_rset_event *out, unsigned max,
                  int timeout_ms)
{
    struct rset_call c = {.rc_op = CALL_WAIT, .rc_set = rset, .rc_out = out, .rc_max = max,
                          .rc_timeout_ms = timeout_ms < 0 ? -1 : timeout_ms};

    if (out == NULL || max == 0)
        return RN_EINVAL;
    if (c.rc_max > INT32_MAX)
        c.rc_max = INT32_MAX;
    return call_run(p, &c);
}
