/*
 * sockdiff: runs every case on Linux and on refnet at once, compares the
 * two logs, and prints one line per case:
 *   PASS      the two runs agree
 *   FAIL      they differ (the first difference), or the harness failed
 *   DIVERGES  they differ as docs/sockets.md says they do, and why
 *   PENDING   refnet lacks the feature the case needs (named)
 * It exits 1 on any FAIL.
 *
 *     ip netns exec PEER sockdiff --subject NS --remote NS --tap rn0 \
 *         --docs docs/sockets.md [-k GLOB] [-v | -vv] [--list]
 *
 * -k runs the cases whose names match GLOB; -v prints both logs of every
 * case that does not pass, -vv of every case.
 *
 * It runs in the peer namespace (PEER), where the TAP device rn0 is
 * (198.18.0.1/24 on Linux's side); tests/net/test_diff.sh makes the
 * namespaces, the veth pairs and the routes (sockdiff.h has the plan).
 *
 * The list of documented divergences is the section "Where refnet differs
 * from Linux" of docs/sockets.md, read at run time: each item names the
 * cases it covers (globs allowed) in backquotes, then the reason.  A listed
 * case that agrees with Linux fails too, so that the list stays true.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sockdiff.h"

/* What main has of what the cases need.  Flip an entry when the feature
 * lands in main; its cases then count. */
const struct feature_info features[F_COUNT_] = {
    [F_NONE] = {"nothing", true},
    [F_NONBLOCK] = {"non-blocking handles (RN_SOCK_NONBLOCK, an fcntl-like call)", true},
    [F_ACCEPT4] = {"accept with flags (accept4's SOCK_NONBLOCK)", true},
    [F_PEEK] = {"MSG_PEEK on stream sockets", true},
    [F_WAITALL] = {"MSG_WAITALL", true},
    [F_CLOSE_NOW] = {"a close that returns at once", true},
    [F_LINGER_TIME] = {"SO_LINGER with a time bound", true},
    [F_IOCTL] = {"FIONREAD and SIOCOUTQ (an ioctl-like call)", true},
    [F_SOERROR] = {"SO_ERROR as an errno value", true},
    [F_ACCEPTCONN] = {"SO_ACCEPTCONN", true},
    [F_RCVLOWAT] = {"SO_RCVLOWAT", true},
    [F_RDHUP] = {"POLLRDHUP", true},
    [F_REUSEADDR] = {"SO_REUSEADDR", true},
    [F_REUSEPORT] = {"SO_REUSEPORT", true},
    [F_MAXSEG] = {"TCP_MAXSEG", true},
    [F_CORK] = {"TCP_CORK and MSG_MORE", true},
    [F_KEEPALIVE] = {"TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT", true},
    [F_USER_TIMEOUT] = {"TCP_USER_TIMEOUT", true},
    [F_BUFSIZE] = {"SO_RCVBUF and SO_SNDBUF enforced", true},
    [F_TOS_TTL] = {"IP_TOS and IP_TTL", true},
    [F_BROADCAST] = {"SO_BROADCAST and its permission check", true},
    [F_BIND_PORT0] = {"a TCP bind to port 0 that picks the port at once", true},
    [F_SYNCNT] = {"TCP_SYNCNT", true},
    [F_CONGESTION] = {"TCP_CONGESTION by name", true},
};

int ns_peer = -1, ns_subject = -1, ns_remote = -1;
static int rtnl = -1;
static pthread_mutex_t rtnl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t fd_lock;
static bool verbose, very_verbose;

/* ---- Sockets of a run -------------------------------------------------------------- */

void fd_hold(struct run *r)
{
    (void)r;
    pthread_mutex_lock(&fd_lock);
}

void fd_release(struct run *r)
{
    (void)r;
    pthread_mutex_unlock(&fd_lock);
}

int ns_socket(struct run *r, int ns, int domain, int type, int proto)
{
    int fd, e;

    fd_hold(r);
    if (ns != r->r_ns_home && setns(ns, CLONE_NEWNET) != 0) {
        e = errno;
        fd_release(r);
        errno = e;
        return -1;
    }
    fd = socket(domain, type, proto);
    e = errno;
    if (ns != r->r_ns_home && setns(r->r_ns_home, CLONE_NEWNET) != 0) {
        fprintf(stderr, "sockdiff: cannot return to the run's namespace: %s\n", strerror(errno));
        abort();
    }
    fd_release(r);
    errno = e;
    return fd;
}

