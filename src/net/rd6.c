/*
 * Router discovery for IPv6 as a host (RFC 4861 6.3), stateless address
 * autoconfiguration (RFC 4862 5.5), redirects (RFC 4861 8) and the
 * destination cache that redirects and packets too big (RFC 8201) fill.
 *
 *   rn__net_icmp6_input() -> rn__net_rd6_ra_input()       -> routes, addresses
 *                         -> rn__net_rd6_redirect_input() -> destination cache
 *                         -> rn__net_rd6_too_big_input()  -> destination cache
 *   rn__net_ip6_route() -> rn__net_dest6_lookup(), rn__net_route6_lookup()
 *
 * An interface whose IPv6 turns on solicits routers: up to
 * MAX_RTR_SOLICITATIONS (3), the first after a random delay of up to a
 * second, then every 4 seconds, until an advertisement comes (6.3.7).
 *
 * What advertisements teach lives in two bounded lists, both ledger
 * objects ("route6", held by the list under "route-table", each holding
 * its interface under "route", as IPv4 routes do): the default routers
 * (at most NET_MAX_ROUTERS6) and the on-link prefixes (at most
 * NET_MAX_PREFIXES6), each with its lifetime.  Autonomous /64 prefixes
 * give addresses (at most NET_MAX_SLAAC6 an interface) made of the prefix
 * and the interface identifier of the MAC (modified EUI-64), tentative
 * under DAD, deprecated when their preferred lifetime runs out and removed
 * with their valid one; the two-hour rule of 5.5.3 (e) keeps a forged
 * advertisement from cutting one short.  A flood of advertisements from
 * made-up routers or with made-up prefixes fills the lists and no more:
 * what does not fit is counted under its drop reason and ignored.
 *
 * The destination cache is a fixed table of NET_DEST6_SETS sets of
 * NET_DEST6_WAYS entries in the stack, hashed by destination; the least
 * recently used entry of a set gives way.  A redirect is taken only from
 * the router we use for its destination; a packet too big only about a
 * datagram we sent, and only to lower the path MTU, never below 1280; it
 * is forgotten after 10 minutes (RFC 8201 4) so that a larger MTU is
 * found again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "wire/bytes.h"
#include "wire/icmpv6.h"

#define RD_MAX_RS 3                      /* MAX_RTR_SOLICITATIONS */
#define RD_RS_INTERVAL RN_SEC(4)         /* RTR_SOLICITATION_INTERVAL */
#define RD_RS_MAX_DELAY RN_SEC(1)        /* MAX_RTR_SOLICITATION_DELAY */
#define RD_TWO_HOURS RN_SEC(2 * 3600)    /* RFC 4862 5.5.3 (e) */
#define RD_MAX_REACHABLE RN_MSEC(3600000)  /* MAX_REACHABLE_TIME */
#define RD_PMTU_AGE RN_SEC(600)          /* RFC 8201 4: a path MTU's life */
#define RD_MIN_MTU 1280                  /* RFC 8200 5 */
#define RD_INFINITE 0xffffffffu          /* a lifetime that never runs out */

/* ---- Randomness and time ------------------------------------------------ */

/* A number in [0, n): xorshift, seeded from the stack's seed, so that a
 * simulation replays. */
uint64_t rn__net_rd6_rand(struct rn_stack *st, uint64_t n)
{
    struct net_stack *ns = net_st(st);
    uint64_t x = ns->ns_rand6;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ns->ns_rand6 = x;
    return n == 0 ? 0 : x % n;
}

/* The time a lifetime of secs seconds runs out, from now; 0: never. */
static rn_time_t rd_until(rn_time_t now, uint32_t secs)
{
    if (secs == RD_INFINITE)
        return 0;
    return now + RN_SEC((rn_time_t)secs);
}

/* ---- Router solicitation ------------------------------------------------ */

