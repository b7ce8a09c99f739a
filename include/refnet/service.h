/*
 * Services and their controller: named units of work, each run in a
 * process of its own, started and stopped on a stack's loop thread.
 *
 * A service is an object of type "service" ("service httpd RUNNING").
 * While it runs it owns a process ("process httpd (pid 6) 3 handles", owner
 * string "service httpd") with its own handle table, in which its kind
 * (struct rn_svc_kind: echo, discard, chargen, httpd ...) opened its
 * sockets.  The controller holds the process under "service" and its
 * creator's reference.  States, as Windows' service controller has them:
 *
 *   STOPPED --start--> START_PENDING --> RUNNING --stop--> STOP_PENDING --> STOPPED
 *
 * Stop, in call order:
 *   rn_svc_stop() [L]: STOP_PENDING; the kind halts (submits nothing more);
 *     a wait "stop" (waiter: the service) on the process's release;
 *     rn_proc_exit(): 1. every handle is closed, its requests cancelled;
 *     2. the process runs down: it is released once every handle's cleanup
 *        completed, i.e. once each socket's transport object was released
 *   -> the wait fires [any] -> posted -> the kind's sk_released() [L];
 *      STOPPED; 3. each rn_svc_stop() waiter hears 0.
 * With a drain grace (rn_svc_set_drain()) and a kind that drains, the stop
 * drains first: STOP_PENDING, the kind's sk_drain() (no new connection,
 * the ones in progress finish), a wait "drain" (waiter: the service) on
 * the process, which the service holds under "drain"; the chain shows the
 * service as "service httpd STOP_PENDING draining 3 connections, 12.0MB
 * left, 4.1MB/s" and its verdict is "in progress", or "stalled" once no
 * byte was sent for RN_SVC_DRAIN_STALL.  When the last connection is gone
 * or the grace is over, the stop above goes on (sk_halt() aborts what is
 * left).
 * If the timeout passes first the waiter hears RN_ETIMEDOUT and the service
 * stays STOP_PENDING, as the web server of the case did: whatever holds
 * its objects is then what rn_svc_why() shows.  A later release still
 * completes the stop.
 *
 * The chain a stuck stop shows (rn_svc_why(), the watchdog, `refnet why`):
 *   service httpd STOP_PENDING        stop pending 31.2s
 *   └ process httpd terminating, 1 of 3 handle cleanups pending    cleanup ...
 *     └ socket #1 tcp 0.0.0.0:80 close pending                      close ...
 *       └ tcp listener 0.0.0.0:80 CLOSED ...   with its holders and verdict
 *
 * Starting a service whose TCP port is still held (by the listener of its
 * own stop that cannot finish, or by anything else) fails with
 * RN_EADDRINUSE and a message naming the holder: its object, state,
 * holders and owner.
 *
 * The controller is library code on a stack, with no host of its own: the
 * daemon runs one (tools `refnet svc`), the simulator's scenarios another,
 * on virtual time (stop timeouts are the stack's timers).
 *
 * A service can also be a real command (rn_svcctl_add_exec(): apache2,
 * nginx, a script), once a host that runs programs is attached
 * (rn_svcctl_exec_attach(): a real-time loop, and the launcher put in
 * front of every command, `refnet run` in the daemon).  Start runs the
 * command in a process group of its own with REFNET_OWNER="service NAME"
 * in its environment, so that the processes it becomes on the stack are
 * the service's.  The controller holds an object of type "real process"
 * for the command ("real process apache2 (pid 4242) running") in place of
 * a process of its own.  Stop, in call order:
 *   rn_svc_stop() [L]: STOP_PENDING; the stop signal (SIGTERM unless
 *     configured: apache2's graceful stop is SIGWINCH) to the group (or to
 *     the command alone, ex_stop_main, as systemd's KillMode=mixed); wait
 *     "stop" (waiter: the service) on the real process
 *   ... the command exits (its pidfd, on the loop) -> the group is polled
 *     until none of it runs; SIGKILL to the group once the grace passed
 *   -> the command is reaped; the real process waits "rundown" on every
 *      refnet process whose owner is "service NAME"
 *   ... each released (its sockets' cleanups completed) -> the real process
 *      is released -> STOPPED.
 * A command that exits on its own takes the same path from its exit on.
 * A stop that cannot finish is one chain from the service through the
 * real process (exited, pid, status, how long ago) to the refnet process
 * still terminating, its socket, and the object that holds it:
 *   service apache2 STOP_PENDING  #12             stop pending 5.0s
 *   └ real process apache2 (pid 4242) exited 4.6s ago, exit status 0 ...
 *     └ process apache2 (pid 4242) terminating, 1 of 3 handle cleanups ...
 *       └ socket #3 tcp 198.18.0.2:80 close pending   ...
 *         └ tcp listener 198.18.0.2:80 CLOSED ...  with holders and verdict
 * Only the command's process group is signalled and waited for: a
 * program that puts itself in another group (daemonises) escapes both;
 * run such programs in the foreground (apache2 -DFOREGROUND).
 *
 * Thread safety: [L] the stack's loop thread, except where [any] says.
 */
