/*
 * Simulated cable under virtual time: latency, serialisation at a rate,
 * order, the in-flight limit, copies between the two stacks' pools, and
 * closing one end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "helper_link.h"
#include "refnet/link.h"

#define US RN_NSEC_PER_USEC

static void test_latency(void **state)
{
    struct rn_nbpool *pa = th_pool(64), *pb = th_pool(64);
    struct rn_sim_cable_params p = {.sc_latency = 500 * US, .sc_pool_a = pa, .sc_pool_b = pb};
    struct rn_link *a, *b;
    struct rn_netbuf *pkts[8];
    struct rn_link_caps caps;
    rn_time_t t0 = RN_SEC(10);

    assert_int_equal(rn_sim_cable_new(&p, &a, &b), 0);
    rn_link_caps(a, &caps);
    assert_true(caps.lc_has_hwaddr);
    assert_int_equal(caps.lc_mtu, 1500);
    assert_int_equal(caps.lc_hwaddr[0], 0x02);
    assert_int_equal(caps.lc_hwaddr[5], 1);
    rn_link_caps(b, &caps);
    assert_int_equal(caps.lc_hwaddr[5], 2);

    assert_int_equal(rn_link_tx1(a, th_frame(pa, 1, 100), t0), 1);
    assert_int_equal(rn_link_tx1(a, th_frame(pa, 2, 100), t0 + 100 * US), 1);
    /* Nothing at the sender's side, nothing early at the receiver. */
    assert_int_equal(rn_link_rx(a, pkts, 8, t0 + RN_SEC(1)), 0);
    assert_int_equal(rn_link_next_deadline(b), t0 + 500 * US);
    assert_int_equal(rn_link_rx(b, pkts, 8, t0 + 499 * US), 0);
    assert_int_equal(rn_link_rx(b, pkts, 8, t0 + 500 * US), 1);
    assert_true(th_frame_intact(pkts[0], 1, 100));
    assert_int_equal(pkts[0]->nb_rxtime, t0 + 500 * US);
    /* Arrived in b's pool as a copy; a's buffer went back to a's pool. */
    assert_ptr_equal(pkts[0]->nb_pool, pb);
    assert_int_equal(rn_nbpool_outstanding(pa, RN_NB_OWNER_NONE), 1);  /* frame 2 in flight */
    assert_int_equal(rn_nbpool_outstanding(pa, rn_nb_owner_register("link.sim.wire")), 1);
    assert_int_equal(rn_nbpool_outstanding(pb, rn_nb_owner_register("link.sim.rx")), 1);
    rn_nb_free(pkts[0]);
    assert_int_equal(rn_link_next_deadline(b), t0 + 600 * US);
    assert_int_equal(rn_link_rx(b, pkts, 8, t0 + 600 * US), 1);
    assert_true(th_frame_intact(pkts[0], 2, 100));
    rn_nb_free(pkts[0]);
    assert_int_equal(rn_link_next_deadline(b), RN_LINK_NO_DEADLINE);

    /* The other direction works the same. */
    assert_int_equal(rn_link_tx1(b, th_frame(pb, 3, 70), t0 + RN_SEC(1)), 1);
    assert_int_equal(rn_link_rx(a, pkts, 8, t0 + RN_SEC(1) + 500 * US), 1);
    assert_true(th_frame_intact(pkts[0], 3, 70));
    assert_ptr_equal(pkts[0]->nb_pool, pa);
    rn_nb_free(pkts[0]);

    rn_link_close(a);
    rn_link_close(b);
    assert_int_equal(rn_nbpool_destroy(pa), 0);
    assert_int_equal(rn_nbpool_destroy(pb), 0);
}

