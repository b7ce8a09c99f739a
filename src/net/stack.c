/*
 * The stack: creation and teardown, the poll that drives it, posted work,
 * and the counters (stack.h).
 *
 * One poll, in order:
 *   posted work -> receive from every interface (bounded batches) ->
 *   datagrams to our own addresses -> due timers -> posted work again ->
 *   flush every interface's transmit queue in batches.
 */
#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/once.h"
#include "net/net_priv.h"
#include "refnet/error.h"
#include "refnet/report.h"
#include "refnet/strbuf.h"

struct net_types net__types;
static struct rn_once types_once = RN_ONCE_INIT;

extern const struct rn_ob_type_ops net__iface_ops;
extern const struct rn_ob_type_ops net__arp_ops;
extern const struct rn_ob_type_ops net__route_ops;

static bool types_register(void)
{
    net__types.nt_iface = rn_ob_type_register(&net__iface_ops);
    net__types.nt_arp = rn_ob_type_register(&net__arp_ops);
    net__types.nt_route = rn_ob_type_register(&net__route_ops);
    net__types.nt_tag_arp_table = rn_tag_intern("arp-table");
    net__types.nt_tag_route_table = rn_tag_intern("route-table");
    net__types.nt_tag_neighbour = rn_tag_intern("neighbour");
    net__types.nt_own_rx = rn_nb_owner_register("net.rx");
    net__types.nt_own_tx = rn_nb_owner_register("net.txq");
    net__types.nt_own_arpq = rn_nb_owner_register("arp.queue");
    net__types.nt_own_reass = rn_nb_owner_register("ip.reass");
    net__types.nt_own_icmp = rn_nb_owner_register("icmp");
    net__types.nt_own_loop = rn_nb_owner_register("ip.loop");
    return net__types.nt_iface != NULL && net__types.nt_arp != NULL &&
           net__types.nt_route != NULL && net__types.nt_tag_arp_table != RN_TAG_NONE &&
           net__types.nt_tag_route_table != RN_TAG_NONE &&
           net__types.nt_tag_neighbour != RN_TAG_NONE &&
           net__types.nt_own_loop != RN_NB_OWNER_NONE;
}

bool net__types_init(void)
{
    return rn_once(&types_once, types_register);
}

static void params_defaults(struct rn_stack_params *p)
{
    if (p->sp_name == NULL)
        p->sp_name = "refnet";
    if (p->sp_pool_max == 0)
        p->sp_pool_max = 16384;
    if (p->sp_arp_ttl == 0)
        p->sp_arp_ttl = RN_SEC(60);
    if (p->sp_arp_retry == 0)
        p->sp_arp_retry = RN_SEC(1);
    if (p->sp_arp_tries == 0)
        p->sp_arp_tries = 3;
    /* Room for a whole datagram of the largest size (45 fragments at MTU
     * 1500) and more: the queue holds fragments, and a datagram that only
     * partly fits is lost whole. */
    if (p->sp_arp_queue_max == 0)
        p->sp_arp_queue_max = 64;
    if (p->sp_arp_max_entries == 0)
        p->sp_arp_max_entries = 1024;
    if (p->sp_reass_timeout == 0)
        p->sp_reass_timeout = RN_SEC(30);
    if (p->sp_reass_max_bytes == 0)
        p->sp_reass_max_bytes = 1u << 20;
    if (p->sp_reass_max_datagrams == 0)
        p->sp_reass_max_datagrams = 64;
    if (p->sp_ttl == 0)
        p->sp_ttl = 64;
}

int rn_stack_create(const struct rn_stack_params *params, struct rn_stack **out)
{
    struct rn_nbpool_params pp = {0};
    struct rn_stack *st;
    int err;

    if (!net__types_init())
        return RN_ENOMEM;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return RN_ENOMEM;
    if (params != NULL)
        st->st_params = *params;
    params_defaults(&st->st_params);
    snprintf(st->st_name, sizeof(st->st_name), "%s", st->st_params.sp_name);
    st->st_params.sp_name = st->st_name;
    pp.np_name = st->st_name;
    pp.np_max = st->st_params.sp_pool_max;
    pp.np_prealloc = st->st_params.sp_pool_max < 512 ? st->st_params.sp_pool_max : 512;
    err = rn_nbpool_create(&pp, &st->st_pool);
    if (err < 0) {
        free(st);
        return err;
    }
    rn_timer_heap_init(&st->st_timers);
    rn_nbq_init(&st->st_loopq);
    /* Until the host's first poll, the process clock stands in for now. */
    st->st_now = rn_clock_now();
    st->st_ip_id = (uint16_t)(st->st_params.sp_seed * 0x9e3779b97f4a7c15ull >> 48);
    st->st_icmp_tokens = 50;
    *out = st;
    return 0;
}

