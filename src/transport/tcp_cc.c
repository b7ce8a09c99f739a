/*
 * Congestion control by name: the table of algorithms (tcp.congestion
 * picks one for new connections) and the calls TCP makes, each handed to
 * the algorithm the connection opened with (its settings' tc_cc).
 *
 * To add an algorithm: write tcp_cc_NAME.c with a struct tcp_cc_ops
 * (tcp_priv.h), declare it in tcp_priv.h, and list it in algorithms[]
 * below; tcp.congestion then takes its name.
 */
#include <string.h>

#include "transport/tcp_priv.h"

static const struct tcp_cc_ops *const algorithms[] = {
    &rn__tcp_cc_newreno,
};

#define NALGORITHMS (sizeof(algorithms) / sizeof(algorithms[0]))

const struct tcp_cc_ops *rn__tcp_cc_find(const char *name)
{
    size_t i;

    for (i = 0; i < NALGORITHMS; i++) {
        if (strcmp(algorithms[i]->cc_name, name) == 0)
            return algorithms[i];
    }
    return NULL;
}

void rn__tcp_cc_init(struct tcp_conn *c)
{
    c->t_conf->tc_cc->cc_init(c);
}

void rn__tcp_cc_ack(struct tcp_conn *c, uint32_t acked)
{
    c->t_conf->tc_cc->cc_ack(c, acked);
    rn__tcp_sndbuf_tune(c);
}

void rn__tcp_cc_fast_retransmit(struct tcp_conn *c)
{
    c->t_conf->tc_cc->cc_fast_retransmit(c);
}

void rn__tcp_cc_dupack(struct tcp_conn *c)
{
    c->t_conf->tc_cc->cc_dupack(c);
}

bool rn__tcp_cc_recovery_ack(struct tcp_conn *c, uint32_t acked)
{
    return c->t_conf->tc_cc->cc_recovery_ack(c, acked);
}

void rn__tcp_cc_rto(struct tcp_conn *c)
{
    c->t_conf->tc_cc->cc_rto(c);
}
