/*
 * Rendering of objects and waiting chains (diag.h): the case of DESIGN.md
 * line by line, thresholds, chains through one object, waiters that are
 * gone, branches, shared blockers, cycles, very deep chains, hostile text,
 * and independence from the order waits were recorded in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_case.h"
#include "refnet/diag.h"
#include "refnet/error.h"

/* The chain of the case, exactly as the watchdog and `refnet analyze`
 * print it. */
static const char case_chain[] =
    "service httpd STOP_PENDING  #1   stop pending 31.2s\n"
    "\u2514 process httpd terminating, 1 of 3 handle cleanups pending  #2   cleanup pending 31.2s\n"
    "  \u2514 socket #7  #3                close pending 31.2s\n"
    "    \u2514 tcp listener 0.0.0.0:80  #4   live, refs 2, traced\n"
    "        enum         1   held 31.2s   at tl_enum_next+0x4c <- ctl_netstat+0x1a2 <- "
    "ctl_dispatch+0x88 <- loop_run+0x310\n"
    "        port-table   1   held 2h10m   (expected while bound)\n"
    "        1 hold taken before tracing was armed (no stack)\n"
    "      verdict: 'enum' holds past its bound (1.0s) with no enumeration running \u2014 leaked\n";

static char *render_chains(const struct rn_snapshot *s, rn_time_t threshold, int *n)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;

    *n = rn_diag_render_chains(s, threshold, &sb);
    return rn_strbuf_detach(&sb);
}

static void test_case_chain(void **state)
{
    struct rn_snapshot *s = case_apache();
    char *text;
    int n;

    (void)state;
    text = render_chains(s, RN_SEC(10), &n);
    assert_int_equal(n, 1);
    assert_string_equal(text, case_chain);
    /* What a person at 3am looks for. */
    assert_non_null(strstr(text, "enum         1   held 31.2s   at tl_enum_next+0x4c <- ctl_netstat"));
    assert_non_null(strstr(text, "port-table   1   held 2h10m   (expected while bound)"));
    assert_non_null(strstr(text, "verdict: 'enum' holds past its bound"));
    assert_null(strstr(text, "udp endpoint"));
    free(text);
    rn_snapshot_free(s);
}

static void test_threshold(void **state)
{
    struct rn_snapshot *s = case_apache();
    char *text;
    int n;

    (void)state;
    text = render_chains(s, RN_SEC(40), &n);
    assert_int_equal(n, 0);
    assert_string_equal(text, "");
    free(text);
    text = render_chains(s, CASE_STUCK, &n);
    assert_int_equal(n, 1);
    assert_string_equal(text, case_chain);
    free(text);
    text = render_chains(s, 0, &n);
    assert_int_equal(n, 1);
    assert_string_equal(text, case_chain);
    free(text);
    rn_snapshot_free(s);
}

static void test_object_alone(void **state)
{
    struct rn_snapshot *s = case_apache();
    struct rn_strbuf sb = RN_STRBUF_INIT;

    (void)state;
    rn_diag_render_object(s, rn_snapshot_find(s, CASE_LISTENER), 2, &sb);
    assert_string_equal(rn_strbuf_str(&sb),
                        "  tcp listener 0.0.0.0:80  #4   live, refs 2, traced\n"
                        "    enum         1   held 31.2s   at tl_enum_next+0x4c <- "
                        "ctl_netstat+0x1a2 <- ctl_dispatch+0x88 <- loop_run+0x310\n"
                        "    port-table   1   held 2h10m\n"
                        "    1 hold taken before tracing was armed (no stack)\n");
    rn_strbuf_reset(&sb);
    rn_diag_render_object(s, rn_snapshot_find(s, CASE_SOCKET), 0, &sb);
    assert_string_equal(rn_strbuf_str(&sb),
                        "socket #7  #3   dying 31.2s, refs 1\n"
                        "  handle       1   held 2h10m   last ref handle_insert (handle.c:88)\n");
    rn_strbuf_free(&sb);
    rn_snapshot_free(s);
}

