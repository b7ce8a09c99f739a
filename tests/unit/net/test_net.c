/*
 * The network layer between two stacks on a simulated cable, in virtual
 * time: ARP resolution, ping (small and fragmented), reassembly limits and
 * timeouts, bad input counted by reason, and teardown with nothing left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "refnet/link.h"
#include "refnet/stack.h"
#include "support.h"
#include "wire/arp.h"
#include "wire/bytes.h"
#include "wire/csum.h"
#include "wire/icmp.h"

/* The pair with nothing above IP. */
static const struct pair_params net_pair = {.pp_layers = PAIR_NET};

/* Sends an echo request of datalen bytes from a to b. */
static void ping(struct rn_stack *from, uint32_t dst, size_t datalen, uint16_t seq)
{
    struct rn_netbuf *nb = rn__ip_alloc(from, rn_nb_owner_register("test"));
    struct rn_ip_out out = {.io_dst = dst, .io_proto = RN_IPPROTO_ICMP};
    uint8_t *data = malloc(RN_ICMP_HLEN + datalen);
    size_t i;

    assert_non_null(nb);
    assert_non_null(data);
    data[0] = RN_ICMP_ECHO;
    data[1] = 0;
    rn_put_be16(data + 2, 0);
    rn_put_be16(data + 4, 0x1234);
    rn_put_be16(data + 6, seq);
    for (i = 0; i < datalen; i++)
        data[RN_ICMP_HLEN + i] = (uint8_t)(i * 7 + seq);
    rn_put_be16(data + 2, rn_csum(data, RN_ICMP_HLEN + datalen));
    assert_int_equal(rn_nb_copyin(nb, 0, data, RN_ICMP_HLEN + datalen), 0);
    free(data);
    assert_int_equal(rn__ip_output(from, nb, &out), 0);
}

static void test_ping_resolves_and_replies(void **state)
{
    (void)state;
    pair_up_with(&net_pair);
    ping(P.a, ADDR_B, 56, 1);
    run_until(P.now + RN_MSEC(100));
    assert_int_equal(net_st(P.b)->ns_icmp_echo_replies, 1);
    assert_int_equal(net_st(P.a)->ns_icmp_in, 1);
    /* Each side learnt the other: a by the reply, b from a's request. */
    assert_int_equal(net_st(P.a)->ns_narp, 1);
    assert_int_equal(net_st(P.b)->ns_narp, 1);
    ping(P.a, ADDR_B, 56, 2);
    run_until(P.now + RN_MSEC(100));
    assert_int_equal(net_st(P.b)->ns_icmp_echo_replies, 2);
    assert_int_equal(rn_nbpool_outstanding(rn_stack_pool(P.a), RN_NB_OWNER_NONE), 0);
    pair_down();
}

static void test_fragmented_ping_reassembles(void **state)
{
    (void)state;
    pair_up_with(&net_pair);
    ping(P.a, ADDR_B, 8000, 3);
    run_until(P.now + RN_MSEC(100));
    assert_int_equal(net_st(P.b)->ns_ip_reassembled, 1);
    assert_int_equal(net_st(P.b)->ns_icmp_echo_replies, 1);
    assert_true(net_st(P.b)->ns_ip_frag_out >= 6);  /* the reply went out in pieces */
    assert_int_equal(net_st(P.a)->ns_ip_reassembled, 1);
    assert_int_equal(net_st(P.a)->ns_icmp_in, 1);
    assert_int_equal(net_st(P.b)->ns_nreass, 0);
    pair_down();
}

