/*
 * The filtering platform's filters between two stacks over a simulated
 * cable, in virtual time: a block at each layer and what the user sees of
 * it (a datagram that never arrives and a drop counted as
 * "filter_blocked", RN_EACCES from send, connect and listen, a connect
 * refused by the RST that answers a blocked SYN, a connect that gets no
 * answer at all), deleting the filter restoring the traffic, weights and
 * their ties, hit counters, the API's errors and the listings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/render.h"
#include "helper_filter.h"
#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/object.h"
#include "refnet/report.h"
#include "refnet/socket.h"
#include "refnet/strbuf.h"
#include "support.h"

/* ---- UDP through the packet layers ------------------------------------------- */

struct udp_rx {
    int u_h;
    struct rec u_rec;
    char u_buf[64];
};

/* Posts a receive on the server socket. */
static void udp_recv_post(struct udp_rx *u)
{
    submit(P.pb, RN_SOP_RECV, u->u_h, u->u_buf, sizeof(u->u_buf), NULL, &u->u_rec);
}

/* Sends one datagram from a to b:port; returns the send's result. */
static ssize_t udp_send_one(int ha, uint16_t port, struct rec *ra)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = port};
    static char msg[] = "ping";

    submit(P.pa, RN_SOP_SEND, ha, msg, 4, &to, ra);
    run_for(RN_MSEC(20));
    assert_non_null(last_of(ra, RN_SOP_SEND));
    return last_of(ra, RN_SOP_SEND)->sc_result;
}

static void test_udp_blocked_at_each_packet_layer(void **state)
{
    static const char *const inbound[] = {
        "layer=inbound-ip,proto=udp,lport=7000,action=block",
        "layer=inbound-transport,proto=udp,lport=7000,raddr=198.18.0.2,action=block",
    };
    struct udp_rx u = {0};
    struct rec ra = {0};
    uint64_t id, drops;
    unsigned i, got;
    int ha;

    (void)state;
    fpair_up();
    u.u_h = udp_bound(P.pb, 7000);
    ha = rn_sock_open(P.pa, RN_SOCK_DGRAM, 0);
    udp_recv_post(&u);
    /* Unfiltered, it arrives. */
    assert_int_equal(udp_send_one(ha, 7000, &ra), 4);
    assert_int_equal(u.u_rec.n, 1);
    assert_int_equal(u.u_rec.c[0].sc_result, 4);
    for (i = 0; i < 2; i++) {
        udp_recv_post(&u);
        got = u.u_rec.n;
        drops = filter_drops(P.b);
        id = add_filter(P.b, inbound[i]);
        /* The sender cannot tell; the receiver never sees it; the drop is
         * counted under its reason and the filter's hits. */
        assert_int_equal(udp_send_one(ha, 7000, &ra), 4);
        assert_int_equal(u.u_rec.n, got);
        assert_int_equal(filter_drops(P.b), drops + 1);
        assert_int_equal(rn_filter_hits(P.b, id), 1);
        /* Another port is not matched. */
        assert_int_equal(udp_send_one(ha, 7001, &ra), 4);
        assert_int_equal(filter_drops(P.b), drops + 1);
        assert_int_equal(rn_filter_hits(P.b, id), 1);
        /* Deleting the filter lets the next one through. */
        assert_int_equal(rn_filter_del(P.b, id), 0);
        assert_int_equal(rn_filter_del(P.b, id), RN_ENOENT);
        assert_int_equal(udp_send_one(ha, 7000, &ra), 4);
        assert_int_equal(u.u_rec.n, got + 1);
    }
    /* Outbound: the send itself fails with RN_EACCES. */
    drops = filter_drops(P.a);
    id = add_filter(P.a, "layer=outbound-transport,proto=udp,rport=7000,action=block");
    assert_int_equal(udp_send_one(ha, 7000, &ra), RN_EACCES);
    assert_int_equal(filter_drops(P.a), drops + 1);
    assert_int_equal(rn_filter_del(P.a, id), 0);
    id = add_filter(P.a, "layer=outbound-ip,proto=udp,raddr=198.18.0.0/15,rport=7000,"
                         "action=block");
    assert_int_equal(udp_send_one(ha, 7000, &ra), RN_EACCES);
    assert_int_equal(filter_drops(P.a), drops + 2);
    assert_int_equal(rn_filter_hits(P.a, id), 1);
    assert_int_equal(rn_filter_del(P.a, id), 0);
    udp_recv_post(&u);
    got = u.u_rec.n;
    assert_int_equal(udp_send_one(ha, 7000, &ra), 4);
    assert_int_equal(u.u_rec.n, got + 1);
    fpair_down();
}

