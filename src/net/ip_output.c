/*
 * IPv4 output: routing, source selection, fragmentation and hand-off to
 * ARP (net.h, "IPv4 output").
 *
 *   transport -> rn__ip_output() -> [filtering platform: outbound-ip]
 *             -> [ip_fragment()] -> rn__net_arp_output()
 *             -> rn__net_eth_output() -> interface queue
 *
 * Datagrams to one of our own addresses are looped back through the
 * stack's loop queue and come in again at the end of the poll, as if
 * received, without touching a link.
 */
#include <string.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "wire/bytes.h"
#include "wire/csum.h"

struct rn_netbuf *rn__ip_alloc(struct rn_stack *st, rn_nb_owner_t owner)
{
    struct rn_netbuf *nb = rn_nb_alloc(net_st(st)->ns_pool, owner);

    if (nb == NULL)
        rn__stack_count_drop(st, NULL, RN_DROP_NO_BUFFER);
    return nb;
}

struct rn_netbuf *rn__ip_ref(struct rn_stack *st, rn_nb_owner_t owner, const void *data,
                             uint32_t len)
{
    struct rn_netbuf *nb = rn_nb_ref(net_st(st)->ns_pool, owner, data, len);

    if (nb == NULL)
        rn__stack_count_drop(st, NULL, RN_DROP_NO_BUFFER);
    return nb;
}

uint32_t rn__net_tx_refs(struct rn_stack *st)
{
    return rn_nbpool_refs(net_st(st)->ns_pool);
}

int rn__ip_route(struct rn_stack *st, uint32_t dst, struct rn_ip_route *out)
{
    const struct net_route *rt;
    unsigned i;

    out->ir_bcast = false;
    for (i = 0; i < net_st(st)->ns_nifaces; i++) {
        struct rn_iface *ifp = net_st(st)->ns_ifaces[i];

        if (ifp->if_addr != 0 && ifp->if_addr == dst) {
            out->ir_iface = ifp;
            out->ir_nexthop = dst;
            out->ir_src = dst;
            out->ir_mtu = RN_IP4_MAX_LEN;
            out->ir_offloads = 0;
            return 0;
        }
    }
    if (rn_ip4_is_bcast(dst)) {
        for (i = 0; i < net_st(st)->ns_nifaces; i++) {
            if (net_st(st)->ns_ifaces[i]->if_addr != 0) {
                out->ir_iface = net_st(st)->ns_ifaces[i];
                out->ir_nexthop = dst;
                out->ir_src = net_st(st)->ns_ifaces[i]->if_addr;
                out->ir_mtu = net_st(st)->ns_ifaces[i]->if_mtu;
                out->ir_offloads = net_st(st)->ns_ifaces[i]->if_offloads;
                out->ir_bcast = true;
                return 0;
            }
        }
        return RN_ENETUNREACH;
    }
    rt = rn__net_route_lookup(st, dst);
    if (rt == NULL)
        return RN_ENETUNREACH;
    out->ir_iface = rt->rt_iface;
    out->ir_nexthop = rt->rt_gw ? rt->rt_gw : dst;
    out->ir_src = rt->rt_iface->if_addr;
    out->ir_mtu = rt->rt_iface->if_mtu;
    out->ir_offloads = rt->rt_iface->if_offloads;
    out->ir_bcast = rt->rt_gw == 0 && rn__net_ip_is_bcast(rt->rt_iface, dst);
    return 0;
}

uint8_t rn__ip_default_ttl(struct rn_stack *st)
{
    return net_st(st)->ns_params.sp_ttl;
}

int rn__net_copy_range(struct rn_netbuf *dst, const struct rn_netbuf *src, size_t off, size_t len)
{
    size_t at = dst->nb_pktlen;

    for (; src != NULL && len > 0; src = src->nb_next) {
        size_t n;
        int err;

        if (off >= src->nb_len) {
            off -= src->nb_len;
            continue;
        }
        n = src->nb_len - off < len ? src->nb_len - off : len;
        err = rn_nb_copyin(dst, at, src->nb_data + off, n);
        if (err < 0)
            return err;
        at += n;
        len -= n;
        off = 0;
    }
    return 0;
}

/* Sends nb (the payload) as fragments of at most mtu bytes each.
 * Consumes nb. */
