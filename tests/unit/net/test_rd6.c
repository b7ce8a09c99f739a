/*
 * Router discovery, SLAAC, redirects and path MTU between two stacks on a
 * simulated cable, in virtual time.  b plays the router: advertisements,
 * redirects and packets too big are built here and handed to a as if
 * from b's link address, so each field is the test's choice.  Checked: a
 * solicits routers (RFC 4861 6.3.7) and stops once answered; an
 * advertisement installs a default router and an on-link prefix (ledger
 * objects), forms a SLAAC address under DAD, lowers the link's MTU and
 * sets the hop limit; a ping leaves through the router; lifetimes deprecate
 * and remove; bad advertisements and a flood are dropped under their
 * reasons with the lists bounded; a redirect is taken from the router only;
 * a packet too big lowers the path MTU (never below 1280) and ip6 output
 * fragments by it; a first fragment without the whole chain is refused
 * (RFC 7112); teardown leaves nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
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

/* Hands a the ICMPv6 message msg (len bytes, checksum filled in here) from
 * src to dst with hop limit hlim, in a frame from smac. */
static void icmp6_to_a(const struct rn_ip6 *src, const struct rn_ip6 *dst, uint8_t hlim,
                       uint8_t *msg, size_t len, const struct rn_mac *smac)
{
    struct rn_netbuf *nb = rn__ip_alloc(P.b, rn_nb_owner_register("test"));
    struct rn_ip6_hdr ip = {.ip6_plen = (uint16_t)len, .ip6_nxt = RN_IPPROTO_ICMPV6,
                            .ip6_hlim = hlim};
    struct rn_mac dmac = rn_ip6_is_multicast(dst) ? rn_ip6_mcast_mac(dst) : P.ifa->if_mac;
    uint8_t *p;

    ip.ip6_src = *src;
    ip.ip6_dst = *dst;
    rn__icmp6_set_csum(msg, len, src, dst);
    assert_non_null(nb);
    p = rn_nb_put(nb, RN_ETH_HLEN + RN_IP6_HLEN + len);
    assert_non_null(p);
    memcpy(p, dmac.mac_octet, 6);
    memcpy(p + 6, smac->mac_octet, 6);
    rn_put_be16(p + 12, RN_ETHERTYPE_IPV6);
    rn__ip6_emit(p + RN_ETH_HLEN, &ip);
    memcpy(p + RN_ETH_HLEN + RN_IP6_HLEN, msg, len);
    rn__net_eth_input(P.ifa, nb);
}

struct pfx {
    const char *p_prefix;
    uint8_t p_plen;
    uint8_t p_flags;
    uint32_t p_valid;
    uint32_t p_pref;
};

/* Writes a router advertisement into m: router lifetime, cur hop limit,
 * an MTU option if mtu, a source link-layer option of *sll if not NULL,
 * and the prefix options.  Returns its length. */
static size_t ra_build(uint8_t *m, uint16_t lifetime, uint8_t hlim, uint32_t mtu,
                       const struct rn_mac *sll, const struct pfx *pf, unsigned npf)
{
    size_t len = 16;
    unsigned i;

    memset(m, 0, 16);
    m[0] = RN_ICMP6_ROUTER_ADVERT;
    m[4] = hlim;
    rn_put_be16(m + 6, lifetime);
    rn_put_be32(m + 8, 30000);  /* reachable time, ms */
    rn_put_be32(m + 12, 1000);  /* retrans timer, ms */
    if (sll != NULL) {
        m[len] = RN_ND_OPT_SRC_LLADDR;
        m[len + 1] = 1;
        memcpy(m + len + 2, sll->mac_octet, 6);
        len += 8;
    }
    if (mtu != 0) {
        memset(m + len, 0, 8);
        m[len] = RN_ND_OPT_MTU;
        m[len + 1] = 1;
        rn_put_be32(m + len + 4, mtu);
        len += 8;
    }
    for (i = 0; i < npf; i++) {
        struct rn_ip6 a = A6(pf[i].p_prefix);

        memset(m + len, 0, 32);
        m[len] = RN_ND_OPT_PREFIX;
        m[len + 1] = 4;
        m[len + 2] = pf[i].p_plen;
        m[len + 3] = pf[i].p_flags;
        rn_put_be32(m + len + 4, pf[i].p_valid);
        rn_put_be32(m + len + 8, pf[i].p_pref);
        memcpy(m + len + 16, a.i6_octet, 16);
        len += 32;
    }
    return len;
}

