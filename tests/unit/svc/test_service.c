/*
 * The service controller (service.h) on a two-stack pair in virtual time:
 * the states a service goes through, one process per service (echo's UDP
 * and TCP halves in one), the owner of its endpoints, a stop that
 * completes, a stop held up by a leaked "enum" reference on its listener
 * (timeout, STOP_PENDING, the chain service -> process -> socket -> tcp
 * listener -> holders with its verdict, a start refused with the port's
 * holder named), and the stop completing once the reference goes; a
 * drain grace's edges (too long, nothing to finish, everything stopped,
 * the stack destroyed under a drain).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl/render.h"
#include "net/net.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/service.h"
#include "refnet/socket.h"
#include "refnet/strbuf.h"
#include "support.h"
#include "transport/tcp.h"

/* What a stop waiter heard. */
struct heard {
    int h_calls;
    int h_result;
};

static void heard_fn(struct rn_svc_stop *stp, int result, void *ctx)
{
    struct heard *h = ctx;

    (void)stp;
    h->h_calls++;
    h->h_result = result;
}

static bool heard_cond(void *ctx)
{
    return ((struct heard *)ctx)->h_calls > 0;
}

/* Stops svc and runs until the stop completes; asserts it did, with 0. */
static void stop_and_wait(struct rn_svc *svc)
{
    struct rn_svc_stop stp;
    struct heard h = {0};

    assert_int_equal(rn_svc_stop(svc, RN_SEC(5), &stp, heard_fn, &h), 0);
    assert_int_equal(rn_svc_state(svc), RN_SVC_STOP_PENDING);
    assert_true(run_while_not(heard_cond, &h, RN_SEC(10)));
    assert_int_equal(h.h_result, 0);
    assert_int_equal(rn_svc_state(svc), RN_SVC_STOPPED);
    assert_null(rn_svc_proc(svc));
}

