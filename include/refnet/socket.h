/*
 * The socket layer: processes and their handles, socket endpoints,
 * asynchronous requests with their completions, and a blocking API on top.
 *
 * Addresses, socket types, flags, readiness bits and socket options are
 * the transports' vocabulary, in transport.h, which this header includes.
 *
 * Where it sits: above the transports (UDP and TCP), which it drives
 * through a protocol ops table (src/transport/transport.h), and below the
 * applications: the built-in services on the loop thread (apps/) and any
 * thread of the host that uses the blocking API.
 *
 * Objects and their holders (DESIGN.md, "Processes, handles, close"):
 *   process "echo"  --handle-->  socket #3  --socket.endpoint-->  udp endpoint
 *   request         --request--> socket #3, and --request--> its process
 * A process owns a handle table of small integers; each handle holds a
 * "handle" reference on its socket.  A socket holds its transport object
 * under "socket.endpoint".  A request in flight holds "request" references
 * on its socket and its process.
 *
 * Closing a handle runs its cleanup: its pending requests complete with
 * RN_ECANCELED, the transport is asked to close (gracefully, or abortively
 * under SO_LINGER 0), and the close completes only once the transport
 * object has been released.  That wait ("close", socket -> transport) and
 * the process's wait for each handle's cleanup ("cleanup", process ->
 * socket) are registered with rn_ob_wait_release(), so the watchdog and
 * `refnet why` show them while they last.
 *
 * Three ways in:
 *   - Immediate calls [L] (rn_sock_open, rn_sock_bind, ...): on the loop
 *     thread, for built-in services; they never block.
 *   - Requests (rn_sock_submit [L] with a callback run on the loop, or
 *     rn_sock_submit_cq [any] with a completion queue whose eventfd another
 *     event loop can watch): send, receive, connect, accept, close, poll.
 *   - The blocking API (rn_socket, rn_recvfrom, ...) [B]: from any thread
 *     EXCEPT the loop thread (asserted), since it waits for the loop.
 *
 * Every function returns 0 (or a count, a handle) on success and a
 * negative refnet code (error.h) on failure; rn_sock_posix() is the one
 * place that turns a code into errno.
 *
 * Legend: [L] loop thread of the process's stack only; [any] any thread;
 * [B] any thread but the loop thread.
 */
#ifndef REFNET_SOCKET_H
#define REFNET_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "refnet/clock.h"
#include "refnet/tcp.h"
#include "refnet/transport.h"

struct rn_stack;

/* ---- Set-up ------------------------------------------------------------------ */

/* [L] Sets up UDP, TCP (with its default parameters) and the socket layer
 * on st, bottom up, each unless already set up; their teardown runs in
 * rn_stack_destroy(), sockets first.  Returns 0, RN_ENOMEM, or RN_ENOSPC
 * (no stack slot left). */
int rn_sock_layer_init(struct rn_stack *st);

/* ---- Processes ------------------------------------------------------------- */

/* A process: an object of type "process" ("process echo (pid 3) 2 handles")
 * that owns a handle table. */
struct rn_proc;

/* The most handles a process may have open by default, and the range
 * rn_sock_set_max_handles() accepts. */
#define RN_PROC_MAX_HANDLES 65536
#define RN_PROC_MAX_HANDLES_MIN 64
#define RN_PROC_MAX_HANDLES_MAX (1 << 22)

/* [L] Sets the most handles each process on st may have open, from now
 * on (handles already open stay).  Returns 0, or RN_EINVAL outside
 * RN_PROC_MAX_HANDLES_MIN..RN_PROC_MAX_HANDLES_MAX or if the socket layer
 * is not initialised on st. */
int rn_sock_set_max_handles(struct rn_stack *st, unsigned max);
/* [any] The most handles each process on st may have open. */
unsigned rn_sock_max_handles(struct rn_stack *st);

/* [any] Creates a process on st named name (at most 31 characters kept).
 * Returns 0 and sets *out, holding the creator's reference, or RN_ENOMEM,
 * or RN_EINVAL if the transports were not initialised on st
 * (rn_sock_layer_init()). */
