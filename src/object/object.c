/*
 * The object manager core: types, tagged references and their ledger,
 * rundown, the registry and its enumeration (object.h).
 *
 * Every reference operation takes the object's spinlock once, updates the
 * holder's ledger line and the refcount together, and releases it with a
 * plain store.  That is one atomic read-modify-write per operation, the same
 * as a bare atomic counter, which is what lets the ledger stay on in
 * production.  Only traced objects take the slower path (trace.c): a
 * backtrace, the stack depot and a per-object mutex.
 *
 * Call order of a release:
 *   rn_ob_deref() -> count reaches 0 -> ob_release()
 *     -> type release routine -> unlink from the registry
 *     -> rn__ob_fire_waits() -> rn__ob_retire() (freed after the epoch, ebr.c)
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "object/ob_priv.h"
#include "refnet/error.h"
#include "refnet/heap.h"
#include "refnet/report.h"
#include "refnet/snapshot.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* The largest ledger an object can have beyond its inline lines. */
#define OB_EXTRA_MAX 248

static _Atomic uint64_t ob_next_id = 1;
static _Atomic(struct rn_ob_type *) ob_types;  /* newest first, append-only */
static pthread_mutex_t ob_types_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t ob_misuse_counts[RN_MISUSE_COUNT_];

/* Internal flags of the acquire and drop paths. */
enum {
    OBF_LIVE_ONLY = 0x1,  /* fail quietly once the object is dying */
    OBF_QUIET = 0x2,      /* fail quietly on a released object */
    OBF_NOTRACE = 0x4,    /* the manager's own hold: never traced */
    OBF_PUBLISHED = 0x8,  /* fail quietly unless published */
    OBF_CURSOR = 0x10,    /* an iterator's cursor: its drop pairs with its own hold */
    OBF_UNRECORDED = 0x20, /* no line could be had: count it as unrecorded */
};

/* Returned by the locked acquire when the ledger needs another line. */
#define OB_NEED_SLOT 1

static const struct rn_site site_iter = {__FILE__, "rn_ob_iter_next", __LINE__};

