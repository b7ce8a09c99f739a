/*
 * IPv6 between two stacks on a simulated cable, in virtual time: duplicate
 * address detection (a second of tentativeness, a simultaneous claim, an
 * address another node defends), ICMPv6 echo both ways over neighbour
 * discovery, the neighbour cache's entries as objects, the cache under a
 * flood of solicitations, a parameter problem for an unknown next header,
 * fragmentation and reassembly (with overlaps refused and a timeout),
 * and teardown with nothing left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "refnet/stack.h"
#include "support.h"
#include "wire/bytes.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"

static const struct pair_params net_pair = {.pp_layers = PAIR_NET};

static struct rn_ip6 A6(const char *s)
{
    struct rn_ip6 a;

    assert_int_equal(rn_ip6_addr_parse(s, &a, NULL), 0);
    return a;
}

/* The state of addr on ifp, or -1 if it has none such. */
static int state_of(struct rn_iface *ifp, const char *addr)
{
    struct rn_ip6 a = A6(addr);
    struct iface_addr6 *ia = rn__net_ip6_iface_addr(ifp, &a);

    return ia == NULL ? -1 : ia->a6_state;
}

/* Both stacks with IPv6 on a cable of MTU mtu (0: 1500): a 2001:2::2/64,
 * b 2001:2::3/64, past DAD. */
static void up6_mtu(uint32_t mtu)
{
    struct rn_ip6 a = A6("2001:2::2"), b = A6("2001:2::3");
    struct pair_params pp = net_pair;

    pp.pp_mtu = mtu;
    pair_up_with(&pp);
    assert_int_equal(rn_iface_add_addr6(P.ifa, &a, 64), 0);
    assert_int_equal(rn_iface_add_addr6(P.ifb, &b, 64), 0);
    assert_int_equal(rn_iface_add_addr6(P.ifb, &b, 64), RN_EEXIST);
    assert_int_equal(rn_iface_add_addr6(P.ifb, &RN_IP6_ALL_NODES, 64), RN_EINVAL);
    assert_int_equal(state_of(P.ifa, "2001:2::2"), RN_ADDR6_TENTATIVE);
    run_until(P.now + RN_MSEC(900));
    assert_int_equal(state_of(P.ifa, "2001:2::2"), RN_ADDR6_TENTATIVE);
    run_until(P.now + RN_MSEC(200));
    assert_int_equal(state_of(P.ifa, "2001:2::2"), RN_ADDR6_PREFERRED);
    assert_int_equal(state_of(P.ifa, "fe80::ff:fe00:2") >= 0 ||
                         P.ifa->if_addr6[0].a6_state == RN_ADDR6_PREFERRED,
                     true);
    assert_int_equal(state_of(P.ifb, "2001:2::3"), RN_ADDR6_PREFERRED);
}

static void up6(void)
{
    up6_mtu(0);
}

struct echo_seen {
    unsigned es_n;          /* replies */
    struct rn_ip6 es_from;  /* the last one's source */
    uint8_t es_hlim;
};

static void on_echo(struct rn_stack *st, const struct rn_icmp_echo_rx *er, void *ctx)
{
    struct echo_seen *es = ctx;

    (void)st;
    assert_true(er->er_v6);
    assert_int_equal(er->er_id, 0x66);
    assert_int_equal(er->er_datalen, 32);
    es->es_n++;
    es->es_from = er->er_src6;
    es->es_hlim = er->er_ttl;
}

static int ping6(struct rn_stack *from, const char *to, uint16_t seq)
{
    uint8_t data[32];
    struct rn_icmp6_echo req = {A6(to), 0x66, seq, data, sizeof(data)};

    memset(data, (int)seq, sizeof(data));
    return rn_icmp6_echo_send(from, &req);
}

struct nd_find {
    struct rn_ip6 nf_addr;
    int nf_state;           /* -1: no entry */
    unsigned nf_n6;         /* IPv6 entries in all */
};

static void nd_row(const struct rn_neigh_row *r, void *ctx)
{
    struct nd_find *f = ctx;

    if (r->nr_family != 6)
        return;
    f->nf_n6++;
    if (rn_ip6_eq(&r->nr_addr6, &f->nf_addr))
        f->nf_state = (int)r->nr_state;
}

static struct nd_find nd_of(struct rn_stack *st, const char *addr)
{
    struct nd_find f = {A6(addr), -1, 0};

    rn_stack_neighbours(st, nd_row, &f);
    return f;
}

