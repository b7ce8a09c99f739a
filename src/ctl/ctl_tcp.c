/*
 * The control commands that read and change TCP's settings on the
 * daemon's stack at run time (refnet/tcp.h), answered on the loop thread:
 *
 *   get [tcp | NAME] [--json]   every setting (or one) with its value,
 *                               refnet's default, Linux's, and what it does
 *   set NAME VALUE              changes one, for the connections opened
 *                               from then on
 *
 * Bad input (an unknown name, a value that does not read, one that
 * breaks a rule between settings) gets one line naming what was wrong
 * and the usage status; nothing changes.
 */
#include <string.h>

#include "ctl/commands.h"
#include "ctl/render.h"
#include "refnet/error.h"
#include "refnet/tcp.h"

static int rn__cmd_get(struct rn_ctl_req *req, void *ctx)
{
    struct rn_stack *st = ctx;
    struct rn_tcp_setting_row row;
    struct rn_tcp_params p;
    const char *name;

    if (rn__ctl_req_argc(req) > 2)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE,
                                "unexpected argument '%s' (usage: get [tcp | NAME] [--json])",
                                rn__ctl_req_arg(req, 2));
    if (rn_tcp_params_get(st, &p) != 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "TCP is not set up on this stack");
    name = rn__ctl_req_arg(req, 1);
    if (name != NULL && strcmp(name, "tcp") == 0)
        name = NULL;
    if (name != NULL && rn_tcp_params_row(&p, name, &row) != 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE,
                                "unknown setting '%s' (refnet get tcp lists them)", name);
    rn__render_tcp_settings(st, name, rn__ctl_req_out(req), rn__ctl_req_json(req));
    if (rn__ctl_req_out(req)->sb_oom)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory for the listing");
    return RN_CTL_EXIT_OK;
}

/* The daemon's stacks, one per loop with receive-side scaling (NULL: the
 * one given): a setting changes on each. */
static struct rn__ctl_lanes *tcp_lanes;

struct tcp_set {
    const char *ts_name, *ts_value;
    int ts_err;              /* the first other loop's refusal, 0 if none */
};

static void tcp_set_lane(unsigned lane, struct rn_stack *st, void *ctx)
{
    struct tcp_set *ts = ctx;
    int err;

    if (lane == 0)
        return;
    err = rn_tcp_setting_set(st, ts->ts_name, ts->ts_value);
    if (err < 0 && ts->ts_err == 0)
        ts->ts_err = err;
}

static int rn__cmd_set(struct rn_ctl_req *req, void *ctx)
{
    struct rn_stack *st = ctx;
    struct rn_tcp_setting_row before, after;
    struct rn_tcp_params p;
    const char *name = rn__ctl_req_arg(req, 1), *value = rn__ctl_req_arg(req, 2);
    const char *why = NULL;
    int err;

    if (rn__ctl_req_json(req))
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--json: set answers in text only");
    if (rn__ctl_req_argc(req) < 3)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "missing argument (usage: set NAME VALUE)");
    if (rn__ctl_req_argc(req) > 3)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE,
                                "unexpected argument '%s' (usage: set NAME VALUE)",
                                rn__ctl_req_arg(req, 3));
    if (rn_tcp_params_get(st, &p) != 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "TCP is not set up on this stack");
    if (rn_tcp_setting_get(st, name, &before) != 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE,
                                "unknown setting '%s' (refnet get tcp lists them)", name);
    err = rn_tcp_setting_set(st, name, value);
    if (err == RN_EINVAL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "%s: '%s' is not a valid value (%s)",
                                name, value, before.sr_accepts);
    if (err == RN_ERANGE) {
        /* Say which rule: the same change, checked on a copy. */
        (void)rn_tcp_params_set(&p, name, value);
        (void)rn_tcp_params_check(&p, &why);
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "%s: '%s' refused: %s", name, value,
                                why != NULL ? why : "it breaks a rule between settings");
    }
    if (err < 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "%s: %s", name, rn_strerror(err));
    if (rn__ctl_lanes_count(tcp_lanes) > 1) {
        struct tcp_set ts = {name, value, 0};

        /* The first loop took it: the others, with the same settings
         * before, take it too. */
        rn__ctl_lanes_each(tcp_lanes, tcp_set_lane, &ts);
        if (ts.ts_err != 0)
            return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "%s: another loop's stack refused "
                                    "it: %s", name, rn_strerror(ts.ts_err));
    }
    (void)rn_tcp_setting_get(st, name, &after);
    rn_strbuf_printf(rn__ctl_req_out(req),
                     "%s %s (was %s); connections opened from now on use it\n", name,
                     after.sr_value, before.sr_value);
    return RN_CTL_EXIT_OK;
}

static const struct rn_ctl_cmd tcp_cmds[] = {
    {"get", rn__cmd_get, "get [tcp | NAME] [--json]"},
    {"set", rn__cmd_set, "set NAME VALUE"},
};

int rn__ctl_add_tcp_cmds(struct rn_ctl_server *srv, struct rn_stack *st,
                         struct rn__ctl_lanes *lanes)
{
    tcp_lanes = lanes;
    return rn__ctl_server_add(srv, tcp_cmds, sizeof(tcp_cmds) / sizeof(tcp_cmds[0]), st);
}
