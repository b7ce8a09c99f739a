/*
 * Neighbour discovery for IPv6 as a host (RFC 4861) and duplicate address
 * detection (RFC 4862): the IPv6 neighbour cache, resolution with a
 * bounded queue of waiting datagrams, answers to solicitations, and the
 * addresses of interfaces with their DAD.
 *
 * Entries are objects ("nd entry") held by the cache under "nd-table";
 * each holds its interface under "neighbour", as ARP entries do.  They
 * live as RFC 4861 7.3 says (neighbour unreachability detection):
 *   INCOMPLETE --solicited NA--> REACHABLE --ReachableTime--> STALE
 *       |      --unsolicited NA--> STALE --sent to--> DELAY --5 s--> PROBE
 *       '--3 tries--> removed        |                  |            |
 *                                    |   confirmation (solicited NA, or
 *                                    |   rn__net_nd_confirm() from an
 *                                    |   upper layer) --> REACHABLE
 *                                    '--unused for sp_arp_ttl--> removed
 *   PROBE: unicast solicitations every RetransTimer, 3 of them, then
 *   removed.  A solicitation, router advertisement or redirect carrying a
 *   new link address, or an advertisement with the override flag, makes
 *   the entry STALE with that address (7.2.3, 7.2.5, 6.3.4, 8.3).
 *
 * Under a flood (solicitations from made-up sources, datagrams to
 * addresses nobody holds) the cache keeps what it resolved, as the ARP
 * cache does: INCOMPLETE entries fill at most half of it and make room for
 * each other, oldest first; a resolved entry goes for room only if it was
 * never used; a solicitation teaches us its sender only while there is
 * room; and resolutions start at a bounded rate.  The ARP cache's limits
 * (stack.h, sp_arp_*) serve both.
 *
 * DAD: an address added to an interface is tentative; one solicitation
 * from :: goes to its solicited-node group, and if no advertisement for it
 * (nor another node's DAD solicitation) comes within a second it becomes
 * preferred.  Otherwise it is duplicate and never used.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "wire/bytes.h"
#include "wire/icmpv6.h"

#define ND_NEW_PER_SEC 2048   /* resolutions started a second, at most */
#define ND_NEW_BURST 128      /* of which this many at once */
#define ND_DAD_TRANSMITS 1    /* RFC 4862 DupAddrDetectTransmits */
#define ND_RETRANS RN_SEC(1)  /* RFC 4861 RetransTimer */
#define ND_DELAY_FIRST_PROBE RN_SEC(5) /* DELAY_FIRST_PROBE_TIME */
#define ND_MAX_UNICAST_SOLICIT 3       /* MAX_UNICAST_SOLICIT */

static uint64_t mac_pack(const struct rn_mac *m)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < RN_ETH_ALEN; i++)
        v = v << 8 | m->mac_octet[i];
    return v;
}

static struct rn_mac mac_unpack(uint64_t v)
{
    struct rn_mac m;
    int i;

    for (i = RN_ETH_ALEN; i-- > 0;) {
        m.mac_octet[i] = (uint8_t)v;
        v >>= 8;
    }
    return m;
}

const char *rn_addr6_state_name(enum rn_addr6_state s)
{
    switch (s) {
    case RN_ADDR6_TENTATIVE:
        return "tentative";
    case RN_ADDR6_PREFERRED:
        return "preferred";
    case RN_ADDR6_DUPLICATE:
        return "duplicate";
    case RN_ADDR6_DEPRECATED:
        return "deprecated";
    }
    return "?";
}

static void nd_release(void *ob)
{
    struct nd_entry *e = ob;

    if (e->ne_iface != NULL)
        rn_ob_deref(e->ne_iface, rn__net_types.nt_tag_neighbour);
}

static void nd_describe(const void *ob, char *buf, size_t len)
{
    const struct nd_entry *e = ob;
    struct rn_mac mac = mac_unpack(atomic_load_explicit(&e->ne_mac, memory_order_relaxed));
    char ip[RN_IP6_STRLEN], m[RN_MAC_STRLEN];

    if (e->ne_iface == NULL)
        return;
    rn_ip6_addr_fmt(&e->ne_ip, ip);
    rn_mac_fmt(&mac, m);
    snprintf(buf, len, "nd entry %s %s %s %s", ip, m, e->ne_iface->if_name,
             rn_neigh_state_name((enum rn_neigh_state)atomic_load_explicit(
                 &e->ne_state, memory_order_relaxed)));
}

const struct rn_ob_type_ops rn__net_nd_ops = {
    .name = "nd entry",
    .size = sizeof(struct nd_entry),
    .release = nd_release,
    .describe = nd_describe,
};

