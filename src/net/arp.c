/*
 * ARP (RFC 826) for IPv4 over Ethernet: the neighbour cache, resolution
 * with a bounded queue of waiting frames, answers to requests, and the
 * gratuitous announcement at start.
 *
 * Entries are objects ("arp entry") held by the cache under "arp-table";
 * each holds its interface under "neighbour".  An entry lives:
 *   INCOMPLETE --reply--> REACHABLE --ttl, unused--> removed
 *       |                     |--ttl, used--> PROBE --reply--> REACHABLE
 *       '--tries exhausted--> removed (queued frames dropped)
 * A PROBE entry is still used while it is re-requested, so a live flow
 * does not stall every time its entry ages.
 *
 * Under a flood of datagrams from sources nobody answers for (spoofed
 * SYNs), the cache keeps what it resolved: INCOMPLETE entries fill at
 * most half of it and make room for each other, oldest first; a resolved
 * entry is let go for room only if it was never used; an ARP request
 * teaches us its sender only while the cache has room; and at most
 * ARP_NEW_PER_SEC resolutions start a second (ARP_NEW_BURST at once), so
 * a flood does not turn into a storm of broadcast requests.
 *
 * Loop-owned parts (hash chain, timer, queue) are torn down on the loop
 * thread before the entry is killed; the release routine only drops the
 * interface reference, which is safe on whichever thread lets go last.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "net/net_priv.h"
#include "refnet/strbuf.h"
#include "wire/arp.h"
#include "wire/icmp.h"

#define ARP_NEW_PER_SEC 2048   /* resolutions started a second, at most */
#define ARP_NEW_BURST 128      /* of which this many at once */

static uint64_t mac_pack(const struct rn_mac *m)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < RN_ETH_ALEN; i++)
        v = v << 8 | m->mac_octet[i];
    return v;
}

static struct rn_mac mac_unpack(uint64_t v)
{
    struct rn_mac m;
    int i;

    for (i = RN_ETH_ALEN; i-- > 0;) {
        m.mac_octet[i] = (uint8_t)v;
        v >>= 8;
    }
    return m;
}

const char *rn_neigh_state_name(enum rn_neigh_state s)
{
    switch (s) {
    case RN_NEIGH_INCOMPLETE:
        return "INCOMPLETE";
    case RN_NEIGH_REACHABLE:
        return "REACHABLE";
    case RN_NEIGH_PROBE:
        return "PROBE";
    case RN_NEIGH_STALE:
        return "STALE";
    case RN_NEIGH_DELAY:
        return "DELAY";
    }
    return "?";
}

static const char *state_name(enum arp_state s)
{
    return rn_neigh_state_name((enum rn_neigh_state)s);
}

static void arp_release(void *ob)
{
    struct arp_entry *e = ob;

    if (e->ae_iface != NULL)
        rn_ob_deref(e->ae_iface, rn__net_types.nt_tag_neighbour);
}

static void arp_describe(const void *ob, char *buf, size_t len)
{
    const struct arp_entry *e = ob;
    struct rn_mac mac = mac_unpack(atomic_load_explicit(&e->ae_mac, memory_order_relaxed));
    char ip[RN_IP4_STRLEN], m[RN_MAC_STRLEN];

    if (e->ae_iface == NULL)
        return;
    rn_ip4_addr_fmt(e->ae_ip, ip);
    rn_mac_fmt(&mac, m);
    snprintf(buf, len, "arp entry %s %s %s %s", ip, m, e->ae_iface->if_name,
             state_name((enum arp_state)atomic_load_explicit(&e->ae_state,
                                                             memory_order_relaxed)));
}

const struct rn_ob_type_ops rn__net_arp_ops = {
    .name = "arp entry",
    .size = sizeof(struct arp_entry),
    .release = arp_release,
    .describe = arp_describe,
};

static unsigned arp_bucket(uint32_t ip)
{
    return (ip * 2654435761u) >> 24 & (NET_ARP_BUCKETS - 1);
}

