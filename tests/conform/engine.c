/*
 * The conformance engine (conform.h): the stack under test on one end of a
 * simulated cable, the scripted peer on the other, in virtual time.
 *
 * The peer has no TCP of its own.  It builds every frame a case injects
 * (Ethernet, IPv4 or IPv6, TCP, options as written, payload from a known
 * pattern), answers the stack's ARP requests and neighbour solicitations
 * at once, and decodes every segment the stack sends into an outbox,
 * stamped with the virtual time it arrived.
 *
 * Over IPv6 (cf_use_ipv6()) the cases run unchanged: the addresses a case
 * writes (198.18.0.2 and any other) stand for 2001:2::/96 with the IPv4
 * address as the last 32 bits (198.18.0.2 is 2001:2::c612:2), TTL is the
 * hop limit and TOS the traffic class, and the cable's MTU is 20 bytes
 * larger, so that the segments, the MSS and the windows are those of the
 * IPv4 run: only the network header differs.
 * A step that expects a segment takes the oldest one from the outbox and
 * compares it field by field; a segment nobody expected is a failure.
 *
 * Both sequence spaces are written relative to their initial sequence
 * numbers, as packetdrill writes them: the peer's from its ISN (settable),
 * the stack's from the ISN its first SYN carried.  The engine keeps a model
 * of both, from the wire alone, so that a case can name RFC 9293's
 * variables (RCV.NXT, RCV.WND, SND.NXT, SND.UNA, SEG.SEQ, SEG.ACK, SEG.LEN)
 * instead of numbers.
 *
 * Time: the cable has no latency unless a case asks for some, so an answer
 * arrives at the instant its cause left; "+0.2" means exactly 200 ms after
 * the previous step.
 */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conform.h"
#include "refnet/error.h"
#include "refnet/link.h"
#include "refnet/netbuf.h"
#include "refnet/stack.h"
#include "refnet/tcp.h"
#include "support.h"
#include "transport/tcp.h"
#include "transport/tcp_priv.h"
#include "wire/csum.h"
#include "wire/tcp.h"

#define DUT_ADDR 0xc6120002u   /* 198.18.0.2, the stack under test */
#define PEER_ADDR 0xc6120001u  /* 198.18.0.1, the scripted peer */
#define DUT_PORT 8080          /* where the stack listens */
#define PEER_PORT 40000        /* the peer's port */
#define PEER_ISS_DEFAULT 1000000u
#define PEER_TS_BASE 10000u    /* the peer's timestamp clock at the case's start */
#define MAX_CONNS 8
#define MAX_PAYLOAD 65536
#define WILD UINT64_MAX        /* a "?" in an expected field */
#define IP6_HLEN 40
#define ETH_IP6 0x86dd

/* The family every world opens with (cf_use_ipv6()). */
static bool cf_ipv6;

static const uint8_t dut_mac[6] = {0x02, 0x52, 0x4e, 0x00, 0x00, 0x02};
static const uint8_t peer_mac[6] = {0x02, 0x52, 0x4e, 0x00, 0x00, 0x01};

/* One TCP option as written or decoded (NOP and EOL are padding). */
struct cf_opt {
    uint8_t co_kind;             /* RN_TCPOPT_* */
    uint64_t co_v[2];            /* MSS, WS: v[0]; TS: val, ecr; WILD allowed in expects */
    unsigned co_nblocks;         /* SACK */
    uint64_t co_blocks[4][2];    /* SACK, relative to the receiver's ISN */
};

/* A segment seen from the stack. */
struct cf_seg {
    rn_time_t cs_time;
    uint32_t cs_src, cs_dst;
    uint16_t cs_sport, cs_dport;
    uint8_t cs_tos, cs_ttl;
    uint8_t cs_flags;
    uint32_t cs_seq, cs_ack;
    uint16_t cs_win;
    struct cf_opt cs_opts[12];
    unsigned cs_nopts;
    uint32_t cs_len;
    uint8_t *cs_payload;         /* cs_len bytes, malloc'd */
};

/* What the user of a connection or the listener was told. */
struct cf_user {
    struct cf_world *cu_w;
    int cu_connected;            /* 1, an error, or 0 */
    int cu_error;                /* tu_error's, or 0 */
    unsigned cu_readable, cu_writable, cu_acceptable;
};

struct cf_world {
    struct rn_stack *w_st;
    bool w_v6;                   /* the cases run over IPv6 */
    struct rn_link *w_peer;      /* the peer's end of the cable */
    struct rn_nbpool *w_pool;    /* the stack's: the peer builds its frames there */
    rn_nb_owner_t w_own;         /* the peer's frames */
    rn_time_t w_now;
    rn_time_t w_t0;              /* the case's time 0 */
    rn_time_t w_last;            /* the time of the previous timed step */
    rn_time_t w_latency;
    uint16_t w_ipid;

    /* The model, from the wire. */
    uint32_t w_peer_iss;         /* absolute */
    uint32_t w_peer_nxt;         /* highest sequence the peer sent, plus one */
    bool w_peer_sent;
    uint32_t w_dut_iss;
    bool w_dut_iss_known;
    uint32_t w_dut_nxt;          /* highest the stack sent, plus one */
    uint32_t w_dut_ack;          /* the stack's last acknowledgment */
    bool w_dut_ack_known;
    uint32_t w_dut_win;          /* its last window, in bytes */
    bool w_dut_win_known;
    int w_dut_ws;                /* shift the stack offered, -1 none */
    int w_peer_ws;               /* shift the peer offered, -1 none */
    uint32_t w_dut_tsval;        /* its last TSval */
    uint32_t w_snd_una;          /* the peer's highest acknowledgment */
    bool w_snd_una_known;
    uint16_t w_dut_port;         /* learnt from its first segment if it connects */
    uint16_t w_peer_port;
    struct cf_seg w_lastin;      /* SEG.*: the last segment injected */
    uint32_t w_lastin_seglen;

    /* The user's side. */
    struct tcp_uopts w_uo;       /* socket options for the next listen or connect */
    bool w_uo_set;               /* a sockopt step set one */
    struct tcp_listener *w_l;
    struct cf_user w_lu;
    struct tcp_conn *w_c[MAX_CONNS];  /* held by socket.endpoint */
    struct cf_user w_cu[MAX_CONNS];
    unsigned w_nc;
    unsigned w_cur;              /* the connection steps act on */
    bool w_had_conn;             /* the user connected or accepted */
    uint64_t w_written;          /* stream offset of the next byte written */
    uint64_t w_read;             /* stream offset of the next byte read */

    /* What the stack sent and nobody has matched yet, and everything. */
    struct cf_seg *w_out;
    unsigned w_nout, w_capout;
    char w_log[16384];           /* the wire so far, for failure reports */
    size_t w_loglen;

    /* Counters at the start. */
    struct {
        char name[48];
        uint64_t value;
    } w_base[96];
    unsigned w_nbase;
};

/* ---- Errors ------------------------------------------------------------ */

static int cf_fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int cf_fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- Data patterns ----------------------------------------------------- */

static uint8_t peer_byte(uint32_t off)
{
    return (uint8_t)(off * 13u + 5u);
}

static uint8_t dut_byte(uint64_t off)
{
    return (uint8_t)(off * 7u + 3u);
}

/* ---- Segment text ------------------------------------------------------ */

static void flags_str(uint8_t f, char *buf)
{
    char *p = buf;

    if (f & RN_TCP_SYN)
        *p++ = 'S';
    if (f & RN_TCP_FIN)
        *p++ = 'F';
    if (f & RN_TCP_RST)
        *p++ = 'R';
    if (f & RN_TCP_PSH)
        *p++ = 'P';
    if (f & RN_TCP_URG)
        *p++ = 'U';
    if (f & RN_TCP_ECE)
        *p++ = 'E';
    if (f & RN_TCP_CWR)
        *p++ = 'W';
    if (f & RN_TCP_ACK)
        *p++ = '.';
    if (p == buf)
        *p++ = '-';
    *p = 0;
}

/* A segment in the language's notation, relative numbers, from_dut
 * telling which side sent it. */
static void seg_str(const struct cf_world *w, const struct cf_seg *s, bool from_dut, char *buf,
                    size_t len)
{
    uint32_t sbase = from_dut ? w->w_dut_iss : w->w_peer_iss;
    uint32_t abase = from_dut ? w->w_peer_iss : w->w_dut_iss;
    uint32_t seqlen = s->cs_len + ((s->cs_flags & RN_TCP_SYN) ? 1 : 0) +
                      ((s->cs_flags & RN_TCP_FIN) ? 1 : 0);
    char f[16];
    size_t n;
    unsigned i, j;

    (void)seqlen;
    flags_str(s->cs_flags, f);
    n = (size_t)snprintf(buf, len, "%s %u:%u(%u)", f, s->cs_seq - sbase,
                         s->cs_seq - sbase + s->cs_len, s->cs_len);
    if (n < len && (s->cs_flags & RN_TCP_ACK))
        n += (size_t)snprintf(buf + n, len - n, " ack %u", s->cs_ack - abase);
    if (n < len)
        n += (size_t)snprintf(buf + n, len - n, " win %u", s->cs_win);
    if (n < len && s->cs_nopts > 0) {
        n += (size_t)snprintf(buf + n, len - n, " <");
        for (i = 0; i < s->cs_nopts && n < len; i++) {
            const struct cf_opt *o = &s->cs_opts[i];
            const char *sep = i ? "," : "";

            switch (o->co_kind) {
            case RN_TCPOPT_MSS:
                n += (size_t)snprintf(buf + n, len - n, "%smss %llu", sep,
                                      (unsigned long long)o->co_v[0]);
                break;
            case RN_TCPOPT_WSCALE:
                n += (size_t)snprintf(buf + n, len - n, "%swscale %llu", sep,
                                      (unsigned long long)o->co_v[0]);
                break;
            case RN_TCPOPT_SACK_PERM:
                n += (size_t)snprintf(buf + n, len - n, "%ssackOK", sep);
                break;
            case RN_TCPOPT_TS:
                n += (size_t)snprintf(buf + n, len - n, "%sTS val %llu ecr %llu", sep,
                                      (unsigned long long)o->co_v[0],
                                      (unsigned long long)o->co_v[1]);
                break;
            case RN_TCPOPT_SACK:
                n += (size_t)snprintf(buf + n, len - n, "%ssack", sep);
                for (j = 0; j < o->co_nblocks && n < len; j++)
                    n += (size_t)snprintf(buf + n, len - n, " %llu:%llu",
                                          (unsigned long long)o->co_blocks[j][0],
                                          (unsigned long long)o->co_blocks[j][1]);
                break;
            default:
                n += (size_t)snprintf(buf + n, len - n, "%skind%u", sep, o->co_kind);
                break;
            }
        }
        if (n < len)
            n += (size_t)snprintf(buf + n, len - n, ">");
    }
    if (n < len && s->cs_src != (from_dut ? DUT_ADDR : PEER_ADDR))
        snprintf(buf + n, len - n, " src %u.%u.%u.%u", s->cs_src >> 24, (s->cs_src >> 16) & 255,
                 (s->cs_src >> 8) & 255, s->cs_src & 255);
}

