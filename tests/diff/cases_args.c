/*
 * Cases of bad arguments and of handles: socket()'s family, type and
 * protocol, every call on a handle that is not open, addresses that cannot
 * be bound, and the non-blocking flag of a handle.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "sockdiff.h"

/* A handle number no run ever opens. */
#define BAD 1000

static void sock_type(struct run *r, int type, int proto)
{
    int s = S_socket3(r, AF_INET, type, proto);

    if (s >= 0)
        S_getint(r, s, SOL_SOCKET, SO_TYPE);
}

static void socket_stream(struct run *r)
{
    sock_type(r, SOCK_STREAM, 0);
}

static void socket_dgram(struct run *r)
{
    sock_type(r, SOCK_DGRAM, 0);
}

static void socket_stream_tcp(struct run *r)
{
    sock_type(r, SOCK_STREAM, IPPROTO_TCP);
}

static void socket_dgram_udp(struct run *r)
{
    sock_type(r, SOCK_DGRAM, IPPROTO_UDP);
}

static void socket_stream_udp(struct run *r)
{
    sock_type(r, SOCK_STREAM, IPPROTO_UDP);
}

static void socket_dgram_tcp(struct run *r)
{
    sock_type(r, SOCK_DGRAM, IPPROTO_TCP);
}

static void socket_raw(struct run *r)
{
    sock_type(r, SOCK_RAW, 0);
}

static void socket_seqpacket(struct run *r)
{
    sock_type(r, SOCK_SEQPACKET, 0);
}

static void socket_type99(struct run *r)
{
    sock_type(r, 99, 0);
}

static void socket_inet6(struct run *r)
{
    S_socket3(r, AF_INET6, SOCK_STREAM, 0);
}

static void socket_lowest_free(struct run *r)
{
    int a, b, c;

    fd_hold(r);
    a = S_socket(r, SOCK_STREAM);
    b = S_socket(r, SOCK_STREAM);
    S_close(r, a);
    c = S_socket(r, SOCK_DGRAM);
    fd_release(r);
    note(r, "the new socket takes the lowest free number, the closed one's: %s",
         c == a && b > a ? "yes" : "no");
}

static void socket_nonblock_flag(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM | SOCK_NONBLOCK);

    S_getfl(r, s);
}

/* ---- EBADF for every call --------------------------------------------------------- */

static void ebadf_bind(struct run *r)
{
    S_bind(r, BAD, A_ANY, PORT(0));
}

static void ebadf_listen(struct run *r)
{
    S_listen(r, BAD, 4);
}

static void ebadf_connect(struct run *r)
{
    S_connect(r, BAD, A_PEER, PORT(0));
}

static void ebadf_accept(struct run *r)
{
    S_accept(r, BAD);
}

static void ebadf_send(struct run *r)
{
    S_send(r, BAD, "x", 1, 0);
}

static void ebadf_sendto(struct run *r)
{
    S_sendto(r, BAD, "x", 1, 0, A_PEER, PORT(0));
}

static void ebadf_recv(struct run *r)
{
    S_recv(r, BAD, 10, 0);
}

static void ebadf_shutdown(struct run *r)
{
    S_shutdown(r, BAD, SHUT_RDWR);
}

static void ebadf_close(struct run *r)
{
    S_close(r, BAD);
}

static void ebadf_setsockopt(struct run *r)
{
    S_setint(r, BAD, SOL_SOCKET, SO_KEEPALIVE, 1);
}

static void ebadf_getsockopt(struct run *r)
{
    S_getint(r, BAD, SOL_SOCKET, SO_TYPE);
}

static void ebadf_getsockname(struct run *r)
{
    S_sockname(r, BAD);
}

static void ebadf_getpeername(struct run *r)
{
    S_peername(r, BAD);
}

static void ebadf_poll(struct run *r)
{
    S_poll(r, BAD, POLLIN, 0);
}

static void ebadf_fcntl(struct run *r)
{
    S_getfl(r, BAD);
}

static void ebadf_closed_send(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    fd_hold(r);
    S_close(r, s);
    S_send(r, s, "x", 1, 0);
    fd_release(r);
}

static void ebadf_closed_recv(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    fd_hold(r);
    S_close(r, s);
    S_recv(r, s, 10, MSG_DONTWAIT);
    fd_release(r);
}

