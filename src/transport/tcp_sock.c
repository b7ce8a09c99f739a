/*
 * TCP under the socket layer: the transport ops of stream sockets
 * (transport.h) on top of TCP's own interface (tcp.h).
 *
 * A stream socket's context (struct tcp_sock) starts with no TCP object:
 * bind only records the address.  listen creates a "tcp listener", connect
 * a "tcp connection", accept takes one off the listener's queue; the
 * context holds that object under "socket.endpoint" and hands it to the
 * socket layer at close, which waits for its release.  TCP's upcalls
 * become readiness events for the socket layer, which then pulls with
 * to_recv(), to_send(), to_accept().
 *
 *   tcp input -> tu_readable / tu_writable / tu_connected / tu_error /
 *   tu_acceptable -> tk_event() -> socket upcall -> rn__sock_kick()
 */
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "transport/tcp.h"
#include "transport/tcp_priv.h"
#include "transport/transport.h"
#include "wire/ipv4.h"

/* A stream socket's view of TCP. */
struct tcp_sock {
    struct rn_stack *tk_stack;         /* [I] */
    struct rn_sock_upcall tk_up;       /* [L] the socket's upcall */
    struct tcp_listener *tk_listener;  /* [L] held by "socket.endpoint", or NULL */
    struct tcp_conn *tk_conn;          /* [L] held by "socket.endpoint", or NULL */
    struct rn_inaddr tk_laddr;         /* [L] bound address, or the wildcard
                                          of the socket's family */
    uint16_t tk_lport;                 /* [L] bound port, 0 = pick one */
    bool tk_connecting;                /* [L] a connect answered EINPROGRESS and
                                          no connect has seen it finish yet */
    bool tk_shut_rd;                   /* [L] the user will read no more */
    int tk_error;                      /* [L] pending error told by TCP, 0 if none */
    struct tcp_uopts *tk_uo;           /* [L] the options set (tcp_opt.c):
                                          tk_own_uo, or an accepted
                                          connection's own (which it took
                                          from its listener at its SYN) */
    struct tcp_bound *tk_bound;        /* [L] the port held from bind until
                                          listen, connect or close: made by
                                          bind, freed once the listener or
                                          connection holds the port (an
                                          accepted socket has none) */
    struct tcp_uopts tk_own_uo[];      /* [L] an opened socket's options (one);
                                          its listener or connection copies
                                          them.  An accepted socket has
                                          none: 64 bytes less a connection */
};

static void tk_event(struct tcp_sock *tk, unsigned events)
{
    if (tk->tk_up.up_event != NULL)
        tk->tk_up.up_event(tk->tk_up.up_ctx, events);
}

static void tk_readable(void *ctx)
{
    tk_event(ctx, RN_POLLIN);
}

static void tk_writable(void *ctx)
{
    tk_event(ctx, RN_POLLOUT);
}

static void tk_connected(void *ctx, int err)
{
    struct tcp_sock *tk = ctx;

    if (err != 0)
        tk->tk_error = err;
    tk_event(tk, err != 0 ? RN_POLLERR : RN_POLLOUT);
}

static void tk_failed(void *ctx, int err)
{
    struct tcp_sock *tk = ctx;

    tk->tk_error = err;
    tk_event(tk, RN_POLLERR | RN_POLLIN | RN_POLLHUP);
}

static void tk_acceptable(void *ctx)
{
    tk_event(ctx, RN_POLLIN);
}

static const struct tcp_upcalls tk_upcalls = {
    .tu_readable = tk_readable,
    .tu_writable = tk_writable,
    .tu_connected = tk_connected,
    .tu_error = tk_failed,
    .tu_acceptable = tk_acceptable,
};

/* A context, with options of its own (own_uo); an accepted one has none
 * and points tk_uo at its connection's. */
static struct tcp_sock *tk_new(struct rn_stack *st, const struct rn_sock_upcall *up, bool own_uo)
{
    struct tcp_sock *tk =
        calloc(1, sizeof(*tk) + (own_uo ? sizeof(struct tcp_uopts) : 0));

