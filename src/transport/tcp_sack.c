/*
 * Loss recovery with SACK: the scoreboard and NextSeg() of RFC 6675, the
 * sending rate of Proportional Rate Reduction (RFC 6937, PRR-SSRB), and
 * RACK's time-based loss detection (RFC 8985 6).  A peer that took no
 * SACK recovers with NewReno (tcp_cc_newreno.c) instead.
 *
 * Everything is bounded: at most TCP_SACK_RANGES SACKed ranges (the
 * receiver reports at most four blocks an ACK) and TCP_XMIT_MARKS
 * send-time marks in each of two lists, so an ACK costs a few walks over
 * fixed arrays.  They live in a scoreboard (struct tcp_sackboard) that a
 * connection holds only while it has data in flight: taken from the
 * stack's free list by the first segment sent, given back by the ACK that
 * acknowledges everything.  Without one (idle, or no memory for one)
 * every list reads as empty: RACK dates nothing and the scoreboard
 * recovery sees no SACKs, so a connection that could not get one recovers
 * by duplicate ACKs and timeouts.
 *
 * Send times.  New data goes out in sequence order, so its send time
 * grows with its sequence number: a list of (end, time) marks dates every
 * byte sent, the bytes after one mark's end up to the next's going out at
 * the next's time.  Retransmissions in a recovery go out in sequence
 * order too (NextSeg() walks up), and get a list of their own.  A byte
 * resent out of order re-dates the marks around it; when a list is full
 * its two oldest marks merge.  Either way bytes can only look sent later
 * than they were, which makes RACK slower to call them lost, never
 * quicker.
 */
#include <stdlib.h>
#include <string.h>

#include "refnet/heap.h"
#include "transport/tcp_priv.h"

/* ---- The scoreboard ------------------------------------------------------ */

/* c's scoreboard, taken now if it has none; NULL if none could be had. */
static struct tcp_sackboard *sb_get(struct tcp_conn *c)
{
    struct tcp_stack *ts = c->t_tcp;
    struct tcp_sackboard *sb = c->t_sb;

    if (sb != NULL)
        return sb;
    sb = ts->ts_sb_free;
    if (sb != NULL) {
        ts->ts_sb_free = *(struct tcp_sackboard **)sb;
        ts->ts_sb_nfree--;
    } else {
        sb = malloc(sizeof(*sb));
        if (sb == NULL)
            return NULL;
    }
    /* A new flight: nothing SACKed, resent or delivered in it yet. */
    sb->sk_xm_orig.xs_n = 0;
    sb->sk_xm_rxt.xs_n = 0;
    sb->sk_sacked_bytes = 0;
    sb->sk_high_rxt = sb->sk_rescue_rxt = c->snd_una;
    sb->sk_pipe = sb->sk_prr_delivered = sb->sk_prr_out = sb->sk_recover_fs = 0;
    sb->sk_rescue_used = false;
    sb->sk_rack_rerxt = false;
    sb->sk_rack_end_seq = sb->sk_rack_lost = sb->sk_rack_rerxt_seq = c->snd_una;
    sb->sk_rack_xmit_ts = sb->sk_rack_rtt = sb->sk_rack_due = 0;
    c->t_nsacked = 0;
    c->t_sb = sb;
    return sb;
}

/* Gives c's scoreboard back to the stack's free list. */
static void sb_put(struct tcp_conn *c)
{
    struct tcp_stack *ts = c->t_tcp;
    struct tcp_sackboard *sb = c->t_sb;

    if (sb == NULL)
        return;
    c->t_sb = NULL;
    c->t_nsacked = 0;
    if (ts->ts_sb_nfree >= TCP_SB_POOL_MAX) {
        free(sb);
        rn_heap_note_freed(sizeof(*sb));
        return;
    }
    *(struct tcp_sackboard **)sb = ts->ts_sb_free;
    ts->ts_sb_free = sb;
    ts->ts_sb_nfree++;
}

void rn__tcp_sack_free(struct tcp_conn *c)
{
    sb_put(c);
}

void rn__tcp_sack_pool_fini(struct tcp_stack *ts)
{
    while (ts->ts_sb_free != NULL) {
        struct tcp_sackboard *sb = ts->ts_sb_free;

        ts->ts_sb_free = *(struct tcp_sackboard **)sb;
        free(sb);
    }
    ts->ts_sb_nfree = 0;
}

/* The marks of new data and of resent data; NULL without a scoreboard. */
static struct tcp_xmarks *xm_orig(const struct tcp_conn *c)
{
    return c->t_sb != NULL ? &c->t_sb->sk_xm_orig : NULL;
}