static void rs_send(struct rn_iface *ifp)
{
    struct rn_stack *st = ifp->if_stack;
    struct ip6_out out = {.o6_proto = RN_IPPROTO_ICMPV6, .o6_hlim = 255, .o6_iface = ifp};
    struct rn_ip6 all_routers = {{0xff, 0x02, [15] = 2}};
    const struct iface_addr6 *ll = ifp->if_naddr6 > 0 ? &ifp->if_addr6[0] : NULL;
    struct rn_netbuf *nb;
    uint8_t *p;
    size_t len;

    nb = rn__ip_alloc(st, rn__net_types.nt_own_icmp);
    if (nb == NULL)
        return;
    p = rn_nb_put(nb, RN_ND_RS_LL_LEN);
    if (p == NULL) {
        rn__net_drop(st, ifp, nb, RN_DROP_NO_BUFFER);
        return;
    }
    out.o6_dst = all_routers;
    /* From the link-local address once DAD let it be used, else from ::
     * without a link-layer option (RFC 4861 4.1, 6.3.7). */
    if (ll != NULL && rn_ip6_is_linklocal(&ll->a6_addr) && rn__net_addr6_usable(ll)) {
        out.o6_src = ll->a6_addr;
        len = rn__nd6_emit_rs(p, &out.o6_src, &out.o6_dst, &ifp->if_mac);
    } else {
        out.o6_src_any = true;
        len = rn__nd6_emit_rs(p, &RN_IP6_ANY, &out.o6_dst, NULL);
    }
    rn_nb_trim(nb, len);
    /* Counted as neighbour discovery (nd.rs_out), as solicitations and
     * advertisements are (nd.out), not in icmp6.out. */
    net_st(st)->ns_nd_rs_out++;
    rn__net_ip6_output(st, nb, &out);
}

static void rs_timer(struct rn_timer *t, rn_time_t now)
{
    struct rn_iface *ifp = (struct rn_iface *)((char *)t - offsetof(struct rn_iface, if_rs_timer));

    if (ifp->if_ra_seen || ifp->if_rs_left == 0)
        return;
    ifp->if_rs_left--;
    rs_send(ifp);
    if (ifp->if_rs_left > 0)
        rn_timer_arm(&ifp->if_stack->st_timers, &ifp->if_rs_timer, now + RD_RS_INTERVAL);
}

static void rd_timer(struct rn_timer *t, rn_time_t now);

void rn__net_rd6_init(struct rn_stack *st)
{
    struct net_stack *ns = net_st(st);

    rn_timer_init(&ns->ns_rd_timer, rd_timer);
    ns->ns_rand6 = (ns->ns_params.sp_seed ^ 0x2545f4914f6cdd1dull) * 0x9e3779b97f4a7c15ull;
    if (ns->ns_rand6 == 0)
        ns->ns_rand6 = 1;
}

void rn__net_rd6_iface_up(struct rn_iface *ifp)
{
    struct rn_stack *st = ifp->if_stack;

    ifp->if_mtu6 = ifp->if_mtu;
    ifp->if_rs_left = RD_MAX_RS;
    rn_timer_init(&ifp->if_rs_timer, rs_timer);
    if (ifp->if_shadow)
        return;  /* queue 0's stack solicits; its routers' adverts come as copies */
    rn_timer_arm(&st->st_timers, &ifp->if_rs_timer, st->st_now + rn__net_rd6_rand(st, RD_RS_MAX_DELAY));
}

/* ---- The route6 objects ------------------------------------------------- */

static void route6_release(void *ob)
{
    struct net_route6 *rt = ob;

    if (rt->rt6_iface != NULL)
        rn_ob_deref(rt->rt6_iface, RN_TAG_ROUTE);
}

static void route6_describe(const void *ob, char *buf, size_t len)
{
    const struct net_route6 *rt = ob;
    char dst[RN_IP6_STRLEN], gw[RN_IP6_STRLEN];

    if (rt->rt6_iface == NULL)
        return;
    rn_ip6_addr_fmt(&rt->rt6_dst, dst);
    rn_ip6_addr_fmt(&rt->rt6_gw, gw);
    if (rt->rt6_kind == ROUTE6_ROUTER)
        snprintf(buf, len, "route6 ::/0 via %s dev %s", gw, rt->rt6_iface->if_name);
    else
        snprintf(buf, len, "route6 %s/%u dev %s", dst, rt->rt6_plen, rt->rt6_iface->if_name);
}