int rn_stack_destroy(struct rn_stack *st)
{
    struct fini_hook *fh;
    unsigned i;
    int err;

    st->st_destroying = true;
    /* Transports and sockets first: they hold interfaces and routes. */
    while ((fh = st->st_fini) != NULL) {
        st->st_fini = fh->fh_next;
        fh->fh_fn(st, fh->fh_ctx);
        free(fh);
    }
    /* Anything posted meanwhile still runs, so posters are not left
     * waiting; work that posts again is bounded by the loop. */
    for (i = 0; i < 16 && rn_stack_has_work(st); i++)
        rn_stack_poll(st, st->st_now);
    net__reass_flush(st);
    net__arp_flush(st);
    net__route_flush(st);
    rn_nbq_purge(&st->st_loopq);
    for (i = st->st_nifaces; i-- > 0;)
        net__iface_destroy(st->st_ifaces[i]);
    st->st_nifaces = 0;
    rn_timer_heap_fini(&st->st_timers);
    while (st->st_stats != NULL) {
        struct stats_hook *sh = st->st_stats;

        st->st_stats = sh->sh_next;
        free(sh);
    }
    free(st->st_routes);
    err = rn_nbpool_destroy(st->st_pool);
    free(st);
    return err;
}

const char *rn_stack_name(const struct rn_stack *st)
{
    return st->st_name;
}

struct rn_nbpool *rn_stack_pool(struct rn_stack *st)
{
    return st->st_pool;
}

rn_time_t rn_stack_now(const struct rn_stack *st)
{
    return st->st_now;
}

struct rn_timer_heap *rn_stack_timers(struct rn_stack *st)
{
    return &st->st_timers;
}

uint64_t rn_stack_seed(const struct rn_stack *st)
{
    return st->st_params.sp_seed;
}

void *rn_stack_slot(struct rn_stack *st, enum rn_proto_slot slot)
{
    assert(slot < RN_SLOT_COUNT_);
    return st->st_slots[slot];
}

void rn_stack_set_slot(struct rn_stack *st, enum rn_proto_slot slot, void *state)
{
    assert(slot < RN_SLOT_COUNT_);
    st->st_slots[slot] = state;
}

int rn_stack_on_destroy(struct rn_stack *st, rn_stack_fini_fn fn, void *ctx)
{
    struct fini_hook *fh = malloc(sizeof(*fh));

    if (fh == NULL)
        return RN_ENOMEM;
    fh->fh_fn = fn;
    fh->fh_ctx = ctx;
    fh->fh_next = st->st_fini;
    st->st_fini = fh;
    return 0;
}

int rn_stack_add_stats(struct rn_stack *st, rn_stack_stats_fn fn, void *ctx)
{
    struct stats_hook *sh = malloc(sizeof(*sh)), **pp;

    if (sh == NULL)
        return RN_ENOMEM;
    sh->sh_fn = fn;
    sh->sh_ctx = ctx;
    sh->sh_next = NULL;
    for (pp = &st->st_stats; *pp != NULL; pp = &(*pp)->sh_next)
        ;
    *pp = sh;
    return 0;
}

void rn_stack_count_drop(struct rn_stack *st, struct rn_iface *ifp, enum rn_drop reason)
{
    if ((unsigned)reason >= RN_DROP_MAX_)
        reason = RN_DROP_NONE;
    if (ifp != NULL)
        ifp->if_drops[reason]++;
    else
        st->st_drops[reason]++;
}

uint64_t rn_stack_drops(struct rn_stack *st, int reason)
{
    uint64_t n;
    unsigned i;

    if (reason < 0 || reason >= RN_DROP_MAX_)
        return 0;
    n = st->st_drops[reason];
    for (i = 0; i < st->st_nifaces; i++)
        n += st->st_ifaces[i]->if_drops[reason];
    return n;
}

/* ---- Posted work --------------------------------------------------------- */

void rn_stack_post(struct rn_stack *st, struct rn_work *w, rn_work_fn fn)
{
    struct rn_work *head = atomic_load_explicit(&st->st_posted, memory_order_relaxed);

    w->wk_fn = fn;
    do {
        w->wk_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&st->st_posted, &head, w,
                                                    memory_order_release,
                                                    memory_order_relaxed));
    /* Only the post that makes the queue non-empty needs to wake the loop:
     * the loop empties it in one exchange. */
    if (head == NULL && st->st_wake != NULL)
        st->st_wake(st->st_wake_ctx);
}