    if (tk == NULL)
        return NULL;
    if (own_uo)
        tk->tk_uo = tk->tk_own_uo;
    tk->tk_stack = st;
    tk->tk_up = *up;
    tk->tk_laddr = up->up_inet6 ? rn_inaddr_v6(&RN_IP6_ANY) : rn_inaddr_v4(0);
    return tk;
}

static int tk_open(struct rn_stack *st, const struct rn_sock_upcall *up, void **out)
{
    struct tcp_sock *tk;

    if (rn__tcp_stack(st) == NULL)
        return RN_EAFNOSUPPORT;
    tk = tk_new(st, up, true);
    if (tk == NULL)
        return RN_ENOMEM;
    *out = tk;
    return 0;
}

static int tk_bind(void *t, const struct rn_sockaddr_in *addr)
{
    struct tcp_sock *tk = t;
    struct tcp_stack *ts = rn__tcp_stack(tk->tk_stack);
    uint16_t port = addr->sin_port;
    struct rn_inaddr la = rn_inaddr_v6(&addr->sin6_addr);

    if (tk->tk_listener != NULL || tk->tk_conn != NULL || tk->tk_lport != 0)
        return RN_EINVAL;
    if (!rn_inaddr_is_any(&la) &&
        !(rn_inaddr_is_v4(&la) ? rn__ip_is_local(tk->tk_stack, rn_inaddr_to_v4(&la))
                               : rn__ip6_is_local(tk->tk_stack, &la.ia_ip6)))
        return RN_EADDRNOTAVAIL;
    /* The port is the socket's from now on (port 0: one picked now, so
     * that getsockname shows it), shared only as SO_REUSEADDR and
     * SO_REUSEPORT allow. */
    if (port == 0) {
        port = rn__tcp_port_pick(ts, la, tk->tk_uo->uo_flags);
        if (port == 0)
            return RN_EADDRINUSE;
    } else if (rn__tcp_port_check(ts, la, port, tk->tk_uo->uo_flags, NULL) < 0) {
        return RN_EADDRINUSE;
    }
    tk->tk_bound = calloc(1, sizeof(*tk->tk_bound));
    if (tk->tk_bound == NULL)
        return RN_ENOMEM;
    tk->tk_laddr = la;
    tk->tk_lport = port;
    tk->tk_bound->bd_uo = tk->tk_uo;
    tk->tk_bound->bd_laddr = tk->tk_laddr;
    tk->tk_bound->bd_lport = port;
    rn__tcp_bound_link(ts, tk->tk_bound);
    return 0;
}

/* The bound port passes to the listener or connection that now holds it
 * (or the socket closes): the record goes.  [L] */
static void tk_bound_drop(struct tcp_sock *tk)
{
    if (tk->tk_bound == NULL)
        return;
    rn__tcp_bound_unlink(rn__tcp_stack(tk->tk_stack), tk->tk_bound);
    free(tk->tk_bound);
    tk->tk_bound = NULL;
}

static int tk_listen(void *t, int backlog)
{
    struct tcp_sock *tk = t;
    struct tcp_stack *ts = rn__tcp_stack(tk->tk_stack);
    bool bound = tk->tk_bound != NULL && tk->tk_bound->bd_linked;
    struct tcp_listener *l;
    int err;

    if (tk->tk_conn != NULL)
        return RN_EINVAL;
    if (tk->tk_listener != NULL)
        return 0;
    /* The listener takes the port over from the bound socket; it must
     * share it with the others as a listener (SO_REUSEADDR no longer
     * helps against another listener). */
    if (bound)
        rn__tcp_bound_unlink(ts, tk->tk_bound);
    err = rn__tcp_listen_opts(tk->tk_stack, tk->tk_laddr, tk->tk_lport,
                              backlog > 0 ? (unsigned)backlog : 1, tk->tk_uo, &tk_upcalls, tk,
                              &l);
    if (err < 0) {
        if (bound)
            rn__tcp_bound_link(ts, tk->tk_bound);
        return err;
    }
    tk_bound_drop(tk);
    rn_ob_ref(l, RN_TAG_SOCKET_ENDPOINT);
    l->l_owner = tk->tk_up.up_owner;
    tk->tk_listener = l;
    rn__tcp_listener_addr(l, &tk->tk_laddr, &tk->tk_lport);
    return 0;
}

