/*
 * The socket layer over two stacks on a simulated cable: the UDP echo
 * service answering 1,000 fragmented datagrams, close completing only when
 * the transport object is released (with the waits visible meanwhile),
 * process exit cleaning every handle, completion queues, poll requests,
 * and the blocking API from a second thread while the test thread runs the
 * loops in real time.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <cmocka.h>

#include "net/net_priv.h"
#include "apps/apps.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/snapshot.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "support.h"

/* ---- Helpers ------------------------------------------------------------- */

static void describe(const void *ob, char *buf, size_t len)
{
    rn_ob_describe(ob, buf, len);
}

static bool flag_set(void *ctx)
{
    return atomic_load((atomic_bool *)ctx);
}

static void set_flag(void *ctx)
{
    atomic_store((atomic_bool *)ctx, true);
}

/* Stops an echo service and runs until it says it is done. */
static void echo_stop_and_wait(struct rn_echo *e)
{
    atomic_bool done = false;

    rn__echo_stop(e, set_flag, &done);
    assert_true(run_while_not(flag_set, &done, RN_SEC(5)));
}

/* ---- The echo client on stack a --------------------------------------------- */

#define ECHO_N 1000
#define ECHO_WINDOW 8
#define ECHO_MAX 8192

struct echo_client {
    struct rn_proc *ec_proc;
    int ec_h;
    struct rn_sockaddr_in ec_server;
    unsigned ec_total;           /* datagrams to send */
    unsigned ec_sent;            /* submitted */
    unsigned ec_received;        /* verified echoes */
    unsigned ec_bad;             /* echoes that did not match */
    unsigned ec_send_errors;
    size_t ec_size[ECHO_N];
    bool ec_seen[ECHO_N];
    uint8_t *ec_sbuf[ECHO_N];    /* kept until the send completes */
    uint8_t ec_rbuf[ECHO_WINDOW][ECHO_MAX + 64];
};

static uint8_t pattern(unsigned seq, size_t i)
{
    return (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

static void client_done(struct rn_proc *p, const struct rn_sock_completion *c);

static void client_recv(struct echo_client *ec, unsigned slot)
{
    struct rn_sock_req rq = {
        .sq_op = RN_SOP_RECV, .sq_handle = ec->ec_h, .sq_buf = ec->ec_rbuf[slot],
        .sq_len = sizeof(ec->ec_rbuf[slot]), .sq_user = (void *)(uintptr_t)slot,
    };

    assert_int_equal(rn_sock_submit(ec->ec_proc, &rq, client_done), 0);
}

static void client_send(struct echo_client *ec)
{
    unsigned seq = ec->ec_sent++;
    size_t n = ec->ec_size[seq], i;
    uint8_t *b = malloc(n + 1);
    struct rn_sock_req rq = {
        .sq_op = RN_SOP_SEND, .sq_handle = ec->ec_h, .sq_buf = b, .sq_len = n,
        .sq_to = &ec->ec_server, .sq_user = (void *)(uintptr_t)(ECHO_WINDOW + seq),
    };

    assert_non_null(b);
    for (i = 0; i < n; i++)
        b[i] = pattern(seq, i);
    memcpy(b, &seq, 4);  /* sizes are >= 4 */
    ec->ec_sbuf[seq] = b;
    assert_int_equal(rn_sock_submit(ec->ec_proc, &rq, client_done), 0);
}

static struct echo_client *client_of;

static void client_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct echo_client *ec = client_of;
    uintptr_t tag = (uintptr_t)c->sc_user;

    (void)p;
    if (c->sc_op == RN_SOP_SEND) {
        unsigned seq = (unsigned)(tag - ECHO_WINDOW);

        if (c->sc_result != (ssize_t)ec->ec_size[seq])
            ec->ec_send_errors++;
        free(ec->ec_sbuf[seq]);
        ec->ec_sbuf[seq] = NULL;
        return;
    }
    if (c->sc_result == RN_ECANCELED)
        return;
    if (c->sc_result >= 4) {
        const uint8_t *b = ec->ec_rbuf[tag];
        unsigned seq;
        size_t i;
        bool ok;

        memcpy(&seq, b, 4);
        ok = seq < ec->ec_sent && !ec->ec_seen[seq] && (size_t)c->sc_result == ec->ec_size[seq] &&
             c->sc_addr.sin_addr == ec->ec_server.sin_addr &&
             c->sc_addr.sin_port == ec->ec_server.sin_port && c->sc_flags == 0;
        for (i = 4; ok && i < (size_t)c->sc_result; i++)
            ok = b[i] == pattern(seq, i);
        if (ok) {
            ec->ec_seen[seq] = true;
            ec->ec_received++;
        } else {
            ec->ec_bad++;
        }
    } else {
        ec->ec_bad++;
    }
    if (ec->ec_sent < ec->ec_total)
        client_send(ec);
    client_recv(ec, (unsigned)tag);
}

static bool client_finished(void *ctx)
{
    struct echo_client *ec = ctx;

    return ec->ec_received + ec->ec_bad >= ec->ec_total;
}

/* A small exchange first, so ARP is resolved before the window of
 * fragmented datagrams (ARP queues only 16 frames per neighbour). */
static void resolve_arp(void)
{
    struct rn_proc *p;
    struct rec r = {0};
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 9};
    uint8_t b[4] = {0};
    int h;

    assert_int_equal(rn_proc_create(P.a, "arp", &p), 0);
    h = rn_sock_open(p, RN_SOCK_DGRAM, 0);
    submit(p, RN_SOP_SEND, h, b, sizeof(b), &to, &r);
    run_for(RN_MSEC(20));
    rn_proc_exit(p);
    run_for(RN_MSEC(1));
}

