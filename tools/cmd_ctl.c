/*
 * The `refnet` subcommands answered by a running daemon: status, ifconfig,
 * arp, route, stat, netstat, svc, why, objects, refs, trace, dump, filter,
 * set, get of TCP's settings (get of a URL is tools/cmd_net.c's), and `lab
 * clear-leak` (through rn__cmd_ctl_forward()).  (send, recv and get
 * stream data through the daemon: tools/cmd_net.c.)
 *
 * Each parses its command line here (rn__cmd_getopt()), then sends the daemon
 * the request in the form the daemon's handler reads (docs/control-
 * protocol.md): the command name, the operands, then the options it
 * understands spelt one way (`netstat -a --refs`, `objects --type NAME`,
 * `svc stop NAME --timeout S`), with -j/--json as the request's JSON
 * flag.  It prints the reply: the text to stdout when the daemon reports
 * success, to stderr otherwise, and exits with the daemon's status.
 *
 * Options every one of them takes:
 *   --ctl PATH     the control socket (default $REFNET_CTL, else
 *                  /run/refnet/refnet.sock)
 *   --timeout S    seconds to wait for the reply (default 30); for `svc
 *                  stop NAME --timeout S` the stop's own timeout (the client
 *                  then waits S + 15 s for the reply)
 *   -j, --json     ask for JSON, where the command has it; refused (exit
 *                  2) where it has not (why, svc start/stop, lab clear-leak)
 * Exit statuses: the daemon's (0 ok, 1 failure, 2 bad usage, 3 a stop that
 * timed out, with its diagnosis); 1 if the daemon cannot be reached or
 * does not answer in time; 2 for a bad command line, found here before
 * anything is sent.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "ctl/ctl.h"
#include "refnet/error.h"
#include "refnet/service.h"

#define CTL_DEFAULT_TIMEOUT_S 30.0
#define CTL_MAX_TIMEOUT_S 86400.0
/* How much longer than a stop's timeout the client waits for its reply. */
#define CTL_STOP_MARGIN_S 15.0
#define CTL_STOP_DEFAULT_S 30.0

enum { O_CTL = 1, O_TIMEOUT, O_ALL, O_REFS, O_TYPE, O_INFO, O_SIGNAL, O_GRACE, O_MAIN };

#define CTL_OPTS                                                               \
    {"ctl", 0, true, false, O_CTL}, {"timeout", 0, true, false, O_TIMEOUT}

static const struct cmd_opt opts_plain[] = {CTL_OPTS, {NULL, 0, false, false, 0}};
static const struct cmd_opt opts_netstat[] = {
    CTL_OPTS,
    {"all", 'a', false, false, O_ALL},
    {"info", 'i', false, false, O_INFO},
    {"refs", 0, false, false, O_REFS},
    {NULL, 0, false, false, 0},
};
static const struct cmd_opt opts_objects[] = {
    CTL_OPTS,
    {"type", 't', true, false, O_TYPE},
    {NULL, 0, false, false, 0},
};

/* A client command line, parsed. */
struct ctl_line {
    struct cmd_parser cl_p;   /* operands in cl_p.cp_ops */
    const char *cl_ctl;       /* --ctl, or NULL */
    const char *cl_timeout;   /* --timeout as given, or NULL */
    bool cl_all;              /* netstat -a */
    bool cl_refs;             /* netstat --refs */
    bool cl_info;             /* netstat -i */
    const char *cl_type;      /* objects --type */
    const char *cl_signal;    /* svc add --stop-signal */
    const char *cl_grace;     /* svc add --stop-grace */
    bool cl_stop_main;        /* svc add --stop-main */
};

/* Parses argv (argv[0] the command) with opts.  Returns 0, or -1 after -h
 * or a mistake (printed), with the exit status in *status and nothing to
 * free. */
