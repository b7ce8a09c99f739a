/*
 * Epoch-based reclamation for the object registry.
 *
 * Enumerations, lookups and snapshots walk a type's live list from any
 * thread while other threads create and release objects.  A walker runs
 * inside an epoch section; a released object is unlinked, then retired, and
 * its memory is freed only once every section that might still see it has
 * ended.
 *
 * Why our own scheme rather than liburcu: every step here is a C11 atomic
 * that ThreadSanitizer understands, so the concurrency tests can prove the
 * registry free of races.  liburcu's grace periods rest on barriers and
 * membarrier calls TSan cannot see, which would leave exactly this code
 * unverified.  We also want released objects held back for a while, so that
 * a late ref finds them marked RELEASED and is reported instead of touching
 * freed memory; the retire list is that quarantine at no extra cost.
 *
 * The scheme: a global epoch E.  A thread entering a section publishes
 * (E << 1) | 1 in its own record; leaving, it publishes 0.  A retired object
 * is stamped with E.  E advances only when every active record shows the
 * current E, so when E has moved two steps past an object's stamp, no
 * section that began before the object was unlinked is still running.
 * Records are per thread, made on first use and recycled at thread exit.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "object/ob_priv.h"

/* Retired objects kept before reclaim is attempted: the quarantine in which
 * a ref after release is still detected. */
#define EBR_QUARANTINE 1024

struct ebr_record {
    _Atomic uint64_t er_state;          /* (epoch << 1) | active, or 0 */
    _Atomic bool er_in_use;             /* owned by a live thread */
    struct ebr_record *er_next;         /* [I] once published */
};

static _Atomic uint64_t ebr_epoch = 1;
static _Atomic(struct ebr_record *) ebr_records;   /* push-only list */
static pthread_mutex_t ebr_retire_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ob_header *ebr_retired_head;         /* oldest first */
static struct ob_header *ebr_retired_tail;
static size_t ebr_nretired;                        /* guarded by the lock */
static pthread_key_t ebr_key;
static pthread_once_t ebr_once = PTHREAD_ONCE_INIT;

static _Thread_local struct ebr_record *ebr_self;
static _Thread_local unsigned ebr_depth;

static void ebr_thread_exit(void *arg)
{
    struct ebr_record *r = arg;

    atomic_store_explicit(&r->er_state, 0, memory_order_release);
    atomic_store_explicit(&r->er_in_use, false, memory_order_release);
}

static void ebr_init(void)
{
    pthread_key_create(&ebr_key, ebr_thread_exit);
}

static struct ebr_record *ebr_record_get(void)
{
    struct ebr_record *r;

    if (ebr_self != NULL)
        return ebr_self;
    pthread_once(&ebr_once, ebr_init);
    /* Reuse the record of a thread that has exited. */
    for (r = atomic_load_explicit(&ebr_records, memory_order_acquire); r; r = r->er_next) {
        bool expected = false;

        if (atomic_compare_exchange_strong(&r->er_in_use, &expected, true))
            break;
    }
    if (r == NULL) {
        r = calloc(1, sizeof(*r));
        if (r == NULL)
            abort();  /* a few bytes per thread, once: nothing to fall back on */
        atomic_store_explicit(&r->er_in_use, true, memory_order_relaxed);
        r->er_next = atomic_load_explicit(&ebr_records, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(&ebr_records, &r->er_next, r,
                                                      memory_order_acq_rel,
                                                      memory_order_relaxed))
            ;
    }
    pthread_setspecific(ebr_key, r);
    ebr_self = r;
    return r;
}

void rn__ob_epoch_enter(void)
{
    struct ebr_record *r;
    uint64_t e;

    if (ebr_depth++ > 0)
        return;
    r = ebr_record_get();
    /* Publish an epoch that was current after the publication. */
    do {
        e = atomic_load_explicit(&ebr_epoch, memory_order_seq_cst);
        atomic_store_explicit(&r->er_state, (e << 1) | 1, memory_order_seq_cst);
    } while (atomic_load_explicit(&ebr_epoch, memory_order_seq_cst) != e);
}

void rn__ob_epoch_exit(void)
{
    assert(ebr_depth > 0);
    if (--ebr_depth > 0)
        return;
    atomic_store_explicit(&ebr_self->er_state, 0, memory_order_release);
}

/* Advances the epoch if every active section has seen the current one.
 * Returns the epoch now current. */
static uint64_t ebr_try_advance(void)
{
    uint64_t e = atomic_load_explicit(&ebr_epoch, memory_order_seq_cst);
    struct ebr_record *r;

    for (r = atomic_load_explicit(&ebr_records, memory_order_acquire); r; r = r->er_next) {
        uint64_t s = atomic_load_explicit(&r->er_state, memory_order_seq_cst);

        if ((s & 1) && (s >> 1) != e)
            return e;
    }
    if (atomic_compare_exchange_strong(&ebr_epoch, &e, e + 1))
        return e + 1;
    return e;  /* another thread advanced it; e holds the new value */
}

/* Frees retired objects whose stamp is two epochs old, keeping the newest
 * `keep` of them as quarantine.  Caller holds ebr_retire_lock. */
static void ebr_reclaim_locked(size_t keep)
{
    uint64_t e = ebr_try_advance();

    while (ebr_retired_head != NULL && ebr_nretired > keep) {
        struct ob_header *h = ebr_retired_head;

        if (h->h_retire_epoch + 2 > e) {
            e = ebr_try_advance();
            if (h->h_retire_epoch + 2 > e)
                break;
        }
        ebr_retired_head = h->h_retire_next;
        if (ebr_retired_head == NULL)
            ebr_retired_tail = NULL;
        ebr_nretired--;
        rn__ob_free(h);
    }
}

void rn__ob_retire(struct ob_header *h)
{
    h->h_retire_next = NULL;
    h->h_retire_epoch = atomic_load_explicit(&ebr_epoch, memory_order_seq_cst);
    pthread_mutex_lock(&ebr_retire_lock);
    if (ebr_retired_tail)
        ebr_retired_tail->h_retire_next = h;
    else
        ebr_retired_head = h;
    ebr_retired_tail = h;
    ebr_nretired++;
    if (ebr_nretired > EBR_QUARANTINE + EBR_QUARANTINE / 4)
        ebr_reclaim_locked(EBR_QUARANTINE);
    pthread_mutex_unlock(&ebr_retire_lock);
}

void rn__ob_reclaim_all(void)
{
    unsigned tries;

    assert(ebr_depth == 0);
    for (tries = 0; tries < 100000; tries++) {
        pthread_mutex_lock(&ebr_retire_lock);
        ebr_reclaim_locked(0);
        if (ebr_nretired == 0) {
            pthread_mutex_unlock(&ebr_retire_lock);
            return;
        }
        pthread_mutex_unlock(&ebr_retire_lock);
        sched_yield();
    }
    /* A section that never ends: leave the rest for a later call. */
}
