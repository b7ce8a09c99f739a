/*
 * The calls a case makes, each recorded as one line of the run's log in
 * words both runs share: addresses by role ("peer"), the case's ports by
 * number ("P1"), ports the system picked as "eph", sockets by the order
 * the run made them ("s1" the subject's, "p1" the peer's), errno by name.
 * The subject's calls go through the run's table (S_); the peer's are the
 * kernel's own, in the peer or remote namespace (P_, R_).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "sockdiff.h"

/* ---- Words ------------------------------------------------------------------------ */

int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

const char *errname(int e)
{
    const char *n = strerrorname_np(e);

    return n != NULL ? n : "E?";
}

static const char *const where_names[A_COUNT_] = {
    [A_ANY] = "any",       [A_SELF] = "self",         [A_PEER] = "peer",
    [A_SILENT] = "silent", [A_REMOTE] = "remote",     [A_NOHOST] = "nohost",
    [A_NETBCAST] = "netbcast", [A_BCAST] = "bcast",   [A_OTHER] = "other",
};

static const char *addr_word(const struct run *r, uint32_t a, char *buf, size_t len)
{
    struct in_addr in = {htonl(a)};
    unsigned w;

    for (w = 0; w < A_COUNT_; w++) {
        if (r->r_addr[w] == a)
            return where_names[w];
    }
    return inet_ntop(AF_INET, &in, buf, (socklen_t)len);
}

static const char *port_word(const struct run *r, uint16_t port, char *buf, size_t len)
{
    if (port != 0 && port >= r->r_port_base && port < r->r_port_base + 20)
        snprintf(buf, len, "P%u", (unsigned)(port - r->r_port_base));
    else if (port >= 32768)
        snprintf(buf, len, "eph");
    else
        snprintf(buf, len, "%u", (unsigned)port);
    return buf;
}

static const char *sin_word(const struct run *r, const struct sockaddr_in *sin, char *buf,
                            size_t len)
{
    char a[20], p[12];

    if (sin->sin_family != AF_INET) {
        snprintf(buf, len, "family %d", sin->sin_family);
        return buf;
    }
    snprintf(buf, len, "%s:%s", addr_word(r, ntohl(sin->sin_addr.s_addr), a, sizeof(a)),
             port_word(r, ntohs(sin->sin_port), p, sizeof(p)));
    return buf;
}

static struct sockaddr_in sin_of(const struct run *r, enum where w, uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};

    sin.sin_addr.s_addr = htonl(r->r_addr[w]);
    sin.sin_port = htons(port);
    return sin;
}

/* "= 0", "= -1 ECONNREFUSED", "= -1 (refnet cannot say: ...)". */
static const char *res_word(const struct run *r, long long v, int e, char *buf, size_t len)
{
    if (v >= 0)
        snprintf(buf, len, "= %lld", v);
    else if (e == E_NOTEXPR)
        snprintf(buf, len, "= -1 (refnet's API cannot say %s)",
                 r->r_notexpr ? r->r_notexpr : "this");
    else
        snprintf(buf, len, "= -1 %s", errname(e));
    return buf;
}

static const char *fd_word(struct run *r, int fd, bool peer, char *buf, size_t len)
{
    return run_label(r, fd, peer, buf, len);
}

static uint32_t fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint32_t h = 2166136261u;

    while (n-- > 0)
        h = (h ^ *b++) * 16777619u;
    return h;
}

/* Data as text: short printable data quoted, the rest by length and hash. */
static const char *data_word(const void *p, size_t n, char *buf, size_t len)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n && n <= 40; i++) {
        if (b[i] < 0x20 || b[i] > 0x7e || b[i] == '"')
            break;
    }
    if (n <= 40 && i == n)
        snprintf(buf, len, "\"%.*s\"", (int)n, (const char *)p);
    else
        snprintf(buf, len, "[%zu bytes, fnv %08x]", n, fnv1a(p, n));
    return buf;
}

static const char *events_word(short ev, char *buf, size_t len)
{
    static const struct {
        short bit;
        const char *name;
    } bits[] = {{POLLIN, "IN"},   {POLLOUT, "OUT"},   {POLLERR, "ERR"},
                {POLLHUP, "HUP"}, {POLLNVAL, "NVAL"}, {POLLRDHUP, "RDHUP"}};
    size_t i, o = 0;

    buf[0] = '\0';
    for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        if (ev & bits[i].bit)
            o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "|" : "", bits[i].name);
    }
    if (o == 0)
        snprintf(buf, len, "0");
    return buf;
}

static const char *flags_word(int f, char *buf, size_t len)
{
    static const struct {
        int bit;
        const char *name;
    } bits[] = {{MSG_PEEK, "PEEK"},         {MSG_DONTWAIT, "DONTWAIT"}, {MSG_WAITALL, "WAITALL"},
                {MSG_NOSIGNAL, "NOSIGNAL"}, {MSG_MORE, "MORE"},         {MSG_TRUNC, "TRUNC"}};
    size_t i, o = 0;

    buf[0] = '\0';
    for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        if (f & bits[i].bit) {
            o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "|" : "", bits[i].name);
            f &= ~bits[i].bit;
        }
    }
    if (f != 0)
        o += (size_t)snprintf(buf + o, len - o, "%s0x%x", o ? "|" : "", (unsigned)f);
    if (o == 0)
        snprintf(buf, len, "0");
    return buf;
}

