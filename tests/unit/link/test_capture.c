/*
 * Capture filter: frames in both directions land in a pcap file that
 * libpcap reads back byte for byte, with the injected time as nanosecond
 * timestamps; snaplen, pause, periodic flush and open errors.
 *
 * With REFNET_LINK_KEEP_CAPTURE=<path> set, test_realistic_frames also
 * leaves its capture (ARP, ICMP, UDP with valid checksums) at <path>, for
 * tests/net/test_capture_tshark.sh to dissect.
 */
#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_link.h"
#include "refnet/error.h"
#include "refnet/link.h"
#include "refnet/strbuf.h"

#define MAXREC 64

struct record {
    uint64_t ts;      /* ns */
    uint32_t caplen;
    uint32_t len;
    uint8_t data[2048];
};

/* Reads a pcap file back; returns the number of records. */
static int read_back(const char *path, struct record *rec, int max)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    pcap_t *p;
    int n = 0;

    p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
    if (p == NULL)
        fail_msg("cannot read %s back: %s", path, err);
    assert_int_equal(pcap_datalink(p), DLT_EN10MB);
    while (pcap_next_ex(p, &h, &d) == 1) {
        assert_true(n < max);
        rec[n].ts = (uint64_t)h->ts.tv_sec * RN_NSEC_PER_SEC + (uint64_t)h->ts.tv_usec;
        rec[n].caplen = h->caplen;
        rec[n].len = h->len;
        memcpy(rec[n].data, d, h->caplen < 2048 ? h->caplen : 2048);
        n++;
    }
    pcap_close(p);
    return n;
}

struct rig {
    struct rn_nbpool *pool;
    struct rn_link *lo;
    struct rn_link *cap;
};

static void rig_open(struct rig *r, const char *path, uint32_t snaplen, rn_time_t flush)
{
    struct rn_link_capture_params cp = {
        .cp_path = path, .cp_snaplen = snaplen, .cp_flush_interval = flush};
    char err[RN_LINK_ERRLEN] = "";

    r->pool = th_pool(256);
    assert_int_equal(rn_link_loop_open(NULL, &r->lo), 0);
    if (rn_link_capture_open(r->lo, &cp, &r->cap, err) != 0)
        fail_msg("capture open: %s", err);
}

static void rig_close(struct rig *r)
{
    rn_link_close(r->cap);
    assert_int_equal(rn_nbpool_outstanding(r->pool, RN_NB_OWNER_NONE), 0);
    assert_int_equal(rn_nbpool_destroy(r->pool), 0);
}

static struct record rec[MAXREC];

static void test_both_directions(void **state)
{
    const char *path = th_tmp_path("both.pcap");
    struct rn_netbuf *batch[3], *pkts[8];
    struct rn_link_stats st;
    struct rig r;
    int i, n;

    rig_open(&r, path, 0, 0);
    for (i = 0; i < 3; i++)
        batch[i] = th_frame(r.pool, (uint32_t)i, 60 + (size_t)i * 100);
    assert_int_equal(rn_link_tx(r.cap, batch, 3, RN_SEC(1) + 500 * RN_NSEC_PER_MSEC), 3);
    n = rn_link_rx(r.cap, pkts, 8, RN_SEC(2) + 123);
    assert_int_equal(n, 3);
    for (i = 0; i < n; i++)
        rn_nb_free(pkts[i]);
    assert_int_equal(rn_link_capture_frames(r.cap), 6);
    rn_link_stats(r.cap, &st);
    assert_int_equal(st.ls_tx_frames, 3);
    assert_int_equal(st.ls_rx_frames, 3);
    rig_close(&r);

    assert_int_equal(read_back(path, rec, MAXREC), 6);
    r.pool = th_pool(4);  /* for the expected frames */
    for (i = 0; i < 6; i++) {
        size_t len = 60 + (size_t)(i % 3) * 100;
        struct rn_netbuf *want = th_frame(r.pool, (uint32_t)(i % 3), len);

        assert_int_equal(rec[i].len, len);
        assert_int_equal(rec[i].caplen, len);
        assert_memory_equal(rec[i].data, want->nb_data, len);
        /* Sent at 1.5 s, received at 2.000000123 s: virtual time, to the ns. */
        assert_int_equal(rec[i].ts, i < 3 ? RN_SEC(1) + 500 * RN_NSEC_PER_MSEC : RN_SEC(2) + 123);
        rn_nb_free(want);
    }
    assert_int_equal(rn_nbpool_destroy(r.pool), 0);
}

