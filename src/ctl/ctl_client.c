/*
 * The control client (ctl.h): one request, one reply, within a deadline;
 * or one request whose answer may be the go of the streaming mode
 * (rn__ctl_stream_open()), after which the caller owns the connection.
 *
 * Used by the `refnet` subcommands that ask the daemon (tools/cmd_ctl.c)
 * and by the tests.  The socket is non-blocking and every wait is a poll()
 * bounded by the caller's deadline, so a daemon that accepts and never
 * answers costs the caller its timeout, not a hang.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "refnet/error.h"

static void client_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void client_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *rn__ctl_default_path(const char *path)
{
    const char *env;

    if (path != NULL)
        return path;
    env = getenv(RN_CTL_ENV);
    if (env != NULL && env[0] != '\0')
        return env;
    return RN_CTL_DEFAULT_PATH;
}

static int errno_to_rn(int e)
{
    switch (e) {
    case ENOENT: return RN_ENOENT;
    case ECONNREFUSED: return RN_ECONNREFUSED;
    case EACCES: return RN_EACCES;
    case EPERM: return RN_EPERM;
    case ENOMEM: return RN_ENOMEM;
    case ETIMEDOUT: return RN_ETIMEDOUT;
    default: return RN_EIO;
    }
}

/* A deadline that never comes. */
#define CLIENT_NO_DEADLINE UINT64_MAX

/* Waits until fd is ready for events or the deadline passes.  Returns 0,
 * RN_ETIMEDOUT, or RN_EIO. */
static int client_wait(int fd, short events, rn_time_t deadline)
{
    for (;;) {
        rn_time_t now = rn_clock_os_monotonic();
        struct pollfd pfd = {.fd = fd, .events = events};
        rn_time_t left;
        int ms, n;

        if (now >= deadline)
            return RN_ETIMEDOUT;
        left = deadline - now;
        if (deadline == CLIENT_NO_DEADLINE || left / RN_NSEC_PER_MSEC >= INT32_MAX)
            ms = -1;
        else
            ms = (int)((left + RN_NSEC_PER_MSEC - 1) / RN_NSEC_PER_MSEC);
        n = poll(&pfd, 1, ms);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return RN_EIO;
    }
}

static int client_connect(const char *path, rn_time_t deadline, int *out, char *err,
                          size_t errlen)
{
    struct sockaddr_un sun;
    int fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        client_err(err, errlen, "control socket path '%s' is longer than %zu bytes", path,
                   sizeof(sun.sun_path) - 1);
        return RN_EINVAL;
    }
    memcpy(sun.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        client_err(err, errlen, "cannot create a socket: %s", strerror(errno));
        return RN_EIO;
    }
    /* A UNIX socket connects at once or not at all; EAGAIN means the
     * listener's backlog is full, so try again until the deadline. */
    while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        int e = errno;

        if (e == EINTR)
            continue;
        if (e == EAGAIN && rn_clock_os_monotonic() < deadline) {
            poll(NULL, 0, 10);
            continue;
        }
        close(fd);
        client_err(err, errlen, "cannot reach the daemon at %s: %s (is `refnet daemon` running?)",
                   path, e == EAGAIN ? "its backlog stayed full" : strerror(e));
        return e == EAGAIN ? RN_ETIMEDOUT : errno_to_rn(e);
    }
    *out = fd;
    return 0;
}

/* Sends all of buf, passing the descriptor pass (unless -1) with its
 * first bytes (SCM_RIGHTS). */
static int client_send(int fd, const uint8_t *buf, size_t len, int pass, rn_time_t deadline,
                       const char *path, char *err, size_t errlen)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    size_t off = 0;

    while (off < len) {
        struct iovec iov = {(void *)(buf + off), len - off};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n;
        int e;

        if (pass >= 0) {
            struct cmsghdr *c;

            memset(&ctl, 0, sizeof(ctl));
            msg.msg_control = ctl.buf;
            msg.msg_controllen = sizeof(ctl.buf);
            c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &pass, sizeof(pass));
        }
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            pass = -1;  /* it went with those bytes */
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            e = client_wait(fd, POLLOUT, deadline);
            if (e == 0)
                continue;
            client_err(err, errlen, "the daemon at %s did not take the request in time", path);
            return e;
        }
        client_err(err, errlen, "lost the daemon at %s while sending: %s", path,
                   strerror(errno));
        return RN_EPROTO;
    }
    return 0;
}

static int client_receive(int fd, rn_time_t deadline, rn_time_t timeout, const char *path,
                          struct rn_ctl_reply *reply, char *err, size_t errlen)
{
    struct rn_ctl_reader rd;
    char why[160];
    int r = 0;

