/*
 * Fault filter: seeded decisions replay exactly, rates come out right over
 * 100k frames, each action does what it says (drop, duplicate, corrupt one
 * bit past the Ethernet header, delay with jitter, reorder), directions are
 * independent, and the --fault spec parser names the bad token.
 *
 * The filter sits on a loopback, so a frame sent down comes straight back
 * up through the filter's rx.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_link.h"
#include "refnet/error.h"
#include "refnet/link.h"
#include "refnet/strbuf.h"
#include "wire/csum.h"

#define US RN_NSEC_PER_USEC
#define MS RN_NSEC_PER_MSEC

struct rig {
    struct rn_nbpool *pool;
    struct rn_link *lo;     /* loopback under the filter */
    struct rn_link *fault;  /* the filter, top of the stack */
};

static void rig_open(struct rig *r, const char *spec, uint32_t pool_max)
{
    struct rn_link_loop_params lp = {.lp_limit = 1u << 20};
    struct rn_fault_params fp;
    char err[200] = "";

    r->pool = th_pool(pool_max);
    assert_int_equal(rn_link_loop_open(&lp, &r->lo), 0);
    assert_int_equal(rn_fault_parse(spec, &fp, err, sizeof(err)), 0);
    assert_int_equal(rn_link_fault_open(r->lo, &fp, &r->fault), 0);
}

static void rig_close(struct rig *r)
{
    rn_link_close(r->fault);  /* closes the loopback too */
    assert_int_equal(rn_nbpool_outstanding(r->pool, RN_NB_OWNER_NONE), 0);
    assert_int_equal(rn_nbpool_destroy(r->pool), 0);
}

/* What came out of the stack, frame by frame. */
struct outcome {
    uint32_t seq;
    uint32_t len;
    uint32_t hash;  /* of the bytes, to see corruption */
    rn_time_t at;
};

static uint32_t frame_hash(const struct rn_netbuf *nb)
{
    uint8_t buf[2048];
    uint32_t h = 2166136261u;
    uint32_t i;

    rn_nb_copyout(nb, 0, buf, nb->nb_pktlen);
    for (i = 0; i < nb->nb_pktlen; i++)
        h = (h ^ buf[i]) * 16777619u;
    return h;
}

/* Receives everything due at t into out; returns the new count. */
static size_t drain(struct rig *r, rn_time_t t, struct outcome *out, size_t n, size_t cap)
{
    struct rn_netbuf *pkts[32];
    int got, i;

    while ((got = rn_link_rx(r->fault, pkts, 32, t)) > 0) {
        for (i = 0; i < got; i++) {
            assert_true(n < cap);
            out[n].seq = th_frame_seq(pkts[i]);
            out[n].len = pkts[i]->nb_pktlen;
            out[n].hash = frame_hash(pkts[i]);
            out[n].at = t;
            n++;
            rn_nb_free(pkts[i]);
        }
    }
    return n;
}

/* Sends frames 0..count-1 one every 100 us, receiving as it goes, then
 * follows the deadlines until nothing is left.  Returns how many came out. */
static size_t run(struct rig *r, uint32_t count, struct outcome *out, size_t cap)
{
    size_t n = 0;
    rn_time_t t = 0, d;
    uint32_t i;
    int guard = 0;

    for (i = 0; i < count; i++) {
        t = (rn_time_t)i * 100 * US;
        rn_link_tx1(r->fault, th_frame(r->pool, i, 60 + i % 200), t);
        n = drain(r, t, out, n, cap);
    }
    while ((d = rn_link_next_deadline(r->fault)) != RN_LINK_NO_DEADLINE) {
        assert_true(guard++ < 100000);
        t = d > t ? d : t;
        n = drain(r, t, out, n, cap);
    }
    return n;
}

static size_t run_spec(const char *spec, uint32_t count, struct outcome *out, size_t cap)
{
    struct rig r;
    size_t n;

    rig_open(&r, spec, 4096);
    n = run(&r, count, out, cap);
    rig_close(&r);
    return n;
}

/* Appends a link's values (value.h) as "name=value;", for strstr(). */
static void value_line(const struct rn_value *v, void *ctx)
{
    if (v->v_text != NULL)
        rn_strbuf_printf(ctx, "%s=%s;", v->v_name, v->v_text);
    else
        rn_strbuf_printf(ctx, "%s=%llu;", v->v_name, (unsigned long long)v->v_value);
}

