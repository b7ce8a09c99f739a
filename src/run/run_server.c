/*
 * The run server (run.h): channels of the processes of programs under
 * `refnet run`, and the pairs that carry their sockets' data.
 *
 * Who is who:
 *   run_proc   a host process: its channel, its refnet process (rn_proc,
 *              with the host pid, name and owner), the holds it has
 *   run_sock   a refnet socket of such processes: the daemon's end of the
 *              pair, the program's end's inode (its id), its state
 *   run_hold   one process's handle on one socket (rn_sock_share() gives
 *              a forked child its own); a socket closes with its last
 *
 * Data, in call order (TCP):
 *   program -> pair -> sock_tx(): read -> RN_SOP_SEND ... tx_done() -> read
 *   stack -> RN_SOP_RECV ... rx_done() -> write to the pair -> RECV again
 * Each way has one request in flight at most, and stops while the other
 * side is full: a full pair leaves the stack's receive queue to fill (its
 * window closes), a full send queue leaves the pair to fill (the program's
 * writes block).  UDP is the same with one datagram per record.
 *
 * Closing: the pair's hang-up (the last descriptor of the program's end
 * closed, in whatever process) closes the socket once what the program
 * wrote was handed to the stack; a process's exit (its channel's
 * hang-up) lets its holds go, each at once if another process holds the
 * socket too, else with the pair's hang-up that follows.  Once a gone
 * process has no holds left it exits as a refnet process, and stays
 * "terminating" until its sockets are released.
 *
 * Everything here runs on the loop thread.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "refnet/error.h"
#include "refnet/loop.h"
#include "refnet/report.h"
#include "refnet/runtime.h"
#include "refnet/socket.h"
#include "refnet/tcp.h"
#include "refnet/timer.h"
#include "refnet/transport.h"
#include "run/run.h"
#include "run/run_proto.h"

/* Bytes one request moves at most. */
#define RUN_BUF (64 * 1024)
/* Buckets of the id table. */
#define RUN_HASH 4096
/* How long a process that announced an exec may take to come back. */
#define RUN_EXEC_GRACE RN_SEC(2)
/* How long a hold of a gone process may wait with no data moving on its
 * socket (its pair not hung up: a descriptor refnet does not know of; or
 * data the peer does not take) before it is let go anyway. */
#define RUN_GONE_GRACE RN_SEC(2)
/* How often the exit status of a gone process is looked for. */
#define RUN_STATUS_POLL RN_MSEC(20)
/* Options counted apart in `refnet stat`; the rest share one line. */
#define RUN_OPT_SLOTS 12

enum ep_kind { EP_LISTEN, EP_CHAN, EP_SOCK };

/* What the inner epoll's events point at. */
struct run_ep {
    enum ep_kind ep_kind;
};

struct run_proc;
struct run_sock;

struct run_hold {
    struct run_proc *rh_proc;      /* [L] */
    struct run_sock *rh_sock;      /* [L] */
    int rh_handle;                 /* [L] the handle in rh_proc's rn_proc */
    bool rh_closed;                /* [L] its process closed it (or went);
                                      it goes once another holds the socket,
                                      or with the socket */
    struct run_hold *rh_pnext;     /* [L] the process's holds */
    struct run_hold *rh_snext;     /* [L] the socket's holds */
};

struct run_proc {
    struct run_ep rp_ep;           /* EP_CHAN */
    struct rn__run_server *rp_srv; /* [I] */
    struct rn_proc *rp_proc;       /* [L] owned (creator's reference) until
                                      rn_proc_exit() */
    int rp_chan;                   /* [L] the channel, -1 once gone */
    pid_t rp_pid;                  /* [I] host pid (SO_PEERCRED) */
    uid_t rp_uid;                  /* [I] */
    bool rp_hello;                 /* [L] HELLO was received */
    bool rp_exec;                  /* [L] announced an exec */
    bool rp_gone;                  /* [L] the host process is gone */
    bool rp_status_known;          /* [L] its exit status was found */
    unsigned rp_nholds;            /* [L] entries of rp_holds */
    struct run_hold *rp_holds;     /* [L] */
    rn_time_t rp_gone_at;          /* [L] when its channel hung up */
    struct rn_timer rp_timer;      /* [L] exec grace, status, gone grace */
    struct run_sock *rp_wait_sock; /* [L] a deferred reply waits for it */
    struct run_msg rp_reply;       /* [L] that reply */
    struct run_proc *rp_next;      /* [L] the server's list */
    struct run_proc *rp_prev;
};

enum rk_state {
    RK_NEW,         /* opened, not connected nor listening */
    RK_CONNECTING,  /* a connect request in flight */
    RK_CONNECTED,   /* data flows (TCP), or bound/connected UDP */
    RK_LISTENING,
    RK_FAILED,      /* the connect failed: rk_error */
    RK_CLOSING,     /* closed: waits for its requests */
};

struct run_sock {
    struct run_ep rk_ep;           /* EP_SOCK */
    struct rn__run_server *rk_srv; /* [I] */
    uint64_t rk_id;                /* [I] inode of the program's end */
    int rk_fd;                     /* [L] the daemon's end, -1 once closed */
    int rk_give_fd;                /* [L] an accepted connection's program end,
                                      until a process accepts it */
    int rk_type;                   /* [I] SOCK_STREAM or SOCK_DGRAM */
    int rk_family;                 /* [I] AF_INET or AF_INET6 */
    enum rk_state rk_state;        /* [L] */
    struct run_hold *rk_holds;     /* [L] first: whose handle requests use */
    unsigned rk_inflight;          /* [L] requests not yet completed */
    int rk_error;                  /* [L] errno for SO_ERROR, 0 none */
    int rk_filler;                 /* [L] bytes of connect filler to discard */
    bool rk_rd;                    /* [L] the pair may be readable */
    bool rk_rdhup;                 /* [L] the program's end shut its writing
                                      (EPOLLRDHUP seen): read to the end */
    bool rk_wr;                    /* [L] the pair may be writable */
    bool rk_hup;                   /* [L] the program's end is closed */
    bool rk_eof;                   /* [L] read end of data from the pair */
    bool rk_rx_on;                 /* [L] receiving from the stack began */
    bool rk_rx_busy;               /* [L] a receive is in flight */
    bool rk_rx_end;                /* [L] the stack said end of data */
    bool rk_tx_busy;               /* [L] a send is in flight */
    bool rk_accepting;             /* [L] an accept is in flight */
    bool rk_rx_dg;                 /* [L] UDP: a datagram waits in rk_rxbuf */
    bool rk_reset;                 /* [L] the connection failed: the program
                                      reads the end, its writes are dropped */
    rn_time_t rk_moved;            /* [L] when data last moved either way */
    uint8_t *rk_rxbuf;             /* [L] stack -> pair, RUN_BUF */
    size_t rk_rxoff;               /* [L] written of it so far */
    size_t rk_rxlen;               /* [L] bytes in it */
    struct run_dgram rk_rxhdr;     /* [L] UDP: the sender of rk_rxbuf */
    uint8_t *rk_txbuf;             /* [L] pair -> stack, RUN_BUF */
    struct rn_sockaddr_in rk_txto; /* [L] UDP: the destination */
    unsigned rk_backlog;           /* [L] listener: accepted ones kept at most */
    unsigned rk_nqueued;           /* [L] listener: accepted, not yet taken
                                      (queued here or offered) */
    struct run_sock *rk_qhead;     /* [L] listener: accepted, not yet offered,
                                      oldest first */
    struct run_sock *rk_qtail;
    struct run_sock *rk_qnext;     /* [L] on its listener's queue */
    struct run_sock *rk_listener;  /* [L] while queued */
    struct run_sock *rk_offer_lk;  /* [L] offered on this listener's end, not
                                      yet taken (RUN_TAKEN) */
    struct rn_sockaddr_in rk_peer; /* [L] accepted: the peer */
    struct run_sock *rk_hnext;     /* [L] the id table */
};

struct run_opt_count {
    int oc_level;
    int oc_name;
    uint64_t oc_count;
    char oc_label[40];
};

struct rn__run_server {
    struct run_ep rs_ep;                  /* EP_LISTEN */
    struct rn_loop *rs_loop;              /* [I] */
    struct rn_stack *rs_stack;            /* [I] */
    char rs_path[108];                    /* [I] */
    int rs_lfd;                           /* [I] the run socket */
    int rs_epfd;                          /* [I] inner epoll, on the loop */
    uid_t rs_uids[RN_RUN_UIDS_MAX + 2];   /* [I] */
    size_t rs_nuids;                      /* [I] */
    unsigned rs_max_socks;                /* [I] per process */
    struct run_proc *rs_procs;            /* [L] */
    struct run_sock *rs_hash[RUN_HASH];   /* [L] by rk_id */
    bool rs_closing;                      /* [L] */
    uint8_t rs_scratch[4096];             /* [L] filler is read into it */
    /* Counters, `refnet stat`. */
    uint64_t rs_channels;                 /* channels accepted */
    uint64_t rs_procs_made;               /* refnet processes made */
    uint64_t rs_sockets;                  /* sockets made (opened, accepted) */
    uint64_t rs_live_socks;               /* sockets now */
    uint64_t rs_refused_uid;              /* channels of a uid not allowed */
    uint64_t rs_refused_garbage;          /* malformed messages */
    uint64_t rs_refused_version;          /* HELLOs of another protocol version */
    uint64_t rs_refused_fds;              /* descriptors sent unasked, closed */
    uint64_t rs_refused_foreign;          /* ids the process does not hold */
    uint64_t rs_refused_limit;            /* sockets over the process limit */
    uint64_t rs_unsupported;              /* unsupported options, in all */
    struct run_opt_count rs_opts[RUN_OPT_SLOTS]; /* per option */
    uint64_t rs_opts_other;               /* options past the slots */
};

static void sock_close(struct run_sock *rk);
static bool sock_pump(struct run_sock *rk);
static void proc_maybe_exit(struct run_proc *rp);
static void hold_drop(struct run_hold *rh);

/* ---- Helpers -------------------------------------------------------------------- */

/* A refnet code as a positive errno value. */
static int code_errno(int code)
{
    int saved = errno, e;

    if (code >= 0)
        return 0;
    (void)rn_sock_posix(code);
    e = errno;
    errno = saved;
    return e;
}

static struct run_sock *sock_find(struct rn__run_server *rs, uint64_t id)
{
    struct run_sock *rk;

