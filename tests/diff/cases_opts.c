/*
 * Cases of socket options: unknown ones, read-only ones, defaults, values
 * set and read back, and values out of range.
 */
#include <netinet/ip.h>
#include <netinet/tcp.h>

#include "sockdiff.h"

static void set_unknown(struct run *r, int type, int level, int name)
{
    int s = S_socket(r, type);

    S_setint(r, s, level, name, 1);
    S_getint(r, s, level, name);
}

static void unknown_sol_socket(struct run *r)
{
    set_unknown(r, SOCK_STREAM, SOL_SOCKET, 9999);
}

static void unknown_tcp(struct run *r)
{
    set_unknown(r, SOCK_STREAM, IPPROTO_TCP, 9999);
}

static void unknown_level(struct run *r)
{
    set_unknown(r, SOCK_STREAM, 9999, 1);
}

static void tcp_option_on_udp(struct run *r)
{
    set_unknown(r, SOCK_DGRAM, IPPROTO_TCP, TCP_NODELAY);
}

static void so_priority(struct run *r)
{
    set_unknown(r, SOCK_STREAM, SOL_SOCKET, SO_PRIORITY);
}

static void readonly(struct run *r, int name)
{
    int s = S_socket(r, SOCK_STREAM);

    S_setint(r, s, SOL_SOCKET, name, 1);
}

static void set_so_type(struct run *r)
{
    readonly(r, SO_TYPE);
}

static void set_so_error(struct run *r)
{
    readonly(r, SO_ERROR);
}

static void short_optlen(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM), one = 1;

    S_setopt_raw(r, s, SOL_SOCKET, SO_KEEPALIVE, &one, 2, "1, length 2");
}

/* The default, then v set and read back. */
static void roundtrip(struct run *r, int type, int level, int name, int v)
{
    int s = S_socket(r, type);

    S_getint(r, s, level, name);
    S_setint(r, s, level, name, v);
    S_getint(r, s, level, name);
}

static void keepalive(struct run *r)
{
    roundtrip(r, SOCK_STREAM, SOL_SOCKET, SO_KEEPALIVE, 1);
}

static void nodelay(struct run *r)
{
    roundtrip(r, SOCK_STREAM, IPPROTO_TCP, TCP_NODELAY, 1);
}

static void reuseaddr(struct run *r)
{
    roundtrip(r, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR, 1);
}

static void reuseport(struct run *r)
{
    roundtrip(r, SOCK_STREAM, SOL_SOCKET, SO_REUSEPORT, 1);
}

static void reuseaddr_udp(struct run *r)
{
    roundtrip(r, SOCK_DGRAM, SOL_SOCKET, SO_REUSEADDR, 1);
}

static void broadcast(struct run *r)
{
    roundtrip(r, SOCK_DGRAM, SOL_SOCKET, SO_BROADCAST, 1);
}

static void ttl(struct run *r)
{
    roundtrip(r, SOCK_STREAM, IPPROTO_IP, IP_TTL, 7);
}

static void ttl_udp(struct run *r)
{
    roundtrip(r, SOCK_DGRAM, IPPROTO_IP, IP_TTL, 200);
}

static void tos_udp(struct run *r)
{
    roundtrip(r, SOCK_DGRAM, IPPROTO_IP, IP_TOS, 0x29);
}

static void tos_tcp_ecn(struct run *r)
{
    roundtrip(r, SOCK_STREAM, IPPROTO_IP, IP_TOS, 0x29);
}

static void keepidle(struct run *r)
{
    roundtrip(r, SOCK_STREAM, IPPROTO_TCP, TCP_KEEPIDLE, 5);
}

static void keepintvl(struct run *r)
{
    roundtrip(r, SOCK_STREAM, IPPROTO_TCP, TCP_KEEPINTVL, 3);
}

static void keepcnt(struct run *r)
{
    roundtrip(r, SOCK_STREAM, IPPROTO_TCP, TCP_KEEPCNT, 4);
}

static void user_timeout(struct run *r)
{
    roundtrip(r, SOCK_STREAM, IPPROTO_TCP, TCP_USER_TIMEOUT, 2500);
}

static void cork(struct run *r)
{
    roundtrip(r, SOCK_STREAM, IPPROTO_TCP, TCP_CORK, 1);
}

static void syncnt(struct run *r)
{
    roundtrip(r, SOCK_STREAM, IPPROTO_TCP, TCP_SYNCNT, 2);
}

static void rcvlowat(struct run *r)
{
    roundtrip(r, SOCK_STREAM, SOL_SOCKET, SO_RCVLOWAT, 100);
}