static void log_seg(struct cf_world *w, const struct cf_seg *s, bool from_dut)
{
    char line[512];
    rn_time_t t = s->cs_time - w->w_t0;
    int n;

    seg_str(w, s, from_dut, line, sizeof(line));
    if (w->w_loglen + 600 >= sizeof(w->w_log))
        return;
    n = snprintf(w->w_log + w->w_loglen, sizeof(w->w_log) - w->w_loglen, "  %3llu.%06llu %s %s\n",
                 (unsigned long long)(t / RN_NSEC_PER_SEC),
                 (unsigned long long)(t % RN_NSEC_PER_SEC / 1000), from_dut ? ">" : "<", line);
    if (n > 0)
        w->w_loglen += (size_t)n;
}

void cf_world_wire(const struct cf_world *w, char *buf, size_t len)
{
    snprintf(buf, len, "%s", w->w_log);
}

/* ---- The stack's side: upcalls ----------------------------------------- */

static void up_readable(void *ctx)
{
    ((struct cf_user *)ctx)->cu_readable++;
}

static void up_writable(void *ctx)
{
    ((struct cf_user *)ctx)->cu_writable++;
}

static void up_connected(void *ctx, int err)
{
    ((struct cf_user *)ctx)->cu_connected = err == 0 ? 1 : err;
}

static void up_error(void *ctx, int err)
{
    ((struct cf_user *)ctx)->cu_error = err;
}

static void up_acceptable(void *ctx)
{
    ((struct cf_user *)ctx)->cu_acceptable++;
}

static const struct tcp_upcalls upcalls = {
    .tu_readable = up_readable,
    .tu_writable = up_writable,
    .tu_connected = up_connected,
    .tu_error = up_error,
    .tu_acceptable = up_acceptable,
};

/* ---- Decoding what the stack sends --------------------------------------- */

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v);

/* The IPv6 address a case's IPv4 address a stands for: 2001:2::/96 and a. */
static void v6_of(uint32_t a, uint8_t out[16])
{
    static const uint8_t prefix[12] = {0x20, 0x01, 0x00, 0x02};

    memcpy(out, prefix, sizeof(prefix));
    put32(out + 12, a);
}

/* The case's IPv4 address an IPv6 address stands for, or 0 if it is
 * outside 2001:2::/96. */
static uint32_t v4_of(const uint8_t in[16])
{
    uint8_t p[16];

    v6_of(0, p);
    return memcmp(in, p, 12) == 0 ? be32(in + 12) : 0;
}

/* The address the stack holds for a case's IPv4 address a: a itself, or
 * over IPv6 the address of 2001:2::/96 it stands for. */
static struct rn_inaddr ia_of(const struct cf_world *w, uint32_t a)
{
    struct rn_ip6 a6;

