/*
 * ICMPv6 errors (RFC 4443) delivered to TCP and UDP over IPv6, between two
 * stacks on a simulated cable in virtual time.  The errors are built here
 * and handed to a as if from b, so each field is the test's choice, but
 * for the port unreachable b sends itself.  Checked: a connect ended by a
 * destination unreachable with the code Linux gives each code (through an
 * extension header in the quote too), and not by one about a sequence
 * number not in flight (RFC 5927) nor by a time exceeded (soft); a next
 * hop that never answers neighbour discovery ends it with EHOSTUNREACH,
 * as an address unreachable would; a packet
 * too big shrinks an established connection's segments to the path MTU it
 * leaves (40 + 20 + 12 of headers) and the data still arrives whole,
 * unfragmented, while a too big about data not in flight lowers the path
 * MTU only; a connected UDP socket hears ECONNREFUSED from b's port
 * unreachable, and EACCES from an administratively prohibited, but not a
 * time exceeded; quotes that cannot be walked to TCP or UDP, or that are
 * about datagrams not ours, are dropped under their reasons.  Every test
 * ends with no object left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "refnet/socket.h"
#include "refnet/stack.h"
#include "refnet/tcp.h"
#include "support.h"
#include "transport/tcp_priv.h"
#include "wire/bytes.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"

/* Virtual time in microseconds. */
#define USEC(us) ((rn_time_t)(us) * 1000)

/* An on-link address nobody answers for: a connect to it stays in
 * SYN_SENT, its SYN waiting for neighbour discovery. */
#define ADDR6_NOBODY "2001:2::99"

static struct rn_ip6 A6(const char *s)
{
    struct rn_ip6 a;

    assert_int_equal(rn_ip6_addr_parse(s, &a, NULL), 0);
    return a;
}

static struct rn_sockaddr_in sa6(const char *addr, uint16_t port)
{
    return (struct rn_sockaddr_in){.sin_family = RN_AF_INET6, .sin_port = port,
                                   .sin6_addr = A6(addr)};
}

/* The completions of the closes: they come after close_h() returns, so
 * they go to storage that outlives it. */
static struct rec closes;

static void up(void)
{
    struct pair_params pp = {.pp_ipv6 = true, .pp_procs = true};

    memset(&closes, 0, sizeof(closes));
    pair_up_with(&pp);
}

static void down(void)
{
    pair_down();
    check_live_objects(0);
}

/* Writes into q the start of a datagram src -> dst as an error would
 * quote it: the fixed header, a destination options header of ext bytes
 * (a multiple of 8; 0: none) declaring ext_decl bytes, then l4len bytes
 * of l4, the header of proto.  Returns its length. */
static size_t quote(uint8_t *q, const char *src, const char *dst, uint8_t proto, size_t ext,
                    size_t ext_decl, const uint8_t *l4, size_t l4len)
{
    struct rn_ip6_hdr ip = {.ip6_plen = 1200, .ip6_nxt = ext ? RN_IP6_NH_DSTOPTS : proto,
                            .ip6_hlim = 64};
    size_t n = RN_IP6_HLEN;

    ip.ip6_src = A6(src);
    ip.ip6_dst = A6(dst);
    rn__ip6_emit(q, &ip);
    if (ext != 0) {
        memset(q + n, 0, ext);
        q[n] = proto;
        q[n + 1] = (uint8_t)(ext_decl / 8 - 1);
        q[n + 2] = RN_IP6_OPT_PADN;
        q[n + 3] = (uint8_t)(ext - 4);
        n += ext;
    }
    memcpy(q + n, l4, l4len);
    return n + l4len;
}

/* The first 20 bytes of a TCP header sport -> dport with sequence seq. */
static void tcp_hdr(uint8_t *h, uint16_t sport, uint16_t dport, uint32_t seq)
{
    memset(h, 0, 20);
    rn_put_be16(h, sport);
    rn_put_be16(h + 2, dport);
    rn_put_be32(h + 4, seq);
    h[12] = 5 << 4;
}

