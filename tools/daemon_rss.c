/*
 * The daemon's lanes: a stack and loop thread per TAP queue beyond the
 * first (tools/daemon_rss.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/apps.h"
#include "refnet/error.h"
#include "refnet/link.h"
#include "refnet/loop.h"
#include "refnet/report.h"
#include "refnet/service.h"
#include "refnet/socket.h"
#include "refnet/tcp.h"
#include "tools/daemon_rss.h"

struct rn__lane {
    struct rn__lane_setup l_setup;       /* [I] */
    struct rn_stack *l_stack;            /* owned */
    struct rn_loop *l_loop;              /* owned */
    struct rn_link *l_link;              /* its chain, owned until the
                                            interface takes it */
    struct rn_iface *l_ifp;              /* held by the stack */
    struct rn_svcctl *l_svc;             /* owned: the built-in services */
    pthread_t l_thread;
    bool l_running;                      /* l_thread runs the loop */
    struct rn_loop_work l_wake;          /* the fan-out's wake */
    atomic_bool l_wake_posted;           /* [A] l_wake is queued */
    struct rn_loop_work l_stop;          /* rn__lane_stop_services() posts it */
    struct rn_loop_work l_shrink;        /* rn__lane_shrink() posts it */
    atomic_bool l_shrink_posted;         /* [A] l_shrink is queued */
    void (*l_stopped)(void *ctx);        /* its done callback */
    void *l_stopped_ctx;
    char l_name[16];                     /* the stack's name: "rn0.q1" */
};

static void lane_err(char *err, size_t errlen, const struct rn__lane *l, const char *what,
                     const char *why)
{
    snprintf(err, errlen, "queue %u: %s: %s", l->l_setup.ls_queue, what, why);
}

int rn__lane_create(const struct rn__lane_setup *s, struct rn__lane **out, char *err,
                    size_t errlen)
{
    const struct rn_daemon_params *p = s->ls_params;
    struct rn_stack_params sp;
    struct rn__lane *l;
    int e;

    *out = NULL;
    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        snprintf(err, errlen, "queue %u: out of memory", s->ls_queue);
        return RN_ENOMEM;
    }
    l->l_setup = *s;
    atomic_init(&l->l_wake_posted, false);
    atomic_init(&l->l_shrink_posted, false);
    snprintf(l->l_name, sizeof(l->l_name), "%.10s.q%u", p->dp_tap, s->ls_queue);
    memset(&sp, 0, sizeof(sp));
    sp.sp_name = l->l_name;
    sp.sp_seed = p->dp_seed ? p->dp_seed + s->ls_queue : 0;
    sp.sp_reass_timeout = p->dp_reass_timeout;
    e = rn_stack_create(&sp, &l->l_stack);
    if (e == 0 && p->dp_tcp_set)
        e = rn_tcp_init(l->l_stack, &p->dp_tcp);
    if (e == 0)
        e = rn_stack_set_rss(l->l_stack, s->ls_rss, s->ls_queue);
    if (e == 0)
        rn__pins_watch(s->ls_pins, l->l_stack, s->ls_queue);
    if (e == 0)
        e = rn_sock_layer_init(l->l_stack);
    if (e == 0 && p->dp_max_handles != 0)
        e = rn_sock_set_max_handles(l->l_stack, p->dp_max_handles);
    if (e == 0)
        e = rn_loop_create(l->l_stack, &l->l_loop);
    if (e == 0)
        e = rn_loop_set_busy_poll(l->l_loop, p->dp_busy_poll);
    if (e != 0) {
        lane_err(err, errlen, l, "cannot set up its stack", rn_strerror(e));
        rn__lane_destroy(l);
        return e;
    }
    *out = l;
    return 0;
}

/* Queue k's link: the TAP queue, the fault filter with --fault, the
 * shared capture with --capture, the fan-out filter on top.  Returns the top of the chain in *top. */
