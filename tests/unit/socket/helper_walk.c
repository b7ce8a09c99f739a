/*
 * The socket tests' host of a batched netstat walk (helper_walk.h).
 */
#include "ctl/render.h"
#include "helper_walk.h"

void host_row(const struct rn_netstat_walk_row *row, void *ctx)
{
    struct host *h = ctx;

    rn__render_netstat_row(h->h_out, row, h->h_refs, h->h_json, &h->h_first);
}

void host_yield(struct rn_netstat_walk *w, void *ctx)
{
    (void)w;
    ((struct host *)ctx)->h_yielded = true;
}

void host_done(struct rn_netstat_walk *w, void *ctx)
{
    struct host *h = ctx;

    (void)w;
    rn__render_netstat_end(h->h_out, h->h_json);
    h->h_done = true;
}
