/*
 * Filtering platform internals shared by the files of src/filter/: the
 * per-stack engine (in the platform's stack slot), filters, callout
 * registrations, flow records with their callout contexts, pended
 * operations, and the built-in callouts' registration calls.
 *
 * Who holds whom (tags in quotes):
 *   filter                    -"filter"->        callout registration
 *   callout's flow context    -"callout:NAME"->  tcp connection / listener
 *   callout                   -"callout:NAME"->  pended operation (its creator)
 *   pended operation          -"callout:NAME"->  tcp connection / listener
 * Waits: a flow waits ("listen authorisation", ...) for each operation
 * pended on it, until the operation completes or the flow ends.
 *
 * Legend: [L] loop thread only; [I] immutable after creation; [A] atomic,
 * read by describe routines from any thread.
 */
#ifndef REFNET_FILTER_PRIV_H
#define REFNET_FILTER_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "filter/filter_hook.h"
#include "refnet/clock.h"
#include "refnet/filter.h"
#include "refnet/object.h"

struct rn_stack;
struct filter_engine;

/* An address condition of a filter, made once from its spec so that
 * matching is two masked 64-bit compares whatever the family: an address a
 * matches iff ((a ^ am_net) & am_mask) == 0 over its sixteen octets (read
 * in memory order), and, if am_not_v4, a is not IPv4-mapped.  An IPv4
 * prefix /N masks the mapped prefix's 96 bits too, so only IPv4 matches it;
 * an IPv6 prefix that overlaps ::ffff:0:0/96 (::/0 for one) sets
 * am_not_v4 to keep IPv4 out. */
struct addr_match {
    uint64_t am_net[2];             /* [I] the prefix, bits past it clear */
    uint64_t am_mask[2];            /* [I] its bits */
    bool am_not_v4;                 /* [I] IPv4-mapped addresses never match */
};

/* A filter on one layer. */
struct filter {
    uint64_t f_id;                  /* [I] > 0, never reused on its stack */
    struct rn_filter_spec f_spec;   /* [I] */
    struct addr_match f_lmatch;     /* [I] fs_laddr/fs_lplen, if RN_FS_LADDR */
    struct addr_match f_rmatch;     /* [I] fs_raddr/fs_rplen, if RN_FS_RADDR */
    struct rn_callout *f_callout;   /* [I] RN_FA_CALLOUT: held by "filter" */
    void *f_callout_ctx;            /* [I] what co_filter_add made of fs_arg */
    uint64_t f_hits;                /* [L] times it matched */
};

/* The platform's record of a flow that has callout contexts or pended
 * operations.  It lives while either list is non-empty; the flow points
 * at it (*ff_slot == this) until it ends. */
struct filter_flow {
    struct filter_flow *ff_next;    /* [L] on the engine's list */
    struct filter_flow *ff_prev;    /* [L] */
    struct filter_engine *ff_fe;    /* [I] */
    void *ff_ob;                    /* [I] the flow's object, held by each
                                       context and pended operation */
    void **ff_slot;                 /* [L] the flow's pointer to this record,
                                       NULL once the flow ended */
    struct rn_flow_ctx *ff_ctxs;    /* [L] callout contexts */
    struct rn_pend *ff_pends;       /* [L] operations pended on it */
    unsigned ff_busy;               /* [L] notifications running: not freed */
};

struct rn_flow_ctx {
    struct rn_flow_ctx *fc_next;    /* [L] on ff_ctxs */
    struct filter_flow *fc_flow;    /* [L] its flow's record; NULL once the
                                       platform is gone */
    struct rn_callout *fc_callout;  /* [I] */
    void *fc_ctx;                   /* [I] the callout's */
    bool fc_told;                   /* [L] the current notification reached it */
    bool fc_ended;                  /* [L] told that its flow ended */
};

/* A callout registration: an object of type "callout registration". */
struct rn_callout {
    struct filter_engine *co_fe;          /* [I] */
    const struct rn_callout_ops *co_ops;  /* [I] */
    void *co_ctx;                         /* [I] */
    char co_name[RN_CALLOUT_NAME_MAX + 1]; /* [I] */
    rn_tag_t co_tag;                      /* [I] "callout:NAME" */
    struct rn_callout *co_next;           /* [L] on the engine's list */
    _Atomic uint32_t co_nflows;           /* [A] flow contexts held */
    _Atomic uint32_t co_npends;           /* [A] operations pended */
    _Atomic uint32_t co_nfilters;         /* [A] filters naming it */
};

/* A pended operation: an object of type "pended operation", created by
 * (and held under) its callout's tag. */
struct rn_pend {
    struct filter_engine *p_fe;           /* [L] NULL once the platform is gone */
    struct rn_callout *p_callout;         /* [I] */
    struct filter_flow *p_flow;           /* [L] its flow's record */
    struct rn_pend *p_next;               /* [L] on ff_pends */
    void *p_ob;                           /* [I] the flow's object, held under
                                             the callout's tag */
    rn_tag_t p_tag;                       /* [I] that tag */
    rn_filter_resume_fn p_resume;         /* [I] */
    struct rn_filter_values p_values;     /* [I] what was pended */
    uint64_t p_filter_id;                 /* [I] the filter that called */
    char p_callout_name[RN_CALLOUT_NAME_MAX + 1]; /* [I] for describe */
    struct rn_ob_wait p_wait;             /* the flow's wait for it */
    bool p_waiting;                       /* [L] p_wait is armed */
    bool p_in_classify;                   /* [L] its classify has not returned */
    bool p_decided;                       /* [L] completed inside classify */
    enum rn_filter_decision p_decision;   /* [L] then with this */
};

