/*
 * Packet buffers and their pools (see include/refnet/netbuf.h).
 *
 * Sits at the bottom of the data path: link drivers allocate received frames
 * here, every layer above pushes, pulls and queues them, and the pool counts
 * who holds how many.
 *
 * Memory layout: a pool grows in slabs.  A slab is one page block
 * (refnet/heap.h) of `count` slots; a slot is a struct rn_netbuf header
 * followed by its storage (headroom + data size), both rounded up to a
 * cache line.  Free buffers are a singly linked list through nb_next.  A
 * slab whose buffers are all free can go back whole (rn_nbpool_shrink()).
 * Under AddressSanitizer the storage of a free buffer is poisoned, so a
 * use after rn_nb_free() is caught.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refnet/error.h"
#include "refnet/heap.h"
#include "refnet/netbuf.h"
#include "refnet/report.h"
#include "wire/csum.h"
#include "refnet/strbuf.h"

#if defined(__SANITIZE_ADDRESS__)
#define NB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NB_ASAN 1
#endif
#endif

#ifdef NB_ASAN
#include <sanitizer/asan_interface.h>
#define NB_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define NB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define NB_POISON(p, n) ((void)(p), (void)(n))
#define NB_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define NB_ALIGN 64u
#define NB_ROUND(x) (((x) + NB_ALIGN - 1) & ~(size_t)(NB_ALIGN - 1))
#define NB_BUF_SIZE_MAX (1u << 20)

/* A buffer's own storage, right after its header in the slab. */
static inline uint8_t *nb_storage(const struct rn_netbuf *nb)
{
    return (uint8_t *)nb + NB_ROUND(sizeof(*nb));
}

/* ---- Owner registry ----------------------------------------------------- */

static pthread_mutex_t owner_lock = PTHREAD_MUTEX_INITIALIZER;
/* Names of registered owners; index 0 is RN_NB_OWNER_NONE.  Written under
 * owner_lock before owner_count is raised past them (release), and never
 * changed after, so readers below owner_count (acquire) need no lock. */
static char owner_names[RN_NB_OWNER_MAX][RN_NB_OWNER_NAME_MAX + 1] = {"none"};
static _Atomic unsigned owner_count = 1;  /* [A] registered owners, NONE included */

rn_nb_owner_t rn_nb_owner_register(const char *name)
{
    rn_nb_owner_t id = RN_NB_OWNER_NONE;
    size_t len;
    unsigned i, n;

    if (name == NULL)
        return RN_NB_OWNER_NONE;
    len = strlen(name);
    if (len == 0 || len > RN_NB_OWNER_NAME_MAX)
        return RN_NB_OWNER_NONE;
    pthread_mutex_lock(&owner_lock);
    n = atomic_load_explicit(&owner_count, memory_order_relaxed);
    for (i = 1; i < n; i++) {
        if (strcmp(owner_names[i], name) == 0) {
            id = (rn_nb_owner_t)i;
            goto out_unlock;
        }
    }
    if (n < RN_NB_OWNER_MAX) {
        memcpy(owner_names[n], name, len + 1);
        id = (rn_nb_owner_t)n;
        atomic_store_explicit(&owner_count, n + 1, memory_order_release);
    }
out_unlock:
    pthread_mutex_unlock(&owner_lock);
    return id;
}

const char *rn_nb_owner_name(rn_nb_owner_t owner)
{
    if (owner >= atomic_load_explicit(&owner_count, memory_order_acquire))
        return "?";
    return owner_names[owner];
}

__attribute__((unused)) static bool owner_valid(rn_nb_owner_t owner)
{
    return owner != RN_NB_OWNER_NONE &&
           owner < atomic_load_explicit(&owner_count, memory_order_acquire);
}

/* ---- Pools -------------------------------------------------------------- */

struct nb_slab {
    struct nb_slab *sl_next;  /* [L] next slab of the pool */
    uint32_t sl_count;        /* [I] slots in this slab */
};

