/*
 * The table of socket functions on refnet: a stack in this program on the
 * TAP device of the peer namespace, its real-time loop on a thread of its
 * own, and the blocking API called from the case's thread, as an embedder
 * does (examples/echo-server).  Each run has a process of its own, so its
 * handles start at 1 and its exit proves that every handle let go.
 *
 * The adapter translates words, not semantics: POSIX constants to refnet's
 * (SOCK_STREAM -> RN_SOCK_STREAM, MSG_PEEK -> RN_MSG_PEEK, SOL_SOCKET/
 * SO_RCVBUF -> RN_SO_RCVBUF, a timeval to milliseconds), and refnet's codes
 * to errno through rn_sock_posix().  Closes are rn_close(), which returns
 * at once as close(2) does.  What the refnet API cannot say at all
 * (an address family, an option's length) answers E_NOTEXPR, which no case
 * can pass unless docs/sockets.md lists the difference.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <refnet/refnet.h>

#include "sockdiff.h"

static struct rn_stack *stack;
static struct rn_loop *loop;
static pthread_t loop_thread;

static void *loop_main(void *arg)
{
    int e = rn_loop_run(arg);

    if (e != 0)
        fprintf(stderr, "sockdiff: refnet's loop failed: %s\n", rn_strerror(e));
    return NULL;
}

int refnet_start(const char *tap, char *why, size_t len)
{
    struct rn_stack_params sp = {.sp_name = "sockdiff"};
    struct rn_link_tap_params tp = {.tp_ifname = tap};
    struct rn_iface_params ip = {.ifp_name = tap, .ifp_addr = 0xc6120002, .ifp_plen = 24};
    char lwhy[RN_LINK_ERRLEN] = "";
    struct rn_link *link;
    struct rn_iface *ifp;
    int e;

    if (getrandom(&sp.sp_seed, sizeof(sp.sp_seed), 0) != (ssize_t)sizeof(sp.sp_seed))
        sp.sp_seed = (uint64_t)getpid();
    e = rn_stack_create(&sp, &stack);
    if (e != 0) {
        snprintf(why, len, "cannot create the stack: %s", rn_strerror(e));
        return e;
    }
    e = rn_sock_layer_init(stack);
    if (e != 0) {
        snprintf(why, len, "cannot set up the sockets: %s", rn_strerror(e));
        goto out_destroy;
    }
    tp.tp_pool = rn_stack_pool(stack);
    e = rn_link_tap_open(&tp, &link, lwhy);
    if (e != 0) {
        snprintf(why, len, "cannot open TAP %s: %s", tap, lwhy[0] ? lwhy : rn_strerror(e));
        goto out_destroy;
    }
    ip.ifp_link = link;
    e = rn_stack_add_iface(stack, &ip, &ifp);
    if (e != 0) {
        snprintf(why, len, "cannot add interface %s: %s", tap, rn_strerror(e));
        goto out_destroy;
    }
    /* The silent and the remote addresses are behind the peer. */
    e = rn_route_add(stack, 0xc6120200, 23, 0xc6120001, NULL);
    if (e == 0)
        e = rn_link_tap_set_up(link, true);
    if (e == 0)
        e = rn_loop_create(stack, &loop);
    if (e != 0) {
        snprintf(why, len, "cannot route or start: %s", rn_strerror(e));
        goto out_destroy;
    }
    e = pthread_create(&loop_thread, NULL, loop_main, loop);
    if (e != 0) {
        snprintf(why, len, "cannot start the loop thread: %s", strerror(e));
        rn_loop_destroy(loop);
        e = RN_EIO;
        goto out_destroy;
    }
    return 0;

out_destroy:
    (void)rn_stack_destroy(stack);
    stack = NULL;
    return e;
}

/* Stops the loop and destroys the stack.  Returns 0 if nothing leaked. */
int refnet_stop(void)
{
    uint64_t live;
    int status = 0;

    rn_loop_stop(loop);
    pthread_join(loop_thread, NULL);
    rn_loop_destroy(loop);
    if (rn_stack_destroy(stack) != 0)
        status = 1;
    rn_ob_drain();
    live = rn_ob_live_count(NULL);
    if (live != 0) {
        (void)rn_diag_report_leaks(NULL);
        fprintf(stderr, "sockdiff: refnet: %" PRIu64 " objects leaked\n", live);
        status = 1;
    }
    return status;
}

