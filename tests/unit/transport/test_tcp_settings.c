/*
 * TCP's settings (refnet/tcp.h), each seen where it acts: on the wire
 * between two stacks on a simulated cable, in virtual time (the SYN's
 * options and MSS, the first flight, the retransmission and keepalive
 * times, the windows), or where a user sees it (TIME_WAIT entries,
 * connections dropped, TCP_INFO).  Also: reading and writing them by
 * name, the rules between them, a change at run time reaching only new
 * connections, and docs/tcp-settings.md holding every setting with its
 * default.
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

#define PORT 7100

/* Readers and completion records handed out since the pair was set up. */
static unsigned nreaders, nrecs;

/* The pair with processes on both stacks and the wire recorder on a;
 * each has the other's address resolved (ARP would delay the first
 * segment of a test), and the recorder starts empty. */
static void up(void)
{
    struct pair_params pp = {.pp_procs = true, .pp_wrap_a = wire_wrap};
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 9};
    struct rec r = {0};
    int h;

    nreaders = nrecs = 0;
    pair_up_with(&pp);
    h = rn_sock_open(P.pa, RN_SOCK_DGRAM, 0);
    submit(P.pa, RN_SOP_SEND, h, "x", 1, &to, &r);
    submit(P.pa, RN_SOP_CLOSE, h, NULL, 0, NULL, &r);
    run_for(RN_MSEC(20));
    assert_int_equal(r.c[0].sc_result, 1);
    wire_clear();
}

static void set(struct rn_stack *st, const char *name, const char *value)
{
    int err = rn_tcp_setting_set(st, name, value);

    if (err != 0)
        fail_msg("%s %s: %s", name, value, rn_strerror(err));
}

static int listener(uint16_t port)
{
    int err, h = tcp_listening(P.pb, port, &err);

    assert_int_equal(err, 0);
    return h;
}

static int client(void)
{
    int h = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);

    assert_true(h > 0);
    return h;
}

/* A connection from a to b's port: *hs gets the accepted handle. */
static int connected(uint16_t port, int *hl, int *hs)
{
    int hc = client();

    *hl = listener(port);
    *hs = tcp_connect_accept(P.pa, hc, P.pb, *hl, port);
    return hc;
}

/* The first SYN a sent, and the first SYN+ACK b sent, from index from. */
static const struct wire_seg *syn_of_a(unsigned from)
{
    const struct wire_seg *s = wire_find(from, true, RN_TCP_SYN, RN_TCP_ACK, false);

    assert_non_null(s);
    return s;
}

static const struct wire_seg *synack_of_b(unsigned from)
{
    const struct wire_seg *s = wire_find(from, false, RN_TCP_SYN | RN_TCP_ACK, 0, false);

    assert_non_null(s);
    return s;
}

static struct rn_tcp_info info_of(struct rn_proc *p, int h)
{
    struct rn_tcp_info ti;

    assert_int_equal(rn_sock_tcp_info(p, h, &ti), 0);
    return ti;
}

/* Sends len bytes of a static buffer on (p, h); completion to r. */
static uint8_t payload[1 << 20];

static void send_bytes(struct rn_proc *p, int h, size_t len, struct rec *r)
{
    assert_true(len <= sizeof(payload));
    submit(p, RN_SOP_SEND, h, payload, len, NULL, r);
}

/* A reader that takes everything, request after request. */
struct reader {
    struct rn_proc *rd_proc;
    int rd_h;
    uint8_t rd_buf[65536];
    uint64_t rd_bytes;
    int rd_err;     /* the error that ended it, or 0 */
    bool rd_eof;
};

static void reader_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct reader *rd = c->sc_user;
    struct rn_sock_req rq = {.sq_op = RN_SOP_RECV, .sq_handle = rd->rd_h, .sq_buf = rd->rd_buf,
                             .sq_len = sizeof(rd->rd_buf), .sq_user = rd};

    if (c->sc_result < 0) {
        rd->rd_err = (int)c->sc_result;
        return;
    }
    if (c->sc_result == 0) {
        rd->rd_eof = true;
        return;
    }
    rd->rd_bytes += (uint64_t)c->sc_result;
    assert_int_equal(rn_sock_submit(p, &rq, reader_done), 0);
}

/* Completions arrive until pair_down() exits the processes: what they
 * are written to must outlive the function that submitted them. */
static struct reader readers[4];
static struct rec recs[8];

static struct reader *new_reader(void)
{
    assert_true(nreaders < 4);
    return &readers[nreaders++];
}

static struct rec *new_rec(void)
{
    assert_true(nrecs < 8);
    memset(&recs[nrecs], 0, sizeof(recs[nrecs]));
    return &recs[nrecs++];
}

