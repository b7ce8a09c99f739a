/*
 * A program that uses the POSIX socket calls as servers and clients do,
 * run under `refnet run` by tests/net/test_run_posix.sh against a Linux
 * peer (tests/net/run_peer.py).  It knows nothing of refnet: each check is
 * what a program expects of Linux's sockets.
 *
 *   run-posix all HOST PORT LPORT   every check below, in order (listening on
 *                                   LPORT and LPORT + 1); one line
 *                                   "ok NAME" or "FAIL NAME: why" each;
 *                                   exit 0 if all passed
 *   run-posix stream HOST PORT      connects, says "stall", writes until its
 *                                   sends block, prints "blocked", then
 *                                   sleeps (to be killed)
 *   run-posix sink HOST PORT        connects, says "sink", writes forever
 *                                   (to be killed mid-transfer)
 *   run-posix hold LPORT            listens, forks two children that keep
 *                                   the listener, prints "held", sleeps
 *   run-posix six HOST6 HOST PORT LPORT
 *                                   the AF_INET6 checks below, against peers
 *                                   on [HOST6]:PORT and HOST:PORT (TCP and
 *                                   UDP echo), listening on LPORT and
 *                                   LPORT + 1; as "all" prints and exits
 *
 * The checks: non-blocking connect (EINPROGRESS, POLLOUT, SO_ERROR, the
 * peer's name; a closed port's ECONNREFUSED), poll, select, epoll level,
 * edge and one-shot, shutdown, sendfile, dup and dup2, fork (a child
 * writing on an inherited connection; two children accepting on an
 * inherited listener), accept4 non-blocking (EAGAIN, then SOCK_NONBLOCK
 * on the new socket), exec keeping a socket without close-on-exec and
 * losing one with it, exec in place, and TCP_CONGESTION by name (Linux's
 * "reno" and "cubic", before connect and on a live connection).
 *
 * The AF_INET6 checks: SO_DOMAIN and IPV6_V6ONLY's default, Linux's errno
 * for short addresses and wrong families, IPV6_* options on an AF_INET
 * socket, non-blocking and blocking connects to an IPv6 peer with its
 * names as sockaddr_in6, a dual-stack listener on [::] accepting an IPv4
 * client as ::ffff:a.b.c.d and an IPv6 one, IPV6_V6ONLY leaving the
 * port free for IPv4 (and refused after bind), UDP sendto/recvfrom and
 * sendmsg/recvmsg to IPv6 and (as sockaddr_in) IPv4 peers, connect and
 * send, a V6ONLY datagram socket refusing IPv4 peers (ENETUNREACH,
 * EAFNOSUPPORT), an AF_INET6 connection kept across an exec, and ::1
 * staying the kernel's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *host, *host6;
static int port, lport;
static int failures;
static const char *self;

static void result(const char *name, bool ok, const char *fmt, ...)
{
    va_list ap;

    if (ok) {
        printf("ok %s\n", name);
    } else {
        printf("FAIL %s: ", name);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf(" (errno %s)\n", strerror(errno));
        failures++;
    }
    fflush(stdout);
}

static struct sockaddr_in addr_of(const char *h, int p)
{
    struct sockaddr_in sa;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)p);
    inet_pton(AF_INET, h, &sa.sin_addr);
    return sa;
}

/* A blocking connection to the peer that sent hello line. */
static int dial(const char *hello)
{
    struct sockaddr_in sa = addr_of(host, port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        write(fd, hello, strlen(hello)) != (ssize_t)strlen(hello)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads exactly n bytes (blocking).  Returns true if all came. */
static bool read_all(int fd, char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static bool write_all(int fd, const char *buf, size_t n)
{
    size_t put = 0;

    while (put < n) {
        ssize_t w = write(fd, buf + put, n - put);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        put += (size_t)w;
    }
    return true;
}

static bool echo_ok(int fd, const char *msg)
{
    char buf[256];
    size_t n = strlen(msg);

    return write_all(fd, msg, n) && read_all(fd, buf, n) && memcmp(buf, msg, n) == 0;
}

/* ---- TCP_CONGESTION ---------------------------------------------------------------- */

/* The algorithm's name as getsockopt gives it, with the length it says. */
static const char *cc_get(int fd, socklen_t *len)
{
    static char name[32];

    memset(name, 'x', sizeof(name));
    *len = sizeof(name);
    if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, len) != 0)
        return "";
    name[sizeof(name) - 1] = '\0';
    return name;
}

static void t_congestion(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), r;
    socklen_t len;
    const char *n;

    n = cc_get(fd, &len);
    /* As Linux: the name NUL-padded to 16 bytes. */
    result("congestion-default", strcmp(n, "cubic") == 0 && len == 16, "'%s' length %u", n,
           (unsigned)len);
    r = setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4);
    n = cc_get(fd, &len);
    result("congestion-set-reno", r == 0 && strcmp(n, "reno") == 0, "set %d, then '%s'", r, n);
    errno = 0;
    r = setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "no-such-cc", 10);
    result("congestion-unknown", r == -1 && errno == ENOENT, "set answered %d", r);
    n = cc_get(fd, &len);
    result("congestion-unknown-keeps", strcmp(n, "reno") == 0, "'%s' after a refused name", n);
    close(fd);
    fd = dial("echo\n");
    if (fd < 0) {
        result("congestion-connected", false, "dial");
        return;
    }
    r = setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 5);
    result("congestion-connected", r == 0 && strcmp(cc_get(fd, &len), "reno") == 0 &&
                                       echo_ok(fd, "under reno\n"),
           "set %d", r);
    r = setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5);
    result("congestion-live-change", r == 0 && strcmp(cc_get(fd, &len), "cubic") == 0 &&
                                         echo_ok(fd, "under cubic\n"),
           "set %d", r);
    close(fd);
}

