/*
 * The stacks of a daemon with receive-side scaling, one per loop, for the
 * control commands that speak for all of them (commands.h, "Lanes").
 *
 * A command runs on the control socket's loop, lane 0's.  What it needs
 * of another lane's stack it asks for on that lane's loop thread, where
 * the stack's state may be read and changed, and waits: a call is a post
 * to the lane's loop and a condition to wait on.  Lanes never wait for
 * lane 0, so the wait ends; it costs lane 0 the other lane's reply time
 * (microseconds), which only control commands pay.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl/commands.h"
#include "ctl/ctl.h"
#include "ctl/render.h"
#include "refnet/runtime.h"
#include "refnet/strbuf.h"
#include "refnet/error.h"
#include "refnet/loop.h"

#define LANES_MAX 64

struct rn__ctl_lanes {
    unsigned cl_n;                        /* [I] lanes, >= 1 */
    struct rn_loop *cl_loops[LANES_MAX];  /* [I] [0] the control socket's */
    struct rn_stack *cl_stacks[LANES_MAX];
};

/* One call on one lane's loop: lives on the caller's stack. */
struct lane_call {
    struct rn_loop_work lc_work;
    rn__ctl_lane_fn lc_fn;
    void *lc_ctx;
    unsigned lc_lane;
    struct rn_stack *lc_stack;
    pthread_mutex_t lc_lock;
    pthread_cond_t lc_cond;
    bool lc_done;
};

struct rn__ctl_lanes *rn__ctl_lanes_new(struct rn_loop *loop, struct rn_stack *st)
{
    struct rn__ctl_lanes *cl = calloc(1, sizeof(*cl));

    if (cl != NULL) {
        cl->cl_n = 1;
        cl->cl_loops[0] = loop;
        cl->cl_stacks[0] = st;
    }
    return cl;
}

void rn__ctl_lanes_free(struct rn__ctl_lanes *cl)
{
    free(cl);
}

int rn__ctl_lanes_add(struct rn__ctl_lanes *cl, struct rn_loop *loop, struct rn_stack *st)
{
    if (cl->cl_n == LANES_MAX)
        return RN_ENOMEM;
    cl->cl_loops[cl->cl_n] = loop;
    cl->cl_stacks[cl->cl_n++] = st;
    return 0;
}

unsigned rn__ctl_lanes_count(const struct rn__ctl_lanes *cl)
{
    return cl != NULL ? cl->cl_n : 1;
}

struct rn_stack *rn__ctl_lanes_stack(const struct rn__ctl_lanes *cl, unsigned i)
{
    return cl->cl_stacks[i];
}

struct rn_loop *rn__ctl_lanes_loop(const struct rn__ctl_lanes *cl, unsigned i)
{
    return cl->cl_loops[i];
}

static void lane_call_run(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct lane_call *lc = (struct lane_call *)((char *)w - offsetof(struct lane_call, lc_work));

    (void)loop;
    lc->lc_fn(lc->lc_lane, lc->lc_stack, lc->lc_ctx);
    pthread_mutex_lock(&lc->lc_lock);
    lc->lc_done = true;
    pthread_cond_signal(&lc->lc_cond);
    pthread_mutex_unlock(&lc->lc_lock);
}

void rn__ctl_lanes_call(struct rn__ctl_lanes *cl, unsigned i, rn__ctl_lane_fn fn, void *ctx)
{
    struct lane_call lc;

    if (i == 0) {
        fn(0, cl->cl_stacks[0], ctx);  /* the caller's own loop */
        return;
    }
    memset(&lc, 0, sizeof(lc));
    lc.lc_fn = fn;
    lc.lc_ctx = ctx;
    lc.lc_lane = i;
    lc.lc_stack = cl->cl_stacks[i];
    pthread_mutex_init(&lc.lc_lock, NULL);
    pthread_cond_init(&lc.lc_cond, NULL);
    rn_loop_post(cl->cl_loops[i], &lc.lc_work, lane_call_run);
    pthread_mutex_lock(&lc.lc_lock);
    while (!lc.lc_done)
        pthread_cond_wait(&lc.lc_cond, &lc.lc_lock);
    pthread_mutex_unlock(&lc.lc_lock);
    pthread_cond_destroy(&lc.lc_cond);
    pthread_mutex_destroy(&lc.lc_lock);
}

void rn__ctl_lanes_each(struct rn__ctl_lanes *cl, rn__ctl_lane_fn fn, void *ctx)
{
    unsigned i;

    for (i = 0; i < rn__ctl_lanes_count(cl); i++)
        rn__ctl_lanes_call(cl, i, fn, ctx);
}