    if (!w->w_v6)
        return rn_inaddr_v4(a);
    v6_of(a, a6.i6_octet);
    return rn_inaddr_v6(&a6);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Decodes option bytes into a list (padding left out). */
static unsigned opts_decode(const uint8_t *p, size_t len, struct cf_opt *out, unsigned max)
{
    size_t i = 0;
    unsigned n = 0;

    while (i < len && n < max) {
        uint8_t kind = p[i], olen;
        struct cf_opt *o = &out[n];

        if (kind == RN_TCPOPT_EOL)
            break;
        if (kind == RN_TCPOPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= len || (olen = p[i + 1]) < 2 || i + olen > len)
            break;
        memset(o, 0, sizeof(*o));
        o->co_kind = kind;
        switch (kind) {
        case RN_TCPOPT_MSS:
            if (olen == 4)
                o->co_v[0] = be16(p + i + 2);
            break;
        case RN_TCPOPT_WSCALE:
            if (olen == 3)
                o->co_v[0] = p[i + 2];
            break;
        case RN_TCPOPT_TS:
            if (olen == 10) {
                o->co_v[0] = be32(p + i + 2);
                o->co_v[1] = be32(p + i + 6);
            }
            break;
        case RN_TCPOPT_SACK: {
            unsigned j;

            for (j = 0; j < (unsigned)(olen - 2) / 8 && j < 4; j++) {
                o->co_blocks[j][0] = be32(p + i + 2 + 8 * j);
                o->co_blocks[j][1] = be32(p + i + 6 + 8 * j);
            }
            o->co_nblocks = j;
            break;
        }
        default:
            break;
        }
        n++;
        i += olen;
    }
    return n;
}

/* Answers an ARP request for the peer's address. */
static void arp_answer(struct cf_world *w, const uint8_t *f, size_t n)
{
    struct rn_netbuf *nb;
    uint8_t r[42];

    if (n < 42 || be16(f + 20) != 1 || be32(f + 38) != PEER_ADDR)
        return;
    memcpy(r, f + 6, 6);
    memcpy(r + 6, peer_mac, 6);
    put16(r + 12, 0x0806);
    put16(r + 14, 1);
    put16(r + 16, 0x0800);
    r[18] = 6;
    r[19] = 4;
    put16(r + 20, 2);
    memcpy(r + 22, peer_mac, 6);
    put32(r + 28, PEER_ADDR);
    memcpy(r + 32, f + 22, 6);
    memcpy(r + 38, f + 28, 4);
    nb = rn_nb_alloc(w->w_pool, w->w_own);
    assert_non_null(nb);
    assert_int_equal(rn_nb_copyin(nb, 0, r, sizeof(r)), 0);
    rn_link_tx1(w->w_peer, nb, w->w_now);
}

/* Answers a neighbour solicitation for the peer's address (RFC 4861 7.2.4)
 * with a solicited advertisement carrying the peer's MAC.  Solicitations
 * from :: (the stack's duplicate address detection) go unanswered: the
 * peer holds none of the stack's addresses.  ip is the IPv6 header, n the
 * bytes from it on. */
static void nd_answer(struct cf_world *w, const uint8_t *ip, size_t n)
{
    static const uint8_t any[16];
    uint8_t r[14 + IP6_HLEN + 32], peer[16];
    uint8_t *rip = r + 14, *na = rip + IP6_HLEN;
    struct rn_netbuf *nb;

    v6_of(PEER_ADDR, peer);
    if (n < IP6_HLEN + 24 || ip[6] != 58 || ip[IP6_HLEN] != 135 ||
        memcmp(ip + IP6_HLEN + 8, peer, 16) != 0 || memcmp(ip + 8, any, 16) == 0)
        return;
    memset(r, 0, sizeof(r));
    memcpy(r, dut_mac, 6);
    memcpy(r + 6, peer_mac, 6);
    put16(r + 12, ETH_IP6);
    put32(rip, 6u << 28);
    put16(rip + 4, 32);
    rip[6] = 58;
    rip[7] = 255;
    memcpy(rip + 8, peer, 16);
    memcpy(rip + 24, ip + 8, 16);
    na[0] = 136;
    put32(na + 4, 0x60000000u);  /* solicited, override */
    memcpy(na + 8, peer, 16);
    na[24] = 2;                  /* target link-layer address */
    na[25] = 1;
    memcpy(na + 26, peer_mac, 6);
    put16(na + 2, rn_csum_fold(rn__csum_partial(na, 32, rn_csum_pseudo6(
                      (const struct rn_ip6 *)(rip + 8), (const struct rn_ip6 *)(rip + 24), 58, 32))));
    nb = rn_nb_alloc(w->w_pool, w->w_own);
    assert_non_null(nb);
    assert_int_equal(rn_nb_copyin(nb, 0, r, sizeof(r)), 0);
    rn_link_tx1(w->w_peer, nb, w->w_now);
}

/* Takes a frame off the peer's end: ARP and neighbour solicitations are
 * answered, TCP goes to the outbox.  Consumes nb. */
static void peer_rx(struct cf_world *w, struct rn_netbuf *nb)
{
    static uint8_t f[MAX_PAYLOAD + 200];
    size_t n = nb->nb_pktlen < sizeof(f) ? nb->nb_pktlen : sizeof(f), ihl, doff;
    const uint8_t *ip, *th;
    struct cf_seg s;
    uint32_t iplen;

    rn_nb_copyout(nb, 0, f, n);
    rn_nb_free(nb);
    if (getenv("CF_DEBUG"))
        fprintf(stderr, "peer rx %zu bytes type %04x at %llu\n", n, n >= 14 ? be16(f + 12) : 0, (unsigned long long)w->w_now);
    if (n < 14)
        return;
    if (be16(f + 12) == 0x0806) {
        arp_answer(w, f, n);
        return;
    }
    memset(&s, 0, sizeof(s));
    ip = f + 14;
    if (be16(f + 12) == ETH_IP6 && w->w_v6 && n >= 14 + IP6_HLEN) {
        if (ip[6] == 58) {
            nd_answer(w, ip, n - 14);
            return;
        }
        /* The stack sends TCP with no extension headers. */
        ihl = IP6_HLEN;
        iplen = IP6_HLEN + be16(ip + 4);
        if (ip[6] != 6 || n < 14 + ihl + 20 || iplen > n - 14)
            return;
        s.cs_tos = (uint8_t)(be16(ip) >> 4);
        s.cs_ttl = ip[7];
        s.cs_src = v4_of(ip + 8);
        s.cs_dst = v4_of(ip + 24);
    } else {
        if (be16(f + 12) != 0x0800 || w->w_v6 || n < 34)
            return;
        ihl = (size_t)(ip[0] & 15) * 4;
        iplen = be16(ip + 2);
        if (ip[9] != 6 || n < 14 + ihl + 20 || iplen > n - 14)
            return;
        s.cs_tos = ip[1];
        s.cs_ttl = ip[8];
        s.cs_src = be32(ip + 12);
        s.cs_dst = be32(ip + 16);
    }
    th = ip + ihl;
    doff = (size_t)(th[12] >> 4) * 4;
    s.cs_time = w->w_now;
    s.cs_sport = be16(th);
    s.cs_dport = be16(th + 2);
    s.cs_seq = be32(th + 4);
    s.cs_ack = be32(th + 8);
    s.cs_flags = th[13];
    s.cs_win = be16(th + 14);
    if (doff < 20 || ihl + doff > iplen)
        return;
    s.cs_nopts = opts_decode(th + 20, doff - 20, s.cs_opts, 12);
    s.cs_len = iplen - (uint32_t)ihl - (uint32_t)doff;
    if (s.cs_len > 0) {
        s.cs_payload = malloc(s.cs_len);
        assert_non_null(s.cs_payload);
        memcpy(s.cs_payload, th + doff, s.cs_len);
    }
    if (w->w_nout == w->w_capout) {
        w->w_capout = w->w_capout ? 2 * w->w_capout : 64;
        w->w_out = realloc(w->w_out, w->w_capout * sizeof(*w->w_out));
        assert_non_null(w->w_out);
    }
    w->w_out[w->w_nout++] = s;
}

/* ---- Running the clock ---------------------------------------------------- */

static void settle(struct cf_world *w)
{
    struct rn_netbuf *pkts[32];
    unsigned spins;
    int n, i;

    for (spins = 0; spins < 10000; spins++) {
        rn_time_t d;

        rn_stack_poll(w->w_st, w->w_now);
        n = rn_link_rx(w->w_peer, pkts, 32, w->w_now);
        for (i = 0; i < n; i++)
            peer_rx(w, pkts[i]);
        d = rn_stack_next_deadline(w->w_st);
        if (n <= 0 && (d == 0 || d > w->w_now))
            break;
    }
}

/* Runs the stack until virtual time t. */
static void run_to(struct cf_world *w, rn_time_t t)
{
    unsigned guard;

    settle(w);
    for (guard = 0; guard < 10000000; guard++) {
        rn_time_t d = rn_stack_next_deadline(w->w_st), p = rn_link_next_deadline(w->w_peer);

        if (p != RN_LINK_NO_DEADLINE && (d == 0 || p < d))
            d = p;
        if (d == 0 || d > t)
            break;
        if (d > w->w_now) {
            clock_manual_advance(d - w->w_now);
            w->w_now = d;
        }
        settle(w);
    }
    if (t > w->w_now) {
        clock_manual_advance(t - w->w_now);
        w->w_now = t;
    }
    settle(w);
}

/* ---- The model ------------------------------------------------------------- */

static uint32_t seglen_of(uint8_t flags, uint32_t len)
{
    return len + ((flags & RN_TCP_SYN) ? 1 : 0) + ((flags & RN_TCP_FIN) ? 1 : 0);
}

/* What a segment from the stack tells the model. */
static void model_out(struct cf_world *w, const struct cf_seg *s)
{
    unsigned i;

    if (w->w_dut_port == 0)
        w->w_dut_port = s->cs_sport;
    if (s->cs_flags & RN_TCP_SYN) {
        w->w_dut_iss = s->cs_seq;
        w->w_dut_iss_known = true;
        w->w_dut_nxt = s->cs_seq;
        w->w_dut_ws = -1;
        for (i = 0; i < s->cs_nopts; i++) {
            if (s->cs_opts[i].co_kind == RN_TCPOPT_WSCALE)
                w->w_dut_ws = (int)s->cs_opts[i].co_v[0];
        }
    }
    if (!(s->cs_flags & RN_TCP_RST) &&
        SEQ_GT(s->cs_seq + seglen_of(s->cs_flags, s->cs_len), w->w_dut_nxt))
        w->w_dut_nxt = s->cs_seq + seglen_of(s->cs_flags, s->cs_len);
    if ((s->cs_flags & RN_TCP_ACK) && !(s->cs_flags & RN_TCP_RST)) {
        int shift = (s->cs_flags & RN_TCP_SYN) || w->w_dut_ws < 0 || w->w_peer_ws < 0
                        ? 0
                        : w->w_dut_ws;

        w->w_dut_ack = s->cs_ack;
        w->w_dut_ack_known = true;
        w->w_dut_win = (uint32_t)s->cs_win << shift;
        w->w_dut_win_known = true;
    }
    for (i = 0; i < s->cs_nopts; i++) {
        if (s->cs_opts[i].co_kind == RN_TCPOPT_TS)
            w->w_dut_tsval = (uint32_t)s->cs_opts[i].co_v[0];
    }
}

/* The peer's timestamp clock: milliseconds since the case began. */
static uint32_t peer_tsval(const struct cf_world *w)
{
    return PEER_TS_BASE + (uint32_t)((w->w_now - w->w_t0) / RN_NSEC_PER_MSEC);
}

/* The value of a symbol, relative where it names a sequence number. */
static bool symbol(const struct cf_world *w, const char *name, size_t n, uint32_t *out)
{
#define IS(s) (n == strlen(s) && strncmp(name, s, n) == 0)
    if (IS("RCV.NXT"))
        *out = w->w_dut_ack_known ? w->w_dut_ack - w->w_peer_iss
                                  : (w->w_peer_sent ? w->w_peer_nxt - w->w_peer_iss : 1);
    else if (IS("RCV.WND"))
        *out = w->w_dut_win_known ? w->w_dut_win : 65535;
    else if (IS("SND.NXT"))
        *out = w->w_dut_nxt - w->w_dut_iss;
    else if (IS("SND.UNA"))
        *out = w->w_snd_una_known ? w->w_snd_una - w->w_dut_iss : 0;
    else if (IS("SEG.SEQ"))
        *out = w->w_lastin.cs_seq - w->w_peer_iss;
    else if (IS("SEG.ACK"))
        *out = w->w_lastin.cs_ack - w->w_dut_iss;
    else if (IS("SEG.LEN"))
        *out = w->w_lastin_seglen;
    else if (IS("PEER.NXT"))
        *out = w->w_peer_sent ? w->w_peer_nxt - w->w_peer_iss : 0;
    else if (IS("ECR"))
        *out = w->w_dut_tsval;
    else if (IS("TSV"))
        *out = peer_tsval(w);
    else
        return false;
    return true;
#undef IS
}

/* Evaluates "TERM{+|-TERM}" (no spaces): numbers and symbols.  "?" gives
 * WILD.  Returns 0 or -1 with err set. */
static int eval(const struct cf_world *w, const char *s, uint64_t *out, char *err, size_t errlen)
{
    uint32_t acc = 0;
    int sign = 1;
    const char *p = s;

    if (strcmp(s, "?") == 0) {
        *out = WILD;
        return 0;
    }
    if (*p == '-') {
        sign = -1;
        p++;
    }
    while (*p) {
        uint32_t v;
        const char *q = p;

        if (isdigit((unsigned char)*p)) {
            char *end;
            unsigned long long x = strtoull(p, &end, 0);

            if (x > UINT32_MAX)
                return cf_fail(err, errlen, "'%s': %llu does not fit 32 bits", s, x);
            v = (uint32_t)x;
            q = end;
        } else {
            while (*q && (isalnum((unsigned char)*q) || *q == '.' || *q == '_'))
                q++;
            if (q == p || !symbol(w, p, (size_t)(q - p), &v))
                return cf_fail(err, errlen, "'%s': unknown term '%.*s'", s, (int)(q - p + (q == p)), p);
        }
        acc += sign > 0 ? v : (uint32_t)-v;
        p = q;
        if (*p == '+')
            sign = 1;
        else if (*p == '-')
            sign = -1;
        else if (*p)
            return cf_fail(err, errlen, "'%s': unexpected '%c'", s, *p);
        else
            break;
        p++;
        if (!*p)
            return cf_fail(err, errlen, "'%s': ends in an operator", s);
    }
    *out = acc;
    return 0;
}

/* ---- Parsing a segment line --------------------------------------------- */

/* A segment as written: numbers still relative; WILD where "?". */
struct cf_spec {
    bool sp_in;                  /* '<': the peer sends it */
    uint8_t sp_flags;
    uint64_t sp_seq;             /* start, relative */
    uint32_t sp_len;             /* payload bytes */
    bool sp_has_ack;
    uint64_t sp_ack;
    bool sp_has_win;
    uint64_t sp_win;
    bool sp_has_opts;            /* "<...>" was written (possibly empty) */
    struct cf_opt sp_opts[12];
    uint8_t sp_raw_kinds[40];    /* inbound: the order written, NOP/EOL included */
    unsigned sp_nraw;
    unsigned sp_nopts;
    uint32_t sp_src, sp_dst;     /* 0: the usual */
    bool sp_has_src6, sp_has_dst6;  /* an IPv6 address written as one (over
                                       IPv6 only): sp_src6, sp_dst6 */
    struct rn_ip6 sp_src6, sp_dst6;
    uint16_t sp_sport, sp_dport; /* 0: the usual */
    int sp_ttl;                  /* -1: 64 */
    int sp_tos;                  /* -1: 0 */
    bool sp_bad_csum;
};

static int parse_flags(const char *t, uint8_t *out, char *err, size_t errlen)
{
    uint8_t f = 0;

    if (strcmp(t, "-") == 0) {
        *out = 0;
        return 0;
    }
    for (; *t; t++) {
        switch (*t) {
        case 'S': f |= RN_TCP_SYN; break;
        case 'F': f |= RN_TCP_FIN; break;
        case 'R': f |= RN_TCP_RST; break;
        case 'P': f |= RN_TCP_PSH; break;
        case '.': f |= RN_TCP_ACK; break;
        case 'U': f |= RN_TCP_URG; break;
        case 'E': f |= RN_TCP_ECE; break;
        case 'W': f |= RN_TCP_CWR; break;
        default:
            return cf_fail(err, errlen, "flags: '%c' is none of S F R P . U E W", *t);
        }
    }
    *out = f;
    return 0;
}

static int parse_addr(const char *t, uint32_t *out, char *err, size_t errlen)
{
    unsigned a, b, c, d;

    if (sscanf(t, "%u.%u.%u.%u", &a, &b, &c, &d) != 4 || a > 255 || b > 255 || c > 255 || d > 255)
        return cf_fail(err, errlen, "'%s' is no IPv4 address", t);
    *out = a << 24 | b << 16 | c << 8 | d;
    return 0;
}

/* Parses "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7,sack 1:2 3:4" (the
 * text between < and >).  Sequence numbers in SACK blocks stay relative. */
static int parse_opts(const struct cf_world *w, char *text, struct cf_spec *sp, char *err,
                      size_t errlen)
{
    char *save = NULL, *item;

    sp->sp_nopts = sp->sp_nraw = 0;
    for (item = strtok_r(text, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *tok[12], *s2 = NULL, *t;
        unsigned nt = 0, i;
        struct cf_opt o;

        for (t = strtok_r(item, " \t", &s2); t && nt < 12; t = strtok_r(NULL, " \t", &s2))
            tok[nt++] = t;
        if (nt == 0)
            continue;
        if (sp->sp_nraw >= 40 || sp->sp_nopts >= 12)
            return cf_fail(err, errlen, "too many options");
        memset(&o, 0, sizeof(o));
        if (strcmp(tok[0], "nop") == 0 || strcmp(tok[0], "eol") == 0) {
            sp->sp_raw_kinds[sp->sp_nraw++] = tok[0][0] == 'n' ? RN_TCPOPT_NOP : RN_TCPOPT_EOL;
            continue;
        }
        if (strcmp(tok[0], "mss") == 0 && nt == 2) {
            o.co_kind = RN_TCPOPT_MSS;
            if (eval(w, tok[1], &o.co_v[0], err, errlen) < 0)
                return -1;
        } else if (strcmp(tok[0], "wscale") == 0 && nt == 2) {
            o.co_kind = RN_TCPOPT_WSCALE;
            if (eval(w, tok[1], &o.co_v[0], err, errlen) < 0)
                return -1;
        } else if (strcmp(tok[0], "sackOK") == 0 && nt == 1) {
            o.co_kind = RN_TCPOPT_SACK_PERM;
        } else if (strcmp(tok[0], "TS") == 0 && (nt == 1 || nt == 5)) {
            o.co_kind = RN_TCPOPT_TS;
            if (nt == 1) {
                /* Inbound: the peer's clock and an echo of the stack's last
                 * TSval; expected: any. */
                o.co_v[0] = sp->sp_in ? peer_tsval(w) : WILD;
                o.co_v[1] = sp->sp_in ? w->w_dut_tsval : WILD;
            } else if (strcmp(tok[1], "val") != 0 || strcmp(tok[3], "ecr") != 0 ||
                       eval(w, tok[2], &o.co_v[0], err, errlen) < 0 ||
                       eval(w, tok[4], &o.co_v[1], err, errlen) < 0) {
                return err[0] ? -1 : cf_fail(err, errlen, "TS: write 'TS val V ecr E'");
            }
        } else if (strcmp(tok[0], "sack") == 0 && nt >= 2 && nt <= 5) {
            o.co_kind = RN_TCPOPT_SACK;
            for (i = 1; i < nt; i++) {
                char *colon = strchr(tok[i], ':');

                if (colon == NULL)
                    return cf_fail(err, errlen, "sack block '%s': write START:END", tok[i]);
                *colon = 0;
                if (eval(w, tok[i], &o.co_blocks[i - 1][0], err, errlen) < 0 ||
                    eval(w, colon + 1, &o.co_blocks[i - 1][1], err, errlen) < 0)
                    return -1;
            }
            o.co_nblocks = nt - 1;
        } else {
            return cf_fail(err, errlen, "option '%s' is none of mss N, wscale N, sackOK, "
                                     "TS [val V ecr E], sack A:B..., nop, eol", tok[0]);
        }
        sp->sp_raw_kinds[sp->sp_nraw++] = o.co_kind;
        sp->sp_opts[sp->sp_nopts++] = o;
    }
    return 0;
}

/* Parses "< FLAGS SEQ [ack N] [win N] [<opts>] [src A] ..." from line (which
 * it modifies). */
static int parse_seg(const struct cf_world *w, char *line, struct cf_spec *sp, char *err,
                     size_t errlen)
{
    char *lt, *gt = NULL, *tok[24], *save = NULL, *t;
    unsigned nt = 0, i;

    memset(sp, 0, sizeof(*sp));
    sp->sp_ttl = -1;
    sp->sp_tos = -1;
    sp->sp_in = line[0] == '<';
    /* Options first: they hold spaces. */
    lt = strchr(line + 1, '<');
    if (lt != NULL) {
        gt = strchr(lt, '>');
        if (gt == NULL)
            return cf_fail(err, errlen, "options: '<' without '>'");
        *gt = 0;
        sp->sp_has_opts = true;
        if (parse_opts(w, lt + 1, sp, err, errlen) < 0)
            return -1;
        *lt = ' ';
        memset(lt, ' ', (size_t)(gt - lt));
        *gt = ' ';
    }
    for (t = strtok_r(line + 1, " \t", &save); t && nt < 24; t = strtok_r(NULL, " \t", &save))
        tok[nt++] = t;
    if (nt < 2)
        return cf_fail(err, errlen, "a segment needs FLAGS and SEQ");
    if (parse_flags(tok[0], &sp->sp_flags, err, errlen) < 0)
        return -1;
    {
        char *seq = tok[1], *paren = strchr(seq, '('), *colon;
        uint64_t end;

        if (paren == NULL) {
            sp->sp_len = 0;
        } else {
            char *close = strchr(paren, ')');
            unsigned long l;

            if (close == NULL || close[1] != 0)
                return cf_fail(err, errlen, "'%s': write START:END(LEN)", seq);
            *close = 0;
            l = strtoul(paren + 1, NULL, 10);
            if (l > MAX_PAYLOAD)
                return cf_fail(err, errlen, "'%s': at most %d bytes", seq, MAX_PAYLOAD);
            sp->sp_len = (uint32_t)l;
            *paren = 0;
        }
        colon = strchr(seq, ':');
        if (colon != NULL)
            *colon = 0;
        if (eval(w, seq, &sp->sp_seq, err, errlen) < 0)
            return -1;
        if (colon != NULL) {
            if (eval(w, colon + 1, &end, err, errlen) < 0)
                return -1;
            if (sp->sp_seq != WILD && end != WILD && (uint32_t)(end - sp->sp_seq) != sp->sp_len)
                return cf_fail(err, errlen, "'%s': END - START is not LEN", tok[1]);
        }
    }
    for (i = 2; i < nt; i++) {
        const char *k = tok[i];
        uint64_t v;

        if ((strcmp(k, "ack") == 0 || strcmp(k, "win") == 0 || strcmp(k, "sport") == 0 ||
             strcmp(k, "dport") == 0 || strcmp(k, "ttl") == 0 || strcmp(k, "tos") == 0) &&
            i + 1 < nt) {
            if (eval(w, tok[i + 1], &v, err, errlen) < 0)
                return -1;
            if (k[0] == 'a') {
                sp->sp_has_ack = true;
                sp->sp_ack = v;
            } else if (k[0] == 'w') {
                sp->sp_has_win = true;
                sp->sp_win = v;
            } else if (k[0] == 's') {
                sp->sp_sport = (uint16_t)v;
            } else if (k[0] == 'd') {
                sp->sp_dport = (uint16_t)v;
            } else if (k[1] == 't') {
                sp->sp_ttl = (int)(v & 255);
            } else {
                sp->sp_tos = (int)(v & 255);
            }
            i++;
        } else if ((strcmp(k, "src") == 0 || strcmp(k, "dst") == 0) && i + 1 < nt) {
            bool src = k[0] == 's';

            /* An IPv6 address as itself (::1, ff02::1): a case that runs
             * over IPv6 only ("family ipv6"). */
            if (strchr(tok[i + 1], ':') != NULL) {
                if (!w->w_v6 || !sp->sp_in)
                    return cf_fail(err, errlen,
                                   "'%s': an IPv6 address is written only on a segment the "
                                   "peer sends, in a case run over IPv6",
                                   tok[i + 1]);
                if (rn_ip6_addr_parse(tok[i + 1], src ? &sp->sp_src6 : &sp->sp_dst6, NULL) != 0)
                    return cf_fail(err, errlen, "'%s' is no IPv6 address", tok[i + 1]);
                *(src ? &sp->sp_has_src6 : &sp->sp_has_dst6) = true;
            } else if (parse_addr(tok[i + 1], src ? &sp->sp_src : &sp->sp_dst, err, errlen) < 0) {
                return -1;
            }
            i++;
        } else if (strcmp(k, "ect0") == 0) {
            sp->sp_tos = 2;
        } else if (strcmp(k, "ect1") == 0) {
            sp->sp_tos = 1;
        } else if (strcmp(k, "ce") == 0) {
            sp->sp_tos = 3;
        } else if (strcmp(k, "badcsum") == 0) {
            sp->sp_bad_csum = true;
        } else {
            return cf_fail(err, errlen, "'%s' is none of ack, win, src, dst, sport, dport, ttl, "
                                     "tos, ect0, ect1, ce, badcsum", k);
        }
    }
    if (sp->sp_in && (sp->sp_flags & RN_TCP_ACK) && !sp->sp_has_ack)
        return cf_fail(err, errlen, "an inbound segment with ACK needs 'ack N'");
    if (sp->sp_in && (sp->sp_seq == WILD || sp->sp_ack == WILD || sp->sp_win == WILD))
        return cf_fail(err, errlen, "'?' is for expected segments only");
    return 0;
}

/* ---- Injecting -------------------------------------------------------------- */

static size_t opts_emit(const struct cf_world *w, const struct cf_spec *sp, uint8_t *out)
{
    size_t n = 0;
    unsigned i, k = 0, j;

    for (i = 0; i < sp->sp_nraw; i++) {
        uint8_t kind = sp->sp_raw_kinds[i];
        const struct cf_opt *o;

        if (kind == RN_TCPOPT_NOP || kind == RN_TCPOPT_EOL) {
            out[n++] = kind;
            continue;
        }
        o = &sp->sp_opts[k++];
        switch (kind) {
        case RN_TCPOPT_MSS:
            out[n] = kind;
            out[n + 1] = 4;
            put16(out + n + 2, (uint16_t)o->co_v[0]);
            n += 4;
            break;
        case RN_TCPOPT_WSCALE:
            out[n] = kind;
            out[n + 1] = 3;
            out[n + 2] = (uint8_t)o->co_v[0];
            n += 3;
            break;
        case RN_TCPOPT_SACK_PERM:
            out[n] = kind;
            out[n + 1] = 2;
            n += 2;
            break;
        case RN_TCPOPT_TS:
            out[n] = kind;
            out[n + 1] = 10;
            put32(out + n + 2, (uint32_t)o->co_v[0]);
            put32(out + n + 6, (uint32_t)o->co_v[1]);
            n += 10;
            break;
        case RN_TCPOPT_SACK:
            out[n] = kind;
            out[n + 1] = (uint8_t)(2 + 8 * o->co_nblocks);
            for (j = 0; j < o->co_nblocks; j++) {
                put32(out + n + 2 + 8 * j, (uint32_t)o->co_blocks[j][0] + w->w_dut_iss);
                put32(out + n + 6 + 8 * j, (uint32_t)o->co_blocks[j][1] + w->w_dut_iss);
            }
            n += 2 + 8 * o->co_nblocks;
            break;
        }
    }
    while (n % 4)
        out[n++] = RN_TCPOPT_EOL;
    return n;
}

static int inject(struct cf_world *w, const struct cf_spec *sp, char *err, size_t errlen)
{
    static uint8_t f[14 + IP6_HLEN + 60 + MAX_PAYLOAD];
    size_t iphl = w->w_v6 ? IP6_HLEN : 20;
    uint8_t *ip = f + 14, *th = ip + iphl, opts[64];
    uint32_t src = sp->sp_src ? sp->sp_src : PEER_ADDR, dst = sp->sp_dst ? sp->sp_dst : DUT_ADDR;
    uint32_t seq = (uint32_t)sp->sp_seq + w->w_peer_iss, ack = 0, i;
    size_t optlen = opts_emit(w, sp, opts), hlen = 20 + optlen, total;
    struct rn_netbuf *nb;
    struct cf_seg *s = &w->w_lastin;
    uint16_t sum;

    if (optlen > 40)
        return cf_fail(err, errlen, "options take %zu bytes, more than 40", optlen);
    if (sp->sp_flags & RN_TCP_ACK)
        ack = (uint32_t)sp->sp_ack + w->w_dut_iss;
    else if (sp->sp_has_ack)
        ack = (uint32_t)sp->sp_ack + w->w_dut_iss;  /* an ACK field without the bit */
    total = 14 + iphl + hlen + sp->sp_len;
    memcpy(f, dut_mac, 6);
    memcpy(f + 6, peer_mac, 6);
    if (w->w_v6) {
        put16(f + 12, ETH_IP6);
        put32(ip, 6u << 28 | (uint32_t)(sp->sp_tos >= 0 ? sp->sp_tos : 0) << 20);
        put16(ip + 4, (uint16_t)(hlen + sp->sp_len));
        ip[6] = 6;
        ip[7] = (uint8_t)(sp->sp_ttl >= 0 ? sp->sp_ttl : 64);
        v6_of(src, ip + 8);
        v6_of(dst, ip + 24);
        if (sp->sp_has_src6)
            memcpy(ip + 8, sp->sp_src6.i6_octet, 16);
        if (sp->sp_has_dst6)
            memcpy(ip + 24, sp->sp_dst6.i6_octet, 16);
    } else {
        put16(f + 12, 0x0800);
        ip[0] = 0x45;
        ip[1] = (uint8_t)(sp->sp_tos >= 0 ? sp->sp_tos : 0);
        put16(ip + 2, (uint16_t)(20 + hlen + sp->sp_len));
        put16(ip + 4, ++w->w_ipid);
        put16(ip + 6, 0x4000);
        ip[8] = (uint8_t)(sp->sp_ttl >= 0 ? sp->sp_ttl : 64);
        ip[9] = 6;
        put16(ip + 10, 0);
        put32(ip + 12, src);
        put32(ip + 16, dst);
        put16(ip + 10, rn_csum(ip, 20));
    }
    put16(th, sp->sp_sport ? sp->sp_sport : w->w_peer_port);
    put16(th + 2, sp->sp_dport ? sp->sp_dport : w->w_dut_port);
    put32(th + 4, seq);
    put32(th + 8, ack);
    th[12] = (uint8_t)(hlen / 4) << 4;
    th[13] = sp->sp_flags;
    put16(th + 14, (uint16_t)(sp->sp_has_win ? sp->sp_win : 65535));
    put16(th + 16, 0);
    put16(th + 18, 0);
    memcpy(th + 20, opts, optlen);
    for (i = 0; i < sp->sp_len; i++)
        th[hlen + i] = peer_byte(seq + ((sp->sp_flags & RN_TCP_SYN) ? 1 : 0) + i -
                                 (w->w_peer_iss + 1));
    sum = rn_csum_fold(rn__csum_partial(
        th, hlen + sp->sp_len,
        w->w_v6 ? rn_csum_pseudo6((const struct rn_ip6 *)(ip + 8), (const struct rn_ip6 *)(ip + 24),
                                  6, (uint32_t)(hlen + sp->sp_len))
                : rn_csum_pseudo4(src, dst, 6, (uint32_t)(hlen + sp->sp_len))));
    if (sp->sp_bad_csum)
        sum ^= 0x5a5a;
    put16(th + 16, sum);
    nb = rn_nb_alloc(w->w_pool, w->w_own);
    if (nb == NULL)
        return cf_fail(err, errlen, "the stack's pool is exhausted");
    if (rn_nb_copyin(nb, 0, f, total) < 0) {
        rn_nb_free(nb);
        return cf_fail(err, errlen, "the stack's pool is exhausted");
    }
    if (rn_link_tx1(w->w_peer, nb, w->w_now) != 1)
        return cf_fail(err, errlen, "the cable took no more frames");
    /* The model: what the peer has sent. */
    free(s->cs_payload);
    memset(s, 0, sizeof(*s));
    s->cs_time = w->w_now;
    s->cs_src = src;
    s->cs_dst = dst;
    s->cs_flags = sp->sp_flags;
    s->cs_seq = seq;
    s->cs_ack = ack;
    s->cs_win = (uint16_t)(sp->sp_has_win ? sp->sp_win : 65535);
    s->cs_len = sp->sp_len;
    s->cs_nopts = opts_decode(opts, optlen, s->cs_opts, 12);
    for (i = 0; i < s->cs_nopts; i++) {
        if (s->cs_opts[i].co_kind == RN_TCPOPT_SACK) {
            unsigned j;

            for (j = 0; j < s->cs_opts[i].co_nblocks; j++) {
                s->cs_opts[i].co_blocks[j][0] -= w->w_dut_iss;
                s->cs_opts[i].co_blocks[j][1] -= w->w_dut_iss;
            }
        }
    }
    w->w_lastin_seglen = seglen_of(sp->sp_flags, sp->sp_len);
    log_seg(w, s, false);
    if (src == PEER_ADDR && !(sp->sp_flags & RN_TCP_RST)) {
        uint32_t end = seq + w->w_lastin_seglen;

        if (!w->w_peer_sent || SEQ_GT(end, w->w_peer_nxt))
            w->w_peer_nxt = end;
        w->w_peer_sent = true;
        if (sp->sp_flags & RN_TCP_SYN) {
            w->w_peer_ws = -1;
            for (i = 0; i < s->cs_nopts; i++) {
                if (s->cs_opts[i].co_kind == RN_TCPOPT_WSCALE)
                    w->w_peer_ws = (int)s->cs_opts[i].co_v[0];
            }
        }
        if ((sp->sp_flags & RN_TCP_ACK) &&
            (!w->w_snd_una_known || SEQ_GT(ack, w->w_snd_una))) {
            w->w_snd_una = ack;
            w->w_snd_una_known = true;
        }
    }
    settle(w);
    return 0;
}

/* ---- Matching ----------------------------------------------------------------- */

static int opts_match(const struct cf_world *w, const struct cf_spec *sp, const struct cf_seg *s,
                      char *why, size_t len)
{
    unsigned i, j;

    if (!sp->sp_has_opts)
        return 0;
    if (sp->sp_nopts != s->cs_nopts)
        return cf_fail(why, len, "%u options, expected %u", s->cs_nopts, sp->sp_nopts);
    for (i = 0; i < sp->sp_nopts; i++) {
        const struct cf_opt *e = &sp->sp_opts[i], *g = &s->cs_opts[i];

        if (e->co_kind != g->co_kind)
            return cf_fail(why, len, "option %u is kind %u, expected kind %u", i + 1, g->co_kind,
                        e->co_kind);
        for (j = 0; j < 2; j++) {
            if (e->co_v[j] != WILD && (uint32_t)e->co_v[j] != (uint32_t)g->co_v[j])
                return cf_fail(why, len, "option %u (kind %u) value %llu, expected %llu", i + 1,
                            g->co_kind, (unsigned long long)g->co_v[j],
                            (unsigned long long)e->co_v[j]);
        }
        if (e->co_kind == RN_TCPOPT_SACK) {
            if (e->co_nblocks != g->co_nblocks)
                return cf_fail(why, len, "%u SACK blocks, expected %u", g->co_nblocks,
                            e->co_nblocks);
            for (j = 0; j < e->co_nblocks; j++) {
                uint32_t gs = (uint32_t)g->co_blocks[j][0] - w->w_peer_iss;
                uint32_t ge = (uint32_t)g->co_blocks[j][1] - w->w_peer_iss;

                if ((e->co_blocks[j][0] != WILD && (uint32_t)e->co_blocks[j][0] != gs) ||
                    (e->co_blocks[j][1] != WILD && (uint32_t)e->co_blocks[j][1] != ge))
                    return cf_fail(why, len, "SACK block %u is %u:%u, expected %llu:%llu", j + 1,
                                gs, ge, (unsigned long long)e->co_blocks[j][0],
                                (unsigned long long)e->co_blocks[j][1]);
            }
        }
    }
    return 0;
}

/* Compares segment s, which the stack sent, with what sp expects. */
static int seg_match(const struct cf_world *w, const struct cf_spec *sp, const struct cf_seg *s,
                     char *why, size_t len)
{
    uint32_t sbase = (sp->sp_flags & RN_TCP_SYN) ? s->cs_seq : w->w_dut_iss, i;
    char e[8], g[8];

    if (s->cs_flags != sp->sp_flags) {
        flags_str(sp->sp_flags, e);
        flags_str(s->cs_flags, g);
        return cf_fail(why, len, "flags %s, expected %s", g, e);
    }
    /* A SYN starts the stack's sequence space: its number is its own ISN. */
    if (sp->sp_seq != WILD && !(sp->sp_flags & RN_TCP_SYN && sp->sp_seq == 0) &&
        s->cs_seq - sbase != (uint32_t)sp->sp_seq)
        return cf_fail(why, len, "seq %u, expected %llu", s->cs_seq - sbase,
                    (unsigned long long)sp->sp_seq);
    if (s->cs_len != sp->sp_len)
        return cf_fail(why, len, "%u bytes of data, expected %u", s->cs_len, sp->sp_len);
    if ((sp->sp_flags & RN_TCP_ACK) || sp->sp_has_ack) {
        uint64_t want = sp->sp_has_ack ? sp->sp_ack : WILD;

        if (want != WILD && s->cs_ack - w->w_peer_iss != (uint32_t)want)
            return cf_fail(why, len, "ack %u, expected %llu", s->cs_ack - w->w_peer_iss,
                        (unsigned long long)want);
    }
    if (sp->sp_has_win && sp->sp_win != WILD && s->cs_win != (uint16_t)sp->sp_win)
        return cf_fail(why, len, "win %u, expected %llu", s->cs_win, (unsigned long long)sp->sp_win);
    if (opts_match(w, sp, s, why, len) < 0)
        return -1;
    if (sp->sp_src && s->cs_src != sp->sp_src)
        return cf_fail(why, len, "from another address");
    if (sp->sp_tos >= 0 && s->cs_tos != sp->sp_tos)
        return cf_fail(why, len, "tos 0x%02x, expected 0x%02x", s->cs_tos, sp->sp_tos);
    if (sp->sp_ttl >= 0 && s->cs_ttl != sp->sp_ttl)
        return cf_fail(why, len, "ttl %u, expected %d", s->cs_ttl, sp->sp_ttl);
    /* The data is the bytes written, at their place in the stream. */
    for (i = 0; i < s->cs_len; i++) {
        uint64_t off = (uint64_t)(uint32_t)(s->cs_seq + ((s->cs_flags & RN_TCP_SYN) ? 1 : 0) + i -
                                            (sbase + 1));

        if (s->cs_payload[i] != dut_byte(off))
            return cf_fail(why, len, "data byte %u is not stream byte %llu", i,
                        (unsigned long long)off);
    }
    return 0;
}

static void out_pop(struct cf_world *w)
{
    free(w->w_out[0].cs_payload);
    memmove(w->w_out, w->w_out + 1, (w->w_nout - 1) * sizeof(*w->w_out));
    w->w_nout--;
}

/* Fails if the stack sent something before time t that no step took. */
static int check_unexpected(struct cf_world *w, rn_time_t t, bool inclusive, char *err,
                            size_t errlen)
{
    char line[512];

    if (w->w_nout == 0)
        return 0;
    if (w->w_out[0].cs_time < t || (inclusive && w->w_out[0].cs_time == t)) {
        rn_time_t at = w->w_out[0].cs_time - w->w_t0;

        log_seg(w, &w->w_out[0], true);
        seg_str(w, &w->w_out[0], true, line, sizeof(line));
        return cf_fail(err, errlen, "unexpected segment at %llu.%06llu: > %s",
                    (unsigned long long)(at / RN_NSEC_PER_SEC),
                    (unsigned long long)(at % RN_NSEC_PER_SEC / 1000), line);
    }
    return 0;
}

static int expect(struct cf_world *w, rn_time_t t, bool any_time, const struct cf_spec *sp,
                  char *err, size_t errlen)
{
    char why[256], line[512];
    rn_time_t limit = any_time ? w->w_now + RN_SEC(120) : t;

    if (!any_time && check_unexpected(w, t, false, err, errlen) < 0)
        return -1;
    /* Run until a segment comes, or past the time it was due. */
    while (w->w_nout == 0 && w->w_now < limit) {
        rn_time_t d = rn_stack_next_deadline(w->w_st);

        run_to(w, d != 0 && d < limit ? d : limit);
    }
    if (w->w_nout == 0) {
        /* Not sent: say when it went, if it did within 10 s. */
        run_to(w, w->w_now + RN_SEC(10));
        if (w->w_nout > 0) {
            rn_time_t at = w->w_out[0].cs_time - w->w_t0;

            seg_str(w, &w->w_out[0], true, line, sizeof(line));
            return cf_fail(err, errlen, "nothing sent by then; the next segment came at "
                                     "%llu.%06llu: > %s",
                        (unsigned long long)(at / RN_NSEC_PER_SEC),
                        (unsigned long long)(at % RN_NSEC_PER_SEC / 1000), line);
        }
        return cf_fail(err, errlen, "nothing sent, nor in the 10 s after");
    }
    if (!any_time && w->w_out[0].cs_time != t)
        return check_unexpected(w, t, false, err, errlen);
    log_seg(w, &w->w_out[0], true);
    if (seg_match(w, sp, &w->w_out[0], why, sizeof(why)) < 0) {
        seg_str(w, &w->w_out[0], true, line, sizeof(line));
        return cf_fail(err, errlen, "got > %s: %s", line, why);
    }
    model_out(w, &w->w_out[0]);
    w->w_now = w->w_now > w->w_out[0].cs_time ? w->w_now : w->w_out[0].cs_time;
    w->w_last = w->w_out[0].cs_time;
    out_pop(w);
    return 0;
}

/* ---- The user's side ---------------------------------------------------- */

static struct tcp_conn *cur(struct cf_world *w)
{
    return w->w_nc > 0 ? w->w_c[w->w_cur] : NULL;
}

static int conn_add(struct cf_world *w, struct tcp_conn *c)
{
    if (w->w_nc == MAX_CONNS)
        return -1;
    w->w_c[w->w_nc] = c;
    w->w_cur = w->w_nc++;
    w->w_had_conn = true;
    return 0;
}

static const char *state_of(struct cf_world *w)
{
    struct tcp_stack *ts = rn__tcp_stack(w->w_st);
    struct tcp_conn *c;

    if (w->w_dut_port == 0)
        return w->w_l != NULL ? "LISTEN" : "CLOSED";
    c = rn__tcp_lookup(ts, ia_of(w, DUT_ADDR), w->w_dut_port, ia_of(w, PEER_ADDR), w->w_peer_port);
    if (c != NULL)
        return rn__tcp_state_name(tcp_state(c));
    if (rn__tcp_tw_lookup(ts, ia_of(w, DUT_ADDR), w->w_dut_port, ia_of(w, PEER_ADDR),
                          w->w_peer_port) != NULL)
        return rn__tcp_state_name(TCPS_TIME_WAIT);
    /* Gone from the table: a connection the user had is CLOSED; one the
     * user never had went back to the listener. */
    if (w->w_had_conn)
        return rn__tcp_state_name(TCPS_CLOSED);
    return w->w_l != NULL && w->w_dut_port == DUT_PORT ? "LISTEN" : "CLOSED";
}

/* "TIME-WAIT" and "TIME_WAIT" both name a state. */
static bool same_state(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '-' ? '_' : (char)toupper((unsigned char)*a);
        char y = *b == '-' ? '_' : (char)toupper((unsigned char)*b);

        if (x != y)
            return false;
    }
    return *a == *b;
}

static int err_by_name(const char *name, int *out)
{
    static const struct {
        const char *n;
        int v;
    } t[] = {
        {"none", 0},
        {"ECONNRESET", RN_ECONNRESET},
        {"ECONNREFUSED", RN_ECONNREFUSED},
        {"ETIMEDOUT", RN_ETIMEDOUT},
        {"EPIPE", RN_EPIPE},
        {"ECONNABORTED", RN_ECONNABORTED},
    };
    unsigned i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(t[i].n, name) == 0) {
            *out = t[i].v;
            return 0;
        }
    }
    return -1;
}

