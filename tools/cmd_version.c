/*
 * refnet version (also `refnet --version`, `refnet -V`): the version of the
 * refnet library the tool runs with (refnet/version.h).
 */
#include <stdio.h>

#include "commands.h"
#include "refnet/version.h"

int cmd_version(int argc, char **argv)
{
    struct cmd_parser p;
    int o;

    cmd_parser_init(&p, cmd_find("version"), "refnet: version: ", NULL, argc, argv);
    while ((o = cmd_getopt(&p)) > 0)
        ;
    if (o == CMD_OPT_STOP)
        return p.cp_status;
    if (p.cp_nops > 0) {
        o = cmd_parser_error(&p, "unexpected argument '%s' (it takes none)", p.cp_ops[0]);
        cmd_parser_free(&p);
        return o;
    }
    printf("refnet %s\n", rn_version());
    return fflush(stdout) == 0 ? CMD_EXIT_OK : CMD_EXIT_FAIL;
}
