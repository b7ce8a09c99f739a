/*
 * The runtime's part of a stack (runtime.h): time, timers, posted work,
 * slots, destroy hooks and counter hooks.
 *
 * Posted work is a lock-free stack of caller-owned items: a post is one
 * compare-and-swap, and the loop takes the whole queue in one exchange and
 * runs it oldest first.  Only the post that makes the queue non-empty
 * wakes the host.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "refnet/error.h"
#include "runtime/runtime.h"

struct rn__fini_hook {
    struct rn__fini_hook *fh_next;  /* newer first */
    rn_stack_fini_fn fh_fn;
    void *fh_ctx;
};

struct rn__stats_hook {
    struct rn__stats_hook *sh_next;  /* older first */
    rn_stack_stats_fn sh_fn;
    void *sh_ctx;
};

/* Slots handed out so far, process-wide. */
static _Atomic int slots_used;

void rn__stack_init(struct rn_stack *st, const char *name, uint64_t seed)
{
    snprintf(st->st_name, sizeof(st->st_name), "%s", name);
    st->st_seed = seed;
    rn_timer_heap_init(&st->st_timers);
    /* Until the host's first poll, the process clock stands in for now. */
    st->st_now = rn_clock_now();
}

void rn__stack_run_fini(struct rn_stack *st)
{
    struct rn__fini_hook *fh;

    st->st_destroying = true;
    while ((fh = st->st_fini) != NULL) {
        st->st_fini = fh->fh_next;
        fh->fh_fn(st, fh->fh_ctx);
        free(fh);
    }
}

void rn__stack_fini(struct rn_stack *st)
{
    struct rn__stats_hook *sh;

    assert(st->st_fini == NULL);
    rn_timer_heap_fini(&st->st_timers);
    while ((sh = st->st_stats) != NULL) {
        st->st_stats = sh->sh_next;
        free(sh);
    }
}

const char *rn_stack_name(const struct rn_stack *st)
{
    return st->st_name;
}

rn_time_t rn_stack_now(const struct rn_stack *st)
{
    return st->st_now;
}

struct rn_timer_heap *rn_stack_timers(struct rn_stack *st)
{
    return &st->st_timers;
}

uint64_t rn_stack_seed(const struct rn_stack *st)
{
    return st->st_seed;
}

/* ---- Slots ----------------------------------------------------------------- */

int rn_stack_slot_alloc(void)
{
    int n = atomic_load_explicit(&slots_used, memory_order_relaxed);

    do {
        if (n >= RN_STACK_SLOTS_MAX)
            return RN_ENOSPC;
    } while (!atomic_compare_exchange_weak_explicit(&slots_used, &n, n + 1,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed));
    return n;
}

void *rn_stack_slot(const struct rn_stack *st, int slot)
{
    assert(slot >= 0 && slot < RN_STACK_SLOTS_MAX);
    return st->st_slots[slot];
}

void rn_stack_set_slot(struct rn_stack *st, int slot, void *state)
{
    assert(slot >= 0 && slot < RN_STACK_SLOTS_MAX);
    st->st_slots[slot] = state;
}

/* ---- Hooks ----------------------------------------------------------------- */

int rn_stack_on_destroy(struct rn_stack *st, rn_stack_fini_fn fn, void *ctx)
{
    struct rn__fini_hook *fh = malloc(sizeof(*fh));

    if (fh == NULL)
        return RN_ENOMEM;
    fh->fh_fn = fn;
    fh->fh_ctx = ctx;
    fh->fh_next = st->st_fini;
    st->st_fini = fh;
    return 0;
}

int rn_stack_add_stats(struct rn_stack *st, rn_stack_stats_fn fn, void *ctx)
{
    struct rn__stats_hook *sh = malloc(sizeof(*sh)), **pp;

    if (sh == NULL)
        return RN_ENOMEM;
    sh->sh_fn = fn;
    sh->sh_ctx = ctx;
    sh->sh_next = NULL;
    for (pp = &st->st_stats; *pp != NULL; pp = &(*pp)->sh_next)
        ;
    *pp = sh;
    return 0;
}

void rn__stack_each_counter(struct rn_stack *st,
                            void (*fn)(const struct rn_stack_counter *c, void *ctx),
                            void *ctx)
{
    struct rn_stack_counter more[RN_STACK_STATS_MAX];
    const struct rn__stats_hook *sh;
    unsigned i, n;

    for (sh = st->st_stats; sh != NULL; sh = sh->sh_next) {
        n = sh->sh_fn(st, sh->sh_ctx, more, RN_STACK_STATS_MAX);
        for (i = 0; i < n && i < RN_STACK_STATS_MAX; i++)
            fn(&more[i], ctx);
    }
}

/* ---- Posted work ------------------------------------------------------------- */

void rn_stack_post(struct rn_stack *st, struct rn_work *w, rn_work_fn fn)
{
    struct rn_work *head = atomic_load_explicit(&st->st_posted, memory_order_relaxed);

    w->wk_fn = fn;
    do {
        w->wk_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&st->st_posted, &head, w,
                                                    memory_order_release,
                                                    memory_order_relaxed));
    /* Only the post that makes the queue non-empty needs to wake the loop:
     * the loop empties it in one exchange. */
    if (head == NULL && st->st_wake != NULL)
        st->st_wake(st->st_wake_ctx);
}

void rn_stack_set_wake(struct rn_stack *st, void (*wake)(void *ctx), void *ctx)
{
    st->st_wake = wake;
    st->st_wake_ctx = ctx;
}

bool rn_stack_has_work(struct rn_stack *st)
{
    return atomic_load_explicit(&st->st_posted, memory_order_acquire) != NULL;
}

void rn__stack_run_posted(struct rn_stack *st)
{
    struct rn_work *list, *rev = NULL, *w;

    list = atomic_exchange_explicit(&st->st_posted, NULL, memory_order_acquire);
    while (list != NULL) {
        w = list;
        list = w->wk_next;
        w->wk_next = rev;
        rev = w;
    }
    while (rev != NULL) {
        w = rev;
        rev = w->wk_next;
        w->wk_next = NULL;
        w->wk_fn(st, w);
    }
}
