/*
 * Network layer internals: the stack structure, interfaces, the ARP cache,
 * routes and reassembly, shared by the files of src/net/.
 *
 * Legend: [L] loop thread only; [I] immutable after creation; [A] atomic,
 * readable from any thread (what describe routines and listings read).
 */
#ifndef REFNET_NET_PRIV_H
#define REFNET_NET_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/net.h"
#include "refnet/drop.h"
#include "refnet/link.h"
#include "refnet/netbuf.h"
#include "refnet/object.h"
#include "refnet/rss.h"
#include "refnet/stack.h"
#include "refnet/timer.h"
#include "runtime/runtime.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"

#define NET_MAX_IFACES 16
#define NET_RX_BATCH 64           /* frames per link rx call */
#define NET_RX_BUDGET 1024        /* frames per interface per poll */
#define NET_TX_BATCH 64           /* frames per link tx call */
#define NET_ARP_BUCKETS 256
#define NET_REASS_BUCKETS 64
#define NET_MAX_ADDR6 8           /* IPv6 addresses an interface holds */
#define NET_ND_BUCKETS 256
#define NET_MAX_ROUTERS6 8        /* default router list (RFC 4861 6.3.4) */
#define NET_MAX_PREFIXES6 16      /* on-link prefix list */
#define NET_MAX_SLAAC6 4          /* autoconfigured addresses an interface forms */
#define NET_DEST6_SETS 64         /* destination cache: sets of ... */
#define NET_DEST6_WAYS 4          /* ... this many entries, the oldest replaced */

struct reass6;

/* Object types and tags of the network layer, registered once. */
struct net_types {
    struct rn_ob_type *nt_iface;
    struct rn_ob_type *nt_arp;
    struct rn_ob_type *nt_route;
    struct rn_ob_type *nt_nd;     /* IPv6 neighbour entries */
    struct rn_ob_type *nt_route6; /* IPv6 prefixes and default routers */
    rn_tag_t nt_tag_arp_table;    /* the ARP cache's hold on an entry */
    rn_tag_t nt_tag_route_table;  /* the route table's hold on a route */
    rn_tag_t nt_tag_neighbour;    /* an ARP entry's hold on its interface */
    rn_tag_t nt_tag_nd_table;     /* the IPv6 neighbour cache's hold on an entry */
    rn_nb_owner_t nt_own_rx;      /* frames being received */
    rn_nb_owner_t nt_own_tx;      /* frames queued for transmission */
    rn_nb_owner_t nt_own_arpq;    /* frames waiting for ARP */
    rn_nb_owner_t nt_own_reass;   /* fragments under reassembly */
    rn_nb_owner_t nt_own_icmp;    /* ICMP messages being built */
    rn_nb_owner_t nt_own_loop;    /* datagrams to our own address */
    rn_nb_owner_t nt_own_ndq;     /* IPv6 datagrams waiting for neighbour discovery */
};

/* An IPv6 address of an interface.  Its state is public (stack.h). */
struct iface_addr6 {
    struct rn_ip6 a6_addr;       /* [L] the address */
    uint8_t a6_plen;             /* [L] its on-link prefix length; 128: none */
    uint8_t a6_state;            /* [L] enum rn_addr6_state */
    uint8_t a6_dad_left;         /* [L] DAD solicitations still to send */
    bool a6_auto;                /* [L] formed from a router's prefix
                                    (SLAAC): its prefix is on-link only if
                                    the prefix list says so (RFC 5942) */
    rn_time_t a6_valid_until;    /* [L] a6_auto: removed then; 0: never */
    rn_time_t a6_pref_until;     /* [L] a6_auto: deprecated then; 0: never */
};

/* True if a may be used: preferred, or deprecated (still valid, RFC 4862
 * 5.5.4, but chosen as a source only when nothing preferred fits). */
static inline bool rn__net_addr6_usable(const struct iface_addr6 *a)
{
    return a->a6_state == RN_ADDR6_PREFERRED || a->a6_state == RN_ADDR6_DEPRECATED;
}
extern struct net_types rn__net_types;

