/*
 * TCP input: RFC 9293 section 3.10.7, "SEGMENT ARRIVES", with RFC 5961's
 * defences against blind resets and injections, RFC 7323's PAWS, RFC 6298
 * round-trip sampling and RFC 5681/6582 duplicate-ACK handling.
 *
 * Call order:
 *   rn__net_ip_deliver() -> rn__tcp_input() -> validate, look up
 *     -> [filtering platform: inbound-transport]
 *     -> listen_input()        a SYN for a listener [platform: accept]
 *     -> syn_sent_input()      our SYN is out
 *     -> established_input()   every synchronized state:
 *          sequence check (PAWS first) -> RST -> SYN -> ACK -> data -> FIN
 *   then rn__tcp_output() sends what the segment called for.
 *
 * rn__tcp_input() always consumes the packet.
 */
#include <string.h>

#include "refnet/error.h"
#include "transport/tcp_priv.h"
#include "wire/bytes.h"
#include "wire/ipv4.h"

/* What input keeps of the segment being processed. */
struct seg {
    struct rn_tcp_hdr th;       /* header fields */
    struct rn_tcp_opts to;      /* decoded options */
    uint32_t seq;               /* th_seq */
    uint32_t len;               /* payload bytes (SYN and FIN not counted) */
    uint8_t flags;              /* th_flags, trimmed as the segment is cut */
    uint32_t laddr, faddr;
};

static void seg_drop(struct rn_stack *st, struct rn_netbuf *nb, enum rn_drop reason)
{
    rn__stack_count_drop(st, NULL, reason);
    rn_nb_free(nb);
}

/* ---- RTT and windows ---------------------------------------------------- */

void rn__tcp_rtt_update(struct tcp_conn *c, rn_time_t rtt)
{
    const struct rn_tcp_params *p = &c->t_conf->tc_p;
    rn_time_t rto;

    if (rtt == 0)
        rtt = 1;
    if (c->t_min_rtt == 0 || rtt < c->t_min_rtt)
        c->t_min_rtt = rtt;
    if (c->t_srtt == 0) {
        /* RFC 6298 2.2 */
        c->t_srtt = rtt;
        c->t_rttvar = rtt / 2;
    } else {
        /* 2.3: alpha 1/8, beta 1/4 */
        rn_time_t delta = rtt > c->t_srtt ? rtt - c->t_srtt : c->t_srtt - rtt;

        c->t_rttvar = (3 * c->t_rttvar + delta) / 4;
        c->t_srtt = (7 * c->t_srtt + rtt) / 8;
    }
    /* RTO = SRTT + max(G, 4 * RTTVAR), clamped. */
    rto = c->t_srtt + (4 * c->t_rttvar > RN_MSEC(1) ? 4 * c->t_rttvar : RN_MSEC(1));
    if (rto < p->tp_rto_min)
        rto = p->tp_rto_min;
    if (rto > p->tp_rto_max)
        rto = p->tp_rto_max;
    c->t_rto = rto;
    c->t_rxtshift = 0;
}

/* Applies the options of a SYN (ours was sent with TF_REQ_*). */
static void syn_options(struct tcp_conn *c, const struct seg *s)
{
    const struct rn_tcp_opts *to = &s->to;

    if ((to->to_present & RN_TCPOPT_F_WSCALE) && (c->t_flags & TF_REQ_SCALE)) {
        c->t_flags |= TF_SCALE;
        c->snd_scale = to->to_wscale > TCP_MAX_WINDOW_SHIFT ? TCP_MAX_WINDOW_SHIFT : to->to_wscale;
        c->rcv_scale = c->request_r_scale;
    } else {
        c->snd_scale = c->rcv_scale = 0;
    }
    if ((to->to_present & RN_TCPOPT_F_TS) && (c->t_flags & TF_REQ_TSTMP)) {
        c->t_flags |= TF_TSTMP;
        c->ts_recent = to->to_tsval;
        c->ts_recent_age = rn_stack_now(c->t_tcp->ts_stack);
    }
    /* SACK only if tcp.sack let us offer it too (RFC 2018 2). */
    if ((to->to_present & RN_TCPOPT_F_SACK_PERM) && (c->t_flags & TF_REQ_SACK))
        c->t_flags |= TF_SACK_PERMIT;
    rn__tcp_mss_update(c, (to->to_present & RN_TCPOPT_F_MSS) && to->to_mss > 0 ? to->to_mss
                                                                              : TCP_DEFAULT_MSS);
}

/* ---- LISTEN ------------------------------------------------------------- */

