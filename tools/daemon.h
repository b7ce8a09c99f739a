/*
 * The refnet daemon: one stack on a TAP device, driven by the real-time
 * loop (loop.h), controlled through the control socket (ctl.h), with the
 * built-in services it was asked to run.
 *
 *   rn__daemon_start()     stack (TCP with the --set settings), loop,
 *                         control socket, TAP with its
 *                         filters (tap -> fault -> capture), interface,
 *                         default route, device up, services
 *   rn__daemon_run()       the loop, until SIGINT/SIGTERM or rn__daemon_stop();
 *                         beside it a watchdog thread checks twice a second
 *                         for waits older than its threshold and reports
 *                         their chains (diag.h) to the diagnostics sink
 *   rn__daemon_shutdown()  services stopped, control socket closed, stack run
 *                         down, objects drained, leaks reported
 *
 * The daemon answers on its control socket: ping-ctl, status, ifconfig,
 * arp, route, stat, svc, why, lab, objects, refs, trace, dump, filter,
 * netstat, connect, accept, get, set (docs/control-protocol.md,
 * docs/filtering.md, docs/tcp-settings.md).
 * Its services run under a service controller (service.h), each in a
 * process of its own.
 *
 * Thread: start, run and shutdown on one thread (the loop's); SIGINT and
 * SIGTERM are blocked on it from start to shutdown and read through a
 * signalfd on the loop.  rn__daemon_stop() may be called from any thread.
 */
#ifndef REFNET_TOOLS_DAEMON_H
#define REFNET_TOOLS_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apps/apps.h"
#include "refnet/addr.h"
#include "refnet/clock.h"
#include "run/run.h"
#include "refnet/rss.h"
#include "refnet/tcp.h"

struct rn_daemon;
struct rn_fault_params;

/* The most services one daemon runs. */
#define RN_DAEMON_SERVICES_MAX 8
/* The most commands run as services (--service-exec). */
#define RN_DAEMON_EXEC_MAX 8
/* The most words of one such command. */
#define RN_DAEMON_EXEC_WORDS 47

/* A command run as a service, with refnet's sockets (`refnet run`). */
struct rn_daemon_exec {
    const char *de_name;                    /* the service's name */
    const char *de_argv[RN_DAEMON_EXEC_WORDS + 1]; /* its words, NULL-ended
                                               (pointing into de_words) */
    char *de_words;                         /* malloc'd storage of the words */
    int de_stop_signal;                     /* 0: SIGTERM */
    rn_time_t de_grace;                     /* 0: the controller's default */
    bool de_stop_main;                      /* the stop signal to the command
                                               alone (--stop-main) */
};

/* The most filters given at start (--filter). */
#define RN_DAEMON_FILTERS_MAX 32
/* The most IPv6 addresses given at start (--addr6). */
#define RN_DAEMON_ADDR6_MAX 4
/* The most plug-ins loaded at start (--plugin). */
#define RN_DAEMON_PLUGINS_MAX 8

