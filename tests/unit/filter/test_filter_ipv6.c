/*
 * The filtering platform over IPv6, between two stacks that speak IPv4 and
 * IPv6 on a simulated cable, in virtual time.  A block by an IPv6 address
 * or prefix at each layer (inbound-ip, outbound-ip, inbound-transport,
 * outbound-transport, connect, listen, accept) stops a TCP connection or a
 * UDP datagram over IPv6 and is counted, while the same over IPv4 to the
 * same port goes through; an IPv6 prefix never matches IPv4 (::/0 not
 * even IPv4 on a dual-stack listener) and an IPv4 one never IPv6; the
 * values a callout sees carry the real addresses of each family; connlog
 * writes IPv6 endpoints in brackets and portblock refuses IPv6
 * connections.  Every test ends with nothing held and no object alive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helper_filter.h"
#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/object.h"
#include "refnet/report.h"
#include "refnet/socket.h"
#include "support.h"

static struct rn_ip6 ip6(const char *s)
{
    struct rn_ip6 a;

    assert_int_equal(rn_ip6_addr_parse(s, &a, NULL), 0);
    return a;
}

static struct rn_sockaddr_in sa6(const char *addr, uint16_t port)
{
    return (struct rn_sockaddr_in){.sin_family = RN_AF_INET6, .sin_port = port,
                                   .sin6_addr = ip6(addr)};
}

static struct rn_sockaddr_in sa4(uint32_t addr, uint16_t port)
{
    return (struct rn_sockaddr_in){.sin_addr = addr, .sin_port = port};
}

/* The listener of port 80 the tests connect to, and its accepts: one is
 * kept posted, and what it accepts is closed at once. */
static int hl80;
static struct rec acc;
static unsigned acc_done;
static bool acc_posted;

/* b's receives: one kept posted (a blocked datagram leaves it waiting for
 * the next), into storage that outlives the test's calls. */
static struct rec rcv;
static unsigned rcv_done;
static bool rcv_posted;
static char rcv_buf[16];

/* The pair with IPv6 and the platform on both stacks. */
static void up6(void)
{
    struct pair_params pp = {.pp_seed = 11, .pp_filter = true, .pp_procs = true,
                             .pp_ipv6 = true};

    pair_up_with(&pp);
    hl80 = 0;
    memset(&acc, 0, sizeof(acc));
    acc_done = 0;
    acc_posted = false;
    memset(&rcv, 0, sizeof(rcv));
    rcv_done = 0;
    rcv_posted = false;
}

/* A stream listener of b on addr:port: AF_INET6 on :: is dual-stack.
 * Returns its handle, or listen's error. */
static int listen_on(bool inet6, uint16_t port)
{
    struct rn_sockaddr_in a = inet6 ? sa6("::", port) : sa4(0, port);
    int h = rn_sock_open(P.pb, RN_SOCK_STREAM | (inet6 ? RN_SOCK_INET6 : 0), 0), err;

    assert_true(h > 0);
    assert_int_equal(rn_sock_bind(P.pb, h, &a), 0);
    err = rn_sock_listen(P.pb, h, 8);
    return err < 0 ? err : h;
}

/* Connects a new client of a to b:port over IPv6 (or IPv4) and runs the
 * pair for 100 ms.  Returns the connect's result (1: still pending), and
 * closes the client and what hl80 accepted. */
static ssize_t try_connect(bool over6, uint16_t port)
{
    struct rn_sockaddr_in to = over6 ? sa6(ADDR6_B, port) : sa4(ADDR_B, port);
    const struct rn_sock_completion *c;
    struct rec r = {0}, rc = {0};
    int h = rn_sock_open(P.pa, RN_SOCK_STREAM | (over6 ? RN_SOCK_INET6 : 0), 0);
    ssize_t res;

    assert_true(h > 0);
    if (hl80 > 0 && !acc_posted) {
        submit(P.pb, RN_SOP_ACCEPT, hl80, NULL, 0, NULL, &acc);
        acc_posted = true;
    }
    submit(P.pa, RN_SOP_CONNECT, h, NULL, 0, &to, &r);
    run_for(RN_MSEC(100));
    c = last_of(&r, RN_SOP_CONNECT);
    res = c != NULL ? c->sc_result : 1;
    submit(P.pa, RN_SOP_CLOSE, h, NULL, 0, NULL, &rc);
    if (acc.n > acc_done) {
        c = &acc.c[acc_done++];
        acc_posted = false;
        if (c->sc_result > 0)
            submit(P.pb, RN_SOP_CLOSE, (int)c->sc_result, NULL, 0, NULL, &rc);
    }
    run_for(RN_MSEC(10));
    return res;
}

