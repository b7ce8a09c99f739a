/*
 * refnet lab SCENARIO: the case, reproduced on purpose and explained.
 *
 *   leak   the object manager alone, on a virtual clock: a service stop
 *          that hangs because an enumeration leaked a reference on the
 *          listener; the watchdog's chain, a dump analysed offline, and
 *          the release once the leak is cleared.
 *   stop-hang, callout-hang, close-wait  the case in the simulator, with
 *          httpd, clients and a netstat loop (src/sim/lab.h):
 *          [--fixed] [--seed N] [--threshold S] [--dump FILE]
 *   apache  the case for real (root): Debian's apache2 as a service of a
 *          daemon in a network namespace of its own, curl load from
 *          Linux, a netstat loop with the injected enumeration fault, a
 *          stop that hangs and its diagnosis, a restart refused, the leak
 *          cleared: [--fixed] [--threshold S] [--mpm event|prefork]
 *          [--dump FILE].  The orchestration (namespaces, processes,
 *          curl) is a shell script, lab-apache.sh, found beside the tool
 *          (../share/refnet/) or where it was installed, which this runs.
 *   clear-leak  (a running daemon) gives back the references that its
 *          `--inject enum-leak` fault made netstat's enumeration lose, so
 *          that a stop stuck on them completes: [--ctl PATH] [--timeout S].
 *
 * Options and the scenario come in any order (rn__cmd_getopt()).
 *
 * Exit status: 3 when a hang was reproduced and diagnosed, 0 when the run
 * stopped cleanly (--fixed), 1 on an internal failure, 2 on bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "refnet/clock.h"
#include "refnet/diag.h"
#include "sim/lab.h"
#include "refnet/object.h"
#include "refnet/report.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"

/* ---- A virtual clock ------------------------------------------------------ */

static rn_time_t lab_now;

static rn_time_t lab_clock(void *ctx)
{
    (void)ctx;
    return lab_now;
}

/* ---- The cast: a service, its process, a socket and a listener ------------ */

struct lab_thing {
    char lt_desc[96];  /* [I] what describe prints */
};

static void thing_describe(const void *ob, char *buf, size_t len)
{
    snprintf(buf, len, "%s", ((const struct lab_thing *)ob)->lt_desc);
}

#define LAB_TYPE(var, tname)                                                    \
    static const struct rn_ob_type_ops var = {                                \
        .name = tname, .size = sizeof(struct lab_thing), .describe = thing_describe}

LAB_TYPE(service_ops, "service");
LAB_TYPE(process_ops, "process");
LAB_TYPE(socket_ops, "socket");
LAB_TYPE(listener_ops, "tcp listener");

static void *lab_make(const struct rn_ob_type_ops *ops, const char *desc)
{
    struct rn_ob_type *t = rn_ob_type_register(ops);
    struct lab_thing *x = t ? rn_ob_create(t, RN_TAG_CREATE) : NULL;

    if (x == NULL) {
        fprintf(stderr, "refnet lab: out of memory\n");
        exit(1);
    }
    snprintf(x->lt_desc, sizeof(x->lt_desc), "%s", desc);
    rn_ob_publish(x);
    return x;
}

/* The enumeration of the case: it takes an "enum" reference on each
 * endpoint it reports, and on the path where the endpoint changed state
 * while it looked, returns without dropping it. */
__attribute__((noinline)) static int netstat_enum_step(void *listener, bool state_changed,
                                                      bool fixed)
{
    if (!rn_ob_tryref_live(listener, RN_TAG_ENUM))
        return 0;
    if (state_changed && !fixed)
        return 1;  /* the bug: an early return that forgets the deref */
    rn_ob_deref(listener, RN_TAG_ENUM);
    return 0;
}

/* Each waiter holds itself until what it waits for is released: the
 * socket's close completes when the listener goes, the process's cleanup
 * when the socket goes, the service's stop when the process goes. */
struct lab_wait {
    struct rn_ob_wait lw_wait;  /* registered on the waited object */
    void *lw_waiter;            /* held under "close" until then */
    const char *lw_say;         /* printed when it completes */
};

static rn_tag_t tag_close;

static void on_released(struct rn_ob_wait *w, void *ctx)
{
    struct lab_wait *lw = ctx;

    (void)w;
    printf("  %s\n", lw->lw_say);
    rn_ob_deref(lw->lw_waiter, tag_close);
}

static void lab_wait(struct lab_wait *lw, void *waited, void *waiter, const char *what,
                     const char *text)
{
    lw->lw_waiter = waiter;
    lw->lw_say = text;
    rn_ob_ref(waiter, tag_close);
    rn_ob_wait_release(waited, &lw->lw_wait, waiter, what, on_released, lw);
}

static void quiet_sink(void *ctx, enum rn_report_kind kind, const char *text)
{
    (void)ctx;
    (void)kind;
    (void)text;
}

