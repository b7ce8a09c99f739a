/*
 * The blocking socket API (socket.h, "The blocking API") and the one place
 * where refnet codes become errno.
 *
 * Every call makes a request object whose completion wakes the caller,
 * posts it to the loop and sleeps on it (request.c, rn__sock_req_wait()), then
 * reads the result and kills the request.  So a blocked caller shows in
 * `refnet objects` as a pending request on its socket, and closing the
 * handle from another thread wakes it with RN_ECANCELED.  Timeouts run on
 * the stack's timers, hence on the stack's clock.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "refnet/error.h"
#include "socket/sock_priv.h"

/* Makes a blocking request, or returns NULL (the caller answers
 * RN_ENOMEM). */
static struct sock_req *call_new(struct rn_proc *p, int op, int h)
{
    return rn__sock_req_new(p, op, h, REQ_WAITER);
}

/* Runs rq to completion and returns its result; the caller reads what
 * else it needs, then ends the call with call_end(). */
static ssize_t call_run(struct sock_req *rq)
{
    rn__sock_req_wait(rq);
    return rq->rq_comp.sc_result;
}

/* Kills a finished call's request. */
static void call_end(struct sock_req *rq)
{
    rn_ob_kill(rq);
}

/* A call whose only result is its code. */
static int call_simple(struct sock_req *rq)
{
    int res;

    if (rq == NULL)
        return RN_ENOMEM;
    res = (int)call_run(rq);
    call_end(rq);
    return res;
}

int rn_socket(struct rn_proc *p, int type, int proto)
{
    struct sock_req *rq = call_new(p, SOP_OPEN, 0);

    if (rq != NULL) {
        rq->rq_arg = type;
        rq->rq_val = proto;
    }
    return call_simple(rq);
}

int rn_bind(struct rn_proc *p, int h, const struct rn_sockaddr_in *addr)
{
    struct sock_req *rq;

    if (addr == NULL)
        return RN_EINVAL;
    rq = call_new(p, SOP_BIND, h);
    if (rq != NULL)
        rq->rq_to = *addr;
    return call_simple(rq);
}

int rn_listen(struct rn_proc *p, int h, int backlog)
{
    struct sock_req *rq = call_new(p, SOP_LISTEN, h);

    if (rq != NULL)
        rq->rq_arg = backlog;
    return call_simple(rq);
}

int rn_connect(struct rn_proc *p, int h, const struct rn_sockaddr_in *addr)
{
    struct sock_req *rq;

    if (addr == NULL)
        return RN_EINVAL;
    rq = call_new(p, RN_SOP_CONNECT, h);
    if (rq != NULL) {
        rq->rq_to = *addr;
        rq->rq_has_to = true;
    }
    return call_simple(rq);
}

int rn_accept(struct rn_proc *p, int h, struct rn_sockaddr_in *peer)
{
    return rn_accept4(p, h, peer, 0);
}

int rn_accept4(struct rn_proc *p, int h, struct rn_sockaddr_in *peer, int flags)
{
    struct sock_req *rq;
    int res;

    if ((flags & ~RN_SOCK_NONBLOCK) != 0)
        return RN_EINVAL;
    rq = call_new(p, RN_SOP_ACCEPT, h);
    if (rq == NULL)
        return RN_ENOMEM;
    rq->rq_flags = (uint32_t)flags;
    res = (int)call_run(rq);
    if (res >= 0 && peer != NULL)
        *peer = rq->rq_comp.sc_addr;
    call_end(rq);
    return res;
}

ssize_t rn_sendto(struct rn_proc *p, int h, const void *buf, size_t len, uint32_t flags,
                  const struct rn_sockaddr_in *to)
{
    struct sock_req *rq;

    if (buf == NULL && len > 0)
        return RN_EINVAL;
    rq = call_new(p, RN_SOP_SEND, h);
    if (rq == NULL)
        return RN_ENOMEM;
    rq->rq_buf = (void *)buf;  /* only read */
    rq->rq_len = len;
    rq->rq_flags = flags;
    if (to != NULL) {
        rq->rq_to = *to;
        rq->rq_has_to = true;
    }
    return call_simple(rq);
}

ssize_t rn_send(struct rn_proc *p, int h, const void *buf, size_t len, uint32_t flags)
{
    return rn_sendto(p, h, buf, len, flags, NULL);
}

ssize_t rn_recvfrom(struct rn_proc *p, int h, void *buf, size_t len, uint32_t flags,
                    struct rn_sockaddr_in *from)
{
    struct sock_req *rq;
    ssize_t res;

    if (buf == NULL && len > 0)
        return RN_EINVAL;
    rq = call_new(p, RN_SOP_RECV, h);
    if (rq == NULL)
        return RN_ENOMEM;
    rq->rq_buf = buf;
    rq->rq_len = len;
    rq->rq_flags = flags;
    res = call_run(rq);
    if (res >= 0 && from != NULL)
        *from = rq->rq_comp.sc_addr;
    call_end(rq);
    return res;
}

ssize_t rn_recv(struct rn_proc *p, int h, void *buf, size_t len, uint32_t flags)
{
    return rn_recvfrom(p, h, buf, len, flags, NULL);
}

int rn_shutdown(struct rn_proc *p, int h, int how)
{
    struct sock_req *rq = call_new(p, SOP_SHUTDOWN, h);

    if (rq != NULL)
        rq->rq_arg = how;
    return call_simple(rq);
}

int rn_close(struct rn_proc *p, int h)
{
    return call_simple(call_new(p, RN_SOP_CLOSE, h));
}

