/*
 * TIME_WAIT: connections that closed first wait 2*MSL (RFC 9293 3.6.1)
 * in a bounded table of small entries, so that late segments of the old
 * connection cannot be mistaken for a new one, and a lost final ACK can be
 * repeated.
 *
 * Entries wait 2*MSL, the MSL of the settings their connection opened
 * under (tcp.msl), so nearly always in the order they came: the table
 * keeps them in one list in expiry order, an entry placed from the newest
 * end back, and needs a single timer, for the first.  When the table
 * is full the oldest entry is recycled early (counted), as Linux does at
 * tcp_max_tw_buckets.  Entries are objects ("tcp timewait"), held by the
 * table under "timewait", so `refnet objects` shows them.
 *
 * A segment for an entry is answered as RFC 9293 3.10.7.4 says for
 * TIME-WAIT: one outside the window we last advertised with our last
 * ACK (first check), a SYN+ACK with it (fourth check, RFC 5961 4.2), one
 * without the ACK bit dropped (fifth check), and whatever else arrives
 * (the retransmitted FIN the state waits for, above all) acknowledged,
 * the FIN restarting the 2*MSL wait; only a bare ACK at RCV.NXT is taken
 * in silence, so two ends in TIME-WAIT do not trade ACKs for ever.  A
 * SYN may reopen a 4-tuple in TIME_WAIT if it is clearly new: a higher
 * sequence number or a newer timestamp (RFC 6191).  A RST is ignored
 * (RFC 1337).
 */
#include <stdlib.h>

#include "transport/tcp_priv.h"

static unsigned tw_bucket(struct rn_inaddr laddr, uint16_t lport, struct rn_inaddr faddr, uint16_t fport)
{
    uint32_t h = rn__inaddr_fold(&laddr) * 2654435761u ^ rn__inaddr_fold(&faddr) * 2246822519u ^
                 ((uint32_t)lport << 16 | fport) * 3266489917u;

    return (h ^ h >> 15) & (TCP_HASH_BUCKETS - 1);
}

struct tcp_tw *rn__tcp_tw_lookup(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport,
                              struct rn_inaddr faddr, uint16_t fport)
{
    struct tcp_tw *tw;

    for (tw = ts->ts_tw_hash[tw_bucket(laddr, lport, faddr, fport)]; tw; tw = tw->tw_hnext) {
        if (tw->tw_lport == lport && tw->tw_fport == fport && rn_inaddr_eq(&tw->tw_laddr, &laddr) &&
            rn_inaddr_eq(&tw->tw_faddr, &faddr))
            return tw;
    }
    return NULL;
}

static void tw_unlink_age(struct tcp_stack *ts, struct tcp_tw *tw)
{
    if (tw->tw_older)
        tw->tw_older->tw_newer = tw->tw_newer;
    else
        ts->ts_tw_oldest = tw->tw_newer;
    if (tw->tw_newer)
        tw->tw_newer->tw_older = tw->tw_older;
    else
        ts->ts_tw_newest = tw->tw_older;
    tw->tw_older = tw->tw_newer = NULL;
}

/* Puts tw in the expiry list after every entry that expires no later. */
static void tw_append_age(struct tcp_stack *ts, struct tcp_tw *tw)
{
    struct tcp_tw *after = ts->ts_tw_newest;

    while (after != NULL && after->tw_expires > tw->tw_expires)
        after = after->tw_older;
    tw->tw_older = after;
    tw->tw_newer = after != NULL ? after->tw_newer : ts->ts_tw_oldest;
    if (tw->tw_newer != NULL)
        tw->tw_newer->tw_older = tw;
    else
        ts->ts_tw_newest = tw;
    if (after != NULL)
        after->tw_newer = tw;
    else
        ts->ts_tw_oldest = tw;
}

static void tw_schedule(struct tcp_stack *ts)
{
    struct rn_timer_heap *h = rn_stack_timers(ts->ts_stack);

    if (ts->ts_tw_oldest == NULL)
        rn_timer_cancel(h, &ts->ts_tw_timer);
    else
        rn_timer_arm(h, &ts->ts_tw_timer, ts->ts_tw_oldest->tw_expires);
}

