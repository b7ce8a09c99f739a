/*
 * The shared basics: the timer heap's order and determinism, SipHash
 * against its published test vector, age formatting, JSON strings and
 * error names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/siphash.h"
#include "refnet/clock.h"
#include "refnet/error.h"
#include "refnet/strbuf.h"
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

static void test_siphash_vector(void **state)
{
    /* The reference vector of the SipHash paper (appendix A): key
     * 00..0f, message 00..0e. */
    const uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
    uint8_t msg[15];
    int i;

    (void)state;
    for (i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    assert_int_equal(rn_siphash(key, msg, sizeof(msg)), 0xa129ca6149be45e5ull);
    /* Empty input (first entry of the reference table). */
    assert_int_equal(rn_siphash(key, msg, 0), 0x726fdb47dd0e0e31ull);
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

static void test_strbuf_printf(void **state)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;

    (void)state;
    rn_strbuf_printf(&sb, "%d-%s", 7, "x");
    assert_string_equal(rn_strbuf_str(&sb), "7-x");
    rn_strbuf_free(&sb);
}

static void test_errors(void **state)
{
    (void)state;
    assert_string_equal(rn_strerror(RN_ECONNREFUSED), "connection refused");
    assert_string_equal(rn_err_name(RN_ECONNRESET), "CONNRESET");
    assert_int_equal(rn_err_to_errno(RN_ECONNRESET), ECONNRESET);
    assert_string_equal(rn_strerror(-1), "unknown error");
    assert_int_equal(rn_err_to_errno(12345), EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_order),
        cmocka_unit_test(test_timer_many),
        cmocka_unit_test(test_siphash_vector),
        cmocka_unit_test(test_fmt_age),
        cmocka_unit_test(test_strbuf_printf),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
