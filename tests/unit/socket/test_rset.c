/*
 * Readiness sets (readiness.h) on the two-stack pair, in virtual time:
 * level-triggered, edge-triggered and one-shot registrations of UDP and
 * TCP sockets (datagrams and bytes arriving and read in part, the peer's
 * FIN as RN_POLLRDHUP, a connect completing as RN_POLLOUT, a listener's
 * connections to accept, errors reported unasked), the control calls'
 * errors as Linux gives them, a socket closed while in a set, the set
 * closed and its process exiting with waits pending, wait requests with
 * timeouts, the eventfd, and what `refnet objects` shows of it all.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/readiness.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "support.h"

/* ---- Helpers ------------------------------------------------------------- */

static void procs_up(void)
{
    struct pair_params pp = {.pp_procs = true};

    pair_up_with(&pp);
}

/* Registers h in set as op with events and a 64-bit value; asserts rc. */
static int ctl(int set, int op, int h, uint32_t events, uint64_t value)
{
    struct rn_rset_event ev = {.re_events = events, .re_data.rd_u64 = value};

    return rn_rset_ctl(P.pa, set, op, h, &ev);
}

/* Takes what set has ready now, on the loop thread. */
static int ready_now(int set, struct rn_rset_event *out, unsigned max)
{
    return rn_rset_wait(P.pa, set, out, max);
}

/* b sends a datagram of len bytes to a's port. */
static void datagram_to_a(uint16_t port, size_t len)
{
    static uint8_t payload[2000];
    struct rn_sockaddr_in to = {.sin_addr = ADDR_A, .sin_port = port};
    struct rec r = {0};
    int hb = rn_sock_open(P.pb, RN_SOCK_DGRAM, 0);

    assert_true(hb > 0);
    submit(P.pb, RN_SOP_SEND, hb, payload, len, &to, &r);
    run_for(RN_MSEC(5));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.c[0].sc_result, (ssize_t)len);
}

/* a receives up to len bytes on h; returns the result. */
static ssize_t recv_on_a(int h, size_t len)
{
    static uint8_t buf[65536];
    struct rec r = {0};

    submit_flags(P.pa, RN_SOP_RECV, h, buf, len, NULL, RN_MSG_DONTWAIT, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(r.n, 1);
    return r.c[0].sc_result;
}

/* A TCP connection: a's handle *ha connected to b's *hb, accepted from
 * b's listener *hl on port. */
static void tcp_pair(uint16_t port, int *hl, int *ha, int *hb)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = port};
    const struct rn_sock_completion *c;
    struct rec r = {0};
    int err;

    *hl = tcp_listening(P.pb, port, &err);
    assert_int_equal(err, 0);
    *ha = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    assert_true(*ha > 0);
    submit(P.pa, RN_SOP_CONNECT, *ha, NULL, 0, &to, &r);
    submit(P.pb, RN_SOP_ACCEPT, *hl, NULL, 0, NULL, &r);
    run_for(RN_MSEC(20));
    c = last_of(&r, RN_SOP_CONNECT);
    assert_non_null(c);
    assert_int_equal(c->sc_result, 0);
    c = last_of(&r, RN_SOP_ACCEPT);
    assert_non_null(c);
    assert_true(c->sc_result > 0);
    *hb = (int)c->sc_result;
}

/* b sends len bytes on its connection hb. */
static void bytes_to_a(int hb, size_t len)
{
    static uint8_t payload[8192];
    struct rec r = {0};

    assert_true(len <= sizeof(payload));
    submit(P.pb, RN_SOP_SEND, hb, payload, len, NULL, &r);
    run_for(RN_MSEC(10));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.c[0].sc_result, (ssize_t)len);
}

/* a sends len bytes on its connection ha; they are acknowledged. */
static void bytes_from_a(int ha, size_t len)
{
    static uint8_t payload[8192];
    struct rec r = {0};

    assert_true(len <= sizeof(payload));
    submit(P.pa, RN_SOP_SEND, ha, payload, len, NULL, &r);
    run_for(RN_MSEC(250));  /* past b's delayed acknowledgement */
    assert_int_equal(r.n, 1);
    assert_int_equal(r.c[0].sc_result, (ssize_t)len);
}

/* The first live readiness set's description. */
static void set_describe(char *buf, size_t len)
{
    void *ob = find_object("readiness set", "readiness set #");

    assert_non_null(ob);
    rn_ob_describe(ob, buf, len);
    rn_ob_deref(ob, RN_TAG_LOOKUP);
}

/* The count the socket of a's handle h has under "readiness-set". */
static uint32_t set_holds_on(const char *needle)
{
    void *so = find_object("socket", needle);
    uint32_t n;

    assert_non_null(so);
    n = ledger_count(so, rn_tag_intern("readiness-set"));
    rn_ob_deref(so, RN_TAG_LOOKUP);
    return n;
}

static void procs_down(void)
{
    pair_down();
}

/* ---- Level, edge, one-shot with UDP ---------------------------------------- */

