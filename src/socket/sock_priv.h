/*
 * Socket layer internals shared by src/socket/: the per-stack state,
 * processes and their handle slots, socket endpoints, requests and
 * completion queues.
 *
 * Who holds whom (tags in quotes):
 *   process  <-"request"-  request  -"request"->  socket
 *   slot of the process's handle table  -"handle"->  socket
 *   socket  -"socket.endpoint"->  transport object ("udp endpoint")
 *   slot  -"handle"->  readiness set  -"readiness-set"->  each socket in it
 * Waits (rn_ob_wait_release, seen by the watchdog):
 *   socket  waits "close"   for its transport object, during close;
 *   process waits "cleanup" for the socket, from close start to release.
 *
 * Legend: [L] loop thread only; [I] immutable after creation; [A] atomic,
 * readable from any thread (describe routines); [Q] under the completion
 * queue's lock.
 */
#ifndef REFNET_SOCKET_SOCK_PRIV_H
#define REFNET_SOCKET_SOCK_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/net.h"
#include "refnet/object.h"
#include "refnet/socket.h"
#include "refnet/stack.h"
#include "refnet/timer.h"
#include "transport/ep_names.h"
#include "transport/transport.h"

/* The socket layer on one stack (in the socket layer's stack slot). */
struct sock_layer {
    struct rn_stack *sl_stack;       /* [I] */
    _Atomic uintptr_t sl_loop;       /* [A] mark of the thread that ran the
                                        layer's loop-side code last, 0 before */
    _Atomic uint32_t sl_nsockets;    /* [A] sockets not yet released */
    _Atomic uint32_t sl_nprocs;      /* [A] processes not yet released */
    bool sl_fini;                    /* [L] the stack is being destroyed */
    _Atomic unsigned sl_max_handles; /* [A] handles a process may have open */
    struct sock_closing *sl_rec_free; /* [L] close records kept for reuse, by
                                         sc_next */
    unsigned sl_nrec_free;           /* [L] <= SOCK_REC_KEEP */
};

/* Object types and tags of the layer, registered once. */
struct sock_types {
    struct rn_ob_type *st_proc;
    struct rn_ob_type *st_sock;
    struct rn_ob_type *st_req;
    struct rn_ob_type *st_rset;  /* "readiness set" (rset.c) */
    rn_tag_t st_tag_rset;        /* "readiness-set": a set's hold on a socket */
    rn_tag_t st_tag_rcall;       /* "readiness-call": a blocking call's hold on
                                    its process, and a blocked wait's on its set */
    rn_tag_t st_tag_spare;       /* "request.spare": a process's hold on an idle
                                    request record it keeps for reuse */
};
extern struct sock_types rn__sock_types;

/* ---- Processes and handles ---------------------------------------------------- */

enum proc_state {
    PROC_RUNNING,
    PROC_TERMINATING,  /* exit began: cleanups pending */
    PROC_TERMINATED,   /* every cleanup completed; killed */
};

struct sock;
struct rset;
struct rset_item;
struct sock_req;

/* What a handle needs from its close to its socket's (or readiness set's)
 * release, and its socket from its close to its transport object's: made
 * at the close (rn__sock_rec_get()), freed with the slot.  An open socket
 * carries none of it: two waits and a timer are a third of what an idle
 * connection would otherwise hold. */