static void say(const char *text)
{
    printf("\n== %s\n", text);
    fflush(stdout);
}

static int lab_leak(bool fixed, const char *dump_path)
{
    struct lab_wait w_close = {0}, w_cleanup = {0}, w_stop = {0};
    struct rn_strbuf out = RN_STRBUF_INIT;
    struct rn_watchdog *wd;
    struct rn_snapshot *s;
    char path[256], err[256];
    void *svc, *proc, *sock, *lst;
    int leaked = 0, i, found;

    lab_now = RN_SEC(7200);
    rn_clock_set_source(lab_clock, NULL);
    tag_close = rn_tag_intern("close");
    say("a web server listens on port 80");
    svc = lab_make(&service_ops, "service httpd");
    proc = lab_make(&process_ops, "process httpd");
    sock = lab_make(&socket_ops, "socket #7 tcp 0.0.0.0:80");
    lst = lab_make(&listener_ops, "tcp listener 0.0.0.0:80 LISTEN");
    rn_ob_type_set_traced(rn_ob_type_find("tcp listener"), true);
    rn_ob_ref(lst, RN_TAG_PORT_TABLE);       /* bound */
    rn_ob_ref(lst, RN_TAG_SOCKET_ENDPOINT);  /* the socket above it */
    rn_ob_ref(sock, RN_TAG_HANDLE);          /* the process's handle */
    printf("  tcp listener #%" PRIu64 " refs %u, traced\n", rn_ob_id(lst), rn_ob_refcount(lst));

    say("netstat runs in a loop while connections come and go");
    lab_now += RN_SEC(3600);
    for (i = 0; i < 1000; i++) {
        lab_now += RN_MSEC(7);
        /* Once in a while the endpoint changes state under the walk. */
        leaked += netstat_enum_step(lst, i == 613, fixed);
    }
    printf("  1000 enumerations; tcp listener refs now %u\n", rn_ob_refcount(lst));

    say("the service is stopped");
    lab_wait(&w_stop, proc, svc, "stop", "process released: the service's stop completes");
    lab_wait(&w_cleanup, sock, proc, "cleanup",
             "socket released: the process's handle cleanup completes");
    lab_wait(&w_close, lst, sock, "close", "listener released: the socket's close completes");
    snprintf(((struct lab_thing *)svc)->lt_desc, sizeof(((struct lab_thing *)svc)->lt_desc),
             "service httpd STOP_PENDING");
    snprintf(((struct lab_thing *)proc)->lt_desc, sizeof(((struct lab_thing *)proc)->lt_desc),
             "process httpd terminating, 1 of 1 handle cleanups pending");
    snprintf(((struct lab_thing *)sock)->lt_desc, sizeof(((struct lab_thing *)sock)->lt_desc),
             "socket #7 tcp 0.0.0.0:80 close pending");
    snprintf(((struct lab_thing *)lst)->lt_desc, sizeof(((struct lab_thing *)lst)->lt_desc),
             "tcp listener 0.0.0.0:80 CLOSED");
    /* The transport's close: unbind, drop its own and the socket's
     * references; the handle's cleanup drops the handle. */
    rn_ob_deref(lst, RN_TAG_PORT_TABLE);
    rn_ob_deref(lst, RN_TAG_SOCKET_ENDPOINT);
    rn_ob_kill(lst);
    rn_ob_deref(sock, RN_TAG_HANDLE);
    rn_ob_kill(sock);
    rn_ob_kill(proc);
    rn_ob_kill(svc);

    if (rn_ob_live_count(NULL) == 0) {
        say("stopped cleanly");
        rn_ob_drain();
        rn_clock_set_source(NULL, NULL);
        return 0;
    }

    say("11 seconds later the watchdog looks");
    lab_now += RN_SEC(11);
    wd = rn_watchdog_new(RN_DIAG_DEFAULT_THRESHOLD);
    rn_report_set_sink(quiet_sink, NULL);  /* printed below, on stdout */
    if (wd == NULL || rn_watchdog_check(wd, &out) <= 0) {
        fprintf(stderr, "refnet lab: the watchdog saw nothing\n");
        return 1;
    }
    fputs(rn_strbuf_str(&out), stdout);

    say("a dump, analysed offline");
    if (dump_path != NULL) {
        snprintf(path, sizeof(path), "%s", dump_path);
    } else {
        snprintf(path, sizeof(path), "%s/refnet-lab-%d.dump",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    }
    s = rn_ob_snapshot();
    if (s == NULL) {
        fprintf(stderr, "refnet lab: out of memory\n");
        return 1;
    }
    s->s_threshold = RN_DIAG_DEFAULT_THRESHOLD;
    if (rn_dump_write(s, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "refnet lab: %s\n", err);
        rn_snapshot_free(s);
        return 1;
    }
    rn_snapshot_free(s);
    printf("  wrote %s; `refnet analyze %s` prints:\n", path, path);
    fflush(stdout);
    {
        char *argv[] = {"analyze", path, NULL};

        (void)rn__cmd_analyze(2, argv);
    }
    fflush(stdout);
    if (dump_path == NULL)
        unlink(path);

    say("clearing the leak releases everything, in order");
    found = 0;
    while (rn_ob_tag_count(lst, RN_TAG_ENUM) > 0 && found++ < leaked)
        rn_ob_deref(lst, RN_TAG_ENUM);
    rn_report_set_sink(NULL, NULL);
    rn_watchdog_free(wd);
    rn_strbuf_free(&out);
    rn_ob_drain();
    rn_clock_set_source(NULL, NULL);
    printf("  %" PRIu64 " objects left\n", rn_ob_live_count(NULL));
    return 3;
}

static const struct {
    const char *name;
    int (*run)(const struct rn_lab_params *p);
} lab_sims[] = {
    {"stop-hang", rn__lab_stop_hang},
    {"callout-hang", rn__lab_callout_hang},
    {"close-wait", rn__lab_close_wait},
};

#ifndef REFNET_LAB_INSTALLED
#define REFNET_LAB_INSTALLED "/usr/local/share/refnet/lab-apache.sh"
#endif

/* The apache lab's script: beside the tool (a build tree, or an install
 * under the same prefix), else where it was installed.  Returns 0 with the
 * path in buf, or -1. */
static int lab_apache_script(char *buf, size_t len)
{
    char exe[PATH_MAX], *slash;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n > 0) {
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash != NULL) {
            int w;

            *slash = '\0';
            w = snprintf(buf, len, "%s/../share/refnet/lab-apache.sh", exe);
            if (w > 0 && (size_t)w < len && access(buf, R_OK) == 0)
                return 0;
        }
    }
    snprintf(buf, len, "%s", REFNET_LAB_INSTALLED);
    return access(buf, R_OK) == 0 ? 0 : -1;
}