static void rcvlowat_zero(struct run *r)
{
    roundtrip(r, SOCK_STREAM, SOL_SOCKET, SO_RCVLOWAT, 0);
}

static void maxseg_unconnected(struct run *r)
{
    roundtrip(r, SOCK_STREAM, IPPROTO_TCP, TCP_MAXSEG, 1000);
}

static void rcvbuf(struct run *r)
{
    roundtrip(r, SOCK_STREAM, SOL_SOCKET, SO_RCVBUF, 65536);
}

static void sndbuf(struct run *r)
{
    roundtrip(r, SOCK_STREAM, SOL_SOCKET, SO_SNDBUF, 65536);
}

static void rcvbuf_udp(struct run *r)
{
    roundtrip(r, SOCK_DGRAM, SOL_SOCKET, SO_RCVBUF, 65536);
}

/* A value out of range: set, then the value still in force. */
static void bad_value(struct run *r, int type, int level, int name, int v)
{
    int s = S_socket(r, type);

    S_setint(r, s, level, name, v);
    S_getint(r, s, level, name);
}

static void ttl_zero(struct run *r)
{
    bad_value(r, SOCK_DGRAM, IPPROTO_IP, IP_TTL, 0);
}

static void ttl_256(struct run *r)
{
    bad_value(r, SOCK_DGRAM, IPPROTO_IP, IP_TTL, 256);
}

static void ttl_minus_one(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_setint(r, s, IPPROTO_IP, IP_TTL, 9);
    S_setint(r, s, IPPROTO_IP, IP_TTL, -1);
    S_getint(r, s, IPPROTO_IP, IP_TTL);
}

static void keepidle_zero(struct run *r)
{
    bad_value(r, SOCK_STREAM, IPPROTO_TCP, TCP_KEEPIDLE, 0);
}

static void keepidle_too_big(struct run *r)
{
    bad_value(r, SOCK_STREAM, IPPROTO_TCP, TCP_KEEPIDLE, 40000);
}

static void keepintvl_zero(struct run *r)
{
    bad_value(r, SOCK_STREAM, IPPROTO_TCP, TCP_KEEPINTVL, 0);
}

static void keepcnt_zero(struct run *r)
{
    bad_value(r, SOCK_STREAM, IPPROTO_TCP, TCP_KEEPCNT, 0);
}

static void keepcnt_too_big(struct run *r)
{
    bad_value(r, SOCK_STREAM, IPPROTO_TCP, TCP_KEEPCNT, 200);
}

static void user_timeout_negative(struct run *r)
{
    bad_value(r, SOCK_STREAM, IPPROTO_TCP, TCP_USER_TIMEOUT, -1);
}

static void maxseg_too_small(struct run *r)
{
    bad_value(r, SOCK_STREAM, IPPROTO_TCP, TCP_MAXSEG, 10);
}

static void syncnt_zero(struct run *r)
{
    bad_value(r, SOCK_STREAM, IPPROTO_TCP, TCP_SYNCNT, 0);
}

static void rcvbuf_tiny(struct run *r)
{
    bad_value(r, SOCK_STREAM, SOL_SOCKET, SO_RCVBUF, 1);
}

static void rcvtimeo(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_get_timeo(r, s, SO_RCVTIMEO);
    S_timeo(r, s, SO_RCVTIMEO, 1500);
    S_get_timeo(r, s, SO_RCVTIMEO);
}

static void sndtimeo(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_get_timeo(r, s, SO_SNDTIMEO);
    S_timeo(r, s, SO_SNDTIMEO, 2000);
    S_get_timeo(r, s, SO_SNDTIMEO);
}

static void linger(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_get_linger(r, s);
    S_linger(r, s, 1, 5);
    S_get_linger(r, s);
}

static void linger_off(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_linger(r, s, 1, 5);
    S_linger(r, s, 0, 0);
    S_get_linger(r, s);
}

static void so_error_fresh(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_getint(r, s, SOL_SOCKET, SO_ERROR);
}

static void so_type_accepted(struct run *r)
{
    int l, p, a = S_accepted(r, 0, &l, &p);

    S_getint(r, a, SOL_SOCKET, SO_TYPE);
}

static void acceptconn_udp(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_getint(r, s, SOL_SOCKET, SO_ACCEPTCONN);
}

static void acceptconn_set(struct run *r)
{
    readonly(r, SO_ACCEPTCONN);
}

static void maxseg_connected(struct run *r)
{
    int p, s = S_connected(r, 0, &p), mss;

    r->r_quiet = true;
    mss = S_getint(r, s, IPPROTO_TCP, TCP_MAXSEG);
    r->r_quiet = false;
    note(r, "TCP_MAXSEG of a connection over a 1500-byte link is within 1400..1460: %s",
         mss >= 1400 && mss <= 1460 ? "yes" : "no");
}

