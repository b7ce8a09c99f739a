/*
 * The simulator's trace: a link filter on every cable end that writes one
 * line per frame crossing it, and the one-line frame summaries it uses
 * (sim.h, "The trace").
 *
 * Where it sits on each end of a cable, top to bottom:
 *
 *     stack -> [capture] -> trace -> fault -> sim cable end
 *
 * so it records what the stack sent, before the fault filter decides the
 * frame's fate, and what the stack received, after.  Summaries come from
 * the wire parsers (src/wire); they read only the frame's bytes, never
 * state, so two runs of one seed print the same lines.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_priv.h"
#include "refnet/error.h"
#include "refnet/netbuf.h"
#include "wire/wire.h"

/* ---- Frame summaries ------------------------------------------------------ */

static void put_addr(struct rn_strbuf *sb, uint32_t a)
{
    char buf[RN_IP4_STRLEN];

    rn_strbuf_puts(sb, rn_ip4_addr_fmt(a, buf));
}

static void summary_arp(const uint8_t *p, size_t len, struct rn_strbuf *sb)
{
    struct rn_arp ar;
    enum rn_drop reason = rn__arp_parse(p, len, &ar);
    char mac[RN_MAC_STRLEN];

    if (reason != RN_DROP_NONE) {
        rn_strbuf_printf(sb, "ARP bad (%s)", rn_drop_name(reason));
        return;
    }
    if (ar.ar_op == RN_ARP_OP_REQUEST && ar.ar_spa == ar.ar_tpa) {
        rn_strbuf_puts(sb, "ARP announce ");
        put_addr(sb, ar.ar_spa);
    } else if (ar.ar_op == RN_ARP_OP_REQUEST) {
        rn_strbuf_puts(sb, "ARP who-has ");
        put_addr(sb, ar.ar_tpa);
        rn_strbuf_puts(sb, " tell ");
        put_addr(sb, ar.ar_spa);
    } else {
        rn_strbuf_puts(sb, "ARP reply ");
        put_addr(sb, ar.ar_spa);
        rn_strbuf_printf(sb, " is-at %s", rn_mac_fmt(&ar.ar_sha, mac));
    }
}

static const char *icmp_name(uint8_t type, uint8_t code)
{
    switch (type) {
    case RN_ICMP_ECHO:
        return "echo";
    case RN_ICMP_ECHO_REPLY:
        return "echo-reply";
    case RN_ICMP_DEST_UNREACH:
        switch (code) {
        case RN_ICMP_UNREACH_NET:
            return "unreach-net";
        case RN_ICMP_UNREACH_HOST:
            return "unreach-host";
        case RN_ICMP_UNREACH_PROTO:
            return "unreach-proto";
        case RN_ICMP_UNREACH_PORT:
            return "unreach-port";
        case RN_ICMP_UNREACH_FRAG_NEEDED:
            return "unreach-frag-needed";
        }
        return NULL;
    case RN_ICMP_TIME_EXCEEDED:
        return code == RN_ICMP_TIMXCEED_TTL     ? "time-exceeded-ttl"
               : code == RN_ICMP_TIMXCEED_REASM ? "time-exceeded-reass"
                                                : NULL;
    }
    return NULL;
}

static void addrs(struct rn_strbuf *sb, const struct rn_ip4_hdr *ip)
{
    put_addr(sb, ip->ip_src);
    rn_strbuf_puts(sb, " > ");
    put_addr(sb, ip->ip_dst);
}

static void addr_ports(struct rn_strbuf *sb, const struct rn_ip4_hdr *ip, const uint8_t *l4)
{
    put_addr(sb, ip->ip_src);
    rn_strbuf_printf(sb, ":%u > ", rn_get_be16(l4));
    put_addr(sb, ip->ip_dst);
    rn_strbuf_printf(sb, ":%u", rn_get_be16(l4 + 2));
}

/* The transport part of an IPv4 datagram whose payload starts at l4 with
 * n bytes; whole is false for a first fragment, whose checksum cannot be
 * checked. */
static void summary_l4(const struct rn_ip4_hdr *ip, const uint8_t *l4, size_t n, bool whole,
                       struct rn_strbuf *sb)
{
    enum rn_drop reason = RN_DROP_NONE;

