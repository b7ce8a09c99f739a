/*
 * The verdict rules that read more than one ledger line (verdict.c): an
 * "enum" hold judged against the enumerations running in the snapshot, a
 * "socket.endpoint" hold against the socket's own close wait; and the
 * holders of accepts in flight ("tcp.conn", "listener"), of a service on
 * its process ("service"), the one-call holders ("lookup", "loop"), and
 * holders the ledger could not record ("unrecorded").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diag/diag_priv.h"
#include "helper_case.h"

#define NOW CASE_NOW

/* A snapshot with the judged object #1 (one tag held since `since`) and
 * room for more; finish with judge_finish(). */
static struct rn_snapshot *snap(const char *tag, enum rn_ob_state state, rn_time_t since,
                                rn_time_t killed)
{
    struct rn_snapshot *s = rn_snapshot_new();
    struct rn_snap_object *o;

    assert_non_null(s);
    s->s_now = NOW;
    s->s_threshold = RN_SEC(10);
    o = case_add_object(s, 1, "tcp listener", "tcp listener 0.0.0.0:80", state, 0, killed);
    case_add_tag(s, o, tag, 1, since, NULL);
    return s;
}

static struct rn__verdict judge_finish(struct rn_snapshot *s)
{
    struct rn__verdict v;

    rn_snapshot_finish(s);
    rn__verdict_judge(s, rn_snapshot_find(s, 1), &v);
    rn_snapshot_free(s);
    return v;
}

#define assert_verdict(v, cls, reason)                                         \
    do {                                                                       \
        if ((v).v_class != (cls) || strstr((v).v_reason, reason) == NULL)      \
            fail_msg("verdict %d '%s', want %d '%s'", (v).v_class, (v).v_reason, \
                     (cls), (reason));                                         \
    } while (0)

static void test_enum_and_running_enumerations(void **state)
{
    struct rn_snapshot *s;
    struct rn_snap_object *e;
    struct rn__verdict v;

    (void)state;
    /* No enumeration object at all: leaked. */
    s = snap("enum", RN_OB_DYING, NOW - RN_SEC(9), NOW - RN_SEC(5));
    v = judge_finish(s);
    assert_verdict(v, RN__VERDICT_SUSPECT, "with no enumeration running");

    /* One that began after the hold cannot own it: still leaked. */
    s = snap("enum", RN_OB_DYING, NOW - RN_SEC(9), NOW - RN_SEC(5));
    e = case_add_object(s, 7, "enumeration", "enumeration netstat -a", RN_OB_LIVE,
                        NOW - RN_MSEC(20), 0);
    case_add_tag(s, e, "create", 1, NOW - RN_MSEC(20), NULL);
    v = judge_finish(s);
    assert_verdict(v, RN__VERDICT_SUSPECT, "with no enumeration running");

    /* One running since before: it is stalled, or lost the hold. */
    s = snap("enum", RN_OB_LIVE, NOW - RN_SEC(9), 0);
    e = case_add_object(s, 7, "enumeration", "enumeration netstat -a", RN_OB_LIVE,
                        NOW - RN_SEC(12), 0);
    case_add_tag(s, e, "create", 1, NOW - RN_SEC(12), NULL);
    v = judge_finish(s);
    assert_verdict(v, RN__VERDICT_SUSPECT, "while enumeration #7 runs: it is stalled");

    /* Within the bound, with or without one: expected. */
    s = snap("enum", RN_OB_LIVE, NOW - RN_MSEC(300), 0);
    v = judge_finish(s);
    assert_verdict(v, RN__VERDICT_EXPECTED, "enumeration steps over it");
}