/* Hands a an ICMPv6 error of type and code, with rest in its 4 bytes,
 * from b's address, quoting the qlen bytes at q. */
static void err_to_a(uint8_t type, uint8_t code, uint32_t rest, const uint8_t *q, size_t qlen)
{
    struct rn_netbuf *nb = rn__ip_alloc(P.b, rn_nb_owner_register("test"));
    struct rn_ip6_hdr ip = {.ip6_nxt = RN_IPPROTO_ICMPV6, .ip6_hlim = 64};
    uint8_t m[RN_ICMP6_HLEN + 256];
    size_t len = RN_ICMP6_HLEN + qlen;
    uint8_t *p;

    assert_true(qlen <= 256);
    ip.ip6_plen = (uint16_t)len;
    ip.ip6_src = A6(ADDR6_B);
    ip.ip6_dst = A6(ADDR6_A);
    memset(m, 0, RN_ICMP6_HLEN);
    m[0] = type;
    m[1] = code;
    rn_put_be32(m + 4, rest);
    memcpy(m + RN_ICMP6_HLEN, q, qlen);
    rn__icmp6_set_csum(m, len, &ip.ip6_src, &ip.ip6_dst);
    assert_non_null(nb);
    p = rn_nb_put(nb, RN_ETH_HLEN + RN_IP6_HLEN + len);
    assert_non_null(p);
    memcpy(p, P.ifa->if_mac.mac_octet, 6);
    memcpy(p + 6, P.ifb->if_mac.mac_octet, 6);
    rn_put_be16(p + 12, RN_ETHERTYPE_IPV6);
    rn__ip6_emit(p + RN_ETH_HLEN, &ip);
    memcpy(p + RN_ETH_HLEN + RN_IP6_HLEN, m, len);
    rn__net_eth_input(P.ifa, nb);
}

/* a's TCP connection of socket h, to to:port. */
static struct tcp_conn *conn_of(int h, const char *to, uint16_t port)
{
    struct rn_sockaddr_in l;
    struct rn_ip6 dst = A6(to);

    assert_int_equal(rn_sock_getname(P.pa, h, &l, NULL), 0);
    return rn__tcp_lookup(rn__tcp_stack(P.a), rn_inaddr_v6(&l.sin6_addr), l.sin_port,
                          rn_inaddr_v6(&dst), port);
}

/* The local port of a's socket h. */
static uint16_t lport_of(int h)
{
    struct rn_sockaddr_in l;

    assert_int_equal(rn_sock_getname(P.pa, h, &l, NULL), 0);
    return l.sin_port;
}

static void close_h(struct rn_proc *p, int h)
{
    submit(p, RN_SOP_CLOSE, h, NULL, 0, NULL, &closes);
}

/* Opens a connect from a to ADDR6_NOBODY:80, left in SYN_SENT; its
 * completion goes to r.  Returns the handle, and the SYN's sequence number
 * in *iss. */
static int connect_nobody(struct rec *r, uint32_t *iss)
{
    struct rn_sockaddr_in to = sa6(ADDR6_NOBODY, 80);
    struct tcp_conn *c;
    int h = rn_sock_open(P.pa, RN_SOCK_STREAM | RN_SOCK_INET6, 0);

    assert_true(h > 0);
    submit(P.pa, RN_SOP_CONNECT, h, NULL, 0, &to, r);
    run_for(RN_MSEC(1));
    c = conn_of(h, ADDR6_NOBODY, 80);
    assert_non_null(c);
    assert_int_equal(tcp_state(c), TCPS_SYN_SENT);
    *iss = c->snd_una;
    return h;
}

/* A destination unreachable about our SYN ends the connect with Linux's
 * code for it: 0 ENETUNREACH, 1 EACCES, 3 EHOSTUNREACH, 4 ECONNREFUSED,
 * 5 and 6 EACCES, an unknown code EPROTO.  Code 1 comes with a
 * destination options header in the quote, which is walked. */
