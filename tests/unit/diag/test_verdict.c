/*
 * The verdict engine (verdict.c): each rule of the table, as a reader of a
 * chain sees it, and the verdict line at the bottom of a chain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diag/diag_priv.h"
#include "helper_case.h"
#include "refnet/error.h"

#define NOW CASE_NOW

/* Judges one tag held count 1 since `since` on an object in `state`,
 * killed at `killed`, with the snapshot's threshold `threshold`. */
static struct rn__verdict judge(const char *tag, enum rn_ob_state state, rn_time_t since,
                                rn_time_t killed, rn_time_t threshold)
{
    struct rn_snapshot *s = rn_snapshot_new();
    struct rn_snap_object *o;
    struct rn__verdict v;

    assert_non_null(s);
    s->s_now = NOW;
    s->s_threshold = threshold;
    o = case_add_object(s, 1, "thing", "thing", state, 0, killed);
    case_add_tag(s, o, tag, 1, since, NULL);
    rn_snapshot_finish(s);
    rn__verdict_judge(s, &s->s_objects[0], &v);
    rn_snapshot_free(s);
    return v;
}

#define assert_verdict(v, cls, reason)                 \
    do {                                               \
        assert_int_equal((v).v_class, (cls));          \
        assert_non_null(strstr((v).v_reason, reason)); \
    } while (0)

static void test_enum_bound(void **state)
{
    struct rn__verdict v;

    (void)state;
    v = judge("enum", RN_OB_LIVE, NOW - RN_MSEC(400), 0, RN_SEC(10));
    assert_verdict(v, RN__VERDICT_EXPECTED, "enumeration");
    v = judge("enum", RN_OB_LIVE, NOW - RN_SEC(1), 0, RN_SEC(10));
    assert_int_equal(v.v_class, RN__VERDICT_EXPECTED);
    v = judge("enum", RN_OB_LIVE, NOW - RN_MSEC(1100), 0, RN_SEC(10));
    assert_verdict(v, RN__VERDICT_SUSPECT, "holds past its bound (1.0s)");
    v = judge("enum", RN_OB_DYING, NOW - RN_SEC(30), NOW - RN_SEC(5), RN_SEC(10));
    assert_verdict(v, RN__VERDICT_SUSPECT, "leaked");
}

static void test_port_table(void **state)
{
    struct rn__verdict v;

    (void)state;
    v = judge("port-table", RN_OB_LIVE, NOW - RN_SEC(7200), 0, RN_SEC(10));
    assert_verdict(v, RN__VERDICT_EXPECTED, "expected while bound");
    /* Dying: it has the threshold to let go after rundown began. */
    v = judge("port-table", RN_OB_DYING, NOW - RN_SEC(7200), NOW - RN_SEC(3), RN_SEC(10));
    assert_int_equal(v.v_class, RN__VERDICT_EXPECTED);
    v = judge("port-table", RN_OB_DYING, NOW - RN_SEC(7200), NOW - RN_SEC(11), RN_SEC(10));
    assert_verdict(v, RN__VERDICT_SUSPECT, "port table after rundown began");
}

static void test_create(void **state)
{
    struct rn__verdict v;

    (void)state;
    v = judge("create", RN_OB_LIVE, NOW - RN_SEC(7200), 0, RN_SEC(10));
    assert_verdict(v, RN__VERDICT_EXPECTED, "creator");
    v = judge("create", RN_OB_DYING, NOW - RN_SEC(7200), NOW - RN_SEC(1), RN_SEC(10));
    assert_verdict(v, RN__VERDICT_SUSPECT, "ledger is inconsistent");
}

static void test_callout(void **state)
{
    struct rn__verdict v;

    (void)state;
    v = judge("callout:acme-av", RN_OB_LIVE, NOW - RN_SEC(60), 0, RN_SEC(10));
    assert_verdict(v, RN__VERDICT_EXPECTED, "flow lives");
    v = judge("callout:acme-av", RN_OB_DYING, NOW - RN_SEC(60), NOW - RN_SEC(1), RN_SEC(10));
    assert_verdict(v, RN__VERDICT_SUSPECT, "callout hold after its flow ended");
    /* "callout:" alone is not a callout's name. */
    v = judge("callout:", RN_OB_LIVE, NOW - RN_SEC(60), 0, RN_SEC(10));
    assert_int_equal(v.v_class, RN__VERDICT_NO_RULE);
}

