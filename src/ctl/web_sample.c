/*
 * The live view's sampler (web.h): what only the loop may read, rendered
 * on the loop and handed to the view's server thread as JSON text.
 *
 * A loop timer fires once a second:
 *   ws_tick() [L]:  the history's next entry (frames, bytes and drops of
 *                   the interfaces, TCP connections), always, a few
 *                   microseconds;
 *                   while someone looks at the overview (a request in the
 *                   last WEB_VIEWER_IDLE): `ifconfig`, `stat` and `svc
 *                   list` rendered by render.c as their --json, published;
 *                   while someone looks at the connections: a netstat walk
 *                   started unless one runs
 *   ws_resume() [L, loop work]: one batch of the walk (netstat_walk.h),
 *                   rows rendered as `netstat -a -i --refs --json` renders
 *                   them (TCP_INFO's figures for each connection),
 *                   published when it is done.
 * Actions the view's server asks for (svc stop, clear-leak) also run here,
 * as loop work (rn__web_sampler_run()).
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "ctl/render.h"
#include "ctl/web.h"
#include "refnet/clock.h"
#include "refnet/error.h"
#include "refnet/loop.h"
#include "refnet/netstat_walk.h"
#include "refnet/service.h"
#include "refnet/stack.h"
#include "refnet/strbuf.h"
#include "refnet/timer.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Seconds of history kept: the overview's "last minutes". */
#define WEB_HISTORY 300
/* A viewer counts as gone this long after its last request. */
#define WEB_VIEWER_IDLE RN_SEC(5)
/* The sampling period. */
#define WEB_PERIOD RN_SEC(1)

struct rn__web_sampler {
    struct rn_loop *ws_loop;           /* [I] */
    struct rn_stack *ws_stack;         /* [I] */
    struct rn__ctl_svc *ws_svc;        /* [I] the services' commands */
    bool ws_inject;                    /* [I] the walks carry the lab's fault */
    struct rn_timer ws_timer;          /* [L] once a second */
    atomic_uint_fast64_t ws_touched[RN_WEB_WANT_COUNT_]; /* [A] OS monotonic
                                          time of the last request for each,
                                          0: none */
    struct rn_web_hist ws_hist[WEB_HISTORY]; /* [L] ring of entries */
    unsigned ws_nhist;                 /* [L] entries in it */
    unsigned ws_hist_next;             /* [L] where the next goes */
    struct rn__ctl_lanes *ws_lanes;    /* [I] every loop's stack, or NULL: one */
    /* The walk in flight: one stack after the other, each on its own
     * loop; the job passes from loop to loop with ws_walk_work (a post is
     * a hand-over) and comes home to ws_loop at the end. */
    bool ws_walking;                   /* [L] a walk is out (ws_loop's) */
    unsigned ws_walk_lane;             /* the loop walked now */
    struct rn_netstat_walk *ws_walk;   /* that loop's walk, NULL between */
    struct rn_netstat_params ws_walk_np; /* [I] once set: every lane's */
    struct rn_loop_work ws_walk_work;  /* its next batch, or its next lane */
    struct rn_strbuf ws_walk_out;      /* its rows so far */
    bool ws_walk_first;                /* no row yet */
    bool ws_walk_ok;                   /* every lane's walk ended well */
    atomic_bool ws_walk_cancel;        /* [A] its next batch ends it */
    struct rn_loop_work ws_kick_work;  /* a tick now, for a new viewer */
    atomic_bool ws_kick_busy;          /* [A] queued */
    /* An action from the server. */
    struct rn_loop_work ws_act_work;   /* runs ws_act_fn */
    atomic_bool ws_act_busy;           /* [A] queued */
    void (*ws_act_fn)(void *ctx);      /* set before posting */
    void *ws_act_ctx;
    /* What the server reads, under ws_lock. */
    pthread_mutex_t ws_lock;
    struct rn_strbuf ws_ifaces, ws_stats, ws_services, ws_history, ws_conns;
    struct rn__web_sample ws_pub;      /* points at the five above */
    atomic_uint_fast64_t ws_loop_ns;   /* [A] the loop thread's CPU time
                                          taken, all told */
    /* Answers the server holds back until a sample is published. */
    atomic_uint_fast64_t ws_gen[RN_WEB_WANT_COUNT_]; /* [A] publications */
    atomic_bool ws_awaited;            /* [A] the server waits for one */
    int ws_notify_fd;                  /* [I] eventfd the server reads, -1: none */
};

