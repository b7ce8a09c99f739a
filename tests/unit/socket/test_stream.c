/*
 * Stream sockets (TCP through the socket layer's ops) between two stacks
 * on a simulated cable, in virtual time: listen, connect and accept, a
 * transfer larger than the send buffer in one request, half-close, a
 * graceful close that stays pending (and says so) until the peer closes
 * too, an abortive close that resets the peer, and a refused connect.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/snapshot.h"
#include "refnet/socket.h"
#include "refnet/strbuf.h"
#include "support.h"

/* A connected pair: a listener and an accepted socket on b, a client on
 * a. */
struct conn {
    struct rn_proc *pa, *pb;
    int hl, hs, hc;
    struct rec ra, rb;
};

static void connect_pair(struct conn *k, uint16_t port)
{
    struct rn_sockaddr_in l = {.sin_addr = 0, .sin_port = port}, to = {.sin_addr = ADDR_B, .sin_port = port}, local, remote;
    const struct rn_sock_completion *c;

    memset(k, 0, sizeof(*k));
    assert_int_equal(rn_proc_create(P.a, "client", &k->pa), 0);
    assert_int_equal(rn_proc_create(P.b, "server", &k->pb), 0);
    k->hl = rn_sock_open(k->pb, RN_SOCK_STREAM, 0);
    assert_true(k->hl > 0);
    assert_int_equal(rn_sock_bind(k->pb, k->hl, &l), 0);
    assert_int_equal(rn_sock_listen(k->pb, k->hl, 4), 0);
    submit(k->pb, RN_SOP_ACCEPT, k->hl, NULL, 0, NULL, &k->rb);
    k->hc = rn_sock_open(k->pa, RN_SOCK_STREAM, 0);
    submit(k->pa, RN_SOP_CONNECT, k->hc, NULL, 0, &to, &k->ra);
    run_for(RN_MSEC(50));
    c = last_of(&k->ra, RN_SOP_CONNECT);
    assert_non_null(c);
    assert_int_equal(c->sc_result, 0);
    c = last_of(&k->rb, RN_SOP_ACCEPT);
    assert_non_null(c);
    assert_true(c->sc_result > 0);
    k->hs = (int)c->sc_result;
    assert_int_equal(c->sc_addr.sin_addr, ADDR_A);
    assert_int_equal(rn_sock_getname(k->pa, k->hc, &local, &remote), 0);
    assert_int_equal(local.sin_addr, ADDR_A);
    assert_int_equal(c->sc_addr.sin_port, local.sin_port);
    assert_int_equal(remote.sin_addr, ADDR_B);
    assert_int_equal(remote.sin_port, port);
    k->ra.n = k->rb.n = 0;
}

/* ---- A transfer through stream sockets ----------------------------------------- */

#define BIG (1u << 20)

struct sink {
    struct rn_proc *sk_proc;
    int sk_h;
    uint8_t *sk_data;
    size_t sk_len;
    uint8_t sk_buf[65536];
    bool sk_eof;
    int sk_err;
};

static struct sink *sink_of;

static void sink_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct sink *sk = sink_of;
    struct rn_sock_req rq = {.sq_op = RN_SOP_RECV, .sq_handle = sk->sk_h, .sq_buf = sk->sk_buf,
                             .sq_len = sizeof(sk->sk_buf)};

    if (c->sc_result < 0) {
        sk->sk_err = (int)c->sc_result;
        return;
    }
    if (c->sc_result == 0) {
        sk->sk_eof = true;
        return;
    }
    assert_true(sk->sk_len + (size_t)c->sc_result <= BIG);
    memcpy(sk->sk_data + sk->sk_len, sk->sk_buf, (size_t)c->sc_result);
    sk->sk_len += (size_t)c->sc_result;
    assert_int_equal(rn_sock_submit(p, &rq, sink_done), 0);
}

static bool rec_has_one(void *ctx)
{
    return ((struct rec *)ctx)->n > 0;
}

static bool sink_finished(void *ctx)
{
    struct sink *sk = ctx;

    return sk->sk_eof || sk->sk_err != 0;
}

