/*
 * UDP (RFC 768, RFC 1122 section 4.1): endpoints, input with demultiplexing
 * and bounded receive queues, output, ICMP errors, and the ops table the
 * socket layer drives (transport.h).
 *
 * Receive path:
 *   rn__net_ip_deliver() -> udp_input(): length and checksum over the chain
 *     -> port table lookup (specific address, then wildcard)
 *     -> [filtering platform: inbound-transport]
 *     -> receive queue (bounded in buffer bytes, SO_RCVBUF)
 *     -> upcall to the socket, which pulls into a pending receive at once
 *   no endpoint: ICMP port unreachable and the drop "udp_no_port".
 * Transmit path:
 *   socket -> udp_send() -> [filtering platform: outbound-transport]
 *     -> header and checksum over the payload chain -> rn__ip_output()
 * A datagram a filter blocks is dropped ("filter_blocked"), silently on the
 * way in; on the way out the send fails with RN_EACCES.
 * Errors: ICMP port (and protocol) unreachable about a datagram sent by a
 * connected endpoint becomes its pending error, returned by its next send
 * or receive, as Linux does without IP_RECVERR; other ICMP errors are soft
 * for UDP and ignored.  Over IPv6 the hard ICMPv6 errors do the same with
 * the codes Linux gives them (rn__icmp6_err_code()): port unreachable
 * RN_ECONNREFUSED, administratively prohibited, failed policy and reject
 * route RN_EACCES, parameter problem RN_EPROTO; no route, address
 * unreachable, time exceeded and packet too big are soft.
 *
 * Endpoints are objects of type "udp endpoint".  References: "create"
 * (UDP's own, dropped by close through rn_ob_kill), "socket.endpoint" (the
 * socket's), "port-table" (while bound).  So a closed endpoint is released
 * as soon as its socket lets go, unless someone else still holds it, which
 * the socket's close wait then shows.
 *
 * Receive-queue accounting charges each datagram the buffers it occupies
 * (its chain length times the pool's buffer size), like Linux's truesize,
 * so a flood of tiny datagrams cannot pin the whole pool.  A send goes
 * straight to the interface queue, flushed at the end of the poll; what
 * an endpoint sent is charged to it the same way until the loop next runs
 * its posted work (by then the interfaces flushed it), and SO_SNDBUF
 * bounds that charge: beyond it a send waits, or answers RN_EAGAIN
 * without waiting; a datagram larger than twice SO_SNDBUF gets
 * RN_ENOBUFS, as Linux.
 */
#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/once.h"
#include "base/siphash.h"
#include "filter/filter_hook.h"
#include "net/net.h"
#include "refnet/error.h"
#include "refnet/report.h"
#include "refnet/strbuf.h"
#include "transport/netstat.h"
#include "transport/udp.h"
#include "wire/bytes.h"
#include "wire/csum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

static struct rn_ob_type *udp_ep_type;
/* An endpoint's hold while sent datagrams are charged to it (SO_SNDBUF):
 * a tag of the process, since the work that drops it may run after UDP's
 * state on the stack is gone. */
static rn_tag_t udp_tag_sndbuf;
static struct rn_once udp_once = RN_ONCE_INIT;
/* The stack slot UDP keeps its state in, taken once by udp_types(). */
static _Atomic int udp_slot = -1;

static void udp_describe(const void *ob, char *buf, size_t len)
{
    const struct udp_ep *ep = ob;
    char la[RN_IP6_STRLEN + 8], ra[RN_IP6_STRLEN + 8], peer[RN_IP6_STRLEN + 16] = "";
    struct rn__ep_name_copy n;

    if (!rn__ep_names_get(&ep->ue_names, &n)) {
        snprintf(buf, len, "udp endpoint (names changing)");
        return;
    }
    if (n.ec_port[1] != 0)
        snprintf(peer, sizeof(peer), " peer %s",
                 rn__ep_name_fmt(&n.ec_addr[1], n.ec_port[1], ep->ue_inet6, ra, sizeof(ra)));
    snprintf(buf, len, "udp endpoint %s%s rcvq %u/%u",
             rn__ep_name_fmt(&n.ec_addr[0], n.ec_port[0], ep->ue_inet6, la, sizeof(la)), peer,
             atomic_load_explicit(&ep->ue_rcvq_bytes, memory_order_relaxed),
             atomic_load_explicit(&ep->ue_rcvbuf, memory_order_relaxed));
}

static const struct rn_ob_type_ops udp_ep_ops = {
    .name = "udp endpoint",
    .size = sizeof(struct udp_ep),
    /* Nothing to release: close emptied the queue on the loop thread, and
     * the last reference may be dropped on any thread. */
    .release = NULL,
    .describe = udp_describe,
};

/* Who holds an endpoint (object.h, "Holder contracts"). */
static const char *const udp_ep_conds[] = {"bound"};  /* RN__PT_COND_BOUND */
static const struct rn_ob_holder udp_ep_holders[] = {
    {"create", 0, 0, 0, "expected: UDP's own reference, until the endpoint closes"},
    {"port-table", RN__PT_COND_BOUND, RN_HOLD_ONE, 0, "expected while bound"},
    {"socket.endpoint", 0, RN_HOLD_DYING, 0,
     "expected: the socket endpoint's reference, dropped on its release"},
    {"udp.sndbuf", 0, RN_HOLD_DYING | RN_HOLD_BRIEF, RN_SEC(1),
     "expected: datagrams charged to its send buffer until the loop's next round"},
};
static const struct rn_ob_contract udp_ep_contract = {
    udp_ep_holders, sizeof(udp_ep_holders) / sizeof(udp_ep_holders[0]),
    udp_ep_conds, 1, 0,
};

static bool udp_types(void)
{
    int slot = rn_stack_slot_alloc();

    udp_ep_type = rn_ob_type_register(&udp_ep_ops);
    udp_tag_sndbuf = rn_tag_intern("udp.sndbuf");
    if (slot < 0 || udp_ep_type == NULL || udp_tag_sndbuf == RN_TAG_NONE ||
        rn_ob_type_set_contract(udp_ep_type, &udp_ep_contract) < 0)
        return false;
    atomic_store_explicit(&udp_slot, slot, memory_order_relaxed);
    return true;
}

static struct udp_state *udp_of(struct rn_stack *st)
{
    int slot = atomic_load_explicit(&udp_slot, memory_order_relaxed);

    return slot < 0 ? NULL : rn_stack_slot(st, slot);
}

static void ep_publish_names(struct udp_ep *ep)
{
    rn__ep_names_set(&ep->ue_names, &ep->ue_laddr, ep->ue_lport, &ep->ue_raddr, ep->ue_rport);
}

static void ep_event(struct udp_ep *ep, unsigned events)
{
    if (ep->ue_up.up_event != NULL)
        ep->ue_up.up_event(ep->ue_up.up_ctx, events);
}

