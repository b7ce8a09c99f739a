/*
 * IPv4 input: validation, the host's destination check, reassembly and
 * delivery to ICMP or a registered transport.
 *
 *   rn__net_eth_input() -> rn__net_ip_input() -> [rn__net_reass_add()]
 *     -> rn__net_ip_deliver() -> [filtering platform: inbound-ip]
 *     -> rn__net_icmp_input() | registered input handler
 *
 * refnet is a host, not a router: datagrams for other hosts are dropped as
 * "not_for_us", never forwarded.  Every drop is counted under its reason.
 */
#include <string.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "wire/bytes.h"
#include "wire/csum.h"
#include "wire/icmp.h"

bool rn__net_ip_is_bcast(const struct rn_iface *ifp, uint32_t addr)
{
    if (rn_ip4_is_bcast(addr))
        return true;
    return ifp->if_addr != 0 && ifp->if_plen < 31 &&
           addr == rn_ip4_subnet_bcast(ifp->if_addr, ifp->if_plen);
}

bool rn__ip_is_local(struct rn_stack *st, uint32_t addr)
{
    unsigned i;

    if (addr == 0)
        return false;
    for (i = 0; i < net_st(st)->ns_nifaces; i++) {
        if (net_st(st)->ns_ifaces[i]->if_addr == addr)
            return true;
    }
    return false;
}

static bool is_multicast(uint32_t addr)
{
    return (addr >> 28) == 0xe;
}

int rn__ip_register(struct rn_stack *st, uint8_t proto, rn_ip_input_fn input, rn_ip_err_fn err)
{
    if (proto == RN_IPPROTO_ICMP || net_st(st)->ns_protos[proto].ph_input != NULL)
        return RN_EEXIST;
    net_st(st)->ns_protos[proto].ph_input = input;
    net_st(st)->ns_protos[proto].ph_err = err;
    return 0;
}

int rn__ip_on_addr_gone(struct rn_stack *st, uint8_t proto, rn_ip_addr_gone_fn fn)
{
    if (net_st(st)->ns_protos[proto].ph_input == NULL)
        return RN_ENOENT;
    net_st(st)->ns_protos[proto].ph_gone = fn;
    return 0;
}

void rn__net_ip_addr_gone(struct rn_stack *st, uint32_t addr)
{
    unsigned p;

    if (addr == 0)
        return;
    for (p = 0; p < 256; p++)
        if (net_st(st)->ns_protos[p].ph_gone != NULL)
            net_st(st)->ns_protos[p].ph_gone(st, addr);
}

/* True if a datagram from the wire cannot have come from src: no host
 * sends from broadcast, multicast, 0.0.0.0/8, loopback (127/8) or class E
 * (240/4), nor from one of our addresses (a LAND attack: a SYN from our
 * own address would make a connection talk to itself).  What we send to
 * ourselves takes the loopback queue instead, so it is not judged here. */
static bool bad_source(struct rn_stack *st, const struct rn_iface *ifp, uint32_t src, bool looped)
{
    if (rn_ip4_is_bcast(src) || is_multicast(src) || rn__net_ip_is_bcast(ifp, src))
        return true;
    if (looped)
        return false;
    return (src >> 24) == 0 || rn_ip4_is_loopback(src) || (src >> 28) == 0xf ||
           rn__ip_is_local(st, src);
}

static void ip_input(struct rn_iface *ifp, struct rn_netbuf *nb, bool looped);

void rn__net_ip_input(struct rn_iface *ifp, struct rn_netbuf *nb)
{
    ip_input(ifp, nb, false);
}

/* Receive-side scaling: a reassembled TCP or UDP datagram (payload nb,
 * header hdr of hlen bytes) whose flow another queue's stack owns goes
 * there whole, as the device would have steered it unfragmented. */
