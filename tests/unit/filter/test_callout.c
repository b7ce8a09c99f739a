/*
 * Callouts between two stacks over a simulated cable, in virtual time: a
 * test callout answering permit, block, continue, and pend, completed
 * later or at once; a pended accept holding its connection in SYN_RECEIVED
 * (its hold tagged "callout:testco", the flow's wait visible) until it is
 * completed, then accepted with data flowing; pended connect and listen;
 * portblock; connlog logging establishment and end and letting go of every
 * flow; and the lab-only faulty callout keeping a closed listener alive,
 * named by the diagnosis, until the lab's clear step.
 * With FILTER_TEST_SHOW set in the environment, the faulty tests print the
 * waiting chains they check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helper_filter.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/object.h"
#include "refnet/report.h"
#include "refnet/snapshot.h"
#include "refnet/socket.h"
#include "refnet/strbuf.h"
#include "support.h"

/* ---- A callout the test drives ------------------------------------------------- */

struct testco {
    int tc_answer;                      /* what classify returns */
    bool tc_complete_inside;            /* PEND: complete before returning... */
    enum rn_filter_decision tc_inside;  /* ...with this */
    struct rn_pend *tc_pend;            /* the last operation it pended */
    unsigned tc_calls;
    struct rn_filter_values tc_last;    /* what it saw last */
    bool tc_had_flow;                   /* cl_flow was set */
    int tc_pend_err;                    /* rn_callout_pend()'s result where
                                           the layer cannot pend */
};

static int testco_classify(struct rn_callout *co, const struct rn_classify *cl)
{
    struct testco *tc = rn_callout_ctx(co);
    struct rn_pend *p;

    tc->tc_calls++;
    tc->tc_last = *cl->cl_values;
    tc->tc_had_flow = cl->cl_flow != NULL;
    if (!rn_filter_layer_can_pend(cl->cl_values->fv_layer)) {
        tc->tc_pend_err = rn_callout_pend(cl, &p);
        return tc->tc_answer == RN_FILTER_PEND ? RN_FILTER_CONTINUE : tc->tc_answer;
    }
    if (tc->tc_answer != RN_FILTER_PEND)
        return tc->tc_answer;
    assert_int_equal(rn_callout_pend(cl, &p), 0);
    assert_int_equal(rn_callout_pend(cl, &p), RN_EINVAL);  /* once per classification */
    tc->tc_pend = p;
    if (tc->tc_complete_inside) {
        rn_callout_complete(p, tc->tc_inside);
        tc->tc_pend = NULL;
    }
    return RN_FILTER_PEND;
}

static const struct rn_callout_ops testco_ops = {
    .co_name = "testco",
    .co_classify = testco_classify,
};

static struct rn_callout *testco_register(struct rn_stack *st, struct testco *tc)
{
    struct rn_callout *co = NULL;

    memset(tc, 0, sizeof(*tc));
    assert_int_equal(rn_callout_register(st, &testco_ops, tc, &co), 0);
    assert_int_equal(rn_callout_register(st, &testco_ops, tc, NULL), RN_EEXIST);
    return co;
}

/* Opens a client socket on a and connects it to b:port; ra forgets what
 * it recorded before, so its connect completion is this one's. */
static int connect_to(uint16_t port, struct rec *ra)
{
    static struct rn_sockaddr_in to[8];
    static unsigned next;
    struct rn_sockaddr_in *t = &to[next++ % 8];
    int h = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);

    assert_true(h > 0);
    t->sin_addr = ADDR_B;
    t->sin_port = port;
    ra->n = 0;
    submit(P.pa, RN_SOP_CONNECT, h, NULL, 0, t, ra);
    return h;
}

static ssize_t connect_result(const struct rec *ra)
{
    const struct rn_sock_completion *c = last_of(ra, RN_SOP_CONNECT);

    return c != NULL ? c->sc_result : 1;  /* 1: still pending */
}