int rn_proc_create(struct rn_stack *st, const char *name, struct rn_proc **out);

/* [any] Begins the process's exit: every handle runs its cleanup, and the
 * process stays "terminating" until every cleanup completed, then is
 * killed.  Consumes the creator's reference: the caller must not use p
 * afterwards unless it holds a reference of its own, e.g. to wait for its
 * release with rn_ob_wait_release().  No other call on p may start after
 * this one.  Calling it twice is a programmer error (asserted). */
void rn_proc_exit(struct rn_proc *p);

/* The longest owner string of a process, with its NUL. */
#define RN_PROC_OWNER_MAX 48

/* [any] Says who runs p, for listings: "service httpd".  Set once (a
 * second call answers RN_EBUSY and changes nothing); RN_EINVAL for an
 * empty string or one of RN_PROC_OWNER_MAX bytes or more.  Returns 0. */
int rn_proc_set_owner(struct rn_proc *p, const char *owner);
/* [any] The owner string, "" if none was set. */
const char *rn_proc_owner(const struct rn_proc *p);

/* [any] Says that p stands for a process of the host: its pid is then
 * pid (listings, chains and dumps show it in place of refnet's own
 * number).  Returns 0, or RN_EINVAL for pid 0. */
int rn_proc_set_pid(struct rn_proc *p, uint32_t pid);
/* [any] Records how the host process p stands for ended: status as
 * waitpid(2) reports it (exit code << 8, or the signal), -1 for not
 * known.  Listings show it ("exited 0", "killed by signal 9"), so that a
 * process whose cleanups cannot complete is named with its real end. */
void rn_proc_set_exit_status(struct rn_proc *p, int status);
/* [any] The status recorded by rn_proc_set_exit_status(), -1 if none. */
int rn_proc_exit_status(const struct rn_proc *p);

/* [any] Queries.  rn_proc_pid(): refnet's own number, or the host's pid
 * given by rn_proc_set_pid(). */
uint32_t rn_proc_pid(const struct rn_proc *p);
const char *rn_proc_name(const struct rn_proc *p);
struct rn_stack *rn_proc_stack(const struct rn_proc *p);
/* Handles open or still cleaning up. */
unsigned rn_proc_handles(const struct rn_proc *p);

/* ---- Immediate calls on the loop thread [L] -------------------------------- */

/* Opens a socket of type (RN_SOCK_STREAM or RN_SOCK_DGRAM, or'ed with
 * RN_SOCK_NONBLOCK for a non-blocking handle) with protocol proto (0: the
 * type's default) and returns its handle (>= 1), the lowest free, or, as
 * Linux answers: RN_EINVAL (an unknown type), RN_EPROTONOSUPPORT (a
 * protocol the type does not carry); RN_EMFILE, RN_ENOMEM, RN_ESHUTDOWN
 * (the process is exiting). */
int rn_sock_open(struct rn_proc *p, int type, int proto);
/* Binds to a local address; port 0 picks an ephemeral port (UDP at once,
 * TCP at listen or connect).  Returns 0, RN_EBADF, RN_EINVAL (already
 * bound), RN_EADDRINUSE, RN_EADDRNOTAVAIL. */
int rn_sock_bind(struct rn_proc *p, int h, const struct rn_sockaddr_in *addr);
/* Stream sockets: starts listening with a backlog for each of the SYN and
 * accept queues.  UDP: RN_EOPNOTSUPP. */
int rn_sock_listen(struct rn_proc *p, int h, int backlog);
/* Shuts down one or both directions; pending receives complete with 0
 * (end of data) after RN_SHUT_RD. */
