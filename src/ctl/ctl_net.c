/*
 * Control commands that move data over refnet's own TCP: the daemon side
 * of `refnet send`, `refnet recv` and `refnet get` (tools/cmd_net.c).
 *
 *   connect ADDR PORT [--timeout S] [--recv-only | --data-fd]
 *       opens a TCP connection from refnet to ADDR:PORT; once established,
 *       answers with the go of the streaming mode (ctl.h) and pipes bytes
 *       both ways between the control connection and the TCP connection.
 *       With --data-fd the bytes to send come from the descriptor passed
 *       with the request (a pipe or socket the client reads from, such as
 *       `producer | refnet send`'s standard input): the daemon reads them
 *       itself, and the client only reads the stream.
 *   accept PORT [--addr A] [--timeout S] [--recv-only]
 *       listens on refnet's PORT, answers with the go at once (its text
 *       says where it listens), accepts ONE connection within S seconds,
 *       closes the listener, and pipes like connect.
 *
 * Each pipe is a process of the socket layer ("ctl connect", "ctl
 * accept") driving its sockets with asynchronous requests whose callbacks
 * run on the loop thread, like the built-in services (apps/): the loop
 * never blocks, and `refnet objects` shows the pipe's process, socket and
 * requests, and the control request that owns them.
 *
 * Data paths, each bounded, so that the slow side slows the fast one
 * instead of growing memory:
 *   up   (client -> peer): EPOLLIN on the control connection (or the
 *        data's descriptor, which is on the loop only then) is asked for
 *        only while one of PIPE_UP_SLOTS buffers is free; what is read goes
 *        out in a send request, and the buffer is free again when the send
 *        completes (the TCP send buffer took it all).
 *   down (peer -> client): PIPE_DOWN_SLOTS receive requests at most, in a
 *        ring in submission order; a slot is resubmitted only after its
 *        bytes were written to the client, which waits for EPOLLOUT.
 *
 * The end, graceful: the client's end of data (shutdown(SHUT_WR)) becomes
 * a FIN once every send completed; the peer's FIN becomes the end chunk
 * once every byte before it reached the client.  With both, the process
 * exits (closing the connection gracefully) and, once it has been
 * released (the FIN exchange is over), the request completes with status
 * 0: the trailer.  With --recv-only the client sends nothing and the FIN
 * goes out when the peer's arrives.
 * The end, abortive: a refused or failed connection, a reset, the client
 * gone (the request's cancel), the daemon stopping: linger 0 on the
 * connection, the process exits, and the request completes with status 1
 * and one line "refnet connect: ADDR:PORT: <what>" once what the peer sent
 * before the failure has reached the client.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "ctl/ctl.h"
#include "refnet/error.h"
#include "refnet/loop.h"
#include "refnet/object.h"
#include "refnet/socket.h"
#include "refnet/stack.h"
#include "refnet/strbuf.h"
#include "refnet/addr.h"

/* Client -> peer: buffers, each carried by one send request at a time. */
#define PIPE_UP_SLOTS 2u
#define PIPE_UP_BUF (128u * 1024u)
/* Peer -> client: receive requests outstanding at most, and their size. */
#define PIPE_DOWN_SLOTS 4u
#define PIPE_DOWN_BUF (64u * 1024u)
/* Reads of the control connection per wake, so one client cannot hold the
 * loop. */
#define PIPE_READS_PER_WAKE 8
/* The longest --timeout accepted, seconds. */
#define PIPE_TIMEOUT_MAX 86400.0
/* Pipes at once (each is a control connection too, RN_CTL_CONN_MAX). */
#define PIPE_MAX 32

struct net_pipe;

/* One buffer of either direction. */
struct pipe_slot {
    struct net_pipe *ps_pipe;    /* [I] */
    uint8_t *ps_buf;             /* [I] PIPE_UP_BUF or PIPE_DOWN_BUF bytes */
    size_t ps_len;               /* [L] bytes held (up: being sent; down:
                                    received) */
    size_t ps_off;               /* [L] down: bytes written to the client */
    bool ps_busy;                /* [L] up: a send request carries it;
                                    down: a receive request fills it */
    bool ps_full;                /* [L] down: received, ps_off < ps_len */
};

enum pipe_phase {
    PIPE_CONNECTING,  /* connect request in flight */
    PIPE_ACCEPTING,   /* listening, accept request in flight */
    PIPE_STREAMING,   /* both directions flow */
    PIPE_ENDING,      /* the process exits; waiting for its release */
    PIPE_EXITED,      /* released; the request completes once the
                         client has the data received before */
};