static void test_connect_unreachable(void **state)
{
    static const struct {
        uint8_t code;
        int want;
    } cases[] = {
        {RN_ICMP6_UNREACH_NOROUTE, RN_ENETUNREACH}, {RN_ICMP6_UNREACH_ADMIN, RN_EACCES},
        {RN_ICMP6_UNREACH_ADDR, RN_EHOSTUNREACH},   {RN_ICMP6_UNREACH_PORT, RN_ECONNREFUSED},
        {5, RN_EACCES},                             {6, RN_EACCES},
        {9, RN_EPROTO},
    };
    unsigned i;

    (void)state;
    up();
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rec r = {0};
        uint8_t th[20], q[128];
        uint32_t iss;
        size_t n;
        int h = connect_nobody(&r, &iss);
        uint64_t before = net_st(P.a)->ns_icmp6_err_to_transport;

        tcp_hdr(th, lport_of(h), 80, iss);
        n = quote(q, ADDR6_A, ADDR6_NOBODY, RN_IPPROTO_TCP, i == 1 ? 8 : 0, 8, th, sizeof(th));
        err_to_a(RN_ICMP6_DEST_UNREACH, cases[i].code, 0, q, n);
        run_for(RN_MSEC(1));
        assert_int_equal(net_st(P.a)->ns_icmp6_err_to_transport, before + 1);
        assert_non_null(last_of(&r, RN_SOP_CONNECT));
        assert_int_equal(last_of(&r, RN_SOP_CONNECT)->sc_result, cases[i].want);
        assert_null(conn_of(h, ADDR6_NOBODY, 80));
        close_h(P.pa, h);
    }
    run_for(RN_MSEC(10));
    down();
}

/* Not every error ends a connect: one about a sequence number that is
 * not in flight (RFC 5927), and a time exceeded (soft, RFC 1122
 * 4.2.3.9), leave it opening. */
static void test_connect_soft_and_stale(void **state)
{
    struct rec r = {0};
    uint8_t th[20], q[128];
    uint32_t iss;
    size_t n;
    int h;

    (void)state;
    up();
    h = connect_nobody(&r, &iss);
    tcp_hdr(th, lport_of(h), 80, iss + 1000);
    n = quote(q, ADDR6_A, ADDR6_NOBODY, RN_IPPROTO_TCP, 0, 0, th, sizeof(th));
    err_to_a(RN_ICMP6_DEST_UNREACH, RN_ICMP6_UNREACH_PORT, 0, q, n);
    tcp_hdr(th, lport_of(h), 80, iss);
    n = quote(q, ADDR6_A, ADDR6_NOBODY, RN_IPPROTO_TCP, 0, 0, th, sizeof(th));
    err_to_a(RN_ICMP6_TIME_EXCEEDED, 0, 0, q, n);
    run_for(RN_MSEC(1));
    assert_int_equal(net_st(P.a)->ns_icmp6_err_to_transport, 2);
    assert_null(last_of(&r, RN_SOP_CONNECT));
    assert_non_null(conn_of(h, ADDR6_NOBODY, 80));
    assert_int_equal(tcp_state(conn_of(h, ADDR6_NOBODY, 80)), TCPS_SYN_SENT);
    close_h(P.pa, h);
    run_for(RN_MSEC(10));
    down();
}

/* A next hop that never answers neighbour discovery: the connect ends
 * with EHOSTUNREACH once the solicitations run out, as from an ICMPv6
 * address unreachable (and as Linux's does), instead of waiting for its
 * SYN's retransmissions to time out. */
static void test_nd_failure_ends_connect(void **state)
{
    struct rec r = {0};
    uint32_t iss;
    int h;

    (void)state;
    up();
    h = connect_nobody(&r, &iss);
    run_for(RN_SEC(2));
    assert_null(last_of(&r, RN_SOP_CONNECT));
    run_for(RN_SEC(3));
    assert_non_null(last_of(&r, RN_SOP_CONNECT));
    assert_int_equal(last_of(&r, RN_SOP_CONNECT)->sc_result, RN_EHOSTUNREACH);
    assert_true(net_st(P.a)->ns_icmp6_err_to_transport >= 1);
    assert_true(rn_stack_drops(P.a, RN_DROP_ND_UNRESOLVED) >= 1);
    close_h(P.pa, h);
    run_for(RN_MSEC(10));
    down();
}

