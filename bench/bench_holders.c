/*
 * bench-holders: what holder contracts cost the ledger, and what `refnet
 * why` costs with many live objects.
 *
 * Part 1, the ledger with contracts checked.  Each round measures, back
 * to back, the same ref+deref pairs on an object of a type with a
 * contract and on one of a type without, and takes their ratio:
 *   fast    a holder that has held the object before (its line exists):
 *           the fast path, which never reads the contract
 *   first   a holder's first reference on a fresh object (create, ref,
 *           deref, kill): the slow path, where the contract is checked
 * The bare atomic pair of bench-object is measured in the same round as
 * the scale.
 *
 * Part 2, `why` with N live objects (default 100,000, of a type with a
 * contract, two holders each, one in 1,000 dying with a forgotten hold,
 * one in 1,000 waiting on another): a snapshot, the chains, and the orphans, as the
 * daemon's `why` does them.  Its reference in the same round is the
 * snapshot alone, and the same with N/10 objects (how it scales).
 *
 * Prints one JSON line: per measure min/median/max over the rounds.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refnet/clock.h"
#include "refnet/diag.h"
#include "refnet/object.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"

#define ROUNDS 11

static const struct rn_ob_type_ops plain_ops = {.name = "bench plain", .size = 64};
static const struct rn_ob_type_ops ctr_ops = {.name = "bench contracted", .size = 64};

static const char *const ctr_conds[] = {"bound"};
static const struct rn_ob_holder ctr_holders[] = {
    {"create", 0, 0, 0, "the creator"},
    {"bench.one", 0, 0, 0, "bench holder one"},
    {"bench.two", 1, RN_HOLD_ONE | RN_HOLD_DYING, 0, "bench holder two"},
    {"port-table", 1, RN_HOLD_ONE, 0, "expected while bound"},
};
static const struct rn_ob_contract ctr_contract = {ctr_holders, 4, ctr_conds, 1, 0};

static _Atomic uint32_t bare;
static volatile unsigned sink;

static double now_ns(void)
{
    return (double)rn_clock_os_monotonic();
}

static double run_atomic(long n)
{
    double t0 = now_ns();
    long i;

    for (i = 0; i < n; i++) {
        atomic_fetch_add_explicit(&bare, 1, memory_order_relaxed);
        if (atomic_fetch_sub_explicit(&bare, 1, memory_order_acq_rel) == 1)
            sink++;
    }
    return (now_ns() - t0) / (double)n;
}

static double run_fast(void *ob, rn_tag_t tag, long n)
{
    double t0 = now_ns();
    long i;

    for (i = 0; i < n; i++) {
        rn_ob_ref(ob, tag);
        rn_ob_deref(ob, tag);
    }
    return (now_ns() - t0) / (double)n;
}

static double run_first(struct rn_ob_type *t, rn_tag_t tag, long n)
{
    double t0 = now_ns();
    long i;

    for (i = 0; i < n; i++) {
        void *ob = rn_ob_create(t, RN_TAG_CREATE);

        rn_ob_ref(ob, tag);
        rn_ob_deref(ob, tag);
        rn_ob_kill(ob);
    }
    return (now_ns() - t0) / (double)n;
}

/* N objects as a busy daemon has them: two holders each; one in 1,000
 * dying with a hold its owner forgot (an orphan), one in 1,000 waiting
 * on another.  Returns the objects, to be torn down by unpopulate(). */
struct world {
    void **w_obs;
    struct rn_ob_wait *w_waits;
    long w_n;
};

static void wait_fired(struct rn_ob_wait *w, void *ctx)
{
    (void)w;
    (void)ctx;
}

static void populate(struct world *w, struct rn_ob_type *t, long n, rn_tag_t one, rn_tag_t two)
{
    long i;

    w->w_obs = calloc((size_t)n, sizeof(*w->w_obs));
    w->w_waits = calloc((size_t)n, sizeof(*w->w_waits));
    w->w_n = n;
    if (w->w_obs == NULL || w->w_waits == NULL)
        abort();
    for (i = 0; i < n; i++) {
        void *ob = rn_ob_create(t, RN_TAG_CREATE);

        if (ob == NULL)
            abort();
        rn_ob_publish(ob);
        rn_ob_ref(ob, one);
        rn_ob_cond_set(ob, 1);
        rn_ob_ref(ob, two);
        w->w_obs[i] = ob;
        if (i % 1000 == 501)
            rn_ob_wait_release(ob, &w->w_waits[i], w->w_obs[i - 1], "close", wait_fired, NULL);
    }
    for (i = 0; i < n; i += 1000) {
        rn_ob_ref(w->w_obs[i], RN_TAG_PORT_TABLE);  /* never bound: left over */
        rn_ob_kill(w->w_obs[i]);
    }
}

static void unpopulate(struct world *w, rn_tag_t one, rn_tag_t two)
{
    long i;

    for (i = 0; i < w->w_n; i++) {
        void *ob = w->w_obs[i];

        if (i % 1000 == 501)
            rn_ob_wait_cancel(&w->w_waits[i]);
        if (i % 1000 == 0)
            rn_ob_deref(ob, RN_TAG_PORT_TABLE);
        rn_ob_deref(ob, one);
        rn_ob_deref(ob, two);
        if (i % 1000 != 0)
            rn_ob_kill(ob);
    }
    free(w->w_obs);
    free(w->w_waits);
    rn_ob_drain();
}

