/*
 * Processes and their handle tables, process exit, and the socket layer's
 * set-up and teardown on a stack (socket.h, "Processes").
 *
 * Exit, in call order:
 *   rn_proc_exit() [any] -> posted -> proc_exit_work() [L]
 *     -> rn__sock_close() on every open handle (socket.c); a handle no
 *        close record could be had for is closed again 10 ms later
 *        (exit_retry())
 *     ... each socket released -> slot_cleanup_fired() [any] -> posted
 *     -> slot_cleanup_done() [L]: the slot is freed; the last one ends the
 *        exit: the process is killed and released once no request holds it.
 * A handle closed on its own takes the same path from rn__sock_close() on, so
 * its number stays taken until its socket is released, and an exit that
 * begins meanwhile waits for it too.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/once.h"
#include "refnet/error.h"
#include "refnet/report.h"
#include "refnet/transport.h"
#include "socket/sock_priv.h"
#include "transport/tcp.h"

static _Atomic uint32_t next_pid = 1;

static void proc_release(void *ob)
{
    struct rn_proc *p = ob;

    free(p->p_handles);
    atomic_fetch_sub_explicit(&p->p_sl->sl_nprocs, 1, memory_order_release);
}

/* How the host process ended, for describe: "", or ", exited 0",
 * ", killed by signal 9". */
static void proc_status_fmt(const struct rn_proc *p, char *buf, size_t len)
{
    int st = atomic_load_explicit(&p->p_status, memory_order_relaxed);

    if (st < 0)
        buf[0] = '\0';
    else if ((st & 0x7f) == 0)
        snprintf(buf, len, ", exited %d", (st >> 8) & 0xff);
    else
        snprintf(buf, len, ", killed by signal %d", st & 0x7f);
}

static void proc_describe(const void *ob, char *buf, size_t len)
{
    const struct rn_proc *p = ob;
    unsigned state = atomic_load_explicit(&p->p_state, memory_order_relaxed);
    uint32_t pid = atomic_load_explicit(&p->p_pid, memory_order_relaxed);
    unsigned n = atomic_load_explicit(&p->p_nhandles, memory_order_relaxed);
    char how[40];

    proc_status_fmt(p, how, sizeof(how));
    if (state == PROC_RUNNING)
        snprintf(buf, len, "process %s (pid %" PRIu32 "%s) %u handle%s", p->p_name, pid, how, n,
                 n == 1 ? "" : "s");
    else if (state == PROC_TERMINATING)
        snprintf(buf, len, "process %s (pid %" PRIu32 "%s) terminating, %u of %u handle cleanups pending",
                 p->p_name, pid, how, atomic_load_explicit(&p->p_cleanups, memory_order_relaxed),
                 atomic_load_explicit(&p->p_cleanups_total, memory_order_relaxed));
    else
        snprintf(buf, len, "process %s (pid %" PRIu32 "%s) terminated", p->p_name, pid, how);
}

static const struct rn_ob_type_ops proc_ops = {
    .name = "process",
    .size = sizeof(struct rn_proc),
    .release = proc_release,
    .describe = proc_describe,
};

/* Who holds a process (object.h, "Holder contracts"). */
static const struct rn_ob_holder proc_holders[] = {
    {"create", 0, 0, 0, "expected: its own, until it exits"},
    {"request", 0, RN_HOLD_DYING, 0,
     "expected while a request of its is pending; its completion drops it"},
    {"service", 0, 0, 0, "expected: its service's hold while the service runs"},
    {"drain", 0, 0, 0, "in progress: its service drains its connections"},
    {"readiness-call", 0, RN_HOLD_DYING, 0,
     "expected while a wait on a readiness set is in flight"},
};
static const struct rn_ob_contract proc_contract = {
    proc_holders, sizeof(proc_holders) / sizeof(proc_holders[0]), NULL, 0, 0,
};

void rn__sock_proc_types_init(void)
{
    rn__sock_types.st_proc = rn_ob_type_register(&proc_ops);
    if (rn__sock_types.st_proc != NULL)
        (void)rn_ob_type_set_contract(rn__sock_types.st_proc, &proc_contract);
}

/* ---- Handle table ------------------------------------------------------------- */

struct hslot *rn__sock_open_slot(struct rn_proc *p, int h)
{
    struct hslot *hs;