    for (rk = rs->rs_hash[id % RUN_HASH]; rk != NULL; rk = rk->rk_hnext)
        if (rk->rk_id == id)
            return rk;
    return NULL;
}

static void sock_hash_del(struct run_sock *rk)
{
    struct run_sock **pp = &rk->rk_srv->rs_hash[rk->rk_id % RUN_HASH];

    for (; *pp != NULL; pp = &(*pp)->rk_hnext) {
        if (*pp == rk) {
            *pp = rk->rk_hnext;
            return;
        }
    }
}

/* The hold of process rp on rk, or NULL. */
static struct run_hold *hold_of(struct run_proc *rp, struct run_sock *rk)
{
    struct run_hold *rh;

    for (rh = rk->rk_holds; rh != NULL; rh = rh->rh_snext)
        if (rh->rh_proc == rp)
            return rh;
    return NULL;
}

static struct run_hold *hold_new(struct run_proc *rp, struct run_sock *rk, int handle)
{
    struct run_hold *rh = calloc(1, sizeof(*rh));

    if (rh == NULL)
        return NULL;
    rh->rh_proc = rp;
    rh->rh_sock = rk;
    rh->rh_handle = handle;
    rh->rh_pnext = rp->rp_holds;
    rp->rp_holds = rh;
    rp->rp_nholds++;
    /* Appended: the first hold stays the one requests use. */
    {
        struct run_hold **pp = &rk->rk_holds;

        while (*pp != NULL)
            pp = &(*pp)->rh_snext;
        *pp = rh;
    }
    return rh;
}

/* A close found no memory for its record (RN_ENOMEM): the handle stays
 * open, and the process's exit closes it (docs/sockets.md). */
static void close_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    (void)p;
    (void)c;
}

/* Unlinks rh and closes its handle (the socket's last closes it). */
static void hold_drop(struct run_hold *rh)
{
    struct run_proc *rp = rh->rh_proc;
    struct run_sock *rk = rh->rh_sock;
    struct run_hold **pp;
    struct rn_sock_req rq;

    for (pp = &rp->rp_holds; *pp != rh; pp = &(*pp)->rh_pnext)
        ;
    *pp = rh->rh_pnext;
    rp->rp_nholds--;
    for (pp = &rk->rk_holds; *pp != rh; pp = &(*pp)->rh_snext)
        ;
    *pp = rh->rh_snext;
    memset(&rq, 0, sizeof(rq));
    rq.sq_op = RN_SOP_CLOSE;
    rq.sq_handle = rh->rh_handle;
    if (rn_sock_submit(rp->rp_proc, &rq, close_done) != 0)
        rn_report(RN_REPORT_LEAK, "run: cannot close handle %d of pid %d\n", rh->rh_handle,
                  (int)rp->rp_pid);
    free(rh);
    proc_maybe_exit(rp);
}

/* Submits a request on rk through its first hold.  Returns 0 or a code. */
static int sock_submit(struct run_sock *rk, struct rn_sock_req *rq, rn_sock_done_fn fn)
{
    int e;

    if (rk->rk_holds == NULL)
        return RN_EBADF;
    rq->sq_handle = rk->rk_holds->rh_handle;
    rq->sq_user = rk;
    e = rn_sock_submit(rk->rk_holds->rh_proc->rp_proc, rq, fn);
    if (e == 0)
        rk->rk_inflight++;
    return e;
}

static void sock_free_if_done(struct run_sock *rk)
{
    if (rk->rk_state != RK_CLOSING || rk->rk_inflight != 0)
        return;
    free(rk->rk_rxbuf);
    free(rk->rk_txbuf);
    free(rk);
}

/* A request of rk completed: true if rk is closing (and maybe freed). */
static bool sock_req_done(struct run_sock *rk)
{
    assert(rk->rk_inflight > 0);
    rk->rk_inflight--;
    if (rk->rk_state == RK_CLOSING) {
        sock_free_if_done(rk);
        return true;
    }
    return false;
}

/* ---- Addresses -------------------------------------------------------------------- */

/* The protocol's address as refnet's, for a socket of family: an AF_INET
 * socket's must be IPv4 (mapped), as the shim sends it.  Returns 0, or
 * -EAFNOSUPPORT. */
static int addr_in(const struct run_addr *a, int family, struct rn_sockaddr_in *out)
{
    struct rn_inaddr ia;

    memset(out, 0, sizeof(*out));
    memcpy(ia.ia_ip6.i6_octet, a->a_ip, sizeof(a->a_ip));
    out->sin_port = a->a_port;
    if (family == AF_INET6) {
        out->sin_family = RN_AF_INET6;
        out->sin6_addr = ia.ia_ip6;
        return 0;
    }
    if (!rn_inaddr_is_v4(&ia))
        return -EAFNOSUPPORT;
    out->sin_family = RN_AF_INET;
    out->sin_addr = rn_inaddr_to_v4(&ia);
    return 0;
}

/* Refnet's address (as the socket layer fills it: sin6_addr always,
 * IPv4 mapped) as the protocol's. */
static void addr_out(const struct rn_sockaddr_in *in, struct run_addr *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->a_ip, in->sin6_addr.i6_octet, sizeof(out->a_ip));
    out->a_port = in->sin_port;
}

/* ---- Sockets and their pairs ------------------------------------------------------ */

/* Makes a socket of type for the pair's daemon end fd and program end
 * gfd.  Returns it, or NULL (both ends closed). */