static void reader_start(struct reader *rd, struct rn_proc *p, int h)
{
    struct rn_sock_req rq = {.sq_op = RN_SOP_RECV, .sq_handle = h, .sq_buf = rd->rd_buf,
                             .sq_len = sizeof(rd->rd_buf), .sq_user = rd};

    memset(rd, 0, sizeof(*rd));
    rd->rd_proc = p;
    rd->rd_h = h;
    assert_int_equal(rn_sock_submit(p, &rq, reader_done), 0);
}

/* Runs until rd took want bytes (or failed), at most limit. */
static void read_until(struct reader *rd, uint64_t want, rn_time_t limit)
{
    rn_time_t end = P.now + limit;

    while (rd->rd_bytes < want && rd->rd_err == 0 && P.now < end)
        run_for(RN_MSEC(1));
}

/* ---- Reading and writing them ---------------------------------------------------- */

static void test_params_by_name(void **state)
{
    struct rn_tcp_params p, q;
    struct rn_tcp_setting_row row;
    const char *why = NULL;

    (void)state;
    rn_tcp_params_init(&p);
    assert_true(p.tp_sack && p.tp_timestamps && p.tp_window_scaling);
    assert_int_equal(p.tp_initial_window, 10);
    assert_int_equal(rn_tcp_params_check(&p, &why), 0);
    assert_null(why);
    /* Every kind of value reads, and reads back as written. */
    assert_int_equal(rn_tcp_params_set(&p, "tcp.sack", "off"), 0);
    assert_false(p.tp_sack);
    assert_int_equal(rn_tcp_params_set(&p, "tcp.rcvbuf", "64K"), 0);
    assert_int_equal(p.tp_rcvbuf, 65536);
    assert_int_equal(rn_tcp_params_set(&p, "tcp.rto_min", "250ms"), 0);
    assert_int_equal(p.tp_rto_min, RN_MSEC(250));
    assert_int_equal(rn_tcp_params_set(&p, "tcp.keepidle", "2m"), 0);
    assert_int_equal(p.tp_keepidle, RN_SEC(120));
    assert_int_equal(rn_tcp_params_set(&p, "tcp.port_range", "40000-40100"), 0);
    assert_int_equal(p.tp_port_lo, 40000);
    assert_int_equal(p.tp_port_hi, 40100);
    assert_int_equal(rn_tcp_params_set(&p, "tcp.congestion", "newreno"), 0);
    assert_int_equal(rn_tcp_params_row(&p, "tcp.keepidle", &row), 0);
    assert_string_equal(row.sr_value, "120s");
    assert_string_equal(row.sr_default, "2h");
    assert_string_equal(row.sr_name, "tcp.keepidle");
    assert_non_null(strstr(row.sr_linux, "tcp_keepalive_time"));
    assert_int_equal(rn_tcp_params_row(&p, "tcp.sack", &row), 0);
    assert_string_equal(row.sr_value, "0");
    assert_string_equal(row.sr_default, "1");
    /* Bad input changes nothing. */
    q = p;
    assert_int_equal(rn_tcp_params_set(&p, "tcp.nosuch", "1"), RN_ENOENT);
    assert_int_equal(rn_tcp_params_set(&p, "tcp.sack", "maybe"), RN_EINVAL);
    assert_int_equal(rn_tcp_params_set(&p, "tcp.rto_min", "200"), RN_EINVAL);  /* no unit */
    assert_int_equal(rn_tcp_params_set(&p, "tcp.rto_min", "0"), RN_EINVAL);
    assert_int_equal(rn_tcp_params_set(&p, "tcp.rto_min", "2h"), RN_EINVAL);
    assert_int_equal(rn_tcp_params_set(&p, "tcp.mss_clamp", "40"), RN_EINVAL);
    assert_int_equal(rn_tcp_params_set(&p, "tcp.initial_window", "0"), RN_EINVAL);
    assert_int_equal(rn_tcp_params_set(&p, "tcp.port_range", "5000-4000"), RN_EINVAL);
    assert_int_equal(rn_tcp_params_set(&p, "tcp.port_range", "0-4000"), RN_EINVAL);
    assert_int_equal(rn_tcp_params_set(&p, "tcp.congestion", "vegas"), RN_EINVAL);
    assert_int_equal(rn_tcp_params_set(&p, "tcp.sndbuf", "1x"), RN_EINVAL);
    assert_int_equal(rn_tcp_params_set(&p, "tcp.sndbuf", "99999999999999999999"), RN_EINVAL);
    assert_memory_equal(&p, &q, sizeof(p));
    /* Rules between settings. */
    assert_int_equal(rn_tcp_params_set(&p, "tcp.rto_max", "100ms"), 0);
    assert_int_equal(rn_tcp_params_check(&p, &why), RN_EINVAL);
    assert_string_equal(why, "tcp.rto_min must not exceed tcp.rto_max");
}

struct doc_check {
    const char *dc_text;
    unsigned dc_rows;
};

