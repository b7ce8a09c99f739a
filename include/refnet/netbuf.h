/*
 * Packet buffers (netbufs) and the pools they come from.
 *
 * A packet is a chain of fixed-size buffers linked by nb_next; the first one
 * (the head) carries the packet's total length and metadata.  Packets are
 * queued or batched through the head's nb_nextpkt.  Every buffer keeps
 * headroom in front of its data so that each layer can prepend its header
 * without copying (rn_nb_push), and parsers strip headers with rn_nb_pull.
 *
 * Buffers are not objects of the object manager: they are too hot for the
 * ledger.  Instead the pool counts outstanding buffers per *owner*, a small
 * integer registered by name ("link.tap.rx", "ip.reass", "tcp.sndq").  A
 * buffer is counted against exactly one owner from rn_nb_alloc() to
 * rn_nb_free(); a layer that keeps a packet moves it to its own owner with
 * rn_nb_set_owner().  So "who holds the buffers" has the same answer as
 * "who holds the references", and a pool destroyed with buffers outstanding
 * reports each owner and its count as a leak.
 *
 * Ownership rule, for every function in refnet: a function that takes a
 * netbuf consumes it on every path, success or failure.  Functions here that
 * only operate on a packet say "does not consume".
 *
 * Thread safety: a pool and its buffers belong to one thread, the loop thread
 * of the stack that created the pool ([L] below).  Nothing here locks.  The
 * owner registry alone may be used from any thread.
 *
 * A buffer may also *refer* to memory outside the pool (rn_nb_ref()): a
 * sender's own buffer, sent without copying it into the pool first.  Such
 * a buffer is read-only, has no headroom or tailroom, and its memory must
 * not change until the buffer is freed; the pool counts them
 * (rn_nbpool_refs()) so that the owner of that memory can tell when it is
 * free to change it.
 *
 * Performance: rn_nb_alloc and rn_nb_free are O(1) pops and pushes on a free
 * list.  The pool grows in slabs up to its maximum and shrinks only when
 * asked (rn_nbpool_shrink()), so once warmed (or preallocated with
 * np_prealloc) the per-packet path never calls malloc.
 */
#ifndef REFNET_NETBUF_H
#define REFNET_NETBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/clock.h"

struct rn_strbuf;
struct rn_nbpool;

/* ---- Owners ------------------------------------------------------------- */

/* Who a buffer is counted against.  0 (RN_NB_OWNER_NONE) marks a free buffer
 * and is never a valid owner. */
typedef uint16_t rn_nb_owner_t;

#define RN_NB_OWNER_NONE 0
/* The most distinct owners a process may register, RN_NB_OWNER_NONE included. */
#define RN_NB_OWNER_MAX 64
/* The longest owner name, without its NUL. */
#define RN_NB_OWNER_NAME_MAX 31

/* Returns the owner registered under name, registering it on first use; the
 * same name always gives the same owner in every pool.  Returns
 * RN_NB_OWNER_NONE if name is empty, longer than RN_NB_OWNER_NAME_MAX, or
 * the table is full.  Any thread; meant for start-up, not the packet path. */
rn_nb_owner_t rn_nb_owner_register(const char *name);

/* Returns the owner's name, or "?" for an unregistered owner. */
const char *rn_nb_owner_name(rn_nb_owner_t owner);

/* ---- Buffers ------------------------------------------------------------ */

/* Offload flags in nb_offload, between the transports and a link that
 * offers them (link.h, RN_LINK_OFF_*).
 *   CSUM_PARTIAL  transmit: the TCP or UDP checksum field holds only the
 *                 pseudo-header sum; the device completes it.  Receive: the
 *                 frame came from the local kernel with its checksum left
 *                 undone, which is as good as verified.
 *   CSUM_VALID    receive: the device verified the checksums.
 *   GSO           transmit: one TCP segment of many MSS (nb_gso_size each)
 *                 that the device cuts up; receive: one the device merged.
 *   RSS_COPY      receive: a copy of a frame another queue's stack received
 *                 and answers (receive-side scaling's fan-out filter): learn
 *                 from it, answer nothing.
 *   RSS_HANDED    receive: a datagram another queue's stack reassembled
 *                 from the fragments it received, handed over as one frame
 *                 (rn_link_fanout_hand()): served as any, but the interface
 *                 does not count it received a second time. */