const struct rn_ob_type_ops rn__net_route6_ops = {
    .name = "route6",
    .size = sizeof(struct net_route6),
    .release = route6_release,
    .describe = route6_describe,
};

static struct net_route6 *route6_find(struct rn_stack *st, enum route6_kind kind,
                                      const struct rn_iface *ifp, const struct rn_ip6 *key,
                                      uint8_t plen)
{
    struct net_route6 *rt;

    for (rt = net_st(st)->ns_routes6; rt != NULL; rt = rt->rt6_next) {
        if (rt->rt6_kind != kind || rt->rt6_iface != ifp)
            continue;
        if (kind == ROUTE6_ROUTER ? rn_ip6_eq(&rt->rt6_gw, key)
                                  : rt->rt6_plen == plen && rn_ip6_eq(&rt->rt6_dst, key))
            return rt;
    }
    return NULL;
}

static struct net_route6 *route6_add(struct rn_stack *st, enum route6_kind kind,
                                     struct rn_iface *ifp, const struct rn_ip6 *key, uint8_t plen)
{
    struct net_stack *ns = net_st(st);
    struct net_route6 *rt = rn_ob_create(rn__net_types.nt_route6,
                                         rn__net_types.nt_tag_route_table);

    if (rt == NULL)
        return NULL;
    rn_ob_ref(ifp, RN_TAG_ROUTE);
    rt->rt6_kind = (uint8_t)kind;
    rt->rt6_iface = ifp;
    if (kind == ROUTE6_ROUTER) {
        rt->rt6_gw = *key;
        ns->ns_nrouters6++;
    } else {
        rt->rt6_dst = rn_ip6_net(key, plen);
        rt->rt6_plen = plen;
        ns->ns_nprefixes6++;
    }
    rn_ob_publish(rt);
    rt->rt6_next = ns->ns_routes6;
    ns->ns_routes6 = rt;
    return rt;
}

/* Takes rt out of the list (prev is the entry before it, or NULL) and
 * lets the list's hold go. */
static void route6_unlink(struct rn_stack *st, struct net_route6 *prev, struct net_route6 *rt)
{
    struct net_stack *ns = net_st(st);

    if (prev != NULL)
        prev->rt6_next = rt->rt6_next;
    else
        ns->ns_routes6 = rt->rt6_next;
    if (rt->rt6_kind == ROUTE6_ROUTER)
        ns->ns_nrouters6--;
    else
        ns->ns_nprefixes6--;
}

static void route6_del(struct rn_stack *st, struct net_route6 *rt)
{
    struct net_route6 *prev = NULL, *r;

    for (r = net_st(st)->ns_routes6; r != NULL && r != rt; r = r->rt6_next)
        prev = r;
    if (r == NULL)
        return;
    route6_unlink(st, prev, rt);
    rn_ob_kill(rt);
}

const struct net_route6 *rn__net_route6_lookup(struct rn_stack *st, const struct rn_ip6 *dst)
{
    const struct net_route6 *rt, *best = NULL, *router = NULL, *live = NULL;

    for (rt = net_st(st)->ns_routes6; rt != NULL; rt = rt->rt6_next) {
        if (rt->rt6_kind == ROUTE6_PREFIX) {
            if (rn_ip6_in_prefix(dst, &rt->rt6_dst, rt->rt6_plen) &&
                (best == NULL || rt->rt6_plen > best->rt6_plen))
                best = rt;
        } else {
            /* RFC 4861 6.3.6: a router known reachable first, and the
             * same one while it stays so: the list is newest first, so
             * the last one found (the oldest) wins, and a flood of new
             * routers does not take the traffic away from it. */
            router = rt;
            if (rn__net_nd_resolved(st, rt->rt6_iface, &rt->rt6_gw))
                live = rt;
        }
    }
    if (best != NULL)
        return best;
    return live != NULL ? live : router;
}