static void doc_row(const struct rn_tcp_setting_row *r, void *ctx)
{
    struct doc_check *dc = ctx;
    char want[128];

    snprintf(want, sizeof(want), "| `%s` | %s |", r->sr_name, r->sr_default);
    if (strstr(dc->dc_text, want) == NULL)
        fail_msg("docs/tcp-settings.md has no row '%s'", want);
    dc->dc_rows++;
}

/* docs/tcp-settings.md lists every setting with refnet's default. */
static void test_docs_table(void **state)
{
    const char *src = getenv("REFNET_SOURCE_DIR");  /* ctest sets it */
    char path[512], *text;
    struct doc_check dc = {0};
    struct rn_tcp_params p;
    FILE *f;
    long n;

    (void)state;
    if (src == NULL)
        skip();  /* run by hand, away from ctest */
    snprintf(path, sizeof(path), "%s/docs/tcp-settings.md", src);
    f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    dc.dc_text = text;
    rn_tcp_params_init(&p);
    rn_tcp_params_rows(&p, doc_row, &dc);
    assert_true(dc.dc_rows >= 26);
    free(text);
}

/* A change at run time reaches the connections opened after it; the
 * others keep what they began with.  Bad changes change nothing. */
static void test_change_at_run_time(void **state)
{
    struct rn_tcp_setting_row row;
    struct rn_tcp_params p;
    int hl, hs, hc, hl2, hs2, hc2;
    unsigned mark;

    (void)state;
    up();
    assert_int_equal(rn_tcp_setting_set(P.a, "tcp.rto_max", "100ms"), RN_ERANGE);
    assert_int_equal(rn_tcp_setting_set(P.a, "tcp.nosuch", "1"), RN_ENOENT);
    assert_int_equal(rn_tcp_setting_set(P.a, "tcp.sack", "perhaps"), RN_EINVAL);
    assert_int_equal(rn_tcp_params_get(P.a, &p), 0);
    assert_true(p.tp_sack);
    assert_int_equal(p.tp_rto_max, RN_SEC(60));
    assert_int_equal(rn_tcp_setting_get(P.a, "tcp.nosuch", &row), RN_ENOENT);
    hc = connected(PORT, &hl, &hs);
    assert_true(info_of(P.pa, hc).ti_options & RN_TCPI_OPT_SACK);
    set(P.a, "tcp.sack", "0");
    assert_int_equal(rn_tcp_setting_get(P.a, "tcp.sack", &row), 0);
    assert_string_equal(row.sr_value, "0");
    assert_string_equal(row.sr_default, "1");
    mark = wire_count();
    hc2 = connected(PORT + 1, &hl2, &hs2);
    assert_false(syn_of_a(mark)->ws_sack_ok);
    assert_false(info_of(P.pa, hc2).ti_options & RN_TCPI_OPT_SACK);
    /* The first connection still has SACK. */
    assert_true(info_of(P.pa, hc).ti_options & RN_TCPI_OPT_SACK);
    pair_down();
}

/* ---- On the wire ----------------------------------------------------------------- */

static void test_syn_defaults(void **state)
{
    const struct wire_seg *syn, *synack;
    struct rn_tcp_info ti;
    int64_t mss;
    int hl, hs, hc;

    (void)state;
    up();
    hc = connected(PORT, &hl, &hs);
    syn = syn_of_a(0);
    synack = synack_of_b(0);
    assert_int_equal(syn->ws_mss, 1460);
    assert_true(syn->ws_sack_ok && syn->ws_ts);
    /* The scale tcp.rcvbuf_max (6 MiB, a 3 MiB window) needs. */
    assert_int_equal(syn->ws_wscale, 6);
    /* The SYN's own window: half of tcp.rcvbuf, as far as 16 bits go. */
    assert_int_equal(syn->ws_win, 65535);
    assert_true(synack->ws_sack_ok && synack->ws_ts);
    assert_int_equal(synack->ws_wscale, 6);
    ti = info_of(P.pa, hc);
    assert_int_equal(ti.ti_options, RN_TCPI_OPT_SACK | RN_TCPI_OPT_TIMESTAMPS | RN_TCPI_OPT_WSCALE);
    assert_int_equal(ti.ti_snd_wscale, 6);
    assert_int_equal(ti.ti_rcv_wscale, 6);
    assert_int_equal(ti.ti_snd_mss, 1448);
    assert_int_equal(rn_sock_getopt(P.pa, hc, RN_TCP_MAXSEG, &mss), 0);
    assert_int_equal(mss, 1448);
    assert_string_equal(ti.ti_cc, "cubic");
    pair_down();
}

/* Loses a's third data segment, once. */
static bool lose_third(const struct wire_seg *s, void *ctx)
{
    unsigned *n = ctx;

    return s->ws_from_a && s->ws_proto == 6 && s->ws_len > 0 && ++*n == 3;
}