struct sock_closing {
    struct hslot *sc_slot;           /* [I] the slot it belongs to */
    struct sock *sc_so;              /* [I] its socket, or NULL (a set's) */
    struct rn_ob_wait sc_cleanup;    /* the process's wait ("cleanup") for the
                                        socket's (or set's) release */
    struct rn_work sc_cleanup_work;  /* posted when that wait fires */
    struct rn_ob_wait sc_close;      /* the socket's wait ("close") for its
                                        transport object */
    struct rn_work sc_close_work;    /* posted when that wait fires, or at
                                        once if it had no object */
    struct sock_req *sc_linger_req;  /* [L] a close request that waits
                                        (SO_LINGER > 0), if any */
    rn_time_t sc_linger_end;         /* [L] when it gives up and aborts */
    struct rn_timer sc_linger_timer; /* [L] re-checks a lingering close */
    struct sock_closing *sc_cnext;   /* [L] the process's closing list */
    struct sock_closing *sc_cprev;   /* [L] */
    struct sock_closing *sc_next;    /* [L] on the layer's free list */
};
/* Close records a layer keeps for reuse; more are freed. */
#define SOCK_REC_KEEP 256u

/* One entry of a handle table (a socket's, or a readiness set's), and
 * after its close began, one of the process's closing sockets: the number
 * is free at once (as close(2) frees a descriptor), the socket stays the
 * process's until released. */
struct hslot {
    struct rn_proc *hs_proc;     /* [I] */
    struct sock *hs_so;          /* [L] held by "handle" until the close
                                    completes, NULL after */
    struct rset *hs_rset;        /* [L] a readiness set's slot (hs_so NULL):
                                    held by "handle" until its close */
    int hs_handle;               /* [I] its number while open */
    _Atomic uint32_t hs_flags;   /* [A] RN_O_NONBLOCK */
    bool hs_closing;             /* [L] cleanup began: off the handle table,
                                    on the process's closing list (by its
                                    record's sc_cnext) */
    struct hslot *hs_snext;      /* [L] the next open slot on the same socket
                                    (rn_sock_share()), NULL at the end */
    struct sock_closing *hs_rec; /* [L] its close record once the cleanup
                                    began, NULL before */
};

struct rn_proc {
    struct sock_layer *p_sl;            /* [I] */
    struct rn_stack *p_stack;           /* [I] */
    char p_name[32];                    /* [I] */
    _Atomic uint32_t p_pid;             /* [A] refnet's own number, or the
                                           host's pid once rn_proc_set_pid() */
    _Atomic int p_status;               /* [A] the host process's wait status
                                           (rn_proc_set_exit_status()), -1 none */
    struct hslot **p_handles;           /* [L] open handles by number; NULL = free;
                                           [0] unused */
    unsigned p_cap;                     /* [L] entries in p_handles */
    struct sock_closing *p_closing;     /* [L] records of the slots whose close
                                           began, whose sockets are not yet
                                           released */
    _Atomic unsigned p_nhandles;        /* [A] slots in use, open or closing */
    _Atomic unsigned p_cleanups;        /* [A] cleanups the exit still waits for */
    _Atomic unsigned p_cleanups_total;  /* [A] cleanups the exit began with */
    _Atomic uint8_t p_state;            /* [A] enum proc_state */
    atomic_bool p_exit_called;          /* [A] rn_proc_exit() was called */
    char p_owner[RN_PROC_OWNER_MAX];    /* written once by rn_proc_set_owner(),
                                           before p_owner_set; then [I] */
    atomic_bool p_owner_set;            /* [A] p_owner may be read */
    struct rn_work p_exit_work;         /* posts the exit to the loop */
    struct rn_timer p_exit_retry;       /* [L] closes again the handles an
                                           exit found no memory to close */
    struct sock_req *p_spares;          /* [L] idle request records kept for
                                           the process's next callback requests,
                                           each held by "request.spare", via
                                           rq_next; none once its exit began */
    unsigned p_nspares;                 /* [L] records on p_spares */
};

/* ---- Sockets --------------------------------------------------------------------- */

enum sock_state {
    SO_OPEN,
    SO_CLOSE_PENDING,  /* waiting for the transport object's release */
    SO_CLOSED,         /* close completed; only the release is left */
};

/* A FIFO of pending requests of one kind.  head == NULL iff empty. */
struct req_queue {
    struct sock_req *rqq_head;   /* [L] oldest */
    struct sock_req *rqq_tail;   /* [L] newest */
};

