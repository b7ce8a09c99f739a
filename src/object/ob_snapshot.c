/*
 * Live capture of a snapshot (snapshot.h): every unreleased object with its
 * ledger and traced holds, the stacks those holds name, and the waits.
 *
 * The capture runs in two passes so that nothing is described or released
 * inside an epoch section: first, under the epoch, each object of each type
 * gets a "snapshot" reference; then, outside it, each is copied under its
 * own lock, described, and let go.  The snapshot's own reference is taken
 * out of the copy, so the ledger shows exactly what the rest of the process
 * holds.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "object/ob_priv.h"
#include "refnet/error.h"
#include "refnet/report.h"
#include "refnet/snapshot.h"

static const struct rn_site site_snapshot = {__FILE__, "rn_ob_snapshot", __LINE__};

/* Maps depot ids to snapshot stack indexes. */
struct stack_map {
    uint32_t *sm_depot;  /* depot id per snapshot stack */
    uint32_t sm_n;
    uint32_t sm_cap;
};

static uint32_t stack_index(struct rn_snapshot *s, struct stack_map *m, uint32_t depot_id)
{
    const char *const *frames;
    struct rn_snap_stack *ss;
    uint32_t i, n;

    if (depot_id == RN_SNAP_NO_STACK)
        return RN_SNAP_NO_STACK;
    for (i = 0; i < m->sm_n; i++) {
        if (m->sm_depot[i] == depot_id)
            return i;
    }
    if (m->sm_n == m->sm_cap) {
        uint32_t cap = m->sm_cap ? m->sm_cap * 2 : 16;
        uint32_t *p = realloc(m->sm_depot, cap * sizeof(*p));

        if (p == NULL)
            return RN_SNAP_NO_STACK;
        m->sm_depot = p;
        m->sm_cap = cap;
    }
    n = rn__ob_depot_frames(depot_id, &frames);
    ss = rn_snapshot_add_stack(s);
    if (ss == NULL)
        return RN_SNAP_NO_STACK;
    ss->ss_frames = rn_snap_alloc(s, (n ? n : 1) * sizeof(*ss->ss_frames));
    if (ss->ss_frames == NULL) {
        s->s_nstacks--;
        return RN_SNAP_NO_STACK;
    }
    for (i = 0; i < n; i++) {
        ss->ss_frames[i] = rn_snap_strdup(s, frames[i]);
        if (ss->ss_frames[i] == NULL)
            break;
    }
    ss->ss_nframes = i;
    m->sm_depot[m->sm_n++] = depot_id;
    return m->sm_n - 1;
}

static const char *site_string(struct rn_snapshot *s, const struct rn_site *site)
{
    char buf[256];

    if (site == NULL)
        return NULL;
    snprintf(buf, sizeof(buf), "%s (%s:%d)", site->func, site->file, site->line);
    return rn_snap_strdup(s, buf);
}

/* What is copied from an object under its lock. */
struct ob_copy {
    uint8_t c_state;
    uint8_t c_flags;
    bool c_traced;
    uint32_t c_refs;
    rn_time_t c_created;
    rn_time_t c_killed;
    rn_time_t c_traced_since;
    uint32_t c_conds;
    uint32_t c_nlines;
    struct ob_ledger *c_lines;
    uint32_t c_nholds;
    struct ob_hold *c_holds;
    uint32_t c_cap_lines;  /* slots in c_lines, kept from object to object */
    uint32_t c_cap_holds;  /* slots in c_holds */
};

/* Copies h's ledger and holds, leaving out the snapshot's own reference.
 * Returns 0 or RN_ENOMEM. */