static unsigned nd_bucket(const struct rn_ip6 *ip)
{
    uint32_t w = rn_get_be32(ip->i6_octet + 12) ^ rn_get_be32(ip->i6_octet + 8);

    return (w * 2654435761u) >> 24 & (NET_ND_BUCKETS - 1);
}

static struct nd_entry *nd_lookup(struct rn_stack *st, const struct rn_iface *ifp,
                                  const struct rn_ip6 *ip)
{
    struct nd_entry *e;

    for (e = net_st(st)->ns_nd[nd_bucket(ip)]; e != NULL; e = e->ne_next)
        if (e->ne_iface == ifp && rn_ip6_eq(&e->ne_ip, ip))
            return e;
    return NULL;
}

static void inc_unlink(struct net_stack *ns, struct nd_entry *e)
{
    if (e->ne_iprev == NULL && ns->ns_nd_inc_oldest != e)
        return;
    if (e->ne_iprev != NULL)
        e->ne_iprev->ne_inext = e->ne_inext;
    else
        ns->ns_nd_inc_oldest = e->ne_inext;
    if (e->ne_inext != NULL)
        e->ne_inext->ne_iprev = e->ne_iprev;
    else
        ns->ns_nd_inc_newest = e->ne_iprev;
    e->ne_inext = e->ne_iprev = NULL;
    ns->ns_nd_nincomplete--;
}

/* Unlinks, stops and kills an entry; its queued datagrams are dropped as
 * unresolved.  If the neighbour never answered (unreachable), each sender
 * is told its destination is unreachable, as an ICMPv6 address
 * unreachable would (RFC 4861 7.2.2). */
static void nd_remove(struct rn_stack *st, struct nd_entry *e, bool unreachable)
{
    struct nd_entry **pp = &net_st(st)->ns_nd[nd_bucket(&e->ne_ip)];
    struct rn_netbuf *nb;

    while (*pp != e)
        pp = &(*pp)->ne_next;
    *pp = e->ne_next;
    inc_unlink(net_st(st), e);
    net_st(st)->ns_nnd--;
    rn_timer_cancel(&st->st_timers, &e->ne_timer);
    while ((nb = rn_nbq_get(&e->ne_queue)) != NULL) {
        if (unreachable)
            rn__net_icmp6_local_unreach(st, nb, RN_ICMP6_UNREACH_ADDR);
        rn__net_drop(st, e->ne_iface, nb, RN_DROP_ND_UNRESOLVED);
    }
    rn_ob_kill(e);
}

/* Sends a neighbour solicitation for target on ifp: to dst (the target's
 * solicited-node group, or the target itself to probe), from src (:: for
 * DAD, which then carries no link-layer option). */
static void nd_send_ns(struct rn_iface *ifp, const struct rn_ip6 *src, const struct rn_ip6 *dst,
                       const struct rn_ip6 *target)
{
    struct rn_stack *st = ifp->if_stack;
    struct ip6_out out = {.o6_dst = *dst, .o6_proto = RN_IPPROTO_ICMPV6, .o6_hlim = 255,
                          .o6_iface = ifp};
    struct rn_netbuf *nb = rn__ip_alloc(st, rn__net_types.nt_own_tx);
    uint8_t *p;
    size_t n;

    if (nb == NULL)
        return;
    p = rn_nb_put(nb, RN_ND_NS_LL_LEN);
    if (p == NULL) {
        rn__net_drop(st, ifp, nb, RN_DROP_NO_BUFFER);
        return;
    }
    if (rn_ip6_is_any(src))
        out.o6_src_any = true;
    out.o6_src = *src;
    n = rn__nd6_emit_ns(p, src, dst, target, rn_ip6_is_any(src) ? NULL : &ifp->if_mac);
    rn_nb_trim(nb, n);
    net_st(st)->ns_nd_out++;
    rn__net_ip6_output(st, nb, &out);
}

/* Sends a neighbour advertisement for target (one of ifp's addresses,
 * also the source) to dst with flags: straight to the link address *mac
 * if it is given, else through the route and the cache. */