struct rn_nbpool {
    char np_name[32];                   /* [I] for reports */
    uint32_t np_headroom;               /* [I] headroom of each buffer */
    uint32_t np_data_size;              /* [I] data bytes after the headroom */
    uint32_t np_cap;                    /* [I] np_cap == np_headroom + np_data_size */
    size_t np_slot;                     /* [I] bytes per slot, header + storage */
    uint32_t np_max;                    /* [I] most buffers ever allocated */
    uint32_t np_slab_bufs;              /* [I] slots per slab */
    uint32_t np_prealloc;               /* [I] buffers allocated at creation:
                                           rn_nbpool_shrink() keeps as many */
    uint32_t np_total;                  /* [L] buffers in slabs */
    uint32_t np_nfree;                  /* [L] buffers on np_free */
    uint32_t np_low;                    /* [L] fewest on np_free since the last
                                           rn_nbpool_shrink(): not needed */
    uint32_t np_outstanding;            /* [L] np_outstanding == np_total - np_nfree */
    uint32_t np_peak;                   /* [L] highest np_outstanding */
    struct rn_netbuf *np_free;          /* [L] free list through nb_next */
    struct rn_netbuf *np_free_tail;     /* [L] its last buffer, NULL if empty */
    /* Draining (rn_nbpool_shrink()): the pool is above the buffers it was
     * made with, and a buffer freed outside its first slab goes to the
     * tail of the free list, so that the first slab's are taken first and
     * the others' slabs empty and can go. */
    bool np_draining;                   /* [L] */
    uintptr_t np_keep_lo;               /* [I] the first slab's slots' address */
    size_t np_keep_len;                 /* [I] and their bytes */
    struct nb_slab *np_slabs;           /* [L] every slab, newest first */
    uint64_t np_allocs;                 /* [L] successful allocations */
    uint64_t np_frees;                  /* [L] buffers returned */
    uint64_t np_exhausted;              /* [L] allocations refused at np_max */
    uint64_t np_nomem;                  /* [L] allocations refused by malloc */
    uint32_t np_refs;                   /* [L] buffers referring to outside memory */
    uint64_t np_ref_copies;             /* [L] packets rn_nb_unref() copied */
    bool np_destroyed;                  /* [L] destroy ran; free when np_outstanding == 0 */
    /* [L] per owner: np_outstanding == sum of np_owner_out[i] */
    uint32_t np_owner_out[RN_NB_OWNER_MAX];
    uint64_t np_owner_fail[RN_NB_OWNER_MAX];  /* [L] refusals per owner */
};

static int pool_grow(struct rn_nbpool *pool, uint32_t want)
{
    struct nb_slab *slab;
    size_t hdr = NB_ROUND(sizeof(struct nb_slab));
    uint32_t count = want, i;
    uint8_t *base;

    if (count > pool->np_max - pool->np_total)
        count = pool->np_max - pool->np_total;
    if (count == 0)
        return RN_ENOSPC;
    /* A page block: a slab given back goes back to the system whole. */
    slab = rn_pgblock_get(hdr + (size_t)count * pool->np_slot);
    if (slab == NULL)
        return RN_ENOMEM;
    slab->sl_count = count;
    slab->sl_next = pool->np_slabs;
    pool->np_slabs = slab;
    base = (uint8_t *)slab + hdr;
    /* Push in reverse so that buffers are handed out in address order. */
    for (i = count; i-- > 0;) {
        struct rn_netbuf *nb = (struct rn_netbuf *)(base + (size_t)i * pool->np_slot);

        memset(nb, 0, sizeof(*nb));
        nb->nb_buf = nb_storage(nb);
        nb->nb_cap = pool->np_cap;
        nb->nb_pool = pool;
        nb->nb_next = pool->np_free;
        if (pool->np_free == NULL)
            pool->np_free_tail = nb;
        pool->np_free = nb;
        NB_POISON(nb->nb_buf, nb->nb_cap);
    }
    pool->np_total += count;
    pool->np_nfree += count;
    return 0;
}

static void pool_release_memory(struct rn_nbpool *pool)
{
    struct nb_slab *slab, *next;

    for (slab = pool->np_slabs; slab; slab = next) {
        size_t bytes = NB_ROUND(sizeof(*slab)) + (size_t)slab->sl_count * pool->np_slot;

        next = slab->sl_next;
        NB_UNPOISON(slab, bytes);
        rn_pgblock_put(slab, bytes);
    }
    free(pool);
}

int rn_nbpool_create(const struct rn_nbpool_params *params, struct rn_nbpool **out)
{
    struct rn_nbpool_params p = {0};
    struct rn_nbpool *pool;
    int err;

    assert(out != NULL);
    if (params)
        p = *params;
    if (p.np_name == NULL)
        p.np_name = "netbuf";
    if (p.np_data_size == 0)
        p.np_data_size = RN_NB_DEFAULT_DATA;
    if (p.np_headroom == 0)
        p.np_headroom = RN_NB_DEFAULT_HEADROOM;
    if (p.np_max == 0)
        p.np_max = RN_NB_DEFAULT_MAX;
    if (p.np_slab == 0)
        p.np_slab = RN_NB_DEFAULT_SLAB;
    if ((uint64_t)p.np_data_size + p.np_headroom > NB_BUF_SIZE_MAX || p.np_prealloc > p.np_max)
        return RN_EINVAL;

    pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return RN_ENOMEM;
    snprintf(pool->np_name, sizeof(pool->np_name), "%s", p.np_name);
    pool->np_headroom = p.np_headroom;
    pool->np_data_size = p.np_data_size;
    pool->np_cap = p.np_headroom + p.np_data_size;
    pool->np_slot = NB_ROUND(sizeof(struct rn_netbuf)) + NB_ROUND(pool->np_cap);
    pool->np_max = p.np_max;
    pool->np_slab_bufs = p.np_slab;
    pool->np_prealloc = p.np_prealloc;
    while (pool->np_total < p.np_prealloc) {
        err = pool_grow(pool, p.np_prealloc - pool->np_total);
        if (err) {
            pool_release_memory(pool);
            return err;
        }
    }
    if (pool->np_slabs != NULL) {
        pool->np_keep_lo = (uintptr_t)pool->np_slabs + NB_ROUND(sizeof(struct nb_slab));
        pool->np_keep_len = (size_t)pool->np_slabs->sl_count * pool->np_slot;
    }
    pool->np_low = pool->np_nfree;
    *out = pool;
    return 0;
}

