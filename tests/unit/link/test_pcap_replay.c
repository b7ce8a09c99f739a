/*
 * pcap replay: frames come back in file order, all at once or at their
 * recorded gaps from the first call's now; transmissions are discarded and
 * counted; damaged files are refused at open with the file named.
 */
#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_link.h"
#include "refnet/error.h"
#include "refnet/link.h"

#define US RN_NSEC_PER_USEC

/* Gaps of the test file, microseconds after the first frame. */
static const uint32_t gaps_us[] = {0, 500, 2000, 2000, 1000000};
#define NFRAMES (sizeof(gaps_us) / sizeof(gaps_us[0]))

/* Writes a microsecond-precision file (what tcpdump writes) of test frames
 * seq 0..NFRAMES-1, len 60 + 10 seq, with link type dlt. */
static void write_file(const char *path, int dlt)
{
    struct rn_nbpool *pool = th_pool(8);
    pcap_t *dead = pcap_open_dead(dlt, 65535);
    pcap_dumper_t *d;
    uint32_t i;

    assert_non_null(dead);
    d = pcap_dump_open(dead, path);
    assert_non_null(d);
    for (i = 0; i < NFRAMES; i++) {
        struct rn_netbuf *nb = th_frame(pool, i, 60 + 10 * i);
        struct pcap_pkthdr h;

        memset(&h, 0, sizeof(h));
        h.ts.tv_sec = 1700000000 + (time_t)(gaps_us[i] / 1000000);
        h.ts.tv_usec = (suseconds_t)(123 + gaps_us[i] % 1000000);
        h.caplen = h.len = nb->nb_pktlen;
        pcap_dump((u_char *)d, &h, nb->nb_data);
        rn_nb_free(nb);
    }
    pcap_dump_close(d);
    pcap_close(dead);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static int open_replay(const char *path, struct rn_nbpool *pool, bool timed, struct rn_link **out,
                       char *err)
{
    struct rn_link_pcap_params pp = {.pp_path = path, .pp_pool = pool, .pp_timed = timed};

    return rn_link_pcap_open(&pp, out, err);
}

static void test_untimed(void **state)
{
    const char *path = th_tmp_path("replay.pcap");
    struct rn_nbpool *pool = th_pool(64);
    struct rn_netbuf *pkts[8];
    struct rn_link_stats st;
    char err[RN_LINK_ERRLEN] = "";
    struct rn_link *l;
    uint32_t want = 0;
    int n, i;

    write_file(path, DLT_EN10MB);
    assert_int_equal(open_replay(path, pool, false, &l, err), 0);
    assert_string_equal(rn_link_kind(l), "pcap-replay");
    assert_false(rn_link_pcap_eof(l));
    assert_int_not_equal(rn_link_next_deadline(l), RN_LINK_NO_DEADLINE);
    while ((n = rn_link_rx(l, pkts, 2, 777)) > 0) {
        assert_true(n <= 2);
        for (i = 0; i < n; i++) {
            assert_true(th_frame_intact(pkts[i], want, 60 + 10 * want));
            assert_int_equal(pkts[i]->nb_rxtime, 777);
            assert_int_equal(pkts[i]->nb_owner, rn_nb_owner_register("link.pcap.rx"));
            want++;
            rn_nb_free(pkts[i]);
        }
    }
    assert_int_equal(want, NFRAMES);
    assert_true(rn_link_pcap_eof(l));
    assert_int_equal(rn_link_next_deadline(l), RN_LINK_NO_DEADLINE);
    /* A recording cannot answer: what is sent is discarded and counted. */
    assert_int_equal(rn_link_tx1(l, th_frame(pool, 9, 60), 0), 0);
    rn_link_stats(l, &st);
    assert_int_equal(st.ls_tx_drops, 1);
    assert_int_equal(st.ls_rx_frames, NFRAMES);
    rn_link_close(l);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static void test_timed(void **state)
{
    const char *path = th_tmp_path("timed.pcap");
    struct rn_nbpool *pool = th_pool(64);
    struct rn_netbuf *pkts[8];
    char err[RN_LINK_ERRLEN] = "";
    const rn_time_t t0 = RN_SEC(50);
    struct rn_link *l;
    rn_time_t t;
    uint32_t got = 0;
    int n, i, guard = 0;

    write_file(path, DLT_EN10MB);
    assert_int_equal(open_replay(path, pool, true, &l, err), 0);
    /* The first call fixes t0: only the first frame is due then. */
    assert_int_equal(rn_link_rx(l, pkts, 8, t0), 1);
    assert_int_equal(th_frame_seq(pkts[0]), 0);
    rn_nb_free(pkts[0]);
    got = 1;
    assert_int_equal(rn_link_next_deadline(l), t0 + 500 * US);
    assert_int_equal(rn_link_rx(l, pkts, 8, t0 + 499 * US), 0);
    /* Then each frame exactly at t0 + its recorded gap. */
    while ((t = rn_link_next_deadline(l)) != RN_LINK_NO_DEADLINE) {
        assert_true(guard++ < 10);
        n = rn_link_rx(l, pkts, 8, t);
        assert_true(n >= 1);
        for (i = 0; i < n; i++) {
            assert_int_equal(th_frame_seq(pkts[i]), got);
            assert_int_equal(t, t0 + (rn_time_t)gaps_us[got] * US);
            got++;
            rn_nb_free(pkts[i]);
        }
    }
    assert_int_equal(got, NFRAMES);
    rn_link_close(l);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static void test_pool_exhausted(void **state)
{
    const char *path = th_tmp_path("exh.pcap");
    struct rn_nbpool *pool = th_pool(1);
    struct rn_netbuf *pkts[8];
    struct rn_link_stats st;
    char err[RN_LINK_ERRLEN] = "";
    struct rn_link *l;

    write_file(path, DLT_EN10MB);
    assert_int_equal(open_replay(path, pool, false, &l, err), 0);
    assert_int_equal(rn_link_rx(l, pkts, 8, 0), 1);
    rn_link_stats(l, &st);
    assert_int_equal(st.ls_rx_drops, NFRAMES - 1);
    rn_nb_free(pkts[0]);
    rn_link_close(l);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static void expect_open_error(const char *path, const char *needle)
{
    struct rn_nbpool *pool = th_pool(4);
    char err[RN_LINK_ERRLEN] = "";
    struct rn_link *l = NULL;

    assert_int_not_equal(open_replay(path, pool, false, &l, err), 0);
    assert_null(l);
    if (strstr(err, path) == NULL || strstr(err, needle) == NULL)
        fail_msg("error \"%s\" should name %s and say \"%s\"", err, path, needle);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static void test_bad_files(void **state)
{
    char path[600], cmd[1300];
    FILE *f;
    long size;

    snprintf(path, sizeof(path), "%s", th_tmp_path("missing.pcap"));
    expect_open_error(path, "No such file");

    snprintf(path, sizeof(path), "%s", th_tmp_path("garbage.pcap"));
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not a capture file at all, just some text\n", f);
    fclose(f);
    expect_open_error(path, "format");

    snprintf(path, sizeof(path), "%s", th_tmp_path("raw.pcap"));
    write_file(path, DLT_RAW);
    expect_open_error(path, "is not Ethernet");

    /* Cut the last record in half. */
    snprintf(path, sizeof(path), "%s", th_tmp_path("cut.pcap"));
    write_file(path, DLT_EN10MB);
    f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, size - 50), 0);
    expect_open_error(path, "truncated");
    snprintf(cmd, sizeof(cmd), "after frame %u", (unsigned)NFRAMES - 1);
    expect_open_error(path, cmd);

    /* A header cut short. */
    assert_int_equal(truncate(path, 10), 0);
    expect_open_error(path, "truncated");
}

static int cleanup(void **state)
{
    th_tmp_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untimed),
        cmocka_unit_test(test_timed),
        cmocka_unit_test(test_pool_exhausted),
        cmocka_unit_test(test_bad_files),
    };

    return cmocka_run_group_tests(tests, NULL, cleanup);
}