/* Sends a raw IPv4 fragment from a to b. */
static void send_fragment(uint16_t id, uint16_t off, bool mf, size_t len)
{
    struct rn_netbuf *nb = rn__ip_alloc(P.a, rn_nb_owner_register("test"));
    struct rn_ip4_hdr ip = {0};
    uint8_t *p;

    assert_non_null(nb);
    p = rn_nb_put(nb, RN_IP4_HLEN + len);
    assert_non_null(p);
    memset(p + RN_IP4_HLEN, 0xab, len);
    ip.ip_id = id;
    ip.ip_off = off;
    ip.ip_mf = mf;
    ip.ip_ttl = 64;
    ip.ip_proto = 253;  /* experimental: no transport */
    ip.ip_src = ADDR_A;
    ip.ip_dst = ADDR_B;
    ip.ip_paylen = (uint16_t)len;
    rn__ip4_emit(p, &ip);
    rn__net_arp_output(P.ifa, nb, ADDR_B);
}

static void test_reassembly_limits(void **state)
{
    (void)state;
    pair_up_with(&net_pair);
    ping(P.a, ADDR_B, 8, 1);  /* resolve ARP first */
    run_until(P.now + RN_MSEC(10));

    /* Overlap: the whole datagram goes. */
    send_fragment(100, 0, true, 16);
    send_fragment(100, 8, true, 16);
    /* Exact duplicate: only the copy goes. */
    send_fragment(101, 0, true, 16);
    send_fragment(101, 0, true, 16);
    /* Never completes: times out. */
    send_fragment(102, 16, true, 16);
    run_until(P.now + RN_MSEC(10));
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_FRAG_OVERLAP), 2);
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_FRAG_DUPLICATE), 1);
    assert_int_equal(net_st(P.b)->ns_nreass, 2);
    run_until(P.now + RN_SEC(31));
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_FRAG_TIMEOUT), 2);
    assert_int_equal(net_st(P.b)->ns_nreass, 0);
    /* 101 had its first fragment: b sent time exceeded for it. */
    assert_true(net_st(P.b)->ns_icmp_out >= 2);

    /* A complete datagram for a protocol nobody speaks: protocol
     * unreachable, and a named drop. */
    send_fragment(103, 0, true, 16);
    send_fragment(103, 16, false, 8);
    run_until(P.now + RN_MSEC(10));
    assert_int_equal(net_st(P.b)->ns_ip_reassembled, 1);
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_UNKNOWN_PROTO), 1);
    pair_down();
}

static void removed_cb(struct rn_stack *st, uint64_t id, int result, void *ctx)
{
    (void)st;
    (void)id;
    *(int *)ctx = result + 1;
}

/* An interface removed while a datagram that came through it waits for its
 * other fragments takes the datagram along: nothing is left pointing at
 * the interface when its timeout comes (ASan would see it), and the
 * removal completes. */
static void test_reassembly_goes_with_its_interface(void **state)
{
    int done = 0;

    (void)state;
    pair_up_with(&net_pair);
    ping(P.a, ADDR_B, 8, 1);
    run_until(P.now + RN_MSEC(10));
    send_fragment(102, 16, true, 16);
    run_until(P.now + RN_MSEC(10));
    assert_int_equal(net_st(P.b)->ns_nreass, 1);
    assert_int_equal(rn_stack_remove_iface(P.b, P.ifb, removed_cb, &done, NULL), 0);
    assert_int_equal(net_st(P.b)->ns_nreass, 0);
    run_until(P.now + RN_SEC(31));
    assert_int_equal(done, 1);
    assert_int_equal(net_st(P.b)->ns_nreass, 0);
    pair_down();
}

static void test_reassembly_memory_bound(void **state)
{
    uint16_t id;

    (void)state;
    pair_up_with(&net_pair);
    ping(P.a, ADDR_B, 8, 1);
    run_until(P.now + RN_MSEC(10));
    /* Far more incomplete datagrams than the table holds. */
    for (id = 0; id < 500; id++) {
        send_fragment((uint16_t)(1000 + id), 0, true, 64);
        if (id % 32 == 0)
            run_until(P.now + RN_MSEC(1));
    }
    run_until(P.now + RN_MSEC(10));
    assert_true(net_st(P.b)->ns_nreass <= net_st(P.b)->ns_params.sp_reass_max_datagrams);
    assert_true(net_st(P.b)->ns_reass_mem <= net_st(P.b)->ns_params.sp_reass_max_bytes);
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_FRAG_NO_MEMORY) + net_st(P.b)->ns_nreass, 500);
    pair_down();
}

