/*
 * Port tables and ephemeral port selection (port_table.h).
 *
 * Called by UDP: bind, connect and send (autobind) insert,
 * close removes, input looks up.  A table is a hash on the port; chains are
 * short because ports rarely share a bucket beyond a handful of bindings.
 */
#include <assert.h>
#include <string.h>

#include "base/siphash.h"
#include "refnet/error.h"
#include "refnet/transport.h"
#include "transport/port_table.h"

/* ---- The table ---------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void rn__pt_init(struct rn_port_table *pt, uint8_t proto, uint64_t seed)
{
    memset(pt, 0, sizeof(*pt));
    pt->pt_proto = proto;
    pt->pt_eph_lo = RN_EPHEMERAL_LO;
    pt->pt_eph_hi = RN_EPHEMERAL_HI;
    /* Expand the 64-bit seed into a 128-bit key; distinct per protocol. */
    pt->pt_key[0] = mix64(seed ^ ((uint64_t)proto << 56));
    pt->pt_key[1] = mix64(pt->pt_key[0] ^ 0x5bd1e9955bd1e995ull);
}

static unsigned bucket(uint16_t port)
{
    return port % RN_PT_BUCKETS;
}

bool rn__pt_conflicts_as(const struct rn_port_table *pt, struct rn_inaddr addr, uint16_t port,
                         uint32_t flags)
{
    const struct rn_port_entry *pe;

    for (pe = pt->pt_hash[bucket(port)]; pe != NULL; pe = pe->pe_next) {
        if (pe->pe_port != port)
            continue;
        if (!rn__inaddr_overlap(&pe->pe_addr, pe->pe_flags & RN_PT_V6ONLY, &addr,
                                flags & RN_PT_V6ONLY))
            continue;
        if ((flags & pe->pe_flags & RN_PT_REUSEADDR) || (flags & pe->pe_flags & RN_PT_REUSEPORT))
            continue;
        return true;
    }
    return false;
}

bool rn__pt_conflicts(const struct rn_port_table *pt, struct rn_inaddr addr, uint16_t port)
{
    return rn__pt_conflicts_as(pt, addr, port, 0);
}

struct rn_port_entry *rn__pt_chain(const struct rn_port_table *pt, uint16_t port)
{
    return pt->pt_hash[bucket(port)];
}

int rn__pt_insert(struct rn_port_table *pt, struct rn_port_entry *pe, void *ob, struct rn_inaddr addr,
                  uint16_t port)
{
    unsigned b = bucket(port);

    assert(!pe->pe_linked && port != 0 && ob != NULL);
    if (rn__pt_conflicts_as(pt, addr, port, pe->pe_flags))
        return RN_EADDRINUSE;
    rn_ob_cond_set(ob, RN__PT_COND_BOUND);
    rn_ob_ref(ob, RN_TAG_PORT_TABLE);
    pe->pe_ob = ob;
    pe->pe_addr = addr;
    pe->pe_port = port;
    pe->pe_linked = true;
    pe->pe_next = pt->pt_hash[b];
    pt->pt_hash[b] = pe;
    pt->pt_count++;
    return 0;
}

void rn__pt_remove(struct rn_port_table *pt, struct rn_port_entry *pe)
{
    struct rn_port_entry **pp;

    if (!pe->pe_linked)
        return;
    for (pp = &pt->pt_hash[bucket(pe->pe_port)]; *pp != NULL; pp = &(*pp)->pe_next) {
        if (*pp == pe) {
            *pp = pe->pe_next;
            break;
        }
    }
    pe->pe_next = NULL;
    pe->pe_linked = false;
    pt->pt_count--;
    rn_ob_deref_cond(pe->pe_ob, RN_TAG_PORT_TABLE, RN__PT_COND_BOUND);
}

struct rn_port_entry *rn__pt_lookup(const struct rn_port_table *pt, struct rn_inaddr addr,
                                    uint16_t port)
{
    struct rn_port_entry *pe, *wild = NULL;

    for (pe = pt->pt_hash[bucket(port)]; pe != NULL; pe = pe->pe_next) {
        if (pe->pe_port != port)
            continue;
        if (rn_inaddr_eq(&pe->pe_addr, &addr))
            return pe;
        if (rn_inaddr_is_any(&pe->pe_addr) &&
            rn__inaddr_covers(&pe->pe_addr, pe->pe_flags & RN_PT_V6ONLY, &addr) &&
            (wild == NULL || !rn_ip6_is_any(&pe->pe_addr.ia_ip6)))
            wild = pe;
    }
    return wild;
}

int rn__pt_pick_ephemeral(struct rn_port_table *pt, struct rn_inaddr laddr, struct rn_inaddr raddr,
                          uint16_t rport, bool (*want)(void *ctx, uint16_t port), void *ctx)
{
    uint32_t num = (uint32_t)pt->pt_eph_hi - pt->pt_eph_lo + 1, count;
    uint8_t in[2 * RN_IP6_LEN + 3];
    uint32_t offset;

    /* F(local address, remote address, remote port, key) of RFC 6056. */
    memcpy(in, laddr.ia_ip6.i6_octet, RN_IP6_LEN);
    memcpy(in + RN_IP6_LEN, raddr.ia_ip6.i6_octet, RN_IP6_LEN);
    memcpy(in + 2 * RN_IP6_LEN, &rport, 2);
    in[2 * RN_IP6_LEN + 2] = pt->pt_proto;
    offset = (uint32_t)rn__siphash(pt->pt_key, in, sizeof(in));
    for (count = num; count > 0; count--) {
        uint16_t port = (uint16_t)(pt->pt_eph_lo + (pt->pt_next_eph + offset) % num);

        pt->pt_next_eph++;
        if (!rn__pt_conflicts(pt, laddr, port) && (want == NULL || want(ctx, port)))
            return port;
    }
    return RN_EADDRINUSE;
}

void rn__pt_foreach(struct rn_port_table *pt, void (*fn)(struct rn_port_entry *pe, void *ctx),
                    void *ctx)
{
    unsigned b;

    for (b = 0; b < RN_PT_BUCKETS; b++) {
        struct rn_port_entry *pe = pt->pt_hash[b], *next;

        for (; pe != NULL; pe = next) {
            next = pe->pe_next;
            fn(pe, ctx);
        }
    }
}