#define RN_NB_OFF_CSUM_PARTIAL 0x0001u
#define RN_NB_OFF_CSUM_VALID 0x0002u
#define RN_NB_OFF_GSO 0x0004u
#define RN_NB_OFF_RSS_COPY 0x0008u
#define RN_NB_OFF_RSS_HANDED 0x0010u

/* One buffer.  Fields marked "head only" are meaningful in the first buffer
 * of a packet and zero in the others.
 *
 * Invariants, for a packet whose head is h:
 *   h->nb_pktlen == sum of b->nb_len over b = h, h->nb_next, ... NULL
 *   b->nb_buf <= b->nb_data && b->nb_data + b->nb_len <= b->nb_buf + b->nb_cap
 * rn_nb_check() verifies both. */
struct rn_netbuf {
    struct rn_netbuf *nb_next;     /* [L] next buffer of this packet, NULL at the tail */
    struct rn_netbuf *nb_nextpkt;  /* [L] head only: next packet in a queue or batch */
    uint8_t *nb_data;              /* [L] first byte of data in this buffer */
    uint32_t nb_len;               /* [L] bytes of data in this buffer */
    uint32_t nb_pktlen;            /* [L] head only: bytes in the whole packet (see above) */
    uint8_t *nb_buf;               /* [I] start of this buffer's storage */
    uint32_t nb_cap;               /* [I] bytes of storage: the pool's headroom + data size */
    rn_nb_owner_t nb_owner;        /* [L] owner the pool counts it against; NONE while free */
    uint16_t nb_ingress;           /* [L] head only: ingress interface index, 0 if unknown */
    uint32_t nb_offload;           /* [L] head only: RN_NB_OFF_* flags */
    uint32_t nb_gso_size;          /* [L] head only: with RN_NB_OFF_GSO, payload bytes per segment */
    rn_time_t nb_rxtime;           /* [L] head only: now when a link received it, else 0 */
    uint64_t nb_cb[2];             /* [L] head only: scratch for the layer holding it now */
    struct rn_nbpool *nb_pool;     /* [I] pool it returns to */
};

/* ---- Pools -------------------------------------------------------------- */

#define RN_NB_DEFAULT_DATA 2048u      /* bytes of data after the headroom */
#define RN_NB_DEFAULT_HEADROOM 128u   /* bytes for headers in front of the data */
#define RN_NB_DEFAULT_MAX 4096u       /* buffers in a pool at most */
#define RN_NB_DEFAULT_SLAB 256u       /* buffers allocated at a time */

/* Pool parameters.  A zero field takes its default. */
struct rn_nbpool_params {
    const char *np_name;     /* shown in reports; default "netbuf" */
    uint32_t np_data_size;   /* bytes of data per buffer after the headroom */
    uint32_t np_headroom;    /* bytes of headroom per buffer */
    uint32_t np_max;         /* most buffers the pool will ever hold */
    uint32_t np_slab;        /* buffers allocated per slab when growing */
    uint32_t np_prealloc;    /* buffers allocated at creation (warm start) */
};

/* Pool counters, a snapshot. */
struct rn_nbpool_stats {
    uint32_t ps_total;        /* buffers allocated from the system */
    uint32_t ps_free;         /* of which on the free list */
    uint32_t ps_outstanding;  /* ps_outstanding == ps_total - ps_free */
    uint32_t ps_peak;         /* highest ps_outstanding seen */
    uint32_t ps_max;          /* the pool's limit */
    uint32_t ps_buf_size;     /* headroom + data size of each buffer */
    uint64_t ps_allocs;       /* successful rn_nb_alloc() calls */
    uint64_t ps_frees;        /* buffers returned */
    uint64_t ps_exhausted;    /* allocations refused: the pool was at its maximum */
    uint64_t ps_nomem;        /* allocations refused: the system had no memory */
    uint32_t ps_refs;         /* outstanding buffers referring to outside memory */
    uint64_t ps_ref_copies;   /* packets rn_nb_unref() had to copy */
};

/* Creates a pool.  Returns 0 and sets *out, RN_EINVAL for impossible
 * parameters (a buffer larger than 1 MiB, prealloc above max), or RN_ENOMEM.
 * The pool belongs to the calling thread from then on. */
int rn_nbpool_create(const struct rn_nbpool_params *params, struct rn_nbpool **out);

