/*
 * One-time initialisation that a failure does not poison (once.h).
 */
#include "base/once.h"

bool rn__once_slow(struct rn_once *o, bool (*init)(void))
{
    bool done;

    pthread_mutex_lock(&o->o_lock);
    done = atomic_load_explicit(&o->o_done, memory_order_relaxed);
    if (!done && init()) {
        done = true;
        atomic_store_explicit(&o->o_done, true, memory_order_release);
    }
    pthread_mutex_unlock(&o->o_lock);
    return done;
}
