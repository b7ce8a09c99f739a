/*
 * The service controller's insides, shared by service.c (services, their
 * states, start and stop) and exec.c (services that are real processes:
 * spawning, signals, the process group, the "real process" object).
 */
#ifndef REFNET_SVC_PRIV_H
#define REFNET_SVC_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/object.h"
#include "refnet/runtime.h"
#include "refnet/service.h"

#define SVC_NAME_MAX 32

struct svc_exec;
struct svc_run;

/* How often a drain looks at its progress. */
#define SVC_DRAIN_TICK RN_MSEC(100)

/* A stop that drains first (service.h): the grace, the timer that polls
 * the kind's progress, and that progress for the describe line. */
struct svc_drain {
    rn_time_t dr_grace;                /* [L] 0: stops abort at once */
    bool dr_on;                        /* [L] draining now */
    atomic_bool dr_shown;              /* [A] describe shows the fields below */
    rn_time_t dr_end;                  /* [L] the grace is over then */
    struct rn_timer dr_tick;           /* [L] every SVC_DRAIN_TICK */
    uint64_t dr_sent;                  /* [L] bytes sent at the last tick */
    rn_time_t dr_moved;                /* [L] when a byte was last sent */
    _Atomic uint32_t dr_conns;         /* [A] connections left */
    _Atomic uint64_t dr_left;          /* [A] bytes they still have to send */
    _Atomic uint64_t dr_rate;          /* [A] bytes per second, over the last second */
    _Atomic uint64_t dr_stalled;       /* [A] ns without progress, 0 if moving */
    uint64_t dr_win_sent;              /* [L] the rate's window: bytes then */
    rn_time_t dr_win_at;               /* [L] and its start */
    uint32_t dr_conns_now;             /* [L] connections left at the last look */
    struct rn_ob_wait dr_wait;         /* "drain": on the process, while on */
};

/* The service's condition bits (its contract names them): bit 0 while a
 * stop drains it, bit 1 while that drain is stalled; the verdict on its
 * process reads them. */
#define SVC_COND_DRAINING 0x1u
#define SVC_COND_STALLED 0x2u

struct rn_svc {
    struct rn_svcctl *sv_ctl;          /* [I] */
    const struct rn_svc_kind *sv_kind; /* [I] */
    char sv_name[SVC_NAME_MAX];        /* [I] */
    char *sv_arg;                      /* [I] malloc'd, or NULL */
    struct svc_exec *sv_exec;          /* [I] the command of a service that
                                          is one, else NULL; freed with it */
    _Atomic uint8_t sv_state;          /* [A] enum rn_svc_state */
    atomic_bool sv_ready;              /* [A] the fields above are written:
                                          describe may read them */
    rn_time_t sv_since;                /* [L] when it entered sv_state */
    struct rn_proc *sv_proc;           /* [L] a kind's service: held under
                                          "service" (and the creator's
                                          reference until the exit) from
                                          start to the stop */
    struct svc_run *sv_run;            /* [L] a command's: its real process,
                                          held under "service" from start to
                                          the stop */
    void *sv_kstate;                   /* [L] the kind's state, or NULL */
    bool sv_running;                   /* [L] sv_kstate is a started service's */
    bool sv_waiting;                   /* [L] sv_wait is armed */
    struct rn_ob_wait sv_wait;         /* "stop": the process's (or the real
                                          process's) release */
    struct rn_work sv_work;            /* posted when it fires */
    struct rn_svc_stop *sv_waiters;    /* [L] callers waiting for STOPPED */
    struct svc_drain sv_drain;         /* a draining stop's state */
};

/* The controller's hook on the stack's destruction, which may outlive the
 * controller (rn_svcctl_destroy() before rn_stack_destroy()). */
struct svc_hook {
    struct rn_svcctl *sh_sc;            /* [L] NULL once the controller went */
};

struct rn_svcctl {
    struct rn_stack *sc_stack;          /* [L] the stack (gone after its
                                           destruction: only destroy runs then) */
    char sc_label[16];                  /* [I] with receive-side scaling, its
                                           stack's loop ("loop 1") for the
                                           services' descriptions; "" none */
    struct svc_hook *sc_hook;           /* [L] NULL once it ran */
    const struct rn_svc_kind *sc_kinds; /* [I] */
    struct rn_svc **sc_svcs;            /* [L] in the order added */
    size_t sc_n;                        /* [L] */
    size_t sc_cap;                      /* [L] */
    void (*sc_all_done)(void *ctx);     /* [L] rn_svcctl_stop_all()'s */
    void *sc_all_ctx;                   /* [L] */
    struct rn_loop *sc_loop;            /* [L] the exec host's loop, or NULL
                                           when none is attached */
    char **sc_launcher;                 /* [L] its launcher (malloc'd, NULL-
                                           ended), or NULL */
};

/* The kind every service that is a command has: sk_name "exec". */
extern const struct rn_svc_kind rn__svc_exec_kind;

/* ---- exec.c, for service.c ------------------------------------------------ */

/* Checks and copies a command.  Returns 0 and *out, or RN_EINVAL (err
 * says why) or RN_ENOMEM. */
int rn__svc_exec_new(const struct rn_svc_exec *ex, struct svc_exec **out, char *err,
                     size_t errlen);
/* Frees a command (its service is being released; no run is left). */
void rn__svc_exec_free(struct svc_exec *ex);

/* [L] Spawns svc's command: its real process, held under "service" in
 * svc->sv_run.  Returns 0, or a negative code with one line in err (no
 * run then).  A start while ports its last run listened on are held fails
 * with RN_EADDRINUSE naming the holder. */
int rn__svc_exec_start(struct rn_svc *svc, char *err, size_t errlen);

/* [L] Begins stopping svc's run: its listeners' ports are remembered, the
 * stop signal goes to the group (unless it is gone already), SIGKILL is
 * armed after the grace.  The run then ends by itself. */
void rn__svc_exec_signal(struct rn_svc *svc);

/* [L] svc is STOP_PENDING: appends to err the holder of the first of its
 * last run's ports that is held.  Returns true if one was. */
bool rn__svc_exec_explain_ports(struct rn_svc *svc, char *err, size_t errlen);

/* [L] The host goes: svc's run, if it has one still running, is ended at
 * once (SIGKILL to its group, a bounded wait) and waits for refnet's
 * cleanups without the loop. */
void rn__svc_exec_detach_run(struct rn_svc *svc);

/* [L] The run of svc was released: keeps what the run left for listings. */
void rn__svc_exec_run_gone(struct rn_svc *svc);

/* ---- service.c, for exec.c ------------------------------------------------- */

/* [L] svc's command exited while the service was RUNNING: the service
 * stops (STOP_PENDING until its run is released). */
void rn__svc_exec_exited(struct rn_svc *svc);

#endif /* REFNET_SVC_PRIV_H */
