/*
 * A close needs a record (the two waits and the linger timer a closing
 * socket has, which an open one does not carry), made at the close.
 * Without memory for it:
 *   - a close request fails with RN_ENOMEM and the handle stays open and
 *     usable; closing it again later works;
 *   - a process's exit cannot fail: the handles it could not close it
 *     closes again a little later, and the exit ends with nothing left.
 * Each allocation of the close is made to fail in turn (the failing
 * allocator, tests/support/failalloc.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/socket.h"
#include "failalloc.h"
#include "support.h"

/* Allocations a close may make, at most, in these tests. */
#define CLOSE_ALLOCS 8

static void test_close_request_without_memory(void **state)
{
    struct rn_sockaddr_in local;
    bool nomem = false;
    long k;

    (void)state;
    for (k = 0; k < CLOSE_ALLOCS; k++) {
        struct rec r = {0};
        struct rn_sock_req rq = {.sq_op = RN_SOP_CLOSE, .sq_user = &r};
        struct rn_proc *p;
        bool reached;
        int err;

        /* A fresh layer each time, whose free lists are empty. */
        pair_up(1500, false);
        assert_int_equal(rn_proc_create(P.a, "app", &p), 0);
        rq.sq_handle = udp_bound_to(p, 0, 0);
        arm(k);
        err = rn_sock_submit(p, &rq, rec_fn);
        run_for(RN_MSEC(5));
        reached = disarm();
        if (err != 0 || r.c[0].sc_result == RN_ENOMEM) {
            /* The request could not be made (err), or the close found no
             * memory for its record: the handle is open as before, and a
             * second close works. */
            assert_int_equal(err != 0 ? err : r.c[0].sc_result, RN_ENOMEM);
            assert_int_equal(r.n, err != 0 ? 0u : 1u);
            nomem |= err == 0;
            assert_int_equal(rn_sock_getname(p, rq.sq_handle, &local, NULL), 0);
            r.n = 0;
            submit(p, RN_SOP_CLOSE, rq.sq_handle, NULL, 0, NULL, &r);
            run_for(RN_MSEC(5));
        }
        assert_int_equal(r.n, 1);
        assert_int_equal(r.c[0].sc_result, 0);
        assert_int_equal(rn_sock_getname(p, rq.sq_handle, &local, NULL), RN_EBADF);
        rn_proc_exit(p);
        run_for(RN_SEC(1));
        assert_int_equal(count_type("socket"), 0);
        assert_int_equal(count_type("process"), 0);
        pair_down();
        if (!reached)
            break;  /* the close needed fewer than k + 1 allocations */
    }
    assert_true(k < CLOSE_ALLOCS);
    assert_true(nomem);
}

static void test_exit_waits_for_memory(void **state)
{
    long k;

    (void)state;
    for (k = 0; k < CLOSE_ALLOCS; k++) {
        struct rn_proc *p;
        bool reached;

        /* A fresh layer each time, whose free list of records is empty. */
        pair_up(1500, false);
        assert_int_equal(rn_proc_create(P.a, "app", &p), 0);
        (void)udp_bound_to(p, 0, 0);
        (void)udp_bound_to(p, 0, 0);
        arm(k);
        rn_proc_exit(p);
        run_for(RN_MSEC(100));
        reached = disarm();
        if (count_type("socket") != 0 || count_type("process") != 0)
            fprintf(stderr, "k %ld: the exit left %u sockets %u processes\n", k,
                    (unsigned)count_type("socket"), (unsigned)count_type("process"));
        assert_int_equal(count_type("socket"), 0);
        assert_int_equal(count_type("process"), 0);
        pair_down();
        if (!reached)
            break;
    }
    assert_true(k < CLOSE_ALLOCS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_request_without_memory),
        cmocka_unit_test(test_exit_waits_for_memory),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