static const struct rn_ip6 all_nodes = RN_IP6_ALL_NODES;

/* An advertisement from b's link-local address. */
static void ra_from_b(uint16_t lifetime, uint32_t mtu, const struct pfx *pf, unsigned npf)
{
    uint8_t m[512];
    size_t len = ra_build(m, lifetime, 32, mtu, &P.ifb->if_mac, pf, npf);

    icmp6_to_a(&P.ifb->if_addr6[0].a6_addr, &all_nodes, 255, m, len, &P.ifb->if_mac);
}

struct route_count {
    unsigned rc_routers;    /* IPv6 default routers */
    unsigned rc_prefixes;   /* IPv6 learnt prefixes */
    struct rn_ip6 rc_gw;    /* the last router */
};

static void route_row(const struct rn_route_row *r, void *ctx)
{
    struct route_count *rc = ctx;

    if (r->rr_family != 6 || r->rr_id == 0)
        return;
    if (!rn_ip6_is_any(&r->rr_gw6)) {
        rc->rc_routers++;
        rc->rc_gw = r->rr_gw6;
        assert_int_equal(r->rr_plen, 0);
    } else {
        rc->rc_prefixes++;
    }
    assert_true(r->rr_expires_in > 0);
}

static struct route_count routes_of(struct rn_stack *st)
{
    struct route_count rc = {0};

    rn_stack_routes(st, route_row, &rc);
    return rc;
}

/* Both stacks with IPv6 on, past DAD of their link-local addresses; b
 * also holds 2001:2:0:1::1/64 (the advertised prefix) and 2001:2:0:5::9,
 * a host "beyond the router". */
static void up_router(void)
{
    struct rn_ip6 onlink = A6("2001:2:0:1::1"), beyond = A6("2001:2:0:5::9");

    pair_up_with(&net_pair);
    rn__net_nd_iface_up(P.ifa);
    assert_int_equal(rn_iface_add_addr6(P.ifb, &onlink, 64), 0);
    assert_int_equal(rn_iface_add_addr6(P.ifb, &beyond, 128), 0);
    run_until(P.now + RN_MSEC(1100));
    assert_true(P.ifa->if_ipv6);
    assert_int_equal(P.ifa->if_addr6[0].a6_state, RN_ADDR6_PREFERRED);
}

struct echo_seen {
    unsigned es_n;
};

static void on_echo(struct rn_stack *st, const struct rn_icmp_echo_rx *er, void *ctx)
{
    (void)st;
    (void)er;
    ((struct echo_seen *)ctx)->es_n++;
}

static int ping6(struct rn_stack *from, const char *to, uint16_t seq, size_t n)
{
    static uint8_t data[4000];
    struct rn_icmp6_echo req = {A6(to), 0x66, seq, data, n};

    return rn_icmp6_echo_send(from, &req);
}

/* The SLAAC address a forms in 2001:2:0:1::/64 from its MAC. */
static struct rn_ip6 slaac_a(const char *prefix)
{
    struct rn_ip6 a = A6(prefix), ll = P.ifa->if_addr6[0].a6_addr;

    memcpy(a.i6_octet + 8, ll.i6_octet + 8, 8);
    return a;
}

static int slaac_state(const char *prefix)
{
    struct rn_ip6 a = slaac_a(prefix);
    struct iface_addr6 *ia = rn__net_ip6_iface_addr(P.ifa, &a);

    return ia == NULL ? -1 : ia->a6_state;
}