static int ctl_parse(struct ctl_line *l, int argc, char **argv, const struct cmd_opt *opts,
                     int *status)
{
    int o;

    memset(l, 0, sizeof(*l));
    rn__cmd_parser_init(&l->cl_p, rn__cmd_find(argv[0]), "refnet: ", opts, argc, argv);
    while ((o = rn__cmd_getopt(&l->cl_p)) > 0) {
        const char *v = l->cl_p.cp_val;

        switch (o) {
        case O_CTL:
            l->cl_ctl = v;
            break;
        case O_TIMEOUT:
            l->cl_timeout = v;
            break;
        case O_ALL:
            l->cl_all = true;
            break;
        case O_REFS:
            l->cl_refs = true;
            break;
        case O_INFO:
            l->cl_info = true;
            break;
        case O_TYPE:
            l->cl_type = v;
            break;
        case O_SIGNAL:
            l->cl_signal = v;
            break;
        case O_GRACE:
            l->cl_grace = v;
            break;
        case O_MAIN:
            l->cl_stop_main = true;
            break;
        }
    }
    if (o == CMD_OPT_STOP) {
        *status = l->cl_p.cp_status;
        return -1;
    }
    if (l->cl_ctl != NULL && l->cl_ctl[0] == '\0') {
        rn__cmd_parser_free(&l->cl_p);
        *status = rn__cmd_usage_error("--ctl: needs a socket path");
        return -1;
    }
    return 0;
}

/* Reads --timeout (what names the command in a message, "" or "svc stop:
 * ").  Returns 0 with *s (def if not given), or 2 (printed). */
static int ctl_timeout(const struct ctl_line *l, const char *what, double def, double *s)
{
    *s = def;
    if (l->cl_timeout == NULL)
        return 0;
    if (rn__cmd_parse_seconds(l->cl_timeout, CTL_MAX_TIMEOUT_S, s) != 0)
        return rn__cmd_usage_error("%s--timeout: '%s': must be a number of seconds in (0, %.0f]",
                               what, l->cl_timeout, CTL_MAX_TIMEOUT_S);
    return 0;
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

/* Sends args (args[0] the daemon's command name) and prints the reply.
 * Returns the exit status. */
static int ctl_call(const char *ctl, bool json, double timeout_s, int nargs, const char **args)
{
    struct rn_ctl_reply reply;
    char err[512];
    int e, status;

    e = rn__ctl_call(rn__ctl_default_path(ctl), json ? RN_CTL_F_JSON : 0, nargs, args,
                    (rn_time_t)(timeout_s * (double)RN_NSEC_PER_SEC), &reply, err, sizeof(err));
    if (e == RN_EINVAL)
        return rn__cmd_usage_error("%s", err);
    if (e != 0) {
        fprintf(stderr, "refnet: %s\n", err);
        return CMD_EXIT_FAIL;
    }
    status = reply.rp_status;
    if (status < 0 || status > 255)
        status = CMD_EXIT_FAIL;
    fwrite(reply.rp_text, 1, reply.rp_len, status == 0 ? stdout : stderr);
    free(reply.rp_text);
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "refnet: cannot write the output: %s\n", strerror(errno));
        status = CMD_EXIT_FAIL;
    }
    return status;
}

/* The request: the command name, then room for the operands and a few
 * options.  Returns NULL after printing if out of memory. */
static const char **ctl_args(const struct ctl_line *l, int *n)
{
    const char **args = calloc((size_t)l->cl_p.cp_nops + 8, sizeof(*args));

    if (args == NULL) {
        fputs("refnet: out of memory\n", stderr);
        return NULL;
    }
    args[0] = l->cl_p.cp_cmd->cd_name;
    *n = 1;
    return args;
}

/* Runs a command whose operands go to the daemon as they are, between
 * min_ops and max_ops of them (max_ops -1: any number), followed by the
 * options of netstat and objects spelt as the daemon reads them.  usage
 * goes into the messages. */
static int ctl_simple(int argc, char **argv, const struct cmd_opt *opts, int min_ops,
                      int max_ops, const char *usage)
{
    struct ctl_line l;
    const char **args;
    double timeout;
    int st, i, n;

    if (ctl_parse(&l, argc, argv, opts, &st) != 0)
        return st;
    if ((st = ctl_timeout(&l, "", CTL_DEFAULT_TIMEOUT_S, &timeout)) != 0)
        goto out;
    if (max_ops >= 0 && l.cl_p.cp_nops > max_ops) {
        st = rn__cmd_usage_error("%s: unexpected argument '%s' (usage: refnet %s)", argv[0],
                             l.cl_p.cp_ops[max_ops], usage);
        goto out;
    }
    if (l.cl_p.cp_nops < min_ops) {
        st = rn__cmd_usage_error("%s: missing argument (usage: refnet %s)", argv[0], usage);
        goto out;
    }
    if ((args = ctl_args(&l, &n)) == NULL) {
        st = CMD_EXIT_FAIL;
        goto out;
    }
    for (i = 0; i < l.cl_p.cp_nops; i++)
        args[n++] = l.cl_p.cp_ops[i];
    if (l.cl_all)
        args[n++] = "-a";
    if (l.cl_info)
        args[n++] = "-i";
    if (l.cl_refs)
        args[n++] = "--refs";
    if (l.cl_type != NULL) {
        args[n++] = "--type";
        args[n++] = l.cl_type;
    }
    st = ctl_call(l.cl_ctl, l.cl_p.cp_json, timeout, n, args);
    free(args);
out:
    rn__cmd_parser_free(&l.cl_p);
    return st;
}

