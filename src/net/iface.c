/*
 * Interfaces: an object per attached link, with its addresses, counters
 * and transmit queue (stack.h, "Interfaces and routes").
 *
 * The stack's interface table holds each interface under tag "stack";
 * routes hold it under "route" and ARP entries under "neighbour".  Frames
 * to send are queued on the interface during a poll and handed to the link
 * in batches at its end, so one poll costs one link call per batch, not
 * per frame.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "refnet/strbuf.h"

static void iface_describe(const void *ob, char *buf, size_t len)
{
    const struct rn_iface *ifp = ob;
    char addr[RN_IP4_STRLEN], mac[RN_MAC_STRLEN];

    if (ifp->if_name[0] == '\0')
        return;
    rn_ip4_addr_fmt(ifp->if_addr, addr);
    rn_mac_fmt(&ifp->if_mac, mac);
    snprintf(buf, len, "interface %s %s/%u mac %s mtu %u", ifp->if_name, addr, ifp->if_plen,
             mac, ifp->if_mtu);
}

const struct rn_ob_type_ops rn__net_iface_ops = {
    .name = "interface",
    .size = sizeof(struct rn_iface),
    /* No release routine: the loop closes the link and empties the queue
     * before the kill (rn__net_iface_destroy), since the last reference may
     * be dropped on another thread. */
    .describe = iface_describe,
};

