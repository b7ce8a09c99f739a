/*
 * Services that are real processes (service.h, "Services that are real
 * processes"): the command of a service, its run as an object of type
 * "real process", spawning it in a process group of its own, watching it
 * through a pidfd on the host's loop, the stop signal and the SIGKILL
 * after the grace, the process group's end, and the wait for the refnet
 * processes the command became.
 *
 * A run, in call order:
 *   rn__svc_exec_start() [L]: posix_spawn(launcher + command, own process
 *     group, default signals, REFNET_OWNER="service NAME") -> pidfd_open()
 *     -> the pidfd on the loop; RUNNING
 *   rn__svc_exec_signal() [L] (a stop, or the command's own exit): the
 *     ports its listeners hold are remembered; the stop signal to the
 *     group (or the command alone, while it runs, if so configured); the
 *     grace timer
 *   run_pidfd_ready() [L]: the command exited; its status is read without
 *     reaping it (WNOWAIT), so that its pid, which is the group's id,
 *     cannot be reused while the group is signalled; a command that
 *     exited on its own stops its service (rn__svc_exec_exited())
 *   run_check_group() [L], every RUN_POLL until no process of the group
 *     runs (zombies have exited: they count as gone) -> the command is
 *     reaped -> run_wait_procs(): a wait "rundown" on every refnet process
 *     whose owner is "service NAME"
 *   ... each released [any] -> posted -> run_proc_done() [L]; the last
 *     -> run_finish(): the run is killed, and its release is what the
 *     service's stop waits for.
 * grace_fired() [L]: SIGKILL to the group if any of it still runs.
 *
 * Only this file reaps, and only its own commands, each through its
 * pidfd: waitid(P_PIDFD) never takes another child's status, so nothing
 * else in the process that waits for children of its own is raced, and
 * no SIGCHLD handler is needed (SIGCHLD must not be ignored, or the
 * kernel reaps the commands itself: their status is then unknown).
 */
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/once.h"
#include "refnet/error.h"
#include "refnet/loop.h"
#include "refnet/report.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "svc/svc_priv.h"
#include "transport/netstat.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

/* How often the process group is looked at once the command exited. */
#define RUN_POLL RN_MSEC(50)
/* How long a detach waits for a killed group to go. */
#define RUN_DETACH_WAIT RN_SEC(2)
/* The most grace a stop may be given. */
#define RUN_GRACE_MAX RN_SEC(3600)

/* The command of a service. */
struct svc_exec {
    char **ex_argv;             /* [I] malloc'd, NULL-ended */
    int ex_stop_signal;         /* [I] */
    rn_time_t ex_grace;         /* [I] */
    bool ex_stop_main;          /* [I] the stop signal to the command alone */
    /* How the last run's command ended, for listings. */
    bool ex_exited;             /* [L] a run ended */
    int ex_exit_status;         /* [L] */
    int ex_exit_signal;         /* [L] */
    rn_time_t ex_exited_at;     /* [L] */
    /* The TCP ports the last run's listeners held when its stop began: a
     * start checks them, so that a port its own stuck stop still holds is
     * named. */
    size_t ex_nports;                        /* [L] */
    uint32_t ex_addr[RN_SVC_PORTS_MAX];      /* [L] */
    uint16_t ex_port[RN_SVC_PORTS_MAX];      /* [L] */
};

enum run_phase {
    RUN_RUNNING,   /* the command runs; no stop asked */
    RUN_STOPPING,  /* the stop signal was sent; the command runs */
    RUN_EXITED,    /* the command exited (not reaped); its group may run */
    RUN_RUNDOWN,   /* the group is gone; refnet's cleanups are awaited */
    RUN_DONE,      /* everything ended; killed */
};

/* One refnet process of the run, waited for. */
struct run_wait {
    struct rn_ob_wait rw_wait;  /* "rundown": the process's release */
    struct rn_work rw_work;     /* posted when it fires */
    struct svc_run *rw_run;     /* [I] */
};

/* A run of a command: an object of type "real process". */
struct svc_run {
    struct rn_svc *ru_svc;             /* [I] its service, which waits for
                                          the run's release at its stop */
    struct rn_stack *ru_stack;         /* [I] */
    struct rn_loop *ru_loop;           /* [L] the host's, NULL once detached */
    char ru_name[SVC_NAME_MAX];        /* [I] the service's name */
    int32_t ru_pid;                    /* [I] the command; its group's id */
    atomic_bool ru_ready;              /* [A] the fields above are written */
    int ru_pidfd;                      /* [L] -1 once reaped */
    bool ru_watching;                  /* [L] ru_pidfd is on the loop */
    struct rn_timer ru_grace;          /* [L] SIGKILL, armed by the stop */
    struct rn_timer ru_poll;           /* [L] looks at the group */
    bool ru_grace_armed;               /* [L] */
    bool ru_poll_armed;                /* [L] */
    _Atomic uint8_t ru_phase;          /* [A] enum run_phase */
    _Atomic rn_time_t ru_started;      /* [A] rn_clock_now() at the spawn */
    _Atomic int ru_signal;             /* [A] the stop signal sent, or 0 */
    _Atomic rn_time_t ru_signalled;    /* [A] when */
    _Atomic rn_time_t ru_grace_end;    /* [A] when SIGKILL is due */
    _Atomic rn_time_t ru_killed;       /* [A] when SIGKILL went, or 0 */
    _Atomic rn_time_t ru_exited;       /* [A] when the command exited */
    _Atomic int ru_status;             /* [A] its exit status, -1: a signal */
    _Atomic int ru_exit_signal;        /* [A] that signal */
    _Atomic uint32_t ru_group;         /* [A] others of the group running */
    _Atomic uint32_t ru_procs;         /* [A] refnet processes waited for */
    _Atomic uint32_t ru_procs_left;    /* [A] of them not yet released */
    struct run_wait *ru_waits;         /* [L] malloc'd, ru_nwaits */
    size_t ru_nwaits;                  /* [L] */
};

