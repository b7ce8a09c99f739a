/*
 * The daemon (daemon.h): the real-time host put together.
 *
 * Start-up, in order, each step undone by shutdown in reverse:
 *   stack (its pool, TCP, the filtering platform and its --filter
 *   filters) -> loop -> signalfd -> control socket (refusing if a
 *   live daemon answers there, before any device is touched) -> TAP ->
 *   fault filter -> capture filter -> interface -> default route -> device
 *   up -> services (the service controller of service.h, each service in
 *   a process of its own) -> watchdog thread (twice a second; with
 *   --dump-dir it also writes a dump each time it reports).
 * Shutdown (SIGINT, SIGTERM, rn__daemon_stop()) is graceful: the services
 * are stopped while the loop still runs, since their stops complete through
 * it; the loop ends once they all have, or after DAEMON_STOP_TIMEOUT (a
 * second signal ends it at once).  Then the rest is torn down in reverse.
 * The control commands that need the stack or the daemon's own state
 * (status, ifconfig, arp, route, stat) are handled here; the object
 * manager's (objects, refs, trace, dump) in ctl_objects.c and ctl_dump.c;
 * the services' (svc), why and lab clear-leak in ctl_svc.c; netstat, a
 * batched walk with the lab's fault when --inject enum-leak, in
 * ctl_netstat.c; the filtering platform's (filter) in
 * ctl_filter.c; the transfers (connect, accept) in ctl_net.c, which a
 * graceful shutdown aborts and waits for like the services.
 * All of them run on the loop thread, between polls of the stack, so they
 * read the stack without locks.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <json-c/json.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "ctl/commands.h"
#include "ctl/render.h"
#include "ctl/web.h"
#include "refnet/addr.h"
#include "ctl/ctl.h"
#include "tools/daemon.h"
#include "tools/daemon_rss.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/heap.h"
#include "refnet/plugin.h"
#include "refnet/link.h"
#include "refnet/loop.h"
#include "refnet/object.h"
#include "refnet/report.h"
#include "refnet/service.h"
#include "refnet/snapshot.h"
#include "refnet/stack.h"
#include "refnet/strbuf.h"
#include "apps/apps.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "refnet/runtime.h"

/* How long a graceful shutdown waits for the services to stop before it
 * runs the stack down anyway (what is still held is then reported as
 * leaked).  Longer than the default watchdog threshold, so that a stuck
 * stop is reported with its chain first. */
#define DAEMON_STOP_TIMEOUT RN_SEC(15)
/* How often the daemon asks whether freed memory should go back to the
 * system (refnet/heap.h), and every how many of those times each loop's
 * packet pool gives back what it did not need meanwhile (5 s). */
#define DAEMON_HEAP_PERIOD RN_MSEC(500)
#define DAEMON_POOL_PERIODS 10u

struct rn_daemon {
    struct rn_daemon_params d_params;     /* [I] copy of the caller's */
    char d_ctl_path[108];                 /* [I] the control socket */
    struct rn_stack *d_stack;             /* [L] owned */
    struct rn_loop *d_loop;               /* [L] owned */
    struct rn_ctl_server *d_ctl;          /* [L] owned */
    struct rn__dumper *d_dumper;          /* [L] owned: dump jobs in flight */
    struct rn__ctl_net *d_net;            /* [L] owned: transfers in flight */
    bool d_net_stopping;                  /* [L] waiting for them to end */
    struct rn_link *d_fault;              /* [L] the fault filter in that chain
                                             (--fault), or NULL */
    struct rn_link *d_tap;                /* [L] the TAP at the bottom of the
                                             interface's chain (owned by it) */
    struct rn_iface *d_ifp;               /* [L] the interface, held by the stack */
    uint8_t d_mac[6];                     /* [I] the interface's address */
    int d_sigfd;                          /* [I] SIGINT/SIGTERM, on the loop */
    sigset_t d_oldmask;                   /* [I] the mask to restore */
    rn_time_t d_started;                  /* [I] when start finished */
    int d_signal;                         /* [L] the signal that stopped it, 0 */
    struct rn_svcctl *d_svc;              /* [L] owned: the services */
    struct rn__ctl_svc *d_ctl_svc;        /* [L] owned: their commands */
    struct rn__ctl_netstat *d_netstat;    /* [L] owned: netstat walks */
    struct rn__run_server *d_run;         /* [L] owned: `refnet run`'s channels */
    bool d_stopping;                      /* [L] a graceful stop has begun */
    struct rn_timer d_stop_timer;         /* [L] gives up waiting for services */
    struct rn_timer d_heap_timer;         /* [L] DAEMON_HEAP_PERIOD */
    unsigned d_heap_ticks;                /* [L] its firings */
    struct rn_loop_work d_stop_work;      /* rn__daemon_stop() posts it */
    atomic_bool d_stop_posted;            /* [A] d_stop_work is queued */
    struct rn_watchdog *d_wd;             /* [I] owned, NULL if none */
    rn_time_t d_wd_threshold;             /* [I] its threshold (the default
                                             when it runs none): the grace
                                             verdicts give */
    pthread_t d_wd_thread;                /* [I] runs daemon_watchdog() */
    bool d_wd_running;                    /* [L] d_wd_thread was started */
    pthread_mutex_t d_wd_lock;            /* protects d_wd_stop */
    pthread_cond_t d_wd_cond;             /* signalled to stop the thread */
    bool d_wd_stop;                       /* the thread must return */
    struct rn__web *d_web;                /* [L] owned: the live view, or NULL */
    /* Receive-side scaling: the loop above runs queue 0; each further
     * queue is a lane (daemon_rss.h). */
    struct rn_rss d_rss;                  /* [I] rs_queues 1 without RSS */
    struct rn_link_fanout *d_fan;         /* [I] the queues' fan-out, or NULL */
    struct rn__lane *d_lanes[RN_RSS_QUEUES_MAX]; /* [I] [0] unused */
    atomic_uint d_lanes_stopping;         /* [A] lanes whose services stop */
    bool d_lanes_pending;                 /* [L] a stop waits for the lanes */
    struct rn_loop_work d_lanes_work;     /* the last lane's stop posts it */
    struct rn__ctl_lanes *d_lanes_ctl;    /* [I] the stacks, for commands */
    struct rn__pins *d_pins;              /* [I] ports pinned to queue 0, or NULL */
    struct rn_link *d_capture;            /* [I] queue 0's capture filter (--capture),
                                             whose file the lanes' share; NULL */
};

static void derr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void derr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

bool rn__daemon_service_known(const char *name, char *known, size_t knownlen)
{
    const struct rn_svc_kind *k;
    const char *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name), off = 0;

    if (known != NULL && knownlen > 0) {
        known[0] = '\0';
        for (k = rn_svc_builtin; k->sk_name != NULL && off < knownlen; k++)
            off += (size_t)snprintf(known + off, knownlen - off, "%s%s%s%s", off ? ", " : "",
                                    k->sk_name, k->sk_arg ? "=" : "", k->sk_arg ? k->sk_arg : "");
    }
    for (k = rn_svc_builtin; k->sk_name != NULL; k++) {
        if (strlen(k->sk_name) == n && strncmp(k->sk_name, name, n) == 0)
            return (k->sk_arg != NULL) == (eq != NULL);
    }
    return false;
}

