/*
 * Readiness sets from threads of the host, while the test thread runs
 * both stacks' loops in real time: two workers share one set of one-shot
 * registrations (the usual pattern of a threaded epoll server: wait, drain
 * the socket, arm it again) while a sender on the other stack fills the
 * sockets, so the loop changes readiness under threads blocked in
 * rn_epoll_wait(); no socket is ever drained by two workers at once and
 * no datagram is lost or reported to nobody.  A blocked wait times out on
 * the stack's clock, and another is woken with RN_ECANCELED by the set's
 * close from a third thread.  Built for ThreadSanitizer too.
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

#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/readiness.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "support.h"

#define SOCKETS 16
#define PER_SOCKET 60
#define TOTAL (SOCKETS * PER_SOCKET)
#define BASE_PORT 8000

struct shared {
    struct rn_proc *s_server;          /* on a: the set and its sockets */
    struct rn_proc *s_client;          /* on b: the sender */
    atomic_int s_set;                  /* the workers' set, once made */
    atomic_int s_handle[SOCKETS];      /* handle of port BASE_PORT + i */
    atomic_int s_busy[SOCKETS];        /* workers draining socket i now */
    atomic_int s_got[SOCKETS];         /* datagrams received on socket i */
    atomic_int s_total;                /* all of them */
    atomic_int s_reports;              /* events the workers were given */
    atomic_int s_idle_set;             /* the set the canceller closes */
    atomic_int s_running;              /* threads not yet finished */
    atomic_int s_failures;
    atomic_int s_first_line;
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

/* The index of handle h among the sockets, or -1. */
static int index_of(int h)
{
    int i;

    for (i = 0; i < SOCKETS; i++) {
        if (atomic_load(&S.s_handle[i]) == h)
            return i;
    }
    return -1;
}

/* Makes the set and its sockets, then serves as a worker. */
static void *worker_thread(void *arg)
{
    struct rn_proc *p = S.s_server;
    bool maker = arg != NULL;
    struct rn_rset_event ev[4];
    uint8_t buf[256];
    int set, n, k;

    if (maker) {
        set = rn_epoll_create(p, 0);
        EXPECT(set > 0);
        for (k = 0; k < SOCKETS; k++) {
            struct rn_sockaddr_in l = {.sin_addr = 0, .sin_port = (uint16_t)(BASE_PORT + k)};
            struct rn_rset_event e = {.re_events = RN_POLLIN | RN_RSET_ONESHOT};
            int h = rn_socket(p, RN_SOCK_DGRAM, 0);

            EXPECT(h > 0);
            EXPECT(rn_bind(p, h, &l) == 0);
            atomic_store(&S.s_handle[k], h);
            e.re_data.rd_handle = h;
            EXPECT(rn_epoll_ctl(p, set, RN_RSET_ADD, h, &e) == 0);
        }
        ev[0].re_events = RN_POLLIN;
        EXPECT(rn_epoll_ctl(p, set, RN_RSET_ADD, atomic_load(&S.s_handle[0]), &ev[0]) ==
               RN_EEXIST);
        atomic_store(&S.s_set, set);
    }
    while ((set = atomic_load(&S.s_set)) == 0)
        nap_ms(1);
    while (atomic_load(&S.s_total) < TOTAL) {
        n = rn_epoll_wait(p, set, ev, 4, 100);
        EXPECT(n >= 0);
        if (n < 0)
            break;
        for (k = 0; k < n; k++) {
            int h = ev[k].re_data.rd_handle, i = index_of(h);
            struct rn_rset_event e = {.re_events = RN_POLLIN | RN_RSET_ONESHOT};
            ssize_t got;

            atomic_fetch_add(&S.s_reports, 1);
            EXPECT(i >= 0);
            EXPECT(ev[k].re_events == RN_POLLIN);
            if (i < 0)
                continue;
            /* One-shot: nobody else has it until it is armed again. */
            EXPECT(atomic_fetch_add(&S.s_busy[i], 1) == 0);
            while ((got = rn_recv(p, h, buf, sizeof(buf), RN_MSG_DONTWAIT)) > 0) {
                EXPECT(got == 32 && buf[0] == (uint8_t)i);
                atomic_fetch_add(&S.s_got[i], 1);
                atomic_fetch_add(&S.s_total, 1);
            }
            EXPECT(got == RN_EAGAIN);
            atomic_fetch_sub(&S.s_busy[i], 1);
            e.re_data.rd_handle = h;
            EXPECT(rn_epoll_ctl(p, set, RN_RSET_MOD, h, &e) == 0);
        }
    }
    atomic_fetch_sub(&S.s_running, 1);
    return NULL;
}