static int tk_connect(void *t, const struct rn_sockaddr_in *addr)
{
    struct tcp_sock *tk = t;
    struct tcp_stack *ts = rn__tcp_stack(tk->tk_stack);
    bool bound = tk->tk_bound != NULL && tk->tk_bound->bd_linked;
    struct rn_inaddr fa = rn_inaddr_v6(&addr->sin6_addr), la = tk->tk_laddr;
    struct tcp_conn *c;
    int err;

    if (tk->tk_listener != NULL)
        return RN_EISCONN;  /* as Linux answers on a listener */
    if (tk->tk_conn != NULL && tcp_state(tk->tk_conn) == TCPS_CLOSED &&
        !(tk->tk_conn->t_flags & TF_SHUT_WR)) {
        /* A connection that failed (refused, reset, timed out): as on
         * Linux, the socket may connect again. */
        rn_ob_deref(tk->tk_conn, RN_TAG_SOCKET_ENDPOINT);
        tk->tk_conn = NULL;
        tk->tk_error = 0;
        tk->tk_connecting = false;
    }
    if (tk->tk_conn != NULL) {
        if (tcp_state(tk->tk_conn) == TCPS_SYN_SENT)
            return RN_EALREADY;
        /* The first connect after a non-blocking one finished says so, as
         * Linux's does; later ones find it connected. */
        if (tk->tk_connecting) {
            tk->tk_connecting = false;
            return 0;
        }
        return RN_EISCONN;
    }
    /* The connection takes the bound port over; its options go with it
     * before the SYN. */
    if (rn_inaddr_is_v4(&fa) && rn_inaddr_to_v4(&fa) == 0)
        fa = rn_inaddr_v4(rn__ip_any_local(tk->tk_stack));
    /* A dual-stack socket's wildcard reaches an IPv4 peer from IPv4. */
    if (rn_inaddr_is_any(&la))
        la = rn__inaddr_any_like(&fa);
    if (bound)
        rn__tcp_bound_unlink(ts, tk->tk_bound);
    err = rn__tcp_connect_opts(tk->tk_stack, la, tk->tk_lport, fa, addr->sin_port, tk->tk_uo,
                               &tk_upcalls, tk, &c);
    if (err < 0) {
        if (bound)
            rn__tcp_bound_link(ts, tk->tk_bound);
        return err;
    }
    tk_bound_drop(tk);
    rn_ob_ref(c, RN_TAG_SOCKET_ENDPOINT);
    c->t_owner = tk->tk_up.up_owner;
    tk->tk_conn = c;
    tk->tk_connecting = true;
    return RN_EINPROGRESS;
}

static int tk_accept(void *t, const struct rn_sock_upcall *up, void **out,
                     struct rn_sockaddr_in *peer)
{
    struct tcp_sock *tk = t, *nk;
    struct tcp_info ti;
    struct tcp_conn *c;
    int err;

    if (tk->tk_listener == NULL)
        return RN_EINVAL;
    nk = tk_new(tk->tk_stack, up, false);
    if (nk == NULL)
        return RN_ENOMEM;
    /* The new context is ready before accept, which may call it at once. */
    err = rn__tcp_accept(tk->tk_listener, RN_TAG_SOCKET_ENDPOINT, &tk_upcalls, nk, &c);
    if (err < 0) {
        free(nk);
        return err;
    }
    nk->tk_conn = c;
    /* The options set on the listener passed to the connection at its
     * SYN (tcp_opt.c), as on Linux; the socket reads and sets them there,
     * in the connection that the socket holds until its close. */
    nk->tk_uo = &c->t_uo;
    c->t_owner = up->up_owner;
    rn__tcp_info(c, &ti);
    nk->tk_laddr = ti.ti_laddr;
    nk->tk_lport = ti.ti_lport;
    peer->sin6_addr = ti.ti_faddr.ia_ip6;
    peer->sin_port = ti.ti_fport;
    *out = nk;
    return 0;
}

