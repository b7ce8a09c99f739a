/*
 * bench-object: what a tagged, ledgered reference costs next to a bare
 * atomic counter, measured side by side in one run.
 *
 * Each figure is nanoseconds per ref+deref pair:
 *   atomic_ns            a bare atomic increment and decrement-and-test
 *   ledger_ns            rn_ob_ref + rn_ob_deref, untraced, by a holder tag
 *                        that holds nothing else (so every ref stamps the
 *                        time: the common, costlier case)
 *   traced_ns            the same with tracing armed (backtrace + depot)
 *   atomic_contended_ns  two threads on one counter, per pair per thread
 *   ledger_contended_ns  two threads on one object, per pair per thread
 * Each is the best of several runs, to keep the noise of a shared machine
 * out of the ratio.  Prints one JSON line.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "refnet/clock.h"
#include "refnet/object.h"

#define RUNS 7

static const struct rn_ob_type_ops bench_ops = {
    .name = "bench object",
    .size = 64,
};

static _Atomic uint32_t bare_count;
static volatile unsigned sink;

/* The bare counter a plain refcount would use: a relaxed increment on get,
 * an acquire-release decrement-and-test on put. */
static inline void bare_get(_Atomic uint32_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static inline void bare_put(_Atomic uint32_t *c)
{
    if (atomic_fetch_sub_explicit(c, 1, memory_order_acq_rel) == 1)
        sink++;
}

static double run_atomic(long n)
{
    rn_time_t t0 = rn_clock_os_monotonic();
    long i;

    for (i = 0; i < n; i++) {
        bare_get(&bare_count);
        bare_put(&bare_count);
    }
    return (double)(rn_clock_os_monotonic() - t0) / (double)n;
}

static double run_ledger(void *ob, rn_tag_t tag, long n)
{
    rn_time_t t0 = rn_clock_os_monotonic();
    long i;

    for (i = 0; i < n; i++) {
        rn_ob_ref(ob, tag);
        rn_ob_deref(ob, tag);
    }
    return (double)(rn_clock_os_monotonic() - t0) / (double)n;
}

struct contender {
    void *c_ob;          /* NULL: use the bare counter */
    rn_tag_t c_tag;
    long c_n;
    _Atomic int *c_ready;
    double c_ns;
};

static void *contend(void *arg)
{
    struct contender *c = arg;

    atomic_fetch_add(c->c_ready, 1);
    while (atomic_load(c->c_ready) < 2)
        ;
    c->c_ns = c->c_ob ? run_ledger(c->c_ob, c->c_tag, c->c_n) : run_atomic(c->c_n);
    return NULL;
}

static double run_contended(void *ob, rn_tag_t t1, rn_tag_t t2, long n)
{
    _Atomic int ready = 0;
    struct contender c[2] = {{ob, t1, n, &ready, 0}, {ob, t2, n, &ready, 0}};
    pthread_t th[2];
    int i;

    for (i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, contend, &c[i]);
    for (i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    return c[0].c_ns > c[1].c_ns ? c[0].c_ns : c[1].c_ns;
}

static double best(double a, double b)
{
    return a < b ? a : b;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 5000000;
    struct rn_ob_type *type = rn_ob_type_register(&bench_ops);
    rn_tag_t t1 = rn_tag_intern("bench.one"), t2 = rn_tag_intern("bench.two");
    double atomic_ns = 1e9, ledger_ns = 1e9, traced_ns = 1e9;
    double atomic_c = 1e9, ledger_c = 1e9;
    void *ob;
    int r;

    if (n < 1000 || type == NULL) {
        fprintf(stderr, "bench-object: usage: bench-object [PAIRS >= 1000]\n");
        return 2;
    }
    ob = rn_ob_create(type, RN_TAG_CREATE);
    if (ob == NULL)
        return 1;
    run_atomic(n / 10);  /* warm up */
    run_ledger(ob, t1, n / 10);
    for (r = 0; r < RUNS; r++) {
        /* Interleaved, so both see the same machine at the same time. */
        atomic_ns = best(atomic_ns, run_atomic(n));
        ledger_ns = best(ledger_ns, run_ledger(ob, t1, n));
        atomic_c = best(atomic_c, run_contended(NULL, 0, 0, n / 2));
        ledger_c = best(ledger_c, run_contended(ob, t1, t2, n / 2));
    }
    rn_ob_set_traced(ob, true);
    for (r = 0; r < 3; r++)
        traced_ns = best(traced_ns, run_ledger(ob, t1, n / 200));
    rn_ob_set_traced(ob, false);
    rn_ob_kill(ob);
    rn_ob_drain();

    printf("{\"atomic_ns\":%.2f,\"ledger_ns\":%.2f,\"traced_ns\":%.1f,"
           "\"atomic_contended_ns\":%.2f,\"ledger_contended_ns\":%.2f,"
           "\"ledger_over_atomic\":%.2f}\n",
           atomic_ns, ledger_ns, traced_ns, atomic_c, ledger_c, ledger_ns / atomic_ns);
    return 0;
}