int rn__cmd_ctl_forward(int argc, char **argv, const char *ctl, const char *timeout)
{
    double s = CTL_DEFAULT_TIMEOUT_S;

    if (timeout != NULL && rn__cmd_parse_seconds(timeout, CTL_MAX_TIMEOUT_S, &s) != 0)
        return rn__cmd_usage_error("--timeout: '%s': must be a number of seconds in (0, %.0f]",
                               timeout, CTL_MAX_TIMEOUT_S);
    if (ctl != NULL && ctl[0] == '\0')
        return rn__cmd_usage_error("--ctl: needs a socket path");
    return ctl_call(ctl, false, s, argc, (const char **)argv);
}

int rn__cmd_status(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_plain, 0, 0, "status [-j]");
}

int rn__cmd_ifconfig(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_plain, 0, 2, "ifconfig [-j] | ifconfig NAME remove");
}

int rn__cmd_arp(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_plain, 0, 0, "arp [-j]");
}

int rn__cmd_neigh(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_plain, 0, 0, "neigh [-j]");
}

int rn__cmd_ping(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_plain, 1, 2, "ping ADDR [COUNT]");
}

int rn__cmd_route(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_plain, 0, 0, "route [-j]");
}

int rn__cmd_stat(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_plain, 0, 0, "stat [-j]");
}

int rn__cmd_netstat(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_netstat, 0, 0, "netstat [-a] [-i] [--refs] [-j]");
}

int rn__cmd_get_settings(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_plain, 0, 1, "get [tcp | NAME] [-j]");
}

int rn__cmd_set(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_plain, 2, 2, "set NAME VALUE");
}

int rn__cmd_objects(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_objects, 0, 0, "objects [-t TYPE] [-j]");
}

int rn__cmd_why(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_plain, 0, 1, "why [SERVICE|ID]");
}

int rn__cmd_refs(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_plain, 1, 1, "refs ID [-j]");
}

/* The daemon checks the subcommand and the rest: its messages name them. */
int rn__cmd_trace(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_plain, 0, -1, "trace on|off TYPE|ID [-j]");
}

int rn__cmd_filter(int argc, char **argv)
{
    return ctl_simple(argc, argv, opts_plain, 0, -1, "filter list | add SPEC | del ID [-j]");
}

/* plugin list | load PATH[:ARGS] | unload NAME: a plug-in's path goes to
 * the daemon made absolute, as dump's file does. */
int rn__cmd_plugin(int argc, char **argv)
{
    struct ctl_line l;
    const char *args[3];
    char *spec = NULL;
    double timeout;
    int st, i;

    if (ctl_parse(&l, argc, argv, opts_plain, &st) != 0)
        return st;
    if ((st = ctl_timeout(&l, "", CTL_DEFAULT_TIMEOUT_S, &timeout)) != 0)
        goto out;
    if (l.cl_p.cp_nops < 1 || l.cl_p.cp_nops > 2) {
        st = rn__cmd_usage_error("plugin: usage: refnet plugin list | load PATH[:ARGS] | "
                             "unload NAME");
        goto out;
    }
    args[0] = "plugin";
    for (i = 0; i < l.cl_p.cp_nops; i++)
        args[i + 1] = l.cl_p.cp_ops[i];
    if (l.cl_p.cp_nops == 2 && strcmp(l.cl_p.cp_ops[0], "load") == 0) {
        if (l.cl_p.cp_ops[1][0] == '\0' || l.cl_p.cp_ops[1][0] == ':') {
            st = rn__cmd_usage_error("plugin load: the file name is empty");
            goto out;
        }
        spec = absolute_path(l.cl_p.cp_ops[1]);
        if (spec == NULL) {
            st = CMD_EXIT_FAIL;
            goto out;
        }
        args[2] = spec;
    }
    st = ctl_call(l.cl_ctl, l.cl_p.cp_json, timeout, l.cl_p.cp_nops + 1, args);
    free(spec);
out:
    rn__cmd_parser_free(&l.cl_p);
    return st;
}

