/*
 * Simulated cable: two link ends joined under virtual time.
 *
 * A driver at the bottom of the link layer (see include/refnet/link.h), used
 * by the simulator to wire stacks together in one process.  Each end is a
 * link; a frame sent on one end waits in the other end's inbound queue
 * until its due time, then that end's rx returns it.  Due times follow the
 * frame order (FIFO), so a cable never reorders; reordering, loss and the
 * like come from a fault filter stacked on an end.
 *
 * Due time of a frame of L bytes sent at now, with rate R bits/s:
 *   start = max(now, sender's transmitter free time)
 *   free  = start + ceil(8 L / R seconds)        (transmitter busy until then)
 *   due   = free + latency                       (R unlimited: now + latency)
 * and never earlier than the previous frame's due time.
 *
 * With offloads the cable is a virtio pair: frames cross untouched, so a
 * partial checksum and a TSO segment reach the other stack as they left,
 * as between a TAP and the kernel.  Without, no stack sends either.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/link_priv.h"
#include "refnet/error.h"
#include "refnet/strbuf.h"

#define CABLE_DEFAULT_LIMIT 1024u
#define CABLE_DEFAULT_MTU 1500u

struct cable_end {
    struct rn_link ce_link;           /* [L] common part; first */
    struct cable_end *ce_peer;        /* [L] the other end, NULL once it closed */
    struct rn_nbq ce_inbound;         /* [L] frames travelling to this end; due in nb_cb[0] */
    struct rn_nbpool *ce_pool;        /* [I] pool of this end's stack */
    rn_time_t ce_busy_until;          /* [L] when this end's transmitter is free */
    rn_time_t ce_last_due;            /* [L] due time of the last frame this end sent */
    rn_time_t ce_latency;             /* [I] one-way delay */
    uint64_t ce_rate_bps;             /* [I] 0: unlimited */
    uint32_t ce_limit;                /* [I] peer's ce_inbound.nq_len <= ce_limit */
    uint32_t ce_mtu;                  /* [I] reported MTU */
    bool ce_offloads;                 /* [I] checksum offload and TSO offered */
    uint8_t ce_hwaddr[RN_MAC_LEN];   /* [I] reported address */
    rn_nb_owner_t ce_own_wire;        /* [I] owner in flight */
    rn_nb_owner_t ce_own_rx;          /* [I] owner on arrival */
};

static struct cable_end *end_of(struct rn_link *link)
{
    return (struct cable_end *)link;
}

static int cable_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t now)
{
    struct cable_end *ce = end_of(link);
    struct cable_end *peer = ce->ce_peer;
    unsigned i;
    int sent = 0;

    for (i = 0; i < n; i++) {
        struct rn_netbuf *nb = pkts[i];
        rn_time_t due;

        if (peer == NULL || peer->ce_inbound.nq_len >= ce->ce_limit) {
            link->lk_stats.ls_tx_drops++;
            rn_nb_free(nb);
            continue;
        }
        /* The frame stays on the wire past this call: in buffers of its
         * own, not the sender's memory (RN_LINK_OFF_TX_REF below). */
        nb = rn_nb_unref(nb);
        if (nb == NULL) {
            link->lk_stats.ls_tx_drops++;
            continue;
        }
        if (ce->ce_rate_bps) {
            uint64_t bits = (uint64_t)nb->nb_pktlen * 8;
            rn_time_t start = now > ce->ce_busy_until ? now : ce->ce_busy_until;

            ce->ce_busy_until =
                start + (bits * RN_NSEC_PER_SEC + ce->ce_rate_bps - 1) / ce->ce_rate_bps;
            due = ce->ce_busy_until + ce->ce_latency;
        } else {
            due = now + ce->ce_latency;
        }
        if (due < ce->ce_last_due)
            due = ce->ce_last_due;
        ce->ce_last_due = due;
        rn__link_count_tx(link, nb);
        rn_nb_set_owner(nb, ce->ce_own_wire);
        nb->nb_cb[0] = due;
        rn_nbq_put(&peer->ce_inbound, nb);
        sent++;
    }
    return sent;
}

static int cable_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t now)
{
    struct cable_end *ce = end_of(link);
    unsigned n = 0;

    while (n < max) {
        struct rn_netbuf *nb = rn_nbq_peek(&ce->ce_inbound);

        if (nb == NULL || nb->nb_cb[0] > now)
            break;
        nb = rn_nbq_get(&ce->ce_inbound);
        if (nb->nb_pool != ce->ce_pool) {
            /* Into this stack's pool, so each pool counts only its own. */
            struct rn_netbuf *copy = rn_nb_copy_to(nb, ce->ce_pool, ce->ce_own_rx);

            rn_nb_free(nb);
            if (copy == NULL) {
                link->lk_stats.ls_rx_drops++;
                continue;
            }
            nb = copy;
        } else {
            rn_nb_set_owner(nb, ce->ce_own_rx);
        }
        nb->nb_cb[0] = 0;
        nb->nb_rxtime = now;
        rn__link_count_rx(link, nb);
        pkts[n++] = nb;
    }
    return (int)n;
}

