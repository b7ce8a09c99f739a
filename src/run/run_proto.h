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
 * types, levels and option names as the program gave them; addresses and
 * ports in host order.
 */
#ifndef REFNET_RUN_RUN_PROTO_H
#define REFNET_RUN_RUN_PROTO_H

#include <stdint.h>

/* The protocol's version, in RUN_HELLO's m_arg[0]. */
#define RUN_PROTO_VERSION 2

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
    RUN_TAKEN,       /* m_id: the process read this accepted connection off
                        a listener's end; its handle is the process's now
                        (no reply) */
    RUN_GETNAME,     /* m_id; reply m_addr local, m_addr2 peer (0:0 if none) */
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
#define RUN_IDS_MAX 24
/* TCP_CONGESTION's names as Linux passes them: at most 15 characters and
 * a NUL (the kernel's TCP_CA_NAME_MAX). */
#define RUN_CC_NAME_MAX 16

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

/* An accepted connection on a listener's end (beside it its end). */
struct run_accepted {
    uint64_t ra_id;         /* the connection's id */
    uint32_t ra_addr;       /* its peer */
    uint16_t ra_port;
    uint16_t ra_pad;
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
 * came from, or (from the program) the destination, 0:0 for the
 * connected peer. */
struct run_dgram {
    uint32_t dg_addr;
    uint16_t dg_port;
    uint16_t dg_flags;      /* 0 */
};

#endif /* REFNET_RUN_RUN_PROTO_H */