void rn_stack_set_wake(struct rn_stack *st, void (*wake)(void *ctx), void *ctx)
{
    st->st_wake = wake;
    st->st_wake_ctx = ctx;
}

bool rn_stack_has_work(struct rn_stack *st)
{
    return atomic_load_explicit(&st->st_posted, memory_order_acquire) != NULL;
}

/* Runs everything posted so far, oldest first. */
static void run_posted(struct rn_stack *st)
{
    struct rn_work *list, *rev = NULL, *w;

    list = atomic_exchange_explicit(&st->st_posted, NULL, memory_order_acquire);
    while (list != NULL) {
        w = list;
        list = w->wk_next;
        w->wk_next = rev;
        rev = w;
    }
    while (rev != NULL) {
        w = rev;
        rev = w->wk_next;
        w->wk_next = NULL;
        w->wk_fn(st, w);
    }
}

/* ---- The poll ------------------------------------------------------------- */

static void poll_rx(struct rn_stack *st, struct rn_iface *ifp)
{
    struct rn_netbuf *batch[NET_RX_BATCH];
    unsigned budget = NET_RX_BUDGET;

    while (budget > 0 && ifp->if_link != NULL) {
        int n = rn_link_rx(ifp->if_link, batch, NET_RX_BATCH, st->st_now), i;

        for (i = 0; i < n; i++) {
            batch[i]->nb_ingress = ifp->if_index;
            rn_nb_set_owner(batch[i], net__types.nt_own_rx);
            net__eth_input(ifp, batch[i]);
        }
        if (n < NET_RX_BATCH)
            break;
        budget -= (unsigned)n;
    }
}

void rn_stack_poll(struct rn_stack *st, rn_time_t now)
{
    unsigned i;

    if (now > st->st_now)
        st->st_now = now;
    run_posted(st);
    for (i = 0; i < st->st_nifaces; i++)
        poll_rx(st, st->st_ifaces[i]);
    net__ip_loopback_run(st);
    rn_timer_run(&st->st_timers, st->st_now);
    run_posted(st);
    net__ip_loopback_run(st);
    for (i = 0; i < st->st_nifaces; i++)
        net__iface_flush(st->st_ifaces[i]);
}

rn_time_t rn_stack_next_deadline(struct rn_stack *st)
{
    rn_time_t next = rn_timer_next(&st->st_timers);
    unsigned i;

    if (rn_stack_has_work(st) || st->st_loopq.nq_len > 0)
        return st->st_now ? st->st_now : 1;
    for (i = 0; i < st->st_nifaces; i++) {
        struct rn_iface *ifp = st->st_ifaces[i];
        rn_time_t d;

        if (ifp->if_txq.nq_len > 0)
            return st->st_now ? st->st_now : 1;
        if (ifp->if_link == NULL)
            continue;
        d = rn_link_next_deadline(ifp->if_link);
        if (d != RN_LINK_NO_DEADLINE && (next == 0 || d < next))
            next = d;
    }
    return next;
}

size_t rn_stack_fds(struct rn_stack *st, int *fds, size_t max)
{
    size_t n = 0;
    unsigned i;

    for (i = 0; i < st->st_nifaces; i++) {
        int fd = st->st_ifaces[i]->if_link ? rn_link_poll_fd(st->st_ifaces[i]->if_link) : -1;

        if (fd < 0)
            continue;
        if (n < max)
            fds[n] = fd;
        n++;
    }
    return n;
}

/* ---- Listings ------------------------------------------------------------- */

void rn_stack_render_ifaces(struct rn_stack *st, struct rn_strbuf *sb, bool json)
{
    net__iface_render(st, sb, json);
}

void rn_stack_render_arp(struct rn_stack *st, struct rn_strbuf *sb, bool json)
{
    net__arp_render(st, sb, json);
}

void rn_stack_render_routes(struct rn_stack *st, struct rn_strbuf *sb, bool json)
{
    net__route_render(st, sb, json);
}

struct counter {
    const char *c_name;
    uint64_t c_value;
};

