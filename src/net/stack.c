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

struct net_types rn__net_types;
static struct rn_once types_once = RN_ONCE_INIT;

extern const struct rn_ob_type_ops rn__net_iface_ops;
extern const struct rn_ob_type_ops rn__net_arp_ops;
extern const struct rn_ob_type_ops rn__net_route_ops;
extern const struct rn_ob_type_ops rn__net_nd_ops;

/* Who holds an interface, a neighbour entry and a route (object.h,
 * "Holder contracts"). */
static const struct rn_ob_holder iface_holders[] = {
    {"stack", 0, 0, 0, "expected: its stack's, until it is removed"},
    {"route", 0, RN_HOLD_DYING, 0, "expected: a route through it, until the route goes"},
    {"neighbour", 0, RN_HOLD_DYING, 0, "expected: a neighbour entry on it, until the entry goes"},
    {"filter:", 0, RN_HOLD_DYING, 0, "expected: a link filter stacked on it"},
};
static const struct rn_ob_contract iface_contract = {
    iface_holders, sizeof(iface_holders) / sizeof(iface_holders[0]), NULL, 0, 0,
};
static const struct rn_ob_holder arp_holders[] = {
    {"arp-table", 0, 0, 0, "expected: the neighbour table's, until the entry goes"},
};
static const struct rn_ob_contract arp_contract = {arp_holders, 1, NULL, 0, 0};
static const struct rn_ob_holder nd_holders[] = {
    {"nd-table", 0, 0, 0, "expected: the IPv6 neighbour cache's, until the entry goes"},
};
static const struct rn_ob_contract nd_contract = {nd_holders, 1, NULL, 0, 0};
static const struct rn_ob_holder route_holders[] = {
    {"route-table", 0, 0, 0, "expected: the routing table's, until the route is deleted"},
};
static const struct rn_ob_contract route_contract = {route_holders, 1, NULL, 0, 0};
static const struct rn_ob_holder route6_holders[] = {
    {"route-table", 0, 0, 0,
     "expected: the IPv6 route list's, until its lifetime runs out or a router withdraws it"},
};
static const struct rn_ob_contract route6_contract = {route6_holders, 1, NULL, 0, 0};

static bool types_register(void)
{
    rn__net_types.nt_iface = rn_ob_type_register(&rn__net_iface_ops);
    rn__net_types.nt_arp = rn_ob_type_register(&rn__net_arp_ops);
    rn__net_types.nt_route = rn_ob_type_register(&rn__net_route_ops);
    rn__net_types.nt_nd = rn_ob_type_register(&rn__net_nd_ops);
    rn__net_types.nt_route6 = rn_ob_type_register(&rn__net_route6_ops);
    if (rn__net_types.nt_route6 == NULL ||
        rn_ob_type_set_contract(rn__net_types.nt_route6, &route6_contract) < 0 ||
        rn__net_types.nt_iface == NULL || rn__net_types.nt_arp == NULL ||
        rn__net_types.nt_route == NULL || rn__net_types.nt_nd == NULL ||
        rn_ob_type_set_contract(rn__net_types.nt_nd, &nd_contract) < 0 ||
        rn_ob_type_set_contract(rn__net_types.nt_iface, &iface_contract) < 0 ||
        rn_ob_type_set_contract(rn__net_types.nt_arp, &arp_contract) < 0 ||
        rn_ob_type_set_contract(rn__net_types.nt_route, &route_contract) < 0)
        return false;
    rn__net_types.nt_tag_arp_table = rn_tag_intern("arp-table");
    rn__net_types.nt_tag_route_table = rn_tag_intern("route-table");
    rn__net_types.nt_tag_neighbour = rn_tag_intern("neighbour");
    rn__net_types.nt_tag_nd_table = rn_tag_intern("nd-table");
    rn__net_types.nt_own_rx = rn_nb_owner_register("net.rx");
    rn__net_types.nt_own_tx = rn_nb_owner_register("net.txq");
    rn__net_types.nt_own_arpq = rn_nb_owner_register("arp.queue");
    rn__net_types.nt_own_reass = rn_nb_owner_register("ip.reass");
    rn__net_types.nt_own_icmp = rn_nb_owner_register("icmp");
    rn__net_types.nt_own_loop = rn_nb_owner_register("ip.loop");
    rn__net_types.nt_own_ndq = rn_nb_owner_register("nd.queue");
    return rn__net_types.nt_iface != NULL && rn__net_types.nt_arp != NULL &&
           rn__net_types.nt_route != NULL && rn__net_types.nt_tag_arp_table != RN_TAG_NONE &&
           rn__net_types.nt_tag_route_table != RN_TAG_NONE &&
           rn__net_types.nt_tag_neighbour != RN_TAG_NONE &&
           rn__net_types.nt_own_loop != RN_NB_OWNER_NONE &&
           rn__net_types.nt_tag_nd_table != RN_TAG_NONE &&
           rn__net_types.nt_own_ndq != RN_NB_OWNER_NONE;
}

