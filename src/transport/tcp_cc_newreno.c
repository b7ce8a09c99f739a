/*
 * Congestion control "newreno": slow start and congestion avoidance (RFC
 * 5681) with NewReno fast recovery (RFC 6582), starting from tcp.initial_window
 * segments (RFC 6928: ten).  Reached through the connection's algorithm
 * (tcp_cc.c).
 */
#include "transport/tcp_priv.h"

#define CWND_MAX (1u << 30)

static uint32_t flight_half(const struct tcp_conn *c)
{
    uint32_t half = (c->snd_max - c->snd_una) / 2;

    return half > 2 * c->t_maxseg ? half : 2 * c->t_maxseg;
}

static void newreno_init(struct tcp_conn *c)
{
    /* The initial window in whole segments, as Linux counts it (RFC 6928
     * asks for ten). */
    c->snd_cwnd = c->t_conf->tc_p.tp_initial_window * c->t_maxseg;
    c->snd_ssthresh = CWND_MAX;
    c->t_flags &= ~TF_INRECOVERY;
}

static void newreno_ack(struct tcp_conn *c, uint32_t acked)
{
    uint32_t mss = c->t_maxseg, incr;

    if (c->snd_cwnd < c->snd_ssthresh) {
        /* Slow start with appropriate byte counting, L = 2 (RFC 3465). */
        incr = acked < 2 * mss ? acked : 2 * mss;
    } else {
        /* Congestion avoidance: about one MSS per round trip. */
        incr = (uint32_t)((uint64_t)mss * mss / c->snd_cwnd);
        if (incr == 0)
            incr = 1;
    }
    c->snd_cwnd = c->snd_cwnd + incr > CWND_MAX ? CWND_MAX : c->snd_cwnd + incr;
}

static void newreno_fast_retransmit(struct tcp_conn *c)
{
    c->snd_ssthresh = flight_half(c);
    c->snd_recover = c->snd_max;
    c->t_flags |= TF_INRECOVERY;
    c->t_tcp->ts_fast_retransmits++;
    rn__tcp_retransmit_one(c);
    c->snd_cwnd = c->snd_ssthresh + 3 * c->t_maxseg;
    rn__tcp_rexmt_start(c);
}

static void newreno_dupack(struct tcp_conn *c)
{
    /* Each duplicate means a segment left the network: inflate. */
    c->snd_cwnd += c->t_maxseg;
    rn__tcp_output(c);
}

static bool newreno_recovery_ack(struct tcp_conn *c, uint32_t acked)
{
    if (SEQ_GEQ(c->snd_una, c->snd_recover)) {
        /* Full acknowledgment: deflate and leave recovery (RFC 6582 3.2
         * step 3, first option: min(ssthresh, max(FlightSize, SMSS) +
         * SMSS)).  Without the max, an ACK of everything left a window of
         * one segment, which a receiver acknowledges only when its
         * delayed-ACK timer fires. */
        uint32_t flight = c->snd_max - c->snd_una;

        if (flight < c->t_maxseg)
            flight = c->t_maxseg;

        c->snd_cwnd = flight + c->t_maxseg < c->snd_ssthresh ? flight + c->t_maxseg
                                                             : c->snd_ssthresh;
        c->t_flags &= ~TF_INRECOVERY;
        c->t_dupacks = 0;
        return true;
    }
    /* Partial acknowledgment: the next hole is lost too; resend it and
     * deflate by what was acked, keeping one segment's worth. */
    rn__tcp_retransmit_one(c);
    c->snd_cwnd = c->snd_cwnd > acked ? c->snd_cwnd - acked : 0;
    c->snd_cwnd += c->t_maxseg;
    rn__tcp_rexmt_start(c);
    return false;
}

static void newreno_rto(struct tcp_conn *c)
{
    c->snd_ssthresh = flight_half(c);
    c->snd_cwnd = c->t_maxseg;  /* the loss window: one segment */
    c->t_flags &= ~TF_INRECOVERY;
    c->snd_recover = c->snd_max;
}

const struct tcp_cc_ops rn__tcp_cc_newreno = {
    .cc_name = "newreno",
    .cc_init = newreno_init,
    .cc_ack = newreno_ack,
    .cc_fast_retransmit = newreno_fast_retransmit,
    .cc_dupack = newreno_dupack,
    .cc_recovery_ack = newreno_recovery_ack,
    .cc_rto = newreno_rto,
};