static void test_determinism(void **state)
{
    static struct outcome a[4000], b[4000], c[4000];
    const char *spec1 = "drop=5%,dup=5%,reorder=5%,corrupt=5%,delay=1ms,jitter=800us,"
                        "delay_rate=30%,seed=42,dir=both";
    const char *spec2 = "drop=5%,dup=5%,reorder=5%,corrupt=5%,delay=1ms,jitter=800us,"
                        "delay_rate=30%,seed=43,dir=both";
    size_t na, nb, nc;

    na = run_spec(spec1, 2000, a, 4000);
    nb = run_spec(spec1, 2000, b, 4000);
    nc = run_spec(spec2, 2000, c, 4000);
    /* Same seed, same frames: the very same outcome, frame by frame. */
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof(a[0]));
    /* Another seed: another outcome. */
    assert_true(na != nc || memcmp(a, c, na * sizeof(a[0])) != 0);
    /* And faults really happened: not simply everything in order. */
    assert_true(na != 2000 || a[1].seq != 1 || a[2].seq != 2);
}

static void test_rates(void **state)
{
    struct rig r;
    struct rn_fault_counters tx, rx;
    struct rn_netbuf *pkts[64];
    uint64_t delivered = 0, damaged = 0;
    uint32_t i;
    int n, k;
    const uint32_t N = 100000;

    /* Every frame a fresh sequence number, checked on the way out. */
    rig_open(&r, "drop=10%,dup=5%,corrupt=2%,seed=7,dir=tx", 512);
    for (i = 0; i < N; i++) {
        rn_link_tx1(r.fault, th_frame(r.pool, i, 100), 0);
        while ((n = rn_link_rx(r.fault, pkts, 64, 0)) > 0) {
            for (k = 0; k < n; k++) {
                delivered++;
                if (!th_frame_intact(pkts[k], th_frame_seq(pkts[k]), 100))
                    damaged++;
                rn_nb_free(pkts[k]);
            }
        }
    }
    rn_link_fault_counters(r.fault, RN_FAULT_TX, &tx);
    rn_link_fault_counters(r.fault, RN_FAULT_RX, &rx);
    assert_int_equal(tx.fc_frames, N);
    assert_int_equal(rx.fc_frames, 0);  /* dir=tx: the receive side untouched */
    /* Within about 5 standard deviations of n p. */
    assert_in_range(tx.fc_dropped, 10000 - 500, 10000 + 500);
    assert_in_range(tx.fc_duplicated, 4500 - 350, 4500 + 350);  /* 5% of 90k survivors */
    assert_in_range(tx.fc_corrupted, 1800 - 220, 1800 + 220);  /* 2% of survivors */
    assert_int_equal(tx.fc_dup_failed, 0);
    /* What came out is exactly what the counters say went out. */
    assert_int_equal(delivered, N - tx.fc_dropped + tx.fc_duplicated);
    /* Corrupted frames are damaged, and so are their duplicates. */
    assert_true(damaged >= tx.fc_corrupted && damaged <= tx.fc_corrupted * 2);
    rig_close(&r);
}

static void test_corrupt_one_bit_after_header(void **state)
{
    struct rig r;
    struct rn_netbuf *orig, *pkts[4];
    struct rn_fault_counters c;
    uint8_t a[300], b[300];
    uint32_t i, j;
    int bits;

    rig_open(&r, "corrupt=100%,seed=1,dir=tx", 64);
    for (i = 0; i < 500; i++) {
        size_t len = 15 + i % 280;

        orig = th_frame(r.pool, i, len < 18 ? 18 : len);
        rn_nb_copyout(orig, 0, a, orig->nb_pktlen);
        rn_link_tx1(r.fault, orig, 0);
        assert_int_equal(rn_link_rx(r.fault, pkts, 4, 0), 1);
        rn_nb_copyout(pkts[0], 0, b, pkts[0]->nb_pktlen);
        assert_memory_equal(a, b, RN_ETH_HLEN);  /* the Ethernet header is spared */
        bits = 0;
        for (j = RN_ETH_HLEN; j < pkts[0]->nb_pktlen; j++)
            bits += __builtin_popcount(a[j] ^ b[j]);
        assert_int_equal(bits, 1);
        rn_nb_free(pkts[0]);
    }
    /* A frame with nothing after the header cannot be corrupted. */
    orig = rn_nb_alloc(r.pool, th_owner());
    memset(rn_nb_put(orig, RN_ETH_HLEN), 0xee, RN_ETH_HLEN);
    rn_link_tx1(r.fault, orig, 0);
    assert_int_equal(rn_link_rx(r.fault, pkts, 4, 0), 1);
    rn_nb_free(pkts[0]);
    /* ARP has no checksum to catch damage: it passes whole. */
    orig = th_frame(r.pool, 9, 60);
    rn_nb_copyin(orig, 12, "\x08\x06", 2);
    rn_nb_copyout(orig, 0, a, 60);
    rn_link_tx1(r.fault, orig, 0);
    assert_int_equal(rn_link_rx(r.fault, pkts, 4, 0), 1);
    rn_nb_copyout(pkts[0], 0, b, 60);
    assert_memory_equal(a, b, 60);
    rn_nb_free(pkts[0]);
    rn_link_fault_counters(r.fault, RN_FAULT_TX, &c);
    assert_int_equal(c.fc_corrupt_skipped, 2);
    assert_int_equal(c.fc_corrupted, 500);
    rig_close(&r);
}