/* refnet lab apache: runs the script with this very binary.  Returns only
 * on failure. */
static int lab_apache(bool fixed, const char *threshold, const char *mpm, const char *dump)
{
    char script[PATH_MAX + 64], self[PATH_MAX];
    const char *argv[12];
    ssize_t n;
    int k = 0;

    if (lab_apache_script(script, sizeof(script)) != 0) {
        fprintf(stderr, "refnet: lab apache: its script is missing (%s, or "
                "share/refnet/lab-apache.sh beside the tool)\n", script);
        return CMD_EXIT_FAIL;
    }
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        fprintf(stderr, "refnet: lab apache: cannot find this program's path: %s\n",
                strerror(errno));
        return CMD_EXIT_FAIL;
    }
    self[n] = '\0';
    argv[k++] = "bash";
    argv[k++] = script;
    argv[k++] = self;
    if (fixed)
        argv[k++] = "--fixed";
    if (threshold != NULL) {
        argv[k++] = "--threshold";
        argv[k++] = threshold;
    }
    if (mpm != NULL) {
        argv[k++] = "--mpm";
        argv[k++] = mpm;
    }
    if (dump != NULL) {
        argv[k++] = "--dump";
        argv[k++] = dump;
    }
    argv[k] = NULL;
    fflush(NULL);
    execvp("bash", (char *const *)argv);
    fprintf(stderr, "refnet: lab apache: cannot run bash: %s\n", strerror(errno));
    return CMD_EXIT_FAIL;
}

enum { O_FIXED = 1, O_SEED, O_THRESHOLD, O_DUMP, O_CTL, O_TIMEOUT, O_MPM };