/* ---- Tests ---------------------------------------------------------------------- */

static void test_echo_1000_fragmented_datagrams(void **state)
{
    struct echo_client *ec = calloc(1, sizeof(*ec));
    struct rn_echo_stats es;
    struct rn_udp_stats ua, ub;
    struct rn_echo *e;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    unsigned i;

    (void)state;
    assert_non_null(ec);
    client_of = ec;
    pair_up(1500, false);
    assert_int_equal(rn__echo_start(P.b, NULL, &e), 0);
    resolve_arp();
    assert_int_equal(rn_proc_create(P.a, "client", &ec->ec_proc), 0);
    ec->ec_h = rn_sock_open(ec->ec_proc, RN_SOCK_DGRAM, 0);
    assert_true(ec->ec_h > 0);
    ec->ec_server.sin_addr = ADDR_B;
    ec->ec_server.sin_port = 7;
    ec->ec_total = ECHO_N;
    for (i = 0; i < ECHO_N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ec->ec_size[i] = 4 + x % (ECHO_MAX - 3);
    }
    for (i = 0; i < ECHO_WINDOW; i++)
        client_recv(ec, i);
    for (i = 0; i < ECHO_WINDOW; i++)
        client_send(ec);
    assert_true(run_while_not(client_finished, ec, RN_SEC(60)));
    assert_int_equal(ec->ec_bad, 0);
    assert_int_equal(ec->ec_send_errors, 0);
    assert_int_equal(ec->ec_received, ECHO_N);
    for (i = 0; i < ECHO_N; i++)
        assert_true(ec->ec_seen[i]);
    rn__echo_stats(e, &es);
    assert_int_equal(es.es_received, ECHO_N);
    assert_int_equal(es.es_echoed, ECHO_N);
    assert_int_equal(es.es_send_errors + es.es_recv_errors, 0);
    /* Most datagrams went out in fragments both ways. */
    assert_true(net_st(P.b)->ns_ip_reassembled > ECHO_N / 2);
    assert_true(net_st(P.a)->ns_ip_reassembled > ECHO_N / 2);
    rn_udp_stats(P.a, &ua);
    rn_udp_stats(P.b, &ub);
    assert_int_equal(ub.us_in, ECHO_N);
    assert_int_equal(ua.us_in, ECHO_N);
    assert_int_equal(ub.us_in_errors + ua.us_in_errors, 0);
    rn_proc_exit(ec->ec_proc);
    echo_stop_and_wait(e);
    assert_int_equal(count_type("socket"), 0);
    assert_int_equal(count_type("process"), 0);
    assert_int_equal(count_type("request"), 0);
    assert_int_equal(pool_outstanding(P.a), 0);
    assert_int_equal(pool_outstanding(P.b), 0);
    pair_down();
    free(ec);
}

