/*
 * Holder contracts and orphans, on the live stack, as a buggy component
 * would meet them through the public API: a reference taken under one of
 * refnet's own tags on an object whose type does not list that holder
 * (reported when taken, a suspect in every verdict, with the reason); a
 * hold beyond what its conditions allow (a second "port-table" hold on a
 * bound endpoint); a third party's tag, judged only once the object is
 * dying; a deleted route that a leaked hold keeps dying, reported as an
 * orphan by `why`, the watchdog and a dump alike; and the other side: no
 * holder of a busy pair of stacks -- connections moving data, armed
 * timers, pending accepts and receives, closes under way -- is a suspect.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/report.h"
#include "refnet/snapshot.h"
#include "refnet/socket.h"
#include "refnet/stack.h"
#include "refnet/strbuf.h"
#include "support.h"

static void pair_with_procs(void)
{
    struct pair_params pp = {.pp_procs = true};

    pair_up_with(&pp);
}

/* A snapshot with the watchdog's default threshold, as `refnet why`
 * takes it. */
static struct rn_snapshot *snap(void)
{
    struct rn_snapshot *s = rn_ob_snapshot();

    assert_non_null(s);
    s->s_threshold = RN_DIAG_DEFAULT_THRESHOLD;
    return s;
}

/* The suspect of object id under tag in a fresh snapshot, copied into
 * *out; false if the verdict finds none under that tag. */
static bool suspect_of(uint64_t id, const char *tag, struct rn_diag_suspect *out)
{
    struct rn_snapshot *s = snap();
    struct rn_diag_suspect d[16];
    int n = rn_diag_suspects(s, id, d, 16), i;
    bool found = false;

    assert_true(n >= 0);
    for (i = 0; i < n && i < 16; i++)
        if (strcmp(d[i].ds_tag, tag) == 0) {
            *out = d[i];
            found = true;
        }
    rn_snapshot_free(s);
    return found;
}

/* Every suspect of every object in a fresh snapshot, one line each, into a
 * malloc'd string ("" when there is none). */
static char *all_suspects(void)
{
    struct rn_snapshot *s = snap();
    struct rn_strbuf sb = RN_STRBUF_INIT;
    uint32_t i;
    char *text;

    for (i = 0; i < s->s_nobjects; i++) {
        struct rn_diag_suspect d[16];
        int n = rn_diag_suspects(s, s->s_objects[i].so_id, d, 16), k;

        for (k = 0; k < n && k < 16; k++)
            rn_strbuf_printf(&sb, "%s #%llu: '%s' %s\n", s->s_objects[i].so_desc,
                             (unsigned long long)s->s_objects[i].so_id, d[k].ds_tag,
                             d[k].ds_reason);
    }
    rn_snapshot_free(s);
    text = strdup(rn_strbuf_str(&sb));
    rn_strbuf_free(&sb);
    assert_non_null(text);
    return text;
}

static void assert_no_suspect(const char *when)
{
    char *text = all_suspects();

    if (text[0] != '\0')
        fail_msg("%s: suspects where every hold is legitimate:\n%s", when, text);
    free(text);
}

/* ---- Built-in tags outside their contract ------------------------------------- */