static int copy_object(struct ob_header *h, struct ob_copy *c)
{
    struct ob_trace *tr = atomic_load_explicit(&h->h_trace, memory_order_acquire);
    uint32_t i, n;

    c->c_nlines = 0;
    c->c_nholds = 0;
    c->c_traced_since = 0;
    if (tr != NULL)
        pthread_mutex_lock(&tr->tr_mutex);  /* holds change only under it */
    for (;;) {
        uint32_t want_holds = tr ? tr->tr_nholds : 0;

        ob_lock(h);
        n = h->h_nlines + h->h_nextra;
        if (n <= c->c_cap_lines && want_holds <= c->c_cap_holds)
            break;
        ob_unlock(h);
        free(c->c_lines);
        free(c->c_holds);
        c->c_cap_lines = n + 8;
        c->c_cap_holds = want_holds;
        c->c_lines = calloc(c->c_cap_lines, sizeof(*c->c_lines));
        c->c_holds = c->c_cap_holds ? calloc(c->c_cap_holds, sizeof(*c->c_holds)) : NULL;
        if (c->c_lines == NULL || (c->c_cap_holds && c->c_holds == NULL))
            goto out_nomem;
    }
    c->c_state = atomic_load_explicit(&h->h_state, memory_order_relaxed);
    c->c_flags = atomic_load_explicit(&h->h_flags, memory_order_relaxed);
    c->c_traced = (c->c_flags & OB_F_TRACED) ||
                  atomic_load_explicit(&h->h_type->t_traced, memory_order_relaxed);
    c->c_refs = atomic_load_explicit(&h->h_refs, memory_order_relaxed);
    c->c_created = h->h_created;
    c->c_killed = h->h_killed;
    c->c_conds = atomic_load_explicit(&h->h_conds, memory_order_relaxed);
    if (c->c_traced) {
        /* Tracing applies from the earlier of its per-object arming and
         * its type's (or the object's creation, if the type's came first). */
        rn_time_t ts = atomic_load_explicit(&h->h_type->t_traced_since, memory_order_relaxed);
        bool by_type = atomic_load_explicit(&h->h_type->t_traced, memory_order_relaxed);

        if (ts < h->h_created)
            ts = h->h_created;
        if (c->c_flags & OB_F_TRACED) {
            /* The flag is set only once the trace is there; it may have
             * come after the load above. */
            const struct ob_trace *t2 =
                tr != NULL ? tr : atomic_load_explicit(&h->h_trace, memory_order_acquire);
            rn_time_t own = t2 != NULL ? t2->tr_traced_since : 0;

            c->c_traced_since = by_type && ts < own ? ts : own;
        }
        else
            c->c_traced_since = ts;
    }
    for (i = 0; i < n; i++) {
        const struct ob_ledger *l = ob_line(h, i);

        if (l->l_count > 0)
            c->c_lines[c->c_nlines++] = *l;
    }
    if (tr != NULL && c->c_traced && tr->tr_nholds > 0) {
        memcpy(c->c_holds, tr->tr_holds, tr->tr_nholds * sizeof(*c->c_holds));
        c->c_nholds = tr->tr_nholds;
    }
    ob_unlock(h);
    if (tr != NULL)
        pthread_mutex_unlock(&tr->tr_mutex);
    /* Take the snapshots' references out of the copy: this one's, and
     * those of any other snapshot being taken at the same time (the
     * watchdog's while `refnet dump` runs), which would otherwise show in
     * one capture and not in the other. */
    for (i = 0; i < c->c_nlines; i++) {
        if (c->c_lines[i].l_tag == RN_TAG_SNAPSHOT) {
            c->c_refs -= c->c_lines[i].l_count;
            c->c_lines[i] = c->c_lines[--c->c_nlines];
            break;
        }
    }
    return 0;
out_nomem:
    if (tr != NULL)
        pthread_mutex_unlock(&tr->tr_mutex);
    free(c->c_lines);
    free(c->c_holds);
    c->c_lines = NULL;
    c->c_holds = NULL;
    c->c_cap_lines = c->c_cap_holds = 0;
    return RN_ENOMEM;
}

static int cmp_line(const void *a, const void *b)
{
    const struct ob_ledger *x = a, *y = b;

    /* Oldest holder first; ties by name, for a stable report. */
    if (x->l_since != y->l_since)
        return (x->l_since > y->l_since) - (x->l_since < y->l_since);
    return strcmp(rn_tag_name(x->l_tag), rn_tag_name(y->l_tag));
}