void rn_stack_render_stats(struct rn_stack *st, struct rn_strbuf *sb, bool json)
{
    const struct counter protos[] = {
        {"ip.in", st->st_ip_in},
        {"ip.out", st->st_ip_out},
        {"ip.frag_out", st->st_ip_frag_out},
        {"ip.reassembled", st->st_ip_reassembled},
        {"icmp.in", st->st_icmp_in},
        {"icmp.out", st->st_icmp_out},
        {"icmp.echo_replies", st->st_icmp_echo_replies},
        {"icmp.echo_replies_in", st->st_icmp_echo_replies_in},
        {"icmp.ratelimited", st->st_icmp_ratelimited},
        {"arp.in", st->st_arp_in},
        {"arp.out", st->st_arp_out},
    };
    struct rn_stack_counter more[RN_STACK_STATS_MAX];
    const struct stats_hook *sh;
    struct rn_nbpool_stats ps;
    unsigned i, r, n;
    bool first;

    rn_nbpool_stats(st->st_pool, &ps);
    if (json) {
        rn_strbuf_puts(sb, "{\"interfaces\":[");
        for (i = 0; i < st->st_nifaces; i++) {
            struct rn_iface *ifp = st->st_ifaces[i];

            rn_strbuf_printf(sb, "%s{\"name\":", i ? "," : "");
            rn_strbuf_json_str(sb, ifp->if_name);
            rn_strbuf_printf(sb,
                             ",\"rx_frames\":%" PRIu64 ",\"rx_bytes\":%" PRIu64
                             ",\"tx_frames\":%" PRIu64 ",\"tx_bytes\":%" PRIu64 ",\"drops\":{",
                             ifp->if_rx_frames, ifp->if_rx_bytes, ifp->if_tx_frames,
                             ifp->if_tx_bytes);
            for (r = 1, first = true; r < RN_DROP_MAX_; r++) {
                if (ifp->if_drops[r] == 0)
                    continue;
                rn_strbuf_printf(sb, "%s\"%s\":%" PRIu64, first ? "" : ",",
                                 rn_drop_name((enum rn_drop)r), ifp->if_drops[r]);
                first = false;
            }
            rn_strbuf_puts(sb, "}}");
        }
        rn_strbuf_puts(sb, "],\"protocols\":{");
        for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
            rn_strbuf_printf(sb, "%s\"%s\":%" PRIu64, i ? "," : "", protos[i].c_name,
                             protos[i].c_value);
        for (sh = st->st_stats; sh != NULL; sh = sh->sh_next) {
            n = sh->sh_fn(st, sh->sh_ctx, more, RN_STACK_STATS_MAX);
            for (i = 0; i < n && i < RN_STACK_STATS_MAX; i++)
                rn_strbuf_printf(sb, ",\"%s\":%" PRIu64, more[i].sc_name, more[i].sc_value);
        }
        rn_strbuf_puts(sb, "},\"drops\":{");
        for (r = 1, first = true; r < RN_DROP_MAX_; r++) {
            if (st->st_drops[r] == 0)
                continue;
            rn_strbuf_printf(sb, "%s\"%s\":%" PRIu64, first ? "" : ",",
                             rn_drop_name((enum rn_drop)r), st->st_drops[r]);
            first = false;
        }
        rn_strbuf_printf(sb,
                         "},\"pool\":{\"outstanding\":%u,\"peak\":%u,\"max\":%u,"
                         "\"exhausted\":%" PRIu64 "}}\n",
                         ps.ps_outstanding, ps.ps_peak, ps.ps_max, ps.ps_exhausted);
        return;
    }
    for (i = 0; i < st->st_nifaces; i++) {
        struct rn_iface *ifp = st->st_ifaces[i];

        rn_strbuf_printf(sb,
                         "%s: rx %" PRIu64 " frames %" PRIu64 " bytes, tx %" PRIu64
                         " frames %" PRIu64 " bytes\n",
                         ifp->if_name, ifp->if_rx_frames, ifp->if_rx_bytes, ifp->if_tx_frames,
                         ifp->if_tx_bytes);
        for (r = 1; r < RN_DROP_MAX_; r++) {
            if (ifp->if_drops[r] != 0)
                rn_strbuf_printf(sb, "  drop %-22s %10" PRIu64 "  %s\n",
                                 rn_drop_name((enum rn_drop)r), ifp->if_drops[r],
                                 rn_drop_desc((enum rn_drop)r));
        }
    }
    for (r = 1; r < RN_DROP_MAX_; r++) {
        if (st->st_drops[r] != 0)
            rn_strbuf_printf(sb, "stack drop %-22s %10" PRIu64 "  %s\n",
                             rn_drop_name((enum rn_drop)r), st->st_drops[r],
                             rn_drop_desc((enum rn_drop)r));
    }
    for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
        rn_strbuf_printf(sb, "%-20s %10" PRIu64 "\n", protos[i].c_name, protos[i].c_value);
    for (sh = st->st_stats; sh != NULL; sh = sh->sh_next) {
        n = sh->sh_fn(st, sh->sh_ctx, more, RN_STACK_STATS_MAX);
        for (i = 0; i < n && i < RN_STACK_STATS_MAX; i++)
            rn_strbuf_printf(sb, "%-20s %10" PRIu64 "\n", more[i].sc_name, more[i].sc_value);
    }
    rn_nbpool_report(st->st_pool, sb);
}
