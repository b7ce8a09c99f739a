/*
 * Control commands on the object manager, answered on the loop thread:
 *
 *   objects [--type NAME]   every unreleased object with its ledger
 *   refs ID                 one object: ledger and traced holds by stack
 *   trace on|off TYPE|ID    arm or disarm reference tracing, live
 *
 * Listings work on a snapshot (rn_ob_snapshot()), the same model a dump
 * holds, so `refnet objects` and `refnet analyze` of a dump describe an
 * object alike.  The snapshot and its rendering are produced in one go on
 * the loop thread: about a microsecond per object, so a few thousand
 * objects stay within the loop's budget; tens of thousands would need the
 * snapshot rendered in slices across wakes.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_priv.h"
#include "refnet/clock.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"

static rn_time_t age_at(const struct rn_snapshot *s, rn_time_t since)
{
    return since != 0 && since < s->s_now ? s->s_now - since : 0;
}

int rn__ctl_parse_id(const char *arg, uint64_t *id)
{
    unsigned long long v;
    char *end;

    if (arg[0] == '#')
        arg++;
    if (!isdigit((unsigned char)arg[0]))
        return RN_EINVAL;
    errno = 0;
    v = strtoull(arg, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0)
        return RN_EINVAL;
    *id = v;
    return 0;
}

/* ---- JSON --------------------------------------------------------------- */

void rn__ctl_json_object(const struct rn_snapshot *s, const struct rn_snap_object *o,
                         struct rn_strbuf *out)
{
    uint32_t i, f;

    rn_strbuf_printf(out, "{\"id\": %" PRIu64 ", \"type\": ", o->so_id);
    rn_strbuf_json_str(out, o->so_type ? o->so_type : "");
    rn_strbuf_puts(out, ", \"desc\": ");
    rn_strbuf_json_str(out, o->so_desc ? o->so_desc : "");
    rn_strbuf_printf(out, ", \"state\": \"%s\", \"refs\": %u, \"traced\": %s, "
                     "\"saturated\": %s, \"age_ns\": %" PRIu64,
                     o->so_state == RN_OB_DYING ? "dying" : "live", o->so_refs,
                     o->so_traced ? "true" : "false", o->so_saturated ? "true" : "false",
                     age_at(s, o->so_created));
    if (o->so_killed != 0)
        rn_strbuf_printf(out, ", \"dying_ns\": %" PRIu64, age_at(s, o->so_killed));
    rn_strbuf_puts(out, ", \"ledger\": [");
    for (i = 0; i < o->so_ntags; i++) {
        const struct rn_snap_tag *t = &o->so_tags[i];

        rn_strbuf_printf(out, "%s{\"tag\": ", i ? ", " : "");
        rn_strbuf_json_str(out, t->st_tag ? t->st_tag : "?");
        rn_strbuf_printf(out, ", \"count\": %u, \"held_ns\": %" PRIu64, t->st_count,
                         age_at(s, t->st_since));
        if (t->st_last_ref != NULL) {
            rn_strbuf_puts(out, ", \"last_ref\": ");
            rn_strbuf_json_str(out, t->st_last_ref);
        }
        rn_strbuf_puts(out, "}");
    }
    rn_strbuf_puts(out, "]");
    if (o->so_traced) {
        rn_strbuf_puts(out, ", \"holds\": [");
        for (i = 0; i < o->so_nholds; i++) {
            const struct rn_snap_hold *h = &o->so_holds[i];

            rn_strbuf_printf(out, "%s{\"tag\": ", i ? ", " : "");
            rn_strbuf_json_str(out, h->sh_tag ? h->sh_tag : "?");
            rn_strbuf_printf(out, ", \"count\": %u, \"oldest_ns\": %" PRIu64 ", \"stack\": [",
                             h->sh_count, age_at(s, h->sh_oldest));
            if (h->sh_stack != RN_SNAP_NO_STACK && h->sh_stack < s->s_nstacks) {
                const struct rn_snap_stack *st = &s->s_stacks[h->sh_stack];

                for (f = 0; f < st->ss_nframes; f++) {
                    if (f)
                        rn_strbuf_puts(out, ", ");
                    rn_strbuf_json_str(out, st->ss_frames[f] ? st->ss_frames[f] : "?");
                }
            }
            rn_strbuf_puts(out, "]}");
        }
        rn_strbuf_printf(out, "], \"untraced\": %u", o->so_untraced);
    }
    rn_strbuf_puts(out, "}");
}