struct rn_iface {
    struct rn_stack *if_stack;       /* [I] */
    struct rn_link *if_link;         /* [L] top of the filter chain; NULL once closed */
    char if_name[16];                /* [I] */
    struct rn_mac if_mac;            /* [I] */
    uint32_t if_addr;                /* [I] IPv4 address, host order, 0 if none */
    uint8_t if_plen;                 /* [I] prefix length */
    uint32_t if_mtu;                 /* [I] largest IP datagram */
    uint32_t if_offloads;            /* [L] RN_LINK_OFF_* the link (with its
                                        filters) offers */
    uint16_t if_index;               /* [I] 1-based */
    struct rn_nbq if_txq;            /* [L] frames for the end-of-poll flush */
    uint64_t if_rx_frames;           /* [L] frames received */
    uint64_t if_rx_bytes;            /* [L] */
    uint64_t if_tx_frames;           /* [L] frames handed to the link */
    uint64_t if_tx_bytes;            /* [L] */
    uint64_t if_drops[RN_DROP_MAX_]; /* [L] per reason */
    bool if_ipv6;                    /* [L] IPv6 is on: it has a link-local
                                        address and answers on it */
    bool if_shadow;                  /* [I] an RSS queue other than 0
                                        (ifp_rss_shadow): announces nothing */
    struct iface_addr6 if_addr6[NET_MAX_ADDR6]; /* [L] if_addr6[0] is the
                                        link-local address, if if_ipv6 */
    unsigned if_naddr6;              /* [L] addresses in if_addr6 */
    struct rn_timer if_dad_timer;    /* [L] the next DAD step */
    uint32_t if_mtu6;                /* [L] the link's IPv6 MTU: if_mtu, or
                                        lower as a router's MTU option says;
                                        1280 <= if_mtu6 <= if_mtu */
    uint8_t if_hlim6;                /* [L] a router's cur hop limit; 0: the
                                        stack's sp_ttl */
    rn_time_t if_nd_reachable;       /* [L] a router's ReachableTime; 0: sp_arp_ttl */
    rn_time_t if_nd_retrans;         /* [L] a router's RetransTimer; 0: sp_arp_retry */
    uint8_t if_rs_left;              /* [L] router solicitations still to send */
    bool if_ra_seen;                 /* [L] a router advertisement came */
    struct rn_timer if_rs_timer;     /* [L] the next router solicitation */
    struct rn_timer if_mld_timer;    /* [L] the next MLD report (mld6.c) */
    uint8_t if_mld_left;             /* [L] join reports still to send */
    bool if_mld_answer;              /* [L] a query's answer is due */
};

/* The states of an ARP entry: the public neighbour states (stack.h). */
enum arp_state {
    ARP_INCOMPLETE = RN_NEIGH_INCOMPLETE,  /* requested, frames queued */
    ARP_REACHABLE = RN_NEIGH_REACHABLE,    /* resolved and fresh */
    ARP_STALE = RN_NEIGH_STALE,            /* IPv6 only: known, not confirmed */
    ARP_DELAY = RN_NEIGH_DELAY,            /* IPv6 only: used while stale */
    ARP_PROBE = RN_NEIGH_PROBE,            /* expired but in use: still used
                                              while re-requested */
};

/* An ARP cache entry (an object of type "arp entry"). */
struct arp_entry {
    struct arp_entry *ae_next;   /* [L] hash chain */
    struct arp_entry *ae_inext;  /* [L] INCOMPLETE entries, oldest first */
    struct arp_entry *ae_iprev;  /* [L] */
    struct rn_iface *ae_iface;   /* [I] held by tag "neighbour" */
    uint32_t ae_ip;              /* [I] */
    _Atomic uint64_t ae_mac;     /* [A] the 6 MAC octets, packed */
    _Atomic uint8_t ae_state;    /* [A] enum arp_state */
    uint8_t ae_tries;            /* [L] requests sent in this round */
    bool ae_used;                /* [L] used since it became reachable */
    rn_time_t ae_expires;        /* [L] REACHABLE until then */
    struct rn_nbq ae_queue;      /* [L] frames waiting for resolution */
    struct rn_timer ae_timer;    /* [L] retry or expiry */
};

/* An IPv6 neighbour cache entry (an object of type "nd entry"): RFC 4861
 * 7.3's life (nd6.c), keyed by IPv6 address. */
struct nd_entry {
    struct nd_entry *ne_next;    /* [L] hash chain */
    struct nd_entry *ne_inext;   /* [L] INCOMPLETE entries, oldest first */
    struct nd_entry *ne_iprev;   /* [L] */
    struct rn_iface *ne_iface;   /* [I] held by tag "neighbour" */
    struct rn_ip6 ne_ip;         /* [I] */
    _Atomic uint64_t ne_mac;     /* [A] the 6 MAC octets, packed */
    _Atomic uint8_t ne_state;    /* [A] enum arp_state */
    uint8_t ne_tries;            /* [L] solicitations sent in this round */
    bool ne_used;                /* [L] used since it became reachable */
    bool ne_router;              /* [L] its advertisements set the router flag */
    rn_time_t ne_expires;        /* [L] REACHABLE until then */
    struct rn_nbq ne_queue;      /* [L] datagrams waiting for resolution */
    struct rn_timer ne_timer;    /* [L] retry or expiry */
};

/* A route (an object of type "route"). */
struct net_route {
    uint32_t rt_dst;             /* [I] network, host bits clear */
    uint8_t rt_plen;             /* [I] */
    uint32_t rt_gw;              /* [I] 0 for a connected route */
    struct rn_iface *rt_iface;   /* [I] held by tag "route" */
};

/* An IPv6 route (an object of type "route6"): an on-link prefix from a
 * router's prefix option, or a default router.  Held by the stack's list
 * under "route-table"; each holds its interface under "route". */