bool rn__net_types_init(void)
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
    struct net_stack *ns;
    int err;

    if (!rn__net_types_init())
        return RN_ENOMEM;
    ns = calloc(1, sizeof(*ns));
    if (ns == NULL)
        return RN_ENOMEM;
    if (params != NULL)
        ns->ns_params = *params;
    params_defaults(&ns->ns_params);
    rn__stack_init(&ns->ns_rt, ns->ns_params.sp_name, ns->ns_params.sp_seed);
    ns->ns_params.sp_name = ns->ns_rt.st_name;
    pp.np_name = ns->ns_rt.st_name;
    pp.np_max = ns->ns_params.sp_pool_max;
    pp.np_prealloc = ns->ns_params.sp_pool_max < 512 ? ns->ns_params.sp_pool_max : 512;
    err = rn_nbpool_create(&pp, &ns->ns_pool);
    if (err < 0) {
        rn__stack_fini(&ns->ns_rt);
        free(ns);
        return err;
    }
    rn_nbq_init(&ns->ns_loopq);
    ns->ns_ip_id = (uint16_t)(ns->ns_params.sp_seed * 0x9e3779b97f4a7c15ull >> 48);
    ns->ns_icmp_tokens = 50;
    ns->ns_icmp6_tokens = 50;
    rn__net_rd6_init(&ns->ns_rt);
    *out = &ns->ns_rt;
    return 0;
}

int rn_stack_destroy(struct rn_stack *st)
{
    struct net_stack *ns = net_st(st);
    unsigned i;
    int err;

    /* Transports and sockets first: they hold interfaces and routes. */
    rn__stack_run_fini(st);
    /* Removals still waiting: those whose interface went meanwhile
     * complete in the polls below, the others are cancelled. */
    rn__net_iface_removals_fini(st);
    /* Anything posted meanwhile still runs, so posters are not left
     * waiting; work that posts again is bounded by the loop. */
    for (i = 0; i < 16 && rn_stack_has_work(st); i++)
        rn_stack_poll(st, st->st_now);
    rn__net_reass_flush(st, NULL);
    rn__net_reass6_flush(st, NULL);
    rn__net_arp_flush(st);
    rn__net_nd_flush(st);
    rn__net_rd6_flush(st);
    rn__net_route_flush(st);
    rn_nbq_purge(&ns->ns_loopq);
    for (i = ns->ns_nifaces; i-- > 0;)
        rn__net_iface_destroy(ns->ns_ifaces[i]);
    ns->ns_nifaces = 0;
    rn__stack_fini(st);
    free(ns->ns_routes);
    err = rn_nbpool_destroy(ns->ns_pool);
    free(ns);
    return err;
}

struct rn_nbpool *rn_stack_pool(struct rn_stack *st)
{
    return net_st(st)->ns_pool;
}

