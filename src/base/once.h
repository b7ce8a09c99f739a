/*
 * One-time initialisation that a failure does not poison.
 *
 * pthread_once() runs its routine once whatever happens in it: if the
 * routine registers object types and an allocation fails, every later
 * call finds the half-done state and fails too, for the life of the
 * process.  rn_once() runs init until it succeeds: a failed attempt is
 * retried by the next caller, so a transient shortage costs one request,
 * not the process.  init must therefore be safe to run again after a
 * partial failure (registrations of types, tags and owners are: each
 * returns what an earlier call registered).
 */
#ifndef REFNET_BASE_ONCE_H
#define REFNET_BASE_ONCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct rn_once {
    _Atomic bool o_done;      /* init succeeded; set once */
    pthread_mutex_t o_lock;   /* serialises attempts */
};

#define RN_ONCE_INIT {false, PTHREAD_MUTEX_INITIALIZER}

/* Out of line: an attempt. */
bool rn__once_slow(struct rn_once *o, bool (*init)(void));

/* Runs init unless an earlier call's init succeeded; returns whether init
 * has succeeded, now or before.  Once it has, this is one load. */
static inline bool rn_once(struct rn_once *o, bool (*init)(void))
{
    if (atomic_load_explicit(&o->o_done, memory_order_acquire))
        return true;
    return rn__once_slow(o, init);
}

#endif /* REFNET_BASE_ONCE_H */
