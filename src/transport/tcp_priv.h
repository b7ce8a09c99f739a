/*
 * TCP internals shared by tcp.c, tcp_input.c, tcp_output.c, tcp_timer.c,
 * tcp_timewait.c, tcp_sack.c and tcp_cc*.c.
 *
 * Field prefixes follow FreeBSD's: snd_ and rcv_ for sequence space, t_ for
 * the rest of the control block.  Legend: [L] loop thread only; [I] fixed
 * once the connection is in the port table; [A] atomic, read by describe
 * and listings from any thread.
 *
 * Sequence arithmetic is modulo 2^32: always compare with SEQ_LT & co.
 */
#ifndef REFNET_TCP_PRIV_H
#define REFNET_TCP_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "filter/filter_hook.h"
#include "net/net.h"
#include "transport/port_table.h"
#include "refnet/clock.h"
#include "refnet/netbuf.h"
#include "refnet/object.h"
#include "refnet/tcp.h"
#include "refnet/timer.h"
#include "refnet/transport.h"
#include "transport/tcp.h"
#include "wire/tcp.h"

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((a) - (b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((a) - (b)) >= 0)
#define SEQ_MIN(a, b) (SEQ_LT(a, b) ? (a) : (b))
#define SEQ_MAX(a, b) (SEQ_GT(a, b) ? (a) : (b))

#define TCP_HASH_BUCKETS 4096    /* TIME_WAIT's table; the connections' first size */
#define TCP_LHASH_BUCKETS 64
#define TCP_DEFAULT_MSS 536           /* RFC 9293 3.7.1, when the peer names none */
#define TCP_MAX_WINDOW_SHIFT 14
#define TCP_PAWS_IDLE RN_SEC(24ull * 24 * 3600)  /* RFC 7323 5.5: 24 days */
#define TCP_CHALLENGE_ACK_GAP RN_MSEC(500) /* per connection at most one
                                          challenge ACK this often (Linux's
                                          tcp_invalid_ratelimit) */
#define TCP_TLP_MIN RN_MSEC(10)       /* floor of the tail loss probe's timeout */
#define TCP_MAX_RXTSHIFT 15
/* Largest TCP payload handed to a TSO device in one segment: the IPv4
 * limit less the largest IP and TCP headers. */
#define TCP_GSO_MAX (65535u - 60u - 60u)

/* t_flags */
/* Condition bits of a connection (object.h, "Holder contracts"): each
 * covers the holds named beside it, set before the hold is taken and
 * cleared with its drop (rn_ob_deref_cond()). */
#define TCP_COND_IN_TABLE 0x01u  /* "port-table": in the connection table */
#define TCP_COND_REXMT 0x02u     /* "tcp.timer": TCP_T_REXMT armed or firing */
#define TCP_COND_DELACK 0x04u    /* "tcp.timer": TCP_T_DELACK armed or firing */
#define TCP_COND_KEEP 0x08u      /* "tcp.timer": TCP_T_KEEP or TCP_T_CORK armed
                                    or firing */
#define TCP_COND_QUEUED 0x10u    /* "listener": on a listener's queues */
#define TCP_COND_TIMERS (TCP_COND_REXMT | TCP_COND_DELACK | TCP_COND_KEEP)
/* A listener's: "port-table" while it is bound. */
#define TCP_LCOND_BOUND 0x01u

#define TF_ACKNOW 0x00000001u      /* send an ACK at the next output */
#define TF_DELACK 0x00000002u      /* an ACK is being delayed */
#define TF_NODELAY 0x00000004u     /* Nagle off */
#define TF_SENTFIN 0x00000008u     /* our FIN has been sent (maybe not acked) */
#define TF_SHUT_WR 0x00000010u     /* the user will send no more: FIN after the data */
#define TF_RCVD_FIN 0x00000020u    /* the peer's FIN is in (rcv_nxt is past it) */
#define TF_USER_CLOSED 0x00000040u /* the user let go: the connection is an orphan */
#define TF_REQ_TSTMP 0x00000080u   /* we offered timestamps */
#define TF_TSTMP 0x00000100u       /* timestamps in use */
#define TF_REQ_SCALE 0x00000200u   /* we offered window scaling */
#define TF_SCALE 0x00000400u       /* window scaling in use */
#define TF_SACK_PERMIT 0x00000800u /* the peer takes SACK blocks */
#define TF_KEEPALIVE 0x00001000u   /* SO_KEEPALIVE */
#define TF_INRECOVERY 0x00002000u  /* NewReno fast recovery */
#define TF_DONE 0x00004000u        /* the protocol has finished with it */
#define TF_IN_HASH 0x00008000u     /* in the connection table */
#define TF_PASSIVE 0x00010000u     /* opened by a listener */
#define TF_ACCEPTED 0x00020000u    /* handed out by rn__tcp_accept */
#define TF_SHUT_RD 0x00040000u     /* the user will read no more */
#define TF_RXT_TIMING 0x00080000u  /* t_rtseq is being timed */
#define TF_AUTH_PENDING 0x00100000u /* a callout pended its connect or accept
                                       authorisation: nothing is sent */
#define TF_TLP_ARMED 0x00200000u   /* TCP_T_REXMT is armed as the tail loss probe */
#define TF_TLP_OUT 0x00400000u     /* a probe went out; none more until an ACK
                                      advances snd_una */
#define TF_REQ_SACK 0x00800000u    /* we offered SACK (tcp.sack on) */
#define TF_CORK 0x01000000u        /* TCP_CORK: only full segments go out */
#define TF_MORE 0x02000000u        /* the last send said MSG_MORE: the same */
#define TF_PUSH_ONCE 0x04000000u   /* the next output sends a held partial
                                      segment (uncork, the cork timer) */
#define TF_SNDBUF_LOCK 0x08000000u /* SO_SNDBUF set: no send autotuning */
#define TF_RCVBUF_LOCK 0x10000000u /* SO_RCVBUF set: no receive autotuning */
#define TF_RACK_ARMED 0x20000000u  /* TCP_T_REXMT is armed as RACK's reordering
                                      timer (RFC 8985 6.2 step 5) */
#define TF_SND_REF 0x40000000u     /* frames built while the stack's transmit
                                      generation was t_snd_ref_gen may refer to
                                      the send ring from sb_ref_lo on
                                      (rn__tcp_ring_quiesce()) */

/* ECN (RFC 3168) on a connection: t_ecn bits. */
#define TCP_ECN_ASKED 0x01u /* our SYN asked for ECN (ECE and CWR set) */
#define TCP_ECN_OK 0x02u    /* both ends agreed: new data goes out ECT(0) */
#define TCP_ECN_ECE 0x04u   /* a CE mark came in: our ACKs carry ECE until CWR */
#define TCP_ECN_CWR 0x08u   /* we reduced for an ECE: the next new data carries CWR */

/* The SACK scoreboard (tcp_sack.c): SACKed ranges kept above snd_una,
 * and the send-time marks RACK (RFC 8985) dates segments by.  Fixed in
 * the connection: a full scoreboard forgets its highest range, a full
 * list of marks merges its oldest two (dating their bytes later, which
 * can only make RACK slower to call them lost, never quicker). */
#define TCP_SACK_RANGES 16
#define TCP_XMIT_MARKS 32
#define TCP_DUPTHRESH 3               /* RFC 6675 DupThresh */
#define TCP_WCDELACK RN_MSEC(200)     /* RFC 8985 7.2 WCDelAckT */

/* A stretch of sequence space: SACKed data, or data sent at one time
 * (xm_time). */
struct tcp_range {
    uint32_t r_start, r_end;
};
struct tcp_xmark {
    uint32_t xm_start, xm_end;
    rn_time_t xm_time;
};
struct tcp_xmarks {
    struct tcp_xmark xs_m[TCP_XMIT_MARKS];  /* by sequence, oldest first */
    uint8_t xs_n;
};
/* The scoreboard, the marks and the loss recovery state of one
 * connection (1.3 KB): only while it has data in flight, taken from the
 * stack's free list (ts_sb_free) at its first data segment (sb_get(),
 * which starts the state afresh) and given back once everything sent is
 * acknowledged, outside recovery, with no range SACKed.  So an idle
 * connection carries none, and the per-segment paths allocate only when
 * more connections have data in flight at once than ever before.  A
 * connection that could get none goes on without SACK until it can
 * (tcp_sack_flight()). */
struct tcp_sackboard {
    struct tcp_range sk_sacked[TCP_SACK_RANGES]; /* [L] SACKed ranges above
                                          snd_una, by sequence, disjoint */
    struct tcp_xmarks sk_xm_orig;      /* [L] when new data went out */
    struct tcp_xmarks sk_xm_rxt;       /* [L] when data was resent */
    /* SACK loss recovery (RFC 6675) with PRR (RFC 6937), tcp_sack.c. */
    uint32_t sk_sacked_bytes;          /* [L] bytes in sk_sacked */
    uint32_t sk_high_rxt;              /* [L] HighRxt: end of the highest
                                          retransmission of this recovery */
    uint32_t sk_rescue_rxt;            /* [L] RescueRxt */
    uint32_t sk_pipe;                  /* [L] RFC 6675 pipe, kept up to date
                                          by every segment sent in recovery */
    uint32_t sk_prr_delivered;         /* [L] RFC 6937 prr_delivered */
    uint32_t sk_prr_out;               /* [L] prr_out */
    uint32_t sk_recover_fs;            /* [L] RecoverFS */
    bool sk_rescue_used;               /* [L] RescueRxt is defined */
    /* RACK-TLP (RFC 8985), of the data in flight: what was delivered last
     * (nothing sent before it is new once everything is acknowledged). */
    bool sk_rack_rerxt;                /* [L] the resent segment at
                                          sk_rack_rerxt_seq was lost again:
                                          resend it */
    uint32_t sk_rack_end_seq;          /* [L] RACK.end_seq */
    uint32_t sk_rack_lost;             /* [L] data below this never resent and
                                          not SACKed is lost (RACK) */
    uint32_t sk_rack_rerxt_seq;        /* [L] */
    rn_time_t sk_rack_xmit_ts;         /* [L] RACK.xmit_ts; 0 none yet */
    rn_time_t sk_rack_rtt;             /* [L] RACK.rtt */
    rn_time_t sk_rack_due;             /* [L] when RACK's next candidate is due;
                                          0 none */
};
/* Free scoreboards a stack keeps; more are freed. */
#define TCP_SB_POOL_MAX 1024u

/* Send rings come in sizes TCP_RING_FIRST << k, k < TCP_RING_CLASSES (16
 * KiB to 256 KiB); a stack keeps free rings of those sizes, up to
 * TCP_RING_POOL_BYTES in all, and frees the rest.  A connection holds its
 * ring only while it has data queued or unacknowledged, so an idle one
 * holds none and a keep-alive response takes a ring of its size from the
 * free list and gives it back.  Larger rings (bulk senders) and rings cut
 * to an odd SO_SNDBUF are freed. */
#define TCP_RING_FIRST 16384u
#define TCP_RING_CLASSES 5u
#define TCP_RING_POOL_BYTES (4u << 20)

/* Segments with at least this much payload go out from the send ring
 * itself when the route's link takes such frames (RN_LINK_OFF_TX_REF):
 * their packets refer to the ring instead of holding a copy.  Smaller
 * payloads are copied into the header's buffer: a buffer of their own to
 * point with would save little or nothing. */
#define TCP_REF_MIN 1024u

/* How long a corked partial segment may wait (TCP_CORK, MSG_MORE), as
 * Linux. */
#define TCP_CORK_MAX RN_MSEC(200)

/* ---- Settings in force, and congestion control by name ---- */

struct tcp_conn;

/* A congestion control algorithm (tcp_cc.c keeps the table by name). */
struct tcp_cc_ops {
    const char *cc_name;                                   /* "newreno" */
    /* A connection starts: the initial window and threshold. */
    void (*cc_init)(struct tcp_conn *c);
    /* New data acknowledged: acked bytes, outside recovery. */
    void (*cc_ack)(struct tcp_conn *c, uint32_t acked);
    /* The third duplicate ACK: enter recovery and retransmit. */
    void (*cc_fast_retransmit)(struct tcp_conn *c);
    /* A further duplicate ACK in recovery. */
    void (*cc_dupack)(struct tcp_conn *c);
    /* An ACK in recovery; returns true if it ended recovery. */
    bool (*cc_recovery_ack)(struct tcp_conn *c, uint32_t acked);
    /* The retransmission timer fired. */
    void (*cc_rto)(struct tcp_conn *c);
    /* The peer echoed a congestion mark (ECE): reduce as for a loss,
     * without retransmitting (RFC 3168 6.1.2). */
    void (*cc_ecn)(struct tcp_conn *c);
    /* A connection under way turns to this algorithm (TCP_CONGESTION set
     * on it): the window and threshold stay as they are, the algorithm's
     * own state starts afresh.  NULL: it keeps no state. */
    void (*cc_adopt)(struct tcp_conn *c);
};

/* State of congestion control "cubic" (tcp_cc_cubic.c), in bytes and
 * stack time. */
struct tcp_cubic {
    uint32_t cu_w_max;        /* the window before the last reduction */
    uint32_t cu_w_est;        /* the Reno-friendly estimate (RFC 9438 4.3) */
    uint32_t cu_cwnd_epoch;   /* the window when the epoch began */
    /* HyStart++ (RFC 9406), in the first slow start only. */
    uint32_t hs_round_end;    /* a round ends when this is acknowledged */
    rn_time_t cu_epoch;       /* start of congestion avoidance; 0: none yet */
    rn_time_t cu_k;           /* time the curve takes back to cu_w_max */
    rn_time_t hs_last_min;    /* least RTT of the last round; 0: none */
    rn_time_t hs_cur_min;     /* least RTT of this round so far; 0: none */
    rn_time_t hs_css_base;    /* least RTT when conservative slow start began */
    uint32_t hs_samples;      /* RTT samples this round */
    uint8_t hs_css_rounds;    /* rounds in conservative slow start */
    bool hs_css;              /* in conservative slow start */
    bool hs_done;             /* HyStart++ is over for this connection */
};

/* The settings a connection lives by: the stack's settings as they were
 * when it was opened, shared by reference and never changed once
 * published.  Held by the stack while it is the one in force, and by
 * every connection that started under it; freed by the last holder,
 * which may be on any thread (a connection's release). */
struct tcp_conf {
    _Atomic uint32_t tc_refs;          /* [A] holders */
    struct rn_tcp_params tc_p;         /* [I] */
    const struct tcp_cc_ops *tc_cc;    /* [I] tc_p.tp_cc's algorithm */
};

/* Per-socket options a user set (transport.h, enum rn_sockopt), kept by
 * the socket until it has a TCP object, by a listener for the
 * connections it makes (they inherit them, as Linux's children do), and
 * by a connection.  Zero means "the stack's setting". */
struct tcp_uopts {
    uint32_t uo_flags;                 /* UO_* */
    uint32_t uo_sndbuf;                /* SO_SNDBUF as reported (doubled) */
    uint32_t uo_rcvbuf;                /* SO_RCVBUF as reported (doubled) */
    uint32_t uo_maxseg;                /* TCP_MAXSEG */
    uint32_t uo_window_clamp;          /* TCP_WINDOW_CLAMP, bytes */
    uint32_t uo_keepcnt;               /* TCP_KEEPCNT */
    uint32_t uo_syncnt;                /* TCP_SYNCNT */
    uint32_t uo_keepidle;              /* TCP_KEEPIDLE, seconds; 0 the stack's */
    uint32_t uo_keepintvl;             /* TCP_KEEPINTVL, seconds; 0 the stack's */
    uint32_t uo_user_timeout;          /* TCP_USER_TIMEOUT, ms; 0 none */
    uint8_t uo_tos;                    /* IP_TOS */
    uint8_t uo_ttl;                    /* IP_TTL; 0 the stack's */
    uint8_t uo_cc;                     /* TCP_CONGESTION (rn__tcp_cc_id()); 0 the
                                          stack's */
};

/* uo_flags */
#define UO_NODELAY 0x01u    /* TCP_NODELAY */
#define UO_KEEPALIVE 0x02u  /* SO_KEEPALIVE */
#define UO_CORK 0x04u       /* TCP_CORK */
#define UO_REUSEADDR 0x08u  /* SO_REUSEADDR */
#define UO_REUSEPORT 0x10u  /* SO_REUSEPORT */
#define UO_V6ONLY 0x20u     /* IPV6_V6ONLY: a listener on :: takes no IPv4 */

/* Per-stack TCP state (in TCP's stack slot). */
struct tcp_stack {
    struct rn_stack *ts_stack;               /* [I] */
    struct tcp_conf *ts_conf;                /* [L] the settings in force, held */
    struct tcp_bound *ts_bound[TCP_LHASH_BUCKETS]; /* [L] ports of sockets bound
                                                but not listening or connected */
    struct tcp_conn **ts_hash;               /* [L] by 4-tuple: ts_hash_mask + 1
                                                buckets, doubled when it holds
                                                twice as many connections
                                                (rn__tcp_hash_grow()) */
    uint32_t ts_hash_mask;                   /* [L] buckets - 1, a power of two less one */
    uint32_t *ts_port_users;                 /* [L] by local port: the connections
                                                and TIME_WAIT entries on it, of
                                                any local address (65,536
                                                counts), so that a bind or an
                                                ephemeral pick need not walk
                                                every connection */
    struct tcp_bind *ts_lhash[TCP_LHASH_BUCKETS];        /* [L] listening ports */
    struct tcp_tw *ts_tw_hash[TCP_HASH_BUCKETS];         /* [L] TIME_WAIT by 4-tuple */
    struct tcp_tw *ts_tw_oldest;             /* [L] expiry order (all last 2*MSL) */
    struct tcp_tw *ts_tw_newest;             /* [L] */
    unsigned ts_ntw;                         /* [L] */
    struct rn_timer ts_tw_timer;             /* [L] expiry of the oldest */
    unsigned ts_nconns;                      /* [L] connections in the table */
    uint64_t ts_secret[2];                   /* [I] keys ISNs and ports */
    uint32_t ts_next_ephemeral;              /* [L] RFC 6056 alg. 3 counter */
    uint32_t ts_challenge_tokens;            /* [L] challenge ACKs left this second */
    rn_time_t ts_challenge_second;           /* [L] when this second began */
    uint64_t ts_challenge_nsecond;           /* [L] seconds drawn so far: the draw's key */
    struct rn_ob_type *ts_conn_type;         /* [I] */
    struct rn_ob_type *ts_listener_type;     /* [I] */
    struct rn_ob_type *ts_tw_type;           /* [I] */
    rn_tag_t ts_tag_listener;                /* a listener's hold on its queued connections */
    rn_tag_t ts_tag_timewait;                /* the TIME_WAIT table's hold */
    rn_tag_t ts_tag_conn;                    /* a connection's hold on its listener */
    rn_nb_owner_t ts_own_tx;                 /* segments being built and sent */
    rn_nb_owner_t ts_own_rcvq;               /* in-order data not yet read */
    rn_nb_owner_t ts_own_ooo;                /* out-of-order data */
    struct tcp_sackboard *ts_sb_free;        /* [L] free scoreboards, linked
                                                through their first word */
    unsigned ts_sb_nfree;                    /* [L] <= TCP_SB_POOL_MAX */
    void *ts_ring_free[TCP_RING_CLASSES];    /* [L] free send rings of
                                                TCP_RING_FIRST << k bytes,
                                                linked through their first
                                                word */
    size_t ts_ring_pooled;                   /* [L] their bytes, <=
                                                TCP_RING_POOL_BYTES */
    /* Counters [L]. */
    uint64_t ts_segs_in;
    uint64_t ts_segs_out;
    uint64_t ts_retransmits;
    uint64_t ts_rst_in;
    uint64_t ts_rst_out;
    uint64_t ts_active_opens;
    uint64_t ts_passive_opens;
    uint64_t ts_challenge_acks;
    uint64_t ts_challenge_acks_skipped;  /* over a connection's or the stack's limit */
    uint64_t ts_timeouts;
    uint64_t ts_fast_retransmits;
    uint64_t ts_tw_recycled;           /* entries let go early: the table was full */
    uint64_t ts_tw_reopened;           /* entries a clearly new SYN replaced */
    uint64_t ts_listen_overflows;
    uint64_t ts_syncookies_sent;       /* SYN+ACKs carrying a cookie */
    uint64_t ts_syncookies_ok;         /* ACKs that returned one: connections made */
    uint64_t ts_syncookies_failed;     /* ACKs to a listener that sent cookies,
                                          returning none */
    uint64_t ts_probes_answered;             /* window and keepalive probes ACKed */
    uint64_t ts_tlp_probes;                  /* tail loss probes sent (RFC 8985) */
    uint64_t ts_ecn_reductions;              /* windows reduced for ECE (RFC 3168) */
    uint64_t ts_undos;                       /* reductions undone: DSACK showed
                                                every retransmission needless */
    uint64_t ts_sack_recoveries;             /* recoveries driven by the SACK
                                                scoreboard (RFC 6675) */
    uint64_t ts_rack_losses;                 /* segments RACK found lost by time */
    uint64_t ts_rescue_rxts;                 /* rescue retransmissions (RFC 6675) */
    uint64_t ts_ring_flushes;                /* passes' frames sent early: a send
                                                ring changed under frames that
                                                referred to it */
};

/* The send buffer: a ring of bytes starting at the byte snd_una names.
 *   sb_len == bytes queued, sb_len <= sb_cap <= sb_max.
 * Frames sent may refer to the ring (TCP_REF_MIN) until the stack hands
 * its interfaces' frames to their links, at the end of the pass at the
 * latest: before the ring's memory is written where such a frame may
 * point, reused or freed, rn__tcp_ring_quiesce() makes sure none does.
 * Taken when data is queued, grown on demand up to sb_max, and given back
 * once everything in it is acknowledged (sb_data NULL, sb_cap 0), so idle
 * connections hold none. */
struct tcp_sndbuf {
    uint8_t *sb_data;   /* [L] sb_cap bytes, or NULL */
    uint32_t sb_cap;    /* [L] bytes allocated */
    uint32_t sb_max;    /* [L] SO_SNDBUF */
    uint32_t sb_head;   /* [L] index of the byte at snd_una (or iss+1) */
    uint32_t sb_len;    /* [L] bytes queued from there */
    uint32_t sb_ref_lo; /* [L] with TF_SND_REF: the lowest sequence number a
                           frame of generation t_snd_ref_gen refers to */
};

/* A socket bound to a port but not listening or connected yet: it holds
 * the port from bind on, as Linux's bind does.  Embedded in the socket's
 * context (tcp_sock.c). */
struct tcp_bound {
    struct tcp_bound *bd_next;         /* [L] ts_bound chain */
    const struct tcp_uopts *bd_uo;     /* [L] the socket's options (reuse) */
    struct rn_inaddr bd_laddr;                 /* [L] 0 = any */
    uint16_t bd_lport;                 /* [L] never 0 while linked */
    bool bd_linked;                    /* [L] in ts_bound */
};

/* A connection's timers.  They share one entry in the stack's timer
 * wheel (t_timer), due at the earliest of those armed: a connection pays
 * for one wheel entry, not four. */
enum tcp_timer_kind {
    TCP_T_REXMT,   /* retransmission; or persist when the window is 0; or
                      the tail loss probe, or RACK's reordering timeout */
    TCP_T_DELACK,  /* delayed ACK */
    TCP_T_KEEP,    /* connect timeout, keepalive, FIN_WAIT_2 */
    TCP_T_CORK,    /* pushes a corked partial segment */
    TCP_T_COUNT_
};

struct tcp_conn {
    struct tcp_stack *t_tcp;           /* [I] */
    struct tcp_conf *t_conf;           /* [I] the settings it opened under, held */
    struct tcp_uopts t_uo;             /* [L] the user's options (booleans
                                          live in t_flags: TF_NODELAY ...) */
    uint32_t t_retransmits;            /* [L] segments resent (modulo 2^32, as
                                          Linux's tcpi_total_retrans) */
    const struct tcp_cc_ops *t_cc;     /* [L] its congestion control: the
                                          stack's tcp.congestion when it was
                                          made, or the socket's (or its
                                          listener's) TCP_CONGESTION */
    struct tcp_conn *t_hnext;          /* [L] connection table chain */
    struct tcp_listener *t_listener;   /* [L] until accepted: held by "tcp.conn" */
    struct tcp_conn *t_qnext;          /* [L] the listener's SYN or accept queue */
    struct rn_inaddr t_laddr;                  /* [I] */
    struct rn_inaddr t_faddr;                  /* [I] */
    uint16_t t_lport;                  /* [I] */
    uint16_t t_fport;                  /* [I] */
    _Atomic uint8_t t_state;           /* [A] enum tcp_state */
    uint8_t snd_scale;                 /* [L] shift for the peer's window */
    uint8_t rcv_scale;                 /* [L] shift for our window */
    uint8_t request_r_scale;           /* [L] the shift we offered */
    rn_time_t t_state_since;           /* [L] when it entered t_state */
    uint32_t t_flags;                  /* [L] TF_* */
    int t_softerror;                   /* [L] error to report at the next call */

    /* Send sequence space (RFC 9293 3.3.1). */
    uint32_t snd_una;                  /* [L] oldest unacknowledged */
    uint32_t snd_nxt;                  /* [L] next to send */
    uint32_t snd_max;                  /* [L] highest sent (snd_nxt goes back on RTO) */
    uint32_t snd_wl1;                  /* [L] seq of the last window update */
    uint32_t snd_wl2;                  /* [L] ack of the last window update */
    uint32_t snd_wnd;                  /* [L] peer's window, scaled, in bytes */
    uint32_t snd_max_wnd;              /* [L] largest window the peer offered */
    uint32_t snd_recover;              /* [L] NewReno: snd_max when recovery began */
    uint32_t t_rxt_mark;               /* [L] snd_max when snd_una was last resent by
                                          rn__tcp_retransmit_one (lost retransmissions) */
    uint32_t iss;                      /* [L] */
    uint32_t snd_cwnd;                 /* [L] congestion window, bytes */
    uint32_t snd_ssthresh;             /* [L] */
    struct tcp_cubic t_cubic;          /* [L] the "cubic" algorithm's state */
    uint8_t t_ecn;                     /* [L] TCP_ECN_* */
    bool t_dsack;                      /* [L] the next ACK reports a duplicate
                                          (RFC 2883): t_dsack_start..end */
    bool t_undo;                       /* [L] a reduction may still be undone */
    bool t_dsack_round_on;             /* [L] RACK.dsack_round is set */
    uint32_t t_dsack_start, t_dsack_end;
    /* Undo of a reduction whose retransmissions all proved needless (DSACK,
     * RFC 2883 / RFC 3708): the window before it, and the retransmissions
     * since not yet reported duplicate. */
    uint32_t t_undo_cwnd, t_undo_ssthresh;
    uint32_t t_undo_marker;            /* [L] snd_una when it began */
    uint32_t t_undo_retrans;           /* [L] */
    uint32_t t_ecn_recover;            /* [L] snd_max at the last reduction for
                                          ECE: one a window (RFC 3168 6.1.2) */
    /* SACK loss recovery (RFC 6675) with PRR (RFC 6937), tcp_sack.c. */
    struct tcp_sackboard *t_sb;        /* [L] the scoreboard, RACK's marks and
                                          the recovery state while data is in
                                          flight, or NULL (t_nsacked > 0 and
                                          TF_INRECOVERY with SACK imply t_sb) */
    uint8_t t_nsacked;                 /* [L] ranges in t_sb->sk_sacked */
    bool t_snd_nxt_sync;               /* [L] recovery began: snd_nxt goes to
                                          snd_max at the next output */
    uint16_t t_snd_ref_gen;            /* [L] with TF_SND_REF: rn__net_tx_gen()
                                          when a frame referred to the ring */
    bool t_tlp_rxt;                    /* [L] TLP.is_retrans */
    /* RACK-TLP (RFC 8985): what outlives a flight (the reordering seen,
     * the window's multiplier); the rest is in t_sb. */
    bool t_rack_reord;                 /* [L] RACK.reord: reordering seen */
    uint8_t t_reo_wnd_mult;            /* [L] RACK.reo_wnd_mult */
    uint8_t t_reo_wnd_persist;         /* [L] RACK.reo_wnd_persist */
    uint32_t t_dsack_round;            /* [L] */
    uint32_t t_tlp_end;                /* [L] TLP.end_seq of the probe out */

    /* Receive sequence space. */
    uint32_t irs;                      /* [L] */
    uint32_t rcv_nxt;                  /* [L] next expected */
    uint32_t rcv_adv;                  /* [L] right edge last advertised */
    uint32_t rcv_buf;                  /* [L] SO_RCVBUF */

    uint32_t t_maxseg;                 /* [L] data bytes per segment, options excluded */
    uint32_t t_offloads;               /* [L] RN_LINK_OFF_* of the route's link */
    uint32_t t_peer_mss;               /* [L] MSS the peer announced */
    uint32_t t_our_mss;                /* [L] MSS we announced */
    uint32_t t_dupacks;                /* [L] consecutive duplicate ACKs */
    uint32_t t_segs_unacked;           /* [L] full segments received, not acked */

    /* Timestamps (RFC 7323). */
    uint32_t ts_recent;                /* [L] peer's latest TSval worth echoing */
    uint32_t ts_offset;                /* [L] our per-connection TSval offset */
    uint32_t t_keep_probes;            /* [L] unanswered keepalives */
    rn_time_t ts_recent_age;           /* [L] when ts_recent was taken */

    /* Round-trip time and retransmission (RFC 6298). */
    rn_time_t t_srtt;                  /* [L] 0 until the first sample */
    rn_time_t t_rttvar;                /* [L] */
    rn_time_t t_rto;                   /* [L] current timeout, before backoff */
    uint32_t t_rtseq;                  /* [L] segment being timed (TF_RXT_TIMING) */
    uint32_t t_rxtshift;               /* [L] consecutive timeouts (backoff) */
    rn_time_t t_rttime;                /* [L] when t_rtseq was sent */
    rn_time_t t_last_recv;             /* [L] for keepalive */
    rn_time_t t_challenge_last;        /* [L] when it last sent a challenge ACK;
                                          0 never */

    struct tcp_sndbuf t_snd;           /* [L] */
    struct rn_nbq t_rcvq;              /* [L] in-order payloads, not yet read */
    struct rn_netbuf *t_ooo;           /* [L] out-of-order payloads by seq, via
                                          nb_nextpkt; nb_cb[0] seq, nb_cb[1] len
                                          (bit 32 of nb_cb[1]: a FIN follows) */
    uint32_t t_ooo_bytes;              /* [L] */
    uint32_t t_ooo_recent[RN_TCP_MAX_SACKS]; /* [L] seqs of the latest out-of-order
                                          arrivals, most recent first: the order
                                          SACK blocks report them (RFC 2018 4) */
    _Atomic uint32_t t_sndq_bytes;     /* [A] queued, unacked: netstat's Send-Q */
    _Atomic uint32_t t_rcvq_bytes;     /* [A] received, unread: netstat's Recv-Q */

    struct rn_timer t_timer;           /* [L] in the wheel while a timer is armed
                                          (or its work runs), due at the
                                          earliest t_due of those armed */
    rn_time_t t_due[TCP_T_COUNT_];     /* [L] when each armed timer is due */
    uint8_t t_armed;                   /* [L] bit k: timer k is armed */
    bool t_timer_firing;               /* [L] the timers' work is running */
    bool t_persist;                    /* [L] TCP_T_REXMT is running as the persist timer */
    uint8_t t_ooo_nrecent;             /* [L] t_ooo_recent[0..n) are set */
    uint32_t t_rcv_mss;                /* [L] largest payload received (statistics) */

    const struct tcp_upcalls *t_up;    /* [L] NULL once the user let go */
    void *t_upctx;                     /* [L] */
    void *t_owner;                     /* [L] the socket above (its upcall's
                                          up_owner), set at connect or accept
                                          and kept until the release: the
                                          socket outlives the connection */
    rn_time_t t_una_since;             /* [L] when the oldest unacknowledged data
                                          was sent, or the last ACK that moved
                                          snd_una (TCP_USER_TIMEOUT) */
    /* Statistics (struct rn_tcp_info) [L]. */
    uint64_t t_bytes_sent;             /* payload sent, resent included */
    uint64_t t_bytes_retrans;          /* payload resent */
    uint64_t t_bytes_acked;            /* payload acknowledged */
    uint64_t t_bytes_received;         /* payload taken in order */
    uint32_t t_segs_out;               /* segment counts modulo 2^32, as */
    uint32_t t_segs_in;                /* Linux's tcpi_segs_out and the rest */
    uint32_t t_data_segs_out;
    uint32_t t_data_segs_in;
    rn_time_t t_min_rtt;               /* smallest RTT sample; 0 none */
    rn_time_t t_last_rtt;              /* the latest RTT sample; 0 none */
    uint64_t t_dr_rate;                /* delivery rate, bytes per second */
    rn_time_t t_dr_since;              /* start of the round being measured */
    uint64_t t_dr_acked;               /* t_bytes_acked at that start */
    /* Receive buffer autotuning [L]. */
    uint64_t t_rs_copied;              /* t_bytes_read when the round began */
    uint64_t t_bytes_read;             /* payload the user took */
    rn_time_t t_rs_since;              /* when the round began */
    void *t_filter;                    /* [L] the filtering platform's record of
                                          the flow (callout contexts, pended
                                          operations), or NULL (filter_hook.h) */
};

/* A listening port.  It outlives its listener's close: the port stays
 * taken until the listener object is released, as a port does in Windows
 * until its listener's last reference goes.  So a listener kept alive by a
 * leaked reference keeps its port, and a new bind says who holds it. */
struct tcp_bind {
    struct tcp_bind *b_next;           /* [L] table chain */
    struct tcp_stack *b_tcp;           /* [I] */
    struct rn_inaddr b_laddr;                  /* [I] */
    uint16_t b_lport;                  /* [I] */
    struct tcp_listener *b_listener;   /* [L] the open listener, NULL once closed */
    uint64_t b_holder;                 /* [I] the listener's object id */
    uint32_t b_flags;                  /* [L] the listener's UO_REUSE* bits, kept
                                          after its close */
    struct rn_ob_wait b_wait;          /* fires when the closed listener is released */
    struct rn_work b_work;             /* then frees the port on the loop thread */
};

struct tcp_listener {
    struct tcp_stack *l_tcp;           /* [I] */
    struct tcp_bind *l_bind;           /* [L] its port */
    struct rn_inaddr l_laddr;                  /* [I] */
    uint16_t l_lport;                  /* [I] */
    _Atomic uint8_t l_state;           /* [A] LISTEN, or CLOSED once closed */
    unsigned l_backlog;                /* [L] bound on each queue */
    bool l_refuse;                     /* [L] RN_SO_LISTEN_REFUSE: new SYNs get a RST */
    struct tcp_conn *l_synq;           /* [L] SYN_RECEIVED connections */
    _Atomic uint32_t l_nsyn;           /* [A] */
    struct tcp_conn *l_acceptq;        /* [L] established, not accepted, oldest first */
    struct tcp_conn *l_acceptq_tail;   /* [L] */
    _Atomic uint32_t l_naccept;        /* [A] */
    const struct tcp_upcalls *l_up;    /* [L] */
    void *l_upctx;                     /* [L] */
    void *l_owner;                     /* [L] the socket above, as t_owner */
    struct tcp_uopts l_uo;             /* [L] options its connections inherit */
    bool l_auth_pending;               /* [L] a callout pended its listen
                                          authorisation: it takes no SYNs */
    int l_error;                       /* [L] why it was closed under its user
                                          (RN_EACCES: refused by a filter), or 0 */
    void *l_filter;                    /* [L] the filtering platform's record of
                                          the flow, or NULL (filter_hook.h) */
    rn_time_t l_cookie_last;           /* [L] when it last answered a SYN with a
                                          cookie; 0 never (tcp_syncookie.c) */
};

/* A connection in TIME_WAIT, reduced to what TIME_WAIT needs. */
struct tcp_tw {
    struct tcp_stack *tw_tcp;          /* [I] */
    struct tcp_tw *tw_hnext;           /* [L] */
    struct tcp_tw *tw_older;           /* [L] expiry list */
    struct tcp_tw *tw_newer;           /* [L] */
    struct rn_inaddr tw_laddr;                 /* [I] */
    struct rn_inaddr tw_faddr;                 /* [I] */
    uint16_t tw_lport;                 /* [I] */
    uint16_t tw_fport;                 /* [I] */
    uint32_t tw_snd_nxt;               /* [L] */
    uint32_t tw_rcv_nxt;               /* [L] */
    uint32_t tw_ts_recent;             /* [L] */
    uint32_t tw_ts_offset;             /* [L] */
    bool tw_tstmp;                     /* [L] */
    uint16_t tw_rcv_wnd;               /* [L] as last advertised, unscaled field */
    uint32_t tw_rcv_space;             /* [I] that window in bytes: the segments
                                          acceptable from tw_rcv_nxt on */
    uint32_t tw_flags;                 /* [I] the connection's UO_REUSE* bits */
    uint8_t tw_tos;                    /* [I] its IP_TOS and IP_TTL */
    uint8_t tw_ttl;
    rn_time_t tw_msl;                  /* [I] its tcp.msl */
    rn_time_t tw_expires;              /* [L] */
};

static inline enum tcp_state tcp_state(const struct tcp_conn *c)
{
    return (enum tcp_state)atomic_load_explicit(&c->t_state, memory_order_relaxed);
}

static inline void tcp_set_state(struct tcp_conn *c, enum tcp_state s)
{
    atomic_store_explicit(&c->t_state, (uint8_t)s, memory_order_relaxed);
    c->t_state_since = rn_clock_now();
}

static inline bool tcp_have_rcvd_syn(enum tcp_state s)
{
    return s >= TCPS_SYN_RECEIVED;
}

/* ---- tcp.c ---- */
struct tcp_stack *rn__tcp_stack(struct rn_stack *st);

enum tcp_kind {
    TCP_KIND_NONE,      /* not a TCP object */
    TCP_KIND_CONN,      /* struct tcp_conn */
    TCP_KIND_LISTENER,  /* struct tcp_listener */
    TCP_KIND_TIMEWAIT,  /* struct tcp_tw */
};
/* What kind of TCP object ob is, by its type.  [any] */
enum tcp_kind rn__tcp_kind_of(const void *ob);
struct tcp_conn *rn__tcp_lookup(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport,
                             struct rn_inaddr faddr, uint16_t fport);
/* The open listener for a SYN from faddr:fport to laddr:lport, or NULL:
 * the one on laddr before a wildcard one, and among listeners sharing the
 * address with SO_REUSEPORT, one picked by a hash of the 4-tuple. */
struct tcp_listener *rn__tcp_lookup_listener(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport,
                                          struct rn_inaddr faddr, uint16_t fport);
/* Whether a binding to laddr:lport with the reuse options flags (UO_*)
 * may share the port with every socket, listener, connection and
 * TIME_WAIT entry that uses it (self, a bound socket, is left out).
 * Returns 0 or RN_EADDRINUSE. */
int rn__tcp_port_check(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport, uint32_t flags,
                       const struct tcp_bound *self);
/* A port nothing uses on laddr, from the ephemeral range (a bind or a
 * listen to port 0), or 0 if none is free. */
uint16_t rn__tcp_port_pick(struct tcp_stack *ts, struct rn_inaddr laddr, uint32_t flags);
/* Links (unlinks) a bound socket's port in ts_bound.  Harmless twice. */
void rn__tcp_bound_link(struct tcp_stack *ts, struct tcp_bound *bd);
void rn__tcp_bound_unlink(struct tcp_stack *ts, struct tcp_bound *bd);
/* rn__tcp_listen() and rn__tcp_connect() (tcp.h) for a socket with the
 * options uo (NULL: none), which the listener keeps for the connections
 * it makes, and the connection takes before its SYN. */
int rn__tcp_listen_opts(struct rn_stack *st, struct rn_inaddr laddr, uint16_t lport, unsigned backlog,
                        const struct tcp_uopts *uo, const struct tcp_upcalls *up, void *ctx,
                        struct tcp_listener **out);
int rn__tcp_connect_opts(struct rn_stack *st, struct rn_inaddr laddr, uint16_t lport, struct rn_inaddr faddr,
                         uint16_t fport, const struct tcp_uopts *uo,
                         const struct tcp_upcalls *up, void *ctx, struct tcp_conn **out);
/* Creates a connection for a 4-tuple and puts it in the table. */
struct tcp_conn *rn__tcp_conn_new(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport,
                               struct rn_inaddr faddr, uint16_t fport);
/* The protocol is finished with c: out of the table, timers stopped, the
 * "create" reference dropped (buffers go too if the user has let go). */
void rn__tcp_done(struct tcp_conn *c);
/* Fails the connection with err: tells the user, then rn__tcp_done. */
void rn__tcp_drop(struct tcp_conn *c, int err);
uint32_t rn__tcp_isn(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport, struct rn_inaddr faddr,
                  uint16_t fport);
/* The TF_REQ_* options c's SYN or SYN+ACK offers, as its settings say. */
uint32_t rn__tcp_syn_offers(const struct tcp_conn *c);
/* Sets t_maxseg and t_our_mss from the route, the peer's MSS, tcp.mss_clamp
 * and TCP_MAXSEG. */
void rn__tcp_mss_update(struct tcp_conn *c, uint32_t peer_mss);
/* Frees send and receive buffers.  [L] */
void rn__tcp_free_buffers(struct tcp_conn *c);
/* [L] c's send ring is empty: it goes back to the stack's free list. */
void rn__tcp_ring_put(struct tcp_conn *c);
/* [L] A connection or TIME_WAIT entry on local port lport came (delta 1)
 * or went (-1). */
static inline void rn__tcp_port_users(struct tcp_stack *ts, uint16_t lport, int delta)
{
    ts->ts_port_users[lport] += (uint32_t)delta;
}
/* [L] Frees the stack's free send rings (the stack goes). */
void rn__tcp_ring_pool_fini(struct tcp_stack *ts);
/* The listener side of an established passive open. */
void rn__tcp_listener_established(struct tcp_conn *c);
/* Removes c from its listener's SYN queue (it failed). */
void rn__tcp_listener_forget(struct tcp_conn *c);
/* Tells the user, if any. */
void rn__tcp_upcall_readable(struct tcp_conn *c);
void rn__tcp_upcall_writable(struct tcp_conn *c);
/* The receive window we can offer now, in bytes. */
uint32_t rn__tcp_rcv_space(const struct tcp_conn *c);
/* True if the window we could offer now is worth an update of its own:
 * it has at least doubled since we last advertised it, by a useful amount
 * (two segments or half the buffer, whichever is less). */
bool rn__tcp_window_update_due(const struct tcp_conn *c);

/* Closes a listener under its user: l_error = err, then the upcall
 * tu_error(err); accepts then fail with err. */
void rn__tcp_listener_refuse(struct tcp_listener *l, int err);

/* ---- tcp_filter.c: the filtering platform's hooks ---- */
/* The listen layer, for a listener just bound.  Returns RN_FILTER_PERMIT,
 * RN_FILTER_BLOCK, or RN_FILTER_PEND (l_auth_pending is then set). */
enum rn_filter_decision rn__tcp_filter_listen(struct tcp_listener *l);
/* The connect layer, for a connection in SYN_SENT before its SYN; the
 * accept layer, for one in SYN_RECEIVED before its SYN+ACK.  Return as
 * rn__tcp_filter_listen(); on RN_FILTER_PEND TF_AUTH_PENDING is set. */
enum rn_filter_decision rn__tcp_filter_connect(struct tcp_conn *c);
enum rn_filter_decision rn__tcp_filter_accept(struct tcp_conn *c);
/* Refuses a connection whose SYN was accepted into SYN_RECEIVED: a RST to
 * the peer, and the connection is done. */
void rn__tcp_refuse_syn(struct tcp_conn *c);
/* The transport layers (RN_FL_INBOUND_TRANSPORT, RN_FL_OUTBOUND_TRANSPORT)
 * for a segment of connection c (NULL if none).  Returns true if blocked. */
bool rn__tcp_filter_segment(struct tcp_stack *ts, struct tcp_conn *c, enum rn_filter_layer layer,
                         struct rn_inaddr laddr, uint16_t lport, struct rn_inaddr faddr, uint16_t fport,
                         uint8_t flags, uint32_t len);

/* ---- tcp_input.c ---- */
void rn__tcp_input(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip_rx *rx);
void rn__tcp_input6(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip6_rx *rx);
void rn__tcp_err_input(struct rn_stack *st, const struct rn_ip_err *err);
/* RTT sample (RFC 6298 2.2-2.3). */
void rn__tcp_rtt_update(struct tcp_conn *c, rn_time_t rtt);

/* ---- tcp_output.c ---- */
/* Sends whatever the state, windows and flags call for. */
void rn__tcp_output(struct tcp_conn *c);
/* Sends a bare segment not tied to a connection (RST, ACK from TIME_WAIT). */
void rn__tcp_respond(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport, struct rn_inaddr faddr,
                  uint16_t fport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                  const uint32_t *tsval_tsecr);
/* The same, with the IP_TOS and IP_TTL of the connection it stands for. */
void rn__tcp_respond_as(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport, struct rn_inaddr faddr,
                        uint16_t fport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                        const uint32_t *tsval_tsecr, const uint8_t tos_ttl[2]);
/* A RST in answer to segment th (RFC 9293 3.10.7.1). */
void rn__tcp_reset_reply(struct tcp_stack *ts, struct rn_inaddr laddr, struct rn_inaddr faddr,
                      const struct rn_tcp_hdr *th, uint32_t seglen);
/* Payload bytes one segment may carry now: t_maxseg less the SACK blocks
 * every segment carries while data from the peer is missing, or a D-SACK
 * waits to be reported (as Linux's tcp_current_mss()), so that no segment
 * outgrows the path. */
uint32_t rn__tcp_seg_room(const struct tcp_conn *c);
/* Sends one segment of len bytes at seq with flags. */
int rn__tcp_send_segment(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags);
/* [L] c's send ring is about to change: every frame that may refer to it
 * goes to its link first (rn__net_tx_flush()).  With all, the whole ring
 * (it is grown, given back or left for another thread to free); else the
 * space of the data acknowledged, where new data goes, and only if a frame
 * built may point there (the ACK of a resent segment came in the same
 * pass): new data behind in-flight frames flushes nothing. */
void rn__tcp_ring_quiesce(struct tcp_conn *c, bool all);
void rn__tcp_send_rst(struct tcp_conn *c);
/* Sends len bytes of new data at snd_max (PSH if push), as output
 * would: snd_nxt and snd_max move, the RTT is timed, the timer runs. */
void rn__tcp_send_new(struct tcp_conn *c, uint32_t len, bool push);
/* Resends the segment at snd_una (fast retransmit, partial ACKs). */
void rn__tcp_retransmit_one(struct tcp_conn *c);
/* SYN cookies (tcp_syncookie.c, RFC 4987 3.6).  Whether l answers SYNs
 * with cookies now (tcp.syncookies; its SYN queue full). */
bool rn__tcp_syncookie_due(const struct tcp_listener *l);
/* Answers the SYN th (options to) with a SYN+ACK carrying a cookie;
 * keeps nothing. */
void rn__tcp_syncookie_reply(struct tcp_listener *l, struct rn_inaddr laddr, struct rn_inaddr faddr,
                             const struct rn_tcp_hdr *th, const struct rn_tcp_opts *to);
/* True if the ACK th (options to) returns a cookie l sent, with the
 * options of the SYN it answered rebuilt in *syn (MSS, and window
 * scaling, SACK and timestamps when timestamps carried them). */
bool rn__tcp_syncookie_check(struct tcp_listener *l, struct rn_inaddr laddr, struct rn_inaddr faddr,
                             const struct rn_tcp_hdr *th, const struct rn_tcp_opts *to,
                             struct rn_tcp_opts *syn);

/* A challenge ACK (RFC 5961), rate limited per stack. */
void rn__tcp_challenge_ack(struct tcp_conn *c);
uint32_t rn__tcp_tsval(const struct tcp_conn *c, rn_time_t now);

/* ---- tcp_sack.c: SACK recovery (RFC 6675, RFC 6937) and RACK (RFC 8985) ---- */
/* Whether c recovers with the scoreboard: the peer takes SACK. */
static inline bool tcp_sack_on(const struct tcp_conn *c)
{
    return (c->t_flags & TF_SACK_PERMIT) != 0;
}
/* SACK loss recovery runs: SACK was agreed, and the data in flight has
 * its scoreboard (without one, for want of memory, recovery is NewReno's
 * until one can be had). */
static inline bool tcp_sack_flight(const struct tcp_conn *c)
{
    return tcp_sack_on(c) && c->t_sb != NULL;
}
/* When RACK's next candidate is due; 0 none. */
static inline rn_time_t tcp_rack_due(const struct tcp_conn *c)
{
    return c->t_sb != NULL ? c->t_sb->sk_rack_due : 0;
}
/* Takes the SACK blocks of an ACK of ack into the scoreboard (those at
 * or below ack, and beyond snd_max, are no news); ranges at or below ack
 * go.  Returns the bytes newly SACKed.  Bounded: at most 4 blocks into
 * TCP_SACK_RANGES ranges. */
uint32_t rn__tcp_sack_update(struct tcp_conn *c, const struct rn_tcp_opts *to, uint32_t ack);
/* Forgets every SACKed range (a timeout: the receiver may have reneged,
 * RFC 2018 8). */
void rn__tcp_sack_clear(struct tcp_conn *c);
/* If seq lies in a SACKed range, its end; else seq. */
uint32_t rn__tcp_sack_skip(const struct tcp_conn *c, uint32_t seq);
/* The first SACKed byte above seq, or snd_max. */
uint32_t rn__tcp_sack_next(const struct tcp_conn *c, uint32_t seq);
/* RFC 6675 IsLost(seq), or RACK's verdict on it. */
bool rn__tcp_sack_lost(const struct tcp_conn *c, uint32_t seq);
/* An ACK was taken in (snd_una moved by acked bytes, newly SACKed more):
 * RACK dates the delivery, detects losses and arms its timer; recovery
 * starts, continues (PRR) or ends.  dup: it was a duplicate ACK. */
void rn__tcp_sack_ack(struct tcp_conn *c, uint32_t acked, uint32_t newly, bool dup);
/* What recovery sends now (NextSeg() while pipe < cwnd); true while c is
 * in SACK recovery, when output must send no new data of its own. */
bool rn__tcp_sack_output(struct tcp_conn *c);
/* len bytes at seq went out (resent if below snd_max): RACK's marks,
 * and pipe and prr_out in recovery. */
void rn__tcp_sack_sent(struct tcp_conn *c, uint32_t seq, uint32_t len);
/* A D-SACK came in: RACK widens its reordering window (RFC 8985 6.2
 * step 4). */
void rn__tcp_rack_dsack(struct tcp_conn *c);
/* RACK's reordering timer fired. */
void rn__tcp_rack_timeout(struct tcp_conn *c);
/* A retransmission timeout: the scoreboard and RACK start over. */
void rn__tcp_sack_rto(struct tcp_conn *c);
/* [L] The connection is done: its scoreboard, if any, goes back to the
 * stack's free list. */
void rn__tcp_sack_free(struct tcp_conn *c);
/* [L] Frees the stack's free scoreboards (the stack goes). */
void rn__tcp_sack_pool_fini(struct tcp_stack *ts);

/* ---- tcp_timer.c ---- */
void rn__tcp_timers_init(struct tcp_conn *c);
/* Arms or re-arms timer k of c to fire at due.  While any of c's timers
 * is armed (or their work runs), c has one "tcp.timer" reference, with
 * the condition of each timer armed. */
void rn__tcp_timer_arm(struct tcp_conn *c, enum tcp_timer_kind k, rn_time_t due);
/* Disarms timer k of c, if armed. */
void rn__tcp_timer_stop(struct tcp_conn *c, enum tcp_timer_kind k);
/* Disarms every timer of c. */
void rn__tcp_timers_stop(struct tcp_conn *c);
static inline bool tcp_timer_armed(const struct tcp_conn *c, enum tcp_timer_kind k)
{
    return (c->t_armed & (1u << k)) != 0;
}
/* When armed timer k is due. */
static inline rn_time_t tcp_timer_due(const struct tcp_conn *c, enum tcp_timer_kind k)
{
    return c->t_due[k];
}
/* (Re)starts the retransmission timer at the current RTO with backoff,
 * or earlier as the tail loss probe when that applies (tcp_timer.c). */
void rn__tcp_rexmt_start(struct tcp_conn *c);
rn_time_t rn__tcp_rto(const struct tcp_conn *c);
/* After new data went out: turns a running retransmission timer into the
 * tail loss probe if one now applies (more than a segment in flight). */
void rn__tcp_tlp_arm(struct tcp_conn *c);
void rn__tcp_keep_reset(struct tcp_conn *c);

/* ---- tcp_timewait.c ---- */
/* Moves c into the TIME_WAIT table and finishes the connection. */
void rn__tcp_timewait_enter(struct tcp_conn *c);
struct tcp_tw *rn__tcp_tw_lookup(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport,
                              struct rn_inaddr faddr, uint16_t fport);
/* Processes a segment for a TIME_WAIT entry.  Returns true if it was a SYN
 * that may start a new incarnation (the entry is gone then). */
bool rn__tcp_tw_input(struct tcp_tw *tw, const struct rn_tcp_hdr *th,
                   const struct rn_tcp_opts *to, uint32_t seglen);
void rn__tcp_tw_init(struct tcp_stack *ts);
void rn__tcp_tw_flush(struct tcp_stack *ts);

/* ---- tcp_settings.c ---- */
/* A conf holding a copy of p (checked by the caller), one reference
 * held; NULL if out of memory or p names no known algorithm. */
struct tcp_conf *rn__tcp_conf_new(const struct rn_tcp_params *p);
void rn__tcp_conf_ref(struct tcp_conf *tc);
/* Drops a reference; the last frees it.  [any] */
void rn__tcp_conf_deref(struct tcp_conf *tc);
/* Makes p the settings in force on ts, for connections opened from now
 * on.  Returns 0 or RN_ENOMEM. */
int rn__tcp_conf_publish(struct tcp_stack *ts, const struct rn_tcp_params *p);

/* ---- tcp_opt.c: the per-socket options ---- */
/* Sets opt for a socket whose options are uo, and on its connection c or
 * listener l if it has one (both NULL before listen or connect).  Returns
 * 0, RN_EINVAL (out of range), RN_ENOPROTOOPT (not TCP's). */
int rn__tcp_opt_set(struct tcp_stack *ts, struct tcp_uopts *uo, struct tcp_conn *c,
                    struct tcp_listener *l, enum rn_sockopt opt, int64_t val);
/* Reads opt, from c or l if there is one, else from uo.  Returns 0 or
 * RN_ENOPROTOOPT. */
int rn__tcp_opt_get(struct tcp_stack *ts, const struct tcp_uopts *uo, const struct tcp_conn *c,
                    const struct tcp_listener *l, enum rn_sockopt opt, int64_t *val);
/* TCP_CONGESTION, the one option whose value is a string: sets the
 * algorithm named name on the socket (uo), its listener l (for the
 * connections it makes from now on) or its connection c (at once, through
 * rn__tcp_cc_set()).  Returns 0, RN_ENOENT (no algorithm of that name,
 * as Linux answers) or RN_EINVAL (an option whose value is a number). */
int rn__tcp_opt_set_str(struct tcp_stack *ts, struct tcp_uopts *uo, struct tcp_conn *c,
                        struct tcp_listener *l, enum rn_sockopt opt, const char *name);
/* Reads TCP_CONGESTION into buf (len bytes, NUL-terminated, cut short if
 * it must): c's algorithm, else l's or uo's choice, else the stack's.
 * Returns 0 or RN_EINVAL (a number option, or len 0). */
int rn__tcp_opt_get_str(struct tcp_stack *ts, const struct tcp_uopts *uo,
                        const struct tcp_conn *c, const struct tcp_listener *l,
                        enum rn_sockopt opt, char *buf, size_t len);
/* Gives a new connection the options uo (a socket's at connect, a
 * listener's at the SYN), before its SYN or SYN+ACK goes out. */
void rn__tcp_opt_apply(struct tcp_conn *c, const struct tcp_uopts *uo);
/* The effective keepalive idle time, interval and count of c. */
rn_time_t rn__tcp_keepidle(const struct tcp_conn *c);
rn_time_t rn__tcp_keepintvl(const struct tcp_conn *c);
uint32_t rn__tcp_keepcnt(const struct tcp_conn *c);
/* Sets the receive buffer (payload bytes) and the window scale to offer,
 * from the user's SO_RCVBUF or the settings; before the SYN only. */
void rn__tcp_rcvbuf_init(struct tcp_conn *c);
/* Autotuning: the user read n bytes; cwnd grew. */
void rn__tcp_rcvbuf_tune(struct tcp_conn *c, size_t n);
void rn__tcp_sndbuf_tune(struct tcp_conn *c);

/* ---- tcp_cc.c: congestion control, through the connection's algorithm ---- */
/* The algorithm named name, or NULL. */
const struct tcp_cc_ops *rn__tcp_cc_find(const char *name);
/* An algorithm as a small number (tcp_uopts.uo_cc), 1 and up; and back
 * (0: NULL). */
uint8_t rn__tcp_cc_id(const struct tcp_cc_ops *cc);
const struct tcp_cc_ops *rn__tcp_cc_of(uint8_t id);
extern const struct tcp_cc_ops rn__tcp_cc_newreno;
extern const struct tcp_cc_ops rn__tcp_cc_cubic;
/* NewReno's fast recovery (RFC 6582), which other algorithms use as
 * their loss recovery: a duplicate ACK in recovery, and an ACK that
 * advances in recovery (true if it ended it). */
void rn__tcp_newreno_dupack(struct tcp_conn *c);
bool rn__tcp_newreno_recovery_ack(struct tcp_conn *c, uint32_t acked);
/* The connection's algorithm becomes cc: before the handshake it simply
 * starts with it; under way, cwnd and ssthresh stay and cc's own state
 * starts afresh (cc_adopt), as Linux changes a live socket's. */
void rn__tcp_cc_set(struct tcp_conn *c, const struct tcp_cc_ops *cc);
void rn__tcp_cc_init(struct tcp_conn *c);
/* The handshake completed: the algorithm starts afresh, from one segment
 * if our SYN or SYN+ACK had to be resent (RFC 5681 3.1, RFC 6928 2), and
 * with a 3 s timeout if no round trip could be measured (RFC 6298 5.7). */
void rn__tcp_cc_established(struct tcp_conn *c);
/* New data acknowledged: acked bytes. */
void rn__tcp_cc_ack(struct tcp_conn *c, uint32_t acked);
/* The third duplicate ACK: enter fast recovery and retransmit. */
void rn__tcp_cc_fast_retransmit(struct tcp_conn *c);
/* A further duplicate ACK in recovery. */
void rn__tcp_cc_dupack(struct tcp_conn *c);
/* An ACK in recovery: partial or full (RFC 6582).  Returns true if it
 * ended recovery. */
bool rn__tcp_cc_recovery_ack(struct tcp_conn *c, uint32_t acked);
/* The retransmission timer fired. */
void rn__tcp_cc_rto(struct tcp_conn *c);
/* A DSACK (RFC 2883) reported start..end received twice: one needless
 * retransmission of the current reduction; when none is left, the window
 * before the reduction comes back. */
void rn__tcp_cc_undo_dsack(struct tcp_conn *c, uint32_t start, uint32_t end);
/* An ACK with ECE, once a window: the algorithm reduces. */
void rn__tcp_cc_ecn(struct tcp_conn *c);

#endif /* REFNET_TCP_PRIV_H */
