/*
 * The socket semantics a POSIX program expects (socket.h, "Non-blocking
 * handles and ioctls"; docs/sockets.md), on the two-stack pair in virtual
 * time, through requests and the immediate calls:
 *
 *   - non-blocking handles: receive and accept answer EAGAIN, a connect
 *     EINPROGRESS, then the handle turns writable and SO_ERROR says how it
 *     went (0, or ECONNREFUSED as an errno value); connecting again answers
 *     EALREADY while it goes on and EISCONN once up; F_GETFL/F_SETFL;
 *     accept with RN_SOCK_NONBLOCK;
 *   - close returns at once, the number is free, the socket stays its
 *     process's while its connection runs down; SO_LINGER > 0 waits for the
 *     FIN's acknowledgement, at most the linger time, then resets;
 *   - MSG_PEEK and MSG_WAITALL on a stream, SO_RCVLOWAT for receives and
 *     readiness, POLLRDHUP once the peer shut its sending side;
 *   - FIONREAD and SIOCOUTQ; SO_ACCEPTCONN, SO_TYPE; unknown types and
 *     protocols refused as Linux refuses them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/link.h"
#include "refnet/socket.h"
#include "support.h"

#define PORT 7300

/* A connected pair of TCP handles: c on a, s on b (accepted), and the
 * listener l on b. */
struct conn {
    int c, s, l;
    struct rec ra, rb;
};

static void connect_pair(struct conn *k, bool nonblocking_client)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = PORT};
    int err;

    memset(k, 0, sizeof(*k));
    k->l = tcp_listening(P.pb, PORT, &err);
    assert_int_equal(err, 0);
    k->c = rn_sock_open(P.pa, RN_SOCK_STREAM | (nonblocking_client ? RN_SOCK_NONBLOCK : 0), 0);
    assert_true(k->c > 0);
    submit(P.pb, RN_SOP_ACCEPT, k->l, NULL, 0, NULL, &k->rb);
    submit(P.pa, RN_SOP_CONNECT, k->c, NULL, 0, &to, &k->ra);
    run_for(RN_MSEC(20));
    k->s = (int)last_of(&k->rb, RN_SOP_ACCEPT)->sc_result;
    assert_true(k->s > 0);
}

static ssize_t send_now(struct rn_proc *p, int h, const char *data, struct rec *r)
{
    submit(p, RN_SOP_SEND, h, (void *)data, strlen(data), NULL, r);
    run_for(RN_MSEC(5));
    return last_of(r, RN_SOP_SEND)->sc_result;
}

