/*
 * The shim `refnet run` preloads into a program (LD_PRELOAD): it puts the
 * program's TCP and UDP sockets, AF_INET and AF_INET6, on the daemon's
 * stack and leaves everything else (files, pipes, UNIX sockets, netlink,
 * raw and ICMP sockets, and the loopback addresses 127.0.0.0/8 and ::1)
 * with the kernel.  It links nothing of refnet: it
 * speaks the run channel's protocol (src/run/run_proto.h) to the daemon.
 *
 * A refnet socket is, in the program, one end of an AF_UNIX socket pair
 * whose other end the daemon holds, so that read, write, send, recv,
 * poll, select, epoll, sendfile, fork, dup and close-on-exec work on it
 * as on any descriptor, with no help from here.  What the shim does:
 *
 *   socket(AF_INET[6])       asks the daemon (RUN_SOCKET) for a socket; the
 *                            descriptor returned is the pair's end
 *   bind, listen, connect,   asked of the daemon, addresses read and written
 *   names, options           as Linux does (run_addr.h); to loopback the
 *                            socket turns into a kernel socket first (dup2
 *                            over the same number, options set so far
 *                            replayed)
 *   connect                  fills the end's small send buffer with filler
 *                            the daemon discards once connected, so the end
 *                            turns writable (POLLOUT) exactly then
 *   accept, accept4          a listener's end holds the connections waiting,
 *                            each a struct run_accepted with its end beside
 *                            it (SCM_RIGHTS): reads one (blocking or not, as
 *                            the descriptor is), then tells the daemon which
 *                            process took it (RUN_TAKEN, no reply)
 *   UDP                      each datagram carries a small address header
 *                            in a seqpacket pair: send, recv, read, write and
 *                            their kin are translated for UDP descriptors only
 *   close, dup2, dup3        keep the table of descriptors; a process's last
 *                            descriptor on a socket another process may hold
 *                            tells the daemon (RUN_CLOSE)
 *   fork                     the child opens its own channel and declares the
 *                            sockets it inherited (each proven by its
 *                            descriptor): the daemon gives it its own handles
 *   exec                     announced; the new image's shim finds its refnet
 *                            sockets among its descriptors and declares them
 *
 * No daemon: TCP and UDP sockets fail with ENETDOWN and one line on stderr,
 * unless REFNET_RUN_FALLBACK=kernel asks for the kernel's sockets instead.
 * A daemon gone under a running program: calls through the shim answer
 * ENETDOWN, and the pairs' ends read the end of data or ECONNRESET.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <unistd.h>

#include "run/run_addr.h"
#include "run/run_proto.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* Descriptors the table follows; a refnet socket above is refused. */
#define SHIM_FDS 65536
/* How long the daemon's answer to HELLO is waited for, at most. */
#define RUN_HELLO_WAIT_SEC 5
/* Options remembered per socket, to replay on a switch to the kernel. */
#define SHIM_OPTS 8

#define SF_SHARED 0x01u  /* another process may hold the socket too */
#define SF_DUP 0x02u     /* another descriptor of this process may */
#define SF_FILL 0x04u    /* connect filler written: restore the send buffer */
#define SF_CONN 0x08u    /* a connect was asked */
#define SF_V6ONLY 0x10u  /* AF_INET6 with IPV6_V6ONLY set here */

struct shim_opt {
    int so_level;
    int so_name;
    int so_val;
};

struct shim_fd {
    uint64_t sf_id;       /* the socket's id; 0: not a refnet socket */
    uint8_t sf_kind;      /* enum run_kind */
    uint8_t sf_flags;     /* SF_* */
    int sf_sndbuf;        /* SF_FILL: the send buffer to restore */
    int sf_type;          /* SOCK_STREAM or SOCK_DGRAM */
    int sf_family;        /* AF_INET or AF_INET6 */
    struct shim_opt *sf_opts; /* set before bind/connect, or NULL */
};

static struct shim_fd tab[SHIM_FDS];
/* Taken and given back through chan_take() and chan_give() only. */
static pthread_mutex_t chan_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread sigset_t chan_oldmask;  /* the thread's mask before chan_take() */
static int chan_fd = -1;              /* under chan_lock */
static pid_t chan_pid;                /* the process the channel is for */
static int chan_err;                  /* why there is no channel (errno) */
static int chan_peer_version;         /* EPROTONOSUPPORT: the daemon's, if it said */
static bool told;                     /* the one line was printed */
static bool fallback;                 /* REFNET_RUN_FALLBACK=kernel */
static char sock_path[108];

/* ---- The channel's lock ------------------------------------------------------ */

/* chan_lock is held with every signal blocked.  A program may close a
 * socket, or make any call that reaches the daemon, from a signal handler
 * (apache2's prefork children close their listeners in their SIGWINCH and
 * SIGUSR1 handlers): were the signal taken while the thread waits for the
 * daemon's answer under the lock, the handler's call would wait for the
 * lock forever.  Blocked, the signal is taken once the lock is given
 * back.  Every wait under the lock is the daemon's prompt answer. */
static void chan_take(void)
{
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &chan_oldmask);
    pthread_mutex_lock(&chan_lock);
}

static void chan_give(void)
{
    pthread_mutex_unlock(&chan_lock);
    pthread_sigmask(SIG_SETMASK, &chan_oldmask, NULL);
}

/* ---- The real functions ------------------------------------------------------ */

