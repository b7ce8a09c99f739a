/*
 * TCP's settings and statistics: the per-stack defaults every new
 * connection starts from (struct rn_tcp_params), set when TCP is set up
 * and changed one at a time by name while the stack runs, and what one
 * connection knows about itself (struct rn_tcp_info, as Linux's
 * TCP_INFO).  docs/tcp-settings.md lists every setting with refnet's
 * default, Linux's, and what it does.
 *
 * Settings and connections: a connection takes the settings in force
 * when it is opened (connect, or the SYN that reaches a listener) and
 * keeps them for its whole life.  A setting changed at run time applies
 * to connections opened after the change; those already open, and the
 * TIME_WAIT entries already waiting, go on as they began.  Per-socket
 * options (transport.h, enum rn_sockopt) override some of them for one
 * socket.
 *
 * A setting has a name ("tcp.sack") and a value as text: booleans 0/1
 * (on/off, yes/no, true/false are read too), byte counts with an
 * optional K, M or G suffix (powers of 1024), times with their unit (ns,
 * us, ms, s, m, h: "200ms", "2h"; 0 needs none), counts, a port range
 * "LO-HI", or a name.  The library reads and writes values as text; it
 * formats no listing: the rows below are rendered by the program.
 *
 * Thread safety: [L] the stack's loop thread (or before its loop runs);
 * functions on a struct rn_tcp_params alone touch only that struct and
 * may run on [any] thread.  The info of one connection is read by handle
 * through the socket layer (socket.h: rn_sock_tcp_info() on the loop,
 * rn_tcp_info() from other threads) or in netstat's rows (netstat_walk.h).
 */
#ifndef REFNET_TCP_H
#define REFNET_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/clock.h"

struct rn_stack;

/* ---- Settings ------------------------------------------------------------ */

/* The longest congestion control name, with its NUL. */
#define RN_TCP_CC_NAME_MAX 16

/* TCP's per-stack settings.  Fill one with rn_tcp_params_init() (the
 * defaults), change what you need, then hand it to rn_tcp_init(); or
 * change them by name (rn_tcp_params_set()).  Each field's setting name
 * follows it. */
struct rn_tcp_params {
    uint32_t tp_sndbuf;          /* tcp.sndbuf: send buffer a connection starts
                                    with, bytes */
    uint32_t tp_sndbuf_max;      /* tcp.sndbuf_max: the most send autotuning
                                    grows it to, and the largest SO_SNDBUF */
    uint32_t tp_rcvbuf;          /* tcp.rcvbuf: receive buffer a connection
                                    starts with, bytes */
    uint32_t tp_rcvbuf_max;      /* tcp.rcvbuf_max: the most receive autotuning
                                    grows it to, and the largest SO_RCVBUF */
    bool tp_sndbuf_auto;         /* tcp.sndbuf_auto: grow the send buffer with
                                    the congestion window */
    bool tp_rcvbuf_auto;         /* tcp.rcvbuf_auto: grow the receive buffer
                                    with what the reader takes per round trip */
    bool tp_sack;                /* tcp.sack: offer and use SACK (RFC 2018) */
    bool tp_timestamps;          /* tcp.timestamps: offer and use timestamps
                                    (RFC 7323) */
    bool tp_window_scaling;      /* tcp.window_scaling: offer and use window
                                    scaling (RFC 7323) */
    uint32_t tp_mss_clamp;       /* tcp.mss_clamp: the largest MSS announced
                                    and used; 0: the route's MTU decides */
    uint32_t tp_initial_window;  /* tcp.initial_window: the first flight, in
                                    segments (RFC 6928) */
    rn_time_t tp_rto_min;        /* tcp.rto_min */
    rn_time_t tp_rto_max;        /* tcp.rto_max */
    rn_time_t tp_rto_initial;    /* tcp.rto_initial: before the first RTT
                                    sample (RFC 6298 2.1) */
    rn_time_t tp_delack;         /* tcp.delack: how long an ACK may wait for
                                    more data */
    rn_time_t tp_msl;            /* tcp.msl: maximum segment lifetime;
                                    TIME_WAIT lasts twice as long */
    uint32_t tp_timewait_max;    /* tcp.timewait_max: TIME_WAIT entries at most;
                                    the oldest goes early beyond */
    uint32_t tp_syn_retries;     /* tcp.syn_retries: SYN retransmissions before
                                    connect gives up */
    uint32_t tp_synack_retries;  /* tcp.synack_retries: SYN+ACK
                                    retransmissions before a half-open
                                    connection is dropped */
    uint32_t tp_retries;         /* tcp.retries: data retransmissions before
                                    the connection is dropped */
    rn_time_t tp_keepidle;       /* tcp.keepidle: idle time before the first
                                    keepalive probe (SO_KEEPALIVE sockets) */
    rn_time_t tp_keepintvl;      /* tcp.keepintvl: time between probes */
    uint32_t tp_keepcnt;         /* tcp.keepcnt: probes unanswered before the
                                    connection is dropped */
    rn_time_t tp_fin_wait_2;     /* tcp.fin_timeout: how long a closed
                                    connection waits in FIN_WAIT_2 for the
                                    peer's FIN */
    uint16_t tp_port_lo;         /* tcp.port_range: ephemeral ports, "LO-HI" */
    uint16_t tp_port_hi;
    char tp_cc[RN_TCP_CC_NAME_MAX]; /* tcp.congestion: congestion control by
                                    name ("newreno") */
    uint32_t tp_ecn;             /* tcp.ecn: ECN (RFC 3168): 1 asks for it in
                                    SYNs and accepts it, 2 accepts it when a
                                    peer asks (Linux's default), 0 neither */
    uint32_t tp_syncookies;      /* tcp.syncookies: 0 never, 1 when a
                                    listener's SYN queue is full, 2 always
                                    (RFC 4987 3.6) */
    uint32_t tp_challenge_ack_limit; /* tcp.challenge_ack_limit: challenge ACKs
                                    (RFC 5961) a second, stack-wide, on
                                    average: each second's budget is drawn
                                    between half and one and a half times it */
};

