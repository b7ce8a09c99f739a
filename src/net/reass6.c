/*
 * IPv6 reassembly (RFC 8200 4.5), with overlapping fragments refused (RFC
 * 5722), bounded memory and a timeout.
 *
 *   rn__net_ip6_input() -> rn__net_reass6_add() -> (complete) the datagram
 *     rebuilt behind its fixed header -> rn__net_ip6_input() again
 *
 * Fragments of one datagram (source, destination, identification) are
 * kept sorted by offset.  Against hostile input, as IPv4's reassembly:
 *   - an exact duplicate of a fragment already held is dropped alone;
 *   - any other overlap, or fragments that disagree on the datagram's end,
 *     discard the whole datagram (RFC 5722);
 *   - memory counts against the stack's reassembly limit, shared with
 *     IPv4, and so does the number of datagrams; past either the oldest
 *     IPv6 datagram is given up;
 *   - a datagram not complete within the stack's reassembly timeout is
 *     dropped, with ICMPv6 time exceeded (code 1) if its first fragment
 *     came.
 * The rebuilt datagram carries a fixed header whose next header is the
 * first fragment's, so the headers after the fragment header are walked
 * when it comes in again; the ones before it were walked with each
 * fragment.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_priv.h"
#include "wire/bytes.h"
#include "wire/icmpv6.h"

/* The most header bytes before (and with) the fragment header kept for
 * the time-exceeded quote. */
#define REASS6_HDR_MAX 256

struct reass6 {
    struct reass6 *r6_next;          /* [L] the stack's list, oldest first */
    struct rn_ip6 r6_src;            /* key */
    struct rn_ip6 r6_dst;
    uint32_t r6_id;
    struct rn_stack *r6_stack;
    struct rn_iface *r6_iface;       /* where the first fragment came in */
    struct rn_netbuf *r6_frags;      /* fragment data in offset order, via
                                        nb_nextpkt; nb_cb[0] offset, nb_cb[1]
                                        length */
    uint32_t r6_total;               /* the datagram's length, once the last
                                        fragment came; else 0 */
    uint32_t r6_have;                /* bytes held */
    uint32_t r6_mem;                 /* buffer bytes held */
    uint8_t r6_nxt;                  /* the first fragment's next header */
    bool r6_first;                   /* the first fragment came */
    uint8_t r6_hdr[REASS6_HDR_MAX];  /* its headers up to and with the
                                        fragment header, for the quote */
    uint16_t r6_hdrlen;
    struct rn_timer r6_timer;        /* [L] the timeout */
};

static uint32_t buf_bytes(struct rn_stack *st, const struct rn_netbuf *nb)
{
    return rn_nb_count(nb) *
           (rn_nbpool_headroom(net_st(st)->ns_pool) + rn_nbpool_data_size(net_st(st)->ns_pool));
}

/* Unlinks r and frees it, its fragments dropped under reason. */
static void reass6_remove(struct rn_stack *st, struct reass6 *r, enum rn_drop reason)
{
    struct reass6 **pp = &net_st(st)->ns_reass6;
    struct rn_netbuf *f, *next;

    while (*pp != r)
        pp = &(*pp)->r6_next;
    *pp = r->r6_next;
    net_st(st)->ns_nreass6--;
    net_st(st)->ns_reass_mem -= r->r6_mem;
    rn_timer_cancel(&st->st_timers, &r->r6_timer);
    for (f = r->r6_frags; f != NULL; f = next) {
        next = f->nb_nextpkt;
        f->nb_nextpkt = NULL;
        rn__net_drop(st, r->r6_iface, f, reason);
    }
    free(r);
}