#define REAL(ret, name, ...)                                         \
    static ret (*real_##name)(__VA_ARGS__);                          \
    static void resolve_##name(void)                                 \
    {                                                                \
        if (real_##name == NULL)                                     \
            real_##name = (ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name); \
    }

REAL(int, socket, int, int, int)
REAL(int, bind, int, const struct sockaddr *, socklen_t)
REAL(int, listen, int, int)
REAL(int, connect, int, const struct sockaddr *, socklen_t)
REAL(int, accept, int, struct sockaddr *, socklen_t *)
REAL(int, accept4, int, struct sockaddr *, socklen_t *, int)
REAL(int, getsockname, int, struct sockaddr *, socklen_t *)
REAL(int, getpeername, int, struct sockaddr *, socklen_t *)
REAL(int, setsockopt, int, int, int, const void *, socklen_t)
REAL(int, getsockopt, int, int, int, void *, socklen_t *)
REAL(int, close, int)
REAL(int, dup, int)
REAL(int, dup2, int, int)
REAL(int, dup3, int, int, int)
REAL(int, fcntl, int, int, ...)
REAL(int, fcntl64, int, int, ...)
REAL(ssize_t, read, int, void *, size_t)
REAL(ssize_t, write, int, const void *, size_t)
REAL(ssize_t, readv, int, const struct iovec *, int)
REAL(ssize_t, writev, int, const struct iovec *, int)
REAL(ssize_t, recv, int, void *, size_t, int)
REAL(ssize_t, send, int, const void *, size_t, int)
REAL(ssize_t, recvfrom, int, void *, size_t, int, struct sockaddr *, socklen_t *)
REAL(ssize_t, sendto, int, const void *, size_t, int, const struct sockaddr *, socklen_t)
REAL(ssize_t, recvmsg, int, struct msghdr *, int)
REAL(ssize_t, sendmsg, int, const struct msghdr *, int)
REAL(int, ioctl, int, unsigned long, void *)
REAL(int, execve, const char *, char *const[], char *const[])
REAL(int, execv, const char *, char *const[])
REAL(int, execvp, const char *, char *const[])
REAL(int, execvpe, const char *, char *const[], char *const[])
REAL(int, close_range, unsigned, unsigned, int)

#define R(name) (resolve_##name(), real_##name)

/* ---- The table ---------------------------------------------------------------- */

static struct shim_fd *ent(int fd)
{
    return fd >= 0 && fd < SHIM_FDS && tab[fd].sf_id != 0 ? &tab[fd] : NULL;
}

static void ent_clear(int fd)
{
    free(tab[fd].sf_opts);
    memset(&tab[fd], 0, sizeof(tab[fd]));
}

/* ---- The channel --------------------------------------------------------------- */

/* Sends m (with descriptors fds) and, unless it is a RUN_CLOSE, reads the
 * reply into m and a descriptor into *rfd.  Under chan_lock.  Returns 0 or
 * -errno of the channel itself. */
static int chan_io(struct run_msg *m, const int *fds, size_t nfds, int *rfd, int rflags)
{
    char cbuf[CMSG_SPACE(sizeof(int) * RUN_IDS_MAX)];
    struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *cm;
    ssize_t n;

    if (nfds > 0) {
        memset(cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    }
    do
        n = R(sendmsg)(chan_fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(*m))
        return -(n < 0 ? errno : EPROTO);
    if (m->m_op == RUN_CLOSE || m->m_op == RUN_TAKEN)
        return 0;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof(cbuf);
    do
        n = R(recvmsg)(chan_fd, &mh, MSG_CMSG_CLOEXEC & rflags);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(*m))
        return -(n < 0 ? errno : ECONNRESET);
    for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            int fd;

            memcpy(&fd, CMSG_DATA(cm), sizeof(int));
            if (rfd != NULL && *rfd < 0)
                *rfd = fd;
            else
                R(close)(fd);
        }
    }
    return 0;
}

/* Moves fd up, out of the numbers a program expects to get. */
static int fd_high(int fd)
{
    struct rlimit rl;
    long base = 900;
    int nfd;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (long)rl.rlim_cur <= base + 16)
        base = (long)rl.rlim_cur * 3 / 4;
    nfd = R(fcntl)(fd, F_DUPFD_CLOEXEC, (int)base);
    if (nfd < 0)
        return fd;
    R(close)(fd);
    return nfd;
}

/* The process's name: the one `refnet run --name` gave its first process,
 * else the kernel's. */
static void proc_name(char *buf, size_t len)
{
    const char *top = getenv("REFNET_RUN_TOP"), *name = getenv(RUN_ENV_NAME);
    int fd;
    ssize_t n;

    if (top != NULL && name != NULL && atoi(top) == getpid()) {
        snprintf(buf, len, "%s", name);
        return;
    }
    buf[0] = '\0';
    fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    n = R(read)(fd, buf, len - 1);
    R(close)(fd);
    if (n <= 0)
        n = 0;
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
}

/* Declares the sockets of fds[0..n) (ids[]) to the daemon; fills kinds
 * and families (one byte each, AF_INET or AF_INET6). */
static int declare(const int *fds, const uint64_t *ids, size_t n, uint8_t *kinds,
                   uint8_t *families)
{
    struct run_msg m;
    int e;

    memset(&m, 0, sizeof(m));
    m.m_op = RUN_DECLARE;
    m.m_len = (uint32_t)(n * 8);
    memcpy(m.m_data, ids, n * 8);
    e = chan_io(&m, fds, n, NULL, 0);
    if (e < 0)
        return e;
    if (m.m_result < 0)
        return m.m_result;
    memcpy(kinds, m.m_data, n);
    memcpy(families, m.m_data + n, n);
    return 0;
}

/* Opens the channel and says hello.  Under chan_lock.  Returns 0 or -errno;
 * async-signal-safe but for the name's getenv. */
