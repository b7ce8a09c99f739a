/*
 * The filtering platform's engine (filter.h): set-up and teardown on a
 * stack, adding and deleting filters, classification, the listings and
 * counters.  Callout registrations, flow contexts and pended operations are
 * in callout.c; the built-in callouts in co_*.c; the spec language in
 * spec.c.
 *
 * Classification, as a hook calls it (filter_hook.h):
 *   rn__filter_classify() -> the layer's filters, highest weight first
 *     -> first match: permit | block | rn__filter_callout_classify()
 *        (a callout's "continue" goes on to the next match)
 *     -> no match: permit
 * Each layer's filters sit in one array kept sorted as filters come and go
 * (the control plane's cost), so a classification walks an array and
 * allocates nothing.  A layer no stack has a filter on never gets here:
 * the hook's rn__filter_on() test stops it first.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/once.h"
#include "filter/filter_priv.h"
#include "net/net.h"
#include "refnet/error.h"
#include "refnet/report.h"
#include "refnet/strbuf.h"
#include "wire/ipv4.h"

_Atomic uint32_t rn__filter_active[RN_FL_COUNT_];

/* The stack slot the platform keeps its engine in, taken once by
 * slot_take(). */
static _Atomic int engine_slot = -1;
static struct rn_once slot_once = RN_ONCE_INIT;

static bool slot_take(void)
{
    int slot = rn_stack_slot_alloc();

    if (slot < 0)
        return false;
    atomic_store_explicit(&engine_slot, slot, memory_order_relaxed);
    return true;
}

struct filter_engine *rn__filter_engine(struct rn_stack *st)
{
    int slot = atomic_load_explicit(&engine_slot, memory_order_relaxed);

    return slot < 0 ? NULL : rn_stack_slot(st, slot);
}

bool rn_filter_ready(struct rn_stack *st)
{
    return rn__filter_engine(st) != NULL;
}

/* ---- Counters for `refnet stat` --------------------------------------------- */

static unsigned filter_stats_hook(struct rn_stack *st, void *ctx, struct rn_stack_counter *out,
                                  unsigned max)
{
    struct filter_engine *fe = rn__filter_engine(st);
    uint64_t classified = 0, blocked = 0, pended = 0, filters = 0;
    unsigned i, n = 0;

    (void)ctx;
    if (fe == NULL || max < 5)
        return 0;
    for (i = 0; i < RN_FL_COUNT_; i++) {
        classified += fe->fe_stats[i].fls_classified;
        blocked += fe->fe_stats[i].fls_blocked;
        pended += fe->fe_stats[i].fls_pended;
        filters += fe->fe_nfilters[i];
    }
    out[n].sc_name = "filter.filters";
    out[n++].sc_value = filters;
    out[n].sc_name = "filter.classified";
    out[n++].sc_value = classified;
    out[n].sc_name = "filter.blocked";
    out[n++].sc_value = blocked;
    out[n].sc_name = "filter.pended";
    out[n++].sc_value = pended;
    out[n].sc_name = "filter.flows";
    out[n++].sc_value = fe->fe_nflows;
    return n;
}

/* ---- The IP layer's hooks ------------------------------------------------------ */

/* The IP layer's hook while the stack has filters at inbound-ip or
 * outbound-ip: the datagram classified at that layer. */
static bool filter_ip_hook(struct rn_stack *st, enum rn_ip_hook_dir dir,
                           const struct rn_ip_hook_values *v)
{
    struct rn_filter_req req;

    memset(&req, 0, sizeof(req));
    req.fr_values.fv_layer = dir == RN_IP_HOOK_IN ? RN_FL_INBOUND_IP : RN_FL_OUTBOUND_IP;
    req.fr_values.fv_proto = v->hv_proto;
    req.fr_values.fv_laddr = v->hv_laddr;  /* IPv4 mapped, or IPv6 */
    req.fr_values.fv_raddr = v->hv_raddr;
    req.fr_values.fv_lport = v->hv_lport;
    req.fr_values.fv_rport = v->hv_rport;
    req.fr_values.fv_len = v->hv_len;
    return rn__filter_classify(st, &req) == RN_FILTER_BLOCK;
}

/* Sets the IP layer's hook for layer l while it has filters, removes it
 * once it has none (or the platform is going). */
static void ip_hook_update(struct filter_engine *fe, enum rn_filter_layer l)
{
    rn_ip_hook_fn fn = fe->fe_nfilters[l] > 0 && !fe->fe_fini ? filter_ip_hook : NULL;

    if (l == RN_FL_INBOUND_IP)
        rn__ip_set_hook(fe->fe_stack, RN_IP_HOOK_IN, fn);
    else if (l == RN_FL_OUTBOUND_IP)
        rn__ip_set_hook(fe->fe_stack, RN_IP_HOOK_OUT, fn);
}

