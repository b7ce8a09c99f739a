/*
 * Cases of stream sockets: connect, accept, data, half-close, close and
 * resets, readiness, and the timers and options a peer can observe.  Each
 * checks one requirement, which its name says (with the RFC or POSIX
 * clause where there is one).
 */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/ioctl.h>

#include "sockdiff.h"

#define NB (SOCK_STREAM | SOCK_NONBLOCK)

/* ---- connect ------------------------------------------------------------------- */

static void connect_refused(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_connect(r, s, A_PEER, PORT(1));
}

static void connect_open_names(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_sockname(r, s);
    S_peername(r, s);
}

static void connect_nb_open(struct run *r)
{
    int l = P_listen(r, PORT(0));
    int s = S_socket(r, NB);

    S_connect(r, s, A_PEER, PORT(0));
    S_poll(r, s, POLLOUT, 2000);
    S_getint(r, s, SOL_SOCKET, SO_ERROR);
    P_accept(r, l, 2000);
}

static void connect_nb_refused_soerror(struct run *r)
{
    int s = S_socket(r, NB);

    S_connect(r, s, A_PEER, PORT(1));
    S_poll_until(r, s, POLLOUT, POLLOUT | POLLERR, 2000);
    S_getint(r, s, SOL_SOCKET, SO_ERROR);
    S_getint(r, s, SOL_SOCKET, SO_ERROR);
}

static void connect_nb_refused_poll(struct run *r)
{
    int s = S_socket(r, NB);

    S_connect(r, s, A_PEER, PORT(1));
    S_poll_until(r, s, POLLIN | POLLOUT, POLLERR, 2000);
}

static void connect_nb_silent(struct run *r)
{
    int s = S_socket(r, NB);

    S_connect(r, s, A_SILENT, PORT(0));
    S_poll(r, s, POLLOUT, 300);
}

static void connect_nb_silent_user_timeout(struct run *r)
{
    int s = S_socket(r, NB);
    int64_t t0;

    S_setint(r, s, IPPROTO_TCP, TCP_USER_TIMEOUT, 1000);
    t0 = now_ms();
    S_connect(r, s, A_SILENT, PORT(0));
    S_poll_until(r, s, POLLOUT, POLLOUT | POLLERR, 6000);
    duration(r, "connect to a silent address with TCP_USER_TIMEOUT 1000", now_ms() - t0, 800);
    S_getint(r, s, SOL_SOCKET, SO_ERROR);
}

static void connect_nb_ealready(struct run *r)
{
    int s = S_socket(r, NB);

    S_connect(r, s, A_SILENT, PORT(0));
    S_connect(r, s, A_SILENT, PORT(0));
}

static void connect_nb_eisconn(struct run *r)
{
    int l = P_listen(r, PORT(0));
    int s = S_socket(r, NB);

    S_connect(r, s, A_PEER, PORT(0));
    S_poll(r, s, POLLOUT, 2000);
    S_connect(r, s, A_PEER, PORT(0));
    P_accept(r, l, 2000);
}

static void connect_eisconn(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_connect(r, s, A_PEER, PORT(0));
}

static void connect_retry_after_refused(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM), l;

    S_connect(r, s, A_PEER, PORT(0));
    l = P_listen(r, PORT(0));
    S_connect(r, s, A_PEER, PORT(0));
    P_accept(r, l, 1000);
}

static void connect_on_listener(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_listen(r, s, 4);
    S_connect(r, s, A_PEER, PORT(0));
}

static void connect_silent_sndtimeo(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);
    int64_t t0;

    S_timeo(r, s, SO_SNDTIMEO, 300);
    t0 = now_ms();
    S_connect(r, s, A_SILENT, PORT(0));
    duration(r, "blocking connect with SO_SNDTIMEO 300", now_ms() - t0, 250);
}

static void connect_nohost(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);
    int64_t t0 = now_ms();

    S_connect(r, s, A_NOHOST, PORT(0));
    duration(r, "connect to an address nobody answers ARP for", now_ms() - t0, 1500);
}

static void connect_bound_port(struct run *r)
{
    int l = P_listen(r, PORT(0));
    int s = S_socket(r, SOCK_STREAM);

    S_bind(r, s, A_SELF, PORT(2));
    S_connect(r, s, A_PEER, PORT(0));
    P_accept(r, l, 2000);
}

static void connect_self(struct run *r)
{
    int l = S_socket(r, SOCK_STREAM), s = S_socket(r, SOCK_STREAM);

    S_bind(r, l, A_SELF, PORT(0));
    S_listen(r, l, 4);
    S_connect(r, s, A_SELF, PORT(0));
    S_poll(r, l, POLLIN, 1000);
}

/* ---- accept -------------------------------------------------------------------- */

static void accept_peer_address(struct run *r)
{
    int l, p;

    S_accepted(r, 0, &l, &p);
}

static void accept_names(struct run *r)
{
    int l, p, a = S_accepted(r, 0, &l, &p);

    S_sockname(r, a);
    S_peername(r, a);
}

static void accept_nb_empty(struct run *r)
{
    int l = S_socket(r, NB);

    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 4);
    S_accept(r, l);
}