static void fmt_ip4(uint32_t addr, char *buf, size_t len)
{
    char a[RN_IP4_STRLEN];

    snprintf(buf, len, "%s", rn_ip4_addr_fmt(addr, a));
}

static void fmt_mac(const uint8_t *m, char *buf, size_t len)
{
    struct rn_mac mac;
    char t[RN_MAC_STRLEN];

    memcpy(mac.mac_octet, m, RN_MAC_LEN);
    snprintf(buf, len, "%s", rn_mac_fmt(&mac, t));
}

/* Makes the control socket's directory if it does not exist (the default
 * /run/refnet/ after a reboot; systemd makes it for the unit), one level
 * only, mode 0755: the socket itself is 0600.  Returns 0, or RN_EIO with
 * one line in err. */
static int ctl_dir_make(const char *path, char *err, size_t errlen)
{
    char dir[sizeof(((struct rn_daemon *)0)->d_ctl_path)];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, 0755) == 0 || errno == EEXIST)
        return 0;
    derr(err, errlen, "control socket %s: cannot make its directory %s: %s", path, dir,
         strerror(errno));
    return RN_EIO;
}

/* ---- Control commands --------------------------------------------------- */

static int daemon_no_args(struct rn_ctl_req *req)
{
    if (rn__ctl_req_argc(req) != 1)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "unexpected argument '%s' (it takes "
                               "none but --json)", rn__ctl_req_arg(req, 1));
    return 0;
}

static int rn__cmd_status(struct rn_ctl_req *req, void *ctx)
{
    struct rn_daemon *d = ctx;
    struct rn_strbuf *out = rn__ctl_req_out(req);
    const char *version = d->d_params.dp_version ? d->d_params.dp_version : "?";
    rn_time_t up = rn_loop_now(d->d_loop) - d->d_started;
    char addr[INET_ADDRSTRLEN], mac[24], age[32];
    uint64_t pinned = 0, made = 0, failed = 0;
    size_t i;
    int st = daemon_no_args(req);

    if (st != 0)
        return st;
    fmt_ip4(d->d_params.dp_addr, addr, sizeof(addr));
    fmt_mac(d->d_mac, mac, sizeof(mac));
    if (rn__ctl_req_json(req)) {
        struct json_object *o = json_object_new_object(), *svcs = json_object_new_array();
        char cidr[RN_IP4_CIDR_STRLEN + 8];

        snprintf(cidr, sizeof(cidr), "%s/%u", addr, d->d_params.dp_plen);
        json_object_object_add(o, "version", json_object_new_string(version));
        json_object_object_add(o, "pid", json_object_new_int(getpid()));
        json_object_object_add(o, "uptime_ns", json_object_new_uint64(up));
        json_object_object_add(o, "tap", json_object_new_string(d->d_params.dp_tap));
        json_object_object_add(o, "addr", json_object_new_string(cidr));
        json_object_object_add(o, "mac", json_object_new_string(mac));
        json_object_object_add(o, "control", json_object_new_string(d->d_ctl_path));
        json_object_object_add(o, "connections",
                               json_object_new_uint64(rn__ctl_server_connections(d->d_ctl)));
        json_object_object_add(o, "requests",
                               json_object_new_uint64(rn__ctl_server_requests(d->d_ctl)));
        json_object_object_add(o, "objects", json_object_new_uint64(rn_ob_live_count(NULL)));
        json_object_object_add(o, "rss_queues", json_object_new_uint64(d->d_rss.rs_queues));
        if (d->d_pins != NULL) {
            rn__pins_counts(d->d_pins, &pinned, &made, &failed);
            json_object_object_add(o, "rss_pinned", json_object_new_uint64(pinned));
            json_object_object_add(o, "rss_pin_failures", json_object_new_uint64(failed));
        }
        for (i = 0; i < rn_svcctl_count(d->d_svc); i++)
            json_object_array_add(
                svcs, json_object_new_string(rn_svc_name(rn_svcctl_at(d->d_svc, i))));
        json_object_object_add(o, "services", svcs);
        rn__render_json(out, o);
        rn_strbuf_puts(out, "\n");
        return RN_CTL_EXIT_OK;
    }
    rn_strbuf_printf(out, "refnet daemon %s, pid %d, up %s\n", version, (int)getpid(),
                     rn_fmt_age(up, age, sizeof(age)));
    rn_strbuf_printf(out, "  interface %s %s/%u mac %s%s\n", d->d_params.dp_tap, addr,
                     d->d_params.dp_plen, mac,
                     rn_stack_iface(d->d_stack, d->d_params.dp_tap) ? "" : " (removed)");
    rn_strbuf_printf(out, "  control   %s, %zu connection%s, %" PRIu64 " requests answered\n",
                     d->d_ctl_path, rn__ctl_server_connections(d->d_ctl),
                     rn__ctl_server_connections(d->d_ctl) == 1 ? "" : "s",
                     rn__ctl_server_requests(d->d_ctl));
    rn_strbuf_printf(out, "  objects   %" PRIu64 " live\n", rn_ob_live_count(NULL));
    if (d->d_rss.rs_queues > 1) {
        rn_strbuf_printf(out, "  rss       %u queues, a loop and stack each; services on "
                         "every loop", d->d_rss.rs_queues);
        if (d->d_pins != NULL) {
            rn__pins_counts(d->d_pins, &pinned, &made, &failed);
            rn_strbuf_printf(out, "; %" PRIu64 " port%s pinned to queue 0", pinned,
                             pinned == 1 ? "" : "s");
            if (failed > 0)
                rn_strbuf_printf(out, " (%" PRIu64 " could not be: their frames may reach "
                                 "a loop without them)", failed);
        }
        rn_strbuf_puts(out, "\n");
    }
    rn_strbuf_puts(out, "  services ");
    for (i = 0; i < rn_svcctl_count(d->d_svc); i++) {
        const struct rn_svc *svc = rn_svcctl_at(d->d_svc, i);
        enum rn_svc_state state = rn_svc_state(svc);

        rn_strbuf_printf(out, " %s (%s)%s%s", rn_svc_name(svc), rn_svc_kind(svc)->sk_what,
                         state == RN_SVC_RUNNING ? "" : " ", state == RN_SVC_RUNNING ? "" :
                         rn_svc_state_name(state));
    }
    rn_strbuf_puts(out, rn_svcctl_count(d->d_svc) ? "\n" : " none\n");
    return RN_CTL_EXIT_OK;
}

static const struct rn_ctl_cmd daemon_cmds[] = {
    {"status", rn__cmd_status, "status"},
};

/* ---- The watchdog ------------------------------------------------------- */

/* Interval between two checks of the watchdog thread: half a second, so
 * that a wait is reported at most threshold + 0.5 s (and the snapshot's
 * time) after it began, well inside threshold + 1 s. */
#define DAEMON_WATCHDOG_PERIOD_NS (RN_NSEC_PER_SEC / 2)

/* --dump-dir: a dump of the moment the watchdog reported, named after the
 * time (UTC) and the daemon's pid: DIR/refnet-20250101T120000Z-PID.dump,
 * "-2", "-3" ... added when one of that name exists.  On the watchdog's
 * thread; the file is written as `refnet dump` writes it. */