/* SACK blocks b sends after a loss, on a transfer of 64 KiB. */
static unsigned sack_blocks_after_loss(void)
{
    struct reader *rd = new_reader();
    static unsigned lost;
    unsigned i, blocks = 0, mark;
    int hl, hs, hc;

    lost = 0;
    hc = connected(PORT, &hl, &hs);
    mark = wire_count();
    reader_start(rd, P.pb, hs);
    wire_drop(lose_third, &lost);
    send_bytes(P.pa, hc, 65536, new_rec());
    read_until(rd, 65536, RN_SEC(10));
    assert_int_equal(rd->rd_bytes, 65536);
    for (i = mark; i < wire_count(); i++) {
        if (!wire_at(i)->ws_from_a)
            blocks += wire_at(i)->ws_nsacks;
    }
    wire_drop(NULL, NULL);
    return blocks;
}

static void test_sack_off(void **state)
{
    const struct wire_seg *syn, *synack;
    unsigned mark;
    int hl, hs, hc;

    (void)state;
    up();
    /* On: b reports the hole with SACK blocks. */
    assert_true(sack_blocks_after_loss() > 0);
    pair_down();

    /* Off on b, the receiver: a offers SACK, b's SYN+ACK does not
     * accept it, and after the same loss no block comes. */
    up();
    set(P.b, "tcp.sack", "0");
    mark = wire_count();
    assert_int_equal(sack_blocks_after_loss(), 0);
    assert_true(syn_of_a(mark)->ws_sack_ok);
    assert_false(synack_of_b(mark)->ws_sack_ok);
    assert_true(synack_of_b(mark)->ws_ts);  /* the rest as before */
    pair_down();

    /* Off on a: no SACK-permitted in a's SYN, so none in b's answer. */
    up();
    set(P.a, "tcp.sack", "0");
    hc = connected(PORT, &hl, &hs);
    syn = syn_of_a(0);
    synack = synack_of_b(0);
    assert_false(syn->ws_sack_ok);
    assert_false(synack->ws_sack_ok);
    assert_true(syn->ws_ts);  /* the rest as before */
    assert_false(info_of(P.pb, hs).ti_options & RN_TCPI_OPT_SACK);
    assert_false(info_of(P.pa, hc).ti_options & RN_TCPI_OPT_SACK);
    pair_down();
}

static void test_timestamps_off(void **state)
{
    struct rec r = {0};
    struct reader rd;
    int64_t mss;
    unsigned i;
    int hl, hs, hc;

    (void)state;
    up();
    set(P.a, "tcp.timestamps", "0");
    hc = connected(PORT, &hl, &hs);
    assert_false(syn_of_a(0)->ws_ts);
    assert_false(synack_of_b(0)->ws_ts);
    /* Without the option on every segment, 12 more bytes of data fit. */
    assert_int_equal(rn_sock_getopt(P.pa, hc, RN_TCP_MAXSEG, &mss), 0);
    assert_int_equal(mss, 1460);
    reader_start(&rd, P.pb, hs);
    send_bytes(P.pa, hc, 20000, &r);
    read_until(&rd, 20000, RN_SEC(5));
    for (i = 0; i < wire_count(); i++) {
        assert_false(wire_at(i)->ws_ts);
        assert_true(wire_at(i)->ws_len <= 1460);
    }
    assert_non_null(wire_find(0, true, 0, RN_TCP_SYN, true));
    assert_int_equal(wire_find(0, true, 0, RN_TCP_SYN, true)->ws_len, 1460);
    pair_down();
}

/* The most bytes a had sent beyond b's latest acknowledgment. */
static uint32_t most_in_flight(unsigned from)
{
    uint32_t acked = 0, most = 0;
    bool have = false;
    unsigned i;

    for (i = from; i < wire_count(); i++) {
        const struct wire_seg *s = wire_at(i);

        if (s->ws_proto != 6)
            continue;
        if (!s->ws_from_a && (s->ws_flags & RN_TCP_ACK)) {
            if (!have || (int32_t)(s->ws_ack - acked) > 0)
                acked = s->ws_ack;
            have = true;
        } else if (s->ws_from_a && s->ws_len > 0 && have &&
                   (int32_t)(s->ws_seq + s->ws_len - acked) > (int32_t)most) {
            most = s->ws_seq + s->ws_len - acked;
        }
    }
    return most;
}

