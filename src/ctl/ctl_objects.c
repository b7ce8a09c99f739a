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
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/commands.h"
#include "ctl/render.h"
#include "refnet/clock.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"


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

/* ---- objects ------------------------------------------------------------ */

static int rn__cmd_objects(struct rn_ctl_req *req, void *ctx)
{
    struct rn_strbuf *out = rn__ctl_req_out(req);
    const char *type = NULL;
    struct json_object *list;
    struct rn_snapshot *s;
    uint32_t i, shown = 0;
    int a;

    (void)ctx;
    for (a = 1; a < rn__ctl_req_argc(req); a++) {
        const char *arg = rn__ctl_req_arg(req, a);

        if (strcmp(arg, "--type") == 0) {
            if (a + 1 >= rn__ctl_req_argc(req))
                return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--type needs a type name");
            type = rn__ctl_req_arg(req, ++a);
        } else if (strncmp(arg, "--type=", 7) == 0) {
            type = arg + 7;
        } else {
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE,
                                   "unexpected argument '%s' (usage: objects [--type NAME])",
                                   arg);
        }
    }
    if (type != NULL && rn_ob_type_find(type) == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--type: '%s': no object type of "
                               "that name", type);
    s = rn_ob_snapshot();
    if (s == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory for the snapshot");
    list = rn__ctl_req_json(req) ? json_object_new_array() : NULL;
    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *o = &s->s_objects[i];

        if (type != NULL && (o->so_type == NULL || strcmp(o->so_type, type) != 0))
            continue;
        if (list != NULL)
            json_object_array_add(list, rn__render_object_json(s, o));
        else
            rn_diag_render_object(s, o, 0, out);
        shown++;
    }
    if (list != NULL) {
        rn__render_json(out, list);
        rn_strbuf_puts(out, "\n");
    } else
        rn_strbuf_printf(out, "%u object%s%s%s\n", shown, shown == 1 ? "" : "s",
                         type ? " of type " : "", type ? type : "");
    rn_snapshot_free(s);
    return RN_CTL_EXIT_OK;
}

/* ---- refs --------------------------------------------------------------- */

static int rn__cmd_refs(struct rn_ctl_req *req, void *ctx)
{
    struct rn_strbuf *out = rn__ctl_req_out(req);
    const struct rn_snap_object *o;
    struct rn_snapshot *s;
    uint64_t id;

    (void)ctx;
    if (rn__ctl_req_argc(req) != 2)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: refs ID");
    if (rn__ctl_parse_id(rn__ctl_req_arg(req, 1), &id) != 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "'%s': not an object id (a number "
                               "such as 17 or #17)", rn__ctl_req_arg(req, 1));
    s = rn_ob_snapshot();
    if (s == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory for the snapshot");
    o = rn_snapshot_find(s, id);
    if (o == NULL) {
        rn_snapshot_free(s);
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "no object #%" PRIu64
                               " (never existed or already released)", id);
    }
    if (rn__ctl_req_json(req)) {
        rn__render_json(out, rn__render_object_json(s, o));
        rn_strbuf_puts(out, "\n");
    } else {
        rn_diag_render_object(s, o, 0, out);
    }
    rn_snapshot_free(s);
    return RN_CTL_EXIT_OK;
}

/* ---- trace -------------------------------------------------------------- */

static int rn__cmd_trace(struct rn_ctl_req *req, void *ctx)
{
    struct rn_strbuf *out = rn__ctl_req_out(req);
    struct rn_strbuf name = RN_STRBUF_INIT;
    struct rn_ob_type *type;
    const char *what;
    uint64_t id;
    bool on;
    int a;

    (void)ctx;
    if (rn__ctl_req_argc(req) < 3)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: trace on|off TYPE|ID");
    what = rn__ctl_req_arg(req, 1);
    if (strcmp(what, "on") == 0)
        on = true;
    else if (strcmp(what, "off") == 0)
        on = false;
    else
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "'%s': expected on or off", what);

    if (rn__ctl_req_argc(req) == 3 && rn__ctl_parse_id(rn__ctl_req_arg(req, 2), &id) == 0) {
        char desc[160];
        void *ob = rn_ob_lookup(id, RN_TAG_LOOKUP);

        if (ob == NULL)
            return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "no object #%" PRIu64
                                   " (never existed or already released)", id);
        rn_ob_set_traced(ob, on);
        rn_ob_describe(ob, desc, sizeof(desc));
        (void)rn_ob_deref(ob, RN_TAG_LOOKUP);
        if (rn__ctl_req_json(req)) {
            struct json_object *o = json_object_new_object();

            json_object_object_add(o, "traced", json_object_new_boolean(on));
            json_object_object_add(o, "id", json_object_new_uint64(id));
            json_object_object_add(o, "desc", json_object_new_string(desc));
            rn__render_json(out, o);
            rn_strbuf_puts(out, "\n");
        } else {
            rn_strbuf_printf(out, "tracing %s for #%" PRIu64 " %s\n", on ? "on" : "off", id,
                             desc);
        }
        return RN_CTL_EXIT_OK;
    }
    /* A type name may have spaces: `trace on tcp listener` means the type
     * "tcp listener", as does `trace on "tcp listener"`. */
    for (a = 2; a < rn__ctl_req_argc(req); a++)
        rn_strbuf_printf(&name, "%s%s", a > 2 ? " " : "", rn__ctl_req_arg(req, a));
    type = rn_ob_type_find(rn_strbuf_str(&name));
    if (type == NULL) {
        int st = rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "'%s': neither an object id nor "
                                 "an object type", rn_strbuf_str(&name));

        rn_strbuf_free(&name);
        return st;
    }
    rn_ob_type_set_traced(type, on);
    if (rn__ctl_req_json(req)) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "traced", json_object_new_boolean(on));
        json_object_object_add(o, "type", json_object_new_string(rn_ob_type_name(type)));
        json_object_object_add(o, "live", json_object_new_uint64(rn_ob_live_count(type)));
        rn__render_json(out, o);
        rn_strbuf_puts(out, "\n");
    } else {
        rn_strbuf_printf(out, "tracing %s for type '%s' (%" PRIu64 " objects now, and every "
                         "new one)\n", on ? "on" : "off", rn_ob_type_name(type),
                         rn_ob_live_count(type));
    }
    rn_strbuf_free(&name);
    return RN_CTL_EXIT_OK;
}

static const struct rn_ctl_cmd object_cmds[] = {
    {"objects", rn__cmd_objects, "objects [--type NAME]"},
    {"refs", rn__cmd_refs, "refs ID"},
    {"trace", rn__cmd_trace, "trace on|off TYPE|ID"},
};

int rn__ctl_add_object_cmds(struct rn_ctl_server *srv)
{
    return rn__ctl_server_add(srv, object_cmds, sizeof(object_cmds) / sizeof(object_cmds[0]),
                             NULL);
}