static void test_nonblocking_connect_accept_recv(void **state)
{
    struct rn_sockaddr_in open_port = {.sin_addr = ADDR_B, .sin_port = PORT}, closed_port = {.sin_addr = ADDR_B, .sin_port = PORT + 1};
    struct rn_sockaddr_in nobody = {.sin_addr = 0xc6120063u, .sin_port = PORT};  /* 198.18.0.99: never answers */
    struct rec r = {0};
    uint8_t buf[16];
    int64_t v;
    int l, h, err;

    (void)state;
    pair_up_with(&(struct pair_params){.pp_procs = true});
    l = tcp_listening(P.pb, PORT, &err);
    assert_int_equal(err, 0);
    assert_int_equal(rn_sock_fcntl(P.pb, l, RN_F_SETFL, RN_O_NONBLOCK), 0);
    assert_int_equal(rn_sock_fcntl(P.pb, l, RN_F_GETFL, 0), RN_O_RDWR | RN_O_NONBLOCK);
    /* Accept on an empty queue: EAGAIN at once. */
    submit(P.pb, RN_SOP_ACCEPT, l, NULL, 0, NULL, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&r, RN_SOP_ACCEPT)->sc_result, RN_EAGAIN);
    /* Connect to an open port: EINPROGRESS, then writable and SO_ERROR 0;
     * the next connect reports the finished connect (0), as Linux does,
     * and one after it EISCONN. */
    h = rn_sock_open(P.pa, RN_SOCK_STREAM | RN_SOCK_NONBLOCK, 0);
    assert_int_equal(rn_sock_fcntl(P.pa, h, RN_F_GETFL, 0), RN_O_RDWR | RN_O_NONBLOCK);
    submit(P.pa, RN_SOP_CONNECT, h, NULL, 0, &open_port, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&r, RN_SOP_CONNECT)->sc_result, RN_EINPROGRESS);
    run_for(RN_MSEC(20));
    assert_true(rn_sock_ready(P.pa, h) & RN_POLLOUT);
    assert_int_equal(rn_sock_getopt(P.pa, h, RN_SO_ERROR, &v), 0);
    assert_int_equal(v, 0);
    submit(P.pa, RN_SOP_CONNECT, h, NULL, 0, &open_port, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&r, RN_SOP_CONNECT)->sc_result, 0);
    submit(P.pa, RN_SOP_CONNECT, h, NULL, 0, &open_port, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&r, RN_SOP_CONNECT)->sc_result, RN_EISCONN);
    /* A receive with nothing queued: EAGAIN. */
    submit(P.pa, RN_SOP_RECV, h, buf, sizeof(buf), NULL, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&r, RN_SOP_RECV)->sc_result, RN_EAGAIN);
    /* The connection waits on the listener: accept with NONBLOCK gives a
     * non-blocking handle. */
    submit_flags(P.pb, RN_SOP_ACCEPT, l, NULL, 0, NULL, RN_SOCK_NONBLOCK, &r);
    run_for(RN_MSEC(1));
    assert_true(last_of(&r, RN_SOP_ACCEPT)->sc_result > 0);
    assert_int_equal(rn_sock_fcntl(P.pb, (int)last_of(&r, RN_SOP_ACCEPT)->sc_result, RN_F_GETFL,
                                   0),
                     RN_O_RDWR | RN_O_NONBLOCK);
    /* Back to blocking: F_SETFL 0. */
    assert_int_equal(rn_sock_fcntl(P.pa, h, RN_F_SETFL, 0), 0);
    assert_int_equal(rn_sock_fcntl(P.pa, h, RN_F_GETFL, 0), RN_O_RDWR);
    assert_int_equal(rn_sock_fcntl(P.pa, h, 99, 0), RN_EINVAL);
    assert_int_equal(rn_sock_fcntl(P.pa, 999, RN_F_GETFL, 0), RN_EBADF);

    /* A closed port: EINPROGRESS, then an error: SO_ERROR is ECONNREFUSED,
     * as an errno value, and reading it clears it. */
    h = rn_sock_open(P.pa, RN_SOCK_STREAM | RN_SOCK_NONBLOCK, 0);
    submit(P.pa, RN_SOP_CONNECT, h, NULL, 0, &closed_port, &r);
    run_for(RN_MSEC(20));
    assert_int_equal(last_of(&r, RN_SOP_CONNECT)->sc_result, RN_EINPROGRESS);
    assert_true(rn_sock_ready(P.pa, h) & RN_POLLERR);
    assert_int_equal(rn_sock_getopt(P.pa, h, RN_SO_ERROR, &v), 0);
    assert_int_equal(v, rn_err_to_errno(RN_ECONNREFUSED));
    assert_int_equal(rn_sock_getopt(P.pa, h, RN_SO_ERROR, &v), 0);
    assert_int_equal(v, 0);

    /* An address that never answers: in progress, and connecting again
     * says so. */
    h = rn_sock_open(P.pa, RN_SOCK_STREAM | RN_SOCK_NONBLOCK, 0);
    submit(P.pa, RN_SOP_CONNECT, h, NULL, 0, &nobody, &r);
    run_for(RN_MSEC(100));
    assert_int_equal(last_of(&r, RN_SOP_CONNECT)->sc_result, RN_EINPROGRESS);
    submit(P.pa, RN_SOP_CONNECT, h, NULL, 0, &nobody, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&r, RN_SOP_CONNECT)->sc_result, RN_EALREADY);
    assert_false(rn_sock_ready(P.pa, h) & RN_POLLOUT);
    pair_down();
}

