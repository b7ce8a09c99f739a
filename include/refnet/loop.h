/*
 * The real-time loop: the host that runs one stack on the calling thread.
 *
 * This is the only place in refnet that reads the OS clock for the core.
 * Each wake of the loop:
 *
 *   epoll_pwait2(stack fds, wake eventfd, host fds; timeout = earliest of
 *                rn_stack_next_deadline() and the loop's own timers)
 *   now = rn_clock_os_monotonic()
 *   rn_stack_poll(st, now)        once, whatever number of fds were ready
 *   host fd callbacks             the control socket, the signalfd, ...
 *   posted loop work              rn_loop_post() from other threads
 *   due loop timers
 *
 * The clock is CLOCK_MONOTONIC, the same clock (and origin) as the default
 * source of rn_clock_now(), which reads its coarse variant; so the `now`
 * the stack is polled with and the ages in the object ledger agree.
 *
 * The loop drives "a target": rn_loop_create() drives a stack, and
 * rn_loop_create_driven() any set of functions of the same shape (the unit
 * tests drive a fake stack; NULL drives nothing, for a loop of host fds
 * only).  The target's fds are re-read at every wake, so interfaces added
 * while the loop runs are picked up.
 *
 * Thread safety: rn_loop_stop() and rn_loop_post() may be called from any
 * thread ([any]); everything else only on the loop's thread, or before
 * rn_loop_run() starts.  Callbacks run on the loop's thread.
 */
#ifndef REFNET_LOOP_H
#define REFNET_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/clock.h"
#include "refnet/timer.h"

struct rn_stack;
struct rn_loop;

/* The most fds a driven target may ask the loop to watch. */
#define RN_LOOP_TARGET_FDS_MAX 64

/* What a loop drives.  For a stack these are rn_stack_poll(),
 * rn_stack_next_deadline(), rn_stack_has_work(), rn_stack_fds() and
 * rn_stack_set_wake(); see stack.h for their contracts. */
struct rn_loop_target {
    void *lt_ctx;                                        /* handed to each */
    void (*lt_poll)(void *ctx, rn_time_t now);           /* once per wake */
    rn_time_t (*lt_next_deadline)(void *ctx);            /* 0: none */
    bool (*lt_has_work)(void *ctx);                      /* posted work waits */
    size_t (*lt_fds)(void *ctx, int *fds, size_t max);   /* readable fds */
    void (*lt_set_wake)(void *ctx, void (*wake)(void *wctx), void *wctx);
    /* May be NULL.  If set, called instead of lt_poll, with those of the
     * target's fds that epoll reported readable in this wake (level-
     * triggered: an fd left with data to read is reported again), so
     * the target need not try to read the others. */
    void (*lt_poll_ready)(void *ctx, rn_time_t now, const int *ready, size_t nready);
};

/* Creates a loop that drives stack st: installs the loop's wake-up on it
 * with rn_stack_set_wake().  The loop borrows st, which must outlive it.
 * Returns 0 and sets *out, or RN_ENOMEM / RN_EIO (epoll or eventfd could
 * not be created). */
int rn_loop_create(struct rn_stack *st, struct rn_loop **out);

/* Creates a loop that drives target (copied), or nothing if target is
 * NULL.  Returns as rn_loop_create(). */
int rn_loop_create_driven(const struct rn_loop_target *target, struct rn_loop **out);

/* Uninstalls the wake-up from the target and frees the loop.  Host fds
 * still registered are forgotten, not closed; armed timers are forgotten;
 * posted work that never ran is dropped (its poster owns it).  Must not be
 * called while rn_loop_run() runs.  NULL is allowed. */
void rn_loop_destroy(struct rn_loop *loop);

/* ---- Host fds ----------------------------------------------------------- */

/* Called on the loop thread with the epoll events that fired on fd
 * (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR...). */
typedef void (*rn_loop_fd_fn)(struct rn_loop *loop, int fd, uint32_t events, void *ctx);

/* Watches fd for events (EPOLLIN / EPOLLOUT, level-triggered) and calls fn
 * when any fire.  The loop does not own fd.  Returns 0, RN_EEXIST if fd is
 * already watched, RN_ENOMEM, or RN_EINVAL (epoll refused the fd). */
int rn_loop_add_fd(struct rn_loop *loop, int fd, uint32_t events, rn_loop_fd_fn fn, void *ctx);

