/*
 * TCP output: deciding what to send (SYN, data within the send and
 * congestion windows, FIN, ACKs and window updates), with Nagle and
 * sender-side silly window avoidance, and building segments.
 *
 *   rn__tcp_send() / rn__tcp_input() / timers -> rn__tcp_output()
 *     -> rn__tcp_send_segment() -> [filtering platform: outbound-transport]
 *     -> rn__ip_output()
 *
 * Payload is copied from the send ring into the segment once, and the
 * checksum is taken over the segment as built; nothing else touches the
 * bytes.
 */
#include <string.h>

#include "base/siphash.h"
#include "refnet/error.h"
#include "refnet/link.h"
#include "transport/tcp_priv.h"
#include "wire/bytes.h"
#include "wire/ipv4.h"

uint32_t rn__tcp_tsval(const struct tcp_conn *c, rn_time_t now)
{
    /* A millisecond clock (RFC 7323 5.4 allows 1 ms to 1 s per tick),
     * offset per connection so it reveals nothing about uptime. */
    return (uint32_t)(now / RN_NSEC_PER_MSEC) + c->ts_offset;
}

/* The sequence number of the first data byte in the send ring. */
static uint32_t data_start(const struct tcp_conn *c)
{
    return c->snd_una == c->iss ? c->iss + 1 : c->snd_una;
}

/* Fills SACK blocks from the out-of-order queue (RFC 2018 4): the block
 * holding the latest arrival first, then those holding the arrivals
 * before it, most recent first, then the others in sequence order. */
static void sack_blocks(const struct tcp_conn *c, struct rn_tcp_opts *to, unsigned max)
{
    struct rn_tcp_sack blocks[16];
    bool used[16] = {false};
    unsigned n = 0, i, r;
    const struct rn_netbuf *nb;

    for (nb = c->t_ooo; nb != NULL && n < 16; nb = nb->nb_nextpkt) {
        uint32_t s = (uint32_t)nb->nb_cb[0], e = s + (uint32_t)nb->nb_cb[1];

        if (n > 0 && blocks[n - 1].sb_end == s) {
            blocks[n - 1].sb_end = e;
        } else {
            blocks[n].sb_start = s;
            blocks[n].sb_end = e;
            n++;
        }
    }
    to->to_nsacks = 0;
    /* A duplicate just received goes first (D-SACK, RFC 2883 4). */
    if (c->t_dsack) {
        to->to_sacks[to->to_nsacks].sb_start = c->t_dsack_start;
        to->to_sacks[to->to_nsacks++].sb_end = c->t_dsack_end;
        to->to_present |= RN_TCPOPT_F_SACK;
    }
    if (n == 0)
        return;
    for (r = 0; r < c->t_ooo_nrecent && to->to_nsacks < max; r++) {
        uint32_t seq = c->t_ooo_recent[r];

        for (i = 0; i < n; i++) {
            if (!used[i] && blocks[i].sb_end != blocks[i].sb_start &&
                SEQ_GEQ(seq, blocks[i].sb_start) && SEQ_LT(seq, blocks[i].sb_end)) {
                used[i] = true;
                to->to_sacks[to->to_nsacks++] = blocks[i];
            }
        }
    }
    for (i = 0; i < n && to->to_nsacks < max; i++) {
        if (!used[i] && blocks[i].sb_end != blocks[i].sb_start)
            to->to_sacks[to->to_nsacks++] = blocks[i];
    }
    if (to->to_nsacks > 0)
        to->to_present |= RN_TCPOPT_F_SACK;
}

/* SACK blocks sack_blocks() would send now, at most max. */
static unsigned sack_count(const struct tcp_conn *c, unsigned max)
{
    const struct rn_netbuf *nb;
    uint32_t end = 0;
    unsigned n = 0;

    for (nb = c->t_ooo; nb != NULL; nb = nb->nb_nextpkt) {
        uint32_t s = (uint32_t)nb->nb_cb[0];

        if (n == 0 || end != s) {
            if (n == max)
                break;
            n++;
        }
        end = s + (uint32_t)nb->nb_cb[1];
    }
    return n;
}

uint32_t rn__tcp_seg_room(const struct tcp_conn *c)
{
    unsigned max = (c->t_flags & TF_TSTMP) ? 3 : 4, dsack = c->t_dsack ? 1 : 0;
    uint32_t opt;

    if (!(c->t_flags & TF_SACK_PERMIT) || (c->t_ooo == NULL && !c->t_dsack))
        return c->t_maxseg;
    /* A D-SACK block goes first, then the out-of-order ones. */
    opt = 4 + RN_TCPOLEN_SACK_BLOCK * (dsack + sack_count(c, max - dsack));
    return c->t_maxseg > opt + 8 ? c->t_maxseg - opt : 8;
}

