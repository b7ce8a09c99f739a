/*
 * Benchmark of the filtering platform's hooks on the packet path: a TCP bulk
 * transfer between two stacks over a simulated cable (virtual time, so the
 * figure is CPU time per byte, not the cable's speed), in three settings
 * measured side by side, interleaved, best of several runs:
 *
 *   none       no platform on either stack: each hook is one load and one
 *              branch (the reference)
 *   idle       the platform on both stacks, with filters only at layers
 *              the transfer never reaches (listen): still one branch
 *   classify   one filter that never matches on each of the four packet
 *              layers of both stacks: every segment and every ACK is
 *              classified twice on each side
 *
 * Usage: bench-filter [MiB] [runs]   (default 64 MiB, 5 runs)
 * Prints one JSON line: ns per KiB for each setting and the ratios to none.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refnet/clock.h"
#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/link.h"
#include "refnet/object.h"
#include "refnet/stack.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "transport/tcp.h"

#define BENCH_NAME "bench-filter"
#include "sim_ends.h"

enum setting { S_NONE, S_IDLE, S_CLASSIFY, S_COUNT_ };
static const char *const setting_names[S_COUNT_] = {"none", "idle", "classify"};

static void add_or_die(struct rn_stack *st, const char *spec)
{
    char err[256];

    if (rn_filter_add(st, spec, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench-filter: %s: %s\n", spec, err);
        exit(1);
    }
}

static void setup_filters(struct rn_stack *st, enum setting s)
{
    if (s == S_NONE)
        return;
    if (rn_filter_init(st) != 0)
        exit(1);
    add_or_die(st, "layer=listen,lport=9,action=block");
    if (s != S_CLASSIFY)
        return;
    /* Each is tried for every packet and never matches. */
    add_or_die(st, "layer=inbound-ip,proto=udp,lport=9,action=block");
    add_or_die(st, "layer=outbound-ip,proto=udp,lport=9,action=block");
    add_or_die(st, "layer=inbound-transport,proto=tcp,lport=9,action=block");
    add_or_die(st, "layer=outbound-transport,proto=tcp,lport=9,action=block");
}

/* Runs one transfer of total bytes; returns the wall-clock ns it took. */
static rn_time_t run_once(enum setting s, uint64_t total)
{
    struct rn_stack_params sp = {.sp_seed = 5};
    struct rn_sim_cable_params cp = {0};
    struct rn_iface_params ip = {0};
    struct rn_stack *a, *b;
    struct rn_iface *ifp;
    struct rn_link *la, *lb;
    struct end cli = {0}, srv = {0};
    rn_time_t t0, t1;
    long guard;

    vnow = RN_SEC(1);
    sp.sp_name = "a";
    if (rn_stack_create(&sp, &a) != 0)
        exit(1);
    sp.sp_name = "b";
    if (rn_stack_create(&sp, &b) != 0 || rn_sock_layer_init(a) != 0 || rn_sock_layer_init(b) != 0)
        exit(1);
    setup_filters(a, s);
    setup_filters(b, s);
    cp.sc_latency = RN_MSEC(1);
    cp.sc_limit = 4096;
    cp.sc_pool_a = rn_stack_pool(a);
    cp.sc_pool_b = rn_stack_pool(b);
    if (rn_sim_cable_new(&cp, &la, &lb) != 0)
        exit(1);
    ip.ifp_name = "sim0";
    ip.ifp_link = la;
    ip.ifp_addr = ADDR_A;
    ip.ifp_plen = 15;
    if (rn_stack_add_iface(a, &ip, &ifp) != 0)
        exit(1);
    ip.ifp_link = lb;
    ip.ifp_addr = ADDR_B;
    if (rn_stack_add_iface(b, &ip, &ifp) != 0)
        exit(1);
    cli.e_total = total;
    if (rn__tcp_listen(b, 0, 5001, 4, &listener_up, &srv, &srv.e_listener) != 0 ||
        rn__tcp_connect(a, 0, 0, ADDR_B, 5001, &client_up, &cli, &cli.e_conn) != 0)
        exit(1);
    t0 = rn_clock_os_monotonic();
    for (guard = 0; guard < 100000000 && srv.e_rcvd < total; guard++) {
        rn_time_t na = rn_stack_next_deadline(a), nb = rn_stack_next_deadline(b), next;

        next = na == 0 ? nb : nb == 0 ? na : na < nb ? na : nb;
        rn_stack_poll(a, vnow);
        rn_stack_poll(b, vnow);
        /* Idle after both polls: advance virtual time to the next event. */
        if (!rn_stack_has_work(a) && !rn_stack_has_work(b) && next > vnow)
            vnow = next;
        else
            vnow += 1000;
    }
    t1 = rn_clock_os_monotonic();
    if (srv.e_rcvd < total) {
        fprintf(stderr, "bench-filter: transfer stalled at %llu of %llu bytes\n",
                (unsigned long long)srv.e_rcvd, (unsigned long long)total);
        exit(1);
    }
    rn__tcp_close(cli.e_conn, true);
    rn__tcp_close(srv.e_conn, true);
    rn__tcp_listener_close(srv.e_listener);
    rn_stack_destroy(a);
    rn_stack_destroy(b);
    return t1 - t0;
}

int main(int argc, char **argv)
{
    uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 64;
    int runs = argc > 2 ? atoi(argv[2]) : 5, r;
    rn_time_t best[S_COUNT_];
    double kib;
    int s;

    if (mib == 0 || runs <= 0) {
        fprintf(stderr, "usage: bench-filter [MiB] [runs]\n");
        return 2;
    }
    rn_clock_set_source(vclock, NULL);
    memset(chunk, 0x5a, sizeof(chunk));
    for (s = 0; s < S_COUNT_; s++)
        best[s] = UINT64_MAX;
    /* Interleaved, so that noise lands on every setting alike. */
    for (r = 0; r < runs; r++) {
        for (s = 0; s < S_COUNT_; s++) {
            rn_time_t t = run_once((enum setting)s, mib << 20);

            if (t < best[s])
                best[s] = t;
        }
    }
    kib = (double)(mib << 10);
    printf("{\"bench\":\"filter\",\"mib\":%llu,\"runs\":%d", (unsigned long long)mib, runs);
    for (s = 0; s < S_COUNT_; s++)
        printf(",\"%s_ns_per_kib\":%.1f", setting_names[s], (double)best[s] / kib);
    printf(",\"idle_over_none\":%.3f,\"classify_over_none\":%.3f}\n",
           (double)best[S_IDLE] / (double)best[S_NONE],
           (double)best[S_CLASSIFY] / (double)best[S_NONE]);
    return 0;
}