static void nd_send_na(struct rn_iface *ifp, const struct rn_ip6 *target, const struct rn_ip6 *dst,
                       uint32_t flags, const struct rn_mac *mac)
{
    struct rn_stack *st = ifp->if_stack;
    struct ip6_out out = {.o6_src = *target, .o6_dst = *dst, .o6_proto = RN_IPPROTO_ICMPV6,
                          .o6_hlim = 255, .o6_iface = ifp};
    struct rn_netbuf *nb = rn__ip_alloc(st, rn__net_types.nt_own_tx);
    struct rn_ip6_hdr ip;
    uint8_t *p;

    if (nb == NULL)
        return;
    p = rn_nb_put(nb, RN_ND_NS_LL_LEN);
    if (p == NULL) {
        rn__net_drop(st, ifp, nb, RN_DROP_NO_BUFFER);
        return;
    }
    rn__nd6_emit_na(p, target, dst, target, flags, &ifp->if_mac);
    net_st(st)->ns_nd_out++;
    if (mac == NULL) {
        rn__net_ip6_output(st, nb, &out);
        return;
    }
    memset(&ip, 0, sizeof(ip));
    ip.ip6_plen = RN_ND_NS_LL_LEN;
    ip.ip6_nxt = RN_IPPROTO_ICMPV6;
    ip.ip6_hlim = 255;
    ip.ip6_src = *target;
    ip.ip6_dst = *dst;
    p = rn_nb_push(nb, RN_IP6_HLEN);
    if (p == NULL) {
        rn__net_drop(st, ifp, nb, RN_DROP_NO_BUFFER);
        return;
    }
    rn__ip6_emit(p, &ip);
    net_st(st)->ns_ip6_out++;
    rn__net_eth_output(ifp, nb, mac, RN_ETHERTYPE_IPV6);
}

/* Solicits e's address: to its solicited-node group while INCOMPLETE,
 * to the address itself while PROBE. */
static void nd_solicit(struct nd_entry *e)
{
    struct rn_ip6 src, dst;
    enum arp_state s = (enum arp_state)atomic_load_explicit(&e->ne_state, memory_order_relaxed);

    e->ne_tries++;
    if (!rn__net_ip6_pick_src(e->ne_iface, &e->ne_ip, &src))
        return;
    dst = s == ARP_INCOMPLETE ? rn_ip6_solicited_node(&e->ne_ip) : e->ne_ip;
    nd_send_ns(e->ne_iface, &src, &dst, &e->ne_ip);
}

/* How long a resolved entry on ifp stays REACHABLE, and the wait between
 * solicitations: what a router advertised (RFC 4861 6.3.4), else the
 * ARP cache's settings. */
static rn_time_t nd_reachable(const struct rn_iface *ifp)
{
    return ifp->if_nd_reachable != 0 ? ifp->if_nd_reachable
                                     : net_st(ifp->if_stack)->ns_params.sp_arp_ttl;
}

static rn_time_t nd_retrans(const struct rn_iface *ifp)
{
    return ifp->if_nd_retrans != 0 ? ifp->if_nd_retrans
                                   : net_st(ifp->if_stack)->ns_params.sp_arp_retry;
}

static void nd_timer(struct rn_timer *t, rn_time_t now)
{
    struct nd_entry *e = (struct nd_entry *)((char *)t - offsetof(struct nd_entry, ne_timer));
    struct rn_stack *st = e->ne_iface->if_stack;
    enum arp_state s = (enum arp_state)atomic_load_explicit(&e->ne_state, memory_order_relaxed);

    switch (s) {
    case ARP_REACHABLE:
        /* ReachableTime without a confirmation: STALE, kept while it may
         * be used again, then let go. */
        atomic_store_explicit(&e->ne_state, ARP_STALE, memory_order_relaxed);
        rn_timer_arm(&st->st_timers, &e->ne_timer, now + net_st(st)->ns_params.sp_arp_ttl);
        return;
    case ARP_STALE:
        nd_remove(st, e, false);
        return;
    case ARP_DELAY:
        atomic_store_explicit(&e->ne_state, ARP_PROBE, memory_order_relaxed);
        e->ne_tries = 0;
        break;
    case ARP_INCOMPLETE:
    case ARP_PROBE:
        break;
    }
    if (e->ne_tries >= (s == ARP_INCOMPLETE ? net_st(st)->ns_params.sp_arp_tries
                                             : ND_MAX_UNICAST_SOLICIT)) {
        nd_remove(st, e, s == ARP_INCOMPLETE);
        return;
    }
    nd_solicit(e);
    rn_timer_arm(&st->st_timers, &e->ne_timer, now + nd_retrans(e->ne_iface));
}

/* Makes room for one more entry (see the ARP cache's arp_room()). */
static bool nd_room(struct rn_stack *st)
{
    struct net_stack *ns = net_st(st);
    uint32_t max = ns->ns_params.sp_arp_max_entries;
    struct nd_entry *e;
    unsigned b;

    if (ns->ns_nd_inc_oldest != NULL &&
        (ns->ns_nnd >= max || ns->ns_nd_nincomplete >= (max + 1) / 2)) {
        ns->ns_nd_evicted++;
        nd_remove(st, ns->ns_nd_inc_oldest, false);
        return true;
    }
    if (ns->ns_nnd < max)
        return true;
    for (b = 0; b < NET_ND_BUCKETS; b++) {
        for (e = ns->ns_nd[b]; e != NULL; e = e->ne_next) {
            if (!e->ne_used) {
                ns->ns_nd_evicted++;
                nd_remove(st, e, false);
                return true;
            }
        }
    }
    return false;
}