struct counter_find {
    const char *name;
    bool found;
    uint64_t value;
};

static void counter_fn(const struct rn_stack_counter *c, void *ctx)
{
    struct counter_find *f = ctx;

    if (strcmp(c->sc_name, f->name) == 0) {
        f->found = true;
        f->value = c->sc_value;
    }
}

/* A counter by name: "tcp.challenge_acks", or "drop.bad_ip_src". */
static int counter(struct cf_world *w, const char *name, uint64_t *out)
{
    struct counter_find f = {.name = name};

    if (strncmp(name, "drop.", 5) == 0) {
        int r = rn_drop_from_name(name + 5);

        if (r < 0)
            return -1;
        *out = rn_stack_drops(w->w_st, r);
        return 0;
    }
    rn_stack_counters(w->w_st, counter_fn, &f);
    if (!f.found)
        return -1;
    *out = f.value;
    return 0;
}

static void base_fn(const struct rn_stack_counter *c, void *ctx)
{
    struct cf_world *w = ctx;

    if (w->w_nbase < sizeof(w->w_base) / sizeof(w->w_base[0])) {
        snprintf(w->w_base[w->w_nbase].name, sizeof(w->w_base[0].name), "%s", c->sc_name);
        w->w_base[w->w_nbase++].value = c->sc_value;
    }
}

