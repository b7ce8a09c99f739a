/*
 * TCP between two refnet stacks over a simulated cable, in virtual time:
 * handshakes, data both ways, every way of closing, refusals and resets,
 * zero windows, segments that fit the path while recovering, the window
 * after a lost SYN, and bulk transfers through a faulty cable (one way,
 * and both ways at once with offloads on and off, each replayed from its
 * seed) that must arrive byte for byte.  Every test ends with nothing left
 * but what it expects.
 */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/render.h"
#include "net/net_priv.h"
#include "refnet/error.h"
#include "refnet/link.h"
#include "refnet/stack.h"
#include "refnet/strbuf.h"
#include "refnet/tcp.h"
#include "refnet/snapshot.h"
#include "support.h"
#include "transport/tcp.h"
#include "transport/tcp_priv.h"
#include "wire/csum.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

static void stall_report(const char *name, const struct tcp_conn *c);
static void use_cubic(void);
static bool cubic_next;  /* bulk() runs its pair under "cubic" */

/* What a connection's user saw. */
struct user {
    struct tcp_conn *u_conn;
    int u_connected;      /* 1 ok, <0 error, 0 pending */
    int u_error;
    int u_readable;
    int u_writable;
    int u_acceptable;
    uint8_t *u_rx;        /* received bytes */
    size_t u_rxlen;
    size_t u_rxcap;
    bool u_eof;
    bool u_drain;         /* read everything as it comes */
    const uint8_t *u_tx;  /* writer: sends this from the writable upcall, */
    size_t u_txlen;       /* as the socket layer does for a pending send */
    size_t u_txdone;
};

static void up_readable(void *ctx)
{
    struct user *u = ctx;

    u->u_readable++;
    while (u->u_drain && u->u_conn != NULL) {
        ssize_t n;

        if (u->u_rxlen == u->u_rxcap) {
            u->u_rxcap = u->u_rxcap ? u->u_rxcap * 2 : 65536;
            u->u_rx = realloc(u->u_rx, u->u_rxcap);
        }
        n = rn__tcp_recv(u->u_conn, u->u_rx + u->u_rxlen, u->u_rxcap - u->u_rxlen);
        if (n > 0) {
            u->u_rxlen += (size_t)n;
            continue;
        }
        if (n == 0)
            u->u_eof = true;
        break;
    }
}

/* Sends more of u_tx, as far as the send buffer takes it. */
static void user_push(struct user *u)
{
    while (u->u_conn != NULL && u->u_txdone < u->u_txlen) {
        ssize_t n = rn__tcp_send(u->u_conn, u->u_tx + u->u_txdone, u->u_txlen - u->u_txdone);

        if (n <= 0)
            break;
        u->u_txdone += (size_t)n;
    }
}

static void up_writable(void *ctx)
{
    struct user *u = ctx;

    u->u_writable++;
    user_push(u);  /* at once, from inside TCP's input, like rn__sock_kick() */
}

static void up_connected(void *ctx, int err)
{
    ((struct user *)ctx)->u_connected = err == 0 ? 1 : err;
}

static void up_error(void *ctx, int err)
{
    ((struct user *)ctx)->u_error = err;
}

static void up_acceptable(void *ctx)
{
    ((struct user *)ctx)->u_acceptable++;
}

static const struct tcp_upcalls upcalls = {
    .tu_readable = up_readable,
    .tu_writable = up_writable,
    .tu_connected = up_connected,
    .tu_error = up_error,
    .tu_acceptable = up_acceptable,
};

/* ---- The right edge of B's window, as seen on A's wire ------------------------- */

/* A link filter on A's end of the cable.  Frames from B bring its
 * window's right edge (ack + window << scale); each data segment A sends
 * is checked against the latest edge that had reached A before it.  A
 * segment ending past it is one the receiver may drop (Linux counts it as
 * TcpExtBeyondWindow): RFC 9293 3.8.6 lets new data go no further. */
struct edge_watch {
    struct rn_link ew_link;
    bool ew_have_edge;
    uint8_t ew_scale;      /* B's window scale, from its SYN+ACK */
    uint32_t ew_edge;      /* latest right edge B offered */
    uint64_t ew_segs;      /* data segments of A's checked */
    uint64_t ew_beyond;    /* of them, ending past ew_edge */
    uint32_t ew_worst;     /* most bytes past the edge */
    uint32_t ew_cap;       /* if not 0: B's windows are cut to this many bytes
                              on their way to A, a peer shrinking its window */
};

static struct edge_watch *watch;  /* the filter setup_pair() puts on A, or NULL */

/* The TCP header of an IPv4 frame: returns a pointer to it (in buf) and
 * its payload length, or NULL if the frame is no TCP segment. */
static const uint8_t *tcp_of(const struct rn_netbuf *nb, uint8_t *buf, size_t cap,
                             uint32_t *paylen)
{
    size_t n = nb->nb_pktlen < cap ? nb->nb_pktlen : cap, ihl, doff;
    const uint8_t *ip = buf + RN_ETH_HLEN;

    if (n < RN_ETH_HLEN + 20 || rn_nb_copyout(nb, 0, buf, n) < 0 || buf[12] != 0x08 ||
        buf[13] != 0x00 || ip[9] != 6)
        return NULL;
    ihl = (size_t)(ip[0] & 15) * 4;
    if (n < RN_ETH_HLEN + ihl + 20)
        return NULL;
    doff = (size_t)(ip[ihl + 12] >> 4) * 4;
    *paylen = (uint32_t)(((size_t)ip[2] << 8 | ip[3]) - ihl - doff);
    return ip + ihl;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int ew_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t t)
{
    struct edge_watch *ew = (struct edge_watch *)link;
    uint8_t buf[RN_ETH_HLEN + 120];
    unsigned i;

    for (i = 0; i < n; i++) {
        uint32_t len, end;
        const uint8_t *th = tcp_of(pkts[i], buf, sizeof(buf), &len);

        if (th == NULL || len == 0 || (th[13] & RN_TCP_SYN) || !ew->ew_have_edge)
            continue;
        ew->ew_segs++;
        end = be32(th + 4) + len;
        if (SEQ_GT(end, ew->ew_edge)) {
            ew->ew_beyond++;
            if (end - ew->ew_edge > ew->ew_worst)
                ew->ew_worst = end - ew->ew_edge;
        }
    }
    return rn_link_tx(link->lk_lower, pkts, n, t);
}

/* Cuts the window field of the TCP header at th (a copy of the frame's
 * first bytes starting at buf) to cap bytes, in the frame itself, with its
 * checksum updated incrementally (RFC 1624).  Returns the new field. */
static uint32_t ew_cut_window(struct rn_netbuf *nb, const uint8_t *buf, const uint8_t *th,
                              uint32_t field, uint8_t scale, uint32_t cap)
{
    size_t off = (size_t)(th - buf);
    uint32_t cut = cap >> scale, sum;
    uint8_t w[2] = {(uint8_t)(cut >> 8), (uint8_t)cut}, c[2];

    if (cut >= field)
        return field;
    sum = (uint32_t)(~((uint32_t)th[16] << 8 | th[17]) & 0xffff) + (~field & 0xffff) + cut;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    c[0] = (uint8_t)(~sum >> 8);
    c[1] = (uint8_t)~sum;
    assert_int_equal(rn_nb_copyin(nb, off + 14, w, 2), 0);
    assert_int_equal(rn_nb_copyin(nb, off + 16, c, 2), 0);
    return cut;
}

static int ew_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t t)
{
    struct edge_watch *ew = (struct edge_watch *)link;
    uint8_t buf[RN_ETH_HLEN + 120];
    int n = rn_link_rx(link->lk_lower, pkts, max, t), i;

    for (i = 0; i < n; i++) {
        uint32_t len, win;
        const uint8_t *th = tcp_of(pkts[i], buf, sizeof(buf), &len);

        if (th == NULL || !(th[13] & RN_TCP_ACK) || (th[13] & RN_TCP_RST))
            continue;
        win = (uint32_t)th[14] << 8 | th[15];
        if (th[13] & RN_TCP_SYN) {
            /* The SYN+ACK's window is never scaled; its options say by
             * how much the later ones are. */
            const uint8_t *o = th + 20, *oe = th + (th[12] >> 4) * 4;

            while (o < oe && o[0] != 0) {
                if (o[0] == 1) {
                    o++;
                    continue;
                }
                if (o + 1 >= oe || o[1] < 2)
                    break;
                if (o[0] == 3 && o[1] == 3)
                    ew->ew_scale = o[2];
                o += o[1];
            }
        } else {
            if (ew->ew_cap != 0)
                win = ew_cut_window(pkts[i], buf, th, win, ew->ew_scale, ew->ew_cap);
            win <<= ew->ew_scale;
        }
        ew->ew_edge = be32(th + 8) + win;
        ew->ew_have_edge = true;
    }
    return n;
}

static void ew_close(struct rn_link *link)
{
    rn_link_close(link->lk_lower);
    if (watch == (struct edge_watch *)link)
        watch = NULL;
    free(link);
}

static const struct rn_link_ops ew_ops = {
    .kind = "edge-watch",
    .tx = ew_tx,
    .rx = ew_rx,
    .close = ew_close,
};

static bool watch_next;  /* setup_pair() puts an edge watch on A */

/* Wraps a's end of the cable in an edge watch (the pair's pp_wrap_a). */
static struct rn_link *wrap_watch(struct rn_link *end)
{
    watch = calloc(1, sizeof(*watch));
    assert_non_null(watch);
    rn_link_init(&watch->ew_link, &ew_ops, end, "edge-watch");
    return &watch->ew_link;
}

/* The pair with TCP alone on both stacks, a cable of at most 4096 frames
 * in flight, the fault filters given (NULL: none) on each end's transmit
 * side, and the edge watch on a if watch_next. */
static void setup_pair(const char *fault_ab, const char *fault_ba, uint64_t seed)
{
    struct pair_params pp = {
        .pp_seed = seed,
        .pp_layers = PAIR_TCP,
        .pp_limit = 4096,
        .pp_fault_ab = fault_ab,
        .pp_fault_ba = fault_ba,
        .pp_wrap_a = watch_next ? wrap_watch : NULL,
    };

    pair_up_with(&pp);
    watch_next = false;
}