#ifndef REFNET_SERVICE_H
#define REFNET_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/clock.h"
#include "refnet/timer.h"

struct rn_stack;
struct rn_proc;
struct rn_strbuf;

enum rn_svc_state {
    RN_SVC_STOPPED,        /* not running; no process */
    RN_SVC_START_PENDING,  /* its kind is starting it */
    RN_SVC_RUNNING,        /* started */
    RN_SVC_STOP_PENDING,   /* its process is running down */
};

/* "STOPPED", "START_PENDING", "RUNNING", "STOP_PENDING". */
const char *rn_svc_state_name(enum rn_svc_state state);

/* One counter of a running service, for listings. */
struct rn_svc_counter {
    const char *sc_name;  /* "bytes_in" */
    uint64_t sc_value;
};

/* The most counters a kind reports. */
#define RN_SVC_COUNTERS_MAX 32
/* The most TCP ports a kind binds. */
#define RN_SVC_PORTS_MAX 4

/* How far a draining service is (struct rn_svc_kind, sk_drain_status). */
struct rn_svc_drain {
    uint32_t sd_conns;  /* connections not yet gone */
    uint64_t sd_left;   /* bytes they still have to send of what they do */
    uint64_t sd_sent;   /* bytes the service moved since its start, its
                           progress: what it sent (a service that also
                           or only receives counts that too) */
};

/* A kind of service: how to start its parts in a process and stop them. */
struct rn_svc_kind {
    const char *sk_name;   /* "httpd": the service's name */
    const char *sk_what;   /* one line for listings: "static files over HTTP/1.1" */
    const char *sk_arg;    /* the form of its argument ("PORT:DIR"), or NULL
                              if it takes none */
    /* Checks an argument (NULL when none was given) without starting
     * anything.  Returns 0, or RN_EINVAL with one line in err. */
    int (*sk_check)(const char *arg, char *err, size_t errlen);
    /* The TCP ports it would listen on with arg (all addresses), into
     * ports (at most RN_SVC_PORTS_MAX); returns how many. */
    size_t (*sk_ports)(const char *arg, uint16_t *ports);
    /* Starts the parts in p (running, created by the controller) on st.
     * Returns 0 and *state; or a negative code with one line in err, the
     * parts halted already, and *state what sk_released() must free once
     * p is released (NULL if nothing). */
    int (*sk_start)(struct rn_stack *st, struct rn_proc *p, const char *arg, void **state,
                    char *err, size_t errlen);
    /* Halts the parts: no request is submitted any more.  The controller
     * exits p right after. */
    void (*sk_halt)(void *state);
    /* p was released (every request of it was delivered): frees state. */
    void (*sk_released)(void *state);
    /* The running service's counters, at most RN_SVC_COUNTERS_MAX; may be
     * NULL. */
    size_t (*sk_counters)(void *state, struct rn_svc_counter *out);
    /* Drains the parts: no new connection, the ones in progress finish
     * and close.  NULL: the kind cannot drain, its stop aborts at once. */
    void (*sk_drain)(void *state);
    /* How far the drain is.  NULL only if sk_drain is. */
    void (*sk_drain_status)(void *state, struct rn_svc_drain *out);
};

/* The built-in kinds (apps.h): echo (UDP and TCP 7, one process), discard
 * (TCP 9), chargen (TCP 19), httpd (PORT:DIR); ended by a zeroed entry. */