/* ---- A callout that records what it is asked about ---------------------------- */

struct seen {
    unsigned s_calls;
    struct rn_filter_values s_last;
};

static int seen_classify(struct rn_callout *co, const struct rn_classify *cl)
{
    struct seen *s = rn_callout_ctx(co);

    s->s_calls++;
    s->s_last = *cl->cl_values;
    return RN_FILTER_CONTINUE;
}

static const struct rn_callout_ops seen_ops = {
    .co_name = "seen",
    .co_classify = seen_classify,
};

static void assert_addr6(const struct rn_inaddr *a, const char *want)
{
    char txt[RN_IP6_STRLEN];

    assert_false(rn_inaddr_is_v4(a));
    assert_string_equal(rn_ip6_addr_fmt(&a->ia_ip6, txt), want);
}

static void assert_addr4(const struct rn_inaddr *a, uint32_t want)
{
    assert_true(rn_inaddr_is_v4(a));
    assert_int_equal(rn_inaddr_to_v4(a), want);
}

/* ---- TCP at every layer ------------------------------------------------------- */

/* A block at one layer of one stack, for IPv6 traffic only. */
struct layer_case {
    bool lc_on_a;          /* the filter goes on a (the client), else b */
    const char *lc_spec;
    ssize_t lc_v6_result;  /* what the IPv6 connect gets */
    bool lc_dropped;       /* a packet is dropped as "filter_blocked" */
};

static void test_tcp_blocked_by_ipv6_prefix_at_each_layer(void **state)
{
    static const struct layer_case cases[] = {
        {false, "layer=accept,raddr=2001:2::/64,lport=80,action=block", RN_ECONNREFUSED, true},
        {false, "layer=inbound-transport,proto=tcp,raddr=2001:2::2,lport=80,action=block", 1,
         true},
        {false, "layer=inbound-ip,proto=tcp,laddr=2001:2::3,action=block", 1, true},
        {true, "layer=connect,raddr=2001:2::/48,rport=80,action=block", RN_EACCES, false},
        {true, "layer=outbound-transport,proto=tcp,laddr=2001:2::2/128,action=block", 1, true},
        {true, "layer=outbound-ip,proto=tcp,raddr=2001:2::3,rport=80,action=block", 1, true},
    };
    struct rn_stack *st;
    uint64_t id, drops, hits;
    unsigned i;

    (void)state;
    up6();
    hl80 = listen_on(true, 80);  /* dual-stack */
    assert_true(hl80 > 0);
    /* Unfiltered, both families connect. */
    assert_int_equal(try_connect(true, 80), 0);
    assert_int_equal(try_connect(false, 80), 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct layer_case *lc = &cases[i];

        st = lc->lc_on_a ? P.a : P.b;
        drops = filter_drops(st);
        id = add_filter(st, lc->lc_spec);
        /* IPv6 is stopped, as the layer stops things. */
        if (try_connect(true, 80) != lc->lc_v6_result)
            fail_msg("'%s': the IPv6 connect did not get %zd", lc->lc_spec, lc->lc_v6_result);
        assert_true(rn_filter_hits(st, id) >= 1);
        if (lc->lc_dropped)
            assert_true(filter_drops(st) > drops);
        else
            assert_int_equal(filter_drops(st), drops);
        /* IPv4 to the same port is not matched. */
        hits = rn_filter_hits(st, id);
        if (try_connect(false, 80) != 0)
            fail_msg("'%s': the IPv4 connect was stopped", lc->lc_spec);
        assert_int_equal(rn_filter_hits(st, id), hits);
        assert_int_equal(rn_filter_del(st, id), 0);
        /* Deleted, IPv6 goes through again. */
        assert_int_equal(try_connect(true, 80), 0);
    }
    fpair_down();
}

/* An address of one family never matches the other's traffic, even a
 * prefix of every address (an IPv4 client of a dual-stack listener is
 * IPv4). */
