/*
 * Ethernet II: demultiplexing received frames by EtherType, and framing
 * datagrams for transmission.
 *
 * Called from rn_stack_poll() for every received frame:
 *   rn__net_eth_input() -> rn__net_arp_input() | rn__net_ip_input()
 *                                          | rn__net_ip6_input()
 */
#include <string.h>

#include "net/net_priv.h"
#include "wire/eth.h"

void rn__net_eth_input(struct rn_iface *ifp, struct rn_netbuf *nb)
{
    struct rn_stack *st = ifp->if_stack;
    struct rn_eth_hdr eh;
    uint8_t scratch[RN_ETH_HLEN];
    const uint8_t *p;
    enum rn_drop reason;

    /* Counted once, as it came off the wire: a copy or a reassembled
     * datagram from another queue's stack was counted there. */
    if (!(nb->nb_offload & RN_NB_OFF_RSS_HANDED)) {
        RN__RX_COUNT(st, ifp->if_rx_frames++);
        RN__RX_COUNT(st, ifp->if_rx_bytes += nb->nb_pktlen);
    }
    p = rn_nb_header(nb, 0, RN_ETH_HLEN, scratch);
    if (p == NULL) {
        rn__net_drop(st, ifp, nb, RN_DROP_TRUNCATED);
        return;
    }
    reason = rn__eth_parse(p, RN_ETH_HLEN, &eh);
    if (reason != RN_DROP_NONE) {
        rn__net_drop(st, ifp, nb, reason);
        return;
    }
    if (!rn_mac_equal(&eh.eh_dst, &ifp->if_mac) && !rn_mac_is_broadcast(&eh.eh_dst) &&
        !rn_mac_is_multicast(&eh.eh_dst)) {
        rn__net_drop(st, ifp, nb, RN_DROP_NOT_FOR_US);
        return;
    }
    rn_nb_pull(nb, RN_ETH_HLEN);
    switch (eh.eh_type) {
    case RN_ETHERTYPE_ARP:
        rn__net_arp_input(ifp, nb);
        break;
    case RN_ETHERTYPE_IPV4:
        rn__net_ip_input(ifp, nb);
        break;
    case RN_ETHERTYPE_IPV6:
        rn__net_ip6_input(ifp, nb, false);
        break;
    default:
        rn__net_drop(st, ifp, nb, RN_DROP_UNSUPPORTED_ETHERTYPE);
        break;
    }
}

void rn__net_eth_output(struct rn_iface *ifp, struct rn_netbuf *nb, const struct rn_mac *dst,
                     uint16_t type)
{
    uint8_t *h = rn_nb_push(nb, RN_ETH_HLEN);

    if (h == NULL) {
        rn__net_drop(ifp->if_stack, ifp, nb, RN_DROP_NO_BUFFER);
        return;
    }
    rn__eth_emit(h, dst, &ifp->if_mac, type);
    rn__net_iface_queue(ifp, nb);
}
