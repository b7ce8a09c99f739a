/*
 * The batched netstat (netstat_walk.h): a walk of the object registry over
 * the transports' types, in batches the host schedules, with owners and
 * holders per row, and the lab's injected enumeration leak.
 *
 * A walk, in call order:
 *   rn_netstat_walk_start(): the walk's own object ("enumeration")
 *   rn_netstat_walk_resume(), once per batch:
 *     walk_check()    the cursor and the kept listeners, as they are now:
 *                     listeners that closed are written and let go; with
 *                     the fault, a table that changed restarts the walk
 *     the batch      per object: walk_one() -> the transport's row
 *                     (transport/netstat.h) -> kept (a listener) or stored
 *                     as a struct row; at the end walk_output(): the rows
 *                     go to the caller's np_row, as many as the budget
 *                     allows per batch
 *     -> np_yield(), or np_done() once all is written
 * Phases: "tcp listener", "tcp connection", "tcp timewait", "udp endpoint";
 * objects of other stacks and dying ones are stepped over (the registry is
 * process-wide and skips dying objects itself).
 *
 * Thread safety: [L], but for the leak record, under leak_lock.
 */
#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/once.h"
#include "refnet/error.h"
#include "refnet/netstat_walk.h"
#include "refnet/object.h"
#include "refnet/socket.h"
#include "refnet/strbuf.h"
#include "transport/netstat.h"

enum walk_phase {
    PH_LISTENERS,
    PH_CONNS,
    PH_TIMEWAIT,
    PH_UDP,
    PH_OUTPUT,  /* the rows go to the caller's np_row, in batches */
    PH_END,
};

static const char *const phase_types[PH_OUTPUT] = {
    "tcp listener", "tcp connection", "tcp timewait", "udp endpoint",
};

/* Restarts the injected fault makes at most per walk. */
#define WALK_RESTARTS_MAX 3
#define WALK_BATCH_MIN 8u
#define WALK_BATCH_MAX 4096u
#define WALK_BATCH_START 32u
#define WALK_LEDGER_MAX 16

/* Rows are kept in pieces of this many, never moved once stored: a
 * growing array of megabytes would be copied whole by a realloc in the
 * middle of some batch. */
#define WALK_CHUNK_ROWS 128u

struct walk_chunk {
    struct walk_chunk *wc_next;                        /* [L] the next piece */
    unsigned wc_n;                                     /* [L] rows used */
    struct rn_netstat_walk_row wc_rows[WALK_CHUNK_ROWS]; /* [L] */
};

/* Rows in pieces, in the order they were stored. */
struct walk_rows {
    struct walk_chunk *wr_head;  /* [L] */
    struct walk_chunk *wr_tail;  /* [L] the piece stored to */
};

/* A listener the walk keeps, under "enum", until its row is written. */
struct walk_listener {
    void *wl_ob;          /* [L] held by "enum" */
    struct rn_inaddr wl_laddr; /* [L] its address, for matching connections */
    uint16_t wl_lport;    /* [L] */
    unsigned wl_conns;    /* [L] connections found on it */
};

struct rn_netstat_walk {
    struct rn_stack *w_stack;              /* [I] */
    struct rn_netstat_params w_p;          /* [I] copy; np_what points at w_what */
    char w_what[48];                       /* [I] */
    struct walk_rows w_lrows;              /* [L] rows of listeners that closed
                                              during the walk */
    struct walk_rows w_rows;               /* [L] every row but listeners' */
    struct walk_chunk *w_next;             /* [L] PH_OUTPUT: the piece to hand
                                              out next (of w_lrows, then w_rows) */
    unsigned w_next_row;                   /* [L] its next row */
    bool w_next_lrows;                     /* [L] w_next is in w_lrows */
    enum walk_phase w_phase;               /* [L] */
    struct rn_ob_type *w_types[PH_OUTPUT]; /* [I] NULL: none registered */
    struct rn_ob_iter w_it;                /* [L] its cursor holds "enum" */
    bool w_it_on;                          /* [L] w_it was initialised */
    const void *w_cur_ob;                  /* [L] the object w_cur_state is of */
    char w_cur_state[16];                  /* [L] its row state when listed */
    uint64_t w_population;                 /* [L] live objects of the phase's
                                              type at the end of the last batch */
    struct walk_listener *w_tab;           /* [L] kept listeners */
    size_t w_ntab, w_captab;               /* [L] */
    unsigned w_bmax;                       /* [L] objects per batch now */
    bool w_done;                           /* [L] np_done() ran */
    bool w_kept_done;                      /* [L] PH_OUTPUT: the kept
                                              listeners' rows were handed out */
    atomic_bool w_ready;                   /* [A] w_what is written */
    _Atomic uint32_t w_nbatches;           /* [A] for describe */
    _Atomic uint64_t w_nrows;              /* [A] for describe */
    struct rn_netstat_stats w_stats;       /* [L] */
};

