/*
 * Services that are real processes (service.h), with ordinary programs
 * (sh, sleep, true) on a stack driven by the real-time loop: the command
 * in a process group of its own with REFNET_OWNER set; a stop that
 * signals the group and completes once it is gone; the stop signal
 * configured; SIGKILL after the grace when the signal is ignored, the
 * service STOP_PENDING until then with the real process in its chain; a
 * command that exits on its own while another of its group lingers; a
 * stop held up by a refnet process of the service whose listener is held
 * (the chain service -> real process -> process -> socket -> listener, a
 * start refused naming the port's holder), completing once the hold goes;
 * bad commands and names; remove; and a detach that kills what still runs.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/loop.h"
#include "refnet/object.h"
#include "refnet/service.h"
#include "refnet/socket.h"
#include "refnet/stack.h"
#include "refnet/strbuf.h"
#include "refnet/transport.h"
#include "support.h"

static struct rn_stack *S;
static struct rn_loop *L;
static struct rn_svcctl *SC;

static void setup_host(void)
{
    struct rn_stack_params sp = {.sp_seed = 7};
    struct rn_svc_exec_host h = {0};

    assert_int_equal(rn_stack_create(&sp, &S), 0);
    assert_int_equal(rn_sock_layer_init(S), 0);
    assert_int_equal(rn_loop_create(S, &L), 0);
    assert_int_equal(rn_svcctl_create(S, rn_svc_builtin, &SC), 0);
    h.eh_loop = L;
    assert_int_equal(rn_svcctl_exec_attach(SC, &h), 0);
    assert_int_equal(rn_svcctl_exec_attach(SC, &h), RN_EBUSY);
}

static void teardown_host(void)
{
    rn_svcctl_exec_detach(SC);
    rn_loop_destroy(L);
    assert_int_equal(rn_stack_destroy(S), 0);
    rn_svcctl_destroy(SC);
    check_live_objects(0);
}

/* ---- Running the loop until something holds --------------------------------- */

struct until {
    bool (*u_cond)(void *ctx);
    void *u_ctx;
    rn_time_t u_deadline;
    struct rn_timer u_timer;
    bool u_met;
};

static void until_tick(struct rn_timer *t, rn_time_t now)
{
    struct until *u = (struct until *)((char *)t - offsetof(struct until, u_timer));

    if (u->u_cond(u->u_ctx)) {
        u->u_met = true;
        rn_loop_stop(L);
    } else if (now >= u->u_deadline) {
        rn_loop_stop(L);
    } else {
        assert_int_equal(rn_loop_timer_arm(L, t, now + RN_MSEC(5)), 0);
    }
}

/* Runs the loop until cond(ctx) holds (true) or limit passed (false). */
static bool loop_until(bool (*cond)(void *ctx), void *ctx, rn_time_t limit)
{
    struct until u = {cond, ctx, rn_loop_now(L) + limit, {0}, false};

    if (cond(ctx))
        return true;
    rn_timer_init(&u.u_timer, until_tick);
    assert_int_equal(rn_loop_timer_arm(L, &u.u_timer, rn_loop_now(L) + RN_MSEC(5)), 0);
    assert_int_equal(rn_loop_run(L), 0);
    rn_loop_timer_cancel(L, &u.u_timer);
    return u.u_met;
}

static bool never(void *ctx)
{
    (void)ctx;
    return false;
}

static void loop_for(rn_time_t d)
{
    (void)loop_until(never, NULL, d);
}

static bool stopped(void *ctx)
{
    return rn_svc_state(ctx) == RN_SVC_STOPPED;
}

static bool stop_pending(void *ctx)
{
    return rn_svc_state(ctx) == RN_SVC_STOP_PENDING;
}

/* What a stop waiter heard. */
struct heard {
    int h_calls;
    int h_result;
};

static void heard_fn(struct rn_svc_stop *stp, int result, void *ctx)
{
    struct heard *h = ctx;

    (void)stp;
    h->h_calls++;
    h->h_result = result;
}

static bool heard(void *ctx)
{
    return ((struct heard *)ctx)->h_calls > 0;
}