static void listen_input(struct tcp_listener *l, struct rn_netbuf *nb, struct seg *s)
{
    struct tcp_stack *ts = l->l_tcp;
    struct rn_stack *st = ts->ts_stack;
    struct tcp_conn *c;

    if (s->flags & RN_TCP_RST) {
        /* Typically the peer's answer to our segments that were still in
         * flight when it reset or closed a connection we then let go. */
        seg_drop(st, nb, RN_DROP_TCP_RST_NO_CONN);
        return;
    }
    if (s->flags & RN_TCP_ACK) {
        rn__tcp_reset_reply(ts, s->laddr, s->faddr, &s->th, s->len);
        seg_drop(st, nb, RN_DROP_TCP_BAD_STATE);
        return;
    }
    if (!(s->flags & RN_TCP_SYN)) {
        seg_drop(st, nb, RN_DROP_TCP_BAD_STATE);
        return;
    }
    rn_nb_free(nb);
    if (atomic_load_explicit(&l->l_nsyn, memory_order_relaxed) >= l->l_backlog ||
        atomic_load_explicit(&l->l_naccept, memory_order_relaxed) >= l->l_backlog) {
        /* Both queues are bounded by the backlog; the peer retries. */
        ts->ts_listen_overflows++;
        rn__stack_count_drop(st, NULL, RN_DROP_TCP_LISTEN_OVERFLOW);
        return;
    }
    c = rn__tcp_conn_new(ts, s->laddr, s->th.th_dport, s->faddr, s->th.th_sport);
    if (c == NULL) {
        rn__stack_count_drop(st, NULL, RN_DROP_NO_BUFFER);
        return;
    }
    /* The listener's SYN queue holds the connection, the connection holds
     * its listener until it is accepted or dies. */
    c->t_listener = l;
    rn_ob_cond_set(c, TCP_COND_QUEUED);
    rn_ob_ref(c, ts->ts_tag_listener);
    rn_ob_ref(l, ts->ts_tag_conn);
    c->t_qnext = l->l_synq;
    l->l_synq = c;
    atomic_fetch_add_explicit(&l->l_nsyn, 1, memory_order_relaxed);
    /* The listener's socket options, then what the settings let us
     * offer back. */
    rn__tcp_opt_apply(c, &l->l_uo);
    c->t_flags |= TF_PASSIVE | rn__tcp_syn_offers(c);
    c->irs = s->seq;
    c->rcv_nxt = s->seq + 1;
    c->rcv_adv = c->rcv_nxt;  /* nothing advertised yet: the edge starts here */
    c->iss = rn__tcp_isn(ts, c->t_laddr, c->t_lport, c->t_faddr, c->t_fport);
    c->snd_una = c->snd_nxt = c->snd_max = c->snd_recover = c->iss;
    syn_options(c, s);
    if (!(s->to.to_present & RN_TCPOPT_F_WSCALE))
        c->t_flags &= ~TF_REQ_SCALE;
    if (!(c->t_flags & TF_TSTMP))
        c->t_flags &= ~TF_REQ_TSTMP;
    /* The SYN's window is never scaled (RFC 7323 2.2). */
    c->snd_wnd = s->th.th_win;
    c->snd_max_wnd = c->snd_wnd;
    c->snd_wl1 = s->seq;
    c->snd_wl2 = c->iss;
    rn__tcp_cc_init(c);
    tcp_set_state(c, TCPS_SYN_RECEIVED);
    ts->ts_passive_opens++;
    c->t_flags |= TF_ACKNOW;
    /* Accept authorisation, before the SYN+ACK: a refused SYN is answered
     * with a RST; a pended one waits on the SYN queue, unanswered, 75 s
     * at most. */
    if (rn__filter_on(RN_FL_ACCEPT) && rn__tcp_filter_accept(c) == RN_FILTER_BLOCK) {
        rn__stack_count_drop(st, NULL, RN_DROP_FILTER_BLOCKED);
        rn__tcp_refuse_syn(c);
        return;
    }
    if (c->t_flags & TF_AUTH_PENDING)
        rn__tcp_timer_arm(c, &c->t_keep, rn_stack_now(st) + RN_SEC(75));
    rn__tcp_output(c);
}

/* ---- SYN_SENT (RFC 9293 3.10.7.3) ----------------------------------------- */

static void syn_sent_input(struct tcp_conn *c, struct rn_netbuf *nb, struct seg *s)
{
    struct tcp_stack *ts = c->t_tcp;
    struct rn_stack *st = ts->ts_stack;
    bool ack_ok = false;

    if (s->flags & RN_TCP_ACK) {
        if (SEQ_LEQ(s->th.th_ack, c->iss) || SEQ_GT(s->th.th_ack, c->snd_max)) {
            if (!(s->flags & RN_TCP_RST))
                rn__tcp_reset_reply(ts, s->laddr, s->faddr, &s->th, s->len);
            seg_drop(st, nb, RN_DROP_TCP_BAD_ACK);
            return;
        }
        ack_ok = true;
    }
    if (s->flags & RN_TCP_RST) {
        rn_nb_free(nb);
        if (ack_ok) {
            ts->ts_rst_in++;
            rn__tcp_drop(c, RN_ECONNREFUSED);
        } else {
            rn__stack_count_drop(st, NULL, RN_DROP_TCP_BAD_STATE);
        }
        return;
    }
    if (!(s->flags & RN_TCP_SYN)) {
        seg_drop(st, nb, RN_DROP_TCP_BAD_STATE);
        return;
    }
    c->irs = s->seq;
    c->rcv_nxt = s->seq + 1;
    c->rcv_adv = c->rcv_nxt;  /* nothing advertised yet: the edge starts here */
    syn_options(c, s);
    c->snd_wnd = s->th.th_win;  /* unscaled in a SYN */
    c->snd_max_wnd = c->snd_wnd;
    c->snd_wl1 = s->seq;
    c->snd_wl2 = s->th.th_ack;
    rn_nb_free(nb);
    if (ack_ok) {
        rn_time_t now = rn_stack_now(st);

        c->snd_una = s->th.th_ack;
        if (c->t_flags & TF_RXT_TIMING) {
            c->t_flags &= ~TF_RXT_TIMING;
            rn__tcp_rtt_update(c, now - c->t_rttime);
        }
        rn__tcp_timer_stop(c, &c->t_rexmt);
        rn__tcp_timer_stop(c, &c->t_keep);
        rn__tcp_cc_init(c);
        tcp_set_state(c, TCPS_ESTABLISHED);
        if (c->t_filter != NULL)
            rn__filter_flow_established(st, &c->t_filter);
        c->t_flags |= TF_ACKNOW;
        rn__tcp_keep_reset(c);
        rn__tcp_output(c);
        if (c->t_up != NULL && c->t_up->tu_connected != NULL)
            c->t_up->tu_connected(c->t_upctx, 0);
        rn__tcp_upcall_writable(c);
        return;
    }
    /* Simultaneous open: SYN_RECEIVED, answer with SYN+ACK. */
    tcp_set_state(c, TCPS_SYN_RECEIVED);
    c->snd_nxt = c->iss;
    c->t_flags |= TF_ACKNOW;
    rn__tcp_output(c);
}

