/*
 * Cases of datagram sockets: addresses, connected sockets and the ICMP
 * errors they learn, message boundaries and truncation, broadcast, sizes,
 * readiness, and what the peer sees of TTL and TOS.
 */
#include <netinet/ip.h>
#include <string.h>

#include "sockdiff.h"

static char big[65536];

static void sendto_peer(struct run *r)
{
    int p = P_udp(r, A_PEER, PORT(1)), s = S_socket(r, SOCK_DGRAM);

    S_sendto(r, s, "dgram", 5, 0, A_PEER, PORT(1));
    P_recvfrom(r, p, 100, 2000);
}

static void bound_source_port(struct run *r)
{
    int p = P_udp(r, A_PEER, PORT(1)), s = S_socket(r, SOCK_DGRAM);

    S_bind(r, s, A_ANY, PORT(2));
    S_sendto(r, s, "from P2", 7, 0, A_PEER, PORT(1));
    P_recvfrom(r, p, 100, 2000);
}

static void recvfrom_sender(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM), p;

    S_bind(r, s, A_ANY, PORT(0));
    p = P_udp(r, A_PEER, PORT(1));
    P_sendto(r, p, "to you", 6, A_SELF, PORT(0));
    S_poll(r, s, POLLIN, 2000);
    S_recvfrom(r, s, 100, 0);
}

static void connect_send(struct run *r)
{
    int p = P_udp(r, A_PEER, PORT(1)), s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_PEER, PORT(1));
    S_send(r, s, "connected", 9, 0);
    P_recvfrom(r, p, 100, 2000);
}

static void connect_names(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_PEER, PORT(1));
    S_sockname(r, s);
    S_peername(r, s);
}

static void connect_filters(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM), p1, p2;

    S_bind(r, s, A_ANY, PORT(0));
    p1 = P_udp(r, A_PEER, PORT(1));
    p2 = P_udp(r, A_PEER, PORT(2));
    S_connect(r, s, A_PEER, PORT(1));
    P_sendto(r, p2, "stranger", 8, A_SELF, PORT(0));
    S_poll(r, s, POLLIN, 200);
    P_sendto(r, p1, "friend", 6, A_SELF, PORT(0));
    S_poll(r, s, POLLIN, 2000);
    S_recvfrom(r, s, 100, 0);
}

static void send_no_address(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_send(r, s, "where", 5, 0);
}

static void refused_recv(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_PEER, PORT(3));
    S_send(r, s, "anyone", 6, 0);
    S_poll_until(r, s, POLLIN, POLLERR, 2000);
    S_recv(r, s, 100, 0);
    S_recv(r, s, 100, MSG_DONTWAIT);
}

static void refused_send(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_PEER, PORT(3));
    S_send(r, s, "anyone", 6, 0);
    S_poll_until(r, s, POLLOUT, POLLERR, 2000);
    S_send(r, s, "again", 5, 0);
    S_send(r, s, "again", 5, 0);
}

static void unconnected_icmp_ignored(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_sendto(r, s, "anyone", 6, 0, A_PEER, PORT(3));
    sleep_ms(200);
    S_poll(r, s, POLLIN | POLLOUT, 0);
    S_recv(r, s, 100, MSG_DONTWAIT);
}

static void refused_so_error(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_PEER, PORT(3));
    S_send(r, s, "anyone", 6, 0);
    S_poll_until(r, s, POLLOUT, POLLERR, 2000);
    S_getint(r, s, SOL_SOCKET, SO_ERROR);
    S_getint(r, s, SOL_SOCKET, SO_ERROR);
}

/* The subject bound to PORT(0) with a 100-byte datagram from the peer
 * waiting. */
static int with_datagram(struct run *r, size_t len)
{
    int s = S_socket(r, SOCK_DGRAM), p;

    S_bind(r, s, A_ANY, PORT(0));
    p = P_udp(r, A_PEER, PORT(1));
    memset(big, 'd', len);
    P_sendto(r, p, big, len, A_SELF, PORT(0));
    S_poll(r, s, POLLIN, 2000);
    return s;
}

static void recv_truncates(struct run *r)
{
    int s = with_datagram(r, 100);

    S_recv(r, s, 10, 0);
    S_recv(r, s, 100, MSG_DONTWAIT);
}

static void recvmsg_trunc_flag(struct run *r)
{
    int s = with_datagram(r, 100);

    S_recvmsg(r, s, 10, 0);
}

static void recv_trunc_real_length(struct run *r)
{
    int s = with_datagram(r, 100);

    S_recv(r, s, 10, MSG_TRUNC);
}