struct net_pipe {
    struct net_pipe *np_next;        /* [L] cn_pipes */
    struct net_pipe *np_prev;        /* [L] */
    struct rn__ctl_net *np_net;      /* [I] */
    struct rn_ctl_req *np_req;       /* [L] NULL once completed */
    bool np_client_gone;             /* [L] the request was cancelled */
    bool np_go;                      /* [L] the go was sent: the connection
                                        is a stream */
    char np_what[64];                /* [I] "198.18.0.1:80", "[2001:2::1]:80",
                                        for messages */
    struct rn_proc *np_proc;         /* [L] until the exit begins */
    int np_lh;                       /* [L] accept: the listening handle, 0 */
    int np_h;                        /* [L] the connection's handle, 0 */
    enum pipe_phase np_phase;        /* [L] */
    bool np_recv_only;               /* [I] the client sends nothing */
    rn_time_t np_timeout;            /* [I] connect/accept limit, 0 none */
    int np_status;                   /* [L] exit status once ending */
    uint64_t np_sent;                /* [L] bytes sent to the peer */
    uint64_t np_received;            /* [L] bytes received from the peer */
    int np_dfd;                      /* [L] --data-fd: the descriptor the
                                        bytes to send come from, or -1 */
    bool np_dfd_on;                  /* [L] it is on the loop (EPOLLIN) */
    bool np_by_fd;                   /* [I] the bytes came that way */
    struct pipe_slot np_up[PIPE_UP_SLOTS];     /* [L] */
    unsigned np_up_busy;             /* [L] send requests in flight */
    bool np_up_eof;                  /* [L] the client's data ended */
    bool np_shut;                    /* [L] the FIN was asked for */
    struct pipe_slot np_down[PIPE_DOWN_SLOTS]; /* [L] ring, in the order
                                        of submission */
    unsigned np_down_head;           /* [L] oldest slot in use */
    unsigned np_down_used;           /* [L] slots in use from the head */
    bool np_peer_eof;                /* [L] a receive completed with 0 */
    bool np_eof_sent;                /* [L] the end chunk went to the client */
    struct rn_ob_wait np_wait;       /* "exit": the process's release */
    struct rn_work np_work;          /* posted when it fires */
};

struct rn__ctl_net {
    struct rn_loop *cn_loop;         /* [I] the stack's */
    struct rn_stack *cn_stack;       /* [I] */
    struct net_pipe *cn_pipes;       /* [L] pipes not yet freed */
    unsigned cn_npipes;              /* [L] how many */
    bool cn_stopping;                /* [L] rn__ctl_net_stop() ran */
    void (*cn_stop_done)(void *ctx); /* [L] called when the last pipe goes */
    void *cn_stop_ctx;               /* [L] */
};

static void pipe_sock_done(struct rn_proc *p, const struct rn_sock_completion *c);
static void pipe_end(struct net_pipe *np, int status, bool abort);
static void pipe_kick(struct net_pipe *np);

/* ---- Lifetime ------------------------------------------------------------ */

/* Lets go of the data's descriptor: no byte more is read from it. */
static void pipe_dfd_close(struct net_pipe *np)
{
    if (np->np_dfd < 0)
        return;
    if (np->np_dfd_on)
        (void)rn_loop_del_fd(np->np_net->cn_loop, np->np_dfd);
    np->np_dfd_on = false;
    close(np->np_dfd);
    np->np_dfd = -1;
}

static void pipe_free(struct net_pipe *np)
{
    struct rn__ctl_net *net = np->np_net;
    unsigned i;

    pipe_dfd_close(np);
    if (np->np_prev != NULL)
        np->np_prev->np_next = np->np_next;
    else
        net->cn_pipes = np->np_next;
    if (np->np_next != NULL)
        np->np_next->np_prev = np->np_prev;
    net->cn_npipes--;
    for (i = 0; i < PIPE_UP_SLOTS; i++)
        free(np->np_up[i].ps_buf);
    for (i = 0; i < PIPE_DOWN_SLOTS; i++)
        free(np->np_down[i].ps_buf);
    free(np);
    if (net->cn_stopping && net->cn_npipes == 0 && net->cn_stop_done != NULL) {
        void (*done)(void *) = net->cn_stop_done;

        net->cn_stop_done = NULL;
        done(net->cn_stop_ctx);
    }
}

/* Bytes received and not yet written to the client. */
static bool pipe_down_pending(const struct net_pipe *np)
{
    unsigned k;

    for (k = 0; k < np->np_down_used; k++) {
        if (np->np_down[(np->np_down_head + k) % PIPE_DOWN_SLOTS].ps_full)
            return true;
    }
    return false;
}

/* Completes the request and frees the pipe once the process is gone and
 * the client has what was received (or is gone too). */
static void pipe_try_finish(struct net_pipe *np)
{
    if (np->np_phase != PIPE_EXITED)
        return;
    /* A stopping daemon does not wait for a client that does not read. */
    if (np->np_req != NULL && !np->np_client_gone && pipe_down_pending(np) &&
        !np->np_net->cn_stopping)
        return;
    if (np->np_req != NULL) {
        struct rn_ctl_req *req = np->np_req;

        np->np_req = NULL;
        if (np->np_status == 0)
            rn_strbuf_printf(rn__ctl_req_out(req), "%s: sent %" PRIu64 " bytes%s, received %"
                             PRIu64 " bytes\n", np->np_what, np->np_sent,
                             np->np_by_fd ? " (read from the passed descriptor)" : "",
                             np->np_received);
        rn__ctl_req_complete(req, np->np_status);
    }
    pipe_free(np);
}