/* The window field to advertise.  The right edge never moves left (RFC
 * 9293 3.8.6.2.1), and moves right only by a useful amount: half the
 * buffer or a segment, whichever is less (receiver SWS avoidance,
 * 3.8.6.2.2), so a slow reader shows the sender a zero window rather than
 * a trickle of tiny ones. */
static uint16_t window_field(struct tcp_conn *c, bool syn)
{
    uint32_t win = rn__tcp_rcv_space(c), held = c->rcv_adv - c->rcv_nxt;
    uint32_t step = c->rcv_buf / 2 < c->t_maxseg ? c->rcv_buf / 2 : c->t_maxseg;

    if (syn)
        return win > 65535 ? 65535 : (uint16_t)win;
    if (SEQ_LT(c->rcv_adv, c->rcv_nxt))
        held = 0;
    if (win < held || win - held < step)
        win = held;
    win = (win + (1u << c->rcv_scale) - 1) >> c->rcv_scale;  /* round up: never shrink */
    if ((win << c->rcv_scale) > held && (win << c->rcv_scale) > rn__tcp_rcv_space(c) && win > 0 &&
        ((win - 1) << c->rcv_scale) >= held)
        win--;
    return win > 65535 ? 65535 : (uint16_t)win;
}

/* The sequence number of a bare ACK: the first byte never sent, not
 * snd_nxt.  After a timeout snd_nxt goes back to resend, and an ACK
 * numbered there lies left of the peer's window: it is dropped as
 * unacceptable and its acknowledgement with it (RFC 9293 3.10.7.4), so
 * with data lost both ways each side would wait for the other's ACK for
 * ever.  Never past the right edge of the peer's window either, where it
 * would be unacceptable too (Linux's tcp_acceptable_seq()). */
static uint32_t ack_seq(const struct tcp_conn *c)
{
    uint32_t edge = c->snd_una + c->snd_wnd;

    return SEQ_GT(c->snd_max, edge) ? edge : c->snd_max;
}

/* Appends len bytes of the send ring from sequence seq to packet nb (hlen
 * bytes of header so far): copied, or for a segment of TCP_REF_MIN or
 * more on a link that takes them, as buffers referring to the ring (one,
 * or two where the data wraps), noted in sb_ref_lo.  Returns 0 or
 * RN_ENOBUFS. */
static int payload_in(struct tcp_stack *ts, struct tcp_conn *c, struct rn_netbuf *nb,
                      size_t hlen, uint32_t seq, uint32_t len)
{
    struct tcp_sndbuf *sb = &c->t_snd;
    uint32_t at = (sb->sb_head + (seq - data_start(c))) % sb->sb_cap;
    uint32_t first = sb->sb_cap - at < len ? sb->sb_cap - at : len;
    /* The data, in one piece or two where it wraps. */
    const uint8_t *piece[2] = {sb->sb_data + at, sb->sb_data};
    uint32_t piece_len[2] = {first, len - first};
    bool ref = len >= TCP_REF_MIN && (c->t_offloads & RN_LINK_OFF_TX_REF);
    struct rn_netbuf *r;
    uint16_t gen;
    unsigned i;

    for (i = 0; i < 2 && piece_len[i] > 0; i++) {
        if (!ref) {
            if (rn_nb_copyin(nb, hlen, piece[i], piece_len[i]) < 0)
                return RN_ENOBUFS;
            hlen += piece_len[i];
        } else if ((r = rn__ip_ref(ts->ts_stack, ts->ts_own_tx, piece[i], piece_len[i])) != NULL) {
            rn_nb_cat(nb, r);
        } else {
            return RN_ENOBUFS;
        }
    }
    if (!ref)
        return 0;
    gen = rn__net_tx_gen(ts->ts_stack);
    if (!(c->t_flags & TF_SND_REF) || c->t_snd_ref_gen != gen || SEQ_LT(seq, sb->sb_ref_lo)) {
        sb->sb_ref_lo = seq;
        c->t_snd_ref_gen = gen;
        c->t_flags |= TF_SND_REF;
    }
    return 0;
}

