/*
 * Callouts (filter.h): their registrations, the operations they pend, and
 * the context they keep on flows, with the references all of these hold.
 *
 * A callout's holds are tagged "callout:NAME", so a callout that forgets
 * one is named by the ledger of what it holds: the verdict engine
 * (src/diag/verdict.c) judges such a hold expected while the flow lives
 * and suspect once the flow has ended.
 *
 * Flow records: the first context or pended operation on a flow makes a
 * struct filter_flow that the flow points at (t_filter, l_filter).  When
 * the flow ends, its owner calls rn__filter_flow_deleted(): the record is
 * detached from the flow (which may then be released as soon as its holds
 * go), and each callout with context on it is told, once.  A flow's wait
 * for a pended operation lasts until the operation completes, even past
 * the flow's end: it is only for the diagnosis (nothing is called back),
 * and it is what puts the pended operation, named, at the bottom of the
 * chain of a close that its hold on the flow keeps pending.  The record is freed with its last
 * context or pended operation.
 *
 * Completing a pended operation:
 *   rn_callout_complete() -> the hook's resume function (flow still held)
 *     -> the pended operation leaves its flow record -> the flow's
 *     reference goes -> the pended operation is killed
 * A completion inside the callout's own classify only records the
 * decision, which becomes the classification's.
 */
#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/once.h"
#include "filter/filter_priv.h"
#include "net/net.h"
#include "refnet/error.h"
#include "refnet/report.h"
#include "wire/ipv4.h"

struct filter_types rn__filter_types;
static struct rn_once types_once = RN_ONCE_INIT;

/* ---- Object types ---------------------------------------------------------- */

static void callout_describe(const void *ob, char *buf, size_t len)
{
    const struct rn_callout *co = ob;

    if (co->co_ops == NULL)
        return;
    snprintf(buf, len, "callout %s %u flows %u pended %u filters", co->co_name,
             atomic_load_explicit(&co->co_nflows, memory_order_relaxed),
             atomic_load_explicit(&co->co_npends, memory_order_relaxed),
             atomic_load_explicit(&co->co_nfilters, memory_order_relaxed));
}

static const struct rn_ob_type_ops callout_ops = {
    .name = "callout registration",
    .size = sizeof(struct rn_callout),
    .describe = callout_describe,
};

char *rn__filter_endpoint_fmt(const struct rn_inaddr *a, uint16_t port, char *buf, size_t len)
{
    char t[RN_IP6_STRLEN];

    rn_inaddr_fmt(a, t);
    snprintf(buf, len, rn_inaddr_is_v4(a) ? "%s:%u" : "[%s]:%u", t, port);
    return buf;
}

/* Writes "tcp 198.18.0.3:80 198.18.0.2:49152" ("[2001:2::3]:80" for IPv6;
 * just the local side when there is no remote one) for the values v. */
static void values_fmt(const struct rn_filter_values *v, char *buf, size_t len)
{
    char l[FILTER_ENDPOINT_STRLEN], r[FILTER_ENDPOINT_STRLEN];
    const char *proto = v->fv_proto == RN_IPPROTO_TCP   ? "tcp"
                        : v->fv_proto == RN_IPPROTO_UDP ? "udp"
                                                        : "ip";

    rn__filter_endpoint_fmt(&v->fv_laddr, v->fv_lport, l, sizeof(l));
    rn__filter_endpoint_fmt(&v->fv_raddr, v->fv_rport, r, sizeof(r));
    if (rn_inaddr_is_any(&v->fv_raddr) && v->fv_rport == 0)
        snprintf(buf, len, "%s %s", proto, l);
    else
        snprintf(buf, len, "%s %s %s", proto, l, r);
}

static void pend_describe(const void *ob, char *buf, size_t len)
{
    const struct rn_pend *p = ob;
    char what[2 * FILTER_ENDPOINT_STRLEN + 8];

    if (p->p_callout_name[0] == '\0')
        return;
    values_fmt(&p->p_values, what, sizeof(what));
    snprintf(buf, len, "pended operation %s %s by callout %s (filter %" PRIu64 ")",
             rn_filter_layer_name(p->p_values.fv_layer), what, p->p_callout_name,
             p->p_filter_id);
}

