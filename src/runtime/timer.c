/*
 * Timer heap (timer.h).
 */
#include <stdlib.h>

#include "refnet/error.h"
#include "refnet/timer.h"

void rn_timer_heap_init(struct rn_timer_heap *h)
{
    h->th_v = NULL;
    h->th_n = 0;
    h->th_cap = 0;
    h->th_seq = 0;
}

void rn_timer_heap_fini(struct rn_timer_heap *h)
{
    uint32_t i;

    for (i = 0; i < h->th_n; i++)
        h->th_v[i]->tm_slot = RN_TIMER_IDLE;
    free(h->th_v);
    rn_timer_heap_init(h);
}

void rn_timer_init(struct rn_timer *t, rn_timer_fn fn)
{
    t->tm_due = 0;
    t->tm_seq = 0;
    t->tm_slot = RN_TIMER_IDLE;
    t->tm_fn = fn;
}

static bool timer_before(const struct rn_timer *a, const struct rn_timer *b)
{
    return a->tm_due < b->tm_due || (a->tm_due == b->tm_due && a->tm_seq < b->tm_seq);
}

static void heap_set(struct rn_timer_heap *h, uint32_t i, struct rn_timer *t)
{
    h->th_v[i] = t;
    t->tm_slot = i;
}

static void sift_up(struct rn_timer_heap *h, uint32_t i)
{
    struct rn_timer *t = h->th_v[i];

    while (i > 0) {
        uint32_t parent = (i - 1) / 2;

        if (!timer_before(t, h->th_v[parent]))
            break;
        heap_set(h, i, h->th_v[parent]);
        i = parent;
    }
    heap_set(h, i, t);
}

static void sift_down(struct rn_timer_heap *h, uint32_t i)
{
    struct rn_timer *t = h->th_v[i];

    for (;;) {
        uint32_t c = 2 * i + 1;

        if (c >= h->th_n)
            break;
        if (c + 1 < h->th_n && timer_before(h->th_v[c + 1], h->th_v[c]))
            c++;
        if (!timer_before(h->th_v[c], t))
            break;
        heap_set(h, i, h->th_v[c]);
        i = c;
    }
    heap_set(h, i, t);
}

/* Removes the timer at slot i. */
static void heap_remove(struct rn_timer_heap *h, uint32_t i)
{
    struct rn_timer *t = h->th_v[i];
    struct rn_timer *last = h->th_v[--h->th_n];

    t->tm_slot = RN_TIMER_IDLE;
    if (last == t)
        return;
    heap_set(h, i, last);
    if (i > 0 && timer_before(last, h->th_v[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

int rn_timer_arm(struct rn_timer_heap *h, struct rn_timer *t, rn_time_t due)
{
    if (rn_timer_armed(t))
        heap_remove(h, t->tm_slot);
    if (h->th_n == h->th_cap) {
        uint32_t cap = h->th_cap ? h->th_cap * 2 : 64;
        struct rn_timer **v = realloc(h->th_v, cap * sizeof(*v));

        if (v == NULL)
            return RN_ENOMEM;
        h->th_v = v;
        h->th_cap = cap;
    }
    t->tm_due = due;
    t->tm_seq = h->th_seq++;
    h->th_v[h->th_n] = t;
    t->tm_slot = h->th_n++;
    sift_up(h, t->tm_slot);
    return 0;
}

void rn_timer_cancel(struct rn_timer_heap *h, struct rn_timer *t)
{
    if (rn_timer_armed(t))
        heap_remove(h, t->tm_slot);
}

rn_time_t rn_timer_next(const struct rn_timer_heap *h)
{
    return h->th_n ? h->th_v[0]->tm_due : 0;
}

unsigned rn_timer_run(struct rn_timer_heap *h, rn_time_t now)
{
    unsigned fired = 0;

    while (h->th_n > 0 && h->th_v[0]->tm_due <= now) {
        struct rn_timer *t = h->th_v[0];

        heap_remove(h, 0);
        t->tm_fn(t, now);
        fired++;
    }
    return fired;
}