/* ---- Lifetimes ---------------------------------------------------------- */

/* Arms the lifetime timer for the earliest of the routes' and the
 * autoconfigured addresses' ends. */
static void rd_rearm(struct rn_stack *st)
{
    struct net_stack *ns = net_st(st);
    const struct net_route6 *rt;
    rn_time_t next = 0;
    unsigned i, j;

    for (rt = ns->ns_routes6; rt != NULL; rt = rt->rt6_next)
        if (rt->rt6_expires != 0 && (next == 0 || rt->rt6_expires < next))
            next = rt->rt6_expires;
    for (i = 0; i < ns->ns_nifaces; i++) {
        const struct rn_iface *ifp = ns->ns_ifaces[i];

        for (j = 0; j < ifp->if_naddr6; j++) {
            const struct iface_addr6 *a = &ifp->if_addr6[j];

            if (!a->a6_auto)
                continue;
            if (a->a6_valid_until != 0 && (next == 0 || a->a6_valid_until < next))
                next = a->a6_valid_until;
            /* A tentative one too: DAD may end before or after. */
            if ((a->a6_state == RN_ADDR6_PREFERRED || a->a6_state == RN_ADDR6_TENTATIVE) &&
                a->a6_pref_until > st->st_now && (next == 0 || a->a6_pref_until < next))
                next = a->a6_pref_until;
        }
    }
    if (next == 0)
        rn_timer_cancel(&st->st_timers, &ns->ns_rd_timer);
    else
        rn_timer_arm(&st->st_timers, &ns->ns_rd_timer, next);
}

/* Removes ifp's address a (an autoconfigured one whose valid lifetime
 * ran out). */
static void addr6_remove(struct rn_iface *ifp, struct iface_addr6 *a)
{
    unsigned i = (unsigned)(a - ifp->if_addr6);

    rn__net_mld6_leave(ifp, a);
    memmove(&ifp->if_addr6[i], &ifp->if_addr6[i + 1],
            (ifp->if_naddr6 - i - 1) * sizeof(ifp->if_addr6[0]));
    ifp->if_naddr6--;
}

static void rd_timer(struct rn_timer *t, rn_time_t now)
{
    struct net_stack *ns = (struct net_stack *)((char *)t - offsetof(struct net_stack, ns_rd_timer));
    struct rn_stack *st = &ns->ns_rt;
    struct net_route6 *rt, *prev = NULL, *next;
    unsigned i, j;

    for (rt = ns->ns_routes6; rt != NULL; rt = next) {
        next = rt->rt6_next;
        if (rt->rt6_expires != 0 && rt->rt6_expires <= now) {
            route6_unlink(st, prev, rt);
            rn_ob_kill(rt);
            continue;
        }
        prev = rt;
    }
    for (i = 0; i < ns->ns_nifaces; i++) {
        struct rn_iface *ifp = ns->ns_ifaces[i];

        for (j = ifp->if_naddr6; j-- > 0;) {
            struct iface_addr6 *a = &ifp->if_addr6[j];

            if (!a->a6_auto)
                continue;
            if (a->a6_valid_until != 0 && a->a6_valid_until <= now)
                addr6_remove(ifp, a);
            else if (a->a6_state == RN_ADDR6_PREFERRED && a->a6_pref_until != 0 &&
                     a->a6_pref_until <= now)
                a->a6_state = RN_ADDR6_DEPRECATED;
        }
    }
    rd_rearm(st);
}

/* ---- Router advertisements ---------------------------------------------- */

/* The interface identifier of ifp: the low 64 bits of its modified EUI-64
 * link-local address (RFC 4291 2.5.1). */
static void iface_id(const struct rn_iface *ifp, struct rn_ip6 *a)
{
    struct rn_ip6 ll = rn_ip6_linklocal_from_mac(&ifp->if_mac);

    memcpy(a->i6_octet + 8, ll.i6_octet + 8, 8);
}

/* RFC 4862 5.5.3: an autonomous prefix forms an address, or refreshes the
 * lifetimes of the one it formed. */