/* ---- Receive queue ------------------------------------------------------- */

/* Inserts an out-of-order payload (seq, len, fin) in order, trimming what
 * overlaps data already held.  Consumes nb. */
static void ooo_insert(struct tcp_conn *c, struct rn_netbuf *nb, uint32_t seq, uint32_t len,
                       bool fin)
{
    struct tcp_stack *ts = c->t_tcp;
    struct rn_netbuf **pp = &c->t_ooo, *prev = NULL;
    uint32_t end = seq + len;

    while (*pp != NULL && SEQ_LT((uint32_t)(*pp)->nb_cb[0], seq)) {
        prev = *pp;
        pp = &(*pp)->nb_nextpkt;
    }
    if (prev != NULL) {
        uint32_t pend = (uint32_t)prev->nb_cb[0] + (uint32_t)prev->nb_cb[1];

        if (SEQ_GEQ(pend, end)) {
            rn_nb_free(nb);  /* wholly held already */
            return;
        }
        if (SEQ_GT(pend, seq)) {
            rn_nb_pull(nb, pend - seq);
            len -= pend - seq;
            seq = pend;
        }
    }
    /* Swallow later segments this one covers; trim the one it reaches. */
    while (*pp != NULL) {
        struct rn_netbuf *n = *pp;
        uint32_t nseq = (uint32_t)n->nb_cb[0], nlen = (uint32_t)n->nb_cb[1];

        if (SEQ_GEQ(nseq, end))
            break;
        if (SEQ_LEQ(nseq + nlen, end)) {
            *pp = n->nb_nextpkt;
            c->t_ooo_bytes -= nlen;
            fin = fin || (n->nb_cb[1] >> 32) != 0;
            n->nb_nextpkt = NULL;
            rn_nb_free(n);
            continue;
        }
        rn_nb_trim(nb, nseq - seq);
        len = nseq - seq;
        break;
    }
    if (len == 0 && !fin) {
        rn_nb_free(nb);
        return;
    }
    rn_nb_set_owner(nb, ts->ts_own_ooo);
    nb->nb_cb[0] = seq;
    nb->nb_cb[1] = (uint64_t)len | (fin ? 1ull << 32 : 0);
    nb->nb_nextpkt = *pp;
    *pp = nb;
    c->t_ooo_bytes += len;
    c->t_ooo_last = seq;
}

/* Appends in-order data (seq == rcv_nxt) and pulls in whatever the
 * out-of-order queue now continues.  Consumes nb.  Returns true if a FIN
 * came with it. */
static bool rcvq_append(struct tcp_conn *c, struct rn_netbuf *nb, uint32_t len, bool fin)
{
    struct tcp_stack *ts = c->t_tcp;

    if (len > 0 && !(c->t_flags & TF_SHUT_RD)) {
        rn_nb_set_owner(nb, ts->ts_own_rcvq);
        rn_nbq_put(&c->t_rcvq, nb);
    } else {
        rn_nb_free(nb);  /* nothing to keep, or the user will read no more */
    }
    c->rcv_nxt += len;
    c->t_bytes_received += len;
    while (c->t_ooo != NULL && SEQ_LEQ((uint32_t)c->t_ooo->nb_cb[0], c->rcv_nxt)) {
        struct rn_netbuf *n = c->t_ooo;
        uint32_t nseq = (uint32_t)n->nb_cb[0], nlen = (uint32_t)n->nb_cb[1];
        bool nfin = (n->nb_cb[1] >> 32) != 0;

        c->t_ooo = n->nb_nextpkt;
        n->nb_nextpkt = NULL;
        c->t_ooo_bytes -= nlen;
        if (SEQ_LEQ(nseq + nlen, c->rcv_nxt) && !(nfin && nseq + nlen == c->rcv_nxt)) {
            rn_nb_free(n);
            continue;
        }
        if (SEQ_LT(nseq, c->rcv_nxt)) {
            rn_nb_pull(n, c->rcv_nxt - nseq);
            nlen -= c->rcv_nxt - nseq;
        }
        c->rcv_nxt += nlen;
        c->t_bytes_received += nlen;
        if (nlen > 0 && !(c->t_flags & TF_SHUT_RD)) {
            rn_nb_set_owner(n, ts->ts_own_rcvq);
            n->nb_cb[0] = n->nb_cb[1] = 0;
            rn_nbq_put(&c->t_rcvq, n);
        } else {
            rn_nb_free(n);
        }
        if (nfin)
            fin = true;
    }
    atomic_store_explicit(&c->t_rcvq_bytes, (uint32_t)c->t_rcvq.nq_bytes, memory_order_relaxed);
    return fin;
}

/* ---- Synchronized states (RFC 9293 3.10.7.4) ----------------------------- */

/* True if the segment is acceptable: some of it lies in the window. */
static bool seq_acceptable(const struct tcp_conn *c, uint32_t seq, uint32_t seglen,
                           uint32_t wnd)
{
    if (seglen == 0) {
        if (wnd == 0)
            return seq == c->rcv_nxt;
        return SEQ_GEQ(seq, c->rcv_nxt) && SEQ_LT(seq, c->rcv_nxt + wnd);
    }
    if (wnd == 0)
        return false;
    return (SEQ_GEQ(seq, c->rcv_nxt) && SEQ_LT(seq, c->rcv_nxt + wnd)) ||
           (SEQ_GEQ(seq + seglen - 1, c->rcv_nxt) && SEQ_LT(seq + seglen - 1, c->rcv_nxt + wnd));
}

/* Processes an acceptable ACK.  Returns false if the segment must go no
 * further (it was answered, or the connection ended). */
