/*
 * The batched netstat (netstat_walk.h) on a two-stack pair in virtual
 * time: rows with owners and holders (the walk's own holds not shown), the
 * listener's connection count, batches of one object each with the test
 * as the host that resumes them, no "enum" hold left once a walk ends or
 * is cancelled, a listener that closes between two batches let go at the
 * next; and the injected fault: a table that changes between batches
 * makes the faulty walk restart and lose the listener's hold, so that the
 * service's stop hangs until rn_netstat_clear_leaks().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/render.h"
#include "refnet/error.h"
#include "refnet/netstat_walk.h"
#include "refnet/object.h"
#include "refnet/service.h"
#include "refnet/snapshot.h"
#include "refnet/socket.h"
#include "refnet/strbuf.h"
#include "helper_walk.h"
#include "support.h"
#include "transport/tcp.h"

/* One object whose lost holds were given back, as a line. */
static void leak_line(const struct rn_netstat_leak *leak, void *ctx)
{
    rn_strbuf_printf(ctx, "  %s #%llu: %u 'enum' hold%s given back\n", leak->nl_desc,
                     (unsigned long long)leak->nl_id, (unsigned)leak->nl_holds,
                     leak->nl_holds == 1 ? "" : "s");
}

struct client {
    struct tcp_conn *cl_conn;  /* held by the test under "lookup" */
    bool cl_up;
};

static void client_connected(void *ctx, int err)
{
    ((struct client *)ctx)->cl_up = err == 0;
}

static const struct tcp_upcalls client_up = {.tu_connected = client_connected};

static bool client_cond(void *ctx)
{
    return ((struct client *)ctx)->cl_up;
}

/* A connection from A to B:port. */
static void client_open(struct client *cl, uint16_t port)
{
    memset(cl, 0, sizeof(*cl));
    assert_int_equal(rn__tcp_connect(P.a, 0, 0, ADDR_B, port, &client_up, cl, &cl->cl_conn), 0);
    rn_ob_ref(cl->cl_conn, RN_TAG_LOOKUP);
    assert_true(run_while_not(client_cond, cl, RN_SEC(2)));
}

static void client_close(struct client *cl)
{
    rn__tcp_close(cl->cl_conn, true);
    rn_ob_deref(cl->cl_conn, RN_TAG_LOOKUP);
    cl->cl_conn = NULL;
}

static void start_walk(struct rn_netstat_params *np, struct host *h, struct rn_strbuf *out,
                       bool json, struct rn_netstat_walk **w)
{
    memset(h, 0, sizeof(*h));
    h->h_out = out;
    h->h_json = json;
    h->h_refs = np->np_refs;
    h->h_first = true;
    np->np_row = host_row;
    np->np_yield = host_yield;
    np->np_done = host_done;
    np->np_ctx = h;
    rn__render_netstat_begin(out, np->np_refs, json);
    assert_int_equal(rn_netstat_walk_start(P.b, np, w), 0);
}

/* Runs the walk to its end, resuming it whenever it yielded. */
static void finish_walk(struct rn_netstat_walk *w, struct host *h)
{
    int guard;

    for (guard = 0; guard < 10000 && !h->h_done; guard++) {
        h->h_yielded = false;
        rn_netstat_walk_resume(w);
        assert_true(h->h_yielded != h->h_done);
    }
    assert_true(h->h_done);
}