/* Sends msg from (pa, hc) and checks that (pb, hs) receives it. */
static void data_flows(int hc, int hs)
{
    char out[] = "hello through the filter", in[64] = "";
    struct rec ra = {0}, rb = {0};

    submit(P.pb, RN_SOP_RECV, hs, in, sizeof(in), NULL, &rb);
    submit(P.pa, RN_SOP_SEND, hc, out, strlen(out), NULL, &ra);
    run_for(RN_MSEC(50));
    assert_int_equal(last_of(&ra, RN_SOP_SEND)->sc_result, (ssize_t)strlen(out));
    assert_int_equal(last_of(&rb, RN_SOP_RECV)->sc_result, (ssize_t)strlen(out));
    assert_memory_equal(in, out, strlen(out));
}

/* ---- Decisions -------------------------------------------------------------------- */

static void test_callout_permit_block_continue(void **state)
{
    struct testco tc;
    struct rec ra = {0}, rb = {0};
    uint64_t id, below;
    int hl, err;

    (void)state;
    fpair_up();
    testco_register(P.b, &tc);
    hl = tcp_listening(P.pb, 80, &err);
    id = add_filter(P.b, "layer=accept,lport=80,action=callout:testco,weight=5");

    tc.tc_answer = RN_FILTER_PERMIT;
    submit(P.pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &rb);
    connect_to(80, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), 0);
    assert_true(last_of(&rb, RN_SOP_ACCEPT)->sc_result > 0);
    /* What it was asked about. */
    assert_int_equal(tc.tc_calls, 1);
    assert_int_equal(tc.tc_last.fv_layer, RN_FL_ACCEPT);
    assert_int_equal(tc.tc_last.fv_proto, 6);
    /* IPv4 traffic: IPv4-mapped addresses. */
    assert_true(rn_inaddr_is_v4(&tc.tc_last.fv_laddr));
    assert_int_equal(rn_inaddr_to_v4(&tc.tc_last.fv_laddr), ADDR_B);
    assert_int_equal(tc.tc_last.fv_lport, 80);
    assert_true(rn_inaddr_is_v4(&tc.tc_last.fv_raddr));
    assert_int_equal(rn_inaddr_to_v4(&tc.tc_last.fv_raddr), ADDR_A);
    assert_true(tc.tc_last.fv_rport >= 49152);
    assert_true(tc.tc_had_flow);

    tc.tc_answer = RN_FILTER_BLOCK;
    connect_to(80, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), RN_ECONNREFUSED);

    /* Continue: the next matching filter decides, else the default. */
    tc.tc_answer = RN_FILTER_CONTINUE;
    connect_to(80, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), 0);
    below = add_filter(P.b, "layer=accept,action=block");
    connect_to(80, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), RN_ECONNREFUSED);
    assert_int_equal(rn_filter_hits(P.b, id), 4);
    assert_int_equal(rn_filter_hits(P.b, below), 1);
    assert_int_equal(rn_filter_del(P.b, below), 0);

    /* Pended and completed before classify returned: no pended object is
     * left behind and the decision is the classification's. */
    tc.tc_answer = RN_FILTER_PEND;
    tc.tc_complete_inside = true;
    tc.tc_inside = RN_FILTER_BLOCK;
    connect_to(80, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), RN_ECONNREFUSED);
    tc.tc_inside = RN_FILTER_PERMIT;
    connect_to(80, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), 0);
    assert_int_equal(rn_callout_pends(rn_callout_find(P.b, "testco")), 0);
    assert_int_equal(objects_held_by("callout:testco"), 0);

    /* At a layer that cannot pend, pending is refused. */
    add_filter(P.b, "layer=inbound-transport,proto=tcp,lport=80,action=callout:testco");
    tc.tc_answer = RN_FILTER_CONTINUE;
    tc.tc_pend_err = 0;
    connect_to(80, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(tc.tc_pend_err, RN_EINVAL);
    fpair_down();
}

/* ---- Pended operations ---------------------------------------------------------- */