static void daemon_watchdog_dump(struct rn_daemon *d)
{
    char path[4200], stamp[32], err[256];
    struct rn_snapshot *s;
    time_t t = time(NULL);
    struct tm tm;
    int n;

    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    for (n = 1; n < 100; n++) {
        if (n == 1)
            snprintf(path, sizeof(path), "%s/refnet-%s-%d.dump", d->d_params.dp_dump_dir, stamp,
                     (int)getpid());
        else
            snprintf(path, sizeof(path), "%s/refnet-%s-%d-%d.dump", d->d_params.dp_dump_dir,
                     stamp, (int)getpid(), n);
        if (access(path, F_OK) != 0)
            break;
    }
    s = rn_ob_snapshot();
    if (s == NULL) {
        rn_report(RN_REPORT_INFO, "refnet daemon: no watchdog dump: out of memory\n");
        return;
    }
    s->s_threshold = d->d_wd_threshold;
    if (rn_dump_write(s, path, err, sizeof(err)) == 0)
        rn_report(RN_REPORT_INFO, "refnet daemon: watchdog dump written to %s (%u objects, "
                  "%u waits)\n", path, s->s_nobjects, s->s_nwaits);
    else
        rn_report(RN_REPORT_INFO, "refnet daemon: no watchdog dump: %s\n", err);
    rn_snapshot_free(s);
}

/* The watchdog runs on a thread of its own: a check takes a snapshot of
 * every object, which must not hold the loop, and reads nothing of the
 * stack but the object manager, which any thread may read. */
static void *daemon_watchdog(void *arg)
{
    struct rn_daemon *d = arg;
    struct timespec until;

    pthread_mutex_lock(&d->d_wd_lock);
    while (!d->d_wd_stop) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)DAEMON_WATCHDOG_PERIOD_NS;
        if (until.tv_nsec >= (long)RN_NSEC_PER_SEC) {
            until.tv_sec++;
            until.tv_nsec -= (long)RN_NSEC_PER_SEC;
        }
        while (!d->d_wd_stop &&
               pthread_cond_timedwait(&d->d_wd_cond, &d->d_wd_lock, &until) == 0)
            ;
        if (d->d_wd_stop)
            break;
        pthread_mutex_unlock(&d->d_wd_lock);
        if (rn_watchdog_check(d->d_wd, NULL) > 0 && d->d_params.dp_dump_dir != NULL)
            daemon_watchdog_dump(d);
        pthread_mutex_lock(&d->d_wd_lock);
    }
    pthread_mutex_unlock(&d->d_wd_lock);
    return NULL;
}

static int daemon_start_watchdog(struct rn_daemon *d, char *err, size_t errlen)
{
    pthread_condattr_t ca;
    rn_time_t threshold = d->d_wd_threshold;

    if (d->d_params.dp_no_watchdog)
        return 0;
    d->d_wd = rn_watchdog_new(threshold);
    if (d->d_wd == NULL) {
        derr(err, errlen, "out of memory");
        return RN_ENOMEM;
    }
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->d_wd_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&d->d_wd_lock, NULL);
    if (pthread_create(&d->d_wd_thread, NULL, daemon_watchdog, d) != 0) {
        pthread_cond_destroy(&d->d_wd_cond);
        pthread_mutex_destroy(&d->d_wd_lock);
        rn_watchdog_free(d->d_wd);
        d->d_wd = NULL;
        derr(err, errlen, "cannot start the watchdog thread");
        return RN_EIO;
    }
    d->d_wd_running = true;
    return 0;
}

static void daemon_stop_watchdog(struct rn_daemon *d)
{
    if (!d->d_wd_running)
        return;
    pthread_mutex_lock(&d->d_wd_lock);
    d->d_wd_stop = true;
    pthread_cond_signal(&d->d_wd_cond);
    pthread_mutex_unlock(&d->d_wd_lock);
    pthread_join(d->d_wd_thread, NULL);
    d->d_wd_running = false;
    pthread_cond_destroy(&d->d_wd_cond);
    pthread_mutex_destroy(&d->d_wd_lock);
    rn_watchdog_free(d->d_wd);
    d->d_wd = NULL;
}

/* ---- Signals ------------------------------------------------------------ */

static size_t daemon_services_stopping(const struct rn_daemon *d)
{
    return d->d_svc != NULL ? rn_svcctl_stopping(d->d_svc) : 0;
}

/* Once a graceful stop has nothing left to wait for, the loop may end. */
static void daemon_maybe_stopped(struct rn_daemon *d)
{
    if (d->d_stopping && daemon_services_stopping(d) == 0 && !d->d_net_stopping &&
        !d->d_lanes_pending) {
        rn_loop_timer_cancel(d->d_loop, &d->d_stop_timer);
        rn_loop_stop(d->d_loop);
    }
}

/* Every service finished stopping. */
static void daemon_services_stopped(void *ctx)
{
    daemon_maybe_stopped(ctx);
}

/* The last transfer ended. */
static void daemon_net_stopped(void *ctx)
{
    struct rn_daemon *d = ctx;

    d->d_net_stopping = false;
    daemon_maybe_stopped(d);
}

/* The last lane's services stopped (posted from its thread). */
static void daemon_lanes_stopped(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct rn_daemon *d = (struct rn_daemon *)((char *)w - offsetof(struct rn_daemon,
                                                                      d_lanes_work));

    (void)loop;
    d->d_lanes_pending = false;
    daemon_maybe_stopped(d);
}

/* A lane's services stopped; called on its thread. */
static void daemon_lane_stopped(void *ctx)
{
    struct rn_daemon *d = ctx;

    if (atomic_fetch_sub(&d->d_lanes_stopping, 1) == 1)
        rn_loop_post(d->d_loop, &d->d_lanes_work, daemon_lanes_stopped);
}

/* Asks every running service to stop, last started first: the first
 * loop's here, each lane's on its own thread. */
static void daemon_stop_services(struct rn_daemon *d)
{
    unsigned q;

    if (d->d_svc != NULL)
        (void)rn_svcctl_stop_all(d->d_svc, daemon_services_stopped, d);
    if (d->d_rss.rs_queues > 1 && !d->d_lanes_pending && d->d_loop != NULL) {
        d->d_lanes_pending = true;
        atomic_store(&d->d_lanes_stopping, d->d_rss.rs_queues - 1);
        for (q = 1; q < d->d_rss.rs_queues; q++) {
            if (d->d_lanes[q] != NULL)
                rn__lane_stop_services(d->d_lanes[q], daemon_lane_stopped, d);
            else
                daemon_lane_stopped(d);
        }
    }
}

