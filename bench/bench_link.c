/*
 * Benchmark of the link layer's per-frame path, each measured beside a
 * reference in the same run; the ratios are the figures (absolute times on
 * a shared machine are noise).
 *
 *   alloc+free     rn_nb_alloc/rn_nb_free   vs  malloc/free of the same size
 *   loopback       tx+rx of one frame       vs  a bare FIFO of the same frames
 *   fault, off     loopback under a fault filter with no faults  vs  loopback
 *   fault, on      ... with drop/dup/reorder/corrupt at 1%       vs  loopback
 *   capture, off   loopback under a paused capture filter        vs  loopback
 *
 * Usage: bench-link [frames]   (default 2000000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refnet/clock.h"
#include "refnet/link.h"
#include "refnet/netbuf.h"

#define BATCH 32

static volatile uint64_t sink;

static double ns_per(rn_time_t start, uint64_t n)
{
    return (double)(rn_clock_os_monotonic() - start) / (double)n;
}

static double bench_malloc(uint64_t n, size_t size)
{
    rn_time_t t = rn_clock_os_monotonic();
    uint64_t i;

    for (i = 0; i < n; i++) {
        unsigned char *p = malloc(size);

        p[0] = (unsigned char)i;
        sink += p[0];
        free(p);
    }
    return ns_per(t, n);
}

static double bench_nb_alloc(struct rn_nbpool *pool, rn_nb_owner_t o, uint64_t n)
{
    rn_time_t t = rn_clock_os_monotonic();
    uint64_t i;

    for (i = 0; i < n; i++) {
        struct rn_netbuf *nb = rn_nb_alloc(pool, o);

        nb->nb_data[0] = (uint8_t)i;
        sink += nb->nb_data[0];
        rn_nb_free(nb);
    }
    return ns_per(t, n);
}

/* The reference for a link: the frames through a plain FIFO, no link. */
static double bench_fifo(struct rn_nbpool *pool, rn_nb_owner_t o, uint64_t n)
{
    struct rn_netbuf *pkts[BATCH];
    struct rn_nbq q;
    rn_time_t t = rn_clock_os_monotonic();
    uint64_t i;
    unsigned k;

    rn_nbq_init(&q);
    for (i = 0; i < n; i += BATCH) {
        for (k = 0; k < BATCH; k++) {
            pkts[k] = rn_nb_alloc(pool, o);
            rn_nb_put(pkts[k], 64);
            rn_nbq_put(&q, pkts[k]);
        }
        for (k = 0; k < BATCH; k++)
            rn_nb_free(rn_nbq_get(&q));
    }
    return ns_per(t, n);
}

static double bench_link(struct rn_link *link, struct rn_nbpool *pool, rn_nb_owner_t o,
                         uint64_t n)
{
    struct rn_netbuf *pkts[BATCH];
    rn_time_t t = rn_clock_os_monotonic();
    uint64_t i;
    unsigned k;
    int got, j;

    for (i = 0; i < n; i += BATCH) {
        for (k = 0; k < BATCH; k++) {
            pkts[k] = rn_nb_alloc(pool, o);
            memset(rn_nb_put(pkts[k], 64), 0, 64);
        }
        rn_link_tx(link, pkts, BATCH, i);
        while ((got = rn_link_rx(link, pkts, BATCH, i + 1)) > 0) {
            for (j = 0; j < got; j++)
                rn_nb_free(pkts[j]);
        }
    }
    /* Flush what a filter still holds. */
    while (rn_link_next_deadline(link) != RN_LINK_NO_DEADLINE) {
        got = rn_link_rx(link, pkts, BATCH, RN_SEC(1000000));
        for (j = 0; j < got; j++)
            rn_nb_free(pkts[j]);
    }
    return ns_per(t, n);
}

static struct rn_link *loop(void)
{
    struct rn_link_loop_params lp = {.lp_limit = 4 * BATCH};
    struct rn_link *l;

    if (rn_link_loop_open(&lp, &l) != 0)
        abort();
    return l;
}

static struct rn_link *fault(const char *spec)
{
    struct rn_fault_params p;
    struct rn_link *l;
    char err[200];

    if (rn_fault_parse(spec, &p, err, sizeof(err)) != 0 ||
        rn_link_fault_open(loop(), &p, &l) != 0) {
        fprintf(stderr, "bench-link: %s\n", err);
        exit(1);
    }
    return l;
}

static void row(const char *name, double ours, const char *refname, double ref)
{
    printf("%-14s %8.1f ns/frame   %-22s %8.1f ns/frame   ratio %.2f\n", name, ours, refname,
           ref, ours / ref);
}

int main(int argc, char **argv)
{
    struct rn_nbpool_params pp = {.np_name = "bench", .np_max = 1024, .np_prealloc = 1024};
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
    struct rn_link_capture_params cp = {.cp_path = "/dev/null"};
    struct rn_nbpool *pool;
    struct rn_link *l, *cap;
    rn_nb_owner_t o = rn_nb_owner_register("bench");
    double ref, ours;
    char err[RN_LINK_ERRLEN];

    if (rn_nbpool_create(&pp, &pool) != 0)
        return 1;
    n = (n + BATCH - 1) / BATCH * BATCH;
    printf("bench-link: %llu frames of 64 bytes, batches of %d\n", (unsigned long long)n, BATCH);

    ref = bench_malloc(n, RN_NB_DEFAULT_HEADROOM + RN_NB_DEFAULT_DATA);
    ours = bench_nb_alloc(pool, o, n);
    row("alloc+free", ours, "malloc+free", ref);

    ref = bench_fifo(pool, o, n);
    l = loop();
    ours = bench_link(l, pool, o, n);
    row("loopback", ours, "bare FIFO", ref);
    ref = ours;
    rn_link_close(l);

    l = fault("");
    ours = bench_link(l, pool, o, n);
    row("fault, off", ours, "loopback", ref);
    rn_link_close(l);

    l = fault("drop=1%,dup=1%,reorder=1%,corrupt=1%,seed=1");
    ours = bench_link(l, pool, o, n);
    row("fault, on", ours, "loopback", ref);
    rn_link_close(l);

    if (rn_link_capture_open(loop(), &cp, &cap, err) != 0) {
        fprintf(stderr, "bench-link: %s\n", err);
        return 1;
    }
    rn_link_capture_set_enabled(cap, false);
    ours = bench_link(cap, pool, o, n);
    row("capture, off", ours, "loopback", ref);
    rn_link_capture_set_enabled(cap, true);
    ours = bench_link(cap, pool, o, n);
    row("capture, on", ours, "loopback", ref);
    rn_link_close(cap);

    return rn_nbpool_destroy(pool) == 0 ? 0 : 1;
}
