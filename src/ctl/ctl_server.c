/*
 * The control server (ctl.h): a UNIX stream socket served on the loop
 * thread.
 *
 * Per connection, one request at a time:
 *   EPOLLIN -> conn_read() -> rn_ctl_reader (whole frame) ->
 *   rn__ctl_request_decode() -> ctl_dispatch() -> handler -> [later]
 *   rn__ctl_req_complete() -> conn_queue_reply() -> EPOLLOUT -> conn_flush()
 * The connection reads only the bytes of the frame in hand, and reads no
 * further request until the reply to the last one has been written, so a
 * client that pipelines requests and never reads costs one reply of memory.
 * A malformed request gets one error reply (status 2) and the connection is
 * closed once it is written; the server keeps serving everyone else.
 *
 * Lifetime of a request (an object of type "ctl request"):
 *   create      held by the handler until rn__ctl_req_complete() kills it;
 *   ctl.conn    held by the connection while it waits for the reply;
 *   ctl.dispatch held around the handler call, so a handler that completes
 *               its request before returning does not free it under us.
 * A client that disconnects detaches its connection from the request (the
 * cancel callback runs, ctl.conn is dropped); the handler's completion then
 * finds no connection and only releases the request.
 *
 * Streaming mode (ctl.h): rn__ctl_req_go() queues the go reply and marks the
 * connection streaming; from then on conn_io() -> conn_stream_io() hands
 * its readiness to the handler's stream function, which moves bytes with
 * rn__ctl_req_stream_read() and rn__ctl_req_stream_write() (each chunk's
 * length goes out in front of its data, in one sendmsg).  Bytes the server
 * itself owes (the go, a length split by a short write, the end chunk, the
 * trailer) sit in cn_out and always go out before more data.  Completing
 * the request queues the end chunk if not sent yet and the trailer, and
 * the connection closes once they are written.
 */
#include <assert.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "ctl/render.h"
#include "refnet/error.h"
#include "refnet/loop.h"
#include "refnet/object.h"
#include "refnet/report.h"
#include "refnet/strbuf.h"

/* Connections accepted per wake of the listener, so a flood of connects
 * cannot hold the loop. */
#define CTL_ACCEPT_BATCH 16
/* Reads per wake of one connection (the rest waits for the next wake). */
#define CTL_READ_BATCH 16
/* How long accepting pauses after the process ran out of fds. */
#define CTL_ACCEPT_PAUSE RN_SEC(1)

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct ctl_table {
    struct ctl_table *ct_next;      /* [L] next table, in the order added */
    const struct rn_ctl_cmd *ct_cmds; /* [I] the caller's lines */
    size_t ct_n;                    /* [I] how many */
    void *ct_ctx;                   /* [I] handed to their handlers */
};

struct ctl_conn {
    struct ctl_conn *cn_next;       /* [L] cs_conns */
    struct ctl_conn *cn_prev;       /* [L] */
    struct rn_ctl_server *cn_srv;   /* [I] */
    int cn_fd;                      /* [I] the accepted socket, owned */
    int cn_pid;                     /* [I] the peer's pid, 0 if unknown */
    uint32_t cn_events;             /* [L] events asked of the loop now */
    struct rn_ctl_reader cn_rd;     /* [L] the request being received */
    struct rn_ctl_req *cn_req;      /* [L] request awaiting its reply;
                                       holds a ctl.conn reference */
    uint8_t *cn_out;                /* [L] reply being written, or NULL */
    size_t cn_out_len;              /* [L] its bytes */
    size_t cn_out_off;              /* [L] bytes written, <= cn_out_len */
    bool cn_closing;                /* [L] close once cn_out is written */
    struct rn_timer cn_idle;        /* [L] closes a connection that stalls */
    bool cn_streaming;              /* [L] cn_req went streaming and has not
                                       completed: readiness goes to cn_sfn */
    rn_ctl_stream_fn cn_sfn;        /* [L] the stream's function */
    void *cn_sctx;                  /* [L] its context */
    uint32_t cn_swant;              /* [L] EPOLLIN | EPOLLOUT it wants */
    uint32_t cn_chunk_left;         /* [L] data bytes promised by the last
                                       chunk length and not yet written */
    bool cn_stream_eof;             /* [L] the end chunk is queued or sent */
    bool cn_stream_broken;          /* [L] a chunk could not be finished:
                                       no trailer can follow */
    int cn_passed;                  /* [L] a descriptor that came with the
                                       request being read (SCM_RIGHTS), or -1 */
    bool cn_passed_extra;           /* [L] more than one came with it */
};

struct rn_ctl_server {
    struct rn_loop *cs_loop;        /* [I] the loop it is served on */
    int cs_fd;                      /* [I] the listening socket */
    char cs_path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* [I] */
    dev_t cs_dev;                   /* [I] the socket file we created, */
    ino_t cs_ino;                   /* [I] so close removes only it */
    uid_t cs_uid;                   /* [I] our euid: peers must be it or root */
    struct ctl_table *cs_tables;    /* [L] command tables */
    struct ctl_table *cs_tables_tail; /* [L] last of them */
    struct ctl_conn *cs_conns;      /* [L] open connections */
    size_t cs_nconns;               /* [L] how many */
    uint64_t cs_requests;           /* [L] requests completed */
    struct rn_ctl_req *cs_pending;  /* [L] requests not yet completed */
    struct rn_timer cs_accept_timer; /* [L] resumes accepting after EMFILE */
};

