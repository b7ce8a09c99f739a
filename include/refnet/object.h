/*
 * The object manager: typed objects whose references name their holders.
 *
 * Every long-lived thing another part of refnet can find (interface, route,
 * UDP endpoint, TCP listener and connection, socket endpoint, request,
 * process, service, callout registration) is an object of a registered type.
 * Each reference on it is taken and dropped under a *tag* that names the
 * holder ("port-table", "handle", "enum", "callout:acme-av").  The ledger
 * behind every object is always on: per tag it keeps a count and when that
 * tag last began holding, and the counts always add up to the refcount.  So
 * a close or stop that cannot finish can say at once which holders keep the
 * object, and since when.
 *
 * Misuse is reported to the diagnostics sink (report.h), counted, and
 * refused; it is never absorbed:
 *   - a deref by a tag that holds nothing (both sites named);
 *   - a ref on a released object;
 *   - overflow: the count saturates at the type's limit and the object is
 *     pinned, never wrapped and never freed.
 *
 * Rundown: rn_ob_kill() marks the object dying (rn_ob_tryref_live() fails and
 * enumerations skip it from then on) and drops the creator's reference.  When
 * the count reaches zero the type's release routine runs exactly once, then
 * the release callbacks registered with rn_ob_wait_release() fire.  A wait is
 * recorded, with its waiter and since when, for the watchdog.
 *
 * Tracing, armed at run time per type or per object, records a timestamp and
 * a backtrace for every ref and deref; reports then group outstanding holds
 * by acquisition stack.
 *
 * Thread safety: every function here may be called from any thread.
 * Objects are handed around as pointers to their body (the part of `size`
 * bytes the type declared); the manager's header sits in front of it.
 */
#ifndef REFNET_OBJECT_H
#define REFNET_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/clock.h"

/* ---- Sites -------------------------------------------------------------- */

/* Where in the source a reference operation happened. */
struct rn_site {
    const char *file;  /* __FILE__ */
    const char *func;  /* __func__ */
    int line;          /* __LINE__ */
};

/* A pointer to a static rn_site for the current line. */
#define RN_SITE                                                           \
    ({                                                                    \
        static const struct rn_site rn_site_ = {__FILE__, __func__,       \
                                                __LINE__};                \
        &rn_site_;                                                        \
    })

/* ---- Tags --------------------------------------------------------------- */

/* An interned holder name.  0 is never a valid tag. */
typedef uint16_t rn_tag_t;

/* Holders known to the whole stack, interned at these fixed ids. */
#define RN_WELL_KNOWN_TAGS(X)                  \
    X(CREATE, "create")                        \
    X(ENUM, "enum")                            \
    X(LOOKUP, "lookup")                        \
    X(SNAPSHOT, "snapshot")                    \
    X(HANDLE, "handle")                        \
    X(SOCKET_ENDPOINT, "socket.endpoint")      \
    X(PORT_TABLE, "port-table")                \
    X(TCP_TIMER, "tcp.timer")                  \
    X(REQUEST, "request")                      \
    X(LOOP, "loop")                            \
    X(IFACE, "iface")                          \
    X(ROUTE, "route")                          \
    X(STACK, "stack")                          \
    X(PROCESS, "process")                      \
    X(SERVICE, "service")

enum {
    RN_TAG_NONE = 0,
#define RN_TAG_ENUM_(name, str) RN_TAG_##name,
    RN_WELL_KNOWN_TAGS(RN_TAG_ENUM_)
#undef RN_TAG_ENUM_
    RN_TAG_FIRST_DYNAMIC_
};

/* The most distinct tags a process may intern. */
#define RN_TAG_MAX 4096

/* Not a holder: the ledger line of references whose holder could get no
 * line of its own because memory ran out.  A reference never fails for
 * lack of ledger memory (a ref, like a counter's increment, cannot be
 * left undone by its caller); it is counted here instead, named
 * "unrecorded", and a deref by a holder without a line of its own takes
 * one from here.  No caller may use it, and rn_tag_intern() refuses its
 * name; rn_tag_name() knows it. */
#define RN_TAG_UNRECORDED ((rn_tag_t)RN_TAG_MAX)
/* The longest tag name, without its NUL. */
#define RN_TAG_NAME_MAX 63

