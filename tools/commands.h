/*
 * The subcommands of the `refnet` command, and what they share.
 *
 * Each command lives in tools/cmd_<name>.c.  tools/cmd_help.c holds the
 * one table of commands (rn__cmd_table[]): name, function, synopsis, summary,
 * option help and man page.  `refnet help`, `refnet help CMD`, `refnet CMD
 * --help` and the tests that hold the man pages to the tool all read it;
 * tools/refnet.c dispatches on it.
 *
 * Every command parses its command line with rn__cmd_getopt() (tools/cmd_opt.c,
 * getopt_long(3) underneath): options may come before or after operands,
 * `--opt=VALUE` and `--opt VALUE` both work, `--` ends the options, and -h,
 * --help prints the command's usage to stdout.  Mistakes get one line on
 * stderr naming the bad argument.
 *
 * A command returns the process exit status:
 *   0  done
 *   1  failed (including: the daemon cannot be reached or did not answer)
 *   2  bad usage, with one line naming what was wrong
 *   3  a hang reproduced or diagnosed (svc stop that timed out, lab)
 */
#ifndef REFNET_TOOLS_COMMANDS_H
#define REFNET_TOOLS_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses of the tool. */
#define CMD_EXIT_OK 0
#define CMD_EXIT_FAIL 1
#define CMD_EXIT_USAGE 2
#define CMD_EXIT_HANG 3

/* cd_flags */
#define CMD_F_CTL 0x1u     /* talks to a running daemon: takes --ctl PATH */
#define CMD_F_TIMEOUT 0x2u /* takes --timeout S, the wait for the daemon's answer */
#define CMD_F_JSON 0x4u    /* answers --json (for some subcommands at least) */

/* One command of the tool. */
struct cmd_def {
    const char *cd_name;                 /* "netstat" */
    int (*cd_fn)(int argc, char **argv); /* argv[0] is cd_name */
    const char *cd_brief;                /* one-line synopsis for the list */
    const char *cd_summary;              /* what it does, one line */
    const char *cd_synopsis;             /* full synopsis lines, '\n'-separated,
                                            each without "refnet " */
    const char *cd_desc;                 /* a paragraph for --help, or NULL */
    const char *cd_options;              /* option lines for --help, or NULL */
    const char *cd_man;                  /* its man page, "refnet-netstat" */
    unsigned cd_flags;                   /* CMD_F_* */
};

/* The table, in the order `refnet help` lists it; rn__cmd_count entries. */
extern const struct cmd_def rn__cmd_table[];
extern const size_t rn__cmd_count;

/* Returns the command named name, or NULL. */
const struct cmd_def *rn__cmd_find(const char *name);

/* Prints the usage of c (`refnet CMD --help`) to f. */
void rn__cmd_print_usage(const struct cmd_def *c, FILE *f);

/* Prints the tool's usage and the list of commands to f. */
void rn__cmd_print_list(FILE *f);

/* The commands. */
int rn__cmd_version(int argc, char **argv);
int rn__cmd_help(int argc, char **argv);
int rn__cmd_analyze(int argc, char **argv);
int rn__cmd_lab(int argc, char **argv);
int rn__cmd_run(int argc, char **argv);
int rn__cmd_daemon(int argc, char **argv);
int rn__cmd_status(int argc, char **argv);
int rn__cmd_ifconfig(int argc, char **argv);
int rn__cmd_arp(int argc, char **argv);
int rn__cmd_neigh(int argc, char **argv);
int rn__cmd_ping(int argc, char **argv);
int rn__cmd_route(int argc, char **argv);
int rn__cmd_stat(int argc, char **argv);
int rn__cmd_svc(int argc, char **argv);
int rn__cmd_why(int argc, char **argv);
int rn__cmd_objects(int argc, char **argv);
int rn__cmd_refs(int argc, char **argv);
int rn__cmd_trace(int argc, char **argv);
int rn__cmd_dump(int argc, char **argv);
int rn__cmd_sim(int argc, char **argv);
int rn__cmd_filter(int argc, char **argv);
int rn__cmd_plugin(int argc, char **argv);
int rn__cmd_netstat(int argc, char **argv);
int rn__cmd_send(int argc, char **argv);
int rn__cmd_recv(int argc, char **argv);
int rn__cmd_get(int argc, char **argv);
int rn__cmd_set(int argc, char **argv);
/* `get [tcp | NAME]`: the part of `get` that reads TCP's settings from the
 * daemon (tools/cmd_ctl.c); rn__cmd_get() hands it over. */
