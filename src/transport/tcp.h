/*
 * TCP (RFC 9293) as the socket layer and the control plane see it.
 * Internal to refnet.
 *
 * Listeners and connections are objects of the object manager ("tcp
 * listener", "tcp connection"); every reference on them is tagged with its
 * holder: "create" (the TCP layer's own, dropped when the protocol is done
 * with it), "port-table" (findable by incoming segments), "tcp.timer" (a
 * timer is armed), "socket.endpoint" (the socket above), "request" (an
 * operation in flight), "enum" (an enumeration standing on it).
 *
 * The user of a connection or listener (the socket layer) registers
 * upcalls and gets told, on the loop thread, when data can be read, space
 * opened, the connection was established or failed, or a new connection
 * waits to be accepted.  It takes its own reference ("socket.endpoint") on
 * the object and drops it after rn__tcp_close().
 *
 * Everything here runs on the stack's loop thread.
 */
#ifndef REFNET_TRANSPORT_TCP_H
#define REFNET_TRANSPORT_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "refnet/clock.h"
#include "refnet/tcp.h"

struct rn_stack;
struct rn_strbuf;
struct tcp_conn;
struct tcp_listener;

enum tcp_state {
    TCPS_CLOSED,
    TCPS_LISTEN,
    TCPS_SYN_SENT,
    TCPS_SYN_RECEIVED,
    TCPS_ESTABLISHED,
    TCPS_CLOSE_WAIT,
    TCPS_FIN_WAIT_1,
    TCPS_CLOSING,
    TCPS_LAST_ACK,
    TCPS_FIN_WAIT_2,
    TCPS_TIME_WAIT,
};

const char *rn__tcp_state_name(enum tcp_state s);

/* Things that happen to a connection, told to its user. */
struct tcp_upcalls {
    /* Data (or the peer's FIN) can be read. */
    void (*tu_readable)(void *ctx);
    /* Send buffer space opened. */
    void (*tu_writable)(void *ctx);
    /* An active open finished: 0, or RN_ECONNREFUSED, RN_ETIMEDOUT... */
    void (*tu_connected)(void *ctx, int err);
    /* The connection failed: RN_ECONNRESET, RN_ETIMEDOUT... */
    void (*tu_error)(void *ctx, int err);
    /* Listener: a connection waits in the accept queue. */
    void (*tu_acceptable)(void *ctx);
};

/* TCP's per-stack settings and its set-up are public: refnet/tcp.h
 * (rn_tcp_init(), struct rn_tcp_params). */

/* ---- Listeners ---------------------------------------------------------- */

/* Opens an IPv4 listener on laddr:lport (laddr 0 for any; lport 0 picks an
 * ephemeral port) with a SYN queue and an accept queue each bounded by
 * backlog.  Returns 0 and a listener referenced by "create" and the port
 * table, or RN_EADDRINUSE, RN_EINVAL, RN_ENOMEM, RN_EACCES (refused at the
 * filtering platform's listen layer).  A listener whose authorisation a
 * callout pended is returned too: it takes no SYNs until the callout
 * permits it, and if the callout refuses it is closed under its user
 * (tu_error(RN_EACCES); accepts then fail with RN_EACCES). */
int rn__tcp_listen(struct rn_stack *st, uint32_t laddr, uint16_t lport, unsigned backlog,
                  const struct tcp_upcalls *up, void *ctx, struct tcp_listener **out);

/* Takes the oldest established connection off the accept queue, with a
 * reference for holder tag, and hands it upcalls.  Returns 0,
 * RN_EAGAIN if the queue is empty, RN_EINVAL if the listener is closed
 * (RN_EACCES if a callout refused it). */
int rn__tcp_accept(struct tcp_listener *l, unsigned tag, const struct tcp_upcalls *up,
                  void *ctx, struct tcp_conn **out);

/* Closes a listener: unbinds it, resets the connections it has not handed
 * out, and drops the "create" reference.  The listener is released when
 * its other holders let go. */
void rn__tcp_listener_close(struct tcp_listener *l);

void rn__tcp_listener_addr(const struct tcp_listener *l, struct rn_inaddr *addr, uint16_t *port);


/* ---- Connections -------------------------------------------------------- */

