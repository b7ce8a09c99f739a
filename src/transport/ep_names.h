/*
 * An endpoint's names (local and remote address and port) as its ledger
 * description shows them.  describe runs on any thread (the ledger, the
 * watchdog, dumps) while the loop thread binds and connects; the names
 * are kept under a sequence count, so that a reader never pairs one
 * name's address with another's port, whatever the family.
 *
 *   loop thread:  rn__ep_names_set()  (odd count while the words change)
 *   any thread:   rn__ep_names_get()  (retried while the count moves)
 *
 * Used by sockets and UDP endpoints; TCP's objects describe themselves
 * from fields that do not change once they are in the tables.
 */
#ifndef REFNET_TRANSPORT_EP_NAMES_H
#define REFNET_TRANSPORT_EP_NAMES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "refnet/addr.h"

struct rn__ep_names {
    _Atomic uint32_t en_seq;       /* even: stable; odd: being written */
    _Atomic uint64_t en_addr[4];   /* local, remote address (16 bytes each,
                                      IPv4 mapped) */
    _Atomic uint32_t en_ports;     /* local port << 16 | remote port */
};

/* A copy of the names. */
struct rn__ep_name_copy {
    struct rn_inaddr ec_addr[2];   /* local, remote */
    uint16_t ec_port[2];
};

/* Stores the names.  Only one thread writes (the endpoint's loop). */
static inline void rn__ep_names_set(struct rn__ep_names *n, const struct rn_inaddr *laddr,
                                    uint16_t lport, const struct rn_inaddr *raddr,
                                    uint16_t rport)
{
    uint32_t seq = atomic_load_explicit(&n->en_seq, memory_order_relaxed);
    uint64_t w[4];

    memcpy(&w[0], laddr, 16);
    memcpy(&w[2], raddr, 16);
    /* Each word's release store keeps the odd count before it; the
     * reader's acquire loads keep its second look at the count after
     * them (no fences: ThreadSanitizer does not model them). */
    atomic_store_explicit(&n->en_seq, seq + 1, memory_order_relaxed);
    for (int i = 0; i < 4; i++)
        atomic_store_explicit(&n->en_addr[i], w[i], memory_order_release);
    atomic_store_explicit(&n->en_ports, (uint32_t)lport << 16 | rport, memory_order_release);
    atomic_store_explicit(&n->en_seq, seq + 2, memory_order_release);
}

/* Copies the names, consistent with each other.  False if they kept
 * changing through every attempt (the caller says so instead). */
static inline bool rn__ep_names_get(const struct rn__ep_names *cn, struct rn__ep_name_copy *out)
{
    struct rn__ep_names *n = (struct rn__ep_names *)cn;  /* atomic loads only */

    for (int tries = 0; tries < 1000; tries++) {
        uint32_t seq = atomic_load_explicit(&n->en_seq, memory_order_acquire);
        uint64_t w[4];
        uint32_t ports;

        if (seq & 1)
            continue;
        for (int i = 0; i < 4; i++)
            w[i] = atomic_load_explicit(&n->en_addr[i], memory_order_acquire);
        ports = atomic_load_explicit(&n->en_ports, memory_order_acquire);
        if (atomic_load_explicit(&n->en_seq, memory_order_relaxed) != seq)
            continue;
        memcpy(&out->ec_addr[0], &w[0], 16);
        memcpy(&out->ec_addr[1], &w[2], 16);
        out->ec_port[0] = (uint16_t)(ports >> 16);
        out->ec_port[1] = (uint16_t)ports;
        return true;
    }
    return false;
}

/* The local port last stored (0: not bound yet); the writer's own read. */
static inline uint16_t rn__ep_names_lport(const struct rn__ep_names *cn)
{
    struct rn__ep_names *n = (struct rn__ep_names *)cn;

    return (uint16_t)(atomic_load_explicit(&n->en_ports, memory_order_relaxed) >> 16);
}

/* Writes a name of an AF_INET6 endpoint (inet6) as "[2001:2::2]:80" or
 * "[::ffff:198.18.0.1]:80" (RFC 5952 6), of an AF_INET one as
 * "198.18.0.2:80"; an AF_INET endpoint's names start zeroed (::), which
 * is its 0.0.0.0. */
static inline char *rn__ep_name_fmt(const struct rn_inaddr *a, uint16_t port, bool inet6,
                                    char *buf, size_t len)
{
    char t[RN_IP6_STRLEN];

    if (inet6) {
        snprintf(buf, len, "[%s]:%u", rn_ip6_addr_fmt(&a->ia_ip6, t), port);
    } else {
        struct rn_inaddr v4 = rn_inaddr_is_v4(a) ? *a : rn_inaddr_v4(0);

        snprintf(buf, len, "%s:%u", rn_inaddr_fmt(&v4, t), port);
    }
    return buf;
}

#endif
