/*
 * sockdiff: the differential test of refnet's socket semantics against
 * Linux's (tests/net/test_diff.sh runs it).
 *
 * Each case is one function written once against a small table of socket
 * functions (struct sockapi) in POSIX terms: sockaddr_in, SOCK_*, MSG_*,
 * POLL*, errno.  It runs twice at the same time, each run in a thread of
 * its own:
 *   - "linux": the table is the kernel's own calls, on sockets made in the
 *     subject namespace, which reaches the peer namespace over a veth pair;
 *   - "refnet": the table calls refnet's blocking API (rn_socket, ...) on a
 *     stack in this program, on the TAP device rn0 of the peer namespace,
 *     with its real-time loop on a thread of its own (as
 *     examples/echo-server does); codes become errno through
 *     rn_sock_posix().
 * In both runs the peer is Linux: the case drives it with kernel sockets
 * made in the peer namespace (or in the remote one, behind it, for a peer
 * that goes silent).
 *
 * Every call a case makes, the subject's and the peer's, is recorded as a
 * line of text with addresses, ports and handles named the same way in both
 * runs ("peer:20001", "s1"); the two logs are then compared line by line.
 * Durations are recorded with the tolerance the case gives.
 *
 * Addresses (198.18.0.0/15 only; the runs use different ones so that they
 * can run at once):
 *                   refnet run      linux run
 *   self            198.18.0.2      198.18.1.2    the socket under test
 *   peer            198.18.0.1      198.18.1.1    the peer namespace
 *   silent          198.18.2.1      198.18.2.2    routed by the peer into a blackhole
 *   remote          198.18.3.1      198.18.3.2    a namespace behind the peer;
 *                                                 silence() blackholes it
 *   nohost          198.18.0.9      198.18.1.9    on the link, nobody answers ARP
 *   netbcast        198.18.0.255    198.18.1.255  the link's broadcast address
 */
#ifndef SOCKDIFF_H
#define SOCKDIFF_H

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct run;

/* An errno no call returns: the refnet API has no way to say this (an
 * address family, an option length).  The run's r_notexpr says what. */
#define E_NOTEXPR 4095

/* ---- The table of socket functions ---------------------------------------- */

/* Each returns as the POSIX call does: the result, or -1 with errno set. */
struct sockapi {
    const char *sa_name;
    int (*sa_socket)(struct run *r, int domain, int type, int proto);
    int (*sa_bind)(struct run *r, int fd, const struct sockaddr *sa, socklen_t len);
    int (*sa_listen)(struct run *r, int fd, int backlog);
    int (*sa_connect)(struct run *r, int fd, const struct sockaddr *sa, socklen_t len);
    int (*sa_accept4)(struct run *r, int fd, struct sockaddr_in *peer, int flags);
    ssize_t (*sa_sendto)(struct run *r, int fd, const void *buf, size_t len, int flags,
                         const struct sockaddr_in *to);
    /* *mflags: the flags recvmsg() would return (MSG_TRUNC). */
    ssize_t (*sa_recvfrom)(struct run *r, int fd, void *buf, size_t len, int flags,
                           struct sockaddr_in *from, int *mflags);
    int (*sa_shutdown)(struct run *r, int fd, int how);
    int (*sa_close)(struct run *r, int fd);
    int (*sa_setsockopt)(struct run *r, int fd, int level, int name, const void *val,
                         socklen_t len);
    int (*sa_getsockopt)(struct run *r, int fd, int level, int name, void *val,
                         socklen_t *len);
    int (*sa_getsockname)(struct run *r, int fd, struct sockaddr_in *sa);
    int (*sa_getpeername)(struct run *r, int fd, struct sockaddr_in *sa);
    int (*sa_poll)(struct run *r, struct pollfd *fds, nfds_t n, int timeout_ms);
    int (*sa_fcntl)(struct run *r, int fd, int cmd, int arg);
    /* FIONREAD, SIOCOUTQ: *val is the answer. */
    int (*sa_ioctl)(struct run *r, int fd, unsigned long req, int *val);
    /* Ends what the run still has open, abortively, from another thread
     * if need be: wakes a call blocked in it. */
    void (*sa_abort)(struct run *r, int fd);
};