/* Empties the receive queue.  [L] */
static void ep_purge(struct udp_ep *ep)
{
    rn_nbq_purge(&ep->ue_rcvq);
    atomic_store_explicit(&ep->ue_rcvq_bytes, 0, memory_order_relaxed);
}

/* ---- Input ---------------------------------------------------------------- */

/* What UDP input keeps of a datagram, of either family. */
struct udp_rx {
    struct rn_inaddr dst, src;
    uint16_t sport, dport, ulen;
    struct rn_iface *ifp;
};

static void udp_drop(struct rn_stack *st, struct udp_state *us, struct rn_netbuf *nb,
                     struct rn_iface *ifp, enum rn_drop reason)
{
    us->us_stats.us_in_errors++;
    rn__stack_count_drop(st, ifp, reason);
    rn_nb_free(nb);
}

/* The transport layers of the filtering platform for a datagram between
 * laddr:lport (ours) and raddr:rport.  Returns true if it is blocked. */
static bool udp_filter_blocks(struct rn_stack *st, enum rn_filter_layer layer,
                              const struct rn_inaddr *laddr, uint16_t lport,
                              const struct rn_inaddr *raddr, uint16_t rport, size_t len)
{
    struct rn_filter_req req;

    memset(&req, 0, sizeof(req));
    req.fr_values.fv_layer = layer;
    req.fr_values.fv_proto = RN_IPPROTO_UDP;
    req.fr_values.fv_laddr = *laddr;  /* either family, as the platform takes them */
    req.fr_values.fv_lport = lport;
    req.fr_values.fv_raddr = *raddr;
    req.fr_values.fv_rport = rport;
    req.fr_values.fv_len = (uint32_t)len;
    return rn__filter_classify(st, &req) == RN_FILTER_BLOCK;
}

/* How well ep, bound by pe, fits a datagram from src:sport to dst: 0 not
 * at all (another address, or connected to another peer); more for a
 * binding to dst itself than to the wildcard of its family, more for that
 * than for a dual-stack :: taking IPv4, and more again for one connected
 * to the sender (Linux's scoring). */
static unsigned ep_score(const struct rn_port_entry *pe, const struct rn_inaddr *dst,
                         const struct rn_inaddr *src, uint16_t sport)
{
    const struct udp_ep *ep = pe->pe_ob;
    unsigned s;

    if (!rn__inaddr_covers(&pe->pe_addr, pe->pe_flags & RN_PT_V6ONLY, dst))
        return 0;
    if (ep->ue_rport != 0 && (!rn_inaddr_eq(&ep->ue_raddr, src) || ep->ue_rport != sport))
        return 0;
    if (rn_inaddr_eq(&pe->pe_addr, dst))
        s = 3;
    else if (rn_inaddr_is_v4(dst) && rn_ip6_is_any(&pe->pe_addr.ia_ip6))
        s = 1;
    else
        s = 2;
    return s + (ep->ue_rport != 0 ? 4u : 0u);
}

/* The endpoint a unicast datagram goes to: the best fit, newest first;
 * among endpoints sharing the port with SO_REUSEPORT at the best fit,
 * one picked by a keyed hash of the 4-tuple, so that a flow stays on
 * one.  NULL if none takes it. */
static struct udp_ep *ep_select(struct udp_state *us, const struct rn_inaddr *dst, uint16_t dport,
                                const struct rn_inaddr *src, uint16_t sport)
{
    struct rn_port_entry *pe, *best = NULL, *chain = rn__pt_chain(&us->us_ports, dport);
    unsigned score, top = 0, group = 0;
    struct {
        struct rn_inaddr d, s;
        uint32_t ports;
    } key = {*dst, *src, (uint32_t)dport << 16 | sport};
    uint32_t pick;

    for (pe = chain; pe != NULL; pe = pe->pe_next) {
        if (pe->pe_port != dport || (score = ep_score(pe, dst, src, sport)) == 0)
            continue;
        if (score > top) {
            top = score;
            best = pe;
            group = 0;
        }
        if (score == top && (pe->pe_flags & RN_PT_REUSEPORT))
            group++;
    }
    if (best == NULL)
        return NULL;
    if (group <= 1 || !(best->pe_flags & RN_PT_REUSEPORT))
        return best->pe_ob;
    pick = (uint32_t)(((uint64_t)(uint32_t)rn__siphash(us->us_ports.pt_key, &key, sizeof(key)) *
                       group) >> 32);
    for (pe = chain; pe != NULL; pe = pe->pe_next) {
        if (pe->pe_port == dport && (pe->pe_flags & RN_PT_REUSEPORT) &&
            ep_score(pe, dst, src, sport) == top && pick-- == 0)
            return pe->pe_ob;
    }
    return best->pe_ob;
}

/* Queues a datagram (nb, its UDP header still on, kept for the source
 * port) on ep's receive queue, within SO_RCVBUF, and tells the socket.
 * Consumes nb. */
static void ep_queue(struct rn_stack *st, struct udp_state *us, struct udp_ep *ep,
                     struct rn_netbuf *nb, const struct udp_rx *u)
{
    uint32_t truesize = rn_nb_count(nb) * us->us_truesize;
    uint32_t queued = atomic_load_explicit(&ep->ue_rcvq_bytes, memory_order_relaxed);

    /* An empty queue takes one datagram whatever its size, so a small
     * SO_RCVBUF never shuts the endpoint out completely. */
    if (ep->ue_rcvq.nq_len > 0 &&
        (uint64_t)queued + truesize > atomic_load_explicit(&ep->ue_rcvbuf, memory_order_relaxed)) {
        us->us_stats.us_rcvbuf_errors++;
        udp_drop(st, us, nb, u->ifp, RN_DROP_UDP_RCVBUF);
        return;
    }
    memcpy(nb->nb_cb, &u->src, sizeof(u->src));
    rn_nb_set_owner(nb, us->us_own_rcvq);
    rn_nbq_put(&ep->ue_rcvq, nb);
    atomic_store_explicit(&ep->ue_rcvq_bytes, queued + truesize, memory_order_relaxed);
    us->us_stats.us_in++;
    ep_event(ep, RN_POLLIN);
}

/* A broadcast datagram goes to every endpoint bound to its port that
 * takes it, each its own copy (Linux delivers broadcasts so).  Consumes
 * nb. */
