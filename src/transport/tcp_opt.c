/*
 * TCP's per-socket options (transport.h, enum rn_sockopt), as Linux gives
 * them to a program: the ranges it accepts and the errors it answers, the
 * values it reads back (SO_SNDBUF and SO_RCVBUF doubled, TCP_MAXSEG the
 * MSS in use once connected), what each does to a live connection, and
 * what a listener hands down to the connections it makes.
 *
 *   tcp_sock.c: tk_setopt / tk_getopt -> rn__tcp_opt_set / rn__tcp_opt_get
 *   tcp_sock.c: tk_setopt_str / tk_getopt_str -> rn__tcp_opt_set_str /
 *     rn__tcp_opt_get_str (TCP_CONGESTION, a name)
 *   tcp_sock.c: connect, tcp_input.c: a SYN for a listener
 *     -> rn__tcp_opt_apply(), before the SYN or SYN+ACK goes out
 *
 * Also here: the buffers a connection starts with and their autotuning,
 * since SO_SNDBUF and SO_RCVBUF decide both.  A buffer's size is counted
 * as Linux reports it; the window TCP offers is half the receive buffer
 * (as Linux with tcp_adv_win_scale 1), and the send buffer holds that
 * many bytes of payload.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "refnet/error.h"
#include "transport/tcp_priv.h"

/* Linux's floors for SO_RCVBUF and SO_SNDBUF, as they read back, and for
 * TCP_WINDOW_CLAMP. */
#define TCP_MIN_RCVBUF 2304u
#define TCP_MIN_SNDBUF 4608u
#define TCP_MIN_CLAMP (TCP_MIN_RCVBUF / 2)
/* TCP_MAXSEG's range (Linux: TCP_MIN_MSS, MAX_TCP_WINDOW). */
#define TCP_USER_MSS_MIN 88
#define TCP_USER_MSS_MAX 32767
/* TCP_KEEPIDLE and TCP_KEEPINTVL in seconds, TCP_KEEPCNT and TCP_SYNCNT. */
#define TCP_KEEP_SECS_MAX 32767
#define TCP_KEEPCNT_MAX 127
#define TCP_SYNCNT_MAX 127

static bool conn_live(const struct tcp_conn *c)
{
    return c != NULL && !(c->t_flags & TF_DONE);
}

/* An int option's value as Linux reads it: the low 32 bits, as an int. */
static int32_t as_int(int64_t val)
{
    return (int32_t)(uint32_t)(uint64_t)val;
}

/* SO_SNDBUF and SO_RCVBUF: the value capped at the ceiling, doubled, and
 * at least the floor.  A negative int is a huge unsigned one to Linux. */
static uint32_t sockbuf(int64_t val, uint32_t max, uint32_t floor)
{
    uint64_t v = (uint32_t)as_int(val);

    if (v > max)
        v = max;
    v *= 2;
    if (v > UINT32_MAX)
        v = UINT32_MAX;
    return v < floor ? floor : (uint32_t)v;
}

static void set_flag(uint32_t *flags, uint32_t bit, bool on)
{
    if (on)
        *flags |= bit;
    else
        *flags &= ~bit;
}

/* The connection's flag for a boolean option, as the user sees it. */
static uint32_t conn_flag(uint32_t uo_bit)
{
    switch (uo_bit) {
    case UO_NODELAY:
        return TF_NODELAY;
    case UO_KEEPALIVE:
        return TF_KEEPALIVE;
    case UO_CORK:
        return TF_CORK;
    default:
        return 0;
    }
}

/* Sets a boolean option in uo and on c and l. */
static void set_bool(struct tcp_uopts *uo, struct tcp_conn *c, struct tcp_listener *l,
                     uint32_t bit, bool on)
{
    set_flag(&uo->uo_flags, bit, on);
    if (l != NULL)
        set_flag(&l->l_uo.uo_flags, bit, on);
    if (c != NULL) {
        set_flag(&c->t_uo.uo_flags, bit, on);
        if (conn_flag(bit) != 0)
            set_flag(&c->t_flags, conn_flag(bit), on);
    }
}