static ssize_t tk_send(void *t, const void *buf, size_t len, const struct rn_sockaddr_in *to,
                       uint32_t flags)
{
    struct tcp_sock *tk = t;
    ssize_t n;

    (void)to;  /* a stream has its peer; the address is ignored, as Linux does */
    if (tk->tk_error != 0) {
        n = tk->tk_error;  /* told once, as by Linux's sock_error() */
        tk->tk_error = 0;
        return n;
    }
    if (tk->tk_conn == NULL)
        return RN_ENOTCONN;
    n = rn__tcp_send_flags(tk->tk_conn, buf, len, (flags & RN_MSG_EOF) != 0,
                           (flags & RN_MSG_MORE) != 0);
    /* A connection that ended, its error told: the sending side is shut. */
    if (n < 0 && n != RN_EAGAIN && (tk->tk_conn->t_flags & TF_DONE))
        n = RN_EPIPE;
    return n;
}

static ssize_t tk_recv(void *t, void *buf, size_t len, uint32_t flags,
                       struct rn_sockaddr_in *from, uint32_t *oflags)
{
    struct tcp_sock *tk = t;
    struct tcp_info ti;
    ssize_t n;

    (void)oflags;
    if (tk->tk_conn == NULL)
        return RN_ENOTCONN;
    n = (flags & RN_MSG_PEEK) ? rn__tcp_peek(tk->tk_conn, buf, len)
                               : rn__tcp_recv(tk->tk_conn, buf, len);
    if (n > 0 || (n == 0 && len == 0))
        goto out;
    /* Data first; then a pending error, told once (sock_error() on Linux);
     * after it, a connection that ended reads as the end of data. */
    if (tk->tk_error != 0) {
        n = tk->tk_error;
        if (!(flags & RN_MSG_PEEK))
            tk->tk_error = 0;
        return n;
    }
    if (n == RN_EAGAIN && tk->tk_shut_rd)
        n = 0;
    if (n < 0 && n != RN_EAGAIN && (tk->tk_conn->t_flags & TF_DONE))
        n = 0;
out:
    if (n >= 0 && from != NULL) {
        rn__tcp_info(tk->tk_conn, &ti);
        from->sin6_addr = ti.ti_faddr.ia_ip6;
        from->sin_port = ti.ti_fport;
    }
    return n;
}

static int tk_shutdown(void *t, int how)
{
    struct tcp_sock *tk = t;
    int err;

    if (tk->tk_listener != NULL) {
        /* As Linux: shutting a listener's receiving side stops it
         * listening; its accepts then fail. */
        if (how != RN_SHUT_WR &&
            atomic_load_explicit(&tk->tk_listener->l_state, memory_order_relaxed) == TCPS_LISTEN)
            rn__tcp_listener_close(tk->tk_listener);
        return 0;
    }
    if (tk->tk_conn == NULL)
        return RN_ENOTCONN;
    err = rn__tcp_shutdown(tk->tk_conn, how);
    if (err == 0 && how != RN_SHUT_WR)
        tk->tk_shut_rd = true;
    return err;
}

static void *tk_close(void *t, bool abort)
{
    struct tcp_sock *tk = t;
    void *ob = NULL;

    tk->tk_up.up_event = NULL;
    tk_bound_drop(tk);
    if (tk->tk_conn != NULL) {
        rn__tcp_close(tk->tk_conn, abort);
        ob = tk->tk_conn;
    } else if (tk->tk_listener != NULL) {
        rn__tcp_listener_close(tk->tk_listener);
        ob = tk->tk_listener;
    }
    free(tk);
    return ob;
}

static bool tk_settled(const void *ob)
{
    const struct tcp_conn *c;

    if (rn__tcp_kind_of(ob) != TCP_KIND_CONN)
        return true;
    c = ob;
    /* Past FIN_WAIT_1, CLOSING and LAST_ACK our FIN was acknowledged. */
    switch (tcp_state(c)) {
    case TCPS_FIN_WAIT_1:
    case TCPS_CLOSING:
    case TCPS_LAST_ACK:
        return false;
    case TCPS_SYN_SENT:
    case TCPS_SYN_RECEIVED:
    case TCPS_ESTABLISHED:
    case TCPS_CLOSE_WAIT:
        return c->t_snd.sb_len == 0 && (c->t_flags & TF_SENTFIN);
    default:
        return true;
    }
}