int rn_nbpool_destroy(struct rn_nbpool *pool)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;
    unsigned i;

    if (pool == NULL)
        return 0;
    assert(!pool->np_destroyed);
    if (pool->np_outstanding == 0) {
        pool_release_memory(pool);
        return 0;
    }
    rn_strbuf_printf(&sb, "netbuf pool \"%s\" destroyed with %u buffer%s outstanding:\n",
                     pool->np_name, pool->np_outstanding, pool->np_outstanding == 1 ? "" : "s");
    for (i = 1; i < RN_NB_OWNER_MAX; i++) {
        if (pool->np_owner_out[i])
            rn_strbuf_printf(&sb, "  %-24s %u\n", rn_nb_owner_name((rn_nb_owner_t)i),
                             pool->np_owner_out[i]);
    }
    rn_report_text(RN_REPORT_LEAK, rn_strbuf_str(&sb));
    rn_strbuf_free(&sb);
    /* Freed by rn_nb_free() when the last outstanding buffer comes back. */
    pool->np_destroyed = true;
    return RN_EBUSY;
}

/* Where a slab's slots are, for rn_nbpool_shrink(). */
struct nb_span {
    uintptr_t sp_lo, sp_hi;   /* the slots' addresses: [sp_lo, sp_hi) */
    struct nb_slab *sp_slab;
    uint32_t sp_free;         /* its slots on the free list */
    bool sp_gone;             /* it goes back */
};

static int span_cmp(const void *a, const void *b)
{
    const struct nb_span *x = a, *y = b;

    return x->sp_lo < y->sp_lo ? -1 : x->sp_lo > y->sp_lo;
}

/* The span holding nb among n sorted ones. */
static struct nb_span *span_of(struct nb_span *spans, size_t n, const struct rn_netbuf *nb)
{
    uintptr_t a = (uintptr_t)nb;
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (a < spans[mid].sp_lo)
            hi = mid;
        else if (a >= spans[mid].sp_hi)
            lo = mid + 1;
        else
            return &spans[mid];
    }
    return NULL;
}

/* Whether nb is one of the pool's first slab's buffers. */
static inline bool in_first_slab(const struct rn_nbpool *pool, const struct rn_netbuf *nb)
{
    return (uintptr_t)nb - pool->np_keep_lo < pool->np_keep_len;
}

bool rn_nbpool_draining(const struct rn_nbpool *pool)
{
    return pool->np_draining;
}

bool rn_nb_unwanted(const struct rn_netbuf *nb)
{
    const struct rn_nbpool *pool = nb->nb_pool;

    return pool->np_draining && !in_first_slab(pool, nb);
}

/* Orders the free list for draining: the first slab's buffers first,
 * the rest after, each part in its order; sets the tail. */
static void free_list_order(struct rn_nbpool *pool)
{
    struct rn_netbuf *keep = NULL, **kt = &keep, *rest = NULL, **rt = &rest, *nb, *next;

    pool->np_free_tail = NULL;
    for (nb = pool->np_free; nb; nb = next) {
        next = nb->nb_next;
        nb->nb_next = NULL;
        if (in_first_slab(pool, nb)) {
            *kt = nb;
            kt = &nb->nb_next;
        } else {
            *rt = nb;
            rt = &nb->nb_next;
        }
        pool->np_free_tail = nb;
    }
    if (rest != NULL) {
        *kt = rest;
        pool->np_free_tail = (struct rn_netbuf *)((char *)rt - offsetof(struct rn_netbuf, nb_next));
    }
    pool->np_free = keep != NULL ? keep : rest;
}