int rn_stack_set_rss(struct rn_stack *st, const struct rn_rss *rss, unsigned queue)
{
    struct net_stack *ns = net_st(st);

    if (rss == NULL || rss->rs_queues == 0 || rss->rs_queues > RN_RSS_QUEUES_MAX ||
        queue >= rss->rs_queues)
        return RN_EINVAL;
    ns->ns_rss = *rss;
    ns->ns_rss_queue = queue;
    return 0;
}

bool rn_stack_rss_mine(struct rn_stack *st, const struct rn_inaddr *src,
                       const struct rn_inaddr *dst, uint16_t sport, uint16_t dport)
{
    const struct net_stack *ns = net_st(st);

    return ns->ns_rss.rs_queues <= 1 ||
           rn_rss_flow_queue(&ns->ns_rss, src, dst, sport, dport) == ns->ns_rss_queue;
}

void rn_stack_set_rss_handover(struct rn_stack *st, rn_stack_handover_fn fn, void *ctx)
{
    net_st(st)->ns_rss_hand = fn;
    net_st(st)->ns_rss_hand_ctx = ctx;
}

bool rn__net_rss_handover(struct rn_stack *st, struct rn_iface *ifp, uint16_t ethertype,
                          const uint8_t *l3, size_t l3len, const struct rn_netbuf *nb,
                          uint8_t proto, const struct rn_inaddr *src, const struct rn_inaddr *dst,
                          uint16_t sport, uint16_t dport)
{
    struct net_stack *ns = net_st(st);
    size_t len = RN_ETH_HLEN + l3len + nb->nb_pktlen;
    unsigned q;
    uint8_t *frame;
    bool ok;

    if (ns->ns_rss_hand == NULL || ns->ns_rss.rs_queues <= 1)
        return false;
    q = rn_rss_flow_queue(&ns->ns_rss, src, dst, sport, dport);
    if (q == ns->ns_rss_queue || (frame = malloc(len)) == NULL)
        return false;
    /* Addressed to the interface, as the device would have delivered it. */
    (void)rn__eth_emit(frame, &ifp->if_mac, &ifp->if_mac, ethertype);
    if (l3len > 0)
        memcpy(frame + RN_ETH_HLEN, l3, l3len);
    (void)rn_nb_copyout(nb, 0, frame + RN_ETH_HLEN + l3len, nb->nb_pktlen);
    ok = ns->ns_rss_hand(ns->ns_rss_hand_ctx, q, proto, dport, frame, len);
    free(frame);
    if (ok)
        ns->ns_rss_handed++;
    return ok;
}

void rn_stack_set_port_use(struct rn_stack *st, rn_port_use_fn fn, void *ctx)
{
    net_st(st)->ns_port_use = fn;
    net_st(st)->ns_port_use_ctx = ctx;
}

void rn__stack_port_use(struct rn_stack *st, uint8_t proto, uint16_t port, bool on)
{
    const struct net_stack *ns = net_st(st);

    if (ns->ns_port_use != NULL)
        ns->ns_port_use(ns->ns_port_use_ctx, proto, port, on);
}

unsigned rn_stack_rss_queues(struct rn_stack *st, unsigned *queue)
{
    const struct net_stack *ns = net_st(st);

    if (queue != NULL)
        *queue = ns->ns_rss.rs_queues ? ns->ns_rss_queue : 0;
    return ns->ns_rss.rs_queues ? ns->ns_rss.rs_queues : 1;
}

void rn__stack_count_drop(struct rn_stack *st, struct rn_iface *ifp, enum rn_drop reason)
{
    if (net_st(st)->ns_rx_copy)
        return;
    if ((unsigned)reason >= RN_DROP_MAX_)
        reason = RN_DROP_NONE;
    if (ifp != NULL)
        ifp->if_drops[reason]++;
    else
        net_st(st)->ns_drops[reason]++;
}

uint64_t rn_stack_drops(struct rn_stack *st, int reason)
{
    uint64_t n;
    unsigned i;

    if (reason < 0 || reason >= RN_DROP_MAX_)
        return 0;
    n = net_st(st)->ns_drops[reason];
    for (i = 0; i < net_st(st)->ns_nifaces; i++)
        n += net_st(st)->ns_ifaces[i]->if_drops[reason];
    return n;
}