static void test_weights_decide(void **state)
{
    struct udp_rx u7000 = {0}, u7001 = {0};
    struct rec ra = {0};
    struct rn_strbuf sb = RN_STRBUF_INIT;
    uint64_t f_all, f_permit, f_block20, f_permit20;
    const char *text, *p20, *p10;
    int ha;

    (void)state;
    fpair_up();
    u7000.u_h = udp_bound(P.pb, 7000);
    u7001.u_h = udp_bound(P.pb, 7001);
    ha = rn_sock_open(P.pa, RN_SOCK_DGRAM, 0);
    f_all = add_filter(P.b, "layer=inbound-transport,proto=udp,action=block");
    f_permit = add_filter(P.b, "layer=inbound-transport,proto=udp,lport=7000,action=permit,"
                               "weight=10");
    /* The heavier permit comes first for 7000; 7001 falls to the block. */
    udp_recv_post(&u7000);
    udp_recv_post(&u7001);
    udp_send_one(ha, 7000, &ra);
    udp_send_one(ha, 7001, &ra);
    assert_int_equal(u7000.u_rec.n, 1);
    assert_int_equal(u7001.u_rec.n, 0);
    assert_int_equal(rn_filter_hits(P.b, f_permit), 1);
    assert_int_equal(rn_filter_hits(P.b, f_all), 1);
    /* Heavier still: a block for 7000.  An equal weight added later does
     * not overtake it. */
    f_block20 = add_filter(P.b, "layer=inbound-transport,lport=7000,action=block,weight=20");
    f_permit20 = add_filter(P.b, "layer=inbound-transport,lport=7000,action=permit,weight=20");
    udp_recv_post(&u7000);
    udp_send_one(ha, 7000, &ra);
    assert_int_equal(u7000.u_rec.n, 1);
    assert_int_equal(rn_filter_hits(P.b, f_block20), 1);
    assert_int_equal(rn_filter_hits(P.b, f_permit20), 0);
    assert_int_equal(rn_filter_hits(P.b, f_permit), 1);
    /* The listing shows them in the order they are tried. */
    rn__render_filters(P.b, &sb, false);
    text = rn_strbuf_str(&sb);
    p20 = strstr(text, "lport=7000,action=block,weight=20");
    p10 = strstr(text, "lport=7000,action=permit,weight=10");
    assert_non_null(p20);
    assert_non_null(p10);
    assert_true(p20 < strstr(text, "action=permit,weight=20"));
    assert_true(strstr(text, "action=permit,weight=20") < p10);
    assert_true(p10 < strstr(text, "layer=inbound-transport,proto=udp,action=block"));
    rn_strbuf_free(&sb);
    assert_int_equal(rn_filter_count(P.b), 4);
    /* Without the heavy block, the equal-weight permit decides. */
    assert_int_equal(rn_filter_del(P.b, f_block20), 0);
    udp_send_one(ha, 7000, &ra);
    assert_int_equal(u7000.u_rec.n, 2);
    assert_int_equal(rn_filter_hits(P.b, f_permit20), 1);
    fpair_down();
}

/* ---- TCP: connect, listen, accept, inbound-transport ---------------------------- */

