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
 * A daemon with a stack per loop (receive-side scaling) loads a plug-in
 * once per loop: what this one keeps, it keeps per load (per stack), not
 * in one set of globals that the next load would overwrite.
 *
 * Built as a module against the public headers only (plugin.h); its refnet
 * symbols come from the program that loads it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/object.h"
#include "refnet/plugin.h"
#include "refnet/stack.h"

#define LEAKY_MAX 256
/* Loads at once at most: one per loop of a daemon. */
#define LEAKY_LOADS 64

/* What one load (into one stack) keeps. */
struct leaky {
    struct rn_stack *lk_st;                 /* its stack; NULL: a free slot */
    struct rn_flow_ctx *lk_held[LEAKY_MAX];
    unsigned lk_nheld;
    void *lk_routes[LEAKY_MAX];
    unsigned lk_nroutes;
    void *lk_froutes[LEAKY_MAX];
    unsigned lk_nfroutes;
    unsigned long lk_frames;
};

static struct leaky loads[LEAKY_LOADS];
static rn_tag_t route_tag;
static rn_tag_t froute_tag;

/* Caches a reference on a route. */
static void cache_route(const struct rn_route_row *r, void *ctx)
{
    struct leaky *lk = ctx;
    void *rt;

    if (lk->lk_nroutes < LEAKY_MAX && (rt = rn_ob_lookup(r->rr_id, route_tag)) != NULL)
        lk->lk_routes[lk->lk_nroutes++] = rt;  /* kept even once the route is deleted */
}

/* The link filter's cache: a reference on a route, under the filter's tag. */
static void cache_filter_route(const struct rn_route_row *r, void *ctx)
{
    struct leaky *lk = ctx;
    void *rt;

    if (lk->lk_nfroutes < LEAKY_MAX && (rt = rn_ob_lookup(r->rr_id, froute_tag)) != NULL)
        lk->lk_froutes[lk->lk_nfroutes++] = rt;  /* kept even once the plug-in is unloaded */
}

static int count_frame(void *ctx, const struct rn_netbuf *nb)
{
    struct leaky *lk = ctx;

    (void)nb;
    lk->lk_frames++;
    return RN_FILTER_CONTINUE;
}

static const struct rn_plugin_filter_ops cache_ops = {
    .pf_name = "leaky-cache",
    .pf_rx = count_frame,
    .pf_tx = count_frame,
};

static int leaky_classify(struct rn_callout *co, const struct rn_classify *cl)
{
    struct leaky *lk = rn_callout_ctx(co);
    struct rn_flow_ctx *fc;

    if (cl->cl_flow != NULL && lk->lk_nheld < LEAKY_MAX && rn_callout_flow_find(cl) == NULL &&
        rn_callout_flow_associate(cl, NULL, &fc) == 0)
        lk->lk_held[lk->lk_nheld++] = fc;  /* kept for good: never released at the flow's end */
    return RN_FILTER_CONTINUE;
}

static const struct rn_callout_ops leaky_ops = {
    .co_name = "leaky",
    .co_classify = leaky_classify,
};

/* The load into st, or a free slot for it. */
static struct leaky *leaky_of(struct rn_stack *st, bool make)
{
    struct leaky *free_slot = NULL;
    unsigned i;

    for (i = 0; i < LEAKY_LOADS; i++) {
        if (loads[i].lk_st == st && !make)
            return &loads[i];
        if (loads[i].lk_st == st)
            free_slot = &loads[i];  /* a stack gone before, at the same address */
        if (loads[i].lk_st == NULL && free_slot == NULL)
            free_slot = &loads[i];
    }
    if (!make || free_slot == NULL)
        return NULL;
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->lk_st = st;
    return free_slot;
}

static int leaky_load(struct rn_plugin *pl, struct rn_stack *st, const char *args, char *err,
                      size_t errlen)
{
    struct leaky *lk;
    int e;

    if (args != NULL && args[0] != '\0' && strcmp(args, "routes") != 0 &&
        strncmp(args, "filter:", 7) != 0) {
        strncpy(err, "takes no argument but 'routes' or 'filter:IFACE'", errlen);
        return RN_EINVAL;
    }
    lk = leaky_of(st, true);
    if (lk == NULL) {
        strncpy(err, "loaded into too many stacks", errlen);
        return RN_ENOSPC;
    }
    e = rn_plugin_callout_register(pl, &leaky_ops, lk, NULL);
    if (e == 0 && args != NULL && strcmp(args, "routes") == 0) {
        route_tag = rn_tag_intern("callout:leaky");
        rn_stack_routes(st, cache_route, lk);
    }
    if (e == 0 && args != NULL && strncmp(args, "filter:", 7) == 0) {
        e = rn_plugin_filter_attach(pl, st, args + 7, &cache_ops, lk);
        if (e < 0) {
            strncpy(err, "cannot stack its filter on that interface", errlen);
            return e;
        }
        froute_tag = rn_tag_intern("filter:leaky-cache");
        rn_stack_routes(st, cache_filter_route, lk);
    }
    return e;
}

/* Lets go of every context and route it kept, in every stack; returns how
 * many. */
unsigned leaky_release_all(void);

unsigned leaky_release_all(void)
{
    unsigned n = 0, i;

    for (i = 0; i < LEAKY_LOADS; i++) {
        struct leaky *lk = &loads[i];

        n += lk->lk_nheld + lk->lk_nroutes + lk->lk_nfroutes;
        while (lk->lk_nheld > 0)
            rn_callout_flow_release(lk->lk_held[--lk->lk_nheld]);
        while (lk->lk_nroutes > 0)
            rn_ob_deref(lk->lk_routes[--lk->lk_nroutes], route_tag);
        while (lk->lk_nfroutes > 0)
            rn_ob_deref(lk->lk_froutes[--lk->lk_nfroutes], froute_tag);
        lk->lk_st = NULL;
    }
    return n;
}

/* Unloading: the callout's route cache goes; the flow contexts and the
 * link filter's cache stay, the bugs (and so does its slot, which still
 * holds them). */
static void leaky_unload(struct rn_plugin *pl, struct rn_stack *st)
{
    struct leaky *lk = leaky_of(st, false);

    (void)pl;
    while (lk != NULL && lk->lk_nroutes > 0)
        rn_ob_deref(lk->lk_routes[--lk->lk_nroutes], route_tag);
}

const struct rn_plugin_desc rn_plugin_v1 = {
    .pd_abi = RN_PLUGIN_ABI,
    .pd_name = "leaky",
    .pd_version = "1.0",
    .pd_load = leaky_load,
    .pd_unload = leaky_unload,  /* the bugs: it keeps its flow contexts and
                                   its filter's route cache */
};