static void reass6_timeout(struct rn_timer *t, rn_time_t now)
{
    struct reass6 *r = (struct reass6 *)((char *)t - offsetof(struct reass6, r6_timer));
    struct rn_stack *st = r->r6_stack;

    (void)now;
    if (r->r6_first && r->r6_frags != NULL && r->r6_frags->nb_cb[0] == 0) {
        uint8_t quote[REASS6_HDR_MAX + 64];
        size_t n = r->r6_hdrlen, d = r->r6_frags->nb_cb[1] < 64 ? r->r6_frags->nb_cb[1] : 64;

        memcpy(quote, r->r6_hdr, n);
        rn_nb_copyout(r->r6_frags, 0, quote + n, d);
        rn__net_icmp6_error(st, r->r6_iface, RN_ICMP6_TIME_EXCEEDED, 1, 0, quote, n + d);
    }
    reass6_remove(st, r, RN_DROP_FRAG_TIMEOUT);
}

/* Makes room for mem more bytes and one more datagram, oldest first.
 * Returns false if even then there is none. */
static bool reass6_room(struct rn_stack *st, uint32_t mem, const struct reass6 *keep)
{
    struct net_stack *ns = net_st(st);

    while (ns->ns_reass6 != NULL && ns->ns_reass6 != keep &&
           (ns->ns_reass_mem + mem > ns->ns_params.sp_reass_max_bytes ||
            ns->ns_nreass + ns->ns_nreass6 >= ns->ns_params.sp_reass_max_datagrams + (keep != NULL)))
        reass6_remove(st, ns->ns_reass6, RN_DROP_FRAG_NO_MEMORY);
    return ns->ns_reass_mem + mem <= ns->ns_params.sp_reass_max_bytes;
}

