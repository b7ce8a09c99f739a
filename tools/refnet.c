/*
 * The refnet command: `refnet COMMAND [ARG]...` runs the command of that
 * name from the table in tools/cmd_help.c; `refnet --help` lists them and
 * `refnet --version` prints the version.  Exit statuses: commands.h.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

int main(int argc, char **argv)
{
    const struct cmd_def *c;

    if (argc < 2) {
        rn__cmd_print_list(stderr);
        return CMD_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return rn__cmd_help(1, (char *[]){"help", NULL});
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
        return rn__cmd_version(1, (char *[]){"version", NULL});
    c = rn__cmd_find(argv[1]);
    if (c == NULL && argv[1][0] == '-')
        return rn__cmd_usage_error("unknown option '%s' (try 'refnet help')", argv[1]);
    if (c == NULL)
        return rn__cmd_usage_error("unknown command '%s' (try 'refnet help')", argv[1]);
    return c->cd_fn(argc - 1, argv + 1);
}