struct rn_ctl_req {
    struct rn_ctl_req *cr_next;     /* [L] cs_pending until completed */
    struct rn_ctl_req *cr_prev;     /* [L] */
    struct rn_ctl_server *cr_srv;   /* [L] NULL once the server closed */
    struct ctl_conn *cr_conn;       /* [L] NULL once replied or the client left */
    char **cr_argv;                 /* [I] arguments, then NULL; owned */
    int cr_argc;                    /* [I] >= 1 */
    uint32_t cr_flags;              /* [I] RN_CTL_F_* */
    int cr_pid;                     /* [I] the client's pid, 0 if unknown */
    struct rn_strbuf cr_out;        /* [L] the reply text */
    bool cr_done;                   /* [L] completed */
    void (*cr_cancel_fn)(struct rn_ctl_req *req, void *ctx); /* [L] */
    void *cr_cancel_ctx;            /* [L] */
    int cr_passed;                  /* [L] the descriptor that came with it
                                       until a handler takes it, or -1;
                                       closed when the request completes */
};

/* Closes the descriptor that came with req, unless a handler took it. */
static void req_close_passed(struct rn_ctl_req *req)
{
    if (req->cr_passed >= 0)
        close(req->cr_passed);
    req->cr_passed = -1;
}

static void ctl_req_release(void *ob)
{
    struct rn_ctl_req *req = ob;

    req_close_passed(req);
    free(req->cr_argv);
    rn_strbuf_free(&req->cr_out);
}

static void ctl_req_describe(const void *ob, char *buf, size_t len)
{
    const struct rn_ctl_req *req = ob;
    size_t off;
    int i;

    off = (size_t)snprintf(buf, len, "ctl request '");
    for (i = 0; req->cr_argv != NULL && i < req->cr_argc && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "", req->cr_argv[i]);
    if (off < len)
        snprintf(buf + off, len - off, "' from pid %d", req->cr_pid);
}

static const struct rn_ob_type_ops ctl_req_ops = {
    .name = "ctl request",
    .size = sizeof(struct rn_ctl_req),
    .release = ctl_req_release,
    .describe = ctl_req_describe,
};

static struct rn_ob_type *ctl_req_type;
static rn_tag_t tag_conn;
static rn_tag_t tag_dispatch;

static void ctl_conn_close(struct ctl_conn *conn);
static int ctl_builtin_ping(struct rn_ctl_req *req, void *ctx);

static const struct rn_ctl_cmd ctl_builtin_cmds[] = {
    {"ping-ctl", ctl_builtin_ping, "ping-ctl"},
};

/* ---- Connections -------------------------------------------------------- */

static bool conn_wants_input(const struct ctl_conn *conn)
{
    return !conn->cn_closing && conn->cn_req == NULL && conn->cn_out == NULL;
}

static void conn_update_events(struct ctl_conn *conn)
{
    uint32_t ev = 0;

    if (conn_wants_input(conn))
        ev |= EPOLLIN;
    if (conn->cn_out != NULL)
        ev |= EPOLLOUT;
    if (conn->cn_streaming)
        ev |= conn->cn_swant & (EPOLLIN | EPOLLOUT);
    if (ev != conn->cn_events && rn_loop_mod_fd(conn->cn_srv->cs_loop, conn->cn_fd, ev) == 0)
        conn->cn_events = ev;
}

static void conn_touch(struct ctl_conn *conn)
{
    struct rn_loop *loop = conn->cn_srv->cs_loop;

    /* A timer that cannot be armed only loses the idle close. */
    (void)rn_loop_timer_arm(loop, &conn->cn_idle, rn_loop_now(loop) + RN_CTL_IDLE_TIMEOUT);
}

static void conn_idle_fired(struct rn_timer *t, rn_time_t now)
{
    struct ctl_conn *conn = container_of(t, struct ctl_conn, cn_idle);

    (void)now;
    if (conn->cn_req != NULL)
        return; /* a pending request is not idleness */
    ctl_conn_close(conn);
}

/* Appends prefix (plen bytes, may be 0) and one reply frame to what the
 * connection is writing.  If memory runs out, the connection closes. */
static void conn_queue_frame(struct ctl_conn *conn, const uint8_t *prefix, size_t plen,
                             int status, const char *text, size_t len)
{
    static const char too_big[] = "refnet: the reply exceeds the control protocol's limit\n";
    static const char no_mem[] = "refnet: the daemon ran out of memory for the reply\n";
    size_t keep = conn->cn_out ? conn->cn_out_len - conn->cn_out_off : 0;
    uint8_t *buf;

    if (len > RN_CTL_REPLY_MAX - RN_CTL_REPLY_HEAD_LEN) {
        status = RN_CTL_EXIT_FAIL;
        text = too_big;
        len = sizeof(too_big) - 1;
    }
    buf = malloc(keep + plen + RN_CTL_HDR_LEN + RN_CTL_REPLY_HEAD_LEN + len);
    if (buf == NULL && len > sizeof(no_mem)) {
        status = RN_CTL_EXIT_FAIL;
        text = no_mem;
        len = sizeof(no_mem) - 1;
        buf = malloc(keep + plen + RN_CTL_HDR_LEN + RN_CTL_REPLY_HEAD_LEN + len);
    }
    if (buf == NULL) {
        conn->cn_closing = true;
        return;
    }
    if (keep > 0)
        memcpy(buf, conn->cn_out + conn->cn_out_off, keep);
    if (plen > 0)
        memcpy(buf + keep, prefix, plen);
    (void)rn__ctl_reply_header(buf + keep + plen, status, len);
    if (len > 0)
        memcpy(buf + keep + plen + RN_CTL_HDR_LEN + RN_CTL_REPLY_HEAD_LEN, text, len);
    free(conn->cn_out);
    conn->cn_out = buf;
    conn->cn_out_len = keep + plen + RN_CTL_HDR_LEN + RN_CTL_REPLY_HEAD_LEN + len;
    conn->cn_out_off = 0;
}

/* Queues one reply.  The connection must have none being written. */
static void conn_queue_reply(struct ctl_conn *conn, int status, const char *text, size_t len)
{
    assert(conn->cn_out == NULL);
    conn_queue_frame(conn, NULL, 0, status, text, len);
}