static void tw_remove(struct tcp_stack *ts, struct tcp_tw *tw)
{
    struct tcp_tw **pp = &ts->ts_tw_hash[tw_bucket(tw->tw_laddr, tw->tw_lport, tw->tw_faddr,
                                                   tw->tw_fport)];

    while (*pp != tw)
        pp = &(*pp)->tw_hnext;
    *pp = tw->tw_hnext;
    tw_unlink_age(ts, tw);
    ts->ts_ntw--;
    rn__tcp_port_users(ts, tw->tw_lport, -1);
    rn__stack_port_use(ts->ts_stack, RN_IPPROTO_TCP, tw->tw_lport, false);
    rn_ob_kill(tw);
}

static void tw_expire(struct rn_timer *t, rn_time_t now)
{
    struct tcp_stack *ts = (struct tcp_stack *)((char *)t - offsetof(struct tcp_stack, ts_tw_timer));

    while (ts->ts_tw_oldest != NULL && ts->ts_tw_oldest->tw_expires <= now)
        tw_remove(ts, ts->ts_tw_oldest);
    tw_schedule(ts);
}

void rn__tcp_tw_init(struct tcp_stack *ts)
{
    rn_timer_init(&ts->ts_tw_timer, tw_expire);
}

void rn__tcp_timewait_enter(struct tcp_conn *c)
{
    struct tcp_stack *ts = c->t_tcp;
    rn_time_t now = rn_stack_now(ts->ts_stack);
    struct tcp_tw *tw;
    unsigned b;

    tcp_set_state(c, TCPS_TIME_WAIT);
    if (ts->ts_ntw >= ts->ts_conf->tc_p.tp_timewait_max && ts->ts_tw_oldest != NULL) {
        ts->ts_tw_recycled++;
        tw_remove(ts, ts->ts_tw_oldest);
    }
    tw = rn_ob_create(ts->ts_tw_type, ts->ts_tag_timewait);
    if (tw != NULL) {
        tw->tw_tcp = ts;
        tw->tw_laddr = c->t_laddr;
        tw->tw_lport = c->t_lport;
        tw->tw_faddr = c->t_faddr;
        tw->tw_fport = c->t_fport;
        tw->tw_snd_nxt = c->snd_nxt;
        tw->tw_rcv_nxt = c->rcv_nxt;
        tw->tw_tstmp = (c->t_flags & TF_TSTMP) != 0;
        tw->tw_ts_recent = c->ts_recent;
        tw->tw_ts_offset = c->ts_offset;
        tw->tw_rcv_space = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
        tw->tw_rcv_wnd = (uint16_t)(tw->tw_rcv_space >> c->rcv_scale > 65535
                                        ? 65535
                                        : tw->tw_rcv_space >> c->rcv_scale);
        tw->tw_flags = c->t_uo.uo_flags & (UO_REUSEADDR | UO_REUSEPORT);
        tw->tw_tos = c->t_uo.uo_tos;
        tw->tw_ttl = c->t_uo.uo_ttl;
        /* The connection's own MSL: the settings it opened under. */
        tw->tw_msl = c->t_conf->tc_p.tp_msl;
        tw->tw_expires = now + 2 * tw->tw_msl;
        rn_ob_publish(tw);
        b = tw_bucket(tw->tw_laddr, tw->tw_lport, tw->tw_faddr, tw->tw_fport);
        tw->tw_hnext = ts->ts_tw_hash[b];
        ts->ts_tw_hash[b] = tw;
        tw_append_age(ts, tw);
        ts->ts_ntw++;
        rn__tcp_port_users(ts, tw->tw_lport, 1);
        rn__stack_port_use(ts->ts_stack, RN_IPPROTO_TCP, tw->tw_lport, true);
        tw_schedule(ts);
    }
    /* The full connection is finished; the entry stands in for it. */
    rn__tcp_done(c);
}