/* A poll request's hook on one socket. */
struct poll_link {
    struct poll_link *pl_next;   /* [L] on the socket's list of pollers */
    struct poll_link *pl_prev;
    struct sock_req *pl_req;     /* [I] the poll request */
    struct sock *pl_so;          /* [L] held by "request" while linked */
    bool pl_linked;              /* [L] */
};

/* A socket endpoint: an object of type "socket". */
struct sock {
    struct sock_layer *so_sl;              /* [I] */
    struct rn_proc *so_proc;               /* [L] borrowed, so_slot's process: a
                                              process is killed only after every
                                              handle cleanup, i.e. after its
                                              sockets' release (or after its slot
                                              left the socket's list) */
    struct hslot *so_slot;                 /* [L] its first handle slot; the
                                              others follow on hs_snext */
    unsigned so_nslots;                    /* [L] open slots on it, >= 1 until its
                                              close begins */
    int so_handle;                         /* [L] so_slot's number (read by
                                              describe on any thread) */
    const struct rn_transport_ops *so_ops; /* [I] */
    void *so_t;                            /* [L] transport object, held by
                                              "socket.endpoint"; NULL once closing */
    _Atomic uint8_t so_state;              /* [A] enum sock_state */
    bool so_inet6;                         /* [I] an AF_INET6 socket */
    bool so_kicking;                       /* [L] rn__sock_kick() is running */
    bool so_kick_again;                    /* [L] an event came meanwhile */
    struct rn__ep_names so_names;          /* [A] its names, for describe on
                                              any thread (rn__sock_names()) */
    struct req_queue so_recvq;             /* [L] pending receives */
    struct req_queue so_sendq;             /* [L] pending sends */
    struct req_queue so_connq;             /* [L] pending connect (at most one) */
    struct req_queue so_acceptq;           /* [L] pending accepts */
    struct poll_link *so_pollers;          /* [L] poll requests watching it */
    struct rset_item *so_ritems;           /* [L] its registrations in readiness
                                              sets (rset.c), NULL if none */
    struct sock_closing *so_rec;           /* [L] its slot's close record once the
                                              close began, NULL before */
    rn_time_t so_rcvtimeo;                 /* [L] SO_RCVTIMEO, 0 none */
    rn_time_t so_sndtimeo;                 /* [L] SO_SNDTIMEO, 0 none */
    int32_t so_linger;                     /* [L] -1 off, 0 abort, > 0 seconds */
    uint32_t so_rcvlowat;                  /* [L] SO_RCVLOWAT, >= 1 */
};

/* ---- Requests --------------------------------------------------------------------- */

/* Operations of the blocking API that complete at once, beyond the
 * public rn_sock_op values. */
enum {
    SOP_OPEN = RN_SOP_COUNT_,
    SOP_BIND,
    SOP_LISTEN,
    SOP_SHUTDOWN,
    SOP_SETOPT,
    SOP_GETOPT,
    SOP_GETNAME,
    SOP_FCNTL,
    SOP_IOCTL,
    SOP_TCPINFO,
    SOP_SETOPT_STR,
    SOP_GETOPT_STR,
    SOP_COUNT_
};

enum req_target {
    REQ_CALLBACK,  /* rn_sock_done_fn, delivered by posted work on the loop */
    REQ_CQ,        /* pushed on a struct rn_cq */
    REQ_WAITER,    /* a blocking caller waiting on rq_cond */
};

enum req_state {
    REQ_NEW,        /* created, not started */
    REQ_PENDING,    /* started, waiting */
    REQ_DONE,       /* completed, not yet delivered or reaped */
    REQ_SPARE,      /* delivered; kept idle by a socket for its next request */
};

/* A request: an object of type "request". */
/* A blocking caller's wait for its request's completion.  It lives on
 * the caller's stack for the length of rn__sock_req_wait(), not in the
 * request: most requests have no such waiter (a service's, a completion
 * queue's), and a mutex and a condition variable are 88 bytes. */