/* Appends raw bytes (a chunk length, the end chunk) to what the
 * connection is writing.  Returns 0 or RN_ENOMEM. */
static int conn_queue_bytes(struct ctl_conn *conn, const uint8_t *bytes, size_t len)
{
    size_t keep = conn->cn_out ? conn->cn_out_len - conn->cn_out_off : 0;
    uint8_t *buf = malloc(keep + len);

    if (buf == NULL)
        return RN_ENOMEM;
    if (keep > 0)
        memcpy(buf, conn->cn_out + conn->cn_out_off, keep);
    memcpy(buf + keep, bytes, len);
    free(conn->cn_out);
    conn->cn_out = buf;
    conn->cn_out_len = keep + len;
    conn->cn_out_off = 0;
    return 0;
}

/* Answers a request that broke the protocol, and closes after the answer. */
static void conn_reject(struct ctl_conn *conn, const char *why)
{
    char line[320];
    int n;

    n = snprintf(line, sizeof(line), "refnet: bad control request: %s\n", why);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = (int)strlen(line);
    conn_queue_reply(conn, RN_CTL_EXIT_USAGE, line, (size_t)n);
    conn->cn_closing = true;
}

/* Writes what the socket takes.  Returns 0, or -1 if the peer is gone. */
static int conn_flush(struct ctl_conn *conn)
{
    bool progress = false;

    while (conn->cn_out != NULL && conn->cn_out_off < conn->cn_out_len) {
        ssize_t n = send(conn->cn_fd, conn->cn_out + conn->cn_out_off,
                         conn->cn_out_len - conn->cn_out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n > 0) {
            conn->cn_out_off += (size_t)n;
            progress = true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        return -1;
    }
    if (conn->cn_out != NULL && conn->cn_out_off == conn->cn_out_len) {
        free(conn->cn_out);
        conn->cn_out = NULL;
    }
    if (progress)
        conn_touch(conn);
    return 0;
}

static const struct rn_ctl_cmd *ctl_find(struct rn_ctl_server *srv, const char *name,
                                         void **ctx)
{
    struct ctl_table *t;
    size_t i;

    for (t = srv->cs_tables; t != NULL; t = t->ct_next) {
        for (i = 0; i < t->ct_n; i++) {
            if (strcmp(t->ct_cmds[i].cc_name, name) == 0) {
                *ctx = t->ct_ctx;
                return &t->ct_cmds[i];
            }
        }
    }
    return NULL;
}

static void ctl_unknown(struct rn_ctl_server *srv, struct rn_ctl_req *req)
{
    struct ctl_table *t;
    size_t i;
    bool first = true;

    rn_strbuf_reset(&req->cr_out);
    rn_strbuf_printf(&req->cr_out, "refnet: unknown command '%s' (the daemon answers:",
                     req->cr_argv[0]);
    for (t = srv->cs_tables; t != NULL; t = t->ct_next) {
        for (i = 0; i < t->ct_n; i++) {
            rn_strbuf_printf(&req->cr_out, "%s %s", first ? "" : ",", t->ct_cmds[i].cc_name);
            first = false;
        }
    }
    rn_strbuf_puts(&req->cr_out, ")\n");
}

/* Makes a request object of a decoded request (taking its argv) and runs
 * its handler. */
static void ctl_dispatch(struct ctl_conn *conn, struct rn_ctl_request *rq)
{
    struct rn_ctl_server *srv = conn->cn_srv;
    const struct rn_ctl_cmd *cmd;
    struct rn_ctl_req *req;
    void *ctx = NULL;
    int status;

    req = rn_ob_create(ctl_req_type, RN_TAG_CREATE);
    if (req == NULL) {
        static const char no_mem[] = "refnet: the daemon ran out of memory\n";

        rn__ctl_request_free(rq);
        if (conn->cn_passed >= 0)
            close(conn->cn_passed);
        conn->cn_passed = -1;
        conn->cn_passed_extra = false;
        conn_queue_reply(conn, RN_CTL_EXIT_FAIL, no_mem, sizeof(no_mem) - 1);
        return;
    }
    req->cr_srv = srv;
    req->cr_argv = rq->rq_argv;
    req->cr_argc = rq->rq_argc;
    req->cr_flags = rq->rq_flags;
    req->cr_pid = conn->cn_pid;
    req->cr_passed = conn->cn_passed;
    conn->cn_passed = -1;
    rn_strbuf_init(&req->cr_out);
    rq->rq_argv = NULL;
    (void)rn_ob_ref(req, tag_conn);
    (void)rn_ob_ref(req, tag_dispatch);
    rn_ob_publish(req);
    req->cr_conn = conn;
    conn->cn_req = req;
    req->cr_next = srv->cs_pending;
    if (srv->cs_pending != NULL)
        srv->cs_pending->cr_prev = req;
    srv->cs_pending = req;
    /* Waiting for a handler is not idleness. */
    rn_loop_timer_cancel(srv->cs_loop, &conn->cn_idle);

    cmd = ctl_find(srv, req->cr_argv[0], &ctx);
    if (conn->cn_passed_extra) {
        conn->cn_passed_extra = false;
        status = rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "more than one descriptor came with "
                                 "the request (a request takes one at most)");
    } else if (cmd == NULL) {
        ctl_unknown(srv, req);
        status = RN_CTL_EXIT_USAGE;
    } else {
        status = cmd->cc_fn(req, ctx);
    }
    if (status != RN_CTL_PENDING)
        rn__ctl_req_complete(req, status);
    (void)rn_ob_deref(req, tag_dispatch);
}

static void conn_request(struct ctl_conn *conn)
{
    struct rn_ctl_request rq;
    const uint8_t *payload;
    char why[200];
    uint32_t len;

    payload = rn__ctl_reader_payload(&conn->cn_rd, &len);
    if (rn__ctl_request_decode(payload, len, &rq, why, sizeof(why)) != 0) {
        conn_reject(conn, why);
        return;
    }
    rn__ctl_reader_reset(&conn->cn_rd);
    ctl_dispatch(conn, &rq);
}