/* ---- A run's process ------------------------------------------------------------ */

struct exit_wait {
    pthread_mutex_t ew_lock;
    pthread_cond_t ew_cond;
    bool ew_done;
    struct rn_ob_wait ew_wait;
};

static void proc_released(struct rn_ob_wait *w, void *ctx)
{
    struct exit_wait *ew = ctx;

    (void)w;
    pthread_mutex_lock(&ew->ew_lock);
    ew->ew_done = true;
    pthread_cond_signal(&ew->ew_cond);
    pthread_mutex_unlock(&ew->ew_lock);
}

int refnet_run_begin(struct run *r)
{
    char name[32];
    int e;

    snprintf(name, sizeof(name), "case-%u", (unsigned)r->r_port_base);
    e = rn_proc_create(stack, name, &r->r_proc);
    if (e != 0)
        return e;
    fd_hold(r);
    e = rn_cq_create(&r->r_cq);
    fd_release(r);
    if (e != 0) {
        rn_proc_exit(r->r_proc);
        r->r_proc = NULL;
    }
    return e;
}

/* Reaps the closes submitted to the run's queue, waiting up to ms for
 * those still in flight. */
static void reap_closes(struct run *r, int ms)
{
    int64_t end = now_ms() + ms;
    struct rn_sock_completion c[8];

    while (rn_cq_inflight(r->r_cq) > 0) {
        int64_t left = end - now_ms();

        if (left <= 0)
            break;
        (void)rn_cq_wait(r->r_cq, c, 8, (int)left);
    }
    while (rn_cq_reap(r->r_cq, c, 8) > 0)
        ;
}

/* Ends the run's process and waits for its release: every handle closed
 * and every transport object it held let go. */
void refnet_run_end(struct run *r)
{
    struct exit_wait *ew = calloc(1, sizeof(*ew));
    rn_tag_t tag = rn_tag_intern("sockdiff");
    struct timespec until;
    bool done;

    reap_closes(r, 3000);
    pthread_mutex_init(&ew->ew_lock, NULL);
    pthread_cond_init(&ew->ew_cond, NULL);
    rn_ob_ref(r->r_proc, tag);
    if (rn_ob_wait_release(r->r_proc, &ew->ew_wait, NULL, "exit", proc_released, ew) != 0)
        ew->ew_done = true;
    rn_proc_exit(r->r_proc);
    rn_ob_deref(r->r_proc, tag);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&ew->ew_lock);
    while (!ew->ew_done &&
           pthread_cond_timedwait(&ew->ew_cond, &ew->ew_lock, &until) == 0)
        ;
    done = ew->ew_done;
    pthread_mutex_unlock(&ew->ew_lock);
    if (!done) {
        /* The wait may still fire: ew stays allocated for it. */
        harness_fail(r, "refnet's process was not released within 5 s of its exit");
    } else {
        pthread_mutex_destroy(&ew->ew_lock);
        pthread_cond_destroy(&ew->ew_cond);
        free(ew);
    }
    r->r_proc = NULL;
    reap_closes(r, 1000);
    if (rn_cq_destroy(r->r_cq) != 0)
        harness_fail(r, "closes still in flight at the end of the run");
    else
        r->r_cq = NULL;
}

/* ---- Translation ------------------------------------------------------------------- */

static int notexpr(struct run *r, const char *what)
{
    r->r_notexpr = what;
    errno = E_NOTEXPR;
    return -1;
}

static struct rn_sockaddr_in to_rn(const struct sockaddr_in *sin)
{
    return (struct rn_sockaddr_in){.sin_addr = ntohl(sin->sin_addr.s_addr),
                                   .sin_port = ntohs(sin->sin_port)};
}

static void from_rn(const struct rn_sockaddr_in *a, struct sockaddr_in *sin)
{
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(a->sin_addr);
    sin->sin_port = htons(a->sin_port);
}

/* An address as refnet takes it, or E_NOTEXPR. */
static int addr_in(struct run *r, const struct sockaddr *sa, socklen_t len,
                   struct rn_sockaddr_in *out)
{
    if (sa == NULL || len < sizeof(struct sockaddr_in))
        return notexpr(r, "an address length (refnet's addresses have none)");
    if (sa->sa_family != AF_INET)
        return notexpr(r, "an address family (refnet's addresses have none)");
    *out = to_rn((const struct sockaddr_in *)sa);
    return 0;
}

