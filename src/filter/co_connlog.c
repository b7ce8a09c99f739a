/*
 * The built-in callout "connlog": logs each TCP connection's establishment
 * and end to the diagnostics sink (RN_REPORT_INFO), and counts them.
 *
 *   layer=accept,action=callout:connlog      inbound connections
 *   layer=connect,action=callout:connlog     outbound ones
 *
 * It is a well-behaved flow-context callout, the counterpart of faulty's
 * arg=leak: at classification it associates a record (the flow's start
 * time and addresses) with the connection, which holds the connection
 * under "callout:connlog"; when the connection is established it logs
 * that; when the connection ends it logs how long it lived and releases
 * the record, and with it the reference.  It never decides: it answers
 * "continue", so the next matching filter (or the default permit) does.
 *
 * Lines look like:
 *   connlog: tcp 198.18.0.3:80 <- 198.18.0.2:49152 established (1ms after the SYN)
 *   connlog: tcp 198.18.0.3:80 <- 198.18.0.2:49152 ended after 2.30s
 *   connlog: tcp 198.18.0.2:49152 -> 198.18.0.3:81 ended after 3ms, never established
 *   connlog: tcp [2001:2::2]:80 <- [2001:2::1]:41236 established (1ms after the SYN)
 * (an IPv6 address in brackets, as in a URL).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "filter/filter_priv.h"
#include "net/net.h"
#include "refnet/error.h"
#include "refnet/report.h"
#include "refnet/strbuf.h"
#include "wire/ipv4.h"

/* The callout's state on a stack. */
struct connlog {
    struct rn_connlog_stats cl_stats;  /* [L] */
};

/* What it keeps on one connection. */
struct connlog_flow {
    struct connlog *cf_log;             /* [I] */
    rn_time_t cf_start;                 /* [I] when it was classified */
    bool cf_established;                /* [L] */
    bool cf_inbound;                    /* [I] accept (else connect) */
    char cf_what[2 * FILTER_ENDPOINT_STRLEN + 8]; /* [I] "tcp L:p <- R:q", an
                                                     IPv6 address in brackets */
};

static int connlog_filter_add(struct rn_callout *co, const struct rn_filter_spec *fs,
                              void **fctx, char *err, size_t errlen)
{
    (void)co;
    *fctx = NULL;
    if (fs->fs_layer != RN_FL_ACCEPT && fs->fs_layer != RN_FL_CONNECT) {
        snprintf(err, errlen, "callout connlog logs TCP connections: use layer=accept or "
                 "layer=connect, not layer=%s", rn_filter_layer_name(fs->fs_layer));
        return RN_EINVAL;
    }
    if (fs->fs_arg[0] != '\0') {
        snprintf(err, errlen, "callout connlog takes no 'arg='");
        return RN_EINVAL;
    }
    return 0;
}

static int connlog_classify(struct rn_callout *co, const struct rn_classify *cl)
{
    struct connlog *log = rn_callout_ctx(co);
    const struct rn_filter_values *v = cl->cl_values;
    struct connlog_flow *cf;
    char l[FILTER_ENDPOINT_STRLEN], r[FILTER_ENDPOINT_STRLEN];

    if (cl->cl_flow == NULL || rn_callout_flow_find(cl) != NULL)
        return RN_FILTER_CONTINUE;
    cf = calloc(1, sizeof(*cf));
    if (cf == NULL)
        return RN_FILTER_CONTINUE;  /* not logged: never in the way */
    cf->cf_log = log;
    cf->cf_start = rn_stack_now(rn_callout_stack(co));
    cf->cf_inbound = v->fv_layer == RN_FL_ACCEPT;
    rn__filter_endpoint_fmt(&v->fv_laddr, v->fv_lport, l, sizeof(l));
    rn__filter_endpoint_fmt(&v->fv_raddr, v->fv_rport, r, sizeof(r));
    snprintf(cf->cf_what, sizeof(cf->cf_what), "tcp %s %s %s", l, cf->cf_inbound ? "<-" : "->",
             r);
    if (rn_callout_flow_associate(cl, cf, NULL) != 0) {
        free(cf);
        return RN_FILTER_CONTINUE;
    }
    log->cl_stats.cls_opened++;
    log->cl_stats.cls_active++;
    return RN_FILTER_CONTINUE;
}

static void connlog_established(struct rn_callout *co, struct rn_flow_ctx *fc, void *ctx)
{
    struct connlog_flow *cf = ctx;
    char age[32];

    (void)fc;
    cf->cf_established = true;
    cf->cf_log->cl_stats.cls_established++;
    rn_fmt_age(rn_stack_now(rn_callout_stack(co)) - cf->cf_start, age, sizeof(age));
    rn_report(RN_REPORT_INFO, "connlog: %s established (%s after the %s)\n", cf->cf_what, age,
              cf->cf_inbound ? "SYN" : "connect");
}

static void connlog_deleted(struct rn_callout *co, struct rn_flow_ctx *fc, void *ctx)
{
    struct connlog_flow *cf = ctx;
    char age[32];

    rn_fmt_age(rn_stack_now(rn_callout_stack(co)) - cf->cf_start, age, sizeof(age));
    rn_report(RN_REPORT_INFO, "connlog: %s ended after %s%s\n", cf->cf_what, age,
              cf->cf_established ? "" : ", never established");
    cf->cf_log->cl_stats.cls_ended++;
    cf->cf_log->cl_stats.cls_active--;
    free(cf);
    rn_callout_flow_release(fc);
}

static void connlog_values(struct rn_callout *co, rn_value_fn fn, void *ctx)
{
    const struct rn_connlog_stats *s = &((const struct connlog *)rn_callout_ctx(co))->cl_stats;

    rn_value_counter(fn, ctx, "opened", s->cls_opened);
    rn_value_counter(fn, ctx, "established", s->cls_established);
    rn_value_counter(fn, ctx, "ended", s->cls_ended);
    rn_value_counter(fn, ctx, "active", s->cls_active);
}

static void connlog_unregister(struct rn_callout *co)
{
    /* Every flow was told it ended before this: no context is left. */
    free(rn_callout_ctx(co));
}

static const struct rn_callout_ops connlog_ops = {
    .co_name = "connlog",
    .co_filter_add = connlog_filter_add,
    .co_classify = connlog_classify,
    .co_flow_established = connlog_established,
    .co_flow_deleted = connlog_deleted,
    .co_values = connlog_values,
    .co_unregister = connlog_unregister,
};

int rn__filter_connlog_register(struct rn_stack *st)
{
    struct connlog *log = calloc(1, sizeof(*log));
    int err;

    if (log == NULL)
        return RN_ENOMEM;
    err = rn_callout_register(st, &connlog_ops, log, NULL);
    if (err < 0)
        free(log);
    return err;
}

void rn_callout_connlog_stats(struct rn_stack *st, struct rn_connlog_stats *out)
{
    struct rn_callout *co = rn_callout_find(st, "connlog");
    const struct connlog *log = co ? rn_callout_ctx(co) : NULL;

    if (log != NULL)
        *out = log->cl_stats;
    else
        *out = (struct rn_connlog_stats){0};
}
