/*
 * Plug-ins: third-party callouts loaded into a running stack from a shared
 * object, the way Windows loads a WFP callout driver.
 *
 * A plug-in is a shared object that exports one symbol, RN_PLUGIN_SYMBOL,
 * a `const struct rn_plugin_desc` whose pd_abi is RN_PLUGIN_ABI.  Loading
 * it (rn_plugin_load(), `refnet daemon --plugin PATH[:ARGS]`, `refnet
 * plugin load`) calls its pd_load on the loop thread, where it registers
 * its callouts with rn_plugin_callout_register(); filters then name them
 * like any other.  Their holds carry "callout:NAME", so a leak in the
 * plug-in is named by every ledger it touches, with the plug-in's own call
 * sites.
 *
 * Unloading (rn_plugin_unload(), `refnet plugin unload NAME`) calls
 * pd_unload, deletes the filters that name its callouts, and retires the
 * callouts: no classification reaches them again.  The plug-in's code
 * stays mapped while any of its callouts still holds a flow context or a
 * pended operation (its callbacks may still run): the plug-in object
 * waits ("unload") for each of its callout registrations, which each such
 * hold keeps.  A plug-in that never lets go is then a waiting chain like
 * any other, from the plug-in (its name and file) to the registration and
 * the objects its callout holds, with the sites that took them.
 *
 * A plug-in file must be a regular file owned by root or by the user
 * running refnet, and not writable by everyone; anything else is refused
 * before it is mapped.
 *
 * Versioning: RN_PLUGIN_ABI changes when this header, or the parts of
 * filter.h a plug-in uses, change incompatibly; a plug-in built for
 * another ABI is refused with both numbers named.
 *   1  the first.
 *   2  filters see IPv6: struct rn_filter_values carries its addresses as
 *      struct rn_inaddr (IPv4 held IPv4-mapped, IPv6 as itself) where 1
 *      had IPv4-only uint32_t; struct rn_filter_spec likewise, with prefix
 *      lengths up to 128; RN_FILTER_SPEC_MAX grew.  A plug-in built for 1
 *      would read the wrong fields, so it is refused.  A plug-in links
 * librefnet.so (pkg-config refnet) and uses the public API only.
 *
 * Threads: [L], the loop thread of the stack, for everything here.
 */
#ifndef REFNET_PLUGIN_H
#define REFNET_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "refnet/filter.h"
#include "refnet/link.h"
#include "refnet/value.h"

/* The plug-in ABI this refnet implements (link filters, below, came in
 * without changing it: a plug-in that uses them needs a refnet that has
 * rn_plugin_filter_attach(), which the dynamic linker checks). */
#define RN_PLUGIN_ABI 2
/* The symbol a plug-in exports: its struct rn_plugin_desc. */
#define RN_PLUGIN_SYMBOL "rn_plugin_v1"
/* The longest plug-in name: [a-z0-9_-]. */
#define RN_PLUGIN_NAME_MAX 31
/* The most callouts one plug-in registers. */
#define RN_PLUGIN_CALLOUTS_MAX 8

struct rn_stack;
struct rn_plugin;  /* a loaded plug-in: an object of type "plug-in" */

/* What a plug-in exports, as RN_PLUGIN_SYMBOL. */
struct rn_plugin_desc {
    uint32_t pd_abi;         /* RN_PLUGIN_ABI it was built for */
    const char *pd_name;     /* its name: 1..RN_PLUGIN_NAME_MAX of [a-z0-9_-] */
    const char *pd_version;  /* free text, shown by `plugin list`; may be NULL */
    /* Registers its callouts (rn_plugin_callout_register()).  args is the
     * text after the ':' of PATH:ARGS, "" if none.  Returns 0, or a
     * negative code with one line in err: the load fails, and whatever it
     * registered is undone.  A daemon with a stack per loop (receive-side
     * scaling) loads a plug-in into each stack: pd_load runs once per
     * stack, and each load's callouts are called on that stack's loop
     * thread only; a plug-in keeps what it needs per load (in the ctx of
     * its registrations), not in globals another load would share. */
    int (*pd_load)(struct rn_plugin *pl, struct rn_stack *st, const char *args, char *err,
                   size_t errlen);
    /* The plug-in is being unloaded: complete what its callouts pended and
     * release their flow contexts, here or soon.  May be NULL. */
    void (*pd_unload)(struct rn_plugin *pl, struct rn_stack *st);
};