/* ---- objects ------------------------------------------------------------ */

static int cmd_objects(struct rn_ctl_req *req, void *ctx)
{
    struct rn_strbuf *out = rn_ctl_req_out(req);
    const char *type = NULL;
    struct rn_snapshot *s;
    uint32_t i, shown = 0;
    int a;

    (void)ctx;
    for (a = 1; a < rn_ctl_req_argc(req); a++) {
        const char *arg = rn_ctl_req_arg(req, a);

        if (strcmp(arg, "--type") == 0) {
            if (a + 1 >= rn_ctl_req_argc(req))
                return rn_ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--type needs a type name");
            type = rn_ctl_req_arg(req, ++a);
        } else if (strncmp(arg, "--type=", 7) == 0) {
            type = arg + 7;
        } else {
            return rn_ctl_req_fail(req, RN_CTL_EXIT_USAGE,
                                   "unexpected argument '%s' (usage: objects [--type NAME])",
                                   arg);
        }
    }
    if (type != NULL && rn_ob_type_find(type) == NULL)
        return rn_ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--type: '%s': no object type of "
                               "that name", type);
    s = rn_ob_snapshot();
    if (s == NULL)
        return rn_ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory for the snapshot");
    if (rn_ctl_req_json(req))
        rn_strbuf_puts(out, "[");
    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *o = &s->s_objects[i];

        if (type != NULL && (o->so_type == NULL || strcmp(o->so_type, type) != 0))
            continue;
        if (rn_ctl_req_json(req)) {
            rn_strbuf_puts(out, shown ? ",\n " : "\n ");
            rn__ctl_json_object(s, o, out);
        } else {
            rn_diag_render_object(s, o, 0, out);
        }
        shown++;
    }
    if (rn_ctl_req_json(req))
        rn_strbuf_puts(out, shown ? "\n]\n" : "]\n");
    else
        rn_strbuf_printf(out, "%u object%s%s%s\n", shown, shown == 1 ? "" : "s",
                         type ? " of type " : "", type ? type : "");
    rn_snapshot_free(s);
    return RN_CTL_EXIT_OK;
}

/* ---- refs --------------------------------------------------------------- */

static int cmd_refs(struct rn_ctl_req *req, void *ctx)
{
    struct rn_strbuf *out = rn_ctl_req_out(req);
    const struct rn_snap_object *o;
    struct rn_snapshot *s;
    uint64_t id;

    (void)ctx;
    if (rn_ctl_req_argc(req) != 2)
        return rn_ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: refs ID");
    if (rn__ctl_parse_id(rn_ctl_req_arg(req, 1), &id) != 0)
        return rn_ctl_req_fail(req, RN_CTL_EXIT_USAGE, "'%s': not an object id (a number "
                               "such as 17 or #17)", rn_ctl_req_arg(req, 1));
    s = rn_ob_snapshot();
    if (s == NULL)
        return rn_ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory for the snapshot");
    o = rn_snapshot_find(s, id);
    if (o == NULL) {
        rn_snapshot_free(s);
        return rn_ctl_req_fail(req, RN_CTL_EXIT_FAIL, "no object #%" PRIu64
                               " (never existed or already released)", id);
    }
    if (rn_ctl_req_json(req)) {
        rn__ctl_json_object(s, o, out);
        rn_strbuf_puts(out, "\n");
    } else {
        rn_diag_render_object(s, o, 0, out);
    }
    rn_snapshot_free(s);
    return RN_CTL_EXIT_OK;
}