/* Runs both stacks until `until` or until done(ctx) says so. */
static void run(rn_time_t until, bool (*done)(void *), void *ctx)
{
    if (done == NULL)
        run_until(until);
    else if (until > P.now)
        run_while_not(done, ctx, until - P.now);
}

static bool open_done(void *ctx)
{
    return ((struct user *)ctx)->u_acceptable > 0;
}

/* Connects A to B:port, accepts on B.  Returns the listener. */
static struct tcp_listener *open_pair(uint16_t port, struct user *ua, struct user *ub)
{
    struct tcp_listener *l;
    static struct user lu;

    memset(&lu, 0, sizeof(lu));
    assert_int_equal(rn__tcp_listen(P.b, 0, port, 16, &upcalls, &lu, &l), 0);
    assert_int_equal(rn__tcp_connect(P.a, 0, 0, ADDR_B, port, &upcalls, ua, &ua->u_conn), 0);
    rn_ob_ref(ua->u_conn, RN_TAG_SOCKET_ENDPOINT);
    run(P.now + RN_SEC(60), open_done, &lu);
    if (ua->u_connected != 1) {
        struct rn_strbuf sb = RN_STRBUF_INIT;

        rn__render_stats(P.a, &sb, false);
        rn__render_stats(P.b, &sb, false);
        fprintf(stderr, "t=%llu connected=%d\n%s", (unsigned long long)P.now, ua->u_connected, rn_strbuf_str(&sb));
        rn_strbuf_free(&sb);
    }
    assert_int_equal(ua->u_connected, 1);
    assert_int_equal(lu.u_acceptable, 1);
    assert_int_equal(rn__tcp_accept(l, RN_TAG_SOCKET_ENDPOINT, &upcalls, ub, &ub->u_conn), 0);
    assert_int_equal(tcp_state(ua->u_conn), TCPS_ESTABLISHED);
    assert_int_equal(tcp_state(ub->u_conn), TCPS_ESTABLISHED);
    return l;
}

/* The user lets go: rn__tcp_close, then the socket's reference. */
static void user_close(struct user *u, bool abort)
{
    struct tcp_conn *c = u->u_conn;

    u->u_conn = NULL;
    rn__tcp_close(c, abort);
    rn_ob_deref(c, RN_TAG_SOCKET_ENDPOINT);
}

static void user_free(struct user *u)
{
    free(u->u_rx);
    memset(u, 0, sizeof(*u));
}

/* The end of a transfer: both users close, then the listener; the
 * protocol runs out for linger; data and the users are freed and the pair
 * torn down (which checks that nothing leaked). */
static void transfer_end(struct user *ua, struct user *ub, struct tcp_listener *l,
                         rn_time_t linger, void *data)
{
    user_close(ua, false);
    user_close(ub, false);
    rn__tcp_listener_close(l);
    run_for(linger);
    free(data);
    user_free(ua);
    user_free(ub);
    pair_down();
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    size_t i;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

static void test_handshake_data_close(void **state)
{
    struct user ua = {0}, ub = {0};
    struct tcp_listener *l;
    const char *msg = "hello from a", *reply = "and hello from b";
    char buf[64];
    ssize_t n;

    (void)state;
    setup_pair(NULL, NULL, 1);
    l = open_pair(80, &ua, &ub);
    assert_int_equal(rn__tcp_send(ua.u_conn, msg, strlen(msg)), (ssize_t)strlen(msg));
    run_for(RN_MSEC(100));
    n = rn__tcp_recv(ub.u_conn, buf, sizeof(buf));
    assert_int_equal(n, (ssize_t)strlen(msg));
    assert_memory_equal(buf, msg, strlen(msg));
    assert_int_equal(rn__tcp_recv(ub.u_conn, buf, sizeof(buf)), RN_EAGAIN);
    assert_int_equal(rn__tcp_send(ub.u_conn, reply, strlen(reply)), (ssize_t)strlen(reply));
    run_for(RN_MSEC(100));
    n = rn__tcp_recv(ua.u_conn, buf, sizeof(buf));
    assert_int_equal(n, (ssize_t)strlen(reply));

    /* A closes first: A passes FIN_WAIT to TIME_WAIT, B CLOSE_WAIT to
     * LAST_ACK to CLOSED. */
    rn__tcp_shutdown(ua.u_conn, RN_SHUT_WR);
    run_for(RN_MSEC(100));
    assert_int_equal(tcp_state(ua.u_conn), TCPS_FIN_WAIT_2);
    assert_int_equal(tcp_state(ub.u_conn), TCPS_CLOSE_WAIT);
    assert_int_equal(rn__tcp_recv(ub.u_conn, buf, sizeof(buf)), 0);  /* EOF */
    user_close(&ub, false);
    run_for(RN_MSEC(100));
    assert_int_equal(tcp_state(ua.u_conn), TCPS_TIME_WAIT);
    assert_int_equal(rn__tcp_timewait_count(P.a), 1);
    user_close(&ua, false);
    rn_ob_drain();
    /* Left: B's listener and A's TIME_WAIT entry. */
    check_live_objects(2 + 2 + 2 + 1 + 1);  /* interfaces, routes, ARP entries, listener, TIME_WAIT */
    rn__tcp_listener_close(l);
    /* TIME_WAIT ends after 2*MSL. */
    run_for(RN_SEC(61));
    assert_int_equal(rn__tcp_timewait_count(P.a), 0);
    user_free(&ua);
    user_free(&ub);
    pair_down();
}

static void test_simultaneous_close(void **state)
{
    struct user ua = {0}, ub = {0};
    struct tcp_listener *l;

    (void)state;
    setup_pair(NULL, NULL, 2);
    l = open_pair(81, &ua, &ub);
    rn__tcp_shutdown(ua.u_conn, RN_SHUT_WR);
    rn__tcp_shutdown(ub.u_conn, RN_SHUT_WR);
    run_for(RN_MSEC(100));
    /* Both sent FIN before hearing the other's: CLOSING, then TIME_WAIT
     * on both sides (RFC 9293 figure 13). */
    assert_int_equal(tcp_state(ua.u_conn), TCPS_TIME_WAIT);
    assert_int_equal(tcp_state(ub.u_conn), TCPS_TIME_WAIT);
    assert_int_equal(rn__tcp_timewait_count(P.a), 1);
    assert_int_equal(rn__tcp_timewait_count(P.b), 1);
    user_close(&ua, false);
    user_close(&ub, false);
    rn__tcp_listener_close(l);
    user_free(&ua);
    user_free(&ub);
    pair_down();
}

static void test_refused_and_reset(void **state)
{
    struct user ua = {0}, ub = {0}, uc = {0};
    struct tcp_listener *l;

    (void)state;
    setup_pair(NULL, NULL, 3);
    /* Nobody listens on 9999: RST, ECONNREFUSED. */
    assert_int_equal(rn__tcp_connect(P.a, 0, 0, ADDR_B, 9999, &upcalls, &uc, &uc.u_conn), 0);
    rn_ob_ref(uc.u_conn, RN_TAG_SOCKET_ENDPOINT);
    run_for(RN_MSEC(50));
    assert_int_equal(uc.u_connected, RN_ECONNREFUSED);
    if (getenv("DBG")) {
        struct rn_strbuf sb = RN_STRBUF_INIT;
        rn__render_stats(P.a, &sb, false);
        rn__render_stats(P.b, &sb, false);
        fprintf(stderr, "%s", rn_strbuf_str(&sb));
        rn_strbuf_free(&sb);
    }
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_TCP_NO_PORT), 1);
    user_close(&uc, false);

    /* An abortive close (linger 0) resets the peer. */
    l = open_pair(82, &ua, &ub);
    user_close(&ua, true);
    run_for(RN_MSEC(50));
    assert_int_equal(ub.u_error, RN_ECONNRESET);
    assert_int_equal(tcp_state(ub.u_conn), TCPS_CLOSED);
    user_close(&ub, false);
    rn__tcp_listener_close(l);
    user_free(&ua);
    user_free(&ub);
    user_free(&uc);
    pair_down();
}

static void test_zero_window_and_persist(void **state)
{
    struct user ua = {0}, ub = {0};
    struct tcp_listener *l;
    size_t total = 1 << 20, sent = 0;
    uint8_t *data = malloc(total);

    (void)state;
    fill(data, total, 7);
    setup_pair(NULL, NULL, 4);
    l = open_pair(83, &ua, &ub);
    /* B does not read: A fills B's 256 KiB window and its own buffer. */
    for (int rounds = 0; rounds < 50; rounds++) {
        while (sent < total) {
            ssize_t n = rn__tcp_send(ua.u_conn, data + sent, total - sent);

            if (n == RN_EAGAIN)
                break;
            assert_true(n > 0);
            sent += (size_t)n;
        }
        run_for(RN_MSEC(100));
    }
    assert_int_equal(ua.u_conn->snd_wnd, 0);
    assert_true(rn__tcp_readable(ub.u_conn, NULL) >= 250000);
    assert_true(rn__tcp_writable(ua.u_conn) == 0);
    /* The sender keeps probing the zero window, and the connection lives. */
    run_for(RN_SEC(30));
    assert_int_equal(tcp_state(ua.u_conn), TCPS_ESTABLISHED);
    /* Now B drains; A's probes or B's window update restart the flow. */
    ub.u_drain = true;
    up_readable(&ub);
    for (int rounds = 0; rounds < 200 && ub.u_rxlen < total; rounds++) {
        while (sent < total) {
            ssize_t n = rn__tcp_send(ua.u_conn, data + sent, total - sent);

            if (n <= 0)
                break;
            sent += (size_t)n;
        }
        run_for(RN_MSEC(100));
        up_readable(&ub);
    }
    assert_int_equal(ub.u_rxlen, total);
    assert_memory_equal(ub.u_rx, data, total);
    transfer_end(&ua, &ub, l, RN_SEC(1), data);
}

/* A receiver that reads slowly offers a window that shrinks ACK by ACK:
 * each acknowledges data while the right edge stays put.  A writer that
 * refills the send buffer as soon as TCP frees it (the socket layer does,
 * from inside the ACK's processing) must still see each ACK's own window,
 * and no data segment may end past the edge the receiver offered. */
