/*
 * The table of socket functions on Linux's own sockets: the kernel's calls
 * as they are, on sockets made in the subject namespace (ns_socket()).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sockdiff.h"

static int lx_socket(struct run *r, int domain, int type, int proto)
{
    return ns_socket(r, ns_subject, domain, type, proto);
}

static int lx_bind(struct run *r, int fd, const struct sockaddr *sa, socklen_t len)
{
    return bind(fd, sa, len);
}

static int lx_listen(struct run *r, int fd, int backlog)
{
    return listen(fd, backlog);
}

static int lx_connect(struct run *r, int fd, const struct sockaddr *sa, socklen_t len)
{
    return connect(fd, sa, len);
}

static int lx_accept4(struct run *r, int fd, struct sockaddr_in *peer, int flags)
{
    socklen_t len = sizeof(*peer);

    return accept4(fd, (struct sockaddr *)peer, &len, flags);
}

static ssize_t lx_sendto(struct run *r, int fd, const void *buf, size_t len, int flags,
                         const struct sockaddr_in *to)
{
    return sendto(fd, buf, len, flags, (const struct sockaddr *)to, to ? sizeof(*to) : 0);
}

static ssize_t lx_recvfrom(struct run *r, int fd, void *buf, size_t len, int flags,
                           struct sockaddr_in *from, int *mflags)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr mh = {.msg_name = from, .msg_namelen = from ? sizeof(*from) : 0,
                        .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = recvmsg(fd, &mh, flags);

    if (n >= 0 && mflags != NULL)
        *mflags = mh.msg_flags;
    return n;
}

static int lx_shutdown(struct run *r, int fd, int how)
{
    return shutdown(fd, how);
}

static int lx_close(struct run *r, int fd)
{
    return close(fd);
}

static int lx_setsockopt(struct run *r, int fd, int level, int name, const void *val,
                         socklen_t len)
{
    return setsockopt(fd, level, name, val, len);
}

static int lx_getsockopt(struct run *r, int fd, int level, int name, void *val, socklen_t *len)
{
    return getsockopt(fd, level, name, val, len);
}

static int lx_getsockname(struct run *r, int fd, struct sockaddr_in *sa)
{
    socklen_t len = sizeof(*sa);

    return getsockname(fd, (struct sockaddr *)sa, &len);
}

static int lx_getpeername(struct run *r, int fd, struct sockaddr_in *sa)
{
    socklen_t len = sizeof(*sa);

    return getpeername(fd, (struct sockaddr *)sa, &len);
}

static int lx_poll(struct run *r, struct pollfd *fds, nfds_t n, int timeout_ms)
{
    return poll(fds, n, timeout_ms);
}

static int lx_fcntl(struct run *r, int fd, int cmd, int arg)
{
    return fcntl(fd, cmd, arg);
}

static int lx_ioctl(struct run *r, int fd, unsigned long req, int *val)
{
    return ioctl(fd, req, val);
}

/* A shutdown wakes a thread blocked on fd (connect, accept, recv, send);
 * the close follows when the run ends. */
static void lx_abort(struct run *r, int fd)
{
    (void)shutdown(fd, SHUT_RDWR);
}

const struct sockapi sockapi_linux = {
    .sa_name = "linux",
    .sa_socket = lx_socket,
    .sa_bind = lx_bind,
    .sa_listen = lx_listen,
    .sa_connect = lx_connect,
    .sa_accept4 = lx_accept4,
    .sa_sendto = lx_sendto,
    .sa_recvfrom = lx_recvfrom,
    .sa_shutdown = lx_shutdown,
    .sa_close = lx_close,
    .sa_setsockopt = lx_setsockopt,
    .sa_getsockopt = lx_getsockopt,
    .sa_getsockname = lx_getsockname,
    .sa_getpeername = lx_getpeername,
    .sa_poll = lx_poll,
    .sa_fcntl = lx_fcntl,
    .sa_ioctl = lx_ioctl,
    .sa_abort = lx_abort,
};
