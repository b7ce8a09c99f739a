/*
 * The transports of a stack: the socket vocabulary they share with the
 * socket layer (addresses, socket types, flags, readiness, options), their
 * set-up, the ephemeral port range and the UDP counters.
 *
 * The host (daemon, simulator, an embedder) calls rn_sock_layer_init()
 * (socket.h) once after rn_stack_create(): it registers UDP and TCP with
 * the network layer and sets up the socket layer above them.  Their
 * teardown runs inside rn_stack_destroy(), sockets first.
 *
 * Thread safety: [L] loop thread of the stack (or before its loop runs).
 */
#ifndef REFNET_TRANSPORT_H
#define REFNET_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "refnet/addr.h"
#include "refnet/clock.h"

struct rn_stack;

/* ---- Addresses, types, flags --------------------------------------------- */

/* Address families of sockets, with Linux's values. */
#define RN_AF_INET 2
#define RN_AF_INET6 10

/*
 * A socket address of either family.  IPv4 alone is the original form
 * and stays valid: {addr, port} with sin_family 0 means RN_AF_INET.
 *
 * Given to the API (bind, connect, sendto):
 *   - an AF_INET socket reads sin_addr (host order, 0 the wildcard) and
 *     sin_port; sin_family must be 0 or RN_AF_INET (else RN_EAFNOSUPPORT);
 *   - an AF_INET6 socket (rn_sock_open() with RN_SOCK_INET6) reads
 *     sin6_addr and sin_port; sin_family must be RN_AF_INET6 (else
 *     RN_EAFNOSUPPORT).  :: is its wildcard: bound to it, a socket takes
 *     IPv4 too unless RN_IPV6_V6ONLY is set; an IPv4-mapped address
 *     (::ffff:198.18.0.2) names an IPv4 peer (RN_ENETUNREACH with
 *     RN_IPV6_V6ONLY).
 * Filled by the API (accept, getname, recvfrom): sin_family is the
 * socket's family; sin6_addr holds the address (IPv4 mapped); sin_addr
 * the IPv4 address when there is one (an AF_INET socket, or a mapped
 * peer of an AF_INET6 one), else 0.
 */
struct rn_sockaddr_in {
    uint32_t sin_addr;        /* IPv4 address, host order */
    uint16_t sin_port;        /* port */
    uint16_t sin_family;      /* 0 or RN_AF_INET; RN_AF_INET6 */
    struct rn_ip6 sin6_addr;  /* IPv6 address (network order), IPv4 mapped */
};

/* Socket types, with Linux's values. */
enum rn_sock_type {
    RN_SOCK_STREAM = 1,     /* byte stream: TCP */
    RN_SOCK_DGRAM = 2,      /* datagrams: UDP */
    RN_SOCK_RAW = 3,        /* known, not served: RN_EPROTONOSUPPORT */
    RN_SOCK_SEQPACKET = 5,  /* known, not served: RN_ESOCKTNOSUPPORT */
};

/* Or'ed into the type at open (as SOCK_NONBLOCK): the handle starts
 * non-blocking (socket.h, "Non-blocking handles"). */
#define RN_SOCK_NONBLOCK 0x800
/* Or'ed into rn_sock_open()'s type: an AF_INET6 socket (struct
 * rn_sockaddr_in, "AF_INET6 socket"), dual-stack unless RN_IPV6_V6ONLY. */
#define RN_SOCK_INET6 0x10000

/* Flags of send and receive requests, and (RN_MSG_TRUNC) of completions. */
#define RN_MSG_PEEK 0x1u      /* receive: leave the data queued */
#define RN_MSG_DONTWAIT 0x2u  /* do not wait: RN_EAGAIN if it cannot complete now */
#define RN_MSG_TRUNC 0x4u     /* completion: the datagram was longer than the buffer */
#define RN_MSG_EOF 0x8u       /* stream send: shut the sending side once all of it is
                                 taken, so the FIN leaves with the last data rather than
                                 a completion later (after the peer may have acted) */
#define RN_MSG_WAITALL 0x10u  /* stream receive: wait for the whole length (or the end,
                                 an error, a timeout) rather than the first bytes */
#define RN_MSG_NOSIGNAL 0x20u /* accepted for POSIX's sake: refnet raises no signal, a
                                 send on a shut connection answers RN_EPIPE */
#define RN_MSG_MORE 0x40u     /* stream send: more follows, hold a partial segment (as
                                 TCP_CORK does, for this send) */