void rn__tcp_ring_quiesce(struct tcp_conn *c, bool all)
{
    struct rn_stack *st = c->t_tcp->ts_stack;

    if (!(c->t_flags & TF_SND_REF))
        return;
    /* Frames of an earlier generation went out at its flush. */
    if (c->t_snd_ref_gen == rn__net_tx_gen(st) && rn__net_tx_refs(st) > 0) {
        /* Frames refer to the ring from sb_ref_lo on at most: new data
         * goes only where data before snd_una was. */
        if (!all && SEQ_GEQ(c->t_snd.sb_ref_lo, data_start(c)))
            return;
        rn__net_tx_flush(st);
        c->t_tcp->ts_ring_flushes++;
    }
    c->t_flags &= ~TF_SND_REF;
}

/* Builds and sends a segment whose options are to.  Payload: len bytes of
 * the send ring from sequence seq.  tos_ttl: IP_TOS and IP_TTL (0: the
 * stack's). */
static int build_and_send(struct tcp_stack *ts, struct tcp_conn *c, struct rn_inaddr laddr,
                          uint16_t lport, struct rn_inaddr faddr, uint16_t fport, uint32_t seq,
                          uint32_t ack, uint8_t flags, uint16_t win,
                          const struct rn_tcp_opts *to, uint32_t len, uint32_t gso_size,
                          const uint8_t tos_ttl[2])
{
    struct rn_stack *st = ts->ts_stack;
    struct rn_netbuf *nb = rn__ip_alloc(st, ts->ts_own_tx);
    bool v4 = rn_inaddr_is_v4(&faddr);
    uint64_t pseudo;
    size_t optlen = to ? rn__tcp_opts_len(to) : 0, hlen = RN_TCP_HLEN + optlen;
    uint8_t *h;

    if (nb == NULL)
        return RN_ENOBUFS;
    h = rn_nb_put(nb, hlen);
    if (h == NULL) {
        rn_nb_free(nb);
        return RN_ENOBUFS;
    }
    rn_put_be16(h, lport);
    rn_put_be16(h + 2, fport);
    rn_put_be32(h + 4, seq);
    rn_put_be32(h + 8, ack);
    h[12] = (uint8_t)(hlen / 4) << 4;
    h[13] = flags;
    rn_put_be16(h + 14, win);
    rn_put_be32(h + 16, 0);  /* checksum and urgent pointer */
    if (optlen)
        rn__tcp_opts_emit(h + RN_TCP_HLEN, to);
    if (len > 0 && payload_in(ts, c, nb, hlen, seq, len) < 0) {
        rn_nb_free(nb);
        return RN_ENOBUFS;
    }
    pseudo = v4 ? rn_csum_pseudo4(rn_inaddr_to_v4(&laddr), rn_inaddr_to_v4(&faddr),
                                  RN_IPPROTO_TCP, (uint32_t)nb->nb_pktlen)
                : rn_csum_pseudo6(&laddr.ia_ip6, &faddr.ia_ip6, RN_IPPROTO_TCP,
                                  (uint32_t)nb->nb_pktlen);
    if (c != NULL && (c->t_offloads & RN_LINK_OFF_TX_CSUM)) {
        /* The device finishes the sum: leave it the pseudo-header's. */
        rn_put_be16(h + 16, (uint16_t)~rn_csum_fold(pseudo));
        nb->nb_offload |= RN_NB_OFF_CSUM_PARTIAL;
        if (gso_size != 0) {
            nb->nb_offload |= RN_NB_OFF_GSO;
            nb->nb_gso_size = gso_size;
        }
    } else {
        rn_put_be16(h + 16, rn_csum_fold(rn_nb_csum(nb, 0, nb->nb_pktlen, pseudo)));
    }
    if (rn__filter_on(RN_FL_OUTBOUND_TRANSPORT) &&
        rn__tcp_filter_segment(ts, c, RN_FL_OUTBOUND_TRANSPORT, laddr, lport, faddr, fport, flags,
                            len)) {
        /* Lost on the way out, as far as TCP knows: it retransmits. */
        rn_nb_free(nb);
        rn__stack_count_drop(st, NULL, RN_DROP_FILTER_BLOCKED);
        return RN_EACCES;
    }
    ts->ts_segs_out++;
    if (flags & RN_TCP_RST)
        ts->ts_rst_out++;
    if (v4) {
        struct rn_ip_out out = {
            .io_src = rn_inaddr_to_v4(&laddr),
            .io_dst = rn_inaddr_to_v4(&faddr),
            .io_proto = RN_IPPROTO_TCP,
            .io_tos = tos_ttl[0],
            .io_ttl = tos_ttl[1],
            /* Path MTU discovery (RFC 1191), as Linux does by default: a
             * router whose next hop is narrower says so with ICMP
             * "fragmentation needed" instead of cutting every segment in
             * pieces; rn__tcp_err_input() takes the smaller segment size
             * and resends. */
            .io_df = true,
        };

        return rn__ip_output(st, nb, &out);
    } else {
        struct rn_ip6_out out = {
            .o6_src = laddr.ia_ip6,
            .o6_dst = faddr.ia_ip6,
            .o6_proto = RN_IPPROTO_TCP,
            .o6_hlim = tos_ttl[1],
            .o6_tclass = tos_ttl[0],
        };

        return rn__ip6_output(st, nb, &out);
    }
}