enum route6_kind {
    ROUTE6_PREFIX,               /* rt6_dst/rt6_plen is on-link */
    ROUTE6_ROUTER,               /* ::/0 via rt6_gw */
};
struct net_route6 {
    struct net_route6 *rt6_next; /* [L] the stack's list */
    uint8_t rt6_kind;            /* [I] enum route6_kind */
    struct rn_ip6 rt6_dst;       /* [I] the prefix, host bits clear; :: for a router */
    uint8_t rt6_plen;            /* [I] */
    struct rn_ip6 rt6_gw;        /* [I] a router's link-local address; else :: */
    struct rn_iface *rt6_iface;  /* [I] held by tag "route" */
    rn_time_t rt6_expires;       /* [L] removed then; 0: never */
};

/* An entry of the IPv6 destination cache: what a redirect or a packet too
 * big taught about one destination.  Plain memory in the stack (sets of
 * NET_DEST6_WAYS, the least recently used replaced), bounded, never held
 * by anyone: its interface pointer is cleared when the interface goes. */
struct dest6 {
    struct rn_ip6 d6_dst;        /* [L] the destination */
    struct rn_iface *d6_iface;   /* [L] NULL: the entry is free */
    struct rn_ip6 d6_gw;         /* [L] redirected to this first hop (the
                                    destination itself: on-link); :: none */
    uint32_t d6_pmtu;            /* [L] path MTU; 0: the link's */
    rn_time_t d6_pmtu_expires;   /* [L] the path MTU is forgotten then
                                    (RFC 8201 4: probed again upward) */
    rn_time_t d6_used;           /* [L] last looked up or learnt */
};

/* A datagram under reassembly. */
struct reass_dgram {
    struct reass_dgram *rd_next;      /* [L] hash chain */
    struct reass_dgram *rd_age_prev;  /* [L] age list, oldest first */
    struct reass_dgram *rd_age_next;
    uint32_t rd_src;                  /* key */
    uint32_t rd_dst;
    uint16_t rd_id;
    uint8_t rd_proto;
    struct rn_iface *rd_iface;        /* where the first fragment came in */
    struct rn_netbuf *rd_frags;       /* payloads in offset order, via nb_nextpkt;
                                         nb_cb[0] = offset, nb_cb[1] = length */
    uint32_t rd_total;                /* payload length, once the last fragment came; else 0 */
    uint32_t rd_have;                 /* payload bytes received */
    uint32_t rd_mem;                  /* buffer bytes held */
    uint8_t rd_hdr[RN_IP4_MAX_HLEN];  /* the first fragment's IP header, for ICMP */
    uint8_t rd_hlen;                  /* 0 until the first fragment came */
    uint8_t rd_ttl;
    uint8_t rd_tos;
    struct rn_timer rd_timer;         /* [L] reassembly timeout */
    struct rn_stack *rd_stack;
};

struct proto_handlers {
    rn_ip_input_fn ph_input;
    rn_ip_err_fn ph_err;
    rn_ip_addr_gone_fn ph_gone;  /* or NULL */
};

/* The network layer's stack.  It begins with the runtime's part
 * (runtime/runtime.h), so that the struct rn_stack * every layer passes
 * around is also this structure: net_st() converts. */