extern const struct rn_svc_kind rn_svc_builtin[];

struct rn_svcctl;
struct rn_svc;

/* Creates a controller for st (rn_sock_layer_init() must have run) that
 * knows kinds (ended by an entry with sk_name NULL; must outlive it).
 * Returns 0 and *out, or RN_ENOMEM. */
int rn_svcctl_create(struct rn_stack *st, const struct rn_svc_kind *kinds,
                     struct rn_svcctl **out);

/* Frees the controller and kills its service objects.  Call it either
 * while the stack exists with every service STOPPED (stop them first), or
 * after rn_stack_destroy(), inside which the stops still pending
 * completed as the socket layer ran the processes down: a service still
 * STOP_PENDING then has its wait cancelled, and its kind's state is left
 * to its process, a leak the object manager reports.  Waiters still
 * registered hear RN_ECANCELED.  NULL is allowed. */
void rn_svcctl_destroy(struct rn_svcctl *sc);

/* Adds a service, STOPPED, from a spec "NAME" or "NAME=ARG" (httpd=80:/srv)
 * of a known kind.  Returns 0 and *out (may be NULL); RN_EINVAL with one
 * line in err for an unknown kind or a bad argument; RN_EEXIST if one of
 * that name exists; RN_ENOMEM. */
int rn_svcctl_add(struct rn_svcctl *sc, const char *spec, struct rn_svc **out, char *err,
                  size_t errlen);

/* The kind named name, or NULL. */
const struct rn_svc_kind *rn_svcctl_kind(const struct rn_svcctl *sc, const char *name);
/* Writes the kinds' names, "echo, discard, chargen, httpd=PORT:DIR". */
void rn_svcctl_kinds(const struct rn_svcctl *sc, char *buf, size_t len);

/* The service named name, or NULL.  [L] */
struct rn_svc *rn_svcctl_find(const struct rn_svcctl *sc, const char *name);
/* Services in the order they were added. */
size_t rn_svcctl_count(const struct rn_svcctl *sc);
struct rn_svc *rn_svcctl_at(const struct rn_svcctl *sc, size_t i);
/* Services STOP_PENDING now. */
size_t rn_svcctl_stopping(const struct rn_svcctl *sc);

/* Starts a STOPPED service: START_PENDING, its process, its kind's start,
 * RUNNING.  Returns 0; 1 if it was RUNNING already; otherwise a negative
 * code with one line in err, and the service goes back to STOPPED (at
 * once, or once the process it had begun with was released):
 *   RN_EADDRINUSE  a TCP port it needs is held; err names the holder
 *                  (even while the service is STOP_PENDING: a port held
 *                  by its own stuck stop is the usual reason);
 *   RN_EBUSY       STOP_PENDING, its ports free: it may start once STOPPED;
 *   or what the kind's start answered (RN_ENOENT for a missing directory ...). */
int rn_svc_start(struct rn_svc *svc, char *err, size_t errlen);

struct rn_svc_stop;
/* result: 0 the service is STOPPED; RN_ETIMEDOUT it is still STOP_PENDING
 * after the timeout; RN_ECANCELED the controller is being destroyed. */
typedef void (*rn_svc_stop_fn)(struct rn_svc_stop *stp, int result, void *ctx);

/* One caller waiting for a stop; the caller owns the storage and must keep
 * it until fn ran or rn_svc_stop_cancel() returned. */
struct rn_svc_stop {
    struct rn_svc_stop *ss_next;  /* [L] on the service's waiters */
    struct rn_svc *ss_svc;        /* [L] the service */
    struct rn_timer ss_timer;     /* [L] the timeout, on the stack's timers */
    rn_svc_stop_fn ss_fn;         /* [L] */
    void *ss_ctx;                 /* [L] */
    bool ss_waiting;              /* [L] on the list: fn not yet called */
};

/* Stops svc if it is RUNNING (see the file comment), and waits: fn(stp,
 * result, ctx) runs on the loop thread once it is STOPPED, or after
 * timeout (0: none), never inside this call.  Returns 0 when fn will be
 * called; 1 if the service was STOPPED already (fn is not called);
 * RN_EBUSY if it is START_PENDING.  stp and fn NULL: a stop no one waits
 * for (0: it is stopping). */