static void test_render_for(void **state)
{
    struct rn_snapshot *s = case_apache();
    struct rn_strbuf sb = RN_STRBUF_INIT;

    (void)state;
    /* Every object of the chain leads to the same chain. */
    assert_int_equal(rn_diag_render_for(s, CASE_LISTENER, &sb), 1);
    assert_string_equal(rn_strbuf_str(&sb), case_chain);
    rn_strbuf_reset(&sb);
    assert_int_equal(rn_diag_render_for(s, CASE_PROCESS, &sb), 1);
    assert_string_equal(rn_strbuf_str(&sb), case_chain);
    rn_strbuf_reset(&sb);
    /* An object in no wait is printed alone, with its verdict. */
    assert_int_equal(rn_diag_render_for(s, CASE_UDP, &sb), 0);
    assert_string_equal(rn_strbuf_str(&sb), "udp endpoint 0.0.0.0:53  #9   live, refs 1\n"
                                            "  port-table   1   held 2h10m   (expected while "
                                            "bound)\n"
                                            "  verdict: no suspect holder: every holder is "
                                            "expected\n");
    rn_strbuf_reset(&sb);
    assert_int_equal(rn_diag_render_for(s, 12345, &sb), RN_ENOENT);
    assert_string_equal(rn_strbuf_str(&sb), "");
    rn_strbuf_free(&sb);
    rn_snapshot_free(s);
}

/* A snapshot of n objects, no waits, at the case's clock. */
static struct rn_snapshot *snap_new(void)
{
    struct rn_snapshot *s = rn_snapshot_new();

    assert_non_null(s);
    s->s_now = CASE_NOW;
    s->s_threshold = RN_SEC(10);
    return s;
}

static void add_plain(struct rn_snapshot *s, uint64_t id, const char *desc, const char *tag)
{
    struct rn_snap_object *o =
        case_add_object(s, id, "thing", desc, RN_OB_DYING, 0, CASE_NOW - RN_SEC(20));

    case_add_tag(s, o, tag, 1, CASE_NOW - RN_SEC(100), NULL);
}

static void test_gone_and_anonymous(void **state)
{
    struct rn_snapshot *s = snap_new();
    char *text;
    int n;

    (void)state;
    add_plain(s, 5, "socket #5", "request");
    /* Waiter #42 is gone; an anonymous waiter; waited #77 is gone. */
    case_add_wait(s, 42, 5, "close", CASE_NOW - RN_SEC(20));
    case_add_wait(s, 0, 5, "drain", CASE_NOW - RN_SEC(30));
    case_add_wait(s, 5, 77, "flush", CASE_NOW - RN_SEC(25));
    rn_snapshot_finish(s);
    text = render_chains(s, RN_SEC(10), &n);
    assert_int_equal(n, 2);
    assert_string_equal(text,
                        "(no waiter object)   drain pending 30.0s\n"
                        "\u2514 socket #5          flush pending 25.0s\n"
                        "  \u2514 (#77, gone: released after the wait was taken)\n"
                        "(waiter #42, gone)   close pending 20.0s\n"
                        "\u2514 socket #5          (shown above)\n");
    free(text);
    rn_snapshot_free(s);
}

static void test_branches(void **state)
{
    struct rn_snapshot *s = snap_new();
    rn_time_t t = CASE_NOW - RN_SEC(15);
    char *text;
    int n;

    (void)state;
    add_plain(s, 1, "process p", "service");
    add_plain(s, 2, "socket #2", "handle");
    add_plain(s, 3, "socket #3", "handle");
    add_plain(s, 4, "tcp conn a", "callout:acme-av");
    add_plain(s, 5, "tcp conn b", "tcp.timer");
    case_add_wait(s, 1, 2, "cleanup", t);
    case_add_wait(s, 1, 3, "cleanup", t);
    case_add_wait(s, 2, 4, "close", t);
    case_add_wait(s, 3, 5, "close", t);
    rn_snapshot_finish(s);
    text = render_chains(s, RN_SEC(10), &n);
    assert_int_equal(n, 1);
    assert_string_equal(
        text,
        "process p  #1   cleanup pending 15.0s x2\n"
        "\u251c socket #2     close pending 15.0s\n"
        "\u2502 \u2514 tcp conn a  #4   dying 20.0s, refs 1\n"
        "\u2502     callout:acme-av 1   held 1m40s\n"
        "\u2502   verdict: 'callout:acme-av' callout hold after its flow ended\n"
        "\u2514 socket #3     close pending 15.0s\n"
        "  \u2514 tcp conn b  #5   dying 20.0s, refs 1\n"
        "      tcp.timer    1   held 1m40s   (expected while a TCP timer is armed)\n"
        "    verdict: no suspect holder: every holder is expected; the wait ends when their "
        "work does\n");
    free(text);
    rn_snapshot_free(s);
}