int rn_sock_shutdown(struct rn_proc *p, int h, int how);
int rn_sock_setopt(struct rn_proc *p, int h, enum rn_sockopt opt, int64_t val);
int rn_sock_getopt(struct rn_proc *p, int h, enum rn_sockopt opt, int64_t *val);
/* String options (RN_TCP_CONGESTION; rn_sock_setopt() and
 * rn_sock_getopt() answer RN_EINVAL for them, and these RN_EINVAL for
 * any other option).  rn_sock_setopt_str() sets the option to the
 * NUL-terminated val and returns 0, or as Linux answers setsockopt(2):
 * RN_ENOENT (no algorithm of that name), RN_ENOPROTOOPT (a datagram
 * socket), RN_EBADF.  On a connection the new algorithm takes over at
 * once, with the congestion window as it is; on a listener, the
 * connections it accepts from then on get it.  rn_sock_getopt_str() writes
 * the value into buf, at most len bytes with its NUL (cut short if
 * longer), and returns 0, or RN_EINVAL (len 0), RN_EOPNOTSUPP (a datagram
 * socket), RN_EBADF. */
int rn_sock_setopt_str(struct rn_proc *p, int h, enum rn_sockopt opt, const char *val);
int rn_sock_getopt_str(struct rn_proc *p, int h, enum rn_sockopt opt, char *buf, size_t len);
/* Local and remote addresses (either may be NULL); the remote is 0:0 when
 * not connected. */
int rn_sock_getname(struct rn_proc *p, int h, struct rn_sockaddr_in *local,
                    struct rn_sockaddr_in *remote);
/* Gives process to a handle of its own on the socket behind from's handle
 * h, as fork(2) gives a child a descriptor of its own on each of its
 * parent's open files: each handle holds its own "handle" reference, a
 * close of one (rn_close(), or its process's exit) lets that handle go
 * alone, and the socket closes with the last.  The new handle is the
 * lowest free in to and starts with h's flags (RN_O_NONBLOCK); from may
 * be to (a second handle, as dup(2)).  Returns the new handle, or
 * RN_EBADF (h is not an open socket handle of from), RN_EINVAL (to is on
 * another stack), RN_ESHUTDOWN (to is exiting), RN_EMFILE, RN_ENOMEM. */
int rn_sock_share(struct rn_proc *from, int h, struct rn_proc *to);
/* Returns the readiness of a handle (RN_POLL*), RN_POLLNVAL if it is not
 * an open handle. */
unsigned rn_sock_ready(struct rn_proc *p, int h);

/* ---- Non-blocking handles and ioctls ---------------------------------------
 *
 * A handle is blocking unless opened with RN_SOCK_NONBLOCK in its type (or
 * accepted with it in an accept's flags), or set so with RN_F_SETFL.  On a
 * non-blocking handle every operation that would wait answers instead, as
 * on Linux: a receive, send or accept with RN_EAGAIN, a TCP connect with
 * RN_EINPROGRESS (the connection goes on: the handle turns writable once it
 * is up, and RN_SO_ERROR then says whether it failed; connecting again
 * answers RN_EALREADY while it goes on and RN_EISCONN once it is up).  It
 * applies to the blocking API and to requests alike, as RN_MSG_DONTWAIT
 * does to one request.
 */

/* fcntl(2)'s commands and flags, with Linux's values. */
#define RN_F_GETFL 3        /* returns RN_O_RDWR | RN_O_NONBLOCK if set */
#define RN_F_SETFL 4        /* sets RN_O_NONBLOCK from arg; other bits ignored */
#define RN_O_RDWR 02
#define RN_O_NONBLOCK RN_SOCK_NONBLOCK

/* ioctl(2)'s requests for sockets, with Linux's values. */
#define RN_FIONREAD 0x541bUL  /* bytes a receive would find now (a datagram's size) */
#define RN_SIOCOUTQ 0x5411UL  /* bytes sent and not yet acknowledged */

/* [L] fcntl(2) on a handle, a socket's or a readiness set's: RN_F_GETFL
 * returns the flags, RN_F_SETFL returns 0.  RN_EBADF for a handle that is
 * not open, RN_EINVAL for another command. */
int rn_sock_fcntl(struct rn_proc *p, int h, int cmd, int arg);
/* [L] ioctl(2) on a handle: stores the answer in *val.  Returns 0,
 * RN_EBADF, RN_EINVAL (a listener, as Linux answers) or RN_ENOTTY (not a
 * socket request: RN_FIONREAD and RN_SIOCOUTQ are known). */
