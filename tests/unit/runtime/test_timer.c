/*
 * The timer wheel (src/runtime/timer.c): equal deadlines fire in arming
 * order, a cancelled timer never fires, a callback re-arming itself is
 * handed the run's now, thousands of random deadlines fire in order, timers
 * days ahead cascade down the levels and fire at their exact ns, a jump of
 * time fires everything passed in order, and random arms, re-arms, cancels
 * and runs (from callbacks too) match a plain model step for step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/clock.h"
#include "refnet/timer.h"

static char fired[64];
static size_t nfired;

struct named_timer {
    struct rn_timer t;
    char name;
    struct rn_timer_heap *heap;
    int rearm;  /* re-arm this many times, 1 ns later each */
};

static void on_fire(struct rn_timer *t, rn_time_t now)
{
    struct named_timer *nt = (struct named_timer *)t;

    fired[nfired++] = nt->name;
    if (nt->rearm-- > 0)
        rn_timer_arm(nt->heap, t, now + 1);
}

static void test_timer_order(void **state)
{
    struct rn_timer_heap h;
    struct named_timer t[6];
    const char *names = "abcdef";
    const rn_time_t due[] = {50, 10, 30, 10, 70, 30};
    int i;

    (void)state;
    rn_timer_heap_init(&h);
    memset(fired, 0, sizeof(fired));
    nfired = 0;
    for (i = 0; i < 6; i++) {
        rn_timer_init(&t[i].t, on_fire);
        t[i].name = names[i];
        t[i].heap = &h;
        t[i].rearm = 0;
        assert_int_equal(rn_timer_arm(&h, &t[i].t, due[i]), 0);
    }
    rn_timer_cancel(&h, &t[4].t);         /* e never fires */
    assert_false(rn_timer_armed(&t[4].t));
    rn_timer_arm(&h, &t[0].t, 5);         /* a moves to the front */
    t[3].rearm = 2;                       /* d fires thrice, 1 ns apart */
    assert_int_equal(rn_timer_next(&h), 5);
    /* Equal deadlines fire in arming order: b before d; d re-arms for
     * 11, after this run's now. */
    assert_int_equal(rn_timer_run(&h, 10), 3);
    assert_string_equal(fired, "abd");
    /* A callback is handed the run's now: d re-arms for 101. */
    assert_int_equal(rn_timer_run(&h, 100), 3);
    assert_string_equal(fired, "abddcf");
    assert_int_equal(rn_timer_next(&h), 101);
    assert_int_equal(rn_timer_run(&h, 200), 1);
    assert_string_equal(fired, "abddcfd");
    assert_int_equal(rn_timer_next(&h), 0);
    rn_timer_heap_fini(&h);
}

static void test_timer_many(void **state)
{
    enum { N = 5000 };
    struct rn_timer_heap h;
    struct named_timer *t = calloc(N, sizeof(*t));
    rn_time_t last = 0;
    unsigned i, seed = 1;

    (void)state;
    rn_timer_heap_init(&h);
    nfired = 0;
    for (i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        rn_timer_init(&t[i].t, on_fire);
        t[i].name = 'x';
        t[i].heap = &h;
        rn_timer_arm(&h, &t[i].t, seed % 100000);
    }
    for (i = 0; i < N; i += 3)
        rn_timer_cancel(&h, &t[i].t);
    /* Fire in steps; every fire is due and never earlier than the last. */
    for (rn_time_t now = 0; now <= 100000; now += 997) {
        while (rn_timer_next(&h) != 0 && rn_timer_next(&h) <= now) {
            rn_time_t d = rn_timer_next(&h);

            assert_true(d >= last);
            last = d;
            nfired = 0;
            rn_timer_run(&h, d);
        }
    }
    rn_timer_run(&h, 100000);
    for (i = 0; i < N; i++)
        assert_false(rn_timer_armed(&t[i].t));
    rn_timer_heap_fini(&h);
    free(t);
}

/* A timer a day and a few ns ahead sits at a high level, cascades down
 * through every level on the way, and fires at its exact ns, not a tick
 * early; rn_timer_next() gives its exact time all along. */