static void test_family_is_part_of_the_match(void **state)
{
    uint64_t id;

    (void)state;
    up6();
    hl80 = listen_on(true, 80);
    assert_true(hl80 > 0);
    id = add_filter(P.b, "layer=accept,raddr=::/0,action=block");
    assert_int_equal(try_connect(true, 80), RN_ECONNREFUSED);
    assert_int_equal(try_connect(false, 80), 0);
    assert_int_equal(rn_filter_hits(P.b, id), 1);
    assert_int_equal(rn_filter_del(P.b, id), 0);
    id = add_filter(P.b, "layer=accept,raddr=0.0.0.0/0,action=block");
    assert_int_equal(try_connect(false, 80), RN_ECONNREFUSED);
    assert_int_equal(try_connect(true, 80), 0);
    assert_int_equal(rn_filter_hits(P.b, id), 1);
    assert_int_equal(rn_filter_del(P.b, id), 0);
    /* An IPv4 prefix held mapped is not an IPv6 prefix of ::ffff:0:0/96:
     * /16 means sixteen bits of the IPv4 address. */
    id = add_filter(P.b, "layer=accept,raddr=198.18.0.0/16,laddr=198.18.0.3,action=block");
    assert_int_equal(try_connect(false, 80), RN_ECONNREFUSED);
    assert_int_equal(try_connect(true, 80), 0);
    assert_int_equal(rn_filter_del(P.b, id), 0);
    /* Listen: a listener on :: is IPv6, one on 0.0.0.0 IPv4. */
    id = add_filter(P.b, "layer=listen,laddr=::/0,lport=81-82,action=block");
    assert_int_equal(listen_on(true, 81), RN_EACCES);
    assert_true(listen_on(false, 82) > 0);
    assert_int_equal(rn_filter_hits(P.b, id), 1);
    assert_int_equal(rn_filter_del(P.b, id), 0);
    id = add_filter(P.b, "layer=listen,laddr=0.0.0.0/0,lport=83-84,action=block");
    assert_int_equal(listen_on(false, 83), RN_EACCES);
    assert_true(listen_on(true, 84) > 0);
    assert_int_equal(rn_filter_hits(P.b, id), 1);
    fpair_down();
}

/* What a callout is handed carries the addresses of the traffic's family. */
static void test_callout_values_carry_ipv6(void **state)
{
    struct seen s = {0};

    (void)state;
    up6();
    assert_int_equal(rn_callout_register(P.b, &seen_ops, &s, NULL), 0);
    assert_int_equal(rn_callout_register(P.a, &seen_ops, &s, NULL), 0);
    add_filter(P.b, "layer=accept,action=callout:seen");
    hl80 = listen_on(true, 80);
    assert_true(hl80 > 0);
    assert_int_equal(try_connect(true, 80), 0);
    assert_int_equal(s.s_calls, 1);
    assert_int_equal(s.s_last.fv_layer, RN_FL_ACCEPT);
    assert_addr6(&s.s_last.fv_laddr, ADDR6_B);
    assert_addr6(&s.s_last.fv_raddr, ADDR6_A);
    assert_int_equal(s.s_last.fv_lport, 80);
    /* IPv4 on the dual-stack listener: IPv4 (mapped). */
    assert_int_equal(try_connect(false, 80), 0);
    assert_int_equal(s.s_calls, 2);
    assert_addr4(&s.s_last.fv_laddr, ADDR_B);
    assert_addr4(&s.s_last.fv_raddr, ADDR_A);
    /* Listen: the listener's address, and no peer of its family. */
    add_filter(P.b, "layer=listen,action=callout:seen");
    assert_true(listen_on(true, 81) > 0);
    assert_addr6(&s.s_last.fv_laddr, "::");
    assert_addr6(&s.s_last.fv_raddr, "::");
    assert_true(listen_on(false, 82) > 0);
    assert_addr4(&s.s_last.fv_laddr, 0);
    assert_addr4(&s.s_last.fv_raddr, 0);
    /* The packet layers: ports and the upper layer's protocol too. */
    add_filter(P.a, "layer=outbound-ip,proto=tcp,action=callout:seen");
    s.s_calls = 0;
    assert_int_equal(try_connect(true, 80), 0);
    assert_true(s.s_calls >= 2);
    assert_int_equal(s.s_last.fv_layer, RN_FL_OUTBOUND_IP);
    assert_int_equal(s.s_last.fv_proto, RN_IPPROTO_TCP);
    assert_addr6(&s.s_last.fv_laddr, ADDR6_A);
    assert_addr6(&s.s_last.fv_raddr, ADDR6_B);
    assert_int_equal(s.s_last.fv_rport, 80);
    fpair_down();
}

/* ---- UDP and ICMPv6 ------------------------------------------------------------ */

/* Sends one datagram from a's socket (ha6 over IPv6, ha4 over IPv4) to b's
 * socket hb, port 7000; returns the send's result, and whether hb got it. */
