/*
 * The real-time loop (loop.h): epoll over the driven target's fds, a wake
 * eventfd and the host's own fds, with a timeout from the target's next
 * deadline and the loop's timer heap.
 *
 * One wake, in order (rn_loop_run() -> loop_wake()):
 *   sync the target's fds into epoll -> compute the timeout -> [busy poll:
 *   epoll_pwait2 without sleeping, for up to the --busy-poll window, or
 *   LOOP_FED_SPIN under a stream] -> epoll_pwait2
 *   -> now = rn_clock_os_monotonic() -> target poll -> host fd
 *   callbacks -> posted work -> due timers -> [while the target has posted
 *   work, at most LOOP_REPASSES times: target poll without its fds ->
 *   posted work] -> free deleted registrations.
 *
 * The repasses are what answers a request on the pass of its packet: the
 * packet's data reaches a socket in the target's poll, the socket's
 * completion runs as the loop's posted work and hands the answer back to
 * the target as its posted work, which would otherwise wait for the next
 * wake and an epoll call before it went out.
 *
 * Under a stream -- a wake that read frames less than LOOP_STREAM_GAP
 * after the last one that did -- the loop polls for LOOP_FED_SPIN before
 * it sleeps, as with --busy-poll: the next frames are there by then, and
 * a loop that slept between them made the sender wake it for each (when
 * the repasses first emptied the work a pass used to leave, a 2 GB
 * receive took 9,200 context switches instead of 7,300 and ran a tenth
 * slower; with the spin, 2,600-3,000 and faster than before).  A lone
 * request sleeps at once after its answer, spending nothing on a poll
 * that would find nothing (and the reader its answer woke may be waiting
 * for this CPU); so does a loop that read nothing.
 *
 * Host fd registrations are found through epoll's data pointer.  A
 * registration deleted during a wake is only marked dead and kept on a
 * graveyard list until the wake ends, so events already gathered for it are
 * skipped instead of reaching freed memory (libuv does the same with its
 * watcher queue).  The event array lives on the stack of rn_loop_run(): a
 * wake allocates nothing.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "refnet/error.h"
#include "refnet/loop.h"
#include "refnet/report.h"

/* Events gathered per wake; more stay pending for the next one. */
#define LOOP_EVENTS 64
/* Target polls after the first in one wake, for the work the host's
 * completions gave it back (see the top). */
#define LOOP_REPASSES 4
/* How long a loop under a stream polls before it sleeps, and the
 * longest gap between two wakes that read frames for them to be one
 * (see the top). */
#define LOOP_FED_SPIN (20 * RN_NSEC_PER_USEC)
#define LOOP_STREAM_GAP (200 * RN_NSEC_PER_USEC)

/* One host fd watched by the loop. */
struct loop_fd {
    struct loop_fd *lf_next;  /* [L] lp_fds, or lp_graveyard once dead */
    int lf_fd;                /* [L] the fd, not owned */
    uint32_t lf_events;       /* [L] the events asked for */
    rn_loop_fd_fn lf_fn;      /* [L] the callback */
    void *lf_ctx;             /* [L] its argument */
    bool lf_dead;             /* [L] deleted: skip events gathered for it */
};

struct rn_loop {
    int lp_epfd;                         /* [I] the epoll instance */
    int lp_wakefd;                       /* [I] eventfd written by wakes */
    bool lp_has_target;                  /* [I] lp_target is set */
    struct rn_loop_target lp_target;     /* [I] what the loop drives */
    int lp_tfds[RN_LOOP_TARGET_FDS_MAX]; /* [L] target fds now in epoll */
    size_t lp_ntfds;                     /* [L] entries of lp_tfds */
    bool lp_tfds_overflow_told;          /* [L] the too-many-fds report was made */
    struct loop_fd *lp_fds;              /* [L] live host fd registrations */
    struct loop_fd *lp_graveyard;        /* [L] deleted ones, freed after the wake */
    struct rn_timer_heap lp_timers;      /* [L] the loop's own timers */
    rn_time_t lp_now;                    /* [L] time of the current wake */
    bool lp_running;                     /* [L] inside rn_loop_run() */
    bool lp_no_pwait2;                   /* [L] the kernel lacks epoll_pwait2 */
    bool lp_stream;                      /* [L] the last wake read frames, shortly
                                            after another: poll before sleeping */
    rn_time_t lp_fed_at;                 /* [L] the last wake that read frames */
    rn_time_t lp_busy;                   /* [L] busy-poll window, 0: off */
    atomic_bool lp_stop;                 /* [A] rn_loop_stop() was called */
    pthread_mutex_t lp_work_lock;        /* protects lp_work_head/tail */
    struct rn_loop_work *lp_work_head;   /* posted work, oldest first */
    struct rn_loop_work *lp_work_tail;   /* last posted, NULL if none */
    struct rn_loop_stats lp_stats;       /* [L] counters */
};

