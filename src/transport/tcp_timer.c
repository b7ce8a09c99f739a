/*
 * TCP timers: retransmission (RFC 6298, with exponential backoff and the
 * persist timer for zero windows; before it, the tail loss probe of RFC
 * 8985 section 7), delayed ACK, and the "keep" timer that
 * serves the connection-establishment timeout, keepalive and the orphaned
 * FIN_WAIT_2 timeout.
 *
 * The four timers of a connection share one entry in the stack's wheel,
 * due at the earliest of those armed; when it fires, each timer due runs
 * (retransmission first, then the cork, the delayed ACK and the keep
 * timer: a segment one of them sends carries the ACK another would), and
 * the entry goes back in at the next due time, if any.  While a timer is
 * armed, or the timers' work runs, the connection has one "tcp.timer"
 * reference, so it can never be freed under its timers; the condition of
 * each armed timer is set while it is.
 */
#include <stdbool.h>
#include <stddef.h>

#include "refnet/error.h"
#include "transport/tcp_priv.h"

#define CONN_OF(t) ((struct tcp_conn *)((char *)(t) - offsetof(struct tcp_conn, t_timer)))

rn_time_t rn__tcp_rto(const struct tcp_conn *c)
{
    rn_time_t rto = c->t_rto, max = c->t_conf->tc_p.tp_rto_max;
    uint32_t i;

    for (i = 0; i < c->t_rxtshift && rto < max; i++)
        rto *= 2;
    return rto < max ? rto : max;
}

/* The condition that covers the hold of each timer. */
static const uint32_t timer_cond[TCP_T_COUNT_] = {
    [TCP_T_REXMT] = TCP_COND_REXMT,
    [TCP_T_DELACK] = TCP_COND_DELACK,
    [TCP_T_KEEP] = TCP_COND_KEEP,
    [TCP_T_CORK] = TCP_COND_KEEP,
};

/* The conditions of the timers in armed (bit k: timer k). */
static uint32_t timers_cond(uint8_t armed)
{
    uint32_t cond = 0;
    unsigned k;

    for (k = 0; k < TCP_T_COUNT_; k++)
        if (armed & (1u << k))
            cond |= timer_cond[k];
    return cond;
}

/* The earliest due time of c's armed timers (c->t_armed != 0). */
static rn_time_t timers_next(const struct tcp_conn *c)
{
    rn_time_t due = 0;
    bool any = false;
    unsigned k;

    for (k = 0; k < TCP_T_COUNT_; k++)
        if ((c->t_armed & (1u << k)) && (!any || c->t_due[k] < due)) {
            due = c->t_due[k];
            any = true;
        }
    return due;
}

/* Clears the conditions of timers no longer armed (the hold stays, for
 * those that are). */
static void timers_cond_trim(struct tcp_conn *c)
{
    uint32_t want = timers_cond(c->t_armed);

    if ((rn_ob_conds(c) & TCP_COND_TIMERS) != want)
        rn_ob_cond_clear(c, TCP_COND_TIMERS & ~want);
}

/* After a timer was armed or stopped outside the timers' work: the wheel
 * entry goes to the earliest due time, or out with the hold when none is
 * armed; the conditions of timers no longer armed are cleared. */
static void timers_sync(struct tcp_conn *c)
{
    struct rn_timer_heap *h = rn_stack_timers(c->t_tcp->ts_stack);
    rn_time_t due;

    if (c->t_timer_firing)
        return;  /* the work's end does it */
    if (c->t_armed == 0) {
        if (rn_timer_armed(&c->t_timer)) {
            rn_timer_cancel(h, &c->t_timer);
            rn_ob_deref_cond(c, RN_TAG_TCP_TIMER, TCP_COND_TIMERS);
        }
        return;
    }
    due = timers_next(c);
    if (!rn_timer_armed(&c->t_timer)) {
        rn_ob_ref(c, RN_TAG_TCP_TIMER);
        (void)rn_timer_arm(h, &c->t_timer, due);
        return;
    }
    timers_cond_trim(c);
    if (c->t_timer.tm_due != due)
        (void)rn_timer_arm(h, &c->t_timer, due);
}