static void udp_deliver_all(struct rn_stack *st, struct udp_state *us, struct rn_netbuf *nb,
                            const struct udp_rx *u)
{
    struct rn_port_entry *pe, *last = NULL;

    if (rn__filter_on(RN_FL_INBOUND_TRANSPORT) &&
        udp_filter_blocks(st, RN_FL_INBOUND_TRANSPORT, &u->dst, u->dport, &u->src, u->sport,
                          u->ulen - RN_UDP_HLEN)) {
        rn__stack_count_drop(st, u->ifp, RN_DROP_FILTER_BLOCKED);
        rn_nb_free(nb);
        return;
    }
    for (pe = rn__pt_chain(&us->us_ports, u->dport); pe != NULL; pe = pe->pe_next) {
        if (pe->pe_port != u->dport || ep_score(pe, &u->dst, &u->src, u->sport) == 0)
            continue;
        if (last != NULL) {
            struct rn_netbuf *copy = rn_nb_copy(nb, us->us_own_rcvq);

            if (copy == NULL)
                rn__stack_count_drop(st, u->ifp, RN_DROP_NO_BUFFER);
            else
                ep_queue(st, us, last->pe_ob, copy, u);
        }
        last = pe;
    }
    if (last == NULL) {
        /* Nobody listens: dropped quietly (no ICMP answers a broadcast). */
        us->us_stats.us_no_port++;
        rn__stack_count_drop(st, u->ifp, RN_DROP_UDP_NO_PORT);
        rn_nb_free(nb);
        return;
    }
    ep_queue(st, us, last->pe_ob, nb, u);
}

/* Reads the UDP header of nb into *u and checks its length against the
 * datagram (trimming what lies past it).  Returns RN_DROP_NONE or why
 * the datagram is dropped.  Inlined: IPv4's input pays no call for it. */
static inline __attribute__((always_inline)) enum rn_drop
udp_header(struct rn_netbuf *nb, struct udp_rx *u, uint16_t *sum)
{
    uint8_t scratch[RN_UDP_HLEN];
    const uint8_t *h = rn_nb_header(nb, 0, RN_UDP_HLEN, scratch);

    if (h == NULL)
        return RN_DROP_TRUNCATED;
    u->sport = rn_get_be16(h);
    u->dport = rn_get_be16(h + 2);
    u->ulen = rn_get_be16(h + 4);
    *sum = rn_get_be16(h + 6);
    if (u->ulen < RN_UDP_HLEN || u->ulen > nb->nb_pktlen)
        return RN_DROP_BAD_UDP_LEN;
    if (u->ulen < nb->nb_pktlen)
        rn_nb_trim(nb, u->ulen);  /* bytes past the length field are not ours */
    return RN_DROP_NONE;
}

/* The network layer's input handler for protocol 17.  Consumes nb. */
static void udp_input(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip_rx *rx)
{
    struct udp_state *us = udp_of(st);
    struct udp_rx u;
    struct udp_ep *ep;
    enum rn_drop reason;
    uint16_t sum;

    if (us == NULL) {
        /* Torn down already: the stack is being destroyed. */
        rn__stack_count_drop(st, rx->rx_iface, RN_DROP_UNKNOWN_PROTO);
        rn_nb_free(nb);
        return;
    }
    u.ifp = rx->rx_iface;
    reason = udp_header(nb, &u, &sum);
    if (reason != RN_DROP_NONE) {
        udp_drop(st, us, nb, u.ifp, reason);
        return;
    }
    if (sum != 0 && !(nb->nb_offload & (RN_NB_OFF_CSUM_VALID | RN_NB_OFF_CSUM_PARTIAL))) {
        uint64_t acc = rn_csum_pseudo4(rx->rx_src, rx->rx_dst, RN_IPPROTO_UDP, u.ulen);

        if (rn_csum_fold(rn_nb_csum(nb, 0, u.ulen, acc)) != 0) {
            us->us_stats.us_csum_errors++;
            udp_drop(st, us, nb, u.ifp, RN_DROP_BAD_UDP_CSUM);
            return;
        }
    }
    u.dst = rn_inaddr_v4(rx->rx_dst);
    u.src = rn_inaddr_v4(rx->rx_src);
    if (rx->rx_bcast) {
        udp_deliver_all(st, us, nb, &u);
        return;
    }
    ep = ep_select(us, &u.dst, u.dport, &u.src, u.sport);
    if (ep == NULL) {
        us->us_stats.us_no_port++;
        rn__icmp_unreach(st, rx, nb, RN_ICMP_UNREACH_PORT);
        rn__stack_count_drop(st, u.ifp, RN_DROP_UDP_NO_PORT);
        rn_nb_free(nb);
        return;
    }
    if (rn__filter_on(RN_FL_INBOUND_TRANSPORT) &&
        udp_filter_blocks(st, RN_FL_INBOUND_TRANSPORT, &u.dst, u.dport, &u.src, u.sport,
                          u.ulen - RN_UDP_HLEN)) {
        rn__stack_count_drop(st, u.ifp, RN_DROP_FILTER_BLOCKED);
        rn_nb_free(nb);
        return;
    }
    ep_queue(st, us, ep, nb, &u);
}

/* The IPv6 layer's input handler for next header 17.  A zero checksum is
 * refused (RFC 8200 8.1: mandatory over IPv6); a datagram to a group is
 * not delivered (refnet's sockets join none).  Consumes nb. */
static void udp_input6(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip6_rx *rx)
{
    struct udp_state *us = udp_of(st);
    struct udp_rx u;
    struct udp_ep *ep;
    enum rn_drop reason;
    uint16_t sum;

    if (us == NULL) {
        rn__stack_count_drop(st, rx->rx6_iface, RN_DROP_UNKNOWN_PROTO);
        rn_nb_free(nb);
        return;
    }
    u.ifp = rx->rx6_iface;
    reason = udp_header(nb, &u, &sum);
    if (reason == RN_DROP_NONE && sum == 0)
        reason = RN_DROP_BAD_UDP_CSUM;
    if (reason == RN_DROP_NONE &&
        !(nb->nb_offload & (RN_NB_OFF_CSUM_VALID | RN_NB_OFF_CSUM_PARTIAL)) &&
        rn_csum_fold(rn_nb_csum(nb, 0, u.ulen,
                                rn_csum_pseudo6(&rx->rx6_src, &rx->rx6_dst, RN_IPPROTO_UDP,
                                                u.ulen))) != 0)
        reason = RN_DROP_BAD_UDP_CSUM;
    if (reason != RN_DROP_NONE) {
        if (reason == RN_DROP_BAD_UDP_CSUM)
            us->us_stats.us_csum_errors++;
        udp_drop(st, us, nb, u.ifp, reason);
        return;
    }
    if (rx->rx6_mcast) {
        rn__stack_count_drop(st, u.ifp, RN_DROP_NOT_FOR_US);
        rn_nb_free(nb);
        return;
    }
    u.dst = rn_inaddr_v6(&rx->rx6_dst);
    u.src = rn_inaddr_v6(&rx->rx6_src);
    ep = ep_select(us, &u.dst, u.dport, &u.src, u.sport);
    if (ep == NULL) {
        us->us_stats.us_no_port++;
        rn__icmp6_unreach(st, rx, 4 /* port unreachable */);
        rn__stack_count_drop(st, u.ifp, RN_DROP_UDP_NO_PORT);
        rn_nb_free(nb);
        return;
    }
    if (rn__filter_on(RN_FL_INBOUND_TRANSPORT) &&
        udp_filter_blocks(st, RN_FL_INBOUND_TRANSPORT, &u.dst, u.dport, &u.src, u.sport,
                          u.ulen - RN_UDP_HLEN)) {
        rn__stack_count_drop(st, u.ifp, RN_DROP_FILTER_BLOCKED);
        rn_nb_free(nb);
        return;
    }
    ep_queue(st, us, ep, nb, &u);
}