/* ---- The poll ------------------------------------------------------------- */

static void poll_rx(struct rn_stack *st, struct rn_iface *ifp)
{
    struct rn_netbuf *batch[NET_RX_BATCH];
    unsigned budget = NET_RX_BUDGET;

    while (budget > 0 && ifp->if_link != NULL) {
        int n = rn_link_rx(ifp->if_link, batch, NET_RX_BATCH, st->st_now), i;

        for (i = 0; i < n; i++) {
            bool copy = (batch[i]->nb_offload & RN_NB_OFF_RSS_COPY) != 0;

            batch[i]->nb_ingress = ifp->if_index;
            rn_nb_set_owner(batch[i], rn__net_types.nt_own_rx);
            net_st(st)->ns_rx_copy = copy;
            rn__net_eth_input(ifp, batch[i]);
            net_st(st)->ns_rx_copy = false;
        }
        if (n < NET_RX_BATCH)
            break;
        budget -= (unsigned)n;
    }
}

/* True if ifp may have frames to read: its link has no fd (a cable, a
 * replay), or its fd is among the nready readable ones, or a link of its
 * chain has a deadline due (a frame a fault filter delayed).  ready NULL:
 * every fd may be readable. */
static bool rx_may_find(struct rn_stack *st, struct rn_iface *ifp, const int *ready,
                        size_t nready)
{
    rn_time_t d;
    int fd;
    size_t i;

    if (ready == NULL || ifp->if_link == NULL)
        return true;
    fd = rn_link_poll_fd(ifp->if_link);
    if (fd < 0)
        return true;
    for (i = 0; i < nready; i++)
        if (ready[i] == fd)
            return true;
    d = rn_link_next_deadline(ifp->if_link);
    return d != RN_LINK_NO_DEADLINE && d <= st->st_now;
}

static void stack_poll(struct rn_stack *st, rn_time_t now, const int *ready, size_t nready)
{
    unsigned i;

    if (now > st->st_now)
        st->st_now = now;
    rn__stack_run_posted(st);
    for (i = 0; i < net_st(st)->ns_nifaces; i++)
        if (rx_may_find(st, net_st(st)->ns_ifaces[i], ready, nready))
            poll_rx(st, net_st(st)->ns_ifaces[i]);
    rn__net_ip_loopback_run(st);
    rn_timer_run(&st->st_timers, st->st_now);
    rn__stack_run_posted(st);
    rn__net_ip_loopback_run(st);
    rn__net_tx_flush(st);
}

void rn__net_tx_flush(struct rn_stack *st)
{
    unsigned i;

    for (i = 0; i < net_st(st)->ns_nifaces; i++)
        rn__net_iface_flush(net_st(st)->ns_ifaces[i]);
    assert(rn_nbpool_refs(net_st(st)->ns_pool) == 0);
    net_st(st)->ns_tx_gen++;
}

uint16_t rn__net_tx_gen(struct rn_stack *st)
{
    return net_st(st)->ns_tx_gen;
}

void rn_stack_poll(struct rn_stack *st, rn_time_t now)
{
    stack_poll(st, now, NULL, 0);
}

void rn_stack_poll_ready(struct rn_stack *st, rn_time_t now, const int *ready, size_t nready)
{
    stack_poll(st, now, ready, nready);
}

