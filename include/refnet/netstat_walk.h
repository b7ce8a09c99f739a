/*
 * The batched netstat: every TCP listener, connection and TIME_WAIT entry
 * and every bound UDP endpoint of a stack, found through the object
 * manager's registry (rn_ob_iter_*) in bounded batches, so that a listing
 * of 10,000 connections never holds the loop for more than a batch.
 *
 * A walk is itself an object, of type "enumeration" ("enumeration netstat
 * -a --refs: 3 batches, 412 rows"), live while it runs, which lets the
 * verdict engine tell an "enum" hold of a running enumeration from a leaked
 * one.  While it runs it holds, under "enum":
 *   - its cursor: the object the registry's iterator stands on, held from
 *     one batch to the next;
 *   - each listener it listed, until the end of the walk: listener rows
 *     come first in the output but are written last, with the number of
 *     connections the walk found on each ("conns"), and the listener's
 *     holders as they are then.  A listener that closes meanwhile is
 *     written and let go at the next batch.
 * Everything it took is dropped by the time done() runs (or cancel
 * returns), and the rows show the counts without the walk's own holds.
 *
 * Batches, in call order:
 *   rn_netstat_walk_start() -> the host calls rn_netstat_walk_resume():
 *     a batch: rows until the budget (measured with np_clock after every
 *     object) or the batch size is reached; the size adapts: halved after
 *     a batch that ran out of time, doubled after one that took under a
 *     quarter of it (8..4096 objects, from 32)
 *   -> np_yield() (more to do: the host calls resume again later, after
 *      letting the loop run: the daemon re-posts it as loop work, behind
 *      the stack's poll) or np_done() (the rows are in out).
 *
 * The injected fault (np_inject_enum_leak, `refnet daemon --inject
 * enum-leak`): the enumeration bug of the case (docs/design.md: a web
 * server that could not be stopped, 0x35 references leaked on its
 * listener by the path that enumerates connections for netstat).  When a batch resumes
 * and finds that the table changed under it (its cursor changed state or
 * died, endpoints came or went, a listener it keeps closed), the faulty
 * path restarts the walk for a consistent listing, at most 3 times, and
 * forgets the "enum" references of the listeners it kept.  Each lost hold
 * is recorded apart (the real bug recorded nothing) so that
 * rn_netstat_clear_leaks(), `refnet lab clear-leak`, can give them back.
 *
 * Thread safety: [L] the stack's loop thread; rn_netstat_clear_leaks() and
 * rn_netstat_leaked() [any].
 */
#ifndef REFNET_NETSTAT_WALK_H
#define REFNET_NETSTAT_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "refnet/clock.h"

struct rn_stack;
struct rn_strbuf;
struct rn_netstat_walk;

/* The batch time a walk aims at, well under the 1 ms a batch may hold the
 * loop. */
#define RN_NETSTAT_BUDGET ((rn_time_t)400 * 1000)

struct rn_netstat_params {
    bool np_all;          /* -a: listeners and unconnected UDP endpoints too */
    bool np_refs;         /* --refs: owner, refcount and holders per row */
    bool np_json;         /* a JSON array instead of a table */
    rn_time_t np_budget;  /* batch time; 0: RN_NETSTAT_BUDGET */
    unsigned np_batch;    /* > 0: fixed objects per batch; 0: adaptive */
    /* Measures batches (the daemon: rn_clock_os_monotonic()).  NULL: no
     * time budget, batches are counted in objects only (deterministic,
     * for the simulator). */
    rn_time_t (*np_clock)(void *ctx);
    /* Thread CPU time, for the statistics only; may be NULL. */
    rn_time_t (*np_cpu_clock)(void *ctx);
    /* More to do: arrange for rn_netstat_walk_resume(w) (or _cancel) to be
     * called later on the loop thread, after the loop ran. */
    void (*np_yield)(struct rn_netstat_walk *w, void *ctx);
    /* The walk is complete and the rows are in out; call
     * rn_netstat_walk_free(w) (here or later). */
    void (*np_done)(struct rn_netstat_walk *w, void *ctx);
    void *np_ctx;         /* for the three hooks */
    const char *np_what;  /* shown in the walk's description: "netstat -a"; copied */
    bool np_inject_enum_leak; /* the lab's fault (see above); off by default */
};

/* How a walk went. */
struct rn_netstat_stats {
    uint64_t nst_rows;          /* rows written */
    uint64_t nst_visited;       /* objects the iterators stepped over */
    uint32_t nst_batches;       /* batches run */
    uint32_t nst_restarts;      /* restarts (injected fault only) */
    uint32_t nst_leaked;        /* "enum" holds the fault lost */
    rn_time_t nst_longest;      /* longest batch, np_clock time (0 without it) */
    rn_time_t nst_longest_cpu;  /* longest batch in thread CPU time (0 without it) */
    rn_time_t nst_total;        /* all batches together */
    uint32_t nst_over_1ms;      /* batches that took more than 1 ms */
    uint32_t nst_over_1ms_cpu;  /* batches that took more than 1 ms of CPU */
};

/* Begins a walk of st whose rows go to out (text, or a JSON array, ending
 * in a newline); nothing runs before the first resume.  Returns 0 and *w,
 * or RN_ENOMEM. */
int rn_netstat_walk_start(struct rn_stack *st, const struct rn_netstat_params *params,
                          struct rn_strbuf *out, struct rn_netstat_walk **w);

/* Runs one batch; then np_yield() or np_done() is called, before this
 * returns. */
void rn_netstat_walk_resume(struct rn_netstat_walk *w);

/* Ends a walk that is not done (between batches; not from inside its
 * hooks): drops everything it holds and frees it.  out keeps what was
 * written so far. */
void rn_netstat_walk_cancel(struct rn_netstat_walk *w);

/* Frees a walk after np_done(). */
void rn_netstat_walk_free(struct rn_netstat_walk *w);

void rn_netstat_walk_stats(const struct rn_netstat_walk *w, struct rn_netstat_stats *out);

/* The lab: gives back every "enum" hold the injected fault lost, and
 * describes them in out (may be NULL): "tcp listener #5 0.0.0.0:80 x53".
 * Returns how many were given back. */
uint64_t rn_netstat_clear_leaks(struct rn_strbuf *out);
/* Holds lost by the fault and not given back yet. */
uint64_t rn_netstat_leaked(void);

#endif /* REFNET_NETSTAT_WALK_H */
