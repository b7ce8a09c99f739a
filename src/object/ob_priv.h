/*
 * Object manager internals, shared by the files of src/object/.
 *
 * Layout of an object in memory:
 *
 *     ledger lines (h_nlines of them) | struct ob_header | body
 *
 * The body is type->ops->size bytes, 16-byte aligned.  The public API hands
 * out the body; ob_header() steps back to the header, ob_lines() from there
 * to the lines.  How many lines an object has is its type's (the holders
 * it expects at once, and the reserve): 32 bytes each, and a server has a
 * few objects per connection.  The last of them,
 * ob_lines(h)[h_nlines - 1], is never claimed by a holder: it is the line
 * of holds that could get no line of their own (RN_TAG_UNRECORDED), so
 * that such a hold never needs memory.
 *
 * Locking:
 *   [H]  the object's spinlock h_lock.  Held for a few dozen instructions:
 *        a ledger update, never a call out.  It is what makes the ledger and
 *        the refcount change together, so their sums always agree.
 *   [T]  the object's trace mutex (traced objects only), taken before h_lock.
 *   [R]  the type's registry mutex, for writers of the live list; readers
 *        walk it inside an epoch section (ebr.c).
 *   [W]  the process-wide wait lock (wait.c).
 *   [I]  immutable after creation.
 */
#ifndef REFNET_OB_PRIV_H
#define REFNET_OB_PRIV_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/object.h"
#include "refnet/strbuf.h"

/* Ledger lines an object has in front of its header when its type does
 * not say (rn_ob_type_ops.holders): six holders and the reserve. */
#define OB_LINES_DEFAULT 7u
/* The most lines a type may ask for. */
#define OB_LINES_MAX 31u
/* Lines in the first block of h_extra, the lines of holders beyond those
 * in front of the header; a later growth adds as many.  The first blocks
 * that freed objects give back are kept for the next object (object.c),
 * so that an object with more holders at once than its type expected
 * seldom costs an allocation. */
#define OB_LEDGER_EXTRA 8u
#define OB_TRACE_FRAMES 16
#define OB_TRACE_HISTORY 64

/* One holder's line in an object's ledger. */
struct ob_ledger {
    rn_tag_t l_tag;                     /* holder; RN_TAG_NONE: free slot */
    uint32_t l_count;                   /* references the holder has */
    rn_time_t l_since;                  /* when l_count last rose from zero */
    const struct rn_site *l_last_ref;   /* latest ref by this holder */
    const struct rn_site *l_last_deref; /* latest deref by this holder */
};

enum ob_op {
    OB_OP_CREATE,
    OB_OP_REF,
    OB_OP_DEREF,
    OB_OP_TRANSFER_OUT,
    OB_OP_TRANSFER_IN,
    OB_OP_KILL,
};

/* One outstanding hold of a traced object. */
struct ob_hold {
    rn_tag_t ho_tag;     /* holder */
    uint32_t ho_stack;   /* depot id of the acquisition stack */
    rn_time_t ho_time;   /* when taken */
    bool ho_cursor;      /* an iterator's cursor hold (see trace_drop_hold()) */
};

/* One event in a traced object's history. */
struct ob_event {
    rn_time_t ev_time;             /* when */
    const struct rn_site *ev_site; /* where in the source */
    uint32_t ev_stack;             /* depot id, RN_SNAP_NO_STACK if none */
    rn_tag_t ev_tag;               /* holder */
    uint8_t ev_op;                 /* enum ob_op */
    uint32_t ev_refs;              /* refcount after the event */
};

/* Traced state of an object, allocated when tracing first applies to it. */
struct ob_trace {
    pthread_mutex_t tr_mutex;         /* [T] serialises traced operations */
    struct ob_hold *tr_holds;         /* [T+H] outstanding holds, oldest first */
    uint32_t tr_nholds;               /* [T+H] */
    uint32_t tr_cap;                  /* [T] slots in tr_holds */
    struct ob_event tr_hist[OB_TRACE_HISTORY]; /* [T+H] ring of recent events */
    uint32_t tr_hist_next;            /* [T+H] events recorded so far */
    rn_time_t tr_traced_since;        /* [T+H] when tracing last began to
                                         apply to the object by itself
                                         (OB_F_TRACED), 0 if never */
};