/* ---- addresses --------------------------------------------------------------------- */

static void bind_twice(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_bind(r, s, A_ANY, PORT(0));
    S_bind(r, s, A_ANY, PORT(1));
}

static void bind_not_local(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_bind(r, s, A_OTHER, PORT(0));
}

static void bind_peer_address(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_bind(r, s, A_PEER, PORT(0));
}

static void bind_self(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_bind(r, s, A_SELF, PORT(0));
    S_sockname(r, s);
}

static void bind_short_len(struct run *r)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT(0))};
    int s = S_socket(r, SOCK_STREAM);

    S_bind_raw(r, s, &sin, 4, "any:P0, length 4");
}

static void bind_wrong_family(struct run *r)
{
    struct sockaddr_in sin = {.sin_family = AF_UNIX, .sin_port = htons(PORT(0))};
    int s = S_socket(r, SOCK_STREAM);

    S_bind_raw(r, s, &sin, sizeof(sin), "any:P0, family AF_UNIX");
}

static void connect_short_len(struct run *r)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT(0))};
    int s = S_socket(r, SOCK_STREAM);

    sin.sin_addr.s_addr = htonl(r->r_addr[A_PEER]);
    S_connect_raw(r, s, &sin, 8, "peer:P0, length 8");
}

static void connect_any(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_ANY, PORT(0));
}

static void shutdown_bad_how_udp(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_PEER, PORT(1));
    S_shutdown(r, s, -1);
}

/* ---- the non-blocking flag --------------------------------------------------------- */

static void fcntl_default(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_getfl(r, s);
}

static void fcntl_set_recv_eagain(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_nonblock(r, s, true);
    S_getfl(r, s);
    S_recv(r, s, 10, 0);
}

static void fcntl_clear_blocks(struct run *r)
{
    int p, s = S_connected(r, 0, &p);
    int64_t t0;

    S_nonblock(r, s, true);
    S_nonblock(r, s, false);
    S_getfl(r, s);
    S_timeo(r, s, SO_RCVTIMEO, 150);
    t0 = now_ms();
    S_recv(r, s, 10, 0);
    duration(r, "recv once the flag is cleared, SO_RCVTIMEO 150", now_ms() - t0, 120);
}

static void fcntl_send_full(struct run *r)
{
    static char chunk[16384];
    int p, s = S_connected(r, 0, &p), i;
    ssize_t n = 0;

    S_nonblock(r, s, true);
    r->r_quiet = true;
    for (i = 0; i < 20000 && n >= 0; i++)
        n = S_send(r, s, chunk, sizeof(chunk), 0);
    r->r_quiet = false;
    note(r, "send without flags on a non-blocking socket ends in EAGAIN: %s",
         n < 0 && errno == EAGAIN ? "yes" : "no");
}

static void fcntl_udp_recv(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_bind(r, s, A_ANY, PORT(0));
    S_nonblock(r, s, true);
    S_recv(r, s, 10, 0);
}

static void nonblock_connect_then_blocking_recv(struct run *r)
{
    int l = P_listen(r, PORT(0)), s = S_socket(r, SOCK_STREAM | SOCK_NONBLOCK), p;

    S_connect(r, s, A_PEER, PORT(0));
    S_poll(r, s, POLLOUT, 2000);
    p = P_accept(r, l, 2000);
    S_nonblock(r, s, false);
    P_send(r, p, "blocking", 8);
    S_recv(r, s, 100, 0);
}

#define NBF N(F_NONBLOCK)