static const struct rn_ob_type_ops pend_ops = {
    .name = "pended operation",
    .size = sizeof(struct rn_pend),
    .describe = pend_describe,
};

/* Who holds a callout registration and a pended operation (object.h,
 * "Holder contracts"). */
static const struct rn_ob_holder callout_holders[] = {
    {"create", 0, 0, 0, "expected: registered until unregistered"},
    {"filter", 0, RN_HOLD_DYING, 0, "expected: a filter that names it"},
    {"callout.context", 0, RN_HOLD_DYING, 0, "expected: a flow context the callout keeps"},
    {"callout.pend", 0, RN_HOLD_DYING, 0, "expected: an operation the callout pended"},
};
static const struct rn_ob_contract callout_contract = {callout_holders, 4, NULL, 0, 0};
static const struct rn_ob_holder pend_holders[] = {
    {"callout:", 0, 0, 0, "expected: pended by its callout until it completes"},
};
static const struct rn_ob_contract pend_contract = {pend_holders, 1, NULL, 0, 0};

static bool types_register(void)
{
    rn__filter_types.ft_callout = rn_ob_type_register(&callout_ops);
    rn__filter_types.ft_pend = rn_ob_type_register(&pend_ops);
    rn__filter_types.ft_tag_filter = rn_tag_intern("filter");
    rn__filter_types.ft_tag_context = rn_tag_intern("callout.context");
    rn__filter_types.ft_tag_pend = rn_tag_intern("callout.pend");
    return rn__filter_types.ft_callout != NULL && rn__filter_types.ft_pend != NULL &&
           rn__filter_types.ft_tag_filter != RN_TAG_NONE &&
           rn__filter_types.ft_tag_context != RN_TAG_NONE &&
           rn__filter_types.ft_tag_pend != RN_TAG_NONE &&
           rn_ob_type_set_contract(rn__filter_types.ft_callout, &callout_contract) == 0 &&
           rn_ob_type_set_contract(rn__filter_types.ft_pend, &pend_contract) == 0;
}

int rn__filter_types_init(void)
{
    return rn_once(&types_once, types_register) ? 0 : RN_ENOMEM;
}

/* ---- Registrations ----------------------------------------------------------- */

static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0, i;

    if (n == 0 || n > RN_CALLOUT_NAME_MAX)
        return false;
    for (i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              s[i] == '_'))
            return false;
    }
    return true;
}

struct rn_callout *rn_callout_find(struct rn_stack *st, const char *name)
{
    struct filter_engine *fe = rn__filter_engine(st);
    struct rn_callout *co;

    for (co = fe ? fe->fe_callouts : NULL; co != NULL; co = co->co_next) {
        if (strcmp(co->co_name, name) == 0)
            return co;
    }
    return NULL;
}

int rn_callout_register(struct rn_stack *st, const struct rn_callout_ops *ops, void *ctx,
                        struct rn_callout **out)
{
    struct filter_engine *fe = rn__filter_engine(st);
    struct rn_callout *co;
    char tag[8 + RN_CALLOUT_NAME_MAX + 1];

    if (fe == NULL || fe->fe_fini || ops == NULL || ops->co_classify == NULL ||
        !name_ok(ops->co_name))
        return RN_EINVAL;
    if (rn_callout_find(st, ops->co_name) != NULL)
        return RN_EEXIST;
    snprintf(tag, sizeof(tag), "callout:%s", ops->co_name);
    co = rn_ob_create(rn__filter_types.ft_callout, RN_TAG_CREATE);
    if (co == NULL)
        return RN_ENOMEM;
    co->co_tag = rn_tag_intern(tag);
    if (co->co_tag == RN_TAG_NONE) {
        rn_ob_kill(co);
        return RN_ENOMEM;
    }
    co->co_fe = fe;
    co->co_ctx = ctx;
    snprintf(co->co_name, sizeof(co->co_name), "%s", ops->co_name);
    co->co_ops = ops;
    rn_ob_publish(co);
    co->co_next = fe->fe_callouts;
    fe->fe_callouts = co;
    if (out != NULL)
        *out = co;
    return 0;
}