/* RFC 4861 6.3.7: up to three solicitations, the first within a second,
 * then 4 s apart; none once an advertisement came. */
static void test_router_solicitations(void **state)
{
    (void)state;
    pair_up_with(&net_pair);
    rn__net_nd_iface_up(P.ifa);  /* IPv6 on, with its link-local address only */
    run_until(P.now + RN_MSEC(1001));
    assert_int_equal(net_st(P.a)->ns_nd_rs_out, 1);
    run_until(P.now + RN_SEC(4));
    assert_int_equal(net_st(P.a)->ns_nd_rs_out, 2);
    run_until(P.now + RN_SEC(20));
    assert_int_equal(net_st(P.a)->ns_nd_rs_out, 3);
    pair_down();

    /* Answered after the first: no more. */
    pair_up_with(&net_pair);
    rn__net_nd_iface_up(P.ifa);
    rn__net_nd_iface_up(P.ifb);
    run_until(P.now + RN_MSEC(1100));
    ra_from_b(0, 0, NULL, 0);
    assert_int_equal(net_st(P.a)->ns_nd_ra_in, 1);
    run_until(P.now + RN_SEC(20));
    assert_int_equal(net_st(P.a)->ns_nd_rs_out, 1);
    pair_down();
}

/* An advertisement with a /64 (on-link, autonomous) and a 1280-byte MTU:
 * a default router and a prefix as objects, an address under DAD, the MTU
 * and hop limit in force, and a ping to a host beyond the router. */
static void test_ra_slaac_default_router(void **state)
{
    struct pfx pf = {"2001:2:0:1::", 64, RN_ND_PI_ONLINK | RN_ND_PI_AUTO, 3600, 1800};
    struct echo_seen es = {0};
    struct route_count rc;
    uint64_t frag0;

    (void)state;
    up_router();
    assert_int_equal(ping6(P.a, "2001:2:0:5::9", 1, 32), RN_ENETUNREACH);
    ra_from_b(1800, 1280, &pf, 1);
    assert_int_equal(net_st(P.a)->ns_nd_ra_in, 1);
    rc = routes_of(P.a);
    assert_int_equal(rc.rc_routers, 1);
    assert_int_equal(rc.rc_prefixes, 1);
    assert_true(rn_ip6_eq(&rc.rc_gw, &P.ifb->if_addr6[0].a6_addr));
    assert_int_equal(P.ifa->if_mtu6, 1280);
    assert_int_equal(P.ifa->if_hlim6, 32);
    assert_int_equal(slaac_state("2001:2:0:1::"), RN_ADDR6_TENTATIVE);
    run_until(P.now + RN_MSEC(1100));
    assert_int_equal(slaac_state("2001:2:0:1::"), RN_ADDR6_PREFERRED);
    assert_int_equal(net_st(P.a)->ns_nd_slaac_addrs, 1);
    /* The same advertisement again changes nothing but the lifetimes. */
    ra_from_b(1800, 1280, &pf, 1);
    assert_int_equal(routes_of(P.a).rc_routers, 1);
    assert_int_equal(P.ifa->if_naddr6, 2);
    /* Through the router, answered from beyond it; 2000 bytes leave in
     * fragments of at most 1280. */
    assert_int_equal(rn_icmp6_set_echo_observer(P.a, on_echo, &es), 0);
    assert_int_equal(ping6(P.a, "2001:2:0:5::9", 1, 32), 0);
    run_until(P.now + RN_MSEC(50));
    assert_int_equal(es.es_n, 1);
    frag0 = net_st(P.a)->ns_ip6_frag_out;
    assert_int_equal(ping6(P.a, "2001:2:0:5::9", 2, 2000), 0);
    run_until(P.now + RN_MSEC(50));
    assert_int_equal(net_st(P.a)->ns_ip6_frag_out - frag0, 2);
    assert_int_equal(es.es_n, 2);
    assert_int_equal(rn__net_rd6_path_mtu(P.a, &(struct rn_ip6){{0x20, 1, 0, 2, 0, 0, 0, 5,
                                                                  [15] = 9}}),
                     1280);
    rn_icmp6_set_echo_observer(P.a, NULL, NULL);
    /* The router's advertisement (a neighbour advertisement) says it is
     * no longer one: out of the list (RFC 4861 7.2.5); its next router
     * advertisement brings it back. */
    {
        uint8_t na[RN_ND_NS_LL_LEN];
        size_t n = rn__nd6_emit_na(na, &P.ifb->if_addr6[0].a6_addr, &all_nodes,
                                   &P.ifb->if_addr6[0].a6_addr, RN_ND_NA_OVERRIDE,
                                   &P.ifb->if_mac);

        icmp6_to_a(&P.ifb->if_addr6[0].a6_addr, &all_nodes, 255, na, n, &P.ifb->if_mac);
        assert_int_equal(routes_of(P.a).rc_routers, 0);
        ra_from_b(1800, 1280, &pf, 1);
        assert_int_equal(routes_of(P.a).rc_routers, 1);
    }
    /* The router withdraws (lifetime 0): nothing beyond is reachable. */
    ra_from_b(0, 0, NULL, 0);
    assert_int_equal(routes_of(P.a).rc_routers, 0);
    assert_int_equal(ping6(P.a, "2001:2:0:5::9", 3, 32), RN_ENETUNREACH);
    pair_down();
}

