/*
 * The link interface (see include/refnet/link.h): the wrappers the network
 * layer calls, counters, reports, and helpers every driver and filter shares.
 *
 * The wrappers only check the contract and dispatch; each link counts its
 * own frames, because only it knows which ones it really sent or dropped.
 */
#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "link/link_priv.h"
#include "refnet/error.h"
#include "refnet/strbuf.h"

/* ---- Owners and helpers ------------------------------------------------- */

static pthread_once_t owners_once = PTHREAD_ONCE_INIT;
static struct rn__link_owners owners;
static bool owners_ok;

static void owners_register(void)
{
    owners.lo_tap_rx = rn_nb_owner_register("link.tap.rx");
    owners.lo_loop_queue = rn_nb_owner_register("link.loop.queue");
    owners.lo_loop_rx = rn_nb_owner_register("link.loop.rx");
    owners.lo_sim_wire = rn_nb_owner_register("link.sim.wire");
    owners.lo_sim_rx = rn_nb_owner_register("link.sim.rx");
    owners.lo_pcap_rx = rn_nb_owner_register("link.pcap.rx");
    owners.lo_fault_hold = rn_nb_owner_register("link.fault.hold");
    owners.lo_fanout_rx = rn_nb_owner_register("link.fanout.rx");
    owners_ok = owners.lo_tap_rx && owners.lo_loop_queue && owners.lo_loop_rx &&
                owners.lo_sim_wire && owners.lo_sim_rx && owners.lo_pcap_rx &&
                owners.lo_fault_hold && owners.lo_fanout_rx;
}

const struct rn__link_owners *rn__link_owners(void)
{
    pthread_once(&owners_once, owners_register);
    return owners_ok ? &owners : NULL;
}

int rn__link_err(char *errbuf, int err, const char *fmt, ...)
{
    va_list ap;

    if (errbuf) {
        va_start(ap, fmt);
        vsnprintf(errbuf, RN_LINK_ERRLEN, fmt, ap);
        va_end(ap);
    }
    return err;
}

static _Atomic unsigned link_seq;

unsigned rn__link_next_seq(void)
{
    return atomic_fetch_add_explicit(&link_seq, 1, memory_order_relaxed) + 1;
}

/* ---- Using a link ------------------------------------------------------- */

void rn_link_init(struct rn_link *link, const struct rn_link_ops *ops, struct rn_link *lower,
                  const char *name)
{
    assert(ops && ops->kind && ops->tx && ops->rx && ops->close);
    memset(link, 0, sizeof(*link));
    link->lk_ops = ops;
    link->lk_lower = lower;
    snprintf(link->lk_name, sizeof(link->lk_name), "%s", name ? name : ops->kind);
}

int rn_link_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t now)
{
#ifndef NDEBUG
    unsigned i;

    for (i = 0; i < n; i++)
        assert(pkts[i] != NULL && pkts[i]->nb_nextpkt == NULL && rn_nb_check(pkts[i]));
#endif
    if (n == 0)
        return 0;
    return link->lk_ops->tx(link, pkts, n, now);
}

int rn_link_tx1(struct rn_link *link, struct rn_netbuf *nb, rn_time_t now)
{
    return rn_link_tx(link, &nb, 1, now);
}

int rn_link_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t now)
{
    int n = link->lk_ops->rx(link, pkts, max, now);

    assert(n <= (int)max);
    return n;
}

/* An op a link leaves NULL: a filter passes its lower link's answer. */
int rn_link_poll_fd(struct rn_link *link)
{
    if (link->lk_ops->poll_fd != NULL)
        return link->lk_ops->poll_fd(link);
    return link->lk_lower != NULL ? rn_link_poll_fd(link->lk_lower) : -1;
}

rn_time_t rn_link_next_deadline(struct rn_link *link)
{
    if (link->lk_ops->next_deadline != NULL)
        return link->lk_ops->next_deadline(link);
    return link->lk_lower != NULL ? rn_link_next_deadline(link->lk_lower)
                                  : RN_LINK_NO_DEADLINE;
}

void rn_link_caps(struct rn_link *link, struct rn_link_caps *caps)
{
    if (link->lk_ops->caps == NULL && link->lk_lower != NULL) {
        rn_link_caps(link->lk_lower, caps);
    } else {
        memset(caps, 0, sizeof(*caps));
        if (link->lk_ops->caps != NULL)
            link->lk_ops->caps(link, caps);
    }
    if (link->lk_lower != NULL && !link->lk_ops->tx_keeps_none)
        caps->lc_offloads &= ~RN_LINK_OFF_TX_REF;
}

void rn_link_close(struct rn_link *link)
{
    if (link)
        link->lk_ops->close(link);
}

void rn_link_stats(const struct rn_link *link, struct rn_link_stats *out)
{
    *out = link->lk_stats;
}

void rn_link_values(struct rn_link *link, rn_value_fn fn, void *ctx)
{
    if (link->lk_ops->values != NULL)
        link->lk_ops->values(link, fn, ctx);
}

const char *rn_link_kind(const struct rn_link *link)
{
    return link->lk_ops->kind;
}

const char *rn_link_name(const struct rn_link *link)
{
    return link->lk_name;
}

struct rn_link *rn_link_lower(const struct rn_link *link)
{
    return link->lk_lower;
}

struct rn_link *rn_link_find(struct rn_link *link, const char *kind)
{
    for (; link; link = link->lk_lower) {
        if (strcmp(link->lk_ops->kind, kind) == 0)
            return link;
    }
    return NULL;
}