rn_time_t rn_stack_next_deadline(struct rn_stack *st)
{
    rn_time_t next = rn_timer_next(&st->st_timers);
    unsigned i;

    if (rn_stack_has_work(st) || net_st(st)->ns_loopq.nq_len > 0)
        return st->st_now ? st->st_now : 1;
    for (i = 0; i < net_st(st)->ns_nifaces; i++) {
        struct rn_iface *ifp = net_st(st)->ns_ifaces[i];
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

    for (i = 0; i < net_st(st)->ns_nifaces; i++) {
        int fd = net_st(st)->ns_ifaces[i]->if_link ? rn_link_poll_fd(net_st(st)->ns_ifaces[i]->if_link) : -1;

        if (fd < 0)
            continue;
        if (n < max)
            fds[n] = fd;
        n++;
    }
    return n;
}

/* ---- Rows ------------------------------------------------------------------- */

void rn_stack_counters(struct rn_stack *st, rn_counter_fn fn, void *ctx)
{
    const struct net_stack *ns = net_st(st);
    const struct rn_stack_counter own[] = {
        {"ip.in", ns->ns_ip_in},
        {"ip.out", ns->ns_ip_out},
        {"ip.frag_out", ns->ns_ip_frag_out},
        {"ip.reassembled", ns->ns_ip_reassembled},
        {"rss.handed", ns->ns_rss_handed},
        {"icmp.in", ns->ns_icmp_in},
        {"icmp.out", ns->ns_icmp_out},
        {"icmp.echo_replies", ns->ns_icmp_echo_replies},
        {"icmp.echo_replies_in", ns->ns_icmp_echo_replies_in},
        {"icmp.ratelimited", ns->ns_icmp_ratelimited},
        {"arp.in", ns->ns_arp_in},
        {"arp.out", ns->ns_arp_out},
        {"arp.evicted", ns->ns_arp_evicted},
        {"arp.ratelimited", ns->ns_arp_ratelimited},
        {"ip6.in", ns->ns_ip6_in},
        {"ip6.out", ns->ns_ip6_out},
        {"ip6.frag_out", ns->ns_ip6_frag_out},
        {"ip6.reassembled", ns->ns_ip6_reassembled},
        {"icmp6.in", ns->ns_icmp6_in},
        {"icmp6.out", ns->ns_icmp6_out},
        {"icmp6.echo_replies", ns->ns_icmp6_echo_replies},
        {"icmp6.echo_replies_in", ns->ns_icmp6_echo_replies_in},
        {"icmp6.ratelimited", ns->ns_icmp6_ratelimited},
        {"nd.in", ns->ns_nd_in},
        {"nd.out", ns->ns_nd_out},
        {"nd.evicted", ns->ns_nd_evicted},
        {"nd.ratelimited", ns->ns_nd_ratelimited},
        {"nd.dad_conflicts", ns->ns_nd_dad_conflicts},
        {"nd.rs_out", ns->ns_nd_rs_out},
        {"nd.ra_in", ns->ns_nd_ra_in},
        {"nd.redirects_in", ns->ns_nd_redirects_in},
        {"nd.slaac_addrs", ns->ns_nd_slaac_addrs},
        {"nd.routers", ns->ns_nrouters6},
        {"nd.prefixes", ns->ns_nprefixes6},
        {"icmp6.too_big_in", ns->ns_icmp6_too_big_in},
        {"icmp6.errors_to_transport", ns->ns_icmp6_err_to_transport},
        {"ip6.pmtu_updates", ns->ns_ip6_pmtu_updates},
        {"ip6.dest_cache", ns->ns_ndest6},
        {"mld.reports_out", ns->ns_mld_reports_out},
        {"mld.queries_in", ns->ns_mld_queries_in},
    };
    size_t i;

    for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        fn(&own[i], ctx);
    rn__stack_each_counter(st, fn, ctx);
}

void rn_stack_drop_rows(struct rn_stack *st, rn_drop_row_fn fn, void *ctx)
{
    const struct net_stack *ns = net_st(st);
    struct rn_drop_row row;
    unsigned i, r;

    for (i = 0; i <= ns->ns_nifaces; i++) {
        const uint64_t *drops = i < ns->ns_nifaces ? ns->ns_ifaces[i]->if_drops : ns->ns_drops;

        row.dr_iface = i < ns->ns_nifaces ? ns->ns_ifaces[i]->if_name : NULL;
        for (r = 1; r < RN_DROP_MAX_; r++) {
            if (drops[r] == 0)
                continue;
            row.dr_reason = (enum rn_drop)r;
            row.dr_count = drops[r];
            fn(&row, ctx);
        }
    }
}