static void test_window_scaling_off(void **state)
{
    struct rec r = {0};
    int hl, hs, hc;
    unsigned mark;

    (void)state;
    /* On: b, which never reads, takes a 256 KiB window's worth. */
    up();
    hc = connected(PORT, &hl, &hs);
    mark = wire_count();
    send_bytes(P.pa, hc, 1 << 20, &r);
    run_for(RN_SEC(2));
    assert_true(most_in_flight(mark) > 65535);
    pair_down();

    /* Off on b: no window scale option either way, and a 16-bit window
     * is all a may fill. */
    up();
    set(P.b, "tcp.window_scaling", "0");
    hc = connected(PORT, &hl, &hs);
    assert_int_equal(syn_of_a(0)->ws_wscale, 6);
    assert_int_equal(synack_of_b(0)->ws_wscale, -1);
    assert_false(info_of(P.pa, hc).ti_options & RN_TCPI_OPT_WSCALE);
    mark = wire_count();
    memset(&r, 0, sizeof(r));
    send_bytes(P.pa, hc, 1 << 20, &r);
    run_for(RN_SEC(2));
    assert_true(most_in_flight(mark) <= 65535);
    assert_true(most_in_flight(mark) > 60000);
    pair_down();
}

static void test_mss_clamp(void **state)
{
    struct rec r = {0};
    struct reader rd;
    unsigned i, data = 0;
    int hl, hs, hc;

    (void)state;
    up();
    set(P.a, "tcp.mss_clamp", "1000");
    hc = connected(PORT, &hl, &hs);
    assert_int_equal(syn_of_a(0)->ws_mss, 1000);
    assert_int_equal(synack_of_b(0)->ws_mss, 1460);  /* b's own */
    /* Both ways, segments carry at most 1000 less the timestamps. */
    reader_start(&rd, P.pa, hc);
    send_bytes(P.pb, hs, 50000, &r);
    read_until(&rd, 50000, RN_SEC(5));
    for (i = 0; i < wire_count(); i++) {
        if (wire_at(i)->ws_len > 0) {
            assert_true(wire_at(i)->ws_len <= 988);
            data++;
        }
    }
    assert_true(data >= 50000 / 988);
    assert_int_equal(info_of(P.pb, hs).ti_snd_mss, 988);
    assert_int_equal(info_of(P.pa, hc).ti_advmss, 1000);
    pair_down();
}

/* a's data segments before the first ACK of data reached a. */
static unsigned first_flight(unsigned from)
{
    const struct wire_seg *first = wire_find(from, true, 0, RN_TCP_SYN, true);
    unsigned i, n = 0;

    assert_non_null(first);
    for (i = from; i < wire_count(); i++) {
        const struct wire_seg *s = wire_at(i);

        if (!s->ws_from_a && (s->ws_flags & RN_TCP_ACK) && (int32_t)(s->ws_ack - first->ws_seq) > 0)
            break;
        if (s->ws_from_a && s->ws_len > 0)
            n++;
    }
    return n;
}

static void test_initial_window(void **state)
{
    struct rec r = {0};
    unsigned mark;
    int hl, hs, hc;

    (void)state;
    up();
    hc = connected(PORT, &hl, &hs);
    mark = wire_count();
    send_bytes(P.pa, hc, 200000, &r);
    run_for(RN_MSEC(100));
    assert_int_equal(first_flight(mark), 10);
    pair_down();

    up();
    set(P.a, "tcp.initial_window", "4");
    hc = connected(PORT, &hl, &hs);
    mark = wire_count();
    memset(&r, 0, sizeof(r));
    send_bytes(P.pa, hc, 200000, &r);
    run_for(RN_MSEC(100));
    assert_int_equal(first_flight(mark), 4);
    assert_int_equal(info_of(P.pa, hc).ti_snd_cwnd >= 4, 1);
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

static bool lose_a_data(const struct wire_seg *s, void *ctx)
{
    (void)ctx;
    return s->ws_from_a && s->ws_proto == 6 && s->ws_len > 0;
}

/* a's pure ACKs to b's SYN+ACK are lost: b repeats it. */
static bool lose_a_acks(const struct wire_seg *s, void *ctx)
{
    (void)ctx;
    return s->ws_from_a && s->ws_proto == 6 && !(s->ws_flags & RN_TCP_SYN) && s->ws_len == 0;
}

/* The times of a's (from_a) or b's segments with flags_set, from mark. */
static unsigned times_of(unsigned mark, bool from_a, uint8_t flags_set, uint8_t flags_clear,
                         bool data, rn_time_t *t, unsigned max)
{
    unsigned i, n = 0;

    for (i = mark; i < wire_count() && n < max; i++) {
        const struct wire_seg *s = wire_at(i);

        if (s->ws_proto == 6 && s->ws_from_a == from_a && (s->ws_flags & flags_set) == flags_set &&
            !(s->ws_flags & flags_clear) && (!data || s->ws_len > 0))
            t[n++] = s->ws_time;
    }
    return n;
}

static bool rec_done(void *ctx)
{
    return ((struct rec *)ctx)->n > 0;
}

/* tcp.rto_initial and tcp.syn_retries: a SYN nobody answers. */
static void test_syn_retries(void **state)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = PORT};
    rn_time_t t[16], start;
    struct rec r = {0};
    unsigned n;
    int hc;

    (void)state;
    up();
    set(P.a, "tcp.rto_initial", "200ms");
    set(P.a, "tcp.syn_retries", "3");
    wire_drop(lose_from_a, NULL);
    hc = client();
    start = P.now;
    submit(P.pa, RN_SOP_CONNECT, hc, NULL, 0, &to, &r);
    assert_true(run_while_not(rec_done, &r, RN_SEC(60)));
    assert_int_equal(r.c[0].sc_result, RN_ETIMEDOUT);
    /* 200, 400, 800 ms apart, and the end 1.6 s after the last. */
    n = times_of(0, true, RN_TCP_SYN, 0, false, t, 16);
    assert_int_equal(n, 4);
    assert_int_equal(t[1] - t[0], RN_MSEC(200));
    assert_int_equal(t[2] - t[1], RN_MSEC(400));
    assert_int_equal(t[3] - t[2], RN_MSEC(800));
    assert_int_equal(P.now - start, RN_MSEC(3000));
    pair_down();
}

