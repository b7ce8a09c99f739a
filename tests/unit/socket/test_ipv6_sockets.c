/*
 * AF_INET6 sockets between two stacks on a simulated cable that speak IPv4
 * and IPv6, in virtual time: a TCP connection and its data over IPv6 with
 * IPv6 names on both ends; a dual-stack listener on :: that accepts an
 * IPv4 client as a mapped address, an AF_INET socket that may not share
 * its port, and IPV6_V6ONLY, which refuses the IPv4 client and leaves the
 * port to an AF_INET listener; UDP both ways over IPv6 and an ICMPv6
 * port unreachable; a handshake from a SYN cookie over IPv6; the address
 * family checks of bind and connect; TCP's MSS over IPv6 (the MTU less
 * 60); the ledger's descriptions of sockets and endpoints naming IPv6
 * (and mapped) addresses.  Every test ends with no object left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/socket.h"
#include "refnet/stack.h"
#include "refnet/tcp.h"
#include "support.h"

static struct rn_ip6 ip6(const char *s)
{
    struct rn_ip6 a;

    assert_int_equal(rn_ip6_addr_parse(s, &a, NULL), 0);
    return a;
}

/* An AF_INET6 socket address. */
static struct rn_sockaddr_in sa6(const char *addr, uint16_t port)
{
    return (struct rn_sockaddr_in){.sin_family = RN_AF_INET6, .sin_port = port,
                                   .sin6_addr = ip6(addr)};
}

static void up(void)
{
    struct pair_params pp = {.pp_ipv6 = true, .pp_procs = true};

    pair_up_with(&pp);
}

static void down(void)
{
    pair_down();
    check_live_objects(0);
}

/* A listener of b on addr:port (AF_INET6 if inet6), V6ONLY if asked, with
 * an accept pending into r.  Returns its handle, or the error. */
static int listen_on(bool inet6, const struct rn_sockaddr_in *addr, bool v6only, struct rec *r)
{
    int h = rn_sock_open(P.pb, RN_SOCK_STREAM | (inet6 ? RN_SOCK_INET6 : 0), 0), err;

    assert_true(h > 0);
    if (v6only)
        assert_int_equal(rn_sock_setopt(P.pb, h, RN_IPV6_V6ONLY, 1), 0);
    err = rn_sock_bind(P.pb, h, addr);
    if (err == 0)
        err = rn_sock_listen(P.pb, h, 4);
    if (err < 0) {
        submit(P.pb, RN_SOP_CLOSE, h, NULL, 0, NULL, r);
        return err;
    }
    submit(P.pb, RN_SOP_ACCEPT, h, NULL, 0, NULL, r);
    return h;
}

/* A client socket of a connecting to to; the connect's completion in r. */
static int connect_to(bool inet6, const struct rn_sockaddr_in *to, struct rec *r)
{
    int h = rn_sock_open(P.pa, RN_SOCK_STREAM | (inet6 ? RN_SOCK_INET6 : 0), 0);

    assert_true(h > 0);
    submit(P.pa, RN_SOP_CONNECT, h, NULL, 0, to, r);
    return h;
}

static void close_h(struct rn_proc *p, int h, struct rec *r)
{
    submit(p, RN_SOP_CLOSE, h, NULL, 0, NULL, r);
}

