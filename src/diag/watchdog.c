/*
 * The watchdog (diag.h): reports each wait once, when it has been pending
 * for the threshold, as the chains that contain it.
 *
 * rn_watchdog_check() (watchdog_live.c) takes a snapshot of the process
 * and hands it to rn_watchdog_check_snapshot() here, which does the work:
 * it picks the waits at least the threshold old that it has not reported,
 * renders the chains containing them with render.c, and sends the text to
 * the diagnostics sink.  It remembers every reported wait by (waited id,
 * waiter id, since) for as long as that wait is in the snapshots, so a
 * wait is reported once however often the watchdog looks, and a wait that
 * ends and begins again is reported again.
 *
 * Everything here reads the snapshot only; the live process is touched in
 * watchdog_live.c alone.
 */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "diag/diag_priv.h"
#include "refnet/error.h"
#include "refnet/report.h"

/* A reported wait. */
struct wd_key {
    uint64_t k_waited;  /* object waited for */
    uint64_t k_waiter;  /* waiting object, 0 for none */
    rn_time_t k_since;  /* when the wait began */
};

struct rn_watchdog {
    pthread_mutex_t wd_lock;   /* serialises checks */
    rn_time_t wd_threshold;    /* [I] report waits at least this old */
    struct wd_key *wd_seen;    /* reported waits still pending, sorted;
                                  guarded by wd_lock */
    size_t wd_nseen;           /* entries in wd_seen */
    struct wd_key *wd_orphans; /* reported orphans still dying, as (id, 0,
                                  killed), sorted; guarded by wd_lock */
    size_t wd_norphans;        /* entries in wd_orphans */
};

struct rn_watchdog *rn_watchdog_new(rn_time_t threshold)
{
    struct rn_watchdog *wd;

    assert(threshold > 0);
    wd = calloc(1, sizeof(*wd));
    if (wd == NULL)
        return NULL;
    if (pthread_mutex_init(&wd->wd_lock, NULL) != 0) {
        free(wd);
        return NULL;
    }
    wd->wd_threshold = threshold;
    return wd;
}

void rn_watchdog_free(struct rn_watchdog *wd)
{
    if (wd == NULL)
        return;
    pthread_mutex_destroy(&wd->wd_lock);
    free(wd->wd_seen);
    free(wd->wd_orphans);
    free(wd);
}

static int cmp_key(const void *a, const void *b)
{
    const struct wd_key *x = a, *y = b;

    if (x->k_waited != y->k_waited)
        return (x->k_waited > y->k_waited) - (x->k_waited < y->k_waited);
    if (x->k_waiter != y->k_waiter)
        return (x->k_waiter > y->k_waiter) - (x->k_waiter < y->k_waiter);
    return (x->k_since > y->k_since) - (x->k_since < y->k_since);
}

static struct wd_key key_of(const struct rn_snap_wait *w)
{
    struct wd_key k = {w->sw_waited, w->sw_waiter, w->sw_since};

    return k;
}

/* What the chain renderer is told to start from: the waits this check
 * reports for the first time. */
struct wd_sel {
    const struct wd_key *ws_seen;  /* reported before, sorted */
    size_t ws_nseen;
    rn_time_t ws_threshold;
};

static bool old_enough(const struct rn_snapshot *s, const struct rn_snap_wait *w,
                       rn_time_t threshold)
{
    return (w->sw_since < s->s_now ? s->s_now - w->sw_since : 0) >= threshold;
}

static bool pred_new(const struct rn_snapshot *s, const struct rn_snap_wait *w, void *ctx)
{
    const struct wd_sel *sel = ctx;
    struct wd_key k = key_of(w);

    return old_enough(s, w, sel->ws_threshold) &&
           (sel->ws_nseen == 0 ||
            bsearch(&k, sel->ws_seen, sel->ws_nseen, sizeof(k), cmp_key) == NULL);
}

/* The orphans this check reports for the first time: those not among the
 * ones reported before; every orphan found goes into the next memory. */
struct wd_orphan_sel {
    const struct wd_key *os_seen;  /* reported before, sorted */
    size_t os_nseen;
    struct wd_key *os_now;         /* orphans found now */
    size_t os_nnow, os_cap;
    bool os_oom;
};

static bool pred_new_orphan(const struct rn_snapshot *s, const struct rn_snap_object *o,
                            void *ctx)
{
    struct wd_orphan_sel *sel = ctx;
    struct wd_key k = {o->so_id, 0, o->so_killed};

    (void)s;
    if (sel->os_nnow == sel->os_cap) {
        size_t cap = sel->os_cap ? sel->os_cap * 2 : 16;
        struct wd_key *p = realloc(sel->os_now, cap * sizeof(*p));

        if (p == NULL) {
            sel->os_oom = true;
            return false;
        }
        sel->os_now = p;
        sel->os_cap = cap;
    }
    sel->os_now[sel->os_nnow++] = k;
    return sel->os_nseen == 0 ||
           bsearch(&k, sel->os_seen, sel->os_nseen, sizeof(k), cmp_key) == NULL;
}