static void test_builtin_tag_outside_contract(void **state)
{
    static const rn_tag_t tags[] = {
        RN_TAG_HANDLE, RN_TAG_REQUEST, RN_TAG_TCP_TIMER, RN_TAG_SERVICE, RN_TAG_PROCESS,
        RN_TAG_IFACE, RN_TAG_ROUTE, RN_TAG_STACK,
    };
    uint64_t before = rn_ob_misuse_count(RN_MISUSE_CONTRACT);
    void *l;
    uint64_t id;
    size_t i;
    int hl, err;

    (void)state;
    pair_with_procs();
    hl = tcp_listening(P.pb, 80, &err);
    assert_int_equal(err, 0);
    l = find_object("tcp listener", ":80");
    assert_non_null(l);
    id = rn_ob_id(l);

    for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        struct rn_diag_suspect d;
        char want[96];

        capture_begin();
        assert_int_equal(rn_ob_ref(l, tags[i]), 0);  /* taken all the same */
        capture_end();
        /* Reported at once, naming the holder, the type and this site. */
        snprintf(want, sizeof(want), "'%s' is not a holder of a tcp listener",
                 rn_tag_name(tags[i]));
        assert_true(capture_has("misuse (contract)"));
        assert_true(capture_has(want));
        assert_true(capture_has("test_builtin_tag_outside_contract"));
        assert_int_equal(rn_ob_misuse_count(RN_MISUSE_CONTRACT), before + i + 1);
        /* A suspect while the listener lives, with the reason. */
        assert_true(suspect_of(id, rn_tag_name(tags[i]), &d));
        assert_non_null(strstr(d.ds_reason, "is not a holder of a tcp listener"));
    }
    /* A second hold by the same holder takes the fast path: no report. */
    capture_begin();
    rn_ob_ref(l, RN_TAG_HANDLE);
    rn_ob_deref(l, RN_TAG_HANDLE);
    capture_end();
    assert_int_equal(capture_count(RN_REPORT_MISUSE), 0);

    /* The chain of the close names them too. */
    {
        struct rec r = {0};
        char *chains;

        submit(P.pb, RN_SOP_CLOSE, hl, NULL, 0, NULL, &r);
        run_for(RN_MSEC(20));
        chains = render_live_chains();
        assert_non_null(strstr(chains, "verdict: 'handle' is not a holder of a tcp listener"));
        assert_non_null(strstr(chains, "'tcp.timer' is not a holder"));
        free(chains);
    }
    for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
        assert_int_equal(rn_ob_deref(l, tags[i]), 0);
    rn_ob_deref(l, RN_TAG_LOOKUP);
    run_for(RN_MSEC(20));
    pair_down();
}

/* ---- Holds beyond their conditions ------------------------------------------------- */

static void test_hold_beyond_its_condition(void **state)
{
    struct rn_diag_suspect d;
    uint64_t before = rn_ob_misuse_count(RN_MISUSE_CONTRACT);
    void *ep;
    uint64_t id;
    int h;

    (void)state;
    pair_with_procs();
    h = udp_bound(P.pb, 7000);
    ep = find_object("udp endpoint", ":7000");
    assert_non_null(ep);
    id = rn_ob_id(ep);
    assert_false(suspect_of(id, "port-table", &d));

    /* One of its holders, so no report; but bound once, held twice. */
    rn_ob_ref(ep, RN_TAG_PORT_TABLE);
    assert_int_equal(rn_ob_misuse_count(RN_MISUSE_CONTRACT), before);
    assert_true(suspect_of(id, "port-table", &d));
    assert_non_null(strstr(d.ds_reason, "2 holds where 1 is expected (one per: bound)"));

    /* Closed: unbound, and the forgotten hold is outside its condition. */
    {
        struct rec r = {0};

        submit(P.pb, RN_SOP_CLOSE, h, NULL, 0, NULL, &r);
        run_for(RN_MSEC(20));
    }
    assert_int_equal(rn_ob_state(ep), RN_OB_DYING);
    assert_true(suspect_of(id, "port-table", &d));
    rn_ob_deref(ep, RN_TAG_PORT_TABLE);
    rn_ob_deref(ep, RN_TAG_LOOKUP);
    run_for(RN_MSEC(20));
    pair_down();
}

/* A component that takes a second "handle" on a socket and forgets it:
 * one handle slot, two holds; after the close, a dying socket whose slot
 * let go, kept by the forgotten hold, and its process's cleanup waiting
 * for it: the chain names the hold. */
