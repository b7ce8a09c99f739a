/*
 * The transports of a stack: set-up (transport.h, public) and the table the
 * socket layer finds them in (transport/transport.h).
 *
 * rn_sock_layer_init() (src/socket/layer.c, the layer above) sets up UDP,
 * TCP and then the socket layer; teardown hooks run in reverse.
 */
#include "refnet/error.h"
#include "refnet/transport.h"
#include "transport/tcp.h"
#include "transport/tcp_priv.h"
#include "transport/transport.h"
#include "transport/udp.h"

/* Every transport the socket layer can open, by type; the first of a type
 * is its default. */
static const struct rn_transport_ops *const transports[] = {
    &rn__udp_ops,
    &rn__tcp_ops,
};

const struct rn_transport_ops *rn__transport_find(int type, int proto)
{
    size_t i;

    for (i = 0; i < sizeof(transports) / sizeof(transports[0]); i++) {
        if (transports[i]->to_type == type && (proto == 0 || transports[i]->to_proto == proto))
            return transports[i];
    }
    return NULL;
}

void *rn__transport_owner(const void *ob)
{
    size_t i;
    void *owner;

    for (i = 0; i < sizeof(transports) / sizeof(transports[0]); i++) {
        owner = transports[i]->to_owner(ob);
        if (owner != NULL)
            return owner;
    }
    return NULL;
}

int rn_transport_set_ephemeral(struct rn_stack *st, uint16_t lo, uint16_t hi)
{
    struct tcp_stack *ts = rn__tcp_stack(st);
    int err;

    if (lo == 0 || lo > hi)
        return RN_EINVAL;
    err = rn__udp_set_ephemeral(st, lo, hi);
    if (err < 0)
        return err;
    if (ts != NULL) {
        struct rn_tcp_params p = ts->ts_conf->tc_p;

        p.tp_port_lo = lo;
        p.tp_port_hi = hi;
        return rn__tcp_conf_publish(ts, &p);
    }
    return 0;
}
