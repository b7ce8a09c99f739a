/*
 * Loopback link: what is sent comes back in order, the queue is bounded
 * with a drop counter, and buffers move between the link's owners.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "helper_link.h"
#include "refnet/link.h"
#include "refnet/strbuf.h"

/* Appends a link's values (value.h) as "name=value;", for strstr(). */
static void value_line(const struct rn_value *v, void *ctx)
{
    if (v->v_text != NULL)
        rn_strbuf_printf(ctx, "%s=%s;", v->v_name, v->v_text);
    else
        rn_strbuf_printf(ctx, "%s=%llu;", v->v_name, (unsigned long long)v->v_value);
}

static void test_order_and_counters(void **state)
{
    struct rn_nbpool *pool = th_pool(512);
    struct rn_link_loop_params lp = {.lp_limit = 100};
    struct rn_netbuf *pkts[32];
    struct rn_link_stats st;
    struct rn_link *lo = NULL;
    uint32_t seq, want = 0;
    int n, i;

    assert_int_equal(rn_link_loop_open(&lp, &lo), 0);
    assert_string_equal(rn_link_kind(lo), "loopback");
    assert_int_equal(rn_link_next_deadline(lo), RN_LINK_NO_DEADLINE);
    assert_int_equal(rn_link_poll_fd(lo), -1);
    for (seq = 0; seq < 90; seq += 3) {
        struct rn_netbuf *batch[3] = {th_frame(pool, seq, 60), th_frame(pool, seq + 1, 61),
                                      th_frame(pool, seq + 2, 62)};

        assert_int_equal(rn_link_tx(lo, batch, 3, 0), 3);
    }
    /* Queued frames count against the loopback, not the sender. */
    assert_int_equal(rn_nbpool_outstanding(pool, rn_nb_owner_register("link.loop.queue")), 90);
    assert_int_equal(rn_nbpool_outstanding(pool, th_owner()), 0);
    assert_int_not_equal(rn_link_next_deadline(lo), RN_LINK_NO_DEADLINE);
    while ((n = rn_link_rx(lo, pkts, 32, 5000)) > 0) {
        for (i = 0; i < n; i++) {
            assert_true(th_frame_intact(pkts[i], want, 60 + want % 3));
            assert_int_equal(pkts[i]->nb_rxtime, 5000);
            assert_int_equal(pkts[i]->nb_owner, rn_nb_owner_register("link.loop.rx"));
            want++;
            rn_nb_free(pkts[i]);
        }
    }
    assert_int_equal(want, 90);
    rn_link_stats(lo, &st);
    assert_int_equal(st.ls_tx_frames, 90);
    assert_int_equal(st.ls_rx_frames, 90);
    assert_int_equal(st.ls_tx_bytes, 30 * (60 + 61 + 62));
    assert_int_equal(st.ls_rx_bytes, st.ls_tx_bytes);
    assert_int_equal(st.ls_tx_drops, 0);
    assert_int_equal(rn_link_next_deadline(lo), RN_LINK_NO_DEADLINE);
    rn_link_close(lo);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static void test_bounded_queue(void **state)
{
    struct rn_nbpool *pool = th_pool(64);
    struct rn_link_loop_params lp = {.lp_limit = 8};
    struct rn_netbuf *batch[12], *pkts[16];
    struct rn_link_stats st;
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct rn_link *lo = NULL;
    int i, n;

    assert_int_equal(rn_link_loop_open(&lp, &lo), 0);
    for (i = 0; i < 12; i++)
        batch[i] = th_frame(pool, (uint32_t)i, 64);
    /* All 12 consumed, 8 accepted, 4 dropped and freed. */
    assert_int_equal(rn_link_tx(lo, batch, 12, 0), 8);
    rn_link_stats(lo, &st);
    assert_int_equal(st.ls_tx_drops, 4);
    assert_int_equal(rn_nbpool_outstanding(pool, RN_NB_OWNER_NONE), 8);
    assert_int_equal(st.ls_tx_frames, 8);
    assert_int_equal(st.ls_tx_bytes, 512);
    rn_link_values(lo, value_line, &sb);
    assert_string_equal(rn_strbuf_str(&sb), "queued=8;queue_limit=8;");
    rn_strbuf_free(&sb);
    /* rx honours max. */
    n = rn_link_rx(lo, pkts, 3, 0);
    assert_int_equal(n, 3);
    for (i = 0; i < n; i++) {
        assert_int_equal(th_frame_seq(pkts[i]), (uint32_t)i);
        rn_nb_free(pkts[i]);
    }
    /* Closing frees what is still queued. */
    rn_link_close(lo);
    assert_int_equal(rn_nbpool_outstanding(pool, RN_NB_OWNER_NONE), 0);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_counters),
        cmocka_unit_test(test_bounded_queue),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
