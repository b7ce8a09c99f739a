/*
 * A listening TCP service on the loop thread: the skeleton that the
 * built-in TCP services share (tcp_simple.c: echo, discard, chargen;
 * httpd.c).  Internal to apps/.
 *
 * A service embeds a struct tsrv and fills a struct tsrv_ops.  The
 * skeleton owns the process, the listening socket, the accept loop, the
 * cap on connections and the list of connections, and it runs the stop;
 * the service drives each connection with requests submitted through
 * rn__tsrv_submit() and ends it with rn__tsrv_close().
 *
 * Connection lifetime: a struct tsrv_conn (the head of the service's own
 * connection struct) is allocated when an accept completes and freed once
 * it is closing and every request submitted for it has been delivered: so
 * a completion never finds its connection gone.  A service must keep at
 * least one request in flight on an open connection, or have it wait for
 * input (rn__tsrv_wait_input()), or close it.
 *
 * Idle connections wait in the service's readiness set (readiness.h), as
 * a server waits in epoll: no request, no buffer, only the registration
 * (about 100 bytes, which holds the socket under "readiness-set" in the
 * ledger).  The set is made at the start, and one RN_SOP_RSET_WAIT
 * request of the service, always out, takes what is ready, TSRV_EVENTS
 * at a time, and tso_ready() goes on with each.  An event names its
 * connection by handle and a number the connection got at its accept, so
 * an event that arrives after its connection went is recognised and
 * ignored.
 *
 * Stop, in call order (the shape of every built-in service, as
 * rn__echo_stop()):
 *   rn__tsrv_stop(): every open connection gets SO_LINGER 0 (stop aborts, so it
 *     is bounded in time), a "stop" wait on the process, rn_proc_exit()
 *     -> the socket layer cancels the outstanding requests (delivered with
 *        RN_ECANCELED; nothing is resubmitted), closes every handle
 *     -> the process is released once every request was delivered
 *   -> stop_fired() [any] -> posted -> stop_done() [L]: connections left
 *      are freed, done(), then tso_stopped() frees the service.
 *
 * Hosted (tsp_proc set: the host's process, shared with other services):
 * the skeleton neither creates nor exits the process.  rn__tsrv_stop() then
 * only halts (connections get SO_LINGER 0, nothing more is submitted); the
 * host exits the process, and once it was released calls
 * rn__tsrv_released(), which does what stop_done() does.
 *
 * Thread safety: [L] the stack's loop thread only.
 */
#ifndef REFNET_APPS_TCP_SERVER_H
#define REFNET_APPS_TCP_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apps/apps.h"
#include "refnet/object.h"
#include "refnet/readiness.h"
#include "refnet/socket.h"
#include "refnet/stack.h"
#include "refnet/timer.h"

struct tsrv;

/* One accepted connection; the head of the service's connection struct. */
struct tsrv_conn {
    struct tsrv *tc_srv;            /* [I] its service */
    struct tsrv_conn *tc_next;      /* [L] on ts_conns */
    struct tsrv_conn *tc_prev;      /* [L] */
    int tc_handle;                  /* [I] its socket in the service's process */
    unsigned tc_inflight;           /* [L] requests submitted and not yet delivered */
    uint32_t tc_gen;                /* [I] told apart from an earlier connection
                                       on the same handle (events) */
    bool tc_closing;                /* [L] closed by the service or by the stop */
    bool tc_registered;             /* [L] in the service's readiness set */
    bool tc_waiting;                /* [L] waiting there for input */
};

struct tsrv_ops {
    /* Bytes of the service's connection struct (>= sizeof(struct tsrv_conn)). */
    size_t tso_conn_size;
    /* A connection was accepted (zeroed beyond its head): submit its first
     * requests, or close it. */
    void (*tso_open)(struct tsrv_conn *c);
    /* A request of c completed while c is open: go on, or close it. */
    void (*tso_done)(struct tsrv_conn *c, const struct rn_sock_completion *cmp);
    /* c waited for input (rn__tsrv_wait_input()) and something came:
     * input, the peer's end or an error (events: RN_POLL* bits; a receive
     * tells which).  Go on, or close it.  May be NULL for a service that
     * never waits. */
    void (*tso_ready)(struct tsrv_conn *c, unsigned events);
    /* c is going away: free what it holds, not c itself.  May be NULL. */
    void (*tso_free)(struct tsrv_conn *c);
    /* The stop finished and its done() ran: free the service. */
    void (*tso_stopped)(struct tsrv *s);
    /* The service drains (rn__tsrv_drain()): c, open, finishes what it is
     * doing and then closes, or closes at once if it is idle.  May be NULL:
     * connections then run until their peers end them. */
    void (*tso_drain)(struct tsrv_conn *c);
    /* Bytes c still has to send of what it is doing (a file's rest), for
     * the drain's progress.  May be NULL (0). */
    uint64_t (*tso_left)(const struct tsrv_conn *c);
};

struct tsrv_params {
    const char *tsp_name;    /* process name ("httpd") */
    uint32_t tsp_addr;       /* local address; 0: every address (both families
                                when the stack speaks IPv6: a dual-stack
                                listener on ::) */
    uint16_t tsp_port;       /* local port (not 0) */
    unsigned tsp_backlog;    /* SYN and accept queue bound */
    unsigned tsp_max_conns;  /* connections at once; at the cap the listener
                                refuses new SYNs (RN_SO_LISTEN_REFUSE), and one
                                accepted over it (queued before) is reset */
    struct rn_proc *tsp_proc; /* run in this process (hosted; borrowed), or
                                 NULL: create one named tsp_name */
};

struct tsrv_share;

/* Events one wait of the service's readiness set takes at most. */
#define TSRV_EVENTS 64