int rn__cmd_get_settings(int argc, char **argv);

/* `refnet lab clear-leak`: sends argv (argv[0] "lab") to the daemon as
 * the client commands do (tools/cmd_ctl.c) and prints its reply; returns
 * the exit status.  ctl and timeout as given on the command line, or
 * NULL for the defaults. */
int rn__cmd_ctl_forward(int argc, char **argv, const char *ctl, const char *timeout);

/* ---- Option parsing (tools/cmd_opt.c) ------------------------------------ */

/* The most options one command has, -h and -j not counted. */
#define CMD_OPTS_MAX 48

/* One option of a command. */
struct cmd_opt {
    const char *co_long; /* long name without the dashes: "timeout" */
    char co_short;       /* short letter, or 0 */
    bool co_arg;         /* takes a value */
    bool co_many;        /* may be given more than once (else: "given twice") */
    int co_id;           /* what rn__cmd_getopt() returns for it, > 0 */
};

/* What rn__cmd_getopt() returns besides an option's co_id. */
#define CMD_OPT_END 0   /* no more options; the operands are in cp_ops */
#define CMD_OPT_STOP -1 /* help printed or a usage error: exit cp_status */

/* One parse of a command line.  Fill it with rn__cmd_parser_init(). */
struct cmd_parser {
    const struct cmd_def *cp_cmd;  /* [I] whose usage -h prints */
    const char *cp_prefix;         /* [I] starts each message: "refnet daemon: " */
    const struct cmd_opt *cp_opts; /* [I] the options, ended by co_long NULL */
    int cp_argc;                   /* [I] argv[0] is the command name */
    char **cp_argv;
    char **cp_ops;                 /* operands in order, cp_nops of them */
    int cp_nops;
    bool cp_json;                  /* -j/--json was given */
    const char *cp_val;            /* the value of the option just returned */
    int cp_status;                 /* after CMD_OPT_STOP: 0 (help) or 2 */
    unsigned cp_seen[CMD_OPTS_MAX]; /* times each option was given */
};

/* Prepares a parse of argv (argv[0] the command's name) with the options
 * opts (an array ended by an entry whose co_long is NULL; at most
 * CMD_OPTS_MAX).  Every command also takes -h/--help and -j/--json. */
void rn__cmd_parser_init(struct cmd_parser *p, const struct cmd_def *cmd, const char *prefix,
                     const struct cmd_opt *opts, int argc, char **argv);

/* Returns the co_id of the next option (its value in cp_val), CMD_OPT_END
 * once the command line is read (operands in cp_ops: free them with
 * rn__cmd_parser_free()), or CMD_OPT_STOP after printing the usage (-h,
 * cp_status 0) or one line naming a mistake (cp_status 2): an unknown or
 * ambiguous option, a value missing or given to an option that takes
 * none, an option given twice, --json to a command without CMD_F_JSON.
 * After STOP nothing is left to free. */
int rn__cmd_getopt(struct cmd_parser *p);

/* Frees cp_ops. */
void rn__cmd_parser_free(struct cmd_parser *p);

/* Prints "<cp_prefix><msg>" to stderr and returns 2, for usage errors. */
int rn__cmd_parser_error(const struct cmd_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "refnet: <msg>" to stderr and returns 2, for usage errors. */
int rn__cmd_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses an unsigned decimal number in [min, max], nothing else around
 * it.  Returns 0 and *out, or -1. */
int rn__cmd_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parses a number of seconds in (0, max] ("30", "0.5").  Returns 0 and
 * *out, or -1. */
int rn__cmd_parse_seconds(const char *s, double max, double *out);

#endif