static void nodelay_udp(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_getint(r, s, IPPROTO_TCP, TCP_NODELAY);
}

/* TCP_CONGESTION: Linux's two names set and read back, in buffers of 16
 * bytes, 32 and 4 (the name cut short).  Not the default: a namespace's
 * kernel starts with the machine's, which may be neither. */
static void congestion(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_setstr(r, s, IPPROTO_TCP, TCP_CONGESTION, "cubic");
    S_getstr(r, s, IPPROTO_TCP, TCP_CONGESTION, 16);
    S_setstr(r, s, IPPROTO_TCP, TCP_CONGESTION, "reno");
    S_getstr(r, s, IPPROTO_TCP, TCP_CONGESTION, 16);
    S_getstr(r, s, IPPROTO_TCP, TCP_CONGESTION, 32);
    S_setstr(r, s, IPPROTO_TCP, TCP_CONGESTION, "cubic");
    S_getstr(r, s, IPPROTO_TCP, TCP_CONGESTION, 4);
}

/* A name no algorithm has: ENOENT, and the choice stays. */
static void congestion_unknown(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_setstr(r, s, IPPROTO_TCP, TCP_CONGESTION, "reno");
    S_setstr(r, s, IPPROTO_TCP, TCP_CONGESTION, "no-such-cc");
    S_setstr(r, s, IPPROTO_TCP, TCP_CONGESTION, "renoreno-renoreno");
    S_getstr(r, s, IPPROTO_TCP, TCP_CONGESTION, 16);
}

static void congestion_udp(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_setstr(r, s, IPPROTO_TCP, TCP_CONGESTION, "cubic");
    S_getstr(r, s, IPPROTO_TCP, TCP_CONGESTION, 16);
}

/* A listener's choice goes to what it accepts; a connection may change. */
static void congestion_accepted(struct run *r)
{
    int l = S_socket(r, SOCK_STREAM), p, a;

    S_setstr(r, l, IPPROTO_TCP, TCP_CONGESTION, "reno");
    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 8);
    p = P_connect(r, A_SELF, PORT(0), PORT(1), 2000);
    S_poll(r, l, POLLIN, 2000);
    a = S_accept(r, l);
    S_getstr(r, a, IPPROTO_TCP, TCP_CONGESTION, 16);
    S_setstr(r, a, IPPROTO_TCP, TCP_CONGESTION, "cubic");
    S_getstr(r, a, IPPROTO_TCP, TCP_CONGESTION, 16);
    S_getstr(r, l, IPPROTO_TCP, TCP_CONGESTION, 16);
    (void)p;
}

#define KA N(F_KEEPALIVE)
#define TT N(F_TOS_TTL)

