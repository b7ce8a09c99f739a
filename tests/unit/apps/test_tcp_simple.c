/*
 * TCP echo, discard and chargen (apps/tcp_simple.c) on stack b, with
 * clients on stack a over a simulated cable, in virtual time: byte-exact
 * echo with concurrent clients, echo's backpressure, discard's count,
 * chargen's RFC 864 lines, a peer's reset, the cap on connections, and a
 * stop while connections are open.  Every test ends with nothing alive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helper_client.h"
#include "apps/apps.h"
#include "apps/tcp_server.h"
#include "refnet/drop.h"
#include "refnet/stack.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "support.h"

static bool flag_set(void *ctx)
{
    return *(bool *)ctx;
}

static void set_flag(void *ctx)
{
    *(bool *)ctx = true;
}

/* Stops s, runs until its done() ran, and checks that its process and
 * every one of its sockets are gone. */
static void stop_service(struct rn_tcpsvc *s, const char *name)
{
    bool done = false;
    char needle[64];

    rn__tcpsvc_stop(s, set_flag, &done);
    assert_true(run_while_not(flag_set, &done, RN_SEC(10)));
    snprintf(needle, sizeof(needle), "process %s ", name);
    assert_int_equal(count_objects("process", needle), 0);
}

static struct rn_proc *client_proc(void)
{
    struct rn_proc *p;

    assert_int_equal(rn_proc_create(P.a, "client", &p), 0);
    return p;
}

/* Ends the test: the client process exits, everything must be released. */
static void finish(struct rn_proc *cp)
{
    rn_proc_exit(cp);
    run_for(RN_SEC(1));
    assert_int_equal(pool_outstanding(P.a), 0);
    assert_int_equal(pool_outstanding(P.b), 0);
    pair_down();
}

static uint8_t pattern_byte(unsigned client, size_t i)
{
    return (uint8_t)(i * 31u + client * 101u + (i >> 9));
}

/* ---- echo ---------------------------------------------------------------------- */

#define NCLIENTS 4
#define ECHO_LEN (300u * 1024u)

static void test_echo_concurrent_clients(void **state)
{
    struct tcl *c = calloc(NCLIENTS, sizeof(*c));
    uint8_t *data = malloc(ECHO_LEN);
    struct rn_tcpsvc_stats st;
    struct rn_tcpsvc *s;
    struct rn_proc *cp;
    unsigned k;
    size_t i;

    (void)state;
    assert_non_null(c);
    assert_non_null(data);
    pair_up(1500, false);
    assert_int_equal(rn__tcpecho_start(P.b, NULL, &s), 0);
    assert_int_equal(count_objects("process", "process tcpecho "), 1);
    assert_int_equal(count_objects("tcp listener", "0.0.0.0:7"), 1);
    cp = client_proc();
    for (k = 0; k < NCLIENTS; k++)
        tcl_connect(&c[k], cp, 7);
    for (k = 0; k < NCLIENTS; k++)
        assert_true(run_while_not(tcl_is_connected, &c[k], RN_SEC(5)));
    /* Each client sends its own bytes in pieces of several sizes. */
    for (k = 0; k < NCLIENTS; k++) {
        size_t off = 0, piece = 1000 + k * 7777;

        for (i = 0; i < ECHO_LEN; i++)
            data[i] = pattern_byte(k, i);
        while (off < ECHO_LEN) {
            size_t n = ECHO_LEN - off < piece ? ECHO_LEN - off : piece;

            tcl_send(&c[k], data + off, n);
            off += n;
        }
    }
    for (k = 0; k < NCLIENTS; k++) {
        assert_true(tcl_wait_bytes(&c[k], ECHO_LEN, RN_SEC(60)));
        assert_int_equal(c[k].cl_rx_len, ECHO_LEN);
        for (i = 0; i < ECHO_LEN; i++)
            data[i] = pattern_byte(k, i);
        assert_memory_equal(c[k].cl_rx, data, ECHO_LEN);
    }
    rn__tcpsvc_stats(s, &st);
    assert_int_equal(st.ss_accepted, NCLIENTS);
    assert_int_equal(st.ss_active, NCLIENTS);
    assert_int_equal(st.ss_bytes_in, (uint64_t)NCLIENTS * ECHO_LEN);
    assert_int_equal(st.ss_bytes_out, (uint64_t)NCLIENTS * ECHO_LEN);
    /* The clients half-close: echo sees the end and closes its side; both
     * closes complete and the server forgets the connections. */
    for (k = 0; k < NCLIENTS; k++)
        tcl_shutdown(&c[k]);
    for (k = 0; k < NCLIENTS; k++) {
        assert_true(run_while_not(tcl_is_ended, &c[k], RN_SEC(5)));
        assert_true(c[k].cl_eof);
        tcl_close(&c[k], false);
    }
    for (k = 0; k < NCLIENTS; k++)
        assert_true(run_while_not(tcl_is_closed, &c[k], RN_SEC(5)));
    run_for(RN_MSEC(100));
    rn__tcpsvc_stats(s, &st);
    assert_int_equal(st.ss_active, 0);
    assert_int_equal(st.ss_closed, NCLIENTS);
    assert_int_equal(st.ss_aborted, 0);
    assert_int_equal(count_objects("socket", "socket #"), 1);  /* the listener */
    stop_service(s, "tcpecho");
    assert_int_equal(count_objects("tcp connection", NULL), 0);
    for (k = 0; k < NCLIENTS; k++)
        tcl_free(&c[k]);
    finish(cp);
    free(c);
    free(data);
}

