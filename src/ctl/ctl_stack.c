/*
 * The control commands that list a stack's network layer, answered on the
 * loop thread from the rows of stack.h and rendered by render.c:
 *
 *   ifconfig [--json]   interfaces, with their links' counters and values
 *                       (with receive-side scaling: each loop's in
 *                       text; in JSON summed, each loop's part under
 *                       "loops")
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
#include "refnet/loop.h"
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
/* The daemon's stacks, one per loop with receive-side scaling (NULL: the
 * one given). */
static struct rn__ctl_lanes *stack_lanes;

struct remove_req;

/* Another loop's part of a removal (receive-side scaling): begun and
 * completed on that loop, then posted home. */
struct lane_remove {
    struct remove_req *lr_rr;    /* [I] */
    unsigned lr_lane;            /* [I] */
    uint64_t lr_id;              /* [I] that loop's interface's object id */
    bool lr_done;                /* [L] home: that loop's removal completed */
    struct rn_loop_work lr_work; /* home */
};

/* One `ifconfig NAME remove`: lives until every loop's removal
 * completed. */
struct remove_req {
    struct rn_ctl_req *rr_req;   /* [L] NULL once answered or the client left */
    struct rn_stack *rr_stack;   /* [I] */
    struct rn_timer rr_timer;    /* [L] the wait before explaining */
    uint64_t rr_id;              /* [I] the interface's object id */
    char rr_name[16];            /* [I] */
    rn_time_t rr_began;          /* [I] on the stack's clock */
    bool rr_own_done;            /* [L] the first loop's removal completed */
    int rr_own_result;           /* [L] how */
    unsigned rr_out;             /* [L] other loops' removals not yet home */
    unsigned rr_nlanes;          /* [I] entries of rr_lanes */
    struct lane_remove rr_lanes[]; /* [I] one per other loop with the interface */
};

/* `ping ADDR [COUNT]`: requests PING_INTERVAL apart, then PING_WAIT for
 * the last replies. */
#define PING_INTERVAL RN_MSEC(200)
#define PING_WAIT RN_SEC(1)
#define PING_MAX 100
#define PING_DATA 56
/* The echo identifier of the daemon's pings. */
#define PING_ID 0x7266

/* One `ping`: lives until its last wait ends or its client leaves. */
struct ping_req {
    struct rn_ctl_req *pr_req;     /* [L] */
    struct rn_stack *pr_stack;     /* [I] */
    struct rn_timer pr_timer;      /* [L] the next request, or the end */
    bool pr_v6;                    /* [I] ICMPv6 to pr_dst6, else ICMP to pr_dst4 */
    uint32_t pr_dst4;              /* [I] */
    struct rn_ip6 pr_dst6;         /* [I] */
    char pr_name[RN_IP6_STRLEN];   /* [I] the destination as given */
    unsigned pr_count;             /* [I] requests to send */
    unsigned pr_sent;              /* [L] */
    unsigned pr_received;          /* [L] answered with the data sent */
    rn_time_t pr_sent_at[PING_MAX + 1]; /* [L] by sequence number */
    bool pr_answered[PING_MAX + 1];     /* [L] */
    uint8_t pr_data[PING_DATA];    /* [I] what each request carries */
};

static void ping_end(struct ping_req *pr)
{
    if (pr->pr_v6)
        rn_icmp6_set_echo_observer(pr->pr_stack, NULL, NULL);
    else
        rn_icmp_set_echo_observer(pr->pr_stack, NULL, NULL);
    rn_timer_cancel(rn_stack_timers(pr->pr_stack), &pr->pr_timer);
}

