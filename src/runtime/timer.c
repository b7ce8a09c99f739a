/*
 * Timer wheel (timer.h): a hierarchical timing wheel with exact firing
 * order.
 *
 * A timer of tick d (d = due >> RN_TIMER_TICK_SHIFT) armed when the wheel's
 * time is th_tick goes
 *   - to the due list, in order, if d <= th_tick (it is due this tick or
 *     was due already);
 *   - otherwise to level L = the highest 6-bit group where d and th_tick
 *     differ, slot = d's bits in that group.
 * rn_timer_run() moves th_tick from one non-empty slot to the next (found
 * with the th_used bitmaps, so a jump of hours costs no more than a jump of
 * a tick): at the start of a higher-level slot its timers are placed again
 * relative to the new time (cascade); a level-0 slot, whose timers share
 * one tick, is sorted by due time (stable, keeping arming order) and
 * appended to the due list, from whose head timers fire while due <= now.
 * Every timer cascades at most RN_TIMER_LEVELS - 1 times in its life, and a
 * cancelled one never does.
 */
#include <assert.h>
#include <stddef.h>

#include "refnet/timer.h"

#define TIMER_DUE_LIST (RN_TIMER_LEVELS * RN_TIMER_SLOTS)
#define TIMER_NO_TICK UINT64_MAX

static struct rn_timer *link_timer(struct rn_timer_link *l)
{
    return (struct rn_timer *)((char *)l - offsetof(struct rn_timer, tm_link));
}

static void list_init(struct rn_timer_link *head)
{
    head->tl_next = head;
    head->tl_prev = head;
}

static bool list_empty(const struct rn_timer_link *head)
{
    return head->tl_next == head;
}

/* Inserts l after pos. */
static void list_insert_after(struct rn_timer_link *pos, struct rn_timer_link *l)
{
    l->tl_prev = pos;
    l->tl_next = pos->tl_next;
    pos->tl_next->tl_prev = l;
    pos->tl_next = l;
}

static void list_unlink(struct rn_timer_link *l)
{
    l->tl_prev->tl_next = l->tl_next;
    l->tl_next->tl_prev = l->tl_prev;
}

static uint64_t tick_of(rn_time_t due)
{
    return due >> RN_TIMER_TICK_SHIFT;
}

static unsigned slot_index(uint64_t tick, unsigned level)
{
    return (unsigned)(tick >> (level * RN_TIMER_LEVEL_BITS)) & (RN_TIMER_SLOTS - 1);
}

void rn_timer_heap_init(struct rn_timer_heap *h)
{
    unsigned l, s;

    for (l = 0; l < RN_TIMER_LEVELS; l++) {
        for (s = 0; s < RN_TIMER_SLOTS; s++)
            list_init(&h->th_slot[l][s]);
        h->th_used[l] = 0;
    }
    list_init(&h->th_due);
    h->th_tick = 0;
    h->th_n = 0;
    h->th_min = NULL;
}

static void list_disarm_all(struct rn_timer_link *head)
{
    while (!list_empty(head)) {
        struct rn_timer_link *l = head->tl_next;

        list_unlink(l);
        link_timer(l)->tm_slot = RN_TIMER_IDLE;
    }
}

void rn_timer_heap_fini(struct rn_timer_heap *h)
{
    unsigned l, s;

    for (l = 0; l < RN_TIMER_LEVELS; l++)
        for (s = 0; s < RN_TIMER_SLOTS; s++)
            list_disarm_all(&h->th_slot[l][s]);
    list_disarm_all(&h->th_due);
    rn_timer_heap_init(h);
}

void rn_timer_init(struct rn_timer *t, rn_timer_fn fn)
{
    t->tm_link.tl_next = NULL;
    t->tm_link.tl_prev = NULL;
    t->tm_due = 0;
    t->tm_fn = fn;
    t->tm_slot = RN_TIMER_IDLE;
}

/* Inserts t into the due list after every timer due at or before it: from
 * the tail, since a timer armed now is usually the latest. */
static void due_insert(struct rn_timer_heap *h, struct rn_timer *t)
{
    struct rn_timer_link *pos = h->th_due.tl_prev;

    while (pos != &h->th_due && link_timer(pos)->tm_due > t->tm_due)
        pos = pos->tl_prev;
    list_insert_after(pos, &t->tm_link);
    t->tm_slot = TIMER_DUE_LIST;
}

/* Appends t to the slot its tick belongs in, relative to th_tick; tick
 * must be > th_tick, or == th_tick while cascading (then level 0, whose slot
 * for th_tick is drained right after). */
