/*
 * The fan-out filter of receive-side scaling (include/refnet/link.h): the
 * frames every queue's stack must see although the device steers them to
 * queue 0 alone.
 *
 * With RSS each queue of a multi-queue TAP has a stack of its own on a
 * loop of its own; the device hashes TCP and UDP flows over the queues and
 * sends the rest to queue 0 (rss.h).  Among the rest are the frames that
 * teach a stack its neighbours and routers: ARP, and ICMPv6 router
 * advertisements, neighbour solicitations and advertisements, redirects.
 * A stack that resolves a neighbour sends its request on its own queue,
 * but the answer reaches queue 0.  So queue 0's filter passes every frame
 * up as it is, and puts a copy of each of those into the inbox of every
 * other queue's filter, whose stack reads it before its own frames,
 * marked RN_NB_OFF_RSS_COPY: it learns from the copy and answers nothing
 * (queue 0's stack answers the original).
 *
 * Queue 0 also hands over what belongs to another queue's flows: an ICMP
 * or ICMPv6 error (unreachable, packet too big, time exceeded, parameter
 * problem) about a TCP or UDP packet that another queue's stack sent is
 * moved, not copied, to that queue's inbox (rn_rss_icmp_error_queue()),
 * so that the connection it concerns hears of its path MTU or of its
 * peer's port being closed.  A moved frame is an ordinary frame there.
 * The stack of queue 0 hands over the same way a datagram it reassembled
 * from fragments (the device steers every fragment to queue 0) whose flow
 * another queue owns (rn_link_fanout_hand()).
 *
 * Threads: each filter runs on its own queue's loop thread.  An inbox is
 * a list under a mutex, filled by queue 0's thread; the copies are plain
 * heap blocks, made into packets of the reader's own pool on its own
 * thread (pools have one thread each).  Copies are rare (a few frames a
 * minute when nothing changes), so the hot path, every other frame, only
 * pays a look at the EtherType.  An inbox holds FANOUT_INBOX_MAX copies;
 * past that a copy is dropped and counted.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "link/link_priv.h"
#include "refnet/error.h"
#include "refnet/rss.h"

#define FANOUT_INBOX_MAX 256u

/* What an inbox entry is. */
enum fanout_kind {
    FANOUT_COPY,    /* a copy to learn from (RN_NB_OFF_RSS_COPY) */
    FANOUT_MOVED,   /* a frame of this queue's flow that queue 0 received */
    FANOUT_HANDED,  /* a datagram queue 0's stack reassembled (RN_NB_OFF_RSS_HANDED) */
};

struct fanout_copy {
    struct fanout_copy *fc_next;
    uint32_t fc_len;
    uint8_t fc_kind;                           /* enum fanout_kind */
    uint8_t fc_data[];
};

struct fanout_link;

struct rn_link_fanout {
    struct rn_rss fg_rss;                      /* [I] the device's steering */
    rn_link_fanout_wake_fn fg_wake;            /* [I] */
    void *fg_ctx;                              /* [I] */
    rn_link_fanout_pinned_fn fg_pinned;        /* [I] rn_link_fanout_set_pinned()'s */
    void *fg_pinned_ctx;                       /* [I] */
    atomic_uint fg_refs;                       /* [A] the creator's and each link's */
    pthread_mutex_t fg_lock;                   /* guards fg_links */
    struct fanout_link *fg_links[RN_RSS_QUEUES_MAX];  /* open filters by queue */
};

struct fanout_link {
    struct rn_link fl_link;                    /* [L] common part; first */
    struct rn_link_fanout *fl_group;           /* [I] held */
    unsigned fl_queue;                         /* [I] */
    struct rn_nbpool *fl_pool;                 /* [I] copies become its packets */
    rn_nb_owner_t fl_own;                      /* [I] */
    pthread_mutex_t fl_lock;                   /* guards the inbox */
    struct fanout_copy *fl_head, *fl_tail;     /* the inbox, oldest first */
    unsigned fl_inbox;                         /* copies in it */
    atomic_bool fl_pending;                    /* [A] the inbox is not empty */
    uint64_t fl_copied;                        /* [L] queue 0: copies made */
    uint64_t fl_handed;                        /* [L] queue 0: frames moved to
                                                  the queue of their flow */
    uint64_t fl_taken;                         /* [L] frames moved here */
    atomic_uint_fast64_t fl_overflow;          /* [A] copies dropped: inbox full */
    uint64_t fl_received;                      /* [L] copies read */
    uint64_t fl_no_buffer;                     /* [L] copies lost: pool exhausted */
};