/* Destroys a pool.  Returns 0 if no buffer was outstanding.  Otherwise
 * reports a leak through rn_report(RN_REPORT_LEAK) naming each owner and its
 * count, and returns RN_EBUSY; the pool's memory then stays until the last
 * outstanding buffer is freed, so no buffer ever points into freed memory.
 * Either way the caller must not use pool again. */
int rn_nbpool_destroy(struct rn_nbpool *pool);

/* Gives back to the system slabs of the pool whose buffers are all free,
 * newest first and never the first one (the buffers the pool was created
 * with, np_prealloc): no more buffers than it did not need since the last
 * call (the fewest it had free meanwhile).  So what a burst made it grow
 * to goes at the first call after a period without one.  Until the pool
 * is back to its first slab, buffers freed elsewhere go to the end of the
 * free list, so that the first slab's are used first and the others
 * empty.  Returns the bytes given back.  Same thread as the pool's; a
 * walk of its free list, for a timer now and then, not for the packet
 * path. */
size_t rn_nbpool_shrink(struct rn_nbpool *pool);

/* Whether the pool is draining (above).  A link that keeps spare buffers
 * asks this once per batch, and then rn_nb_unwanted() of each: a buffer
 * its pool would rather have back (outside the first slab) is freed
 * instead of kept, so that spares do not hold slabs that could go. */
bool rn_nbpool_draining(const struct rn_nbpool *pool);
bool rn_nb_unwanted(const struct rn_netbuf *nb);

/* Returns the buffers outstanding against owner, or with RN_NB_OWNER_NONE
 * the buffers outstanding in all. */
uint32_t rn_nbpool_outstanding(const struct rn_nbpool *pool, rn_nb_owner_t owner);

/* Returns allocations refused to owner (pool exhausted or no memory). */
uint64_t rn_nbpool_failures(const struct rn_nbpool *pool, rn_nb_owner_t owner);

/* Copies the pool's counters into out. */
void rn_nbpool_stats(const struct rn_nbpool *pool, struct rn_nbpool_stats *out);

/* What one owner holds of a pool. */
struct rn_nbpool_owner_row {
    const char *po_owner;       /* "tcp.rcvq" (rn_nb_owner_register()) */
    uint32_t po_outstanding;    /* buffers it holds now */
    uint64_t po_refused;        /* allocations refused to it */
};
typedef void (*rn_nbpool_owner_fn)(const struct rn_nbpool_owner_row *row, void *ctx);

/* Calls fn for every owner that holds buffers of the pool or was refused
 * some, in order of registration.  Same thread as the pool's. */
void rn_nbpool_owners(const struct rn_nbpool *pool, rn_nbpool_owner_fn fn, void *ctx);

/* Returns the name given at creation. */
const char *rn_nbpool_name(const struct rn_nbpool *pool);

/* Returns the headroom and the data size every buffer of the pool has. */
uint32_t rn_nbpool_headroom(const struct rn_nbpool *pool);
uint32_t rn_nbpool_data_size(const struct rn_nbpool *pool);

/* ---- Allocating and freeing --------------------------------------------- */

/* Returns an empty one-buffer packet counted against owner, its data at the
 * pool's headroom and its metadata zeroed.  Returns NULL, counting the
 * failure against owner, if the pool is at its maximum or the system is out
 * of memory.  owner must be registered. */
struct rn_netbuf *rn_nb_alloc(struct rn_nbpool *pool, rn_nb_owner_t owner);

/* Returns a one-buffer packet counted against owner whose data is the len
 * bytes at data, not a copy of them: no headroom, no tailroom, and nothing
 * in refnet writes through it.  The caller keeps those bytes unchanged and
 * valid until the buffer is freed, which rn_nbpool_refs() tells.  Append it
 * to a packet with rn_nb_cat().  Only for links that are done with a
 * frame's memory when their tx returns (RN_LINK_OFF_TX_REF): whatever
 * keeps a packet longer calls rn_nb_unref() first.  Returns NULL as
 * rn_nb_alloc() does; len is at least 1. */
struct rn_netbuf *rn_nb_ref(struct rn_nbpool *pool, rn_nb_owner_t owner, const void *data,
                            uint32_t len);

/* Returns how many buffers of the pool refer to outside memory now. */
uint32_t rn_nbpool_refs(const struct rn_nbpool *pool);

/* Whether buffer nb (this one, not its chain) refers to outside memory. */
bool rn_nb_is_ref(const struct rn_netbuf *nb);