static void recv_peek(struct run *r)
{
    int s = with_datagram(r, 20);

    S_recv(r, s, 100, MSG_PEEK);
    S_recv(r, s, 100, 0);
    S_recv(r, s, 100, MSG_DONTWAIT);
}

static void recv_empty_datagram(struct run *r)
{
    int s = with_datagram(r, 0);

    S_recvfrom(r, s, 100, 0);
}

static void recv_dontwait_empty(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_bind(r, s, A_ANY, PORT(0));
    S_recv(r, s, 100, MSG_DONTWAIT);
}

static void recv_rcvtimeo(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);
    int64_t t0;

    S_bind(r, s, A_ANY, PORT(0));
    S_timeo(r, s, SO_RCVTIMEO, 200);
    t0 = now_ms();
    S_recv(r, s, 100, 0);
    duration(r, "recv with SO_RCVTIMEO 200", now_ms() - t0, 150);
}

static void boundaries(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM), p;

    S_bind(r, s, A_ANY, PORT(0));
    p = P_udp(r, A_PEER, PORT(1));
    P_sendto(r, p, "a", 1, A_SELF, PORT(0));
    P_sendto(r, p, "bb", 2, A_SELF, PORT(0));
    P_sendto(r, p, "ccc", 3, A_SELF, PORT(0));
    S_poll(r, s, POLLIN, 2000);
    sleep_ms(50);
    S_recv(r, s, 100, 0);
    S_recv(r, s, 100, 0);
    S_recv(r, s, 100, 0);
}

static void bcast_no_permission(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_sendto(r, s, "all", 3, 0, A_NETBCAST, PORT(1));
}

static void bcast_limited_no_permission(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_sendto(r, s, "all", 3, 0, A_BCAST, PORT(1));
}

static void bcast_delivered(struct run *r)
{
    int p = P_udp(r, A_NETBCAST, PORT(1)), s = S_socket(r, SOCK_DGRAM);

    S_setint(r, s, SOL_SOCKET, SO_BROADCAST, 1);
    S_sendto(r, s, "all", 3, 0, A_NETBCAST, PORT(1));
    P_recvfrom(r, p, 100, 2000);
}

static void bcast_default(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_getint(r, s, SOL_SOCKET, SO_BROADCAST);
}

static void too_big(struct run *r)
{
    static char huge[65508];
    int s = S_socket(r, SOCK_DGRAM);

    S_sendto(r, s, huge, sizeof(huge), 0, A_PEER, PORT(1));
}

static void max_payload(struct run *r)
{
    static char huge[65507];
    int p = P_udp(r, A_PEER, PORT(1)), s = S_socket(r, SOCK_DGRAM);

    memset(huge, 'm', sizeof(huge));
    S_sendto(r, s, huge, sizeof(huge), 0, A_PEER, PORT(1));
    P_recvfrom(r, p, 65535, 2000);
}

static void connect_unspec(struct run *r)
{
    struct sockaddr sa = {.sa_family = AF_UNSPEC};
    int s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_PEER, PORT(1));
    S_connect_raw(r, s, &sa, sizeof(sa), "AF_UNSPEC");
    S_peername(r, s);
}

static void connect_port0(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_PEER, 0);
}

static void sendto_port0(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_sendto(r, s, "zero", 4, 0, A_PEER, 0);
}

static void shut_wr_epipe(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_PEER, PORT(1));
    S_shutdown(r, s, SHUT_WR);
    S_send(r, s, "x", 1, 0);
}

static void shut_unconnected(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_shutdown(r, s, SHUT_RDWR);
}

static void shut_rd_recv(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_PEER, PORT(1));
    S_shutdown(r, s, SHUT_RD);
    S_recv(r, s, 100, 0);
}

static void peername_unconnected(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_peername(r, s);
}

static void listen_udp(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_bind(r, s, A_ANY, PORT(0));
    S_listen(r, s, 4);
}

static void accept_udp(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_bind(r, s, A_ANY, PORT(0));
    S_accept(r, s);
}

static void poll_fresh(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_poll(r, s, POLLIN | POLLOUT, 0);
}

static void poll_data(struct run *r)
{
    int s = with_datagram(r, 10);

    S_poll(r, s, POLLIN | POLLOUT, 0);
}

static void poll_error(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_PEER, PORT(3));
    S_send(r, s, "anyone", 6, 0);
    S_poll_until(r, s, POLLOUT, POLLERR, 2000);
    S_poll(r, s, POLLIN | POLLOUT, 0);
}