static uint64_t base_of(const struct cf_world *w, const char *name)
{
    unsigned i;

    for (i = 0; i < w->w_nbase; i++) {
        if (strcmp(w->w_base[i].name, name) == 0)
            return w->w_base[i].value;
    }
    return 0;  /* drops start at zero */
}

static void dump_counter(const struct rn_stack_counter *c, void *ctx)
{
    struct cf_world *w = ctx;
    uint64_t base = base_of(w, c->sc_name);

    if (c->sc_value != base)
        fprintf(stderr, "  %s +%llu\n", c->sc_name, (unsigned long long)(c->sc_value - base));
}

static void dump_drop(const struct rn_drop_row *r, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "  drop.%s %llu\n", rn_drop_name(r->dr_reason), (unsigned long long)r->dr_count);
}

/* ---- Steps ----------------------------------------------------------------- */

/* Parses the step's time, if it has one: "+D" after the previous timed
 * step, "D" after the case began, "*" whenever.  Advances *p past it. */
static int step_time(struct cf_world *w, char **p, rn_time_t *t, bool *any, char *err,
                     size_t errlen)
{
    char *s = *p, *end;
    double d;

    *any = false;
    *t = w->w_last;
    if (*s == '*') {
        *any = true;
        *t = w->w_now;
        *p = s + 1;
        return 0;
    }
    if (*s != '+' && !isdigit((unsigned char)*s) && *s != '.')
        return 0;
    errno = 0;
    d = strtod(*s == '+' ? s + 1 : s, &end);
    if (errno || end == s || d < 0 || (*end && !isspace((unsigned char)*end)))
        return cf_fail(err, errlen, "'%s': a time is +SECONDS, SECONDS or *", s);
    *t = (*s == '+' ? w->w_last : w->w_t0) + (rn_time_t)(d * 1e9 + 0.5);
    *p = end;
    return 0;
}