extern const struct sockapi sockapi_linux;
extern const struct sockapi sockapi_refnet;

/* ---- Features refnet may not have yet --------------------------------------- */

enum feature {
    F_NONE = 0,
    F_NONBLOCK,      /* non-blocking handles: RN_SOCK_NONBLOCK and an fcntl-like call */
    F_ACCEPT4,       /* accept with flags (SOCK_NONBLOCK) */
    F_PEEK,          /* MSG_PEEK on stream sockets */
    F_WAITALL,       /* MSG_WAITALL */
    F_CLOSE_NOW,     /* close that returns at once (the FIN exchange goes on) */
    F_LINGER_TIME,   /* SO_LINGER with a time bound */
    F_IOCTL,         /* FIONREAD and SIOCOUTQ through an ioctl-like call */
    F_SOERROR,       /* SO_ERROR as an errno value */
    F_ACCEPTCONN,    /* SO_ACCEPTCONN */
    F_RCVLOWAT,      /* SO_RCVLOWAT */
    F_RDHUP,         /* POLLRDHUP */
    F_REUSEADDR,     /* SO_REUSEADDR */
    F_REUSEPORT,     /* SO_REUSEPORT */
    F_MAXSEG,        /* TCP_MAXSEG */
    F_CORK,          /* TCP_CORK and MSG_MORE */
    F_KEEPALIVE,     /* TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT */
    F_USER_TIMEOUT,  /* TCP_USER_TIMEOUT */
    F_BUFSIZE,       /* SO_RCVBUF and SO_SNDBUF enforced */
    F_TOS_TTL,       /* IP_TOS and IP_TTL */
    F_BROADCAST,     /* SO_BROADCAST and its permission check */
    F_BIND_PORT0,    /* a TCP bind to port 0 picks the port at bind */
    F_SYNCNT,        /* TCP_SYNCNT */
    F_CONGESTION,    /* TCP_CONGESTION by name */
    F_COUNT_
};

/* Whether main has it, and its name for PENDING lines. */
struct feature_info {
    const char *fi_name;
    bool fi_in_main;
};
extern const struct feature_info features[F_COUNT_];

static inline bool have(enum feature f)
{
    return features[f].fi_in_main;
}

/* A set of features: what a case needs. */
#define N(f) (1u << (f))

/* ---- Cases ------------------------------------------------------------------ */

struct diffcase {
    const char *dc_name;     /* what it checks: "tcp.connect.refused" */
    const char *dc_ref;      /* the RFC or POSIX clause, or NULL */
    unsigned dc_needs;       /* what refnet must have first: N(F_...) | ..., or 0 */
    unsigned dc_timeout_s;   /* its bound; 0: the default */
    void (*dc_fn)(struct run *r);
};

/* The case tables, each ended by an entry with a NULL name. */
extern const struct diffcase cases_tcp[];
extern const struct diffcase cases_udp[];
extern const struct diffcase cases_args[];
extern const struct diffcase cases_opts[];

/* ---- A run: one case on one side ------------------------------------------- */

enum side { SIDE_LINUX, SIDE_REFNET, SIDE_COUNT };

/* Named addresses of a run. */
enum where { A_ANY, A_SELF, A_PEER, A_SILENT, A_REMOTE, A_NOHOST, A_NETBCAST, A_BCAST,
             A_OTHER, A_COUNT_ };

/* One line of a log. */
struct entry {
    char e_text[200];
    int64_t e_ms;     /* a duration, with e_tol >= 0 */
    int64_t e_tol;    /* tolerance of e_ms, ms; -1: not a duration */
};

#define RUN_MAX_FDS 64
#define RUN_MAX_LOG 400