static void test_ping6_over_nd(void **state)
{
    struct echo_seen es = {0};

    (void)state;
    up6();
    assert_int_equal(rn_icmp6_set_echo_observer(P.a, on_echo, &es), 0);
    assert_int_equal(rn_icmp6_set_echo_observer(P.a, on_echo, &es), RN_EBUSY);
    assert_int_equal(ping6(P.a, "2001:2::3", 1), 0);
    run_until(P.now + RN_MSEC(50));
    assert_int_equal(es.es_n, 1);
    assert_true(rn_ip6_eq(&es.es_from, &(struct rn_ip6){{0x20, 1, 0, 2, [15] = 3}}));
    assert_int_equal(es.es_hlim, 64);
    /* Each learnt the other: a from b's solicited advertisement
     * (REACHABLE), b from a's solicitation (STALE, RFC 4861 7.2.3), which
     * its reply then used (DELAY, 7.3.3). */
    assert_int_equal(nd_of(P.a, "2001:2::3").nf_state, RN_NEIGH_REACHABLE);
    assert_int_equal(nd_of(P.b, "2001:2::2").nf_state, RN_NEIGH_DELAY);
    /* Neighbour unreachability detection: 5 s later b probes a with a
     * unicast solicitation, and a's answer confirms it. */
    {
        uint64_t a_nd_in = net_st(P.a)->ns_nd_in;

        run_until(P.now + RN_MSEC(5100));
        assert_int_equal(nd_of(P.b, "2001:2::2").nf_state, RN_NEIGH_REACHABLE);
        assert_int_equal(net_st(P.a)->ns_nd_in - a_nd_in, 1);
    }
    /* Unused past its reachable time (sp_arp_ttl here): STALE, still
     * listed; sending to it starts DELAY; an upper layer's confirmation
     * makes it REACHABLE without a probe. */
    run_until(P.now + net_st(P.a)->ns_params.sp_arp_ttl + RN_SEC(1));
    assert_int_equal(nd_of(P.a, "2001:2::3").nf_state, RN_NEIGH_STALE);
    assert_int_equal(ping6(P.a, "2001:2::3", 9), 0);
    assert_int_equal(nd_of(P.a, "2001:2::3").nf_state, RN_NEIGH_DELAY);
    {
        struct rn_ip6 b6 = A6("2001:2::3");
        uint64_t nd_out = net_st(P.a)->ns_nd_out;

        rn__net_nd_confirm(P.a, &b6);
        assert_int_equal(nd_of(P.a, "2001:2::3").nf_state, RN_NEIGH_REACHABLE);
        run_until(P.now + RN_SEC(6));
        /* a sent one message: its answer to b's probe (b's entry for a
         * went through the same), no probe of its own. */
        assert_int_equal(net_st(P.a)->ns_nd_out - nd_out, 1);
    }
    assert_int_equal(net_st(P.a)->ns_nnd, 1);
    /* Link-local, the other way round. */
    {
        char ll[RN_IP6_STRLEN];
        struct echo_seen eb = {0};

        rn_ip6_addr_fmt(&P.ifa->if_addr6[0].a6_addr, ll);
        assert_true(rn_ip6_is_linklocal(&P.ifa->if_addr6[0].a6_addr));
        assert_int_equal(rn_icmp6_set_echo_observer(P.b, on_echo, &eb), 0);
        assert_int_equal(ping6(P.b, ll, 2), 0);
        run_until(P.now + RN_MSEC(50));
        assert_int_equal(eb.es_n, 1);
        rn_icmp6_set_echo_observer(P.b, NULL, NULL);
    }
    /* Nobody holds 2001:2::9: three solicitations, then the entry goes
     * and the request with it. */
    assert_int_equal(ping6(P.a, "2001:2::9", 3), 0);
    assert_int_equal(nd_of(P.a, "2001:2::9").nf_state, RN_NEIGH_INCOMPLETE);
    run_until(P.now + RN_SEC(4));
    assert_int_equal(nd_of(P.a, "2001:2::9").nf_state, -1);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_ND_UNRESOLVED), 1);
    /* Off the link: no route. */
    assert_int_equal(ping6(P.a, "2001:2:1::1", 4), RN_ENETUNREACH);
    assert_int_equal(es.es_n, 2);
    rn_icmp6_set_echo_observer(P.a, NULL, NULL);
    pair_down();
}