static void test_pended_accept_holds_the_connection(void **state)
{
    struct testco tc;
    struct rn_callout *co;
    struct rec ra = {0}, rb = {0};
    struct rn_filter_layer_stats ls;
    void *conn, *pend;
    char desc[200];
    int hl, hc, err;

    (void)state;
    fpair_up();
    co = testco_register(P.b, &tc);
    tc.tc_answer = RN_FILTER_PEND;
    hl = tcp_listening(P.pb, 80, &err);
    add_filter(P.b, "layer=accept,lport=80,action=callout:testco");
    submit(P.pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &rb);
    hc = connect_to(80, &ra);
    /* Past the client's first SYN retransmission: still no SYN+ACK. */
    run_for(RN_MSEC(1500));
    assert_int_equal(connect_result(&ra), 1);
    assert_null(last_of(&rb, RN_SOP_ACCEPT));
    assert_non_null(tc.tc_pend);
    assert_int_equal(tc.tc_calls, 1);  /* the retransmitted SYN is not a new one */
    conn = find_object("tcp connection", "connection 198.18.0.3:80 ");
    assert_non_null(conn);
    rn_ob_describe(conn, desc, sizeof(desc));
    assert_non_null(strstr(desc, "SYN_RECEIVED"));
    /* The hold and the wait, as the ledger and the watchdog see them. */
    assert_int_equal(rn_ob_tag_count(conn, rn_tag_intern("callout:testco")), 1);
    assert_true(has_wait(rn_ob_id(conn), "accept authorisation"));
    pend = find_object("pended operation", "pended operation accept tcp 198.18.0.3:80 "
                                           "198.18.0.2:");
    assert_non_null(pend);
    rn_ob_describe(pend, desc, sizeof(desc));
    assert_non_null(strstr(desc, "by callout testco (filter 1)"));
    assert_int_equal(rn_ob_tag_count(pend, rn_tag_intern("callout:testco")), 1);
    rn_ob_deref(pend, RN_TAG_LOOKUP);
    assert_int_equal(rn_callout_pends(co), 1);
    assert_int_equal(rn_pend_values(tc.tc_pend)->fv_lport, 80);
    rn_filter_layer_stats(P.b, RN_FL_ACCEPT, &ls);
    assert_int_equal(ls.fls_pended, 1);

    /* Completed: the SYN+ACK goes, the connection is accepted, data flows,
     * and nothing is held for the callout any more. */
    rn_callout_complete(tc.tc_pend, RN_FILTER_PERMIT);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), 0);
    assert_non_null(last_of(&rb, RN_SOP_ACCEPT));
    assert_true(last_of(&rb, RN_SOP_ACCEPT)->sc_result > 0);
    data_flows(hc, (int)last_of(&rb, RN_SOP_ACCEPT)->sc_result);
    assert_int_equal(rn_ob_tag_count(conn, rn_tag_intern("callout:testco")), 0);
    assert_false(has_wait(rn_ob_id(conn), "accept authorisation"));
    assert_int_equal(objects_held_by("callout:testco"), 0);
    assert_int_equal(rn_callout_pends(co), 0);
    rn_ob_deref(conn, RN_TAG_LOOKUP);

    /* Pended, then refused: the client is refused by a RST. */
    tc.tc_pend = NULL;
    connect_to(80, &ra);
    run_for(RN_MSEC(200));
    assert_int_equal(connect_result(&ra), 1);
    assert_non_null(tc.tc_pend);
    rn_callout_complete(tc.tc_pend, RN_FILTER_BLOCK);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), RN_ECONNREFUSED);
    assert_int_equal(objects_held_by("callout:testco"), 0);

    /* Pended, then the listener closes: the connection is reset and
     * ends; the late completion only lets go. */
    tc.tc_pend = NULL;
    connect_to(80, &ra);
    run_for(RN_MSEC(200));
    assert_non_null(tc.tc_pend);
    submit(P.pb, RN_SOP_CLOSE, hl, NULL, 0, NULL, &rb);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), RN_ECONNREFUSED);
    assert_int_equal(objects_held_by("callout:testco"), 2);  /* the connection, the pend */
    rn_callout_complete(tc.tc_pend, RN_FILTER_PERMIT);
    run_for(RN_MSEC(1));
    assert_int_equal(objects_held_by("callout:testco"), 0);
    fpair_down();
}