static void daemon_stop_timed_out(struct rn_timer *t, rn_time_t now)
{
    struct rn_daemon *d = (struct rn_daemon *)((char *)t - offsetof(struct rn_daemon,
                                                                      d_stop_timer));
    struct rn_strbuf sb = RN_STRBUF_INIT;
    char age[32];
    unsigned q;
    size_t i;

    (void)now;
    /* Each loop's instances that have not stopped (a lane's list stays as
     * it is while it stops; states are atomic). */
    for (q = 0; q < d->d_rss.rs_queues; q++) {
        struct rn_svcctl *sc = q == 0 ? d->d_svc
                               : d->d_lanes[q] != NULL ? rn__lane_services(d->d_lanes[q]) : NULL;

        for (i = 0; sc != NULL && i < rn_svcctl_count(sc); i++) {
            if (rn_svc_state(rn_svcctl_at(sc, i)) != RN_SVC_STOP_PENDING)
                continue;
            rn_strbuf_printf(&sb, " %s", rn_svc_name(rn_svcctl_at(sc, i)));
            if (d->d_rss.rs_queues > 1)
                rn_strbuf_printf(&sb, " (loop %u)", q);
        }
    }
    if (d->d_net_stopping)
        rn_strbuf_printf(&sb, " %u transfer(s)", rn__ctl_net_count(d->d_net));
    rn_report(RN_REPORT_INFO, "daemon: services still stopping after %s:%s; shutting down "
              "anyway\n", rn_fmt_age(DAEMON_STOP_TIMEOUT, age, sizeof(age)),
              rn_strbuf_str(&sb));
    rn_strbuf_free(&sb);
    rn_loop_stop(d->d_loop);
}

/* Begins a graceful stop on the loop thread: services stop first, and the
 * loop keeps running until they have (their stops need it), or the
 * timeout.  A second request stops the loop at once. */
static void daemon_begin_stop(struct rn_daemon *d)
{
    if (d->d_stopping) {
        rn_loop_stop(d->d_loop);
        return;
    }
    d->d_stopping = true;
    daemon_stop_services(d);
    if (d->d_net != NULL) {
        d->d_net_stopping = true;
        rn__ctl_net_stop(d->d_net, daemon_net_stopped, d);
    }
    if (daemon_services_stopping(d) == 0 && !d->d_net_stopping && !d->d_lanes_pending) {
        rn_loop_stop(d->d_loop);
        return;
    }
    if (rn_loop_timer_arm(d->d_loop, &d->d_stop_timer,
                          rn_loop_now(d->d_loop) + DAEMON_STOP_TIMEOUT) != 0)
        rn_loop_stop(d->d_loop);
}

static void daemon_signal(struct rn_loop *loop, int fd, uint32_t events, void *ctx)
{
    struct rn_daemon *d = ctx;
    struct signalfd_siginfo si;

    (void)loop;
    (void)events;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        d->d_signal = (int)si.ssi_signo;
        daemon_begin_stop(d);
    }
}

static void daemon_stop_posted(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct rn_daemon *d = (struct rn_daemon *)((char *)w - offsetof(struct rn_daemon,
                                                                      d_stop_work));

    (void)loop;
    atomic_store(&d->d_stop_posted, false);
    daemon_begin_stop(d);
}

/* ---- Start and shutdown ------------------------------------------------- */

/* Copies a stats hook's n counters c into out, max at most; returns how
 * many. */
static unsigned counters_out(struct rn_stack_counter *out, unsigned max,
                             const struct rn_stack_counter *c, unsigned n)
{
    unsigned i;

    for (i = 0; i < n && i < max; i++)
        out[i] = c[i];
    return i;
}

/* The stack's stats hook for the fault filter: what it did in each
 * direction, in `refnet stat` as fault.rx_* (frames coming up from the
 * TAP) and fault.tx_* (going down to it). */
static unsigned daemon_fault_stats(struct rn_stack *st, void *ctx, struct rn_stack_counter *out,
                                   unsigned max)
{
    struct rn_daemon *d = ctx;
    struct rn_fault_counters rx, tx;

    (void)st;
    if (d->d_fault == NULL)
        return 0;
    rn_link_fault_counters(d->d_fault, RN_FAULT_RX, &rx);
    rn_link_fault_counters(d->d_fault, RN_FAULT_TX, &tx);
    {
        const struct rn_stack_counter c[] = {
            {"fault.rx_frames", rx.fc_frames},
            {"fault.rx_dropped", rx.fc_dropped},
            {"fault.rx_duplicated", rx.fc_duplicated},
            {"fault.rx_corrupted", rx.fc_corrupted},
            {"fault.rx_delayed", rx.fc_delayed},
            {"fault.rx_reordered", rx.fc_reordered},
            {"fault.tx_frames", tx.fc_frames},
            {"fault.tx_dropped", tx.fc_dropped},
            {"fault.tx_duplicated", tx.fc_duplicated},
            {"fault.tx_corrupted", tx.fc_corrupted},
            {"fault.tx_delayed", tx.fc_delayed},
            {"fault.tx_reordered", tx.fc_reordered},
        };

        return counters_out(out, max, c, sizeof(c) / sizeof(c[0]));
    }
}

/* Every DAEMON_HEAP_PERIOD: once a burst's buffers were freed, their
 * memory goes back to the system (refnet/heap.h); every
 * DAEMON_POOL_PERIODS, the packet pools' slabs not needed meanwhile. */
static void daemon_heap_fired(struct rn_timer *t, rn_time_t now)
{
    struct rn_daemon *d = (struct rn_daemon *)((char *)t - offsetof(struct rn_daemon, d_heap_timer));

    (void)rn_heap_return_due(now);
    if (++d->d_heap_ticks % DAEMON_POOL_PERIODS == 0) {
        /* Each packet pool on its own loop's thread. */
        (void)rn_nbpool_shrink(rn_stack_pool(d->d_stack));
        for (unsigned q = 1; q < RN_RSS_QUEUES_MAX; q++)
            rn__lane_shrink(d->d_lanes[q]);
    }
    (void)rn_loop_timer_arm(d->d_loop, &d->d_heap_timer, now + DAEMON_HEAP_PERIOD);
}

/* The stack's stats hook for the heap (refnet/heap.h), in `refnet stat` as
 * heap.*: bytes the pools and the object manager freed, how often free
 * memory went back to the system, and the page blocks. */
static unsigned daemon_heap_stats(struct rn_stack *st, void *ctx, struct rn_stack_counter *out,
                                  unsigned max)
{
    struct rn_heap_counters hc;

    (void)st;
    (void)ctx;
    rn_heap_counters(&hc);
    {
        const struct rn_stack_counter c[] = {
            {"heap.freed_bytes", hc.hc_freed},
            {"heap.returns", hc.hc_returns},
            {"heap.blocks_taken", hc.hc_gets},
            {"heap.blocks_in_use", hc.hc_blocks_out},
            {"heap.blocks_free", hc.hc_blocks_free},
            {"heap.blocks_mapped_bytes", hc.hc_mapped},
        };

        return counters_out(out, max, c, sizeof(c) / sizeof(c[0]));
    }
}

/* The stack's stats hook for the live view: its refusals by reason, in
 * `refnet stat` as ui.refused.<reason>. */
static unsigned daemon_web_stats(struct rn_stack *st, void *ctx, struct rn_stack_counter *out,
                                 unsigned max)
{
    static char names[RN_WEB_R_COUNT_][48];
    struct rn_daemon *d = ctx;
    unsigned i;

    (void)st;
    if (d->d_web == NULL)
        return 0;
    for (i = 0; i < RN_WEB_R_COUNT_ && i < max; i++) {
        if (names[i][0] == '\0')
            snprintf(names[i], sizeof(names[i]), "ui.refused.%s",
                     rn__web_refusal_name((enum rn_web_refusal)i));
        out[i].sc_name = names[i];
        out[i].sc_value = rn__web_refusals(d->d_web, (enum rn_web_refusal)i);
    }
    return i;
}

