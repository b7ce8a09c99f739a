/*
 * The version of refnet, as `refnet version` and `refnet status` show it.
 */
#ifndef REFNET_TOOLS_VERSION_H
#define REFNET_TOOLS_VERSION_H

#define REFNET_TOOL_VERSION "0.1.0"

#endif