static void pipe_exited(struct rn_stack *st, struct rn_work *w)
{
    struct net_pipe *np = (struct net_pipe *)((char *)w - offsetof(struct net_pipe, np_work));

    (void)st;
    np->np_phase = PIPE_EXITED;
    pipe_kick(np);
    pipe_try_finish(np);
}

/* The process was released (on whichever thread let go last). */
static void pipe_exit_fired(struct rn_ob_wait *w, void *ctx)
{
    struct net_pipe *np = ctx;

    (void)w;
    rn_stack_post(np->np_net->cn_stack, &np->np_work, pipe_exited);
}

/* Ends the pipe: the process exits, closing its sockets (abortively with
 * abort), and the request completes with status once it is released.  The
 * first end wins; later ones change nothing. */
static void pipe_end(struct net_pipe *np, int status, bool abort)
{
    struct rn_proc *p = np->np_proc;
    int err;

    if (np->np_phase >= PIPE_ENDING)
        return;
    np->np_phase = PIPE_ENDING;
    np->np_status = status;
    pipe_dfd_close(np);
    if (np->np_req != NULL && !np->np_client_gone)
        rn__ctl_req_stream_want(np->np_req, pipe_down_pending(np) ? EPOLLOUT : 0);
    if (abort && np->np_h > 0)
        (void)rn_sock_setopt(p, np->np_h, RN_SO_LINGER, 0);
    err = rn_ob_wait_release(p, &np->np_wait, NULL, "exit", pipe_exit_fired, np);
    assert(err == 0);
    (void)err;
    np->np_proc = NULL;
    rn_proc_exit(p);
}

