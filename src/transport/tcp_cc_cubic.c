/*
 * Congestion control "cubic": CUBIC (RFC 9438) for congestion avoidance,
 * with HyStart++ (RFC 9406) leaving the first slow start before it
 * overshoots; loss recovery is NewReno's fast recovery (RFC 6582), as
 * RFC 9438 4.6 leaves it to the recovery in use.  Reached through the
 * connection's algorithm (tcp_cc.c).
 *
 * After a reduction from W_max the window follows, in segments and
 * seconds since congestion avoidance began,
 *
 *     W_cubic(t) = C (t - K)^3 + W_max,   K = cbrt((W_max - cwnd_epoch) / C)
 *
 * concave up to W_max, flat around it, then convex as it probes beyond;
 * each ACK moves the window a share of the way to W_cubic(t + RTT).  Where
 * Reno would grow faster (short round trips, small windows) the window
 * follows Reno's estimate instead (RFC 9438 4.3).
 */
#include <math.h>

#include "transport/tcp_priv.h"

#define CWND_MAX (1u << 30)
#define CUBIC_C 0.4      /* RFC 9438 4.1 */
#define CUBIC_BETA 0.7   /* RFC 9438 4.6: the window kept on a loss */

/* HyStart++ constants (RFC 9406 4.3). */
#define HS_MIN_RTT_THRESH RN_MSEC(4)
#define HS_MAX_RTT_THRESH RN_MSEC(16)
#define HS_MIN_RTT_DIVISOR 8
#define HS_N_RTT_SAMPLE 8
#define HS_CSS_GROWTH_DIVISOR 4
#define HS_CSS_ROUNDS 5

static void cubic_init(struct tcp_conn *c)
{
    c->snd_cwnd = c->t_conf->tc_p.tp_initial_window * c->t_maxseg;
    c->snd_ssthresh = CWND_MAX;
    c->t_flags &= ~TF_INRECOVERY;
    c->t_cubic = (struct tcp_cubic){.hs_round_end = c->snd_max};
}

/* HyStart++ on an ACK in the first slow start: tracks the least RTT of
 * each round, and once it rises by more than an eighth (4 to 16 ms) goes
 * to conservative slow start, a quarter of the growth; back to slow start
 * if the RTT falls below where that began, or after five rounds there on
 * to congestion avoidance.  Returns the divisor of this ACK's growth, or 0
 * if slow start just ended. */
static uint32_t hystart(struct tcp_conn *c)
{
    struct tcp_cubic *cu = &c->t_cubic;

    if (SEQ_GT(c->snd_una, cu->hs_round_end)) {
        cu->hs_round_end = c->snd_max;
        if (cu->hs_cur_min != 0)
            cu->hs_last_min = cu->hs_cur_min;
        cu->hs_cur_min = 0;
        cu->hs_samples = 0;
        if (cu->hs_css && ++cu->hs_css_rounds >= HS_CSS_ROUNDS) {
            c->snd_ssthresh = c->snd_cwnd;
            cu->hs_done = true;
            return 0;
        }
    }
    if (c->t_last_rtt != 0) {
        if (cu->hs_cur_min == 0 || c->t_last_rtt < cu->hs_cur_min)
            cu->hs_cur_min = c->t_last_rtt;
        cu->hs_samples++;
    }
    if (cu->hs_samples >= HS_N_RTT_SAMPLE && cu->hs_last_min != 0) {
        rn_time_t eta = cu->hs_last_min / HS_MIN_RTT_DIVISOR;

        if (eta < HS_MIN_RTT_THRESH)
            eta = HS_MIN_RTT_THRESH;
        if (eta > HS_MAX_RTT_THRESH)
            eta = HS_MAX_RTT_THRESH;
        if (!cu->hs_css && cu->hs_cur_min >= cu->hs_last_min + eta) {
            cu->hs_css = true;
            cu->hs_css_base = cu->hs_cur_min;
            cu->hs_css_rounds = 0;
        } else if (cu->hs_css && cu->hs_cur_min < cu->hs_css_base) {
            cu->hs_css = false;  /* the rise was noise: slow start again */
        }
    }
    return cu->hs_css ? HS_CSS_GROWTH_DIVISOR : 1;
}

/* W_cubic(t) in bytes, t in stack time since the epoch. */
static double w_cubic(const struct tcp_conn *c, rn_time_t t)
{
    double d = ((double)t - (double)c->t_cubic.cu_k) / RN_NSEC_PER_SEC;

    return (CUBIC_C * d * d * d) * c->t_maxseg + c->t_cubic.cu_w_max;
}

