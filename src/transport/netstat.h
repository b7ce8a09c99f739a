/*
 * The row of one transport object, for the batched walk of the object
 * registry (src/socket/netstat_walk.c).  The rows themselves and the
 * transports' one-pass listings are public (refnet/transport.h).
 *
 * Thread safety: [L] the stack's loop thread.
 */
#ifndef REFNET_TRANSPORT_NETSTAT_H
#define REFNET_TRANSPORT_NETSTAT_H

#include <stdbool.h>
#include <stdint.h>

#include "refnet/tcp.h"
#include "refnet/transport.h"

struct rn_stack;

/* [L] The row of one object, for an enumeration of the object registry
 * (src/socket/netstat_walk.c) rather than of the transports' tables: fills
 * *row (its nr_ob is ob) and returns true if ob is a TCP listener,
 * connection or TIME_WAIT entry of st (rn__tcp_netstat_row()), or a bound,
 * open UDP endpoint of st (rn__udp_netstat_row()); false otherwise.  The
 * caller holds a reference on ob.  A listener's state is CLOSED once it
 * was closed, which the registry's enumeration skips anyway (dying). */
bool rn__tcp_netstat_row(struct rn_stack *st, const void *ob, struct rn_netstat_row *row);
bool rn__udp_netstat_row(struct rn_stack *st, const void *ob, struct rn_netstat_row *row);

/* [L] If ob is a TCP connection of st, fills *out with what it knows
 * about itself (refnet/tcp.h) and returns true; false otherwise. */
bool rn__tcp_netstat_info(struct rn_stack *st, const void *ob, struct rn_tcp_info *out);

#endif /* REFNET_TRANSPORT_NETSTAT_H */