static struct fanout_link *fanout_of(struct rn_link *link)
{
    return (struct fanout_link *)link;
}

static void group_put(struct rn_link_fanout *g)
{
    if (atomic_fetch_sub(&g->fg_refs, 1) == 1) {
        pthread_mutex_destroy(&g->fg_lock);
        free(g);
    }
}

/* What queue 0 does with a frame it received. */
enum fanout_action {
    FANOUT_KEEP,  /* its own: up to its stack */
    FANOUT_SHARE, /* up to its stack, and a copy to every other queue */
    FANOUT_MOVE,  /* to another queue's stack (*q), not its own */
};

/* Sorts a frame queue 0 received, from one look at its headers:
 *   - every queue's stack must see ARP, and ICMPv6 router advertisement,
 *     neighbour solicitation and advertisement, redirect (types 134 to
 *     137) right after the IPv6 header, as RFC 4861 sends them: SHARE;
 *   - an ICMP or ICMPv6 error about another queue's TCP or UDP flow goes
 *     there (*q), unless it is about a port pinned to queue 0: MOVE;
 *   - the rest is queue 0's: KEEP. */
static enum fanout_action fanout_classify(const struct rn_link_fanout *g,
                                          const struct rn_netbuf *nb, unsigned *q)
{
    uint8_t h[160];
    size_t len = nb->nb_pktlen < sizeof(h) ? nb->nb_pktlen : sizeof(h);
    const uint8_t *p = rn_nb_header(nb, 0, len < 14 + 41 ? 14 : 14 + 41, h);
    unsigned type;
    uint16_t lport;
    uint8_t proto;

    if (p == NULL)
        return FANOUT_KEEP;
    type = (unsigned)p[12] << 8 | p[13];
    if (type == 0x0806)
        return FANOUT_SHARE;
    /* The quick look every other frame pays: IPv4's protocol or IPv6's
     * next header. */
    if (len < 14 + 41 ||
        !((type == 0x0800 && p[14 + 9] == 1) || (type == 0x86dd && p[14 + 6] == 58)))
        return FANOUT_KEEP;
    if (type == 0x86dd && p[14 + 40] >= 134 && p[14 + 40] <= 137)
        return FANOUT_SHARE;
    p = rn_nb_header(nb, 0, len, h);
    if (p == NULL || !rn_rss_icmp_error_queue(&g->fg_rss, p, len, q, &proto, &lport) ||
        *q == 0)
        return FANOUT_KEEP;
    /* A port pinned to queue 0 has its flows here, whatever their hash. */
    if (g->fg_pinned != NULL && g->fg_pinned(g->fg_pinned_ctx, proto, lport))
        return FANOUT_KEEP;
    return FANOUT_MOVE;
}

/* Puts a copy of a frame into queue q's inbox: nb's bytes, or if nb is
 * NULL the len bytes at data, as kind.  False if q is not open or its
 * inbox is full. */
static bool inbox_put(struct rn_link_fanout *g, unsigned q, const struct rn_netbuf *nb,
                      const uint8_t *data, size_t len, enum fanout_kind kind)
{
    struct fanout_link *to;
    struct fanout_copy *c;
    bool wake = false, put = false;

    pthread_mutex_lock(&g->fg_lock);
    to = g->fg_links[q];
    if (to == NULL) {
        pthread_mutex_unlock(&g->fg_lock);
        return false;  /* that queue is not open (yet, or any more) */
    }
    if (nb != NULL)
        len = nb->nb_pktlen;
    pthread_mutex_lock(&to->fl_lock);
    if (to->fl_inbox >= FANOUT_INBOX_MAX || (c = malloc(sizeof(*c) + len)) == NULL) {
        atomic_fetch_add(&to->fl_overflow, 1);
    } else {
        put = true;
        c->fc_next = NULL;
        c->fc_len = (uint32_t)len;
        c->fc_kind = (uint8_t)kind;
        if (nb != NULL)
            (void)rn_nb_copyout(nb, 0, c->fc_data, len);
        else
            memcpy(c->fc_data, data, len);
        if (to->fl_tail != NULL)
            to->fl_tail->fc_next = c;
        else
            to->fl_head = c;
        to->fl_tail = c;
        to->fl_inbox++;
        wake = !atomic_exchange(&to->fl_pending, true);
    }
    pthread_mutex_unlock(&to->fl_lock);
    pthread_mutex_unlock(&g->fg_lock);
    if (wake)
        g->fg_wake(g->fg_ctx, q);
    return put;
}