static struct nd_entry *nd_create(struct rn_iface *ifp, const struct rn_ip6 *ip)
{
    struct rn_stack *st = ifp->if_stack;
    struct net_stack *ns = net_st(st);
    struct nd_entry *e;
    unsigned b;

    if (!nd_room(st))
        return NULL;
    e = rn_ob_create(rn__net_types.nt_nd, rn__net_types.nt_tag_nd_table);
    if (e == NULL)
        return NULL;
    rn_ob_ref(ifp, rn__net_types.nt_tag_neighbour);
    e->ne_iface = ifp;
    e->ne_ip = *ip;
    atomic_store_explicit(&e->ne_state, ARP_INCOMPLETE, memory_order_relaxed);
    rn_nbq_init(&e->ne_queue);
    rn_timer_init(&e->ne_timer, nd_timer);
    b = nd_bucket(ip);
    e->ne_next = ns->ns_nd[b];
    ns->ns_nd[b] = e;
    ns->ns_nnd++;
    e->ne_iprev = ns->ns_nd_inc_newest;
    if (e->ne_iprev != NULL)
        e->ne_iprev->ne_inext = e;
    else
        ns->ns_nd_inc_oldest = e;
    ns->ns_nd_inc_newest = e;
    ns->ns_nd_nincomplete++;
    rn_ob_publish(e);
    return e;
}

/* True if one more resolution may start now: a token bucket. */
static bool nd_new_allowed(struct rn_stack *st)
{
    struct net_stack *ns = net_st(st);
    rn_time_t elapsed = st->st_now - ns->ns_nd_new_second;
    uint64_t add = ns->ns_nd_new_second == 0 ? ND_NEW_BURST
                                             : elapsed * ND_NEW_PER_SEC / RN_SEC(1);

    if (add > 0) {
        ns->ns_nd_new_tokens = ns->ns_nd_new_tokens + add >= ND_NEW_BURST
                                   ? ND_NEW_BURST
                                   : ns->ns_nd_new_tokens + (uint32_t)add;
        ns->ns_nd_new_second = ns->ns_nd_new_tokens == ND_NEW_BURST || ns->ns_nd_new_second == 0
                                   ? st->st_now
                                   : ns->ns_nd_new_second + add * RN_SEC(1) / ND_NEW_PER_SEC;
    }
    if (ns->ns_nd_new_tokens == 0) {
        ns->ns_nd_ratelimited++;
        return false;
    }
    ns->ns_nd_new_tokens--;
    return true;
}

/* Records mac for e, REACHABLE (a confirmation: a solicited
 * advertisement) or else STALE (an address learnt without one), and sends
 * what was waiting for it. */
static void nd_update(struct nd_entry *e, const struct rn_mac *mac, bool confirmed)
{
    struct rn_stack *st = e->ne_iface->if_stack;
    struct rn_netbuf *nb;

    inc_unlink(net_st(st), e);
    atomic_store_explicit(&e->ne_mac, mac_pack(mac), memory_order_relaxed);
    e->ne_tries = 0;
    if (confirmed) {
        atomic_store_explicit(&e->ne_state, ARP_REACHABLE, memory_order_relaxed);
        e->ne_used = false;
        e->ne_expires = st->st_now + nd_reachable(e->ne_iface);
        rn_timer_arm(&st->st_timers, &e->ne_timer, e->ne_expires);
    } else {
        atomic_store_explicit(&e->ne_state, ARP_STALE, memory_order_relaxed);
        e->ne_expires = 0;
        rn_timer_arm(&st->st_timers, &e->ne_timer,
                     st->st_now + net_st(st)->ns_params.sp_arp_ttl);
    }
    if (e->ne_queue.nq_len == 0)
        return;
    /* Datagrams were waiting: sending them is using a stale entry. */
    if (!confirmed) {
        atomic_store_explicit(&e->ne_state, ARP_DELAY, memory_order_relaxed);
        rn_timer_arm(&st->st_timers, &e->ne_timer, st->st_now + ND_DELAY_FIRST_PROBE);
    }
    e->ne_used = true;
    while ((nb = rn_nbq_get(&e->ne_queue)) != NULL)
        rn__net_eth_output(e->ne_iface, nb, mac, RN_ETHERTYPE_IPV6);
}