struct tsrv {
    const struct tsrv_ops *ts_ops;   /* [I] */
    struct rn_stack *ts_stack;       /* [I] */
    struct rn_proc *ts_proc;         /* [L] held by "service" (and the creator's
                                        reference) until the stop; hosted:
                                        the host's, borrowed */
    bool ts_hosted;                  /* [I] runs in the host's process */
    int ts_listen;                   /* [I] the listening socket */
    unsigned ts_max_conns;           /* [L] the cap (rn__tsrv_set_max_conns()) */
    bool ts_refusing;                /* [L] the listener refuses SYNs: at the cap */
    unsigned ts_peak;                /* [L] most connections at once since the
                                        last trim */
    struct rn_timer ts_trim;         /* [L] gives free heap back once a busy
                                        service has no connection left */
    struct tsrv_conn *ts_conns;      /* [L] open and closing connections */
    bool ts_stopping;                /* [L] rn__tsrv_stop() ran */
    bool ts_draining;                /* [L] rn__tsrv_drain() ran: no more
                                        accepts, connections finish */
    struct rn_timer ts_retry;        /* [L] accepts again after a failed accept */
    struct rn_tcpsvc_stats ts_stats; /* [L] counters; ts_active == length of ts_conns */
    struct rn_ob_wait ts_wait;       /* "stop": the process's release */
    struct rn_work ts_work;          /* posted when the wait fires */
    void (*ts_done)(void *ctx);      /* [L] the stop's callback */
    void *ts_done_ctx;               /* [L] */
    struct tsrv_share *ts_share;     /* [I] the service's instances on all loops,
                                        whose connections the cap counts */
    int ts_rset;                     /* [L] the readiness set idle connections
                                        wait in, made at the start; 0 none (a
                                        service without tso_ready) */
    bool ts_rset_out;                /* [L] its wait request is submitted */
    uint32_t ts_gen;                 /* [L] the last connection's tc_gen */
    struct tsrv_conn **ts_byhandle;  /* [L] open connections by handle, for
                                        events; ts_nbyhandle entries */
    unsigned ts_nbyhandle;           /* [L] */
    struct rn_rset_event ts_events[TSRV_EVENTS]; /* [L] the wait request's buffer */
    struct rn_timer ts_rset_retry;   /* [L] submits the wait again after a failure */
    struct rn_work ts_cap_work;      /* another instance crossed the cap: look again */
    atomic_bool ts_cap_posted;       /* [A] ts_cap_work is queued */
};

/* Starts s: a process named tsp_name, a socket listening on
 * tsp_addr:tsp_port, and the accept loop.  Returns 0, or RN_EADDRINUSE,
 * RN_EADDRNOTAVAIL, RN_ENOMEM, RN_EINVAL; on failure nothing is left
 * running and the caller frees s. */
int rn__tsrv_start(struct tsrv *s, struct rn_stack *st, const struct tsrv_ops *ops,
               const struct tsrv_params *params);

/* Sets the cap on connections at once (> 0).  Connections over a lowered
 * cap stay; new ones are refused until the count is under it. */
void rn__tsrv_set_max_conns(struct tsrv *s, unsigned max);

/* Submits rq for connection c (sq_handle and sq_user are filled in).
 * Returns 0, and the completion goes to tso_done (unless c is closing by
 * then), or a negative code and nothing follows. */
int rn__tsrv_submit(struct tsrv_conn *c, struct rn_sock_req *rq);

/* c has nothing to do until its peer sends: it waits in the service's
 * readiness set with no request in flight, and tso_ready() is called when
 * input, the peer's end or an error comes.  Returns 0, or a negative code
 * (no memory for its registration: close c).  Call it only from
 * tso_open(), tso_done() or tso_ready(), or a timer of the service. */
int rn__tsrv_wait_input(struct tsrv_conn *c);

/* Ends c's wait for input without an event (a timeout of the service's):
 * returns true if c was waiting.  An event that comes later is
 * ignored. */
bool rn__tsrv_wait_cancel(struct tsrv_conn *c);

/* Frees c if it is closing and nothing of it is in flight: for a timer of
 * the service that may have closed c (callbacks of the skeleton do it
 * themselves). */
void rn__tsrv_settle(struct tsrv_conn *c);

/* Closes c, abortively (RST) if abort: c is freed once every request of
 * it was delivered, never before the service's callback that called this
 * returned.  Harmless if c is closing already.  Call it only from
 * tso_open() or tso_done(). */
void rn__tsrv_close(struct tsrv_conn *c, bool abort);

/* Stops s (see the file comment); done(ctx) runs on the loop thread once
 * the process was released, then tso_stopped().  Hosted: halts s, and the
 * rest waits for rn__tsrv_released(). */
void rn__tsrv_stop(struct tsrv *s, void (*done)(void *ctx), void *ctx);

/* Hosted only: the host's process was released after rn__tsrv_stop(), so every
 * request was delivered; frees the connections, runs done(ctx), then
 * tso_stopped(). */
void rn__tsrv_released(struct tsrv *s);

/* Drains s: the listener closes (new connections are refused) and every
 * open connection finishes its work and closes (tso_drain()); the stop,
 * which aborts what is left, is still the caller's to run.  Harmless once
 * draining or stopping. */
void rn__tsrv_drain(struct tsrv *s);

/* How far a drain is: connections not yet gone (closing ones included),
 * the bytes they still have to send (tso_left()) and the bytes sent
 * since the start. */
void rn__tsrv_drain_status(const struct tsrv *s, uint32_t *conns, uint64_t *left,
                           uint64_t *sent);

/* The stack's current time. */
rn_time_t rn__tsrv_now(const struct tsrv *s);

#endif /* REFNET_APPS_TCP_SERVER_H */