/* A client that sends without reading: echo stops reading too, so what
 * the server holds stays bounded; once the client reads, all comes back. */
static void test_echo_backpressure(void **state)
{
    const size_t len = 4u << 20;
    uint8_t *data = malloc(len);
    struct rn_tcpsvc_params sp = {.sv_bufsize = 8192};
    struct rn_tcpsvc_stats st1, st2;
    struct rn_tcpsvc *s;
    struct rn_proc *cp;
    struct tcl c;
    size_t i;

    (void)state;
    assert_non_null(data);
    for (i = 0; i < len; i++)
        data[i] = pattern_byte(9, i);
    pair_up(1500, false);
    assert_int_equal(rn__tcpecho_start(P.b, &sp, &s), 0);
    cp = client_proc();
    tcl_connect(&c, cp, 7);
    assert_true(run_while_not(tcl_is_connected, &c, RN_SEC(5)));
    tcl_pause(&c, true);
    tcl_send(&c, data, len);
    run_for(RN_SEC(20));
    rn__tcpsvc_stats(s, &st1);
    /* Stalled: far from all of it was taken, and echo holds at most one
     * buffer it has read but not yet written back. */
    assert_true(st1.ss_bytes_in < len / 2);
    assert_true(st1.ss_bytes_in - st1.ss_bytes_out <= sp.sv_bufsize);
    run_for(RN_SEC(20));
    rn__tcpsvc_stats(s, &st2);
    assert_int_equal(st2.ss_bytes_in, st1.ss_bytes_in);  /* nothing moves */
    assert_int_equal(c.cl_sends, 1);
    tcl_pause(&c, false);
    assert_true(tcl_wait_bytes(&c, len, RN_SEC(120)));
    assert_memory_equal(c.cl_rx, data, len);
    assert_true(run_while_not(tcl_sends_done, &c, RN_SEC(5)));
    tcl_close(&c, false);
    assert_true(run_while_not(tcl_is_closed, &c, RN_SEC(5)));
    stop_service(s, "tcpecho");
    tcl_free(&c);
    finish(cp);
    free(data);
}

/* A peer that resets mid-stream: the server counts it, frees the
 * connection and goes on serving. */
static void test_echo_peer_reset(void **state)
{
    uint8_t data[20000];
    struct rn_tcpsvc_stats st;
    struct rn_tcpsvc *s;
    struct rn_proc *cp;
    struct tcl c, d;

    (void)state;
    memset(data, 'x', sizeof(data));
    pair_up(1500, false);
    assert_int_equal(rn__tcpecho_start(P.b, NULL, &s), 0);
    cp = client_proc();
    tcl_connect(&c, cp, 7);
    assert_true(run_while_not(tcl_is_connected, &c, RN_SEC(5)));
    tcl_pause(&c, true);
    tcl_send(&c, data, sizeof(data));
    run_for(RN_MSEC(200));
    tcl_close(&c, true);
    run_for(RN_MSEC(200));
    rn__tcpsvc_stats(s, &st);
    assert_int_equal(st.ss_active, 0);
    assert_int_equal(st.ss_resets, 1);
    assert_int_equal(count_objects("tcp connection", NULL), 0);
    /* A new client is served. */
    tcl_connect(&d, cp, 7);
    tcl_send_str(&d, "still here");
    assert_true(tcl_wait_bytes(&d, 10, RN_SEC(5)));
    assert_memory_equal(d.cl_rx, "still here", 10);
    tcl_close(&d, false);
    run_for(RN_MSEC(100));
    stop_service(s, "tcpecho");
    tcl_free(&c);
    tcl_free(&d);
    finish(cp);
}

