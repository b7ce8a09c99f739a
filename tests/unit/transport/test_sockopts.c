/*
 * Socket options as Linux gives them to a program (transport.h, enum
 * rn_sockopt; docs/tcp-settings.md), through the socket layer between two
 * stacks on a simulated cable, in virtual time: what each accepts and
 * reads back, and what it does, seen on the wire (the wire recorder of
 * tests/support) or where a program sees it.
 *
 *   SO_REUSEADDR over TIME_WAIT, and not over a live listener
 *   SO_REUSEPORT spreading connections (and datagrams) over N sockets
 *   TCP_CORK and MSG_MORE holding a partial segment
 *   TCP_USER_TIMEOUT dropping a connection whose data goes unanswered
 *   SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT
 *   SO_SNDBUF and SO_RCVBUF for TCP and UDP
 *   SO_BROADCAST, IP_TOS, IP_TTL, TCP_MAXSEG, TCP_SYNCNT, TCP_WINDOW_CLAMP
 *   TCP_CONGESTION by name: per socket, inherited from a listener, changed
 *   on a live connection
 *   a bind to port 0 choosing the port at bind
 *   TCP_INFO by handle, on the loop (test_tcp_info_mt.c: from another
 *   thread)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/socket.h"
#include "refnet/tcp.h"
#include "support.h"
#include "wire/tcp.h"

#define PORT 7200

static struct rec recs[16];
static unsigned nrecs;

/* A completion record that outlives the test function's frame (the
 * processes' exit in pair_down() completes what is still pending). */
static struct rec *new_rec(void)
{
    assert_true(nrecs < 16);
    memset(&recs[nrecs], 0, sizeof(recs[nrecs]));
    return &recs[nrecs++];
}

static void up(void)
{
    struct pair_params pp = {.pp_procs = true, .pp_wrap_a = wire_wrap};
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 9};
    struct rec *r;
    int h;

    nrecs = 0;
    pair_up_with(&pp);
    /* Resolve both ways first: ARP would delay the first segment. */
    r = new_rec();
    h = rn_sock_open(P.pa, RN_SOCK_DGRAM, 0);
    submit(P.pa, RN_SOP_SEND, h, "x", 1, &to, r);
    submit(P.pa, RN_SOP_CLOSE, h, NULL, 0, NULL, r);
    run_for(RN_MSEC(20));
    wire_clear();
}

static int tcp_socket(struct rn_proc *p)
{
    int h = rn_sock_open(p, RN_SOCK_STREAM, 0);

    assert_true(h > 0);
    return h;
}

static int udp_socket(struct rn_proc *p)
{
    int h = rn_sock_open(p, RN_SOCK_DGRAM, 0);

    assert_true(h > 0);
    return h;
}

static int bind_to(struct rn_proc *p, int h, uint32_t addr, uint16_t port)
{
    struct rn_sockaddr_in a = {.sin_addr = addr, .sin_port = port};

    return rn_sock_bind(p, h, &a);
}

static int64_t getopt_of(struct rn_proc *p, int h, enum rn_sockopt opt)
{
    int64_t v = -12345;

    assert_int_equal(rn_sock_getopt(p, h, opt, &v), 0);
    return v;
}

static void setopt(struct rn_proc *p, int h, enum rn_sockopt opt, int64_t v)
{
    assert_int_equal(rn_sock_setopt(p, h, opt, v), 0);
}

static int listen_on(struct rn_proc *p, uint16_t port, bool reuseaddr, bool reuseport)
{
    int h = tcp_socket(p);

    if (reuseaddr)
        setopt(p, h, RN_SO_REUSEADDR, 1);
    if (reuseport)
        setopt(p, h, RN_SO_REUSEPORT, 1);
    assert_int_equal(bind_to(p, h, 0, port), 0);
    assert_int_equal(rn_sock_listen(p, h, 64), 0);
    return h;
}

/* A connection from a new socket of a to b's listener hl on port. */
static int connect_to(int hl, uint16_t port, int *hs)
{
    int hc = tcp_socket(P.pa);

    *hs = tcp_connect_accept(P.pa, hc, P.pb, hl, port);
    return hc;
}

static bool rec_done(void *ctx)
{
    return ((struct rec *)ctx)->n > 0;
}

static uint8_t payload[1 << 18];

/* ---- Values accepted and read back, as Linux ----------------------------------- */