static void callout_unlink(struct rn_callout *co)
{
    struct rn_callout **pp = &co->co_fe->fe_callouts;

    while (*pp != co)
        pp = &(*pp)->co_next;
    *pp = co->co_next;
}

int rn_callout_unregister(struct rn_callout *co)
{
    if (atomic_load_explicit(&co->co_nfilters, memory_order_relaxed) != 0 ||
        atomic_load_explicit(&co->co_nflows, memory_order_relaxed) != 0 ||
        atomic_load_explicit(&co->co_npends, memory_order_relaxed) != 0)
        return RN_EBUSY;
    callout_unlink(co);
    if (co->co_ops->co_unregister != NULL)
        co->co_ops->co_unregister(co);
    rn_ob_kill(co);
    return 0;
}

void rn__callout_retire(struct rn_callout *co)
{
    callout_unlink(co);
    rn_ob_kill(co);
}

void rn__filter_callouts_unregister(struct filter_engine *fe)
{
    struct rn_callout *co;

    for (co = fe->fe_callouts; co != NULL; co = co->co_next) {
        if (co->co_ops->co_unregister != NULL)
            co->co_ops->co_unregister(co);
    }
}

void rn__filter_callouts_kill(struct filter_engine *fe)
{
    while (fe->fe_callouts != NULL) {
        struct rn_callout *co = fe->fe_callouts;

        fe->fe_callouts = co->co_next;
        rn_ob_kill(co);
    }
}

const char *rn_callout_name(const struct rn_callout *co)
{
    return co->co_name;
}

void *rn_callout_ctx(const struct rn_callout *co)
{
    return co->co_ctx;
}

struct rn_stack *rn_callout_stack(const struct rn_callout *co)
{
    return co->co_fe->fe_stack;
}

unsigned rn_callout_flows(const struct rn_callout *co)
{
    return atomic_load_explicit(&co->co_nflows, memory_order_relaxed);
}

unsigned rn_callout_pends(const struct rn_callout *co)
{
    return atomic_load_explicit(&co->co_npends, memory_order_relaxed);
}

/* ---- Flow records ------------------------------------------------------------- */

/* Returns the record of the classification's flow, making it if needed;
 * NULL if there is no flow or no memory. */
static struct filter_flow *flow_get(struct filter_engine *fe, const struct rn_filter_req *req)
{
    struct filter_flow *ff;

    if (req->fr_flow_slot == NULL)
        return NULL;
    ff = *req->fr_flow_slot;
    if (ff != NULL)
        return ff;
    ff = calloc(1, sizeof(*ff));
    if (ff == NULL)
        return NULL;
    ff->ff_fe = fe;
    ff->ff_ob = req->fr_flow;
    ff->ff_slot = req->fr_flow_slot;
    *ff->ff_slot = ff;
    ff->ff_next = fe->fe_flows;
    if (fe->fe_flows != NULL)
        fe->fe_flows->ff_prev = ff;
    fe->fe_flows = ff;
    fe->fe_nflows++;
    return ff;
}

/* Frees ff if nothing is left on it.  Call before dropping the reference
 * that the last context or pended operation held, so that the flow is
 * still there to be detached from. */
static void flow_put(struct filter_flow *ff)
{
    struct filter_engine *fe = ff->ff_fe;

    if (ff->ff_ctxs != NULL || ff->ff_pends != NULL || ff->ff_busy > 0)
        return;
    if (ff->ff_slot != NULL)
        *ff->ff_slot = NULL;
    if (ff->ff_prev != NULL)
        ff->ff_prev->ff_next = ff->ff_next;
    else
        fe->fe_flows = ff->ff_next;
    if (ff->ff_next != NULL)
        ff->ff_next->ff_prev = ff->ff_prev;
    fe->fe_nflows--;
    free(ff);
}

/* Tells each context of ff, once, that its flow ended (deleted) or was
 * established, coping with contexts the callouts release meanwhile. */
