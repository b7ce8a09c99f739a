/*
 * UDP between two stacks over a simulated cable, in virtual time: bad
 * length and checksum counted, closed ports answered with ICMP port
 * unreachable, the receive queue bound, ICMP errors turned into
 * ECONNREFUSED for connected endpoints, the counters in `refnet stat`, and
 * the port table's ephemeral choice (RFC 6056).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/render.h"
#include "net/net_priv.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/socket.h"
#include "refnet/strbuf.h"
#include "refnet/transport.h"
#include "support.h"
#include "transport/port_table.h"
#include "wire/bytes.h"
#include "wire/csum.h"
#include "wire/ipv4.h"

/* ---- Helpers ------------------------------------------------------------- */

/* Sends a hand-made UDP datagram from a to b: header fields as given,
 * payload len bytes of 0x5a; if sum is 1 the checksum is computed. */
static void send_raw(uint16_t sport, uint16_t dport, uint16_t ulen, uint16_t sum, size_t len)
{
    struct rn_netbuf *nb = rn__ip_alloc(P.a, rn_nb_owner_register("test"));
    struct rn_ip_out out = {.io_dst = ADDR_B, .io_proto = RN_IPPROTO_UDP};
    uint8_t *p;

    assert_non_null(nb);
    p = rn_nb_put(nb, 8 + len);
    assert_non_null(p);
    rn_put_be16(p, sport);
    rn_put_be16(p + 2, dport);
    rn_put_be16(p + 4, ulen);
    rn_put_be16(p + 6, 0);
    memset(p + 8, 0x5a, len);
    if (sum == 1) {
        sum = rn_csum_fold(
            rn__csum_partial(p, 8 + len, rn_csum_pseudo4(ADDR_A, ADDR_B, RN_IPPROTO_UDP, 8 + len)));
        if (sum == 0)
            sum = 0xffff;
    }
    rn_put_be16(p + 6, sum);
    assert_int_equal(rn__ip_output(P.a, nb, &out), 0);
}

/* Resolves ARP both ways with a ping-sized exchange. */
static void warm_up(void)
{
    send_raw(1, 9, 8, 0, 0);  /* to a closed port: the answer resolves b -> a */
    run_for(RN_MSEC(20));
}

/* ---- Tests ---------------------------------------------------------------------- */

#define V4(a) rn_inaddr_v4(a)