/* Adds a service of name running argv (NULL-ended), stop signal sig (0:
 * default) and grace (0: default), and starts it; returns it. */
static struct rn_svc *add_started_main(const char *name, const char *const *argv, int sig,
                                       rn_time_t grace, bool stop_main)
{
    struct rn_svc_exec ex = {argv, sig, grace, stop_main};
    struct rn_svc *svc;
    char err[600];

    err[0] = '\0';
    if (rn_svcctl_add_exec(SC, name, &ex, &svc, err, sizeof(err)) != 0)
        fail_msg("add %s: %s", name, err);
    if (rn_svc_start(svc, err, sizeof(err)) != 0)
        fail_msg("start %s: %s", name, err);
    assert_int_equal(rn_svc_state(svc), RN_SVC_RUNNING);
    return svc;
}

static struct rn_svc *add_started(const char *name, const char *const *argv, int sig,
                                  rn_time_t grace)
{
    return add_started_main(name, argv, sig, grace, false);
}

static pid_t pid_of(struct rn_svc *svc)
{
    struct rn_svc_exec_info ei;

    assert_true(rn_svc_exec_info(svc, &ei));
    return ei.ei_pid;
}

/* True while a process of pid exists and is no zombie. */
static bool running(pid_t pid)
{
    char path[64], buf[512], *p, st;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return false;
    if (fgets(buf, sizeof(buf), f) == NULL) {
        fclose(f);
        return false;
    }
    fclose(f);
    p = strrchr(buf, ')');
    return p != NULL && sscanf(p + 1, " %c", &st) == 1 && st != 'Z' && st != 'X';
}

/* Its environment holds needle (a NUL-terminated "NAME=VALUE"). */
static bool env_has(pid_t pid, const char *needle)
{
    char path[64], buf[65536];
    size_t n, off;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return false;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (off = 0; off < n; off += strlen(buf + off) + 1) {
        if (strcmp(buf + off, needle) == 0)
            return true;
    }
    return false;
}

static void stop_wait(struct rn_svc *svc, rn_time_t limit)
{
    struct rn_svc_stop stp;
    struct heard h = {0};

    assert_int_equal(rn_svc_stop(svc, 0, &stp, heard_fn, &h), 0);
    assert_int_equal(rn_svc_state(svc), RN_SVC_STOP_PENDING);
    assert_true(loop_until(heard, &h, limit));
    assert_int_equal(h.h_result, 0);
    assert_int_equal(rn_svc_state(svc), RN_SVC_STOPPED);
}

/* ---- Tests ---------------------------------------------------------------------- */

static void test_start_stop(void **state)
{
    static const char *const argv[] = {"sleep", "30", NULL};
    struct rn_svc_exec_info ei;
    struct rn_svc *svc;
    char desc[200], want[100];
    void *ru;
    pid_t pid;

    (void)state;
    setup_host();
    svc = add_started("sleeper", argv, 0, 0);
    pid = pid_of(svc);
    assert_true(pid > 0);
    assert_true(running(pid));
    /* Its own process group, and the service's owner in its environment. */
    assert_int_equal(getpgid(pid), pid);
    assert_int_not_equal(getpgid(pid), getpgid(0));
    /* The parent of a vfork-style spawn resumes while the child's exec
     * is still setting up its environment: look until it is there. */
    {
        int i;

        for (i = 0; i < 100 && !env_has(pid, "REFNET_OWNER=service sleeper"); i++)
            usleep(10000);
        assert_true(env_has(pid, "REFNET_OWNER=service sleeper"));
    }
    assert_null(rn_svc_proc(svc));
    ru = find_object("real process", "real process sleeper");
    assert_non_null(ru);
    rn_ob_describe(ru, desc, sizeof(desc));
    rn_ob_deref(ru, RN_TAG_LOOKUP);
    snprintf(want, sizeof(want), "real process sleeper (pid %d) running for", (int)pid);
    if (strstr(desc, want) == NULL)
        fail_msg("describe: %s", desc);
    assert_true(rn_svc_exec_info(svc, &ei));
    assert_int_equal(ei.ei_stop_signal, SIGTERM);
    assert_int_equal(ei.ei_grace, RN_SVC_GRACE_DEFAULT);
    assert_string_equal(ei.ei_argv[0], "sleep");
    assert_false(ei.ei_exited);

    /* SIGTERM ends it: STOPPED once the group is gone. */
    stop_wait(svc, RN_SEC(3));
    assert_false(running(pid));
    assert_int_equal(count_type("real process"), 0);
    assert_true(rn_svc_exec_info(svc, &ei));
    assert_int_equal(ei.ei_pid, 0);
    assert_true(ei.ei_exited);
    assert_int_equal(ei.ei_exit_status, -1);
    assert_int_equal(ei.ei_exit_signal, SIGTERM);
    /* It was reaped: no zombie is left. */
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);

    /* It starts again, with a new pid, and stops again. */
    assert_int_equal(rn_svc_start(svc, desc, sizeof(desc)), 0);
    assert_int_not_equal(pid_of(svc), pid);
    stop_wait(svc, RN_SEC(3));
    teardown_host();
}