static struct tcp_xmarks *xm_rxt(const struct tcp_conn *c)
{
    return c->t_sb != NULL ? &c->t_sb->sk_xm_rxt : NULL;
}

/* Forgets ranges at or below una. */
static void sb_trim(struct tcp_conn *c, uint32_t una)
{
    unsigned i, k = 0;

    for (i = 0; i < c->t_nsacked; i++) {
        struct tcp_range r = c->t_sb->sk_sacked[i];

        if (SEQ_LEQ(r.r_end, una)) {
            c->t_sb->sk_sacked_bytes -= r.r_end - r.r_start;
            continue;
        }
        if (SEQ_LT(r.r_start, una)) {
            c->t_sb->sk_sacked_bytes -= una - r.r_start;
            r.r_start = una;
        }
        c->t_sb->sk_sacked[k++] = r;
    }
    c->t_nsacked = (uint8_t)k;
}

/* Adds start..end; returns the bytes that were not SACKed before. */
static uint32_t sb_add(struct tcp_conn *c, uint32_t start, uint32_t end)
{
    struct tcp_sackboard *sb = sb_get(c);
    struct tcp_range *r;
    uint32_t newly = end - start, s = start, e = end;
    unsigned i = 0, j, n = c->t_nsacked;

    if (sb == NULL)
        return 0;  /* no memory: the SACK is not kept */
    r = sb->sk_sacked;

    while (i < n && SEQ_LT(r[i].r_end, start))
        i++;
    for (j = i; j < n && SEQ_LEQ(r[j].r_start, end); j++) {
        uint32_t lo = SEQ_MAX(start, r[j].r_start), hi = SEQ_MIN(end, r[j].r_end);

        if (SEQ_LT(lo, hi))
            newly -= hi - lo;
        s = SEQ_MIN(s, r[j].r_start);
        e = SEQ_MAX(e, r[j].r_end);
    }
    if (j > i) {
        /* Merged with r[i..j): one range in their place. */
        r[i].r_start = s;
        r[i].r_end = e;
        memmove(&r[i + 1], &r[j], (n - j) * sizeof(r[0]));
        c->t_nsacked = (uint8_t)(n - (j - i - 1));
    } else {
        if (n == TCP_SACK_RANGES) {
            /* Full: the highest range goes (the receiver repeats its
             * latest blocks, so it is the likeliest to come back). */
            if (i == n)
                return 0;
            n--;
            c->t_sb->sk_sacked_bytes -= r[n].r_end - r[n].r_start;
        }
        memmove(&r[i + 1], &r[i], (n - i) * sizeof(r[0]));
        r[i].r_start = start;
        r[i].r_end = end;
        c->t_nsacked = (uint8_t)(n + 1);
    }
    c->t_sb->sk_sacked_bytes += newly;
    return newly;
}

void rn__tcp_sack_clear(struct tcp_conn *c)
{
    c->t_nsacked = 0;
    if (c->t_sb != NULL)
        c->t_sb->sk_sacked_bytes = 0;
}

uint32_t rn__tcp_sack_skip(const struct tcp_conn *c, uint32_t seq)
{
    unsigned i;

    for (i = 0; i < c->t_nsacked; i++) {
        if (SEQ_GEQ(seq, c->t_sb->sk_sacked[i].r_start) && SEQ_LT(seq, c->t_sb->sk_sacked[i].r_end))
            return c->t_sb->sk_sacked[i].r_end;
    }
    return seq;
}

uint32_t rn__tcp_sack_next(const struct tcp_conn *c, uint32_t seq)
{
    unsigned i;

    for (i = 0; i < c->t_nsacked; i++) {
        if (SEQ_GT(c->t_sb->sk_sacked[i].r_start, seq))
            return c->t_sb->sk_sacked[i].r_start;
    }
    return c->snd_max;
}

/* The highest byte SACKed, plus one; snd_una if none. */
static uint32_t sb_high(const struct tcp_conn *c)
{
    return c->t_nsacked > 0 ? c->t_sb->sk_sacked[c->t_nsacked - 1].r_end : c->snd_una;
}

/* Bytes of a..b that are not SACKed. */
static uint32_t sb_unsacked(const struct tcp_conn *c, uint32_t a, uint32_t b)
{
    uint32_t n;
    unsigned i;

    if (!SEQ_LT(a, b))
        return 0;
    n = b - a;
    for (i = 0; i < c->t_nsacked; i++) {
        uint32_t lo = SEQ_MAX(a, c->t_sb->sk_sacked[i].r_start), hi = SEQ_MIN(b, c->t_sb->sk_sacked[i].r_end);

        if (SEQ_LT(lo, hi))
            n -= hi - lo;
    }
    return n;
}

