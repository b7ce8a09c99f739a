/*
 * The version of refnet, as `refnet --version` and `refnet status` show it:
 * the library's (refnet/version.h).
 */
#ifndef REFNET_TOOLS_VERSION_H
#define REFNET_TOOLS_VERSION_H

#include "refnet/version.h"

#define REFNET_TOOL_VERSION RN_VERSION_STRING

#endif