int rn_watchdog_check_snapshot(struct rn_watchdog *wd, struct rn_snapshot *s,
                               struct rn_strbuf *out)
{
    struct rn_strbuf otext = RN_STRBUF_INIT;
    struct wd_orphan_sel osel = {0};
    int norphans = 0;
    struct rn_strbuf text = RN_STRBUF_INIT;
    struct wd_key *now_seen = NULL;
    struct wd_sel sel;
    size_t nnow = 0;
    uint32_t i;
    int nnew = 0, rc;
    char age[32];

    assert(wd != NULL && s != NULL);
    pthread_mutex_lock(&wd->wd_lock);
    s->s_threshold = wd->wd_threshold;
    sel.ws_seen = wd->wd_seen;
    sel.ws_nseen = wd->wd_nseen;
    sel.ws_threshold = wd->wd_threshold;

    /* The waits to remember after this check: every old one still in the
     * snapshot, reported now or before.  Ended waits drop out. */
    now_seen = malloc(((size_t)s->s_nwaits + 1) * sizeof(*now_seen));
    if (now_seen == NULL) {
        rc = RN_ENOMEM;
        goto out_unlock;
    }
    for (i = 0; i < s->s_nwaits; i++) {
        const struct rn_snap_wait *w = &s->s_waits[i];

        if (!old_enough(s, w, wd->wd_threshold))
            continue;
        if (pred_new(s, w, &sel))
            nnew++;
        now_seen[nnow++] = key_of(w);
    }
    if (nnow > 1)
        qsort(now_seen, nnow, sizeof(*now_seen), cmp_key);

    /* Orphans: dying past their bound with nothing waiting for them, so
     * no wait above could report them. */
    osel.os_seen = wd->wd_orphans;
    osel.os_nseen = wd->wd_norphans;
    norphans = rn__diag_render_orphans_selected(s, pred_new_orphan, &osel, &otext);
    if (norphans < 0 || osel.os_oom || otext.sb_oom) {
        rc = RN_ENOMEM;
        goto out_unlock;
    }
    if (osel.os_nnow > 1)
        qsort(osel.os_now, osel.os_nnow, sizeof(*osel.os_now), cmp_key);
    if (norphans > 0 && nnew == 0)
        rn_strbuf_printf(&text, "refnet watchdog: %d orphan%s: killed, not released within "
                         "%s or its type's bound, and nothing waits for %s\n", norphans,
                         norphans == 1 ? "" : "s",
                         rn_fmt_age(wd->wd_threshold, age, sizeof(age)),
                         norphans == 1 ? "it" : "them");

    if (nnew > 0) {
        rn_strbuf_printf(&text, "refnet watchdog: %d wait%s pending for %s or more\n", nnew,
                         nnew == 1 ? "" : "s", rn_fmt_age(wd->wd_threshold, age, sizeof(age)));
        rc = rn__diag_render_selected(s, pred_new, &sel, &text);
        if (rc < 0 || text.sb_oom) {
            /* Keep the old memory, so the next check reports these. */
            rc = RN_ENOMEM;
            goto out_unlock;
        }
    }
    if (nnew > 0 && norphans > 0)
        rn_strbuf_printf(&text, "refnet watchdog: %d orphan%s: killed, not released within "
                         "%s or its type's bound, and nothing waits for %s\n", norphans,
                         norphans == 1 ? "" : "s",
                         rn_fmt_age(wd->wd_threshold, age, sizeof(age)),
                         norphans == 1 ? "it" : "them");
    if (norphans > 0)
        rn_strbuf_puts(&text, rn_strbuf_str(&otext));
    if (text.sb_oom) {
        rc = RN_ENOMEM;
        goto out_unlock;
    }
    if (nnew > 0 || norphans > 0) {
        rn_report_text(RN_REPORT_WATCHDOG, rn_strbuf_str(&text));
        if (out != NULL) {
            rn_strbuf_puts(out, rn_strbuf_str(&text));
            if (out->sb_oom) {
                /* The caller did not get it: report these again next time
                 * rather than never to it. */
                rc = RN_ENOMEM;
                goto out_unlock;
            }
        }
    }
    free(wd->wd_seen);
    wd->wd_seen = now_seen;
    wd->wd_nseen = nnow;
    now_seen = NULL;
    free(wd->wd_orphans);
    wd->wd_orphans = osel.os_now;
    wd->wd_norphans = osel.os_nnow;
    osel.os_now = NULL;
    rc = nnew + norphans;

out_unlock:
    pthread_mutex_unlock(&wd->wd_lock);
    free(now_seen);
    free(osel.os_now);
    rn_strbuf_free(&otext);
    rn_strbuf_free(&text);
    rn_snapshot_free(s);
    return rc;
}
