/*
 * A refnet stack: interfaces, ARP, routes, IPv4, ICMP and the transports,
 * driven by one host.
 *
 * One thread owns a stack's protocol state: its loop.  The host — the
 * real-time loop of the daemon (loop.h) or the simulator (sim.h) — calls
 * rn_stack_poll() with the current time whenever an interface's fd is
 * readable, work was posted, or rn_stack_next_deadline() has passed.  Every
 * other thread talks to the stack by posting work (rn_stack_post()), which
 * the loop runs at its next poll.  The core never reads the OS clock: `now`
 * is always handed in.
 *
 * Interfaces, ARP entries and routes are objects of the object manager, so
 * `refnet objects` and the watchdog see them with their holders.
 *
 * Thread safety: functions marked [any] may be called from any thread; all
 * others only on the stack's loop thread (or before the loop starts).
 */
#ifndef REFNET_STACK_H
#define REFNET_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/addr.h"
#include "refnet/clock.h"
#include "refnet/drop.h"
#include "refnet/rss.h"
#include "refnet/runtime.h"

struct rn_link;
struct rn_strbuf;
struct rn_nbpool;
struct rn_stack;
struct rn_iface;

/* ---- Creating a stack --------------------------------------------------- */

/* Stack parameters.  A zero field takes its default. */
struct rn_stack_params {
    const char *sp_name;           /* shown in reports; default "refnet" */
    uint64_t sp_seed;              /* keys ISNs, ports, IP ids and MACs:
                                      the same seed gives the same run */
    uint32_t sp_pool_max;          /* netbufs in the stack's pool; 16384 */
    rn_time_t sp_arp_ttl;          /* life of a resolved ARP entry; 60 s */
    rn_time_t sp_arp_retry;        /* between ARP requests; 1 s */
    uint32_t sp_arp_tries;         /* requests before giving up; 3 */
    uint32_t sp_arp_queue_max;     /* frames held per unresolved neighbour; 64
                                      (a 64 KiB datagram is 45 fragments) */
    uint32_t sp_arp_max_entries;   /* ARP cache size; 1024 */
    rn_time_t sp_reass_timeout;    /* IPv4 reassembly timeout; 30 s */
    uint32_t sp_reass_max_bytes;   /* reassembly memory in all; 1 MiB */
    uint32_t sp_reass_max_datagrams; /* datagrams under reassembly; 64 */
    uint8_t sp_ttl;                /* default TTL of sent datagrams; 64 */
};

/* Creates a stack, its netbuf pool and its protocol tables.  Returns 0 and
 * sets *out, or a negative code. */
int rn_stack_create(const struct rn_stack_params *params, struct rn_stack **out);

/* Runs everything down (endpoints, interfaces, routes, ARP entries),
 * closes the links and frees the stack.  Returns 0, or RN_EBUSY if objects
 * or buffers were still held afterwards (reported as leaks). */
int rn_stack_destroy(struct rn_stack *st);

/* [L] The stack's packet buffer pool (netbuf.h): its counters, its owners,
 * and buffers for a link driver or a test.  Owned by the stack. */
struct rn_nbpool *rn_stack_pool(struct rn_stack *st);

/* Receive-side scaling (include/refnet/rss.h): st runs queue `queue` of
 * a device that steers received frames by rss, beside stacks that run
 * the others.  Connections st opens then pick local ports whose flows the
 * device steers back to st's queue.  Set before the stack has
 * connections.  Returns 0 or RN_EINVAL (queue past rss's queues). [L] */
int rn_stack_set_rss(struct rn_stack *st, const struct rn_rss *rss, unsigned queue);

/* True unless st has RSS and the flow whose frames arrive from src:sport
 * to dst:dport (ports in host order) would be steered to another queue
 * than st's. [L] */
bool rn_stack_rss_mine(struct rn_stack *st, const struct rn_inaddr *src,
                       const struct rn_inaddr *dst, uint16_t sport, uint16_t dport);

