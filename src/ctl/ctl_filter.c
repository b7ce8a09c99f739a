/*
 * Control commands of the filtering platform (filter.h), answered on the
 * loop thread of the daemon's stack:
 *
 *   filter list           filters (id, layer, weight, hits, spec), callouts
 *                         (filters naming them, flows held, operations
 *                         pended, their own counters), per-layer counters
 *   filter add SPEC       adds a filter; prints its id and canonical spec
 *   filter del ID         deletes a filter
 *
 * A bad spec or id is a usage error (status 2) with one line naming the bad
 * field; a filter that does not exist is a failure (status 1).  The
 * lab-only callout "faulty" cannot be added from here: only `refnet daemon
 * --filter` (rn_filter_add_lab()) registers it.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "ctl/commands.h"
#include "ctl/render.h"
#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/plugin.h"
#include "refnet/stack.h"
#include "refnet/strbuf.h"

#define FILTER_USAGE "filter list | filter add SPEC | filter del ID"

/* The daemon's stacks, one per loop with receive-side scaling (NULL: the
 * one given): filters and plug-ins go to each, in the same order, so a
 * filter has the same number on every loop. */
static struct rn__ctl_lanes *filter_lanes;

/* What to do to every other loop's filtering platform. */
struct filter_op {
    enum { FO_ADD, FO_DEL, FO_LOAD, FO_UNLOAD } fo_op;
    const char *fo_arg;       /* a spec, a plug-in's path or name */
    const char *fo_args;      /* FO_LOAD: its arguments */
    uint64_t fo_id;           /* FO_ADD: lane 0's number; FO_DEL: the number */
    int fo_rc;                /* the first failure, 0 if none */
    unsigned fo_lane;         /* its loop */
    char fo_err[256];
};

static void filter_lane(unsigned lane, struct rn_stack *st, void *ctx)
{
    struct filter_op *fo = ctx;
    char err[256] = "";
    uint64_t id = 0;
    unsigned deleted;
    int rc = 0;

    if (lane == 0)
        return;
    switch (fo->fo_op) {
    case FO_ADD:
        rc = rn_filter_add(st, fo->fo_arg, &id, err, sizeof(err));
        if (rc == 0 && id != fo->fo_id) {
            snprintf(err, sizeof(err), "added as filter %" PRIu64 ", not %" PRIu64, id,
                     fo->fo_id);
            rc = RN_EIO;
        }
        break;
    case FO_DEL:
        rc = rn_filter_del(st, fo->fo_id);
        break;
    case FO_LOAD:
        rc = rn_plugin_load(st, fo->fo_arg, fo->fo_args, NULL, err, sizeof(err));
        break;
    case FO_UNLOAD:
        rc = rn_plugin_unload(st, fo->fo_arg, &deleted);
        break;
    }
    if (rc != 0 && fo->fo_rc == 0) {
        fo->fo_rc = rc;
        fo->fo_lane = lane;
        snprintf(fo->fo_err, sizeof(fo->fo_err), "%s", err[0] ? err : rn_strerror(rc));
    }
}

/* Does fo on every other loop.  Returns 0, or fails the request. */
static int filter_lanes_op(struct rn_ctl_req *req, struct filter_op *fo)
{
    if (rn__ctl_lanes_count(filter_lanes) <= 1)
        return 0;
    rn__ctl_lanes_each(filter_lanes, filter_lane, fo);
    if (fo->fo_rc == 0)
        return 0;
    return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "on loop %u: %s", fo->fo_lane, fo->fo_err);
}

static int filter_list(struct rn_ctl_req *req, struct rn_stack *st)
{
    if (rn__ctl_req_argc(req) != 2)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "unexpected argument '%s' (usage: "
                               "filter list [--json])", rn__ctl_req_arg(req, 2));
    if (rn__ctl_lanes_count(filter_lanes) > 1)
        return rn__ctl_lanes_render(filter_lanes, req, rn__render_filters);
    rn__render_filters(st, rn__ctl_req_out(req), rn__ctl_req_json(req));
    return RN_CTL_EXIT_OK;
}