static void flow_tell(struct filter_flow *ff, bool deleted)
{
    struct rn_flow_ctx *fc;

    ff->ff_busy++;
    for (fc = ff->ff_ctxs; fc != NULL; fc = fc->fc_next)
        fc->fc_told = false;
    for (;;) {
        const struct rn_callout_ops *ops;

        for (fc = ff->ff_ctxs; fc != NULL && fc->fc_told; fc = fc->fc_next)
            ;
        if (fc == NULL)
            break;
        fc->fc_told = true;
        if (deleted)
            fc->fc_ended = true;
        ops = fc->fc_callout->co_ops;
        if (deleted && ops->co_flow_deleted != NULL)
            ops->co_flow_deleted(fc->fc_callout, fc, fc->fc_ctx);
        else if (!deleted && ops->co_flow_established != NULL)
            ops->co_flow_established(fc->fc_callout, fc, fc->fc_ctx);
    }
    ff->ff_busy--;
}

void rn__filter_flow_end(struct filter_flow *ff)
{
    if (ff->ff_slot != NULL) {
        *ff->ff_slot = NULL;
        ff->ff_slot = NULL;
    }
    /* What was pended on the flow stays waited for: a pend that is never
     * completed holds the ended flow, and the chain must say so. */
    flow_tell(ff, true);
    flow_put(ff);
}

void rn__filter_flow_established(struct rn_stack *st, void **slot)
{
    struct filter_flow *ff = *slot;

    (void)st;
    assert(ff != NULL);
    flow_tell(ff, false);
    flow_put(ff);
}

void rn__filter_flow_deleted(struct rn_stack *st, void **slot)
{
    struct filter_flow *ff = *slot;

    (void)st;
    assert(ff != NULL && ff->ff_slot == slot);
    rn__filter_flow_end(ff);
}

/* ---- Flow contexts ------------------------------------------------------------- */

struct rn_flow_ctx *rn_callout_flow_find(const struct rn_classify *cl)
{
    const struct rn__classify *cs = cl->cl_state;
    struct filter_flow *ff;
    struct rn_flow_ctx *fc;

    if (cs->cs_req->fr_flow_slot == NULL || (ff = *cs->cs_req->fr_flow_slot) == NULL)
        return NULL;
    for (fc = ff->ff_ctxs; fc != NULL; fc = fc->fc_next) {
        if (fc->fc_callout == cs->cs_callout)
            return fc;
    }
    return NULL;
}

int rn__callout_flow_associate(const struct rn_classify *cl, void *ctx, struct rn_flow_ctx **out,
                               const struct rn_site *site)
{
    const struct rn__classify *cs = cl->cl_state;
    struct rn_callout *co = cs->cs_callout;
    struct filter_flow *ff;
    struct rn_flow_ctx *fc;

    if (cs->cs_req->fr_flow == NULL)
        return RN_EINVAL;
    if (rn_callout_flow_find(cl) != NULL)
        return RN_EEXIST;
    fc = calloc(1, sizeof(*fc));
    if (fc == NULL)
        return RN_ENOMEM;
    ff = flow_get(cs->cs_fe, cs->cs_req);
    if (ff == NULL) {
        free(fc);
        return RN_ENOMEM;
    }
    fc->fc_flow = ff;
    fc->fc_callout = co;
    fc->fc_ctx = ctx;
    fc->fc_next = ff->ff_ctxs;
    ff->ff_ctxs = fc;
    rn__ob_ref(ff->ff_ob, co->co_tag, site);
    /* The registration (and a plug-in's code) stays while it has context. */
    rn__ob_ref(co, rn__filter_types.ft_tag_context, site);
    atomic_fetch_add_explicit(&co->co_nflows, 1, memory_order_relaxed);
    if (out != NULL)
        *out = fc;
    return 0;
}

void rn__callout_flow_release(struct rn_flow_ctx *fc, const struct rn_site *site)
{
    struct filter_flow *ff = fc->fc_flow;
    struct rn_callout *co = fc->fc_callout;
    struct rn_flow_ctx **pp;
    void *ob;

    assert(ff != NULL);
    ob = ff->ff_ob;
    for (pp = &ff->ff_ctxs; *pp != fc; pp = &(*pp)->fc_next)
        assert(*pp != NULL);
    *pp = fc->fc_next;
    atomic_fetch_sub_explicit(&co->co_nflows, 1, memory_order_relaxed);
    free(fc);
    flow_put(ff);
    rn__ob_deref(ob, co->co_tag, site);
    rn__ob_deref(co, rn__filter_types.ft_tag_context, site);
}

