/*
 * bench-rset: what a wait on a readiness set costs next to its reference,
 * a scan of every registered handle's readiness (what poll() over all of
 * them does: rn_sock_ready() on each, as rn_poll()'s evaluation does), for
 * a server with 10,000 idle connections and 100 busy ones.
 *
 * Two stacks over a simulated cable in virtual time: stack b connects
 * IDLE + BUSY TCP connections to a server process on stack a.  The server
 * has two sets, level-triggered for input:
 *   big    all of them: 100 busy sockets and 10,000 idle ones
 *   small  the same 100 busy sockets and 1,000 idle ones
 * Of the busy sockets, the first `ready` have one byte unread, so they
 * stay readable, for `ready` in {0, 1, 10, 100} (bytes are sent or read
 * between settings; the idle sockets never change).  A measurement is the
 * loop-thread time of one wait (rn_rset_wait() taking every ready event,
 * which stay ready) or of one scan over the same handles: the fastest of
 * 8 blocks, each averaged over enough repetitions to fill about half a
 * millisecond.
 *
 * Each round goes through the four settings (up, then down in the next
 * round) and measures, for each set, a wait and a scan back to back, in
 * an order that alternates; a ratio is taken within a round only.
 * Printed: one JSON line with, per `ready`, the min/median/max over the
 * rounds of
 *   scan_over_wait      a scan of the big set's handles / a wait on it
 *   wait_big_over_small a wait on the big set / on the small one (the
 *                       sockets registered do not matter: about 1)
 *   scan_big_over_small the same for the scan (they do: 10 or more)
 *   wait_over_wait1     a wait with `ready` ready / with 1 ready, in the
 *                       same round (it grows with the ready sockets)
 * and the machine's 1-minute load average before and after.  Never a
 * bare time: this machine is shared.
 *
 * Usage: bench-rset [rounds] [idle]   (default 21 rounds, 10000 idle)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refnet/clock.h"
#include "refnet/error.h"
#include "refnet/link.h"
#include "refnet/readiness.h"
#include "refnet/socket.h"
#include "refnet/stack.h"
#include "refnet/transport.h"

#define ADDR_A 0xc6120002u
#define ADDR_B 0xc6120003u
#define PORT 80
#define BUSY 100
#define SMALL_IDLE 1000
#define BATCH 256
#define NSETTINGS 4
#define MAX_ROUNDS 101
#define BLOCKS 8

static const unsigned ready_counts[NSETTINGS] = {0, 1, 10, 100};

static rn_time_t vnow;

static rn_time_t vclock(void *ctx)
{
    (void)ctx;
    return vnow;
}

static struct rn_stack *sa, *sb;
static struct rn_proc *server, *client;
static unsigned nconn;          /* IDLE + BUSY */
static int *srv_h;              /* server handles, in accept order */
static unsigned naccepted;
static unsigned nconnected;
static int *cli_h;              /* client handles */
static int *cli_by_port;        /* client handle by its local port */

static void die(const char *what, long rc)
{
    fprintf(stderr, "bench-rset: %s failed: %ld (%s)\n", what, rc,
            rc < 0 ? rn_strerror((int)rc) : "");
    exit(1);
}

/* Runs both stacks until cond() holds, advancing virtual time. */
static void run_until(bool (*cond)(void))
{
    long guard;

    for (guard = 0; guard < 200000000 && !cond(); guard++) {
        rn_time_t na = rn_stack_next_deadline(sa), nb = rn_stack_next_deadline(sb), next;

        next = na == 0 ? nb : nb == 0 ? na : na < nb ? na : nb;
        rn_stack_poll(sa, vnow);
        rn_stack_poll(sb, vnow);
        if (!rn_stack_has_work(sa) && !rn_stack_has_work(sb) && next > vnow)
            vnow = next;
        else
            vnow += 1000;
    }
    if (!cond()) {
        fprintf(stderr, "bench-rset: the simulation stalled\n");
        exit(1);
    }
}

static void run_for(rn_time_t d)
{
    rn_time_t end = vnow + d;

    while (vnow < end) {
        rn_time_t na = rn_stack_next_deadline(sa), nb = rn_stack_next_deadline(sb), next;

        next = na == 0 ? nb : nb == 0 ? na : na < nb ? na : nb;
        rn_stack_poll(sa, vnow);
        rn_stack_poll(sb, vnow);
        if (!rn_stack_has_work(sa) && !rn_stack_has_work(sb) && next > vnow && next < end)
            vnow = next;
        else
            vnow += 1000;
    }
}

/* ---- Setting up the connections ---------------------------------------------- */

static unsigned target;

static bool batch_done(void)
{
    return naccepted >= target && nconnected >= target;
}

