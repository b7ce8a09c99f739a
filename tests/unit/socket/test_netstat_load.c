/*
 * The batched netstat under load, in real time: 10,000 TCP connections
 * between the two stacks of the pair, and walks of stack B's endpoints
 * (`netstat -a`, with and without --refs and JSON) run the way the daemon
 * runs them, one batch between two polls of the stacks, batches measured
 * on the OS clock.  Checks, for every walk:
 *   - every connection is listed once, the listener with all of them;
 *   - hardly any batch takes 1 ms of the thread's CPU time (the loop's
 *     data path waits no longer than that); wall time is only printed;
 *   - no "enum" hold is left anywhere once it ended, also when 200
 *     connections are reset and the listener's queue changes under it;
 * and prints the figures.  And the connection table grew with them: a
 * lookup walks two connections on average, not 10,000 / 4,096.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "ctl/render.h"
#include "refnet/error.h"
#include "refnet/netstat_walk.h"
#include "refnet/object.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"
#include "helper_walk.h"
#include "support.h"
#include "transport/tcp.h"

#define NCONNS 10000
#define CONNECT_BATCH 400

static rn_tag_t tag_test;
static struct tcp_conn *clients[NCONNS];   /* A's side, held by "test" */
static struct tcp_conn *servers[NCONNS];   /* B's side, held by "test" */
static unsigned nclients, nservers, nup;
static struct tcp_listener *lst;

static void counter_of(const struct rn_stack_counter *c, void *ctx)
{
    if (strcmp(c->sc_name, "tcp.hash_buckets") == 0)
        *(uint64_t *)ctx = c->sc_value;
}

static void client_connected(void *ctx, int err)
{
    (void)ctx;
    if (err == 0)
        nup++;
}

static const struct tcp_upcalls client_up = {.tu_connected = client_connected};
static const struct tcp_upcalls server_up = {0};

static void acceptable(void *ctx)
{
    struct tcp_conn *c;

    (void)ctx;
    while (nservers < NCONNS && rn__tcp_accept(lst, tag_test, &server_up, NULL, &c) == 0)
        servers[nservers++] = c;
}

static const struct tcp_upcalls listener_up = {.tu_acceptable = acceptable};

static rn_time_t os_clock(void *ctx)
{
    (void)ctx;
    return rn_clock_os_monotonic();
}

static rn_time_t cpu_clock(void *ctx)
{
    struct timespec ts;

    (void)ctx;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (rn_time_t)ts.tv_sec * RN_NSEC_PER_SEC + (rn_time_t)ts.tv_nsec;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    while ((hay = strstr(hay, needle)) != NULL) {
        n++;
        hay += strlen(needle);
    }
    return n;
}

/* One walk, run as the daemon runs it: a batch after each poll.  When
 * churn, resets 200 connections of each side while it runs. */
static void one_walk(bool refs, bool json, bool churn, struct rn_netstat_stats *st,
                     rn_time_t *stall)
{
    struct rn_netstat_params np = {
        .np_all = true,
        .np_refs = refs,
        .np_clock = os_clock,
        .np_cpu_clock = cpu_clock,
        .np_row = host_row,
        .np_yield = host_yield,
        .np_done = host_done,
    };
    struct rn_strbuf out = RN_STRBUF_INIT;
    struct rn_netstat_walk *w;
    struct host h = {0};
    rn_time_t last = 0, now;
    unsigned batches = 0, i;
    size_t expect = nservers;
    const char *t;

    np.np_ctx = &h;
    h.h_out = &out;
    h.h_json = json;
    h.h_refs = refs;
    h.h_first = true;
    rn__render_netstat_begin(&out, refs, json);
    assert_int_equal(rn_netstat_walk_start(P.b, &np, &w), 0);
    while (!h.h_done) {
        /* From one poll to the next: a batch and a poll in between. */
        now = rn_clock_os_monotonic();
        if (last != 0 && now - last > *stall)
            *stall = now - last;
        last = now;
        poll_both();
        h.h_yielded = false;
        rn_netstat_walk_resume(w);
        assert_true(h.h_yielded || h.h_done);
        if (churn && ++batches == 3) {
            for (i = 0; i < 200; i++) {
                rn__tcp_close(clients[nclients - 1 - i], true);
                rn_ob_deref(clients[nclients - 1 - i], tag_test);
            }
            nclients -= 200;
        }
    }
    rn_netstat_walk_stats(w, st);
    rn_netstat_walk_free(w);
    t = rn_strbuf_str(&out);
    assert_false(out.sb_oom);
    /* The listener and every connection B has (a reset one may still be
     * listed until its reset arrives, or go before its turn). */
    if (!churn) {
        assert_int_equal(count(t, "198.18.0.3:80"), expect);
        assert_int_equal(st->nst_rows, expect + 1);
    } else {
        assert_true(count(t, "198.18.0.3:80") >= expect - 200);
    }
    assert_int_equal(count(t, "0.0.0.0:80"), 1);
    if (refs && !json) {
        char want[32];

        snprintf(want, sizeof(want), " %u conns", (unsigned)(churn ? 0 : expect));
        if (!churn && strstr(t, want) == NULL)
            fail_msg("listener row lacks '%s': %.300s", want, t);
    }
    rn_strbuf_free(&out);
    assert_int_equal(rn_ob_tag_count(lst, RN_TAG_ENUM), 0);
}