/* RFC 6675 IsLost() for every byte at once: the unSACKed bytes below the
 * returned sequence number are lost, as DupThresh discontiguous SACKed
 * ranges or more than (DupThresh - 1) * SMSS SACKed bytes lie above them. */
static uint32_t sb_lost_below(const struct tcp_conn *c)
{
    uint32_t bytes = 0;
    unsigned k = c->t_nsacked, count = 0;

    while (k > 0) {
        k--;
        bytes += c->t_sb->sk_sacked[k].r_end - c->t_sb->sk_sacked[k].r_start;
        count++;
        if (count >= TCP_DUPTHRESH || bytes > (TCP_DUPTHRESH - 1) * c->t_maxseg)
            return c->t_sb->sk_sacked[k].r_start;
    }
    return c->snd_una;
}

/* Where the lost data ends: the scoreboard's verdict or RACK's. */
static uint32_t lost_below(const struct tcp_conn *c)
{
    uint32_t l = sb_lost_below(c);

    if (c->t_sb != NULL && SEQ_GT(c->t_sb->sk_rack_lost, l))
        l = c->t_sb->sk_rack_lost;
    if (SEQ_GT(l, c->snd_max))
        l = c->snd_max;
    return SEQ_LT(l, c->snd_una) ? c->snd_una : l;
}

static rn_time_t xm_time(const struct tcp_xmarks *xs, uint32_t seq);

/* RFC 6675 IsLost(seq), or RACK's verdict.  Data resent since (after a
 * timeout, or in this recovery) is judged by RACK's check of the
 * retransmission at snd_una only. */
bool rn__tcp_sack_lost(const struct tcp_conn *c, uint32_t seq)
{
    return SEQ_LT(seq, lost_below(c)) && rn__tcp_sack_skip(c, seq) == seq &&
           xm_time(xm_rxt(c), seq) == 0;
}

/* RFC 6675 SetPipe(): each unSACKed byte counts once unless lost, and
 * once more if it was resent in this recovery (below HighRxt). */
static uint32_t set_pipe(const struct tcp_conn *c)
{
    uint32_t l = lost_below(c), pipe = sb_unsacked(c, l, c->snd_max);

    if ((c->t_flags & TF_INRECOVERY) && c->t_sb != NULL && SEQ_GT(c->t_sb->sk_high_rxt, c->snd_una))
        pipe += sb_unsacked(c, c->snd_una, SEQ_MIN(c->t_sb->sk_high_rxt, c->snd_max));
    return pipe;
}

/* ---- Send-time marks ----------------------------------------------------- */

static void xm_clear(struct tcp_xmarks *xs)
{
    if (xs != NULL)
        xs->xs_n = 0;
}

static void xm_trim(struct tcp_xmarks *xs, uint32_t una)
{
    unsigned k = 0;

    if (xs == NULL)
        return;
    while (k < xs->xs_n && SEQ_LEQ(xs->xs_m[k].xm_end, una))
        k++;
    if (k == 0)
        return;
    memmove(xs->xs_m, xs->xs_m + k, (xs->xs_n - k) * sizeof(xs->xs_m[0]));
    xs->xs_n = (uint8_t)(xs->xs_n - k);
}

/* start..end went out at now. */
static void xm_push(struct tcp_xmarks *xs, uint32_t start, uint32_t end, rn_time_t now)
{
    unsigned i, n = xs->xs_n;
    struct tcp_xmark *last = n > 0 ? &xs->xs_m[n - 1] : NULL;

    if (last != NULL && SEQ_LT(start, last->xm_end)) {
        /* Out of order: every mark holding part of start..end is now,
         * and the bytes beyond them join the last. */
        for (i = 0; i < n; i++) {
            if (SEQ_GT(xs->xs_m[i].xm_end, start) && SEQ_LT(xs->xs_m[i].xm_start, end))
                xs->xs_m[i].xm_time = now;
        }
        if (SEQ_LT(start, xs->xs_m[0].xm_start))
            xs->xs_m[0].xm_start = start;
        if (SEQ_GT(end, last->xm_end)) {
            last->xm_end = end;
            last->xm_time = now;
        }
        return;
    }
    if (last != NULL && last->xm_time == now && last->xm_end == start) {
        last->xm_end = end;
        return;
    }
    if (n == TCP_XMIT_MARKS) {
        /* Full: the two oldest merge, at the later time. */
        xs->xs_m[1].xm_start = xs->xs_m[0].xm_start;
        memmove(xs->xs_m, xs->xs_m + 1, (n - 1) * sizeof(xs->xs_m[0]));
        n--;
    }
    xs->xs_m[n].xm_start = start;
    xs->xs_m[n].xm_end = end;
    xs->xs_m[n].xm_time = now;
    xs->xs_n = (uint8_t)(n + 1);
}