static void test_level_triggered_udp(void **state)
{
    struct rn_rset_event ev[8];
    char desc[128];
    int h, set;

    (void)state;
    procs_up();
    h = udp_bound(P.pa, 5000);
    set = rn_rset_create(P.pa, 0);
    assert_int_equal(set, h + 1);
    assert_int_equal(ctl(set, RN_RSET_ADD, h, RN_POLLIN, 0x1234), 0);
    assert_int_equal(ready_now(set, ev, 8), 0);
    datagram_to_a(5000, 100);
    datagram_to_a(5000, 200);
    /* Reported by every wait while readable. */
    assert_int_equal(ready_now(set, ev, 8), 1);
    assert_int_equal(ev[0].re_events, RN_POLLIN);
    assert_int_equal(ev[0].re_data.rd_u64, 0x1234);
    assert_int_equal(ready_now(set, ev, 8), 1);
    assert_int_equal(recv_on_a(h, 2000), 100);
    assert_int_equal(ready_now(set, ev, 8), 1);
    assert_int_equal(recv_on_a(h, 2000), 200);
    assert_int_equal(ready_now(set, ev, 8), 0);
    set_describe(desc, sizeof(desc));
    assert_string_equal(desc, "readiness set #2 1 sockets, 0 ready, 0 waiting");
    assert_int_equal(set_holds_on(":5000"), 1);
    /* Asking for writability too: a UDP socket always is. */
    assert_int_equal(ctl(set, RN_RSET_MOD, h, RN_POLLIN | RN_POLLOUT, 7), 0);
    assert_int_equal(ready_now(set, ev, 8), 1);
    assert_int_equal(ev[0].re_events, RN_POLLOUT);
    assert_int_equal(ev[0].re_data.rd_u64, 7);
    assert_int_equal(ready_now(set, ev, 8), 1);
    /* The set's handle takes fcntl's flags as a socket's does; a wait
     * never blocks on its own, so they change nothing else. */
    assert_int_equal(rn_sock_fcntl(P.pa, set, RN_F_GETFL, 0), RN_O_RDWR);
    assert_int_equal(rn_sock_fcntl(P.pa, set, RN_F_SETFL, RN_O_NONBLOCK), 0);
    assert_int_equal(rn_sock_fcntl(P.pa, set, RN_F_GETFL, 0), RN_O_RDWR | RN_O_NONBLOCK);
    assert_int_equal(ready_now(set, ev, 8), 1);
    procs_down();
}

static void test_edge_triggered_udp(void **state)
{
    struct rn_rset_event ev[8];
    int h, set;

    (void)state;
    procs_up();
    h = udp_bound(P.pa, 5001);
    set = rn_rset_create(P.pa, 0);
    assert_int_equal(ctl(set, RN_RSET_ADD, h, RN_POLLIN | RN_RSET_ET, 1), 0);
    datagram_to_a(5001, 10);
    datagram_to_a(5001, 20);
    /* Once, though both datagrams are still queued. */
    assert_int_equal(ready_now(set, ev, 8), 1);
    assert_int_equal(ev[0].re_events, RN_POLLIN);
    assert_int_equal(ready_now(set, ev, 8), 0);
    /* Reading in part makes no new edge. */
    assert_int_equal(recv_on_a(h, 2000), 10);
    assert_int_equal(ready_now(set, ev, 8), 0);
    /* A new arrival does, while the old one still waits, as EPOLLET. */
    datagram_to_a(5001, 30);
    assert_int_equal(ready_now(set, ev, 8), 1);
    assert_int_equal(ready_now(set, ev, 8), 0);
    assert_int_equal(recv_on_a(h, 2000), 20);
    assert_int_equal(recv_on_a(h, 2000), 30);
    assert_int_equal(recv_on_a(h, 2000), RN_EAGAIN);
    /* Drained, then a datagram: an edge. */
    datagram_to_a(5001, 40);
    assert_int_equal(ready_now(set, ev, 8), 1);
    assert_int_equal(ev[0].re_data.rd_u64, 1);
    /* Registered while ready: reported once. */
    assert_int_equal(ctl(set, RN_RSET_MOD, h, RN_POLLIN | RN_POLLOUT | RN_RSET_ET, 2), 0);
    assert_int_equal(ready_now(set, ev, 8), 1);
    assert_int_equal(ev[0].re_events, RN_POLLIN | RN_POLLOUT);
    assert_int_equal(ready_now(set, ev, 8), 0);
    procs_down();
}

static void test_oneshot(void **state)
{
    struct rn_rset_event ev[8];
    int h, set;

    (void)state;
    procs_up();
    h = udp_bound(P.pa, 5002);
    set = rn_rset_create(P.pa, 0);
    assert_int_equal(ctl(set, RN_RSET_ADD, h, RN_POLLIN | RN_RSET_ONESHOT, 9), 0);
    datagram_to_a(5002, 10);
    assert_int_equal(ready_now(set, ev, 8), 1);
    assert_int_equal(ev[0].re_data.rd_u64, 9);
    /* Disabled: neither the queued datagram nor a new one is reported. */
    assert_int_equal(ready_now(set, ev, 8), 0);
    datagram_to_a(5002, 20);
    assert_int_equal(ready_now(set, ev, 8), 0);
    /* Re-armed by MOD: ready, so reported, once. */
    assert_int_equal(ctl(set, RN_RSET_MOD, h, RN_POLLIN | RN_RSET_ONESHOT, 10), 0);
    assert_int_equal(ready_now(set, ev, 8), 1);
    assert_int_equal(ev[0].re_data.rd_u64, 10);
    assert_int_equal(ready_now(set, ev, 8), 0);
    /* A disarmed registration is still in the set. */
    assert_int_equal(ctl(set, RN_RSET_ADD, h, RN_POLLIN, 0), RN_EEXIST);
    assert_int_equal(ctl(set, RN_RSET_DEL, h, 0, 0), 0);
    assert_int_equal(ctl(set, RN_RSET_DEL, h, 0, 0), RN_ENOENT);
    procs_down();
}

