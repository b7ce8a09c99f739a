/*
 * refnet run [--ctl PATH] [--name NAME] [--fallback] -- PROGRAM [ARG]...:
 * runs an unmodified, dynamically linked program with its TCP and UDP
 * sockets (AF_INET and AF_INET6) on the daemon's stack.  The program runs with the shim preloaded
 * (preload/shim.c, LD_PRELOAD), which finds the daemon's run socket (the
 * control socket's path with ".run") in REFNET_RUN_SOCK; its children
 * inherit both.
 *
 * The tool stays the program's parent: it passes on the signals it gets
 * (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH), tells the
 * daemon how the program ended (its wait status, which only a parent can
 * read), and exits with the program's status (128 + the signal if it was
 * killed).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "ctl/ctl.h"
#include "run/run.h"
#include "run/run_proto.h"

#ifndef REFNET_SHIM_INSTALLED
#define REFNET_SHIM_INSTALLED "/usr/local/lib/refnet/librefnet-run.so"
#endif
#define SHIM_NAME "librefnet-run.so"

enum { O_CTL = 1, O_NAME, O_FALLBACK };
static const struct cmd_opt run_opts[] = {
    {"ctl", 0, true, false, O_CTL},
    {"name", 0, true, false, O_NAME},
    {"fallback", 0, false, false, O_FALLBACK},
    {NULL, 0, false, false, 0},
};

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
    if (child_pid > 0)
        kill(child_pid, sig);
}

/* The shim: $REFNET_RUN_SHIM, else beside the tool (a build tree, or an
 * install under the same prefix), else where it was installed. */
static int shim_path(char *buf, size_t len)
{
    const char *env = getenv("REFNET_RUN_SHIM");
    char exe[PATH_MAX], *slash;
    ssize_t n;

    if (env != NULL && env[0] != '\0') {
        snprintf(buf, len, "%s", env);
        return access(buf, R_OK) == 0 ? 0 : -1;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            int w = snprintf(buf, len, "%s/../lib/refnet/%s", exe, SHIM_NAME);

            if (w > 0 && (size_t)w < len && access(buf, R_OK) == 0)
                return 0;
        }
    }
    snprintf(buf, len, "%s", REFNET_SHIM_INSTALLED);
    return access(buf, R_OK) == 0 ? 0 : -1;
}

/* Tells the daemon how the program ended (best effort: no daemon, no
 * word).  The program is still a zombie, so the daemon can check that
 * the teller is its parent. */
static void report_status(const char *path, pid_t pid, int status)
{
    struct sockaddr_un sa;
    struct run_msg m;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    memset(&m, 0, sizeof(m));
    m.m_op = RUN_STATUS;
    m.m_arg[0] = (int32_t)pid;
    m.m_arg[1] = status;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        send(fd, &m, sizeof(m), MSG_NOSIGNAL) == (ssize_t)sizeof(m)) {
        struct timeval tv = {.tv_sec = 2};

        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)!recv(fd, &m, sizeof(m), 0);
    }
    close(fd);
}

int rn__cmd_run(int argc, char **argv)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    const char *ctl = NULL, *name = NULL, *old;
    char shim[PATH_MAX], run_path[108], *preload;
    struct cmd_parser p;
    struct sigaction sa;
    bool fb = false;
    siginfo_t si;
    pid_t pid;
    size_t i;
    int o, status;

    rn__cmd_parser_init(&p, rn__cmd_find("run"), "refnet: run: ", run_opts, argc, argv);
    while ((o = rn__cmd_getopt(&p)) > 0) {
        if (o == O_CTL)
            ctl = p.cp_val;
        else if (o == O_NAME)
            name = p.cp_val;
        else if (o == O_FALLBACK)
            fb = true;
    }
    if (o == CMD_OPT_STOP)
        return p.cp_status;
    if (p.cp_nops == 0) {
        o = rn__cmd_parser_error(&p, "needs a program: refnet run [OPTION]... -- PROGRAM "
                                     "[ARG]...");
        rn__cmd_parser_free(&p);
        return o;
    }
    if (name != NULL && (name[0] == '\0' || strlen(name) > 31)) {
        o = rn__cmd_parser_error(&p, "--name: '%s': a name is 1 to 31 characters", name);
        rn__cmd_parser_free(&p);
        return o;
    }
    if (rn__run_sock_path(rn__ctl_default_path(ctl), run_path, sizeof(run_path)) != 0) {
        o = rn__cmd_parser_error(&p, "--ctl: '%s': too long for its run socket",
                                 rn__ctl_default_path(ctl));
        rn__cmd_parser_free(&p);
        return o;
    }
    if (shim_path(shim, sizeof(shim)) != 0) {
        fprintf(stderr, "refnet: run: cannot find %s (looked at %s; set REFNET_RUN_SHIM)\n",
                SHIM_NAME, shim);
        rn__cmd_parser_free(&p);
        return CMD_EXIT_FAIL;
    }
    old = getenv("LD_PRELOAD");
    if (asprintf(&preload, "%s%s%s", shim, old && old[0] ? ":" : "", old ? old : "") < 0) {
        rn__cmd_parser_free(&p);
        return CMD_EXIT_FAIL;
    }
    setenv("LD_PRELOAD", preload, 1);
    free(preload);
    setenv(RUN_ENV_SOCK, run_path, 1);
    if (name == NULL) {
        name = strrchr(p.cp_ops[0], '/');
        name = name != NULL ? name + 1 : p.cp_ops[0];
    }
    setenv(RUN_ENV_NAME, name, 1);
    if (fb)
        setenv(RUN_ENV_FALLBACK, "kernel", 1);
    else
        unsetenv(RUN_ENV_FALLBACK);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "refnet: run: fork: %s\n", strerror(errno));
        rn__cmd_parser_free(&p);
        return CMD_EXIT_FAIL;
    }
    if (pid == 0) {
        char top[24];

        snprintf(top, sizeof(top), "%d", (int)getpid());
        setenv("REFNET_RUN_TOP", top, 1);
        sa.sa_handler = SIG_DFL;
        for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
            sigaction(sigs[i], &sa, NULL);
        execvp(p.cp_ops[0], p.cp_ops);
        fprintf(stderr, "refnet: run: %s: %s\n", p.cp_ops[0], strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    rn__cmd_parser_free(&p);
    /* Wait without reaping: the daemon reads the status from a zombie. */
    for (;;) {
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0)
            break;
        if (errno != EINTR)
            return CMD_EXIT_FAIL;
    }
    status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : si.si_status & 0x7f;
    report_status(run_path, pid, status);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    child_pid = 0;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}