/* A socket the run made: its label in the log. */
struct runfd {
    int rf_fd;
    bool rf_peer;      /* a kernel socket of the peer (or remote) */
    bool rf_open;
    char rf_label[8];  /* "s1", "p2" */
};

struct run {
    enum side r_side;
    const struct sockapi *r_api;
    const struct diffcase *r_case;
    uint32_t r_addr[A_COUNT_];  /* host order */
    uint16_t r_port_base;       /* the case's ports: PORT(0..19) */
    int r_ns_home;              /* the namespace the subject's sockets live in */
    /* The log. */
    struct entry r_log[RUN_MAX_LOG];
    unsigned r_nlog;
    bool r_overflow;
    bool r_quiet;               /* calls are made but not recorded */
    /* Sockets, subject's and peer's. */
    pthread_mutex_t r_lock;
    struct runfd r_fds[RUN_MAX_FDS];
    unsigned r_nfds;
    unsigned r_nsub, r_npeer;
    bool r_silenced;            /* its remote address is blackholed */
    atomic_bool r_aborted;      /* the watchdog ended it */
    const char *r_notexpr;      /* what E_NOTEXPR stood for */
    char r_buf[1 << 18];        /* the last data received */
    /* refnet's side. */
    struct rn_proc *r_proc;
    struct rn_cq *r_cq;         /* closes in flight (until close returns at once) */
    char r_fail[200];           /* a failure of the harness itself, or "" */
    pthread_t r_helpers[4];     /* P_send_later()'s threads, joined at the end */
    unsigned r_nhelpers;
};

#define PORT(k) ((uint16_t)(r->r_port_base + (k)))

/* ---- Recorded calls: the subject's (S_) and the peer's (P_) -------------- */

int S_socket(struct run *r, int type);
int S_socket3(struct run *r, int domain, int type, int proto);
int S_bind(struct run *r, int s, enum where w, uint16_t port);
int S_bind_raw(struct run *r, int s, const void *sa, socklen_t len, const char *what);
int S_listen(struct run *r, int s, int backlog);
int S_connect(struct run *r, int s, enum where w, uint16_t port);
int S_connect_raw(struct run *r, int s, const void *sa, socklen_t len, const char *what);
int S_accept(struct run *r, int s);
int S_accept4(struct run *r, int s, int flags);
ssize_t S_send(struct run *r, int s, const void *buf, size_t len, int flags);
ssize_t S_sendto(struct run *r, int s, const void *buf, size_t len, int flags, enum where w,
                 uint16_t port);
ssize_t S_recv(struct run *r, int s, size_t len, int flags);
ssize_t S_recvfrom(struct run *r, int s, size_t len, int flags);
/* A receive that also records the flags recvmsg() returns (MSG_TRUNC). */
ssize_t S_recvmsg(struct run *r, int s, size_t len, int flags);
int S_shutdown(struct run *r, int s, int how);
int S_close(struct run *r, int s);
int S_setint(struct run *r, int s, int level, int name, int val);
int S_getint(struct run *r, int s, int level, int name);  /* the value, or -1 */
int S_setopt_raw(struct run *r, int s, int level, int name, const void *val, socklen_t len,
                 const char *what);
/* A string option (TCP_CONGESTION): set to val (its length, no NUL), and
 * read into a buffer of len bytes, recording the bytes and the length
 * given back. */
int S_setstr(struct run *r, int s, int level, int name, const char *val);
int S_getstr(struct run *r, int s, int level, int name, socklen_t len);
int S_linger(struct run *r, int s, int onoff, int secs);
int S_get_linger(struct run *r, int s);
int S_timeo(struct run *r, int s, int name, long ms);
int S_get_timeo(struct run *r, int s, int name);
int S_sockname(struct run *r, int s);
int S_peername(struct run *r, int s);
/* Polls s for events up to timeout_ms: records and returns revents. */
int S_poll(struct run *r, int s, short events, int timeout_ms);
/* Polls until one of want is in revents or timeout_ms passed. */
int S_poll_until(struct run *r, int s, short events, short want, int timeout_ms);
int S_poll2(struct run *r, int s1, int s2, short events, int timeout_ms);
int S_nonblock(struct run *r, int s, bool on);
int S_getfl(struct run *r, int s);
int S_ioctl(struct run *r, int s, unsigned long req);