static void test_rate_and_order(void **state)
{
    struct rn_nbpool *pool = th_pool(256);
    /* 8 Mbit/s: a 1000-byte frame takes 1 ms to serialise. */
    struct rn_sim_cable_params p = {.sc_latency = 2 * RN_NSEC_PER_MSEC,
                                    .sc_rate_bps = 8000000,
                                    .sc_pool_a = pool,
                                    .sc_pool_b = pool};
    struct rn_link *a, *b;
    struct rn_netbuf *batch[10], *pkts[16];
    rn_time_t t, arrival[10];
    unsigned got = 0, i;
    int n;

    assert_int_equal(rn_sim_cable_new(&p, &a, &b), 0);
    for (i = 0; i < 10; i++)
        batch[i] = th_frame(pool, i, 1000);
    assert_int_equal(rn_link_tx(a, batch, 10, 0), 10);
    /* Drive b the way a simulator does: jump to each deadline. */
    while (got < 10) {
        t = rn_link_next_deadline(b);
        assert_int_not_equal(t, RN_LINK_NO_DEADLINE);
        n = rn_link_rx(b, pkts, 16, t);
        assert_true(n >= 1);
        for (i = 0; i < (unsigned)n; i++) {
            assert_true(th_frame_intact(pkts[i], got, 1000));
            /* Same pool on both ends: handed over without a copy. */
            assert_int_equal(pkts[i]->nb_owner, rn_nb_owner_register("link.sim.rx"));
            arrival[got++] = t;
            rn_nb_free(pkts[i]);
        }
    }
    /* Frame i finishes serialising at (i+1) ms and arrives 2 ms later. */
    for (i = 0; i < 10; i++)
        assert_int_equal(arrival[i], (i + 3) * RN_NSEC_PER_MSEC);
    /* The transmitter stays busy: a frame sent at 5 ms queues behind. */
    assert_int_equal(rn_link_tx1(a, th_frame(pool, 10, 1000), 5 * RN_NSEC_PER_MSEC), 1);
    assert_int_equal(rn_link_next_deadline(b), 13 * RN_NSEC_PER_MSEC);
    rn_link_close(a);
    /* The in-flight frame went with its sender; b keeps working alone. */
    assert_int_equal(rn_nbpool_outstanding(pool, RN_NB_OWNER_NONE), 0);
    assert_int_equal(rn_link_next_deadline(b), RN_LINK_NO_DEADLINE);
    assert_int_equal(rn_link_tx1(b, th_frame(pool, 11, 100), RN_SEC(1)), 0);
    rn_link_close(b);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static void test_limit_and_zero_latency(void **state)
{
    struct rn_nbpool *pool = th_pool(256);
    struct rn_sim_cable_params p = {.sc_limit = 5, .sc_pool_a = pool, .sc_pool_b = pool,
                                    .sc_name = "wire", .sc_mtu = 9000};
    struct rn_link *a, *b;
    struct rn_netbuf *batch[8], *pkts[8];
    struct rn_link_stats st;
    struct rn_link_caps caps;
    int i;

    assert_int_equal(rn_sim_cable_new(&p, &a, &b), 0);
    assert_string_equal(rn_link_name(a), "wire.a");
    assert_string_equal(rn_link_name(b), "wire.b");
    rn_link_caps(b, &caps);
    assert_int_equal(caps.lc_mtu, 9000);
    for (i = 0; i < 8; i++)
        batch[i] = th_frame(pool, (uint32_t)i, 60);
    assert_int_equal(rn_link_tx(a, batch, 8, 0), 5);
    rn_link_stats(a, &st);
    assert_int_equal(st.ls_tx_drops, 3);
    /* Zero latency at time 0: due at once, and the deadline is not "none". */
    assert_int_not_equal(rn_link_next_deadline(b), RN_LINK_NO_DEADLINE);
    assert_int_equal(rn_link_rx(b, pkts, 8, 0), 5);
    for (i = 0; i < 5; i++) {
        assert_int_equal(th_frame_seq(pkts[i]), (uint32_t)i);
        rn_nb_free(pkts[i]);
    }
    rn_link_close(b);
    rn_link_close(a);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static void test_receiver_pool_exhausted(void **state)
{
    struct rn_nbpool *pa = th_pool(16), *pb = th_pool(1);
    struct rn_sim_cable_params p = {.sc_pool_a = pa, .sc_pool_b = pb};
    struct rn_link *a, *b;
    struct rn_netbuf *batch[3], *pkts[4];
    struct rn_link_stats st;
    int i;

    assert_int_equal(rn_sim_cable_new(&p, &a, &b), 0);
    for (i = 0; i < 3; i++)
        batch[i] = th_frame(pa, (uint32_t)i, 60);
    assert_int_equal(rn_link_tx(a, batch, 3, 0), 3);
    /* b's pool holds one buffer: one frame arrives, two are dropped. */
    assert_int_equal(rn_link_rx(b, pkts, 4, 0), 1);
    rn_link_stats(b, &st);
    assert_int_equal(st.ls_rx_drops, 2);
    assert_int_equal(rn_nbpool_outstanding(pa, RN_NB_OWNER_NONE), 0);
    rn_nb_free(pkts[0]);
    rn_link_close(a);
    rn_link_close(b);
    assert_int_equal(rn_nbpool_destroy(pa), 0);
    assert_int_equal(rn_nbpool_destroy(pb), 0);
}

/* With offloads the cable is a virtio pair: both ends offer checksum
 * offload and TSO, and a TSO segment larger than the MTU, its checksum
 * left partial, crosses whole with its flags, as a TAP hands it on.
 * Without, nothing is offered. */
static void test_offloads(void **state)
{
    struct rn_nbpool *pa = th_pool(64), *pb = th_pool(64);
    struct rn_sim_cable_params p = {.sc_pool_a = pa, .sc_pool_b = pb, .sc_offloads = true};
    struct rn_link *a, *b;
    struct rn_netbuf *pkts[2], *big;
    struct rn_link_caps caps;

    (void)state;
    assert_int_equal(rn_sim_cable_new(&p, &a, &b), 0);
    rn_link_caps(b, &caps);
    assert_int_equal(caps.lc_offloads,
                     RN_LINK_OFF_TX_CSUM | RN_LINK_OFF_RX_CSUM | RN_LINK_OFF_TSO |
                         RN_LINK_OFF_TSO6 | RN_LINK_OFF_TX_REF);
    big = th_frame(pa, 4, 9000);
    big->nb_offload = RN_NB_OFF_CSUM_PARTIAL | RN_NB_OFF_GSO;
    big->nb_gso_size = 1448;
    assert_int_equal(rn_link_tx1(a, big, 0), 1);
    assert_int_equal(rn_link_rx(b, pkts, 2, RN_SEC(1)), 1);
    assert_true(th_frame_intact(pkts[0], 4, 9000));
    assert_int_equal(pkts[0]->nb_offload, RN_NB_OFF_CSUM_PARTIAL | RN_NB_OFF_GSO);
    assert_int_equal(pkts[0]->nb_gso_size, 1448);
    rn_nb_free(pkts[0]);
    rn_link_close(a);
    rn_link_close(b);

    p.sc_offloads = false;
    assert_int_equal(rn_sim_cable_new(&p, &a, &b), 0);
    rn_link_caps(a, &caps);
    assert_int_equal(caps.lc_offloads, RN_LINK_OFF_TX_REF);
    {
        /* A frame that refers to the sender's memory arrives as that
         * memory was when it was sent, however it changes meanwhile. */
        uint8_t mem[300];
        struct rn_netbuf *f = th_frame(pa, 5, 18);
        size_t i;

        for (i = 0; i < sizeof(mem); i++)
            mem[i] = (uint8_t)i;
        rn_nb_cat(f, rn_nb_ref(pa, th_owner(), mem, sizeof(mem)));
        assert_int_equal(rn_link_tx1(a, f, 0), 1);
        assert_int_equal(rn_nbpool_refs(pa), 0);
        memset(mem, 0xee, sizeof(mem));
        assert_int_equal(rn_link_rx(b, pkts, 2, RN_SEC(1)), 1);
        assert_int_equal(pkts[0]->nb_pktlen, 18 + sizeof(mem));
        for (i = 0; i < sizeof(mem); i++) {
            uint8_t byte;

            assert_int_equal(rn_nb_copyout(pkts[0], 18 + i, &byte, 1), 0);
            assert_int_equal(byte, (uint8_t)i);
        }
        rn_nb_free(pkts[0]);
    }
    rn_link_close(a);
    rn_link_close(b);
    assert_int_equal(rn_nbpool_destroy(pa), 0);
    assert_int_equal(rn_nbpool_destroy(pb), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_rate_and_order),
        cmocka_unit_test(test_limit_and_zero_latency),
        cmocka_unit_test(test_receiver_pool_exhausted),
        cmocka_unit_test(test_offloads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