struct net_stack {
    struct rn_stack ns_rt;                /* the runtime's part; first */
    struct rn_stack_params ns_params;     /* [I] with defaults filled in */
    struct rn_rss ns_rss;                 /* [L] receive-side scaling: the
                                             device's steering, rs_queues 0
                                             when the stack has no RSS */
    unsigned ns_rss_queue;                /* [L] the queue this stack runs */
    rn_stack_handover_fn ns_rss_hand;     /* [L] rn_stack_set_rss_handover()'s, or NULL */
    void *ns_rss_hand_ctx;                /* [L] */
    rn_port_use_fn ns_port_use;           /* [L] rn_stack_set_port_use()'s, or NULL */
    void *ns_port_use_ctx;                /* [L] */
    bool ns_rx_copy;                      /* [L] the frame taken in now is a copy
                                             of one queue 0's stack got too (RSS
                                             fan-out): its drops are counted
                                             there, not again here */
    struct rn_nbpool *ns_pool;            /* [L] */
    struct rn_iface *ns_ifaces[NET_MAX_IFACES]; /* [L] held by tag "stack" */
    unsigned ns_nifaces;                  /* [L] */
    uint16_t ns_last_index;               /* [L] the last interface index given */
    struct iface_removal *ns_removals;    /* [L] removals not yet complete */
    struct net_route **ns_routes;         /* [L] longest prefix first */
    unsigned ns_nroutes;                  /* [L] */
    unsigned ns_routes_cap;               /* [L] */
    struct arp_entry *ns_arp[NET_ARP_BUCKETS]; /* [L] */
    unsigned ns_narp;                     /* [L] */
    struct arp_entry *ns_arp_inc_oldest;  /* [L] INCOMPLETE entries, by age */
    struct arp_entry *ns_arp_inc_newest;  /* [L] */
    unsigned ns_arp_nincomplete;          /* [L] */
    uint32_t ns_arp_new_tokens;           /* [L] resolutions that may start now */
    rn_time_t ns_arp_new_second;          /* [L] when the bucket was last filled */
    struct nd_entry *ns_nd[NET_ND_BUCKETS]; /* [L] the IPv6 neighbour cache */
    unsigned ns_nnd;                      /* [L] */
    struct nd_entry *ns_nd_inc_oldest;    /* [L] INCOMPLETE entries, by age */
    struct nd_entry *ns_nd_inc_newest;    /* [L] */
    unsigned ns_nd_nincomplete;           /* [L] */
    uint32_t ns_nd_new_tokens;            /* [L] resolutions that may start now */
    rn_time_t ns_nd_new_second;           /* [L] when the bucket was last filled */
    struct net_route6 *ns_routes6;        /* [L] prefixes and default routers,
                                             the newest first */
    unsigned ns_nrouters6;                /* [L] ROUTE6_ROUTER entries */
    unsigned ns_nprefixes6;               /* [L] ROUTE6_PREFIX entries */
    struct rn_timer ns_rd_timer;          /* [L] the next lifetime to run out */
    struct dest6 ns_dest6[NET_DEST6_SETS][NET_DEST6_WAYS]; /* [L] */
    unsigned ns_ndest6;                   /* [L] entries in use */
    uint64_t ns_rand6;                    /* [L] jitter of solicitations and
                                             reachable times (xorshift) */
    rn_icmp_echo_fn ns_echo6_fn;          /* [L] observer of ICMPv6 echo replies */
    void *ns_echo6_ctx;                   /* [L] */
    uint32_t ns_ip6_id;                   /* [L] next fragment identification */
    struct reass6 *ns_reass6;             /* [L] IPv6 datagrams under reassembly,
                                             oldest first */
    unsigned ns_nreass6;                  /* [L] */
    double ns_icmp6_tokens;               /* [L] ICMPv6 error rate limit bucket */
    rn_time_t ns_icmp6_refill;            /* [L] last refill */
    struct reass_dgram *ns_reass[NET_REASS_BUCKETS]; /* [L] */
    struct reass_dgram *ns_reass_oldest;  /* [L] age list head */
    struct reass_dgram *ns_reass_newest;  /* [L] age list tail */
    unsigned ns_nreass;                   /* [L] */
    uint32_t ns_reass_mem;                /* [L] buffer bytes in reassembly */
    struct rn_nbq ns_loopq;               /* [L] datagrams to our own addresses */
    uint16_t ns_tx_gen;                   /* [L] rn__net_tx_flush() calls, wrapping */
    struct proto_handlers ns_protos[256]; /* [L] */
    rn_ip6_input_fn ns_protos6[256];      /* [L] IPv6 handlers, NULL: none */
    rn_ip_err_fn ns_errs6[256];           /* [L] their ICMPv6 error handlers,
                                             NULL: none */
    rn_ip_hook_fn ns_ip_hook[RN_IP_HOOK_COUNT_]; /* [L] NULL: none */
    rn_icmp_echo_fn ns_echo_fn;           /* [L] observer of echo replies, or NULL */
    void *ns_echo_ctx;                    /* [L] its argument */
    uint16_t ns_ip_id;                    /* [L] next IP identification */
    double ns_icmp_tokens;                /* [L] ICMP error rate limit bucket */
    rn_time_t ns_icmp_refill;             /* [L] last refill */
    uint64_t ns_drops[RN_DROP_MAX_];      /* [L] drops not tied to an interface */
    /* Protocol counters, [L]. */
    uint64_t ns_ip_in;                    /* datagrams delivered to us */
    uint64_t ns_ip_out;                   /* datagrams sent */
    uint64_t ns_ip_frag_out;              /* fragments sent */
    uint64_t ns_ip_reassembled;           /* datagrams put back together */
    uint64_t ns_rss_handed;               /* reassembled datagrams (both families)
                                             handed to the stack of their flow */
    uint64_t ns_icmp_in;
    uint64_t ns_icmp_out;
    uint64_t ns_icmp_echo_replies;
    uint64_t ns_icmp_echo_replies_in;     /* echo replies received */
    uint64_t ns_icmp_ratelimited;
    uint64_t ns_arp_in;
    uint64_t ns_arp_out;
    uint64_t ns_arp_evicted;              /* entries let go for room */
    uint64_t ns_arp_ratelimited;          /* resolutions not started: over the rate */
    uint64_t ns_ip6_in;                   /* IPv6 datagrams delivered to us */
    uint64_t ns_ip6_out;                  /* IPv6 datagrams sent */
    uint64_t ns_ip6_frag_out;             /* IPv6 fragments sent */
    uint64_t ns_ip6_reassembled;          /* IPv6 datagrams put back together */
    uint64_t ns_icmp6_in;
    uint64_t ns_icmp6_out;
    uint64_t ns_icmp6_echo_replies;       /* echo replies sent */
    uint64_t ns_icmp6_echo_replies_in;    /* echo replies received */
    uint64_t ns_icmp6_ratelimited;        /* errors not sent: over the rate */
    uint64_t ns_nd_in;                    /* NS and NA received, valid */
    uint64_t ns_nd_out;                   /* NS and NA sent */
    uint64_t ns_nd_evicted;               /* entries let go for room */
    uint64_t ns_nd_ratelimited;           /* resolutions not started: over the rate */
    uint64_t ns_nd_dad_conflicts;         /* addresses found duplicate */
    uint64_t ns_nd_rs_out;                /* router solicitations sent */
    uint64_t ns_nd_ra_in;                 /* router advertisements accepted */
    uint64_t ns_nd_redirects_in;          /* redirects accepted */
    uint64_t ns_nd_slaac_addrs;           /* addresses formed from prefixes */
    uint64_t ns_icmp6_too_big_in;         /* packet too big accepted */
    uint64_t ns_icmp6_err_to_transport;   /* errors handed to TCP or UDP */
    uint64_t ns_ip6_pmtu_updates;         /* path MTUs lowered */
    uint64_t ns_mld_reports_out;          /* MLDv2 reports sent */
    uint64_t ns_mld_queries_in;           /* MLD queries accepted */
};