/* If SACK is in use on c: the bytes s reports received above ack (the
 * receiver holds a hole at ack), counting the blocks that lie within what
 * was sent.  0 without SACK. */
static uint32_t sacked_above(const struct tcp_conn *c, const struct seg *s, uint32_t ack)
{
    uint32_t n = 0;
    unsigned i;

    if (!(c->t_flags & TF_SACK_PERMIT) || !(s->to.to_present & RN_TCPOPT_F_SACK))
        return 0;
    for (i = 0; i < s->to.to_nsacks && i < RN_TCP_MAX_SACKS; i++) {
        const struct rn_tcp_sack *b = &s->to.to_sacks[i];

        if (SEQ_GT(b->sb_start, ack) && SEQ_LT(b->sb_start, b->sb_end) &&
            SEQ_LEQ(b->sb_end, c->snd_max))
            n += b->sb_end - b->sb_start;
    }
    return n;
}

/* The highest sequence number s SACKs within what was sent on c, or ack
 * if it SACKs nothing above ack. */
static uint32_t sack_highest(const struct tcp_conn *c, const struct seg *s, uint32_t ack)
{
    uint32_t hi = ack;
    unsigned i;

    if (!(c->t_flags & TF_SACK_PERMIT) || !(s->to.to_present & RN_TCPOPT_F_SACK))
        return ack;
    for (i = 0; i < s->to.to_nsacks && i < RN_TCP_MAX_SACKS; i++) {
        const struct rn_tcp_sack *b = &s->to.to_sacks[i];

        if (SEQ_GT(b->sb_start, ack) && SEQ_LT(b->sb_start, b->sb_end) &&
            SEQ_LEQ(b->sb_end, c->snd_max) && SEQ_GT(b->sb_end, hi))
            hi = b->sb_end;
    }
    return hi;
}

/* The send window from an acceptable ACK (RFC 9293 3.10.7.4, fifth
 * check), taken before anything the ACK sets off can send: freeing send
 * buffer space wakes the writer, whose new data goes out at once, and a
 * duplicate ACK or a recovery step sends too.  Output measures the window
 * from snd_una, so the ACK's new snd_una with the previous segment's
 * window would put the right edge past any the peer offered.
 *
 * snd_wl2 + snd_wnd is the right edge the peer last offered.  A segment
 * whose window is too old to take (sent before the one that last set it,
 * e.g. a retransmission of the peer's data) can still acknowledge more:
 * the edge then stays where it was, measured from the new ACK. */
static void window_input(struct tcp_conn *c, const struct seg *s, uint32_t ack, uint32_t win)
{
    if (SEQ_LT(c->snd_wl1, s->seq) || (c->snd_wl1 == s->seq && SEQ_LEQ(c->snd_wl2, ack))) {
        bool opened = win > c->snd_wnd;

        c->snd_wnd = win;
        if (win > c->snd_max_wnd)
            c->snd_max_wnd = win;
        c->snd_wl1 = s->seq;
        c->snd_wl2 = ack;
        if (opened && c->t_persist) {
            rn__tcp_timer_stop(c, &c->t_rexmt);
            c->t_persist = false;
            c->t_rxtshift = 0;
        }
    } else if (SEQ_GT(ack, c->snd_wl2)) {
        uint32_t edge = c->snd_wl2 + c->snd_wnd;

        c->snd_wnd = SEQ_GT(edge, ack) ? edge - ack : 0;
        c->snd_wl2 = ack;
    }
}

/* The delivery rate: payload acknowledged per second over the latest
 * round trip (at least a millisecond), measured round by round. */
static void delivery_sample(struct tcp_conn *c, rn_time_t now)
{
    rn_time_t round = c->t_srtt > RN_MSEC(1) ? c->t_srtt : RN_MSEC(1);

    if (c->t_dr_since == 0) {
        c->t_dr_since = now;
        c->t_dr_acked = c->t_bytes_acked;
        return;
    }
    if (now - c->t_dr_since < round)
        return;
    c->t_dr_rate = (c->t_bytes_acked - c->t_dr_acked) * RN_NSEC_PER_SEC / (now - c->t_dr_since);
    c->t_dr_since = now;
    c->t_dr_acked = c->t_bytes_acked;
}