/* Queue k > 0: the frames waiting, as packets of this queue's pool. */
static unsigned inbox_take(struct fanout_link *fl, struct rn_netbuf **pkts, unsigned max)
{
    struct fanout_copy *c;
    unsigned n = 0;

    while (n < max) {
        struct rn_netbuf *nb;

        pthread_mutex_lock(&fl->fl_lock);
        c = fl->fl_head;
        if (c != NULL) {
            fl->fl_head = c->fc_next;
            if (fl->fl_head == NULL)
                fl->fl_tail = NULL;
            fl->fl_inbox--;
        }
        if (fl->fl_head == NULL)
            atomic_store(&fl->fl_pending, false);
        pthread_mutex_unlock(&fl->fl_lock);
        if (c == NULL)
            break;
        nb = rn_nb_alloc(fl->fl_pool, fl->fl_own);
        if (nb != NULL && rn_nb_copyin(nb, 0, c->fc_data, c->fc_len) != 0) {
            rn_nb_free(nb);
            nb = NULL;
        }
        if (nb == NULL) {
            free(c);
            fl->fl_no_buffer++;
            continue;
        }
        if (c->fc_kind == FANOUT_COPY) {
            nb->nb_offload = RN_NB_OFF_RSS_COPY;
            fl->fl_received++;
        } else {
            nb->nb_offload = c->fc_kind == FANOUT_HANDED ? RN_NB_OFF_RSS_HANDED : 0;
            fl->fl_taken++;
        }
        free(c);
        rn__link_count_rx(&fl->fl_link, nb);
        pkts[n++] = nb;
    }
    return n;
}

static int fanout_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t now)
{
    struct fanout_link *fl = fanout_of(link);
    struct rn_link_fanout *g = fl->fl_group;
    unsigned n = 0, q, kept;
    int got, i;

    if (fl->fl_queue > 0 && atomic_load_explicit(&fl->fl_pending, memory_order_relaxed))
        n = inbox_take(fl, pkts, max);
    got = rn_link_rx(link->lk_lower, pkts + n, max - n, now);
    if (got < 0)
        return n > 0 ? (int)n : got;
    if (fl->fl_queue > 0) {
        for (i = 0; i < got; i++)
            rn__link_count_rx(link, pkts[n + (unsigned)i]);
        return (int)n + got;
    }
    /* Queue 0: copy what every stack learns from, hand over what belongs
     * to another queue's flow, keep the rest in order. */
    kept = n;
    for (i = 0; i < got; i++) {
        struct rn_netbuf *nb = pkts[n + (unsigned)i];

        enum fanout_action act = g->fg_rss.rs_queues > 1 ? fanout_classify(g, nb, &q)
                                                          : FANOUT_KEEP;

        if (act == FANOUT_MOVE && inbox_put(g, q, nb, NULL, 0, FANOUT_MOVED)) {
            fl->fl_handed++;
            rn_nb_free(nb);
            continue;
        }
        rn__link_count_rx(link, nb);
        if (act == FANOUT_SHARE) {
            for (q = 1; q < g->fg_rss.rs_queues; q++)
                (void)inbox_put(g, q, nb, NULL, 0, FANOUT_COPY);
            fl->fl_copied++;
        }
        pkts[kept++] = nb;
    }
    return (int)kept;
}

static int fanout_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t now)
{
    unsigned i;

    for (i = 0; i < n; i++)
        rn__link_count_tx(link, pkts[i]);
    return rn_link_tx(link->lk_lower, pkts, n, now);
}

/* Copies waiting are due now: the stack reads this link although its
 * device has nothing. */
static rn_time_t fanout_next_deadline(struct rn_link *link)
{
    struct fanout_link *fl = fanout_of(link);

    if (atomic_load_explicit(&fl->fl_pending, memory_order_relaxed))
        return 1;  /* the earliest time there is */
    return rn_link_next_deadline(link->lk_lower);
}

static void fanout_values(struct rn_link *link, rn_value_fn fn, void *ctx)
{
    struct fanout_link *fl = fanout_of(link);
    const struct rn_value v[] = {
        {"queue", NULL, fl->fl_queue},
        {"copied", NULL, fl->fl_copied},
        {"handed", NULL, fl->fl_handed},
        {"taken", NULL, fl->fl_taken},
        {"received", NULL, fl->fl_received},
        {"overflow", NULL, atomic_load(&fl->fl_overflow)},
        {"no_buffer", NULL, fl->fl_no_buffer},
    };
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        fn(&v[i], ctx);
}