static void test_tcp_over_ipv6(void **state)
{
    struct rn_sockaddr_in any = sa6("::", 80), to = sa6(ADDR6_B, 80), l, rm;
    const struct rn_sock_completion *c;
    struct rec ra = {0}, rb = {0}, rx = {0};
    struct rn_tcp_info ti;
    char buf[64], txt[RN_IP6_STRLEN];
    int hl, hc, hs;

    (void)state;
    up();
    hl = listen_on(true, &any, false, &rb);
    hc = connect_to(true, &to, &ra);
    run_for(RN_MSEC(100));
    c = last_of(&ra, RN_SOP_CONNECT);
    assert_non_null(c);
    assert_int_equal(c->sc_result, 0);
    c = last_of(&rb, RN_SOP_ACCEPT);
    assert_non_null(c);
    assert_true(c->sc_result > 0);
    hs = (int)c->sc_result;
    /* The peer as accept gives it: IPv6, no IPv4 address. */
    assert_int_equal(c->sc_addr.sin_family, RN_AF_INET6);
    assert_string_equal(rn_ip6_addr_fmt(&c->sc_addr.sin6_addr, txt), ADDR6_A);
    assert_int_equal(c->sc_addr.sin_addr, 0);
    assert_int_equal(rn_sock_getname(P.pa, hc, &l, &rm), 0);
    assert_int_equal(l.sin_family, RN_AF_INET6);
    assert_string_equal(rn_ip6_addr_fmt(&l.sin6_addr, txt), ADDR6_A);
    assert_int_equal(l.sin_port, c->sc_addr.sin_port);
    assert_string_equal(rn_ip6_addr_fmt(&rm.sin6_addr, txt), ADDR6_B);
    assert_int_equal(rm.sin_port, 80);
    /* The ledger names both ends of the sockets (what a diagnosis chain
     * shows of them). */
    {
        char want[96], desc[256];
        void *so;

        snprintf(want, sizeof(want), "tcp [%s]:%u peer [%s]:80 open", ADDR6_A, l.sin_port,
                 ADDR6_B);
        so = find_object("socket", want);
        assert_non_null(so);
        rn_ob_deref(so, RN_TAG_LOOKUP);
        snprintf(want, sizeof(want), "tcp [%s]:80 peer [%s]:%u open", ADDR6_B, ADDR6_A,
                 l.sin_port);
        so = find_object("socket", want);
        assert_non_null(so);
        rn_ob_describe(so, desc, sizeof(desc));
        rn_ob_deref(so, RN_TAG_LOOKUP);
        assert_non_null(strstr(desc, want));
        so = find_object("socket", "tcp [::]:80 open");  /* the listener */
        assert_non_null(so);
        rn_ob_deref(so, RN_TAG_LOOKUP);
    }
    /* The MSS over IPv6: 1500 - 40 - 20, less 12 for timestamps. */
    assert_int_equal(rn_sock_tcp_info(P.pa, hc, &ti), 0);
    assert_int_equal(ti.ti_snd_mss, 1500 - 60 - 12);
    /* Data both ways. */
    submit(P.pa, RN_SOP_SEND, hc, "over ipv6", 9, NULL, &rx);
    submit(P.pb, RN_SOP_RECV, hs, buf, sizeof(buf), NULL, &rx);
    run_for(RN_MSEC(50));
    c = last_of(&rx, RN_SOP_RECV);
    assert_non_null(c);
    assert_int_equal(c->sc_result, 9);
    assert_memory_equal(buf, "over ipv6", 9);
    close_h(P.pa, hc, &rx);
    close_h(P.pb, hs, &rx);
    close_h(P.pb, hl, &rx);
    run_for(RN_SEC(130));  /* TIME_WAIT too */
    down();
}