static void slot_append(struct rn_timer_heap *h, struct rn_timer *t, uint64_t tick)
{
    uint64_t diff = tick ^ h->th_tick;
    unsigned level = diff ? (unsigned)(63 - __builtin_clzll(diff)) / RN_TIMER_LEVEL_BITS : 0;
    unsigned s = slot_index(tick, level);
    struct rn_timer_link *head = &h->th_slot[level][s];

    assert(level < RN_TIMER_LEVELS);
    list_insert_after(head->tl_prev, &t->tm_link);
    h->th_used[level] |= 1ull << s;
    t->tm_slot = level * RN_TIMER_SLOTS + s;
}

/* Takes t out of its list, clearing its slot's bit if it empties. */
static void timer_unlink(struct rn_timer_heap *h, struct rn_timer *t)
{
    uint32_t slot = t->tm_slot;

    list_unlink(&t->tm_link);
    if (slot != TIMER_DUE_LIST) {
        unsigned level = slot / RN_TIMER_SLOTS, s = slot % RN_TIMER_SLOTS;

        if (list_empty(&h->th_slot[level][s]))
            h->th_used[level] &= ~(1ull << s);
    }
    t->tm_slot = RN_TIMER_IDLE;
    if (h->th_min == t)
        h->th_min = NULL;
    h->th_n--;
}

int rn_timer_arm(struct rn_timer_heap *h, struct rn_timer *t, rn_time_t due)
{
    uint64_t tick = tick_of(due);

    assert(t->tm_fn != NULL);
    if (rn_timer_armed(t))
        timer_unlink(h, t);
    t->tm_due = due;
    if (tick <= h->th_tick)
        due_insert(h, t);
    else
        slot_append(h, t, tick);
    if (h->th_n++ == 0)
        h->th_min = t;
    else if (h->th_min != NULL && due < h->th_min->tm_due)
        h->th_min = t;
    return 0;
}

void rn_timer_cancel(struct rn_timer_heap *h, struct rn_timer *t)
{
    if (rn_timer_armed(t))
        timer_unlink(h, t);
}

/* Returns the level of the first non-empty slot after th_tick and sets
 * *tick to that slot's first tick; RN_TIMER_LEVELS if the wheel is empty.
 * Lower levels come first: their timers are all due before a higher
 * level's. */
static unsigned next_slot(const struct rn_timer_heap *h, uint64_t *tick)
{
    unsigned level;

    for (level = 0; level < RN_TIMER_LEVELS; level++) {
        unsigned shift = level * RN_TIMER_LEVEL_BITS;
        unsigned cur = slot_index(h->th_tick, level);
        uint64_t ahead = cur == RN_TIMER_SLOTS - 1 ? 0 : h->th_used[level] & (~0ull << (cur + 1));

        if (ahead != 0) {
            uint64_t above = h->th_tick >> (shift + RN_TIMER_LEVEL_BITS);

            *tick = (above << (shift + RN_TIMER_LEVEL_BITS)) |
                    ((uint64_t)__builtin_ctzll(ahead) << shift);
            return level;
        }
    }
    *tick = TIMER_NO_TICK;
    return RN_TIMER_LEVELS;
}

/* The earliest timer of a list: the first with the smallest due, so the
 * earliest armed among equals. */
static struct rn_timer *list_min(struct rn_timer_link *head)
{
    struct rn_timer *best = NULL;
    struct rn_timer_link *l;

    for (l = head->tl_next; l != head; l = l->tl_next)
        if (best == NULL || link_timer(l)->tm_due < best->tm_due)
            best = link_timer(l);
    return best;
}

rn_time_t rn_timer_next(struct rn_timer_heap *h)
{
    uint64_t tick;
    unsigned level;

    if (h->th_n == 0)
        return 0;
    if (h->th_min != NULL)
        return h->th_min->tm_due;
    if (!list_empty(&h->th_due)) {
        h->th_min = link_timer(h->th_due.tl_next);
    } else {
        level = next_slot(h, &tick);
        assert(level < RN_TIMER_LEVELS);
        h->th_min = list_min(&h->th_slot[level][slot_index(tick, level)]);
    }
    return h->th_min->tm_due;
}

/* Merges two NULL-terminated lists (through tl_next) sorted by due; a
 * comes first among equals, which keeps the sort stable. */
static struct rn_timer_link *merge(struct rn_timer_link *a, struct rn_timer_link *b)
{
    struct rn_timer_link head, *tail = &head;