static void test_values_as_linux(void **state)
{
    int t, u;

    (void)state;
    up();
    t = tcp_socket(P.pa);
    u = udp_socket(P.pa);
    /* Buffers: doubled, clamped, with Linux's floors. */
    setopt(P.pa, t, RN_SO_RCVBUF, 1);
    assert_int_equal(getopt_of(P.pa, t, RN_SO_RCVBUF), 2304);
    setopt(P.pa, t, RN_SO_SNDBUF, 1);
    assert_int_equal(getopt_of(P.pa, t, RN_SO_SNDBUF), 4608);
    setopt(P.pa, t, RN_SO_SNDBUF, 65536);
    assert_int_equal(getopt_of(P.pa, t, RN_SO_SNDBUF), 131072);
    setopt(P.pa, t, RN_SO_RCVBUF, -1);  /* a huge unsigned to Linux: the ceiling */
    assert_int_equal(getopt_of(P.pa, t, RN_SO_RCVBUF), 2 * 6291456);
    setopt(P.pa, u, RN_SO_SNDBUF, 4096);
    assert_int_equal(getopt_of(P.pa, u, RN_SO_SNDBUF), 8192);
    assert_int_equal(getopt_of(P.pa, u, RN_SO_RCVBUF), 212992);
    /* TCP's defaults read from the settings. */
    assert_int_equal(getopt_of(P.pa, tcp_socket(P.pa), RN_SO_SNDBUF), 262144);
    assert_int_equal(getopt_of(P.pa, t, RN_TCP_KEEPIDLE), 7200);
    assert_int_equal(getopt_of(P.pa, t, RN_TCP_KEEPINTVL), 75);
    assert_int_equal(getopt_of(P.pa, t, RN_TCP_KEEPCNT), 9);
    assert_int_equal(getopt_of(P.pa, t, RN_TCP_SYNCNT), 6);
    assert_int_equal(getopt_of(P.pa, t, RN_TCP_USER_TIMEOUT), 0);
    assert_int_equal(getopt_of(P.pa, t, RN_TCP_MAXSEG), 536);
    assert_int_equal(getopt_of(P.pa, t, RN_TCP_WINDOW_CLAMP), 0);
    assert_int_equal(getopt_of(P.pa, t, RN_IP_TTL), 64);
    /* Ranges. */
    assert_int_equal(rn_sock_setopt(P.pa, t, RN_TCP_MAXSEG, 87), RN_EINVAL);
    assert_int_equal(rn_sock_setopt(P.pa, t, RN_TCP_MAXSEG, 32768), RN_EINVAL);
    setopt(P.pa, t, RN_TCP_MAXSEG, 88);
    assert_int_equal(getopt_of(P.pa, t, RN_TCP_MAXSEG), 88);
    assert_int_equal(rn_sock_setopt(P.pa, t, RN_TCP_KEEPIDLE, 0), RN_EINVAL);
    assert_int_equal(rn_sock_setopt(P.pa, t, RN_TCP_KEEPIDLE, 32768), RN_EINVAL);
    assert_int_equal(rn_sock_setopt(P.pa, t, RN_TCP_KEEPINTVL, -1), RN_EINVAL);
    assert_int_equal(rn_sock_setopt(P.pa, t, RN_TCP_KEEPCNT, 128), RN_EINVAL);
    assert_int_equal(rn_sock_setopt(P.pa, t, RN_TCP_SYNCNT, 0), RN_EINVAL);
    assert_int_equal(rn_sock_setopt(P.pa, t, RN_TCP_USER_TIMEOUT, -1), RN_EINVAL);
    assert_int_equal(rn_sock_setopt(P.pa, t, RN_IP_TTL, 0), RN_EINVAL);
    assert_int_equal(rn_sock_setopt(P.pa, t, RN_IP_TTL, 256), RN_EINVAL);
    setopt(P.pa, t, RN_IP_TTL, 9);
    assert_int_equal(getopt_of(P.pa, t, RN_IP_TTL), 9);
    setopt(P.pa, t, RN_IP_TTL, -1);
    assert_int_equal(getopt_of(P.pa, t, RN_IP_TTL), 64);
    setopt(P.pa, t, RN_TCP_WINDOW_CLAMP, 100);
    assert_int_equal(getopt_of(P.pa, t, RN_TCP_WINDOW_CLAMP), 1152);
    setopt(P.pa, t, RN_TCP_WINDOW_CLAMP, 0);
    /* TOS: a stream's ECN bits are TCP's; a datagram socket keeps them. */
    setopt(P.pa, t, RN_IP_TOS, 0xbb);
    assert_int_equal(getopt_of(P.pa, t, RN_IP_TOS), 0xb8);
    setopt(P.pa, u, RN_IP_TOS, 0xbb);
    assert_int_equal(getopt_of(P.pa, u, RN_IP_TOS), 0xbb);
    setopt(P.pa, u, RN_IP_TOS, 256);
    assert_int_equal(getopt_of(P.pa, u, RN_IP_TOS), 0);
    /* Booleans read back 0 or 1. */
    setopt(P.pa, t, RN_SO_REUSEADDR, 5);
    assert_int_equal(getopt_of(P.pa, t, RN_SO_REUSEADDR), 1);
    setopt(P.pa, u, RN_SO_BROADCAST, -1);
    assert_int_equal(getopt_of(P.pa, u, RN_SO_BROADCAST), 1);
    /* TCP's options on a datagram socket, as Linux answers them. */
    assert_int_equal(rn_sock_setopt(P.pa, u, RN_TCP_NODELAY, 1), RN_ENOPROTOOPT);
    assert_int_equal(rn_sock_getopt(P.pa, u, RN_TCP_CORK, &(int64_t){0}), RN_EOPNOTSUPP);
    assert_int_equal(rn_sock_setopt(P.pa, t, RN_SO_BROADCAST, 1), RN_ENOPROTOOPT);
    pair_down();
}

/* ---- Binding ------------------------------------------------------------------ */

static void test_bind_port_zero(void **state)
{
    struct rn_sockaddr_in local;
    int t, u, t2;

    (void)state;
    up();
    t = tcp_socket(P.pa);
    assert_int_equal(bind_to(P.pa, t, 0, 0), 0);
    assert_int_equal(rn_sock_getname(P.pa, t, &local, NULL), 0);
    assert_true(local.sin_port >= RN_EPHEMERAL_LO);
    /* The port is held from bind on. */
    t2 = tcp_socket(P.pa);
    assert_int_equal(bind_to(P.pa, t2, 0, local.sin_port), RN_EADDRINUSE);
    /* And listen keeps it. */
    assert_int_equal(rn_sock_listen(P.pa, t, 4), 0);
    assert_int_equal(rn_sock_getname(P.pa, t, &local, NULL), 0);
    assert_true(local.sin_port >= RN_EPHEMERAL_LO);
    u = udp_socket(P.pa);
    assert_int_equal(bind_to(P.pa, u, ADDR_A, 0), 0);
    assert_int_equal(rn_sock_getname(P.pa, u, &local, NULL), 0);
    assert_int_equal(local.sin_addr, ADDR_A);
    assert_true(local.sin_port >= RN_EPHEMERAL_LO);
    pair_down();
}

/* SO_REUSEADDR: a server restarts on its port while its old connections
 * wait in TIME_WAIT; not over a live listener, and not over anything
 * whose socket did not set it. */