static void ping_reply(struct rn_stack *st, const struct rn_icmp_echo_rx *er, void *ctx)
{
    struct ping_req *pr = ctx;
    char a[32];

    if (er->er_id != PING_ID || er->er_seq == 0 || er->er_seq > pr->pr_sent ||
        pr->pr_answered[er->er_seq] || er->er_datalen != PING_DATA ||
        memcmp(er->er_data, pr->pr_data, PING_DATA) != 0 ||
        (pr->pr_v6 ? !er->er_v6 || !rn_ip6_eq(&er->er_src6, &pr->pr_dst6)
                   : er->er_v6 || er->er_src != pr->pr_dst4))
        return;
    pr->pr_answered[er->er_seq] = true;
    pr->pr_received++;
    rn_strbuf_printf(rn__ctl_req_out(pr->pr_req), "%u bytes from %s: seq=%u %s=%u time=%s\n",
                     (unsigned)er->er_datalen + 8, pr->pr_name, er->er_seq,
                     pr->pr_v6 ? "hlim" : "ttl", er->er_ttl,
                     rn_fmt_age(rn_stack_now(st) - pr->pr_sent_at[er->er_seq], a, sizeof(a)));
}

static void ping_tick(struct rn_timer *t, rn_time_t now)
{
    struct ping_req *pr = (struct ping_req *)((char *)t - offsetof(struct ping_req, pr_timer));
    struct rn_strbuf *out = rn__ctl_req_out(pr->pr_req);
    int e;

    if (pr->pr_sent == pr->pr_count) {
        ping_end(pr);
        rn_strbuf_printf(out, "%u packets transmitted, %u received\n", pr->pr_sent,
                         pr->pr_received);
        rn__ctl_req_complete(pr->pr_req, pr->pr_received == pr->pr_count ? RN_CTL_EXIT_OK
                                                                         : RN_CTL_EXIT_FAIL);
        free(pr);
        return;
    }
    pr->pr_sent++;
    pr->pr_sent_at[pr->pr_sent] = now;
    if (pr->pr_v6) {
        struct rn_icmp6_echo req = {pr->pr_dst6, PING_ID, (uint16_t)pr->pr_sent, pr->pr_data,
                                    PING_DATA};

        e = rn_icmp6_echo_send(pr->pr_stack, &req);
    } else {
        struct rn_icmp_echo req = {pr->pr_dst4, PING_ID, (uint16_t)pr->pr_sent, pr->pr_data,
                                   PING_DATA};

        e = rn_icmp_echo_send(pr->pr_stack, &req);
    }
    if (e < 0)
        rn_strbuf_printf(out, "seq=%u: %s\n", pr->pr_sent, rn_strerror(e));
    rn_timer_arm(rn_stack_timers(pr->pr_stack), &pr->pr_timer,
                 now + (pr->pr_sent == pr->pr_count ? PING_WAIT : PING_INTERVAL));
}

static void ping_cancelled(struct rn_ctl_req *req, void *ctx)
{
    struct ping_req *pr = ctx;

    ping_end(pr);
    rn__ctl_req_complete(req, RN_CTL_EXIT_FAIL);
    free(pr);
}

static int rn__cmd_ping(struct rn_ctl_req *req, void *ctx)
{
    struct rn_stack *st = ctx;
    const char *dst = rn__ctl_req_arg(req, 1), *count = rn__ctl_req_arg(req, 2);
    struct ping_req *pr;
    const char *err = NULL;
    struct rn_inaddr ia;
    unsigned n = 3;
    int e;

    if (rn__ctl_req_argc(req) < 2 || rn__ctl_req_argc(req) > 3)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: ping ADDR [COUNT]");
    if (rn__ctl_req_json(req))
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--json: ping has no JSON output");
    if (rn_inaddr_parse(dst, &ia, &err) < 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "'%s': %s", dst, err);
    if (count != NULL) {
        char *end;
        unsigned long v = strtoul(count, &end, 10);

        if (*count < '0' || *count > '9' || *end != '\0' || v < 1 || v > PING_MAX)
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "count '%s': a number 1..%d",
                                    count, PING_MAX);
        n = (unsigned)v;
    }
    pr = calloc(1, sizeof(*pr));
    if (pr == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory");
    pr->pr_req = req;
    pr->pr_stack = st;
    pr->pr_count = n;
    pr->pr_v6 = !rn_inaddr_is_v4(&ia);
    if (pr->pr_v6)
        pr->pr_dst6 = ia.ia_ip6;
    else
        pr->pr_dst4 = rn_inaddr_to_v4(&ia);
    rn_inaddr_fmt(&ia, pr->pr_name);
    for (size_t i = 0; i < PING_DATA; i++)
        pr->pr_data[i] = (uint8_t)(i * 7 + 1);
    e = pr->pr_v6 ? rn_icmp6_set_echo_observer(st, ping_reply, pr)
                  : rn_icmp_set_echo_observer(st, ping_reply, pr);
    if (e < 0) {
        free(pr);
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "another ping is running");
    }
    rn_timer_init(&pr->pr_timer, ping_tick);
    if (rn_timer_arm(rn_stack_timers(st), &pr->pr_timer, rn_stack_now(st)) < 0) {
        ping_end(pr);
        free(pr);
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory");
    }
    rn_strbuf_printf(rn__ctl_req_out(req), "PING %s: %d data bytes\n", pr->pr_name, PING_DATA);
    rn__ctl_req_on_cancel(req, ping_cancelled, pr);
    return RN_CTL_PENDING;
}

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

