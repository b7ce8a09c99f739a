/*
 * Readiness sets and the allocator (linked with it wrapped: failalloc.h).
 *
 *   - Waits and events allocate nothing: once sockets are registered,
 *     a thousand waits on level-triggered sockets that stay ready, and the
 *     events of a local shutdown, count no allocation at all.
 *   - Allocation failure, one allocation at a time: a process on stack a
 *     makes a set, registers two UDP sockets, b sends each a datagram, a
 *     wait request and an immediate wait take the events, a socket and
 *     then the set close.  A step may fail with an error; a wait that
 *     reports events reports the right ones.  Nothing crashes, and once
 *     the processes exit nothing is left alive (pair_down()).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/readiness.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "failalloc.h"
#include "support.h"

#define MAX_ALLOCS 2000

static void test_waits_and_events_allocate_nothing(void **state)
{
    struct pair_params pp = {.pp_procs = true};
    struct rn_sockaddr_in to = {.sin_addr = ADDR_A, .sin_port = 0};
    struct rn_rset_event ev[8];
    static uint8_t payload[64];
    struct rec r = {0};
    int h[4], set, i, hb, quiet;

    (void)state;
    pair_up_with(&pp);
    set = rn_rset_create(P.pa, 0);
    hb = rn_sock_open(P.pb, RN_SOCK_DGRAM, 0);
    for (i = 0; i < 4; i++) {
        struct rn_rset_event e = {.re_events = RN_POLLIN};

        h[i] = udp_bound(P.pa, (uint16_t)(5100 + i));
        assert_int_equal(rn_rset_ctl(P.pa, set, RN_RSET_ADD, h[i], &e), 0);
        to.sin_port = (uint16_t)(5100 + i);
        submit(P.pb, RN_SOP_SEND, hb, payload, sizeof(payload), &to, &r);
    }
    quiet = udp_bound(P.pa, 5199);
    {
        struct rn_rset_event e = {.re_events = RN_POLLIN | RN_RSET_ET};

        assert_int_equal(rn_rset_ctl(P.pa, set, RN_RSET_ADD, quiet, &e), 0);
    }
    run_for(RN_MSEC(10));
    assert_int_equal(r.n, 4);
    arm(LONG_MAX);  /* counts, fails nothing */
    for (i = 0; i < 1000; i++)
        assert_int_equal(rn_rset_wait(P.pa, set, ev, 8), 4);
    /* An event: the quiet socket shut for reading is readable. */
    assert_int_equal(rn_sock_shutdown(P.pa, quiet, RN_SHUT_RD), RN_ENOTCONN);
    assert_int_equal(rn_rset_wait(P.pa, set, ev, 8), 5);
    assert_int_equal(atomic_load(&seen), 0);
    disarm();
    pair_down();
}

/* What one run reached. */
struct outcome {
    int set;
    int h[2];
    int err;          /* the first error met, 0 if none */
    struct rec r;
    struct rn_rset_event ev[4];
};

static void note(struct outcome *o, long rc)
{
    if (rc < 0 && o->err == 0)
        o->err = (int)rc;
}

/* Submits a request recorded in r, noting a refusal. */
static void submit_noted(struct outcome *o, struct rn_proc *p, int op, int h, void *buf,
                         size_t len, const struct rn_sockaddr_in *to, struct rec *r)
{
    struct rn_sock_req rq = {.sq_op = op, .sq_handle = h, .sq_buf = buf, .sq_len = len,
                             .sq_to = to, .sq_user = r};

    note(o, rn_sock_submit(p, &rq, rec_fn));
}