static int daemon_open_link(struct rn_daemon *d, char *err, size_t errlen)
{
    const struct rn_daemon_params *p = &d->d_params;
    struct rn_link_tap_params tp;
    struct rn_iface_params ip;
    struct rn_link_caps caps;
    struct rn_link *top, *link, *fault = NULL;
    char why[RN_LINK_ERRLEN];
    int e;

    memset(&tp, 0, sizeof(tp));
    tp.tp_ifname = p->dp_tap;
    tp.tp_pool = rn_stack_pool(d->d_stack);
    tp.tp_mtu = p->dp_mtu;
    tp.tp_vnet_hdr = !p->dp_no_offload;
    tp.tp_single = p->dp_tap_single;
    memcpy(tp.tp_hwaddr, p->dp_mac, 6);
    if (d->d_rss.rs_queues > 1) {
        tp.tp_queues = d->d_rss.rs_queues;
        tp.tp_rss = &d->d_rss;
    }
    why[0] = '\0';
    e = rn_link_tap_open(&tp, &top, why);
    if (e != 0) {
        derr(err, errlen, "cannot open TAP %s: %s", p->dp_tap, why[0] ? why : rn_strerror(e));
        return e;
    }
    d->d_tap = top;
    rn_link_caps(top, &caps);
    memcpy(d->d_mac, caps.lc_hwaddr, 6);
    if (p->dp_fault != NULL) {
        e = rn_link_fault_open(top, p->dp_fault, &link);
        if (e != 0) {
            derr(err, errlen, "cannot stack the fault filter: %s", rn_strerror(e));
            goto out_close_link;
        }
        top = fault = link;
    }
    if (p->dp_capture != NULL) {
        struct rn_link_capture_params cp;

        memset(&cp, 0, sizeof(cp));
        cp.cp_path = p->dp_capture;
        cp.cp_flush_interval = RN_SEC(1);
        {
            /* The loop's clock is monotonic; the file shows dates. */
            struct timespec rt;

            clock_gettime(CLOCK_REALTIME, &rt);
            cp.cp_time_offset = (int64_t)rt.tv_sec * RN_NSEC_PER_SEC + rt.tv_nsec -
                                (int64_t)rn_clock_os_monotonic();
        }
        why[0] = '\0';
        e = rn_link_capture_open(top, &cp, &link, why);
        if (e != 0) {
            derr(err, errlen, "cannot capture to %s: %s", p->dp_capture,
                 why[0] ? why : rn_strerror(e));
            goto out_close_link;
        }
        top = d->d_capture = link;
    }
    /* On top of the chain: the other loops get their copies of what came
     * through queue 0's faults, and their own captures and faults see
     * none of them. */
    if (d->d_rss.rs_queues > 1) {
        e = rn_link_fanout_open(d->d_fan, 0, top, NULL, &link, why);
        if (e != 0) {
            derr(err, errlen, "cannot stack the fan-out filter: %s", why);
            goto out_close_link;
        }
        top = link;
    }
    memset(&ip, 0, sizeof(ip));
    ip.ifp_name = p->dp_tap;
    ip.ifp_link = top;
    memcpy(ip.ifp_mac, d->d_mac, 6);
    ip.ifp_addr = p->dp_addr;
    ip.ifp_plen = p->dp_plen;
    ip.ifp_ipv6 = p->dp_naddr6 > 0;
    /* The interface owns the chain from here, on success and failure. */
    e = rn_stack_add_iface(d->d_stack, &ip, &d->d_ifp);
    if (e != 0) {
        d->d_tap = NULL;
        derr(err, errlen, "cannot add interface %s: %s", p->dp_tap, rn_strerror(e));
        return e;
    }
    for (size_t i = 0; i < p->dp_naddr6; i++) {
        e = rn_iface_add_addr6(d->d_ifp, &p->dp_addr6[i], p->dp_plen6[i]);
        if (e != 0) {
            char a6[RN_IP6_STRLEN];

            derr(err, errlen, "cannot add IPv6 address %s/%u: %s",
                 rn_ip6_addr_fmt(&p->dp_addr6[i], a6), p->dp_plen6[i], rn_strerror(e));
            return e;
        }
    }
    if (p->dp_fault != NULL) {
        d->d_fault = fault;
        e = rn_stack_add_stats(d->d_stack, daemon_fault_stats, d);
        if (e != 0) {
            derr(err, errlen, "out of memory");
            return e;
        }
    }
    if (p->dp_gw != 0) {
        char gw[INET_ADDRSTRLEN];

        e = rn_route_add(d->d_stack, 0, 0, p->dp_gw, NULL);
        if (e != 0) {
            fmt_ip4(p->dp_gw, gw, sizeof(gw));
            derr(err, errlen, "cannot add the default route via %s: %s", gw, rn_strerror(e));
            return e;
        }
    }
    /* Every queue attached before the device is up, so that no flow's
     * frames change queue as queues attach. */
    for (unsigned q = 1; q < d->d_rss.rs_queues; q++) {
        struct rn__lane_setup ls = {p, &d->d_rss, q, d->d_fan, d->d_mac, d->d_pins,
                                    d->d_capture};

        e = rn__lane_create(&ls, &d->d_lanes[q], err, errlen);
        if (e == 0)
            e = rn__lane_open(d->d_lanes[q], err, errlen);
        if (e != 0)
            return e;
    }
    if (d->d_pins != NULL)
        rn__pins_set_link(d->d_pins, d->d_tap);
    e = rn_link_tap_set_up(d->d_tap, true);
    if (e != 0) {
        derr(err, errlen, "cannot bring TAP %s up: %s", p->dp_tap, rn_strerror(e));
        return e;
    }
    return 0;

out_close_link:
    rn_link_close(top);
    d->d_tap = NULL;
    return e;
}

/* Lets the controller run commands: on the loop, each under `refnet run`
 * of this very binary, on this daemon's control socket. */
static int daemon_exec_host(struct rn_daemon *d, char *err, size_t errlen)
{
    char self[4096];
    const char *launcher[] = {self, "run", "--ctl", d->d_ctl_path, "--", NULL};
    struct rn_svc_exec_host h;
    ssize_t n;
    int e;

    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0 || (size_t)n >= sizeof(self) - 1) {
        derr(err, errlen, "cannot find this program's own path (/proc/self/exe) to run "
             "commands under `refnet run`");
        return RN_EIO;
    }
    self[n] = '\0';
    h.eh_loop = d->d_loop;
    h.eh_launcher = launcher;
    e = rn_svcctl_exec_attach(d->d_svc, &h);
    if (e != 0)
        derr(err, errlen, "cannot attach the command runner: %s", rn_strerror(e));
    return e;
}