/* Ends the pipe with status 1 and one line naming what failed. */
static void pipe_fail(struct net_pipe *np, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void pipe_fail(struct net_pipe *np, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    if (np->np_phase >= PIPE_ENDING)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (np->np_req != NULL)
        (void)rn__ctl_req_fail(np->np_req, RN_CTL_EXIT_FAIL, "%s: %s", np->np_what, msg);
    pipe_end(np, RN_CTL_EXIT_FAIL, true);
}

static void pipe_cancelled(struct rn_ctl_req *req, void *ctx)
{
    struct net_pipe *np = ctx;

    (void)req;
    np->np_client_gone = true;
    pipe_end(np, RN_CTL_EXIT_FAIL, true);
}

/* ---- Requests on the sockets -------------------------------------------------- */

static int pipe_submit(struct net_pipe *np, enum rn_sock_op op, int h, void *buf, size_t len,
                       const struct rn_sockaddr_in *to, rn_time_t timeout, void *user)
{
    struct rn_sock_req rq = {
        .sq_op = op,
        .sq_handle = h,
        .sq_buf = buf,
        .sq_len = len,
        .sq_to = to,
        .sq_timeout = timeout,
        .sq_user = user,
    };

    return rn_sock_submit(np->np_proc, &rq, pipe_sock_done);
}

/* Keeps the down ring full of receive requests. */
static void pipe_post_receives(struct net_pipe *np)
{
    while (np->np_phase == PIPE_STREAMING && !np->np_peer_eof &&
           np->np_down_used < PIPE_DOWN_SLOTS) {
        struct pipe_slot *ps = &np->np_down[(np->np_down_head + np->np_down_used) %
                                            PIPE_DOWN_SLOTS];

        assert(!ps->ps_busy && !ps->ps_full);
        ps->ps_len = 0;
        ps->ps_off = 0;
        if (pipe_submit(np, RN_SOP_RECV, np->np_h, ps->ps_buf, PIPE_DOWN_BUF, NULL, 0, ps) != 0) {
            pipe_fail(np, "cannot receive: out of memory");
            return;
        }
        ps->ps_busy = true;
        np->np_down_used++;
    }
}

/* The FIN, once the client's data ended and every send completed. */
static void pipe_maybe_shut(struct net_pipe *np)
{
    int err;

    if (np->np_phase != PIPE_STREAMING || np->np_shut || !np->np_up_eof || np->np_up_busy > 0)
        return;
    np->np_shut = true;
    err = rn_sock_shutdown(np->np_proc, np->np_h, RN_SHUT_WR);
    if (err < 0)
        pipe_fail(np, "%s", rn_strerror(err));
}

/* Both directions done: the graceful close. */
static void pipe_maybe_done(struct net_pipe *np)
{
    if (np->np_phase != PIPE_STREAMING || !np->np_peer_eof)
        return;
    if (!np->np_recv_only && !np->np_shut)
        return;
    pipe_end(np, RN_CTL_EXIT_OK, false);
}

/* Writes received data to the client, oldest first; sends the end chunk
 * after the peer's FIN once everything before it is out. */
static void pipe_write_client(struct net_pipe *np)
{
    struct rn_ctl_req *req = np->np_req;

    if (req == NULL || np->np_client_gone || !np->np_go)
        return;
    while (np->np_down_used > 0) {
        struct pipe_slot *ps = &np->np_down[np->np_down_head];
        ssize_t n;

        if (ps->ps_busy)
            break;
        if (!ps->ps_full) {
            /* A receive that brought nothing (the FIN, a cancel). */
            np->np_down_head = (np->np_down_head + 1) % PIPE_DOWN_SLOTS;
            np->np_down_used--;
            continue;
        }
        n = rn__ctl_req_stream_write(req, ps->ps_buf + ps->ps_off, ps->ps_len - ps->ps_off);
        if (n == RN_EAGAIN)
            break;
        if (n < 0) {
            /* The client is gone; its hangup cancels the request. */
            np->np_client_gone = true;
            pipe_end(np, RN_CTL_EXIT_FAIL, true);
            return;
        }
        ps->ps_off += (size_t)n;
        if (ps->ps_off < ps->ps_len)
            break;
        ps->ps_full = false;
        np->np_down_head = (np->np_down_head + 1) % PIPE_DOWN_SLOTS;
        np->np_down_used--;
    }
    if (np->np_peer_eof && !np->np_eof_sent && !pipe_down_pending(np)) {
        /* Receives after the FIN completed with 0 too: none holds data. */
        np->np_eof_sent = true;
        if (rn__ctl_req_stream_eof(req) != 0) {
            np->np_client_gone = true;
            pipe_end(np, RN_CTL_EXIT_FAIL, true);
            return;
        }
    }
    pipe_post_receives(np);
}

/* One read of the bytes to send: from the data's descriptor, or the
 * control connection.  Returns bytes (0 at their end), RN_EAGAIN, or
 * another negative code after ending the pipe. */
static ssize_t pipe_read_up(struct net_pipe *np, uint8_t *buf, size_t len)
{
    ssize_t n;

    if (np->np_dfd < 0) {
        n = rn__ctl_req_stream_read(np->np_req, buf, len);
        if (n < 0 && n != RN_EAGAIN) {
            np->np_client_gone = true;
            pipe_end(np, RN_CTL_EXIT_FAIL, true);
        }
        return n;
    }
    do {
        n = read(np->np_dfd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    if (errno == EAGAIN)
        return RN_EAGAIN;
    pipe_fail(np, "cannot read the data's descriptor: %s", strerror(errno));
    return RN_EIO;
}

/* Reads what the client sends into free up slots and sends it. */
static void pipe_read_client(struct net_pipe *np)
{
    int k;

    for (k = 0; k < PIPE_READS_PER_WAKE; k++) {
        struct pipe_slot *ps = NULL;
        ssize_t n;
        unsigned i;

        if (np->np_phase != PIPE_STREAMING || np->np_recv_only || np->np_up_eof)
            return;
        for (i = 0; i < PIPE_UP_SLOTS && ps == NULL; i++) {
            if (!np->np_up[i].ps_busy)
                ps = &np->np_up[i];
        }
        if (ps == NULL)
            return;
        n = pipe_read_up(np, ps->ps_buf, PIPE_UP_BUF);
        if (n < 0)
            return;
        if (n == 0) {
            np->np_up_eof = true;
            pipe_maybe_shut(np);
            pipe_maybe_done(np);
            return;
        }
        ps->ps_len = (size_t)n;
        if (pipe_submit(np, RN_SOP_SEND, np->np_h, ps->ps_buf, ps->ps_len, NULL, 0, ps) != 0) {
            pipe_fail(np, "cannot send: out of memory");
            return;
        }
        ps->ps_busy = true;
        np->np_up_busy++;
    }
}

static void pipe_dfd_io(struct rn_loop *loop, int fd, uint32_t events, void *ctx);

/* Puts the data's descriptor on the loop while a read of it can go
 * somewhere, and takes it off otherwise (a pipe whose writer closed
 * reports EPOLLHUP whatever is asked). */
static void pipe_dfd_want(struct net_pipe *np, bool in)
{
    if (np->np_dfd < 0 || in == np->np_dfd_on)
        return;
    if (in && rn_loop_add_fd(np->np_net->cn_loop, np->np_dfd, EPOLLIN, pipe_dfd_io, np) != 0) {
        pipe_fail(np, "cannot watch the data's descriptor: out of memory");
        return;
    }
    if (!in)
        (void)rn_loop_del_fd(np->np_net->cn_loop, np->np_dfd);
    np->np_dfd_on = in;
}

/* Asks the control connection (and the data's descriptor) for what the
 * pipe can use now. */
static void pipe_want(struct net_pipe *np)
{
    uint32_t ev = 0;
    bool up = false;
    unsigned i;

    if (np->np_req == NULL || np->np_client_gone)
        return;
    if (np->np_phase == PIPE_STREAMING && !np->np_recv_only && !np->np_up_eof) {
        for (i = 0; i < PIPE_UP_SLOTS; i++) {
            if (!np->np_up[i].ps_busy)
                up = true;
        }
    }
    if (up && np->np_dfd < 0)
        ev |= EPOLLIN;
    pipe_dfd_want(np, up);
    if (np->np_go && pipe_down_pending(np))
        ev |= EPOLLOUT;
    rn__ctl_req_stream_want(np->np_req, ev);
}

/* Moves what can move, then asks for the next wake. */
static void pipe_kick(struct net_pipe *np)
{
    pipe_write_client(np);
    pipe_read_client(np);
    pipe_want(np);
}

static void pipe_dfd_io(struct rn_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct net_pipe *np = ctx;

    (void)loop;
    (void)fd;
    (void)events;  /* readable, or its writer gone: a read says which */
    pipe_read_client(np);
    pipe_want(np);
    pipe_try_finish(np);
}

static void pipe_stream_io(struct rn_ctl_req *req, uint32_t events, void *ctx)
{
    struct net_pipe *np = ctx;

    (void)req;
    if (events & EPOLLOUT)
        pipe_write_client(np);
    if (events & EPOLLIN)
        pipe_read_client(np);
    pipe_want(np);
    pipe_try_finish(np);
}

/* "198.18.0.2:80", or for an AF_INET6 socket "[2001:2::2]:80" (an IPv4
 * peer of a dual-stack socket as "[::ffff:198.18.0.1]:80"). */
static void fmt_sin(const struct rn_sockaddr_in *a, char *buf, size_t len)
{
    char ip[RN_IP6_STRLEN];

    if (a->sin_family == RN_AF_INET6)
        snprintf(buf, len, "[%s]:%u", rn_ip6_addr_fmt(&a->sin6_addr, ip), a->sin_port);
    else
        snprintf(buf, len, "%s:%u", rn_ip4_addr_fmt(a->sin_addr, ip), a->sin_port);
}

/* The socket address of a (of either family) and port, and the socket
 * type that reaches it: AF_INET6 for an IPv6 address. */
static struct rn_sockaddr_in sin_of(const struct rn_inaddr *a, uint16_t port, int *type)
{
    struct rn_sockaddr_in s = {.sin_port = port};

    *type = RN_SOCK_STREAM;
    if (rn_inaddr_is_v4(a)) {
        s.sin_addr = rn_inaddr_to_v4(a);
    } else {
        *type |= RN_SOCK_INET6;
        s.sin_family = RN_AF_INET6;
        s.sin6_addr = a->ia_ip6;
    }
    return s;
}

/* The connection is up (connected or accepted): the go, unless it went
 * already (accept), and the data starts to flow. */
static void pipe_established(struct net_pipe *np)
{
    struct rn_sockaddr_in l = {0}, r = {0};
    char ls[RN_IP6_STRLEN + 8], rs[RN_IP6_STRLEN + 8];
    int err;

    np->np_phase = PIPE_STREAMING;
    (void)rn_sock_getname(np->np_proc, np->np_h, &l, &r);
    fmt_sin(&l, ls, sizeof(ls));
    fmt_sin(&r, rs, sizeof(rs));
    if (np->np_lh > 0) {
        /* One connection only: the listener goes. */
        if (pipe_submit(np, RN_SOP_CLOSE, np->np_lh, NULL, 0, NULL, 0, np) == 0)
            np->np_lh = 0;
        snprintf(np->np_what, sizeof(np->np_what), "%s", rs);
    } else {
        rn_strbuf_printf(rn__ctl_req_out(np->np_req), "connected %s -> %s\n", ls, rs);
        err = rn__ctl_req_go(np->np_req, pipe_stream_io, np);
        if (err != 0) {
            np->np_client_gone = err == RN_ENOTCONN;
            pipe_end(np, RN_CTL_EXIT_FAIL, true);
            return;
        }
        np->np_go = true;
    }
    pipe_kick(np);
}

static const char *pipe_connect_error(int err)
{
    switch (err) {
    case RN_EAGAIN:
    case RN_ETIMEDOUT:
        return "connection timed out";
    default:
        return rn_strerror(err);
    }
}

static void pipe_sock_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct net_pipe *np;
    struct pipe_slot *ps;

    (void)p;
    switch (c->sc_op) {
    case RN_SOP_SEND:
        ps = c->sc_user;
        np = ps->ps_pipe;
        ps->ps_busy = false;
        np->np_up_busy--;
        if (c->sc_result == (ssize_t)ps->ps_len) {
            np->np_sent += ps->ps_len;
        } else if (np->np_phase == PIPE_STREAMING) {
            pipe_fail(np, "%s", c->sc_result < 0 ? rn_strerror((int)c->sc_result)
                                                 : "the connection took part of a send");
        }
        /* A producer's pipe is seldom empty: read it into the slot now
         * rather than after another wake. */
        if (np->np_dfd >= 0)
            pipe_read_client(np);
        pipe_maybe_shut(np);
        pipe_maybe_done(np);
        break;
    case RN_SOP_RECV:
        ps = c->sc_user;
        np = ps->ps_pipe;
        ps->ps_busy = false;
        if (c->sc_result > 0) {
            ps->ps_len = (size_t)c->sc_result;
            ps->ps_full = true;
            np->np_received += ps->ps_len;
        } else {
            /* An empty slot is skipped when the ring is written out. */
            ps->ps_len = 0;
            if (c->sc_result == 0)
                np->np_peer_eof = true;
            else if (c->sc_result != RN_ECANCELED)
                pipe_fail(np, "%s", rn_strerror((int)c->sc_result));
        }
        pipe_write_client(np);
        pipe_maybe_done(np);
        break;
    case RN_SOP_CONNECT:
        np = c->sc_user;
        if (np->np_phase != PIPE_CONNECTING)
            break;
        if (c->sc_result < 0) {
            pipe_fail(np, "%s", pipe_connect_error((int)c->sc_result));
            break;
        }
        pipe_established(np);
        break;
    case RN_SOP_ACCEPT:
        np = c->sc_user;
        if (np->np_phase != PIPE_ACCEPTING) {
            break;  /* the exit closes an accepted handle with the rest */
        }
        if (c->sc_result == RN_EAGAIN) {
            char age[32];

            pipe_fail(np, "no connection within %s", rn_fmt_age(np->np_timeout, age,
                                                                sizeof(age)));
            break;
        }
        if (c->sc_result < 0) {
            pipe_fail(np, "accept: %s", rn_strerror((int)c->sc_result));
            break;
        }
        np->np_h = (int)c->sc_result;
        pipe_established(np);
        break;
    case RN_SOP_CLOSE:
    default:
        return;
    }
    pipe_want(np);
    pipe_try_finish(np);
}

/* ---- Commands -------------------------------------------------------------- */

struct pipe_args {
    struct rn_inaddr pa_addr; /* connect: the peer; accept: the local address
                                 (IPv4 mapped; the IPv4 wildcard if none) */
    uint16_t pa_port;
    rn_time_t pa_timeout;   /* 0: none */
    bool pa_recv_only;
    bool pa_data_fd;        /* connect: the data comes from the request's
                               descriptor */
    bool pa_v6only;         /* accept: IPV6_V6ONLY on the listener */
};

static int parse_port(struct rn_ctl_req *req, const char *s, uint16_t *port)
{
    unsigned long v;
    char *end;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || errno != 0 || *end != '\0' || v == 0 || v > 65535)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "'%s': a port is a number in 1..65535",
                               s);
    *port = (uint16_t)v;
    return 0;
}