size_t rn_nbpool_shrink(struct rn_nbpool *pool)
{
    size_t hdr = NB_ROUND(sizeof(struct nb_slab)), n = 0, i, freed = 0;
    struct nb_span *spans;
    struct nb_slab *slab, **link;
    struct rn_netbuf *nb, **tail;
    uint32_t total = pool->np_total, spare = pool->np_low;

    /* What the pool did not need since the last call may go. */
    pool->np_low = pool->np_nfree;
    pool->np_draining = pool->np_total > pool->np_prealloc;
    if (!pool->np_draining)
        return 0;
    if (spare < pool->np_slab_bufs) {
        free_list_order(pool);
        return 0;
    }
    for (slab = pool->np_slabs; slab; slab = slab->sl_next)
        n++;
    spans = calloc(n, sizeof(*spans));
    if (spans == NULL)
        return 0;
    for (i = 0, slab = pool->np_slabs; slab; slab = slab->sl_next, i++) {
        spans[i].sp_lo = (uintptr_t)slab + hdr;
        spans[i].sp_hi = spans[i].sp_lo + (size_t)slab->sl_count * pool->np_slot;
        spans[i].sp_slab = slab;
    }
    qsort(spans, n, sizeof(*spans), span_cmp);
    for (nb = pool->np_free; nb; nb = nb->nb_next)
        span_of(spans, n, nb)->sp_free++;
    /* Slabs wholly free go, newest first, but the first one, while the pool
     * keeps the buffers it was made with and gives back no more than it
     * did not need. */
    for (slab = pool->np_slabs; slab; slab = slab->sl_next) {
        struct nb_span *sp = span_of(spans, n, (struct rn_netbuf *)((uint8_t *)slab + hdr));

        if (sp->sp_lo != pool->np_keep_lo && sp->sp_free == slab->sl_count &&
            total - slab->sl_count >= pool->np_prealloc &&
            pool->np_total - total + slab->sl_count <= spare) {
            total -= slab->sl_count;
            sp->sp_gone = true;
        }
    }
    /* The free list without the buffers of the slabs that go. */
    tail = &pool->np_free;
    while ((nb = *tail) != NULL) {
        if (span_of(spans, n, nb)->sp_gone) {
            *tail = nb->nb_next;
            pool->np_nfree--;
        } else {
            tail = &nb->nb_next;
        }
    }
    link = &pool->np_slabs;
    while ((slab = *link) != NULL) {
        struct nb_span *sp = span_of(spans, n, (struct rn_netbuf *)((uint8_t *)slab + hdr));
        size_t bytes = hdr + (size_t)slab->sl_count * pool->np_slot;

        if (!sp->sp_gone) {
            link = &slab->sl_next;
            continue;
        }
        *link = slab->sl_next;
        pool->np_total -= slab->sl_count;
        NB_UNPOISON(slab, bytes);
        rn_pgblock_put(slab, bytes);
        freed += bytes;
    }
    free(spans);
    pool->np_low = pool->np_nfree;
    pool->np_draining = pool->np_total > pool->np_prealloc;
    free_list_order(pool);
    return freed;
}

uint32_t rn_nbpool_outstanding(const struct rn_nbpool *pool, rn_nb_owner_t owner)
{
    assert(owner < RN_NB_OWNER_MAX);
    return owner == RN_NB_OWNER_NONE ? pool->np_outstanding : pool->np_owner_out[owner];
}

uint64_t rn_nbpool_failures(const struct rn_nbpool *pool, rn_nb_owner_t owner)
{
    assert(owner < RN_NB_OWNER_MAX);
    return owner == RN_NB_OWNER_NONE ? pool->np_exhausted + pool->np_nomem
                                     : pool->np_owner_fail[owner];
}

void rn_nbpool_stats(const struct rn_nbpool *pool, struct rn_nbpool_stats *out)
{
    out->ps_total = pool->np_total;
    out->ps_free = pool->np_nfree;
    out->ps_outstanding = pool->np_outstanding;
    out->ps_peak = pool->np_peak;
    out->ps_max = pool->np_max;
    out->ps_buf_size = pool->np_cap;
    out->ps_allocs = pool->np_allocs;
    out->ps_frees = pool->np_frees;
    out->ps_exhausted = pool->np_exhausted;
    out->ps_nomem = pool->np_nomem;
    out->ps_refs = pool->np_refs;
    out->ps_ref_copies = pool->np_ref_copies;
}

void rn_nbpool_owners(const struct rn_nbpool *pool, rn_nbpool_owner_fn fn, void *ctx)
{
    unsigned i;

    for (i = 1; i < RN_NB_OWNER_MAX; i++) {
        struct rn_nbpool_owner_row row = {
            .po_owner = rn_nb_owner_name((rn_nb_owner_t)i),
            .po_outstanding = pool->np_owner_out[i],
            .po_refused = pool->np_owner_fail[i],
        };

        if (row.po_outstanding != 0 || row.po_refused != 0)
            fn(&row, ctx);
    }
}