/* The network layer's ICMP and ICMPv6 error handler for protocol 17. */
static void udp_err(struct rn_stack *st, const struct rn_ip_err *err)
{
    struct udp_state *us = udp_of(st);
    struct udp_ep *ep;
    uint16_t sport, dport;
    bool hard;
    int code;

    if (us == NULL || err->ie_l4len < 4)
        return;
    if (err->ie_v6) {
        code = rn__icmp6_err_code(err->ie_type, err->ie_code, &hard);
        if (!hard)
            return;  /* soft errors: not reported without IPV6_RECVERR */
    } else if (err->ie_type != RN_ICMP_DEST_UNREACH) {
        return;
    } else if (err->ie_code == RN_ICMP_UNREACH_PORT) {
        code = RN_ECONNREFUSED;
    } else if (err->ie_code == RN_ICMP_UNREACH_PROTO) {
        code = RN_ENOPROTOOPT;
    } else {
        return;  /* soft errors: not reported without IP_RECVERR */
    }
    sport = rn_get_be16(err->ie_l4);
    dport = rn_get_be16(err->ie_l4 + 2);
    ep = ep_select(us, &err->ie_src, sport, &err->ie_dst, dport);
    if (ep == NULL || ep->ue_rport == 0 || !rn_inaddr_eq(&ep->ue_raddr, &err->ie_dst) ||
        ep->ue_rport != dport)
        return;
    ep->ue_error = code;
    ep_event(ep, RN_POLLERR);
}

/* An endpoint bound to an address that went with its interface: its next
 * call hears RN_ENETDOWN, and a waiting receive wakes for it. */
static void ep_addr_gone(struct rn_port_entry *pe, void *ctx)
{
    struct udp_ep *ep = pe->pe_ob;

    if (!rn_inaddr_eq(&pe->pe_addr, ctx))
        return;
    ep->ue_error = RN_ENETDOWN;
    ep_event(ep, RN_POLLERR);
}

static void udp_addr_gone(struct rn_stack *st, uint32_t addr)
{
    struct udp_state *us = udp_of(st);
    struct rn_inaddr gone = rn_inaddr_v4(addr);

    if (us != NULL)
        rn__pt_foreach(&us->us_ports, ep_addr_gone, &gone);
}

/* ---- Ops for the socket layer ----------------------------------------------- */

/* The endpoint is both the socket's context and its object. */
static int udp_open(struct rn_stack *st, const struct rn_sock_upcall *up, void **out)
{
    struct udp_state *us = udp_of(st);
    struct udp_ep *ep;

    if (us == NULL)
        return RN_EINVAL;
    ep = rn_ob_create(udp_ep_type, RN_TAG_CREATE);
    if (ep == NULL)
        return RN_ENOMEM;
    ep->ue_udp = us;
    ep->ue_inet6 = up->up_inet6;
    ep->ue_laddr = ep->ue_inet6 ? rn_inaddr_v6(&RN_IP6_ANY) : rn_inaddr_v4(0);
    ep->ue_raddr = ep->ue_laddr;
    rn_nbq_init(&ep->ue_rcvq);
    atomic_store_explicit(&ep->ue_rcvbuf, RN_UDP_RCVBUF_DEFAULT, memory_order_relaxed);
    ep->ue_sndbuf = RN_UDP_SNDBUF_DEFAULT;
    ep->ue_up = *up;
    ep->ue_owner = up->up_owner;
    rn_ob_ref(ep, RN_TAG_SOCKET_ENDPOINT);
    rn_ob_publish(ep);
    *out = ep;
    return 0;
}

/* A peer's answers to an ephemeral port, for rn__pt_pick_ephemeral(). */
struct rss_want {
    struct rn_stack *rw_stack;
    struct rn_inaddr rw_src, rw_raddr;  /* our address, the peer's */
    uint16_t rw_rport;
};

/* Whether the device steers the peer's answers to port to this stack. */
static bool rss_wants(void *ctx, uint16_t port)
{
    const struct rss_want *rw = ctx;

    return rn_stack_rss_mine(rw->rw_stack, &rw->rw_raddr, &rw->rw_src, rw->rw_rport, port);
}

/* Binds ep to addr:port, an ephemeral port if port is 0.  When the
 * socket is being connected (or sends first) to raddr:rport from source
 * address src, the ephemeral port is one whose answers the device steers
 * to this stack's queue under receive-side scaling, as TCP's are (about
 * one in as many as there are queues); else any. */
static int ep_bind(struct udp_ep *ep, struct rn_inaddr addr, uint16_t port, struct rn_inaddr src,
                   struct rn_inaddr raddr, uint16_t rport)
{
    struct udp_state *us = ep->ue_udp;
    struct rss_want rw = {us->us_stack, src, raddr, rport};
    int err;

    if (port == 0) {
        err = rn__pt_pick_ephemeral(&us->us_ports, addr, raddr, rport,
                                    rport != 0 ? rss_wants : NULL, &rw);
        if (err < 0)
            return err;
        port = (uint16_t)err;
    }
    err = rn__pt_insert(&us->us_ports, &ep->ue_bind, ep, addr, port);
    if (err < 0)
        return err;
    rn__stack_port_use(us->us_stack, RN_IPPROTO_UDP, port, true);
    ep->ue_laddr = addr;
    ep->ue_lport = port;
    ep_publish_names(ep);
    return 0;
}

static int udp_bind(void *t, const struct rn_sockaddr_in *addr)
{
    struct udp_ep *ep = t;
    struct rn_stack *st = ep->ue_udp->us_stack;

    struct rn_inaddr la = rn_inaddr_v6(&addr->sin6_addr);

    if (ep->ue_closed || ep->ue_lport != 0)
        return RN_EINVAL;
    if (rn_inaddr_is_v4(&la) && rn_inaddr_to_v4(&la) != 0 &&
        !rn__ip_is_local(st, rn_inaddr_to_v4(&la)) &&
        !rn__ip_is_broadcast(st, rn_inaddr_to_v4(&la)))
        return RN_EADDRNOTAVAIL;
    if (!rn_inaddr_is_v4(&la) && !rn_ip6_is_any(&la.ia_ip6) && !rn__ip6_is_local(st, &la.ia_ip6))
        return RN_EADDRNOTAVAIL;
    return ep_bind(ep, la, addr->sin_port, la, rn__inaddr_any_like(&la), 0);
}

static int udp_listen(void *t, int backlog)
{
    (void)t;
    (void)backlog;
    return RN_EOPNOTSUPP;
}

/* Routes a datagram to dst from ep: *src gets the source address to use
 * (the bound one, unless it is a wildcard or a broadcast address), *bcast
 * whether dst is a broadcast address.  Returns 0 or RN_ENETUNREACH (no
 * route, or the other family than a specific bound address). */