/* When byte seq last went out by the list xs; 0 if xs does not hold it
 * (or is NULL). */
static rn_time_t xm_time(const struct tcp_xmarks *xs, uint32_t seq)
{
    unsigned i;

    if (xs == NULL)
        return 0;
    for (i = 0; i < xs->xs_n; i++) {
        if (SEQ_GEQ(seq, xs->xs_m[i].xm_start) && SEQ_LT(seq, xs->xs_m[i].xm_end))
            return xs->xs_m[i].xm_time;
    }
    return 0;
}

/* ---- RACK (RFC 8985 6.2) ------------------------------------------------- */

/* RACK_sent_after(t1, seq1, t2, seq2) */
static bool sent_after(rn_time_t t1, uint32_t seq1, rn_time_t t2, uint32_t seq2)
{
    return t1 > t2 || (t1 == t2 && SEQ_GT(seq1, seq2));
}

/* RACK.reo_wnd (step 4). */
static rn_time_t reo_wnd(const struct tcp_conn *c)
{
    rn_time_t w;
    unsigned mult = c->t_reo_wnd_mult > 0 ? c->t_reo_wnd_mult : 1;

    if (!c->t_rack_reord) {
        if (c->t_flags & TF_INRECOVERY)
            return 0;
        if (c->t_sb->sk_sacked_bytes >= TCP_DUPTHRESH * c->t_maxseg)
            return 0;
    }
    w = c->t_min_rtt / 4 * mult;
    return c->t_srtt != 0 && w > c->t_srtt ? c->t_srtt : w;
}

/* Byte seq, not SACKed before, was delivered (steps 1 to 3). */
static void rack_deliver(struct tcp_conn *c, uint32_t seq, rn_time_t now)
{
    rn_time_t orig = xm_time(xm_orig(c), seq), rxt = xm_time(xm_rxt(c), seq), t = orig;
    bool resent = rxt != 0 && rxt >= orig;
    struct tcp_sackboard *sb;

    if (resent) {
        /* Which copy arrived?  One delivered sooner than the least round
         * trip after its retransmission was the original: no sample. */
        if (now - rxt < c->t_min_rtt)
            return;
        t = rxt;
    }
    if (t == 0)
        return;  /* no mark: nothing sent in this flight (and no board) */
    sb = c->t_sb;
    if (!resent && SEQ_LT(seq + 1, sb->sk_rack_end_seq))
        c->t_rack_reord = true;  /* delivered out of order: reordering */
    if (sb->sk_rack_xmit_ts == 0 ||
        sent_after(t, seq + 1, sb->sk_rack_xmit_ts, sb->sk_rack_end_seq)) {
        sb->sk_rack_xmit_ts = t;
        sb->sk_rack_end_seq = seq + 1;
        sb->sk_rack_rtt = now - t;
    }
}

/* Step 5: marks lost what was sent before the latest delivered data and
 * has waited a round trip and the reordering window.  Returns when the
 * next candidate would be due, or 0. */
