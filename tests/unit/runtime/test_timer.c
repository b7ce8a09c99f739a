/*
 * The timer heap (src/runtime/timer.c): equal deadlines fire in arming
 * order, a cancelled timer never fires, a callback re-arming itself is
 * handed the run's now, and thousands of random deadlines fire in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_order),
        cmocka_unit_test(test_timer_many),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