static void test_ephemeral_ports(void **state)
{
    struct rn_port_table pt, pt2;
    struct rn_port_entry pe[8];
    void *obs[8];
    struct rn_ob_type *t;
    static const struct rn_ob_type_ops ops = {.name = "test port owner", .size = 8};
    int port, first[3], i;

    (void)state;
    t = rn_ob_type_register(&ops);
    rn__pt_init(&pt, RN_IPPROTO_UDP, 7);
    rn__pt_init(&pt2, RN_IPPROTO_UDP, 7);
    /* Same seed, same sequence; inside the range. */
    for (i = 0; i < 3; i++) {
        first[i] = rn__pt_pick_ephemeral(&pt, V4(0), V4(ADDR_B), 53, NULL, NULL);
        assert_true(first[i] >= RN_EPHEMERAL_LO && first[i] <= RN_EPHEMERAL_HI);
        assert_int_equal(rn__pt_pick_ephemeral(&pt2, V4(0), V4(ADDR_B), 53, NULL, NULL), first[i]);
    }
    /* Algorithm 3: consecutive picks for one peer advance by one. */
    assert_int_equal((first[1] - first[0] + 16384) % 16384, 1);
    /* Another peer starts somewhere else. */
    port = rn__pt_pick_ephemeral(&pt, V4(0), V4(ADDR_A), 53, NULL, NULL);
    assert_true(port != first[2] + 1);
    /* A small range fills up, then refuses; bound ports are skipped. */
    pt.pt_eph_lo = 40000;
    pt.pt_eph_hi = 40003;
    memset(pe, 0, sizeof(pe));
    for (i = 0; i < 4; i++) {
        obs[i] = rn_ob_create(t, RN_TAG_CREATE);
        port = rn__pt_pick_ephemeral(&pt, V4(0), V4(0), 0, NULL, NULL);
        assert_true(port >= 40000 && port <= 40003);
        assert_int_equal(rn__pt_insert(&pt, &pe[i], obs[i], V4(0), (uint16_t)port), 0);
        assert_int_equal(rn_ob_tag_count(obs[i], RN_TAG_PORT_TABLE), 1);
    }
    assert_int_equal(rn__pt_pick_ephemeral(&pt, V4(0), V4(0), 0, NULL, NULL), RN_EADDRINUSE);
    /* Conflicts: wildcard against specific and the same address. */
    assert_true(rn__pt_conflicts(&pt, V4(ADDR_A), pe[0].pe_port));
    assert_false(rn__pt_conflicts(&pt, V4(ADDR_A), 40010));
    obs[4] = rn_ob_create(t, RN_TAG_CREATE);
    obs[5] = rn_ob_create(t, RN_TAG_CREATE);
    assert_int_equal(rn__pt_insert(&pt, &pe[4], obs[4], V4(ADDR_A), 5000), 0);
    assert_int_equal(rn__pt_insert(&pt, &pe[5], obs[5], V4(ADDR_B), 5000), 0);
    assert_int_equal(rn__pt_insert(&pt, &pe[6], obs[5], V4(0), 5000), RN_EADDRINUSE);
    assert_ptr_equal(rn__pt_lookup(&pt, V4(ADDR_B), 5000), &pe[5]);
    assert_null(rn__pt_lookup(&pt, V4(0xc6120009u), 5000));
    assert_ptr_equal(rn__pt_lookup(&pt, V4(0xc6120009u), pe[1].pe_port), &pe[1]);
    for (i = 0; i < 6; i++) {
        rn__pt_remove(&pt, &pe[i]);
        rn_ob_kill(obs[i]);
    }
    assert_int_equal(pt.pt_count, 0);
    check_live_objects(0);
}

/* The port table holds addresses of both families: IPv4 mapped, the IPv4
 * wildcard ::ffff:0.0.0.0, and ::, which covers IPv4 too unless the
 * binding is IPV6_V6ONLY. */