static void test_shrinking_window_edge(void **state)
{
    struct user ua = {0}, ub = {0};
    struct tcp_listener *l;
    size_t total = 4u << 20;
    uint8_t *data = malloc(total);
    int rounds;

    (void)state;
    fill(data, total, 21);
    watch_next = true;
    setup_pair(NULL, NULL, 21);
    assert_non_null(watch);
    l = open_pair(84, &ua, &ub);
    ua.u_tx = data;
    ua.u_txlen = total;
    user_push(&ua);
    /* B reads 24 KiB every 20 ms: far less than A could send. */
    for (rounds = 0; rounds < 2000 && ub.u_rxlen < total; rounds++) {
        run_for(RN_MSEC(20));
        if (ub.u_rxcap - ub.u_rxlen < 24576) {
            ub.u_rxcap = ub.u_rxcap ? ub.u_rxcap * 2 : 65536;
            ub.u_rx = realloc(ub.u_rx, ub.u_rxcap);
        }
        if (rounds < 100) {
            ssize_t n = rn__tcp_recv(ub.u_conn, ub.u_rx + ub.u_rxlen, 24576);

            if (n > 0)
                ub.u_rxlen += (size_t)n;
        } else {
            ub.u_drain = true;  /* then it catches up */
            up_readable(&ub);
        }
        user_push(&ua);
    }
    assert_int_equal(ub.u_rxlen, total);
    assert_memory_equal(ub.u_rx, data, total);
    assert_true(watch->ew_segs > 1000);
    if (watch->ew_beyond != 0)
        fail_msg("%llu of %llu data segments ended past the offered window (at most %u bytes)",
                 (unsigned long long)watch->ew_beyond, (unsigned long long)watch->ew_segs,
                 watch->ew_worst);
    transfer_end(&ua, &ub, l, RN_SEC(70), data);
}

/* A peer that shrinks its window below the data in flight (RFC 9293
 * discourages it; Linux does it with net.ipv4.tcp_shrink_window): on a
 * lossy path, A's retransmissions then stay inside the window B offers
 * now, with the segment at snd_una cut to fit, and no tail loss probe
 * goes past it either. */
static void test_retransmit_within_shrunk_window(void **state)
{
    struct user ua = {0}, ub = {.u_drain = true};
    struct tcp_listener *l;
    size_t total = 1u << 20;
    uint8_t *data = malloc(total);
    uint64_t rxt_before;
    int rounds;

    (void)state;
    fill(data, total, 23);
    watch_next = true;
    setup_pair("drop=10%,seed=23", NULL, 23);
    assert_non_null(watch);
    l = open_pair(86, &ua, &ub);
    ua.u_tx = data;
    ua.u_txlen = total;
    user_push(&ua);
    run_for(RN_MSEC(30));  /* the window is open and full of data */
    assert_true(ub.u_rxlen < total);
    rxt_before = ua.u_conn->t_retransmits;
    watch->ew_cap = 1000;  /* less than a segment */
    for (rounds = 0; rounds < 300; rounds++) {
        run_for(RN_MSEC(10));
        user_push(&ua);
    }
    /* The losses were repaired through the small window. */
    assert_true(ua.u_conn->t_retransmits > rxt_before);
    watch->ew_cap = 0;
    /* 10% loss repaired by NewReno and the timer: about 7 s, or three
     * times that when A's SYN was among the losses and A starts from a
     * window of one segment. */
    for (rounds = 0; rounds < 6000 && ub.u_rxlen < total; rounds++) {
        run_for(RN_MSEC(10));
        user_push(&ua);
    }
    assert_int_equal(ub.u_rxlen, total);
    assert_memory_equal(ub.u_rx, data, total);
    if (watch->ew_beyond != 0)
        fail_msg("%llu of %llu data segments ended past the offered window (at most %u bytes)",
                 (unsigned long long)watch->ew_beyond, (unsigned long long)watch->ew_segs,
                 watch->ew_worst);
    transfer_end(&ua, &ub, l, RN_SEC(70), data);
}

/* Hands A's connection c a pure ACK from B, as if it came off the wire:
 * in sequence, acknowledging ack, with B's last window and the timestamp
 * value tsval. */
static void inject_ack(struct tcp_conn *c, uint32_t ack, uint32_t tsval)
{
    uint8_t opts[RN_TCP_MAX_OPTLEN];
    struct rn_tcp_opts to = {.to_present = RN_TCPOPT_F_TS, .to_tsval = tsval};
    struct rn_tcp_hdr th = {
        .th_sport = c->t_fport, .th_dport = c->t_lport, .th_seq = c->rcv_nxt, .th_ack = ack,
        .th_flags = RN_TCP_ACK, .th_win = (uint16_t)(c->snd_wnd >> c->snd_scale),
        .th_opts = opts,
    };
    struct rn_ip_rx rx = {
        .rx_src = rn_inaddr_to_v4(&c->t_faddr), .rx_dst = rn_inaddr_to_v4(&c->t_laddr), .rx_proto = RN_IPPROTO_TCP, .rx_ttl = 64,
        .rx_iface = P.ifa,
    };
    struct rn_netbuf *nb = rn_nb_alloc(rn_stack_pool(P.a), rn__net_types.nt_own_rx);
    uint8_t *p;

    th.th_optlen = (uint8_t)rn__tcp_opts_emit(opts, &to);
    assert_non_null(nb);
    rn_nb_reserve(nb, 64);
    p = rn_nb_put(nb, RN_TCP_HLEN + th.th_optlen);
    assert_non_null(p);
    rn__tcp_emit4(p, &th, rn_inaddr_to_v4(&c->t_faddr), rn_inaddr_to_v4(&c->t_laddr));
    rn__tcp_input(P.a, nb, &rx);
}

static uint64_t paws_drops(void)
{
    return rn_stack_drops(P.a, RN_DROP_TCP_PAWS);
}

/* PAWS and reordering: a duplicate ACK overtaken by a later one carries an
 * older timestamp.  Such a one is still counted as a duplicate (fast
 * retransmit needs three); an ACK whose timestamp is older than any
 * reordering explains, or that is not a duplicate, is dropped. */
static void test_paws_lets_reordered_dupack_through(void **state)
{
    struct user ua = {0}, ub = {.u_drain = true};
    struct tcp_listener *l;
    static uint8_t data[8000];
    struct tcp_conn *c;
    uint64_t drops;
    uint32_t dup;

    (void)state;
    setup_pair(NULL, NULL, 31);
    l = open_pair(87, &ua, &ub);
    c = ua.u_conn;
    assert_true(c->t_flags & TF_TSTMP);
    /* B's ACKs of a first part set the window's state; then data in
     * flight, not yet acknowledged: B has not run since. */
    assert_int_equal(rn__tcp_send(c, data, 2000), 2000);
    run_for(RN_MSEC(50));
    assert_int_equal(c->snd_una, c->snd_max);
    assert_int_equal(rn__tcp_send(c, data + 2000, sizeof(data) - 2000),
                     (ssize_t)(sizeof(data) - 2000));
    assert_true(SEQ_LT(c->snd_una, c->snd_max));
    dup = c->t_dupacks;
    drops = paws_drops();

    inject_ack(c, c->snd_una, c->ts_recent - 1);
    assert_int_equal(paws_drops(), drops);
    assert_int_equal(c->t_dupacks, dup + 1);

    /* Far older than one RTO: an old duplicate, dropped. */
    inject_ack(c, c->snd_una, c->ts_recent - 100000);
    assert_int_equal(paws_drops(), drops + 1);
    assert_int_equal(c->t_dupacks, dup + 1);

    run_for(RN_MSEC(50));
    assert_int_equal(ub.u_rxlen, sizeof(data));
    transfer_end(&ua, &ub, l, RN_SEC(70), NULL);
}

struct bulk {
    struct user *rx;
    size_t total;
};

static bool bulk_done(void *ctx)
{
    struct bulk *b = ctx;

    return b->rx->u_rxlen >= b->total || b->rx->u_eof;
}

/* Sends `total` bytes A -> B through the given faults; checks them. */
static void bulk(const char *fault_ab, const char *fault_ba, uint64_t seed, size_t total)
{
    struct user ua = {0}, ub = {.u_drain = true};
    struct tcp_listener *l;
    uint8_t *data = malloc(total);
    size_t sent = 0;
    struct bulk b = {&ub, total};

    fill(data, total, (uint32_t)seed);
    setup_pair(fault_ab, fault_ba, seed);
    if (cubic_next)
        use_cubic();
    cubic_next = false;
    l = open_pair(5001, &ua, &ub);
    while (ub.u_rxlen < total) {
        rn_time_t start = P.now;

        while (sent < total) {
            ssize_t n = rn__tcp_send(ua.u_conn, data + sent, total - sent);

            if (n <= 0)
                break;
            sent += (size_t)n;
        }
        if (sent == total)
            rn__tcp_shutdown(ua.u_conn, RN_SHUT_WR);
        run(P.now + RN_MSEC(200), bulk_done, &b);
        if (ub.u_error != 0 || ua.u_error != 0)
            fail_msg("seed %llu: connection failed (a %d, b %d)", (unsigned long long)seed,
                     ua.u_error, ub.u_error);
        if (P.now - start > RN_SEC(600))
            fail_msg("seed %llu: stalled at %zu of %zu", (unsigned long long)seed, ub.u_rxlen,
                     total);
        if (P.now > RN_SEC(3600))
            fail_msg("seed %llu: no progress", (unsigned long long)seed);
    }
    assert_int_equal(ub.u_rxlen, total);
    if (memcmp(ub.u_rx, data, total) != 0) {
        size_t i;

        for (i = 0; i < total && ub.u_rx[i] == data[i]; i++)
            ;
        for (size_t k = i; k < i + 8 && k < total; k++)
            fprintf(stderr, "  %zu: got %02x want %02x\n", k, ub.u_rx[k], data[k]);
        fail_msg("seed %llu: data differ from byte %zu of %zu", (unsigned long long)seed, i, total);
    }
    run(P.now + RN_SEC(5), bulk_done, &b);
    user_close(&ub, false);
    run_for(RN_SEC(2));
    user_close(&ua, false);
    rn__tcp_listener_close(l);
    run_for(RN_SEC(120));
    free(data);
    user_free(&ua);
    user_free(&ub);
    pair_down();
}

