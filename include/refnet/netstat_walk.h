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
 * The walk formats nothing: it hands its rows, as structs, to the caller's
 * np_row in their final order once the tables are walked (listeners
 * first, then connections, TIME_WAIT entries and UDP endpoints), in
 * batches bounded by the same budget.
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
#include "refnet/socket.h"
#include "refnet/tcp.h"
#include "refnet/transport.h"

struct rn_stack;
struct rn_strbuf;
struct rn_netstat_walk;

/* The most holders a row lists (the ledger's lines, largest first). */
#define RN_NETSTAT_HOLDERS_MAX 16

/* One holder of a row's object: a tag (object.h) and how many references
 * it holds. */
struct rn_netstat_holder {
    const char *nh_tag;   /* the tag's name: interned, valid for good */
    uint32_t nh_count;    /* references it holds */
};

/* A row of the walk: the transport's row (transport.h), as it was when the
 * walk listed it, with the counts and, with np_refs, the owner and the
 * holders.  The walk's own references are not counted. */
struct rn_netstat_walk_row {
    struct rn_netstat_row wr_row;   /* nr_ob is NULL: the object may be gone
                                       by the time the row is handed out */
    uint64_t wr_id;                 /* the object's id */
    unsigned wr_refs;               /* its reference count, the walk's
                                       own holds left out */
    long wr_conns;                  /* a listener: connections the walk found
                                       on it; -1 for any other row */
    /* With np_refs: */
    bool wr_has_owner;              /* a socket holds it (rn_sock_owner_of()) */
    struct rn_sock_owner wr_owner;  /* that socket, its process and owner */
    unsigned wr_nholders;           /* entries of wr_holders */
    struct rn_netstat_holder wr_holders[RN_NETSTAT_HOLDERS_MAX];
    /* With np_info, for a TCP connection: */
    bool wr_has_info;               /* wr_info is filled */
    struct rn_tcp_info wr_info;     /* what it knew about itself when listed
                                       (TCP_INFO, refnet/tcp.h) */
};

/* The batch time a walk aims at, well under the 1 ms a batch may hold the
 * loop. */
#define RN_NETSTAT_BUDGET ((rn_time_t)400 * 1000)

struct rn_netstat_params {
    bool np_all;          /* -a: listeners and unconnected UDP endpoints too */
    bool np_refs;         /* --refs: owner and holders per row */
    bool np_info;         /* -i: each TCP connection's statistics */
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
    /* One row, in the listing's order.  row is valid during the call only.
     * Called from inside rn_netstat_walk_resume(), in its last batches. */
    void (*np_row)(const struct rn_netstat_walk_row *row, void *ctx);
    /* The walk is complete: every row was handed out; call
     * rn_netstat_walk_free(w) (here or later). */
    void (*np_done)(struct rn_netstat_walk *w, void *ctx);
    void *np_ctx;         /* for the four hooks */
    const char *np_what;  /* shown in the walk's description: "netstat -a"; copied */
    bool np_inject_enum_leak; /* the lab's fault (see above); off by default */
};

/* How a walk went. */
struct rn_netstat_stats {
    uint64_t nst_rows;          /* rows handed out */
    uint64_t nst_visited;       /* objects the iterators stepped over */
    uint32_t nst_batches;       /* batches run */
    uint32_t nst_restarts;      /* restarts (injected fault only) */
    uint32_t nst_leaked;        /* "enum" holds the fault lost */
    rn_time_t nst_longest;      /* longest batch, np_clock time (0 without it) */
    rn_time_t nst_longest_cpu;  /* longest batch in thread CPU time (0 without it) */
    rn_time_t nst_total;        /* all batches together */
    uint32_t nst_over_1ms;      /* batches that took more than 1 ms */
    uint32_t nst_over_1ms_cpu;  /* batches that took more than 1 ms of CPU */
    uint64_t nst_lost;          /* rows lost for lack of memory */
};

/* [L] Begins a walk of st; nothing runs before the first resume.  Returns
 * 0 and *w, or RN_ENOMEM.  np_row, np_yield and np_done are required. */
int rn_netstat_walk_start(struct rn_stack *st, const struct rn_netstat_params *params,
                          struct rn_netstat_walk **w);

/* [L] Runs one batch; then np_yield() or np_done() is called, before this
 * returns.  A walk that ran short of memory for its rows hands out those
 * it could keep and says so in rn_netstat_walk_stats() (nst_lost). */
void rn_netstat_walk_resume(struct rn_netstat_walk *w);

/* [L] Ends a walk that is not done (between batches; not from inside its
 * hooks): drops everything it holds and frees it.  Rows already handed
 * out stay the caller's. */
void rn_netstat_walk_cancel(struct rn_netstat_walk *w);

/* [L] Frees a walk after np_done(). */
void rn_netstat_walk_free(struct rn_netstat_walk *w);

/* [L] How the walk went so far. */
void rn_netstat_walk_stats(const struct rn_netstat_walk *w, struct rn_netstat_stats *out);

/* One object the injected fault left "enum" holds on. */
struct rn_netstat_leak {
    uint64_t nl_id;         /* the object's id */
    const char *nl_desc;    /* its description, valid during the call */
    uint32_t nl_holds;      /* holds given back */
};
typedef void (*rn_netstat_leak_fn)(const struct rn_netstat_leak *leak, void *ctx);

/* [any] The lab: gives back every "enum" hold the injected fault lost,
 * telling fn (may be NULL) about each object before its holds go.
 * Returns how many holds were given back. */
uint64_t rn_netstat_clear_leaks(rn_netstat_leak_fn fn, void *ctx);
/* [any] Holds lost by the fault and not given back yet. */
uint64_t rn_netstat_leaked(void);

#endif /* REFNET_NETSTAT_WALK_H */
