/*
 * The rows of `refnet netstat`: every TCP listener, connection and
 * TIME_WAIT entry, and every bound UDP endpoint of a stack, one row each,
 * and their rendering as a table line or a JSON object.  Internal to
 * refnet: the transports enumerate (tcp.c, udp.c), the control command
 * (src/ctl/ctl_netstat.c) filters and renders.
 *
 * An enumeration runs on the loop thread in one pass, and the row it
 * hands out (with its object) is borrowed for the duration of the
 * callback only: the callback must not keep the object past its return.
 * That is the netstat of the case (DESIGN.md) done without an `enum`
 * reference at all; a batched enumeration across wakes would take one per
 * object it stands on, and must drop it.
 *
 * Thread safety: [L] the stack's loop thread.
 */
#ifndef REFNET_TRANSPORT_NETSTAT_H
#define REFNET_TRANSPORT_NETSTAT_H

#include <stdbool.h>
#include <stdint.h>

#include "refnet/clock.h"

struct rn_stack;
struct rn_strbuf;

struct rn_netstat_row {
    const char *nr_proto;   /* "tcp", "udp" */
    const char *nr_state;   /* TCP: "LISTEN", "ESTABLISHED", ..., "TIME_WAIT";
                               UDP: "UNCONN", or "ESTABLISHED" when connected */
    uint32_t nr_laddr;      /* local address, host order; 0 = any */
    uint16_t nr_lport;
    uint32_t nr_faddr;      /* remote address; 0 with nr_fport 0: none */
    uint16_t nr_fport;
    uint32_t nr_sendq;      /* TCP: bytes not yet acknowledged; listener:
                               connections waiting to be accepted; UDP: 0 */
    uint32_t nr_recvq;      /* TCP: bytes not yet read; listener: half-open
                               connections; UDP: buffer bytes queued */
    rn_time_t nr_since;     /* TCP connections: when it entered nr_state
                               (stack clock); 0 where not kept */
    bool nr_listening;      /* a listener or an unconnected UDP endpoint:
                               listed with -a only */
    const void *nr_ob;      /* the object of the row (listener, connection,
                               TIME_WAIT entry, endpoint), borrowed */
    unsigned nr_own_refs;   /* references the lister itself holds on nr_ob
                               (an enumeration's "enum"): not shown */
};

/* Called for each row; the row and its object are borrowed until it
 * returns. */
typedef void (*rn_netstat_fn)(const struct rn_netstat_row *row, void *ctx);

/* [L] TCP's rows: listeners, then connections, then TIME_WAIT entries
 * oldest first.  Nothing if TCP is not set up on st. */
void rn_tcp_netstat(struct rn_stack *st, rn_netstat_fn fn, void *ctx);

/* [L] UDP's rows: every bound endpoint.  Nothing if UDP is not set up. */
void rn_udp_netstat(struct rn_stack *st, rn_netstat_fn fn, void *ctx);

/* [L] The row of one object, for an enumeration of the object registry
 * (src/socket/netstat_walk.c) rather than of the transports' tables: fills
 * *row (its nr_ob is ob) and returns true if ob is a TCP listener,
 * connection or TIME_WAIT entry of st (rn_tcp_netstat_row()), or a bound,
 * open UDP endpoint of st (rn_udp_netstat_row()); false otherwise.  The
 * caller holds a reference on ob.  A listener's state is CLOSED once it
 * was closed, which the registry's enumeration skips anyway (dying). */
bool rn_tcp_netstat_row(struct rn_stack *st, const void *ob, struct rn_netstat_row *row);
bool rn_udp_netstat_row(struct rn_stack *st, const void *ob, struct rn_netstat_row *row);

/* [L] Appends UDP's rows as rn_tcp_render_netstat() appends TCP's. */
void rn_udp_render_netstat(struct rn_stack *st, struct rn_strbuf *sb, bool json, bool *first);

/* The header line of the table, without the Id column unless with_id. */
void rn_netstat_render_header(struct rn_strbuf *sb, bool with_id);

/* Appends one row: a table line (with the object id at the end if with_id),
 * or with json a JSON object {"proto", "local", "remote", "state",
 * "sendq", "recvq", "id", "refs"} preceded by a comma unless *first, which
 * it then clears. */
void rn_netstat_render_row(struct rn_strbuf *sb, const struct rn_netstat_row *row, bool json,
                           bool with_id, bool *first);

#endif /* REFNET_TRANSPORT_NETSTAT_H */