int rn_svc_stop(struct rn_svc *svc, rn_time_t timeout, struct rn_svc_stop *stp,
                rn_svc_stop_fn fn, void *ctx);
/* Stops waiting; the stop itself goes on.  Harmless once fn ran. */
void rn_svc_stop_cancel(struct rn_svc_stop *stp);

/* A drain that sent nothing for this long is stalled. */
#define RN_SVC_DRAIN_STALL RN_SEC(5)
/* The longest drain grace. */
#define RN_SVC_DRAIN_MAX RN_SEC(3600)

/* Sets how long svc's stops drain its connections before aborting them:
 * 0 (the default) aborts at once.  Applies to stops that begin later.
 * Returns 0; RN_ENOTSUP if grace > 0 and its kind cannot drain;
 * RN_EINVAL if grace > RN_SVC_DRAIN_MAX. */
int rn_svc_set_drain(struct rn_svc *svc, rn_time_t grace);
/* Its drain grace. */
rn_time_t rn_svc_drain_grace(const struct rn_svc *svc);
/* True while a stop drains it (STOP_PENDING, before the abort). */
bool rn_svc_draining(const struct rn_svc *svc);

/* Stops every RUNNING service, the last added first, with nobody waiting.
 * Returns how many are STOP_PENDING now; then done(ctx) runs on the loop
 * thread once none is (never if one never stops).  Replaces any earlier
 * done. */
size_t rn_svcctl_stop_all(struct rn_svcctl *sc, void (*done)(void *ctx), void *ctx);
/* (A service draining then stops draining and aborts what is left.) */

/* Queries. */
const char *rn_svc_name(const struct rn_svc *svc);              /* [any] */
const struct rn_svc_kind *rn_svc_kind(const struct rn_svc *svc); /* [any] */
const char *rn_svc_arg(const struct rn_svc *svc);               /* [any] NULL if none */
uint64_t rn_svc_id(const struct rn_svc *svc);                   /* [any] its object id */
enum rn_svc_state rn_svc_state(const struct rn_svc *svc);       /* [any] */
/* When it entered its state, on the stack's clock. */
rn_time_t rn_svc_since(const struct rn_svc *svc);
/* Its process while it has one (START_PENDING to STOP_PENDING), else NULL:
 * borrowed, valid on the loop thread until the state changes. */
struct rn_proc *rn_svc_proc(const struct rn_svc *svc);
/* Counters of a RUNNING service (0 otherwise), at most RN_SVC_COUNTERS_MAX. */
size_t rn_svc_counters(const struct rn_svc *svc, struct rn_svc_counter *out);

/* Appends the waiting chains through svc from a fresh snapshot of the
 * object manager (rn_diag_render_for()), with threshold as the grace its
 * verdict gives (the watchdog's).  Returns the number of chains, 0 when
 * the service takes part in no wait (then its own line is printed), or
 * RN_ENOMEM. */
int rn_svc_why(const struct rn_svc *svc, rn_time_t threshold, struct rn_strbuf *out);

/* [L] Describes who holds TCP port `port` of st for the address addr (0:
 * any) into buf: "tcp listener #5 0.0.0.0:80 CLOSED ..., dying 12.3s,
 * refs 53 (enum 53); owner service httpd (process httpd, pid 6), socket
 * #1 closing".  Returns true if the port is held. */
bool rn_svc_port_holder(struct rn_stack *st, uint32_t addr, uint16_t port, char *buf,
                        size_t len);

/* ---- Services that are real processes ------------------------------------ */

struct rn_loop;

/* The most words of a command (program and arguments). */
#define RN_SVC_EXEC_ARGV_MAX 48
/* How long a stop waits after the stop signal before it sends SIGKILL,
 * unless configured. */
#define RN_SVC_GRACE_DEFAULT RN_SEC(10)