static int chan_open(bool after_exec)
{
    struct sockaddr_un sa;
    struct run_msg m;
    char name[32];
    const char *owner = getenv(RUN_ENV_OWNER);
    size_t nl, ol;
    int fd, e;

    if (sock_path[0] == '\0')
        return -ENETDOWN;
    fd = R(socket)(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, sock_path, strlen(sock_path));
    if (R(connect)(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        e = errno;
        R(close)(fd);
        return -e;
    }
    chan_fd = fd_high(fd);
    chan_pid = getpid();
    memset(&m, 0, sizeof(m));
    m.m_op = RUN_HELLO;
    m.m_arg[0] = RUN_PROTO_VERSION;
    m.m_arg[1] = getppid();
    m.m_arg[2] = after_exec;
    proc_name(name, sizeof(name));
    nl = strlen(name);
    ol = owner != NULL ? strnlen(owner, sizeof(m.m_data) - nl - 2) : 0;
    memcpy(m.m_data, name, nl);
    if (ol > 0)
        memcpy(m.m_data + nl + 1, owner, ol);
    m.m_len = (uint32_t)(nl + 1 + ol + (ol > 0));
    /* A daemon of version 2 or older does not answer a HELLO of another
     * version: the wait is bounded, then the program hears why. */
    {
        struct timeval tv = {.tv_sec = RUN_HELLO_WAIT_SEC}, none = {0};

        (void)R(setsockopt)(chan_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        e = chan_io(&m, NULL, 0, NULL, 0);
        (void)R(setsockopt)(chan_fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
    }
    if (e == -EAGAIN || e == -EWOULDBLOCK) {
        e = -EPROTONOSUPPORT;
        m.m_arg[0] = RUN_PROTO_VERSION;  /* its version is not known */
    } else if (e == 0 && m.m_result < 0) {
        e = m.m_result;
    }
    if (e == -EPROTONOSUPPORT)
        chan_peer_version = m.m_arg[0];  /* the daemon's, or ours echoed by an old one */
    if (e < 0) {
        R(close)(chan_fd);
        chan_fd = -1;
        return e == -ECONNRESET || e == -EPIPE ? -EACCES : e;
    }
    return 0;
}

/* After a fork: this process's own channel, and its own handles on the
 * sockets it inherited.  Under chan_lock. */
static void chan_reopen_child(void)
{
    int fds[RUN_IDS_MAX];
    uint64_t ids[RUN_IDS_MAX];
    uint8_t kinds[RUN_IDS_MAX], families[RUN_IDS_MAX];
    size_t n = 0;
    int fd;

    if (chan_fd >= 0)
        R(close)(chan_fd);
    chan_fd = -1;
    chan_err = -chan_open(false);
    if (chan_fd < 0)
        return;
    for (fd = 0; fd < SHIM_FDS; fd++) {
        if (tab[fd].sf_id == 0)
            continue;
        tab[fd].sf_flags |= SF_SHARED;
        fds[n] = fd;
        ids[n] = tab[fd].sf_id;
        if (++n == RUN_IDS_MAX) {
            (void)declare(fds, ids, n, kinds, families);
            n = 0;
        }
    }
    if (n > 0)
        (void)declare(fds, ids, n, kinds, families);
}

/* The one line, once per process, and the errno for a call that needed
 * the daemon. */
static int no_daemon(void)
{
    if (!told) {
        char line[256];
        int n;

        told = true;
        if (chan_err == EACCES)
            n = snprintf(line, sizeof(line),
                         "refnet run: the daemon at %s refused this user (uid %d)\n",
                         sock_path, (int)getuid());
        else if (chan_err == EPROTONOSUPPORT && chan_peer_version != RUN_PROTO_VERSION)
            n = snprintf(line, sizeof(line),
                         "refnet run: the daemon at %s speaks run protocol version %d, this "
                         "shim version %d: use the shim of the daemon's build\n",
                         sock_path, chan_peer_version, RUN_PROTO_VERSION);
        else if (chan_err == EPROTONOSUPPORT)
            n = snprintf(line, sizeof(line),
                         "refnet run: the daemon at %s speaks another run protocol version "
                         "than this shim's (%d): use the shim of the daemon's build\n",
                         sock_path, RUN_PROTO_VERSION);
        else
            n = snprintf(line, sizeof(line),
                         "refnet run: no refnet daemon at %s (%s); %s\n",
                         sock_path[0] ? sock_path : "(REFNET_RUN_SOCK unset)",
                         strerror(chan_err ? chan_err : ENETDOWN),
                         fallback ? "TCP and UDP sockets go to the kernel"
                                  : "TCP and UDP sockets fail with ENETDOWN");
        if (n > 0)
            (void)!R(write)(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    }
    return chan_err == EACCES ? EACCES : ENETDOWN;
}

/* One request to the daemon.  Returns m_result (>= 0, or -errno), or
 * -ENETDOWN without a daemon; *rfd (if not NULL) gets a descriptor. */
static int rpc(struct run_msg *m, int *rfd, int rflags)
{
    int e;

    if (rfd != NULL)
        *rfd = -1;
    chan_take();
    if (chan_fd >= 0 && chan_pid != getpid()) {
        /* A child made without fork(3)'s handlers (clone, vfork). */
        chan_reopen_child();
    }
    if (chan_fd < 0 && chan_err == 0)
        chan_err = -chan_open(false);
    if (chan_fd < 0) {
        chan_give();
        return -ENETDOWN;
    }
    e = chan_io(m, NULL, 0, rfd, rflags);
    if (e < 0) {
        /* The daemon is gone. */
        R(close)(chan_fd);
        chan_fd = -1;
        chan_err = ENETDOWN;
        chan_give();
        return -ENETDOWN;
    }
    chan_give();
    return m->m_op == RUN_CLOSE || m->m_op == RUN_TAKEN ? 0 : m->m_result;
}

static int fail(int e)
{
    errno = e;
    return -1;
}

/* ---- Start, fork, exec -------------------------------------------------------------- */

static void atfork_prepare(void)
{
    chan_take();
}

static void atfork_parent(void)
{
    int fd;

    for (fd = 0; fd < SHIM_FDS; fd++)
        if (tab[fd].sf_id != 0)
            tab[fd].sf_flags |= SF_SHARED;
    chan_give();
}

static void atfork_child(void)
{
    pthread_mutex_init(&chan_lock, NULL);
    if (chan_fd >= 0 || chan_err == 0)
        chan_reopen_child();
    pthread_sigmask(SIG_SETMASK, &chan_oldmask, NULL);  /* as atfork_prepare() found it */
}

/* After an exec: the refnet sockets among the descriptors inherited,
 * found in /proc/self/fd and declared (each with its descriptor, the
 * proof the daemon asks for). */
static void find_inherited(void)
{
    int fds[RUN_IDS_MAX];
    uint64_t ids[RUN_IDS_MAX];
    uint8_t kinds[RUN_IDS_MAX], families[RUN_IDS_MAX];
    size_t n = 0, i;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    bool more = true;

    if (d == NULL)
        return;
    while (more) {
        struct stat sb;
        int fd = -1;

        de = readdir(d);
        more = de != NULL;
        if (more && de->d_name[0] >= '0' && de->d_name[0] <= '9')
            fd = atoi(de->d_name);
        if (fd >= 0 && fd < SHIM_FDS && fd != chan_fd && fd != dirfd(d) &&
            fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
            fds[n] = fd;
            ids[n++] = (uint64_t)sb.st_ino;
        }
        if (n == 0 || (n < RUN_IDS_MAX && more))
            continue;
        if (declare(fds, ids, n, kinds, families) == 0) {
            for (i = 0; i < n; i++) {
                if (kinds[i] == RUN_KIND_NONE)
                    continue;
                tab[fds[i]].sf_id = ids[i];
                tab[fds[i]].sf_kind = kinds[i];
                tab[fds[i]].sf_type = kinds[i] == RUN_KIND_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
                tab[fds[i]].sf_family = families[i] == AF_INET6 ? AF_INET6 : AF_INET;
                tab[fds[i]].sf_flags = SF_SHARED | SF_CONN;
            }
        }
        n = 0;
    }
    closedir(d);
}

__attribute__((constructor)) static void shim_init(void)
{
    const char *p = getenv(RUN_ENV_SOCK), *fb = getenv(RUN_ENV_FALLBACK);

    fallback = fb != NULL && strcmp(fb, "kernel") == 0;
    if (p != NULL)
        snprintf(sock_path, sizeof(sock_path), "%s", p);
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    chan_take();
    chan_err = -chan_open(true);
    if (chan_fd >= 0)
        find_inherited();
    chan_give();
}

/* Says an exec is coming, so the daemon keeps this process for the new
 * image's shim. */
static void exec_announce(void)
{
    struct run_msg m;

    chan_take();
    if (chan_fd >= 0 && chan_pid == getpid()) {
        memset(&m, 0, sizeof(m));
        m.m_op = RUN_EXEC;
        (void)chan_io(&m, NULL, 0, NULL, 0);
    }
    chan_give();
}

SHIM_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    exec_announce();
    return R(execve)(path, argv, envp);
}

SHIM_EXPORT int execv(const char *path, char *const argv[])
{
    exec_announce();
    return R(execv)(path, argv);
}

SHIM_EXPORT int execvp(const char *file, char *const argv[])
{
    exec_announce();
    return R(execvp)(file, argv);
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    exec_announce();
    return R(execvpe)(file, argv, envp);
}

/* execl and its kin build an argv and go through the ones above. */
#define SHIM_ARGS_MAX 1024
static int collect(const char *arg0, va_list ap, char **argv, char ***envp)
{
    int n = 0;

    argv[n++] = (char *)arg0;
    while (arg0 != NULL && n < SHIM_ARGS_MAX - 1 && (argv[n] = va_arg(ap, char *)) != NULL)
        n++;
    argv[n] = NULL;
    if (n >= SHIM_ARGS_MAX - 1)
        return fail(E2BIG);
    if (envp != NULL)
        *envp = va_arg(ap, char **);
    return 0;
}

SHIM_EXPORT int execl(const char *path, const char *arg, ...)
{
    char *argv[SHIM_ARGS_MAX];
    va_list ap;
    int e;

    va_start(ap, arg);
    e = collect(arg, ap, argv, NULL);
    va_end(ap);
    return e < 0 ? e : execv(path, argv);
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...)
{
    char *argv[SHIM_ARGS_MAX];
    va_list ap;
    int e;

    va_start(ap, arg);
    e = collect(arg, ap, argv, NULL);
    va_end(ap);
    return e < 0 ? e : execvp(file, argv);
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...)
{
    char *argv[SHIM_ARGS_MAX], **envp = NULL;
    va_list ap;
    int e;

    va_start(ap, arg);
    e = collect(arg, ap, argv, &envp);
    va_end(ap);
    return e < 0 ? e : execve(path, argv, envp);
}

/* ---- Sockets ------------------------------------------------------------------------- */

SHIM_EXPORT int socket(int domain, int type, int proto)
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), fd, r;
    struct run_msg m;

    if ((domain != AF_INET && domain != AF_INET6) || (base != SOCK_STREAM && base != SOCK_DGRAM))
        return R(socket)(domain, type, proto);
    if ((base == SOCK_STREAM && proto != 0 && proto != IPPROTO_TCP) ||
        (base == SOCK_DGRAM && proto != 0 && proto != IPPROTO_UDP))
        return R(socket)(domain, type, proto);  /* ICMP datagrams and the like */
    memset(&m, 0, sizeof(m));
    m.m_op = RUN_SOCKET;
    m.m_arg[0] = base;
    m.m_arg[1] = proto;
    m.m_arg[2] = domain;
    r = rpc(&m, &fd, (type & SOCK_CLOEXEC) ? MSG_CMSG_CLOEXEC : 0);
    if (r == -ENETDOWN && chan_fd < 0) {
        int e = no_daemon();

        if (fallback && e == ENETDOWN)
            return R(socket)(domain, type, proto);
        return fail(e);
    }
    if (r < 0)
        return fail(-r);
    if (fd < 0)
        return fail(EPROTO);
    if (fd >= SHIM_FDS) {
        R(close)(fd);
        return fail(EMFILE);
    }
    /* The daemon's pairs come with no status flag set. */
    if (type & SOCK_NONBLOCK)
        R(fcntl)(fd, F_SETFL, O_NONBLOCK);
    ent_clear(fd);
    tab[fd].sf_id = m.m_id;
    tab[fd].sf_type = base;
    tab[fd].sf_family = domain;
    tab[fd].sf_kind = base == SOCK_DGRAM ? RUN_KIND_DGRAM : RUN_KIND_STREAM;
    return fd;
}

/* The socket on fd turns into a kernel socket, on the same number with the
 * same flags and the options set so far (a bind or connect to loopback). */
static int to_kernel(int fd, struct shim_fd *e)
{
    int kfd, fl = R(fcntl)(fd, F_GETFL), fdfl = R(fcntl)(fd, F_GETFD), i;
    struct shim_opt *o = e->sf_opts;

    kfd = R(socket)(e->sf_family, e->sf_type, 0);
    if (kfd < 0)
        return -1;
    if (o != NULL)
        for (i = 0; i < SHIM_OPTS && o[i].so_level != 0; i++)
            (void)R(setsockopt)(kfd, o[i].so_level - 1, o[i].so_name, &o[i].so_val,
                                sizeof(int));
    if (fl >= 0)
        R(fcntl)(kfd, F_SETFL, fl);
    if (R(dup3)(kfd, fd, (fdfl >= 0 && (fdfl & FD_CLOEXEC)) ? O_CLOEXEC : 0) < 0) {
        R(close)(kfd);
        return -1;
    }
    R(close)(kfd);
    ent_clear(fd);
    return 0;
}

SHIM_EXPORT int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    struct shim_fd *e = ent(fd);
    struct run_msg m;
    int r;

    if (e == NULL)
        return R(bind)(fd, sa, len);
    memset(&m, 0, sizeof(m));
    r = run_sa_read(sa, len, e->sf_family, e->sf_type, RUN_SA_BIND, &m.m_addr);
    if (r < 0)
        return fail(-r);
    if (run_addr_is_loopback(&m.m_addr))
        return to_kernel(fd, e) < 0 ? -1 : R(bind)(fd, sa, len);
    m.m_op = RUN_BIND;
    m.m_id = e->sf_id;
    r = rpc(&m, NULL, 0);
    return r < 0 ? fail(-r) : 0;
}