/* Idle connections wait in the service's readiness set, holding no
 * request: with 48 of them the server has two requests in all (its
 * accept and the set's wait).  Then rounds of churn: some clients send,
 * some close (a reset or a FIN) and are replaced by new connections that
 * take their handles again; every message comes back whole and only to
 * its sender, and an event meant for a gone connection reaches no other. */
#define CHURN_CLIENTS 48
#define CHURN_ROUNDS 12

static void test_echo_idle_churn(void **state)
{
    struct tcl *c = calloc(CHURN_CLIENTS, sizeof(*c));
    size_t want[CHURN_CLIENTS] = {0};
    struct rn_tcpsvc_stats st;
    struct rn_tcpsvc *s;
    struct rn_proc *cp;
    unsigned k, r, closes = 0;
    char msg[64];
    uint32_t rnd = 12345;

    (void)state;
    assert_non_null(c);
    pair_up(1500, false);
    assert_int_equal(rn__tcpecho_start(P.b, NULL, &s), 0);
    cp = client_proc();
    for (k = 0; k < CHURN_CLIENTS; k++)
        tcl_connect(&c[k], cp, 7);
    for (k = 0; k < CHURN_CLIENTS; k++)
        assert_true(run_while_not(tcl_is_connected, &c[k], RN_SEC(5)));
    run_for(RN_MSEC(100));
    rn__tcpsvc_stats(s, &st);
    assert_int_equal(st.ss_active, CHURN_CLIENTS);
    /* The server's requests: its accept and its readiness set's wait; the
     * set holds every idle connection's socket. */
    assert_int_equal(count_objects("request", "request accept"), 1);
    assert_int_equal(count_objects("request", "request wait readiness set"), 1);
    assert_int_equal(count_objects("request", "request poll"), 0);
    snprintf(msg, sizeof(msg), "%u sockets", CHURN_CLIENTS);
    assert_int_equal(count_objects("readiness set", msg), 1);

    for (r = 0; r < CHURN_ROUNDS; r++) {
        for (k = 0; k < CHURN_CLIENTS; k++) {
            rnd = rnd * 1103515245u + 12345u;
            switch (rnd >> 16 & 7) {
            case 0: /* replaced: reset, then a new connection */
            case 1: /* replaced: closed, then a new connection */
                tcl_close(&c[k], (rnd >> 16 & 7) == 0);
                run_for(RN_MSEC(5));
                tcl_free(&c[k]);
                memset(&c[k], 0, sizeof(c[k]));
                tcl_connect(&c[k], cp, 7);
                want[k] = 0;
                closes++;
                break;
            case 2:
            case 3:
            case 4:
                snprintf(msg, sizeof(msg), "client %u round %u;", k, r);
                tcl_send_str(&c[k], msg);
                want[k] += strlen(msg);
                break;
            default: /* stays idle */
                break;
            }
        }
        for (k = 0; k < CHURN_CLIENTS; k++) {
            assert_true(run_while_not(tcl_is_connected, &c[k], RN_SEC(5)));
            assert_true(tcl_wait_bytes(&c[k], want[k], RN_SEC(5)));
            assert_int_equal(c[k].cl_rx_len, want[k]);
        }
    }
    /* What each received is its own messages, in order. */
    for (k = 0; k < CHURN_CLIENTS; k++) {
        size_t off = 0;

        while (off < c[k].cl_rx_len) {
            unsigned ck, rr;
            int n = 0;

            assert_int_equal(sscanf((const char *)c[k].cl_rx + off, "client %u round %u;%n", &ck,
                                    &rr, &n), 2);
            assert_int_equal(ck, k);
            off += (size_t)n;
        }
    }
    run_for(RN_MSEC(200));
    rn__tcpsvc_stats(s, &st);
    assert_true(closes > 0);
    assert_int_equal(st.ss_accepted, CHURN_CLIENTS + closes);
    assert_int_equal(st.ss_active, CHURN_CLIENTS);
    assert_int_equal(count_objects("request", "request poll"), 0);
    for (k = 0; k < CHURN_CLIENTS; k++)
        tcl_close(&c[k], false);
    run_for(RN_MSEC(200));
    rn__tcpsvc_stats(s, &st);
    assert_int_equal(st.ss_active, 0);
    stop_service(s, "tcpecho");
    for (k = 0; k < CHURN_CLIENTS; k++)
        tcl_free(&c[k]);
    finish(cp);
    free(c);
}

