/*
 * The `refnet` subcommands answered by a running daemon: status, ifconfig,
 * arp, route, stat, svc, why, objects, refs, trace, dump, filter, netstat,
 * and `lab clear-leak` (through cmd_ctl_forward()).  (send,
 * recv and get stream data through the daemon: tools/cmd_net.c.)
 *
 * Each sends its arguments over the control socket (ctl.h) and prints the
 * reply: the text to stdout when the daemon reports success, to stderr
 * otherwise, and exits with the daemon's status.  Options understood here,
 * anywhere on the line (after `--`, nothing is an option):
 *   --ctl PATH     the control socket (default $REFNET_CTL, else
 *                  /run/refnet.sock)
 *   --timeout S    seconds to wait for the reply (default 30)
 *   --json         ask for JSON
 * Everything else goes to the daemon as is, but for `svc stop NAME
 * --timeout S`, whose --timeout is the stop's (the client then waits S +
 * 15 s for the reply).  Exit statuses: the daemon's
 * (0 ok, 1 failure, 2 bad usage); 1 if the daemon cannot be reached or does
 * not answer in time; 2 for a bad option here.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "ctl/ctl.h"
#include "refnet/error.h"

#define CTL_DEFAULT_TIMEOUT_S 30.0
#define CTL_MAX_TIMEOUT_S 86400.0
/* How much longer than a stop's timeout the client waits for its reply. */
#define CTL_STOP_MARGIN_S 15.0
#define CTL_STOP_DEFAULT_S 30.0

/* Returns the value of option opt at argv[*i] ("--opt VALUE" or
 * "--opt=VALUE"), advancing *i past it; NULL if argv[*i] is not opt.  Sets
 * *missing if opt is there without a value. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt, bool *missing)
{
    size_t n = strlen(opt);

    if (strncmp(argv[*i], opt, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

/* Makes path absolute against our working directory.  Returns a malloc'd
 * string, or NULL with a message printed. */
static char *absolute_path(const char *path)
{
    char cwd[PATH_MAX];
    char *abs;

    if (path[0] == '/')
        return strdup(path);
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        fprintf(stderr, "refnet: cannot resolve '%s': no working directory: %s\n", path,
                strerror(errno));
        return NULL;
    }
    if (asprintf(&abs, "%s/%s", cwd, path) < 0)
        return NULL;
    return abs;
}

/* Runs one client command.  resolve_arg: the first argument after the
 * command name is a file the daemon opens; make it absolute first.
 * wait_s > 0: the reply may take that long (a stop's own timeout), so wait
 * for it that long and a margin, unless --timeout asks for longer. */
static int ctl_client_wait(int argc, char **argv, bool resolve_arg, double wait_s)
{
    const char *path = NULL;
    const char **args;
    char *resolved = NULL;
    double timeout = CTL_DEFAULT_TIMEOUT_S;
    struct rn_ctl_reply reply;
    uint32_t flags = 0;
    bool literal = false;
    char err[512];
    int i, nargs = 0, e, status;

    args = calloc((size_t)argc + 1, sizeof(*args));
    if (args == NULL) {
        fputs("refnet: out of memory\n", stderr);
        return 1;
    }
    args[nargs++] = argv[0];
    for (i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;

        if (!literal && strcmp(argv[i], "--") == 0) {
            literal = true;
            continue;
        }
        if (!literal && strcmp(argv[i], "--json") == 0) {
            flags |= RN_CTL_F_JSON;
            continue;
        }
        if (!literal && (v = opt_value(argc, argv, &i, "--ctl", &missing)) != NULL) {
            path = v;
            continue;
        }
        if (!literal && (v = opt_value(argc, argv, &i, "--timeout", &missing)) != NULL) {
            char *end;

            errno = 0;
            timeout = strtod(v, &end);
            if (errno != 0 || end == v || *end != '\0' || !isfinite(timeout) ||
                timeout <= 0 || timeout > CTL_MAX_TIMEOUT_S) {
                free(args);
                return cmd_usage_error("--timeout: '%s': must be a number of seconds in "
                                       "(0, %.0f]", v, CTL_MAX_TIMEOUT_S);
            }
            continue;
        }
        if (missing) {
            free(args);
            return cmd_usage_error("%s needs a value", argv[i]);
        }
        args[nargs++] = argv[i];
    }
    if (wait_s > 0 && timeout < wait_s + CTL_STOP_MARGIN_S)
        timeout = wait_s + CTL_STOP_MARGIN_S;
    if (resolve_arg && nargs >= 2) {
        resolved = absolute_path(args[1]);
        if (resolved == NULL) {
            free(args);
            return 1;
        }
        args[1] = resolved;
    }
    path = rn_ctl_default_path(path);
    e = rn_ctl_call(path, flags, nargs, args, (rn_time_t)(timeout * (double)RN_NSEC_PER_SEC),
                    &reply, err, sizeof(err));
    free(resolved);
    free(args);
    if (e == RN_EINVAL)
        return cmd_usage_error("%s", err);
    if (e != 0) {
        fprintf(stderr, "refnet: %s\n", err);
        return 1;
    }
    status = reply.rp_status;
    if (status < 0 || status > 255)
        status = 1;
    fwrite(reply.rp_text, 1, reply.rp_len, status == 0 ? stdout : stderr);
    free(reply.rp_text);
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "refnet: cannot write the output: %s\n", strerror(errno));
        status = 1;
    }
    return status;
}