/* ---- Connect ---------------------------------------------------------------------- */

static void t_nonblocking_connect(void)
{
    struct sockaddr_in sa = addr_of(host, port), peer;
    socklen_t len = sizeof(peer);
    struct pollfd pf;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = -1, r;
    socklen_t el = sizeof(err);

    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    result("connect-einprogress", r < 0 && errno == EINPROGRESS, "connect returned %d", r);
    pf.fd = fd;
    pf.events = POLLOUT;
    r = poll(&pf, 1, 5000);
    result("connect-pollout", r == 1 && (pf.revents & POLLOUT), "poll %d revents %#x", r,
           pf.revents);
    r = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    result("connect-so-error", r == 0 && err == 0, "SO_ERROR %d", err);
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    result("connect-eisconn", r < 0 && errno == EISCONN, "second connect %d", r);
    r = getpeername(fd, (struct sockaddr *)&peer, &len);
    result("connect-peername", r == 0 && peer.sin_family == AF_INET &&
                                   peer.sin_port == sa.sin_port &&
                                   peer.sin_addr.s_addr == sa.sin_addr.s_addr,
           "getpeername %d", r);
    fcntl(fd, F_SETFL, 0);
    result("connect-echo", write_all(fd, "echo\n", 5) && echo_ok(fd, "after connect\n"),
           "echo after a non-blocking connect");
    close(fd);

    /* A closed port. */
    sa = addr_of(host, port + 1);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    pf.fd = fd;
    pf.events = POLLOUT;
    pf.revents = 0;
    if (r < 0 && errno == EINPROGRESS)
        r = poll(&pf, 1, 5000);
    err = 0;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    result("connect-refused", err == ECONNREFUSED, "SO_ERROR %d (%s)", err, strerror(err));
    close(fd);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    result("connect-refused-blocking", r < 0 && errno == ECONNREFUSED, "connect %d", r);
    close(fd);
}

/* ---- Readiness -------------------------------------------------------------------- */

static void t_poll_select(void)
{
    int fd = dial("echo\n"), r;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    struct timeval tv = {.tv_sec = 5};
    fd_set rs;
    char buf[16];

    r = poll(&pf, 1, 200);
    result("poll-idle", r == 0, "poll on an idle connection returned %d", r);
    write_all(fd, "ping\n", 5);
    r = poll(&pf, 1, 5000);
    result("poll-readable", r == 1 && (pf.revents & POLLIN), "poll %d", r);
    read_all(fd, buf, 5);
    write_all(fd, "ping\n", 5);
    FD_ZERO(&rs);
    FD_SET(fd, &rs);
    r = select(fd + 1, &rs, NULL, NULL, &tv);
    result("select-readable", r == 1 && FD_ISSET(fd, &rs), "select %d", r);
    read_all(fd, buf, 5);
    close(fd);
}

