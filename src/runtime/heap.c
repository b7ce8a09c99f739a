/*
 * Memory given back to the system after a burst (refnet/heap.h).
 *
 * Page blocks: chunks of PGB_CHUNK bytes are mapped as needed and never
 * unmapped (their address space is cheap; their pages are what costs);
 * blocks are cut from the newest chunk in whole pages, and a block put
 * back goes on the free list of its size in pages.  A free list is an
 * array with room for every block of its size ever cut, so a put never
 * allocates.  Entries [0, c_cold) have had their pages given back
 * (MADV_DONTNEED: they read as zeros, and cost nothing until touched);
 * the rest still hold theirs.  A get takes the newest entry, warm first.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "refnet/heap.h"

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_ASAN 1
#endif
#endif
/* Under AddressSanitizer a free block is poisoned (a use after the put
 * is caught) and every block has a poisoned page behind it (a write past
 * its end is caught), as malloc's redzones would. */
#ifdef HEAP_ASAN
#include <sanitizer/asan_interface.h>
#define HEAP_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define HEAP_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define HEAP_GUARD 1u
#else
#define HEAP_POISON(p, n) ((void)(p), (void)(n))
#define HEAP_UNPOISON(p, n) ((void)(p), (void)(n))
#define HEAP_GUARD 0u
#endif

/* Bytes a thread notes before it publishes them: one shared add per
 * quarter mebibyte freed, not one per free. */
#define HEAP_NOTE_BATCH (256u << 10)
/* Address space mapped at a time for page blocks. */
#define PGB_CHUNK (2u << 20)
/* Free lists, by size in pages (index 0 unused), for pages of 4 KiB or
 * more. */
#define PGB_CLASSES (RN_PGBLOCK_MAX / 4096u + 1u)

static _Atomic uint64_t heap_freed;   /* [A] noted, all threads, ever */
static _Atomic uint64_t heap_returns; /* [A] returns made */
static _Thread_local size_t heap_unpublished;

/* The caller's view, between its calls (one caller at a time). */
static uint64_t heap_seen;            /* heap_freed at the last call */
static uint64_t heap_at_return;       /* heap_freed at the last return */
static rn_time_t heap_changed_at;     /* when heap_seen last moved */
static rn_time_t heap_returned_at;    /* when the last return was made */

struct pgb_class {
    void **c_free;     /* [P] free blocks, the newest last */
    size_t c_n;        /* [P] entries */
    size_t c_cold;     /* [P] entries [0, c_cold) gave their pages back */
    size_t c_cut;      /* [P] blocks of this size ever cut */
    size_t c_room;     /* [P] c_free's entries, >= c_cut */
};

/* [P]: under pgb_lock. */
static pthread_mutex_t pgb_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pgb_class pgb_classes[PGB_CLASSES];
static uint8_t *pgb_cur;              /* [P] the newest chunk's uncut part */
static size_t pgb_left;               /* [P] its bytes */
static uint64_t pgb_gets;             /* [P] blocks taken, ever */
static uint64_t pgb_out;              /* [P] blocks in use */
static uint64_t pgb_nfree;            /* [P] blocks on free lists */
static uint64_t pgb_mapped;           /* [P] bytes mapped for blocks */

void rn_heap_note_freed(size_t bytes)
{
    heap_unpublished += bytes;
    if (heap_unpublished >= HEAP_NOTE_BATCH) {
        atomic_fetch_add_explicit(&heap_freed, heap_unpublished, memory_order_relaxed);
        heap_unpublished = 0;
    }
}

static size_t pgb_page(void)
{
    static _Atomic size_t page;
    size_t p = atomic_load_explicit(&page, memory_order_relaxed);

    if (p == 0) {
        long s = sysconf(_SC_PAGESIZE);

        p = s >= 4096 && s <= (long)RN_PGBLOCK_MAX ? (size_t)s : 4096;
        atomic_store_explicit(&page, p, memory_order_relaxed);
    }
    return p;
}

static size_t pgb_round(size_t size)
{
    size_t page = pgb_page();

    return size == 0 ? page : (size + page - 1) / page * page;
}