/* tcp.synack_retries: the SYN+ACK repeats until b gives the half-open
 * connection up. */
static void test_synack_retries(void **state)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = PORT};
    struct rec r = {0};
    rn_time_t t[16];
    int hl, hc;

    (void)state;
    up();
    set(P.b, "tcp.rto_initial", "100ms");
    set(P.b, "tcp.synack_retries", "2");
    wire_drop(lose_a_acks, NULL);
    hl = listener(PORT);
    (void)hl;
    hc = client();
    submit(P.pa, RN_SOP_CONNECT, hc, NULL, 0, &to, &r);
    run_for(RN_SEC(2));
    assert_int_equal(times_of(0, false, RN_TCP_SYN | RN_TCP_ACK, 0, false, t, 16), 3);
    assert_int_equal(t[1] - t[0], RN_MSEC(100));
    assert_int_equal(t[2] - t[1], RN_MSEC(200));
    /* b's half of it is gone; a's, which never heard, stays. */
    assert_int_equal(count_objects_prefixed("tcp connection", "tcp connection 198.18.0.3:7100"),
                     0);
    assert_int_equal(count_objects_prefixed("tcp connection", "tcp connection 198.18.0.2:"), 1);
    pair_down();
}

/* tcp.retries, tcp.rto_min and tcp.rto_max: data never acknowledged. */
static void test_data_retries(void **state)
{
    struct rn_tcp_info ti;
    struct rec r = {0}, rr = {0};
    rn_time_t t[32];
    unsigned n, i;
    char buf[16];
    int hl, hs, hc;

    (void)state;
    up();
    set(P.a, "tcp.rto_min", "300ms");
    set(P.a, "tcp.rto_max", "1s");
    set(P.a, "tcp.retries", "4");
    hc = connected(PORT, &hl, &hs);
    /* Once an RTT of about 2 ms was measured, the RTO is its floor. */
    send_bytes(P.pa, hc, 100, &r);
    run_for(RN_MSEC(50));
    ti = info_of(P.pa, hc);
    assert_true(ti.ti_rtt > 0 && ti.ti_rtt < RN_MSEC(10));
    assert_int_equal(ti.ti_rto, RN_MSEC(300));
    wire_drop(lose_a_data, NULL);
    submit(P.pa, RN_SOP_RECV, hc, buf, sizeof(buf), NULL, &rr);
    send_bytes(P.pa, hc, 100, &r);
    assert_true(run_while_not(rec_done, &rr, RN_SEC(60)));
    assert_int_equal(rr.c[0].sc_result, RN_ETIMEDOUT);
    /* The first send's segment, then the second's, its probe and its
     * four resends, 300 ms apart doubling up to 1 s. */
    n = times_of(0, true, 0, RN_TCP_SYN, true, t, 32);
    assert_int_equal(n, 7);
    /* The tail loss probe of a lone segment, two round trips and the
     * peer's worst delayed ACK (200 ms) after it (RFC 8985 7.2), before
     * the 300 ms timer. */
    assert_true(t[2] - t[1] > RN_MSEC(200) && t[2] - t[1] < RN_MSEC(210));
    for (i = 3; i < n; i++)
        assert_int_equal(t[i] - t[i - 1], i == 3 ? RN_MSEC(300) : i == 4 ? RN_MSEC(600)
                                                                       : RN_SEC(1));
    pair_down();
}

