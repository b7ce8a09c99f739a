/*
 * A callout plug-in: the callout "porttally" counts the TCP connections
 * each local port accepts and how long each one lived, keeping a small
 * context on every flow and letting go of it when the flow ends, as a
 * well-behaved callout must.  Build it with the Makefile beside it and
 * load it into a running daemon:
 *
 *   refnet daemon ... --plugin ./plugin-callout.so:80+8080
 *   refnet plugin load ./plugin-callout.so:80+8080
 *   refnet filter add layer=accept,action=callout:porttally
 *   refnet filter list          # porttally's counters
 *   refnet plugin unload porttally
 *
 * ARGS, optional: the ports to count, joined by '+' (default: every port).
 * It never decides (RN_FILTER_CONTINUE), so the next matching filter, or
 * the default, does.
 *
 * Everything runs on the stack's loop thread; the plug-in uses the public
 * API only (refnet/plugin.h, refnet/filter.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <refnet/refnet.h>

#define TALLY_PORTS 16

struct tally {
    unsigned t_nports;              /* 0: every port */
    uint16_t t_ports[TALLY_PORTS];  /* the ports counted */
    uint64_t t_accepted;            /* flows seen */
    uint64_t t_ended;               /* flows that ended */
    uint64_t t_held;                /* contexts held now */
    rn_time_t t_lived_ns;           /* summed life of ended flows */
};

/* One per flow: when it was first seen. */
struct flow_info {
    rn_time_t fi_start;
};

static struct tally tally;

static int counted(const struct tally *t, uint16_t port)
{
    unsigned i;

    if (t->t_nports == 0)
        return 1;
    for (i = 0; i < t->t_nports; i++)
        if (t->t_ports[i] == port)
            return 1;
    return 0;
}

static int tally_classify(struct rn_callout *co, const struct rn_classify *cl)
{
    struct tally *t = rn_callout_ctx(co);
    struct flow_info *fi;

    if (cl->cl_values->fv_layer != RN_FL_ACCEPT || cl->cl_flow == NULL ||
        !counted(t, cl->cl_values->fv_lport) || rn_callout_flow_find(cl) != NULL)
        return RN_FILTER_CONTINUE;
    fi = malloc(sizeof(*fi));
    if (fi == NULL)
        return RN_FILTER_CONTINUE;
    fi->fi_start = rn_clock_now();
    if (rn_callout_flow_associate(cl, fi, NULL) != 0) {
        free(fi);
        return RN_FILTER_CONTINUE;
    }
    t->t_accepted++;
    t->t_held++;
    return RN_FILTER_CONTINUE;
}

static void tally_flow_deleted(struct rn_callout *co, struct rn_flow_ctx *fc, void *ctx)
{
    struct tally *t = rn_callout_ctx(co);
    struct flow_info *fi = ctx;

    t->t_ended++;
    t->t_held--;
    t->t_lived_ns += rn_clock_now() - fi->fi_start;
    free(fi);
    rn_callout_flow_release(fc);  /* the flow's hold goes with it */
}

static void tally_values(struct rn_callout *co, rn_value_fn fn, void *ctx)
{
    struct tally *t = rn_callout_ctx(co);

    rn_value_counter(fn, ctx, "accepted", t->t_accepted);
    rn_value_counter(fn, ctx, "ended", t->t_ended);
    rn_value_counter(fn, ctx, "held", t->t_held);
    rn_value_counter(fn, ctx, "mean_life_ms",
                     t->t_ended ? t->t_lived_ns / t->t_ended / 1000000 : 0);
}

static const struct rn_callout_ops tally_ops = {
    .co_name = "porttally",
    .co_classify = tally_classify,
    .co_flow_deleted = tally_flow_deleted,
    .co_values = tally_values,
};

static int tally_load(struct rn_plugin *pl, struct rn_stack *st, const char *args, char *err,
                      size_t errlen)
{
    const char *p = args;

    (void)st;
    memset(&tally, 0, sizeof(tally));
    while (p != NULL && *p != '\0') {
        char *end;
        unsigned long v = strtoul(p, &end, 10);

        if (end == p || v == 0 || v > 65535 || (*end != '\0' && *end != '+') ||
            tally.t_nports == TALLY_PORTS) {
            snprintf(err, errlen, "bad ports '%s': expected up to %d ports 1..65535 joined "
                     "by '+'", args, TALLY_PORTS);
            return RN_EINVAL;
        }
        tally.t_ports[tally.t_nports++] = (uint16_t)v;
        p = *end == '+' ? end + 1 : end;
    }
    return rn_plugin_callout_register(pl, &tally_ops, &tally, NULL);
}

const struct rn_plugin_desc rn_plugin_v1 = {
    .pd_abi = RN_PLUGIN_ABI,
    .pd_name = "porttally",
    .pd_version = "1.0",
    .pd_load = tally_load,
    .pd_unload = NULL,  /* its contexts go with their flows */
};