static void test_socket_handle_leak(void **state)
{
    struct rn_diag_suspect d;
    struct rec r = {0};
    struct rn_snapshot *s;
    uint64_t id, ids[4];
    void *so;
    int h;

    (void)state;
    pair_with_procs();
    h = udp_bound(P.pb, 7002);
    so = find_object("socket", "udp 0.0.0.0:7002");
    assert_non_null(so);
    id = rn_ob_id(so);
    rn_ob_ref(so, RN_TAG_HANDLE);
    assert_true(suspect_of(id, "handle", &d));
    assert_non_null(strstr(d.ds_reason, "2 holds where 1 is expected (one per: in a handle "
                                        "slot)"));
    submit(P.pb, RN_SOP_CLOSE, h, NULL, 0, NULL, &r);
    run_for(RN_SEC(11));
    assert_int_equal(rn_ob_state(so), RN_OB_DYING);
    assert_true(suspect_of(id, "handle", &d));
    assert_non_null(strstr(d.ds_reason, "only while in a handle slot, and this one is not"));
    s = snap();
    assert_int_equal(rn_diag_orphans(s, ids, 4), 0);  /* its process waits for it */
    {
        struct rn_strbuf sb = RN_STRBUF_INIT;

        assert_int_equal(rn_diag_render_for(s, id, &sb), 1);
        if (strstr(rn_strbuf_str(&sb), "cleanup pending 11.0s") == NULL ||
            strstr(rn_strbuf_str(&sb), "verdict: 'handle' holds a socket only while in a "
                                       "handle slot") == NULL)
            fail_msg("the chain does not name the forgotten handle:\n%s", rn_strbuf_str(&sb));
        rn_strbuf_free(&sb);
    }
    rn_snapshot_free(s);
    rn_ob_deref(so, RN_TAG_HANDLE);
    rn_ob_deref(so, RN_TAG_LOOKUP);
    pair_down();
}

/* Every one of refnet's own holders, built in or named by some type's
 * contract, on a route, which only its table holds: each is reported when
 * taken and is a suspect with its reason; the route deleted, it is an
 * orphan whose verdict names each, the same in why, the watchdog's report
 * and a dump. */
static void test_every_builtin_tag_on_a_route(void **state)
{
    static const char *const names[] = {
        "handle", "socket.endpoint", "port-table", "tcp.timer", "request", "iface", "route",
        "stack", "process", "service", "tcp.conn", "listener", "neighbour", "arp-table",
        "drain",
    };
    struct rn_strbuf out = RN_STRBUF_INIT, why = RN_STRBUF_INIT, dumped = RN_STRBUF_INIT;
    struct rn_snapshot *s, *back = NULL;
    struct rn_watchdog *wd;
    struct rn_diag_suspect d;
    uint64_t id, ids[4];
    void *rt, *buf = NULL;
    size_t i, len = 0;
    char want[96], err[256];

    (void)state;
    pair_with_procs();
    assert_int_equal(rn_route_add(P.a, 0xc6140000u, 16, ADDR_B, NULL), 0);  /* 198.20/16 */
    rt = find_object("route", "198.20.0.0/16");
    assert_non_null(rt);
    id = rn_ob_id(rt);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        rn_tag_t t = rn_tag_intern(names[i]);

        capture_begin();
        assert_int_equal(rn_ob_ref(rt, t), 0);
        capture_end();
        snprintf(want, sizeof(want), "'%s' is not a holder of a route", names[i]);
        if (!capture_has(want))
            fail_msg("no report naming %s", want);
        assert_true(suspect_of(id, names[i], &d));
        assert_non_null(strstr(d.ds_reason, "is not a holder of a route"));
    }
    assert_int_equal(rn_route_del(P.a, 0xc6140000u, 16), 0);
    wd = rn_watchdog_new(RN_DIAG_DEFAULT_THRESHOLD);
    assert_non_null(wd);
    capture_begin();
    run_for(RN_DIAG_DEFAULT_THRESHOLD + RN_SEC(1));
    assert_int_equal(rn_watchdog_check(wd, &out), 1);
    capture_end();
    s = snap();
    assert_int_equal(rn_diag_orphans(s, ids, 4), 1);
    assert_int_equal(ids[0], id);
    assert_int_equal(rn_diag_render_for(s, id, &why), 0);
    assert_int_equal(rn_dump_encode(s, &buf, &len), 0);
    assert_int_equal(rn_dump_decode(buf, len, &back, err, sizeof(err)), 0);
    assert_int_equal(rn_diag_render_for(back, id, &dumped), 0);
    assert_string_equal(rn_strbuf_str(&why), rn_strbuf_str(&dumped));
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(want, sizeof(want), "'%s' is not a holder of a route", names[i]);
        if (strstr(rn_strbuf_str(&why), want) == NULL || strstr(rn_strbuf_str(&out), want) == NULL)
            fail_msg("the orphan's verdict does not name %s:\nwhy:\n%s\nwatchdog:\n%s", want,
                     rn_strbuf_str(&why), rn_strbuf_str(&out));
    }
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_int_equal(rn_ob_deref(rt, rn_tag_intern(names[i])), 0);
    rn_ob_deref(rt, RN_TAG_LOOKUP);
    free(buf);
    rn_snapshot_free(back);
    rn_snapshot_free(s);
    rn_watchdog_free(wd);
    rn_strbuf_free(&out);
    rn_strbuf_free(&why);
    rn_strbuf_free(&dumped);
    pair_down();
}