static void test_timer_far_future_cascades(void **state)
{
    struct rn_timer_heap h;
    struct named_timer a, b, c;
    const rn_time_t day = RN_SEC(86400);

    (void)state;
    rn_timer_heap_init(&h);
    memset(fired, 0, sizeof(fired));
    nfired = 0;
    rn_timer_init(&a.t, on_fire);
    rn_timer_init(&b.t, on_fire);
    rn_timer_init(&c.t, on_fire);
    a.name = 'a', b.name = 'b', c.name = 'c';
    a.heap = b.heap = c.heap = &h;
    a.rearm = b.rearm = c.rearm = 0;
    rn_timer_arm(&h, &a.t, day + 7);
    rn_timer_arm(&h, &b.t, day + 5);        /* same tick as a, earlier ns */
    rn_timer_arm(&h, &c.t, RN_SEC(3600));
    assert_int_equal(rn_timer_next(&h), RN_SEC(3600));
    /* Walk time up in uneven steps; nothing fires early. */
    for (rn_time_t now = 1; now < day; now += RN_SEC(997) + 12345)
        rn_timer_run(&h, now);
    assert_string_equal(fired, "c");
    assert_int_equal(rn_timer_next(&h), day + 5);
    assert_int_equal(rn_timer_run(&h, day + 4), 0);
    assert_int_equal(rn_timer_next(&h), day + 5);
    assert_int_equal(rn_timer_run(&h, day + 5), 1);
    assert_string_equal(fired, "cb");
    assert_int_equal(rn_timer_next(&h), day + 7);
    assert_int_equal(rn_timer_run(&h, day + 6), 0);
    assert_int_equal(rn_timer_run(&h, day + 7), 1);
    assert_string_equal(fired, "cba");
    assert_int_equal(rn_timer_next(&h), 0);
    rn_timer_heap_fini(&h);
}

static rn_time_t jump_dues[80];
static size_t njump;

static void on_jump_fire(struct rn_timer *t, rn_time_t now)
{
    assert_true(t->tm_due <= now);
    jump_dues[njump++] = t->tm_due;
}

/* One run over a jump of centuries fires everything passed, in due order,
 * with timers spread over every level; a timer armed long in the past after
 * the jump fires at the next run. */
static void test_timer_time_jump(void **state)
{
    enum { N = 64 };
    struct rn_timer_heap h;
    struct rn_timer t[N], late;
    size_t i;

    (void)state;
    rn_timer_heap_init(&h);
    njump = 0;
    for (i = 0; i < N; i++) {
        rn_timer_init(&t[i], on_jump_fire);
        /* Later arms are due earlier, each at another level. */
        rn_timer_arm(&h, &t[i], ((rn_time_t)1 << (62 - i % 44)) + (N - i));
    }
    /* Two are due after 2^62: i = 44 (+ 20 ns) and i = 0 (+ 64 ns). */
    assert_int_equal(rn_timer_run(&h, (rn_time_t)1 << 62), N - 2);
    assert_int_equal(rn_timer_next(&h), ((rn_time_t)1 << 62) + 20);
    assert_int_equal(rn_timer_run(&h, UINT64_MAX - 1), 2);
    assert_int_equal(njump, N);
    for (i = 1; i < N; i++)
        assert_true(jump_dues[i - 1] < jump_dues[i]);
    assert_int_equal(rn_timer_next(&h), 0);
    rn_timer_init(&late, on_jump_fire);
    rn_timer_arm(&h, &late, 10);           /* long past */
    assert_int_equal(rn_timer_next(&h), 10);
    assert_int_equal(rn_timer_run(&h, UINT64_MAX - 1), 1);
    assert_int_equal(jump_dues[N], 10);
    rn_timer_heap_fini(&h);
}

/* The model: every armed timer with its due and arming number; the next to
 * fire is the smallest (due, number). */
enum { MODEL_N = 300 };

struct mt {
    struct rn_timer t;     /* first: the callback casts back */
    unsigned id;
    bool armed;            /* in the model */
    rn_time_t due;         /* in the model */
    uint64_t seq;          /* in the model */
};

static struct {
    struct rn_timer_heap h;
    struct mt t[MODEL_N];
    uint64_t seq;
    unsigned seed;
    unsigned fired;
    rn_time_t last_due;
    uint64_t last_seq;
} M;

static unsigned rnd(void)
{
    M.seed = M.seed * 1103515245u + 12345u;
    return M.seed >> 8;
}