/* ---- discard ------------------------------------------------------------------- */

static void test_discard_counts(void **state)
{
    const size_t len = 500u * 1024u;
    uint8_t *data = calloc(1, len);
    struct rn_tcpsvc_stats st;
    struct rn_tcpsvc *s;
    struct rn_proc *cp;
    struct tcl c[3];
    unsigned k;

    (void)state;
    assert_non_null(data);
    pair_up(1500, false);
    assert_int_equal(rn__discard_start(P.b, NULL, &s), 0);
    assert_int_equal(count_objects("tcp listener", "0.0.0.0:9"), 1);
    cp = client_proc();
    for (k = 0; k < 3; k++) {
        tcl_connect(&c[k], cp, 9);
        tcl_send(&c[k], data, len);
    }
    for (k = 0; k < 3; k++) {
        assert_true(run_while_not(tcl_sends_done, &c[k], RN_SEC(30)));
        assert_int_equal(c[k].cl_send_err, 0);
        tcl_shutdown(&c[k]);
    }
    /* Discard closes on the end of data; the clients see it, then close. */
    for (k = 0; k < 3; k++) {
        assert_true(run_while_not(tcl_is_ended, &c[k], RN_SEC(30)));
        assert_true(c[k].cl_eof);
        assert_int_equal(c[k].cl_rx_total, 0);  /* discard never answers */
        tcl_close(&c[k], false);
    }
    for (k = 0; k < 3; k++)
        assert_true(run_while_not(tcl_is_closed, &c[k], RN_SEC(5)));
    run_for(RN_MSEC(100));  /* the clients' last ACKs */
    rn__tcpsvc_stats(s, &st);
    assert_int_equal(st.ss_bytes_in, 3 * len);
    assert_int_equal(st.ss_bytes_out, 0);
    assert_int_equal(st.ss_closed, 3);
    assert_int_equal(st.ss_active, 0);
    stop_service(s, "discard");
    for (k = 0; k < 3; k++)
        tcl_free(&c[k]);
    finish(cp);
    free(data);
}

/* A client on the server's own stack: the data goes through the stack's
 * loop queue, in segments as large as IP allows. */
static void test_discard_from_own_stack(void **state)
{
    const size_t len = 4u << 20;
    uint8_t *data = calloc(1, len);
    struct rn_tcpsvc_stats st;
    struct rn_tcpsvc *s;
    struct rn_proc *cp;
    struct tcl c;

    (void)state;
    assert_non_null(data);
    pair_up(1500, false);
    assert_int_equal(rn__discard_start(P.b, NULL, &s), 0);
    assert_int_equal(rn_proc_create(P.b, "self-client", &cp), 0);
    tcl_connect(&c, cp, 9);
    tcl_send(&c, data, len);
    assert_true(run_while_not(tcl_sends_done, &c, RN_SEC(30)));
    assert_int_equal(c.cl_send_err, 0);
    tcl_shutdown(&c);
    assert_true(run_while_not(tcl_is_ended, &c, RN_SEC(30)));
    tcl_close(&c, false);
    assert_true(run_while_not(tcl_is_closed, &c, RN_SEC(5)));
    run_for(RN_MSEC(100));
    rn__tcpsvc_stats(s, &st);
    assert_int_equal(st.ss_bytes_in, len);
    stop_service(s, "discard");
    tcl_free(&c);
    finish(cp);
    free(data);
}

/* ---- chargen ------------------------------------------------------------------- */