static void slaac_prefix(struct rn_iface *ifp, const struct rn_nd6_prefix *pi)
{
    struct rn_stack *st = ifp->if_stack;
    rn_time_t now = st->st_now;
    struct iface_addr6 *a = NULL;
    struct rn_ip6 addr;
    unsigned i, nauto = 0;
    int err;

    for (i = 0; i < ifp->if_naddr6; i++) {
        if (!ifp->if_addr6[i].a6_auto)
            continue;
        nauto++;
        if (rn_ip6_in_prefix(&ifp->if_addr6[i].a6_addr, &pi->pi_prefix, 64))
            a = &ifp->if_addr6[i];
    }
    if (a != NULL) {
        rn_time_t left = a->a6_valid_until == 0 ? RN_SEC(1) << 40 : a->a6_valid_until - now;

        /* (e): a valid lifetime over two hours, or over what is left, is
         * taken; else what is left stays unless it is more than two
         * hours, which then become the rest. */
        if (pi->pi_valid == RD_INFINITE || RN_SEC((rn_time_t)pi->pi_valid) > RD_TWO_HOURS ||
            RN_SEC((rn_time_t)pi->pi_valid) > left)
            a->a6_valid_until = rd_until(now, pi->pi_valid);
        else if (left > RD_TWO_HOURS)
            a->a6_valid_until = now + RD_TWO_HOURS;
        a->a6_pref_until = rd_until(now, pi->pi_preferred);
        if (pi->pi_preferred > 0 && a->a6_state == RN_ADDR6_DEPRECATED)
            a->a6_state = RN_ADDR6_PREFERRED;
        else if (pi->pi_preferred == 0 && a->a6_state == RN_ADDR6_PREFERRED)
            a->a6_state = RN_ADDR6_DEPRECATED;
        return;
    }
    if (pi->pi_valid == 0)
        return;
    if (nauto >= NET_MAX_SLAAC6 || ifp->if_naddr6 >= NET_MAX_ADDR6) {
        rn__stack_count_drop(st, ifp, RN_DROP_SLAAC_ADDR_LIMIT);
        return;
    }
    addr = rn_ip6_net(&pi->pi_prefix, 64);
    iface_id(ifp, &addr);
    a = rn__net_nd_addr6_add(ifp, &addr, 64, &err);
    if (a == NULL)
        return;  /* configured already by hand: it keeps its own life */
    a->a6_auto = true;
    a->a6_valid_until = rd_until(now, pi->pi_valid);
    a->a6_pref_until = rd_until(now, pi->pi_preferred);
    net_st(st)->ns_nd_slaac_addrs++;
}

/* RFC 4861 6.3.4 for one prefix option. */
static void ra_prefix(struct rn_iface *ifp, const struct rn_nd6_prefix *pi)
{
    struct rn_stack *st = ifp->if_stack;
    struct rn_ip6 net = rn_ip6_net(&pi->pi_prefix, pi->pi_plen);
    struct net_route6 *rt;

    if (rn_ip6_is_linklocal(&net) || rn_ip6_is_multicast(&net) ||
        pi->pi_preferred > pi->pi_valid) {
        rn__stack_count_drop(st, ifp, RN_DROP_BAD_RA_PREFIX);
        return;
    }
    if (pi->pi_flags & RN_ND_PI_ONLINK) {
        rt = route6_find(st, ROUTE6_PREFIX, ifp, &net, pi->pi_plen);
        if (rt != NULL && pi->pi_valid == 0)
            route6_del(st, rt);
        else if (rt != NULL)
            rt->rt6_expires = rd_until(st->st_now, pi->pi_valid);
        else if (pi->pi_valid != 0 && pi->pi_plen > 0) {
            if (net_st(st)->ns_nprefixes6 >= NET_MAX_PREFIXES6)
                rn__stack_count_drop(st, ifp, RN_DROP_RA_PREFIX_LIMIT);
            else if ((rt = route6_add(st, ROUTE6_PREFIX, ifp, &net, pi->pi_plen)) != NULL)
                rt->rt6_expires = rd_until(st->st_now, pi->pi_valid);
        }
    }
    if (pi->pi_flags & RN_ND_PI_AUTO) {
        /* An interface identifier of 64 bits needs a /64 (RFC 4862 5.5.3 d). */
        if (pi->pi_plen != 64)
            rn__stack_count_drop(st, ifp, RN_DROP_BAD_RA_PREFIX);
        else
            slaac_prefix(ifp, pi);
    }
}