static int parse_addr(struct rn_ctl_req *req, const char *s, struct rn_inaddr *addr)
{
    const char *why = NULL;

    if (rn_inaddr_parse(s, addr, &why) != 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "'%s': not an IPv4 or IPv6 address%s%s",
                               s, why ? ": " : "", why ? why : "");
    return 0;
}

/* Parses "POSITIONAL... [--timeout S] [--recv-only] [--addr A]" (--addr
 * only if addr_opt).  Returns 0, or a usage status with the message set. */
static int pipe_parse(struct rn_ctl_req *req, bool is_connect, struct pipe_args *pa)
{
    const char *pos[2] = {NULL, NULL};
    int npos = 0, want = is_connect ? 2 : 1, i, st;

    memset(pa, 0, sizeof(*pa));
    pa->pa_addr = rn_inaddr_v4(0);
    for (i = 1; i < rn__ctl_req_argc(req); i++) {
        const char *a = rn__ctl_req_arg(req, i);

        if (strcmp(a, "--recv-only") == 0) {
            pa->pa_recv_only = true;
        } else if (is_connect && strcmp(a, "--data-fd") == 0) {
            pa->pa_data_fd = true;
        } else if (!is_connect && strcmp(a, "--v6only") == 0) {
            pa->pa_v6only = true;
        } else if (strcmp(a, "--timeout") == 0 || (!is_connect && strcmp(a, "--addr") == 0)) {
            const char *v = rn__ctl_req_arg(req, ++i);

            if (v == NULL)
                return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "%s needs a value", a);
            if (strcmp(a, "--addr") == 0) {
                if ((st = parse_addr(req, v, &pa->pa_addr)) != 0)
                    return st;
            } else {
                char *end;
                double s;

                errno = 0;
                s = strtod(v, &end);
                if (errno != 0 || end == v || *end != '\0' || !isfinite(s) || s < 0 ||
                    s > PIPE_TIMEOUT_MAX)
                    return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--timeout: '%s': must be "
                                           "a number of seconds in [0, %.0f]", v,
                                           PIPE_TIMEOUT_MAX);
                pa->pa_timeout = (rn_time_t)(s * (double)RN_NSEC_PER_SEC);
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "unknown option '%s'", a);
        } else if (npos < want) {
            pos[npos++] = a;
        } else {
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "unexpected argument '%s'", a);
        }
    }
    if (npos < want)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: %s",
                               is_connect ? "connect ADDR PORT [--timeout S] [--recv-only | "
                                            "--data-fd]"
                                          : "accept PORT [--addr A] [--timeout S] [--recv-only]");
    if (pa->pa_recv_only && pa->pa_data_fd)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--data-fd and --recv-only: with "
                               "--recv-only nothing is sent");
    if (is_connect) {
        if ((st = parse_addr(req, pos[0], &pa->pa_addr)) != 0)
            return st;
        if (rn_inaddr_is_any(&pa->pa_addr))
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "'%s': cannot connect to the "
                                   "wildcard address", pos[0]);
        return parse_port(req, pos[1], &pa->pa_port);
    }
    return parse_port(req, pos[0], &pa->pa_port);
}