/* Descriptors one recvmsg() takes in; the kernel closes any beyond
 * (MSG_CTRUNC). */
#define CTL_PASSED_ROOM 4

/* recv() of the request's bytes, keeping a descriptor passed with them
 * (SCM_RIGHTS) for the request: the first one; any further one is closed
 * and fails the request. */
static ssize_t conn_recv(struct ctl_conn *conn, void *buf, size_t len)
{
    union {
        char buf[CMSG_SPACE(CTL_PASSED_ROOM * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *c;
    ssize_t n = recvmsg(conn->cn_fd, &msg, MSG_CMSG_CLOEXEC);

    if (n < 0)
        return n;
    if (msg.msg_flags & MSG_CTRUNC)
        conn->cn_passed_extra = true;
    for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        size_t i, k;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (i = 0; i < k; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
            if (conn->cn_passed < 0) {
                conn->cn_passed = fd;
            } else {
                close(fd);
                conn->cn_passed_extra = true;
            }
        }
    }
    return n;
}

/* Reads toward the next request.  Returns 0, or -1 if the connection must
 * close now. */
static int conn_read(struct ctl_conn *conn)
{
    char why[200];
    int k, r;

    for (k = 0; k < CTL_READ_BATCH && conn_wants_input(conn); k++) {
        uint8_t *where;
        size_t space = rn__ctl_reader_space(&conn->cn_rd, &where);
        ssize_t n;

        if (where == NULL) {
            (void)rn__ctl_reader_advance(&conn->cn_rd, 0, why, sizeof(why));
            conn_reject(conn, why);
            return 0;
        }
        n = conn_recv(conn, where, space);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -1;
        }
        if (n == 0) {
            if (rn__ctl_reader_partial(&conn->cn_rd)) {
                snprintf(why, sizeof(why), "truncated: the client stopped sending after %u "
                         "header and %u payload bytes", conn->cn_rd.rd_hdr_have,
                         conn->cn_rd.rd_have);
                conn_reject(conn, why);
            } else {
                conn->cn_closing = true;
            }
            return 0;
        }
        conn_touch(conn);
        r = rn__ctl_reader_advance(&conn->cn_rd, (size_t)n, why, sizeof(why));
        if (r < 0) {
            conn_reject(conn, why);
            return 0;
        }
        if (r == 1)
            conn_request(conn);
    }
    return 0;
}

/* Finishes a wake of a connection: writes what is queued, closes it if
 * it is done, and asks the loop for what it waits for. */
static void conn_settle(struct ctl_conn *conn)
{
    if (conn->cn_out != NULL && conn_flush(conn) != 0) {
        ctl_conn_close(conn);
        return;
    }
    if (conn->cn_closing && conn->cn_out == NULL && conn->cn_req == NULL) {
        ctl_conn_close(conn);
        return;
    }
    conn_update_events(conn);
}

/* A wake of a streaming connection: the server's own bytes first, then
 * the handler's stream function with what it asked for. */
static void conn_stream_io(struct ctl_conn *conn, uint32_t events)
{
    uint32_t ready;

    if (events & (EPOLLHUP | EPOLLERR)) {
        /* The client is gone (or the stream broke): cancel. */
        ctl_conn_close(conn);
        return;
    }
    if ((events & EPOLLOUT) && conn->cn_out != NULL && conn_flush(conn) != 0) {
        ctl_conn_close(conn);
        return;
    }
    ready = events & conn->cn_swant & (EPOLLIN | EPOLLOUT);
    if (conn->cn_out != NULL)
        ready &= ~(uint32_t)EPOLLOUT;
    /* The function may complete the request (which never closes the
     * connection under us); the connection is still ours afterwards. */
    if (ready != 0 && conn->cn_streaming)
        conn->cn_sfn(conn->cn_req, ready, conn->cn_sctx);
    conn_settle(conn);
}

static void conn_io(struct rn_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct ctl_conn *conn = ctx;

    (void)loop;
    (void)fd;
    if (conn->cn_streaming) {
        conn_stream_io(conn, events);
        return;
    }
    if (events & (EPOLLHUP | EPOLLERR)) {
        /* The client is gone: nobody is left to read a reply. */
        ctl_conn_close(conn);
        return;
    }
    if ((events & EPOLLOUT) && conn_flush(conn) != 0) {
        ctl_conn_close(conn);
        return;
    }
    if ((events & EPOLLIN) && conn_wants_input(conn) && conn_read(conn) != 0) {
        ctl_conn_close(conn);
        return;
    }
    /* A reply produced by a handler just now goes out without another
     * wake when the socket takes it. */
    conn_settle(conn);
}

/* Reads and drops what the client sent and we will not read (the rest of a
 * rejected request), a bounded amount: closing a UNIX socket with unread
 * input resets the peer instead of giving it a clean end of stream. */
static void conn_discard_input(struct ctl_conn *conn)
{
    char buf[4096];
    int i;

    for (i = 0; i < 16; i++) {
        if (recv(conn->cn_fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
            break;
    }
}

static void ctl_conn_close(struct ctl_conn *conn)
{
    struct rn_ctl_server *srv = conn->cn_srv;
    struct rn_ctl_req *req = conn->cn_req;

    (void)rn_loop_del_fd(srv->cs_loop, conn->cn_fd);
    conn_discard_input(conn);
    close(conn->cn_fd);
    rn_loop_timer_cancel(srv->cs_loop, &conn->cn_idle);
    if (req != NULL) {
        void (*fn)(struct rn_ctl_req *, void *) = req->cr_cancel_fn;

        conn->cn_req = NULL;
        conn->cn_streaming = false;
        req->cr_conn = NULL;
        req->cr_cancel_fn = NULL;
        if (fn != NULL)
            fn(req, req->cr_cancel_ctx);
        (void)rn_ob_deref(req, tag_conn);
    }
    if (conn->cn_prev != NULL)
        conn->cn_prev->cn_next = conn->cn_next;
    else
        srv->cs_conns = conn->cn_next;
    if (conn->cn_next != NULL)
        conn->cn_next->cn_prev = conn->cn_prev;
    srv->cs_nconns--;
    if (conn->cn_passed >= 0)
        close(conn->cn_passed);
    rn__ctl_reader_fini(&conn->cn_rd);
    free(conn->cn_out);
    free(conn);
}

/* Answers fd with one error frame, without waiting, and closes it. */
static void ctl_refuse(int fd, const char *text)
{
    uint8_t buf[RN_CTL_HDR_LEN + RN_CTL_REPLY_HEAD_LEN + 200];
    size_t len = strlen(text);

    if (len > 200)
        len = 200;
    (void)rn__ctl_reply_header(buf, RN_CTL_EXIT_FAIL, len);
    memcpy(buf + RN_CTL_HDR_LEN + RN_CTL_REPLY_HEAD_LEN, text, len);
    (void)send(fd, buf, RN_CTL_HDR_LEN + RN_CTL_REPLY_HEAD_LEN + len,
               MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
}

static void ctl_conn_new(struct rn_ctl_server *srv, int fd)
{
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    struct ctl_conn *conn;
    char line[160];

    memset(&cred, 0, sizeof(cred));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && cred.uid != 0 &&
        cred.uid != srv->cs_uid) {
        snprintf(line, sizeof(line), "refnet: uid %u may not control this daemon\n",
                 (unsigned)cred.uid);
        ctl_refuse(fd, line);
        return;
    }
    if (srv->cs_nconns >= RN_CTL_CONN_MAX) {
        snprintf(line, sizeof(line), "refnet: the daemon serves %d control connections "
                 "already; try again\n", RN_CTL_CONN_MAX);
        ctl_refuse(fd, line);
        return;
    }
    conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        ctl_refuse(fd, "refnet: the daemon ran out of memory\n");
        return;
    }
    conn->cn_srv = srv;
    conn->cn_fd = fd;
    conn->cn_pid = (int)cred.pid;
    conn->cn_passed = -1;
    conn->cn_events = EPOLLIN;
    rn__ctl_reader_init(&conn->cn_rd, RN_CTL_REQ_MAX);
    rn_timer_init(&conn->cn_idle, conn_idle_fired);
    if (rn_loop_add_fd(srv->cs_loop, fd, EPOLLIN, conn_io, conn) != 0) {
        rn__ctl_reader_fini(&conn->cn_rd);
        free(conn);
        ctl_refuse(fd, "refnet: the daemon cannot watch another connection\n");
        return;
    }
    conn->cn_next = srv->cs_conns;
    if (srv->cs_conns != NULL)
        srv->cs_conns->cn_prev = conn;
    srv->cs_conns = conn;
    srv->cs_nconns++;
    conn_touch(conn);
}

static void ctl_accept_resume(struct rn_timer *t, rn_time_t now)
{
    struct rn_ctl_server *srv = container_of(t, struct rn_ctl_server, cs_accept_timer);

    (void)now;
    (void)rn_loop_mod_fd(srv->cs_loop, srv->cs_fd, EPOLLIN);
}

static void ctl_accept(struct rn_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct rn_ctl_server *srv = ctx;
    int i;

    (void)events;
    for (i = 0; i < CTL_ACCEPT_BATCH; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (cfd >= 0) {
            ctl_conn_new(srv, cfd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EAGAIN)
            return;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* The pending connection stays queued; level-triggered epoll
             * would spin on it, so stop listening for a while. */
            rn_report(RN_REPORT_INFO, "ctl: cannot accept on %s: %s; pausing for 1s\n",
                      srv->cs_path, strerror(errno));
            (void)rn_loop_mod_fd(loop, fd, 0);
            (void)rn_loop_timer_arm(loop, &srv->cs_accept_timer,
                                    rn_loop_now(loop) + CTL_ACCEPT_PAUSE);
            return;
        }
        rn_report(RN_REPORT_INFO, "ctl: accept on %s failed: %s\n", srv->cs_path,
                  strerror(errno));
        return;
    }
}

/* ---- Opening and closing ------------------------------------------------ */

static void srv_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void srv_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Clears the way for a new socket at path: refuses if a server answers
 * there or a non-socket file is there; removes a stale socket. */
static int ctl_claim_path(const struct sockaddr_un *sun, char *err, size_t errlen)
{
    const char *path = sun->sun_path;
    struct stat stb;
    int fd, e;

    if (lstat(path, &stb) != 0) {
        if (errno == ENOENT)
            return 0;
        srv_err(err, errlen, "control socket %s: %s", path, strerror(errno));
        return RN_EIO;
    }
    if (!S_ISSOCK(stb.st_mode)) {
        srv_err(err, errlen, "control socket %s: a file that is not a socket is in the way; "
                "not replacing it", path);
        return RN_EEXIST;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        srv_err(err, errlen, "cannot create a socket: %s", strerror(errno));
        return RN_EIO;
    }
    e = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 ? 0 : errno;
    close(fd);
    if (e == 0 || e == EAGAIN) {
        srv_err(err, errlen, "control socket %s: another daemon is answering there", path);
        return RN_EADDRINUSE;
    }
    if (e != ECONNREFUSED) {
        srv_err(err, errlen, "control socket %s: cannot tell whether it is in use: %s", path,
                strerror(e));
        return RN_EIO;
    }
    /* Nobody listens: a daemon died without cleaning up. */
    if (unlink(path) != 0 && errno != ENOENT) {
        srv_err(err, errlen, "control socket %s: cannot remove the stale socket: %s", path,
                strerror(errno));
        return RN_EIO;
    }
    return 0;
}

int rn__ctl_server_open(struct rn_loop *loop, const char *path, struct rn_ctl_server **out,
                       char *err, size_t errlen)
{
    struct rn_ctl_server *srv;
    struct sockaddr_un sun;
    struct stat stb;
    int e;

    assert(loop != NULL && out != NULL);
    *out = NULL;
    path = rn__ctl_default_path(path);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
        srv_err(err, errlen, "control socket path '%s' must be 1 to %zu bytes long", path,
                sizeof(sun.sun_path) - 1);
        return RN_EINVAL;
    }
    memcpy(sun.sun_path, path, strlen(path));
    if (ctl_req_type == NULL) {
        static const struct rn_ob_holder holders[] = {
            {"create", 0, 0, 0, "expected: pending until it completes"},
            {"ctl.conn", 0, RN_HOLD_DYING, 0, "expected while its connection lasts"},
            {"ctl.dispatch", 0, RN_HOLD_DYING, 0, "expected while its handler runs"},
        };
        static const struct rn_ob_contract contract = {holders, 3, NULL, 0, 0};

        ctl_req_type = rn_ob_type_register(&ctl_req_ops);
        tag_conn = rn_tag_intern("ctl.conn");
        tag_dispatch = rn_tag_intern("ctl.dispatch");
        if (ctl_req_type == NULL || tag_conn == RN_TAG_NONE || tag_dispatch == RN_TAG_NONE ||
            rn_ob_type_set_contract(ctl_req_type, &contract) < 0) {
            srv_err(err, errlen, "out of memory");
            return RN_ENOMEM;
        }
    }
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        srv_err(err, errlen, "out of memory");
        return RN_ENOMEM;
    }
    srv->cs_loop = loop;
    srv->cs_uid = geteuid();
    memcpy(srv->cs_path, sun.sun_path, sizeof(srv->cs_path));
    rn_timer_init(&srv->cs_accept_timer, ctl_accept_resume);
    e = ctl_claim_path(&sun, err, errlen);
    if (e != 0)
        goto out_free_srv;
    srv->cs_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv->cs_fd < 0) {
        srv_err(err, errlen, "cannot create a socket: %s", strerror(errno));
        e = RN_EIO;
        goto out_free_srv;
    }
    if (bind(srv->cs_fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        srv_err(err, errlen, "cannot bind the control socket %s: %s", path, strerror(errno));
        e = errno == EADDRINUSE ? RN_EADDRINUSE : errno == EACCES ? RN_EACCES : RN_EIO;
        goto out_close_fd;
    }
    /* Owner only, set before listen(): nobody can connect until then. */
    if (chmod(path, 0600) != 0 || stat(path, &stb) != 0) {
        srv_err(err, errlen, "cannot restrict the control socket %s to its owner: %s", path,
                strerror(errno));
        e = RN_EIO;
        goto out_unlink;
    }
    srv->cs_dev = stb.st_dev;
    srv->cs_ino = stb.st_ino;
    if (listen(srv->cs_fd, 64) != 0) {
        srv_err(err, errlen, "cannot listen on the control socket %s: %s", path,
                strerror(errno));
        e = RN_EIO;
        goto out_unlink;
    }
    e = rn_loop_add_fd(loop, srv->cs_fd, EPOLLIN, ctl_accept, srv);
    if (e != 0) {
        srv_err(err, errlen, "cannot watch the control socket: %s", rn_strerror(e));
        goto out_unlink;
    }
    e = rn__ctl_server_add(srv, ctl_builtin_cmds,
                          sizeof(ctl_builtin_cmds) / sizeof(ctl_builtin_cmds[0]), srv);
    if (e != 0) {
        srv_err(err, errlen, "out of memory");
        (void)rn_loop_del_fd(loop, srv->cs_fd);
        goto out_unlink;
    }
    *out = srv;
    return 0;

out_unlink:
    unlink(path);
out_close_fd:
    close(srv->cs_fd);
out_free_srv:
    free(srv);
    return e;
}