static bool ack_input(struct tcp_conn *c, struct seg *s, bool *done)
{
    struct tcp_stack *ts = c->t_tcp;
    rn_time_t now = rn_stack_now(ts->ts_stack);
    uint32_t ack = s->th.th_ack, win = (uint32_t)s->th.th_win << c->snd_scale;
    enum tcp_state st = tcp_state(c);
    bool same_win;

    if (st == TCPS_SYN_RECEIVED) {
        if (SEQ_LEQ(ack, c->snd_una) || SEQ_GT(ack, c->snd_max)) {
            rn__tcp_reset_reply(ts, s->laddr, s->faddr, &s->th, s->len);
            return false;
        }
        tcp_set_state(c, TCPS_ESTABLISHED);
        rn__tcp_timer_stop(c, &c->t_keep);
        c->snd_wnd = win;
        c->snd_max_wnd = win > c->snd_max_wnd ? win : c->snd_max_wnd;
        c->snd_wl1 = s->seq;
        c->snd_wl2 = ack;
        rn__tcp_keep_reset(c);
        if (c->t_filter != NULL)
            rn__filter_flow_established(ts->ts_stack, &c->t_filter);
        if (c->t_flags & TF_PASSIVE) {
            rn__tcp_listener_established(c);
        } else {
            if (c->t_up != NULL && c->t_up->tu_connected != NULL)
                c->t_up->tu_connected(c->t_upctx, 0);
        }
        st = TCPS_ESTABLISHED;
    }
    /* RFC 5961 5.2: an ACK for data never sent, or too old, is answered
     * with an ACK and otherwise ignored. */
    if (SEQ_GT(ack, c->snd_max)) {
        rn__tcp_challenge_ack(c);
        return false;
    }
    if (SEQ_LT(ack, c->snd_una - (c->snd_max_wnd > 0 ? c->snd_max_wnd : 1))) {
        rn__tcp_challenge_ack(c);
        return false;
    }
    same_win = win == c->snd_wnd;  /* before the update: part of a duplicate's test */
    window_input(c, s, ack, win);
    if (SEQ_LEQ(ack, c->snd_una)) {
        uint32_t sacked = sacked_above(c, s, ack);

        /* A duplicate ACK (RFC 5681 section 2): no data, no window change,
         * something outstanding, and it acks exactly snd_una.  With SACK,
         * an ACK reporting data above snd_una is a duplicate whatever its
         * window and whether it carries data (RFC 6675 section 2): a
         * receiver such as Linux opens its window while the hole stays,
         * and one that sends data too puts its ACKs on it; either way its
         * duplicates would otherwise not count, leaving every loss to the
         * retransmission timer. */
        if (ack == c->snd_una && !(s->flags & (RN_TCP_SYN | RN_TCP_FIN)) &&
            ((s->len == 0 && same_win) || sacked > 0) && c->snd_una != c->snd_max) {
            c->t_dupacks++;
            /* The segment at snd_una is lost after three duplicates, or
             * once more than two segments' worth above it is SACKed
             * (RFC 6675 IsLost(): one ACK may report several segments).
             * Three plain duplicates at or below snd_recover may be the
             * echoes of a go-back-N after a timeout, so they do not count
             * there (RFC 6582 4.1); SACK blocks above snd_una report data
             * that arrived beyond a hole, which a duplicate never does,
             * and do (else every loss in the window after a timeout costs
             * another timeout).  Before that, each of the first two
             * duplicates lets one new segment out (limited transmit, RFC
             * 3042: rn__tcp_output()). */
            if ((c->t_flags & TF_INRECOVERY) &&
                SEQ_GEQ(sack_highest(c, s, ack), c->t_rxt_mark + 2 * c->t_maxseg)) {
                /* Two segments sent after our retransmission of snd_una
                 * have arrived, and it has not: it was lost too (RFC 8985
                 * 6.2 detects this by time; NewReno alone would wait for
                 * the timeout).  Resend it. */
                rn__tcp_retransmit_one(c);
                rn__tcp_rexmt_start(c);
            } else if (c->t_flags & TF_INRECOVERY)
                rn__tcp_cc_dupack(c);
            else if ((c->t_dupacks >= 3 && SEQ_GT(ack, c->snd_recover)) ||
                     sacked > 2 * c->t_maxseg)
                rn__tcp_cc_fast_retransmit(c);
        } else {
            c->t_dupacks = 0;
        }
    } else {
        uint32_t acked = ack - c->snd_una;
        bool fin_acked = false;

        c->t_dupacks = 0;
        c->t_flags &= ~TF_TLP_OUT;  /* progress: the next tail may be probed */
        /* Round-trip sample: the echoed timestamp, or the timed segment
         * if it was not retransmitted (Karn). */
        if ((c->t_flags & TF_TSTMP) && (s->to.to_present & RN_TCPOPT_F_TS) &&
            s->to.to_tsecr != 0) {
            uint32_t ms = rn__tcp_tsval(c, now) - s->to.to_tsecr;

            if (ms < 60000)
                rn__tcp_rtt_update(c, RN_MSEC(ms) + RN_MSEC(1) / 2);
            c->t_flags &= ~TF_RXT_TIMING;
        } else if ((c->t_flags & TF_RXT_TIMING) && SEQ_GT(ack, c->t_rtseq)) {
            c->t_flags &= ~TF_RXT_TIMING;
            rn__tcp_rtt_update(c, now - c->t_rttime);
        }
        /* Our SYN takes a sequence number but no buffer space, and so
         * does our FIN. */
        if (c->snd_una == c->iss) {
            acked--;
        }
        if ((c->t_flags & TF_SENTFIN) && ack == c->snd_max) {
            fin_acked = true;
            acked = acked > 0 ? acked - 1 : 0;
        }
        if (acked > c->t_snd.sb_len)
            acked = c->t_snd.sb_len;
        if (acked > 0) {
            c->t_snd.sb_head = (c->t_snd.sb_head + acked) % (c->t_snd.sb_cap ? c->t_snd.sb_cap : 1);
            c->t_snd.sb_len -= acked;
            atomic_store_explicit(&c->t_sndq_bytes, c->t_snd.sb_len, memory_order_relaxed);
        }
        c->t_bytes_acked += acked;
        delivery_sample(c, now);
        /* Congestion control counts the data acknowledged: our SYN and
         * FIN take sequence numbers, not room in the window (an ACK of
         * the SYN alone would otherwise grow the initial window by a
         * byte). */
        c->snd_una = ack;
        c->t_una_since = now;
        if (SEQ_LT(c->snd_nxt, c->snd_una))
            c->snd_nxt = c->snd_una;
        if (c->t_flags & TF_INRECOVERY)
            rn__tcp_cc_recovery_ack(c, acked);
        else if (acked > 0)
            rn__tcp_cc_ack(c, acked);
        c->t_rxtshift = 0;
        if (c->snd_una == c->snd_max) {
            rn__tcp_timer_stop(c, &c->t_rexmt);
            c->t_persist = false;
        } else if (!(c->t_persist)) {
            rn__tcp_rexmt_start(c);
        }
        if (acked > 0 && c->t_snd.sb_len < c->t_snd.sb_max)
            rn__tcp_upcall_writable(c);
        if (fin_acked) {
            switch (st) {
            case TCPS_FIN_WAIT_1:
                tcp_set_state(c, TCPS_FIN_WAIT_2);
                if (c->t_flags & TF_USER_CLOSED)
                    rn__tcp_timer_arm(c, &c->t_keep, now + c->t_conf->tc_p.tp_fin_wait_2);
                break;
            case TCPS_CLOSING:
                rn__tcp_timewait_enter(c);
                *done = true;
                return false;
            case TCPS_LAST_ACK:
                rn__tcp_done(c);
                *done = true;
                return false;
            default:
                break;
            }
        }
    }
    return true;
}