/* listing() of every loop's stack: one part per loop in text; in JSON
 * the counters summed, and (rows) each row's loops' parts under "loops"
 * (ctl_lanes.c). */
static int lanes_listing(struct rn_ctl_req *req, struct rn_stack *st,
                         void (*render)(struct rn_stack *, struct rn_strbuf *, bool), bool rows)
{
    int err;

    if (rn__ctl_lanes_count(stack_lanes) <= 1)
        return listing(req, st, render);
    err = no_args(req);
    if (err != 0)
        return err;
    return rows ? rn__ctl_lanes_render_rows(stack_lanes, req, render)
                : rn__ctl_lanes_render(stack_lanes, req, render);
}

/* Every loop's removal completed (or the daemon shuts down): the answer,
 * unless it was given or its client left; then rr goes. */
static void remove_finish(struct remove_req *rr)
{
    char a[32];

    if (!rr->rr_own_done || rr->rr_out > 0)
        return;
    if (rr->rr_req != NULL) {
        rn_timer_cancel(rn_stack_timers(rr->rr_stack), &rr->rr_timer);
        if (rr->rr_own_result == 0) {
            rn_strbuf_printf(rn__ctl_req_out(rr->rr_req), "interface %s removed (took %s)\n",
                             rr->rr_name, rn_fmt_age(rn_stack_now(rr->rr_stack) - rr->rr_began,
                                                     a, sizeof(a)));
            rn__ctl_req_complete(rr->rr_req, RN_CTL_EXIT_OK);
        } else {
            rn__ctl_req_complete(rr->rr_req,
                                 rn__ctl_req_fail(rr->rr_req, RN_CTL_EXIT_FAIL, "%s: the daemon "
                                                  "is shutting down", rr->rr_name));
        }
    }
    free(rr);
}

static void remove_done(struct rn_stack *st, uint64_t id, int result, void *ctx)
{
    struct remove_req *rr = ctx;

    (void)st;
    (void)id;
    rr->rr_own_done = true;
    rr->rr_own_result = result;
    remove_finish(rr);
}

/* One holder's chain under the answer: "Why:" and the chain of id. */
static void remove_chain(struct rn_snapshot *s, uint64_t id, struct rn_strbuf *out)
{
    if (s == NULL || rn_diag_render_for(s, id, out) < 0)
        rn_strbuf_puts(out, "(no diagnosis: out of memory)\n");
}

/* The removal did not complete in time: say what holds the interface,
 * on each loop whose removal is still pending. */