struct rn_ob_type {
    const struct rn_ob_type_ops *t_ops;  /* [I] */
    uint32_t t_max_refs;                 /* [I] saturation limit */
    uint8_t t_nlines;                    /* [I] ledger lines of its objects,
                                            the reserve's included */
    size_t t_alloc;                      /* [I] bytes of one of its objects:
                                            lines, header and body */
    _Atomic bool t_traced;               /* [A] trace every object of the type */
    _Atomic rn_time_t t_traced_since;    /* [A] when t_traced last became true */
    pthread_mutex_t t_lock;              /* [R] guards writers of the live list */
    struct ob_header *t_head;            /* [I] sentinel of the live list */
    struct ob_header *t_tail;            /* [R] last object, or t_head */
    _Atomic uint64_t t_nlive;            /* [A] unreleased objects */
    _Atomic(struct rn_ob_type *) t_next; /* [A] next registered type */
    _Atomic(const struct rn_ob_contract *) t_contract; /* [A] NULL: none */
    /* The contract resolved per tag, filled in as tags are first met:
     * bit tag of t_cbits[OB_CB_CHECKED] says the other two are known for
     * it; [OB_CB_LIVE]: the tag may hold a live object, [OB_CB_DYING] a
     * dying one.  [A], only ever set while the contract stays the same. */
    _Atomic uint64_t t_cbits[3][RN_TAG_MAX / 64];
};

enum { OB_CB_CHECKED, OB_CB_LIVE, OB_CB_DYING };

#define OB_F_TRACED 0x01     /* traced per object */
#define OB_F_SATURATED 0x02  /* count hit the limit; pinned for good */
#define OB_F_PUBLISHED 0x04  /* initialised: enumerations may find it */

struct ob_header {
    _Atomic uint8_t h_lock;              /* the spinlock */
    _Atomic uint8_t h_state;             /* [H] enum rn_ob_state; read relaxed */
    _Atomic uint8_t h_flags;             /* [H] OB_F_*; read relaxed */
    uint8_t h_nextra;                    /* [H] slots in h_extra */
    rn_tag_t h_create_tag;               /* [I] tag of the creator's reference */
    uint8_t h_nlines;                    /* [I] ledger lines in front of the
                                            header, >= 2 */
    _Atomic uint32_t h_refs;             /* [H] sum of the ledger's counts */
    _Atomic uint32_t h_conds;            /* [A] condition bits (contract) */
    uint64_t h_id;                       /* [I] unique, never reused */
    struct rn_ob_type *h_type;           /* [I] */
    const struct rn_site *h_create_site; /* [I] */
    rn_time_t h_created;                 /* [I] */
    rn_time_t h_killed;                  /* [H] 0 until killed */
    struct ob_ledger *h_extra;           /* [H] further ledger lines, h_nextra
                                            of them; NULL if h_nextra == 0 */
    _Atomic(struct ob_trace *) h_trace;  /* set once; NULL until traced */
    struct rn_ob_wait *h_waits;          /* [W] release waiters */
    _Atomic(struct ob_header *) h_next;  /* [R] live list; readers: epoch */
    struct ob_header *h_prev;            /* [R] */
    struct ob_header *h_retire_next;     /* retire list link (ebr.c) */
    uint64_t h_retire_epoch;             /* epoch when retired */
    _Alignas(16) unsigned char h_body[]; /* the object */
};

static inline struct ob_header *ob_header(const void *ob)
{
    return (struct ob_header *)((const unsigned char *)ob - offsetof(struct ob_header, h_body));
}

/* The ledger lines in front of h: h_nlines of them.  [H] */
static inline struct ob_ledger *ob_lines(const struct ob_header *h)
{
    return (struct ob_ledger *)h - h->h_nlines;
}

/* Line i of h's ledger: those in front of it, then h_extra's.
 * i < h_nlines + h_nextra.  [H] */
static inline struct ob_ledger *ob_line(const struct ob_header *h, unsigned i)
{
    return i < h->h_nlines ? &ob_lines(h)[i] : &h->h_extra[i - h->h_nlines];
}

/* The reserve line.  [H] */
static inline struct ob_ledger *ob_reserve_line(const struct ob_header *h)
{
    return &ob_lines(h)[h->h_nlines - 1];
}

/* Waits until h's lock looks free, without taking it (object.c). */
void rn__ob_lock_wait(struct ob_header *h);

/* A test-and-test-and-set lock.  Inline, the uncontended case is a single
 * exchange; waiting is out of line so that the reference fast paths stay
 * small. */
static inline void ob_lock(struct ob_header *h)
{
    while (__builtin_expect(atomic_exchange_explicit(&h->h_lock, 1, memory_order_acquire), 0))
        rn__ob_lock_wait(h);
}

static inline void ob_unlock(struct ob_header *h)
{
    atomic_store_explicit(&h->h_lock, 0, memory_order_release);
}

/* ---- object.c ---- */

/* Returns the first registered type (the list is append-only). */
struct rn_ob_type *rn__ob_types(void);
/* Takes a reference for tag if the object is not released, without
 * reporting misuse.  For the manager's own lookups under an epoch. */
