/*
 * The transports' interface to the socket layer.  Internal to refnet.
 *
 * A transport (UDP, TCP) exports one ops table per socket type.
 * The socket layer calls down through it; the transport calls up only
 * through the upcall the socket layer handed it at open (or accept), the
 * way the network layer calls transports only through their registered
 * handlers (net.h).
 *
 * The model is "pull with readiness events": the transport keeps its own
 * queues and buffer accounting (the UDP receive queue, TCP's send and
 * receive buffers), reports readiness changes with up_event(), and the
 * socket layer then pulls: it calls to_recv() into the oldest pending
 * receive request, to_send() from the oldest pending send, to_accept() for
 * pending accepts, until they answer RN_EAGAIN.  The upcall runs on the
 * input path, so a datagram that arrives while a receive is pending goes to
 * it before the next packet is processed.
 *
 * Transport contexts and objects: to_open() (and to_accept()) hand back a
 * per-socket context, t, that the socket passes to every op.  The ledger
 * object behind it ("udp endpoint", "tcp listener", "tcp connection") may
 * be the context itself (UDP) or come later (TCP creates its object at
 * listen or connect); either way the transport takes a reference on it for
 * the socket under "socket.endpoint", and keeps whatever else it needs
 * ("create", "port-table", "tcp.timer").  to_close() ends the context and
 * hands back that object, whose "socket.endpoint" reference the socket
 * layer then drops, and the socket's close completes when the object is
 * released, i.e. when the transport let go of it too: at once for UDP,
 * after the FIN exchange (or at once on abort) for TCP.
 *
 * Everything here runs on the stack's loop thread ([L]).
 */
#ifndef REFNET_TRANSPORT_TRANSPORT_H
#define REFNET_TRANSPORT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "refnet/tcp.h"
#include "refnet/transport.h"

struct rn_stack;

/* How a transport object tells its socket that readiness changed. */
struct rn_sock_upcall {
    /* events: RN_POLLIN, RN_POLLOUT, RN_POLLERR, RN_POLLHUP that may have
     * become true.  The socket re-reads to_poll() and pulls.  Never called
     * after to_close(). */
    void (*up_event)(void *ctx, unsigned events);
    void *up_ctx;
    /* The socket object above, for listings (rn__transport_owner()).  The
     * transport keeps it in the object it will hand back at close, as an
     * opaque pointer it never follows: the socket outlives that object,
     * since its close waits for the object's release. */
    void *up_owner;
    /* The socket is AF_INET6: its wildcard is :: (dual-stack unless
     * IPV6_V6ONLY), not ::ffff:0.0.0.0.  Addresses cross this interface
     * as sin6_addr of struct rn_sockaddr_in, IPv4 mapped, whatever the
     * family (the socket layer fills and reads the user's forms). */
    bool up_inet6;
};

struct rn_transport_ops {
    const char *to_name;   /* "udp": shown in socket descriptions */
    int to_type;           /* enum rn_sock_type it serves */
    uint8_t to_proto;      /* RN_IPPROTO_* */