const struct diffcase cases_args[] = {
    {"args.socket.stream", "POSIX socket", 0, 0, socket_stream},
    {"args.socket.dgram", "POSIX socket", 0, 0, socket_dgram},
    {"args.socket.stream-tcp", "POSIX socket", 0, 0, socket_stream_tcp},
    {"args.socket.dgram-udp", "POSIX socket", 0, 0, socket_dgram_udp},
    {"args.socket.stream-udp.eprotonosupport", "POSIX socket EPROTONOSUPPORT", 0, 0,
     socket_stream_udp},
    {"args.socket.dgram-tcp.eprotonosupport", "POSIX socket EPROTONOSUPPORT", 0, 0,
     socket_dgram_tcp},
    {"args.socket.raw", NULL, 0, 0, socket_raw},
    {"args.socket.seqpacket", "POSIX socket EPROTOTYPE", 0, 0, socket_seqpacket},
    {"args.socket.unknown-type.einval", NULL, 0, 0, socket_type99},
    {"args.socket.inet6", NULL, 0, 0, socket_inet6},
    {"args.socket.lowest-free-handle", "POSIX socket: lowest free", 0, 0, socket_lowest_free},
    {"args.socket.sock-nonblock", NULL, NBF, 0, socket_nonblock_flag},
    {"args.ebadf.bind", "POSIX bind EBADF", 0, 0, ebadf_bind},
    {"args.ebadf.listen", "POSIX listen EBADF", 0, 0, ebadf_listen},
    {"args.ebadf.connect", "POSIX connect EBADF", 0, 0, ebadf_connect},
    {"args.ebadf.accept", "POSIX accept EBADF", 0, 0, ebadf_accept},
    {"args.ebadf.send", "POSIX send EBADF", 0, 0, ebadf_send},
    {"args.ebadf.sendto", "POSIX sendto EBADF", 0, 0, ebadf_sendto},
    {"args.ebadf.recv", "POSIX recv EBADF", 0, 0, ebadf_recv},
    {"args.ebadf.shutdown", "POSIX shutdown EBADF", 0, 0, ebadf_shutdown},
    {"args.ebadf.close", "POSIX close EBADF", 0, 0, ebadf_close},
    {"args.ebadf.setsockopt", "POSIX setsockopt EBADF", 0, 0, ebadf_setsockopt},
    {"args.ebadf.getsockopt", "POSIX getsockopt EBADF", 0, 0, ebadf_getsockopt},
    {"args.ebadf.getsockname", "POSIX getsockname EBADF", 0, 0, ebadf_getsockname},
    {"args.ebadf.getpeername", "POSIX getpeername EBADF", 0, 0, ebadf_getpeername},
    {"args.ebadf.poll-nval", "POSIX poll POLLNVAL", 0, 0, ebadf_poll},
    {"args.ebadf.fcntl", "POSIX fcntl EBADF", NBF, 0, ebadf_fcntl},
    {"args.ebadf.send-after-close", "POSIX send EBADF", 0, 0, ebadf_closed_send},
    {"args.ebadf.recv-after-close", "POSIX recv EBADF", 0, 0, ebadf_closed_recv},
    {"args.bind.twice.einval", "POSIX bind EINVAL", 0, 0, bind_twice},
    {"args.bind.not-local.eaddrnotavail", "POSIX bind EADDRNOTAVAIL", 0, 0, bind_not_local},
    {"args.bind.peer-address.eaddrnotavail", "POSIX bind EADDRNOTAVAIL", 0, 0, bind_peer_address},
    {"args.bind.own-address", "POSIX bind", 0, 0, bind_self},
    {"args.bind.short-length.einval", "POSIX bind EINVAL", 0, 0, bind_short_len},
    {"args.bind.wrong-family.eafnosupport", "POSIX bind EAFNOSUPPORT", 0, 0, bind_wrong_family},
    {"args.connect.short-length.einval", "POSIX connect EINVAL", 0, 0, connect_short_len},
    {"args.connect.udp-to-any", NULL, 0, 0, connect_any},
    {"args.shutdown.bad-how-udp.einval", "POSIX shutdown EINVAL", 0, 0, shutdown_bad_how_udp},
    {"args.fcntl.default-blocking", NULL, NBF, 0, fcntl_default},
    {"args.fcntl.nonblock.recv-eagain", "POSIX O_NONBLOCK", NBF, 0, fcntl_set_recv_eagain},
    {"args.fcntl.nonblock-cleared-blocks", "POSIX O_NONBLOCK", NBF, 0, fcntl_clear_blocks},
    {"args.fcntl.nonblock.send-full-eagain", "POSIX O_NONBLOCK", NBF, 0, fcntl_send_full},
    {"args.fcntl.nonblock.udp-recv-eagain", "POSIX O_NONBLOCK", NBF, 0, fcntl_udp_recv},
    {"args.fcntl.nonblock-connect-then-blocking", NULL, NBF, 0, nonblock_connect_then_blocking_recv},
    {NULL, NULL, 0, 0, NULL},
};