static void test_pended_connect_and_listen(void **state)
{
    struct testco ta, tb;
    struct rec ra = {0}, rb = {0};
    void *ob;
    int hl, hl2, hc, err;

    (void)state;
    fpair_up();
    testco_register(P.a, &ta);
    testco_register(P.b, &tb);
    ta.tc_answer = RN_FILTER_PEND;
    hl = tcp_listening(P.pb, 80, &err);
    submit(P.pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &rb);
    add_filter(P.a, "layer=connect,rport=80,action=callout:testco");

    /* connect pended: no SYN leaves until it is completed. */
    hc = connect_to(80, &ra);
    run_for(RN_MSEC(500));
    assert_int_equal(connect_result(&ra), 1);
    assert_null(last_of(&rb, RN_SOP_ACCEPT));
    assert_null(find_object("tcp connection", "connection 198.18.0.3:80 "));
    ob = find_object("tcp connection", "SYN_SENT");
    assert_non_null(ob);
    assert_true(has_wait(rn_ob_id(ob), "connect authorisation"));
    rn_ob_deref(ob, RN_TAG_LOOKUP);
    rn_callout_complete(ta.tc_pend, RN_FILTER_PERMIT);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), 0);
    assert_true(last_of(&rb, RN_SOP_ACCEPT)->sc_result > 0);
    data_flows(hc, (int)last_of(&rb, RN_SOP_ACCEPT)->sc_result);
    /* connect pended, then refused: RN_EACCES. */
    ta.tc_pend = NULL;
    connect_to(80, &ra);
    run_for(RN_MSEC(20));
    assert_non_null(ta.tc_pend);
    rn_callout_complete(ta.tc_pend, RN_FILTER_BLOCK);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), RN_EACCES);

    /* listen pended: the port is taken but takes no SYNs. */
    tb.tc_answer = RN_FILTER_PEND;
    add_filter(P.b, "layer=listen,lport=90-91,action=callout:testco");
    hl2 = tcp_listening(P.pb, 90, &err);
    assert_int_equal(err, 0);
    assert_non_null(tb.tc_pend);
    assert_int_equal(tb.tc_last.fv_lport, 90);
    {
        struct rn_sockaddr_in l90 = {.sin_addr = 0, .sin_port = 90};
        int h = rn_sock_open(P.pb, RN_SOCK_STREAM, 0);

        assert_int_equal(rn_sock_bind(P.pb, h, &l90), RN_EADDRINUSE);
    }
    ob = find_object("tcp listener", "0.0.0.0:90 ");
    assert_non_null(ob);
    assert_true(has_wait(rn_ob_id(ob), "listen authorisation"));
    assert_int_equal(rn_ob_tag_count(ob, rn_tag_intern("callout:testco")), 1);
    rn_ob_deref(ob, RN_TAG_LOOKUP);
    rb.n = 0;
    submit(P.pb, RN_SOP_ACCEPT, hl2, NULL, 0, NULL, &rb);
    connect_to(90, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), RN_ECONNREFUSED);
    rn_callout_complete(tb.tc_pend, RN_FILTER_PERMIT);
    connect_to(90, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), 0);
    assert_true(last_of(&rb, RN_SOP_ACCEPT)->sc_result > 0);
    /* listen pended, then refused: the pending accept fails. */
    tb.tc_pend = NULL;
    hl2 = tcp_listening(P.pb, 91, &err);
    assert_int_equal(err, 0);
    rb.n = 0;
    submit(P.pb, RN_SOP_ACCEPT, hl2, NULL, 0, NULL, &rb);
    run_for(RN_MSEC(1));
    assert_null(last_of(&rb, RN_SOP_ACCEPT));
    rn_callout_complete(tb.tc_pend, RN_FILTER_BLOCK);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&rb, RN_SOP_ACCEPT)->sc_result, RN_EACCES);
    assert_int_equal(objects_held_by("callout:testco"), 0);
    fpair_down();
}

/* ---- portblock --------------------------------------------------------------------- */