/* A due time around now: past, this tick, the next ticks, minutes, days. */
static rn_time_t rnd_due(rn_time_t now)
{
    switch (rnd() % 6) {
    case 0:
        return now > 1000 ? now - rnd() % 1000 : now;
    case 1:
        return now + rnd() % (1u << RN_TIMER_TICK_SHIFT);
    case 2:
        return now + (rn_time_t)(rnd() % 64) * RN_MSEC(1);
    case 3:
        return now + (rn_time_t)(rnd() % 300) * RN_SEC(1);
    case 4:
        return now + (rn_time_t)(rnd() % 4) * RN_SEC(86400) + rnd() % 3;
    default:
        return now + (rn_time_t)(rnd() % 2000) * RN_MSEC(1);
    }
}

static void model_arm(struct mt *m, rn_time_t due)
{
    m->armed = true;
    m->due = due;
    m->seq = M.seq++;
    assert_int_equal(rn_timer_arm(&M.h, &m->t, due), 0);
}

static void model_cancel(struct mt *m)
{
    m->armed = false;
    rn_timer_cancel(&M.h, &m->t);
}

/* The model's next timer, NULL if none. */
static struct mt *model_min(void)
{
    struct mt *best = NULL;
    unsigned i;

    for (i = 0; i < MODEL_N; i++) {
        struct mt *m = &M.t[i];

        if (m->armed && (best == NULL || m->due < best->due ||
                         (m->due == best->due && m->seq < best->seq)))
            best = m;
    }
    return best;
}

/* Fires: must be the model's next timer; then, at random, re-arms itself
 * or another timer, or cancels another. */
static void model_fire(struct rn_timer *t, rn_time_t now)
{
    struct mt *m = (struct mt *)t, *o;

    assert_ptr_equal(model_min(), m);
    assert_true(m->due <= now);
    assert_false(rn_timer_armed(t));
    m->armed = false;
    M.fired++;
    switch (rnd() % 4) {
    case 0:
        model_arm(m, rnd_due(now));
        break;
    case 1:
        o = &M.t[rnd() % MODEL_N];
        model_arm(o, rnd_due(now));
        break;
    case 2:
        model_cancel(&M.t[rnd() % MODEL_N]);
        break;
    default:
        break;
    }
}

static void test_timer_matches_model(void **state)
{
    rn_time_t now = RN_SEC(5);
    unsigned i, step;

    (void)state;
    memset(&M, 0, sizeof(M));
    M.seed = 7;
    rn_timer_heap_init(&M.h);
    for (i = 0; i < MODEL_N; i++) {
        rn_timer_init(&M.t[i].t, model_fire);
        M.t[i].id = i;
    }
    for (step = 0; step < 20000; step++) {
        struct mt *m = &M.t[rnd() % MODEL_N], *min;
        bool ran = true;

        switch (rnd() % 5) {
        case 0:
        case 1:
            model_arm(m, rnd_due(now));
            ran = false;
            break;
        case 2:
            model_cancel(m);
            ran = false;
            break;
        case 3:
            /* Run to the next due time exactly, as a simulator does. */
            min = model_min();
            assert_int_equal(rn_timer_next(&M.h), min ? min->due : 0);
            if (min != NULL && min->due > now)
                now = min->due;
            rn_timer_run(&M.h, now);
            break;
        default:
            /* A step of time: short mostly, sometimes a jump of days. */
            now += rnd() % 8 == 0 ? (rn_time_t)(rnd() % 5) * RN_SEC(86400)
                                  : (rn_time_t)(rnd() % 3000) * RN_NSEC_PER_USEC;
            rn_timer_run(&M.h, now);
            break;
        }
        min = model_min();
        assert_int_equal(rn_timer_next(&M.h), min ? min->due : 0);
        if (min != NULL && ran)
            assert_true(min->due > now);  /* everything due has fired */
    }
    assert_true(M.fired > 1000);
    rn_timer_heap_fini(&M.h);
    for (i = 0; i < MODEL_N; i++)
        assert_false(rn_timer_armed(&M.t[i].t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_order),
        cmocka_unit_test(test_timer_many),
        cmocka_unit_test(test_timer_far_future_cascades),
        cmocka_unit_test(test_timer_time_jump),
        cmocka_unit_test(test_timer_matches_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