void rn__tcp_timer_arm(struct tcp_conn *c, enum tcp_timer_kind k, rn_time_t due)
{
    /* The condition before the hold it covers. */
    if (!(c->t_armed & (1u << k)))
        rn_ob_cond_set(c, timer_cond[k]);
    c->t_armed |= (uint8_t)(1u << k);
    c->t_due[k] = due;
    timers_sync(c);
}

void rn__tcp_timer_stop(struct tcp_conn *c, enum tcp_timer_kind k)
{
    if (!(c->t_armed & (1u << k)))
        return;
    c->t_armed &= (uint8_t)~(1u << k);
    timers_sync(c);
}

void rn__tcp_timers_stop(struct tcp_conn *c)
{
    c->t_armed = 0;
    c->t_persist = false;
    timers_sync(c);
}

/* TCP_USER_TIMEOUT (RFC 5482): when the oldest unacknowledged data (or
 * the SYN, or the window probes) will have waited too long; 0 if the
 * socket set none. */
static rn_time_t user_deadline(const struct tcp_conn *c)
{
    return c->t_uo.uo_user_timeout != 0 ? c->t_una_since + RN_MSEC(c->t_uo.uo_user_timeout) : 0;
}

/* The probe timeout of RFC 8985 7.2, or 0 if no probe applies to c now:
 * data in flight, an RTT measured, no recovery or timeout in progress, no
 * probe out yet, and no FIN sent (the probe sends data only).  Two round
 * trips, plus the peer's worst delayed ACK when a single segment is in
 * flight (its ACK may wait for the delayed-ACK timer).  RFC 8985 would
 * fire a probe due after the retransmission timer at the timer's time, in
 * its place; refnet lets the timer fire then, with its back-off and
 * RFC 6298's schedule, as before.  RFC 8985 asks for SACK too; a peer
 * without it is probed all the same, as refnet did before: the probe's
 * ACK still spares it a wait for the timer. */
static rn_time_t tlp_timeout(const struct tcp_conn *c)
{
    enum tcp_state s = tcp_state(c);
    rn_time_t pto, rto;

    if ((s != TCPS_ESTABLISHED && s != TCPS_CLOSE_WAIT) || c->t_srtt == 0 ||
        c->t_rxtshift != 0 || (c->t_flags & (TF_INRECOVERY | TF_TLP_OUT | TF_SENTFIN)) ||
        c->snd_max == c->snd_una)
        return 0;
    pto = 2 * c->t_srtt;
    if (c->snd_max - c->snd_una <= c->t_maxseg)
        pto += TCP_WCDELACK;
    if (pto < TCP_TLP_MIN)
        pto = TCP_TLP_MIN;
    rto = rn__tcp_rto(c);
    return pto < rto ? pto : 0;
}

void rn__tcp_rexmt_start(struct tcp_conn *c)
{
    rn_time_t now = rn_stack_now(c->t_tcp->ts_stack), pto = tlp_timeout(c);
    rn_time_t due, until = user_deadline(c);

    c->t_persist = false;
    c->t_flags &= ~TF_RACK_ARMED;
    if (pto != 0) {
        c->t_flags |= TF_TLP_ARMED;
        due = now + pto;
    } else {
        c->t_flags &= ~TF_TLP_ARMED;
        due = now + rn__tcp_rto(c);
    }
    /* Fire no later than the user timeout, to drop the connection on
     * time (as Linux clamps the RTO to it). */
    if (until != 0 && until < due)
        due = until > now ? until : now;
    rn__tcp_timer_arm(c, TCP_T_REXMT, due);
}

void rn__tcp_tlp_arm(struct tcp_conn *c)
{
    if (!(c->t_flags & TF_RACK_ARMED) && !c->t_persist && tcp_timer_armed(c, TCP_T_REXMT) &&
        tlp_timeout(c) != 0)
        rn__tcp_rexmt_start(c);
}

/* The tail loss probe (RFC 8985 7.3): nothing was acknowledged for two
 * round trips while data is in flight.  Either the last segments or their
 * ACKs were lost; no duplicate ACK will come to say which.  A segment of
 * new data goes if there is some and the peer's window takes it, else the
 * last segment again: its ACK acknowledges everything if only ACKs were
 * lost, or reports the hole with SACK, which starts recovery.  The window
 * is left as it is, and the retransmission timer takes over from here.  A
 * peer whose window shrank below the data in flight gets no probe: the
 * last segment would fall outside the window; the retransmission timer
 * resends from snd_una, clipped to it. */