    rn__ctl_reader_init(&rd, RN_CTL_REPLY_MAX);
    while (r == 0) {
        uint8_t *where;
        size_t space = rn__ctl_reader_space(&rd, &where);
        ssize_t n;

        if (where == NULL) {
            r = rn__ctl_reader_advance(&rd, 0, why, sizeof(why));
            break;
        }
        n = recv(fd, where, space, 0);
        if (n > 0) {
            r = rn__ctl_reader_advance(&rd, (size_t)n, why, sizeof(why));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            int e = client_wait(fd, POLLIN, deadline);

            if (e == RN_ETIMEDOUT) {
                char age[32];

                client_err(err, errlen, "no reply from the daemon at %s within %s", path,
                           rn_fmt_age(timeout, age, sizeof(age)));
                rn__ctl_reader_fini(&rd);
                return RN_ETIMEDOUT;
            }
            if (e != 0) {
                r = e;
                snprintf(why, sizeof(why), "poll failed");
            }
            continue;
        }
        client_err(err, errlen, "the daemon at %s closed the connection before replying%s%s",
                   path, n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
        rn__ctl_reader_fini(&rd);
        return RN_EPROTO;
    }
    if (r == 1) {
        const uint8_t *payload;
        const char *text;
        uint32_t plen;
        size_t tlen;

        payload = rn__ctl_reader_payload(&rd, &plen);
        r = rn__ctl_reply_decode(payload, plen, &reply->rp_status, &text, &tlen, why,
                                sizeof(why));
        if (r == 0) {
            reply->rp_text = malloc(tlen + 1);
            if (reply->rp_text == NULL) {
                snprintf(why, sizeof(why), "out of memory for a reply of %zu bytes", tlen);
                r = RN_ENOMEM;
            } else {
                if (tlen > 0)
                    memcpy(reply->rp_text, text, tlen);
                reply->rp_text[tlen] = '\0';
                reply->rp_len = tlen;
            }
        }
    }
    rn__ctl_reader_fini(&rd);
    if (r < 0) {
        client_err(err, errlen, "bad reply from the daemon at %s: %s", path, why);
        return r == RN_ENOMEM ? r : RN_EPROTO;
    }
    return 0;
}

int rn__ctl_call(const char *path, uint32_t flags, int argc, const char *const *argv,
                rn_time_t timeout, struct rn_ctl_reply *reply, char *err, size_t errlen)
{
    rn_time_t deadline = rn_clock_os_monotonic() + timeout;
    uint8_t *req;
    size_t reqlen;
    int fd, e;

    memset(reply, 0, sizeof(*reply));
    e = rn__ctl_request_encode(flags, argc, argv, &req, &reqlen, err, errlen);
    if (e != 0)
        return e;
    e = client_connect(path, deadline, &fd, err, errlen);
    if (e != 0)
        goto out_free_req;
    e = client_send(fd, req, reqlen, -1, deadline, path, err, errlen);
    if (e == 0)
        e = client_receive(fd, deadline, timeout, path, reply, err, errlen);
    close(fd);
out_free_req:
    free(req);
    return e;
}

int rn__ctl_stream_open(const char *path, uint32_t flags, int argc, const char *const *argv,
                       rn_time_t timeout, int *fd, struct rn_ctl_reply *reply, char *err,
                       size_t errlen)
{
    return rn__ctl_stream_open_fd(path, flags, argc, argv, -1, timeout, fd, reply, err, errlen);
}

int rn__ctl_stream_open_fd(const char *path, uint32_t flags, int argc, const char *const *argv,
                          int pass, rn_time_t timeout, int *fd, struct rn_ctl_reply *reply,
                          char *err, size_t errlen)
{
    rn_time_t deadline = rn_clock_os_monotonic() + timeout;
    uint8_t *req;
    size_t reqlen;
    int cfd, e;

    *fd = -1;
    memset(reply, 0, sizeof(*reply));
    e = rn__ctl_request_encode(flags | RN_CTL_F_STREAM, argc, argv, &req, &reqlen, err, errlen);
    if (e != 0)
        return e;
    e = client_connect(path, deadline, &cfd, err, errlen);
    if (e != 0)
        goto out_free_req;
    e = client_send(cfd, req, reqlen, pass, deadline, path, err, errlen);
    /* The answer may take as long as the command needs (an accept waits
     * for its peer); the daemon bounds that, not us. */
    if (e == 0)
        e = client_receive(cfd, CLIENT_NO_DEADLINE, 0, path, reply, err, errlen);
    if (e != 0) {
        close(cfd);
        goto out_free_req;
    }
    if (reply->rp_status != RN_CTL_STATUS_GO) {
        close(cfd);
        e = 0;
        goto out_free_req;
    }
    *fd = cfd;
    e = 1;
out_free_req:
    free(req);
    return e;
}