/* Makes packet nb hold its own data: if any buffer of it refers to outside
 * memory, returns a copy (head metadata included) and frees nb; else
 * returns nb.  Returns NULL, nb freed, if the pool could not supply the
 * copy.  Consumes nb.  For a layer about to keep a packet past the call
 * that handed it over (a queue, a delay). */
struct rn_netbuf *rn_nb_unref(struct rn_netbuf *nb);

/* Frees a whole packet: nb and every buffer after it through nb_next.
 * nb_nextpkt is ignored.  Consumes nb.  nb may be NULL. */
void rn_nb_free(struct rn_netbuf *nb);

/* Frees every packet of a list linked by nb_nextpkt.  Consumes the list.
 * Returns the number of packets freed. */
unsigned rn_nb_free_list(struct rn_netbuf *first);

/* Moves the whole packet (every buffer of the chain) to owner.  Does not
 * consume nb. */
void rn_nb_set_owner(struct rn_netbuf *nb, rn_nb_owner_t owner);

/* ---- Data operations ---------------------------------------------------- */
/* None of these consumes its packet unless it says so. */

/* Returns bytes free in front of the head buffer's data. */
static inline uint32_t rn_nb_headroom(const struct rn_netbuf *nb)
{
    return (uint32_t)(nb->nb_data - nb->nb_buf);
}

/* Returns the last buffer of nb's chain. */
static inline struct rn_netbuf *rn_nb_last(struct rn_netbuf *nb)
{
    while (nb->nb_next)
        nb = nb->nb_next;
    return nb;
}

/* Returns bytes free after the data of the chain's last buffer. */
static inline uint32_t rn_nb_tailroom(struct rn_netbuf *nb)
{
    struct rn_netbuf *last = rn_nb_last(nb);

    return (uint32_t)(last->nb_buf + last->nb_cap - (last->nb_data + last->nb_len));
}

/* Moves the data of an empty one-buffer packet to start `headroom` bytes
 * into its storage.  Asserts that nb is empty and headroom fits. */
void rn_nb_reserve(struct rn_netbuf *nb, uint32_t headroom);

/* Prepends len bytes into the head buffer's headroom.  Returns a pointer to
 * them (uninitialised) for the caller to fill, or NULL, changing nothing, if
 * the headroom is shorter than len or the head refers to outside memory. */
void *rn_nb_push(struct rn_netbuf *nb, size_t len);

/* Strips len bytes from the front of the packet, across buffers.  Returns 0,
 * or RN_EINVAL, changing nothing, if the packet is shorter than len.  The
 * head buffer stays (it may be left empty); later buffers that become empty
 * are freed. */
int rn_nb_pull(struct rn_netbuf *nb, size_t len);

/* Appends len bytes at the tail.  They go after the last buffer's data if it
 * has room, else into a new buffer from the pool linked at the end.  Returns
 * a pointer to them (uninitialised), or NULL, changing nothing, if len
 * exceeds a whole buffer or the pool is exhausted. */
void *rn_nb_put(struct rn_netbuf *nb, size_t len);

/* Cuts the packet to its first len bytes, freeing buffers left empty after
 * the head.  Returns 0, or RN_EINVAL, changing nothing, if len exceeds the
 * packet. */
int rn_nb_trim(struct rn_netbuf *nb, size_t len);

/* Copies len bytes from src into the packet starting at offset off,
 * overwriting what is there and growing the packet (with buffers from the
 * pool) where it runs past the end.  Returns 0; RN_EINVAL if off is beyond
 * the packet's end (no holes); RN_ENOBUFS if the pool could not supply the
 * buffers, in which case nothing changed. */
int rn_nb_copyin(struct rn_netbuf *nb, size_t off, const void *src, size_t len);

/* Copies len bytes at offset off out of the packet into dst.  Returns 0, or
 * RN_EINVAL if the range runs past the packet's end. */
int rn_nb_copyout(const struct rn_netbuf *nb, size_t off, void *dst, size_t len);

/* Returns a pointer to len contiguous bytes at offset off: into the buffer
 * itself when they lie in one buffer, else copied into scratch (which must
 * hold len bytes).  Returns NULL if the range runs past the packet's end.
 * Writes through the result reach the packet only when it is not scratch;
 * use it to read headers. */
const void *rn_nb_header(const struct rn_netbuf *nb, size_t off, size_t len, void *scratch);