/* The calling thread's CPU time: what the sampler costs the loop, without
 * the time other programs had the CPU meanwhile. */
static rn_time_t ws_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (rn_time_t)ts.tv_sec * RN_NSEC_PER_SEC + (rn_time_t)ts.tv_nsec;
}

/* Adds the loop's CPU time since t0 (ws_cpu()) to the sampler's account. */
static void ws_account(struct rn__web_sampler *ws, rn_time_t t0)
{
    atomic_fetch_add(&ws->ws_loop_ns, ws_cpu() - t0);
}

static bool ws_watched(struct rn__web_sampler *ws, enum rn_web_want what, rn_time_t now)
{
    uint64_t t = atomic_load(&ws->ws_touched[what]);

    return t != 0 && now < t + WEB_VIEWER_IDLE;
}

/* Swaps a freshly rendered text into the published one. */
static void ws_publish(struct rn_strbuf *pub, struct rn_strbuf *fresh)
{
    struct rn_strbuf t = *pub;

    *pub = *fresh;
    *fresh = t;
    rn_strbuf_free(fresh);
}

/* [L] The data for what was published (its lock dropped): a server that
 * holds an answer back for it is told. */
static void ws_published(struct rn__web_sampler *ws, enum rn_web_want what)
{
    uint64_t one = 1;

    atomic_fetch_add(&ws->ws_gen[what], 1);
    if (atomic_exchange(&ws->ws_awaited, false) && ws->ws_notify_fd >= 0)
        (void)!write(ws->ws_notify_fd, &one, sizeof(one));
}

/* ---- History ------------------------------------------------------------ */

static void hist_iface(const struct rn_iface_row *r, void *ctx)
{
    struct rn_web_hist *h = ctx;

    h->wh_rx_frames += r->ir_rx_frames;
    h->wh_tx_frames += r->ir_tx_frames;
    h->wh_rx_bytes += r->ir_rx_bytes;
    h->wh_tx_bytes += r->ir_tx_bytes;
}

static void hist_drop(const struct rn_drop_row *r, void *ctx)
{
    struct rn_web_hist *h = ctx;

    h->wh_drops += r->dr_count;
}

static void hist_counter(const struct rn_stack_counter *c, void *ctx)
{
    struct rn_web_hist *h = ctx;

    if (strcmp(c->sc_name, "tcp.active_opens") == 0 || strcmp(c->sc_name, "tcp.passive_opens") == 0)
        h->wh_tcp_opens += c->sc_value;
    else if (strcmp(c->sc_name, "tcp.retransmits") == 0)
        h->wh_tcp_retrans += c->sc_value;
    else if (strcmp(c->sc_name, "tcp.connections") == 0)
        h->wh_tcp_conns = c->sc_value;
}

static void ws_history_add(struct rn__web_sampler *ws, rn_time_t now)
{
    struct rn_web_hist *h = &ws->ws_hist[ws->ws_hist_next];

    memset(h, 0, sizeof(*h));
    h->wh_when = now;
    rn_stack_ifaces(ws->ws_stack, hist_iface, h);
    rn_stack_drop_rows(ws->ws_stack, hist_drop, h);
    rn_stack_counters(ws->ws_stack, hist_counter, h);
    ws->ws_hist_next = (ws->ws_hist_next + 1) % WEB_HISTORY;
    if (ws->ws_nhist < WEB_HISTORY)
        ws->ws_nhist++;
}

/* ---- The walk ------------------------------------------------------------ */

static rn_time_t ws_clock(void *ctx)
{
    (void)ctx;
    return rn_clock_os_monotonic();
}

static void ws_walk_next(struct rn__web_sampler *ws, bool ok);

static void ws_resume(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct rn__web_sampler *ws = container_of(w, struct rn__web_sampler, ws_walk_work);

    rn_time_t t0 = ws_cpu();

    (void)loop;
    if (atomic_load(&ws->ws_walk_cancel)) {
        rn_netstat_walk_cancel(ws->ws_walk);
        ws->ws_walk = NULL;
        ws_walk_next(ws, false);
        return;
    }
    rn_netstat_walk_resume(ws->ws_walk);
    ws_account(ws, t0);
}

/* The loop walked now: the one whose lane ws_walk_lane is. */
static struct rn_loop *ws_walk_loop(const struct rn__web_sampler *ws)
{
    return ws->ws_walk_lane == 0 ? ws->ws_loop : rn__ctl_lanes_loop(ws->ws_lanes, ws->ws_walk_lane);
}

