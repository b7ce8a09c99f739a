/*
 * The control commands that list a stack's network layer, answered on the
 * loop thread from the rows of stack.h and rendered by render.c:
 *
 *   ifconfig [--json]   interfaces, with their links' counters and values
 *   ifconfig NAME remove
 *                       removes the interface (rn_stack_remove_iface());
 *                       answers once the removal completed, or after 5 s
 *                       with status 3 and the chain of what holds it (the
 *                       removal goes on)
 *   arp [--json]        the neighbour (ARP) cache
 *   route [--json]      the routes, longest prefix first
 *   stat [--json]       counters, drops by reason, buffers by owner
 *
 * Each takes no argument but --json (which the server strips and hands
 * over as rn__ctl_req_json()): anything else is a usage error.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/commands.h"
#include "ctl/render.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/runtime.h"
#include "refnet/snapshot.h"
#include "refnet/stack.h"
#include "refnet/timer.h"

/* How long `ifconfig NAME remove` waits before it explains. */
#define IFACE_REMOVE_WAIT RN_SEC(5)
/* Its status when the removal did not complete in that time. */
#define IFACE_EXIT_PENDING 3

/* The watchdog's threshold, for the verdicts of a removal's chain. */
static rn_time_t stack_threshold;

/* One `ifconfig NAME remove`: lives until the removal completes. */
struct remove_req {
    struct rn_ctl_req *rr_req;   /* [L] NULL once answered or the client left */
    struct rn_stack *rr_stack;   /* [I] */
    struct rn_timer rr_timer;    /* [L] the wait before explaining */
    uint64_t rr_id;              /* [I] the interface's object id */
    char rr_name[16];            /* [I] */
    rn_time_t rr_began;          /* [I] on the stack's clock */
};

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

static void remove_done(struct rn_stack *st, uint64_t id, int result, void *ctx)
{
    struct remove_req *rr = ctx;
    char a[32];

    (void)id;
    if (rr->rr_req != NULL) {
        rn_timer_cancel(rn_stack_timers(st), &rr->rr_timer);
        if (result == 0) {
            rn_strbuf_printf(rn__ctl_req_out(rr->rr_req), "interface %s removed (took %s)\n",
                             rr->rr_name, rn_fmt_age(rn_stack_now(st) - rr->rr_began, a,
                                                     sizeof(a)));
            rn__ctl_req_complete(rr->rr_req, RN_CTL_EXIT_OK);
        } else {
            rn__ctl_req_complete(rr->rr_req,
                                 rn__ctl_req_fail(rr->rr_req, RN_CTL_EXIT_FAIL, "%s: the daemon "
                                                  "is shutting down", rr->rr_name));
        }
    }
    free(rr);
}

/* The removal did not complete in time: say what holds the interface. */
static void remove_explain(struct rn_timer *t, rn_time_t now)
{
    struct remove_req *rr = (struct remove_req *)((char *)t - offsetof(struct remove_req, rr_timer));
    struct rn_strbuf *out = rn__ctl_req_out(rr->rr_req);
    struct rn_snapshot *s;
    char a[32];

    rn_strbuf_printf(out, "refnet ifconfig: %s is still being removed after %s: something holds "
                     "interface #%" PRIu64 "; the removal completes once it lets go. Why:\n",
                     rr->rr_name, rn_fmt_age(now - rr->rr_began, a, sizeof(a)), rr->rr_id);
    s = rn_ob_snapshot();
    if (s != NULL)
        s->s_threshold = stack_threshold;
    if (s == NULL || rn_diag_render_for(s, rr->rr_id, out) < 0)
        rn_strbuf_puts(out, "(no diagnosis: out of memory)\n");
    rn_snapshot_free(s);
    rn__ctl_req_complete(rr->rr_req, IFACE_EXIT_PENDING);
    rr->rr_req = NULL;
}

static void remove_cancelled(struct rn_ctl_req *req, void *ctx)
{
    struct remove_req *rr = ctx;

    /* The client left: stop waiting (the removal itself goes on). */
    rn_timer_cancel(rn_stack_timers(rr->rr_stack), &rr->rr_timer);
    rr->rr_req = NULL;
    rn__ctl_req_complete(req, RN_CTL_EXIT_FAIL);
}

static int iface_remove(struct rn_ctl_req *req, struct rn_stack *st)
{
    const char *name = rn__ctl_req_arg(req, 1);
    struct rn_iface *ifp = rn_stack_iface(st, name);
    struct remove_req *rr;
    int e;

    if (ifp == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "no interface '%s'", name);
    rr = calloc(1, sizeof(*rr));
    if (rr == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory");
    rr->rr_req = req;
    rr->rr_stack = st;
    rr->rr_began = rn_stack_now(st);
    snprintf(rr->rr_name, sizeof(rr->rr_name), "%s", name);
    rn_timer_init(&rr->rr_timer, remove_explain);
    if (rn_timer_arm(rn_stack_timers(st), &rr->rr_timer, rr->rr_began + IFACE_REMOVE_WAIT) < 0) {
        free(rr);
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory");
    }
    e = rn_stack_remove_iface(st, ifp, remove_done, rr, &rr->rr_id);
    if (e < 0) {
        rn_timer_cancel(rn_stack_timers(st), &rr->rr_timer);
        free(rr);
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "%s: %s", name, rn_strerror(e));
    }
    rn__ctl_req_on_cancel(req, remove_cancelled, rr);
    return RN_CTL_PENDING;
}

static int rn__cmd_ifconfig(struct rn_ctl_req *req, void *ctx)
{
    if (rn__ctl_req_argc(req) >= 2) {
        if (rn__ctl_req_argc(req) != 3 || strcmp(rn__ctl_req_arg(req, 2), "remove") != 0)
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: ifconfig [--json] | "
                                   "ifconfig NAME remove");
        if (rn__ctl_req_json(req))
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--json: ifconfig NAME remove has "
                                   "no JSON output");
        return iface_remove(req, ctx);
    }
    return listing(req, ctx, rn__render_ifaces);
}

static int rn__cmd_arp(struct rn_ctl_req *req, void *ctx)
{
    return listing(req, ctx, rn__render_arp);
}

static int rn__cmd_neigh(struct rn_ctl_req *req, void *ctx)
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
    {"neigh", rn__cmd_neigh, "neigh"},
    {"route", rn__cmd_route, "route"},
    {"stat", rn__cmd_stat, "stat"},
};

int rn__ctl_add_stack_cmds(struct rn_ctl_server *srv, struct rn_stack *st, rn_time_t threshold)
{
    stack_threshold = threshold;
    return rn__ctl_server_add(srv, stack_cmds, sizeof(stack_cmds) / sizeof(stack_cmds[0]), st);
}