static void test_garbage_frames_counted(void **state)
{
    struct rn_netbuf *nb;
    uint8_t *p;
    unsigned i;

    (void)state;
    pair_up_with(&net_pair);
    run_until(P.now + RN_MSEC(10));
    /* Truncated Ethernet, bad IP version, bad IP checksum, not for us. */
    for (i = 0; i < 4; i++) {
        nb = rn__ip_alloc(P.b, rn_nb_owner_register("test"));
        assert_non_null(nb);
        p = rn_nb_put(nb, i == 0 ? 8 : 60);
        memset(p, 0, i == 0 ? 8 : 60);
        if (i > 0) {
            memcpy(p, &P.ifb->if_mac, 6);
            p[12] = 0x08;
            p[13] = 0x00;
            p[14] = i == 1 ? 0x65 : 0x45;
            rn_put_be16(p + 16, 46);
            p[22] = 64;
            p[23] = 17;
            rn_put_be32(p + 26, ADDR_A);
            rn_put_be32(p + 30, i == 3 ? 0xc6120063u : ADDR_B);
            rn_put_be16(p + 24, i == 2 ? 0x1234 : rn_csum(p + 14, 20));
        }
        rn__net_eth_input(P.ifb, nb);
    }
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_TRUNCATED), 1);
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_BAD_IP_VERSION), 1);
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_BAD_IP_CSUM), 1);
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_NOT_FOR_US), 1);
    pair_down();
}

static void test_arp_gives_up(void **state)
{
    (void)state;
    pair_up_with(&net_pair);
    /* Nobody has .99: three requests, then the queued ping is dropped. */
    ping(P.a, 0xc6120063u, 8, 1);
    run_until(P.now + RN_MSEC(500));
    assert_int_equal(net_st(P.a)->ns_narp, 1);
    run_until(P.now + RN_SEC(5));
    assert_int_equal(net_st(P.a)->ns_narp, 0);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_ARP_UNRESOLVED), 1);
    assert_int_equal(net_st(P.a)->ns_arp_out, 1 + 3);  /* announcement + requests */
    pair_down();
}

/* Whether a's cache holds b's address resolved. */
struct neigh_find {
    uint32_t addr;
    bool resolved;
};

static void neigh_row(const struct rn_neigh_row *r, void *ctx)
{
    struct neigh_find *f = ctx;

    if (r->nr_addr == f->addr && r->nr_state != RN_NEIGH_INCOMPLETE)
        f->resolved = true;
}

static bool a_knows_b(void)
{
    struct neigh_find f = {.addr = ADDR_B};

    rn_stack_neighbours(P.a, neigh_row, &f);
    return f.resolved;
}

/* A spoofed source on the link nobody answers for: 198.18.16.0 and up. */
static uint32_t spoofed(unsigned i)
{
    return 0xc6121000u + i;
}

/* An ARP request for a's address from a sender that does not exist. */
static void arp_request_from(uint32_t spa, unsigned i)
{
    struct rn_netbuf *nb = rn__ip_alloc(P.b, rn_nb_owner_register("test"));
    struct rn_arp ar = {.ar_op = RN_ARP_OP_REQUEST, .ar_spa = spa, .ar_tpa = ADDR_A};
    uint8_t *p;

    assert_non_null(nb);
    p = rn_nb_put(nb, RN_ETH_HLEN + RN_ARP_LEN);
    assert_non_null(p);
    memset(p, 0xff, 6);
    ar.ar_sha.mac_octet[0] = 0x02;
    ar.ar_sha.mac_octet[3] = 0x99;  /* none of the pair's */
    ar.ar_sha.mac_octet[4] = (uint8_t)(i >> 8);
    ar.ar_sha.mac_octet[5] = (uint8_t)i;
    memcpy(p + 6, ar.ar_sha.mac_octet, 6);
    rn_put_be16(p + 12, RN_ETHERTYPE_ARP);
    rn__arp_emit(p + RN_ETH_HLEN, &ar);
    rn__net_eth_input(P.ifa, nb);
}

