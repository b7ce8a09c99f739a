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
    uint32_t tk_laddr;                 /* [L] bound address, 0 = any */
    uint16_t tk_lport;                 /* [L] bound port, 0 = pick one */
    int tk_error;                      /* [L] pending error told by TCP, 0 if none */
    bool tk_shut_rd;                   /* [L] the user will read no more */
    uint32_t tk_sndbuf;                /* [L] SO_SNDBUF for the connection */
    uint32_t tk_rcvbuf;                /* [L] SO_RCVBUF for the connection */
    bool tk_nodelay;                   /* [L] TCP_NODELAY */
    bool tk_keepalive;                 /* [L] SO_KEEPALIVE */
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

static struct tcp_sock *tk_new(struct rn_stack *st, const struct rn_sock_upcall *up)
{
    struct tcp_sock *tk = calloc(1, sizeof(*tk));

    if (tk == NULL)
        return NULL;
    tk->tk_stack = st;
    tk->tk_up = *up;
    return tk;
}

/* Applies the options set before the connection existed. */
static void tk_apply(struct tcp_sock *tk)
{
    if (tk->tk_sndbuf != 0 || tk->tk_rcvbuf != 0)
        rn__tcp_set_bufsizes(tk->tk_conn, tk->tk_sndbuf, tk->tk_rcvbuf);
    if (tk->tk_nodelay)
        rn__tcp_set_nodelay(tk->tk_conn, true);
    if (tk->tk_keepalive)
        rn__tcp_set_keepalive(tk->tk_conn, true);
}

static int tk_open(struct rn_stack *st, const struct rn_sock_upcall *up, void **out)
{
    struct tcp_sock *tk;

    if (rn__tcp_stack(st) == NULL)
        return RN_EAFNOSUPPORT;
    tk = tk_new(st, up);
    if (tk == NULL)
        return RN_ENOMEM;
    *out = tk;
    return 0;
}

static int tk_bind(void *t, const struct rn_sockaddr_in *addr)
{
    struct tcp_sock *tk = t;

    if (tk->tk_listener != NULL || tk->tk_conn != NULL || tk->tk_lport != 0)
        return RN_EINVAL;
    if (addr->sin_addr != 0 && !rn__ip_is_local(tk->tk_stack, addr->sin_addr))
        return RN_EADDRNOTAVAIL;
    if (addr->sin_port != 0 && rn_tcp_port_holder(tk->tk_stack, addr->sin_addr, addr->sin_port))
        return RN_EADDRINUSE;
    tk->tk_laddr = addr->sin_addr;
    tk->tk_lport = addr->sin_port;
    return 0;
}

static int tk_listen(void *t, int backlog)
{
    struct tcp_sock *tk = t;
    struct tcp_listener *l;
    int err;

    if (tk->tk_conn != NULL)
        return RN_EINVAL;
    if (tk->tk_listener != NULL)
        return 0;
    err = rn__tcp_listen(tk->tk_stack, tk->tk_laddr, tk->tk_lport,
                        backlog > 0 ? (unsigned)backlog : 1, &tk_upcalls, tk, &l);
    if (err < 0)
        return err;
    rn_ob_ref(l, RN_TAG_SOCKET_ENDPOINT);
    l->l_owner = tk->tk_up.up_owner;
    tk->tk_listener = l;
    rn__tcp_listener_addr(l, &tk->tk_laddr, &tk->tk_lport);
    return 0;
}

static int tk_connect(void *t, const struct rn_sockaddr_in *addr)
{
    struct tcp_sock *tk = t;
    struct tcp_conn *c;
    int err;

    if (tk->tk_listener != NULL)
        return RN_EINVAL;
    if (tk->tk_conn != NULL)
        return tcp_state(tk->tk_conn) == TCPS_SYN_SENT ? RN_EALREADY : RN_EISCONN;
    err = rn__tcp_connect(tk->tk_stack, tk->tk_laddr, tk->tk_lport, addr->sin_addr,
                         addr->sin_port, &tk_upcalls, tk, &c);
    if (err < 0)
        return err;
    rn_ob_ref(c, RN_TAG_SOCKET_ENDPOINT);
    c->t_owner = tk->tk_up.up_owner;
    tk->tk_conn = c;
    tk_apply(tk);
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
    nk = tk_new(tk->tk_stack, up);
    if (nk == NULL)
        return RN_ENOMEM;
    /* The new context is ready before accept, which may call it at once. */
    err = rn__tcp_accept(tk->tk_listener, RN_TAG_SOCKET_ENDPOINT, &tk_upcalls, nk, &c);
    if (err < 0) {
        free(nk);
        return err;
    }
    nk->tk_conn = c;
    c->t_owner = up->up_owner;
    rn__tcp_info(c, &ti);
    nk->tk_laddr = ti.ti_laddr;
    nk->tk_lport = ti.ti_lport;
    peer->sin_addr = ti.ti_faddr;
    peer->sin_port = ti.ti_fport;
    *out = nk;
    return 0;
}