static void ws_yield(struct rn_netstat_walk *w, void *ctx)
{
    struct rn__web_sampler *ws = ctx;

    (void)w;
    rn_loop_post(ws_walk_loop(ws), &ws->ws_walk_work, ws_resume);
}

static void ws_row(const struct rn_netstat_walk_row *row, void *ctx)
{
    struct rn__web_sampler *ws = ctx;

    rn__render_netstat_row_loop(&ws->ws_walk_out, row, true, true, &ws->ws_walk_first,
                                rn__ctl_lanes_count(ws->ws_lanes) > 1 ? (int)ws->ws_walk_lane
                                                                      : -1);
}

static void ws_done(struct rn_netstat_walk *w, void *ctx)
{
    struct rn__web_sampler *ws = ctx;

    rn_netstat_walk_free(w);
    ws->ws_walk = NULL;
    ws_walk_next(ws, true);
}

/* Home, on ws_loop: the rows of every lane are published. */
static void ws_walk_home(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct rn__web_sampler *ws = container_of(w, struct rn__web_sampler, ws_walk_work);
    bool ok = ws->ws_walk_ok && !atomic_load(&ws->ws_walk_cancel);

    (void)loop;
    ws->ws_walking = false;
    if (ok) {
        rn__render_netstat_end(&ws->ws_walk_out, true);
        pthread_mutex_lock(&ws->ws_lock);
        ok = !ws->ws_walk_out.sb_oom;
        if (ok) {
            ws_publish(&ws->ws_conns, &ws->ws_walk_out);
            ws->ws_pub.ws_conns_when = rn_loop_now(ws->ws_loop);
            ws->ws_pub.ws_walks++;
        }
        pthread_mutex_unlock(&ws->ws_lock);
    }
    rn_strbuf_free(&ws->ws_walk_out);
    if (ok)
        ws_published(ws, RN_WEB_WANT_CONNS);
}

/* On the next lane's loop: its stack's walk begins. */
static void ws_lane_start(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct rn__web_sampler *ws = container_of(w, struct rn__web_sampler, ws_walk_work);
    struct rn_stack *st = rn__ctl_lanes_stack(ws->ws_lanes, ws->ws_walk_lane);

    (void)loop;
    if (atomic_load(&ws->ws_walk_cancel) ||
        rn_netstat_walk_start(st, &ws->ws_walk_np, &ws->ws_walk) != 0) {
        ws->ws_walk = NULL;
        ws_walk_next(ws, false);
        return;
    }
    rn_netstat_walk_resume(ws->ws_walk);
}

/* The lane walked now is done (ok: well): on to the next, or home. */
static void ws_walk_next(struct rn__web_sampler *ws, bool ok)
{
    if (!ok)
        ws->ws_walk_ok = false;
    if (ok && ws->ws_walk_lane + 1 < rn__ctl_lanes_count(ws->ws_lanes)) {
        ws->ws_walk_lane++;
        rn_loop_post(ws_walk_loop(ws), &ws->ws_walk_work, ws_lane_start);
        return;
    }
    if (ws->ws_walk_lane == 0) {
        ws_walk_home(ws->ws_loop, &ws->ws_walk_work);
        return;
    }
    ws->ws_walk_lane = 0;
    rn_loop_post(ws->ws_loop, &ws->ws_walk_work, ws_walk_home);
}

static void ws_walk_start(struct rn__web_sampler *ws)
{
    struct rn_netstat_params np = {
        .np_all = true,
        .np_refs = true,
        .np_info = true,
        .np_clock = ws_clock,
        .np_row = ws_row,
        .np_yield = ws_yield,
        .np_done = ws_done,
        .np_ctx = NULL,
        .np_what = "live view",
        .np_inject_enum_leak = ws->ws_inject,
    };

    np.np_ctx = ws;
    ws->ws_walk_np = np;
    rn_strbuf_init(&ws->ws_walk_out);
    ws->ws_walk_first = true;
    ws->ws_walk_ok = true;
    ws->ws_walk_lane = 0;
    rn__render_netstat_begin(&ws->ws_walk_out, true, true);
    if (rn_netstat_walk_start(ws->ws_stack, &np, &ws->ws_walk) != 0) {
        ws->ws_walk = NULL;
        rn_strbuf_free(&ws->ws_walk_out);
        return;
    }
    ws->ws_walking = true;
    rn_loop_post(ws->ws_loop, &ws->ws_walk_work, ws_resume);
}