static void test_accept_in_flight(void **state)
{
    struct rn__verdict v;

    (void)state;
    v = judge_finish(snap("tcp.conn", RN_OB_LIVE, NOW - RN_SEC(60), 0));
    assert_verdict(v, RN__VERDICT_EXPECTED, "an accept in flight");
    v = judge_finish(snap("tcp.conn", RN_OB_DYING, NOW - RN_SEC(60), NOW - RN_SEC(2)));
    assert_verdict(v, RN__VERDICT_EXPECTED, "rundown began recently");
    v = judge_finish(snap("tcp.conn", RN_OB_DYING, NOW - RN_SEC(60), NOW - RN_SEC(30)));
    assert_verdict(v, RN__VERDICT_SUSPECT, "a queued connection still holds a closed listener");
    v = judge_finish(snap("listener", RN_OB_LIVE, NOW - RN_SEC(60), 0));
    assert_verdict(v, RN__VERDICT_EXPECTED, "queued on its listener until accepted");
    v = judge_finish(snap("listener", RN_OB_DYING, NOW - RN_SEC(60), NOW - RN_SEC(30)));
    assert_verdict(v, RN__VERDICT_SUSPECT, "still queued on a listener");
}

static void test_service_and_one_call_holds(void **state)
{
    struct rn__verdict v;

    (void)state;
    v = judge_finish(snap("service", RN_OB_LIVE, NOW - RN_SEC(3600), 0));
    assert_verdict(v, RN__VERDICT_EXPECTED, "while the service runs");
    v = judge_finish(snap("service", RN_OB_DYING, NOW - RN_SEC(3600), NOW - RN_SEC(30)));
    assert_verdict(v, RN__VERDICT_SUSPECT, "the service's hold outlived its stop");
    v = judge_finish(snap("lookup", RN_OB_LIVE, NOW - RN_MSEC(10), 0));
    assert_verdict(v, RN__VERDICT_EXPECTED, "one call");
    v = judge_finish(snap("lookup", RN_OB_LIVE, NOW - RN_SEC(5), 0));
    assert_verdict(v, RN__VERDICT_SUSPECT, "a lookup's hold outlived its call");
    v = judge_finish(snap("loop", RN_OB_DYING, NOW - RN_SEC(5), NOW - RN_SEC(1)));
    assert_verdict(v, RN__VERDICT_SUSPECT, "a callback's hold outlived it");
}

/* References counted on the ledger's reserve line: their holders are
 * unknown, which the verdict says rather than guessing. */
static void test_unrecorded_holders(void **state)
{
    struct rn__verdict v;

    (void)state;
    v = judge_finish(snap("unrecorded", RN_OB_LIVE, NOW - RN_SEC(60), 0));
    assert_verdict(v, RN__VERDICT_NO_RULE, "memory ran out");
    v = judge_finish(snap("unrecorded", RN_OB_DYING, NOW - RN_SEC(60), NOW - RN_SEC(30)));
    assert_verdict(v, RN__VERDICT_SUSPECT, "one of them keeps it");
}

static void test_endpoint_after_its_close(void **state)
{
    struct rn_snapshot *s;
    struct rn__verdict v;

    (void)state;
    /* The socket waits for the object (its close began 30 s ago), yet
     * still holds it: the hold was left behind. */
    s = snap("socket.endpoint", RN_OB_DYING, NOW - RN_SEC(300), NOW - RN_SEC(30));
    case_add_wait(s, 3, 1, "close", NOW - RN_SEC(30));
    v = judge_finish(s);
    assert_verdict(v, RN__VERDICT_SUSPECT, "held while socket #3 waits for the close");
    /* Just now: the socket drops it right after it begins to wait. */
    s = snap("socket.endpoint", RN_OB_DYING, NOW - RN_SEC(300), NOW - RN_SEC(30));
    case_add_wait(s, 3, 1, "close", NOW - RN_MSEC(5));
    v = judge_finish(s);
    assert_verdict(v, RN__VERDICT_EXPECTED, "the socket endpoint's reference");
    /* Another kind of wait says nothing about it. */
    s = snap("socket.endpoint", RN_OB_LIVE, NOW - RN_SEC(300), 0);
    case_add_wait(s, 0, 1, "unbind", NOW - RN_SEC(60));
    v = judge_finish(s);
    assert_verdict(v, RN__VERDICT_EXPECTED, "the socket endpoint's reference");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enum_and_running_enumerations),
        cmocka_unit_test(test_accept_in_flight),
        cmocka_unit_test(test_service_and_one_call_holds),
        cmocka_unit_test(test_endpoint_after_its_close),
        cmocka_unit_test(test_unrecorded_holders),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