/* Lifetimes: deprecated after the preferred one, removed after the valid
 * one, with the prefix and router gone when theirs run out; the two-hour
 * rule keeps a short valid lifetime from cutting a long one. */
static void test_lifetimes(void **state)
{
    struct pfx pf = {"2001:2:0:1::", 64, RN_ND_PI_ONLINK | RN_ND_PI_AUTO, 20, 10};
    struct pfx longer = {"2001:2:0:2::", 64, RN_ND_PI_AUTO, 10000, 10000};
    struct pfx cut = {"2001:2:0:2::", 64, RN_ND_PI_AUTO, 5, 5};

    (void)state;
    up_router();
    ra_from_b(15, 0, &pf, 1);
    ra_from_b(15, 0, &longer, 1);
    run_until(P.now + RN_MSEC(1100));
    assert_int_equal(slaac_state("2001:2:0:1::"), RN_ADDR6_PREFERRED);
    run_until(P.now + RN_SEC(10));
    assert_int_equal(slaac_state("2001:2:0:1::"), RN_ADDR6_DEPRECATED);
    assert_int_equal(routes_of(P.a).rc_routers, 1);
    run_until(P.now + RN_SEC(5));
    assert_int_equal(routes_of(P.a).rc_routers, 0);
    assert_int_equal(routes_of(P.a).rc_prefixes, 1);
    run_until(P.now + RN_SEC(5));
    assert_int_equal(slaac_state("2001:2:0:1::"), -1);
    assert_int_equal(routes_of(P.a).rc_prefixes, 0);
    /* 5 s against 10000 s left: two hours stay (RFC 4862 5.5.3 e). */
    ra_from_b(0, 0, &cut, 1);
    run_until(P.now + RN_SEC(60));
    assert_int_equal(slaac_state("2001:2:0:2::"), RN_ADDR6_DEPRECATED);
    run_until(P.now + RN_SEC(2 * 3600));
    assert_int_equal(slaac_state("2001:2:0:2::"), -1);
    pair_down();
}

/* Bad advertisements are dropped under bad_ra; bad prefixes ignored under
 * bad_ra_prefix; an out-of-range MTU ignored. */