static void accept4_nonblock(struct run *r)
{
    int l = S_socket(r, SOCK_STREAM), a;

    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 4);
    P_connect(r, A_SELF, PORT(0), PORT(1), 2000);
    S_poll(r, l, POLLIN, 2000);
    a = S_accept4(r, l, SOCK_NONBLOCK);
    S_getfl(r, a);
    S_recv(r, a, 10, 0);
}

static void accept_no_inherit_nonblock(struct run *r)
{
    int l = S_socket(r, NB), a;

    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 4);
    P_connect(r, A_SELF, PORT(0), PORT(1), 2000);
    S_poll(r, l, POLLIN, 2000);
    a = S_accept(r, l);
    S_getfl(r, a);
}

static void accept_not_listening(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_bind(r, s, A_ANY, PORT(0));
    S_accept(r, s);
}

static void accept_rcvtimeo(struct run *r)
{
    int l = S_socket(r, SOCK_STREAM);
    int64_t t0;

    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 4);
    S_timeo(r, l, SO_RCVTIMEO, 200);
    t0 = now_ms();
    S_accept(r, l);
    duration(r, "accept with SO_RCVTIMEO 200", now_ms() - t0, 150);
}

static void accept_listener_readable(struct run *r)
{
    int l = S_socket(r, SOCK_STREAM);

    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 4);
    S_poll(r, l, POLLIN | POLLOUT, 0);
    P_connect(r, A_SELF, PORT(0), PORT(1), 2000);
    S_poll(r, l, POLLIN | POLLOUT, 2000);
}

static void accept_inherits(struct run *r, int level, int name)
{
    int l = S_socket(r, SOCK_STREAM), a;

    S_setint(r, l, level, name, 1);
    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 4);
    P_connect(r, A_SELF, PORT(0), PORT(1), 2000);
    S_poll(r, l, POLLIN, 2000);
    a = S_accept(r, l);
    S_getint(r, a, level, name);
}

static void accept_inherits_keepalive(struct run *r)
{
    accept_inherits(r, SOL_SOCKET, SO_KEEPALIVE);
}

static void accept_inherits_nodelay(struct run *r)
{
    accept_inherits(r, IPPROTO_TCP, TCP_NODELAY);
}

static void accept_reset_before_accept(struct run *r)
{
    int l = S_socket(r, SOCK_STREAM), p, a;

    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 4);
    p = P_connect(r, A_SELF, PORT(0), PORT(1), 2000);
    S_poll(r, l, POLLIN, 2000);
    P_reset(r, p);
    sleep_ms(200);
    /* Linux keeps the dead connection queued; a blocking accept where it
     * is not would wait for the next one. */
    if (S_poll(r, l, POLLIN, 300) & POLLIN) {
        a = S_accept(r, l);
        S_recv(r, a, 10, MSG_DONTWAIT);
    }
}

static void accept_close_listener_resets(struct run *r)
{
    int l = S_socket(r, SOCK_STREAM), p;

    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 4);
    p = P_connect(r, A_SELF, PORT(0), PORT(1), 2000);
    S_poll(r, l, POLLIN, 2000);
    S_close(r, l);
    P_recv(r, p, 10, 2000);
}

static void accept_backlog_zero(struct run *r)
{
    int l = S_socket(r, SOCK_STREAM);

    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 0);
    P_connect(r, A_SELF, PORT(0), PORT(1), 2000);
    S_poll(r, l, POLLIN, 2000);
    S_accept(r, l);
}

/* ---- data --------------------------------------------------------------------------- */

static void send_to_peer(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_send(r, s, "hello", 5, 0);
    P_recv(r, p, 100, 2000);
}

static void recv_from_peer(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_send(r, p, "world", 5);
    S_poll(r, s, POLLIN, 2000);
    S_recv(r, s, 100, 0);
}

static char big[256 * 1024];

static void send_256k(struct run *r)
{
    int p, s = S_connected(r, 0, &p);
    size_t i;

    for (i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7 + i / 251);
    S_send(r, s, big, sizeof(big), 0);
    P_recv_all(r, p, sizeof(big), 3000);
}

static void recv_short_buffer(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_send(r, p, "0123456789", 10);
    S_poll(r, s, POLLIN, 2000);
    sleep_ms(50);
    S_recv(r, s, 4, 0);
    S_recv(r, s, 100, 0);
}

static void recv_peek(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_send(r, p, "peeked", 6);
    S_poll(r, s, POLLIN, 2000);
    sleep_ms(50);
    S_recv(r, s, 100, MSG_PEEK);
    S_recv(r, s, 100, 0);
}

static void recv_peek_empty(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_recv(r, s, 100, MSG_PEEK | MSG_DONTWAIT);
}

static void recv_waitall(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_send(r, p, "first", 5);
    P_send_later(r, p, "second-part", 10, 200);
    S_recv(r, s, 15, MSG_WAITALL);
}

static void recv_waitall_eof(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_send(r, p, "abc", 3);
    P_shutdown(r, p, SHUT_WR);
    S_recv(r, s, 10, MSG_WAITALL);
}

static void recv_dontwait_empty(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_recv(r, s, 100, MSG_DONTWAIT);
}

static void recv_dontwait_data(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_send(r, p, "now", 3);
    S_poll(r, s, POLLIN, 2000);
    S_recv(r, s, 100, MSG_DONTWAIT);
}

static void recv_peer_fin(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_close(r, p);
    S_poll(r, s, POLLIN, 2000);
    S_recv(r, s, 100, 0);
    S_recv(r, s, 100, 0);
}