static void test_dad_conflicts(void **state)
{
    struct rn_ip6 same = A6("2001:2::9"), taken = A6("2001:2::2");

    (void)state;
    up6();
    /* Both claim 2001:2::9 at once: each sees the other's probe while its
     * own is tentative, and neither may use it (RFC 4862 5.4.3). */
    assert_int_equal(rn_iface_add_addr6(P.ifa, &same, 64), 0);
    assert_int_equal(rn_iface_add_addr6(P.ifb, &same, 64), 0);
    run_until(P.now + RN_MSEC(1100));
    assert_int_equal(state_of(P.ifa, "2001:2::9"), RN_ADDR6_DUPLICATE);
    assert_int_equal(state_of(P.ifb, "2001:2::9"), RN_ADDR6_DUPLICATE);
    /* b claims a's address: a defends it, b gives up. */
    assert_int_equal(rn_iface_add_addr6(P.ifb, &taken, 64), 0);
    run_until(P.now + RN_MSEC(1100));
    assert_int_equal(state_of(P.ifb, "2001:2::2"), RN_ADDR6_DUPLICATE);
    assert_int_equal(state_of(P.ifa, "2001:2::2"), RN_ADDR6_PREFERRED);
    assert_int_equal(net_st(P.a)->ns_nd_dad_conflicts, 1);
    assert_int_equal(net_st(P.b)->ns_nd_dad_conflicts, 2);
    /* b pings 2001:2::2 and a answers: b's duplicate is not b's. */
    assert_int_equal(ping6(P.b, "2001:2::2", 1), 0);
    run_until(P.now + RN_MSEC(50));
    assert_int_equal(net_st(P.a)->ns_icmp6_echo_replies, 1);
    pair_down();
}

/* A neighbour solicitation for a's 2001:2::2 from 2001:2::1:i, a sender
 * nobody else knows, with its own link address, as if on the cable. */
static void ns_from(unsigned i)
{
    struct rn_netbuf *nb = rn__ip_alloc(P.b, rn_nb_owner_register("test"));
    struct rn_ip6 src = A6("2001:2::1:0"), target = A6("2001:2::2");
    struct rn_ip6 dst = rn_ip6_solicited_node(&target);
    struct rn_mac mac = {{0x02, 0x99, 0, 0, (uint8_t)(i >> 8), (uint8_t)i}};
    struct rn_mac mc = rn_ip6_mcast_mac(&dst);
    struct rn_ip6_hdr ip = {.ip6_plen = RN_ND_NS_LL_LEN, .ip6_nxt = RN_IPPROTO_ICMPV6,
                            .ip6_hlim = 255};
    uint8_t *p;

    rn_put_be16(src.i6_octet + 14, (uint16_t)i);
    ip.ip6_src = src;
    ip.ip6_dst = dst;
    assert_non_null(nb);
    p = rn_nb_put(nb, RN_ETH_HLEN + RN_IP6_HLEN + RN_ND_NS_LL_LEN);
    assert_non_null(p);
    memcpy(p, mc.mac_octet, 6);
    memcpy(p + 6, mac.mac_octet, 6);
    rn_put_be16(p + 12, RN_ETHERTYPE_IPV6);
    rn__ip6_emit(p + RN_ETH_HLEN, &ip);
    rn__nd6_emit_ns(p + RN_ETH_HLEN + RN_IP6_HLEN, &src, &dst, &target, &mac);
    rn__net_eth_input(P.ifa, nb);
}

/* Solicitations from 3000 senders: a answers each, learns them only while
 * its cache has room, and keeps b, whom it uses. */
static void test_ns_flood_keeps_resolved(void **state)
{
    uint64_t nd_out0, replies;
    unsigned i;

    (void)state;
    up6();
    assert_int_equal(ping6(P.a, "2001:2::3", 1), 0);
    run_until(P.now + RN_MSEC(10));
    replies = net_st(P.b)->ns_icmp6_echo_replies;
    nd_out0 = net_st(P.a)->ns_nd_out;
    for (i = 0; i < 3000; i++) {
        ns_from(i);
        if (i % 100 == 99)
            run_until(P.now + 400 * RN_NSEC_PER_USEC);
    }
    run_until(P.now + RN_MSEC(20));
    assert_int_equal(net_st(P.a)->ns_nd_out - nd_out0, 3000);
    assert_int_equal(net_st(P.a)->ns_nnd, net_st(P.a)->ns_params.sp_arp_max_entries);
    assert_int_equal(nd_of(P.a, "2001:2::3").nf_state, RN_NEIGH_REACHABLE);
    assert_int_equal(nd_of(P.a, "2001:2::3").nf_n6, net_st(P.a)->ns_nnd);
    /* b is reached at once: no resolution needed. */
    assert_int_equal(ping6(P.a, "2001:2::3", 2), 0);
    run_until(P.now + RN_MSEC(10));
    assert_int_equal(net_st(P.b)->ns_icmp6_echo_replies, replies + 1);
    pair_down();
}

