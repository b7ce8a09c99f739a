/*
 * Benchmark of the timer wheel (src/runtime/timer.c) against the binary
 * heap it replaced (bench/old_timer_heap.h), at 1,000 and 1,000,000 armed
 * timers, in three patterns:
 *   arm-cancel  arm every timer at a random time up to 10 s ahead, then
 *               cancel every one in another order;
 *   rearm       with every timer armed, re-arm random ones 200 ms to 1 s
 *               ahead, time creeping forward, as TCP re-arms its
 *               retransmission and delayed-ACK timers per segment;
 *   expire      arm every timer up to 10 s ahead, then walk time forward
 *               1 ms at a time, reading the next due time before each step
 *               as the loop does before it sleeps, until all have fired.
 * At 1,000 timers each side repeats the pattern 50 times, time moving on.
 * Both sides get the same due times.  Each round measures the wheel and
 * the heap back to back (which goes first alternates) and takes the ratio
 * wheel / heap of the pair; the program prints, per pattern and count, the
 * min/median/max of those ratios (below 1: the wheel is faster), one JSON
 * line each.  It checks that both sides fired every timer.
 *
 * Usage: bench-timer [rounds]   (default 7)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "refnet/timer.h"
#include "old_timer_heap.h"

#define RN_TIMERS_BIG 1000000u

static uint64_t *due_at;      /* [n] first due times */
static uint32_t *order;       /* [n] a permutation: cancel order */
static uint32_t *pick;        /* [n] which timer each re-arm moves */
static uint64_t *rearm_at;    /* [n] offset of each re-arm */
static unsigned long fired;

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void make_inputs(uint32_t n)
{
    uint64_t s = 88172645463325252ull;
    uint32_t i;

    for (i = 0; i < n; i++) {
        due_at[i] = RN_MSEC(1) + rnd(&s) % RN_SEC(10);
        order[i] = i;
        pick[i] = (uint32_t)(rnd(&s) % n);
        rearm_at[i] = RN_MSEC(200) + rnd(&s) % RN_MSEC(800);
    }
    for (i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rnd(&s) % (i + 1)), x = order[i];

        order[i] = order[j];
        order[j] = x;
    }
}

static void wheel_fire(struct rn_timer *t, rn_time_t now)
{
    (void)t;
    (void)now;
    fired++;
}

static void heap_fire(struct oh_timer *t, rn_time_t now)
{
    (void)t;
    (void)now;
    fired++;
}

/* One pattern on one side; returns ns.  The heap is given its working size
 * first (one arm and cancel of every timer), as a running stack's is. */