/* The queue st runs and how many there are (1 and 0 without RSS). [L] */
unsigned rn_stack_rss_queues(struct rn_stack *st, unsigned *queue);

/* Receive-side scaling: the device steers fragments to queue 0, so queue
 * 0's stack reassembles every fragmented datagram.  One whose TCP or UDP
 * flow another queue's stack owns by its hash goes to it: fn(ctx, queue,
 * proto, port, frame, len) is given the whole datagram as an unfragmented
 * Ethernet frame, with its protocol and this side's port (host order), to
 * queue for that stack's loop (rn_link_fanout_hand()), and returns false
 * if it does not (a port pinned to queue 0, rn_link_tap_pin(), whose
 * flows are st's whatever their hash; or no room): the datagram is then
 * served by st, as without RSS.  Counted as "rss.handed". [L] */
typedef bool (*rn_stack_handover_fn)(void *ctx, unsigned queue, uint8_t proto, uint16_t port,
                                     const uint8_t *frame, size_t len);
void rn_stack_set_rss_handover(struct rn_stack *st, rn_stack_handover_fn fn, void *ctx);

/* Told when a local port of st comes into use, or out of it: a TCP
 * listener, a bound TCP socket, a connection or a TIME_WAIT entry on it,
 * a bound UDP endpoint; on is true for each that starts, false for each
 * that ends (so uses are counted, not states).  With RSS the daemon pins
 * a port the first loop's stack alone uses to its queue. [L] */
typedef void (*rn_port_use_fn)(void *ctx, uint8_t proto, uint16_t port, bool on);
void rn_stack_set_port_use(struct rn_stack *st, rn_port_use_fn fn, void *ctx);

/* ---- Interfaces and routes ---------------------------------------------- */

struct rn_iface_params {
    const char *ifp_name;      /* "tap0"; at most 15 characters */
    struct rn_link *ifp_link;  /* top of the link's filter chain; the
                                  interface owns it from now on, and closes
                                  it, on success and on failure */
    uint8_t ifp_mac[6];        /* all zero: a locally administered address
                                  derived from the seed and the name */
    uint32_t ifp_addr;         /* IPv4 address, host order; 0 for none */
    uint8_t ifp_plen;          /* its prefix length */
    uint32_t ifp_mtu;          /* 0: the link's */
    bool ifp_no_garp;          /* do not announce the address at start */
    bool ifp_ipv6;             /* turn IPv6 on: a link-local address from
                                  the MAC (RFC 4291 appendix A), checked
                                  by DAD; rn_iface_add_addr6() adds more */
    bool ifp_rss_shadow;       /* receive-side scaling: this interface is
                                  a queue other than 0 of a device whose
                                  queue 0 another stack runs, with the same
                                  addresses.  It announces nothing (no
                                  gratuitous ARP, DAD, MLD report or router
                                  solicitation: queue 0's stack does), its
                                  addresses are valid at once, and it
                                  answers no copy of queue 0's frames
                                  (RN_NB_OFF_RSS_COPY) */
};

/* Adds an interface, with a connected route for its prefix, and (unless
 * ifp_no_garp) sends a gratuitous ARP.  Returns 0 and sets *out (borrowed:
 * the stack holds the interface), or a negative code. */
int rn_stack_add_iface(struct rn_stack *st, const struct rn_iface_params *params,
                       struct rn_iface **out);

/* Adds a route to dst/plen via gateway gw (0 for a connected route) out of
 * ifp (NULL: the interface whose prefix contains gw).  dst 0 with plen 0 is
 * the default route.  Returns 0, RN_EEXIST, RN_ENETUNREACH (no interface
 * reaches gw) or RN_EINVAL. */
int rn_route_add(struct rn_stack *st, uint32_t dst, uint8_t plen, uint32_t gw,
                 struct rn_iface *ifp);
int rn_route_del(struct rn_stack *st, uint32_t dst, uint8_t plen);

/* Told on the loop thread that the removal of interface #id completed
 * (result 0: its last reference is gone), or RN_ECANCELED: the stack was
 * destroyed first, and whatever held it is reported as a leak. */