static void test_echo_sizes_at_the_limits(void **state)
{
    static const size_t sizes[] = {0, 1, 1472, 1473, 65507};
    static uint8_t sbuf[65507], rbuf[65536];
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 7};
    struct rn_proc *p;
    struct rn_echo *e;
    struct rec r;
    unsigned i;
    size_t j;
    int h;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn__echo_start(P.b, &(struct rn_echo_params){.ep_depth = 2}, &e), 0);
    assert_int_equal(rn_proc_create(P.a, "client", &p), 0);
    h = rn_sock_open(p, RN_SOCK_DGRAM, 0);
    for (j = 0; j < sizeof(sbuf); j++)
        sbuf[j] = (uint8_t)(j ^ (j >> 8));
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memset(&r, 0, sizeof(r));
        memset(rbuf, 0, sizeof(rbuf));
        submit(p, RN_SOP_RECV, h, rbuf, sizeof(rbuf), NULL, &r);
        submit(p, RN_SOP_SEND, h, sbuf, sizes[i], &to, &r);
        run_for(RN_MSEC(50));
        assert_int_equal(r.n, 2);
        assert_int_equal(r.c[0].sc_op, RN_SOP_SEND);
        assert_int_equal(r.c[0].sc_result, (ssize_t)sizes[i]);
        assert_int_equal(r.c[1].sc_result, (ssize_t)sizes[i]);
        assert_memory_equal(rbuf, sbuf, sizes[i]);
    }
    /* One byte too many for IPv4. */
    memset(&r, 0, sizeof(r));
    submit(p, RN_SOP_SEND, h, rbuf, 65508, &to, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(r.c[0].sc_result, RN_EMSGSIZE);
    rn_proc_exit(p);
    echo_stop_and_wait(e);
    pair_down();
}

static void test_close_returns_and_the_socket_waits_for_its_transport(void **state)
{
    struct rn_sockaddr_in local = {.sin_addr = 0, .sin_port = 5555};
    struct rec r = {0};
    struct rn_proc *p;
    void *ep, *so;
    uint8_t buf[16];
    char desc[160];
    int h;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_proc_create(P.a, "closer", &p), 0);
    h = rn_sock_open(p, RN_SOCK_DGRAM, 0);
    assert_int_equal(rn_sock_bind(p, h, &local), 0);
    so = find_object("socket", "0.0.0.0:5555");
    ep = find_object("udp endpoint", "0.0.0.0:5555");
    assert_non_null(so);
    assert_non_null(ep);
    describe(so, desc, sizeof(desc));
    assert_string_equal(desc, "socket #1 udp 0.0.0.0:5555 open");
    assert_int_equal(rn_ob_tag_count(so, RN_TAG_HANDLE), 1);
    assert_int_equal(rn_ob_tag_count(ep, RN_TAG_SOCKET_ENDPOINT), 1);
    assert_int_equal(rn_ob_tag_count(ep, RN_TAG_PORT_TABLE), 1);
    /* Someone else (a leaked enumeration, say) holds the endpoint. */
    rn_ob_ref(ep, RN_TAG_ENUM);
    rn_ob_deref(ep, RN_TAG_LOOKUP);
    submit(p, RN_SOP_RECV, h, buf, sizeof(buf), NULL, &r);
    submit(p, RN_SOP_CLOSE, h, NULL, 0, NULL, &r);
    run_for(RN_SEC(2));
    /* The receive was cancelled; the close returned at once, as close(2)
     * does, and the socket waits, closing, in its process. */
    assert_int_equal(r.n, 2);
    assert_int_equal(r.c[0].sc_op, RN_SOP_RECV);
    assert_int_equal(r.c[0].sc_result, RN_ECANCELED);
    assert_int_equal(r.c[1].sc_op, RN_SOP_CLOSE);
    assert_int_equal(r.c[1].sc_result, 0);
    describe(so, desc, sizeof(desc));
    assert_string_equal(desc, "socket #1 udp 0.0.0.0:5555 close pending");
    assert_int_equal(rn_ob_state(so), RN_OB_DYING);
    assert_int_equal(rn_ob_state(ep), RN_OB_DYING);
    assert_int_equal(rn_ob_tag_count(ep, RN_TAG_PORT_TABLE), 0);
    assert_int_equal(rn_ob_tag_count(ep, RN_TAG_SOCKET_ENDPOINT), 0);
    assert_int_equal(rn_ob_refcount(ep), 1);
    assert_true(has_wait_on(rn_ob_id(so), rn_ob_id(ep), NULL, "close"));
    assert_true(has_wait_on(rn_ob_id(p), rn_ob_id(so), NULL, "cleanup"));
    /* The handle is gone for new requests and its number is free at once,
     * as close(2) frees a descriptor; the process still counts the closing
     * socket among its handles. */
    assert_int_equal(rn_sock_ready(p, h), RN_POLLNVAL);
    assert_int_equal(rn_proc_handles(p), 1);
    assert_int_equal(rn_sock_open(p, RN_SOCK_DGRAM, 0), h);
    assert_int_equal(rn_proc_handles(p), 2);
    /* The port is free again already. */
    assert_int_equal(rn_sock_bind(p, h, &local), 0);
    /* The holder lets go: the close finishes, the waits are gone. */
    rn_ob_deref(ep, RN_TAG_ENUM);
    run_for(RN_MSEC(1));
    assert_int_equal(r.n, 2);
    describe(so, desc, sizeof(desc));
    assert_string_equal(desc, "socket #1 udp 0.0.0.0:5555 closed");
    assert_false(has_wait_on(rn_ob_id(so), rn_ob_id(ep), NULL, "close"));
    /* Our lookup keeps the socket: the process's cleanup still waits. */
    assert_true(has_wait_on(rn_ob_id(p), rn_ob_id(so), NULL, "cleanup"));
    assert_int_equal(rn_proc_handles(p), 2);
    rn_ob_deref(so, RN_TAG_LOOKUP);
    run_for(RN_MSEC(1));
    assert_int_equal(rn_proc_handles(p), 1);
    /* The lowest free number comes next. */
    assert_int_equal(rn_sock_open(p, RN_SOCK_DGRAM, 0), h + 1);
    rn_proc_exit(p);
    run_for(RN_MSEC(1));
    pair_down();
}

