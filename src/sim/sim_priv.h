/*
 * Simulator internals shared by src/sim/sim.c (the run loop and the
 * network) and src/sim/sim_trace.c (the trace filter and the frame
 * summaries).
 *
 * Everything here belongs to the simulating thread ([L]) except the
 * virtual clock, which the process clock source reads from any thread [A].
 */
#ifndef REFNET_SIM_PRIV_H
#define REFNET_SIM_PRIV_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "refnet/link.h"
#include "refnet/sim.h"
#include "refnet/strbuf.h"

/* A stack of the sim, in the order it was added (the poll order). */
struct sim_stack {
    struct rn_stack *ss_stack;    /* [L] owned; NULL once destroyed */
    char ss_name[32];             /* [I] unique in the sim */
    unsigned ss_index;            /* [I] 1-based position */
    unsigned ss_nifaces;          /* [L] interfaces the sim added, names sim0.. */
};

struct rn_sim_cable {
    char sc_name[32];                 /* [I] "c1" */
    unsigned sc_index;                /* [I] 1-based */
    struct rn_stack *sc_stack[2];     /* [I] stacks of end a and end b */
    struct rn_iface *sc_iface[2];     /* [I] their interfaces, held by the stacks */
    struct rn_link *sc_fault[2];      /* [I] fault filter of each end (faults its tx) */
};

/* Where trace lines go, and the digest over all of them. */
struct sim_trace {
    FILE *tr_file;                /* [L] sink, or NULL */
    struct rn_strbuf *tr_sb;      /* [L] sink, or NULL */
    struct rn_strbuf tr_line;     /* [L] the line being built */
    uint8_t *tr_scratch;          /* [L] a frame, linearised */
    size_t tr_scratch_cap;        /* [L] its size */
    uint64_t tr_digest;           /* [L] FNV-1a 64 over every line */
    uint64_t tr_lines;            /* [L] lines so far */
};

struct rn_sim {
    uint64_t sim_seed;                /* [I] */
    _Atomic rn_time_t sim_now;        /* [A] virtual now; written by the sim thread */
    struct sim_stack *sim_stacks;     /* [L] poll order */
    unsigned sim_nstacks;             /* [L] */
    unsigned sim_stacks_cap;          /* [L] */
    struct rn_sim_cable **sim_cables; /* [L] creation order */
    unsigned sim_ncables;             /* [L] */
    unsigned sim_cables_cap;          /* [L] */
    struct sim_trace sim_trace;       /* [L] */
    uint32_t sim_spin_max;            /* [L] polls at one instant before a livelock */
    uint64_t sim_events_max;          /* [L] events per run call */
    uint64_t sim_rounds;              /* [L] poll rounds so far */
    uint64_t *sim_ids_before;         /* [I] ids of objects alive at creation, sorted */
    uint32_t sim_nids_before;         /* [I] */
    char sim_err[256];                /* [L] last error text */
};

/* Opens the trace filter named label ("c1.a") on lower: every frame going
 * down and coming up is traced into sim's trace.  On success it owns lower;
 * on failure lower is untouched.  Returns 0 or RN_ENOMEM. */
int rn__sim_trace_open(struct rn_sim *sim, struct rn_link *lower, const char *label,
                       struct rn_link **out);

/* Frees the trace's buffers (not its sinks). */
void rn__sim_trace_fini(struct sim_trace *tr);

#endif /* REFNET_SIM_PRIV_H */