/* A duplicate ACK that a later one overtook on a path that reorders
 * carries an older timestamp than the one last taken and fails PAWS, yet
 * it is no old duplicate of another incarnation, and fast retransmit
 * counts it.  One is taken when it is a pure ACK in sequence that
 * acknowledges exactly snd_una and would not move the window, and its
 * timestamp is at most one RTO (in the peer's milliseconds, as Linux
 * keeps them) behind.  Linux makes the same exception. */
static bool paws_reordered_dupack(const struct tcp_conn *c, const struct seg *s)
{
    uint32_t win = (uint32_t)s->th.th_win << c->snd_scale;
    uint32_t rto_ms = (uint32_t)(rn__tcp_rto(c) / RN_NSEC_PER_MSEC);

    return s->len == 0 && (s->flags & (RN_TCP_SYN | RN_TCP_FIN | RN_TCP_RST | RN_TCP_ACK)) ==
                              RN_TCP_ACK &&
           s->seq == c->rcv_nxt && s->th.th_ack == c->snd_una &&
           !(SEQ_GT(s->seq, c->snd_wl1) || (s->seq == c->snd_wl1 && win > c->snd_wnd)) &&
           c->ts_recent - s->to.to_tsval <= rto_ms;
}

static void established_input(struct tcp_conn *c, struct rn_netbuf *nb, struct seg *s)
{
    struct tcp_stack *ts = c->t_tcp;
    struct rn_stack *st = ts->ts_stack;
    rn_time_t now = rn_stack_now(st);
    uint32_t wnd = rn__tcp_rcv_space(c), seglen;
    bool done = false, fin;
    int err;
    enum tcp_state state = tcp_state(c);

    /* Never shrink what we advertised (RFC 9293 3.8.6.2.1). */
    if (SEQ_GT(c->rcv_adv, c->rcv_nxt + wnd))
        wnd = c->rcv_adv - c->rcv_nxt;
    /* PAWS (RFC 7323 5.3): an old timestamp marks an old duplicate. */
    if ((c->t_flags & TF_TSTMP) && (s->to.to_present & RN_TCPOPT_F_TS) &&
        !(s->flags & RN_TCP_RST) && SEQ_LT(s->to.to_tsval, c->ts_recent)) {
        if (now - c->ts_recent_age > TCP_PAWS_IDLE) {
            c->ts_recent = 0;  /* idle for 24 days: the clock may have wrapped */
        } else if (!paws_reordered_dupack(c, s)) {
            c->t_flags |= TF_ACKNOW;
            rn__tcp_output(c);
            seg_drop(st, nb, RN_DROP_TCP_PAWS);
            return;
        }
    }
    seglen = s->len + ((s->flags & RN_TCP_SYN) ? 1 : 0) + ((s->flags & RN_TCP_FIN) ? 1 : 0);
    if (!seq_acceptable(c, s->seq, seglen, wnd)) {
        if (!(s->flags & RN_TCP_RST)) {
            c->t_flags |= TF_ACKNOW;
            rn__tcp_output(c);
        }
        /* A zero-window or keepalive probe (an empty segment one byte
         * before rcv_nxt) asks for exactly this ACK: it is protocol, not a
         * bad segment. */
        if (seglen == 0 && s->seq == c->rcv_nxt - 1 && !(s->flags & RN_TCP_RST)) {
            ts->ts_probes_answered++;
            rn_nb_free(nb);
            return;
        }
        /* Wholly old: a retransmission of what we have (the peer missed
         * our ACK, or probed a tail); otherwise it lies past the window. */
        seg_drop(st, nb, seglen > 0 && SEQ_LEQ(s->seq + seglen, c->rcv_nxt)
                             ? RN_DROP_TCP_DUPLICATE
                             : RN_DROP_TCP_OUT_OF_WINDOW);
        return;
    }
    /* RST (RFC 5961 3.2): only an exact match resets; an in-window one is
     * challenged. */
    if (s->flags & RN_TCP_RST) {
        rn_nb_free(nb);
        ts->ts_rst_in++;
        if (s->seq != c->rcv_nxt) {
            rn__tcp_challenge_ack(c);
            return;
        }
        if (state == TCPS_SYN_RECEIVED && (c->t_flags & TF_PASSIVE)) {
            rn__tcp_done(c);  /* back to LISTEN: the listener forgets it */
            return;
        }
        /* The error a user sees: refused while opening; EPIPE when the
         * peer had already closed (the reset answers our data, as Linux
         * reports it); none once we are only waiting out our own close. */
        if (state == TCPS_SYN_RECEIVED)
            err = RN_ECONNREFUSED;
        else if (state == TCPS_CLOSE_WAIT)
            err = RN_EPIPE;
        else if (state >= TCPS_CLOSING && state != TCPS_FIN_WAIT_2)
            err = 0;
        else
            err = RN_ECONNRESET;
        rn__tcp_drop(c, err);
        return;
    }
    /* Trim what was already received, then what lies past the window. */
    if (SEQ_LT(s->seq, c->rcv_nxt)) {
        uint32_t dup = c->rcv_nxt - s->seq;

        if (s->flags & RN_TCP_SYN) {
            s->flags &= ~RN_TCP_SYN;
            s->seq++;
            dup--;
        }
        if (dup >= s->len) {
            if (dup > s->len && (s->flags & RN_TCP_FIN))
                s->flags &= ~RN_TCP_FIN;  /* a FIN we already have */
            dup = s->len;
            c->t_flags |= TF_ACKNOW;
        }
        rn_nb_pull(nb, dup);
        s->len -= dup;
        s->seq += dup;
    }
    /* SYN in a synchronized state (RFC 5961 4.2): challenge ACK. */
    if (s->flags & RN_TCP_SYN) {
        if (state == TCPS_SYN_RECEIVED && (c->t_flags & TF_PASSIVE) && s->seq == c->irs) {
            c->t_flags |= TF_ACKNOW;  /* a retransmitted SYN: repeat the SYN+ACK */
            c->snd_nxt = c->iss;
            rn__tcp_output(c);
        } else {
            rn__tcp_challenge_ack(c);
        }
        seg_drop(st, nb, RN_DROP_TCP_BAD_STATE);
        return;
    }
    if (SEQ_GT(s->seq + s->len, c->rcv_nxt + wnd)) {
        uint32_t over = s->seq + s->len - (c->rcv_nxt + wnd);

        if (over >= s->len) {
            over = s->len;
        }
        rn_nb_trim(nb, s->len - over);
        s->len -= over;
        s->flags &= ~(RN_TCP_FIN | RN_TCP_PSH);
        c->t_flags |= TF_ACKNOW;
    }
    if (!(s->flags & RN_TCP_ACK)) {
        seg_drop(st, nb, RN_DROP_TCP_BAD_STATE);
        return;
    }
    c->t_last_recv = now;
    c->t_keep_probes = 0;
    /* Remember the peer's timestamp if the segment starts at or before
     * what we expect (RFC 7323 4.3). */
    if ((c->t_flags & TF_TSTMP) && (s->to.to_present & RN_TCPOPT_F_TS) &&
        SEQ_LEQ(s->seq, c->rcv_nxt) && SEQ_GEQ(s->to.to_tsval, c->ts_recent)) {
        c->ts_recent = s->to.to_tsval;
        c->ts_recent_age = now;
    }
    if (!ack_input(c, s, &done)) {
        if (!done)
            seg_drop(st, nb, RN_DROP_TCP_BAD_ACK);
        else
            rn_nb_free(nb);
        return;
    }
    state = tcp_state(c);

    /* Data and FIN, in the states that still take them. */
    if (state == TCPS_CLOSE_WAIT || state == TCPS_CLOSING || state == TCPS_LAST_ACK ||
        state == TCPS_TIME_WAIT) {
        rn_nb_free(nb);
        goto out;
    }
    fin = (s->flags & RN_TCP_FIN) != 0;
    if (s->len == 0 && !fin) {
        rn_nb_free(nb);
        goto out;
    }
    if (s->seq != c->rcv_nxt) {
        /* A hole: keep it, and say so at once with SACK blocks. */
        ooo_insert(c, nb, s->seq, s->len, fin);
        c->t_flags |= TF_ACKNOW;
        goto out;
    }
    {
        bool had_ooo = c->t_ooo != NULL;
        uint32_t full = c->t_maxseg;

        fin = rcvq_append(c, nb, s->len, fin);
        if (had_ooo || fin) {
            c->t_flags |= TF_ACKNOW;  /* a hole filled, or the end: ack now */
        } else if (s->len > 0) {
            /* Delayed ACK: at least every second full-sized segment
             * (RFC 9293 3.8.6.3, RFC 1122 4.2.3.2). */
            c->t_segs_unacked += s->len >= full ? 1 : 0;
            if (c->t_segs_unacked >= 2 || (s->flags & RN_TCP_PSH && s->len < full))
                c->t_flags |= TF_ACKNOW;
            else if (!rn_timer_armed(&c->t_delack))
                rn__tcp_timer_arm(c, &c->t_delack, now + c->t_conf->tc_p.tp_delack);
        }
        if (s->len > 0)
            rn__tcp_upcall_readable(c);
    }
    if (fin) {
        c->rcv_nxt++;
        c->t_flags |= TF_RCVD_FIN | TF_ACKNOW;
        switch (state) {
        case TCPS_SYN_RECEIVED:
        case TCPS_ESTABLISHED:
            tcp_set_state(c, TCPS_CLOSE_WAIT);
            break;
        case TCPS_FIN_WAIT_1:
            /* Our FIN is not acked yet (else we would be in FIN_WAIT_2):
             * a simultaneous close. */
            tcp_set_state(c, TCPS_CLOSING);
            break;
        case TCPS_FIN_WAIT_2:
            rn__tcp_output(c);
            rn__tcp_timewait_enter(c);
            rn__tcp_upcall_readable(c);
            return;
        default:
            break;
        }
        rn__tcp_upcall_readable(c);
    }
out:
    if (!(c->t_flags & TF_DONE))
        rn__tcp_output(c);
}