static int step_action(struct cf_world *w, char **tok, unsigned nt, char *err, size_t errlen)
{
    struct rn_stack *st = w->w_st;
    struct tcp_conn *c = cur(w);
    const char *a = tok[0];
    int e;

    if (strcmp(a, "listen") == 0) {
        unsigned backlog = 16;

        if (nt >= 3 && strcmp(tok[1], "backlog") == 0)
            backlog = (unsigned)strtoul(tok[2], NULL, 10);
        e = rn__tcp_listen_opts(st, w->w_v6 ? rn_inaddr_v6(&RN_IP6_ANY) : rn_inaddr_v4(0), DUT_PORT,
                                backlog, w->w_uo_set ? &w->w_uo : NULL,
                                &upcalls, &w->w_lu, &w->w_l);
        if (e < 0)
            return cf_fail(err, errlen, "listen: %s", rn_strerror(e));
        w->w_dut_port = DUT_PORT;
        return 0;
    }
    if (strcmp(a, "unlisten") == 0) {
        if (w->w_l == NULL)
            return cf_fail(err, errlen, "unlisten: nothing listens");
        rn__tcp_listener_close(w->w_l);
        w->w_l = NULL;
        return 0;
    }
    if (strcmp(a, "connect") == 0) {
        struct tcp_conn *nc;

        e = rn__tcp_connect_opts(st, w->w_v6 ? rn_inaddr_v6(&RN_IP6_ANY) : rn_inaddr_v4(0), 0,
                                 ia_of(w, PEER_ADDR), w->w_peer_port,
                                 w->w_uo_set ? &w->w_uo : NULL, &upcalls, &w->w_cu[w->w_nc],
                                 &nc);
        if (e < 0)
            return cf_fail(err, errlen, "connect: %s", rn_strerror(e));
        rn_ob_ref(nc, RN_TAG_SOCKET_ENDPOINT);
        w->w_dut_port = 0;  /* learnt from its SYN */
        if (conn_add(w, nc) < 0)
            return cf_fail(err, errlen, "connect: more than %d connections", MAX_CONNS);
        return 0;
    }
    if (strcmp(a, "accept") == 0) {
        struct tcp_conn *nc;

        if (w->w_l == NULL)
            return cf_fail(err, errlen, "accept: nothing listens");
        e = rn__tcp_accept(w->w_l, RN_TAG_SOCKET_ENDPOINT, &upcalls, &w->w_cu[w->w_nc], &nc);
        if (e < 0)
            return cf_fail(err, errlen, "accept: %s", rn_strerror(e));
        if (conn_add(w, nc) < 0)
            return cf_fail(err, errlen, "accept: more than %d connections", MAX_CONNS);
        return 0;
    }
    if (strcmp(a, "accept-none") == 0) {
        struct tcp_conn *nc;

        if (w->w_l == NULL)
            return cf_fail(err, errlen, "accept-none: nothing listens");
        e = rn__tcp_accept(w->w_l, RN_TAG_SOCKET_ENDPOINT, &upcalls, &w->w_cu[w->w_nc], &nc);
        if (e == 0) {
            conn_add(w, nc);
            return cf_fail(err, errlen, "accept-none: a connection was there");
        }
        return 0;
    }
    if (strcmp(a, "state") == 0 && nt == 2) {
        const char *s = state_of(w);

        if (!same_state(s, tok[1]))
            return cf_fail(err, errlen, "state %s, expected %s", s, tok[1]);
        return 0;
    }
    if (strcmp(a, "error") == 0 && nt == 2) {
        int want, got;

        if (err_by_name(tok[1], &want) < 0)
            return cf_fail(err, errlen, "error: '%s' is none of none, ECONNRESET, ECONNREFUSED, "
                                     "ETIMEDOUT, EPIPE, ECONNABORTED", tok[1]);
        if (w->w_nc == 0)
            return cf_fail(err, errlen, "error: no connection");
        got = w->w_cu[w->w_cur].cu_error ? w->w_cu[w->w_cur].cu_error
                                          : (w->w_cu[w->w_cur].cu_connected < 0
                                                 ? w->w_cu[w->w_cur].cu_connected
                                                 : 0);
        if (got != want)
            return cf_fail(err, errlen, "the user was told %s, expected %s",
                        got ? rn_err_name(got) : "nothing", tok[1]);
        return 0;
    }
    if (strcmp(a, "count") == 0 && nt == 3) {
        uint64_t v, want = strtoull(tok[2], NULL, 0);

        if (counter(w, tok[1], &v) < 0)
            return cf_fail(err, errlen, "count: no counter '%s'", tok[1]);
        v -= base_of(w, tok[1]);
        if (v != want)
            return cf_fail(err, errlen, "%s went up by %llu, expected %llu", tok[1],
                        (unsigned long long)v, (unsigned long long)want);
        return 0;
    }
    if (strcmp(a, "set") == 0 && nt == 3) {
        e = rn_tcp_setting_set(st, tok[1], tok[2]);
        if (e < 0)
            return cf_fail(err, errlen, "set %s %s: %s", tok[1], tok[2], rn_strerror(e));
        return 0;
    }
    if (strcmp(a, "sockopt") == 0 && nt == 3 && strcmp(tok[1], "TCP_CONGESTION") == 0) {
        /* On the current connection's socket if there is one, else on
         * the socket of the listen or connect to come. */
        e = rn__tcp_opt_set_str(rn__tcp_stack(st), &w->w_uo, w->w_nc > 0 ? c : NULL,
                                w->w_nc > 0 ? NULL : w->w_l, RN_TCP_CONGESTION, tok[2]);
        if (e < 0)
            return cf_fail(err, errlen, "sockopt %s %s: %s", tok[1], tok[2], rn_strerror(e));
        w->w_uo_set = true;
        return 0;
    }
    if (strcmp(a, "congestion") == 0 && nt == 2) {
        if (c == NULL)
            return cf_fail(err, errlen, "congestion: no connection");
        if (strcmp(c->t_cc->cc_name, tok[1]) != 0)
            return cf_fail(err, errlen, "the connection's congestion control is %s, expected %s",
                           c->t_cc->cc_name, tok[1]);
        return 0;
    }
    if (strcmp(a, "dump") == 0) {
        /* For whoever writes a case: the counters that moved, and the
         * drops, on stderr. */
        rn_stack_counters(st, dump_counter, w);
        rn_stack_drop_rows(st, dump_drop, NULL);
        return 0;
    }
    if (strcmp(a, "use") == 0 && nt == 2) {
        unsigned i = (unsigned)strtoul(tok[1], NULL, 10);

        if (i >= w->w_nc)
            return cf_fail(err, errlen, "use: no connection %u", i);
        w->w_cur = i;
        return 0;
    }
    if (c == NULL)
        return cf_fail(err, errlen, "'%s': no connection (connect or accept first), or an "
                                 "unknown step", a);
    if (strcmp(a, "write") == 0 && nt >= 2) {
        size_t n = strtoul(tok[1], NULL, 10), i;
        bool eof = nt >= 3 && strcmp(tok[2], "eof") == 0;
        uint8_t *buf = malloc(n ? n : 1);
        ssize_t r;

        assert_non_null(buf);
        for (i = 0; i < n; i++)
            buf[i] = dut_byte(w->w_written + i);
        r = rn__tcp_send_eof(c, buf, n, eof);
        free(buf);
        if (r < 0)
            return cf_fail(err, errlen, "write: %s", rn_strerror((int)r));
        w->w_written += (uint64_t)r;
        if ((size_t)r != n)
            return cf_fail(err, errlen, "write took %zd of %zu bytes", r, n);
        return 0;
    }
    if (strcmp(a, "read") == 0 && nt == 2) {
        uint8_t buf[65536];
        ssize_t r;

        if (strcmp(tok[1], "eof") == 0 || strcmp(tok[1], "none") == 0) {
            r = rn__tcp_recv(c, buf, sizeof(buf));
            if (tok[1][0] == 'e' && r != 0)
                return cf_fail(err, errlen, "read: %zd, expected the end (0)", r);
            if (tok[1][0] == 'n' && r != RN_EAGAIN)
                return cf_fail(err, errlen, "read: %zd, expected nothing yet", r);
            return 0;
        } else {
            size_t n = strtoul(tok[1], NULL, 10), i;

            if (n > sizeof(buf))
                return cf_fail(err, errlen, "read: at most %zu at a time", sizeof(buf));
            r = rn__tcp_recv(c, buf, n);
            if (r != (ssize_t)n)
                return cf_fail(err, errlen, "read %zd bytes, expected %zu", r, n);
            for (i = 0; i < n; i++) {
                if (buf[i] != peer_byte((uint32_t)(w->w_read + i)))
                    return cf_fail(err, errlen, "read: byte %zu is not the peer's byte %llu", i,
                                (unsigned long long)(w->w_read + i));
            }
            w->w_read += n;
            return 0;
        }
    }
    if (strcmp(a, "shutdown") == 0 && nt == 2) {
        int how = strcmp(tok[1], "rd") == 0 ? RN_SHUT_RD
                  : strcmp(tok[1], "wr") == 0 ? RN_SHUT_WR
                                              : RN_SHUT_RDWR;

        e = rn__tcp_shutdown(c, how);
        if (e < 0)
            return cf_fail(err, errlen, "shutdown: %s", rn_strerror(e));
        return 0;
    }
    if (strcmp(a, "close") == 0 || strcmp(a, "abort") == 0) {
        /* The slot stays: its user record is the upcalls' context. */
        rn__tcp_close(c, a[0] == 'a');
        rn_ob_deref(c, RN_TAG_SOCKET_ENDPOINT);
        w->w_c[w->w_cur] = NULL;
        return 0;
    }
    return cf_fail(err, errlen, "'%s' is no step", a);
}