static void test_chain_and_snaplen(void **state)
{
    const char *path = th_tmp_path("snap.pcap");
    struct rn_nbpool_params pp = {.np_data_size = 100, .np_headroom = 16};
    struct rn_nbpool *small = NULL;
    struct rn_netbuf *nb, *pkts[2];
    uint8_t data[1000];
    struct rig r;
    size_t i;

    for (i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i ^ 0x5a);
    assert_int_equal(rn_nbpool_create(&pp, &small), 0);
    rig_open(&r, path, 0, 0);
    /* A frame of 1000 bytes in a chain of 100-byte buffers. */
    nb = th_packet(small, data, sizeof(data));
    assert_true(rn_nb_count(nb) > 5);
    assert_int_equal(rn_link_tx1(r.cap, nb, 0), 1);
    assert_int_equal(rn_link_rx(r.cap, pkts, 2, 0), 1);
    rn_nb_free(pkts[0]);
    rig_close(&r);
    assert_int_equal(read_back(path, rec, MAXREC), 2);
    assert_int_equal(rec[0].caplen, 1000);
    assert_memory_equal(rec[0].data, data, 1000);

    /* With a snaplen, the record keeps the head and the true length. */
    path = th_tmp_path("snap32.pcap");
    rig_open(&r, path, 32, 0);
    assert_int_equal(rn_link_tx1(r.cap, th_packet(small, data, 500), 0), 1);
    rig_close(&r);
    assert_int_equal(rn_nbpool_destroy(small), 0);
    assert_int_equal(read_back(path, rec, MAXREC), 1);
    assert_int_equal(rec[0].caplen, 32);
    assert_int_equal(rec[0].len, 500);
    assert_memory_equal(rec[0].data, data, 32);
}

static void test_pause_and_flush(void **state)
{
    const char *path = th_tmp_path("flush.pcap");
    struct rn_netbuf *pkts[4];
    struct rig r;
    int n;

    rig_open(&r, path, 0, RN_MSEC(10));
    assert_int_equal(rn_link_tx1(r.cap, th_frame(r.pool, 1, 60), 0), 1);
    assert_int_equal(rn_link_rx(r.cap, pkts, 4, RN_MSEC(20)), 1);
    rn_nb_free(pkts[0]);
    /* Flushed at 20 ms: both records are on disk while the file is open. */
    assert_int_equal(read_back(path, rec, MAXREC), 2);
    rn_link_capture_set_enabled(r.cap, false);
    assert_int_equal(rn_link_tx1(r.cap, th_frame(r.pool, 2, 60), RN_MSEC(30)), 1);
    n = rn_link_rx(r.cap, pkts, 4, RN_MSEC(40));
    assert_int_equal(n, 1);  /* frames still pass while paused */
    rn_nb_free(pkts[0]);
    rn_link_capture_set_enabled(r.cap, true);
    assert_int_equal(rn_link_tx1(r.cap, th_frame(r.pool, 3, 60), RN_MSEC(50)), 1);
    assert_int_equal(rn_link_rx(r.cap, pkts, 4, RN_MSEC(50)), 1);
    rn_nb_free(pkts[0]);
    rig_close(&r);
    assert_int_equal(read_back(path, rec, MAXREC), 4);
    assert_int_equal(rec[2].ts, RN_MSEC(50));
}

static void test_open_error(void **state)
{
    struct rn_link_capture_params cp = {.cp_path = "/nonexistent-dir/x.pcap"};
    struct rn_link *lo, *cap = NULL;
    char err[RN_LINK_ERRLEN] = "";

    assert_int_equal(rn_link_loop_open(NULL, &lo), 0);
    assert_int_equal(rn_link_capture_open(lo, &cp, &cap, err), RN_EIO);
    assert_null(cap);
    assert_non_null(strstr(err, "/nonexistent-dir/x.pcap"));
    rn_link_close(lo);  /* still the caller's after a failed open */
}

static void test_realistic_frames(void **state)
{
    const char *path = th_tmp_path("real.pcap");
    const char *keep = getenv("REFNET_LINK_KEEP_CAPTURE");
    struct rn_netbuf *pkts[8];
    uint8_t buf[1600];
    struct rig r;
    size_t len;
    int i, n;

    rig_open(&r, path, 0, 0);
    len = th_arp_request(buf, th_mac_a, TH_IP_REFNET, TH_IP_LINUX);
    rn_link_tx1(r.cap, th_packet(r.pool, buf, len), RN_MSEC(1));
    len = th_arp_reply(buf, th_mac_b, TH_IP_LINUX, th_mac_a, TH_IP_REFNET);
    rn_link_tx1(r.cap, th_packet(r.pool, buf, len), RN_MSEC(2));
    for (i = 0; i < 4; i++) {
        len = th_icmp_echo(buf, th_mac_a, th_mac_b, TH_IP_REFNET, TH_IP_LINUX, 0x42,
                           (uint16_t)i, 56);
        rn_link_tx1(r.cap, th_packet(r.pool, buf, len), RN_MSEC(3 + i));
    }
    len = th_udp(buf, th_mac_a, th_mac_b, TH_IP_REFNET, TH_IP_LINUX, 40000, 7, 1000);
    rn_link_tx1(r.cap, th_packet(r.pool, buf, len), RN_MSEC(10));
    while ((n = rn_link_rx(r.cap, pkts, 8, RN_MSEC(11))) > 0) {
        for (i = 0; i < n; i++)
            rn_nb_free(pkts[i]);
    }
    rig_close(&r);
    assert_int_equal(read_back(path, rec, MAXREC), 14);
    if (keep) {
        char cmd[1024];

        snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, keep);
        assert_int_equal(system(cmd), 0);
    }
}

static int cleanup(void **state)
{
    th_tmp_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_directions),
        cmocka_unit_test(test_chain_and_snaplen),
        cmocka_unit_test(test_pause_and_flush),
        cmocka_unit_test(test_open_error),
        cmocka_unit_test(test_realistic_frames),
    };

    return cmocka_run_group_tests(tests, NULL, cleanup);
}