static void tlp_fire(struct tcp_conn *c, rn_time_t now)
{
    /* The last data byte sent: a FIN sent since the probe was armed takes
     * a sequence number after it, which is no byte of the send ring. */
    uint32_t end = c->snd_max - ((c->t_flags & TF_SENTFIN) ? 1u : 0u);
    uint32_t len = end - c->snd_una, room = rn__tcp_seg_room(c);
    uint32_t start = c->snd_una == c->iss ? c->iss + 1 : c->snd_una;
    uint32_t unsent = SEQ_LT(c->snd_max, start + c->t_snd.sb_len) && !(c->t_flags & TF_SENTFIN)
                          ? start + c->t_snd.sb_len - c->snd_max
                          : 0;
    uint32_t edge = c->snd_una + c->snd_wnd;

    c->t_flags |= TF_TLP_OUT;
    if (unsent > 0 && c->snd_nxt == c->snd_max && SEQ_LT(c->snd_max, edge)) {
        uint32_t n = unsent < room ? unsent : room;

        if (n > edge - c->snd_max)
            n = edge - c->snd_max;
        c->t_tcp->ts_tlp_probes++;
        c->t_tlp_rxt = false;
        rn__tcp_send_new(c, n, n == unsent);
        c->t_tlp_end = c->snd_max;
        rn__tcp_timer_arm(c, TCP_T_REXMT, now + rn__tcp_rto(c));
        return;
    }
    if (len > room)
        len = room;
    if (len > c->t_snd.sb_len)
        len = c->t_snd.sb_len;
    if (SEQ_GT(end, edge))
        len = 0;
    if (len > 0) {
        c->t_flags &= ~TF_RXT_TIMING;  /* Karn */
        c->t_tcp->ts_tlp_probes++;
        c->t_tcp->ts_retransmits++;
        c->t_retransmits++;
        c->t_undo_retrans += c->t_undo;
        c->t_bytes_retrans += len;
        c->t_tlp_rxt = true;
        c->t_tlp_end = c->snd_max;
        rn__tcp_send_segment(c, end - len, len, RN_TCP_ACK);
    }
    rn__tcp_timer_arm(c, TCP_T_REXMT, now + rn__tcp_rto(c));
}

void rn__tcp_keep_reset(struct tcp_conn *c)
{
    c->t_keep_probes = 0;
    if (c->t_flags & TF_KEEPALIVE)
        rn__tcp_timer_arm(c, TCP_T_KEEP, rn_stack_now(c->t_tcp->ts_stack) + rn__tcp_keepidle(c));
    else if (tcp_state(c) != TCPS_FIN_WAIT_2)
        rn__tcp_timer_stop(c, TCP_T_KEEP);
}

/* Retransmissions allowed in state s: the SYN's (TCP_SYNCNT, or
 * tcp.syn_retries), the SYN+ACK's, or the data's. */
static uint32_t retries_of(const struct tcp_conn *c, enum tcp_state s)
{
    const struct rn_tcp_params *p = &c->t_conf->tc_p;

    if (s == TCPS_SYN_SENT)
        return c->t_uo.uo_syncnt != 0 ? c->t_uo.uo_syncnt : p->tp_syn_retries;
    if (s == TCPS_SYN_RECEIVED)
        return p->tp_synack_retries;
    return p->tp_retries;
}