static void test_rows_owners_holders(void **state)
{
    struct rn_netstat_params np = {.np_all = true, .np_refs = true, .np_batch = 1};
    bool json = true;
    struct rn_strbuf out = RN_STRBUF_INIT;
    struct rn_netstat_stats st;
    struct rn_netstat_walk *w;
    struct rn_svcctl *sc;
    struct rn_svc *svc;
    struct client cl;
    struct host h;
    char err[200];
    const char *t, *row;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_svcctl_create(P.b, rn_svc_builtin, &sc), 0);
    assert_int_equal(rn_svcctl_add(sc, "discard", &svc, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_start(svc, err, sizeof(err)), 0);
    client_open(&cl, 9);
    run_for(RN_MSEC(50));

    start_walk(&np, &h, &out, json, &w);
    finish_walk(w, &h);
    rn_netstat_walk_stats(w, &st);
    rn_netstat_walk_free(w);
    t = rn_strbuf_str(&out);
    /* Listener first, with the connection on it, its holders without the
     * walk's own. */
    row = strstr(t, "{\"proto\":\"tcp\",\"local\":\"0.0.0.0:9\",\"remote\":\"*:*\","
                    "\"state\":\"LISTEN\"");
    if (row != t + 1 || strstr(row, "\"owner\":\"discard\",\"process\":\"discard\"") == NULL ||
        strstr(row, "\"conns\":1,\"holders\":{\"create\":1,\"port-table\":1,"
                    "\"socket.endpoint\":1}}") == NULL)
        fail_msg("listener row: %s", t);
    row = strstr(t, "\"local\":\"198.18.0.3:9\"");
    if (row == NULL || strstr(row, "\"state\":\"ESTABLISHED\"") == NULL ||
        strstr(row, "\"owner\":\"discard\"") == NULL ||
        strstr(row, "\"socket.endpoint\":1") == NULL || strstr(row, "enum") != NULL)
        fail_msg("connection row: %s", t);
    assert_non_null(strstr(t, "]\n"));
    /* Stack A's connection is not B's row. */
    assert_null(strstr(t, "\"local\":\"198.18.0.2:"));
    assert_int_equal(st.nst_rows, 2);
    assert_true(st.nst_batches >= 5);  /* one object a batch, A's included */
    assert_int_equal(st.nst_restarts, 0);
    assert_int_equal(tag_holds("enum"), 0);

    /* Text, without --refs: the table of `refnet netstat -a`. */
    rn_strbuf_reset(&out);
    np.np_refs = false;
    json = false;
    np.np_batch = 0;
    start_walk(&np, &h, &out, json, &w);
    finish_walk(w, &h);
    rn_netstat_walk_free(w);
    t = rn_strbuf_str(&out);
    if (strncmp(t, "Proto ", 6) != 0 || strstr(t, "\ntcp   0.0.0.0:9 ") == NULL ||
        strstr(t, " LISTEN ") == NULL || strstr(t, "ESTABLISHED") == NULL)
        fail_msg("text: %s", t);

    /* Cancelled after one batch: it lets go of its cursor and listeners. */
    rn_strbuf_reset(&out);
    np.np_all = true;
    np.np_batch = 1;
    start_walk(&np, &h, &out, json, &w);
    rn_netstat_walk_resume(w);
    assert_true(h.h_yielded);
    assert_true(tag_holds("enum") >= 2);  /* the cursor and the kept listener */
    rn_netstat_walk_cancel(w);
    assert_int_equal(tag_holds("enum"), 0);

    rn_strbuf_free(&out);
    client_close(&cl);
    (void)rn_svcctl_stop_all(sc, NULL, NULL);
    run_for(RN_SEC(1));
    assert_int_equal(rn_svc_state(svc), RN_SVC_STOPPED);
    rn_svcctl_destroy(sc);
    pair_down();
}

static void heard_fn(struct rn_svc_stop *stp, int result, void *ctx)
{
    (void)stp;
    *(int *)ctx = result;
}

/* A listener closed between two batches: written as it is, let go. */
static void test_listener_closes_under_the_walk(void **state)
{
    struct rn_netstat_params np = {.np_all = true, .np_refs = true, .np_batch = 1};
    struct rn_strbuf out = RN_STRBUF_INIT;
    struct rn_netstat_walk *w;
    struct rn_svcctl *sc;
    struct rn_svc *svc;
    struct rn_svc_stop stp;
    struct host h;
    char err[200];
    int result = 1;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_svcctl_create(P.b, rn_svc_builtin, &sc), 0);
    assert_int_equal(rn_svcctl_add(sc, "chargen", &svc, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_start(svc, err, sizeof(err)), 0);
    start_walk(&np, &h, &out, false, &w);
    rn_netstat_walk_resume(w);  /* stands on the listener, keeps it */
    assert_true(h.h_yielded);
    assert_int_equal(rn_svc_stop(svc, RN_SEC(5), &stp, heard_fn, &result), 0);
    run_for(RN_MSEC(10));
    /* The walk still holds it: the stop waits. */
    assert_int_equal(rn_svc_state(svc), RN_SVC_STOP_PENDING);
    finish_walk(w, &h);
    rn_netstat_walk_free(w);
    assert_non_null(strstr(rn_strbuf_str(&out), "0.0.0.0:19"));
    assert_non_null(strstr(rn_strbuf_str(&out), "CLOSED"));
    assert_int_equal(tag_holds("enum"), 0);
    run_for(RN_MSEC(10));
    assert_int_equal(rn_svc_state(svc), RN_SVC_STOPPED);
    assert_int_equal(result, 0);
    rn_strbuf_free(&out);
    rn_svcctl_destroy(sc);
    pair_down();
}