void rn__ctl_server_close(struct rn_ctl_server *srv)
{
    struct ctl_table *t;
    struct stat stb;

    if (srv == NULL)
        return;
    /* Pending requests outlive the server: their handlers still complete
     * them, and then find neither server nor connection. */
    while (srv->cs_pending != NULL) {
        struct rn_ctl_req *req = srv->cs_pending;

        srv->cs_pending = req->cr_next;
        req->cr_next = req->cr_prev = NULL;
        req->cr_srv = NULL;
    }
    while (srv->cs_conns != NULL)
        ctl_conn_close(srv->cs_conns);
    (void)rn_loop_del_fd(srv->cs_loop, srv->cs_fd);
    rn_loop_timer_cancel(srv->cs_loop, &srv->cs_accept_timer);
    close(srv->cs_fd);
    /* Remove the socket file only if it is still ours: a daemon started
     * after us on the same path may have replaced it. */
    if (stat(srv->cs_path, &stb) == 0 && stb.st_dev == srv->cs_dev &&
        stb.st_ino == srv->cs_ino)
        unlink(srv->cs_path);
    while ((t = srv->cs_tables) != NULL) {
        srv->cs_tables = t->ct_next;
        free(t);
    }
    free(srv);
}

int rn__ctl_server_add(struct rn_ctl_server *srv, const struct rn_ctl_cmd *cmds, size_t n,
                      void *ctx)
{
    struct ctl_table *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return RN_ENOMEM;
    t->ct_cmds = cmds;
    t->ct_n = n;
    t->ct_ctx = ctx;
    if (srv->cs_tables_tail != NULL)
        srv->cs_tables_tail->ct_next = t;
    else
        srv->cs_tables = t;
    srv->cs_tables_tail = t;
    return 0;
}