/* Groups holds by (tag, stack) into o->so_holds. */
static int group_holds(struct rn_snapshot *s, struct stack_map *m, struct rn_snap_object *o,
                       const struct ob_copy *c)
{
    uint32_t i, j, ngroups = 0;
    struct rn_snap_hold *g;

    if (c->c_nholds == 0)
        return 0;
    g = rn_snap_alloc(s, c->c_nholds * sizeof(*g));
    if (g == NULL)
        return RN_ENOMEM;
    for (i = 0; i < c->c_nholds; i++) {
        const struct ob_hold *ho = &c->c_holds[i];
        const char *tag = rn_tag_name(ho->ho_tag);
        uint32_t st = stack_index(s, m, ho->ho_stack);

        for (j = 0; j < ngroups; j++) {
            if (g[j].sh_stack == st && !strcmp(g[j].sh_tag, tag))
                break;
        }
        if (j == ngroups) {
            g[j].sh_tag = rn_snap_strdup(s, tag);
            if (g[j].sh_tag == NULL)
                return RN_ENOMEM;
            g[j].sh_stack = st;
            g[j].sh_oldest = ho->ho_time;
            ngroups++;
        }
        g[j].sh_count++;
        if (ho->ho_time < g[j].sh_oldest)
            g[j].sh_oldest = ho->ho_time;
    }
    o->so_holds = g;
    o->so_nholds = ngroups;
    return 0;
}

/* Strings every object of a type, or every line of a tag, shares: copied
 * into the snapshot once each. */
struct name_cache {
    const char **nc_tags;             /* by tag, RN_TAG_MAX + 1 of them */
    const struct rn_ob_type *nc_type; /* the type of nc_type_name */
    const char *nc_type_name;
};

static const char *tag_string(struct rn_snapshot *s, struct name_cache *nc, rn_tag_t tag)
{
    if (nc->nc_tags == NULL || tag > RN_TAG_MAX)
        return rn_snap_strdup(s, rn_tag_name(tag));
    if (nc->nc_tags[tag] == NULL)
        nc->nc_tags[tag] = rn_snap_strdup(s, rn_tag_name(tag));
    return nc->nc_tags[tag];
}

static const char *type_string(struct rn_snapshot *s, struct name_cache *nc,
                               const struct rn_ob_type *t)
{
    if (nc->nc_type != t || nc->nc_type_name == NULL) {
        nc->nc_type = t;
        nc->nc_type_name = rn_snap_strdup(s, t->t_ops->name);
    }
    return nc->nc_type_name;
}

static int capture_object(struct rn_snapshot *s, struct stack_map *m, struct name_cache *nc,
                          struct ob_copy *cp, struct ob_header *h)
{
    struct rn_snap_object *o;
    struct ob_copy c;
    char desc[256];
    uint32_t i, recorded = 0;
    int err;

    err = copy_object(h, cp);
    c = *cp;
    if (err < 0)
        return err;
    rn_ob_describe(h->h_body, desc, sizeof(desc));
    o = rn_snapshot_add_object(s);
    if (o == NULL) {
        err = RN_ENOMEM;
        goto out;
    }
    o->so_id = h->h_id;
    o->so_type = type_string(s, nc, h->h_type);
    o->so_desc = rn_snap_strdup(s, desc);
    o->so_state = (enum rn_ob_state)c.c_state;
    o->so_traced = c.c_traced;
    o->so_saturated = (c.c_flags & OB_F_SATURATED) != 0;
    o->so_refs = c.c_refs;
    o->so_created = c.c_created;
    o->so_killed = c.c_killed;
    o->so_conds = c.c_conds;
    o->so_traced_since = c.c_traced_since;
    if (c.c_nlines > 1)
        qsort(c.c_lines, c.c_nlines, sizeof(*c.c_lines), cmp_line);
    o->so_tags = rn_snap_alloc(s, (c.c_nlines ? c.c_nlines : 1) * sizeof(*o->so_tags));
    if (o->so_type == NULL || o->so_desc == NULL || o->so_tags == NULL) {
        err = RN_ENOMEM;
        goto out;
    }
    for (i = 0; i < c.c_nlines; i++) {
        struct rn_snap_tag *t = &o->so_tags[i];

        t->st_tag = tag_string(s, nc, c.c_lines[i].l_tag);
        t->st_count = c.c_lines[i].l_count;
        t->st_since = c.c_lines[i].l_since;
        t->st_last_ref = site_string(s, c.c_lines[i].l_last_ref);
        if (t->st_tag == NULL) {
            err = RN_ENOMEM;
            goto out;
        }
    }
    o->so_ntags = c.c_nlines;
    if (c.c_traced) {
        err = group_holds(s, m, o, &c);
        if (err < 0)
            goto out;
        recorded = c.c_nholds;
        o->so_untraced = c.c_refs > recorded ? c.c_refs - recorded : 0;
    }
    err = 0;
out:
    return err;
}