static void nd_resolved(struct nd_entry *e, const struct rn_mac *mac)
{
    nd_update(e, mac, true);
}

/* Learns mac for e from a message that does not confirm reachability (a
 * solicitation, an advertisement or redirect from a router): a new entry
 * or a changed address becomes STALE, the same address changes nothing
 * (RFC 4861 7.2.3). */
static void nd_learn_stale(struct nd_entry *e, const struct rn_mac *mac)
{
    if (atomic_load_explicit(&e->ne_state, memory_order_relaxed) != ARP_INCOMPLETE &&
        atomic_load_explicit(&e->ne_mac, memory_order_relaxed) == mac_pack(mac))
        return;
    nd_update(e, mac, false);
}

void rn__net_nd_output(struct rn_iface *ifp, struct rn_netbuf *nb, const struct rn_ip6 *nexthop)
{
    struct rn_stack *st = ifp->if_stack;
    struct nd_entry *e;

    if (rn_ip6_is_multicast(nexthop)) {
        struct rn_mac m = rn_ip6_mcast_mac(nexthop);

        rn__net_eth_output(ifp, nb, &m, RN_ETHERTYPE_IPV6);
        return;
    }
    e = nd_lookup(st, ifp, nexthop);
    if (e != NULL && atomic_load_explicit(&e->ne_state, memory_order_relaxed) != ARP_INCOMPLETE) {
        struct rn_mac mac = mac_unpack(atomic_load_explicit(&e->ne_mac, memory_order_relaxed));

        /* RFC 4861 7.3.3: the first datagram to a stale entry starts the
         * delay before probing. */
        if (atomic_load_explicit(&e->ne_state, memory_order_relaxed) == ARP_STALE) {
            atomic_store_explicit(&e->ne_state, ARP_DELAY, memory_order_relaxed);
            rn_timer_arm(&st->st_timers, &e->ne_timer, st->st_now + ND_DELAY_FIRST_PROBE);
        }
        e->ne_used = true;
        rn__net_eth_output(ifp, nb, &mac, RN_ETHERTYPE_IPV6);
        return;
    }
    if (e == NULL) {
        e = nd_new_allowed(st) ? nd_create(ifp, nexthop) : NULL;
        if (e == NULL) {
            rn__net_drop(st, ifp, nb, RN_DROP_ND_UNRESOLVED);
            return;
        }
        nd_solicit(e);
        rn_timer_arm(&st->st_timers, &e->ne_timer, st->st_now + nd_retrans(ifp));
    }
    if (e->ne_queue.nq_len >= net_st(st)->ns_params.sp_arp_queue_max) {
        rn__net_drop(st, ifp, nb, RN_DROP_QUEUE_FULL);
        return;
    }
    if ((nb = rn__net_hold(st, ifp, nb)) == NULL)
        return;
    rn_nb_set_owner(nb, rn__net_types.nt_own_ndq);
    rn_nbq_put(&e->ne_queue, nb);
}

void rn__net_nd_learn(struct rn_iface *ifp, const struct rn_ip6 *ip, const struct rn_mac *mac,
                      bool router)
{
    struct rn_stack *st = ifp->if_stack;
    struct nd_entry *e = nd_lookup(st, ifp, ip);

    if (e == NULL && (net_st(st)->ns_nnd >= net_st(st)->ns_params.sp_arp_max_entries ||
                      (e = nd_create(ifp, ip)) == NULL))
        return;
    e->ne_router = e->ne_router || router;
    nd_learn_stale(e, mac);
}

void rn__net_nd_confirm(struct rn_stack *st, const struct rn_ip6 *dst)
{
    struct ip6_hop hop;
    struct nd_entry *e;
    enum arp_state s;

    if (!rn__net_ip6_route(st, dst, NULL, &hop) || rn_ip6_is_multicast(&hop.h_nexthop) ||
        (e = nd_lookup(st, hop.h_iface, &hop.h_nexthop)) == NULL)
        return;
    s = (enum arp_state)atomic_load_explicit(&e->ne_state, memory_order_relaxed);
    if (s == ARP_INCOMPLETE)
        return;
    /* Already fresh for most of its time: nothing to do (the common case
     * on a busy connection, no timer touched). */
    if (s == ARP_REACHABLE && e->ne_expires - st->st_now > nd_reachable(e->ne_iface) / 2)
        return;
    {
        struct rn_mac mac = mac_unpack(atomic_load_explicit(&e->ne_mac, memory_order_relaxed));
        bool used = e->ne_used || s != ARP_REACHABLE;

        nd_resolved(e, &mac);
        e->ne_used = used;
    }
}

