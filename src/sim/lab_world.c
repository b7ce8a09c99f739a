/*
 * The lab's world (lab_priv.h): two simulated stacks, httpd under a
 * service controller on one, HTTP clients on the other, a netstat loop,
 * the watchdog, and the teardown that proves nothing leaked.
 *
 * Everything runs on the sim's thread in virtual time.  One step of the
 * world, rn__lab_step(), is one millisecond: the sim runs every stack's due
 * work, then the netstat loop runs one batch of its walk, as the daemon
 * runs one batch per wake of its loop.
 *
 * A client, in call order (all completions of the socket layer):
 *   think timer -> rn_sock_open, CONNECT
 *   -> connected: SEND the request -> sent: RECV
 *   -> data: RECV again ... -> end of data (0) or an error: CLOSE
 *   -> closed (the transport object was released): think timer again,
 *      or idle once the clients were told to stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/render.h"
#include "sim/lab_priv.h"
#include "refnet/runtime.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/object.h"
#include "refnet/report.h"
#include "refnet/snapshot.h"
#include "refnet/timer.h"

/* ---- Output and randomness ------------------------------------------------- */

void rn__lab_say(struct lab *l, const char *fmt, ...)
{
    va_list ap;

    fprintf(l->l_out, "\n== [%7.3fs] ", rn__lab_secs(l, rn_sim_now(l->l_sim)));
    va_start(ap, fmt);
    vfprintf(l->l_out, fmt, ap);
    va_end(ap);
    fputc('\n', l->l_out);
    fflush(l->l_out);
}

void rn__lab_print(struct lab *l, const char *fmt, ...)
{
    va_list ap;

    fputs("  ", l->l_out);
    va_start(ap, fmt);
    vfprintf(l->l_out, fmt, ap);
    va_end(ap);
    fputc('\n', l->l_out);
    fflush(l->l_out);
}

double rn__lab_secs(const struct lab *l, rn_time_t t)
{
    (void)l;
    return (double)(t - RN_SIM_EPOCH) / 1e9;
}