static int ep_route(const struct udp_ep *ep, const struct rn_inaddr *dst, struct rn_inaddr *src,
                    bool *bcast)
{
    struct rn_stack *st = ep->ue_udp->us_stack;
    bool bound = !rn_inaddr_is_any(&ep->ue_laddr);
    struct rn_ip_route r;

    if (bound && rn_inaddr_is_v4(&ep->ue_laddr) != rn_inaddr_is_v4(dst))
        return RN_ENETUNREACH;
    if (rn_inaddr_is_v4(dst)) {
        if (rn__ip_route(st, rn_inaddr_to_v4(dst), &r) < 0)
            return RN_ENETUNREACH;
        *bcast = r.ir_bcast;
        *src = bound && !rn_ip4_is_bcast(rn_inaddr_to_v4(&ep->ue_laddr)) ? ep->ue_laddr
                                                                         : rn_inaddr_v4(r.ir_src);
    } else {
        struct rn_ip6 s6;

        if (rn_ip6_is_multicast(&dst->ia_ip6) || rn__ip6_route(st, &dst->ia_ip6, &r, &s6) < 0)
            return RN_ENETUNREACH;
        *bcast = false;
        *src = bound ? ep->ue_laddr : rn_inaddr_v6(&s6);
    }
    return 0;
}

static int udp_connect(void *t, const struct rn_sockaddr_in *addr)
{
    struct udp_ep *ep = t;
    struct rn_stack *st = ep->ue_udp->us_stack;
    struct rn_inaddr raddr = rn_inaddr_v6(&addr->sin6_addr), src;
    bool bcast;
    int err;

    if (ep->ue_closed)
        return RN_EINVAL;
    ep->ue_error = 0;
    if (rn_inaddr_is_any(&raddr) && addr->sin_port == 0) {
        /* Dissolve the association, as connect(AF_UNSPEC) does. */
        ep->ue_raddr = rn__inaddr_any_like(&ep->ue_laddr);
        ep->ue_rport = 0;
        ep_publish_names(ep);
        return 0;
    }
    /* 0.0.0.0 is this host, as Linux reads it. */
    if (rn_inaddr_is_v4(&raddr) && rn_inaddr_to_v4(&raddr) == 0)
        raddr = rn_inaddr_v4(rn__ip_any_local(st));
    if (ep_route(ep, &raddr, &src, &bcast) < 0)
        return RN_ENETUNREACH;
    if (bcast && !ep->ue_broadcast)
        return RN_EACCES;
    if (addr->sin_port == 0) {
        /* As Linux accepts it: an association to nobody in particular,
         * which sends nowhere (a send needs an address) and receives from
         * anyone. */
        ep->ue_raddr = rn__inaddr_any_like(&ep->ue_laddr);
        ep->ue_rport = 0;
        ep_publish_names(ep);
        return 0;
    }
    if (ep->ue_lport == 0) {
        err = ep_bind(ep, ep->ue_laddr, 0, src, raddr, addr->sin_port);
        if (err < 0)
            return err;
    }
    ep->ue_raddr = raddr;
    ep->ue_rport = addr->sin_port;
    ep_publish_names(ep);
    return 0;
}

static int udp_accept(void *t, const struct rn_sock_upcall *up, void **out,
                      struct rn_sockaddr_in *peer)
{
    (void)t;
    (void)up;
    (void)out;
    (void)peer;
    return RN_EOPNOTSUPP;
}

/* The loop ran its posted work since the datagrams were charged: the
 * interfaces flushed them at the end of that poll (or are about to), and
 * the endpoint may send again. */
static void ep_uncharge(struct rn_stack *st, struct rn_work *w)
{
    struct udp_ep *ep = (struct udp_ep *)((char *)w - offsetof(struct udp_ep, ue_wq_work));

    (void)st;
    ep->ue_wq_bytes = 0;
    ep->ue_wq_posted = false;
    if (!ep->ue_closed)
        ep_event(ep, RN_POLLOUT);
    rn_ob_deref(ep, udp_tag_sndbuf);
}

/* Charges a datagram of charge buffer bytes, sent just now, to ep. */
static void ep_charge(struct udp_ep *ep, uint32_t charge)
{
    ep->ue_wq_bytes += charge;
    if (ep->ue_wq_posted)
        return;
    ep->ue_wq_posted = true;
    rn_ob_ref(ep, udp_tag_sndbuf);
    rn_stack_post(ep->ue_udp->us_stack, &ep->ue_wq_work, ep_uncharge);
}