static void recv_zero_length(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_send(r, p, "x", 1);
    S_poll(r, s, POLLIN, 2000);
    S_recv(r, s, 0, 0);
}

static void send_zero_length(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_send(r, s, "", 0, 0);
}

static void send_unconnected(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_send(r, s, "x", 1, 0);
}

static void recv_unconnected(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_recv(r, s, 10, 0);
}

static void recv_rcvtimeo(struct run *r)
{
    int p, s = S_connected(r, 0, &p);
    int64_t t0;

    S_timeo(r, s, SO_RCVTIMEO, 200);
    t0 = now_ms();
    S_recv(r, s, 10, 0);
    duration(r, "recv with SO_RCVTIMEO 200", now_ms() - t0, 150);
}

static void send_fill_eagain(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_fill(r, s, 64u << 20);
}

static void send_full_not_writable(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_fill(r, s, 64u << 20);
    S_poll(r, s, POLLOUT, 200);
}

static void send_writable_after_drain(struct run *r)
{
    int p, s = S_connected(r, 0, &p);
    size_t n = S_fill(r, s, 64u << 20);

    r->r_quiet = true;
    P_recv_all(r, p, n, 5000);
    r->r_quiet = false;
    note(r, "the peer read all");
    S_poll_until(r, s, POLLOUT, POLLOUT, 3000);
}

static void send_sndtimeo_full(struct run *r)
{
    int l = P_listen(r, PORT(0)), s = S_socket(r, SOCK_STREAM), one = 32768, e;
    int64_t t0;
    ssize_t n;

    /* A fixed send buffer: Linux's would grow with the window, and make
     * room again after the fill. */
    r->r_quiet = true;
    r->r_api->sa_setsockopt(r, s, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
    r->r_quiet = false;
    S_connect(r, s, A_PEER, PORT(0));
    P_accept(r, l, 2000);
    S_fill(r, s, 64u << 20);
    S_timeo(r, s, SO_SNDTIMEO, 300);
    t0 = now_ms();
    r->r_quiet = true;
    n = S_send(r, s, big, 65536, 0);
    e = errno;
    r->r_quiet = false;
    /* POSIX: a partial count, or EAGAIN if nothing was sent. */
    note(r, "send into a full buffer with SO_SNDTIMEO 300 gives a partial count or EAGAIN: %s",
         (n < 0 && e == EAGAIN) || (n > 0 && n < 65536) ? "yes" : "no");
    duration(r, "send into a full buffer with SO_SNDTIMEO 300", now_ms() - t0, 250);
}

static void send_nosignal_epipe(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_shutdown(r, s, SHUT_WR);
    S_send(r, s, "x", 1, MSG_NOSIGNAL);
}

/* ---- half-close ------------------------------------------------------------------------ */

static void shut_wr_peer_eof(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_send(r, s, "last", 4, 0);
    S_shutdown(r, s, SHUT_WR);
    P_recv_all(r, p, 100, 2000);
}

static void shut_wr_send_epipe(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_shutdown(r, s, SHUT_WR);
    S_send(r, s, "x", 1, 0);
}

static void shut_wr_still_receives(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_shutdown(r, s, SHUT_WR);
    P_recv(r, p, 10, 2000);
    P_send(r, p, "reply", 5);
    S_poll(r, s, POLLIN, 2000);
    S_recv(r, s, 100, 0);
}

static void shut_rd_recv_zero(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_shutdown(r, s, SHUT_RD);
    S_recv(r, s, 100, 0);
}

static void shut_rdwr_poll(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_shutdown(r, s, SHUT_RDWR);
    S_poll(r, s, POLLIN | POLLOUT, 0);
}

static void peer_shut_rdhup(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_shutdown(r, p, SHUT_WR);
    S_poll_until(r, s, POLLIN | POLLRDHUP, POLLRDHUP, 2000);
    S_recv(r, s, 100, 0);
}

static void peer_shut_poll_no_rdhup(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_shutdown(r, p, SHUT_WR);
    S_poll(r, s, POLLIN, 2000);
    sleep_ms(50);
    S_poll(r, s, POLLIN | POLLOUT, 0);
}

static void peer_shut_can_send(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_shutdown(r, p, SHUT_WR);
    S_poll(r, s, POLLIN, 2000);
    S_recv(r, s, 10, 0);
    S_send(r, s, "still", 5, 0);
    P_recv(r, p, 10, 2000);
}

static void shutdown_bad_how(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_shutdown(r, s, 7);
}

static void shutdown_unconnected(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_shutdown(r, s, SHUT_WR);
}

static void shutdown_listener(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_bind(r, s, A_ANY, PORT(0));
    S_listen(r, s, 4);
    S_shutdown(r, s, SHUT_RDWR);
}

/* ---- close and reset ------------------------------------------------------------------- */

static void close_unread_resets(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_send(r, p, "unread", 6);
    S_poll(r, s, POLLIN, 2000);
    sleep_ms(50);
    S_close(r, s);
    P_recv(r, p, 10, 2000);
}

static void close_linger0_resets(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_linger(r, s, 1, 0);
    S_close(r, s);
    P_recv(r, p, 10, 2000);
}

static void close_graceful_eof(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_send(r, s, "bye", 3, 0);
    S_close(r, s);
    P_recv_all(r, p, 100, 2000);
}

static void close_returns_at_once(struct run *r)
{
    int p, s = S_connected_remote(r, 0, &p);
    int64_t t0;

    silence(r);
    S_send(r, s, "unacked", 7, 0);
    t0 = now_ms();
    S_close(r, s);
    duration(r, "close with data in flight to a silent peer", now_ms() - t0, 150);
}

static void close_linger_times_out(struct run *r)
{
    int p, s = S_connected_remote(r, 0, &p);
    int64_t t0;

    silence(r);
    S_send(r, s, "unacked", 7, 0);
    S_linger(r, s, 1, 2);
    t0 = now_ms();
    S_close(r, s);
    duration(r, "close under SO_LINGER 2 s, the peer silent", now_ms() - t0, 700);
}

static void close_linger_acked(struct run *r)
{
    int p, s = S_connected(r, 0, &p);
    int64_t t0;

    S_send(r, s, "acked", 5, 0);
    P_recv(r, p, 10, 2000);
    S_linger(r, s, 1, 2);
    t0 = now_ms();
    S_close(r, s);
    duration(r, "close under SO_LINGER 2 s, the peer live", now_ms() - t0, 300);
}

static void close_twice(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    fd_hold(r);
    S_close(r, s);
    S_close(r, s);
    fd_release(r);
}

static void close_frees_listener_port(struct run *r)
{
    int l = S_socket(r, SOCK_STREAM), n;

    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 4);
    S_close(r, l);
    n = S_socket(r, SOCK_STREAM);
    S_bind(r, n, A_ANY, PORT(0));
    S_listen(r, n, 4);
}