    switch (ip->ip_proto) {
    case RN_IPPROTO_ICMP: {
        const char *name;

        if (n < RN_ICMP_HLEN) {
            rn_strbuf_puts(sb, "ICMP ");
            addrs(sb, ip);
            rn_strbuf_puts(sb, " bad (truncated)");
            return;
        }
        name = icmp_name(l4[0], l4[1]);
        if (name != NULL)
            rn_strbuf_printf(sb, "ICMP %s ", name);
        else
            rn_strbuf_printf(sb, "ICMP type %u code %u ", l4[0], l4[1]);
        addrs(sb, ip);
        if (l4[0] == RN_ICMP_ECHO || l4[0] == RN_ICMP_ECHO_REPLY)
            rn_strbuf_printf(sb, " id %u seq %u", rn_get_be16(l4 + 4), rn_get_be16(l4 + 6));
        else if (l4[0] == RN_ICMP_DEST_UNREACH && l4[1] == RN_ICMP_UNREACH_FRAG_NEEDED)
            rn_strbuf_printf(sb, " mtu %u", rn_get_be16(l4 + 6));
        rn_strbuf_printf(sb, " len %u", ip->ip_len);
        if (whole) {
            struct rn_icmp_hdr ic;

            reason = rn__icmp_parse(l4, n, &ic);
        }
        break;
    }
    case RN_IPPROTO_UDP: {
        unsigned ulen;

        rn_strbuf_puts(sb, "UDP ");
        if (n < RN_UDP_HLEN) {
            addrs(sb, ip);
            rn_strbuf_puts(sb, " bad (truncated)");
            return;
        }
        addr_ports(sb, ip, l4);
        ulen = rn_get_be16(l4 + 4);
        rn_strbuf_printf(sb, " len %u", ulen >= RN_UDP_HLEN ? ulen - RN_UDP_HLEN : 0u);
        if (whole) {
            struct rn_udp_hdr uh;

            reason = rn__udp_parse4(l4, n, ip->ip_src, ip->ip_dst, 0, &uh);
        }
        break;
    }
    case RN_IPPROTO_TCP: {
        static const struct {
            uint8_t bit;
            char c;
        } flags[] = {{RN_TCP_SYN, 'S'}, {RN_TCP_FIN, 'F'}, {RN_TCP_RST, 'R'},
                     {RN_TCP_PSH, 'P'}, {RN_TCP_URG, 'U'}, {RN_TCP_ECE, 'E'},
                     {RN_TCP_CWR, 'W'}, {RN_TCP_ACK, '.'}};
        size_t hlen, i;

        rn_strbuf_puts(sb, "TCP ");
        if (n < RN_TCP_HLEN) {
            addrs(sb, ip);
            rn_strbuf_puts(sb, " bad (truncated)");
            return;
        }
        addr_ports(sb, ip, l4);
        rn_strbuf_puts(sb, " [");
        for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
            if (l4[13] & flags[i].bit)
                rn_strbuf_append(sb, &flags[i].c, 1);
        }
        hlen = (size_t)(l4[12] >> 4) * 4;
        rn_strbuf_printf(sb, "] seq %u ack %u win %u len %zu", rn_get_be32(l4 + 4),
                         rn_get_be32(l4 + 8), rn_get_be16(l4 + 14),
                         hlen <= n ? n - hlen : (size_t)0);
        if (whole) {
            struct rn_tcp_hdr th;

            reason = rn__tcp_parse4(l4, n, ip->ip_src, ip->ip_dst, 0, &th);
        }
        break;
    }
    default:
        rn_strbuf_puts(sb, "IPv4 ");
        addrs(sb, ip);
        rn_strbuf_printf(sb, " proto %u len %u", ip->ip_proto, ip->ip_len);
        break;
    }
    if (reason != RN_DROP_NONE)
        rn_strbuf_printf(sb, " bad (%s)", rn_drop_name(reason));
}

static void summary_ip(const uint8_t *p, size_t len, struct rn_strbuf *sb)
{
    struct rn_ip4_hdr ip;
    enum rn_drop reason = rn__ip4_parse(p, len, &ip);

    if (reason != RN_DROP_NONE) {
        rn_strbuf_printf(sb, "IPv4 bad (%s)", rn_drop_name(reason));
        return;
    }
    if (ip.ip_off != 0) {
        rn_strbuf_puts(sb, "IPv4 ");
        addrs(sb, &ip);
        rn_strbuf_printf(sb, " proto %u frag id %u off %u len %u%s", ip.ip_proto, ip.ip_id,
                         ip.ip_off, ip.ip_paylen, ip.ip_mf ? " MF" : "");
        return;
    }
    summary_l4(&ip, ip.ip_payload, ip.ip_paylen, !ip.ip_mf, sb);
    if (ip.ip_mf)
        rn_strbuf_printf(sb, " frag id %u off 0 len %u MF", ip.ip_id, ip.ip_paylen);
}

void rn_sim_frame_summary(const uint8_t *f, size_t len, struct rn_strbuf *sb)
{
    struct rn_eth_hdr eh;
    enum rn_drop reason = rn__eth_parse(f, len, &eh);

    if (reason == RN_DROP_TRUNCATED || reason == RN_DROP_BAD_ETH) {
        rn_strbuf_printf(sb, "ether bad (%s)", rn_drop_name(reason));
        return;
    }
    switch (eh.eh_type) {
    case RN_ETHERTYPE_ARP:
        summary_arp(eh.eh_payload, eh.eh_paylen, sb);
        break;
    case RN_ETHERTYPE_IPV4:
        summary_ip(eh.eh_payload, eh.eh_paylen, sb);
        break;
    default:
        rn_strbuf_printf(sb, "ether type 0x%04x", eh.eh_type);
        break;
    }
}

