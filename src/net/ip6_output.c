/*
 * IPv6 output: the interface and next hop of a destination, the source
 * address, the fixed header, and the hand-off to neighbour discovery.
 *
 *   ICMPv6 or ND -> rn__net_ip6_output() -> rn__net_nd_output()
 *                -> rn__net_eth_output() -> interface queue
 *
 * Routing (rn__net_ip6_route()): a link-scope destination (fe80::/10,
 * ff02::/16) is reached on the interface the caller names or the first
 * with IPv6; any other through what a redirect said for it (rd6.c's
 * destination cache), else on the interface one of whose configured
 * addresses has its prefix, else by the prefixes and default routers
 * routers advertised (rd6.c).  A datagram longer than the MTU (the
 * link's IPv6 MTU, or the destination's path MTU if lower) leaves in
 * fragments (RFC 8200 4.5), the fixed header its whole unfragmentable
 * part.  Datagrams to one of our own addresses take the
 * stack's loopback queue, as IPv4's do.
 */
#include <string.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "wire/bytes.h"
#include "wire/csum.h"

/* True for link-local unicast and link-scope multicast (ff02::/16). */
static bool link_scope(const struct rn_ip6 *a)
{
    return rn_ip6_is_linklocal(a) ||
           (rn_ip6_is_multicast(a) && (a->i6_octet[1] & 0x0f) <= 2);
}

bool rn__net_ip6_pick_src(const struct rn_iface *ifp, const struct rn_ip6 *dst,
                          struct rn_ip6 *src)
{
    const struct iface_addr6 *best = NULL;
    unsigned i;

    for (i = 0; i < ifp->if_naddr6; i++) {
        const struct iface_addr6 *a = &ifp->if_addr6[i];
        bool ll = rn_ip6_is_linklocal(&a->a6_addr);

        if (a->a6_state != RN_ADDR6_PREFERRED)
            continue;
        if (link_scope(dst)) {
            if (ll) {
                best = a;
                break;
            }
            continue;
        }
        if (ll)
            continue;
        if (best == NULL || (a->a6_plen < 128 && rn_ip6_in_prefix(dst, &a->a6_addr, a->a6_plen)))
            best = a;
    }
    /* Nothing preferred fits: a deprecated global address (RFC 4862
     * 5.5.4), or for a global destination with no global address the
     * link-local one, which still reaches it on the link. */
    for (i = 0; best == NULL && i < ifp->if_naddr6; i++)
        if (ifp->if_addr6[i].a6_state == RN_ADDR6_DEPRECATED && !link_scope(dst))
            best = &ifp->if_addr6[i];
    for (i = 0; best == NULL && i < ifp->if_naddr6; i++)
        if (ifp->if_addr6[i].a6_state == RN_ADDR6_PREFERRED)
            best = &ifp->if_addr6[i];
    if (best == NULL)
        return false;
    *src = best->a6_addr;
    return true;
}

/* The interface on whose link dst is, by the configured addresses'
 * prefixes (or one of our own addresses), or NULL. */
static struct rn_iface *ip6_onlink(struct rn_stack *st, const struct rn_ip6 *dst)
{
    struct net_stack *ns = net_st(st);
    unsigned i, j;

    for (i = 0; i < ns->ns_nifaces; i++) {
        struct rn_iface *ifp = ns->ns_ifaces[i];

        for (j = 0; j < ifp->if_naddr6; j++) {
            const struct iface_addr6 *a = &ifp->if_addr6[j];

            if (rn__net_addr6_usable(a) && !rn_ip6_is_linklocal(&a->a6_addr) &&
                (rn_ip6_eq(&a->a6_addr, dst) ||
                 (!a->a6_auto && a->a6_plen < 128 && rn_ip6_in_prefix(dst, &a->a6_addr, a->a6_plen))))
                return ifp;
        }
    }
    return NULL;
}