static void rcvbuf_drops(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM), p, i, got = 0;

    S_setint(r, s, SOL_SOCKET, SO_RCVBUF, 4096);
    S_bind(r, s, A_ANY, PORT(0));
    p = P_udp(r, A_PEER, PORT(1));
    r->r_quiet = true;
    memset(big, 'r', 1000);
    for (i = 0; i < 40; i++)
        P_sendto(r, p, big, 1000, A_SELF, PORT(0));
    sleep_ms(200);
    while (got < 40 && S_recv(r, s, 2000, MSG_DONTWAIT) > 0)
        got++;
    r->r_quiet = false;
    note(r, "40 datagrams of 1000 bytes sent to SO_RCVBUF 4096, all kept: %s, some kept: %s",
         got == 40 ? "yes" : "no", got > 0 ? "yes" : "no");
}

static void ttl_seen(struct run *r)
{
    int p = P_udp(r, A_PEER, PORT(1)), s = S_socket(r, SOCK_DGRAM);

    S_setint(r, s, IPPROTO_IP, IP_TTL, 7);
    S_sendto(r, s, "ttl", 3, 0, A_PEER, PORT(1));
    P_recv_ttl_tos(r, p, 2000);
}

static void tos_seen(struct run *r)
{
    int p = P_udp(r, A_PEER, PORT(1)), s = S_socket(r, SOCK_DGRAM);

    S_setint(r, s, IPPROTO_IP, IP_TOS, 0x28);
    S_sendto(r, s, "tos", 3, 0, A_PEER, PORT(1));
    P_recv_ttl_tos(r, p, 2000);
}

static void ttl_default(struct run *r)
{
    int p = P_udp(r, A_PEER, PORT(1)), s = S_socket(r, SOCK_DGRAM);

    S_sendto(r, s, "ttl", 3, 0, A_PEER, PORT(1));
    P_recv_ttl_tos(r, p, 2000);
}

static void send_silent(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_sendto(r, s, "void", 4, 0, A_SILENT, PORT(1));
}

static void sendto_while_connected(struct run *r)
{
    int p1 = P_udp(r, A_PEER, PORT(1)), p2 = P_udp(r, A_PEER, PORT(2));
    int s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_PEER, PORT(1));
    S_sendto(r, s, "other", 5, 0, A_PEER, PORT(2));
    P_recvfrom(r, p2, 100, 2000);
    P_recvfrom(r, p1, 100, 100);
}

static void bind_twice(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_bind(r, s, A_ANY, PORT(0));
    S_bind(r, s, A_ANY, PORT(1));
}

static void bind_in_use(struct run *r)
{
    int a = S_socket(r, SOCK_DGRAM), b = S_socket(r, SOCK_DGRAM);

    S_bind(r, a, A_ANY, PORT(0));
    S_bind(r, b, A_ANY, PORT(0));
}

static void bind_port0(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_bind(r, s, A_ANY, 0);
    S_sockname(r, s);
}

static void connect_binds(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_sockname(r, s);
    S_connect(r, s, A_PEER, PORT(1));
    S_sockname(r, s);
}

static void reconnect(struct run *r)
{
    int p1 = P_udp(r, A_PEER, PORT(1)), p2 = P_udp(r, A_PEER, PORT(2));
    int s = S_socket(r, SOCK_DGRAM);

    S_connect(r, s, A_PEER, PORT(1));
    S_connect(r, s, A_PEER, PORT(2));
    S_send(r, s, "second", 6, 0);
    P_recvfrom(r, p2, 100, 2000);
    P_recvfrom(r, p1, 100, 100);
}

static void bind_broadcast_addr(struct run *r)
{
    int s = S_socket(r, SOCK_DGRAM);

    S_bind(r, s, A_NETBCAST, PORT(0));
}

#define BC N(F_BROADCAST)