static void test_always_expected(void **state)
{
    static const char *const tags[] = {"handle", "socket.endpoint", "request", "tcp.timer"};
    struct rn__verdict v;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        v = judge(tags[i], RN_OB_LIVE, NOW - RN_SEC(600), 0, RN_SEC(10));
        assert_verdict(v, RN__VERDICT_EXPECTED, "expected");
        v = judge(tags[i], RN_OB_DYING, NOW - RN_SEC(600), NOW - RN_SEC(300), RN_SEC(10));
        assert_verdict(v, RN__VERDICT_EXPECTED, "expected");
    }
}

static void test_unknown_tags(void **state)
{
    struct rn__verdict v;

    (void)state;
    v = judge("frobnicator", RN_OB_LIVE, NOW - RN_SEC(600), 0, RN_SEC(10));
    assert_verdict(v, RN__VERDICT_NO_RULE, "no rule");
    v = judge("frobnicator", RN_OB_DYING, NOW - RN_SEC(600), NOW - RN_SEC(2), RN_SEC(10));
    assert_int_equal(v.v_class, RN__VERDICT_EXPECTED);
    v = judge("frobnicator", RN_OB_DYING, NOW - RN_SEC(600), NOW - RN_SEC(20), RN_SEC(10));
    assert_verdict(v, RN__VERDICT_SUSPECT, "holder with no matching pending work");
    /* A hold taken after the kill counts from when it was taken. */
    v = judge("frobnicator", RN_OB_DYING, NOW - RN_SEC(5), NOW - RN_SEC(20), RN_SEC(10));
    assert_int_equal(v.v_class, RN__VERDICT_EXPECTED);
    /* Without a threshold in the snapshot the grace is the default. */
    v = judge("frobnicator", RN_OB_DYING, NOW - RN_SEC(600), NOW - RN_SEC(9), 0);
    assert_int_equal(v.v_class, RN__VERDICT_EXPECTED);
    v = judge("frobnicator", RN_OB_DYING, NOW - RN_SEC(600), NOW - RN_SEC(11), 0);
    assert_int_equal(v.v_class, RN__VERDICT_SUSPECT);
}

/* Traced holds date an enumeration exactly when the ledger's since does
 * not: overlapping enumerations keep the count from falling to zero. */
static void test_traced_holds_date_the_tag(void **state)
{
    struct rn_snapshot *s = rn_snapshot_new();
    struct rn_snap_object *o;
    struct rn__verdict v;

    (void)state;
    assert_non_null(s);
    s->s_now = NOW;
    o = case_add_object(s, 1, "thing", "thing", RN_OB_LIVE, 0, 0);
    o->so_traced = true;
    case_add_tag(s, o, "enum", 2, NOW - RN_SEC(30), NULL);
    case_add_hold(s, o, "enum", RN_SNAP_NO_STACK, 1, NOW - RN_MSEC(200));
    case_add_hold(s, o, "enum", RN_SNAP_NO_STACK, 1, NOW - RN_MSEC(100));
    rn_snapshot_finish(s);
    rn__verdict_judge(s, &s->s_objects[0], &v);
    assert_int_equal(v.v_class, RN__VERDICT_EXPECTED);
    rn_snapshot_free(s);
}