/* A stop signal of its own, and the exit status it leads to. */
static void test_stop_signal(void **state)
{
    static const char *const argv[] = {
        "sh", "-c", "trap 'exit 7' WINCH; while :; do sleep 0.02; done", NULL};
    struct rn_svc_exec_info ei;
    struct rn_svc *svc;

    (void)state;
    setup_host();
    svc = add_started("winch", argv, SIGWINCH, 0);
    loop_for(RN_MSEC(100)); /* the trap is set */
    stop_wait(svc, RN_SEC(3));
    assert_true(rn_svc_exec_info(svc, &ei));
    assert_int_equal(ei.ei_stop_signal, SIGWINCH);
    assert_int_equal(ei.ei_exit_status, 7);
    assert_int_equal(ei.ei_exit_signal, 0);
    teardown_host();
}

/* A command that ignores its stop signal: STOP_PENDING, with the real
 * process in its chain, until SIGKILL after the grace. */
static void test_grace_then_kill(void **state)
{
    static const char *const argv[] = {"sh", "-c", "trap '' TERM; sleep 30 & wait", NULL};
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct rn_svc_exec_info ei;
    struct rn_svc_stop stp;
    struct heard h = {0};
    struct rn_svc *svc;
    rn_time_t t0;
    char want[96];
    pid_t pid;

    (void)state;
    setup_host();
    svc = add_started("stubborn", argv, 0, RN_MSEC(600));
    pid = pid_of(svc);
    loop_for(RN_MSEC(100));
    t0 = rn_loop_now(L);
    assert_int_equal(rn_svc_stop(svc, RN_MSEC(200), &stp, heard_fn, &h), 0);
    assert_true(loop_until(heard, &h, RN_SEC(1)));
    assert_int_equal(h.h_result, RN_ETIMEDOUT);
    assert_int_equal(rn_svc_state(svc), RN_SVC_STOP_PENDING);
    assert_true(running(pid));

    /* The chain: the service waits for its real process, which runs. */
    assert_true(rn_svc_why(svc, RN_SEC(10), &sb) >= 1);
    snprintf(want, sizeof(want), "real process stubborn (pid %d) running for", (int)pid);
    if (strstr(rn_strbuf_str(&sb), "service stubborn STOP_PENDING") == NULL ||
        strstr(rn_strbuf_str(&sb), want) == NULL ||
        strstr(rn_strbuf_str(&sb), ", SIGTERM sent ") == NULL ||
        strstr(rn_strbuf_str(&sb), ", SIGKILL in ") == NULL ||
        strstr(rn_strbuf_str(&sb), "stop pending") == NULL)
        fail_msg("chain:\n%s", rn_strbuf_str(&sb));
    rn_strbuf_free(&sb);

    /* SIGKILL after the grace ends it. */
    assert_true(loop_until(stopped, svc, RN_SEC(3)));
    assert_true(rn_loop_now(L) - t0 >= RN_MSEC(600));
    assert_false(running(pid));
    assert_true(rn_svc_exec_info(svc, &ei));
    assert_int_equal(ei.ei_exit_signal, SIGKILL);
    teardown_host();
}