static void test_ten_thousand(void **state)
{
    struct rn_netstat_stats st, worst = {0};
    rn_time_t stall = 0, end;
    uint64_t batches = 0, over = 0, over_cpu = 0, rows = 0, total = 0;
    unsigned i, walks = 0;
    int round;

    (void)state;
    tag_test = rn_tag_intern("test");
    pair_up(1500, true);
    assert_int_equal(rn__tcp_listen(P.b, 0, 80, 65535, &listener_up, NULL, &lst), 0);
    /* Connections in rounds the cable's queue takes. */
    end = rn_clock_os_monotonic() + RN_SEC(120);
    while (nclients < NCONNS && rn_clock_os_monotonic() < end) {
        unsigned target = nclients + CONNECT_BATCH;

        for (; nclients < target && nclients < NCONNS; nclients++) {
            assert_int_equal(rn__tcp_connect(P.a, 0, 0, ADDR_B, 80, &client_up, NULL,
                                            &clients[nclients]), 0);
            rn_ob_ref(clients[nclients], tag_test);
        }
        while ((nup < nclients || nservers < nclients) && rn_clock_os_monotonic() < end)
            poll_both();
    }
    assert_int_equal(nup, NCONNS);
    assert_int_equal(nservers, NCONNS);
    {
        uint64_t buckets = 0;

        rn_stack_counters(P.b, counter_of, &buckets);
        assert_true(buckets * 2 >= NCONNS);
    }

    for (round = 0; round < 12; round++) {
        one_walk(round % 3 != 2, round % 2 == 1, round == 11, &st, &stall);
        walks++;
        batches += st.nst_batches;
        over += st.nst_over_1ms;
        over_cpu += st.nst_over_1ms_cpu;
        rows += st.nst_rows;
        total += st.nst_total;
        if (st.nst_longest > worst.nst_longest)
            worst.nst_longest = st.nst_longest;
        if (st.nst_longest_cpu > worst.nst_longest_cpu)
            worst.nst_longest_cpu = st.nst_longest_cpu;
        assert_int_equal(st.nst_restarts, 0);
    }
    printf("netstat walks under %d connections: %u walks, %" PRIu64 " rows, %" PRIu64
           " batches (%.1f rows/batch), longest batch %.0f us wall / %.0f us CPU, "
           "mean batch %.0f us, %" PRIu64 " batches over 1 ms wall, %" PRIu64 " over 1 ms "
           "CPU, longest time from one poll of the stacks to the next (a batch between) "
           "%.0f us\n",
           NCONNS, walks, rows, batches, (double)rows / (double)batches,
           (double)worst.nst_longest / 1e3, (double)worst.nst_longest_cpu / 1e3,
           (double)total / (double)batches / 1e3, over, over_cpu, (double)stall / 1e3);
#ifndef REFNET_SANITIZED
    /* The bound is the optimised build's (a sanitizer's build is several
     * times slower and only reports its figures), and it is on the
     * thread's CPU time: wall time also counts the other programs a busy
     * machine runs meanwhile, so it is printed, not judged.  On a virtual
     * machine without steal-time accounting the CPU time counts some of
     * that too: a few batches over 1 ms are tolerated, not more than one
     * in fifty. */
    assert_true(over_cpu * 50 <= batches);
#endif
    assert_int_equal(tag_holds("enum"), 0);

    for (i = 0; i < nclients; i++) {
        rn__tcp_close(clients[i], true);
        rn_ob_deref(clients[i], tag_test);
    }
    for (i = 0; i < nservers; i++) {
        rn__tcp_close(servers[i], true);
        rn_ob_deref(servers[i], tag_test);
    }
    rn__tcp_listener_close(lst);
    end = rn_clock_os_monotonic() + RN_SEC(5);
    while (rn_clock_os_monotonic() < end && rn_tcp_port_holder(P.b, 0, 80) != 0)
        poll_both();
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ten_thousand),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