static int filter_add(struct rn_ctl_req *req, struct rn_stack *st)
{
    struct rn_strbuf *out = rn__ctl_req_out(req);
    struct rn_filter_spec fs;
    char err[256], canon[RN_FILTER_SPEC_MAX];
    uint64_t id;
    int e;

    if (rn__ctl_req_argc(req) != 3)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: filter add SPEC, the spec as "
                               "one argument (e.g. layer=inbound-transport,proto=udp,"
                               "lport=7,action=block)");
    e = rn_filter_add(st, rn__ctl_req_arg(req, 2), &id, err, sizeof(err));
    if (e == RN_EINVAL || e == RN_ENOENT)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "bad filter spec: %s", err);
    if (e != 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "cannot add the filter: %s", err);
    {
        struct filter_op fo = {.fo_op = FO_ADD, .fo_arg = rn__ctl_req_arg(req, 2), .fo_id = id};

        e = filter_lanes_op(req, &fo);
        if (e != 0)
            return e;
    }
    /* It parsed once, so it parses again: print the canonical form. */
    (void)rn_filter_parse(rn__ctl_req_arg(req, 2), &fs, NULL, 0);
    rn_filter_spec_format(&fs, canon, sizeof(canon));
    if (rn__ctl_req_json(req)) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "id", json_object_new_uint64(id));
        json_object_object_add(o, "spec", json_object_new_string(canon));
        rn__render_json(out, o);
        rn_strbuf_puts(out, "\n");
    } else {
        rn_strbuf_printf(out, "filter %" PRIu64 " added: %s\n", id, canon);
    }
    return RN_CTL_EXIT_OK;
}

static int filter_del(struct rn_ctl_req *req, struct rn_stack *st)
{
    uint64_t id;
    int e;

    if (rn__ctl_req_argc(req) != 3 || rn__ctl_parse_id(rn__ctl_req_arg(req, 2), &id) != 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: filter del ID, ID a filter's "
                               "number as filter list shows it%s%s%s",
                               rn__ctl_req_argc(req) == 3 ? " (not '" : "",
                               rn__ctl_req_argc(req) == 3 ? rn__ctl_req_arg(req, 2) : "",
                               rn__ctl_req_argc(req) == 3 ? "')" : "");
    e = rn_filter_del(st, id);
    if (e == RN_ENOENT)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "no filter %" PRIu64 " (see filter list)",
                               id);
    if (e != 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "cannot delete filter %" PRIu64 ": %s",
                               id, rn_strerror(e));
    {
        struct filter_op fo = {.fo_op = FO_DEL, .fo_id = id};

        e = filter_lanes_op(req, &fo);
        if (e != 0)
            return e;
    }
    if (rn__ctl_req_json(req)) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "deleted", json_object_new_uint64(id));
        rn__render_json(rn__ctl_req_out(req), o);
        rn_strbuf_puts(rn__ctl_req_out(req), "\n");
    } else
        rn_strbuf_printf(rn__ctl_req_out(req), "filter %" PRIu64 " deleted\n", id);
    return RN_CTL_EXIT_OK;
}

static int rn__cmd_filter(struct rn_ctl_req *req, void *ctx)
{
    struct rn_stack *st = ctx;
    const char *sub = rn__ctl_req_arg(req, 1);

    if (sub == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: " FILTER_USAGE);
    if (!rn_filter_ready(st))
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "the filtering platform is not set up "
                               "on this stack");
    if (strcmp(sub, "list") == 0)
        return filter_list(req, st);
    if (strcmp(sub, "add") == 0)
        return filter_add(req, st);
    if (strcmp(sub, "del") == 0)
        return filter_del(req, st);
    return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "unknown subcommand '%s' (usage: "
                           FILTER_USAGE ")", sub);
}

/* ---- plugin ------------------------------------------------------------------------ */

#define PLUGIN_USAGE "plugin list | plugin load PATH[:ARGS] | plugin unload NAME"

/* plugin load PATH[:ARGS]: PATH is the daemon's (absolute, the client
 * makes it so). */