static void test_bad_ra(void **state)
{
    struct pfx ll = {"fe80::", 64, RN_ND_PI_ONLINK | RN_ND_PI_AUTO, 100, 100};
    struct pfx pref_over = {"2001:2:0:7::", 64, RN_ND_PI_AUTO, 100, 200};
    struct pfx not64 = {"2001:2:0:8::", 80, RN_ND_PI_AUTO, 100, 100};
    struct rn_ip6 global = A6("2001:2:0:1::1");
    uint8_t m[512];
    size_t len;

    (void)state;
    up_router();
    len = ra_build(m, 1800, 64, 0, NULL, NULL, 0);
    /* Hop limit 64: it crossed a router. */
    icmp6_to_a(&P.ifb->if_addr6[0].a6_addr, &all_nodes, 64, m, len, &P.ifb->if_mac);
    /* From a global address. */
    icmp6_to_a(&global, &all_nodes, 255, m, len, &P.ifb->if_mac);
    /* Code 1. */
    m[1] = 1;
    icmp6_to_a(&P.ifb->if_addr6[0].a6_addr, &all_nodes, 255, m, len, &P.ifb->if_mac);
    m[1] = 0;
    /* An option of length 0. */
    m[len] = RN_ND_OPT_MTU;
    m[len + 1] = 0;
    memset(m + len + 2, 0, 6);
    icmp6_to_a(&P.ifb->if_addr6[0].a6_addr, &all_nodes, 255, m, len + 8, &P.ifb->if_mac);
    /* Short. */
    icmp6_to_a(&P.ifb->if_addr6[0].a6_addr, &all_nodes, 255, m, 12, &P.ifb->if_mac);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_BAD_RA), 5);
    assert_int_equal(net_st(P.a)->ns_nd_ra_in, 0);
    assert_int_equal(routes_of(P.a).rc_routers, 0);
    /* Valid, but with prefixes SLAAC must ignore and an MTU of 1000. */
    ra_from_b(0, 1000, &ll, 1);
    ra_from_b(0, 9000, &pref_over, 1);
    ra_from_b(0, 0, &not64, 1);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_BAD_RA_PREFIX), 3);
    assert_int_equal(P.ifa->if_naddr6, 1);
    assert_int_equal(P.ifa->if_mtu6, P.ifa->if_mtu);
    pair_down();
}

/* 200 advertisements from 200 made-up routers, each with 8 new prefixes:
 * the lists stay bounded, the excess is counted, and all of it goes at
 * teardown. */
static void test_ra_flood(void **state)
{
    unsigned i, k;

    (void)state;
    up_router();
    for (i = 0; i < 200; i++) {
        struct rn_ip6 src = A6("fe80::99:0");
        struct rn_mac mac = {{0x02, 0x99, 0, 0, (uint8_t)(i >> 8), (uint8_t)i}};
        char names[8][40];
        struct pfx pf[8];
        uint8_t m[512];
        size_t len;

        rn_put_be16(src.i6_octet + 14, (uint16_t)(i + 1));
        for (k = 0; k < 8; k++) {
            snprintf(names[k], sizeof(names[k]), "2001:2:%x::", i * 8 + k + 16);
            pf[k] = (struct pfx){names[k], 64, RN_ND_PI_ONLINK | RN_ND_PI_AUTO, 600, 600};
        }
        len = ra_build(m, 600, 64, 0, &mac, pf, 8);
        icmp6_to_a(&src, &all_nodes, 255, m, len, &mac);
        if (i % 20 == 19)
            run_until(P.now + RN_MSEC(1));
    }
    assert_int_equal(net_st(P.a)->ns_nd_ra_in, 200);
    assert_int_equal(net_st(P.a)->ns_nrouters6, NET_MAX_ROUTERS6);
    assert_int_equal(net_st(P.a)->ns_nprefixes6, NET_MAX_PREFIXES6);
    assert_int_equal(routes_of(P.a).rc_routers, NET_MAX_ROUTERS6);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_RA_ROUTER_LIMIT), 200 - NET_MAX_ROUTERS6);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_RA_PREFIX_LIMIT), 1600 - NET_MAX_PREFIXES6);
    assert_int_equal(net_st(P.a)->ns_nd_slaac_addrs, NET_MAX_SLAAC6);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_SLAAC_ADDR_LIMIT), 1600 - NET_MAX_SLAAC6);
    assert_int_equal(P.ifa->if_naddr6, 1 + NET_MAX_SLAAC6);
    /* A prefix option past the eighth of one advertisement is not read. */
    {
        struct pfx pf[9];
        char names[9][40];
        uint8_t m[512];
        uint64_t over0 = rn_stack_drops(P.a, RN_DROP_RA_PREFIX_LIMIT);
        size_t len;

        for (k = 0; k < 9; k++) {
            snprintf(names[k], sizeof(names[k]), "2001:2:ff%x::", k);
            pf[k] = (struct pfx){names[k], 64, 0, 600, 600};
        }
        len = ra_build(m, 0, 0, 0, NULL, pf, 9);
        icmp6_to_a(&P.ifb->if_addr6[0].a6_addr, &all_nodes, 255, m, len, &P.ifb->if_mac);
        assert_int_equal(rn_stack_drops(P.a, RN_DROP_RA_PREFIX_LIMIT) - over0, 1);
    }
    pair_down();
}