/* A packet too big about data in flight: the path MTU drops to it, the
 * connection's segments shrink to it less 40 + 20 + 12 and what was lost
 * is sent again in them; the data arrives whole, and nothing was cut
 * into fragments.  One about data not in flight lowers the path MTU
 * only. */
static void test_too_big_shrinks_segments(void **state)
{
    struct rn_sockaddr_in any = sa6("::", 80), to = sa6(ADDR6_B, 80);
    struct rn_ip6 b6 = A6(ADDR6_B);
    static uint8_t data[64 * 1024], got[64 * 1024];
    const struct rn_sock_completion *c;
    struct rec ra = {0}, rb = {0};
    struct rn_tcp_info ti;
    struct tcp_conn *tc;
    uint8_t th[20], q[128];
    size_t n, have = 0;
    int hl, hc, hs, i;

    (void)state;
    up();
    for (i = 0; i < (int)sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + i / 251);
    hl = rn_sock_open(P.pb, RN_SOCK_STREAM | RN_SOCK_INET6, 0);
    assert_int_equal(rn_sock_bind(P.pb, hl, &any), 0);
    assert_int_equal(rn_sock_listen(P.pb, hl, 4), 0);
    submit(P.pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &rb);
    hc = rn_sock_open(P.pa, RN_SOCK_STREAM | RN_SOCK_INET6, 0);
    submit(P.pa, RN_SOP_CONNECT, hc, NULL, 0, &to, &ra);
    run_for(RN_MSEC(100));
    assert_int_equal(last_of(&ra, RN_SOP_CONNECT)->sc_result, 0);
    c = last_of(&rb, RN_SOP_ACCEPT);
    assert_non_null(c);
    hs = (int)c->sc_result;
    assert_int_equal(rn_sock_tcp_info(P.pa, hc, &ti), 0);
    assert_int_equal(ti.ti_snd_mss, 1500 - 60 - 12);
    tc = conn_of(hc, ADDR6_B, 80);
    assert_non_null(tc);

    /* Half a millisecond into the send, nothing acknowledged yet. */
    submit(P.pa, RN_SOP_SEND, hc, data, sizeof(data), NULL, &ra);
    run_for(USEC(500));
    assert_true(SEQ_LT(tc->snd_una, tc->snd_max));
    /* About data past what is in flight: believed by the path MTU, not by
     * the connection. */
    tcp_hdr(th, lport_of(hc), 80, tc->snd_max + 5000);
    n = quote(q, ADDR6_A, ADDR6_B, RN_IPPROTO_TCP, 0, 0, th, sizeof(th));
    err_to_a(RN_ICMP6_PACKET_TOO_BIG, 0, 1400, q, n);
    assert_int_equal(rn__net_rd6_path_mtu(P.a, &b6), 1400);
    assert_int_equal(tc->t_maxseg, 1500 - 60 - 12);
    /* About the first byte in flight: taken. */
    tcp_hdr(th, lport_of(hc), 80, tc->snd_una);
    n = quote(q, ADDR6_A, ADDR6_B, RN_IPPROTO_TCP, 0, 0, th, sizeof(th));
    err_to_a(RN_ICMP6_PACKET_TOO_BIG, 0, 1400, q, n);
    assert_int_equal(tc->t_maxseg, 1400 - 60 - 12);
    assert_int_equal(rn_sock_tcp_info(P.pa, hc, &ti), 0);
    assert_int_equal(ti.ti_snd_mss, 1400 - 60 - 12);
    /* Below 1280 counts as 1280 (RFC 8201 4). */
    tcp_hdr(th, lport_of(hc), 80, tc->snd_una);
    n = quote(q, ADDR6_A, ADDR6_B, RN_IPPROTO_TCP, 0, 0, th, sizeof(th));
    err_to_a(RN_ICMP6_PACKET_TOO_BIG, 0, 600, q, n);
    assert_int_equal(tc->t_maxseg, 1280 - 60 - 12);
    assert_int_equal(net_st(P.a)->ns_icmp6_err_to_transport, 3);

    /* Everything arrives, in order, and a cut nothing into fragments. */
    while (have < sizeof(data)) {
        struct rec rr = {0};

        submit(P.pb, RN_SOP_RECV, hs, got + have, sizeof(got) - have, NULL, &rr);
        run_for(RN_MSEC(50));
        c = last_of(&rr, RN_SOP_RECV);
        assert_non_null(c);
        assert_true(c->sc_result > 0);
        have += (size_t)c->sc_result;
    }
    assert_memory_equal(got, data, sizeof(data));
    assert_int_equal(net_st(P.a)->ns_ip6_frag_out, 0);
    close_h(P.pa, hc);
    close_h(P.pb, hs);
    close_h(P.pb, hl);
    run_for(RN_SEC(130));
    down();
}

