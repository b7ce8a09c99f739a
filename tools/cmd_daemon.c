/*
 * refnet daemon: runs a refnet stack on a TAP device in the foreground,
 * answering the `refnet` commands on its control socket (daemon.h).
 *
 * This file checks the command line (rn__cmd_getopt(); the options and their
 * help are in the table of tools/cmd_help.c) and prints the start-up and
 * shutdown lines; tools/daemon.c does the work.  Addresses are read by the
 * library's parsers (refnet/addr.h).  Exit statuses: 0 clean shutdown, 1
 * start-up failure or objects leaked at shutdown, 2 bad arguments.
 */
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
#include "refnet/socket.h"
#include "ctl/ctl.h"
#include "ctl/web.h"
#include "tools/daemon.h"
#include "refnet/addr.h"
#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/link.h"
#include "refnet/loop.h"
#include "refnet/service.h"
#include "refnet/tcp.h"
#include "refnet/version.h"

static int daemon_arg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int daemon_arg_error(const char *fmt, ...)
{
    va_list ap;

    fputs("refnet daemon: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CMD_EXIT_USAGE;
}

/* --addr ADDR/PREFIX: each part named when it is wrong. */
static int parse_addr(const char *arg, uint32_t *addr, uint8_t *plen)
{
    const char *slash = strchr(arg, '/');
    char ip[RN_IP4_STRLEN];
    unsigned p;

    if (slash == NULL)
        return daemon_arg_error("--addr: '%s': expected ADDR/PREFIX, e.g. 198.18.0.2/15", arg);
    if ((size_t)(slash - arg) >= sizeof(ip))
        return daemon_arg_error("--addr: '%s': '%.*s' is not an IPv4 address", arg,
                                (int)(slash - arg), arg);
    memcpy(ip, arg, (size_t)(slash - arg));
    ip[slash - arg] = '\0';
    if (rn_ip4_addr_parse(ip, addr, NULL) != 0)
        return daemon_arg_error("--addr: '%s': '%s' is not an IPv4 address", arg, ip);
    if (rn_ip4_cidr_parse(arg, addr, &p, NULL) != 0)
        return daemon_arg_error("--addr: '%s': prefix length must be 0..32", arg);
    *plen = (uint8_t)p;
    if (*addr == 0)
        return daemon_arg_error("--addr: '%s': the address must not be 0.0.0.0", arg);
    return 0;
}

/* --addr6 ADDR/PREFIX: one more IPv6 address. */
static int parse_addr6(const char *arg, struct rn_daemon_params *p)
{
    const char *err = NULL;
    struct rn_ip6 a;
    unsigned plen;

    if (p->dp_naddr6 == RN_DAEMON_ADDR6_MAX)
        return daemon_arg_error("--addr6: at most %d addresses", RN_DAEMON_ADDR6_MAX);
    if (rn_ip6_cidr_parse(arg, &a, &plen, &err) != 0)
        return daemon_arg_error("--addr6: '%s': %s (expected ADDR/PREFIX, e.g. 2001:2::2/64)",
                                arg, err);
    if (plen == 0 || rn_ip6_is_any(&a) || rn_ip6_is_loopback(&a) || rn_ip6_is_multicast(&a) ||
        rn_ip6_is_v4mapped(&a) || rn_ip6_is_linklocal(&a))
        return daemon_arg_error("--addr6: '%s': not a unicast global address with a prefix "
                                "length of 1..128 (the link-local one comes from the MAC)",
                                arg);
    for (size_t i = 0; i < p->dp_naddr6; i++)
        if (rn_ip6_eq(&p->dp_addr6[i], &a))
            return daemon_arg_error("--addr6: '%s': given twice", arg);
    p->dp_addr6[p->dp_naddr6] = a;
    p->dp_plen6[p->dp_naddr6++] = (uint8_t)plen;
    return 0;
}

static int parse_mac(const char *arg, uint8_t *mac)
{
    struct rn_mac m;

    if (rn_mac_parse(arg, &m, NULL) != 0)
        return daemon_arg_error("--mac: '%s': expected six hex octets, e.g. 02:00:00:00:00:02",
                                arg);
    if (m.mac_octet[0] & 1)
        return daemon_arg_error("--mac: '%s': a multicast address cannot be an interface's",
                                arg);
    if (memcmp(m.mac_octet, RN_MAC_ZERO.mac_octet, RN_MAC_LEN) == 0)
        return daemon_arg_error("--mac: '%s': the address must not be all zero", arg);
    memcpy(mac, m.mac_octet, RN_MAC_LEN);
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

/* The daemon's own limits --set takes beside TCP's settings. */
static const struct limit_setting {
    const char *ls_name;
    uint64_t ls_min, ls_max;
    const char *ls_unit;       /* "" or "s" (seconds, "s" suffix allowed) */
} limit_settings[] = {
    {"svc.max_conns", 1, RN_SVC_CONNS_MAX, ""},
    {"svc.httpd.max_conns", 1, RN_SVC_CONNS_MAX, ""},
    {"svc.backlog", 1, 65535, ""},
    {"svc.httpd.idle_timeout", 1, 86400, "s"},
    {"sock.max_handles", RN_PROC_MAX_HANDLES_MIN, RN_PROC_MAX_HANDLES_MAX, ""},
};

/* --set NAME=VALUE for one of limit_settings[].  Returns 0, 1 if name is
 * none of them, or 2 (printed). */
static int parse_limit(const char *arg, const char *name, const char *value,
                       struct rn_daemon_params *p)
{
    const struct limit_setting *ls = NULL;
    char num[32], opt[96];
    uint64_t v;
    size_t i, len = strlen(value);

    for (i = 0; i < sizeof(limit_settings) / sizeof(limit_settings[0]); i++) {
        if (strcmp(limit_settings[i].ls_name, name) == 0)
            ls = &limit_settings[i];
    }
    if (ls == NULL)
        return 1;
    if (ls->ls_unit[0] != '\0' && len > 0 && value[len - 1] == 's')
        len--;
    snprintf(num, sizeof(num), "%.*s", (int)(len < sizeof(num) ? len : sizeof(num) - 1), value);
    snprintf(opt, sizeof(opt), "--set %s", ls->ls_name);
    if (len == 0 || len >= sizeof(num) || parse_u64(opt, num, ls->ls_min, ls->ls_max, &v) != 0) {
        if (len == 0 || len >= sizeof(num))
            return daemon_arg_error("--set: '%s': must be a number in %llu..%llu%s", arg,
                                    (unsigned long long)ls->ls_min,
                                    (unsigned long long)ls->ls_max,
                                    ls->ls_unit[0] ? " (seconds)" : "");
        return 2;
    }
    if (strcmp(name, "svc.max_conns") == 0)
        p->dp_limits.lim_max_conns = (unsigned)v;
    else if (strcmp(name, "svc.httpd.max_conns") == 0)
        p->dp_limits.lim_httpd_max_conns = (unsigned)v;
    else if (strcmp(name, "svc.backlog") == 0)
        p->dp_limits.lim_backlog = (unsigned)v;
    else if (strcmp(name, "svc.httpd.idle_timeout") == 0)
        p->dp_limits.lim_httpd_idle = RN_SEC(v);
    else
        p->dp_max_handles = (unsigned)v;
    return 0;
}

/* --set NAME=VALUE: one of TCP's settings (refnet/tcp.h), read into
 * p->dp_tcp (the rules between settings are checked once all are in), or
 * one of the daemon's own limits (limit_settings[]). */
static int parse_setting(const char *arg, struct rn_daemon_params *p)
{
    const char *eq = strchr(arg, '=');
    struct rn_tcp_setting_row row;
    char name[64];
    int err;

    if (eq == NULL || eq == arg)
        return daemon_arg_error("--set: '%s': expected NAME=VALUE, e.g. tcp.sack=0", arg);
    if ((size_t)(eq - arg) < sizeof(name))
        snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
    if ((size_t)(eq - arg) < sizeof(name) && (err = parse_limit(arg, name, eq + 1, p)) != 1)
        return err;
    if ((size_t)(eq - arg) >= sizeof(name) || rn_tcp_params_row(&p->dp_tcp, name, &row) != 0)
    {
        if (strncmp(arg, "svc.", 4) == 0 || strncmp(arg, "sock.", 5) == 0)
            return daemon_arg_error("--set: '%s': unknown setting '%.*s' (refnet get tcp lists "
                                    "TCP's; the daemon's own are svc.max_conns, "
                                    "svc.httpd.max_conns, svc.backlog, "
                                    "svc.httpd.idle_timeout, sock.max_handles)",
                                    arg, (int)(eq - arg), arg);
        return daemon_arg_error("--set: '%s': unknown setting '%.*s' (refnet get tcp lists "
                                "them)", arg, (int)(eq - arg), arg);
    }
    err = rn_tcp_params_set(&p->dp_tcp, name, eq + 1);
    if (err != 0)
        return daemon_arg_error("--set: '%s': '%s' is not a valid value for %s (%s)", arg, eq + 1,
                                name, row.sr_accepts);
    p->dp_tcp_set = true;
    return 0;
}

/* The options of refnet daemon, each taking a value. */
enum {
    O_TAP = 1, O_ADDR, O_GW, O_CTL, O_CAPTURE, O_FAULT, O_SERVICE, O_MAC, O_MTU, O_SEED,
    O_WATCHDOG, O_OFFLOAD, O_FILTER, O_DUMP_DIR, O_REASS_TIMEOUT, O_INJECT, O_SERVICE_EXEC,
    O_STOP_SIGNAL, O_STOP_GRACE, O_STOP_MAIN, O_RUN_UID, O_RUN_MAX,
    O_SET, O_UI, O_PLUGIN, O_BUSY_POLL, O_ADDR6, O_TAP_BATCH, O_RSS, O_RSS_KEY
};
static const struct cmd_opt daemon_opts[] = {
    {"tap", 0, true, false, O_TAP},
    {"addr", 0, true, false, O_ADDR},
    {"addr6", 0, true, true, O_ADDR6},
    {"gw", 0, true, false, O_GW},
    {"ctl", 0, true, false, O_CTL},
    {"capture", 0, true, false, O_CAPTURE},
    {"fault", 0, true, false, O_FAULT},
    {"service", 0, true, true, O_SERVICE},
    {"mac", 0, true, false, O_MAC},
    {"mtu", 0, true, false, O_MTU},
    {"seed", 0, true, false, O_SEED},
    {"watchdog", 0, true, false, O_WATCHDOG},
    {"offload", 0, true, false, O_OFFLOAD},
    {"tap-batch", 0, true, false, O_TAP_BATCH},
    {"filter", 0, true, true, O_FILTER},
    {"plugin", 0, true, true, O_PLUGIN},
    {"dump-dir", 0, true, false, O_DUMP_DIR},
    {"reass-timeout", 0, true, false, O_REASS_TIMEOUT},
    {"busy-poll", 0, true, false, O_BUSY_POLL},
    {"rss", 0, true, false, O_RSS},
    {"rss-key", 0, true, false, O_RSS_KEY},
    {"inject", 0, true, false, O_INJECT},
    {"service-exec", 0, true, true, O_SERVICE_EXEC},
    {"stop-signal", 0, true, true, O_STOP_SIGNAL},
    {"stop-grace", 0, true, true, O_STOP_GRACE},
    {"stop-main", 0, true, true, O_STOP_MAIN},
    {"run-allow-uid", 0, true, true, O_RUN_UID},
    {"run-max-sockets", 0, true, false, O_RUN_MAX},
    {"set", 0, true, true, O_SET},
    {"ui", 0, true, false, O_UI},
    {NULL, 0, false, false, 0},
};

/* Splits a command into words as a shell would split a simple command:
 * blanks separate words; '...' keeps everything; "..." keeps everything
 * but a backslash before $ ` " \ or a newline; a backslash outside quotes
 * keeps the next character.  Nothing else is special and no shell runs.
 * Fills de (its words point into a malloc'd copy).  Returns 0, or 2
 * (printed). */
static int split_command(const char *opt, const char *cmd, struct rn_daemon_exec *de)
{
    size_t n = 0, len = strlen(cmd);
    char *out = malloc(len + 1), *w = out, quote = 0;
    const char *c = cmd;
    bool in_word = false;

    if (out == NULL)
        return daemon_arg_error("%s: out of memory", opt);
    for (;; c++) {
        if (quote == 0 && (*c == '\0' || *c == ' ' || *c == '\t' || *c == '\n')) {
            if (in_word) {
                *w++ = '\0';
                in_word = false;
            }
            if (*c == '\0')
                break;
            continue;
        }
        if (*c == '\0') {
            free(out);
            return daemon_arg_error("%s: '%s': the %s quote is not closed", opt, cmd,
                                    quote == '\'' ? "single" : "double");
        }
        if (!in_word) {
            if (n == RN_DAEMON_EXEC_WORDS) {
                free(out);
                return daemon_arg_error("%s: '%.60s...': more than %d words", opt, cmd,
                                        RN_DAEMON_EXEC_WORDS);
            }
            de->de_argv[n++] = w;
            in_word = true;
        }
        if (quote == '\'') {
            if (*c == '\'')
                quote = 0;
            else
                *w++ = *c;
        } else if (quote == '"') {
            if (*c == '"')
                quote = 0;
            else if (*c == '\\' && c[1] != '\0' && strchr("$`\"\\\n", c[1]) != NULL)
                *w++ = *++c;
            else
                *w++ = *c;
        } else if (*c == '\'' || *c == '"') {
            quote = *c;
        } else if (*c == '\\' && c[1] != '\0') {
            *w++ = *++c;
        } else {
            *w++ = *c;
        }
    }
    if (n == 0) {
        free(out);
        return daemon_arg_error("%s: '%s': no command after '='", opt, cmd);
    }
    de->de_argv[n] = NULL;
    de->de_words = out;
    return 0;
}

/* The --service-exec entry named by NAME=VALUE, for --stop-signal and
 * --stop-grace; *value is set to VALUE.  NULL (printed) if there is none. */
static struct rn_daemon_exec *exec_named(struct rn_daemon_params *p, const char *opt,
                                         const char *val, const char **value)
{
    const char *eq = strchr(val, '=');
    size_t i;

    if (eq == NULL || eq == val) {
        daemon_arg_error("%s: '%s': expected NAME=VALUE, NAME a service of --service-exec",
                         opt, val);
        return NULL;
    }
    for (i = 0; i < p->dp_nexec; i++) {
        if (strlen(p->dp_exec[i].de_name) == (size_t)(eq - val) &&
            strncmp(p->dp_exec[i].de_name, val, (size_t)(eq - val)) == 0) {
            *value = eq + 1;
            return &p->dp_exec[i];
        }
    }
    daemon_arg_error("%s: '%s': no --service-exec %.*s=... before it", opt, val,
                     (int)(eq - val), val);
    return NULL;
}

/* Reads one option's value into p.  Returns 0 or 2 (printed). */
static int daemon_option(int o, const char *val, struct rn_daemon_params *p,
                         struct rn_fault_params *fault, const char **gw_arg)
{
    char err[512];
    uint64_t v;

    switch (o) {
    case O_TAP:
        if (val[0] == '\0' || strlen(val) > 15 || strpbrk(val, "/ \t\n:") != NULL)
            return daemon_arg_error("--tap: '%s': a device name is 1 to 15 characters, "
                                    "without '/', ':' or spaces", val);
        p->dp_tap = val;
        return 0;
    case O_ADDR:
        return parse_addr(val, &p->dp_addr, &p->dp_plen);
    case O_ADDR6:
        return parse_addr6(val, p);
    case O_GW:
        if (rn_ip4_addr_parse(val, &p->dp_gw, NULL) != 0 || p->dp_gw == 0)
            return daemon_arg_error("--gw: '%s': not an IPv4 address", val);
        *gw_arg = val;
        return 0;
    case O_CTL:
        if (val[0] == '\0' || strlen(val) >= sizeof(((struct sockaddr_un *)0)->sun_path))
            return daemon_arg_error("--ctl: '%s': a socket path is 1 to %zu bytes", val,
                                    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        p->dp_ctl_path = val;
        return 0;
    case O_CAPTURE:
        if (val[0] == '\0')
            return daemon_arg_error("--capture: needs a file name");
        p->dp_capture = val;
        return 0;
    case O_FAULT:
        if (rn_fault_parse(val, fault, err, sizeof(err)) != 0)
            return daemon_arg_error("--fault: '%s': %s", val, err);
        p->dp_fault = fault;
        return 0;
    case O_SERVICE:
        if (strncmp(val, "httpd", 5) == 0 && (val[5] == '\0' || val[5] == '=')) {
            struct rn_httpd_params hp;

            if (val[5] == '\0')
                return daemon_arg_error("--service: httpd needs PORT:DIR, e.g. "
                                        "httpd=80:/srv/www");
            if (rn__httpd_parse_spec(val + 6, &hp, err, sizeof(err)) != 0)
                return daemon_arg_error("--service: '%s': %s", val, err);
        }
        if (!rn__daemon_service_known(val, err, sizeof(err)))
            return daemon_arg_error("--service: '%s': unknown service, or an argument it "
                                    "does not take (known: %s)", val, err);
        if (p->dp_nservices == RN_DAEMON_SERVICES_MAX)
            return daemon_arg_error("--service: at most %d services", RN_DAEMON_SERVICES_MAX);
        p->dp_services[p->dp_nservices++] = val;
        return 0;
    case O_SERVICE_EXEC: {
        const char *eq = strchr(val, '=');
        struct rn_daemon_exec *de;
        size_t i, n = eq ? (size_t)(eq - val) : 0;

        if (eq == NULL || n == 0)
            return daemon_arg_error("--service-exec: '%s': expected NAME=COMMAND, e.g. "
                                    "web='python3 -m http.server 80'", val);
        if (p->dp_nexec == RN_DAEMON_EXEC_MAX)
            return daemon_arg_error("--service-exec: at most %d commands", RN_DAEMON_EXEC_MAX);
        for (i = 0; i < n; i++) {
            if (!isalnum((unsigned char)val[i]) && strchr("_.-", val[i]) == NULL)
                break;
        }
        if (i < n || n > 31 || val[0] == '-' || val[0] == '.')
            return daemon_arg_error("--service-exec: '%.*s': not a service name (1 to 31 "
                                    "of letters, digits, '_', '.' and '-', not starting "
                                    "with '-' or '.')", (int)n, val);
        for (i = 0; i < p->dp_nexec; i++) {
            if (strlen(p->dp_exec[i].de_name) == n && strncmp(p->dp_exec[i].de_name, val, n) == 0)
                return daemon_arg_error("--service-exec: service %.*s given twice", (int)n, val);
        }
        for (i = 0; i < p->dp_nservices; i++) {
            if (strncmp(p->dp_services[i], val, n) == 0 &&
                (p->dp_services[i][n] == '\0' || p->dp_services[i][n] == '='))
                return daemon_arg_error("--service-exec: %.*s is a --service already", (int)n,
                                        val);
        }
        de = &p->dp_exec[p->dp_nexec];
        memset(de, 0, sizeof(*de));
        /* The name: a copy ending at the '='. */
        de->de_name = strndup(val, n);
        if (de->de_name == NULL)
            return daemon_arg_error("--service-exec: out of memory");
        if (split_command("--service-exec", eq + 1, de) != 0) {
            free((char *)de->de_name);
            return CMD_EXIT_USAGE;
        }
        p->dp_nexec++;
        return 0;
    }
    case O_STOP_SIGNAL: {
        const char *sv;
        struct rn_daemon_exec *de = exec_named(p, "--stop-signal", val, &sv);
        int sig;

        if (de == NULL)
            return CMD_EXIT_USAGE;
        sig = rn_svc_signal_parse(sv);
        if (sig == 0)
            return daemon_arg_error("--stop-signal: '%s': not a signal (a name such as TERM "
                                    "or SIGWINCH, or a number)", sv);
        if (sig == SIGKILL || sig == SIGSTOP)
            return daemon_arg_error("--stop-signal: '%s': a stop must let the command end "
                                    "by itself (SIGKILL follows after the grace)", sv);
        de->de_stop_signal = sig;
        return 0;
    }
    case O_STOP_MAIN: {
        size_t i;

        for (i = 0; i < p->dp_nexec && strcmp(p->dp_exec[i].de_name, val) != 0; i++)
            ;
        if (i == p->dp_nexec)
            return daemon_arg_error("--stop-main: '%s': no --service-exec %s=... before it", val,
                                    val);
        p->dp_exec[i].de_stop_main = true;
        return 0;
    }
    case O_STOP_GRACE: {
        const char *gv;
        struct rn_daemon_exec *de = exec_named(p, "--stop-grace", val, &gv);
        double secs;
        char *end;

        if (de == NULL)
            return CMD_EXIT_USAGE;
        errno = 0;
        secs = strtod(gv, &end);
        if (errno != 0 || end == gv || *end != '\0' || !(secs > 0) || secs > 3600)
            return daemon_arg_error("--stop-grace: '%s': must be a number of seconds in "
                                    "(0, 3600]", gv);
        de->de_grace = (rn_time_t)(secs * 1e9 + 0.5);
        return 0;
    }
    case O_MAC:
        return parse_mac(val, p->dp_mac);
    case O_MTU:
        if (parse_u64("--mtu", val, 68, 65535 - 14, &v) != 0)
            return CMD_EXIT_USAGE;
        p->dp_mtu = (uint32_t)v;
        return 0;
    case O_SEED:
        if (parse_u64("--seed", val, 1, UINT64_MAX, &v) != 0)
            return CMD_EXIT_USAGE;
        p->dp_seed = v;
        return 0;
    case O_WATCHDOG:
        if (parse_u64("--watchdog", val, 0, 86400, &v) != 0)
            return CMD_EXIT_USAGE;
        p->dp_watchdog = RN_SEC(v);
        p->dp_no_watchdog = v == 0;
        return 0;
    case O_BUSY_POLL:
        if (parse_u64("--busy-poll", val, 0, RN_LOOP_BUSY_POLL_MAX / RN_NSEC_PER_USEC, &v) != 0)
            return CMD_EXIT_USAGE;
        p->dp_busy_poll = (rn_time_t)v * RN_NSEC_PER_USEC;
        return 0;
    case O_RSS:
        if (strcmp(val, "off") == 0) {
            p->dp_rss_queues = 1;
            return 0;
        }
        if (parse_u64("--rss", val, 1, RN_RSS_QUEUES_MAX, &v) != 0)
            return CMD_EXIT_USAGE;
        p->dp_rss_queues = (unsigned)v;
        return 0;
    case O_RSS_KEY: {
        char why[160];

        if (rn_rss_key_parse(val, p->dp_rss_key, why, sizeof(why)) != 0)
            return daemon_arg_error("--rss-key: %s", why);
        p->dp_rss_key_set = true;
        return 0;
    }
    case O_REASS_TIMEOUT:
        if (parse_u64("--reass-timeout", val, 1, 3600, &v) != 0)
            return CMD_EXIT_USAGE;
        p->dp_reass_timeout = RN_SEC(v);
        return 0;
    case O_FILTER: {
        struct rn_filter_spec fs;

        if (rn_filter_parse(val, &fs, err, sizeof(err)) != 0)
            return daemon_arg_error("--filter: '%s': %s", val, err);
        if (p->dp_nfilters == RN_DAEMON_FILTERS_MAX)
            return daemon_arg_error("--filter: at most %d filters", RN_DAEMON_FILTERS_MAX);
        p->dp_filters[p->dp_nfilters++] = val;
        return 0;
    }
    case O_PLUGIN:
        if (val[0] == '\0' || val[0] == ':')
            return daemon_arg_error("--plugin: needs a file, PATH[:ARGS]");
        if (p->dp_nplugins == RN_DAEMON_PLUGINS_MAX)
            return daemon_arg_error("--plugin: at most %d plug-ins", RN_DAEMON_PLUGINS_MAX);
        p->dp_plugins[p->dp_nplugins++] = val;
        return 0;
    case O_DUMP_DIR:
        if (val[0] == '\0')
            return daemon_arg_error("--dump-dir: needs a directory");
        p->dp_dump_dir = val;
        return 0;
    case O_INJECT:
        if (strcmp(val, "enum-leak") != 0)
            return daemon_arg_error("--inject: '%s': unknown fault (known: enum-leak)", val);
        p->dp_inject_enum_leak = true;
        return 0;
    case O_RUN_UID:
        if (parse_u64("--run-allow-uid", val, 0, UINT32_MAX - 1, &v) != 0)
            return CMD_EXIT_USAGE;
        if (p->dp_run_nuids == RN_RUN_UIDS_MAX)
            return daemon_arg_error("--run-allow-uid: at most %d uids", RN_RUN_UIDS_MAX);
        p->dp_run_uids[p->dp_run_nuids++] = (uid_t)v;
        return 0;
    case O_RUN_MAX:
        if (parse_u64("--run-max-sockets", val, 1, 65536, &v) != 0)
            return CMD_EXIT_USAGE;
        p->dp_run_max_sockets = (unsigned)v;
        return 0;
    case O_SET:
        return parse_setting(val, p);
    case O_UI:
        if (rn__web_addr_check(val, err, sizeof(err)) != 0)
            return daemon_arg_error("--ui: %s", err);
        p->dp_ui = val;
        return 0;
    case O_OFFLOAD:
        if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0)
            return daemon_arg_error("--offload: '%s': expected on or off", val);
        p->dp_no_offload = strcmp(val, "off") == 0;
        return 0;
    case O_TAP_BATCH:
        if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0)
            return daemon_arg_error("--tap-batch: '%s': expected on or off", val);
        p->dp_tap_single = strcmp(val, "off") == 0;
        return 0;
    }
    return daemon_arg_error("option %d not handled", o); /* not reached */
}

/* Frees what the options allocated. */
static void daemon_params_free(struct rn_daemon_params *p)
{
    size_t i;

    for (i = 0; i < p->dp_nexec; i++) {
        free((char *)p->dp_exec[i].de_name);
        free(p->dp_exec[i].de_words);
    }
    p->dp_nexec = 0;
}

static int daemon_main(struct rn_daemon_params *p, int argc, char **argv);

int rn__cmd_daemon(int argc, char **argv)
{
    struct rn_daemon_params p;
    int rc;

    memset(&p, 0, sizeof(p));
    rc = daemon_main(&p, argc, argv);
    daemon_params_free(&p);
    return rc;
}

static int daemon_main(struct rn_daemon_params *p, int argc, char **argv)
{
    struct rn_fault_params fault;
    struct cmd_parser cp;
    struct rn_daemon *d;
    char err[512], line[256];
    const char *gw_arg = NULL, *why = NULL;
    uint64_t leaked;
    int o, e;

    p->dp_version = rn_version();
    rn_tcp_params_init(&p->dp_tcp);
    rn__cmd_parser_init(&cp, rn__cmd_find("daemon"), "refnet daemon: ", daemon_opts, argc, argv);
    while ((o = rn__cmd_getopt(&cp)) > 0) {
        if (daemon_option(o, cp.cp_val, p, &fault, &gw_arg) != 0) {
            rn__cmd_parser_free(&cp);
            return CMD_EXIT_USAGE;
        }
    }
    if (o == CMD_OPT_STOP)
        return cp.cp_status;
    if (cp.cp_nops > 0) {
        e = rn__cmd_parser_error(&cp, "unexpected argument '%s' (see refnet daemon --help)",
                             cp.cp_ops[0]);
        rn__cmd_parser_free(&cp);
        return e;
    }
    rn__cmd_parser_free(&cp);
    if (p->dp_tcp_set && rn_tcp_params_check(&p->dp_tcp, &why) != 0)
        return daemon_arg_error("--set: the settings given break a rule: %s", why);
    {
        /* A service's connections and its listener are handles of its
         * process. */
        unsigned handles = p->dp_max_handles ? p->dp_max_handles : RN_PROC_MAX_HANDLES;
        unsigned conns = p->dp_limits.lim_max_conns > p->dp_limits.lim_httpd_max_conns
                             ? p->dp_limits.lim_max_conns
                             : p->dp_limits.lim_httpd_max_conns;

        if (conns >= handles)
            return daemon_arg_error("--set: a service cap of %u connections needs more handles "
                                    "than sock.max_handles (%u) gives a process: raise "
                                    "sock.max_handles above it", conns, handles);
    }
    if (p->dp_tap == NULL)
        return daemon_arg_error("--tap is required (see refnet daemon --help)");
    if (p->dp_addr == 0)
        return daemon_arg_error("--addr is required (see refnet daemon --help)");
    if (p->dp_gw != 0) {
        char nbuf[RN_IP4_STRLEN];

        rn_ip4_addr_fmt(rn_ip4_net(p->dp_addr, p->dp_plen), nbuf);
        if (!rn_ip4_in_prefix(p->dp_gw, p->dp_addr, p->dp_plen))
            return daemon_arg_error("--gw: '%s': not on %s/%u, the interface's prefix",
                                    gw_arg, nbuf, p->dp_plen);
        if (p->dp_gw == p->dp_addr)
            return daemon_arg_error("--gw: the gateway cannot be the interface's own address");
    }

    /* Writes to a control client that went away must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    e = rn__daemon_start(p, &d, err, sizeof(err));
    if (e != 0) {
        fprintf(stderr, "refnet daemon: %s\n", err);
        return 1;
    }
    rn__daemon_describe(d, line, sizeof(line));
    fprintf(stderr, "refnet daemon: %s\n", line);
    if (rn__daemon_ui_url(d) != NULL)
        fprintf(stderr, "refnet daemon: live view at %s (read-only; actions need the token "
                "%s)\n", rn__daemon_ui_url(d), rn__daemon_ui_token(d));
    if (p->dp_inject_enum_leak)
        fprintf(stderr, "refnet daemon: fault injected: netstat's enumeration loses 'enum' "
                "references on listeners (refnet lab clear-leak gives them back)\n");
    e = rn__daemon_run(d);
    leaked = rn__daemon_shutdown(d);
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