/* Writes a redirect of dst to target into m, with a target link-layer
 * option of *tll if not NULL.  Returns its length. */
static size_t redirect_build(uint8_t *m, const char *target, const char *dst,
                             const struct rn_mac *tll)
{
    struct rn_ip6 t = A6(target), d = A6(dst);

    memset(m, 0, 40);
    m[0] = RN_ICMP6_REDIRECT;
    memcpy(m + 8, t.i6_octet, 16);
    memcpy(m + 24, d.i6_octet, 16);
    if (tll == NULL)
        return 40;
    m[40] = RN_ND_OPT_TGT_LLADDR;
    m[41] = 1;
    memcpy(m + 42, tll->mac_octet, 6);
    return 48;
}

/* A redirect from the router in use is taken (the destination's next hop
 * becomes its target); one from anyone else is not. */
static void test_redirect(void **state)
{
    struct pfx pf = {"2001:2:0:1::", 64, RN_ND_PI_ONLINK | RN_ND_PI_AUTO, 3600, 3600};
    struct rn_ip6 other = A6("fe80::77"), dst = A6("2001:2:0:5::9");
    struct rn_mac omac = {{0x02, 0x77, 0, 0, 0, 0x77}};
    struct ip6_hop hop;
    struct rn_ip6 me;
    uint8_t m[64];
    size_t len;

    (void)state;
    up_router();
    ra_from_b(1800, 0, &pf, 1);
    run_until(P.now + RN_MSEC(1100));
    me = slaac_a("2001:2:0:1::");
    /* From a node that is not our router for it. */
    len = redirect_build(m, "fe80::55", "2001:2:0:5::9", NULL);
    icmp6_to_a(&other, &me, 255, m, len, &omac);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_REDIRECT_NOT_ROUTER), 1);
    /* Malformed: a global target that is not the destination. */
    len = redirect_build(m, "2001:2:0:1::55", "2001:2:0:5::9", NULL);
    icmp6_to_a(&P.ifb->if_addr6[0].a6_addr, &me, 255, m, len,
               &P.ifb->if_mac);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_BAD_REDIRECT), 1);
    /* Hop limit 64. */
    len = redirect_build(m, "fe80::55", "2001:2:0:5::9", NULL);
    icmp6_to_a(&P.ifb->if_addr6[0].a6_addr, &me, 64, m, len,
               &P.ifb->if_mac);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_BAD_REDIRECT), 2);
    assert_true(rn__net_ip6_route(P.a, &dst, NULL, &hop));
    assert_true(rn_ip6_eq(&hop.h_nexthop, &P.ifb->if_addr6[0].a6_addr));
    /* From the router: taken, with the target's link address learnt. */
    len = redirect_build(m, "fe80::55", "2001:2:0:5::9", &omac);
    icmp6_to_a(&P.ifb->if_addr6[0].a6_addr, &me, 255, m, len,
               &P.ifb->if_mac);
    assert_int_equal(net_st(P.a)->ns_nd_redirects_in, 1);
    assert_true(rn__net_ip6_route(P.a, &dst, NULL, &hop));
    assert_true(rn_ip6_eq(&hop.h_nexthop, &(struct rn_ip6){{0xfe, 0x80, [15] = 0x55}}));
    assert_true(rn__net_nd_resolved(P.a, P.ifa, &hop.h_nexthop));
    pair_down();
}