bool rn__net_nd_resolved(struct rn_stack *st, const struct rn_iface *ifp, const struct rn_ip6 *ip)
{
    const struct nd_entry *e = nd_lookup(st, ifp, ip);

    return e != NULL && atomic_load_explicit(&e->ne_state, memory_order_relaxed) != ARP_INCOMPLETE;
}

/* RFC 4861 7.2.5: what an advertisement nd does to the entry e of its
 * target. */
static void nd_advert(struct nd_entry *e, const struct rn_nd6 *nd)
{
    enum arp_state s = (enum arp_state)atomic_load_explicit(&e->ne_state, memory_order_relaxed);
    bool solicited = (nd->nd_flags & RN_ND_NA_SOLICITED) != 0;
    bool override = (nd->nd_flags & RN_ND_NA_OVERRIDE) != 0;
    struct rn_mac mac;
    bool same;

    if (s == ARP_INCOMPLETE) {
        if (!nd->nd_has_lladdr)
            return;
        e->ne_router = (nd->nd_flags & RN_ND_NA_ROUTER) != 0;
        nd_update(e, &nd->nd_lladdr, solicited);
        return;
    }
    mac = mac_unpack(atomic_load_explicit(&e->ne_mac, memory_order_relaxed));
    same = !nd->nd_has_lladdr || memcmp(mac.mac_octet, nd->nd_lladdr.mac_octet, RN_MAC_LEN) == 0;
    /* A router that says it no longer is one leaves the default router
     * list (7.2.5). */
    if (e->ne_router && !(nd->nd_flags & RN_ND_NA_ROUTER) && (override || same))
        rn__net_rd6_router_gone(e->ne_iface, &e->ne_ip);
    if (!override && !same) {
        /* Another address, not overriding ours: ours is now doubtful. */
        if (s == ARP_REACHABLE) {
            struct rn_stack *st = e->ne_iface->if_stack;

            atomic_store_explicit(&e->ne_state, ARP_STALE, memory_order_relaxed);
            rn_timer_arm(&st->st_timers, &e->ne_timer,
                         st->st_now + net_st(st)->ns_params.sp_arp_ttl);
        }
        return;
    }
    e->ne_router = (nd->nd_flags & RN_ND_NA_ROUTER) != 0;
    if (!same)
        mac = nd->nd_lladdr;
    if (solicited)
        nd_update(e, &mac, true);
    else if (!same)
        nd_update(e, &mac, false);
}

/* Another node holds a, an address of ifp under DAD: it goes duplicate,
 * which `refnet ifconfig` shows and nd.dad_conflicts counts. */
static void dad_conflict(struct rn_iface *ifp, struct iface_addr6 *a)
{
    if (a->a6_state == RN_ADDR6_DUPLICATE)
        return;
    a->a6_state = RN_ADDR6_DUPLICATE;
    a->a6_dad_left = 0;
    net_st(ifp->if_stack)->ns_nd_dad_conflicts++;
}

