/*
 * The option parser every `refnet` command uses (commands.h): getopt_long(3)
 * in the mode that returns operands in order, so options and operands mix
 * freely and `--` ends the options, with the tool's own one-line messages
 * instead of getopt's.  Also the small parsers of numbers the commands
 * share.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

/* getopt_long's val for option i of cp_opts (short options map too). */
#define OPT_VAL_BASE 1000
#define OPT_VAL_HELP (OPT_VAL_BASE - 1)
#define OPT_VAL_JSON (OPT_VAL_BASE - 2)

int rn__cmd_usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("refnet: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CMD_EXIT_USAGE;
}

int rn__cmd_parser_error(const struct cmd_parser *p, const char *fmt, ...)
{
    va_list ap;

    fputs(p->cp_prefix, stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CMD_EXIT_USAGE;
}

int rn__cmd_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int rn__cmd_parse_seconds(const char *s, double max, double *out)
{
    char *end;
    double v;

    if (s == NULL || ((*s < '0' || *s > '9') && *s != '.'))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

void rn__cmd_parser_init(struct cmd_parser *p, const struct cmd_def *cmd, const char *prefix,
                     const struct cmd_opt *opts, int argc, char **argv)
{
    static const struct cmd_opt none[] = {{NULL, 0, false, false, 0}};

    assert(cmd != NULL && prefix != NULL && argc >= 1);
    memset(p, 0, sizeof(*p));
    p->cp_cmd = cmd;
    p->cp_prefix = prefix;
    p->cp_opts = opts != NULL ? opts : none;
    p->cp_argc = argc;
    p->cp_argv = argv;
    /* A fresh scan: the tool may parse twice in one process (lab runs
     * analyze). */
    optind = 0;
}

void rn__cmd_parser_free(struct cmd_parser *p)
{
    free(p->cp_ops);
    p->cp_ops = NULL;
    p->cp_nops = 0;
}

static int opt_count(const struct cmd_parser *p)
{
    int n = 0;

    while (p->cp_opts[n].co_long != NULL)
        n++;
    if (n > CMD_OPTS_MAX) {
        /* A table longer than the parser's arrays: a build error, caught
         * by every run of the command rather than by corrupting its stack. */
        fprintf(stderr, "%scommand has %d options, more than CMD_OPTS_MAX (%d)\n", p->cp_prefix,
                n, CMD_OPTS_MAX);
        abort();
    }
    return n;
}

/* Returns the index in cp_opts of getopt's val v, or -1. */
static int opt_index(const struct cmd_parser *p, int v)
{
    int i, n = opt_count(p);

    if (v >= OPT_VAL_BASE && v < OPT_VAL_BASE + n)
        return v - OPT_VAL_BASE;
    for (i = 0; i < n; i++) {
        if (v != 0 && p->cp_opts[i].co_short == v)
            return i;
    }
    return -1;
}

/* Says what is wrong with the long option given as text ("--frob=1"):
 * unknown, or an abbreviation of several. */
static int bad_long_option(struct cmd_parser *p, const char *text)
{
    static const char *const builtin[] = {"help", "json"};
    char names[256] = "";
    size_t n = strcspn(text + 2, "="), k, used = 0;
    int i, matches = 0, count = opt_count(p);

    for (i = 0; i < count + 2; i++) {
        const char *name = i < count ? p->cp_opts[i].co_long : builtin[i - count];

        if (n > 0 && strncmp(name, text + 2, n) == 0) {
            k = (size_t)snprintf(names + used, sizeof(names) - used, "%s--%s",
                                 matches ? ", " : "", name);
            used = used + k < sizeof(names) ? used + k : sizeof(names) - 1;
            matches++;
        }
    }
    if (matches > 1)
        return rn__cmd_parser_error(p, "option '%.*s' is ambiguous (%s)", (int)n + 2, text, names);
    return rn__cmd_parser_error(p, "unknown option '%.*s' (see refnet %s --help)", (int)n + 2, text,
                            p->cp_cmd->cd_name);
}

static int add_operand(struct cmd_parser *p, char *op)
{
    if (p->cp_ops == NULL) {
        p->cp_ops = calloc((size_t)p->cp_argc, sizeof(*p->cp_ops));
        if (p->cp_ops == NULL) {
            fprintf(stderr, "%sout of memory\n", p->cp_prefix);
            p->cp_status = CMD_EXIT_FAIL;
            return -1;
        }
    }
    p->cp_ops[p->cp_nops++] = op;
    return 0;
}

static int stop(struct cmd_parser *p, int status)
{
    rn__cmd_parser_free(p);
    p->cp_status = status;
    return CMD_OPT_STOP;
}

int rn__cmd_getopt(struct cmd_parser *p)
{
    struct option longopts[CMD_OPTS_MAX + 3];
    char shortopts[3 + 2 * 2 + 2 * CMD_OPTS_MAX + 1];
    int i, n = opt_count(p), c, li, k = 0;

    /* Built every call: cheap, and nothing to free on any path. */
    shortopts[k++] = '-'; /* operands in order, as option 1 */
    shortopts[k++] = ':'; /* ':' for a missing value, no messages */
    shortopts[k++] = 'h';
    shortopts[k++] = 'j';
    for (i = 0; i < n; i++) {
        const struct cmd_opt *o = &p->cp_opts[i];

        longopts[i].name = o->co_long;
        longopts[i].has_arg = o->co_arg ? required_argument : no_argument;
        longopts[i].flag = NULL;
        longopts[i].val = OPT_VAL_BASE + i;
        if (o->co_short != 0) {
            shortopts[k++] = o->co_short;
            if (o->co_arg)
                shortopts[k++] = ':';
        }
    }
    shortopts[k] = '\0';
    longopts[n] = (struct option){"help", no_argument, NULL, OPT_VAL_HELP};
    longopts[n + 1] = (struct option){"json", no_argument, NULL, OPT_VAL_JSON};
    longopts[n + 2] = (struct option){NULL, 0, NULL, 0};

    opterr = 0;
    for (;;) {
        li = -1;
        c = getopt_long(p->cp_argc, p->cp_argv, shortopts, longopts, &li);
        if (c == 1) {
            if (add_operand(p, optarg) != 0)
                return CMD_OPT_STOP;
            continue;
        }
        break;
    }
    if (c == -1) {
        /* After "--", everything left is an operand. */
        for (; optind < p->cp_argc; optind++) {
            if (add_operand(p, p->cp_argv[optind]) != 0)
                return CMD_OPT_STOP;
        }
        if (p->cp_json && !(p->cp_cmd->cd_flags & CMD_F_JSON))
            return stop(p, rn__cmd_parser_error(p, "--json: refnet %s has no JSON output",
                                            p->cp_cmd->cd_name));
        return CMD_OPT_END;
    }
    if (c == 'h' || c == OPT_VAL_HELP) {
        rn__cmd_print_usage(p->cp_cmd, stdout);
        return stop(p, fflush(stdout) == 0 ? CMD_EXIT_OK : CMD_EXIT_FAIL);
    }
    if (c == 'j' || c == OPT_VAL_JSON) {
        p->cp_json = true;
        return rn__cmd_getopt(p);
    }
    if (c == ':') {
        i = opt_index(p, optopt);
        assert(i >= 0);
        return stop(p, rn__cmd_parser_error(p, "--%s needs a value", p->cp_opts[i].co_long));
    }
    if (c == '?') {
        const char *text = p->cp_argv[optind - 1];

        if (optopt == OPT_VAL_HELP || optopt == OPT_VAL_JSON)
            return stop(p, rn__cmd_parser_error(p, "--%s takes no value",
                                            optopt == OPT_VAL_HELP ? "help" : "json"));
        i = opt_index(p, optopt);
        if (i >= 0 && optopt >= OPT_VAL_BASE)
            return stop(p, rn__cmd_parser_error(p, "--%s takes no value", p->cp_opts[i].co_long));
        if (optopt != 0)
            return stop(p, rn__cmd_parser_error(p, "unknown option '-%c' (see refnet %s --help)",
                                            optopt, p->cp_cmd->cd_name));
        return stop(p, bad_long_option(p, text));
    }
    i = opt_index(p, c);
    assert(i >= 0);
    if (p->cp_seen[i]++ > 0 && p->cp_opts[i].co_arg && !p->cp_opts[i].co_many)
        return stop(p, rn__cmd_parser_error(p, "--%s given twice", p->cp_opts[i].co_long));
    p->cp_val = optarg;
    return p->cp_opts[i].co_id;
}