/* What `refnet why` does: a snapshot, every chain, the orphans. */
static double run_why(int *chains, int *orphans)
{
    struct rn_strbuf out = RN_STRBUF_INIT;
    double t0 = now_ns();
    struct rn_snapshot *s = rn_ob_snapshot();

    if (s == NULL)
        abort();
    s->s_threshold = RN_SEC(10);
    s->s_now += RN_SEC(11);  /* as if 11 s later: the dying ones are orphans */
    *chains = rn_diag_render_chains(s, 0, &out);
    *orphans = rn_diag_render_orphans(s, &out);
    rn_snapshot_free(s);
    rn_strbuf_free(&out);
    return now_ns() - t0;
}

static double run_snapshot(void)
{
    double t0 = now_ns();
    struct rn_snapshot *s = rn_ob_snapshot();

    if (s == NULL)
        abort();
    rn_snapshot_free(s);
    return now_ns() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void put_stat(const char *name, double *v, int n, const char *fmt, int last)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    printf("\"%s\":{\"min\":", name);
    printf(fmt, v[0]);
    printf(",\"median\":");
    printf(fmt, v[n / 2]);
    printf(",\"max\":");
    printf(fmt, v[n - 1]);
    printf("}%s", last ? "" : ",");
}

int main(int argc, char **argv)
{
    long pairs = argc > 1 ? atol(argv[1]) : 2000000;
    long nobj = argc > 2 ? atol(argv[2]) : 100000;
    struct rn_ob_type *plain = rn_ob_type_register(&plain_ops);
    struct rn_ob_type *ctr = rn_ob_type_register(&ctr_ops);
    rn_tag_t one = rn_tag_intern("bench.one"), two = rn_tag_intern("bench.two");
    double fast_ratio[ROUNDS], first_ratio[ROUNDS], fast_over_atomic[ROUNDS];
    double why_ms[ROUNDS], why_over_snap[ROUNDS], why_over_tenth[ROUNDS];
    double fast_ns = 1e9, plain_ns = 1e9, first_ns = 1e9, first_plain_ns = 1e9;
    void *a, *b;
    int r, chains = 0, orphans = 0;
    struct world w;

    if (pairs < 1000 || nobj < 1000 || plain == NULL || ctr == NULL ||
        rn_ob_type_set_contract(ctr, &ctr_contract) != 0) {
        fprintf(stderr, "bench-holders: usage: bench-holders [PAIRS >= 1000 [OBJECTS >= 1000]]\n");
        return 2;
    }
    a = rn_ob_create(ctr, RN_TAG_CREATE);
    b = rn_ob_create(plain, RN_TAG_CREATE);
    run_fast(a, one, pairs / 10);  /* warm up, and give each holder its line */
    run_fast(b, one, pairs / 10);
    run_first(ctr, one, pairs / 100);
    run_first(plain, one, pairs / 100);
    for (r = 0; r < ROUNDS; r++) {
        double at = run_atomic(pairs), x, y;

        /* Alternate which goes first, so neither always follows the other. */
        if (r & 1) {
            y = run_fast(b, one, pairs);
            x = run_fast(a, one, pairs);
        } else {
            x = run_fast(a, one, pairs);
            y = run_fast(b, one, pairs);
        }
        fast_ratio[r] = x / y;
        fast_over_atomic[r] = x / at;
        fast_ns = x < fast_ns ? x : fast_ns;
        plain_ns = y < plain_ns ? y : plain_ns;
        x = run_first(ctr, one, pairs / 20);
        y = run_first(plain, one, pairs / 20);
        first_ratio[r] = x / y;
        first_ns = x < first_ns ? x : first_ns;
        first_plain_ns = y < first_plain_ns ? y : first_plain_ns;
    }
    rn_ob_kill(a);
    rn_ob_kill(b);
    rn_ob_drain();

    for (r = 0; r < ROUNDS; r++) {
        struct world small;
        double big_why, snap, small_why;
        int c2, o2;

        populate(&w, ctr, nobj, one, two);
        big_why = run_why(&chains, &orphans);
        snap = run_snapshot();
        unpopulate(&w, one, two);
        populate(&small, ctr, nobj / 10, one, two);
        small_why = run_why(&c2, &o2);
        unpopulate(&small, one, two);
        why_ms[r] = big_why / 1e6;
        why_over_snap[r] = big_why / snap;
        why_over_tenth[r] = big_why / small_why;
        if (r >= 2)
            break;  /* each round builds 110,000 objects: three suffice */
    }
    r = r < ROUNDS ? r + 1 : ROUNDS;

    printf("{\"bench\":\"holders\",\"pairs\":%ld,\"objects\":%ld,"
           "\"fast_contract_ns\":%.2f,\"fast_plain_ns\":%.2f,"
           "\"first_contract_ns\":%.1f,\"first_plain_ns\":%.1f,",
           pairs, nobj, fast_ns, plain_ns, first_ns, first_plain_ns);
    put_stat("fast_contract_over_plain", fast_ratio, ROUNDS, "%.3f", 0);
    put_stat("fast_contract_over_atomic", fast_over_atomic, ROUNDS, "%.2f", 0);
    put_stat("first_contract_over_plain", first_ratio, ROUNDS, "%.3f", 0);
    printf("\"why_chains\":%d,\"why_orphans\":%d,", chains, orphans);
    put_stat("why_ms", why_ms, r, "%.1f", 0);
    put_stat("why_over_snapshot", why_over_snap, r, "%.2f", 0);
    put_stat("why_over_tenth", why_over_tenth, r, "%.2f", 1);
    printf("}\n");
    return 0;
}