static void test_exit_cleans_every_handle(void **state)
{
    struct rn_sockaddr_in l = {.sin_addr = 0, .sin_port = 0};
    struct rn_pollfd pf[2];
    struct rec r = {0};
    struct rn_proc *p;
    void *ep, *pr;
    uint8_t buf[3][16];
    char desc[160];
    int h[3], i;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_proc_create(P.a, "worker", &p), 0);
    for (i = 0; i < 3; i++) {
        h[i] = rn_sock_open(p, RN_SOCK_DGRAM, 0);
        l.sin_port = (uint16_t)(6000 + i);
        assert_int_equal(rn_sock_bind(p, h[i], &l), 0);
        submit(p, RN_SOP_RECV, h[i], buf[i], sizeof(buf[i]), NULL, &r);
    }
    pf[0] = (struct rn_pollfd){.pf_handle = h[0], .pf_events = RN_POLLIN};
    pf[1] = (struct rn_pollfd){.pf_handle = h[1], .pf_events = RN_POLLIN};
    {
        struct rn_sock_req rq = {.sq_op = RN_SOP_POLL, .sq_fds = pf, .sq_nfds = 2, .sq_user = &r};

        assert_int_equal(rn_sock_submit(p, &rq, rec_fn), 0);
    }
    describe(p, desc, sizeof(desc));
    assert_non_null(strstr(desc, "process worker (pid "));
    assert_non_null(strstr(desc, ") 3 handles"));
    assert_int_equal(count_type("request"), 4);
    ep = find_object("udp endpoint", ":6002");
    rn_ob_ref(ep, RN_TAG_ENUM);
    rn_ob_deref(ep, RN_TAG_LOOKUP);
    pr = p;
    rn_ob_ref(pr, RN_TAG_LOOKUP);
    rn_proc_exit(p);
    run_for(RN_SEC(1));
    /* Every request completed: three receives cancelled, the poll woken
     * by the first handle's close, with NVAL for it. */
    assert_int_equal(r.n, 4);
    for (i = 0; i < 4; i++) {
        if (r.c[i].sc_op == RN_SOP_POLL) {
            assert_int_equal(r.c[i].sc_result, 1);
            assert_int_equal(pf[0].pf_revents, RN_POLLNVAL);
            assert_int_equal(pf[1].pf_revents, 0);
        } else {
            assert_int_equal(r.c[i].sc_result, RN_ECANCELED);
        }
    }
    /* One cleanup is held up by the endpoint still referenced. */
    describe(pr, desc, sizeof(desc));
    assert_non_null(strstr(desc, "terminating, 1 of 3 handle cleanups pending"));
    assert_int_equal(count_type("socket"), 1);
    assert_int_equal(rn_ob_state(pr), RN_OB_LIVE);
    rn_ob_deref(ep, RN_TAG_ENUM);
    run_for(RN_MSEC(1));
    describe(pr, desc, sizeof(desc));
    assert_non_null(strstr(desc, "terminated"));
    assert_int_equal(rn_ob_state(pr), RN_OB_DYING);
    assert_int_equal(count_type("socket"), 0);
    assert_int_equal(count_type("request"), 0);
    rn_ob_deref(pr, RN_TAG_LOOKUP);
    assert_int_equal(count_type("process"), 0);
    pair_down();
}