/* dump FILE: the daemon does not share our working directory, so the
 * file goes to it as an absolute path. */
int rn__cmd_dump(int argc, char **argv)
{
    struct ctl_line l;
    const char *args[2];
    char *path;
    double timeout;
    int st;

    if (ctl_parse(&l, argc, argv, opts_plain, &st) != 0)
        return st;
    if ((st = ctl_timeout(&l, "", CTL_DEFAULT_TIMEOUT_S, &timeout)) != 0)
        goto out;
    if (l.cl_p.cp_nops != 1) {
        st = l.cl_p.cp_nops == 0
                 ? rn__cmd_usage_error("dump: which file? (usage: refnet dump FILE [-j])")
                 : rn__cmd_usage_error("dump: one file at a time ('%s', then '%s')",
                                   l.cl_p.cp_ops[0], l.cl_p.cp_ops[1]);
        goto out;
    }
    if (l.cl_p.cp_ops[0][0] == '\0') {
        st = rn__cmd_usage_error("dump: the file name is empty");
        goto out;
    }
    path = absolute_path(l.cl_p.cp_ops[0]);
    if (path == NULL) {
        st = CMD_EXIT_FAIL;
        goto out;
    }
    args[0] = "dump";
    args[1] = path;
    st = ctl_call(l.cl_ctl, l.cl_p.cp_json, timeout, 2, args);
    free(path);
out:
    rn__cmd_parser_free(&l.cl_p);
    return st;
}

/* svc [list | status NAME | start NAME | stop NAME [--timeout S]].  The
 * --timeout of `svc stop` is the stop's, the daemon's to wait: it goes to
 * the daemon, and the client waits S and a margin for the reply. */
/* svc add NAME [--stop-signal SIG] [--stop-grace S] [--stop-main] -- COMMAND...: l is
 * the command line before the "--", words what follows it. */
static int svc_add(struct ctl_line *l, int nwords, char **words)
{
    const char **args;
    double timeout, grace;
    int st, n = 0, i;

    if (l->cl_p.cp_nops != 2)
        return rn__cmd_usage_error(l->cl_p.cp_nops < 2 ? "svc add: which service? (svc add "
                                   "NAME [--stop-signal SIG] [--stop-grace S] -- COMMAND...)"
                                   : "svc add: '%s': the command goes after --, e.g. svc add "
                                   "web -- python3 -m http.server 80", l->cl_p.cp_ops[2]);
    if (words == NULL || nwords == 0)
        return rn__cmd_usage_error("svc add: no command: it goes after --, e.g. svc add web -- "
                                   "python3 -m http.server 80");
    if (l->cl_signal != NULL && rn_svc_signal_parse(l->cl_signal) == 0)
        return rn__cmd_usage_error("svc add: --stop-signal: '%s': not a signal (a name such "
                                   "as TERM or SIGWINCH, or a number)", l->cl_signal);
    if (l->cl_grace != NULL && rn__cmd_parse_seconds(l->cl_grace, 3600, &grace) != 0)
        return rn__cmd_usage_error("svc add: --stop-grace: '%s': must be a number of seconds "
                                   "in (0, 3600]", l->cl_grace);
    if (nwords > RN_SVC_EXEC_ARGV_MAX)
        return rn__cmd_usage_error("svc add: a command has at most %d words",
                                   RN_SVC_EXEC_ARGV_MAX);
    if ((st = ctl_timeout(l, "", CTL_DEFAULT_TIMEOUT_S, &timeout)) != 0)
        return st;
    args = calloc((size_t)nwords + 10, sizeof(*args));
    if (args == NULL) {
        fputs("refnet: out of memory\n", stderr);
        return CMD_EXIT_FAIL;
    }
    args[n++] = "svc";
    args[n++] = "add";
    args[n++] = l->cl_p.cp_ops[1];
    if (l->cl_signal != NULL) {
        args[n++] = "--stop-signal";
        args[n++] = l->cl_signal;
    }
    if (l->cl_grace != NULL) {
        args[n++] = "--stop-grace";
        args[n++] = l->cl_grace;
    }
    if (l->cl_stop_main)
        args[n++] = "--stop-main";
    args[n++] = "--";
    for (i = 0; i < nwords; i++)
        args[n++] = words[i];
    st = ctl_call(l->cl_ctl, false, timeout, n, args);
    free(args);
    return st;
}