/* Another connection to the destination a packet too big named keeps its
 * segment size, so IPv6 output cuts its longer segments into fragments by
 * the path MTU; with checksums left to the link (offloads on), those
 * fragments carry the finished checksum, and the data arrives. */
static void test_too_big_other_connection(void **state)
{
    struct pair_params pp = {.pp_ipv6 = true, .pp_procs = true, .pp_offloads = true};
    struct rn_sockaddr_in any = sa6("::", 80), to = sa6(ADDR6_B, 80);
    static uint8_t data[1400], got[1400];
    const struct rn_sock_completion *c;
    struct rec ra = {0}, rb = {0}, rr = {0};
    uint8_t th[20], q[128];
    size_t n;
    int hl, h1, h2, hs1, hs2;

    (void)state;
    memset(&closes, 0, sizeof(closes));
    pair_up_with(&pp);
    memset(data, 0x5a, sizeof(data));
    hl = rn_sock_open(P.pb, RN_SOCK_STREAM | RN_SOCK_INET6, 0);
    assert_int_equal(rn_sock_bind(P.pb, hl, &any), 0);
    assert_int_equal(rn_sock_listen(P.pb, hl, 4), 0);
    submit(P.pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &rb);
    submit(P.pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &rb);
    h1 = rn_sock_open(P.pa, RN_SOCK_STREAM | RN_SOCK_INET6, 0);
    h2 = rn_sock_open(P.pa, RN_SOCK_STREAM | RN_SOCK_INET6, 0);
    submit(P.pa, RN_SOP_CONNECT, h1, NULL, 0, &to, &ra);
    submit(P.pa, RN_SOP_CONNECT, h2, NULL, 0, &to, &ra);
    run_for(RN_MSEC(100));
    assert_int_equal(rb.n, 2);
    hs1 = (int)rb.c[0].sc_result;
    hs2 = (int)rb.c[1].sc_result;
    assert_true(hs1 > 0 && hs2 > 0);
    /* A packet too big about the first connection (stale: its data is all
     * acknowledged) lowers the path MTU for both. */
    tcp_hdr(th, lport_of(h1), 80, conn_of(h1, ADDR6_B, 80)->snd_una);
    n = quote(q, ADDR6_A, ADDR6_B, RN_IPPROTO_TCP, 0, 0, th, sizeof(th));
    err_to_a(RN_ICMP6_PACKET_TOO_BIG, 0, 1280, q, n);
    assert_int_equal(net_st(P.a)->ns_ip6_pmtu_updates, 1);
    /* The second sends one segment of 1400 bytes: in fragments. */
    submit(P.pa, RN_SOP_SEND, h2, data, sizeof(data), NULL, &ra);
    run_for(RN_MSEC(20));
    assert_true(net_st(P.a)->ns_ip6_frag_out >= 2);
    {
        struct rn_sockaddr_in rm;
        int hs;

        /* b's handle of the second connection: its peer's port is h2's. */
        assert_int_equal(rn_sock_getname(P.pb, hs1, NULL, &rm), 0);
        hs = rm.sin_port == lport_of(h2) ? hs1 : hs2;
        submit(P.pb, RN_SOP_RECV, hs, got, sizeof(got), NULL, &rr);
        run_for(RN_MSEC(20));
        c = last_of(&rr, RN_SOP_RECV);
        assert_non_null(c);
        assert_int_equal(c->sc_result, sizeof(data));
    }
    assert_memory_equal(got, data, sizeof(data));
    assert_int_equal(rn_stack_drops(P.b, RN_DROP_BAD_TCP_CSUM), 0);
    close_h(P.pa, h1);
    close_h(P.pa, h2);
    close_h(P.pb, hs1);
    close_h(P.pb, hs2);
    close_h(P.pb, hl);
    run_for(RN_SEC(130));
    down();
}

