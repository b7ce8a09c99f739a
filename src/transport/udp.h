/*
 * UDP internals shared by udp.c and the transport set-up (transport.c).
 * Internal to src/transport; the socket layer sees UDP only through its
 * ops table, rn__udp_ops.
 *
 * Legend: [L] loop thread only; [I] immutable after creation; [A] atomic,
 * read by describe routines on any thread.
 */
#ifndef REFNET_TRANSPORT_UDP_H
#define REFNET_TRANSPORT_UDP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "refnet/netbuf.h"
#include "refnet/transport.h"
#include "transport/ep_names.h"
#include "transport/port_table.h"
#include "transport/transport.h"

/* Linux's default net.core.rmem_default and wmem_default. */
#define RN_UDP_RCVBUF_DEFAULT 212992u
#define RN_UDP_SNDBUF_DEFAULT 212992u
/* SO_RCVBUF and SO_SNDBUF as Linux reads them: the value asked, at most
 * RN_UDP_BUF_MAX (net.core.rmem_max, wmem_max), doubled, and at least
 * the floor. */
#define RN_UDP_RCVBUF_MIN 2304u
#define RN_UDP_SNDBUF_MIN 4608u
#define RN_UDP_BUF_MAX (4u << 20)

/* UDP on one stack (in UDP's stack slot). */
struct udp_state {
    struct rn_stack *us_stack;       /* [I] */
    struct rn_port_table us_ports;   /* [L] bound endpoints */
    uint32_t us_truesize;            /* [I] bytes one buffer of the pool costs */
    rn_nb_owner_t us_own_tx;         /* [I] datagrams being built */
    rn_nb_owner_t us_own_rcvq;       /* [I] datagrams on receive queues */
    struct rn_udp_stats us_stats;    /* [L] */
};

/* A UDP endpoint: an object of type "udp endpoint". */
struct udp_ep {
    struct udp_state *ue_udp;        /* [I] */
    struct rn_port_entry ue_bind;    /* [L] the binding while bound */
    struct rn_inaddr ue_laddr;       /* [L] local address, or the wildcard of
                                        the socket's family */
    uint16_t ue_lport;               /* [L] local port, 0 until bound */
    struct rn_inaddr ue_raddr;       /* [L] peer when connected, else that
                                        wildcard */
    bool ue_inet6;                   /* [I] an AF_INET6 socket's endpoint */
    uint16_t ue_rport;               /* [L] peer port, 0 unless connected */
    struct rn__ep_names ue_names;    /* [A] laddr, lport, raddr, rport for
                                        describe on any thread */
    struct rn_nbq ue_rcvq;           /* [L] datagrams with their UDP header
                                        (the source port), nb_cb the source
                                        address (struct rn_inaddr) */
    _Atomic uint32_t ue_rcvq_bytes;  /* [A] buffer bytes on ue_rcvq (truesize) */
    _Atomic uint32_t ue_rcvbuf;      /* [A] limit of ue_rcvq_bytes */
    uint32_t ue_sndbuf;              /* [L] SO_SNDBUF: bytes of buffers sent
                                        datagrams may hold (ue_wq_bytes) */
    uint32_t ue_wq_bytes;            /* [L] buffer bytes of datagrams handed to
                                        IP since the loop last ran its posted
                                        work: what the interface queues still
                                        hold, at most */
    bool ue_wq_posted;               /* [L] ue_wq_work is posted, and holds the
                                        endpoint under "udp.sndbuf" */
    struct rn_work ue_wq_work;       /* [L] uncharges ue_wq_bytes */
    bool ue_broadcast;               /* [L] SO_BROADCAST */
    bool ue_keepalive;               /* [L] SO_KEEPALIVE: kept, as Linux, and
                                        without effect on UDP */
    uint8_t ue_tos;                  /* [L] IP_TOS of datagrams sent */
    uint8_t ue_ttl;                  /* [L] IP_TTL; 0: the stack's */
    int ue_error;                    /* [L] pending error (ICMP), 0 if none */
    bool ue_shut_rd;                 /* [L] */
    bool ue_shut_wr;                 /* [L] */
    bool ue_closed;                  /* [L] to_close() ran */
    struct rn_sock_upcall ue_up;     /* [L] the socket's upcall; cleared at close */
    void *ue_owner;                  /* [L] the socket above (up_owner), kept
                                        after close until the release: the
                                        socket outlives the endpoint */
};

/* Sets the ephemeral range of UDP on st.  Returns 0 or RN_ENOENT when UDP
 * is not set up. */
int rn__udp_set_ephemeral(struct rn_stack *st, uint16_t lo, uint16_t hi);

#endif /* REFNET_TRANSPORT_UDP_H */