static void test_reuseaddr_over_timewait(void **state)
{
    struct rec *r;
    int hl, hs, hc, h2, h3;

    (void)state;
    up();
    hl = listen_on(P.pb, PORT, true, false);
    hc = connect_to(hl, PORT, &hs);
    /* Against the live listener, even with SO_REUSEADDR on both. */
    h2 = tcp_socket(P.pb);
    setopt(P.pb, h2, RN_SO_REUSEADDR, 1);
    assert_int_equal(bind_to(P.pb, h2, 0, PORT), RN_EADDRINUSE);
    /* The server closes first: its side of the connection ends in
     * TIME_WAIT on its port; then the listener goes. */
    r = new_rec();
    submit(P.pb, RN_SOP_CLOSE, hs, NULL, 0, NULL, r);
    run_for(RN_MSEC(20));
    submit(P.pa, RN_SOP_CLOSE, hc, NULL, 0, NULL, r);
    submit(P.pb, RN_SOP_CLOSE, hl, NULL, 0, NULL, r);
    run_for(RN_MSEC(20));
    assert_int_equal(count_objects_prefixed("tcp timewait", "tcp timewait 198.18.0.3:7200"), 1);
    /* Without SO_REUSEADDR the port is still taken... */
    h3 = tcp_socket(P.pb);
    assert_int_equal(bind_to(P.pb, h3, 0, PORT), RN_EADDRINUSE);
    /* ...with it, bind and listen go through, and a client connects. */
    assert_int_equal(bind_to(P.pb, h2, 0, PORT), 0);
    assert_int_equal(rn_sock_listen(P.pb, h2, 4), 0);
    connect_to(h2, PORT, &hs);
    /* TIME_WAIT was left where it was. */
    assert_int_equal(count_objects_prefixed("tcp timewait", "tcp timewait 198.18.0.3:7200"), 1);
    pair_down();
}

/* A live connection whose socket did not set SO_REUSEADDR keeps its
 * local port from a bind that does. */
static void test_reuseaddr_not_over_connection(void **state)
{
    struct rn_sockaddr_in local;
    int hl, hs, hc, h2;

    (void)state;
    up();
    hl = listen_on(P.pb, PORT, false, false);
    hc = connect_to(hl, PORT, &hs);
    assert_int_equal(rn_sock_getname(P.pa, hc, &local, NULL), 0);
    h2 = tcp_socket(P.pa);
    setopt(P.pa, h2, RN_SO_REUSEADDR, 1);
    assert_int_equal(bind_to(P.pa, h2, 0, local.sin_port), RN_EADDRINUSE);
    pair_down();
}

/* SO_REUSEPORT: N listeners on one port; SYNs spread over them by hash. */
static void test_reuseport_spreads_syns(void **state)
{
    enum { N = 4, CONNS = 40 };
    int hl[N], got[N] = {0}, i, k, h5;
    struct rec *ra[N];

    (void)state;
    up();
    for (i = 0; i < N; i++)
        hl[i] = listen_on(P.pb, PORT, false, true);
    /* One without the option may not join them. */
    h5 = tcp_socket(P.pb);
    assert_int_equal(bind_to(P.pb, h5, 0, PORT), RN_EADDRINUSE);
    for (i = 0; i < N; i++) {
        ra[i] = new_rec();
        for (k = 0; k < CONNS; k++)
            submit(P.pb, RN_SOP_ACCEPT, hl[i], NULL, 0, NULL, ra[i]);
    }
    for (k = 0; k < CONNS; k++) {
        struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = PORT};
        static struct rec rc[CONNS];

        memset(&rc[k], 0, sizeof(rc[k]));
        submit(P.pa, RN_SOP_CONNECT, tcp_socket(P.pa), NULL, 0, &to, &rc[k]);
    }
    run_for(RN_MSEC(200));
    for (i = 0, k = 0; i < N; i++) {
        got[i] = (int)ra[i]->n;
        k += got[i];
        assert_true(got[i] >= 3);  /* each took its share */
    }
    assert_int_equal(k, CONNS);
    pair_down();
}

/* UDP: endpoints sharing a port with SO_REUSEPORT split the flows; one
 * flow always reaches the same endpoint. */
static void test_reuseport_udp(void **state)
{
    enum { N = 4, FLOWS = 32 };
    static struct rec rs, rr[N];
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = PORT};
    static char buf[N][64][8];
    unsigned i, k, j, total = 0;
    int hb[N], h;

    (void)state;
    up();
    memset(&rs, 0, sizeof(rs));
    memset(rr, 0, sizeof(rr));
    for (i = 0; i < N; i++) {
        hb[i] = udp_socket(P.pb);
        setopt(P.pb, hb[i], RN_SO_REUSEPORT, 1);
        assert_int_equal(bind_to(P.pb, hb[i], 0, PORT), 0);
    }
    /* Two datagrams from each of 32 source ports. */
    for (k = 0; k < FLOWS; k++) {
        h = udp_socket(P.pa);
        submit(P.pa, RN_SOP_SEND, h, "ab", 2, &to, &rs);
        submit(P.pa, RN_SOP_SEND, h, "cd", 2, &to, &rs);
    }
    run_for(RN_MSEC(20));
    for (i = 0; i < N; i++) {
        unsigned got = 0;

        for (k = 0; k < 64; k++)
            submit_flags(P.pb, RN_SOP_RECV, hb[i], buf[i][k], 8, NULL, RN_MSG_DONTWAIT, &rr[i]);
        run_for(RN_MSEC(1));
        for (k = 0; k < rr[i].n; k++) {
            unsigned same = 0;

            if (rr[i].c[k].sc_result != 2)
                continue;
            got++;
            /* The other datagram of its flow came here too. */
            for (j = 0; j < rr[i].n; j++)
                same += rr[i].c[j].sc_result == 2 &&
                        rr[i].c[j].sc_addr.sin_port == rr[i].c[k].sc_addr.sin_port;
            assert_int_equal(same, 2);
        }
        assert_true(got >= 8);  /* each took its share */
        total += got;
    }
    assert_int_equal(total, 2 * FLOWS);
    pair_down();
}

/* ---- Sending ------------------------------------------------------------------- */

/* a's data segments from mark: count and total bytes. */
static unsigned data_segs(unsigned mark, uint32_t *bytes, rn_time_t *first)
{
    unsigned i, n = 0;

    *bytes = 0;
    for (i = mark; i < wire_count(); i++) {
        const struct wire_seg *s = wire_at(i);

        if (s->ws_from_a && s->ws_proto == 6 && s->ws_len > 0) {
            if (n == 0 && first != NULL)
                *first = s->ws_time;
            n++;
            *bytes += s->ws_len;
        }
    }
    return n;
}