/* ---- A third party's tag, and the orphan it makes ---------------------------------- */

static void test_third_party_route_orphan(void **state)
{
    rn_tag_t cache = rn_tag_intern("acme-route-cache");
    struct rn_diag_suspect d;
    struct rn_strbuf out = RN_STRBUF_INIT;
    struct rn_watchdog *wd;
    struct rn_snapshot *s, *back = NULL;
    uint64_t id, ids[4];
    void *rt;
    void *buf = NULL;
    size_t len = 0;
    char err[256];

    (void)state;
    pair_with_procs();
    assert_int_equal(rn_route_add(P.a, 0xc6130000u, 16, ADDR_B, NULL), 0);  /* 198.19/16 */
    rt = find_object("route", "198.19.0.0/16");
    assert_non_null(rt);
    id = rn_ob_id(rt);

    /* A third party's holder: never reported, no rule while the route
     * lives. */
    capture_begin();
    rn_ob_ref(rt, cache);
    capture_end();
    assert_int_equal(capture_count(RN_REPORT_MISUSE), 0);
    assert_false(suspect_of(id, "acme-route-cache", &d));
    rn_ob_deref(rt, RN_TAG_LOOKUP);

    /* Deleted: dying, and nothing waits for it. */
    assert_int_equal(rn_route_del(P.a, 0xc6130000u, 16), 0);
    assert_int_equal(rn_ob_state(rt), RN_OB_DYING);
    wd = rn_watchdog_new(RN_DIAG_DEFAULT_THRESHOLD);
    assert_non_null(wd);
    capture_begin();
    run_for(RN_SEC(5));
    assert_int_equal(rn_watchdog_check(wd, NULL), 0);  /* within its bound */
    s = snap();
    assert_int_equal(rn_diag_orphans(s, ids, 4), 0);
    rn_snapshot_free(s);

    /* Past the bound (threshold + 1 s at most): an orphan, named the same
     * by the watchdog (once), `why` and a dump. */
    run_for(RN_SEC(6));
    assert_int_equal(rn_watchdog_check(wd, &out), 1);
    assert_int_equal(rn_watchdog_check(wd, NULL), 0);
    capture_end();
    assert_non_null(strstr(rn_strbuf_str(&out), "orphan: route 198.19.0.0/16"));
    assert_non_null(strstr(rn_strbuf_str(&out),
                           "verdict: 'acme-route-cache' a third party's hold on a dying route"));
    assert_true(suspect_of(id, "acme-route-cache", &d));

    s = snap();
    assert_int_equal(rn_diag_orphans(s, ids, 4), 1);
    assert_int_equal(ids[0], id);
    {
        struct rn_strbuf why = RN_STRBUF_INIT, live = RN_STRBUF_INIT, dumped = RN_STRBUF_INIT;

        assert_int_equal(rn_diag_render_for(s, id, &why), 0);
        assert_non_null(strstr(rn_strbuf_str(&why), "orphan: route 198.19.0.0/16"));
        assert_int_equal(rn_diag_render_orphans(s, &live), 1);
        assert_int_equal(rn_dump_encode(s, &buf, &len), 0);
        assert_int_equal(rn_dump_decode(buf, len, &back, err, sizeof(err)), 0);
        assert_int_equal(rn_diag_render_orphans(back, &dumped), 1);
        assert_string_equal(rn_strbuf_str(&live), rn_strbuf_str(&dumped));
        rn_strbuf_free(&why);
        rn_strbuf_free(&live);
        rn_strbuf_free(&dumped);
    }
    free(buf);
    rn_snapshot_free(back);
    rn_snapshot_free(s);

    /* Let go: released, no orphan left. */
    rn_ob_deref(rt, cache);
    s = snap();
    assert_int_equal(rn_diag_orphans(s, ids, 4), 0);
    rn_snapshot_free(s);
    rn_watchdog_free(wd);
    rn_strbuf_free(&out);
    pair_down();
}

/* ---- Tracing armed after the fact ---------------------------------------------------- */