static struct run_sock *sock_new(struct rn__run_server *rs, int type, int family, int fd,
                                 int gfd)
{
    struct run_sock *rk = calloc(1, sizeof(*rk));
    struct epoll_event ev;
    struct stat sb;

    if (rk == NULL || fstat(gfd, &sb) != 0)
        goto out_close;
    rk->rk_ep.ep_kind = EP_SOCK;
    rk->rk_srv = rs;
    rk->rk_id = (uint64_t)sb.st_ino;
    rk->rk_fd = fd;
    rk->rk_give_fd = gfd;
    rk->rk_type = type;
    rk->rk_family = family;
    /* Nothing to read until the program writes, which is an edge after
     * the registration below (EPOLLET): no recv to hear EAGAIN first. */
    rk->rk_rd = false;
    rk->rk_wr = true;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = rk;
    if (epoll_ctl(rs->rs_epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        goto out_close;
    rk->rk_hnext = rs->rs_hash[rk->rk_id % RUN_HASH];
    rs->rs_hash[rk->rk_id % RUN_HASH] = rk;
    rs->rs_sockets++;
    rs->rs_live_socks++;
    return rk;

out_close:
    free(rk);
    close(fd);
    close(gfd);
    return NULL;
}

/* Makes the pair for a socket of type: 0 and both ends, or -errno.  Both
 * ends are blocking: the daemon passes MSG_DONTWAIT on every call on its
 * end, and the program's end is the program's to set (one F_SETFL in the
 * shim), so a connection costs no fcntl here. */
static int pair_make(int type, int *fd, int *gfd)
{
    int sv[2];
    int ptype = type == SOCK_DGRAM ? SOCK_SEQPACKET : SOCK_STREAM;

    *fd = *gfd = -1;
    if (socketpair(AF_UNIX, ptype | SOCK_CLOEXEC, 0, sv) != 0)
        return -errno;
    *fd = sv[0];
    *gfd = sv[1];
    return 0;
}

static void rx_done(struct rn_proc *p, const struct rn_sock_completion *c);
static void tx_done(struct rn_proc *p, const struct rn_sock_completion *c);

/* Writes what the stack gave to the pair.  Returns true once all of it
 * is written (or dropped: the program's end no longer reads). */
static bool rx_flush(struct run_sock *rk)
{
    ssize_t n;

    if (rk->rk_type == SOCK_DGRAM) {
        struct iovec iov[2] = {
            {.iov_base = &rk->rk_rxhdr, .iov_len = sizeof(rk->rk_rxhdr)},
            {.iov_base = rk->rk_rxbuf, .iov_len = rk->rk_rxlen},
        };
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

        if (!rk->rk_rx_dg)
            return true;
        n = sendmsg(rk->rk_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            rk->rk_wr = false;
            return false;
        }
        /* Sent, or dropped (the program's end reads no more). */
        rk->rk_rx_dg = false;
        rk->rk_rxlen = 0;
        return true;
    }
    while (rk->rk_rxoff < rk->rk_rxlen) {
        n = send(rk->rk_fd, rk->rk_rxbuf + rk->rk_rxoff, rk->rk_rxlen - rk->rk_rxoff,
                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (errno == EAGAIN) {
                rk->rk_wr = false;
                return false;
            }
            continue;
        }
        if (n < 0) {
            /* EPIPE: the program shut its reading side or closed: what
             * comes is dropped, as a closed socket's would be. */
            rk->rk_rxoff = rk->rk_rxlen = 0;
            return true;
        }
        rk->rk_rxoff += (size_t)n;
    }
    rk->rk_rxoff = rk->rk_rxlen = 0;
    return true;
}

/* Starts a receive from the stack unless one runs or data waits. */
static void rx_next(struct run_sock *rk)
{
    struct rn_sock_req rq;

    if (!rk->rk_rx_on || rk->rk_rx_busy || rk->rk_rx_end || rk->rk_rxlen != 0 ||
        rk->rk_rx_dg || rk->rk_state == RK_CLOSING)
        return;
    if (rk->rk_rxbuf == NULL && (rk->rk_rxbuf = malloc(RUN_BUF)) == NULL)
        return;
    memset(&rq, 0, sizeof(rq));
    rq.sq_op = RN_SOP_RECV;
    rq.sq_buf = rk->rk_rxbuf;
    rq.sq_len = RUN_BUF;
    if (sock_submit(rk, &rq, rx_done) == 0)
        rk->rk_rx_busy = true;
}

static void rx_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct run_sock *rk = c->sc_user;

    (void)p;
    rk->rk_rx_busy = false;
    if (sock_req_done(rk))
        return;
    if (c->sc_result > 0 || (c->sc_result == 0 && rk->rk_type == SOCK_DGRAM)) {
        rk->rk_moved = rn_loop_now(rk->rk_srv->rs_loop);
        rk->rk_rxlen = (size_t)c->sc_result;
        rk->rk_rxoff = 0;
        addr_out(&c->sc_addr, &rk->rk_rxhdr.dg_addr);
        rk->rk_rxhdr.dg_flags = 0;
        rk->rk_rx_dg = rk->rk_type == SOCK_DGRAM;
    } else if (c->sc_result == 0) {
        /* The peer's FIN: the program reads the end of data. */
        rk->rk_rx_end = true;
        (void)shutdown(rk->rk_fd, SHUT_WR);
        return;
    } else if (c->sc_result == RN_EAGAIN || c->sc_result == RN_ECANCELED) {
        /* Nothing now; try again on the next event. */
    } else if (rk->rk_type == SOCK_DGRAM) {
        /* ICMP news of a UDP socket (ECONNREFUSED, EHOSTUNREACH ...):
         * reported once to the program's next receive, which then goes
         * on, as on Linux. */
        rk->rk_rxlen = 0;
        rk->rk_rxoff = 0;
        memset(&rk->rk_rxhdr, 0, sizeof(rk->rk_rxhdr));
        rk->rk_rxhdr.dg_flags =
            RUN_DG_ERROR | (uint32_t)code_errno((int)c->sc_result) << RUN_DG_ERRNO_SHIFT;
        rk->rk_rx_dg = true;
    } else {
        /* A reset: the program reads the end, SO_ERROR says why.  Our end
         * shuts its sending side only: a hang-up still means the program
         * closed its end. */
        rk->rk_error = code_errno((int)c->sc_result);
        rk->rk_rx_end = true;
        rk->rk_reset = true;
        (void)shutdown(rk->rk_fd, SHUT_WR);
    }
    sock_pump(rk);
}

/* Reads what the program wrote and hands it to the stack.  Returns true
 * if that closed rk, which may then be freed: the caller must not touch
 * it again. */
static bool tx_next(struct run_sock *rk)
{
    struct rn_sock_req rq;
    bool dgram = false;
    ssize_t n;

    if (rk->rk_tx_busy || !rk->rk_rd || rk->rk_eof || rk->rk_state == RK_CLOSING)
        return false;
    if (rk->rk_type == SOCK_STREAM && rk->rk_state != RK_CONNECTED && !rk->rk_reset)
        return false;
    if (rk->rk_txbuf == NULL && (rk->rk_txbuf = malloc(RUN_BUF)) == NULL)
        return false;
next_dgram:
    dgram = false;
    memset(&rq, 0, sizeof(rq));
    if (rk->rk_type == SOCK_DGRAM) {
        struct run_dgram hdr;
        struct iovec iov[2] = {
            {.iov_base = &hdr, .iov_len = sizeof(hdr)},
            {.iov_base = rk->rk_txbuf, .iov_len = RUN_BUF},
        };
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

        n = recvmsg(rk->rk_fd, &mh, MSG_DONTWAIT);
        if (n > 0 && (size_t)n < sizeof(hdr)) {
            rk->rk_srv->rs_refused_garbage++;
            return false;
        }
        if (n > 0) {
            /* A datagram, perhaps an empty one (its header alone). */
            dgram = true;
            n -= (ssize_t)sizeof(hdr);
            if ((hdr.dg_flags & RUN_DG_TO) &&
                addr_in(&hdr.dg_addr, rk->rk_family, &rk->rk_txto) != 0) {
                /* Not an address of the socket's family (the shim sends
                 * none such): dropped and counted. */
                rk->rk_srv->rs_refused_garbage++;
                goto next_dgram;
            }
            if (hdr.dg_flags & RUN_DG_TO)
                rq.sq_to = &rk->rk_txto;
        }
    } else {
        n = recv(rk->rk_fd, rk->rk_txbuf, RUN_BUF, MSG_DONTWAIT);
        /* A short read took all there was: more data, or the end, is a
         * new edge (EPOLLET), so no recv is spent to hear EAGAIN; once
         * the end's edge was seen, reads go on until they meet it. */
        if (n > 0 && (size_t)n < RUN_BUF && !rk->rk_rdhup)
            rk->rk_rd = false;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            rk->rk_rd = false;
        else
            rk->rk_eof = true;  /* ECONNRESET: as the end of data */
        if (!rk->rk_eof)
            return false;
    }
    /* A record without even a header is the end (the program closed). */
    if (n == 0 && !dgram)
        rk->rk_eof = true;
    if (n > 0 && rk->rk_reset) {
        /* Nowhere to go: dropped, as a reset connection's would be. */
        return tx_next(rk);
    }
    if (rk->rk_eof) {
        if (rk->rk_hup) {
            sock_close(rk);
            return true;
        } else if (rk->rk_type == SOCK_STREAM && rk->rk_holds != NULL) {
            /* shutdown(SHUT_WR) in the program: our FIN follows its data. */
            struct rn_proc *p = rk->rk_holds->rh_proc->rp_proc;

            (void)rn_sock_shutdown(p, rk->rk_holds->rh_handle, RN_SHUT_WR);
        }
        return false;
    }
    rq.sq_op = RN_SOP_SEND;
    rq.sq_buf = rk->rk_txbuf;
    rq.sq_len = (size_t)n;
    if (rk->rk_type == SOCK_STREAM && rk->rk_hup && (size_t)n < RUN_BUF) {
        char c;

        /* The program wrote its last and closed (a server's answer and
         * close()): the FIN goes with the data, as the kernel's does when
         * close() follows the write, so the peer does not close first
         * and keep the TIME_WAIT. */
        if (recv(rk->rk_fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) == 0)
            rq.sq_flags |= RN_MSG_EOF;
    }
    if (sock_submit(rk, &rq, tx_done) == 0) {
        rk->rk_tx_busy = true;
        if (rk->rk_type == SOCK_DGRAM && !rk->rk_rx_on) {
            /* A send bound it to an ephemeral port: replies may come. */
            rk->rk_rx_on = true;
            rx_next(rk);
        }
    }
    return false;
}

static void tx_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct run_sock *rk = c->sc_user;

    (void)p;
    rk->rk_tx_busy = false;
    if (sock_req_done(rk))
        return;
    rk->rk_moved = rn_loop_now(rk->rk_srv->rs_loop);
    if (c->sc_result < 0 && rk->rk_type == SOCK_STREAM && c->sc_result != RN_ECANCELED) {
        /* The connection failed under the send: SO_ERROR says why. */
        rk->rk_error = code_errno((int)c->sc_result);
        rk->rk_reset = true;
        (void)shutdown(rk->rk_fd, SHUT_WR);
    }
    sock_pump(rk);
}

/* Moves what can move, both ways.  Returns true if rk is closing (it
 * may be freed: the caller must not touch it again). */
static bool sock_pump(struct run_sock *rk)
{
    if (rk->rk_state == RK_CLOSING)
        return true;
    if ((rk->rk_rxlen != 0 || rk->rk_rx_dg) && rk->rk_wr && !rx_flush(rk))
        goto tx;
    rx_next(rk);
tx:
    return tx_next(rk);
}

/* Discards the connect filler: the program's end turns writable. */
static void filler_discard(struct run_sock *rk)
{
    while (rk->rk_filler > 0) {
        size_t want = (size_t)rk->rk_filler < sizeof(rk->rk_srv->rs_scratch)
                          ? (size_t)rk->rk_filler
                          : sizeof(rk->rk_srv->rs_scratch);
        ssize_t n = recv(rk->rk_fd, rk->rk_srv->rs_scratch, want, MSG_DONTWAIT);

        if (n <= 0)
            break;
        rk->rk_filler -= (int)n;
    }
    rk->rk_filler = 0;
}

static void connect_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct run_sock *rk = c->sc_user;
    struct run_proc *rp;

    (void)p;
    if (sock_req_done(rk))
        return;
    /* A deferred reply (UDP's connect) goes out now. */
    for (rp = rk->rk_srv->rs_procs; rp != NULL; rp = rp->rp_next) {
        if (rp->rp_wait_sock == rk) {
            rp->rp_wait_sock = NULL;
            rp->rp_reply.m_result = c->sc_result < 0 ? -code_errno((int)c->sc_result) : 0;
            if (rp->rp_chan >= 0)
                (void)send(rp->rp_chan, &rp->rp_reply, sizeof(rp->rp_reply),
                           MSG_DONTWAIT | MSG_NOSIGNAL);
        }
    }
    if (rk->rk_type == SOCK_DGRAM) {
        if (c->sc_result == 0) {
            rk->rk_rx_on = true;
            sock_pump(rk);
        }
        return;
    }
    filler_discard(rk);
    if (c->sc_result < 0) {
        rk->rk_state = RK_FAILED;
        rk->rk_error = code_errno((int)c->sc_result);
        rk->rk_reset = true;
        (void)shutdown(rk->rk_fd, SHUT_WR);
        sock_pump(rk);
        return;
    }
    rk->rk_state = RK_CONNECTED;
    rk->rk_rx_on = true;
    sock_pump(rk);
}

/* ---- Listeners ---------------------------------------------------------------------- */

static void accept_next(struct run_sock *lk);

static struct run_sock *queue_pop(struct run_sock *lk);

/* Offers the queued connections on the listener's end: one struct
 * run_accepted each, with the connection's program end beside it
 * (SCM_RIGHTS), as long as the end takes them.  Whoever reads one has
 * accepted it; its RUN_TAKEN says who that was. */
static void offers_write(struct run_sock *lk)
{
    struct run_sock *rk;

    while ((rk = lk->rk_qhead) != NULL && lk->rk_fd >= 0) {
        struct run_accepted ra = {.ra_id = rk->rk_id};
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = &ra, .iov_len = sizeof(ra)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *cm;
        ssize_t n;

        addr_out(&rk->rk_peer, &ra.ra_addr);
        memset(cbuf, 0, sizeof(cbuf));
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &rk->rk_give_fd, sizeof(int));
        n = sendmsg(lk->rk_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            lk->rk_wr = false;
            return;
        }
        (void)queue_pop(lk);
        if (n != (ssize_t)sizeof(ra)) {
            /* The program's end is gone (its hang-up closes the
             * listener): the connection goes with it. */
            lk->rk_nqueued--;
            sock_close(rk);
            continue;
        }
        /* In flight now: the program's end lives in the listener's queue
         * until a process reads it, or the kernel drops it with the
         * listener's end (then the pair hangs up and rk closes). */
        close(rk->rk_give_fd);
        rk->rk_give_fd = -1;
        rk->rk_offer_lk = lk;
    }
}