static void t_epoll(void)
{
    int fd = dial("echo\n"), ep = epoll_create1(EPOLL_CLOEXEC), r;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd}, out[4];
    char buf[64];

    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    write_all(fd, "level\n", 6);
    r = epoll_wait(ep, out, 4, 5000);
    result("epoll-level", r == 1 && out[0].data.fd == fd, "epoll_wait %d", r);
    r = epoll_wait(ep, out, 4, 100);
    result("epoll-level-again", r == 1, "unread data: epoll_wait %d", r);
    read_all(fd, buf, 6);

    ev.events = EPOLLIN | EPOLLET;
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    write_all(fd, "edge\n", 5);
    r = epoll_wait(ep, out, 4, 5000);
    result("epoll-edge", r == 1, "epoll_wait %d", r);
    r = epoll_wait(ep, out, 4, 150);
    result("epoll-edge-once", r == 0, "no new data: epoll_wait %d", r);
    read_all(fd, buf, 5);

    ev.events = EPOLLIN | EPOLLONESHOT;
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    write_all(fd, "one\n", 4);
    r = epoll_wait(ep, out, 4, 5000);
    result("epoll-oneshot", r == 1, "epoll_wait %d", r);
    read_all(fd, buf, 4);
    write_all(fd, "two\n", 4);
    usleep(200000);
    r = epoll_wait(ep, out, 4, 100);
    result("epoll-oneshot-disarmed", r == 0, "epoll_wait %d before re-arming", r);
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    r = epoll_wait(ep, out, 4, 5000);
    result("epoll-oneshot-rearmed", r == 1, "epoll_wait %d after re-arming", r);
    read_all(fd, buf, 4);
    close(ep);
    close(fd);
}

/* ---- Shutdown and sendfile --------------------------------------------------------- */

static void t_shutdown(void)
{
    int fd = dial("echo\n");
    char buf[64];
    ssize_t n;
    size_t got = 0;

    write_all(fd, "half closed\n", 12);
    result("shutdown-wr", shutdown(fd, SHUT_WR) == 0, "shutdown");
    while ((n = read(fd, buf + got, sizeof(buf) - got)) > 0)
        got += (size_t)n;
    result("shutdown-echo-then-eof", n == 0 && got == 12 && memcmp(buf, "half closed\n", 12) == 0,
           "read %zd after %zu bytes", n, got);
    close(fd);
}

static void t_sendfile(void)
{
    char path[] = "/tmp/run-posix.XXXXXX", *data, *back;
    size_t len = 1 << 20, i;
    int tfd = mkstemp(path), fd;
    off_t off = 0;
    ssize_t n;
    pid_t pid;

    data = malloc(len);
    back = malloc(len);
    for (i = 0; i < len; i++)
        data[i] = (char)(i * 7 + i / 251);
    write_all(tfd, data, len);
    unlink(path);
    fd = dial("echo\n");
    /* The echo comes back while sendfile pushes: read it in a child. */
    pid = fork();
    if (pid == 0) {
        bool ok = read_all(fd, back, len) && memcmp(back, data, len) == 0;

        _exit(ok ? 0 : 1);
    }
    while ((size_t)off < len && (n = sendfile(fd, tfd, &off, len - (size_t)off)) > 0)
        ;
    result("sendfile-all", (size_t)off == len, "sendfile moved %lld of %zu", (long long)off, len);
    {
        int st = 0;

        waitpid(pid, &st, 0);
        result("sendfile-echoed", WIFEXITED(st) && WEXITSTATUS(st) == 0,
               "the echo of the file differs");
    }
    close(fd);
    close(tfd);
    free(data);
    free(back);
}

/* ---- Descriptors: dup, fork, exec ------------------------------------------------- */

static void t_dup(void)
{
    int fd = dial("echo\n"), d, d2 = 50;

    d = dup(fd);
    close(fd);
    result("dup-works", d >= 0 && echo_ok(d, "dup\n"), "echo through dup()");
    result("dup2-works", dup2(d, d2) == d2 && echo_ok(d2, "dup2\n"), "echo through dup2()");
    close(d);
    result("dup2-after-close", echo_ok(d2, "still\n"), "echo after closing the original");
    close(d2);
}

static void t_fork_conn(void)
{
    int fd = dial("echo\n"), st = 0;
    char buf[32];
    pid_t pid = fork();

    if (pid == 0) {
        /* The child writes on the inherited connection, then exits: the
         * connection stays the parent's. */
        _exit(write_all(fd, "from child\n", 11) ? 0 : 1);
    }
    waitpid(pid, &st, 0);
    result("fork-child-writes", WIFEXITED(st) && WEXITSTATUS(st) == 0 && read_all(fd, buf, 11) &&
                                    memcmp(buf, "from child\n", 11) == 0,
           "the child's write did not come back");
    result("fork-parent-keeps", echo_ok(fd, "parent\n"), "the parent's connection after the "
                                                         "child's exit");
    close(fd);
}

/* A listener on port p of every address. */
static int listener(int p, int flags)
{
    struct sockaddr_in sa = addr_of("0.0.0.0", p);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | flags, 0);

    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Asks the peer to dial n connections back to lport.  Returns the
 * control connection (close it once done). */
