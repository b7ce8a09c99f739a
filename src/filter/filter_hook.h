/*
 * The filtering platform as the transports see it: the hooks in TCP and
 * UDP (the transport layers, connect, listen, accept).  Internal to
 * refnet.  The network layer sits below the platform and does not call
 * it: the platform sets the IP layer's hooks (rn__ip_set_hook(), net.h)
 * while a stack has filters at inbound-ip or outbound-ip (engine.c).
 *
 * The platform is a service the layers call at fixed points, the way
 * tcpip.sys calls the Windows Filtering Platform's classify: a hook asks,
 * gets PERMIT, BLOCK or PEND, and carries on.  The platform calls no layer
 * back except through the resume function a pendable hook hands it, once a
 * callout completes what it pended.
 *
 * A hook costs one load and one branch while no stack has a filter on its
 * layer:
 *
 *   if (rn__filter_on(RN_FL_CONNECT) && ...classify... == RN_FILTER_BLOCK)
 *
 * Flows (TCP connections and listeners) carry one pointer for the platform
 * (t_filter, l_filter), NULL until a callout associates context with the
 * flow or pends an operation on it.  The flow's owner tells the platform
 * when the flow is established and when it ends, only while that pointer is
 * set: one more branch on those paths.
 *
 * Everything here runs on the stack's loop thread ([L]).
 */
#ifndef REFNET_FILTER_HOOK_H
#define REFNET_FILTER_HOOK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "refnet/filter.h"

struct rn_stack;

/* Filters installed on each layer, summed over every stack of the process.
 * Written only by the platform, when filters come and go. */
extern _Atomic uint32_t rn__filter_active[RN_FL_COUNT_];

/* True if some stack has a filter on layer: the hooks' only cost when none
 * has. */
static inline bool rn__filter_on(enum rn_filter_layer layer)
{
    return atomic_load_explicit(&rn__filter_active[layer], memory_order_relaxed) != 0;
}

/* Called, on the loop thread, with the decision (RN_FILTER_PERMIT or
 * RN_FILTER_BLOCK) on an operation a callout pended, while the flow has not
 * ended.  flow is the flow's object, held until the call returns. */
typedef void (*rn_filter_resume_fn)(struct rn_stack *st, void *flow, enum rn_filter_layer layer,
                                    enum rn_filter_decision decision);

/* One classification, as a hook asks for it. */
struct rn_filter_req {
    struct rn_filter_values fr_values;  /* what is classified; fv_layer says where */
    void *fr_flow;                      /* the flow's object, or NULL */
    void **fr_flow_slot;                /* the flow's pointer for the platform
                                           (t_filter, l_filter); NULL iff no flow */
    rn_filter_resume_fn fr_resume;      /* pendable layers: how to carry on;
                                           NULL elsewhere (a callout cannot pend) */
};

/* Classifies req on st's filters.  Returns RN_FILTER_PERMIT (also when st
 * has no platform or no filter on the layer), RN_FILTER_BLOCK, or
 * RN_FILTER_PEND: the operation waits, the flow held by the pended
 * operation, until fr_resume is called with the decision (or the flow ends
 * first: then it never is).  Never fails. */
enum rn_filter_decision rn__filter_classify(struct rn_stack *st, const struct rn_filter_req *req);

/* The flow whose pointer is *slot was established (the handshake
 * completed).  Call only while *slot != NULL. */
void rn__filter_flow_established(struct rn_stack *st, void **slot);

/* The flow whose pointer is *slot ended: its connection is done, its
 * listener closed.  The callouts with context on it are told, and must let
 * go; operations pended on it will not resume.  Sets *slot to NULL.  Call
 * only while *slot != NULL, with the flow's object still referenced. */
void rn__filter_flow_deleted(struct rn_stack *st, void **slot);

#endif /* REFNET_FILTER_HOOK_H */
