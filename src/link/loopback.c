/*
 * Loopback link: every frame transmitted comes back through rx, in order.
 *
 * A driver at the bottom of the link layer (see include/refnet/link.h).  The
 * bounded queue stands in for a device ring: beyond lp_limit frames, tx
 * drops.  There is no fd; next_deadline says "now" while frames wait.
 */
#include <assert.h>
#include <stdlib.h>

#include "link/link_priv.h"
#include "refnet/error.h"
#include "refnet/strbuf.h"

#define LOOP_DEFAULT_LIMIT 256u
#define LOOP_DEFAULT_MTU (65535u - RN_ETH_HLEN)

struct loop_link {
    struct rn_link ll_link;      /* [L] common part; first */
    struct rn_nbq ll_queue;      /* [L] frames sent and not yet received */
    uint32_t ll_limit;           /* [I] ll_queue.nq_len <= ll_limit */
    uint32_t ll_mtu;             /* [I] reported MTU */
    rn_nb_owner_t ll_own_queue;  /* [I] owner while queued */
    rn_nb_owner_t ll_own_rx;     /* [I] owner once received */
};

static struct loop_link *loop_of(struct rn_link *link)
{
    return (struct loop_link *)link;
}

static int loop_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t now)
{
    struct loop_link *ll = loop_of(link);
    unsigned i;
    int sent = 0;

    for (i = 0; i < n; i++) {
        struct rn_netbuf *nb = pkts[i];

        if (ll->ll_queue.nq_len >= ll->ll_limit) {
            link->lk_stats.ls_tx_drops++;
            rn_nb_free(nb);
            continue;
        }
        rn__link_count_tx(link, nb);
        rn_nb_set_owner(nb, ll->ll_own_queue);
        rn_nbq_put(&ll->ll_queue, nb);
        sent++;
    }
    return sent;
}

static int loop_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t now)
{
    struct loop_link *ll = loop_of(link);
    unsigned n = 0;

    while (n < max && ll->ll_queue.nq_len > 0) {
        struct rn_netbuf *nb = rn_nbq_get(&ll->ll_queue);

        rn_nb_set_owner(nb, ll->ll_own_rx);
        nb->nb_rxtime = now;
        rn__link_count_rx(link, nb);
        pkts[n++] = nb;
    }
    return (int)n;
}

static rn_time_t loop_next_deadline(struct rn_link *link)
{
    /* Any time at all is "due": frames are ready at once. */
    return loop_of(link)->ll_queue.nq_len > 0 ? 1 : RN_LINK_NO_DEADLINE;
}

static void loop_caps(struct rn_link *link, struct rn_link_caps *caps)
{
    caps->lc_mtu = loop_of(link)->ll_mtu;
    caps->lc_has_hwaddr = false;
}

static void loop_values(struct rn_link *link, rn_value_fn fn, void *ctx)
{
    struct loop_link *ll = loop_of(link);
    const struct rn_value v[] = {
        {"queued", NULL, ll->ll_queue.nq_len},
        {"queue_limit", NULL, ll->ll_limit},
    };

    fn(&v[0], ctx);
    fn(&v[1], ctx);
}

static void loop_close(struct rn_link *link)
{
    struct loop_link *ll = loop_of(link);

    rn_nbq_purge(&ll->ll_queue);
    free(ll);
}

static const struct rn_link_ops loop_ops = {
    .kind = "loopback",
    .tx = loop_tx,
    .rx = loop_rx,
    .poll_fd = NULL,
    .next_deadline = loop_next_deadline,
    .caps = loop_caps,
    .values = loop_values,
    .close = loop_close,
};

int rn_link_loop_open(const struct rn_link_loop_params *params, struct rn_link **out)
{
    const struct rn__link_owners *own = rn__link_owners();
    struct loop_link *ll;

    assert(out != NULL);
    if (own == NULL)
        return RN_ENOSPC;
    ll = calloc(1, sizeof(*ll));
    if (ll == NULL)
        return RN_ENOMEM;
    rn_link_init(&ll->ll_link, &loop_ops, NULL, "lo");
    rn_nbq_init(&ll->ll_queue);
    ll->ll_limit = params && params->lp_limit ? params->lp_limit : LOOP_DEFAULT_LIMIT;
    ll->ll_mtu = params && params->lp_mtu ? params->lp_mtu : LOOP_DEFAULT_MTU;
    ll->ll_own_queue = own->lo_loop_queue;
    ll->ll_own_rx = own->lo_loop_rx;
    *out = &ll->ll_link;
    return 0;
}
