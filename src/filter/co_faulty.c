/*
 * The lab-only callout "faulty": a third-party callout with the two bugs
 * that keep a listening port from ever closing.  It is registered only on
 * request (rn_callout_faulty_register(): the lab, or a --filter given to
 * the daemon naming it), never by rn_filter_init().
 *
 *   arg=pend  at connect, listen or accept: pends the authorisation and
 *             never completes it.  The pended operation holds the flow
 *             under "callout:faulty"; a listener closed meanwhile stays
 *             held, so its socket's close, and its process's exit, hang.
 *   arg=leak  at any layer with a flow: associates context with the flow
 *             and, when told the flow ended, forgets to release it.  The
 *             closed listener or finished connection stays held under
 *             "callout:faulty", the ledger's "callout hold after its flow
 *             ended".
 *
 * It keeps a list of what it forgot, so the lab's "clear" step,
 * rn_callout_faulty_release_all(), can let go of everything: the pended
 * operations are completed with BLOCK, the contexts released.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/filter_priv.h"
#include "refnet/error.h"
#include "refnet/report.h"
#include "refnet/strbuf.h"

enum faulty_mode {
    FAULTY_PEND,  /* arg=pend */
    FAULTY_LEAK,  /* arg=leak */
};

/* A growable array of pointers. */
struct faulty_list {
    void **fl_items;  /* [L] fl_n of fl_cap used */
    unsigned fl_n;
    unsigned fl_cap;
};

/* The callout's state on a stack. */
struct faulty {
    struct faulty_list fy_pends;  /* [L] struct rn_pend *, never completed */
    struct faulty_list fy_ctxs;   /* [L] struct rn_flow_ctx *, never released */
    uint64_t fy_pended;           /* [L] operations pended, ever */
    uint64_t fy_kept;             /* [L] flow contexts taken, ever */
    uint64_t fy_forgot;           /* [L] flow ends it ignored */
};

/* Makes room for one more item.  Returns 0 or RN_ENOMEM. */
static int list_reserve(struct faulty_list *l)
{
    if (l->fl_n == l->fl_cap) {
        unsigned cap = l->fl_cap ? l->fl_cap * 2 : 8;
        void **a = realloc(l->fl_items, cap * sizeof(*a));

        if (a == NULL)
            return RN_ENOMEM;
        l->fl_items = a;
        l->fl_cap = cap;
    }
    return 0;
}

static int faulty_filter_add(struct rn_callout *co, const struct rn_filter_spec *fs,
                             void **fctx, char *err, size_t errlen)
{
    (void)co;
    if (strcmp(fs->fs_arg, "pend") == 0) {
        if (!rn_filter_layer_can_pend(fs->fs_layer)) {
            snprintf(err, errlen, "callout faulty: arg=pend needs a layer that can pend "
                     "(connect, listen, accept), not layer=%s",
                     rn_filter_layer_name(fs->fs_layer));
            return RN_EINVAL;
        }
        *fctx = (void *)(uintptr_t)FAULTY_PEND;
        return 0;
    }
    if (strcmp(fs->fs_arg, "leak") == 0) {
        if (!rn_filter_layer_has_flow(fs->fs_layer)) {
            snprintf(err, errlen, "callout faulty: arg=leak needs a layer with flows "
                     "(connect, listen, accept, inbound-transport, outbound-transport), not "
                     "layer=%s", rn_filter_layer_name(fs->fs_layer));
            return RN_EINVAL;
        }
        *fctx = (void *)(uintptr_t)FAULTY_LEAK;
        return 0;
    }
    snprintf(err, errlen, "callout faulty needs arg=pend (never complete what it pends) or "
             "arg=leak (never release flow context)%s%s%s",
             fs->fs_arg[0] ? ", not 'arg=" : "", fs->fs_arg, fs->fs_arg[0] ? "'" : "");
    return RN_EINVAL;
}