static bool no_connection(void *ctx)
{
    (void)ctx;
    return count_type("tcp connection") == 0;
}

static void test_close_returns_at_once(void **state)
{
    struct conn k;
    int h;

    (void)state;
    pair_up_with(&(struct pair_params){.pp_procs = true});
    connect_pair(&k, false);
    /* The client closes: the close completes at once and its number is
     * free; the connection runs down behind it (FIN_WAIT_2: the server has
     * not closed), and the process still counts the closing socket. */
    submit(P.pa, RN_SOP_CLOSE, k.c, NULL, 0, NULL, &k.ra);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&k.ra, RN_SOP_CLOSE)->sc_result, 0);
    assert_int_equal(rn_sock_ready(P.pa, k.c), RN_POLLNVAL);
    h = rn_sock_open(P.pa, RN_SOCK_DGRAM, 0);
    assert_int_equal(h, k.c);
    assert_int_equal(rn_proc_handles(P.pa), 2);
    run_for(RN_MSEC(20));
    assert_int_equal(count_objects("tcp connection", "FIN_WAIT_2"), 1);
    assert_int_equal(count_objects("socket", "close pending"), 0);  /* dying: not listed live */
    assert_int_equal(count_type("socket"), 4);  /* listener, server, UDP, the closing one */
    /* The server closes: both connections are released, and with them the
     * closing socket. */
    submit(P.pb, RN_SOP_CLOSE, k.s, NULL, 0, NULL, &k.rb);
    assert_true(run_while_not(no_connection, NULL, RN_SEC(5)));
    assert_int_equal(count_type("socket"), 2);
    assert_int_equal(rn_proc_handles(P.pa), 1);
    pair_down();
}

static void test_linger(void **state)
{
    struct conn k;
    struct rec r = {0};
    uint8_t buf[64];

    (void)state;
    /* SO_LINGER 0: the close resets the connection; the peer's receive
     * fails with ECONNRESET. */
    pair_up_with(&(struct pair_params){.pp_procs = true});
    connect_pair(&k, false);
    assert_int_equal(rn_sock_setopt(P.pa, k.c, RN_SO_LINGER, 0), 0);
    submit(P.pb, RN_SOP_RECV, k.s, buf, sizeof(buf), NULL, &r);
    submit(P.pa, RN_SOP_CLOSE, k.c, NULL, 0, NULL, &k.ra);
    run_for(RN_MSEC(20));
    assert_int_equal(last_of(&k.ra, RN_SOP_CLOSE)->sc_result, 0);
    assert_int_equal(last_of(&r, RN_SOP_RECV)->sc_result, RN_ECONNRESET);
    pair_down();

    /* SO_LINGER 5: the close waits for the FIN's acknowledgement (one
     * round trip), not for the peer's close. */
    pair_up_with(&(struct pair_params){.pp_procs = true});
    connect_pair(&k, false);
    assert_int_equal(rn_sock_setopt(P.pa, k.c, RN_SO_LINGER, 5), 0);
    submit(P.pa, RN_SOP_CLOSE, k.c, NULL, 0, NULL, &k.ra);
    run_for(RN_MSEC(1));
    assert_null(last_of(&k.ra, RN_SOP_CLOSE));
    run_for(RN_MSEC(50));
    assert_int_equal(last_of(&k.ra, RN_SOP_CLOSE)->sc_result, 0);
    assert_int_equal(count_objects("tcp connection", "FIN_WAIT_2"), 1);
    pair_down();

    /* SO_LINGER 1 with a peer that acknowledges nothing (everything b
     * sends is lost from now on): after a second the close gives up and
     * resets the connection. */
    pair_up_with(&(struct pair_params){.pp_procs = true, .pp_fault_ba = "drop=0%,seed=3"});
    connect_pair(&k, false);
    {
        struct rn_link *fault = rn_link_find(rn_iface_link(P.ifb), "fault");
        struct rn_fault_params fp;
        char err[RN_LINK_ERRLEN];

        assert_non_null(fault);
        assert_int_equal(rn_fault_parse("drop=100%,seed=3", &fp, err, sizeof(err)), 0);
        assert_int_equal(rn_link_fault_set_params(fault, &fp), 0);
    }
    assert_int_equal(rn_sock_setopt(P.pa, k.c, RN_SO_LINGER, 1), 0);
    submit(P.pa, RN_SOP_CLOSE, k.c, NULL, 0, NULL, &k.ra);
    run_for(RN_MSEC(900));
    assert_null(last_of(&k.ra, RN_SOP_CLOSE));
    assert_int_equal(count_objects("tcp connection", "FIN_WAIT_1"), 1);
    run_for(RN_MSEC(200));
    assert_int_equal(last_of(&k.ra, RN_SOP_CLOSE)->sc_result, 0);
    pair_down();
}

