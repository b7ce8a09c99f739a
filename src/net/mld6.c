/*
 * MLDv2 reports (RFC 3810) for the groups an interface listens to: the
 * solicited-node group of each of its addresses (all-nodes, ff02::1, is
 * never reported, 5.2).  A switch that snoops MLD, or a multicast router,
 * then keeps sending those groups' frames (neighbour solicitations) to
 * refnet.
 *
 *   rn__net_nd_addr6_add() -> rn__net_mld6_join() -> report (change to exclude),
 *                             at the next poll and a second later
 *   rd6.c address removal  -> rn__net_mld6_leave() -> report (change to include)
 *   rn__net_icmp6_input() -> rn__net_mld6_query_input() -> report (current state)
 *                                after a random share of the query's delay
 *
 * A join is reported at the next poll and once more a second later (the
 * robustness variable, 2); the join's reports and the answer to a query
 * carry a record for every group the interface is in, which a router takes as current state
 * (a simplification of 6.1's per-group retransmission lists: a record for
 * a group already in exclude mode with no sources changes nothing).  A
 * query is taken only from a link-local source with hop limit 1 (5.1.14,
 * 5.1.15); MLDv1 queries (24 bytes) are answered with an MLDv2 report too.
 *
 * A report is a whole datagram built here: the fixed header, a hop-by-hop
 * header with the router alert (RFC 2711, value 0: MLD), the message; from
 * the link-local address, or from :: while it is tentative (5.2.13); hop
 * limit 1, to ff02::16.
 */
#include <string.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "wire/bytes.h"
#include "wire/csum.h"
#include "wire/icmpv6.h"

#define MLD_REPORT 143                /* MLDv2 listener report */
#define MLD_REC_IS_EXCLUDE 2          /* MODE_IS_EXCLUDE: current state */
#define MLD_REC_TO_INCLUDE 3          /* CHANGE_TO_INCLUDE_MODE: leave */
#define MLD_REC_TO_EXCLUDE 4          /* CHANGE_TO_EXCLUDE_MODE: join */
#define MLD_REC_LEN 20                /* a record with no sources */
#define MLD_HBH_LEN 8                 /* hop-by-hop header with the router alert */
#define MLD_REPEAT RN_SEC(1)          /* Unsolicited Report Interval */
#define MLD_ROBUSTNESS 2              /* Robustness Variable: reports per join */
#define MLD_MAX_RECORDS NET_MAX_ADDR6 /* groups an interface can be in */

/* The solicited-node groups ifp is in, each once, into g; returns how
 * many.  skip (or NULL) is an address whose group is left out unless
 * another address shares it. */
static unsigned mld_groups(const struct rn_iface *ifp, struct rn_ip6 *g,
                           const struct iface_addr6 *skip)
{
    unsigned i, j, n = 0;

    for (i = 0; i < ifp->if_naddr6; i++) {
        struct rn_ip6 sn;

        if (&ifp->if_addr6[i] == skip || ifp->if_addr6[i].a6_state == RN_ADDR6_DUPLICATE)
            continue;
        sn = rn_ip6_solicited_node(&ifp->if_addr6[i].a6_addr);
        for (j = 0; j < n && !rn_ip6_eq(&g[j], &sn); j++)
            ;
        if (j == n)
            g[n++] = sn;
    }
    return n;
}

/* Sends one report out of ifp with n records of type rec for groups g. */
static void mld_send(struct rn_iface *ifp, uint8_t rec, const struct rn_ip6 *g, unsigned n)
{
    struct rn_stack *st = ifp->if_stack;
    struct rn_ip6 dst = {{0xff, 0x02, [15] = 0x16}};
    struct rn_ip6_hdr ip;
    struct rn_netbuf *nb;
    size_t mlen = 8 + (size_t)n * MLD_REC_LEN;
    uint8_t *p, *m;
    unsigned i;

    if (n == 0)
        return;
    nb = rn__ip_alloc(st, rn__net_types.nt_own_icmp);
    if (nb == NULL)
        return;
    p = rn_nb_put(nb, RN_IP6_HLEN + MLD_HBH_LEN + mlen);
    if (p == NULL) {
        rn__net_drop(st, ifp, nb, RN_DROP_NO_BUFFER);
        return;
    }
    memset(&ip, 0, sizeof(ip));
    ip.ip6_plen = (uint16_t)(MLD_HBH_LEN + mlen);
    ip.ip6_nxt = RN_IP6_NH_HOPOPTS;
    ip.ip6_hlim = 1;
    ip.ip6_dst = dst;
    if (ifp->if_naddr6 > 0 && rn_ip6_is_linklocal(&ifp->if_addr6[0].a6_addr) &&
        rn__net_addr6_usable(&ifp->if_addr6[0]))
        ip.ip6_src = ifp->if_addr6[0].a6_addr;
    rn__ip6_emit(p, &ip);
    /* Hop-by-hop: next header ICMPv6, length 0 (8 bytes), router alert
     * (type 5, length 2, value 0), PadN of 2. */
    m = p + RN_IP6_HLEN;
    memcpy(m, (const uint8_t[]){RN_IPPROTO_ICMPV6, 0, 5, 2, 0, 0, 1, 0}, MLD_HBH_LEN);
    m += MLD_HBH_LEN;
    memset(m, 0, mlen);
    m[0] = MLD_REPORT;
    rn_put_be16(m + 6, (uint16_t)n);
    for (i = 0; i < n; i++) {
        uint8_t *r = m + 8 + i * MLD_REC_LEN;

        r[0] = rec;
        memcpy(r + 4, g[i].i6_octet, RN_IP6_LEN);
    }
    rn__icmp6_set_csum(m, mlen, &ip.ip6_src, &dst);
    /* Counted in mld.reports_out, not icmp6.out (as neighbour discovery
     * is in nd.out). */
    net_st(st)->ns_ip6_out++;
    net_st(st)->ns_mld_reports_out++;
    rn__net_nd_output(ifp, nb, &dst);
}

