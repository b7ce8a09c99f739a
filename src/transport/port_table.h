/*
 * Port tables: the local bindings of one transport on one stack, and the
 * choice of ephemeral ports.  Internal to src/transport.
 *
 * Each bound endpoint embeds a struct rn_port_entry and is held by the
 * table under the tag "port-table" for as long as it is bound, so `refnet
 * objects` shows who keeps a bound endpoint alive (DESIGN.md).
 *
 * Binding rule, Linux's for UDP: two bindings on the same port conflict
 * unless both name different specific addresses, or both set
 * SO_REUSEADDR, or both SO_REUSEPORT (pe_flags, read when a later binding
 * asks).  Demultiplexing is the transport's: it walks the port's chain
 * (rn__pt_chain()) and picks among the bindings that accept a datagram.
 *
 * Ephemeral ports follow RFC 6056 algorithm 3 (simple hash-based): the
 * search starts at an offset given by a keyed hash (SipHash-2-4, keyed from
 * the stack's seed) of the local address, the remote address and port, and
 * a per-table counter advances on every probe.  Different peers thus see
 * unrelated port sequences, and the same seed gives the same ports.
 *
 * Everything here runs on the stack's loop thread ([L]).
 */
#ifndef REFNET_TRANSPORT_PORT_TABLE_H
#define REFNET_TRANSPORT_PORT_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "refnet/addr.h"
#include "refnet/object.h"

#define RN_PT_BUCKETS 256

/* ---- Local addresses of both families -----------------------------------
 *
 * A binding's address is a struct rn_inaddr: a specific address of either
 * family, the IPv4 wildcard ::ffff:0.0.0.0, or the IPv6 wildcard ::.  The
 * IPv6 wildcard covers IPv4 too (as mapped addresses, RFC 3493 3.7)
 * unless the socket set IPV6_V6ONLY. */

/* True for ::ffff:0.0.0.0, the IPv4 wildcard. */
static inline bool rn__inaddr_is_any4(const struct rn_inaddr *a)
{
    static const struct rn_inaddr any4 = {{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0}}};

    return rn_inaddr_eq(a, &any4);
}

/* The wildcard of a's family. */
static inline struct rn_inaddr rn__inaddr_any_like(const struct rn_inaddr *a)
{
    return rn_inaddr_is_v4(a) ? rn_inaddr_v4(0) : rn_inaddr_v6(&RN_IP6_ANY);
}

/* True if a binding to bound (v6only: IPV6_V6ONLY set) takes datagrams
 * for the local address a (specific or a wildcard). */
static inline bool rn__inaddr_covers(const struct rn_inaddr *bound, bool v6only,
                                     const struct rn_inaddr *a)
{
    if (rn_inaddr_eq(bound, a))
        return true;
    if (rn_ip6_is_any(&bound->ia_ip6))
        return !v6only || !rn_inaddr_is_v4(a);
    return rn__inaddr_is_any4(bound) && rn_inaddr_is_v4(a);
}

/* True if bindings to a and b on one port would take some of the same
 * datagrams (av6only, bv6only: their IPV6_V6ONLY). */
static inline bool rn__inaddr_overlap(const struct rn_inaddr *a, bool av6only,
                                      const struct rn_inaddr *b, bool bv6only)
{
    return rn__inaddr_covers(a, av6only, b) || rn__inaddr_covers(b, bv6only, a);
}

/* A 32-bit fold of a, for the (unkeyed) connection tables: its last
 * eight octets, where an IPv4 address (after the constant ::ffff) and an
 * IPv6 interface identifier vary; one load for every IPv4 lookup. */
static inline uint32_t rn__inaddr_fold(const struct rn_inaddr *a)
{
    uint64_t w;

    __builtin_memcpy(&w, a->ia_ip6.i6_octet + 8, sizeof(w));
    return (uint32_t)(w ^ w >> 32);
}