static struct arp_entry *arp_lookup(struct rn_stack *st, const struct rn_iface *ifp, uint32_t ip)
{
    struct arp_entry *e;

    for (e = net_st(st)->ns_arp[arp_bucket(ip)]; e != NULL; e = e->ae_next) {
        if (e->ae_ip == ip && e->ae_iface == ifp)
            return e;
    }
    return NULL;
}

/* Takes e off the list of INCOMPLETE entries, if it is on it. */
static void inc_unlink(struct net_stack *ns, struct arp_entry *e)
{
    if (e->ae_iprev == NULL && ns->ns_arp_inc_oldest != e)
        return;
    if (e->ae_iprev != NULL)
        e->ae_iprev->ae_inext = e->ae_inext;
    else
        ns->ns_arp_inc_oldest = e->ae_inext;
    if (e->ae_inext != NULL)
        e->ae_inext->ae_iprev = e->ae_iprev;
    else
        ns->ns_arp_inc_newest = e->ae_iprev;
    e->ae_inext = e->ae_iprev = NULL;
    ns->ns_arp_nincomplete--;
}

/* Unlinks, stops and kills an entry; its queued frames are dropped as
 * unresolved.  If the neighbour never answered, each sender is told its
 * destination is unreachable, as a router would with ICMP. */
static void arp_remove(struct rn_stack *st, struct arp_entry *e, bool unreachable)
{
    struct arp_entry **pp = &net_st(st)->ns_arp[arp_bucket(e->ae_ip)];
    struct rn_netbuf *nb;

    while (*pp != e)
        pp = &(*pp)->ae_next;
    *pp = e->ae_next;
    inc_unlink(net_st(st), e);
    net_st(st)->ns_narp--;
    rn_timer_cancel(&st->st_timers, &e->ae_timer);
    while ((nb = rn_nbq_get(&e->ae_queue)) != NULL) {
        if (unreachable)
            rn__net_icmp_local_unreach(st, nb, RN_ICMP_UNREACH_HOST);
        rn__net_drop(st, e->ae_iface, nb, RN_DROP_ARP_UNRESOLVED);
    }
    rn_ob_kill(e);
}

static void arp_send(struct rn_iface *ifp, uint16_t op, const struct rn_mac *dst_mac,
                     const struct rn_mac *tha, uint32_t tpa)
{
    struct rn_stack *st = ifp->if_stack;
    struct rn_arp ar;
    struct rn_netbuf *nb = rn_nb_alloc(net_st(st)->ns_pool, rn__net_types.nt_own_tx);
    uint8_t *p;

    if (nb == NULL) {
        rn__stack_count_drop(st, ifp, RN_DROP_NO_BUFFER);
        return;
    }
    p = rn_nb_put(nb, RN_ARP_LEN);
    if (p == NULL) {
        rn__net_drop(st, ifp, nb, RN_DROP_NO_BUFFER);
        return;
    }
    ar.ar_op = op;
    ar.ar_sha = ifp->if_mac;
    ar.ar_spa = ifp->if_addr;
    ar.ar_tha = *tha;
    ar.ar_tpa = tpa;
    rn__arp_emit(p, &ar);
    net_st(st)->ns_arp_out++;
    rn__net_eth_output(ifp, nb, dst_mac, RN_ETHERTYPE_ARP);
}

static void arp_request(struct arp_entry *e)
{
    const struct rn_mac zero = RN_MAC_ZERO;
    const struct rn_mac bcast = RN_MAC_BROADCAST;

    e->ae_tries++;
    arp_send(e->ae_iface, RN_ARP_OP_REQUEST, &bcast, &zero, e->ae_ip);
}