static void test_dual_stack_and_v6only(void **state)
{
    struct rn_sockaddr_in any6 = sa6("::", 81), any4 = {.sin_addr = 0, .sin_port = 81};
    struct rn_sockaddr_in to4 = {.sin_addr = ADDR_B, .sin_port = 81}, l;
    const struct rn_sock_completion *c;
    struct rec ra = {0}, rb = {0}, rb4 = {0}, rx = {0};
    char txt[RN_IP6_STRLEN];
    int hl, hl4, hc, hs;

    (void)state;
    up();
    /* Dual-stack: an IPv4 client, seen as ::ffff:198.18.0.2. */
    hl = listen_on(true, &any6, false, &rb);
    assert_int_equal(listen_on(false, &any4, false, &rx), RN_EADDRINUSE);
    hc = connect_to(false, &to4, &ra);
    run_for(RN_MSEC(100));
    c = last_of(&ra, RN_SOP_CONNECT);
    assert_non_null(c);
    assert_int_equal(c->sc_result, 0);
    c = last_of(&rb, RN_SOP_ACCEPT);
    assert_non_null(c);
    assert_true(c->sc_result > 0);
    hs = (int)c->sc_result;
    assert_int_equal(c->sc_addr.sin_family, RN_AF_INET6);
    assert_string_equal(rn_ip6_addr_fmt(&c->sc_addr.sin6_addr, txt), "::ffff:198.18.0.2");
    assert_int_equal(c->sc_addr.sin_addr, ADDR_A);
    assert_int_equal(rn_sock_getname(P.pb, hs, &l, NULL), 0);
    assert_string_equal(rn_ip6_addr_fmt(&l.sin6_addr, txt), "::ffff:198.18.0.3");
    /* In the ledger as getsockname() gives them: mapped on the AF_INET6
     * socket, plain IPv4 on the client's AF_INET one. */
    {
        void *so = find_object("socket", "tcp [::ffff:198.18.0.3]:81 peer [::ffff:198.18.0.2]:");

        assert_non_null(so);
        rn_ob_deref(so, RN_TAG_LOOKUP);
        so = find_object("socket", " peer 198.18.0.3:81 open");
        assert_non_null(so);
        rn_ob_deref(so, RN_TAG_LOOKUP);
    }
    close_h(P.pa, hc, &rx);
    close_h(P.pb, hs, &rx);
    close_h(P.pb, hl, &rx);
    run_for(RN_SEC(130));

    /* V6ONLY: the IPv4 client is refused; the port is free for IPv4,
     * whose listener then takes it. */
    memset(&ra, 0, sizeof(ra));
    memset(&rb, 0, sizeof(rb));
    hl = listen_on(true, &any6, true, &rb);
    hc = connect_to(false, &to4, &ra);
    run_for(RN_MSEC(100));
    c = last_of(&ra, RN_SOP_CONNECT);
    assert_non_null(c);
    assert_int_equal(c->sc_result, RN_ECONNREFUSED);
    assert_null(last_of(&rb, RN_SOP_ACCEPT));
    close_h(P.pa, hc, &rx);
    hl4 = listen_on(false, &any4, false, &rb4);
    assert_true(hl4 > 0);
    memset(&ra, 0, sizeof(ra));
    hc = connect_to(false, &to4, &ra);
    run_for(RN_MSEC(100));
    c = last_of(&rb4, RN_SOP_ACCEPT);
    assert_non_null(c);
    assert_true(c->sc_result > 0);
    assert_int_equal(c->sc_addr.sin_family, RN_AF_INET);
    assert_int_equal(c->sc_addr.sin_addr, ADDR_A);
    hs = (int)c->sc_result;
    /* A V6ONLY socket may not reach IPv4 through a mapped address; the
     * option is fixed once bound, and IPv6's alone. */
    {
        struct rn_sockaddr_in mapped = sa6("::ffff:198.18.0.3", 81);
        int h = rn_sock_open(P.pa, RN_SOCK_STREAM | RN_SOCK_INET6, 0), h4;
        struct rec rc = {0};

        assert_int_equal(rn_sock_setopt(P.pa, h, RN_IPV6_V6ONLY, 1), 0);
        submit(P.pa, RN_SOP_CONNECT, h, NULL, 0, &mapped, &rc);
        run_for(RN_MSEC(10));
        assert_int_equal(last_of(&rc, RN_SOP_CONNECT)->sc_result, RN_ENETUNREACH);
        close_h(P.pa, h, &rx);
        assert_int_equal(rn_sock_setopt(P.pb, hl, RN_IPV6_V6ONLY, 0), RN_EINVAL);
        h4 = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
        assert_int_equal(rn_sock_setopt(P.pa, h4, RN_IPV6_V6ONLY, 1), RN_ENOPROTOOPT);
        close_h(P.pa, h4, &rx);
    }
    close_h(P.pa, hc, &rx);
    close_h(P.pb, hs, &rx);
    close_h(P.pb, hl, &rx);
    close_h(P.pb, hl4, &rx);
    run_for(RN_SEC(130));
    down();
}

struct counter_want {
    const char *name;
    uint64_t value;
};

static void counter_of(const struct rn_stack_counter *c, void *ctx)
{
    struct counter_want *w = ctx;

    if (strcmp(c->sc_name, w->name) == 0)
        w->value = c->sc_value;
}