/* A local shutdown changes readiness without the transport's word: the
 * set hears of it too, and a wait pending on it completes. */
static void test_local_shutdown(void **state)
{
    struct rn_rset_event ev[4];
    struct rec r = {0};
    int h, set;
    struct rn_sock_req rq = {.sq_op = RN_SOP_RSET_WAIT, .sq_buf = ev, .sq_len = sizeof(ev),
                             .sq_user = &r};

    (void)state;
    procs_up();
    h = udp_bound(P.pa, 5003);
    set = rn_rset_create(P.pa, 0);
    assert_int_equal(ctl(set, RN_RSET_ADD, h, RN_POLLIN | RN_RSET_ET, 8), 0);
    rq.sq_handle = set;
    assert_int_equal(rn_sock_submit(P.pa, &rq, rec_fn), 0);
    run_for(RN_MSEC(1));
    assert_int_equal(r.n, 0);
    /* Unconnected: ENOTCONN, but shut all the same, as Linux. */
    assert_int_equal(rn_sock_shutdown(P.pa, h, RN_SHUT_RD), RN_ENOTCONN);
    run_for(RN_MSEC(1));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.c[0].sc_result, 1);
    assert_int_equal(ev[0].re_events, RN_POLLIN);
    assert_int_equal(ev[0].re_data.rd_u64, 8);
    /* Both directions shut: a hang-up, reported unasked. */
    assert_int_equal(rn_sock_shutdown(P.pa, h, RN_SHUT_WR), RN_ENOTCONN);
    assert_int_equal(ready_now(set, ev, 4), 1);
    assert_int_equal(ev[0].re_events, RN_POLLIN | RN_POLLHUP);
    procs_down();
}

/* Level-triggered registrations take turns when a wait has room for
 * fewer than are ready. */
static void test_level_round_robin(void **state)
{
    struct rn_rset_event ev[2];
    int h[3], set, i;

    (void)state;
    procs_up();
    set = rn_rset_create(P.pa, 0);
    for (i = 0; i < 3; i++) {
        h[i] = udp_bound(P.pa, (uint16_t)(5010 + i));
        assert_int_equal(ctl(set, RN_RSET_ADD, h[i], RN_POLLIN, (uint64_t)i), 0);
        datagram_to_a((uint16_t)(5010 + i), 8);
    }
    assert_int_equal(ready_now(set, ev, 2), 2);
    assert_int_equal(ev[0].re_data.rd_u64, 0);
    assert_int_equal(ev[1].re_data.rd_u64, 1);
    assert_int_equal(ready_now(set, ev, 2), 2);
    assert_int_equal(ev[0].re_data.rd_u64, 2);
    assert_int_equal(ev[1].re_data.rd_u64, 0);
    procs_down();
}

/* ---- TCP ---------------------------------------------------------------------- */

static void test_tcp_partial_read_level_and_edge(void **state)
{
    struct rn_rset_event ev[4];
    int hl, ha, hb, lt, et;

    (void)state;
    procs_up();
    tcp_pair(6000, &hl, &ha, &hb);
    /* One socket in two sets. */
    lt = rn_rset_create(P.pa, 0);
    et = rn_rset_create(P.pa, 0);
    assert_int_equal(ctl(lt, RN_RSET_ADD, ha, RN_POLLIN, 1), 0);
    assert_int_equal(ctl(et, RN_RSET_ADD, ha, RN_POLLIN | RN_RSET_ET, 2), 0);
    assert_int_equal(set_holds_on("tcp 198.18.0.2"), 2);
    assert_int_equal(ready_now(lt, ev, 4), 0);
    assert_int_equal(ready_now(et, ev, 4), 0);
    bytes_to_a(hb, 1000);
    assert_int_equal(ready_now(lt, ev, 4), 1);
    assert_int_equal(ev[0].re_events, RN_POLLIN);
    assert_int_equal(ready_now(et, ev, 4), 1);
    assert_int_equal(ev[0].re_events, RN_POLLIN);
    assert_int_equal(ev[0].re_data.rd_u64, 2);
    /* Read in part: level says so again, edge does not. */
    assert_int_equal(recv_on_a(ha, 100), 100);
    assert_int_equal(ready_now(lt, ev, 4), 1);
    assert_int_equal(ready_now(et, ev, 4), 0);
    /* Our own bytes acknowledged are an event of writability: no edge
     * for a registration that asked for input only. */
    bytes_from_a(ha, 100);
    assert_int_equal(ready_now(et, ev, 4), 0);
    /* More bytes: an edge. */
    bytes_to_a(hb, 500);
    assert_int_equal(ready_now(et, ev, 4), 1);
    assert_int_equal(ready_now(et, ev, 4), 0);
    /* Read it all: neither. */
    assert_int_equal(recv_on_a(ha, 4096), 1400);
    assert_int_equal(ready_now(lt, ev, 4), 0);
    assert_int_equal(ready_now(et, ev, 4), 0);
    procs_down();
}