static int lane_link(struct rn__lane *l, struct rn_link **top, char *err, size_t errlen)
{
    const struct rn_daemon_params *p = l->l_setup.ls_params;
    struct rn_link_tap_params tp;
    struct rn_link *tap, *fan, *fault;
    char why[RN_LINK_ERRLEN] = "";
    int e;

    memset(&tp, 0, sizeof(tp));
    tp.tp_ifname = p->dp_tap;
    tp.tp_pool = rn_stack_pool(l->l_stack);
    tp.tp_vnet_hdr = !p->dp_no_offload;
    tp.tp_single = p->dp_tap_single;
    tp.tp_queues = l->l_setup.ls_rss->rs_queues;
    tp.tp_queue = l->l_setup.ls_queue;
    memcpy(tp.tp_hwaddr, l->l_setup.ls_mac, 6);
    e = rn_link_tap_open(&tp, &tap, why);
    if (e != 0) {
        lane_err(err, errlen, l, "cannot open its TAP queue", why[0] ? why : rn_strerror(e));
        return e;
    }
    *top = tap;
    if (p->dp_fault != NULL) {
        e = rn_link_fault_open(tap, p->dp_fault, &fault);
        if (e != 0) {
            rn_link_close(tap);
            lane_err(err, errlen, l, "cannot stack the fault filter", rn_strerror(e));
            return e;
        }
        *top = fault;
    }
    if (l->l_setup.ls_capture != NULL) {
        struct rn_link *cap;

        e = rn_link_capture_share(l->l_setup.ls_capture, *top, &cap);
        if (e != 0) {
            rn_link_close(*top);
            lane_err(err, errlen, l, "cannot share the capture file", rn_strerror(e));
            return e;
        }
        *top = cap;
    }
    /* On top, as on queue 0: the copies bypass this queue's faults and
     * capture. */
    e = rn_link_fanout_open(l->l_setup.ls_fan, l->l_setup.ls_queue, *top,
                            rn_stack_pool(l->l_stack), &fan, why);
    if (e != 0) {
        rn_link_close(*top);
        lane_err(err, errlen, l, "cannot open its fan-out filter", why);
        return e;
    }
    *top = fan;
    return 0;
}

static void *lane_main(void *arg)
{
    struct rn__lane *l = arg;

    (void)rn_loop_run(l->l_loop);
    return NULL;
}

int rn__lane_open(struct rn__lane *l, char *err, size_t errlen)
{
    return lane_link(l, &l->l_link, err, errlen);
}

int rn__lane_start(struct rn__lane *l, char *err, size_t errlen)
{
    const struct rn_daemon_params *p = l->l_setup.ls_params;
    struct rn_iface_params ip;
    struct rn_svc *svc;
    char why[600];
    size_t i;
    int e;

    memset(&ip, 0, sizeof(ip));
    ip.ifp_link = l->l_link;
    l->l_link = NULL;
    ip.ifp_name = p->dp_tap;
    memcpy(ip.ifp_mac, l->l_setup.ls_mac, 6);
    ip.ifp_addr = p->dp_addr;
    ip.ifp_plen = p->dp_plen;
    ip.ifp_ipv6 = p->dp_naddr6 > 0;
    ip.ifp_rss_shadow = true;
    e = rn_stack_add_iface(l->l_stack, &ip, &l->l_ifp);  /* owns the chain now */
    for (i = 0; e == 0 && i < p->dp_naddr6; i++)
        e = rn_iface_add_addr6(l->l_ifp, &p->dp_addr6[i], p->dp_plen6[i]);
    if (e == 0 && p->dp_gw != 0)
        e = rn_route_add(l->l_stack, 0, 0, p->dp_gw, NULL);
    if (e != 0) {
        lane_err(err, errlen, l, "cannot set up its interface", rn_strerror(e));
        return e;
    }
    e = rn__daemon_filters_on(l->l_stack, p, why, sizeof(why));
    if (e != 0) {
        lane_err(err, errlen, l, "filters", why);
        return e;
    }
    e = rn_svcctl_create(l->l_stack, rn_svc_builtin, &l->l_svc);
    if (e != 0) {
        lane_err(err, errlen, l, "cannot set up its services", rn_strerror(e));
        return e;
    }
    for (i = 0; i < p->dp_nservices; i++) {
        why[0] = '\0';
        e = rn_svcctl_add(l->l_svc, p->dp_services[i], &svc, why, sizeof(why));
        if (e == 0)
            e = rn_svc_start(svc, why, sizeof(why));
        if (e < 0) {
            snprintf(err, errlen, "queue %u: cannot start service %s: %s", l->l_setup.ls_queue,
                     p->dp_services[i], why[0] ? why : rn_strerror(e));
            return e;
        }
    }
    e = pthread_create(&l->l_thread, NULL, lane_main, l);
    if (e != 0) {
        lane_err(err, errlen, l, "cannot start its thread", strerror(e));
        return RN_ENOMEM;
    }
    l->l_running = true;
    return 0;
}