/* Makes the first len bytes contiguous in the head buffer, moving data
 * forward from later buffers.  Returns nb_data, or NULL, changing nothing,
 * if the packet is shorter than len, len exceeds what the head buffer can
 * hold, or the head refers to outside memory and holds fewer. */
void *rn_nb_pullup(struct rn_netbuf *nb, size_t len);

/* Copies the whole packet into dst (cap bytes).  Returns the packet length,
 * or RN_EMSGSIZE, copying nothing, if cap is smaller. */
int rn_nb_linearize(const struct rn_netbuf *nb, void *dst, size_t cap);

/* Returns a deep copy of the packet, data and head metadata, counted against
 * owner, with the same headroom in front as nb has; nb_nextpkt is NULL.
 * Returns NULL, allocating nothing, if the pool is exhausted. */
struct rn_netbuf *rn_nb_copy(const struct rn_netbuf *nb, rn_nb_owner_t owner);

/* Like rn_nb_copy(), but into another pool (of the calling thread): the
 * copy has that pool's default headroom.  For handing a packet between two
 * stacks, as the simulated cable does.  Does not consume nb. */
struct rn_netbuf *rn_nb_copy_to(const struct rn_netbuf *nb, struct rn_nbpool *pool,
                                rn_nb_owner_t owner);

/* Appends packet tail's buffers to the end of packet head, so the packet is
 * head's data followed by tail's.  Consumes tail: its buffers become part of
 * head, counted against head's owner, and its metadata is dropped.  Both
 * must come from the same pool. */
void rn_nb_cat(struct rn_netbuf *head, struct rn_netbuf *tail);

/* Returns the number of buffers in the chain. */
unsigned rn_nb_count(const struct rn_netbuf *nb);

/* Returns true if the packet's invariants hold (see struct rn_netbuf).  For
 * tests and assertions. */
bool rn_nb_check(const struct rn_netbuf *nb);

/* ---- Packet queues ------------------------------------------------------ */

/* A FIFO of packets linked by nb_nextpkt.
 *   nq_len == number of packets, nq_bytes == sum of their nb_pktlen,
 *   nq_head == NULL if and only if nq_len == 0. */
struct rn_nbq {
    struct rn_netbuf *nq_head;  /* [L] first packet, or NULL */
    struct rn_netbuf *nq_tail;  /* [L] last packet, valid when nq_head != NULL */
    uint32_t nq_len;            /* [L] packets queued */
    uint64_t nq_bytes;          /* [L] bytes queued */
};

static inline void rn_nbq_init(struct rn_nbq *q)
{
    q->nq_head = NULL;
    q->nq_tail = NULL;
    q->nq_len = 0;
    q->nq_bytes = 0;
}

/* Appends packet nb.  Consumes nb: the queue holds it until taken out. */
static inline void rn_nbq_put(struct rn_nbq *q, struct rn_netbuf *nb)
{
    nb->nb_nextpkt = NULL;
    if (q->nq_head == NULL)
        q->nq_head = nb;
    else
        q->nq_tail->nb_nextpkt = nb;
    q->nq_tail = nb;
    q->nq_len++;
    q->nq_bytes += nb->nb_pktlen;
}

/* Removes and returns the first packet, or NULL if the queue is empty. */
static inline struct rn_netbuf *rn_nbq_get(struct rn_nbq *q)
{
    struct rn_netbuf *nb = q->nq_head;

    if (nb == NULL)
        return NULL;
    q->nq_head = nb->nb_nextpkt;
    nb->nb_nextpkt = NULL;
    q->nq_len--;
    q->nq_bytes -= nb->nb_pktlen;
    return nb;
}

/* Returns the first packet without removing it, or NULL. */
static inline struct rn_netbuf *rn_nbq_peek(const struct rn_nbq *q)
{
    return q->nq_head;
}

/* Frees every queued packet and leaves the queue empty.  Returns how many. */
unsigned rn_nbq_purge(struct rn_nbq *q);

/* ---- Checksums ---------------------------------------------------------- */

/* Returns the Internet checksum (RFC 1071) of len bytes of packet nb from
 * off, across its buffers, added to acc (a pseudo-header's sum, or 0):
 * a 64-bit accumulator, not yet folded to 16 bits.  Returns 0 if the
 * range runs past the packet. */
uint64_t rn_nb_csum(const struct rn_netbuf *nb, size_t off, size_t len, uint64_t acc);

#endif /* REFNET_NETBUF_H */