struct req_waiter {
    pthread_mutex_t rw_lock;          /* guards rw_signalled */
    pthread_cond_t rw_cond;
    bool rw_signalled;                /* the request completed */
};

struct sock_req {
    struct sock_req *rq_next;         /* [L] on rq_queue */
    struct sock_req *rq_prev;         /* [L] */
    struct req_queue *rq_queue;       /* [L] the queue it is on, or NULL */
    struct sock_req *rq_cqnext;       /* [Q] on the completion queue */
    struct rn_stack *rq_stack;        /* [I] */
    struct rn_proc *rq_proc;          /* held by "request" until completion
                                         (callback: until delivery) */
    struct sock *rq_so;               /* [L] held by "request" from start to
                                         completion, or NULL */
    int rq_op;                        /* [I] rn_sock_op or SOP_* */
    int rq_handle;                    /* [I] */
    /* Arguments, [I] once submitted, except rq_done. */
    void *rq_buf;
    size_t rq_len;
    size_t rq_done;                   /* [L] stream send: bytes taken so far;
                                         stream receive with RN_MSG_WAITALL:
                                         bytes received so far */
    union {
        struct rn_sockaddr_in rq_to;  /* sends, connect, bind */
        struct rn_sockaddr_in rq_local; /* GETNAME: out */
    };
    bool rq_has_to;
    bool rq_poll_now;
    _Atomic uint8_t rq_state;         /* [A] enum req_state */
    uint32_t rq_flags;
    rn_time_t rq_timeout;
    struct rn_pollfd *rq_fds;
    unsigned rq_nfds;
    int rq_arg;                       /* SOP_*: type, backlog, how, option */
    struct poll_link *rq_links;       /* [L] POLL: one per entry */
    int64_t rq_val;                   /* SOP_*: proto, option value; GETOPT: out;
                                         RSET_WAIT: its place in the set's line */
    struct rn_sockaddr_in rq_remote;  /* GETNAME: out */
    /* Completion. */
    struct rn_sock_completion rq_comp; /* [L] until REQ_DONE, then read-only */
    enum req_target rq_target;        /* [I] */
    rn_sock_done_fn rq_fn;            /* [I] REQ_CALLBACK */
    struct rn_cq *rq_cq;              /* [I] REQ_CQ */
    struct req_waiter *rq_waiter;     /* REQ_WAITER: the blocked caller's,
                                         set by rn__sock_req_wait() */
    struct rn_work rq_work;           /* posts the start, then the delivery */
    struct rn_timer rq_timer;         /* [L] timeout */
};

struct rn_cq {
    pthread_mutex_t cq_lock;
    struct sock_req *cq_head;         /* [Q] completed, oldest first */
    struct sock_req *cq_tail;         /* [Q] */
    _Atomic unsigned cq_inflight;     /* [A] submitted, not completed */
    int cq_efd;                       /* [I] eventfd */
};

/* ---- layer.c ---- */
/* The socket layer of st, or NULL if rn_sock_layer_init() did not run. */
struct sock_layer *rn__sock_layer(struct rn_stack *st);
/* Records that the calling thread is the loop thread of sl's stack. */
void rn__sock_mark_loop(struct sock_layer *sl);
/* True if the calling thread is known to be the loop thread. */
bool rn__sock_on_loop(struct sock_layer *sl);

/* ---- proc.c ---- */
/* Registers the process type (rn__sock_types.st_proc; NULL on failure). */
void rn__sock_proc_types_init(void);
/* Posts p's exit unless it was called already.  Returns true if it
 * posted. */
bool rn__sock_proc_exit_once(struct rn_proc *p);
/* Returns the open socket behind handle h, or NULL (no such handle, or its
 * cleanup began). */