/* Copies the contract of every type that has one into s. */
static int capture_types(struct rn_snapshot *s)
{
    struct rn_ob_type *t;
    uint32_t i;

    for (t = rn__ob_types(); t != NULL; t = atomic_load(&t->t_next)) {
        const struct rn_ob_contract *c = rn_ob_type_contract(t);
        struct rn_snap_type *y;

        if (c == NULL)
            continue;
        y = rn_snapshot_add_type(s);
        if (y == NULL)
            return RN_ENOMEM;
        y->sy_name = rn_snap_strdup(s, t->t_ops->name);
        y->sy_orphan_bound = c->oc_orphan_bound;
        y->sy_conds = rn_snap_alloc(s, (c->oc_nconds + 1) * sizeof(*y->sy_conds));
        y->sy_holders = rn_snap_alloc(s, (c->oc_nholders + 1) * sizeof(*y->sy_holders));
        if (y->sy_name == NULL || y->sy_conds == NULL || y->sy_holders == NULL)
            return RN_ENOMEM;
        for (i = 0; i < c->oc_nconds; i++) {
            y->sy_conds[i] = rn_snap_strdup(s, c->oc_conds[i] ? c->oc_conds[i] : "?");
            if (y->sy_conds[i] == NULL)
                return RN_ENOMEM;
        }
        y->sy_nconds = c->oc_nconds;
        for (i = 0; i < c->oc_nholders; i++) {
            const struct rn_ob_holder *r = &c->oc_holders[i];
            struct rn_snap_holder *sr = &y->sy_holders[i];

            sr->sr_tag = rn_snap_strdup(s, r->hr_tag);
            sr->sr_why = rn_snap_strdup(s, r->hr_why ? r->hr_why : "");
            sr->sr_while = r->hr_while;
            sr->sr_flags = r->hr_flags;
            sr->sr_bound = r->hr_bound;
            if (sr->sr_tag == NULL || sr->sr_why == NULL)
                return RN_ENOMEM;
        }
        y->sy_nholders = c->oc_nholders;
    }
    return 0;
}

struct rn_snapshot *rn_ob_snapshot(void)
{
    struct rn_snapshot *s = rn_snapshot_new();
    struct stack_map map = {NULL, 0, 0};
    struct name_cache nc = {NULL, NULL, NULL};
    struct ob_copy copy = {0};
    struct ob_header **held = NULL;
    size_t nheld = 0, cap = 0, i;
    struct rn_ob_type *t;
    int err = 0;

    if (s == NULL)
        return NULL;
    nc.nc_tags = calloc(RN_TAG_MAX + 1, sizeof(const char *));
    s->s_now = rn_clock_now();
    for (i = 0; i < RN_MISUSE_COUNT_; i++)
        s->s_misuse[i] = rn_ob_misuse_count((enum rn_misuse)i);

    /* Pass 1: a reference on every unreleased object. */
    rn__ob_epoch_enter();
    for (t = rn__ob_types(); t != NULL; t = atomic_load(&t->t_next)) {
        struct ob_header *h;

        for (h = atomic_load_explicit(&t->t_head->h_next, memory_order_acquire); h != NULL;
             h = atomic_load_explicit(&h->h_next, memory_order_acquire)) {
            if (nheld == cap) {
                size_t ncap = cap ? cap * 2 : 256;
                struct ob_header **p = realloc(held, ncap * sizeof(*p));

                if (p == NULL) {
                    err = RN_ENOMEM;
                    break;
                }
                held = p;
                cap = ncap;
            }
            if (rn__ob_tryref_unreleased(h, RN_TAG_SNAPSHOT, &site_snapshot))
                held[nheld++] = h;
        }
    }
    rn__ob_epoch_exit();

    /* Pass 2: copy, describe and let go, one object at a time. */
    for (i = 0; i < nheld; i++) {
        if (err == 0)
            err = capture_object(s, &map, &nc, &copy, held[i]);
        rn__ob_deref_notrace(held[i], RN_TAG_SNAPSHOT, &site_snapshot);
    }
    free(held);
    free(map.sm_depot);
    free(nc.nc_tags);
    free(copy.c_lines);
    free(copy.c_holds);
    if (err == 0)
        err = rn__ob_waits_capture(s);
    if (err == 0)
        err = capture_types(s);
    if (err < 0) {
        rn_snapshot_free(s);
        return NULL;
    }
    rn_snapshot_finish(s);
    return s;
}