typedef void (*rn_iface_removed_fn)(struct rn_stack *st, uint64_t id, int result, void *ctx);

/* Removes ifp, as Linux's unregister_netdevice() does: it leaves the
 * stack's table at once (no frame is received or sent on it, its link is
 * closed, lookups no longer find it), the routes out of it are deleted and
 * its neighbour entries go, the TCP connections and UDP sockets bound to
 * its address end with RN_ENETDOWN (a UDP socket's next call, or a
 * receive waiting), and it is killed.  The removal completes once its last
 * reference is gone: fn(st, id, 0, ctx) then runs on the loop thread (never
 * inside this call; fn may be NULL).  Until then the chains show a wait
 * "remove" on the interface and, below it, a wait "route delete" (waiter:
 * the interface) on each deleted route still held, down to whoever holds
 * it.  Returns 0 and *id (may be NULL) the interface's object id;
 * RN_ENOENT if ifp is not one of st's; RN_ENOMEM (nothing was done).  ifp
 * must not be used after a 0.  [L] */
int rn_stack_remove_iface(struct rn_stack *st, struct rn_iface *ifp, rn_iface_removed_fn fn,
                          void *ctx, uint64_t *id);

/* Stacks filter on top of ifp's chain of links, at run time: filter must
 * have been set up to wrap the current top, rn_iface_link(ifp)
 * (rn_link_init(filter, ops, rn_iface_link(ifp), name)).  From now on the
 * interface sends and receives through it, and closes it with the rest.
 * Returns 0, or RN_EINVAL if filter does not wrap the top or ifp's link
 * is closed.  [L] */
int rn_iface_filter_push(struct rn_iface *ifp, struct rn_link *filter);
/* Takes filter, one of the filters of ifp's chain, out of it: the link
 * above it (or the interface) now wraps the link below it.  The caller
 * then frees filter without closing what it wrapped.  Returns 0, or
 * RN_ENOENT if filter is not in ifp's chain.  [L] */
int rn_iface_filter_remove(struct rn_iface *ifp, struct rn_link *filter);

/* The states of an interface's IPv6 address (RFC 4862). */
enum rn_addr6_state {
    RN_ADDR6_TENTATIVE,   /* duplicate address detection runs: only
                             neighbour discovery may use it */
    RN_ADDR6_PREFERRED,   /* in use */
    RN_ADDR6_DUPLICATE,   /* another node holds it: never used */
    RN_ADDR6_DEPRECATED,  /* formed from a router's prefix whose preferred
                             lifetime ran out: still valid, a source only
                             when nothing preferred fits (RFC 4862 5.5.4) */
};
/* "tentative", "preferred", "duplicate", "deprecated". */
const char *rn_addr6_state_name(enum rn_addr6_state s);

/* Adds the IPv6 address addr/plen (plen 1..128; 128: no on-link prefix)
 * to ifp, turning IPv6 on for it if it was off (with its link-local
 * address).  The address is tentative until duplicate address detection
 * finds nobody else holds it: one solicitation, then a second's wait (RFC
 * 4862 5.4).  Returns 0, RN_EINVAL (unspecified, loopback, multicast,
 * IPv4-mapped or link-local, or plen 0 or above 128), RN_EEXIST (ifp has
 * it), or RN_ENOMEM (ifp holds as many as it can).  [L] */
int rn_iface_add_addr6(struct rn_iface *ifp, const struct rn_ip6 *addr, unsigned plen);

/* Returns the interface named name, or NULL. */
struct rn_iface *rn_stack_iface(struct rn_stack *st, const char *name);
const char *rn_iface_name(const struct rn_iface *ifp);
uint32_t rn_iface_addr(const struct rn_iface *ifp);
struct rn_link *rn_iface_link(struct rn_iface *ifp);

/* ---- Driving the stack -------------------------------------------------- */

/* Receives frames from every interface and processes them, runs posted
 * work and due timers, and flushes every interface's transmit queue. */
