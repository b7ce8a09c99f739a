/*
 * IPv4 reassembly (RFC 791, section 3.2; RFC 815's hole logic reduced to a
 * sorted list), with bounded memory and a timeout.
 *
 * Fragments of one datagram (source, destination, protocol, id) are kept
 * sorted by offset.  Policy against hostile input:
 *   - an exact duplicate of a fragment already held is dropped alone;
 *   - any other overlap, or fragments that disagree on the datagram's end,
 *     discard the whole datagram (as Linux has done since FragmentSmack);
 *   - memory is counted in whole buffers; past the stack's limit the oldest
 *     datagrams are evicted, and so is anything past the datagram limit;
 *   - a datagram not complete within the timeout is dropped, with ICMP
 *     time exceeded if its first fragment came (RFC 1122, 3.3.2).
 * Every fragment dropped is counted under its reason.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_priv.h"
#include "wire/icmp.h"

static unsigned reass_bucket(uint32_t src, uint32_t dst, uint16_t id, uint8_t proto)
{
    uint32_t h = src * 2654435761u ^ dst * 2246822519u ^ ((uint32_t)id << 8 | proto);

    return (h ^ h >> 16) & (NET_REASS_BUCKETS - 1);
}

static uint32_t buf_bytes(struct rn_stack *st, const struct rn_netbuf *nb)
{
    return rn_nb_count(nb) * (rn_nbpool_headroom(net_st(st)->ns_pool) + rn_nbpool_data_size(net_st(st)->ns_pool));
}

/* Unlinks d and frees it; its fragments are dropped under reason, or kept
 * by the caller if reason is RN_DROP_NONE. */
static void reass_remove(struct rn_stack *st, struct reass_dgram *d, enum rn_drop reason)
{
    struct reass_dgram **pp = &net_st(st)->ns_reass[reass_bucket(d->rd_src, d->rd_dst, d->rd_id,
                                                         d->rd_proto)];
    struct rn_netbuf *f, *next;

    while (*pp != d)
        pp = &(*pp)->rd_next;
    *pp = d->rd_next;
    if (d->rd_age_prev)
        d->rd_age_prev->rd_age_next = d->rd_age_next;
    else
        net_st(st)->ns_reass_oldest = d->rd_age_next;
    if (d->rd_age_next)
        d->rd_age_next->rd_age_prev = d->rd_age_prev;
    else
        net_st(st)->ns_reass_newest = d->rd_age_prev;
    net_st(st)->ns_nreass--;
    net_st(st)->ns_reass_mem -= d->rd_mem;
    rn_timer_cancel(&st->st_timers, &d->rd_timer);
    if (reason != RN_DROP_NONE) {
        for (f = d->rd_frags; f != NULL; f = next) {
            next = f->nb_nextpkt;
            f->nb_nextpkt = NULL;
            rn__net_drop(st, d->rd_iface, f, reason);
        }
    }
    free(d);
}

static void reass_timeout(struct rn_timer *t, rn_time_t now)
{
    struct reass_dgram *d = (struct reass_dgram *)((char *)t - offsetof(struct reass_dgram, rd_timer));
    struct rn_stack *st = d->rd_stack;

    (void)now;
    if (d->rd_hlen != 0 && d->rd_frags != NULL && d->rd_frags->nb_cb[0] == 0) {
        uint8_t orig[RN_IP4_MAX_HLEN + RN_ICMP_QUOTE_L4];
        size_t n = d->rd_frags->nb_pktlen < RN_ICMP_QUOTE_L4 ? d->rd_frags->nb_pktlen
                                                             : RN_ICMP_QUOTE_L4;

        memcpy(orig, d->rd_hdr, d->rd_hlen);
        rn_nb_copyout(d->rd_frags, 0, orig + d->rd_hlen, n);
        rn__net_icmp_error(st, RN_ICMP_TIME_EXCEEDED, RN_ICMP_TIMXCEED_REASM, 0, orig,
                        d->rd_hlen + n, d->rd_src);
    }
    reass_remove(st, d, RN_DROP_FRAG_TIMEOUT);
}

static struct reass_dgram *reass_find(struct rn_stack *st, const struct rn_ip4_hdr *ip)
{
    struct reass_dgram *d;

    for (d = net_st(st)->ns_reass[reass_bucket(ip->ip_src, ip->ip_dst, ip->ip_id, ip->ip_proto)];
         d != NULL; d = d->rd_next) {
        if (d->rd_src == ip->ip_src && d->rd_dst == ip->ip_dst && d->rd_id == ip->ip_id &&
            d->rd_proto == ip->ip_proto)
            return d;
    }
    return NULL;
}

static struct reass_dgram *reass_new(struct rn_iface *ifp, const struct rn_ip4_hdr *ip)
{
    struct rn_stack *st = ifp->if_stack;
    struct reass_dgram *d;
    unsigned b;

    while (net_st(st)->ns_nreass >= net_st(st)->ns_params.sp_reass_max_datagrams && net_st(st)->ns_reass_oldest)
        reass_remove(st, net_st(st)->ns_reass_oldest, RN_DROP_FRAG_NO_MEMORY);
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->rd_src = ip->ip_src;
    d->rd_dst = ip->ip_dst;
    d->rd_id = ip->ip_id;
    d->rd_proto = ip->ip_proto;
    d->rd_iface = ifp;
    d->rd_stack = st;
    rn_timer_init(&d->rd_timer, reass_timeout);
    b = reass_bucket(ip->ip_src, ip->ip_dst, ip->ip_id, ip->ip_proto);
    d->rd_next = net_st(st)->ns_reass[b];
    net_st(st)->ns_reass[b] = d;
    d->rd_age_prev = net_st(st)->ns_reass_newest;
    if (net_st(st)->ns_reass_newest)
        net_st(st)->ns_reass_newest->rd_age_next = d;
    else
        net_st(st)->ns_reass_oldest = d;
    net_st(st)->ns_reass_newest = d;
    net_st(st)->ns_nreass++;
    if (rn_timer_arm(&st->st_timers, &d->rd_timer, st->st_now + net_st(st)->ns_params.sp_reass_timeout) < 0) {
        reass_remove(st, d, RN_DROP_NONE);
        return NULL;
    }
    return d;
}