static void test_completion_queue(void **state)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 7};
    struct rn_sock_completion c[8];
    struct rn_echo *e;
    struct rn_proc *p;
    struct rn_cq *cq;
    uint8_t sbuf[100], rbuf[3][200];
    struct pollfd pfd;
    unsigned got = 0, i;
    int h;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn__echo_start(P.b, NULL, &e), 0);
    assert_int_equal(rn_cq_create(&cq), 0);
    assert_int_equal(rn_proc_create(P.a, "cq-user", &p), 0);
    h = rn_sock_open(p, RN_SOCK_DGRAM, 0);
    memset(sbuf, 0xc3, sizeof(sbuf));
    for (i = 0; i < 3; i++) {
        struct rn_sock_req rq = {.sq_op = RN_SOP_RECV, .sq_handle = h, .sq_buf = rbuf[i],
                                 .sq_len = sizeof(rbuf[i]), .sq_user = (void *)(uintptr_t)i};

        assert_int_equal(rn_sock_submit_cq(p, &rq, cq), 0);
    }
    {
        struct rn_sock_req rq = {.sq_op = RN_SOP_SEND, .sq_handle = h, .sq_buf = sbuf,
                                 .sq_len = 100, .sq_to = &to, .sq_user = (void *)(uintptr_t)9};

        assert_int_equal(rn_sock_submit_cq(p, &rq, cq), 0);
    }
    assert_int_equal(rn_cq_inflight(cq), 4);
    pfd.fd = rn_cq_fd(cq);
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, 0), 0);
    run_for(RN_MSEC(50));
    /* The send and one echo completed; the eventfd says so. */
    assert_int_equal(rn_cq_inflight(cq), 2);
    assert_int_equal(poll(&pfd, 1, 0), 1);
    assert_int_equal(rn_cq_destroy(cq), RN_EBUSY);
    got = rn_cq_reap(cq, c, 1);
    assert_int_equal(got, 1);
    assert_int_equal(c[0].sc_op, RN_SOP_SEND);
    assert_int_equal(c[0].sc_result, 100);
    /* One is left: the eventfd stays readable. */
    assert_int_equal(poll(&pfd, 1, 0), 1);
    got = rn_cq_reap(cq, c, 8);
    assert_int_equal(got, 1);
    assert_int_equal(c[0].sc_op, RN_SOP_RECV);
    assert_int_equal(c[0].sc_result, 100);
    assert_int_equal(c[0].sc_addr.sin_addr, ADDR_B);
    assert_int_equal(c[0].sc_addr.sin_port, 7);
    assert_memory_equal(rbuf[(uintptr_t)c[0].sc_user], sbuf, 100);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    /* Exit cancels the other two. */
    rn_proc_exit(p);
    run_for(RN_MSEC(1));
    got = rn_cq_reap(cq, c, 8);
    assert_int_equal(got, 2);
    assert_int_equal(c[0].sc_result, RN_ECANCELED);
    assert_int_equal(c[1].sc_result, RN_ECANCELED);
    assert_int_equal(rn_cq_destroy(cq), 0);
    echo_stop_and_wait(e);
    pair_down();
}