/* epoll data of the eventfd; a target fd's is LOOP_TARGET_BIT | the fd
 * (no user-space pointer has that bit); host fds carry their struct
 * loop_fd. */
static char loop_tag_wake;
#define LOOP_TARGET_BIT (UINT64_C(1) << 63)

/* The loop this thread is running, NULL outside rn_loop_run().  A wake-up
 * asked for from inside the loop's own wake needs no eventfd write: the
 * loop looks for posted work and the target's work before every sleep
 * (loop_timeout()). */
static _Thread_local struct rn_loop *loop_running_here;

/* [any] The wake-up installed on the target, and used by stop and post. */
static void loop_wake_up(void *ctx)
{
    struct rn_loop *loop = ctx;
    uint64_t one = 1;
    ssize_t n;

    if (loop_running_here == loop)
        return;
    /* Never blocks: the fd is non-blocking and a full counter
     * (2^64 - 2 wakes unread) already means "wake". */
    do
        n = write(loop->lp_wakefd, &one, sizeof(one));
    while (n < 0 && errno == EINTR);
}

int rn_loop_create_driven(const struct rn_loop_target *target, struct rn_loop **out)
{
    struct epoll_event ev;
    struct rn_loop *loop;
    int err = RN_EIO;

    assert(out != NULL);
    *out = NULL;
    loop = calloc(1, sizeof(*loop));
    if (loop == NULL)
        return RN_ENOMEM;
    loop->lp_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->lp_epfd < 0)
        goto out_free_loop;
    loop->lp_wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->lp_wakefd < 0)
        goto out_close_epoll;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = &loop_tag_wake;
    if (epoll_ctl(loop->lp_epfd, EPOLL_CTL_ADD, loop->lp_wakefd, &ev) != 0)
        goto out_close_wakefd;
    if (pthread_mutex_init(&loop->lp_work_lock, NULL) != 0)
        goto out_close_wakefd;
    rn_timer_heap_init(&loop->lp_timers);
    atomic_init(&loop->lp_stop, false);
    loop->lp_now = rn_clock_os_monotonic();
    if (target != NULL) {
        assert(target->lt_poll != NULL && target->lt_next_deadline != NULL);
        loop->lp_target = *target;
        loop->lp_has_target = true;
        if (target->lt_set_wake != NULL)
            target->lt_set_wake(target->lt_ctx, loop_wake_up, loop);
    }
    *out = loop;
    return 0;

out_close_wakefd:
    close(loop->lp_wakefd);
out_close_epoll:
    close(loop->lp_epfd);
out_free_loop:
    free(loop);
    return err;
}

static void loop_free_fd_list(struct loop_fd *lf)
{
    while (lf != NULL) {
        struct loop_fd *next = lf->lf_next;

        free(lf);
        lf = next;
    }
}

void rn_loop_destroy(struct rn_loop *loop)
{
    if (loop == NULL)
        return;
    assert(!loop->lp_running);
    if (loop->lp_has_target && loop->lp_target.lt_set_wake != NULL)
        loop->lp_target.lt_set_wake(loop->lp_target.lt_ctx, NULL, NULL);
    loop_free_fd_list(loop->lp_fds);
    loop_free_fd_list(loop->lp_graveyard);
    rn_timer_heap_fini(&loop->lp_timers);
    pthread_mutex_destroy(&loop->lp_work_lock);
    close(loop->lp_wakefd);
    close(loop->lp_epfd);
    free(loop);
}

/* ---- Host fds ----------------------------------------------------------- */

static struct loop_fd *loop_find_fd(struct rn_loop *loop, int fd)
{
    struct loop_fd *lf;

    for (lf = loop->lp_fds; lf != NULL; lf = lf->lf_next) {
        if (lf->lf_fd == fd)
            return lf;
    }
    return NULL;
}