/* Returns the tag for name, interning it on first use; the same name always
 * gives the same tag.  Returns RN_TAG_NONE if name is empty, longer than
 * RN_TAG_NAME_MAX, or the table is full. */
rn_tag_t rn_tag_intern(const char *name);

/* Returns the tag's name, or "?" for a tag never interned. */
const char *rn_tag_name(rn_tag_t tag);

/* [any] How many objects tag holds now: objects whose ledger has a line of
 * tag counting at least one reference.  Kept for interned tags (names
 * given to rn_tag_intern() beyond the well-known ones, such as a plug-in's
 * "filter:NAME"); 0 for a well-known tag.  A hold that could get no line
 * of its own (RN_TAG_UNRECORDED) is not counted.  Read relaxed: a count
 * taken while other threads ref or deref is already old. */
uint32_t rn_tag_holds(rn_tag_t tag);

/* ---- Types -------------------------------------------------------------- */

struct rn_ob_type;  /* opaque, registered once per process */

struct rn_ob_type_ops {
    /* Type name as reports show it: "tcp listener". */
    const char *name;
    /* Bytes of object body; the body starts zeroed. */
    size_t size;
    /* Undoes what the owner set up in the body.  Runs exactly once, when
     * the count reaches zero, on the thread that dropped the last
     * reference.  It must not free the object: the manager does, after
     * the release callbacks.  May be NULL. */
    void (*release)(void *ob);
    /* Writes one line describing the object ("tcp listener 0.0.0.0:80
     * LISTEN") into buf, NUL-terminated within len.  May run on any thread
     * while the object is live or dying, so it reads only fields that are
     * immutable or atomic.  May be NULL. */
    void (*describe)(const void *ob, char *buf, size_t len);
    /* Saturation limit of the refcount; 0 means RN_OB_REFS_MAX. */
    uint32_t max_refs;
    /* Holders an object of the type has at once in the common case, its
     * creator's included.  The ledger keeps that many lines (32 bytes
     * each) beside the object; a further holder's line comes from a pool
     * shared by all objects (rarely a malloc), and that holder's later
     * references take the ledger's slower path.  0 means 6; at most 30. */
    uint8_t holders;
};

#define RN_OB_REFS_MAX (1u << 30)

/* Registers a type, or returns the one already registered with the same
 * ops.  ops must outlive the process.  Returns NULL on allocation failure
 * or if ops has no name. */
struct rn_ob_type *rn_ob_type_register(const struct rn_ob_type_ops *ops);

/* Returns the type registered under name, or NULL. */
struct rn_ob_type *rn_ob_type_find(const char *name);

/* [any] The type's name, as registered ("tcp listener"); valid for good. */
const char *rn_ob_type_name(const struct rn_ob_type *type);

/* Returns the number of objects of the type that are not yet released
 * (live or dying); with type == NULL, of all types. */
uint64_t rn_ob_live_count(const struct rn_ob_type *type);

/* ---- Holder contracts --------------------------------------------------- */

/*
 * A type may declare who holds its objects and when: its *contract*.  Each
 * holder rule names a tag (or a family of tags, "callout:") and the
 * conditions under which a hold by it is expected.  Conditions are bits an
 * object's owner sets and clears as its state changes (rn_ob_cond_set():
 * "bound", "timer armed"); the type names them.  The contract is read in
 * two places:
 *
 *   - when a holder takes its first reference on an object (the slow path
 *     of rn_ob_ref(), never the per-reference fast path): a tag that some
 *     contract names (refnet's own holders) but this type's does not, or
 *     a hold taken on a dying object by a holder that only holds live
 *     ones, is reported as misuse (RN_MISUSE_CONTRACT) at once, naming the
 *     site.  The hold is taken all the same.
 *   - by the verdict (diag.h), from a snapshot: such a hold is a suspect,
 *     with the reason; so is a hold whose condition is false, or a count
 *     above what its conditions allow.  A tag no contract names (a third
 *     party's) is a suspect once the object is dying and the hold is older
 *     than the type's orphan bound.
 *
 * To keep the verdict free of races, an owner sets a condition before it
 * takes the hold the condition covers, and drops the hold before it clears
 * the condition.
 */

/* Flags of a holder rule. */
#define RN_HOLD_DYING 0x1u  /* may keep holding (and take holds on) a dying
                               object: its work outlives the kill */
