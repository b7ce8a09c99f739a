/*
 * IPv6 input (RFC 8200): the fixed header, the host's destination check,
 * the extension header chain, and delivery to ICMPv6.
 *
 *   rn__net_eth_input() -> rn__net_ip6_input() -> rn__ip6_ext_walk()
 *     -> [rn__net_reass6_add() -> rn__net_ip6_input() again, once whole]
 *     -> rn__net_icmp6_input()
 *
 * refnet is a host: datagrams for other hosts are dropped as "not_for_us".
 * What it accepts: its own unicast addresses (one still under duplicate
 * address detection only for neighbour discovery), the all-nodes group
 * ff02::1 and the solicited-node groups of its addresses.  A bad
 * extension chain is dropped under its reason and, where RFC 8200 4 says
 * so, answered with a parameter problem; a first fragment without the
 * whole chain is dropped (RFC 7112).  Fragments go to reassembly
 * (reass6.c), and the datagram they make comes in again whole.
 */
#include <stdlib.h>
#include <string.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "wire/bytes.h"
#include "wire/icmpv6.h"

struct iface_addr6 *rn__net_ip6_iface_addr(struct rn_iface *ifp, const struct rn_ip6 *addr)
{
    unsigned i;

    for (i = 0; i < ifp->if_naddr6; i++)
        if (rn_ip6_eq(&ifp->if_addr6[i].a6_addr, addr))
            return &ifp->if_addr6[i];
    return NULL;
}

bool rn__net_ip6_is_local(struct rn_stack *st, const struct rn_ip6 *addr, bool any_state)
{
    unsigned i;

    for (i = 0; i < net_st(st)->ns_nifaces; i++) {
        struct iface_addr6 *a = rn__net_ip6_iface_addr(net_st(st)->ns_ifaces[i], addr);

        if (a != NULL && (any_state || rn__net_addr6_usable(a)))
            return true;
    }
    return false;
}

/* True if ifp listens to the multicast group dst: all-nodes, or the
 * solicited-node group of one of its addresses. */
static bool joined(const struct rn_iface *ifp, const struct rn_ip6 *dst)
{
    static const struct rn_ip6 all_nodes = RN_IP6_ALL_NODES;
    unsigned i;

    if (rn_ip6_eq(dst, &all_nodes))
        return true;
    for (i = 0; i < ifp->if_naddr6; i++) {
        struct rn_ip6 sn = rn_ip6_solicited_node(&ifp->if_addr6[i].a6_addr);

        if (rn_ip6_eq(dst, &sn))
            return true;
    }
    return false;
}

/* True if no host sends from src: multicast, loopback, or an IPv4-mapped
 * address (RFC 4291 2.5.5.2 says they never appear on the wire). */
static bool bad_source(const struct rn_ip6 *src, bool looped)
{
    if (rn_ip6_is_multicast(src) || rn_ip6_is_v4mapped(src))
        return true;
    return !looped && rn_ip6_is_loopback(src);
}

/* Returns the n bytes of nb in one piece: in its head buffer if they fit
 * (pulled up), else copied into memory the caller frees (*copy).  NULL if
 * neither works. */
const uint8_t *rn__net_ip6_linear(struct rn_netbuf *nb, size_t n, uint8_t **copy)
{
    const uint8_t *p = rn_nb_pullup(nb, n);

    *copy = NULL;
    if (p != NULL || n == 0)
        return p;
    *copy = malloc(n);
    if (*copy == NULL)
        return NULL;
    rn_nb_copyout(nb, 0, *copy, n);
    return *copy;
}

static void ip6_input(struct rn_iface *ifp, struct rn_netbuf *nb, bool looped,
                      bool reassembled, const uint8_t *p, size_t contig);
static void ip6_in(struct rn_iface *ifp, struct rn_netbuf *nb, bool looped, bool reassembled);

void rn__net_ip6_input(struct rn_iface *ifp, struct rn_netbuf *nb, bool looped)
{
    ip6_in(ifp, nb, looped, false);
}