static void arp_timer(struct rn_timer *t, rn_time_t now)
{
    struct arp_entry *e = (struct arp_entry *)((char *)t - offsetof(struct arp_entry, ae_timer));
    struct rn_stack *st = e->ae_iface->if_stack;
    enum arp_state s = (enum arp_state)atomic_load_explicit(&e->ae_state, memory_order_relaxed);

    if (s == ARP_REACHABLE) {
        if (!e->ae_used) {
            arp_remove(st, e, false);
            return;
        }
        atomic_store_explicit(&e->ae_state, ARP_PROBE, memory_order_relaxed);
        e->ae_tries = 0;
        s = ARP_PROBE;
    }
    if (e->ae_tries >= net_st(st)->ns_params.sp_arp_tries) {
        arp_remove(st, e, s == ARP_INCOMPLETE);
        return;
    }
    arp_request(e);
    rn_timer_arm(&st->st_timers, &e->ae_timer, now + net_st(st)->ns_params.sp_arp_retry);
}

/* Makes room for one more entry: the oldest INCOMPLETE one goes if
 * INCOMPLETE entries fill half the cache, or if the cache is full; with
 * none, a resolved entry never used since it was resolved.  Returns false
 * if every entry is resolved and in use. */
static bool arp_room(struct rn_stack *st)
{
    struct net_stack *ns = net_st(st);
    uint32_t max = ns->ns_params.sp_arp_max_entries;
    struct arp_entry *e;
    unsigned b;

    if (ns->ns_arp_inc_oldest != NULL &&
        (ns->ns_narp >= max || ns->ns_arp_nincomplete >= (max + 1) / 2)) {
        ns->ns_arp_evicted++;
        arp_remove(st, ns->ns_arp_inc_oldest, false);
        return true;
    }
    if (ns->ns_narp < max)
        return true;
    for (b = 0; b < NET_ARP_BUCKETS; b++) {
        for (e = ns->ns_arp[b]; e != NULL; e = e->ae_next) {
            if (!e->ae_used) {
                ns->ns_arp_evicted++;
                arp_remove(st, e, false);
                return true;
            }
        }
    }
    return false;
}

/* Creates an INCOMPLETE entry for ip on ifp, making room if need be
 * (arp_room()).  Returns NULL if there is no room or memory. */
static struct arp_entry *arp_create(struct rn_iface *ifp, uint32_t ip)
{
    struct rn_stack *st = ifp->if_stack;
    struct net_stack *ns = net_st(st);
    struct arp_entry *e;
    unsigned b;

    if (!arp_room(st))
        return NULL;
    e = rn_ob_create(rn__net_types.nt_arp, rn__net_types.nt_tag_arp_table);
    if (e == NULL)
        return NULL;
    rn_ob_ref(ifp, rn__net_types.nt_tag_neighbour);
    e->ae_iface = ifp;
    e->ae_ip = ip;
    atomic_store_explicit(&e->ae_state, ARP_INCOMPLETE, memory_order_relaxed);
    rn_nbq_init(&e->ae_queue);
    rn_timer_init(&e->ae_timer, arp_timer);
    b = arp_bucket(ip);
    e->ae_next = ns->ns_arp[b];
    ns->ns_arp[b] = e;
    ns->ns_narp++;
    e->ae_iprev = ns->ns_arp_inc_newest;
    if (e->ae_iprev != NULL)
        e->ae_iprev->ae_inext = e;
    else
        ns->ns_arp_inc_oldest = e;
    ns->ns_arp_inc_newest = e;
    ns->ns_arp_nincomplete++;
    rn_ob_publish(e);
    return e;
}