/* The command exits on its own; another process of its group stays: the
 * service stops by itself and is STOP_PENDING until the group is gone. */
static void test_exit_on_its_own(void **state)
{
    static const char *const argv[] = {
        "sh", "-c", "(trap '' TERM; exec sleep 30) & echo $! >\"$0\"; sleep 0.2; exit 3", NULL, NULL};
    char path[] = "/tmp/refnet-test-exec-XXXXXX", buf[32], desc[300];
    const char *v[5];
    struct rn_svc_exec_info ei;
    struct rn_svc *svc;
    pid_t child = 0;
    void *ru;
    FILE *f;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    memcpy(v, argv, sizeof(argv));
    v[3] = path;
    setup_host();
    svc = add_started("lingers", v, 0, RN_MSEC(400));
    assert_true(loop_until(stop_pending, svc, RN_SEC(3)));
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    unlink(path);
    child = (pid_t)atoi(buf);
    assert_true(child > 0);
    assert_true(running(child));
    assert_int_equal(getpgid(child), pid_of(svc));
    assert_true(rn_svc_exec_info(svc, &ei));
    assert_true(ei.ei_exited);
    assert_int_equal(ei.ei_exit_status, 3);
    loop_for(RN_MSEC(100));
    ru = find_object("real process", "real process lingers");
    assert_non_null(ru);
    rn_ob_describe(ru, desc, sizeof(desc));
    rn_ob_deref(ru, RN_TAG_LOOKUP);
    if (strstr(desc, "exited ") == NULL || strstr(desc, "exit status 3") == NULL ||
        strstr(desc, "1 other process of its group still running") == NULL)
        fail_msg("describe: %s", desc);
    /* SIGKILL after the grace. */
    assert_true(loop_until(stopped, svc, RN_SEC(3)));
    assert_false(running(child));
    assert_true(rn_svc_exec_info(svc, &ei));
    assert_int_equal(ei.ei_exit_status, 3);
    teardown_host();
}

/* A refnet process of the service whose listener stays held: the stop
 * waits for it, the chain names it, a start names the port's holder. */
static void test_held_by_refnet_process(void **state)
{
    static const char *const argv[] = {"sleep", "30", NULL};
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct rn_svc *svc;
    struct rn_proc *p;
    char err[600], want[96];
    rn_time_t leaked_at;
    uint64_t lid;
    pid_t pid;
    void *l;
    int e;

    (void)state;
    setup_host();
    svc = add_started("web", argv, 0, 0);
    pid = pid_of(svc);
    /* What `refnet run` makes of the command: a refnet process owned by
     * the service, with a listener. */
    assert_int_equal(rn_proc_create(S, "web", &p), 0);
    assert_int_equal(rn_proc_set_owner(p, "service web"), 0);
    (void)tcp_listening(p, 8080, &e);
    assert_int_equal(e, 0);
    lid = rn_tcp_port_holder(S, 0, 8080);
    l = rn_ob_lookup(lid, RN_TAG_LOOKUP);
    assert_non_null(l);
    rn_ob_transfer(l, RN_TAG_LOOKUP, RN_TAG_ENUM); /* the case's leak */
    leaked_at = rn_clock_now();

    /* The real process exits; the refnet process's exit is noticed. */
    {
        struct rn_svc_stop stp;
        struct heard h = {0};

        assert_int_equal(rn_svc_stop(svc, RN_MSEC(500), &stp, heard_fn, &h), 0);
        assert_true(loop_until(heard, &h, RN_SEC(3)));
        assert_int_equal(h.h_result, RN_ETIMEDOUT);
    }
    assert_false(running(pid));
    rn_proc_exit(p);
    /* The enum hold must be older than its bound (1 s) by the clock the
     * ledger keeps: the loop's timers count from its last wake, which a
     * loaded machine leaves far behind. */
    while (rn_clock_now() - leaked_at < RN_MSEC(1100))
        loop_for(RN_MSEC(50));
    assert_int_equal(rn_svc_state(svc), RN_SVC_STOP_PENDING);

    assert_true(rn_svc_why(svc, RN_SEC(10), &sb) >= 1);
    snprintf(want, sizeof(want), "real process web (pid %d) exited ", (int)pid);
    {
        const char *t = rn_strbuf_str(&sb);
        const char *a = strstr(t, "service web STOP_PENDING");
        const char *b = strstr(t, want);
        const char *b2 = strstr(t, "killed by SIGTERM, SIGTERM sent ");
        const char *b3 = strstr(t, "its process group is gone, refnet's cleanup of 1 of 1 "
                                   "process pending");
        const char *c = strstr(t, "\u2514 process web (pid ");
        const char *d = strstr(t, "socket #1 tcp 0.0.0.0:8080 close pending");
        const char *f = strstr(t, "tcp listener 0.0.0.0:8080 CLOSED");
        const char *g = strstr(t, "verdict: 'enum'");

        if (!(a && b && b2 && b3 && c && d && f && g && a < b && b < b3 && b3 < c && c < d &&
              d < f && f < g) || strstr(t, "rundown pending") == NULL)
            fail_msg("chain:\n%s", t);
    }
    rn_strbuf_free(&sb);

    /* The port is held: a start names the holder. */
    assert_int_equal(rn_svc_start(svc, err, sizeof(err)), RN_EADDRINUSE);
    snprintf(want, sizeof(want), "held by #%llu tcp listener 0.0.0.0:8080",
             (unsigned long long)lid);
    if (strstr(err, "TCP port 8080: address in use") == NULL || strstr(err, want) == NULL ||
        strstr(err, "owner service web") == NULL)
        fail_msg("start error: %s", err);

    /* The hold goes: the stop completes and the start works. */
    rn_ob_deref(l, RN_TAG_ENUM);
    assert_true(loop_until(stopped, svc, RN_SEC(2)));
    assert_int_equal(count_type("real process"), 0);
    assert_int_equal(rn_svc_start(svc, err, sizeof(err)), 0);
    stop_wait(svc, RN_SEC(3));
    teardown_host();
}