bool rn__net_ip6_route(struct rn_stack *st, const struct rn_ip6 *dst, struct rn_iface *ifhint,
                       struct ip6_hop *hop)
{
    struct net_stack *ns = net_st(st);
    const struct dest6 *d = rn__net_dest6_lookup(st, dst);
    struct rn_iface *ifp = NULL;
    unsigned i;

    hop->h_nexthop = *dst;
    if (link_scope(dst)) {
        if (ifhint != NULL)
            ifp = ifhint->if_ipv6 ? ifhint : NULL;
        for (i = 0; ifhint == NULL && ifp == NULL && i < ns->ns_nifaces; i++)
            if (ns->ns_ifaces[i]->if_ipv6)
                ifp = ns->ns_ifaces[i];
    } else if (d != NULL && !rn_ip6_is_any(&d->d6_gw)) {
        ifp = d->d6_iface;  /* redirected (RFC 4861 8.3) */
        hop->h_nexthop = d->d6_gw;
    } else if ((ifp = ip6_onlink(st, dst)) == NULL) {
        const struct net_route6 *rt = rn__net_route6_lookup(st, dst);

        if (rt != NULL) {
            ifp = rt->rt6_iface;
            if (rt->rt6_kind == ROUTE6_ROUTER)
                hop->h_nexthop = rt->rt6_gw;
        }
    }
    if (ifp == NULL)
        return false;
    hop->h_iface = ifp;
    hop->h_mtu = ifp->if_mtu6 != 0 ? ifp->if_mtu6 : ifp->if_mtu;
    if (d != NULL && d->d6_pmtu != 0 && d->d6_pmtu < hop->h_mtu && d->d6_pmtu_expires > st->st_now)
        hop->h_mtu = d->d6_pmtu;
    return true;
}

/* Sends the upper-layer message nb as fragments of ip's datagram out of
 * hop's interface to its next hop, each at most its MTU.  Consumes nb. */
static int ip6_fragment(struct rn_stack *st, const struct ip6_hop *hop, struct rn_netbuf *nb,
                        struct rn_ip6_hdr *ip)
{
    struct rn_iface *ifp = hop->h_iface;
    uint32_t paylen = nb->nb_pktlen, off;
    uint32_t size = (hop->h_mtu - RN_IP6_HLEN - 8) & ~7u;
    uint32_t id = net_st(st)->ns_ip6_id++;
    uint8_t proto = ip->ip6_nxt;
    int err = 0;

    /* A checksum left to the device (a TCP segment larger than a path MTU
     * a packet too big lowered) cannot be finished in pieces: finish it. */
    if ((nb->nb_offload & RN_NB_OFF_CSUM_PARTIAL) && proto == RN_IPPROTO_TCP) {
        uint8_t sum[2];

        rn_put_be16(sum, rn_csum_fold(rn_nb_csum(nb, 0, paylen, 0)));
        (void)rn_nb_copyin(nb, 16, sum, sizeof(sum));
        nb->nb_offload &= ~RN_NB_OFF_CSUM_PARTIAL;
    }
    for (off = 0; off < paylen; off += size) {
        uint32_t len = paylen - off < size ? paylen - off : size;
        struct rn_netbuf *f = rn__ip_alloc(st, rn__net_types.nt_own_tx);
        uint8_t *h;

        if (f == NULL) {
            err = RN_ENOBUFS;
            break;
        }
        if (rn__net_copy_range(f, nb, off, len) < 0 ||
            (h = rn_nb_push(f, RN_IP6_HLEN + 8)) == NULL) {
            rn__net_drop(st, ifp, f, RN_DROP_NO_BUFFER);
            err = RN_ENOBUFS;
            break;
        }
        ip->ip6_nxt = RN_IP6_NH_FRAGMENT;
        ip->ip6_plen = (uint16_t)(8 + len);
        rn__ip6_emit(h, ip);
        h[RN_IP6_HLEN] = proto;
        h[RN_IP6_HLEN + 1] = 0;
        rn_put_be16(h + RN_IP6_HLEN + 2, (uint16_t)(off | (off + len < paylen ? 1 : 0)));
        rn_put_be32(h + RN_IP6_HLEN + 4, id);
        net_st(st)->ns_ip6_frag_out++;
        rn__net_nd_output(ifp, f, &hop->h_nexthop);
    }
    rn_nb_free(nb);
    return err;
}