SHIM_EXPORT int listen(int fd, int backlog)
{
    struct shim_fd *e = ent(fd);
    struct run_msg m;
    int r;

    if (e == NULL)
        return R(listen)(fd, backlog);
    memset(&m, 0, sizeof(m));
    m.m_op = RUN_LISTEN;
    m.m_id = e->sf_id;
    m.m_arg[0] = backlog;
    r = rpc(&m, NULL, 0);
    if (r < 0)
        return fail(-r);
    e->sf_kind = RUN_KIND_LISTENER;
    /* A listener never turns into a kernel socket: its options need no
     * replay, and its close (in a signal handler, maybe) frees nothing. */
    free(e->sf_opts);
    e->sf_opts = NULL;
    return 0;
}

/* The connect is done once the daemon read the filler: the end's queue is
 * empty.  Then the end gets its send buffer back. */
static void fill_restore(int fd, struct shim_fd *e)
{
    int q = 0;

    if (!(e->sf_flags & SF_FILL))
        return;
    if (R(ioctl)(fd, SIOCOUTQ, &q) != 0 || q != 0)
        return;
    (void)R(setsockopt)(fd, SOL_SOCKET, SO_SNDBUF, &e->sf_sndbuf, sizeof(int));
    e->sf_flags &= (uint8_t)~SF_FILL;
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    static const char filler[512];
    struct shim_fd *e = ent(fd);
    struct run_msg m;
    int r, nb, n = 0;

    if (e == NULL)
        return R(connect)(fd, sa, len);
    memset(&m, 0, sizeof(m));
    r = run_sa_read(sa, len, e->sf_family, e->sf_type, RUN_SA_CONNECT, &m.m_addr);
    if (r < 0)
        return fail(-r);
    if ((e->sf_flags & SF_V6ONLY) && e->sf_type == SOCK_DGRAM && sa->sa_family == AF_INET)
        return fail(EAFNOSUPPORT);  /* Linux's answer to an IPv4 peer there */
    if (run_addr_is_loopback(&m.m_addr) && !(e->sf_flags & SF_CONN))
        return to_kernel(fd, e) < 0 ? -1 : R(connect)(fd, sa, len);
    m.m_op = RUN_CONNECT;
    m.m_id = e->sf_id;
    if (e->sf_type == SOCK_DGRAM) {
        r = rpc(&m, NULL, 0);
        return r < 0 ? fail(-r) : 0;
    }
    nb = R(fcntl)(fd, F_GETFL) & O_NONBLOCK;
    if (!(e->sf_flags & SF_CONN)) {
        /* Not writable until connected: fill the end's (smallest) send
         * buffer with what the daemon discards then. */
        int sb = 0, one = 1;
        socklen_t sl = sizeof(sb);
        ssize_t w;

        if (R(getsockopt)(fd, SOL_SOCKET, SO_SNDBUF, &sb, &sl) == 0) {
            e->sf_sndbuf = sb / 2;
            (void)R(setsockopt)(fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
            while ((w = R(send)(fd, filler, sizeof(filler), MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
                n += (int)w;
            e->sf_flags |= SF_FILL;
        }
        m.m_arg[0] = n;
        e->sf_flags |= SF_CONN;
        r = rpc(&m, NULL, 0);
        if (r != -EINPROGRESS) {
            e->sf_flags &= (uint8_t)~SF_CONN;
            return fail(r < 0 ? -r : EPROTO);
        }
        /* Committed to refnet: its options need no replay, and its
         * close (in a signal handler, maybe) frees nothing. */
        free(e->sf_opts);
        e->sf_opts = NULL;
        if (nb)
            return fail(EINPROGRESS);
    } else if (nb) {
        r = rpc(&m, NULL, 0);
        if (r == -EISCONN)
            fill_restore(fd, e);
        return fail(r < 0 ? -r : EPROTO);
    }
    /* A blocking connect: wait until the end turns writable. */
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLOUT};

        if (poll(&pf, 1, -1) < 0 && errno == EINTR)
            return fail(EINTR);
        m.m_op = RUN_CONNECT;
        m.m_id = e->sf_id;
        r = rpc(&m, NULL, 0);
        if (r == -EALREADY)
            continue;
        if (r == -EISCONN) {
            fill_restore(fd, e);
            return 0;
        }
        return fail(r < 0 ? -r : EPROTO);
    }
}

static int do_accept(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    struct shim_fd *e = ent(fd);
    struct run_accepted ra;
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &ra, .iov_len = sizeof(ra)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *cm;
    struct run_msg m;
    ssize_t n;
    int nfd = -1;

    if (e->sf_kind != RUN_KIND_LISTENER)
        return fail(EINVAL);
    /* One offered connection, blocking or not as the descriptor is. */
    n = R(recvmsg)(fd, &mh, (flags & SOCK_CLOEXEC) ? MSG_CMSG_CLOEXEC : 0);
    if (n < 0)
        return -1;  /* EAGAIN on a non-blocking listener, EINTR */
    for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len >= CMSG_LEN(sizeof(int)))
            memcpy(&nfd, CMSG_DATA(cm), sizeof(int));
    if (n == 0 && nfd < 0)
        return fail(ENETDOWN);  /* the daemon closed it */
    if (n != (ssize_t)sizeof(ra) || nfd < 0 || (mh.msg_flags & MSG_CTRUNC)) {
        if (nfd >= 0)
            R(close)(nfd);
        return fail(EPROTO);
    }
    /* Ours now: the daemon hears it, with no answer to wait for. */
    memset(&m, 0, sizeof(m));
    m.m_op = RUN_TAKEN;
    m.m_id = ra.ra_id;
    (void)rpc(&m, NULL, 0);
    if (nfd >= SHIM_FDS) {
        R(close)(nfd);
        return fail(EMFILE);
    }
    if (flags & SOCK_NONBLOCK)
        R(fcntl)(nfd, F_SETFL, O_NONBLOCK);  /* it came with no status flag */
    ent_clear(nfd);
    tab[nfd].sf_id = ra.ra_id;
    tab[nfd].sf_type = SOCK_STREAM;
    tab[nfd].sf_family = e->sf_family;
    tab[nfd].sf_kind = RUN_KIND_STREAM;
    tab[nfd].sf_flags = SF_CONN;
    run_sa_write(sa, len, e->sf_family, &ra.ra_addr);
    return nfd;
}

SHIM_EXPORT int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
    if (ent(fd) == NULL)
        return R(accept)(fd, sa, len);
    return do_accept(fd, sa, len, 0);
}