/* ---- The tick ------------------------------------------------------------- */

static void ws_tick(struct rn_timer *t, rn_time_t now)
{
    struct rn__web_sampler *ws = container_of(t, struct rn__web_sampler, ws_timer);
    struct rn_strbuf ifaces = RN_STRBUF_INIT, stats = RN_STRBUF_INIT, svcs = RN_STRBUF_INIT;
    struct rn_strbuf hist = RN_STRBUF_INIT;
    rn_time_t t0 = ws_cpu();
    bool ok;

    ws_history_add(ws, now);
    (void)rn_loop_timer_arm(ws->ws_loop, &ws->ws_timer, now + WEB_PERIOD);
    rn_time_t wall = rn_clock_os_monotonic();

    if (ws_watched(ws, RN_WEB_WANT_CONNS, wall) && !ws->ws_walking)
        ws_walk_start(ws);
    if (!ws_watched(ws, RN_WEB_WANT_OVERVIEW, wall)) {
        ws_account(ws, t0);
        return;
    }
    if (ws->ws_lanes != NULL) {
        (void)rn__ctl_lanes_rows_json(ws->ws_lanes, rn__render_ifaces, &ifaces);
        (void)rn__ctl_lanes_render_json(ws->ws_lanes, rn__render_stats, &stats);
    } else {
        rn__render_ifaces(ws->ws_stack, &ifaces, true);
        rn__render_stats(ws->ws_stack, &stats, true);
    }
    if (rn__ctl_svc_render(ws->ws_svc, NULL, &svcs, true) != 0)
        svcs.sb_oom = true;
    rn__render_web_history(ws->ws_hist, ws->ws_nhist, ws->ws_hist_next, WEB_HISTORY, now, &hist);
    pthread_mutex_lock(&ws->ws_lock);
    ok = !ifaces.sb_oom && !stats.sb_oom && !svcs.sb_oom && !hist.sb_oom;
    if (ok) {
        ws_publish(&ws->ws_ifaces, &ifaces);
        ws_publish(&ws->ws_stats, &stats);
        ws_publish(&ws->ws_services, &svcs);
        ws_publish(&ws->ws_history, &hist);
        ws->ws_pub.ws_when = now;
    }
    pthread_mutex_unlock(&ws->ws_lock);
    rn_strbuf_free(&ifaces);
    rn_strbuf_free(&stats);
    rn_strbuf_free(&svcs);
    rn_strbuf_free(&hist);
    if (ok)
        ws_published(ws, RN_WEB_WANT_OVERVIEW);
    ws_account(ws, t0);
}

/* ---- Interface -------------------------------------------------------------- */

struct rn__web_sampler *rn__web_sampler_new(struct rn_loop *loop, struct rn_stack *st,
                                            struct rn__ctl_lanes *lanes, struct rn__ctl_svc *cs,
                                            bool inject, int notify_fd)
{
    struct rn__web_sampler *ws = calloc(1, sizeof(*ws));

    if (ws == NULL)
        return NULL;
    ws->ws_loop = loop;
    ws->ws_stack = st;
    ws->ws_lanes = lanes;
    atomic_init(&ws->ws_walk_cancel, false);
    ws->ws_svc = cs;
    ws->ws_inject = inject;
    ws->ws_notify_fd = notify_fd;
    atomic_init(&ws->ws_awaited, false);
    for (int i = 0; i < RN_WEB_WANT_COUNT_; i++) {
        atomic_init(&ws->ws_touched[i], 0);
        atomic_init(&ws->ws_gen[i], 0);
    }
    atomic_init(&ws->ws_act_busy, false);
    atomic_init(&ws->ws_kick_busy, false);
    atomic_init(&ws->ws_loop_ns, 0);
    pthread_mutex_init(&ws->ws_lock, NULL);
    rn_strbuf_init(&ws->ws_ifaces);
    rn_strbuf_init(&ws->ws_stats);
    rn_strbuf_init(&ws->ws_services);
    rn_strbuf_init(&ws->ws_history);
    rn_strbuf_init(&ws->ws_conns);
    ws->ws_pub.ws_ifaces = &ws->ws_ifaces;
    ws->ws_pub.ws_stats = &ws->ws_stats;
    ws->ws_pub.ws_services = &ws->ws_services;
    ws->ws_pub.ws_history = &ws->ws_history;
    ws->ws_pub.ws_conns = &ws->ws_conns;
    rn_timer_init(&ws->ws_timer, ws_tick);
    if (rn_loop_timer_arm(loop, &ws->ws_timer, rn_loop_now(loop) + WEB_PERIOD) != 0) {
        rn__web_sampler_free(ws);
        return NULL;
    }
    return ws;
}