static bool handover(struct rn_stack *st, struct rn_iface *ifp, struct rn_netbuf *nb,
                     const struct rn_ip4_hdr *ip, const uint8_t *hdr, uint8_t hlen)
{
    struct rn_inaddr src = rn_inaddr_v4(ip->ip_src), dst = rn_inaddr_v4(ip->ip_dst);
    uint8_t scratch[4], whole[RN_IP4_MAX_HLEN];
    const uint8_t *ports;

    if (net_st(st)->ns_rss_hand == NULL ||
        (ip->ip_proto != RN_IPPROTO_TCP && ip->ip_proto != RN_IPPROTO_UDP) ||
        (ports = rn_nb_header(nb, 0, sizeof(scratch), scratch)) == NULL ||
        hlen + nb->nb_pktlen > 0xffff)
        return false;
    /* The header as the whole datagram's: no fragment fields, its length. */
    memcpy(whole, hdr, hlen);
    rn_put_be16(whole + 2, (uint16_t)(hlen + nb->nb_pktlen));
    rn_put_be16(whole + 6, 0);
    rn_put_be16(whole + 10, 0);
    rn_put_be16(whole + 10, rn_csum(whole, hlen));
    if (!rn__net_rss_handover(st, ifp, 0x0800, whole, hlen, nb, ip->ip_proto, &src, &dst,
                              rn_get_be16(ports),
                              rn_get_be16(ports + 2)))
        return false;
    rn_nb_free(nb);
    return true;
}

static void ip_input(struct rn_iface *ifp, struct rn_netbuf *nb, bool looped)
{
    struct rn_stack *st = ifp->if_stack;
    uint8_t scratch[RN_IP4_MAX_HLEN], hdr[RN_IP4_MAX_HLEN];
    size_t hl = nb->nb_pktlen < RN_IP4_MAX_HLEN ? nb->nb_pktlen : RN_IP4_MAX_HLEN;
    struct rn_ip4_hdr ip;
    struct rn_ip_rx rx;
    const uint8_t *p;
    enum rn_drop reason;
    uint8_t hlen;

    p = rn_nb_header(nb, 0, hl, scratch);
    if (p == NULL || hl < RN_IP4_HLEN) {
        rn__net_drop(st, ifp, nb, RN_DROP_TRUNCATED);
        return;
    }
    /* The parser reads only the header (hlen <= hl bytes at p) and checks
     * the lengths against the whole packet. */
    reason = rn__ip4_parse(p, nb->nb_pktlen, &ip);
    if (reason != RN_DROP_NONE) {
        rn__net_drop(st, ifp, nb, reason);
        return;
    }
    if (ip.ip_dst != ifp->if_addr && !rn__net_ip_is_bcast(ifp, ip.ip_dst) &&
        !rn__ip_is_local(st, ip.ip_dst)) {
        rn__net_drop(st, ifp, nb, RN_DROP_NOT_FOR_US);
        return;
    }
    if (bad_source(st, ifp, ip.ip_src, looped)) {
        rn__net_drop(st, ifp, nb, RN_DROP_BAD_IP_SRC);
        return;
    }
    hlen = ip.ip_hlen;
    memcpy(hdr, p, hlen);
    rn_nb_trim(nb, ip.ip_len);  /* Ethernet padding */
    rn_nb_pull(nb, hlen);
    if (rn_ip4_is_fragment(&ip)) {
        nb = rn__net_reass_add(ifp, nb, &ip, hdr, &hlen);
        if (nb == NULL)
            return;
        net_st(st)->ns_ip_reassembled++;
        if (handover(st, ifp, nb, &ip, hdr, hlen))
            return;
    }
    rx.rx_src = ip.ip_src;
    rx.rx_dst = ip.ip_dst;
    rx.rx_proto = ip.ip_proto;
    rx.rx_ttl = ip.ip_ttl;
    rx.rx_tos = ip.ip_tos;
    rx.rx_bcast = rn__net_ip_is_bcast(ifp, ip.ip_dst);
    rx.rx_iface = ifp;
    rx.rx_iphdr = hdr;
    rx.rx_iphlen = hlen;
    rn__net_ip_deliver(st, nb, &rx);
}