static void test_tcp_peer_fin_is_rdhup(void **state)
{
    struct rn_rset_event ev[4];
    int hl, ha, hb, set, rdhup_only;

    (void)state;
    procs_up();
    tcp_pair(6001, &hl, &ha, &hb);
    set = rn_rset_create(P.pa, 0);
    rdhup_only = rn_rset_create(P.pa, 0);
    assert_int_equal(ctl(set, RN_RSET_ADD, ha, RN_POLLIN | RN_POLLRDHUP | RN_RSET_ET, 1), 0);
    assert_int_equal(ctl(rdhup_only, RN_RSET_ADD, ha, RN_POLLRDHUP, 2), 0);
    /* Bytes are not a hang-up. */
    bytes_to_a(hb, 10);
    assert_int_equal(ready_now(set, ev, 4), 1);
    assert_int_equal(ev[0].re_events, RN_POLLIN);
    assert_int_equal(ready_now(rdhup_only, ev, 4), 0);
    /* The peer's FIN. */
    assert_int_equal(rn_sock_shutdown(P.pb, hb, RN_SHUT_WR), 0);
    run_for(RN_MSEC(10));
    assert_int_equal(ready_now(set, ev, 4), 1);
    assert_int_equal(ev[0].re_events, RN_POLLIN | RN_POLLRDHUP);
    assert_int_equal(ready_now(rdhup_only, ev, 4), 1);
    assert_int_equal(ev[0].re_events, RN_POLLRDHUP);
    assert_int_equal(ev[0].re_data.rd_u64, 2);
    /* Reading what is left does not end it: the end of data stays. */
    assert_int_equal(recv_on_a(ha, 100), 10);
    assert_int_equal(recv_on_a(ha, 100), 0);
    assert_int_equal(ready_now(rdhup_only, ev, 4), 1);
    procs_down();
}

/* SO_RCVLOWAT holds readiness back until enough bytes wait; lowering it
 * makes the socket ready at once, and the set hears of it. */
static void test_tcp_rcvlowat(void **state)
{
    struct rn_rset_event ev[4];
    int hl, ha, hb, set;

    (void)state;
    procs_up();
    tcp_pair(6005, &hl, &ha, &hb);
    set = rn_rset_create(P.pa, 0);
    assert_int_equal(rn_sock_setopt(P.pa, ha, RN_SO_RCVLOWAT, 100), 0);
    assert_int_equal(ctl(set, RN_RSET_ADD, ha, RN_POLLIN | RN_RSET_ET, 6), 0);
    bytes_to_a(hb, 10);
    assert_int_equal(ready_now(set, ev, 4), 0);
    assert_int_equal(rn_sock_setopt(P.pa, ha, RN_SO_RCVLOWAT, 5), 0);
    assert_int_equal(ready_now(set, ev, 4), 1);
    assert_int_equal(ev[0].re_events, RN_POLLIN);
    assert_int_equal(ready_now(set, ev, 4), 0);
    procs_down();
}

static void test_tcp_connect_completes_as_pollout(void **state)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 6002};
    struct rn_rset_event ev[4];
    struct rec r = {0};
    int hl, h, set, err;

    (void)state;
    procs_up();
    hl = tcp_listening(P.pb, 6002, &err);
    assert_int_equal(err, 0);
    (void)hl;
    h = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    set = rn_rset_create(P.pa, 0);
    submit_flags(P.pa, RN_SOP_CONNECT, h, NULL, 0, &to, RN_MSG_DONTWAIT, &r);
    /* SYN sent: nothing ready yet. */
    assert_int_equal(ctl(set, RN_RSET_ADD, h, RN_POLLOUT | RN_RSET_ET, 5), 0);
    assert_int_equal(ready_now(set, ev, 4), 0);
    run_for(RN_MSEC(20));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.c[0].sc_result, RN_EINPROGRESS);
    assert_int_equal(ready_now(set, ev, 4), 1);
    assert_int_equal(ev[0].re_events, RN_POLLOUT);
    assert_int_equal(ev[0].re_data.rd_u64, 5);
    assert_int_equal(ready_now(set, ev, 4), 0);
    procs_down();
}