static int daemon_start_services(struct rn_daemon *d, char *err, size_t errlen)
{
    struct rn_svc *svc;
    char why[600];
    size_t i;
    int e;

    for (i = 0; i < d->d_params.dp_nservices; i++) {
        why[0] = '\0';
        e = rn_svcctl_add(d->d_svc, d->d_params.dp_services[i], &svc, why, sizeof(why));
        if (e == 0)
            e = rn_svc_start(svc, why, sizeof(why));
        if (e < 0) {
            derr(err, errlen, "cannot start service %s: %s", d->d_params.dp_services[i],
                 why[0] ? why : rn_strerror(e));
            return e;
        }
    }
    for (i = 0; i < d->d_params.dp_nexec; i++) {
        const struct rn_daemon_exec *de = &d->d_params.dp_exec[i];
        struct rn_svc_exec ex = {
            .ex_argv = de->de_argv,
            .ex_stop_signal = de->de_stop_signal,
            .ex_grace = de->de_grace,
            .ex_stop_main = de->de_stop_main,
        };

        why[0] = '\0';
        e = rn_svcctl_add_exec(d->d_svc, de->de_name, &ex, &svc, why, sizeof(why));
        if (e == 0)
            e = rn_svc_start(svc, why, sizeof(why));
        if (e < 0) {
            derr(err, errlen, "cannot start service %s: %s", de->de_name,
                 why[0] ? why : rn_strerror(e));
            return e;
        }
    }
    return 0;
}

int rn__daemon_filters_on(struct rn_stack *st, const struct rn_daemon_params *p, char *err,
                          size_t errlen)
{
    char why[256];
    size_t i;
    int e;

    e = rn_filter_init(st);
    if (e != 0) {
        derr(err, errlen, "cannot set up the filtering platform: %s", rn_strerror(e));
        return e;
    }
    for (i = 0; i < p->dp_nplugins; i++) {
        const char *spec = p->dp_plugins[i], *colon = strchr(spec, ':');
        char path[4096];

        snprintf(path, sizeof(path), "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec),
                 spec);
        e = rn_plugin_load(st, path, colon ? colon + 1 : "", NULL, why, sizeof(why));
        if (e != 0) {
            derr(err, errlen, "--plugin: %s", why);
            return e;
        }
    }
    for (i = 0; i < p->dp_nfilters; i++) {
        e = rn_filter_add_lab(st, p->dp_filters[i], NULL, why, sizeof(why));
        if (e != 0) {
            derr(err, errlen, "--filter '%s': %s", p->dp_filters[i], why);
            return e;
        }
    }
    return 0;
}

/* The filtering platform, with the filters given at start (before any
 * service opens a socket, so that they apply to it). */
static int daemon_start_filters(struct rn_daemon *d, char *err, size_t errlen)
{
    return rn__daemon_filters_on(d->d_stack, &d->d_params, err, errlen);
}

/* The lanes: their interfaces, filters and services, then their threads. */
static int daemon_start_lanes(struct rn_daemon *d, char *err, size_t errlen)
{
    unsigned q;
    int e;

    for (q = 1; q < d->d_rss.rs_queues; q++) {
        e = rn__lane_start(d->d_lanes[q], err, errlen);
        if (e == 0)
            e = rn__ctl_netstat_add_lane(d->d_netstat, rn__lane_loop(d->d_lanes[q]),
                                         rn__lane_stack(d->d_lanes[q]));
        if (e == 0)
            e = rn__ctl_lanes_add(d->d_lanes_ctl, rn__lane_loop(d->d_lanes[q]),
                                  rn__lane_stack(d->d_lanes[q]));
        if (e == 0)
            e = rn__ctl_svc_add_lane(d->d_ctl_svc, q, rn__lane_services(d->d_lanes[q]));
        if (e != 0) {
            if (err[0] == '\0')
                derr(err, errlen, "queue %u: %s", q, rn_strerror(e));
            return e;
        }
    }
    return 0;
}

/* Queues when --rss is not given: one per CPU; but one for a TAP that
 * exists already with a single queue (`ip tuntap add` without
 * multi_queue), which could not take more; saying so. */
static unsigned daemon_rss_default(const char *tap)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = cpus < 1 ? 1 : cpus > (long)RN_RSS_QUEUES_MAX ? RN_RSS_QUEUES_MAX : (unsigned)cpus;
    char path[96], flags[32] = "";
    FILE *f;

    snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", tap);
    f = fopen(path, "r");
    if (f == NULL)
        return n;  /* no such device yet: it is made multi-queue */
    if (fgets(flags, sizeof(flags), f) != NULL && n > 1 &&
        !(strtoul(flags, NULL, 16) & IFF_MULTI_QUEUE)) {
        rn_report(RN_REPORT_INFO, "refnet daemon: %s is a single-queue TAP: one loop, no "
                  "receive-side scaling (`ip tuntap add ... multi_queue` makes one with "
                  "several queues; --rss off says one loop without this line)\n", tap);
        n = 1;
    }
    fclose(f);
    return n;
}

/* The fan-out's wake of queue q's lane. */
static void daemon_fan_wake(void *ctx, unsigned q)
{
    struct rn_daemon *d = ctx;

    if (q < d->d_rss.rs_queues && d->d_lanes[q] != NULL)
        rn__lane_wake(d->d_lanes[q]);
}

/* Is this port pinned to queue 0 (its flows loop 0's whatever their
 * hash)?  For the fan-out's ICMP errors and loop 0's hand-overs. */
static bool daemon_fan_pinned(void *ctx, uint8_t proto, uint16_t port)
{
    struct rn_daemon *d = ctx;

    return d->d_pins != NULL && rn__pins_pinned(d->d_pins, proto, port);
}

/* Loop 0's stack reassembled a datagram whose flow hashes to loop q: to
 * q's inbox, unless its port is pinned to queue 0 (then it is loop 0's). */
static bool daemon_fan_hand(void *ctx, unsigned q, uint8_t proto, uint16_t port,
                            const uint8_t *frame, size_t len)
{
    struct rn_daemon *d = ctx;

    return !daemon_fan_pinned(d, proto, port) && rn_link_fanout_hand(d->d_fan, q, frame, len);
}

/* Tears down what start set up, in reverse; every field may be unset.
 * Returns the objects leaked. */