int cf_world_step(struct cf_world *w, const char *text, char *err, size_t errlen)
{
    char buf[1024], *p = buf, *tok[16], *save = NULL, *t;
    unsigned nt = 0;
    rn_time_t when;
    bool any;

    err[0] = 0;
    snprintf(buf, sizeof(buf), "%s", text);
    while (isspace((unsigned char)*p))
        p++;
    if (step_time(w, &p, &when, &any, err, errlen) < 0)
        return -1;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == 0)
        return 0;
    if (*p == '<' || *p == '>') {
        struct cf_spec sp;

        if (!any && when < w->w_now)
            return cf_fail(err, errlen, "this step's time has passed (it is %.6f s)",
                        (double)(w->w_now - w->w_t0) / 1e9);
        if (*p == '<') {
            run_to(w, when);
            if (check_unexpected(w, when, false, err, errlen) < 0)
                return -1;
            if (parse_seg(w, p, &sp, err, errlen) < 0)
                return -1;
            w->w_last = when;
            return inject(w, &sp, err, errlen);
        }
        if (parse_seg(w, p, &sp, err, errlen) < 0)
            return -1;
        return expect(w, when, any, &sp, err, errlen);
    }
    if (strncmp(p, "quiet", 5) == 0) {
        double d = strtod(p + 5, NULL);
        rn_time_t until = w->w_now + (rn_time_t)(d * 1e9 + 0.5);

        if (check_unexpected(w, w->w_now, true, err, errlen) < 0)
            return -1;
        run_to(w, until);
        if (check_unexpected(w, until, true, err, errlen) < 0)
            return -1;
        w->w_last = until;
        return 0;
    }
    if (strncmp(p, "wait", 4) == 0) {
        /* Lets time pass to the step's time without looking at the wire. */
        run_to(w, when);
        w->w_last = when;
        return 0;
    }
    if (!any && when > w->w_now) {
        run_to(w, when);
        if (check_unexpected(w, when, false, err, errlen) < 0)
            return -1;
    }
    w->w_last = when > w->w_last ? when : w->w_last;
    for (t = strtok_r(p, " \t", &save); t && nt < 16; t = strtok_r(NULL, " \t", &save))
        tok[nt++] = t;
    if (nt > 0 && strcmp(tok[0], "peer") == 0 && nt == 3) {
        unsigned long v = strtoul(tok[2], NULL, 0);

        if (strcmp(tok[1], "isn") == 0)
            w->w_peer_iss = (uint32_t)v;
        else if (strcmp(tok[1], "port") == 0)
            w->w_peer_port = (uint16_t)v;
        else if (strcmp(tok[1], "dport") == 0)
            w->w_dut_port = (uint16_t)v;
        else
            return cf_fail(err, errlen, "peer: 'isn N', 'port N' or 'dport N'");
        return 0;
    }
    if (step_action(w, tok, nt, err, errlen) < 0)
        return -1;
    settle(w);
    return 0;
}