void rn_stack_poll(struct rn_stack *st, rn_time_t now);

/* As rn_stack_poll(), told which of the fds rn_stack_fds() gave are
 * readable now (ready, nready entries), as a level-triggered wait reports
 * them (an fd left with frames to read is reported again): an interface
 * whose link has an fd not among them, and no deadline due, is not read,
 * which spares a read that could only find nothing. */
void rn_stack_poll_ready(struct rn_stack *st, rn_time_t now, const int *ready, size_t nready);

/* Returns the earliest time at which rn_stack_poll() has work that no fd
 * will announce (a timer, a delayed frame), or 0 for none. */
rn_time_t rn_stack_next_deadline(struct rn_stack *st);

/* Stores up to max fds the host should wait on for readability; returns
 * how many there are in all. */
size_t rn_stack_fds(struct rn_stack *st, int *fds, size_t max);

/* ---- Rows: what the network layer knows, as structs ---------------------
 *
 * Each listing hands its rows one at a time to a callback, on the loop
 * thread ([L]), in a stable order.  A row and the strings it points to are
 * valid during the callback only.  Nothing here formats text: the refnet
 * tool and the daemon render rows (as tables or JSON) in one place, and an
 * embedder gets the same structs.
 */

/* An interface. */
struct rn_iface_row {
    const char *ir_name;          /* "tap0" */
    unsigned ir_index;            /* 1-based */
    struct rn_mac ir_mac;         /* its Ethernet address */
    uint32_t ir_addr;             /* IPv4 address, host order; 0 if none */
    uint8_t ir_plen;              /* its prefix length */
    uint32_t ir_mtu;              /* largest IP datagram it sends */
    uint32_t ir_mtu6;             /* largest IPv6 datagram: ir_mtu, or lower
                                     as a router's MTU option said; 0 if
                                     IPv6 is off */
    uint32_t ir_offloads;         /* RN_LINK_OFF_* its link offers */
    struct rn_link *ir_link;      /* top of its link chain (link.h), or NULL
                                     once closed: walk it with
                                     rn_link_lower() for per-link counters */
    uint64_t ir_rx_frames;        /* frames received */
    uint64_t ir_rx_bytes;
    uint64_t ir_tx_frames;        /* frames handed to the link */
    uint64_t ir_tx_bytes;
    uint64_t ir_drops;            /* frames dropped on it, all reasons */
    uint64_t ir_id;               /* its object id (object.h) */
    unsigned ir_refs;             /* its reference count */
};
typedef void (*rn_iface_row_fn)(const struct rn_iface_row *row, void *ctx);
/* [L] Every interface, in order of index. */
void rn_stack_ifaces(struct rn_stack *st, rn_iface_row_fn fn, void *ctx);

/* An IPv6 address of an interface. */
struct rn_addr6_row {
    const char *ar_iface;         /* interface name */
    struct rn_ip6 ar_addr;        /* the address */
    uint8_t ar_plen;              /* its on-link prefix length */
    enum rn_addr6_state ar_state;
};
typedef void (*rn_addr6_row_fn)(const struct rn_addr6_row *row, void *ctx);
/* [L] Every IPv6 address, per interface in order of index, link-local
 * first. */
void rn_stack_addrs6(struct rn_stack *st, rn_addr6_row_fn fn, void *ctx);

/* The state of a neighbour entry (ARP or neighbour discovery). */
enum rn_neigh_state {
    RN_NEIGH_INCOMPLETE,  /* asked for, frames waiting: no address yet */
    RN_NEIGH_REACHABLE,   /* resolved and fresh */
    RN_NEIGH_PROBE,       /* expired but in use: used while asked again */
    RN_NEIGH_STALE,       /* IPv6 (RFC 4861 7.3.2): its address is known
                             but not lately confirmed; a datagram sent to
                             it starts DELAY */
    RN_NEIGH_DELAY,       /* IPv6: used while stale; probed unless an
                             upper layer confirms it within 5 s */
};
/* "INCOMPLETE", "REACHABLE", "PROBE", "STALE", "DELAY". */
const char *rn_neigh_state_name(enum rn_neigh_state s);