SHIM_EXPORT int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    if (ent(fd) == NULL)
        return R(accept4)(fd, sa, len, flags);
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return fail(EINVAL);
    return do_accept(fd, sa, len, flags);
}

static int getname(int fd, struct sockaddr *sa, socklen_t *len, bool peer)
{
    struct shim_fd *e = ent(fd);
    struct run_msg m;
    int r;

    if (len == NULL)
        return fail(EFAULT);
    memset(&m, 0, sizeof(m));
    m.m_op = RUN_GETNAME;
    m.m_id = e->sf_id;
    r = rpc(&m, NULL, 0);
    if (r < 0)
        return fail(-r);
    if (peer && m.m_addr2.a_port == 0)
        return fail(ENOTCONN);
    run_sa_write(sa, len, e->sf_family, peer ? &m.m_addr2 : &m.m_addr);
    return 0;
}

SHIM_EXPORT int getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
    return ent(fd) == NULL ? R(getsockname)(fd, sa, len) : getname(fd, sa, len, false);
}

SHIM_EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
    struct shim_fd *e = ent(fd);

    if (e == NULL)
        return R(getpeername)(fd, sa, len);
    fill_restore(fd, e);
    return getname(fd, sa, len, true);
}

/* Options the program's end answers itself: they concern waiting on it. */
static bool opt_local(int level, int name)
{
    return level == SOL_SOCKET &&
           (name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD || name == SO_RCVTIMEO_NEW ||
            name == SO_SNDTIMEO_NEW || name == SO_RCVLOWAT);
}

static void opt_remember(struct shim_fd *e, int level, int name, int val)
{
    int i;

    if (e->sf_opts == NULL && (e->sf_opts = calloc(SHIM_OPTS, sizeof(*e->sf_opts))) == NULL)
        return;
    for (i = 0; i < SHIM_OPTS; i++) {
        struct shim_opt *o = &e->sf_opts[i];

        if (o->so_level == 0 || (o->so_level == level + 1 && o->so_name == name)) {
            o->so_level = level + 1;
            o->so_name = name;
            o->so_val = val;
            return;
        }
    }
}