int rn__tcp_send_segment(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags)
{
    struct tcp_stack *ts = c->t_tcp;
    rn_time_t now = rn_stack_now(ts->ts_stack);
    struct rn_tcp_opts to;
    uint8_t tos_ttl[2];
    uint16_t win;
    uint32_t gso_size = 0, seg;
    int err;

    /* More than one segment's payload: the device cuts it in pieces of
     * what one segment carries now. */
    if (len > 0 &&
        (c->t_offloads & (RN_LINK_OFF_TSO | RN_LINK_OFF_TX_CSUM)) ==
            (RN_LINK_OFF_TSO | RN_LINK_OFF_TX_CSUM) &&
        len > (seg = rn__tcp_seg_room(c)))
        gso_size = seg;
    memset(&to, 0, sizeof(to));
    if (flags & RN_TCP_SYN) {
        to.to_present |= RN_TCPOPT_F_MSS;
        to.to_mss = (uint16_t)(c->t_our_mss > 65535 ? 65535 : c->t_our_mss);
        if (c->t_flags & TF_REQ_SCALE) {
            to.to_present |= RN_TCPOPT_F_WSCALE;
            to.to_wscale = c->request_r_scale;
        }
        /* Offer SACK on a SYN if tcp.sack is on; on a SYN+ACK only if
         * the peer offered it too. */
        if ((c->t_flags & TF_REQ_SACK) &&
            (!(flags & RN_TCP_ACK) || (c->t_flags & TF_SACK_PERMIT)))
            to.to_present |= RN_TCPOPT_F_SACK_PERM;
        if (c->t_flags & TF_REQ_TSTMP) {
            to.to_present |= RN_TCPOPT_F_TS;
            to.to_tsval = rn__tcp_tsval(c, now);
            to.to_tsecr = (flags & RN_TCP_ACK) ? c->ts_recent : 0;
        }
    } else {
        if (c->t_flags & TF_TSTMP) {
            to.to_present |= RN_TCPOPT_F_TS;
            to.to_tsval = rn__tcp_tsval(c, now);
            to.to_tsecr = c->ts_recent;
        }
        if ((c->t_flags & TF_SACK_PERMIT) && (c->t_ooo != NULL || c->t_dsack) &&
            !(flags & RN_TCP_RST)) {
            /* Options and payload of one segment within the MSS the path
             * takes (t_maxseg counts the timestamps already): a caller
             * that sized len without room for the blocks sends fewer
             * blocks rather than a segment too long for the route. */
            uint32_t budget = c->t_maxseg + ((c->t_flags & TF_TSTMP) ? 12 : 0);
            uint32_t piece = gso_size != 0 ? gso_size : len;

            sack_blocks(c, &to, (c->t_flags & TF_TSTMP) ? 3 : 4);
            while (to.to_nsacks > 0 && piece + rn__tcp_opts_len(&to) > budget)
                to.to_nsacks--;
        }
    }
    win = window_field(c, (flags & RN_TCP_SYN) != 0);
    tos_ttl[0] = c->t_uo.uo_tos & ~RN_IP_ECN_MASK;
    tos_ttl[1] = c->t_uo.uo_ttl;
    /* ECN (RFC 3168 6.1): our first SYN asks with ECE and CWR when
     * tcp.ecn is 1 (a resent one no longer does, lest a path that drops
     * them cost the connection); a SYN+ACK accepts with ECE.  Then new
     * data goes out ECT(0), never a retransmission, an ACK or a probe
     * (6.1.5); ACKs carry ECE while a CE mark waits for CWR, and the
     * first new data after a reduction carries CWR. */
    if ((flags & (RN_TCP_SYN | RN_TCP_ACK)) == RN_TCP_SYN) {
        c->t_ecn &= ~TCP_ECN_ASKED;
        if (c->t_conf->tc_p.tp_ecn == 1 && c->t_retransmits == 0) {
            flags |= RN_TCP_ECE | RN_TCP_CWR;
            c->t_ecn |= TCP_ECN_ASKED;
        }
    } else if (c->t_ecn & TCP_ECN_OK) {
        if (flags & RN_TCP_SYN) {
            flags |= RN_TCP_ECE;
        } else if (!(flags & RN_TCP_RST)) {
            if ((c->t_ecn & TCP_ECN_ECE) && (flags & RN_TCP_ACK))
                flags |= RN_TCP_ECE;
            if (len > 0 && SEQ_GEQ(seq, c->snd_max)) {
                tos_ttl[0] |= RN_IP_ECN_ECT0;
                if (c->t_ecn & TCP_ECN_CWR) {
                    flags |= RN_TCP_CWR;
                    c->t_ecn &= ~TCP_ECN_CWR;
                }
            }
        }
    }
    err = build_and_send(ts, c, c->t_laddr, c->t_lport, c->t_faddr, c->t_fport, seq,
                         (flags & RN_TCP_ACK) ? c->rcv_nxt : 0, flags, win, &to, len, gso_size,
                         tos_ttl);
    c->t_segs_out++;
    if (len > 0 && !(flags & RN_TCP_SYN))
        rn__tcp_sack_sent(c, seq, len);
    if (len > 0) {
        c->t_data_segs_out++;
        c->t_bytes_sent += len;
    }
    if (flags & RN_TCP_ACK) {
        uint32_t edge = c->rcv_nxt + ((uint32_t)win << ((flags & RN_TCP_SYN) ? 0 : c->rcv_scale));

        if (SEQ_GT(edge, c->rcv_adv))
            c->rcv_adv = edge;
        c->t_flags &= ~(TF_ACKNOW | TF_DELACK);
        c->t_dsack = false;  /* reported once */
        c->t_segs_unacked = 0;
        rn__tcp_timer_stop(c, TCP_T_DELACK);
    }
    return err;
}