static int ask_dial(int p, int n)
{
    char line[64], ok[3];
    int fd;

    snprintf(line, sizeof(line), "dial %d %d\n", p, n);
    fd = dial(line);
    if (fd >= 0 && (!read_all(fd, ok, 3) || memcmp(ok, "ok\n", 3) != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Serves one dialled connection: reads its hello line, echoes a line. */
static bool serve_one(int c)
{
    char buf[64];
    size_t n = 0;

    while (n < sizeof(buf) && read(c, buf + n, 1) == 1 && buf[n++] != '\n')
        ;
    return n > 6 && memcmp(buf, "hello ", 6) == 0 && echo_ok(c, "served\n");
}

static void t_accept4(void)
{
    int lfd = listener(lport, 0), c, ctl, r;
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    struct pollfd pf;

    if (lfd < 0) {
        result("listen", false, "cannot listen on %d", lport);
        return;
    }
    fcntl(lfd, F_SETFL, O_NONBLOCK);
    c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
    result("accept4-eagain", c < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "accept4 %d", c);
    ctl = ask_dial(lport, 1);
    pf.fd = lfd;
    pf.events = POLLIN;
    r = poll(&pf, 1, 5000);
    result("accept-pollin", r == 1, "poll on the listener %d", r);
    c = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    result("accept4-peer", c >= 0 && peer.sin_family == AF_INET && len == sizeof(peer),
           "accept4 %d", c);
    result("accept4-nonblock", c >= 0 && (fcntl(c, F_GETFL) & O_NONBLOCK) &&
                                   (fcntl(c, F_GETFD) & FD_CLOEXEC),
           "flags of the accepted socket");
    if (c >= 0) {
        fcntl(c, F_SETFL, 0);
        result("accept4-serves", serve_one(c), "the dialled connection");
        close(c);
    }
    close(ctl);
    close(lfd);
}

static void t_fork_accept(void)
{
    int lfd = listener(lport + 1, 0), ctl, i, served = 0;
    pid_t kids[2];

    if (lfd < 0) {
        result("fork-listen", false, "cannot listen on %d", lport + 1);
        return;
    }
    for (i = 0; i < 2; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            /* Prefork: each child accepts one on the inherited listener. */
            int c = accept(lfd, NULL, NULL);

            _exit(c >= 0 && serve_one(c) ? 0 : 1);
        }
    }
    close(lfd);  /* the children keep it open */
    ctl = ask_dial(lport + 1, 2);
    for (i = 0; i < 2; i++) {
        int st = 0;

        waitpid(kids[i], &st, 0);
        served += WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    result("fork-accept", served == 2, "%d of 2 children served a connection", served);
    close(ctl);
}

static void t_exec(void)
{
    int keep = dial("echo\n"), lose = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), st = 0;
    char a[16], b[16];
    pid_t pid;

    snprintf(a, sizeof(a), "%d", keep);
    snprintf(b, sizeof(b), "%d", lose);
    pid = fork();
    if (pid == 0) {
        execl(self, self, "exec-child", a, b, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    result("exec-keeps-and-closes", WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "the exec'd child exited %d", WEXITSTATUS(st));
    result("exec-parent-keeps", echo_ok(keep, "parent after exec\n"), "the parent's socket");
    close(keep);
    close(lose);
}

/* In the exec'd image: fd a (no close-on-exec) is the same refnet socket,
 * fd b (close-on-exec) is gone. */
static int exec_child(int a, int b)
{
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);

    if (fcntl(b, F_GETFD) != -1 || errno != EBADF)
        return 2;
    if (getpeername(a, (struct sockaddr *)&peer, &len) != 0 || peer.sin_family != AF_INET ||
        ntohs(peer.sin_port) != port)
        return 3;
    return echo_ok(a, "exec child\n") ? 0 : 4;
}

static void t_exec_same(void)
{
    int fd = dial("echo\n"), st = 0;
    char a[16];
    pid_t pid;

    snprintf(a, sizeof(a), "%d", fd);
    pid = fork();
    if (pid == 0) {
        /* The child execs in place, twice over: its refnet process stays. */
        execl(self, self, "exec-same", a, "2", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    result("exec-in-place", WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d", WEXITSTATUS(st));
    close(fd);
}

static int exec_same(int fd, int left)
{
    char a[16], l[16];

    if (!echo_ok(fd, "exec same\n"))
        return 5;
    if (left == 0)
        return 0;
    snprintf(a, sizeof(a), "%d", fd);
    snprintf(l, sizeof(l), "%d", left - 1);
    execl(self, self, "exec-same", a, l, (char *)NULL);
    return 6;
}

/* ---- Programs to be killed ------------------------------------------------------------- */

static int stream_until_blocked(const char *hello)
{
    static char buf[65536];
    int fd = dial(hello);
    struct pollfd pf;

    if (fd < 0)
        return 1;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    memset(buf, 'x', sizeof(buf));
    for (;;) {
        ssize_t w = write(fd, buf, sizeof(buf));

        if (w > 0)
            continue;
        if (w < 0 && errno == EAGAIN) {
            pf.fd = fd;
            pf.events = POLLOUT;
            if (poll(&pf, 1, 2000) == 0 && strcmp(hello, "stall\n") == 0) {
                printf("blocked\n");
                fflush(stdout);
                pause();
            }
            continue;
        }
        return 1;
    }
}

static int hold(void)
{
    int lfd = listener(lport, 0), i;

    if (lfd < 0)
        return 1;
    for (i = 0; i < 2; i++)
        if (fork() == 0) {
            pause();
            _exit(0);
        }
    printf("held\n");
    fflush(stdout);
    pause();
    return 0;
}

/* ---- AF_INET6 -------------------------------------------------------------------- */

static struct sockaddr_in6 addr6_of(const char *h, int p)
{
    struct sockaddr_in6 sa;

    memset(&sa, 0, sizeof(sa));
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons((uint16_t)p);
    inet_pton(AF_INET6, h, &sa.sin6_addr);
    return sa;
}

/* The address of sa as text, port apart. */
static const char *text6(const struct sockaddr_in6 *sa)
{
    static char buf[INET6_ADDRSTRLEN];

    return inet_ntop(AF_INET6, &sa->sin6_addr, buf, sizeof(buf)) ? buf : "?";
}

static bool is6(const struct sockaddr_in6 *sa, socklen_t len, const char *h, int p)
{
    struct sockaddr_in6 want = addr6_of(h, p);

    return len == sizeof(*sa) && sa->sin6_family == AF_INET6 &&
           (p < 0 || sa->sin6_port == want.sin6_port) &&
           memcmp(&sa->sin6_addr, &want.sin6_addr, 16) == 0;
}

static int int_opt(int fd, int level, int name)
{
    int v = -1;
    socklen_t l = sizeof(v);

    return getsockopt(fd, level, name, &v, &l) == 0 ? v : -100 - errno;
}

/* A socket's bad input: the errno Linux gives. */
static void t6_bad_input(void)
{
    struct sockaddr_in6 sa = addr6_of("::", lport);
    struct sockaddr_in s4 = addr_of("0.0.0.0", lport);
    int fd = socket(AF_INET6, SOCK_STREAM, 0), one = 1, r;

    result("six-socket", fd >= 0 && int_opt(fd, SOL_SOCKET, SO_DOMAIN) == AF_INET6,
           "socket %d, SO_DOMAIN %d", fd, int_opt(fd, SOL_SOCKET, SO_DOMAIN));
    result("six-v6only-default", int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY) == 0, "IPV6_V6ONLY %d",
           int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY));
    r = bind(fd, (struct sockaddr *)&sa, 20);
    result("six-bind-short", r < 0 && errno == EINVAL, "bind of 20 bytes %d", r);
    r = bind(fd, (struct sockaddr *)&s4, sizeof(s4));
    result("six-bind-sockaddr-in", r < 0 && errno == EINVAL, "bind of a sockaddr_in %d", r);
    sa.sin6_family = AF_INET;
    r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    result("six-bind-family", r < 0 && errno == EAFNOSUPPORT, "bind as AF_INET %d", r);
    sa = addr6_of(host6, port);
    sa.sin6_family = 4242;
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    result("six-connect-family", r < 0 && errno == EAFNOSUPPORT, "connect as family 4242 %d",
           r);
    r = setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &(int){256}, sizeof(int));
    result("six-tclass-range", r < 0 && errno == EINVAL, "IPV6_TCLASS 256 %d", r);
    r = setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &(int){0x20}, sizeof(int));
    result("six-tclass", r == 0 && int_opt(fd, IPPROTO_IPV6, IPV6_TCLASS) == 0x20,
           "IPV6_TCLASS %d, then %d", r, int_opt(fd, IPPROTO_IPV6, IPV6_TCLASS));
    close(fd);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    r = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    result("six-option-on-inet", r < 0 && errno == ENOPROTOOPT,
           "IPV6_V6ONLY on an AF_INET socket %d", r);
    close(fd);
    fd = socket(AF_INET6, SOCK_DGRAM, 0);
    sa = addr6_of(host6, port);
    sa.sin6_family = 4242;
    r = (int)sendto(fd, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa));
    result("six-sendto-family", r < 0 && errno == EINVAL, "sendto as family 4242 %d", r);
    close(fd);
}

/* Connects to the IPv6 peer, non-blocking then blocking. */
static void t6_connect(void)
{
    struct sockaddr_in6 sa = addr6_of(host6, port), peer, me;
    socklen_t len = sizeof(peer), mlen = sizeof(me);
    struct pollfd pf = {.events = POLLOUT};
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0), err = -1, r;
    socklen_t el = sizeof(err);

    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    result("six-connect-einprogress", r < 0 && errno == EINPROGRESS, "connect %d", r);
    pf.fd = fd;
    r = poll(&pf, 1, 5000);
    result("six-connect-pollout", r == 1 && (pf.revents & POLLOUT), "poll %d", r);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    result("six-connect-so-error", err == 0, "SO_ERROR %d", err);
    r = getpeername(fd, (struct sockaddr *)&peer, &len);
    result("six-peername", r == 0 && is6(&peer, len, host6, port), "getpeername %d: %s", r,
           text6(&peer));
    r = getsockname(fd, (struct sockaddr *)&me, &mlen);
    result("six-sockname", r == 0 && mlen == sizeof(me) && me.sin6_family == AF_INET6 &&
                               me.sin6_port != 0 && !IN6_IS_ADDR_V4MAPPED(&me.sin6_addr) &&
                               !IN6_IS_ADDR_UNSPECIFIED(&me.sin6_addr),
           "getsockname %d: %s", r, text6(&me));
    fcntl(fd, F_SETFL, 0);
    result("six-connect-echo", write_all(fd, "echo\n", 5) && echo_ok(fd, "over IPv6\n"),
           "echo");
    close(fd);
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    result("six-connect-blocking", r == 0 && write_all(fd, "echo\n", 5) &&
                                       echo_ok(fd, "blocking\n"),
           "connect %d", r);
    close(fd);
    sa = addr6_of(host6, port + 1);
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    result("six-connect-refused", r < 0 && errno == ECONNREFUSED, "connect %d", r);
    close(fd);
}