/* An IPv4 TCP frame of 100 payload bytes whose checksum is left partial
 * for the device (the pseudo-header's sum), as a stack with checksum
 * offload hands it down; *full gets the same frame as the device would
 * send it, its checksum complete. */
static struct rn_netbuf *partial_frame(struct rn_nbpool *pool, uint32_t n, uint8_t *full)
{
    uint8_t f[RN_ETH_HLEN + 20 + 20 + 100], *ip = f + RN_ETH_HLEN, *th = ip + 20;
    uint32_t src = 0xc6120002u, dst = 0xc6120003u, i;
    uint16_t sum;
    struct rn_netbuf *nb;

    memset(f, 0, sizeof(f));
    f[12] = 0x08;
    ip[0] = 0x45;
    ip[3] = 140;
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, "\xc6\x12\x00\x02\xc6\x12\x00\x03", 8);
    th[12] = 5 << 4;
    th[13] = 0x10;
    for (i = 0; i < 100; i++)
        th[20 + i] = (uint8_t)(n * 7 + i);
    sum = (uint16_t)~rn_csum_fold(rn_csum_pseudo4(src, dst, 6, 120));
    th[16] = (uint8_t)(sum >> 8);
    th[17] = (uint8_t)sum;
    nb = rn_nb_alloc(pool, th_owner());
    assert_non_null(nb);
    assert_int_equal(rn_nb_copyin(nb, 0, f, sizeof(f)), 0);
    nb->nb_offload = RN_NB_OFF_CSUM_PARTIAL;
    sum = rn_csum_fold(rn__csum_partial(th, 120, 0));
    th[16] = (uint8_t)(sum >> 8);
    th[17] = (uint8_t)sum;
    memcpy(full, f, sizeof(f));
    return nb;
}

/* A frame whose checksum the device was to finish is damaged as if on
 * the wire after the device: complete checksum, then one flipped bit,
 * which the receiver's check always catches.  (Left partial, the sum would
 * be checked over damaged data and pass once in 65536.) */
static void test_corrupt_finishes_partial_checksum(void **state)
{
    struct rig r;
    struct rn_netbuf *pkts[4];
    uint8_t want[154], got[154];
    uint32_t i, j;
    int bits;

    (void)state;
    rig_open(&r, "corrupt=100%,seed=3,dir=tx", 64);
    for (i = 0; i < 300; i++) {
        rn_link_tx1(r.fault, partial_frame(r.pool, i, want), 0);
        assert_int_equal(rn_link_rx(r.fault, pkts, 4, 0), 1);
        assert_int_equal(pkts[0]->nb_pktlen, sizeof(got));
        assert_int_equal(pkts[0]->nb_offload & (RN_NB_OFF_CSUM_PARTIAL | RN_NB_OFF_CSUM_VALID), 0);
        rn_nb_copyout(pkts[0], 0, got, sizeof(got));
        bits = 0;
        for (j = 0; j < sizeof(got); j++)
            bits += __builtin_popcount(want[j] ^ got[j]);
        assert_int_equal(bits, 1);
        rn_nb_free(pkts[0]);
    }
    rig_close(&r);
}

static void test_delay_and_jitter(void **state)
{
    static struct outcome out[400];
    struct rig r;
    size_t n, i;

    rig_open(&r, "delay=5ms,jitter=1ms,seed=3,dir=tx", 512);
    n = run(&r, 200, out, 400);
    assert_int_equal(n, 200);
    for (i = 0; i < n; i++) {
        rn_time_t sent = (rn_time_t)out[i].seq * 100 * US;

        assert_true(out[i].at >= sent + 4 * MS);
        assert_true(out[i].at <= sent + 6 * MS);
    }
    /* Jitter larger than the gap between frames reorders some of them. */
    for (i = 1; i < n && out[i].seq > out[i - 1].seq; i++)
        ;
    assert_true(i < n);
    rig_close(&r);
}