static void test_stream_transfer_and_closes(void **state)
{
    struct sink *sk = calloc(1, sizeof(*sk));
    uint8_t *data = malloc(BIG);
    const struct rn_sock_completion *c;
    struct conn k;
    void *so, *conn;
    char desc[160];
    size_t i;

    (void)state;
    assert_non_null(sk);
    assert_non_null(data);
    sk->sk_data = malloc(BIG);
    for (i = 0; i < BIG; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 12));
    pair_up(1500, false);
    connect_pair(&k, 8080);
    sink_of = sk;
    sk->sk_proc = k.pb;
    sk->sk_h = k.hs;
    {
        struct rn_sock_req rq = {.sq_op = RN_SOP_RECV, .sq_handle = k.hs, .sq_buf = sk->sk_buf,
                                 .sq_len = sizeof(sk->sk_buf)};

        assert_int_equal(rn_sock_submit(k.pb, &rq, sink_done), 0);
    }
    /* One request larger than the send buffer: taken in pieces as the
     * window opens, completed once all of it was taken. */
    submit(k.pa, RN_SOP_SEND, k.hc, data, BIG, NULL, &k.ra);
    run_for(RN_MSEC(5));
    assert_int_equal(k.ra.n, 0);
    assert_true(run_while_not(rec_has_one, &k.ra, RN_SEC(60)));
    assert_int_equal(k.ra.c[0].sc_result, (ssize_t)BIG);
    assert_true(sk->sk_len < BIG);  /* still in flight when the request completed */
    /* Half-close: the server reads everything, then the end of data. */
    assert_int_equal(rn_sock_shutdown(k.pa, k.hc, RN_SHUT_WR), 0);
    assert_true(run_while_not(sink_finished, sk, RN_SEC(60)));
    assert_int_equal(sk->sk_err, 0);
    assert_int_equal(sk->sk_len, BIG);
    assert_memory_equal(sk->sk_data, data, BIG);

    /* The client closes first: the close returns at once; its FIN is
     * acknowledged but the server has not closed, so the connection sits
     * in FIN_WAIT_2 and the socket stays "close pending", with its wait
     * visible. */
    so = find_object("socket", "socket #1 tcp 198.18.0.2:");
    assert_non_null(so);
    submit(k.pa, RN_SOP_CLOSE, k.hc, NULL, 0, NULL, &k.ra);
    run_for(RN_SEC(1));
    assert_int_equal(last_of(&k.ra, RN_SOP_CLOSE)->sc_result, 0);
    rn_ob_describe(so, desc, sizeof(desc));
    assert_non_null(strstr(desc, " close pending"));
    assert_true(has_wait_on(rn_ob_id(so), 0, "tcp connection", "close"));
    conn = find_object("tcp connection", "FIN_WAIT_2");
    assert_non_null(conn);
    rn_ob_deref(conn, RN_TAG_LOOKUP);
    /* The server reads the end of data, then closes: both closes finish. */
    submit(k.pb, RN_SOP_CLOSE, k.hs, NULL, 0, NULL, &k.rb);
    run_for(RN_MSEC(50));
    c = last_of(&k.rb, RN_SOP_CLOSE);
    assert_non_null(c);
    assert_int_equal(c->sc_result, 0);
    c = last_of(&k.ra, RN_SOP_CLOSE);
    assert_non_null(c);
    assert_int_equal(c->sc_result, 0);
    assert_false(has_wait_on(rn_ob_id(so), 0, "tcp connection", "close"));
    rn_ob_deref(so, RN_TAG_LOOKUP);
    /* The listener closes at once; an accept pending on it is cancelled. */
    submit(k.pb, RN_SOP_ACCEPT, k.hl, NULL, 0, NULL, &k.rb);
    submit(k.pb, RN_SOP_CLOSE, k.hl, NULL, 0, NULL, &k.rb);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&k.rb, RN_SOP_ACCEPT)->sc_result, RN_ECANCELED);
    assert_int_equal(last_of(&k.rb, RN_SOP_CLOSE)->sc_result, 0);
    rn_proc_exit(k.pa);
    rn_proc_exit(k.pb);
    run_for(RN_MSEC(1));
    pair_down();
    free(sk->sk_data);
    free(sk);
    free(data);
}

static void test_stream_abort_resets_peer(void **state)
{
    uint8_t buf[64];
    struct conn k;

    (void)state;
    pair_up(1500, false);
    connect_pair(&k, 8081);
    submit(k.pb, RN_SOP_RECV, k.hs, buf, sizeof(buf), NULL, &k.rb);
    assert_int_equal(rn_sock_setopt(k.pa, k.hc, RN_SO_LINGER, 0), 0);
    submit(k.pa, RN_SOP_CLOSE, k.hc, NULL, 0, NULL, &k.ra);
    run_for(RN_MSEC(1));
    /* Abortive: complete at once, without waiting for the peer. */
    assert_int_equal(k.ra.n, 1);
    assert_int_equal(k.ra.c[0].sc_result, 0);
    run_for(RN_MSEC(20));
    assert_int_equal(k.rb.n, 1);
    assert_int_equal(k.rb.c[0].sc_result, RN_ECONNRESET);
    rn_proc_exit(k.pa);
    rn_proc_exit(k.pb);
    run_for(RN_MSEC(1));
    pair_down();
}

