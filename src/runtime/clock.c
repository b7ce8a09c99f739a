/*
 * The process-wide clock source behind rn_clock_now() (see clock.h).
 *
 * The default source is CLOCK_MONOTONIC_COARSE: it is read from the vDSO
 * without touching the hardware clock, costs a few nanoseconds, and its jiffy
 * resolution is ample for reference ages.  The object manager reads it on
 * every first hold of a tag, so this is on the per-reference path.
 *
 * Stamps (rn_clock_stamp()) are cheaper still: a ticker thread reads the
 * default source every RN_CLOCK_TICK_NS and publishes it, as the kernel's
 * timer interrupt publishes jiffies, so that a stamp is one load.  The
 * ticker is a detached thread with every signal blocked; it is started by
 * the first object create and, after a fork(), by the child's first create
 * (the child has no ticker until then, and stamps read the clock).  It
 * parks while nothing stamps (clock.h): a daemon at rest is not woken
 * every tick.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "refnet/clock.h"

/* The ticker: TICKER_OFF, TICKER_ON, or TICKER_FAILED when the thread could
 * not be started (then stamps read the clock for the rest of the process). */
enum { TICKER_OFF, TICKER_ON, TICKER_FAILED };

_Atomic rn_time_t rn__clock_tick;
_Atomic int rn__clock_tick_used;
static _Atomic int ticker_state;
static pthread_once_t ticker_atfork_once = PTHREAD_ONCE_INIT;

/* [A] Published as one pointer so that a reader never sees fn without ctx. */
_Atomic(const struct rn__clock_source *) rn__clock_current;
static struct rn__clock_source clock_slots[2];
static unsigned clock_slot;

void rn_clock_set_source(rn_clock_fn fn, void *ctx)
{
    struct rn__clock_source *s;

    if (fn == NULL) {
        atomic_store_explicit(&rn__clock_current, NULL, memory_order_release);
        return;
    }
    /* Alternate slots so that a reader of the previous source keeps a
     * consistent pair; sources are installed at start-up, not raced. */
    s = &clock_slots[clock_slot++ & 1];
    s->cs_fn = fn;
    s->cs_ctx = ctx;
    atomic_store_explicit(&rn__clock_current, s, memory_order_release);
}

static rn_time_t clock_os(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (rn_time_t)ts.tv_sec * RN_NSEC_PER_SEC + (rn_time_t)ts.tv_nsec;
}

rn_time_t rn_clock_os_monotonic(void)
{
    return clock_os(CLOCK_MONOTONIC);
}

rn_time_t rn__clock_os_coarse(void)
{
    return clock_os(CLOCK_MONOTONIC_COARSE);
}

/* Whether anything stamped since the last call. */
static unsigned stamped(void)
{
    return (unsigned)atomic_exchange_explicit(&rn__clock_tick_used, 0, memory_order_relaxed);
}

/* Parked, until a look finds stamps and the ticks that follow find them in
 * a stream (clock.h). */
static void ticker_parked(void)
{
    const struct timespec period = {0, (long)RN_CLOCK_TICK_NS};
    const struct timespec park = {0, (long)RN_CLOCK_TICKER_PARK_NS};
    unsigned i, hits;

    /* Stamps read the clock meanwhile and say so in rn__clock_tick_used. */
    atomic_store_explicit(&rn__clock_tick, 0, memory_order_relaxed);
    stamped();
    for (;;) {
        nanosleep(&park, NULL);
        if (!stamped())
            continue;
        for (i = hits = 0; i < RN_CLOCK_TICKER_PROBE_TICKS; i++) {
            nanosleep(&period, NULL);
            hits += stamped();
        }
        if (hits >= RN_CLOCK_TICKER_PROBE_HITS)
            return;
    }
}

static void *ticker_main(void *arg)
{
    const struct timespec period = {0, (long)RN_CLOCK_TICK_NS};
    unsigned i, used;

    (void)arg;
    for (;;) {
        /* Ticking, a second at a time, while stamps come on nearly every
         * tick. */
        do {
            for (i = used = 0; i < RN_CLOCK_TICKER_IDLE_NS / RN_CLOCK_TICK_NS; i++) {
                atomic_store_explicit(&rn__clock_tick, clock_os(CLOCK_MONOTONIC_COARSE),
                                      memory_order_relaxed);
                used += stamped();
                nanosleep(&period, NULL);
            }
        } while (used >= RN_CLOCK_TICKER_BUSY_TICKS);
        ticker_parked();
    }
    return NULL;
}

/* In the child of a fork(): the ticker did not come along. */
static void ticker_forked(void)
{
    atomic_store_explicit(&rn__clock_tick, 0, memory_order_relaxed);
    atomic_store_explicit(&ticker_state, TICKER_OFF, memory_order_relaxed);
}

static void ticker_register_atfork(void)
{
    pthread_atfork(NULL, NULL, ticker_forked);
}

int rn_clock_ticker_start(void)
{
    int expect = TICKER_OFF, err;
    sigset_t all, old;
    pthread_attr_t attr;
    pthread_t th;

    if (atomic_load_explicit(&ticker_state, memory_order_relaxed) != TICKER_OFF ||
        !atomic_compare_exchange_strong(&ticker_state, &expect, TICKER_ON))
        return atomic_load(&ticker_state) == TICKER_FAILED ? EAGAIN : 0;
    pthread_once(&ticker_atfork_once, ticker_register_atfork);
    /* The first reading is published before any stamp can use the ticker. */
    atomic_store_explicit(&rn__clock_tick, clock_os(CLOCK_MONOTONIC_COARSE),
                          memory_order_relaxed);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    err = pthread_create(&th, &attr, ticker_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        atomic_store_explicit(&rn__clock_tick, 0, memory_order_relaxed);
        atomic_store(&ticker_state, TICKER_FAILED);
        return err;
    }
    pthread_setname_np(th, "rn-tick");
    return 0;
}

char *rn_fmt_age(rn_time_t age, char *buf, size_t len)
{
    unsigned long long ms = age / RN_NSEC_PER_MSEC;
    unsigned long long s = ms / 1000;

    if (ms < 1000)
        snprintf(buf, len, "%llums", ms);
    else if (s < 60)
        snprintf(buf, len, "%llu.%llus", s, (ms % 1000) / 100);
    else if (s < 3600)
        snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, len, "%lluh%02llum", s / 3600, (s % 3600) / 60);
    else
        snprintf(buf, len, "%llud%02lluh", s / 86400, (s % 86400) / 3600);
    return buf;
}
