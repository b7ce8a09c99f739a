/*
 * IPv6 for the transports: the registration of their IPv6 input handlers,
 * delivery to them from IPv6 input, and the output, route and error calls
 * they make (net.h, "IPv6 for the transports").
 *
 *   rn__net_ip6_input() -> rn__net_ip6_deliver() -> the transport's handler
 *   transport -> rn__ip6_output() -> rn__net_ip6_output()
 *
 * The transports see an IPv6 datagram as a struct rn_ip6_rx; they keep
 * both families' addresses as struct rn_inaddr (docs/design.md,
 * "Addresses of both families").
 */
#include <string.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"

int rn__ip6_register(struct rn_stack *st, uint8_t proto, rn_ip6_input_fn input,
                     rn_ip_err_fn err)
{
    struct net_stack *ns = net_st(st);

    if (proto == RN_IPPROTO_ICMPV6 || ns->ns_protos6[proto] != NULL)
        return RN_EEXIST;
    ns->ns_protos6[proto] = input;
    ns->ns_errs6[proto] = err;
    return 0;
}

bool rn__net_ip6_deliver(struct rn_stack *st, struct rn_netbuf *nb, const struct ip6_rx *rx)
{
    rn_ip6_input_fn fn = net_st(st)->ns_protos6[rx->r6_proto];
    struct rn_ip6_rx up;

    if (fn == NULL)
        return false;
    up.rx6_src = rx->r6_src;
    up.rx6_dst = rx->r6_dst;
    up.rx6_hlim = rx->r6_hlim;
    up.rx6_tclass = rx->r6_tclass;
    up.rx6_mcast = rx->r6_mcast;
    up.rx6_iface = rx->r6_iface;
    up.rx6_hdr = rx->r6_hdr;
    up.rx6_hdrlen = rx->r6_hdrlen;
    RN__RX_COUNT(st, net_st(st)->ns_ip6_in++);
    fn(st, nb, &up);
    return true;
}

int rn__ip6_output(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip6_out *out)
{
    struct ip6_out o = {
        .o6_src = out->o6_src,
        .o6_dst = out->o6_dst,
        .o6_proto = out->o6_proto,
        .o6_hlim = out->o6_hlim,
        .o6_tclass = out->o6_tclass,
    };

    return rn__net_ip6_output(st, nb, &o);
}

int rn__ip6_route(struct rn_stack *st, const struct rn_ip6 *dst, struct rn_ip_route *out,
                  struct rn_ip6 *src)
{
    struct ip6_hop hop;

    memset(out, 0, sizeof(*out));
    /* To one of our own addresses: through the loopback queue, which
     * takes datagrams of any size. */
    if (rn__net_ip6_is_local(st, dst, false)) {
        *src = *dst;
        out->ir_mtu = RN_IP6_HLEN + RN_IP6_MAX_PAYLOAD;
        return 0;
    }
    if (!rn__net_ip6_route(st, dst, NULL, &hop) || !rn__net_ip6_pick_src(hop.h_iface, dst, src))
        return RN_ENETUNREACH;
    out->ir_iface = hop.h_iface;
    /* The path's MTU: the link's, lowered by a router's MTU option or a
     * packet too big (RFC 8201), so that segments are sized to it. */
    out->ir_mtu = hop.h_mtu;
    /* Checksums and references as for IPv4; TSO if the link cuts IPv6 segments, which
     * the transports know by the one flag they look for. */
    out->ir_offloads = hop.h_iface->if_offloads &
                       (RN_LINK_OFF_TX_CSUM | RN_LINK_OFF_RX_CSUM | RN_LINK_OFF_TX_REF);
    if (hop.h_iface->if_offloads & RN_LINK_OFF_TSO6)
        out->ir_offloads |= RN_LINK_OFF_TSO;
    return 0;
}

bool rn__ip6_is_local(struct rn_stack *st, const struct rn_ip6 *a)
{
    return rn__net_ip6_is_local(st, a, false);
}

void rn__icmp6_unreach(struct rn_stack *st, const struct rn_ip6_rx *rx, uint8_t code)
{
    if (rx->rx6_mcast)
        return;
    rn__net_icmp6_error(st, rx->rx6_iface, RN_ICMP6_DEST_UNREACH, code, 0, rx->rx6_hdr,
                        rx->rx6_hdrlen);
}