static void test_poll_and_timeouts(void **state)
{
    struct rn_sockaddr_in l = {.sin_addr = 0, .sin_port = 4000}, to = {.sin_addr = ADDR_A, .sin_port = 4000};
    struct rn_pollfd pf[2];
    struct rec r = {0};
    struct rn_proc *pa, *pb;
    uint8_t buf[32] = "ping";
    rn_time_t t0;
    int ha, hb;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_proc_create(P.a, "listener", &pa), 0);
    assert_int_equal(rn_proc_create(P.b, "sender", &pb), 0);
    ha = rn_sock_open(pa, RN_SOCK_DGRAM, 0);
    assert_int_equal(rn_sock_bind(pa, ha, &l), 0);
    hb = rn_sock_open(pb, RN_SOCK_DGRAM, 0);
    pf[0] = (struct rn_pollfd){.pf_handle = ha, .pf_events = RN_POLLIN};
    pf[1] = (struct rn_pollfd){.pf_handle = 77, .pf_events = RN_POLLIN};
    /* A bad handle is ready at once, as NVAL. */
    {
        struct rn_sock_req rq = {.sq_op = RN_SOP_POLL, .sq_fds = pf, .sq_nfds = 2, .sq_user = &r};

        assert_int_equal(rn_sock_submit(pa, &rq, rec_fn), 0);
        run_for(RN_MSEC(1));
        assert_int_equal(r.n, 1);
        assert_int_equal(r.c[0].sc_result, 1);
        assert_int_equal(pf[1].pf_revents, RN_POLLNVAL);
        assert_int_equal(pf[0].pf_revents, 0);
    }
    /* Nothing to read: the poll times out on the stack's clock. */
    {
        struct rn_sock_req rq = {.sq_op = RN_SOP_POLL, .sq_fds = pf, .sq_nfds = 1,
                                 .sq_timeout = RN_MSEC(300), .sq_user = &r};

        t0 = P.now;
        assert_int_equal(rn_sock_submit(pa, &rq, rec_fn), 0);
        run_for(RN_MSEC(299));
        assert_int_equal(r.n, 1);
        run_for(RN_MSEC(2));
        assert_int_equal(r.n, 2);
        assert_int_equal(r.c[1].sc_result, 0);
        assert_true(P.now - t0 >= RN_MSEC(300));
    }
    /* A datagram wakes a waiting poll (watching the handle twice); a
     * timed receive then gets it. */
    pf[1] = pf[0];
    {
        struct rn_sock_req rq = {.sq_op = RN_SOP_POLL, .sq_fds = pf, .sq_nfds = 2,
                                 .sq_user = &r};

        assert_int_equal(rn_sock_submit(pa, &rq, rec_fn), 0);
        submit(pb, RN_SOP_SEND, hb, buf, 4, &to, &r);
        run_for(RN_MSEC(50));
        assert_int_equal(r.n, 4);
        assert_int_equal(r.c[3].sc_op, RN_SOP_POLL);
        assert_int_equal(r.c[3].sc_result, 2);
        assert_int_equal(pf[0].pf_revents, RN_POLLIN);
        assert_int_equal(pf[1].pf_revents, RN_POLLIN);
        assert_true(rn_sock_ready(pa, ha) & RN_POLLIN);
    }
    {
        struct rn_sock_req rq = {.sq_op = RN_SOP_RECV, .sq_handle = ha, .sq_buf = buf,
                                 .sq_len = sizeof(buf), .sq_timeout = RN_MSEC(100),
                                 .sq_user = &r};

        assert_int_equal(rn_sock_submit(pa, &rq, rec_fn), 0);
        assert_int_equal(rn_sock_submit(pa, &rq, rec_fn), 0);
        run_for(RN_MSEC(150));
        assert_int_equal(r.n, 6);
        assert_int_equal(r.c[4].sc_result, 4);
        assert_int_equal(r.c[5].sc_result, RN_EAGAIN);
    }
    rn_proc_exit(pa);
    rn_proc_exit(pb);
    run_for(RN_MSEC(1));
    pair_down();
}

