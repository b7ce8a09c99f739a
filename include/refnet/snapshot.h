/*
 * A snapshot of the object manager: every unreleased object with its ledger,
 * its traced holds grouped by stack, and every registered wait.
 *
 * One model serves three readers, so that they print the same thing: the
 * live watchdog and `refnet why` take a snapshot of the running process
 * (rn_ob_snapshot()), `refnet dump` writes one to a file and `refnet
 * analyze` reads it back (diag.h).  Everything a snapshot points to lives in
 * its own arena and is freed with it.
 *
 * Thread safety: [any].  rn_ob_snapshot() may be called from any thread
 * while others take and drop references; the snapshot it returns belongs
 * to the caller, one thread at a time.
 */
#ifndef REFNET_SNAPSHOT_H
#define REFNET_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "refnet/clock.h"
#include "refnet/object.h"

#define RN_SNAP_NO_STACK UINT32_MAX

/* One line of an object's ledger. */
struct rn_snap_tag {
    const char *st_tag;       /* holder name */
    uint32_t st_count;        /* references held, > 0 */
    rn_time_t st_since;       /* when the count last rose from zero */
    const char *st_last_ref;  /* "func (file:line)" of the latest ref, or NULL */
};

/* Outstanding holds of one tag taken from one stack (traced objects). */
struct rn_snap_hold {
    const char *sh_tag;    /* holder name */
    uint32_t sh_stack;     /* index into rn_snapshot.s_stacks, or RN_SNAP_NO_STACK */
    uint32_t sh_count;     /* holds with this tag and stack */
    rn_time_t sh_oldest;   /* when the oldest of them was taken */
};

/* A distinct acquisition stack, symbolised. */
struct rn_snap_stack {
    uint32_t ss_nframes;    /* frames, innermost first */
    const char **ss_frames; /* "function+0x4c", or "0x7f12..." if unknown */
};

struct rn_snap_object {
    uint64_t so_id;                 /* object id, unique in the process */
    const char *so_type;            /* type name */
    const char *so_desc;            /* describe line */
    enum rn_ob_state so_state;      /* LIVE or DYING */
    bool so_traced;                 /* references were being traced */
    bool so_saturated;              /* count pinned by overflow */
    uint32_t so_refs;               /* refcount == sum of so_tags[].st_count */
    rn_time_t so_created;           /* when created */
    rn_time_t so_killed;            /* when killed, 0 if live */
    uint32_t so_ntags;
    struct rn_snap_tag *so_tags;    /* ledger, tags with a nonzero count */
    uint32_t so_nholds;
    struct rn_snap_hold *so_holds;  /* traced only: holds by (tag, stack) */
    uint32_t so_untraced;           /* traced only: holds taken before tracing */
    rn_time_t so_traced_since;      /* traced only: when tracing began to
                                       apply to it; 0 if unknown */
    uint32_t so_conds;              /* its condition bits (rn_ob_cond_set()),
                                       named by its type's contract */
};

/* One holder rule of a type's contract (object.h, struct rn_ob_holder). */
struct rn_snap_holder {
    const char *sr_tag;   /* the holder, or a family "callout:" */
    uint32_t sr_while;    /* conditions, one of which it needs */
    uint32_t sr_flags;    /* RN_HOLD_* */
    rn_time_t sr_bound;   /* RN_HOLD_BRIEF: the longest expected hold */
    const char *sr_why;   /* the verdict's reason for an expected hold */
};

/* A type's contract, as the snapshot carries it, so that a dump is judged
 * by the contracts of the process that wrote it. */
struct rn_snap_type {
    const char *sy_name;              /* the type's name */
    rn_time_t sy_orphan_bound;        /* 0: the snapshot's threshold */
    uint32_t sy_nconds;
    const char **sy_conds;            /* names of its condition bits */
    uint32_t sy_nholders;
    struct rn_snap_holder *sy_holders;
};

/* Something waiting for an object's release. */
struct rn_snap_wait {
    uint64_t sw_waiter;    /* waiting object's id, 0 for none */
    uint64_t sw_waited;    /* id of the object waited for */
    const char *sw_what;   /* "close", "stop", ... */
    rn_time_t sw_since;    /* when the wait began */
};

struct rn_snap_arena;

struct rn_snapshot {
    rn_time_t s_now;                  /* clock when taken */
    rn_time_t s_threshold;            /* watchdog threshold of the process
                                         that took it; 0 if it had none */
    uint32_t s_nobjects;
    struct rn_snap_object *s_objects; /* sorted by id */
    uint32_t s_nstacks;
    struct rn_snap_stack *s_stacks;
    uint32_t s_nwaits;
    struct rn_snap_wait *s_waits;     /* sorted by since, then waited id */
    uint64_t s_misuse[RN_MISUSE_COUNT_]; /* misuse counters when taken */
    uint32_t s_ntypes;
    struct rn_snap_type *s_types;     /* contracts, sorted by name */
    struct rn_snap_arena *s_arena;    /* owns every pointer above */
};

/* Takes a snapshot of the running process.  Returns NULL on allocation
 * failure.  Objects are captured one at a time, so the snapshot is
 * consistent per object, not across objects. */
struct rn_snapshot *rn_ob_snapshot(void);

/* Frees a snapshot from any source.  NULL is allowed. */
void rn_snapshot_free(struct rn_snapshot *s);

/* Returns the object with id, or NULL. */
const struct rn_snap_object *rn_snapshot_find(const struct rn_snapshot *s, uint64_t id);

/* Returns the contract of the type named name, or NULL if the snapshot
 * carries none for it. */
const struct rn_snap_type *rn_snapshot_type(const struct rn_snapshot *s, const char *name);

/* ---- Building snapshots (the live capture and the dump reader) ---------- */

/* Returns an empty snapshot with its arena, or NULL. */
struct rn_snapshot *rn_snapshot_new(void);
/* Allocates zeroed memory that lives as long as the snapshot.  NULL on
 * failure. */
void *rn_snap_alloc(struct rn_snapshot *s, size_t size);
/* Copies a string into the snapshot.  NULL on failure. */
const char *rn_snap_strdup(struct rn_snapshot *s, const char *str);
/* Append a zeroed element to the snapshot's objects, stacks or waits and
 * return it, or NULL on failure.  The returned pointer stays valid only
 * until the next append of the same kind. */
struct rn_snap_object *rn_snapshot_add_object(struct rn_snapshot *s);
struct rn_snap_stack *rn_snapshot_add_stack(struct rn_snapshot *s);
struct rn_snap_wait *rn_snapshot_add_wait(struct rn_snapshot *s);
struct rn_snap_type *rn_snapshot_add_type(struct rn_snapshot *s);
/* Sorts objects by id, waits by since and types by name; call once
 * everything is added. */
void rn_snapshot_finish(struct rn_snapshot *s);

#endif /* REFNET_SNAPSHOT_H */
