/*
 * TCP's hooks into the filtering platform (filter_hook.h): what TCP asks at
 * each layer, and how it carries on once a callout completes what it
 * pended.
 *
 *   rn__tcp_listen()  -> rn__tcp_filter_listen()   listen, before SYNs are taken
 *   rn__tcp_connect() -> rn__tcp_filter_connect()  connect, before the SYN
 *   listen_input()   -> rn__tcp_filter_accept()   accept, before the SYN+ACK
 *   rn__tcp_input()     -> rn__tcp_filter_segment()  inbound-transport
 *   build_and_send() -> rn__tcp_filter_segment()  outbound-transport
 *
 * Pended authorisations hold still: a pended listener is bound (its port
 * taken) but takes no SYNs, which are answered as for a closed port; a
 * pended connect stays in SYN_SENT and a pended accept in SYN_RECEIVED
 * (on its listener's SYN queue) with TF_AUTH_PENDING, which stops
 * rn__tcp_output() from sending.  Their timers still run: a connect or an
 * accept pended longer than the 75 s handshake timeout fails as a
 * handshake would.  On completion: permit sends the SYN or SYN+ACK, or
 * opens the listener to SYNs; block fails the connect with RN_EACCES,
 * answers the SYN with a RST, or closes the listener under its user
 * (accepts fail with RN_EACCES).
 *
 * The connection or listener is the flow: t_filter and l_filter point at
 * the platform's record of it.  rn__tcp_done() and rn__tcp_listener_close()
 * tell the platform when the flow ends; the handshake's completion tells it
 * when the flow is established.
 */
#include <string.h>

#include "refnet/error.h"
#include "transport/tcp_priv.h"
#include "wire/ipv4.h"

static void values_of_conn(const struct tcp_conn *c, enum rn_filter_layer layer,
                           struct rn_filter_values *v)
{
    memset(v, 0, sizeof(*v));
    v->fv_layer = layer;
    v->fv_proto = RN_IPPROTO_TCP;
    v->fv_laddr = c->t_laddr;  /* either family: IPv4 held mapped */
    v->fv_lport = c->t_lport;
    v->fv_raddr = c->t_faddr;
    v->fv_rport = c->t_fport;
}

/* ---- listen ---------------------------------------------------------------- */

static void listen_resume(struct rn_stack *st, void *flow, enum rn_filter_layer layer,
                          enum rn_filter_decision decision)
{
    struct tcp_listener *l = flow;

    (void)st;
    (void)layer;
    if (!l->l_auth_pending ||
        atomic_load_explicit(&l->l_state, memory_order_relaxed) != TCPS_LISTEN)
        return;
    l->l_auth_pending = false;
    if (decision != RN_FILTER_PERMIT)
        rn__tcp_listener_refuse(l, RN_EACCES);
}

enum rn_filter_decision rn__tcp_filter_listen(struct tcp_listener *l)
{
    struct rn_filter_req req;
    enum rn_filter_decision d;

    memset(&req, 0, sizeof(req));
    req.fr_values.fv_layer = RN_FL_LISTEN;
    req.fr_values.fv_proto = RN_IPPROTO_TCP;
    req.fr_values.fv_laddr = l->l_laddr;
    req.fr_values.fv_lport = l->l_lport;
    /* No peer yet: the unspecified address of the listener's family (a
     * dual-stack listener on :: is IPv6). */
    req.fr_values.fv_raddr = rn_inaddr_is_v4(&l->l_laddr) ? rn_inaddr_v4(0)
                                                         : rn_inaddr_v6(&RN_IP6_ANY);
    req.fr_flow = l;
    req.fr_flow_slot = &l->l_filter;
    req.fr_resume = listen_resume;
    d = rn__filter_classify(l->l_tcp->ts_stack, &req);
    if (d == RN_FILTER_PEND)
        l->l_auth_pending = true;
    return d;
}

/* ---- connect and accept ----------------------------------------------------- */

static void connect_resume(struct rn_stack *st, void *flow, enum rn_filter_layer layer,
                           enum rn_filter_decision decision)
{
    struct tcp_conn *c = flow;

