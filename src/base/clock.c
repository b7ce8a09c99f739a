/*
 * The process-wide clock source behind rn_clock_now() (see clock.h).
 *
 * The default source is CLOCK_MONOTONIC_COARSE: it is read from the vDSO
 * without touching the hardware clock, costs a few nanoseconds, and its jiffy
 * resolution is ample for reference ages.  The object manager reads it on
 * every first hold of a tag, so this is on the per-reference path.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "refnet/clock.h"

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