static int faulty_classify(struct rn_callout *co, const struct rn_classify *cl)
{
    struct faulty *fy = rn_callout_ctx(co);
    enum faulty_mode mode = (enum faulty_mode)(uintptr_t)cl->cl_filter_ctx;
    struct rn_flow_ctx *fc;
    struct rn_pend *p;

    /* Room first, so that nothing it takes goes unremembered. */
    if (list_reserve(mode == FAULTY_PEND ? &fy->fy_pends : &fy->fy_ctxs) < 0)
        return RN_FILTER_CONTINUE;
    if (mode == FAULTY_PEND) {
        if (rn_callout_pend(cl, &p) < 0)
            return RN_FILTER_CONTINUE;
        fy->fy_pends.fl_items[fy->fy_pends.fl_n++] = p;
        fy->fy_pended++;
        return RN_FILTER_PEND;
    }
    if (cl->cl_flow == NULL || rn_callout_flow_find(cl) != NULL)
        return RN_FILTER_CONTINUE;
    if (rn_callout_flow_associate(cl, fy, &fc) < 0)
        return RN_FILTER_CONTINUE;
    fy->fy_ctxs.fl_items[fy->fy_ctxs.fl_n++] = fc;
    fy->fy_kept++;
    return RN_FILTER_CONTINUE;
}

/* The bug: told that the flow ended, it does nothing, so its reference on
 * the flow's object stays. */
static void faulty_flow_deleted(struct rn_callout *co, struct rn_flow_ctx *fc, void *ctx)
{
    struct faulty *fy = ctx;

    (void)co;
    (void)fc;
    fy->fy_forgot++;
}

static void faulty_values(struct rn_callout *co, rn_value_fn fn, void *ctx)
{
    const struct faulty *fy = rn_callout_ctx(co);

    rn_value_text(fn, ctx, "lab_only", "yes");
    rn_value_counter(fn, ctx, "pended_ever", fy->fy_pended);
    rn_value_counter(fn, ctx, "never_completed", fy->fy_pends.fl_n);
    rn_value_counter(fn, ctx, "contexts_ever", fy->fy_kept);
    rn_value_counter(fn, ctx, "never_released", fy->fy_ctxs.fl_n);
    rn_value_counter(fn, ctx, "flow_ends_ignored", fy->fy_forgot);
}

static void faulty_free(struct faulty *fy)
{
    free(fy->fy_pends.fl_items);
    free(fy->fy_ctxs.fl_items);
    free(fy);
}

/* Unregistered with the platform's teardown: it forgets its lists without
 * letting go, as a faulty driver unloading would; the platform reports
 * what stays held. */
static void faulty_unregister(struct rn_callout *co)
{
    faulty_free(rn_callout_ctx(co));
}

static const struct rn_callout_ops faulty_ops = {
    .co_name = "faulty",
    .co_filter_add = faulty_filter_add,
    .co_classify = faulty_classify,
    .co_flow_deleted = faulty_flow_deleted,
    .co_values = faulty_values,
    .co_unregister = faulty_unregister,
};

int rn_callout_faulty_register(struct rn_stack *st)
{
    struct faulty *fy;
    int err;

    if (!rn_filter_ready(st))
        return RN_EINVAL;
    if (rn_callout_find(st, "faulty") != NULL)
        return RN_EEXIST;
    fy = calloc(1, sizeof(*fy));
    if (fy == NULL)
        return RN_ENOMEM;
    err = rn_callout_register(st, &faulty_ops, fy, NULL);
    if (err < 0) {
        free(fy);
        return err;
    }
    rn_report(RN_REPORT_INFO, "filter: the lab-only callout 'faulty' is registered: with "
              "arg=pend it never completes what it pends, with arg=leak it never releases "
              "its flow contexts\n");
    return 0;
}

unsigned rn_callout_faulty_release_all(struct rn_stack *st)
{
    struct rn_callout *co = rn_callout_find(st, "faulty");
    struct faulty *fy = co ? rn_callout_ctx(co) : NULL;
    struct faulty_list pends, ctxs;
    unsigned i;

    if (fy == NULL)
        return 0;
    /* Take the lists first: completing and releasing may classify again. */
    pends = fy->fy_pends;
    ctxs = fy->fy_ctxs;
    memset(&fy->fy_pends, 0, sizeof(fy->fy_pends));
    memset(&fy->fy_ctxs, 0, sizeof(fy->fy_ctxs));
    for (i = 0; i < pends.fl_n; i++)
        rn_callout_complete(pends.fl_items[i], RN_FILTER_BLOCK);
    for (i = 0; i < ctxs.fl_n; i++)
        rn_callout_flow_release(ctxs.fl_items[i]);
    free(pends.fl_items);
    free(ctxs.fl_items);
    return pends.fl_n + ctxs.fl_n;
}