static void test_requests_on_bad_handles(void **state)
{
    struct rec r = {0};
    struct rn_proc *p;
    uint8_t b[4];
    struct rn_sock_req bad = {.sq_op = 0};
    struct rn_sock_req nobuf = {.sq_op = RN_SOP_RECV, .sq_handle = 1, .sq_len = 4};
    struct rn_sock_req noto = {.sq_op = RN_SOP_CONNECT, .sq_handle = 1};

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_proc_create(P.a, "bad", &p), 0);
    assert_int_equal(rn_sock_submit(p, &bad, rec_fn), RN_EINVAL);
    assert_int_equal(rn_sock_submit(p, &nobuf, rec_fn), RN_EINVAL);
    assert_int_equal(rn_sock_submit(p, &noto, rec_fn), RN_EINVAL);
    submit(p, RN_SOP_RECV, 5, b, sizeof(b), NULL, &r);
    submit(p, RN_SOP_CLOSE, 0, NULL, 0, NULL, &r);
    submit(p, RN_SOP_ACCEPT, -1, NULL, 0, NULL, &r);
    /* Never from inside submit: only once the loop runs. */
    assert_int_equal(r.n, 0);
    run_for(RN_MSEC(1));
    assert_int_equal(r.n, 3);
    assert_int_equal(r.c[0].sc_result, RN_EBADF);
    assert_int_equal(r.c[1].sc_result, RN_EBADF);
    assert_int_equal(r.c[2].sc_result, RN_EBADF);
    /* Closing twice: the second finds no handle. */
    r.n = 0;
    assert_int_equal(rn_sock_open(p, RN_SOCK_DGRAM, 0), 1);
    submit(p, RN_SOP_ACCEPT, 1, NULL, 0, NULL, &r);
    submit(p, RN_SOP_CLOSE, 1, NULL, 0, NULL, &r);
    submit(p, RN_SOP_CLOSE, 1, NULL, 0, NULL, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(r.n, 3);
    assert_int_equal(r.c[0].sc_result, RN_EOPNOTSUPP);
    assert_int_equal(r.c[1].sc_result, 0);          /* the first close returns */
    assert_int_equal(r.c[2].sc_result, RN_EBADF);   /* the second finds no handle */
    assert_int_equal(rn_sock_posix(RN_EBADF), -1);
    rn_proc_exit(p);
    run_for(RN_MSEC(1));
    pair_down();
}

static void test_stack_teardown_runs_processes_down(void **state)
{
    struct rn_sock_completion c[4];
    struct rn_sockaddr_in l = {.sin_addr = 0, .sin_port = 7100};
    struct rec r = {0};
    struct rn_proc *p;
    struct rn_cq *cq;
    uint8_t b1[16], b2[16];
    int h1, h2;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_cq_create(&cq), 0);
    assert_int_equal(rn_proc_create(P.a, "forgotten", &p), 0);
    h1 = rn_sock_open(p, RN_SOCK_DGRAM, 0);
    h2 = rn_sock_open(p, RN_SOCK_DGRAM, 0);
    assert_int_equal(rn_sock_bind(p, h1, &l), 0);
    assert_int_equal(rn_sock_setopt(p, h2, RN_SO_LINGER, 0), 0);
    submit(p, RN_SOP_RECV, h1, b1, sizeof(b1), NULL, &r);
    {
        struct rn_sock_req rq = {.sq_op = RN_SOP_RECV, .sq_handle = h2, .sq_buf = b2,
                                 .sq_len = sizeof(b2)};

        assert_int_equal(rn_sock_submit_cq(p, &rq, cq), 0);
    }
    run_for(RN_MSEC(1));
    assert_int_equal(count_type("request"), 2);
    /* Nobody exits the process: the stack's teardown does, and the
     * requests complete as cancelled on the way. */
    assert_int_equal(rn_stack_destroy(P.a), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.c[0].sc_result, RN_ECANCELED);
    assert_int_equal(rn_cq_reap(cq, c, 4), 1);
    assert_int_equal(c[0].sc_result, RN_ECANCELED);
    assert_int_equal(rn_cq_destroy(cq), 0);
    assert_int_equal(rn_stack_destroy(P.b), 0);
    clock_manual_uninstall();
    check_live_objects(0);
}

/* ---- Blocking API from a second thread, in real time -------------------------------- */

struct blocking_ctx {
    struct rn_proc *bc_proc;
    atomic_bool bc_done;
    int bc_failures;
    int bc_step;          /* where it failed */
};

#define EXPECT(bc, cond)                                                        \
    do {                                                                        \
        if (!(cond) && (bc)->bc_failures++ == 0)                                \
            (bc)->bc_step = __LINE__;                                           \
    } while (0)