SHIM_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    struct shim_fd *e = ent(fd);
    struct run_msg m;
    int r;

    if (e == NULL || opt_local(level, name))
        return R(setsockopt)(fd, level, name, val, len);
    if (val == NULL)
        return fail(EFAULT);
    memset(&m, 0, sizeof(m));
    if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
        /* A name, as Linux takes it: up to the length given, at most 15
         * characters, ending at a NUL if one comes first. */
        size_t n = len < RUN_CC_NAME_MAX - 1 ? len : RUN_CC_NAME_MAX - 1;

        if (len < 1)
            return fail(EINVAL);
        memcpy(m.m_data, val, n);
        m.m_data[n] = '\0';
        m.m_len = (uint32_t)strlen((const char *)m.m_data) + 1;
    } else if (level == SOL_SOCKET && name == SO_LINGER) {
        struct linger l;

        if (len < sizeof(l))
            return fail(EINVAL);
        memcpy(&l, val, sizeof(l));
        m.m_val = l.l_onoff ? l.l_linger : -1;
    } else {
        int v = 0;

        if (len < 1)
            return fail(EINVAL);
        memcpy(&v, val, len < sizeof(int) ? len : sizeof(int));
        if (len < sizeof(int))
            v &= 0xff;
        m.m_val = v;
    }
    m.m_op = RUN_SETOPT;
    m.m_id = e->sf_id;
    m.m_arg[0] = level;
    m.m_arg[1] = name;
    r = rpc(&m, NULL, 0);
    if (r < 0)
        return fail(-r);
    if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY)
        e->sf_flags = m.m_val ? (uint8_t)(e->sf_flags | SF_V6ONLY)
                              : (uint8_t)(e->sf_flags & ~SF_V6ONLY);
    /* Not a listener's or a connection's: they never turn into kernel
     * sockets (so an accepted connection allocates nothing here).  Nor a
     * name: only numbers are kept. */
    if (!(level == SOL_SOCKET && name == SO_LINGER) &&
        !(level == IPPROTO_TCP && name == TCP_CONGESTION) && e->sf_kind != RUN_KIND_LISTENER &&
        !(e->sf_flags & SF_CONN))
        opt_remember(e, level, name, (int)m.m_val);
    return 0;
}

static int put_int(void *val, socklen_t *len, int v)
{
    if (val == NULL || len == NULL)
        return fail(EFAULT);
    memcpy(val, &v, *len < sizeof(int) ? *len : sizeof(int));
    *len = *len < sizeof(int) ? *len : sizeof(int);
    return 0;
}

/* TCP_INFO as the kernel lays it out (linux/tcp.h), from the daemon's
 * struct run_tcp_info; *len becomes what was written, as Linux does. */
static int put_tcp_info(void *val, socklen_t *len, const struct run_msg *m)
{
    struct run_tcp_info ri;
    struct tcp_info ti;

    if (val == NULL || len == NULL)
        return fail(EFAULT);
    if (m->m_len < sizeof(ri))
        return fail(EIO);
    memcpy(&ri, m->m_data, sizeof(ri));
    memset(&ti, 0, sizeof(ti));
    ti.tcpi_state = ri.ti_state;
    ti.tcpi_backoff = (uint8_t)ri.ti_backoff;
    ti.tcpi_options = ri.ti_options;
    ti.tcpi_snd_wscale = ri.ti_snd_wscale & 0xf;
    ti.tcpi_rcv_wscale = ri.ti_rcv_wscale & 0xf;
    ti.tcpi_rto = ri.ti_rto;
    ti.tcpi_snd_mss = ri.ti_snd_mss;
    ti.tcpi_rcv_mss = ri.ti_rcv_mss;
    ti.tcpi_unacked = ri.ti_unacked;
    ti.tcpi_last_data_recv = ri.ti_last_recv;
    ti.tcpi_pmtu = ri.ti_snd_mss != 0 ? ri.ti_snd_mss + 40 : 0;
    ti.tcpi_rtt = ri.ti_rtt;
    ti.tcpi_rttvar = ri.ti_rttvar;
    ti.tcpi_snd_ssthresh = ri.ti_snd_ssthresh;
    ti.tcpi_snd_cwnd = ri.ti_snd_cwnd;
    ti.tcpi_advmss = ri.ti_advmss;
    ti.tcpi_rcv_space = ri.ti_rcv_wnd;
    ti.tcpi_total_retrans = ri.ti_total_retrans;
    ti.tcpi_delivery_rate = ri.ti_delivery_rate;
    ti.tcpi_bytes_acked = ri.ti_bytes_acked;
    ti.tcpi_bytes_received = ri.ti_bytes_received;
    ti.tcpi_segs_out = (uint32_t)ri.ti_segs_out;
    ti.tcpi_segs_in = (uint32_t)ri.ti_segs_in;
    ti.tcpi_notsent_bytes = ri.ti_notsent;
    ti.tcpi_min_rtt = ri.ti_min_rtt;
    ti.tcpi_data_segs_in = (uint32_t)ri.ti_data_segs_in;
    ti.tcpi_data_segs_out = (uint32_t)ri.ti_data_segs_out;
    ti.tcpi_bytes_sent = ri.ti_bytes_sent;
    ti.tcpi_bytes_retrans = ri.ti_bytes_retrans;
    ti.tcpi_snd_wnd = ri.ti_snd_wnd;
    if (*len > sizeof(ti))
        *len = sizeof(ti);
    memcpy(val, &ti, *len);
    return 0;
}

SHIM_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    struct shim_fd *e = ent(fd);
    struct run_msg m;
    int r;

    if (e == NULL || opt_local(level, name))
        return R(getsockopt)(fd, level, name, val, len);
    if (level == SOL_SOCKET && name == SO_DOMAIN)
        return put_int(val, len, e->sf_family);
    if (level == SOL_SOCKET && name == SO_TYPE)
        return put_int(val, len, e->sf_type);
    if (level == SOL_SOCKET && name == SO_PROTOCOL)
        return put_int(val, len, e->sf_type == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP);
    if (level == SOL_SOCKET && name == SO_ACCEPTCONN)
        return put_int(val, len, e->sf_kind == RUN_KIND_LISTENER);
    if (level == SOL_SOCKET && name == SO_ERROR)
        fill_restore(fd, e);
    memset(&m, 0, sizeof(m));
    m.m_op = RUN_GETOPT;
    m.m_id = e->sf_id;
    m.m_arg[0] = level;
    m.m_arg[1] = name;
    r = rpc(&m, NULL, 0);
    if (r == -ENETDOWN && level == SOL_SOCKET && name == SO_ERROR)
        return put_int(val, len, ENETDOWN);
    if (r < 0)
        return fail(-r);
    if (level == IPPROTO_TCP && name == TCP_INFO)
        return put_tcp_info(val, len, &m);
    if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
        /* As Linux: at most the buffer, zero-padded, *len what was given. */
        size_t n = m.m_len < sizeof(m.m_data) ? m.m_len : sizeof(m.m_data);

        if (val == NULL || len == NULL)
            return fail(EFAULT);
        if (*len > n)
            *len = (socklen_t)n;
        memcpy(val, m.m_data, *len);
        return 0;
    }
    if (level == SOL_SOCKET && name == SO_LINGER) {
        struct linger l = {.l_onoff = m.m_val >= 0, .l_linger = m.m_val >= 0 ? (int)m.m_val : 0};

        if (val == NULL || len == NULL)
            return fail(EFAULT);
        memcpy(val, &l, *len < sizeof(l) ? *len : sizeof(l));
        *len = *len < sizeof(l) ? *len : sizeof(l);
        return 0;
    }
    return put_int(val, len, (int)m.m_val);
}