    if (h <= 0 || (unsigned)h >= p->p_cap)
        return NULL;
    hs = p->p_handles[h];
    return hs != NULL && !hs->hs_closing ? hs : NULL;
}

struct sock *rn__sock_handle(struct rn_proc *p, int h)
{
    struct hslot *hs = rn__sock_open_slot(p, h);

    return hs != NULL ? hs->hs_so : NULL;
}

struct hslot *rn__sock_slot_alloc(struct rn_proc *p, int *err)
{
    unsigned max = atomic_load_explicit(&p->p_sl->sl_max_handles, memory_order_relaxed);
    struct hslot *hs;
    unsigned h;

    /* The lowest free number, as POSIX hands out descriptors. */
    for (h = 1; h < p->p_cap && p->p_handles[h] != NULL; h++)
        ;
    if (h >= max) {
        *err = RN_EMFILE;
        return NULL;
    }
    if (h >= p->p_cap) {
        unsigned cap = p->p_cap ? p->p_cap * 2 : 16;
        struct hslot **v;

        if (cap > max)
            cap = max;
        v = realloc(p->p_handles, cap * sizeof(*v));
        if (v == NULL) {
            *err = RN_ENOMEM;
            return NULL;
        }
        memset(v + p->p_cap, 0, (cap - p->p_cap) * sizeof(*v));
        p->p_handles = v;
        p->p_cap = cap;
    }
    hs = calloc(1, sizeof(*hs));
    if (hs == NULL) {
        *err = RN_ENOMEM;
        return NULL;
    }
    hs->hs_proc = p;
    hs->hs_handle = (int)h;
    p->p_handles[h] = hs;
    atomic_fetch_add_explicit(&p->p_nhandles, 1, memory_order_relaxed);
    return hs;
}

static void proc_exit_finish(struct rn_proc *p)
{
    rn_timer_cancel(rn_stack_timers(p->p_stack), &p->p_exit_retry);
    atomic_store_explicit(&p->p_state, PROC_TERMINATED, memory_order_relaxed);
    rn_ob_kill(p);
}

/* ---- Close records ---------------------------------------------------------------- */

/* A close record from sl's free list, or a new one; NULL without
 * memory. */
static struct sock_closing *rec_get(struct sock_layer *sl)
{
    struct sock_closing *rec = sl->sl_rec_free;

    if (rec != NULL) {
        sl->sl_rec_free = rec->sc_next;
        sl->sl_nrec_free--;
    } else {
        rec = malloc(sizeof(*rec));
        if (rec == NULL)
            return NULL;
    }
    memset(rec, 0, sizeof(*rec));
    return rec;
}

static void rec_put(struct sock_layer *sl, struct sock_closing *rec)
{
    if (sl->sl_nrec_free >= SOCK_REC_KEEP) {
        free(rec);
        return;
    }
    rec->sc_next = sl->sl_rec_free;
    sl->sl_rec_free = rec;
    sl->sl_nrec_free++;
}

void rn__sock_rec_pool_fini(struct sock_layer *sl)
{
    struct sock_closing *rec;

    while ((rec = sl->sl_rec_free) != NULL) {
        sl->sl_rec_free = rec->sc_next;
        free(rec);
    }
    sl->sl_nrec_free = 0;
}

/* Releases a slot whose socket is gone (or never came): from the closing
 * list, or from the handle table if its close never began.  [L] */
static void slot_release(struct hslot *hs)
{
    struct rn_proc *p = hs->hs_proc;

    if (hs->hs_closing) {
        struct sock_closing *rec = hs->hs_rec;

        if (rec->sc_cprev != NULL)
            rec->sc_cprev->sc_cnext = rec->sc_cnext;
        else
            p->p_closing = rec->sc_cnext;
        if (rec->sc_cnext != NULL)
            rec->sc_cnext->sc_cprev = rec->sc_cprev;
    } else {
        assert(p->p_handles[hs->hs_handle] == hs);
        p->p_handles[hs->hs_handle] = NULL;
    }
    if (hs->hs_rec != NULL)
        rec_put(p->p_sl, hs->hs_rec);
    free(hs);
    atomic_fetch_sub_explicit(&p->p_nhandles, 1, memory_order_relaxed);
    if (atomic_load_explicit(&p->p_state, memory_order_relaxed) == PROC_TERMINATING &&
        atomic_fetch_sub_explicit(&p->p_cleanups, 1, memory_order_relaxed) == 1)
        proc_exit_finish(p);
}