int rn__cmd_svc(int argc, char **argv)
{
    static const struct cmd_opt opts_svc[] = {
        {"ctl", 0, true, false, O_CTL},
        {"timeout", 0, true, true, O_TIMEOUT},
        {"stop-signal", 0, true, false, O_SIGNAL},
        {"stop-grace", 0, true, false, O_GRACE},
        {"stop-main", 0, false, false, O_MAIN},
        {NULL, 0, false, false, 0},
    };
    struct ctl_line l;
    const char **args;
    const char *sub;
    double timeout, stop_s;
    unsigned ntimeout;
    int st, i, n, dd;

    /* svc add: what follows "--" is the command, never options. */
    for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
        ;
    if (ctl_parse(&l, dd, argv, opts_svc, &st) != 0)
        return st;
    sub = l.cl_p.cp_nops > 0 ? l.cl_p.cp_ops[0] : "list";
    if (strcmp(sub, "add") == 0) {
        if (l.cl_p.cp_json)
            st = rn__cmd_usage_error("--json: svc add has no JSON output (svc list and svc "
                                     "status have)");
        else
            st = svc_add(&l, dd < argc ? argc - dd - 1 : 0, dd < argc ? argv + dd + 1 : NULL);
        goto out;
    }
    if (dd < argc) {
        /* Not svc add: "--" only ends the options. */
        rn__cmd_parser_free(&l.cl_p);
        if (ctl_parse(&l, argc, argv, opts_svc, &st) != 0)
            return st;
        sub = l.cl_p.cp_nops > 0 ? l.cl_p.cp_ops[0] : "list";
    }
    if (l.cl_signal != NULL || l.cl_grace != NULL || l.cl_stop_main) {
        st = rn__cmd_usage_error("svc %s: --%s is for svc add", sub,
                                 l.cl_signal != NULL ? "stop-signal" : l.cl_grace != NULL
                                 ? "stop-grace" : "stop-main");
        goto out;
    }
    ntimeout = l.cl_p.cp_seen[1]; /* opts_svc[1], repeatable for this check */
    if (strcmp(sub, "stop") == 0) {
        if (ntimeout > 1) {
            st = rn__cmd_usage_error("svc stop: --timeout given twice");
            goto out;
        }
        if ((st = ctl_timeout(&l, "svc stop: ", CTL_STOP_DEFAULT_S, &stop_s)) != 0)
            goto out;
        for (i = 1; i < l.cl_p.cp_nops; i++) {
            if (l.cl_p.cp_ops[i][0] == '-') {
                st = rn__cmd_usage_error("svc stop: '%s': not a service name", l.cl_p.cp_ops[i]);
                goto out;
            }
        }
        timeout = stop_s + CTL_STOP_MARGIN_S;
        if (timeout < CTL_DEFAULT_TIMEOUT_S)
            timeout = CTL_DEFAULT_TIMEOUT_S;
    } else {
        if (ntimeout > 1) {
            st = rn__cmd_usage_error("--timeout given twice");
            goto out;
        }
        if ((st = ctl_timeout(&l, "", CTL_DEFAULT_TIMEOUT_S, &timeout)) != 0)
            goto out;
    }
    if (l.cl_p.cp_json && (!strcmp(sub, "start") || !strcmp(sub, "stop") ||
                           !strcmp(sub, "remove"))) {
        st = rn__cmd_usage_error("--json: svc %s has no JSON output (svc list and svc status have)",
                             sub);
        goto out;
    }
    if ((args = ctl_args(&l, &n)) == NULL) {
        st = CMD_EXIT_FAIL;
        goto out;
    }
    for (i = 0; i < l.cl_p.cp_nops; i++)
        args[n++] = l.cl_p.cp_ops[i];
    if (strcmp(sub, "stop") == 0 && l.cl_timeout != NULL) {
        args[n++] = "--timeout";
        args[n++] = l.cl_timeout;
    }
    st = ctl_call(l.cl_ctl, l.cl_p.cp_json, timeout, n, args);
    free(args);
out:
    rn__cmd_parser_free(&l.cl_p);
    return st;
}