static rn_time_t rack_detect(struct tcp_conn *c, rn_time_t now)
{
    rn_time_t reo, due = 0, t;
    uint32_t lost;
    unsigned i;

    if (c->t_sb == NULL || c->t_sb->sk_rack_xmit_ts == 0)
        return 0;
    reo = reo_wnd(c);
    lost = SEQ_LT(c->t_sb->sk_rack_lost, c->snd_una) ? c->snd_una : c->t_sb->sk_rack_lost;
    /* Data sent once: a prefix of the marks, in order. */
    for (i = 0; i < c->t_sb->sk_xm_orig.xs_n; i++) {
        const struct tcp_xmark *m = &c->t_sb->sk_xm_orig.xs_m[i];
        uint32_t end = SEQ_MIN(m->xm_end, c->t_sb->sk_rack_end_seq);

        if (!SEQ_LT(lost, end))
            continue;
        if (!SEQ_LT(lost, c->t_sb->sk_rack_end_seq) || m->xm_time > c->t_sb->sk_rack_xmit_ts)
            break;
        if (m->xm_time + c->t_sb->sk_rack_rtt + reo > now) {
            due = m->xm_time + c->t_sb->sk_rack_rtt + reo;
            break;
        }
        if (sb_unsacked(c, SEQ_MAX(lost, c->t_sb->sk_high_rxt), end) > 0)
            c->t_tcp->ts_rack_losses++;
        lost = end;
    }
    c->t_sb->sk_rack_lost = lost;
    /* A retransmission that data sent after it overtook was lost too.
     * Each hole below HighRxt (at most one more than the SACKed ranges)
     * is judged by when it was last resent; the first lost goes again. */
    if ((c->t_flags & TF_INRECOVERY) && !c->t_sb->sk_rack_rerxt) {
        uint32_t h = rn__tcp_sack_skip(c, c->snd_una);
        unsigned k;

        for (k = 0; k <= TCP_SACK_RANGES && SEQ_LT(h, c->t_sb->sk_high_rxt); k++) {
            t = xm_time(xm_rxt(c), h);
            if (t != 0 && t < c->t_sb->sk_rack_xmit_ts) {
                if (t + c->t_sb->sk_rack_rtt + reo <= now) {
                    c->t_sb->sk_rack_rerxt = true;
                    c->t_sb->sk_rack_rerxt_seq = h;
                    c->t_tcp->ts_rack_losses++;
                    break;
                }
                if (due == 0 || t + c->t_sb->sk_rack_rtt + reo < due)
                    due = t + c->t_sb->sk_rack_rtt + reo;
            }
            h = rn__tcp_sack_skip(c, rn__tcp_sack_next(c, h));
        }
    }
    return due;
}

void rn__tcp_rack_dsack(struct tcp_conn *c)
{
    if (c->t_dsack_round_on && SEQ_GEQ(c->snd_una, c->t_dsack_round))
        c->t_dsack_round_on = false;
    c->t_rack_reord = true;
    if (c->t_dsack_round_on)
        return;
    /* Once a round trip at most: widen the window, and keep it wide for
     * the next 16 recoveries. */
    c->t_dsack_round_on = true;
    c->t_dsack_round = c->snd_max;
    if (c->t_reo_wnd_mult == 0)
        c->t_reo_wnd_mult = 1;
    if (c->t_reo_wnd_mult < 255)
        c->t_reo_wnd_mult++;
    c->t_reo_wnd_persist = 16;
}

/* ---- The scoreboard's input ---------------------------------------------- */

uint32_t rn__tcp_sack_update(struct tcp_conn *c, const struct rn_tcp_opts *to, uint32_t ack)
{
    rn_time_t now = rn_stack_now(c->t_tcp->ts_stack);
    uint32_t newly = 0;
    unsigned i;

    /* The cumulative ACK delivers its highest byte not SACKed before. */
    if (SEQ_GT(ack, c->snd_una)) {
        uint32_t top = ack;
        unsigned k = c->t_nsacked;

        while (k > 0) {
            k--;
            if (SEQ_LT(c->t_sb->sk_sacked[k].r_start, top) && SEQ_GEQ(c->t_sb->sk_sacked[k].r_end, top))
                top = c->t_sb->sk_sacked[k].r_start;
        }
        if (SEQ_GT(top, c->snd_una))
            rack_deliver(c, top - 1, now);
    }
    sb_trim(c, ack);
    if (!(to->to_present & RN_TCPOPT_F_SACK))
        return 0;
    for (i = 0; i < to->to_nsacks && i < RN_TCP_MAX_SACKS; i++) {
        uint32_t s = to->to_sacks[i].sb_start, e = to->to_sacks[i].sb_end, got;

        /* D-SACKs at or below the ACK, nonsense, and data never sent are
         * no news of what is in flight. */
        if (!SEQ_LT(s, e) || SEQ_LEQ(e, ack) || SEQ_GT(e, c->snd_max))
            continue;
        if (SEQ_LT(s, ack))
            s = ack;
        got = sb_add(c, s, e);
        if (got > 0) {
            /* The block's highest byte dates it: marks grow with it. */
            rack_deliver(c, e - 1, now);
            newly += got;
        }
    }
    return newly;
}

/* ---- Recovery ------------------------------------------------------------ */

/* PRR (RFC 6937 3.1) on an ACK in recovery that delivered delivered
 * bytes: sets pipe, and cwnd to pipe plus what may be sent now. */