/* Hands a (at to) a packet too big from b quoting a datagram src -> dst. */
static void too_big_to_a(uint32_t mtu, const struct rn_ip6 *to, const struct rn_ip6 *src,
                         const struct rn_ip6 *dst)
{
    uint8_t m[8 + 48];
    struct rn_ip6_hdr q = {.ip6_plen = 1400, .ip6_nxt = RN_IPPROTO_ICMPV6, .ip6_hlim = 64};
    struct rn_ip6 from = A6("2001:2:0:1::1");

    q.ip6_src = *src;
    q.ip6_dst = *dst;
    memset(m, 0, sizeof(m));
    m[0] = RN_ICMP6_PACKET_TOO_BIG;
    rn_put_be32(m + 4, mtu);
    rn__ip6_emit(m + 8, &q);
    m[48] = RN_ICMP6_ECHO_REQUEST;
    icmp6_to_a(&from, to, 64, m, sizeof(m), &P.ifb->if_mac);
}

/* A packet too big lowers the destination's path MTU, never below 1280
 * and never up; one about a datagram we did not send is dropped. */
static void test_path_mtu(void **state)
{
    struct pfx pf = {"2001:2:0:1::", 64, RN_ND_PI_ONLINK | RN_ND_PI_AUTO, 3600, 3600};
    struct rn_ip6 dst = A6("2001:2:0:5::9"), stranger = A6("2001:2:0:1::42");
    struct rn_ip6 me;
    uint64_t frag0;

    (void)state;
    up_router();
    ra_from_b(1800, 0, &pf, 1);
    run_until(P.now + RN_MSEC(1100));
    me = slaac_a("2001:2:0:1::");
    assert_int_equal(rn__net_rd6_path_mtu(P.a, &dst), P.ifa->if_mtu);
    too_big_to_a(1400, &me, &me, &dst);
    assert_int_equal(rn__net_rd6_path_mtu(P.a, &dst), 1400);
    too_big_to_a(1450, &me, &me, &dst);  /* never up */
    assert_int_equal(rn__net_rd6_path_mtu(P.a, &dst), 1400);
    too_big_to_a(600, &me, &me, &dst);   /* never below 1280 */
    assert_int_equal(rn__net_rd6_path_mtu(P.a, &dst), 1280);
    assert_int_equal(net_st(P.a)->ns_ip6_pmtu_updates, 2);
    too_big_to_a(1280, &me, &stranger, &dst);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_PTB_NOT_OURS), 1);
    /* Output fragments by it: 1300 bytes of echo leave in two. */
    frag0 = net_st(P.a)->ns_ip6_frag_out;
    assert_int_equal(ping6(P.a, "2001:2:0:5::9", 1, 1300), 0);
    run_until(P.now + RN_MSEC(50));
    assert_int_equal(net_st(P.a)->ns_ip6_frag_out - frag0, 2);
    /* Forgotten after 10 minutes (RFC 8201 4).  (b, no router, answered
     * a's probe meanwhile without the router flag, which took it out of
     * the list: it advertises itself again.) */
    run_until(P.now + RN_SEC(601));
    ra_from_b(1800, 0, &pf, 1);
    assert_int_equal(rn__net_rd6_path_mtu(P.a, &dst), P.ifa->if_mtu);
    pair_down();
}