/* A neighbour: an entry of the ARP cache, or of the IPv6 neighbour
 * cache (nr_family 6). */
struct rn_neigh_row {
    uint32_t nr_addr;             /* IPv4 address; 0 for IPv6 */
    struct rn_mac nr_mac;         /* its link address; zero while INCOMPLETE */
    const char *nr_iface;         /* interface it is reached on */
    enum rn_neigh_state nr_state;
    rn_time_t nr_expires_in;      /* REACHABLE: time left; else 0 */
    unsigned nr_queued;           /* frames waiting for the resolution */
    uint64_t nr_id;               /* its object id */
    unsigned nr_refs;             /* its reference count */
    uint8_t nr_family;            /* 4 (ARP) or 6 (neighbour discovery) */
    struct rn_ip6 nr_addr6;       /* IPv6 address, if nr_family is 6 */
    bool nr_router;               /* IPv6: it advertised itself a router */
};
typedef void (*rn_neigh_row_fn)(const struct rn_neigh_row *row, void *ctx);
/* [L] Every neighbour entry: the ARP cache's, then the IPv6 neighbour
 * cache's (order within each: the cache's). */
void rn_stack_neighbours(struct rn_stack *st, rn_neigh_row_fn fn, void *ctx);

/* A route. */
struct rn_route_row {
    uint32_t rr_dst;              /* network, host bits clear */
    uint8_t rr_plen;              /* prefix length; 0 with rr_dst 0: default */
    uint32_t rr_gw;               /* gateway; 0 for a connected route */
    const char *rr_iface;         /* outgoing interface */
    uint64_t rr_id;               /* its object id */
    unsigned rr_refs;             /* its reference count */
    uint8_t rr_family;            /* 4, or 6: an IPv6 route (a prefix or
                                     default router learnt from a router,
                                     an object; or the on-link prefix of a
                                     configured address, not an object:
                                     rr_id 0) */
    struct rn_ip6 rr_dst6;        /* IPv6 prefix, if rr_family is 6 */
    struct rn_ip6 rr_gw6;         /* IPv6: the router (link-local); :: on-link */
    rn_time_t rr_expires_in;      /* IPv6 learnt: lifetime left; 0: forever */
};
typedef void (*rn_route_row_fn)(const struct rn_route_row *row, void *ctx);
/* [L] Every IPv4 route, longest prefix first (the order lookups use),
 * then the on-link IPv6 prefixes of the interfaces' configured addresses,
 * then the IPv6 prefixes and default routers learnt from routers. */
void rn_stack_routes(struct rn_stack *st, rn_route_row_fn fn, void *ctx);

typedef void (*rn_counter_fn)(const struct rn_stack_counter *c, void *ctx);
/* [L] The protocol counters: the network layer's ("ip.in", "icmp.out",
 * "arp.in" ...), then those of the layers above (rn_stack_add_stats()):
 * "udp.*", "tcp.*", "filter.*". */
void rn_stack_counters(struct rn_stack *st, rn_counter_fn fn, void *ctx);

/* Packets dropped for one reason, on one interface or on the stack. */
struct rn_drop_row {
    const char *dr_iface;         /* interface, or NULL: the stack's own
                                     (not tied to an interface) */
    enum rn_drop dr_reason;       /* drop.h: rn_drop_name(), rn_drop_desc() */
    uint64_t dr_count;            /* > 0 */
};
typedef void (*rn_drop_row_fn)(const struct rn_drop_row *row, void *ctx);
/* [L] Every reason with drops: per interface in order of index, then the
 * stack's own; reasons in the order of drop.h. */
void rn_stack_drop_rows(struct rn_stack *st, rn_drop_row_fn fn, void *ctx);

/* [L] Returns the drops counted under reason (enum rn_drop) on every
 * interface and on the stack. */
