/*
 * Timers on injected time: a binary min-heap of caller-owned timers.
 *
 * Each stack has one heap, run by its loop thread ([L]).  Timers are
 * embedded in the structures they serve (a TCP connection carries its
 * retransmission timer), so arming never allocates once the heap has grown
 * to its working size.  Timers due at the same instant fire in the order
 * they were armed, so a simulated run replays exactly.
 */
#ifndef REFNET_TIMER_H
#define REFNET_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "refnet/clock.h"

#define RN_TIMER_IDLE UINT32_MAX

struct rn_timer;
typedef void (*rn_timer_fn)(struct rn_timer *t, rn_time_t now);

struct rn_timer {
    rn_time_t tm_due;    /* [L] when it fires, while armed */
    uint64_t tm_seq;     /* [L] arming order, breaks ties */
    uint32_t tm_slot;    /* [L] index in the heap, RN_TIMER_IDLE when not armed */
    rn_timer_fn tm_fn;   /* [L] called once per arming, disarmed first */
};

struct rn_timer_heap {
    struct rn_timer **th_v;  /* [L] th_v[0] is the earliest */
    uint32_t th_n;           /* [L] armed timers */
    uint32_t th_cap;         /* [L] slots in th_v */
    uint64_t th_seq;         /* [L] next arming number */
};

/* Makes h an empty heap, owning no memory until a timer is armed. */
void rn_timer_heap_init(struct rn_timer_heap *h);
/* Frees the heap's array.  Armed timers are simply forgotten. */
void rn_timer_heap_fini(struct rn_timer_heap *h);

/* Prepares a timer that will call fn.  It starts disarmed. */
void rn_timer_init(struct rn_timer *t, rn_timer_fn fn);

/* Arms t to fire at due, moving it if it was armed.  Returns 0, or
 * RN_ENOMEM if the heap could not grow (t is then disarmed). */
int rn_timer_arm(struct rn_timer_heap *h, struct rn_timer *t, rn_time_t due);

/* Disarms t; harmless if it is not armed. */
void rn_timer_cancel(struct rn_timer_heap *h, struct rn_timer *t);

static inline bool rn_timer_armed(const struct rn_timer *t)
{
    return t->tm_slot != RN_TIMER_IDLE;
}

/* Returns the earliest due time, or 0 if nothing is armed. */
rn_time_t rn_timer_next(const struct rn_timer_heap *h);

/* Fires, in order, every timer due at or before now, including ones a
 * callback arms for a time <= now.  Returns how many fired. */
unsigned rn_timer_run(struct rn_timer_heap *h, rn_time_t now);

#endif /* REFNET_TIMER_H */