static void rexmt_fire(struct tcp_conn *c, rn_time_t now)
{
    struct tcp_stack *ts = c->t_tcp;
    enum tcp_state s = tcp_state(c);
    bool probe = (c->t_flags & TF_TLP_ARMED) != 0, rack = (c->t_flags & TF_RACK_ARMED) != 0;

    c->t_flags &= ~(TF_TLP_ARMED | TF_RACK_ARMED);
    if (c->t_flags & TF_DONE)
        return;
    if (rack && !c->t_persist) {
        /* RACK's reordering timer: what it waited for is lost by now;
         * then the retransmission timer runs again. */
        if (c->snd_una != c->snd_max) {
            rn__tcp_rack_timeout(c);
            if (!(c->t_flags & TF_DONE) && c->snd_una != c->snd_max) {
                if (!tcp_timer_armed(c, TCP_T_REXMT))
                    rn__tcp_rexmt_start(c);
                if (tcp_rack_due(c) != 0 && tcp_rack_due(c) < tcp_timer_due(c, TCP_T_REXMT)) {
                    c->t_flags = (c->t_flags & ~TF_TLP_ARMED) | TF_RACK_ARMED;
                    rn__tcp_timer_arm(c, TCP_T_REXMT, tcp_rack_due(c));
                }
            }
        }
        return;
    }
    if (c->t_persist) {
        uint32_t start = c->snd_una == c->iss ? c->iss + 1 : c->snd_una;
        uint32_t avail = start + c->t_snd.sb_len - c->snd_nxt;

        if (c->snd_wnd > 0 && c->snd_una == c->snd_max && avail > 0) {
            /* A small window that will not grow: use it (the SWS
             * override timeout of RFC 9293 3.8.6.2.1). */
            uint32_t len = c->snd_wnd < avail ? c->snd_wnd : avail;

            if (len > rn__tcp_seg_room(c))
                len = rn__tcp_seg_room(c);
            rn__tcp_send_segment(c, c->snd_nxt, len, RN_TCP_ACK | RN_TCP_PSH);
            c->snd_nxt += len;
            c->snd_max = c->snd_nxt;
            c->t_persist = false;
            rn__tcp_rexmt_start(c);
            return;
        }
        /* Probes the peer answers keep the connection, but not past a
         * user timeout (Linux counts from the first probe). */
        if (user_deadline(c) != 0 && now >= user_deadline(c)) {
            ts->ts_timeouts++;
            rn__tcp_drop(c, RN_ETIMEDOUT);
            return;
        }
        /* Zero-window probe: an old byte's sequence number and no data
         * makes the peer answer with its current window. */
        rn__tcp_send_segment(c, c->snd_una - 1, 0, RN_TCP_ACK);
        if (c->t_rxtshift < TCP_MAX_RXTSHIFT)
            c->t_rxtshift++;
        rn__tcp_timer_arm(c, TCP_T_REXMT, now + rn__tcp_rto(c));
        return;
    }
    if (c->snd_una == c->snd_max)
        return;  /* everything was acknowledged meanwhile */
    if (user_deadline(c) != 0 && now >= user_deadline(c)) {
        ts->ts_timeouts++;
        rn__tcp_drop(c, RN_ETIMEDOUT);
        return;
    }
    if (probe) {
        tlp_fire(c, now);
        return;
    }
    if (c->snd_wnd == 0 && tcp_state(c) >= TCPS_ESTABLISHED) {
        /* The window closed on data in flight: resending into it is
         * useless.  Probe it instead, as long as the peer answers
         * (RFC 9293 3.8.6.1; BSD does the same). */
        c->snd_nxt = c->snd_una;
        c->t_persist = true;
        c->t_una_since = now;  /* TCP_USER_TIMEOUT counts from the first probe */
        rn__tcp_send_segment(c, c->snd_una - 1, 0, RN_TCP_ACK);
        if (c->t_rxtshift < TCP_MAX_RXTSHIFT)
            c->t_rxtshift++;
        rn__tcp_timer_arm(c, TCP_T_REXMT, now + rn__tcp_rto(c));
        return;
    }
    /* Out of retries, unless a user timeout decides instead (RFC 5482,
     * as Linux). */
    if (user_deadline(c) == 0 && c->t_rxtshift >= retries_of(c, s)) {
        ts->ts_timeouts++;
        rn__tcp_drop(c, RN_ETIMEDOUT);
        return;
    }
    c->t_rxtshift++;
    ts->ts_timeouts++;
    c->t_flags &= ~TF_TLP_OUT;
    rn__tcp_cc_rto(c);
    rn__tcp_sack_rto(c);
    c->t_flags &= ~TF_RXT_TIMING;  /* Karn */
    c->snd_nxt = c->snd_una;       /* go back and resend from the oldest */
    c->t_dupacks = 0;
    rn__tcp_rexmt_start(c);
    rn__tcp_output(c);
}