static void tk_abort(void *ob)
{
    struct tcp_conn *c = ob;

    if (rn__tcp_kind_of(ob) != TCP_KIND_CONN || tcp_state(c) == TCPS_CLOSED ||
        tcp_state(c) == TCPS_TIME_WAIT)
        return;
    if (tcp_state(c) >= TCPS_SYN_RECEIVED)
        rn__tcp_send_rst(c);
    rn__tcp_drop(c, RN_ECONNABORTED);
}

static ssize_t tk_inq(void *t)
{
    struct tcp_sock *tk = t;
    bool eof;

    if (tk->tk_listener != NULL)
        return RN_EINVAL;
    return tk->tk_conn != NULL ? (ssize_t)rn__tcp_readable(tk->tk_conn, &eof) : 0;
}

static ssize_t tk_outq(void *t)
{
    struct tcp_sock *tk = t;

    if (tk->tk_listener != NULL)
        return RN_EINVAL;
    return tk->tk_conn != NULL ? (ssize_t)tk->tk_conn->t_snd.sb_len : 0;
}

static unsigned tk_poll(void *t)
{
    struct tcp_sock *tk = t;
    const struct tcp_conn *c;
    bool eof = false, rcv_shut, snd_shut;
    unsigned m = 0;

    if (tk->tk_error != 0)
        m |= RN_POLLERR;
    /* A listener closed under its user (a callout refused it) fails every
     * accept: readable, so that accepts are tried and get its error. */
    if (tk->tk_listener != NULL &&
        atomic_load_explicit(&tk->tk_listener->l_state, memory_order_relaxed) != TCPS_LISTEN)
        return m | RN_POLLIN | RN_POLLERR;
    if (tk->tk_listener != NULL)
        return m | (atomic_load_explicit(&tk->tk_listener->l_naccept, memory_order_relaxed) > 0
                        ? RN_POLLIN
                        : 0);
    if (tk->tk_conn == NULL)
        return m | RN_POLLOUT | RN_POLLHUP;  /* as Linux answers for a fresh socket */
    /* As Linux's tcp_poll: a shut receiving side (the peer's FIN, an end,
     * or our shutdown) is readable and RDHUP; a shut sending side (ours,
     * or an end) is writable, since a send answers at once; both shut, or
     * the connection closed, is HUP. */
    c = tk->tk_conn;
    rcv_shut = tk->tk_shut_rd;
    if (rn__tcp_readable(c, &eof) > 0)
        m |= RN_POLLIN;
    rcv_shut |= eof;
    snd_shut = (c->t_flags & (TF_SHUT_WR | TF_DONE)) != 0;
    if (rcv_shut)
        m |= RN_POLLIN | RN_POLLRDHUP;
    if (snd_shut || rn__tcp_writable(c) > 0)
        m |= RN_POLLOUT;
    if ((rcv_shut && snd_shut) || tcp_state(c) == TCPS_CLOSED)
        m |= RN_POLLHUP;
    return m;
}

static int tk_error(void *t)
{
    struct tcp_sock *tk = t;
    int err = tk->tk_error;

    tk->tk_error = 0;
    return err;
}

static int tk_setopt(void *t, enum rn_sockopt opt, int64_t val)
{
    struct tcp_sock *tk = t;

    return rn__tcp_opt_set(rn__tcp_stack(tk->tk_stack), tk->tk_uo, tk->tk_conn, tk->tk_listener,
                           opt, val);
}

static int tk_getopt(void *t, enum rn_sockopt opt, int64_t *val)
{
    struct tcp_sock *tk = t;

    if (opt == RN_SO_ACCEPTCONN) {
        *val = tk->tk_listener != NULL;
        return 0;
    }
    return rn__tcp_opt_get(rn__tcp_stack(tk->tk_stack), tk->tk_uo, tk->tk_conn,
                           tk->tk_listener, opt, val);
}