static void reset_recv(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_reset(r, p);
    S_poll_until(r, s, POLLIN, POLLERR, 2000);
    S_recv(r, s, 10, 0);
    S_recv(r, s, 10, 0);
}

static void reset_send(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_reset(r, p);
    S_poll_until(r, s, POLLIN, POLLERR, 2000);
    S_send(r, s, "x", 1, 0);
    S_send(r, s, "x", 1, 0);
}

static void reset_poll(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_reset(r, p);
    S_poll_until(r, s, POLLIN | POLLOUT, POLLERR, 2000);
    sleep_ms(50);
    S_poll(r, s, POLLIN | POLLOUT, 0);
}

static void reset_so_error(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_reset(r, p);
    S_poll_until(r, s, POLLIN, POLLERR, 2000);
    S_getint(r, s, SOL_SOCKET, SO_ERROR);
    S_getint(r, s, SOL_SOCKET, SO_ERROR);
}

static void reset_peername(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_reset(r, p);
    S_poll_until(r, s, POLLIN, POLLERR, 2000);
    S_peername(r, s);
}

static void peer_closed_send_rst(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_close(r, p);
    S_poll(r, s, POLLIN, 2000);
    S_recv(r, s, 10, 0);
    S_send(r, s, "x", 1, 0);
    S_poll_until(r, s, POLLOUT, POLLERR, 2000);
    S_send(r, s, "x", 1, 0);
}

static void fin_peername(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_close(r, p);
    S_poll(r, s, POLLIN, 2000);
    S_peername(r, s);
}

/* ---- readiness ---------------------------------------------------------------------------- */

static void poll_fresh(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_poll(r, s, POLLIN | POLLOUT, 0);
}

static void poll_connected_idle(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_poll(r, s, POLLIN | POLLOUT, 0);
}

static void poll_data(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_send(r, p, "data", 4);
    S_poll(r, s, POLLIN, 2000);
    S_poll(r, s, POLLIN | POLLOUT, 0);
}

static void poll_listener_idle(struct run *r)
{
    int l = S_socket(r, SOCK_STREAM);

    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 4);
    S_poll(r, l, POLLIN | POLLOUT, 0);
}

static void poll_timeout(struct run *r)
{
    int p, s = S_connected(r, 0, &p);
    int64_t t0 = now_ms();

    S_poll(r, s, POLLIN, 200);
    duration(r, "poll for input, none coming, timeout 200", now_ms() - t0, 100);
}

static void poll_events_zero(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_send(r, p, "data", 4);
    S_poll(r, s, POLLIN, 2000);
    S_poll(r, s, 0, 0);
}

static void poll_two(struct run *r)
{
    int p1, p2, s1 = S_connected(r, 0, &p1), s2 = S_connected(r, 1, &p2);

    P_send(r, p2, "two", 3);
    S_poll2(r, s1, s2, POLLIN, 2000);
}

static void poll_closed_nval(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    fd_hold(r);
    S_close(r, s);
    S_poll(r, s, POLLIN, 0);
    fd_release(r);
}

/* ---- timers and options a peer sees ----------------------------------------------------------- */

static void keepalive_drops_silent(struct run *r)
{
    int p, s = S_connected_remote(r, 0, &p);
    int64_t t0;

    S_setint(r, s, SOL_SOCKET, SO_KEEPALIVE, 1);
    S_setint(r, s, IPPROTO_TCP, TCP_KEEPIDLE, 1);
    S_setint(r, s, IPPROTO_TCP, TCP_KEEPINTVL, 1);
    S_setint(r, s, IPPROTO_TCP, TCP_KEEPCNT, 2);
    silence(r);
    t0 = now_ms();
    S_poll_until(r, s, POLLIN, POLLERR, 9000);
    duration(r, "keepalive 1 s + 2 x 1 s against a silent peer", now_ms() - t0, 1200);
    S_recv(r, s, 10, 0);
}