int rn_sock_ioctl(struct rn_proc *p, int h, unsigned long req, int *val);
/* [L] TCP_INFO: what the stream socket h's connection knows about itself
 * (refnet/tcp.h), into *out; a listening or unconnected socket gets its
 * state alone.  Returns 0, RN_EBADF, or RN_EOPNOTSUPP for a datagram
 * socket (as Linux answers TCP_INFO there). */
int rn_sock_tcp_info(struct rn_proc *p, int h, struct rn_tcp_info *out);

/* ---- Owners ---------------------------------------------------------------- */

/* Who owns a transport object: the socket above it and that socket's
 * process. */
struct rn_sock_owner {
    uint64_t ow_sock;          /* the socket's object id */
    int ow_handle;             /* its handle in the process (the number it
                                  had, once closing: free again by then) */
    bool ow_closing;           /* its close began (it waits for the object) */
    uint64_t ow_proc;          /* the process's object id */
    uint32_t ow_pid;           /* its pid */
    char ow_proc_name[32];     /* its name */
    char ow_owner[RN_PROC_OWNER_MAX]; /* rn_proc_owner(): "service httpd", or "" */
};

/* [L] Finds the owner of ob, a transport object ("tcp listener", "tcp
 * connection", "udp endpoint") the caller holds a reference on: the socket
 * that holds it, or held it and waits for its release (closing), or for
 * a connection waiting in a listener's accept queue, the listener's
 * socket.  Returns 0 and fills *out, or RN_ENOENT (no socket: a TIME_WAIT
 * entry, an object made without the socket layer, or not a transport
 * object), with *out zeroed. */
int rn_sock_owner_of(const void *ob, struct rn_sock_owner *out);

/* ---- Requests -------------------------------------------------------------- */

enum rn_sock_op {
    RN_SOP_SEND = 1,  /* send sq_len bytes of sq_buf (to sq_to if set) */
    RN_SOP_RECV,      /* receive up to sq_len bytes into sq_buf */
    RN_SOP_CONNECT,   /* connect to *sq_to (UDP: set the default peer) */
    RN_SOP_ACCEPT,    /* accept a connection: result is the new handle */
    RN_SOP_CLOSE,     /* close the handle: completes at once, as rn_close() returns */
    RN_SOP_POLL,      /* wait until one of sq_fds is ready */
    RN_SOP_RSET_WAIT, /* wait on the readiness set sq_handle (readiness.h): sq_buf
                         gets up to sq_len bytes of struct rn_rset_event */
    RN_SOP_COUNT_
};

/* One entry of a poll request. */
struct rn_pollfd {
    int pf_handle;        /* handle to watch */
    unsigned pf_events;   /* RN_POLLIN | RN_POLLOUT wanted */
    unsigned pf_revents;  /* filled: what is ready (ERR, HUP, NVAL always) */
};

/* A request as submitted.  The layer copies it (and *sq_to); sq_buf and
 * sq_fds must stay valid until the completion. */
struct rn_sock_req {
    enum rn_sock_op sq_op;
    int sq_handle;                     /* the socket (ignored by POLL) */
    void *sq_buf;                      /* SEND: data; RECV: where to put it */
    size_t sq_len;                     /* bytes */
    const struct rn_sockaddr_in *sq_to; /* SEND: destination or NULL; CONNECT: peer */
    uint32_t sq_flags;                 /* RN_MSG_* (transport.h); ACCEPT:
                                          RN_SOCK_NONBLOCK for the new handle */
    rn_time_t sq_timeout;              /* > 0: give up after this long on the
                                          stack's clock: RN_EAGAIN, or for POLL
                                          and RSET_WAIT 0 ready entries; 0: no
                                          limit.  A stream send that gives up
                                          may have queued part of its data:
                                          abort the connection then */
    struct rn_pollfd *sq_fds;          /* POLL: entries */
    unsigned sq_nfds;                  /* POLL: how many */
    bool sq_poll_now;                  /* POLL, RSET_WAIT: report readiness now,
                                          never wait */
    void *sq_user;                     /* handed back in the completion */
};