void run_track(struct run *r, int fd, bool peer)
{
    struct runfd *rf;
    unsigned i;

    pthread_mutex_lock(&r->r_lock);
    for (i = 0; i < r->r_nfds; i++) {
        rf = &r->r_fds[i];
        if (rf->rf_fd == fd && rf->rf_peer == peer && rf->rf_open)
            rf->rf_open = false;  /* its number was reused: a new socket */
    }
    if (r->r_nfds < RUN_MAX_FDS) {
        rf = &r->r_fds[r->r_nfds++];
        rf->rf_fd = fd;
        rf->rf_peer = peer;
        rf->rf_open = true;
        snprintf(rf->rf_label, sizeof(rf->rf_label), "%c%u", peer ? 'p' : 's',
                 peer ? ++r->r_npeer : ++r->r_nsub);
    }
    pthread_mutex_unlock(&r->r_lock);
}

void run_untrack(struct run *r, int fd, bool peer)
{
    unsigned i;

    pthread_mutex_lock(&r->r_lock);
    for (i = 0; i < r->r_nfds; i++) {
        if (r->r_fds[i].rf_fd == fd && r->r_fds[i].rf_peer == peer)
            r->r_fds[i].rf_open = false;
    }
    pthread_mutex_unlock(&r->r_lock);
}

const char *run_label(struct run *r, int fd, bool peer, char *buf, size_t len)
{
    unsigned i;

    snprintf(buf, len, "#%d", fd);
    pthread_mutex_lock(&r->r_lock);
    /* The newest socket with this number (a closed one keeps its label). */
    for (i = r->r_nfds; i-- > 0;) {
        if (r->r_fds[i].rf_fd == fd && r->r_fds[i].rf_peer == peer) {
            snprintf(buf, len, "%s", r->r_fds[i].rf_label);
            break;
        }
    }
    pthread_mutex_unlock(&r->r_lock);
    return buf;
}

void harness_fail(struct run *r, const char *fmt, ...)
{
    va_list ap;

    if (r->r_fail[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(r->r_fail, sizeof(r->r_fail), fmt, ap);
    va_end(ap);
}

/* ---- Blackhole routes in the peer namespace ------------------------------------------ */

/* Adds or deletes the route "blackhole ADDR/32" in the peer namespace,
 * through the netlink socket made there at start.  Returns 0 or -errno. */
int blackhole(uint32_t addr, bool add)
{
    struct {
        struct nlmsghdr nh;
        struct rtmsg rt;
        char attrs[64];
    } req;
    struct rtattr *ra;
    char ans[512];
    uint32_t dst = htonl(addr);
    ssize_t n;
    int err = 0;

    memset(&req, 0, sizeof(req));
    req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    req.nh.nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
    req.rt.rtm_family = AF_INET;
    req.rt.rtm_dst_len = 32;
    req.rt.rtm_table = RT_TABLE_MAIN;
    req.rt.rtm_protocol = RTPROT_STATIC;
    req.rt.rtm_scope = RT_SCOPE_UNIVERSE;
    req.rt.rtm_type = RTN_BLACKHOLE;
    ra = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
    ra->rta_type = RTA_DST;
    ra->rta_len = RTA_LENGTH(sizeof(dst));
    memcpy(RTA_DATA(ra), &dst, sizeof(dst));
    req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(ra->rta_len);
    pthread_mutex_lock(&rtnl_lock);
    if (send(rtnl, &req, req.nh.nlmsg_len, 0) < 0) {
        err = -errno;
    } else {
        n = recv(rtnl, ans, sizeof(ans), 0);
        if (n < 0)
            err = -errno;
        else if ((size_t)n >= NLMSG_LENGTH(sizeof(struct nlmsgerr)) &&
                 ((struct nlmsghdr *)ans)->nlmsg_type == NLMSG_ERROR)
            err = ((struct nlmsgerr *)NLMSG_DATA(ans))->error;
    }
    pthread_mutex_unlock(&rtnl_lock);
    return err;
}

/* ---- Divergences: docs/sockets.md ------------------------------------------------------ */

#define MAX_DIVERGENCES 64

struct divergence {
    char dv_patterns[256];  /* the backquoted names, NUL-separated */
    char dv_reason[512];
};

static struct divergence divergences[MAX_DIVERGENCES];
static unsigned ndivergences;

/* Parses one item's text, its lines joined: "`a`, `b.*`: reason". */
static void add_divergence(char *text)
{
    struct divergence *dv;
    char *p = text, *o;
    size_t used = 0;

    if (ndivergences == MAX_DIVERGENCES)
        return;
    dv = &divergences[ndivergences++];
    memset(dv, 0, sizeof(*dv));
    while (*p == '`') {
        char *end = strchr(p + 1, '`');

        if (end == NULL)
            break;
        *end = '\0';
        if (used + strlen(p + 1) + 2 < sizeof(dv->dv_patterns)) {
            strcpy(dv->dv_patterns + used, p + 1);
            used += strlen(p + 1) + 1;
        }
        p = end + 1;
        while (*p == ',' || *p == ' ')
            p++;
    }
    o = p;
    while (*o == ':' || *o == ' ')
        o++;
    snprintf(dv->dv_reason, sizeof(dv->dv_reason), "%s", o);
}

/* Reads the section's items: "- `a`, `b.*`: reason", continued on
 * indented lines.  Returns 0, or -1 if the section is missing. */
static int read_divergences(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024], item[2048] = "";
    bool in = false, found = false;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (in && line[0] == ' ' && line[1] == ' ' && item[0] != '\0') {
            const char *t = line;
            size_t l = strlen(item);

            while (*t == ' ')
                t++;
            snprintf(item + l, sizeof(item) - l, " %s", t);
            continue;
        }
        if (item[0] != '\0') {
            add_divergence(item);
            item[0] = '\0';
        }
        if (strncmp(line, "## ", 3) == 0) {
            in = strcmp(line, "## Where refnet differs from Linux") == 0;
            found |= in;
        } else if (in && strncmp(line, "- `", 3) == 0) {
            snprintf(item, sizeof(item), "%s", line + 2);
        }
    }
    if (item[0] != '\0')
        add_divergence(item);
    fclose(f);
    return found ? 0 : -1;
}