static void test_tcp_listener_accept_readiness(void **state)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_A, .sin_port = 6003};
    struct rn_rset_event ev[4];
    struct rec r = {0};
    int hl, set, err, c1, c2;

    (void)state;
    procs_up();
    /* The listener is a's this time: connections come from b. */
    hl = tcp_listening(P.pa, 6003, &err);
    assert_int_equal(err, 0);
    set = rn_rset_create(P.pa, 0);
    assert_int_equal(ctl(set, RN_RSET_ADD, hl, RN_POLLIN, 3), 0);
    assert_int_equal(ready_now(set, ev, 4), 0);
    c1 = rn_sock_open(P.pb, RN_SOCK_STREAM, 0);
    c2 = rn_sock_open(P.pb, RN_SOCK_STREAM, 0);
    submit(P.pb, RN_SOP_CONNECT, c1, NULL, 0, &to, &r);
    submit(P.pb, RN_SOP_CONNECT, c2, NULL, 0, &to, &r);
    run_for(RN_MSEC(20));
    assert_int_equal(r.n, 2);
    assert_int_equal(ready_now(set, ev, 4), 1);
    assert_int_equal(ev[0].re_events, RN_POLLIN);
    assert_int_equal(ev[0].re_data.rd_u64, 3);
    /* One accepted, one still waiting; then none. */
    submit(P.pa, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &r);
    run_for(RN_MSEC(1));
    assert_true(r.c[2].sc_result > 0);
    assert_int_equal(ready_now(set, ev, 4), 1);
    submit(P.pa, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &r);
    run_for(RN_MSEC(1));
    assert_true(r.c[3].sc_result > 0);
    assert_int_equal(ready_now(set, ev, 4), 0);
    procs_down();
}

static void test_tcp_error_is_always_reported(void **state)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 6004};  /* nobody listens */
    struct rn_rset_event ev[4];
    struct rec r = {0};
    int64_t soerr;
    int h, set;

    (void)state;
    procs_up();
    h = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    set = rn_rset_create(P.pa, 0);
    submit_flags(P.pa, RN_SOP_CONNECT, h, NULL, 0, &to, RN_MSG_DONTWAIT, &r);
    /* Asked for nothing but the peer's hang-up, and edge-triggered. */
    assert_int_equal(ctl(set, RN_RSET_ADD, h, RN_POLLRDHUP | RN_RSET_ET, 4), 0);
    run_for(RN_MSEC(20));
    assert_int_equal(ready_now(set, ev, 4), 1);
    assert_true(ev[0].re_events & RN_POLLERR);
    assert_int_equal(ev[0].re_events & (RN_POLLIN | RN_POLLOUT), 0);
    assert_int_equal(rn_sock_getopt(P.pa, h, RN_SO_ERROR, &soerr), 0);
    assert_int_equal(soerr, ECONNREFUSED);  /* SO_ERROR reads as errno */
    assert_int_equal(ready_now(set, ev, 4), 0);
    procs_down();
}

/* ---- Control errors --------------------------------------------------------------- */

