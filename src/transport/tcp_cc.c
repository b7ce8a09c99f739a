/*
 * Congestion control by name: the table of algorithms (tcp.congestion
 * picks one for new connections, TCP_CONGESTION one for a socket) and the
 * calls TCP makes, each handed to the connection's own algorithm (t_cc).
 *
 * To add an algorithm: write tcp_cc_NAME.c with a struct tcp_cc_ops
 * (tcp_priv.h), declare it in tcp_priv.h, and list it in algorithms[]
 * below; tcp.congestion and TCP_CONGESTION then take its name.
 */
#include <string.h>

#include "transport/tcp_priv.h"

static const struct tcp_cc_ops *const algorithms[] = {
    &rn__tcp_cc_newreno,
    &rn__tcp_cc_cubic,
};

#define NALGORITHMS (sizeof(algorithms) / sizeof(algorithms[0]))

const struct tcp_cc_ops *rn__tcp_cc_find(const char *name)
{
    size_t i;

    for (i = 0; i < NALGORITHMS; i++) {
        if (strcmp(algorithms[i]->cc_name, name) == 0)
            return algorithms[i];
    }
    return NULL;
}

uint8_t rn__tcp_cc_id(const struct tcp_cc_ops *cc)
{
    size_t i;

    for (i = 0; i < NALGORITHMS; i++) {
        if (algorithms[i] == cc)
            return (uint8_t)(i + 1);
    }
    return 0;
}

const struct tcp_cc_ops *rn__tcp_cc_of(uint8_t id)
{
    return id != 0 && id <= NALGORITHMS ? algorithms[id - 1] : NULL;
}

void rn__tcp_cc_set(struct tcp_conn *c, const struct tcp_cc_ops *cc)
{
    enum tcp_state st = tcp_state(c);

    if (cc == c->t_cc)
        return;
    c->t_cc = cc;
    /* In the handshake: it starts as if it had been there from the first
     * SYN (and afresh again at the handshake's end). */
    if (st == TCPS_SYN_SENT || st == TCPS_SYN_RECEIVED)
        cc->cc_init(c);
    else if (st >= TCPS_ESTABLISHED && cc->cc_adopt != NULL)
        cc->cc_adopt(c);
}

void rn__tcp_cc_init(struct tcp_conn *c)
{
    c->t_cc->cc_init(c);
}

void rn__tcp_cc_established(struct tcp_conn *c)
{
    c->t_cc->cc_init(c);
    c->t_rxtshift = 0;
    if (c->t_retransmits == 0)
        return;
    /* The loss of a SYN says nothing of the path's capacity, only that
     * it lost one: the initial window is one segment, and slow start
     * still runs without a threshold. */
    c->snd_cwnd = c->t_maxseg;
    if (c->t_srtt == 0 && c->t_rto < RN_SEC(3))
        c->t_rto = RN_SEC(3);
}

void rn__tcp_cc_ack(struct tcp_conn *c, uint32_t acked)
{
    c->t_cc->cc_ack(c, acked);
    rn__tcp_sndbuf_tune(c);
}

/* A reduction begins: remember the window, to restore it if DSACK shows
 * that every retransmission it led to was needless.  Further timeouts of
 * the same episode keep the first values. */
static void undo_begin(struct tcp_conn *c)
{
    if (c->t_undo && c->t_rxtshift > 1)
        return;
    c->t_undo = (c->t_flags & TF_SACK_PERMIT) != 0;
    c->t_undo_cwnd = c->snd_cwnd;
    c->t_undo_ssthresh = c->snd_ssthresh;
    c->t_undo_marker = c->snd_una;
    c->t_undo_retrans = 0;
}

void rn__tcp_cc_fast_retransmit(struct tcp_conn *c)
{
    undo_begin(c);
    c->t_cc->cc_fast_retransmit(c);
}

void rn__tcp_cc_undo_dsack(struct tcp_conn *c, uint32_t start, uint32_t end)
{
    if (!c->t_undo || SEQ_LT(start, c->t_undo_marker) || SEQ_GT(end, c->snd_max) ||
        c->t_undo_retrans == 0)
        return;
    if (--c->t_undo_retrans > 0)
        return;
    /* Every segment resent since the reduction had arrived before: the
     * loss was reordering or a late ACK.  Back to the window before. */
    c->t_undo = false;
    c->t_flags &= ~TF_INRECOVERY;
    c->t_dupacks = 0;
    if (c->snd_cwnd < c->t_undo_cwnd)
        c->snd_cwnd = c->t_undo_cwnd;
    if (c->snd_ssthresh < c->t_undo_ssthresh)
        c->snd_ssthresh = c->t_undo_ssthresh;
    c->t_tcp->ts_undos++;
}

void rn__tcp_cc_dupack(struct tcp_conn *c)
{
    c->t_cc->cc_dupack(c);
}

bool rn__tcp_cc_recovery_ack(struct tcp_conn *c, uint32_t acked)
{
    return c->t_cc->cc_recovery_ack(c, acked);
}

void rn__tcp_cc_rto(struct tcp_conn *c)
{
    undo_begin(c);
    c->t_cc->cc_rto(c);
}

void rn__tcp_cc_ecn(struct tcp_conn *c)
{
    c->t_tcp->ts_ecn_reductions++;
    c->t_cc->cc_ecn(c);
}
