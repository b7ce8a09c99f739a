/*
 * The socket tests' host of a batched netstat walk (netstat_walk.h): the
 * test resumes the walk itself, and these callbacks note what the walk
 * asked of its host.
 */
#ifndef REFNET_TEST_SOCKET_HELPER_WALK_H
#define REFNET_TEST_SOCKET_HELPER_WALK_H

#include <stdbool.h>

#include "refnet/netstat_walk.h"

/* What the walk asked of the test, its host.  np_ctx points to one. */
struct host {
    bool h_yielded;  /* np_yield ran: a resume is due */
    bool h_done;     /* np_done ran */
};

/* np_yield and np_done for a host of struct host: set its flags. */
void host_yield(struct rn_netstat_walk *w, void *ctx);
void host_done(struct rn_netstat_walk *w, void *ctx);

#endif