/* [any] Fills p with refnet's defaults (docs/tcp-settings.md). */
void rn_tcp_params_init(struct rn_tcp_params *p);

/* [any] Sets the setting name of p from its text value.  Returns 0,
 * RN_ENOENT (no such setting) or RN_EINVAL (the value does not read, or
 * lies outside the setting's own range), changing nothing on error.
 * Rules between settings (rto_min <= rto_max ...) are checked by
 * rn_tcp_params_check(). */
int rn_tcp_params_set(struct rn_tcp_params *p, const char *name, const char *value);

/* [any] Checks p as a whole: each field in its range and the rules
 * between them.  Returns 0, or RN_EINVAL with *why (if why is not NULL)
 * set to a static sentence naming the rule broken ("tcp.rto_min must not
 * exceed tcp.rto_max"). */
int rn_tcp_params_check(const struct rn_tcp_params *p, const char **why);

/* [L] Sets TCP up on st and registers it with IP, with params (NULL: the
 * defaults), copied.  Call it before rn_sock_layer_init() (socket.h) to
 * give TCP settings of your own; that call then keeps them.  Returns 0,
 * RN_EINVAL (params fail rn_tcp_params_check()), RN_EEXIST (already set
 * up), RN_ENOMEM or RN_ENOSPC. */
int rn_tcp_init(struct rn_stack *st, const struct rn_tcp_params *params);

/* [L] Copies st's settings in force into out.  Returns 0, or RN_ENOENT
 * if TCP is not set up on st. */
int rn_tcp_params_get(struct rn_stack *st, struct rn_tcp_params *out);

/* [L] Changes one setting of a live stack, for the connections opened
 * from now on.  Returns 0, RN_ENOENT (no such setting, or TCP not set
 * up), RN_EINVAL (a value that does not read or lies outside the
 * setting's range), RN_ERANGE (the value breaks a rule with another
 * setting: tcp.rto_min above tcp.rto_max ...), RN_ENOMEM; nothing changes
 * on error. */
int rn_tcp_setting_set(struct rn_stack *st, const char *name, const char *value);

/* The longest value text of a setting, with its NUL. */
#define RN_TCP_SETTING_VALUE_MAX 32

/* One setting, as a row: its name, its value and refnet's default as
 * text (the form rn_tcp_params_set() reads), Linux's default, and what it
 * does. */
struct rn_tcp_setting_row {
    const char *sr_name;                      /* "tcp.sack" */
    char sr_value[RN_TCP_SETTING_VALUE_MAX];  /* in force now: "1" */
    char sr_default[RN_TCP_SETTING_VALUE_MAX];/* refnet's default */
    const char *sr_linux;                     /* Linux's default and where it
                                                 lives: "1 (net.ipv4.tcp_sack)" */
    const char *sr_accepts;                   /* what the value may be:
                                                 "0 or 1" */
    const char *sr_desc;                      /* one line: what it does */
};

/* Called once per setting; row is valid during the call only. */
typedef void (*rn_tcp_setting_fn)(const struct rn_tcp_setting_row *row, void *ctx);

/* [any] The rows of p, in the order docs/tcp-settings.md lists them. */
void rn_tcp_params_rows(const struct rn_tcp_params *p, rn_tcp_setting_fn fn, void *ctx);

/* [any] The row of one setting of p.  Returns 0 and fills *out, or
 * RN_ENOENT for a name that is no setting. */