static void prr_ack(struct tcp_conn *c, uint32_t delivered)
{
    uint32_t mss = c->t_maxseg, ssthresh = c->snd_ssthresh, pipe;
    int64_t sndcnt;

    c->t_sb->sk_prr_delivered += delivered;
    pipe = set_pipe(c);
    c->t_sb->sk_pipe = pipe;
    if (pipe > ssthresh) {
        /* Proportional: ssthresh/RecoverFS of what was delivered. */
        uint64_t fs = c->t_sb->sk_recover_fs > 0 ? c->t_sb->sk_recover_fs : 1;

        sndcnt = (int64_t)(((uint64_t)c->t_sb->sk_prr_delivered * ssthresh + fs - 1) / fs) -
                 (int64_t)c->t_sb->sk_prr_out;
    } else {
        /* Slow start reduction bound: back up to ssthresh, no faster than
         * slow start would, one segment beyond what was delivered. */
        int64_t limit = (int64_t)c->t_sb->sk_prr_delivered - (int64_t)c->t_sb->sk_prr_out;

        if (limit < (int64_t)delivered)
            limit = delivered;
        limit += mss;
        sndcnt = (int64_t)(ssthresh - pipe) < limit ? (int64_t)(ssthresh - pipe) : limit;
    }
    if (sndcnt < 0)
        sndcnt = 0;
    c->snd_cwnd = pipe + (uint32_t)sndcnt;
}

static void recovery_end(struct tcp_conn *c)
{
    uint32_t flight;

    c->t_flags &= ~TF_INRECOVERY;
    c->t_dupacks = 0;
    c->t_sb->sk_rack_rerxt = false;
    c->t_sb->sk_high_rxt = c->snd_una;
    xm_clear(xm_rxt(c));
    /* RFC 6937: the window ends at ssthresh; but no more than what is in
     * flight and a segment (RFC 6582 3.2 step 3's first option), so an
     * ACK that ends recovery with little in flight does not send a burst
     * of ssthresh at once: slow start takes the window back up. */
    flight = c->snd_max - c->snd_una;
    if (flight < c->t_maxseg)
        flight = c->t_maxseg;
    c->snd_cwnd = flight + c->t_maxseg < c->snd_ssthresh ? flight + c->t_maxseg
                                                         : c->snd_ssthresh;
    if (c->t_reo_wnd_persist > 0 && --c->t_reo_wnd_persist == 0)
        c->t_reo_wnd_mult = 1;
}

static void recovery_enter(struct tcp_conn *c, uint32_t delivered)
{
    uint32_t end = rn__tcp_sack_next(c, c->snd_una), room = rn__tcp_seg_room(c);

    c->t_tcp->ts_sack_recoveries++;
    xm_clear(xm_rxt(c));
    c->t_sb->sk_rack_rerxt = false;
    c->t_snd_nxt_sync = true;
    /* The algorithm reduces (ssthresh) and resends the segment at
     * snd_una, the first presumed lost (RFC 6675 5 step 4.3), without
     * running into the SACKed data above it (rn__tcp_retransmit_one()). */
    c->t_sb->sk_prr_out = 0;
    c->t_sb->sk_high_rxt = c->snd_una;
    c->t_sb->sk_recover_fs = c->snd_max - c->snd_una;
    rn__tcp_cc_fast_retransmit(c);
    if (!(c->t_flags & TF_INRECOVERY))
        return;
    if (SEQ_GT(end, c->snd_una + room))
        end = c->snd_una + room;
    /* HighRxt and RescueRxt: the end of that retransmission. */
    c->t_sb->sk_high_rxt = end;
    c->t_sb->sk_rescue_rxt = end;
    c->t_sb->sk_rescue_used = true;
    c->t_sb->sk_prr_delivered = 0;
    c->t_sb->sk_prr_out = end - c->snd_una;
    prr_ack(c, delivered);
}

static void sack_ack(struct tcp_conn *c, uint32_t acked, uint32_t newly, bool dup);

void rn__tcp_sack_ack(struct tcp_conn *c, uint32_t acked, uint32_t newly, bool dup)
{
    sack_ack(c, acked, newly, dup);
    /* Everything sent is acknowledged: the scoreboard and the marks are
     * empty (trimmed to snd_una), and go back until the next data. */
    if (c->t_sb != NULL && c->snd_una == c->snd_max && c->t_nsacked == 0 &&
        !(c->t_flags & TF_INRECOVERY))
        sb_put(c);
}