static int listener6(int p, int v6only)
{
    struct sockaddr_in6 sa = addr6_of("::", p);
    int one = 1, fd = socket(AF_INET6, SOCK_STREAM, 0);

    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Asks the IPv6 peer to dial n connections back to p. */
static int ask_dial6(int p, int n)
{
    struct sockaddr_in6 sa = addr6_of(host6, port);
    char line[64], ok[3];
    int fd = socket(AF_INET6, SOCK_STREAM, 0);

    snprintf(line, sizeof(line), "dial %d %d\n", p, n);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        !write_all(fd, line, strlen(line)) || !read_all(fd, ok, 3) || memcmp(ok, "ok\n", 3) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Accepts one connection on lfd (5 s at most) and serves it; the peer's
 * address must be want. */
static void accept_from(const char *name, int lfd, const char *want, bool four)
{
    struct sockaddr_in6 peer, me, pn;
    socklen_t len = sizeof(peer), mlen = sizeof(me), plen = sizeof(pn);
    struct pollfd pf = {.fd = lfd, .events = POLLIN};
    char n[64];
    int c = -1;

    if (poll(&pf, 1, 5000) == 1)
        c = four ? accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC)
                 : accept(lfd, (struct sockaddr *)&peer, &len);
    snprintf(n, sizeof(n), "%s-accept", name);
    result(n, c >= 0 && is6(&peer, len, want, -1), "accept %d from %s", c, text6(&peer));
    if (c < 0)
        return;
    snprintf(n, sizeof(n), "%s-names", name);
    result(n, getpeername(c, (struct sockaddr *)&pn, &plen) == 0 && is6(&pn, plen, want, -1) &&
                  pn.sin6_port == peer.sin6_port &&
                  getsockname(c, (struct sockaddr *)&me, &mlen) == 0 &&
                  me.sin6_family == AF_INET6 && ntohs(me.sin6_port) == lport &&
                  IN6_IS_ADDR_V4MAPPED(&me.sin6_addr) == IN6_IS_ADDR_V4MAPPED(&pn.sin6_addr) &&
                  int_opt(c, SOL_SOCKET, SO_DOMAIN) == AF_INET6,
           "peer %s, local port %d", text6(&pn), ntohs(me.sin6_port));
    snprintf(n, sizeof(n), "%s-serves", name);
    result(n, serve_one(c), "the dialled connection");
    close(c);
}

/* A dual-stack listener on [::] takes IPv4 clients as ::ffff:a.b.c.d and
 * IPv6 ones; IPV6_V6ONLY leaves the port to IPv4. */
static void t6_listen(void)
{
    struct sockaddr_in s4 = addr_of("0.0.0.0", lport + 1);
    char mapped[64];
    int lfd = listener6(lport, 0), ctl, fd, r, one = 1;

    result("six-listen-dual", lfd >= 0, "listen on [::]:%d", lport);
    if (lfd < 0)
        return;
    snprintf(mapped, sizeof(mapped), "::ffff:%s", host);
    ctl = ask_dial(lport, 1);
    accept_from("six-dual-v4", lfd, mapped, false);
    close(ctl);
    ctl = ask_dial6(lport, 1);
    accept_from("six-dual-v6", lfd, host6, true);
    close(ctl);
    r = setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    result("six-v6only-after-bind", r < 0 && errno == EINVAL, "IPV6_V6ONLY after bind %d", r);
    /* The dual-stack listener holds the port for IPv4 too... */
    s4 = addr_of("0.0.0.0", lport);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    r = bind(fd, (struct sockaddr *)&s4, sizeof(s4));
    result("six-dual-holds-v4", r < 0 && errno == EADDRINUSE,
           "AF_INET bind beside a dual-stack listener %d", r);
    close(fd);
    close(lfd);
    /* ...a V6ONLY one does not. */
    s4 = addr_of("0.0.0.0", lport + 1);
    lfd = listener6(lport + 1, 1);
    result("six-v6only-set", lfd >= 0 && int_opt(lfd, IPPROTO_IPV6, IPV6_V6ONLY) == 1,
           "a V6ONLY listener on %d", lport + 1);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    r = bind(fd, (struct sockaddr *)&s4, sizeof(s4));
    result("six-v6only-port-free", r == 0, "AF_INET bind beside a V6ONLY listener %d", r);
    close(fd);
    close(lfd);
}

/* UDP to the IPv6 peer and (as sockaddr_in) to the IPv4 one. */
static void t6_udp(void)
{
    struct sockaddr_in6 sa = addr6_of(host6, port), from;
    struct sockaddr_in s4 = addr_of(host, port);
    socklen_t flen = sizeof(from);
    char buf[4096], big[3000], mapped[64];
    struct timeval tv = {.tv_sec = 5};
    struct iovec iov;
    struct msghdr mh;
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    ssize_t n;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    snprintf(mapped, sizeof(mapped), "::ffff:%s", host);
    n = sendto(fd, "six", 3, 0, (struct sockaddr *)&sa, sizeof(sa));
    n = n == 3 ? recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen) : -1;
    result("six-udp-sendto", n == 3 && memcmp(buf, "six", 3) == 0 && is6(&from, flen, host6, port),
           "%zd bytes from %s", n, text6(&from));
    n = sendto(fd, "four", 4, 0, (struct sockaddr *)&s4, sizeof(s4));
    flen = sizeof(from);
    n = n == 4 ? recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen) : -1;
    result("six-udp-mapped", n == 4 && is6(&from, flen, mapped, port), "%zd bytes from %s", n,
           text6(&from));
    memset(&mh, 0, sizeof(mh));
    iov.iov_base = "msg";
    iov.iov_len = 3;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_name = &sa;
    mh.msg_namelen = sizeof(sa);
    n = sendmsg(fd, &mh, 0);
    memset(&from, 0, sizeof(from));
    iov.iov_base = buf;
    iov.iov_len = sizeof(buf);
    mh.msg_name = &from;
    mh.msg_namelen = sizeof(from);
    n = n == 3 ? recvmsg(fd, &mh, 0) : -1;
    result("six-udp-msg", n == 3 && is6(&from, mh.msg_namelen, host6, port),
           "%zd bytes from %s", n, text6(&from));
    memset(big, 'b', sizeof(big));
    n = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? send(fd, big, sizeof(big), 0) : -1;
    n = n == (ssize_t)sizeof(big) ? recv(fd, buf, sizeof(buf), 0) : -1;
    result("six-udp-connected", n == (ssize_t)sizeof(big) && memcmp(buf, big, sizeof(big)) == 0,
           "%zd bytes", n);
    close(fd);
    /* A V6ONLY datagram socket has no IPv4 peers. */
    fd = socket(AF_INET6, SOCK_DGRAM, 0);
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int){1}, sizeof(int));
    n = sendto(fd, "x", 1, 0, (struct sockaddr *)&s4, sizeof(s4));
    result("six-udp-v6only-sendto", n < 0 && errno == ENETUNREACH, "sendto an IPv4 peer %zd", n);
    n = connect(fd, (struct sockaddr *)&s4, sizeof(s4));
    result("six-udp-v6only-connect", n < 0 && errno == EAFNOSUPPORT, "connect to an IPv4 peer %zd",
           n);
    close(fd);
}