    (void)st;
    (void)layer;
    if ((c->t_flags & (TF_AUTH_PENDING | TF_DONE)) != TF_AUTH_PENDING)
        return;
    c->t_flags &= ~TF_AUTH_PENDING;
    if (decision == RN_FILTER_PERMIT)
        rn__tcp_output(c);
    else
        rn__tcp_drop(c, RN_EACCES);  /* SYN_SENT: tu_connected(RN_EACCES) */
}

enum rn_filter_decision rn__tcp_filter_connect(struct tcp_conn *c)
{
    struct rn_filter_req req;
    enum rn_filter_decision d;

    memset(&req, 0, sizeof(req));
    values_of_conn(c, RN_FL_CONNECT, &req.fr_values);
    req.fr_flow = c;
    req.fr_flow_slot = &c->t_filter;
    req.fr_resume = connect_resume;
    d = rn__filter_classify(c->t_tcp->ts_stack, &req);
    if (d == RN_FILTER_PEND)
        c->t_flags |= TF_AUTH_PENDING;
    return d;
}

void rn__tcp_refuse_syn(struct tcp_conn *c)
{
    /* The peer is in SYN_SENT: a RST that acknowledges its SYN is one it
     * accepts (RFC 9293 3.10.7.3). */
    rn__tcp_respond(c->t_tcp, c->t_laddr, c->t_lport, c->t_faddr, c->t_fport, 0, c->rcv_nxt,
                 RN_TCP_RST | RN_TCP_ACK, 0, NULL);
    rn__tcp_done(c);
}

static void accept_resume(struct rn_stack *st, void *flow, enum rn_filter_layer layer,
                          enum rn_filter_decision decision)
{
    struct tcp_conn *c = flow;

    (void)st;
    (void)layer;
    if ((c->t_flags & (TF_AUTH_PENDING | TF_DONE)) != TF_AUTH_PENDING)
        return;
    c->t_flags &= ~TF_AUTH_PENDING;
    if (decision == RN_FILTER_PERMIT) {
        c->t_flags |= TF_ACKNOW;
        rn__tcp_output(c);  /* the SYN+ACK at last */
    } else {
        rn__stack_count_drop(st, NULL, RN_DROP_FILTER_BLOCKED);
        rn__tcp_refuse_syn(c);
    }
}

enum rn_filter_decision rn__tcp_filter_accept(struct tcp_conn *c)
{
    struct rn_filter_req req;
    enum rn_filter_decision d;

    memset(&req, 0, sizeof(req));
    values_of_conn(c, RN_FL_ACCEPT, &req.fr_values);
    req.fr_values.fv_tcp_flags = RN_TCP_SYN;
    req.fr_flow = c;
    req.fr_flow_slot = &c->t_filter;
    req.fr_resume = accept_resume;
    d = rn__filter_classify(c->t_tcp->ts_stack, &req);
    if (d == RN_FILTER_PEND)
        c->t_flags |= TF_AUTH_PENDING;
    return d;
}

/* ---- Segments ------------------------------------------------------------------ */

bool rn__tcp_filter_segment(struct tcp_stack *ts, struct tcp_conn *c, enum rn_filter_layer layer,
                         struct rn_inaddr laddr, uint16_t lport, struct rn_inaddr faddr, uint16_t fport,
                         uint8_t flags, uint32_t len)
{
    struct rn_filter_req req;

    memset(&req, 0, sizeof(req));
    req.fr_values.fv_layer = layer;
    req.fr_values.fv_proto = RN_IPPROTO_TCP;
    req.fr_values.fv_laddr = laddr;
    req.fr_values.fv_lport = lport;
    req.fr_values.fv_raddr = faddr;
    req.fr_values.fv_rport = fport;
    req.fr_values.fv_tcp_flags = flags;
    req.fr_values.fv_len = len;
    /* A connection the protocol is done with is no flow to keep context
     * on: its end was told already. */
    if (c != NULL && !(c->t_flags & TF_DONE)) {
        req.fr_flow = c;
        req.fr_flow_slot = &c->t_filter;
    }
    return rn__filter_classify(ts->ts_stack, &req) == RN_FILTER_BLOCK;
}
