/*
 * The run channel's protocol: what the shim that `refnet run` preloads
 * into a program (preload/) and the daemon's run server (src/run/) say to
 * each other.  This header is all they share; the shim links nothing of
 * refnet.
 *
 * A program's process opens one channel: a SOCK_SEQPACKET connection to
 * the daemon's run socket, authenticated by its SO_PEERCRED (uid and pid).
 * Each message is one struct run_msg, a request from the shim and the
 * reply from the daemon (same layout, m_result set), one reply per
 * request except for RUN_CLOSE, which has none.  Descriptors travel with
 * SCM_RIGHTS beside a reply (RUN_SOCKET, RUN_ACCEPT).
 *
 * A refnet socket is, in the program, one end of an AF_UNIX socket pair
 * whose other end the daemon holds: a stream pair for TCP, a seqpacket
 * pair for UDP in which each datagram carries a struct run_dgram first.
 * Its id is the inode of the program's end (fstat's st_ino), which
 * survives dup, fork and exec.
 *
 * Values are the host's (Linux's): errno numbers in m_result, socket
 * types, levels and option names as the program gave them; addresses and
 * ports in host order.
 */
#ifndef REFNET_RUN_RUN_PROTO_H
#define REFNET_RUN_RUN_PROTO_H

#include <stdint.h>

/* The protocol's version, in RUN_HELLO's m_arg[0]. */
#define RUN_PROTO_VERSION 1

/* The environment the shim reads. */
#define RUN_ENV_SOCK "REFNET_RUN_SOCK"       /* the daemon's run socket */
#define RUN_ENV_NAME "REFNET_RUN_NAME"       /* the first process's name */
#define RUN_ENV_OWNER "REFNET_OWNER"         /* "service apache2": who runs it */
#define RUN_ENV_FALLBACK "REFNET_RUN_FALLBACK" /* "kernel": no daemon, use the kernel */

enum run_op {
    RUN_HELLO = 1,   /* m_arg[0] version, m_arg[1] parent pid, m_arg[2] 1 after
                        an exec; m_data: name NUL owner NUL */
    RUN_DECLARE,     /* m_data: up to RUN_IDS_MAX ids (uint64_t) the process
                        holds; reply m_data: one byte each, enum run_kind */
    RUN_SOCKET,      /* m_arg[0] type (SOCK_STREAM, SOCK_DGRAM), m_arg[1]
                        protocol; reply: m_id and the program's end */
    RUN_BIND,        /* m_id, m_addr */
    RUN_LISTEN,      /* m_id, m_arg[0] backlog */
    RUN_CONNECT,     /* m_id, m_addr, m_arg[0] filler bytes the program's end
                        wrote (the daemon discards them once the connect is
                        done, which makes the end writable); reply 0,
                        EINPROGRESS, or an error */
    RUN_ACCEPT,      /* m_id (a listener); reply: m_id of the new socket, its
                        end, m_addr its peer; EAGAIN if none waits */
    RUN_GETNAME,     /* m_id; reply m_addr local, m_addr2 peer (0:0 if none) */
    RUN_SETOPT,      /* m_id, m_arg[0] level, m_arg[1] name, m_val */
    RUN_GETOPT,      /* m_id, m_arg[0] level, m_arg[1] name; reply m_val */
    RUN_SHUTDOWN,    /* m_id, m_arg[0] how */
    RUN_CLOSE,       /* m_id: the process closed its last descriptor on it
                        (no reply) */
    RUN_EXEC,        /* the process is about to exec: keep it a while */
    RUN_STATUS,      /* from `refnet run`: m_arg[0] pid, m_arg[1] its wait
                        status */
    RUN_OP_COUNT_
};

/* What an id is, in RUN_DECLARE's reply. */
enum run_kind {
    RUN_KIND_NONE = 0,    /* not a refnet socket (or not this process's) */
    RUN_KIND_STREAM,      /* TCP, not listening */
    RUN_KIND_LISTENER,    /* TCP, listening */
    RUN_KIND_DGRAM,       /* UDP */
};

/* The most ids one RUN_DECLARE carries. */
#define RUN_IDS_MAX 24

/* One message, either way. */
struct run_msg {
    uint32_t m_op;          /* enum run_op */
    int32_t m_result;       /* reply: >= 0, or -errno */
    uint64_t m_id;          /* the socket */
    int32_t m_arg[4];       /* per op */
    int64_t m_val;          /* an option's value */
    uint32_t m_addr;        /* an IPv4 address */
    uint16_t m_port;        /* its port */
    uint16_t m_pad;
    uint32_t m_addr2;       /* a second address (RUN_GETNAME's peer) */
    uint16_t m_port2;
    uint16_t m_pad2;
    uint32_t m_len;         /* bytes of m_data used */
    uint8_t m_data[RUN_IDS_MAX * 8];
};

/* Each UDP datagram in a seqpacket pair starts with this: the peer it
 * came from, or (from the program) the destination, 0:0 for the
 * connected peer. */
struct run_dgram {
    uint32_t dg_addr;
    uint16_t dg_port;
    uint16_t dg_flags;      /* 0 */
};

#endif /* REFNET_RUN_RUN_PROTO_H */