/* Readiness, for rn_poll() and rn_sock_ready(). */
#define RN_POLLIN 0x01u    /* a receive (or accept) would complete now */
#define RN_POLLOUT 0x04u   /* a send would complete now */
#define RN_POLLERR 0x08u   /* an error is pending (SO_ERROR) */
#define RN_POLLHUP 0x10u   /* both directions are shut */
#define RN_POLLNVAL 0x20u  /* not an open handle (or closed while polled) */
#define RN_POLLRDHUP 0x40u /* stream: the peer shut its sending side (FIN received) */

/* Directions for rn_shutdown() (the same values TCP uses internally). */
#define RN_SHUT_RD 0
#define RN_SHUT_WR 1
#define RN_SHUT_RDWR 2

/* Socket options; every value is an int64_t (rn_sock_setopt()), but for
 * the string options marked below (rn_sock_setopt_str()).  What each
 * does, its range and its errors, as Linux gives them:
 * docs/tcp-settings.md. */
enum rn_sockopt {
    RN_SO_RCVBUF = 1,   /* receive buffer, bytes; reads back doubled, as Linux
                           (UDP default 212992; TCP: tcp.rcvbuf) */
    RN_SO_SNDBUF,       /* send buffer, bytes; reads back doubled (UDP: what
                           sent datagrams may hold; TCP: tcp.sndbuf) */
    RN_SO_RCVTIMEO,     /* blocking receive and accept timeout, ms; 0 none */
    RN_SO_SNDTIMEO,     /* blocking send and connect timeout, ms; 0 none */
    RN_SO_LINGER,       /* -1 off (graceful close); 0 abort on close; >0 seconds */
    RN_SO_ERROR,        /* get only: the pending error, cleared by reading */
    RN_SO_TYPE,         /* get only: enum rn_sock_type */
    RN_SO_KEEPALIVE,    /* stream: 0 or 1 */
    RN_TCP_NODELAY,     /* stream: 0 or 1 (Nagle off) */
    RN_SO_REUSEADDR,    /* 0 or 1: bind over a TIME_WAIT entry of the same address */
    RN_SO_REUSEPORT,    /* 0 or 1: several listeners (or UDP endpoints) on one
                           address, connections spread among them by hash */
    RN_SO_ACCEPTCONN,   /* get only: 1 for a listening socket */
    RN_SO_BROADCAST,    /* datagram: 0 or 1, sending to a broadcast address allowed */
    RN_SO_RCVLOWAT,     /* bytes a receive waits for before it completes (default 1) */
    RN_IP_TOS,          /* the TOS octet (DSCP and ECN) of datagrams sent */
    RN_IP_TTL,          /* the TTL of datagrams sent; 1..255, -1 the stack's default */
    RN_TCP_MAXSEG,      /* stream: MSS; set before connect: the most to send and
                           announce; get: the MSS in use */
    RN_TCP_CORK,        /* stream: 0 or 1, send only full segments until uncorked */
    RN_TCP_KEEPIDLE,    /* stream: idle time before the first keepalive probe, s */
    RN_TCP_KEEPINTVL,   /* stream: time between probes, s */
    RN_TCP_KEEPCNT,     /* stream: probes unanswered before the connection is dropped */
    RN_TCP_USER_TIMEOUT,/* stream: ms data may stay unacknowledged before the
                           connection is dropped (RN_ETIMEDOUT); 0: the default */
    RN_TCP_SYNCNT,      /* stream: SYN retransmissions before connect gives up */
    RN_TCP_WINDOW_CLAMP,/* stream: the largest window to advertise, bytes */
    RN_TCP_CONGESTION,  /* stream, a string: the congestion control by name,
                           "cubic" or "newreno" ("reno" too, Linux's name);
                           set on a listener, its connections inherit it;
                           default: the stack's tcp.congestion */
    RN_SO_LISTEN_REFUSE,/* stream listener, refnet's own: 1 answers every new
                           SYN with a RST (the peer's connect is refused), as
                           if nothing listened, while connections already
                           queued stay; 0 (the default) listens again.
                           RN_EINVAL on a socket that is not listening */
    RN_IPV6_V6ONLY,     /* AF_INET6 sockets, 0 or 1: a socket bound to :: takes
                           IPv6 alone, and connects to IPv6 alone; set before
                           bind, listen or connect (RN_EINVAL after);
                           RN_ENOPROTOOPT on an AF_INET socket; default 0 */
    RN_SOCKOPT_COUNT_   /* not an option: one past the last */
};