/* What a request came to. */
struct rn_sock_completion {
    void *sc_user;                  /* sq_user */
    enum rn_sock_op sc_op;          /* sq_op */
    int sc_handle;                  /* sq_handle */
    ssize_t sc_result;              /* >= 0: bytes (SEND, RECV), new handle
                                       (ACCEPT), ready entries (POLL), events
                                       (RSET_WAIT), 0 (CONNECT,
                                       CLOSE); or a negative code: RN_ECANCELED
                                       when its handle was closed, RN_EAGAIN
                                       on timeout or with RN_MSG_DONTWAIT,
                                       RN_EBADF, RN_ECONNREFUSED, ... */
    struct rn_sockaddr_in sc_addr;  /* RECV: the sender; ACCEPT: the peer */
    uint32_t sc_flags;              /* RN_MSG_TRUNC */
};

/* Called on the loop thread with the request's completion; never from
 * inside rn_sock_submit() itself.  May submit new requests. */
typedef void (*rn_sock_done_fn)(struct rn_proc *p, const struct rn_sock_completion *c);

/* [L] Submits a request whose completion is delivered to fn on the loop
 * thread.  Returns 0, and then exactly one completion follows; or
 * RN_EINVAL (malformed request) or RN_ENOMEM, and no completion. */
int rn_sock_submit(struct rn_proc *p, const struct rn_sock_req *rq, rn_sock_done_fn fn);

/* A completion queue: completions of requests submitted from any thread,
 * collected for the submitter's own event loop, which watches
 * rn_cq_fd() (an eventfd, readable while completions wait). */
struct rn_cq;

/* [any] Creates a queue.  Returns 0 and sets *out, or RN_ENOMEM, or RN_EIO
 * if no eventfd could be made. */
int rn_cq_create(struct rn_cq **out);
/* [any] Destroys an empty queue: RN_EBUSY, changing nothing, while
 * requests submitted to it are still in flight.  Completions not yet
 * reaped are discarded. */
int rn_cq_destroy(struct rn_cq *cq);
/* [any] The eventfd to watch for readability. */
int rn_cq_fd(const struct rn_cq *cq);
/* [any] Submits a request whose completion goes to cq.  Returns as
 * rn_sock_submit(). */
int rn_sock_submit_cq(struct rn_proc *p, const struct rn_sock_req *rq, struct rn_cq *cq);
/* [any] Takes up to max completions, oldest first, without waiting.
 * Returns how many. */
unsigned rn_cq_reap(struct rn_cq *cq, struct rn_sock_completion *out, unsigned max);
/* [B] Like rn_cq_reap(), but waits up to timeout_ms (-1: forever) for the
 * first completion.  May return 0 early. */
unsigned rn_cq_wait(struct rn_cq *cq, struct rn_sock_completion *out, unsigned max,
                    int timeout_ms);
/* [any] Requests submitted to cq and not yet completed. */
unsigned rn_cq_inflight(const struct rn_cq *cq);

/* ---- The blocking API [B] ------------------------------------------------- */
/* Each posts its work to the loop and waits for it.  Receives and accepts
 * honour SO_RCVTIMEO, sends and connects SO_SNDTIMEO (RN_EAGAIN when they
 * run out), measured on the stack's clock. */

/* Each returns 0 (rn_socket: the new handle) or a negative code, the
 * same as their immediate counterparts above (rn_sock_open() ...);
 * rn_connect() returns once connected, or with the reason it failed
 * (RN_ECONNREFUSED, RN_ETIMEDOUT ...). */