/* True if one more resolution may start now: a token bucket. */
static bool arp_new_allowed(struct rn_stack *st)
{
    struct net_stack *ns = net_st(st);
    rn_time_t elapsed = st->st_now - ns->ns_arp_new_second;
    uint64_t add = ns->ns_arp_new_second == 0 ? ARP_NEW_BURST
                                              : elapsed * ARP_NEW_PER_SEC / RN_SEC(1);

    if (add > 0) {
        ns->ns_arp_new_tokens = ns->ns_arp_new_tokens + add >= ARP_NEW_BURST
                                    ? ARP_NEW_BURST
                                    : ns->ns_arp_new_tokens + (uint32_t)add;
        ns->ns_arp_new_second = ns->ns_arp_new_tokens == ARP_NEW_BURST || ns->ns_arp_new_second == 0
                                    ? st->st_now
                                    : ns->ns_arp_new_second + add * RN_SEC(1) / ARP_NEW_PER_SEC;
    }
    if (ns->ns_arp_new_tokens == 0) {
        ns->ns_arp_ratelimited++;
        return false;
    }
    ns->ns_arp_new_tokens--;
    return true;
}

/* Records mac for e and sends what was waiting for it. */
static void arp_resolved(struct arp_entry *e, const struct rn_mac *mac)
{
    struct rn_stack *st = e->ae_iface->if_stack;
    struct rn_netbuf *nb;

    inc_unlink(net_st(st), e);
    atomic_store_explicit(&e->ae_mac, mac_pack(mac), memory_order_relaxed);
    atomic_store_explicit(&e->ae_state, ARP_REACHABLE, memory_order_relaxed);
    e->ae_tries = 0;
    e->ae_used = false;
    e->ae_expires = st->st_now + net_st(st)->ns_params.sp_arp_ttl;
    rn_timer_arm(&st->st_timers, &e->ae_timer, e->ae_expires);
    while ((nb = rn_nbq_get(&e->ae_queue)) != NULL)
        rn__net_eth_output(e->ae_iface, nb, mac, RN_ETHERTYPE_IPV4);
}

void rn__net_arp_output(struct rn_iface *ifp, struct rn_netbuf *nb, uint32_t nexthop)
{
    struct rn_stack *st = ifp->if_stack;
    struct arp_entry *e;

    if (rn__net_ip_is_bcast(ifp, nexthop)) {
        const struct rn_mac bcast = RN_MAC_BROADCAST;

        rn__net_eth_output(ifp, nb, &bcast, RN_ETHERTYPE_IPV4);
        return;
    }
    e = arp_lookup(st, ifp, nexthop);
    if (e != NULL && atomic_load_explicit(&e->ae_state, memory_order_relaxed) != ARP_INCOMPLETE) {
        struct rn_mac mac = mac_unpack(atomic_load_explicit(&e->ae_mac, memory_order_relaxed));

        e->ae_used = true;
        rn__net_eth_output(ifp, nb, &mac, RN_ETHERTYPE_IPV4);
        return;
    }
    if (e == NULL) {
        e = arp_new_allowed(st) ? arp_create(ifp, nexthop) : NULL;
        if (e == NULL) {
            rn__net_drop(st, ifp, nb, RN_DROP_ARP_UNRESOLVED);
            return;
        }
        arp_request(e);
        rn_timer_arm(&st->st_timers, &e->ae_timer, st->st_now + net_st(st)->ns_params.sp_arp_retry);
    }
    if (e->ae_queue.nq_len >= net_st(st)->ns_params.sp_arp_queue_max) {
        rn__net_drop(st, ifp, nb, RN_DROP_QUEUE_FULL);
        return;
    }
    if ((nb = rn__net_hold(st, ifp, nb)) == NULL)
        return;
    rn_nb_set_owner(nb, rn__net_types.nt_own_arpq);
    rn_nbq_put(&e->ae_queue, nb);
}