static void test_peek_waitall_lowat_rdhup(void **state)
{
    struct conn k;
    struct rec r = {0};
    char buf[64];
    int v;

    (void)state;
    pair_up_with(&(struct pair_params){.pp_procs = true});
    connect_pair(&k, false);
    /* FIONREAD and SIOCOUTQ: nothing yet; a listener refuses. */
    assert_int_equal(rn_sock_ioctl(P.pb, k.s, RN_FIONREAD, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(rn_sock_ioctl(P.pb, k.l, RN_FIONREAD, &v), RN_EINVAL);
    assert_int_equal(rn_sock_ioctl(P.pb, k.s, 0x1234, &v), RN_ENOTTY);
    assert_int_equal(send_now(P.pa, k.c, "hello", &k.ra), 5);
    assert_int_equal(rn_sock_ioctl(P.pb, k.s, RN_FIONREAD, &v), 0);
    assert_int_equal(v, 5);
    /* Peek leaves the data; a read then takes the same bytes. */
    memset(buf, 0, sizeof(buf));
    submit_flags(P.pb, RN_SOP_RECV, k.s, buf, sizeof(buf), NULL, RN_MSG_PEEK, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&r, RN_SOP_RECV)->sc_result, 5);
    assert_string_equal(buf, "hello");
    memset(buf, 0, sizeof(buf));
    submit(P.pb, RN_SOP_RECV, k.s, buf, 3, NULL, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&r, RN_SOP_RECV)->sc_result, 3);
    assert_string_equal(buf, "hel");
    /* WAITALL waits for the whole length, across segments. */
    memset(buf, 0, sizeof(buf));
    submit_flags(P.pb, RN_SOP_RECV, k.s, buf, 8, NULL, RN_MSG_WAITALL, &r);
    run_for(RN_MSEC(5));
    assert_int_equal(r.n, 2);  /* still waiting with "lo" */
    assert_int_equal(send_now(P.pa, k.c, "abc", &k.ra), 3);
    assert_int_equal(r.n, 2);
    assert_int_equal(send_now(P.pa, k.c, "defgh", &k.ra), 5);
    assert_int_equal(last_of(&r, RN_SOP_RECV)->sc_result, 8);
    assert_string_equal(buf, "loabcdef");
    /* SO_RCVLOWAT 4: "gh" is not enough to be readable or to complete. */
    assert_int_equal(rn_sock_setopt(P.pb, k.s, RN_SO_RCVLOWAT, 4), 0);
    assert_false(rn_sock_ready(P.pb, k.s) & RN_POLLIN);
    memset(buf, 0, sizeof(buf));
    submit(P.pb, RN_SOP_RECV, k.s, buf, sizeof(buf), NULL, &r);
    run_for(RN_MSEC(5));
    assert_int_equal(r.n, 3);
    assert_int_equal(send_now(P.pa, k.c, "ij", &k.ra), 2);
    assert_int_equal(last_of(&r, RN_SOP_RECV)->sc_result, 4);
    assert_string_equal(buf, "ghij");
    /* The peer shuts its sending side: readable, RDHUP, and a receive
     * returns the end of data even below the low-water mark. */
    assert_false(rn_sock_ready(P.pb, k.s) & RN_POLLRDHUP);
    assert_int_equal(send_now(P.pa, k.c, "k", &k.ra), 1);
    assert_int_equal(rn_sock_shutdown(P.pa, k.c, RN_SHUT_WR), 0);
    run_for(RN_MSEC(5));
    assert_true(rn_sock_ready(P.pb, k.s) & RN_POLLRDHUP);
    assert_true(rn_sock_ready(P.pb, k.s) & RN_POLLIN);
    submit(P.pb, RN_SOP_RECV, k.s, buf, sizeof(buf), NULL, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&r, RN_SOP_RECV)->sc_result, 1);
    submit(P.pb, RN_SOP_RECV, k.s, buf, sizeof(buf), NULL, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&r, RN_SOP_RECV)->sc_result, 0);
    /* A send after shutting the sending side: EPIPE. */
    submit(P.pa, RN_SOP_SEND, k.c, "x", 1, NULL, &k.ra);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&k.ra, RN_SOP_SEND)->sc_result, RN_EPIPE);
    pair_down();
}