static void test_bad_input(void **state)
{
    static const char *const none[] = {NULL};
    static const char *const missing[] = {"refnet-no-such-program", NULL};
    static const char *const ok[] = {"true", NULL};
    struct rn_svc_exec ex = {ok, 0, 0, false};
    struct rn_svc *svc;
    char err[600];

    (void)state;
    setup_host();
    assert_int_equal(rn_svcctl_add_exec(SC, "bad name", &ex, NULL, err, sizeof(err)),
                     RN_EINVAL);
    assert_non_null(strstr(err, "'bad name': not a service name"));
    assert_int_equal(rn_svcctl_add_exec(SC, "-x", &ex, NULL, err, sizeof(err)), RN_EINVAL);
    assert_int_equal(rn_svcctl_add_exec(SC, "echo", &ex, NULL, err, sizeof(err)), 0);
    assert_int_equal(rn_svcctl_add_exec(SC, "echo", &ex, NULL, err, sizeof(err)), RN_EEXIST);
    ex.ex_argv = none;
    assert_int_equal(rn_svcctl_add_exec(SC, "x", &ex, NULL, err, sizeof(err)), RN_EINVAL);
    assert_non_null(strstr(err, "no command"));
    ex.ex_argv = missing;
    assert_int_equal(rn_svcctl_add_exec(SC, "x", &ex, NULL, err, sizeof(err)), RN_EINVAL);
    assert_non_null(strstr(err, "refnet-no-such-program: no such program in PATH"));
    ex.ex_argv = ok;
    ex.ex_stop_signal = SIGKILL;
    assert_int_equal(rn_svcctl_add_exec(SC, "x", &ex, NULL, err, sizeof(err)), RN_EINVAL);
    assert_non_null(strstr(err, "cannot be SIGKILL"));
    assert_int_equal(rn_svc_signal_parse("winch"), SIGWINCH);
    assert_int_equal(rn_svc_signal_parse("SIGTERM"), SIGTERM);
    assert_int_equal(rn_svc_signal_parse("15"), SIGTERM);
    assert_int_equal(rn_svc_signal_parse("NOPE"), 0);
    assert_int_equal(rn_svc_signal_parse("0"), 0);
    assert_int_equal(rn_svc_signal_parse("99"), 0);

    /* "true" exits at once: the service stops by itself. */
    svc = rn_svcctl_find(SC, "echo");
    assert_int_equal(rn_svc_start(svc, err, sizeof(err)), 0);
    assert_int_equal(rn_svcctl_remove(SC, svc, err, sizeof(err)), RN_EBUSY);
    assert_non_null(strstr(err, "only a STOPPED service can be removed"));
    assert_true(loop_until(stopped, svc, RN_SEC(3)));
    assert_int_equal(rn_svcctl_count(SC), 1);
    assert_int_equal(rn_svcctl_remove(SC, svc, err, sizeof(err)), 0);
    assert_int_equal(rn_svcctl_count(SC), 0);
    assert_null(rn_svcctl_find(SC, "echo"));
    teardown_host();
}