static void test_cork(void **state)
{
    rn_time_t t0, first;
    uint32_t bytes;
    unsigned mark;
    int hl, hs, hc;

    (void)state;
    up();
    hl = listen_on(P.pb, PORT, false, false);
    hc = connect_to(hl, PORT, &hs);
    setopt(P.pa, hc, RN_TCP_CORK, 1);
    assert_int_equal(getopt_of(P.pa, hc, RN_TCP_CORK), 1);
    /* A partial segment waits: nothing for 199 ms, then it goes. */
    mark = wire_count();
    t0 = P.now;
    submit(P.pa, RN_SOP_SEND, hc, payload, 100, NULL, new_rec());
    run_for(RN_MSEC(199));
    assert_int_equal(data_segs(mark, &bytes, NULL), 0);
    run_for(RN_MSEC(2));
    assert_int_equal(data_segs(mark, &bytes, &first), 1);
    assert_int_equal(bytes, 100);
    assert_int_equal(first - t0, RN_MSEC(200));
    /* Full segments go at once; the rest waits for the uncork. */
    mark = wire_count();
    submit(P.pa, RN_SOP_SEND, hc, payload, 3000, NULL, new_rec());
    run_for(RN_MSEC(50));
    assert_int_equal(data_segs(mark, &bytes, NULL), 2);
    assert_int_equal(bytes, 2 * 1448);
    setopt(P.pa, hc, RN_TCP_CORK, 0);
    run_for(RN_MSEC(1));
    assert_int_equal(data_segs(mark, &bytes, NULL), 3);
    assert_int_equal(bytes, 3000);
    pair_down();
}

static void test_msg_more(void **state)
{
    uint32_t bytes;
    unsigned mark;
    int hl, hs, hc;

    (void)state;
    up();
    hl = listen_on(P.pb, PORT, false, false);
    hc = connect_to(hl, PORT, &hs);
    mark = wire_count();
    submit_flags(P.pa, RN_SOP_SEND, hc, payload, 100, NULL, RN_MSG_MORE, new_rec());
    run_for(RN_MSEC(50));
    assert_int_equal(data_segs(mark, &bytes, NULL), 0);
    /* The send without MSG_MORE takes it along: one segment of both. */
    submit(P.pa, RN_SOP_SEND, hc, payload, 50, NULL, new_rec());
    run_for(RN_MSEC(5));
    assert_int_equal(data_segs(mark, &bytes, NULL), 1);
    assert_int_equal(bytes, 150);
    pair_down();
}

static bool lose_from_a(const struct wire_seg *s, void *ctx)
{
    (void)ctx;
    return s->ws_from_a;
}

static bool lose_from_b(const struct wire_seg *s, void *ctx)
{
    (void)ctx;
    return !s->ws_from_a;
}

/* TCP_USER_TIMEOUT: data that goes unacknowledged 3 s drops the
 * connection then, long before 15 retransmissions would. */
static void test_user_timeout(void **state)
{
    struct rec *rr = new_rec();
    rn_time_t start;
    char buf[8];
    int hl, hs, hc;

    (void)state;
    up();
    rr = new_rec();
    hl = listen_on(P.pb, PORT, false, false);
    hc = connect_to(hl, PORT, &hs);
    setopt(P.pa, hc, RN_TCP_USER_TIMEOUT, 3000);
    assert_int_equal(getopt_of(P.pa, hc, RN_TCP_USER_TIMEOUT), 3000);
    submit(P.pa, RN_SOP_RECV, hc, buf, sizeof(buf), NULL, rr);
    wire_drop(lose_from_a, NULL);
    start = P.now;
    submit(P.pa, RN_SOP_SEND, hc, payload, 1000, NULL, new_rec());
    assert_true(run_while_not(rec_done, rr, RN_SEC(120)));
    assert_int_equal(rr->c[0].sc_result, RN_ETIMEDOUT);
    assert_true(P.now - start >= RN_SEC(3) && P.now - start < RN_MSEC(3100));
    pair_down();
}

/* SO_KEEPALIVE with the socket's own times: probes after 5 s of silence,
 * 1 s apart; two unanswered drop the connection. */
static void test_keepalive_per_socket(void **state)
{
    struct rec *rr;
    rn_time_t t[8], quiet;
    char buf[8];
    unsigned i, n = 0, mark;
    int hl, hs, hc;

    (void)state;
    up();
    rr = new_rec();
    hl = listen_on(P.pb, PORT, false, false);
    hc = connect_to(hl, PORT, &hs);
    setopt(P.pa, hc, RN_SO_KEEPALIVE, 1);
    setopt(P.pa, hc, RN_TCP_KEEPIDLE, 5);
    setopt(P.pa, hc, RN_TCP_KEEPINTVL, 1);
    setopt(P.pa, hc, RN_TCP_KEEPCNT, 2);
    assert_int_equal(getopt_of(P.pa, hc, RN_TCP_KEEPIDLE), 5);
    submit(P.pa, RN_SOP_RECV, hc, buf, sizeof(buf), NULL, rr);
    quiet = P.now;
    mark = wire_count();
    /* Answered, the probes keep it up. */
    run_for(RN_SEC(12));
    assert_int_equal(rr->n, 0);
    for (i = mark; i < wire_count() && n < 8; i++) {
        if (wire_at(i)->ws_from_a && wire_at(i)->ws_len == 0)
            t[n++] = wire_at(i)->ws_time;
    }
    /* Every 5 s of silence: an answered probe ends the silence. */
    assert_int_equal(n, 2);
    assert_true(t[0] - quiet > RN_MSEC(4900) && t[0] - quiet < RN_MSEC(5100));
    assert_int_equal(t[1] - t[0], RN_MSEC(5002));  /* 5 s after the answer */
    /* Unanswered, two probes 1 s apart, then the end. */
    wire_drop(lose_from_b, NULL);
    mark = wire_count();
    quiet = P.now;
    assert_true(run_while_not(rec_done, rr, RN_SEC(60)));
    assert_int_equal(rr->c[0].sc_result, RN_ETIMEDOUT);
    for (i = mark, n = 0; i < wire_count() && n < 8; i++) {
        if (wire_at(i)->ws_from_a && wire_at(i)->ws_len == 0)
            t[n++] = wire_at(i)->ws_time;
    }
    assert_int_equal(n, 2);
    assert_int_equal(t[1] - t[0], RN_SEC(1));
    assert_true(P.now - t[1] <= RN_SEC(1));
    pair_down();
}

/* SO_SNDBUF and SO_RCVBUF on a stream: what is in flight, and the window
 * offered. */