static void test_reorder(void **state)
{
    struct rig r;
    struct rn_netbuf *pkts[8];
    struct rn_fault_counters c;
    uint32_t i;
    int n;

    /* Every frame wants to be held back: pairs swap. */
    rig_open(&r, "reorder=100%,hold=2ms,seed=9,dir=tx", 64);
    for (i = 0; i < 6; i++)
        rn_link_tx1(r.fault, th_frame(r.pool, i, 60), 0);
    n = rn_link_rx(r.fault, pkts, 8, 0);
    assert_int_equal(n, 6);
    for (i = 0; i < 6; i++) {
        assert_int_equal(th_frame_seq(pkts[i]), i ^ 1);
        assert_int_equal(pkts[i]->nb_owner, rn_nb_owner_register("link.loop.rx"));
        rn_nb_free(pkts[i]);
    }
    /* A frame with no follower goes out when its hold expires. */
    rn_link_tx1(r.fault, th_frame(r.pool, 6, 60), 10 * MS);
    assert_int_equal(rn_nbpool_outstanding(r.pool, rn_nb_owner_register("link.fault.hold")), 1);
    assert_int_equal(rn_link_next_deadline(r.fault), 12 * MS);
    assert_int_equal(rn_link_rx(r.fault, pkts, 8, 12 * MS - 1), 0);
    assert_int_equal(rn_link_rx(r.fault, pkts, 8, 12 * MS), 1);
    assert_int_equal(th_frame_seq(pkts[0]), 6);
    /* It got its owner back when it left the filter. */
    rn_nb_free(pkts[0]);
    rn_link_fault_counters(r.fault, RN_FAULT_TX, &c);
    assert_int_equal(c.fc_reordered, 4);
    rig_close(&r);
}

static void test_direction_rx_only(void **state)
{
    struct rig r;
    struct rn_netbuf *pkts[8];
    struct rn_fault_counters c;
    struct rn_link_stats lo;

    rig_open(&r, "drop=100%,dir=rx", 64);
    /* Down: untouched, the loopback gets it; up: lost. */
    assert_int_equal(rn_link_tx1(r.fault, th_frame(r.pool, 1, 60), 0), 1);
    rn_link_stats(r.lo, &lo);
    assert_int_equal(lo.ls_tx_frames, 1);
    assert_int_equal(rn_link_rx(r.fault, pkts, 8, 0), 0);
    rn_link_fault_counters(r.fault, RN_FAULT_RX, &c);
    assert_int_equal(c.fc_dropped, 1);
    rn_link_fault_counters(r.fault, RN_FAULT_TX, &c);
    assert_int_equal(c.fc_frames, 0);
    rig_close(&r);
}

/* Frames from b reach a's fault filter (rx); with `chatter`, a also sends
 * a frame down its tx side before each one.  Returns the seqs a received. */
static size_t cable_run(bool chatter, uint32_t *seqs, size_t cap)
{
    struct rn_nbpool *pool = th_pool(256);
    struct rn_sim_cable_params cp = {.sc_pool_a = pool, .sc_pool_b = pool};
    struct rn_link *a, *b, *fa;
    struct rn_fault_params fp;
    struct rn_netbuf *pkts[8];
    char err[200];
    size_t n = 0;
    uint32_t i;
    int got, k;

    assert_int_equal(rn_sim_cable_new(&cp, &a, &b), 0);
    assert_int_equal(rn_fault_parse("drop=30%,dup=10%,seed=5,dir=both", &fp, err, sizeof(err)), 0);
    assert_int_equal(rn_link_fault_open(a, &fp, &fa), 0);
    for (i = 0; i < 1000; i++) {
        if (chatter) {
            rn_link_tx1(fa, th_frame(pool, 100000 + i, 60), i);
            while ((got = rn_link_rx(b, pkts, 8, i)) > 0) {
                for (k = 0; k < got; k++)
                    rn_nb_free(pkts[k]);
            }
        }
        rn_link_tx1(b, th_frame(pool, i, 60), i);
        while ((got = rn_link_rx(fa, pkts, 8, i)) > 0) {
            for (k = 0; k < got; k++) {
                assert_true(n < cap);
                seqs[n++] = th_frame_seq(pkts[k]);
                rn_nb_free(pkts[k]);
            }
        }
    }
    rn_link_close(fa);
    rn_link_close(b);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
    return n;
}