static void accept_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct run_sock *lk = c->sc_user;
    struct rn__run_server *rs = lk->rk_srv;
    struct run_proc *rp;
    struct run_sock *rk;
    int fd, gfd, e;

    lk->rk_accepting = false;
    if (sock_req_done(lk)) {
        if (c->sc_result >= 0)
            (void)rn_sock_submit(p, &(struct rn_sock_req){.sq_op = RN_SOP_CLOSE,
                                                          .sq_handle = (int)c->sc_result},
                                 close_done);
        return;
    }
    if (c->sc_result < 0) {
        if (c->sc_result != RN_ECANCELED)
            accept_next(lk);
        return;
    }
    /* The accepted handle is in the process whose hold the request used. */
    for (rp = rs->rs_procs; rp != NULL && rp->rp_proc != p; rp = rp->rp_next)
        ;
    e = rp != NULL ? pair_make(SOCK_STREAM, &fd, &gfd) : -EBADF;
    if (e == 0 && rp->rp_nholds >= rs->rs_max_socks) {
        rs->rs_refused_limit++;
        close(fd);
        close(gfd);
        e = -EMFILE;
    }
    rk = e == 0 ? sock_new(rs, SOCK_STREAM, lk->rk_family, fd, gfd) : NULL;
    if (rk == NULL || hold_new(rp, rk, (int)c->sc_result) == NULL) {
        /* Refused: the peer gets a reset. */
        (void)rn_sock_setopt(p, (int)c->sc_result, RN_SO_LINGER, 0);
        (void)rn_sock_submit(p, &(struct rn_sock_req){.sq_op = RN_SOP_CLOSE,
                                                      .sq_handle = (int)c->sc_result},
                             close_done);
        if (rk != NULL) {
            sock_hash_del(rk);
            rs->rs_live_socks--;
            (void)epoll_ctl(rs->rs_epfd, EPOLL_CTL_DEL, rk->rk_fd, NULL);
            close(rk->rk_fd);
            close(rk->rk_give_fd);
            free(rk);
        }
        accept_next(lk);
        return;
    }
    rk->rk_state = RK_CONNECTED;
    rk->rk_peer = c->sc_addr;
    rk->rk_rx_on = true;
    rk->rk_listener = lk;
    if (lk->rk_qtail != NULL)
        lk->rk_qtail->rk_qnext = rk;
    else
        lk->rk_qhead = rk;
    lk->rk_qtail = rk;
    lk->rk_nqueued++;
    offers_write(lk);
    sock_pump(rk);
    accept_next(lk);
}

/* Keeps one accept in flight while fewer than the backlog wait. */
static void accept_next(struct run_sock *lk)
{
    struct rn_sock_req rq;

    if (lk->rk_state != RK_LISTENING || lk->rk_accepting || lk->rk_nqueued >= lk->rk_backlog)
        return;
    memset(&rq, 0, sizeof(rq));
    rq.sq_op = RN_SOP_ACCEPT;
    if (sock_submit(lk, &rq, accept_done) == 0)
        lk->rk_accepting = true;
}

/* Takes the oldest accepted connection off lk's queue (it stays counted
 * in rk_nqueued until taken or closed), or NULL. */
static struct run_sock *queue_pop(struct run_sock *lk)
{
    struct run_sock *rk = lk->rk_qhead;

    if (rk == NULL)
        return NULL;
    lk->rk_qhead = rk->rk_qnext;
    if (lk->rk_qhead == NULL)
        lk->rk_qtail = NULL;
    rk->rk_qnext = NULL;
    rk->rk_listener = NULL;
    return rk;
}

/* rk, accepted on lk, was taken by a program or closed: lk may accept
 * one more. */
static void offer_end(struct run_sock *rk)
{
    struct run_sock *lk = rk->rk_offer_lk;

    if (lk == NULL)
        return;
    rk->rk_offer_lk = NULL;
    lk->rk_nqueued--;
    accept_next(lk);
}

/* ---- Closing -------------------------------------------------------------------------- */

/* Closes rk: every hold lets its handle go (the last closes the refnet
 * socket, gracefully), the pair is closed, and rk goes once its requests
 * completed. */
static void sock_close(struct run_sock *rk)
{
    struct rn__run_server *rs = rk->rk_srv;
    struct run_sock *q;

    if (rk->rk_state == RK_CLOSING)
        return;
    rk->rk_state = RK_CLOSING;
    /* Connections accepted and never offered close with their listener;
     * those offered close when the kernel drops them with its end. */
    while ((q = queue_pop(rk)) != NULL)
        sock_close(q);
    if (rk->rk_nqueued > 0) {
        size_t b;

        for (b = 0; b < RUN_HASH; b++)
            for (q = rs->rs_hash[b]; q != NULL; q = q->rk_hnext)
                if (q->rk_offer_lk == rk)
                    q->rk_offer_lk = NULL;
        rk->rk_nqueued = 0;
    }
    offer_end(rk);
    if (rk->rk_listener != NULL) {
        struct run_sock **pp;
        struct run_sock *lk = rk->rk_listener;

        for (pp = &lk->rk_qhead; *pp != rk; pp = &(*pp)->rk_qnext)
            ;
        *pp = rk->rk_qnext;
        if (lk->rk_qtail == rk) {
            lk->rk_qtail = NULL;
            for (q = lk->rk_qhead; q != NULL; q = q->rk_qnext)
                lk->rk_qtail = q;
        }
        lk->rk_nqueued--;
        rk->rk_listener = NULL;
    }
    while (rk->rk_holds != NULL)
        hold_drop(rk->rk_holds);
    sock_hash_del(rk);
    rs->rs_live_socks--;
    if (rk->rk_fd >= 0) {
        /* The close takes it out of epoll: no other descriptor refers to
         * the daemon's end (services are spawned with posix_spawn() from
         * this thread, which waits until their exec has closed theirs). */
        close(rk->rk_fd);
        rk->rk_fd = -1;
    }
    if (rk->rk_give_fd >= 0) {
        close(rk->rk_give_fd);
        rk->rk_give_fd = -1;
    }
    sock_free_if_done(rk);
}

static void sock_event(struct run_sock *rk, uint32_t ev)
{
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        rk->rk_rd = true;
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        rk->rk_wr = true;
    if (ev & EPOLLHUP)
        rk->rk_hup = true;
    if (ev & (EPOLLRDHUP | EPOLLHUP))
        rk->rk_rdhup = true;  /* its edge is spent: the end must be read */
    if (rk->rk_state == RK_LISTENING) {
        offers_write(rk);
        if (rk->rk_hup)
            sock_close(rk);
        return;
    }
    if (rk->rk_hup && ((rk->rk_type == SOCK_STREAM && rk->rk_state != RK_CONNECTED &&
                        rk->rk_state != RK_FAILED) ||
                       rk->rk_eof)) {
        /* Nothing more can come from the program. */
        sock_close(rk);
        return;
    }
    if (sock_pump(rk))
        return;  /* closing: rk may be gone */
    if (rk->rk_hup && rk->rk_eof)
        sock_close(rk);
}

/* ---- Processes ------------------------------------------------------------------------ */

static void proc_unlink(struct run_proc *rp)
{
    if (rp->rp_prev != NULL)
        rp->rp_prev->rp_next = rp->rp_next;
    else
        rp->rp_srv->rs_procs = rp->rp_next;
    if (rp->rp_next != NULL)
        rp->rp_next->rp_prev = rp->rp_prev;
}

/* Reads the exit status of a gone process from /proc while it is a zombie.
 * Returns true once known (or once it cannot be known any more). */
static bool proc_read_status(struct run_proc *rp)
{
    char path[48], buf[1024], *s;
    int fd, field;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)rp->rp_pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true;  /* reaped already: the status is lost */
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return true;
    buf[n] = '\0';
    s = strrchr(buf, ')');
    if (s == NULL || s[1] != ' ')
        return true;
    if (s[2] != 'Z' && s[2] != 'X')
        return false;  /* still exiting */
    /* Field 52, exit_code; field 3 is the state, right after the ')'. */
    for (field = 3; field < 52 && s != NULL; field++)
        s = strchr(s + 1, ' ');
    if (s != NULL) {
        rn_proc_set_exit_status(rp->rp_proc, atoi(s + 1));
        rp->rp_status_known = true;
    }
    return true;
}

static bool proc_alive(const struct run_proc *rp)
{
    char path[48], buf[512], *s;
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)rp->rp_pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    s = strrchr(buf, ')');
    return s != NULL && s[1] == ' ' && s[2] != 'Z' && s[2] != 'X';
}

/* Ends a gone process once it holds nothing: its refnet process exits and
 * stays terminating until its closing sockets are released. */
static void proc_maybe_exit(struct run_proc *rp)
{
    struct rn__run_server *rs = rp->rp_srv;

    if (!rp->rp_gone || rp->rp_nholds != 0 || rp->rp_proc == NULL)
        return;
    if (!rp->rp_status_known && !rs->rs_closing &&
        rn_loop_now(rs->rs_loop) - rp->rp_gone_at < RN_SEC(1))
        return;  /* the status timer comes back */
    rn_loop_timer_cancel(rs->rs_loop, &rp->rp_timer);
    rn_proc_exit(rp->rp_proc);
    rp->rp_proc = NULL;
    proc_unlink(rp);
    free(rp);
}

/* The host process is gone: its holds go, each at once if another
 * process holds the socket, else with the socket. */
static void proc_gone(struct run_proc *rp)
{
    struct run_hold *rh, *next;

    /* Not yet gone while its holds go, or the last would end it here. */
    rp->rp_gone_at = rn_loop_now(rp->rp_srv->rs_loop);
    for (rh = rp->rp_holds; rh != NULL; rh = next) {
        next = rh->rh_pnext;
        if (rh->rh_sock->rk_holds != rh || rh->rh_snext != NULL)
            hold_drop(rh);
        else
            rh->rh_closed = true;
    }
    rp->rp_gone = true;
    if (rp->rp_proc != NULL)
        (void)proc_read_status(rp);
    if (rp->rp_proc == NULL) {
        proc_unlink(rp);
        free(rp);
        return;
    }
    if (rp->rp_nholds == 0 && rp->rp_status_known) {
        proc_maybe_exit(rp);
        return;
    }
    (void)rn_loop_timer_arm(rp->rp_srv->rs_loop, &rp->rp_timer,
                            rn_loop_now(rp->rp_srv->rs_loop) + RUN_STATUS_POLL);
}