int rn_tcp_params_row(const struct rn_tcp_params *p, const char *name,
                      struct rn_tcp_setting_row *out);

/* [L] The rows of st's settings in force.  Returns 0, or RN_ENOENT if TCP
 * is not set up (fn is then never called). */
int rn_tcp_settings(struct rn_stack *st, rn_tcp_setting_fn fn, void *ctx);

/* [L] One setting of st in force, by name, as a row.  Returns 0, or
 * RN_ENOENT (no such setting, or TCP not set up). */
int rn_tcp_setting_get(struct rn_stack *st, const char *name, struct rn_tcp_setting_row *out);

/* ---- One connection's statistics ---------------------------------------- */

/* TCP's states (RFC 9293 3.3.2), as rn_tcp_info's ti_state. */
enum rn_tcp_state {
    RN_TCP_CLOSED,
    RN_TCP_LISTEN,
    RN_TCP_SYN_SENT,
    RN_TCP_SYN_RECEIVED,
    RN_TCP_ESTABLISHED,
    RN_TCP_CLOSE_WAIT,
    RN_TCP_FIN_WAIT_1,
    RN_TCP_CLOSING,
    RN_TCP_LAST_ACK,
    RN_TCP_FIN_WAIT_2,
    RN_TCP_TIME_WAIT,
};

/* [any] "ESTABLISHED", ...; "?" for a value that is no state. */
const char *rn_tcp_state_name(enum rn_tcp_state s);

/* ti_options: what the handshake agreed on. */
#define RN_TCPI_OPT_TIMESTAMPS 0x1u  /* timestamps on every segment */
#define RN_TCPI_OPT_SACK 0x2u        /* the peer takes SACK blocks */
#define RN_TCPI_OPT_WSCALE 0x4u      /* windows are scaled both ways */

/* What a connection knows about itself, as Linux's struct tcp_info.
 * Segment counts include retransmissions; byte counts are payload. */
struct rn_tcp_info {
    enum rn_tcp_state ti_state;    /* its state */
    rn_time_t ti_state_age;        /* time in that state */
    uint32_t ti_options;           /* RN_TCPI_OPT_* */
    uint8_t ti_snd_wscale;         /* shift of the peer's windows */
    uint8_t ti_rcv_wscale;         /* shift of ours */
    char ti_cc[RN_TCP_CC_NAME_MAX]; /* congestion control: "newreno" */
    rn_time_t ti_rtt;              /* smoothed round-trip time; 0 before
                                      the first sample */
    rn_time_t ti_rttvar;           /* its variation */
    rn_time_t ti_min_rtt;          /* the smallest sample seen; 0: none */
    rn_time_t ti_rto;              /* retransmission timeout with backoff */
    uint32_t ti_backoff;           /* consecutive timeouts now */
    uint32_t ti_snd_mss;           /* payload bytes per segment we send */
    uint32_t ti_rcv_mss;           /* largest payload received in one
                                      segment, at most our MSS */
    uint32_t ti_advmss;            /* the MSS we announced */
    uint32_t ti_peer_mss;          /* the MSS the peer announced */
    uint32_t ti_snd_cwnd;          /* congestion window, segments */
    uint32_t ti_snd_ssthresh;      /* slow start threshold, segments;
                                      UINT32_MAX: none yet */
    uint32_t ti_snd_wnd;           /* the peer's window, bytes */
    uint32_t ti_rcv_wnd;           /* the window we offer now, bytes */
    uint32_t ti_sndbuf;            /* send buffer, bytes (after autotuning) */
    uint32_t ti_rcvbuf;            /* receive buffer, bytes (after autotuning) */
    uint32_t ti_unacked;           /* bytes sent, not yet acknowledged */
    uint32_t ti_notsent;           /* bytes queued, not yet sent */
    uint32_t ti_recvq;             /* bytes received, not yet read */
    uint64_t ti_bytes_sent;        /* payload bytes sent, resent included */
    uint64_t ti_bytes_retrans;     /* of which resent */
    uint64_t ti_bytes_acked;       /* payload bytes the peer acknowledged */
    uint64_t ti_bytes_received;    /* payload bytes received in order */
    uint64_t ti_segs_out;          /* segments sent; this and the next four
                                      count modulo 2^32, as Linux's do */
    uint64_t ti_segs_in;           /* segments received */
    uint64_t ti_data_segs_out;     /* of them carrying data */
    uint64_t ti_data_segs_in;
    uint64_t ti_total_retrans;     /* segments resent */
    uint64_t ti_delivery_rate;     /* bytes per second the peer acknowledged
                                      over the latest round trip; 0: none */
    rn_time_t ti_last_recv;        /* time since a segment last came */
};

#endif /* REFNET_TCP_H */