/* A command to run as a service. */
struct rn_svc_exec {
    const char *const *ex_argv;  /* program and arguments, ended by NULL; a
                                    program without '/' is looked up in PATH */
    int ex_stop_signal;          /* sent to its process group by a stop;
                                    0: SIGTERM */
    rn_time_t ex_grace;          /* SIGKILL follows this long after the
                                    stop signal; 0: RN_SVC_GRACE_DEFAULT */
    bool ex_stop_main;           /* the stop signal goes to the command
                                    alone, whose children are its own to
                                    stop (apache2's and nginx's masters
                                    stop theirs gracefully; a prefork child
                                    that gets SIGWINCH itself drops its
                                    transfer), not to its group; SIGKILL
                                    still goes to the whole group */
};

/* What runs commands: a real-time loop driving the controller's stack
 * (its pidfds and timers go on it) and the words put before every
 * command, ended by NULL, or NULL to run commands as they are. */
struct rn_svc_exec_host {
    struct rn_loop *eh_loop;            /* watches the commands */
    const char *const *eh_launcher;     /* ["/usr/bin/refnet", "run",
                                           "--ctl", PATH, "--"], or NULL */
};

/* [L] Lets sc run commands (copies host and its launcher).  Returns 0,
 * RN_EBUSY if a host is attached, RN_EINVAL for more than
 * RN_SVC_EXEC_ARGV_MAX launcher words, or RN_ENOMEM. */
int rn_svcctl_exec_attach(struct rn_svcctl *sc, const struct rn_svc_exec_host *host);

/* [L] Detaches the host; call it before its loop is destroyed.  Every
 * command still running is stopped at once: its group gets SIGKILL and
 * is waited for (a bounded wait), its stop goes on without the loop and
 * completes once its refnet processes are released (inside
 * rn_stack_destroy() at the latest).  No command starts afterwards.
 * Harmless without a host. */
void rn_svcctl_exec_detach(struct rn_svcctl *sc);

/* [L] Adds a service named name (1 to 31 of [A-Za-z0-9_.-], not starting
 * with '-' or '.') that runs ex's command, STOPPED; ex is copied.  Returns 0
 * and *out (may be NULL); RN_EINVAL with one line in err for a bad name,
 * an empty or too long command, a program not found, a bad signal or
 * grace; RN_EEXIST if a service of that name exists; RN_ENOMEM. */
int rn_svcctl_add_exec(struct rn_svcctl *sc, const char *name, const struct rn_svc_exec *ex,
                       struct rn_svc **out, char *err, size_t errlen);

/* [L] Removes a STOPPED service: it is no longer listed and its object
 * is killed; svc must not be used afterwards.  Returns 0, or RN_EBUSY
 * with one line in err if it is not STOPPED. */
int rn_svcctl_remove(struct rn_svcctl *sc, struct rn_svc *svc, char *err, size_t errlen);

/* What a service that is a command runs and how its last run ended. */
struct rn_svc_exec_info {
    const char *const *ei_argv;   /* the command as added, ended by NULL:
                                     valid while the service is */
    int ei_stop_signal;           /* its stop signal */
    bool ei_stop_main;            /* sent to the command alone */
    rn_time_t ei_grace;           /* before SIGKILL */
    int32_t ei_pid;               /* the running command's pid (and its
                                     group's id), else 0 */
    uint64_t ei_run;              /* its "real process" object, else 0 */
    bool ei_exited;               /* the command of the current run, or of
                                     the last one, has exited: */
    int ei_exit_status;           /*   its exit status, or -1 if a signal
                                     killed it */
    int ei_exit_signal;           /*   that signal, else 0 */
    rn_time_t ei_exited_at;       /*   when (rn_clock_now()'s clock) */
    uint32_t ei_group;            /* processes of its group still running,
                                     the command's own not counted, at the
                                     last look (during a stop) */
};

/* [L] Fills *out for a service that runs a command and returns true;
 * false for a built-in kind's. */
bool rn_svc_exec_info(const struct rn_svc *svc, struct rn_svc_exec_info *out);

/* [any] Reads a signal: a name with or without SIG ("TERM", "SIGWINCH",
 * any case) or a number in 1..64.  Returns the signal, or 0 if s is none. */
int rn_svc_signal_parse(const char *s);
/* [any] "SIGTERM" for SIGTERM; "SIG<n>" for one without a name. */
const char *rn_svc_signal_name(int sig, char *buf, size_t len);

#endif /* REFNET_SERVICE_H */