/* The keepalive timer after a change of its times: counted from the
 * last segment received, as Linux re-arms it. */
static void keep_rearm(struct tcp_conn *c)
{
    if (conn_live(c) && (c->t_flags & TF_KEEPALIVE) && tcp_state(c) >= TCPS_ESTABLISHED &&
        tcp_state(c) != TCPS_TIME_WAIT) {
        c->t_keep_probes = 0;
        rn__tcp_timer_arm(c, TCP_T_KEEP, c->t_last_recv + rn__tcp_keepidle(c));
    }
}

int rn__tcp_opt_set(struct tcp_stack *ts, struct tcp_uopts *uo, struct tcp_conn *c,
                    struct tcp_listener *l, enum rn_sockopt opt, int64_t val)
{
    const struct rn_tcp_params *p = &ts->ts_conf->tc_p;
    struct tcp_uopts *cu = c != NULL ? &c->t_uo : NULL, *lu = l != NULL ? &l->l_uo : NULL;
    int32_t v = as_int(val);
    bool on = v != 0;

    switch (opt) {
    case RN_SO_SNDBUF: {
        uint32_t b = sockbuf(val, p->tp_sndbuf_max, TCP_MIN_SNDBUF);

        uo->uo_sndbuf = b;
        if (lu != NULL)
            lu->uo_sndbuf = b;
        if (c != NULL) {
            cu->uo_sndbuf = b;
            c->t_flags |= TF_SNDBUF_LOCK;
            c->t_snd.sb_max = b;
            if (conn_live(c) && b > c->t_snd.sb_len)
                rn__tcp_upcall_writable(c);
        }
        return 0;
    }
    case RN_SO_RCVBUF: {
        uint32_t b = sockbuf(val, p->tp_rcvbuf_max, TCP_MIN_RCVBUF);

        uo->uo_rcvbuf = b;
        if (lu != NULL)
            lu->uo_rcvbuf = b;
        if (c != NULL) {
            /* The window scale was fixed at the SYN: a larger buffer set
             * now is offered as far as the scale reaches. */
            cu->uo_rcvbuf = b;
            c->t_flags |= TF_RCVBUF_LOCK;
            c->rcv_buf = b / 2;
            if (conn_live(c) && tcp_state(c) >= TCPS_ESTABLISHED && rn__tcp_window_update_due(c)) {
                c->t_flags |= TF_ACKNOW;
                rn__tcp_output(c);
            }
        }
        return 0;
    }
    case RN_SO_KEEPALIVE:
        set_bool(uo, c, l, UO_KEEPALIVE, on);
        if (conn_live(c) && tcp_state(c) >= TCPS_ESTABLISHED)
            rn__tcp_keep_reset(c);
        return 0;
    case RN_TCP_NODELAY:
        set_bool(uo, c, l, UO_NODELAY, on);
        /* Turning Nagle off sends what it held, even past a cork. */
        if (on && conn_live(c)) {
            c->t_flags |= TF_PUSH_ONCE;
            rn__tcp_output(c);
        }
        return 0;
    case RN_TCP_CORK:
        set_bool(uo, c, l, UO_CORK, on);
        if (!on && conn_live(c)) {
            rn__tcp_timer_stop(c, TCP_T_CORK);
            if (c->t_flags & TF_NODELAY)
                c->t_flags |= TF_PUSH_ONCE;
            rn__tcp_output(c);
        }
        return 0;
    case RN_SO_REUSEADDR:
        set_bool(uo, c, l, UO_REUSEADDR, on);
        return 0;
    case RN_SO_REUSEPORT:
        set_bool(uo, c, l, UO_REUSEPORT, on);
        return 0;
    case RN_IPV6_V6ONLY:
        /* As on Linux: fixed once the socket is bound, listening or
         * connected (the socket layer refuses it on an AF_INET socket). */
        if (c != NULL || l != NULL)
            return RN_EINVAL;
        set_bool(uo, c, l, UO_V6ONLY, on);
        return 0;
    case RN_TCP_MAXSEG:
        /* Takes effect at the next SYN this socket (or listener) sends. */
        if (v != 0 && (v < TCP_USER_MSS_MIN || v > TCP_USER_MSS_MAX))
            return RN_EINVAL;
        uo->uo_maxseg = (uint32_t)v;
        if (lu != NULL)
            lu->uo_maxseg = (uint32_t)v;
        if (cu != NULL)
            cu->uo_maxseg = (uint32_t)v;
        return 0;
    case RN_TCP_KEEPIDLE:
    case RN_TCP_KEEPINTVL: {
        uint32_t t = (uint32_t)v;  /* seconds */

        if (v < 1 || v > TCP_KEEP_SECS_MAX)
            return RN_EINVAL;
        if (opt == RN_TCP_KEEPIDLE) {
            uo->uo_keepidle = t;
            if (lu != NULL)
                lu->uo_keepidle = t;
            if (cu != NULL)
                cu->uo_keepidle = t;
            keep_rearm(c);
        } else {
            uo->uo_keepintvl = t;
            if (lu != NULL)
                lu->uo_keepintvl = t;
            if (cu != NULL)
                cu->uo_keepintvl = t;
        }
        return 0;
    }
    case RN_TCP_KEEPCNT:
        if (v < 1 || v > TCP_KEEPCNT_MAX)
            return RN_EINVAL;
        uo->uo_keepcnt = (uint32_t)v;
        if (lu != NULL)
            lu->uo_keepcnt = (uint32_t)v;
        if (cu != NULL)
            cu->uo_keepcnt = (uint32_t)v;
        return 0;
    case RN_TCP_SYNCNT:
        if (v < 1 || v > TCP_SYNCNT_MAX)
            return RN_EINVAL;
        uo->uo_syncnt = (uint32_t)v;
        if (lu != NULL)
            lu->uo_syncnt = (uint32_t)v;
        if (cu != NULL)
            cu->uo_syncnt = (uint32_t)v;
        return 0;
    case RN_TCP_USER_TIMEOUT:
        if (v < 0)
            return RN_EINVAL;
        uo->uo_user_timeout = (uint32_t)v;
        if (lu != NULL)
            lu->uo_user_timeout = (uint32_t)v;
        if (cu != NULL) {
            cu->uo_user_timeout = (uint32_t)v;
            /* A running retransmission timer may now be due sooner. */
            if (conn_live(c) && tcp_timer_armed(c, TCP_T_REXMT) && !c->t_persist)
                rn__tcp_rexmt_start(c);
        }
        return 0;
    case RN_TCP_WINDOW_CLAMP: {
        uint32_t w;

        /* 0 clears it, but only on a socket that is not connected or
         * listening yet. */
        if (v == 0) {
            if (c != NULL || l != NULL)
                return RN_EINVAL;
            uo->uo_window_clamp = 0;
            return 0;
        }
        w = v < (int32_t)TCP_MIN_CLAMP ? TCP_MIN_CLAMP : (uint32_t)v;
        uo->uo_window_clamp = w;
        if (lu != NULL)
            lu->uo_window_clamp = w;
        if (cu != NULL)
            cu->uo_window_clamp = w;
        return 0;
    }
    case RN_IP_TOS: {
        /* A stream's ECN bits are TCP's own, as in Linux: the two low
         * bits of the value are ignored. */
        uint8_t tos = (uint8_t)(v & 0xfc);

        uo->uo_tos = tos;
        if (lu != NULL)
            lu->uo_tos = tos;
        if (cu != NULL)
            cu->uo_tos = tos;
        return 0;
    }
    case RN_SO_LISTEN_REFUSE:
        if (l == NULL || (v != 0 && v != 1))
            return RN_EINVAL;
        l->l_refuse = on;
        return 0;
    case RN_IP_TTL:
        if (v != -1 && (v < 1 || v > 255))
            return RN_EINVAL;
        uo->uo_ttl = v == -1 ? 0 : (uint8_t)v;
        if (lu != NULL)
            lu->uo_ttl = uo->uo_ttl;
        if (cu != NULL)
            cu->uo_ttl = uo->uo_ttl;
        return 0;
    default:
        return RN_ENOPROTOOPT;
    }
}