static uint64_t daemon_teardown(struct rn_daemon *d)
{
    uint64_t live;
    int e;

    daemon_stop_watchdog(d);
    /* The view first: its thread reads the stack through the loop, and
     * its sampler's walk must end before the stack does. */
    rn__web_close(d->d_web);
    d->d_web = NULL;
    /* Services not stopped by now (a failed start, a stop that timed out)
     * are asked to; what their stops post still runs inside
     * rn_stack_destroy(), and what they still hold is reported below. */
    daemon_stop_services(d);
    /* Programs under `refnet run` lose their sockets: their processes
     * exit as refnet processes. */
    rn__run_server_close(d->d_run);
    d->d_run = NULL;
    rn__ctl_server_close(d->d_ctl);
    d->d_ctl = NULL;
    /* After the close, which cancelled their requests: the walks let go
     * of what they hold. */
    rn__ctl_netstat_free(d->d_netstat);
    d->d_netstat = NULL;
    rn__ctl_svc_free(d->d_ctl_svc);
    d->d_ctl_svc = NULL;
    /* Dump jobs still writing finish and complete their requests (whose
     * clients are gone by now). */
    rn__dumper_free(d->d_dumper);
    d->d_dumper = NULL;
    if (d->d_sigfd >= 0 && d->d_loop != NULL)
        (void)rn_loop_del_fd(d->d_loop, d->d_sigfd);
    /* Commands still running are killed and waited for: their pidfds and
     * timers are on the loop.  Their stops complete with the stack's. */
    if (d->d_svc != NULL)
        rn_svcctl_exec_detach(d->d_svc);
    /* The lanes: their loops stop, their stacks run down.  Pins go with
     * the device. */
    if (d->d_pins != NULL)
        rn__pins_set_link(d->d_pins, NULL);
    for (unsigned q = 1; q < RN_RSS_QUEUES_MAX; q++) {
        rn__lane_destroy(d->d_lanes[q]);
        d->d_lanes[q] = NULL;
    }
    if (d->d_loop != NULL)
        rn_loop_timer_cancel(d->d_loop, &d->d_heap_timer);
    rn_loop_destroy(d->d_loop);
    d->d_loop = NULL;
    d->d_fault = NULL;  /* goes with the interface */
    d->d_capture = NULL;
    if (d->d_stack != NULL) {
        e = rn_stack_destroy(d->d_stack);
        if (e != 0)
            rn_report(RN_REPORT_LEAK, "daemon: the stack's buffers were still held at "
                      "shutdown: %s\n", rn_strerror(e));
        d->d_stack = NULL;
    }
    /* After the stack, inside whose destruction the stops still pending
     * completed (or not: then their processes are reported below). */
    rn_svcctl_destroy(d->d_svc);
    d->d_svc = NULL;
    /* After the stack: no transfer callback can run any more. */
    rn__ctl_net_free(d->d_net);
    d->d_net = NULL;
    rn_link_fanout_release(d->d_fan);
    d->d_fan = NULL;
    rn__ctl_lanes_free(d->d_lanes_ctl);
    d->d_lanes_ctl = NULL;
    rn__pins_free(d->d_pins);  /* after every stack, whose end told it */
    d->d_pins = NULL;
    if (d->d_sigfd >= 0)
        close(d->d_sigfd);
    d->d_sigfd = -1;
    pthread_sigmask(SIG_SETMASK, &d->d_oldmask, NULL);

    rn_ob_drain();
    live = rn_ob_live_count(NULL);
    /* Every object left is a leak: each is reported with its holders. */
    if (live > 0 && rn_diag_report_leaks(NULL) < 0)
        rn_report(RN_REPORT_LEAK, "daemon: %" PRIu64 " objects leaked at shutdown\n", live);
    return live;
}

