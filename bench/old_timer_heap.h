/*
 * The binary min-heap of timers that the timing wheel (src/runtime/timer.c)
 * replaced, kept here only as bench-timer's reference.  Same contracts as
 * refnet/timer.h had: O(log n) arm and cancel, a realloc'd array of
 * pointers, ties broken by an arming number.
 */
#ifndef BENCH_OLD_TIMER_HEAP_H
#define BENCH_OLD_TIMER_HEAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "refnet/clock.h"

#define OH_IDLE UINT32_MAX

struct oh_timer;
typedef void (*oh_timer_fn)(struct oh_timer *t, rn_time_t now);

struct oh_timer {
    rn_time_t tm_due;    /* when it fires, while armed */
    uint64_t tm_seq;     /* arming order, breaks ties */
    uint32_t tm_slot;    /* index in the heap, OH_IDLE when not armed */
    oh_timer_fn tm_fn;   /* called once per arming, disarmed first */
};

struct oh_heap {
    struct oh_timer **th_v;  /* th_v[0] is the earliest */
    uint32_t th_n;           /* armed timers */
    uint32_t th_cap;         /* slots in th_v */
    uint64_t th_seq;         /* next arming number */
};

static inline bool oh_timer_armed(const struct oh_timer *t)
{
    return t->tm_slot != OH_IDLE;
}

static void oh_heap_init(struct oh_heap *h)
{
    h->th_v = NULL;
    h->th_n = 0;
    h->th_cap = 0;
    h->th_seq = 0;
}

static void oh_heap_fini(struct oh_heap *h)
{
    uint32_t i;

    for (i = 0; i < h->th_n; i++)
        h->th_v[i]->tm_slot = OH_IDLE;
    free(h->th_v);
    oh_heap_init(h);
}

static void oh_timer_init(struct oh_timer *t, oh_timer_fn fn)
{
    t->tm_due = 0;
    t->tm_seq = 0;
    t->tm_slot = OH_IDLE;
    t->tm_fn = fn;
}

static bool oh_before(const struct oh_timer *a, const struct oh_timer *b)
{
    return a->tm_due < b->tm_due || (a->tm_due == b->tm_due && a->tm_seq < b->tm_seq);
}

static void oh_set(struct oh_heap *h, uint32_t i, struct oh_timer *t)
{
    h->th_v[i] = t;
    t->tm_slot = i;
}

static void oh_sift_up(struct oh_heap *h, uint32_t i)
{
    struct oh_timer *t = h->th_v[i];

    while (i > 0) {
        uint32_t parent = (i - 1) / 2;

        if (!oh_before(t, h->th_v[parent]))
            break;
        oh_set(h, i, h->th_v[parent]);
        i = parent;
    }
    oh_set(h, i, t);
}

static void oh_sift_down(struct oh_heap *h, uint32_t i)
{
    struct oh_timer *t = h->th_v[i];

    for (;;) {
        uint32_t c = 2 * i + 1;

        if (c >= h->th_n)
            break;
        if (c + 1 < h->th_n && oh_before(h->th_v[c + 1], h->th_v[c]))
            c++;
        if (!oh_before(h->th_v[c], t))
            break;
        oh_set(h, i, h->th_v[c]);
        i = c;
    }
    oh_set(h, i, t);
}

/* Removes the timer at slot i. */
static void oh_remove(struct oh_heap *h, uint32_t i)
{
    struct oh_timer *t = h->th_v[i];
    struct oh_timer *last = h->th_v[--h->th_n];

    t->tm_slot = OH_IDLE;
    if (last == t)
        return;
    oh_set(h, i, last);
    if (i > 0 && oh_before(last, h->th_v[(i - 1) / 2]))
        oh_sift_up(h, i);
    else
        oh_sift_down(h, i);
}

static int oh_timer_arm(struct oh_heap *h, struct oh_timer *t, rn_time_t due)
{
    if (oh_timer_armed(t))
        oh_remove(h, t->tm_slot);
    if (h->th_n == h->th_cap) {
        uint32_t cap = h->th_cap ? h->th_cap * 2 : 64;
        struct oh_timer **v = realloc(h->th_v, cap * sizeof(*v));

        if (v == NULL)
            return (-1);
        h->th_v = v;
        h->th_cap = cap;
    }
    t->tm_due = due;
    t->tm_seq = h->th_seq++;
    h->th_v[h->th_n] = t;
    t->tm_slot = h->th_n++;
    oh_sift_up(h, t->tm_slot);
    return 0;
}

static void oh_timer_cancel(struct oh_heap *h, struct oh_timer *t)
{
    if (oh_timer_armed(t))
        oh_remove(h, t->tm_slot);
}

static rn_time_t oh_timer_next(struct oh_heap *h)
{
    return h->th_n ? h->th_v[0]->tm_due : 0;
}

static unsigned oh_timer_run(struct oh_heap *h, rn_time_t now)
{
    unsigned fired = 0;

    while (h->th_n > 0 && h->th_v[0]->tm_due <= now) {
        struct oh_timer *t = h->th_v[0];

        oh_remove(h, 0);
        t->tm_fn(t, now);
        fired++;
    }
    return fired;
}

#endif /* BENCH_OLD_TIMER_HEAP_H */
