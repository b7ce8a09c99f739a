/*
 * refnet version (also `refnet --version`, `refnet -V`): the version of the
 * refnet library the tool runs with (refnet/version.h).
 */
#include <stdio.h>

#include "commands.h"
#include "refnet/version.h"

int rn__cmd_version(int argc, char **argv)
{
    struct cmd_parser p;
    int o;

    rn__cmd_parser_init(&p, rn__cmd_find("version"), "refnet: version: ", NULL, argc, argv);
    while ((o = rn__cmd_getopt(&p)) > 0)
        ;
    if (o == CMD_OPT_STOP)
        return p.cp_status;
    if (p.cp_nops > 0) {
        o = rn__cmd_parser_error(&p, "unexpected argument '%s' (it takes none)", p.cp_ops[0]);
        rn__cmd_parser_free(&p);
        return o;
    }
    printf("refnet %s\n", rn_version());
    return fflush(stdout) == 0 ? CMD_EXIT_OK : CMD_EXIT_FAIL;
}