void rn__ip_set_hook(struct rn_stack *st, enum rn_ip_hook_dir dir, rn_ip_hook_fn fn)
{
    net_st(st)->ns_ip_hook[dir] = fn;
}

bool rn__net_ip_hook_drops(struct rn_stack *st, enum rn_ip_hook_dir dir, const struct rn_netbuf *nb,
                           size_t off, struct rn_inaddr laddr, struct rn_inaddr raddr,
                           uint8_t proto)
{
    struct rn_ip_hook_values v = {
        .hv_proto = proto, .hv_laddr = laddr, .hv_raddr = raddr,
        .hv_len = (uint32_t)(nb->nb_pktlen - off),
    };
    uint8_t scratch[4];
    const uint8_t *p;

    /* Ports, for hooks that look at them: the first four bytes of a TCP or
     * UDP header, source then destination. */
    if ((proto == RN_IPPROTO_TCP || proto == RN_IPPROTO_UDP) &&
        (p = rn_nb_header(nb, off, sizeof(scratch), scratch)) != NULL) {
        bool in = dir == RN_IP_HOOK_IN;

        v.hv_lport = rn_get_be16(in ? p + 2 : p);
        v.hv_rport = rn_get_be16(in ? p : p + 2);
    }
    return net_st(st)->ns_ip_hook[dir](st, dir, &v);
}

void rn__net_ip_deliver(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip_rx *rx)
{
    const struct proto_handlers *ph = &net_st(st)->ns_protos[rx->rx_proto];

    if (net_st(st)->ns_ip_hook[RN_IP_HOOK_IN] != NULL &&
        rn__net_ip_hook_drops(st, RN_IP_HOOK_IN, nb, 0, rn_inaddr_v4(rx->rx_dst),
                              rn_inaddr_v4(rx->rx_src), rx->rx_proto)) {
        rn__net_drop(st, rx->rx_iface, nb, RN_DROP_FILTER_BLOCKED);
        return;
    }
    net_st(st)->ns_ip_in++;
    if (rx->rx_proto == RN_IPPROTO_ICMP) {
        rn__net_icmp_input(st, nb, rx);
        return;
    }
    if (ph->ph_input != NULL) {
        ph->ph_input(st, nb, rx);
        return;
    }
    rn__icmp_unreach(st, rx, nb, RN_ICMP_UNREACH_PROTO);
    rn__net_drop(st, rx->rx_iface, nb, RN_DROP_UNKNOWN_PROTO);
}

void rn__net_ip_loopback_run(struct rn_stack *st)
{
    unsigned budget = net_st(st)->ns_loopq.nq_len;

    /* Only what was queued before this call: delivery may queue more. */
    while (budget-- > 0) {
        struct rn_netbuf *nb = rn_nbq_get(&net_st(st)->ns_loopq);
        uint8_t scratch[RN_IP6_HLEN];
        const uint8_t *p = rn_nb_header(nb, 0, RN_IP4_HLEN, scratch);
        struct rn_iface *ifp = net_st(st)->ns_ifaces[0];
        uint32_t dst;
        unsigned i;

        if ((p[0] >> 4) == 6) {
            struct rn_ip6 dst6;

            p = rn_nb_header(nb, 0, RN_IP6_HLEN, scratch);
            memcpy(dst6.i6_octet, p + 24, RN_IP6_LEN);
            for (i = 0; i < net_st(st)->ns_nifaces; i++)
                if (rn__net_ip6_iface_addr(net_st(st)->ns_ifaces[i], &dst6) != NULL)
                    ifp = net_st(st)->ns_ifaces[i];
            rn_nb_set_owner(nb, rn__net_types.nt_own_rx);
            rn__net_ip6_input(ifp, nb, true);
            continue;
        }
        dst = rn_get_be32(p + 16);

        for (i = 0; i < net_st(st)->ns_nifaces; i++) {
            if (net_st(st)->ns_ifaces[i]->if_addr == dst)
                ifp = net_st(st)->ns_ifaces[i];
        }
        rn_nb_set_owner(nb, rn__net_types.nt_own_rx);
        ip_input(ifp, nb, true);
    }
}