/* An AF_INET6 connection kept across an exec: the new image's shim
 * finds it an AF_INET6 socket still. */
static void t6_exec(void)
{
    struct sockaddr_in6 sa = addr6_of(host6, port);
    int fd = socket(AF_INET6, SOCK_STREAM, 0), st = 0;
    char a[16], p[16];
    pid_t pid;

    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || !write_all(fd, "echo\n", 5)) {
        result("six-exec", false, "no connection to exec with");
        close(fd);
        return;
    }
    snprintf(a, sizeof(a), "%d", fd);
    snprintf(p, sizeof(p), "%d", port);
    pid = fork();
    if (pid == 0) {
        execl(self, self, "exec6-child", a, host6, p, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    result("six-exec", WIFEXITED(st) && WEXITSTATUS(st) == 0, "the exec'd child exited %d",
           WEXITSTATUS(st));
    close(fd);
}

/* In the exec'd image: fd is the same AF_INET6 refnet connection. */
static int exec6_child(int fd, const char *h6, int p)
{
    struct sockaddr_in6 peer;
    socklen_t len = sizeof(peer);

    if (int_opt(fd, SOL_SOCKET, SO_DOMAIN) != AF_INET6)
        return 2;
    if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0 || !is6(&peer, len, h6, p))
        return 3;
    return echo_ok(fd, "exec child over IPv6\n") ? 0 : 4;
}