/* Returns true if every step succeeded. */
static bool run_once(struct outcome *o)
{
    static uint8_t payload[32];
    struct rn_sockaddr_in to = {.sin_addr = ADDR_A, .sin_port = 0}, l = {.sin_addr = 0, .sin_port = 0};
    struct rn_sock_req rq = {.sq_op = RN_SOP_RSET_WAIT};
    struct rec rb = {0};
    int i, hb, n;

    o->set = rn_rset_create(P.pa, 0);
    note(o, o->set);
    if (o->set < 0)
        return false;
    for (i = 0; i < 2; i++) {
        struct rn_rset_event e = {.re_events = RN_POLLIN, .re_data.rd_u64 = 100u + (unsigned)i};

        o->h[i] = rn_sock_open(P.pa, RN_SOCK_DGRAM, 0);
        note(o, o->h[i]);
        if (o->h[i] < 0)
            return false;
        l.sin_port = (uint16_t)(5200 + i);
        note(o, rn_sock_bind(P.pa, o->h[i], &l));
        note(o, rn_rset_ctl(P.pa, o->set, RN_RSET_ADD, o->h[i], &e));
        if (o->err != 0)
            return false;
    }
    rq.sq_handle = o->set;
    rq.sq_buf = o->ev;
    rq.sq_len = sizeof(o->ev);
    rq.sq_user = &o->r;
    note(o, rn_sock_submit(P.pa, &rq, rec_fn));
    if (o->err != 0)
        return false;
    hb = rn_sock_open(P.pb, RN_SOCK_DGRAM, 0);
    note(o, hb);
    if (hb < 0)
        return false;
    for (i = 0; i < 2; i++) {
        to.sin_port = (uint16_t)(5200 + i);
        submit_noted(o, P.pb, RN_SOP_SEND, hb, payload, sizeof(payload), &to, &rb);
    }
    run_for(RN_MSEC(20));
    for (i = 0; i < (int)rb.n; i++)
        note(o, rb.c[i].sc_result);
    if (o->r.n != 1 || o->err != 0) {
        /* A datagram lost to a failed allocation on the way: the wait
         * may still be pending; the exit cancels it. */
        if (o->r.n == 1)
            note(o, o->r.c[0].sc_result);
        return false;
    }
    /* The wait reported one or both, with the right values. */
    n = (int)o->r.c[0].sc_result;
    assert_true(n >= 1 && n <= 2);
    for (i = 0; i < n; i++) {
        assert_int_equal(o->ev[i].re_events, RN_POLLIN);
        assert_true(o->ev[i].re_data.rd_u64 == 100 || o->ev[i].re_data.rd_u64 == 101);
    }
    /* Both, level-triggered, now; unless a failure on the way lost a
     * datagram, as a datagram may be lost. */
    n = rn_rset_wait(P.pa, o->set, o->ev, 4);
    if (n != 2 && atomic_load(&failed) != 0)
        return false;
    assert_int_equal(n, 2);
    assert_true(o->ev[0].re_data.rd_u64 + o->ev[1].re_data.rd_u64 == 201);
    submit_noted(o, P.pa, RN_SOP_CLOSE, o->h[0], NULL, 0, NULL, &o->r);
    submit_noted(o, P.pa, RN_SOP_CLOSE, o->set, NULL, 0, NULL, &o->r);
    run_for(RN_MSEC(1));
    for (i = 1; i < (int)o->r.n; i++)
        note(o, o->r.c[i].sc_result);
    return o->err == 0 && o->r.n == 3;
}

static void test_allocation_failures(void **state)
{
    struct pair_params pp = {.pp_procs = true};
    struct outcome *o = malloc(sizeof(*o));
    int ok = 0, failed_runs = 0;
    long k;

    (void)state;
    assert_non_null(o);
    for (k = 0; k < MAX_ALLOCS; k++) {
        bool success, met;

        pair_up_with(&pp);
        memset(o, 0, sizeof(*o));
        arm(k);
        success = run_once(o);
        met = disarm();
        if (success) {
            ok++;
        } else {
            assert_true(met);  /* only an injected failure may fail it */
            failed_runs++;
        }
        pair_down();
        if (!met)
            break;
    }
    assert_true(k < MAX_ALLOCS);
    assert_true(ok >= 1);
    print_message("readiness sets: %ld allocations; %d runs succeeded, %d failed with an error\n",
                  k, ok, failed_runs);
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waits_and_events_allocate_nothing),
        cmocka_unit_test(test_allocation_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