void *rn_flow_ctx_get(const struct rn_flow_ctx *fc)
{
    return fc->fc_ctx;
}

void *rn_flow_ctx_flow(const struct rn_flow_ctx *fc)
{
    return fc->fc_flow ? fc->fc_flow->ff_ob : NULL;
}

bool rn_flow_ctx_ended(const struct rn_flow_ctx *fc)
{
    return fc->fc_ended;
}

/* ---- Pended operations ------------------------------------------------------------ */

static const char *wait_what(enum rn_filter_layer layer)
{
    switch (layer) {
    case RN_FL_CONNECT:
        return "connect authorisation";
    case RN_FL_LISTEN:
        return "listen authorisation";
    default:
        return "accept authorisation";
    }
}

/* The flow's wait is only for the watchdog: completion cancels it first. */
static void pend_released(struct rn_ob_wait *w, void *ctx)
{
    (void)w;
    (void)ctx;
}

int rn__callout_pend(const struct rn_classify *cl, struct rn_pend **out,
                     const struct rn_site *site)
{
    struct rn__classify *cs = cl->cl_state;
    const struct rn_filter_req *req = cs->cs_req;
    struct rn_callout *co = cs->cs_callout;
    struct filter_flow *ff;
    struct rn_pend *p;

    if (!rn_filter_layer_can_pend(req->fr_values.fv_layer) || req->fr_resume == NULL ||
        req->fr_flow == NULL || cs->cs_pend != NULL)
        return RN_EINVAL;
    p = rn__ob_create(rn__filter_types.ft_pend, co->co_tag, site);
    if (p == NULL)
        return RN_ENOMEM;
    ff = flow_get(cs->cs_fe, req);
    if (ff == NULL) {
        rn_ob_kill(p);
        return RN_ENOMEM;
    }
    p->p_fe = cs->cs_fe;
    p->p_callout = co;
    p->p_flow = ff;
    p->p_ob = req->fr_flow;
    p->p_tag = co->co_tag;
    p->p_resume = req->fr_resume;
    p->p_values = req->fr_values;
    p->p_filter_id = cs->cs_filter_id;
    snprintf(p->p_callout_name, sizeof(p->p_callout_name), "%s", co->co_name);
    p->p_in_classify = true;
    rn_ob_publish(p);
    rn__ob_ref(p->p_ob, p->p_tag, site);
    rn__ob_ref(co, rn__filter_types.ft_tag_pend, site);
    p->p_next = ff->ff_pends;
    ff->ff_pends = p;
    atomic_fetch_add_explicit(&co->co_npends, 1, memory_order_relaxed);
    cs->cs_pend = p;
    *out = p;
    return 0;
}

const struct rn_filter_values *rn_pend_values(const struct rn_pend *p)
{
    return &p->p_values;
}

/* Takes p off its flow record and drops what it holds: the flow's
 * reference and, by killing it, the callout's on p. */
static void pend_finish(struct rn_pend *p)
{
    struct filter_flow *ff = p->p_flow;
    struct rn_callout *co = p->p_callout;
    struct rn_pend **pp;
    void *ob = p->p_ob;

    if (p->p_waiting) {
        rn_ob_wait_cancel(&p->p_wait);
        p->p_waiting = false;
    }
    if (ff != NULL) {
        for (pp = &ff->ff_pends; *pp != p; pp = &(*pp)->p_next)
            assert(*pp != NULL);
        *pp = p->p_next;
        p->p_flow = NULL;
        atomic_fetch_sub_explicit(&p->p_callout->co_npends, 1, memory_order_relaxed);
        flow_put(ff);
    }
    rn_ob_deref(ob, p->p_tag);
    rn_ob_kill(p);
    rn_ob_deref(co, rn__filter_types.ft_tag_pend);
}