/* ::1 stays the kernel's, as 127.0.0.1 does. */
static void t6_loopback(void)
{
    struct sockaddr_in6 sa = addr6_of("::1", 0), me;
    socklen_t len = sizeof(me);
    int fd = socket(AF_INET6, SOCK_STREAM, 0), r;

    r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    r = r == 0 ? listen(fd, 1) : r;
    r = r == 0 ? getsockname(fd, (struct sockaddr *)&me, &len) : r;
    result("six-loopback-kernel", r == 0 && is6(&me, len, "::1", -1) && me.sin6_port != 0,
           "bind to [::1] %d", r);
    close(fd);
}

int main(int argc, char **argv)
{
    self = argv[0];
    signal(SIGPIPE, SIG_IGN);
    if (argc == 4 && strcmp(argv[1], "exec-child") == 0) {
        port = atoi(getenv("RUN_POSIX_PORT") ? getenv("RUN_POSIX_PORT") : "0");
        return exec_child(atoi(argv[2]), atoi(argv[3]));
    }
    if (argc == 5 && strcmp(argv[1], "exec6-child") == 0)
        return exec6_child(atoi(argv[2]), argv[3], atoi(argv[4]));
    if (argc == 4 && strcmp(argv[1], "exec-same") == 0)
        return exec_same(atoi(argv[2]), atoi(argv[3]));
    if (argc == 5 && strcmp(argv[1], "all") == 0) {
        char p[16];

        host = argv[2];
        port = atoi(argv[3]);
        lport = atoi(argv[4]);
        snprintf(p, sizeof(p), "%d", port);
        setenv("RUN_POSIX_PORT", p, 1);
        t_nonblocking_connect();
        t_poll_select();
        t_epoll();
        t_shutdown();
        t_sendfile();
        t_dup();
        t_fork_conn();
        t_accept4();
        t_fork_accept();
        t_exec();
        t_exec_same();
        t_congestion();
        printf("%d failed\n", failures);
        return failures ? 1 : 0;
    }
    if (argc == 4 && (strcmp(argv[1], "stream") == 0 || strcmp(argv[1], "sink") == 0)) {
        host = argv[2];
        port = atoi(argv[3]);
        return stream_until_blocked(strcmp(argv[1], "stream") == 0 ? "stall\n" : "sink\n");
    }
    if (argc == 6 && strcmp(argv[1], "six") == 0) {
        host6 = argv[2];
        host = argv[3];
        port = atoi(argv[4]);
        lport = atoi(argv[5]);
        t6_bad_input();
        t6_connect();
        t6_listen();
        t6_udp();
        t6_exec();
        t6_loopback();
        printf("%d failed\n", failures);
        return failures ? 1 : 0;
    }
    if (argc == 3 && strcmp(argv[1], "hold") == 0) {
        lport = atoi(argv[2]);
        return hold();
    }
    fprintf(stderr, "usage: run-posix all HOST PORT LPORT | stream HOST PORT | sink HOST PORT "
                    "| hold LPORT | six HOST6 HOST PORT LPORT\n");
    return 2;
}