const char *rn_nbpool_name(const struct rn_nbpool *pool)
{
    return pool->np_name;
}

uint32_t rn_nbpool_headroom(const struct rn_nbpool *pool)
{
    return pool->np_headroom;
}

uint32_t rn_nbpool_data_size(const struct rn_nbpool *pool)
{
    return pool->np_data_size;
}

/* ---- Allocating and freeing --------------------------------------------- */

struct rn_netbuf *rn_nb_alloc(struct rn_nbpool *pool, rn_nb_owner_t owner)
{
    struct rn_netbuf *nb;
    int err;

    assert(pool != NULL && !pool->np_destroyed);
    assert(owner_valid(owner));
    if (pool->np_free == NULL) {
        err = pool_grow(pool, pool->np_slab_bufs);
        if (err) {
            if (err == RN_ENOSPC)
                pool->np_exhausted++;
            else
                pool->np_nomem++;
            pool->np_owner_fail[owner]++;
            return NULL;
        }
    }
    nb = pool->np_free;
    pool->np_free = nb->nb_next;
    if (pool->np_free == NULL)
        pool->np_free_tail = NULL;
    if (--pool->np_nfree < pool->np_low)
        pool->np_low = pool->np_nfree;
    NB_UNPOISON(nb->nb_buf, nb->nb_cap);
    nb->nb_next = NULL;
    nb->nb_nextpkt = NULL;
    nb->nb_data = nb->nb_buf + pool->np_headroom;
    nb->nb_len = 0;
    nb->nb_pktlen = 0;
    nb->nb_owner = owner;
    nb->nb_ingress = 0;
    nb->nb_offload = 0;
    nb->nb_gso_size = 0;
    nb->nb_rxtime = 0;
    nb->nb_cb[0] = 0;
    nb->nb_cb[1] = 0;
    pool->np_allocs++;
    pool->np_owner_out[owner]++;
    if (++pool->np_outstanding > pool->np_peak)
        pool->np_peak = pool->np_outstanding;
    return nb;
}

void rn_nb_free(struct rn_netbuf *nb)
{
    struct rn_netbuf *next;

    for (; nb; nb = next) {
        struct rn_nbpool *pool = nb->nb_pool;

        /* A buffer already free has no owner: this is a double free. */
        assert(nb->nb_owner != RN_NB_OWNER_NONE);
        next = nb->nb_next;
        if (rn_nb_is_ref(nb)) {
            /* It referred to outside memory: its own storage again. */
            nb->nb_buf = nb_storage(nb);
            nb->nb_cap = pool->np_cap;
            pool->np_refs--;
        }
        pool->np_owner_out[nb->nb_owner]--;
        nb->nb_owner = RN_NB_OWNER_NONE;
        nb->nb_nextpkt = NULL;
        if (rn_nb_unwanted(nb) && pool->np_free != NULL) {
            nb->nb_next = NULL;
            pool->np_free_tail->nb_next = nb;
            pool->np_free_tail = nb;
        } else {
            nb->nb_next = pool->np_free;
            if (pool->np_free == NULL)
                pool->np_free_tail = nb;
            pool->np_free = nb;
        }
        pool->np_nfree++;
        pool->np_frees++;
        pool->np_outstanding--;
        NB_POISON(nb->nb_buf, nb->nb_cap);
        if (pool->np_destroyed && pool->np_outstanding == 0)
            pool_release_memory(pool);
    }
}

struct rn_netbuf *rn_nb_ref(struct rn_nbpool *pool, rn_nb_owner_t owner, const void *data,
                            uint32_t len)
{
    struct rn_netbuf *nb;

    assert(data != NULL && len > 0);
    nb = rn_nb_alloc(pool, owner);
    if (nb == NULL)
        return NULL;
    NB_POISON(nb->nb_buf, nb->nb_cap);  /* its own storage stays unused */
    /* Read-only by contract (netbuf.h); the field is not const. */
    nb->nb_buf = (uint8_t *)(uintptr_t)data;
    nb->nb_cap = len;
    nb->nb_data = nb->nb_buf;
    nb->nb_len = len;
    nb->nb_pktlen = len;
    pool->np_refs++;
    return nb;
}

uint32_t rn_nbpool_refs(const struct rn_nbpool *pool)
{
    return pool->np_refs;
}

bool rn_nb_is_ref(const struct rn_netbuf *nb)
{
    return nb->nb_buf != nb_storage(nb);
}

struct rn_netbuf *rn_nb_unref(struct rn_netbuf *nb)
{
    const struct rn_netbuf *b;
    struct rn_netbuf *copy;