int rn__tcp_opt_get(struct tcp_stack *ts, const struct tcp_uopts *uo, const struct tcp_conn *c,
                    const struct tcp_listener *l, enum rn_sockopt opt, int64_t *val)
{
    const struct rn_tcp_params *p = c != NULL ? &c->t_conf->tc_p : &ts->ts_conf->tc_p;
    const struct tcp_uopts *u = c != NULL ? &c->t_uo : l != NULL ? &l->l_uo : uo;

    switch (opt) {
    case RN_SO_SNDBUF:
        *val = c != NULL ? c->t_snd.sb_max : u->uo_sndbuf ? u->uo_sndbuf : p->tp_sndbuf;
        return 0;
    case RN_SO_RCVBUF:
        *val = c != NULL ? (int64_t)c->rcv_buf * 2 : u->uo_rcvbuf ? u->uo_rcvbuf : p->tp_rcvbuf;
        return 0;
    case RN_SO_KEEPALIVE:
        *val = c != NULL ? (c->t_flags & TF_KEEPALIVE) != 0 : (u->uo_flags & UO_KEEPALIVE) != 0;
        return 0;
    case RN_TCP_NODELAY:
        *val = c != NULL ? (c->t_flags & TF_NODELAY) != 0 : (u->uo_flags & UO_NODELAY) != 0;
        return 0;
    case RN_TCP_CORK:
        *val = c != NULL ? (c->t_flags & TF_CORK) != 0 : (u->uo_flags & UO_CORK) != 0;
        return 0;
    case RN_SO_REUSEADDR:
        *val = (u->uo_flags & UO_REUSEADDR) != 0;
        return 0;
    case RN_SO_REUSEPORT:
        *val = (u->uo_flags & UO_REUSEPORT) != 0;
        return 0;
    case RN_IPV6_V6ONLY:
        *val = (u->uo_flags & UO_V6ONLY) != 0;
        return 0;
    case RN_TCP_MAXSEG:
        /* Connected: the MSS in use; before: what was asked, or the
         * default of RFC 9293. */
        if (c != NULL)
            *val = c->t_maxseg;
        else
            *val = u->uo_maxseg != 0 ? u->uo_maxseg : TCP_DEFAULT_MSS;
        return 0;
    case RN_TCP_KEEPIDLE:
        *val = u->uo_keepidle ? (int64_t)u->uo_keepidle
                              : (int64_t)(p->tp_keepidle / RN_NSEC_PER_SEC);
        return 0;
    case RN_TCP_KEEPINTVL:
        *val = u->uo_keepintvl ? (int64_t)u->uo_keepintvl
                               : (int64_t)(p->tp_keepintvl / RN_NSEC_PER_SEC);
        return 0;
    case RN_TCP_KEEPCNT:
        *val = u->uo_keepcnt ? u->uo_keepcnt : p->tp_keepcnt;
        return 0;
    case RN_TCP_SYNCNT:
        *val = u->uo_syncnt ? u->uo_syncnt : p->tp_syn_retries;
        return 0;
    case RN_TCP_USER_TIMEOUT:
        *val = u->uo_user_timeout;
        return 0;
    case RN_SO_LISTEN_REFUSE:
        *val = l != NULL && l->l_refuse;
        return 0;
    case RN_TCP_WINDOW_CLAMP:
        /* Connected without a clamp: the largest window it may offer. */
        if (u->uo_window_clamp != 0)
            *val = u->uo_window_clamp;
        else
            *val = c != NULL ? c->rcv_buf : 0;
        return 0;
    case RN_IP_TOS:
        *val = u->uo_tos;
        return 0;
    case RN_IP_TTL:
        *val = u->uo_ttl != 0 ? u->uo_ttl : rn__ip_default_ttl(ts->ts_stack);
        return 0;
    default:
        return RN_ENOPROTOOPT;
    }
}