/* A transfer to one of the stack's own addresses goes through the loop
 * queue with no MTU limit: segments as large as IP allows, and windows
 * that must still open as the reader drains. */
static void test_bulk_to_self(void **state)
{
    struct user ua = {0}, ub = {.u_drain = true}, lu = {0};
    struct tcp_listener *l;
    size_t total = 4u << 20, sent = 0;
    uint8_t *data = malloc(total);
    struct bulk b = {&ub, total};
    bool had_sb = false;
    int rounds;

    (void)state;
    fill(data, total, 77);
    setup_pair(NULL, NULL, 12);
    assert_int_equal(rn__tcp_listen(P.a, 0, 7000, 4, &upcalls, &lu, &l), 0);
    assert_int_equal(rn__tcp_connect(P.a, 0, 0, ADDR_A, 7000, &upcalls, &ua, &ua.u_conn), 0);
    rn_ob_ref(ua.u_conn, RN_TAG_SOCKET_ENDPOINT);
    run(P.now + RN_SEC(5), open_done, &lu);
    assert_int_equal(ua.u_connected, 1);
    assert_int_equal(rn__tcp_accept(l, RN_TAG_SOCKET_ENDPOINT, &upcalls, &ub, &ub.u_conn), 0);
    for (rounds = 0; rounds < 1000 && ub.u_rxlen < total; rounds++) {
        while (sent < total) {
            ssize_t n = rn__tcp_send(ua.u_conn, data + sent, total - sent);

            if (n <= 0)
                break;
            sent += (size_t)n;
        }
        run(P.now + RN_MSEC(50), bulk_done, &b);
        up_readable(&ub);
        had_sb |= ua.u_conn->t_sb != NULL;
    }
    assert_int_equal(ub.u_rxlen, total);
    assert_memory_equal(ub.u_rx, data, total);
    /* The sender held a SACK scoreboard while data was in flight, and gave
     * it back once everything was acknowledged: an idle connection keeps
     * none. */
    run(P.now + RN_MSEC(500), NULL, NULL);
    assert_true(had_sb);
    assert_int_equal(ua.u_conn->snd_una, ua.u_conn->snd_max);
    assert_null(ua.u_conn->t_sb);
    assert_null(ub.u_conn->t_sb);
    transfer_end(&ua, &ub, l, RN_SEC(70), data);
}

static void test_bulk_clean(void **state)
{
    (void)state;
    bulk(NULL, NULL, 10, 10u << 20);
}

static void test_bulk_faulty(void **state)
{
    /* Each end faults what it sends, so every frame meets one filter: one
     * flipped bit, which the Internet checksum always catches.  (Two
     * filters could flip two bits that cancel out in the ones' complement
     * sum, which no checksum of this strength can see.) */
    const char *faults = "drop=5%,reorder=5%,dup=5%,corrupt=5%,dir=tx,seed=";
    char ab[128], ba[128];
    uint64_t seed;
    unsigned runs = getenv("REFNET_TCP_SEEDS") ? (unsigned)atoi(getenv("REFNET_TCP_SEEDS")) : 100;

    (void)state;
    uint64_t first = getenv("REFNET_TCP_SEED0") ? (uint64_t)atoll(getenv("REFNET_TCP_SEED0")) : 100;

    for (seed = first; seed < first + runs; seed++) {
        snprintf(ab, sizeof(ab), "%s%llu", faults, (unsigned long long)seed);
        snprintf(ba, sizeof(ba), "%s%llu", faults, (unsigned long long)seed + 1000);
        bulk(ab, ba, seed, 10u << 20);
    }
}

static bool eof_both(void *ctx)
{
    const struct user *u = ctx;

    return u[0].u_eof && u[1].u_eof;
}

/* ---- Segments that must fit the path while recovering ---------------------- */

/* Loses data segments from A: the first one only (ctx: a count of those
 * still to lose), or every one while *ctx is UINT_MAX. */
static bool lose_a_data(const struct wire_seg *s, void *ctx)
{
    unsigned *left = ctx;

    if (!s->ws_from_a || s->ws_len == 0 || s->ws_proto != 6 || *left == 0)
        return false;
    if (*left != UINT_MAX)
        (*left)--;
    return true;
}

static void wire_pair(struct user *ua, struct user *ub, struct tcp_listener **l, uint64_t seed)
{
    struct pair_params pp = {.pp_seed = seed, .pp_layers = PAIR_TCP, .pp_wrap_a = wire_wrap};

    pair_up_with(&pp);
    *l = open_pair(5003, ua, ub);
}

/* B holds out-of-order data from A, so every segment B sends carries a
 * SACK block (RFC 2018) beside its timestamps.  B's data segments must
 * still fit the 1500-byte path: the block takes room from the payload.
 * A full-sized segment plus the block would be refused by IP (DF set)
 * and never reach the wire, again on every retransmission. */
static void test_sack_blocks_take_room_from_data(void **state)
{
    struct user ua = {.u_drain = true}, ub = {.u_drain = true};
    struct tcp_listener *l;
    uint8_t out[3 * 1448], back[2 * 1448];
    unsigned lose = 1, i, sacked = 0;

    (void)state;
    fill(out, sizeof(out), 5);
    fill(back, sizeof(back), 6);
    wire_pair(&ua, &ub, &l, 31);
    wire_drop(lose_a_data, &lose);
    assert_int_equal(rn__tcp_send(ua.u_conn, out, sizeof(out)), (ssize_t)sizeof(out));
    run_for(RN_MSEC(3));  /* B has the second and third segments, not the first */
    assert_int_equal(ub.u_rxlen, 0);
    assert_non_null(ub.u_conn->t_ooo);
    assert_int_equal(rn__tcp_send(ub.u_conn, back, sizeof(back)), (ssize_t)sizeof(back));
    run_for(RN_MSEC(5));  /* well before any timer resends */
    for (i = 0; i < wire_count(); i++) {
        const struct wire_seg *w = wire_at(i);

        if (!w->ws_from_a && w->ws_len > 0 && w->ws_nsacks > 0)
            sacked++;
    }
    assert_true(sacked > 0);
    assert_int_equal(ua.u_rxlen, sizeof(back));
    assert_memory_equal(ua.u_rx, back, sizeof(back));
    run_for(RN_SEC(2));
    assert_int_equal(ub.u_rxlen, sizeof(out));
    assert_memory_equal(ub.u_rx, out, sizeof(out));
    wire_drop(NULL, NULL);
    transfer_end(&ua, &ub, l, RN_SEC(70), NULL);
}

/* Loses every segment B sends while *ctx is true. */
static bool lose_b_while(const struct wire_seg *s, void *ctx)
{
    return !s->ws_from_a && s->ws_proto == 6 && *(bool *)ctx;
}

/* Segments go out referring to the send ring, not copies of it, until
 * the end of the pass.  A segment resent in a pass whose ACK comes in
 * the same pass, before the application writes into the space the ACK
 * freed, must still carry the bytes it was built from: the write sends
 * the pass's frames first.  Here the ring is exactly three segments, so
 * the new data lands on the resent segment's bytes. */
static void test_send_ring_changes_under_queued_frames(void **state)
{
    struct user ua = {.u_drain = true}, ub = {.u_drain = true};
    struct tcp_listener *l;
    uint8_t out[3 * 1448], more[1448];
    bool lose_b = true;
    const struct wire_seg *w = NULL;
    uint64_t flushes;
    struct tcp_conn *a;
    uint32_t x;
    unsigned i, from;

    (void)state;
    fill(out, sizeof(out), 21);
    fill(more, sizeof(more), 22);
    wire_pair(&ua, &ub, &l, 41);
    a = ua.u_conn;
    assert_true(a->t_offloads & RN_LINK_OFF_TX_REF);
    a->t_snd.sb_max = sizeof(out);  /* the ring: three segments */
    wire_drop(lose_b_while, &lose_b);
    assert_int_equal(rn__tcp_send(a, out, sizeof(out)), (ssize_t)sizeof(out));
    run_for(RN_MSEC(5));
    assert_int_equal(a->t_snd.sb_cap, sizeof(out));
    assert_int_equal(a->t_snd.sb_len, sizeof(out));
    x = a->snd_una;
    /* The first segment again, queued and referring to the ring... */
    from = wire_count();
    assert_int_equal(rn__tcp_send_segment(a, x, 1448, RN_TCP_ACK), 0);
    assert_true(rn__net_tx_refs(P.a) > 0);
    /* ...then its ACK, and new data into the space it freed. */
    inject_ack(a, x + 1448, a->ts_recent + 1);
    assert_int_equal(a->t_snd.sb_len, 2 * 1448);
    flushes = a->t_tcp->ts_ring_flushes;
    assert_int_equal(rn__tcp_send(a, more, sizeof(more)), (ssize_t)sizeof(more));
    run_for(RN_MSEC(1));
    for (i = from; i < wire_count() && w == NULL; i++)
        if (wire_at(i)->ws_from_a && wire_at(i)->ws_seq == x && wire_at(i)->ws_len == 1448)
            w = wire_at(i);
    assert_non_null(w);
    assert_memory_equal(w->ws_data, out, sizeof(w->ws_data));
    assert_int_equal(a->t_tcp->ts_ring_flushes, flushes + 1);
    /* The rest of the transfer sends no pass's frames early. */
    flushes = a->t_tcp->ts_ring_flushes;
    lose_b = false;
    run_for(RN_SEC(2));
    assert_int_equal(ub.u_rxlen, sizeof(out) + sizeof(more));
    assert_memory_equal(ub.u_rx, out, sizeof(out));
    assert_memory_equal(ub.u_rx + sizeof(out), more, sizeof(more));
    assert_int_equal(a->t_tcp->ts_ring_flushes, flushes);
    wire_drop(NULL, NULL);
    transfer_end(&ua, &ub, l, RN_SEC(70), NULL);
}

/* After a timeout A resends from snd_una while snd_nxt stays behind the
 * data it sent before.  Its ACKs of B's data must still carry the next new
 * byte's number: B's window starts past everything B has, and B must drop
 * an ACK numbered below it (RFC 9293 3.10.7.4), so with both ends resending
 * neither would ever hear the other's ACKs. */
