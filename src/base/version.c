/*
 * The library's version (version.h).
 */
#include "refnet/version.h"

const char *rn_version(void)
{
    return RN_VERSION_STRING;
}