struct sock *rn__sock_handle(struct rn_proc *p, int h);
/* The slot of open handle h (a socket or a readiness set), or NULL. [L] */
struct hslot *rn__sock_open_slot(struct rn_proc *p, int h);
/* Allocates a free handle slot.  Returns it, or NULL with *err set. */
struct hslot *rn__sock_slot_alloc(struct rn_proc *p, int *err);
/* Frees a slot that never held a socket. */
void rn__sock_slot_free(struct hslot *hs);
/* Frees an open slot that left its socket's list and dropped its hold
 * (rn__sock_close_slot()); counts as a cleanup done during an exit. */
void rn__sock_slot_gone(struct hslot *hs);
/* Frees the layer's kept close records (the layer goes). [L] */
void rn__sock_rec_pool_fini(struct sock_layer *sl);
/* Begins a handle's cleanup: takes its close record (from the layer's
 * free list, or new), registers the process's wait ("cleanup") for the
 * socket's (or set's) release, and moves the slot from the handle table
 * to the process's closing list, freeing its number.  Called first by
 * rn__sock_close() and rn__rset_close(), while the slot still holds its
 * "handle" reference.  Returns 0, or RN_ENOMEM with nothing done (no
 * record could be had: the handle stays open). */
int rn__sock_slot_closing(struct hslot *hs);
/* True if the handle of slot hs is non-blocking. */
static inline bool rn__sock_slot_nonblock(const struct hslot *hs)
{
    return (atomic_load_explicit(&hs->hs_flags, memory_order_relaxed) & RN_O_NONBLOCK) != 0;
}

/* ---- socket.c ---- */
void rn__sock_types_init(void);
/* Opens a socket on a fresh handle; type may carry RN_SOCK_NONBLOCK.
 * Returns the handle or a code. */
int rn__sock_open(struct rn_proc *p, int type, int proto);
/* Wraps a transport object taken by accept on listener lso into a socket
 * on a fresh handle of p (the accepting process: the listener may be
 * shared), non-blocking if flags has RN_SOCK_NONBLOCK.  Returns the
 * handle or a code. */
int rn__sock_accept_one(struct sock *lso, struct rn_proc *p, struct rn_sockaddr_in *peer,
                        uint32_t flags);
/* fcntl(2)'s F_GETFL and F_SETFL on p's handle h (socket.h). */
int rn__sock_fcntl(struct rn_proc *p, int h, int cmd, int arg);
/* The ioctls of socket.h on so: RN_FIONREAD, RN_SIOCOUTQ. */
int rn__sock_ioctl(struct sock *so, unsigned long req, int *val);
int rn__sock_bind(struct sock *so, const struct rn_sockaddr_in *addr);
/* Checks an address the user gave so (bind, connect, sendto) and writes
 * it into *out in the form the transports read (sin6_addr, IPv4 mapped;
 * transport.h).  Returns 0, RN_EAFNOSUPPORT (the other family's form) or
 * RN_ENETUNREACH (a mapped address on an RN_IPV6_V6ONLY socket). */
int rn__sock_addr_in(struct sock *so, const struct rn_sockaddr_in *in, struct rn_sockaddr_in *out);
/* Turns an address a transport filled (sin6_addr) into the user's form
 * for so's family. */
void rn__sock_addr_out(const struct sock *so, struct rn_sockaddr_in *a);
int rn__sock_setopt(struct sock *so, enum rn_sockopt opt, int64_t val);
int rn__sock_getopt(struct sock *so, enum rn_sockopt opt, int64_t *val);
/* True for an option whose value is a string (RN_TCP_CONGESTION). */
bool rn__sock_opt_is_str(enum rn_sockopt opt);
/* String options (socket.h, rn_sock_setopt_str()). */
int rn__sock_setopt_str(struct sock *so, enum rn_sockopt opt, const char *val);
int rn__sock_getopt_str(struct sock *so, enum rn_sockopt opt, char *buf, size_t len);
/* TCP_INFO of so's transport (RN_EOPNOTSUPP where it has none). */
int rn__sock_tcp_info(struct sock *so, struct rn_tcp_info *out);
unsigned rn__sock_ready(struct sock *so);
/* Refreshes the addresses describe shows. */
void rn__sock_names(struct sock *so);
/* Pulls from the transport into pending requests until it says RN_EAGAIN. */
void rn__sock_kick(struct sock *so);
/* Runs a handle's cleanup: the close returns at once (req, may be NULL,
 * completes now, or under SO_LINGER > 0 once it settled or gave up).
 * Returns 0, or RN_ENOMEM with nothing done (rn__sock_slot_closing()). */