static void test_ack_after_timeout_carries_snd_max(void **state)
{
    struct user ua = {.u_drain = true}, ub = {.u_drain = true};
    struct tcp_listener *l;
    uint8_t out[4 * 1448], back[100];
    unsigned lose = UINT_MAX, i, from;
    const struct wire_seg *ack = NULL;
    struct tcp_conn *a;

    (void)state;
    fill(out, sizeof(out), 7);
    fill(back, sizeof(back), 8);
    wire_pair(&ua, &ub, &l, 32);
    a = ua.u_conn;
    wire_drop(lose_a_data, &lose);
    assert_int_equal(rn__tcp_send(a, out, sizeof(out)), (ssize_t)sizeof(out));
    run_for(RN_MSEC(1500));  /* the timer resent from snd_una, at least once */
    assert_true(a->t_rxtshift > 0);
    assert_true(SEQ_LT(a->snd_nxt, a->snd_max));
    from = wire_count();
    assert_int_equal(rn__tcp_send(ub.u_conn, back, sizeof(back)), (ssize_t)sizeof(back));
    run_for(RN_MSEC(100));
    assert_int_equal(ua.u_rxlen, sizeof(back));
    for (i = from; i < wire_count() && ack == NULL; i++) {
        const struct wire_seg *w = wire_at(i);

        if (w->ws_from_a && w->ws_proto == 6 && w->ws_len == 0 &&
            w->ws_ack == ub.u_conn->snd_max && !(w->ws_flags & (RN_TCP_SYN | RN_TCP_FIN)))
            ack = w;
    }
    assert_non_null(ack);
    assert_int_equal(ack->ws_seq, a->snd_max);
    wire_drop(NULL, NULL);
    run_for(RN_SEC(10));
    assert_int_equal(ub.u_rxlen, sizeof(out));
    assert_memory_equal(ub.u_rx, out, sizeof(out));
    transfer_end(&ua, &ub, l, RN_SEC(70), NULL);
}

/* Loses the first SYN (ctx points to false) or the first SYN+ACK (true). */
static bool lose_first_syn(const struct wire_seg *s, void *ctx)
{
    bool *synack = ctx;
    static bool lost[2];

    if (ctx == NULL) {
        lost[0] = lost[1] = false;
        return false;
    }
    if (s->ws_proto != 6 || !(s->ws_flags & RN_TCP_SYN) ||
        ((s->ws_flags & RN_TCP_ACK) != 0) != *synack || lost[*synack])
        return false;
    lost[*synack] = true;
    return true;
}

/* Data segments one side sent from index from on, before the first
 * segment from the other side that acknowledges any of them. */
static unsigned first_flight(unsigned from, bool from_a)
{
    unsigned i, n = 0;
    uint32_t first = 0;

    for (i = from; i < wire_count(); i++) {
        const struct wire_seg *w = wire_at(i);

        if (w->ws_proto != 6)
            continue;
        if (w->ws_from_a == from_a && w->ws_len > 0) {
            if (n++ == 0)
                first = w->ws_seq;
        } else if (w->ws_from_a != from_a && n > 0 && SEQ_GT(w->ws_ack, first)) {
            break;
        }
    }
    return n;
}

/* A SYN or SYN+ACK that had to be resent: the side that resent it starts
 * with a window of one segment (RFC 5681 3.1, RFC 6928 2), still in slow
 * start, which then doubles it each round trip as usual. */
static void syn_loss_case(bool synack)
{
    struct user ua = {.u_drain = true}, ub = {.u_drain = true}, lu = {0};
    struct tcp_listener *l;
    struct pair_params pp = {.pp_seed = 33, .pp_layers = PAIR_TCP, .pp_wrap_a = wire_wrap};
    static uint8_t out[40 * 1448];
    struct tcp_conn *sender;
    struct user *rx;
    unsigned from;

    fill(out, sizeof(out), 9);
    pair_up_with(&pp);
    lose_first_syn(NULL, NULL);
    wire_drop(lose_first_syn, &synack);
    assert_int_equal(rn__tcp_listen(P.b, 0, 5004, 16, &upcalls, &lu, &l), 0);
    assert_int_equal(rn__tcp_connect(P.a, 0, 0, ADDR_B, 5004, &upcalls, &ua, &ua.u_conn), 0);
    rn_ob_ref(ua.u_conn, RN_TAG_SOCKET_ENDPOINT);
    run(P.now + RN_SEC(10), open_done, &lu);
    assert_int_equal(ua.u_connected, 1);
    assert_int_equal(rn__tcp_accept(l, RN_TAG_SOCKET_ENDPOINT, &upcalls, &ub, &ub.u_conn), 0);
    run_for(RN_MSEC(10));
    sender = synack ? ub.u_conn : ua.u_conn;
    rx = synack ? &ua : &ub;
    assert_true(sender->t_retransmits > 0);
    assert_int_equal(sender->snd_cwnd, sender->t_maxseg);
    assert_true(sender->snd_ssthresh > 64 * sender->t_maxseg);
    from = wire_count();
    assert_int_equal(rn__tcp_send(sender, out, sizeof(out)), (ssize_t)sizeof(out));
    run_for(RN_SEC(1));
    assert_int_equal(first_flight(from, !synack), 1);
    assert_int_equal(rx->u_rxlen, sizeof(out));
    assert_memory_equal(rx->u_rx, out, sizeof(out));
    /* Slow start, not congestion avoidance: 40 segments took a handful
     * of round trips and left a window well past where it began. */
    assert_true(sender->snd_cwnd >= 16 * sender->t_maxseg);
    wire_drop(NULL, NULL);
    transfer_end(&ua, &ub, l, RN_SEC(70), NULL);
}

static void test_lost_syn_gives_window_of_one(void **state)
{
    (void)state;
    syn_loss_case(false);
    syn_loss_case(true);
}

/* ---- CUBIC (RFC 9438) ------------------------------------------------------ */

static void use_cubic(void)
{
    assert_int_equal(rn_tcp_setting_set(P.a, "tcp.congestion", "cubic"), 0);
    assert_int_equal(rn_tcp_setting_set(P.b, "tcp.congestion", "cubic"), 0);
}

/* W_cubic(t) of RFC 9438 4.2 in segments, for a reduction from w_max. */
static double cubic_curve(double t, double w_max)
{
    double k = cbrt(w_max * (1 - 0.7) / 0.4);

    return 0.4 * (t - k) * (t - k) * (t - k) + w_max;
}

/* After a loss at a window of 100 segments, CUBIC keeps 70 (beta 0.7) and
 * then follows its curve, driven here by ACKs of the whole window each
 * 100 ms round trip: concave up to 100 segments at K = cbrt(75) s, flat
 * there, then convex beyond; Reno's estimate stays below it throughout.
 * A second loss before the window got back to 100 remembers less than
 * the window (fast convergence, RFC 9438 4.7). */
static void test_cubic_follows_its_curve(void **state)
{
    struct user ua = {0}, ub = {0};
    struct tcp_listener *l;
    struct tcp_conn *c;
    uint32_t mss;
    rn_time_t start;
    double k = cbrt(75.0), at[3] = {1.0, k, 2 * k};
    int i, next = 0;

    (void)state;
    setup_pair(NULL, NULL, 41);
    use_cubic();
    l = open_pair(5005, &ua, &ub);
    c = ua.u_conn;
    assert_string_equal(c->t_cc->cc_name, "cubic");
    mss = c->t_maxseg;
    c->t_srtt = RN_MSEC(100);
    c->snd_cwnd = 100 * mss;
    c->snd_ssthresh = 50 * mss;
    rn__tcp_cc_rto(c);  /* the congestion event */
    assert_int_equal(c->snd_cwnd, mss);
    assert_in_range(c->snd_ssthresh, 70 * mss - 1, 70 * mss);
    c->snd_cwnd = c->snd_ssthresh;  /* as recovery would leave it */
    start = P.now;
    for (i = 0; next < 3; i++) {
        double t = (double)(P.now - start) / RN_NSEC_PER_SEC, want, got;

        rn__tcp_cc_ack(c, 10 * mss);
        run_for(RN_MSEC(100) / 7);
        if (t < at[next])
            continue;
        want = cubic_curve(t + 0.1, 100);
        got = (double)c->snd_cwnd / mss;
        if (got < want - 4 || got > want + 4)
            fail_msg("at %.2f s: a window of %.1f segments, the curve says %.1f", t, got, want);
        next++;
    }
    assert_true(c->snd_cwnd > 120 * mss);
    /* A loss at 90 segments, short of the last maximum of 100: W_max is
     * 90 (1 + beta) / 2 = 76.5, to leave room to a newcomer. */
    c->snd_cwnd = 90 * mss;
    c->t_rxtshift = 0;
    rn__tcp_cc_rto(c);
    assert_in_range(c->t_cubic.cu_w_max, 76 * mss, 77 * mss);
    assert_in_range(c->snd_ssthresh, 63 * mss - 1, 63 * mss);
    transfer_end(&ua, &ub, l, RN_SEC(70), NULL);
}

/* Rounds of slow start for HyStart++, driven by hand: each round sends a
 * window and has every segment acknowledged with the round trip time the
 * rtt function gives for the round.  Returns the round in which slow
 * start ended (ssthresh set), or rounds if it did not. */
static int hystart_rounds(struct tcp_conn *c, int rounds, rn_time_t (*rtt)(int round),
                          uint32_t *grew)
{
    uint32_t mss = c->t_maxseg, una = c->snd_una;
    int r;

    for (r = 0; r < rounds; r++) {
        uint32_t segs = c->snd_cwnd / mss, before = c->snd_cwnd, i;

        c->snd_max += segs * mss;
        for (i = 0; i < segs; i++) {
            c->snd_una += mss;
            c->t_last_rtt = rtt(r);
            rn__tcp_cc_ack(c, mss);
        }
        grew[r] = c->snd_cwnd - before;
        if (c->snd_ssthresh != (1u << 30))
            break;
    }
    c->snd_una = c->snd_nxt = c->snd_max = una;
    return r;
}

static rn_time_t rtt_flat(int round)
{
    (void)round;
    return RN_MSEC(10);
}

static rn_time_t rtt_rising(int round)
{
    return round < 3 ? RN_MSEC(10) : RN_MSEC(30);
}