static void test_tcp_buffers(void **state)
{
    struct rec *r;
    unsigned i, mark;
    uint32_t acked = 0, most = 0;
    int hl, hs, hc;

    (void)state;
    up();
    hl = tcp_socket(P.pb);
    setopt(P.pb, hl, RN_SO_RCVBUF, 8192);  /* a 16 KiB buffer: an 8 KiB window */
    assert_int_equal(bind_to(P.pb, hl, 0, PORT), 0);
    assert_int_equal(rn_sock_listen(P.pb, hl, 4), 0);
    hc = tcp_socket(P.pa);
    setopt(P.pa, hc, RN_SO_SNDBUF, 32768);
    hs = tcp_connect_accept(P.pa, hc, P.pb, hl, PORT);
    /* The accepted socket inherits the listener's buffer. */
    assert_int_equal(getopt_of(P.pb, hs, RN_SO_RCVBUF), 16384);
    assert_int_equal(wire_find(0, false, RN_TCP_SYN | RN_TCP_ACK, 0, false)->ws_win, 8192);
    assert_int_equal(getopt_of(P.pa, hc, RN_SO_SNDBUF), 65536);
    /* b reads nothing: a fills b's 8 KiB window and no more. */
    mark = wire_count();
    r = new_rec();
    submit_flags(P.pa, RN_SOP_SEND, hc, payload, sizeof(payload), NULL, RN_MSG_DONTWAIT, r);
    run_for(RN_SEC(2));
    /* The send took what the 64 KiB send buffer holds. */
    assert_int_equal(r->n, 1);
    assert_int_equal(r->c[0].sc_result, 65536);
    for (i = mark; i < wire_count(); i++) {
        const struct wire_seg *s = wire_at(i);

        if (!s->ws_from_a)
            acked = s->ws_ack;
        else if (s->ws_len > 0 && acked != 0 && s->ws_seq + s->ws_len - acked > most)
            most = s->ws_seq + s->ws_len - acked;
    }
    assert_true(most <= 8192);
    pair_down();
}

/* SO_SNDBUF on a datagram socket: what it sent and the interface has not
 * flushed yet; beyond, RN_EAGAIN without waiting; a datagram too large
 * for it, RN_ENOBUFS. */
static void test_udp_sndbuf(void **state)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 9};
    static struct rec r;
    unsigned i, sent = 0, again = 0;
    int h;

    (void)state;
    up();
    h = udp_socket(P.pa);
    setopt(P.pa, h, RN_SO_SNDBUF, 1);  /* the floor: 4608 bytes of buffers */
    memset(&r, 0, sizeof(r));
    /* Ten datagrams in one go, each a 2176-byte buffer: three fit. */
    for (i = 0; i < 10; i++)
        submit_flags(P.pa, RN_SOP_SEND, h, payload, 100, &to, RN_MSG_DONTWAIT, &r);
    poll_both();
    for (i = 0; i < r.n; i++) {
        if (r.c[i].sc_result == 100)
            sent++;
        else if (r.c[i].sc_result == RN_EAGAIN)
            again++;
    }
    assert_int_equal(sent, 3);
    assert_int_equal(again, 7);
    /* Once flushed, it may send again. */
    run_for(RN_MSEC(5));
    assert_true(rn_sock_ready(P.pa, h) & RN_POLLOUT);
    memset(&r, 0, sizeof(r));
    submit_flags(P.pa, RN_SOP_SEND, h, payload, 100, &to, RN_MSG_DONTWAIT, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(r.c[0].sc_result, 100);
    /* A datagram of 60000 bytes needs 30 buffers: more than twice the
     * buffer. */
    run_for(RN_MSEC(5));
    memset(&r, 0, sizeof(r));
    submit_flags(P.pa, RN_SOP_SEND, h, payload, 60000, &to, RN_MSG_DONTWAIT, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(r.c[0].sc_result, RN_ENOBUFS);
    /* A blocking send waits for room instead, and completes. */
    memset(&r, 0, sizeof(r));
    for (i = 0; i < 10; i++)
        submit(P.pa, RN_SOP_SEND, h, payload, 100, &to, &r);
    run_for(RN_MSEC(20));
    assert_int_equal(r.n, 10);
    for (i = 0; i < 10; i++)
        assert_int_equal(r.c[i].sc_result, 100);
    pair_down();
}

/* SO_BROADCAST: a datagram to a broadcast address needs it. */
static void test_broadcast(void **state)
{
    struct rn_sockaddr_in all = {.sin_addr = 0xffffffffu, .sin_port = PORT}, subnet = {.sin_addr = 0xc613ffffu, .sin_port = PORT};
    static struct rec r;
    int ha, hb1, hb2, n1 = 0, n2 = 0;

    (void)state;
    up();
    /* Two receivers share the port (SO_REUSEADDR): each gets a copy. */
    hb1 = udp_socket(P.pb);
    hb2 = udp_socket(P.pb);
    setopt(P.pb, hb1, RN_SO_REUSEADDR, 1);
    setopt(P.pb, hb2, RN_SO_REUSEADDR, 1);
    assert_int_equal(bind_to(P.pb, hb1, 0, PORT), 0);
    assert_int_equal(bind_to(P.pb, hb2, 0, PORT), 0);
    ha = udp_socket(P.pa);
    memset(&r, 0, sizeof(r));
    submit(P.pa, RN_SOP_SEND, ha, "hi", 2, &all, &r);
    submit(P.pa, RN_SOP_SEND, ha, "hi", 2, &subnet, &r);
    run_for(RN_MSEC(5));
    assert_int_equal(r.c[0].sc_result, RN_EACCES);
    assert_int_equal(r.c[1].sc_result, RN_EACCES);
    assert_int_equal(wire_count(), 0);
    setopt(P.pa, ha, RN_SO_BROADCAST, 1);
    submit(P.pa, RN_SOP_SEND, ha, "hi", 2, &all, &r);
    submit(P.pa, RN_SOP_SEND, ha, "hi", 2, &subnet, &r);
    run_for(RN_MSEC(5));
    assert_int_equal(r.c[2].sc_result, 2);
    assert_int_equal(r.c[3].sc_result, 2);
    assert_int_equal(wire_count(), 2);
    assert_int_equal(wire_at(0)->ws_dst, 0xffffffffu);
    assert_int_equal(wire_at(1)->ws_dst, 0xc613ffffu);
    assert_int_equal(rn_sock_ioctl(P.pb, hb1, RN_FIONREAD, &n1), 0);
    assert_int_equal(rn_sock_ioctl(P.pb, hb2, RN_FIONREAD, &n2), 0);
    assert_int_equal(n1, 2);
    assert_int_equal(n2, 2);
    /* Connecting to a broadcast address needs it too. */
    ha = udp_socket(P.pa);
    submit(P.pa, RN_SOP_CONNECT, ha, NULL, 0, &all, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(r.c[4].sc_result, RN_EACCES);
    pair_down();
}

/* IP_TOS and IP_TTL on what a socket sends, TCP and UDP. */
static void test_tos_ttl(void **state)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 9};
    const struct wire_seg *s;
    unsigned i, mark;
    int hl, hs, hc, hu;

    (void)state;
    up();
    hl = listen_on(P.pb, PORT, false, false);
    hc = tcp_socket(P.pa);
    setopt(P.pa, hc, RN_IP_TOS, 0xb8);
    setopt(P.pa, hc, RN_IP_TTL, 7);
    hs = tcp_connect_accept(P.pa, hc, P.pb, hl, PORT);
    (void)hs;
    submit(P.pa, RN_SOP_SEND, hc, payload, 5000, NULL, new_rec());
    run_for(RN_MSEC(20));
    for (i = 0; i < wire_count(); i++) {
        s = wire_at(i);
        if (s->ws_from_a && s->ws_proto == 6) {
            assert_int_equal(s->ws_tos, 0xb8);
            assert_int_equal(s->ws_ttl, 7);
        } else if (!s->ws_from_a) {
            assert_int_equal(s->ws_tos, 0);
            assert_int_equal(s->ws_ttl, 64);
        }
    }
    mark = wire_count();
    hu = udp_socket(P.pa);
    setopt(P.pa, hu, RN_IP_TOS, 0x2d);
    setopt(P.pa, hu, RN_IP_TTL, 200);
    submit(P.pa, RN_SOP_SEND, hu, "x", 1, &to, new_rec());
    run_for(RN_MSEC(5));
    s = wire_at(mark);
    assert_int_equal(s->ws_proto, 17);
    assert_int_equal(s->ws_tos, 0x2d);
    assert_int_equal(s->ws_ttl, 200);
    pair_down();
}