static struct net_pipe *pipe_new(struct rn__ctl_net *net, struct rn_ctl_req *req,
                                 const char *procname)
{
    struct net_pipe *np = calloc(1, sizeof(*np));
    unsigned i;

    if (np == NULL)
        return NULL;
    np->np_net = net;
    np->np_req = req;
    np->np_dfd = -1;
    for (i = 0; i < PIPE_UP_SLOTS; i++) {
        np->np_up[i].ps_pipe = np;
        np->np_up[i].ps_buf = malloc(PIPE_UP_BUF);
        if (np->np_up[i].ps_buf == NULL)
            goto out_free;
    }
    for (i = 0; i < PIPE_DOWN_SLOTS; i++) {
        np->np_down[i].ps_pipe = np;
        np->np_down[i].ps_buf = malloc(PIPE_DOWN_BUF);
        if (np->np_down[i].ps_buf == NULL)
            goto out_free;
    }
    if (rn_proc_create(net->cn_stack, procname, &np->np_proc) != 0)
        goto out_free;
    np->np_next = net->cn_pipes;
    if (net->cn_pipes != NULL)
        net->cn_pipes->np_prev = np;
    net->cn_pipes = np;
    net->cn_npipes++;
    return np;

out_free:
    for (i = 0; i < PIPE_UP_SLOTS; i++)
        free(np->np_up[i].ps_buf);
    for (i = 0; i < PIPE_DOWN_SLOTS; i++)
        free(np->np_down[i].ps_buf);
    free(np);
    return NULL;
}