struct rn_netbuf *rn__net_reass6_add(struct rn_iface *ifp, struct rn_netbuf *nb, const uint8_t *p,
                                     const struct rn_ip6_ext *ex)
{
    struct rn_stack *st = ifp->if_stack;
    struct net_stack *ns = net_st(st);
    struct rn_ip6 src, dst;
    struct reass6 *r, **last;
    struct rn_netbuf **pp, *prev = NULL, *whole, *f;
    uint32_t off = ex->ex_frag_off, len, end, mem;
    uint8_t *h;

    memcpy(src.i6_octet, p + 8, RN_IP6_LEN);
    memcpy(dst.i6_octet, p + 24, RN_IP6_LEN);
    rn_nb_pull(nb, ex->ex_off);
    len = nb->nb_pktlen;
    end = off + len;
    for (r = ns->ns_reass6; r != NULL; r = r->r6_next)
        if (r->r6_id == ex->ex_frag_id && rn_ip6_eq(&r->r6_src, &src) &&
            rn_ip6_eq(&r->r6_dst, &dst))
            break;
    mem = buf_bytes(st, nb);
    if (!reass6_room(st, mem, r)) {
        rn__net_drop(st, ifp, nb, RN_DROP_FRAG_NO_MEMORY);
        return NULL;
    }
    if (r == NULL) {
        r = calloc(1, sizeof(*r));
        if (r == NULL) {
            rn__net_drop(st, ifp, nb, RN_DROP_FRAG_NO_MEMORY);
            return NULL;
        }
        r->r6_src = src;
        r->r6_dst = dst;
        r->r6_id = ex->ex_frag_id;
        r->r6_stack = st;
        r->r6_iface = ifp;
        rn_timer_init(&r->r6_timer, reass6_timeout);
        if (rn_timer_arm(&st->st_timers, &r->r6_timer,
                         st->st_now + ns->ns_params.sp_reass_timeout) < 0) {
            free(r);
            rn__net_drop(st, ifp, nb, RN_DROP_FRAG_NO_MEMORY);
            return NULL;
        }
        for (last = &ns->ns_reass6; *last != NULL; last = &(*last)->r6_next)
            ;
        *last = r;
        ns->ns_nreass6++;
    }
    /* The end: the last fragment fixes it, and nothing may pass it. */
    if ((!ex->ex_frag_more && r->r6_total != 0 && r->r6_total != end) ||
        (r->r6_total != 0 && end > r->r6_total)) {
        rn__net_drop(st, ifp, nb, RN_DROP_FRAG_OVERLAP);
        reass6_remove(st, r, RN_DROP_FRAG_OVERLAP);
        return NULL;
    }
    for (pp = &r->r6_frags; *pp != NULL && (*pp)->nb_cb[0] < off; pp = &(*pp)->nb_nextpkt)
        prev = *pp;
    if (*pp != NULL && (*pp)->nb_cb[0] == off && (*pp)->nb_cb[1] == len) {
        rn__net_drop(st, ifp, nb, RN_DROP_FRAG_DUPLICATE);
        return NULL;
    }
    if ((prev != NULL && prev->nb_cb[0] + prev->nb_cb[1] > off) ||
        (*pp != NULL && end > (*pp)->nb_cb[0])) {
        rn__net_drop(st, ifp, nb, RN_DROP_FRAG_OVERLAP);
        reass6_remove(st, r, RN_DROP_FRAG_OVERLAP);
        return NULL;
    }
    if (!ex->ex_frag_more) {
        /* Fragments held past the new end overlap it. */
        for (f = r->r6_frags; f != NULL; f = f->nb_nextpkt) {
            if (f->nb_cb[0] + f->nb_cb[1] > end) {
                rn__net_drop(st, ifp, nb, RN_DROP_FRAG_OVERLAP);
                reass6_remove(st, r, RN_DROP_FRAG_OVERLAP);
                return NULL;
            }
        }
        r->r6_total = end;
    }
    if (off == 0) {
        size_t hl = (size_t)ex->ex_frag_hdr + 8;

        r->r6_first = true;
        r->r6_nxt = ex->ex_proto;
        r->r6_iface = ifp;
        r->r6_hdrlen = (uint16_t)(hl < REASS6_HDR_MAX ? hl : REASS6_HDR_MAX);
        memcpy(r->r6_hdr, p, r->r6_hdrlen);
    }
    rn_nb_set_owner(nb, rn__net_types.nt_own_reass);
    nb->nb_cb[0] = off;
    nb->nb_cb[1] = len;
    nb->nb_nextpkt = *pp;
    *pp = nb;
    r->r6_have += len;
    r->r6_mem += mem;
    ns->ns_reass_mem += mem;
    if (r->r6_total == 0 || r->r6_have != r->r6_total || !r->r6_first)
        return NULL;
    /* Complete: the fragments in order, behind a fixed header of the
     * first fragment's with its next header. */
    whole = r->r6_frags;
    r->r6_frags = NULL;
    for (f = whole->nb_nextpkt, whole->nb_nextpkt = NULL; f != NULL;) {
        struct rn_netbuf *next = f->nb_nextpkt;

        f->nb_nextpkt = NULL;
        rn_nb_cat(whole, f);
        f = next;
    }
    whole->nb_cb[0] = whole->nb_cb[1] = 0;
    rn_nb_set_owner(whole, rn__net_types.nt_own_rx);
    h = rn_nb_push(whole, RN_IP6_HLEN);
    if (h == NULL) {
        reass6_remove(st, r, RN_DROP_NO_BUFFER);
        rn__net_drop(st, ifp, whole, RN_DROP_NO_BUFFER);
        return NULL;
    }
    memcpy(h, r->r6_hdr, RN_IP6_HLEN);
    rn_put_be16(h + 4, (uint16_t)r->r6_total);
    h[6] = r->r6_nxt;
    reass6_remove(st, r, RN_DROP_NONE);
    ns->ns_ip6_reassembled++;
    return whole;
}

void rn__net_reass6_flush(struct rn_stack *st, struct rn_iface *ifp)
{
    struct reass6 *r = net_st(st)->ns_reass6, *next;

    for (; r != NULL; r = next) {
        next = r->r6_next;
        if (ifp == NULL || r->r6_iface == ifp)
            reass6_remove(st, r, RN_DROP_FRAG_TIMEOUT);
    }
}