static ssize_t tk_send(void *t, const void *buf, size_t len, const struct rn_sockaddr_in *to,
                       uint32_t flags)
{
    struct tcp_sock *tk = t;

    (void)to;  /* a stream has its peer; the address is ignored, as Linux does */
    if (tk->tk_conn == NULL)
        return tk->tk_error != 0 ? tk->tk_error : RN_ENOTCONN;
    return rn__tcp_send_eof(tk->tk_conn, buf, len, (flags & RN_MSG_EOF) != 0);
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
    if (n == RN_EAGAIN && tk->tk_shut_rd)
        n = 0;
    if (n >= 0 && from != NULL) {
        rn__tcp_info(tk->tk_conn, &ti);
        from->sin_addr = ti.ti_faddr;
        from->sin_port = ti.ti_fport;
    }
    if (n < 0 && n != RN_EAGAIN && n == tk->tk_error && !(flags & RN_MSG_PEEK))
        tk->tk_error = 0;  /* reported now */
    return n;
}

static int tk_shutdown(void *t, int how)
{
    struct tcp_sock *tk = t;
    int err;

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
    unsigned m = 0;
    bool eof = false;

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
    if (rn__tcp_readable(tk->tk_conn, &eof) > 0 || eof || tk->tk_shut_rd)
        m |= RN_POLLIN;
    if (eof || tk->tk_shut_rd)
        m |= RN_POLLRDHUP;  /* the receiving side is shut: peer's FIN, or ours */
    if (rn__tcp_writable(tk->tk_conn) > 0)
        m |= RN_POLLOUT;
    if (eof && tcp_state(tk->tk_conn) == TCPS_CLOSED)
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

    switch (opt) {
    case RN_SO_SNDBUF:
    case RN_SO_RCVBUF:
        if (val < 4096 || val > (64 << 20))
            return RN_EINVAL;
        if (opt == RN_SO_SNDBUF)
            tk->tk_sndbuf = (uint32_t)val;
        else
            tk->tk_rcvbuf = (uint32_t)val;
        if (tk->tk_conn != NULL)
            return rn__tcp_set_bufsizes(tk->tk_conn, opt == RN_SO_SNDBUF ? (uint32_t)val : 0,
                                       opt == RN_SO_RCVBUF ? (uint32_t)val : 0);
        return 0;
    case RN_TCP_NODELAY:
        tk->tk_nodelay = val != 0;
        return tk->tk_conn != NULL ? rn__tcp_set_nodelay(tk->tk_conn, val != 0) : 0;
    case RN_SO_KEEPALIVE:
        tk->tk_keepalive = val != 0;
        return tk->tk_conn != NULL ? rn__tcp_set_keepalive(tk->tk_conn, val != 0) : 0;
    default:
        return RN_ENOPROTOOPT;
    }
}

static int tk_getopt(void *t, enum rn_sockopt opt, int64_t *val)
{
    struct tcp_sock *tk = t;
    const struct tcp_stack *ts = rn__tcp_stack(tk->tk_stack);

    switch (opt) {
    case RN_SO_SNDBUF:
        *val = tk->tk_conn ? tk->tk_conn->t_snd.sb_max
                           : tk->tk_sndbuf ? tk->tk_sndbuf : ts->ts_params.tp_sndbuf;
        return 0;
    case RN_SO_RCVBUF:
        *val = tk->tk_conn ? tk->tk_conn->rcv_buf
                           : tk->tk_rcvbuf ? tk->tk_rcvbuf : ts->ts_params.tp_rcvbuf;
        return 0;
    case RN_TCP_NODELAY:
        *val = tk->tk_nodelay;
        return 0;
    case RN_SO_KEEPALIVE:
        *val = tk->tk_keepalive;
        return 0;
    case RN_SO_ACCEPTCONN:
        *val = tk->tk_listener != NULL;
        return 0;
    default:
        return RN_ENOPROTOOPT;
    }
}

static void tk_getname(void *t, struct rn_sockaddr_in *local, struct rn_sockaddr_in *remote)
{
    struct tcp_sock *tk = t;
    struct rn_sockaddr_in l = {tk->tk_laddr, tk->tk_lport}, r = {0, 0};
    struct tcp_info ti;

    if (tk->tk_conn != NULL) {
        rn__tcp_info(tk->tk_conn, &ti);
        l.sin_addr = ti.ti_laddr;
        l.sin_port = ti.ti_lport;
        r.sin_addr = ti.ti_faddr;
        r.sin_port = ti.ti_fport;
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
    .to_getname = tk_getname,
    .to_owner = tk_owner,
};