/* ---- Signals ----------------------------------------------------------------- */

int rn_svc_signal_parse(const char *s)
{
    const char *n = s;
    char *end;
    long v;
    int sig;

    if (s == NULL || s[0] == '\0')
        return 0;
    if (isdigit((unsigned char)s[0])) {
        errno = 0;
        v = strtol(s, &end, 10);
        return errno == 0 && *end == '\0' && v >= 1 && v < NSIG ? (int)v : 0;
    }
    if (strncasecmp(n, "SIG", 3) == 0)
        n += 3;
    for (sig = 1; sig < NSIG; sig++) {
        const char *abbrev = sigabbrev_np(sig);

        if (abbrev != NULL && strcasecmp(abbrev, n) == 0)
            return sig;
    }
    return 0;
}

const char *rn_svc_signal_name(int sig, char *buf, size_t len)
{
    const char *abbrev = sig > 0 && sig < NSIG ? sigabbrev_np(sig) : NULL;

    if (abbrev != NULL)
        snprintf(buf, len, "SIG%s", abbrev);
    else
        snprintf(buf, len, "SIG%d", sig);
    return buf;
}

/* "exit status 0", "killed by SIGKILL". */
static const char *fmt_status(int status, int sig, char *buf, size_t len)
{
    char sn[16];

    if (status >= 0)
        snprintf(buf, len, "exit status %d", status);
    else if (sig > 0)
        snprintf(buf, len, "killed by %s", rn_svc_signal_name(sig, sn, sizeof(sn)));
    else
        snprintf(buf, len, "status unknown (reaped elsewhere)");
    return buf;
}

/* ---- The object type ------------------------------------------------------------ */

static void run_describe(const void *ob, char *buf, size_t len)
{
    const struct svc_run *ru = ob;
    enum run_phase phase;
    rn_time_t now = rn_clock_now(), t, grace_end;
    char a[32], b[32], st[48], sn[16];
    size_t off;
    int sig;

    if (!atomic_load_explicit(&ru->ru_ready, memory_order_acquire))
        return;
    phase = atomic_load_explicit(&ru->ru_phase, memory_order_acquire);
    sig = atomic_load_explicit(&ru->ru_signal, memory_order_relaxed);
    off = (size_t)snprintf(buf, len, "real process %s (pid %" PRId32 ") ", ru->ru_name,
                           ru->ru_pid);
    if (off >= len)
        return;
    if (phase == RUN_RUNNING || phase == RUN_STOPPING) {
        t = atomic_load_explicit(&ru->ru_started, memory_order_relaxed);
        off += (size_t)snprintf(buf + off, len - off, "running for %s",
                                rn_fmt_age(now > t ? now - t : 0, a, sizeof(a)));
    } else {
        t = atomic_load_explicit(&ru->ru_exited, memory_order_relaxed);
        off += (size_t)snprintf(
            buf + off, len - off, "exited %s ago, %s",
            rn_fmt_age(now > t ? now - t : 0, a, sizeof(a)),
            fmt_status(atomic_load_explicit(&ru->ru_status, memory_order_relaxed),
                       atomic_load_explicit(&ru->ru_exit_signal, memory_order_relaxed), st,
                       sizeof(st)));
    }
    if (off < len && sig != 0) {
        t = atomic_load_explicit(&ru->ru_signalled, memory_order_relaxed);
        off += (size_t)snprintf(buf + off, len - off, ", %s sent %s ago",
                                rn_svc_signal_name(sig, sn, sizeof(sn)),
                                rn_fmt_age(now > t ? now - t : 0, a, sizeof(a)));
    }
    if (off < len && (phase == RUN_STOPPING || phase == RUN_EXITED) && sig != 0) {
        t = atomic_load_explicit(&ru->ru_killed, memory_order_relaxed);
        grace_end = atomic_load_explicit(&ru->ru_grace_end, memory_order_relaxed);
        if (t != 0)
            off += (size_t)snprintf(buf + off, len - off, ", SIGKILL sent %s ago",
                                    rn_fmt_age(now > t ? now - t : 0, b, sizeof(b)));
        else
            off += (size_t)snprintf(buf + off, len - off, ", SIGKILL in %s",
                                    rn_fmt_age(grace_end > now ? grace_end - now : 0, b,
                                               sizeof(b)));
    }
    if (off >= len)
        return;
    switch (phase) {
    case RUN_EXITED: {
        uint32_t n = atomic_load_explicit(&ru->ru_group, memory_order_relaxed);

        snprintf(buf + off, len - off, "; %" PRIu32 " other process%s of its group still "
                 "running", n, n == 1 ? "" : "es");
        break;
    }
    case RUN_RUNDOWN:
        snprintf(buf + off, len - off, "; its process group is gone, refnet's cleanup of %"
                 PRIu32 " of %" PRIu32 " process%s pending",
                 atomic_load_explicit(&ru->ru_procs_left, memory_order_relaxed),
                 atomic_load_explicit(&ru->ru_procs, memory_order_relaxed),
                 atomic_load_explicit(&ru->ru_procs, memory_order_relaxed) == 1 ? "" : "es");
        break;
    case RUN_DONE:
        snprintf(buf + off, len - off, "; run down");
        break;
    default:
        break;
    }
}