static void test_directions_independent(void **state)
{
    static uint32_t quiet[2000], busy[2000];
    size_t nq = cable_run(false, quiet, 2000);
    size_t nb = cable_run(true, busy, 2000);

    /* Receive decisions do not depend on what is sent meanwhile. */
    assert_true(nq > 500 && nq < 1000);  /* faults did happen */
    assert_int_equal(nq, nb);
    assert_memory_equal(quiet, busy, nq * sizeof(quiet[0]));
}

static void test_disabled_and_set_params(void **state)
{
    struct rig r;
    struct rn_netbuf *pkts[8];
    struct rn_nbpool_stats ps;
    struct rn_fault_params fp;
    struct rn_fault_counters c;
    struct rn_strbuf sb = RN_STRBUF_INIT;
    char err[200];
    int i;

    rig_open(&r, "", 64);
    /* No faults: frames pass with nothing held or copied. */
    for (i = 0; i < 10; i++) {
        rn_link_tx1(r.fault, th_frame(r.pool, (uint32_t)i, 60), 0);
        assert_int_equal(rn_link_rx(r.fault, pkts, 8, 0), 1);
        assert_true(th_frame_intact(pkts[0], (uint32_t)i, 60));
        rn_nb_free(pkts[0]);
    }
    rn_nbpool_stats(r.pool, &ps);
    assert_int_equal(ps.ps_allocs, 10);
    rn_link_fault_counters(r.fault, RN_FAULT_TX, &c);
    assert_int_equal(c.fc_frames, 0);  /* not even looked at */

    /* Turned on at run time: loss starts at once. */
    assert_int_equal(rn_fault_parse("drop=100%,dir=tx,seed=5", &fp, err, sizeof(err)), 0);
    assert_int_equal(rn_link_fault_set_params(r.fault, &fp), 0);
    assert_int_equal(rn_link_tx1(r.fault, th_frame(r.pool, 99, 60), 0), 1);
    assert_int_equal(rn_link_rx(r.fault, pkts, 8, 0), 0);
    fp.fp_drop = 1.5;
    assert_int_equal(rn_link_fault_set_params(r.fault, &fp), RN_EINVAL);

    {
        struct rn_link_stats ls;

        rn_link_stats(r.fault, &ls);
        assert_int_equal(ls.ls_tx_frames, 10);
        assert_int_equal(ls.ls_tx_bytes, 600);
        rn_link_values(r.fault, value_line, &sb);
        assert_non_null(strstr(rn_strbuf_str(&sb), "faults=drop=1,seed=5,dir=tx;"));
        assert_non_null(strstr(rn_strbuf_str(&sb), "tx_frames=1;tx_dropped=1;"));
        assert_string_equal(rn_link_kind(rn_link_lower(r.fault)), "loopback");
        rn_strbuf_free(&sb);
    }
    rig_close(&r);
}

static void test_close_frees_held_frames(void **state)
{
    struct rig r;
    int i;

    rig_open(&r, "delay=1s,reorder=50%,seed=11", 64);
    for (i = 0; i < 20; i++)
        rn_link_tx1(r.fault, th_frame(r.pool, (uint32_t)i, 60), 0);
    assert_int_equal(rn_nbpool_outstanding(r.pool, rn_nb_owner_register("link.fault.hold")), 20);
    rig_close(&r);  /* asserts the pool is empty */
}

static void test_dup_pool_exhausted(void **state)
{
    struct rig r;
    struct rn_netbuf *pkts[4];
    struct rn_fault_counters c;

    rig_open(&r, "dup=100%,dir=tx", 1);
    rn_link_tx1(r.fault, th_frame(r.pool, 1, 60), 0);
    assert_int_equal(rn_link_rx(r.fault, pkts, 4, 0), 1);
    rn_nb_free(pkts[0]);
    rn_link_fault_counters(r.fault, RN_FAULT_TX, &c);
    assert_int_equal(c.fc_dup_failed, 1);
    assert_int_equal(c.fc_duplicated, 0);
    rig_close(&r);
}