static const char *type_word(int type, char *buf, size_t len)
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    const char *b = base == SOCK_STREAM    ? "STREAM"
                    : base == SOCK_DGRAM   ? "DGRAM"
                    : base == SOCK_RAW     ? "RAW"
                    : base == SOCK_SEQPACKET ? "SEQPACKET"
                                           : NULL;

    if (b != NULL)
        snprintf(buf, len, "%s%s", b, type & SOCK_NONBLOCK ? "|NONBLOCK" : "");
    else
        snprintf(buf, len, "%d", type);
    return buf;
}

static const char *opt_word(int level, int name, char *buf, size_t len)
{
    static const struct {
        int level, name;
        const char *word;
    } opts[] = {
        {SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF"},       {SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF"},
        {SOL_SOCKET, SO_RCVTIMEO, "SO_RCVTIMEO"},   {SOL_SOCKET, SO_SNDTIMEO, "SO_SNDTIMEO"},
        {SOL_SOCKET, SO_LINGER, "SO_LINGER"},       {SOL_SOCKET, SO_ERROR, "SO_ERROR"},
        {SOL_SOCKET, SO_TYPE, "SO_TYPE"},           {SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"},
        {SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR"}, {SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT"},
        {SOL_SOCKET, SO_ACCEPTCONN, "SO_ACCEPTCONN"}, {SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST"},
        {SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT"},   {SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY"},
        {IPPROTO_IP, IP_TOS, "IP_TOS"},             {IPPROTO_IP, IP_TTL, "IP_TTL"},
        {IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY"},  {IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG"},
        {IPPROTO_TCP, TCP_CORK, "TCP_CORK"},        {IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE"},
        {IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL"}, {IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT"},
        {IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT"},
        {IPPROTO_TCP, TCP_SYNCNT, "TCP_SYNCNT"},    {IPPROTO_TCP, TCP_WINDOW_CLAMP, "TCP_WINDOW_CLAMP"},
        {IPPROTO_TCP, TCP_CONGESTION, "TCP_CONGESTION"},
    };
    size_t i;

    for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        if (opts[i].level == level && opts[i].name == name)
            return opts[i].word;
    }
    snprintf(buf, len, "%d/%d", level, name);
    return buf;
}

/* ---- The log -------------------------------------------------------------------- */

static void add(struct run *r, const char *text, int64_t ms, int64_t tol)
{
    struct entry *e;

    if (r->r_quiet)
        return;
    if (r->r_nlog == RUN_MAX_LOG) {
        r->r_overflow = true;
        return;
    }
    e = &r->r_log[r->r_nlog++];
    snprintf(e->e_text, sizeof(e->e_text), "%s", text);
    e->e_ms = ms;
    e->e_tol = tol;
}

void note(struct run *r, const char *fmt, ...)
{
    char buf[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    add(r, buf, 0, -1);
}

void duration(struct run *r, const char *what, int64_t ms, int64_t tol)
{
    char buf[200];

    snprintf(buf, sizeof(buf), "%s took", what);
    add(r, buf, ms, tol);
}

/* Records "CALL RESULT": the call's text is made by the wrapper. */
static void rec(struct run *r, long long v, int e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void rec(struct run *r, long long v, int e, const char *fmt, ...)
{
    char call[160], res[120], line[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(call, sizeof(call), fmt, ap);
    va_end(ap);
    res_word(r, v, e, res, sizeof(res));
    snprintf(line, sizeof(line), "%s %s", call, res);
    add(r, line, 0, -1);
}

/* ---- The subject ------------------------------------------------------------------ */

int S_socket3(struct run *r, int domain, int type, int proto)
{
    char t[32], l[16];
    int fd = r->r_api->sa_socket(r, domain, type, proto);
    int e = errno;

    if (fd >= 0) {
        run_track(r, fd, false);
        note(r, "socket(%s, %s, %d) = %s",
             domain == AF_INET ? "INET" : domain == AF_INET6 ? "INET6" : "?",
             type_word(type, t, sizeof(t)), proto, fd_word(r, fd, false, l, sizeof(l)));
    } else {
        rec(r, fd, e, "socket(%s, %s, %d)",
            domain == AF_INET ? "INET" : domain == AF_INET6 ? "INET6" : "?",
            type_word(type, t, sizeof(t)), proto);
    }
    errno = e;
    return fd;
}

int S_socket(struct run *r, int type)
{
    return S_socket3(r, AF_INET, type, 0);
}

int S_bind(struct run *r, int s, enum where w, uint16_t port)
{
    struct sockaddr_in sin = sin_of(r, w, port);
    char l[16], a[40];
    int v = r->r_api->sa_bind(r, s, (struct sockaddr *)&sin, sizeof(sin));
    int e = errno;

    rec(r, v, e, "bind(%s, %s)", fd_word(r, s, false, l, sizeof(l)), sin_word(r, &sin, a, sizeof(a)));
    errno = e;
    return v;
}

int S_bind_raw(struct run *r, int s, const void *sa, socklen_t len, const char *what)
{
    char l[16];
    int v = r->r_api->sa_bind(r, s, sa, len);
    int e = errno;

    rec(r, v, e, "bind(%s, %s)", fd_word(r, s, false, l, sizeof(l)), what);
    errno = e;
    return v;
}

int S_listen(struct run *r, int s, int backlog)
{
    char l[16];
    int v = r->r_api->sa_listen(r, s, backlog);
    int e = errno;

    rec(r, v, e, "listen(%s, %d)", fd_word(r, s, false, l, sizeof(l)), backlog);
    errno = e;
    return v;
}

int S_connect(struct run *r, int s, enum where w, uint16_t port)
{
    struct sockaddr_in sin = sin_of(r, w, port);
    char l[16], a[40];
    int v = r->r_api->sa_connect(r, s, (struct sockaddr *)&sin, sizeof(sin));
    int e = errno;

    rec(r, v, e, "connect(%s, %s)", fd_word(r, s, false, l, sizeof(l)),
        sin_word(r, &sin, a, sizeof(a)));
    errno = e;
    return v;
}

int S_connect_raw(struct run *r, int s, const void *sa, socklen_t len, const char *what)
{
    char l[16];
    int v = r->r_api->sa_connect(r, s, sa, len);
    int e = errno;

    rec(r, v, e, "connect(%s, %s)", fd_word(r, s, false, l, sizeof(l)), what);
    errno = e;
    return v;
}

int S_accept4(struct run *r, int s, int flags)
{
    struct sockaddr_in peer = {0};
    char l[16], n[16], a[40], f[40];
    int fd = r->r_api->sa_accept4(r, s, &peer, flags);
    int e = errno;

    if (fd >= 0) {
        run_track(r, fd, false);
        note(r, "accept4(%s, %s) = %s from %s", fd_word(r, s, false, l, sizeof(l)),
             type_word(flags ? flags | SOCK_STREAM : SOCK_STREAM, f, sizeof(f)),
             fd_word(r, fd, false, n, sizeof(n)), sin_word(r, &peer, a, sizeof(a)));
    } else {
        rec(r, fd, e, "accept4(%s, %d)", fd_word(r, s, false, l, sizeof(l)), flags);
    }
    errno = e;
    return fd;
}

int S_accept(struct run *r, int s)
{
    return S_accept4(r, s, 0);
}

ssize_t S_send(struct run *r, int s, const void *buf, size_t len, int flags)
{
    char l[16], f[40];
    ssize_t v = r->r_api->sa_sendto(r, s, buf, len, flags, NULL);
    int e = errno;

    rec(r, v, e, "send(%s, %zu, %s)", fd_word(r, s, false, l, sizeof(l)), len,
        flags_word(flags, f, sizeof(f)));
    errno = e;
    return v;
}

ssize_t S_sendto(struct run *r, int s, const void *buf, size_t len, int flags, enum where w,
                 uint16_t port)
{
    struct sockaddr_in sin = sin_of(r, w, port);
    char l[16], f[40], a[40];
    ssize_t v = r->r_api->sa_sendto(r, s, buf, len, flags, &sin);
    int e = errno;

    rec(r, v, e, "sendto(%s, %zu, %s, %s)", fd_word(r, s, false, l, sizeof(l)), len,
        flags_word(flags, f, sizeof(f)), sin_word(r, &sin, a, sizeof(a)));
    errno = e;
    return v;
}

static ssize_t recv_common(struct run *r, int s, size_t len, int flags, bool want_from,
                           bool want_mflags)
{
    struct sockaddr_in from = {0};
    char l[16], f[40], d[80], a[40], mf[40];
    int mflags = 0;
    ssize_t v;
    int e;

    if (len > sizeof(r->r_buf))
        len = sizeof(r->r_buf);
    v = r->r_api->sa_recvfrom(r, s, r->r_buf, len, flags, want_from ? &from : NULL,
                              want_mflags ? &mflags : NULL);
    e = errno;
    if (v >= 0) {
        /* MSG_TRUNC asks for the datagram's real length: the data is
         * only what fitted. */
        size_t got = (size_t)v < len ? (size_t)v : len;

        note(r, "%s(%s, %zu, %s) = %zd %s%s%s%s%s", want_mflags ? "recvmsg" : want_from ? "recvfrom" : "recv",
             fd_word(r, s, false, l, sizeof(l)), len, flags_word(flags, f, sizeof(f)), v,
             data_word(r->r_buf, got, d, sizeof(d)), want_from ? " from " : "",
             want_from ? sin_word(r, &from, a, sizeof(a)) : "",
             want_mflags ? " flags " : "", want_mflags ? flags_word(mflags, mf, sizeof(mf)) : "");
    } else {
        rec(r, v, e, "%s(%s, %zu, %s)", want_mflags ? "recvmsg" : want_from ? "recvfrom" : "recv",
            fd_word(r, s, false, l, sizeof(l)), len, flags_word(flags, f, sizeof(f)));
    }
    errno = e;
    return v;
}

ssize_t S_recv(struct run *r, int s, size_t len, int flags)
{
    return recv_common(r, s, len, flags, false, false);
}

ssize_t S_recvfrom(struct run *r, int s, size_t len, int flags)
{
    return recv_common(r, s, len, flags, true, false);
}

ssize_t S_recvmsg(struct run *r, int s, size_t len, int flags)
{
    return recv_common(r, s, len, flags, false, true);
}

int S_shutdown(struct run *r, int s, int how)
{
    char l[16];
    int v = r->r_api->sa_shutdown(r, s, how);
    int e = errno;

    rec(r, v, e, "shutdown(%s, %s)", fd_word(r, s, false, l, sizeof(l)),
        how == SHUT_RD ? "RD" : how == SHUT_WR ? "WR" : how == SHUT_RDWR ? "RDWR" : "?");
    errno = e;
    return v;
}

int S_close(struct run *r, int s)
{
    char l[16];
    int v, e;

    fd_word(r, s, false, l, sizeof(l));
    v = r->r_api->sa_close(r, s);
    e = errno;
    if (v == 0)
        run_untrack(r, s, false);
    rec(r, v, e, "close(%s)", l);
    errno = e;
    return v;
}

int S_setint(struct run *r, int s, int level, int name, int val)
{
    char l[16], o[32];
    int v = r->r_api->sa_setsockopt(r, s, level, name, &val, sizeof(val));
    int e = errno;

    rec(r, v, e, "setsockopt(%s, %s, %d)", fd_word(r, s, false, l, sizeof(l)),
        opt_word(level, name, o, sizeof(o)), val);
    errno = e;
    return v;
}

int S_getint(struct run *r, int s, int level, int name)
{
    char l[16], o[32];
    int val = -12345;
    socklen_t len = sizeof(val);
    int v = r->r_api->sa_getsockopt(r, s, level, name, &val, &len);
    int e = errno;

    if (v == 0) {
        const char *en = level == SOL_SOCKET && name == SO_ERROR && val > 0 ? errname(val) : "";

        note(r, "getsockopt(%s, %s) = 0, value %d%s%s", fd_word(r, s, false, l, sizeof(l)),
             opt_word(level, name, o, sizeof(o)), val, *en ? " " : "", en);
    } else {
        rec(r, v, e, "getsockopt(%s, %s)", fd_word(r, s, false, l, sizeof(l)),
            opt_word(level, name, o, sizeof(o)));
    }
    errno = e;
    return v == 0 ? val : -1;
}

int S_setopt_raw(struct run *r, int s, int level, int name, const void *val, socklen_t len,
                 const char *what)
{
    char l[16], o[32];
    int v = r->r_api->sa_setsockopt(r, s, level, name, val, len);
    int e = errno;

    rec(r, v, e, "setsockopt(%s, %s, %s)", fd_word(r, s, false, l, sizeof(l)),
        opt_word(level, name, o, sizeof(o)), what);
    errno = e;
    return v;
}

int S_setstr(struct run *r, int s, int level, int name, const char *val)
{
    char what[48];

    snprintf(what, sizeof(what), "\"%s\"", val);
    return S_setopt_raw(r, s, level, name, val, (socklen_t)strlen(val), what);
}

int S_getstr(struct run *r, int s, int level, int name, socklen_t len)
{
    char l[16], o[32], buf[64], shown[160];
    socklen_t got = len;
    size_t i, n = 0;
    int v, e;

    if (len > sizeof(buf))
        len = sizeof(buf);
    memset(buf, '#', sizeof(buf));
    v = r->r_api->sa_getsockopt(r, s, level, name, buf, &got);
    e = errno;
    if (v == 0) {
        /* Every byte given back, NULs shown as \0. */
        for (i = 0; i < got && i < sizeof(buf) && n + 3 < sizeof(shown); i++) {
            if (buf[i] == '\0') {
                shown[n++] = '\\';
                shown[n++] = '0';
            } else {
                shown[n++] = buf[i];
            }
        }
        shown[n] = '\0';
        note(r, "getsockopt(%s, %s, %u bytes) = 0, length %u, \"%s\"",
             fd_word(r, s, false, l, sizeof(l)), opt_word(level, name, o, sizeof(o)),
             (unsigned)len, (unsigned)got, shown);
    } else {
        rec(r, v, e, "getsockopt(%s, %s, %u bytes)", fd_word(r, s, false, l, sizeof(l)),
            opt_word(level, name, o, sizeof(o)), (unsigned)len);
    }
    errno = e;
    return v;
}

int S_linger(struct run *r, int s, int onoff, int secs)
{
    struct linger lg = {onoff, secs};
    char what[40];

    snprintf(what, sizeof(what), "{%d, %d}", onoff, secs);
    return S_setopt_raw(r, s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg), what);
}

int S_get_linger(struct run *r, int s)
{
    struct linger lg = {-1, -1};
    socklen_t len = sizeof(lg);
    char l[16];
    int v = r->r_api->sa_getsockopt(r, s, SOL_SOCKET, SO_LINGER, &lg, &len);
    int e = errno;

    if (v == 0)
        note(r, "getsockopt(%s, SO_LINGER) = 0, value {%d, %d}", fd_word(r, s, false, l, sizeof(l)),
             lg.l_onoff, lg.l_linger);
    else
        rec(r, v, e, "getsockopt(%s, SO_LINGER)", fd_word(r, s, false, l, sizeof(l)));
    errno = e;
    return v;
}

int S_timeo(struct run *r, int s, int name, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    char what[40];

    snprintf(what, sizeof(what), "%ld ms", ms);
    return S_setopt_raw(r, s, SOL_SOCKET, name, &tv, sizeof(tv), what);
}

int S_get_timeo(struct run *r, int s, int name)
{
    struct timeval tv = {-1, -1};
    socklen_t len = sizeof(tv);
    char l[16], o[32];
    int v = r->r_api->sa_getsockopt(r, s, SOL_SOCKET, name, &tv, &len);
    int e = errno;

    if (v == 0)
        note(r, "getsockopt(%s, %s) = 0, value %ld ms", fd_word(r, s, false, l, sizeof(l)),
             opt_word(SOL_SOCKET, name, o, sizeof(o)), (long)(tv.tv_sec * 1000 + tv.tv_usec / 1000));
    else
        rec(r, v, e, "getsockopt(%s, %s)", fd_word(r, s, false, l, sizeof(l)),
            opt_word(SOL_SOCKET, name, o, sizeof(o)));
    errno = e;
    return v;
}

static int name_common(struct run *r, int s, bool peer)
{
    struct sockaddr_in sin = {0};
    char l[16], a[40];
    int v = peer ? r->r_api->sa_getpeername(r, s, &sin) : r->r_api->sa_getsockname(r, s, &sin);
    int e = errno;

    if (v == 0)
        note(r, "%s(%s) = 0, %s", peer ? "getpeername" : "getsockname",
             fd_word(r, s, false, l, sizeof(l)), sin_word(r, &sin, a, sizeof(a)));
    else
        rec(r, v, e, "%s(%s)", peer ? "getpeername" : "getsockname",
            fd_word(r, s, false, l, sizeof(l)));
    errno = e;
    return v;
}

int S_sockname(struct run *r, int s)
{
    return name_common(r, s, false);
}

int S_peername(struct run *r, int s)
{
    return name_common(r, s, true);
}

/* The readiness bits both runs speak of. */
#define EV_MASK (POLLIN | POLLOUT | POLLERR | POLLHUP | POLLNVAL | POLLRDHUP)

int S_poll(struct run *r, int s, short events, int timeout_ms)
{
    struct pollfd pf = {.fd = s, .events = events};
    char l[16], ev[40], rev[40];
    int v = r->r_api->sa_poll(r, &pf, 1, timeout_ms);
    int e = errno;

    if (v >= 0)
        note(r, "poll(%s, %s, %d ms) = %d, %s", fd_word(r, s, false, l, sizeof(l)),
             events_word(events, ev, sizeof(ev)), timeout_ms, v,
             events_word(pf.revents & EV_MASK, rev, sizeof(rev)));
    else
        rec(r, v, e, "poll(%s, %s, %d ms)", fd_word(r, s, false, l, sizeof(l)),
            events_word(events, ev, sizeof(ev)), timeout_ms);
    errno = e;
    return v >= 0 ? pf.revents & EV_MASK : -1;
}

int S_poll_until(struct run *r, int s, short events, short want, int timeout_ms)
{
    struct pollfd pf = {.fd = s, .events = events};
    int64_t end = now_ms() + timeout_ms;
    char l[16], ev[40], rev[40], w[40];
    int v;

    for (;;) {
        int left = (int)(end - now_ms());

        pf.revents = 0;
        v = r->r_api->sa_poll(r, &pf, 1, left > 0 ? (left < 50 ? left : 50) : 0);
        if (v < 0 || (pf.revents & want) || left <= 0 || atomic_load(&r->r_aborted))
            break;
        if (v > 0)
            sleep_ms(10);  /* ready, but not yet for what is wanted */
    }
    if (v >= 0)
        note(r, "poll(%s, %s) until %s = %s", fd_word(r, s, false, l, sizeof(l)),
             events_word(events, ev, sizeof(ev)), events_word(want, w, sizeof(w)),
             events_word(pf.revents & EV_MASK, rev, sizeof(rev)));
    else
        note(r, "poll(%s, %s) until %s = -1 %s", fd_word(r, s, false, l, sizeof(l)),
             events_word(events, ev, sizeof(ev)), events_word(want, w, sizeof(w)), errname(errno));
    return v >= 0 ? pf.revents & EV_MASK : -1;
}

int S_poll2(struct run *r, int s1, int s2, short events, int timeout_ms)
{
    struct pollfd pf[2] = {{.fd = s1, .events = events}, {.fd = s2, .events = events}};
    char l1[16], l2[16], ev[40], r1[40], r2[40];
    int v = r->r_api->sa_poll(r, pf, 2, timeout_ms);
    int e = errno;

    if (v >= 0)
        note(r, "poll(%s %s, %s, %d ms) = %d, %s %s", fd_word(r, s1, false, l1, sizeof(l1)),
             fd_word(r, s2, false, l2, sizeof(l2)), events_word(events, ev, sizeof(ev)),
             timeout_ms, v, events_word(pf[0].revents & EV_MASK, r1, sizeof(r1)),
             events_word(pf[1].revents & EV_MASK, r2, sizeof(r2)));
    else
        rec(r, v, e, "poll(%s %s)", fd_word(r, s1, false, l1, sizeof(l1)),
            fd_word(r, s2, false, l2, sizeof(l2)));
    errno = e;
    return v;
}

int S_getfl(struct run *r, int s)
{
    char l[16];
    int v = r->r_api->sa_fcntl(r, s, F_GETFL, 0);
    int e = errno;

    if (v >= 0)
        note(r, "fcntl(%s, F_GETFL) has O_NONBLOCK: %s", fd_word(r, s, false, l, sizeof(l)),
             v & O_NONBLOCK ? "yes" : "no");
    else
        rec(r, v, e, "fcntl(%s, F_GETFL)", fd_word(r, s, false, l, sizeof(l)));
    errno = e;
    return v;
}

int S_nonblock(struct run *r, int s, bool on)
{
    char l[16];
    int fl = r->r_api->sa_fcntl(r, s, F_GETFL, 0);
    int v = fl < 0 ? fl : r->r_api->sa_fcntl(r, s, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
    int e = errno;

    rec(r, v, e, "fcntl(%s, F_SETFL, %sO_NONBLOCK)", fd_word(r, s, false, l, sizeof(l)),
        on ? "" : "~");
    errno = e;
    return v;
}

int S_ioctl(struct run *r, int s, unsigned long req)
{
    char l[16];
    int val = -12345;
    int v = r->r_api->sa_ioctl(r, s, req, &val);
    int e = errno;
    const char *name = req == FIONREAD ? "FIONREAD" : req == SIOCOUTQ ? "SIOCOUTQ" : "?";

    if (v >= 0)
        note(r, "ioctl(%s, %s) = %d, value %d", fd_word(r, s, false, l, sizeof(l)), name, v, val);
    else
        rec(r, v, e, "ioctl(%s, %s)", fd_word(r, s, false, l, sizeof(l)), name);
    errno = e;
    return v >= 0 ? val : -1;
}

size_t S_fill(struct run *r, int s, size_t max)
{
    static const char chunk[16384];
    size_t total = 0, round = 1;
    int64_t end = now_ms() + 4000;
    char l[16];
    ssize_t n = 0;
    int e = 0;

    /* Rounds until one sends nothing: what was in flight has reached the
     * peer's receive buffer and its window is closed, so the send buffer
     * stays full. */
    while (round > 0 && total < max && now_ms() < end && !atomic_load(&r->r_aborted)) {
        round = 0;
        for (;;) {
            n = r->r_api->sa_sendto(r, s, chunk, sizeof(chunk), MSG_DONTWAIT, NULL);
            if (n < 0) {
                e = errno;
                break;
            }
            round += (size_t)n;
        }
        total += round;
        if (e != EAGAIN)
            break;
        sleep_ms(150);
    }
    note(r, "send(%s, MSG_DONTWAIT) until it stops: %s after some bytes sent: %s",
         fd_word(r, s, false, l, sizeof(l)), n < 0 ? errname(e) : "no error",
         total > 0 ? "yes" : "no");
    errno = e;
    return total;
}

/* ---- The peer ---------------------------------------------------------------------- */

static int peer_socket(struct run *r, int ns, int type)
{
    int fd = ns_socket(r, ns, AF_INET, type, 0);

    if (fd >= 0)
        run_track(r, fd, true);
    return fd;
}

static int listen_in(struct run *r, int ns, enum where w, uint16_t port, const char *who)
{
    struct sockaddr_in sin = sin_of(r, w, port);
    int one = 1, fd = peer_socket(r, ns, SOCK_STREAM);
    char l[16], a[40];

    if (fd < 0) {
        harness_fail(r, "%s socket: %s", who, strerror(errno));
        return -1;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 64) < 0) {
        harness_fail(r, "%s listen on %s: %s", who, sin_word(r, &sin, a, sizeof(a)), strerror(errno));
        return -1;
    }
    note(r, "%s listen(%s) on %s", who, fd_word(r, fd, true, l, sizeof(l)),
         sin_word(r, &sin, a, sizeof(a)));
    return fd;
}

int P_listen(struct run *r, uint16_t port)
{
    return listen_in(r, ns_peer, A_PEER, port, "peer");
}

int R_listen(struct run *r, uint16_t port)
{
    return listen_in(r, ns_remote, A_REMOTE, port, "remote");
}

static bool wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd pf = {.fd = fd, .events = events};

    return poll(&pf, 1, timeout_ms) > 0;
}

int P_accept(struct run *r, int l, int timeout_ms)
{
    struct sockaddr_in sin = {0};
    socklen_t len = sizeof(sin);
    char ll[16], n[16], a[40];
    int fd = -1, e = EAGAIN;

    if (wait_fd(l, POLLIN, timeout_ms)) {
        fd_hold(r);
        fd = accept4(l, (struct sockaddr *)&sin, &len, SOCK_NONBLOCK);
        e = errno;
        if (fd >= 0)
            run_track(r, fd, true);
        fd_release(r);
    }
    if (fd >= 0) {
        int fl = fcntl(fd, F_GETFL);

        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        note(r, "peer accept(%s) = %s from %s", fd_word(r, l, true, ll, sizeof(ll)),
             fd_word(r, fd, true, n, sizeof(n)), sin_word(r, &sin, a, sizeof(a)));
    } else {
        note(r, "peer accept(%s) = -1 %s (within %d ms)", fd_word(r, l, true, ll, sizeof(ll)),
             errname(e), timeout_ms);
    }
    return fd;
}

int P_connect(struct run *r, enum where w, uint16_t port, uint16_t bport, int timeout_ms)
{
    struct sockaddr_in sin = sin_of(r, w, port), me = sin_of(r, A_PEER, bport);
    int fd = peer_socket(r, ns_peer, SOCK_STREAM), one = 1, err = 0;
    socklen_t len = sizeof(err);
    char l[16], a[40];

    if (fd < 0) {
        harness_fail(r, "peer socket: %s", strerror(errno));
        return -1;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bport != 0 && bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
        harness_fail(r, "peer bind: %s", strerror(errno));
        return -1;
    }
    (void)fcntl(fd, F_SETFL, O_NONBLOCK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS)
        err = errno;
    else if (!wait_fd(fd, POLLOUT, timeout_ms))
        err = ETIMEDOUT;
    else
        (void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    (void)fcntl(fd, F_SETFL, 0);
    note(r, "peer connect(%s, %s) = %s", fd_word(r, fd, true, l, sizeof(l)),
         sin_word(r, &sin, a, sizeof(a)), err ? errname(err) : "0");
    return err ? -1 : fd;
}

ssize_t P_send(struct run *r, int p, const void *buf, size_t len)
{
    char l[16];
    size_t done = 0;
    ssize_t n = 0;
    int e = 0;

    while (done < len) {
        n = send(p, (const char *)buf + done, len - done, MSG_NOSIGNAL);
        if (n < 0) {
            e = errno;
            break;
        }
        done += (size_t)n;
    }
    rec(r, n < 0 && done == 0 ? -1 : (long long)done, e, "peer send(%s, %zu)",
        fd_word(r, p, true, l, sizeof(l)), len);
    errno = e;
    return n < 0 && done == 0 ? -1 : (ssize_t)done;
}

ssize_t P_recv(struct run *r, int p, size_t len, int timeout_ms)
{
    char l[16], d[80];
    ssize_t n;
    int e;

    if (len > sizeof(r->r_buf))
        len = sizeof(r->r_buf);
    if (!wait_fd(p, POLLIN, timeout_ms)) {
        note(r, "peer recv(%s): nothing within %d ms", fd_word(r, p, true, l, sizeof(l)), timeout_ms);
        return -1;
    }
    n = recv(p, r->r_buf, len, MSG_DONTWAIT);
    e = errno;
    if (n >= 0)
        note(r, "peer recv(%s, %zu) = %zd %s", fd_word(r, p, true, l, sizeof(l)), len, n,
             data_word(r->r_buf, (size_t)n, d, sizeof(d)));
    else
        rec(r, n, e, "peer recv(%s, %zu)", fd_word(r, p, true, l, sizeof(l)), len);
    errno = e;
    return n;
}

ssize_t P_recv_all(struct run *r, int p, size_t len, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    size_t got = 0;
    char l[16], d[80];
    bool eof = false;
    int e = 0;

    if (len > sizeof(r->r_buf))
        len = sizeof(r->r_buf);
    while (got < len && !atomic_load(&r->r_aborted)) {
        int left = (int)(end - now_ms());
        ssize_t n;

        if (left <= 0 || !wait_fd(p, POLLIN, left))
            break;
        n = recv(p, r->r_buf + got, len - got, MSG_DONTWAIT);
        if (n == 0) {
            eof = true;
            break;
        }
        if (n < 0) {
            if (errno == EAGAIN)
                continue;
            e = errno;
            break;
        }
        got += (size_t)n;
    }
    note(r, "peer read(%s) %zu bytes %s%s%s%s", fd_word(r, p, true, l, sizeof(l)), got,
         data_word(r->r_buf, got, d, sizeof(d)), eof ? ", then end of data" : "",
         e ? ", then " : "", e ? errname(e) : "");
    return (ssize_t)got;
}

int P_shutdown(struct run *r, int p, int how)
{
    char l[16];
    int v = shutdown(p, how);
    int e = errno;

    rec(r, v, e, "peer shutdown(%s, %s)", fd_word(r, p, true, l, sizeof(l)),
        how == SHUT_RD ? "RD" : how == SHUT_WR ? "WR" : "RDWR");
    return v;
}

int P_close(struct run *r, int p)
{
    char l[16];
    int v;

    fd_word(r, p, true, l, sizeof(l));
    run_untrack(r, p, true);
    v = close(p);
    rec(r, v, errno, "peer close(%s)", l);
    return v;
}

int P_reset(struct run *r, int p)
{
    struct linger lg = {1, 0};
    char l[16];
    int v;

    fd_word(r, p, true, l, sizeof(l));
    (void)setsockopt(p, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    run_untrack(r, p, true);
    v = close(p);
    rec(r, v, errno, "peer close(%s) with SO_LINGER 0", l);
    return v;
}

int P_udp(struct run *r, enum where w, uint16_t port)
{
    struct sockaddr_in sin = sin_of(r, w, port);
    int fd = peer_socket(r, ns_peer, SOCK_DGRAM), one = 1;
    char l[16], a[40];

    if (fd < 0) {
        harness_fail(r, "peer udp socket: %s", strerror(errno));
        return -1;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        harness_fail(r, "peer udp bind %s: %s", sin_word(r, &sin, a, sizeof(a)), strerror(errno));
        return -1;
    }
    note(r, "peer udp(%s) on %s", fd_word(r, fd, true, l, sizeof(l)), sin_word(r, &sin, a, sizeof(a)));
    return fd;
}

ssize_t P_sendto(struct run *r, int p, const void *buf, size_t len, enum where w, uint16_t port)
{
    struct sockaddr_in sin = sin_of(r, w, port);
    char l[16], a[40];
    ssize_t v = sendto(p, buf, len, 0, (struct sockaddr *)&sin, sizeof(sin));
    int e = errno;

    rec(r, v, e, "peer sendto(%s, %zu, %s)", fd_word(r, p, true, l, sizeof(l)), len,
        sin_word(r, &sin, a, sizeof(a)));
    return v;
}

ssize_t P_recvfrom(struct run *r, int p, size_t len, int timeout_ms)
{
    struct sockaddr_in from = {0};
    socklen_t flen = sizeof(from);
    char l[16], d[80], a[40];
    ssize_t n;
    int e;

    if (len > sizeof(r->r_buf))
        len = sizeof(r->r_buf);
    if (!wait_fd(p, POLLIN, timeout_ms)) {
        note(r, "peer recvfrom(%s): nothing within %d ms", fd_word(r, p, true, l, sizeof(l)),
             timeout_ms);
        return -1;
    }
    n = recvfrom(p, r->r_buf, len, MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
    e = errno;
    if (n >= 0)
        note(r, "peer recvfrom(%s, %zu) = %zd %s from %s", fd_word(r, p, true, l, sizeof(l)), len,
             n, data_word(r->r_buf, (size_t)n, d, sizeof(d)), sin_word(r, &from, a, sizeof(a)));
    else
        rec(r, n, e, "peer recvfrom(%s, %zu)", fd_word(r, p, true, l, sizeof(l)), len);
    return n;
}

ssize_t P_recv_ttl_tos(struct run *r, int p, int timeout_ms)
{
    char cbuf[256], l[16];
    struct iovec iov = {.iov_base = r->r_buf, .iov_len = 2048};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *c;
    int one = 1, ttl = -1, tos = -1;
    ssize_t n;

    (void)setsockopt(p, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one));
    (void)setsockopt(p, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one));
    if (!wait_fd(p, POLLIN, timeout_ms)) {
        note(r, "peer recvmsg(%s): nothing within %d ms", fd_word(r, p, true, l, sizeof(l)),
             timeout_ms);
        return -1;
    }
    n = recvmsg(p, &mh, MSG_DONTWAIT);
    for (c = CMSG_FIRSTHDR(&mh); n >= 0 && c != NULL; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL)
            memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS)
            tos = *(unsigned char *)CMSG_DATA(c);
    }
    note(r, "peer recvmsg(%s) = %zd, ttl %d, tos 0x%02x", fd_word(r, p, true, l, sizeof(l)), n,
         ttl, (unsigned)tos);
    return n;
}

int P_getint(struct run *r, int p, int level, int name)
{
    int val = -1;
    socklen_t len = sizeof(val);
    char l[16], o[32];
    int v = getsockopt(p, level, name, &val, &len);

    rec(r, v == 0 ? val : -1, errno, "peer getsockopt(%s, %s) value", fd_word(r, p, true, l, sizeof(l)),
        opt_word(level, name, o, sizeof(o)));
    return v == 0 ? val : -1;
}

void P_setint(struct run *r, int p, int level, int name, int val)
{
    (void)setsockopt(p, level, name, &val, sizeof(val));
}

void silence(struct run *r)
{
    int e = blackhole(r->r_addr[A_REMOTE], true);

    if (e != 0)
        harness_fail(r, "cannot blackhole the remote address: %s", strerror(-e));
    else
        r->r_silenced = true;
    note(r, "the remote address goes silent");
}

void unsilence(struct run *r)
{
    if (r->r_silenced && blackhole(r->r_addr[A_REMOTE], false) == 0)
        r->r_silenced = false;
}

/* ---- Compositions ------------------------------------------------------------------ */

int S_connected(struct run *r, int k, int *pp)
{
    int l = P_listen(r, PORT(k));
    int s = S_socket(r, SOCK_STREAM);

    S_connect(r, s, A_PEER, PORT(k));
    *pp = P_accept(r, l, 2000);
    return s;
}

int S_connected_remote(struct run *r, int k, int *pp)
{
    int l = R_listen(r, PORT(k));
    int s = S_socket(r, SOCK_STREAM);

    S_connect(r, s, A_REMOTE, PORT(k));
    *pp = P_accept(r, l, 2000);
    return s;
}

int S_accepted(struct run *r, int k, int *lp, int *pp)
{
    int l = S_socket(r, SOCK_STREAM);

    S_bind(r, l, A_ANY, PORT(k));
    S_listen(r, l, 8);
    *pp = P_connect(r, A_SELF, PORT(k), PORT(k + 1), 2000);
    *lp = l;
    S_poll(r, l, POLLIN, 2000);
    return S_accept(r, l);
}

struct later {
    int lt_fd;
    const void *lt_buf;
    size_t lt_len;
    int lt_ms;
};

static void *send_later_main(void *arg)
{
    struct later *lt = arg;

    sleep_ms(lt->lt_ms);
    (void)send(lt->lt_fd, lt->lt_buf, lt->lt_len, MSG_NOSIGNAL);
    free(lt);
    return NULL;
}

void P_send_later(struct run *r, int p, const void *buf, size_t len, int ms)
{
    struct later *lt = malloc(sizeof(*lt));
    char l[16];

    if (lt == NULL || r->r_nhelpers == sizeof(r->r_helpers) / sizeof(r->r_helpers[0])) {
        free(lt);
        harness_fail(r, "no room for another sending thread");
        return;
    }
    *lt = (struct later){p, buf, len, ms};
    if (pthread_create(&r->r_helpers[r->r_nhelpers], NULL, send_later_main, lt) != 0) {
        free(lt);
        harness_fail(r, "cannot start a sending thread");
        return;
    }
    r->r_nhelpers++;
    note(r, "peer send(%s, %zu) in %d ms", fd_word(r, p, true, l, sizeof(l)), len, ms);
}
