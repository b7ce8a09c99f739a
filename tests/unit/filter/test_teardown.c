/*
 * The platform's teardown with callouts that still hold things.  A
 * well-behaved callout's pended operation and flow context are finished by
 * its co_unregister and leave nothing; the lab-only faulty callout's holds
 * are reported as leaks naming the callout and left held, so that the
 * leak report and the daemon's exit status show them (with sockets above,
 * the socket layer reports their hung process as well).  The test then
 * drops those holds itself, by tag, to end with nothing alive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helper_filter.h"
#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/object.h"
#include "refnet/report.h"
#include "refnet/snapshot.h"
#include "refnet/socket.h"
#include "support.h"
#include "transport/tcp.h"

/* A callout that pends listens and keeps context on them, and lets go of
 * both only when it is unregistered. */
struct tidy {
    struct rn_pend *td_pend;
    struct rn_flow_ctx *td_fc;
    unsigned td_unregistered;
};

static struct tidy tidy;

static int tidy_classify(struct rn_callout *co, const struct rn_classify *cl)
{
    struct tidy *td = rn_callout_ctx(co);

    assert_int_equal(rn_callout_flow_associate(cl, td, &td->td_fc), 0);
    assert_int_equal(rn_callout_flow_associate(cl, td, NULL), RN_EEXIST);
    assert_ptr_equal(rn_callout_flow_find(cl), td->td_fc);
    assert_int_equal(rn_callout_pend(cl, &td->td_pend), 0);
    return RN_FILTER_PEND;
}

/* Told the flow ended: it keeps the context until unregistered. */
static void tidy_deleted(struct rn_callout *co, struct rn_flow_ctx *fc, void *ctx)
{
    (void)co;
    assert_true(rn_flow_ctx_ended(fc));
    assert_ptr_equal(ctx, &tidy);
}

static void tidy_unregister(struct rn_callout *co)
{
    struct tidy *td = rn_callout_ctx(co);

    td->td_unregistered++;
    rn_callout_complete(td->td_pend, RN_FILTER_BLOCK);
    rn_callout_flow_release(td->td_fc);
}

static const struct rn_callout_ops tidy_ops = {
    .co_name = "tidy",
    .co_classify = tidy_classify,
    .co_flow_deleted = tidy_deleted,
    .co_unregister = tidy_unregister,
};

static void test_unregister_lets_go(void **state)
{
    int err;

    (void)state;
    fpair_up();
    memset(&tidy, 0, sizeof(tidy));
    assert_int_equal(rn_callout_register(P.b, &tidy_ops, &tidy, NULL), 0);
    add_filter(P.b, "layer=listen,action=callout:tidy");
    tcp_listening(P.pb, 80, &err);
    assert_int_equal(err, 0);
    assert_int_equal(objects_held_by("callout:tidy"), 2);  /* the listener, the pend */
    /* The stacks go with the listen still pended (fpair_down checks that
     * nothing is left). */
    fpair_down();
    assert_int_equal(tidy.td_unregistered, 1);
}

/* Drops every hold of tag on every object still alive; kills those it
 * created (their creator's tag is tag). */
static void drop_holds(const char *tag)
{
    struct rn_snapshot *s = rn_ob_snapshot();
    rn_tag_t t = rn_tag_intern(tag);
    uint32_t i, j, k;

    assert_non_null(s);
    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *o = &s->s_objects[i];

        for (j = 0; j < o->so_ntags; j++) {
            void *ob;

            if (strcmp(o->so_tags[j].st_tag, tag) != 0)
                continue;
            ob = rn_ob_lookup(o->so_id, RN_TAG_LOOKUP);
            assert_non_null(ob);
            for (k = 0; k < o->so_tags[j].st_count; k++) {
                if (rn_ob_state(ob) == RN_OB_LIVE)
                    rn_ob_kill(ob);  /* a pended operation: created under tag */
                else
                    rn_ob_deref(ob, t);
            }
            rn_ob_deref(ob, RN_TAG_LOOKUP);
        }
    }
    rn_snapshot_free(s);
}

static void test_faulty_holds_are_reported_at_teardown(void **state)
{
    struct tcp_listener *l80, *l81;

    (void)state;
    fpair_up();
    rn_proc_exit(P.pa);
    rn_proc_exit(P.pb);
    run_for(RN_MSEC(1));
    capture_begin();
    assert_int_equal(rn_filter_add_lab(P.b, "layer=listen,lport=80,action=callout:faulty,"
                                            "arg=pend", NULL, NULL, 0), 0);
    assert_int_equal(rn_filter_add_lab(P.b, "layer=listen,lport=81,action=callout:faulty,"
                                            "arg=leak", NULL, NULL, 0), 0);
    /* TCP's own listeners (no sockets above them), closed: faulty keeps
     * them. */
    assert_int_equal(rn__tcp_listen(P.b, 0, 80, 4, NULL, NULL, &l80), 0);
    assert_int_equal(rn__tcp_listen(P.b, 0, 81, 4, NULL, NULL, &l81), 0);
    rn__tcp_listener_close(l80);
    rn__tcp_listener_close(l81);
    assert_int_equal(rn_stack_destroy(P.a), 0);
    assert_int_equal(rn_stack_destroy(P.b), 0);
    capture_end();
    if (!capture_has("filter: callout faulty never completed pended operation") ||
        !capture_has("filter: callout faulty never released its context on tcp listener "
                     "0.0.0.0:81") ||
        !capture_has("its 'callout:faulty' reference stays held"))
        fail_msg("teardown did not report faulty's holds:\n%s", capture_text());
    assert_int_equal(capture_count(RN_REPORT_LEAK), 2);
    /* Left held: both listeners, the pended operation, and the callout's
     * registration, which its context and its pend hold. */
    rn_ob_drain();
    assert_int_equal(count_type("tcp listener"), 2);
    assert_int_equal(count_type("pended operation"), 1);
    assert_int_equal(count_type("callout registration"), 1);
    assert_int_equal(rn_ob_live_count(NULL), 4);
    drop_holds("callout:faulty");
    drop_holds("callout.context");
    drop_holds("callout.pend");
    clock_manual_uninstall();
    check_live_objects(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unregister_lets_go),
        cmocka_unit_test(test_faulty_holds_are_reported_at_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