void rn__ob_lock_wait(struct ob_header *h)
{
    unsigned spins = 0;

    while (atomic_load_explicit(&h->h_lock, memory_order_relaxed)) {
        if (++spins > 1000) {
            /* The holder may have been preempted; let it run. */
            sched_yield();
            spins = 0;
        } else {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    }
}

/* ---- Types ------------------------------------------------------------- */

struct rn_ob_type *rn__ob_types(void)
{
    return atomic_load_explicit(&ob_types, memory_order_acquire);
}

struct rn_ob_type *rn_ob_type_register(const struct rn_ob_type_ops *ops)
{
    struct rn_ob_type *t;

    if (ops == NULL || ops->name == NULL || ops->name[0] == '\0')
        return NULL;
    pthread_mutex_lock(&ob_types_lock);
    for (t = rn__ob_types(); t != NULL; t = atomic_load(&t->t_next)) {
        if (t->t_ops == ops)
            goto out_unlock;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        goto out_unlock;
    t->t_head = calloc(1, sizeof(*t->t_head));
    if (t->t_head == NULL) {
        free(t);
        t = NULL;
        goto out_unlock;
    }
    t->t_ops = ops;
    t->t_max_refs = ops->max_refs ? ops->max_refs : RN_OB_REFS_MAX;
    t->t_nlines = (uint8_t)(ops->holders == 0 ? OB_LINES_DEFAULT
                            : ops->holders + 1u > OB_LINES_MAX ? OB_LINES_MAX
                            : ops->holders + 1u);
    t->t_alloc = t->t_nlines * sizeof(struct ob_ledger) + sizeof(struct ob_header) + ops->size;
    pthread_mutex_init(&t->t_lock, NULL);
    t->t_tail = t->t_head;
    atomic_store_explicit(&t->t_next, rn__ob_types(), memory_order_relaxed);
    atomic_store_explicit(&ob_types, t, memory_order_release);
out_unlock:
    pthread_mutex_unlock(&ob_types_lock);
    return t;
}

struct rn_ob_type *rn_ob_type_find(const char *name)
{
    struct rn_ob_type *t;

    for (t = rn__ob_types(); t != NULL; t = atomic_load(&t->t_next)) {
        if (!strcmp(t->t_ops->name, name))
            return t;
    }
    return NULL;
}

const char *rn_ob_type_name(const struct rn_ob_type *type)
{
    return type->t_ops->name;
}

uint64_t rn_ob_live_count(const struct rn_ob_type *type)
{
    struct rn_ob_type *t;
    uint64_t n = 0;

    if (type != NULL)
        return atomic_load_explicit(&type->t_nlive, memory_order_acquire);
    for (t = rn__ob_types(); t != NULL; t = atomic_load(&t->t_next))
        n += atomic_load_explicit(&t->t_nlive, memory_order_acquire);
    return n;
}

void rn_ob_type_set_traced(struct rn_ob_type *type, bool on)
{
    struct ob_header *h;

    if (on && !atomic_load(&type->t_traced))
        atomic_store(&type->t_traced_since, rn_clock_now());
    atomic_store(&type->t_traced, on);
    if (on)
        return;
    /* Holds recorded so far would go stale while untraced; forget them. */
    rn__ob_epoch_enter();
    for (h = atomic_load_explicit(&type->t_head->h_next, memory_order_acquire); h;
         h = atomic_load_explicit(&h->h_next, memory_order_acquire)) {
        struct ob_trace *tr = atomic_load_explicit(&h->h_trace, memory_order_acquire);

        if (tr == NULL)
            continue;
        pthread_mutex_lock(&tr->tr_mutex);
        ob_lock(h);
        if (!(atomic_load_explicit(&h->h_flags, memory_order_relaxed) & OB_F_TRACED))
            tr->tr_nholds = 0;
        ob_unlock(h);
        pthread_mutex_unlock(&tr->tr_mutex);
    }
    rn__ob_epoch_exit();
}

/* ---- Misuse ------------------------------------------------------------ */

static const char *const misuse_names[RN_MISUSE_COUNT_] = {
    [RN_MISUSE_DEREF_UNHELD] = "deref-unheld",
    [RN_MISUSE_REF_RELEASED] = "ref-released",
    [RN_MISUSE_OVERFLOW] = "overflow",
    [RN_MISUSE_KILL_TWICE] = "kill-twice",
    [RN_MISUSE_BAD_TAG] = "bad-tag",
    [RN_MISUSE_CONTRACT] = "contract",
};

uint64_t rn_ob_misuse_count(enum rn_misuse kind)
{
    assert(kind < RN_MISUSE_COUNT_);
    return atomic_load(&ob_misuse_counts[kind]);
}

const char *rn_ob_misuse_name(enum rn_misuse kind)
{
    return kind < RN_MISUSE_COUNT_ ? misuse_names[kind] : "?";
}

void rn__ob_misuse(enum rn_misuse kind, const char *text)
{
    atomic_fetch_add(&ob_misuse_counts[kind], 1);
    rn_report_text(RN_REPORT_MISUSE, text);
}

static void fmt_site(struct rn_strbuf *sb, const struct rn_site *site)
{
    if (site == NULL)
        rn_strbuf_puts(sb, "(unknown site)");
    else
        rn_strbuf_printf(sb, "%s (%s:%d)", site->func, site->file, site->line);
}

/* Reports misuse on h; what is a sentence fragment such as "deref by". */
static void report_misuse(enum rn_misuse kind, struct ob_header *h, const char *what,
                          rn_tag_t tag, const struct rn_site *site,
                          const struct rn_site *last_site, const char *last_what,
                          struct ob_trace *tr)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;

    rn_strbuf_printf(&sb, "refnet: misuse (%s): %s '%s' on %s #%" PRIu64 " at ",
                     misuse_names[kind], what, rn_tag_name(tag), h->h_type->t_ops->name,
                     h->h_id);
    fmt_site(&sb, site);
    rn_strbuf_puts(&sb, "\n");
    if (last_site != NULL) {
        rn_strbuf_printf(&sb, "  %s: ", last_what);
        fmt_site(&sb, last_site);
        rn_strbuf_puts(&sb, "\n");
    }
    if (tr != NULL)
        rn__ob_trace_history(tr, tag, &sb);
    rn__ob_misuse(kind, rn_strbuf_str(&sb));
    rn_strbuf_free(&sb);
}

/* ---- The ledger -------------------------------------------------------- */

/* The line of tag among those in front of the header, or NULL.  [H] */
static inline struct ob_ledger *inline_line(struct ob_header *h, rn_tag_t tag)
{
    struct ob_ledger *lines = ob_lines(h);
    unsigned i, n = h->h_nlines;

    for (i = 0; i < n; i++) {
        if (lines[i].l_tag == tag)
            return &lines[i];
    }
    return NULL;
}

struct ob_ledger *rn__ob_ledger_find(struct ob_header *h, rn_tag_t tag)
{
    struct ob_ledger *l = inline_line(h, tag);
    unsigned i;

    if (l != NULL)
        return l;
    for (i = 0; i < h->h_nextra; i++) {
        if (h->h_extra[i].l_tag == tag)
            return &h->h_extra[i];
    }
    return NULL;
}

/* Returns the line of tag, claiming a free or idle one if it has none, or
 * NULL if every line is busy.  An idle line (count 0) is reused last, since
 * it remembers its holder's last deref for double-deref reports.  The
 * reserve line is never claimed.  [H] */
static struct ob_ledger *ledger_claim(struct ob_header *h, rn_tag_t tag)
{
    struct ob_ledger *l = rn__ob_ledger_find(h, tag), *idle = NULL;
    unsigned i;

    if (likely(l != NULL))
        return l;
    for (i = 0; i < h->h_nlines + h->h_nextra; i++) {
        if (i == h->h_nlines - 1u)
            continue;  /* the reserve */
        l = ob_line(h, i);
        if (l->l_tag == RN_TAG_NONE)
            goto claim;
        if (l->l_count == 0 && idle == NULL)
            idle = l;
    }
    if (idle == NULL)
        return NULL;
    l = idle;
claim:
    memset(l, 0, sizeof(*l));
    l->l_tag = tag;
    return l;
}

/* The reserve line, named RN_TAG_UNRECORDED.  [H] */
static struct ob_ledger *ledger_reserve(struct ob_header *h)
{
    struct ob_ledger *l = ob_reserve_line(h);

    l->l_tag = RN_TAG_UNRECORDED;
    return l;
}

/* The line a drop of tag takes its reference from: tag's own, or, if it
 * has none holding anything, the reserve's while that holds some (the
 * reference may be one that could get no line).  NULL if neither.  [H] */
static struct ob_ledger *ledger_for_drop(struct ob_header *h, rn_tag_t tag)
{
    struct ob_ledger *l = rn__ob_ledger_find(h, tag);

    if (l != NULL && l->l_count > 0)
        return l;
    if (ob_reserve_line(h)->l_count > 0)
        return ob_reserve_line(h);
    return l;
}

/* Blocks of OB_LEDGER_EXTRA lines given back by freed objects, for the
 * next object with more holders at once than its type expected: rare per
 * object, but a server with many connections meets it often enough that
 * each should not cost a malloc and a free.  Linked through their first
 * bytes; at most OB_EXTRA_POOL_MAX are kept. */
#define OB_EXTRA_POOL_MAX 1024u
struct extra_free {
    struct extra_free *ef_next;
};
static pthread_mutex_t extra_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct extra_free *extra_pool;  /* guarded by extra_pool_lock */
static unsigned extra_pool_n;          /* blocks on it */

/* A zeroed block of OB_LEDGER_EXTRA lines, from the pool if it has one;
 * NULL if memory ran out. */
static struct ob_ledger *extra_block_get(void)
{
    struct extra_free *ef;

    pthread_mutex_lock(&extra_pool_lock);
    ef = extra_pool;
    if (ef != NULL) {
        extra_pool = ef->ef_next;
        extra_pool_n--;
    }
    pthread_mutex_unlock(&extra_pool_lock);
    if (ef == NULL)
        return calloc(OB_LEDGER_EXTRA, sizeof(struct ob_ledger));
    memset(ef, 0, OB_LEDGER_EXTRA * sizeof(struct ob_ledger));
    return (struct ob_ledger *)ef;
}

/* Gives back n extra lines: a first block to the pool while it has room,
 * anything else to malloc. */
static void extra_lines_put(struct ob_ledger *lines, unsigned n)
{
    struct extra_free *ef = (struct extra_free *)lines;

    if (lines == NULL)
        return;
    if (n == OB_LEDGER_EXTRA) {
        pthread_mutex_lock(&extra_pool_lock);
        if (extra_pool_n < OB_EXTRA_POOL_MAX) {
            ef->ef_next = extra_pool;
            extra_pool = ef;
            extra_pool_n++;
            ef = NULL;
        }
        pthread_mutex_unlock(&extra_pool_lock);
        if (ef == NULL)
            return;
    }
    free(lines);
}

/* Adds ledger lines to h, outside its lock.  Returns 0 or RN_ENOSPC. */
static int ledger_grow(struct ob_header *h)
{
    struct ob_ledger *fresh, *old;
    unsigned n;

    ob_lock(h);
    n = h->h_nextra;
    ob_unlock(h);
    if (n >= OB_EXTRA_MAX)
        return RN_ENOSPC;
    fresh = n == 0 ? extra_block_get() : calloc(n + OB_LEDGER_EXTRA, sizeof(*fresh));
    if (fresh == NULL)
        return RN_ENOMEM;
    ob_lock(h);
    if (h->h_nextra == n) {
        old = h->h_extra;
        if (n)
            memcpy(fresh, old, n * sizeof(*fresh));
        h->h_extra = fresh;
        h->h_nextra = (uint8_t)(n + OB_LEDGER_EXTRA);
    } else {
        old = fresh;  /* another thread grew it meanwhile */
        n += OB_LEDGER_EXTRA;
    }
    ob_unlock(h);
    extra_lines_put(old, n);
    return 0;
}

/* ---- Acquire and drop -------------------------------------------------- */

static inline bool ob_traced(const struct ob_header *h)
{
    return (atomic_load_explicit(&h->h_flags, memory_order_relaxed) & OB_F_TRACED) ||
           atomic_load_explicit(&h->h_type->t_traced, memory_order_relaxed);
}

/* Makes room for one more hold in tr.  [T] */
static bool trace_reserve(struct ob_trace *tr)
{
    struct ob_hold *p;
    uint32_t cap;

    if (tr->tr_nholds < tr->tr_cap)
        return true;
    cap = tr->tr_cap ? tr->tr_cap * 2 : 8;
    p = realloc(tr->tr_holds, cap * sizeof(*p));
    if (p == NULL)
        return false;
    tr->tr_holds = p;
    tr->tr_cap = cap;
    return true;
}

/* Returns the newest hold of tag in tr, or NULL.  [T+H] */
static struct ob_hold *trace_find_newest(struct ob_trace *tr, rn_tag_t tag)
{
    uint32_t i;

    for (i = tr->tr_nholds; i-- > 0;) {
        if (tr->tr_holds[i].ho_tag == tag)
            return &tr->tr_holds[i];
    }
    return NULL;
}

/* Removes the hold record a drop of tag ends.  References of one tag are
 * interchangeable, so which record goes is a choice; it matters when the
 * rest outlive the drop, as a leaked one does.  An iterator takes and
 * drops its cursor at one place, in the middle of its caller's own holds
 * of the same tag (an enumeration that keeps what it found): a cursor's
 * drop ends the newest cursor hold, any other drop the newest other hold,
 * so that what stays is named by the site that took it.  Either falls
 * back to the newest hold of the tag.  [T+H] */
static void trace_drop_hold(struct ob_trace *tr, rn_tag_t tag, bool cursor)
{
    struct ob_hold *ho = NULL;
    uint32_t i;

    for (i = tr->tr_nholds; i-- > 0;) {
        if (tr->tr_holds[i].ho_tag == tag && tr->tr_holds[i].ho_cursor == cursor) {
            ho = &tr->tr_holds[i];
            break;
        }
    }
    if (ho == NULL)
        ho = trace_find_newest(tr, tag);

    if (ho == NULL)
        return;  /* taken before tracing was armed */
    memmove(ho, ho + 1, (size_t)(&tr->tr_holds[tr->tr_nholds] - (ho + 1)) * sizeof(*ho));
    tr->tr_nholds--;
}

/* The traced context of one operation. */
struct op_trace {
    struct ob_trace *ot_tr;  /* NULL when untraced */
    uint32_t ot_stack;       /* depot id of the caller's stack */
};

static void op_trace_begin_slow(struct ob_header *h, struct op_trace *ot);

static inline void op_trace_begin(struct ob_header *h, int flags, struct op_trace *ot)
{
    ot->ot_tr = NULL;
    ot->ot_stack = RN_SNAP_NO_STACK;
    if (likely(!ob_traced(h)) || (flags & OBF_NOTRACE))
        return;
    op_trace_begin_slow(h, ot);
}

/* Out of line: the untraced path should not pay for it in size. */
__attribute__((noinline)) static void op_trace_begin_slow(struct ob_header *h,
                                                          struct op_trace *ot)
{
    ot->ot_tr = rn__ob_trace_get(h);
    if (ot->ot_tr == NULL)
        return;
    ot->ot_stack = rn__ob_depot_capture();
    pthread_mutex_lock(&ot->ot_tr->tr_mutex);
    if (!trace_reserve(ot->ot_tr)) {
        pthread_mutex_unlock(&ot->ot_tr->tr_mutex);
        ot->ot_tr = NULL;
    }
}

static void op_trace_end(struct op_trace *ot)
{
    if (ot->ot_tr != NULL)
        pthread_mutex_unlock(&ot->ot_tr->tr_mutex);
}

/* The locked part of every acquire.  Returns 0, OB_NEED_SLOT, or a
 * negative code; on RN_ESATURATED *newly_saturated says whether this call
 * pinned the object, on 0 *unrecorded whether the reference went to the
 * reserve line.  [H] */
static int acquire_locked(struct ob_header *h, rn_tag_t tag, const struct rn_site *site,
                          int flags, struct op_trace *ot, bool *newly_saturated,
                          bool *unrecorded, bool *first)
{
    uint8_t state = atomic_load_explicit(&h->h_state, memory_order_relaxed);
    uint32_t refs = atomic_load_explicit(&h->h_refs, memory_order_relaxed);
    struct ob_ledger *l;
    rn_time_t now;

    if (unlikely(state != RN_OB_LIVE)) {
        if (state == RN_OB_RELEASED)
            return RN_ERELEASED;
        if (flags & OBF_LIVE_ONLY)
            return RN_EDYING;
    }
    if (unlikely(flags & OBF_PUBLISHED) &&
        !(atomic_load_explicit(&h->h_flags, memory_order_relaxed) & OB_F_PUBLISHED))
        return RN_ENOENT;
    if (unlikely(atomic_load_explicit(&h->h_flags, memory_order_relaxed) & OB_F_SATURATED))
        return RN_ESATURATED;
    if (unlikely(refs >= h->h_type->t_max_refs)) {
        atomic_fetch_or_explicit(&h->h_flags, OB_F_SATURATED, memory_order_relaxed);
        *newly_saturated = true;
        return RN_ESATURATED;
    }
    l = ledger_claim(h, tag);
    if (unlikely(l == NULL)) {
        if (!(flags & OBF_UNRECORDED))
            return OB_NEED_SLOT;
        l = ledger_reserve(h);
        *unrecorded = true;
    }
    if (l->l_count++ == 0) {
        l->l_since = rn_clock_stamp();
        *first = true;
        ob_tag_holding(l->l_tag, 1);
    }
    l->l_last_ref = site;
    atomic_store_explicit(&h->h_refs, refs + 1, memory_order_relaxed);
    if (unlikely(ot->ot_tr != NULL)) {
        struct ob_trace *tr = ot->ot_tr;

        now = rn_clock_now();
        tr->tr_holds[tr->tr_nholds++] =
            (struct ob_hold){tag, ot->ot_stack, now, (flags & OBF_CURSOR) != 0};
        rn__ob_trace_event(tr, OB_OP_REF, tag, site, ot->ot_stack, now, refs + 1);
    }
    return 0;
}

/* Takes a reference for tag.  See rn__ob_ref() for the codes. */
static int ob_acquire(struct ob_header *h, rn_tag_t tag, const struct rn_site *site, int flags)
{
    struct op_trace ot;
    bool newly_saturated = false, unrecorded = false, first = false, dying = false;
    int err, grow_err = 0;

    op_trace_begin(h, flags, &ot);
    for (;;) {
        ob_lock(h);
        err = acquire_locked(h, tag, site, flags, &ot, &newly_saturated, &unrecorded, &first);
        dying = atomic_load_explicit(&h->h_state, memory_order_relaxed) == RN_OB_DYING;
        ob_unlock(h);
        if (likely(err != OB_NEED_SLOT))
            break;
        grow_err = ledger_grow(h);
        if (grow_err < 0)
            flags |= OBF_UNRECORDED;  /* the next attempt cannot fail for a line */
    }
    op_trace_end(&ot);
    if (unlikely(unrecorded) && err == 0)
        rn_report(RN_REPORT_INFO,
                  "refnet: ledger of %s #%" PRIu64 " has no line for tag '%s' (%s): "
                  "its reference is counted as 'unrecorded'\n",
                  h->h_type->t_ops->name, h->h_id, rn_tag_name(tag), rn_strerror(grow_err));
    if (likely(err == 0)) {
        /* A holder's first reference: is it one of the type's holders?
         * Never on the fast path, which needs the holder's line. */
        if (first && !(flags & OBF_NOTRACE)) {
            enum ob_contract_breach b = rn__ob_contract_check(h->h_type, tag, dying);

            if (unlikely(b != OB_CONTRACT_OK))
                rn__ob_contract_report(h, tag, b, site);
        }
        return 0;
    }
    if (err == RN_ERELEASED && !(flags & (OBF_QUIET | OBF_LIVE_ONLY | OBF_PUBLISHED)))
        report_misuse(RN_MISUSE_REF_RELEASED, h, "ref by", tag, site, NULL, NULL, NULL);
    else if (newly_saturated)
        report_misuse(RN_MISUSE_OVERFLOW, h, "refcount reached its limit on ref by", tag,
                      site, NULL, NULL, NULL);
    return err;
}

static void ob_release(struct ob_header *h);

/* Drops a reference of tag.  See rn__ob_deref() for the codes. */
static int ob_drop_cond(struct ob_header *h, rn_tag_t tag, const struct rn_site *site, int flags,
                        uint32_t clear);

static int ob_drop(struct ob_header *h, rn_tag_t tag, const struct rn_site *site, int flags)
{
    return ob_drop_cond(h, tag, site, flags, 0);
}

/* Drops a reference of tag and clears the condition bits clear in the
 * same step, so that no snapshot sees the hold without its condition. */
static int ob_drop_cond(struct ob_header *h, rn_tag_t tag, const struct rn_site *site, int flags,
                        uint32_t clear)
{
    struct op_trace ot;
    struct ob_ledger *l;
    const struct rn_site *last = NULL;
    uint8_t state;
    uint32_t refs;

    op_trace_begin(h, flags, &ot);
    ob_lock(h);
    state = atomic_load_explicit(&h->h_state, memory_order_relaxed);
    if (unlikely(state == RN_OB_RELEASED)) {
        ob_unlock(h);
        op_trace_end(&ot);
        report_misuse(RN_MISUSE_REF_RELEASED, h, "deref by", tag, site, NULL, NULL, NULL);
        return RN_ERELEASED;
    }
    if (unlikely(atomic_load_explicit(&h->h_flags, memory_order_relaxed) & OB_F_SATURATED)) {
        ob_unlock(h);
        op_trace_end(&ot);
        return 0;  /* pinned: derefs no longer count */
    }
    l = ledger_for_drop(h, tag);
    if (unlikely(l == NULL || l->l_count == 0)) {
        if (l != NULL)
            last = l->l_last_deref;
        ob_unlock(h);
        report_misuse(RN_MISUSE_DEREF_UNHELD, h, "deref by", tag, site, last,
                      "its last deref was", ot.ot_tr);
        op_trace_end(&ot);
        return RN_ENOTHELD;
    }
    if (--l->l_count == 0)
        ob_tag_holding(l->l_tag, -1);
    l->l_last_deref = site;
    if (clear != 0)
        atomic_fetch_and_explicit(&h->h_conds, ~clear, memory_order_relaxed);
    refs = atomic_load_explicit(&h->h_refs, memory_order_relaxed) - 1;
    atomic_store_explicit(&h->h_refs, refs, memory_order_relaxed);
    if (unlikely(ot.ot_tr != NULL)) {
        trace_drop_hold(ot.ot_tr, tag, (flags & OBF_CURSOR) != 0);
        rn__ob_trace_event(ot.ot_tr, OB_OP_DEREF, tag, site, ot.ot_stack, rn_clock_now(), refs);
    }
    if (refs == 0)
        atomic_store_explicit(&h->h_state, RN_OB_RELEASED, memory_order_relaxed);
    ob_unlock(h);
    op_trace_end(&ot);
    if (refs == 0)
        ob_release(h);
    return 0;
}

/* ---- Registry ---------------------------------------------------------- */

static void registry_insert(struct ob_header *h)
{
    struct rn_ob_type *t = h->h_type;

    pthread_mutex_lock(&t->t_lock);
    h->h_prev = t->t_tail;
    atomic_store_explicit(&h->h_next, NULL, memory_order_relaxed);
    atomic_store_explicit(&t->t_tail->h_next, h, memory_order_release);
    t->t_tail = h;
    atomic_fetch_add_explicit(&t->t_nlive, 1, memory_order_release);
    pthread_mutex_unlock(&t->t_lock);
}

/* Unlinks h.  Its own h_next stays intact, so a walker standing on it can
 * go on; its memory lives until the epoch has passed (ebr.c). */
static void registry_remove(struct ob_header *h)
{
    struct rn_ob_type *t = h->h_type;
    struct ob_header *next;

    pthread_mutex_lock(&t->t_lock);
    next = atomic_load_explicit(&h->h_next, memory_order_relaxed);
    atomic_store_explicit(&h->h_prev->h_next, next, memory_order_release);
    if (next != NULL)
        next->h_prev = h->h_prev;
    else
        t->t_tail = h->h_prev;
    atomic_fetch_sub_explicit(&t->t_nlive, 1, memory_order_release);
    pthread_mutex_unlock(&t->t_lock);
}

static void ob_release(struct ob_header *h)
{
    const struct rn_ob_type_ops *ops = h->h_type->t_ops;

    if (ops->release != NULL)
        ops->release(h->h_body);
    registry_remove(h);
    rn__ob_fire_waits(h);
    rn__ob_retire(h);
}

void rn__ob_free(struct ob_header *h)
{
    struct ob_trace *tr = atomic_load_explicit(&h->h_trace, memory_order_acquire);
    size_t bytes = h->h_type->t_alloc;

    if (tr != NULL) {
        /* Let a thread still leaving the mutex finish with it. */
        pthread_mutex_lock(&tr->tr_mutex);
        pthread_mutex_unlock(&tr->tr_mutex);
        pthread_mutex_destroy(&tr->tr_mutex);
        free(tr->tr_holds);
        free(tr);
    }
    extra_lines_put(h->h_extra, h->h_nextra);
    free(ob_lines(h));  /* the header with it */
    rn_heap_note_freed(bytes);
}

bool rn__ob_tryref_unreleased(struct ob_header *h, rn_tag_t tag, const struct rn_site *site)
{
    int err = ob_acquire(h, tag, site, OBF_QUIET | OBF_NOTRACE);

    return err == 0 || err == RN_ESATURATED;
}

int rn__ob_deref_notrace(struct ob_header *h, rn_tag_t tag, const struct rn_site *site)
{
    return ob_drop(h, tag, site, OBF_NOTRACE);
}

/* ---- Public operations ------------------------------------------------- */

static bool tag_ok(struct ob_header *h, rn_tag_t tag, const struct rn_site *site)
{
    if (likely(tag != RN_TAG_NONE && tag < RN_TAG_MAX))
        return true;
    report_misuse(RN_MISUSE_BAD_TAG, h, "reference operation with invalid tag", tag, site,
                  NULL, NULL, NULL);
    return false;
}

void *rn__ob_create(struct rn_ob_type *type, rn_tag_t tag, const struct rn_site *site)
{
    struct ob_ledger *lines;
    struct ob_header *h;
    rn_time_t now;

    assert(type != NULL);
    if (tag == RN_TAG_NONE || !rn__ob_tag_valid(tag)) {
        struct rn_strbuf sb = RN_STRBUF_INIT;

        rn_strbuf_printf(&sb, "refnet: misuse (bad-tag): create of %s with invalid tag %u at ",
                         type->t_ops->name, tag);
        fmt_site(&sb, site);
        rn_strbuf_puts(&sb, "\n");
        rn__ob_misuse(RN_MISUSE_BAD_TAG, rn_strbuf_str(&sb));
        rn_strbuf_free(&sb);
        return NULL;
    }
    lines = calloc(1, type->t_alloc);
    if (lines == NULL)
        return NULL;
    h = (struct ob_header *)(lines + type->t_nlines);
    h->h_nlines = type->t_nlines;
    rn_clock_ticker_start();
    now = rn_clock_now();
    h->h_id = atomic_fetch_add_explicit(&ob_next_id, 1, memory_order_relaxed);
    h->h_type = type;
    h->h_create_tag = tag;
    h->h_create_site = site;
    h->h_created = now;
    atomic_store_explicit(&h->h_state, RN_OB_LIVE, memory_order_relaxed);
    atomic_store_explicit(&h->h_refs, 1, memory_order_relaxed);
    lines[0] = (struct ob_ledger){tag, 1, now, site, NULL};
    ob_tag_holding(tag, 1);
    if (atomic_load_explicit(&type->t_traced, memory_order_relaxed)) {
        struct ob_trace *tr = rn__ob_trace_get(h);
        uint32_t stack = rn__ob_depot_capture();

        if (tr != NULL && trace_reserve(tr)) {
            tr->tr_holds[tr->tr_nholds++] = (struct ob_hold){tag, stack, now, false};
            rn__ob_trace_event(tr, OB_OP_CREATE, tag, site, stack, now, 1);
        }
    }
    registry_insert(h);
    return h->h_body;
}

/*
 * The fast paths of ref and deref: the common case in one short piece,
 * for an untraced, live, unsaturated, uncontended object whose holder
 * already has a line among the inline ones (every holder after its first
 * reference).  They do what ob_acquire() and ob_drop() do in that case and
 * nothing else; anything unusual -- tracing, a new holder, the limit,
 * misuse, a deref that would release, a lock held by another thread, a
 * stamp that needs the clock -- returns false having changed nothing, and
 * the full path runs, out of line (ob_ref_slow(), ob_drop_slow()).
 *
 * They call nothing, so they need no saved registers: on an uncontended
 * object a pair is two exchanges, a handful of stores and a dozen loads and
 * compares.  The stamp of a holder's first reference is one load
 * (rn_clock_tick()); a clock read would cost more than the exchange.
 */
/* What a fast path did. */
enum fast_result {
    FAST_DONE,  /* the operation is done */
    FAST_BUSY,  /* another thread held the lock: nothing done, try again */
    FAST_NO,    /* not the common case: nothing done, take the full path */
};

/* The start of both: h locked, its refcount in *refs, and the inline
 * line of tag returned; or NULL, with h unlocked and *res saying why, when
 * tag is invalid, h traced, pinned or locked by another thread, or tag has
 * no inline line. */
static inline struct ob_ledger *fast_begin(struct ob_header *h, rn_tag_t tag, uint32_t *refs,
                                           enum fast_result *res)
{
    struct ob_ledger *l;

    *res = FAST_NO;
    /* RN_TAG_NONE marks free lines, so it must not reach the search. */
    if (unlikely((unsigned)tag - 1u >= RN_TAG_MAX - 1u || ob_traced(h)))
        return NULL;
    if (unlikely(atomic_exchange_explicit(&h->h_lock, 1, memory_order_acquire))) {
        *res = FAST_BUSY;
        return NULL;
    }
    l = inline_line(h, tag);
    if (unlikely(l == NULL ||
                 (atomic_load_explicit(&h->h_flags, memory_order_relaxed) & OB_F_SATURATED))) {
        ob_unlock(h);
        return NULL;
    }
    *refs = atomic_load_explicit(&h->h_refs, memory_order_relaxed);
    return l;
}

static inline enum fast_result ref_fast(struct ob_header *h, rn_tag_t tag,
                                        const struct rn_site *site)
{
    enum fast_result res;
    uint32_t refs;
    struct ob_ledger *l = fast_begin(h, tag, &refs, &res);

    if (unlikely(l == NULL))
        return res;
    if (unlikely(atomic_load_explicit(&h->h_state, memory_order_relaxed) != RN_OB_LIVE ||
                 refs >= h->h_type->t_max_refs))
        goto out_fail;
    if (l->l_count == 0) {
        rn_time_t t = rn_clock_tick();

        if (unlikely(t == 0))
            goto out_fail;
        l->l_since = t;
        ob_tag_holding(l->l_tag, 1);
    }
    l->l_count++;
    l->l_last_ref = site;
    atomic_store_explicit(&h->h_refs, refs + 1, memory_order_relaxed);
    ob_unlock(h);
    return FAST_DONE;
out_fail:
    ob_unlock(h);
    return FAST_NO;
}

static inline enum fast_result drop_fast(struct ob_header *h, rn_tag_t tag,
                                         const struct rn_site *site)
{
    enum fast_result res;
    uint32_t refs;
    struct ob_ledger *l = fast_begin(h, tag, &refs, &res);

    if (unlikely(l == NULL))
        return res;
    if (unlikely(l->l_count == 0 || refs <= 1 ||
                 atomic_load_explicit(&h->h_state, memory_order_relaxed) == RN_OB_RELEASED)) {
        ob_unlock(h);
        return FAST_NO;
    }
    if (--l->l_count == 0)
        ob_tag_holding(l->l_tag, -1);
    l->l_last_deref = site;
    atomic_store_explicit(&h->h_refs, refs - 1, memory_order_relaxed);
    ob_unlock(h);
    return FAST_DONE;
}

/* The rest of rn__ob_ref(): a contended lock retries the fast path once
 * it looks free, as a test-and-test-and-set lock would; anything else runs
 * the full path. */
__attribute__((noinline)) static int ob_ref_slow(struct ob_header *h, rn_tag_t tag,
                                              const struct rn_site *site, enum fast_result res)
{
    while (res == FAST_BUSY) {
        rn__ob_lock_wait(h);
        res = ref_fast(h, tag, site);
    }
    if (res == FAST_DONE)
        return 0;
    if (unlikely(!tag_ok(h, tag, site)))
        return RN_EINVAL;
    return ob_acquire(h, tag, site, 0);
}

/* The rest of rn__ob_deref(), as ob_ref_slow() is of rn__ob_ref(). */
__attribute__((noinline)) static int ob_drop_slow(struct ob_header *h, rn_tag_t tag,
                                               const struct rn_site *site, enum fast_result res)
{
    while (res == FAST_BUSY) {
        rn__ob_lock_wait(h);
        res = drop_fast(h, tag, site);
    }
    if (res == FAST_DONE)
        return 0;
    if (unlikely(!tag_ok(h, tag, site)))
        return RN_EINVAL;
    return ob_drop(h, tag, site, 0);
}

int rn__ob_ref(void *ob, rn_tag_t tag, const struct rn_site *site)
{
    struct ob_header *h = ob_header(ob);
    enum fast_result res = ref_fast(h, tag, site);

    if (likely(res == FAST_DONE))
        return 0;
    return ob_ref_slow(h, tag, site, res);
}

int rn__ob_deref(void *ob, rn_tag_t tag, const struct rn_site *site)
{
    struct ob_header *h = ob_header(ob);
    enum fast_result res = drop_fast(h, tag, site);

    if (likely(res == FAST_DONE))
        return 0;
    return ob_drop_slow(h, tag, site, res);
}

int rn__ob_deref_cond(void *ob, rn_tag_t tag, uint32_t clear, const struct rn_site *site)
{
    struct ob_header *h = ob_header(ob);

    if (unlikely(!tag_ok(h, tag, site)))
        return RN_EINVAL;
    return ob_drop_cond(h, tag, site, 0, clear);
}

bool rn__ob_tryref_live(void *ob, rn_tag_t tag, const struct rn_site *site)
{
    struct ob_header *h = ob_header(ob);
    int err;

    if (unlikely(!tag_ok(h, tag, site)))
        return false;
    err = ob_acquire(h, tag, site, OBF_LIVE_ONLY);
    return err == 0 || err == RN_ESATURATED;
}

int rn__ob_transfer(void *ob, rn_tag_t from, rn_tag_t to, const struct rn_site *site)
{
    struct ob_header *h = ob_header(ob);
    struct ob_ledger *lf = NULL, *lt;
    struct op_trace ot;
    const struct rn_site *last;
    uint8_t state;
    bool no_line = false, first = false;
    int err;

    if (unlikely(!tag_ok(h, from, site) || !tag_ok(h, to, site)))
        return RN_EINVAL;
    if (from == to)
        return 0;
    op_trace_begin(h, 0, &ot);
    for (;;) {
        ob_lock(h);
        state = atomic_load_explicit(&h->h_state, memory_order_relaxed);
        if (state == RN_OB_RELEASED) {
            err = RN_ERELEASED;
            break;
        }
        if (atomic_load_explicit(&h->h_flags, memory_order_relaxed) & OB_F_SATURATED) {
            err = 0;
            break;
        }
        lf = ledger_for_drop(h, from);
        if (lf == NULL || lf->l_count == 0) {
            err = RN_ENOTHELD;
            break;
        }
        lt = ledger_claim(h, to);  /* never lf's line: lf is busy */
        if (lt == NULL && no_line) {
            lt = ledger_reserve(h);  /* lf may be the reserve: then nothing moves */
        } else if (lt == NULL) {
            ob_unlock(h);
            no_line = ledger_grow(h) < 0;
            continue;
        }
        if (--lf->l_count == 0)
            ob_tag_holding(lf->l_tag, -1);
        lf->l_last_deref = site;
        if (lt->l_count++ == 0) {
            lt->l_since = rn_clock_stamp();
            first = true;
            ob_tag_holding(lt->l_tag, 1);
        }
        lt->l_last_ref = site;
        if (ot.ot_tr != NULL) {
            struct ob_hold *ho = trace_find_newest(ot.ot_tr, from);
            uint32_t refs = atomic_load_explicit(&h->h_refs, memory_order_relaxed);
            rn_time_t now = rn_clock_now();

            if (ho != NULL)
                ho->ho_tag = to;
            rn__ob_trace_event(ot.ot_tr, OB_OP_TRANSFER_OUT, from, site, ot.ot_stack, now, refs);
            rn__ob_trace_event(ot.ot_tr, OB_OP_TRANSFER_IN, to, site, ot.ot_stack, now, refs);
        }
        err = 0;
        break;
    }
    last = (err == RN_ENOTHELD && lf != NULL) ? lf->l_last_deref : NULL;
    ob_unlock(h);
    if (err == RN_ERELEASED)
        report_misuse(RN_MISUSE_REF_RELEASED, h, "transfer from", from, site, NULL, NULL, NULL);
    else if (err == RN_ENOTHELD)
        report_misuse(RN_MISUSE_DEREF_UNHELD, h, "transfer from", from, site, last,
                      "its last deref was", ot.ot_tr);
    op_trace_end(&ot);
    if (err == 0 && first) {
        enum ob_contract_breach b =
            rn__ob_contract_check(h->h_type, to, state == RN_OB_DYING);

        if (b != OB_CONTRACT_OK)
            rn__ob_contract_report(h, to, b, site);
    }
    return err;
}

int rn__ob_kill(void *ob, const struct rn_site *site)
{
    struct ob_header *h = ob_header(ob);
    uint8_t state;

    ob_lock(h);
    state = atomic_load_explicit(&h->h_state, memory_order_relaxed);
    if (state == RN_OB_LIVE) {
        atomic_store_explicit(&h->h_state, RN_OB_DYING, memory_order_relaxed);
        h->h_killed = rn_clock_now();
    }
    ob_unlock(h);
    if (state == RN_OB_RELEASED) {
        report_misuse(RN_MISUSE_REF_RELEASED, h, "kill (creator", h->h_create_tag, site, NULL,
                      NULL, NULL);
        return RN_ERELEASED;
    }
    if (state != RN_OB_LIVE) {
        report_misuse(RN_MISUSE_KILL_TWICE, h, "second kill (creator", h->h_create_tag, site,
                      NULL, NULL, NULL);
        return RN_EDYING;
    }
    return ob_drop(h, h->h_create_tag, site, 0);
}

void rn_ob_publish(void *ob)
{
    struct ob_header *h = ob_header(ob);

    /* The lock orders the creator's initialising writes before the flag,
     * and every finder takes the lock before it looks at the flag. */
    ob_lock(h);
    atomic_fetch_or_explicit(&h->h_flags, OB_F_PUBLISHED, memory_order_relaxed);
    ob_unlock(h);
}

/* ---- Queries ----------------------------------------------------------- */

uint64_t rn_ob_id(const void *ob)
{
    return ob_header(ob)->h_id;
}

struct rn_ob_type *rn_ob_type_of(const void *ob)
{
    return ob_header(ob)->h_type;
}

enum rn_ob_state rn_ob_state(const void *ob)
{
    return atomic_load_explicit(&ob_header(ob)->h_state, memory_order_acquire);
}

uint32_t rn_ob_refcount(const void *ob)
{
    return atomic_load_explicit(&ob_header(ob)->h_refs, memory_order_acquire);
}

uint32_t rn_ob_tag_count(const void *ob, rn_tag_t tag)
{
    struct ob_header *h = ob_header(ob);
    struct ob_ledger *l;
    uint32_t n;

    ob_lock(h);
    l = rn__ob_ledger_find(h, tag);
    n = l ? l->l_count : 0;
    ob_unlock(h);
    return n;
}

size_t rn_ob_ledger(const void *ob, struct rn_ob_ledger_entry *out, size_t max)
{
    struct ob_header *h = ob_header(ob);
    size_t n = 0;
    unsigned i;

    ob_lock(h);
    for (i = 0; i < h->h_nlines + h->h_nextra; i++) {
        const struct ob_ledger *l = ob_line(h, i);

        if (l->l_count == 0)
            continue;
        if (n < max)
            out[n] = (struct rn_ob_ledger_entry){l->l_tag, l->l_count, l->l_since};
        n++;
    }
    ob_unlock(h);
    return n;
}

const char *rn_ob_state_name(enum rn_ob_state state)
{
    switch (state) {
    case RN_OB_LIVE:
        return "LIVE";
    case RN_OB_DYING:
        return "DYING";
    case RN_OB_RELEASED:
        return "RELEASED";
    }
    return "?";
}

void rn_ob_describe(const void *ob, char *buf, size_t len)
{
    struct ob_header *h = ob_header(ob);

    if (len == 0)
        return;
    buf[0] = '\0';
    if (h->h_type->t_ops->describe != NULL)
        h->h_type->t_ops->describe(ob, buf, len);
    if (buf[0] == '\0')
        snprintf(buf, len, "%s #%" PRIu64, h->h_type->t_ops->name, h->h_id);
}

bool rn_ob_is_traced(const void *ob)
{
    return ob_traced(ob_header(ob));
}

void rn_ob_set_traced(void *ob, bool on)
{
    struct ob_header *h = ob_header(ob);
    struct ob_trace *tr = rn__ob_trace_get(h);

    if (tr == NULL)
        return;
    pthread_mutex_lock(&tr->tr_mutex);
    ob_lock(h);
    if (on) {
        if (!(atomic_load_explicit(&h->h_flags, memory_order_relaxed) & OB_F_TRACED))
            tr->tr_traced_since = rn_clock_now();
        atomic_fetch_or_explicit(&h->h_flags, OB_F_TRACED, memory_order_relaxed);
    } else {
        atomic_fetch_and_explicit(&h->h_flags, (uint8_t)~OB_F_TRACED, memory_order_relaxed);
        if (!atomic_load_explicit(&h->h_type->t_traced, memory_order_relaxed))
            tr->tr_nholds = 0;
    }
    ob_unlock(h);
    pthread_mutex_unlock(&tr->tr_mutex);
}

/* ---- Enumeration and lookup -------------------------------------------- */

void rn_ob_iter_init(struct rn_ob_iter *it, struct rn_ob_type *type, rn_tag_t tag)
{
    assert(type != NULL);
    it->it_type = type;
    it->it_cur = NULL;
    it->it_tag = tag;
    it->it_done = false;
}

void *rn_ob_iter_next(struct rn_ob_iter *it)
{
    struct ob_header *h, *found = NULL;
    void *prev = it->it_cur;

    if (it->it_done)
        return NULL;
    rn__ob_epoch_enter();
    h = prev ? ob_header(prev) : it->it_type->t_head;
    /* The cursor is referenced, hence not released, hence still linked:
     * its successor pointer is current. */
    for (h = atomic_load_explicit(&h->h_next, memory_order_acquire); h != NULL;
         h = atomic_load_explicit(&h->h_next, memory_order_acquire)) {
        int err = ob_acquire(h, it->it_tag, &site_iter,
                             OBF_LIVE_ONLY | OBF_PUBLISHED | OBF_CURSOR);

        if (err == 0 || err == RN_ESATURATED) {
            found = h;
            break;
        }
    }
    rn__ob_epoch_exit();
    it->it_cur = found ? found->h_body : NULL;
    it->it_done = found == NULL;
    if (prev != NULL)
        ob_drop(ob_header(prev), it->it_tag, &site_iter, OBF_CURSOR);
    return it->it_cur;
}

void rn_ob_iter_end(struct rn_ob_iter *it)
{
    if (it->it_cur != NULL)
        ob_drop(ob_header(it->it_cur), it->it_tag, &site_iter, OBF_CURSOR);
    it->it_cur = NULL;
    it->it_done = true;
}

void *rn__ob_lookup(uint64_t id, rn_tag_t tag, const struct rn_site *site)
{
    struct rn_ob_type *t;
    struct ob_header *h, *found = NULL;
    int err;

    rn__ob_epoch_enter();
    for (t = rn__ob_types(); t != NULL && found == NULL; t = atomic_load(&t->t_next)) {
        for (h = atomic_load_explicit(&t->t_head->h_next, memory_order_acquire); h != NULL;
             h = atomic_load_explicit(&h->h_next, memory_order_acquire)) {
            if (h->h_id != id)
                continue;
            err = ob_acquire(h, tag, site, OBF_QUIET | OBF_PUBLISHED);
            if (err == 0 || err == RN_ESATURATED)
                found = h;
            break;
        }
    }
    rn__ob_epoch_exit();
    return found ? found->h_body : NULL;
}

void *rn__ob_wait_ref(struct rn_ob_wait *w, rn_tag_t tag, const struct rn_site *site)
{
    struct ob_header *h;
    int err = RN_ERELEASED;

    rn__ob_epoch_enter();
    h = rn__ob_wait_target(w);
    if (h != NULL)
        err = ob_acquire(h, tag, site, OBF_QUIET);
    rn__ob_epoch_exit();
    return err == 0 || err == RN_ESATURATED ? h->h_body : NULL;
}

void rn_ob_drain(void)
{
    struct extra_free *ef;

    rn__ob_reclaim_all();
    /* The pool of extra ledger lines goes back to malloc too, so that a
     * test's memory balance does not depend on what ran before. */
    pthread_mutex_lock(&extra_pool_lock);
    ef = extra_pool;
    extra_pool = NULL;
    extra_pool_n = 0;
    pthread_mutex_unlock(&extra_pool_lock);
    while (ef != NULL) {
        struct extra_free *next = ef->ef_next;

        free(ef);
        ef = next;
    }
}
