/*
 * SYN cookies (RFC 4987 3.6): when a listener's SYN queue is full (or
 * always, with tcp.syncookies 2), a SYN is answered with a SYN+ACK whose
 * initial sequence number encodes what the connection needs, and nothing
 * is kept; the ACK that completes the handshake brings it back, and the
 * connection is made then.
 *
 * The cookie, 32 bits, for a SYN with sequence number isn, at minute-ish
 * tick t (64 s each):
 *
 *   cookie = H(4-tuple) + isn + (t << 24) + ((H(4-tuple, t) + m) mod 2^24)
 *
 * where H is SipHash keyed with the stack's secret and m (0..3) indexes
 * the MSS table below.  A cookie is good for COOKIE_MAX_AGE ticks after
 * its own.  Window scaling and SACK, which the cookie has no room for,
 * ride in the low six bits of the SYN+ACK's TSval when the peer offered
 * timestamps (it echoes them in TSecr); without timestamps the connection
 * goes without them, as Linux's does.
 *
 * An ACK is taken as a cookie only if the listener sent cookies in the
 * last two minutes; otherwise an ACK to a listener is reset as before.
 */
#include <string.h>

#include "base/siphash.h"
#include "transport/tcp_priv.h"

#define COOKIE_TICK RN_SEC(64)
#define COOKIE_MAX_AGE 2            /* ticks: 2 to 3 minutes */
#define COOKIE_RECENT RN_SEC(120)   /* ACKs are checked this long after a cookie */
#define TS_WSCALE_NONE 0xfu         /* low 4 bits of TSval: the peer's shift */
#define TS_SACK 0x10u               /* bit 4: the peer offered SACK */
#define TS_BITS 0x3fu

/* The MSS a cookie can carry: common values, from small paths to Ethernet. */
static const uint16_t cookie_mss[4] = {536, 1300, 1440, 1460};

static uint32_t cookie_hash(const struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport,
                            struct rn_inaddr faddr, uint16_t fport, uint32_t tick)
{
    /* Its own key, so that nothing else keyed by the secret (ISNs,
     * ports) gives these values away. */
    uint64_t key[2] = {ts->ts_secret[0] ^ 0x53594e2d434f4f4bull, ts->ts_secret[1] + 1};
    struct {
        struct rn_inaddr l, f;
        uint32_t ports, tick;
    } in = {laddr, faddr, (uint32_t)lport << 16 | fport, tick};

    return (uint32_t)rn__siphash(key, &in, sizeof(in));
}

static uint32_t cookie_tick(const struct tcp_stack *ts)
{
    return (uint32_t)(rn_stack_now(ts->ts_stack) / COOKIE_TICK);
}

bool rn__tcp_syncookie_due(const struct tcp_listener *l)
{
    uint32_t mode = l->l_tcp->ts_conf->tc_p.tp_syncookies;

    if (mode == 2)
        return true;
    return mode == 1 && atomic_load_explicit(&l->l_nsyn, memory_order_relaxed) >= l->l_backlog;
}