/* The network layer's view of a stack.  Every stack is a net_stack: only
 * rn_stack_create() makes them. */
static inline struct net_stack *net_st(struct rn_stack *st)
{
    return (struct net_stack *)st;
}

/* ---- stack.c ---- */
bool rn__net_types_init(void);
/* Queues a finished frame on ifp for the end-of-poll flush.  Consumes nb. */
void rn__net_iface_queue(struct rn_iface *ifp, struct rn_netbuf *nb);
/* A packet a queue of the stack (ARP's, the loopback's) is about to keep
 * past the call that handed it over: returns it holding its own data
 * (rn_nb_unref()), or NULL, counted as a drop on ifp (or the stack's),
 * without buffers for the copy.  Consumes nb. */
struct rn_netbuf *rn__net_hold(struct rn_stack *st, struct rn_iface *ifp, struct rn_netbuf *nb);
/* Hands ifp's queued frames to its link. */
void rn__net_iface_flush(struct rn_iface *ifp);

/* ---- iface.c ---- */
int rn__net_iface_create(struct rn_stack *st, const struct rn_iface_params *p,
                      struct rn_iface **out);
void rn__net_iface_destroy(struct rn_iface *ifp);

/* ---- eth.c ---- */
/* Processes a received frame.  Consumes nb. */
void rn__net_eth_input(struct rn_iface *ifp, struct rn_netbuf *nb);
/* Prepends an Ethernet header and queues the frame.  Consumes nb. */
void rn__net_eth_output(struct rn_iface *ifp, struct rn_netbuf *nb, const struct rn_mac *dst,
                     uint16_t type);

/* ---- arp.c ---- */
void rn__net_arp_input(struct rn_iface *ifp, struct rn_netbuf *nb);
/* Sends an IPv4 datagram to nexthop on ifp, resolving it first if needed.
 * Consumes nb. */
void rn__net_arp_output(struct rn_iface *ifp, struct rn_netbuf *nb, uint32_t nexthop);
void rn__net_arp_announce(struct rn_iface *ifp);
void rn__net_arp_flush(struct rn_stack *st);
/* Removes the neighbour entries on ifp. */
void rn__net_arp_flush_iface(struct rn_iface *ifp);

/* ---- route.c ---- */
int rn__net_route_add(struct rn_stack *st, uint32_t dst, uint8_t plen, uint32_t gw,
                   struct rn_iface *ifp);
const struct net_route *rn__net_route_lookup(struct rn_stack *st, uint32_t dst);
void rn__net_route_flush(struct rn_stack *st);
/* Deletes the routes out of ifp (IPv4's and the IPv6 ones rd6.c learnt),
 * each waited for by w[i] ("route delete",
 * waiter: the interface) with fn(w, ctx) once it is released; w has room
 * for rn__net_route_count_iface() waits.  Returns how many. */
unsigned rn__net_route_flush_iface(struct rn_iface *ifp, struct rn_ob_wait *w,
                                   rn_ob_release_fn fn, void *ctx);
unsigned rn__net_route_count_iface(struct rn_iface *ifp);
/* Completes or cancels the interface removals still pending (iface.c). */
void rn__net_iface_removals_fini(struct rn_stack *st);

/* ---- ip_input.c ---- */
void rn__net_ip_input(struct rn_iface *ifp, struct rn_netbuf *nb);
/* Delivers a whole datagram (IP header pulled) to ICMP or its transport.
 * Consumes nb. */
void rn__net_ip_deliver(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip_rx *rx);
/* Asks the hook of dir, which is set, about a datagram of either family:
 * nb holds the transport header and payload from offset off on; laddr is
 * our side (IPv4 held mapped).  Returns true if the hook drops it.  Does
 * not consume nb. */