static void lane_wake_ran(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct rn__lane *l = (struct rn__lane *)((char *)w - offsetof(struct rn__lane, l_wake));

    (void)loop;
    atomic_store(&l->l_wake_posted, false);
}

void rn__lane_wake(struct rn__lane *l)
{
    if (!atomic_exchange(&l->l_wake_posted, true))
        rn_loop_post(l->l_loop, &l->l_wake, lane_wake_ran);
}

static void lane_shrink_ran(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct rn__lane *l = (struct rn__lane *)((char *)w - offsetof(struct rn__lane, l_shrink));

    (void)loop;
    (void)rn_nbpool_shrink(rn_stack_pool(l->l_stack));
    atomic_store(&l->l_shrink_posted, false);
}

void rn__lane_shrink(struct rn__lane *l)
{
    if (l != NULL && l->l_running && !atomic_exchange(&l->l_shrink_posted, true))
        rn_loop_post(l->l_loop, &l->l_shrink, lane_shrink_ran);
}

static void lane_services_stopped(void *ctx)
{
    struct rn__lane *l = ctx;

    l->l_stopped(l->l_stopped_ctx);
}

static void lane_stop_posted(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct rn__lane *l = (struct rn__lane *)((char *)w - offsetof(struct rn__lane, l_stop));

    (void)loop;
    if (l->l_svc == NULL || rn_svcctl_stop_all(l->l_svc, lane_services_stopped, l) == 0)
        l->l_stopped(l->l_stopped_ctx);
}

void rn__lane_stop_services(struct rn__lane *l, void (*done)(void *ctx), void *ctx)
{
    l->l_stopped = done;
    l->l_stopped_ctx = ctx;
    if (!l->l_running) {
        done(ctx);
        return;
    }
    rn_loop_post(l->l_loop, &l->l_stop, lane_stop_posted);
}

void rn__lane_destroy(struct rn__lane *l)
{
    int e;

    if (l == NULL)
        return;
    if (l->l_running) {
        rn_loop_stop(l->l_loop);
        pthread_join(l->l_thread, NULL);
        l->l_running = false;
        /* Work posted meanwhile (a stop's completion) still runs. */
        rn_loop_run_posted(l->l_loop);
    }
    rn_loop_destroy(l->l_loop);
    if (l->l_link != NULL)
        rn_link_close(l->l_link);  /* opened, never given to an interface */
    if (l->l_stack != NULL) {
        e = rn_stack_destroy(l->l_stack);
        if (e != 0)
            rn_report(RN_REPORT_LEAK, "daemon: queue %u's stack's buffers were still held at "
                      "shutdown: %s\n", l->l_setup.ls_queue, rn_strerror(e));
    }
    rn_svcctl_destroy(l->l_svc);
    free(l);
}

struct rn_stack *rn__lane_stack(const struct rn__lane *l)
{
    return l->l_stack;
}

struct rn_svcctl *rn__lane_services(const struct rn__lane *l)
{
    return l->l_svc;
}

struct rn_loop *rn__lane_loop(const struct rn__lane *l)
{
    return l->l_loop;
}

/* ---- Pinned ports ------------------------------------------------------------ */

struct pins_watch {
    struct rn__pins *pw_pins;
    unsigned pw_queue;
};

struct rn__pins {
    pthread_mutex_t p_lock;
    unsigned p_queues;                    /* [I] */
    struct rn_link *p_tap0;               /* [p_lock] queue 0's TAP, or NULL */
    uint32_t *p_uses;                     /* [p_lock] [queue][tcp, udp][port] */
    uint8_t *p_pinned;                    /* [p_lock] [tcp, udp][port] */
    uint64_t p_made, p_failed;            /* [p_lock] */
    uint64_t p_npinned;                   /* [p_lock] ports pinned now */
    struct pins_watch p_watch[RN_RSS_QUEUES_MAX]; /* [I] each stack's hook context */
};

