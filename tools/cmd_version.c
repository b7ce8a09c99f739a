/*
 * refnet version
 */
#include <stdio.h>

#include "commands.h"
#include "version.h"

int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return cmd_usage_error("version takes no arguments");
    printf("refnet %s\n", REFNET_TOOL_VERSION);
    return 0;
}
