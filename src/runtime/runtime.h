/*
 * The runtime's side of a stack, for the network layer that builds stacks
 * on it (src/net/stack.c).  Shared across folders; not public.
 *
 * struct rn_stack is the runtime's part of a stack: time, timers, posted
 * work, slots, destroy hooks and counter hooks.  The network layer's own
 * stack structure begins with it, so that the handle every layer passes
 * around (struct rn_stack *) is the runtime's and the network layer's at
 * once, and neither costs an indirection to reach.
 *
 * Legend: [L] loop thread only; [I] immutable after creation; [A] atomic.
 */
#ifndef REFNET_RUNTIME_RUNTIME_H
#define REFNET_RUNTIME_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "refnet/runtime.h"
#include "refnet/timer.h"

struct rn__fini_hook;
struct rn__stats_hook;

struct rn_stack {
    char st_name[32];                        /* [I] */
    uint64_t st_seed;                        /* [I] */
    rn_time_t st_now;                        /* [L] time of the current poll */
    bool st_destroying;                      /* [L] rn_stack_destroy() began */
    struct rn_timer_heap st_timers;          /* [L] */
    void *st_slots[RN_STACK_SLOTS_MAX];      /* [L] per-layer state */
    struct rn__fini_hook *st_fini;           /* [L] newest first */
    struct rn__stats_hook *st_stats;         /* [L] oldest first */
    _Atomic(struct rn_work *) st_posted;     /* [A] posted work, newest first */
    void (*st_wake)(void *ctx);              /* [I] once the loop runs */
    void *st_wake_ctx;                       /* [I] its argument */
};

/* Prepares st's runtime part: name (truncated to 31 bytes), seed, a
 * timer heap, now from the process clock until the host's first poll. */
void rn__stack_init(struct rn_stack *st, const char *name, uint64_t seed);

/* Marks st destroying and runs its destroy hooks, newest first, each
 * once.  Work they post is left for the caller's polls. */
void rn__stack_run_fini(struct rn_stack *st);

/* Frees what rn__stack_init() and the hooks' registrations took. */
void rn__stack_fini(struct rn_stack *st);

/* Runs everything posted so far, oldest first. */
void rn__stack_run_posted(struct rn_stack *st);

/* Calls fn(counter, ctx) for each counter the layers above registered
 * (rn_stack_add_stats()), hook by hook in order of registration. */
void rn__stack_each_counter(struct rn_stack *st,
                            void (*fn)(const struct rn_stack_counter *c, void *ctx),
                            void *ctx);

#endif /* REFNET_RUNTIME_RUNTIME_H */