/* ---- The walk's own object ------------------------------------------------ */

static void walk_describe(const void *ob, char *buf, size_t len)
{
    const struct rn_netstat_walk *w = ob;

    if (!atomic_load_explicit(&w->w_ready, memory_order_acquire))
        return;  /* still being created */
    snprintf(buf, len, "enumeration %s: %" PRIu32 " batches, %" PRIu64 " rows", w->w_what,
             atomic_load_explicit(&w->w_nbatches, memory_order_relaxed),
             atomic_load_explicit(&w->w_nrows, memory_order_relaxed));
}

static void rows_free(struct walk_rows *r)
{
    struct walk_chunk *c;

    while ((c = r->wr_head) != NULL) {
        r->wr_head = c->wc_next;
        free(c);
    }
    r->wr_tail = NULL;
}

/* Returns room for one more row at the end of r, or NULL (the row is lost
 * and counted). */
static struct rn_netstat_walk_row *rows_add(struct rn_netstat_walk *w, struct walk_rows *r)
{
    struct walk_chunk *c = r->wr_tail;

    if (c == NULL || c->wc_n == WALK_CHUNK_ROWS) {
        c = malloc(sizeof(*c));
        if (c == NULL) {
            w->w_stats.nst_lost++;
            return NULL;
        }
        c->wc_next = NULL;
        c->wc_n = 0;
        if (r->wr_tail != NULL)
            r->wr_tail->wc_next = c;
        else
            r->wr_head = c;
        r->wr_tail = c;
    }
    return &c->wc_rows[c->wc_n++];
}

static void walk_release(void *ob)
{
    struct rn_netstat_walk *w = ob;

    rows_free(&w->w_lrows);
    rows_free(&w->w_rows);
    free(w->w_tab);
}

static const struct rn_ob_type_ops walk_ops = {
    .name = "enumeration",
    .size = sizeof(struct rn_netstat_walk),
    .release = walk_release,
    .describe = walk_describe,
};

static struct rn_ob_type *walk_type;
static struct rn_once walk_once = RN_ONCE_INIT;

/* Who holds a walk (object.h, "Holder contracts"). */
static const struct rn_ob_holder walk_holders[] = {
    {"create", 0, 0, 0, "expected: the walk runs until its last batch"},
};
static const struct rn_ob_contract walk_contract = {walk_holders, 1, NULL, 0, 0};

static bool walk_types(void)
{
    walk_type = rn_ob_type_register(&walk_ops);
    return walk_type != NULL && rn_ob_type_set_contract(walk_type, &walk_contract) == 0;
}

/* ---- The lab's record of lost holds ------------------------------------------ */

struct leak_rec {
    void *lr_ob;      /* an object the fault left an "enum" hold on */
    uint32_t lr_n;    /* how many */
};

static pthread_mutex_t leak_lock = PTHREAD_MUTEX_INITIALIZER;
static struct leak_rec *leak_recs;  /* guarded by leak_lock */
static size_t leak_n, leak_cap;     /* guarded by leak_lock */
static uint64_t leak_total;         /* guarded by leak_lock */

/* Records one hold on ob that the fault lost.  The hold itself keeps ob
 * from being freed until it is given back. */
static void leak_record(void *ob)
{
    size_t i;

    pthread_mutex_lock(&leak_lock);
    for (i = 0; i < leak_n && leak_recs[i].lr_ob != ob; i++)
        ;
    if (i == leak_n && leak_n == leak_cap) {
        size_t cap = leak_cap ? leak_cap * 2 : 16;
        struct leak_rec *v = realloc(leak_recs, cap * sizeof(*v));

        if (v == NULL) {
            /* Unrecorded: a real leak now, which is what the fault is. */
            pthread_mutex_unlock(&leak_lock);
            return;
        }
        leak_recs = v;
        leak_cap = cap;
    }
    if (i == leak_n)
        leak_recs[leak_n++] = (struct leak_rec){ob, 0};
    leak_recs[i].lr_n++;
    leak_total++;
    pthread_mutex_unlock(&leak_lock);
}