int rn_poll(struct rn_proc *p, struct rn_pollfd *fds, unsigned nfds, int timeout_ms)
{
    struct rn_sock_req d = {
        .sq_op = RN_SOP_POLL,
        .sq_fds = fds,
        .sq_nfds = nfds,
        .sq_timeout = timeout_ms > 0 ? (rn_time_t)timeout_ms * RN_NSEC_PER_MSEC : 0,
        .sq_poll_now = timeout_ms == 0,
    };
    struct sock_req *rq;

    if (nfds == 0 || fds == NULL || nfds > 1024)
        return RN_EINVAL;
    rq = call_new(p, RN_SOP_POLL, 0);
    if (rq == NULL)
        return RN_ENOMEM;
    rq->rq_links = calloc(nfds, sizeof(*rq->rq_links));
    if (rq->rq_links == NULL) {
        /* Never started: drop its process hold as completion would. */
        struct rn_proc *pp = rq->rq_proc;

        rq->rq_proc = NULL;
        rn_ob_deref(pp, RN_TAG_REQUEST);
        call_end(rq);
        return RN_ENOMEM;
    }
    rq->rq_fds = d.sq_fds;
    rq->rq_nfds = d.sq_nfds;
    rq->rq_timeout = d.sq_timeout;
    rq->rq_poll_now = d.sq_poll_now;
    return call_simple(rq);
}

int rn_setsockopt(struct rn_proc *p, int h, enum rn_sockopt opt, int64_t val)
{
    struct sock_req *rq = call_new(p, SOP_SETOPT, h);

    if (rq != NULL) {
        rq->rq_arg = (int)opt;
        rq->rq_val = val;
    }
    return call_simple(rq);
}

int rn_setsockopt_str(struct rn_proc *p, int h, enum rn_sockopt opt, const char *val)
{
    struct sock_req *rq;

    if (val == NULL)
        return RN_EINVAL;
    rq = call_new(p, SOP_SETOPT_STR, h);
    if (rq != NULL) {
        rq->rq_arg = (int)opt;
        rq->rq_buf = (void *)val;  /* only read, on the loop while this thread waits */
    }
    return call_simple(rq);
}

int rn_getsockopt_str(struct rn_proc *p, int h, enum rn_sockopt opt, char *buf, size_t len)
{
    struct sock_req *rq;

    if (buf == NULL || len == 0)
        return RN_EINVAL;
    rq = call_new(p, SOP_GETOPT_STR, h);
    if (rq != NULL) {
        rq->rq_arg = (int)opt;
        rq->rq_buf = buf;  /* filled on the loop while this thread waits */
        rq->rq_len = len;
    }
    return call_simple(rq);
}

int rn_getsockopt(struct rn_proc *p, int h, enum rn_sockopt opt, int64_t *val)
{
    struct sock_req *rq;
    int res;

    if (val == NULL)
        return RN_EINVAL;
    rq = call_new(p, SOP_GETOPT, h);
    if (rq == NULL)
        return RN_ENOMEM;
    rq->rq_arg = (int)opt;
    res = (int)call_run(rq);
    if (res == 0)
        *val = rq->rq_val;
    call_end(rq);
    return res;
}

int rn_tcp_info(struct rn_proc *p, int h, struct rn_tcp_info *out)
{
    struct sock_req *rq;

    if (out == NULL)
        return RN_EINVAL;
    rq = call_new(p, SOP_TCPINFO, h);
    if (rq != NULL)
        rq->rq_buf = out;  /* filled on the loop while this thread waits */
    return call_simple(rq);
}

int rn_fcntl(struct rn_proc *p, int h, int cmd, int arg)
{
    struct sock_req *rq = call_new(p, SOP_FCNTL, h);

    if (rq != NULL) {
        rq->rq_arg = cmd;
        rq->rq_val = arg;
    }
    return call_simple(rq);
}

int rn_ioctl(struct rn_proc *p, int h, unsigned long req, int *val)
{
    struct sock_req *rq;
    int res;

    if (val == NULL)
        return RN_EINVAL;
    rq = call_new(p, SOP_IOCTL, h);
    if (rq == NULL)
        return RN_ENOMEM;
    rq->rq_val = (int64_t)req;
    res = (int)call_run(rq);
    if (res == 0)
        *val = (int)rq->rq_val;
    call_end(rq);
    return res;
}

static int getname(struct rn_proc *p, int h, struct rn_sockaddr_in *local,
                   struct rn_sockaddr_in *remote)
{
    struct sock_req *rq = call_new(p, SOP_GETNAME, h);
    int res;

    if (rq == NULL)
        return RN_ENOMEM;
    res = (int)call_run(rq);
    if (res == 0) {
        if (local != NULL)
            *local = rq->rq_local;
        if (remote != NULL)
            *remote = rq->rq_remote;
    }
    call_end(rq);
    return res;
}

int rn_getsockname(struct rn_proc *p, int h, struct rn_sockaddr_in *local)
{
    return getname(p, h, local, NULL);
}

int rn_getpeername(struct rn_proc *p, int h, struct rn_sockaddr_in *remote)
{
    struct rn_sockaddr_in r = {0};
    int res = getname(p, h, NULL, &r);

    if (res < 0)
        return res;
    if (r.sin_port == 0)
        return RN_ENOTCONN;
    if (remote != NULL)
        *remote = r;
    return 0;
}

ssize_t rn_sock_posix(ssize_t rc)
{
    if (rc >= 0)
        return rc;
    errno = rn_err_to_errno((int)rc);
    return -1;
}