static void test_port_table_both_families(void **state)
{
    struct rn_port_table pt;
    struct rn_port_entry pe[6];
    void *obs[6];
    struct rn_ob_type *t;
    static const struct rn_ob_type_ops ops = {.name = "test port owner 6", .size = 8};
    struct rn_inaddr any6 = rn_inaddr_v6(&RN_IP6_ANY), a6, b6;
    int i;

    (void)state;
    assert_int_equal(rn_ip6_addr_parse("2001:2::2", &a6.ia_ip6, NULL), 0);
    assert_int_equal(rn_ip6_addr_parse("2001:2::3", &b6.ia_ip6, NULL), 0);
    t = rn_ob_type_register(&ops);
    rn__pt_init(&pt, RN_IPPROTO_UDP, 7);
    memset(pe, 0, sizeof(pe));
    for (i = 0; i < 6; i++)
        obs[i] = rn_ob_create(t, RN_TAG_CREATE);
    /* The address functions: who covers what. */
    assert_true(rn__inaddr_covers(&any6, false, &a6));
    assert_true(rn__inaddr_covers(&any6, false, &(struct rn_inaddr){V4(ADDR_A).ia_ip6}));
    assert_false(rn__inaddr_covers(&any6, true, &(struct rn_inaddr){V4(ADDR_A).ia_ip6}));
    assert_false(rn__inaddr_covers(&(struct rn_inaddr){V4(0).ia_ip6}, false, &a6));
    assert_true(rn__inaddr_is_any4(&(struct rn_inaddr){V4(0).ia_ip6}));
    assert_false(rn__inaddr_is_any4(&any6));
    /* A dual-stack :: on port 53 takes the port from IPv4 and IPv6 alike. */
    assert_int_equal(rn__pt_insert(&pt, &pe[0], obs[0], any6, 53), 0);
    assert_true(rn__pt_conflicts(&pt, V4(0), 53));
    assert_true(rn__pt_conflicts(&pt, V4(ADDR_A), 53));
    assert_true(rn__pt_conflicts(&pt, a6, 53));
    assert_ptr_equal(rn__pt_lookup(&pt, V4(ADDR_A), 53), &pe[0]);
    assert_ptr_equal(rn__pt_lookup(&pt, a6, 53), &pe[0]);
    /* A V6ONLY :: on port 54 leaves IPv4 free: an IPv4 wildcard binds beside
     * it, and each family finds its own. */
    pe[1].pe_flags = RN_PT_V6ONLY;
    assert_int_equal(rn__pt_insert(&pt, &pe[1], obs[1], any6, 54), 0);
    assert_false(rn__pt_conflicts(&pt, V4(0), 54));
    assert_null(rn__pt_lookup(&pt, V4(ADDR_A), 54));
    assert_int_equal(rn__pt_insert(&pt, &pe[2], obs[2], V4(0), 54), 0);
    assert_ptr_equal(rn__pt_lookup(&pt, V4(ADDR_A), 54), &pe[2]);
    assert_ptr_equal(rn__pt_lookup(&pt, a6, 54), &pe[1]);
    assert_true(rn__pt_conflicts(&pt, b6, 54));
    /* Specific IPv6 addresses: two different ones share a port, the same
     * one conflicts; the specific one is found before the wildcard. */
    assert_int_equal(rn__pt_insert(&pt, &pe[3], obs[3], a6, 55), 0);
    assert_int_equal(rn__pt_insert(&pt, &pe[4], obs[4], b6, 55), 0);
    assert_int_equal(rn__pt_insert(&pt, &pe[5], obs[5], a6, 55), RN_EADDRINUSE);
    assert_false(rn__pt_conflicts(&pt, V4(0), 55));
    assert_ptr_equal(rn__pt_lookup(&pt, b6, 55), &pe[4]);
    assert_null(rn__pt_lookup(&pt, V4(ADDR_A), 55));
    /* Ephemeral ports for IPv6 peers come from the range too. */
    i = rn__pt_pick_ephemeral(&pt, any6, b6, 53, NULL, NULL);
    assert_true(i >= RN_EPHEMERAL_LO && i <= RN_EPHEMERAL_HI);
    for (i = 0; i < 6; i++) {
        rn__pt_remove(&pt, &pe[i]);
        rn_ob_kill(obs[i]);
    }
    assert_int_equal(pt.pt_count, 0);
    check_live_objects(0);
}

static void test_closed_port_answers_icmp(void **state)
{
    struct rn_udp_stats us;
    struct rn_proc *p;
    struct rec r = {0};
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 9};
    uint8_t buf[64] = "hello";
    int h;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_proc_create(P.a, "client", &p), 0);
    h = rn_sock_open(p, RN_SOCK_DGRAM, 0);
    assert_true(h > 0);
    /* Unconnected: the ICMP error is not reported to the sender. */
    submit_flags(p, RN_SOP_SEND, h, buf, 5, &to, 0, &r);
    run_for(RN_MSEC(50));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.c[0].sc_result, 5);
    rn_udp_stats(P.b, &us);
    assert_int_equal(us.us_no_port, 1);
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_UDP_NO_PORT), 1);
    assert_int_equal(net_st(P.b)->ns_icmp_out, 1);
    assert_int_equal(net_st(P.a)->ns_icmp_in, 1);
    assert_int_equal(rn_sock_ready(p, h) & RN_POLLERR, 0);
    /* Connected: the next operation, a pending receive here, fails with
     * ECONNREFUSED, and only once. */
    assert_int_equal(rn_sock_open(p, RN_SOCK_DGRAM, 0), h + 1);
    {
        struct rn_sock_req c = {.sq_op = RN_SOP_CONNECT, .sq_handle = h + 1, .sq_to = &to,
                                .sq_user = &r};

        assert_int_equal(rn_sock_submit(p, &c, rec_fn), 0);
    }
    submit_flags(p, RN_SOP_RECV, h + 1, buf, sizeof(buf), NULL, 0, &r);
    submit_flags(p, RN_SOP_SEND, h + 1, buf, 5, NULL, 0, &r);
    run_for(RN_MSEC(50));
    assert_int_equal(r.n, 4);
    assert_int_equal(r.c[1].sc_op, RN_SOP_CONNECT);
    assert_int_equal(r.c[1].sc_result, 0);
    assert_int_equal(r.c[2].sc_op, RN_SOP_SEND);
    assert_int_equal(r.c[2].sc_result, 5);
    assert_int_equal(r.c[3].sc_op, RN_SOP_RECV);
    assert_int_equal(r.c[3].sc_result, RN_ECONNREFUSED);
    rn_udp_stats(P.b, &us);
    assert_int_equal(us.us_no_port, 2);
    /* The error was consumed: a send now goes through. */
    submit_flags(p, RN_SOP_SEND, h + 1, buf, 5, NULL, 0, &r);
    run_for(RN_MSEC(5));
    assert_int_equal(r.c[4].sc_result, 5);
    /* A further error pending is seen by the next send, as by a receive. */
    run_for(RN_MSEC(50));
    submit_flags(p, RN_SOP_SEND, h + 1, buf, 5, NULL, 0, &r);
    run_for(RN_MSEC(5));
    assert_int_equal(r.c[5].sc_result, RN_ECONNREFUSED);
    rn_proc_exit(p);
    run_for(RN_MSEC(5));
    pair_down();
}