    if (nb->nb_pool->np_refs == 0)
        return nb;
    for (b = nb; b != NULL && !rn_nb_is_ref(b); b = b->nb_next)
        ;
    if (b == NULL)
        return nb;
    copy = rn_nb_copy(nb, nb->nb_owner);
    if (copy != NULL)
        nb->nb_pool->np_ref_copies++;
    rn_nb_free(nb);
    return copy;
}

unsigned rn_nb_free_list(struct rn_netbuf *first)
{
    struct rn_netbuf *next;
    unsigned n = 0;

    for (; first; first = next) {
        next = first->nb_nextpkt;
        rn_nb_free(first);
        n++;
    }
    return n;
}

void rn_nb_set_owner(struct rn_netbuf *nb, rn_nb_owner_t owner)
{
    assert(owner != RN_NB_OWNER_NONE && owner < RN_NB_OWNER_MAX);
    for (; nb; nb = nb->nb_next) {
        struct rn_nbpool *pool = nb->nb_pool;

        assert(nb->nb_owner != RN_NB_OWNER_NONE);
        pool->np_owner_out[nb->nb_owner]--;
        pool->np_owner_out[owner]++;
        nb->nb_owner = owner;
    }
}

unsigned rn_nbq_purge(struct rn_nbq *q)
{
    unsigned n = rn_nb_free_list(q->nq_head);

    rn_nbq_init(q);
    return n;
}

/* ---- Data operations ---------------------------------------------------- */

/* A buffer for the continuation of a packet: no headroom, same owner. */
static struct rn_netbuf *nb_alloc_tail(struct rn_netbuf *head)
{
    struct rn_netbuf *nb = rn_nb_alloc(head->nb_pool, head->nb_owner);

    if (nb)
        nb->nb_data = nb->nb_buf;
    return nb;
}

void rn_nb_reserve(struct rn_netbuf *nb, uint32_t headroom)
{
    assert(nb->nb_pktlen == 0 && nb->nb_next == NULL);
    assert(headroom <= nb->nb_cap);
    nb->nb_data = nb->nb_buf + headroom;
}

void *rn_nb_push(struct rn_netbuf *nb, size_t len)
{
    if (len > rn_nb_headroom(nb) || rn_nb_is_ref(nb))
        return NULL;
    nb->nb_data -= len;
    nb->nb_len += (uint32_t)len;
    nb->nb_pktlen += (uint32_t)len;
    return nb->nb_data;
}

int rn_nb_pull(struct rn_netbuf *nb, size_t len)
{
    struct rn_netbuf *b;

    if (len > nb->nb_pktlen)
        return RN_EINVAL;
    nb->nb_pktlen -= (uint32_t)len;
    if (len <= nb->nb_len) {
        nb->nb_data += len;
        nb->nb_len -= (uint32_t)len;
        return 0;
    }
    len -= nb->nb_len;
    nb->nb_data += nb->nb_len;
    nb->nb_len = 0;
    /* Free the later buffers the pull empties entirely. */
    while ((b = nb->nb_next) != NULL && len >= b->nb_len && (len > 0 || b->nb_len == 0)) {
        len -= b->nb_len;
        nb->nb_next = b->nb_next;
        b->nb_next = NULL;
        rn_nb_free(b);
    }
    if (len > 0) {
        b->nb_data += len;
        b->nb_len -= (uint32_t)len;
    }
    return 0;
}

void *rn_nb_put(struct rn_netbuf *nb, size_t len)
{
    struct rn_netbuf *last = rn_nb_last(nb);
    uint8_t *p;

    if (rn_nb_tailroom(last) < len) {
        struct rn_netbuf *fresh;

        if (len > nb->nb_cap)
            return NULL;
        fresh = nb_alloc_tail(nb);
        if (fresh == NULL)
            return NULL;
        last->nb_next = fresh;
        last = fresh;
    }
    p = last->nb_data + last->nb_len;
    last->nb_len += (uint32_t)len;
    nb->nb_pktlen += (uint32_t)len;
    return p;
}

int rn_nb_trim(struct rn_netbuf *nb, size_t len)
{
    struct rn_netbuf *b;
    size_t left = len;

    if (len > nb->nb_pktlen)
        return RN_EINVAL;
    nb->nb_pktlen = (uint32_t)len;
    for (b = nb;; b = b->nb_next) {
        if (left <= b->nb_len) {
            b->nb_len = (uint32_t)left;
            break;
        }
        left -= b->nb_len;
    }
    /* Memory that is not the buffer's own has no room after the data. */
    if (rn_nb_is_ref(b))
        b->nb_cap = (uint32_t)(b->nb_data - b->nb_buf) + b->nb_len;
    /* b keeps the last byte (or is the head of an empty packet): past the
     * head, left stays above zero, so b is never left empty. */
    rn_nb_free(b->nb_next);
    b->nb_next = NULL;
    return 0;
}