/* Loads the plug-in file path into st, passing it args (NULL: "").
 * Returns 0 and sets *out (may be NULL) to the plug-in, which st owns; or
 * RN_EACCES (a file not owned by root or this user, or writable by
 * everyone, or not a regular file), RN_ENOENT, RN_EINVAL (not a plug-in:
 * no RN_PLUGIN_SYMBOL, a bad name), RN_ENOTSUP (another ABI), RN_EEXIST (a
 * plug-in of that name is loaded), RN_ENOMEM, or what pd_load returned;
 * with one line in err naming the file and what was wrong.  [L] */
int rn_plugin_load(struct rn_stack *st, const char *path, const char *args,
                   struct rn_plugin **out, char *err, size_t errlen);

/* Begins unloading the plug-in named name (see above).  Returns 0 (the
 * unload completes once its callouts hold nothing; `plugin list` shows it
 * "unloading" until then), RN_ENOENT, or RN_EALREADY if it is unloading.
 * *filters_deleted (may be NULL) gets how many filters named its
 * callouts.  [L] */
int rn_plugin_unload(struct rn_stack *st, const char *name, unsigned *filters_deleted);

/* Registers a callout of plug-in pl (during its pd_load), as
 * rn_callout_register() does; ops and ctx must stay valid until the
 * plug-in is unloaded.  Returns as rn_callout_register(), or RN_ENOSPC
 * past RN_PLUGIN_CALLOUTS_MAX. */
int rn_plugin_callout_register(struct rn_plugin *pl, const struct rn_callout_ops *ops, void *ctx,
                               struct rn_callout **out);

/* ---- Link filters (NDIS lightweight filters) ---------------------------- */

/* The most link filters one plug-in attaches. */
#define RN_PLUGIN_FILTERS_MAX 8

/* A plug-in's link filter: refnet stacks a link of kind "plugin" named
 * pf_name on top of an interface's chain (rn_iface_filter_push()) and
 * hands it every frame that passes, received (on its way up) and sent (on
 * its way down).  While attached, it holds its interface under
 * "filter:NAME".  Unloading the plug-in takes its filters out of their
 * chains first; removing the interface closes them. */
struct rn_plugin_filter_ops {
    const char *pf_name;  /* 1..RN_PLUGIN_NAME_MAX of [a-z0-9_-] */
    /* A frame received, or about to be sent: returns RN_FILTER_PERMIT to
     * pass it on, RN_FILTER_BLOCK to drop it (refnet frees and counts it).
     * The frame is the filter's to read, not to keep or change.  Either
     * may be NULL: every frame that way passes. */
    int (*pf_rx)(void *ctx, const struct rn_netbuf *nb);
    int (*pf_tx)(void *ctx, const struct rn_netbuf *nb);
    /* Its own settings and counters, for `refnet ifconfig` (value.h);
     * may be NULL. */
    void (*pf_values)(void *ctx, rn_value_fn fn, void *vctx);
};

/* Attaches a link filter of plug-in pl to the interface named iface of
 * st (during pd_load or later, while pl is loaded); ops and ctx must stay
 * valid until the plug-in is unloaded.  Returns 0; RN_ENOENT (no such
 * interface), RN_EINVAL (a bad name, or pl is unloading), RN_ENOSPC past
 * RN_PLUGIN_FILTERS_MAX, RN_ENOMEM. */
int rn_plugin_filter_attach(struct rn_plugin *pl, struct rn_stack *st, const char *iface,
                            const struct rn_plugin_filter_ops *ops, void *ctx);

/* The plug-in's name, and the file it was loaded from. */
const char *rn_plugin_name(const struct rn_plugin *pl);
const char *rn_plugin_path(const struct rn_plugin *pl);

/* A loaded plug-in, as `refnet plugin list` shows it. */
struct rn_plugin_row {
    const char *pr_name;      /* its name */
    const char *pr_version;   /* its version text, "" if none */
    const char *pr_path;      /* the file it was loaded from */
    const char *pr_args;      /* what it was given, "" if nothing */
    uint64_t pr_id;           /* its object id */
    unsigned pr_callouts;     /* callouts it registered; while unloading,
                                 those whose registration is still held */
    unsigned pr_flows;        /* flow contexts they hold (0 while unloading) */
    unsigned pr_pended;       /* operations they pended, not completed (0
                                 while unloading) */
    int pr_unloading;         /* 1 while its unload waits for its holds */
    unsigned pr_filters;      /* link filters attached now */
    uint32_t pr_held;         /* objects held now under its callouts' and
                                 filters' tags (rn_tag_holds()), whoever
                                 of its code took them */
};
typedef void (*rn_plugin_row_fn)(const struct rn_plugin_row *row, void *ctx);
/* [L] Every plug-in of st, in order of loading. */
void rn_plugin_rows(struct rn_stack *st, rn_plugin_row_fn fn, void *ctx);

#endif /* REFNET_PLUGIN_H */
