/*
 * The socket layer on a stack: its per-stack state (in a stack slot), its
 * set-up above the transports (rn_sock_layer_init()), which thread is the
 * stack's loop, and its teardown, which exits every process still running
 * and waits, within bounds, for their sockets to run down.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/once.h"
#include "refnet/error.h"
#include "refnet/report.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "socket/sock_priv.h"
#include "transport/tcp.h"

struct sock_types rn__sock_types;
static struct rn_once sock_once = RN_ONCE_INIT;
/* The stack slot the socket layer keeps its state in, taken once by
 * types_register(). */
static _Atomic int sock_slot = -1;

/* The address of this per-thread variable identifies the thread. */
static _Thread_local char thread_mark;

static bool types_register(void)
{
    int slot = rn_stack_slot_alloc();

    if (slot < 0)
        return false;
    atomic_store_explicit(&sock_slot, slot, memory_order_relaxed);
    rn__sock_proc_types_init();
    rn__sock_types_init();
    rn__sock_req_types_init();
    rn__rset_types_init();
    return rn__sock_types.st_proc != NULL && rn__sock_types.st_sock != NULL &&
           rn__sock_types.st_req != NULL && rn__sock_types.st_rset != NULL;
}

struct sock_layer *rn__sock_layer(struct rn_stack *st)
{
    int slot = atomic_load_explicit(&sock_slot, memory_order_relaxed);

    return slot < 0 ? NULL : rn_stack_slot(st, slot);
}

void rn__sock_mark_loop(struct sock_layer *sl)
{
    uintptr_t me = (uintptr_t)&thread_mark;

    if (atomic_load_explicit(&sl->sl_loop, memory_order_relaxed) != me)
        atomic_store_explicit(&sl->sl_loop, me, memory_order_relaxed);
}

bool rn__sock_on_loop(struct sock_layer *sl)
{
    return atomic_load_explicit(&sl->sl_loop, memory_order_relaxed) == (uintptr_t)&thread_mark;
}

/* ---- The layer on a stack ---------------------------------------------------------- */

static void layer_fini(struct rn_stack *st, void *ctx)
{
    struct sock_layer *sl = ctx;
    struct rn_ob_iter it;
    struct rn_proc *p;
    unsigned i;

    sl->sl_fini = true;
    rn__sock_mark_loop(sl);
    /* Exit every process still running on this stack. */
    rn_ob_iter_init(&it, rn__sock_types.st_proc, RN_TAG_ENUM);
    while ((p = rn_ob_iter_next(&it)) != NULL) {
        if (p->p_sl == sl)
            rn__sock_proc_exit_once(p);
    }
    rn_ob_iter_end(&it);
    /* The exits close every open socket abortively (sl_fini); closes that
     * began gracefully before the teardown are made abortive too, or
     * their connections would outlive the layer. */
    rn_stack_poll(st, rn_stack_now(st));
    rn_ob_iter_init(&it, rn__sock_types.st_proc, RN_TAG_ENUM);
    while ((p = rn_ob_iter_next(&it)) != NULL) {
        struct sock_closing *rec;

        if (p->p_sl != sl)
            continue;
        for (rec = p->p_closing; rec != NULL; rec = rec->sc_cnext)
            if (rec->sc_slot->hs_so != NULL)
                rn__sock_abort_closing(rec->sc_slot->hs_so);
    }
    rn_ob_iter_end(&it);
    /* Closes complete through posted work; run it until everything is
     * released, within bounds. */
    for (i = 0; i < 256; i++) {
        if (atomic_load(&sl->sl_nsockets) == 0 && atomic_load(&sl->sl_nprocs) == 0)
            break;
        rn_stack_poll(st, rn_stack_now(st));
    }
    rn_stack_set_slot(st, sock_slot, NULL);
    if (atomic_load(&sl->sl_nsockets) != 0 || atomic_load(&sl->sl_nprocs) != 0) {
        /* Something still holds them: report, and keep the layer's state,
         * which their release routines will touch. */
        rn_report(RN_REPORT_LEAK,
                  "refnet: stack %s torn down with %u sockets and %u processes still held\n",
                  rn_stack_name(st), atomic_load(&sl->sl_nsockets),
                  atomic_load(&sl->sl_nprocs));
        return;
    }
    rn__sock_rec_pool_fini(sl);
    free(sl);
}

/* The socket layer's set-up for a stack, after the transports'; its
 * teardown runs before theirs. */
static int sock_init(struct rn_stack *st)
{
    struct sock_layer *sl;
    int err;

    if (!rn_once(&sock_once, types_register))
        return RN_ENOMEM;
    if (rn__sock_layer(st) != NULL)
        return RN_EEXIST;
    sl = calloc(1, sizeof(*sl));
    if (sl == NULL)
        return RN_ENOMEM;
    sl->sl_stack = st;
    atomic_init(&sl->sl_max_handles, RN_PROC_MAX_HANDLES);
    err = rn_stack_on_destroy(st, layer_fini, sl);
    if (err < 0) {
        free(sl);
        return err;
    }
    rn_stack_set_slot(st, sock_slot, sl);
    return 0;
}

/* Everything below the socket API for a stack, bottom up: the transports
 * first, then this layer.  It lives here, above both, so that no layer
 * calls up into the one above it. */
int rn_sock_layer_init(struct rn_stack *st)
{
    int err;

    /* Each piece once: a host that set TCP up with its own parameters
     * first keeps them. */
    err = rn_udp_init(st);
    if (err < 0 && err != RN_EEXIST)
        return err;
    err = rn_tcp_init(st, NULL);
    if (err < 0 && err != RN_EEXIST)
        return err;
    err = sock_init(st);
    return err == RN_EEXIST ? 0 : err;
}

int rn_sock_set_max_handles(struct rn_stack *st, unsigned max)
{
    struct sock_layer *sl = rn__sock_layer(st);

    if (sl == NULL || max < RN_PROC_MAX_HANDLES_MIN || max > RN_PROC_MAX_HANDLES_MAX)
        return RN_EINVAL;
    atomic_store_explicit(&sl->sl_max_handles, max, memory_order_relaxed);
    return 0;
}

unsigned rn_sock_max_handles(struct rn_stack *st)
{
    struct sock_layer *sl = rn__sock_layer(st);

    return sl != NULL ? atomic_load_explicit(&sl->sl_max_handles, memory_order_relaxed)
                      : RN_PROC_MAX_HANDLES;
}