static const char *divergence_of(const char *name)
{
    unsigned i;
    const char *p;

    for (i = 0; i < ndivergences; i++) {
        for (p = divergences[i].dv_patterns; *p; p += strlen(p) + 1) {
            if (fnmatch(p, name, 0) == 0)
                return divergences[i].dv_reason;
        }
    }
    return NULL;
}

/* ---- Running a case ----------------------------------------------------------------- */

#define DEFAULT_TIMEOUT_S 6

static const uint32_t side_addrs[SIDE_COUNT][A_COUNT_] = {
    [SIDE_LINUX] = {[A_ANY] = 0, [A_SELF] = 0xc6120102, [A_PEER] = 0xc6120101,
                    [A_SILENT] = 0xc6120202, [A_REMOTE] = 0xc6120302, [A_NOHOST] = 0xc6120109,
                    [A_NETBCAST] = 0xc61201ff, [A_BCAST] = 0xffffffff, [A_OTHER] = 0xc612004d},
    [SIDE_REFNET] = {[A_ANY] = 0, [A_SELF] = 0xc6120002, [A_PEER] = 0xc6120001,
                     [A_SILENT] = 0xc6120201, [A_REMOTE] = 0xc6120301, [A_NOHOST] = 0xc6120009,
                     [A_NETBCAST] = 0xc61200ff, [A_BCAST] = 0xffffffff, [A_OTHER] = 0xc612004d},
};

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;

struct runner {
    struct run *rn_run;
    bool rn_done;
};