#define RN_HOLD_ONE 0x2u    /* at most one hold per condition of hr_while
                               that is true: a bound endpoint has one
                               port-table hold, each armed timer one */
#define RN_HOLD_BRIEF 0x4u  /* holds for the length of one call: longer
                               than hr_bound is a leak */

/* One holder of a type's objects. */
struct rn_ob_holder {
    const char *hr_tag;  /* the holder's tag; a name ending in ':' covers
                            every tag with that prefix ("callout:") */
    uint32_t hr_while;   /* conditions of which one must be true for a
                            hold to be expected; 0: none needed */
    uint32_t hr_flags;   /* RN_HOLD_* */
    rn_time_t hr_bound;  /* with RN_HOLD_BRIEF: the longest expected hold */
    const char *hr_why;  /* why it holds, as the verdict says it:
                            "expected while bound" */
};

/* The most conditions a type may name: one bit each. */
#define RN_OB_CONDS_MAX 32

/* A type's contract.  It and everything it points to must outlive the
 * process (static storage), like the type's ops. */
struct rn_ob_contract {
    const struct rn_ob_holder *oc_holders;  /* the type's holders */
    uint32_t oc_nholders;
    const char *const *oc_conds;  /* names of condition bits 0.., "bound" */
    uint32_t oc_nconds;           /* at most RN_OB_CONDS_MAX */
    rn_time_t oc_orphan_bound;    /* killed and not released after this
                                     long, an object with nothing waiting
                                     for it is an orphan; 0: the watchdog's
                                     threshold */
};

/* Gives type its contract (once; a second call replaces it, for tests).
 * Returns 0, or RN_EINVAL if c names more than RN_OB_CONDS_MAX conditions,
 * a holder without a tag or a condition bit it does not name; RN_ENOMEM. */
int rn_ob_type_set_contract(struct rn_ob_type *type, const struct rn_ob_contract *c);

/* The type's contract, or NULL. */
const struct rn_ob_contract *rn_ob_type_contract(const struct rn_ob_type *type);

/* Sets or clears condition bits of an object (one atomic operation each).
 * [any] */
void rn_ob_cond_set(void *ob, uint32_t bits);
void rn_ob_cond_clear(void *ob, uint32_t bits);
/* The object's condition bits now. */
uint32_t rn_ob_conds(const void *ob);

/* ---- Objects ------------------------------------------------------------ */

enum rn_ob_state {
    RN_OB_LIVE,      /* usable; tryref_live succeeds */
    RN_OB_DYING,     /* killed, waiting for its holders to let go */
    RN_OB_RELEASED,  /* count reached zero; release has run or is running */
};

/* Creates an object of type with one reference held by tag.  The body is
 * zeroed.  The object counts as live and shows in snapshots and leak
 * reports at once (describe must cope with a zeroed body), but enumerations
 * and lookups see it only once rn_ob_publish() says it is initialised.
 * Returns NULL on allocation failure. */
void *rn__ob_create(struct rn_ob_type *type, rn_tag_t tag, const struct rn_site *site);
#define rn_ob_create(type, tag) rn__ob_create((type), (tag), RN_SITE)

/* Makes a created object visible to enumerations and lookups.  Call it once
 * the body is initialised: what the creator wrote before is visible to
 * every thread that finds the object afterwards. */
void rn_ob_publish(void *ob);

/* Takes a reference for tag.  Returns 0; RN_ERELEASED if the object is
 * already released (reported, refused); RN_ESATURATED if the count is at its
 * limit (reported once; the object is pinned from then on and later derefs
 * are ignored, so the caller may carry on).  Never fails for lack of
 * memory: see RN_TAG_UNRECORDED. */
int rn__ob_ref(void *ob, rn_tag_t tag, const struct rn_site *site);
#define rn_ob_ref(ob, tag) rn__ob_ref((ob), (tag), RN_SITE)

/* Drops a reference of tag.  Returns 0; RN_ENOTHELD if tag holds nothing on
 * the object and no reference is counted as unrecorded (reported with this
 * site and the tag's last deref site, refused); RN_ERELEASED if the object
 * is released.  The object may be
 * freed by the time this returns: the caller must not touch it again unless
 * it holds another reference. */
int rn__ob_deref(void *ob, rn_tag_t tag, const struct rn_site *site);
#define rn_ob_deref(ob, tag) rn__ob_deref((ob), (tag), RN_SITE)