uint64_t rn_netstat_clear_leaks(rn_netstat_leak_fn fn, void *ctx)
{
    struct leak_rec *recs;
    uint64_t total = 0;
    char desc[160];
    size_t n, i;
    uint32_t k;

    pthread_mutex_lock(&leak_lock);
    recs = leak_recs;
    n = leak_n;
    leak_recs = NULL;
    leak_n = leak_cap = 0;
    leak_total = 0;
    pthread_mutex_unlock(&leak_lock);
    for (i = 0; i < n; i++) {
        if (fn != NULL) {
            struct rn_netstat_leak leak = {
                .nl_id = rn_ob_id(recs[i].lr_ob),
                .nl_desc = desc,
                .nl_holds = recs[i].lr_n,
            };

            rn_ob_describe(recs[i].lr_ob, desc, sizeof(desc));
            fn(&leak, ctx);
        }
        /* The last one may release the object, and complete whatever
         * waited for it. */
        for (k = 0; k < recs[i].lr_n; k++)
            rn_ob_deref(recs[i].lr_ob, RN_TAG_ENUM);
        total += recs[i].lr_n;
    }
    free(recs);
    return total;
}

uint64_t rn_netstat_leaked(void)
{
    uint64_t n;

    pthread_mutex_lock(&leak_lock);
    n = leak_total;
    pthread_mutex_unlock(&leak_lock);
    return n;
}

/* ---- Rows ------------------------------------------------------------------------ */

static rn_time_t walk_clock(const struct rn_netstat_walk *w)
{
    return w->w_p.np_clock ? w->w_p.np_clock(w->w_p.np_ctx) : 0;
}

/* References the walk itself holds on ob. */
static unsigned walk_own(const struct rn_netstat_walk *w, const void *ob)
{
    unsigned n = w->w_it_on && w->w_it.it_cur == ob;
    size_t i;

    for (i = 0; i < w->w_ntab; i++)
        n += w->w_tab[i].wl_ob == ob;
    return n;
}

/* Stores one row as it is now, with its owner and holders (np_refs).
 * conns < 0: not a listener.  A row that finds no memory is lost and
 * counted. */
static void put_row(struct rn_netstat_walk *w, struct walk_rows *to,
                    const struct rn_netstat_row *row, long conns)
{
    struct rn_ob_ledger_entry led[RN_NETSTAT_HOLDERS_MAX];
    unsigned own = walk_own(w, row->nr_ob);
    struct rn_netstat_walk_row *wr = rows_add(w, to);
    size_t n, i;

    if (wr == NULL)
        return;
    atomic_fetch_add_explicit(&w->w_nrows, 1, memory_order_relaxed);
    *wr = (struct rn_netstat_walk_row){
        .wr_row = *row,
        .wr_id = rn_ob_id(row->nr_ob),
        .wr_refs = rn_ob_refcount(row->nr_ob) - own,
        .wr_conns = conns,
    };
    wr->wr_row.nr_ob = NULL;
    if (w->w_p.np_info)
        wr->wr_has_info = rn__tcp_netstat_info(w->w_stack, row->nr_ob, &wr->wr_info);
    if (!w->w_p.np_refs)
        return;
    wr->wr_has_owner = rn_sock_owner_of(row->nr_ob, &wr->wr_owner) == 0;
    n = rn_ob_ledger(row->nr_ob, led, RN_NETSTAT_HOLDERS_MAX);
    if (n > RN_NETSTAT_HOLDERS_MAX)
        n = RN_NETSTAT_HOLDERS_MAX;
    for (i = 0; i < n; i++) {
        uint32_t c = led[i].count - (led[i].tag == RN_TAG_ENUM ? own : 0);

        if (c == 0)
            continue;
        wr->wr_holders[wr->wr_nholders++] = (struct rn_netstat_holder){
            .nh_tag = rn_tag_name(led[i].tag),
            .nh_count = c,
        };
    }
}

/* ---- Kept listeners ------------------------------------------------------------- */