void rn__net_nd_input(struct rn_stack *st, const struct rn_icmp6_hdr *ic, const struct ip6_rx *rx)
{
    struct rn_iface *ifp = rx->r6_iface;
    struct iface_addr6 *a;
    struct nd_entry *e;
    struct rn_nd6 nd;
    enum rn_drop reason;

    reason = rn__nd6_parse(ic, rx->r6_hlim, &rx->r6_src, &rx->r6_dst, &nd);
    if (reason != RN_DROP_NONE) {
        rn__stack_count_drop(st, ifp, reason);
        return;
    }
    RN__RX_COUNT(st, net_st(st)->ns_nd_in++);
    a = rn__net_ip6_iface_addr(ifp, &nd.nd_target);
    if (ic->ic6_type == RN_ICMP6_NEIGHBOR_ADVERT) {
        /* An advertisement for one of our addresses: another node holds
         * it (RFC 4862 5.4.4); a tentative one is then duplicate, and a
         * preferred one stays ours (a host need not defend it). */
        if (a != NULL && a->a6_state != RN_ADDR6_DUPLICATE) {
            if (a->a6_state == RN_ADDR6_TENTATIVE)
                dad_conflict(ifp, a);
            return;
        }
        /* For an address of ours found duplicate: its holder's, to learn
         * like any other's. */
        e = nd_lookup(st, ifp, &nd.nd_target);
        if (e == NULL)
            return;  /* unsolicited, about a node we do not talk to */
        nd_advert(e, &nd);
        return;
    }
    /* A solicitation. */
    if (a == NULL || a->a6_state == RN_ADDR6_DUPLICATE) {
        rn__stack_count_drop(st, ifp, RN_DROP_NOT_FOR_US);
        return;
    }
    if (a->a6_state == RN_ADDR6_TENTATIVE) {
        /* Another node's DAD for the same address: it is theirs as much
         * as ours, so neither may use it (RFC 4862 5.4.3). */
        if (rn_ip6_is_any(&rx->r6_src))
            dad_conflict(ifp, a);
        return;
    }
    if (rn_ip6_is_any(&rx->r6_src)) {
        /* DAD for an address we hold: defend it, to all nodes (queue 0's
         * stack does, for a copy). */
        struct rn_ip6 all = RN_IP6_ALL_NODES;

        if (rx->r6_copy)
            return;
        nd_send_na(ifp, &a->a6_addr, &all, RN_ND_NA_OVERRIDE, NULL);
        return;
    }
    /* Learn the sender (RFC 4861 7.2.3) while there is room, and answer
     * it.  With its link address in hand the answer goes straight to it,
     * past the cache, as an ARP reply does: a flood of solicitations then
     * neither marks the entries it made as used nor needs one of its own
     * for each sender. */
    if (nd.nd_has_lladdr) {
        e = nd_lookup(st, ifp, &rx->r6_src);
        if (e != NULL)
            nd_learn_stale(e, &nd.nd_lladdr);
        else if (net_st(st)->ns_nnd < net_st(st)->ns_params.sp_arp_max_entries &&
                 (e = nd_create(ifp, &rx->r6_src)) != NULL)
            nd_learn_stale(e, &nd.nd_lladdr);
    }
    if (rx->r6_copy)
        return;  /* queue 0's stack answers the original */
    nd_send_na(ifp, &a->a6_addr, &rx->r6_src, RN_ND_NA_SOLICITED | RN_ND_NA_OVERRIDE,
               nd.nd_has_lladdr ? &nd.nd_lladdr : NULL);
}

/* ---- Addresses and DAD ---------------------------------------------------- */

/* Sends the DAD solicitations due and turns addresses whose wait is over
 * preferred.  Re-arms while any address is tentative. */
static void dad_timer(struct rn_timer *t, rn_time_t now)
{
    struct rn_iface *ifp = (struct rn_iface *)((char *)t - offsetof(struct rn_iface, if_dad_timer));
    bool again = false;
    unsigned i;

    for (i = 0; i < ifp->if_naddr6; i++) {
        struct iface_addr6 *a = &ifp->if_addr6[i];

        if (a->a6_state != RN_ADDR6_TENTATIVE)
            continue;
        if (a->a6_dad_left > 0) {
            struct rn_ip6 sn = rn_ip6_solicited_node(&a->a6_addr);

            a->a6_dad_left--;
            nd_send_ns(ifp, &RN_IP6_ANY, &sn, &a->a6_addr);
            again = true;
        } else {
            /* An autoconfigured address whose preferred lifetime ran out
             * under DAD is born deprecated (RFC 4862 5.5.4). */
            a->a6_state = a->a6_auto && a->a6_pref_until != 0 && a->a6_pref_until <= now
                              ? RN_ADDR6_DEPRECATED
                              : RN_ADDR6_PREFERRED;
        }
    }
    if (again)
        rn_timer_arm(&ifp->if_stack->st_timers, &ifp->if_dad_timer, now + ND_RETRANS);
}

struct iface_addr6 *rn__net_nd_addr6_add(struct rn_iface *ifp, const struct rn_ip6 *addr,
                                         unsigned plen, int *err)
{
    struct rn_stack *st = ifp->if_stack;
    struct iface_addr6 *a;

    if (rn__net_ip6_iface_addr(ifp, addr) != NULL) {
        *err = RN_EEXIST;
        return NULL;
    }
    if (ifp->if_naddr6 == NET_MAX_ADDR6) {
        *err = RN_ENOMEM;
        return NULL;
    }
    a = &ifp->if_addr6[ifp->if_naddr6++];
    memset(a, 0, sizeof(*a));
    a->a6_addr = *addr;
    a->a6_plen = (uint8_t)plen;
    if (ifp->if_shadow) {
        /* Queue 0's stack checks and reports the same address. */
        a->a6_state = RN_ADDR6_PREFERRED;
        *err = 0;
        return a;
    }
    a->a6_state = RN_ADDR6_TENTATIVE;
    a->a6_dad_left = ND_DAD_TRANSMITS;
    /* The first solicitation goes at the next poll, so a batch of
     * addresses is probed together. */
    if (!rn_timer_armed(&ifp->if_dad_timer))
        rn_timer_arm(&st->st_timers, &ifp->if_dad_timer, st->st_now);
    rn__net_mld6_join(ifp, a);
    *err = 0;
    return a;
}