void rn__net_arp_input(struct rn_iface *ifp, struct rn_netbuf *nb)
{
    struct rn_stack *st = ifp->if_stack;
    uint8_t scratch[RN_ARP_LEN];
    const uint8_t *p;
    struct rn_arp ar;
    struct arp_entry *e;
    enum rn_drop reason;
    bool for_us, copy;

    p = rn_nb_header(nb, 0, RN_ARP_LEN, scratch);
    if (p == NULL) {
        rn__net_drop(st, ifp, nb, RN_DROP_TRUNCATED);
        return;
    }
    reason = rn__arp_parse(p, nb->nb_pktlen, &ar);
    if (reason != RN_DROP_NONE) {
        rn__net_drop(st, ifp, nb, reason);
        return;
    }
    copy = (nb->nb_offload & RN_NB_OFF_RSS_COPY) != 0;
    rn_nb_free(nb);
    RN__RX_COUNT(st, net_st(st)->ns_arp_in++);
    for_us = ifp->if_addr != 0 && ar.ar_tpa == ifp->if_addr;
    /* RFC 826's merge: refresh what we already know of the sender... */
    if (ar.ar_spa != 0 && ar.ar_spa != ifp->if_addr) {
        e = arp_lookup(st, ifp, ar.ar_spa);
        if (e != NULL)
            arp_resolved(e, &ar.ar_sha);
        else if (for_us && net_st(st)->ns_narp < net_st(st)->ns_params.sp_arp_max_entries &&
                 (e = arp_create(ifp, ar.ar_spa)) != NULL)
            arp_resolved(e, &ar.ar_sha);  /* ...and learn a host that asks for us,
                                             while there is room */
    }
    if (for_us && ar.ar_op == RN_ARP_OP_REQUEST && !copy)  /* queue 0 answers a copy's */
        arp_send(ifp, RN_ARP_OP_REPLY, &ar.ar_sha, &ar.ar_sha, ar.ar_spa);
}

void rn__net_arp_announce(struct rn_iface *ifp)
{
    const struct rn_mac zero = RN_MAC_ZERO;
    const struct rn_mac bcast = RN_MAC_BROADCAST;

    /* A gratuitous request: sender and target are both our address. */
    arp_send(ifp, RN_ARP_OP_REQUEST, &bcast, &zero, ifp->if_addr);
}

void rn__net_arp_flush_iface(struct rn_iface *ifp)
{
    struct rn_stack *st = ifp->if_stack;
    struct arp_entry *e, *next;
    unsigned b;

    for (b = 0; b < NET_ARP_BUCKETS; b++) {
        for (e = net_st(st)->ns_arp[b]; e != NULL; e = next) {
            next = e->ae_next;
            if (e->ae_iface == ifp)
                arp_remove(st, e, false);
        }
    }
}

void rn__net_arp_flush(struct rn_stack *st)
{
    unsigned b;

    for (b = 0; b < NET_ARP_BUCKETS; b++) {
        while (net_st(st)->ns_arp[b] != NULL)
            arp_remove(st, net_st(st)->ns_arp[b], false);
    }
}

void rn_stack_neighbours(struct rn_stack *st, rn_neigh_row_fn fn, void *ctx)
{
    struct net_stack *ns = net_st(st);
    const struct arp_entry *e;
    unsigned b;

    for (b = 0; b < NET_ARP_BUCKETS; b++) {
        for (e = ns->ns_arp[b]; e != NULL; e = e->ae_next) {
            enum arp_state s =
                (enum arp_state)atomic_load_explicit(&e->ae_state, memory_order_relaxed);
            struct rn_neigh_row row = {
                .nr_addr = e->ae_ip,
                .nr_iface = e->ae_iface->if_name,
                .nr_state = (enum rn_neigh_state)s,
                .nr_queued = e->ae_queue.nq_len,
                .nr_id = rn_ob_id(e),
                .nr_refs = rn_ob_refcount(e),
                .nr_family = 4,
            };

            if (s != ARP_INCOMPLETE)
                row.nr_mac = mac_unpack(atomic_load_explicit(&e->ae_mac, memory_order_relaxed));
            if (s == ARP_REACHABLE && e->ae_expires > st->st_now)
                row.nr_expires_in = e->ae_expires - st->st_now;
            fn(&row, ctx);
        }
    }
    rn__net_nd_rows(st, fn, ctx);
}