/* MSG_* to RN_MSG_*; -1 (E_NOTEXPR) for a flag refnet has no word for. */
static int msg_flags(struct run *r, int flags, uint32_t *out)
{
    static const struct {
        int posix;
        uint32_t rn;
    } map[] = {
        {MSG_PEEK, RN_MSG_PEEK},         {MSG_DONTWAIT, RN_MSG_DONTWAIT},
        {MSG_WAITALL, RN_MSG_WAITALL},   {MSG_NOSIGNAL, RN_MSG_NOSIGNAL},
        {MSG_MORE, RN_MSG_MORE},
    };
    size_t i;

    *out = 0;
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (flags & map[i].posix) {
            *out |= map[i].rn;
            flags &= ~map[i].posix;
        }
    }
    return flags == 0 ? 0 : notexpr(r, "a message flag refnet has no word for");
}

/* ---- The calls ------------------------------------------------------------------------ */

static int rx_socket(struct run *r, int domain, int type, int proto)
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    int rt = base == SOCK_STREAM ? RN_SOCK_STREAM : base == SOCK_DGRAM ? RN_SOCK_DGRAM : base;

    if (domain != AF_INET && domain != AF_INET6)
        return notexpr(r, "an address family other than AF_INET and AF_INET6");
    if (type & SOCK_NONBLOCK)
        rt |= RN_SOCK_NONBLOCK;
    if (domain == AF_INET6)
        rt |= RN_SOCK_INET6;
    return (int)rn_sock_posix(rn_socket(r->r_proc, rt, proto));
}

static int rx_bind(struct run *r, int fd, const struct sockaddr *sa, socklen_t len)
{
    struct rn_sockaddr_in a;

    if (addr_in(r, sa, len, &a) < 0)
        return -1;
    return (int)rn_sock_posix(rn_bind(r->r_proc, fd, &a));
}

static int rx_listen(struct run *r, int fd, int backlog)
{
    return (int)rn_sock_posix(rn_listen(r->r_proc, fd, backlog));
}

static int rx_connect(struct run *r, int fd, const struct sockaddr *sa, socklen_t len)
{
    struct rn_sockaddr_in a = {.sin_addr = 0, .sin_port = 0};

    /* AF_UNSPEC dissolves a datagram association: refnet says it with 0:0. */
    if (!(sa != NULL && len >= sizeof(sa_family_t) && sa->sa_family == AF_UNSPEC) &&
        addr_in(r, sa, len, &a) < 0)
        return -1;
    return (int)rn_sock_posix(rn_connect(r->r_proc, fd, &a));
}

static int rx_accept4(struct run *r, int fd, struct sockaddr_in *peer, int flags)
{
    struct rn_sockaddr_in a = {.sin_addr = 0, .sin_port = 0};
    int rf = flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), h;

    /* A refnet handle has nothing to close on exec: SOCK_CLOEXEC has no
     * word in refnet, and no effect to compare. */
    if (flags & SOCK_NONBLOCK)
        rf |= RN_SOCK_NONBLOCK;
    h = (int)rn_sock_posix(rn_accept4(r->r_proc, fd, &a, rf));
    if (h >= 0)
        from_rn(&a, peer);
    return h;
}

static ssize_t rx_sendto(struct run *r, int fd, const void *buf, size_t len, int flags,
                         const struct sockaddr_in *to)
{
    struct rn_sockaddr_in a;
    uint32_t f;

    if (msg_flags(r, flags, &f) < 0)
        return -1;
    if (to != NULL)
        a = to_rn(to);
    return rn_sock_posix(rn_sendto(r->r_proc, fd, buf, len, f, to ? &a : NULL));
}

static ssize_t rx_recvfrom(struct run *r, int fd, void *buf, size_t len, int flags,
                           struct sockaddr_in *from, int *mflags)
{
    struct rn_sockaddr_in a = {.sin_addr = 0, .sin_port = 0};
    uint32_t f;
    ssize_t n;

    if (msg_flags(r, flags, &f) < 0)
        return -1;
    if (mflags != NULL)
        return notexpr(r, "the flags of a received message (rn_recvfrom() returns none)");
    n = rn_sock_posix(rn_recvfrom(r->r_proc, fd, buf, len, f, &a));
    if (n >= 0 && from != NULL)
        from_rn(&a, from);
    return n;
}