static int addr6_add(struct rn_iface *ifp, const struct rn_ip6 *addr, unsigned plen)
{
    int err;

    (void)rn__net_nd_addr6_add(ifp, addr, plen, &err);
    return err;
}

void rn__net_nd_iface_up(struct rn_iface *ifp)
{
    struct rn_ip6 ll;

    if (ifp->if_ipv6)
        return;
    ifp->if_ipv6 = true;
    rn_timer_init(&ifp->if_dad_timer, dad_timer);
    rn__net_mld6_iface_up(ifp);
    ll = rn_ip6_linklocal_from_mac(&ifp->if_mac);
    (void)addr6_add(ifp, &ll, 64);
    rn__net_rd6_iface_up(ifp);
}

int rn_iface_add_addr6(struct rn_iface *ifp, const struct rn_ip6 *addr, unsigned plen)
{
    if (plen == 0 || plen > 128 || rn_ip6_is_any(addr) || rn_ip6_is_loopback(addr) ||
        rn_ip6_is_multicast(addr) || rn_ip6_is_v4mapped(addr) || rn_ip6_is_linklocal(addr))
        return RN_EINVAL;
    rn__net_nd_iface_up(ifp);
    return addr6_add(ifp, addr, plen);
}

void rn__net_nd_flush_iface(struct rn_iface *ifp)
{
    struct rn_stack *st = ifp->if_stack;
    struct nd_entry *e, *next;
    unsigned b;

    if (ifp->if_ipv6) {
        rn_timer_cancel(&st->st_timers, &ifp->if_dad_timer);
        rn__net_mld6_flush_iface(ifp);
    }
    for (b = 0; b < NET_ND_BUCKETS; b++) {
        for (e = net_st(st)->ns_nd[b]; e != NULL; e = next) {
            next = e->ne_next;
            if (e->ne_iface == ifp)
                nd_remove(st, e, false);
        }
    }
}

void rn__net_nd_flush(struct rn_stack *st)
{
    unsigned b, i;

    for (i = 0; i < net_st(st)->ns_nifaces; i++)
        if (net_st(st)->ns_ifaces[i]->if_ipv6) {
            rn_timer_cancel(&st->st_timers, &net_st(st)->ns_ifaces[i]->if_dad_timer);
            rn__net_mld6_flush_iface(net_st(st)->ns_ifaces[i]);
        }
    for (b = 0; b < NET_ND_BUCKETS; b++)
        while (net_st(st)->ns_nd[b] != NULL)
            nd_remove(st, net_st(st)->ns_nd[b], false);
}

void rn__net_nd_rows(struct rn_stack *st, rn_neigh_row_fn fn, void *ctx)
{
    struct net_stack *ns = net_st(st);
    const struct nd_entry *e;
    unsigned b;

    for (b = 0; b < NET_ND_BUCKETS; b++) {
        for (e = ns->ns_nd[b]; e != NULL; e = e->ne_next) {
            enum arp_state s =
                (enum arp_state)atomic_load_explicit(&e->ne_state, memory_order_relaxed);
            struct rn_neigh_row row = {
                .nr_iface = e->ne_iface->if_name,
                .nr_state = (enum rn_neigh_state)s,
                .nr_queued = e->ne_queue.nq_len,
                .nr_id = rn_ob_id(e),
                .nr_refs = rn_ob_refcount(e),
                .nr_family = 6,
                .nr_addr6 = e->ne_ip,
                .nr_router = e->ne_router,
            };

            if (s != ARP_INCOMPLETE)
                row.nr_mac = mac_unpack(atomic_load_explicit(&e->ne_mac, memory_order_relaxed));
            if (s == ARP_REACHABLE && e->ne_expires > st->st_now)
                row.nr_expires_in = e->ne_expires - st->st_now;
            fn(&row, ctx);
        }
    }
}

void rn_stack_addrs6(struct rn_stack *st, rn_addr6_row_fn fn, void *ctx)
{
    struct net_stack *ns = net_st(st);
    unsigned i, j;

    for (i = 0; i < ns->ns_nifaces; i++) {
        const struct rn_iface *ifp = ns->ns_ifaces[i];

        for (j = 0; j < ifp->if_naddr6; j++) {
            struct rn_addr6_row row = {
                .ar_iface = ifp->if_name,
                .ar_addr = ifp->if_addr6[j].a6_addr,
                .ar_plen = ifp->if_addr6[j].a6_plen,
                .ar_state = (enum rn_addr6_state)ifp->if_addr6[j].a6_state,
            };

            fn(&row, ctx);
        }
    }
}