static void run_release(void *ob)
{
    struct svc_run *ru = ob;

    /* Every wait fired (the run ends only then), or the run never got
     * that far. */
    free(ru->ru_waits);
    if (ru->ru_pidfd >= 0)
        close(ru->ru_pidfd);
}

static const struct rn_ob_type_ops run_ops = {
    .name = "real process",
    .size = sizeof(struct svc_run),
    .release = run_release,
    .describe = run_describe,
};

static struct rn_ob_type *run_type;
static struct rn_once run_once = RN_ONCE_INIT;

static bool run_types(void)
{
    run_type = rn_ob_type_register(&run_ops);
    return run_type != NULL;
}

/* ---- Commands -------------------------------------------------------------------- */

/* True if path is an executable regular file. */
static bool is_program(const char *path)
{
    struct stat sb;

    return access(path, X_OK) == 0 && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* True if prog names an executable file: a path, or a name found in PATH
 * (as posix_spawnp() will look it up). */
static bool program_found(const char *prog)
{
    const char *path = getenv("PATH"), *p, *colon;
    char buf[4096];

    if (strchr(prog, '/') != NULL)
        return is_program(prog);
    if (path == NULL)
        path = "/bin:/usr/bin";
    for (p = path;; p = colon + 1) {
        colon = strchrnul(p, ':');
        /* An empty entry is the current directory. */
        if (snprintf(buf, sizeof(buf), "%.*s/%s", colon == p ? 1 : (int)(colon - p), colon == p ? "." : p,
                     prog) < (int)sizeof(buf) && is_program(buf))
            return true;
        if (*colon == '\0')
            return false;
    }
}

static void argv_free(char **argv)
{
    size_t i;

    if (argv == NULL)
        return;
    for (i = 0; argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}

/* A malloc'd copy of a NULL-ended vector of at most max words, or NULL
 * (*n is then 0 for no memory, or the count if there were too many). */
static char **argv_copy(const char *const *argv, size_t max, size_t *n)
{
    char **v;
    size_t i, k;

    for (k = 0; argv[k] != NULL; k++)
        if (k == max) {
            *n = k + 1;
            return NULL;
        }
    *n = 0;
    v = calloc(k + 1, sizeof(*v));
    if (v == NULL)
        return NULL;
    for (i = 0; i < k; i++) {
        v[i] = strdup(argv[i]);
        if (v[i] == NULL) {
            argv_free(v);
            return NULL;
        }
    }
    *n = k;
    return v;
}

int rn__svc_exec_new(const struct rn_svc_exec *ex, struct svc_exec **out, char *err,
                     size_t errlen)
{
    struct svc_exec *e;
    size_t n = 0, i;
    char **v;

    if (ex->ex_argv == NULL || ex->ex_argv[0] == NULL || ex->ex_argv[0][0] == '\0') {
        snprintf(err, errlen, "no command given");
        return RN_EINVAL;
    }
    if (ex->ex_stop_signal < 0 || ex->ex_stop_signal >= NSIG) {
        snprintf(err, errlen, "stop signal %d: not a signal", ex->ex_stop_signal);
        return RN_EINVAL;
    }
    if (ex->ex_stop_signal == SIGKILL || ex->ex_stop_signal == SIGSTOP) {
        snprintf(err, errlen, "the stop signal cannot be SIG%s: a stop must give the command "
                 "the chance to end by itself", sigabbrev_np(ex->ex_stop_signal));
        return RN_EINVAL;
    }
    if (ex->ex_grace > RUN_GRACE_MAX) {
        snprintf(err, errlen, "the grace before SIGKILL is at most 3600 s");
        return RN_EINVAL;
    }
    if (!program_found(ex->ex_argv[0])) {
        snprintf(err, errlen, "%s: %s", ex->ex_argv[0], strchr(ex->ex_argv[0], '/') ?
                 "not an executable file" : "no such program in PATH");
        return RN_EINVAL;
    }
    v = argv_copy(ex->ex_argv, RN_SVC_EXEC_ARGV_MAX, &n);
    if (v == NULL && n > 0) {
        snprintf(err, errlen, "a command has at most %d words", RN_SVC_EXEC_ARGV_MAX);
        return RN_EINVAL;
    }
    e = v != NULL ? calloc(1, sizeof(*e)) : NULL;
    if (e == NULL) {
        argv_free(v);
        snprintf(err, errlen, "out of memory");
        return RN_ENOMEM;
    }
    for (i = 0; v[i] != NULL; i++)
        ;
    e->ex_argv = v;
    e->ex_stop_signal = ex->ex_stop_signal ? ex->ex_stop_signal : SIGTERM;
    e->ex_grace = ex->ex_grace ? ex->ex_grace : RN_SVC_GRACE_DEFAULT;
    e->ex_stop_main = ex->ex_stop_main;
    *out = e;
    return 0;
}

void rn__svc_exec_free(struct svc_exec *ex)
{
    if (ex == NULL)
        return;
    argv_free(ex->ex_argv);
    free(ex);
}

/* ---- The host -------------------------------------------------------------------- */

int rn_svcctl_exec_attach(struct rn_svcctl *sc, const struct rn_svc_exec_host *host)
{
    char **l = NULL;
    size_t n = 0;

    assert(host != NULL && host->eh_loop != NULL);
    if (sc->sc_loop != NULL)
        return RN_EBUSY;
    if (!rn_once(&run_once, run_types))
        return RN_ENOMEM;
    if (host->eh_launcher != NULL) {
        l = argv_copy(host->eh_launcher, RN_SVC_EXEC_ARGV_MAX, &n);
        if (l == NULL)
            return n > 0 ? RN_EINVAL : RN_ENOMEM;
    }
    sc->sc_loop = host->eh_loop;
    sc->sc_launcher = l;
    return 0;
}

/* ---- Spawning ---------------------------------------------------------------------- */

/* The environment of a command: ours, REFNET_OWNER set to its service.
 * Returns a malloc'd vector whose strings are environ's but the first, or
 * NULL. */
static char **run_env(const char *owner_var)
{
    size_t n = 0, i, k = 0;
    char **env;

    for (n = 0; environ != NULL && environ[n] != NULL; n++)
        ;
    env = calloc(n + 2, sizeof(*env));
    if (env == NULL)
        return NULL;
    env[k++] = (char *)owner_var;
    for (i = 0; i < n; i++) {
        if (strncmp(environ[i], "REFNET_OWNER=", 13) != 0)
            env[k++] = environ[i];
    }
    env[k] = NULL;
    return env;
}

/* Spawns the launcher and the command in a process group of their own.
 * Returns 0 and *pid, or a negative code with one line in err. */
static int run_spawn(struct rn_svc *svc, pid_t *pid, char *err, size_t errlen)
{
    struct rn_svcctl *sc = svc->sv_ctl;
    char **cmd = svc->sv_exec->ex_argv, **argv = NULL, **env = NULL;
    char owner[24 + SVC_NAME_MAX];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    size_t nl = 0, nc = 0, i;
    sigset_t none, all;
    int e, rc = 0;

    while (sc->sc_launcher != NULL && sc->sc_launcher[nl] != NULL)
        nl++;
    while (cmd[nc] != NULL)
        nc++;
    argv = calloc(nl + nc + 1, sizeof(*argv));
    snprintf(owner, sizeof(owner), "REFNET_OWNER=service %s", svc->sv_name);
    env = run_env(owner);
    if (argv == NULL || env == NULL) {
        free(argv);
        free(env);
        snprintf(err, errlen, "out of memory");
        return RN_ENOMEM;
    }
    for (i = 0; i < nl; i++)
        argv[i] = sc->sc_launcher[i];
    for (i = 0; i < nc; i++)
        argv[nl + i] = cmd[i];
    /* Its own process group, every signal at its default and none blocked
     * (the daemon blocks SIGTERM for its signalfd and ignores SIGPIPE;
     * both would be inherited), stdin from /dev/null; stdout and stderr
     * are the host's. */
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_init(&fa);
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    /* Nothing of the host's but stdout and stderr: a descriptor the host
     * opened without close-on-exec (a library's file) stays its own. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    e = posix_spawnp(pid, argv[0], &fa, &at, argv, env);
    if (e != 0) {
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(e));
        rc = e == ENOMEM ? RN_ENOMEM : e == ENOENT ? RN_ENOENT : e == EACCES ? RN_EACCES
                                                                            : RN_EIO;
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    free(argv);
    free(env);
    return rc;
}

/* ---- The process group ------------------------------------------------------------- */

/* Counts the processes of group pgid that run, its leader (the command,
 * exited and not reaped) not counted.  A zombie has exited: it does not
 * count.  Reads /proc; without it the group counts as gone. */
static uint32_t group_running(pid_t pgid)
{
    struct dirent *de;
    uint32_t n = 0;
    DIR *d = opendir("/proc");

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char path[64], buf[512], state;
        const char *close_paren;
        long pid, ppid, pgrp;
        ssize_t len;
        int fd;

        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        pid = strtol(de->d_name, NULL, 10);
        if (pid == pgid)
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;  /* gone meanwhile */
        len = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = '\0';
        /* "pid (comm) S ppid pgrp ...": comm may hold anything. */
        close_paren = strrchr(buf, ')');
        if (close_paren == NULL ||
            sscanf(close_paren + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3)
            continue;
        if (pgrp == pgid && state != 'Z' && state != 'X')
            n++;
    }
    closedir(d);
    return n;
}

/* ---- Waiting for the refnet processes ------------------------------------------------ */

static void run_finish(struct svc_run *ru)
{
    struct svc_exec *ex = ru->ru_svc->sv_exec;

    assert(ru->ru_nwaits == 0 || atomic_load(&ru->ru_procs_left) == 0);
    ex->ex_exited = true;
    ex->ex_exit_status = atomic_load_explicit(&ru->ru_status, memory_order_relaxed);
    ex->ex_exit_signal = atomic_load_explicit(&ru->ru_exit_signal, memory_order_relaxed);
    ex->ex_exited_at = atomic_load_explicit(&ru->ru_exited, memory_order_relaxed);
    atomic_store_explicit(&ru->ru_phase, RUN_DONE, memory_order_release);
    /* The service forgets the run before it may be released (listings
     * read ex from now on); the creator's reference goes, and the
     * release is what the service's stop waits for. */
    ru->ru_svc->sv_run = NULL;
    rn_ob_kill(ru);
}

static void run_proc_done(struct rn_stack *st, struct rn_work *w)
{
    struct run_wait *rw = (struct run_wait *)((char *)w - offsetof(struct run_wait, rw_work));
    struct svc_run *ru = rw->rw_run;

    (void)st;
    if (atomic_fetch_sub_explicit(&ru->ru_procs_left, 1, memory_order_relaxed) == 1)
        run_finish(ru);
}

/* On whichever thread dropped the refnet process's last reference. */
static void run_proc_released(struct rn_ob_wait *w, void *ctx)
{
    struct run_wait *rw = ctx;

    (void)w;
    rn_stack_post(rw->rw_run->ru_stack, &rw->rw_work, run_proc_done);
}

/* The ids of the refnet processes owned by the run's service, into a
 * malloc'd *ids.  Returns how many, or -1 for no memory. */
static ssize_t run_find_procs(struct svc_run *ru, uint64_t **ids)
{
    struct rn_ob_type *type = rn_ob_type_find("process");
    char owner[24 + SVC_NAME_MAX];
    size_t n = 0, cap = 0;
    struct rn_ob_iter it;
    void *ob;

    *ids = NULL;
    if (type == NULL)
        return 0;
    snprintf(owner, sizeof(owner), "service %s", ru->ru_name);
    rn_ob_iter_init(&it, type, RN_TAG_ENUM);
    while ((ob = rn_ob_iter_next(&it)) != NULL) {
        if (strcmp(rn_proc_owner(ob), owner) != 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            uint64_t *v = realloc(*ids, ncap * sizeof(*v));

            if (v == NULL) {
                rn_ob_iter_end(&it);
                free(*ids);
                *ids = NULL;
                return -1;
            }
            *ids = v;
            cap = ncap;
        }
        (*ids)[n++] = rn_ob_id(ob);
    }
    rn_ob_iter_end(&it);
    return (ssize_t)n;
}

/* The group is gone: waits for the service's refnet processes to be
 * released (each one's handles' cleanups completed), or finishes now
 * if it has none.  [L] */
static void run_wait_procs(struct svc_run *ru)
{
    uint64_t *ids;
    ssize_t n = run_find_procs(ru, &ids);
    size_t i, k = 0;

    atomic_store_explicit(&ru->ru_phase, RUN_RUNDOWN, memory_order_release);
    if (n > 0)
        ru->ru_waits = calloc((size_t)n, sizeof(*ru->ru_waits));
    if (n < 0 || (n > 0 && ru->ru_waits == NULL)) {
        /* Nothing to wait with: the stop completes now, and a refnet
         * process still running down is its own chain. */
        rn_report(RN_REPORT_INFO, "service %s: out of memory: its stop does not wait for its "
                  "refnet processes\n", ru->ru_name);
        free(ids);
        run_finish(ru);
        return;
    }
    /* Decrements come only from posted work, on this thread: counting
     * up front is safe. */
    atomic_store_explicit(&ru->ru_procs_left, (uint32_t)n + 1, memory_order_relaxed);
    for (i = 0; i < (size_t)n; i++) {
        struct run_wait *rw = &ru->ru_waits[k];
        void *ob = rn_ob_lookup(ids[i], RN_TAG_LOOKUP);

        if (ob == NULL)
            continue;  /* released meanwhile */
        rw->rw_run = ru;
        if (rn_ob_wait_release(ob, &rw->rw_wait, ru, "rundown", run_proc_released, rw) == 0)
            k++;
        rn_ob_deref(ob, RN_TAG_LOOKUP);
    }
    free(ids);
    ru->ru_nwaits = k;
    atomic_store_explicit(&ru->ru_procs, (uint32_t)k, memory_order_relaxed);
    /* The waits not registered, and the count's extra one. */
    if (atomic_fetch_sub_explicit(&ru->ru_procs_left, (uint32_t)n + 1 - (uint32_t)k,
                                  memory_order_relaxed) == (uint32_t)n + 1 - (uint32_t)k)
        run_finish(ru);
}

/* ---- The command's exit and its group's -------------------------------------------- */

static void run_unwatch(struct svc_run *ru)
{
    if (ru->ru_watching && ru->ru_loop != NULL)
        (void)rn_loop_del_fd(ru->ru_loop, ru->ru_pidfd);
    ru->ru_watching = false;
}

static void run_cancel_timers(struct svc_run *ru)
{
    if (ru->ru_loop == NULL)
        return;
    if (ru->ru_grace_armed)
        rn_loop_timer_cancel(ru->ru_loop, &ru->ru_grace);
    if (ru->ru_poll_armed)
        rn_loop_timer_cancel(ru->ru_loop, &ru->ru_poll);
    ru->ru_grace_armed = false;
    ru->ru_poll_armed = false;
}

/* Records the command's exit from si (WNOWAIT: not reaped), or as
 * unknown. */
static void run_record_exit(struct svc_run *ru, const siginfo_t *si)
{
    int status = -1, sig = 0;

    if (si != NULL && si->si_code == CLD_EXITED)
        status = si->si_status;
    else if (si != NULL)
        sig = si->si_status;
    atomic_store_explicit(&ru->ru_status, status, memory_order_relaxed);
    atomic_store_explicit(&ru->ru_exit_signal, sig, memory_order_relaxed);
    atomic_store_explicit(&ru->ru_exited, rn_clock_now(), memory_order_relaxed);
    atomic_store_explicit(&ru->ru_phase, RUN_EXITED, memory_order_release);
}

/* Reaps the command (its status was read) and forgets its pidfd. */
static void run_reap(struct svc_run *ru)
{
    siginfo_t si;

    if (ru->ru_pidfd < 0)
        return;
    memset(&si, 0, sizeof(si));
    (void)waitid((idtype_t)P_PIDFD, (id_t)ru->ru_pidfd, &si, WEXITED | WNOHANG);
    close(ru->ru_pidfd);
    ru->ru_pidfd = -1;
}

/* Looks at the group once the command exited: polls again while any of
 * it runs; else reaps the command and waits for refnet's cleanups. */
static void run_check_group(struct svc_run *ru)
{
    uint32_t n = group_running(ru->ru_pid);

    atomic_store_explicit(&ru->ru_group, n, memory_order_relaxed);
    if (n > 0 && ru->ru_loop != NULL) {
        if (rn_loop_timer_arm(ru->ru_loop, &ru->ru_poll, rn_loop_now(ru->ru_loop) + RUN_POLL) ==
            0) {
            ru->ru_poll_armed = true;
            return;
        }
        /* No memory for the timer: the group is not waited for. */
    }
    run_cancel_timers(ru);
    run_reap(ru);
    run_wait_procs(ru);
}

static void run_poll_fired(struct rn_timer *t, rn_time_t now)
{
    struct svc_run *ru = (struct svc_run *)((char *)t - offsetof(struct svc_run, ru_poll));

    (void)now;
    ru->ru_poll_armed = false;
    run_check_group(ru);
}

static void run_pidfd_ready(struct rn_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct svc_run *ru = ctx;
    bool on_its_own;
    siginfo_t si;

    (void)loop;
    (void)events;
    memset(&si, 0, sizeof(si));
    if (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno == EINTR)
            return;
        /* ECHILD: reaped by someone else (SIGCHLD ignored): exited. */
        run_record_exit(ru, NULL);
    } else if (si.si_pid == 0) {
        return;  /* not yet */
    } else {
        run_record_exit(ru, &si);
    }
    run_unwatch(ru);
    on_its_own = atomic_load_explicit(&ru->ru_signal, memory_order_relaxed) == 0;
    if (on_its_own) {
        char st[48];

        rn_report(RN_REPORT_INFO, "service %s: its command (pid %" PRId32 ") exited on its "
                  "own, %s; the service stops\n", ru->ru_name, ru->ru_pid,
                  fmt_status(atomic_load(&ru->ru_status), atomic_load(&ru->ru_exit_signal),
                             st, sizeof(st)));
        /* The service stops; the rest of the group gets the stop signal
         * (rn__svc_exec_signal()). */
        rn__svc_exec_exited(ru->ru_svc);
    }
    run_check_group(ru);
}

static void run_grace_fired(struct rn_timer *t, rn_time_t now)
{
    struct svc_run *ru = (struct svc_run *)((char *)t - offsetof(struct svc_run, ru_grace));
    enum run_phase phase = atomic_load_explicit(&ru->ru_phase, memory_order_relaxed);

    (void)now;
    ru->ru_grace_armed = false;
    /* The command, exited or not, is not reaped yet: its pid, the group's
     * id, is nobody else's. */
    if (phase == RUN_STOPPING || (phase == RUN_EXITED && group_running(ru->ru_pid) > 0)) {
        char sn[16];

        rn_report(RN_REPORT_INFO, "service %s: %s did not end it within the grace; SIGKILL "
                  "to its process group %" PRId32 "\n", ru->ru_name,
                  rn_svc_signal_name(ru->ru_svc->sv_exec->ex_stop_signal, sn, sizeof(sn)),
                  ru->ru_pid);
        (void)kill(-ru->ru_pid, SIGKILL);
        atomic_store_explicit(&ru->ru_killed, rn_clock_now(), memory_order_relaxed);
    }
}

/* ---- Listeners ---------------------------------------------------------------------- */

/* Remembers the TCP ports the service's listeners hold now. */
static void run_note_ports(struct svc_run *ru)
{
    struct rn_ob_type *type = rn_ob_type_find("tcp listener");
    struct svc_exec *ex = ru->ru_svc->sv_exec;
    char owner[24 + SVC_NAME_MAX];
    struct rn_netstat_row row;
    struct rn_sock_owner ow;
    struct rn_ob_iter it;
    size_t i;
    void *ob;

    ex->ex_nports = 0;
    if (type == NULL)
        return;
    snprintf(owner, sizeof(owner), "service %s", ru->ru_name);
    rn_ob_iter_init(&it, type, RN_TAG_ENUM);
    while ((ob = rn_ob_iter_next(&it)) != NULL && ex->ex_nports < RN_SVC_PORTS_MAX) {
        if (rn_sock_owner_of(ob, &ow) != 0 || strcmp(ow.ow_owner, owner) != 0 ||
            !rn__tcp_netstat_row(ru->ru_stack, ob, &row) || !rn_inaddr_is_v4(&row.nr_laddr))
            continue;  /* (the ports explained are IPv4 ones) */
        for (i = 0; i < ex->ex_nports; i++) {
            if (ex->ex_addr[i] == rn_inaddr_to_v4(&row.nr_laddr) && ex->ex_port[i] == row.nr_lport)
                break;
        }
        if (i == ex->ex_nports) {
            ex->ex_addr[i] = rn_inaddr_to_v4(&row.nr_laddr);
            ex->ex_port[i] = row.nr_lport;
            ex->ex_nports++;
        }
    }
    rn_ob_iter_end(&it);
}

bool rn__svc_exec_explain_ports(struct rn_svc *svc, char *err, size_t errlen)
{
    struct svc_exec *ex = svc->sv_exec;
    struct rn_stack *st = svc->sv_ctl->sc_stack;
    size_t i, off = strlen(err);
    char holder[400];

    for (i = 0; i < ex->ex_nports && st != NULL; i++) {
        uint64_t id = rn_tcp_port_holder(st, ex->ex_addr[i], ex->ex_port[i]);

        if (id == 0 || !rn_svc_port_holder(st, ex->ex_addr[i], ex->ex_port[i], holder,
                                           sizeof(holder)))
            continue;
        if (off == 0)
            off = (size_t)snprintf(err, errlen, "TCP port %u: address in use", ex->ex_port[i]);
        if (off < errlen)
            snprintf(err + off, errlen - off, ": held by %s (`refnet why %" PRIu64
                     "` says why)", holder, id);
        return true;
    }
    return false;
}

/* ---- Start and stop ------------------------------------------------------------------- */

int rn__svc_exec_start(struct rn_svc *svc, char *err, size_t errlen)
{
    struct rn_svcctl *sc = svc->sv_ctl;
    struct svc_exec *ex = svc->sv_exec;
    struct svc_run *ru;
    pid_t pid;
    int e, pidfd;

    assert(svc->sv_run == NULL);
    if (sc->sc_loop == NULL) {
        snprintf(err, errlen, "this controller runs no commands (no host for them is "
                 "attached)");
        return RN_ENOTSUP;
    }
    if (rn__svc_exec_explain_ports(svc, err, errlen))
        return RN_EADDRINUSE;
    if (!program_found(ex->ex_argv[0])) {
        snprintf(err, errlen, "%s: %s", ex->ex_argv[0], strchr(ex->ex_argv[0], '/') ?
                 "not an executable file" : "no such program in PATH");
        return RN_ENOENT;
    }
    ru = rn_ob_create(run_type, RN_TAG_CREATE);
    if (ru == NULL) {
        snprintf(err, errlen, "out of memory");
        return RN_ENOMEM;
    }
    ru->ru_pidfd = -1;
    ru->ru_svc = svc;
    ru->ru_stack = sc->sc_stack;
    ru->ru_loop = sc->sc_loop;
    memcpy(ru->ru_name, svc->sv_name, sizeof(ru->ru_name));
    rn_timer_init(&ru->ru_grace, run_grace_fired);
    rn_timer_init(&ru->ru_poll, run_poll_fired);
    e = run_spawn(svc, &pid, err, errlen);
    if (e != 0) {
        rn_ob_kill(ru);
        return e;
    }
    ru->ru_pid = (int32_t)pid;
    atomic_store_explicit(&ru->ru_started, rn_clock_now(), memory_order_relaxed);
    /* It is our child and nobody reaps it but us: its pid is its own until
     * then, exited or not. */
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0 || fcntl(pidfd, F_SETFD, FD_CLOEXEC) != 0 ||
        rn_loop_add_fd(sc->sc_loop, pidfd, EPOLLIN, run_pidfd_ready, ru) != 0) {
        e = errno;
        snprintf(err, errlen, "cannot watch its process: %s",
                 pidfd < 0 ? strerror(e) : "out of memory");
        (void)kill(-pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
        if (pidfd >= 0)
            close(pidfd);
        rn_ob_kill(ru);
        return pidfd < 0 ? RN_ENOTSUP : RN_ENOMEM;
    }
    ru->ru_pidfd = pidfd;
    ru->ru_watching = true;
    atomic_store_explicit(&ru->ru_phase, RUN_RUNNING, memory_order_relaxed);
    atomic_store_explicit(&ru->ru_ready, true, memory_order_release);
    rn_ob_publish(ru);
    rn_ob_ref(ru, RN_TAG_SERVICE);
    svc->sv_run = ru;
    return 0;
}

void rn__svc_exec_signal(struct rn_svc *svc)
{
    struct svc_run *ru = svc->sv_run;
    struct svc_exec *ex = svc->sv_exec;
    enum run_phase phase;
    rn_time_t now = rn_clock_now();

    assert(ru != NULL);
    phase = atomic_load_explicit(&ru->ru_phase, memory_order_relaxed);
    if (phase >= RUN_RUNDOWN || atomic_load_explicit(&ru->ru_signal, memory_order_relaxed))
        return;
    run_note_ports(ru);
    atomic_store_explicit(&ru->ru_signalled, now, memory_order_relaxed);
    atomic_store_explicit(&ru->ru_grace_end, now + ex->ex_grace, memory_order_relaxed);
    atomic_store_explicit(&ru->ru_signal, ex->ex_stop_signal, memory_order_relaxed);
    if (phase == RUN_RUNNING)
        atomic_store_explicit(&ru->ru_phase, RUN_STOPPING, memory_order_release);
    /* The command is not reaped before its group is gone, so -pid is
     * still its group.  A command that stops its children itself gets the
     * signal alone while it runs; once it exited, nobody else tells them. */
    (void)kill(ex->ex_stop_main && phase == RUN_RUNNING ? ru->ru_pid : -ru->ru_pid,
               ex->ex_stop_signal);
    if (ru->ru_loop != NULL &&
        rn_loop_timer_arm(ru->ru_loop, &ru->ru_grace, rn_loop_now(ru->ru_loop) + ex->ex_grace) ==
            0)
        ru->ru_grace_armed = true;
}

void rn__svc_exec_run_gone(struct rn_svc *svc)
{
    svc->sv_run = NULL;
}

/* Ends a run at once, for a host going away: SIGKILL to the group, the
 * command reaped, a bounded wait for the rest; then the run waits for
 * refnet's cleanups without the loop. */
static void run_detach(struct svc_run *ru)
{
    enum run_phase phase = atomic_load_explicit(&ru->ru_phase, memory_order_relaxed);
    rn_time_t until = rn_clock_os_monotonic() + RUN_DETACH_WAIT;
    struct timespec ts = {0, 10 * 1000 * 1000};
    siginfo_t si;

    run_cancel_timers(ru);
    run_unwatch(ru);
    ru->ru_loop = NULL;
    if (phase >= RUN_RUNDOWN)
        return;
    if (atomic_load_explicit(&ru->ru_signal, memory_order_relaxed) == 0) {
        atomic_store_explicit(&ru->ru_signal, SIGKILL, memory_order_relaxed);
        atomic_store_explicit(&ru->ru_signalled, rn_clock_now(), memory_order_relaxed);
    }
    (void)kill(-ru->ru_pid, SIGKILL);
    atomic_store_explicit(&ru->ru_killed, rn_clock_now(), memory_order_relaxed);
    if (phase < RUN_EXITED) {
        memset(&si, 0, sizeof(si));
        if (waitid((idtype_t)P_PIDFD, (id_t)ru->ru_pidfd, &si, WEXITED | WNOWAIT) == 0)
            run_record_exit(ru, &si);
        else
            run_record_exit(ru, NULL);
    }
    while (group_running(ru->ru_pid) > 0 && rn_clock_os_monotonic() < until)
        nanosleep(&ts, NULL);
    run_reap(ru);
    run_wait_procs(ru);
}

void rn__svc_exec_detach_run(struct rn_svc *svc)
{
    if (svc->sv_run != NULL)
        run_detach(svc->sv_run);
}

bool rn_svc_exec_info(const struct rn_svc *svc, struct rn_svc_exec_info *out)
{
    const struct svc_exec *ex = svc->sv_exec;
    const struct svc_run *ru = svc->sv_run;

    memset(out, 0, sizeof(*out));
    if (ex == NULL)
        return false;
    out->ei_argv = (const char *const *)ex->ex_argv;
    out->ei_stop_signal = ex->ex_stop_signal;
    out->ei_stop_main = ex->ex_stop_main;
    out->ei_grace = ex->ex_grace;
    if (ru != NULL) {
        enum run_phase phase = atomic_load_explicit(&ru->ru_phase, memory_order_relaxed);

        out->ei_run = rn_ob_id(ru);
        out->ei_pid = phase < RUN_RUNDOWN ? ru->ru_pid : 0;
        if (phase >= RUN_EXITED) {
            out->ei_exited = true;
            out->ei_exit_status = atomic_load_explicit(&ru->ru_status, memory_order_relaxed);
            out->ei_exit_signal = atomic_load_explicit(&ru->ru_exit_signal,
                                                       memory_order_relaxed);
            out->ei_exited_at = atomic_load_explicit(&ru->ru_exited, memory_order_relaxed);
        }
        if (phase == RUN_EXITED)
            out->ei_group = atomic_load_explicit(&ru->ru_group, memory_order_relaxed);
        return true;
    }
    if (ex->ex_exited) {
        out->ei_exited = true;
        out->ei_exit_status = ex->ex_exit_status;
        out->ei_exit_signal = ex->ex_exit_signal;
        out->ei_exited_at = ex->ex_exited_at;
    }
    return true;
}