int rn_nb_copyin(struct rn_netbuf *nb, size_t off, const void *src, size_t len)
{
    const uint8_t *s = src;
    struct rn_netbuf *b, *last, *extra = NULL, **link = &extra;
    size_t end = off + len, room, grow, n;

    if (off > nb->nb_pktlen || end < off || end > UINT32_MAX)
        return RN_EINVAL;
    /* Allocate every buffer the growth needs first, so failure changes nothing. */
    last = rn_nb_last(nb);
    room = rn_nb_tailroom(last);
    grow = end > nb->nb_pktlen ? end - nb->nb_pktlen : 0;
    if (grow > room) {
        size_t need = grow - room;

        while (need > 0) {
            struct rn_netbuf *fresh = nb_alloc_tail(nb);

            if (fresh == NULL) {
                rn_nb_free(extra);
                return RN_ENOBUFS;
            }
            *link = fresh;
            link = &fresh->nb_next;
            need -= need < fresh->nb_cap ? need : fresh->nb_cap;
        }
    }
    /* Extend lengths: the last buffer's room first, then the new ones. */
    if (grow > 0) {
        size_t g = grow;

        n = g < room ? g : room;
        last->nb_len += (uint32_t)n;
        g -= n;
        last->nb_next = extra;
        for (b = extra; b; b = b->nb_next) {
            n = g < b->nb_cap ? g : b->nb_cap;
            b->nb_len = (uint32_t)n;
            g -= n;
        }
        nb->nb_pktlen += (uint32_t)grow;
    }
    /* Copy across the chain. */
    for (b = nb; b && len > 0; b = b->nb_next) {
        if (off >= b->nb_len) {
            off -= b->nb_len;
            continue;
        }
        n = b->nb_len - off;
        if (n > len)
            n = len;
        assert(!rn_nb_is_ref(b));  /* another's memory: read-only */
        memcpy(b->nb_data + off, s, n);
        s += n;
        len -= n;
        off = 0;
    }
    return 0;
}

/* Copies len bytes at offset off of the chain starting at buffer nb (head or
 * not) into dst; the caller has checked the range. */
static void chain_copyout(const struct rn_netbuf *nb, size_t off, void *dst, size_t len)
{
    uint8_t *d = dst;
    const struct rn_netbuf *b;
    size_t n;

    for (b = nb; b && len > 0; b = b->nb_next) {
        if (off >= b->nb_len) {
            off -= b->nb_len;
            continue;
        }
        n = b->nb_len - off;
        if (n > len)
            n = len;
        memcpy(d, b->nb_data + off, n);
        d += n;
        len -= n;
        off = 0;
    }
}

int rn_nb_copyout(const struct rn_netbuf *nb, size_t off, void *dst, size_t len)
{
    if (off > nb->nb_pktlen || len > nb->nb_pktlen - off)
        return RN_EINVAL;
    chain_copyout(nb, off, dst, len);
    return 0;
}

const void *rn_nb_header(const struct rn_netbuf *nb, size_t off, size_t len, void *scratch)
{
    const struct rn_netbuf *b;

    if (off > nb->nb_pktlen || len > nb->nb_pktlen - off)
        return NULL;
    if (len == 0)
        return nb->nb_data;
    /* off < nb_pktlen here, so some buffer holds byte off. */
    for (b = nb; off >= b->nb_len; b = b->nb_next)
        off -= b->nb_len;
    if (off + len <= b->nb_len)
        return b->nb_data + off;
    chain_copyout(b, off, scratch, len);
    return scratch;
}

void *rn_nb_pullup(struct rn_netbuf *nb, size_t len)
{
    size_t have, want, start;

    if (len > nb->nb_pktlen || len > nb->nb_cap)
        return NULL;
    if (len <= nb->nb_len)
        return nb->nb_data;
    if (rn_nb_is_ref(nb))
        return NULL;  /* another's memory: not to be moved about */
    /* Move the head's data back if its tail cannot take len bytes, keeping
     * as much headroom as still fits. */
    if ((size_t)(nb->nb_data - nb->nb_buf) + len > nb->nb_cap) {
        start = nb->nb_cap - len;
        memmove(nb->nb_buf + start, nb->nb_data, nb->nb_len);
        nb->nb_data = nb->nb_buf + start;
    }
    have = nb->nb_len;
    want = len - have;
    /* Copy from the following buffers, then strip what was copied from them. */
    {
        struct rn_netbuf *b;
        size_t left = want, n;
        uint8_t *d = nb->nb_data + have;

        for (b = nb->nb_next; b && left > 0; b = b->nb_next) {
            n = b->nb_len < left ? b->nb_len : left;
            memcpy(d, b->nb_data, n);
            d += n;
            left -= n;
        }
    }
    {
        /* Pull want bytes from the rest of the chain, as a packet of its own. */
        struct rn_netbuf *rest = nb->nb_next;
        size_t left = want;

        while (rest && left >= rest->nb_len) {
            struct rn_netbuf *b = rest;

            left -= b->nb_len;
            rest = b->nb_next;
            b->nb_next = NULL;
            rn_nb_free(b);
        }
        if (rest && left > 0) {
            rest->nb_data += left;
            rest->nb_len -= (uint32_t)left;
        }
        nb->nb_next = rest;
    }
    nb->nb_len = (uint32_t)len;
    return nb->nb_data;
}