void rn__sock_slot_free(struct hslot *hs)
{
    assert(hs->hs_so == NULL && hs->hs_rset == NULL);
    slot_release(hs);
}

void rn__sock_slot_gone(struct hslot *hs)
{
    assert(!hs->hs_closing);
    hs->hs_so = NULL;
    slot_release(hs);
}

static void slot_cleanup_done(struct rn_stack *st, struct rn_work *w)
{
    struct sock_closing *rec =
        (struct sock_closing *)((char *)w - offsetof(struct sock_closing, sc_cleanup_work));

    rn__sock_mark_loop(rn__sock_layer(st));
    slot_release(rec->sc_slot);
}

/* The socket of a closing handle was released: finish on the loop. */
static void slot_cleanup_fired(struct rn_ob_wait *w, void *ctx)
{
    struct hslot *hs = ctx;

    (void)w;
    rn_stack_post(hs->hs_proc->p_stack, &hs->hs_rec->sc_cleanup_work, slot_cleanup_done);
}

int rn__sock_slot_closing(struct hslot *hs)
{
    struct rn_proc *p = hs->hs_proc;
    void *ob = hs->hs_so != NULL ? (void *)hs->hs_so : (void *)hs->hs_rset;
    struct sock_closing *rec;
    int err;

    assert(!hs->hs_closing && ob != NULL && hs->hs_rec == NULL);
    rec = rec_get(p->p_sl);
    if (rec == NULL)
        return RN_ENOMEM;
    rec->sc_slot = hs;
    hs->hs_rec = rec;
    err = rn_ob_wait_release(ob, &rec->sc_cleanup, hs->hs_proc, "cleanup", slot_cleanup_fired, hs);
    assert(err == 0);
    (void)err;
    /* The number is free from now on, as close(2) frees a descriptor; the
     * socket stays the process's, on its closing list, until released. */
    assert(p->p_handles[hs->hs_handle] == hs);
    p->p_handles[hs->hs_handle] = NULL;
    hs->hs_closing = true;
    rec->sc_cprev = NULL;
    rec->sc_cnext = p->p_closing;
    if (rec->sc_cnext != NULL)
        rec->sc_cnext->sc_cprev = rec;
    p->p_closing = rec;
    return 0;
}

/* ---- Processes ----------------------------------------------------------------- */

/* How long an exiting process waits before it closes again the handles
 * it found no memory to close. */
#define PROC_EXIT_RETRY RN_MSEC(10)

/* Closes every handle p still has open, for its exit.  A handle no close
 * record could be had for stays open, and the walk runs again a little
 * later: the exit cannot fail, only wait for memory.  [L] */
static void exit_close_all(struct rn_proc *p)
{
    bool again = false;
    unsigned h;

    /* A slot that shares its socket with another process goes at once
     * (rn__sock_close_slot()), and the last of those may end the exit and
     * kill p: hold it until the walk is done.  Other slots are freed only
     * by posted work (closing moves a slot to the closing list, after the
     * index). */
    rn_ob_ref(p, RN_TAG_LOOP);
    for (h = 1; h < p->p_cap; h++) {
        struct hslot *hs = p->p_handles[h];

        if (hs == NULL)
            continue;
        if ((hs->hs_rset != NULL ? rn__rset_close(hs) : rn__sock_close_slot(hs, NULL)) < 0)
            again = true;
    }
    if (again)
        (void)rn_timer_arm(rn_stack_timers(p->p_stack), &p->p_exit_retry,
                           rn_stack_now(p->p_stack) + PROC_EXIT_RETRY);
    rn_ob_deref(p, RN_TAG_LOOP);
}

static void exit_retry(struct rn_timer *t, rn_time_t now)
{
    struct rn_proc *p = (struct rn_proc *)((char *)t - offsetof(struct rn_proc, p_exit_retry));

    (void)now;
    rn__sock_mark_loop(p->p_sl);
    exit_close_all(p);
}