void rn__tcp_respond(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport, struct rn_inaddr faddr,
                  uint16_t fport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                  const uint32_t *tsval_tsecr)
{
    static const uint8_t defaults[2] = {0, 0};

    rn__tcp_respond_as(ts, laddr, lport, faddr, fport, seq, ack, flags, win, tsval_tsecr,
                       defaults);
}

void rn__tcp_respond_as(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport, struct rn_inaddr faddr,
                        uint16_t fport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                        const uint32_t *tsval_tsecr, const uint8_t tos_ttl[2])
{
    struct rn_tcp_opts to;

    memset(&to, 0, sizeof(to));
    if (tsval_tsecr != NULL) {
        to.to_present = RN_TCPOPT_F_TS;
        to.to_tsval = tsval_tsecr[0];
        to.to_tsecr = tsval_tsecr[1];
    }
    build_and_send(ts, NULL, laddr, lport, faddr, fport, seq, ack, flags, win,
                   tsval_tsecr ? &to : NULL, 0, 0, tos_ttl);
}

void rn__tcp_reset_reply(struct tcp_stack *ts, struct rn_inaddr laddr, struct rn_inaddr faddr,
                      const struct rn_tcp_hdr *th, uint32_t seglen)
{
    /* RFC 9293 3.10.7.1: take the sequence number from the ACK, or
     * acknowledge everything the segment occupied. */
    if (th->th_flags & RN_TCP_ACK) {
        rn__tcp_respond(ts, laddr, th->th_dport, faddr, th->th_sport, th->th_ack, 0, RN_TCP_RST, 0,
                     NULL);
    } else {
        uint32_t occupied = seglen + ((th->th_flags & RN_TCP_SYN) ? 1 : 0) +
                            ((th->th_flags & RN_TCP_FIN) ? 1 : 0);

        rn__tcp_respond(ts, laddr, th->th_dport, faddr, th->th_sport, 0, th->th_seq + occupied,
                     RN_TCP_RST | RN_TCP_ACK, 0, NULL);
    }
}

void rn__tcp_send_rst(struct tcp_conn *c)
{
    rn__tcp_send_segment(c, c->snd_max, 0, RN_TCP_RST | RN_TCP_ACK);
}