/* A locally administered unicast MAC from the seed and the name. */
static void derive_mac(const struct rn_stack *st, const char *name, struct rn_mac *mac)
{
    uint64_t h = rn_stack_seed(st) ^ 0xcbf29ce484222325ull;
    const char *p;

    for (p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    h ^= h >> 29;
    mac->mac_octet[0] = 0x02;  /* locally administered, unicast */
    mac->mac_octet[1] = (uint8_t)(h >> 32);
    mac->mac_octet[2] = (uint8_t)(h >> 24);
    mac->mac_octet[3] = (uint8_t)(h >> 16);
    mac->mac_octet[4] = (uint8_t)(h >> 8);
    mac->mac_octet[5] = (uint8_t)h;
}

int rn__net_iface_create(struct rn_stack *st, const struct rn_iface_params *p, struct rn_iface **out)
{
    struct rn_link_caps caps;
    struct rn_iface *ifp;
    static const uint8_t zero[6];

    if (p->ifp_link == NULL)
        return RN_EINVAL;
    if (p->ifp_name == NULL || p->ifp_name[0] == '\0' || strlen(p->ifp_name) > 15 ||
        p->ifp_plen > 32 || net_st(st)->ns_nifaces >= NET_MAX_IFACES ||
        rn_stack_iface(st, p->ifp_name) != NULL) {
        rn_link_close(p->ifp_link);
        return net_st(st)->ns_nifaces >= NET_MAX_IFACES ? RN_ENOSPC
               : (p->ifp_name && rn_stack_iface(st, p->ifp_name)) ? RN_EEXIST
                                                                 : RN_EINVAL;
    }
    ifp = rn_ob_create(rn__net_types.nt_iface, RN_TAG_STACK);
    if (ifp == NULL) {
        rn_link_close(p->ifp_link);
        return RN_ENOMEM;
    }
    rn_link_caps(p->ifp_link, &caps);
    ifp->if_stack = st;
    ifp->if_link = p->ifp_link;
    snprintf(ifp->if_name, sizeof(ifp->if_name), "%s", p->ifp_name);
    if (memcmp(p->ifp_mac, zero, 6) != 0)
        memcpy(ifp->if_mac.mac_octet, p->ifp_mac, 6);
    else if (caps.lc_has_hwaddr)
        memcpy(ifp->if_mac.mac_octet, caps.lc_hwaddr, 6);
    else
        derive_mac(st, p->ifp_name, &ifp->if_mac);
    ifp->if_addr = p->ifp_addr;
    ifp->if_plen = p->ifp_plen;
    ifp->if_mtu = p->ifp_mtu ? p->ifp_mtu : caps.lc_mtu;
    ifp->if_offloads = caps.lc_offloads;
    if (ifp->if_mtu < RN_IP4_MIN_MTU)
        ifp->if_mtu = RN_ETH_MTU;
    /* Indexes are never reused while the stack lives: a removed
     * interface's frames still in flight are not taken for another's. */
    ifp->if_index = ++net_st(st)->ns_last_index;
    rn_nbq_init(&ifp->if_txq);
    rn_ob_publish(ifp);
    net_st(st)->ns_ifaces[net_st(st)->ns_nifaces++] = ifp;
    *out = ifp;
    return 0;
}

void rn__net_iface_destroy(struct rn_iface *ifp)
{
    rn_nbq_purge(&ifp->if_txq);
    if (ifp->if_link != NULL) {
        rn_link_close(ifp->if_link);
        ifp->if_link = NULL;
    }
    rn_ob_kill(ifp);
}

int rn_stack_add_iface(struct rn_stack *st, const struct rn_iface_params *params,
                       struct rn_iface **out)
{
    struct rn_iface *ifp;
    int err;

    err = rn__net_iface_create(st, params, &ifp);
    if (err < 0)
        return err;
    if (ifp->if_addr != 0 && ifp->if_plen < 32) {
        err = rn__net_route_add(st, rn_ip4_net(ifp->if_addr, ifp->if_plen), ifp->if_plen, 0, ifp);
        if (err < 0 && err != RN_EEXIST)
            return err;  /* the interface stays, without its route */
    }
    ifp->if_shadow = params->ifp_rss_shadow;
    if (ifp->if_addr != 0 && !params->ifp_no_garp && !ifp->if_shadow)
        rn__net_arp_announce(ifp);
    if (params->ifp_ipv6)
        rn__net_nd_iface_up(ifp);
    if (out != NULL)
        *out = ifp;
    return 0;
}

/* ---- Filters pushed and taken out at run time ---------------------------------- */

/* The chain changed: what it offers now.  Frames queued under the old
 * chain went down before the change (rn__net_iface_flush()), so none that
 * refers to a sender's memory reaches a filter that would keep it. */
static void filters_changed(struct rn_iface *ifp)
{
    struct rn_link_caps caps;

    rn_link_caps(ifp->if_link, &caps);
    ifp->if_offloads = caps.lc_offloads;
}

int rn_iface_filter_push(struct rn_iface *ifp, struct rn_link *filter)
{
    if (ifp->if_link == NULL || filter == NULL || filter->lk_lower != ifp->if_link)
        return RN_EINVAL;
    rn__net_iface_flush(ifp);
    ifp->if_link = filter;
    filters_changed(ifp);
    return 0;
}

int rn_iface_filter_remove(struct rn_iface *ifp, struct rn_link *filter)
{
    struct rn_link **pp = &ifp->if_link;

    while (*pp != NULL && *pp != filter)
        pp = &(*pp)->lk_lower;
    if (*pp == NULL || filter->lk_lower == NULL)
        return RN_ENOENT;
    rn__net_iface_flush(ifp);
    *pp = filter->lk_lower;
    filter->lk_lower = NULL;
    filters_changed(ifp);
    return 0;
}

/* ---- Removal ---------------------------------------------------------------- */

/* One interface's removal: its own wait and one per route it deleted,
 * counted down as each object is released; the last posts rm_work. */
struct iface_removal {
    struct iface_removal *rm_next;    /* [L] on ns_removals */
    struct rn_stack *rm_stack;        /* [I] */
    rn_iface_removed_fn rm_fn;        /* [I] */
    void *rm_ctx;                     /* [I] */
    uint64_t rm_id;                   /* [I] the interface's object id */
    atomic_uint rm_left;              /* [A] waits not yet fired */
    struct rn_work rm_work;           /* posted when the last fires */
    struct rn_ob_wait rm_wait;        /* "remove": the interface's release */
    unsigned rm_nroutes;              /* [I] */
    struct rn_ob_wait rm_routes[];    /* "route delete", one per route */
};

static void removal_unlink(struct iface_removal *rm)
{
    struct iface_removal **pp = &net_st(rm->rm_stack)->ns_removals;

    while (*pp != NULL && *pp != rm)
        pp = &(*pp)->rm_next;
    if (*pp != NULL)
        *pp = rm->rm_next;
}

static void removal_done(struct rn_stack *st, struct rn_work *w)
{
    struct iface_removal *rm =
        (struct iface_removal *)((char *)w - offsetof(struct iface_removal, rm_work));

    removal_unlink(rm);
    if (rm->rm_fn != NULL)
        rm->rm_fn(st, rm->rm_id, 0, rm->rm_ctx);
    free(rm);
}

/* On whichever thread released the object. */
static void removal_fired(struct rn_ob_wait *w, void *ctx)
{
    struct iface_removal *rm = ctx;

    (void)w;
    if (atomic_fetch_sub_explicit(&rm->rm_left, 1, memory_order_acq_rel) == 1)
        rn_stack_post(rm->rm_stack, &rm->rm_work, removal_done);
}

int rn_stack_remove_iface(struct rn_stack *st, struct rn_iface *ifp, rn_iface_removed_fn fn,
                          void *ctx, uint64_t *id)
{
    struct net_stack *ns = net_st(st);
    struct iface_removal *rm;
    unsigned i, j, n;

    for (i = 0; i < ns->ns_nifaces && ns->ns_ifaces[i] != ifp; i++)
        ;
    if (i == ns->ns_nifaces)
        return RN_ENOENT;
    n = rn__net_route_count_iface(ifp);
    rm = calloc(1, sizeof(*rm) + n * sizeof(rm->rm_routes[0]));
    if (rm == NULL)
        return RN_ENOMEM;
    rm->rm_stack = st;
    rm->rm_fn = fn;
    rm->rm_ctx = ctx;
    rm->rm_id = rn_ob_id(ifp);
    if (id != NULL)
        *id = rm->rm_id;
    /* Its queued frames go first: dropping its address's connections
     * below sends the stack's frames early, and this one's must not be
     * left referring to their rings (rn__net_tx_flush()). */
    rn__net_iface_flush(ifp);
    /* Out of the table: no poll, lookup or source address finds it. */
    for (j = i + 1; j < ns->ns_nifaces; j++)
        ns->ns_ifaces[j - 1] = ns->ns_ifaces[j];
    ns->ns_nifaces--;
    /* Every wait counts once; the sum only reaches zero once all are
     * registered, so none fires the completion early. */
    atomic_store_explicit(&rm->rm_left, 1u + n + 1u, memory_order_relaxed);
    rm->rm_nroutes = rn__net_route_flush_iface(ifp, rm->rm_routes, removal_fired, rm);
    atomic_fetch_sub_explicit(&rm->rm_left, n - rm->rm_nroutes, memory_order_relaxed);
    rn__net_arp_flush_iface(ifp);
    rn__net_nd_flush_iface(ifp);
    rn__net_reass_flush(st, ifp);
    rn__net_reass6_flush(st, ifp);
    rn__net_ip_addr_gone(st, ifp->if_addr);
    (void)rn_ob_wait_release(ifp, &rm->rm_wait, NULL, "remove", removal_fired, rm);
    rm->rm_next = ns->ns_removals;
    ns->ns_removals = rm;
    rn__net_iface_destroy(ifp);
    removal_fired(NULL, rm);  /* the registration's own count */
    return 0;
}

void rn__net_iface_removals_fini(struct rn_stack *st)
{
    struct iface_removal *rm, *next;
    unsigned i, cancelled;

    for (rm = net_st(st)->ns_removals; rm != NULL; rm = next) {
        next = rm->rm_next;
        cancelled = rn_ob_wait_cancel(&rm->rm_wait);
        for (i = 0; i < rm->rm_nroutes; i++)
            cancelled += rn_ob_wait_cancel(&rm->rm_routes[i]);
        /* What could not be cancelled fired: if the last, it posted the
         * completion, which runs before the stack goes. */
        if (cancelled == 0 ||
            atomic_fetch_sub_explicit(&rm->rm_left, cancelled, memory_order_acq_rel) != cancelled)
            continue;
        removal_unlink(rm);
        if (rm->rm_fn != NULL)
            rm->rm_fn(st, rm->rm_id, RN_ECANCELED, rm->rm_ctx);
        free(rm);
    }
}

struct rn_iface *rn_stack_iface(struct rn_stack *st, const char *name)
{
    unsigned i;

    for (i = 0; i < net_st(st)->ns_nifaces; i++) {
        if (!strcmp(net_st(st)->ns_ifaces[i]->if_name, name))
            return net_st(st)->ns_ifaces[i];
    }
    return NULL;
}

const char *rn_iface_name(const struct rn_iface *ifp)
{
    return ifp->if_name;
}

uint32_t rn_iface_addr(const struct rn_iface *ifp)
{
    return ifp->if_addr;
}

struct rn_link *rn_iface_link(struct rn_iface *ifp)
{
    return ifp->if_link;
}

void rn__net_iface_queue(struct rn_iface *ifp, struct rn_netbuf *nb)
{
    if (ifp->if_link == NULL) {
        rn__net_drop(ifp->if_stack, ifp, nb, RN_DROP_NO_ROUTE);
        return;
    }
    /* A link that keeps frames gets copies of a sender's memory. */
    if (!(ifp->if_offloads & RN_LINK_OFF_TX_REF) &&
        (nb = rn__net_hold(ifp->if_stack, ifp, nb)) == NULL)
        return;
    rn_nb_set_owner(nb, rn__net_types.nt_own_tx);
    rn_nbq_put(&ifp->if_txq, nb);
    /* Keep the queue short: a burst inside one poll goes out in batches. */
    if (ifp->if_txq.nq_len >= NET_TX_BATCH)
        rn__net_iface_flush(ifp);
}

struct rn_netbuf *rn__net_hold(struct rn_stack *st, struct rn_iface *ifp, struct rn_netbuf *nb)
{
    nb = rn_nb_unref(nb);
    if (nb == NULL)
        rn__stack_count_drop(st, ifp, RN_DROP_NO_BUFFER);
    return nb;
}

void rn__net_iface_flush(struct rn_iface *ifp)
{
    struct rn_netbuf *batch[NET_TX_BATCH];

    while (ifp->if_txq.nq_len > 0) {
        unsigned n = 0;

        while (n < NET_TX_BATCH && ifp->if_txq.nq_len > 0) {
            struct rn_netbuf *nb = rn_nbq_get(&ifp->if_txq);

            ifp->if_tx_frames++;
            ifp->if_tx_bytes += nb->nb_pktlen;
            batch[n++] = nb;
        }
        if (ifp->if_link != NULL)
            rn_link_tx(ifp->if_link, batch, n, ifp->if_stack->st_now);
        else
            while (n > 0)
                rn_nb_free(batch[--n]);
    }
}

void rn_stack_ifaces(struct rn_stack *st, rn_iface_row_fn fn, void *ctx)
{
    struct net_stack *ns = net_st(st);
    unsigned i, r;

    for (i = 0; i < ns->ns_nifaces; i++) {
        const struct rn_iface *ifp = ns->ns_ifaces[i];
        struct rn_iface_row row = {
            .ir_name = ifp->if_name,
            .ir_index = ifp->if_index,
            .ir_mac = ifp->if_mac,
            .ir_addr = ifp->if_addr,
            .ir_plen = ifp->if_plen,
            .ir_mtu = ifp->if_mtu,
            .ir_mtu6 = ifp->if_ipv6 ? ifp->if_mtu6 : 0,
            .ir_offloads = ifp->if_offloads,
            .ir_link = ifp->if_link,
            .ir_rx_frames = ifp->if_rx_frames,
            .ir_rx_bytes = ifp->if_rx_bytes,
            .ir_tx_frames = ifp->if_tx_frames,
            .ir_tx_bytes = ifp->if_tx_bytes,
            .ir_id = rn_ob_id(ifp),
            .ir_refs = rn_ob_refcount(ifp),
        };

        for (r = 1; r < RN_DROP_MAX_; r++)
            row.ir_drops += ifp->if_drops[r];
        fn(&row, ctx);
    }
}
