/*
 * The shim's address conversions (preload/shim.c): a program's struct
 * sockaddr_in or sockaddr_in6 to the run channel's struct run_addr
 * (run_proto.h) and back, with the checks Linux makes of what a program
 * passes, and the errno Linux gives when they fail.  Pure functions of
 * their arguments, in a header of their own so that a unit test
 * (tests/unit/run/test_run_addr.c) runs them without a daemon; like
 * run_proto.h, nothing of refnet.
 *
 * Which address a socket takes, as Linux's inet_bind, inet6_bind,
 * tcp_v4_connect, tcp_v6_connect, the datagram connects and udp_sendmsg
 * and udpv6_sendmsg check it:
 *
 *   socket    call                 length          family
 *   AF_INET   bind, connect,       < 16: EINVAL    AF_INET; AF_UNSPEC with
 *             sendto                               0.0.0.0; else EAFNOSUPPORT
 *   AF_INET6  bind, TCP connect    < 24: EINVAL    AF_INET6; else EAFNOSUPPORT
 *   AF_INET6  UDP connect          AF_INET: < 16   AF_INET6 (< 24: EINVAL);
 *                                  EINVAL          AF_INET, mapped;
 *                                                  else EAFNOSUPPORT
 *   AF_INET6  sendto               < 2: EINVAL     AF_INET6 (< 24: EINVAL);
 *                                                  AF_INET (< 16: EINVAL),
 *                                                  mapped; AF_UNSPEC: the
 *                                                  connected peer; else
 *                                                  EINVAL
 *
 * 24 is RFC 2133's sockaddr_in6, without sin6_scope_id, which Linux still
 * takes.  A scope id and a flow label are read as Linux reads them for
 * a global address: not at all (refnet reaches a link-local peer through
 * its first IPv6 interface, docs/sockets.md).
 */
#ifndef REFNET_RUN_RUN_ADDR_H
#define REFNET_RUN_RUN_ADDR_H

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "run/run_proto.h"

/* The length of RFC 2133's struct sockaddr_in6, the least Linux takes. */
#define RUN_SIN6_LEN_MIN 24

/* What an address is given for. */
enum run_sa_use {
    RUN_SA_BIND,     /* bind */
    RUN_SA_CONNECT,  /* connect */
    RUN_SA_SENDTO,   /* sendto, sendmsg */
};

/* Sets *out to IPv4 address a (network order), mapped, and port p
 * (network order). */
static inline void run_addr_set_v4(struct run_addr *out, uint32_t a, uint16_t p)
{
    memset(out, 0, sizeof(*out));
    out->a_ip[10] = 0xff;
    out->a_ip[11] = 0xff;
    memcpy(out->a_ip + 12, &a, 4);
    out->a_port = ntohs(p);
}

/* True if a is an IPv4 address (held mapped). */
static inline bool run_addr_is_v4(const struct run_addr *a)
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    return memcmp(a->a_ip, pfx, sizeof(pfx)) == 0;
}

/* True if a is a loopback address, which the kernel keeps: 127.0.0.0/8
 * (mapped) or ::1. */
static inline bool run_addr_is_loopback(const struct run_addr *a)
{
    static const uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

    return (run_addr_is_v4(a) && a->a_ip[12] == 127) || memcmp(a->a_ip, one, 16) == 0;
}

/*
 * Reads the address sa of len bytes a program gave for use on a socket of
 * family (AF_INET or AF_INET6) and type (SOCK_STREAM or SOCK_DGRAM).
 * Returns 1 and fills *out, 0 for "no address" (AF_UNSPEC to an AF_INET6
 * datagram socket's sendto: the connected peer), or -errno as Linux
 * answers (the table above).  sa NULL: -EINVAL for bind and connect, 0
 * for sendto (the caller sends to the connected peer).
 */
static inline int run_sa_read(const struct sockaddr *sa, socklen_t len, int family, int type,
                              enum run_sa_use use, struct run_addr *out)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    sa_family_t f;

    if (sa == NULL)
        return use == RUN_SA_SENDTO ? 0 : -EINVAL;
    if (family == AF_INET) {
        if (len < (socklen_t)sizeof(sin))
            return -EINVAL;
        memcpy(&sin, sa, sizeof(sin));
        if (sin.sin_family != AF_INET &&
            !(sin.sin_family == AF_UNSPEC && sin.sin_addr.s_addr == htonl(INADDR_ANY)))
            return -EAFNOSUPPORT;
        run_addr_set_v4(out, sin.sin_addr.s_addr, sin.sin_port);
        return 1;
    }
    if (family != AF_INET6)
        return -EAFNOSUPPORT;
    if (len < (socklen_t)sizeof(f))
        return -EINVAL;
    memcpy(&f, sa, sizeof(f));
    if (type == SOCK_DGRAM && use != RUN_SA_BIND && f == AF_INET) {
        /* An IPv4 peer of a dual-stack datagram socket, as Linux takes
         * it: the socket's IPV6_V6ONLY is the daemon's to check. */
        if (len < (socklen_t)sizeof(sin))
            return -EINVAL;
        memcpy(&sin, sa, sizeof(sin));
        run_addr_set_v4(out, sin.sin_addr.s_addr, sin.sin_port);
        return 1;
    }
    if (use == RUN_SA_SENDTO && f == AF_UNSPEC)
        return 0;
    if (use == RUN_SA_SENDTO && f != AF_INET6)
        return -EINVAL;
    if (len < RUN_SIN6_LEN_MIN)
        return -EINVAL;
    if (f != AF_INET6)
        return -EAFNOSUPPORT;
    memset(&sin6, 0, sizeof(sin6));
    memcpy(&sin6, sa, (size_t)len < sizeof(sin6) ? (size_t)len : sizeof(sin6));
    memset(out, 0, sizeof(*out));
    memcpy(out->a_ip, &sin6.sin6_addr, 16);
    out->a_port = ntohs(sin6.sin6_port);
    return 1;
}

/*
 * Writes address a as a socket of family gives it to a program: a struct
 * sockaddr_in (AF_INET; the IPv4 address of a mapped one, else 0.0.0.0)
 * or a struct sockaddr_in6 (AF_INET6; an IPv4 peer as ::ffff:a.b.c.d, as
 * a dual-stack socket gives it), cut to *len bytes, and sets *len to the
 * full size, as POSIX says.  Nothing if sa or len is NULL.
 */
static inline void run_sa_write(struct sockaddr *sa, socklen_t *len, int family,
                                 const struct run_addr *a)
{
    union {
        struct sockaddr_in sin;
        struct sockaddr_in6 sin6;
    } u;
    socklen_t full;

    if (sa == NULL || len == NULL)
        return;
    memset(&u, 0, sizeof(u));
    if (family == AF_INET6) {
        u.sin6.sin6_family = AF_INET6;
        u.sin6.sin6_port = htons(a->a_port);
        memcpy(&u.sin6.sin6_addr, a->a_ip, 16);
        full = sizeof(u.sin6);
    } else {
        u.sin.sin_family = AF_INET;
        u.sin.sin_port = htons(a->a_port);
        if (run_addr_is_v4(a))
            memcpy(&u.sin.sin_addr, a->a_ip + 12, 4);
        full = sizeof(u.sin);
    }
    memcpy(sa, &u, *len < full ? *len : full);
    *len = full;
}

#endif /* REFNET_RUN_RUN_ADDR_H */
