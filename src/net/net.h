/*
 * The network layer's interface to the layers above it (transport, socket,
 * host).  Internal to refnet.
 *
 * Downward calls are direct: a transport hands a segment to rn__ip_output().
 * Upward delivery goes only through handlers the transport registered
 * (rn__ip_register()), the way NDIS indications work: the network layer
 * knows no transport.  Likewise it knows no filtering platform: the
 * platform sets the IP layer's hooks (rn__ip_set_hook()) while it has
 * filters there.
 *
 * Receive path, in call order:
 *   rn_stack_poll() -> link rx -> rn__net_eth_input() -> rn__net_arp_input()
 *                                                  -> rn__net_ip_input()
 *     -> reassembly -> icmp or the registered protocol handler
 * Transmit path:
 *   rn__ip_output() -> route -> fragment -> rn__net_arp_output() -> iface tx
 *   queue -> link tx (batched, at the end of the poll)
 *
 * Everything here runs on the stack's loop thread ([L]).
 */
#ifndef REFNET_NET_H
#define REFNET_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "refnet/addr.h"
#include "refnet/drop.h"
#include "refnet/netbuf.h"
#include "refnet/runtime.h"
#include "refnet/stack.h"
#include "refnet/timer.h"

struct rn_iface;

/* ---- Drops ------------------------------------------------------------- */

/* Counts a dropped packet under reason on ifp (or the stack if NULL). */
void rn__stack_count_drop(struct rn_stack *st, struct rn_iface *ifp, enum rn_drop reason);
/* A transport's local port comes into use (on) or out of one use: tells
 * rn_stack_set_port_use()'s function, if any. [L] */
void rn__stack_port_use(struct rn_stack *st, uint8_t proto, uint16_t port, bool on);

/* ---- The IP layer's hooks ---------------------------------------------- */

enum rn_ip_hook_dir {
    RN_IP_HOOK_IN,   /* every datagram delivered to this stack, IPv4 or
                        IPv6, reassembled */
    RN_IP_HOOK_OUT,  /* every datagram this stack sends, IPv4 or IPv6,
                        once routed */
    RN_IP_HOOK_COUNT_
};

/* What a hook is told of a datagram, IPv4 or IPv6. */
struct rn_ip_hook_values {
    uint8_t hv_proto;    /* RN_IPPROTO_* (IPv6: the upper layer's, after
                            the extension headers) */
    struct rn_inaddr hv_laddr;  /* this stack's side: the destination
                                   inbound, the source outbound; IPv4 held
                                   mapped */
    struct rn_inaddr hv_raddr;  /* the other side */
    uint16_t hv_lport;   /* TCP and UDP: ports on the same sides; else 0 */
    uint16_t hv_rport;
    uint32_t hv_len;     /* bytes after the IP header (IPv6: after the
                            extension headers) */
};

/* Returns true to drop the datagram (counted as filter_blocked). */
typedef bool (*rn_ip_hook_fn)(struct rn_stack *st, enum rn_ip_hook_dir dir,
                              const struct rn_ip_hook_values *v);

/* Sets the hook of dir, or with NULL removes it.  While none is set, a
 * datagram costs the hook one load and one branch. */
void rn__ip_set_hook(struct rn_stack *st, enum rn_ip_hook_dir dir, rn_ip_hook_fn fn);

/* ---- IPv4 input --------------------------------------------------------- */

/* What the network layer knows of a received datagram, handed up with it. */
struct rn_ip_rx {
    uint32_t rx_src;            /* source address */
    uint32_t rx_dst;            /* destination address (may be broadcast) */
    uint8_t rx_proto;           /* RN_IPPROTO_* */
    uint8_t rx_ttl;             /* as received */
    uint8_t rx_tos;             /* as received */
    bool rx_bcast;              /* sent to a broadcast address */
    struct rn_iface *rx_iface;  /* interface it arrived on */
    const uint8_t *rx_iphdr;    /* the IP header, rx_iphlen bytes, valid
                                   during the handler (for ICMP errors) */
    uint8_t rx_iphlen;
};

/* A transport's input handler.  nb's data starts at the transport header
 * and holds exactly the datagram's payload (reassembled if it came in
 * fragments).  Consumes nb on every path. */
typedef void (*rn_ip_input_fn)(struct rn_stack *st, struct rn_netbuf *nb,
                               const struct rn_ip_rx *rx);