/* ---- Opening and closing ------------------------------------------------------ */

struct cf_world *cf_world_open(char *const *settings, unsigned nsettings, char *err,
                               size_t errlen)
{
    struct cf_world *w = calloc(1, sizeof(*w));
    struct rn_stack_params sp = {.sp_name = "dut", .sp_seed = 1};
    struct rn_tcp_params tp;
    struct rn_sim_cable_params cp = {.sc_mtu = cf_ipv6 ? 1520 : 1500};
    struct rn_iface_params ip = {.ifp_name = "sim0", .ifp_addr = DUT_ADDR, .ifp_plen = 15,
                                 .ifp_no_garp = true, .ifp_ipv6 = cf_ipv6};
    struct rn_iface *ifp;
    struct rn_link *la, *lb;
    unsigned i;
    int e;

    assert_non_null(w);
    err[0] = 0;
    rn_tcp_params_init(&tp);
    for (i = 0; i < nsettings; i++) {
        char name[64], value[64];

        if (sscanf(settings[i], "%63s %63s", name, value) != 2 ||
            rn_tcp_params_set(&tp, name, value) < 0) {
            cf_fail(err, errlen, "set %s: no such setting, or a bad value", settings[i]);
            free(w);
            return NULL;
        }
    }
    w->w_now = RN_SEC(1);
    clock_manual_install(w->w_now);
    assert_int_equal(rn_stack_create(&sp, &w->w_st), 0);
    e = rn_tcp_init(w->w_st, &tp);
    if (e < 0) {
        cf_fail(err, errlen, "the settings do not go together: %s", rn_strerror(e));
        rn_stack_destroy(w->w_st);
        clock_manual_uninstall();
        free(w);
        return NULL;
    }
    w->w_pool = rn_stack_pool(w->w_st);
    w->w_own = rn_nb_owner_register("conform.peer");
    cp.sc_pool_a = w->w_pool;
    cp.sc_pool_b = w->w_pool;
    memcpy(cp.sc_hwaddr_a, dut_mac, 6);
    memcpy(cp.sc_hwaddr_b, peer_mac, 6);
    assert_int_equal(rn_sim_cable_new(&cp, &la, &lb), 0);
    memcpy(ip.ifp_mac, dut_mac, 6);
    ip.ifp_link = la;
    assert_int_equal(rn_stack_add_iface(w->w_st, &ip, &ifp), 0);
    w->w_peer = lb;
    w->w_v6 = cf_ipv6;
    if (w->w_v6) {
        struct rn_ip6 a;

        v6_of(DUT_ADDR, a.i6_octet);
        assert_int_equal(rn_iface_add_addr6(ifp, &a, 96), 0);
    }
    w->w_peer_iss = PEER_ISS_DEFAULT;
    w->w_peer_port = PEER_PORT;
    w->w_dut_ws = w->w_peer_ws = -1;
    w->w_lu.cu_w = w;
    for (i = 0; i < MAX_CONNS; i++)
        w->w_cu[i].cu_w = w;
    settle(w);
    /* Over IPv6 the addresses are tentative until duplicate address
     * detection has waited its second: the case starts after it. */
    if (w->w_v6)
        run_to(w, w->w_now + RN_MSEC(1100));
    w->w_t0 = w->w_last = w->w_now;
    rn_stack_counters(w->w_st, base_fn, w);
    return w;
}

void cf_use_ipv6(bool on)
{
    cf_ipv6 = on;
}

int cf_world_close(struct cf_world *w, char *err, size_t errlen)
{
    int rc = 0, e;
    unsigned i;

    while (w->w_nc > 0) {
        struct tcp_conn *c = w->w_c[--w->w_nc];

        if (c == NULL)
            continue;
        rn__tcp_close(c, true);
        rn_ob_deref(c, RN_TAG_SOCKET_ENDPOINT);
    }
    if (w->w_l != NULL)
        rn__tcp_listener_close(w->w_l);
    run_to(w, w->w_now + RN_MSEC(10));
    for (i = 0; i < w->w_nout; i++)
        free(w->w_out[i].cs_payload);
    free(w->w_out);
    free(w->w_lastin.cs_payload);
    e = rn_stack_destroy(w->w_st);
    rn_link_close(w->w_peer);
    clock_manual_uninstall();
    if (e < 0)
        rc = cf_fail(err, errlen, "the stack held objects or buffers at its end: %s",
                  rn_strerror(e));
    free(w);
    return rc;
}