static void sack_ack(struct tcp_conn *c, uint32_t acked, uint32_t newly, bool dup)
{
    rn_time_t now = rn_stack_now(c->t_tcp->ts_stack), due;

    if (c->t_sb == NULL)
        return;  /* nothing in flight of a flight with a scoreboard */
    xm_trim(xm_orig(c), c->snd_una);
    xm_trim(xm_rxt(c), c->snd_una);
    if (SEQ_LT(c->t_sb->sk_rack_lost, c->snd_una) || SEQ_GT(c->t_sb->sk_rack_lost, c->snd_max))
        c->t_sb->sk_rack_lost = c->snd_una;
    if (SEQ_LT(c->t_sb->sk_high_rxt, c->snd_una) || SEQ_GT(c->t_sb->sk_high_rxt, c->snd_max))
        c->t_sb->sk_high_rxt = c->snd_una;
    if (c->t_dsack_round_on && SEQ_GEQ(c->snd_una, c->t_dsack_round))
        c->t_dsack_round_on = false;
    due = rack_detect(c, now);
    c->t_sb->sk_rack_due = due;
    if (c->t_flags & TF_INRECOVERY) {
        if (SEQ_GEQ(c->snd_una, c->snd_recover))
            recovery_end(c);
        else
            prr_ack(c, acked + newly);
        return;
    }
    /* While a timeout's resending is under way (snd_nxt behind snd_max)
     * it is the recovery: it resends what is not SACKed, once.  After it
     * caught up, SACKs and RACK find what it lost in turn. */
    if (c->snd_una == c->snd_max || c->t_persist || SEQ_LT(c->snd_nxt, c->snd_max))
        return;
    /* RFC 6675 5: DupThresh duplicates (not the echoes of a timeout's
     * resending, RFC 6582 4.1), or the segment at snd_una lost by the
     * scoreboard or by RACK. */
    if ((dup && c->t_dupacks >= TCP_DUPTHRESH && SEQ_GT(c->snd_una, c->snd_recover)) ||
        (c->t_nsacked > 0 && rn__tcp_sack_lost(c, c->snd_una)))
        recovery_enter(c, acked + newly);
}

void rn__tcp_rack_timeout(struct tcp_conn *c)
{
    rn_time_t now = rn_stack_now(c->t_tcp->ts_stack);

    if (c->t_sb == NULL)
        return;
    c->t_sb->sk_rack_due = rack_detect(c, now);
    if (!(c->t_flags & TF_INRECOVERY) && c->snd_una != c->snd_max &&
        !SEQ_LT(c->snd_nxt, c->snd_max) && rn__tcp_sack_lost(c, c->snd_una))
        recovery_enter(c, 0);
    else if (c->t_flags & TF_INRECOVERY)
        prr_ack(c, 0);
    rn__tcp_output(c);
}

void rn__tcp_sack_rto(struct tcp_conn *c)
{
    rn__tcp_sack_clear(c);
    if (c->t_sb == NULL)
        return;
    xm_clear(xm_rxt(c));
    c->t_sb->sk_high_rxt = c->snd_una;
    c->t_sb->sk_rack_lost = c->snd_una;
    c->t_sb->sk_rack_rerxt = false;
    c->t_sb->sk_rack_due = 0;
}

void rn__tcp_sack_sent(struct tcp_conn *c, uint32_t seq, uint32_t len)
{
    rn_time_t now = rn_stack_now(c->t_tcp->ts_stack);

    /* Only SACK recovery and RACK read the marks: a connection without
     * SACK keeps none. */
    if (tcp_sack_on(c) && sb_get(c) != NULL) {
        if (SEQ_GEQ(seq, c->snd_max))
            xm_push(xm_orig(c), seq, seq + len, now);
        else
            xm_push(xm_rxt(c), seq, seq + len, now);
    }
    if ((c->t_flags & TF_INRECOVERY) && tcp_sack_flight(c)) {
        c->t_sb->sk_pipe += len;
        c->t_sb->sk_prr_out += len;
    }
}

/* ---- NextSeg() (RFC 6675 4) ---------------------------------------------- */

/* Resends len bytes at seq (the FIN too if they reach it). */
static void resend(struct tcp_conn *c, uint32_t seq, uint32_t len)
{
    uint8_t flags = RN_TCP_ACK;

    if ((c->t_flags & TF_SENTFIN) && seq + len == c->snd_max) {
        flags |= RN_TCP_FIN;
        len--;
    }
    c->t_flags &= ~TF_RXT_TIMING;  /* Karn */
    c->t_tcp->ts_retransmits++;
    c->t_retransmits++;
    c->t_undo_retrans += c->t_undo;
    c->t_bytes_retrans += len;
    if (len == 0) {
        /* The FIN alone: no data for the marks. */
        rn__tcp_send_segment(c, seq, 0, flags);
        if (c->t_flags & TF_INRECOVERY) {
            c->t_sb->sk_pipe++;
            c->t_sb->sk_prr_out++;
        }
        return;
    }
    rn__tcp_send_segment(c, seq, len, flags);
}