static void test_tcp_blocked_at_connect_listen_accept(void **state)
{
    struct rn_sockaddr_in to80 = {.sin_addr = ADDR_B, .sin_port = 80};
    struct rec ra = {0}, rb = {0};
    uint64_t id, drops;
    int hl, hc, err, h81;

    (void)state;
    fpair_up();
    hl = tcp_listening(P.pb, 80, &err);
    assert_int_equal(err, 0);
    submit(P.pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &rb);

    /* connect: refused at once, before any SYN. */
    id = add_filter(P.a, "layer=connect,raddr=198.18.0.3,rport=80,action=block");
    hc = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    submit(P.pa, RN_SOP_CONNECT, hc, NULL, 0, &to80, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(last_of(&ra, RN_SOP_CONNECT)->sc_result, RN_EACCES);
    assert_null(last_of(&rb, RN_SOP_ACCEPT));
    assert_int_equal(rn_filter_hits(P.a, id), 1);
    assert_int_equal(rn_filter_del(P.a, id), 0);

    /* listen: refused; once the filter goes, the port is free. */
    id = add_filter(P.b, "layer=listen,lport=81,action=block");
    h81 = tcp_listening(P.pb, 81, &err);
    assert_int_equal(err, RN_EACCES);
    assert_int_equal(rn_filter_del(P.b, id), 0);
    run_for(RN_MSEC(1));
    assert_int_equal(rn_sock_listen(P.pb, h81, 4), 0);

    /* accept: the SYN is answered with a RST, so the connect is refused
     * at once; the server's accept never sees it. */
    drops = filter_drops(P.b);
    id = add_filter(P.b, "layer=accept,lport=80,raddr=198.18.0.2,action=block");
    hc = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    submit(P.pa, RN_SOP_CONNECT, hc, NULL, 0, &to80, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(last_of(&ra, RN_SOP_CONNECT)->sc_result, RN_ECONNREFUSED);
    assert_null(last_of(&rb, RN_SOP_ACCEPT));
    assert_int_equal(filter_drops(P.b), drops + 1);
    assert_int_equal(rn_filter_del(P.b, id), 0);

    /* Without filters, the same connect goes through. */
    hc = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    submit(P.pa, RN_SOP_CONNECT, hc, NULL, 0, &to80, &ra);
    run_for(RN_MSEC(20));
    assert_int_equal(last_of(&ra, RN_SOP_CONNECT)->sc_result, 0);
    assert_non_null(last_of(&rb, RN_SOP_ACCEPT));
    assert_true(last_of(&rb, RN_SOP_ACCEPT)->sc_result > 0);
    fpair_down();
}

static bool connect_done(void *ctx)
{
    return last_of(ctx, RN_SOP_CONNECT) != NULL;
}

static void test_tcp_blocked_inbound_segments_go_unanswered(void **state)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 82};
    struct rec ra = {0};
    uint64_t id, drops;
    int hl, hc, err;

    (void)state;
    fpair_up();
    hl = tcp_listening(P.pb, 82, &err);
    assert_int_equal(err, 0);
    (void)hl;
    drops = filter_drops(P.b);
    id = add_filter(P.b, "layer=inbound-transport,proto=tcp,lport=82,action=block");
    hc = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    submit(P.pa, RN_SOP_CONNECT, hc, NULL, 0, &to, &ra);
    /* Silence: the SYN and its retransmissions vanish, counted. */
    run_for(RN_SEC(4));
    assert_null(last_of(&ra, RN_SOP_CONNECT));
    assert_true(filter_drops(P.b) >= drops + 2);
    assert_int_equal(rn_filter_hits(P.b, id), filter_drops(P.b) - drops);
    /* The next retransmission, after the filter goes, connects. */
    assert_int_equal(rn_filter_del(P.b, id), 0);
    assert_true(run_while_not(connect_done, &ra, RN_SEC(30)));
    assert_int_equal(last_of(&ra, RN_SOP_CONNECT)->sc_result, 0);
    fpair_down();
}

/* ---- The API --------------------------------------------------------------------- */

static void add_bad(struct rn_stack *st, const char *spec, int code, const char *needle)
{
    char err[256] = "";
    uint64_t id = 0;
    int e = rn_filter_add(st, spec, &id, err, sizeof(err));

    if (e != code || strstr(err, needle) == NULL || strchr(err, '\n') != NULL)
        fail_msg("'%s': got %d \"%s\", expected %d with \"%s\"", spec, e, err, code, needle);
    assert_int_equal(id, 0);
}