static void test_outq_and_options(void **state)
{
    static char big[200000];
    struct conn k;
    int64_t v;
    int out, h;

    (void)state;
    pair_up_with(&(struct pair_params){.pp_procs = true});
    connect_pair(&k, false);
    /* SIOCOUTQ counts what the peer has not acknowledged yet: right after
     * a send, all of it. */
    submit(P.pa, RN_SOP_SEND, k.c, big, 20000, NULL, &k.ra);
    poll_both();
    assert_int_equal(rn_sock_ioctl(P.pa, k.c, RN_SIOCOUTQ, &out), 0);
    assert_true(out > 0 && out <= 20000);
    run_for(RN_MSEC(50));
    assert_int_equal(rn_sock_ioctl(P.pa, k.c, RN_SIOCOUTQ, &out), 0);
    assert_int_equal(out, 0);
    /* SO_ACCEPTCONN and SO_TYPE, read-only. */
    assert_int_equal(rn_sock_getopt(P.pb, k.l, RN_SO_ACCEPTCONN, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(rn_sock_getopt(P.pb, k.s, RN_SO_ACCEPTCONN, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(rn_sock_setopt(P.pb, k.l, RN_SO_ACCEPTCONN, 0), RN_ENOPROTOOPT);
    assert_int_equal(rn_sock_getopt(P.pb, k.s, RN_SO_TYPE, &v), 0);
    assert_int_equal(v, RN_SOCK_STREAM);
    /* UDP: FIONREAD is the next datagram's size. */
    h = udp_bound(P.pb, 7400);
    {
        struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 7400};
        int u = rn_sock_open(P.pa, RN_SOCK_DGRAM, 0);
        struct rec r = {0};

        submit(P.pa, RN_SOP_SEND, u, big, 700, &to, &r);
        submit(P.pa, RN_SOP_SEND, u, big, 300, &to, &r);
        run_for(RN_MSEC(5));
        assert_int_equal(rn_sock_ioctl(P.pb, h, RN_FIONREAD, &out), 0);
        assert_int_equal(out, 700);
    }
    /* What Linux refuses at open. */
    assert_int_equal(rn_sock_open(P.pa, 7, 0), RN_EINVAL);
    assert_int_equal(rn_sock_open(P.pa, RN_SOCK_STREAM, RN_IPPROTO_UDP), RN_EPROTONOSUPPORT);
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonblocking_connect_accept_recv),
        cmocka_unit_test(test_close_returns_at_once),
        cmocka_unit_test(test_linger),
        cmocka_unit_test(test_peek_waitall_lowat_rdhup),
        cmocka_unit_test(test_outq_and_options),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