void rn__tcp_challenge_ack(struct tcp_conn *c)
{
    struct tcp_stack *ts = c->t_tcp;
    rn_time_t now = rn_stack_now(ts->ts_stack);

    /* RFC 5961 7: limits, so that a blind attacker can neither make us
     * send a storm nor count the answers.  Each connection sends one per
     * TCP_CHALLENGE_ACK_GAP at most; the stack's budget for each second
     * is drawn at random, uniformly between half and 1.5 times the
     * setting, so the number answered in a second tells an off-path
     * attacker nothing about other connections' (CVE-2016-5696). */
    if (c->t_challenge_last != 0 && now - c->t_challenge_last < TCP_CHALLENGE_ACK_GAP) {
        ts->ts_challenge_acks_skipped++;
        return;
    }
    if (ts->ts_challenge_second == 0 || now - ts->ts_challenge_second >= RN_SEC(1)) {
        uint32_t limit = ts->ts_conf->tc_p.tp_challenge_ack_limit;
        uint64_t key[2] = {ts->ts_challenge_nsecond++, 0x4348414c4c454e47ull};
        uint64_t r = rn__siphash(ts->ts_secret, key, sizeof(key));

        ts->ts_challenge_second = now;
        ts->ts_challenge_tokens = limit / 2 + (uint32_t)((r >> 32) * ((uint64_t)limit + 1) >> 32);
    }
    if (ts->ts_challenge_tokens == 0) {
        ts->ts_challenge_acks_skipped++;
        return;
    }
    ts->ts_challenge_tokens--;
    ts->ts_challenge_acks++;
    c->t_challenge_last = now;
    rn__tcp_send_segment(c, ack_seq(c), 0, RN_TCP_ACK);
}

void rn__tcp_retransmit_one(struct tcp_conn *c)
{
    uint32_t start = data_start(c), sent = c->snd_max - start, len;
    uint8_t flags = RN_TCP_ACK;

    if (c->snd_una == c->iss) {
        c->snd_nxt = c->iss;  /* the SYN itself is lost: output resends it */
        rn__tcp_output(c);
        return;
    }
    if (c->t_flags & TF_SENTFIN)
        sent--;
    len = sent - (c->snd_una - start);
    if (len > rn__tcp_seg_room(c))
        len = rn__tcp_seg_room(c);
    if (len > c->t_snd.sb_len)
        len = c->t_snd.sb_len;
    /* Not into data the peer SACKed (RFC 6675 5 step 4.3: the first
     * segment presumed lost). */
    if (tcp_sack_on(c) && len > rn__tcp_sack_next(c, c->snd_una) - c->snd_una)
        len = rn__tcp_sack_next(c, c->snd_una) - c->snd_una;
    /* Within the window the peer offers now, which may have shrunk below
     * what was sent (RFC 9293 3.8.6.2.1).  If it shrank to nothing, the
     * segment still goes: it serves as the zero-window probe. */
    if (c->snd_wnd > 0 && len > c->snd_wnd)
        len = c->snd_wnd;
    if ((c->t_flags & TF_SENTFIN) && c->snd_una + len == c->snd_max - 1)
        flags |= RN_TCP_FIN;
    if (len == 0 && !(flags & RN_TCP_FIN))
        return;
    c->t_flags &= ~TF_RXT_TIMING;  /* Karn: never time a retransmission */
    c->t_tcp->ts_retransmits++;
    c->t_retransmits++;
    c->t_undo_retrans += c->t_undo;
    c->t_bytes_retrans += len;
    c->t_rxt_mark = c->snd_max;
    rn__tcp_send_segment(c, c->snd_una, len, flags);
}

void rn__tcp_send_new(struct tcp_conn *c, uint32_t len, bool push)
{
    rn_time_t now = rn_stack_now(c->t_tcp->ts_stack);
    uint32_t seq = c->snd_max;

    if (c->snd_una == c->snd_max)
        c->t_una_since = now;
    rn__tcp_send_segment(c, seq, len, RN_TCP_ACK | (push ? RN_TCP_PSH : 0));
    if (!(c->t_flags & TF_RXT_TIMING)) {
        c->t_flags |= TF_RXT_TIMING;
        c->t_rtseq = seq;
        c->t_rttime = now;
    }
    c->snd_max = seq + len;
    if (SEQ_LT(c->snd_nxt, c->snd_max))
        c->snd_nxt = c->snd_max;
    if (!tcp_timer_armed(c, TCP_T_REXMT) || c->t_persist)
        rn__tcp_rexmt_start(c);
}