static void ip6_in(struct rn_iface *ifp, struct rn_netbuf *nb, bool looped, bool reassembled)
{
    const uint8_t *p;
    uint8_t *copy;

    if (!ifp->if_ipv6) {
        rn__net_drop(ifp->if_stack, ifp, nb, RN_DROP_UNSUPPORTED_ETHERTYPE);
        return;
    }
    if (nb->nb_pktlen < RN_IP6_HLEN) {
        rn__net_drop(ifp->if_stack, ifp, nb, RN_DROP_TRUNCATED);
        return;
    }
    /* The whole datagram in one piece: the extension walk and ICMPv6 read
     * it in place.  One longer than its head buffer (a segment the TAP
     * merged, a link of a large MTU) whose fixed header leads straight to
     * TCP or UDP needs only that header in one piece: the transports read
     * the rest from the buffers, and errors quote what is in one piece.
     * Any other is copied (rare: large pings, extension headers). */
    p = rn_nb_pullup(nb, nb->nb_pktlen);
    if (p != NULL) {
        ip6_input(ifp, nb, looped, reassembled, p, nb->nb_pktlen);
        return;
    }
    p = rn_nb_pullup(nb, RN_IP6_HLEN);
    if (p != NULL && (p[6] == RN_IPPROTO_TCP || p[6] == RN_IPPROTO_UDP)) {
        ip6_input(ifp, nb, looped, reassembled, p, nb->nb_len);
        return;
    }
    p = rn__net_ip6_linear(nb, nb->nb_pktlen, &copy);
    if (p == NULL) {
        rn__net_drop(ifp->if_stack, ifp, nb, RN_DROP_NO_BUFFER);
        return;
    }
    ip6_input(ifp, nb, looped, reassembled, p, nb->nb_pktlen);
    free(copy);
}

/* p holds the datagram from its fixed header on, contig bytes of it in one
 * piece: all of it, or (TCP and UDP straight after the fixed header) at
 * least that header. */