/* ---- trace -------------------------------------------------------------- */

static int cmd_trace(struct rn_ctl_req *req, void *ctx)
{
    struct rn_strbuf *out = rn_ctl_req_out(req);
    struct rn_strbuf name = RN_STRBUF_INIT;
    struct rn_ob_type *type;
    const char *what;
    uint64_t id;
    bool on;
    int a;

    (void)ctx;
    if (rn_ctl_req_argc(req) < 3)
        return rn_ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: trace on|off TYPE|ID");
    what = rn_ctl_req_arg(req, 1);
    if (strcmp(what, "on") == 0)
        on = true;
    else if (strcmp(what, "off") == 0)
        on = false;
    else
        return rn_ctl_req_fail(req, RN_CTL_EXIT_USAGE, "'%s': expected on or off", what);

    if (rn_ctl_req_argc(req) == 3 && rn__ctl_parse_id(rn_ctl_req_arg(req, 2), &id) == 0) {
        char desc[160];
        void *ob = rn_ob_lookup(id, RN_TAG_LOOKUP);

        if (ob == NULL)
            return rn_ctl_req_fail(req, RN_CTL_EXIT_FAIL, "no object #%" PRIu64
                                   " (never existed or already released)", id);
        rn_ob_set_traced(ob, on);
        rn_ob_describe(ob, desc, sizeof(desc));
        (void)rn_ob_deref(ob, RN_TAG_LOOKUP);
        if (rn_ctl_req_json(req)) {
            rn_strbuf_printf(out, "{\"traced\": %s, \"id\": %" PRIu64 ", \"desc\": ",
                             on ? "true" : "false", id);
            rn_strbuf_json_str(out, desc);
            rn_strbuf_puts(out, "}\n");
        } else {
            rn_strbuf_printf(out, "tracing %s for #%" PRIu64 " %s\n", on ? "on" : "off", id,
                             desc);
        }
        return RN_CTL_EXIT_OK;
    }
    /* A type name may have spaces: `trace on tcp listener` means the type
     * "tcp listener", as does `trace on "tcp listener"`. */
    for (a = 2; a < rn_ctl_req_argc(req); a++)
        rn_strbuf_printf(&name, "%s%s", a > 2 ? " " : "", rn_ctl_req_arg(req, a));
    type = rn_ob_type_find(rn_strbuf_str(&name));
    if (type == NULL) {
        int st = rn_ctl_req_fail(req, RN_CTL_EXIT_USAGE, "'%s': neither an object id nor "
                                 "an object type", rn_strbuf_str(&name));

        rn_strbuf_free(&name);
        return st;
    }
    rn_ob_type_set_traced(type, on);
    if (rn_ctl_req_json(req)) {
        rn_strbuf_printf(out, "{\"traced\": %s, \"type\": ", on ? "true" : "false");
        rn_strbuf_json_str(out, rn_ob_type_name(type));
        rn_strbuf_printf(out, ", \"live\": %" PRIu64 "}\n", rn_ob_live_count(type));
    } else {
        rn_strbuf_printf(out, "tracing %s for type '%s' (%" PRIu64 " objects now, and every "
                         "new one)\n", on ? "on" : "off", rn_ob_type_name(type),
                         rn_ob_live_count(type));
    }
    rn_strbuf_free(&name);
    return RN_CTL_EXIT_OK;
}

static const struct rn_ctl_cmd object_cmds[] = {
    {"objects", cmd_objects, "objects [--type NAME]"},
    {"refs", cmd_refs, "refs ID"},
    {"trace", cmd_trace, "trace on|off TYPE|ID"},
};

int rn__ctl_add_object_cmds(struct rn_ctl_server *srv)
{
    return rn_ctl_server_add(srv, object_cmds, sizeof(object_cmds) / sizeof(object_cmds[0]),
                             NULL);
}
