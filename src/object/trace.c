/*
 * Traced mode: the stack depot, per-object hold records and history, and
 * symbolisation (object.h, "Tracing").
 *
 * A traced reference operation captures the caller's backtrace.  Identical
 * stacks are stored once in the depot and named by a small id, the way a
 * kernel stack depot does, so a hold record is three words and a million
 * enumerations from one call site cost one stack.  Symbols are looked up
 * only when a report or snapshot needs them, through libdw, which also sees
 * static functions; each stack is symbolised once and kept.
 */
#include <elfutils/libdwfl.h>
#include <execinfo.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "object/ob_priv.h"
#include "refnet/snapshot.h"

#define DEPOT_BUCKETS 4096
#define DEPOT_MAX (1u << 20)

struct depot_stack {
    struct depot_stack *ds_next;  /* bucket chain */
    uint32_t ds_hash;             /* of the frames */
    uint32_t ds_id;               /* index in depot_by_id */
    uint32_t ds_nframes;          /* captured frames */
    void *ds_frames[OB_TRACE_FRAMES];
    uint32_t ds_nsyms;            /* frames left after the manager's own */
    const char **ds_syms;         /* symbolised, or NULL until needed */
};

static pthread_mutex_t depot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct depot_stack *depot_buckets[DEPOT_BUCKETS];  /* [depot_lock] */
static struct depot_stack **depot_by_id;                  /* [depot_lock] */
static uint32_t depot_count;                              /* [depot_lock] */
static uint32_t depot_cap;                                /* [depot_lock] */
static Dwfl *depot_dwfl;                                  /* [depot_lock] */

static uint32_t frames_hash(void *const *frames, uint32_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    uint32_t i;

    for (i = 0; i < n; i++) {
        h ^= (uint64_t)(uintptr_t)frames[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
    }
    return (uint32_t)h;
}

uint32_t rn__ob_depot_capture(void)
{
    void *frames[OB_TRACE_FRAMES];
    struct depot_stack *ds;
    uint32_t n, hash, id = RN_SNAP_NO_STACK;
    int got;

    got = backtrace(frames, OB_TRACE_FRAMES);
    if (got <= 0)
        return RN_SNAP_NO_STACK;
    n = (uint32_t)got;
    hash = frames_hash(frames, n);
    pthread_mutex_lock(&depot_lock);
    for (ds = depot_buckets[hash % DEPOT_BUCKETS]; ds != NULL; ds = ds->ds_next) {
        if (ds->ds_hash == hash && ds->ds_nframes == n &&
            !memcmp(ds->ds_frames, frames, n * sizeof(void *)))
            goto found;
    }
    if (depot_count >= DEPOT_MAX)
        goto out_unlock;
    if (depot_count == depot_cap) {
        uint32_t cap = depot_cap ? depot_cap * 2 : 256;
        struct depot_stack **p = realloc(depot_by_id, cap * sizeof(*p));

        if (p == NULL)
            goto out_unlock;
        depot_by_id = p;
        depot_cap = cap;
    }
    ds = calloc(1, sizeof(*ds));
    if (ds == NULL)
        goto out_unlock;
    ds->ds_hash = hash;
    ds->ds_nframes = n;
    memcpy(ds->ds_frames, frames, n * sizeof(void *));
    ds->ds_id = depot_count;
    ds->ds_next = depot_buckets[hash % DEPOT_BUCKETS];
    depot_buckets[hash % DEPOT_BUCKETS] = ds;
    depot_by_id[depot_count++] = ds;
found:
    id = ds->ds_id;
out_unlock:
    pthread_mutex_unlock(&depot_lock);
    return id;
}

/* True for the manager's own functions, which lead every captured stack,
 * and for backtrace() itself (and a sanitizer's wrapper of it). */
static bool frame_is_internal(const char *name)
{
    static const char *const prefixes[] = {"ob_",      "rn__ob_",       "rn_ob_",
                                           "acquire_locked", "op_trace_", "backtrace",
                                           "__interceptor_", "__sanitizer_"};
    size_t i;

    if (name == NULL)
        return false;
    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
            return true;
    }
    return false;
}

static const Dwfl_Callbacks depot_dwfl_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
};

/* (Re)reads this process's modules.  [depot_lock] */
static void depot_dwfl_refresh(void)
{
    if (depot_dwfl != NULL)
        dwfl_end(depot_dwfl);
    depot_dwfl = dwfl_begin(&depot_dwfl_callbacks);
    if (depot_dwfl == NULL)
        return;
    if (dwfl_linux_proc_report(depot_dwfl, getpid()) != 0 ||
        dwfl_report_end(depot_dwfl, NULL, NULL) != 0) {
        dwfl_end(depot_dwfl);
        depot_dwfl = NULL;
    }
}

/* Symbolises one return address: "function+0xoff" or "0xaddr".  Returns a
 * malloc'd string and whether the function is the manager's own.  The
 * address looked up is one byte before the return address, inside the call
 * instruction; the offset printed is that of the return address, as
 * debuggers print it.  [depot_lock] */