static void ip6_input(struct rn_iface *ifp, struct rn_netbuf *nb, bool looped,
                      bool reassembled, const uint8_t *p, size_t contig)
{
    struct rn_stack *st = ifp->if_stack;
    struct rn_ip6_hdr ip;
    struct rn_ip6_ext ex;
    struct ip6_rx rx;
    struct iface_addr6 *a = NULL;
    enum rn_drop reason;
    size_t len;
    bool mcast;

    reason = rn__ip6_parse(p, nb->nb_pktlen, &ip);
    if (reason != RN_DROP_NONE) {
        rn__net_drop(st, ifp, nb, reason);
        return;
    }
    mcast = rn_ip6_is_multicast(&ip.ip6_dst);
    if (mcast) {
        if (!joined(ifp, &ip.ip6_dst)) {
            rn__net_drop(st, ifp, nb, RN_DROP_NOT_FOR_US);
            return;
        }
    } else {
        unsigned i;

        a = rn__net_ip6_iface_addr(ifp, &ip.ip6_dst);
        /* A datagram to another interface's address is ours too (the weak
         * host model, as for IPv4). */
        for (i = 0; a == NULL && i < net_st(st)->ns_nifaces; i++)
            a = rn__net_ip6_iface_addr(net_st(st)->ns_ifaces[i], &ip.ip6_dst);
        if (a == NULL) {
            rn__net_drop(st, ifp, nb, RN_DROP_NOT_FOR_US);
            return;
        }
        if (a->a6_state == RN_ADDR6_DUPLICATE) {
            rn__net_drop(st, ifp, nb, RN_DROP_ND_DAD_CONFLICT);
            return;
        }
    }
    if (bad_source(&ip.ip6_src, looped)) {
        rn__net_drop(st, ifp, nb, RN_DROP_BAD_IP6_SRC);
        return;
    }
    len = RN_IP6_HLEN + (size_t)ip.ip6_plen;
    rn_nb_trim(nb, len);  /* link padding */
    reason = rn__ip6_ext_walk(p, len, ip.ip6_nxt, mcast, &ex);
    if (reason != RN_DROP_NONE) {
        if (ex.ex_pp_code >= 0)
            rn__net_icmp6_error(st, ifp, RN_ICMP6_PARAM_PROBLEM, (uint8_t)ex.ex_pp_code,
                                ex.ex_pp_ptr, p, len);
        rn__net_drop(st, ifp, nb, reason);
        return;
    }
    if (ex.ex_frag) {
        struct rn_netbuf *whole;

        /* A fragment inside a reassembled datagram is one nobody sends. */
        if (reassembled) {
            rn__net_drop(st, ifp, nb, RN_DROP_BAD_IP6_FRAG);
            return;
        }
        /* RFC 7112: the first fragment carries the whole chain. */
        if (ex.ex_frag_off == 0 && !rn__ip6_frag_chain_whole(p, len, &ex)) {
            rn__net_drop(st, ifp, nb, RN_DROP_IP6_FRAG_CHAIN);
            return;
        }
        whole = rn__net_reass6_add(ifp, nb, p, &ex);
        if (whole != NULL)
            ip6_in(ifp, whole, looped, true);
        return;
    }
    rx.r6_src = ip.ip6_src;
    rx.r6_dst = ip.ip6_dst;
    rx.r6_proto = ex.ex_proto;
    rx.r6_hlim = ip.ip6_hlim;
    rx.r6_tclass = ip.ip6_tclass;
    rx.r6_mcast = mcast;
    rx.r6_tentative = a != NULL && a->a6_state == RN_ADDR6_TENTATIVE;
    rx.r6_copy = (nb->nb_offload & RN_NB_OFF_RSS_COPY) != 0;
    rx.r6_iface = ifp;
    rx.r6_hdr = p;
    rx.r6_hdrlen = (uint32_t)(contig < len ? contig : len);
    /* The filtering platform's inbound-ip, as for IPv4: every datagram
     * for us, ICMPv6 (neighbour discovery too) and transports alike. */
    if (net_st(st)->ns_ip_hook[RN_IP_HOOK_IN] != NULL &&
        rn__net_ip_hook_drops(st, RN_IP_HOOK_IN, nb, ex.ex_off, rn_inaddr_v6(&ip.ip6_dst),
                              rn_inaddr_v6(&ip.ip6_src), ex.ex_proto)) {
        rn__net_drop(st, ifp, nb, RN_DROP_FILTER_BLOCKED);
        return;
    }
    /* A tentative address takes neighbour discovery only (RFC 4862 5.4);
     * ICMPv6 input sorts that out. */
    if (ex.ex_proto == RN_IPPROTO_ICMPV6) {
        /* rx.r6_hdr stays valid while ICMPv6 runs: in the buffer's
         * headroom, or in the copy the caller frees after. */
        rn_nb_pull(nb, ex.ex_off);
        RN__RX_COUNT(st, net_st(st)->ns_ip6_in++);
        rn__net_icmp6_input(st, nb, &rx);
        return;
    }
    if (rx.r6_tentative) {
        rn__net_drop(st, ifp, nb, RN_DROP_NOT_FOR_US);
        return;
    }
    if (ex.ex_proto == RN_IP6_NH_NONE) {
        rn__net_drop(st, ifp, nb, RN_DROP_IP6_NO_NEXT_HEADER);
        return;
    }
    /* A transport's datagram from :: (only neighbour discovery and MLD,
     * ICMPv6 above, send from it: RFC 4291 2.5.2), or from one of our
     * own addresses off the wire (a LAND attack on a transport). */
    if (rn_ip6_is_any(&ip.ip6_src) || (!looped && rn__net_ip6_is_local(st, &ip.ip6_src, true))) {
        rn__net_drop(st, ifp, nb, RN_DROP_BAD_IP6_SRC);
        return;
    }
    /* Receive-side scaling: a reassembled datagram of another queue's
     * flow goes there whole, as the device would have steered it. */
    if (reassembled && net_st(st)->ns_rss_hand != NULL &&
        (ex.ex_proto == RN_IPPROTO_TCP || ex.ex_proto == RN_IPPROTO_UDP)) {
        uint8_t scratch[4];
        const uint8_t *ports = rn_nb_header(nb, ex.ex_off, sizeof(scratch), scratch);
        struct rn_inaddr src = rn_inaddr_v6(&ip.ip6_src), dst = rn_inaddr_v6(&ip.ip6_dst);

        if (ports != NULL &&
            rn__net_rss_handover(st, ifp, 0x86dd, NULL, 0, nb, ex.ex_proto, &src, &dst,
                                 rn_get_be16(ports), rn_get_be16(ports + 2))) {
            rn_nb_free(nb);
            return;
        }
    }
    rn_nb_pull(nb, ex.ex_off);
    if (rn__net_ip6_deliver(st, nb, &rx))
        return;
    /* No transport takes this upper layer: unrecognised. */
    rn__net_icmp6_error(st, ifp, RN_ICMP6_PARAM_PROBLEM, RN_ICMP6_PP_NEXTHEADER, ex.ex_nxt_off,
                        p, rx.r6_hdrlen);
    rn__net_drop(st, ifp, nb, RN_DROP_UNKNOWN_PROTO);
}
