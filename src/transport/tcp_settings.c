/*
 * TCP's settings (refnet/tcp.h): the defaults, reading and writing them
 * by name as text, the rules between them, their rows, and the snapshots
 * connections live by (struct tcp_conf, tcp_priv.h).
 *
 * One table, settings[], names every setting once: its kind (which says
 * how its value reads and prints and which field of struct
 * rn_tcp_params holds it), its range, Linux's default and a line on what
 * it does.  docs/tcp-settings.md lists the same table; a test holds the
 * two together.
 *
 * A change at run time (rn_tcp_setting_set()) builds a new snapshot and
 * makes it the stack's; connections keep the snapshot they opened under
 * (tcp.c: rn__tcp_conn_new() takes a reference), so a change applies to
 * connections opened after it.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "refnet/error.h"
#include "refnet/transport.h"
#include "transport/tcp_priv.h"

enum set_kind {
    K_BOOL,   /* bool */
    K_BYTES,  /* uint32_t, bytes, K/M/G suffixes read */
    K_COUNT,  /* uint32_t */
    K_TIME,   /* rn_time_t, with its unit */
    K_RANGE,  /* tp_port_lo and tp_port_hi: "LO-HI" */
    K_CC,     /* tp_cc: an algorithm's name */
};

struct setting {
    const char *s_name;      /* "tcp.sack" */
    enum set_kind s_kind;
    size_t s_off;            /* of its field in struct rn_tcp_params */
    uint64_t s_min, s_max;   /* its own range (times in ns) */
    const char *s_linux;     /* Linux's default, and where it lives */
    const char *s_accepts;   /* what a value may be */
    const char *s_desc;      /* what it does */
};

#define F(field) offsetof(struct rn_tcp_params, field)
#define KIB 1024ull
#define MIB (1024ull * 1024)
#define GIB (1024ull * 1024 * 1024)