static int tk_setopt_str(void *t, enum rn_sockopt opt, const char *val)
{
    struct tcp_sock *tk = t;

    return rn__tcp_opt_set_str(rn__tcp_stack(tk->tk_stack), tk->tk_uo, tk->tk_conn,
                               tk->tk_listener, opt, val);
}

static int tk_getopt_str(void *t, enum rn_sockopt opt, char *buf, size_t len)
{
    struct tcp_sock *tk = t;

    return rn__tcp_opt_get_str(rn__tcp_stack(tk->tk_stack), tk->tk_uo, tk->tk_conn,
                               tk->tk_listener, opt, buf, len);
}

/* TCP_INFO: a connection's statistics; a listener's or a fresh socket's
 * state alone, as Linux answers. */
static int tk_tcp_info(void *t, struct rn_tcp_info *out)
{
    struct tcp_sock *tk = t;

    if (tk->tk_conn != NULL) {
        rn__tcp_conn_info(tk->tk_conn, out);
        return 0;
    }
    memset(out, 0, sizeof(*out));
    out->ti_state = tk->tk_listener != NULL ? RN_TCP_LISTEN : RN_TCP_CLOSED;
    return 0;
}

static void tk_getname(void *t, struct rn_sockaddr_in *local, struct rn_sockaddr_in *remote)
{
    struct tcp_sock *tk = t;
    struct rn_sockaddr_in l = {.sin_port = tk->tk_lport, .sin6_addr = tk->tk_laddr.ia_ip6};
    struct rn_sockaddr_in r = {.sin6_addr = rn__inaddr_any_like(&tk->tk_laddr).ia_ip6};
    struct tcp_info ti;

    if (tk->tk_conn != NULL) {
        rn__tcp_info(tk->tk_conn, &ti);
        l.sin6_addr = ti.ti_laddr.ia_ip6;
        l.sin_port = ti.ti_lport;
        /* A closed connection (reset, refused, ended) has no peer any
         * more: getpeername() answers ENOTCONN, as on Linux. */
        if (tcp_state(tk->tk_conn) != TCPS_CLOSED) {
            r.sin6_addr = ti.ti_faddr.ia_ip6;
            r.sin_port = ti.ti_fport;
        }
    }
    if (local != NULL)
        *local = l;
    if (remote != NULL)
        *remote = r;
}

/* The socket a TCP object belongs to: its own, or for a connection still
 * in its listener's queue, the listener's.  A TIME_WAIT entry has none. */
static void *tk_owner(const void *ob)
{
    switch (rn__tcp_kind_of(ob)) {
    case TCP_KIND_CONN: {
        const struct tcp_conn *c = ob;

        if (c->t_owner == NULL && c->t_listener != NULL)
            return c->t_listener->l_owner;
        return c->t_owner;
    }
    case TCP_KIND_LISTENER:
        return ((const struct tcp_listener *)ob)->l_owner;
    default:
        return NULL;
    }
}

const struct rn_transport_ops rn__tcp_ops = {
    .to_name = "tcp",
    .to_type = RN_SOCK_STREAM,
    .to_proto = RN_IPPROTO_TCP,
    .to_open = tk_open,
    .to_bind = tk_bind,
    .to_listen = tk_listen,
    .to_connect = tk_connect,
    .to_accept = tk_accept,
    .to_send = tk_send,
    .to_recv = tk_recv,
    .to_shutdown = tk_shutdown,
    .to_close = tk_close,
    .to_settled = tk_settled,
    .to_abort = tk_abort,
    .to_inq = tk_inq,
    .to_outq = tk_outq,
    .to_poll = tk_poll,
    .to_error = tk_error,
    .to_setopt = tk_setopt,
    .to_getopt = tk_getopt,
    .to_setopt_str = tk_setopt_str,
    .to_getopt_str = tk_getopt_str,
    .to_tcp_info = tk_tcp_info,
    .to_getname = tk_getname,
    .to_owner = tk_owner,
};