static void test_bad_length_and_checksum_counted(void **state)
{
    struct rn_udp_stats us;
    struct rn_proc *p;
    struct rec r = {0};
    uint8_t buf[256];
    int h;

    (void)state;
    pair_up(1500, false);
    warm_up();
    assert_int_equal(rn_proc_create(P.b, "sink", &p), 0);
    h = udp_bound_to(p, 0, 7000);
    submit_flags(p, RN_SOP_RECV, h, buf, sizeof(buf), NULL, 0, &r);
    send_raw(1000, 7000, 8 + 40, 0x1234, 40);   /* bad checksum */
    send_raw(1000, 7000, 8 + 41, 1, 40);        /* length beyond the payload */
    send_raw(1000, 7000, 7, 1, 40);             /* length below the header */
    send_raw(1000, 7000, 8, 1, 0);              /* empty, valid */
    send_raw(1000, 7000, 8 + 40, 0, 40);        /* no checksum: accepted */
    run_for(RN_MSEC(20));
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_BAD_UDP_CSUM), 1);
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_BAD_UDP_LEN), 2);
    rn_udp_stats(P.b, &us);
    assert_int_equal(us.us_csum_errors, 1);
    assert_int_equal(us.us_in_errors, 3);
    /* The empty datagram completed the pending receive; the unchecksummed
     * one waits in the queue. */
    assert_int_equal(r.n, 1);
    assert_int_equal(r.c[0].sc_result, 0);
    assert_int_equal(r.c[0].sc_addr.sin_addr, ADDR_A);
    assert_int_equal(r.c[0].sc_addr.sin_port, 1000);
    submit_flags(p, RN_SOP_RECV, h, buf, sizeof(buf), NULL, 0, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(r.c[1].sc_result, 40);
    assert_int_equal(buf[0], 0x5a);
    assert_int_equal(buf[39], 0x5a);
    assert_int_equal(us.us_in, 2);
    /* A datagram too short for a header at all. */
    {
        struct rn_netbuf *nb = rn__ip_alloc(P.a, rn_nb_owner_register("test"));
        struct rn_ip_out out = {.io_dst = ADDR_B, .io_proto = RN_IPPROTO_UDP};

        memset(rn_nb_put(nb, 5), 0, 5);
        assert_int_equal(rn__ip_output(P.a, nb, &out), 0);
    }
    run_for(RN_MSEC(5));
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_TRUNCATED), 1);
    rn_proc_exit(p);
    run_for(RN_MSEC(5));
    pair_down();
}