static void on_connect(struct rn_proc *p, const struct rn_sock_completion *c)
{
    (void)p;
    if (c->sc_result != 0)
        die("connect", (long)c->sc_result);
    nconnected++;
}

static void on_accept(struct rn_proc *p, const struct rn_sock_completion *c)
{
    (void)p;
    if (c->sc_result <= 0)
        die("accept", (long)c->sc_result);
    srv_h[naccepted++] = (int)c->sc_result;
}

static void on_send(struct rn_proc *p, const struct rn_sock_completion *c)
{
    (void)p;
    if (c->sc_result != 1)
        die("send", (long)c->sc_result);
}

static void connect_all(void)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_A, .sin_port = PORT}, l = {.sin_addr = 0, .sin_port = PORT};
    struct rn_sock_req cq = {.sq_op = RN_SOP_CONNECT, .sq_to = &to};
    struct rn_sock_req aq = {.sq_op = RN_SOP_ACCEPT};
    unsigned i, end;
    int hl, rc;

    hl = rn_sock_open(server, RN_SOCK_STREAM, 0);
    if (hl < 0)
        die("listener", hl);
    if ((rc = rn_sock_bind(server, hl, &l)) != 0 || (rc = rn_sock_listen(server, hl, 1024)) != 0)
        die("listen", rc);
    aq.sq_handle = hl;
    for (i = 0; i < nconn; i = end) {
        /* The first connection alone, so that ARP is resolved before a
         * batch of SYNs. */
        end = i == 0 ? 1 : i + BATCH < nconn ? i + BATCH : nconn;
        target = end;
        for (; i < end; i++) {
            int h = rn_sock_open(client, RN_SOCK_STREAM, 0);

            if (h < 0)
                die("client socket", h);
            cli_h[i] = h;
            cq.sq_handle = h;
            if ((rc = rn_sock_submit(client, &cq, on_connect)) != 0 ||
                (rc = rn_sock_submit(server, &aq, on_accept)) != 0)
                die("submit", rc);
        }
        run_until(batch_done);
    }
    for (i = 0; i < nconn; i++) {
        struct rn_sockaddr_in local;

        if ((rc = rn_sock_getname(client, cli_h[i], &local, NULL)) != 0)
            die("getname", rc);
        cli_by_port[local.sin_port] = cli_h[i];
    }
}

/* The client handle connected to server handle h. */
static int peer_of(int h)
{
    struct rn_sockaddr_in remote;
    int rc = rn_sock_getname(server, h, NULL, &remote);

    if (rc != 0)
        die("getname", rc);
    return cli_by_port[remote.sin_port];
}

/* ---- The sets and the busy sockets ------------------------------------------------ */

/* Busy sockets are srv_h[0..BUSY), idle ones srv_h[BUSY..nconn). */
struct set_of_handles {
    int ss_set;           /* the readiness set */
    int *ss_handles;      /* what it registered, for the scan */
    unsigned ss_n;
};

static struct set_of_handles sets[2];  /* big, small */
static struct rn_rset_event events[BUSY + 1];
static bool readable[BUSY];            /* busy socket i has a byte unread */
static unsigned ready_now;             /* how many do */

static void make_set(struct set_of_handles *ss, unsigned idle)
{
    unsigned i;

    ss->ss_set = rn_rset_create(server, 0);
    if (ss->ss_set < 0)
        die("rn_rset_create", ss->ss_set);
    ss->ss_handles = malloc((idle + BUSY) * sizeof(int));
    if (ss->ss_handles == NULL)
        die("malloc", RN_ENOMEM);
    for (i = 0; i < idle + BUSY; i++) {
        int h = srv_h[i];  /* the busy ones, then idle ones */
        struct rn_rset_event ev = {.re_events = RN_POLLIN, .re_data.rd_handle = h};
        int rc = rn_rset_ctl(server, ss->ss_set, RN_RSET_ADD, h, &ev);

        if (rc != 0)
            die("rn_rset_ctl", rc);
        ss->ss_handles[ss->ss_n++] = h;
    }
}

static void on_recv(struct rn_proc *p, const struct rn_sock_completion *c)
{
    (void)p;
    if (c->sc_result != 1)
        die("recv", (long)c->sc_result);
}

/* Makes exactly the first k busy sockets readable: a byte sent to those
 * that have none, the byte read from the others. */
