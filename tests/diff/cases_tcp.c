/*
 * Cases of stream sockets: connect, accept, data, half-close, close,
 * resets, timers.  Each checks one requirement; its name says which.
 */
#include <netinet/tcp.h>
#include <string.h>

#include "sockdiff.h"

/* A connection from a subject socket to a peer listener on PORT(k):
 * sets *lp to the peer's listener and returns the subject's socket; *pp
 * is the peer's accepted socket. */
static int connected(struct run *r, int k, int *pp)
{
    int l = P_listen(r, PORT(k));
    int s = S_socket(r, SOCK_STREAM);

    S_connect(r, s, A_PEER, PORT(k));
    *pp = P_accept(r, l, 2000);
    return s;
}

/* RFC 793 3.4: a SYN to a port nobody listens on is answered with a reset. */
static void connect_refused(struct run *r)
{
    int s = S_socket(r, SOCK_STREAM);

    S_connect(r, s, A_PEER, PORT(1));
}

static void connect_open(struct run *r)
{
    int p, s = connected(r, 0, &p);

    S_sockname(r, s);
    S_peername(r, s);
}

static void send_to_peer(struct run *r)
{
    int p, s = connected(r, 0, &p);

    S_send(r, s, "hello", 5, 0);
    P_recv(r, p, 100, 2000);
}

static void recv_from_peer(struct run *r)
{
    int p, s = connected(r, 0, &p);

    P_send(r, p, "world", 5);
    S_poll(r, s, POLLIN, 2000);
    S_recv(r, s, 100, 0);
}

static void peer_close_eof(struct run *r)
{
    int p, s = connected(r, 0, &p);

    P_close(r, p);
    S_poll(r, s, POLLIN, 2000);
    S_recv(r, s, 100, 0);
    S_recv(r, s, 100, 0);
}

const struct diffcase cases_tcp[] = {
    {"tcp.connect.refused", "RFC 793 3.4", F_NONE, 0, connect_refused},
    {"tcp.connect.open.names", NULL, F_NONE, 0, connect_open},
    {"tcp.send.peer-receives", NULL, F_NONE, 0, send_to_peer},
    {"tcp.recv.from-peer", NULL, F_NONE, 0, recv_from_peer},
    {"tcp.recv.peer-fin-eof", "POSIX recv: 0 at end of data", F_NONE, 0, peer_close_eof},
    {NULL, NULL, F_NONE, 0, NULL},
};