/* HyStart++ (RFC 9406): while the round trip stays flat, slow start
 * doubles the window each round; once it rises by more than the threshold
 * (here 20 ms over 10), conservative slow start grows a quarter as fast,
 * and after five rounds of it congestion avoidance takes over, with no
 * loss at all. */
static void test_cubic_hystart(void **state)
{
    struct user ua = {0}, ub = {0};
    struct tcp_listener *l;
    struct tcp_conn *c;
    uint32_t grew[16], iw;
    int end;

    (void)state;
    setup_pair(NULL, NULL, 42);
    use_cubic();
    l = open_pair(5006, &ua, &ub);
    c = ua.u_conn;
    iw = c->snd_cwnd;
    assert_int_equal(hystart_rounds(c, 8, rtt_flat, grew), 8);
    assert_int_equal(c->snd_ssthresh, 1u << 30);
    assert_int_equal(grew[5], iw << 5);  /* still doubling */
    c->snd_cwnd = iw;
    c->t_cubic = (struct tcp_cubic){.hs_round_end = c->snd_max};
    end = hystart_rounds(c, 16, rtt_rising, grew);
    assert_true(end >= 8 && end <= 10);
    /* Set to the window of the round's start; the round's later ACKs
     * grew it in congestion avoidance. */
    assert_true(c->snd_ssthresh != (1u << 30) && c->snd_ssthresh <= c->snd_cwnd);
    assert_int_equal(grew[2], iw << 2);  /* slow start before the rise */
    assert_true(grew[4] * 3 < (iw << 4));  /* conservative after it */
    transfer_end(&ua, &ub, l, RN_SEC(70), NULL);
}

/* CUBIC through the faulty cable: every byte arrives, in order. */
static void test_cubic_bulk_faulty(void **state)
{
    const char *faults = "drop=5%,reorder=5%,dup=5%,corrupt=5%,dir=tx,seed=";
    char ab[128], ba[128];
    uint64_t seed;

    (void)state;
    for (seed = 300; seed < 320; seed++) {
        snprintf(ab, sizeof(ab), "%s%llu", faults, (unsigned long long)seed);
        snprintf(ba, sizeof(ba), "%s%llu", faults, (unsigned long long)seed + 1000);
        cubic_next = true;
        bulk(ab, ba, seed, 10u << 20);
    }
}

/* ---- D-SACK (RFC 2883) and undo ---------------------------------------------- */

/* Loses B's pure ACKs until A resends something already sent. */
struct ack_loss {
    uint32_t a_high;     /* the highest end of A's data seen */
    bool a_resent;       /* A resent: B's ACKs pass again */
    bool started;
};

static bool lose_b_acks_until_resend(const struct wire_seg *s, void *ctx)
{
    struct ack_loss *al = ctx;

    if (s->ws_proto != 6 || (s->ws_flags & RN_TCP_SYN))
        return false;
    if (s->ws_from_a && s->ws_len > 0) {
        if (al->started && SEQ_LT(s->ws_seq, al->a_high))
            al->a_resent = true;
        if (!al->started || SEQ_GT(s->ws_seq + s->ws_len, al->a_high))
            al->a_high = s->ws_seq + s->ws_len;
        al->started = true;
        return false;
    }
    return !s->ws_from_a && s->ws_len == 0 && !al->a_resent;
}

/* B's ACKs of A's first segment are lost, so A's timer fires and resends
 * data B has: B reports the duplicate in a D-SACK block (its first, below
 * the cumulative ACK), and A, seeing every retransmission of the episode
 * reported so, takes back the reduction (RFC 2883 and RFC 3708): the
 * window and threshold from before the timeout. */
static void test_dsack_undoes_a_needless_timeout(void **state)
{
    struct user ua = {.u_drain = true}, ub = {.u_drain = true};
    struct tcp_listener *l;
    uint8_t out[1000];
    struct ack_loss al = {0};
    struct tcp_conn *a;
    uint32_t cwnd;
    unsigned i, dsacks = 0;

    (void)state;
    /* One segment, so that no tail loss probe comes before the timer. */
    fill(out, sizeof(out), 12);
    wire_pair(&ua, &ub, &l, 34);
    a = ua.u_conn;
    cwnd = a->snd_cwnd;
    wire_drop(lose_b_acks_until_resend, &al);
    assert_int_equal(rn__tcp_send(a, out, sizeof(out)), (ssize_t)sizeof(out));
    run_for(RN_SEC(2));
    assert_true(al.a_resent);
    assert_int_equal(ub.u_rxlen, sizeof(out));
    assert_null(ub.u_conn->t_ooo);
    for (i = 0; i < wire_count(); i++) {
        const struct wire_seg *w = wire_at(i);

        if (!w->ws_from_a && !w->ws_dropped && w->ws_nsacks > 0)
            dsacks++;  /* nothing out of order at B: only a D-SACK */
    }
    assert_true(dsacks > 0);
    assert_true(a->t_tcp->ts_timeouts > 0);
    assert_int_equal(a->t_tcp->ts_undos, 1);
    assert_true(a->snd_cwnd >= cwnd);
    assert_int_equal(a->snd_ssthresh, 1u << 30);
    wire_drop(NULL, NULL);
    transfer_end(&ua, &ub, l, RN_SEC(70), NULL);
}

/* ---- ECN (RFC 3168) -------------------------------------------------------- */

/* A link filter under the wire recorder on A's end: marks the next
 * ce_left ECT data segments A sends CE, as a congested router would. */
static unsigned ce_left;

static int ce_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t t)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        uint8_t ip[20];
        uint16_t sum;
        size_t ihl;

        if (ce_left == 0 || rn_nb_copyout(pkts[i], RN_ETH_HLEN, ip, sizeof(ip)) < 0 ||
            ip[9] != 6 || (ip[1] & 3) != RN_IP_ECN_ECT0)
            continue;
        ihl = (size_t)(ip[0] & 15) * 4;
        if (((size_t)ip[2] << 8 | ip[3]) <= ihl + 20)
            continue;
        ip[1] |= RN_IP_ECN_CE;
        ip[10] = ip[11] = 0;
        sum = rn_csum_fold(rn__csum_partial(ip, sizeof(ip), 0));
        ip[10] = (uint8_t)(sum >> 8);
        ip[11] = (uint8_t)sum;
        rn_nb_copyin(pkts[i], RN_ETH_HLEN, ip, sizeof(ip));
        ce_left--;
    }
    return rn_link_tx(link->lk_lower, pkts, n, t);
}

static int ce_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t t)
{
    return rn_link_rx(link->lk_lower, pkts, max, t);
}

static void ce_close(struct rn_link *link)
{
    rn_link_close(link->lk_lower);
    free(link);
}

static const struct rn_link_ops ce_ops = {
    .kind = "ce-mark",
    .tx = ce_tx,
    .rx = ce_rx,
    .close = ce_close,
};

static struct rn_link *wrap_ce_and_wire(struct rn_link *end)
{
    struct rn_link *ce = calloc(1, sizeof(*ce));

    assert_non_null(ce);
    rn_link_init(ce, &ce_ops, end, "ce-mark");
    ce_left = 0;
    return wire_wrap(ce);
}

/* A pair whose stacks have tcp.ecn ea and eb, recorded on A's end. */
static struct tcp_listener *ecn_pair(unsigned ea, unsigned eb, struct user *ua, struct user *ub)
{
    struct pair_params pp = {.pp_seed = 51, .pp_layers = PAIR_TCP, .pp_wrap_a = wrap_ce_and_wire};
    char v[4];

    pair_up_with(&pp);
    snprintf(v, sizeof(v), "%u", ea);
    assert_int_equal(rn_tcp_setting_set(P.a, "tcp.ecn", v), 0);
    snprintf(v, sizeof(v), "%u", eb);
    assert_int_equal(rn_tcp_setting_set(P.b, "tcp.ecn", v), 0);
    return open_pair(5007, ua, ub);
}

/* RFC 3168 6.1.1: A's SYN asks (ECE and CWR) only with tcp.ecn 1; B
 * agrees (ECE alone on its SYN+ACK) unless its tcp.ecn is 0.  Agreed, the
 * data goes out ECT(0) and ACKs do not; not agreed, nothing is marked. */
static void test_ecn_negotiation(void **state)
{
    static const unsigned cases[][3] = {
        {1, 2, 1}, {1, 1, 1}, {2, 2, 0}, {1, 0, 0}, {0, 1, 0}, {2, 1, 0},
    };
    uint8_t out[3000];
    size_t k;

    (void)state;
    fill(out, sizeof(out), 10);
    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct user ua = {.u_drain = true}, ub = {.u_drain = true};
        struct tcp_listener *l = ecn_pair(cases[k][0], cases[k][1], &ua, &ub);
        const struct wire_seg *syn = wire_find(0, true, RN_TCP_SYN, RN_TCP_ACK, false);
        const struct wire_seg *synack = wire_find(0, false, RN_TCP_SYN | RN_TCP_ACK, 0, false);
        bool agreed = cases[k][2] != 0;
        unsigned i, data = 0;

        assert_non_null(syn);
        assert_non_null(synack);
        assert_int_equal((syn->ws_flags & (RN_TCP_ECE | RN_TCP_CWR)) != 0, cases[k][0] == 1);
        assert_int_equal((synack->ws_flags & (RN_TCP_ECE | RN_TCP_CWR)),
                         agreed ? RN_TCP_ECE : 0);
        assert_int_equal((ua.u_conn->t_ecn & TCP_ECN_OK) != 0, agreed);
        assert_int_equal((ub.u_conn->t_ecn & TCP_ECN_OK) != 0, agreed);
        assert_int_equal(rn__tcp_send(ua.u_conn, out, sizeof(out)), (ssize_t)sizeof(out));
        run_for(RN_MSEC(100));
        assert_int_equal(ub.u_rxlen, sizeof(out));
        for (i = 0; i < wire_count(); i++) {
            const struct wire_seg *w = wire_at(i);

            if (w->ws_proto != 6 || (w->ws_flags & RN_TCP_SYN))
                continue;
            if (w->ws_from_a && w->ws_len > 0) {
                data++;
                assert_int_equal(w->ws_tos & RN_IP_ECN_MASK, agreed ? RN_IP_ECN_ECT0 : 0);
            } else {
                assert_int_equal(w->ws_tos & RN_IP_ECN_MASK, 0);
            }
        }
        assert_true(data >= 3);
        transfer_end(&ua, &ub, l, RN_SEC(70), NULL);
    }
}

