/*
 * Timers on injected time: a hierarchical timing wheel of caller-owned
 * timers.
 *
 * Each stack has one wheel, run by its loop thread ([L]).  Timers are
 * embedded in the structures they serve (a TCP connection carries its
 * retransmission timer) and linked into the wheel's slots, so arming,
 * re-arming and cancelling are O(1) and never allocate: the wheel's memory
 * is fixed, inside struct rn_timer_heap (whose name predates the wheel).
 *
 * Time is cut into ticks of 2^RN_TIMER_TICK_SHIFT ns.  Level L of the wheel
 * has RN_TIMER_SLOTS slots of RN_TIMER_SLOTS^L ticks each; a timer sits at
 * the lowest level whose slot holds its tick, and moves down (cascades) when
 * the wheel's time reaches that slot.  A timer's tick is only where it is
 * kept: timers fire exactly at their due time in ns, never a tick early,
 * and timers due at the same instant fire in the order they were armed, so
 * a simulated run replays exactly.
 */
#ifndef REFNET_TIMER_H
#define REFNET_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "refnet/clock.h"

#define RN_TIMER_IDLE UINT32_MAX

/* One tick is 2^20 ns (about 1 ms); 8 levels of 64 slots cover the 44 bits
 * of ticks in a 64-bit ns time. */
#define RN_TIMER_TICK_SHIFT 20
#define RN_TIMER_LEVEL_BITS 6
#define RN_TIMER_SLOTS (1u << RN_TIMER_LEVEL_BITS)
#define RN_TIMER_LEVELS 8

struct rn_timer;
typedef void (*rn_timer_fn)(struct rn_timer *t, rn_time_t now);

/* A link of a circular doubly-linked list; a slot's head is one too. */
struct rn_timer_link {
    struct rn_timer_link *tl_next;  /* [L] next in the list, or the head */
    struct rn_timer_link *tl_prev;  /* [L] previous in the list, or the head */
};

struct rn_timer {
    rn_time_t tm_due;              /* [L] when it fires, while armed */
    struct rn_timer_link tm_link;  /* [L] in its slot's list, while armed */
    rn_timer_fn tm_fn;             /* [L] called once per arming, disarmed first */
    uint32_t tm_slot;              /* [L] the list it is in (level * RN_TIMER_SLOTS + slot,
                                    * or the due list), RN_TIMER_IDLE when not armed */
};

/* The wheel.  It must not move in memory while initialised (the slots'
 * list heads point at themselves).  Invariants: every timer in th_due has
 * a tick <= th_tick and th_due is sorted by due time, then arming order;
 * every timer in th_slot has a tick > th_tick; every timer at level L has
 * the same bits as th_tick above level L's, so a lower level's timers are
 * all due before a higher level's; all timers of one tick share one list,
 * in arming order. */
struct rn_timer_heap {
    struct rn_timer_link th_slot[RN_TIMER_LEVELS][RN_TIMER_SLOTS];  /* [L] the slots */
    uint64_t th_used[RN_TIMER_LEVELS];  /* [L] bit s set iff th_slot[L][s] is not empty */
    struct rn_timer_link th_due;        /* [L] timers of past and current ticks, sorted */
    uint64_t th_tick;                   /* [L] the wheel's time, in ticks */
    uint32_t th_n;                      /* [L] armed timers */
    struct rn_timer *th_min;            /* [L] the earliest timer, NULL if not known */
};

/* Makes h an empty wheel.  Never allocates. */
void rn_timer_heap_init(struct rn_timer_heap *h);
/* Disarms every timer still armed (none fires) and empties the wheel. */
void rn_timer_heap_fini(struct rn_timer_heap *h);

/* Prepares a timer that will call fn.  It starts disarmed. */
void rn_timer_init(struct rn_timer *t, rn_timer_fn fn);

/* Arms t to fire at due, moving it if it was armed; it then fires after
 * every timer armed before it for the same due time.  O(1); returns 0 (the
 * wheel never allocates, so it cannot fail; callers may still check < 0). */
int rn_timer_arm(struct rn_timer_heap *h, struct rn_timer *t, rn_time_t due);

/* Disarms t; harmless if it is not armed.  O(1). */
void rn_timer_cancel(struct rn_timer_heap *h, struct rn_timer *t);

static inline bool rn_timer_armed(const struct rn_timer *t)
{
    return t->tm_slot != RN_TIMER_IDLE;
}

/* Returns the earliest due time, or 0 if nothing is armed.  O(1) while the
 * earliest timer is known; after it fires or is cancelled, the next call
 * looks it up in the first non-empty list (which is why h is not const). */
rn_time_t rn_timer_next(struct rn_timer_heap *h);

/* Fires, in order, every timer due at or before now, including ones a
 * callback arms for a time <= now.  A jump of now far ahead costs a step
 * per non-empty slot on the way, not per tick.  Returns how many fired. */
unsigned rn_timer_run(struct rn_timer_heap *h, rn_time_t now);

#endif /* REFNET_TIMER_H */