/* An ICMP or ICMPv6 error about a datagram we sent, quoted back to its
 * transport: one record for both families, the addresses as the
 * transports keep them (IPv4 mapped). */
struct rn_ip_err {
    bool ie_v6;                 /* ICMPv6 (RFC 4443); false: ICMP */
    uint8_t ie_type;            /* the type in its family: ICMP 3
                                   unreachable, 11 time exceeded; ICMPv6
                                   1 unreachable, 2 packet too big, 3 time
                                   exceeded, 4 parameter problem */
    uint8_t ie_code;            /* its code */
    uint32_t ie_mtu;            /* ICMP "fragmentation needed": the
                                   next-hop MTU it gives; ICMPv6 packet too
                                   big: the path MTU to ie_dst once it is
                                   taken (never below 1280); else 0 */
    struct rn_inaddr ie_src;    /* our original source address */
    struct rn_inaddr ie_dst;    /* our original destination */
    uint8_t ie_proto;           /* our original protocol */
    const uint8_t *ie_l4;       /* the first ie_l4len bytes of our transport
                                   header (at least 8 when the ICMP quoted
                                   them; always for ICMPv6, whose quotes
                                   shorter than that are dropped): ports,
                                   sequence number */
    uint32_t ie_l4len;
};
typedef void (*rn_ip_err_fn)(struct rn_stack *st, const struct rn_ip_err *err);

/* A local address went away with its interface (rn_stack_remove_iface()):
 * what is bound to it ends with RN_ENETDOWN. */
typedef void (*rn_ip_addr_gone_fn)(struct rn_stack *st, uint32_t addr);
/* Registers proto's handler of addresses that go (after rn__ip_register()).
 * Returns 0 or RN_ENOENT if proto has no handlers. */
int rn__ip_on_addr_gone(struct rn_stack *st, uint8_t proto, rn_ip_addr_gone_fn fn);
/* Tells every protocol that addr is gone. */
void rn__net_ip_addr_gone(struct rn_stack *st, uint32_t addr);

/* Registers the handlers of a protocol.  Returns 0 or RN_EEXIST. */
int rn__ip_register(struct rn_stack *st, uint8_t proto, rn_ip_input_fn input,
                   rn_ip_err_fn err);

/* ---- IPv4 output -------------------------------------------------------- */

struct rn_ip_out {
    uint32_t io_src;   /* source; 0: the outgoing interface's address */
    uint32_t io_dst;   /* destination */
    uint8_t io_proto;  /* RN_IPPROTO_* */
    uint8_t io_ttl;    /* 0: the stack's default */
    uint8_t io_tos;    /* DSCP/ECN */
    bool io_df;        /* set don't-fragment; a datagram larger than the
                          path MTU then fails with RN_EMSGSIZE */
};

/* Sends a datagram whose transport header and payload are nb (with
 * headroom for IP and Ethernet).  A TCP segment marked RN_NB_OFF_GSO (only
 * for a route whose link offers TSO) may exceed the MTU: the device cuts
 * it, so it is never fragmented.  Routes, picks the source, fragments if
 * needed, resolves the next hop and queues the frames on the interface.
 * Returns 0 once queued (delivery is never promised), or RN_ENETUNREACH,
 * RN_EMSGSIZE, RN_ENOBUFS, RN_EACCES (a filter of the outbound-ip layer
 * blocked it: counted as the drop "filter_blocked").  Consumes nb on every
 * path. */
int rn__ip_output(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip_out *out);

/* Where a datagram to dst would go. */
struct rn_ip_route {
    struct rn_iface *ir_iface;  /* outgoing interface */
    uint32_t ir_nexthop;        /* dst itself, or the gateway */
    uint32_t ir_src;            /* source address to use */
    uint32_t ir_mtu;            /* the interface's MTU */
    uint32_t ir_offloads;       /* RN_LINK_OFF_* its link offers; a transport
                                   may then leave checksums (TX_CSUM) or the
                                   cutting of TCP segments (TSO) to it */
    bool ir_bcast;              /* dst is a broadcast address: the limited
                                   one, or the outgoing interface's subnet
                                   broadcast (SO_BROADCAST guards it) */
};