/* ---- Set-up and teardown ------------------------------------------------------ */

static void filter_free(struct filter_engine *fe, struct filter *f)
{
    struct rn_callout *co = f->f_callout;

    atomic_fetch_sub_explicit(&rn__filter_active[f->f_spec.fs_layer], 1, memory_order_relaxed);
    if (co != NULL) {
        if (co->co_ops->co_filter_del != NULL)
            co->co_ops->co_filter_del(co, f->f_callout_ctx);
        atomic_fetch_sub_explicit(&co->co_nfilters, 1, memory_order_relaxed);
        rn_ob_deref(co, rn__filter_types.ft_tag_filter);
    }
    (void)fe;
    free(f);
}

/* Runs when the stack is destroyed (filter.h, rn_filter_init()). */
static void filter_fini(struct rn_stack *st, void *ctx)
{
    struct filter_engine *fe = ctx;
    unsigned l, i;

    fe->fe_fini = true;
    for (l = 0; l < RN_FL_COUNT_; l++) {
        for (i = 0; i < fe->fe_nfilters[l]; i++)
            filter_free(fe, fe->fe_filters[l][i]);
        free(fe->fe_filters[l]);
        fe->fe_filters[l] = NULL;
        fe->fe_nfilters[l] = 0;
        ip_hook_update(fe, l);
    }
    /* Flows still attached end now, as far as callouts are concerned:
     * whatever runs them down later no longer tells the platform. */
    for (;;) {
        struct filter_flow *ff;

        for (ff = fe->fe_flows; ff != NULL && ff->ff_slot == NULL; ff = ff->ff_next)
            ;
        if (ff == NULL)
            break;
        rn__filter_flow_end(ff);
    }
    rn__filter_callouts_unregister(fe);
    rn__filter_flows_abandon(fe);
    rn__filter_callouts_kill(fe);
    rn__plugins_fini(fe);
    rn_stack_set_slot(st, engine_slot, NULL);
    free(fe);
}

int rn_filter_init(struct rn_stack *st)
{
    struct filter_engine *fe;
    int err;

    if (!rn_once(&slot_once, slot_take))
        return RN_ENOSPC;
    if (rn__filter_engine(st) != NULL)
        return RN_EEXIST;
    err = rn__filter_types_init();
    if (err < 0)
        return err;
    fe = calloc(1, sizeof(*fe));
    if (fe == NULL)
        return RN_ENOMEM;
    fe->fe_stack = st;
    err = rn_stack_on_destroy(st, filter_fini, fe);
    if (err < 0) {
        free(fe);
        return err;
    }
    rn_stack_set_slot(st, engine_slot, fe);
    /* From here on, a failure leaves a working platform that the stack's
     * teardown frees. */
    err = rn_stack_add_stats(st, filter_stats_hook, NULL);
    if (err == 0)
        err = rn__filter_portblock_register(st);
    if (err == 0)
        err = rn__filter_connlog_register(st);
    return err;
}

/* Makes the matcher of the spec's address a with prefix plen (in its
 * family's bits). */
static void addr_match_make(struct addr_match *am, const struct rn_inaddr *a, unsigned plen)
{
    static const struct rn_ip6 mapped = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}};
    bool v4 = rn_inaddr_is_v4(a);
    unsigned bits = v4 ? 96 + plen : plen, i;
    uint8_t mask[RN_IP6_LEN];

    assert(bits <= 128);
    for (i = 0; i < RN_IP6_LEN; i++) {
        unsigned left = bits > i * 8 ? bits - i * 8 : 0;

        mask[i] = left >= 8 ? 0xff : (uint8_t)(0xff00u >> left);
    }
    memcpy(am->am_mask, mask, sizeof(mask));
    memcpy(am->am_net, a->ia_ip6.i6_octet, sizeof(am->am_net));
    am->am_net[0] &= am->am_mask[0];
    am->am_net[1] &= am->am_mask[1];
    am->am_not_v4 = !v4 && rn_ip6_in_prefix(&mapped, &a->ia_ip6, plen < 96 ? plen : 96);
}

/* ---- Filters ------------------------------------------------------------------- */