uint64_t rn_stack_drops(struct rn_stack *st, int reason);

/* ---- ICMP echo, for a ping client --------------------------------------- */

/* The most data an echo request carries: a 64 KiB datagram less the IPv4
 * and ICMP headers. */
#define RN_ICMP_ECHO_DATA_MAX 65507u

/* An echo request to send. */
struct rn_icmp_echo {
    uint32_t ie_dst;            /* where to */
    uint16_t ie_id;             /* echo identifier */
    uint16_t ie_seq;            /* echo sequence number */
    const void *ie_data;        /* the data to be echoed, ie_len bytes */
    size_t ie_len;              /* at most RN_ICMP_ECHO_DATA_MAX */
};

/* [L] Sends an echo request (ICMP type 8), fragmented if it does not fit
 * the path's MTU.  The stack answers echo requests it receives by itself;
 * replies to this one reach the echo observer below.  Returns 0 once
 * queued (delivery is never promised), RN_EMSGSIZE for too much data,
 * RN_ENOBUFS, RN_ENETUNREACH, or RN_EACCES (a filter blocked it). */
int rn_icmp_echo_send(struct rn_stack *st, const struct rn_icmp_echo *req);

/* An echo reply the stack received. */
struct rn_icmp_echo_rx {
    uint32_t er_src;            /* who answered */
    uint32_t er_dst;            /* the address it answered to */
    uint16_t er_id;             /* echo identifier */
    uint16_t er_seq;            /* echo sequence number */
    uint8_t er_ttl;             /* TTL as received */
    const uint8_t *er_data;     /* the echoed data, er_datalen bytes, valid
                                   during the call only */
    size_t er_datalen;
    struct rn_iface *er_iface;  /* interface it arrived on */
    bool er_v6;                 /* an ICMPv6 echo reply: er_src and er_dst
                                   are 0, er_src6 and er_dst6 hold them */
    struct rn_ip6 er_src6;
    struct rn_ip6 er_dst6;
};

/* Called on the loop thread for every well-formed echo reply received
 * (checksum verified, reassembled if it came in fragments). */
typedef void (*rn_icmp_echo_fn)(struct rn_stack *st, const struct rn_icmp_echo_rx *er,
                                void *ctx);

/* Installs the stack's one observer of echo replies, or with fn NULL
 * removes it.  The stack answers echo requests itself; replies are only
 * of interest to whoever sent the requests (a ping client).  Returns 0, or
 * RN_EBUSY if another observer is installed. */
int rn_icmp_set_echo_observer(struct rn_stack *st, rn_icmp_echo_fn fn, void *ctx);

/* ---- ICMPv6 echo, for a ping client ------------------------------------- */

/* An ICMPv6 echo request to send. */
struct rn_icmp6_echo {
    struct rn_ip6 ie6_dst;      /* where to */
    uint16_t ie6_id;            /* echo identifier */
    uint16_t ie6_seq;           /* echo sequence number */
    const void *ie6_data;       /* the data to be echoed, ie6_len bytes */
    size_t ie6_len;
};

/* [L] Sends an ICMPv6 echo request (type 128).  Replies reach the observer
 * set with rn_icmp6_set_echo_observer(), with er_v6 set.  Returns 0 once
 * queued, RN_EMSGSIZE (longer than the path's MTU: no fragments yet),
 * RN_ENOBUFS or RN_ENETUNREACH (no interface reaches it from a preferred
 * address). */
int rn_icmp6_echo_send(struct rn_stack *st, const struct rn_icmp6_echo *req);

/* Installs the stack's one observer of ICMPv6 echo replies (the rows have
 * er_v6 set, er_src6 and er_dst6 the addresses, er_ttl the hop limit), or
 * with fn NULL removes it.  Returns 0, or RN_EBUSY if one is installed. */
int rn_icmp6_set_echo_observer(struct rn_stack *st, rn_icmp_echo_fn fn, void *ctx);

#endif /* REFNET_STACK_H */
