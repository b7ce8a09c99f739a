/*
 * A deliberately leaking plug-in, for the tests: its callout "leaky" keeps
 * context on every flow a filter hands it and never lets go when the flow
 * ends, as a buggy third-party callout driver would.  Loaded with the
 * argument "routes" it also caches a reference on every route of the
 * stack (under its callout's tag, "callout:leaky") and keeps it when the
 * route is deleted, as a driver's stale route cache would; it lets go of
 * them when unloaded (the flow contexts it never gives back).  Loaded
 * with "filter:IFACE" it stacks a link filter "leaky-cache" on that
 * interface, which counts frames and caches a reference on every route
 * under its own tag, "filter:leaky-cache", and keeps them when unloaded:
 * a lightweight filter driver's stale cache.  Unloading it must then wait,
 * and the diagnosis must name this file and the site below that took the
 * holds.  leaky_release_all() is the tests' way to make it let go at
 * last.
 *
 * Built as a module against the public headers only (plugin.h); its refnet
 * symbols come from the program that loads it.
 */
#include <stddef.h>
#include <string.h>

#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/object.h"
#include "refnet/plugin.h"
#include "refnet/stack.h"

#define LEAKY_MAX 256

static struct rn_flow_ctx *held[LEAKY_MAX];
static unsigned nheld;
static void *routes[LEAKY_MAX];
static unsigned nroutes;
static rn_tag_t route_tag;
static void *froutes[LEAKY_MAX];
static unsigned nfroutes;
static rn_tag_t froute_tag;
static unsigned long frames;

/* Caches a reference on a route. */
static void cache_route(const struct rn_route_row *r, void *ctx)
{
    void *rt;

    (void)ctx;
    if (nroutes < LEAKY_MAX && (rt = rn_ob_lookup(r->rr_id, route_tag)) != NULL)
        routes[nroutes++] = rt;  /* kept even once the route is deleted */
}

/* The link filter's cache: a reference on a route, under the filter's tag. */
static void cache_filter_route(const struct rn_route_row *r, void *ctx)
{
    void *rt;

    (void)ctx;
    if (nfroutes < LEAKY_MAX && (rt = rn_ob_lookup(r->rr_id, froute_tag)) != NULL)
        froutes[nfroutes++] = rt;  /* kept even once the plug-in is unloaded */
}

static int count_frame(void *ctx, const struct rn_netbuf *nb)
{
    (void)ctx;
    (void)nb;
    frames++;
    return RN_FILTER_CONTINUE;
}

static const struct rn_plugin_filter_ops cache_ops = {
    .pf_name = "leaky-cache",
    .pf_rx = count_frame,
    .pf_tx = count_frame,
};

static int leaky_classify(struct rn_callout *co, const struct rn_classify *cl)
{
    struct rn_flow_ctx *fc;

    (void)co;
    if (cl->cl_flow != NULL && nheld < LEAKY_MAX && rn_callout_flow_find(cl) == NULL &&
        rn_callout_flow_associate(cl, NULL, &fc) == 0)
        held[nheld++] = fc;  /* kept for good: never released at the flow's end */
    return RN_FILTER_CONTINUE;
}

static const struct rn_callout_ops leaky_ops = {
    .co_name = "leaky",
    .co_classify = leaky_classify,
};

static int leaky_load(struct rn_plugin *pl, struct rn_stack *st, const char *args, char *err,
                      size_t errlen)
{
    int e;

    if (args != NULL && args[0] != '\0' && strcmp(args, "routes") != 0 &&
        strncmp(args, "filter:", 7) != 0) {
        strncpy(err, "takes no argument but 'routes' or 'filter:IFACE'", errlen);
        return RN_EINVAL;
    }
    nheld = 0;
    nroutes = 0;
    nfroutes = 0;
    frames = 0;
    e = rn_plugin_callout_register(pl, &leaky_ops, NULL, NULL);
    if (e == 0 && args != NULL && strcmp(args, "routes") == 0) {
        route_tag = rn_tag_intern("callout:leaky");
        rn_stack_routes(st, cache_route, NULL);
    }
    if (e == 0 && args != NULL && strncmp(args, "filter:", 7) == 0) {
        e = rn_plugin_filter_attach(pl, st, args + 7, &cache_ops, NULL);
        if (e < 0) {
            strncpy(err, "cannot stack its filter on that interface", errlen);
            return e;
        }
        froute_tag = rn_tag_intern("filter:leaky-cache");
        rn_stack_routes(st, cache_filter_route, NULL);
    }
    return e;
}

/* Lets go of every context and route it kept; returns how many. */
unsigned leaky_release_all(void);

unsigned leaky_release_all(void)
{
    unsigned n = nheld + nroutes + nfroutes;

    while (nheld > 0)
        rn_callout_flow_release(held[--nheld]);
    while (nroutes > 0)
        rn_ob_deref(routes[--nroutes], route_tag);
    while (nfroutes > 0)
        rn_ob_deref(froutes[--nfroutes], froute_tag);
    return n;
}

/* Unloading: the callout's route cache goes; the flow contexts and the
 * link filter's cache stay, the bugs. */
static void leaky_unload(struct rn_plugin *pl, struct rn_stack *st)
{
    (void)pl;
    (void)st;
    while (nroutes > 0)
        rn_ob_deref(routes[--nroutes], route_tag);
}

const struct rn_plugin_desc rn_plugin_v1 = {
    .pd_abi = RN_PLUGIN_ABI,
    .pd_name = "leaky",
    .pd_version = "1.0",
    .pd_load = leaky_load,
    .pd_unload = leaky_unload,  /* the bugs: it keeps its flow contexts and
                                   its filter's route cache */
};