bool rn__net_ip_hook_drops(struct rn_stack *st, enum rn_ip_hook_dir dir, const struct rn_netbuf *nb,
                           size_t off, struct rn_inaddr laddr, struct rn_inaddr raddr,
                           uint8_t proto);
/* Runs datagrams sent to our own addresses.  */
void rn__net_ip_loopback_run(struct rn_stack *st);
/* True if addr is a broadcast address for ifp. */
bool rn__net_ip_is_bcast(const struct rn_iface *ifp, uint32_t addr);

/* ---- ip_output.c ---- */
/* Copies len bytes of src from off onto the end of dst.  Returns 0 or
 * RN_ENOBUFS. */
int rn__net_copy_range(struct rn_netbuf *dst, const struct rn_netbuf *src, size_t off, size_t len);

/* ---- reass.c ---- */
/* Adds a fragment (IP header pulled, ip describes it).  Returns the whole
 * datagram once complete, with the first fragment's header copied into
 * hdr (hlen bytes), else NULL.  Consumes nb. */
struct rn_netbuf *rn__net_reass_add(struct rn_iface *ifp, struct rn_netbuf *nb,
                                 const struct rn_ip4_hdr *ip, uint8_t *hdr, uint8_t *hlen);
/* Drops the datagrams being reassembled that came in through ifp (NULL:
 * all), as timed out: an interface removed takes its fragments along. */
void rn__net_reass_flush(struct rn_stack *st, struct rn_iface *ifp);

/* ---- icmp.c ---- */
void rn__net_icmp_input(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip_rx *rx);
/* Tells the protocol that sent the IPv4 datagram nb that it could not be
 * delivered, as an ICMP destination-unreachable with code would: used when
 * a next hop never answers ARP.  nb is only read. */
void rn__net_icmp_local_unreach(struct rn_stack *st, const struct rn_netbuf *nb, uint8_t code);
/* The same for the IPv6 datagram nb (fixed header first), as an ICMPv6
 * destination unreachable with code would (3: address unreachable, when
 * a next hop never answers neighbour discovery).  nb is only read. */
void rn__net_icmp6_local_unreach(struct rn_stack *st, const struct rn_netbuf *nb, uint8_t code);
/* Sends an ICMP error quoting orig (an IP header of orig_hlen bytes
 * followed by payload).  Rate limited. */
void rn__net_icmp_error(struct rn_stack *st, uint8_t type, uint8_t code, uint32_t rest,
                     const uint8_t *orig, size_t orig_len, uint32_t to);

/* ---- ip6_input.c ---- */
/* What IPv6 input knows of a received datagram, handed to ICMPv6. */
struct ip6_rx {
    struct rn_ip6 r6_src;
    struct rn_ip6 r6_dst;
    uint8_t r6_proto;            /* the upper-layer protocol */
    uint8_t r6_hlim;             /* hop limit as received */
    uint8_t r6_tclass;
    bool r6_mcast;               /* sent to a multicast group */
    bool r6_tentative;           /* sent to an address still under DAD */
    bool r6_copy;                /* an RSS copy (RN_NB_OFF_RSS_COPY): learn
                                    from it, answer nothing */
    struct rn_iface *r6_iface;
    const uint8_t *r6_hdr;       /* the datagram from its fixed header, up to
                                    r6_hdrlen bytes: for ICMPv6 errors */
    uint32_t r6_hdrlen;
};
void rn__net_ip6_input(struct rn_iface *ifp, struct rn_netbuf *nb, bool looped);
/* Returns the first n bytes of nb in one piece: pulled up in its head
 * buffer, or copied into memory the caller frees (*copy, else NULL).
 * NULL if neither can be done. */
const uint8_t *rn__net_ip6_linear(struct rn_netbuf *nb, size_t n, uint8_t **copy);
/* True if addr is one of the stack's IPv6 unicast addresses, in any state
 * if any_state, else only a usable one (preferred or deprecated). */
bool rn__net_ip6_is_local(struct rn_stack *st, const struct rn_ip6 *addr, bool any_state);

/* ---- ip6_output.c ---- */
struct ip6_out {
    struct rn_ip6 o6_src;        /* ::: chosen by the route */
    struct rn_ip6 o6_dst;
    uint8_t o6_proto;
    uint8_t o6_hlim;             /* 0: the stack's default */
    uint8_t o6_tclass;
    struct rn_iface *o6_iface;   /* for link-scope destinations (link-local,
                                    ff02::/16): the interface; NULL: the
                                    first with IPv6 */
    bool o6_src_any;             /* send from :: (DAD): no source chosen */
};
/* Sends the upper-layer message nb (with headroom) over IPv6: routes,
 * picks the source, resolves the next hop.  Returns 0 once queued, or
 * RN_ENETUNREACH, RN_EMSGSIZE (no fragmentation yet), RN_ENOBUFS.
 * Consumes nb. */