int rn__tcp_opt_set_str(struct tcp_stack *ts, struct tcp_uopts *uo, struct tcp_conn *c,
                        struct tcp_listener *l, enum rn_sockopt opt, const char *name)
{
    const struct tcp_cc_ops *cc;

    (void)ts;
    if (opt != RN_TCP_CONGESTION)
        return RN_EINVAL;
    /* Linux's name of NewReno is "reno". */
    cc = rn__tcp_cc_find(strcmp(name, "reno") == 0 ? "newreno" : name);
    if (cc == NULL)
        return RN_ENOENT;
    uo->uo_cc = rn__tcp_cc_id(cc);
    if (l != NULL)
        l->l_uo.uo_cc = uo->uo_cc;
    if (c != NULL) {
        c->t_uo.uo_cc = uo->uo_cc;
        rn__tcp_cc_set(c, cc);
    }
    return 0;
}

int rn__tcp_opt_get_str(struct tcp_stack *ts, const struct tcp_uopts *uo,
                        const struct tcp_conn *c, const struct tcp_listener *l,
                        enum rn_sockopt opt, char *buf, size_t len)
{
    const struct tcp_cc_ops *cc;

    if (opt != RN_TCP_CONGESTION || len == 0)
        return RN_EINVAL;
    if (c != NULL)
        cc = c->t_cc;
    else if (l != NULL && l->l_uo.uo_cc != 0)
        cc = rn__tcp_cc_of(l->l_uo.uo_cc);
    else if (uo->uo_cc != 0)
        cc = rn__tcp_cc_of(uo->uo_cc);
    else
        cc = ts->ts_conf->tc_cc;
    snprintf(buf, len, "%s", cc->cc_name);
    return 0;
}