/* Common checks of connect and accept.  Returns 0 or the status to return
 * with the message set. */
static int pipe_admit(struct rn__ctl_net *net, struct rn_ctl_req *req)
{
    if (!rn__ctl_req_can_stream(req))
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "needs a client that takes the "
                               "streaming mode (request flag 0x2): `refnet send`, `refnet recv` "
                               "or `refnet get`");
    if (net->cn_stopping)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "the daemon is shutting down");
    if (net->cn_npipes >= PIPE_MAX)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "%d transfers run already; try again",
                               PIPE_MAX);
    return 0;
}

/* A pipe whose set-up failed before any request was submitted: the
 * process exits and the request completes with the message, once it is
 * released. */
static int pipe_setup_failed(struct net_pipe *np, int err, const char *what)
{
    pipe_fail(np, "%s: %s", what, rn_strerror(err));
    return RN_CTL_PENDING;
}

/* --data-fd: takes the request's descriptor, if it is one the loop can
 * read (a pipe or a socket, open for reading), non-blocking.  Returns it,
 * or -1 with the request failed (*st). */
static int pipe_data_fd(struct rn_ctl_req *req, int *st)
{
    int fd = rn__ctl_req_take_fd(req), fl;
    struct stat sb;

    if (fd < 0) {
        *st = rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--data-fd: no descriptor came with "
                              "the request (SCM_RIGHTS)");
        return -1;
    }
    if (fstat(fd, &sb) != 0 || (!S_ISFIFO(sb.st_mode) && !S_ISSOCK(sb.st_mode))) {
        *st = rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--data-fd: the descriptor is not a pipe "
                              "or a socket");
    } else if ((fl = fcntl(fd, F_GETFL)) < 0 || (fl & O_ACCMODE) == O_WRONLY) {
        *st = rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--data-fd: the descriptor is not open "
                              "for reading");
    } else if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
        *st = rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "--data-fd: %s", strerror(errno));
    } else {
        return fd;
    }
    close(fd);
    return -1;
}

static int cmd_connect(struct rn_ctl_req *req, void *ctx)
{
    struct rn__ctl_net *net = ctx;
    struct rn_sockaddr_in to;
    struct pipe_args pa;
    struct net_pipe *np;
    int st, h, type, dfd = -1;

    if ((st = pipe_admit(net, req)) != 0 || (st = pipe_parse(req, true, &pa)) != 0)
        return st;
    if (pa.pa_data_fd && (dfd = pipe_data_fd(req, &st)) < 0)
        return st;
    np = pipe_new(net, req, "ctl connect");
    if (np == NULL) {
        if (dfd >= 0)
            close(dfd);
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory");
    }
    np->np_dfd = dfd;
    np->np_by_fd = dfd >= 0;
    to = sin_of(&pa.pa_addr, pa.pa_port, &type);
    fmt_sin(&to, np->np_what, sizeof(np->np_what));
    np->np_recv_only = pa.pa_recv_only;
    np->np_timeout = pa.pa_timeout;
    np->np_phase = PIPE_CONNECTING;
    rn__ctl_req_on_cancel(req, pipe_cancelled, np);
    h = rn_sock_open(np->np_proc, type, 0);
    if (h < 0)
        return pipe_setup_failed(np, h, "socket");
    np->np_h = h;
    st = pipe_submit(np, RN_SOP_CONNECT, h, NULL, 0, &to, pa.pa_timeout, np);
    if (st != 0)
        return pipe_setup_failed(np, st, "connect");
    return RN_CTL_PENDING;
}