static int ip_fragment(struct rn_stack *st, struct rn_netbuf *nb, struct rn_ip4_hdr *ip,
                       const struct rn_ip_route *r)
{
    uint32_t paylen = nb->nb_pktlen, off;
    uint32_t fragsize = (r->ir_mtu - RN_IP4_HLEN) & ~7u;
    int err = 0;

    for (off = 0; off < paylen; off += fragsize) {
        uint32_t len = paylen - off < fragsize ? paylen - off : fragsize;
        struct rn_netbuf *f = rn__ip_alloc(st, rn__net_types.nt_own_tx);
        uint8_t *h;

        if (f == NULL) {
            err = RN_ENOBUFS;
            break;
        }
        if (rn__net_copy_range(f, nb, off, len) < 0 || (h = rn_nb_push(f, RN_IP4_HLEN)) == NULL) {
            rn__net_drop(st, r->ir_iface, f, RN_DROP_NO_BUFFER);
            err = RN_ENOBUFS;
            break;
        }
        ip->ip_off = (uint16_t)off;
        ip->ip_mf = off + len < paylen;
        ip->ip_paylen = (uint16_t)len;
        rn__ip4_emit(h, ip);
        net_st(st)->ns_ip_frag_out++;
        rn__net_arp_output(r->ir_iface, f, r->ir_nexthop);
    }
    rn_nb_free(nb);
    return err;
}

int rn__ip_output(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip_out *out)
{
    struct rn_ip_route r;
    struct rn_ip4_hdr ip;
    uint8_t *h;

    if (rn__ip_route(st, out->io_dst, &r) < 0) {
        rn__net_drop(st, NULL, nb, RN_DROP_NO_ROUTE);
        return RN_ENETUNREACH;
    }
    if (nb->nb_pktlen + RN_IP4_HLEN > RN_IP4_MAX_LEN) {
        rn_nb_free(nb);
        return RN_EMSGSIZE;
    }
    if (net_st(st)->ns_ip_hook[RN_IP_HOOK_OUT] != NULL &&
        rn__net_ip_hook_drops(st, RN_IP_HOOK_OUT, nb, 0,
                              rn_inaddr_v4(out->io_src ? out->io_src : r.ir_src),
                              rn_inaddr_v4(out->io_dst), out->io_proto)) {
        rn__net_drop(st, r.ir_iface, nb, RN_DROP_FILTER_BLOCKED);
        return RN_EACCES;
    }
    memset(&ip, 0, sizeof(ip));
    ip.ip_tos = out->io_tos;
    ip.ip_id = net_st(st)->ns_ip_id++;
    ip.ip_df = out->io_df;
    ip.ip_ttl = out->io_ttl ? out->io_ttl : net_st(st)->ns_params.sp_ttl;
    ip.ip_proto = out->io_proto;
    ip.ip_src = out->io_src ? out->io_src : r.ir_src;
    ip.ip_dst = out->io_dst;
    ip.ip_paylen = (uint16_t)nb->nb_pktlen;
    net_st(st)->ns_ip_out++;
    if (nb->nb_pktlen + RN_IP4_HLEN > r.ir_mtu && !(nb->nb_offload & RN_NB_OFF_GSO)) {
        if (out->io_df) {
            rn__net_drop(st, r.ir_iface, nb, RN_DROP_TOO_BIG_DF);
            return RN_EMSGSIZE;
        }
        return ip_fragment(st, nb, &ip, &r);
    }
    h = rn_nb_push(nb, RN_IP4_HLEN);
    if (h == NULL) {
        rn__net_drop(st, r.ir_iface, nb, RN_DROP_NO_BUFFER);
        return RN_ENOBUFS;
    }
    rn__ip4_emit(h, &ip);
    if (rn__ip_is_local(st, ip.ip_dst)) {
        if ((nb = rn__net_hold(st, r.ir_iface, nb)) == NULL)
            return RN_ENOBUFS;
        rn_nb_set_owner(nb, rn__net_types.nt_own_loop);
        rn_nbq_put(&net_st(st)->ns_loopq, nb);
        return 0;
    }
    rn__net_arp_output(r.ir_iface, nb, r.ir_nexthop);
    return 0;
}

uint32_t rn__ip_any_local(struct rn_stack *st)
{
    struct net_stack *ns = net_st(st);
    unsigned i;

    for (i = 0; i < ns->ns_nifaces; i++)
        if (ns->ns_ifaces[i]->if_addr != 0)
            return ns->ns_ifaces[i]->if_addr;
    return 0;
}

bool rn__ip_is_broadcast(struct rn_stack *st, uint32_t addr)
{
    struct net_stack *ns = net_st(st);
    unsigned i;

    for (i = 0; i < ns->ns_nifaces; i++)
        if (rn__net_ip_is_bcast(ns->ns_ifaces[i], addr))
            return true;
    return rn_ip4_is_bcast(addr);
}
