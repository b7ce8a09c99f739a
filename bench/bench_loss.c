/*
 * Benchmark of TCP loss recovery: how long (in virtual time, so the
 * figure is exact and repeatable) one connection takes to move a bulk
 * transfer over a simulated cable that drops a share of the frames both
 * ways, with SACK in use (scoreboard recovery) and without it (NewReno),
 * seed by seed in pairs: the same seed gives both runs the same cable.
 *
 * The cable: 10 ms each way, 100 Mbit/s, 1024 frames in flight.  The
 * drops: the fault filter on one end, both directions (drop=P%,dir=both).
 *
 * Usage: bench-loss [MiB] [seeds] [loss%...]   (default 10 MiB, 10 seeds,
 * 2 and 5)
 * Prints one JSON line per loss rate: each seed's seconds with and
 * without SACK, their medians, and the ratio nosack/sack within each
 * seed's pair (min, median, max).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refnet/clock.h"
#include "refnet/error.h"
#include "refnet/link.h"
#include "refnet/object.h"
#include "refnet/socket.h"
#include "refnet/stack.h"
#include "refnet/tcp.h"
#include "refnet/transport.h"
#include "transport/tcp.h"
#include "ctl/render.h"
#include "refnet/strbuf.h"

#define BENCH_NAME "bench-loss"
#include "sim_ends.h"

#define MAX_SEEDS 100

static _Noreturn void die(const char *what)
{
    fprintf(stderr, "bench-loss: %s failed\n", what);
    exit(1);
}

/* One transfer; returns the virtual time it took. */
static rn_time_t run_once(bool sack, double loss, uint64_t seed, uint64_t total)
{
    struct rn_stack_params sp = {.sp_seed = seed};
    struct rn_sim_cable_params cp = {0};
    struct rn_iface_params ip = {0};
    struct rn_fault_params fp;
    struct rn_stack *a, *b;
    struct rn_iface *ifp;
    struct rn_link *la, *lb, *fa;
    struct end cli = {0}, srv = {0};
    char spec[128], errbuf[RN_LINK_ERRLEN];
    rn_time_t t0;
    long guard;
    uint64_t cw_sum = 0, cw_n = 0;

    vnow = RN_SEC(1);
    sp.sp_name = "a";
    if (rn_stack_create(&sp, &a) != 0)
        die("stack a");
    sp.sp_name = "b";
    if (rn_stack_create(&sp, &b) != 0 || rn_sock_layer_init(a) != 0 || rn_sock_layer_init(b) != 0)
        die("stack b");
    if (rn_tcp_setting_set(a, "tcp.sack", sack ? "1" : "0") != 0 ||
        rn_tcp_setting_set(b, "tcp.sack", sack ? "1" : "0") != 0)
        die("tcp.sack");
    cp.sc_latency = RN_MSEC(10);
    cp.sc_rate_bps = 100000000ull;
    cp.sc_limit = 1024;
    cp.sc_pool_a = rn_stack_pool(a);
    cp.sc_pool_b = rn_stack_pool(b);
    if (rn_sim_cable_new(&cp, &la, &lb) != 0)
        die("cable");
    snprintf(spec, sizeof(spec), "drop=%g%%,dir=%s,seed=%llu", loss,
             getenv("BENCH_LOSS_DIR") ? getenv("BENCH_LOSS_DIR") : "both", (unsigned long long)seed);
    if (rn_fault_parse(spec, &fp, errbuf, sizeof(errbuf)) != 0 ||
        rn_link_fault_open(la, &fp, &fa) != 0)
        die(spec);
    ip.ifp_name = "sim0";
    ip.ifp_link = fa;
    ip.ifp_addr = ADDR_A;
    ip.ifp_plen = 15;
    if (rn_stack_add_iface(a, &ip, &ifp) != 0)
        die("iface a");
    ip.ifp_link = lb;
    ip.ifp_addr = ADDR_B;
    if (rn_stack_add_iface(b, &ip, &ifp) != 0)
        die("iface b");
    cli.e_total = total;
    if (rn__tcp_listen(b, 0, 5001, 4, &listener_up, &srv, &srv.e_listener) != 0 ||
        rn__tcp_connect(a, 0, 0, ADDR_B, 5001, &client_up, &cli, &cli.e_conn) != 0)
        die("connect");
    t0 = vnow;
    for (guard = 0; guard < 200000000 && srv.e_rcvd < total; guard++) {
        rn_time_t na = rn_stack_next_deadline(a), nb = rn_stack_next_deadline(b), next;

        next = na == 0 ? nb : nb == 0 ? na : na < nb ? na : nb;
        rn_stack_poll(a, vnow);
        rn_stack_poll(b, vnow);
        if (!rn_stack_has_work(a) && !rn_stack_has_work(b) && next > vnow)
            vnow = next;
        else
            vnow += 1000;
        if (vnow - t0 > RN_SEC(3600))
            break;
        if (getenv("BENCH_LOSS_CWND") && cli.e_conn != NULL && vnow - t0 >= RN_MSEC(100) * (uint64_t)(cw_n + 1)) {
            struct rn_tcp_info ti;

            rn__tcp_conn_info(cli.e_conn, &ti);
            cw_sum += ti.ti_snd_cwnd;
            cw_n++;
        }
    }
    if (srv.e_rcvd < total) {
        fprintf(stderr, "bench-loss: seed %llu stalled at %llu of %llu bytes\n",
                (unsigned long long)seed, (unsigned long long)srv.e_rcvd,
                (unsigned long long)total);
        exit(1);
    }
    if (getenv("BENCH_LOSS_STATS")) {
        struct rn_strbuf sb = RN_STRBUF_INIT;
        struct rn_fault_counters tx, rx;

        if (cw_n > 0)
            fprintf(stderr, "mean cwnd %.1f segments over %llu samples\n", (double)cw_sum / (double)cw_n, (unsigned long long)cw_n);
        rn_link_fault_counters(fa, RN_FAULT_TX, &tx);
        rn_link_fault_counters(fa, RN_FAULT_RX, &rx);
        fprintf(stderr, "seed %llu sack %d: %.3f s, data frames dropped %llu of %llu, acks %llu of %llu\n",
                (unsigned long long)seed, sack, (double)(vnow - t0) / 1e9,
                (unsigned long long)tx.fc_dropped, (unsigned long long)tx.fc_frames,
                (unsigned long long)rx.fc_dropped, (unsigned long long)rx.fc_frames);

        rn__render_stats(a, &sb, false);
        fprintf(stderr, "%s", rn_strbuf_str(&sb));
        rn_strbuf_free(&sb);
    }
    rn__tcp_close(cli.e_conn, true);
    rn__tcp_close(srv.e_conn, true);
    rn__tcp_listener_close(srv.e_listener);
    rn_stack_destroy(a);
    rn_stack_destroy(b);
    return vnow - t0;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;

    return a < b ? -1 : a > b;
}

