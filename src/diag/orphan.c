/*
 * Orphans (diag.h): objects killed longer ago than their type's bound that
 * nothing waits for, and that a holder the verdict suspects still keeps.
 *
 * A wait makes a stuck close visible (the chains of render.c); an object
 * nobody waits for -- a deleted route a cache still holds, a closed
 * endpoint with a forgotten reference -- would stay dying for ever without
 * a word.  This finds them in a snapshot, with the same verdict a chain's
 * blocker gets, so `refnet why`, the watchdog and `refnet analyze` name
 * them alike.  A dying object whose every holder is expected (a reset
 * connection whose socket is still open) is held for a reason, and is not
 * an orphan.
 *
 * Reads the snapshot only.  Cost: one pass over the waits (sorted ids), one
 * over the objects, the verdict for each dying one past its bound.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "diag/diag_priv.h"
#include "refnet/error.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

struct rn__orphan_scan *rn__orphan_scan_new(const struct rn_snapshot *s)
{
    struct rn__orphan_scan *os = calloc(1, sizeof(*os));
    uint32_t i, n = 0;

    if (os == NULL)
        return NULL;
    os->os_ids = malloc(((size_t)s->s_nwaits * 2 + 1) * sizeof(*os->os_ids));
    if (os->os_ids == NULL) {
        free(os);
        return NULL;
    }
    for (i = 0; i < s->s_nwaits; i++) {
        if (s->s_waits[i].sw_waiter != 0)
            os->os_ids[n++] = s->s_waits[i].sw_waiter;
        os->os_ids[n++] = s->s_waits[i].sw_waited;
    }
    qsort(os->os_ids, n, sizeof(*os->os_ids), cmp_u64);
    os->os_nids = n;
    return os;
}

void rn__orphan_scan_free(struct rn__orphan_scan *os)
{
    if (os == NULL)
        return;
    free(os->os_ids);
    free(os);
}

rn_time_t rn__orphan_bound(const struct rn_snapshot *s, const struct rn_snap_object *o)
{
    const struct rn_snap_type *y = rn_snapshot_type(s, o->so_type);

    if (y != NULL && y->sy_orphan_bound != 0)
        return y->sy_orphan_bound;
    return s->s_threshold ? s->s_threshold : RN_DIAG_DEFAULT_THRESHOLD;
}

bool rn__orphan_is(const struct rn_snapshot *s, const struct rn__orphan_scan *os,
                   const struct rn_snap_object *o, struct rn__verdict *v, size_t nv)
{
    uint32_t i;

    if (o->so_state != RN_OB_DYING || o->so_killed == 0 || o->so_ntags == 0)
        return false;
    if (o->so_killed >= s->s_now || s->s_now - o->so_killed < rn__orphan_bound(s, o))
        return false;
    if (os->os_nids > 0 &&
        bsearch(&o->so_id, os->os_ids, os->os_nids, sizeof(*os->os_ids), cmp_u64) != NULL)
        return false;  /* a chain shows it */
    if (o->so_ntags > nv)
        return false;
    rn__verdict_judge(s, o, v);
    for (i = 0; i < o->so_ntags; i++)
        if (v[i].v_class == RN__VERDICT_SUSPECT)
            return true;
    return false;
}

void rn__orphan_render(const struct rn_snapshot *s, const struct rn_snap_object *o,
                       const struct rn__verdict *v, struct rn_strbuf *out)
{
    char age[32];

    rn_strbuf_puts(out, "orphan: ");
    rn__diag_object_left(o, out);
    rn_strbuf_puts(out, "   ");
    rn__diag_object_right(s, o, out);
    rn_strbuf_printf(out, "; nothing waits for it, not released %s after its kill\n",
                     rn__diag_age(s->s_now, o->so_killed, age, sizeof(age)));
    rn__diag_object_body(s, o, "", v, out);
    rn_strbuf_puts(out, "  verdict: ");
    rn__verdict_summary_alone(o, v, out);
    rn_strbuf_puts(out, "\n");
}

/* Calls fn for each orphan of s, with its verdicts.  Returns the number
 * of orphans, or RN_ENOMEM. */
typedef void (*orphan_fn)(const struct rn_snapshot *s, const struct rn_snap_object *o,
                          const struct rn__verdict *v, int nth, void *ctx);

static int orphans_each(const struct rn_snapshot *s, rn__diag_orphan_pred pred, void *pctx,
                        orphan_fn fn, void *ctx)
{
    struct rn__orphan_scan *os = rn__orphan_scan_new(s);
    struct rn__verdict *v = NULL;
    size_t nv = 0;
    uint32_t i;
    int n = 0;

    if (os == NULL)
        return RN_ENOMEM;
    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *o = &s->s_objects[i];

        if (o->so_state != RN_OB_DYING)
            continue;
        if (o->so_ntags > nv) {
            struct rn__verdict *p = realloc(v, o->so_ntags * sizeof(*p));

            if (p == NULL) {
                n = RN_ENOMEM;
                break;
            }
            v = p;
            nv = o->so_ntags;
        }
        if (!rn__orphan_is(s, os, o, v, nv) || (pred != NULL && !pred(s, o, pctx)))
            continue;
        fn(s, o, v, n, ctx);
        n++;
    }
    free(v);
    rn__orphan_scan_free(os);
    return n;
}

static void render_one(const struct rn_snapshot *s, const struct rn_snap_object *o,
                       const struct rn__verdict *v, int nth, void *ctx)
{
    (void)nth;
    rn__orphan_render(s, o, v, ctx);
}

int rn__diag_render_orphans_selected(const struct rn_snapshot *s, rn__diag_orphan_pred pred,
                                     void *ctx, struct rn_strbuf *out)
{
    int n = orphans_each(s, pred, ctx, render_one, out);

    if (n >= 0 && out->sb_oom)
        return RN_ENOMEM;
    return n;
}

int rn_diag_render_orphans(const struct rn_snapshot *s, struct rn_strbuf *out)
{
    return rn__diag_render_orphans_selected(s, NULL, NULL, out);
}

struct id_list {
    uint64_t *il_ids;
    size_t il_max;
};

static void note_id(const struct rn_snapshot *s, const struct rn_snap_object *o,
                    const struct rn__verdict *v, int nth, void *ctx)
{
    struct id_list *il = ctx;

    (void)s;
    (void)v;
    if ((size_t)nth < il->il_max)
        il->il_ids[nth] = o->so_id;
}

int rn_diag_orphans(const struct rn_snapshot *s, uint64_t *ids, size_t max)
{
    struct id_list il = {ids, max};

    return orphans_each(s, NULL, NULL, note_id, &il);
}
