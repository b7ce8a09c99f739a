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
#include <time.h>

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

/* Returns now on the installed source. */
static inline rn_time_t rn_clock_now(void)
{
    const struct rn__clock_source *s =
        atomic_load_explicit(&rn__clock_current, memory_order_acquire);
    struct timespec ts;

    if (s != NULL)
        return s->cs_fn(s->cs_ctx);
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (rn_time_t)ts.tv_sec * RN_NSEC_PER_SEC + (rn_time_t)ts.tv_nsec;
}

/* Returns the OS monotonic clock at full resolution.  Only hosts and
 * benchmarks call this; the core uses rn_clock_now(). */
rn_time_t rn_clock_os_monotonic(void);

/* Formats a duration for people: "850ms", "31.2s", "4m05s", "2h10m", "3d04h".
 * Writes at most len bytes including the NUL; returns buf. */
char *rn_fmt_age(rn_time_t age, char *buf, size_t len);

#endif /* REFNET_CLOCK_H */