static ssize_t udp_one(int ha6, int ha4, bool over6, int hb, bool *got)
{
    struct rn_sockaddr_in to = over6 ? sa6(ADDR6_B, 7000) : sa4(ADDR_B, 7000);
    struct rec ra = {0};

    if (!rcv_posted) {
        submit(P.pb, RN_SOP_RECV, hb, rcv_buf, sizeof(rcv_buf), NULL, &rcv);
        rcv_posted = true;
    }
    submit(P.pa, RN_SOP_SEND, over6 ? ha6 : ha4, "ping", 4, &to, &ra);
    run_for(RN_MSEC(20));
    *got = rcv.n > rcv_done;
    if (*got) {
        assert_int_equal(rcv.c[rcv_done++].sc_result, 4);
        rcv_posted = false;
    }
    return last_of(&ra, RN_SOP_SEND)->sc_result;
}

static void test_udp_blocked_by_ipv6_prefix(void **state)
{
    static const struct {
        bool on_a;
        const char *spec;
        ssize_t send;  /* what the IPv6 send returns */
    } cases[] = {
        {false, "layer=inbound-ip,proto=udp,raddr=2001:2::/64,lport=7000,action=block", 4},
        {false, "layer=inbound-transport,proto=udp,raddr=2001:2::2,action=block", 4},
        {true, "layer=outbound-transport,proto=udp,raddr=2001:2::3/128,action=block",
         RN_EACCES},
        {true, "layer=outbound-ip,proto=udp,laddr=2001:2::/48,rport=7000,action=block",
         RN_EACCES},
    };
    struct rn_sockaddr_in any = sa6("::", 7000);
    struct rn_stack *st;
    uint64_t id, drops;
    unsigned i;
    bool got;
    int hb, ha6, ha4;

    (void)state;
    up6();
    hb = rn_sock_open(P.pb, RN_SOCK_DGRAM | RN_SOCK_INET6, 0);
    assert_int_equal(rn_sock_bind(P.pb, hb, &any), 0);
    ha6 = rn_sock_open(P.pa, RN_SOCK_DGRAM | RN_SOCK_INET6, 0);
    ha4 = rn_sock_open(P.pa, RN_SOCK_DGRAM, 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        st = cases[i].on_a ? P.a : P.b;
        assert_int_equal(udp_one(ha6, ha4, true, hb, &got), 4);
        assert_true(got);
        drops = filter_drops(st);
        id = add_filter(st, cases[i].spec);
        assert_int_equal(udp_one(ha6, ha4, true, hb, &got), cases[i].send);
        assert_false(got);
        assert_int_equal(filter_drops(st), drops + 1);
        assert_int_equal(rn_filter_hits(st, id), 1);
        /* IPv4 to the same socket passes. */
        assert_int_equal(udp_one(ha6, ha4, false, hb, &got), 4);
        assert_true(got);
        assert_int_equal(rn_filter_hits(st, id), 1);
        assert_int_equal(rn_filter_del(st, id), 0);
    }
    fpair_down();
}

/* ---- The built-in callouts over IPv6 --------------------------------------------- */

static void test_connlog_and_portblock_over_ipv6(void **state)
{
    (void)state;
    up6();
    hl80 = listen_on(true, 80);
    assert_true(hl80 > 0);
    assert_true(listen_on(true, 22) > 0);
    add_filter(P.b, "layer=accept,lport=80,action=callout:connlog");
    add_filter(P.b, "layer=accept,raddr=2001:2::/48,action=callout:portblock,arg=22");
    capture_begin();
    assert_int_equal(try_connect(true, 80), 0);
    assert_true(capture_has("connlog: tcp [2001:2::3]:80 <- [2001:2::2]:"));
    assert_true(capture_has(" established"));
    assert_int_equal(try_connect(false, 80), 0);
    assert_true(capture_has("connlog: tcp 198.18.0.3:80 <- 198.18.0.2:"));
    /* portblock by an IPv6 prefix: IPv6 to 22 refused, IPv4 let in. */
    assert_int_equal(try_connect(true, 22), RN_ECONNREFUSED);
    assert_int_equal(rn_callout_portblock_blocked(P.b), 1);
    assert_int_equal(try_connect(false, 22), 0);
    assert_int_equal(rn_callout_portblock_blocked(P.b), 1);
    run_for(RN_SEC(1));
    fpair_down();  /* fails if connlog kept a hold */
    assert_true(capture_has("<- [2001:2::2]:"));
    assert_true(capture_has(" ended after "));
    capture_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_blocked_by_ipv6_prefix_at_each_layer),
        cmocka_unit_test(test_family_is_part_of_the_match),
        cmocka_unit_test(test_callout_values_carry_ipv6),
        cmocka_unit_test(test_udp_blocked_by_ipv6_prefix),
        cmocka_unit_test(test_connlog_and_portblock_over_ipv6),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