static void set_ready(unsigned k)
{
    static const uint8_t one = 1;
    static uint8_t sink;
    unsigned i;
    int rc;

    for (i = 0; i < BUSY; i++) {
        if (i < k && !readable[i]) {
            struct rn_sock_req sq = {.sq_op = RN_SOP_SEND, .sq_handle = peer_of(srv_h[i]),
                                     .sq_buf = (void *)&one, .sq_len = 1};

            if ((rc = rn_sock_submit(client, &sq, on_send)) != 0)
                die("submit", rc);
            readable[i] = true;
        } else if (i >= k && readable[i]) {
            struct rn_sock_req rq = {.sq_op = RN_SOP_RECV, .sq_handle = srv_h[i],
                                     .sq_buf = &sink, .sq_len = 1};

            if ((rc = rn_sock_submit(server, &rq, on_recv)) != 0)
                die("submit", rc);
            readable[i] = false;
        }
    }
    ready_now = k;
    run_for(RN_MSEC(5));
}

/* One wait taking every ready event; returns how many. */
static unsigned one_wait(const struct set_of_handles *ss)
{
    int n = rn_rset_wait(server, ss->ss_set, events, BUSY + 1);

    if (n < 0)
        die("rn_rset_wait", n);
    return (unsigned)n;
}

/* One scan of every registered handle, as poll() over them does;
 * returns how many are ready. */
static unsigned one_scan(const struct set_of_handles *ss)
{
    unsigned i, n = 0;

    for (i = 0; i < ss->ss_n; i++) {
        int h = ss->ss_handles[i];
        unsigned m = rn_sock_ready(server, h) & (RN_POLLIN | RN_POLLERR | RN_POLLHUP);

        if (m != 0 && n <= BUSY) {
            events[n].re_events = m;
            events[n].re_data.rd_handle = h;
            n++;
        }
    }
    return n;
}

/* Repetitions of each block of a measurement, fixed after a calibration
 * so that a block takes about half a millisecond: by ready count, set,
 * wait or scan. */
static unsigned reps[NSETTINGS][2][2];

static double measure(unsigned which, bool scan, unsigned r)
{
    const struct set_of_handles *ss = &sets[which];
    double best = 0;
    unsigned b, i, got;

    /* In blocks, keeping the fastest: a block the scheduler cut into
     * (this machine is shared) does not count. */
    for (b = 0; b < BLOCKS; b++) {
        rn_time_t t0 = rn_clock_os_monotonic(), t1;
        double ns;

        for (i = 0, got = 0; i < r; i++)
            got += scan ? one_scan(ss) : one_wait(ss);
        t1 = rn_clock_os_monotonic();
        if (got != r * ready_now) {
            fprintf(stderr, "bench-rset: %s of %u handles found %u ready, not %u\n",
                    scan ? "a scan" : "a wait", ss->ss_n, got / r, ready_now);
            exit(1);
        }
        ns = (double)(t1 - t0) / (double)r;
        if (b == 0 || ns < best)
            best = ns;
    }
    return best;
}

static void calibrate(void)
{
    unsigned k, which, scan;

    for (k = 0; k < NSETTINGS; k++) {
        set_ready(ready_counts[k]);
        for (which = 0; which < 2; which++) {
            for (scan = 0; scan < 2; scan++) {
                double ns = measure(which, scan, 16);
                double r = 0.5e6 / (ns > 1 ? ns : 1);

                reps[k][which][scan] = r < 4 ? 4 : r > 1e6 ? 1000000 : (unsigned)r;
            }
        }
    }
}

/* ---- Statistics ----------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void print_stat(const char *name, double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    printf("\"%s\":{\"min\":%.3g,\"median\":%.3g,\"max\":%.3g}", name, v[0], v[n / 2], v[n - 1]);
}

static void loadavg(char *buf, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "r");

    buf[0] = '\0';
    if (f != NULL) {
        if (fgets(buf, (int)len, f) == NULL)
            buf[0] = '\0';
        fclose(f);
    }
    buf[strcspn(buf, " ")] = '\0';  /* the 1-minute figure */
}

static bool nothing_left(void)
{
    return rn_proc_handles(server) == 0 && rn_proc_handles(client) == 0;
}