/* TCP_MAXSEG before connect: announced and used; read: the MSS in use.
 * On a listener: the connections it makes announce it. */
static void test_maxseg(void **state)
{
    const struct wire_seg *syn, *synack;
    unsigned i;
    int hl, hs, hc;

    (void)state;
    up();
    hl = tcp_socket(P.pb);
    setopt(P.pb, hl, RN_TCP_MAXSEG, 1200);
    assert_int_equal(bind_to(P.pb, hl, 0, PORT), 0);
    assert_int_equal(rn_sock_listen(P.pb, hl, 4), 0);
    hc = tcp_socket(P.pa);
    setopt(P.pa, hc, RN_TCP_MAXSEG, 1000);
    hs = tcp_connect_accept(P.pa, hc, P.pb, hl, PORT);
    syn = wire_find(0, true, RN_TCP_SYN, RN_TCP_ACK, false);
    synack = wire_find(0, false, RN_TCP_SYN | RN_TCP_ACK, 0, false);
    assert_int_equal(syn->ws_mss, 1000);
    assert_int_equal(synack->ws_mss, 1200);
    /* In use: the smaller, less the timestamp option. */
    assert_int_equal(getopt_of(P.pa, hc, RN_TCP_MAXSEG), 988);
    assert_int_equal(getopt_of(P.pb, hs, RN_TCP_MAXSEG), 988);
    submit(P.pa, RN_SOP_SEND, hc, payload, 20000, NULL, new_rec());
    run_for(RN_MSEC(50));
    for (i = 0; i < wire_count(); i++)
        assert_true(wire_at(i)->ws_len <= 988);
    pair_down();
}

/* TCP_SYNCNT: how many SYNs before connect gives up. */
static void test_syncnt(void **state)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = PORT};
    struct rec *r;
    rn_time_t start;
    unsigned i, syns = 0;
    int hc;

    (void)state;
    up();
    r = new_rec();
    wire_drop(lose_from_a, NULL);
    hc = tcp_socket(P.pa);
    setopt(P.pa, hc, RN_TCP_SYNCNT, 2);
    start = P.now;
    submit(P.pa, RN_SOP_CONNECT, hc, NULL, 0, &to, r);
    assert_true(run_while_not(rec_done, r, RN_SEC(120)));
    assert_int_equal(r->c[0].sc_result, RN_ETIMEDOUT);
    for (i = 0; i < wire_count(); i++)
        syns += (wire_at(i)->ws_flags & RN_TCP_SYN) != 0;
    assert_int_equal(syns, 3);
    assert_int_equal(P.now - start, RN_SEC(7));  /* 1 + 2 + 4 s */
    pair_down();
}

/* TCP_WINDOW_CLAMP: the window offered stays under it. */
static void test_window_clamp(void **state)
{
    unsigned i;
    int hl, hs, hc, scale = -1;

    (void)state;
    up();
    hl = tcp_socket(P.pb);
    setopt(P.pb, hl, RN_TCP_WINDOW_CLAMP, 5000);
    assert_int_equal(bind_to(P.pb, hl, 0, PORT), 0);
    assert_int_equal(rn_sock_listen(P.pb, hl, 4), 0);
    assert_int_equal(rn_sock_setopt(P.pb, hl, RN_TCP_WINDOW_CLAMP, 0), RN_EINVAL);
    hc = tcp_socket(P.pa);
    hs = tcp_connect_accept(P.pa, hc, P.pb, hl, PORT);
    assert_int_equal(getopt_of(P.pb, hs, RN_TCP_WINDOW_CLAMP), 5000);
    assert_int_equal(rn_sock_setopt(P.pb, hs, RN_TCP_WINDOW_CLAMP, 0), RN_EINVAL);
    submit(P.pa, RN_SOP_SEND, hc, payload, 100000, NULL, new_rec());
    run_for(RN_MSEC(100));
    for (i = 0; i < wire_count(); i++) {
        const struct wire_seg *s = wire_at(i);

        if (s->ws_from_a)
            continue;
        if (s->ws_flags & RN_TCP_SYN) {
            scale = s->ws_wscale;
            assert_true(s->ws_win <= 5000);
        } else {
            assert_true((uint32_t)s->ws_win << scale <= 5000 + (1u << scale));
        }
    }
    assert_true(scale >= 0);
    pair_down();
}