void rn__net_rd6_ra_input(struct rn_stack *st, const struct rn_icmp6_hdr *ic,
                          const struct ip6_rx *rx)
{
    struct rn_iface *ifp = rx->r6_iface;
    struct net_route6 *rt;
    struct rn_ra6 ra;
    enum rn_drop reason;
    unsigned i;

    reason = rn__ra6_parse(ic, rx->r6_hlim, &rx->r6_src, &ra);
    if (reason != RN_DROP_NONE) {
        rn__stack_count_drop(st, ifp, reason);
        return;
    }
    RN__RX_COUNT(st, net_st(st)->ns_nd_ra_in++);
    ifp->if_ra_seen = true;
    rn_timer_cancel(&st->st_timers, &ifp->if_rs_timer);
    if (ra.ra_cur_hlim != 0)
        ifp->if_hlim6 = ra.ra_cur_hlim;
    if (ra.ra_reachable != 0) {
        rn_time_t base = RN_MSEC((rn_time_t)ra.ra_reachable);

        if (base > RD_MAX_REACHABLE)
            base = RD_MAX_REACHABLE;
        /* RFC 4861 6.3.2: drawn between half and 1.5 times the base. */
        ifp->if_nd_reachable = base / 2 + rn__net_rd6_rand(st, base + 1);
    }
    if (ra.ra_retrans != 0)
        ifp->if_nd_retrans = RN_MSEC((rn_time_t)ra.ra_retrans);
    /* RFC 4861 6.3.4: an MTU option in range lowers (or restores) the
     * link's IPv6 MTU; one below 1280 or above the link's is ignored. */
    if (ra.ra_mtu >= RD_MIN_MTU && ra.ra_mtu <= ifp->if_mtu)
        ifp->if_mtu6 = ra.ra_mtu;
    if (ra.ra_has_lladdr)
        rn__net_nd_learn(ifp, &rx->r6_src, &ra.ra_lladdr, true);
    rt = route6_find(st, ROUTE6_ROUTER, ifp, &rx->r6_src, 0);
    if (ra.ra_lifetime == 0) {
        if (rt != NULL)
            route6_del(st, rt);
    } else if (rt != NULL) {
        rt->rt6_expires = st->st_now + RN_SEC((rn_time_t)ra.ra_lifetime);
    } else if (net_st(st)->ns_nrouters6 >= NET_MAX_ROUTERS6) {
        rn__stack_count_drop(st, ifp, RN_DROP_RA_ROUTER_LIMIT);
    } else if ((rt = route6_add(st, ROUTE6_ROUTER, ifp, &rx->r6_src, 0)) != NULL) {
        rt->rt6_expires = st->st_now + RN_SEC((rn_time_t)ra.ra_lifetime);
    }
    for (i = 0; i < ra.ra_nprefix; i++)
        ra_prefix(ifp, &ra.ra_prefix[i]);
    for (i = 0; i < ra.ra_prefix_over; i++)
        rn__stack_count_drop(st, ifp, RN_DROP_RA_PREFIX_LIMIT);
    rd_rearm(st);
}

/* ---- The destination cache ---------------------------------------------- */

static unsigned dest6_set(const struct rn_ip6 *dst)
{
    uint32_t w = rn_get_be32(dst->i6_octet + 12) ^ rn_get_be32(dst->i6_octet + 4);

    return (w * 2654435761u) >> 26 & (NET_DEST6_SETS - 1);
}

struct dest6 *rn__net_dest6_lookup(struct rn_stack *st, const struct rn_ip6 *dst)
{
    struct net_stack *ns = net_st(st);
    struct dest6 *set;
    unsigned i;