int main(int argc, char **argv)
{
    static double wait_ns[MAX_ROUNDS][NSETTINGS][2], scan_ns[MAX_ROUNDS][NSETTINGS][2];
    unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 21;
    unsigned idle = argc > 2 ? (unsigned)atoi(argv[2]) : 10000;
    struct rn_stack_params sp = {.sp_seed = 5};
    struct rn_sim_cable_params cp = {0};
    struct rn_iface_params ip = {0};
    struct rn_iface *ifp;
    struct rn_link *la, *lb;
    char load0[32], load1[32];
    double v[MAX_ROUNDS];
    unsigned r, k, i, which;
    int rc;

    if (rounds < 1 || rounds > MAX_ROUNDS || idle < SMALL_IDLE || idle > 60000) {
        fprintf(stderr, "usage: bench-rset [rounds 1..%d] [idle %d..60000]\n", MAX_ROUNDS,
                SMALL_IDLE);
        return 2;
    }
    loadavg(load0, sizeof(load0));
    nconn = idle + BUSY;
    srv_h = calloc(nconn, sizeof(int));
    cli_h = calloc(nconn, sizeof(int));
    cli_by_port = calloc(65536, sizeof(int));
    if (srv_h == NULL || cli_h == NULL || cli_by_port == NULL)
        die("calloc", RN_ENOMEM);

    rn_clock_set_source(vclock, NULL);
    vnow = RN_SEC(1);
    sp.sp_name = "server";
    if ((rc = rn_stack_create(&sp, &sa)) != 0)
        die("rn_stack_create", rc);
    sp.sp_name = "clients";
    if ((rc = rn_stack_create(&sp, &sb)) != 0 || (rc = rn_sock_layer_init(sa)) != 0 ||
        (rc = rn_sock_layer_init(sb)) != 0)
        die("set-up", rc);
    /* The clients need more ephemeral ports than the default range has
     * room for beside everything else. */
    if ((rc = rn_transport_set_ephemeral(sb, 2000, 65535)) != 0)
        die("rn_transport_set_ephemeral", rc);
    cp.sc_latency = 100 * RN_NSEC_PER_USEC;
    cp.sc_limit = 8192;
    cp.sc_pool_a = rn_stack_pool(sa);
    cp.sc_pool_b = rn_stack_pool(sb);
    if ((rc = rn_sim_cable_new(&cp, &la, &lb)) != 0)
        die("rn_sim_cable_new", rc);
    ip.ifp_name = "sim0";
    ip.ifp_link = la;
    ip.ifp_addr = ADDR_A;
    ip.ifp_plen = 15;
    if ((rc = rn_stack_add_iface(sa, &ip, &ifp)) != 0)
        die("rn_stack_add_iface", rc);
    ip.ifp_link = lb;
    ip.ifp_addr = ADDR_B;
    if ((rc = rn_stack_add_iface(sb, &ip, &ifp)) != 0)
        die("rn_stack_add_iface", rc);
    if ((rc = rn_proc_create(sa, "server", &server)) != 0 ||
        (rc = rn_proc_create(sb, "clients", &client)) != 0)
        die("rn_proc_create", rc);

    connect_all();
    make_set(&sets[0], idle);
    make_set(&sets[1], SMALL_IDLE);
    calibrate();
    for (r = 0; r < rounds; r++) {
        for (i = 0; i < NSETTINGS; i++) {
            /* Up the ready counts in one round, down in the next. */
            k = r % 2 == 0 ? i : NSETTINGS - 1 - i;
            set_ready(ready_counts[k]);
            for (which = 0; which < 2; which++) {
                /* The pair: a wait and a scan of the same set, back to
                 * back, first one then the other. */
                if ((r + i + which) % 2 == 0) {
                    wait_ns[r][k][which] = measure(which, false, reps[k][which][0]);
                    scan_ns[r][k][which] = measure(which, true, reps[k][which][1]);
                } else {
                    scan_ns[r][k][which] = measure(which, true, reps[k][which][1]);
                    wait_ns[r][k][which] = measure(which, false, reps[k][which][0]);
                }
            }
        }
    }
    loadavg(load1, sizeof(load1));

    printf("{\"bench\":\"rset\",\"idle\":%u,\"busy\":%u,\"small_idle\":%u,\"rounds\":%u,"
           "\"load\":\"%s -> %s\",\"by_ready\":[",
           idle, BUSY, SMALL_IDLE, rounds, load0, load1);
    for (k = 0; k < NSETTINGS; k++) {
        printf("%s{\"ready\":%u,", k ? "," : "", ready_counts[k]);
        for (r = 0; r < rounds; r++)
            v[r] = scan_ns[r][k][0] / wait_ns[r][k][0];
        print_stat("scan_over_wait", v, rounds);
        printf(",");
        for (r = 0; r < rounds; r++)
            v[r] = wait_ns[r][k][0] / wait_ns[r][k][1];
        print_stat("wait_big_over_small", v, rounds);
        printf(",");
        for (r = 0; r < rounds; r++)
            v[r] = scan_ns[r][k][0] / scan_ns[r][k][1];
        print_stat("scan_big_over_small", v, rounds);
        printf(",");
        for (r = 0; r < rounds; r++)
            v[r] = wait_ns[r][k][0] / wait_ns[r][1][0];
        print_stat("wait_over_wait1", v, rounds);
        printf("}");
    }
    printf("]}\n");

    rn_proc_exit(server);
    rn_proc_exit(client);
    run_until(nothing_left);
    rn_stack_destroy(sa);
    rn_stack_destroy(sb);
    free(sets[0].ss_handles);
    free(sets[1].ss_handles);
    free(srv_h);
    free(cli_h);
    free(cli_by_port);
    return 0;
}