void rn__tcp_syncookie_reply(struct tcp_listener *l, struct rn_inaddr laddr, struct rn_inaddr faddr,
                             const struct rn_tcp_hdr *th, const struct rn_tcp_opts *to)
{
    struct tcp_stack *ts = l->l_tcp;
    rn_time_t now = rn_stack_now(ts->ts_stack);
    uint32_t tick = cookie_tick(ts), peer_mss, m, cookie;
    struct tcp_conn c;

    /* A connection on the stack, never published, only to let the SYN+ACK
     * be built as a real one's would (options, window, MSS): nothing of
     * it outlives this call. */
    memset(&c, 0, sizeof(c));
    c.t_tcp = ts;
    c.t_conf = ts->ts_conf;
    c.t_cc = ts->ts_conf->tc_cc;
    c.t_laddr = laddr;
    c.t_lport = th->th_dport;
    c.t_faddr = faddr;
    c.t_fport = th->th_sport;
    c.t_flags = TF_DONE;  /* no flow for the filtering platform */
    rn__tcp_timers_init(&c);
    rn__tcp_opt_apply(&c, &l->l_uo);
    c.t_flags |= TF_PASSIVE | rn__tcp_syn_offers(&c);
    if (!(to->to_present & RN_TCPOPT_F_WSCALE))
        c.t_flags &= ~TF_REQ_SCALE;
    if ((to->to_present & RN_TCPOPT_F_SACK_PERM) && (c.t_flags & TF_REQ_SACK))
        c.t_flags |= TF_SACK_PERMIT;
    peer_mss = (to->to_present & RN_TCPOPT_F_MSS) && to->to_mss > 0 ? to->to_mss
                                                                      : TCP_DEFAULT_MSS;
    for (m = 3; m > 0 && cookie_mss[m] > peer_mss; m--)
        ;
    c.irs = th->th_seq;
    c.rcv_nxt = c.rcv_adv = th->th_seq + 1;
    cookie = cookie_hash(ts, laddr, th->th_dport, faddr, th->th_sport, UINT32_MAX) + th->th_seq +
             (tick << 24) +
             ((cookie_hash(ts, laddr, th->th_dport, faddr, th->th_sport, tick) + m) & 0xffffff);
    if ((to->to_present & RN_TCPOPT_F_TS) && (c.t_flags & TF_REQ_TSTMP)) {
        /* A millisecond clock offset per 4-tuple, as a connection's; its
         * low bits carry what the cookie cannot. */
        uint32_t clock = (uint32_t)(now / RN_NSEC_PER_MSEC) +
                         cookie_hash(ts, laddr, th->th_dport, faddr, th->th_sport, UINT32_MAX - 1);
        uint32_t bits = (c.t_flags & TF_REQ_SCALE)
                            ? (to->to_wscale > TCP_MAX_WINDOW_SHIFT ? TCP_MAX_WINDOW_SHIFT
                                                                    : to->to_wscale)
                            : TS_WSCALE_NONE;

        if (c.t_flags & TF_SACK_PERMIT)
            bits |= TS_SACK;
        c.ts_offset = ((clock & ~TS_BITS) | bits) - (uint32_t)(now / RN_NSEC_PER_MSEC);
        c.ts_recent = to->to_tsval;
    } else {
        /* No room for them: the connection goes without. */
        c.t_flags &= ~(TF_REQ_TSTMP | TF_REQ_SCALE | TF_SACK_PERMIT);
    }
    rn__tcp_send_segment(&c, cookie, 0, RN_TCP_SYN | RN_TCP_ACK);
    l->l_cookie_last = now;
    ts->ts_syncookies_sent++;
}

bool rn__tcp_syncookie_check(struct tcp_listener *l, struct rn_inaddr laddr, struct rn_inaddr faddr,
                             const struct rn_tcp_hdr *th, const struct rn_tcp_opts *to,
                             struct rn_tcp_opts *syn)
{
    struct tcp_stack *ts = l->l_tcp;
    rn_time_t now = rn_stack_now(ts->ts_stack);
    uint32_t tick = cookie_tick(ts), isn = th->th_seq - 1, cookie = th->th_ack - 1, v, age, m;

    if (l->l_cookie_last == 0 || now - l->l_cookie_last > COOKIE_RECENT)
        return false;
    v = cookie - isn - cookie_hash(ts, laddr, th->th_dport, faddr, th->th_sport, UINT32_MAX);
    age = (tick - (v >> 24)) & 0xff;
    if (age > COOKIE_MAX_AGE) {
        ts->ts_syncookies_failed++;
        return false;
    }
    m = ((v & 0xffffff) -
         cookie_hash(ts, laddr, th->th_dport, faddr, th->th_sport, tick - age)) & 0xffffff;
    if (m >= sizeof(cookie_mss) / sizeof(cookie_mss[0])) {
        ts->ts_syncookies_failed++;
        return false;
    }
    memset(syn, 0, sizeof(*syn));
    syn->to_present = RN_TCPOPT_F_MSS;
    syn->to_mss = cookie_mss[m];
    if ((to->to_present & RN_TCPOPT_F_TS) && ts->ts_conf->tc_p.tp_timestamps) {
        uint32_t bits = to->to_tsecr & TS_BITS;

        syn->to_present |= RN_TCPOPT_F_TS;
        syn->to_tsval = to->to_tsval;
        syn->to_tsecr = to->to_tsecr;
        if ((bits & TS_WSCALE_NONE) != TS_WSCALE_NONE) {
            syn->to_present |= RN_TCPOPT_F_WSCALE;
            syn->to_wscale = (uint8_t)(bits & TS_WSCALE_NONE);
        }
        if (bits & TS_SACK)
            syn->to_present |= RN_TCPOPT_F_SACK_PERM;
    }
    ts->ts_syncookies_ok++;
    return true;
}