struct rn_daemon_params {
    const char *dp_tap;                     /* TAP device; created if absent */
    uint32_t dp_addr;                       /* IPv4 address, host order */
    uint8_t dp_plen;                        /* its prefix length, 0..32 */
    uint32_t dp_gw;                         /* default gateway, host order; 0 none */
    struct rn_ip6 dp_addr6[RN_DAEMON_ADDR6_MAX]; /* IPv6 addresses; any
                                               turns IPv6 on */
    uint8_t dp_plen6[RN_DAEMON_ADDR6_MAX];  /* their prefix lengths */
    size_t dp_naddr6;                       /* entries of dp_addr6 */
    const char *dp_ctl_path;                /* NULL: rn__ctl_default_path(NULL) */
    const char *dp_capture;                 /* pcap file to record to, or NULL */
    const struct rn_fault_params *dp_fault; /* faults to inject, or NULL */
    const char *dp_services[RN_DAEMON_SERVICES_MAX]; /* names, see
                                               rn__daemon_service_known() */
    size_t dp_nservices;                    /* entries of dp_services */
    struct rn_daemon_exec dp_exec[RN_DAEMON_EXEC_MAX]; /* commands run as
                                               services, started after the
                                               built-in ones, in this order */
    size_t dp_nexec;                        /* entries of dp_exec */
    uint8_t dp_mac[6];                      /* all zero: a random local address */
    uint32_t dp_mtu;                        /* 0: the device's */
    uint64_t dp_seed;                       /* stack seed; 0: a random one */
    const char *dp_version;                 /* shown by `status`; NULL "?" */
    rn_time_t dp_watchdog;                  /* report waits older than this;
                                               0: RN_DIAG_DEFAULT_THRESHOLD */
    bool dp_no_watchdog;                    /* run no watchdog */
    bool dp_no_offload;                     /* open the TAP without IFF_VNET_HDR */
    bool dp_tap_single;                      /* one writev per frame, no io_uring batches */
    rn_time_t dp_reass_timeout;             /* IPv4 reassembly timeout; 0: the
                                               stack's default (30 s) */
    rn_time_t dp_busy_poll;                 /* the loop's busy-poll window
                                               (rn_loop_set_busy_poll()); 0:
                                               off */
    const char *dp_filters[RN_DAEMON_FILTERS_MAX]; /* filter specs added at
                                               start, before the services
                                               (rn_filter_add_lab(): one
                                               naming callout:faulty
                                               registers that lab callout) */
    size_t dp_nfilters;                     /* entries of dp_filters */
    const char *dp_plugins[RN_DAEMON_PLUGINS_MAX]; /* PATH[:ARGS] of plug-ins
                                               loaded at start, before the
                                               filters (which may name their
                                               callouts) */
    size_t dp_nplugins;                     /* entries of dp_plugins */
    const char *dp_dump_dir;                /* a directory: a dump is written
                                               there each time the watchdog
                                               reports; NULL none */
    bool dp_inject_enum_leak;               /* the lab's fault: netstat's walk
                                               leaks "enum" holds on listeners
                                               (netstat_walk.h); off by default */
    uid_t dp_run_uids[RN_RUN_UIDS_MAX];     /* uids whose programs may use the
                                               stack through `refnet run`; none:
                                               the daemon's own and root */
    size_t dp_run_nuids;                    /* entries of dp_run_uids */
    unsigned dp_run_max_sockets;            /* per process; 0: the default */
    struct rn_tcp_params dp_tcp;            /* TCP's settings (--set), used if
                                               dp_tcp_set */
    bool dp_tcp_set;                        /* dp_tcp was given */
    struct rn_svc_limits dp_limits;         /* the built-in services' limits
                                               (--set svc.*); 0: defaults */
    unsigned dp_max_handles;                /* --set sock.max_handles; 0: the
                                               default (RN_PROC_MAX_HANDLES) */
    unsigned dp_rss_queues;                 /* receive-side scaling: TAP queues,
                                               each with a loop and stack of its
                                               own (tools/daemon_rss.h); 0 or 1:
                                               one loop, a single-queue TAP */
    uint8_t dp_rss_key[RN_RSS_KEY_LEN];     /* the steering's Toeplitz key, if
                                               dp_rss_key_set */
    bool dp_rss_key_set;
    const char *dp_ui;                      /* the live view's address
                                               ("127.0.0.1:8080", "unix:PATH"),
                                               NULL: none (ctl/web.h) */
};

/* True if name is a service this build can run ("echo": UDP echo on port
 * 7).  Writes the known names, comma-separated, into known (if
 * not NULL) for error messages. */
bool rn__daemon_service_known(const char *name, char *known, size_t knownlen);

/* Sets everything up (see above) and blocks SIGINT and SIGTERM on the
 * calling thread.  Returns 0 and sets *out, or a negative code with one line
 * in err naming what failed ("cannot open TAP rn0: ...", "control socket
 * /run/refnet/refnet.sock: another daemon is answering there"); nothing is left
 * behind on failure. */
int rn__daemon_start(const struct rn_daemon_params *params, struct rn_daemon **out, char *err,
                    size_t errlen);

/* One line for the start-up message: "tap0 198.18.0.2/15 mac
 * 02:..:.., control /run/refnet/refnet.sock". */
void rn__daemon_describe(const struct rn_daemon *d, char *buf, size_t len);

/* The live view's address ("http://127.0.0.1:8080/") and the token its
 * actions need, or NULL for both without --ui. */
const char *rn__daemon_ui_url(const struct rn_daemon *d);
const char *rn__daemon_ui_token(const struct rn_daemon *d);

/* Runs the loop until SIGINT, SIGTERM or rn__daemon_stop() and the services'
 * stops that follow.  Returns 0, or RN_EIO if the loop failed. */
int rn__daemon_run(struct rn_daemon *d);

/* [any] Begins a graceful stop, as SIGTERM does: the services are stopped,
 * and rn__daemon_run() returns once they have (or after a timeout); a second
 * call makes it return at once. */
void rn__daemon_stop(struct rn_daemon *d);

/* Stops the services, closes the control socket (removing its file), runs
 * the stack down, drains released objects and reports (RN_REPORT_LEAK, one
 * report per object with its ledger) every object still alive.  Frees d and
 * restores the signal mask.  Returns the number of objects leaked (0 for a
 * clean shutdown). */
uint64_t rn__daemon_shutdown(struct rn_daemon *d);

#endif /* REFNET_TOOLS_DAEMON_H */