static int cmd_accept(struct rn_ctl_req *req, void *ctx)
{
    struct rn__ctl_net *net = ctx;
    struct rn_sockaddr_in local;
    struct pipe_args pa;
    struct net_pipe *np;
    char where[RN_IP6_STRLEN + 8];
    int st, h, type;

    if ((st = pipe_admit(net, req)) != 0 || (st = pipe_parse(req, false, &pa)) != 0)
        return st;
    np = pipe_new(net, req, "ctl accept");
    if (np == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory");
    snprintf(np->np_what, sizeof(np->np_what), "port %u", pa.pa_port);
    np->np_recv_only = pa.pa_recv_only;
    np->np_timeout = pa.pa_timeout;
    np->np_phase = PIPE_ACCEPTING;
    rn__ctl_req_on_cancel(req, pipe_cancelled, np);
    local = sin_of(&pa.pa_addr, pa.pa_port, &type);
    h = rn_sock_open(np->np_proc, type, 0);
    if (h < 0)
        return pipe_setup_failed(np, h, "socket");
    np->np_lh = h;
    st = pa.pa_v6only ? rn_sock_setopt(np->np_proc, h, RN_IPV6_V6ONLY, 1) : 0;
    if (st == 0)
        st = rn_sock_bind(np->np_proc, h, &local);
    if (st == 0)
        st = rn_sock_listen(np->np_proc, h, 1);
    if (st != 0)
        return pipe_setup_failed(np, st, "listen");
    /* The go now: the client learns that refnet listens, and its
     * hangup cancels the wait for a peer. */
    fmt_sin(&local, where, sizeof(where));
    rn_strbuf_printf(rn__ctl_req_out(req), "listening on %s\n", where);
    st = rn__ctl_req_go(req, pipe_stream_io, np);
    if (st != 0) {
        np->np_client_gone = st == RN_ENOTCONN;
        pipe_end(np, RN_CTL_EXIT_FAIL, true);
        return RN_CTL_PENDING;
    }
    np->np_go = true;
    st = pipe_submit(np, RN_SOP_ACCEPT, h, NULL, 0, NULL, pa.pa_timeout, np);
    if (st != 0)
        return pipe_setup_failed(np, st, "accept");
    return RN_CTL_PENDING;
}

static const struct rn_ctl_cmd net_cmds[] = {
    {"connect", cmd_connect, "connect ADDR PORT [--timeout S] [--recv-only | --data-fd]"},
    {"accept", cmd_accept, "accept PORT [--addr A [--v6only]] [--timeout S] [--recv-only]"},
};

/* ---- Set-up and shutdown --------------------------------------------------- */

struct rn__ctl_net *rn__ctl_net_new(struct rn_loop *loop, struct rn_stack *st)
{
    struct rn__ctl_net *net = calloc(1, sizeof(*net));

    if (net != NULL) {
        net->cn_loop = loop;
        net->cn_stack = st;
    }
    return net;
}

int rn__ctl_add_net_cmds(struct rn_ctl_server *srv, struct rn__ctl_net *net)
{
    return rn__ctl_server_add(srv, net_cmds, sizeof(net_cmds) / sizeof(net_cmds[0]), net);
}

void rn__ctl_net_stop(struct rn__ctl_net *net, void (*done)(void *ctx), void *ctx)
{
    struct net_pipe *np, *next;

    net->cn_stopping = true;
    net->cn_stop_done = done;
    net->cn_stop_ctx = ctx;
    if (net->cn_npipes == 0) {
        net->cn_stop_done = NULL;
        if (done != NULL)
            done(ctx);
        return;
    }
    for (np = net->cn_pipes; np != NULL; np = next) {
        next = np->np_next;
        pipe_fail(np, "the daemon is shutting down");
    }
}

unsigned rn__ctl_net_count(const struct rn__ctl_net *net)
{
    return net->cn_npipes;
}

void rn__ctl_net_free(struct rn__ctl_net *net)
{
    if (net == NULL)
        return;
    /* Pipes left after the stack was destroyed: their processes are gone
     * or leaked (and reported); their memory goes now. */
    while (net->cn_pipes != NULL) {
        struct net_pipe *np = net->cn_pipes;

        if (np->np_phase == PIPE_ENDING)
            (void)rn_ob_wait_cancel(&np->np_wait);
        if (np->np_req != NULL) {
            struct rn_ctl_req *req = np->np_req;

            np->np_req = NULL;
            rn__ctl_req_complete(req, RN_CTL_EXIT_FAIL);
        }
        net->cn_stop_done = NULL;
        pipe_free(np);
    }
    free(net);
}