/* RFC 3168 6.1.2 and 6.1.3: a CE mark on A's data makes B set ECE on its
 * ACKs; A reduces its window once (NewReno: half the flight) without
 * resending anything, marks its next new data CWR, and B stops echoing. */
static void test_ecn_congestion_mark(void **state)
{
    struct user ua = {.u_drain = true}, ub = {.u_drain = true};
    struct tcp_listener *l = NULL;
    static uint8_t out[40 * 1448];
    unsigned i, ece = 0, cwr_at = 0, last_b = 0;
    struct tcp_conn *a;
    uint64_t rxt;

    (void)state;
    fill(out, sizeof(out), 11);
    l = ecn_pair(1, 2, &ua, &ub);
    a = ua.u_conn;
    rxt = a->t_retransmits;
    assert_int_equal(a->snd_ssthresh, 1u << 30);
    ce_left = 1;
    assert_int_equal(rn__tcp_send(a, out, sizeof(out)), (ssize_t)sizeof(out));
    run_for(RN_MSEC(200));
    assert_int_equal(ub.u_rxlen, sizeof(out));
    assert_memory_equal(ub.u_rx, out, sizeof(out));
    assert_int_equal(ce_left, 0);
    for (i = 0; i < wire_count(); i++) {
        const struct wire_seg *w = wire_at(i);

        if (w->ws_proto != 6 || (w->ws_flags & RN_TCP_SYN))
            continue;
        if (!w->ws_from_a) {
            last_b = i;
            if (w->ws_flags & RN_TCP_ECE)
                ece++;
        } else if ((w->ws_flags & RN_TCP_CWR) && cwr_at == 0) {
            cwr_at = i;
            assert_true(w->ws_len > 0);
            assert_true(ece > 0);  /* CWR answers an ECE already seen */
        }
    }
    assert_true(ece > 0);
    assert_true(cwr_at > 0);
    assert_false(wire_at(last_b)->ws_flags & RN_TCP_ECE);  /* B stopped after CWR */
    assert_int_equal(a->t_tcp->ts_ecn_reductions, 1);
    assert_true(a->snd_ssthresh < (1u << 30));
    assert_int_equal(a->t_retransmits, rxt);  /* a mark is no loss: nothing resent */
    transfer_end(&ua, &ub, l, RN_SEC(70), NULL);
}

/* ---- Both ways at once, replayed from the seed --------------------------- */

/* A link filter on A's end that folds every frame A sends and receives
 * into one hash: its time, its length and its first bytes (Ethernet, IP
 * and TCP headers with options, whose checksum covers the payload).  Two
 * runs of one seed must give the same hash: the same capture. */
struct replay_hash {
    struct rn_link rh_link;
    uint64_t rh_hash;
    uint64_t rh_frames;
};

static struct replay_hash *replay;  /* the filter wrap_replay() put on A */

static void rh_fold(struct replay_hash *rh, const struct rn_netbuf *nb, rn_time_t t, uint8_t dir)
{
    uint8_t buf[96];
    size_t n = nb->nb_pktlen < sizeof(buf) ? nb->nb_pktlen : sizeof(buf), i;
    uint64_t h = rh->rh_hash, words[3] = {t, nb->nb_pktlen, dir};

    rn_nb_copyout(nb, 0, buf, n);
    for (i = 0; i < 3; i++)
        h = (h ^ words[i]) * 0x100000001b3ull;
    for (i = 0; i < n; i++)
        h = (h ^ buf[i]) * 0x100000001b3ull;
    rh->rh_hash = h;
    rh->rh_frames++;
}

static int rh_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t t)
{
    unsigned i;

    for (i = 0; i < n; i++)
        rh_fold((struct replay_hash *)link, pkts[i], t, 1);
    return rn_link_tx(link->lk_lower, pkts, n, t);
}

static int rh_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t t)
{
    int n = rn_link_rx(link->lk_lower, pkts, max, t), i;

    for (i = 0; i < n; i++)
        rh_fold((struct replay_hash *)link, pkts[i], t, 2);
    return n;
}

static void rh_close(struct rn_link *link)
{
    rn_link_close(link->lk_lower);
    if (replay == (struct replay_hash *)link)
        replay = NULL;
    free(link);
}

static const struct rn_link_ops rh_ops = {
    .kind = "replay-hash",
    .tx = rh_tx,
    .rx = rh_rx,
    .close = rh_close,
};

static struct rn_link *wrap_replay(struct rn_link *end)
{
    replay = calloc(1, sizeof(*replay));
    assert_non_null(replay);
    replay->rh_hash = 0xcbf29ce484222325ull;
    rn_link_init(&replay->rh_link, &rh_ops, end, "replay-hash");
    return &replay->rh_link;
}

static bool both_done(void *ctx)
{
    const struct user *u = ctx;
    size_t total = u[0].u_txlen;

    return u[0].u_rxlen >= total && u[1].u_rxlen >= total;
}

/* Where a stall leaves the sender of one direction, for the message. */
static void stall_report(const char *name, const struct tcp_conn *c)
{
    if (c == NULL)
        return;
    fprintf(stderr,
            "  %s: state %d snd_una %u snd_nxt %u snd_max %u unsent+unacked %u cwnd %u "
            "ssthresh %u snd_wnd %u rxtshift %u dupacks %u flags %#x persist %d rexmt %d\n",
            name, (int)tcp_state(c), c->snd_una - c->iss, c->snd_nxt - c->iss,
            c->snd_max - c->iss, c->t_snd.sb_len, c->snd_cwnd, c->snd_ssthresh, c->snd_wnd,
            c->t_rxtshift, c->t_dupacks, (unsigned)c->t_flags, (int)c->t_persist,
            (int)tcp_timer_armed(c, TCP_T_REXMT));
}

/* total bytes each way at once between A and B through faults that
 * drop, reorder, duplicate and corrupt 5% of the frames each way, on a
 * cable with offloads on or off; checks both streams byte for byte and
 * that no direction ever stops making progress for two minutes.  Returns
 * the hash of A's capture. */
static uint64_t bulk_both(uint64_t seed, bool offloads, size_t total)
{
    /* Offloads on: the faults act on what each end receives, after the
     * cable, so that the sender's TSO and checksum offload stay on (a
     * filter that corrupts what it sends must have the stack checksum
     * it).  Each frame still meets exactly one filter. */
    const char *faults = offloads ? "drop=5%,reorder=5%,dup=5%,corrupt=5%,dir=rx,seed="
                                  : "drop=5%,reorder=5%,dup=5%,corrupt=5%,dir=tx,seed=";
    char fa[128], fb[128];
    struct user u[2] = {{.u_drain = true}, {.u_drain = true}};
    struct tcp_listener *l;
    uint8_t *data_a = malloc(total), *data_b = malloc(total);
    struct pair_params pp = {
        .pp_seed = seed,
        .pp_layers = PAIR_TCP,
        .pp_limit = 4096,
        .pp_fault_ab = fa,
        .pp_fault_ba = fb,
        .pp_offloads = offloads,
        .pp_wrap_a = wrap_replay,
    };
    size_t moved = 0;
    rn_time_t last = 0;
    bool shut[2] = {false, false};
    uint64_t hash;
    int i;

    snprintf(fa, sizeof(fa), "%s%llu", faults, (unsigned long long)seed);
    snprintf(fb, sizeof(fb), "%s%llu", faults, (unsigned long long)seed + 1000);
    fill(data_a, total, (uint32_t)seed);
    fill(data_b, total, (uint32_t)seed ^ 0x5a5a5a5au);
    pair_up_with(&pp);
    l = open_pair(5002, &u[0], &u[1]);
    u[0].u_tx = data_a;
    u[1].u_tx = data_b;
    u[0].u_txlen = u[1].u_txlen = total;
    if (offloads)
        assert_true(u[0].u_conn->t_offloads & RN_LINK_OFF_TSO);
    last = P.now;
    while (!both_done(u)) {
        for (i = 0; i < 2; i++) {
            user_push(&u[i]);
            if (!shut[i] && u[i].u_txdone == total) {
                rn__tcp_shutdown(u[i].u_conn, RN_SHUT_WR);
                shut[i] = true;
            }
        }
        run(P.now + RN_MSEC(200), both_done, u);
        if (u[0].u_error != 0 || u[1].u_error != 0)
            fail_msg("seed %llu offloads %d: connection failed (a %d, b %d)",
                     (unsigned long long)seed, offloads, u[0].u_error, u[1].u_error);
        if (u[0].u_rxlen + u[1].u_rxlen != moved) {
            moved = u[0].u_rxlen + u[1].u_rxlen;
            last = P.now;
        } else if (P.now - last > RN_SEC(120)) {
            struct rn_strbuf sb = RN_STRBUF_INIT;

            stall_report("a", u[0].u_conn);
            stall_report("b", u[1].u_conn);
            rn__render_stats(P.a, &sb, false);
            rn__render_stats(P.b, &sb, false);
            fprintf(stderr, "%s", rn_strbuf_str(&sb));
            rn_strbuf_free(&sb);
            fail_msg("seed %llu offloads %d: stalled, a has %zu and b %zu of %zu",
                     (unsigned long long)seed, offloads, u[0].u_rxlen, u[1].u_rxlen, total);
        }
    }
    for (i = 0; i < 2; i++) {
        const uint8_t *want = i == 1 ? data_a : data_b;
        size_t k;

        for (k = 0; k < total && k < u[i].u_rxlen && u[i].u_rx[k] == want[k]; k++)
            ;
        if (u[i].u_rxlen != total)
            fail_msg("seed %llu offloads %d: %s got %zu bytes of %zu, the same up to %zu",
                     (unsigned long long)seed, offloads, i == 0 ? "a" : "b", u[i].u_rxlen, total,
                     k);
        if (k < total)
            fail_msg("seed %llu offloads %d: %s's data differ from byte %zu of %zu",
                     (unsigned long long)seed, offloads, i == 0 ? "a" : "b", k, total);
    }
    /* Both sides see the other's FIN, then close. */
    for (i = 0; i < 2; i++) {
        if (!shut[i])
            rn__tcp_shutdown(u[i].u_conn, RN_SHUT_WR);
    }
    run(P.now + RN_SEC(60), eof_both, u);
    assert_true(u[0].u_eof && u[1].u_eof);
    hash = replay->rh_hash ^ replay->rh_frames;
    user_close(&u[0], false);
    user_close(&u[1], false);
    rn__tcp_listener_close(l);
    run_for(RN_SEC(120));
    free(data_a);
    free(data_b);
    user_free(&u[0]);
    user_free(&u[1]);
    pair_down();
    return hash;
}

