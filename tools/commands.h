/*
 * The subcommands of the `refnet` command.  Each lives in tools/cmd_<name>.c
 * and is listed once here; tools/refnet.c dispatches on the first argument.
 *
 * A command returns the process exit status: 0 success, 1 failure, 2 bad
 * usage (with a one-line message naming what was wrong), 3 and above as the
 * command documents.
 */
#ifndef REFNET_TOOLS_COMMANDS_H
#define REFNET_TOOLS_COMMANDS_H

#include <stdint.h>

/* X(name, function, one-line summary) */
#define RN_COMMANDS(X)                                                         \
    X(version, cmd_version, "version: print the version of refnet")            \
    X(analyze, cmd_analyze, "analyze FILE: print the waiting chains of a dump offline") \
    X(lab, cmd_lab, "lab stop-hang|callout-hang|close-wait [--fixed] [--seed N]: the case in the simulator; lab leak; lab clear-leak") \
    X(daemon, cmd_daemon, "daemon --tap NAME --addr A/P [...]: run a stack on a TAP device") \
    X(status, cmd_status, "status: is the daemon alive: pid, uptime, version, interface") \
    X(ifconfig, cmd_ifconfig, "ifconfig [--json]: the daemon's interfaces") \
    X(arp, cmd_arp, "arp [--json]: the daemon's ARP cache") \
    X(route, cmd_route, "route [--json]: the daemon's routes") \
    X(stat, cmd_stat, "stat [--json]: counters, drops by reason, buffers by owner") \
    X(svc, cmd_svc, "svc [list | status NAME | start NAME | stop NAME [--timeout S]]: the daemon's services") \
    X(why, cmd_why, "why [SERVICE|ID]: what keeps a service, an object or every wait pending") \
    X(objects, cmd_objects, "objects [--type NAME] [--json]: live objects and their holders") \
    X(refs, cmd_refs, "refs ID [--json]: one object's holders and traced holds") \
    X(trace, cmd_trace, "trace on|off TYPE|ID: trace references of a type or an object") \
    X(dump, cmd_dump, "dump FILE: write the daemon's objects to a dump file") \
    X(sim, cmd_sim, "sim ping|udp-echo ...: scenarios in the simulator, in virtual time") \
    X(filter, cmd_filter, "filter list|add SPEC|del ID [--json]: the daemon's filters and callouts") \
    X(netstat, cmd_netstat, "netstat [-a] [--refs] [--json]: the daemon's TCP and UDP endpoints, owners, holders") \
    X(send, cmd_send, "send ADDR PORT [--timeout S] < FILE: stdin over a TCP connection from refnet") \
    X(recv, cmd_recv, "recv PORT [--timeout S] > FILE: accept one TCP connection on refnet, to stdout") \
    X(get, cmd_get, "get URL [-o FILE]: HTTP/1.1 GET of http://ADDR[:PORT]/path through refnet")

#define RN_CMD_DECL_(name, fn, help) int fn(int argc, char **argv);
RN_COMMANDS(RN_CMD_DECL_)
#undef RN_CMD_DECL_

/* Sends argv (argv[0] the daemon's command name) to the daemon as the
 * client commands do (tools/cmd_ctl.c), and prints its reply; returns the
 * exit status.  For `refnet lab clear-leak`. */
int cmd_ctl_forward(int argc, char **argv);

/* Prints "refnet: <msg>" to stderr and returns 2, for usage errors. */
int cmd_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parses an unsigned decimal number in [min, max], nothing else around
 * it.  Returns 0 and *out, or -1. */
int cmd_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
