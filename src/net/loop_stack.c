/*
 * The loop driving a stack: binds the loop's target functions (loop.h) to
 * the stack's host interface (stack.h).  Kept apart from loop.c so that the
 * loop itself builds and is tested without a stack.
 */
#include <assert.h>

#include "refnet/loop.h"
#include "refnet/stack.h"

static void ls_poll(void *ctx, rn_time_t now)
{
    rn_stack_poll(ctx, now);
}

static void ls_poll_ready(void *ctx, rn_time_t now, const int *ready, size_t nready)
{
    rn_stack_poll_ready(ctx, now, ready, nready);
}

static rn_time_t ls_next_deadline(void *ctx)
{
    return rn_stack_next_deadline(ctx);
}

static bool ls_has_work(void *ctx)
{
    return rn_stack_has_work(ctx);
}

static size_t ls_fds(void *ctx, int *fds, size_t max)
{
    return rn_stack_fds(ctx, fds, max);
}

static void ls_set_wake(void *ctx, void (*wake)(void *wctx), void *wctx)
{
    rn_stack_set_wake(ctx, wake, wctx);
}

int rn_loop_create(struct rn_stack *st, struct rn_loop **out)
{
    const struct rn_loop_target target = {
        .lt_ctx = st,
        .lt_poll = ls_poll,
        .lt_next_deadline = ls_next_deadline,
        .lt_has_work = ls_has_work,
        .lt_fds = ls_fds,
        .lt_set_wake = ls_set_wake,
        .lt_poll_ready = ls_poll_ready,
    };

    assert(st != NULL);
    return rn_loop_create_driven(&target, out);
}