const struct diffcase cases_udp[] = {
    {"udp.sendto.peer-receives-from-self", "RFC 768", 0, 0, sendto_peer},
    {"udp.sendto.from-bound-port", "RFC 768", 0, 0, bound_source_port},
    {"udp.recvfrom.sender-address", "POSIX recvfrom: address", 0, 0, recvfrom_sender},
    {"udp.connect.send", "POSIX connect: datagram peer", 0, 0, connect_send},
    {"udp.connect.names", NULL, 0, 0, connect_names},
    {"udp.connect.filters-other-senders", "POSIX connect: datagram peer", 0, 0, connect_filters},
    {"udp.send.no-address.edestaddrreq", "POSIX send EDESTADDRREQ", 0, 0, send_no_address},
    {"udp.connected.port-unreachable.recv.econnrefused", "RFC 1122 4.1.3.3", 0, 0, refused_recv},
    {"udp.connected.port-unreachable.send.econnrefused", "RFC 1122 4.1.3.3", 0, 0, refused_send},
    {"udp.unconnected.port-unreachable-ignored", NULL, 0, 0, unconnected_icmp_ignored},
    {"udp.connected.port-unreachable.so-error", NULL, N(F_SOERROR), 0, refused_so_error},
    {"udp.recv.truncates-and-discards", "POSIX recv: datagram truncated", 0, 0, recv_truncates},
    {"udp.recvmsg.msg-trunc-flag", "POSIX recvmsg MSG_TRUNC", 0, 0, recvmsg_trunc_flag},
    {"udp.recv.msg-trunc-real-length", NULL, 0, 0, recv_trunc_real_length},
    {"udp.recv.peek-then-read", "POSIX recv MSG_PEEK", 0, 0, recv_peek},
    {"udp.recv.empty-datagram", NULL, 0, 0, recv_empty_datagram},
    {"udp.recv.dontwait-empty.eagain", "POSIX recv EAGAIN", 0, 0, recv_dontwait_empty},
    {"udp.recv.rcvtimeo.eagain", "POSIX SO_RCVTIMEO", 0, 0, recv_rcvtimeo},
    {"udp.recv.keeps-boundaries", "POSIX SOCK_DGRAM", 0, 0, boundaries},
    {"udp.broadcast.without-so-broadcast.eacces", "POSIX sendto EACCES", BC, 0, bcast_no_permission},
    {"udp.broadcast.limited.without-so-broadcast.eacces", "POSIX sendto EACCES", BC, 0,
     bcast_limited_no_permission},
    {"udp.broadcast.with-so-broadcast.delivered", "RFC 919", BC, 0, bcast_delivered},
    {"udp.broadcast.so-broadcast-off-by-default", NULL, BC, 0, bcast_default},
    {"udp.send.too-big.emsgsize", "POSIX sendto EMSGSIZE", 0, 0, too_big},
    {"udp.send.max-payload-delivered", "RFC 791 fragmentation", 0, 0, max_payload},
    {"udp.connect.af-unspec-dissolves", "POSIX connect: AF_UNSPEC", 0, 0, connect_unspec},
    {"udp.connect.port0", NULL, 0, 0, connect_port0},
    {"udp.sendto.port0", NULL, 0, 0, sendto_port0},
    {"udp.shutdown-wr.send.epipe", NULL, 0, 0, shut_wr_epipe},
    {"udp.shutdown.unconnected.enotconn", "POSIX shutdown ENOTCONN", 0, 0, shut_unconnected},
    {"udp.shutdown-rd.recv-zero", NULL, 0, 0, shut_rd_recv},
    {"udp.getpeername.unconnected.enotconn", "POSIX getpeername ENOTCONN", 0, 0,
     peername_unconnected},
    {"udp.listen.eopnotsupp", "POSIX listen EOPNOTSUPP", 0, 0, listen_udp},
    {"udp.accept.eopnotsupp", "POSIX accept EOPNOTSUPP", 0, 0, accept_udp},
    {"udp.poll.fresh-socket", NULL, 0, 0, poll_fresh},
    {"udp.poll.data", NULL, 0, 0, poll_data},
    {"udp.poll.error", NULL, 0, 0, poll_error},
    {"udp.rcvbuf.small-buffer-drops", NULL, N(F_BUFSIZE), 0, rcvbuf_drops},
    {"udp.ip-ttl.peer-sees-it", "RFC 791 TTL", N(F_TOS_TTL), 0, ttl_seen},
    {"udp.ip-tos.peer-sees-it", "RFC 791 TOS", N(F_TOS_TTL), 0, tos_seen},
    {"udp.ip-ttl.default-64", "RFC 1700 TTL 64", 0, 0, ttl_default},
    {"udp.sendto.silent-address-succeeds", NULL, 0, 0, send_silent},
    {"udp.sendto.other-while-connected", NULL, 0, 0, sendto_while_connected},
    {"udp.bind.twice.einval", "POSIX bind EINVAL", 0, 0, bind_twice},
    {"udp.bind.in-use.eaddrinuse", "POSIX bind EADDRINUSE", 0, 0, bind_in_use},
    {"udp.bind.port0-picks-port", NULL, 0, 0, bind_port0},
    {"udp.connect.binds-ephemeral", NULL, 0, 0, connect_binds},
    {"udp.connect.again-changes-peer", NULL, 0, 0, reconnect},
    {"udp.bind.broadcast-address", NULL, 0, 0, bind_broadcast_addr},
    {NULL, NULL, 0, 0, NULL},
};