int rn_proc_create(struct rn_stack *st, const char *name, struct rn_proc **out)
{
    struct sock_layer *sl = rn__sock_layer(st);
    struct rn_proc *p;

    if (sl == NULL)
        return RN_EINVAL;
    p = rn_ob_create(rn__sock_types.st_proc, RN_TAG_CREATE);
    if (p == NULL)
        return RN_ENOMEM;
    p->p_sl = sl;
    p->p_stack = st;
    snprintf(p->p_name, sizeof(p->p_name), "%s", name ? name : "?");
    atomic_init(&p->p_pid, atomic_fetch_add_explicit(&next_pid, 1, memory_order_relaxed));
    atomic_init(&p->p_status, -1);
    atomic_fetch_add_explicit(&sl->sl_nprocs, 1, memory_order_relaxed);
    rn_timer_init(&p->p_exit_retry, exit_retry);
    rn_ob_publish(p);
    *out = p;
    return 0;
}

static void proc_exit_work(struct rn_stack *st, struct rn_work *w)
{
    struct rn_proc *p = (struct rn_proc *)((char *)w - offsetof(struct rn_proc, p_exit_work));
    unsigned n = 0;

    rn__sock_mark_loop(rn__sock_layer(st));
    /* Every socket the process has, open or already closing: its exit
     * waits for each to be released. */
    n = atomic_load_explicit(&p->p_nhandles, memory_order_relaxed);
    atomic_store_explicit(&p->p_cleanups_total, n, memory_order_relaxed);
    atomic_store_explicit(&p->p_cleanups, n, memory_order_relaxed);
    atomic_store_explicit(&p->p_state, PROC_TERMINATING, memory_order_relaxed);
    rn__sock_spares_drop(p);
    if (n == 0) {
        proc_exit_finish(p);
        return;
    }
    exit_close_all(p);
}

bool rn__sock_proc_exit_once(struct rn_proc *p)
{
    if (atomic_exchange_explicit(&p->p_exit_called, true, memory_order_acq_rel))
        return false;
    rn_stack_post(p->p_stack, &p->p_exit_work, proc_exit_work);
    return true;
}

void rn_proc_exit(struct rn_proc *p)
{
    bool was = atomic_exchange_explicit(&p->p_exit_called, true, memory_order_acq_rel);

    assert(!was && "rn_proc_exit() called twice");
    (void)was;
    rn_stack_post(p->p_stack, &p->p_exit_work, proc_exit_work);
}

int rn_proc_set_owner(struct rn_proc *p, const char *owner)
{
    static pthread_mutex_t owner_lock = PTHREAD_MUTEX_INITIALIZER;
    int err = 0;

    if (owner == NULL || owner[0] == '\0' || strlen(owner) >= sizeof(p->p_owner))
        return RN_EINVAL;
    /* Set once: readers on other threads see either nothing or all of it. */
    pthread_mutex_lock(&owner_lock);
    if (atomic_load_explicit(&p->p_owner_set, memory_order_relaxed)) {
        err = RN_EBUSY;
    } else {
        memcpy(p->p_owner, owner, strlen(owner) + 1);
        atomic_store_explicit(&p->p_owner_set, true, memory_order_release);
    }
    pthread_mutex_unlock(&owner_lock);
    return err;
}

const char *rn_proc_owner(const struct rn_proc *p)
{
    return atomic_load_explicit(&p->p_owner_set, memory_order_acquire) ? p->p_owner : "";
}

uint32_t rn_proc_pid(const struct rn_proc *p)
{
    return atomic_load_explicit(&p->p_pid, memory_order_relaxed);
}

int rn_proc_set_pid(struct rn_proc *p, uint32_t pid)
{
    if (pid == 0)
        return RN_EINVAL;
    atomic_store_explicit(&p->p_pid, pid, memory_order_relaxed);
    return 0;
}

void rn_proc_set_exit_status(struct rn_proc *p, int status)
{
    atomic_store_explicit(&p->p_status, status < 0 ? -1 : status & 0xffff, memory_order_relaxed);
}

int rn_proc_exit_status(const struct rn_proc *p)
{
    return atomic_load_explicit(&p->p_status, memory_order_relaxed);
}

const char *rn_proc_name(const struct rn_proc *p)
{
    return p->p_name;
}

struct rn_stack *rn_proc_stack(const struct rn_proc *p)
{
    return p->p_stack;
}

unsigned rn_proc_handles(const struct rn_proc *p)
{
    return atomic_load_explicit(&p->p_nhandles, memory_order_relaxed);
}
