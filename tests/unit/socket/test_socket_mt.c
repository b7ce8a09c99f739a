/*
 * The blocking socket API from several threads at once, while the test
 * thread runs both stacks' loops in real time: clients sharing one process
 * echo datagrams through the echo service; a receive blocked in one thread
 * is cancelled by a close from another; a process created, used and exited
 * from a non-loop thread is released; a TCP echo over blocking accept,
 * connect, send and receive.  Built for ThreadSanitizer too.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "apps/apps.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "support.h"

#define CLIENTS 4
#define ROUNDS 150

struct shared {
    struct rn_proc *s_proc;        /* shared by the clients and the closer */
    atomic_int s_running;          /* threads not yet finished */
    atomic_int s_failures;
    atomic_int s_first_line;
    atomic_int s_victim;           /* handle the blocked receiver waits on */
    atomic_bool s_exited;          /* the private process was released */
    atomic_bool s_listening;       /* the TCP server listens */
};

static struct shared S;

static void expect(bool ok, int line)
{
    if (!ok && atomic_fetch_add(&S.s_failures, 1) == 0)
        atomic_store(&S.s_first_line, line);
}
#define EXPECT(cond) expect((cond), __LINE__)

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

struct client_arg {
    unsigned ca_id;
};

static void *client_thread(void *arg)
{
    struct client_arg *ca = arg;
    struct rn_proc *p = S.s_proc;
    struct rn_sockaddr_in echo = {.sin_addr = ADDR_B, .sin_port = 7}, from;
    uint8_t out[3000], in[3100];
    uint64_t x = 0x1234567ull + ca->ca_id;
    unsigned r;
    size_t n, i;
    ssize_t got;
    int h;

    h = rn_socket(p, RN_SOCK_DGRAM, 0);
    EXPECT(h > 0);
    EXPECT(rn_setsockopt(p, h, RN_SO_RCVTIMEO, 5000) == 0);
    for (r = 0; r < ROUNDS; r++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        n = 8 + x % (sizeof(out) - 8);
        memcpy(out, &ca->ca_id, 4);
        memcpy(out + 4, &r, 4);
        for (i = 8; i < n; i++)
            out[i] = (uint8_t)(i + r + ca->ca_id);
        EXPECT(rn_sendto(p, h, out, n, 0, &echo) == (ssize_t)n);
        got = rn_recvfrom(p, h, in, sizeof(in), 0, &from);
        EXPECT(got == (ssize_t)n);
        EXPECT(got > 0 && memcmp(in, out, n) == 0);
        EXPECT(from.sin_addr == ADDR_B && from.sin_port == 7);
        if (got < 0)
            break;
    }
    EXPECT(rn_close(p, h) == 0);
    atomic_fetch_sub(&S.s_running, 1);
    return NULL;
}

/* Blocks in a receive that only a close from another thread ends. */
static void *receiver_thread(void *arg)
{
    struct rn_proc *p = S.s_proc;
    uint8_t in[64];
    int h;

    (void)arg;
    h = rn_socket(p, RN_SOCK_DGRAM, 0);
    EXPECT(h > 0);
    atomic_store(&S.s_victim, h);
    EXPECT(rn_recv(p, h, in, sizeof(in), 0) == RN_ECANCELED);
    atomic_fetch_sub(&S.s_running, 1);
    return NULL;
}

/* True once a receive request on handle h is pending. */
static bool recv_pending(int h)
{
    struct rn_ob_iter it;
    char want[64], desc[160];
    bool found = false;
    void *ob;

    snprintf(want, sizeof(want), "request recv socket #%d pending", h);
    rn_ob_iter_init(&it, rn_ob_type_find("request"), RN_TAG_ENUM);
    while ((ob = rn_ob_iter_next(&it)) != NULL) {
        rn_ob_describe(ob, desc, sizeof(desc));
        if (strcmp(desc, want) == 0)
            found = true;
    }
    rn_ob_iter_end(&it);
    return found;
}