static void *blocking_thread(void *arg)
{
    struct blocking_ctx *bc = arg;
    struct rn_proc *p = bc->bc_proc;
    struct rn_sockaddr_in echo = {.sin_addr = ADDR_B, .sin_port = 7}, from = {0}, name = {0};
    struct rn_pollfd pf;
    uint8_t out[3000], in[4000];
    int64_t v;
    ssize_t n;
    int h, i;

    for (i = 0; i < (int)sizeof(out); i++)
        out[i] = (uint8_t)(i * 13);
    h = rn_socket(p, RN_SOCK_DGRAM, 0);
    EXPECT(bc, h > 0);
    EXPECT(bc, rn_setsockopt(p, h, RN_SO_RCVTIMEO, 2000) == 0);
    EXPECT(bc, rn_getsockopt(p, h, RN_SO_RCVTIMEO, &v) == 0 && v == 2000);
    EXPECT(bc, rn_getsockopt(p, h, RN_SO_TYPE, &v) == 0 && v == RN_SOCK_DGRAM);
    for (i = 0; i < 20; i++) {
        n = rn_sendto(p, h, out, 100 + (size_t)i * 140, 0, &echo);
        EXPECT(bc, n == 100 + i * 140);
        memset(in, 0, sizeof(in));
        n = rn_recvfrom(p, h, in, sizeof(in), 0, &from);
        EXPECT(bc, n == 100 + i * 140);
        EXPECT(bc, n > 0 && memcmp(in, out, (size_t)n) == 0);
        EXPECT(bc, from.sin_addr == ADDR_B && from.sin_port == 7);
    }
    EXPECT(bc, rn_getsockname(p, h, &name) == 0 && name.sin_port >= RN_EPHEMERAL_LO);
    EXPECT(bc, rn_getpeername(p, h, &name) == RN_ENOTCONN);
    /* Connected: send and recv without addresses. */
    EXPECT(bc, rn_connect(p, h, &echo) == 0);
    EXPECT(bc, rn_getpeername(p, h, &name) == 0 && name.sin_port == 7);
    EXPECT(bc, rn_send(p, h, out, 10, 0) == 10);
    pf.pf_handle = h;
    pf.pf_events = RN_POLLIN;
    EXPECT(bc, rn_poll(p, &pf, 1, 2000) == 1 && (pf.pf_revents & RN_POLLIN));
    EXPECT(bc, rn_recv(p, h, in, 5, 0) == 5);  /* cut to the buffer */
    /* Nothing more comes: the receive times out. */
    EXPECT(bc, rn_setsockopt(p, h, RN_SO_RCVTIMEO, 50) == 0);
    EXPECT(bc, rn_recv(p, h, in, sizeof(in), 0) == RN_EAGAIN);
    EXPECT(bc, rn_recv(p, h, in, sizeof(in), RN_MSG_DONTWAIT) == RN_EAGAIN);
    EXPECT(bc, rn_poll(p, &pf, 1, 0) == 0);
    EXPECT(bc, rn_shutdown(p, h, RN_SHUT_RD) == 0);
    EXPECT(bc, rn_recv(p, h, in, sizeof(in), 0) == 0);
    EXPECT(bc, rn_setsockopt(p, h, RN_SO_ERROR, 1) == RN_ENOPROTOOPT);
    EXPECT(bc, rn_sock_posix(rn_setsockopt(p, h, RN_SO_ERROR, 1)) == -1);
    EXPECT(bc, rn_close(p, h) == 0);
    EXPECT(bc, rn_close(p, h) == RN_EBADF);
    EXPECT(bc, rn_send(p, h, out, 1, 0) == RN_EBADF);
    atomic_store(&bc->bc_done, true);
    return NULL;
}

static void test_blocking_api_from_another_thread(void **state)
{
    struct blocking_ctx bc = {0};
    struct rn_echo *e;
    pthread_t t;

    (void)state;
    pair_up(1500, true);
    assert_int_equal(rn__echo_start(P.b, NULL, &e), 0);
    assert_int_equal(rn_proc_create(P.a, "blocking", &bc.bc_proc), 0);
    assert_int_equal(pthread_create(&t, NULL, blocking_thread, &bc), 0);
    assert_true(run_while_not(flag_set, &bc.bc_done, RN_SEC(30)));
    assert_int_equal(pthread_join(t, NULL), 0);
    if (bc.bc_failures != 0)
        fail_msg("%d checks failed in the blocking thread, first at line %d", bc.bc_failures,
                 bc.bc_step);
    rn_proc_exit(bc.bc_proc);
    echo_stop_and_wait(e);
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_1000_fragmented_datagrams),
        cmocka_unit_test(test_echo_sizes_at_the_limits),
        cmocka_unit_test(test_close_returns_and_the_socket_waits_for_its_transport),
        cmocka_unit_test(test_exit_cleans_every_handle),
        cmocka_unit_test(test_completion_queue),
        cmocka_unit_test(test_poll_and_timeouts),
        cmocka_unit_test(test_requests_on_bad_handles),
        cmocka_unit_test(test_stack_teardown_runs_processes_down),
        cmocka_unit_test(test_blocking_api_from_another_thread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