/* RFC 7112: a first fragment that ends inside its TCP header is dropped;
 * one holding the whole ICMPv6 header goes to reassembly. */
static void test_first_fragment_chain(void **state)
{
    struct rn_ip6 a = A6("2001:2::2"), b = A6("2001:2::3");
    unsigned k;

    (void)state;
    pair_up_with(&net_pair);
    assert_int_equal(rn_iface_add_addr6(P.ifa, &a, 64), 0);
    assert_int_equal(rn_iface_add_addr6(P.ifb, &b, 64), 0);
    run_until(P.now + RN_MSEC(1100));
    for (k = 0; k < 2; k++) {
        struct rn_netbuf *nb = rn__ip_alloc(P.b, rn_nb_owner_register("test"));
        struct ip6_out out = {.o6_src = b, .o6_dst = a, .o6_proto = RN_IP6_NH_FRAGMENT};
        uint8_t *p = rn_nb_put(nb, 16);

        memset(p, 0, 16);
        p[0] = k == 0 ? RN_IPPROTO_TCP : RN_IPPROTO_ICMPV6;
        rn_put_be16(p + 2, 1);  /* offset 0, more fragments */
        rn_put_be32(p + 4, 77 + k);
        assert_int_equal(rn__net_ip6_output(P.b, nb, &out), 0);
        run_until(P.now + RN_MSEC(10));
    }
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_IP6_FRAG_CHAIN), 1);
    assert_int_equal(net_st(P.a)->ns_nreass6, 1);
    pair_down();
}

/* MLDv2: a join is reported twice, a second apart; a general query is
 * answered within its delay; a query that fails RFC 3810 5.1 is dropped. */
static void test_mld(void **state)
{
    struct rn_ip6 ll_b;
    uint8_t m[28];
    uint64_t r0;

    (void)state;
    up_router();
    /* a's link-local address: two reports (join and repeat). */
    assert_int_equal(net_st(P.a)->ns_mld_reports_out, 2);
    ll_b = P.ifb->if_addr6[0].a6_addr;
    memset(m, 0, sizeof(m));
    m[0] = RN_ICMP6_MLD_QUERY;
    rn_put_be16(m + 4, 500);  /* answer within 500 ms */
    r0 = net_st(P.a)->ns_mld_reports_out;
    icmp6_to_a(&ll_b, &all_nodes, 1, m, sizeof(m), &P.ifb->if_mac);
    assert_int_equal(net_st(P.a)->ns_mld_queries_in, 1);
    run_until(P.now + RN_MSEC(501));
    assert_int_equal(net_st(P.a)->ns_mld_reports_out - r0, 1);
    /* Hop limit 64; a global source; 26 bytes. */
    icmp6_to_a(&ll_b, &all_nodes, 64, m, sizeof(m), &P.ifb->if_mac);
    icmp6_to_a(&(struct rn_ip6){{0x20, 1, 0, 2, [15] = 9}}, &all_nodes, 1, m, sizeof(m),
               &P.ifb->if_mac);
    icmp6_to_a(&ll_b, &all_nodes, 1, m, 26, &P.ifb->if_mac);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_BAD_MLD), 3);
    run_until(P.now + RN_SEC(1));
    assert_int_equal(net_st(P.a)->ns_mld_reports_out - r0, 1);
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_solicitations),
        cmocka_unit_test(test_ra_slaac_default_router),
        cmocka_unit_test(test_lifetimes),
        cmocka_unit_test(test_bad_ra),
        cmocka_unit_test(test_ra_flood),
        cmocka_unit_test(test_redirect),
        cmocka_unit_test(test_path_mtu),
        cmocka_unit_test(test_first_fragment_chain),
        cmocka_unit_test(test_mld),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
