/*
 * Stamps under concurrency: threads stamp while the ticker publishes.
 * Within a thread stamps never go back, and none is later than the
 * clock read after it (TSan checks the publication itself).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "refnet/clock.h"

#define STAMPS 2000000

struct stamper {
    long s_back;      /* stamps earlier than the one before */
    long s_ahead;     /* stamps later than the clock read after them */
    long s_distinct;  /* how many times the stamp changed */
};

static void *stamp_loop(void *arg)
{
    struct stamper *st = arg;
    rn_time_t last = 0, t;
    long i;

    for (i = 0; i < STAMPS; i++) {
        t = rn_clock_stamp();
        if (t < last)
            st->s_back++;
        if (t != last)
            st->s_distinct++;
        if ((i & 1023) == 0 && t > rn_clock_now())
            st->s_ahead++;
        last = t;
    }
    return NULL;
}

static void test_stamps_racing_ticker(void **state)
{
    struct stamper st[2] = {{0, 0, 0}, {0, 0, 0}};
    pthread_t th[2];
    int i;

    (void)state;
    assert_int_equal(rn_clock_ticker_start(), 0);
    for (i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, stamp_loop, &st[i]), 0);
    for (i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(st[i].s_back, 0);
        assert_int_equal(st[i].s_ahead, 0);
        assert_true(st[i].s_distinct >= 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamps_racing_ticker),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
