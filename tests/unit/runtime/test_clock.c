/*
 * Stamps (rn_clock_stamp()): the ticker publishes the default clock, a
 * stamp is never later than rn_clock_now() and keeps up with it, an
 * installed source is followed exactly, the ledger's first-hold stamps
 * come from it, and the child of a fork() stamps from the clock until its
 * first create starts a ticker of its own.  The ticker parks while
 * nothing stamps and resumes when something does.  And ages as reports
 * print them (rn_fmt_age()).
 */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "refnet/clock.h"
#include "refnet/object.h"
#include "support.h"

/* Generous on purpose: a shared 2-core machine may keep the ticker off a
 * CPU for a while.  A dead or stuck ticker lags without bound. */
#define MAX_LAG RN_SEC(1)

static const struct rn_ob_type_ops thing_ops = {.name = "clock thing", .size = 8};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Waits up to 3 s for the tick to pass `after`; returns the tick seen. */
static rn_time_t wait_tick_past(rn_time_t after)
{
    rn_time_t t = 0;
    int i;

    for (i = 0; i < 3000; i++) {
        t = rn_clock_tick();
        if (t > after)
            break;
        sleep_ms(1);
    }
    return t;
}

static void test_stamp_keeps_up(void **state)
{
    rn_time_t first, t, now, worst = 0;
    int i;

    (void)state;
    assert_int_equal(rn_clock_ticker_start(), 0);
    assert_int_equal(rn_clock_ticker_start(), 0);  /* idempotent */
    first = rn_clock_tick();
    assert_true(first != 0);
    /* It moves: several ticks pass in a fraction of a second. */
    assert_true(wait_tick_past(first + 2 * RN_CLOCK_TICK_NS) > first + 2 * RN_CLOCK_TICK_NS);
    for (i = 0; i < 100; i++) {
        t = rn_clock_stamp();
        now = rn_clock_now();
        assert_true(t <= now);  /* ages are never negative */
        if (now - t > worst)
            worst = now - t;
        sleep_ms(1);
    }
    assert_true(worst < MAX_LAG);
}

static void test_stamp_follows_source(void **state)
{
    (void)state;
    assert_int_equal(rn_clock_ticker_start(), 0);
    clock_manual_install(RN_SEC(5));
    assert_int_equal(rn_clock_tick(), 0);  /* the ticker does not apply */
    assert_int_equal(rn_clock_stamp(), RN_SEC(5));
    clock_manual_advance(7);
    assert_int_equal(rn_clock_stamp(), RN_SEC(5) + 7);
    clock_manual_uninstall();
    assert_true(wait_tick_past(0) != 0);
}

/* The published tick, read without counting as a use. */
static rn_time_t tick_unused(void)
{
    return atomic_load_explicit(&rn__clock_tick, memory_order_relaxed);
}

/* Nothing stamps for longer than RN_CLOCK_TICKER_IDLE_NS: the ticker
 * parks (publishes 0) and stamps read the clock; a stamp now and then
 * leaves it parked, and so do stamps every 20 ms (a slow ping-pong's), which
 * fall on fewer than RN_CLOCK_TICKER_PROBE_HITS of the ticks it watches
 * after a look; stamps in a steady stream bring it back. */
static void test_ticker_parks(void **state)
{
    rn_time_t t, now;
    int i;

    (void)state;
    assert_int_equal(rn_clock_ticker_start(), 0);
    assert_true(wait_tick_past(0) != 0);
    for (i = 0; i < 300 && tick_unused() != 0; i++)
        sleep_ms(10);
    assert_int_equal(tick_unused(), 0);
    /* A stamp now and then, as a watchdog's scans (1.2 s apart, so that
     * no two fall in consecutive looks even if the ticker is late): still
     * parked. */
    for (i = 0; i < 2; i++) {
        now = rn_clock_now();
        t = rn_clock_stamp();  /* read from the clock */
        assert_true(t >= now && t <= rn_clock_now());
        sleep_ms(1200);
        assert_int_equal(tick_unused(), 0);
    }
    /* A stamp every 20 ms for 1.5 s: six looks or so find stamps, and
     * their probes find them on 2 or 3 ticks of 10 (on 9 only if each
     * tick were late by 16 ms): still parked. */
    for (i = 0; i < 75; i++) {
        (void)rn_clock_stamp();
        sleep_ms(20);
        assert_int_equal(tick_unused(), 0);
    }
    /* A stamp every millisecond: ticking again within a look or two. */
    for (i = 0; i < 2000 && tick_unused() == 0; i++) {
        (void)rn_clock_stamp();
        sleep_ms(1);
    }
    assert_true(tick_unused() != 0);
    t = rn_clock_stamp();
    assert_true(t <= rn_clock_now() && rn_clock_now() - t < MAX_LAG);
}