struct rn__pins *rn__pins_new(unsigned queues)
{
    struct rn__pins *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->p_queues = queues;
    p->p_uses = calloc((size_t)queues * 2 * 65536, sizeof(*p->p_uses));
    p->p_pinned = calloc(2 * 65536, 1);
    if (p->p_uses == NULL || p->p_pinned == NULL) {
        rn__pins_free(p);
        return NULL;
    }
    pthread_mutex_init(&p->p_lock, NULL);
    return p;
}

void rn__pins_free(struct rn__pins *p)
{
    if (p == NULL)
        return;
    if (p->p_uses != NULL && p->p_pinned != NULL)
        pthread_mutex_destroy(&p->p_lock);
    free(p->p_uses);
    free(p->p_pinned);
    free(p);
}

static bool pins_needed(const struct rn__pins *p, unsigned pi, uint16_t port);

void rn__pins_set_link(struct rn__pins *p, struct rn_link *tap0)
{
    unsigned pi, port;

    pthread_mutex_lock(&p->p_lock);
    p->p_tap0 = tap0;
    /* The uses told before the device was open. */
    for (pi = 0; tap0 != NULL && pi < 2; pi++) {
        for (port = 1; port < 65536; port++) {
            if (!pins_needed(p, pi, (uint16_t)port))
                continue;
            if (rn_link_tap_pin(tap0, pi ? RN_IPPROTO_UDP : RN_IPPROTO_TCP, (uint16_t)port, 0) == 0) {
                p->p_pinned[pi * 65536u + port] = 1;
                p->p_made++;
                p->p_npinned++;
            } else {
                p->p_failed++;
            }
        }
    }
    pthread_mutex_unlock(&p->p_lock);
}

bool rn__pins_pinned(struct rn__pins *p, uint8_t proto, uint16_t port)
{
    bool pinned;

    if (proto != RN_IPPROTO_TCP && proto != RN_IPPROTO_UDP)
        return false;
    pthread_mutex_lock(&p->p_lock);
    pinned = p->p_pinned[(proto == RN_IPPROTO_UDP) * 65536u + port] != 0;
    pthread_mutex_unlock(&p->p_lock);
    return pinned;
}

void rn__pins_counts(struct rn__pins *p, uint64_t *pinned, uint64_t *made, uint64_t *failed)
{
    pthread_mutex_lock(&p->p_lock);
    *pinned = p->p_npinned;
    *made = p->p_made;
    *failed = p->p_failed;
    pthread_mutex_unlock(&p->p_lock);
}

/* A port needs its pin while queue 0's stack uses it and some other
 * queue's does not: frames hashed there would find nothing. */
static bool pins_needed(const struct rn__pins *p, unsigned pi, uint16_t port)
{
    unsigned q;

    if (p->p_uses[pi * 65536u + port] == 0)
        return false;
    for (q = 1; q < p->p_queues; q++)
        if (p->p_uses[((size_t)q * 2 + pi) * 65536u + port] == 0)
            return true;
    return false;
}

static void pins_use(void *ctx, uint8_t proto, uint16_t port, bool on)
{
    struct pins_watch *pw = ctx;
    struct rn__pins *p = pw->pw_pins;
    unsigned pi = proto == RN_IPPROTO_UDP;
    uint32_t *uses = &p->p_uses[((size_t)pw->pw_queue * 2 + pi) * 65536u + port];
    bool need;
    int e;

    pthread_mutex_lock(&p->p_lock);
    if (on)
        (*uses)++;
    else if (*uses > 0)
        (*uses)--;
    need = pins_needed(p, pi, port);
    if (p->p_tap0 != NULL && need != (p->p_pinned[pi * 65536u + port] != 0)) {
        e = need ? rn_link_tap_pin(p->p_tap0, proto, port, 0)
                 : rn_link_tap_unpin(p->p_tap0, proto, port);
        if (e == 0 || (!need && e == RN_ENOENT)) {
            p->p_pinned[pi * 65536u + port] = need;
            p->p_made += need;
            if (need)
                p->p_npinned++;
            else
                p->p_npinned--;
        } else if (need) {
            p->p_failed++;
        }
    }
    pthread_mutex_unlock(&p->p_lock);
}

void rn__pins_watch(struct rn__pins *p, struct rn_stack *st, unsigned q)
{
    if (p == NULL || q >= p->p_queues)
        return;
    p->p_watch[q].pw_pins = p;
    p->p_watch[q].pw_queue = q;
    rn_stack_set_port_use(st, pins_use, &p->p_watch[q]);
}