/* Drops a reference of tag as rn_ob_deref() does and, in the same step,
 * clears the condition bits `clear` (see "Holder contracts"): for an owner
 * whose hold ends with the condition that covered it.  Always the full
 * path, never the fast one.  Returns as rn_ob_deref(). */
int rn__ob_deref_cond(void *ob, rn_tag_t tag, uint32_t clear, const struct rn_site *site);
#define rn_ob_deref_cond(ob, tag, clear) rn__ob_deref_cond((ob), (tag), (clear), RN_SITE)

/* Takes a reference for tag only if the object is live (not killed).
 * Returns false, silently, once rundown has begun. */
bool rn__ob_tryref_live(void *ob, rn_tag_t tag, const struct rn_site *site);
#define rn_ob_tryref_live(ob, tag) rn__ob_tryref_live((ob), (tag), RN_SITE)

/* Hands one reference from tag `from` to tag `to` without the count ever
 * touching zero.  Returns 0, or RN_ENOTHELD if `from` holds nothing
 * (reported, refused).  Never fails for lack of memory: see
 * RN_TAG_UNRECORDED. */
int rn__ob_transfer(void *ob, rn_tag_t from, rn_tag_t to, const struct rn_site *site);
#define rn_ob_transfer(ob, from, to) rn__ob_transfer((ob), (from), (to), RN_SITE)

/* Begins rundown: marks the object dying, records when, and drops the
 * reference of the tag that created it.  Returns 0, or RN_EDYING if it was
 * already killed (reported, refused).  The object may be freed by the time
 * this returns. */
int rn__ob_kill(void *ob, const struct rn_site *site);
#define rn_ob_kill(ob) rn__ob_kill((ob), RN_SITE)

/* Queries.  They read a consistent value but it may change at once unless
 * the caller controls the object's references. */
uint64_t rn_ob_id(const void *ob);
struct rn_ob_type *rn_ob_type_of(const void *ob);
enum rn_ob_state rn_ob_state(const void *ob);
uint32_t rn_ob_refcount(const void *ob);
uint32_t rn_ob_tag_count(const void *ob, rn_tag_t tag);
/* The type's describe line, or "<type> #<id>" when it has none. */
void rn_ob_describe(const void *ob, char *buf, size_t len);
const char *rn_ob_state_name(enum rn_ob_state state);

/* One line of an object's ledger. */
struct rn_ob_ledger_entry {
    rn_tag_t tag;     /* the holder */
    uint32_t count;   /* references it holds, > 0 */
    rn_time_t since;  /* when its count last rose from zero: its oldest
                         outstanding hold was taken then or later */
};

/* Copies the object's ledger (tags with a nonzero count) into out, at most
 * max entries, and returns how many tags hold references.  The copy is
 * consistent: the counts add up to the refcount read with them. */
size_t rn_ob_ledger(const void *ob, struct rn_ob_ledger_entry *out, size_t max);

/* Finds the object with this id, live or dying, and takes a reference for
 * tag.  Returns NULL if no published, unreleased object has the id. */
void *rn__ob_lookup(uint64_t id, rn_tag_t tag, const struct rn_site *site);
#define rn_ob_lookup(id, tag) rn__ob_lookup((id), (tag), RN_SITE)

/* ---- Tracing ------------------------------------------------------------ */

/* Arms or disarms tracing for every object of a type, present and future. */
void rn_ob_type_set_traced(struct rn_ob_type *type, bool on);
/* Arms or disarms tracing for one object. */
void rn_ob_set_traced(void *ob, bool on);
/* True if the object's references are being traced (per object or type). */
bool rn_ob_is_traced(const void *ob);

/* ---- Release callbacks and waits --------------------------------------- */

struct rn_ob_wait;
typedef void (*rn_ob_release_fn)(struct rn_ob_wait *w, void *ctx);

/* The longest name of what a wait is for ("connect authorisation" is
 * 21); a longer one is cut.  Every socket and every open handle embeds a
 * wait, so its size counts per connection. */
#define RN_OB_WAIT_WHAT_MAX 23

/* A registered wait.  The caller owns the storage (typically inside the
 * waiting object); the fields are the manager's. */
