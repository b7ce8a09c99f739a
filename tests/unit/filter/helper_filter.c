/*
 * Two stacks with the filtering platform over a simulated cable
 * (helper_filter.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helper_filter.h"
#include "refnet/diag.h"
#include "refnet/drop.h"
#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/link.h"
#include "refnet/netbuf.h"
#include "refnet/object.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "testutil.h"

struct fpair F;

void fpair_up(void)
{
    struct rn_stack_params sp = {.sp_seed = 11};
    struct rn_sim_cable_params cp = {0};
    struct rn_iface_params ip = {0};
    struct rn_iface *ifp;
    struct rn_link *la, *lb;

    memset(&F, 0, sizeof(F));
    F.now = RN_SEC(1);
    clock_manual_install(F.now);
    sp.sp_name = "a";
    assert_int_equal(rn_stack_create(&sp, &F.a), 0);
    sp.sp_name = "b";
    assert_int_equal(rn_stack_create(&sp, &F.b), 0);
    assert_int_equal(rn_sock_layer_init(F.a), 0);
    assert_int_equal(rn_sock_layer_init(F.b), 0);
    assert_int_equal(rn_filter_init(F.a), 0);
    assert_int_equal(rn_filter_init(F.b), 0);
    assert_int_equal(rn_filter_init(F.b), RN_EEXIST);
    cp.sc_latency = RN_MSEC(1);
    cp.sc_pool_a = rn_stack_pool(F.a);
    cp.sc_pool_b = rn_stack_pool(F.b);
    assert_int_equal(rn_sim_cable_new(&cp, &la, &lb), 0);
    ip.ifp_name = "sim0";
    ip.ifp_link = la;
    ip.ifp_addr = ADDR_A;
    ip.ifp_plen = 15;
    assert_int_equal(rn_stack_add_iface(F.a, &ip, &ifp), 0);
    ip.ifp_link = lb;
    ip.ifp_addr = ADDR_B;
    assert_int_equal(rn_stack_add_iface(F.b, &ip, &ifp), 0);
    assert_int_equal(rn_proc_create(F.a, "client", &F.pa), 0);
    assert_int_equal(rn_proc_create(F.b, "server", &F.pb), 0);
}

void fpair_down(void)
{
    rn_proc_exit(F.pa);
    rn_proc_exit(F.pb);
    run_for(RN_MSEC(10));
    assert_int_equal(rn_stack_destroy(F.a), 0);
    assert_int_equal(rn_stack_destroy(F.b), 0);
    clock_manual_uninstall();
    check_live_objects(0);
}

static rn_time_t earlier(rn_time_t x, rn_time_t y)
{
    if (x == 0)
        return y;
    if (y == 0)
        return x;
    return x < y ? x : y;
}

static void step(rn_time_t until)
{
    rn_time_t next = earlier(earlier(rn_stack_next_deadline(F.a), rn_stack_next_deadline(F.b)),
                             until);

    if (next > until)
        next = until;
    if (next > F.now) {
        clock_manual_advance(next - F.now);
        F.now = next;
    }
    rn_stack_poll(F.a, F.now);
    rn_stack_poll(F.b, F.now);
}

void run_for(rn_time_t d)
{
    rn_time_t until = F.now + d;
    int guard;

    for (guard = 0; guard < 1000000; guard++) {
        step(until);
        if (F.now >= until)
            return;
    }
    fail_msg("simulation did not settle");
}

bool run_while_not(bool (*cond)(void *ctx), void *ctx, rn_time_t limit)
{
    rn_time_t end = F.now + limit;
    long guard;

    for (guard = 0; guard < 10000000; guard++) {
        if (cond(ctx))
            return true;
        if (F.now >= end)
            return false;
        step(end);
    }
    return false;
}

static void rec_fn(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct rec *r = c->sc_user;

    (void)p;
    assert_true(r->n < 64);
    r->c[r->n++] = *c;
}

void submit(struct rn_proc *p, int op, int h, void *buf, size_t len,
            const struct rn_sockaddr_in *to, struct rec *r)
{
    struct rn_sock_req rq = {
        .sq_op = op, .sq_handle = h, .sq_buf = buf, .sq_len = len, .sq_to = to, .sq_user = r,
    };

    assert_int_equal(rn_sock_submit(p, &rq, rec_fn), 0);
}

const struct rn_sock_completion *last_of(const struct rec *r, int op)
{
    unsigned i;

    for (i = r->n; i-- > 0;) {
        if ((int)r->c[i].sc_op == op)
            return &r->c[i];
    }
    return NULL;
}

int udp_bound(struct rn_proc *p, uint16_t port)
{
    struct rn_sockaddr_in l = {0, port};
    int h = rn_sock_open(p, RN_SOCK_DGRAM, 0);

    assert_true(h > 0);
    assert_int_equal(rn_sock_bind(p, h, &l), 0);
    return h;
}

int tcp_listening(struct rn_proc *p, uint16_t port, int *err)
{
    struct rn_sockaddr_in l = {0, port};
    int h = rn_sock_open(p, RN_SOCK_STREAM, 0);

    assert_true(h > 0);
    assert_int_equal(rn_sock_bind(p, h, &l), 0);
    *err = rn_sock_listen(p, h, 8);
    return h;
}

uint64_t filter_drops(struct rn_stack *st)
{
    return rn_stack_drops(st, RN_DROP_FILTER_BLOCKED);
}

void *find_object(const char *type, const char *needle)
{
    struct rn_ob_iter it;
    void *ob, *found = NULL;
    char desc[200];

    rn_ob_iter_init(&it, rn_ob_type_find(type), RN_TAG_ENUM);
    while ((ob = rn_ob_iter_next(&it)) != NULL) {
        rn_ob_describe(ob, desc, sizeof(desc));
        if (strstr(desc, needle) != NULL) {
            found = ob;
            rn_ob_ref(found, RN_TAG_LOOKUP);
            break;
        }
    }
    rn_ob_iter_end(&it);
    return found;
}

unsigned objects_held_by(const char *tag)
{
    struct rn_snapshot *s = rn_ob_snapshot();
    unsigned n = 0;
    uint32_t i, j;

    assert_non_null(s);
    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *o = &s->s_objects[i];

        for (j = 0; j < o->so_ntags; j++) {
            if (strcmp(o->so_tags[j].st_tag, tag) == 0)
                n++;
        }
    }
    rn_snapshot_free(s);
    return n;
}

bool has_wait(uint64_t waiter, const char *what)
{
    struct rn_snapshot *s = rn_ob_snapshot();
    bool found = false;
    uint32_t i;

    assert_non_null(s);
    for (i = 0; i < s->s_nwaits; i++) {
        if (s->s_waits[i].sw_waiter == waiter && strcmp(s->s_waits[i].sw_what, what) == 0)
            found = true;
    }
    rn_snapshot_free(s);
    return found;
}

char *render_chains(void)
{
    struct rn_snapshot *s = rn_ob_snapshot();
    struct rn_strbuf sb = RN_STRBUF_INIT;
    char *text;

    assert_non_null(s);
    assert_true(rn_diag_render_chains(s, 0, &sb) >= 0);
    rn_snapshot_free(s);
    text = rn_strbuf_detach(&sb);
    return text != NULL ? text : strdup("");
}

uint64_t add_filter(struct rn_stack *st, const char *spec)
{
    char err[256];
    uint64_t id = 0;
    int e = rn_filter_add(st, spec, &id, err, sizeof(err));

    if (e != 0)
        fail_msg("rn_filter_add(%s): %s", spec, err);
    assert_true(id > 0);
    return id;
}