struct rn_netbuf *rn__net_reass_add(struct rn_iface *ifp, struct rn_netbuf *nb,
                                 const struct rn_ip4_hdr *ip, uint8_t *hdr, uint8_t *hlen)
{
    struct rn_stack *st = ifp->if_stack;
    uint32_t off = ip->ip_off, len = nb->nb_pktlen, end = off + len, mem;
    struct rn_netbuf **pp, *prev = NULL, *f, *whole;
    struct reass_dgram *d = reass_find(st, ip);

    if (d == NULL && (d = reass_new(ifp, ip)) == NULL) {
        rn__net_drop(st, ifp, nb, RN_DROP_FRAG_NO_MEMORY);
        return NULL;
    }
    /* The last fragment fixes the length; everyone must agree with it. */
    if ((!ip->ip_mf && d->rd_total != 0 && d->rd_total != end) ||
        (d->rd_total != 0 && end > d->rd_total)) {
        rn__net_drop(st, ifp, nb, RN_DROP_FRAG_OVERLAP);
        reass_remove(st, d, RN_DROP_FRAG_OVERLAP);
        return NULL;
    }
    for (pp = &d->rd_frags; *pp != NULL && (*pp)->nb_cb[0] < off; pp = &(*pp)->nb_nextpkt)
        prev = *pp;
    if (*pp != NULL && (*pp)->nb_cb[0] == off && (*pp)->nb_cb[1] == len) {
        rn__net_drop(st, ifp, nb, RN_DROP_FRAG_DUPLICATE);
        return NULL;
    }
    if ((prev != NULL && prev->nb_cb[0] + prev->nb_cb[1] > off) ||
        (*pp != NULL && end > (*pp)->nb_cb[0])) {
        rn__net_drop(st, ifp, nb, RN_DROP_FRAG_OVERLAP);
        reass_remove(st, d, RN_DROP_FRAG_OVERLAP);
        return NULL;
    }
    if (!ip->ip_mf) {
        /* Nothing already held may lie beyond the end. */
        for (f = d->rd_frags; f != NULL; f = f->nb_nextpkt) {
            if (f->nb_cb[0] + f->nb_cb[1] > end) {
                rn__net_drop(st, ifp, nb, RN_DROP_FRAG_OVERLAP);
                reass_remove(st, d, RN_DROP_FRAG_OVERLAP);
                return NULL;
            }
        }
        d->rd_total = end;
    }
    mem = buf_bytes(st, nb);
    while (net_st(st)->ns_reass_mem + mem > net_st(st)->ns_params.sp_reass_max_bytes &&
           net_st(st)->ns_reass_oldest != NULL && net_st(st)->ns_reass_oldest != d)
        reass_remove(st, net_st(st)->ns_reass_oldest, RN_DROP_FRAG_NO_MEMORY);
    if (net_st(st)->ns_reass_mem + mem > net_st(st)->ns_params.sp_reass_max_bytes) {
        rn__net_drop(st, ifp, nb, RN_DROP_FRAG_NO_MEMORY);
        reass_remove(st, d, RN_DROP_FRAG_NO_MEMORY);
        return NULL;
    }
    rn_nb_set_owner(nb, rn__net_types.nt_own_reass);
    nb->nb_cb[0] = off;
    nb->nb_cb[1] = len;
    nb->nb_nextpkt = *pp;
    *pp = nb;
    d->rd_have += len;
    d->rd_mem += mem;
    net_st(st)->ns_reass_mem += mem;
    if (off == 0) {
        memcpy(d->rd_hdr, hdr, *hlen);
        d->rd_hlen = *hlen;
        d->rd_ttl = ip->ip_ttl;
        d->rd_tos = ip->ip_tos;
    }
    if (d->rd_total == 0 || d->rd_have != d->rd_total)
        return NULL;

    /* Complete: no overlaps and every byte present.  Chain it up. */
    whole = d->rd_frags;
    d->rd_frags = NULL;
    for (f = whole->nb_nextpkt; f != NULL;) {
        struct rn_netbuf *next = f->nb_nextpkt;

        f->nb_nextpkt = NULL;
        rn_nb_cat(whole, f);
        f = next;
    }
    whole->nb_nextpkt = NULL;
    whole->nb_cb[0] = whole->nb_cb[1] = 0;
    rn_nb_set_owner(whole, rn__net_types.nt_own_rx);
    memcpy(hdr, d->rd_hdr, d->rd_hlen);
    *hlen = d->rd_hlen;
    reass_remove(st, d, RN_DROP_NONE);
    return whole;
}

void rn__net_reass_flush(struct rn_stack *st, struct rn_iface *ifp)
{
    struct reass_dgram *d = net_st(st)->ns_reass_oldest, *next;

    for (; d != NULL; d = next) {
        next = d->rd_age_next;
        if (ifp == NULL || d->rd_iface == ifp)
            reass_remove(st, d, RN_DROP_FRAG_TIMEOUT);
    }
}