/* [L] UDP alone (rn_sock_layer_init() calls it).  Returns 0, RN_EEXIST or
 * RN_ENOMEM. */
int rn_udp_init(struct rn_stack *st);

/* The most data one UDP datagram carries over IPv4: 65535 less the IPv4
 * and UDP headers. */
#define RN_UDP_MAX_PAYLOAD 65507u
/* The same over IPv6, whose payload length leaves out its own header:
 * 65535 less the UDP header (no jumbograms, RFC 2675). */
#define RN_UDP6_MAX_PAYLOAD 65527u

/* The default ephemeral port range (RFC 6335 section 6). */
#define RN_EPHEMERAL_LO 49152
#define RN_EPHEMERAL_HI 65535

/* [L] Sets the range ephemeral ports are picked from, for every transport
 * of st.  Returns 0, or RN_EINVAL unless 1 <= lo <= hi. */
int rn_transport_set_ephemeral(struct rn_stack *st, uint16_t lo, uint16_t hi);

/* UDP counters of a stack (also in `refnet stat`, as udp.*). */
struct rn_udp_stats {
    uint64_t us_in;             /* datagrams queued to an endpoint */
    uint64_t us_out;            /* datagrams sent */
    uint64_t us_no_port;        /* datagrams to a port nobody bound */
    uint64_t us_in_errors;      /* bad length, bad checksum, receive queue full */
    uint64_t us_csum_errors;    /* of which a bad checksum */
    uint64_t us_rcvbuf_errors;  /* of which a full receive queue */
};

/* [L] Copies st's UDP counters into out (zero if UDP is not set up). */
void rn_udp_stats(struct rn_stack *st, struct rn_udp_stats *out);

/* ---- Rows: endpoints and connections ------------------------------------
 *
 * The rows of `refnet netstat`: every TCP listener, connection and
 * TIME_WAIT entry, and every bound UDP endpoint of a stack, one row each.
 * A listing runs on the loop thread in one pass; the row and its object
 * are borrowed for the duration of the callback only: the callback must
 * not keep the object past its return (take a reference to keep it).  For
 * a listing of many thousands spread over several wakes of the loop, see
 * netstat_walk.h.
 */

struct rn_netstat_row {
    const char *nr_proto;   /* "tcp", "udp" */
    const char *nr_state;   /* TCP: "LISTEN", "ESTABLISHED", ..., "TIME_WAIT";
                               UDP: "UNCONN", or "ESTABLISHED" when connected */
    struct rn_inaddr nr_laddr; /* local address, IPv4 mapped; a wildcard
                                  (rn_inaddr_is_any()) = any of its family */
    uint16_t nr_lport;
    struct rn_inaddr nr_faddr; /* remote address; a wildcard with nr_fport
                                  0: none */
    uint16_t nr_fport;
    uint32_t nr_sendq;      /* TCP: bytes not yet acknowledged; listener:
                               connections waiting to be accepted; UDP: 0 */
    uint32_t nr_recvq;      /* TCP: bytes not yet read; listener: half-open
                               connections; UDP: buffer bytes queued */
    rn_time_t nr_since;     /* TCP connections: when it entered nr_state
                               (stack clock); 0 where not kept */
    bool nr_listening;      /* a listener or an unconnected UDP endpoint:
                               listed with -a only */
    const void *nr_ob;      /* the object of the row (listener, connection,
                               TIME_WAIT entry, endpoint), borrowed */
};

/* Called for each row; the row and its object are borrowed until it
 * returns. */
typedef void (*rn_netstat_fn)(const struct rn_netstat_row *row, void *ctx);

/* [L] TCP's rows: listeners, then connections, then TIME_WAIT entries
 * oldest first.  Nothing if TCP is not set up on st. */
void rn_tcp_netstat(struct rn_stack *st, rn_netstat_fn fn, void *ctx);

/* [L] UDP's rows: every bound endpoint.  Nothing if UDP is not set up. */
void rn_udp_netstat(struct rn_stack *st, rn_netstat_fn fn, void *ctx);

/* [L] Returns the object id of the TCP listener that holds laddr:lport
 * (open, or closed but not yet released), or 0 if the port is free. */
uint64_t rn_tcp_port_holder(struct rn_stack *st, uint32_t laddr, uint16_t lport);

#endif /* REFNET_TRANSPORT_H */