static char *chain_of(const char *tag1, const char *tag2, enum rn_ob_state state)
{
    struct rn_snapshot *s = rn_snapshot_new();
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct rn_snap_object *o;

    assert_non_null(s);
    s->s_now = NOW;
    s->s_threshold = RN_SEC(10);
    o = case_add_object(s, 1, "thing", "thing a", RN_OB_LIVE, 0, 0);
    case_add_tag(s, o, "create", 1, 0, NULL);
    o = case_add_object(s, 2, "thing", "thing b", state,
                        0, state == RN_OB_DYING ? NOW - RN_SEC(60) : 0);
    case_add_tag(s, o, tag1, 1, NOW - RN_SEC(120), NULL);
    if (tag2 != NULL)
        case_add_tag(s, o, tag2, 1, NOW - RN_SEC(120), NULL);
    case_add_wait(s, 1, 2, "close", NOW - RN_SEC(60));
    rn_snapshot_finish(s);
    assert_int_equal(rn_diag_render_chains(s, RN_SEC(10), &sb), 1);
    rn_snapshot_free(s);
    return rn_strbuf_detach(&sb);
}

static void test_verdict_lines(void **state)
{
    char *t;

    (void)state;
    t = chain_of("enum", "callout:acme-av", RN_OB_DYING);
    assert_non_null(strstr(t, "verdict: 'enum' holds past its bound (1.0s) with no enumeration "
                              "running \u2014 leaked; 'callout:acme-av' callout hold after its "
                              "flow ended\n"));
    free(t);
    t = chain_of("handle", "port-table", RN_OB_LIVE);
    assert_non_null(strstr(t, "(expected while a handle is open; its cleanup drops it)\n"));
    assert_non_null(strstr(t, "verdict: no suspect holder: every holder is expected"));
    free(t);
    t = chain_of("handle", "frobnicator", RN_OB_LIVE);
    assert_non_null(strstr(t, "frobnicator  1   held 2m00s   (no rule for this holder)\n"));
    assert_non_null(strstr(t, "verdict: no suspect holder: no rule covers 'frobnicator'; "
                              "the others are expected\n"));
    free(t);
}

/* rn_diag_verdict(): the holders as the chain judges them, and the
 * verdict line in the chain's words. */
struct judged {
    char tags[4][32];
    enum rn_diag_class classes[4];
    int n;
};

static void note_holder(const struct rn_diag_holder *h, void *ctx)
{
    struct judged *j = ctx;

    assert_true(j->n < 4);
    snprintf(j->tags[j->n], sizeof(j->tags[j->n]), "%s", h->dh_tag);
    j->classes[j->n++] = h->dh_class;
    assert_non_null(h->dh_reason);
}

static void test_public_verdict(void **state)
{
    struct rn_snapshot *s = case_apache();
    struct rn_strbuf line = RN_STRBUF_INIT, chains = RN_STRBUF_INIT, want = RN_STRBUF_INIT;
    struct judged j = {.n = 0};
    int i, seen = 0;

    (void)state;
    assert_int_equal(rn_diag_verdict(s, CASE_LISTENER, note_holder, &j, &line), 0);
    for (i = 0; i < j.n; i++) {
        if (strcmp(j.tags[i], "enum") == 0)
            assert_int_equal(j.classes[i], RN_DIAG_SUSPECT), seen |= 1;
        if (strcmp(j.tags[i], "port-table") == 0)
            assert_int_equal(j.classes[i], RN_DIAG_EXPECTED), seen |= 2;
    }
    assert_int_equal(seen, 3);
    assert_true(rn_diag_render_chains(s, 0, &chains) > 0);
    rn_strbuf_printf(&want, "verdict: %s\n", rn_strbuf_str(&line));
    assert_non_null(strstr(rn_strbuf_str(&chains), rn_strbuf_str(&want)));
    assert_int_equal(rn_diag_verdict(s, 12345, NULL, NULL, NULL), RN_ENOENT);
    rn_strbuf_free(&line);
    rn_strbuf_free(&chains);
    rn_strbuf_free(&want);
    rn_snapshot_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enum_bound),
        cmocka_unit_test(test_port_table),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_callout),
        cmocka_unit_test(test_always_expected),
        cmocka_unit_test(test_unknown_tags),
        cmocka_unit_test(test_traced_holds_date_the_tag),
        cmocka_unit_test(test_verdict_lines),
        cmocka_unit_test(test_public_verdict),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