int rn__sock_close(struct sock *so, struct sock_req *req);
/* Closes the open socket slot hs: when other slots share its socket, the
 * slot alone goes (its "handle" hold dropped, req completed with 0);
 * else the socket closes as rn__sock_close() says.  Returns 0, or
 * RN_ENOMEM with nothing done (no close record could be had; req is the
 * caller's still). */
int rn__sock_close_slot(struct hslot *hs, struct sock_req *req);
/* Turns the graceful close of a closing socket abortive (stack teardown). */
void rn__sock_abort_closing(struct sock *so);

/* ---- request.c ---- */
void rn__sock_req_types_init(void);
/* Starts a request on the loop thread. */
void rn__sock_req_start(struct sock_req *rq);
/* Completes a request with result: unlinks it, drops its socket, and
 * delivers or queues its completion. */
void rn__sock_req_complete(struct sock_req *rq, ssize_t result);
/* Queues a pending request and arms its timeout. */
void rn__sock_req_queue(struct req_queue *q, struct sock_req *rq);
/* Completes every request on q with result. */
void rn__sock_req_flush(struct req_queue *q, ssize_t result);
/* Re-evaluates a poll request after an event on one of its sockets.
 * Returns true if that completed it (rq may be gone then). */
bool rn__sock_poll_check(struct sock_req *rq);
/* Kills the idle request records p keeps (its exit began).  [L] */
void rn__sock_spares_drop(struct rn_proc *p);
/* Creates a request for the blocking API.  Returns NULL on allocation
 * failure. */
struct sock_req *rn__sock_req_new(struct rn_proc *p, int op, int handle, enum req_target target);
/* Posts rq to the loop and waits for its completion ([B]).  The caller
 * reads rq's results, then kills it. */
void rn__sock_req_wait(struct sock_req *rq);

/* ---- rset.c: readiness sets ---- */
/* Registers the readiness set's type and tags (NULL type on failure). */
void rn__rset_types_init(void);
/* The transport said events (0: unknown) may have become true on so, a
 * socket with registrations (so_ritems != NULL): queues those now ready. */
void rn__rset_sock_event(struct sock *so, unsigned events);
/* so begins to close: takes it out of every set, dropping their holds. */
void rn__rset_sock_closing(struct sock *so);
/* Closes the readiness set of slot hs: its waits complete with
 * RN_ECANCELED, its registrations go, the slot's "handle" hold is dropped;
 * the process's cleanup waits for the set's release.  Returns 0, or
 * RN_ENOMEM with nothing done (rn__sock_slot_closing()). */
int rn__rset_close(struct hslot *hs);
/* If handle h of p is a readiness set, closes it, completes req (may be
 * NULL) with 0 (RN_ENOMEM, the set left open, if no close record could
 * be had) and returns true; else returns false. */
bool rn__rset_close_handle(struct rn_proc *p, int h, struct sock_req *req);
/* True if d is a well-formed RN_SOP_RSET_WAIT request. */
bool rn__rset_req_valid(const struct rn_sock_req *d);
/* Starts an RN_SOP_RSET_WAIT request on the loop thread. */
void rn__rset_req_start(struct sock_req *rq);

#endif /* REFNET_SOCKET_SOCK_PRIV_H */