static void test_young_outer_wait_is_context(void **state)
{
    struct rn_snapshot *s = snap_new();
    char *text;
    int n;

    (void)state;
    add_plain(s, 1, "service s", "create");
    add_plain(s, 2, "socket #2", "enum");
    add_plain(s, 3, "socket #3", "handle");
    /* The outer wait is young, the inner one old: the chain starts at the
     * outermost waiter all the same. */
    case_add_wait(s, 1, 2, "stop", CASE_NOW - RN_SEC(1));
    case_add_wait(s, 2, 3, "close", CASE_NOW - RN_SEC(60));
    /* A young chain of its own is left out. */
    case_add_wait(s, 3, 2, "nothing", CASE_NOW);
    rn_snapshot_finish(s);
    text = render_chains(s, RN_SEC(10), &n);
    assert_true(n >= 1);
    assert_true(strncmp(text, "service s  #1", 13) == 0);
    assert_non_null(strstr(text, "stop pending 1.0s"));
    assert_non_null(strstr(text, "close pending 1m00s"));
    free(text);
    rn_snapshot_free(s);
}

static void test_cycle_terminates(void **state)
{
    struct rn_snapshot *s = snap_new();
    char *text;
    int n;

    (void)state;
    add_plain(s, 1, "a", "x");
    add_plain(s, 2, "b", "y");
    add_plain(s, 3, "c", "z");
    case_add_wait(s, 1, 2, "w", CASE_NOW - RN_SEC(50));
    case_add_wait(s, 2, 3, "w", CASE_NOW - RN_SEC(40));
    case_add_wait(s, 3, 1, "w", CASE_NOW - RN_SEC(30));
    rn_snapshot_finish(s);
    text = render_chains(s, RN_SEC(10), &n);
    assert_int_equal(n, 1);
    assert_string_equal(text, "a  #1       w pending 50.0s\n"
                              "\u2514 b  #2     w pending 40.0s\n"
                              "  \u2514 c  #3   w pending 30.0s\n"
                              "    \u2514 a  #1   (cycle: already above in this chain)\n");
    free(text);
    rn_snapshot_free(s);
}

static void test_deep_chain_is_cut(void **state)
{
    struct rn_snapshot *s = snap_new();
    const uint32_t depth = 20000;
    char *text;
    uint32_t i;
    int n;

    (void)state;
    for (i = 1; i <= depth; i++)
        add_plain(s, i, "link", "x");
    for (i = 1; i < depth; i++)
        case_add_wait(s, i, i + 1, "w", CASE_NOW - RN_SEC(30));
    rn_snapshot_finish(s);
    text = render_chains(s, RN_SEC(10), &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(text, "(chain continues; cut at 64 levels)"));
    assert_true(strlen(text) < 64 * 200);
    free(text);
    rn_snapshot_free(s);
}

static void test_hostile_text_is_escaped(void **state)
{
    struct rn_snapshot *s = snap_new();
    struct rn_strbuf sb = RN_STRBUF_INIT;
    const char *out;

    (void)state;
    add_plain(s, 1, "evil\x1b[2J\nverdict: fake \xc2\x9b\xe2\x80\xae ok \xff\xc3\xa9", "t\tag");
    rn_snapshot_finish(s);
    rn_diag_render_object(s, &s->s_objects[0], 0, &sb);
    out = rn_strbuf_str(&sb);
    assert_null(strchr(out, '\x1b'));
    assert_null(strstr(out, "\xc2\x9b"));
    assert_null(strstr(out, "\xe2\x80\xae"));
    assert_null(strchr(out, '\t'));
    assert_non_null(strstr(out, "evil\\x1b[2J\\x0averdict: fake \\xc2\\x9b\\xe2\\x80\\xae ok "
                                "\\xff\xc3\xa9  #1"));
    /* Exactly two lines: the header and the ledger line. */
    assert_non_null(strchr(out, '\n'));
    assert_null(strchr(strchr(strchr(out, '\n') + 1, '\n') + 1, '\n'));
    rn_strbuf_free(&sb);
    rn_snapshot_free(s);
}