static void test_api_errors_and_listings(void **state)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct rn_filter_layer_stats ls;
    struct rn_callout *co;
    char err[256];
    uint64_t id;

    (void)state;
    fpair_up();
    add_bad(P.b, "layer=inbound-ip,action=bogus", RN_EINVAL, "unknown action 'bogus'");
    add_bad(P.b, "layer=accept,action=callout:nosuch", RN_ENOENT, "unknown callout 'nosuch'");
    add_bad(P.b, "layer=accept,action=callout:nosuch", RN_ENOENT, "connlog");
    /* The lab-only callout is not there unless asked for. */
    add_bad(P.b, "layer=listen,action=callout:faulty,arg=pend", RN_ENOENT,
            "unknown callout 'faulty'");
    add_bad(P.b, "layer=listen,action=callout:portblock,arg=80", RN_EINVAL,
            "use layer=accept or layer=inbound-transport");
    add_bad(P.b, "layer=accept,action=callout:portblock", RN_EINVAL, "needs the ports");
    add_bad(P.b, "layer=accept,action=callout:portblock,arg=80+x", RN_EINVAL, "bad port 'x'");
    add_bad(P.b, "layer=accept,action=callout:portblock,arg=90-80", RN_EINVAL, "bad port '90-80'");
    add_bad(P.b, "layer=inbound-ip,action=callout:connlog", RN_EINVAL, "logs TCP connections");
    add_bad(P.b, "layer=accept,action=callout:connlog,arg=x", RN_EINVAL, "takes no 'arg='");
    assert_int_equal(rn_filter_count(P.b), 0);
    assert_int_equal(rn_filter_del(P.b, 12345), RN_ENOENT);
    assert_int_equal(rn_filter_hits(P.b, 12345), 0);

    /* rn_filter_add_lab registers faulty on demand, and says so. */
    capture_begin();
    assert_int_equal(rn_filter_add_lab(P.b, "layer=listen,lport=99,action=callout:faulty,"
                                            "arg=pend", &id, err, sizeof(err)), 0);
    capture_end();
    assert_true(capture_has("lab-only callout 'faulty'"));
    co = rn_callout_find(P.b, "faulty");
    assert_non_null(co);
    assert_int_equal(rn_callout_faulty_register(P.b), RN_EEXIST);
    add_bad(P.b, "layer=inbound-ip,action=callout:faulty,arg=pend", RN_EINVAL,
            "arg=pend needs a layer that can pend");
    add_bad(P.b, "layer=inbound-ip,action=callout:faulty,arg=leak", RN_EINVAL,
            "arg=leak needs a layer with flows");
    add_bad(P.b, "layer=listen,action=callout:faulty,arg=zap", RN_EINVAL, "not 'arg=zap'");
    /* A callout named by a filter stays. */
    assert_int_equal(rn_callout_unregister(co), RN_EBUSY);

    /* Listings: text and JSON, filters, callouts, layers. */
    rn__render_filters(P.b, &sb, false);
    assert_non_null(strstr(rn_strbuf_str(&sb), "layer=listen,lport=99,action=callout:faulty,"
                                               "arg=pend"));
    assert_non_null(strstr(rn_strbuf_str(&sb), "lab_only yes"));
    assert_non_null(strstr(rn_strbuf_str(&sb), "portblock"));
    rn_strbuf_reset(&sb);
    rn__render_filters(P.b, &sb, true);
    assert_non_null(strstr(rn_strbuf_str(&sb), "{\"filters\":[{\"id\":"));
    assert_non_null(strstr(rn_strbuf_str(&sb), "\"callout\":\"faulty\""));
    assert_non_null(strstr(rn_strbuf_str(&sb), "\"callouts\":[{\"name\":"));
    assert_non_null(strstr(rn_strbuf_str(&sb), "\"lab_only\":\"yes\""));
    assert_non_null(strstr(rn_strbuf_str(&sb), "\"layers\":[{\"layer\":\"inbound-ip\""));
    rn_strbuf_reset(&sb);
    rn__render_stats(P.b, &sb, false);
    assert_non_null(strstr(rn_strbuf_str(&sb), "filter.filters"));
    assert_non_null(strstr(rn_strbuf_str(&sb), "filter.blocked"));
    rn_strbuf_free(&sb);

    /* Without its filter, the callout can go. */
    assert_int_equal(rn_filter_del(P.b, id), 0);
    assert_int_equal(rn_callout_unregister(co), 0);
    assert_null(rn_callout_find(P.b, "faulty"));
    rn_filter_layer_stats(P.b, RN_FL_LISTEN, &ls);
    assert_int_equal(ls.fls_classified, 0);
    fpair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_blocked_at_each_packet_layer),
        cmocka_unit_test(test_weights_decide),
        cmocka_unit_test(test_tcp_blocked_at_connect_listen_accept),
        cmocka_unit_test(test_tcp_blocked_inbound_segments_go_unanswered),
        cmocka_unit_test(test_api_errors_and_listings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