/* ---- Listings of every lane --------------------------------------------------- */

/* Each lane's listing, rendered on its loop. */
struct lane_render {
    rn__ctl_render_fn lr_render;
    bool lr_json;
    struct rn_strbuf lr_out[LANES_MAX];
};

static void lane_render(unsigned lane, struct rn_stack *st, void *ctx)
{
    struct lane_render *lr = ctx;

    lr->lr_render(st, &lr->lr_out[lane], lr->lr_json);
}

/* ---- Sums of JSON documents ------------------------------------------------ */

/* Numbers that name or describe rather than count, and counts of what
 * every lane holds alike (the routers and prefixes all learn, the
 * filters all carry): the first lane's. */
static bool json_kept(const char *key)
{
    static const char *const kept[] = {"id", "pid", "process", "for_ns", "index", "mtu", "mtu6",
                                       "max", "buf_size", "peak", "plen", "loop",
                                       "nd.routers", "nd.prefixes", "nd.slaac_addrs",
                                       "filter.filters", "filters", "callouts", "weight"};
    size_t i;

    for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        if (strcmp(key, kept[i]) == 0)
            return true;
    return false;
}

/* The element of array a whose "name" is name's, or NULL. */
static struct json_object *json_named(struct json_object *a, struct json_object *like)
{
    struct json_object *n, *e, *en;
    size_t i;

    if (!json_object_is_type(like, json_type_object) ||
        !json_object_object_get_ex(like, "name", &n) || !json_object_is_type(n, json_type_string))
        return NULL;
    for (i = 0; i < json_object_array_length(a); i++) {
        e = json_object_array_get_idx(a, i);
        if (json_object_is_type(e, json_type_object) && json_object_object_get_ex(e, "name", &en) &&
            json_object_is_type(en, json_type_string) &&
            strcmp(json_object_get_string(en), json_object_get_string(n)) == 0)
            return e;
    }
    return NULL;
}

/* One loop's part of a row: its number, and the row's numbers that are
 * the loop's own (its object's id and references, its counters). */
static struct json_object *lane_part(struct json_object *row, unsigned i)
{
    struct json_object *part = json_object_new_object();

    json_object_object_add(part, "loop", json_object_new_int((int)i));
    json_object_object_foreach(row, key, val) {
        /* A copy: the row's own is summed into later. */
        if (json_object_is_type(val, json_type_int) && (!json_kept(key) || strcmp(key, "id") == 0))
            json_object_object_add(part, key,
                                   json_object_new_uint64(json_object_get_uint64(val)));
    }
    return part;
}

/* Lane i's rows (o) into lane 0's (all), by "name": the row's counters
 * are added, and its "loops" array gets lane i's part. */
static void lanes_rows_add(struct json_object *all, struct json_object *o, unsigned i)
{
    size_t k;

    if (!json_object_is_type(all, json_type_array) || !json_object_is_type(o, json_type_array))
        return;
    for (k = 0; k < json_object_array_length(o); k++) {
        struct json_object *f = json_object_array_get_idx(o, k), *t = json_named(all, f), *parts;

        if (t == NULL) {  /* this lane's alone */
            if (json_object_is_type(f, json_type_object)) {
                parts = json_object_new_array();
                json_object_array_add(parts, lane_part(f, i));
                json_object_object_add(f, "loops", parts);
            }
            json_object_array_add(all, json_object_get(f));
            continue;
        }
        if (!json_object_object_get_ex(t, "loops", &parts)) {
            parts = json_object_new_array();
            json_object_array_add(parts, lane_part(t, 0));
            json_object_object_add(t, "loops", parts);
        }
        json_object_array_add(parts, lane_part(f, i));
        json_object_object_foreach(f, key, val) {
            struct json_object *have;

            if (json_object_is_type(val, json_type_int) && !json_kept(key) &&
                strcmp(key, "refs") != 0 && json_object_object_get_ex(t, key, &have) &&
                json_object_is_type(have, json_type_int))
                json_object_set_uint64(have, json_object_get_uint64(have) +
                                                 json_object_get_uint64(val));
        }
    }
}

/* The lanes' JSON: summed, or (rows) as lanes_rows_add() merges rows. */
static bool lanes_json(struct rn__ctl_lanes *cl, rn__ctl_render_fn render, bool rows,
                       struct rn_strbuf *out)
{
    unsigned i, n = rn__ctl_lanes_count(cl);
    struct lane_render *lr;
    struct json_object *sum = NULL;