static void test_ctl_errors_as_linux(void **state)
{
    struct rn_rset_event ev = {.re_events = RN_POLLIN}, out[1];
    struct rec r = {0};
    int h, set, other;

    (void)state;
    procs_up();
    h = udp_bound(P.pa, 5020);
    set = rn_rset_create(P.pa, 0);
    other = rn_rset_create(P.pa, 0);
    assert_int_equal(rn_rset_create(P.pa, 0x100), RN_EINVAL);
    assert_int_equal(rn_rset_ctl(P.pa, set, RN_RSET_ADD, h, &ev), 0);
    assert_int_equal(rn_rset_ctl(P.pa, set, RN_RSET_ADD, h, &ev), RN_EEXIST);
    assert_int_equal(rn_rset_ctl(P.pa, other, RN_RSET_MOD, h, &ev), RN_ENOENT);
    assert_int_equal(rn_rset_ctl(P.pa, other, RN_RSET_DEL, h, NULL), RN_ENOENT);
    /* Bad handles, either side. */
    assert_int_equal(rn_rset_ctl(P.pa, 99, RN_RSET_ADD, h, &ev), RN_EBADF);
    assert_int_equal(rn_rset_ctl(P.pa, 0, RN_RSET_ADD, h, &ev), RN_EBADF);
    assert_int_equal(rn_rset_ctl(P.pa, set, RN_RSET_ADD, 99, &ev), RN_EBADF);
    assert_int_equal(rn_rset_ctl(P.pa, set, RN_RSET_ADD, -3, &ev), RN_EBADF);
    /* Not a set; the set itself; another set. */
    assert_int_equal(rn_rset_ctl(P.pa, h, RN_RSET_ADD, h, &ev), RN_EINVAL);
    assert_int_equal(rn_rset_ctl(P.pa, set, RN_RSET_ADD, set, &ev), RN_EINVAL);
    assert_int_equal(rn_rset_ctl(P.pa, set, RN_RSET_ADD, other, &ev), RN_EPERM);
    /* Bad operation, no event, unknown bits. */
    assert_int_equal(rn_rset_ctl(P.pa, set, 42, h, &ev), RN_EINVAL);
    assert_int_equal(rn_rset_ctl(P.pa, set, RN_RSET_MOD, h, NULL), RN_EINVAL);
    ev.re_events = RN_POLLIN | 0x10000;
    assert_int_equal(rn_rset_ctl(P.pa, set, RN_RSET_MOD, h, &ev), RN_EINVAL);
    ev.re_events = RN_POLLIN | RN_POLLNVAL;
    assert_int_equal(rn_rset_ctl(P.pa, set, RN_RSET_MOD, h, &ev), RN_EINVAL);
    /* Waits on what is not a set. */
    assert_int_equal(rn_rset_wait(P.pa, h, out, 1), RN_EINVAL);
    assert_int_equal(rn_rset_wait(P.pa, 77, out, 1), RN_EBADF);
    assert_int_equal(rn_rset_wait(P.pa, set, out, 0), RN_EINVAL);
    assert_int_equal(rn_rset_eventfd(P.pa, set), RN_EINVAL);
    /* A set is not a socket. */
    assert_int_equal(rn_sock_ready(P.pa, set), RN_POLLNVAL);
    submit(P.pa, RN_SOP_RECV, set, out, sizeof(out), NULL, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(r.c[0].sc_result, RN_EBADF);
    /* Nothing of it changed the registration. */
    ev.re_events = RN_POLLOUT;
    assert_int_equal(rn_rset_ctl(P.pa, set, RN_RSET_MOD, h, &ev), 0);
    assert_int_equal(rn_rset_wait(P.pa, set, out, 1), 1);
    procs_down();
}

/* ---- Closing ------------------------------------------------------------------------ */

static void test_socket_closed_while_in_set(void **state)
{
    struct rn_rset_event ev[4];
    struct rec r = {0};
    char desc[128];
    int h1, h2, set;

    (void)state;
    procs_up();
    h1 = udp_bound(P.pa, 5030);
    h2 = udp_bound(P.pa, 5031);
    set = rn_rset_create(P.pa, 0);
    assert_int_equal(ctl(set, RN_RSET_ADD, h1, RN_POLLIN, 1), 0);
    assert_int_equal(ctl(set, RN_RSET_ADD, h2, RN_POLLIN, 2), 0);
    datagram_to_a(5030, 10);
    datagram_to_a(5031, 10);
    set_describe(desc, sizeof(desc));
    assert_string_equal(desc, "readiness set #3 2 sockets, 2 ready, 0 waiting");
    /* h1 closes while ready: it leaves the set, silently. */
    submit(P.pa, RN_SOP_CLOSE, h1, NULL, 0, NULL, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(r.c[0].sc_result, 0);
    set_describe(desc, sizeof(desc));
    assert_string_equal(desc, "readiness set #3 1 sockets, 1 ready, 0 waiting");
    assert_int_equal(ready_now(set, ev, 4), 1);
    assert_int_equal(ev[0].re_data.rd_u64, 2);
    assert_int_equal(count_objects("socket", ":5030"), 0);
    assert_int_equal(ctl(set, RN_RSET_DEL, h1, 0, 0), RN_EBADF);
    /* Its number comes back for a new socket, which is not in the set. */
    assert_int_equal(udp_bound(P.pa, 5032), h1);
    assert_int_equal(ctl(set, RN_RSET_MOD, h1, RN_POLLIN, 3), RN_ENOENT);
    assert_int_equal(ctl(set, RN_RSET_ADD, h1, RN_POLLIN, 3), 0);
    procs_down();
}

static void test_set_closed(void **state)
{
    struct rn_rset_event ev[4];
    struct rec r = {0};
    int h, set;

    (void)state;
    procs_up();
    h = udp_bound(P.pa, 5040);
    set = rn_rset_create(P.pa, 0);
    assert_int_equal(ctl(set, RN_RSET_ADD, h, RN_POLLIN, 1), 0);
    /* A wait pending on it is cancelled by its close. */
    {
        struct rn_sock_req rq = {.sq_op = RN_SOP_RSET_WAIT, .sq_handle = set, .sq_buf = ev,
                                 .sq_len = sizeof(ev), .sq_user = &r};

        assert_int_equal(rn_sock_submit(P.pa, &rq, rec_fn), 0);
    }
    run_for(RN_MSEC(1));
    assert_int_equal(count_objects("request", "request wait readiness set #2 pending"), 1);
    submit(P.pa, RN_SOP_CLOSE, set, NULL, 0, NULL, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(r.n, 2);
    assert_int_equal(r.c[0].sc_op, RN_SOP_RSET_WAIT);
    assert_int_equal(r.c[0].sc_result, RN_ECANCELED);
    assert_int_equal(r.c[1].sc_op, RN_SOP_CLOSE);
    assert_int_equal(r.c[1].sc_result, 0);
    assert_int_equal(count_type("readiness set"), 0);
    assert_int_equal(set_holds_on(":5040"), 0);
    assert_int_equal(rn_rset_wait(P.pa, set, ev, 4), RN_EBADF);
    /* The socket is untouched, and the number is free again. */
    datagram_to_a(5040, 10);
    assert_int_equal(recv_on_a(h, 100), 10);
    assert_int_equal(rn_rset_create(P.pa, 0), set);
    procs_down();
}

static void test_process_exits_with_set(void **state)
{
    struct rn_rset_event ev[4], ev2[4];
    struct rn_sock_completion c[2];
    struct rec r = {0};
    struct rn_proc *p;
    struct rn_cq *cq;
    void *rs;
    char desc[128];
    int h, set;

    (void)state;
    procs_up();
    assert_int_equal(rn_cq_create(&cq), 0);
    assert_int_equal(rn_proc_create(P.a, "watcher", &p), 0);
    h = udp_bound(p, 5050);
    set = rn_rset_create(p, 0);
    {
        struct rn_rset_event e = {.re_events = RN_POLLIN};

        assert_int_equal(rn_rset_ctl(p, set, RN_RSET_ADD, h, &e), 0);
    }
    {
        struct rn_sock_req rq = {.sq_op = RN_SOP_RSET_WAIT, .sq_handle = set, .sq_buf = ev,
                                 .sq_len = sizeof(ev), .sq_user = &r};

        assert_int_equal(rn_sock_submit(p, &rq, rec_fn), 0);
        rq.sq_buf = ev2;
        assert_int_equal(rn_sock_submit_cq(p, &rq, cq), 0);
    }
    run_for(RN_MSEC(1));
    set_describe(desc, sizeof(desc));
    assert_string_equal(desc, "readiness set #2 1 sockets, 0 ready, 2 waiting");
    /* Someone looks at the set while the process exits. */
    rs = find_object("readiness set", "readiness set #");
    rn_ob_ref(p, RN_TAG_LOOKUP);
    rn_proc_exit(p);
    run_for(RN_MSEC(1));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.c[0].sc_result, RN_ECANCELED);
    assert_int_equal(rn_cq_reap(cq, c, 2), 1);
    assert_int_equal(c[0].sc_result, RN_ECANCELED);
    rn_ob_describe(rs, desc, sizeof(desc));
    assert_string_equal(desc, "readiness set #2 closed");
    /* The exit waits for the set's release, and says so. */
    rn_ob_describe(p, desc, sizeof(desc));
    assert_non_null(strstr(desc, "terminating, 1 of 2 handle cleanups pending"));
    assert_true(has_wait_on(rn_ob_id(p), rn_ob_id(rs), "readiness set", "cleanup"));
    {
        char *chains = render_live_chains();

        assert_non_null(strstr(chains, "process watcher"));
        assert_non_null(strstr(chains, "readiness set #2 closed"));
        free(chains);
    }
    rn_ob_deref(rs, RN_TAG_LOOKUP);
    run_for(RN_MSEC(1));
    assert_int_equal(count_type("readiness set"), 0);
    rn_ob_describe(p, desc, sizeof(desc));
    assert_non_null(strstr(desc, "terminated"));
    rn_ob_deref(p, RN_TAG_LOOKUP);
    assert_int_equal(count_objects("process", "watcher"), 0);
    assert_int_equal(rn_cq_destroy(cq), 0);
    procs_down();
}

/* ---- Wait requests and the eventfd --------------------------------------------------- */

static void test_wait_requests(void **state)
{
    struct rn_rset_event ev[4];
    struct rec r = {0};
    rn_time_t t0;
    int h1, h2, set;
    struct rn_sock_req rq = {.sq_op = RN_SOP_RSET_WAIT, .sq_buf = ev, .sq_len = sizeof(ev),
                             .sq_user = &r};

    (void)state;
    procs_up();
    h1 = udp_bound(P.pa, 5060);
    h2 = udp_bound(P.pa, 5061);
    set = rn_rset_create(P.pa, 0);
    assert_int_equal(ctl(set, RN_RSET_ADD, h1, RN_POLLIN, 1), 0);
    assert_int_equal(ctl(set, RN_RSET_ADD, h2, RN_POLLIN | RN_RSET_ET, 2), 0);
    rq.sq_handle = set;
    /* Malformed: no room for one event. */
    rq.sq_len = sizeof(ev[0]) - 1;
    assert_int_equal(rn_sock_submit(P.pa, &rq, rec_fn), RN_EINVAL);
    rq.sq_len = sizeof(ev);
    /* Nothing ready: a timeout gives 0, on the stack's clock. */
    rq.sq_timeout = RN_MSEC(300);
    t0 = P.now;
    assert_int_equal(rn_sock_submit(P.pa, &rq, rec_fn), 0);
    run_for(RN_MSEC(299));
    assert_int_equal(r.n, 0);
    run_for(RN_MSEC(2));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.c[0].sc_result, 0);
    assert_true(P.now - t0 >= RN_MSEC(300));
    /* Not waiting at all. */
    rq.sq_timeout = 0;
    rq.sq_poll_now = true;
    assert_int_equal(rn_sock_submit(P.pa, &rq, rec_fn), 0);
    run_for(RN_MSEC(1));
    assert_int_equal(r.n, 2);
    assert_int_equal(r.c[1].sc_result, 0);
    /* Waiting: both sockets become ready in one step, one completion
     * carries both. */
    rq.sq_poll_now = false;
    assert_int_equal(rn_sock_submit(P.pa, &rq, rec_fn), 0);
    run_for(RN_MSEC(1));
    assert_int_equal(r.n, 2);
    {
        static uint8_t payload[16];
        struct rn_sockaddr_in to1 = {.sin_addr = ADDR_A, .sin_port = 5060}, to2 = {.sin_addr = ADDR_A, .sin_port = 5061};
        struct rec rs = {0};
        int hb = rn_sock_open(P.pb, RN_SOCK_DGRAM, 0);

        submit(P.pb, RN_SOP_SEND, hb, payload, 16, &to1, &rs);
        submit(P.pb, RN_SOP_SEND, hb, payload, 16, &to2, &rs);
        run_for(RN_MSEC(5));
        assert_int_equal(rs.n, 2);
    }
    assert_int_equal(r.n, 3);
    assert_int_equal(r.c[2].sc_op, RN_SOP_RSET_WAIT);
    assert_int_equal(r.c[2].sc_handle, set);
    assert_int_equal(r.c[2].sc_result, 2);
    assert_int_equal(ev[0].re_data.rd_u64 + ev[1].re_data.rd_u64, 3);
    /* The level-triggered one is reported at once to the next; the
     * edge-triggered one is not. */
    assert_int_equal(rn_sock_submit(P.pa, &rq, rec_fn), 0);
    run_for(RN_MSEC(1));
    assert_int_equal(r.n, 4);
    assert_int_equal(r.c[3].sc_result, 1);
    assert_int_equal(ev[0].re_data.rd_u64, 1);
    /* On a socket handle, or none. */
    rq.sq_handle = h1;
    assert_int_equal(rn_sock_submit(P.pa, &rq, rec_fn), 0);
    rq.sq_handle = 88;
    assert_int_equal(rn_sock_submit(P.pa, &rq, rec_fn), 0);
    run_for(RN_MSEC(1));
    assert_int_equal(r.c[4].sc_result, RN_EINVAL);
    assert_int_equal(r.c[5].sc_result, RN_EBADF);
    procs_down();
}

static void test_eventfd(void **state)
{
    struct rn_rset_event ev[4];
    struct pollfd pfd = {.events = POLLIN};
    int h, set;

    (void)state;
    procs_up();
    h = udp_bound(P.pa, 5070);
    set = rn_rset_create(P.pa, RN_RSET_EVENTFD);
    pfd.fd = rn_rset_eventfd(P.pa, set);
    assert_true(pfd.fd >= 0);
    assert_int_equal(ctl(set, RN_RSET_ADD, h, RN_POLLIN | RN_RSET_ET, 1), 0);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    datagram_to_a(5070, 10);
    assert_int_equal(poll(&pfd, 1, 0), 1);
    assert_int_equal(ready_now(set, ev, 4), 1);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    /* Level-triggered: readable while the socket is. */
    assert_int_equal(ctl(set, RN_RSET_MOD, h, RN_POLLIN, 1), 0);
    assert_int_equal(poll(&pfd, 1, 0), 1);
    assert_int_equal(ready_now(set, ev, 4), 1);
    assert_int_equal(poll(&pfd, 1, 0), 1);
    assert_int_equal(recv_on_a(h, 100), 10);
    assert_int_equal(ready_now(set, ev, 4), 0);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    procs_down();
}

/* A wait looks at the ready list only: a thousand quiet sockets are not
 * on it. */
static void test_many_quiet_sockets(void **state)
{
    struct rn_rset_event ev[8];
    char desc[128];
    int set, i, h, busy[3] = {0};

    (void)state;
    procs_up();
    set = rn_rset_create(P.pa, 0);
    for (i = 0; i < 1000; i++) {
        h = rn_sock_open(P.pa, RN_SOCK_DGRAM, 0);
        assert_true(h > 0);
        if (i % 400 == 7) {
            struct rn_sockaddr_in l = {.sin_addr = 0, .sin_port = (uint16_t)(7000 + i)};

            assert_int_equal(rn_sock_bind(P.pa, h, &l), 0);
            busy[i / 400] = 7000 + i;
        }
        assert_int_equal(ctl(set, RN_RSET_ADD, h, RN_POLLIN, (uint64_t)h), 0);
    }
    for (i = 0; i < 3; i++)
        datagram_to_a((uint16_t)busy[i], 10);
    set_describe(desc, sizeof(desc));
    assert_string_equal(desc, "readiness set #1 1000 sockets, 3 ready, 0 waiting");
    assert_int_equal(ready_now(set, ev, 8), 3);
    procs_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_triggered_udp),
        cmocka_unit_test(test_edge_triggered_udp),
        cmocka_unit_test(test_oneshot),
        cmocka_unit_test(test_local_shutdown),
        cmocka_unit_test(test_level_round_robin),
        cmocka_unit_test(test_tcp_partial_read_level_and_edge),
        cmocka_unit_test(test_tcp_peer_fin_is_rdhup),
        cmocka_unit_test(test_tcp_rcvlowat),
        cmocka_unit_test(test_tcp_connect_completes_as_pollout),
        cmocka_unit_test(test_tcp_listener_accept_readiness),
        cmocka_unit_test(test_tcp_error_is_always_reported),
        cmocka_unit_test(test_ctl_errors_as_linux),
        cmocka_unit_test(test_socket_closed_while_in_set),
        cmocka_unit_test(test_set_closed),
        cmocka_unit_test(test_process_exits_with_set),
        cmocka_unit_test(test_wait_requests),
        cmocka_unit_test(test_eventfd),
        cmocka_unit_test(test_many_quiet_sockets),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
