/*
 * The watchdog under concurrent checks: threads checking the same stuck
 * chain at once report each wait exactly once between them, in exactly one
 * report.  Also run under TSan.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "helper_case.h"
#include "refnet/diag.h"
#include "refnet/report.h"

#define THREADS 4
#define ROUNDS 50

static atomic_int reports;

static void sink_fn(void *ctx, enum rn_report_kind kind, const char *text)
{
    (void)ctx;
    (void)text;
    if (kind == RN_REPORT_WATCHDOG)
        atomic_fetch_add(&reports, 1);
}

struct worker {
    struct rn_watchdog *w_wd;
    int w_reported;  /* waits this thread reported */
    int w_errors;    /* checks that failed */
};

static void *work(void *arg)
{
    struct worker *w = arg;
    int i;

    for (i = 0; i < ROUNDS; i++) {
        int n = rn_watchdog_check_snapshot(w->w_wd, case_apache(), NULL);

        if (n < 0)
            w->w_errors++;
        else
            w->w_reported += n;
    }
    return NULL;
}

static void test_concurrent_checks(void **state)
{
    struct rn_watchdog *wd = rn_watchdog_new(RN_SEC(10));
    struct worker w[THREADS] = {{0}};
    pthread_t t[THREADS];
    int i, total = 0;

    (void)state;
    assert_non_null(wd);
    rn_report_set_sink(sink_fn, NULL);
    for (i = 0; i < THREADS; i++) {
        w[i].w_wd = wd;
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].w_errors, 0);
        total += w[i].w_reported;
    }
    assert_int_equal(total, 3);
    assert_int_equal(atomic_load(&reports), 1);
    rn_report_set_sink(NULL, NULL);
    rn_watchdog_free(wd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_checks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