static void test_receive_queue_bound(void **state)
{
    struct rn_udp_stats us;
    struct rn_proc *pa, *pb;
    struct rec r = {0};
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 7001};
    uint8_t buf[256];
    int64_t v;
    void *ep;
    char desc[160];
    int ha, hb, i;

    (void)state;
    pair_up(1500, false);
    warm_up();
    assert_int_equal(rn_proc_create(P.a, "src", &pa), 0);
    assert_int_equal(rn_proc_create(P.b, "sink", &pb), 0);
    hb = udp_bound_to(pb, ADDR_B, 7001);
    assert_int_equal(rn_sock_getopt(pb, hb, RN_SO_RCVBUF, &v), 0);
    assert_int_equal(v, 212992);
    /* As Linux, SO_RCVBUF reads back doubled: 4096 asked, 8192 kept. */
    assert_int_equal(rn_sock_setopt(pb, hb, RN_SO_RCVBUF, 4096), 0);
    assert_int_equal(rn_sock_getopt(pb, hb, RN_SO_RCVBUF, &v), 0);
    assert_int_equal(v, 8192);
    ha = rn_sock_open(pa, RN_SOCK_DGRAM, 0);
    memset(buf, 0x11, sizeof(buf));
    for (i = 0; i < 10; i++)
        submit_flags(pa, RN_SOP_SEND, ha, buf, 100, &to, 0, &r);
    run_for(RN_MSEC(20));
    /* Each datagram costs one 2176-byte buffer: three fit in 8192. */
    rn_udp_stats(P.b, &us);
    assert_int_equal(us.us_in, 3);
    assert_int_equal(us.us_rcvbuf_errors, 7);
    assert_int_equal(us.us_in_errors, 7);
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_UDP_RCVBUF), 7);
    ep = find_object("udp endpoint", "198.18.0.3:7001");
    assert_non_null(ep);
    rn_ob_describe(ep, desc, sizeof(desc));
    assert_string_equal(desc, "udp endpoint 198.18.0.3:7001 rcvq 6528/8192");
    assert_int_equal(rn_ob_tag_count(ep, RN_TAG_PORT_TABLE), 1);
    assert_int_equal(rn_ob_tag_count(ep, RN_TAG_SOCKET_ENDPOINT), 1);
    rn_ob_deref(ep, RN_TAG_LOOKUP);
    assert_true(rn_sock_ready(pb, hb) & RN_POLLIN);
    /* Peek leaves it; three receives drain; the fourth would wait. */
    r.n = 0;
    submit_flags(pb, RN_SOP_RECV, hb, buf, 10, NULL, RN_MSG_PEEK, &r);
    for (i = 0; i < 4; i++)
        submit_flags(pb, RN_SOP_RECV, hb, buf, sizeof(buf), NULL, RN_MSG_DONTWAIT, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(r.n, 5);
    assert_int_equal(r.c[0].sc_result, 10);
    assert_int_equal(r.c[0].sc_flags, RN_MSG_TRUNC);
    for (i = 1; i < 4; i++) {
        assert_int_equal(r.c[i].sc_result, 100);
        assert_int_equal(r.c[i].sc_flags, 0);
    }
    assert_int_equal(r.c[4].sc_result, RN_EAGAIN);
    assert_int_equal(rn_sock_ready(pb, hb) & RN_POLLIN, 0);
    assert_int_equal(pool_outstanding(P.b), 0);
    rn_proc_exit(pa);
    rn_proc_exit(pb);
    run_for(RN_MSEC(5));
    pair_down();
}

static void test_stats_show_udp(void **state)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;

    (void)state;
    pair_up(1500, false);
    warm_up();
    rn__render_stats(P.b, &sb, false);
    assert_non_null(strstr(rn_strbuf_str(&sb), "udp.no_port"));
    assert_non_null(strstr(rn_strbuf_str(&sb), "udp.rcvbuf_errors"));
    assert_non_null(strstr(rn_strbuf_str(&sb), "udp_no_port"));  /* the drop reason */
    rn_strbuf_reset(&sb);
    rn__render_stats(P.b, &sb, true);
    assert_non_null(strstr(rn_strbuf_str(&sb), "\"udp.no_port\":1"));
    assert_non_null(strstr(rn_strbuf_str(&sb), "\"udp.in\":0"));
    rn_strbuf_free(&sb);
    pair_down();
}