/* A binding, embedded in the endpoint it binds. */
struct rn_port_entry {
    struct rn_port_entry *pe_next;  /* [L] hash chain */
    void *pe_ob;                    /* [L] the endpoint object, held by
                                       "port-table" while linked */
    struct rn_inaddr pe_addr;       /* [L] local address, or a wildcard
                                       (see "Local addresses of both
                                       families" above) */
    uint16_t pe_port;               /* [L] local port, never 0 while linked */
    bool pe_linked;                 /* [L] in a table */
    uint32_t pe_flags;              /* [L] RN_PT_REUSE*: the endpoint's options
                                       now, set by its owner */
};

/* pe_flags */
#define RN_PT_REUSEADDR 0x1u  /* SO_REUSEADDR */
#define RN_PT_REUSEPORT 0x2u  /* SO_REUSEPORT */
#define RN_PT_V6ONLY 0x4u     /* IPV6_V6ONLY: a binding to :: takes no IPv4 */

struct rn_port_table {
    struct rn_port_entry *pt_hash[RN_PT_BUCKETS]; /* [L] by port */
    uint32_t pt_count;       /* [L] bindings */
    uint16_t pt_eph_lo;      /* [L] ephemeral range, inclusive */
    uint16_t pt_eph_hi;
    uint32_t pt_next_eph;    /* [L] RFC 6056 next_ephemeral */
    uint64_t pt_key[2];      /* [I] SipHash key */
    uint8_t pt_proto;        /* [I] hashed in, so UDP and TCP differ */
};

/* Prepares an empty table keyed from seed. */
void rn__pt_init(struct rn_port_table *pt, uint8_t proto, uint64_t seed);

/* True if binding (addr, port) would conflict with an existing binding. */
bool rn__pt_conflicts(const struct rn_port_table *pt, struct rn_inaddr addr, uint16_t port);
/* The same for a binding with the options flags (RN_PT_REUSE*). */
bool rn__pt_conflicts_as(const struct rn_port_table *pt, struct rn_inaddr addr, uint16_t port,
                         uint32_t flags);

/* The condition bit (object.h, "Holder contracts") the port table sets on
 * an object while it is bound: bit 0 of the contract of every type that
 * enters the table must be "bound". */
#define RN__PT_COND_BOUND 0x1u

/* Binds pe (for object ob) to (addr, port), if its pe_flags let it share
 * the port with those already there, and takes a "port-table" reference
 * on ob, with ob's condition RN__PT_COND_BOUND set.  Returns 0, or
 * RN_EADDRINUSE changing nothing. */
int rn__pt_insert(struct rn_port_table *pt, struct rn_port_entry *pe, void *ob,
                  struct rn_inaddr addr, uint16_t port);

/* Unbinds pe and drops the table's reference on its object, which may be
 * released by the time this returns.  Harmless if pe is not linked. */
void rn__pt_remove(struct rn_port_table *pt, struct rn_port_entry *pe);

/* Returns the binding that accepts datagrams for (addr, port): the one
 * bound to addr itself, else a wildcard one that covers it (for IPv4, the
 * IPv4 wildcard before a dual-stack ::); NULL if none.  The caller
 * borrows it for the duration of its loop-thread call. */
struct rn_port_entry *rn__pt_lookup(const struct rn_port_table *pt, struct rn_inaddr addr,
                                    uint16_t port);

/* The chain port hashes to: bindings of port, newest first, and of other
 * ports that share its bucket (check pe_port), through pe_next. */
struct rn_port_entry *rn__pt_chain(const struct rn_port_table *pt, uint16_t port);

/* Picks a free ephemeral port for a binding on laddr towards (raddr,
 * rport) (zeros when unknown), one that want(ctx, port) accepts too if
 * want is not NULL (a port whose answers come to this stack's queue).
 * Returns the port, or RN_EADDRINUSE when no port of the range will do. */
int rn__pt_pick_ephemeral(struct rn_port_table *pt, struct rn_inaddr laddr, struct rn_inaddr raddr,
                          uint16_t rport, bool (*want)(void *ctx, uint16_t port), void *ctx);

/* Calls fn on every binding; fn may remove the one it is given. */
void rn__pt_foreach(struct rn_port_table *pt, void (*fn)(struct rn_port_entry *pe, void *ctx),
                    void *ctx);

#endif /* REFNET_TRANSPORT_PORT_TABLE_H */