/* Writes the row of kept listener i and lets it go. */
static void tab_release(struct rn_netstat_walk *w, size_t i)
{
    struct walk_listener *wl = &w->w_tab[i];
    struct rn_netstat_row row;

    if (rn__tcp_netstat_row(w->w_stack, wl->wl_ob, &row))
        put_row(w, &w->w_lrows, &row, (long)wl->wl_conns);
    rn_ob_deref(wl->wl_ob, RN_TAG_ENUM);
    w->w_tab[i] = w->w_tab[--w->w_ntab];
}

/* Not inlined, so that a traced hold names it. */
__attribute__((noinline)) static void tab_keep(struct rn_netstat_walk *w, void *ob,
                                               const struct rn_netstat_row *row)
{
    if (w->w_ntab == w->w_captab) {
        size_t cap = w->w_captab ? w->w_captab * 2 : 8;
        struct walk_listener *v = realloc(w->w_tab, cap * sizeof(*v));

        if (v == NULL) {
            /* Stored at once, without its connection count. */
            put_row(w, &w->w_lrows, row, -1);
            return;
        }
        w->w_tab = v;
        w->w_captab = cap;
    }
    rn_ob_ref(ob, RN_TAG_ENUM);
    w->w_tab[w->w_ntab++] = (struct walk_listener){ob, row->nr_laddr, row->nr_lport, 0};
}

/* Counts a connection on the listener it arrived on (its local end). */
static void tab_count(struct rn_netstat_walk *w, const struct rn_netstat_row *row)
{
    size_t i;

    for (i = 0; i < w->w_ntab; i++) {
        const struct walk_listener *wl = &w->w_tab[i];

        if (wl->wl_lport == row->nr_lport && (rn_inaddr_is_any(&wl->wl_laddr) || rn_inaddr_eq(&wl->wl_laddr, &row->nr_laddr))) {
            w->w_tab[i].wl_conns++;
            return;
        }
    }
}

/* ---- Batches ------------------------------------------------------------------- */

static bool row_of(struct rn_netstat_walk *w, const void *ob, struct rn_netstat_row *row)
{
    return w->w_phase == PH_UDP ? rn__udp_netstat_row(w->w_stack, ob, row)
                                : rn__tcp_netstat_row(w->w_stack, ob, row);
}

/* One object the iterator stands on. */
__attribute__((noinline)) static void walk_one(struct rn_netstat_walk *w, void *ob)
{
    struct rn_netstat_row row;

    if (!row_of(w, ob, &row))
        return;  /* another stack's, or not bound */
    w->w_cur_ob = ob;
    snprintf(w->w_cur_state, sizeof(w->w_cur_state), "%s", row.nr_state);
    if (row.nr_listening && !w->w_p.np_all)
        return;
    if (w->w_phase == PH_LISTENERS) {
        tab_keep(w, ob, &row);
        return;
    }
    if (w->w_phase == PH_CONNS || w->w_phase == PH_TIMEWAIT)
        tab_count(w, &row);
    put_row(w, &w->w_rows, &row, -1);
}

/* Moves the iterator to the next phase that has a type. */
static void walk_next_phase(struct rn_netstat_walk *w)
{
    if (w->w_it_on)
        rn_ob_iter_end(&w->w_it);
    w->w_it_on = false;
    while (++w->w_phase < PH_OUTPUT) {
        if (w->w_types[w->w_phase] != NULL) {
            rn_ob_iter_init(&w->w_it, w->w_types[w->w_phase], RN_TAG_ENUM);
            w->w_it_on = true;
            return;
        }
    }
}

static void walk_begin(struct rn_netstat_walk *w)
{
    w->w_phase = (enum walk_phase)-1;
    walk_next_phase(w);
}

/* True if what the walk stands on changed since the last batch: the
 * cursor died or changed state, or objects of its type came or went. */
static bool walk_changed(struct rn_netstat_walk *w)
{
    struct rn_netstat_row row;
    void *cur;

    if (!w->w_it_on || w->w_phase >= PH_OUTPUT)
        return false;
    if (rn_ob_live_count(w->w_types[w->w_phase]) != w->w_population)
        return true;
    cur = w->w_it.it_cur;
    if (cur == NULL || cur != w->w_cur_ob)
        return false;  /* none, or not one of this stack's */
    if (rn_ob_state(cur) != RN_OB_LIVE || !row_of(w, cur, &row))
        return true;
    return strcmp(row.nr_state, w->w_cur_state) != 0;
}