static void test_portblock_refuses_listed_ports(void **state)
{
    struct rec ra = {0}, rb = {0};
    int hl82, hc, err;

    (void)state;
    fpair_up();
    tcp_listening(P.pb, 81, &err);
    tcp_listening(P.pb, 8001, &err);
    hl82 = tcp_listening(P.pb, 82, &err);
    add_filter(P.b, "layer=accept,action=callout:portblock,arg=80+8000-8080");
    connect_to(8001, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), RN_ECONNREFUSED);
    connect_to(81, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), 0);
    assert_int_equal(rn_callout_portblock_blocked(P.b), 1);

    /* At inbound-transport it refuses only what opens a connection: one
     * established before the filter carries on. */
    submit(P.pb, RN_SOP_ACCEPT, hl82, NULL, 0, NULL, &rb);
    hc = connect_to(82, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), 0);
    add_filter(P.b, "layer=inbound-transport,action=callout:portblock,arg=82");
    data_flows(hc, (int)last_of(&rb, RN_SOP_ACCEPT)->sc_result);
    connect_to(82, &ra);
    run_for(RN_MSEC(500));
    assert_int_equal(connect_result(&ra), 1);  /* silently dropped */
    assert_int_equal(rn_callout_portblock_blocked(P.b), 2);
    fpair_down();
}

/* ---- connlog --------------------------------------------------------------------- */

static void test_connlog_logs_and_lets_go(void **state)
{
    struct rn_connlog_stats sa, sb;
    struct rec ra = {0}, rb = {0};
    int hl, hc, hs, err;

    (void)state;
    fpair_up();
    add_filter(P.b, "layer=accept,lport=80,action=callout:connlog");
    add_filter(P.a, "layer=connect,action=callout:connlog");
    hl = tcp_listening(P.pb, 80, &err);
    capture_begin();
    submit(P.pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &rb);
    hc = connect_to(80, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), 0);
    hs = (int)last_of(&rb, RN_SOP_ACCEPT)->sc_result;
    assert_true(hs > 0);
    /* While the connection lives, each side's connlog holds its end. */
    assert_int_equal(objects_held_by("callout:connlog"), 2);
    rn_callout_connlog_stats(P.b, &sb);
    assert_int_equal(sb.cls_opened, 1);
    assert_int_equal(sb.cls_established, 1);
    assert_int_equal(sb.cls_active, 1);
    assert_true(capture_has("connlog: tcp 198.18.0.3:80 <- 198.18.0.2:"));
    assert_true(capture_has("connlog: tcp 198.18.0.2:"));
    assert_true(capture_has(" -> 198.18.0.3:80 established"));
    data_flows(hc, hs);
    /* Both close; once the connections end, every hold is gone. */
    submit(P.pa, RN_SOP_CLOSE, hc, NULL, 0, NULL, &ra);
    submit(P.pb, RN_SOP_CLOSE, hs, NULL, 0, NULL, &rb);
    run_for(RN_MSEC(100));
    assert_int_equal(last_of(&ra, RN_SOP_CLOSE)->sc_result, 0);
    assert_int_equal(last_of(&rb, RN_SOP_CLOSE)->sc_result, 0);
    assert_true(capture_has("<- 198.18.0.2:"));
    assert_true(capture_has(" ended after "));
    assert_int_equal(objects_held_by("callout:connlog"), 0);
    rn_callout_connlog_stats(P.a, &sa);
    rn_callout_connlog_stats(P.b, &sb);
    assert_int_equal(sa.cls_ended, 1);
    assert_int_equal(sb.cls_ended, 1);
    assert_int_equal(sa.cls_active + sb.cls_active, 0);
    /* A refused connection is logged as never established. */
    connect_to(99, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), RN_ECONNREFUSED);
    assert_true(capture_has(" -> 198.18.0.3:99 ended after "));
    assert_true(capture_has(", never established"));
    /* One left open when the stacks go is let go of too. */
    rb.n = 0;
    submit(P.pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &rb);
    connect_to(80, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(objects_held_by("callout:connlog"), 2);
    rn_callout_connlog_stats(P.a, &sa);
    assert_int_equal(sa.cls_opened, 3);
    assert_int_equal(sa.cls_established, 2);
    assert_int_equal(sa.cls_active, 1);
    fpair_down();  /* fails if a connlog hold were left */
    capture_end();
}