/* Closes what the case left open, abortively, and ends refnet's process. */
static void run_cleanup(struct run *r)
{
    struct linger lg = {1, 0};
    unsigned i;

    r->r_quiet = true;
    for (i = 0; i < r->r_nhelpers; i++)
        pthread_join(r->r_helpers[i], NULL);
    unsilence(r);
    for (i = 0; i < r->r_nfds; i++) {
        struct runfd *rf = &r->r_fds[i];

        if (!rf->rf_open)
            continue;
        rf->rf_open = false;
        if (rf->rf_peer) {
            (void)setsockopt(rf->rf_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            (void)close(rf->rf_fd);
        } else {
            (void)r->r_api->sa_setsockopt(r, rf->rf_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            (void)r->r_api->sa_close(r, rf->rf_fd);
        }
    }
    if (r->r_side == SIDE_REFNET && r->r_proc != NULL)
        refnet_run_end(r);
}

static void *run_main(void *arg)
{
    struct runner *rn = arg;
    struct run *r = rn->rn_run;

    if (r->r_side == SIDE_LINUX) {
        r->r_ns_home = ns_subject;
        if (setns(ns_subject, CLONE_NEWNET) != 0)
            harness_fail(r, "cannot enter the subject namespace: %s", strerror(errno));
    } else {
        int e;

        r->r_ns_home = ns_peer;
        e = refnet_run_begin(r);
        if (e != 0)
            harness_fail(r, "cannot make refnet's process: %d", e);
    }
    if (r->r_fail[0] == '\0')
        r->r_case->dc_fn(r);
    run_cleanup(r);
    pthread_mutex_lock(&done_lock);
    rn->rn_done = true;
    pthread_cond_broadcast(&done_cond);
    pthread_mutex_unlock(&done_lock);
    return NULL;
}

/* Wakes whatever the run is blocked in: its sockets are shut or closed. */
static void run_abort(struct run *r)
{
    unsigned i;

    atomic_store(&r->r_aborted, true);
    unsilence(r);
    pthread_mutex_lock(&r->r_lock);
    for (i = 0; i < r->r_nfds; i++) {
        struct runfd *rf = &r->r_fds[i];

        if (!rf->rf_open)
            continue;
        if (rf->rf_peer)
            (void)shutdown(rf->rf_fd, SHUT_RDWR);
        else
            r->r_api->sa_abort(r, rf->rf_fd);
    }
    pthread_mutex_unlock(&r->r_lock);
}

/* Waits until both runs are done or until deadline (CLOCK_REALTIME). */
static bool wait_runs(struct runner *rn, const struct timespec *deadline)
{
    bool all;

    pthread_mutex_lock(&done_lock);
    for (;;) {
        all = rn[0].rn_done && rn[1].rn_done;
        if (all || pthread_cond_timedwait(&done_cond, &done_lock, deadline) != 0)
            break;
    }
    all = rn[0].rn_done && rn[1].rn_done;
    pthread_mutex_unlock(&done_lock);
    return all;
}

/* Compares two logs; returns the index of the first difference, or -1. */
static int first_difference(const struct run *a, const struct run *b)
{
    unsigned i, n = a->r_nlog > b->r_nlog ? a->r_nlog : b->r_nlog;

    for (i = 0; i < n; i++) {
        const struct entry *x, *y;
        int64_t tol;

        if (i >= a->r_nlog || i >= b->r_nlog)
            return (int)i;
        x = &a->r_log[i];
        y = &b->r_log[i];
        if (strcmp(x->e_text, y->e_text) != 0)
            return (int)i;
        if (x->e_tol >= 0 || y->e_tol >= 0) {
            tol = x->e_tol > y->e_tol ? x->e_tol : y->e_tol;
            if (llabs(x->e_ms - y->e_ms) > tol)
                return (int)i;
        }
    }
    return -1;
}

static const char *entry_text(const struct run *r, int i, char *buf, size_t len)
{
    const struct entry *e;

    if (i < 0 || (unsigned)i >= r->r_nlog) {
        snprintf(buf, len, "(nothing more)");
        return buf;
    }
    e = &r->r_log[i];
    if (e->e_tol >= 0)
        snprintf(buf, len, "%s %lld ms", e->e_text, (long long)e->e_ms);
    else
        snprintf(buf, len, "%s", e->e_text);
    return buf;
}

static void print_logs(const struct run *runs)
{
    unsigned s, i;
    char buf[300];

    for (s = 0; s < SIDE_COUNT; s++) {
        printf("    -- %s:\n", runs[s].r_api->sa_name);
        for (i = 0; i < runs[s].r_nlog; i++)
            printf("    %3u %s\n", i + 1, entry_text(&runs[s], (int)i, buf, sizeof(buf)));
        if (runs[s].r_fail[0])
            printf("    harness: %s\n", runs[s].r_fail);
    }
}

/* Names the features of needs main lacks into buf; false if none. */
static bool missing(unsigned needs, char *buf, size_t len)
{
    size_t o = 0;
    unsigned f;

    buf[0] = '\0';
    for (f = 1; f < F_COUNT_; f++) {
        if ((needs & N(f)) && !have((enum feature)f))
            o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "; " : "", features[f].fi_name);
    }
    return o > 0;
}

enum outcome { O_PASS, O_FAIL, O_DIVERGE, O_PENDING, O_COUNT_ };

static struct run runs[SIDE_COUNT];

static enum outcome run_case(const struct diffcase *dc, uint16_t port_base)
{
    struct runner rn[SIDE_COUNT];
    pthread_t th[SIDE_COUNT];
    struct timespec deadline;
    const char *why;
    char diff[700], a[300], b[300];
    enum outcome o;
    unsigned s;
    int d;

    for (s = 0; s < SIDE_COUNT; s++) {
        struct run *r = &runs[s];

        memset(r, 0, sizeof(*r));
        pthread_mutex_init(&r->r_lock, NULL);
        r->r_side = (enum side)s;
        r->r_api = s == SIDE_LINUX ? &sockapi_linux : &sockapi_refnet;
        r->r_case = dc;
        memcpy(r->r_addr, side_addrs[s], sizeof(r->r_addr));
        r->r_port_base = port_base;
        rn[s].rn_run = r;
        rn[s].rn_done = false;
    }
    for (s = 0; s < SIDE_COUNT; s++) {
        if (pthread_create(&th[s], NULL, run_main, &rn[s]) != 0) {
            fprintf(stderr, "sockdiff: cannot start a thread\n");
            exit(2);
        }
    }
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += dc->dc_timeout_s ? dc->dc_timeout_s : DEFAULT_TIMEOUT_S;
    if (!wait_runs(rn, &deadline)) {
        for (s = 0; s < SIDE_COUNT; s++) {
            if (!rn[s].rn_done) {
                harness_fail(&runs[s], "did not finish within %u s (blocked after step %u)",
                             dc->dc_timeout_s ? dc->dc_timeout_s : DEFAULT_TIMEOUT_S,
                             runs[s].r_nlog);
                run_abort(&runs[s]);
            }
        }
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 10;
        if (!wait_runs(rn, &deadline)) {
            printf("FAIL      %s: a run stayed blocked after its sockets were closed\n",
                   dc->dc_name);
            print_logs(runs);
            fflush(stdout);
            _exit(1);
        }
    }
    for (s = 0; s < SIDE_COUNT; s++)
        pthread_join(th[s], NULL);

    d = first_difference(&runs[SIDE_LINUX], &runs[SIDE_REFNET]);
    diff[0] = '\0';
    if (d >= 0)
        snprintf(diff, sizeof(diff), "step %d: linux `%s`, refnet `%s`", d + 1,
                 entry_text(&runs[SIDE_LINUX], d, a, sizeof(a)),
                 entry_text(&runs[SIDE_REFNET], d, b, sizeof(b)));
    why = divergence_of(dc->dc_name);
    if (runs[SIDE_LINUX].r_fail[0] || runs[SIDE_LINUX].r_overflow) {
        o = O_FAIL;
        printf("FAIL      %s: the Linux run failed: %s\n", dc->dc_name,
               runs[SIDE_LINUX].r_fail[0] ? runs[SIDE_LINUX].r_fail : "log overflow");
    } else if (missing(dc->dc_needs, a, sizeof(a))) {
        o = O_PENDING;
        printf("PENDING   %s: needs %s (%s%s%s)\n", dc->dc_name, a,
               d < 0 && !runs[SIDE_REFNET].r_fail[0] ? "refnet agrees already" : "now ",
               d >= 0 ? diff : "", d < 0 && runs[SIDE_REFNET].r_fail[0] ? runs[SIDE_REFNET].r_fail : "");
    } else if (runs[SIDE_REFNET].r_fail[0]) {
        o = O_FAIL;
        printf("FAIL      %s: %s%s%s\n", dc->dc_name, runs[SIDE_REFNET].r_fail,
               d >= 0 ? "; " : "", d >= 0 ? diff : "");
    } else if (d < 0 && why != NULL) {
        o = O_FAIL;
        printf("FAIL      %s: agrees with Linux, but docs/sockets.md lists it as a divergence\n",
               dc->dc_name);
    } else if (d < 0) {
        o = O_PASS;
        printf("PASS      %s%s%s%s\n", dc->dc_name, dc->dc_ref ? " (" : "",
               dc->dc_ref ? dc->dc_ref : "", dc->dc_ref ? ")" : "");
    } else if (why != NULL) {
        o = O_DIVERGE;
        printf("DIVERGES  %s: %s\n", dc->dc_name, why);
    } else {
        o = O_FAIL;
        printf("FAIL      %s: %s\n", dc->dc_name, diff);
    }
    if (very_verbose || (verbose && o != O_PASS))
        print_logs(runs);
    fflush(stdout);
    return o;
}

/* ---- main ---------------------------------------------------------------------------- */

static int open_ns(const char *name)
{
    char path[256];
    int fd;

    snprintf(path, sizeof(path), "/run/netns/%s", name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "sockdiff: cannot open namespace %s: %s\n", path, strerror(errno));
        exit(2);
    }
    return fd;
}