/* Seeds of bulk_both(), both with offloads and without, each run twice:
 * the second run must leave the same capture as the first. */
static void test_bulk_both_ways_faulty(void **state)
{
    unsigned runs = getenv("REFNET_TCP_SEEDS") ? (unsigned)atoi(getenv("REFNET_TCP_SEEDS")) : 100;
    uint64_t first = getenv("REFNET_TCP_SEED0") ? (uint64_t)atoll(getenv("REFNET_TCP_SEED0")) : 100;
    uint64_t seed;

    (void)state;
    for (seed = first; seed < first + runs; seed++) {
        for (int off = 0; off < 2; off++) {
            uint64_t h1 = bulk_both(seed, off != 0, 10u << 20);
            uint64_t h2 = bulk_both(seed, off != 0, 10u << 20);

            if (h1 != h2)
                fail_msg("seed %llu offloads %d: a second run left another capture",
                         (unsigned long long)seed, off);
        }
    }
}

/* Listeners keyed by struct rn_inaddr: a SYN to an address finds the
 * listener of that address, then the wildcard of its family, then (for
 * IPv4) a dual-stack one on ::; a V6ONLY :: takes no IPv4 and leaves the
 * IPv4 wildcard free; ports overlap across families only through a
 * dual-stack ::.  No traffic: the tables alone. */
static void test_listener_lookup_both_families(void **state)
{
    struct tcp_uopts v6only = {.uo_flags = UO_V6ONLY};
    struct tcp_listener *l4any, *l6only, *ldual, *l4spec, *l6spec;
    struct rn_inaddr any4 = rn_inaddr_v4(0), any6 = rn_inaddr_v6(&RN_IP6_ANY);
    struct rn_inaddr a4 = rn_inaddr_v4(ADDR_B), peer4 = rn_inaddr_v4(ADDR_A), a6, peer6, other6;
    struct tcp_stack *ts;
    struct user lu = {0};

    (void)state;
    assert_int_equal(rn_ip6_addr_parse("2001:2::3", &a6.ia_ip6, NULL), 0);
    assert_int_equal(rn_ip6_addr_parse("2001:2::2", &peer6.ia_ip6, NULL), 0);
    assert_int_equal(rn_ip6_addr_parse("2001:2::9", &other6.ia_ip6, NULL), 0);
    {
        struct pair_params pp = {.pp_layers = PAIR_TCP, .pp_ipv6 = true};

        pair_up_with(&pp);
    }
    ts = rn__tcp_stack(P.b);
    /* Port 80: the IPv4 wildcard, and :: V6ONLY beside it. */
    assert_int_equal(rn__tcp_listen_opts(P.b, any4, 80, 4, NULL, &upcalls, &lu, &l4any), 0);
    assert_int_equal(rn__tcp_listen_opts(P.b, any6, 80, 4, &v6only, &upcalls, &lu, &l6only), 0);
    assert_ptr_equal(rn__tcp_lookup_listener(ts, a4, 80, peer4, 1000), l4any);
    assert_ptr_equal(rn__tcp_lookup_listener(ts, a6, 80, peer6, 1000), l6only);
    /* A dual-stack :: on 80 overlaps both. */
    assert_int_equal(rn__tcp_listen_opts(P.b, any6, 80, 4, NULL, &upcalls, &lu, &ldual),
                     RN_EADDRINUSE);
    /* Port 81: dual-stack ::, then specific addresses of both families. */
    assert_int_equal(rn__tcp_listen_opts(P.b, any6, 81, 4, NULL, &upcalls, &lu, &ldual), 0);
    assert_int_equal(rn__tcp_listen_opts(P.b, any4, 81, 4, NULL, &upcalls, &lu, &l4spec),
                     RN_EADDRINUSE);
    assert_ptr_equal(rn__tcp_lookup_listener(ts, a4, 81, peer4, 1000), ldual);
    assert_ptr_equal(rn__tcp_lookup_listener(ts, a6, 81, peer6, 1000), ldual);
    assert_int_equal(rn__tcp_listen_opts(P.b, a4, 82, 4, NULL, &upcalls, &lu, &l4spec), 0);
    assert_int_equal(rn__tcp_listen_opts(P.b, a6, 82, 4, NULL, &upcalls, &lu, &l6spec), 0);
    assert_ptr_equal(rn__tcp_lookup_listener(ts, a4, 82, peer4, 1000), l4spec);
    assert_ptr_equal(rn__tcp_lookup_listener(ts, a6, 82, peer6, 1000), l6spec);
    assert_null(rn__tcp_lookup_listener(ts, other6, 82, peer6, 1000));
    /* An address the stack does not hold cannot be listened on. */
    assert_int_equal(rn__tcp_listen_opts(P.b, other6, 83, 4, NULL, &upcalls, &lu, &l4spec),
                     RN_EADDRNOTAVAIL);
    rn__tcp_listener_close(l4any);
    rn__tcp_listener_close(l6only);
    rn__tcp_listener_close(ldual);
    rn__tcp_listener_close(rn__tcp_lookup_listener(ts, a4, 82, peer4, 1000));
    rn__tcp_listener_close(l6spec);
    pair_down();
    check_live_objects(0);
}

/* TCP over IPv6 on a cable that cuts segments (TSO over IPv6): the
 * connection claims TSO, 4 MiB cross exact, and in far fewer frames than
 * the 2,900 segments of a 1,440-byte MSS they make. */
static void test_bulk_ipv6_tso(void **state)
{
    const size_t total = 4u << 20;
    struct pair_params pp = {.pp_layers = PAIR_TCP, .pp_ipv6 = true, .pp_offloads = true};
    struct user ua = {0}, ub = {.u_drain = true};
    struct rn_inaddr any6 = rn_inaddr_v6(&RN_IP6_ANY), b6;
    struct bulk b = {&ub, total};
    struct rn_link_stats before, after;
    struct tcp_listener *l;
    uint8_t *data = malloc(total);
    size_t sent = 0;
    static struct user lu;

    (void)state;
    assert_non_null(data);
    fill(data, total, 6);
    assert_int_equal(rn_ip6_addr_parse(ADDR6_B, &b6.ia_ip6, NULL), 0);
    pair_up_with(&pp);
    memset(&lu, 0, sizeof(lu));
    assert_int_equal(rn__tcp_listen_opts(P.b, any6, 5006, 4, NULL, &upcalls, &lu, &l), 0);
    assert_int_equal(rn__tcp_connect_opts(P.a, any6, 0, b6, 5006, NULL, &upcalls, &ua, &ua.u_conn),
                     0);
    rn_ob_ref(ua.u_conn, RN_TAG_SOCKET_ENDPOINT);
    run(P.now + RN_SEC(10), open_done, &lu);
    assert_int_equal(ua.u_connected, 1);
    assert_int_equal(rn__tcp_accept(l, RN_TAG_SOCKET_ENDPOINT, &upcalls, &ub, &ub.u_conn), 0);
    assert_true(ua.u_conn->t_offloads & RN_LINK_OFF_TSO);
    rn_link_stats(rn_iface_link(P.ifa), &before);
    while (ub.u_rxlen < total && P.now < RN_SEC(600)) {
        while (sent < total) {
            ssize_t n = rn__tcp_send(ua.u_conn, data + sent, total - sent);

            if (n <= 0)
                break;
            sent += (size_t)n;
        }
        run(P.now + RN_MSEC(200), bulk_done, &b);
        assert_int_equal(ua.u_error, 0);
        assert_int_equal(ub.u_error, 0);
    }
    rn_link_stats(rn_iface_link(P.ifa), &after);
    assert_int_equal(ub.u_rxlen, total);
    assert_memory_equal(ub.u_rx, data, total);
    if (after.ls_tx_frames - before.ls_tx_frames > 1000)
        fail_msg("4 MiB left in %llu frames: not cut by the link",
                 (unsigned long long)(after.ls_tx_frames - before.ls_tx_frames));
    user_close(&ub, false);
    run_for(RN_SEC(2));
    user_close(&ua, false);
    rn__tcp_listener_close(l);
    run_for(RN_SEC(120));
    free(data);
    user_free(&ua);
    user_free(&ub);
    pair_down();
    check_live_objects(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_data_close),
        cmocka_unit_test(test_listener_lookup_both_families),
        cmocka_unit_test(test_simultaneous_close),
        cmocka_unit_test(test_refused_and_reset),
        cmocka_unit_test(test_zero_window_and_persist),
        cmocka_unit_test(test_shrinking_window_edge),
        cmocka_unit_test(test_retransmit_within_shrunk_window),
        cmocka_unit_test(test_paws_lets_reordered_dupack_through),
        cmocka_unit_test(test_bulk_to_self),
        cmocka_unit_test(test_bulk_clean),
        cmocka_unit_test(test_bulk_faulty),
        cmocka_unit_test(test_sack_blocks_take_room_from_data),
        cmocka_unit_test(test_ack_after_timeout_carries_snd_max),
        cmocka_unit_test(test_send_ring_changes_under_queued_frames),
        cmocka_unit_test(test_lost_syn_gives_window_of_one),
        cmocka_unit_test(test_dsack_undoes_a_needless_timeout),
        cmocka_unit_test(test_ecn_negotiation),
        cmocka_unit_test(test_ecn_congestion_mark),
        cmocka_unit_test(test_cubic_follows_its_curve),
        cmocka_unit_test(test_cubic_hystart),
        cmocka_unit_test(test_cubic_bulk_faulty),
        cmocka_unit_test(test_bulk_both_ways_faulty),
        cmocka_unit_test(test_bulk_ipv6_tso),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