static void test_states_and_processes(void **state)
{
    struct rn_svcctl *sc;
    struct rn_svc *echo, *discard;
    struct rn_sock_owner ow;
    struct rn_strbuf sb = RN_STRBUF_INIT;
    char err[600];
    void *l;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_svcctl_create(P.b, rn_svc_builtin, &sc), 0);
    assert_int_equal(rn_svcctl_add(sc, "echo", &echo, err, sizeof(err)), 0);
    assert_int_equal(rn_svcctl_add(sc, "discard", &discard, err, sizeof(err)), 0);
    assert_int_equal(rn_svcctl_add(sc, "echo", NULL, err, sizeof(err)), RN_EEXIST);
    assert_int_equal(rn_svcctl_add(sc, "nosuch", NULL, err, sizeof(err)), RN_EINVAL);
    assert_non_null(strstr(err, "unknown service 'nosuch' (known: echo, discard, chargen, "
                                "httpd=PORT:DIR)"));
    assert_int_equal(rn_svcctl_add(sc, "httpd", NULL, err, sizeof(err)), RN_EINVAL);
    assert_non_null(strstr(err, "httpd needs PORT:DIR"));
    assert_int_equal(rn_svc_state(echo), RN_SVC_STOPPED);

    assert_int_equal(rn_svc_start(echo, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_start(discard, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_start(echo, err, sizeof(err)), 1);  /* already */
    assert_int_equal(rn_svc_state(echo), RN_SVC_RUNNING);
    /* One process per service: echo's UDP and TCP halves share one. */
    assert_int_equal(count_objects_prefixed("process", "process echo "), 1);
    assert_int_equal(count_objects_prefixed("process", "process discard "), 1);
    /* Its UDP socket, its TCP listener and the readiness set its idle
     * connections wait in. */
    assert_int_equal(rn_proc_handles(rn_svc_proc(echo)), 3);
    assert_string_equal(rn_proc_owner(rn_svc_proc(echo)), "service echo");
    assert_int_equal(count_objects_prefixed("service", "service echo RUNNING"), 1);

    /* The listener of discard knows its owner. */
    l = rn_ob_lookup(rn_tcp_port_holder(P.b, 0, 9), RN_TAG_LOOKUP);
    assert_non_null(l);
    assert_int_equal(rn_sock_owner_of(l, &ow), 0);
    assert_string_equal(ow.ow_owner, "service discard");
    assert_string_equal(ow.ow_proc_name, "discard");
    assert_int_equal(ow.ow_proc, rn_ob_id(rn_svc_proc(discard)));
    assert_false(ow.ow_closing);
    rn_ob_deref(l, RN_TAG_LOOKUP);

    rn__render_services(sc, NULL, rn_stack_now(P.b), NULL, &sb, false);
    assert_non_null(strstr(rn_strbuf_str(&sb), "echo (echo on UDP and TCP port 7): RUNNING"));
    assert_non_null(strstr(rn_strbuf_str(&sb), "discard (discard on TCP port 9): RUNNING"));
    assert_null(strstr(rn_strbuf_str(&sb), "loops"));
    rn_strbuf_reset(&sb);
    rn__render_services(sc, discard, rn_stack_now(P.b), NULL, &sb, true);
    assert_non_null(strstr(rn_strbuf_str(&sb), "\"name\":\"discard\""));
    assert_non_null(strstr(rn_strbuf_str(&sb), "\"state\":\"RUNNING\""));
    assert_null(strstr(rn_strbuf_str(&sb), "\"loops\""));
    rn_strbuf_reset(&sb);

    /* With another loop's instance (receive-side scaling): its counters
     * and handles are added, its state said where it differs. */
    {
        struct rn__svc_loops more = {.sl_loops = 2, .sl_handles = 5};
        struct rn_svc_counter c[RN_SVC_COUNTERS_MAX];
        size_t k, n = rn_svc_counters(discard, c);
        char want[80];

        for (k = 0; k < n && strcmp(c[k].sc_name, "accepted") != 0; k++)
            ;
        assert_true(k < n);
        more.sl_counters[k] = 7;
        more.sl_state[0] = RN_SVC_RUNNING;
        more.sl_state[1] = RN_SVC_STOP_PENDING;
        rn__render_services(sc, discard, rn_stack_now(P.b), &more, &sb, false);
        snprintf(want, sizeof(want), "  %-18s %12" PRIu64 "\n", "accepted", c[k].sc_value + 7);
        assert_non_null(strstr(rn_strbuf_str(&sb), want));
        snprintf(want, sizeof(want), ", %u handles, service #", rn_proc_handles(rn_svc_proc(discard)) + 5);
        assert_non_null(strstr(rn_strbuf_str(&sb), want));
        assert_non_null(strstr(rn_strbuf_str(&sb), ", on 2 loops (loop 1's STOP_PENDING)\n"));
        rn_strbuf_reset(&sb);
        rn__render_services(sc, discard, rn_stack_now(P.b), &more, &sb, true);
        snprintf(want, sizeof(want), "\"accepted\":%" PRIu64 ",", c[k].sc_value + 7);
        assert_non_null(strstr(rn_strbuf_str(&sb), want));
        assert_non_null(strstr(rn_strbuf_str(&sb), "\"loops\":2,\"loop_states\":[\"RUNNING\","
                                                   "\"STOP_PENDING\"]"));
    }
    rn_strbuf_free(&sb);

    stop_and_wait(echo);
    assert_int_equal(count_objects_prefixed("process", "process echo "), 0);
    assert_int_equal(rn_svcctl_stop_all(sc, NULL, NULL), 1);
    assert_int_equal(rn_svc_state(discard), RN_SVC_STOP_PENDING);
    run_for(RN_SEC(1));
    assert_int_equal(rn_svc_state(discard), RN_SVC_STOPPED);
    /* And it starts again. */
    assert_int_equal(rn_svc_start(echo, err, sizeof(err)), 0);
    stop_and_wait(echo);
    rn_svcctl_destroy(sc);
    pair_down();
}

static bool stopped_cond(void *ctx)
{
    return rn_svc_state(ctx) == RN_SVC_STOPPED;
}

static void test_stop_held_by_a_leak(void **state)
{
    struct rn_svcctl *sc;
    struct rn_svc *svc;
    struct rn_svc_stop stp;
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct heard h = {0};
    char err[600], want[64];
    uint64_t lid;
    void *l;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_svcctl_create(P.b, rn_svc_builtin, &sc), 0);
    assert_int_equal(rn_svcctl_add(sc, "discard", &svc, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_start(svc, err, sizeof(err)), 0);
    /* An enumeration that forgot its reference, as in the case. */
    lid = rn_tcp_port_holder(P.b, 0, 9);
    l = rn_ob_lookup(lid, RN_TAG_LOOKUP);
    assert_non_null(l);
    rn_ob_transfer(l, RN_TAG_LOOKUP, RN_TAG_ENUM);

    assert_int_equal(rn_svc_stop(svc, RN_SEC(5), &stp, heard_fn, &h), 0);
    run_for(RN_SEC(3));
    assert_int_equal(h.h_calls, 0);
    run_for(RN_SEC(3));
    assert_int_equal(h.h_calls, 1);
    assert_int_equal(h.h_result, RN_ETIMEDOUT);
    assert_int_equal(rn_svc_state(svc), RN_SVC_STOP_PENDING);

    /* The chain: service -> process -> socket -> listener -> holders. */
    assert_true(rn_svc_why(svc, RN_SEC(10), &sb) >= 1);
    {
        const char *t = rn_strbuf_str(&sb);
        const char *a = strstr(t, "service discard STOP_PENDING");
        const char *b = strstr(t, "process discard (pid ");
        const char *c = strstr(t, "socket #1 tcp 0.0.0.0:9 close pending");
        const char *d = strstr(t, "tcp listener 0.0.0.0:9 CLOSED");
        const char *e = strstr(t, "enum         1   held");
        const char *f = strstr(t, "verdict: 'enum' holds past its bound (1.0s) with no "
                                  "enumeration running");

        if (!(a && b && c && d && e && f && a < b && b < c && c < d && d < e && e < f))
            fail_msg("chain:\n%s", t);
        assert_non_null(strstr(t, "stop pending 6.0s"));
        assert_non_null(strstr(t, "cleanup pending"));
    }
    rn_strbuf_free(&sb);

    /* The port stays taken: a start names the holder. */
    assert_int_equal(rn_svc_start(svc, err, sizeof(err)), RN_EADDRINUSE);
    snprintf(want, sizeof(want), "held by #%llu tcp listener 0.0.0.0:9", (unsigned long long)lid);
    if (strstr(err, "TCP port 9: address in use") == NULL || strstr(err, want) == NULL ||
        strstr(err, "enum 1 held") == NULL || strstr(err, "owner service discard") == NULL)
        fail_msg("start error: %s", err);

    /* Once the reference goes, the stop completes, and the service
     * starts again. */
    rn_ob_deref(l, RN_TAG_ENUM);
    assert_true(run_while_not(stopped_cond, svc, RN_SEC(2)));
    assert_int_equal(rn_svc_start(svc, err, sizeof(err)), 0);
    stop_and_wait(svc);
    rn_svcctl_destroy(sc);
    pair_down();
}

/* A start that fails (a missing directory, a port taken by someone else)
 * leaves the service STOPPED and nothing running. */
static void test_failed_starts(void **state)
{
    struct rn_svcctl *sc;
    struct rn_svc *httpd, *discard;
    struct tcp_upcalls up = {0};
    struct tcp_listener *other;
    char err[600], dir[] = "/tmp/refnet-svc-test.XXXXXX", spec[96];

    (void)state;
    assert_non_null(mkdtemp(dir));
    pair_up(1500, false);
    assert_int_equal(rn_svcctl_create(P.b, rn_svc_builtin, &sc), 0);
    assert_int_equal(rn_svcctl_add(sc, "httpd=8080:/nonexistent/dir", &httpd, err, sizeof(err)),
                     0);
    assert_int_equal(rn_svc_start(httpd, err, sizeof(err)), RN_ENOENT);
    assert_non_null(strstr(err, "/nonexistent/dir"));
    run_for(RN_MSEC(100));
    assert_int_equal(rn_svc_state(httpd), RN_SVC_STOPPED);
    assert_int_equal(count_objects_prefixed("process", "process httpd"), 0);

    /* Port 9 is taken by a listener that is not a service's. */
    assert_int_equal(rn__tcp_listen(P.b, 0, 9, 4, &up, NULL, &other), 0);
    assert_int_equal(rn_svcctl_add(sc, "discard", &discard, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_start(discard, err, sizeof(err)), RN_EADDRINUSE);
    if (strstr(err, "TCP port 9: address in use: held by #") == NULL ||
        strstr(err, "tcp listener 0.0.0.0:9 LISTEN") == NULL || strstr(err, "owner") != NULL)
        fail_msg("start error: %s", err);
    run_for(RN_MSEC(100));
    assert_int_equal(rn_svc_state(discard), RN_SVC_STOPPED);
    rn__tcp_listener_close(other);
    run_for(RN_MSEC(100));
    assert_int_equal(rn_svc_start(discard, err, sizeof(err)), 0);
    stop_and_wait(discard);

    snprintf(spec, sizeof(spec), "httpd=8080:%s", dir);
    rn_svcctl_destroy(sc);
    assert_int_equal(rn_svcctl_create(P.b, rn_svc_builtin, &sc), 0);
    assert_int_equal(rn_svcctl_add(sc, spec, &httpd, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_start(httpd, err, sizeof(err)), 0);
    assert_int_equal(count_objects_prefixed("process", "process httpd"), 1);
    stop_and_wait(httpd);
    rn_svcctl_destroy(sc);
    pair_down();
    rmdir(dir);
}

/* The stack goes while a stop waits: the waiter hears RN_ECANCELED, the
 * stop completes inside the stack's destruction, and the controller is
 * freed afterwards. */
static void test_stack_destroyed_under_a_stop(void **state)
{
    struct rn_svcctl *sc;
    struct rn_svc *svc;
    struct rn_svc_stop stp;
    struct heard h = {0};
    char err[200];

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_svcctl_create(P.b, rn_svc_builtin, &sc), 0);
    assert_int_equal(rn_svcctl_add(sc, "chargen", &svc, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_start(svc, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_stop(svc, RN_SEC(30), &stp, heard_fn, &h), 0);
    assert_int_equal(rn_stack_destroy(P.b), 0);
    assert_int_equal(h.h_calls, 1);
    assert_int_equal(h.h_result, RN_ECANCELED);
    assert_int_equal(rn_svc_state(svc), RN_SVC_STOPPED);
    rn_svcctl_destroy(sc);
    assert_int_equal(rn_stack_destroy(P.a), 0);
    clock_manual_uninstall();
    check_live_objects(0);
}

/* A drain grace: taken by every built-in kind, refused past the most;
 * a stop with nothing to finish completes at its first look (STOP_PENDING
 * "draining 0 connections" meanwhile, with its "drain" hold and wait);
 * stopping everything ends a drain at once; and a stack destroyed under a
 * drain completes the stop inside its destruction, leak-free. */
static void test_drain_edges(void **state)
{
    struct rn_svcctl *sc;
    struct rn_svc *httpd, *chargen;
    struct rn_svc_stop stp;
    struct heard h = {0};
    char err[600], dir[] = "/tmp/refnet-svc-drain.XXXXXX", spec[96], desc[200];
    void *ob;

    (void)state;
    assert_non_null(mkdtemp(dir));
    pair_up(1500, false);
    assert_int_equal(rn_svcctl_create(P.b, rn_svc_builtin, &sc), 0);
    assert_int_equal(rn_svcctl_add(sc, "chargen", &chargen, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_set_drain(chargen, RN_SEC(5)), 0);  /* it ends its streams */
    assert_int_equal(rn_svc_drain_grace(chargen), RN_SEC(5));
    assert_int_equal(rn_svc_set_drain(chargen, 0), 0);
    snprintf(spec, sizeof(spec), "httpd=8080:%s", dir);
    assert_int_equal(rn_svcctl_add(sc, spec, &httpd, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_set_drain(httpd, RN_SVC_DRAIN_MAX + 1), RN_EINVAL);
    assert_int_equal(rn_svc_set_drain(httpd, RN_SEC(30)), 0);
    assert_int_equal(rn_svc_drain_grace(httpd), RN_SEC(30));

    /* Nothing to finish: done at the first look. */
    assert_int_equal(rn_svc_start(httpd, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_stop(httpd, RN_SEC(5), &stp, heard_fn, &h), 0);
    assert_true(rn_svc_draining(httpd));
    ob = rn_ob_lookup(rn_svc_id(httpd), RN_TAG_LOOKUP);
    assert_non_null(ob);
    rn_ob_describe(ob, desc, sizeof(desc));
    rn_ob_deref(ob, RN_TAG_LOOKUP);
    if (strstr(desc, "service httpd STOP_PENDING draining 0 connections, 0B left") == NULL)
        fail_msg("describe: %s", desc);
    assert_true(has_wait(rn_svc_id(httpd), "drain"));
    assert_int_equal(objects_held_by("drain"), 1);
    assert_true(run_while_not(heard_cond, &h, RN_SEC(2)));
    assert_int_equal(h.h_result, 0);
    assert_false(rn_svc_draining(httpd));
    assert_int_equal(objects_held_by("drain"), 0);

    /* Stopping everything ends a drain at once. */
    assert_int_equal(rn_svc_start(httpd, err, sizeof(err)), 0);
    h.h_calls = 0;
    assert_int_equal(rn_svc_stop(httpd, RN_SEC(5), &stp, heard_fn, &h), 0);
    assert_true(rn_svc_draining(httpd));
    (void)rn_svcctl_stop_all(sc, NULL, NULL);
    assert_false(rn_svc_draining(httpd));
    assert_true(run_while_not(heard_cond, &h, RN_SEC(2)));
    assert_int_equal(rn_svc_state(httpd), RN_SVC_STOPPED);

    /* The stack goes under a drain. */
    assert_int_equal(rn_svc_start(httpd, err, sizeof(err)), 0);
    h.h_calls = 0;
    assert_int_equal(rn_svc_stop(httpd, RN_SEC(30), &stp, heard_fn, &h), 0);
    assert_true(rn_svc_draining(httpd));
    assert_int_equal(rn_stack_destroy(P.b), 0);
    assert_int_equal(h.h_calls, 1);
    assert_int_equal(h.h_result, RN_ECANCELED);
    assert_int_equal(rn_svc_state(httpd), RN_SVC_STOPPED);
    rn_svcctl_destroy(sc);
    assert_int_equal(rn_stack_destroy(P.a), 0);
    clock_manual_uninstall();
    check_live_objects(0);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states_and_processes),
        cmocka_unit_test(test_stop_held_by_a_leak),
        cmocka_unit_test(test_failed_starts),
        cmocka_unit_test(test_stack_destroyed_under_a_stop),
        cmocka_unit_test(test_drain_edges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