/* The start of every batch but the first: the world moved on meanwhile. */
static void walk_check(struct rn_netstat_walk *w)
{
    bool changed = walk_changed(w);
    size_t i;

    if (w->w_phase >= PH_OUTPUT)
        return;  /* it holds nothing any more */
    for (i = w->w_ntab; i-- > 0;) {
        if (rn_ob_state(w->w_tab[i].wl_ob) != RN_OB_LIVE) {
            changed = true;
            if (!w->w_p.np_inject_enum_leak)
                tab_release(w, i);  /* closed: written now, let go */
        }
    }
    if (!changed || !w->w_p.np_inject_enum_leak || w->w_stats.nst_restarts >= WALK_RESTARTS_MAX)
        return;
    /*
     * INJECTED FAULT (`--inject enum-leak`), on purpose: the bug of the
     * case "Unable to stop Apache" (DESIGN.md, "The case it is built for"),
     * where the path enumerating connections for netstat leaked references
     * on the listener.  The table changed under the walk, so it starts
     * over for a consistent listing -- and forgets the "enum" holds of the
     * listeners it kept.  The cursor's own hold is dropped as it should be.
     * The lost holds are recorded for `refnet lab clear-leak`.
     */
    for (i = 0; i < w->w_ntab; i++) {
        leak_record(w->w_tab[i].wl_ob);
        w->w_stats.nst_leaked++;
    }
    w->w_ntab = 0;  /* the bug: no rn_ob_deref(..., RN_TAG_ENUM) */
    w->w_stats.nst_restarts++;
    rows_free(&w->w_rows);
    rows_free(&w->w_lrows);
    atomic_store_explicit(&w->w_nrows, 0, memory_order_relaxed);
    walk_begin(w);
}

/* Rows handed out between two readings of the clock. */
#define WALK_OUTPUT_STEP 16u

/* Hands out one row. */
static void walk_hand_out(struct rn_netstat_walk *w, const struct rn_netstat_walk_row *row)
{
    w->w_stats.nst_rows++;
    w->w_p.np_row(row, w->w_p.np_ctx);
}

/* The output phase: the kept listeners' rows (the listeners are let go
 * then), the rows of listeners that closed meanwhile, then every other
 * row, while the batch has time.  Returns true once all were handed out. */
static bool walk_output(struct rn_netstat_walk *w, rn_time_t start)
{
    unsigned n = 0;
    size_t i;

    if (!w->w_kept_done) {
        struct walk_rows kept = {NULL, NULL};
        struct walk_chunk *c;

        /* In the order they were found, as they are now. */
        for (i = 0; i < w->w_ntab; i++) {
            struct rn_netstat_row row;

            if (rn__tcp_netstat_row(w->w_stack, w->w_tab[i].wl_ob, &row))
                put_row(w, &kept, &row, (long)w->w_tab[i].wl_conns);
        }
        while (w->w_ntab > 0)
            rn_ob_deref(w->w_tab[--w->w_ntab].wl_ob, RN_TAG_ENUM);
        for (c = kept.wr_head; c != NULL; c = c->wc_next)
            for (i = 0; i < c->wc_n; i++)
                walk_hand_out(w, &c->wc_rows[i]);
        rows_free(&kept);
        w->w_kept_done = true;
        w->w_next = w->w_lrows.wr_head;
        w->w_next_lrows = true;
        w->w_next_row = 0;
    }
    for (;;) {
        if (w->w_next == NULL) {
            if (!w->w_next_lrows)
                return true;
            w->w_next = w->w_rows.wr_head;
            w->w_next_lrows = false;
            w->w_next_row = 0;
            continue;
        }
        if (w->w_next_row == w->w_next->wc_n) {
            w->w_next = w->w_next->wc_next;
            w->w_next_row = 0;
            continue;
        }
        if (++n % WALK_OUTPUT_STEP == 0 && w->w_p.np_clock != NULL &&
            walk_clock(w) - start >= w->w_p.np_budget)
            return false;
        walk_hand_out(w, &w->w_next->wc_rows[w->w_next_row++]);
    }
}