bool rn__ob_tryref_unreleased(struct ob_header *h, rn_tag_t tag, const struct rn_site *site);
/* Drops a reference the manager took for itself, untraced. */
int rn__ob_deref_notrace(struct ob_header *h, rn_tag_t tag, const struct rn_site *site);
/* The ledger slot of tag, or NULL.  [H] */
struct ob_ledger *rn__ob_ledger_find(struct ob_header *h, rn_tag_t tag);
/* Frees the memory of a released object and everything it owns. */
void rn__ob_free(struct ob_header *h);
/* Counts a misuse of kind and delivers text as its report. */
void rn__ob_misuse(enum rn_misuse kind, const char *text);

/* ---- wait.c ---- */

/* The header of the object w waits for while w is armed, else NULL.
 * Called inside an epoch section: the object is released and retired only
 * after its waits are disarmed, so the header stays readable until the
 * section ends. */
struct ob_header *rn__ob_wait_target(struct rn_ob_wait *w);

/* ---- ebr.c: epoch-based reclamation ---- */

void rn__ob_epoch_enter(void);
void rn__ob_epoch_exit(void);
/* Frees h once no epoch section that may see it is left.  Retired objects
 * are kept for a while first, so that a late ref finds them RELEASED. */
void rn__ob_retire(struct ob_header *h);
/* Frees everything retired, waiting for epoch sections to end. */
void rn__ob_reclaim_all(void);

/* ---- trace.c ---- */

/* Captures the caller's stack (skipping the manager's own frames) and
 * returns its depot id, or RN_SNAP_NO_STACK if it could not be stored. */
uint32_t rn__ob_depot_capture(void);
/* Returns the frames of a depot stack, symbolised as "function+0xoff".
 * The strings live as long as the process. */
uint32_t rn__ob_depot_frames(uint32_t id, const char *const **frames);
/* Returns the trace of h, allocating it on first use, or NULL. */
struct ob_trace *rn__ob_trace_get(struct ob_header *h);
/* Appends an event to a trace's history.  [T+H] */
void rn__ob_trace_event(struct ob_trace *tr, enum ob_op op, rn_tag_t tag,
                     const struct rn_site *site, uint32_t stack, rn_time_t now,
                     uint32_t refs);
/* Renders the history of tag (or every tag if RN_TAG_NONE) for a misuse
 * report.  [T] */
void rn__ob_trace_history(struct ob_trace *tr, rn_tag_t tag, struct rn_strbuf *sb);
const char *rn__ob_op_name(enum ob_op op);

/* ---- wait.c ---- */

/* Detaches and fires the release waiters of h.  Called once, after the
 * release routine. */
void rn__ob_fire_waits(struct ob_header *h);
struct rn_snapshot;
/* Appends every armed wait to s.  Returns 0 or RN_ENOMEM. */
int rn__ob_waits_capture(struct rn_snapshot *s);

/* ---- contract.c ---- */

/* Why a first hold breaks its type's contract. */
enum ob_contract_breach {
    OB_CONTRACT_OK,          /* within it, or the type has none */
    OB_CONTRACT_NOT_HOLDER,  /* a holder of other types, not of this one */
    OB_CONTRACT_LIVE_ONLY,   /* holds only live objects; this one is dying */
};

/* Judges a holder's first hold on an object of type t.  Lock-free: reads
 * the type's resolved bits, resolving the tag once if need be. */
enum ob_contract_breach rn__ob_contract_check(struct rn_ob_type *t, rn_tag_t tag, bool dying);
/* Reports a breach as RN_MISUSE_CONTRACT. */
void rn__ob_contract_report(struct ob_header *h, rn_tag_t tag, enum ob_contract_breach b,
                            const struct rn_site *site);

/* ---- tag.c ---- */

bool rn__ob_tag_valid(rn_tag_t tag);

/* Per interned tag (not the well-known ones): how many objects have a
 * ledger line of it that holds something (rn_tag_holds()).  Kept by the
 * reference paths when a line's count leaves or returns to zero, which is
 * not once per reference; a well-known tag costs one compare. */
extern _Atomic uint32_t rn__tag_holding[RN_TAG_MAX];

/* A line of tag began (+1) or ceased (-1) to hold.  The reserve line
 * (RN_TAG_UNRECORDED) is not counted.  [H] */
static inline void ob_tag_holding(rn_tag_t tag, int delta)
{
    if (tag >= RN_TAG_FIRST_DYNAMIC_ && tag < RN_TAG_MAX)
        atomic_fetch_add_explicit(&rn__tag_holding[tag], (uint32_t)delta, memory_order_relaxed);
}

#endif /* REFNET_OB_PRIV_H */