/* ---- Entry points -------------------------------------------------------- */

void rn__tcp_input(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip_rx *rx)
{
    struct tcp_stack *ts = rn__tcp_stack(st);
    uint8_t scratch[RN_TCP_MAX_HLEN];
    size_t hl = nb->nb_pktlen < RN_TCP_MAX_HLEN ? nb->nb_pktlen : RN_TCP_MAX_HLEN;
    const uint8_t *p;
    struct tcp_conn *c;
    struct tcp_listener *l;
    struct tcp_tw *tw;
    struct seg s;
    enum rn_drop reason;

    if (rx->rx_bcast) {
        seg_drop(st, nb, RN_DROP_NOT_FOR_US);
        return;
    }
    ts->ts_segs_in++;
    /* Checksum over the whole chain first (unless the device vouched for
     * it), then parse the header alone. */
    if (nb->nb_pktlen < RN_TCP_HLEN ||
        (!(nb->nb_offload & (RN_NB_OFF_CSUM_VALID | RN_NB_OFF_CSUM_PARTIAL)) &&
         rn_csum_fold(rn_nb_csum(nb, 0, nb->nb_pktlen,
                                 rn_csum_pseudo4(rx->rx_src, rx->rx_dst, RN_IPPROTO_TCP,
                                                 (uint32_t)nb->nb_pktlen))) != 0)) {
        seg_drop(st, nb, nb->nb_pktlen < RN_TCP_HLEN ? RN_DROP_TRUNCATED : RN_DROP_BAD_TCP_CSUM);
        return;
    }
    p = rn_nb_header(nb, 0, hl, scratch);
    reason = p ? rn__tcp_parse4(p, nb->nb_pktlen, rx->rx_src, rx->rx_dst, RN_CSUM_VERIFIED, &s.th)
               : RN_DROP_TRUNCATED;
    if (reason == RN_DROP_NONE) {
        memset(&s.to, 0, sizeof(s.to));
        if (s.th.th_optlen > 0)
            reason = rn__tcp_opts_parse(s.th.th_opts, s.th.th_optlen, &s.to);
    }
    if (reason != RN_DROP_NONE) {
        seg_drop(st, nb, reason);
        return;
    }
    s.seq = s.th.th_seq;
    s.len = (uint32_t)s.th.th_paylen;
    s.flags = s.th.th_flags;
    s.laddr = rx->rx_dst;
    s.faddr = rx->rx_src;
    rn_nb_pull(nb, s.th.th_hlen);  /* nb now holds the payload */

    c = rn__tcp_lookup(ts, s.laddr, s.th.th_dport, s.faddr, s.th.th_sport);
    if (c == NULL) {
        tw = rn__tcp_tw_lookup(ts, s.laddr, s.th.th_dport, s.faddr, s.th.th_sport);
        if (tw != NULL && !rn__tcp_tw_input(tw, &s.th, &s.to, s.len)) {
            rn_nb_free(nb);
            return;
        }
        l = rn__tcp_lookup_listener(ts, s.laddr, s.th.th_dport, s.faddr, s.th.th_sport);
        if (l != NULL) {
            if (rn__filter_on(RN_FL_INBOUND_TRANSPORT) &&
                rn__tcp_filter_segment(ts, NULL, RN_FL_INBOUND_TRANSPORT, s.laddr, s.th.th_dport,
                                    s.faddr, s.th.th_sport, s.flags, s.len)) {
                seg_drop(st, nb, RN_DROP_FILTER_BLOCKED);
                return;
            }
            listen_input(l, nb, &s);
            return;
        }
        /* CLOSED (RFC 9293 3.10.7.1): answer with a RST unless it is one. */
        if (!(s.flags & RN_TCP_RST))
            rn__tcp_reset_reply(ts, s.laddr, s.faddr, &s.th, s.len);
        seg_drop(st, nb, RN_DROP_TCP_NO_PORT);
        return;
    }
    if (rn__filter_on(RN_FL_INBOUND_TRANSPORT) &&
        rn__tcp_filter_segment(ts, c, RN_FL_INBOUND_TRANSPORT, s.laddr, s.th.th_dport, s.faddr,
                            s.th.th_sport, s.flags, s.len)) {
        seg_drop(st, nb, RN_DROP_FILTER_BLOCKED);
        return;
    }
    c->t_segs_in++;
    if (s.len > 0) {
        c->t_data_segs_in++;
        if (s.len > c->t_rcv_mss)
            c->t_rcv_mss = s.len < c->t_our_mss ? s.len : c->t_our_mss;
    }
    /* The segment may end the connection: keep it until we are done. */
    rn_ob_ref(c, RN_TAG_LOOP);
    if (tcp_state(c) == TCPS_SYN_SENT)
        syn_sent_input(c, nb, &s);
    else
        established_input(c, nb, &s);
    rn_ob_deref(c, RN_TAG_LOOP);
}