void rn__tcp_output(struct tcp_conn *c)
{
    struct tcp_stack *ts = c->t_tcp;
    rn_time_t now = rn_stack_now(ts->ts_stack);
    uint32_t seg = rn__tcp_seg_room(c);  /* payload per segment, SACK blocks aside */
    unsigned guard;
    bool sackrec;
    uint32_t max_before;

    /* Done, or waiting for a callout's authorisation: nothing goes out. */
    if (c->t_flags & (TF_DONE | TF_AUTH_PENDING))
        return;
    /* In SACK recovery, NextSeg() picks what goes, resent or new. */
    max_before = c->snd_max;
    sackrec = rn__tcp_sack_output(c);
    for (guard = 0; guard < 4096; guard++) {
        enum tcp_state state = tcp_state(c);
        uint32_t start = data_start(c), fin_seq = start + c->t_snd.sb_len;
        uint32_t inflight = c->snd_nxt - c->snd_una, win, usable, avail, len = 0, seqlen;
        bool syn = false, fin = false, send = false, held = false;
        uint8_t flags = RN_TCP_ACK;

        if (state == TCPS_SYN_SENT || state == TCPS_SYN_RECEIVED) {
            if (c->snd_nxt == c->iss) {
                syn = true;
                flags |= RN_TCP_SYN;
                if (state == TCPS_SYN_SENT)
                    flags &= ~RN_TCP_ACK;
            } else if (!(c->t_flags & TF_ACKNOW) || state == TCPS_SYN_SENT) {
                break;  /* wait for the handshake */
            }
        }
        if (state == TCPS_CLOSED || state == TCPS_LISTEN || state == TCPS_TIME_WAIT)
            break;
        /* Resending after a timeout: data SACKed since is skipped (RFC
         * 6675 5.1). */
        if (SEQ_LT(c->snd_nxt, c->snd_max) && c->t_nsacked > 0 && SEQ_GEQ(c->snd_nxt, start)) {
            c->snd_nxt = SEQ_MIN(rn__tcp_sack_skip(c, c->snd_nxt), c->snd_max);
            inflight = c->snd_nxt - c->snd_una;
        }
        /* Data not yet sent, and what the windows let out now. */
        avail = SEQ_LT(c->snd_nxt, fin_seq) ? fin_seq - SEQ_MAX(c->snd_nxt, start) : 0;
        win = c->snd_cwnd;
        /* Limited transmit (RFC 3042): the first two duplicate ACKs each
         * let one more new segment out, beyond the congestion window but
         * not the peer's, so that a small window still brings the three
         * duplicates fast retransmit needs. */
        if (c->t_dupacks > 0 && c->t_dupacks < 3 && !(c->t_flags & TF_INRECOVERY))
            win += c->t_dupacks * c->t_maxseg;
        if (c->snd_wnd < win)
            win = c->snd_wnd;
        usable = win > inflight && !sackrec ? win - inflight : 0;
        if (!syn && state >= TCPS_ESTABLISHED) {
            uint32_t max = seg;

            /* With TSO the device cuts one large segment into MSS pieces;
             * a segment that is already as large as TSO allows goes as it
             * is (whole segments only: a multiple of nothing would send
             * nothing at all). */
            if ((c->t_offloads & (RN_LINK_OFF_TSO | RN_LINK_OFF_TX_CSUM)) ==
                    (RN_LINK_OFF_TSO | RN_LINK_OFF_TX_CSUM) &&
                seg < TCP_GSO_MAX / 2)
                max = TCP_GSO_MAX / seg * seg;
            len = avail < usable ? avail : usable;
            if (len > max)
                len = max;
            if (SEQ_LT(c->snd_nxt, c->snd_max) && c->t_nsacked > 0 &&
                len > rn__tcp_sack_next(c, c->snd_nxt) - c->snd_nxt)
                len = rn__tcp_sack_next(c, c->snd_nxt) - c->snd_nxt;
        }
        if ((c->t_flags & TF_SHUT_WR) &&
            (state == TCPS_FIN_WAIT_1 || state == TCPS_CLOSING || state == TCPS_LAST_ACK) &&
            SEQ_LEQ(c->snd_nxt + len, fin_seq) && c->snd_nxt + len == fin_seq)
            fin = true;
        if (syn || fin) {
            send = true;
        } else if (len > 0) {
            if (len >= seg)
                send = true;
            else if (SEQ_LT(c->snd_nxt, c->snd_max))
                send = true;  /* retransmitting */
            else if (len == avail && (c->t_flags & TF_PUSH_ONCE))
                send = true;  /* uncorked, or held for long enough */
            else if (len == avail && (c->t_flags & (TF_CORK | TF_MORE)))
                held = true;  /* TCP_CORK, MSG_MORE: full segments only */
            else if (len == avail && ((c->t_flags & TF_NODELAY) || c->snd_nxt == c->snd_una))
                send = true;  /* Nagle: small segments only with nothing in flight */
            else if (c->snd_max_wnd > 0 && len >= c->snd_max_wnd / 2)
                send = true;  /* sender SWS avoidance, RFC 9293 3.8.6.2.1 */
        }
        if (c->t_flags & TF_ACKNOW)
            send = true;
        /* A window update worth a segment of its own; a delayed ACK
         * due soon carries it anyway. */
        if (!send && state >= TCPS_ESTABLISHED && !(c->t_flags & TF_RCVD_FIN) &&
            !tcp_timer_armed(c, TCP_T_DELACK) && rn__tcp_window_update_due(c))
            send = true;
        if (!send) {
            /* A partial segment corked: it goes when it fills, on
             * uncork, or after 200 ms. */
            if (held && !tcp_timer_armed(c, TCP_T_CORK))
                rn__tcp_timer_arm(c, TCP_T_CORK, now + TCP_CORK_MAX);
            break;
        }
        if (fin)
            flags |= RN_TCP_FIN;
        if (len > 0 && len == avail)
            flags |= RN_TCP_PSH;
        if (rn__tcp_send_segment(c, len == 0 && !syn && !fin ? ack_seq(c) : c->snd_nxt, len,
                                 flags) < 0 &&
            len == 0 && !syn && !fin)
            break;
        seqlen = len + (syn ? 1 : 0) + (fin ? 1 : 0);
        if (seqlen == 0)
            break;  /* a pure ACK: one is enough */
        if (!(c->t_flags & TF_RXT_TIMING) && SEQ_GEQ(c->snd_nxt, c->snd_max)) {
            c->t_flags |= TF_RXT_TIMING;
            c->t_rtseq = c->snd_nxt;
            c->t_rttime = now;
        }
        if (SEQ_LT(c->snd_nxt, c->snd_max)) {
            ts->ts_retransmits++;
            c->t_retransmits++;
            c->t_undo_retrans += c->t_undo;
            c->t_bytes_retrans += len;
        } else if (c->snd_una == c->snd_max) {
            c->t_una_since = now;  /* the oldest unacknowledged data, from now */
        }
        c->snd_nxt += seqlen;
        if (fin)
            c->t_flags |= TF_SENTFIN;
        if (SEQ_GT(c->snd_nxt, c->snd_max))
            c->snd_max = c->snd_nxt;
        if (!tcp_timer_armed(c, TCP_T_REXMT) || c->t_persist)
            rn__tcp_rexmt_start(c);
        if (fin || syn)
            break;
    }
    c->t_flags &= ~TF_PUSH_ONCE;
    /* New data went out: the probe timeout starts again (RFC 8985 7.2). */
    if (c->snd_max != max_before || !(c->t_flags & TF_TLP_ARMED))
        rn__tcp_tlp_arm(c);
    /* Nothing left unsent: no corked segment to push later. */
    if (tcp_timer_armed(c, TCP_T_CORK) &&
        !SEQ_LT(c->snd_nxt, data_start(c) + c->t_snd.sb_len))
        rn__tcp_timer_stop(c, TCP_T_CORK);
    /* Data waits behind a window too small to use and nothing is in
     * flight to bring news of it: the persist timer probes (RFC 9293
     * 3.8.6.1), or after it sends into the small window regardless. */
    if (!(c->t_flags & TF_DONE) && c->snd_wnd < c->t_maxseg && c->snd_una == c->snd_max &&
        SEQ_LT(c->snd_nxt, data_start(c) + c->t_snd.sb_len) && !tcp_timer_armed(c, TCP_T_REXMT) &&
        tcp_state(c) >= TCPS_ESTABLISHED) {
        c->t_persist = true;
        c->t_flags &= ~TF_TLP_ARMED;
        c->t_una_since = now;  /* TCP_USER_TIMEOUT counts from the first probe */
        rn__tcp_timer_arm(c, TCP_T_REXMT, now + rn__tcp_rto(c));
    }
}