/* Sends PER_SOCKET datagrams to each socket, in bursts. */
static void *sender_thread(void *arg)
{
    struct rn_proc *p = S.s_client;
    uint8_t out[32];
    int h, k, r;

    (void)arg;
    while (atomic_load(&S.s_set) == 0)
        nap_ms(1);
    h = rn_socket(p, RN_SOCK_DGRAM, 0);
    EXPECT(h > 0);
    for (r = 0; r < PER_SOCKET; r++) {
        for (k = 0; k < SOCKETS; k++) {
            struct rn_sockaddr_in to = {.sin_addr = ADDR_A, .sin_port = (uint16_t)(BASE_PORT + k)};

            memset(out, k, sizeof(out));
            EXPECT(rn_sendto(p, h, out, sizeof(out), 0, &to) == (ssize_t)sizeof(out));
        }
        if (r % 4 == 3)
            nap_ms(2);  /* let the workers block again */
        /* At most 8 rounds ahead of the workers (10 s at most): a machine
         * busy elsewhere that starves them must not overflow the sockets'
         * receive buffers, which would drop datagrams the test counts on. */
        for (k = 0; k < 10000 && (r + 1 - 8) * SOCKETS > atomic_load(&S.s_total); k++)
            nap_ms(1);
    }
    EXPECT(rn_close(p, h) == 0);
    atomic_fetch_sub(&S.s_running, 1);
    return NULL;
}

/* True once a set whose handle is h has a wait queued. */
static bool someone_waits(int h)
{
    struct rn_ob_iter it;
    char want[64], desc[160];
    bool found = false;
    void *ob;

    snprintf(want, sizeof(want), "readiness set #%d ", h);
    rn_ob_iter_init(&it, rn_ob_type_find("readiness set"), RN_TAG_ENUM);
    while ((ob = rn_ob_iter_next(&it)) != NULL) {
        rn_ob_describe(ob, desc, sizeof(desc));
        if (strncmp(desc, want, strlen(want)) == 0 && strstr(desc, ", 1 waiting") != NULL)
            found = true;
    }
    rn_ob_iter_end(&it);
    return found;
}

/* Waits on an empty set: first with a timeout, then until it is closed
 * under it. */
static void *idle_waiter_thread(void *arg)
{
    struct rn_proc *p = S.s_server;
    struct rn_rset_event ev[1];
    struct timespec t0, t1;
    long ms;
    int set;

    (void)arg;
    set = rn_epoll_create(p, 0);
    EXPECT(set > 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    EXPECT(rn_epoll_wait(p, set, ev, 1, 50) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    EXPECT(ms >= 45);
    atomic_store(&S.s_idle_set, set);
    EXPECT(rn_epoll_wait(p, set, ev, 1, -1) == RN_ECANCELED);
    EXPECT(rn_epoll_wait(p, set, ev, 1, 0) == RN_EBADF);
    atomic_fetch_sub(&S.s_running, 1);
    return NULL;
}

static void *closer_thread(void *arg)
{
    struct rn_proc *p = S.s_server;
    int set = 0, i;

    (void)arg;
    for (i = 0; i < 5000 && (set = atomic_load(&S.s_idle_set)) == 0; i++)
        nap_ms(1);
    for (i = 0; i < 5000 && !someone_waits(set); i++)
        nap_ms(1);
    EXPECT(set > 0 && i < 5000);
    EXPECT(rn_close(p, set) == 0);
    atomic_fetch_sub(&S.s_running, 1);
    return NULL;
}

static bool all_done(void *ctx)
{
    (void)ctx;
    return atomic_load(&S.s_running) == 0;
}

static bool released(void *ctx)
{
    (void)ctx;
    return count_objects("process", "rset-server") == 0;
}

static void test_workers_share_a_set(void **state)
{
    pthread_t t[5];
    unsigned i;
    int k;

    (void)state;
    memset(&S, 0, sizeof(S));
    pair_up(1500, true);
    assert_int_equal(rn_proc_create(P.a, "rset-server", &S.s_server), 0);
    assert_int_equal(rn_proc_create(P.b, "rset-client", &S.s_client), 0);
    atomic_store(&S.s_running, 5);
    assert_int_equal(pthread_create(&t[0], NULL, worker_thread, (void *)1), 0);
    assert_int_equal(pthread_create(&t[1], NULL, worker_thread, NULL), 0);
    assert_int_equal(pthread_create(&t[2], NULL, sender_thread, NULL), 0);
    assert_int_equal(pthread_create(&t[3], NULL, idle_waiter_thread, NULL), 0);
    assert_int_equal(pthread_create(&t[4], NULL, closer_thread, NULL), 0);
    assert_true(run_while_not(all_done, NULL, RN_SEC(60)));
    for (i = 0; i < 5; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    if (atomic_load(&S.s_failures) != 0)
        fail_msg("%d checks failed in the threads, first at line %d", atomic_load(&S.s_failures),
                 atomic_load(&S.s_first_line));
    assert_int_equal(atomic_load(&S.s_total), TOTAL);
    for (k = 0; k < SOCKETS; k++)
        assert_int_equal(atomic_load(&S.s_got[k]), PER_SOCKET);
    /* Batches: fewer reports than datagrams, and at least one per socket. */
    assert_true(atomic_load(&S.s_reports) >= SOCKETS);
    assert_true(atomic_load(&S.s_reports) <= TOTAL);
    /* The process exits with its set and sockets open. */
    rn_proc_exit(S.s_server);
    rn_proc_exit(S.s_client);
    assert_true(run_while_not(released, NULL, RN_SEC(5)));
    assert_int_equal(count_type("readiness set"), 0);
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workers_share_a_set),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