static void test_stream_refused_and_options(void **state)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 9999};
    struct rn_proc *p;
    struct rec r = {0};
    int64_t v;
    int h;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_proc_create(P.a, "client", &p), 0);
    h = rn_sock_open(p, RN_SOCK_STREAM, 0);
    assert_int_equal(rn_sock_getopt(p, h, RN_SO_TYPE, &v), 0);
    assert_int_equal(v, RN_SOCK_STREAM);
    assert_int_equal(rn_sock_setopt(p, h, RN_TCP_NODELAY, 1), 0);
    assert_int_equal(rn_sock_getopt(p, h, RN_TCP_NODELAY, &v), 0);
    assert_int_equal(v, 1);
    /* As Linux: too small is raised to the floor, and what is set reads
     * back doubled. */
    assert_int_equal(rn_sock_setopt(p, h, RN_SO_RCVBUF, 100), 0);
    assert_int_equal(rn_sock_getopt(p, h, RN_SO_RCVBUF, &v), 0);
    assert_int_equal(v, 2304);
    assert_int_equal(rn_sock_setopt(p, h, RN_SO_RCVBUF, 65536), 0);
    assert_int_equal(rn_sock_getopt(p, h, RN_SO_RCVBUF, &v), 0);
    assert_int_equal(v, 131072);
    /* Not connected yet. */
    submit(p, RN_SOP_SEND, h, &v, 1, NULL, &r);
    submit(p, RN_SOP_CONNECT, h, NULL, 0, &to, &r);
    run_for(RN_MSEC(50));
    assert_int_equal(r.n, 2);
    assert_int_equal(r.c[0].sc_result, RN_ENOTCONN);
    assert_int_equal(r.c[1].sc_op, RN_SOP_CONNECT);
    assert_int_equal(r.c[1].sc_result, RN_ECONNREFUSED);
    submit(p, RN_SOP_CLOSE, h, NULL, 0, NULL, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(r.c[2].sc_result, 0);
    /* A stream socket that never connected closes at once. */
    h = rn_sock_open(p, RN_SOCK_STREAM, 0);
    submit(p, RN_SOP_CLOSE, h, NULL, 0, NULL, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(r.c[3].sc_result, 0);
    rn_proc_exit(p);
    run_for(RN_MSEC(1));
    pair_down();
}

/* The case refnet is built for, with the real layers: a server process
 * exits while a leaked enumeration reference pins its TCP listener; the
 * exit stays pending, and the watchdog names the chain and the holder. */
static void test_watchdog_names_the_stuck_exit(void **state)
{
    struct rn_sockaddr_in l = {.sin_addr = 0, .sin_port = 80};
    struct rn_strbuf out = RN_STRBUF_INIT;
    struct rn_watchdog *wd;
    struct rn_proc *p;
    void *listener, *pr;
    const char *text;
    int h;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_proc_create(P.b, "httpd", &p), 0);
    h = rn_sock_open(p, RN_SOCK_STREAM, 0);
    assert_int_equal(rn_sock_bind(p, h, &l), 0);
    assert_int_equal(rn_sock_listen(p, h, 16), 0);
    listener = find_object("tcp listener", "0.0.0.0:80");
    assert_non_null(listener);
    rn_ob_ref(listener, RN_TAG_ENUM);  /* the leak */
    rn_ob_deref(listener, RN_TAG_LOOKUP);
    pr = p;
    rn_ob_ref(pr, RN_TAG_LOOKUP);
    wd = rn_watchdog_new(RN_SEC(10));
    assert_non_null(wd);
    capture_begin();
    rn_proc_exit(p);
    run_for(RN_SEC(5));
    assert_int_equal(rn_watchdog_check(wd, &out), 0);
    run_for(RN_SEC(6));
    assert_true(rn_watchdog_check(wd, &out) > 0);
    capture_end();
    text = rn_strbuf_str(&out);
    assert_non_null(strstr(text, "process httpd"));
    assert_non_null(strstr(text, "terminating, 1 of 1 handle cleanups pending"));
    assert_non_null(strstr(text, "socket #1 tcp 0.0.0.0:80 close pending"));
    assert_non_null(strstr(text, "tcp listener 0.0.0.0:80"));
    assert_non_null(strstr(text, "enum"));
    if (getenv("REFNET_TEST_VERBOSE") != NULL)
        fprintf(stderr, "%s", text);
    /* The holder lets go: the exit completes. */
    rn_ob_deref(listener, RN_TAG_ENUM);
    run_for(RN_MSEC(10));
    assert_int_equal(rn_ob_state(pr), RN_OB_DYING);
    rn_ob_deref(pr, RN_TAG_LOOKUP);
    rn_watchdog_free(wd);
    rn_strbuf_free(&out);
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_transfer_and_closes),
        cmocka_unit_test(test_stream_abort_resets_peer),
        cmocka_unit_test(test_stream_refused_and_options),
        cmocka_unit_test(test_watchdog_names_the_stuck_exit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