__attribute__((noinline)) static void cache_keeps(void *ob, rn_tag_t tag)
{
    rn_ob_ref(ob, tag);
}

static void test_tracing_armed_late(void **state)
{
    rn_tag_t cache = rn_tag_intern("acme-cache");
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct rn_snapshot *s;
    void *ep;
    int i;

    (void)state;
    pair_with_procs();
    (void)udp_bound(P.pb, 7001);
    ep = find_object("udp endpoint", ":7001");
    assert_non_null(ep);
    rn_ob_ref(ep, cache);
    rn_ob_ref(ep, cache);  /* two leaked before anyone looked */
    run_for(RN_SEC(3));
    rn_ob_set_traced(ep, true);
    run_for(RN_SEC(1));
    for (i = 0; i < 3; i++)
        cache_keeps(ep, cache);  /* three more, recorded */
    s = snap();
    assert_int_equal(rn_diag_render_for(s, rn_ob_id(ep), &sb), 0);
    rn_snapshot_free(s);
    if (strstr(rn_strbuf_str(&sb), "acme-cache") == NULL ||
        strstr(rn_strbuf_str(&sb), "acme-cache      5   held 4.0s") == NULL ||
        strstr(rn_strbuf_str(&sb), "held 0ms   at cache_keeps+") == NULL ||
        strstr(rn_strbuf_str(&sb), "2 held since before tracing was armed (no stack)") == NULL ||
        strstr(rn_strbuf_str(&sb), "taken before tracing was armed 1.0s ago (no stack); every "
                                   "later one is recorded") == NULL)
        fail_msg("late tracing not told apart:\n%s", rn_strbuf_str(&sb));
    rn_strbuf_free(&sb);
    rn_ob_set_traced(ep, false);
    for (i = 0; i < 5; i++)
        rn_ob_deref(ep, cache);
    rn_ob_deref(ep, RN_TAG_LOOKUP);
    pair_down();
}

/* ---- No false suspects -------------------------------------------------------------- */

static void test_busy_pair_has_no_suspect(void **state)
{
    static char big[256 * 1024], in[4096];
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 80};
    struct rec ra = {0}, rb = {0}, rc = {0};
    const struct rn_sock_completion *c;
    int hl, hc, hs, err, round;

    (void)state;
    pair_with_procs();
    hl = tcp_listening(P.pb, 80, &err);
    assert_int_equal(err, 0);
    submit(P.pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &rb);  /* pending accept */
    assert_no_suspect("a listener with an accept pending");
    hc = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    assert_true(hc > 0);
    submit(P.pa, RN_SOP_CONNECT, hc, NULL, 0, &to, &ra);
    run_for(RN_MSEC(50));
    c = last_of(&rb, RN_SOP_ACCEPT);
    assert_non_null(c);
    hs = (int)c->sc_result;
    assert_true(hs > 0);

    /* A bulk send in flight: retransmission and delayed-ACK timers armed,
     * queues full, a receive pending; looked at every few milliseconds. */
    submit(P.pa, RN_SOP_SEND, hc, big, sizeof(big), NULL, &ra);
    for (round = 0; round < 40; round++) {
        submit(P.pb, RN_SOP_RECV, hs, in, sizeof(in), NULL, &rc);
        run_for(RN_MSEC(3));
        assert_no_suspect("a bulk transfer");
    }
    /* Closes under way: the client closes with data still queued. */
    submit(P.pa, RN_SOP_CLOSE, hc, NULL, 0, NULL, &ra);
    run_for(RN_MSEC(1));
    assert_no_suspect("a close with data queued");
    submit(P.pb, RN_SOP_CLOSE, hs, NULL, 0, NULL, &rb);
    submit(P.pb, RN_SOP_CLOSE, hl, NULL, 0, NULL, &rb);
    run_for(RN_MSEC(2));
    assert_no_suspect("closes under way");
    run_for(RN_SEC(70));
    assert_no_suspect("after TIME_WAIT");
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_tag_outside_contract),
        cmocka_unit_test(test_hold_beyond_its_condition),
        cmocka_unit_test(test_socket_handle_leak),
        cmocka_unit_test(test_every_builtin_tag_on_a_route),
        cmocka_unit_test(test_third_party_route_orphan),
        cmocka_unit_test(test_tracing_armed_late),
        cmocka_unit_test(test_busy_pair_has_no_suspect),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