/* Sends a report of every group ifp is in, as rec. */
static void mld_send_all(struct rn_iface *ifp, uint8_t rec)
{
    struct rn_ip6 g[MLD_MAX_RECORDS];

    mld_send(ifp, rec, g, mld_groups(ifp, g, NULL));
}

static void mld_timer(struct rn_timer *t, rn_time_t now)
{
    struct rn_iface *ifp = (struct rn_iface *)((char *)t - offsetof(struct rn_iface, if_mld_timer));

    /* A join (its first report and its repeat), which answers a pending
     * query as well; else the answer to a query: every group's state. */
    if (ifp->if_mld_left > 0) {
        mld_send_all(ifp, MLD_REC_TO_EXCLUDE);
        ifp->if_mld_answer = false;
        if (--ifp->if_mld_left > 0)
            rn_timer_arm(&ifp->if_stack->st_timers, &ifp->if_mld_timer, now + MLD_REPEAT);
        return;
    }
    if (ifp->if_mld_answer)
        mld_send_all(ifp, MLD_REC_IS_EXCLUDE);
    ifp->if_mld_answer = false;
}

void rn__net_mld6_iface_up(struct rn_iface *ifp)
{
    rn_timer_init(&ifp->if_mld_timer, mld_timer);
}

void rn__net_mld6_join(struct rn_iface *ifp, const struct iface_addr6 *a)
{
    struct rn_stack *st = ifp->if_stack;
    struct rn_ip6 sn = rn_ip6_solicited_node(&a->a6_addr);
    struct rn_ip6 g[MLD_MAX_RECORDS];
    unsigned i, n = mld_groups(ifp, g, a);

    for (i = 0; i < n; i++)
        if (rn_ip6_eq(&g[i], &sn))
            return;  /* in it already, through another address */
    /* At the next poll, so that a batch of addresses is reported
     * together (as DAD probes them), then once more. */
    ifp->if_mld_left = MLD_ROBUSTNESS;
    rn_timer_arm(&st->st_timers, &ifp->if_mld_timer, st->st_now);
}

void rn__net_mld6_leave(struct rn_iface *ifp, const struct iface_addr6 *a)
{
    struct rn_ip6 sn = rn_ip6_solicited_node(&a->a6_addr);
    struct rn_ip6 g[MLD_MAX_RECORDS];
    unsigned i, n = mld_groups(ifp, g, a);

    for (i = 0; i < n; i++)
        if (rn_ip6_eq(&g[i], &sn))
            return;  /* another address keeps it */
    mld_send(ifp, MLD_REC_TO_INCLUDE, &sn, 1);
}

void rn__net_mld6_query_input(struct rn_stack *st, const struct rn_icmp6_hdr *ic,
                              const struct ip6_rx *rx)
{
    struct rn_iface *ifp = rx->r6_iface;
    struct rn_ip6 group;
    uint32_t max_ms;
    uint16_t code;

    /* 5.1.14, 5.1.15: from a link-local address, hop limit 1; 24 bytes
     * (MLDv1) or 28 and more (MLDv2). */
    if (!rn_ip6_is_linklocal(&rx->r6_src) || rx->r6_hlim != 1 || ic->ic6_code != 0 ||
        (ic->ic6_datalen != 16 && ic->ic6_datalen < 20)) {
        rn__stack_count_drop(st, ifp, RN_DROP_BAD_MLD);
        return;
    }
    net_st(st)->ns_mld_queries_in++;
    memcpy(group.i6_octet, ic->ic6_data, RN_IP6_LEN);
    if (!rn_ip6_is_any(&group)) {
        struct rn_ip6 g[MLD_MAX_RECORDS];
        unsigned i, n = mld_groups(ifp, g, NULL);

        for (i = 0; i < n && !rn_ip6_eq(&g[i], &group); i++)
            ;
        if (i == n)
            return;  /* about a group we are not in */
    }
    /* The maximum response delay, ms: MLDv1 and small MLDv2 codes as is,
     * larger MLDv2 codes as mantissa and exponent (5.1.3). */
    code = (uint16_t)(ic->ic6_rest >> 16);
    max_ms = ic->ic6_datalen == 16 || code < 32768
                 ? code
                 : (uint32_t)((code & 0x0fff) | 0x1000) << (((code >> 12) & 7) + 3);
    /* One answer pending at a time; an earlier one, or a join's report,
     * stands (6.2). */
    if (rn_timer_armed(&ifp->if_mld_timer)) {
        ifp->if_mld_answer = ifp->if_mld_answer || ifp->if_mld_left == 0;
        return;
    }
    ifp->if_mld_answer = true;
    rn_timer_arm(&st->st_timers, &ifp->if_mld_timer,
                 st->st_now + RN_MSEC((rn_time_t)rn__net_rd6_rand(st, (uint64_t)max_ms + 1)));
}

void rn__net_mld6_flush_iface(struct rn_iface *ifp)
{
    rn_timer_cancel(&ifp->if_stack->st_timers, &ifp->if_mld_timer);
}
