/*
 * refnet daemon: runs a refnet stack on a TAP device in the foreground,
 * answering the `refnet` commands on its control socket (daemon.h).
 *
 * This file checks the command line and prints the start-up and shutdown
 * lines; tools/daemon.c does the work.  Exit statuses: 0 clean shutdown,
 * 1 start-up failure or objects leaked at shutdown, 2 bad arguments.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "commands.h"
#include "apps/apps.h"
#include "ctl/ctl.h"
#include "tools/daemon.h"
#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/link.h"
#include "version.h"

static const char daemon_usage[] =
    "usage: refnet daemon --tap NAME --addr ADDR/PREFIX [--gw ADDR] [--ctl PATH]\n"
    "                     [--capture FILE] [--fault SPEC] [--service NAME]...\n"
    "                     [--mac MAC] [--mtu N] [--seed N] [--watchdog S]\n"
    "                     [--offload on|off] [--filter SPEC]... [--dump-dir DIR]\n"
    "                     [--reass-timeout S] [--inject enum-leak]\n"
    "  --tap NAME        TAP device to run on (created if absent)\n"
    "  --addr A/P        refnet's IPv4 address and prefix length, e.g. 198.18.0.2/15\n"
    "  --gw ADDR         default gateway, on the interface's prefix\n"
    "  --ctl PATH        control socket (default $REFNET_CTL, else /run/refnet.sock)\n"
    "  --capture FILE    record every frame the stack sees to a pcap file\n"
    "  --fault SPEC      inject faults: drop=2%,dup=1%,reorder=1%,delay=5ms,seed=42...\n"
    "  --service NAME    run a built-in service (repeatable): echo (UDP and TCP 7),\n"
    "                    discard (TCP 9), chargen (TCP 19), httpd=PORT:DIR\n"
    "  --mac MAC         the interface's address (default: random, locally administered)\n"
    "  --mtu N           the device's MTU\n"
    "  --seed N          seed of the stack's ISNs, ports and ids (default: random)\n"
    "  --watchdog S      report waits older than S seconds (default 10; 0: no watchdog)\n"
    "  --offload on|off  TAP checksum offload and TSO/GRO (IFF_VNET_HDR; default on)\n"
    "  --filter SPEC     add a filter at start (repeatable), e.g.\n"
    "                    layer=accept,lport=80,action=callout:connlog; naming\n"
    "                    callout:faulty registers that lab-only callout\n"
    "  --dump-dir DIR    write a dump there each time the watchdog reports\n"
    "                    (refnet-TIME-PID.dump; read it with refnet analyze)\n"
    "  --reass-timeout S give up an IPv4 datagram whose fragments did not all\n"
    "                    come within S seconds, 1..3600 (default 30)\n"
    "  --inject FAULT    the lab's faults, off unless named: enum-leak makes\n"
    "                    netstat's enumeration leak references on listeners,\n"
    "                    as in the case (refnet lab clear-leak gives them back)\n";

static int daemon_arg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int daemon_arg_error(const char *fmt, ...)
{
    va_list ap;

    fputs("refnet daemon: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

static bool parse_ip4(const char *s, uint32_t *out)
{
    struct in_addr in;

    if (inet_pton(AF_INET, s, &in) != 1)
        return false;
    *out = ntohl(in.s_addr);
    return true;
}

static int parse_addr(const char *arg, uint32_t *addr, uint8_t *plen)
{
    const char *slash = strchr(arg, '/');
    char ip[INET_ADDRSTRLEN];
    unsigned long p;
    char *end;

    if (slash == NULL)
        return daemon_arg_error("--addr: '%s': expected ADDR/PREFIX, e.g. 198.18.0.2/15", arg);
    if ((size_t)(slash - arg) >= sizeof(ip))
        return daemon_arg_error("--addr: '%s': not an IPv4 address", arg);
    memcpy(ip, arg, (size_t)(slash - arg));
    ip[slash - arg] = '\0';
    if (!parse_ip4(ip, addr))
        return daemon_arg_error("--addr: '%s': '%s' is not an IPv4 address", arg, ip);
    errno = 0;
    p = strtoul(slash + 1, &end, 10);
    if (!isdigit((unsigned char)slash[1]) || *end != '\0' || errno != 0 || p > 32)
        return daemon_arg_error("--addr: '%s': prefix length must be 0..32", arg);
    *plen = (uint8_t)p;
    if (*addr == 0)
        return daemon_arg_error("--addr: '%s': the address must not be 0.0.0.0", arg);
    return 0;
}

static int parse_mac(const char *arg, uint8_t *mac)
{
    unsigned v[6];
    char tail;
    int i;

    if (strlen(arg) != 17 ||
        sscanf(arg, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &tail) != 6)
        return daemon_arg_error("--mac: '%s': expected six hex octets, e.g. 02:00:00:00:00:02",
                                arg);
    for (i = 0; i < 6; i++) {
        if (!isxdigit((unsigned char)arg[i * 3]) || !isxdigit((unsigned char)arg[i * 3 + 1]))
            return daemon_arg_error("--mac: '%s': expected six hex octets, e.g. "
                                    "02:00:00:00:00:02", arg);
        mac[i] = (uint8_t)v[i];
    }
    if (mac[0] & 1)
        return daemon_arg_error("--mac: '%s': a multicast address cannot be an interface's",
                                arg);
    if ((mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0)
        return daemon_arg_error("--mac: '%s': the address must not be all zero", arg);
    return 0;
}

static int parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
    unsigned long long v;
    char *end;

    errno = 0;
    /* Decimal, or hexadecimal with 0x (never octal: "010" is ten). */
    v = strtoull(arg, &end, strncmp(arg, "0x", 2) == 0 ? 16 : 10);
    if (strncmp(arg, "0x", 2) == 0 && end == arg + 2)
        end = (char *)arg;
    if (!isdigit((unsigned char)arg[0]) || end == arg || *end != '\0' || errno != 0 ||
        v < min || v > max)
        return daemon_arg_error("%s: '%s': must be a number in %llu..%llu", opt, arg,
                                (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return 0;
}

/* The options that take a value, and whether each was seen. */
enum {
    O_TAP, O_ADDR, O_GW, O_CTL, O_CAPTURE, O_FAULT, O_SERVICE, O_MAC, O_MTU, O_SEED, O_WATCHDOG,
    O_OFFLOAD, O_FILTER, O_DUMP_DIR, O_REASS_TIMEOUT, O_INJECT, O_COUNT_
};
static const char *const daemon_opts[O_COUNT_] = {
    "--tap", "--addr", "--gw", "--ctl", "--capture", "--fault", "--service", "--mac", "--mtu",
    "--seed", "--watchdog", "--offload", "--filter", "--dump-dir", "--reass-timeout", "--inject",
};

int cmd_daemon(int argc, char **argv)
{
    struct rn_daemon_params p;
    struct rn_fault_params fault;
    struct rn_daemon *d;
    bool seen[O_COUNT_] = {false};
    char err[512], line[256];
    const char *gw_arg = NULL;
    uint64_t v, leaked;
    int i, o, e;

    memset(&p, 0, sizeof(p));
    p.dp_version = REFNET_TOOL_VERSION;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL, *eq;
        size_t n;

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(daemon_usage, stdout);
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0)
            return daemon_arg_error("unexpected argument '%s' (see refnet daemon --help)", arg);
        eq = strchr(arg, '=');
        n = eq ? (size_t)(eq - arg) : strlen(arg);
        for (o = 0; o < O_COUNT_; o++) {
            if (strlen(daemon_opts[o]) == n && strncmp(arg, daemon_opts[o], n) == 0)
                break;
        }
        if (o == O_COUNT_)
            return daemon_arg_error("unknown option '%.*s' (see refnet daemon --help)", (int)n,
                                    arg);
        if (eq != NULL)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return daemon_arg_error("%s needs a value", daemon_opts[o]);
        if (seen[o] && o != O_SERVICE && o != O_FILTER)
            return daemon_arg_error("%s given twice", daemon_opts[o]);
        seen[o] = true;

        switch (o) {
        case O_TAP:
            if (val[0] == '\0' || strlen(val) > 15 || strpbrk(val, "/ \t\n:") != NULL)
                return daemon_arg_error("--tap: '%s': a device name is 1 to 15 characters, "
                                        "without '/', ':' or spaces", val);
            p.dp_tap = val;
            break;
        case O_ADDR:
            if (parse_addr(val, &p.dp_addr, &p.dp_plen) != 0)
                return 2;
            break;
        case O_GW:
            if (!parse_ip4(val, &p.dp_gw) || p.dp_gw == 0)
                return daemon_arg_error("--gw: '%s': not an IPv4 address", val);
            gw_arg = val;
            break;
        case O_CTL:
            if (val[0] == '\0' || strlen(val) >= sizeof(((struct sockaddr_un *)0)->sun_path))
                return daemon_arg_error("--ctl: '%s': a socket path is 1 to %zu bytes", val,
                                        sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            p.dp_ctl_path = val;
            break;
        case O_CAPTURE:
            if (val[0] == '\0')
                return daemon_arg_error("--capture: needs a file name");
            p.dp_capture = val;
            break;
        case O_FAULT:
            if (rn_fault_parse(val, &fault, err, sizeof(err)) != 0)
                return daemon_arg_error("--fault: '%s': %s", val, err);
            p.dp_fault = &fault;
            break;
        case O_SERVICE:
            if (strncmp(val, "httpd", 5) == 0 && (val[5] == '\0' || val[5] == '=')) {
                struct rn_httpd_params hp;

                if (val[5] == '\0')
                    return daemon_arg_error("--service: httpd needs PORT:DIR, e.g. "
                                            "httpd=80:/srv/www");
                if (rn_httpd_parse_spec(val + 6, &hp, err, sizeof(err)) != 0)
                    return daemon_arg_error("--service: '%s': %s", val, err);
            }
            if (!rn_daemon_service_known(val, err, sizeof(err)))
                return daemon_arg_error("--service: '%s': unknown service, or an argument it "
                                        "does not take (known: %s)", val, err);
            if (p.dp_nservices == RN_DAEMON_SERVICES_MAX)
                return daemon_arg_error("--service: at most %d services",
                                        RN_DAEMON_SERVICES_MAX);
            p.dp_services[p.dp_nservices++] = val;
            break;
        case O_MAC:
            if (parse_mac(val, p.dp_mac) != 0)
                return 2;
            break;
        case O_MTU:
            if (parse_u64("--mtu", val, 68, 65535 - 14, &v) != 0)
                return 2;
            p.dp_mtu = (uint32_t)v;
            break;
        case O_SEED:
            if (parse_u64("--seed", val, 1, UINT64_MAX, &v) != 0)
                return 2;
            p.dp_seed = v;
            break;
        case O_WATCHDOG:
            if (parse_u64("--watchdog", val, 0, 86400, &v) != 0)
                return 2;
            p.dp_watchdog = RN_SEC(v);
            p.dp_no_watchdog = v == 0;
            break;
        case O_REASS_TIMEOUT:
            if (parse_u64("--reass-timeout", val, 1, 3600, &v) != 0)
                return 2;
            p.dp_reass_timeout = RN_SEC(v);
            break;
        case O_FILTER: {
            struct rn_filter_spec fs;

            if (rn_filter_parse(val, &fs, err, sizeof(err)) != 0)
                return daemon_arg_error("--filter: '%s': %s", val, err);
            if (p.dp_nfilters == RN_DAEMON_FILTERS_MAX)
                return daemon_arg_error("--filter: at most %d filters", RN_DAEMON_FILTERS_MAX);
            p.dp_filters[p.dp_nfilters++] = val;
            break;
        }
        case O_DUMP_DIR:
            if (val[0] == '\0')
                return daemon_arg_error("--dump-dir: needs a directory");
            p.dp_dump_dir = val;
            break;
        case O_INJECT:
            if (strcmp(val, "enum-leak") != 0)
                return daemon_arg_error("--inject: '%s': unknown fault (known: enum-leak)", val);
            p.dp_inject_enum_leak = true;
            break;
        case O_OFFLOAD:
            if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0)
                return daemon_arg_error("--offload: '%s': expected on or off", val);
            p.dp_no_offload = strcmp(val, "off") == 0;
            break;
        }
    }
    if (p.dp_tap == NULL)
        return daemon_arg_error("--tap is required (see refnet daemon --help)");
    if (!seen[O_ADDR])
        return daemon_arg_error("--addr is required (see refnet daemon --help)");
    if (p.dp_gw != 0) {
        uint32_t mask = p.dp_plen ? ~0u << (32 - p.dp_plen) : 0;
        struct in_addr net = {.s_addr = htonl(p.dp_addr & mask)};
        char nbuf[INET_ADDRSTRLEN];

        inet_ntop(AF_INET, &net, nbuf, sizeof(nbuf));
        if ((p.dp_gw & mask) != (p.dp_addr & mask))
            return daemon_arg_error("--gw: '%s': not on %s/%u, the interface's prefix",
                                    gw_arg, nbuf, p.dp_plen);
        if (p.dp_gw == p.dp_addr)
            return daemon_arg_error("--gw: the gateway cannot be the interface's own address");
    }

    /* Writes to a control client that went away must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    e = rn_daemon_start(&p, &d, err, sizeof(err));
    if (e != 0) {
        fprintf(stderr, "refnet daemon: %s\n", err);
        return 1;
    }
    rn_daemon_describe(d, line, sizeof(line));
    fprintf(stderr, "refnet daemon: %s\n", line);
    if (p.dp_inject_enum_leak)
        fprintf(stderr, "refnet daemon: fault injected: netstat's enumeration loses 'enum' "
                "references on listeners (refnet lab clear-leak gives them back)\n");
    e = rn_daemon_run(d);
    leaked = rn_daemon_shutdown(d);
    if (e != 0) {
        fprintf(stderr, "refnet daemon: the loop failed: %s\n", rn_strerror(e));
        return 1;
    }
    if (leaked != 0) {
        fprintf(stderr, "refnet daemon: %llu object%s leaked at shutdown (reported above)\n",
                (unsigned long long)leaked, leaked == 1 ? "" : "s");
        return 1;
    }
    fprintf(stderr, "refnet daemon: shut down cleanly\n");
    return 0;
}