/* splitmix64: the lab's own decisions (think times), from the seed. */
static uint64_t lab_rand(struct lab *l)
{
    uint64_t z = (l->l_rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- httpd's document root --------------------------------------------------- */

static int make_docroot(struct lab *l)
{
    const char *tmp = getenv("TMPDIR");
    char path[300];
    char page[2048];
    int fd, n;

    snprintf(l->l_dir, sizeof(l->l_dir), "%s/refnet-lab-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(l->l_dir) == NULL) {
        fprintf(stderr, "refnet lab: cannot create a directory under %s: %s\n",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        l->l_dir[0] = '\0';
        return -1;
    }
    snprintf(path, sizeof(path), "%s/index.html", l->l_dir);
    n = snprintf(page, sizeof(page),
                 "<!doctype html>\n<title>refnet lab</title>\n<p>Served by refnet httpd "
                 "in the simulator.</p>\n");
    while (n < (int)sizeof(page) - 40)
        n += snprintf(page + n, sizeof(page) - (size_t)n, "<p>filler line %d</p>\n", n);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0 || write(fd, page, (size_t)n) != n) {
        fprintf(stderr, "refnet lab: cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static void remove_docroot(struct lab *l)
{
    char path[300];

    if (l->l_dir[0] == '\0')
        return;
    snprintf(path, sizeof(path), "%s/index.html", l->l_dir);
    unlink(path);
    rmdir(l->l_dir);
    l->l_dir[0] = '\0';
}

/* ---- Clients ------------------------------------------------------------------- */

static void client_done(struct rn_proc *p, const struct rn_sock_completion *c);
static void client_think(struct lab_client *lc);

static void client_submit(struct lab_client *lc, enum rn_sock_op op, void *buf, size_t len)
{
    struct lab *l = lc->lc_lab;
    struct rn_sockaddr_in to = {.sin_addr = LAB_WWW_ADDR, .sin_port = l->l_port};
    struct rn_sock_req rq = {
        .sq_op = op,
        .sq_handle = lc->lc_h,
        .sq_buf = buf,
        .sq_len = len,
        .sq_to = op == RN_SOP_CONNECT ? &to : NULL,
        /* A server that never answers (a pended accept) is given up on. */
        .sq_timeout = op == RN_SOP_CLOSE ? 0 : RN_SEC(3),
        .sq_user = lc,
    };

    if (rn_sock_submit(l->l_cproc, &rq, client_done) < 0) {
        /* Out of memory: the client gives up on this handle. */
        l->l_failed++;
        if (op != RN_SOP_CLOSE)
            client_submit(lc, RN_SOP_CLOSE, NULL, 0);
    }
}

static void client_think(struct lab_client *lc)
{
    struct lab *l = lc->lc_lab;
    rn_time_t think = l->l_think_min;

    if (l->l_clients_stop || (l->l_client_rounds > 0 && lc->lc_rounds >= l->l_client_rounds)) {
        lc->lc_idle = true;
        return;
    }
    if (l->l_think_max > l->l_think_min)
        think += (rn_time_t)(lab_rand(l) % (uint64_t)(l->l_think_max - l->l_think_min));
    (void)rn_timer_arm(rn_stack_timers(l->l_cst), &lc->lc_timer, rn_stack_now(l->l_cst) + think);
}

/* Closes the client's handle; a client that hangs up moves on at once,
 * the others when the close completes. */
static void client_close(struct lab_client *lc)
{
    client_submit(lc, RN_SOP_CLOSE, NULL, 0);
    if (lc->lc_lab->l_client_hangs_up) {
        lc->lc_h = 0;
        client_think(lc);
    }
}

static void client_start(struct rn_timer *t, rn_time_t now)
{
    struct lab_client *lc = (struct lab_client *)((char *)t - offsetof(struct lab_client, lc_timer));
    struct lab *l = lc->lc_lab;
    int h;

    (void)now;
    if (l->l_clients_stop) {
        lc->lc_idle = true;
        return;
    }
    h = rn_sock_open(l->l_cproc, RN_SOCK_STREAM, 0);
    if (h < 0) {
        l->l_failed++;
        client_think(lc);
        return;
    }
    lc->lc_h = h;
    lc->lc_rounds++;
    l->l_started++;
    client_submit(lc, RN_SOP_CONNECT, NULL, 0);
}

static void client_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct lab_client *lc = c->sc_user;
    struct lab *l = lc->lc_lab;
    int len;

    (void)p;
    switch (c->sc_op) {
    case RN_SOP_CONNECT:
        if (c->sc_result < 0)
            break;
        len = snprintf(lc->lc_buf, sizeof(lc->lc_buf), "%s", l->l_request);
        client_submit(lc, RN_SOP_SEND, lc->lc_buf, (size_t)len);
        return;
    case RN_SOP_SEND:
        if (c->sc_result < 0)
            break;
        if (l->l_client_hangs_up) {
            /* Said its piece: hangs up, and goes on without waiting for
             * the close to complete, as close(2) does. */
            l->l_ok++;
            client_close(lc);
            return;
        }
        client_submit(lc, RN_SOP_RECV, lc->lc_buf, sizeof(lc->lc_buf));
        return;
    case RN_SOP_RECV:
        if (c->sc_result > 0) {
            l->l_bytes += (uint64_t)c->sc_result;
            client_submit(lc, RN_SOP_RECV, lc->lc_buf, sizeof(lc->lc_buf));
            return;
        }
        if (c->sc_result == 0) {
            l->l_ok++;
            client_submit(lc, RN_SOP_CLOSE, NULL, 0);
            return;
        }
        break;
    case RN_SOP_CLOSE:
        if (!l->l_client_hangs_up) {
            lc->lc_h = 0;
            client_think(lc);
        }
        return;
    default:
        break;
    }
    /* A failed connect, send or receive (refused, timed out, reset). */
    l->l_failed++;
    client_close(lc);
}

int rn__lab_clients_start(struct lab *l, unsigned n)
{
    unsigned i;

    if (n > LAB_MAX_CLIENTS)
        n = LAB_MAX_CLIENTS;
    l->l_nclients = n;
    for (i = 0; i < n; i++) {
        struct lab_client *lc = &l->l_clients[i];

        lc->lc_lab = l;
        rn_timer_init(&lc->lc_timer, client_start);
        /* Staggered, so that they do not all start in one instant. */
        (void)rn_timer_arm(rn_stack_timers(l->l_cst), &lc->lc_timer,
                           rn_stack_now(l->l_cst) + RN_MSEC(5) + (rn_time_t)i * l->l_stagger);
    }
    return 0;
}

static bool clients_busy(void *ctx)
{
    struct lab *l = ctx;
    unsigned i;

    for (i = 0; i < l->l_nclients; i++)
        if (!l->l_clients[i].lc_idle)
            return true;
    return false;
}

/* Tells the clients to stop and runs until every one has closed its
 * handle, for at most limit.  Returns true if they all did. */
bool rn__lab_clients_stop(struct lab *l, rn_time_t limit)
{
    rn_time_t end = rn_sim_now(l->l_sim) + limit;
    unsigned i;

    l->l_clients_stop = true;
    for (i = 0; i < l->l_nclients; i++) {
        struct lab_client *lc = &l->l_clients[i];

        if (rn_timer_armed(&lc->lc_timer)) {
            rn_timer_cancel(rn_stack_timers(l->l_cst), &lc->lc_timer);
            lc->lc_idle = lc->lc_h == 0;
        }
    }
    while (clients_busy(l) && rn_sim_now(l->l_sim) < end)
        rn__lab_step(l);
    return !clients_busy(l);
}

/* ---- The netstat loop ------------------------------------------------------------ */

static void walk_yield(struct rn_netstat_walk *w, void *ctx)
{
    (void)w;
    (void)ctx;  /* the next rn__lab_step() runs the next batch */
}

static void walk_done(struct rn_netstat_walk *w, void *ctx)
{
    struct lab *l = ctx;
    struct rn_netstat_stats st;

    rn_netstat_walk_stats(w, &st);
    /* The whole listing becomes the last one; its buffer serves the next. */
    {
        struct rn_strbuf t = l->l_walk_last;

        l->l_walk_last = l->l_walk_out;
        l->l_walk_out = t;
    }
    l->l_walks++;
    l->l_walk_rows += st.nst_rows;
    l->l_walk_restarts += st.nst_restarts;
    l->l_walk_leaked += st.nst_leaked;
    l->l_walk_done = true;
}

/* The listing as `refnet netstat -a --refs` shows it. */
static void walk_row(const struct rn_netstat_walk_row *row, void *ctx)
{
    struct lab *l = ctx;
    bool first = false;

    rn__render_netstat_row(&l->l_walk_out, row, true, false, &first);
}

static void walk_tick(struct lab *l)
{
    rn_time_t now = rn_sim_now(l->l_sim);

    if (l->l_walk == NULL) {
        struct rn_netstat_params np = {
            .np_all = true,
            .np_refs = true,
            .np_batch = LAB_WALK_BATCH,  /* in objects: the same run every time */
            .np_row = walk_row,
            .np_yield = walk_yield,
            .np_done = walk_done,
            .np_ctx = l,
            .np_what = "netstat -a --refs",
            .np_inject_enum_leak = l->l_inject,
        };

        if (!l->l_walking || now < l->l_next_walk)
            return;
        rn_strbuf_reset(&l->l_walk_out);
        rn__render_netstat_begin(&l->l_walk_out, true, false);
        if (rn_netstat_walk_start(l->l_www, &np, &l->l_walk) < 0) {
            l->l_walk = NULL;
            return;
        }
        l->l_walk_done = false;
    }
    rn_netstat_walk_resume(l->l_walk);
    if (l->l_walk_done) {
        rn_netstat_walk_free(l->l_walk);
        l->l_walk = NULL;
        l->l_next_walk = now + LAB_WALK_EVERY;
    }
}

void rn__lab_netstat_loop(struct lab *l, bool on)
{
    l->l_walking = on;
    if (!on && l->l_walk != NULL) {
        rn_netstat_walk_cancel(l->l_walk);
        l->l_walk = NULL;
    }
}

/* ---- Running ------------------------------------------------------------------------ */

void rn__lab_step(struct lab *l)
{
    if (rn_sim_run_for(l->l_sim, RN_MSEC(1)) < 0 && !l->l_livelock) {
        l->l_livelock = true;
        fprintf(stderr, "refnet lab: %s\n", rn_sim_error(l->l_sim));
    }
    walk_tick(l);
}

void rn__lab_run_for(struct lab *l, rn_time_t d)
{
    rn_time_t end = rn_sim_now(l->l_sim) + d;

    while (rn_sim_now(l->l_sim) < end)
        rn__lab_step(l);
}

/* ---- Building and tearing down ---------------------------------------------------------- */

int rn__lab_up(struct lab *l, const struct rn_lab_params *p, bool with_httpd, const char *filter)
{
    struct rn_sim_link_params lp = {.sl_name = "cable"};
    char err[256];
    int e;

    l->l_p = p;
    l->l_out = p->lp_out ? p->lp_out : stdout;
    l->l_threshold = p->lp_threshold > 0 ? p->lp_threshold : RN_DIAG_DEFAULT_THRESHOLD;
    l->l_seed = p->lp_seed ? p->lp_seed : 1;
    l->l_rng = l->l_seed;
    l->l_port = 80;
    l->l_think_min = RN_MSEC(40);
    l->l_think_max = RN_MSEC(200);
    l->l_stagger = RN_MSEC(7);
    l->l_request = "GET / HTTP/1.1\r\nHost: www\r\nConnection: close\r\n\r\n";
    rn_strbuf_init(&l->l_walk_out);
    rn_strbuf_init(&l->l_walk_last);
    e = rn_sim_create(l->l_seed, &l->l_sim);
    if (e < 0) {
        fprintf(stderr, "refnet lab: cannot create the simulator: %s\n", rn_strerror(e));
        return -1;
    }
    if (rn_sim_add_stack(l->l_sim, "www", &l->l_www) < 0 ||
        rn_sim_add_stack(l->l_sim, "clients", &l->l_cst) < 0 ||
        rn_sim_connect(l->l_sim, l->l_cst, LAB_CLIENTS_CIDR, l->l_www, LAB_WWW_CIDR, &lp,
                       NULL) < 0) {
        fprintf(stderr, "refnet lab: %s\n", rn_sim_error(l->l_sim));
        goto fail;
    }
    if (rn_filter_init(l->l_www) < 0 || rn_svcctl_create(l->l_www, rn_svc_builtin, &l->l_sc) < 0 ||
        rn_proc_create(l->l_cst, "clients", &l->l_cproc) < 0) {
        fprintf(stderr, "refnet lab: out of memory\n");
        goto fail;
    }
    /* Listeners record where each reference was taken from the start,
     * as `refnet trace on "tcp listener"` arms it on a daemon. */
    rn_ob_type_set_traced(rn_ob_type_find("tcp listener"), true);
    if (filter != NULL) {
        uint64_t fid;

        if (rn_filter_add_lab(l->l_www, filter, &fid, err, sizeof(err)) < 0) {
            fprintf(stderr, "refnet lab: filter %s: %s\n", filter, err);
            goto fail;
        }
    }
    if (with_httpd) {
        char spec[320];

        if (make_docroot(l) < 0)
            goto fail;
        snprintf(spec, sizeof(spec), "httpd=80:%s", l->l_dir);
        if (rn_svcctl_add(l->l_sc, spec, &l->l_httpd, err, sizeof(err)) < 0 ||
            rn_svc_start(l->l_httpd, err, sizeof(err)) < 0) {
            fprintf(stderr, "refnet lab: httpd: %s\n", err);
            goto fail;
        }
    }
    return 0;
fail:
    rn__lab_down(l);
    return -1;
}

static void heard(struct rn_svc_stop *stp, int result, void *ctx)
{
    struct lab_stop *ls = (struct lab_stop *)((char *)stp - offsetof(struct lab_stop, ls_stop));

    (void)ctx;
    ls->ls_heard = true;
    ls->ls_result = result;
}

int rn__lab_svc_stop(struct rn_svc *svc, rn_time_t timeout, struct lab_stop *ls)
{
    int e;

    memset(ls, 0, sizeof(*ls));
    e = rn_svc_stop(svc, timeout, &ls->ls_stop, heard, NULL);
    if (e == 1) {
        ls->ls_heard = true;  /* was stopped already */
        return 0;
    }
    return e;
}

static bool stop_pending(void *ctx)
{
    return !((struct lab_stop *)ctx)->ls_heard;
}

bool rn__lab_wait_stop(struct lab *l, struct lab_stop *ls, rn_time_t limit)
{
    rn_time_t end = rn_sim_now(l->l_sim) + limit;

    while (stop_pending(ls) && rn_sim_now(l->l_sim) < end)
        rn__lab_step(l);
    return ls->ls_heard;
}

static void quiet(void *ctx, enum rn_report_kind kind, const char *text)
{
    (void)ctx;
    (void)kind;
    (void)text;
}

int rn__lab_watch(struct lab *l, struct lab_stop *ls, rn_time_t began, struct rn_strbuf *report)
{
    struct rn_watchdog *wd = rn_watchdog_new(l->l_threshold);
    rn_time_t next = rn_sim_now(l->l_sim);
    int n = 0;

    if (wd == NULL)
        return RN_ENOMEM;
    /* The daemon's watchdog looks once a second; the lab's every 100 ms,
     * so that the report's lateness shows the threshold, not the period. */
    while (stop_pending(ls) && n == 0) {
        rn__lab_step(l);
        if (rn_sim_now(l->l_sim) < next)
            continue;
        next += RN_MSEC(100);
        rn_report_set_sink(quiet, NULL);  /* printed by the scenario, on out */
        n = rn_watchdog_check(wd, report);
        rn_report_set_sink(NULL, NULL);
        if (rn_sim_now(l->l_sim) > began + l->l_threshold + RN_SEC(60))
            break;  /* nothing to report: the stop is slow, not stuck */
    }
    rn_watchdog_free(wd);
    return n;
}

int rn__lab_write_dump(struct lab *l, const char *path)
{
    struct rn_snapshot *s = rn_ob_snapshot();
    char err[300];

    if (s == NULL) {
        fprintf(stderr, "refnet lab: out of memory for a snapshot\n");
        return -1;
    }
    s->s_threshold = l->l_threshold;
    if (rn_dump_write(s, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "refnet lab: %s\n", err);
        rn_snapshot_free(s);
        return -1;
    }
    rn__lab_print(l, "dump of %u objects and %u waits written to %s; `refnet analyze %s` "
                 "prints the same chain offline", s->s_nobjects, s->s_nwaits, path, path);
    rn_snapshot_free(s);
    return 0;
}

/* A callout's suspect hold: the operations it pended and never
 * completed, which hold their flows under the same tag. */
static void print_pended(struct lab *l, const struct rn_snapshot *s, const char *tag)
{
    uint32_t i, j;

    if (strncmp(tag, "callout:", 8) != 0)
        return;
    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *o = &s->s_objects[i];

        if (o->so_type == NULL || strcmp(o->so_type, "pended operation") != 0)
            continue;
        for (j = 0; j < o->so_ntags; j++) {
            if (o->so_tags[j].st_tag != NULL && strcmp(o->so_tags[j].st_tag, tag) == 0)
                rn__lab_print(l, "  still pending after %.1fs: #%" PRIu64 " %s",
                          (double)(s->s_now - o->so_created) / 1e9, o->so_id, o->so_desc);
        }
    }
}

int rn__lab_diagnose(struct lab *l, uint64_t id, const char *what)
{
    struct rn_snapshot *s = rn_ob_snapshot();
    struct rn_diag_suspect ds[8];
    const struct rn_snap_object *o;
    int n, i;

    if (s == NULL)
        return RN_ENOMEM;
    s->s_threshold = l->l_threshold;
    o = rn_snapshot_find(s, id);
    n = rn_diag_suspects(s, id, ds, sizeof(ds) / sizeof(ds[0]));
    if (o == NULL || n <= 0) {
        rn__lab_print(l, "%s #%" PRIu64 ": no suspect holder found", what, id);
        rn_snapshot_free(s);
        return n < 0 ? n : 0;
    }
    rn__lab_print(l, "what blocks the stop is the %s: #%" PRIu64 " %s, refs %u", what, id,
              o->so_desc, o->so_refs);
    for (i = 0; i < n && i < (int)(sizeof(ds) / sizeof(ds[0])); i++) {
        rn__lab_print(l, "suspect holder '%s': %u reference%s, the oldest %.1fs old: %s", ds[i].ds_tag,
                  ds[i].ds_count, ds[i].ds_count == 1 ? "" : "s", (double)ds[i].ds_age / 1e9,
                  ds[i].ds_reason);
        if (ds[i].ds_site[0] != '\0')
            rn__lab_print(l, "  taken at %s (its traced acquisition stack)", ds[i].ds_site);
        print_pended(l, s, ds[i].ds_tag);
    }
    rn_snapshot_free(s);
    return n;
}

int rn__lab_down(struct lab *l)
{
    int status = 0;

    rn__lab_netstat_loop(l, false);
    if (l->l_sim == NULL)
        goto out;
    if (l->l_app_down != NULL)
        l->l_app_down(l);
    if (l->l_nclients > 0 && !rn__lab_clients_stop(l, RN_SEC(10)))
        fprintf(stderr, "refnet lab: a client did not finish\n");
    if (l->l_httpd != NULL && rn_svc_state(l->l_httpd) != RN_SVC_STOPPED) {
        struct lab_stop ls;

        if (rn__lab_svc_stop(l->l_httpd, RN_SEC(30), &ls) == 0 &&
            !rn__lab_wait_stop(l, &ls, RN_SEC(31)))
            fprintf(stderr, "refnet lab: httpd did not stop\n");
    }
    if (l->l_cproc != NULL) {
        rn_proc_exit(l->l_cproc);
        l->l_cproc = NULL;
    }
    /* Let the last segments and the processes' rundown finish. */
    rn__lab_run_for(l, RN_SEC(2));
    rn_svcctl_destroy(l->l_sc);
    l->l_sc = NULL;
    if (rn_sim_destroy(l->l_sim) < 0) {
        fprintf(stderr, "refnet lab: objects or buffers leaked (reported above)\n");
        status = -1;
    }
    l->l_sim = NULL;
out:
    rn_strbuf_free(&l->l_walk_out);
    rn_strbuf_free(&l->l_walk_last);
    remove_docroot(l);
    return status;
}