static void chan_close(struct run_proc *rp)
{
    if (rp->rp_chan < 0)
        return;
    (void)epoll_ctl(rp->rp_srv->rs_epfd, EPOLL_CTL_DEL, rp->rp_chan, NULL);
    close(rp->rp_chan);
    rp->rp_chan = -1;
}

/* The timer of a process: an exec that did not come back, its exit
 * status, holds whose pairs never hung up. */
static void proc_timer(struct rn_timer *t, rn_time_t now)
{
    struct run_proc *rp = (struct run_proc *)((char *)t - offsetof(struct run_proc, rp_timer));
    struct rn__run_server *rs = rp->rp_srv;

    if (!rp->rp_gone) {
        /* Announced an exec and hung up: back by now, or gone. */
        if (rp->rp_chan < 0 && (now - rp->rp_gone_at >= RUN_EXEC_GRACE || !proc_alive(rp)))
            proc_gone(rp);
        else if (rp->rp_chan < 0)
            (void)rn_loop_timer_arm(rs->rs_loop, &rp->rp_timer, now + RUN_STATUS_POLL);
        return;
    }
    if (!rp->rp_status_known && now - rp->rp_gone_at < RN_SEC(1)) {
        if (proc_read_status(rp) && !rp->rp_status_known)
            rp->rp_status_known = true;  /* reaped: never to be known */
    } else {
        rp->rp_status_known = true;
    }
    if (now - rp->rp_gone_at >= RUN_GONE_GRACE) {
        /* Holds whose sockets moved nothing for that long: a descriptor
         * refnet does not know of, or data the peer does not take: they
         * go (what the pair still holds is lost, as the program is). */
        struct run_hold *rh;

        rp->rp_status_known = true;
        if (rp->rp_nholds == 0) {
            proc_maybe_exit(rp);
            return;
        }
        for (;;) {
            for (rh = rp->rp_holds; rh != NULL; rh = rh->rh_pnext)
                if (now - rh->rh_sock->rk_moved >= RUN_GONE_GRACE)
                    break;
            if (rh == NULL)
                break;
            if (rp->rp_nholds == 1) {
                sock_close(rh->rh_sock);  /* ends rp: read nothing of it after */
                return;
            }
            sock_close(rh->rh_sock);
        }
    }
    if (rp->rp_nholds == 0 && rp->rp_status_known) {
        proc_maybe_exit(rp);
        return;
    }
    (void)rn_loop_timer_arm(rs->rs_loop, &rp->rp_timer,
                            now + (rp->rp_status_known ? RN_MSEC(200) : RUN_STATUS_POLL));
}

/* The channel hung up: an exec, or the process is gone. */
static void chan_hup(struct run_proc *rp)
{
    chan_close(rp);
    if (rp->rp_wait_sock != NULL)
        rp->rp_wait_sock = NULL;
    if (rp->rp_exec && proc_alive(rp)) {
        rp->rp_gone_at = rn_loop_now(rp->rp_srv->rs_loop);
        (void)rn_loop_timer_arm(rp->rp_srv->rs_loop, &rp->rp_timer,
                                rp->rp_gone_at + RUN_STATUS_POLL);
        return;
    }
    proc_gone(rp);
}

/* ---- Requests on the channel --------------------------------------------------------- */