static int ctl_client(int argc, char **argv, bool resolve_arg)
{
    return ctl_client_wait(argc, argv, resolve_arg, 0);
}

int cmd_ctl_forward(int argc, char **argv)
{
    return ctl_client(argc, argv, false);
}

int cmd_status(int argc, char **argv)
{
    return ctl_client(argc, argv, false);
}

int cmd_ifconfig(int argc, char **argv)
{
    return ctl_client(argc, argv, false);
}

int cmd_arp(int argc, char **argv)
{
    return ctl_client(argc, argv, false);
}

int cmd_route(int argc, char **argv)
{
    return ctl_client(argc, argv, false);
}

int cmd_stat(int argc, char **argv)
{
    return ctl_client(argc, argv, false);
}

/* `svc stop NAME --timeout S`: S is the stop's, the daemon's to wait; the
 * client waits S and a margin for the reply.  So the option goes to the
 * daemon after "--" (which makes the rest literal), and the client's own
 * --timeout (which `svc stop` does not take) is not set. */
int cmd_svc(int argc, char **argv)
{
    char **args;
    const char *stop_timeout = NULL;
    double wait_s = CTL_STOP_DEFAULT_S;
    int i, n = 0, rc;

    if (argc < 2 || strcmp(argv[1], "stop") != 0)
        return ctl_client(argc, argv, false);
    args = calloc((size_t)argc + 3, sizeof(*args));
    if (args == NULL) {
        fputs("refnet: out of memory\n", stderr);
        return 1;
    }
    for (i = 0; i < argc; i++) {
        const char *v = NULL;

        if (strcmp(argv[i], "--") == 0) {
            for (; i < argc; i++)
                args[n++] = argv[i];
            break;
        }
        if (strcmp(argv[i], "--timeout") == 0) {
            if (i + 1 >= argc) {
                free(args);
                return cmd_usage_error("svc stop: --timeout needs a value");
            }
            v = argv[++i];
        } else if (strncmp(argv[i], "--timeout=", 10) == 0) {
            v = argv[i] + 10;
        }
        if (v == NULL) {
            args[n++] = argv[i];
            continue;
        }
        if (stop_timeout != NULL) {
            free(args);
            return cmd_usage_error("svc stop: --timeout given twice");
        }
        stop_timeout = v;
    }
    if (stop_timeout != NULL) {
        char *end;

        errno = 0;
        wait_s = strtod(stop_timeout, &end);
        if (errno != 0 || end == stop_timeout || *end != '\0' || !isfinite(wait_s) ||
            wait_s <= 0 || wait_s > CTL_MAX_TIMEOUT_S) {
            free(args);
            return cmd_usage_error("svc stop: --timeout: '%s': must be a number of seconds in "
                                   "(0, %.0f]", stop_timeout, CTL_MAX_TIMEOUT_S);
        }
        /* Literal from here, for the daemon (after a "--" already there
         * everything is). */
        for (i = 0; i < n && strcmp(args[i], "--") != 0; i++)
            ;
        if (i == n)
            args[n++] = "--";
        args[n++] = "--timeout";
        args[n++] = (char *)stop_timeout;
    }
    rc = ctl_client_wait(n, args, false, wait_s);
    free(args);
    return rc;
}

int cmd_why(int argc, char **argv)
{
    return ctl_client(argc, argv, false);
}

int cmd_objects(int argc, char **argv)
{
    return ctl_client(argc, argv, false);
}

int cmd_refs(int argc, char **argv)
{
    return ctl_client(argc, argv, false);
}

int cmd_trace(int argc, char **argv)
{
    return ctl_client(argc, argv, false);
}

int cmd_dump(int argc, char **argv)
{
    return ctl_client(argc, argv, true);
}

int cmd_netstat(int argc, char **argv)
{
    return ctl_client(argc, argv, false);
}

int cmd_filter(int argc, char **argv)
{
    return ctl_client(argc, argv, false);
}