struct rn_ob_wait {
    struct rn_ob_wait *w_next;   /* on the waited object's list */
    struct rn_ob_wait *w_prev;
    struct rn_ob_wait *w_gnext;  /* on the process-wide list of waits */
    struct rn_ob_wait *w_gprev;
    void *w_waited;              /* the object waited for */
    uint64_t w_waited_id;        /* its id */
    uint64_t w_waiter_id;        /* the waiting object's id, 0 for none */
    rn_time_t w_since;           /* when the wait began */
    rn_ob_release_fn w_fn;       /* called once the waited object is released */
    void *w_ctx;
    bool w_armed;                /* registered and not yet fired or cancelled */
    char w_what[RN_OB_WAIT_WHAT_MAX + 1]; /* what is waited for: "close",
                                             "stop" */
};

/* Registers w to call fn(w, ctx) once ob has been released: after its
 * release routine, on the thread that dropped the last reference.  The wait
 * is recorded with waiter (an object, or NULL), what (its first
 * RN_OB_WAIT_WHAT_MAX characters) and now for the watchdog.  The caller
 * must hold a reference on ob while calling.  w must stay valid until fn
 * has run or rn_ob_wait_cancel() returned true.  Returns 0, or RN_EBUSY
 * if w is already armed. */
int rn_ob_wait_release(void *ob, struct rn_ob_wait *w, const void *waiter,
                       const char *what, rn_ob_release_fn fn, void *ctx);

/* Cancels a wait.  Returns true if it was cancelled before firing; false if
 * its callback has run or is running. */
bool rn_ob_wait_cancel(struct rn_ob_wait *w);

/* The object that the armed wait w waits for, with a reference for tag;
 * NULL once it has been released (or w is not armed).  For a waiter that
 * looks at the object meanwhile (a lingering close asks whether all it
 * sent was acknowledged): constant time, where rn_ob_lookup() by id walks
 * the registry. */
void *rn__ob_wait_ref(struct rn_ob_wait *w, rn_tag_t tag, const struct rn_site *site);
#define rn_ob_wait_ref(w, tag) rn__ob_wait_ref((w), (tag), RN_SITE)

/* ---- Registry ----------------------------------------------------------- */

/* Enumerates the live objects of a type from any thread, while others
 * create and release objects.  The iterator holds a reference, under its
 * tag, on the object it last returned; that object stays valid until the
 * next call to rn_ob_iter_next() or rn_ob_iter_end().  A caller that keeps
 * an object longer takes its own reference.  Objects created during the
 * enumeration may or may not be seen; dying and unpublished objects are
 * skipped. */
struct rn_ob_iter {
    struct rn_ob_type *it_type;  /* what is enumerated */
    void *it_cur;                /* body of the current object, or NULL */
    rn_tag_t it_tag;             /* tag of the cursor's reference */
    bool it_done;                /* the end was reached */
};

/* Starts an enumeration; tag is the holder of the cursor reference,
 * normally RN_TAG_ENUM. */
void rn_ob_iter_init(struct rn_ob_iter *it, struct rn_ob_type *type, rn_tag_t tag);
/* Returns the next live object, referenced by the iterator, or NULL at the
 * end.  Drops the reference on the previous one. */
void *rn_ob_iter_next(struct rn_ob_iter *it);
/* Ends an enumeration early or late; drops the cursor reference. */
void rn_ob_iter_end(struct rn_ob_iter *it);

/* ---- Misuse counters and reports --------------------------------------- */

enum rn_misuse {
    RN_MISUSE_DEREF_UNHELD,    /* deref by a tag that holds nothing */
    RN_MISUSE_REF_RELEASED,    /* ref or deref on a released object */
    RN_MISUSE_OVERFLOW,        /* count reached the type's limit */
    RN_MISUSE_KILL_TWICE,      /* kill of an object already dying */
    RN_MISUSE_BAD_TAG,         /* a tag that was never interned */
    RN_MISUSE_CONTRACT,        /* a hold outside its type's contract */
    RN_MISUSE_COUNT_
};

/* Returns how many times this kind of misuse has been seen. */
uint64_t rn_ob_misuse_count(enum rn_misuse kind);
const char *rn_ob_misuse_name(enum rn_misuse kind);

/* Frees released objects held back for misuse detection and waits for
 * deferred frees to finish; gives the spare ledger lines kept for reuse
 * back to malloc.  Tests call it before checking for leaks. */
void rn_ob_drain(void);

#endif /* REFNET_OBJECT_H */