void rn__tcp_err_input(struct rn_stack *st, const struct rn_ip_err *e)
{
    struct tcp_stack *ts = rn__tcp_stack(st);
    struct tcp_conn *c;
    uint32_t seq;

    if (ts == NULL || e->ie_l4len < 8)
        return;
    c = rn__tcp_lookup(ts, e->ie_src, rn_get_be16(e->ie_l4), e->ie_dst, rn_get_be16(e->ie_l4 + 2));
    if (c == NULL)
        return;
    seq = rn_get_be32(e->ie_l4 + 4);
    /* RFC 5927: believe only errors about data in flight. */
    if (SEQ_LT(seq, c->snd_una) || SEQ_GEQ(seq, c->snd_max))
        return;
    if (e->ie_type == 3 && e->ie_code == 4 && e->ie_mtu >= 576) {
        /* Fragmentation needed: shrink the segment size and resend. */
        uint32_t mss = e->ie_mtu - RN_IP4_HLEN - RN_TCP_HLEN - ((c->t_flags & TF_TSTMP) ? 12 : 0);

        if (mss < c->t_maxseg) {
            c->t_maxseg = mss;
            c->snd_nxt = c->snd_una;
            rn__tcp_output(c);
        }
        return;
    }
    /* Unreachable errors end an opening connection; on an established one
     * they are soft (RFC 1122 4.2.3.9) and the retransmissions decide. */
    if (tcp_state(c) == TCPS_SYN_SENT && e->ie_type == 3) {
        switch (e->ie_code) {
        case 0:
            rn__tcp_drop(c, RN_ENETUNREACH);
            break;
        case 1:
            rn__tcp_drop(c, RN_EHOSTUNREACH);
            break;
        case 2:
        case 3:
            rn__tcp_drop(c, RN_ECONNREFUSED);
            break;
        }
    }
}