static void keepalive_live_peer(struct run *r)
{
    int p, s = S_connected_remote(r, 0, &p);

    S_setint(r, s, SOL_SOCKET, SO_KEEPALIVE, 1);
    S_setint(r, s, IPPROTO_TCP, TCP_KEEPIDLE, 1);
    S_setint(r, s, IPPROTO_TCP, TCP_KEEPINTVL, 1);
    S_setint(r, s, IPPROTO_TCP, TCP_KEEPCNT, 1);
    S_poll(r, s, POLLIN, 3000);
    S_send(r, s, "alive", 5, 0);
    P_recv(r, p, 10, 2000);
}

static void user_timeout_drops(struct run *r)
{
    int p, s = S_connected_remote(r, 0, &p);
    int64_t t0;

    S_setint(r, s, IPPROTO_TCP, TCP_USER_TIMEOUT, 1000);
    silence(r);
    t0 = now_ms();
    S_send(r, s, "lost", 4, 0);
    S_poll_until(r, s, POLLIN, POLLERR, 8000);
    duration(r, "TCP_USER_TIMEOUT 1000 with data unacknowledged", now_ms() - t0, 800);
    S_recv(r, s, 10, 0);
}

static void cork_holds(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_setint(r, s, IPPROTO_TCP, TCP_CORK, 1);
    S_send(r, s, "corked", 6, 0);
    P_recv(r, p, 100, 100);
    S_setint(r, s, IPPROTO_TCP, TCP_CORK, 0);
    P_recv(r, p, 100, 2000);
}

static void msg_more_holds(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_send(r, s, "more", 4, MSG_MORE);
    P_recv(r, p, 100, 100);
    S_send(r, s, "done", 4, 0);
    P_recv_all(r, p, 8, 2000);
}

static void maxseg_announced(struct run *r)
{
    int l = P_listen(r, PORT(0));
    int s = S_socket(r, SOCK_STREAM), p, mss;

    S_setint(r, s, IPPROTO_TCP, TCP_MAXSEG, 536);
    S_connect(r, s, A_PEER, PORT(0));
    p = P_accept(r, l, 2000);
    r->r_quiet = true;
    mss = P_getint(r, p, IPPROTO_TCP, TCP_MAXSEG);
    r->r_quiet = false;
    note(r, "the peer sends segments of at most 536 bytes: %s", mss > 0 && mss <= 536 ? "yes" : "no");
}

static void fionread(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    P_send(r, p, big, 1000);
    S_poll(r, s, POLLIN, 2000);
    sleep_ms(100);
    S_ioctl(r, s, FIONREAD);
}

static void siocoutq_unacked(struct run *r)
{
    int p, s = S_connected_remote(r, 0, &p);

    silence(r);
    S_send(r, s, big, 1000, 0);
    sleep_ms(50);
    S_ioctl(r, s, SIOCOUTQ);
}

static void siocoutq_acked(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_send(r, s, big, 1000, 0);
    P_recv_all(r, p, 1000, 2000);
    sleep_ms(100);
    S_ioctl(r, s, SIOCOUTQ);
}

static void fionread_listener(struct run *r)
{
    int l = S_socket(r, SOCK_STREAM);

    S_listen(r, l, 4);
    S_ioctl(r, l, FIONREAD);
}

static void rcvlowat_waits(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_setint(r, s, SOL_SOCKET, SO_RCVLOWAT, 10);
    P_send(r, p, "12345", 5);
    S_poll(r, s, POLLIN, 200);
    P_send(r, p, "67890", 5);
    S_poll(r, s, POLLIN, 2000);
    S_recv(r, s, 100, 0);
}

/* The subject closes first, so its side of PORT(0) goes to TIME_WAIT;
 * then a new socket binds PORT(0), with SO_REUSEADDR or without. */
static void timewait_bind(struct run *r, bool reuse)
{
    int l, p, a = S_accepted(r, 0, &l, &p), n;

    S_close(r, a);
    P_recv_all(r, p, 10, 2000);
    P_close(r, p);
    sleep_ms(200);
    S_close(r, l);
    n = S_socket(r, SOCK_STREAM);
    if (reuse)
        S_setint(r, n, SOL_SOCKET, SO_REUSEADDR, 1);
    S_bind(r, n, A_ANY, PORT(0));
}

static void reuseaddr_over_timewait(struct run *r)
{
    timewait_bind(r, true);
}

static void timewait_blocks_bind(struct run *r)
{
    timewait_bind(r, false);
}

static void reuseport_spreads(struct run *r)
{
    int l1 = S_socket(r, SOCK_STREAM), l2 = S_socket(r, SOCK_STREAM), i, got = 0;

    S_setint(r, l1, SOL_SOCKET, SO_REUSEPORT, 1);
    S_setint(r, l2, SOL_SOCKET, SO_REUSEPORT, 1);
    S_bind(r, l1, A_ANY, PORT(0));
    S_bind(r, l2, A_ANY, PORT(0));
    S_listen(r, l1, 32);
    S_listen(r, l2, 32);
    r->r_quiet = true;
    for (i = 0; i < 16; i++)
        got += P_connect(r, A_SELF, PORT(0), PORT(2 + i), 2000) >= 0;
    r->r_quiet = false;
    note(r, "the peer made 16 connections: %s", got == 16 ? "yes" : "no");
    S_poll2(r, l1, l2, POLLIN, 1000);
}