static void fanout_close(struct rn_link *link)
{
    struct fanout_link *fl = fanout_of(link);
    struct rn_link_fanout *g = fl->fl_group;
    struct fanout_copy *c;

    pthread_mutex_lock(&g->fg_lock);
    g->fg_links[fl->fl_queue] = NULL;
    pthread_mutex_unlock(&g->fg_lock);
    while ((c = fl->fl_head) != NULL) {
        fl->fl_head = c->fc_next;
        free(c);
    }
    pthread_mutex_destroy(&fl->fl_lock);
    rn_link_close(link->lk_lower);
    free(fl);
    group_put(g);
}

static const struct rn_link_ops fanout_ops = {
    .kind = "fanout",
    .tx = fanout_tx,
    .rx = fanout_rx,
    .next_deadline = fanout_next_deadline,
    .values = fanout_values,
    .close = fanout_close,
    .tx_keeps_none = true,
};

int rn_link_fanout_create(const struct rn_rss *rss, rn_link_fanout_wake_fn wake, void *ctx,
                          struct rn_link_fanout **out)
{
    struct rn_link_fanout *g;

    assert(rss != NULL && out != NULL && wake != NULL);
    if (rss->rs_queues < 1 || rss->rs_queues > RN_RSS_QUEUES_MAX)
        return RN_EINVAL;
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        return RN_ENOMEM;
    g->fg_rss = *rss;
    g->fg_wake = wake;
    g->fg_ctx = ctx;
    atomic_init(&g->fg_refs, 1);
    pthread_mutex_init(&g->fg_lock, NULL);
    *out = g;
    return 0;
}

bool rn_link_fanout_hand(struct rn_link_fanout *g, unsigned queue, const uint8_t *frame,
                         size_t len)
{
    if (queue == 0 || queue >= g->fg_rss.rs_queues || len > UINT32_MAX)
        return false;
    return inbox_put(g, queue, NULL, frame, len, FANOUT_HANDED);
}

void rn_link_fanout_set_pinned(struct rn_link_fanout *g, rn_link_fanout_pinned_fn fn, void *ctx)
{
    g->fg_pinned = fn;
    g->fg_pinned_ctx = ctx;
}

void rn_link_fanout_release(struct rn_link_fanout *g)
{
    if (g != NULL)
        group_put(g);
}

int rn_link_fanout_open(struct rn_link_fanout *g, unsigned queue, struct rn_link *lower,
                        struct rn_nbpool *pool, struct rn_link **out, char *errbuf)
{
    const struct rn__link_owners *own = rn__link_owners();
    struct fanout_link *fl;

    assert(g != NULL && lower != NULL && out != NULL);
    if (queue >= g->fg_rss.rs_queues)
        return rn__link_err(errbuf, RN_EINVAL, "fanout: queue %u of %u", queue, g->fg_rss.rs_queues);
    if (queue > 0 && pool == NULL)
        return rn__link_err(errbuf, RN_EINVAL, "fanout: queue %u needs its buffer pool", queue);
    if (own == NULL)
        return rn__link_err(errbuf, RN_ENOSPC, "fanout: netbuf owner table full");
    fl = calloc(1, sizeof(*fl));
    if (fl == NULL)
        return rn__link_err(errbuf, RN_ENOMEM, "fanout: out of memory");
    pthread_mutex_lock(&g->fg_lock);
    if (g->fg_links[queue] != NULL) {
        pthread_mutex_unlock(&g->fg_lock);
        free(fl);
        return rn__link_err(errbuf, RN_EBUSY, "fanout: queue %u is open already", queue);
    }
    fl->fl_group = g;
    fl->fl_queue = queue;
    fl->fl_pool = pool;
    fl->fl_own = own->lo_fanout_rx;
    pthread_mutex_init(&fl->fl_lock, NULL);
    atomic_init(&fl->fl_pending, false);
    atomic_init(&fl->fl_overflow, 0);
    rn_link_init(&fl->fl_link, &fanout_ops, lower, "fanout");
    g->fg_links[queue] = fl;
    atomic_fetch_add(&g->fg_refs, 1);
    pthread_mutex_unlock(&g->fg_lock);
    *out = &fl->fl_link;
    return 0;
}