int rn__net_ip6_output(struct rn_stack *st, struct rn_netbuf *nb, const struct ip6_out *out);
/* Picks the source address for dst out of ifp: its link-local one for a
 * link-scope destination, else a preferred global one, on dst's prefix if
 * it has one (a deprecated one if nothing preferred fits).  Returns false
 * if it has none usable. */
bool rn__net_ip6_pick_src(const struct rn_iface *ifp, const struct rn_ip6 *dst,
                          struct rn_ip6 *src);
/* Where a datagram to dst goes: the interface (ifhint for a link-scope
 * destination; NULL: the first with IPv6), the next hop (dst itself when
 * on-link, else a router) and the MTU to fragment to (the link's, or the
 * path's if lower).  Returns false if dst is unreachable. */
struct ip6_hop {
    struct rn_iface *h_iface;
    struct rn_ip6 h_nexthop;
    uint32_t h_mtu;
};
bool rn__net_ip6_route(struct rn_stack *st, const struct rn_ip6 *dst, struct rn_iface *ifhint,
                       struct ip6_hop *hop);


/* ---- ip6_transport.c ---- */
/* Hands the datagram (nb at its upper-layer header) to the transport
 * registered for rx->r6_proto.  Returns false, nb untouched, if none is. */
bool rn__net_ip6_deliver(struct rn_stack *st, struct rn_netbuf *nb, const struct ip6_rx *rx);

/* ---- reass6.c ---- */
/* Adds the fragment nb, whose datagram is at p (linear) and whose fragment
 * header ex describes.  Returns the whole datagram once complete, rebuilt
 * behind a fixed header that names the first fragment's next header, else
 * NULL.  Consumes nb. */
struct rn_netbuf *rn__net_reass6_add(struct rn_iface *ifp, struct rn_netbuf *nb, const uint8_t *p,
                                     const struct rn_ip6_ext *ex);
/* Gives up the datagrams under reassembly (those that came in on ifp, or
 * all with NULL). */
void rn__net_reass6_flush(struct rn_stack *st, struct rn_iface *ifp);

/* ---- icmp6.c ---- */
void rn__net_icmp6_input(struct rn_stack *st, struct rn_netbuf *nb, const struct ip6_rx *rx);
/* Sends an ICMPv6 error about the received datagram at orig (orig_len
 * bytes from its fixed header), unless RFC 4443 2.4 (e) forbids it or the
 * rate limit is spent. */
void rn__net_icmp6_error(struct rn_stack *st, struct rn_iface *ifp, uint8_t type, uint8_t code,
                         uint32_t rest, const uint8_t *orig, size_t orig_len);

/* ---- nd6.c ---- */
/* Handles a validated NS or NA.  Consumes nothing. */
void rn__net_nd_input(struct rn_stack *st, const struct rn_icmp6_hdr *ic,
                      const struct ip6_rx *rx);
/* Sends an IPv6 datagram to nexthop on ifp, resolving it first if
 * needed; a multicast nexthop maps to its MAC.  Consumes nb. */
void rn__net_nd_output(struct rn_iface *ifp, struct rn_netbuf *nb, const struct rn_ip6 *nexthop);
/* Turns IPv6 on for ifp: its link-local address, and DAD for it. */
void rn__net_nd_iface_up(struct rn_iface *ifp);
void rn__net_nd_flush(struct rn_stack *st);
/* Lists the IPv6 neighbour entries as rn_stack_neighbours() rows. */
void rn__net_nd_rows(struct rn_stack *st, rn_neigh_row_fn fn, void *ctx);
void rn__net_nd_flush_iface(struct rn_iface *ifp);
/* Adds addr/plen to ifp as tentative and starts its DAD.  Returns it, or
 * NULL (*err: RN_EEXIST, RN_ENOMEM when the interface holds
 * NET_MAX_ADDR6). */
struct iface_addr6 *rn__net_nd_addr6_add(struct rn_iface *ifp, const struct rn_ip6 *addr,
                                         unsigned plen, int *err);
/* Learns that ip on ifp has the link address mac (a router's source
 * link-layer option, a redirect's target option), creating its entry
 * while the cache has room; router marks it a router. */
void rn__net_nd_learn(struct rn_iface *ifp, const struct rn_ip6 *ip, const struct rn_mac *mac,
                      bool router);
/* True if the neighbour entry for ip on ifp is resolved (not INCOMPLETE
 * and not absent): a default router that answers. */
bool rn__net_nd_resolved(struct rn_stack *st, const struct rn_iface *ifp,
                         const struct rn_ip6 *ip);

/* ---- rd6.c ---- */
/* Router discovery (RFC 4861 6.3), SLAAC (RFC 4862 5.5), redirects (RFC
 * 4861 8) and the destination cache (redirects, path MTUs). */