static int plugin_load(struct rn_ctl_req *req, struct rn_stack *st)
{
    const char *spec = rn__ctl_req_arg(req, 2);
    char path[4096], err[512];
    const char *colon, *args = "";
    struct rn_plugin *pl;
    int e;

    if (rn__ctl_req_argc(req) != 3 || spec[0] == '\0')
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: plugin load PATH[:ARGS]");
    colon = strchr(spec, ':');
    if ((colon ? (size_t)(colon - spec) : strlen(spec)) >= sizeof(path))
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "plugin load: path too long");
    snprintf(path, sizeof(path), "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec), spec);
    if (colon != NULL)
        args = colon + 1;
    e = rn_plugin_load(st, path, args, &pl, err, sizeof(err));
    if (e != 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "%s", err);
    {
        struct filter_op fo = {.fo_op = FO_LOAD, .fo_arg = path, .fo_args = args};

        e = filter_lanes_op(req, &fo);
        if (e != 0)
            return e;
    }
    if (rn__ctl_req_json(req)) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(rn_plugin_name(pl)));
        json_object_object_add(o, "path", json_object_new_string(rn_plugin_path(pl)));
        rn__render_json(rn__ctl_req_out(req), o);
        rn_strbuf_puts(rn__ctl_req_out(req), "\n");
    } else {
        rn_strbuf_printf(rn__ctl_req_out(req), "plug-in %s loaded from %s\n", rn_plugin_name(pl),
                         rn_plugin_path(pl));
    }
    return RN_CTL_EXIT_OK;
}

static int plugin_unload(struct rn_ctl_req *req, struct rn_stack *st)
{
    const char *name = rn__ctl_req_arg(req, 2);
    unsigned deleted = 0;
    int e;

    if (rn__ctl_req_argc(req) != 3)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: plugin unload NAME");
    e = rn_plugin_unload(st, name, &deleted);
    if (e == RN_ENOENT)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "no plug-in named '%s' (plugin list "
                               "shows them)", name);
    if (e == RN_EALREADY)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "plug-in %s is unloading already: it "
                               "waits for its callouts' holds (refnet why)", name);
    if (e != 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "plugin unload %s: %s", name,
                               rn_strerror(e));
    {
        struct filter_op fo = {.fo_op = FO_UNLOAD, .fo_arg = name};

        e = filter_lanes_op(req, &fo);
        if (e != 0)
            return e;
    }
    rn_strbuf_printf(rn__ctl_req_out(req), "plug-in %s unloading: %u filter%s naming its "
                     "callouts deleted; it goes once its callouts hold nothing (plugin list, "
                     "refnet why)\n", name, deleted, deleted == 1 ? "" : "s");
    return RN_CTL_EXIT_OK;
}

static int rn__cmd_plugin(struct rn_ctl_req *req, void *ctx)
{
    struct rn_stack *st = ctx;
    const char *sub = rn__ctl_req_arg(req, 1);

    if (sub == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: " PLUGIN_USAGE);
    if (!rn_filter_ready(st))
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "the filtering platform is not set up "
                               "on this stack");
    if (strcmp(sub, "list") == 0) {
        if (rn__ctl_req_argc(req) != 2)
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: plugin list [--json]");
        if (rn__ctl_lanes_count(filter_lanes) > 1)
            return rn__ctl_lanes_render(filter_lanes, req, rn__render_plugins);
        rn__render_plugins(st, rn__ctl_req_out(req), rn__ctl_req_json(req));
        return RN_CTL_EXIT_OK;
    }
    if (strcmp(sub, "load") == 0)
        return plugin_load(req, st);
    if (strcmp(sub, "unload") == 0)
        return plugin_unload(req, st);
    return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "unknown subcommand '%s' (usage: "
                           PLUGIN_USAGE ")", sub);
}

static const struct rn_ctl_cmd filter_cmds[] = {
    {"filter", rn__cmd_filter, FILTER_USAGE},
    {"plugin", rn__cmd_plugin, PLUGIN_USAGE},
};

int rn__ctl_add_filter_cmds(struct rn_ctl_server *srv, struct rn_stack *st,
                            struct rn__ctl_lanes *lanes)
{
    filter_lanes = lanes;
    return rn__ctl_server_add(srv, filter_cmds, sizeof(filter_cmds) / sizeof(filter_cmds[0]), st);
}