/* ---- faulty ------------------------------------------------------------------------ */

/* The listener's close finished: its object is released. */
static bool closed(void *ctx)
{
    (void)ctx;
    return count_type("tcp listener") == 0;
}

/* Closes the listener on port 80 and checks that the close hangs on a
 * listener held by "callout:faulty", named as the suspect with the
 * verdict `verdict`: the close returns at once, but the socket stays
 * "close pending" in its process. */
static void close_hangs_on_faulty(int hl, struct rec *rb, const char *verdict)
{
    const struct rn_ob_type *lt = rn_ob_type_find("tcp listener");
    char *chains;
    int h;

    submit(P.pb, RN_SOP_CLOSE, hl, NULL, 0, NULL, rb);
    run_for(RN_SEC(2));
    assert_int_equal(last_of(rb, RN_SOP_CLOSE)->sc_result, 0);
    assert_int_equal(rn_proc_handles(P.pb), 1);  /* the closing socket */
    /* The closed listener is still alive, and its port still taken. */
    assert_int_equal(rn_ob_live_count(lt), 1);
    {
        struct rn_sockaddr_in l80 = {.sin_addr = 0, .sin_port = 80};

        h = rn_sock_open(P.pb, RN_SOCK_STREAM, 0);
        assert_int_equal(rn_sock_bind(P.pb, h, &l80), RN_EADDRINUSE);
    }
    chains = render_live_chains();
    if (getenv("FILTER_TEST_SHOW") != NULL)
        fputs(chains, stderr);
    if (strstr(chains, "tcp listener 0.0.0.0:80 CLOSED") == NULL ||
        strstr(chains, verdict) == NULL ||
        strstr(chains, "last ref faulty_classify") == NULL)
        fail_msg("the chains do not name callout:faulty:\n%s", chains);
    free(chains);
}

static void test_faulty_leak_keeps_a_closed_listener(void **state)
{
    struct rec rb = {0};
    int hl, err;

    (void)state;
    fpair_up();
    capture_begin();
    assert_int_equal(rn_callout_faulty_register(P.b), 0);
    capture_end();
    assert_int_equal(rn_callout_faulty_release_all(P.a), 0);  /* not registered there */
    add_filter(P.b, "layer=listen,lport=80,action=callout:faulty,arg=leak");
    hl = tcp_listening(P.pb, 80, &err);
    assert_int_equal(err, 0);
    assert_int_equal(objects_held_by("callout:faulty"), 1);
    /* A context kept past its flow's end: the flow is the blocker. */
    close_hangs_on_faulty(hl, &rb, "'callout:faulty' callout hold after its flow ended");
    /* The lab's clear step lets go: the close completes. */
    assert_int_equal(rn_callout_faulty_release_all(P.b), 1);
    assert_true(run_while_not(closed, &rb, RN_SEC(1)));
    assert_int_equal(last_of(&rb, RN_SOP_CLOSE)->sc_result, 0);
    assert_int_equal(count_type("tcp listener"), 0);
    assert_int_equal(objects_held_by("callout:faulty"), 0);
    fpair_down();
}

