/*
 * Internal helpers shared by the link drivers and filters in src/link.
 *
 * Holds the buffer owners the link layer counts its frames against and the
 * counter updates every driver does the same way.
 */
#ifndef REFNET_LINK_PRIV_H
#define REFNET_LINK_PRIV_H

#include "refnet/link.h"
#include "refnet/netbuf.h"

/* Buffer owners of the link layer, registered once per process. */
struct rn__link_owners {
    rn_nb_owner_t lo_tap_rx;      /* "link.tap.rx": read from the TAP, not yet taken */
    rn_nb_owner_t lo_loop_queue;  /* "link.loop.queue": waiting in a loopback */
    rn_nb_owner_t lo_loop_rx;     /* "link.loop.rx": returned by a loopback's rx */
    rn_nb_owner_t lo_sim_wire;    /* "link.sim.wire": in flight on a simulated cable */
    rn_nb_owner_t lo_sim_rx;      /* "link.sim.rx": arrived from a simulated cable */
    rn_nb_owner_t lo_pcap_rx;     /* "link.pcap.rx": read from a pcap file */
    rn_nb_owner_t lo_fault_hold;  /* "link.fault.hold": held by a fault filter */
    rn_nb_owner_t lo_fanout_rx;   /* "link.fanout.rx": a copy from queue 0, not yet taken */
};

/* Returns the link layer's owners, registering them on first use.  Returns
 * NULL if the owner table is full.  Any thread. */
const struct rn__link_owners *rn__link_owners(void);

static inline void rn__link_count_tx(struct rn_link *link, const struct rn_netbuf *nb)
{
    link->lk_stats.ls_tx_frames++;
    link->lk_stats.ls_tx_bytes += nb->nb_pktlen;
}

static inline void rn__link_count_rx(struct rn_link *link, const struct rn_netbuf *nb)
{
    link->lk_stats.ls_rx_frames++;
    link->lk_stats.ls_rx_bytes += nb->nb_pktlen;
}

/* Writes a one-line error "<fmt...>" into errbuf (RN_LINK_ERRLEN bytes) if
 * errbuf is not NULL.  Returns err, for `return rn__link_err(...)`. */
int rn__link_err(char *errbuf, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns a process-wide sequence number for default names and addresses:
 * 1, 2, 3 ... in creation order, so deterministic for a given program. */
unsigned rn__link_next_seq(void);

#endif /* REFNET_LINK_PRIV_H */