/* Sets up the stack's part (at its creation). */
void rn__net_rd6_init(struct rn_stack *st);
/* A number in [0, n) from the stack's seeded generator (jitter). */
uint64_t rn__net_rd6_rand(struct rn_stack *st, uint64_t n);
/* Starts router solicitation on ifp (its IPv6 just turned on). */
void rn__net_rd6_iface_up(struct rn_iface *ifp);
/* Handles a router advertisement or redirect (ic, in nb's message), or a
 * packet too big.  Consumes nothing. */
void rn__net_rd6_ra_input(struct rn_stack *st, const struct rn_icmp6_hdr *ic,
                          const struct ip6_rx *rx);
void rn__net_rd6_redirect_input(struct rn_stack *st, const struct rn_icmp6_hdr *ic,
                                const struct ip6_rx *rx);
/* rn__net_rd6_too_big_input() returns true if the packet too big is about
 * a datagram we sent to a destination we have a route to (taken, whether
 * or not it lowered the path MTU); false if it was dropped as
 * "ptb_not_ours". */
bool rn__net_rd6_too_big_input(struct rn_stack *st, const struct rn_icmp6_hdr *ic,
                               const struct ip6_rx *rx);
/* The destination cache's entry for dst, refreshed as used, or NULL.
 * Hot path: one set of NET_DEST6_WAYS compared, nothing allocated. */
struct dest6 *rn__net_dest6_lookup(struct rn_stack *st, const struct rn_ip6 *dst);
/* The on-link prefix or default router for dst among the learnt routes
 * (a prefix first, longest first; then a router that answers, else any),
 * or NULL. */
const struct net_route6 *rn__net_route6_lookup(struct rn_stack *st, const struct rn_ip6 *dst);
/* Forgets what the stack learnt through ifp (NULL: everything): routes
 * (each waited for by w[i] as rn__net_route_flush_iface() does), the
 * destination cache's entries, the solicitation timer. */
unsigned rn__net_rd6_flush_iface(struct rn_iface *ifp, struct rn_ob_wait *w,
                                 rn_ob_release_fn fn, void *ctx);
unsigned rn__net_rd6_count_iface(struct rn_iface *ifp);
void rn__net_rd6_flush(struct rn_stack *st);
/* ip on ifp advertised itself no longer a router: out of the default
 * router list, if it was there. */
void rn__net_rd6_router_gone(struct rn_iface *ifp, const struct rn_ip6 *ip);
/* Lists the learnt routes as rn_stack_routes() rows. */
void rn__net_rd6_rows(struct rn_stack *st, rn_route_row_fn fn, void *ctx);
extern const struct rn_ob_type_ops rn__net_route6_ops;

/* ---- mld6.c ---- */
/* MLDv2 reports for the solicited-node groups of ifp's addresses. */
void rn__net_mld6_iface_up(struct rn_iface *ifp);
/* a was just added to ifp: its group is reported if new to ifp. */
void rn__net_mld6_join(struct rn_iface *ifp, const struct iface_addr6 *a);
/* a is about to go: its group is left unless another address keeps it. */
void rn__net_mld6_leave(struct rn_iface *ifp, const struct iface_addr6 *a);
/* Handles an MLD query.  Consumes nothing. */
void rn__net_mld6_query_input(struct rn_stack *st, const struct rn_icmp6_hdr *ic,
                              const struct ip6_rx *rx);
void rn__net_mld6_flush_iface(struct rn_iface *ifp);

/* A counter of what came in, but for a copy of a frame queue 0's stack
 * counted (receive-side scaling's fan-out): counters add up over loops. */
#define RN__RX_COUNT(st, expr)            \
    do {                                  \
        if (!net_st(st)->ns_rx_copy)      \
            expr;                         \
    } while (0)

/* Receive-side scaling: a datagram this stack reassembled, whose flow
 * (as it arrives: src:sport to dst:dport) another queue's stack owns,
 * goes to that stack as one Ethernet frame of type ethertype addressed
 * to ifp: the l3len bytes at l3 (the IPv4 header, made whole), then nb
 * (transport proto).
 * True if it went (the caller frees nb); false if the flow is this
 * stack's, or it has no hand-over (rn_stack_set_rss_handover()), or that
 * could not take it. */
bool rn__net_rss_handover(struct rn_stack *st, struct rn_iface *ifp, uint16_t ethertype,
                          const uint8_t *l3, size_t l3len, const struct rn_netbuf *nb,
                          uint8_t proto, const struct rn_inaddr *src, const struct rn_inaddr *dst,
                          uint16_t sport, uint16_t dport);

/* Returns the address of ifp that addr is (any state), or NULL. */
struct iface_addr6 *rn__net_ip6_iface_addr(struct rn_iface *ifp, const struct rn_ip6 *addr);

/* Counts a drop and frees nb. */
static inline void rn__net_drop(struct rn_stack *st, struct rn_iface *ifp, struct rn_netbuf *nb,
                             enum rn_drop reason)
{
    rn__stack_count_drop(st, ifp, reason);
    rn_nb_free(nb);
}

#endif /* REFNET_NET_PRIV_H */