const struct diffcase cases_opts[] = {
    {"opt.tcp-congestion", "Linux tcp(7) TCP_CONGESTION", N(F_CONGESTION), 0, congestion},
    {"opt.tcp-congestion.unknown.enoent", NULL, N(F_CONGESTION), 0, congestion_unknown},
    {"opt.tcp-congestion.udp", NULL, N(F_CONGESTION), 0, congestion_udp},
    {"opt.tcp-congestion.accepted", NULL, N(F_CONGESTION), 0, congestion_accepted},
    {"opt.unknown.sol-socket.enoprotoopt", "POSIX setsockopt ENOPROTOOPT", 0, 0, unknown_sol_socket},
    {"opt.unknown.ipproto-tcp.enoprotoopt", "POSIX setsockopt ENOPROTOOPT", 0, 0, unknown_tcp},
    {"opt.unknown.level.enoprotoopt", "POSIX setsockopt ENOPROTOOPT", 0, 0, unknown_level},
    {"opt.tcp-option-on-udp.enoprotoopt", "POSIX setsockopt ENOPROTOOPT", 0, 0, tcp_option_on_udp},
    {"opt.tcp-option-on-udp.get.enoprotoopt", "POSIX getsockopt ENOPROTOOPT", 0, 0, nodelay_udp},
    {"opt.so-priority", NULL, 0, 0, so_priority},
    {"opt.so-type.read-only", NULL, 0, 0, set_so_type},
    {"opt.so-error.read-only", NULL, 0, 0, set_so_error},
    {"opt.so-acceptconn.read-only", NULL, N(F_ACCEPTCONN), 0, acceptconn_set},
    {"opt.short-length.einval", "POSIX setsockopt EINVAL", 0, 0, short_optlen},
    {"opt.so-keepalive", "POSIX SO_KEEPALIVE", 0, 0, keepalive},
    {"opt.tcp-nodelay", NULL, 0, 0, nodelay},
    {"opt.so-reuseaddr", "POSIX SO_REUSEADDR", N(F_REUSEADDR), 0, reuseaddr},
    {"opt.so-reuseaddr.udp", "POSIX SO_REUSEADDR", N(F_REUSEADDR), 0, reuseaddr_udp},
    {"opt.so-reuseport", NULL, N(F_REUSEPORT), 0, reuseport},
    {"opt.so-broadcast", "POSIX SO_BROADCAST", N(F_BROADCAST), 0, broadcast},
    {"opt.ip-ttl", "RFC 791 TTL", TT, 0, ttl},
    {"opt.ip-ttl.udp", "RFC 791 TTL", TT, 0, ttl_udp},
    {"opt.ip-tos.udp", "RFC 791 TOS", TT, 0, tos_udp},
    {"opt.ip-tos.tcp-keeps-ecn-bits", "RFC 3168 6.1.1", TT, 0, tos_tcp_ecn},
    {"opt.tcp-keepidle", "RFC 1122 4.2.3.6", KA, 0, keepidle},
    {"opt.tcp-keepintvl", "RFC 1122 4.2.3.6", KA, 0, keepintvl},
    {"opt.tcp-keepcnt", "RFC 1122 4.2.3.6", KA, 0, keepcnt},
    {"opt.tcp-user-timeout", "RFC 5482", N(F_USER_TIMEOUT), 0, user_timeout},
    {"opt.tcp-cork", NULL, N(F_CORK), 0, cork},
    {"opt.tcp-syncnt", NULL, N(F_SYNCNT), 0, syncnt},
    {"opt.so-rcvlowat", "POSIX SO_RCVLOWAT", N(F_RCVLOWAT), 0, rcvlowat},
    {"opt.so-rcvlowat.zero-means-one", NULL, N(F_RCVLOWAT), 0, rcvlowat_zero},
    {"opt.tcp-maxseg.unconnected", NULL, N(F_MAXSEG), 0, maxseg_unconnected},
    {"opt.tcp-maxseg.connected", "RFC 9293 3.7.1", N(F_MAXSEG), 0, maxseg_connected},
    {"opt.so-rcvbuf", "POSIX SO_RCVBUF", N(F_BUFSIZE), 0, rcvbuf},
    {"opt.so-sndbuf", "POSIX SO_SNDBUF", N(F_BUFSIZE), 0, sndbuf},
    {"opt.so-rcvbuf.udp", "POSIX SO_RCVBUF", N(F_BUFSIZE), 0, rcvbuf_udp},
    {"opt.so-rcvbuf.tiny", NULL, N(F_BUFSIZE), 0, rcvbuf_tiny},
    {"opt.ip-ttl.zero.einval", NULL, TT, 0, ttl_zero},
    {"opt.ip-ttl.256.einval", NULL, TT, 0, ttl_256},
    {"opt.ip-ttl.minus-one-restores-default", NULL, TT, 0, ttl_minus_one},
    {"opt.tcp-keepidle.zero.einval", NULL, KA, 0, keepidle_zero},
    {"opt.tcp-keepidle.too-big.einval", NULL, KA, 0, keepidle_too_big},
    {"opt.tcp-keepintvl.zero.einval", NULL, KA, 0, keepintvl_zero},
    {"opt.tcp-keepcnt.zero.einval", NULL, KA, 0, keepcnt_zero},
    {"opt.tcp-keepcnt.too-big.einval", NULL, KA, 0, keepcnt_too_big},
    {"opt.tcp-user-timeout.negative.einval", NULL, N(F_USER_TIMEOUT), 0, user_timeout_negative},
    {"opt.tcp-maxseg.too-small.einval", NULL, N(F_MAXSEG), 0, maxseg_too_small},
    {"opt.tcp-syncnt.zero.einval", NULL, N(F_SYNCNT), 0, syncnt_zero},
    {"opt.so-rcvtimeo", "POSIX SO_RCVTIMEO", 0, 0, rcvtimeo},
    {"opt.so-sndtimeo", "POSIX SO_SNDTIMEO", 0, 0, sndtimeo},
    {"opt.so-linger", "POSIX SO_LINGER", 0, 0, linger},
    {"opt.so-linger.off-keeps-seconds", NULL, 0, 0, linger_off},
    {"opt.so-error.fresh-zero", "POSIX SO_ERROR", 0, 0, so_error_fresh},
    {"opt.so-type.accepted", "POSIX SO_TYPE", 0, 0, so_type_accepted},
    {"opt.so-acceptconn.udp", NULL, N(F_ACCEPTCONN), 0, acceptconn_udp},
    {NULL, NULL, 0, 0, NULL},
};