static char *symbolise(void *frame, bool *internal)
{
    uintptr_t addr = (uintptr_t)frame;
    Dwfl_Module *mod = NULL;
    const char *name = NULL;
    GElf_Off off = 0;
    GElf_Sym sym;
    char *s = NULL;

    *internal = false;
    if (depot_dwfl == NULL)
        depot_dwfl_refresh();
    if (depot_dwfl != NULL && addr > 0) {
        mod = dwfl_addrmodule(depot_dwfl, addr - 1);
        if (mod == NULL) {
            depot_dwfl_refresh();  /* a module loaded since */
            if (depot_dwfl != NULL)
                mod = dwfl_addrmodule(depot_dwfl, addr - 1);
        }
    }
    if (mod != NULL)
        name = dwfl_module_addrinfo(mod, addr - 1, &off, &sym, NULL, NULL, NULL);
    if (name != NULL) {
        /* Drop a symbol version ("@@GLIBC_2.34"): noise in a report. */
        int namelen = (int)strcspn(name, "@");

        *internal = frame_is_internal(name);
        if (asprintf(&s, "%.*s+0x%" PRIx64, namelen, name, (uint64_t)off + 1) < 0)
            s = NULL;
    } else if (asprintf(&s, "0x%" PRIxPTR, addr) < 0) {
        s = NULL;
    }
    return s;
}

uint32_t rn__ob_depot_frames(uint32_t id, const char *const **frames)
{
    struct depot_stack *ds;
    uint32_t i, n = 0;
    bool leading = true;

    pthread_mutex_lock(&depot_lock);
    if (id >= depot_count) {
        pthread_mutex_unlock(&depot_lock);
        *frames = NULL;
        return 0;
    }
    ds = depot_by_id[id];
    if (ds->ds_syms == NULL) {
        const char **syms = calloc(ds->ds_nframes, sizeof(*syms));

        for (i = 0; syms != NULL && i < ds->ds_nframes; i++) {
            bool internal;
            char *s = symbolise(ds->ds_frames[i], &internal);

            if (s == NULL)
                continue;
            if (leading && internal) {
                free(s);
                continue;
            }
            leading = false;
            syms[n++] = s;
        }
        ds->ds_syms = syms;
        ds->ds_nsyms = n;
    }
    *frames = ds->ds_syms;
    n = ds->ds_nsyms;
    pthread_mutex_unlock(&depot_lock);
    return n;
}

struct ob_trace *rn__ob_trace_get(struct ob_header *h)
{
    struct ob_trace *tr = atomic_load_explicit(&h->h_trace, memory_order_acquire);
    struct ob_trace *expected = NULL;

    if (tr != NULL)
        return tr;
    tr = calloc(1, sizeof(*tr));
    if (tr == NULL)
        return NULL;
    pthread_mutex_init(&tr->tr_mutex, NULL);
    if (!atomic_compare_exchange_strong_explicit(&h->h_trace, &expected, tr,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire)) {
        pthread_mutex_destroy(&tr->tr_mutex);
        free(tr);
        return expected;
    }
    return tr;
}

void rn__ob_trace_event(struct ob_trace *tr, enum ob_op op, rn_tag_t tag,
                     const struct rn_site *site, uint32_t stack, rn_time_t now, uint32_t refs)
{
    struct ob_event *ev = &tr->tr_hist[tr->tr_hist_next++ % OB_TRACE_HISTORY];

    ev->ev_time = now;
    ev->ev_site = site;
    ev->ev_stack = stack;
    ev->ev_tag = tag;
    ev->ev_op = (uint8_t)op;
    ev->ev_refs = refs;
}

const char *rn__ob_op_name(enum ob_op op)
{
    switch (op) {
    case OB_OP_CREATE:
        return "create";
    case OB_OP_REF:
        return "ref";
    case OB_OP_DEREF:
        return "deref";
    case OB_OP_TRANSFER_OUT:
        return "transfer-out";
    case OB_OP_TRANSFER_IN:
        return "transfer-in";
    case OB_OP_KILL:
        return "kill";
    }
    return "?";
}

void rn__ob_trace_history(struct ob_trace *tr, rn_tag_t tag, struct rn_strbuf *sb)
{
    uint32_t n = tr->tr_hist_next, first, i, shown = 0;
    rn_time_t now = rn_clock_now();

    first = n > OB_TRACE_HISTORY ? n - OB_TRACE_HISTORY : 0;
    rn_strbuf_printf(sb, "  history of '%s' (newest last):\n", rn_tag_name(tag));
    for (i = first; i < n; i++) {
        const struct ob_event *ev = &tr->tr_hist[i % OB_TRACE_HISTORY];
        const char *const *frames;
        uint32_t nframes, f;
        char age[32];

        if (tag != RN_TAG_NONE && ev->ev_tag != tag)
            continue;
        shown++;
        rn_fmt_age(now >= ev->ev_time ? now - ev->ev_time : 0, age, sizeof(age));
        rn_strbuf_printf(sb, "    %-12s refs %-4" PRIu32 " %8s ago  at %s (%s:%d)\n",
                         rn__ob_op_name((enum ob_op)ev->ev_op), ev->ev_refs, age,
                         ev->ev_site ? ev->ev_site->func : "?",
                         ev->ev_site ? ev->ev_site->file : "?",
                         ev->ev_site ? ev->ev_site->line : 0);
        nframes = ev->ev_stack == RN_SNAP_NO_STACK ? 0 : rn__ob_depot_frames(ev->ev_stack, &frames);
        if (nframes > 0) {
            rn_strbuf_puts(sb, "      stack:");
            for (f = 0; f < nframes && f < 6; f++)
                rn_strbuf_printf(sb, "%s %s", f ? " <-" : "", frames[f]);
            rn_strbuf_puts(sb, "\n");
        }
    }
    if (shown == 0)
        rn_strbuf_puts(sb, "    (no events of this tag while traced)\n");
}