/* One walk in batches of one object with the table changing after the
 * second: a connection comes while the walk is about to list them. */
static uint32_t walk_with_a_change(bool inject, struct rn_svcctl *sc)
{
    struct rn_netstat_params np = {.np_all = true, .np_refs = true, .np_batch = 1,
                                   .np_inject_enum_leak = inject};
    struct rn_strbuf out = RN_STRBUF_INIT;
    struct rn_netstat_stats st;
    struct rn_netstat_walk *w;
    struct client cl;
    struct host h;

    (void)sc;
    start_walk(&np, &h, &out, false, &w);
    rn_netstat_walk_resume(w);  /* keeps the listener */
    assert_true(h.h_yielded);
    h.h_yielded = false;
    rn_netstat_walk_resume(w);  /* on to the connections */
    assert_true(h.h_yielded);
    client_open(&cl, 9);        /* the table changes meanwhile */
    finish_walk(w, &h);
    rn_netstat_walk_stats(w, &st);
    rn_netstat_walk_free(w);
    assert_non_null(strstr(rn_strbuf_str(&out), "0.0.0.0:9"));
    rn_strbuf_free(&out);
    client_close(&cl);
    run_for(RN_MSEC(50));
    return st.nst_leaked;
}

static void test_injected_fault(void **state)
{
    struct rn_svcctl *sc;
    struct rn_svc *svc;
    struct rn_svc_stop stp;
    struct rn_strbuf why = RN_STRBUF_INIT, gave = RN_STRBUF_INIT;
    char err[600];
    int result = 1;
    void *l;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_svcctl_create(P.b, rn_svc_builtin, &sc), 0);
    assert_int_equal(rn_svcctl_add(sc, "discard", &svc, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_start(svc, err, sizeof(err)), 0);

    /* Without the fault the same walk loses nothing. */
    assert_int_equal(walk_with_a_change(false, sc), 0);
    assert_int_equal(tag_holds("enum"), 0);
    assert_int_equal(rn_netstat_leaked(), 0);

    /* With it, the listener keeps one hold per faulty restart. */
    assert_int_equal(walk_with_a_change(true, sc), 1);
    assert_int_equal(rn_netstat_leaked(), 1);
    l = rn_ob_lookup(rn_tcp_port_holder(P.b, 0, 9), RN_TAG_LOOKUP);
    assert_non_null(l);
    assert_int_equal(rn_ob_tag_count(l, RN_TAG_ENUM), 1);
    rn_ob_deref(l, RN_TAG_LOOKUP);

    /* The stop hangs on it, and says so. */
    run_for(RN_SEC(2));
    assert_int_equal(rn_svc_stop(svc, RN_SEC(3), &stp, heard_fn, &result), 0);
    run_for(RN_SEC(4));
    assert_int_equal(result, RN_ETIMEDOUT);
    assert_int_equal(rn_svc_state(svc), RN_SVC_STOP_PENDING);
    assert_true(rn_svc_why(svc, RN_SEC(10), &why) >= 1);
    if (strstr(rn_strbuf_str(&why), "tcp listener 0.0.0.0:9 CLOSED") == NULL ||
        strstr(rn_strbuf_str(&why), "verdict: 'enum' holds past its bound") == NULL)
        fail_msg("why: %s", rn_strbuf_str(&why));
    assert_int_equal(rn_svc_start(svc, err, sizeof(err)), RN_EADDRINUSE);
    assert_non_null(strstr(err, "enum 1 held"));

    /* The lab gives the hold back: the stop completes. */
    assert_int_equal(rn_netstat_clear_leaks(leak_line, &gave), 1);
    assert_non_null(strstr(rn_strbuf_str(&gave), "tcp listener 0.0.0.0:9 CLOSED"));
    assert_int_equal(rn_netstat_leaked(), 0);
    run_for(RN_MSEC(100));
    assert_int_equal(rn_svc_state(svc), RN_SVC_STOPPED);
    assert_int_equal(tag_holds("enum"), 0);
    assert_int_equal(rn_netstat_clear_leaks(NULL, NULL), 0);
    rn_strbuf_free(&why);
    rn_strbuf_free(&gave);
    rn_svcctl_destroy(sc);
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_owners_holders),
        cmocka_unit_test(test_listener_closes_under_the_walk),
        cmocka_unit_test(test_injected_fault),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