/* A subject socket connected to a peer listener on PORT(k); *pp is the
 * peer's accepted socket. */
int S_connected(struct run *r, int k, int *pp);
/* The same to a listener of the remote namespace (which can go silent). */
int S_connected_remote(struct run *r, int k, int *pp);
/* A subject listener on self:PORT(k) with one connection from the peer
 * (bound to PORT(k + 1)) accepted: returns the accepted socket. */
int S_accepted(struct run *r, int k, int *lp, int *pp);

/* Sends chunks with MSG_DONTWAIT until EAGAIN (or max bytes); records only
 * whether it got there.  Returns the bytes sent. */
size_t S_fill(struct run *r, int s, size_t max);

/* The peer: kernel sockets in the peer namespace (P_) or the remote one
 * (R_). */
int P_listen(struct run *r, uint16_t port);
int R_listen(struct run *r, uint16_t port);
int P_accept(struct run *r, int l, int timeout_ms);
/* Connects from the peer to the subject; bound to port bport if not 0. */
int P_connect(struct run *r, enum where w, uint16_t port, uint16_t bport, int timeout_ms);
ssize_t P_send(struct run *r, int p, const void *buf, size_t len);
/* Sends len bytes of buf (kept by the caller) after ms, from a thread of
 * its own: for a subject blocked meanwhile.  Recorded now, as planned. */
void P_send_later(struct run *r, int p, const void *buf, size_t len, int ms);
/* Waits up to timeout_ms for something to read, then reads up to len. */
ssize_t P_recv(struct run *r, int p, size_t len, int timeout_ms);
/* Reads until the end or len bytes or timeout_ms; records count and hash. */
ssize_t P_recv_all(struct run *r, int p, size_t len, int timeout_ms);
int P_shutdown(struct run *r, int p, int how);
int P_close(struct run *r, int p);
int P_reset(struct run *r, int p);  /* SO_LINGER 0, then close: an RST */
int P_udp(struct run *r, enum where w, uint16_t port);
ssize_t P_sendto(struct run *r, int p, const void *buf, size_t len, enum where w,
                 uint16_t port);
ssize_t P_recvfrom(struct run *r, int p, size_t len, int timeout_ms);
/* Receives a datagram with IP_RECVTTL / IP_RECVTOS on: records them. */
ssize_t P_recv_ttl_tos(struct run *r, int p, int timeout_ms);
int P_getint(struct run *r, int p, int level, int name);
void P_setint(struct run *r, int p, int level, int name, int val);

/* The remote address of the run stops answering (the peer routes it into
 * a blackhole), or answers again. */
void silence(struct run *r);
void unsilence(struct run *r);

/* Notes and durations. */
void note(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void duration(struct run *r, const char *what, int64_t ms, int64_t tol);
int64_t now_ms(void);
void sleep_ms(int ms);
void fd_hold(struct run *r);     /* keeps other threads from making fds */
void fd_release(struct run *r);
const char *errname(int e);

/* The harness: runs.c. */
int ns_socket(struct run *r, int ns, int domain, int type, int proto);
extern int ns_peer, ns_subject, ns_remote;
void run_track(struct run *r, int fd, bool peer);
const char *run_label(struct run *r, int fd, bool peer, char *buf, size_t len);
void run_untrack(struct run *r, int fd, bool peer);
void harness_fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* refnet's side: api_refnet.c. */
int refnet_start(const char *tap, char *why, size_t len);
int refnet_stop(void);
int refnet_run_begin(struct run *r);
void refnet_run_end(struct run *r);
void linux_run_end(struct run *r);
int blackhole(uint32_t addr, bool add);

#endif /* SOCKDIFF_H */