int rn_socket(struct rn_proc *p, int type, int proto);
int rn_bind(struct rn_proc *p, int h, const struct rn_sockaddr_in *addr);
int rn_listen(struct rn_proc *p, int h, int backlog);
int rn_connect(struct rn_proc *p, int h, const struct rn_sockaddr_in *addr);
/* Returns the new handle; *peer (may be NULL) is the peer's address. */
int rn_accept(struct rn_proc *p, int h, struct rn_sockaddr_in *peer);
/* Accepts as rn_accept(); flags may hold RN_SOCK_NONBLOCK, which makes
 * the new handle non-blocking (accept4(2)); other bits: RN_EINVAL. */
int rn_accept4(struct rn_proc *p, int h, struct rn_sockaddr_in *peer, int flags);
/* fcntl(2) and ioctl(2), as rn_sock_fcntl() and rn_sock_ioctl() answer
 * them. */
int rn_fcntl(struct rn_proc *p, int h, int cmd, int arg);
int rn_ioctl(struct rn_proc *p, int h, unsigned long req, int *val);
/* Return bytes sent. */
ssize_t rn_sendto(struct rn_proc *p, int h, const void *buf, size_t len, uint32_t flags,
                  const struct rn_sockaddr_in *to);
ssize_t rn_send(struct rn_proc *p, int h, const void *buf, size_t len, uint32_t flags);
/* Return bytes received (a datagram longer than len is cut to len and the
 * rest discarded, as POSIX does); *from (may be NULL) is the sender. */
ssize_t rn_recvfrom(struct rn_proc *p, int h, void *buf, size_t len, uint32_t flags,
                    struct rn_sockaddr_in *from);
ssize_t rn_recv(struct rn_proc *p, int h, void *buf, size_t len, uint32_t flags);
int rn_shutdown(struct rn_proc *p, int h, int how);
/* Closes the handle and returns at once, as close(2) does: the handle's
 * number is free, and the graceful close goes on in the background, the
 * socket its process's in state "close pending" until its transport object
 * is released (a process's exit waits for it, and `refnet why` shows it
 * meanwhile).  Under SO_LINGER > 0 it waits until everything sent was
 * acknowledged, at most that many seconds, then aborts the connection;
 * under SO_LINGER 0 it aborts at once (a RST).  RN_ENOMEM: no memory for
 * the close's record, and the handle stays open (close it again later). */
int rn_close(struct rn_proc *p, int h);
/* Waits up to timeout_ms (-1: forever, 0: not at all) until one of fds is
 * ready; fills pf_revents.  Returns the number of ready entries, 0 on
 * timeout. */
int rn_poll(struct rn_proc *p, struct rn_pollfd *fds, unsigned nfds, int timeout_ms);
/* Options and names, as rn_sock_setopt(), rn_sock_getopt() and
 * rn_sock_getname() answer them on the loop thread.  Return 0 or a
 * negative code (RN_ENOTCONN for the peer of an unconnected socket). */
int rn_setsockopt(struct rn_proc *p, int h, enum rn_sockopt opt, int64_t val);
int rn_getsockopt(struct rn_proc *p, int h, enum rn_sockopt opt, int64_t *val);
/* String options from any thread but the loop, as rn_sock_setopt_str()
 * and rn_sock_getopt_str() answer them (RN_EINVAL for a NULL val or buf). */
int rn_setsockopt_str(struct rn_proc *p, int h, enum rn_sockopt opt, const char *val);
int rn_getsockopt_str(struct rn_proc *p, int h, enum rn_sockopt opt, char *buf, size_t len);
/* TCP_INFO from any thread but the loop, as rn_sock_tcp_info() answers. */
int rn_tcp_info(struct rn_proc *p, int h, struct rn_tcp_info *out);
int rn_getsockname(struct rn_proc *p, int h, struct rn_sockaddr_in *local);
int rn_getpeername(struct rn_proc *p, int h, struct rn_sockaddr_in *remote);

/* The one place where refnet codes become errno: returns rc if rc >= 0,
 * else sets errno to the code's POSIX value and returns -1.  For a
 * POSIX-like face: `n = rn_sock_posix(rn_recv(p, h, buf, len, 0));`. */
ssize_t rn_sock_posix(ssize_t rc);

#endif /* REFNET_SOCKET_H */
