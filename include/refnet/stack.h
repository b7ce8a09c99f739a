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

#include "refnet/clock.h"
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

struct rn_nbpool *rn_stack_pool(struct rn_stack *st);

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

/* Returns the interface named name, or NULL. */
struct rn_iface *rn_stack_iface(struct rn_stack *st, const char *name);
const char *rn_iface_name(const struct rn_iface *ifp);
uint32_t rn_iface_addr(const struct rn_iface *ifp);
struct rn_link *rn_iface_link(struct rn_iface *ifp);

/* ---- Driving the stack -------------------------------------------------- */

/* Receives frames from every interface and processes them, runs posted
 * work and due timers, and flushes every interface's transmit queue. */
void rn_stack_poll(struct rn_stack *st, rn_time_t now);

/* Returns the earliest time at which rn_stack_poll() has work that no fd
 * will announce (a timer, a delayed frame), or 0 for none. */
rn_time_t rn_stack_next_deadline(struct rn_stack *st);

/* Stores up to max fds the host should wait on for readability; returns
 * how many there are in all. */
size_t rn_stack_fds(struct rn_stack *st, int *fds, size_t max);

/* ---- Listings, for the control socket and the simulator ----------------- */

/* Each appends a human table, or with json a JSON array, to sb. */
void rn_stack_render_ifaces(struct rn_stack *st, struct rn_strbuf *sb, bool json);
void rn_stack_render_arp(struct rn_stack *st, struct rn_strbuf *sb, bool json);
void rn_stack_render_routes(struct rn_stack *st, struct rn_strbuf *sb, bool json);
/* Counters: per interface frames, bytes and drops by named reason, the
 * protocol counters, and the buffer pool by owner. */
void rn_stack_render_stats(struct rn_stack *st, struct rn_strbuf *sb, bool json);

/* Returns the drops counted under reason (enum rn_drop) over all
 * interfaces. */
uint64_t rn_stack_drops(struct rn_stack *st, int reason);

#endif /* REFNET_STACK_H */