static void test_faulty_pend_keeps_a_closed_listener(void **state)
{
    struct rec rb = {0};
    char *chains;
    int hl, err;

    (void)state;
    fpair_up();
    capture_begin();
    assert_int_equal(rn_filter_add_lab(P.b, "layer=listen,lport=80,action=callout:faulty,"
                                            "arg=pend", NULL, NULL, 0), 0);
    capture_end();
    hl = tcp_listening(P.pb, 80, &err);
    assert_int_equal(err, 0);
    /* While the listener is open, it waits for its authorisation. */
    chains = render_live_chains();
    if (strstr(chains, "listen authorisation") == NULL ||
        strstr(chains, "pended operation listen tcp 0.0.0.0:80 by callout faulty") == NULL)
        fail_msg("no pended listen in the chains:\n%s", chains);
    free(chains);
    /* A pend never completed: not a forgotten context.  The listener
     * waits for the pended operation, which is the blocker, named. */
    close_hangs_on_faulty(hl, &rb, "tcp listener 0.0.0.0:80 CLOSED synq 0 acceptq 0  #");
    chains = render_live_chains();
    if (strstr(chains, "listen authorisation pending 2.0s\n    \u2514 pended operation listen "
                       "tcp 0.0.0.0:80 by callout faulty") == NULL ||
        strstr(chains, "verdict: 'callout:faulty' pended the listen authorisation of tcp "
                       "listener #") == NULL ||
        strstr(chains, "2.0s ago and never completed it") == NULL ||
        strstr(chains, "callout hold after its flow ended") != NULL)
        fail_msg("the pended listen is not named as one:\n%s", chains);
    free(chains);
    assert_int_equal(rn_callout_faulty_release_all(P.b), 1);
    assert_true(run_while_not(closed, &rb, RN_SEC(1)));
    assert_int_equal(last_of(&rb, RN_SOP_CLOSE)->sc_result, 0);
    assert_int_equal(objects_held_by("callout:faulty"), 0);
    fpair_down();
}

static void test_faulty_leak_keeps_a_finished_connection(void **state)
{
    struct rec ra = {0}, rb = {0};
    struct rn_snapshot *s;
    struct rn_strbuf sb = RN_STRBUF_INIT;
    uint32_t i;
    int hl, hc, err;
    bool found = false;

    (void)state;
    fpair_up();
    capture_begin();
    assert_int_equal(rn_callout_faulty_register(P.b), 0);
    capture_end();
    add_filter(P.b, "layer=accept,action=callout:faulty,arg=leak");
    hl = tcp_listening(P.pb, 80, &err);
    submit(P.pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &rb);
    hc = connect_to(80, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(connect_result(&ra), 0);
    /* The client aborts: the server's connection is done, but stays. */
    assert_int_equal(rn_sock_setopt(P.pa, hc, RN_SO_LINGER, 0), 0);
    submit(P.pa, RN_SOP_CLOSE, hc, NULL, 0, NULL, &ra);
    submit(P.pb, RN_SOP_CLOSE, (int)last_of(&rb, RN_SOP_ACCEPT)->sc_result, NULL, 0, NULL, &rb);
    run_for(RN_SEC(1));
    /* The server's close returned; its socket waits, closing, in the
     * process, for the connection the callout holds. */
    assert_int_equal(last_of(&rb, RN_SOP_CLOSE)->sc_result, 0);
    assert_int_equal(count_type("tcp connection"), 1);
    s = rn_ob_snapshot();
    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *o = &s->s_objects[i];

        if (strcmp(o->so_type, "tcp connection") != 0 || o->so_state != RN_OB_DYING)
            continue;
        found = true;
        rn_diag_render_for(s, o->so_id, &sb);
    }
    rn_snapshot_free(s);
    assert_true(found);
    if (strstr(rn_strbuf_str(&sb), "callout:faulty") == NULL ||
        strstr(rn_strbuf_str(&sb), "callout hold after its flow ended") == NULL)
        fail_msg("no verdict on callout:faulty:\n%s", rn_strbuf_str(&sb));
    rn_strbuf_free(&sb);
    assert_int_equal(rn_callout_faulty_release_all(P.b), 1);
    run_for(RN_MSEC(10));
    assert_int_equal(count_type("tcp connection"), 0);
    fpair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callout_permit_block_continue),
        cmocka_unit_test(test_pended_accept_holds_the_connection),
        cmocka_unit_test(test_pended_connect_and_listen),
        cmocka_unit_test(test_portblock_refuses_listed_ports),
        cmocka_unit_test(test_connlog_logs_and_lets_go),
        cmocka_unit_test(test_faulty_leak_keeps_a_closed_listener),
        cmocka_unit_test(test_faulty_pend_keeps_a_closed_listener),
        cmocka_unit_test(test_faulty_leak_keeps_a_finished_connection),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