static void test_delack(void **state)
{
    const struct wire_seg *data, *ack;
    struct rec r = {0};
    unsigned mark;
    int64_t one = 1;
    int hl, hs, hc;

    (void)state;
    up();
    set(P.b, "tcp.delack", "120ms");
    hc = connected(PORT, &hl, &hs);
    /* One full segment without PSH (the rest corked behind it): b may
     * hold its ACK. */
    assert_int_equal(rn_sock_setopt(P.pa, hc, RN_TCP_CORK, one), 0);
    mark = wire_count();
    send_bytes(P.pa, hc, 1448 + 100, &r);
    run_for(RN_MSEC(150));
    data = wire_find(mark, true, 0, RN_TCP_SYN, true);
    assert_non_null(data);
    assert_int_equal(data->ws_len, 1448);
    for (ack = NULL; mark < wire_count(); mark++) {
        if (!wire_at(mark)->ws_from_a && wire_at(mark)->ws_ack == data->ws_seq + 1448) {
            ack = wire_at(mark);
            break;
        }
    }
    assert_non_null(ack);
    /* Sent at t, arrived at t + 1 ms, acknowledged 120 ms later, back at
     * t + 122 ms. */
    assert_int_equal(ack->ws_time - data->ws_time, RN_MSEC(122));
    pair_down();
}

/* tcp.msl and tcp.timewait_max: the TIME_WAIT entries a user sees. */
static void test_timewait(void **state)
{
    int hl, hs, hc, hl2, hs2, hc2;
    struct rec r = {0};

    (void)state;
    up();
    set(P.a, "tcp.msl", "1s");
    set(P.a, "tcp.timewait_max", "1");
    hc = connected(PORT, &hl, &hs);
    hc2 = connected(PORT + 1, &hl2, &hs2);
    /* a closes first, both connections: a keeps one TIME_WAIT entry. */
    submit(P.pa, RN_SOP_CLOSE, hc, NULL, 0, NULL, &r);
    submit(P.pa, RN_SOP_CLOSE, hc2, NULL, 0, NULL, &r);
    run_for(RN_MSEC(20));
    submit(P.pb, RN_SOP_CLOSE, hs, NULL, 0, NULL, &r);
    submit(P.pb, RN_SOP_CLOSE, hs2, NULL, 0, NULL, &r);
    run_for(RN_MSEC(80));
    assert_int_equal(count_type("tcp timewait"), 1);
    assert_int_equal(count_objects_prefixed("tcp timewait", "tcp timewait 198.18.0.2:"), 1);
    /* It lasts 2 * MSL. */
    run_for(RN_MSEC(1800));
    assert_int_equal(count_type("tcp timewait"), 1);
    run_for(RN_MSEC(200));
    assert_int_equal(count_type("tcp timewait"), 0);
    pair_down();
}

static void test_keepalive_settings(void **state)
{
    struct rec rr = {0};
    rn_time_t t[16], quiet;
    char buf[16];
    unsigned n, mark;
    int hl, hs, hc;

    (void)state;
    up();
    set(P.a, "tcp.keepidle", "10s");
    set(P.a, "tcp.keepintvl", "2s");
    set(P.a, "tcp.keepcnt", "3");
    hc = connected(PORT, &hl, &hs);
    assert_int_equal(rn_sock_setopt(P.pa, hc, RN_SO_KEEPALIVE, 1), 0);
    submit(P.pa, RN_SOP_RECV, hc, buf, sizeof(buf), NULL, &rr);
    quiet = P.now;
    mark = wire_count();
    wire_drop(lose_from_b, NULL);
    assert_true(run_while_not(rec_done, &rr, RN_SEC(60)));
    assert_int_equal(rr.c[0].sc_result, RN_ETIMEDOUT);
    n = times_of(mark, true, RN_TCP_ACK, RN_TCP_SYN | RN_TCP_FIN | RN_TCP_RST, false, t, 16);
    assert_int_equal(n, 3);
    assert_true(t[0] - quiet <= RN_SEC(10) && t[0] - quiet > RN_SEC(9));
    assert_int_equal(t[1] - t[0], RN_SEC(2));
    assert_int_equal(t[2] - t[1], RN_SEC(2));
    pair_down();
}

/* tcp.fin_timeout: a closed connection whose peer never closes. */
static void test_fin_timeout(void **state)
{
    struct rec r = {0};
    int hl, hs, hc;

    (void)state;
    up();
    set(P.a, "tcp.fin_timeout", "5s");
    hc = connected(PORT, &hl, &hs);
    submit(P.pa, RN_SOP_CLOSE, hc, NULL, 0, NULL, &r);
    run_for(RN_SEC(1));
    assert_int_equal(count_objects("tcp connection", "FIN_WAIT_2"), 1);
    run_for(RN_SEC(3));
    assert_int_equal(count_objects("tcp connection", "FIN_WAIT_2"), 1);
    run_for(RN_SEC(2));
    assert_int_equal(count_objects("tcp connection", "FIN_WAIT_2"), 0);
    pair_down();
}

