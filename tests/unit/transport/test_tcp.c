/*
 * TCP between two refnet stacks over a simulated cable, in virtual time:
 * handshakes, data both ways, every way of closing, refusals and resets,
 * zero windows, and bulk transfers through a faulty cable that must arrive
 * byte for byte.  Every test ends with nothing left but what it expects.
 */
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
#include "refnet/snapshot.h"
#include "support.h"
#include "transport/tcp.h"
#include "transport/tcp_priv.h"
#include "wire/tcp.h"

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
    for (rounds = 0; rounds < 2000 && ub.u_rxlen < total; rounds++) {
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
        .rx_src = c->t_faddr, .rx_dst = c->t_laddr, .rx_proto = RN_IPPROTO_TCP, .rx_ttl = 64,
        .rx_iface = P.ifa,
    };
    struct rn_netbuf *nb = rn_nb_alloc(rn_stack_pool(P.a), rn__net_types.nt_own_rx);
    uint8_t *p;

    th.th_optlen = (uint8_t)rn__tcp_opts_emit(opts, &to);
    assert_non_null(nb);
    rn_nb_reserve(nb, 64);
    p = rn_nb_put(nb, RN_TCP_HLEN + th.th_optlen);
    assert_non_null(p);
    rn__tcp_emit4(p, &th, c->t_faddr, c->t_laddr);
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

static bool both_done(void *ctx)
{
    struct bulk *b = ctx;

    return b[0].rx->u_rxlen >= b[0].total && b[1].rx->u_rxlen >= b[1].total;
}

/* Sends `total` bytes each way at once through the given faults, as an
 * echo service does: every data segment is also an ACK, and while data
 * from the other side is missing it carries SACK blocks, which must not
 * make it longer than the path allows. */
static void bulk_both(const char *fault_ab, const char *fault_ba, uint64_t seed, size_t total)
{
    struct user ua = {.u_drain = true}, ub = {.u_drain = true};
    struct tcp_listener *l;
    uint8_t *da = malloc(total), *db = malloc(total);
    struct bulk b[2] = {{&ub, total}, {&ua, total}};
    rn_time_t start;
    bool shut = false;

    fill(da, total, (uint32_t)seed);
    fill(db, total, (uint32_t)seed + 1);
    setup_pair(fault_ab, fault_ba, seed);
    l = open_pair(5002, &ua, &ub);
    ua.u_tx = da;
    ua.u_txlen = total;
    ub.u_tx = db;
    ub.u_txlen = total;
    start = P.now;
    while (!both_done(b)) {
        user_push(&ua);
        user_push(&ub);
        if (!shut && ua.u_txdone == total && ub.u_txdone == total) {
            rn__tcp_shutdown(ua.u_conn, RN_SHUT_WR);
            rn__tcp_shutdown(ub.u_conn, RN_SHUT_WR);
            shut = true;
        }
        run(P.now + RN_MSEC(200), both_done, b);
        if (ub.u_error != 0 || ua.u_error != 0) {
            struct rn_strbuf sb = RN_STRBUF_INIT;

            rn__render_stats(P.a, &sb, false);
            rn__render_stats(P.b, &sb, false);
            fprintf(stderr, "%s", rn_strbuf_str(&sb));
            rn_strbuf_free(&sb);
            fail_msg("seed %llu: connection failed (a %d, b %d)", (unsigned long long)seed,
                     ua.u_error, ub.u_error);
        }
        if (P.now - start > RN_SEC(600))
            fail_msg("seed %llu: stalled: a has %zu, b %zu of %zu", (unsigned long long)seed,
                     ua.u_rxlen, ub.u_rxlen, total);
    }
    assert_int_equal(ua.u_rxlen, total);
    assert_int_equal(ub.u_rxlen, total);
    assert_memory_equal(ub.u_rx, da, total);
    assert_memory_equal(ua.u_rx, db, total);
    transfer_end(&ua, &ub, l, RN_SEC(120), da);
    free(db);
}

static void test_bulk_both_ways_faulty(void **state)
{
    const char *faults = "drop=5%,reorder=5%,dup=5%,corrupt=5%,dir=tx,seed=";
    char ab[128], ba[128];
    uint64_t seed;
    unsigned runs = getenv("REFNET_TCP_SEEDS") ? (unsigned)atoi(getenv("REFNET_TCP_SEEDS")) : 10;
    uint64_t first = getenv("REFNET_TCP_SEED0") ? (uint64_t)atoll(getenv("REFNET_TCP_SEED0")) : 300;

    (void)state;
    for (seed = first; seed < first + runs; seed++) {
        snprintf(ab, sizeof(ab), "%s%llu", faults, (unsigned long long)seed);
        snprintf(ba, sizeof(ba), "%s%llu", faults, (unsigned long long)seed + 1000);
        bulk_both(ab, ba, seed, 2u << 20);
    }
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
    }
    assert_int_equal(ub.u_rxlen, total);
    assert_memory_equal(ub.u_rx, data, total);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_data_close),
        cmocka_unit_test(test_simultaneous_close),
        cmocka_unit_test(test_refused_and_reset),
        cmocka_unit_test(test_zero_window_and_persist),
        cmocka_unit_test(test_shrinking_window_edge),
        cmocka_unit_test(test_retransmit_within_shrunk_window),
        cmocka_unit_test(test_paws_lets_reordered_dupack_through),
        cmocka_unit_test(test_bulk_to_self),
        cmocka_unit_test(test_bulk_clean),
        cmocka_unit_test(test_bulk_faulty),
        cmocka_unit_test(test_bulk_both_ways_faulty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
