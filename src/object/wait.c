/*
 * Release callbacks and the record of waits (object.h, "Release callbacks
 * and waits").
 *
 * A wait is both a callback ("call me when X is released") and a fact the
 * watchdog reads ("socket #7 has waited for tcp listener #3 since t").  All
 * waits sit on one process-wide list under one mutex: they are registered
 * per close or stop, not per packet, and the watchdog walks them all.
 */
#include <string.h>

#include "object/ob_priv.h"
#include "refnet/error.h"
#include "refnet/snapshot.h"

static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rn_ob_wait *wait_all;  /* [wait_lock] every armed wait */

/* Unlinks w from both lists.  [wait_lock] */
static void wait_unlink(struct ob_header *h, struct rn_ob_wait *w)
{
    if (w->w_prev)
        w->w_prev->w_next = w->w_next;
    else
        h->h_waits = w->w_next;
    if (w->w_next)
        w->w_next->w_prev = w->w_prev;
    if (w->w_gprev)
        w->w_gprev->w_gnext = w->w_gnext;
    else
        wait_all = w->w_gnext;
    if (w->w_gnext)
        w->w_gnext->w_gprev = w->w_gprev;
    w->w_next = w->w_prev = w->w_gnext = w->w_gprev = NULL;
    w->w_armed = false;
}

int rn_ob_wait_release(void *ob, struct rn_ob_wait *w, const void *waiter, const char *what,
                       rn_ob_release_fn fn, void *ctx)
{
    struct ob_header *h = ob_header(ob);

    pthread_mutex_lock(&wait_lock);
    if (w->w_armed) {
        pthread_mutex_unlock(&wait_lock);
        return RN_EBUSY;
    }
    if (atomic_load_explicit(&h->h_state, memory_order_acquire) == RN_OB_RELEASED) {
        pthread_mutex_unlock(&wait_lock);
        return RN_ERELEASED;
    }
    w->w_waited = ob;
    w->w_waited_id = h->h_id;
    w->w_waiter_id = waiter ? rn_ob_id(waiter) : 0;
    w->w_since = rn_clock_now();
    w->w_fn = fn;
    w->w_ctx = ctx;
    strncpy(w->w_what, what ? what : "release", sizeof(w->w_what) - 1);
    w->w_what[sizeof(w->w_what) - 1] = '\0';
    w->w_armed = true;
    w->w_prev = NULL;
    w->w_next = h->h_waits;
    if (w->w_next)
        w->w_next->w_prev = w;
    h->h_waits = w;
    w->w_gprev = NULL;
    w->w_gnext = wait_all;
    if (wait_all)
        wait_all->w_gprev = w;
    wait_all = w;
    pthread_mutex_unlock(&wait_lock);
    return 0;
}

bool rn_ob_wait_cancel(struct rn_ob_wait *w)
{
    bool cancelled = false;

    pthread_mutex_lock(&wait_lock);
    if (w->w_armed) {
        wait_unlink(ob_header(w->w_waited), w);
        cancelled = true;
    }
    pthread_mutex_unlock(&wait_lock);
    return cancelled;
}

struct ob_header *rn__ob_wait_target(struct rn_ob_wait *w)
{
    struct ob_header *h = NULL;

    pthread_mutex_lock(&wait_lock);
    if (w->w_armed)
        h = ob_header(w->w_waited);
    pthread_mutex_unlock(&wait_lock);
    return h;
}

void rn__ob_fire_waits(struct ob_header *h)
{
    struct rn_ob_wait *fired = NULL, *w, *next;

    pthread_mutex_lock(&wait_lock);
    while ((w = h->h_waits) != NULL) {
        wait_unlink(h, w);
        w->w_next = fired;  /* reuse the link for the local list */
        fired = w;
    }
    pthread_mutex_unlock(&wait_lock);
    /* Oldest registration first; a callback may free its own wait. */
    for (w = fired; w != NULL; w = next) {
        next = w->w_next;
        w->w_next = NULL;
        w->w_fn(w, w->w_ctx);
    }
}

int rn__ob_waits_capture(struct rn_snapshot *s)
{
    struct rn_ob_wait *w;
    int err = 0;

    pthread_mutex_lock(&wait_lock);
    for (w = wait_all; w != NULL; w = w->w_gnext) {
        struct rn_snap_wait *sw = rn_snapshot_add_wait(s);

        if (sw == NULL || (sw->sw_what = rn_snap_strdup(s, w->w_what)) == NULL) {
            err = RN_ENOMEM;
            break;
        }
        sw->sw_waiter = w->w_waiter_id;
        sw->sw_waited = w->w_waited_id;
        sw->sw_since = w->w_since;
    }
    pthread_mutex_unlock(&wait_lock);
    return err;
}