static ssize_t udp_send(void *t, const void *buf, size_t len, const struct rn_sockaddr_in *to,
                        uint32_t flags)
{
    struct udp_ep *ep = t;
    struct udp_state *us = ep->ue_udp;
    struct rn_stack *st = us->us_stack;
    struct rn_udp_hdr uh = {0};
    struct rn_netbuf *nb;
    struct rn_inaddr dst, src;
    uint32_t charge;
    uint16_t dport, ulen, sum;
    uint64_t pseudo;
    bool bcast;
    uint8_t *h;
    int err;

    (void)flags;
    if (ep->ue_closed)
        return RN_EINVAL;
    if (ep->ue_error != 0) {
        err = ep->ue_error;
        ep->ue_error = 0;
        return err;
    }
    if (ep->ue_shut_wr)
        return RN_EPIPE;
    if (len > RN_UDP6_MAX_PAYLOAD)
        return RN_EMSGSIZE;
    if (to != NULL) {
        dst = rn_inaddr_v6(&to->sin6_addr);
        dport = to->sin_port;
    } else if (ep->ue_rport != 0) {
        dst = ep->ue_raddr;
        dport = ep->ue_rport;
    } else {
        return RN_EDESTADDRREQ;
    }
    if (dport == 0)
        return RN_EINVAL;
    if (len > RN_UDP_MAX_PAYLOAD && rn_inaddr_is_v4(&dst))
        return RN_EMSGSIZE;
    if (ep_route(ep, &dst, &src, &bcast) < 0)
        return RN_ENETUNREACH;
    if (ep->ue_lport == 0) {
        err = ep_bind(ep, ep->ue_laddr, 0, src, dst, dport);
        if (err < 0)
            return err;
    }
    /* To a broadcast address only with SO_BROADCAST (Linux: EACCES). */
    if (bcast && !ep->ue_broadcast)
        return RN_EACCES;
    /* SO_SNDBUF: what this endpoint sent and the interface may still
     * hold.  Full, a send waits (or answers RN_EAGAIN without waiting). */
    if (ep->ue_wq_bytes >= ep->ue_sndbuf)
        return RN_EAGAIN;
    if (rn__filter_on(RN_FL_OUTBOUND_TRANSPORT) &&
        udp_filter_blocks(st, RN_FL_OUTBOUND_TRANSPORT, &src, ep->ue_lport, &dst, dport, len)) {
        rn__stack_count_drop(st, NULL, RN_DROP_FILTER_BLOCKED);
        return RN_EACCES;
    }
    nb = rn__ip_alloc(st, us->us_own_tx);
    if (nb == NULL)
        return RN_ENOBUFS;
    h = rn_nb_put(nb, RN_UDP_HLEN);
    if (h == NULL || rn_nb_copyin(nb, RN_UDP_HLEN, buf, len) < 0) {
        rn_nb_free(nb);
        rn__stack_count_drop(st, NULL, RN_DROP_NO_BUFFER);
        return RN_ENOBUFS;
    }
    /* The header with a zero checksum, then the sum over the whole chain. */
    ulen = (uint16_t)(RN_UDP_HLEN + len);
    uh.uh_sport = ep->ue_lport;
    uh.uh_dport = dport;
    rn_put_be16(h, uh.uh_sport);
    rn_put_be16(h + 2, uh.uh_dport);
    rn_put_be16(h + 4, ulen);
    rn_put_be16(h + 6, 0);
    pseudo = rn_inaddr_is_v4(&dst) ? rn_csum_pseudo4(rn_inaddr_to_v4(&src), rn_inaddr_to_v4(&dst),
                                                     RN_IPPROTO_UDP, ulen)
                                    : rn_csum_pseudo6(&src.ia_ip6, &dst.ia_ip6, RN_IPPROTO_UDP, ulen);
    sum = rn_csum_fold(rn_nb_csum(nb, 0, ulen, pseudo));
    rn_put_be16(h + 6, sum == 0 ? 0xffff : sum);
    /* A datagram larger than twice the buffer cannot be taken at all (as
     * Linux refuses the fragments of one with ENOBUFS). */
    charge = rn_nb_count(nb) * us->us_truesize;
    if ((uint64_t)ep->ue_wq_bytes + charge > 2 * (uint64_t)ep->ue_sndbuf) {
        rn_nb_free(nb);
        return RN_ENOBUFS;
    }
    if (rn_inaddr_is_v4(&dst)) {
        struct rn_ip_out out = {
            .io_src = rn_inaddr_to_v4(&src),
            .io_dst = rn_inaddr_to_v4(&dst),
            .io_proto = RN_IPPROTO_UDP,
            .io_tos = ep->ue_tos,
            .io_ttl = ep->ue_ttl,
        };

        err = rn__ip_output(st, nb, &out);
    } else {
        struct rn_ip6_out out = {
            .o6_src = src.ia_ip6,
            .o6_dst = dst.ia_ip6,
            .o6_proto = RN_IPPROTO_UDP,
            .o6_hlim = ep->ue_ttl,
            .o6_tclass = ep->ue_tos,
        };

        err = rn__ip6_output(st, nb, &out);
    }
    if (err < 0)
        return err;
    ep_charge(ep, charge);
    us->us_stats.us_out++;
    return (ssize_t)len;
}

static ssize_t udp_recv(void *t, void *buf, size_t len, uint32_t flags,
                        struct rn_sockaddr_in *from, uint32_t *oflags)
{
    struct udp_ep *ep = t;
    struct rn_netbuf *nb;
    size_t n;
    int err;

    if (ep->ue_error != 0) {
        err = ep->ue_error;
        ep->ue_error = 0;
        return err;
    }
    nb = ep->ue_rcvq.nq_head;
    if (nb == NULL)
        return ep->ue_shut_rd || ep->ue_closed ? 0 : RN_EAGAIN;
    /* The datagram keeps its UDP header: the source port. */
    n = nb->nb_pktlen - RN_UDP_HLEN < len ? nb->nb_pktlen - RN_UDP_HLEN : len;
    rn_nb_copyout(nb, RN_UDP_HLEN, buf, n);
    if (from != NULL) {
        uint8_t sport[2];

        memcpy(&from->sin6_addr, nb->nb_cb, sizeof(from->sin6_addr));
        rn_nb_copyout(nb, 0, sport, sizeof(sport));
        from->sin_port = rn_get_be16(sport);
    }
    if (nb->nb_pktlen - RN_UDP_HLEN > len)
        *oflags |= RN_MSG_TRUNC;
    if (!(flags & RN_MSG_PEEK)) {
        uint32_t truesize = rn_nb_count(nb) * ep->ue_udp->us_truesize;

        rn_nbq_get(&ep->ue_rcvq);
        atomic_fetch_sub_explicit(&ep->ue_rcvq_bytes, truesize, memory_order_relaxed);
        rn_nb_free(nb);
    }
    return (ssize_t)n;
}

static int udp_shutdown(void *t, int how)
{
    struct udp_ep *ep = t;

    if (how != RN_SHUT_RD && how != RN_SHUT_WR && how != RN_SHUT_RDWR)
        return RN_EINVAL;
    if (how != RN_SHUT_WR)
        ep->ue_shut_rd = true;
    if (how != RN_SHUT_RD)
        ep->ue_shut_wr = true;
    /* As Linux: the directions are shut either way, but an unconnected
     * datagram socket answers ENOTCONN. */
    return ep->ue_rport != 0 ? 0 : RN_ENOTCONN;
}

/* Closes an endpoint: no more upcalls, queue emptied, port freed, and
 * UDP's own reference dropped. */
static void ep_close(struct udp_ep *ep)
{
    if (ep->ue_closed)
        return;
    ep->ue_closed = true;
    ep->ue_up.up_event = NULL;
    ep->ue_up.up_ctx = NULL;
    ep_purge(ep);
    if (ep->ue_bind.pe_linked)
        rn__stack_port_use(ep->ue_udp->us_stack, RN_IPPROTO_UDP, ep->ue_bind.pe_port, false);
    rn__pt_remove(&ep->ue_udp->us_ports, &ep->ue_bind);
    rn_ob_kill(ep);
}

static void *udp_close(void *t, bool abort)
{
    (void)abort;  /* UDP has nothing in flight to abort */
    ep_close(t);
    return t;     /* the context is the object */
}

static bool udp_settled(const void *ob)
{
    (void)ob;  /* a datagram leaves at once: nothing to wait for */
    return true;
}

static void udp_abort(void *ob)
{
    (void)ob;
}

/* FIONREAD on a datagram socket: the size of the next datagram, as Linux
 * answers. */
static ssize_t udp_inq(void *t)
{
    const struct udp_ep *ep = t;

    return ep->ue_rcvq.nq_head != NULL
               ? (ssize_t)(ep->ue_rcvq.nq_head->nb_pktlen - RN_UDP_HLEN)
               : 0;
}

/* SIOCOUTQ: what was sent and is still charged to the endpoint
 * (SO_SNDBUF), as Linux answers with its write allocation. */
static ssize_t udp_outq(void *t)
{
    const struct udp_ep *ep = t;

    return (ssize_t)ep->ue_wq_bytes;
}