static void test_chargen_lines(void **state)
{
    static const char first[] =
        " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n"
        "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n";
    const size_t want = 300u * 1024u;
    struct rn_tcpsvc_params sp = {.sv_port = 1919, .sv_bufsize = 5000};
    struct rn_tcpsvc_stats st;
    struct rn_tcpsvc *s;
    struct rn_proc *cp;
    struct tcl c[2];
    unsigned k;
    size_t i;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn__chargen_start(P.b, &sp, &s), 0);
    cp = client_proc();
    for (k = 0; k < 2; k++)
        tcl_connect(&c[k], cp, 1919);
    for (k = 0; k < 2; k++) {
        assert_true(tcl_wait_bytes(&c[k], want, RN_SEC(60)));
        assert_memory_equal(c[k].cl_rx, first, sizeof(first) - 1);
        for (i = 0; i < c[k].cl_rx_len; i++) {
            if (c[k].cl_rx[i] != rn__chargen_byte(i))
                fail_msg("client %u: byte %zu is %#x, not %#x", k, i, c[k].cl_rx[i],
                         rn__chargen_byte(i));
        }
    }
    /* Line 95 starts over: the cycle is 95 lines of 74 bytes. */
    assert_memory_equal(c[0].cl_rx + 95 * 74, first, sizeof(first) - 1);
    /* Whatever the client sends is dropped. */
    tcl_send_str(&c[0], "ignored");
    run_for(RN_MSEC(100));
    /* The peer closes: chargen ends the connection. */
    for (k = 0; k < 2; k++)
        tcl_close(&c[k], false);
    for (k = 0; k < 2; k++)
        assert_true(run_while_not(tcl_is_closed, &c[k], RN_SEC(10)));
    run_for(RN_MSEC(100));
    rn__tcpsvc_stats(s, &st);
    assert_int_equal(st.ss_active, 0);
    assert_int_equal(st.ss_bytes_in, 7);
    assert_true(st.ss_bytes_out >= 2 * want);
    assert_int_equal(count_objects("tcp connection", NULL), 0);
    stop_service(s, "chargen");
    for (k = 0; k < 2; k++)
        tcl_free(&c[k]);
    finish(cp);
}

/* ---- cap, stop ---------------------------------------------------------------------- */

static void test_cap_on_connections(void **state)
{
    struct rn_tcpsvc_params sp = {.sv_max_conns = 2};
    struct rn_tcpsvc_stats st;
    struct rn_tcpsvc *s;
    struct rn_proc *cp;
    struct tcl c[3];
    unsigned k;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn__tcpecho_start(P.b, &sp, &s), 0);
    cp = client_proc();
    for (k = 0; k < 3; k++) {
        tcl_connect(&c[k], cp, 7);
        run_for(RN_MSEC(50));
    }
    run_for(RN_MSEC(100));
    /* The third's SYN was refused: never a connection, never accepted. */
    assert_int_equal(c[2].cl_connect_err, RN_ECONNREFUSED);
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_TCP_LISTEN_REFUSED), 1);
    for (k = 0; k < 2; k++) {
        tcl_send_str(&c[k], "hi");
        assert_true(tcl_wait_bytes(&c[k], 2, RN_SEC(5)));
    }
    rn__tcpsvc_stats(s, &st);
    assert_int_equal(st.ss_accepted, 2);
    assert_int_equal(st.ss_refused, 0);
    assert_int_equal(st.ss_active, 2);
    /* One closes: under the cap, the next connect gets in. */
    tcl_close(&c[0], false);
    run_for(RN_MSEC(100));
    tcl_free(&c[2]);
    tcl_connect(&c[2], cp, 7);
    run_for(RN_MSEC(100));
    tcl_send_str(&c[2], "hi");
    assert_true(tcl_wait_bytes(&c[2], 2, RN_SEC(5)));
    /* A raised cap lets more in at once. */
    rn__tsrv_set_max_conns((struct tsrv *)s, 3);
    tcl_free(&c[0]);
    tcl_connect(&c[0], cp, 7);
    run_for(RN_MSEC(100));
    tcl_send_str(&c[0], "hi");
    assert_true(tcl_wait_bytes(&c[0], 2, RN_SEC(5)));
    rn__tcpsvc_stats(s, &st);
    assert_int_equal(st.ss_active, 3);
    for (k = 0; k < 3; k++)
        tcl_close(&c[k], false);
    run_for(RN_MSEC(100));
    stop_service(s, "tcpecho");
    for (k = 0; k < 3; k++)
        tcl_free(&c[k]);
    finish(cp);
}