static void cubic_avoid(struct tcp_conn *c, uint32_t acked)
{
    struct tcp_cubic *cu = &c->t_cubic;
    rn_time_t now = rn_stack_now(c->t_tcp->ts_stack), t, rtt = c->t_srtt;
    uint32_t mss = c->t_maxseg;
    double target, alpha, est;

    if (cu->cu_epoch == 0) {
        cu->cu_epoch = now;
        cu->cu_cwnd_epoch = c->snd_cwnd;
        cu->cu_w_est = c->snd_cwnd;
        if (cu->cu_w_max <= c->snd_cwnd) {
            cu->cu_k = 0;
            cu->cu_w_max = c->snd_cwnd;
        } else {
            double segs = (double)(cu->cu_w_max - c->snd_cwnd) / mss;

            cu->cu_k = (rn_time_t)(cbrt(segs / CUBIC_C) * RN_NSEC_PER_SEC);
        }
    }
    t = now - cu->cu_epoch;
    /* Reno's estimate: alpha segments a round trip, 1 once past W_max. */
    alpha = cu->cu_w_est >= cu->cu_w_max ? 1.0 : 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA);
    est = cu->cu_w_est + alpha * mss * acked / c->snd_cwnd;
    cu->cu_w_est = est > CWND_MAX ? CWND_MAX : (uint32_t)est;
    if (w_cubic(c, t) < cu->cu_w_est) {
        if (cu->cu_w_est > c->snd_cwnd)
            c->snd_cwnd = cu->cu_w_est;
        return;
    }
    /* A share of the way to where the curve is one round trip on, at
     * most half the window ahead. */
    target = w_cubic(c, t + rtt);
    if (target < c->snd_cwnd)
        target = c->snd_cwnd;
    if (target > 1.5 * c->snd_cwnd)
        target = 1.5 * c->snd_cwnd;
    est = c->snd_cwnd + (target - c->snd_cwnd) * acked / c->snd_cwnd;
    c->snd_cwnd = est > CWND_MAX ? CWND_MAX : (uint32_t)est;
}

static void cubic_ack(struct tcp_conn *c, uint32_t acked)
{
    uint32_t mss = c->t_maxseg, incr, div = 1;

    if (c->snd_cwnd >= c->snd_ssthresh) {
        cubic_avoid(c, acked);
        return;
    }
    if (!c->t_cubic.hs_done && c->snd_ssthresh == CWND_MAX) {
        div = hystart(c);
        if (div == 0)
            return;  /* slow start ended: congestion avoidance from the next ACK */
    }
    /* Slow start with appropriate byte counting, L = 2 (RFC 3465). */
    incr = (acked < 2 * mss ? acked : 2 * mss) / div;
    c->snd_cwnd = c->snd_cwnd + incr > CWND_MAX ? CWND_MAX : c->snd_cwnd + incr;
}

/* A congestion event: W_max remembers the window (less, by fast
 * convergence, if it did not get back to the last one, RFC 9438 4.7),
 * ssthresh keeps beta of it, and the next congestion avoidance starts a
 * new epoch. */
static void cubic_reduce(struct tcp_conn *c)
{
    struct tcp_cubic *cu = &c->t_cubic;
    uint32_t cwnd = c->snd_cwnd, floor = 2 * c->t_maxseg;

    if (cwnd < cu->cu_w_max)
        cu->cu_w_max = (uint32_t)(cwnd * (1 + CUBIC_BETA) / 2);
    else
        cu->cu_w_max = cwnd;
    c->snd_ssthresh = (uint32_t)(cwnd * CUBIC_BETA);
    if (c->snd_ssthresh < floor)
        c->snd_ssthresh = floor;
    cu->cu_epoch = 0;
    cu->hs_done = true;
}

static void cubic_fast_retransmit(struct tcp_conn *c)
{
    cubic_reduce(c);
    c->snd_recover = c->snd_max;
    c->t_flags |= TF_INRECOVERY;
    c->t_tcp->ts_fast_retransmits++;
    rn__tcp_retransmit_one(c);
    c->snd_cwnd = c->snd_ssthresh + 3 * c->t_maxseg;
    rn__tcp_rexmt_start(c);
}

static void cubic_rto(struct tcp_conn *c)
{
    /* Only the first timeout of a series is a congestion event; the
     * backoffs after it find the window at one segment already. */
    if (c->t_rxtshift <= 1)
        cubic_reduce(c);
    c->snd_cwnd = c->t_maxseg;
    c->t_flags &= ~TF_INRECOVERY;
    c->snd_recover = c->snd_max;
}

static void cubic_ecn(struct tcp_conn *c)
{
    cubic_reduce(c);
    c->snd_cwnd = c->snd_ssthresh;
}

/* A connection under way turns to CUBIC: no W_max is known yet, so the
 * next congestion avoidance starts its curve at the window it finds;
 * HyStart++ runs only if the first slow start is still going on. */
static void cubic_adopt(struct tcp_conn *c)
{
    c->t_cubic = (struct tcp_cubic){
        .hs_round_end = c->snd_max,
        .hs_done = c->snd_ssthresh < CWND_MAX,
    };
}

const struct tcp_cc_ops rn__tcp_cc_cubic = {
    .cc_name = "cubic",
    .cc_init = cubic_init,
    .cc_ack = cubic_ack,
    .cc_fast_retransmit = cubic_fast_retransmit,
    .cc_dupack = rn__tcp_newreno_dupack,
    .cc_recovery_ack = rn__tcp_newreno_recovery_ack,
    .cc_rto = cubic_rto,
    .cc_ecn = cubic_ecn,
    .cc_adopt = cubic_adopt,
};