/* Looks up the route to dst.  Returns 0 or RN_ENETUNREACH. */
int rn__ip_route(struct rn_stack *st, uint32_t dst, struct rn_ip_route *out);

/* The TTL of datagrams sent without one of their own (stack.h, sp_ttl). */
uint8_t rn__ip_default_ttl(struct rn_stack *st);

/* The address a connect to 0.0.0.0 reaches: this host, as Linux reads
 * it; refnet answers with its first interface's address (0 if none). */
uint32_t rn__ip_any_local(struct rn_stack *st);

/* True if addr is 255.255.255.255 or an interface's subnet broadcast. */
bool rn__ip_is_broadcast(struct rn_stack *st, uint32_t addr);

/* True if addr is one of the stack's own addresses. */
bool rn__ip_is_local(struct rn_stack *st, uint32_t addr);

/* Returns a fresh packet from the stack's pool for a transport to fill,
 * with headroom for IP (with options) and Ethernet, counted against owner;
 * NULL if the pool is exhausted. */
struct rn_netbuf *rn__ip_alloc(struct rn_stack *st, rn_nb_owner_t owner);

/* Hands every frame the stack's interfaces queued to their links now,
 * rather than at the end of the pass.  Afterwards no packet of the stack
 * refers to a transport's memory (rn_nb_ref()): only interfaces whose
 * links take such frames (RN_LINK_OFF_TX_REF) keep them, and only until
 * this. */
void rn__net_tx_flush(struct rn_stack *st);

/* Returns a buffer of the stack's pool that refers to len bytes at data
 * (rn_nb_ref()) for a transport to append to its packet, counted against
 * owner; NULL, counted as a drop, if the pool is exhausted.  Only for a
 * route whose link takes such frames (RN_LINK_OFF_TX_REF); the data stays
 * unchanged until rn__net_tx_refs() is 0. */
struct rn_netbuf *rn__ip_ref(struct rn_stack *st, rn_nb_owner_t owner, const void *data,
                             uint32_t len);

/* Returns how many buffers of the stack's pool refer to a transport's
 * memory now. */
uint32_t rn__net_tx_refs(struct rn_stack *st);

/* Changes at every rn__net_tx_flush() (wrapping at 16 bits): a frame
 * built while it had another value is gone, whatever it referred to.  A
 * value that comes round again only makes a transport flush once more
 * than it needed. */
uint16_t rn__net_tx_gen(struct rn_stack *st);

/* Headroom rn__ip_alloc() leaves: Ethernet + the largest IPv4 header. */
#define RN_IP_HEADROOM (14 + 60)

/* ---- ICMP errors for the transports ------------------------------------- */

/* Sends ICMP destination unreachable with code (RN_ICMP_UNREACH_*) about a
 * received datagram: rx describes it and nb holds its transport header and
 * payload, of which the first 8 bytes are quoted after the IP header.  Does
 * not consume nb.  Never answers broadcasts or ICMP errors, and is rate
 * limited. */
void rn__icmp_unreach(struct rn_stack *st, const struct rn_ip_rx *rx,
                     const struct rn_netbuf *nb, uint8_t code);

/* ---- IPv6 for the transports -------------------------------------------- */

/* What the IPv6 layer knows of a received datagram, handed up with it. */
struct rn_ip6_rx {
    struct rn_ip6 rx6_src;       /* source address */
    struct rn_ip6 rx6_dst;       /* destination: one of ours, or a group */
    uint8_t rx6_hlim;            /* hop limit as received */
    uint8_t rx6_tclass;          /* traffic class as received */
    bool rx6_mcast;              /* sent to a multicast group */
    struct rn_iface *rx6_iface;  /* interface it arrived on */
    const uint8_t *rx6_hdr;      /* the datagram from its fixed header,
                                    rx6_hdrlen bytes, valid during the
                                    handler (for ICMPv6 errors) */
    uint32_t rx6_hdrlen;
};

/* A transport's IPv6 input handler: as rn_ip_input_fn, nb holding the
 * upper-layer header and payload, the extension headers walked past and
 * the datagram reassembled.  Consumes nb on every path. */
typedef void (*rn_ip6_input_fn)(struct rn_stack *st, struct rn_netbuf *nb,
                                const struct rn_ip6_rx *rx);

/* Registers proto's IPv6 input handler, and err (or NULL) for the ICMPv6
 * errors about its datagrams (the same record as for IPv4, ie_v6 set).
 * Returns 0 or RN_EEXIST. */