void rn__tcp_opt_apply(struct tcp_conn *c, const struct tcp_uopts *uo)
{
    c->t_uo = *uo;
    if (uo->uo_cc != 0)
        c->t_cc = rn__tcp_cc_of(uo->uo_cc);
    set_flag(&c->t_flags, TF_NODELAY, (uo->uo_flags & UO_NODELAY) != 0);
    set_flag(&c->t_flags, TF_KEEPALIVE, (uo->uo_flags & UO_KEEPALIVE) != 0);
    set_flag(&c->t_flags, TF_CORK, (uo->uo_flags & UO_CORK) != 0);
    if (uo->uo_sndbuf != 0) {
        c->t_flags |= TF_SNDBUF_LOCK;
        c->t_snd.sb_max = uo->uo_sndbuf;
    }
    if (uo->uo_rcvbuf != 0)
        c->t_flags |= TF_RCVBUF_LOCK;
    rn__tcp_rcvbuf_init(c);
    rn__tcp_mss_update(c, c->t_peer_mss != 0 ? c->t_peer_mss : TCP_DEFAULT_MSS);
}

rn_time_t rn__tcp_keepidle(const struct tcp_conn *c)
{
    return c->t_uo.uo_keepidle ? RN_SEC(c->t_uo.uo_keepidle) : c->t_conf->tc_p.tp_keepidle;
}

rn_time_t rn__tcp_keepintvl(const struct tcp_conn *c)
{
    return c->t_uo.uo_keepintvl ? RN_SEC(c->t_uo.uo_keepintvl) : c->t_conf->tc_p.tp_keepintvl;
}