static rn_time_t cable_next_deadline(struct rn_link *link)
{
    struct rn_netbuf *nb = rn_nbq_peek(&end_of(link)->ce_inbound);

    if (nb == NULL)
        return RN_LINK_NO_DEADLINE;
    /* A frame due at time 0 must not read as "no deadline". */
    return nb->nb_cb[0] ? nb->nb_cb[0] : 1;
}

static void cable_caps(struct rn_link *link, struct rn_link_caps *caps)
{
    struct cable_end *ce = end_of(link);

    caps->lc_mtu = ce->ce_mtu;
    memcpy(caps->lc_hwaddr, ce->ce_hwaddr, RN_MAC_LEN);
    caps->lc_has_hwaddr = true;
    caps->lc_offloads = RN_LINK_OFF_TX_REF;  /* cable_tx() copies what it keeps */
    if (ce->ce_offloads)
        caps->lc_offloads |=
            RN_LINK_OFF_TX_CSUM | RN_LINK_OFF_RX_CSUM | RN_LINK_OFF_TSO | RN_LINK_OFF_TSO6;
}

static void cable_values(struct rn_link *link, rn_value_fn fn, void *ctx)
{
    struct cable_end *ce = end_of(link);
    const struct rn_value v[] = {
        {"inbound", NULL, ce->ce_inbound.nq_len},
        {"peer", ce->ce_peer ? "connected" : "closed", 0},
    };

    fn(&v[0], ctx);
    fn(&v[1], ctx);
}

static void cable_close(struct rn_link *link)
{
    struct cable_end *ce = end_of(link);

    if (ce->ce_peer) {
        /* Frames this end sent that are still in flight are buffers of this
         * end's stack: they go with it. */
        rn_nbq_purge(&ce->ce_peer->ce_inbound);
        ce->ce_peer->ce_peer = NULL;
    }
    rn_nbq_purge(&ce->ce_inbound);
    free(ce);
}

static const struct rn_link_ops cable_ops = {
    .kind = "sim-cable",
    .tx = cable_tx,
    .rx = cable_rx,
    .poll_fd = NULL,
    .next_deadline = cable_next_deadline,
    .caps = cable_caps,
    .values = cable_values,
    .close = cable_close,
};

static bool mac_is_zero(const uint8_t *mac)
{
    static const uint8_t zero[RN_MAC_LEN];

    return memcmp(mac, zero, RN_MAC_LEN) == 0;
}

static void end_setup(struct cable_end *ce, const struct rn_sim_cable_params *p,
                      const struct rn__link_owners *own, const char *name, const uint8_t *mac,
                      unsigned seq, uint8_t which, struct rn_nbpool *pool)
{
    rn_link_init(&ce->ce_link, &cable_ops, NULL, name);
    rn_nbq_init(&ce->ce_inbound);
    ce->ce_pool = pool;
    ce->ce_latency = p->sc_latency;
    ce->ce_rate_bps = p->sc_rate_bps;
    ce->ce_limit = p->sc_limit ? p->sc_limit : CABLE_DEFAULT_LIMIT;
    ce->ce_mtu = p->sc_mtu ? p->sc_mtu : CABLE_DEFAULT_MTU;
    ce->ce_offloads = p->sc_offloads;
    ce->ce_own_wire = own->lo_sim_wire;
    ce->ce_own_rx = own->lo_sim_rx;
    if (mac_is_zero(mac)) {
        const uint8_t gen[RN_MAC_LEN] = {0x02, 0, 0, (uint8_t)(seq >> 8), (uint8_t)seq, which};

        memcpy(ce->ce_hwaddr, gen, RN_MAC_LEN);
    } else {
        memcpy(ce->ce_hwaddr, mac, RN_MAC_LEN);
    }
}

int rn_sim_cable_new(const struct rn_sim_cable_params *params, struct rn_link **end_a,
                     struct rn_link **end_b)
{
    const struct rn__link_owners *own = rn__link_owners();
    struct cable_end *a, *b;
    char name[32], full[40];
    unsigned seq;

    assert(params && end_a && end_b);
    if (params->sc_pool_a == NULL || params->sc_pool_b == NULL)
        return RN_EINVAL;
    if (own == NULL)
        return RN_ENOSPC;
    a = calloc(1, sizeof(*a));
    b = calloc(1, sizeof(*b));
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return RN_ENOMEM;
    }
    seq = rn__link_next_seq();
    if (params->sc_name)
        snprintf(name, sizeof(name), "%s", params->sc_name);
    else
        snprintf(name, sizeof(name), "cable%u", seq);
    snprintf(full, sizeof(full), "%s.a", name);
    end_setup(a, params, own, full, params->sc_hwaddr_a, seq, 1, params->sc_pool_a);
    snprintf(full, sizeof(full), "%s.b", name);
    end_setup(b, params, own, full, params->sc_hwaddr_b, seq, 2, params->sc_pool_b);
    a->ce_peer = b;
    b->ce_peer = a;
    *end_a = &a->ce_link;
    *end_b = &b->ce_link;
    return 0;
}
