/*
 * The control commands that list a stack's network layer, answered on the
 * loop thread from the rows of stack.h and rendered by render.c:
 *
 *   ifconfig [--json]   interfaces, with their links' counters and values
 *   arp [--json]        the neighbour (ARP) cache
 *   route [--json]      the routes, longest prefix first
 *   stat [--json]       counters, drops by reason, buffers by owner
 *
 * Each takes no argument but --json (which the server strips and hands
 * over as rn__ctl_req_json()): anything else is a usage error.
 */
#include "ctl/commands.h"
#include "ctl/render.h"

static int no_args(struct rn_ctl_req *req)
{
    if (rn__ctl_req_argc(req) != 1)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE,
                               "unexpected argument '%s' (it takes none but --json)",
                               rn__ctl_req_arg(req, 1));
    return 0;
}

static int listing(struct rn_ctl_req *req, struct rn_stack *st,
                   void (*render)(struct rn_stack *, struct rn_strbuf *, bool))
{
    int err = no_args(req);

    if (err != 0)
        return err;
    render(st, rn__ctl_req_out(req), rn__ctl_req_json(req));
    return RN_CTL_EXIT_OK;
}

static int rn__cmd_ifconfig(struct rn_ctl_req *req, void *ctx)
{
    return listing(req, ctx, rn__render_ifaces);
}

static int rn__cmd_arp(struct rn_ctl_req *req, void *ctx)
{
    return listing(req, ctx, rn__render_neighbours);
}

static int rn__cmd_route(struct rn_ctl_req *req, void *ctx)
{
    return listing(req, ctx, rn__render_routes);
}

static int rn__cmd_stat(struct rn_ctl_req *req, void *ctx)
{
    return listing(req, ctx, rn__render_stats);
}

static const struct rn_ctl_cmd stack_cmds[] = {
    {"ifconfig", rn__cmd_ifconfig, "ifconfig"},
    {"arp", rn__cmd_arp, "arp"},
    {"route", rn__cmd_route, "route"},
    {"stat", rn__cmd_stat, "stat"},
};

int rn__ctl_add_stack_cmds(struct rn_ctl_server *srv, struct rn_stack *st)
{
    return rn__ctl_server_add(srv, stack_cmds, sizeof(stack_cmds) / sizeof(stack_cmds[0]), st);
}