    if (n <= 1) {
        render(rn__ctl_lanes_stack(cl, 0), out, true);
        return !out->sb_oom;
    }
    lr = calloc(1, sizeof(*lr));
    if (lr == NULL)
        return false;
    lr->lr_render = render;
    lr->lr_json = true;
    for (i = 0; i < n; i++)
        rn_strbuf_init(&lr->lr_out[i]);
    rn__ctl_lanes_each(cl, lane_render, lr);
    for (i = 0; i < n; i++) {
        struct json_object *o = json_tokener_parse(rn_strbuf_str(&lr->lr_out[i]));

        if (rows && sum != NULL && o != NULL) {
            lanes_rows_add(sum, o, i);
            json_object_put(o);
        } else if (sum == NULL) {
            sum = o;
        } else if (o != NULL) {
            rn__ctl_json_add(sum, o);
            json_object_put(o);
        }
        rn_strbuf_free(&lr->lr_out[i]);
    }
    free(lr);
    if (sum == NULL)
        return false;
    if (!rows && json_object_is_type(sum, json_type_object))
        json_object_object_add(sum, "loops", json_object_new_int((int)n));
    rn__render_json(out, sum);  /* takes it */
    return !out->sb_oom;
}

bool rn__ctl_lanes_render_json(struct rn__ctl_lanes *cl, rn__ctl_render_fn render,
                               struct rn_strbuf *out)
{
    return lanes_json(cl, render, false, out);
}

bool rn__ctl_lanes_rows_json(struct rn__ctl_lanes *cl, rn__ctl_render_fn render,
                             struct rn_strbuf *out)
{
    return lanes_json(cl, render, true, out);
}

/* The listing, its JSON summed or (rows) one row list. */
static int lanes_render(struct rn__ctl_lanes *cl, struct rn_ctl_req *req,
                        rn__ctl_render_fn render, bool rows)
{
    struct rn_strbuf *out = rn__ctl_req_out(req);
    unsigned i, n = rn__ctl_lanes_count(cl);
    struct lane_render *lr;

    if (rn__ctl_req_json(req)) {
        if (!lanes_json(cl, render, rows, out))
            return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory");
        rn_strbuf_puts(out, "\n");
        return RN_CTL_EXIT_OK;
    }
    lr = calloc(1, sizeof(*lr));
    if (lr == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory");
    lr->lr_render = render;
    for (i = 0; i < n; i++)
        rn_strbuf_init(&lr->lr_out[i]);
    rn__ctl_lanes_each(cl, lane_render, lr);
    for (i = 0; i < n; i++) {
        rn_strbuf_printf(out, "loop %u (stack %s):\n%s", i,
                         rn_stack_name(rn__ctl_lanes_stack(cl, i)),
                         rn_strbuf_str(&lr->lr_out[i]));
        rn_strbuf_free(&lr->lr_out[i]);
    }
    free(lr);
    return RN_CTL_EXIT_OK;
}

int rn__ctl_lanes_render(struct rn__ctl_lanes *cl, struct rn_ctl_req *req,
                         rn__ctl_render_fn render)
{
    return lanes_render(cl, req, render, false);
}

int rn__ctl_lanes_render_rows(struct rn__ctl_lanes *cl, struct rn_ctl_req *req,
                              rn__ctl_render_fn render)
{
    return lanes_render(cl, req, render, true);
}

void rn__ctl_json_add(struct json_object *into, struct json_object *from)
{
    if (json_object_is_type(into, json_type_object) && json_object_is_type(from, json_type_object)) {
        json_object_object_foreach(from, key, val) {
            struct json_object *have;

            if (!json_object_object_get_ex(into, key, &have))
                json_object_object_add(into, key, json_object_get(val));
            else if (!json_object_is_type(val, json_type_int) || !json_kept(key))
                rn__ctl_json_add(have, val);
        }
    } else if (json_object_is_type(into, json_type_array) &&
               json_object_is_type(from, json_type_array)) {
        size_t i, n = json_object_array_length(from);

        /* Elements with a "name" (services) meet their namesake; the
         * others (interfaces, in the same order on every lane) by place. */
        for (i = 0; i < n; i++) {
            struct json_object *f = json_object_array_get_idx(from, i), *t = json_named(into, f);

            if (t == NULL && !json_object_object_get_ex(f, "name", NULL) &&
                i < json_object_array_length(into))
                t = json_object_array_get_idx(into, i);
            if (t != NULL)
                rn__ctl_json_add(t, f);
            else
                json_object_array_add(into, json_object_get(f));
        }
    } else if (json_object_is_type(into, json_type_int) && json_object_is_type(from, json_type_int)) {
        json_object_set_uint64(into, json_object_get_uint64(into) + json_object_get_uint64(from));
    }
    /* Strings, booleans and the rest: the first lane's stand. */
}