static int rx_shutdown(struct run *r, int fd, int how)
{
    return (int)rn_sock_posix(rn_shutdown(r->r_proc, fd, how));
}

/* Submits a close to the run's queue; returns its result if it completes
 * within wait_ms, else 0 (it completes later; the run reaps it). */
static int close_async(struct run *r, int fd, int wait_ms)
{
    static atomic_uint seq;
    unsigned mine = atomic_fetch_add(&seq, 1) + 1;
    struct rn_sock_req rq = {.sq_op = RN_SOP_CLOSE, .sq_handle = fd,
                             .sq_user = (void *)(uintptr_t)mine};
    struct rn_sock_completion c;
    int e = rn_sock_submit_cq(r->r_proc, &rq, r->r_cq);
    int64_t end = now_ms() + wait_ms;

    if (e < 0)
        return (int)rn_sock_posix(e);
    while (wait_ms > 0) {
        int64_t left = end - now_ms();

        if (left <= 0)
            break;
        if (rn_cq_wait(r->r_cq, &c, 1, (int)left) == 1 && c.sc_user == rq.sq_user)
            return (int)rn_sock_posix(c.sc_result);
    }
    return 0;
}

static int rx_close(struct run *r, int fd)
{
    return (int)rn_sock_posix(rn_close(r->r_proc, fd));
}

/* What an option is in refnet's words. */
enum optkind { OK_INT, OK_TIMEVAL, OK_LINGER, OK_STR };

static bool opt_map(int level, int name, enum rn_sockopt *o, enum optkind *kind)
{
    static const struct {
        int level, name;
        enum rn_sockopt opt;
        enum optkind kind;
    } map[] = {
        {SOL_SOCKET, SO_RCVBUF, RN_SO_RCVBUF, OK_INT},
        {SOL_SOCKET, SO_SNDBUF, RN_SO_SNDBUF, OK_INT},
        {SOL_SOCKET, SO_RCVTIMEO, RN_SO_RCVTIMEO, OK_TIMEVAL},
        {SOL_SOCKET, SO_SNDTIMEO, RN_SO_SNDTIMEO, OK_TIMEVAL},
        {SOL_SOCKET, SO_LINGER, RN_SO_LINGER, OK_LINGER},
        {SOL_SOCKET, SO_ERROR, RN_SO_ERROR, OK_INT},
        {SOL_SOCKET, SO_TYPE, RN_SO_TYPE, OK_INT},
        {SOL_SOCKET, SO_KEEPALIVE, RN_SO_KEEPALIVE, OK_INT},
        {SOL_SOCKET, SO_REUSEADDR, RN_SO_REUSEADDR, OK_INT},
        {SOL_SOCKET, SO_REUSEPORT, RN_SO_REUSEPORT, OK_INT},
        {SOL_SOCKET, SO_ACCEPTCONN, RN_SO_ACCEPTCONN, OK_INT},
        {SOL_SOCKET, SO_BROADCAST, RN_SO_BROADCAST, OK_INT},
        {SOL_SOCKET, SO_RCVLOWAT, RN_SO_RCVLOWAT, OK_INT},
        {IPPROTO_IP, IP_TOS, RN_IP_TOS, OK_INT},
        {IPPROTO_IP, IP_TTL, RN_IP_TTL, OK_INT},
        {IPPROTO_TCP, TCP_NODELAY, RN_TCP_NODELAY, OK_INT},
        {IPPROTO_TCP, TCP_MAXSEG, RN_TCP_MAXSEG, OK_INT},
        {IPPROTO_TCP, TCP_CORK, RN_TCP_CORK, OK_INT},
        {IPPROTO_TCP, TCP_KEEPIDLE, RN_TCP_KEEPIDLE, OK_INT},
        {IPPROTO_TCP, TCP_KEEPINTVL, RN_TCP_KEEPINTVL, OK_INT},
        {IPPROTO_TCP, TCP_KEEPCNT, RN_TCP_KEEPCNT, OK_INT},
        {IPPROTO_TCP, TCP_USER_TIMEOUT, RN_TCP_USER_TIMEOUT, OK_INT},
        {IPPROTO_TCP, TCP_SYNCNT, RN_TCP_SYNCNT, OK_INT},
        {IPPROTO_TCP, TCP_WINDOW_CLAMP, RN_TCP_WINDOW_CLAMP, OK_INT},
        {IPPROTO_TCP, TCP_CONGESTION, RN_TCP_CONGESTION, OK_STR},
    };
    size_t i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (map[i].level == level && map[i].name == name) {
            *o = map[i].opt;
            *kind = map[i].kind;
            return true;
        }
    }
    /* An option refnet has no word for: one past its last, which it must
     * refuse as it refuses any unknown option. */
    *o = RN_SOCKOPT_COUNT_;
    *kind = OK_INT;
    return false;
}

