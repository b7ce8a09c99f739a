/*
 * TCP_INFO from a thread that is not the loop's: rn_tcp_info() (the
 * blocking API) while the test thread polls two stacks on a simulated
 * cable in real time, as a host's threads would call it beside its loop.
 * A concurrency test: TSan runs it (make test).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/socket.h"
#include "refnet/tcp.h"
#include "support.h"

#define PORT 7400

/* rn_tcp_info() from a thread that is not the loop's. */
struct info_call {
    int ic_h;
    int ic_err;
    struct rn_tcp_info ic_info;
    atomic_bool ic_done;
};

static void *info_thread(void *arg)
{
    struct info_call *ic = arg;

    ic->ic_err = rn_tcp_info(P.pa, ic->ic_h, &ic->ic_info);
    atomic_store(&ic->ic_done, true);
    return NULL;
}

static bool info_done(void *ctx)
{
    return atomic_load(&((struct info_call *)ctx)->ic_done);
}

static void test_tcp_info_blocking(void **state)
{
    struct pair_params pp = {.pp_procs = true, .pp_realtime = true};
    struct info_call ic = {0};
    pthread_t th;
    int hl, hs, hc, err;

    (void)state;
    pair_up_with(&pp);
    hl = tcp_listening(P.pb, PORT, &err);
    assert_int_equal(err, 0);
    hc = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    hs = tcp_connect_accept(P.pa, hc, P.pb, hl, PORT);
    (void)hs;
    ic.ic_h = hc;
    assert_int_equal(pthread_create(&th, NULL, info_thread, &ic), 0);
    assert_true(run_while_not(info_done, &ic, RN_SEC(5)));
    pthread_join(th, NULL);
    assert_int_equal(ic.ic_err, 0);
    assert_int_equal(ic.ic_info.ti_state, RN_TCP_ESTABLISHED);
    assert_int_equal(ic.ic_info.ti_snd_mss, 1448);
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_info_blocking),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