static uint64_t counter(struct rn_stack *st, const char *name)
{
    struct counter_want w = {name, 0};

    rn_stack_counters(st, counter_of, &w);
    return w.value;
}

/* With tcp.syncookies 2 every SYN is answered with a cookie: the
 * handshake over IPv6 completes from the cookie alone. */
static void test_syncookie_over_ipv6(void **state)
{
    struct rn_sockaddr_in any = sa6("::", 82), to = sa6(ADDR6_B, 82);
    const struct rn_sock_completion *c;
    struct rec ra = {0}, rb = {0}, rx = {0};
    int hl, hc;

    (void)state;
    up();
    assert_int_equal(rn_tcp_setting_set(P.b, "tcp.syncookies", "2"), 0);
    hl = listen_on(true, &any, false, &rb);
    hc = connect_to(true, &to, &ra);
    run_for(RN_MSEC(100));
    c = last_of(&ra, RN_SOP_CONNECT);
    assert_non_null(c);
    assert_int_equal(c->sc_result, 0);
    c = last_of(&rb, RN_SOP_ACCEPT);
    assert_non_null(c);
    assert_true(c->sc_result > 0);
    assert_int_equal(counter(P.b, "tcp.syncookies_sent"), 1);
    assert_int_equal(counter(P.b, "tcp.syncookies_ok"), 1);
    close_h(P.pb, (int)c->sc_result, &rx);
    close_h(P.pa, hc, &rx);
    close_h(P.pb, hl, &rx);
    run_for(RN_SEC(130));
    down();
}

static void test_udp_over_ipv6_and_families(void **state)
{
    struct rn_sockaddr_in any = sa6("::", 53), to = sa6(ADDR6_B, 53), closed = sa6(ADDR6_B, 54);
    struct rn_sockaddr_in v4 = {.sin_addr = 0, .sin_port = 55}, from;
    const struct rn_sock_completion *c;
    struct rec ra = {0}, rb = {0}, rx = {0};
    struct rn_udp_stats us;
    char buf[64], txt[RN_IP6_STRLEN];
    int hb, ha, h4, h6;

    (void)state;
    up();
    hb = rn_sock_open(P.pb, RN_SOCK_DGRAM | RN_SOCK_INET6, 0);
    assert_int_equal(rn_sock_bind(P.pb, hb, &any), 0);
    ha = rn_sock_open(P.pa, RN_SOCK_DGRAM | RN_SOCK_INET6, 0);
    submit(P.pb, RN_SOP_RECV, hb, buf, sizeof(buf), NULL, &rb);
    submit(P.pa, RN_SOP_SEND, ha, "dgram6", 6, &to, &ra);
    run_for(RN_MSEC(20));
    c = last_of(&rb, RN_SOP_RECV);
    assert_non_null(c);
    assert_int_equal(c->sc_result, 6);
    assert_memory_equal(buf, "dgram6", 6);
    from = c->sc_addr;
    assert_int_equal(from.sin_family, RN_AF_INET6);
    assert_string_equal(rn_ip6_addr_fmt(&from.sin6_addr, txt), ADDR6_A);
    {
        void *ep = find_object("udp endpoint", "udp endpoint [::]:53 rcvq");

        assert_non_null(ep);
        rn_ob_deref(ep, RN_TAG_LOOKUP);
    }
    /* The answer goes back to the address recvfrom gave. */
    submit(P.pb, RN_SOP_SEND, hb, "back", 4, &from, &rb);
    submit(P.pa, RN_SOP_RECV, ha, buf, sizeof(buf), NULL, &ra);
    run_for(RN_MSEC(20));
    c = last_of(&ra, RN_SOP_RECV);
    assert_non_null(c);
    assert_int_equal(c->sc_result, 4);
    assert_string_equal(rn_ip6_addr_fmt(&c->sc_addr.sin6_addr, txt), ADDR6_B);
    assert_int_equal(c->sc_addr.sin_port, 53);
    /* A closed port: ICMPv6 port unreachable, counted. */
    rn_udp_stats(P.b, &us);
    submit(P.pa, RN_SOP_SEND, ha, "nobody", 6, &closed, &ra);
    run_for(RN_MSEC(20));
    {
        struct rn_udp_stats us2;

        rn_udp_stats(P.b, &us2);
        assert_int_equal(us2.us_no_port, us.us_no_port + 1);
    }
    /* Families: each socket takes its own form only. */
    h4 = rn_sock_open(P.pa, RN_SOCK_DGRAM, 0);
    assert_int_equal(rn_sock_bind(P.pa, h4, &any), RN_EAFNOSUPPORT);
    assert_int_equal(rn_sock_bind(P.pa, h4, &v4), 0);
    h6 = rn_sock_open(P.pa, RN_SOCK_DGRAM | RN_SOCK_INET6, 0);
    assert_int_equal(rn_sock_bind(P.pa, h6, &v4), RN_EAFNOSUPPORT);
    close_h(P.pa, h4, &rx);
    close_h(P.pa, h6, &rx);
    close_h(P.pa, ha, &rx);
    close_h(P.pb, hb, &rx);
    run_for(RN_MSEC(50));
    down();
}

