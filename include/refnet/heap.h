/*
 * Memory given back to the system after a burst.
 *
 * A burst of requests on many connections takes buffers (send rings,
 * services' work blocks and send buffers), and when it is over the pools
 * that hold what the next requests need keep a bounded number and free
 * the rest.  Freed into malloc's heap, that memory would stay: it lies
 * between the objects that live on (the connections themselves), and
 * glibc gives back only the top of the heap on its own.  So:
 *
 *   - the large buffers come from page blocks (rn_pgblock_get()), carved
 *     from chunks of their own, away from the heap's small objects: a
 *     free block's pages can go back whole, whatever lives beside it;
 *   - what pools and the object manager free in bulk is noted
 *     (rn_heap_note_freed(); rn_pgblock_put() notes its own);
 *   - the host (the daemon, on a timer) asks rn_heap_return_due() now and
 *     then: once enough was freed and the freeing has paused, the free
 *     page blocks' pages and the heap's free pages (malloc_trim()) go back
 *     to the system.
 *
 * rn_heap_note_freed() is cheap enough for every free on a hot path: it
 * adds to a per-thread count and publishes it every quarter mebibyte.
 * Page blocks are for buffers a pool keeps in front (a loop's own free
 * list): getting and putting one takes a process-wide lock.
 *
 * An embedder whose program hosts refnet's stacks calls
 * rn_heap_return_due() from a timer of its own (the daemon does twice a
 * second); without it, page blocks and the heap keep what was freed.
 *
 * Thread: rn_heap_note_freed(), rn_pgblock_get(), rn_pgblock_put() and
 * rn_heap_counters() from any thread; rn_heap_return_due() from one
 * thread at a time.
 */
#ifndef REFNET_HEAP_H
#define REFNET_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/clock.h"

/* Freed since the last return before one is considered. */
#define RN_HEAP_RETURN_MIN (16u << 20)
/* How long the freeing must have paused (no more noted). */
#define RN_HEAP_QUIET RN_SEC(1)
/* A return anyway, if freeing never pauses but memory keeps being freed. */
#define RN_HEAP_RETURN_EVERY RN_SEC(30)
/* The largest page block kept on a free list once put; larger ones are
 * mapped and unmapped each time. */
#define RN_PGBLOCK_MAX (256u << 10)

/* Notes bytes given back to malloc by a pool over its limit or by an
 * object's end.  Any thread. */
void rn_heap_note_freed(size_t bytes);

/* Whether a return is due at now (RN_HEAP_RETURN_MIN freed since the last
 * one, and RN_HEAP_QUIET without more, or RN_HEAP_RETURN_EVERY since the
 * last); if so gives the free page blocks' pages and the heap's free pages
 * back and returns true.  One caller at a time (the host's timer). */
bool rn_heap_return_due(rn_time_t now);

/* A block of size bytes (rounded up to whole pages), page-aligned, not
 * zeroed; NULL without memory.  Any thread. */
void *rn_pgblock_get(size_t size);

/* Gives back a block of rn_pgblock_get(size) (the same size); NULL is
 * ignored.  Any thread. */
void rn_pgblock_put(void *p, size_t size);

/* Counters for `refnet stat`. */
struct rn_heap_counters {
    uint64_t hc_freed;       /* bytes noted as freed, ever */
    uint64_t hc_returns;     /* returns made */
    uint64_t hc_gets;        /* page blocks taken, ever */
    uint64_t hc_blocks_out;  /* page blocks in use */
    uint64_t hc_blocks_free; /* page blocks free, their pages kept */
    uint64_t hc_mapped;      /* bytes of address space the blocks took */
};
void rn_heap_counters(struct rn_heap_counters *out);

#endif /* REFNET_HEAP_H */
