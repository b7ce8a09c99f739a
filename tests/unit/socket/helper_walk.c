/*
 * The socket tests' host of a batched netstat walk (helper_walk.h).
 */
#include "helper_walk.h"

void host_yield(struct rn_netstat_walk *w, void *ctx)
{
    (void)w;
    ((struct host *)ctx)->h_yielded = true;
}

void host_done(struct rn_netstat_walk *w, void *ctx)
{
    (void)w;
    ((struct host *)ctx)->h_done = true;
}