/* A connected UDP socket: b's own port unreachable gives ECONNREFUSED on
 * the next receive; an administratively prohibited gives EACCES; a time
 * exceeded is soft and says nothing.  An unconnected socket hears none. */
static void test_udp_connected(void **state)
{
    struct rn_sockaddr_in closed = sa6(ADDR6_B, 54);
    const struct rn_sock_completion *c;
    struct rec r = {0};
    uint8_t buf[64] = "hello", uh[8], q[128];
    size_t n;
    int hu, hc;

    (void)state;
    up();
    /* Unconnected: the error reaches UDP but no socket. */
    hu = rn_sock_open(P.pa, RN_SOCK_DGRAM | RN_SOCK_INET6, 0);
    submit(P.pa, RN_SOP_SEND, hu, buf, 5, &closed, &r);
    run_for(RN_MSEC(20));
    assert_int_equal(net_st(P.a)->ns_icmp6_err_to_transport, 1);
    assert_int_equal(rn_sock_ready(P.pa, hu) & RN_POLLERR, 0);
    /* Connected: ECONNREFUSED, once. */
    hc = rn_sock_open(P.pa, RN_SOCK_DGRAM | RN_SOCK_INET6, 0);
    submit(P.pa, RN_SOP_CONNECT, hc, NULL, 0, &closed, &r);
    submit(P.pa, RN_SOP_RECV, hc, buf, sizeof(buf), NULL, &r);
    submit(P.pa, RN_SOP_SEND, hc, buf, 5, NULL, &r);
    run_for(RN_MSEC(20));
    assert_int_equal(net_st(P.a)->ns_icmp6_err_to_transport, 2);
    c = last_of(&r, RN_SOP_RECV);
    assert_non_null(c);
    assert_int_equal(c->sc_result, RN_ECONNREFUSED);
    submit(P.pa, RN_SOP_SEND, hc, buf, 5, NULL, &r);
    run_for(USEC(100));  /* before b's answer comes back */
    assert_int_equal(last_of(&r, RN_SOP_SEND)->sc_result, 5);
    run_for(RN_MSEC(20));
    /* Consume the second refusal. */
    submit(P.pa, RN_SOP_RECV, hc, buf, sizeof(buf), NULL, &r);
    run_for(RN_MSEC(1));
    assert_int_equal(last_of(&r, RN_SOP_RECV)->sc_result, RN_ECONNREFUSED);
    /* Time exceeded: soft. */
    rn_put_be16(uh, lport_of(hc));
    rn_put_be16(uh + 2, 54);
    rn_put_be16(uh + 4, 13);
    rn_put_be16(uh + 6, 0);
    n = quote(q, ADDR6_A, ADDR6_B, RN_IPPROTO_UDP, 0, 0, uh, sizeof(uh));
    err_to_a(RN_ICMP6_TIME_EXCEEDED, 0, 0, q, n);
    assert_int_equal(rn_sock_ready(P.pa, hc) & RN_POLLERR, 0);
    /* Administratively prohibited, through an extension header: EACCES. */
    n = quote(q, ADDR6_A, ADDR6_B, RN_IPPROTO_UDP, 16, 16, uh, sizeof(uh));
    err_to_a(RN_ICMP6_DEST_UNREACH, RN_ICMP6_UNREACH_ADMIN, 0, q, n);
    assert_int_not_equal(rn_sock_ready(P.pa, hc) & RN_POLLERR, 0);
    submit(P.pa, RN_SOP_SEND, hc, buf, 5, NULL, &r);
    run_for(USEC(100));
    assert_int_equal(last_of(&r, RN_SOP_SEND)->sc_result, RN_EACCES);
    close_h(P.pa, hu);
    close_h(P.pa, hc);
    run_for(RN_MSEC(20));
    down();
}