static void *closer_thread(void *arg)
{
    struct rn_proc *p = S.s_proc;
    int h = 0, i;

    (void)arg;
    for (i = 0; i < 5000 && (h = atomic_load(&S.s_victim)) == 0; i++)
        nap_ms(1);
    for (i = 0; i < 5000 && !recv_pending(h); i++)
        nap_ms(1);
    EXPECT(h > 0 && i < 5000);
    EXPECT(rn_close(p, h) == 0);
    atomic_fetch_sub(&S.s_running, 1);
    return NULL;
}

static void exited(struct rn_ob_wait *w, void *ctx)
{
    (void)w;
    (void)ctx;
    atomic_store(&S.s_exited, true);
}

/* A process of its own: open, send, exit, and wait for its release. */
static void *private_thread(void *arg)
{
    struct rn_stack *st = arg;
    struct rn_sockaddr_in echo = {.sin_addr = ADDR_B, .sin_port = 7};
    struct rn_ob_wait w = {0};
    struct rn_proc *p;
    uint8_t out[32] = "private", in[64];
    int h, i;

    EXPECT(rn_proc_create(st, "private", &p) == 0);
    h = rn_socket(p, RN_SOCK_DGRAM, 0);
    EXPECT(h == 1);
    EXPECT(rn_sendto(p, h, out, 7, 0, &echo) == 7);
    EXPECT(rn_setsockopt(p, h, RN_SO_RCVTIMEO, 5000) == 0);
    EXPECT(rn_recv(p, h, in, sizeof(in), 0) == 7);
    /* Exit with the handle still open, and a receive pending in nobody:
     * the exit closes it. */
    rn_ob_ref(p, RN_TAG_LOOKUP);
    EXPECT(rn_ob_wait_release(p, &w, NULL, "exit", exited, NULL) == 0);
    rn_proc_exit(p);
    rn_ob_deref(p, RN_TAG_LOOKUP);
    for (i = 0; i < 5000 && !atomic_load(&S.s_exited); i++)
        nap_ms(1);
    EXPECT(atomic_load(&S.s_exited));
    atomic_fetch_sub(&S.s_running, 1);
    return NULL;
}

/* A TCP echo server on b: accept one connection, echo until its end. */
static void *tcp_server_thread(void *arg)
{
    struct rn_proc *p = arg;
    struct rn_sockaddr_in l = {.sin_addr = 0, .sin_port = 9000}, peer;
    uint8_t buf[4096];
    ssize_t n;
    int hl, h;

    hl = rn_socket(p, RN_SOCK_STREAM, 0);
    EXPECT(hl > 0);
    EXPECT(rn_bind(p, hl, &l) == 0);
    EXPECT(rn_listen(p, hl, 4) == 0);
    atomic_store(&S.s_listening, true);
    h = rn_accept(p, hl, &peer);
    EXPECT(h > 0 && peer.sin_addr == ADDR_A);
    while ((n = rn_recv(p, h, buf, sizeof(buf), 0)) > 0)
        EXPECT(rn_send(p, h, buf, (size_t)n, 0) == n);
    EXPECT(n == 0);
    EXPECT(rn_close(p, h) == 0);
    EXPECT(rn_close(p, hl) == 0);
    atomic_fetch_sub(&S.s_running, 1);
    return NULL;
}