#define DEFINE_SIDE(NAME, HEAP, TIMER, INIT, FINI, TINIT, ARM, CANCEL, NEXT, RUN, FIRE)  \
    static double NAME(int pattern, uint32_t n, unsigned reps)                   \
    {                                                                            \
        HEAP *h = malloc(sizeof(*h));                                            \
        TIMER *t = malloc((size_t)n * sizeof(*t));                               \
        double t0, total = 0;                                                    \
        rn_time_t now = 0;                                                       \
        unsigned rep;                                                            \
        uint32_t i;                                                              \
                                                                                 \
        if (h == NULL || t == NULL) {                                            \
            fprintf(stderr, "bench-timer: out of memory for %u timers\n", n);   \
            exit(1);                                                             \
        }                                                                        \
        INIT(h);                                                                 \
        for (i = 0; i < n; i++) {                                                \
            TINIT(&t[i], FIRE);                                                  \
            ARM(h, &t[i], due_at[i]);                                            \
        }                                                                        \
        for (i = 0; i < n; i++)                                                  \
            CANCEL(h, &t[i]);                                                    \
        for (rep = 0; rep < reps; rep++) {                                       \
            fired = 0;                                                           \
            if (pattern == 0) {                                                  \
                t0 = now_ns();                                                   \
                for (i = 0; i < n; i++)                                          \
                    ARM(h, &t[i], now + due_at[i]);                              \
                for (i = 0; i < n; i++)                                          \
                    CANCEL(h, &t[order[i]]);                                     \
                total += now_ns() - t0;                                          \
                fired = n;                                                       \
            } else if (pattern == 1) {                                           \
                for (i = 0; i < n; i++)                                          \
                    ARM(h, &t[i], now + due_at[i]);                              \
                t0 = now_ns();                                                   \
                for (i = 0; i < n; i++) {                                        \
                    now += 1000;                                                 \
                    ARM(h, &t[pick[i]], now + rearm_at[i]);                      \
                }                                                                \
                total += now_ns() - t0;                                          \
                for (i = 0; i < n; i++)                                          \
                    CANCEL(h, &t[i]);                                            \
                fired = n;                                                       \
            } else {                                                             \
                t0 = now_ns();                                                   \
                for (i = 0; i < n; i++)                                          \
                    ARM(h, &t[i], now + due_at[i]);                              \
                while (NEXT(h) != 0) {                                           \
                    now += RN_MSEC(1);                                           \
                    RUN(h, now);                                                 \
                }                                                                \
                total += now_ns() - t0;                                          \
            }                                                                    \
            if (fired != n) {                                                    \
                fprintf(stderr, "bench-timer: %s fired %lu of %u\n", #NAME, fired, n); \
                exit(1);                                                         \
            }                                                                    \
        }                                                                        \
        FINI(h);                                                                 \
        free(t);                                                                 \
        free(h);                                                                 \
        return total;                                                            \
    }

DEFINE_SIDE(run_wheel, struct rn_timer_heap, struct rn_timer, rn_timer_heap_init,
            rn_timer_heap_fini, rn_timer_init, rn_timer_arm, rn_timer_cancel,
            rn_timer_next, rn_timer_run, wheel_fire)
DEFINE_SIDE(run_heap, struct oh_heap, struct oh_timer, oh_heap_init, oh_heap_fini,
            oh_timer_init, oh_timer_arm, oh_timer_cancel, oh_timer_next, oh_timer_run,
            heap_fire)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"arm-cancel", "rearm", "expire"};
    static const uint32_t counts[] = {1000, RN_TIMERS_BIG};
    static const unsigned reps[] = {50, 1};  /* each pattern repeated, per side */
    double ratio[64];
    long rounds = 7;
    unsigned c, p;

    if (argc > 1) {
        char *end;

        rounds = strtol(argv[1], &end, 10);
        if (*end != '\0' || rounds < 1 || rounds > 64) {
            fprintf(stderr, "bench-timer: rounds must be 1 to 64, not '%s'\n", argv[1]);
            return 2;
        }
    }
    due_at = malloc(RN_TIMERS_BIG * sizeof(*due_at));
    order = malloc(RN_TIMERS_BIG * sizeof(*order));
    pick = malloc(RN_TIMERS_BIG * sizeof(*pick));
    rearm_at = malloc(RN_TIMERS_BIG * sizeof(*rearm_at));
    if (due_at == NULL || order == NULL || pick == NULL || rearm_at == NULL) {
        fprintf(stderr, "bench-timer: out of memory\n");
        return 1;
    }
    for (c = 0; c < 2; c++) {
        make_inputs(counts[c]);
        for (p = 0; p < 3; p++) {
            long r;

            for (r = 0; r < rounds; r++) {
                double w, hp;

                if (r % 2 == 0) {
                    w = run_wheel((int)p, counts[c], reps[c]);
                    hp = run_heap((int)p, counts[c], reps[c]);
                } else {
                    hp = run_heap((int)p, counts[c], reps[c]);
                    w = run_wheel((int)p, counts[c], reps[c]);
                }
                ratio[r] = w / hp;
            }
            qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
            printf("{\"bench\":\"timer\",\"pattern\":\"%s\",\"timers\":%u,\"rounds\":%ld,"
                   "\"wheel_over_heap\":{\"min\":%.3f,\"median\":%.3f,\"max\":%.3f}}\n",
                   names[p], counts[c], rounds, ratio[0], ratio[rounds / 2],
                   ratio[rounds - 1]);
            fflush(stdout);
        }
    }
    free(due_at);
    free(order);
    free(pick);
    free(rearm_at);
    return 0;
}