/* The stop signal to the command alone: a child of its group that does not
 * get it runs on until SIGKILL after the grace. */
static void test_stop_main(void **state)
{
    static const char *const argv[] = {"sh", "-c", "sleep 30 & echo $! >\"$0\"; wait", NULL,
                                       NULL};
    char path[] = "/tmp/refnet-test-exec-XXXXXX", buf[32];
    struct rn_svc_exec_info ei;
    struct rn_svc_stop stp;
    struct heard h = {0};
    const char *v[5];
    struct rn_svc *svc;
    pid_t child;
    FILE *f;
    int fd, i;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    memcpy(v, argv, sizeof(argv));
    v[3] = path;
    setup_host();
    svc = add_started_main("mainonly", v, 0, RN_MSEC(700), true);
    assert_true(rn_svc_exec_info(svc, &ei));
    assert_true(ei.ei_stop_main);
    for (i = 0; i < 100; i++) {
        f = fopen(path, "r");
        if (f != NULL && fgets(buf, sizeof(buf), f) != NULL && atoi(buf) > 0)
            break;
        if (f != NULL)
            fclose(f);
        f = NULL;
        usleep(10000);
    }
    assert_non_null(f);
    fclose(f);
    unlink(path);
    child = (pid_t)atoi(buf);
    assert_int_equal(rn_svc_stop(svc, RN_MSEC(300), &stp, heard_fn, &h), 0);
    assert_true(loop_until(heard, &h, RN_SEC(1)));
    assert_int_equal(h.h_result, RN_ETIMEDOUT);
    /* The shell got SIGTERM; its child did not. */
    assert_true(rn_svc_exec_info(svc, &ei));
    assert_true(ei.ei_exited);
    assert_int_equal(ei.ei_exit_signal, SIGTERM);
    assert_true(running(child));
    assert_true(loop_until(stopped, svc, RN_SEC(3)));
    assert_false(running(child));
    teardown_host();
}

/* The host goes with commands still running: they are killed, and the
 * stops complete with the stack. */
static void test_detach_kills(void **state)
{
    static const char *const argv[] = {"sh", "-c", "trap '' TERM; sleep 30 & wait", NULL};
    struct rn_svc *svc;
    char err[200];
    pid_t pid;

    (void)state;
    setup_host();
    svc = add_started("left", argv, 0, RN_SEC(60));
    pid = pid_of(svc);
    loop_for(RN_MSEC(50));
    rn_svcctl_exec_detach(SC);
    assert_false(running(pid));
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
    /* The stop completes on the stack's next poll; no command starts
     * without a host. */
    assert_true(loop_until(stopped, svc, RN_SEC(1)));
    assert_int_equal(rn_svc_start(svc, err, sizeof(err)), RN_ENOTSUP);
    assert_non_null(strstr(err, "runs no commands"));
    rn_loop_destroy(L);
    assert_int_equal(rn_stack_destroy(S), 0);
    rn_svcctl_destroy(SC);
    check_live_objects(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_stop),
        cmocka_unit_test(test_stop_signal),
        cmocka_unit_test(test_grace_then_kill),
        cmocka_unit_test(test_exit_on_its_own),
        cmocka_unit_test(test_held_by_refnet_process),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_stop_main),
        cmocka_unit_test(test_detach_kills),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