    while (a != NULL && b != NULL) {
        if (link_timer(b)->tm_due < link_timer(a)->tm_due) {
            tail->tl_next = b;
            b = b->tl_next;
        } else {
            tail->tl_next = a;
            a = a->tl_next;
        }
        tail = tail->tl_next;
    }
    tail->tl_next = a != NULL ? a : b;
    return head.tl_next;
}

/* Sorts a NULL-terminated list by due, stably: a bottom-up merge sort with
 * runs[i] holding a sorted run of 2^i links (or NULL), no allocation. */
static struct rn_timer_link *sort_list(struct rn_timer_link *list)
{
    struct rn_timer_link *runs[64];  /* runs[0 .. top - 1] are set */
    struct rn_timer_link *result = NULL;
    unsigned i, top = 0;

    if (list == NULL || list->tl_next == NULL)
        return list;
    while (list != NULL) {
        struct rn_timer_link *one = list;

        list = list->tl_next;
        one->tl_next = NULL;
        /* Older runs hold earlier links: they go first in every merge. */
        for (i = 0; i < top && runs[i] != NULL; i++) {
            one = merge(runs[i], one);
            runs[i] = NULL;
        }
        if (i == top)
            top++;
        runs[i] = one;
    }
    for (i = 0; i < top; i++)
        if (runs[i] != NULL)
            result = merge(runs[i], result);
    return result;
}

/* Moves the level-0 slot of th_tick to the tail of the due list, sorted.
 * Every timer already in the due list has an earlier tick. */
static void drain_tick(struct rn_timer_heap *h)
{
    unsigned s = slot_index(h->th_tick, 0);
    struct rn_timer_link *head = &h->th_slot[0][s], *first, *l, *prev;

    if (list_empty(head))
        return;
    head->tl_prev->tl_next = NULL;
    first = sort_list(head->tl_next);
    list_init(head);
    h->th_used[0] &= ~(1ull << s);
    prev = h->th_due.tl_prev;
    for (l = first; l != NULL; l = l->tl_next) {
        prev->tl_next = l;
        l->tl_prev = prev;
        link_timer(l)->tm_slot = TIMER_DUE_LIST;
        prev = l;
    }
    prev->tl_next = &h->th_due;
    h->th_due.tl_prev = prev;
}

/* Places again, relative to th_tick, every timer of slot s of level. */
static void cascade(struct rn_timer_heap *h, unsigned level, unsigned s)
{
    struct rn_timer_link *head = &h->th_slot[level][s];
    struct rn_timer_link *l = head->tl_next;

    list_init(head);
    h->th_used[level] &= ~(1ull << s);
    while (l != head) {
        struct rn_timer_link *next = l->tl_next;
        struct rn_timer *t = link_timer(l);

        slot_append(h, t, tick_of(t->tm_due));
        l = next;
    }
}

/* Moves the wheel's time to tick, the first tick of the first non-empty
 * slot: cascades every slot that starts there (its timers land in lower
 * levels' slots after tick, or in tick's own level-0 slot), then drains the
 * tick's level-0 slot into the due list. */
static void advance_to(struct rn_timer_heap *h, uint64_t tick)
{
    unsigned level;

    h->th_tick = tick;
    for (level = RN_TIMER_LEVELS - 1; level > 0; level--) {
        unsigned shift = level * RN_TIMER_LEVEL_BITS;
        unsigned s = slot_index(tick, level);

        if ((tick & ((1ull << shift) - 1)) == 0 && (h->th_used[level] & (1ull << s)))
            cascade(h, level, s);
    }
    drain_tick(h);
}

/* rn_timer_run() once something may be due. */
__attribute__((noinline)) static unsigned run_due(struct rn_timer_heap *h, rn_time_t now)
{
    uint64_t target = tick_of(now);
    unsigned fired = 0;

    for (;;) {
        uint64_t tick;

        while (!list_empty(&h->th_due)) {
            struct rn_timer *t = link_timer(h->th_due.tl_next);

            if (t->tm_due > now)
                return fired;
            timer_unlink(h, t);
            t->tm_fn(t, now);
            fired++;
        }
        if (h->th_tick >= target || h->th_n == 0)
            break;
        next_slot(h, &tick);
        if (tick > target)
            break;
        advance_to(h, tick);
    }
    if (h->th_tick < target)
        h->th_tick = target;
    return fired;
}

unsigned rn_timer_run(struct rn_timer_heap *h, rn_time_t now)
{
    /* Nothing due: the known earliest timer is later.  The wheel's time
     * stays behind, which is allowed (it only places new timers higher). */
    if (h->th_n == 0 || (h->th_min != NULL && h->th_min->tm_due > now))
        return 0;
    return run_due(h, now);
}