    if (ns->ns_ndest6 == 0)
        return NULL;
    set = ns->ns_dest6[dest6_set(dst)];
    for (i = 0; i < NET_DEST6_WAYS; i++) {
        if (set[i].d6_iface != NULL && rn_ip6_eq(&set[i].d6_dst, dst)) {
            set[i].d6_used = st->st_now;
            return &set[i];
        }
    }
    return NULL;
}

/* The entry for dst, made (in place of the least recently used of its
 * set) if there is none. */
static struct dest6 *dest6_get(struct rn_stack *st, const struct rn_ip6 *dst,
                               struct rn_iface *ifp)
{
    struct net_stack *ns = net_st(st);
    struct dest6 *set = ns->ns_dest6[dest6_set(dst)], *d = rn__net_dest6_lookup(st, dst);
    unsigned i;

    if (d != NULL)
        return d;
    d = &set[0];
    for (i = 0; i < NET_DEST6_WAYS; i++) {
        if (set[i].d6_iface == NULL) {
            d = &set[i];
            break;
        }
        if (set[i].d6_used < d->d6_used)
            d = &set[i];
    }
    if (d->d6_iface == NULL)
        ns->ns_ndest6++;
    memset(d, 0, sizeof(*d));
    d->d6_dst = *dst;
    d->d6_iface = ifp;
    d->d6_used = st->st_now;
    return d;
}

void rn__net_rd6_redirect_input(struct rn_stack *st, const struct rn_icmp6_hdr *ic,
                                const struct ip6_rx *rx)
{
    struct rn_iface *ifp = rx->r6_iface;
    struct rn_redirect6 rd;
    struct ip6_hop hop;
    struct dest6 *d;
    enum rn_drop reason;

    reason = rn__redirect6_parse(ic, rx->r6_hlim, &rx->r6_src, &rd);
    if (reason != RN_DROP_NONE) {
        rn__stack_count_drop(st, ifp, reason);
        return;
    }
    /* RFC 4861 8.1: only the first hop we use now for the destination
     * may send us elsewhere. */
    if (!rn__net_ip6_route(st, &rd.rd_dst, ifp, &hop) || hop.h_iface != ifp ||
        !rn_ip6_eq(&hop.h_nexthop, &rx->r6_src)) {
        rn__stack_count_drop(st, ifp, RN_DROP_REDIRECT_NOT_ROUTER);
        return;
    }
    RN__RX_COUNT(st, net_st(st)->ns_nd_redirects_in++);
    d = dest6_get(st, &rd.rd_dst, ifp);
    d->d6_iface = ifp;
    d->d6_gw = rd.rd_target;
    if (rd.rd_has_lladdr)
        rn__net_nd_learn(ifp, &rd.rd_target, &rd.rd_lladdr,
                         !rn_ip6_eq(&rd.rd_target, &rd.rd_dst));
}

bool rn__net_rd6_too_big_input(struct rn_stack *st, const struct rn_icmp6_hdr *ic,
                               const struct ip6_rx *rx)
{
    struct ip6_hop hop;
    struct dest6 *d;
    uint32_t mtu = ic->ic6_rest;

    /* About a datagram we sent: its source is ours. */
    if (!rn__net_ip6_is_local(st, &ic->ic6_qsrc, true) || rn_ip6_is_multicast(&ic->ic6_qdst) ||
        !rn__net_ip6_route(st, &ic->ic6_qdst, rx->r6_iface, &hop)) {
        rn__stack_count_drop(st, rx->r6_iface, RN_DROP_PTB_NOT_OURS);
        return false;
    }
    net_st(st)->ns_icmp6_too_big_in++;
    /* RFC 8201 4: never below the IPv6 minimum, and only ever lower. */
    if (mtu < RD_MIN_MTU)
        mtu = RD_MIN_MTU;
    if (mtu >= hop.h_mtu)
        return true;
    d = dest6_get(st, &ic->ic6_qdst, hop.h_iface);
    d->d6_pmtu = mtu;
    d->d6_pmtu_expires = st->st_now + RD_PMTU_AGE;
    net_st(st)->ns_ip6_pmtu_updates++;
    return true;
}

