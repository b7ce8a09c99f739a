/*
 * The runtime a stack runs on: its time, its timers, work posted to its
 * loop, per-stack slots for the layers and plug-ins above, the hooks run
 * when it is destroyed, and the counters those layers contribute.
 *
 * A stack (stack.h) is driven by one host — the real-time loop (loop.h) or
 * the simulator (sim.h) — which hands it `now` at every poll.  Code that
 * runs on the stack's loop thread reads time from the stack, never from
 * the OS, so a simulated run replays exactly.
 *
 * Thread safety: functions marked [any] may be called from any thread; all
 * others only on the stack's loop thread ([L]), or before its loop starts.
 */
#ifndef REFNET_RUNTIME_H
#define REFNET_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "refnet/clock.h"
#include "refnet/timer.h"

struct rn_stack;

/* ---- Time, timers and identity ------------------------------------------ */

/* [L] The time of the poll in progress (before the first poll: the time
 * the stack was created). */
rn_time_t rn_stack_now(const struct rn_stack *st);

/* [L] The stack's timer heap.  Timers armed on it fire during
 * rn_stack_poll(), on the loop thread, in order of due time. */
struct rn_timer_heap *rn_stack_timers(struct rn_stack *st);

/* [any] The stack's seed (stack.h, sp_seed): the key of its hashes (ISNs,
 * ephemeral ports, IP ids), so that one seed gives one run. */
uint64_t rn_stack_seed(const struct rn_stack *st);

/* [any] The stack's name, as given at creation ("refnet" by default). */
const char *rn_stack_name(const struct rn_stack *st);

/* ---- Posted work --------------------------------------------------------- */

/* Work posted to the loop.  Embedded in the poster's own request, so that
 * posting never allocates. */
struct rn_work;
typedef void (*rn_work_fn)(struct rn_stack *st, struct rn_work *w);
struct rn_work {
    struct rn_work *wk_next;  /* the stack's queue */
    rn_work_fn wk_fn;         /* run on the loop thread, once */
};

/* [any] Queues w to run on the loop thread at its next poll, in posting
 * order per thread, and wakes the host.  w must stay valid until wk_fn
 * has been called. */
void rn_stack_post(struct rn_stack *st, struct rn_work *w, rn_work_fn fn);

/* Installs the host's wake-up, called [any thread] when posted work makes
 * the queue non-empty (the real-time loop writes its eventfd; the
 * simulator needs none).  Called by the host before its loop runs. */
void rn_stack_set_wake(struct rn_stack *st, void (*wake)(void *ctx), void *ctx);

/* [any] True if posted work is waiting. */
bool rn_stack_has_work(struct rn_stack *st);

/* ---- Slots: per-stack state of the layers above -------------------------- */

/* The most slots a process hands out. */
#define RN_STACK_SLOTS_MAX 16

/* [any] Hands out a slot number, the same in every stack of the process,
 * under which a layer or a plug-in keeps its per-stack state (as lwIP's
 * netif_alloc_client_data_id()).  Call it once per client, in its one-time
 * set-up.  Returns the slot (>= 0) or RN_ENOSPC when all are taken. */
int rn_stack_slot_alloc(void);

/* [L] The state set under slot, or NULL if none was.  slot must come from
 * rn_stack_slot_alloc(). */
void *rn_stack_slot(const struct rn_stack *st, int slot);

/* [L] Sets (or with NULL clears) the state under slot.  The stack never
 * frees it: its owner does, typically in a destroy hook. */
void rn_stack_set_slot(struct rn_stack *st, int slot, void *state);

/* ---- Destruction hooks ---------------------------------------------------- */

/* A hook run while the stack is being destroyed, before its interfaces
 * go, so that transports, sockets and plug-ins can run their objects
 * down. */
typedef void (*rn_stack_fini_fn)(struct rn_stack *st, void *ctx);

/* [L] Registers fn(st, ctx) to run in rn_stack_destroy().  Hooks run in
 * reverse order of registration, each once.  Returns 0 or RN_ENOMEM. */
int rn_stack_on_destroy(struct rn_stack *st, rn_stack_fini_fn fn, void *ctx);

/* ---- Counters from the layers above --------------------------------------- */

/* One named counter. */
struct rn_stack_counter {
    const char *sc_name;  /* "udp.no_port"; valid while the stack lives */
    uint64_t sc_value;
};

/* The most counters one hook reports. */
#define RN_STACK_STATS_MAX 32

/* Fills at most max entries of out with the hook's counters and returns
 * how many it filled.  Runs on the loop thread. */
typedef unsigned (*rn_stack_stats_fn)(struct rn_stack *st, void *ctx,
                                      struct rn_stack_counter *out, unsigned max);

/* [L] Registers a counters hook: its counters are listed after the
 * network layer's own (rn_stack_counters(), `refnet stat`), hooks in order
 * of registration.  Returns 0 or RN_ENOMEM.  Hooks live until the stack is
 * destroyed. */
int rn_stack_add_stats(struct rn_stack *st, rn_stack_stats_fn fn, void *ctx);

#endif /* REFNET_RUNTIME_H */