static void reuseport_needs_both(struct run *r)
{
    int l1 = S_socket(r, SOCK_STREAM), l2 = S_socket(r, SOCK_STREAM);

    S_setint(r, l1, SOL_SOCKET, SO_REUSEPORT, 1);
    S_bind(r, l1, A_ANY, PORT(0));
    S_listen(r, l1, 4);
    S_bind(r, l2, A_ANY, PORT(0));
}

static void reuseaddr_two_listeners(struct run *r)
{
    int l1 = S_socket(r, SOCK_STREAM), l2 = S_socket(r, SOCK_STREAM);

    S_setint(r, l1, SOL_SOCKET, SO_REUSEADDR, 1);
    S_setint(r, l2, SOL_SOCKET, SO_REUSEADDR, 1);
    S_bind(r, l1, A_ANY, PORT(0));
    S_listen(r, l1, 4);
    S_bind(r, l2, A_ANY, PORT(0));
}

/* ---- listen and bind of streams ------------------------------------------------------------- */

static void listen_unbound(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_listen(r, s, 4);
    S_sockname(r, s);
}

static void listen_twice(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_bind(r, s, A_ANY, PORT(0));
    S_listen(r, s, 4);
    S_listen(r, s, 8);
}

static void listen_connected(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_listen(r, s, 4);
}

static void bind_after_connect(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_bind(r, s, A_SELF, PORT(3));
}

static void bind_in_use_listener(struct run *r)
{
    int l = S_socket(r, SOCK_STREAM), s = S_socket(r, SOCK_STREAM);

    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 4);
    S_bind(r, s, A_ANY, PORT(0));
}

static void bind_in_use_bound(struct run *r)
{
    int a = S_socket(r, SOCK_STREAM), b = S_socket(r, SOCK_STREAM);

    S_bind(r, a, A_ANY, PORT(0));
    S_bind(r, b, A_ANY, PORT(0));
}

static void bind_any_vs_specific(struct run *r)
{
    int l = S_socket(r, SOCK_STREAM), s = S_socket(r, SOCK_STREAM);

    S_bind(r, l, A_ANY, PORT(0));
    S_listen(r, l, 4);
    S_bind(r, s, A_SELF, PORT(0));
}

static void bind_port0(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_bind(r, s, A_ANY, 0);
    S_sockname(r, s);
}

static void acceptconn(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_getint(r, s, SOL_SOCKET, SO_ACCEPTCONN);
    S_listen(r, s, 4);
    S_getint(r, s, SOL_SOCKET, SO_ACCEPTCONN);
}

static void acceptconn_connected(struct run *r)
{
    int p, s = S_connected(r, 0, &p);

    S_getint(r, s, SOL_SOCKET, SO_ACCEPTCONN);
}

#define NBF N(F_NONBLOCK)