/* Sends reply m, with descriptor fd if fd >= 0. */
static void chan_reply(struct run_proc *rp, struct run_msg *m, int fd)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

    if (fd >= 0) {
        struct cmsghdr *cm;

        memset(cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof(cbuf);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    }
    if (rp->rp_chan >= 0)
        (void)sendmsg(rp->rp_chan, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* The socket of id that rp holds, or NULL (counted: not its own). */
static struct run_sock *held(struct run_proc *rp, uint64_t id, struct run_hold **rhp)
{
    struct run_sock *rk = sock_find(rp->rp_srv, id);
    struct run_hold *rh = rk != NULL ? hold_of(rp, rk) : NULL;

    if (rh == NULL) {
        rp->rp_srv->rs_refused_foreign++;
        return NULL;
    }
    if (rhp != NULL)
        *rhp = rh;
    return rk;
}

static int op_socket(struct run_proc *rp, struct run_msg *m, int *give)
{
    struct rn__run_server *rs = rp->rp_srv;
    int type = m->m_arg[0], proto = m->m_arg[1], family = m->m_arg[2], h, fd, gfd, e;
    struct run_sock *rk;

    if (family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    if (type != SOCK_STREAM && type != SOCK_DGRAM)
        return -EPROTONOSUPPORT;
    if (rp->rp_nholds >= rs->rs_max_socks) {
        rs->rs_refused_limit++;
        return -EMFILE;
    }
    h = rn_sock_open(rp->rp_proc,
                     (type == SOCK_STREAM ? RN_SOCK_STREAM : RN_SOCK_DGRAM) |
                         (family == AF_INET6 ? RN_SOCK_INET6 : 0),
                     proto);
    if (h < 0)
        return -code_errno(h);
    e = pair_make(type, &fd, &gfd);
    rk = e == 0 ? sock_new(rs, type, family, fd, gfd) : NULL;
    if (rk == NULL || hold_new(rp, rk, h) == NULL) {
        (void)rn_sock_submit(rp->rp_proc, &(struct rn_sock_req){.sq_op = RN_SOP_CLOSE,
                                                                .sq_handle = h},
                             close_done);
        if (rk != NULL)
            sock_close(rk);
        return e < 0 ? e : -ENOMEM;
    }
    m->m_id = rk->rk_id;
    *give = rk->rk_give_fd;
    rk->rk_give_fd = -1;
    return 0;
}

static int op_bind(struct run_proc *rp, struct run_msg *m)
{
    struct run_hold *rh;
    struct run_sock *rk = held(rp, m->m_id, &rh);
    struct rn_sockaddr_in a;
    int e;

    if (rk == NULL)
        return -EBADF;
    e = addr_in(&m->m_addr, rk->rk_family, &a);
    if (e < 0)
        return e;
    e = rn_sock_bind(rp->rp_proc, rh->rh_handle, &a);
    if (e < 0)
        return -code_errno(e);
    if (rk->rk_type == SOCK_DGRAM && !rk->rk_rx_on) {
        rk->rk_rx_on = true;
        rk->rk_state = RK_CONNECTED;
        sock_pump(rk);
    }
    return 0;
}

static int op_listen(struct run_proc *rp, struct run_msg *m)
{
    struct run_hold *rh;
    struct run_sock *rk = held(rp, m->m_id, &rh);
    int backlog = m->m_arg[0], e;

    if (rk == NULL)
        return -EBADF;
    if (rk->rk_type != SOCK_STREAM)
        return -EOPNOTSUPP;
    if (backlog <= 0 || backlog > 4096)
        backlog = backlog <= 0 ? 1 : 4096;
    e = rn_sock_listen(rp->rp_proc, rh->rh_handle, backlog);
    if (e < 0)
        return -code_errno(e);
    rk->rk_backlog = (unsigned)backlog;
    if (rk->rk_state != RK_LISTENING) {
        rk->rk_state = RK_LISTENING;
        accept_next(rk);
    }
    return 0;
}

static int op_connect(struct run_proc *rp, struct run_msg *m)
{
    struct run_sock *rk = held(rp, m->m_id, NULL);
    struct rn_sockaddr_in a;
    struct rn_sock_req rq;

    if (rk == NULL)
        return -EBADF;
    if (addr_in(&m->m_addr, rk->rk_family, &a) < 0)
        return -EAFNOSUPPORT;
    switch (rk->rk_state) {
    case RK_CONNECTING:
        return -EALREADY;
    case RK_CONNECTED:
        if (rk->rk_type == SOCK_STREAM)
            return -EISCONN;
        break;
    case RK_FAILED: {
        int e = rk->rk_error ? rk->rk_error : ECONNREFUSED;

        rk->rk_error = 0;
        return -e;
    }
    case RK_LISTENING:
        return -EISCONN;
    default:
        break;
    }
    memset(&rq, 0, sizeof(rq));
    rq.sq_op = RN_SOP_CONNECT;
    rq.sq_to = &a;
    if (sock_submit(rk, &rq, connect_done) != 0)
        return -ENOMEM;
    if (rk->rk_type == SOCK_DGRAM) {
        /* Answered when it completes: at once, by the stack. */
        rp->rp_wait_sock = rk;
        rp->rp_reply = *m;
        return 1;
    }
    rk->rk_filler = m->m_arg[0] > 0 ? m->m_arg[0] : 0;
    rk->rk_state = RK_CONNECTING;
    return -EINPROGRESS;
}

/* A process read an offered connection off a listener's end: the
 * connection's handle is its own now.  No reply. */
static void op_taken(struct run_proc *rp, struct run_msg *m)
{
    struct rn__run_server *rs = rp->rp_srv;
    struct run_sock *rk = sock_find(rs, m->m_id);
    struct run_hold *rh;
    int h;

    if (rk == NULL || rk->rk_offer_lk == NULL)
        return;  /* closed meanwhile, or taken already */
    if (hold_of(rp, rk->rk_offer_lk) == NULL) {
        rs->rs_refused_foreign++;
        return;
    }
    offer_end(rk);
    rh = rk->rk_holds;
    if (rh == NULL || rh->rh_proc == rp)
        return;
    if (rp->rp_nholds >= rs->rs_max_socks) {
        /* Over the process's limit: the connection is reset. */
        rs->rs_refused_limit++;
        (void)rn_sock_setopt(rh->rh_proc->rp_proc, rh->rh_handle, RN_SO_LINGER, 0);
        sock_close(rk);
        return;
    }
    /* Accepted through another process's handle: this one's now. */
    h = rn_sock_share(rh->rh_proc->rp_proc, rh->rh_handle, rp->rp_proc);
    if (h < 0 || hold_new(rp, rk, h) == NULL) {
        sock_close(rk);
        return;
    }
    hold_drop(rh);
}

static int op_getname(struct run_proc *rp, struct run_msg *m)
{
    struct run_hold *rh;
    struct run_sock *rk = held(rp, m->m_id, &rh);
    struct rn_sockaddr_in l, r;
    int e;

    if (rk == NULL)
        return -EBADF;
    e = rn_sock_getname(rp->rp_proc, rh->rh_handle, &l, &r);
    if (e < 0)
        return -code_errno(e);
    addr_out(&l, &m->m_addr);
    addr_out(&r, &m->m_addr2);
    if (rk->rk_type == SOCK_STREAM && rk->rk_state != RK_CONNECTED && r.sin_port == 0 &&
        rk->rk_peer.sin_port != 0)
        addr_out(&rk->rk_peer, &m->m_addr2);
    return 0;
}

/* A host option as refnet's, or -1 if refnet has none. */
static int opt_map(int level, int name)
{
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_RCVBUF: return RN_SO_RCVBUF;
        case SO_SNDBUF: return RN_SO_SNDBUF;
        case SO_LINGER: return RN_SO_LINGER;
        case SO_ERROR: return RN_SO_ERROR;
        case SO_TYPE: return RN_SO_TYPE;
        case SO_KEEPALIVE: return RN_SO_KEEPALIVE;
        case SO_REUSEADDR: return RN_SO_REUSEADDR;
        case SO_REUSEPORT: return RN_SO_REUSEPORT;
        case SO_ACCEPTCONN: return RN_SO_ACCEPTCONN;
        case SO_BROADCAST: return RN_SO_BROADCAST;
        default: return -1;
        }
    }
    if (level == IPPROTO_TCP) {
        switch (name) {
        case TCP_NODELAY: return RN_TCP_NODELAY;
        case TCP_MAXSEG: return RN_TCP_MAXSEG;
        case TCP_CORK: return RN_TCP_CORK;
        case TCP_KEEPIDLE: return RN_TCP_KEEPIDLE;
        case TCP_KEEPINTVL: return RN_TCP_KEEPINTVL;
        case TCP_KEEPCNT: return RN_TCP_KEEPCNT;
        case TCP_USER_TIMEOUT: return RN_TCP_USER_TIMEOUT;
        case TCP_SYNCNT: return RN_TCP_SYNCNT;
        case TCP_WINDOW_CLAMP: return RN_TCP_WINDOW_CLAMP;
        default: return -1;
        }
    }
    if (level == IPPROTO_IP) {
        switch (name) {
        case IP_TOS: return RN_IP_TOS;
        case IP_TTL: return RN_IP_TTL;
        default: return -1;
        }
    }
    if (level == IPPROTO_IPV6) {
        /* An IPv6 socket's traffic class and hop limit are the ones
         * RN_IP_TOS and RN_IP_TTL set (docs/sockets.md). */
        switch (name) {
        case IPV6_V6ONLY: return RN_IPV6_V6ONLY;
        case IPV6_TCLASS: return RN_IP_TOS;
        case IPV6_UNICAST_HOPS: return RN_IP_TTL;
        default: return -1;
        }
    }
    return -1;
}

/* An option of level IPPROTO_IPV6 on an AF_INET socket: Linux answers
 * ENOPROTOOPT, as refnet does for RN_IPV6_V6ONLY (not counted as
 * unsupported: no socket of that family has it). */
static bool opt_wrong_family(const struct run_sock *rk, int level)
{
    return level == IPPROTO_IPV6 && rk->rk_family != AF_INET6;
}

static const char *level_name(int level)
{
    return level == SOL_SOCKET    ? "socket"
           : level == IPPROTO_TCP ? "tcp"
           : level == IPPROTO_IP  ? "ip"
           : level == IPPROTO_IPV6 ? "ipv6"
                                   : "level";
}

/* Counts an option refnet does not have, under its own line. */
static void opt_unsupported(struct rn__run_server *rs, int level, int name)
{
    size_t i;

    rs->rs_unsupported++;
    for (i = 0; i < RUN_OPT_SLOTS; i++) {
        struct run_opt_count *oc = &rs->rs_opts[i];

        if (oc->oc_label[0] == '\0') {
            oc->oc_level = level;
            oc->oc_name = name;
            snprintf(oc->oc_label, sizeof(oc->oc_label), "run.unsupported.%s.%d",
                     level_name(level), name);
        }
        if (oc->oc_level == level && oc->oc_name == name) {
            oc->oc_count++;
            return;
        }
    }
    rs->rs_opts_other++;
}

static int op_setopt(struct run_proc *rp, struct run_msg *m)
{
    struct run_hold *rh;
    struct run_sock *rk = held(rp, m->m_id, &rh);
    int opt = opt_map(m->m_arg[0], m->m_arg[1]), e;

    if (rk == NULL)
        return -EBADF;
    if (m->m_arg[0] == IPPROTO_TCP && m->m_arg[1] == TCP_CONGESTION) {
        char name[RUN_CC_NAME_MAX];
        size_t n = m->m_len < sizeof(name) ? m->m_len : sizeof(name) - 1;

        memcpy(name, m->m_data, n);
        name[n < sizeof(name) ? n : sizeof(name) - 1] = '\0';
        e = rn_sock_setopt_str(rp->rp_proc, rh->rh_handle, RN_TCP_CONGESTION, name);
        return e < 0 ? -code_errno(e) : 0;
    }
    if (opt_wrong_family(rk, m->m_arg[0]))
        return -ENOPROTOOPT;
    if (opt < 0 || opt == RN_SO_ERROR || opt == RN_SO_TYPE || opt == RN_SO_ACCEPTCONN) {
        opt_unsupported(rp->rp_srv, m->m_arg[0], m->m_arg[1]);
        return -ENOPROTOOPT;
    }
    if (m->m_arg[0] == IPPROTO_IPV6 && m->m_arg[1] == IPV6_TCLASS) {
        /* Linux: -1 the default (0), else 0..255. */
        if (m->m_val < -1 || m->m_val > 255)
            return -EINVAL;
        if (m->m_val == -1)
            m->m_val = 0;
    }
    e = rn_sock_setopt(rp->rp_proc, rh->rh_handle, (enum rn_sockopt)opt, m->m_val);
    return e < 0 ? -code_errno(e) : 0;
}

/* Linux's number of a TCP state (include/net/tcp_states.h's order). */
static uint8_t state_linux(enum rn_tcp_state st)
{
    switch (st) {
    case RN_TCP_ESTABLISHED: return 1;
    case RN_TCP_SYN_SENT: return 2;
    case RN_TCP_SYN_RECEIVED: return 3;
    case RN_TCP_FIN_WAIT_1: return 4;
    case RN_TCP_FIN_WAIT_2: return 5;
    case RN_TCP_TIME_WAIT: return 6;
    case RN_TCP_CLOSE_WAIT: return 8;
    case RN_TCP_LAST_ACK: return 9;
    case RN_TCP_LISTEN: return 10;
    case RN_TCP_CLOSING: return 11;
    case RN_TCP_CLOSED:
    default: return 7;
    }
}

static uint32_t usec32(rn_time_t t)
{
    uint64_t us = t / RN_NSEC_PER_USEC;

    return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* TCP_CONGESTION: the socket's algorithm, named as Linux names it, in
 * m_data. */
static int getopt_congestion(struct run_proc *rp, struct run_hold *rh, struct run_msg *m)
{
    char name[RUN_CC_NAME_MAX];
    int e = rn_sock_getopt_str(rp->rp_proc, rh->rh_handle, RN_TCP_CONGESTION, name,
                               sizeof(name));

    _Static_assert(RUN_CC_NAME_MAX <= sizeof(m->m_data), "a name fits m_data");
    if (e < 0)
        return -code_errno(e);
    memset(m->m_data, 0, RUN_CC_NAME_MAX);
    snprintf((char *)m->m_data, RUN_CC_NAME_MAX, "%s", strcmp(name, "newreno") == 0 ? "reno" : name);
    m->m_len = RUN_CC_NAME_MAX;
    return 0;
}

/* TCP_INFO: what the connection knows, in m_data. */
static int getopt_tcp_info(struct run_proc *rp, struct run_hold *rh, struct run_msg *m)
{
    struct rn_tcp_info ti;
    struct run_tcp_info out;
    int e = rn_sock_tcp_info(rp->rp_proc, rh->rh_handle, &ti);

    _Static_assert(sizeof(out) <= sizeof(m->m_data), "run_tcp_info fits m_data");
    if (e < 0)
        return e == RN_EOPNOTSUPP ? -ENOPROTOOPT : -code_errno(e);
    memset(&out, 0, sizeof(out));
    out.ti_bytes_sent = ti.ti_bytes_sent;
    out.ti_bytes_retrans = ti.ti_bytes_retrans;
    out.ti_bytes_acked = ti.ti_bytes_acked;
    out.ti_bytes_received = ti.ti_bytes_received;
    out.ti_segs_out = ti.ti_segs_out;
    out.ti_segs_in = ti.ti_segs_in;
    out.ti_data_segs_out = ti.ti_data_segs_out;
    out.ti_data_segs_in = ti.ti_data_segs_in;
    out.ti_delivery_rate = ti.ti_delivery_rate;
    out.ti_rto = usec32(ti.ti_rto);
    out.ti_backoff = ti.ti_backoff;
    out.ti_snd_mss = ti.ti_snd_mss;
    out.ti_rcv_mss = ti.ti_rcv_mss;
    out.ti_advmss = ti.ti_advmss;
    out.ti_unacked = ti.ti_snd_mss != 0 ? (ti.ti_unacked + ti.ti_snd_mss - 1) / ti.ti_snd_mss : 0;
    out.ti_rtt = usec32(ti.ti_rtt);
    out.ti_rttvar = usec32(ti.ti_rttvar);
    out.ti_min_rtt = usec32(ti.ti_min_rtt);
    out.ti_snd_cwnd = ti.ti_snd_cwnd;
    out.ti_snd_ssthresh = ti.ti_snd_ssthresh;
    out.ti_snd_wnd = ti.ti_snd_wnd;
    out.ti_rcv_wnd = ti.ti_rcv_wnd;
    out.ti_notsent = ti.ti_notsent;
    out.ti_last_recv = usec32(ti.ti_last_recv) / 1000;
    out.ti_total_retrans = (uint32_t)ti.ti_total_retrans;
    out.ti_state = state_linux(ti.ti_state);
    /* refnet's option bits are Linux's TCPI_OPT_TIMESTAMPS, _SACK, _WSCALE. */
    out.ti_options = (uint8_t)ti.ti_options;
    out.ti_snd_wscale = ti.ti_snd_wscale;
    out.ti_rcv_wscale = ti.ti_rcv_wscale;
    memcpy(m->m_data, &out, sizeof(out));
    m->m_len = sizeof(out);
    return 0;
}

static int op_getopt(struct run_proc *rp, struct run_msg *m)
{
    struct run_hold *rh;
    struct run_sock *rk = held(rp, m->m_id, &rh);
    int opt = opt_map(m->m_arg[0], m->m_arg[1]), e;
    int64_t v = 0;

    if (rk == NULL)
        return -EBADF;
    if (opt == RN_SO_ERROR && rk->rk_error != 0) {
        m->m_val = rk->rk_error;
        if (rk->rk_state != RK_FAILED)
            rk->rk_error = 0;
        return 0;
    }
    if (opt == RN_SO_ERROR && rk->rk_state == RK_CONNECTING) {
        m->m_val = 0;
        return 0;
    }
    if (m->m_arg[0] == IPPROTO_TCP && m->m_arg[1] == TCP_INFO)
        return getopt_tcp_info(rp, rh, m);
    if (m->m_arg[0] == IPPROTO_TCP && m->m_arg[1] == TCP_CONGESTION)
        return getopt_congestion(rp, rh, m);
    if (opt_wrong_family(rk, m->m_arg[0]))
        return -ENOPROTOOPT;
    if (opt < 0) {
        opt_unsupported(rp->rp_srv, m->m_arg[0], m->m_arg[1]);
        return -ENOPROTOOPT;
    }
    e = rn_sock_getopt(rp->rp_proc, rh->rh_handle, (enum rn_sockopt)opt, &v);
    if (e < 0)
        return -code_errno(e);
    m->m_val = v;
    return 0;
}

/* A process closed its last descriptor on id: its hold goes now if
 * another holds the socket; else the pair's hang-up closes it. */
static int op_close(struct run_proc *rp, struct run_msg *m)
{
    struct run_hold *rh;
    struct run_sock *rk = sock_find(rp->rp_srv, m->m_id);

    if (rk == NULL)
        return 0;  /* closed already by its hang-up */
    rh = hold_of(rp, rk);
    if (rh == NULL) {
        rp->rp_srv->rs_refused_foreign++;
        return 0;
    }
    if (rk->rk_holds != rh || rh->rh_snext != NULL)
        hold_drop(rh);
    else
        rh->rh_closed = true;
    return 0;
}

/* Makes sure rp holds rk, sharing another holder's handle. */
static int hold_take(struct run_proc *rp, struct run_sock *rk)
{
    struct run_hold *from = rk->rk_holds, *rh;
    int h;

    if (hold_of(rp, rk) != NULL)
        return 0;
    if (from == NULL)
        return -EBADF;
    if (rp->rp_nholds >= rp->rp_srv->rs_max_socks) {
        rp->rp_srv->rs_refused_limit++;
        return -EMFILE;
    }
    h = rn_sock_share(from->rh_proc->rp_proc, from->rh_handle, rp->rp_proc);
    if (h < 0)
        return -code_errno(h);
    rh = hold_new(rp, rk, h);
    if (rh == NULL)
        return -ENOMEM;
    /* A hold its process closed (a parent that closed its copy after the
     * fork) goes now that another holds the socket. */
    if (from->rh_closed)
        hold_drop(from);
    return 0;
}

static enum run_kind kind_of(const struct run_sock *rk)
{
    if (rk->rk_type == SOCK_DGRAM)
        return RUN_KIND_DGRAM;
    return rk->rk_state == RK_LISTENING ? RUN_KIND_LISTENER : RUN_KIND_STREAM;
}

/* The ids a process holds after a fork or an exec, each proven by its
 * descriptor sent along; holds it no longer has (closed on exec) go. */
static int op_declare(struct run_proc *rp, struct run_msg *m, const int *fds, size_t nfds,
                      bool last)
{
    size_t n = m->m_len / sizeof(uint64_t), i;
    uint8_t kinds[RUN_IDS_MAX], families[RUN_IDS_MAX];

    if (n > RUN_IDS_MAX || m->m_len % sizeof(uint64_t) != 0 || n != nfds)
        return -EINVAL;
    for (i = 0; i < n; i++) {
        uint64_t id;
        struct stat sb;
        struct run_sock *rk;

        memcpy(&id, m->m_data + i * 8, 8);
        kinds[i] = RUN_KIND_NONE;
        families[i] = 0;
        rk = sock_find(rp->rp_srv, id);
        /* The descriptor proves the process has it. */
        if (rk == NULL || rk->rk_state == RK_CLOSING || fstat(fds[i], &sb) != 0 ||
            (uint64_t)sb.st_ino != id) {
            if (rk != NULL)
                rp->rp_srv->rs_refused_foreign++;
            continue;
        }
        if (hold_take(rp, rk) == 0) {
            kinds[i] = (uint8_t)kind_of(rk);
            families[i] = (uint8_t)rk->rk_family;
        }
    }
    (void)last;
    memcpy(m->m_data, kinds, n);
    memcpy(m->m_data + n, families, n);
    return 0;
}

static void proc_hello(struct run_proc *rp, struct run_msg *m)
{
    struct rn__run_server *rs = rp->rp_srv;
    struct run_proc *old;
    char name[32] = "?", owner[RN_PROC_OWNER_MAX] = "";
    const char *s = (const char *)m->m_data;
    size_t len = m->m_len < sizeof(m->m_data) ? m->m_len : sizeof(m->m_data);
    size_t nl = strnlen(s, len);
    int e;

    if (m->m_arg[0] != RUN_PROTO_VERSION) {
        /* Another build's shim: it hears which version this daemon
         * speaks, and says so in its one line. */
        rs->rs_refused_version++;
        m->m_result = -EPROTONOSUPPORT;
        m->m_arg[0] = RUN_PROTO_VERSION;
        chan_reply(rp, m, -1);
        return;
    }
    m->m_arg[0] = RUN_PROTO_VERSION;
    if (nl > 0)
        snprintf(name, sizeof(name), "%.*s", (int)nl, s);
    if (nl + 1 < len)
        snprintf(owner, sizeof(owner), "%.*s", (int)strnlen(s + nl + 1, len - nl - 1),
                 s + nl + 1);
    /* The same pid: an exec coming back.  Its channel takes over. */
    for (old = rs->rs_procs; old != NULL; old = old->rp_next)
        if (old != rp && old->rp_pid == rp->rp_pid && !old->rp_gone && old->rp_proc != NULL)
            break;
    if (old != NULL) {
        chan_close(old);
        old->rp_chan = rp->rp_chan;
        old->rp_exec = false;
        rn_loop_timer_cancel(rs->rs_loop, &old->rp_timer);
        {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = old};

            (void)epoll_ctl(rs->rs_epfd, EPOLL_CTL_MOD, old->rp_chan, &ev);
        }
        old->rp_hello = true;
        rp->rp_chan = -1;
        proc_unlink(rp);
        free(rp);
        m->m_result = 0;
        chan_reply(old, m, -1);
        return;
    }
    e = rn_proc_create(rs->rs_stack, name, &rp->rp_proc);
    if (e != 0) {
        m->m_result = -code_errno(e);
        chan_reply(rp, m, -1);
        return;
    }
    (void)rn_proc_set_pid(rp->rp_proc, (uint32_t)rp->rp_pid);
    if (owner[0] != '\0')
        (void)rn_proc_set_owner(rp->rp_proc, owner);
    rp->rp_hello = true;
    rs->rs_procs_made++;
    m->m_result = 0;
    chan_reply(rp, m, -1);
}

/* Handles one message of rp's; fds came with it (closed here). */
static void chan_msg(struct run_proc *rp, struct run_msg *m, int *fds, size_t nfds)
{
    struct rn__run_server *rs = rp->rp_srv;
    int give = -1, r;
    size_t i;

    if (m->m_op == RUN_HELLO) {
        if (rp->rp_hello) {
            rs->rs_refused_garbage++;
            m->m_result = -EINVAL;
            chan_reply(rp, m, -1);
        } else {
            proc_hello(rp, m);  /* may free rp */
        }
        for (i = 0; i < nfds; i++)
            close(fds[i]);
        if (nfds > 0)
            rs->rs_refused_fds += nfds;
        return;
    }
    if ((!rp->rp_hello || rp->rp_proc == NULL) && m->m_op != RUN_STATUS) {
        rs->rs_refused_garbage++;
        r = -EPROTO;
        goto out_reply;
    }
    if (m->m_op != RUN_DECLARE && nfds > 0) {
        rs->rs_refused_fds += nfds;
        for (i = 0; i < nfds; i++)
            close(fds[i]);
        nfds = 0;
    }
    switch (m->m_op) {
    case RUN_DECLARE:
        r = op_declare(rp, m, fds, nfds, true);
        break;
    case RUN_SOCKET:
        r = op_socket(rp, m, &give);
        break;
    case RUN_BIND:
        r = op_bind(rp, m);
        break;
    case RUN_LISTEN:
        r = op_listen(rp, m);
        break;
    case RUN_CONNECT:
        r = op_connect(rp, m);
        if (r == 1)
            return;  /* answered at completion */
        break;
    case RUN_TAKEN:
        op_taken(rp, m);
        return;  /* no reply */
    case RUN_GETNAME:
        r = op_getname(rp, m);
        break;
    case RUN_SETOPT:
        r = op_setopt(rp, m);
        break;
    case RUN_GETOPT:
        r = op_getopt(rp, m);
        break;
    case RUN_CLOSE:
        (void)op_close(rp, m);
        return;  /* no reply */
    case RUN_EXEC:
        rp->rp_exec = true;
        r = 0;
        break;
    case RUN_STATUS: {
        struct run_proc *t;

        /* From `refnet run`: the status of its child, by its parent. */
        for (t = rs->rs_procs; t != NULL; t = t->rp_next) {
            if (t->rp_pid == m->m_arg[0] && t->rp_proc != NULL) {
                char path[48], buf[256], *s;
                int fd, ppid = -1;
                ssize_t n;

                /* Only the process's parent knows its status. */
                snprintf(path, sizeof(path), "/proc/%d/stat", (int)t->rp_pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
                if (fd >= 0)
                    close(fd);
                if (n > 0) {
                    buf[n] = '\0';
                    s = strrchr(buf, ')');
                    if (s != NULL && s[1] == ' ' && s[2] != '\0')
                        ppid = atoi(s + 4);
                }
                if (ppid != rp->rp_pid)
                    break;
                rn_proc_set_exit_status(t->rp_proc, m->m_arg[1]);
                t->rp_status_known = true;
                break;
            }
        }
        r = 0;
        break;
    }
    default:
        rs->rs_refused_garbage++;
        r = -EINVAL;
        break;
    }
out_reply:
    for (i = 0; i < nfds; i++)
        close(fds[i]);
    m->m_result = r;
    chan_reply(rp, m, give);
    if (give >= 0)
        close(give);
}

static void chan_readable(struct run_proc *rp)
{
    struct rn__run_server *rs = rp->rp_srv;

    for (;;) {
        struct run_msg m;
        char cbuf[CMSG_SPACE(sizeof(int) * RUN_IDS_MAX)];
        struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof(cbuf)};
        int fds[RUN_IDS_MAX * 2];
        size_t nfds = 0;
        struct cmsghdr *cm;
        ssize_t n;
        int chan = rp->rp_chan;

        if (chan < 0)
            return;
        n = recvmsg(chan, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            chan_hup(rp);
            return;
        }
        for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                size_t k, cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

                for (k = 0; k < cnt; k++) {
                    int fd;

                    memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
                    if (nfds < sizeof(fds) / sizeof(fds[0]))
                        fds[nfds++] = fd;
                    else
                        close(fd);
                }
            }
        }
        if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n != sizeof(m) ||
            m.m_op == 0 || m.m_op >= RUN_OP_COUNT_ || m.m_len > sizeof(m.m_data)) {
            /* Garbage: refused and counted; a flood of descriptors too. */
            size_t k;

            rs->rs_refused_garbage++;
            if (mh.msg_flags & MSG_CTRUNC || nfds > 0)
                rs->rs_refused_fds += nfds ? nfds : 1;
            for (k = 0; k < nfds; k++)
                close(fds[k]);
            if ((size_t)n == sizeof(m) && m.m_op != RUN_CLOSE && m.m_op != RUN_TAKEN) {
                m.m_result = -EINVAL;
                chan_reply(rp, &m, -1);
            }
            continue;
        }
        /* One message a wake: the channel is level-triggered, so the
         * next is reported again, and a program has one request at a
         * time on it (plus notes), so no recv is spent to hear EAGAIN.
         * (A HELLO that found an exec's process freed rp.) */
        chan_msg(rp, &m, fds, nfds);
        return;
    }
}