void rn_callout_complete(struct rn_pend *p, enum rn_filter_decision decision)
{
    struct filter_flow *ff = p->p_flow;

    assert(decision == RN_FILTER_PERMIT || decision == RN_FILTER_BLOCK);
    if (p->p_in_classify) {
        assert(!p->p_decided);
        p->p_decided = true;
        p->p_decision = decision;
        return;
    }
    if (p->p_waiting) {
        rn_ob_wait_cancel(&p->p_wait);
        p->p_waiting = false;
    }
    /* The flow is held by p until pend_finish(), and p stays on ff so that
     * the record outlives whatever the resume does to the flow. */
    if (p->p_fe != NULL && ff != NULL && ff->ff_slot != NULL)
        p->p_resume(p->p_fe->fe_stack, p->p_ob, p->p_values.fv_layer, decision);
    pend_finish(p);
}

enum rn_filter_decision rn__filter_callout_classify(struct filter_engine *fe, struct filter *f,
                                                 const struct rn_filter_req *req)
{
    struct rn_callout *co = f->f_callout;
    struct rn__classify cs = {
        .cs_fe = fe, .cs_req = req, .cs_callout = co, .cs_filter_id = f->f_id,
    };
    struct rn_classify cl = {
        .cl_values = &req->fr_values,
        .cl_filter_id = f->f_id,
        .cl_filter_ctx = f->f_callout_ctx,
        .cl_flow = req->fr_flow,
        .cl_state = &cs,
    };
    struct rn_pend *p;
    int d;

    d = co->co_ops->co_classify(co, &cl);
    p = cs.cs_pend;
    /* A callout pends exactly when it answers PEND. */
    assert((p != NULL) == (d == RN_FILTER_PEND));
    assert(d == RN_FILTER_PERMIT || d == RN_FILTER_BLOCK || d == RN_FILTER_CONTINUE ||
           d == RN_FILTER_PEND);
    if (p == NULL)
        return (enum rn_filter_decision)d;
    p->p_in_classify = false;
    if (p->p_decided) {
        /* Completed before it returned: no wait, no resume. */
        d = p->p_decision;
        pend_finish(p);
        return (enum rn_filter_decision)d;
    }
    if (rn_ob_wait_release(p, &p->p_wait, p->p_ob, wait_what(p->p_values.fv_layer),
                           pend_released, NULL) == 0)
        p->p_waiting = true;
    return RN_FILTER_PEND;
}

/* ---- Teardown ---------------------------------------------------------------------- */

void rn__filter_flows_abandon(struct filter_engine *fe)
{
    while (fe->fe_flows != NULL) {
        struct filter_flow *ff = fe->fe_flows;
        char desc[160];

        rn_ob_describe(ff->ff_ob, desc, sizeof(desc));
        while (ff->ff_ctxs != NULL) {
            struct rn_flow_ctx *fc = ff->ff_ctxs;

            ff->ff_ctxs = fc->fc_next;
            rn_report(RN_REPORT_LEAK, "filter: callout %s never released its context on %s "
                      "(#%" PRIu64 "); its 'callout:%s' reference stays held\n",
                      fc->fc_callout->co_name, desc, rn_ob_id(ff->ff_ob),
                      fc->fc_callout->co_name);
            atomic_fetch_sub_explicit(&fc->fc_callout->co_nflows, 1, memory_order_relaxed);
            free(fc);
        }
        while (ff->ff_pends != NULL) {
            struct rn_pend *p = ff->ff_pends;

            ff->ff_pends = p->p_next;
            rn_report(RN_REPORT_LEAK, "filter: callout %s never completed pended operation "
                      "#%" PRIu64 " on %s (#%" PRIu64 "); it stays held with its flow\n",
                      p->p_callout_name, rn_ob_id(p), desc, rn_ob_id(ff->ff_ob));
            if (p->p_waiting) {
                rn_ob_wait_cancel(&p->p_wait);
                p->p_waiting = false;
            }
            atomic_fetch_sub_explicit(&p->p_callout->co_npends, 1, memory_order_relaxed);
            p->p_fe = NULL;
            p->p_flow = NULL;
            p->p_next = NULL;
        }
        ff->ff_busy = 0;
        flow_put(ff);
    }
}