/* [L] A sample now, off the timer's beat. */
static void ws_kick(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct rn__web_sampler *ws = container_of(w, struct rn__web_sampler, ws_kick_work);

    /* Free before the tick: a viewer of another page arriving while it
     * runs (its request's answer waiting for it) gets a kick of its own. */
    atomic_store(&ws->ws_kick_busy, false);
    rn_loop_timer_cancel(loop, &ws->ws_timer);
    ws_tick(&ws->ws_timer, rn_loop_now(loop));
}

bool rn__web_sampler_touch(struct rn__web_sampler *ws, enum rn_web_want what)
{
    rn_time_t now = rn_clock_os_monotonic();
    bool was = ws_watched(ws, what, now);

    atomic_store(&ws->ws_touched[what], now);
    /* A viewer arriving after a pause (or the first) gets a sample at
     * once rather than at the next tick. */
    if (!was && !atomic_exchange(&ws->ws_kick_busy, true))
        rn_loop_post(ws->ws_loop, &ws->ws_kick_work, ws_kick);
    return !was;
}

uint64_t rn__web_sampler_gen(struct rn__web_sampler *ws, enum rn_web_want what)
{
    return atomic_load(&ws->ws_gen[what]);
}

void rn__web_sampler_await(struct rn__web_sampler *ws)
{
    atomic_store(&ws->ws_awaited, true);
}

void rn__web_sampler_read(struct rn__web_sampler *ws,
                          void (*fn)(const struct rn__web_sample *s, void *ctx), void *ctx)
{
    pthread_mutex_lock(&ws->ws_lock);
    ws->ws_pub.ws_loop_ns = atomic_load(&ws->ws_loop_ns);
    fn(&ws->ws_pub, ctx);
    pthread_mutex_unlock(&ws->ws_lock);
}

static void ws_act(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct rn__web_sampler *ws = container_of(w, struct rn__web_sampler, ws_act_work);

    rn_time_t t0 = ws_cpu();

    (void)loop;
    ws->ws_act_fn(ws->ws_act_ctx);
    ws_account(ws, t0);
    atomic_store(&ws->ws_act_busy, false);
}

int rn__web_sampler_run(struct rn__web_sampler *ws, void (*fn)(void *ctx), void *ctx)
{
    if (atomic_exchange(&ws->ws_act_busy, true))
        return RN_EBUSY;
    ws->ws_act_fn = fn;
    ws->ws_act_ctx = ctx;
    rn_loop_post(ws->ws_loop, &ws->ws_act_work, ws_act);
    return 0;
}

void rn__web_sampler_free(struct rn__web_sampler *ws)
{
    if (ws == NULL)
        return;
    rn_loop_timer_cancel(ws->ws_loop, &ws->ws_timer);
    /* A walk in flight always has its next batch queued (it is never
     * between batches otherwise): marked, that batch ends it and lets go
     * of what it holds.  A queued action runs too. */
    atomic_store(&ws->ws_walk_cancel, true);
    if (ws->ws_walking || atomic_load(&ws->ws_act_busy) || atomic_load(&ws->ws_kick_busy))
        rn_loop_run_posted(ws->ws_loop);
    /* A kick that ran just now started one, whose batch is queued; a walk
     * on another lane's loop (still running) comes home to this one. */
    for (unsigned i = 0; ws->ws_walking && i < 5000; i++) {
        rn_loop_run_posted(ws->ws_loop);
        if (ws->ws_walking)
            usleep(1000);
    }
    assert(!ws->ws_walking);
    rn_loop_timer_cancel(ws->ws_loop, &ws->ws_timer);
    rn_strbuf_free(&ws->ws_walk_out);
    pthread_mutex_destroy(&ws->ws_lock);
    rn_strbuf_free(&ws->ws_ifaces);
    rn_strbuf_free(&ws->ws_stats);
    rn_strbuf_free(&ws->ws_services);
    rn_strbuf_free(&ws->ws_history);
    rn_strbuf_free(&ws->ws_conns);
    free(ws);
}