static unsigned udp_poll(void *t)
{
    struct udp_ep *ep = t;
    /* Writable while under half of SO_SNDBUF is charged, as Linux. */
    unsigned m = ep->ue_wq_bytes < ep->ue_sndbuf / 2 ? RN_POLLOUT : 0;

    if (ep->ue_rcvq.nq_len > 0 || ep->ue_shut_rd)
        m |= RN_POLLIN;
    if (ep->ue_error != 0)
        m |= RN_POLLERR;
    if (ep->ue_shut_rd && ep->ue_shut_wr)
        m |= RN_POLLHUP;
    return m;
}

static int udp_error(void *t)
{
    struct udp_ep *ep = t;
    int err = ep->ue_error;

    ep->ue_error = 0;
    return err;
}

/* SO_RCVBUF and SO_SNDBUF as Linux stores them: the value (an int; a
 * negative one is huge to it) at most RN_UDP_BUF_MAX, doubled, at least
 * floor. */
static uint32_t sockbuf(int64_t val, uint32_t floor)
{
    uint64_t v = (uint32_t)val;

    if (v > RN_UDP_BUF_MAX)
        v = RN_UDP_BUF_MAX;
    v *= 2;
    return v < floor ? floor : (uint32_t)v;
}

static void ep_flag(struct udp_ep *ep, uint32_t bit, bool on)
{
    if (on)
        ep->ue_bind.pe_flags |= bit;
    else
        ep->ue_bind.pe_flags &= ~bit;
}

static int udp_setopt(void *t, enum rn_sockopt opt, int64_t val)
{
    struct udp_ep *ep = t;
    int32_t v = (int32_t)(uint32_t)(uint64_t)val;
    bool writable;

    switch (opt) {
    case RN_SO_RCVBUF:
        atomic_store_explicit(&ep->ue_rcvbuf, sockbuf(val, RN_UDP_RCVBUF_MIN),
                              memory_order_relaxed);
        return 0;
    case RN_SO_SNDBUF:
        writable = ep->ue_wq_bytes < ep->ue_sndbuf / 2;
        ep->ue_sndbuf = sockbuf(val, RN_UDP_SNDBUF_MIN);
        if (!writable && ep->ue_wq_bytes < ep->ue_sndbuf / 2)
            ep_event(ep, RN_POLLOUT);
        return 0;
    case RN_SO_REUSEADDR:
        ep_flag(ep, RN_PT_REUSEADDR, v != 0);
        return 0;
    case RN_IPV6_V6ONLY:
        if (ep->ue_lport != 0)
            return RN_EINVAL;  /* fixed once bound, as on Linux */
        ep_flag(ep, RN_PT_V6ONLY, v != 0);
        return 0;
    case RN_SO_REUSEPORT:
        ep_flag(ep, RN_PT_REUSEPORT, v != 0);
        return 0;
    case RN_SO_BROADCAST:
        ep->ue_broadcast = v != 0;
        return 0;
    case RN_SO_KEEPALIVE:
        ep->ue_keepalive = v != 0;
        return 0;
    case RN_IP_TOS:
        ep->ue_tos = (uint8_t)v;
        return 0;
    case RN_IP_TTL:
        if (v != -1 && (v < 1 || v > 255))
            return RN_EINVAL;
        ep->ue_ttl = v == -1 ? 0 : (uint8_t)v;
        return 0;
    default:
        return RN_ENOPROTOOPT;
    }
}

/* TCP's own options, which Linux answers for a datagram socket with
 * ENOPROTOOPT to set and EOPNOTSUPP to read. */
static bool tcp_level(enum rn_sockopt opt)
{
    switch (opt) {
    case RN_TCP_NODELAY:
    case RN_TCP_MAXSEG:
    case RN_TCP_CORK:
    case RN_TCP_KEEPIDLE:
    case RN_TCP_KEEPINTVL:
    case RN_TCP_KEEPCNT:
    case RN_TCP_USER_TIMEOUT:
    case RN_TCP_SYNCNT:
    case RN_TCP_WINDOW_CLAMP:
    case RN_TCP_CONGESTION:
    case RN_SO_LISTEN_REFUSE:
        return true;
    default:
        return false;
    }
}

static int udp_getopt(void *t, enum rn_sockopt opt, int64_t *val)
{
    struct udp_ep *ep = t;

    switch (opt) {
    case RN_SO_RCVBUF:
        *val = atomic_load_explicit(&ep->ue_rcvbuf, memory_order_relaxed);
        return 0;
    case RN_SO_SNDBUF:
        *val = ep->ue_sndbuf;
        return 0;
    case RN_SO_REUSEADDR:
        *val = (ep->ue_bind.pe_flags & RN_PT_REUSEADDR) != 0;
        return 0;
    case RN_SO_REUSEPORT:
        *val = (ep->ue_bind.pe_flags & RN_PT_REUSEPORT) != 0;
        return 0;
    case RN_IPV6_V6ONLY:
        *val = (ep->ue_bind.pe_flags & RN_PT_V6ONLY) != 0;
        return 0;
    case RN_SO_BROADCAST:
        *val = ep->ue_broadcast;
        return 0;
    case RN_SO_KEEPALIVE:
        *val = ep->ue_keepalive;
        return 0;
    case RN_IP_TOS:
        *val = ep->ue_tos;
        return 0;
    case RN_IP_TTL:
        *val = ep->ue_ttl != 0 ? ep->ue_ttl : rn__ip_default_ttl(ep->ue_udp->us_stack);
        return 0;
    case RN_SO_ACCEPTCONN:
        *val = 0;
        return 0;
    default:
        return tcp_level(opt) ? RN_EOPNOTSUPP : RN_ENOPROTOOPT;
    }
}

static void udp_name(void *t, struct rn_sockaddr_in *local, struct rn_sockaddr_in *remote)
{
    struct udp_ep *ep = t;

    if (local != NULL) {
        local->sin6_addr = ep->ue_laddr.ia_ip6;
        local->sin_port = ep->ue_lport;
        /* A connected endpoint bound to the wildcard speaks from the
         * route's source address: report that one, as Linux does. */
        if (rn_inaddr_is_any(&ep->ue_laddr) && ep->ue_rport != 0) {
            struct rn_inaddr src;
            bool bcast;

            if (ep_route(ep, &ep->ue_raddr, &src, &bcast) == 0)
                local->sin6_addr = src.ia_ip6;
        }
    }
    if (remote != NULL) {
        remote->sin6_addr = ep->ue_raddr.ia_ip6;
        remote->sin_port = ep->ue_rport;
    }
}

static void *udp_owner(const void *ob)
{
    if (udp_ep_type == NULL || rn_ob_type_of(ob) != udp_ep_type)
        return NULL;
    return ((const struct udp_ep *)ob)->ue_owner;
}