static void test_bind_rules(void **state)
{
    struct rn_proc *p;
    struct rn_sockaddr_in a = {.sin_addr = ADDR_A, .sin_port = 6000}, any = {.sin_addr = 0, .sin_port = 6000}, other = {.sin_addr = 0xc6120063u, .sin_port = 6001};
    struct rn_sockaddr_in local, remote;
    int h1, h2, h3;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_sock_layer_init(P.a), 0);  /* again: nothing changes */
    assert_int_equal(rn_transport_set_ephemeral(P.a, 50000, 50009), 0);
    assert_int_equal(rn_transport_set_ephemeral(P.a, 5, 4), RN_EINVAL);
    assert_int_equal(rn_proc_create(P.a, "binder", &p), 0);
    h1 = rn_sock_open(p, RN_SOCK_DGRAM, 0);
    h2 = rn_sock_open(p, RN_SOCK_DGRAM, 0);
    h3 = rn_sock_open(p, RN_SOCK_DGRAM, 0);
    assert_int_equal(rn_sock_bind(p, h1, &a), 0);
    assert_int_equal(rn_sock_bind(p, h1, &a), RN_EINVAL);      /* bound already */
    assert_int_equal(rn_sock_bind(p, h2, &any), RN_EADDRINUSE);
    assert_int_equal(rn_sock_bind(p, h2, &other), RN_EADDRNOTAVAIL);
    any.sin_port = 0;
    assert_int_equal(rn_sock_bind(p, h2, &any), 0);
    assert_int_equal(rn_sock_getname(p, h2, &local, &remote), 0);
    assert_true(local.sin_port >= 50000 && local.sin_port <= 50009);
    assert_int_equal(remote.sin_port, 0);
    /* Connect on an unbound socket binds it and reports the route's source. */
    remote.sin_addr = ADDR_B;
    remote.sin_port = 7;
    {
        struct rec r = {0};
        struct rn_sock_req c = {.sq_op = RN_SOP_CONNECT, .sq_handle = h3, .sq_to = &remote,
                                .sq_user = &r};

        assert_int_equal(rn_sock_submit(p, &c, rec_fn), 0);
        run_for(RN_MSEC(1));
        assert_int_equal(r.n, 1);
        assert_int_equal(r.c[0].sc_result, 0);
    }
    assert_int_equal(rn_sock_getname(p, h3, &local, &remote), 0);
    assert_int_equal(local.sin_addr, ADDR_A);
    assert_true(local.sin_port >= 50000 && local.sin_port <= 50009);
    assert_int_equal(remote.sin_addr, ADDR_B);
    assert_int_equal(rn_sock_listen(p, h3, 5), RN_EOPNOTSUPP);
    /* The range holds for TCP too. */
    {
        int h4 = rn_sock_open(p, RN_SOCK_STREAM, 0);

        assert_true(h4 > 0);
        assert_int_equal(rn_sock_listen(p, h4, 5), 0);
        assert_int_equal(rn_sock_getname(p, h4, &local, NULL), 0);
        assert_true(local.sin_port >= 50000 && local.sin_port <= 50009);
    }
    /* As Linux: an unknown type is EINVAL, a protocol the type does not
     * carry EPROTONOSUPPORT. */
    assert_int_equal(rn_sock_open(p, 99, 0), RN_EINVAL);
    assert_int_equal(rn_sock_open(p, RN_SOCK_DGRAM, RN_IPPROTO_TCP), RN_EPROTONOSUPPORT);
    assert_int_equal(rn_sock_bind(p, 99, &a), RN_EBADF);
    rn_proc_exit(p);
    run_for(RN_MSEC(5));
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ephemeral_ports),
        cmocka_unit_test(test_port_table_both_families),
        cmocka_unit_test(test_closed_port_answers_icmp),
        cmocka_unit_test(test_bad_length_and_checksum_counted),
        cmocka_unit_test(test_receive_queue_bound),
        cmocka_unit_test(test_stats_show_udp),
        cmocka_unit_test(test_bind_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
