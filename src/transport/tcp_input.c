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
 *
 * ICMP and ICMPv6 errors about our segments, one record for both
 * families (struct rn_ip_err):
 *   icmp.c / icmp6.c -> rn__tcp_err_input(): the connection, the sequence
 *     check of RFC 5927 -> shrink to the path MTU and resend, or end a
 *     connect; else soft
 */
#include <string.h>

#include "refnet/error.h"
#include "transport/tcp_priv.h"
#include "wire/bytes.h"
#include "wire/icmpv6.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

/* What input keeps of the segment being processed. */
struct seg {
    struct rn_tcp_hdr th;       /* header fields */
    struct rn_tcp_opts to;      /* decoded options */
    uint32_t seq;               /* th_seq */
    uint32_t len;               /* payload bytes (SYN and FIN not counted) */
    uint8_t flags;              /* th_flags, trimmed as the segment is cut */
    uint8_t tos;                /* the IP header's TOS octet: its ECN field */
    struct rn_inaddr laddr, faddr;
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
    c->t_last_rtt = rtt;
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

static void ooo_insert(struct tcp_conn *c, struct rn_netbuf *nb, uint32_t seq, uint32_t len,
                       bool fin);
static bool rcvq_append(struct tcp_conn *c, struct rn_netbuf *nb, uint32_t len, bool fin);

/* Holds the data and FIN that came with a SYN until the handshake
 * completes (RFC 9293 3.10.7.2 and 3.10.7.3: "queued for processing
 * later"), as the first of the out-of-order queue, at rcv_nxt; what
 * would not fit the receive buffer is left for the peer to resend.
 * Consumes nb. */
static void syn_queue(struct tcp_conn *c, struct rn_netbuf *nb, const struct seg *s)
{
    uint32_t space = rn__tcp_rcv_space(c), len = s->len;
    bool fin = (s->flags & RN_TCP_FIN) != 0;

    if (len > space) {
        rn_nb_trim(nb, space);
        len = space;
        fin = false;
    }
    if (len == 0 && !fin) {
        rn_nb_free(nb);
        return;
    }
    ooo_insert(c, nb, c->rcv_nxt, len, fin);
}

/* ---- LISTEN ------------------------------------------------------------- */

static void established_input(struct tcp_conn *c, struct rn_netbuf *nb, struct seg *s);

/* A connection for the SYN s, on l's SYN queue in SYN_RECEIVED, its
 * initial sequence number iss; nb (NULL: none) is the SYN's text, queued.
 * Returns NULL, nb consumed, if none can be made. */
static struct tcp_conn *passive_conn(struct tcp_listener *l, struct rn_netbuf *nb, struct seg *s,
                                     uint32_t iss)
{
    struct tcp_stack *ts = l->l_tcp;
    struct tcp_conn *c;

    c = rn__tcp_conn_new(ts, s->laddr, s->th.th_dport, s->faddr, s->th.th_sport);
    if (c == NULL) {
        if (nb != NULL)
            seg_drop(ts->ts_stack, nb, RN_DROP_NO_BUFFER);
        else
            rn__stack_count_drop(ts->ts_stack, NULL, RN_DROP_NO_BUFFER);
        return NULL;
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
    c->iss = iss;
    c->snd_una = c->snd_nxt = c->snd_max = c->snd_recover = c->iss;
    /* An ECN-setup SYN (ECE and CWR, RFC 3168 6.1.1), accepted unless
     * tcp.ecn is 0; the SYN+ACK says so with ECE alone. */
    if (c->t_conf->tc_p.tp_ecn != 0 &&
        (s->flags & (RN_TCP_ECE | RN_TCP_CWR)) == (RN_TCP_ECE | RN_TCP_CWR)) {
        c->t_ecn = TCP_ECN_OK;
        c->t_ecn_recover = c->iss;
    }
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
    if (nb != NULL)
        syn_queue(c, nb, s);
    rn__tcp_cc_init(c);
    tcp_set_state(c, TCPS_SYN_RECEIVED);
    ts->ts_passive_opens++;
    return c;
}

/* Accept authorisation: a refused connection is answered with a RST; a
 * pended one waits on the SYN queue, unanswered, 75 s at most.  Returns
 * false if c may not go on now. */
static bool passive_authorised(struct tcp_conn *c)
{
    struct rn_stack *st = c->t_tcp->ts_stack;

    if (rn__filter_on(RN_FL_ACCEPT) && rn__tcp_filter_accept(c) == RN_FILTER_BLOCK) {
        rn__stack_count_drop(st, NULL, RN_DROP_FILTER_BLOCKED);
        rn__tcp_refuse_syn(c);
        return false;
    }
    if (c->t_flags & TF_AUTH_PENDING) {
        rn__tcp_timer_arm(c, TCP_T_KEEP, rn_stack_now(st) + RN_SEC(75));
        return false;
    }
    return true;
}

/* An ACK to a listener that may return one of its SYN cookies: if it
 * does, the connection its SYN asked for is made now, as if its SYN had
 * been queued, and the ACK completes it.  Returns false, nb untouched,
 * if the ACK is no cookie of ours. */
static bool cookie_input(struct tcp_listener *l, struct rn_netbuf *nb, struct seg *s)
{
    struct tcp_stack *ts = l->l_tcp;
    struct seg syn = *s;
    struct tcp_conn *c;
    uint32_t space;

    if ((s->flags & (RN_TCP_SYN | RN_TCP_RST)) ||
        !rn__tcp_syncookie_check(l, s->laddr, s->faddr, &s->th, &s->to, &syn.to))
        return false;
    if (atomic_load_explicit(&l->l_naccept, memory_order_relaxed) >= l->l_backlog) {
        /* No room to accept it: the peer's data goes unacknowledged and
         * it resends, by which time there may be. */
        ts->ts_listen_overflows++;
        seg_drop(ts->ts_stack, nb, RN_DROP_TCP_LISTEN_OVERFLOW);
        return true;
    }
    syn.seq = s->seq - 1;
    syn.th.th_seq = syn.seq;
    syn.flags = RN_TCP_SYN;
    syn.len = 0;
    c = passive_conn(l, NULL, &syn, s->th.th_ack - 1);
    if (c == NULL) {
        rn_nb_free(nb);
        return true;
    }
    /* Where the SYN+ACK left both sides: our SYN sent, the window its
     * unscaled field offered, our timestamp clock where the peer saw it. */
    c->snd_nxt = c->snd_max = c->iss + 1;
    space = rn__tcp_rcv_space(c);
    c->rcv_adv = c->rcv_nxt + (space > 65535 ? 65535 : space);
    if (c->t_flags & TF_TSTMP)
        c->ts_offset = s->to.to_tsecr - (uint32_t)(rn_stack_now(ts->ts_stack) / RN_NSEC_PER_MSEC);
    if (!passive_authorised(c)) {
        rn_nb_free(nb);
        return true;
    }
    established_input(c, nb, s);
    return true;
}

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
        if (cookie_input(l, nb, s))
            return;
        rn__tcp_reset_reply(ts, s->laddr, s->faddr, &s->th, s->len);
        seg_drop(st, nb, RN_DROP_TCP_BAD_STATE);
        return;
    }
    if (!(s->flags & RN_TCP_SYN)) {
        seg_drop(st, nb, RN_DROP_TCP_BAD_STATE);
        return;
    }
    if (l->l_refuse) {
        /* Its owner takes no more connections: refused, as a port where
         * nothing listens answers (RFC 9293 3.10.7.1). */
        rn__tcp_reset_reply(ts, s->laddr, s->faddr, &s->th, s->len);
        seg_drop(st, nb, RN_DROP_TCP_LISTEN_REFUSED);
        return;
    }
    if (atomic_load_explicit(&l->l_naccept, memory_order_relaxed) >= l->l_backlog) {
        /* Both queues are bounded by the backlog; the peer retries. */
        ts->ts_listen_overflows++;
        seg_drop(st, nb, RN_DROP_TCP_LISTEN_OVERFLOW);
        return;
    }
    if (rn__tcp_syncookie_due(l)) {
        /* The SYN queue is full: answer with a cookie and keep nothing
         * (text on the SYN included: the peer sends it again). */
        rn__tcp_syncookie_reply(l, s->laddr, s->faddr, &s->th, &s->to);
        rn_nb_free(nb);
        return;
    }
    if (atomic_load_explicit(&l->l_nsyn, memory_order_relaxed) >= l->l_backlog) {
        ts->ts_listen_overflows++;
        seg_drop(st, nb, RN_DROP_TCP_LISTEN_OVERFLOW);
        return;
    }
    c = passive_conn(l, nb, s, rn__tcp_isn(ts, s->laddr, s->th.th_dport, s->faddr, s->th.th_sport));
    if (c == NULL)
        return;
    c->t_flags |= TF_ACKNOW;
    if (passive_authorised(c))
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
    /* Data and a FIN on the SYN: taken once established, at once when
     * the SYN acknowledges ours (RFC 9293 3.10.7.3, "continue processing
     * at the sixth step"), else after the handshake. */
    syn_queue(c, nb, s);
    if (ack_ok) {
        rn_time_t now = rn_stack_now(st);
        bool fin = false;

        c->snd_una = s->th.th_ack;
        if (c->t_flags & TF_RXT_TIMING) {
            c->t_flags &= ~TF_RXT_TIMING;
            rn__tcp_rtt_update(c, now - c->t_rttime);
        }
        rn__tcp_timer_stop(c, TCP_T_REXMT);
        rn__tcp_timer_stop(c, TCP_T_KEEP);
        rn__tcp_cc_established(c);
        /* An ECN-setup SYN+ACK (ECE without CWR) to our ECN-setup SYN. */
        if ((c->t_ecn & TCP_ECN_ASKED) &&
            (s->flags & (RN_TCP_ECE | RN_TCP_CWR)) == RN_TCP_ECE) {
            c->t_ecn = TCP_ECN_OK;
            c->t_ecn_recover = c->snd_una;
        }
        tcp_set_state(c, TCPS_ESTABLISHED);
        if (c->t_filter != NULL)
            rn__filter_flow_established(st, &c->t_filter);
        c->t_flags |= TF_ACKNOW;
        rn__tcp_keep_reset(c);
        if (c->t_ooo != NULL)
            fin = rcvq_append(c, NULL, 0, false);
        if (fin) {
            c->rcv_nxt++;
            c->t_flags |= TF_RCVD_FIN;
            tcp_set_state(c, TCPS_CLOSE_WAIT);
        }
        rn__tcp_output(c);
        if (c->t_up != NULL && c->t_up->tu_connected != NULL)
            c->t_up->tu_connected(c->t_upctx, 0);
        rn__tcp_upcall_writable(c);
        if (c->t_rcvq.nq_bytes > 0 || fin)
            rn__tcp_upcall_readable(c);
        return;
    }
    /* Simultaneous open: SYN_RECEIVED, answer with SYN+ACK, offering back
     * only what the peer's SYN offered (RFC 7323 2.2 and 3.2), as the
     * passive side does. */
    if (!(s->to.to_present & RN_TCPOPT_F_WSCALE))
        c->t_flags &= ~TF_REQ_SCALE;
    if (!(c->t_flags & TF_TSTMP))
        c->t_flags &= ~TF_REQ_TSTMP;
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
    unsigned i;