/* ---- TCP_CONGESTION ------------------------------------------------------------- */

static const char *cc_of(struct rn_proc *p, int h)
{
    static char name[RN_TCP_CC_NAME_MAX];

    memset(name, 'x', sizeof(name));
    assert_int_equal(rn_sock_getopt_str(p, h, RN_TCP_CONGESTION, name, sizeof(name)), 0);
    return name;
}

static const char *cc_info_of(struct rn_proc *p, int h)
{
    static struct rn_tcp_info ti;

    assert_int_equal(rn_sock_tcp_info(p, h, &ti), 0);
    return ti.ti_cc;
}

/* Names, errors and the calls that do not take a string. */
static void test_congestion_values(void **state)
{
    char buf[RN_TCP_CC_NAME_MAX], longname[200];
    int64_t v;
    int t, u;

    (void)state;
    up();
    t = tcp_socket(P.pa);
    u = udp_socket(P.pa);
    /* The default is the stack's, CUBIC unless tcp.congestion says. */
    assert_string_equal(cc_of(P.pa, t), "cubic");
    assert_int_equal(rn_sock_setopt_str(P.pa, t, RN_TCP_CONGESTION, "newreno"), 0);
    assert_string_equal(cc_of(P.pa, t), "newreno");
    assert_int_equal(rn_sock_setopt_str(P.pa, t, RN_TCP_CONGESTION, "cubic"), 0);
    assert_string_equal(cc_of(P.pa, t), "cubic");
    /* Linux's name for NewReno. */
    assert_int_equal(rn_sock_setopt_str(P.pa, t, RN_TCP_CONGESTION, "reno"), 0);
    assert_string_equal(cc_of(P.pa, t), "newreno");
    /* No such algorithm: RN_ENOENT, and the choice stays. */
    assert_int_equal(rn_sock_setopt_str(P.pa, t, RN_TCP_CONGESTION, "bbr"), RN_ENOENT);
    assert_int_equal(rn_sock_setopt_str(P.pa, t, RN_TCP_CONGESTION, ""), RN_ENOENT);
    assert_int_equal(rn_sock_setopt_str(P.pa, t, RN_TCP_CONGESTION, "Cubic"), RN_ENOENT);
    memset(longname, 'c', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(rn_sock_setopt_str(P.pa, t, RN_TCP_CONGESTION, longname), RN_ENOENT);
    assert_string_equal(cc_of(P.pa, t), "newreno");
    /* A string option through the int calls, an int one through these. */
    assert_int_equal(rn_sock_setopt(P.pa, t, RN_TCP_CONGESTION, 1), RN_EINVAL);
    assert_int_equal(rn_sock_getopt(P.pa, t, RN_TCP_CONGESTION, &v), RN_EINVAL);
    assert_int_equal(rn_sock_setopt_str(P.pa, t, RN_TCP_NODELAY, "1"), RN_EINVAL);
    assert_int_equal(rn_sock_getopt_str(P.pa, t, RN_TCP_NODELAY, buf, sizeof(buf)), RN_EINVAL);
    assert_int_equal(rn_sock_setopt_str(P.pa, t, RN_TCP_CONGESTION, NULL), RN_EINVAL);
    assert_int_equal(rn_sock_getopt_str(P.pa, t, RN_TCP_CONGESTION, buf, 0), RN_EINVAL);
    /* A short buffer gets the name cut, NUL-terminated. */
    assert_int_equal(rn_sock_getopt_str(P.pa, t, RN_TCP_CONGESTION, buf, 4), 0);
    assert_string_equal(buf, "new");
    /* Datagram sockets answer as Linux does for TCP's level. */
    assert_int_equal(rn_sock_setopt_str(P.pa, u, RN_TCP_CONGESTION, "cubic"), RN_ENOPROTOOPT);
    assert_int_equal(rn_sock_getopt_str(P.pa, u, RN_TCP_CONGESTION, buf, sizeof(buf)),
                     RN_EOPNOTSUPP);
    assert_int_equal(rn_sock_setopt_str(P.pa, 99, RN_TCP_CONGESTION, "cubic"), RN_EBADF);
    assert_int_equal(rn_sock_getopt_str(P.pa, 99, RN_TCP_CONGESTION, buf, sizeof(buf)), RN_EBADF);
    pair_down();
}

/* A socket's choice goes to its connection; a listener's to those it
 * accepts; the rest follow the stack. */
static void test_congestion_per_socket(void **state)
{
    int hl, hl2, hs, hs2, hc, hc2;

    (void)state;
    up();
    hl = listen_on(P.pb, PORT, false, false);
    assert_int_equal(rn_sock_setopt_str(P.pb, hl, RN_TCP_CONGESTION, "reno"), 0);
    hl2 = listen_on(P.pb, PORT + 1, false, false);
    hc = tcp_socket(P.pa);
    assert_int_equal(rn_sock_setopt_str(P.pa, hc, RN_TCP_CONGESTION, "newreno"), 0);
    hs = tcp_connect_accept(P.pa, hc, P.pb, hl, PORT);
    hc2 = tcp_socket(P.pa);
    hs2 = tcp_connect_accept(P.pa, hc2, P.pb, hl2, PORT + 1);
    assert_string_equal(cc_of(P.pa, hc), "newreno");
    assert_string_equal(cc_info_of(P.pa, hc), "newreno");
    assert_string_equal(cc_of(P.pb, hs), "newreno");
    assert_string_equal(cc_info_of(P.pb, hs), "newreno");
    assert_string_equal(cc_of(P.pb, hl), "newreno");
    assert_string_equal(cc_of(P.pa, hc2), "cubic");
    assert_string_equal(cc_info_of(P.pa, hc2), "cubic");
    assert_string_equal(cc_of(P.pb, hs2), "cubic");
    /* A change of the stack's setting reaches new connections only, and
     * not those whose socket chose. */
    assert_int_equal(rn_tcp_setting_set(P.b, "tcp.congestion", "newreno"), 0);
    assert_string_equal(cc_of(P.pb, hs2), "cubic");
    assert_int_equal(rn_sock_setopt_str(P.pb, hl2, RN_TCP_CONGESTION, "cubic"), 0);
    hc = tcp_socket(P.pa);
    hs = tcp_connect_accept(P.pa, hc, P.pb, hl2, PORT + 1);
    assert_string_equal(cc_of(P.pb, hs), "cubic");
    hc = tcp_socket(P.pa);
    hs = tcp_connect_accept(P.pa, hc, P.pb, hl, PORT);
    assert_string_equal(cc_of(P.pb, hs), "newreno");
    pair_down();
}

/* Set on a connection under way, the algorithm takes over from the window
 * as it is, and grows it its own way from there. */
static void test_congestion_live_change(void **state)
{
    struct rn_tcp_info before, after;
    int hl, hs, hc;

    (void)state;
    up();
    hl = listen_on(P.pb, PORT, false, false);
    hc = tcp_socket(P.pa);
    assert_int_equal(rn_sock_setopt_str(P.pa, hc, RN_TCP_CONGESTION, "newreno"), 0);
    hs = tcp_connect_accept(P.pa, hc, P.pb, hl, PORT);
    submit(P.pa, RN_SOP_SEND, hc, payload, 100000, NULL, new_rec());
    run_for(RN_MSEC(200));
    assert_int_equal(rn_sock_tcp_info(P.pa, hc, &before), 0);
    assert_string_equal(before.ti_cc, "newreno");
    assert_int_equal(rn_sock_setopt_str(P.pa, hc, RN_TCP_CONGESTION, "cubic"), 0);
    assert_int_equal(rn_sock_tcp_info(P.pa, hc, &after), 0);
    assert_string_equal(after.ti_cc, "cubic");
    assert_int_equal(after.ti_snd_cwnd, before.ti_snd_cwnd);
    assert_int_equal(after.ti_snd_ssthresh, before.ti_snd_ssthresh);
    /* Still in its first slow start: the window keeps growing. */
    submit(P.pa, RN_SOP_SEND, hc, payload, 100000, NULL, new_rec());
    run_for(RN_MSEC(200));
    assert_int_equal(rn_sock_tcp_info(P.pa, hc, &after), 0);
    assert_true(after.ti_snd_cwnd > before.ti_snd_cwnd);
    assert_int_equal(after.ti_bytes_acked, 200000);
    (void)hs;
    pair_down();
}

/* ---- TCP_INFO -------------------------------------------------------------------- */

static void test_tcp_info(void **state)
{
    struct rn_tcp_info ti;
    struct rec *r;
    int hl, hs, hc, hu;

    (void)state;
    up();
    hl = listen_on(P.pb, PORT, false, false);
    assert_int_equal(rn_sock_tcp_info(P.pb, hl, &ti), 0);
    assert_int_equal(ti.ti_state, RN_TCP_LISTEN);
    hc = tcp_socket(P.pa);
    assert_int_equal(rn_sock_tcp_info(P.pa, hc, &ti), 0);
    assert_int_equal(ti.ti_state, RN_TCP_CLOSED);
    hs = tcp_connect_accept(P.pa, hc, P.pb, hl, PORT);
    r = new_rec();
    submit(P.pa, RN_SOP_SEND, hc, payload, 30000, NULL, r);
    run_for(RN_MSEC(100));
    assert_int_equal(rn_sock_tcp_info(P.pa, hc, &ti), 0);
    assert_int_equal(ti.ti_state, RN_TCP_ESTABLISHED);
    assert_string_equal(rn_tcp_state_name(ti.ti_state), "ESTABLISHED");
    assert_int_equal(ti.ti_bytes_acked, 30000);
    assert_int_equal(ti.ti_bytes_sent, 30000);
    assert_int_equal(ti.ti_bytes_retrans, 0);
    assert_int_equal(ti.ti_data_segs_out, (30000 + 1447) / 1448);
    assert_int_equal(ti.ti_unacked, 0);
    assert_true(ti.ti_rtt >= RN_MSEC(2) && ti.ti_rtt < RN_MSEC(10));
    assert_true(ti.ti_min_rtt >= RN_MSEC(2));
    assert_int_equal(ti.ti_rto, RN_MSEC(200));
    assert_int_equal(ti.ti_snd_mss, 1448);
    assert_int_equal(ti.ti_advmss, 1460);
    assert_int_equal(ti.ti_peer_mss, 1460);
    assert_true(ti.ti_snd_cwnd >= 10);
    assert_int_equal(ti.ti_snd_ssthresh, UINT32_MAX);
    assert_true(ti.ti_delivery_rate > 0);
    /* b counts what it received, read or not. */
    assert_int_equal(rn_sock_tcp_info(P.pb, hs, &ti), 0);
    assert_int_equal(ti.ti_bytes_received, 30000);
    assert_int_equal(ti.ti_recvq, 30000);
    assert_int_equal(ti.ti_rcv_mss, 1448);
    hu = udp_socket(P.pa);
    assert_int_equal(rn_sock_tcp_info(P.pa, hu, &ti), RN_EOPNOTSUPP);
    assert_int_equal(rn_sock_tcp_info(P.pa, 99, &ti), RN_EBADF);
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_as_linux),
        cmocka_unit_test(test_bind_port_zero),
        cmocka_unit_test(test_reuseaddr_over_timewait),
        cmocka_unit_test(test_reuseaddr_not_over_connection),
        cmocka_unit_test(test_reuseport_spreads_syns),
        cmocka_unit_test(test_reuseport_udp),
        cmocka_unit_test(test_cork),
        cmocka_unit_test(test_msg_more),
        cmocka_unit_test(test_user_timeout),
        cmocka_unit_test(test_keepalive_per_socket),
        cmocka_unit_test(test_tcp_buffers),
        cmocka_unit_test(test_udp_sndbuf),
        cmocka_unit_test(test_broadcast),
        cmocka_unit_test(test_tos_ttl),
        cmocka_unit_test(test_maxseg),
        cmocka_unit_test(test_syncnt),
        cmocka_unit_test(test_window_clamp),
        cmocka_unit_test(test_congestion_values),
        cmocka_unit_test(test_congestion_per_socket),
        cmocka_unit_test(test_congestion_live_change),
        cmocka_unit_test(test_tcp_info),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