const struct rn_transport_ops rn__udp_ops = {
    .to_name = "udp",
    .to_type = RN_SOCK_DGRAM,
    .to_proto = RN_IPPROTO_UDP,
    .to_open = udp_open,
    .to_bind = udp_bind,
    .to_listen = udp_listen,
    .to_connect = udp_connect,
    .to_accept = udp_accept,
    .to_send = udp_send,
    .to_recv = udp_recv,
    .to_shutdown = udp_shutdown,
    .to_close = udp_close,
    .to_settled = udp_settled,
    .to_abort = udp_abort,
    .to_inq = udp_inq,
    .to_outq = udp_outq,
    .to_poll = udp_poll,
    .to_error = udp_error,
    .to_setopt = udp_setopt,
    .to_getopt = udp_getopt,
    .to_getname = udp_name,
    .to_owner = udp_owner,
};

/* ---- Set-up, counters, teardown --------------------------------------------- */

static unsigned udp_stats_hook(struct rn_stack *st, void *ctx, struct rn_stack_counter *out,
                               unsigned max)
{
    const struct udp_state *us = ctx;
    const struct rn_stack_counter c[] = {
        {"udp.in", us->us_stats.us_in},
        {"udp.out", us->us_stats.us_out},
        {"udp.no_port", us->us_stats.us_no_port},
        {"udp.in_errors", us->us_stats.us_in_errors},
        {"udp.csum_errors", us->us_stats.us_csum_errors},
        {"udp.rcvbuf_errors", us->us_stats.us_rcvbuf_errors},
    };
    unsigned i, n = sizeof(c) / sizeof(c[0]);

    (void)st;
    for (i = 0; i < n && i < max; i++)
        out[i] = c[i];
    return i;
}

/* Closes an endpoint the socket layer left bound. */
static void udp_fini_one(struct rn_port_entry *pe, void *ctx)
{
    struct udp_ep *ep = pe->pe_ob;
    char desc[128];

    (void)ctx;
    rn_ob_describe(ep, desc, sizeof(desc));
    rn_report(RN_REPORT_LEAK, "refnet: %s still bound at stack teardown; closing it\n", desc);
    ep_close(ep);
}

static void udp_fini(struct rn_stack *st, void *ctx)
{
    struct udp_state *us = ctx;

    rn__pt_foreach(&us->us_ports, udp_fini_one, NULL);
    if (udp_of(st) == us)
        rn_stack_set_slot(st, udp_slot, NULL);
    free(us);
}

int rn_udp_init(struct rn_stack *st)
{
    struct rn_nbpool *pool = rn_stack_pool(st);
    struct udp_state *us;
    int err;

    if (!rn_once(&udp_once, udp_types))
        return RN_ENOMEM;
    if (udp_of(st) != NULL)
        return RN_EEXIST;
    us = calloc(1, sizeof(*us));
    if (us == NULL)
        return RN_ENOMEM;
    us->us_stack = st;
    rn__pt_init(&us->us_ports, RN_IPPROTO_UDP, rn_stack_seed(st));
    us->us_truesize = rn_nbpool_headroom(pool) + rn_nbpool_data_size(pool);
    us->us_own_tx = rn_nb_owner_register("udp.tx");
    us->us_own_rcvq = rn_nb_owner_register("udp.rcvq");
    if (us->us_own_tx == RN_NB_OWNER_NONE || us->us_own_rcvq == RN_NB_OWNER_NONE) {
        free(us);
        return RN_ENOMEM;
    }
    /* The teardown hook first: it cannot be undone, but it frees the state
     * whatever happens next, so every later failure just returns. */
    err = rn_stack_on_destroy(st, udp_fini, us);
    if (err < 0) {
        free(us);
        return err;
    }
    err = rn__ip_register(st, RN_IPPROTO_UDP, udp_input, udp_err);
    if (err == 0)
        err = rn__ip6_register(st, RN_IPPROTO_UDP, udp_input6, udp_err);
    if (err == 0)
        err = rn__ip_on_addr_gone(st, RN_IPPROTO_UDP, udp_addr_gone);
    if (err < 0)
        return err;
    rn_stack_set_slot(st, udp_slot, us);
    return rn_stack_add_stats(st, udp_stats_hook, us);
}

/* ---- Listings ------------------------------------------------------------- */

struct udp_netstat {
    rn_netstat_fn un_fn;   /* the caller's */
    void *un_ctx;
};

static void udp_netstat_one(struct rn_port_entry *pe, void *ctx)
{
    const struct udp_ep *ep = pe->pe_ob;
    const struct udp_netstat *un = ctx;
    const struct rn_netstat_row row = {
        .nr_proto = "udp",
        .nr_state = ep->ue_rport != 0 ? "ESTABLISHED" : "UNCONN",
        .nr_laddr = ep->ue_laddr,
        .nr_lport = ep->ue_lport,
        .nr_faddr = ep->ue_raddr,
        .nr_fport = ep->ue_rport,
        .nr_sendq = 0,
        .nr_recvq = atomic_load_explicit(&ep->ue_rcvq_bytes, memory_order_relaxed),
        .nr_listening = ep->ue_rport == 0,
        .nr_ob = ep,
    };

    un->un_fn(&row, un->un_ctx);
}

bool rn__udp_netstat_row(struct rn_stack *st, const void *ob, struct rn_netstat_row *row)
{
    const struct udp_ep *ep = ob;

    if (udp_ep_type == NULL || rn_ob_type_of(ob) != udp_ep_type || ep->ue_udp == NULL ||
        ep->ue_udp->us_stack != st || ep->ue_closed || ep->ue_lport == 0)
        return false;
    *row = (struct rn_netstat_row){
        .nr_proto = "udp",
        .nr_state = ep->ue_rport != 0 ? "ESTABLISHED" : "UNCONN",
        .nr_laddr = ep->ue_laddr,
        .nr_lport = ep->ue_lport,
        .nr_faddr = ep->ue_raddr,
        .nr_fport = ep->ue_rport,
        .nr_sendq = 0,
        .nr_recvq = atomic_load_explicit(&ep->ue_rcvq_bytes, memory_order_relaxed),
        .nr_listening = ep->ue_rport == 0,
        .nr_ob = ep,
    };
    return true;
}

void rn_udp_netstat(struct rn_stack *st, rn_netstat_fn fn, void *ctx)
{
    struct udp_state *us = udp_of(st);
    struct udp_netstat un = {.un_fn = fn, .un_ctx = ctx};

    if (us != NULL)
        rn__pt_foreach(&us->us_ports, udp_netstat_one, &un);
}


int rn__udp_set_ephemeral(struct rn_stack *st, uint16_t lo, uint16_t hi)
{
    struct udp_state *us = udp_of(st);

    if (us == NULL)
        return RN_ENOENT;
    us->us_ports.pt_eph_lo = lo;
    us->us_ports.pt_eph_hi = hi;
    return 0;
}

void rn_udp_stats(struct rn_stack *st, struct rn_udp_stats *out)
{
    struct udp_state *us = udp_of(st);

    if (us == NULL)
        memset(out, 0, sizeof(*out));
    else
        *out = us->us_stats;
}
