/*
 * The wire recorder (support.h, "The wire"): a link filter on stack a's
 * end of the pair's cable that decodes every IPv4 TCP and UDP frame
 * crossing it, both ways, into a struct wire_seg, with the time it
 * crossed; and that drops the frames a test's predicate names, so that a
 * test can make a path lose what it wants (a peer's ACKs, everything from
 * a) and see what the stacks do about it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/link.h"
#include "refnet/netbuf.h"
#include "support.h"
#include "wire/tcp.h"

struct wire_rec {
    struct rn_link wr_link;
    struct wire_seg *wr_segs;   /* wr_n recorded, room for wr_cap */
    unsigned wr_n, wr_cap;
};

static struct wire_rec *rec_now;  /* the recorder of the pair, or NULL */
static wire_drop_fn drop_fn;
static void *drop_ctx;

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decodes a frame into *s.  Returns false if it is no IPv4 TCP or UDP
 * frame (ARP, ICMP, a fragment after the first). */
static bool decode(const struct rn_netbuf *nb, struct wire_seg *s)
{
    uint8_t buf[RN_ETH_HLEN + 60 + 60];
    size_t n = nb->nb_pktlen < sizeof(buf) ? nb->nb_pktlen : sizeof(buf), ihl;
    const uint8_t *ip = buf + RN_ETH_HLEN, *l4;
    uint32_t iplen;

    memset(s, 0, sizeof(*s));
    if (n < RN_ETH_HLEN + 20 || rn_nb_copyout(nb, 0, buf, n) < 0 || buf[12] != 0x08 ||
        buf[13] != 0x00 || (ip[0] >> 4) != 4)
        return false;
    ihl = (size_t)(ip[0] & 15) * 4;
    iplen = be16(ip + 2);
    if ((be16(ip + 6) & 0x1fff) != 0 || n < RN_ETH_HLEN + ihl + 8)
        return false;
    l4 = ip + ihl;
    s->ws_proto = ip[9];
    s->ws_tos = ip[1];
    s->ws_ttl = ip[8];
    s->ws_src = be32(ip + 12);
    s->ws_dst = be32(ip + 16);
    s->ws_sport = be16(l4);
    s->ws_dport = be16(l4 + 2);
    s->ws_wscale = -1;
    if (s->ws_proto == 17) {
        s->ws_len = be16(l4 + 4) - 8u;
        return true;
    }
    if (s->ws_proto != 6 || n < RN_ETH_HLEN + ihl + 20) {
        return false;
    } else {
        size_t doff = (size_t)(l4[12] >> 4) * 4;
        struct rn_tcp_opts to;

        s->ws_seq = be32(l4 + 4);
        s->ws_ack = be32(l4 + 8);
        s->ws_flags = l4[13];
        s->ws_win = be16(l4 + 14);
        s->ws_len = iplen - (uint32_t)ihl - (uint32_t)doff;
        memset(&to, 0, sizeof(to));
        if (doff > 20 && n >= RN_ETH_HLEN + ihl + doff &&
            rn__tcp_opts_parse(l4 + 20, doff - 20, &to) == RN_DROP_NONE) {
            if (to.to_present & RN_TCPOPT_F_MSS)
                s->ws_mss = to.to_mss;
            if (to.to_present & RN_TCPOPT_F_WSCALE)
                s->ws_wscale = to.to_wscale;
            s->ws_sack_ok = (to.to_present & RN_TCPOPT_F_SACK_PERM) != 0;
            s->ws_ts = (to.to_present & RN_TCPOPT_F_TS) != 0;
            s->ws_nsacks = (to.to_present & RN_TCPOPT_F_SACK) ? to.to_nsacks : 0;
        }
        n = s->ws_len < sizeof(s->ws_data) ? s->ws_len : sizeof(s->ws_data);
        if (n > 0)
            (void)rn_nb_copyout(nb, RN_ETH_HLEN + ihl + doff, s->ws_data, n);
    }
    return true;
}

/* Records the frames of pkts (n of them), and drops those the predicate
 * names, compacting pkts.  Returns how many are left. */
static unsigned record(struct wire_rec *wr, struct rn_netbuf **pkts, unsigned n, bool from_a,
                       rn_time_t t)
{
    unsigned i, kept = 0;

    for (i = 0; i < n; i++) {
        struct wire_seg s;
        bool drop = false;

        if (decode(pkts[i], &s)) {
            s.ws_time = t;
            s.ws_from_a = from_a;
            drop = drop_fn != NULL && drop_fn(&s, drop_ctx);
            s.ws_dropped = drop;
            if (wr->wr_n == wr->wr_cap) {
                wr->wr_cap = wr->wr_cap ? wr->wr_cap * 2 : 256;
                wr->wr_segs = realloc(wr->wr_segs, wr->wr_cap * sizeof(*wr->wr_segs));
                assert_non_null(wr->wr_segs);
            }
            wr->wr_segs[wr->wr_n++] = s;
        }
        if (drop)
            rn_nb_free(pkts[i]);
        else
            pkts[kept++] = pkts[i];
    }
    return kept;
}

static int wire_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t t)
{
    unsigned kept = record((struct wire_rec *)link, pkts, n, true, t);

    if (kept == 0)
        return (int)n;  /* lost on the way, as far as the sender knows */
    return rn_link_tx(link->lk_lower, pkts, kept, t) < 0 ? -1 : (int)n;
}

static int wire_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t t)
{
    int n = rn_link_rx(link->lk_lower, pkts, max, t);

    if (n <= 0)
        return n;
    return (int)record((struct wire_rec *)link, pkts, (unsigned)n, false, t);
}

static void wire_close(struct rn_link *link)
{
    struct wire_rec *wr = (struct wire_rec *)link;

    rn_link_close(link->lk_lower);
    if (rec_now == wr)
        rec_now = NULL;
    drop_fn = NULL;
    drop_ctx = NULL;
    free(wr->wr_segs);
    free(wr);
}

static const struct rn_link_ops wire_ops = {
    .kind = "wire-recorder",
    .tx = wire_tx,
    .rx = wire_rx,
    .close = wire_close,
    .tx_keeps_none = true,
};

struct rn_link *wire_wrap(struct rn_link *end)
{
    struct wire_rec *wr = calloc(1, sizeof(*wr));

    assert_non_null(wr);
    rn_link_init(&wr->wr_link, &wire_ops, end, "wire");
    rec_now = wr;
    return &wr->wr_link;
}

void wire_drop(wire_drop_fn fn, void *ctx)
{
    drop_fn = fn;
    drop_ctx = ctx;
}

unsigned wire_count(void)
{
    return rec_now != NULL ? rec_now->wr_n : 0;
}

const struct wire_seg *wire_at(unsigned i)
{
    assert_non_null(rec_now);
    assert_true(i < rec_now->wr_n);
    return &rec_now->wr_segs[i];
}

void wire_clear(void)
{
    if (rec_now != NULL)
        rec_now->wr_n = 0;
}

const struct wire_seg *wire_find(unsigned from, bool from_a, uint8_t flags_set,
                                 uint8_t flags_clear, bool data)
{
    unsigned i;

    for (i = from; i < wire_count(); i++) {
        const struct wire_seg *s = wire_at(i);

        if (s->ws_proto == 6 && s->ws_from_a == from_a && (s->ws_flags & flags_set) == flags_set &&
            !(s->ws_flags & flags_clear) && (!data || s->ws_len > 0))
            return s;
    }
    return NULL;
}