static void test_spec_parse(void **state)
{
    struct rn_fault_params p, q;
    struct rn_strbuf sb = RN_STRBUF_INIT;
    char err[256] = "";

    assert_int_equal(rn_fault_parse("drop=2%,reorder=1%,dup=0.5%,corrupt=0.1%,delay=5ms,"
                                     "jitter=1ms,seed=42,dir=both",
                                     &p, err, sizeof(err)),
                     0);
    assert_float_equal(p.fp_drop, 0.02, 1e-12);
    assert_float_equal(p.fp_reorder, 0.01, 1e-12);
    assert_float_equal(p.fp_dup, 0.005, 1e-12);
    assert_float_equal(p.fp_corrupt, 0.001, 1e-12);
    assert_int_equal(p.fp_delay, 5 * MS);
    assert_int_equal(p.fp_jitter, 1 * MS);
    assert_float_equal(p.fp_delay_rate, 1.0, 0);  /* a delay alone applies to every frame */
    assert_int_equal(p.fp_seed, 42);
    assert_int_equal(p.fp_dir, RN_FAULT_BOTH);

    assert_int_equal(rn_fault_parse(" drop = 0.25 , delay_rate=10%, hold=1.5ms, dir=rx, "
                                     "seed=0x10, delay=250us",
                                     &p, err, sizeof(err)),
                     0);
    assert_float_equal(p.fp_drop, 0.25, 0);
    assert_float_equal(p.fp_delay_rate, 0.10, 1e-12);
    assert_int_equal(p.fp_hold, 1500 * US);
    assert_int_equal(p.fp_delay, 250 * US);
    assert_int_equal(p.fp_dir, RN_FAULT_RX);
    assert_int_equal(p.fp_seed, 16);

    /* What rn_fault_format writes reads back the same. */
    rn_fault_format(&p, &sb);
    assert_int_equal(rn_fault_parse(rn_strbuf_str(&sb), &q, err, sizeof(err)), 0);
    assert_memory_equal(&p, &q, sizeof(p));
    rn_strbuf_free(&sb);

    assert_int_equal(rn_fault_parse("", &p, err, sizeof(err)), 0);
    assert_float_equal(p.fp_drop, 0, 0);
    assert_int_equal(p.fp_dir, RN_FAULT_BOTH);
}

static void expect_bad(const char *spec, const char *needle)
{
    struct rn_fault_params p;
    char err[256] = "";

    rn_fault_params_init(&p);
    p.fp_seed = 777;
    assert_int_equal(rn_fault_parse(spec, &p, err, sizeof(err)), RN_EINVAL);
    if (strstr(err, needle) == NULL)
        fail_msg("spec \"%s\": error \"%s\" lacks \"%s\"", spec, err, needle);
    assert_null(strchr(err, '\n'));  /* one line */
    assert_int_equal(p.fp_seed, 777);  /* nothing written on failure */
}

static void test_spec_errors(void **state)
{
    expect_bad("drop=2", "rate out of range 'drop=2'");
    expect_bad("drop=150%", "rate out of range 'drop=150%'");
    expect_bad("drop=-1%", "rate out of range 'drop=-1%'");
    expect_bad("drop=abc", "bad rate 'drop=abc'");
    expect_bad("drop=2%%", "bad rate 'drop=2%%'");
    expect_bad("dup=", "bad rate 'dup='");
    expect_bad("drop=nan", "bad rate 'drop=nan'");
    expect_bad("delay=5", "bad duration 'delay=5'");
    expect_bad("delay=5min", "bad duration 'delay=5min'");
    expect_bad("jitter=-1ms", "bad duration 'jitter=-1ms'");
    expect_bad("seed=x1", "bad seed 'seed=x1'");
    expect_bad("seed=-3", "bad seed 'seed=-3'");
    expect_bad("dir=up", "bad direction 'dir=up'");
    expect_bad("drop=1%,loss=2%", "unknown key 'loss'");
    expect_bad("drop", "'drop' needs a value");
    expect_bad("drop=1%,drop=2%", "'drop' given twice");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_corrupt_one_bit_after_header),
        cmocka_unit_test(test_corrupt_finishes_partial_checksum),
        cmocka_unit_test(test_delay_and_jitter),
        cmocka_unit_test(test_reorder),
        cmocka_unit_test(test_direction_rx_only),
        cmocka_unit_test(test_directions_independent),
        cmocka_unit_test(test_disabled_and_set_params),
        cmocka_unit_test(test_close_frees_held_frames),
        cmocka_unit_test(test_dup_pool_exhausted),
        cmocka_unit_test(test_spec_parse),
        cmocka_unit_test(test_spec_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