    /* Creates an unbound context, which keeps a copy of *up (the caller's
     * may go once this returns).  Returns 0 and *out, or a negative code. */
    int (*to_open)(struct rn_stack *st, const struct rn_sock_upcall *up, void **out);
    /* Binds to addr (port 0: an ephemeral port).  RN_EINVAL if bound
     * already, RN_EADDRINUSE, RN_EADDRNOTAVAIL. */
    int (*to_bind)(void *t, const struct rn_sockaddr_in *addr);
    /* Stream: listen.  Datagram: RN_EOPNOTSUPP. */
    int (*to_listen)(void *t, int backlog);
    /* Sets the peer.  Returns 0 when connected at once (UDP), RN_EINPROGRESS
     * when the socket must wait for RN_POLLOUT (connected) or RN_POLLERR
     * (failed: to_error() says why), or a negative code. */
    int (*to_connect)(void *t, const struct rn_sockaddr_in *addr);
    /* Takes a ready connection: *out gets the new connection's context,
     * with a copy of *up as its upcall (which may be called before this
     * returns) and
     * its object referenced under "socket.endpoint"; *peer its peer.
     * RN_EAGAIN if none is ready; RN_EOPNOTSUPP for datagrams. */
    int (*to_accept)(void *t, const struct rn_sock_upcall *up, void **out,
                     struct rn_sockaddr_in *peer);
    /* Sends up to len bytes (to *to if not NULL).  Returns the bytes taken
     * (a datagram transport takes all or fails), RN_EAGAIN if nothing can
     * be taken now, or a negative code (a pending error is returned and
     * cleared first). */
    ssize_t (*to_send)(void *t, const void *buf, size_t len, const struct rn_sockaddr_in *to,
                       uint32_t flags);
    /* Receives into buf: the bytes copied (0: end of data for a stream or
     * after SHUT_RD), RN_EAGAIN if nothing is queued, or a pending error
     * (returned and cleared first).  *from gets the sender; *oflags
     * RN_MSG_TRUNC when a datagram was cut. */
    ssize_t (*to_recv)(void *t, void *buf, size_t len, uint32_t flags,
                       struct rn_sockaddr_in *from, uint32_t *oflags);
    int (*to_shutdown)(void *t, int how);
    /* Ends the context: begins the rundown of its object (abortive under
     * SO_LINGER 0) and forgets the upcall; t is gone afterwards.  Returns
     * the object, whose "socket.endpoint" reference passes to the caller,
     * or NULL if the context never had one. */
    void *(*to_close)(void *t, bool abort);
    /* Given the object to_close() handed back (not a context): true once
     * everything sent on it was acknowledged and its close needs nothing
     * more from this end (TCP: our FIN acknowledged, or the connection
     * gone; always for a listener or a datagram endpoint).  For SO_LINGER. */
    bool (*to_settled)(const void *ob);
    /* Given that object: turns its graceful close abortive now (TCP: a RST
     * to the peer, the connection dropped).  For SO_LINGER's timeout. */
    void (*to_abort)(void *ob);
    /* Bytes a receive would find queued now (FIONREAD: for datagrams, the
     * next one's size), and bytes sent but not yet acknowledged (SIOCOUTQ;
     * datagrams: 0); RN_EINVAL on a listener, as Linux answers. */
    ssize_t (*to_inq)(void *t);
    ssize_t (*to_outq)(void *t);
    /* Current readiness, RN_POLL* bits. */
    unsigned (*to_poll)(void *t);
    /* Returns and clears the pending error (0 if none). */
    int (*to_error)(void *t);
    /* Transport options (RN_ENOPROTOOPT for those it has not; RN_EINVAL
     * for a value out of range, as Linux): buffers, reuse, IP_TOS and
     * IP_TTL for both; SO_BROADCAST for UDP; TCP_* and SO_KEEPALIVE for
     * TCP (tcp_opt.c). */
    int (*to_setopt)(void *t, enum rn_sockopt opt, int64_t val);
    int (*to_getopt)(void *t, enum rn_sockopt opt, int64_t *val);
    /* String options (RN_TCP_CONGESTION): as to_setopt and to_getopt, the
     * value a NUL-terminated string; to_getopt_str fills at most len
     * bytes, NUL included.  NULL for a transport that has none. */
    int (*to_setopt_str)(void *t, enum rn_sockopt opt, const char *val);
    int (*to_getopt_str)(void *t, enum rn_sockopt opt, char *buf, size_t len);
    /* Stream: the connection's statistics (TCP_INFO).  NULL for a
     * transport that has none. */
    int (*to_tcp_info)(void *t, struct rn_tcp_info *out);
    /* Local and remote addresses (0:0 when unset). */
    void (*to_getname)(void *t, struct rn_sockaddr_in *local, struct rn_sockaddr_in *remote);
    /* Given any object (not a context), returns the up_owner of the socket
     * it belongs to if it is one of this transport's objects, or NULL: not
     * its object, or no socket above it.  A TCP connection still waiting
     * in its listener's accept queue belongs to the listener's socket. */
    void *(*to_owner)(const void *ob);
};

/* The ops of each transport (udp.c, tcp_sock.c). */
extern const struct rn_transport_ops rn__udp_ops;
extern const struct rn_transport_ops rn__tcp_ops;

/* The transports the socket layer knows, by type and protocol.  Returns
 * NULL for a combination nobody serves; proto 0 picks the type's default. */
const struct rn_transport_ops *rn__transport_find(int type, int proto);

/* Asks every transport which socket object ob belongs to (to_owner).
 * Returns it, or NULL.  [L] */
void *rn__transport_owner(const void *ob);

#endif /* REFNET_TRANSPORT_TRANSPORT_H */