/* A process connects: its credentials decide. */
static void listen_readable(struct rn__run_server *rs)
{
    for (;;) {
        struct ucred cr;
        socklen_t crlen = sizeof(cr);
        struct run_proc *rp;
        struct epoll_event ev;
        size_t i;
        bool ok = false;
        int fd = accept4(rs->rs_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
            return;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0) {
            close(fd);
            continue;
        }
        for (i = 0; i < rs->rs_nuids; i++)
            ok |= rs->rs_uids[i] == cr.uid;
        if (!ok) {
            struct run_msg m;

            memset(&m, 0, sizeof(m));
            m.m_result = -EACCES;
            (void)send(fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL);
            rs->rs_refused_uid++;
            close(fd);
            continue;
        }
        rp = calloc(1, sizeof(*rp));
        if (rp == NULL) {
            close(fd);
            continue;
        }
        rp->rp_ep.ep_kind = EP_CHAN;
        rp->rp_srv = rs;
        rp->rp_chan = fd;
        rp->rp_pid = cr.pid;
        rp->rp_uid = cr.uid;
        rn_timer_init(&rp->rp_timer, proc_timer);
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.ptr = rp;
        if (epoll_ctl(rs->rs_epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(rp);
            continue;
        }
        rp->rp_next = rs->rs_procs;
        if (rp->rp_next != NULL)
            rp->rp_next->rp_prev = rp;
        rs->rs_procs = rp;
        rs->rs_channels++;
    }
}

static void run_epoll_ready(struct rn_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct rn__run_server *rs = ctx;
    struct epoll_event evs[64];
    int n, i;

    (void)loop;
    (void)fd;
    (void)events;
    do {
        n = epoll_wait(rs->rs_epfd, evs, 64, 0);
        for (i = 0; i < n; i++) {
            struct run_ep *ep = evs[i].data.ptr;

            if (ep->ep_kind == EP_LISTEN)
                listen_readable(rs);
            else if (ep->ep_kind == EP_CHAN)
                chan_readable((struct run_proc *)ep);
            else
                sock_event((struct run_sock *)ep, evs[i].events);
        }
    } while (n == 64);
}

/* ---- Counters ------------------------------------------------------------------------ */

static unsigned run_stats(struct rn_stack *st, void *ctx, struct rn_stack_counter *out,
                          unsigned max)
{
    struct rn__run_server *rs = ctx;
    struct run_proc *rp;
    uint64_t procs = 0;
    unsigned n = 0;
    size_t i;

    (void)st;
    for (rp = rs->rs_procs; rp != NULL; rp = rp->rp_next)
        procs += rp->rp_proc != NULL;
#define RUN_STAT(name, v)                    \
    do {                                     \
        if (n < max) {                       \
            out[n].sc_name = (name);         \
            out[n].sc_value = (v);           \
            n++;                             \
        }                                    \
    } while (0)
    RUN_STAT("run.channels", rs->rs_channels);
    RUN_STAT("run.processes", procs);
    RUN_STAT("run.processes_made", rs->rs_procs_made);
    RUN_STAT("run.sockets", rs->rs_live_socks);
    RUN_STAT("run.sockets_made", rs->rs_sockets);
    RUN_STAT("run.refused.uid", rs->rs_refused_uid);
    RUN_STAT("run.refused.garbage", rs->rs_refused_garbage);
    RUN_STAT("run.refused.version", rs->rs_refused_version);
    RUN_STAT("run.refused.descriptors", rs->rs_refused_fds);
    RUN_STAT("run.refused.foreign", rs->rs_refused_foreign);
    RUN_STAT("run.refused.limit", rs->rs_refused_limit);
    RUN_STAT("run.unsupported", rs->rs_unsupported);
    for (i = 0; i < RUN_OPT_SLOTS && rs->rs_opts[i].oc_label[0] != '\0'; i++)
        RUN_STAT(rs->rs_opts[i].oc_label, rs->rs_opts[i].oc_count);
    if (rs->rs_opts_other != 0)
        RUN_STAT("run.unsupported.other", rs->rs_opts_other);
#undef RUN_STAT
    return n;
}

/* ---- Open and close ------------------------------------------------------------------- */

int rn__run_sock_path(const char *ctl_path, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s.run", ctl_path);

    return n < 0 || (size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)
               ? -1
               : 0;
}

int rn__run_server_open(struct rn_loop *loop, struct rn_stack *st,
                        const struct rn__run_params *params, struct rn__run_server **out,
                        char *err, size_t errlen)
{
    struct rn__run_server *rs;
    struct sockaddr_un sa;
    struct epoll_event ev;
    size_t i;
    int e;

    *out = NULL;
    if (strlen(params->rp_path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "run socket path too long: %s", params->rp_path);
        return RN_EINVAL;
    }
    rs = calloc(1, sizeof(*rs));
    if (rs == NULL) {
        snprintf(err, errlen, "out of memory");
        return RN_ENOMEM;
    }
    rs->rs_ep.ep_kind = EP_LISTEN;
    rs->rs_loop = loop;
    rs->rs_stack = st;
    rs->rs_lfd = rs->rs_epfd = -1;
    snprintf(rs->rs_path, sizeof(rs->rs_path), "%s", params->rp_path);
    rs->rs_max_socks = params->rp_max_sockets ? params->rp_max_sockets : RN_RUN_MAX_SOCKETS;
    if (params->rp_nuids == 0) {
        rs->rs_uids[rs->rs_nuids++] = geteuid();
        rs->rs_uids[rs->rs_nuids++] = 0;
    }
    for (i = 0; i < params->rp_nuids && i < RN_RUN_UIDS_MAX; i++)
        rs->rs_uids[rs->rs_nuids++] = params->rp_uids[i];
    rs->rs_epfd = epoll_create1(EPOLL_CLOEXEC);
    rs->rs_lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (rs->rs_epfd < 0 || rs->rs_lfd < 0) {
        snprintf(err, errlen, "cannot make the run socket: %s", strerror(errno));
        e = RN_EIO;
        goto out_free;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, rs->rs_path, strlen(rs->rs_path));
    (void)unlink(rs->rs_path);
    if (bind(rs->rs_lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(rs->rs_lfd, 128) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", rs->rs_path, strerror(errno));
        e = RN_EIO;
        goto out_free;
    }
    /* Who may connect is decided by SO_PEERCRED, not by the file's mode. */
    (void)chmod(rs->rs_path, 0666);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = &rs->rs_ep;
    if (epoll_ctl(rs->rs_epfd, EPOLL_CTL_ADD, rs->rs_lfd, &ev) != 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        e = RN_EIO;
        goto out_unlink;
    }
    e = rn_loop_add_fd(loop, rs->rs_epfd, EPOLLIN, run_epoll_ready, rs);
    if (e == 0)
        e = rn_stack_add_stats(st, run_stats, rs);
    if (e != 0) {
        (void)rn_loop_del_fd(loop, rs->rs_epfd);
        snprintf(err, errlen, "cannot watch the run socket: %s", rn_strerror(e));
        goto out_unlink;
    }
    *out = rs;
    return 0;

out_unlink:
    (void)unlink(rs->rs_path);
out_free:
    if (rs->rs_lfd >= 0)
        close(rs->rs_lfd);
    if (rs->rs_epfd >= 0)
        close(rs->rs_epfd);
    free(rs);
    return e;
}

void rn__run_server_close(struct rn__run_server *rs)
{
    size_t b;

    if (rs == NULL)
        return;
    rs->rs_closing = true;
    (void)rn_loop_del_fd(rs->rs_loop, rs->rs_epfd);
    /* Every socket closes: programs read the end and their writes fail. */
    for (b = 0; b < RUN_HASH; b++)
        while (rs->rs_hash[b] != NULL)
            sock_close(rs->rs_hash[b]);
    while (rs->rs_procs != NULL) {
        struct run_proc *rp = rs->rs_procs;

        rn_loop_timer_cancel(rs->rs_loop, &rp->rp_timer);
        chan_close(rp);
        rp->rp_status_known = true;
        rp->rp_gone = true;
        if (rp->rp_proc != NULL) {
            rn_proc_exit(rp->rp_proc);
            rp->rp_proc = NULL;
        }
        proc_unlink(rp);
        free(rp);
    }
    close(rs->rs_lfd);
    close(rs->rs_epfd);
    (void)unlink(rs->rs_path);
    /* Sockets still waiting for their requests are freed by the
     * completions, which the stack's teardown delivers. */
    free(rs);
}