    /* The arrival that triggers the next ACK: its block is reported
     * first, the blocks of the arrivals before it next (RFC 2018 4). */
    if (len > 0) {
        for (i = 0; i < c->t_ooo_nrecent && c->t_ooo_recent[i] != seq; i++)
            ;
        if (i == c->t_ooo_nrecent && i < RN_TCP_MAX_SACKS)
            c->t_ooo_nrecent++;
        if (i == RN_TCP_MAX_SACKS)
            i--;
        memmove(c->t_ooo_recent + 1, c->t_ooo_recent, i * sizeof(c->t_ooo_recent[0]));
        c->t_ooo_recent[0] = seq;
    }
    while (*pp != NULL && SEQ_LT((uint32_t)(*pp)->nb_cb[0], seq)) {
        prev = *pp;
        pp = &(*pp)->nb_nextpkt;
    }
    if (prev != NULL) {
        uint32_t pend = (uint32_t)prev->nb_cb[0] + (uint32_t)prev->nb_cb[1];

        if (SEQ_GEQ(pend, end)) {
            /* Wholly held already; a FIN right after what is held is
             * held with it, for when the hole fills (RFC 9293 3.10.7.4,
             * eighth check). */
            if (fin && pend == end)
                prev->nb_cb[1] |= 1ull << 32;
            rn_nb_free(nb);
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
}

/* Appends in-order data (seq == rcv_nxt) and pulls in whatever the
 * out-of-order queue now continues.  Consumes nb (NULL: none, only what is
 * queued).  Returns true if a FIN came with it. */
static bool rcvq_append(struct tcp_conn *c, struct rn_netbuf *nb, uint32_t len, bool fin)
{
    struct tcp_stack *ts = c->t_tcp;

    if (nb == NULL) {
        /* Only what was queued before: data that came with a SYN. */
    } else if (len > 0 && !(c->t_flags & TF_SHUT_RD)) {
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
    if (c->t_ooo == NULL)
        c->t_ooo_nrecent = 0;  /* no hole left: no arrival to report */
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
            rn__tcp_timer_stop(c, TCP_T_REXMT);
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

/* Data received twice, start..end: the next ACK reports it first among
 * its SACK blocks (D-SACK, RFC 2883), when SACK is in use. */
static void dsack_note(struct tcp_conn *c, uint32_t start, uint32_t end)
{
    if (!(c->t_flags & TF_SACK_PERMIT) || start == end)
        return;
    c->t_dsack = true;
    c->t_dsack_start = start;
    c->t_dsack_end = end;
    c->t_flags |= TF_ACKNOW;
}

/* A D-SACK in s (RFC 2883 4): a first block below the cumulative ACK, or
 * within the second block, reports data received twice. */
static void dsack_input(struct tcp_conn *c, const struct seg *s, uint32_t ack)
{
    const struct rn_tcp_sack *b = s->to.to_sacks;

    if (!(c->t_flags & TF_SACK_PERMIT) || !(s->to.to_present & RN_TCPOPT_F_SACK) ||
        s->to.to_nsacks == 0 || !SEQ_LT(b[0].sb_start, b[0].sb_end))
        return;
    if (SEQ_LEQ(b[0].sb_end, ack) ||
        (s->to.to_nsacks > 1 && SEQ_GEQ(b[0].sb_start, b[1].sb_start) &&
         SEQ_LEQ(b[0].sb_end, b[1].sb_end))) {
        rn__tcp_rack_dsack(c);
        rn__tcp_cc_undo_dsack(c, b[0].sb_start, b[0].sb_end);
    }
}

static bool ack_input(struct tcp_conn *c, struct seg *s, bool *done)
{
    struct tcp_stack *ts = c->t_tcp;
    rn_time_t now = rn_stack_now(ts->ts_stack);
    uint32_t ack = s->th.th_ack, win = (uint32_t)s->th.th_win << c->snd_scale;
    enum tcp_state st = tcp_state(c);
    uint32_t newly = 0;
    bool same_win;

    if (st == TCPS_SYN_RECEIVED) {
        if (SEQ_LEQ(ack, c->snd_una) || SEQ_GT(ack, c->snd_max)) {
            rn__tcp_reset_reply(ts, s->laddr, s->faddr, &s->th, s->len);
            return false;
        }
        tcp_set_state(c, TCPS_ESTABLISHED);
        rn__tcp_timer_stop(c, TCP_T_KEEP);
        rn__tcp_cc_established(c);
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
    dsack_input(c, s, ack);
    /* ECE (RFC 3168 6.1.2): the network marked what we sent; reduce as
     * for a loss, once a window, and say so with CWR on the next new
     * data.  In loss recovery the window is down already. */
    if ((c->t_ecn & TCP_ECN_OK) && (s->flags & RN_TCP_ECE) &&
        !(c->t_flags & TF_INRECOVERY) && SEQ_GEQ(ack, c->t_ecn_recover)) {
        rn__tcp_cc_ecn(c);
        c->t_ecn_recover = c->snd_max;
        c->t_ecn |= TCP_ECN_CWR;
    }
    same_win = win == c->snd_wnd;  /* before the update: part of a duplicate's test */
    window_input(c, s, ack, win);
    if (c->t_sb != NULL)
        c->t_sb->sk_rack_due = 0;
    if (tcp_sack_on(c) && st >= TCPS_ESTABLISHED && SEQ_GEQ(ack, c->snd_una))
        newly = rn__tcp_sack_update(c, &s->to, ack);
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
            if (tcp_sack_flight(c)) {
                /* The scoreboard and RACK decide (tcp_sack.c). */
                rn__tcp_sack_ack(c, 0, newly, true);
            } else if ((c->t_flags & TF_INRECOVERY) &&
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
            if (tcp_sack_flight(c) && ack == c->snd_una && newly > 0)
                rn__tcp_sack_ack(c, 0, newly, false);
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
            if (c->t_snd.sb_len == 0)
                rn__tcp_ring_put(c);
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
        if (tcp_sack_flight(c)) {
            /* SACK recovery (tcp_sack.c) sets the window while it lasts. */
            if (!(c->t_flags & TF_INRECOVERY) && acked > 0)
                rn__tcp_cc_ack(c, acked);
            rn__tcp_sack_ack(c, acked, newly, false);
        } else if (c->t_flags & TF_INRECOVERY) {
            rn__tcp_cc_recovery_ack(c, acked);
        } else if (acked > 0) {
            rn__tcp_cc_ack(c, acked);
        }
        c->t_rxtshift = 0;
        if (c->snd_una == c->snd_max) {
            rn__tcp_timer_stop(c, TCP_T_REXMT);
            c->t_persist = false;
            c->t_flags &= ~TF_RACK_ARMED;
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
                    rn__tcp_timer_arm(c, TCP_T_KEEP, now + c->t_conf->tc_p.tp_fin_wait_2);
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
    /* RACK's reordering timer, if a candidate falls due before the
     * retransmission timer (RFC 8985 6.2 step 5). */
    if (tcp_rack_due(c) != 0 && c->snd_una != c->snd_max && !c->t_persist &&
        (!tcp_timer_armed(c, TCP_T_REXMT) || tcp_rack_due(c) < tcp_timer_due(c, TCP_T_REXMT))) {
        c->t_flags = (c->t_flags & ~TF_TLP_ARMED) | TF_RACK_ARMED;
        rn__tcp_timer_arm(c, TCP_T_REXMT, tcp_rack_due(c));
    }
    return true;
}


/* A short pushed segment is most often a request, and an application on
 * the loop answers it within a pass or two of the stack (rn_stack_poll():
 * input, timers, then posted work, where completions are delivered; an
 * answer written from a completion goes out with the next pass's posted
 * work, after that pass's timers, as the echo service's does).  Its ACK
 * therefore waits TCP_PUSH_ACK_WAIT, longer than such passes take, so that
 * the answer carries it instead of a bare ACK going out just before it;
 * output cancels the wait.  With no answer the ACK leaves that much later,
 * far inside the delayed ACK's bound (RFC 9293 3.8.6.3: under 0.5 s).  A
 * window about to close is told at once. */
#define TCP_PUSH_ACK_WAIT 50000  /* ns */

static void push_ack_soon(struct tcp_conn *c, rn_time_t now)
{
    if (rn__tcp_rcv_space(c) < c->t_maxseg) {
        c->t_flags |= TF_ACKNOW;
        return;
    }
    if (!tcp_timer_armed(c, TCP_T_DELACK) ||
        tcp_timer_due(c, TCP_T_DELACK) > now + TCP_PUSH_ACK_WAIT)
        rn__tcp_timer_arm(c, TCP_T_DELACK, now + TCP_PUSH_ACK_WAIT);
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
    uint32_t wnd, seglen;
    bool done = false, fin;
    int err;
    enum tcp_state state = tcp_state(c);

    /* RCV.WND is the window we advertised (RFC 9293 3.3.1), whatever
     * room the buffer has beyond it: what lies past the right edge we
     * offered is not acceptable, in SYN-RECEIVED as later. */
    wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    /* SYN-RECEIVED: the peer sends its SYN again, so it did not hear our
     * SYN+ACK: send it again. */
    if (state == TCPS_SYN_RECEIVED && (c->t_flags & TF_PASSIVE) &&
        (s->flags & (RN_TCP_SYN | RN_TCP_ACK | RN_TCP_RST)) == RN_TCP_SYN && s->seq == c->irs) {
        c->t_flags |= TF_ACKNOW;
        c->snd_nxt = c->iss;
        rn__tcp_output(c);
        seg_drop(st, nb, RN_DROP_TCP_DUPLICATE);
        return;
    }
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
        if (s->len > 0 && SEQ_LEQ(s->seq + s->len, c->rcv_nxt))
            dsack_note(c, s->seq, s->seq + s->len);
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
         * our ACK, or probed a tail), reported as such on the ACK just
         * sent (D-SACK); otherwise it lies past the window. */
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
        if (s->len > 0)
            dsack_note(c, s->seq, s->seq + (dup < s->len ? dup : s->len));
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
    /* A SYN in the window.  SYN-RECEIVED from a passive open goes back
     * to LISTEN (RFC 9293 3.10.7.4, fourth check): the listener forgets
     * the connection.  A synchronized state answers with a challenge ACK
     * (RFC 5961 4.2). */
    if (s->flags & RN_TCP_SYN) {
        if (state == TCPS_SYN_RECEIVED && (c->t_flags & TF_PASSIVE)) {
            seg_drop(st, nb, RN_DROP_TCP_BAD_STATE);
            rn__tcp_done(c);
            return;
        }
        rn__tcp_challenge_ack(c);
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
        /* Tell the peer where the window ends, in the states that still
         * take its text (a closing one ignores it: RFC 9293 3.10.7.4,
         * seventh check). */
        if (state <= TCPS_ESTABLISHED || state == TCPS_FIN_WAIT_1 || state == TCPS_FIN_WAIT_2)
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
    /* ECN (RFC 3168 6.1.3): a CE mark is echoed with ECE on every ACK,
     * at once, until the sender says with CWR that it reduced. */
    if (c->t_ecn & TCP_ECN_OK) {
        if (s->flags & RN_TCP_CWR)
            c->t_ecn &= ~TCP_ECN_ECE;
        if ((s->tos & RN_IP_ECN_MASK) == RN_IP_ECN_CE) {
            c->t_ecn |= TCP_ECN_ECE;
            c->t_flags |= TF_ACKNOW;
        }
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
        /* The handshake just completed: what came with the SYN is taken
         * now. */
        if (c->t_ooo == NULL || (uint32_t)c->t_ooo->nb_cb[0] != c->rcv_nxt)
            goto out;
        nb = NULL;
    } else if (s->seq != c->rcv_nxt) {
        /* A hole: keep it, and say so at once with SACK blocks. */
        ooo_insert(c, nb, s->seq, s->len, fin);
        c->t_flags |= TF_ACKNOW;
        goto out;
    }
    {
        bool had_ooo = c->t_ooo != NULL;
        uint32_t full = c->t_maxseg;
        uint64_t before = c->t_bytes_received;

        fin = rcvq_append(c, nb, s->len, fin);
        if (had_ooo || fin) {
            c->t_flags |= TF_ACKNOW;  /* a hole filled, or the end: ack now */
        } else if (s->len > 0) {
            /* Delayed ACK: at least every second full-sized segment
             * (RFC 9293 3.8.6.3, RFC 1122 4.2.3.2). */
            c->t_segs_unacked += s->len >= full ? 1 : 0;
            if (c->t_segs_unacked >= 2)
                c->t_flags |= TF_ACKNOW;
            else if (s->flags & RN_TCP_PSH && s->len < full)
                push_ack_soon(c, now);
            else if (!tcp_timer_armed(c, TCP_T_DELACK))
                rn__tcp_timer_arm(c, TCP_T_DELACK, now + c->t_conf->tc_p.tp_delack);
        }
        if (c->t_bytes_received != before)
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

/* The segment in nb (at its TCP header, checksum verified) from faddr to
 * laddr: parses it and runs it through the connection, TIME_WAIT entry or
 * listener it is for.  Inlined into both entry points, so that IPv4's
 * costs no call more than it did. */
static inline __attribute__((always_inline)) void
tcp_segment(struct rn_stack *st, struct tcp_stack *ts, struct rn_netbuf *nb, struct seg *s)
{
    uint8_t scratch[RN_TCP_MAX_HLEN];
    size_t hl = nb->nb_pktlen < RN_TCP_MAX_HLEN ? nb->nb_pktlen : RN_TCP_MAX_HLEN;
    const uint8_t *p;
    struct tcp_conn *c;
    struct tcp_listener *l;
    struct tcp_tw *tw;
    enum rn_drop reason;

    p = rn_nb_header(nb, 0, hl, scratch);
    reason = p ? rn__tcp_parse4(p, nb->nb_pktlen, 0, 0, RN_CSUM_VERIFIED, &s->th)
               : RN_DROP_TRUNCATED;
    if (reason == RN_DROP_NONE) {
        memset(&s->to, 0, sizeof(s->to));
        if (s->th.th_optlen > 0)
            reason = rn__tcp_opts_parse(s->th.th_opts, s->th.th_optlen, &s->to);
    }
    if (reason != RN_DROP_NONE) {
        seg_drop(st, nb, reason);
        return;
    }
    s->seq = s->th.th_seq;
    s->len = (uint32_t)s->th.th_paylen;
    s->flags = s->th.th_flags;
    rn_nb_pull(nb, s->th.th_hlen);  /* nb now holds the payload */

    c = rn__tcp_lookup(ts, s->laddr, s->th.th_dport, s->faddr, s->th.th_sport);
    if (c == NULL) {
        tw = rn__tcp_tw_lookup(ts, s->laddr, s->th.th_dport, s->faddr, s->th.th_sport);
        if (tw != NULL && !rn__tcp_tw_input(tw, &s->th, &s->to, s->len)) {
            rn_nb_free(nb);
            return;
        }
        l = rn__tcp_lookup_listener(ts, s->laddr, s->th.th_dport, s->faddr, s->th.th_sport);
        if (l != NULL) {
            if (rn__filter_on(RN_FL_INBOUND_TRANSPORT) &&
                rn__tcp_filter_segment(ts, NULL, RN_FL_INBOUND_TRANSPORT, s->laddr, s->th.th_dport,
                                    s->faddr, s->th.th_sport, s->flags, s->len)) {
                seg_drop(st, nb, RN_DROP_FILTER_BLOCKED);
                return;
            }
            listen_input(l, nb, s);
            return;
        }
        /* CLOSED (RFC 9293 3.10.7.1): answer with a RST unless it is one. */
        if (!(s->flags & RN_TCP_RST))
            rn__tcp_reset_reply(ts, s->laddr, s->faddr, &s->th, s->len);
        seg_drop(st, nb, RN_DROP_TCP_NO_PORT);
        return;
    }
    if (rn__filter_on(RN_FL_INBOUND_TRANSPORT) &&
        rn__tcp_filter_segment(ts, c, RN_FL_INBOUND_TRANSPORT, s->laddr, s->th.th_dport, s->faddr,
                            s->th.th_sport, s->flags, s->len)) {
        seg_drop(st, nb, RN_DROP_FILTER_BLOCKED);
        return;
    }
    c->t_segs_in++;
    if (s->len > 0) {
        c->t_data_segs_in++;
        if (s->len > c->t_rcv_mss)
            c->t_rcv_mss = s->len < c->t_our_mss ? s->len : c->t_our_mss;
    }
    /* The segment may end the connection: keep it until we are done. */
    rn_ob_ref(c, RN_TAG_LOOP);
    if (tcp_state(c) == TCPS_SYN_SENT)
        syn_sent_input(c, nb, s);
    else
        established_input(c, nb, s);
    rn_ob_deref(c, RN_TAG_LOOP);
}

/* True if the device did not vouch for nb's checksum: it is to be summed. */
static bool seg_csum_unchecked(const struct rn_netbuf *nb)
{
    return !(nb->nb_offload & (RN_NB_OFF_CSUM_VALID | RN_NB_OFF_CSUM_PARTIAL));
}

/* What every segment meets whatever its family: none to a broadcast or a
 * group; then the checksum over the whole chain (pseudo: the
 * pseudo-header's sum, wanted only if seg_csum_unchecked()) before the
 * header alone is parsed.  Drops nb and returns false if it fails. */
static bool seg_accept(struct rn_stack *st, struct tcp_stack *ts, struct rn_netbuf *nb,
                       bool group, uint64_t pseudo)
{
    if (group) {
        seg_drop(st, nb, RN_DROP_NOT_FOR_US);
        return false;
    }
    ts->ts_segs_in++;
    if (nb->nb_pktlen < RN_TCP_HLEN ||
        (seg_csum_unchecked(nb) && rn_csum_fold(rn_nb_csum(nb, 0, nb->nb_pktlen, pseudo)) != 0)) {
        seg_drop(st, nb, nb->nb_pktlen < RN_TCP_HLEN ? RN_DROP_TRUNCATED : RN_DROP_BAD_TCP_CSUM);
        return false;
    }
    return true;
}

void rn__tcp_input(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip_rx *rx)
{
    struct tcp_stack *ts = rn__tcp_stack(st);
    uint64_t pseudo = seg_csum_unchecked(nb) ? rn_csum_pseudo4(rx->rx_src, rx->rx_dst, RN_IPPROTO_TCP,
                                                                (uint32_t)nb->nb_pktlen)
                                              : 0;
    struct seg s;

    if (!seg_accept(st, ts, nb, rx->rx_bcast, pseudo))
        return;
    s.tos = rx->rx_tos;
    s.laddr = rn_inaddr_v4(rx->rx_dst);
    s.faddr = rn_inaddr_v4(rx->rx_src);
    tcp_segment(st, ts, nb, &s);
}

void rn__tcp_input6(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip6_rx *rx)
{
    struct tcp_stack *ts = rn__tcp_stack(st);
    uint64_t pseudo = seg_csum_unchecked(nb) ? rn_csum_pseudo6(&rx->rx6_src, &rx->rx6_dst,
                                                                RN_IPPROTO_TCP,
                                                                (uint32_t)nb->nb_pktlen)
                                              : 0;
    struct seg s;

    if (!seg_accept(st, ts, nb, rx->rx6_mcast, pseudo))
        return;
    s.tos = rx->rx6_tclass;
    s.laddr = rn_inaddr_v6(&rx->rx6_dst);
    s.faddr = rn_inaddr_v6(&rx->rx6_src);
    tcp_segment(st, ts, nb, &s);
}

/* A smaller path MTU (mtu, under IP headers of iphlen): the segment size
 * it leaves c (less the TCP header and, if c uses them, the timestamps)
 * if that is smaller, and what was in flight sent again in such pieces. */
static void err_path_mtu(struct tcp_conn *c, uint32_t mtu, uint32_t iphlen)
{
    uint32_t mss = mtu - iphlen - RN_TCP_HLEN - ((c->t_flags & TF_TSTMP) ? 12 : 0);

    if (mss < c->t_maxseg) {
        c->t_maxseg = mss;
        c->snd_nxt = c->snd_una;
        rn__tcp_output(c);
    }
}

/* Ends a connection being opened that an ICMPv6 destination unreachable
 * answered, with the code Linux gives (rn__icmp6_err_code()); on any
 * other state, and for the other ICMPv6 errors, it is soft (RFC 1122
 * 4.2.3.9): the retransmissions decide. */
static void err_input6(struct tcp_conn *c, const struct rn_ip_err *e)
{
    bool hard;

    if (e->ie_type == RN_ICMP6_PACKET_TOO_BIG) {
        /* RFC 8201 4: the path MTU is never below 1280. */
        err_path_mtu(c, e->ie_mtu < 1280 ? 1280 : e->ie_mtu, RN_IP6_HLEN);
        return;
    }
    if (tcp_state(c) == TCPS_SYN_SENT && e->ie_type == RN_ICMP6_DEST_UNREACH)
        rn__tcp_drop(c, rn__icmp6_err_code(e->ie_type, e->ie_code, &hard));
}

void rn__tcp_err_input(struct rn_stack *st, const struct rn_ip_err *e)
{
    struct tcp_stack *ts = rn__tcp_stack(st);
    struct tcp_conn *c;
    uint32_t seq;

    if (ts == NULL || e->ie_l4len < 8)
        return;
    c = rn__tcp_lookup(ts, e->ie_src, rn_get_be16(e->ie_l4), e->ie_dst,
                       rn_get_be16(e->ie_l4 + 2));
    if (c == NULL)
        return;
    seq = rn_get_be32(e->ie_l4 + 4);
    /* RFC 5927: believe only errors about data in flight. */
    if (SEQ_LT(seq, c->snd_una) || SEQ_GEQ(seq, c->snd_max))
        return;
    if (e->ie_v6) {
        err_input6(c, e);
        return;
    }
    if (e->ie_type == 3 && e->ie_code == 4 && e->ie_mtu >= 576) {
        /* Fragmentation needed: shrink the segment size and resend. */
        err_path_mtu(c, e->ie_mtu, RN_IP4_HLEN);
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