/* 5000 datagrams to spoofed sources in 20 ms, then 2000 a second
 * for 3 s: a keeps b resolved throughout, so pings to b go out at once;
 * INCOMPLETE entries stay within half the cache, and resolutions start
 * at the rate limit, not the flood's. */
static void test_arp_flood_keeps_resolved(void **state)
{
    uint64_t replies, out0;
    unsigned i, n = 0, step;

    (void)state;
    pair_up_with(&net_pair);
    ping(P.a, ADDR_B, 8, 1);
    run_until(P.now + RN_MSEC(10));
    assert_true(a_knows_b());
    for (i = 0; i < 5000; i++) {
        ping(P.a, spoofed(n++), 8, 2);
        if (i % 100 == 99)
            run_until(P.now + 400 * RN_NSEC_PER_USEC);
    }
    assert_true(a_knows_b());
    assert_true(net_st(P.a)->ns_narp <= net_st(P.a)->ns_params.sp_arp_max_entries);
    assert_true(net_st(P.a)->ns_arp_nincomplete <= net_st(P.a)->ns_params.sp_arp_max_entries / 2);
    assert_true(net_st(P.a)->ns_arp_ratelimited > 0);
    out0 = net_st(P.a)->ns_arp_out;
    replies = net_st(P.b)->ns_icmp_echo_replies;
    for (step = 0; step < 300; step++) {
        for (i = 0; i < 20; i++)
            ping(P.a, spoofed(n++ % 60000), 8, 3);
        if (step % 10 == 0) {
            /* b is answered within the step: no resolution was needed. */
            ping(P.a, ADDR_B, 8, 4);
            run_until(P.now + RN_MSEC(10));
            assert_int_equal(net_st(P.b)->ns_icmp_echo_replies, ++replies);
        } else {
            run_until(P.now + RN_MSEC(10));
        }
        assert_true(a_knows_b());
        assert_true(net_st(P.a)->ns_arp_nincomplete <=
                    net_st(P.a)->ns_params.sp_arp_max_entries / 2);
    }
    /* At most 2048 resolutions a second started (and 128 at once), each
     * asking at most three times. */
    assert_true(net_st(P.a)->ns_arp_out - out0 <= (3 * 2048 + 128) * 3);
    pair_down();
}

/* ARP requests for us from 5000 senders: a answers each but learns them
 * only while its cache has room, and keeps b. */
static void test_arp_request_flood_keeps_resolved(void **state)
{
    unsigned i;

    (void)state;
    pair_up_with(&net_pair);
    ping(P.a, ADDR_B, 8, 1);
    run_until(P.now + RN_MSEC(10));
    assert_true(a_knows_b());
    /* In 20 ms, as the link lets a's answers out. */
    for (i = 0; i < 5000; i++) {
        arp_request_from(spoofed(i), i);
        if (i % 100 == 99)
            run_until(P.now + 400 * RN_NSEC_PER_USEC);
    }
    assert_true(a_knows_b());
    assert_true(net_st(P.a)->ns_narp <= net_st(P.a)->ns_params.sp_arp_max_entries);
    ping(P.a, ADDR_B, 8, 2);
    run_until(P.now + RN_MSEC(10));
    assert_int_equal(net_st(P.b)->ns_icmp_echo_replies, 2);
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_resolves_and_replies),
        cmocka_unit_test(test_fragmented_ping_reassembles),
        cmocka_unit_test(test_reassembly_limits),
        cmocka_unit_test(test_reassembly_goes_with_its_interface),
        cmocka_unit_test(test_reassembly_memory_bound),
        cmocka_unit_test(test_garbage_frames_counted),
        cmocka_unit_test(test_arp_gives_up),
        cmocka_unit_test(test_arp_flood_keeps_resolved),
        cmocka_unit_test(test_arp_request_flood_keeps_resolved),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