int rn__daemon_start(const struct rn_daemon_params *params, struct rn_daemon **out, char *err,
                    size_t errlen)
{
    struct rn_stack_params sp;
    struct rn_daemon *d;
    sigset_t mask;
    int e;

    assert(params != NULL && params->dp_tap != NULL && out != NULL);
    assert(params->dp_plen <= 32 && params->dp_nservices <= RN_DAEMON_SERVICES_MAX);
    assert(params->dp_nfilters <= RN_DAEMON_FILTERS_MAX);
    *out = NULL;
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        derr(err, errlen, "out of memory");
        return RN_ENOMEM;
    }
    d->d_params = *params;
    d->d_sigfd = -1;
    d->d_wd_threshold = params->dp_watchdog ? params->dp_watchdog : RN_DIAG_DEFAULT_THRESHOLD;
    if (params->dp_dump_dir != NULL) {
        struct stat sb;

        if (stat(params->dp_dump_dir, &sb) != 0 || !S_ISDIR(sb.st_mode) ||
            access(params->dp_dump_dir, W_OK | X_OK) != 0) {
            derr(err, errlen, "--dump-dir %s: not a directory the daemon can write to",
                 params->dp_dump_dir);
            free(d);
            return RN_EINVAL;
        }
    }
    rn_timer_init(&d->d_stop_timer, daemon_stop_timed_out);
    rn_timer_init(&d->d_heap_timer, daemon_heap_fired);
    atomic_init(&d->d_stop_posted, false);
    snprintf(d->d_ctl_path, sizeof(d->d_ctl_path), "%s",
             rn__ctl_default_path(params->dp_ctl_path));

    /* Signals first, so that a SIGTERM during start-up is not lost: it
     * stops the loop at its first wake. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &mask, &d->d_oldmask);
    d->d_sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (d->d_sigfd < 0) {
        derr(err, errlen, "cannot create a signalfd: %s", strerror(errno));
        e = RN_EIO;
        goto out_teardown;
    }

    memset(&sp, 0, sizeof(sp));
    sp.sp_name = params->dp_tap;
    sp.sp_seed = params->dp_seed;
    sp.sp_reass_timeout = params->dp_reass_timeout;
    if (sp.sp_seed == 0 && getrandom(&sp.sp_seed, sizeof(sp.sp_seed), 0) != sizeof(sp.sp_seed))
        sp.sp_seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ rn_clock_os_monotonic();
    e = rn_stack_create(&sp, &d->d_stack);
    if (e != 0) {
        derr(err, errlen, "cannot create the stack: %s", rn_strerror(e));
        goto out_teardown;
    }
    rn_rss_init(&d->d_rss, params->dp_rss_queues ? params->dp_rss_queues
                                                 : daemon_rss_default(params->dp_tap));
    if (params->dp_rss_key_set)
        memcpy(d->d_rss.rs_key, params->dp_rss_key, RN_RSS_KEY_LEN);
    if (d->d_rss.rs_queues > 1) {
        e = rn_stack_set_rss(d->d_stack, &d->d_rss, 0);
        if (e == 0)
            e = rn_link_fanout_create(&d->d_rss, daemon_fan_wake, d, &d->d_fan);
        if (e == 0) {
            rn_link_fanout_set_pinned(d->d_fan, daemon_fan_pinned, d);
            rn_stack_set_rss_handover(d->d_stack, daemon_fan_hand, d);
        }
        if (e == 0 && (d->d_pins = rn__pins_new(d->d_rss.rs_queues)) == NULL)
            e = RN_ENOMEM;
        if (e == 0)
            rn__pins_watch(d->d_pins, d->d_stack, 0);
        if (e != 0) {
            derr(err, errlen, "cannot set up receive-side scaling over %u queues: %s",
                 d->d_rss.rs_queues, rn_strerror(e));
            goto out_teardown;
        }
    }
    /* TCP with the settings given (--set), then UDP, TCP (if not set up
     * yet) and the socket layer the services run on. */
    if (params->dp_tcp_set) {
        e = rn_tcp_init(d->d_stack, &params->dp_tcp);
        if (e != 0) {
            derr(err, errlen, "cannot set TCP up with the settings given: %s", rn_strerror(e));
            goto out_teardown;
        }
    }
    e = rn_sock_layer_init(d->d_stack);
    if (e != 0) {
        derr(err, errlen, "cannot set up the transports: %s", rn_strerror(e));
        goto out_teardown;
    }
    if (params->dp_max_handles != 0 &&
        (e = rn_sock_set_max_handles(d->d_stack, params->dp_max_handles)) != 0) {
        derr(err, errlen, "sock.max_handles %u: %s", params->dp_max_handles, rn_strerror(e));
        goto out_teardown;
    }
    rn__svc_kinds_set_limits(&params->dp_limits);
    e = rn_loop_create(d->d_stack, &d->d_loop);
    if (e != 0) {
        derr(err, errlen, "cannot create the loop: %s", rn_strerror(e));
        goto out_teardown;
    }
    e = rn_loop_set_busy_poll(d->d_loop, params->dp_busy_poll);
    if (e != 0) {
        derr(err, errlen, "cannot busy-poll for that long: %s", rn_strerror(e));
        goto out_teardown;
    }
    e = rn_loop_add_fd(d->d_loop, d->d_sigfd, EPOLLIN, daemon_signal, d);
    if (e != 0) {
        derr(err, errlen, "cannot watch signals: %s", rn_strerror(e));
        goto out_teardown;
    }
    e = ctl_dir_make(d->d_ctl_path, err, errlen);
    if (e == 0)
        e = rn__ctl_server_open(d->d_loop, d->d_ctl_path, &d->d_ctl, err, errlen);
    if (e != 0)
        goto out_teardown;
    d->d_dumper = rn__dumper_new(d->d_loop);
    if (d->d_dumper != NULL)
        rn__dumper_set_threshold(d->d_dumper, d->d_wd_threshold);
    d->d_net = rn__ctl_net_new(d->d_loop, d->d_stack);
    d->d_lanes_ctl = rn__ctl_lanes_new(d->d_loop, d->d_stack);
    d->d_netstat = rn__ctl_netstat_new(d->d_loop, d->d_stack, params->dp_inject_enum_leak);
    e = rn_svcctl_create(d->d_stack, rn_svc_builtin, &d->d_svc);
    if (e == 0 && (e = daemon_exec_host(d, err, errlen)) != 0)
        goto out_teardown;
    if (e == 0)
        d->d_ctl_svc = rn__ctl_svc_new(d->d_svc, d->d_stack, d->d_wd_threshold);
    if (d->d_ctl_svc != NULL)
        rn__ctl_svc_set_lanes(d->d_ctl_svc, d->d_lanes_ctl);
    if (d->d_dumper == NULL || d->d_net == NULL || d->d_netstat == NULL ||
        d->d_ctl_svc == NULL || d->d_lanes_ctl == NULL) {
        derr(err, errlen, "out of memory");
        e = RN_ENOMEM;
        goto out_teardown;
    }
    e = rn__ctl_server_add(d->d_ctl, daemon_cmds, sizeof(daemon_cmds) / sizeof(daemon_cmds[0]), d);
    if (e == 0)
        e = rn__ctl_add_stack_cmds(d->d_ctl, d->d_stack, d->d_wd_threshold, d->d_lanes_ctl);
    if (e == 0)
        e = rn__ctl_add_object_cmds(d->d_ctl);
    if (e == 0)
        e = rn__ctl_add_dump_cmd(d->d_ctl, d->d_dumper);
    if (e == 0)
        e = rn__ctl_add_net_cmds(d->d_ctl, d->d_net);
    if (e == 0)
        e = rn__ctl_add_netstat_cmd(d->d_ctl, d->d_netstat);
    if (e == 0)
        e = rn__ctl_add_svc_cmds(d->d_ctl, d->d_ctl_svc);
    if (e == 0)
        e = rn__ctl_add_filter_cmds(d->d_ctl, d->d_stack, d->d_lanes_ctl);
    if (e == 0)
        e = rn__ctl_add_tcp_cmds(d->d_ctl, d->d_stack, d->d_lanes_ctl);
    if (e != 0) {
        derr(err, errlen, "out of memory");
        goto out_teardown;
    }
    e = daemon_open_link(d, err, errlen);
    if (e != 0)
        goto out_teardown;
    {
        struct rn__run_params rp;
        char path[sizeof(d->d_ctl_path)];

        memset(&rp, 0, sizeof(rp));
        if (rn__run_sock_path(d->d_ctl_path, path, sizeof(path)) != 0) {
            derr(err, errlen, "control socket path too long for its run socket: %s",
                 d->d_ctl_path);
            e = RN_EINVAL;
            goto out_teardown;
        }
        rp.rp_path = path;
        memcpy(rp.rp_uids, params->dp_run_uids, sizeof(rp.rp_uids));
        rp.rp_nuids = params->dp_run_nuids;
        rp.rp_max_sockets = params->dp_run_max_sockets;
        e = rn__run_server_open(d->d_loop, d->d_stack, &rp, &d->d_run, err, errlen);
        if (e != 0)
            goto out_teardown;
    }
    /* After the interface, which a plug-in's link filter may be given. */
    e = daemon_start_filters(d, err, errlen);
    if (e != 0)
        goto out_teardown;
    e = daemon_start_services(d, err, errlen);
    if (e == 0)
        e = daemon_start_lanes(d, err, errlen);
    if (e != 0)
        goto out_teardown;
    e = daemon_start_watchdog(d, err, errlen);
    if (e != 0)
        goto out_teardown;
    if (params->dp_ui != NULL) {
        struct rn__web_params wp = {
            .wp_addr = params->dp_ui,
            .wp_loop = d->d_loop,
            .wp_stack = d->d_stack,
            .wp_lanes = d->d_lanes_ctl,
            .wp_ctl_svc = d->d_ctl_svc,
            .wp_version = params->dp_version ? params->dp_version : "?",
            .wp_ctl_path = d->d_ctl_path,
            .wp_threshold = d->d_wd_threshold,
            .wp_inject_enum_leak = params->dp_inject_enum_leak,
        };

        e = rn__web_open(&wp, &d->d_web, err, errlen);
        if (e == 0)
            e = rn_stack_add_stats(d->d_stack, daemon_web_stats, d);
        if (e != 0)
            goto out_teardown;
    }
    e = rn_stack_add_stats(d->d_stack, daemon_heap_stats, d);
    if (e == 0)
        e = rn_loop_timer_arm(d->d_loop, &d->d_heap_timer,
                              rn_loop_now(d->d_loop) + DAEMON_HEAP_PERIOD);
    if (e != 0)
        goto out_teardown;
    d->d_started = rn_clock_os_monotonic();
    *out = d;
    return 0;

out_teardown:
    /* Objects left by a failed start are reported like any leak. */
    (void)daemon_teardown(d);
    free(d);
    return e;
}

void rn__daemon_describe(const struct rn_daemon *d, char *buf, size_t len)
{
    char addr[INET_ADDRSTRLEN], mac[24];

    fmt_ip4(d->d_params.dp_addr, addr, sizeof(addr));
    fmt_mac(d->d_mac, mac, sizeof(mac));
    snprintf(buf, len, "%s %s/%u mac %s, control %s", d->d_params.dp_tap, addr,
             d->d_params.dp_plen, mac, d->d_ctl_path);
}

const char *rn__daemon_ui_url(const struct rn_daemon *d)
{
    return d->d_web != NULL ? rn__web_url(d->d_web) : NULL;
}

const char *rn__daemon_ui_token(const struct rn_daemon *d)
{
    return d->d_web != NULL ? rn__web_token(d->d_web) : NULL;
}

int rn__daemon_run(struct rn_daemon *d)
{
    return rn_loop_run(d->d_loop);
}

void rn__daemon_stop(struct rn_daemon *d)
{
    if (!atomic_exchange(&d->d_stop_posted, true))
        rn_loop_post(d->d_loop, &d->d_stop_work, daemon_stop_posted);
}

uint64_t rn__daemon_shutdown(struct rn_daemon *d)
{
    uint64_t leaked = daemon_teardown(d);

    free(d);
    return leaked;
}
