/*
 * The socket tests' host of a batched netstat walk (netstat_walk.h): the
 * test resumes the walk itself, and these callbacks note what the walk
 * asked of its host and render its rows as `refnet netstat` does, text or
 * JSON.
 */
#ifndef REFNET_TEST_SOCKET_HELPER_WALK_H
#define REFNET_TEST_SOCKET_HELPER_WALK_H

#include <stdbool.h>

#include "refnet/netstat_walk.h"
#include "refnet/strbuf.h"

/* What the walk asked of the test, its host.  np_ctx points to one. */
struct host {
    bool h_yielded;          /* np_yield ran: a resume is due */
    bool h_done;             /* np_done ran */
    struct rn_strbuf *h_out; /* the rendered listing */
    bool h_json;             /* JSON rather than the table */
    bool h_refs;             /* the --refs columns */
    bool h_first;            /* no JSON row yet */
};

/* np_row: renders a row into h_out. */
void host_row(const struct rn_netstat_walk_row *row, void *ctx);
/* np_yield: sets h_yielded. */
void host_yield(struct rn_netstat_walk *w, void *ctx);
/* np_done: ends the listing in h_out and sets h_done. */
void host_done(struct rn_netstat_walk *w, void *ctx);

#endif