static void remove_explain(struct rn_timer *t, rn_time_t now)
{
    struct remove_req *rr = (struct remove_req *)((char *)t - offsetof(struct remove_req, rr_timer));
    struct rn_strbuf *out = rn__ctl_req_out(rr->rr_req);
    struct rn_snapshot *s;
    uint64_t first = rr->rr_id;
    unsigned k, first_lane = 0;
    char a[32];

    if (rr->rr_own_done) {
        for (k = 0; k < rr->rr_nlanes && rr->rr_lanes[k].lr_done; k++)
            ;
        first = rr->rr_lanes[k].lr_id;  /* rr_out > 0: one is pending */
        first_lane = rr->rr_lanes[k].lr_lane;
    }
    rn_strbuf_printf(out, "refnet ifconfig: %s is still being removed after %s: something holds "
                     "interface #%" PRIu64, rr->rr_name, rn_fmt_age(now - rr->rr_began, a,
                                                                  sizeof(a)), first);
    if (first_lane > 0)
        rn_strbuf_printf(out, " (loop %u's)", first_lane);
    rn_strbuf_puts(out, "; the removal completes once it lets go. Why:\n");
    s = rn_ob_snapshot();
    if (s != NULL)
        s->s_threshold = stack_threshold;
    remove_chain(s, first, out);
    for (k = 0; k < rr->rr_nlanes; k++) {
        const struct lane_remove *lr = &rr->rr_lanes[k];

        if (lr->lr_done || lr->lr_id == first)
            continue;
        rn_strbuf_printf(out, "and interface #%" PRIu64 " (loop %u's). Why:\n", lr->lr_id,
                         lr->lr_lane);
        remove_chain(s, lr->lr_id, out);
    }
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

/* Home, on the control socket's loop: another loop's removal completed. */
static void lane_remove_home(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct lane_remove *lr = (struct lane_remove *)((char *)w - offsetof(struct lane_remove,
                                                                        lr_work));

    (void)loop;
    lr->lr_done = true;
    lr->lr_rr->rr_out--;
    remove_finish(lr->lr_rr);
}

/* On another loop: its interface of the name is gone (or its stack). */
static void lane_iface_removed(struct rn_stack *st, uint64_t id, int result, void *ctx)
{
    struct lane_remove *lr = ctx;

    (void)st;
    (void)id;
    (void)result;
    rn_loop_post(rn__ctl_lanes_loop(stack_lanes, 0), &lr->lr_work, lane_remove_home);
}

/* On another loop: its interface of the name goes too.  lr_done stays
 * set when that loop has none (or cannot begin). */
static void lane_iface_remove(unsigned lane, struct rn_stack *st, void *ctx)
{
    struct lane_remove *lr = ctx;
    struct rn_iface *ifp = rn_stack_iface(st, lr->lr_rr->rr_name);

    if (lane > 0 && ifp != NULL &&
        rn_stack_remove_iface(st, ifp, lane_iface_removed, lr, &lr->lr_id) == 0)
        lr->lr_done = false;
}

static int iface_remove(struct rn_ctl_req *req, struct rn_stack *st)
{
    const char *name = rn__ctl_req_arg(req, 1);
    struct rn_iface *ifp = rn_stack_iface(st, name);
    unsigned k, lanes = rn__ctl_lanes_count(stack_lanes);
    struct remove_req *rr;
    int e;

    if (ifp == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "no interface '%s'", name);
    rr = calloc(1, sizeof(*rr) + (lanes - 1) * sizeof(rr->rr_lanes[0]));
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
    /* Each other loop's interface of the name goes too; the answer waits
     * for them all. */
    for (k = 1; k < lanes; k++) {
        struct lane_remove *lr = &rr->rr_lanes[rr->rr_nlanes];

        lr->lr_rr = rr;
        lr->lr_lane = k;
        lr->lr_done = true;
        rn__ctl_lanes_call(stack_lanes, k, lane_iface_remove, lr);
        if (!lr->lr_done) {
            rr->rr_nlanes++;
            rr->rr_out++;
        }
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
    return lanes_listing(req, ctx, rn__render_ifaces, true);
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
    return lanes_listing(req, ctx, rn__render_stats, false);
}

static const struct rn_ctl_cmd stack_cmds[] = {
    {"ifconfig", rn__cmd_ifconfig, "ifconfig"},
    {"arp", rn__cmd_arp, "arp"},
    {"neigh", rn__cmd_neigh, "neigh"},
    {"ping", rn__cmd_ping, "ping"},
    {"route", rn__cmd_route, "route"},
    {"stat", rn__cmd_stat, "stat"},
};

int rn__ctl_add_stack_cmds(struct rn_ctl_server *srv, struct rn_stack *st, rn_time_t threshold,
                           struct rn__ctl_lanes *lanes)
{
    stack_threshold = threshold;
    stack_lanes = lanes;
    return rn__ctl_server_add(srv, stack_cmds, sizeof(stack_cmds) / sizeof(stack_cmds[0]), st);
}