const char *rn__ctl_server_path(const struct rn_ctl_server *srv)
{
    return srv->cs_path;
}

struct rn_loop *rn__ctl_server_loop(const struct rn_ctl_server *srv)
{
    return srv->cs_loop;
}

size_t rn__ctl_server_connections(const struct rn_ctl_server *srv)
{
    return srv->cs_nconns;
}

uint64_t rn__ctl_server_requests(const struct rn_ctl_server *srv)
{
    return srv->cs_requests;
}

/* ---- Requests ----------------------------------------------------------- */

int rn__ctl_req_argc(const struct rn_ctl_req *req)
{
    return req->cr_argc;
}

const char *rn__ctl_req_arg(const struct rn_ctl_req *req, int i)
{
    if (i < 0 || i >= req->cr_argc)
        return NULL;
    return req->cr_argv[i];
}

bool rn__ctl_req_json(const struct rn_ctl_req *req)
{
    return (req->cr_flags & RN_CTL_F_JSON) != 0;
}

struct rn_strbuf *rn__ctl_req_out(struct rn_ctl_req *req)
{
    return &req->cr_out;
}

struct rn_ctl_server *rn__ctl_req_server(const struct rn_ctl_req *req)
{
    return req->cr_srv;
}

int rn__ctl_req_pid(const struct rn_ctl_req *req)
{
    return req->cr_pid;
}

