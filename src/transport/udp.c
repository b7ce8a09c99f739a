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
 * for UDP and ignored.
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

static uint64_t pack_addr(uint32_t addr, uint16_t port)
{
    return (uint64_t)addr << 16 | port;
}

static void udp_describe(const void *ob, char *buf, size_t len)
{
    const struct udp_ep *ep = ob;
    uint64_t l = atomic_load_explicit(&ep->ue_local, memory_order_relaxed);
    uint64_t r = atomic_load_explicit(&ep->ue_remote, memory_order_relaxed);
    char la[RN_IP4_STRLEN], ra[RN_IP4_STRLEN], peer[48] = "";

    rn_ip4_addr_fmt((uint32_t)(l >> 16), la);
    if ((r & 0xffff) != 0)
        snprintf(peer, sizeof(peer), " peer %s:%u", rn_ip4_addr_fmt((uint32_t)(r >> 16), ra),
                 (unsigned)(r & 0xffff));
    snprintf(buf, len, "udp endpoint %s:%u%s rcvq %u/%u", la, (unsigned)(l & 0xffff), peer,
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
    atomic_store_explicit(&ep->ue_local, pack_addr(ep->ue_laddr, ep->ue_lport),
                          memory_order_relaxed);
    atomic_store_explicit(&ep->ue_remote, pack_addr(ep->ue_raddr, ep->ue_rport),
                          memory_order_relaxed);
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

static void udp_drop(struct rn_stack *st, struct udp_state *us, struct rn_netbuf *nb,
                     const struct rn_ip_rx *rx, enum rn_drop reason)
{
    us->us_stats.us_in_errors++;
    rn__stack_count_drop(st, rx->rx_iface, reason);
    rn_nb_free(nb);
}

/* The transport layers of the filtering platform for a datagram between
 * laddr:lport (ours) and raddr:rport.  Returns true if it is blocked. */
static bool udp_filter_blocks(struct rn_stack *st, enum rn_filter_layer layer, uint32_t laddr,
                              uint16_t lport, uint32_t raddr, uint16_t rport, size_t len)
{
    struct rn_filter_req req;

    memset(&req, 0, sizeof(req));
    req.fr_values.fv_layer = layer;
    req.fr_values.fv_proto = RN_IPPROTO_UDP;
    req.fr_values.fv_laddr = laddr;
    req.fr_values.fv_lport = lport;
    req.fr_values.fv_raddr = raddr;
    req.fr_values.fv_rport = rport;
    req.fr_values.fv_len = (uint32_t)len;
    return rn__filter_classify(st, &req) == RN_FILTER_BLOCK;
}

/* How well ep, bound by pe, fits a datagram from src:sport to dst: 0 not
 * at all (another address, or connected to another peer); more for a
 * binding to dst itself than to the wildcard, and more again for one
 * connected to the sender (Linux's scoring). */
static unsigned ep_score(const struct rn_port_entry *pe, uint32_t dst, uint32_t src,
                         uint16_t sport)
{
    const struct udp_ep *ep = pe->pe_ob;

    if (pe->pe_addr != 0 && pe->pe_addr != dst)
        return 0;
    if (ep->ue_rport != 0 && (ep->ue_raddr != src || ep->ue_rport != sport))
        return 0;
    return (pe->pe_addr == dst ? 2u : 1u) + (ep->ue_rport != 0 ? 4u : 0u);
}

/* The endpoint a unicast datagram goes to: the best fit, newest first;
 * among endpoints sharing the port with SO_REUSEPORT at the best fit,
 * one picked by a keyed hash of the 4-tuple, so that a flow stays on
 * one.  NULL if none takes it. */
static struct udp_ep *ep_select(struct udp_state *us, uint32_t dst, uint16_t dport, uint32_t src,
                                uint16_t sport)
{
    struct rn_port_entry *pe, *best = NULL, *chain = rn__pt_chain(&us->us_ports, dport);
    unsigned score, top = 0, group = 0;
    uint32_t key[3] = {dst, src, (uint32_t)dport << 16 | sport}, pick;

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
    pick = (uint32_t)(((uint64_t)(uint32_t)rn__siphash(us->us_ports.pt_key, key, sizeof(key)) *
                       group) >> 32);
    for (pe = chain; pe != NULL; pe = pe->pe_next) {
        if (pe->pe_port == dport && (pe->pe_flags & RN_PT_REUSEPORT) &&
            ep_score(pe, dst, src, sport) == top && pick-- == 0)
            return pe->pe_ob;
    }
    return best->pe_ob;
}

/* Queues a datagram (nb, its UDP header still on) on ep's receive queue,
 * within SO_RCVBUF, and tells the socket.  Consumes nb. */
static void ep_queue(struct rn_stack *st, struct udp_state *us, struct udp_ep *ep,
                     struct rn_netbuf *nb, const struct rn_ip_rx *rx, uint16_t sport)
{
    uint32_t truesize = rn_nb_count(nb) * us->us_truesize;
    uint32_t queued = atomic_load_explicit(&ep->ue_rcvq_bytes, memory_order_relaxed);

    /* An empty queue takes one datagram whatever its size, so a small
     * SO_RCVBUF never shuts the endpoint out completely. */
    if (ep->ue_rcvq.nq_len > 0 &&
        (uint64_t)queued + truesize > atomic_load_explicit(&ep->ue_rcvbuf, memory_order_relaxed)) {
        us->us_stats.us_rcvbuf_errors++;
        udp_drop(st, us, nb, rx, RN_DROP_UDP_RCVBUF);
        return;
    }
    rn_nb_pull(nb, RN_UDP_HLEN);
    nb->nb_cb[0] = pack_addr(rx->rx_src, sport);
    nb->nb_cb[1] = rx->rx_dst;
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
                            const struct rn_ip_rx *rx, uint16_t sport, uint16_t dport,
                            uint16_t ulen)
{
    struct rn_port_entry *pe, *last = NULL;

    if (rn__filter_on(RN_FL_INBOUND_TRANSPORT) &&
        udp_filter_blocks(st, RN_FL_INBOUND_TRANSPORT, rx->rx_dst, dport, rx->rx_src, sport,
                          ulen - RN_UDP_HLEN)) {
        rn__stack_count_drop(st, rx->rx_iface, RN_DROP_FILTER_BLOCKED);
        rn_nb_free(nb);
        return;
    }
    for (pe = rn__pt_chain(&us->us_ports, dport); pe != NULL; pe = pe->pe_next) {
        if (pe->pe_port != dport || ep_score(pe, rx->rx_dst, rx->rx_src, sport) == 0)
            continue;
        if (last != NULL) {
            struct rn_netbuf *copy = rn_nb_copy(nb, us->us_own_rcvq);

            if (copy == NULL)
                rn__stack_count_drop(st, rx->rx_iface, RN_DROP_NO_BUFFER);
            else
                ep_queue(st, us, last->pe_ob, copy, rx, sport);
        }
        last = pe;
    }
    if (last == NULL) {
        /* Nobody listens: dropped quietly (no ICMP answers a broadcast). */
        us->us_stats.us_no_port++;
        rn__stack_count_drop(st, rx->rx_iface, RN_DROP_UDP_NO_PORT);
        rn_nb_free(nb);
        return;
    }
    ep_queue(st, us, last->pe_ob, nb, rx, sport);
}

/* The network layer's input handler for protocol 17.  Consumes nb. */
static void udp_input(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip_rx *rx)
{
    struct udp_state *us = udp_of(st);
    uint8_t scratch[RN_UDP_HLEN];
    const uint8_t *h = rn_nb_header(nb, 0, RN_UDP_HLEN, scratch);
    struct udp_ep *ep;
    uint16_t sport, dport, ulen, sum;

    if (us == NULL) {
        /* Torn down already: the stack is being destroyed. */
        rn__stack_count_drop(st, rx->rx_iface, RN_DROP_UNKNOWN_PROTO);
        rn_nb_free(nb);
        return;
    }
    if (h == NULL) {
        udp_drop(st, us, nb, rx, RN_DROP_TRUNCATED);
        return;
    }
    sport = rn_get_be16(h);
    dport = rn_get_be16(h + 2);
    ulen = rn_get_be16(h + 4);
    sum = rn_get_be16(h + 6);
    if (ulen < RN_UDP_HLEN || ulen > nb->nb_pktlen) {
        udp_drop(st, us, nb, rx, RN_DROP_BAD_UDP_LEN);
        return;
    }
    if (ulen < nb->nb_pktlen)
        rn_nb_trim(nb, ulen);  /* bytes past the length field are not ours */
    if (sum != 0 && !(nb->nb_offload & (RN_NB_OFF_CSUM_VALID | RN_NB_OFF_CSUM_PARTIAL))) {
        uint64_t acc = rn_csum_pseudo4(rx->rx_src, rx->rx_dst, RN_IPPROTO_UDP, ulen);

        if (rn_csum_fold(rn_nb_csum(nb, 0, ulen, acc)) != 0) {
            us->us_stats.us_csum_errors++;
            udp_drop(st, us, nb, rx, RN_DROP_BAD_UDP_CSUM);
            return;
        }
    }
    if (rx->rx_bcast) {
        udp_deliver_all(st, us, nb, rx, sport, dport, ulen);
        return;
    }
    ep = ep_select(us, rx->rx_dst, dport, rx->rx_src, sport);
    if (ep == NULL) {
        us->us_stats.us_no_port++;
        rn__icmp_unreach(st, rx, nb, RN_ICMP_UNREACH_PORT);
        rn__stack_count_drop(st, rx->rx_iface, RN_DROP_UDP_NO_PORT);
        rn_nb_free(nb);
        return;
    }
    if (rn__filter_on(RN_FL_INBOUND_TRANSPORT) &&
        udp_filter_blocks(st, RN_FL_INBOUND_TRANSPORT, rx->rx_dst, dport, rx->rx_src, sport,
                          ulen - RN_UDP_HLEN)) {
        rn__stack_count_drop(st, rx->rx_iface, RN_DROP_FILTER_BLOCKED);
        rn_nb_free(nb);
        return;
    }
    ep_queue(st, us, ep, nb, rx, sport);
}

/* The network layer's ICMP error handler for protocol 17. */
static void udp_err(struct rn_stack *st, const struct rn_ip_err *err)
{
    struct udp_state *us = udp_of(st);
    struct udp_ep *ep;
    uint16_t sport, dport;
    int code;

    if (us == NULL || err->ie_l4len < 4 || err->ie_type != RN_ICMP_DEST_UNREACH)
        return;
    if (err->ie_code == RN_ICMP_UNREACH_PORT)
        code = RN_ECONNREFUSED;
    else if (err->ie_code == RN_ICMP_UNREACH_PROTO)
        code = RN_ENOPROTOOPT;
    else
        return;  /* soft errors: not reported without IP_RECVERR */
    sport = rn_get_be16(err->ie_l4);
    dport = rn_get_be16(err->ie_l4 + 2);
    ep = ep_select(us, err->ie_src, sport, err->ie_dst, dport);
    if (ep == NULL || ep->ue_rport == 0 || ep->ue_raddr != err->ie_dst || ep->ue_rport != dport)
        return;
    ep->ue_error = code;
    ep_event(ep, RN_POLLERR);
}

/* An endpoint bound to an address that went with its interface: its next
 * call hears RN_ENETDOWN, and a waiting receive wakes for it. */
static void ep_addr_gone(struct rn_port_entry *pe, void *ctx)
{
    struct udp_ep *ep = pe->pe_ob;

    if (pe->pe_addr != *(const uint32_t *)ctx)
        return;
    ep->ue_error = RN_ENETDOWN;
    ep_event(ep, RN_POLLERR);
}

static void udp_addr_gone(struct rn_stack *st, uint32_t addr)
{
    struct udp_state *us = udp_of(st);

    if (us != NULL)
        rn__pt_foreach(&us->us_ports, ep_addr_gone, &addr);
}

/* ---- Ops for the socket layer ----------------------------------------------- */

/* The endpoint is both the socket's context and its object. */
static int udp_open(struct rn_stack *st, const struct rn_sock_upcall *up, void **out)
{
    struct udp_state *us = udp_of(st);
    struct udp_ep *ep;

    if (us == NULL)
        return RN_EINVAL;
    if (up->up_inet6)
        return RN_EAFNOSUPPORT;
    ep = rn_ob_create(udp_ep_type, RN_TAG_CREATE);
    if (ep == NULL)
        return RN_ENOMEM;
    ep->ue_udp = us;
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

static int ep_bind(struct udp_ep *ep, uint32_t addr, uint16_t port, uint32_t raddr,
                   uint16_t rport)
{
    struct udp_state *us = ep->ue_udp;
    int err;

    if (port == 0) {
        err = rn__pt_pick_ephemeral(&us->us_ports, addr, raddr, rport);
        if (err < 0)
            return err;
        port = (uint16_t)err;
    }
    err = rn__pt_insert(&us->us_ports, &ep->ue_bind, ep, addr, port);
    if (err < 0)
        return err;
    ep->ue_laddr = addr;
    ep->ue_lport = port;
    ep_publish_names(ep);
    return 0;
}

static int udp_bind(void *t, const struct rn_sockaddr_in *addr)
{
    struct udp_ep *ep = t;
    struct rn_stack *st = ep->ue_udp->us_stack;

    if (ep->ue_closed || ep->ue_lport != 0)
        return RN_EINVAL;
    if (addr->sin_addr != 0 && !rn__ip_is_local(st, addr->sin_addr) &&
        !rn__ip_is_broadcast(st, addr->sin_addr))
        return RN_EADDRNOTAVAIL;
    return ep_bind(ep, addr->sin_addr, addr->sin_port, 0, 0);
}

static int udp_listen(void *t, int backlog)
{
    (void)t;
    (void)backlog;
    return RN_EOPNOTSUPP;
}

static int udp_connect(void *t, const struct rn_sockaddr_in *addr)
{
    struct udp_ep *ep = t;
    struct rn_stack *st = ep->ue_udp->us_stack;
    struct rn_ip_route r;
    uint32_t raddr;
    int err;

    if (ep->ue_closed)
        return RN_EINVAL;
    ep->ue_error = 0;
    if (addr->sin_addr == 0 && addr->sin_port == 0) {
        /* Dissolve the association, as connect(AF_UNSPEC) does. */
        ep->ue_raddr = 0;
        ep->ue_rport = 0;
        ep_publish_names(ep);
        return 0;
    }
    /* 0.0.0.0 is this host, as Linux reads it. */
    raddr = addr->sin_addr != 0 ? addr->sin_addr : rn__ip_any_local(st);
    if (rn__ip_route(st, raddr, &r) < 0)
        return RN_ENETUNREACH;
    if (r.ir_bcast && !ep->ue_broadcast)
        return RN_EACCES;
    if (addr->sin_port == 0) {
        /* As Linux accepts it: an association to nobody in particular,
         * which sends nowhere (a send needs an address) and receives from
         * anyone. */
        ep->ue_raddr = 0;
        ep->ue_rport = 0;
        ep_publish_names(ep);
        return 0;
    }
    if (ep->ue_lport == 0) {
        err = ep_bind(ep, 0, 0, raddr, addr->sin_port);
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
    struct rn_ip_out out = {0};
    struct rn_udp_hdr uh = {0};
    struct rn_ip_route r;
    struct rn_netbuf *nb;
    uint32_t dst, src, charge;
    uint16_t dport, ulen, sum;
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
    if (len > RN_UDP_MAX_PAYLEN)
        return RN_EMSGSIZE;
    if (to != NULL) {
        dst = to->sin_addr;
        dport = to->sin_port;
    } else if (ep->ue_rport != 0) {
        dst = ep->ue_raddr;
        dport = ep->ue_rport;
    } else {
        return RN_EDESTADDRREQ;
    }
    if (dport == 0)
        return RN_EINVAL;
    if (rn__ip_route(st, dst, &r) < 0)
        return RN_ENETUNREACH;
    if (ep->ue_lport == 0) {
        err = ep_bind(ep, 0, 0, dst, dport);
        if (err < 0)
            return err;
    }
    /* To a broadcast address only with SO_BROADCAST (Linux: EACCES). */
    if (r.ir_bcast && !ep->ue_broadcast)
        return RN_EACCES;
    /* SO_SNDBUF: what this endpoint sent and the interface may still
     * hold.  Full, a send waits (or answers RN_EAGAIN without waiting). */
    if (ep->ue_wq_bytes >= ep->ue_sndbuf)
        return RN_EAGAIN;
    src = ep->ue_laddr != 0 && !rn_ip4_is_bcast(ep->ue_laddr) ? ep->ue_laddr : r.ir_src;
    if (rn__filter_on(RN_FL_OUTBOUND_TRANSPORT) &&
        udp_filter_blocks(st, RN_FL_OUTBOUND_TRANSPORT, src, ep->ue_lport, dst, dport, len)) {
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
    sum = rn_csum_fold(rn_nb_csum(nb, 0, ulen, rn_csum_pseudo4(src, dst, RN_IPPROTO_UDP, ulen)));
    rn_put_be16(h + 6, sum == 0 ? 0xffff : sum);
    out.io_src = src;
    out.io_dst = dst;
    out.io_proto = RN_IPPROTO_UDP;
    out.io_tos = ep->ue_tos;
    out.io_ttl = ep->ue_ttl;
    /* A datagram larger than twice the buffer cannot be taken at all (as
     * Linux refuses the fragments of one with ENOBUFS). */
    charge = rn_nb_count(nb) * us->us_truesize;
    if ((uint64_t)ep->ue_wq_bytes + charge > 2 * (uint64_t)ep->ue_sndbuf) {
        rn_nb_free(nb);
        return RN_ENOBUFS;
    }
    err = rn__ip_output(st, nb, &out);
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
    n = nb->nb_pktlen < len ? nb->nb_pktlen : len;
    rn_nb_copyout(nb, 0, buf, n);
    if (from != NULL) {
        from->sin6_addr = rn_inaddr_v4((uint32_t)(nb->nb_cb[0] >> 16)).ia_ip6;
        from->sin_port = (uint16_t)(nb->nb_cb[0] & 0xffff);
    }
    if (nb->nb_pktlen > len)
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

    return ep->ue_rcvq.nq_head != NULL ? (ssize_t)ep->ue_rcvq.nq_head->nb_pktlen : 0;
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
        local->sin6_addr = rn_inaddr_v4(ep->ue_laddr).ia_ip6;
        local->sin_port = ep->ue_lport;
        /* A connected endpoint bound to the wildcard speaks from the
         * route's source address: report that one, as Linux does. */
        if (ep->ue_laddr == 0 && ep->ue_rport != 0) {
            struct rn_ip_route r;

            if (rn__ip_route(ep->ue_udp->us_stack, ep->ue_raddr, &r) == 0)
                local->sin6_addr = rn_inaddr_v4(r.ir_src).ia_ip6;
        }
    }
    if (remote != NULL) {
        remote->sin6_addr = rn_inaddr_v4(ep->ue_raddr).ia_ip6;
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
        .nr_laddr = rn_inaddr_v4(ep->ue_laddr),
        .nr_lport = ep->ue_lport,
        .nr_faddr = rn_inaddr_v4(ep->ue_raddr),
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
        .nr_laddr = rn_inaddr_v4(ep->ue_laddr),
        .nr_lport = ep->ue_lport,
        .nr_faddr = rn_inaddr_v4(ep->ue_raddr),
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