/* One classification in progress (rn_classify.cl_state). */
struct rn__classify {
    struct filter_engine *cs_fe;          /* the engine */
    const struct rn_filter_req *cs_req;   /* what the hook asked */
    struct rn_callout *cs_callout;        /* the callout being asked */
    uint64_t cs_filter_id;                /* for the pended operation */
    struct rn_pend *cs_pend;              /* pended in this call, or NULL */
};

/* The platform on one stack. */
struct filter_engine {
    struct rn_stack *fe_stack;                      /* [I] */
    struct filter **fe_filters[RN_FL_COUNT_];       /* [L] per layer, by weight
                                                       (highest first), then id */
    unsigned fe_nfilters[RN_FL_COUNT_];             /* [L] */
    unsigned fe_cap[RN_FL_COUNT_];                  /* [L] entries allocated */
    uint64_t fe_next_id;                            /* [L] last id given */
    struct rn_callout *fe_callouts;                 /* [L] registrations, newest first */
    struct rn_plugin *fe_plugins;                   /* [L] loaded plug-ins, oldest first */
    struct filter_flow *fe_flows;                   /* [L] flow records */
    unsigned fe_nflows;                             /* [L] */
    unsigned fe_classifying;                        /* [L] classifications running */
    bool fe_fini;                                   /* [L] being torn down */
    struct rn_filter_layer_stats fe_stats[RN_FL_COUNT_]; /* [L] */
};

/* Types and tags, registered once per process. */
struct filter_types {
    struct rn_ob_type *ft_callout;  /* "callout registration" */
    struct rn_ob_type *ft_pend;     /* "pended operation" */
    rn_tag_t ft_tag_filter;         /* "filter": a filter's hold on its callout */
    rn_tag_t ft_tag_context;        /* "callout.context": a flow context's */
    rn_tag_t ft_tag_pend;           /* "callout.pend": a pended operation's */
};
extern struct filter_types rn__filter_types;

/* ---- engine.c ---- */
/* The engine of st, or NULL. */
struct filter_engine *rn__filter_engine(struct rn_stack *st);

/* ---- callout.c ---- */
/* Registers the object types and tags (idempotent).  Returns 0 or RN_ENOMEM. */
int rn__filter_types_init(void);
/* The flow whose record is ff ended: detaches it from its flow, cancels the
 * flow's waits, tells each callout with context on it. */
void rn__filter_flow_end(struct filter_flow *ff);
/* Teardown: reports, as leaks, the contexts and pended operations callouts
 * still hold after co_unregister, and frees the platform's records of them
 * (the references stay held). */
void rn__filter_flows_abandon(struct filter_engine *fe);
/* Kills every registration (teardown, after co_unregister). */
void rn__filter_callouts_kill(struct filter_engine *fe);
/* Unregisters every callout (co_unregister), newest first. */
void rn__filter_callouts_unregister(struct filter_engine *fe);
/* Takes co off the engine's list (no classification reaches it again) and
 * kills its registration, which its flow contexts and pended operations
 * keep until they go.  No filter may name it. */
void rn__callout_retire(struct rn_callout *co);
/* Deletes every filter that names co; returns how many. */
unsigned rn__filter_del_callout(struct filter_engine *fe, struct rn_callout *co);

/* ---- plugin.c ---- */
/* The stack is going: every plug-in is unloaded and its file let go,
 * after the callouts were told (rn__filter_callouts_unregister()). */
void rn__plugins_fini(struct filter_engine *fe);
/* Asks filter f's callout.  Returns its decision: RN_FILTER_PERMIT,
 * RN_FILTER_BLOCK, RN_FILTER_CONTINUE, or RN_FILTER_PEND (then the pended
 * operation is linked and its flow waits). */
enum rn_filter_decision rn__filter_callout_classify(struct filter_engine *fe, struct filter *f,
                                                 const struct rn_filter_req *req);

/* ---- the built-in callouts ---- */
/* Room for rn__filter_endpoint_fmt(): "[IPv6]:65535" and its NUL. */
#define FILTER_ENDPOINT_STRLEN (RN_IP6_STRLEN + 8)

/* Writes an address and port as "198.18.0.2:80", or "[2001:2::1]:80" for
 * IPv6, into buf of len bytes (FILTER_ENDPOINT_STRLEN holds any).
 * Returns buf. */
char *rn__filter_endpoint_fmt(const struct rn_inaddr *a, uint16_t port, char *buf, size_t len);

int rn__filter_portblock_register(struct rn_stack *st);
int rn__filter_connlog_register(struct rn_stack *st);

#endif /* REFNET_FILTER_PRIV_H */