int rn__ctl_req_fail(struct rn_ctl_req *req, int status, const char *fmt, ...)
{
    va_list ap;

    rn_strbuf_reset(&req->cr_out);
    rn_strbuf_printf(&req->cr_out, "refnet %s: ", req->cr_argv[0]);
    va_start(ap, fmt);
    rn_strbuf_vprintf(&req->cr_out, fmt, ap);
    va_end(ap);
    rn_strbuf_puts(&req->cr_out, "\n");
    return status;
}

/* Ends a stream at its request's completion: the end chunk unless sent,
 * then the trailer; the connection closes once they are written.  A chunk
 * left unfinished cannot be followed by anything: the connection is shut,
 * and the client sees a stream cut short. */
static void conn_stream_end(struct ctl_conn *conn, struct rn_ctl_req *req, int status)
{
    static const char lost[] = "refnet: the reply was lost: the daemon ran out of memory\n";
    static const uint8_t end[RN_CTL_CHUNK_HDR_LEN] = {0, 0, 0, 0};
    bool send_end = !conn->cn_stream_eof;

    conn->cn_streaming = false;
    conn->cn_swant = 0;
    conn->cn_closing = true;
    if (conn->cn_chunk_left > 0 || conn->cn_stream_broken) {
        (void)shutdown(conn->cn_fd, SHUT_RDWR);
        return;
    }
    conn->cn_stream_eof = true;
    if (req->cr_out.sb_oom)
        conn_queue_frame(conn, end, send_end ? sizeof(end) : 0, RN_CTL_EXIT_FAIL, lost,
                         sizeof(lost) - 1);
    else
        conn_queue_frame(conn, end, send_end ? sizeof(end) : 0, status,
                         req->cr_out.sb_buf ? req->cr_out.sb_buf : "", req->cr_out.sb_len);
}

void rn__ctl_req_complete(struct rn_ctl_req *req, int status)
{
    struct ctl_conn *conn = req->cr_conn;

    assert(!req->cr_done);
    assert(status >= 0 && status <= 255);
    req->cr_done = true;
    req_close_passed(req);
    if (req->cr_srv != NULL) {
        struct rn_ctl_server *srv = req->cr_srv;

        srv->cs_requests++;
        if (req->cr_prev != NULL)
            req->cr_prev->cr_next = req->cr_next;
        else
            srv->cs_pending = req->cr_next;
        if (req->cr_next != NULL)
            req->cr_next->cr_prev = req->cr_prev;
        req->cr_next = req->cr_prev = NULL;
    }
    if (conn != NULL) {
        static const char lost[] = "refnet: the reply was lost: the daemon ran out of memory\n";

        req->cr_conn = NULL;
        conn->cn_req = NULL;
        if (conn->cn_streaming)
            conn_stream_end(conn, req, status);
        else if (req->cr_out.sb_oom)
            conn_queue_reply(conn, RN_CTL_EXIT_FAIL, lost, sizeof(lost) - 1);
        else
            conn_queue_reply(conn, status, req->cr_out.sb_buf ? req->cr_out.sb_buf : "",
                             req->cr_out.sb_len);
        conn_touch(conn);
        /* Written by conn_io() when the socket is writable: completing
         * never closes the connection under a caller. */
        conn_update_events(conn);
        (void)rn_ob_deref(req, tag_conn);
    }
    (void)rn_ob_kill(req);
}

int rn__ctl_req_take_fd(struct rn_ctl_req *req)
{
    int fd = req->cr_passed;

    req->cr_passed = -1;
    return fd;
}

bool rn__ctl_req_connected(const struct rn_ctl_req *req)
{
    return req->cr_conn != NULL;
}

void rn__ctl_req_on_cancel(struct rn_ctl_req *req, void (*fn)(struct rn_ctl_req *req, void *ctx),
                          void *ctx)
{
    req->cr_cancel_fn = fn;
    req->cr_cancel_ctx = ctx;
}

/* ---- Streaming mode ------------------------------------------------------- */

bool rn__ctl_req_can_stream(const struct rn_ctl_req *req)
{
    return (req->cr_flags & RN_CTL_F_STREAM) != 0;
}