static const struct setting settings[] = {
    {"tcp.sndbuf", K_BYTES, F(tp_sndbuf), 4096, GIB, "16384 (net.ipv4.tcp_wmem[1])",
     "bytes, 4096..1G, at most tcp.sndbuf_max",
     "send buffer a connection starts with (SO_SNDBUF reads it)"},
    {"tcp.sndbuf_max", K_BYTES, F(tp_sndbuf_max), 4096, GIB,
     "4194304 (net.ipv4.tcp_wmem[2])", "bytes, 4096..1G",
     "the most send autotuning grows a send buffer to; SO_SNDBUF's ceiling"},
    {"tcp.rcvbuf", K_BYTES, F(tp_rcvbuf), 4096, GIB, "131072 (net.ipv4.tcp_rmem[1])",
     "bytes, 4096..1G, at most tcp.rcvbuf_max",
     "receive buffer a connection starts with; the window offered is half of it"},
    {"tcp.rcvbuf_max", K_BYTES, F(tp_rcvbuf_max), 4096, GIB,
     "6291456 (net.ipv4.tcp_rmem[2])", "bytes, 4096..1G",
     "the most receive autotuning grows a receive buffer to; SO_RCVBUF's ceiling"},
    {"tcp.sndbuf_auto", K_BOOL, F(tp_sndbuf_auto), 0, 1, "1 (always on)", "0 or 1",
     "grow send buffers with the congestion window (not under SO_SNDBUF)"},
    {"tcp.rcvbuf_auto", K_BOOL, F(tp_rcvbuf_auto), 0, 1, "1 (net.ipv4.tcp_moderate_rcvbuf)",
     "0 or 1", "grow receive buffers with what the reader takes per round trip "
     "(not under SO_RCVBUF)"},
    {"tcp.sack", K_BOOL, F(tp_sack), 0, 1, "1 (net.ipv4.tcp_sack)", "0 or 1",
     "offer SACK in SYNs and send SACK blocks (RFC 2018)"},
    {"tcp.ecn", K_COUNT, F(tp_ecn), 0, 2, "2 (net.ipv4.tcp_ecn)", "0, 1 or 2",
     "ECN (RFC 3168): 1 asks for it in SYNs and accepts it, 2 accepts it when asked, 0 neither"},
    {"tcp.timestamps", K_BOOL, F(tp_timestamps), 0, 1, "1 (net.ipv4.tcp_timestamps)",
     "0 or 1", "offer timestamps in SYNs and use them (RFC 7323)"},
    {"tcp.window_scaling", K_BOOL, F(tp_window_scaling), 0, 1,
     "1 (net.ipv4.tcp_window_scaling)", "0 or 1",
     "offer window scaling in SYNs (RFC 7323); off, windows stop at 65535"},
    {"tcp.mss_clamp", K_BYTES, F(tp_mss_clamp), 0, 65495, "none (iptables TCPMSS)",
     "0 (none) or bytes, 88..65495", "the largest MSS announced in SYNs and used to send"},
    {"tcp.initial_window", K_COUNT, F(tp_initial_window), 1, 1000,
     "10 (TCP_INIT_CWND; ip route initcwnd)", "segments, 1..1000",
     "congestion window a connection starts with, in segments (RFC 6928)"},
    {"tcp.rto_min", K_TIME, F(tp_rto_min), RN_MSEC(1), RN_SEC(60),
     "200ms (TCP_RTO_MIN; ip route rto_min)", "a time, 1ms..60s, at most tcp.rto_max",
     "the least retransmission timeout"},
    {"tcp.rto_max", K_TIME, F(tp_rto_max), RN_MSEC(1), RN_SEC(600),
     "120s (TCP_RTO_MAX; net.ipv4.tcp_rto_max_ms)", "a time, 1ms..600s",
     "the most retransmission timeout, backoff included"},
    {"tcp.rto_initial", K_TIME, F(tp_rto_initial), RN_MSEC(1), RN_SEC(600),
     "1s (TCP_TIMEOUT_INIT)", "a time, 1ms..600s, at most tcp.rto_max",
     "retransmission timeout before the first RTT sample (RFC 6298 2.1)"},
    {"tcp.delack", K_TIME, F(tp_delack), RN_MSEC(1), RN_MSEC(500),
     "40ms..200ms (TCP_DELACK_MIN..MAX)", "a time, 1ms..500ms",
     "how long an ACK may wait for more data or a second segment"},
    {"tcp.msl", K_TIME, F(tp_msl), RN_MSEC(1), RN_SEC(600), "30s (TIME_WAIT is 60s)",
     "a time, 1ms..600s", "maximum segment lifetime: TIME_WAIT lasts twice as long"},
    {"tcp.timewait_max", K_COUNT, F(tp_timewait_max), 1, 16u << 20,
     "depends on memory (net.ipv4.tcp_max_tw_buckets)", "entries, 1..16777216",
     "TIME_WAIT entries kept at most; beyond, the oldest ends early"},
    {"tcp.syn_retries", K_COUNT, F(tp_syn_retries), 1, 127, "6 (net.ipv4.tcp_syn_retries)",
     "1..127", "SYN retransmissions before a connect gives up (TCP_SYNCNT per socket)"},
    {"tcp.synack_retries", K_COUNT, F(tp_synack_retries), 1, 127,
     "5 (net.ipv4.tcp_synack_retries)", "1..127",
     "SYN+ACK retransmissions before a half-open connection is dropped"},
    {"tcp.retries", K_COUNT, F(tp_retries), 1, 255, "15 (net.ipv4.tcp_retries2)", "1..255",
     "data retransmissions before the connection is dropped"},
    {"tcp.keepidle", K_TIME, F(tp_keepidle), RN_SEC(1), RN_SEC(32767),
     "2h (net.ipv4.tcp_keepalive_time)", "a time, 1s..32767s",
     "idle time before the first keepalive probe (TCP_KEEPIDLE per socket)"},
    {"tcp.keepintvl", K_TIME, F(tp_keepintvl), RN_SEC(1), RN_SEC(32767),
     "75s (net.ipv4.tcp_keepalive_intvl)", "a time, 1s..32767s",
     "time between keepalive probes (TCP_KEEPINTVL per socket)"},
    {"tcp.keepcnt", K_COUNT, F(tp_keepcnt), 1, 127, "9 (net.ipv4.tcp_keepalive_probes)",
     "1..127", "keepalive probes unanswered before the connection is dropped"},
    {"tcp.fin_timeout", K_TIME, F(tp_fin_wait_2), RN_SEC(1), RN_SEC(3600),
     "60s (net.ipv4.tcp_fin_timeout)", "a time, 1s..1h",
     "how long a closed connection waits in FIN_WAIT_2 for the peer's FIN"},
    {"tcp.port_range", K_RANGE, F(tp_port_lo), 1, 65535,
     "32768-60999 (net.ipv4.ip_local_port_range)", "LO-HI, 1 <= LO <= HI <= 65535",
     "ephemeral ports of connects and binds to port 0"},
    {"tcp.congestion", K_CC, F(tp_cc), 0, 0, "cubic (net.ipv4.tcp_congestion_control)",
     "an algorithm's name: newreno or cubic", "congestion control of new connections"},
    {"tcp.syncookies", K_COUNT, F(tp_syncookies), 0, 2, "1 (net.ipv4.tcp_syncookies)",
     "0, 1 or 2", "SYN cookies (RFC 4987): 0 never, 1 when a listener's SYN queue is full, "
     "2 always"},
    {"tcp.challenge_ack_limit", K_COUNT, F(tp_challenge_ack_limit), 1, 1u << 30,
     "1000 (net.ipv4.tcp_challenge_ack_limit; unlimited since Linux 6.0)", "1..1073741824",
     "challenge ACKs (RFC 5961) a second, stack-wide, on average: each second's budget is "
     "drawn at random between half and 1.5 times it; a connection sends one per 500ms at most"},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

void rn_tcp_params_init(struct rn_tcp_params *p)
{
    memset(p, 0, sizeof(*p));
    p->tp_sndbuf = 256 * 1024;
    p->tp_sndbuf_max = 4 * 1024 * 1024;
    p->tp_rcvbuf = 512 * 1024;
    p->tp_rcvbuf_max = 6 * 1024 * 1024;
    p->tp_sndbuf_auto = true;
    p->tp_rcvbuf_auto = true;
    p->tp_sack = true;
    p->tp_ecn = 2;
    p->tp_timestamps = true;
    p->tp_window_scaling = true;
    p->tp_mss_clamp = 0;
    p->tp_initial_window = 10;
    p->tp_rto_min = RN_MSEC(200);
    p->tp_rto_max = RN_SEC(60);
    p->tp_rto_initial = RN_SEC(1);
    p->tp_delack = RN_MSEC(40);
    p->tp_msl = RN_SEC(30);
    p->tp_timewait_max = 8192;
    p->tp_syn_retries = 6;
    p->tp_synack_retries = 5;
    p->tp_retries = 15;
    p->tp_keepidle = RN_SEC(7200);
    p->tp_keepintvl = RN_SEC(75);
    p->tp_keepcnt = 9;
    p->tp_fin_wait_2 = RN_SEC(60);
    p->tp_port_lo = RN_EPHEMERAL_LO;
    p->tp_port_hi = RN_EPHEMERAL_HI;
    snprintf(p->tp_cc, sizeof(p->tp_cc), "%s", "cubic");
    p->tp_syncookies = 1;
    p->tp_challenge_ack_limit = 1000;
}

static const struct setting *setting_find(const char *name)
{
    size_t i;

    for (i = 0; i < NSETTINGS; i++) {
        if (strcmp(settings[i].s_name, name) == 0)
            return &settings[i];
    }
    return NULL;
}

/* ---- Reading values ----------------------------------------------------------- */

/* An unsigned decimal number at *s, advancing *s past it.  Returns false
 * if there is none or it overflows. */
static bool read_number(const char **s, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = *s;

    if (!isdigit((unsigned char)*p))
        return false;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *s = p;
    *out = v;
    return true;
}

static bool read_bool(const char *s, bool *out)
{
    static const char *const on[] = {"1", "on", "yes", "true"};
    static const char *const off[] = {"0", "off", "no", "false"};
    size_t i;

    for (i = 0; i < 4; i++) {
        if (strcasecmp(s, on[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, off[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool read_bytes(const char *s, uint64_t *out)
{
    uint64_t v, mul = 1;

    if (!read_number(&s, &v))
        return false;
    if (*s == 'K' || *s == 'k')
        mul = KIB;
    else if (*s == 'M' || *s == 'm')
        mul = MIB;
    else if (*s == 'G' || *s == 'g')
        mul = GIB;
    if (mul != 1)
        s++;
    if (*s != '\0' || v > UINT64_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}

/* A time: a number and its unit; "0" alone needs none. */
static bool read_time(const char *s, uint64_t *out)
{
    static const struct {
        const char *u;
        uint64_t ns;
    } units[] = {
        {"ns", 1}, {"us", 1000}, {"ms", 1000 * 1000}, {"s", RN_NSEC_PER_SEC},
        {"m", 60 * RN_NSEC_PER_SEC}, {"min", 60 * RN_NSEC_PER_SEC},
        {"h", 3600 * RN_NSEC_PER_SEC},
    };
    uint64_t v;
    size_t i;

    if (!read_number(&s, &v))
        return false;
    if (*s == '\0')
        return v == 0 ? (*out = 0, true) : false;
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(s, units[i].u) == 0) {
            if (v > UINT64_MAX / units[i].ns)
                return false;
            *out = v * units[i].ns;
            return true;
        }
    }
    return false;
}

static bool read_count(const char *s, uint64_t *out)
{
    return read_number(&s, out) && *s == '\0';
}

/* Reads value into the field of p that st names, within its own range. */
static int setting_write(const struct setting *st, struct rn_tcp_params *p, const char *value)
{
    char *field = (char *)p + st->s_off;
    uint64_t v, hi;
    bool b;

    switch (st->s_kind) {
    case K_BOOL:
        if (!read_bool(value, &b))
            return RN_EINVAL;
        *(bool *)field = b;
        return 0;
    case K_BYTES:
    case K_COUNT:
        if (!(st->s_kind == K_BYTES ? read_bytes(value, &v) : read_count(value, &v)))
            return RN_EINVAL;
        /* tcp.mss_clamp: 0 is "none", then 88 and up. */
        if (st->s_off == F(tp_mss_clamp) && v != 0 && v < 88)
            return RN_EINVAL;
        if ((v < st->s_min && !(st->s_off == F(tp_mss_clamp) && v == 0)) || v > st->s_max)
            return RN_EINVAL;
        *(uint32_t *)field = (uint32_t)v;
        return 0;
    case K_TIME:
        if (!read_time(value, &v) || v < st->s_min || v > st->s_max)
            return RN_EINVAL;
        *(rn_time_t *)field = (rn_time_t)v;
        return 0;
    case K_RANGE: {
        const char *s = value;

        if (!read_number(&s, &v) || *s != '-')
            return RN_EINVAL;
        s++;
        if (!read_number(&s, &hi) || *s != '\0' || v < st->s_min || hi > st->s_max || v > hi)
            return RN_EINVAL;
        p->tp_port_lo = (uint16_t)v;
        p->tp_port_hi = (uint16_t)hi;
        return 0;
    }
    case K_CC:
        if (strlen(value) >= RN_TCP_CC_NAME_MAX || rn__tcp_cc_find(value) == NULL)
            return RN_EINVAL;
        snprintf(p->tp_cc, sizeof(p->tp_cc), "%s", value);
        return 0;
    }
    return RN_EINVAL;
}

int rn_tcp_params_set(struct rn_tcp_params *p, const char *name, const char *value)
{
    const struct setting *st = name != NULL ? setting_find(name) : NULL;
    struct rn_tcp_params copy;
    int err;

    if (st == NULL)
        return RN_ENOENT;
    if (value == NULL)
        return RN_EINVAL;
    copy = *p;
    err = setting_write(st, &copy, value);
    if (err == 0)
        *p = copy;
    return err;
}

/* ---- Writing values ------------------------------------------------------------ */

/* A time with the largest unit that divides it: "200ms", "75s", "2h",
 * "0" (minutes are read but never written: "1m" reads too much like
 * "1ms"). */
static void write_time(char *buf, size_t len, rn_time_t t)
{
    static const struct {
        const char *u;
        uint64_t ns;
    } units[] = {
        {"h", 3600 * RN_NSEC_PER_SEC}, {"s", RN_NSEC_PER_SEC},
        {"ms", 1000 * 1000}, {"us", 1000}, {"ns", 1},
    };
    size_t i;

    if (t == 0) {
        snprintf(buf, len, "0");
        return;
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (t % units[i].ns == 0) {
            snprintf(buf, len, "%" PRIu64 "%s", (uint64_t)(t / units[i].ns), units[i].u);
            return;
        }
    }
}

static void setting_read(const struct setting *st, const struct rn_tcp_params *p, char *buf,
                         size_t len)
{
    const char *field = (const char *)p + st->s_off;

    switch (st->s_kind) {
    case K_BOOL:
        snprintf(buf, len, "%d", *(const bool *)field ? 1 : 0);
        return;
    case K_BYTES:
    case K_COUNT:
        snprintf(buf, len, "%" PRIu32, *(const uint32_t *)field);
        return;
    case K_TIME:
        write_time(buf, len, *(const rn_time_t *)field);
        return;
    case K_RANGE:
        snprintf(buf, len, "%u-%u", p->tp_port_lo, p->tp_port_hi);
        return;
    case K_CC:
        snprintf(buf, len, "%s", p->tp_cc);
        return;
    }
}

static void setting_row(const struct setting *st, const struct rn_tcp_params *p,
                        const struct rn_tcp_params *defaults, struct rn_tcp_setting_row *row)
{
    memset(row, 0, sizeof(*row));
    row->sr_name = st->s_name;
    setting_read(st, p, row->sr_value, sizeof(row->sr_value));
    setting_read(st, defaults, row->sr_default, sizeof(row->sr_default));
    row->sr_linux = st->s_linux;
    row->sr_accepts = st->s_accepts;
    row->sr_desc = st->s_desc;
}

void rn_tcp_params_rows(const struct rn_tcp_params *p, rn_tcp_setting_fn fn, void *ctx)
{
    struct rn_tcp_params defaults;
    struct rn_tcp_setting_row row;
    size_t i;

    rn_tcp_params_init(&defaults);
    for (i = 0; i < NSETTINGS; i++) {
        setting_row(&settings[i], p, &defaults, &row);
        fn(&row, ctx);
    }
}

int rn_tcp_params_row(const struct rn_tcp_params *p, const char *name,
                      struct rn_tcp_setting_row *out)
{
    const struct setting *st = name != NULL ? setting_find(name) : NULL;
    struct rn_tcp_params defaults;

    if (st == NULL)
        return RN_ENOENT;
    rn_tcp_params_init(&defaults);
    setting_row(st, p, &defaults, out);
    return 0;
}

/* ---- The rules ------------------------------------------------------------------ */

int rn_tcp_params_check(const struct rn_tcp_params *p, const char **why)
{
    const char *w = NULL;
    char buf[RN_TCP_SETTING_VALUE_MAX];
    size_t i;

    /* Each field within its own range: read back what it prints. */
    for (i = 0; i < NSETTINGS && w == NULL; i++) {
        struct rn_tcp_params copy = *p;

        setting_read(&settings[i], p, buf, sizeof(buf));
        if (setting_write(&settings[i], &copy, buf) != 0)
            w = "a setting lies outside its range (see refnet get tcp)";
    }
    if (w != NULL)
        ;
    else if (p->tp_sndbuf > p->tp_sndbuf_max)
        w = "tcp.sndbuf must not exceed tcp.sndbuf_max";
    else if (p->tp_rcvbuf > p->tp_rcvbuf_max)
        w = "tcp.rcvbuf must not exceed tcp.rcvbuf_max";
    else if (p->tp_rto_min > p->tp_rto_max)
        w = "tcp.rto_min must not exceed tcp.rto_max";
    else if (p->tp_rto_initial > p->tp_rto_max)
        w = "tcp.rto_initial must not exceed tcp.rto_max";
    if (why != NULL)
        *why = w;
    return w == NULL ? 0 : RN_EINVAL;
}

/* ---- Snapshots ------------------------------------------------------------------ */

struct tcp_conf *rn__tcp_conf_new(const struct rn_tcp_params *p)
{
    const struct tcp_cc_ops *cc = rn__tcp_cc_find(p->tp_cc);
    struct tcp_conf *tc;

    if (cc == NULL)
        return NULL;
    tc = calloc(1, sizeof(*tc));
    if (tc == NULL)
        return NULL;
    atomic_init(&tc->tc_refs, 1);
    tc->tc_p = *p;
    tc->tc_cc = cc;
    return tc;
}

void rn__tcp_conf_ref(struct tcp_conf *tc)
{
    atomic_fetch_add_explicit(&tc->tc_refs, 1, memory_order_relaxed);
}

void rn__tcp_conf_deref(struct tcp_conf *tc)
{
    if (tc != NULL && atomic_fetch_sub_explicit(&tc->tc_refs, 1, memory_order_acq_rel) == 1)
        free(tc);
}

int rn__tcp_conf_publish(struct tcp_stack *ts, const struct rn_tcp_params *p)
{
    struct tcp_conf *tc = rn__tcp_conf_new(p);

    if (tc == NULL)
        return RN_ENOMEM;
    rn__tcp_conf_deref(ts->ts_conf);
    ts->ts_conf = tc;
    return 0;
}

/* ---- On a live stack ------------------------------------------------------------ */

int rn_tcp_params_get(struct rn_stack *st, struct rn_tcp_params *out)
{
    struct tcp_stack *ts = rn__tcp_stack(st);

    if (ts == NULL)
        return RN_ENOENT;
    *out = ts->ts_conf->tc_p;
    return 0;
}

int rn_tcp_setting_set(struct rn_stack *st, const char *name, const char *value)
{
    struct tcp_stack *ts = rn__tcp_stack(st);
    struct rn_tcp_params p;
    int err;

    if (ts == NULL)
        return RN_ENOENT;
    p = ts->ts_conf->tc_p;
    err = rn_tcp_params_set(&p, name, value);
    if (err < 0)
        return err;
    if (rn_tcp_params_check(&p, NULL) != 0)
        return RN_ERANGE;
    return rn__tcp_conf_publish(ts, &p);
}

int rn_tcp_settings(struct rn_stack *st, rn_tcp_setting_fn fn, void *ctx)
{
    struct tcp_stack *ts = rn__tcp_stack(st);

    if (ts == NULL)
        return RN_ENOENT;
    rn_tcp_params_rows(&ts->ts_conf->tc_p, fn, ctx);
    return 0;
}

int rn_tcp_setting_get(struct rn_stack *st, const char *name, struct rn_tcp_setting_row *out)
{
    struct tcp_stack *ts = rn__tcp_stack(st);

    if (ts == NULL)
        return RN_ENOENT;
    return rn_tcp_params_row(&ts->ts_conf->tc_p, name, out);
}
