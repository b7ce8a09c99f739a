/*
 * The watchdog's judgement (watchdog.c), fed snapshots built by hand: each
 * wait is reported once when it reaches the threshold, in one report to
 * the diagnostics sink carrying the chains that contain it; a wait that
 * ends is forgotten, and one that begins again is reported again.
 *
 * rn_watchdog_check() on the live object manager is the same code after
 * rn_ob_snapshot(); see test_watchdog_live.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_case.h"
#include "refnet/diag.h"
#include "refnet/report.h"
#include "support.h"

/* The case with its clock moved to `now`. */
/* Each test captures the reports (support.h). */
static int setup(void **state)
{
    (void)state;
    capture_begin();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    capture_end();
    return 0;
}

static struct rn_snapshot *case_at(rn_time_t now)
{
    struct rn_snapshot *s = case_apache();

    s->s_now = now;
    return s;
}

static void test_reports_once(void **state)
{
    struct rn_watchdog *wd = rn_watchdog_new(RN_SEC(10));
    struct rn_strbuf out = RN_STRBUF_INIT;
    rn_time_t began = CASE_NOW - CASE_STUCK;
    static const char head[] = "refnet watchdog: 3 waits pending for 10.0s or more\n"
                               "service httpd STOP_PENDING  #1   stop pending 10.0s\n";
    const char *text;

    assert_non_null(wd);
    /* 5 s into the stop: nothing to say. */
    assert_int_equal(rn_watchdog_check_snapshot(wd, case_at(began + RN_SEC(5)), &out), 0);
    assert_int_equal(capture_count(RN_REPORT_WATCHDOG), 0);
    assert_string_equal(rn_strbuf_str(&out), "");
    /* 10 s: the three waits of the chain, in one report. */
    assert_int_equal(rn_watchdog_check_snapshot(wd, case_at(began + RN_SEC(10)), &out), 3);
    assert_int_equal(capture_count(RN_REPORT_WATCHDOG), 1);
    assert_int_equal(capture_total() - capture_count(RN_REPORT_WATCHDOG), 0);
    text = capture_text();
    assert_string_equal(text, rn_strbuf_str(&out));
    assert_true(strncmp(text, head, strlen(head)) == 0);
    assert_non_null(strstr(text, "    \u2514 tcp listener 0.0.0.0:80  #4   live, refs 2, traced\n"));
    assert_non_null(strstr(text, "verdict: 'enum' holds past its bound"));
    /* Later checks of the same waits say nothing more. */
    assert_int_equal(rn_watchdog_check_snapshot(wd, case_at(began + RN_SEC(20)), &out), 0);
    assert_int_equal(rn_watchdog_check_snapshot(wd, case_at(CASE_NOW), NULL), 0);
    assert_int_equal(capture_count(RN_REPORT_WATCHDOG), 1);
    rn_strbuf_free(&out);
    rn_watchdog_free(wd);
}

static void test_new_and_renewed_waits(void **state)
{
    struct rn_watchdog *wd = rn_watchdog_new(RN_SEC(10));
    struct rn_snapshot *s;
    struct rn_strbuf out = RN_STRBUF_INIT;
    uint32_t i;

    assert_non_null(wd);
    assert_int_equal(rn_watchdog_check_snapshot(wd, case_apache(), NULL), 3);

    /* A second chain appears: udp endpoint #9 waited for by a gone waiter.
     * Only its chain is reported. */
    s = case_apache();
    case_add_wait(s, 55, CASE_UDP, "close", CASE_NOW - RN_SEC(12));
    rn_snapshot_finish(s);
    assert_int_equal(rn_watchdog_check_snapshot(wd, s, &out), 1);
    assert_int_equal(capture_count(RN_REPORT_WATCHDOG), 2);
    assert_string_equal(rn_strbuf_str(&out),
                        "refnet watchdog: 1 wait pending for 10.0s or more\n"
                        "(waiter #55, gone)   close pending 12.0s\n"
                        "\u2514 udp endpoint 0.0.0.0:53  #9   live, refs 1\n"
                        "    port-table   1   held 2h10m   (expected while bound)\n"
                        "  verdict: no suspect holder: every holder is expected; the wait ends "
                        "when their work does\n");

    /* The socket's close ends (it is no longer in the snapshot's waits),
     * then begins again later: that is a new wait. */
    s = case_apache();
    for (i = 0; i < s->s_nwaits; i++)
        if (s->s_waits[i].sw_waiter == CASE_SOCKET)
            s->s_waits[i].sw_waited = 1000; /* another wait, not the old one */
    assert_int_equal(rn_watchdog_check_snapshot(wd, s, NULL), 1);
    s = case_apache();
    for (i = 0; i < s->s_nwaits; i++)
        if (s->s_waits[i].sw_waiter == CASE_SOCKET)
            s->s_waits[i].sw_since += RN_SEC(1);
    assert_int_equal(rn_watchdog_check_snapshot(wd, s, NULL), 1);
    assert_int_equal(capture_count(RN_REPORT_WATCHDOG), 4);
    rn_strbuf_free(&out);
    rn_watchdog_free(wd);
}

static void test_threshold_is_the_watchdogs(void **state)
{
    struct rn_watchdog *wd = rn_watchdog_new(RN_SEC(40));
    struct rn_snapshot *s = case_apache();

    (void)state;
    assert_non_null(wd);
    /* The snapshot says 10 s; the watchdog's 40 s rules. */
    assert_int_equal(rn_watchdog_check_snapshot(wd, s, NULL), 0);
    rn_watchdog_free(wd);
    rn_watchdog_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reports_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_and_renewed_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threshold_is_the_watchdogs, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
