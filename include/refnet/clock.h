/*
 * Injected time.
 *
 * refnet's core never reads the OS clock.  The object manager, the protocol
 * timers and the watchdog all ask rn_clock_now(), whose source the host
 * installs: the real-time host leaves the default (the OS monotonic clock at
 * jiffy resolution, cheap enough for every reference), the simulator installs
 * its virtual clock so that a run replays exactly from its seed.
 */
#ifndef REFNET_CLOCK_H
#define REFNET_CLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Nanoseconds on a monotonic clock whose origin is the source's own. */
typedef uint64_t rn_time_t;

#define RN_NSEC_PER_USEC 1000ull
#define RN_NSEC_PER_MSEC 1000000ull
#define RN_NSEC_PER_SEC 1000000000ull
#define RN_MSEC(ms) ((rn_time_t)(ms) * RN_NSEC_PER_MSEC)
#define RN_SEC(s) ((rn_time_t)(s) * RN_NSEC_PER_SEC)

/* A clock source: returns now.  Must be callable from any thread. */
typedef rn_time_t (*rn_clock_fn)(void *ctx);

/* Installs a clock source for the whole process, or with fn == NULL restores
 * the default OS monotonic clock.  Install it before objects exist: ages are
 * only meaningful on one clock. */
void rn_clock_set_source(rn_clock_fn fn, void *ctx);

/* The installed source; NULL for the OS default.  Internal to
 * rn_clock_now(), which the object manager calls on every first hold of a
 * tag, so it is inline. */
struct rn__clock_source {
    rn_clock_fn cs_fn;  /* returns now */
    void *cs_ctx;       /* its argument */
};
extern _Atomic(const struct rn__clock_source *) rn__clock_current;

/* The default source: CLOCK_MONOTONIC_COARSE.  Internal to
 * rn_clock_now(). */
rn_time_t rn__clock_os_coarse(void);

/* [any] Returns now on the installed source. */
static inline rn_time_t rn_clock_now(void)
{
    const struct rn__clock_source *s =
        atomic_load_explicit(&rn__clock_current, memory_order_acquire);

    if (s != NULL)
        return s->cs_fn(s->cs_ctx);
    return rn__clock_os_coarse();
}

/* Returns the OS monotonic clock at full resolution.  Only hosts and
 * benchmarks call this; the core uses rn_clock_now(). */
rn_time_t rn_clock_os_monotonic(void);

/*
 * Stamps: a cheaper "now" for the per-reference path.
 *
 * The object manager stamps a ledger line each time a holder's count rises
 * from zero.  Reading the clock costs more than the reference itself
 * (clock_gettime() through the vDSO is ~5 ns, a locked increment ~2 ns), so
 * on the default source a stamp is a value a ticker thread publishes every
 * RN_CLOCK_TICK_NS, the way the kernel's jiffies are: one load from a line
 * that changes a few hundred times a second.
 *
 * A stamp is never later than rn_clock_now() and lags it by at most one
 * tick plus however long the ticker waits for a CPU, so an age computed as
 * rn_clock_now() - stamp is never negative and errs long, never short.
 * With a source installed (the simulator, tests), a stamp is exactly that
 * source's now, so runs still replay from their seed.  Until the ticker
 * runs (or in the child of a fork(), which has no ticker), a stamp falls
 * back to rn_clock_now().
 *
 * A tick costs a thread's wake-up, tens of microseconds of CPU on a
 * virtual machine; it saves a few nanoseconds a stamp.  So the ticker runs
 * only while stamps come in a stream, and parks when they came on fewer
 * than RN_CLOCK_TICKER_BUSY_TICKS of the ticks of the last
 * RN_CLOCK_TICKER_IDLE_NS: it publishes 0 (stamps read the clock, as
 * without a ticker) and looks every RN_CLOCK_TICKER_PARK_NS whether
 * anything stamped.  When something did, it watches the next
 * RN_CLOCK_TICKER_PROBE_TICKS ticks' worth of time and resumes if stamps
 * came on RN_CLOCK_TICKER_PROBE_HITS of them.  A process at rest, one
 * whose only stamps are a watchdog's scan twice a second, or one that
 * answers a request every few milliseconds (a ping-pong at 100 round
 * trips a second: the ticker took a third of the daemon's CPU there) is
 * not woken 250 times a second, and a wake-up that stamps nothing (a ping
 * answered) does not share the CPUs with the ticker's.  At the resumption
 * a stamp may be one tick earlier than the clock read its thread took
 * just before (still never later than now).
 */
#define RN_CLOCK_TICK_NS RN_MSEC(4)
#define RN_CLOCK_TICKER_IDLE_NS RN_SEC(1)
#define RN_CLOCK_TICKER_BUSY_TICKS 225
#define RN_CLOCK_TICKER_PARK_NS RN_MSEC(250)
#define RN_CLOCK_TICKER_PROBE_TICKS 10
#define RN_CLOCK_TICKER_PROBE_HITS 9

/* [A] The ticker's latest reading of the default source; 0 when no ticker
 * runs or it is parked.  Internal to rn_clock_stamp(). */
extern _Atomic rn_time_t rn__clock_tick;
/* [A] Whether anything stamped since the ticker last looked; a reader sets
 * it only when clear, so it is written a few hundred times a second at
 * most.  Internal to rn_clock_tick(). */
extern _Atomic int rn__clock_tick_used;

/* The latest tick, or 0 when a stamp must read the clock instead (a source
 * is installed, or no ticker runs or it is parked).  For paths that would
 * rather take a slower road than call out. */
static inline rn_time_t rn_clock_tick(void)
{
    if (__builtin_expect(atomic_load_explicit(&rn__clock_current, memory_order_relaxed) != NULL,
                         0))
        return 0;
    if (__builtin_expect(!atomic_load_explicit(&rn__clock_tick_used, memory_order_relaxed), 0))
        atomic_store_explicit(&rn__clock_tick_used, 1, memory_order_relaxed);
    return atomic_load_explicit(&rn__clock_tick, memory_order_relaxed);
}

/* Returns now, at tick resolution. */
static inline rn_time_t rn_clock_stamp(void)
{
    rn_time_t t = rn_clock_tick();

    return __builtin_expect(t != 0, 1) ? t : rn_clock_now();
}

/* Starts the ticker behind rn_clock_stamp() if it is not running.  Cheap
 * when it is; the object manager calls it on every create.  Returns 0, or
 * an errno value if the thread could not be started (stamps then read the
 * clock). */
int rn_clock_ticker_start(void);

/* Formats a duration for people: "850ms", "31.2s", "4m05s", "2h10m", "3d04h".
 * Writes at most len bytes including the NUL; returns buf. */
char *rn_fmt_age(rn_time_t age, char *buf, size_t len);

#endif /* REFNET_CLOCK_H */