static void test_order_of_recording_does_not_matter(void **state)
{
    struct rn_snapshot *a = snap_new(), *b = snap_new();
    char *ta, *tb;
    int i, na, nb;

    (void)state;
    for (i = 1; i <= 6; i++) {
        add_plain(a, (uint64_t)i, "o", "x");
        add_plain(b, (uint64_t)(7 - i), "o", "x");
    }
    /* Same waits, recorded in opposite orders, some with equal since. */
    for (i = 0; i < 5; i++)
        case_add_wait(a, (uint64_t)(i % 3) + 1, (uint64_t)i + 2, i % 2 ? "x" : "y",
                      CASE_NOW - RN_SEC(20 + i % 2));
    for (i = 4; i >= 0; i--)
        case_add_wait(b, (uint64_t)(i % 3) + 1, (uint64_t)i + 2, i % 2 ? "x" : "y",
                      CASE_NOW - RN_SEC(20 + i % 2));
    rn_snapshot_finish(a);
    rn_snapshot_finish(b);
    ta = render_chains(a, 0, &na);
    tb = render_chains(b, 0, &nb);
    assert_int_equal(na, nb);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
    rn_snapshot_free(a);
    rn_snapshot_free(b);
}

static void test_holds_by_stack(void **state)
{
    static const char *const f1[] = {"a+0x1", "b+0x2"};
    static const char *const f2[] = {"c+0x3"};
    struct rn_snapshot *s = snap_new();
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct rn_snap_object *o;
    uint32_t s1, s2;

    (void)state;
    s1 = case_add_stack(s, 2, f1);
    s2 = case_add_stack(s, 1, f2);
    o = case_add_object(s, 8, "tcp conn", "tcp conn 198.18.0.2:80", RN_OB_LIVE, 0, 0);
    o->so_traced = true;
    case_add_tag(s, o, "request", 3, CASE_NOW - RN_SEC(5), "req_start (req.c:10)");
    case_add_hold(s, o, "request", s1, 2, CASE_NOW - RN_SEC(5));
    case_add_hold(s, o, "request", s2, 1, CASE_NOW - RN_MSEC(300));
    case_add_tag(s, o, "lookup", 2, CASE_NOW - RN_SEC(2), NULL);
    case_add_hold(s, o, "lookup", RN_SNAP_NO_STACK, 1, CASE_NOW - RN_SEC(2));
    o->so_untraced = 2;
    rn_snapshot_finish(s);
    rn_diag_render_object(s, &s->s_objects[0], 0, &sb);
    assert_string_equal(rn_strbuf_str(&sb),
                        "tcp conn 198.18.0.2:80  #8   live, refs 5, traced\n"
                        "  request      3   held 5.0s   last ref req_start (req.c:10)\n"
                        "      2 held 5.0s   at a+0x1 <- b+0x2\n"
                        "      1 held 300ms   at c+0x3\n"
                        "  lookup       2   held 2.0s\n"
                        "      1 held 2.0s   at (no stack recorded)\n"
                        "  2 holds taken before tracing was armed (no stack)\n");
    rn_strbuf_free(&sb);
    rn_snapshot_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_chain),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_object_alone),
        cmocka_unit_test(test_render_for),
        cmocka_unit_test(test_gone_and_anonymous),
        cmocka_unit_test(test_branches),
        cmocka_unit_test(test_young_outer_wait_is_context),
        cmocka_unit_test(test_cycle_terminates),
        cmocka_unit_test(test_deep_chain_is_cut),
        cmocka_unit_test(test_hostile_text_is_escaped),
        cmocka_unit_test(test_order_of_recording_does_not_matter),
        cmocka_unit_test(test_holds_by_stack),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