/* Changes the events watched on fd.  Returns 0, or RN_ENOENT if fd is not
 * watched. */
int rn_loop_mod_fd(struct rn_loop *loop, int fd, uint32_t events);

/* Stops watching fd.  Safe inside any callback, including fd's own: fn is
 * never called for fd after this returns, even for events already
 * gathered in the current wake.  Call it before closing fd.  Returns 0, or
 * RN_ENOENT if fd is not watched. */
int rn_loop_del_fd(struct rn_loop *loop, int fd);

/* ---- Timers ------------------------------------------------------------- */

/* Arms t (rn_timer_init()'d by the caller, who owns it) to fire at due on
 * the loop's clock (rn_loop_now()); the callback gets the wake's now.
 * Returns 0 or RN_ENOMEM. */
int rn_loop_timer_arm(struct rn_loop *loop, struct rn_timer *t, rn_time_t due);
/* Disarms t; harmless if it is not armed. */
void rn_loop_timer_cancel(struct rn_loop *loop, struct rn_timer *t);

/* The time of the current wake (rn_clock_os_monotonic() read at its
 * start), or of loop creation before the first wake. */
rn_time_t rn_loop_now(const struct rn_loop *loop);

/* ---- Work from other threads ------------------------------------------- */

struct rn_loop_work;
typedef void (*rn_loop_work_fn)(struct rn_loop *loop, struct rn_loop_work *w);

/* Work for the loop thread, embedded in the poster's own structure so that
 * posting never allocates. */
struct rn_loop_work {
    struct rn_loop_work *lw_next;  /* the loop's queue */
    rn_loop_work_fn lw_fn;         /* run on the loop thread, once */
};

/* [any] Queues w to run fn on the loop thread at its next wake, in posting
 * order, and wakes the loop.  w must stay valid until fn has been called.
 * Work posted after rn_loop_run() returned runs at the next run, or is
 * dropped by rn_loop_destroy(). */
void rn_loop_post(struct rn_loop *loop, struct rn_loop_work *w, rn_loop_work_fn fn);

/* Runs, now, the work posted so far.  For shutdown paths that must see
 * posted completions through after rn_loop_run() has returned; the caller
 * is the loop's thread and rn_loop_run() is not running. */
void rn_loop_run_posted(struct rn_loop *loop);

/* ---- Running ------------------------------------------------------------ */

/* Runs the loop on the calling thread until rn_loop_stop().  Returns 0, or
 * RN_EIO if epoll failed for good (the error is reported). */
int rn_loop_run(struct rn_loop *loop);

/* The longest busy-poll window rn_loop_set_busy_poll() takes: 10 ms. */
#define RN_LOOP_BUSY_POLL_MAX RN_MSEC(10)

/* Before rn_loop_run(), or on the loop's thread: before each sleep, the
 * loop first polls its fds without sleeping for up to window (or until
 * its next deadline, if sooner), so that a packet arriving meanwhile is
 * taken without the wake-up of a sleeping thread; then it sleeps as
 * usual.  It spends that CPU on every idle moment: for users who trade a
 * core for latency.  0 (the default) turns it off.  Whatever the window,
 * under a stream (wakes that read frames from the target's fds less than
 * 200 us apart) the loop polls for at least 20 us (loop.c).  Returns 0, or
 * RN_EINVAL past RN_LOOP_BUSY_POLL_MAX. */
int rn_loop_set_busy_poll(struct rn_loop *loop, rn_time_t window);

/* [any] Makes rn_loop_run() return once the current wake is done.  A stop
 * requested before rn_loop_run() starts makes it return at once.
 * rn_loop_run() clears the request when it returns, so the loop may be run
 * again. */
void rn_loop_stop(struct rn_loop *loop);

/* Counters, for tests and `refnet status`. */
struct rn_loop_stats {
    uint64_t ls_wakes;        /* epoll waits that returned */
    uint64_t ls_polls;        /* calls to the target's poll */
    uint64_t ls_fd_events;    /* host fd callbacks made */
    uint64_t ls_work;         /* posted work items run */
    uint64_t ls_timers;       /* loop timers fired */
    uint64_t ls_busy_hits;    /* wakes whose events a busy poll found */
    uint64_t ls_busy_misses;  /* busy polls that found nothing and slept */
};
void rn_loop_stats(const struct rn_loop *loop, struct rn_loop_stats *out);

#endif /* REFNET_LOOP_H */