static int rx_setsockopt(struct run *r, int fd, int level, int name, const void *val,
                         socklen_t len)
{
    enum rn_sockopt o;
    enum optkind kind;
    int64_t v;

    (void)opt_map(level, name, &o, &kind);
    switch (kind) {
    case OK_STR: {
        /* A name as Linux takes it: at most 15 characters of the length
         * given, up to a NUL. */
        char s[16];
        size_t n = len < sizeof(s) - 1 ? len : sizeof(s) - 1;

        if (val == NULL || len < 1)
            return notexpr(r, "an option's length (a string option of length 0)");
        memcpy(s, val, n);
        s[n] = '\0';
        return (int)rn_sock_posix(rn_setsockopt_str(r->r_proc, fd, o, s));
    }
    case OK_INT:
        if (val == NULL || len < sizeof(int))
            return notexpr(r, "an option's length (refnet's options are int64_t values)");
        v = *(const int *)val;
        break;
    case OK_TIMEVAL: {
        const struct timeval *tv = val;

        if (val == NULL || len < sizeof(*tv))
            return notexpr(r, "an option's length (refnet's options are int64_t values)");
        v = (int64_t)tv->tv_sec * 1000 + tv->tv_usec / 1000;
        break;
    }
    case OK_LINGER: {
        const struct linger *l = val;

        if (val == NULL || len < sizeof(*l))
            return notexpr(r, "an option's length (refnet's options are int64_t values)");
        v = l->l_onoff ? l->l_linger : -1;
        break;
    }
    default:
        return notexpr(r, "an option");
    }
    return (int)rn_sock_posix(rn_setsockopt(r->r_proc, fd, o, v));
}

static int rx_getsockopt(struct run *r, int fd, int level, int name, void *val, socklen_t *len)
{
    enum rn_sockopt o;
    enum optkind kind;
    int64_t v = 0;
    int e;

    (void)opt_map(level, name, &o, &kind);
    if (kind == OK_STR) {
        /* Linux's words ("reno" for NewReno), NUL-padded to 16 bytes, as
         * many of them as the buffer takes. */
        char s[16], out[16] = {0};

        e = (int)rn_sock_posix(rn_getsockopt_str(r->r_proc, fd, o, s, sizeof(s)));
        if (e < 0)
            return e;
        snprintf(out, sizeof(out), "%s", strcmp(s, "newreno") == 0 ? "reno" : s);
        if (*len > sizeof(out))
            *len = sizeof(out);
        memcpy(val, out, *len);
        return 0;
    }
    e = (int)rn_sock_posix(rn_getsockopt(r->r_proc, fd, o, &v));
    if (e < 0)
        return e;
    switch (kind) {
    case OK_STR:
        break;  /* answered above */
    case OK_INT:
        if (*len < sizeof(int))
            return notexpr(r, "an option's length (refnet's options are int64_t values)");
        if (o == RN_SO_TYPE)
            v = v == RN_SOCK_STREAM ? SOCK_STREAM : v == RN_SOCK_DGRAM ? SOCK_DGRAM : v;
        *(int *)val = (int)v;
        *len = sizeof(int);
        break;
    case OK_TIMEVAL: {
        struct timeval *tv = val;

        tv->tv_sec = v / 1000;
        tv->tv_usec = (v % 1000) * 1000;
        *len = sizeof(*tv);
        break;
    }
    case OK_LINGER: {
        struct linger *l = val;

        l->l_onoff = v >= 0;
        l->l_linger = v >= 0 ? (int)v : 0;
        *len = sizeof(*l);
        break;
    }
    }
    return 0;
}