int rn__ip6_register(struct rn_stack *st, uint8_t proto, rn_ip6_input_fn input,
                     rn_ip_err_fn err);

struct rn_ip6_out {
    struct rn_ip6 o6_src;   /* ::: picked for the destination */
    struct rn_ip6 o6_dst;
    uint8_t o6_proto;       /* RN_IPPROTO_* */
    uint8_t o6_hlim;        /* 0: the stack's default */
    uint8_t o6_tclass;
};

/* Sends the upper-layer message nb (with the headroom rn__ip_alloc()
 * leaves) over IPv6: routes, picks the source if o6_src is ::, fragments
 * what is longer than the MTU (never a TCP segment marked RN_NB_OFF_GSO,
 * which the device cuts), resolves the next hop.  Returns 0 once
 * queued, or RN_ENETUNREACH, RN_EMSGSIZE, RN_ENOBUFS.  Consumes nb. */
int rn__ip6_output(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip6_out *out);

/* Where a datagram to dst would go: ir_iface, ir_mtu and ir_offloads as
 * for IPv4 (ir_nexthop, ir_bcast unused; RN_LINK_OFF_TSO if the link
 * offers RN_LINK_OFF_TSO6), *src the source address to use.
 * Returns 0, or RN_ENETUNREACH (no route or no usable source). */
int rn__ip6_route(struct rn_stack *st, const struct rn_ip6 *dst, struct rn_ip_route *out,
                  struct rn_ip6 *src);

/* True if a is one of the stack's usable (preferred) IPv6 addresses. */
bool rn__ip6_is_local(struct rn_stack *st, const struct rn_ip6 *a);

/* Sends an ICMPv6 destination unreachable with code (4: port
 * unreachable) about the datagram rx describes.  Never about a datagram to
 * a group; rate limited. */
void rn__icmp6_unreach(struct rn_stack *st, const struct rn_ip6_rx *rx, uint8_t code);

/* The error code a socket hears of an ICMPv6 error of type and code, as
 * Linux's table gives it (icmpv6_err_convert): unreachable 0 no route
 * RN_ENETUNREACH, 1 administratively prohibited RN_EACCES, 2 beyond scope
 * and 3 address unreachable RN_EHOSTUNREACH, 4 port unreachable
 * RN_ECONNREFUSED, 5 source address failed policy and 6 reject route
 * RN_EACCES, other codes RN_EPROTO; packet too big RN_EMSGSIZE; time
 * exceeded RN_EHOSTUNREACH; parameter problem RN_EPROTO.  *hard says
 * whether it is a hard error (RFC 1122 4.2.3.9), one a connected UDP
 * socket is told of: unreachable 1, 4, 5, 6 and unknown codes, and
 * parameter problems. */
int rn__icmp6_err_code(uint8_t type, uint8_t code, bool *hard);

/* ---- IPv6 path MTU (RFC 8201) ------------------------------------------ */

/* Returns the largest IPv6 datagram (fixed header included) that leaves
 * for dst unfragmented: the MTU of the link the route to dst takes (as a
 * router's MTU option may have lowered it), or lower if a packet too big
 * taught a path MTU that has not aged out (10 minutes); never below 1280.
 * 0 if dst has no route.  For the transports: size segments by it (MSS =
 * it - 40 - the transport header) when a connection starts and again
 * before sending after an ICMPv6 packet too big; it costs one route lookup
 * and one destination-cache set, nothing allocated.  Datagrams longer than
 * it are fragmented by IPv6 output. */
uint32_t rn__net_rd6_path_mtu(struct rn_stack *st, const struct rn_ip6 *dst);

/* Upper-layer reachability confirmation (RFC 4861 7.3.1): the transport
 * saw forward progress with dst (TCP: an ACK of new data), so the
 * neighbour it goes through (dst, or its router) is REACHABLE again, and
 * a STALE, DELAY or PROBE entry needs no probe.  Costs a route lookup and
 * a neighbour-cache lookup; it changes nothing (no timer) while the entry
 * is fresh for more than half its reachable time, so calling it for every
 * ACK is fine. */
void rn__net_nd_confirm(struct rn_stack *st, const struct rn_ip6 *dst);

#endif /* REFNET_NET_H */