/* ---- Closing and copying descriptors ------------------------------------------------ */

/* fd is about to close (or be replaced): when it was this process's last
 * descriptor on a socket another process may hold, the daemon hears. */
static void ent_drop(int fd)
{
    struct shim_fd *e = ent(fd);
    struct run_msg m;
    uint64_t id;
    bool shared, dup;
    int i;

    if (e == NULL)
        return;
    id = e->sf_id;
    shared = e->sf_flags & SF_SHARED;
    dup = e->sf_flags & SF_DUP;
    ent_clear(fd);
    if (dup)
        for (i = 0; i < SHIM_FDS; i++)
            if (tab[i].sf_id == id)
                return;
    if (!shared)
        return;  /* the pair's hang-up tells the daemon */
    memset(&m, 0, sizeof(m));
    m.m_op = RUN_CLOSE;
    m.m_id = id;
    (void)rpc(&m, NULL, 0);
}

/* The channel must not be closed or replaced by the program: it moves. */
static void chan_move_from(int fd)
{
    chan_take();
    if (fd == chan_fd && chan_fd >= 0) {
        int nfd = R(fcntl)(chan_fd, F_DUPFD_CLOEXEC, chan_fd + 1);

        if (nfd >= 0) {
            R(close)(chan_fd);
            chan_fd = nfd;
        }
    }
    chan_give();
}

SHIM_EXPORT int close(int fd)
{
    if (fd == chan_fd && fd >= 0)
        return 0;  /* the process's channel stays; its number is not reused */
    ent_drop(fd);
    return R(close)(fd);
}

static void ent_copy(int from, int to)
{
    if (to < 0 || to >= SHIM_FDS)
        return;
    ent_clear(to);
    if (ent(from) == NULL)
        return;
    tab[to] = tab[from];
    tab[to].sf_opts = NULL;
    tab[to].sf_flags |= SF_DUP;
    tab[from].sf_flags |= SF_DUP;
}

SHIM_EXPORT int dup(int fd)
{
    int nfd = R(dup)(fd);

    if (nfd >= 0)
        ent_copy(fd, nfd);
    return nfd;
}

SHIM_EXPORT int dup2(int fd, int nfd)
{
    int r;

    if (fd == nfd)
        return R(dup2)(fd, nfd);
    chan_move_from(nfd);
    ent_drop(nfd);
    r = R(dup2)(fd, nfd);
    if (r >= 0)
        ent_copy(fd, nfd);
    return r;
}

SHIM_EXPORT int dup3(int fd, int nfd, int flags)
{
    int r;

    if (fd != nfd) {
        chan_move_from(nfd);
        ent_drop(nfd);
    }
    r = R(dup3)(fd, nfd, flags);
    if (r >= 0)
        ent_copy(fd, nfd);
    return r;
}

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, va_list ap)
{
    void *arg = va_arg(ap, void *);
    int r = real(fd, cmd, arg);

    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
        ent_copy(fd, r);
    return r;
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    int r;

    va_start(ap, cmd);
    r = fcntl_common(R(fcntl), fd, cmd, ap);
    va_end(ap);
    return r;
}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    int r;

    va_start(ap, cmd);
    resolve_fcntl64();
    r = fcntl_common(real_fcntl64 != NULL ? real_fcntl64 : R(fcntl), fd, cmd, ap);
    va_end(ap);
    return r;
}

SHIM_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    unsigned fd;

    if (!(flags & CLOSE_RANGE_CLOEXEC)) {
        for (fd = first; fd <= last && fd < SHIM_FDS; fd++)
            if (tab[fd].sf_id != 0)
                ent_drop((int)fd);
        if (chan_fd >= 0 && (unsigned)chan_fd >= first && (unsigned)chan_fd <= last) {
            int r = 0;

            if ((unsigned)chan_fd > first)
                r = R(close_range)(first, (unsigned)chan_fd - 1, flags);
            if (r == 0 && (unsigned)chan_fd < last)
                r = R(close_range)((unsigned)chan_fd + 1, last, flags);
            return r;
        }
    }
    return R(close_range)(first, last, flags);
}

SHIM_EXPORT int ioctl(int fd, unsigned long req, ...)
{
    struct shim_fd *e = ent(fd);
    va_list ap;
    void *arg;
    int r;

    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    r = R(ioctl)(fd, req, arg);
    if (r == 0 && e != NULL && e->sf_type == SOCK_DGRAM && req == FIONREAD && arg != NULL) {
        int v;

        memcpy(&v, arg, sizeof(v));
        v = v >= (int)sizeof(struct run_dgram) ? v - (int)sizeof(struct run_dgram) : 0;
        memcpy(arg, &v, sizeof(v));
    }
    return r;
}

/* ---- Data: UDP's header, TCP's names ------------------------------------------------- */

static bool is_dgram(int fd)
{
    return fd >= 0 && fd < SHIM_FDS && tab[fd].sf_id != 0 && tab[fd].sf_type == SOCK_DGRAM;
}

static bool is_stream(int fd)
{
    return fd >= 0 && fd < SHIM_FDS && tab[fd].sf_id != 0 && tab[fd].sf_type == SOCK_STREAM;
}

/* Receives one datagram into iov, its sender into name. */
static ssize_t dg_recv(int fd, const struct iovec *iov, size_t iovlen, int flags,
                       struct sockaddr *name, socklen_t *namelen, int *mflags)
{
    struct iovec v[UIO_MAXIOV];
    struct run_dgram hdr;
    struct msghdr mh;
    ssize_t n;
    size_t i;

    if (iovlen + 1 > UIO_MAXIOV)
        return fail(EMSGSIZE);
    v[0].iov_base = &hdr;
    v[0].iov_len = sizeof(hdr);
    for (i = 0; i < iovlen; i++)
        v[i + 1] = iov[i];
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = v;
    mh.msg_iovlen = iovlen + 1;
    n = R(recvmsg)(fd, &mh, flags & (MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC | MSG_WAITALL));
    if (n < 0)
        return -1;
    if (n == 0)
        return fail(ECONNRESET);  /* the daemon closed it */
    if ((size_t)n < sizeof(hdr))
        return fail(EPROTO);
    if (hdr.dg_flags & RUN_DG_ERROR) {
        /* ICMP news, reported once: a peek takes it too, as Linux clears
         * the socket's error when it reports it. */
        int e = (int)(hdr.dg_flags >> RUN_DG_ERRNO_SHIFT);

        if (flags & MSG_PEEK)
            (void)R(recv)(fd, &hdr, sizeof(hdr), MSG_DONTWAIT);
        return fail(e > 0 ? e : ECONNREFUSED);
    }
    if (mflags != NULL)
        *mflags = mh.msg_flags & MSG_TRUNC;
    run_sa_write(name, namelen, tab[fd].sf_family, &hdr.dg_addr);
    return n - (ssize_t)sizeof(hdr);
}