static int engine_error(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int engine_error(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Lists the registered callouts' names into buf, for error messages. */
static void callout_names(struct filter_engine *fe, char *buf, size_t len)
{
    struct rn_callout *co;
    size_t at = 0;

    buf[0] = '\0';
    for (co = fe->fe_callouts; co != NULL && at < len; co = co->co_next)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? ", " : "", co->co_name);
}

/* Inserts f in its layer's array after every filter of weight >= its own,
 * so equal weights keep the order they were added in. */
static int filter_insert(struct filter_engine *fe, struct filter *f)
{
    enum rn_filter_layer l = f->f_spec.fs_layer;
    unsigned n = fe->fe_nfilters[l], at;

    if (n == fe->fe_cap[l]) {
        unsigned cap = fe->fe_cap[l] ? fe->fe_cap[l] * 2 : 8;
        struct filter **a = realloc(fe->fe_filters[l], cap * sizeof(*a));

        if (a == NULL)
            return RN_ENOMEM;
        fe->fe_filters[l] = a;
        fe->fe_cap[l] = cap;
    }
    for (at = 0; at < n && fe->fe_filters[l][at]->f_spec.fs_weight >= f->f_spec.fs_weight; at++)
        ;
    memmove(&fe->fe_filters[l][at + 1], &fe->fe_filters[l][at], (n - at) * sizeof(f));
    fe->fe_filters[l][at] = f;
    fe->fe_nfilters[l] = n + 1;
    atomic_fetch_add_explicit(&rn__filter_active[l], 1, memory_order_relaxed);
    ip_hook_update(fe, l);
    return 0;
}

static int filter_add(struct rn_stack *st, const char *text, bool lab, uint64_t *id, char *err,
                      size_t errlen)
{
    struct filter_engine *fe = rn__filter_engine(st);
    struct rn_callout *co = NULL;
    struct filter *f;
    void *fctx = NULL;
    char names[160];
    int e;

    if (fe == NULL || fe->fe_fini)
        return engine_error(err, errlen, RN_EINVAL, "the filtering platform is not set up");
    if (fe->fe_classifying > 0)
        return engine_error(err, errlen, RN_EBUSY, "filters cannot change during a "
                            "classification");
    f = calloc(1, sizeof(*f));
    if (f == NULL)
        return engine_error(err, errlen, RN_ENOMEM, "out of memory");
    e = rn_filter_parse(text, &f->f_spec, err, errlen);
    if (e != 0)
        goto out_free;
    if (f->f_spec.fs_match & RN_FS_LADDR)
        addr_match_make(&f->f_lmatch, &f->f_spec.fs_laddr, f->f_spec.fs_lplen);
    if (f->f_spec.fs_match & RN_FS_RADDR)
        addr_match_make(&f->f_rmatch, &f->f_spec.fs_raddr, f->f_spec.fs_rplen);
    if (f->f_spec.fs_action == RN_FA_CALLOUT) {
        co = rn_callout_find(st, f->f_spec.fs_callout);
        if (co == NULL && lab && strcmp(f->f_spec.fs_callout, "faulty") == 0) {
            e = rn_callout_faulty_register(st);
            if (e < 0) {
                engine_error(err, errlen, e, "cannot register the faulty callout: %s",
                             rn_strerror(e));
                goto out_free;
            }
            co = rn_callout_find(st, "faulty");
        }
        if (co == NULL) {
            callout_names(fe, names, sizeof(names));
            e = engine_error(err, errlen, RN_ENOENT, "unknown callout '%s' in "
                             "'action=callout:%s' (registered: %s)", f->f_spec.fs_callout,
                             f->f_spec.fs_callout, names[0] ? names : "none");
            goto out_free;
        }
        if (co->co_ops->co_filter_add != NULL) {
            e = co->co_ops->co_filter_add(co, &f->f_spec, &fctx, err, errlen);
            if (e != 0)
                goto out_free;
        } else if (f->f_spec.fs_arg[0] != '\0') {
            e = engine_error(err, errlen, RN_EINVAL, "callout '%s' takes no 'arg='",
                             co->co_name);
            goto out_free;
        }
        f->f_callout = co;
        f->f_callout_ctx = fctx;
    }
    e = filter_insert(fe, f);
    if (e != 0) {
        if (co != NULL && co->co_ops->co_filter_del != NULL)
            co->co_ops->co_filter_del(co, fctx);
        engine_error(err, errlen, e, "out of memory");
        goto out_free;
    }
    if (co != NULL) {
        rn_ob_ref(co, rn__filter_types.ft_tag_filter);
        atomic_fetch_add_explicit(&co->co_nfilters, 1, memory_order_relaxed);
    }
    f->f_id = ++fe->fe_next_id;
    if (id != NULL)
        *id = f->f_id;
    return 0;

out_free:
    free(f);
    return e;
}

int rn_filter_add(struct rn_stack *st, const char *spec, uint64_t *id, char *err, size_t errlen)
{
    return filter_add(st, spec, false, id, err, errlen);
}

int rn_filter_add_lab(struct rn_stack *st, const char *spec, uint64_t *id, char *err,
                      size_t errlen)
{
    return filter_add(st, spec, true, id, err, errlen);
}

/* Finds filter id: sets *layer and *index.  Returns it, or NULL. */
static struct filter *filter_find(struct filter_engine *fe, uint64_t id, unsigned *layer,
                                  unsigned *index)
{
    unsigned l, i;

    for (l = 0; l < RN_FL_COUNT_; l++) {
        for (i = 0; i < fe->fe_nfilters[l]; i++) {
            if (fe->fe_filters[l][i]->f_id == id) {
                *layer = l;
                *index = i;
                return fe->fe_filters[l][i];
            }
        }
    }
    return NULL;
}

int rn_filter_del(struct rn_stack *st, uint64_t id)
{
    struct filter_engine *fe = rn__filter_engine(st);
    struct filter *f;
    unsigned l, i;

    if (fe == NULL)
        return RN_ENOENT;
    if (fe->fe_classifying > 0)
        return RN_EBUSY;
    f = filter_find(fe, id, &l, &i);
    if (f == NULL)
        return RN_ENOENT;
    memmove(&fe->fe_filters[l][i], &fe->fe_filters[l][i + 1],
            (fe->fe_nfilters[l] - i - 1) * sizeof(f));
    fe->fe_nfilters[l]--;
    filter_free(fe, f);
    ip_hook_update(fe, l);
    return 0;
}

unsigned rn__filter_del_callout(struct filter_engine *fe, struct rn_callout *co)
{
    unsigned l, i, n = 0;

    for (l = 0; l < RN_FL_COUNT_; l++) {
        for (i = 0; i < fe->fe_nfilters[l];) {
            struct filter *f = fe->fe_filters[l][i];

            if (f->f_callout != co) {
                i++;
                continue;
            }
            memmove(&fe->fe_filters[l][i], &fe->fe_filters[l][i + 1],
                    (fe->fe_nfilters[l] - i - 1) * sizeof(f));
            fe->fe_nfilters[l]--;
            filter_free(fe, f);
            n++;
        }
        ip_hook_update(fe, l);
    }
    return n;
}

uint64_t rn_filter_hits(struct rn_stack *st, uint64_t id)
{
    struct filter_engine *fe = rn__filter_engine(st);
    struct filter *f;
    unsigned l, i;

    if (fe == NULL)
        return 0;
    f = filter_find(fe, id, &l, &i);
    return f ? f->f_hits : 0;
}

unsigned rn_filter_count(struct rn_stack *st)
{
    struct filter_engine *fe = rn__filter_engine(st);
    unsigned l, n = 0;

    for (l = 0; fe != NULL && l < RN_FL_COUNT_; l++)
        n += fe->fe_nfilters[l];
    return n;
}

void rn_filter_layer_stats(struct rn_stack *st, enum rn_filter_layer layer,
                           struct rn_filter_layer_stats *out)
{
    struct filter_engine *fe = rn__filter_engine(st);

    assert((unsigned)layer < RN_FL_COUNT_);
    if (fe == NULL) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = fe->fe_stats[layer];
    out->fls_filters = fe->fe_nfilters[layer];
}

/* ---- Classification ------------------------------------------------------------- */

static inline bool addr_match(const struct addr_match *am, const struct rn_inaddr *a)
{
    uint64_t x0, x1;

    memcpy(&x0, a->ia_ip6.i6_octet, 8);
    memcpy(&x1, a->ia_ip6.i6_octet + 8, 8);
    if ((((x0 ^ am->am_net[0]) & am->am_mask[0]) | ((x1 ^ am->am_net[1]) & am->am_mask[1])) != 0)
        return false;
    return !am->am_not_v4 || !rn_inaddr_is_v4(a);
}

static bool filter_match(const struct filter *f, const struct rn_filter_values *v)
{
    const struct rn_filter_spec *fs = &f->f_spec;
    unsigned m = fs->fs_match;

    if (m == 0)
        return true;
    if ((m & RN_FS_PROTO) && fs->fs_proto != v->fv_proto)
        return false;
    if ((m & RN_FS_LADDR) && !addr_match(&f->f_lmatch, &v->fv_laddr))
        return false;
    if ((m & RN_FS_RADDR) && !addr_match(&f->f_rmatch, &v->fv_raddr))
        return false;
    /* A datagram without ports (ICMP) has port 0, outside every range. */
    if ((m & RN_FS_LPORT) && (v->fv_lport < fs->fs_lport_lo || v->fv_lport > fs->fs_lport_hi))
        return false;
    if ((m & RN_FS_RPORT) && (v->fv_rport < fs->fs_rport_lo || v->fv_rport > fs->fs_rport_hi))
        return false;
    return true;
}

enum rn_filter_decision rn__filter_classify(struct rn_stack *st, const struct rn_filter_req *req)
{
    struct filter_engine *fe = rn__filter_engine(st);
    enum rn_filter_layer layer = req->fr_values.fv_layer;
    enum rn_filter_decision d = RN_FILTER_PERMIT;
    struct rn_filter_layer_stats *ls;
    unsigned i;

    assert((unsigned)layer < RN_FL_COUNT_);
    assert((req->fr_flow == NULL) == (req->fr_flow_slot == NULL));
    if (fe == NULL || fe->fe_nfilters[layer] == 0)
        return RN_FILTER_PERMIT;
    ls = &fe->fe_stats[layer];
    ls->fls_classified++;
    fe->fe_classifying++;
    for (i = 0; i < fe->fe_nfilters[layer]; i++) {
        struct filter *f = fe->fe_filters[layer][i];

        if (!filter_match(f, &req->fr_values))
            continue;
        f->f_hits++;
        if (f->f_spec.fs_action == RN_FA_PERMIT) {
            d = RN_FILTER_PERMIT;
            break;
        }
        if (f->f_spec.fs_action == RN_FA_BLOCK) {
            d = RN_FILTER_BLOCK;
            break;
        }
        d = rn__filter_callout_classify(fe, f, req);
        if (d != RN_FILTER_CONTINUE)
            break;
        d = RN_FILTER_PERMIT;  /* unless a later filter says otherwise */
    }
    fe->fe_classifying--;
    if (d == RN_FILTER_BLOCK)
        ls->fls_blocked++;
    else if (d == RN_FILTER_PEND)
        ls->fls_pended++;
    else
        ls->fls_permitted++;
    return d;
}

/* ---- Listings -------------------------------------------------------------------- */

static const char *action_name(const struct rn_filter_spec *fs)
{
    return fs->fs_action == RN_FA_PERMIT ? "permit"
           : fs->fs_action == RN_FA_BLOCK ? "block"
                                          : "callout";
}

void rn_filter_rows(struct rn_stack *st, rn_filter_row_fn fn, void *ctx)
{
    struct filter_engine *fe = rn__filter_engine(st);
    char spec[RN_FILTER_SPEC_MAX];
    unsigned l, i;

    if (fe == NULL)
        return;
    for (l = 0; l < RN_FL_COUNT_; l++) {
        for (i = 0; i < fe->fe_nfilters[l]; i++) {
            const struct filter *f = fe->fe_filters[l][i];
            struct rn_filter_row row = {
                .fr_id = f->f_id,
                .fr_layer = (enum rn_filter_layer)l,
                .fr_weight = f->f_spec.fs_weight,
                .fr_hits = f->f_hits,
                .fr_action = action_name(&f->f_spec),
                .fr_callout = f->f_callout != NULL ? f->f_callout->co_name : NULL,
                .fr_spec = spec,
            };

            rn_filter_spec_format(&f->f_spec, spec, sizeof(spec));
            fn(&row, ctx);
        }
    }
}

void rn_callout_rows(struct rn_stack *st, rn_callout_row_fn fn, void *ctx)
{
    struct filter_engine *fe = rn__filter_engine(st);
    struct rn_callout *co;

    if (fe == NULL)
        return;
    for (co = fe->fe_callouts; co != NULL; co = co->co_next) {
        struct rn_callout_row row = {
            .cr_name = co->co_name,
            .cr_id = rn_ob_id(co),
            .cr_filters = atomic_load_explicit(&co->co_nfilters, memory_order_relaxed),
            .cr_flows = atomic_load_explicit(&co->co_nflows, memory_order_relaxed),
            .cr_pended = atomic_load_explicit(&co->co_npends, memory_order_relaxed),
            .cr_callout = co,
        };

        fn(&row, ctx);
    }
}

void rn_callout_values(struct rn_callout *co, rn_value_fn fn, void *ctx)
{
    if (co->co_ops->co_values != NULL)
        co->co_ops->co_values(co, fn, ctx);
}
