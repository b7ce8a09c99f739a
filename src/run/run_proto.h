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
 * request except for RUN_CLOSE and RUN_TAKEN, which have none.  Descriptors
 * travel with SCM_RIGHTS beside a reply (RUN_SOCKET).
 *
 * A listener's end carries the connections it accepted: one struct
 * run_accepted each, with the connection's end beside it (SCM_RIGHTS), so
 * that it polls readable exactly when accept() has something and accept()
 * is one recvmsg() on it, no question to the daemon; the process that read
 * it says so afterwards (RUN_TAKEN).
 *
 * A refnet socket is, in the program, one end of an AF_UNIX socket pair
 * whose other end the daemon holds: a stream pair for TCP, a seqpacket
 * pair for UDP in which each datagram carries a struct run_dgram first.
 * Its id is the inode of the program's end (fstat's st_ino), which
 * survives dup, fork and exec.
 *
 * Values are the host's (Linux's): errno numbers in m_result, socket
 * families, types, levels and option names as the program gave them;
 * ports in host order.  Addresses are of either family in one form
 * (struct run_addr): sixteen octets in network order, an IPv4 address
 * held IPv4-mapped (::ffff:198.18.0.2), as refnet's struct rn_inaddr
 * holds it; the socket's family says how the program reads it.
 *
 * struct run_msg has one size in every version (RUN_MSG_SIZE) and its
 * HELLO fields stay where they are, so that a shim and a daemon of
 * different versions read each other's HELLO and refuse it with
 * EPROTONOSUPPORT (the daemon's reply carries its version in m_arg[0])
 * instead of waiting for an answer of a size they do not expect.
 */
#ifndef REFNET_RUN_RUN_PROTO_H
#define REFNET_RUN_RUN_PROTO_H

#include <stdint.h>

/* The protocol's version, in RUN_HELLO's m_arg[0]. */
#define RUN_PROTO_VERSION 3
/* sizeof(struct run_msg), whatever the version. */
#define RUN_MSG_SIZE 256

/* The environment the shim reads. */
#define RUN_ENV_SOCK "REFNET_RUN_SOCK"       /* the daemon's run socket */
#define RUN_ENV_NAME "REFNET_RUN_NAME"       /* the first process's name */
#define RUN_ENV_OWNER "REFNET_OWNER"         /* "service apache2": who runs it */
#define RUN_ENV_FALLBACK "REFNET_RUN_FALLBACK" /* "kernel": no daemon, use the kernel */

enum run_op {
    RUN_HELLO = 1,   /* m_arg[0] version, m_arg[1] parent pid, m_arg[2] 1 after
                        an exec; m_data: name NUL owner NUL; reply m_arg[0]
                        the daemon's version (EPROTONOSUPPORT if not the
                        shim's) */
    RUN_DECLARE,     /* m_data: up to RUN_IDS_MAX ids (uint64_t) the process
                        holds; reply m_data: one byte each, enum run_kind,
                        then one byte each, the socket's family (AF_INET,
                        AF_INET6; 0 for none) */
    RUN_SOCKET,      /* m_arg[0] type (SOCK_STREAM, SOCK_DGRAM), m_arg[1]
                        protocol, m_arg[2] family (AF_INET, AF_INET6);
                        reply: m_id and the program's end */
    RUN_BIND,        /* m_id, m_addr */
    RUN_LISTEN,      /* m_id, m_arg[0] backlog */
    RUN_CONNECT,     /* m_id, m_addr, m_arg[0] filler bytes the program's end
                        wrote (the daemon discards them once the connect is
                        done, which makes the end writable); reply 0,
                        EINPROGRESS, or an error */
    RUN_TAKEN,       /* m_id: the process read this accepted connection off
                        a listener's end; its handle is the process's now
                        (no reply) */
    RUN_GETNAME,     /* m_id; reply m_addr local, m_addr2 peer (port 0 if
                        none) */
    RUN_SETOPT,      /* m_id, m_arg[0] level, m_arg[1] name, m_val; for
                        TCP_CONGESTION m_data is the name with its NUL */
    RUN_GETOPT,      /* m_id, m_arg[0] level, m_arg[1] name; reply m_val;
                        for TCP_INFO m_data is a struct run_tcp_info, for
                        TCP_CONGESTION the name in Linux's words ("reno"
                        for NewReno), NUL-padded to RUN_CC_NAME_MAX bytes */
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
#define RUN_IDS_MAX 21
/* TCP_CONGESTION's names as Linux passes them: at most 15 characters and
 * a NUL (the kernel's TCP_CA_NAME_MAX). */
#define RUN_CC_NAME_MAX 16

/* A socket address of either family: an IPv6 address, or an IPv4 one
 * held IPv4-mapped, and a port. */
struct run_addr {
    uint8_t a_ip[16];       /* network order; IPv4: ::ffff:a.b.c.d */
    uint16_t a_port;        /* host order */
    uint16_t a_pad;         /* 0 */
};

/* One message, either way. */
struct run_msg {
    uint32_t m_op;          /* enum run_op */
    int32_t m_result;       /* reply: >= 0, or -errno */
    uint64_t m_id;          /* the socket */
    int32_t m_arg[4];       /* per op */
    int64_t m_val;          /* an option's value */
    struct run_addr m_addr; /* an address */
    struct run_addr m_addr2;/* a second address (RUN_GETNAME's peer) */
    uint32_t m_len;         /* bytes of m_data used */
    uint8_t m_data[RUN_IDS_MAX * 8];
    uint8_t m_pad[4];       /* to RUN_MSG_SIZE */
};

_Static_assert(sizeof(struct run_msg) == RUN_MSG_SIZE,
               "struct run_msg keeps its size across versions");

/* An accepted connection on a listener's end (beside it its end). */
struct run_accepted {
    uint64_t ra_id;         /* the connection's id */
    struct run_addr ra_addr;/* its peer */
    uint32_t ra_pad;
};

/* TCP_INFO's answer, in RUN_GETOPT's m_data: the shim lays it out as the
 * program's struct tcp_info.  Times in microseconds (last_recv in
 * milliseconds); state is Linux's number (TCP_ESTABLISHED, ...). */
struct run_tcp_info {
    uint64_t ti_bytes_sent;
    uint64_t ti_bytes_retrans;
    uint64_t ti_bytes_acked;
    uint64_t ti_bytes_received;
    uint64_t ti_segs_out;
    uint64_t ti_segs_in;
    uint64_t ti_data_segs_out;
    uint64_t ti_data_segs_in;
    uint64_t ti_delivery_rate;   /* bytes per second */
    uint32_t ti_rto;
    uint32_t ti_backoff;
    uint32_t ti_snd_mss;
    uint32_t ti_rcv_mss;
    uint32_t ti_advmss;
    uint32_t ti_unacked;         /* segments */
    uint32_t ti_rtt;
    uint32_t ti_rttvar;
    uint32_t ti_min_rtt;
    uint32_t ti_snd_cwnd;        /* segments */
    uint32_t ti_snd_ssthresh;
    uint32_t ti_snd_wnd;
    uint32_t ti_rcv_wnd;
    uint32_t ti_notsent;
    uint32_t ti_last_recv;
    uint32_t ti_total_retrans;
    uint8_t ti_state;
    uint8_t ti_options;          /* Linux's TCPI_OPT_* */
    uint8_t ti_snd_wscale;
    uint8_t ti_rcv_wscale;
};

/* Each UDP datagram in a seqpacket pair starts with this: the peer it
 * came from, or (from the program) the destination if RUN_DG_TO is set,
 * else the connected peer. */
struct run_dgram {
    struct run_addr dg_addr;
    uint32_t dg_flags;      /* RUN_DG_* */
};

/* dg_flags: dg_addr is the destination (the program gave one). */
#define RUN_DG_TO 0x1u
/* dg_flags (to the program): no datagram but an error to report once,
 * as Linux reports a connected UDP socket's ICMP news (ECONNREFUSED for a
 * port unreachable) to the next call: its errno in the bits from
 * RUN_DG_ERRNO_SHIFT up; the record carries no data. */
#define RUN_DG_ERROR 0x2u
#define RUN_DG_ERRNO_SHIFT 8

#endif /* REFNET_RUN_RUN_PROTO_H */