/* Its client on a: 200 KB through the echo, in uneven writes. */
static void *tcp_client_thread(void *arg)
{
    struct rn_proc *p = arg;
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 9000};
    static uint8_t out[200000], in[200000];
    size_t sent = 0, got = 0, i;
    ssize_t n;
    int h;

    for (i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 31 + (i >> 10));
    for (i = 0; i < 5000 && !atomic_load(&S.s_listening); i++)
        nap_ms(1);
    h = rn_socket(p, RN_SOCK_STREAM, 0);
    EXPECT(h > 0);
    EXPECT(rn_setsockopt(p, h, RN_SO_RCVTIMEO, 10000) == 0);
    EXPECT(rn_connect(p, h, &to) == 0);
    while (sent < sizeof(out)) {
        size_t chunk = 1000 + sent % 7919;

        if (chunk > sizeof(out) - sent)
            chunk = sizeof(out) - sent;
        n = rn_send(p, h, out + sent, chunk, 0);
        EXPECT(n == (ssize_t)chunk);
        if (n <= 0)
            break;
        sent += (size_t)n;
        /* Read what came back so far, so neither side's buffers fill. */
        while (got + 65536 < sent) {
            n = rn_recv(p, h, in + got, sizeof(in) - got, 0);
            EXPECT(n > 0);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
    }
    EXPECT(rn_shutdown(p, h, RN_SHUT_WR) == 0);
    while (got < sizeof(in) && (n = rn_recv(p, h, in + got, sizeof(in) - got, 0)) > 0)
        got += (size_t)n;
    EXPECT(got == sizeof(out) && memcmp(in, out, sizeof(out)) == 0);
    EXPECT(rn_recv(p, h, in, 1, 0) == 0);
    EXPECT(rn_close(p, h) == 0);
    atomic_fetch_sub(&S.s_running, 1);
    return NULL;
}

static bool all_done(void *ctx)
{
    (void)ctx;
    return atomic_load(&S.s_running) == 0;
}

static bool no_handles(void *ctx)
{
    return rn_proc_handles(ctx) == 0;
}

static bool flag_set(void *ctx)
{
    return atomic_load((atomic_bool *)ctx);
}

static void set_flag(void *ctx)
{
    atomic_store((atomic_bool *)ctx, true);
}

static void test_blocking_api_many_threads(void **state)
{
    struct client_arg ca[CLIENTS];
    pthread_t t[CLIENTS + 5];
    struct rn_proc *tcp_a, *tcp_b;
    struct rn_echo *e;
    atomic_bool stopped = false;
    unsigned i, nt = 0;

    (void)state;
    memset(&S, 0, sizeof(S));
    pair_up(1500, true);
    assert_int_equal(rn__echo_start(P.b, &(struct rn_echo_params){.ep_depth = 16}, &e), 0);
    assert_int_equal(rn_proc_create(P.a, "clients", &S.s_proc), 0);
    assert_int_equal(rn_proc_create(P.a, "tcp-client", &tcp_a), 0);
    assert_int_equal(rn_proc_create(P.b, "tcp-server", &tcp_b), 0);
    atomic_store(&S.s_running, CLIENTS + 5);
    for (i = 0; i < CLIENTS; i++) {
        ca[i].ca_id = i;
        assert_int_equal(pthread_create(&t[nt++], NULL, client_thread, &ca[i]), 0);
    }
    assert_int_equal(pthread_create(&t[nt++], NULL, receiver_thread, NULL), 0);
    assert_int_equal(pthread_create(&t[nt++], NULL, closer_thread, NULL), 0);
    assert_int_equal(pthread_create(&t[nt++], NULL, private_thread, P.a), 0);
    assert_int_equal(pthread_create(&t[nt++], NULL, tcp_server_thread, tcp_b), 0);
    assert_int_equal(pthread_create(&t[nt++], NULL, tcp_client_thread, tcp_a), 0);
    assert_true(run_while_not(all_done, NULL, RN_SEC(120)));
    for (i = 0; i < nt; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    if (atomic_load(&S.s_failures) != 0)
        fail_msg("%d checks failed in the threads, first at line %d", atomic_load(&S.s_failures),
                 atomic_load(&S.s_first_line));
    /* Every close completed; the slots go once the sockets are released. */
    assert_true(run_while_not(no_handles, S.s_proc, RN_SEC(5)));
    rn_proc_exit(S.s_proc);
    rn_proc_exit(tcp_a);
    rn_proc_exit(tcp_b);
    rn__echo_stop(e, set_flag, &stopped);
    assert_true(run_while_not(flag_set, &stopped, RN_SEC(10)));
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocking_api_many_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