/* ---- Trace lines ---------------------------------------------------------- */

static uint32_t fnv1a32(const uint8_t *p, size_t n)
{
    uint32_t h = 0x811c9dc5u;

    while (n-- > 0)
        h = (h ^ *p++) * 0x01000193u;
    return h;
}

static uint64_t fnv1a64(uint64_t h, const char *p, size_t n)
{
    while (n-- > 0)
        h = (h ^ (unsigned char)*p++) * 0x100000001b3ull;
    return h;
}

/* Writes the trace line of one frame. */
static void trace_frame(struct sim_trace *tr, const char *label, char dir,
                        const struct rn_netbuf *nb, rn_time_t now)
{
    size_t len = nb->nb_pktlen;
    struct rn_strbuf *line = &tr->tr_line;

    if (len > tr->tr_scratch_cap) {
        size_t cap = len < 2048 ? 2048 : len;
        uint8_t *s = realloc(tr->tr_scratch, cap);

        if (s == NULL)
            return;  /* the line is lost; the digest says so by differing */
        tr->tr_scratch = s;
        tr->tr_scratch_cap = cap;
    }
    rn_nb_linearize(nb, tr->tr_scratch, tr->tr_scratch_cap);
    rn_strbuf_reset(line);
    rn_strbuf_printf(line, "%llu.%09llu %s %c %zu ", (unsigned long long)(now / RN_NSEC_PER_SEC),
                     (unsigned long long)(now % RN_NSEC_PER_SEC), label, dir, len);
    rn_sim_frame_summary(tr->tr_scratch, len, line);
    rn_strbuf_printf(line, " [%08x]\n", fnv1a32(tr->tr_scratch, len));
    tr->tr_digest = fnv1a64(tr->tr_digest, rn_strbuf_str(line), line->sb_len);
    tr->tr_lines++;
    if (tr->tr_file != NULL)
        fputs(rn_strbuf_str(line), tr->tr_file);
    if (tr->tr_sb != NULL)
        rn_strbuf_append(tr->tr_sb, rn_strbuf_str(line), line->sb_len);
}

void rn__sim_trace_fini(struct sim_trace *tr)
{
    rn_strbuf_free(&tr->tr_line);
    free(tr->tr_scratch);
    tr->tr_scratch = NULL;
    tr->tr_scratch_cap = 0;
}

void rn_sim_trace_to_file(struct rn_sim *sim, FILE *f)
{
    sim->sim_trace.tr_file = f;
}

void rn_sim_trace_to_strbuf(struct rn_sim *sim, struct rn_strbuf *sb)
{
    sim->sim_trace.tr_sb = sb;
}

uint64_t rn_sim_trace_digest(const struct rn_sim *sim, uint64_t *lines)
{
    if (lines != NULL)
        *lines = sim->sim_trace.tr_lines;
    return sim->sim_trace.tr_digest;
}

/* ---- The trace filter ------------------------------------------------------ */

struct trace_link {
    struct rn_link tl_link;   /* [L] common part; first */
    struct sim_trace *tl_tr;  /* [I] the sim's trace */
    char tl_label[40];        /* [I] "c1.a" */
};

static int trace_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t now)
{
    struct trace_link *tl = (struct trace_link *)link;
    unsigned i;

    for (i = 0; i < n; i++) {
        trace_frame(tl->tl_tr, tl->tl_label, '>', pkts[i], now);
        link->lk_stats.ls_tx_frames++;
        link->lk_stats.ls_tx_bytes += pkts[i]->nb_pktlen;
    }
    return rn_link_tx(link->lk_lower, pkts, n, now);
}

static int trace_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t now)
{
    struct trace_link *tl = (struct trace_link *)link;
    int n = rn_link_rx(link->lk_lower, pkts, max, now), i;

    for (i = 0; i < n; i++) {
        trace_frame(tl->tl_tr, tl->tl_label, '<', pkts[i], now);
        link->lk_stats.ls_rx_frames++;
        link->lk_stats.ls_rx_bytes += pkts[i]->nb_pktlen;
    }
    return n;
}

static void trace_close(struct rn_link *link)
{
    rn_link_close(link->lk_lower);
    free(link);
}

static const struct rn_link_ops trace_ops = {
    .kind = "sim-trace",
    .tx = trace_tx,
    .rx = trace_rx,
    .values = NULL,
    .close = trace_close,
    .tx_keeps_none = true,
};

int rn__sim_trace_open(struct rn_sim *sim, struct rn_link *lower, const char *label,
                       struct rn_link **out)
{
    struct trace_link *tl = calloc(1, sizeof(*tl));

    assert(sim != NULL && lower != NULL && out != NULL);
    if (tl == NULL)
        return RN_ENOMEM;
    tl->tl_tr = &sim->sim_trace;
    snprintf(tl->tl_label, sizeof(tl->tl_label), "%s", label);
    rn_link_init(&tl->tl_link, &trace_ops, lower, "trace");
    *out = &tl->tl_link;
    return 0;
}