/* A datagram of an unknown next header is answered with a parameter
 * problem pointing at the next-header octet; one with routing type 0 and
 * segments left with one pointing at the routing type. */
static void test_param_problems(void **state)
{
    struct rn_ip6 src = A6("2001:2::3"), dst = A6("2001:2::2");
    uint8_t pkt[24];
    uint64_t b_in0;
    unsigned k;

    (void)state;
    up6();
    /* Resolve both ways first, so b's ICMPv6 input counts the answers. */
    assert_int_equal(ping6(P.b, "2001:2::2", 1), 0);
    run_until(P.now + RN_MSEC(10));
    b_in0 = net_st(P.b)->ns_icmp6_in;
    for (k = 0; k < 2; k++) {
        struct rn_netbuf *nb = rn__ip_alloc(P.b, rn_nb_owner_register("test"));
        struct ip6_out out = {.o6_src = src, .o6_dst = dst};
        uint8_t *p;

        memset(pkt, 0, sizeof(pkt));
        assert_non_null(nb);
        out.o6_proto = k == 0 ? 253 : RN_IP6_NH_ROUTING;
        if (k == 1) {
            pkt[0] = RN_IP6_NH_NONE;
            pkt[1] = 2;
            pkt[3] = 1;  /* type 0, one segment left */
        }
        p = rn_nb_put(nb, 24);
        assert_non_null(p);
        memcpy(p, pkt, 24);
        assert_int_equal(rn__net_ip6_output(P.b, nb, &out), 0);
        run_until(P.now + RN_MSEC(10));
    }
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_UNKNOWN_PROTO), 1);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_IP6_ROUTING_TYPE0), 1);
    assert_int_equal(net_st(P.a)->ns_icmp6_out, 3);  /* an echo reply, two errors */
    assert_int_equal(net_st(P.b)->ns_icmp6_in - b_in0, 2);
    pair_down();
}

/* 8,000 bytes of echo data on a 9,000-byte link: the datagram spans
 * several buffers and is read whole all the same, both ways. */
static void test_large_mtu_echo(void **state)
{
    static uint8_t data[8000];
    struct rn_icmp6_echo req = {A6("2001:2::3"), 0x77, 1, data, sizeof(data)};
    uint64_t in0;

    (void)state;
    up6_mtu(9000);
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13);
    in0 = net_st(P.a)->ns_icmp6_echo_replies_in;
    assert_int_equal(rn_icmp6_echo_send(P.a, &req), 0);
    run_until(P.now + RN_MSEC(50));
    assert_int_equal(net_st(P.b)->ns_icmp6_echo_replies, 1);
    assert_int_equal(net_st(P.a)->ns_icmp6_echo_replies_in, in0 + 1);
    assert_int_equal(net_st(P.a)->ns_ip6_frag_out, 0);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_NO_BUFFER), 0);
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_NO_BUFFER), 0);
    pair_down();
}

/* Echoes of 3,000 and 65,000 bytes on a 1,500-byte link: fragmented on
 * the way out (1,448 bytes of data each), reassembled on the way in, both
 * ways, nothing held afterwards. */
static void test_fragmented_echo(void **state)
{
    static uint8_t data[65000];
    struct rn_icmp6_echo req = {A6("2001:2::3"), 0x77, 1, data, 3000};
    uint64_t frags;

    (void)state;
    up6();
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13 + (i >> 8));
    assert_int_equal(rn_icmp6_echo_send(P.a, &req), 0);
    run_until(P.now + RN_MSEC(50));
    /* 3008 bytes of ICMPv6: three fragments each way. */
    assert_int_equal(net_st(P.a)->ns_ip6_frag_out, 3);
    assert_int_equal(net_st(P.b)->ns_ip6_reassembled, 1);
    assert_int_equal(net_st(P.b)->ns_icmp6_echo_replies, 1);
    assert_int_equal(net_st(P.b)->ns_ip6_frag_out, 3);
    assert_int_equal(net_st(P.a)->ns_ip6_reassembled, 1);
    req.ie6_len = sizeof(data);
    req.ie6_seq = 2;
    frags = (sizeof(data) + 8 + 1447) / 1448;
    assert_int_equal(rn_icmp6_echo_send(P.a, &req), 0);
    run_until(P.now + RN_MSEC(200));
    assert_int_equal(net_st(P.a)->ns_ip6_frag_out, 3 + frags);
    assert_int_equal(net_st(P.b)->ns_icmp6_echo_replies, 2);
    assert_int_equal(net_st(P.a)->ns_ip6_reassembled, 2);
    assert_int_equal(net_st(P.a)->ns_nreass6 + net_st(P.b)->ns_nreass6, 0);
    assert_int_equal(net_st(P.a)->ns_reass_mem + net_st(P.b)->ns_reass_mem, 0);
    req.ie6_len = sizeof(data) + 528;  /* past 65,535 bytes of payload */
    assert_int_equal(rn_icmp6_echo_send(P.a, &req), RN_EMSGSIZE);
    pair_down();
}