static void delack_fire(struct tcp_conn *c, rn_time_t now)
{
    (void)now;
    if (!(c->t_flags & TF_DONE)) {
        c->t_flags |= TF_ACKNOW;
        rn__tcp_output(c);
    }
}

static void keep_fire(struct tcp_conn *c, rn_time_t now)
{
    enum tcp_state s = tcp_state(c);
    rn_time_t idle = rn__tcp_keepidle(c);

    if (c->t_flags & TF_DONE)
        return;
    if (s == TCPS_SYN_SENT || s == TCPS_SYN_RECEIVED) {
        /* A callout pended the open and never decided: give up, as an
         * unanswered SYN would. */
        if (c->t_flags & TF_AUTH_PENDING) {
            c->t_tcp->ts_timeouts++;
            rn__tcp_drop(c, RN_ETIMEDOUT);
        }
        return;
    }
    if (s == TCPS_FIN_WAIT_2 && (c->t_flags & TF_USER_CLOSED)) {
        rn__tcp_done(c);  /* the peer never closed its side */
        return;
    }
    if (!(c->t_flags & TF_KEEPALIVE) || s < TCPS_ESTABLISHED)
        return;
    if (now - c->t_last_recv < idle) {
        rn__tcp_timer_arm(c, TCP_T_KEEP, c->t_last_recv + idle);
        return;
    }
    /* Out of probes; or, with a user timeout, silent for that long after
     * a probe went out (RFC 5482 with keepalive, as Linux). */
    if ((c->t_uo.uo_user_timeout == 0 && c->t_keep_probes >= rn__tcp_keepcnt(c)) ||
        (c->t_uo.uo_user_timeout != 0 && c->t_keep_probes > 0 &&
         now - c->t_last_recv >= RN_MSEC(c->t_uo.uo_user_timeout))) {
        c->t_tcp->ts_timeouts++;
        rn__tcp_drop(c, RN_ETIMEDOUT);
        return;
    }
    c->t_keep_probes++;
    rn__tcp_send_segment(c, c->snd_una - 1, 0, RN_TCP_ACK);  /* RFC 1122 4.2.3.6 */
    rn__tcp_timer_arm(c, TCP_T_KEEP, now + rn__tcp_keepintvl(c));
}

/* A corked partial segment waited its 200 ms: it goes now. */
static void cork_fire(struct tcp_conn *c, rn_time_t now)
{
    (void)now;
    if (!(c->t_flags & TF_DONE)) {
        c->t_flags |= TF_PUSH_ONCE;
        rn__tcp_output(c);
    }
}

/* The wheel entry fired: every timer due runs, in this order, each
 * disarmed before its work (which may arm it, or any other, again). */
static void timers_fire(struct rn_timer *t, rn_time_t now)
{
    static const struct {
        enum tcp_timer_kind k;
        void (*fire)(struct tcp_conn *c, rn_time_t now);
    } order[TCP_T_COUNT_] = {
        {TCP_T_REXMT, rexmt_fire},
        {TCP_T_CORK, cork_fire},
        {TCP_T_DELACK, delack_fire},
        {TCP_T_KEEP, keep_fire},
    };
    struct tcp_conn *c = CONN_OF(t);
    unsigned i;

    c->t_timer_firing = true;
    for (i = 0; i < TCP_T_COUNT_; i++) {
        uint8_t bit = (uint8_t)(1u << order[i].k);

        if ((c->t_armed & bit) && c->t_due[order[i].k] <= now) {
            c->t_armed &= (uint8_t)~bit;
            order[i].fire(c, now);
        }
    }
    c->t_timer_firing = false;
    /* The work's hold: kept for the timers still armed, else dropped
     * (the connection may go with it). */
    if (c->t_armed == 0) {
        rn_ob_deref_cond(c, RN_TAG_TCP_TIMER, TCP_COND_TIMERS);
        return;
    }
    timers_cond_trim(c);
    (void)rn_timer_arm(rn_stack_timers(c->t_tcp->ts_stack), &c->t_timer, timers_next(c));
}

void rn__tcp_timers_init(struct tcp_conn *c)
{
    rn_timer_init(&c->t_timer, timers_fire);
    c->t_armed = 0;
}