uint32_t rn__net_rd6_path_mtu(struct rn_stack *st, const struct rn_ip6 *dst)
{
    struct ip6_hop hop;

    if (!rn__net_ip6_route(st, dst, NULL, &hop))
        return 0;
    return hop.h_mtu;
}

void rn__net_rd6_router_gone(struct rn_iface *ifp, const struct rn_ip6 *ip)
{
    struct net_route6 *rt = route6_find(ifp->if_stack, ROUTE6_ROUTER, ifp, ip, 0);

    if (rt != NULL) {
        route6_del(ifp->if_stack, rt);
        rd_rearm(ifp->if_stack);
    }
}

/* ---- Flushing and listing ----------------------------------------------- */

unsigned rn__net_rd6_count_iface(struct rn_iface *ifp)
{
    const struct net_route6 *rt;
    unsigned n = 0;

    for (rt = net_st(ifp->if_stack)->ns_routes6; rt != NULL; rt = rt->rt6_next)
        n += rt->rt6_iface == ifp;
    return n;
}

unsigned rn__net_rd6_flush_iface(struct rn_iface *ifp, struct rn_ob_wait *w,
                                 rn_ob_release_fn fn, void *ctx)
{
    struct rn_stack *st = ifp->if_stack;
    struct net_stack *ns = net_st(st);
    struct net_route6 *rt, *prev = NULL, *next;
    unsigned i, j, n = 0;

    if (ifp->if_ipv6)
        rn_timer_cancel(&st->st_timers, &ifp->if_rs_timer);
    for (rt = ns->ns_routes6; rt != NULL; rt = next) {
        next = rt->rt6_next;
        if (rt->rt6_iface != ifp) {
            prev = rt;
            continue;
        }
        route6_unlink(st, prev, rt);
        /* The list's hold keeps it while the wait is registered. */
        if (w != NULL && rn_ob_wait_release(rt, &w[n], ifp, "route delete", fn, ctx) == 0)
            n++;
        rn_ob_kill(rt);
    }
    for (i = 0; i < NET_DEST6_SETS; i++) {
        for (j = 0; j < NET_DEST6_WAYS; j++) {
            if (ns->ns_dest6[i][j].d6_iface == ifp) {
                ns->ns_dest6[i][j].d6_iface = NULL;
                ns->ns_ndest6--;
            }
        }
    }
    rd_rearm(st);
    return n;
}

void rn__net_rd6_flush(struct rn_stack *st)
{
    struct net_stack *ns = net_st(st);
    struct net_route6 *rt;
    unsigned i;

    for (i = 0; i < ns->ns_nifaces; i++)
        if (ns->ns_ifaces[i]->if_ipv6)
            rn_timer_cancel(&st->st_timers, &ns->ns_ifaces[i]->if_rs_timer);
    rn_timer_cancel(&st->st_timers, &ns->ns_rd_timer);
    while ((rt = ns->ns_routes6) != NULL) {
        route6_unlink(st, NULL, rt);
        rn_ob_kill(rt);
    }
    memset(ns->ns_dest6, 0, sizeof(ns->ns_dest6));
    ns->ns_ndest6 = 0;
}

void rn__net_rd6_rows(struct rn_stack *st, rn_route_row_fn fn, void *ctx)
{
    const struct net_route6 *rt;

    for (rt = net_st(st)->ns_routes6; rt != NULL; rt = rt->rt6_next) {
        struct rn_route_row row = {
            .rr_plen = rt->rt6_plen,
            .rr_iface = rt->rt6_iface->if_name,
            .rr_id = rn_ob_id(rt),
            .rr_refs = rn_ob_refcount(rt),
            .rr_family = 6,
            .rr_dst6 = rt->rt6_dst,
            .rr_gw6 = rt->rt6_gw,
        };

        if (rt->rt6_expires > st->st_now)
            row.rr_expires_in = rt->rt6_expires - st->st_now;
        fn(&row, ctx);
    }
}