int rn__net_ip6_output(struct rn_stack *st, struct rn_netbuf *nb, const struct ip6_out *out)
{
    struct rn_iface *ifp;
    struct rn_ip6_hdr ip;
    struct ip6_hop hop;
    uint8_t *h;

    if (!rn__net_ip6_route(st, &out->o6_dst, out->o6_iface, &hop)) {
        rn__net_drop(st, NULL, nb, RN_DROP_NO_ROUTE);
        return RN_ENETUNREACH;
    }
    ifp = hop.h_iface;
    memset(&ip, 0, sizeof(ip));
    if (out->o6_src_any)
        ip.ip6_src = RN_IP6_ANY;
    else if (!rn_ip6_is_any(&out->o6_src))
        ip.ip6_src = out->o6_src;
    else if (!rn__net_ip6_pick_src(ifp, &out->o6_dst, &ip.ip6_src)) {
        rn__net_drop(st, ifp, nb, RN_DROP_NO_ROUTE);
        return RN_ENETUNREACH;
    }
    if (nb->nb_pktlen > RN_IP6_MAX_PAYLOAD) {
        rn__net_drop(st, ifp, nb, RN_DROP_TOO_BIG_DF);
        return RN_EMSGSIZE;
    }
    /* The filtering platform's outbound-ip, as for IPv4. */
    if (net_st(st)->ns_ip_hook[RN_IP_HOOK_OUT] != NULL &&
        rn__net_ip_hook_drops(st, RN_IP_HOOK_OUT, nb, 0, rn_inaddr_v6(&ip.ip6_src),
                              rn_inaddr_v6(&out->o6_dst), out->o6_proto)) {
        rn__net_drop(st, ifp, nb, RN_DROP_FILTER_BLOCKED);
        return RN_EACCES;
    }
    ip.ip6_tclass = out->o6_tclass;
    ip.ip6_plen = (uint16_t)nb->nb_pktlen;
    ip.ip6_nxt = out->o6_proto;
    ip.ip6_hlim = out->o6_hlim      ? out->o6_hlim
                  : ifp->if_hlim6 ? ifp->if_hlim6
                                  : net_st(st)->ns_params.sp_ttl;
    ip.ip6_dst = out->o6_dst;
    if (nb->nb_pktlen + RN_IP6_HLEN > hop.h_mtu && !(nb->nb_offload & RN_NB_OFF_GSO) &&
        !(!rn_ip6_is_multicast(&ip.ip6_dst) && rn__net_ip6_is_local(st, &ip.ip6_dst, false))) {
        net_st(st)->ns_ip6_out++;
        return ip6_fragment(st, &hop, nb, &ip);
    }
    h = rn_nb_push(nb, RN_IP6_HLEN);
    if (h == NULL) {
        rn__net_drop(st, ifp, nb, RN_DROP_NO_BUFFER);
        return RN_ENOBUFS;
    }
    rn__ip6_emit(h, &ip);
    net_st(st)->ns_ip6_out++;
    if (!rn_ip6_is_multicast(&ip.ip6_dst) && rn__net_ip6_is_local(st, &ip.ip6_dst, false)) {
        if ((nb = rn__net_hold(st, ifp, nb)) == NULL)
            return RN_ENOBUFS;
        rn_nb_set_owner(nb, rn__net_types.nt_own_loop);
        rn_nbq_put(&net_st(st)->ns_loopq, nb);
        return 0;
    }
    rn__net_nd_output(ifp, nb, &hop.h_nexthop);
    return 0;
}