/* Starts an IPv4 active open to faddr:fport from laddr:lport (0s pick
 * them); rn__tcp_connect_opts() (tcp_priv.h) takes either family.
 * Returns 0 and a connection (referenced by "create" and the port table)
 * whose tu_connected will report the outcome (RN_EACCES if a callout that
 * pended its authorisation refuses it), or RN_EADDRINUSE, RN_ENETUNREACH,
 * RN_ENOMEM, RN_EACCES (refused at the filtering platform's connect
 * layer). */
int rn__tcp_connect(struct rn_stack *st, uint32_t laddr, uint16_t lport, uint32_t faddr,
                   uint16_t fport, const struct tcp_upcalls *up, void *ctx,
                   struct tcp_conn **out);

/* Copies up to len bytes into the send buffer and sends what the window,
 * Nagle and congestion control allow.  Returns the bytes taken (0 < n <=
 * len), RN_EAGAIN if the buffer is full, RN_EPIPE after shutdown or close,
 * RN_ENOTCONN before the connection is established, or the connection's
 * error. */
ssize_t rn__tcp_send(struct tcp_conn *c, const void *buf, size_t len);
/* rn__tcp_send(), and when eof and all len bytes were taken, a shutdown
 * for writing in the same step: the FIN goes out on the last segment. */
ssize_t rn__tcp_send_eof(struct tcp_conn *c, const void *buf, size_t len, bool eof);

/* Copies up to len received bytes out.  Returns the bytes copied, 0 at the
 * end of the stream (the peer's FIN), RN_EAGAIN if nothing is there yet,
 * or the connection's error (RN_ECONNRESET). */
ssize_t rn__tcp_recv(struct tcp_conn *c, void *buf, size_t len);

/* Bytes that rn__tcp_recv() would return now, and whether the peer's FIN
 * follows them. */
size_t rn__tcp_readable(const struct tcp_conn *c, bool *eof);
/* Copies up to len bytes of what rn__tcp_recv() would return, leaving
 * them queued (MSG_PEEK).  Returns as rn__tcp_recv() does, a pending
 * error included, but clears nothing. */
ssize_t rn__tcp_peek(const struct tcp_conn *c, void *buf, size_t len);
/* Bytes of send buffer space free now. */
size_t rn__tcp_writable(const struct tcp_conn *c);

#define RN_SHUT_RD 0
#define RN_SHUT_WR 1
#define RN_SHUT_RDWR 2
/* Half-closes: RN_SHUT_WR sends a FIN after the queued data. */
int rn__tcp_shutdown(struct tcp_conn *c, int how);

/* The user is done with the connection.  Graceful: queued data and a FIN
 * go out and the protocol finishes on its own; abortive (linger 0 or
 * unread data): a RST goes out at once.  Upcalls stop.  The connection is
 * released when the protocol and the remaining holders let go. */
void rn__tcp_close(struct tcp_conn *c, bool abort);

/* Sends up to len bytes as rn__tcp_send_eof(); more: the caller has more
 * to send (MSG_MORE), so a partial segment waits for it, at most 200 ms. */
ssize_t rn__tcp_send_flags(struct tcp_conn *c, const void *buf, size_t len, bool eof, bool more);

struct tcp_info {
    enum tcp_state ti_state;
    struct rn_inaddr ti_laddr, ti_faddr;
    uint16_t ti_lport, ti_fport;
    uint32_t ti_sendq;       /* bytes not yet acknowledged */
    uint32_t ti_recvq;       /* bytes not yet read */
    uint32_t ti_mss;
    uint32_t ti_cwnd;
    uint32_t ti_ssthresh;
    rn_time_t ti_srtt;
    rn_time_t ti_rto;
    uint64_t ti_retransmits;
    uint32_t ti_snd_wnd;
    uint32_t ti_rcv_wnd;
};
void rn__tcp_info(const struct tcp_conn *c, struct tcp_info *out);
/* Fills out with what c knows about itself (refnet/tcp.h). */
void rn__tcp_conn_info(const struct tcp_conn *c, struct rn_tcp_info *out);

/* ---- Listings ----------------------------------------------------------- */

/* The number of connections in TIME_WAIT. */
unsigned rn__tcp_timewait_count(struct rn_stack *st);

#endif /* REFNET_TRANSPORT_TCP_H */
