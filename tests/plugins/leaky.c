/*
 * A deliberately leaking plug-in, for the tests: its callout "leaky" keeps
 * context on every flow a filter hands it and never lets go when the flow
 * ends, as a buggy third-party callout driver would.  Unloading it must
 * then wait, and the diagnosis must name this file and the site below that
 * took the holds.  leaky_release_all() is the tests' way to make it let
 * go at last.
 *
 * Built as a module against the public headers only (plugin.h); its refnet
 * symbols come from the program that loads it.
 */
#include <stddef.h>
#include <string.h>

#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/plugin.h"

#define LEAKY_MAX 256

static struct rn_flow_ctx *held[LEAKY_MAX];
static unsigned nheld;

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
    (void)st;
    if (args != NULL && args[0] != '\0') {
        strncpy(err, "takes no arguments", errlen);
        return RN_EINVAL;
    }
    nheld = 0;
    return rn_plugin_callout_register(pl, &leaky_ops, NULL, NULL);
}

/* Lets go of every context it kept; returns how many. */
unsigned leaky_release_all(void);

unsigned leaky_release_all(void)
{
    unsigned n = nheld;

    while (nheld > 0)
        rn_callout_flow_release(held[--nheld]);
    return n;
}

const struct rn_plugin_desc rn_plugin_v1 = {
    .pd_abi = RN_PLUGIN_ABI,
    .pd_name = "leaky",
    .pd_version = "1.0",
    .pd_load = leaky_load,
    .pd_unload = NULL,  /* the bug: it lets go of nothing when unloaded */
};