void rn_netstat_walk_resume(struct rn_netstat_walk *w)
{
    rn_time_t start, cpu0 = 0, took, cpu;
    unsigned steps = 0;
    bool timed_out = false;
    void *ob;

    assert(!w->w_done);
    start = walk_clock(w);
    if (w->w_p.np_cpu_clock != NULL)
        cpu0 = w->w_p.np_cpu_clock(w->w_p.np_ctx);
    if (w->w_stats.nst_batches > 0)
        walk_check(w);
    while (w->w_phase < PH_OUTPUT) {
        if (steps >= w->w_bmax)
            break;
        if (w->w_p.np_clock != NULL && steps > 0 && walk_clock(w) - start >= w->w_p.np_budget) {
            timed_out = true;
            break;
        }
        ob = rn_ob_iter_next(&w->w_it);
        steps++;
        if (ob == NULL) {
            walk_next_phase(w);
            continue;
        }
        walk_one(w, ob);
    }
    if (w->w_phase < PH_OUTPUT)
        w->w_population = rn_ob_live_count(w->w_types[w->w_phase]);
    else if (w->w_phase == PH_OUTPUT && steps < w->w_bmax &&
             walk_output(w, start))
        w->w_phase = PH_END;

    took = walk_clock(w) - start;
    w->w_stats.nst_visited += steps;
    w->w_stats.nst_batches++;
    atomic_fetch_add_explicit(&w->w_nbatches, 1, memory_order_relaxed);
    w->w_stats.nst_total += took;
    if (took > w->w_stats.nst_longest)
        w->w_stats.nst_longest = took;
    if (took > RN_MSEC(1))
        w->w_stats.nst_over_1ms++;
    if (w->w_p.np_cpu_clock != NULL) {
        cpu = w->w_p.np_cpu_clock(w->w_p.np_ctx) - cpu0;
        if (cpu > w->w_stats.nst_longest_cpu)
            w->w_stats.nst_longest_cpu = cpu;
        if (cpu > RN_MSEC(1))
            w->w_stats.nst_over_1ms_cpu++;
    }
    /* The next batch's size: smaller after one that ran out of time,
     * larger after one that was quick. */
    if (w->w_p.np_batch == 0) {
        if (timed_out && w->w_bmax > WALK_BATCH_MIN)
            w->w_bmax /= 2;
        else if (!timed_out && w->w_p.np_clock != NULL && took < w->w_p.np_budget / 4 &&
                 w->w_bmax < WALK_BATCH_MAX)
            w->w_bmax *= 2;
    }
    if (w->w_phase < PH_END) {
        w->w_p.np_yield(w, w->w_p.np_ctx);
        return;
    }
    w->w_done = true;
    w->w_p.np_done(w, w->w_p.np_ctx);
}

int rn_netstat_walk_start(struct rn_stack *st, const struct rn_netstat_params *params,
                          struct rn_netstat_walk **wp)
{
    struct rn_netstat_walk *w;
    int i;

    assert(st != NULL && params != NULL && wp != NULL);
    assert(params->np_row != NULL && params->np_yield != NULL && params->np_done != NULL);
    if (!rn_once(&walk_once, walk_types))
        return RN_ENOMEM;
    w = rn_ob_create(walk_type, RN_TAG_CREATE);
    if (w == NULL)
        return RN_ENOMEM;
    w->w_stack = st;
    w->w_p = *params;
    snprintf(w->w_what, sizeof(w->w_what), "%s", params->np_what ? params->np_what : "netstat");
    w->w_p.np_what = w->w_what;
    atomic_store_explicit(&w->w_ready, true, memory_order_release);
    if (w->w_p.np_budget == 0)
        w->w_p.np_budget = RN_NETSTAT_BUDGET;
    w->w_bmax = w->w_p.np_batch ? w->w_p.np_batch : WALK_BATCH_START;
    for (i = 0; i < PH_OUTPUT; i++)
        w->w_types[i] = rn_ob_type_find(phase_types[i]);
    walk_begin(w);
    rn_ob_publish(w);
    *wp = w;
    return 0;
}

void rn_netstat_walk_cancel(struct rn_netstat_walk *w)
{
    assert(!w->w_done);
    if (w->w_it_on)
        rn_ob_iter_end(&w->w_it);
    w->w_it_on = false;
    while (w->w_ntab > 0)
        rn_ob_deref(w->w_tab[--w->w_ntab].wl_ob, RN_TAG_ENUM);
    rn_ob_kill(w);
}

void rn_netstat_walk_free(struct rn_netstat_walk *w)
{
    assert(w->w_done && w->w_ntab == 0 && !w->w_it_on);
    rn_ob_kill(w);
}

void rn_netstat_walk_stats(const struct rn_netstat_walk *w, struct rn_netstat_stats *out)
{
    *out = w->w_stats;
}