/* Stop with connections open, reading and writing: they are reset, the
 * stop completes, and nothing of the services is left. */
static void test_stop_with_open_connections(void **state)
{
    struct rn_tcpsvc *echo, *gen, *dis;
    struct rn_proc *cp;
    struct tcl c[5];
    uint8_t junk[30000];
    unsigned k;

    (void)state;
    memset(junk, 'j', sizeof(junk));
    pair_up(1500, false);
    assert_int_equal(rn__tcpecho_start(P.b, NULL, &echo), 0);
    assert_int_equal(rn__chargen_start(P.b, NULL, &gen), 0);
    assert_int_equal(rn__discard_start(P.b, NULL, &dis), 0);
    cp = client_proc();
    tcl_connect(&c[0], cp, 7);  /* idle */
    tcl_connect(&c[1], cp, 7);  /* echo, not reading */
    tcl_connect(&c[2], cp, 19); /* chargen, streaming */
    tcl_connect(&c[3], cp, 19); /* chargen, not reading */
    tcl_connect(&c[4], cp, 9);  /* discard, sending */
    for (k = 0; k < 5; k++)
        assert_true(run_while_not(tcl_is_connected, &c[k], RN_SEC(5)));
    c[2].cl_rx_max = 0;  /* count, do not keep */
    tcl_pause(&c[1], true);
    tcl_pause(&c[3], true);
    for (k = 0; k < 10; k++)
        tcl_send(&c[1], junk, sizeof(junk));
    tcl_send(&c[4], junk, sizeof(junk));
    run_for(RN_SEC(2));
    assert_true(c[2].cl_rx_total > 100000);
    assert_int_equal(count_objects("tcp connection", NULL), 10);
    stop_service(echo, "tcpecho");
    stop_service(gen, "chargen");
    stop_service(dis, "discard");
    /* Only the clients' side is left, and it hears the resets. */
    assert_int_equal(count_objects("socket", NULL), 5);
    for (k = 0; k < 5; k++) {
        tcl_pause(&c[k], false);
        assert_true(run_while_not(tcl_is_ended, &c[k], RN_SEC(5)));
        assert_int_equal(c[k].cl_err, RN_ECONNRESET);
    }
    for (k = 0; k < 5; k++) {
        tcl_close(&c[k], false);
        tcl_free(&c[k]);
    }
    run_for(RN_MSEC(100));
    assert_int_equal(count_objects("tcp connection", NULL), 0);
    finish(cp);
}

static void test_bad_params(void **state)
{
    struct rn_tcpsvc_params sp = {.sv_bufsize = 10};
    struct rn_tcpsvc *s, *t;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn__tcpecho_start(P.b, &sp, &s), RN_EINVAL);
    sp.sv_bufsize = 0;
    sp.sv_max_conns = RN_SVC_CONNS_MAX + 1;
    assert_int_equal(rn__discard_start(P.b, &sp, &s), RN_EINVAL);
    sp.sv_max_conns = 0;
    sp.sv_addr = 0x0a000001;  /* not ours */
    assert_int_equal(rn__chargen_start(P.b, &sp, &s), RN_EADDRNOTAVAIL);
    assert_int_equal(rn__tcpecho_start(P.b, NULL, &s), 0);
    assert_int_equal(rn__tcpecho_start(P.b, NULL, &t), RN_EADDRINUSE);
    run_for(RN_MSEC(10));
    assert_int_equal(count_objects("process", "process tcpecho "), 1);
    stop_service(s, "tcpecho");
    run_for(RN_MSEC(10));
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_concurrent_clients),
        cmocka_unit_test(test_echo_backpressure),
        cmocka_unit_test(test_echo_peer_reset),
        cmocka_unit_test(test_echo_idle_churn),
        cmocka_unit_test(test_discard_counts),
        cmocka_unit_test(test_discard_from_own_stack),
        cmocka_unit_test(test_chargen_lines),
        cmocka_unit_test(test_cap_on_connections),
        cmocka_unit_test(test_stop_with_open_connections),
        cmocka_unit_test(test_bad_params),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