uint32_t rn__tcp_keepcnt(const struct tcp_conn *c)
{
    return c->t_uo.uo_keepcnt ? c->t_uo.uo_keepcnt : c->t_conf->tc_p.tp_keepcnt;
}

/* ---- Buffers and their autotuning ------------------------------------------- */

void rn__tcp_rcvbuf_init(struct tcp_conn *c)
{
    const struct rn_tcp_params *p = &c->t_conf->tc_p;
    uint32_t most;

    if (c->t_flags & TF_RCVBUF_LOCK) {
        c->rcv_buf = c->t_uo.uo_rcvbuf / 2;
        most = c->rcv_buf;
    } else {
        c->rcv_buf = p->tp_rcvbuf / 2;
        most = p->tp_rcvbuf_auto ? p->tp_rcvbuf_max / 2 : c->rcv_buf;
    }
    if (c->t_uo.uo_window_clamp != 0 && c->t_uo.uo_window_clamp < most)
        most = c->t_uo.uo_window_clamp;
    /* Offer the scale that lets the largest window it may come to be
     * advertised (RFC 7323 2.3). */
    c->request_r_scale = 0;
    while (c->request_r_scale < TCP_MAX_WINDOW_SHIFT && (most >> c->request_r_scale) > 65535)
        c->request_r_scale++;
}

void rn__tcp_rcvbuf_tune(struct tcp_conn *c, size_t n)
{
    const struct rn_tcp_params *p = &c->t_conf->tc_p;
    rn_time_t now, round;
    uint64_t copied, want, most;

    c->t_bytes_read += n;
    if ((c->t_flags & (TF_RCVBUF_LOCK | TF_DONE)) || !p->tp_rcvbuf_auto || c->t_srtt == 0)
        return;
    now = rn_stack_now(c->t_tcp->ts_stack);
    round = c->t_srtt > RN_MSEC(1) ? c->t_srtt : RN_MSEC(1);
    if (c->t_rs_since == 0) {
        c->t_rs_since = now;
        c->t_rs_copied = c->t_bytes_read - n;
        return;
    }
    if (now - c->t_rs_since < round)
        return;
    /* What the reader took in the last round trip: the buffer should
     * hold twice that, so that the sender may double its rate in the
     * next (dynamic right-sizing, as Linux's tcp_rcv_space_adjust). */
    copied = c->t_bytes_read - c->t_rs_copied;
    want = 2 * copied;
    most = p->tp_rcvbuf_max / 2;
    if (c->t_flags & TF_SCALE) {
        if (most > (uint64_t)65535 << c->rcv_scale)
            most = (uint64_t)65535 << c->rcv_scale;
    } else if (most > 65535) {
        most = 65535;
    }
    if (want > most)
        want = most;
    if (want > c->rcv_buf)
        c->rcv_buf = (uint32_t)want;
    c->t_rs_since = now;
    c->t_rs_copied = c->t_bytes_read;
}

void rn__tcp_sndbuf_tune(struct tcp_conn *c)
{
    const struct rn_tcp_params *p = &c->t_conf->tc_p;
    uint64_t want;

    if ((c->t_flags & TF_SNDBUF_LOCK) || !p->tp_sndbuf_auto)
        return;
    /* Only a sender that the congestion window limits, not the peer's
     * window, and whose writer fills the buffer, is worth more room. */
    if (c->t_snd.sb_len + c->t_maxseg < c->t_snd.sb_max || c->snd_wnd < c->snd_cwnd ||
        c->snd_max - c->snd_una + c->t_maxseg < c->snd_cwnd)
        return;
    /* Room for two congestion windows: one in flight, one queued behind
     * it (as Linux's tcp_sndbuf_expand). */
    want = 2 * (uint64_t)c->snd_cwnd;
    if (want > p->tp_sndbuf_max)
        want = p->tp_sndbuf_max;
    /* The ACK that grew the window tells the writer (tcp_input.c). */
    if (want > c->t_snd.sb_max)
        c->t_snd.sb_max = (uint32_t)want;
}