int rn_loop_add_fd(struct rn_loop *loop, int fd, uint32_t events, rn_loop_fd_fn fn, void *ctx)
{
    struct epoll_event ev;
    struct loop_fd *lf;

    assert(loop != NULL && fn != NULL && fd >= 0);
    if (loop_find_fd(loop, fd) != NULL)
        return RN_EEXIST;
    lf = calloc(1, sizeof(*lf));
    if (lf == NULL)
        return RN_ENOMEM;
    lf->lf_fd = fd;
    lf->lf_events = events;
    lf->lf_fn = fn;
    lf->lf_ctx = ctx;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = lf;
    if (epoll_ctl(loop->lp_epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        int e = errno;

        free(lf);
        return e == ENOMEM ? RN_ENOMEM : e == EEXIST ? RN_EEXIST : RN_EINVAL;
    }
    lf->lf_next = loop->lp_fds;
    loop->lp_fds = lf;
    return 0;
}

int rn_loop_mod_fd(struct rn_loop *loop, int fd, uint32_t events)
{
    struct epoll_event ev;
    struct loop_fd *lf = loop_find_fd(loop, fd);

    if (lf == NULL)
        return RN_ENOENT;
    if (lf->lf_events == events)
        return 0;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = lf;
    if (epoll_ctl(loop->lp_epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
        return RN_EINVAL;
    lf->lf_events = events;
    return 0;
}

int rn_loop_del_fd(struct rn_loop *loop, int fd)
{
    struct loop_fd **pp;

    for (pp = &loop->lp_fds; *pp != NULL; pp = &(*pp)->lf_next) {
        struct loop_fd *lf = *pp;

        if (lf->lf_fd != fd)
            continue;
        (void)epoll_ctl(loop->lp_epfd, EPOLL_CTL_DEL, fd, NULL);
        *pp = lf->lf_next;
        lf->lf_dead = true;
        lf->lf_next = loop->lp_graveyard;
        loop->lp_graveyard = lf;
        return 0;
    }
    return RN_ENOENT;
}

/* ---- Timers and posted work --------------------------------------------- */

int rn_loop_timer_arm(struct rn_loop *loop, struct rn_timer *t, rn_time_t due)
{
    return rn_timer_arm(&loop->lp_timers, t, due);
}

void rn_loop_timer_cancel(struct rn_loop *loop, struct rn_timer *t)
{
    rn_timer_cancel(&loop->lp_timers, t);
}

rn_time_t rn_loop_now(const struct rn_loop *loop)
{
    return loop->lp_now;
}

void rn_loop_post(struct rn_loop *loop, struct rn_loop_work *w, rn_loop_work_fn fn)
{
    assert(loop != NULL && w != NULL && fn != NULL);
    w->lw_next = NULL;
    w->lw_fn = fn;
    pthread_mutex_lock(&loop->lp_work_lock);
    if (loop->lp_work_tail != NULL)
        loop->lp_work_tail->lw_next = w;
    else
        loop->lp_work_head = w;
    loop->lp_work_tail = w;
    pthread_mutex_unlock(&loop->lp_work_lock);
    loop_wake_up(loop);
}

/* Runs the work posted before this call; work posted by the items runs at
 * the next wake. */
static void loop_run_work(struct rn_loop *loop)
{
    struct rn_loop_work *w;

    pthread_mutex_lock(&loop->lp_work_lock);
    w = loop->lp_work_head;
    loop->lp_work_head = NULL;
    loop->lp_work_tail = NULL;
    pthread_mutex_unlock(&loop->lp_work_lock);
    while (w != NULL) {
        struct rn_loop_work *next = w->lw_next;

        /* The item may be freed by its function. */
        w->lw_fn(loop, w);
        loop->lp_stats.ls_work++;
        w = next;
    }
}

void rn_loop_run_posted(struct rn_loop *loop)
{
    assert(!loop->lp_running);
    loop_run_work(loop);
}

static bool loop_work_pending(struct rn_loop *loop)
{
    bool pending;

    pthread_mutex_lock(&loop->lp_work_lock);
    pending = loop->lp_work_head != NULL;
    pthread_mutex_unlock(&loop->lp_work_lock);
    return pending;
}

/* ---- One wake ----------------------------------------------------------- */

static bool fd_in(const int *fds, size_t n, int fd)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (fds[i] == fd)
            return true;
    }
    return false;
}

/* Brings epoll in line with the fds the target asks for now.  An fd that
 * vanished from the target's list is deleted unless the host has since
 * registered the same number (the target closed it and the number was
 * reused). */
static void loop_sync_target_fds(struct rn_loop *loop)
{
    int fds[RN_LOOP_TARGET_FDS_MAX];
    struct epoll_event ev;
    size_t n, i;

    if (!loop->lp_has_target || loop->lp_target.lt_fds == NULL)
        return;
    n = loop->lp_target.lt_fds(loop->lp_target.lt_ctx, fds, RN_LOOP_TARGET_FDS_MAX);
    if (n > RN_LOOP_TARGET_FDS_MAX) {
        if (!loop->lp_tfds_overflow_told) {
            rn_report(RN_REPORT_INFO, "loop: the stack has %zu fds; only the first %d are watched\n",
                      n, RN_LOOP_TARGET_FDS_MAX);
            loop->lp_tfds_overflow_told = true;
        }
        n = RN_LOOP_TARGET_FDS_MAX;
    }
    if (n == loop->lp_ntfds && memcmp(fds, loop->lp_tfds, n * sizeof(int)) == 0)
        return;
    for (i = 0; i < loop->lp_ntfds; i++) {
        int fd = loop->lp_tfds[i];

        if (!fd_in(fds, n, fd) && loop_find_fd(loop, fd) == NULL)
            (void)epoll_ctl(loop->lp_epfd, EPOLL_CTL_DEL, fd, NULL);
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    for (i = 0; i < n; i++) {
        if (fd_in(loop->lp_tfds, loop->lp_ntfds, fds[i]))
            continue;
        ev.data.u64 = LOOP_TARGET_BIT | (uint32_t)fds[i];
        if (epoll_ctl(loop->lp_epfd, EPOLL_CTL_ADD, fds[i], &ev) != 0 && errno != EEXIST)
            rn_report(RN_REPORT_INFO, "loop: cannot watch stack fd %d: %s\n", fds[i],
                      strerror(errno));
    }
    memcpy(loop->lp_tfds, fds, n * sizeof(int));
    loop->lp_ntfds = n;
}

/* True if the target says it has posted work waiting. */
static bool loop_target_has_work(const struct rn_loop *loop)
{
    const struct rn_loop_target *t = &loop->lp_target;

    return loop->lp_has_target && t->lt_has_work != NULL && t->lt_has_work(t->lt_ctx);
}

/* Returns the epoll timeout for this wake in ns: 0 to not sleep, -1 for
 * none. */
static int64_t loop_timeout(struct rn_loop *loop)
{
    rn_time_t deadline = rn_timer_next(&loop->lp_timers);
    rn_time_t now;

    if (loop->lp_has_target) {
        struct rn_loop_target *t = &loop->lp_target;
        rn_time_t td;

        if (loop_target_has_work(loop))
            return 0;
        td = t->lt_next_deadline(t->lt_ctx);
        if (td != 0 && (deadline == 0 || td < deadline))
            deadline = td;
    }
    if (loop_work_pending(loop))
        return 0;
    if (deadline == 0)
        return -1;
    now = rn_clock_os_monotonic();
    if (deadline <= now)
        return 0;
    return (int64_t)(deadline - now);
}

static int loop_epoll_wait(struct rn_loop *loop, struct epoll_event *evs, int max, int64_t ns)
{
    struct timespec ts;
    int n;

    if (!loop->lp_no_pwait2) {
        ts.tv_sec = ns < 0 ? 0 : (time_t)(ns / (int64_t)RN_NSEC_PER_SEC);
        ts.tv_nsec = ns < 0 ? 0 : (long)(ns % (int64_t)RN_NSEC_PER_SEC);
        n = epoll_pwait2(loop->lp_epfd, evs, max, ns < 0 ? NULL : &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        loop->lp_no_pwait2 = true;
    }
    /* Older kernels: milliseconds, rounded up so that a deadline is never
     * woken for early and spun on. */
    if (ns < 0)
        return epoll_wait(loop->lp_epfd, evs, max, -1);
    ns = (ns + (int64_t)RN_NSEC_PER_MSEC - 1) / (int64_t)RN_NSEC_PER_MSEC;
    return epoll_wait(loop->lp_epfd, evs, max, ns > 3600000 ? 3600000 : (int)ns);
}

static void loop_drain_wakefd(struct rn_loop *loop)
{
    uint64_t count;

    while (read(loop->lp_wakefd, &count, sizeof(count)) < 0 && errno == EINTR)
        ;
}

/* Waits for events as loop_epoll_wait() with timeout ns, busy-polling
 * first if the loop does: epoll without sleeping until an event, the
 * window's end or the timeout's, then sleeping for what is left. */
static int loop_wait(struct rn_loop *loop, struct epoll_event *evs, int max, int64_t ns)
{
    rn_time_t window = loop->lp_busy, start, end, now;
    int n;

    if (loop->lp_stream && window < LOOP_FED_SPIN)
        window = LOOP_FED_SPIN;
    if (window == 0 || ns == 0)
        return loop_epoll_wait(loop, evs, max, ns);
    start = rn_clock_os_monotonic();
    end = start + (ns > 0 && (rn_time_t)ns < window ? (rn_time_t)ns : window);
    do {
        n = loop_epoll_wait(loop, evs, max, 0);
        if (n != 0) {
            loop->lp_stats.ls_busy_hits += n > 0;
            return n;
        }
        now = rn_clock_os_monotonic();
    } while (now < end && !atomic_load_explicit(&loop->lp_stop, memory_order_relaxed));
    loop->lp_stats.ls_busy_misses++;
    if (ns > 0)
        ns = now - start >= (rn_time_t)ns ? 0 : ns - (int64_t)(now - start);
    return loop_epoll_wait(loop, evs, max, ns);
}

/* One wake.  Returns 0, or RN_EIO if epoll failed. */
static int loop_wake(struct rn_loop *loop)
{
    struct epoll_event evs[LOOP_EVENTS];
    int ready[LOOP_EVENTS];
    size_t nready = 0;
    int n, i;

    loop_sync_target_fds(loop);
    n = loop_wait(loop, evs, LOOP_EVENTS, loop_timeout(loop));
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        rn_report(RN_REPORT_INFO, "loop: epoll wait failed: %s\n", strerror(errno));
        return RN_EIO;
    }
    loop->lp_now = rn_clock_os_monotonic();
    loop->lp_stats.ls_wakes++;
    for (i = 0; i < n; i++) {
        if (evs[i].data.ptr == &loop_tag_wake)
            loop_drain_wakefd(loop);
        else if (evs[i].data.u64 & LOOP_TARGET_BIT)
            ready[nready++] = (int)(uint32_t)evs[i].data.u64;
    }
    loop->lp_stream = nready > 0 && loop->lp_fed_at != 0 && loop->lp_now - loop->lp_fed_at < LOOP_STREAM_GAP;
    if (nready > 0)
        loop->lp_fed_at = loop->lp_now;
    if (loop->lp_has_target) {
        if (loop->lp_target.lt_poll_ready != NULL)
            loop->lp_target.lt_poll_ready(loop->lp_target.lt_ctx, loop->lp_now, ready, nready);
        else
            loop->lp_target.lt_poll(loop->lp_target.lt_ctx, loop->lp_now);
        loop->lp_stats.ls_polls++;
    }
    for (i = 0; i < n; i++) {
        struct loop_fd *lf;

        if (evs[i].data.ptr == &loop_tag_wake || (evs[i].data.u64 & LOOP_TARGET_BIT))
            continue;
        lf = evs[i].data.ptr;
        if (lf->lf_dead)
            continue;
        lf->lf_fn(loop, lf->lf_fd, evs[i].events, lf->lf_ctx);
        loop->lp_stats.ls_fd_events++;
    }
    loop_run_work(loop);
    loop->lp_stats.ls_timers += rn_timer_run(&loop->lp_timers, loop->lp_now);
    /* Repasses need lt_poll_ready: lt_poll would read every fd again. */
    for (i = 0; i < LOOP_REPASSES && loop->lp_target.lt_poll_ready != NULL && loop_target_has_work(loop);
         i++) {
        loop->lp_target.lt_poll_ready(loop->lp_target.lt_ctx, loop->lp_now, ready, 0);
        loop->lp_stats.ls_polls++;
        loop_run_work(loop);
    }
    loop_free_fd_list(loop->lp_graveyard);
    loop->lp_graveyard = NULL;
    return 0;
}

int rn_loop_run(struct rn_loop *loop)
{
    struct rn_loop *outer = loop_running_here;
    int err = 0;

    assert(loop != NULL && !loop->lp_running);
    loop->lp_running = true;
    loop_running_here = loop;
    while (!atomic_load_explicit(&loop->lp_stop, memory_order_acquire)) {
        err = loop_wake(loop);
        if (err != 0)
            break;
    }
    atomic_store_explicit(&loop->lp_stop, false, memory_order_relaxed);
    /* Forget the stop's own wake-up, so that the next run does not start
     * with a spurious wake.  Nothing is lost: posted work and the target's
     * work are checked before every sleep. */
    loop_running_here = outer;
    loop_drain_wakefd(loop);
    loop->lp_running = false;
    return err;
}

void rn_loop_stop(struct rn_loop *loop)
{
    atomic_store_explicit(&loop->lp_stop, true, memory_order_release);
    loop_wake_up(loop);
}

int rn_loop_set_busy_poll(struct rn_loop *loop, rn_time_t window)
{
    if (window > RN_LOOP_BUSY_POLL_MAX)
        return RN_EINVAL;
    loop->lp_busy = window;
    return 0;
}

void rn_loop_stats(const struct rn_loop *loop, struct rn_loop_stats *out)
{
    *out = loop->lp_stats;
}