const struct diffcase cases_tcp[] = {
    {"tcp.connect.refused", "RFC 793 3.4, reset in SYN-SENT", 0, 0, connect_refused},
    {"tcp.connect.names", "POSIX getsockname, getpeername", 0, 0, connect_open_names},
    {"tcp.connect.nonblock.einprogress-then-writable", "POSIX connect EINPROGRESS", NBF, 0,
     connect_nb_open},
    {"tcp.connect.nonblock.refused.so-error", "POSIX connect: SO_ERROR", NBF | N(F_SOERROR), 0,
     connect_nb_refused_soerror},
    {"tcp.connect.nonblock.refused.poll", NULL, NBF, 0, connect_nb_refused_poll},
    {"tcp.connect.nonblock.silent.in-progress", NULL, NBF, 0, connect_nb_silent},
    {"tcp.connect.nonblock.silent.user-timeout", "RFC 5482", NBF | N(F_USER_TIMEOUT) | N(F_SOERROR),
     12, connect_nb_silent_user_timeout},
    {"tcp.connect.nonblock.again.ealready", "POSIX connect EALREADY", NBF, 0, connect_nb_ealready},
    {"tcp.connect.nonblock.done.eisconn", "POSIX connect EISCONN", NBF, 0, connect_nb_eisconn},
    {"tcp.connect.again.eisconn", "POSIX connect EISCONN", 0, 0, connect_eisconn},
    {"tcp.connect.retry-after-refused", NULL, 0, 0, connect_retry_after_refused},
    {"tcp.connect.on-listener", NULL, 0, 0, connect_on_listener},
    {"tcp.connect.silent.sndtimeo", NULL, 0, 0, connect_silent_sndtimeo},
    {"tcp.connect.nohost.ehostunreach", "RFC 1122 3.3.1.4", 0, 8, connect_nohost},
    {"tcp.connect.from-bound-port", NULL, 0, 0, connect_bound_port},
    {"tcp.connect.own-address", NULL, 0, 0, connect_self},
    {"tcp.accept.peer-address", "POSIX accept: address", 0, 0, accept_peer_address},
    {"tcp.accept.names", NULL, 0, 0, accept_names},
    {"tcp.accept.nonblock.empty.eagain", "POSIX accept EAGAIN", NBF, 0, accept_nb_empty},
    {"tcp.accept4.nonblock", NULL, NBF | N(F_ACCEPT4), 0, accept4_nonblock},
    {"tcp.accept.does-not-inherit-nonblock", NULL, NBF, 0, accept_no_inherit_nonblock},
    {"tcp.accept.not-listening.einval", "POSIX accept EINVAL", 0, 0, accept_not_listening},
    {"tcp.accept.rcvtimeo.eagain", NULL, 0, 0, accept_rcvtimeo},
    {"tcp.accept.listener-readable", "POSIX poll: accept ready", 0, 0, accept_listener_readable},
    {"tcp.accept.inherits-keepalive", NULL, 0, 0, accept_inherits_keepalive},
    {"tcp.accept.inherits-nodelay", NULL, 0, 0, accept_inherits_nodelay},
    {"tcp.accept.reset-before-accept", NULL, 0, 0, accept_reset_before_accept},
    {"tcp.accept.close-listener-resets-queued", "RFC 793 3.5", 0, 0, accept_close_listener_resets},
    {"tcp.accept.backlog-zero-takes-one", NULL, 0, 0, accept_backlog_zero},
    {"tcp.send.peer-receives", NULL, 0, 0, send_to_peer},
    {"tcp.recv.from-peer", NULL, 0, 0, recv_from_peer},
    {"tcp.send.256k-intact", NULL, 0, 0, send_256k},
    {"tcp.recv.short-buffer", NULL, 0, 0, recv_short_buffer},
    {"tcp.recv.peek-then-read", "POSIX recv MSG_PEEK", N(F_PEEK), 0, recv_peek},
    {"tcp.recv.peek-dontwait-empty.eagain", NULL, N(F_PEEK), 0, recv_peek_empty},
    {"tcp.recv.waitall", "POSIX recv MSG_WAITALL", N(F_WAITALL), 0, recv_waitall},
    {"tcp.recv.waitall-stops-at-eof", "POSIX recv MSG_WAITALL", N(F_WAITALL), 0, recv_waitall_eof},
    {"tcp.recv.dontwait-empty.eagain", NULL, 0, 0, recv_dontwait_empty},
    {"tcp.recv.dontwait-data", NULL, 0, 0, recv_dontwait_data},
    {"tcp.recv.peer-fin-eof", "POSIX recv: 0 at end of data", 0, 0, recv_peer_fin},
    {"tcp.recv.zero-length", NULL, 0, 0, recv_zero_length},
    {"tcp.send.zero-length", NULL, 0, 0, send_zero_length},
    {"tcp.send.unconnected", "POSIX send ENOTCONN", 0, 0, send_unconnected},
    {"tcp.recv.unconnected.enotconn", "POSIX recv ENOTCONN", 0, 0, recv_unconnected},
    {"tcp.recv.rcvtimeo.eagain", "POSIX SO_RCVTIMEO", 0, 0, recv_rcvtimeo},
    {"tcp.send.dontwait-full.eagain", "POSIX send EAGAIN", 0, 0, send_fill_eagain},
    {"tcp.send.full-not-writable", NULL, 0, 0, send_full_not_writable},
    {"tcp.send.writable-after-drain", NULL, 0, 12, send_writable_after_drain},
    {"tcp.send.sndtimeo-full.eagain", "POSIX SO_SNDTIMEO", 0, 0, send_sndtimeo_full},
    {"tcp.send.nosignal-after-shutdown.epipe", "POSIX send EPIPE", 0, 0, send_nosignal_epipe},
    {"tcp.shutdown-wr.peer-reads-eof", "RFC 793 3.5", 0, 0, shut_wr_peer_eof},
    {"tcp.shutdown-wr.send.epipe", "POSIX send EPIPE", 0, 0, shut_wr_send_epipe},
    {"tcp.shutdown-wr.still-receives", "RFC 793 3.5, half-close", 0, 0, shut_wr_still_receives},
    {"tcp.shutdown-rd.recv-zero", NULL, 0, 0, shut_rd_recv_zero},
    {"tcp.shutdown-rdwr.poll", NULL, 0, 0, shut_rdwr_poll},
    {"tcp.peer-shutdown.pollrdhup", NULL, N(F_RDHUP), 0, peer_shut_rdhup},
    {"tcp.peer-shutdown.poll-without-rdhup", NULL, 0, 0, peer_shut_poll_no_rdhup},
    {"tcp.peer-shutdown.can-still-send", "RFC 793 3.5, half-close", 0, 0, peer_shut_can_send},
    {"tcp.shutdown.bad-how.einval", "POSIX shutdown EINVAL", 0, 0, shutdown_bad_how},
    {"tcp.shutdown.unconnected.enotconn", "POSIX shutdown ENOTCONN", 0, 0, shutdown_unconnected},
    {"tcp.shutdown.listener", NULL, 0, 0, shutdown_listener},
    {"tcp.close.unread-data-resets", "RFC 2525 2.17", 0, 0, close_unread_resets},
    {"tcp.close.linger0-resets", "POSIX SO_LINGER", 0, 0, close_linger0_resets},
    {"tcp.close.graceful-peer-eof", "RFC 793 3.5", 0, 0, close_graceful_eof},
    {"tcp.close.returns-at-once", "POSIX close", N(F_CLOSE_NOW), 0, close_returns_at_once},
    {"tcp.close.linger-times-out", "POSIX SO_LINGER", N(F_LINGER_TIME), 12, close_linger_times_out},
    {"tcp.close.linger-acked-returns", "POSIX SO_LINGER", N(F_LINGER_TIME), 0, close_linger_acked},
    {"tcp.close.twice.ebadf", "POSIX close EBADF", 0, 0, close_twice},
    {"tcp.close.frees-listener-port", NULL, 0, 0, close_frees_listener_port},
    {"tcp.peer-reset.recv.econnreset", "RFC 793 3.4, reset in ESTABLISHED", 0, 0, reset_recv},
    {"tcp.peer-reset.send-fails", NULL, 0, 0, reset_send},
    {"tcp.peer-reset.poll", NULL, 0, 0, reset_poll},
    {"tcp.peer-reset.so-error", NULL, N(F_SOERROR), 0, reset_so_error},
    {"tcp.peer-reset.getpeername.enotconn", NULL, 0, 0, reset_peername},
    {"tcp.peer-closed.send-draws-reset", "RFC 793 3.4", 0, 0, peer_closed_send_rst},
    {"tcp.peer-fin.getpeername", NULL, 0, 0, fin_peername},
    {"tcp.poll.fresh-socket", NULL, 0, 0, poll_fresh},
    {"tcp.poll.connected-idle", NULL, 0, 0, poll_connected_idle},
    {"tcp.poll.data", NULL, 0, 0, poll_data},
    {"tcp.poll.listener-idle", NULL, 0, 0, poll_listener_idle},
    {"tcp.poll.timeout", "POSIX poll", 0, 0, poll_timeout},
    {"tcp.poll.no-events-asked", "POSIX poll", 0, 0, poll_events_zero},
    {"tcp.poll.two-handles", "POSIX poll", 0, 0, poll_two},
    {"tcp.poll.closed-handle.nval", "POSIX poll POLLNVAL", 0, 0, poll_closed_nval},
    {"tcp.keepalive.drops-silent-peer", "RFC 1122 4.2.3.6", N(F_KEEPALIVE), 14, keepalive_drops_silent},
    {"tcp.keepalive.live-peer-stays", "RFC 1122 4.2.3.6", N(F_KEEPALIVE), 0, keepalive_live_peer},
    {"tcp.user-timeout.drops-unacked", "RFC 5482", N(F_USER_TIMEOUT), 12, user_timeout_drops},
    {"tcp.cork.holds-partial-segment", NULL, N(F_CORK), 0, cork_holds},
    {"tcp.msg-more.holds-partial-segment", NULL, N(F_CORK), 0, msg_more_holds},
    {"tcp.maxseg.announced-in-syn", "RFC 9293 3.7.1", N(F_MAXSEG), 0, maxseg_announced},
    {"tcp.ioctl.fionread", NULL, N(F_IOCTL), 0, fionread},
    {"tcp.ioctl.siocoutq.unacked", NULL, N(F_IOCTL), 0, siocoutq_unacked},
    {"tcp.ioctl.siocoutq.acked-zero", NULL, N(F_IOCTL), 0, siocoutq_acked},
    {"tcp.ioctl.fionread-listener.einval", NULL, N(F_IOCTL), 0, fionread_listener},
    {"tcp.rcvlowat.waits-for-enough", "POSIX SO_RCVLOWAT", N(F_RCVLOWAT), 0, rcvlowat_waits},
    {"tcp.reuseaddr.bind-over-time-wait", "POSIX SO_REUSEADDR", N(F_REUSEADDR), 0,
     reuseaddr_over_timewait},
    {"tcp.time-wait.blocks-bind.eaddrinuse", "RFC 793 3.5, TIME-WAIT", 0, 0, timewait_blocks_bind},
    {"tcp.reuseport.spreads-connections", NULL, N(F_REUSEPORT), 0, reuseport_spreads},
    {"tcp.reuseport.both-must-set.eaddrinuse", NULL, N(F_REUSEPORT), 0, reuseport_needs_both},
    {"tcp.reuseaddr.two-listeners.eaddrinuse", NULL, N(F_REUSEADDR), 0, reuseaddr_two_listeners},
    {"tcp.listen.unbound-picks-port", NULL, 0, 0, listen_unbound},
    {"tcp.listen.twice", NULL, 0, 0, listen_twice},
    {"tcp.listen.connected.einval", "POSIX listen EINVAL", 0, 0, listen_connected},
    {"tcp.bind.after-connect.einval", "POSIX bind EINVAL", 0, 0, bind_after_connect},
    {"tcp.bind.port-of-listener.eaddrinuse", "POSIX bind EADDRINUSE", 0, 0, bind_in_use_listener},
    {"tcp.bind.port-of-bound.eaddrinuse", "POSIX bind EADDRINUSE", 0, 0, bind_in_use_bound},
    {"tcp.bind.specific-under-any.eaddrinuse", "POSIX bind EADDRINUSE", 0, 0, bind_any_vs_specific},
    {"tcp.bind.port0-picks-port", NULL, N(F_BIND_PORT0), 0, bind_port0},
    {"tcp.so-acceptconn", NULL, N(F_ACCEPTCONN), 0, acceptconn},
    {"tcp.so-acceptconn.connected", NULL, N(F_ACCEPTCONN), 0, acceptconn_connected},
    {NULL, NULL, 0, 0, NULL},
};