static int usage(void)
{
    fprintf(stderr, "usage: sockdiff --subject NS --remote NS --tap TAP --docs SOCKETS.md "
                    "[-k GLOB] [-v | -vv] [--list]\n");
    return 2;
}

static const struct diffcase *const tables[] = {cases_args, cases_tcp, cases_udp, cases_opts};

int main(int argc, char **argv)
{
    const char *subject = NULL, *remote = NULL, *tap = NULL, *docs = NULL, *glob = NULL;
    unsigned counts[O_COUNT_] = {0}, t, i, index = 0, total = 0;
    pthread_mutexattr_t ma;
    bool list = false;
    char why[300];
    int a, status;

    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--subject") == 0 && a + 1 < argc)
            subject = argv[++a];
        else if (strcmp(argv[a], "--remote") == 0 && a + 1 < argc)
            remote = argv[++a];
        else if (strcmp(argv[a], "--tap") == 0 && a + 1 < argc)
            tap = argv[++a];
        else if (strcmp(argv[a], "--docs") == 0 && a + 1 < argc)
            docs = argv[++a];
        else if (strcmp(argv[a], "-k") == 0 && a + 1 < argc)
            glob = argv[++a];
        else if (strcmp(argv[a], "-v") == 0)
            verbose = true;
        else if (strcmp(argv[a], "-vv") == 0)
            verbose = very_verbose = true;
        else if (strcmp(argv[a], "--list") == 0)
            list = true;
        else
            return usage();
    }
    if (list) {
        for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
            for (i = 0; tables[t][i].dc_name != NULL; i++) {
                bool m = missing(tables[t][i].dc_needs, why, sizeof(why));

                printf("%s%s%s%s\n", tables[t][i].dc_name, m ? "  [pending: " : "", m ? why : "",
                       m ? "]" : "");
            }
        }
        return 0;
    }
    if (subject == NULL || remote == NULL || tap == NULL || docs == NULL)
        return usage();
    if (read_divergences(docs) != 0) {
        fprintf(stderr, "sockdiff: no section \"Where refnet differs from Linux\" in %s\n", docs);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&fd_lock, &ma);
    ns_peer = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ns_subject = open_ns(subject);
    ns_remote = open_ns(remote);
    rtnl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (ns_peer < 0 || rtnl < 0) {
        fprintf(stderr, "sockdiff: cannot open the peer namespace or netlink: %s\n", strerror(errno));
        return 2;
    }
    if (refnet_start(tap, why, sizeof(why)) != 0) {
        fprintf(stderr, "sockdiff: %s\n", why);
        return 2;
    }
    for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        for (i = 0; tables[t][i].dc_name != NULL; i++, index++) {
            if (glob != NULL && fnmatch(glob, tables[t][i].dc_name, 0) != 0)
                continue;
            counts[run_case(&tables[t][i], (uint16_t)(20000 + 20 * index))]++;
            total++;
        }
    }
    status = counts[O_FAIL] != 0;
    if (refnet_stop() != 0) {
        printf("FAIL      refnet's stack did not end leak-free\n");
        status = 1;
    }
    printf("sockdiff: %u cases: %u pass, %u fail, %u diverge, %u pending\n", total,
           counts[O_PASS], counts[O_FAIL], counts[O_DIVERGE], counts[O_PENDING]);
    return status;
}