/* Sends one datagram from iov to name (NULL: the connected peer). */
static ssize_t dg_send(int fd, const struct iovec *iov, size_t iovlen, int flags,
                       const struct sockaddr *name, socklen_t namelen)
{
    struct iovec v[UIO_MAXIOV];
    struct run_dgram hdr;
    struct msghdr mh;
    ssize_t n;
    size_t i;
    int r;

    memset(&hdr, 0, sizeof(hdr));
    r = run_sa_read(name, namelen, tab[fd].sf_family, SOCK_DGRAM, RUN_SA_SENDTO, &hdr.dg_addr);
    if (r < 0)
        return fail(-r);
    /* A V6ONLY socket has no IPv4 route: said now, as Linux does, not
     * lost with the datagram in the daemon. */
    if (r > 0 && (tab[fd].sf_flags & SF_V6ONLY) && run_addr_is_v4(&hdr.dg_addr))
        return fail(ENETUNREACH);
    if (r > 0)
        hdr.dg_flags = RUN_DG_TO;
    if (iovlen + 1 > UIO_MAXIOV)
        return fail(EMSGSIZE);
    v[0].iov_base = &hdr;
    v[0].iov_len = sizeof(hdr);
    for (i = 0; i < iovlen; i++)
        v[i + 1] = iov[i];
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = v;
    mh.msg_iovlen = iovlen + 1;
    n = R(sendmsg)(fd, &mh, (flags & MSG_DONTWAIT) | MSG_NOSIGNAL);
    if (n < 0 && errno == EPIPE)
        return fail(ECONNRESET);
    return n < 0 ? -1 : n - (ssize_t)sizeof(hdr);
}

static void stream_written(int fd)
{
    if (tab[fd].sf_flags & SF_FILL)
        fill_restore(fd, &tab[fd]);
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
    struct iovec v = {.iov_base = buf, .iov_len = len};

    if (is_dgram(fd))
        return dg_recv(fd, &v, 1, 0, NULL, NULL, NULL);
    return R(read)(fd, buf, len);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
    struct iovec v = {.iov_base = (void *)buf, .iov_len = len};

    if (is_dgram(fd))
        return dg_send(fd, &v, 1, 0, NULL, 0);
    if (is_stream(fd))
        stream_written(fd);
    return R(write)(fd, buf, len);
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
    if (is_dgram(fd))
        return n < 0 ? fail(EINVAL) : dg_recv(fd, iov, (size_t)n, 0, NULL, NULL, NULL);
    return R(readv)(fd, iov, n);
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
    if (is_dgram(fd))
        return n < 0 ? fail(EINVAL) : dg_send(fd, iov, (size_t)n, 0, NULL, 0);
    if (is_stream(fd))
        stream_written(fd);
    return R(writev)(fd, iov, n);
}

SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    struct iovec v = {.iov_base = buf, .iov_len = len};

    if (is_dgram(fd))
        return dg_recv(fd, &v, 1, flags, NULL, NULL, NULL);
    return R(recv)(fd, buf, len, flags);
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    struct iovec v = {.iov_base = (void *)buf, .iov_len = len};

    if (is_dgram(fd))
        return dg_send(fd, &v, 1, flags, NULL, 0);
    if (is_stream(fd))
        stream_written(fd);
    return R(send)(fd, buf, len, flags);
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *sa,
                             socklen_t *salen)
{
    struct iovec v = {.iov_base = buf, .iov_len = len};

    if (is_dgram(fd))
        return dg_recv(fd, &v, 1, flags, sa, salen, NULL);
    if (is_stream(fd)) {
        /* TCP gives no address: the pair's would be AF_UNIX's. */
        if (salen != NULL)
            *salen = 0;
        return R(recvfrom)(fd, buf, len, flags, NULL, NULL);
    }
    return R(recvfrom)(fd, buf, len, flags, sa, salen);
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
                           const struct sockaddr *sa, socklen_t salen)
{
    struct iovec v = {.iov_base = (void *)buf, .iov_len = len};

    if (is_dgram(fd))
        return dg_send(fd, &v, 1, flags, sa, salen);
    if (is_stream(fd)) {
        stream_written(fd);
        return R(sendto)(fd, buf, len, flags, NULL, 0);
    }
    return R(sendto)(fd, buf, len, flags, sa, salen);
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *mh, int flags)
{
    if (mh == NULL && ent(fd) != NULL)
        return fail(EFAULT);
    if (is_dgram(fd)) {
        int mf = 0;
        ssize_t n;

        n = dg_recv(fd, mh->msg_iov, mh->msg_iovlen, flags, mh->msg_name,
                    mh->msg_name != NULL ? &mh->msg_namelen : NULL, &mf);
        if (n >= 0) {
            mh->msg_flags = mf;
            mh->msg_controllen = 0;
        }
        return n;
    }
    if (is_stream(fd) && mh != NULL && mh->msg_name != NULL) {
        struct msghdr m2 = *mh;
        ssize_t n;

        m2.msg_name = NULL;
        m2.msg_namelen = 0;
        n = R(recvmsg)(fd, &m2, flags);
        mh->msg_namelen = 0;
        mh->msg_flags = m2.msg_flags;
        mh->msg_controllen = m2.msg_controllen;
        return n;
    }
    return R(recvmsg)(fd, mh, flags);
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *mh, int flags)
{
    if (mh == NULL && ent(fd) != NULL)
        return fail(EFAULT);
    if (is_dgram(fd))  /* as Linux: a name of length 0 is none */
        return dg_send(fd, mh->msg_iov, mh->msg_iovlen, flags,
                       mh->msg_namelen != 0 ? mh->msg_name : NULL, mh->msg_namelen);
    if (is_stream(fd) && mh != NULL && mh->msg_name != NULL) {
        struct msghdr m2 = *mh;

        stream_written(fd);
        m2.msg_name = NULL;
        m2.msg_namelen = 0;
        return R(sendmsg)(fd, &m2, flags);
    }
    if (is_stream(fd))
        stream_written(fd);
    return R(sendmsg)(fd, mh, flags);
}

/* _FORTIFY_SOURCE's checked forms reach the same. */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                       struct sockaddr *sa, socklen_t *salen);
SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
    (void)buflen;
    return read(fd, buf, len);
}

SHIM_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
    (void)buflen;
    return recv(fd, buf, len, flags);
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                                   struct sockaddr *sa, socklen_t *salen)
{
    (void)buflen;
    return recvfrom(fd, buf, len, flags, sa, salen);
}