/* Answers a segment of the old incarnation with our last ACK. */
static void tw_ack(struct tcp_tw *tw)
{
    struct tcp_stack *ts = tw->tw_tcp;
    uint8_t tos_ttl[2] = {tw->tw_tos, tw->tw_ttl};
    uint32_t tsopt[2];

    if (tw->tw_tstmp) {
        tsopt[0] = (uint32_t)(rn_stack_now(ts->ts_stack) / RN_NSEC_PER_MSEC) + tw->tw_ts_offset;
        tsopt[1] = tw->tw_ts_recent;
    }
    rn__tcp_respond_as(ts, tw->tw_laddr, tw->tw_lport, tw->tw_faddr, tw->tw_fport,
                       tw->tw_snd_nxt, tw->tw_rcv_nxt, RN_TCP_ACK, tw->tw_rcv_wnd,
                       tw->tw_tstmp ? tsopt : NULL, tos_ttl);
}

/* Whether a segment of seglen sequence numbers at seq lies in the window
 * the entry's connection last advertised (RFC 9293 3.10.7.4, the four
 * cases of the first check). */
static bool tw_acceptable(const struct tcp_tw *tw, uint32_t seq, uint32_t seglen)
{
    uint32_t nxt = tw->tw_rcv_nxt, wnd = tw->tw_rcv_space;

    if (seglen == 0)
        return wnd == 0 ? seq == nxt : SEQ_GEQ(seq, nxt) && SEQ_LT(seq, nxt + wnd);
    if (wnd == 0)
        return false;
    return (SEQ_GEQ(seq, nxt) && SEQ_LT(seq, nxt + wnd)) ||
           (SEQ_GEQ(seq + seglen - 1, nxt) && SEQ_LT(seq + seglen - 1, nxt + wnd));
}

/* Waits another 2*MSL from now. */
static void tw_restart(struct tcp_tw *tw)
{
    struct tcp_stack *ts = tw->tw_tcp;

    tw->tw_expires = rn_stack_now(ts->ts_stack) + 2 * tw->tw_msl;
    tw_unlink_age(ts, tw);
    tw_append_age(ts, tw);
    tw_schedule(ts);
}

bool rn__tcp_tw_input(struct tcp_tw *tw, const struct rn_tcp_hdr *th, const struct rn_tcp_opts *to,
                   uint32_t seglen)
{
    struct tcp_stack *ts = tw->tw_tcp;
    uint8_t flags = th->th_flags;
    bool has_ts = (to->to_present & RN_TCPOPT_F_TS) != 0;
    uint32_t occupied = seglen + ((flags & RN_TCP_SYN) ? 1 : 0) + ((flags & RN_TCP_FIN) ? 1 : 0);

    if (flags & RN_TCP_RST)
        return false;  /* RFC 1337: TIME_WAIT assassination is refused */
    if ((flags & (RN_TCP_SYN | RN_TCP_ACK)) == RN_TCP_SYN) {
        if (SEQ_GT(th->th_seq, tw->tw_rcv_nxt) ||
            (tw->tw_tstmp && has_ts && SEQ_GT(to->to_tsval, tw->tw_ts_recent))) {
            ts->ts_tw_reopened++;
            tw_remove(ts, tw);
            tw_schedule(ts);
            return true;
        }
        tw_ack(tw);  /* an old SYN: our ACK tells its sender where we are */
        return false;
    }
    /* PAWS (RFC 7323 5.3) and the first check: an old duplicate or a
     * segment outside the window gets our ACK. */
    if ((tw->tw_tstmp && has_ts && SEQ_LT(to->to_tsval, tw->tw_ts_recent)) ||
        !tw_acceptable(tw, th->th_seq, occupied) || (flags & RN_TCP_SYN)) {
        if (flags & RN_TCP_FIN)
            tw_restart(tw);
        tw_ack(tw);
        return false;
    }
    if (!(flags & RN_TCP_ACK))
        return false;  /* fifth check: no ACK bit, dropped */
    if (occupied == 0 && th->th_seq == tw->tw_rcv_nxt)
        return false;  /* a bare ACK where we expect it */
    /* The peer's FIN again, or anything else: acknowledge it. */
    if (flags & RN_TCP_FIN)
        tw_restart(tw);
    tw_ack(tw);
    return false;
}

void rn__tcp_tw_flush(struct tcp_stack *ts)
{
    while (ts->ts_tw_oldest != NULL)
        tw_remove(ts, ts->ts_tw_oldest);
    tw_schedule(ts);
}