/* Sends b -> a a fragment of id of len bytes at off (more if more), its
 * data an echo request's bytes from off. */
static void frag_to_a(uint32_t id, uint16_t off, bool more, size_t len, const uint8_t *msg)
{
    struct rn_netbuf *nb = rn__ip_alloc(P.b, rn_nb_owner_register("test"));
    struct rn_ip6_hdr ip = {.ip6_plen = (uint16_t)(8 + len), .ip6_nxt = RN_IP6_NH_FRAGMENT,
                            .ip6_hlim = 64};
    uint8_t *p;

    ip.ip6_src = A6("2001:2::3");
    ip.ip6_dst = A6("2001:2::2");
    assert_non_null(nb);
    p = rn_nb_put(nb, RN_ETH_HLEN + RN_IP6_HLEN + 8 + len);
    assert_non_null(p);
    memcpy(p, P.ifa->if_mac.mac_octet, 6);
    memcpy(p + 6, P.ifb->if_mac.mac_octet, 6);
    rn_put_be16(p + 12, RN_ETHERTYPE_IPV6);
    rn__ip6_emit(p + RN_ETH_HLEN, &ip);
    p += RN_ETH_HLEN + RN_IP6_HLEN;
    p[0] = RN_IPPROTO_ICMPV6;
    p[1] = 0;
    rn_put_be16(p + 2, (uint16_t)(off | (more ? 1 : 0)));
    rn_put_be32(p + 4, id);
    memcpy(p + 8, msg + off, len);
    rn__net_eth_input(P.ifa, nb);
}

/* Overlapping fragments throw the datagram away (RFC 5722), a duplicate
 * goes alone, and a datagram never completed is given up at the timeout
 * with a time exceeded to its source. */
static void test_reassembly_hostile(void **state)
{
    uint8_t msg[64];
    uint64_t b_in0;

    (void)state;
    up6();
    assert_int_equal(ping6(P.b, "2001:2::2", 1), 0);
    run_until(P.now + RN_MSEC(10));
    memset(msg, 0x5a, sizeof(msg));
    frag_to_a(1, 0, true, 32, msg);
    frag_to_a(1, 0, true, 32, msg);   /* the same again */
    frag_to_a(1, 24, false, 40, msg); /* overlaps the first */
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_FRAG_DUPLICATE), 1);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_FRAG_OVERLAP), 2);
    assert_int_equal(net_st(P.a)->ns_nreass6, 0);
    /* A last fragment whose end disagrees with one held past it. */
    frag_to_a(2, 32, true, 32, msg);
    frag_to_a(2, 8, false, 16, msg);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_FRAG_OVERLAP), 4);
    /* A first fragment alone: held until the timeout (30 s). */
    b_in0 = net_st(P.b)->ns_icmp6_in;
    frag_to_a(3, 0, true, 32, msg);
    assert_int_equal(net_st(P.a)->ns_nreass6, 1);
    run_until(P.now + RN_SEC(31));
    assert_int_equal(net_st(P.a)->ns_nreass6, 0);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_FRAG_TIMEOUT), 1);
    assert_int_equal(net_st(P.b)->ns_icmp6_in - b_in0 >= 1, true);
    assert_int_equal(net_st(P.a)->ns_reass_mem, 0);
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping6_over_nd),
        cmocka_unit_test(test_dad_conflicts),
        cmocka_unit_test(test_ns_flood_keeps_resolved),
        cmocka_unit_test(test_param_problems),
        cmocka_unit_test(test_large_mtu_echo),
        cmocka_unit_test(test_fragmented_echo),
        cmocka_unit_test(test_reassembly_hostile),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