static double median(const double *v, int n)
{
    double s[MAX_SEEDS];

    memcpy(s, v, (size_t)n * sizeof(double));
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 10;
    int seeds = argc > 2 ? atoi(argv[2]) : 10, i, li, nloss = argc > 3 ? argc - 3 : 2;
    double losses[16] = {2, 5};
    double with[MAX_SEEDS], without[MAX_SEEDS], ratio[MAX_SEEDS], sorted[MAX_SEEDS];

    if (mib == 0 || seeds <= 0 || seeds > MAX_SEEDS || nloss > 16) {
        fprintf(stderr, "usage: bench-loss [MiB] [seeds 1..100] [loss%%...]\n");
        return 2;
    }
    for (li = 0; li < nloss && argc > 3; li++)
        losses[li] = atof(argv[3 + li]);
    rn_clock_set_source(vclock, NULL);
    memset(chunk, 0x5a, sizeof(chunk));
    for (li = 0; li < nloss; li++) {
        for (i = 0; i < seeds; i++) {
            with[i] = (double)run_once(true, losses[li], (uint64_t)i + 1, mib << 20) / 1e9;
            without[i] = (double)run_once(false, losses[li], (uint64_t)i + 1, mib << 20) / 1e9;
            ratio[i] = without[i] / with[i];
        }
        memcpy(sorted, ratio, (size_t)seeds * sizeof(double));
        qsort(sorted, (size_t)seeds, sizeof(double), cmp_double);
        printf("{\"bench\":\"loss\",\"mib\":%llu,\"loss_pct\":%g,\"seeds\":%d,\"sack_s\":[",
               (unsigned long long)mib, losses[li], seeds);
        for (i = 0; i < seeds; i++)
            printf("%s%.3f", i ? "," : "", with[i]);
        printf("],\"nosack_s\":[");
        for (i = 0; i < seeds; i++)
            printf("%s%.3f", i ? "," : "", without[i]);
        printf("],\"sack_median_s\":%.3f,\"nosack_median_s\":%.3f", median(with, seeds),
               median(without, seeds));
        printf(",\"nosack_over_sack\":{\"min\":%.3f,\"median\":%.3f,\"max\":%.3f}}\n", sorted[0],
               median(ratio, seeds), sorted[seeds - 1]);
        fflush(stdout);
    }
    return 0;
}