/* The largest UDP datagram: 65,527 bytes over IPv6 (its payload length
 * leaves out its own header), crossing in fragments and arriving whole;
 * one byte more is EMSGSIZE, and so is IPv4's limit plus one to a mapped
 * address from the same AF_INET6 socket. */
static void test_udp_largest_over_ipv6(void **state)
{
    static uint8_t sbuf[RN_UDP6_MAX_PAYLOAD + 1], rbuf[65536];
    struct rn_sockaddr_in any = sa6("::", 60), to = sa6(ADDR6_B, 60);
    struct rn_sockaddr_in to4 = sa6("::ffff:198.18.0.3", 60);
    const struct rn_sock_completion *c;
    struct rec ra = {0}, rb = {0}, rx = {0};
    int ha, hb;

    (void)state;
    for (size_t j = 0; j < sizeof(sbuf); j++)
        sbuf[j] = (uint8_t)(j ^ (j >> 8));
    up();
    hb = rn_sock_open(P.pb, RN_SOCK_DGRAM | RN_SOCK_INET6, 0);
    assert_int_equal(rn_sock_bind(P.pb, hb, &any), 0);
    ha = rn_sock_open(P.pa, RN_SOCK_DGRAM | RN_SOCK_INET6, 0);
    submit(P.pb, RN_SOP_RECV, hb, rbuf, sizeof(rbuf), NULL, &rb);
    submit(P.pa, RN_SOP_SEND, ha, sbuf, RN_UDP6_MAX_PAYLOAD, &to, &ra);
    run_for(RN_MSEC(50));
    c = last_of(&ra, RN_SOP_SEND);
    assert_non_null(c);
    assert_int_equal(c->sc_result, RN_UDP6_MAX_PAYLOAD);
    c = last_of(&rb, RN_SOP_RECV);
    assert_non_null(c);
    assert_int_equal(c->sc_result, RN_UDP6_MAX_PAYLOAD);
    assert_memory_equal(rbuf, sbuf, RN_UDP6_MAX_PAYLOAD);
    submit(P.pa, RN_SOP_SEND, ha, sbuf, RN_UDP6_MAX_PAYLOAD + 1, &to, &ra);
    submit(P.pa, RN_SOP_SEND, ha, sbuf, RN_UDP_MAX_PAYLOAD + 1, &to4, &ra);
    run_for(RN_MSEC(1));
    assert_int_equal(ra.n, 3);
    assert_int_equal(ra.c[1].sc_result, RN_EMSGSIZE);
    assert_int_equal(ra.c[2].sc_result, RN_EMSGSIZE);
    close_h(P.pa, ha, &rx);
    close_h(P.pb, hb, &rx);
    run_for(RN_MSEC(50));
    down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_over_ipv6),
        cmocka_unit_test(test_dual_stack_and_v6only),
        cmocka_unit_test(test_syncookie_over_ipv6),
        cmocka_unit_test(test_udp_over_ipv6_and_families),
        cmocka_unit_test(test_udp_largest_over_ipv6),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