static void *pgb_map(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

/* Cuts a new block of n bytes for class c; NULL without memory. */
static void *pgb_cut(struct pgb_class *c, size_t n)
{
    void *p;

    if (c->c_cut == c->c_room) {
        size_t room = c->c_room ? c->c_room * 2 : 16;
        void **f = realloc(c->c_free, room * sizeof(*f));

        if (f == NULL)
            return NULL;
        c->c_free = f;
        c->c_room = room;
    }
    if (pgb_left < n + HEAP_GUARD * pgb_page()) {
        uint8_t *chunk = pgb_map(PGB_CHUNK);

        if (chunk == NULL)
            return NULL;
        pgb_mapped += PGB_CHUNK;
        pgb_cur = chunk;  /* what the old chunk had left is never touched */
        pgb_left = PGB_CHUNK;
    }
    p = pgb_cur;
    pgb_cur += n;
    pgb_left -= n;
    if (HEAP_GUARD) {
        HEAP_POISON(pgb_cur, pgb_page());
        pgb_cur += pgb_page();
        pgb_left -= pgb_page();
    }
    c->c_cut++;
    return p;
}

void *rn_pgblock_get(size_t size)
{
    size_t n = pgb_round(size);
    struct pgb_class *c;
    void *p;

    c = n > RN_PGBLOCK_MAX ? NULL : &pgb_classes[n / pgb_page()];
    pthread_mutex_lock(&pgb_lock);
    if (c == NULL) {
        /* Larger than any free list keeps: mapped for itself. */
        if ((p = pgb_map(n + HEAP_GUARD * pgb_page())) != NULL) {
            HEAP_POISON((uint8_t *)p + n, HEAP_GUARD * pgb_page());
            pgb_mapped += n;
        }
    } else if (c->c_n > 0) {
        p = c->c_free[--c->c_n];
        if (c->c_cold > c->c_n)
            c->c_cold = c->c_n;
        pgb_nfree--;
    } else {
        p = pgb_cut(c, n);
    }
    if (p != NULL) {
        pgb_out++;
        pgb_gets++;
    }
    pthread_mutex_unlock(&pgb_lock);
    if (p != NULL)
        HEAP_UNPOISON(p, n);
    return p;
}

void rn_pgblock_put(void *p, size_t size)
{
    size_t n = pgb_round(size);
    struct pgb_class *c;

    if (p == NULL)
        return;
    rn_heap_note_freed(n);
    if (n > RN_PGBLOCK_MAX) {
        HEAP_UNPOISON((uint8_t *)p + n, HEAP_GUARD * pgb_page());
        (void)munmap(p, n + HEAP_GUARD * pgb_page());
        pthread_mutex_lock(&pgb_lock);
        pgb_mapped -= n;
        pgb_out--;
        pthread_mutex_unlock(&pgb_lock);
        return;
    }
    HEAP_POISON(p, n);
    c = &pgb_classes[n / pgb_page()];
    pthread_mutex_lock(&pgb_lock);
    c->c_free[c->c_n++] = p;  /* room for every block cut: pgb_cut() */
    pgb_out--;
    pgb_nfree++;
    pthread_mutex_unlock(&pgb_lock);
}

/* Gives back the pages of every free block that still holds them. */
static void pgb_release_free(void)
{
    size_t page = pgb_page(), k, i;

    pthread_mutex_lock(&pgb_lock);
    for (k = 1; k < PGB_CLASSES && k * page <= RN_PGBLOCK_MAX; k++) {
        struct pgb_class *c = &pgb_classes[k];

        for (i = c->c_cold; i < c->c_n; i++)
            (void)madvise(c->c_free[i], k * page, MADV_DONTNEED);
        c->c_cold = c->c_n;
    }
    pthread_mutex_unlock(&pgb_lock);
}

bool rn_heap_return_due(rn_time_t now)
{
    uint64_t freed = atomic_load_explicit(&heap_freed, memory_order_relaxed);

    if (heap_returned_at == 0)
        heap_returned_at = now;  /* the first call: time counts from here */
    if (freed != heap_seen) {
        heap_seen = freed;
        heap_changed_at = now;
    }
    if (freed - heap_at_return < RN_HEAP_RETURN_MIN)
        return false;
    if (now - heap_changed_at < RN_HEAP_QUIET && now - heap_returned_at < RN_HEAP_RETURN_EVERY)
        return false;
    pgb_release_free();
    (void)malloc_trim(0);
    heap_at_return = freed;
    heap_returned_at = now;
    atomic_fetch_add_explicit(&heap_returns, 1, memory_order_relaxed);
    return true;
}

void rn_heap_counters(struct rn_heap_counters *out)
{
    out->hc_freed = atomic_load_explicit(&heap_freed, memory_order_relaxed);
    out->hc_returns = atomic_load_explicit(&heap_returns, memory_order_relaxed);
    pthread_mutex_lock(&pgb_lock);
    out->hc_gets = pgb_gets;
    out->hc_blocks_out = pgb_out;
    out->hc_blocks_free = pgb_nfree;
    out->hc_mapped = pgb_mapped;
    pthread_mutex_unlock(&pgb_lock);
}