int rn_nb_linearize(const struct rn_netbuf *nb, void *dst, size_t cap)
{
    if (cap < nb->nb_pktlen)
        return RN_EMSGSIZE;
    chain_copyout(nb, 0, dst, nb->nb_pktlen);
    return (int)nb->nb_pktlen;
}

struct rn_netbuf *rn_nb_copy_to(const struct rn_netbuf *nb, struct rn_nbpool *pool,
                                rn_nb_owner_t owner)
{
    const struct rn_netbuf *b;
    struct rn_netbuf *dup;
    size_t off;

    dup = rn_nb_alloc(pool, owner);
    if (dup == NULL)
        return NULL;
    /* In the same pool keep the original's headroom so that headers can
     * still be pushed, unless that would leave no room for data. */
    if (pool == nb->nb_pool && rn_nb_headroom(nb) < dup->nb_cap)
        dup->nb_data = dup->nb_buf + rn_nb_headroom(nb);
    /* One copyin per source buffer; each grows the copy. */
    off = 0;
    for (b = nb; b; b = b->nb_next) {
        if (b->nb_len == 0)
            continue;
        if (rn_nb_copyin(dup, off, b->nb_data, b->nb_len) != 0)
            goto out_free_dup;
        off += b->nb_len;
    }
    dup->nb_ingress = nb->nb_ingress;
    dup->nb_offload = nb->nb_offload;
    dup->nb_gso_size = nb->nb_gso_size;
    dup->nb_rxtime = nb->nb_rxtime;
    dup->nb_cb[0] = nb->nb_cb[0];
    dup->nb_cb[1] = nb->nb_cb[1];
    return dup;

out_free_dup:
    rn_nb_free(dup);
    return NULL;
}

struct rn_netbuf *rn_nb_copy(const struct rn_netbuf *nb, rn_nb_owner_t owner)
{
    return rn_nb_copy_to(nb, nb->nb_pool, owner);
}

void rn_nb_cat(struct rn_netbuf *head, struct rn_netbuf *tail)
{
    struct rn_netbuf *b;

    assert(head != tail);
    assert(head->nb_pool == tail->nb_pool);
    head->nb_pktlen += tail->nb_pktlen;
    tail->nb_pktlen = 0;
    tail->nb_nextpkt = NULL;
    tail->nb_ingress = 0;
    tail->nb_offload = 0;
    tail->nb_gso_size = 0;
    tail->nb_rxtime = 0;
    tail->nb_cb[0] = 0;
    tail->nb_cb[1] = 0;
    if (tail->nb_owner != head->nb_owner)
        rn_nb_set_owner(tail, head->nb_owner);
    b = rn_nb_last(head);
    b->nb_next = tail;
}

unsigned rn_nb_count(const struct rn_netbuf *nb)
{
    unsigned n = 0;

    for (; nb; nb = nb->nb_next)
        n++;
    return n;
}

bool rn_nb_check(const struct rn_netbuf *nb)
{
    const struct rn_netbuf *b;
    uint64_t sum = 0;

    for (b = nb; b; b = b->nb_next) {
        if (b->nb_owner == RN_NB_OWNER_NONE)
            return false;
        if (b->nb_data < b->nb_buf || b->nb_data + b->nb_len > b->nb_buf + b->nb_cap)
            return false;
        if (b != nb && b->nb_pktlen != 0)
            return false;
        sum += b->nb_len;
    }
    return sum == nb->nb_pktlen;
}

/* ---- Checksums ---------------------------------------------------------- */

uint64_t rn_nb_csum(const struct rn_netbuf *nb, size_t off, size_t len, uint64_t acc)
{
    size_t done = 0;

    if (off + len > nb->nb_pktlen)
        return 0;
    for (; nb != NULL && len > 0; nb = nb->nb_next) {
        size_t n;

        if (off >= nb->nb_len) {
            off -= nb->nb_len;
            continue;
        }
        n = nb->nb_len - off < len ? nb->nb_len - off : len;
        acc = rn_csum_block_add(acc, rn__csum_partial(nb->nb_data + off, n, 0), done);
        done += n;
        len -= n;
        off = 0;
    }
    return acc;
}