static void test_port_range(void **state)
{
    struct rn_sockaddr_in local;
    int hl, hs, hc;

    (void)state;
    up();
    set(P.a, "tcp.port_range", "40000-40000");
    hc = connected(PORT, &hl, &hs);
    assert_int_equal(syn_of_a(0)->ws_sport, 40000);
    assert_int_equal(rn_sock_getname(P.pa, hc, &local, NULL), 0);
    assert_int_equal(local.sin_port, 40000);
    pair_down();
}

/* tcp.rcvbuf, tcp.rcvbuf_max, tcp.rcvbuf_auto: the window and scale
 * offered; tcp.sndbuf: what a sender keeps in flight. */
static void test_buffers(void **state)
{
    struct rec r = {0};
    int64_t v;
    unsigned mark;
    int hl, hs, hc;

    (void)state;
    up();
    set(P.b, "tcp.rcvbuf", "64K");
    set(P.b, "tcp.rcvbuf_max", "1M");
    set(P.a, "tcp.sndbuf", "16K");
    set(P.a, "tcp.sndbuf_auto", "0");
    hc = connected(PORT, &hl, &hs);
    /* Half of the buffer is offered, with the scale 1 MiB needs. */
    assert_int_equal(synack_of_b(0)->ws_win, 32768);
    assert_int_equal(synack_of_b(0)->ws_wscale, 4);
    assert_int_equal(rn_sock_getopt(P.pb, hs, RN_SO_RCVBUF, &v), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(rn_sock_getopt(P.pa, hc, RN_SO_SNDBUF, &v), 0);
    assert_int_equal(v, 16384);
    mark = wire_count();
    send_bytes(P.pa, hc, 1 << 20, &r);
    run_for(RN_SEC(1));
    assert_true(most_in_flight(mark) <= 16384);
    pair_down();

    /* Without autotuning the scale is the buffer's own. */
    up();
    set(P.b, "tcp.rcvbuf", "64K");
    set(P.b, "tcp.rcvbuf_auto", "0");
    hc = connected(PORT, &hl, &hs);
    assert_int_equal(synack_of_b(0)->ws_wscale, 0);
    pair_down();
}

/* Autotuning: a reader that keeps up makes the receive buffer grow, up
 * to tcp.rcvbuf_max; without it, it stays. */
static uint32_t rcvbuf_after_transfer(bool autotune)
{
    struct rec r = {0};
    struct reader rd;
    uint32_t b;
    int hl, hs, hc;
    size_t i;

    up();
    set(P.b, "tcp.rcvbuf", "64K");
    if (!autotune)
        set(P.b, "tcp.rcvbuf_auto", "0");
    hc = connected(PORT, &hl, &hs);
    reader_start(&rd, P.pb, hs);
    for (i = 0; i < 8; i++)
        send_bytes(P.pa, hc, 1 << 20, &r);
    read_until(&rd, 8u << 20, RN_SEC(30));
    assert_int_equal(rd.rd_bytes, 8u << 20);
    b = info_of(P.pb, hs).ti_rcvbuf;
    pair_down();
    return b;
}

static void test_autotuning(void **state)
{
    (void)state;
    assert_int_equal(rcvbuf_after_transfer(false), 65536);
    assert_true(rcvbuf_after_transfer(true) > 65536);
}

static void test_congestion(void **state)
{
    int hl, hs, hc;

    (void)state;
    up();
    assert_int_equal(rn_tcp_setting_set(P.a, "tcp.congestion", "vegas"), RN_EINVAL);
    set(P.a, "tcp.congestion", "newreno");
    hc = connected(PORT, &hl, &hs);
    assert_string_equal(info_of(P.pa, hc).ti_cc, "newreno");
    /* Connections opened after a change take the new algorithm. */
    set(P.a, "tcp.congestion", "cubic");
    hc = connected(PORT + 1, &hl, &hs);
    assert_string_equal(info_of(P.pa, hc).ti_cc, "cubic");
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_by_name),
        cmocka_unit_test(test_docs_table),
        cmocka_unit_test(test_change_at_run_time),
        cmocka_unit_test(test_syn_defaults),
        cmocka_unit_test(test_sack_off),
        cmocka_unit_test(test_timestamps_off),
        cmocka_unit_test(test_window_scaling_off),
        cmocka_unit_test(test_mss_clamp),
        cmocka_unit_test(test_initial_window),
        cmocka_unit_test(test_syn_retries),
        cmocka_unit_test(test_synack_retries),
        cmocka_unit_test(test_data_retries),
        cmocka_unit_test(test_delack),
        cmocka_unit_test(test_timewait),
        cmocka_unit_test(test_keepalive_settings),
        cmocka_unit_test(test_fin_timeout),
        cmocka_unit_test(test_port_range),
        cmocka_unit_test(test_buffers),
        cmocka_unit_test(test_autotuning),
        cmocka_unit_test(test_congestion),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