int rn__cmd_lab(int argc, char **argv)
{
    static const struct cmd_opt opts[] = {
        {"fixed", 0, false, false, O_FIXED},
        {"seed", 0, true, false, O_SEED},
        {"threshold", 0, true, false, O_THRESHOLD},
        {"dump", 0, true, false, O_DUMP},
        {"ctl", 0, true, false, O_CTL},
        {"timeout", 0, true, false, O_TIMEOUT},
        {"mpm", 0, true, false, O_MPM},
        {NULL, 0, false, false, 0},
    };
    struct rn_lab_params lp = {0};
    struct cmd_parser p;
    const char *dump = NULL, *seed = NULL, *threshold = NULL, *ctl = NULL, *timeout = NULL;
    const char *mpm = NULL;
    const char *scenario, *bad = NULL;
    char prefix[64];
    bool fixed = false, known = false, leak;
    uint64_t v;
    size_t k;
    int o, st;

    rn__cmd_parser_init(&p, rn__cmd_find("lab"), "refnet: lab: ", opts, argc, argv);
    while ((o = rn__cmd_getopt(&p)) > 0) {
        switch (o) {
        case O_FIXED:
            fixed = true;
            break;
        case O_SEED:
            seed = p.cp_val;
            break;
        case O_THRESHOLD:
            threshold = p.cp_val;
            break;
        case O_DUMP:
            dump = p.cp_val;
            break;
        case O_CTL:
            ctl = p.cp_val;
            break;
        case O_TIMEOUT:
            timeout = p.cp_val;
            break;
        case O_MPM:
            mpm = p.cp_val;
            break;
        }
    }
    if (o == CMD_OPT_STOP)
        return p.cp_status;
    if (p.cp_nops == 0) {
        rn__cmd_parser_free(&p);
        return rn__cmd_usage_error("lab: which scenario? (stop-hang, callout-hang, close-wait, "
                               "leak, apache, clear-leak)");
    }
    scenario = p.cp_ops[0];
    snprintf(prefix, sizeof(prefix), "refnet: lab %s: ", scenario);
    p.cp_prefix = prefix;
    leak = !strcmp(scenario, "leak");
    for (k = 0; k < sizeof(lab_sims) / sizeof(lab_sims[0]); k++)
        known = known || !strcmp(scenario, lab_sims[k].name);
    if (!known && !leak && strcmp(scenario, "clear-leak") != 0 && strcmp(scenario, "apache")) {
        st = rn__cmd_usage_error("lab: unknown scenario '%s' (stop-hang, callout-hang, close-wait, "
                             "leak, apache, clear-leak)", scenario);
        rn__cmd_parser_free(&p);
        return st;
    }
    if (p.cp_nops > 1) {
        st = rn__cmd_parser_error(&p, "unexpected argument '%s'", p.cp_ops[1]);
        rn__cmd_parser_free(&p);
        return st;
    }
    rn__cmd_parser_free(&p);
    /* A daemon's lab: give back what `--inject enum-leak` lost. */
    if (!strcmp(scenario, "clear-leak")) {
        bad = fixed ? "--fixed" : seed ? "--seed" : threshold ? "--threshold" : dump ? "--dump"
                                                                                     : NULL;
        if (bad != NULL)
            return rn__cmd_parser_error(&p, "%s: clear-leak asks the daemon, it runs nothing",
                                    bad);
        return rn__cmd_ctl_forward(2, (char *[]){"lab", "clear-leak", NULL}, ctl, timeout);
    }
    if (ctl != NULL || timeout != NULL)
        return rn__cmd_parser_error(&p, "%s is an option of clear-leak only",
                                ctl != NULL ? "--ctl" : "--timeout");
    if (mpm != NULL && strcmp(scenario, "apache") != 0)
        return rn__cmd_parser_error(&p, "--mpm is an option of apache only");
    if (!strcmp(scenario, "apache")) {
        if (seed != NULL)
            return rn__cmd_parser_error(&p, "--seed: apache runs in real time, not in the "
                                        "simulator");
        if (threshold != NULL && (rn__cmd_parse_uint(threshold, 1, 60, &v) < 0))
            return rn__cmd_parser_error(&p, "--threshold: '%s': seconds, 1 to 60", threshold);
        if (mpm != NULL && strcmp(mpm, "event") != 0 && strcmp(mpm, "prefork") != 0)
            return rn__cmd_parser_error(&p, "--mpm: '%s': event or prefork", mpm);
        if (dump != NULL && dump[0] == '\0')
            return rn__cmd_parser_error(&p, "--dump: needs a file name");
        return lab_apache(fixed, threshold, mpm, dump);
    }
    if (leak && (seed != NULL || threshold != NULL))
        return rn__cmd_parser_error(&p, "%s: the leak runs without the simulator",
                                seed != NULL ? "--seed" : "--threshold");
    if (seed != NULL) {
        if (rn__cmd_parse_uint(seed, 1, UINT64_MAX, &v) < 0)
            return rn__cmd_parser_error(&p, "--seed: '%s': a whole number from 1", seed);
        lp.lp_seed = v;
    }
    if (threshold != NULL) {
        if (rn__cmd_parse_uint(threshold, 1, 3600, &v) < 0)
            return rn__cmd_parser_error(&p, "--threshold: '%s': seconds, 1 to 3600", threshold);
        lp.lp_threshold = RN_SEC(v);
    }
    if (dump != NULL && dump[0] == '\0')
        return rn__cmd_parser_error(&p, "--dump: needs a file name");
    if (leak)
        return lab_leak(fixed, dump);
    lp.lp_fixed = fixed;
    lp.lp_dump = dump;
    lp.lp_out = stdout;
    for (k = 0; k < sizeof(lab_sims) / sizeof(lab_sims[0]); k++)
        if (!strcmp(scenario, lab_sims[k].name))
            return lab_sims[k].run(&lp);
    return CMD_EXIT_FAIL; /* not reached: the name was checked above */
}