bool rn__tcp_sack_output(struct tcp_conn *c)
{
    uint32_t room = rn__tcp_seg_room(c);
    unsigned guard;

    if (!tcp_sack_flight(c) || !(c->t_flags & TF_INRECOVERY))
        return false;
    if (c->t_snd_nxt_sync) {
        /* Recovery resends by the scoreboard from here on. */
        c->snd_nxt = c->snd_max;
        c->t_snd_nxt_sync = false;
    }
    for (guard = 0; guard < 1024; guard++) {
        uint32_t budget = c->snd_cwnd > c->t_sb->sk_pipe ? c->snd_cwnd - c->t_sb->sk_pipe : 0;
        uint32_t edge = c->snd_una + c->snd_wnd, high = sb_high(c);
        uint32_t s, len, avail;

        if (budget == 0)
            break;
        /* RACK: a retransmission was lost as well. */
        if (c->t_sb->sk_rack_rerxt) {
            s = SEQ_MAX(c->t_sb->sk_rack_rerxt_seq, c->snd_una);
            len = SEQ_MIN(rn__tcp_sack_next(c, s), c->snd_max) - s;
            len = len < room ? len : room;
            if (len > budget)
                break;
            c->t_sb->sk_rack_rerxt = false;
            resend(c, s, len);
            continue;
        }
        {
            uint32_t start = c->snd_una == c->iss ? c->iss + 1 : c->snd_una;
            uint32_t queued_end = start + c->t_snd.sb_len;

            avail = !(c->t_flags & TF_SENTFIN) && SEQ_LT(c->snd_max, queued_end) &&
                            SEQ_LT(c->snd_max, edge)
                        ? queued_end - c->snd_max
                        : 0;
        }
        s = rn__tcp_sack_skip(c, SEQ_MAX(c->t_sb->sk_high_rxt, c->snd_una));
        /* Rules 1 and 3: the first unSACKed byte above HighRxt and below
         * the highest SACKed one; lost (rule 1), or not (rule 3) when no
         * new data can go (rule 2). */
        if (SEQ_LT(s, high) && SEQ_LT(s, edge) && (avail == 0 || rn__tcp_sack_lost(c, s))) {
            len = rn__tcp_sack_next(c, s) - s;
            len = len < room ? len : room;
            if (SEQ_GT(s + len, edge))
                len = edge - s;
            if (len > budget)
                break;
            resend(c, s, len);
            c->t_sb->sk_high_rxt = s + len;
            continue;
        }
        /* Rule 2: new data, as the peer's window allows. */
        if (avail > 0) {
            len = avail < room ? avail : room;
            if (len > edge - c->snd_max)
                len = edge - c->snd_max;
            if (len > budget)
                break;
            rn__tcp_send_new(c, len, len == avail);
            continue;
        }
        /* Rule 4: one rescue retransmission per recovery, of the highest
         * unSACKed data, once the cumulative ACK passed RescueRxt. */
        if ((!c->t_sb->sk_rescue_used || SEQ_GT(c->snd_una, c->t_sb->sk_rescue_rxt)) &&
            c->snd_una != c->snd_max) {
            uint32_t top = c->snd_max, lo;

            if (c->t_nsacked > 0 && c->t_sb->sk_sacked[c->t_nsacked - 1].r_end == top)
                top = c->t_sb->sk_sacked[c->t_nsacked - 1].r_start;
            lo = c->snd_una;
            if (c->t_nsacked > 0) {
                unsigned k;

                for (k = 0; k < c->t_nsacked; k++) {
                    if (SEQ_LEQ(c->t_sb->sk_sacked[k].r_end, top) && SEQ_GT(c->t_sb->sk_sacked[k].r_end, lo))
                        lo = c->t_sb->sk_sacked[k].r_end;
                }
            }
            /* Data resent already (below HighRxt) waits for RACK or the
             * timer: the rescue is for a tail nothing was resent of. */
            if (!SEQ_LT(lo, top) || !SEQ_GT(top, c->t_sb->sk_high_rxt))
                break;
            len = top - lo < room ? top - lo : room;
            if (len > budget || SEQ_GT(top, edge + ((c->t_flags & TF_SENTFIN) ? 1u : 0u)))
                break;
            c->t_sb->sk_rescue_used = true;
            c->t_sb->sk_rescue_rxt = c->snd_recover;
            c->t_tcp->ts_rescue_rxts++;
            resend(c, top - len, len);
            continue;
        }
        break;
    }
    return true;
}