static int rx_getsockname(struct run *r, int fd, struct sockaddr_in *sa)
{
    struct rn_sockaddr_in a = {.sin_addr = 0, .sin_port = 0};
    int e = (int)rn_sock_posix(rn_getsockname(r->r_proc, fd, &a));

    if (e == 0)
        from_rn(&a, sa);
    return e;
}

static int rx_getpeername(struct run *r, int fd, struct sockaddr_in *sa)
{
    struct rn_sockaddr_in a = {.sin_addr = 0, .sin_port = 0};
    int e = (int)rn_sock_posix(rn_getpeername(r->r_proc, fd, &a));

    if (e == 0)
        from_rn(&a, sa);
    return e;
}

static const struct {
    short posix;
    unsigned rn;
} poll_bits[] = {
    {POLLIN, RN_POLLIN},   {POLLOUT, RN_POLLOUT},   {POLLERR, RN_POLLERR},
    {POLLHUP, RN_POLLHUP}, {POLLNVAL, RN_POLLNVAL}, {POLLRDHUP, RN_POLLRDHUP},
};

static int rx_poll(struct run *r, struct pollfd *fds, nfds_t n, int timeout_ms)
{
    struct rn_pollfd pf[8];
    nfds_t i;
    size_t b;
    int e;

    if (n > 8)
        return notexpr(r, "more than 8 entries (the adapter's limit)");
    for (i = 0; i < n; i++) {
        pf[i].pf_handle = fds[i].fd;
        pf[i].pf_events = 0;
        pf[i].pf_revents = 0;
        for (b = 0; b < sizeof(poll_bits) / sizeof(poll_bits[0]); b++) {
            if (fds[i].events & poll_bits[b].posix)
                pf[i].pf_events |= poll_bits[b].rn;
        }
    }
    e = (int)rn_sock_posix(rn_poll(r->r_proc, pf, (unsigned)n, timeout_ms));
    for (i = 0; i < n; i++) {
        fds[i].revents = 0;
        for (b = 0; b < sizeof(poll_bits) / sizeof(poll_bits[0]); b++) {
            if (pf[i].pf_revents & poll_bits[b].rn)
                fds[i].revents |= poll_bits[b].posix;
        }
    }
    return e;
}

static int rx_fcntl(struct run *r, int fd, int cmd, int arg)
{
    int rcmd = cmd == F_GETFL ? RN_F_GETFL : cmd == F_SETFL ? RN_F_SETFL : -1;
    int v;

    if (rcmd < 0)
        return notexpr(r, "an fcntl command other than F_GETFL and F_SETFL");
    v = (int)rn_sock_posix(rn_fcntl(r->r_proc, fd, rcmd, arg & O_NONBLOCK ? RN_O_NONBLOCK : 0));
    if (v < 0 || cmd != F_GETFL)
        return v;
    return (v & RN_O_NONBLOCK ? O_NONBLOCK : 0) | (v & RN_O_RDWR ? O_RDWR : 0);
}

static int rx_ioctl(struct run *r, int fd, unsigned long req, int *val)
{
    unsigned long rreq = req == FIONREAD ? RN_FIONREAD : req == SIOCOUTQ ? RN_SIOCOUTQ : req;

    return (int)rn_sock_posix(rn_ioctl(r->r_proc, fd, rreq, val));
}

/* A close wakes every call blocked on the handle with RN_ECANCELED. */
static void rx_abort(struct run *r, int fd)
{
    (void)close_async(r, fd, 0);
}

const struct sockapi sockapi_refnet = {
    .sa_name = "refnet",
    .sa_socket = rx_socket,
    .sa_bind = rx_bind,
    .sa_listen = rx_listen,
    .sa_connect = rx_connect,
    .sa_accept4 = rx_accept4,
    .sa_sendto = rx_sendto,
    .sa_recvfrom = rx_recvfrom,
    .sa_shutdown = rx_shutdown,
    .sa_close = rx_close,
    .sa_setsockopt = rx_setsockopt,
    .sa_getsockopt = rx_getsockopt,
    .sa_getsockname = rx_getsockname,
    .sa_getpeername = rx_getpeername,
    .sa_poll = rx_poll,
    .sa_fcntl = rx_fcntl,
    .sa_ioctl = rx_ioctl,
    .sa_abort = rx_abort,
};