int rn__ctl_req_go(struct rn_ctl_req *req, rn_ctl_stream_fn fn, void *ctx)
{
    struct ctl_conn *conn = req->cr_conn;

    assert(fn != NULL && !req->cr_done);
    if (!rn__ctl_req_can_stream(req))
        return RN_EINVAL;
    if (conn == NULL)
        return RN_ENOTCONN;
    if (conn->cn_streaming || conn->cn_stream_eof)
        return RN_EINVAL;
    conn_queue_reply(conn, RN_CTL_STATUS_GO, req->cr_out.sb_buf ? req->cr_out.sb_buf : "",
                     req->cr_out.sb_len);
    if (conn->cn_closing) {
        /* No memory even for the go: the connection goes, which cancels
         * the request. */
        (void)shutdown(conn->cn_fd, SHUT_RDWR);
        return RN_ENOMEM;
    }
    rn_strbuf_reset(&req->cr_out);
    conn->cn_streaming = true;
    conn->cn_sfn = fn;
    conn->cn_sctx = ctx;
    conn->cn_swant = 0;
    conn->cn_chunk_left = 0;
    conn_touch(conn);
    conn_update_events(conn);
    return 0;
}

void rn__ctl_req_stream_want(struct rn_ctl_req *req, uint32_t events)
{
    struct ctl_conn *conn = req->cr_conn;

    if (conn == NULL || !conn->cn_streaming)
        return;
    conn->cn_swant = events & (EPOLLIN | EPOLLOUT);
    conn_update_events(conn);
}

ssize_t rn__ctl_req_stream_read(struct rn_ctl_req *req, void *buf, size_t len)
{
    struct ctl_conn *conn = req->cr_conn;

    if (conn == NULL || !conn->cn_streaming)
        return RN_EPIPE;
    for (;;) {
        ssize_t n = recv(conn->cn_fd, buf, len, MSG_DONTWAIT);

        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN ? RN_EAGAIN : RN_EPIPE;
    }
}

/* Sends from iov without blocking.  Returns the bytes sent, RN_EAGAIN, or
 * RN_EPIPE. */
static ssize_t conn_sendv(struct ctl_conn *conn, struct iovec *iov, int iovcnt)
{
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};

    for (;;) {
        ssize_t n = sendmsg(conn->cn_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN ? RN_EAGAIN : RN_EPIPE;
    }
}

ssize_t rn__ctl_req_stream_write(struct rn_ctl_req *req, const void *buf, size_t len)
{
    struct ctl_conn *conn = req->cr_conn;
    uint8_t hdr[RN_CTL_CHUNK_HDR_LEN];
    struct iovec iov[2];
    uint32_t clen;
    ssize_t n;

    assert(len > 0);
    if (conn == NULL || !conn->cn_streaming || conn->cn_stream_broken)
        return RN_EPIPE;
    assert(!conn->cn_stream_eof);
    if (conn->cn_out != NULL && conn_flush(conn) != 0)
        return RN_EPIPE;
    if (conn->cn_out != NULL)
        return RN_EAGAIN;
    if (conn->cn_chunk_left > 0) {
        iov[0].iov_base = (void *)buf;
        iov[0].iov_len = len < conn->cn_chunk_left ? len : conn->cn_chunk_left;
        n = conn_sendv(conn, iov, 1);
        if (n > 0) {
            conn->cn_chunk_left -= (uint32_t)n;
            conn_touch(conn);
        }
        return n == 0 ? RN_EAGAIN : n;
    }
    clen = len < RN_CTL_CHUNK_MAX ? (uint32_t)len : RN_CTL_CHUNK_MAX;
    hdr[0] = (uint8_t)(clen >> 24);
    hdr[1] = (uint8_t)(clen >> 16);
    hdr[2] = (uint8_t)(clen >> 8);
    hdr[3] = (uint8_t)clen;
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof(hdr);
    iov[1].iov_base = (void *)buf;
    iov[1].iov_len = clen;
    n = conn_sendv(conn, iov, 2);
    if (n < 0)
        return n;
    conn_touch(conn);
    conn->cn_chunk_left = clen;
    if ((size_t)n < sizeof(hdr)) {
        /* The length is promised: the rest of it goes first, from cn_out. */
        if (conn_queue_bytes(conn, hdr + n, sizeof(hdr) - (size_t)n) != 0) {
            conn->cn_stream_broken = true;
            return RN_EPIPE;
        }
        return RN_EAGAIN;
    }
    n -= (ssize_t)sizeof(hdr);
    conn->cn_chunk_left -= (uint32_t)n;
    return n == 0 ? RN_EAGAIN : n;
}

int rn__ctl_req_stream_eof(struct rn_ctl_req *req)
{
    static const uint8_t end[RN_CTL_CHUNK_HDR_LEN] = {0, 0, 0, 0};
    struct ctl_conn *conn = req->cr_conn;

    if (conn == NULL || !conn->cn_streaming || conn->cn_stream_broken)
        return RN_EPIPE;
    assert(conn->cn_chunk_left == 0);
    if (conn->cn_stream_eof)
        return 0;
    if (conn_queue_bytes(conn, end, sizeof(end)) != 0) {
        conn->cn_stream_broken = true;
        return RN_EPIPE;
    }
    conn->cn_stream_eof = true;
    if (conn_flush(conn) != 0) {
        conn->cn_stream_broken = true;
        return RN_EPIPE;
    }
    conn_update_events(conn);
    return 0;
}

/* ---- Built-in commands -------------------------------------------------- */

static int ctl_builtin_ping(struct rn_ctl_req *req, void *ctx)
{
    (void)ctx;
    if (rn__ctl_req_argc(req) != 1)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "takes no arguments");
    if (rn__ctl_req_json(req)) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "pong", json_object_new_boolean(1));
        json_object_object_add(o, "pid", json_object_new_int(getpid()));
        rn__render_json(rn__ctl_req_out(req), o);
        rn_strbuf_puts(rn__ctl_req_out(req), "\n");
    } else
        rn_strbuf_printf(rn__ctl_req_out(req), "pong from pid %d\n", (int)getpid());
    return RN_CTL_EXIT_OK;
}