/* Errors that cannot be delivered are dropped under their reasons: an
 * extension header running past the quote, a quote ending inside the
 * TCP header's first 8 bytes, a later fragment, an error about a datagram
 * from an address not ours, a quote shorter than an IPv6 header.  None
 * reaches a transport, and a connect they name stays open. */
static void test_bad_quotes(void **state)
{
    struct rec r = {0};
    uint8_t th[20], q[128];
    uint32_t iss;
    size_t n;
    int h;

    (void)state;
    up();
    h = connect_nobody(&r, &iss);
    tcp_hdr(th, lport_of(h), 80, iss);
    /* A 16-byte destination options header cut after 8. */
    n = quote(q, ADDR6_A, ADDR6_NOBODY, RN_IPPROTO_TCP, 8, 16, th, 0);
    err_to_a(RN_ICMP6_DEST_UNREACH, RN_ICMP6_UNREACH_PORT, 0, q, n);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_BAD_ICMP6_QUOTE), 1);
    /* Four bytes of TCP: ports, no sequence number. */
    n = quote(q, ADDR6_A, ADDR6_NOBODY, RN_IPPROTO_TCP, 0, 0, th, 4);
    err_to_a(RN_ICMP6_DEST_UNREACH, RN_ICMP6_UNREACH_PORT, 0, q, n);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_BAD_ICMP6_QUOTE), 2);
    /* A fragment that is not the first: its upper layer is not there. */
    {
        /* Offset 1280, more fragments. */
        uint8_t fh[8] = {RN_IPPROTO_TCP, 0, 0x05, 0x01, 0, 0, 0, 9};

        n = quote(q, ADDR6_A, ADDR6_NOBODY, RN_IP6_NH_FRAGMENT, 0, 0, fh, sizeof(fh));
        memcpy(q + n, th, sizeof(th));
        n += sizeof(th);
        err_to_a(RN_ICMP6_DEST_UNREACH, RN_ICMP6_UNREACH_PORT, 0, q, n);
        assert_int_equal(rn_stack_drops(P.a, RN_DROP_BAD_ICMP6_QUOTE), 3);
    }
    /* About a datagram from someone else. */
    n = quote(q, "2001:2::77", ADDR6_NOBODY, RN_IPPROTO_TCP, 0, 0, th, sizeof(th));
    err_to_a(RN_ICMP6_DEST_UNREACH, RN_ICMP6_UNREACH_PORT, 0, q, n);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_ICMP6_ERR_NOT_OURS), 1);
    err_to_a(RN_ICMP6_PACKET_TOO_BIG, 0, 1280, q, n);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_PTB_NOT_OURS), 1);
    /* Less than an IPv6 header. */
    err_to_a(RN_ICMP6_DEST_UNREACH, RN_ICMP6_UNREACH_PORT, 0, q, 39);
    assert_int_equal(rn_stack_drops(P.a, RN_DROP_BAD_ICMP), 1);
    run_for(RN_MSEC(1));
    assert_int_equal(net_st(P.a)->ns_icmp6_err_to_transport, 0);
    assert_null(last_of(&r, RN_SOP_CONNECT));
    assert_int_equal(tcp_state(conn_of(h, ADDR6_NOBODY, 80)), TCPS_SYN_SENT);
    close_h(P.pa, h);
    run_for(RN_MSEC(10));
    down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_unreachable),
        cmocka_unit_test(test_connect_soft_and_stale),
        cmocka_unit_test(test_nd_failure_ends_connect),
        cmocka_unit_test(test_too_big_shrinks_segments),
        cmocka_unit_test(test_too_big_other_connection),
        cmocka_unit_test(test_udp_connected),
        cmocka_unit_test(test_bad_quotes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