/* The since of tag's line on ob; fails the test if it has none. */
static rn_time_t since_of(void *ob, rn_tag_t tag)
{
    struct rn_ob_ledger_entry e[4];
    size_t i, n = rn_ob_ledger(ob, e, 4);

    for (i = 0; i < n && e[i].tag != tag; i++)
        ;
    assert_true(i < n);
    return e[i].since;
}

/* A first hold is stamped from the tick on the fast path and from the
 * installed source in the simulator; either way its age is right. */
static void test_ledger_stamps(void **state)
{
    struct rn_ob_type *type = rn_ob_type_register(&thing_ops);
    rn_tag_t tag = rn_tag_intern("clock.holder");
    rn_time_t before, since;
    void *ob;

    (void)state;
    ob = rn_ob_create(type, RN_TAG_CREATE);
    assert_non_null(ob);
    /* Give the holder a line, then let it fall idle: its next ref takes
     * the fast path and stamps. */
    assert_int_equal(rn_ob_ref(ob, tag), 0);
    assert_int_equal(rn_ob_deref(ob, tag), 0);
    wait_tick_past(rn_clock_tick());
    before = rn_clock_now();
    assert_int_equal(rn_ob_ref(ob, tag), 0);
    since = since_of(ob, tag);
    assert_true(since <= rn_clock_now());
    assert_true(since + MAX_LAG > before);
    assert_int_equal(rn_ob_deref(ob, tag), 0);

    clock_manual_install(RN_SEC(100));
    assert_int_equal(rn_ob_ref(ob, tag), 0);
    assert_int_equal(since_of(ob, tag), RN_SEC(100));
    assert_int_equal(rn_ob_deref(ob, tag), 0);
    clock_manual_uninstall();

    rn_ob_kill(ob);
    rn_ob_drain();
    check_live_objects(0);
}

/* The child of a fork() has no ticker: its stamps read the clock (a tick
 * frozen at the fork would make every age grow from then on) until its
 * first create starts one. */
static void test_stamp_after_fork(void **state)
{
    struct rn_ob_type *type = rn_ob_type_register(&thing_ops);
    pid_t pid;
    int status;

    (void)state;
    assert_int_equal(rn_clock_ticker_start(), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        rn_time_t t, now;
        void *ob;

        if (rn_clock_tick() != 0)
            _exit(10);
        /* A tick frozen at the fork would now lag by 200 ms. */
        sleep_ms(200);
        t = rn_clock_stamp();
        now = rn_clock_now();
        if (t > now || now - t > RN_MSEC(100))
            _exit(11);
        ob = rn_ob_create(type, RN_TAG_CREATE);
        if (ob == NULL)
            _exit(12);
        t = rn_clock_tick();
        if (t == 0 || wait_tick_past(t) <= t)
            _exit(13);
        rn_ob_kill(ob);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_fmt_age(void **state)
{
    char b[32];

    (void)state;
    assert_string_equal(rn_fmt_age(RN_MSEC(850), b, sizeof(b)), "850ms");
    assert_string_equal(rn_fmt_age(RN_MSEC(31200), b, sizeof(b)), "31.2s");
    assert_string_equal(rn_fmt_age(RN_SEC(245), b, sizeof(b)), "4m05s");
    assert_string_equal(rn_fmt_age(RN_SEC(7800), b, sizeof(b)), "2h10m");
    assert_string_equal(rn_fmt_age(RN_SEC(3 * 86400 + 4 * 3600), b, sizeof(b)), "3d04h");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamp_keeps_up),
        cmocka_unit_test(test_stamp_follows_source),
        cmocka_unit_test(test_ticker_parks),
        cmocka_unit_test(test_ledger_stamps),
        cmocka_unit_test(test_stamp_after_fork),
        cmocka_unit_test(test_fmt_age),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
