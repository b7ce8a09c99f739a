/*
 * The filtering platform: the points (layers) where the stack asks whether
 * an operation may go ahead, the filters that answer by matching what the
 * operation is, and named callouts, modules a filter hands the decision to.
 * A callout may pend an operation and complete it later, and may keep
 * context on a flow (a TCP connection or listener), holding a reference on
 * it under "callout:NAME" until it is told that the flow ended and lets go.
 * This mirrors the Windows Filtering Platform and its callout drivers:
 * third-party code running inside the stack, holding the stack's objects,
 * and the usual suspect when a listening port cannot be closed.
 *
 * Layers, and where the stack classifies (docs/filtering.md has the table):
 *   inbound-ip          a whole IP datagram for us, before ICMP or its
 *                       transport sees it (after reassembly)
 *   outbound-ip         an IP datagram about to be routed out
 *   inbound-transport   a TCP segment about to be processed by its
 *                       connection or listener, a UDP datagram about to be
 *                       queued to its endpoint
 *   outbound-transport  a TCP segment or UDP datagram leaving its transport
 *   connect             a TCP active open, before its SYN (pendable)
 *   listen              a TCP listener, bound, before it takes SYNs (pendable)
 *   accept              a SYN that creates a connection on a listener,
 *                       before the SYN+ACK (pendable)
 * connect, listen and accept are TCP only.  A blocked packet is dropped and
 * counted under the drop reason "filter_blocked" (drop.h); a blocked
 * connect, listen or accept fails with RN_EACCES; a blocked accept answers
 * the SYN with a RST (the peer's connect fails at once, "refused"), while
 * blocks at the packet layers are silent.
 *
 * Filters: each belongs to one layer and matches on protocol, local and
 * remote address (with a prefix, IPv4 or IPv6) and port (or range).
 * Every layer classifies both families.  A layer's filters
 * are tried by weight, highest first (ties: oldest first); the first that
 * matches decides: permit, block, or its callout's answer (a callout may
 * also answer "continue", and the next matching filter decides).  No match
 * permits.  Filters are written in a one-line spec language:
 *   layer=accept,proto=tcp,lport=80,action=callout:connlog,weight=10
 * (rn_filter_parse() documents it).
 *
 * Cost: a layer with no filter on any stack costs its hook one load and
 * one branch; classification allocates nothing unless a callout pends.
 *
 * Built-in callouts, registered by rn_filter_init():
 *   portblock  blocks new inbound TCP connections (SYNs) to the ports its
 *              filter's arg lists, and counts them
 *   connlog    logs each TCP connection's establishment and end as
 *              RN_REPORT_INFO lines, keeping per-flow context (the start
 *              time) that it releases when the flow ends
 * and one for the lab only, registered only on request
 * (rn_callout_faulty_register(), or rn_filter_add_lab()):
 *   faulty     arg=pend pends listen, accept or connect authorisation and
 *              never completes it; arg=leak keeps context on each flow and
 *              never lets go when the flow ends.  Either way the flow's
 *              object stays held under "callout:faulty", as in the case.
 *
 * Threads: everything here runs on the stack's loop thread ([L]), or before
 * the loop runs.  A callout that decides elsewhere posts its completion to
 * the loop.
 */
#ifndef REFNET_FILTER_H
#define REFNET_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/addr.h"
#include "refnet/object.h"
#include "refnet/value.h"

struct rn_stack;
struct rn_strbuf;

/* ---- Layers ------------------------------------------------------------- */

enum rn_filter_layer {
    RN_FL_INBOUND_IP,
    RN_FL_OUTBOUND_IP,
    RN_FL_INBOUND_TRANSPORT,
    RN_FL_OUTBOUND_TRANSPORT,
    RN_FL_CONNECT,
    RN_FL_LISTEN,
    RN_FL_ACCEPT,
    RN_FL_COUNT_
};

/* The layer's name in specs and listings ("inbound-ip"), "?" if unknown. */
const char *rn_filter_layer_name(enum rn_filter_layer layer);
/* True for the layers where a callout may pend (connect, listen, accept). */
bool rn_filter_layer_can_pend(enum rn_filter_layer layer);
/* True for the layers whose classifications carry a flow (connect, listen,
 * accept, and the transport layers for TCP segments of a connection). */
bool rn_filter_layer_has_flow(enum rn_filter_layer layer);

/* ---- Specs -------------------------------------------------------------- */

enum rn_filter_action {
    RN_FA_PERMIT,   /* let it through */
    RN_FA_BLOCK,    /* drop the packet, refuse the operation */
    RN_FA_CALLOUT,  /* ask the callout named fs_callout */
};

/* Which conditions a spec has (fs_match). */
#define RN_FS_PROTO 0x01u  /* fs_proto */
#define RN_FS_LADDR 0x02u  /* fs_laddr/fs_lplen */
#define RN_FS_RADDR 0x04u  /* fs_raddr/fs_rplen */
#define RN_FS_LPORT 0x08u  /* fs_lport_lo..fs_lport_hi */
#define RN_FS_RPORT 0x10u  /* fs_rport_lo..fs_rport_hi */

/* Longest callout name, without its NUL. */
#define RN_CALLOUT_NAME_MAX 31
/* Longest callout argument (arg=), without its NUL. */
#define RN_FILTER_ARG_MAX 127
/* Room for a formatted spec (rn_filter_spec_format()), the longest with
 * two IPv6 prefixes included. */
#define RN_FILTER_SPEC_MAX 400

/* A filter as parsed.  "Local" is always this stack's side: the
 * destination of inbound packets, the source of outbound ones.
 *
 * Addresses are of one family each: an IPv4 address is held IPv4-mapped
 * (addr.h) with its prefix length counted in IPv4 bits (0..32), an IPv6
 * one as itself with 0..128.  A spec with an IPv4 address matches IPv4
 * traffic only (IPv4 on a dual-stack socket is IPv4), one with an IPv6
 * address IPv6 traffic only; laddr and raddr, when both are given, are of
 * the same family. */
struct rn_filter_spec {
    enum rn_filter_layer fs_layer;   /* where it applies */
    unsigned fs_match;               /* RN_FS_* conditions present */
    uint8_t fs_proto;                /* RN_IPPROTO_* */
    struct rn_inaddr fs_laddr;       /* IPv4-mapped or IPv6, bits past the
                                        prefix clear */
    uint8_t fs_lplen;                /* 0..32 for IPv4, 0..128 for IPv6 */
    struct rn_inaddr fs_raddr;       /* as fs_laddr */
    uint8_t fs_rplen;                /* as fs_lplen */
    uint16_t fs_lport_lo;            /* fs_lport_lo <= fs_lport_hi */
    uint16_t fs_lport_hi;
    uint16_t fs_rport_lo;
    uint16_t fs_rport_hi;
    enum rn_filter_action fs_action;
    char fs_callout[RN_CALLOUT_NAME_MAX + 1];  /* RN_FA_CALLOUT: its name */
    uint16_t fs_weight;              /* higher is tried first; default 0 */
    char fs_arg[RN_FILTER_ARG_MAX + 1];        /* for the callout; "" none */
};

/*
 * Parses a spec: comma-separated key=value fields, in any order, each key
 * at most once; spaces around a field are ignored.
 *   layer=L        required: inbound-ip, outbound-ip, inbound-transport,
 *                  outbound-transport, connect, listen, accept
 *   action=A       required: permit, block, or callout:NAME
 *   proto=P        tcp, udp, icmp, icmpv6 (or icmp6) or any (default
 *                  any); connect, listen and accept are TCP only; icmp is
 *                  IPv4's, icmpv6 IPv6's
 *   laddr=A[/N]    local address, IPv4 (198.18.0.2, N 0..32) or IPv6
 *                  (2001:2::/64, N 0..128; no IPv4-mapped form), with an
 *                  optional prefix length (default: the whole address);
 *                  bits past the prefix must be clear
 *   raddr=A[/N]    remote address, as laddr (not at listen)
 *   lport=P[-Q]    local port or range, 1..65535 (not with proto=icmp)
 *   rport=P[-Q]    remote port or range (not at listen)
 *   weight=W       0..65535, higher first (default 0)
 *   arg=TEXT       handed to the callout (callout actions only; no comma)
 * Returns 0 and fills *out, or RN_EINVAL with one line in err naming the
 * bad field: "bad port '8o' in 'lport=8o': expected P or P-Q in 1..65535".
 * Does not check that a named callout exists (rn_filter_add() does). */
int rn_filter_parse(const char *text, struct rn_filter_spec *out, char *err, size_t errlen);

/* Writes the spec in canonical form (fields in the order above, defaults
 * left out) into buf; rn_filter_parse() of the result gives fs back. */
void rn_filter_spec_format(const struct rn_filter_spec *fs, char *buf, size_t len);

/* ---- The platform on a stack -------------------------------------------- */

/* Sets the platform up on st (after rn_sock_layer_init(), or before: the
 * hooks find it either way) and registers the built-in callouts portblock
 * and connlog.  Its teardown runs inside rn_stack_destroy(): every filter
 * goes, every flow still attached is told it ended, callouts unregister
 * (co_unregister), and what a callout still holds then is reported as a
 * leak (RN_REPORT_LEAK) and left held.  Returns 0, RN_EEXIST, RN_ENOMEM. */
int rn_filter_init(struct rn_stack *st);

/* True once rn_filter_init() ran on st. */
bool rn_filter_ready(struct rn_stack *st);

/* Adds a filter.  Returns 0 and its id (> 0, never reused) in *id (may be
 * NULL); or with one line in err: RN_EINVAL (bad spec, or the callout
 * refused its arg), RN_ENOENT (no callout of that name: the lab-only
 * faulty callout must be registered first), RN_EBUSY (called from inside a
 * classification), RN_ENOMEM, or RN_EINVAL if the platform is not set up. */
int rn_filter_add(struct rn_stack *st, const char *spec, uint64_t *id, char *err,
                  size_t errlen);

/* As rn_filter_add(), but a spec whose action is callout:faulty first
 * registers the lab-only faulty callout (if it is not yet).  For the lab
 * and for filters given on the daemon's command line, never for the
 * control socket. */
int rn_filter_add_lab(struct rn_stack *st, const char *spec, uint64_t *id, char *err,
                      size_t errlen);

/* Deletes filter id.  Operations it pended stay pended until their callout
 * completes them.  Returns 0, RN_ENOENT, or RN_EBUSY (inside a
 * classification). */
int rn_filter_del(struct rn_stack *st, uint64_t id);

/* Returns the times filter id matched (0 for an unknown id). */
uint64_t rn_filter_hits(struct rn_stack *st, uint64_t id);

/* The number of filters on st, all layers. */
unsigned rn_filter_count(struct rn_stack *st);

/* A filter, as `refnet filter list` shows it. */
struct rn_filter_row {
    uint64_t fr_id;                 /* its id (rn_filter_add()) */
    enum rn_filter_layer fr_layer;  /* where it sits */
    unsigned fr_weight;             /* higher first within the layer */
    uint64_t fr_hits;               /* times it matched */
    const char *fr_action;          /* "permit", "block" or "callout" */
    const char *fr_callout;         /* the callout's name, or NULL */
    const char *fr_spec;            /* its canonical spec, as filter add takes it */
};
typedef void (*rn_filter_row_fn)(const struct rn_filter_row *row, void *ctx);
/* [L] Every filter, layer by layer, in the order classification runs
 * them.  Nothing without the platform. */
void rn_filter_rows(struct rn_stack *st, rn_filter_row_fn fn, void *ctx);

/* Per-layer counters of a stack. */
struct rn_filter_layer_stats {
    unsigned fls_filters;     /* filters on the layer now */
    uint64_t fls_classified;  /* classifications with at least one filter */
    uint64_t fls_permitted;
    uint64_t fls_blocked;
    uint64_t fls_pended;      /* pended, whatever came of it later */
};
/* Copies layer's counters (zeroes without the platform). */
void rn_filter_layer_stats(struct rn_stack *st, enum rn_filter_layer layer,
                           struct rn_filter_layer_stats *out);

/* ---- Callouts ----------------------------------------------------------- */

/* What a classification is about.  Fields a layer has no value for are 0.
 * The addresses are of the traffic's family: IPv4 held IPv4-mapped
 * (rn_inaddr_is_v4()), IPv6 as itself.  At listen, fv_laddr is the
 * listener's bound address (:: for a dual-stack listener, which is IPv6)
 * and fv_raddr the unspecified address of the same family. */
struct rn_filter_values {
    enum rn_filter_layer fv_layer;
    uint8_t fv_proto;       /* RN_IPPROTO_* */
    struct rn_inaddr fv_laddr;  /* this stack's address */
    struct rn_inaddr fv_raddr;  /* the peer's (unspecified at listen) */
    uint16_t fv_lport;      /* TCP and UDP */
    uint16_t fv_rport;
    uint8_t fv_tcp_flags;   /* transport layers, TCP: the segment's flags */
    uint32_t fv_len;        /* packet layers: bytes of the IP payload or
                               of the segment's payload */
};

struct rn_callout;   /* a registration: an object "callout registration" */
struct rn_pend;      /* a pended operation: an object "pended operation" */
struct rn_flow_ctx;  /* a callout's context on a flow */
struct rn__classify; /* the platform's state of one classification */

/* What a callout's classify is handed; valid during the call only. */
struct rn_classify {
    const struct rn_filter_values *cl_values;  /* what is classified */
    uint64_t cl_filter_id;                     /* the filter that called */
    void *cl_filter_ctx;                       /* what co_filter_add made of
                                                  its arg */
    void *cl_flow;                             /* the flow's object (tcp
                                                  connection or listener), or
                                                  NULL; borrowed */
    struct rn__classify *cl_state;             /* the platform's */
};

struct rn_callout_ops {
    /* The name filters call it by: 1..RN_CALLOUT_NAME_MAX characters of
     * [a-z0-9_-].  Its holds are tagged "callout:NAME". */
    const char *co_name;
    /* A filter naming the callout is being added: check fs (its layer, its
     * fs_arg) and set *fctx to what classify should get as cl_filter_ctx.
     * Returns 0, or a negative code with one line in err.  NULL: the
     * callout takes no arg (a non-empty one is refused). */
    int (*co_filter_add)(struct rn_callout *co, const struct rn_filter_spec *fs, void **fctx,
                         char *err, size_t errlen);
    /* The filter is gone; fctx is no longer used.  May be NULL. */
    void (*co_filter_del)(struct rn_callout *co, void *fctx);
    /* Decides.  Returns RN_FILTER_PERMIT, RN_FILTER_BLOCK,
     * RN_FILTER_CONTINUE (no opinion: the next matching filter decides),
     * or RN_FILTER_PEND after rn_callout_pend() succeeded (and only then).
     * May associate context with the flow (rn_callout_flow_associate()).
     * Must not add or delete filters. */
    int (*co_classify)(struct rn_callout *co, const struct rn_classify *cl);
    /* A flow the callout has context on was established.  May be NULL. */
    void (*co_flow_established)(struct rn_callout *co, struct rn_flow_ctx *fc, void *ctx);
    /* A flow the callout has context on ended (its connection is done, its
     * listener closed): the callout must now let go of it with
     * rn_callout_flow_release(), here or soon.  May be NULL (then the
     * callout releases its contexts some other way). */
    void (*co_flow_deleted)(struct rn_callout *co, struct rn_flow_ctx *fc, void *ctx);
    /* Reports its settings and its own counters, one call of fn per value
     * (value.h), in a fixed order: `refnet filter list` shows them.  May
     * be NULL. */
    void (*co_values)(struct rn_callout *co, rn_value_fn fn, void *ctx);
    /* The platform is going (stack teardown): complete every pended
     * operation, release every flow context, free the callout's state.
     * May be NULL. */
    void (*co_unregister)(struct rn_callout *co);
};

/* The callout's decisions, and what the platform decided. */
enum rn_filter_decision {
    RN_FILTER_PERMIT,
    RN_FILTER_BLOCK,
    RN_FILTER_PEND,
    RN_FILTER_CONTINUE,
};

/* Registers a callout on st under ops->co_name; ops must outlive it.
 * Returns 0 and the registration in *out (may be NULL), or RN_EINVAL (bad
 * name, no classify, no platform), RN_EEXIST (name taken), RN_ENOMEM. */
int rn_callout_register(struct rn_stack *st, const struct rn_callout_ops *ops, void *ctx,
                        struct rn_callout **out);

/* Unregisters a callout.  Returns 0, or RN_EBUSY while a filter names it
 * or it holds flow contexts or pended operations. */
int rn_callout_unregister(struct rn_callout *co);

/* A registered callout, as `refnet filter list` shows it. */
struct rn_callout_row {
    const char *cr_name;          /* the name filters call it by */
    uint64_t cr_id;               /* its object id */
    unsigned cr_filters;          /* filters naming it */
    unsigned cr_flows;            /* flow contexts it holds */
    unsigned cr_pended;           /* operations it pended, not completed */
    struct rn_callout *cr_callout;/* for rn_callout_values(), during the call */
};
typedef void (*rn_callout_row_fn)(const struct rn_callout_row *row, void *ctx);
/* [L] Every callout registered on st, in order of registration. */
void rn_callout_rows(struct rn_stack *st, rn_callout_row_fn fn, void *ctx);
/* [L] Reports co's own settings and counters (its co_values), if any. */
void rn_callout_values(struct rn_callout *co, rn_value_fn fn, void *ctx);

/* Returns the callout registered on st under name, or NULL. */
struct rn_callout *rn_callout_find(struct rn_stack *st, const char *name);

/* [any] Queries: the name it was registered under, the ctx given to
 * rn_callout_register(), and the stack it is registered on.  Valid while
 * the callout is registered. */
const char *rn_callout_name(const struct rn_callout *co);
void *rn_callout_ctx(const struct rn_callout *co);
struct rn_stack *rn_callout_stack(const struct rn_callout *co);
/* [any] Flow contexts it holds now, operations it has pended now. */
unsigned rn_callout_flows(const struct rn_callout *co);
unsigned rn_callout_pends(const struct rn_callout *co);

/* Pends the operation being classified: from co_classify, at a layer that
 * can pend, which then returns RN_FILTER_PEND.  The pended operation is an
 * object held by the callout under "callout:NAME"; it holds the flow under
 * the same tag, and the flow waits for it (a wait the watchdog shows) until
 * the callout completes it.  Returns 0 and the token in *out, RN_EINVAL at
 * a layer that cannot pend (or twice in one classification), RN_ENOMEM.
 * The holds name the callout's call site in the ledger ("last ref"). */
int rn__callout_pend(const struct rn_classify *cl, struct rn_pend **out,
                     const struct rn_site *site);
#define rn_callout_pend(cl, out) rn__callout_pend((cl), (out), RN_SITE)

/* Completes a pended operation with RN_FILTER_PERMIT or RN_FILTER_BLOCK:
 * the stack carries on (connect sends its SYN, accept its SYN+ACK, a
 * listener starts taking SYNs) or refuses (RN_EACCES, a RST for accept).
 * Consumes the token.  If the flow ended meanwhile, only the references go.
 * May be called from inside co_classify: the decision is then the
 * classification's. */
void rn_callout_complete(struct rn_pend *p, enum rn_filter_decision decision);

/* What the pended operation was (copied at pend time). */
const struct rn_filter_values *rn_pend_values(const struct rn_pend *p);

/* Associates ctx with the flow being classified: the association holds the
 * flow's object under "callout:NAME" until rn_callout_flow_release().  The
 * callout is told when the flow is established and when it ends.  Returns
 * 0 and the association in *out (may be NULL), RN_EINVAL if the
 * classification has no flow, RN_EEXIST if the callout has context on that
 * flow already, RN_ENOMEM.  The hold names the callout's call site. */
int rn__callout_flow_associate(const struct rn_classify *cl, void *ctx,
                               struct rn_flow_ctx **out, const struct rn_site *site);
#define rn_callout_flow_associate(cl, ctx, out) \
    rn__callout_flow_associate((cl), (ctx), (out), RN_SITE)

/* Returns the context ctx the callout associated with cl's flow, or NULL. */
struct rn_flow_ctx *rn_callout_flow_find(const struct rn_classify *cl);

/* Ends an association: drops its reference on the flow.  fc is gone. */
void rn__callout_flow_release(struct rn_flow_ctx *fc, const struct rn_site *site);
#define rn_callout_flow_release(fc) rn__callout_flow_release((fc), RN_SITE)

/* The callout's own context of the association (the ctx it associated). */
void *rn_flow_ctx_get(const struct rn_flow_ctx *fc);
/* The flow's object: valid while the association lasts. */
void *rn_flow_ctx_flow(const struct rn_flow_ctx *fc);
/* True once the flow was told to have ended. */
bool rn_flow_ctx_ended(const struct rn_flow_ctx *fc);

/* ---- Built-in callouts -------------------------------------------------- */

/* connlog's counters on st (zeroes without the platform). */
struct rn_connlog_stats {
    uint64_t cls_opened;       /* flows it took context on */
    uint64_t cls_established;  /* of which were established */
    uint64_t cls_ended;        /* flows whose end it logged */
    uint64_t cls_active;       /* contexts held now */
};
void rn_callout_connlog_stats(struct rn_stack *st, struct rn_connlog_stats *out);

/* SYNs portblock refused on st. */
uint64_t rn_callout_portblock_blocked(struct rn_stack *st);

/* Lab only: registers the faulty callout on st.  Returns 0, RN_EEXIST,
 * RN_EINVAL without the platform, RN_ENOMEM. */
int rn_callout_faulty_register(struct rn_stack *st);

/* Lab only: the "clear" step.  Completes (with RN_FILTER_BLOCK) every
 * operation the faulty callout pended and releases every flow context it
 * kept.  Returns how many holds it dropped (0 if it is not registered). */
unsigned rn_callout_faulty_release_all(struct rn_stack *st);

#endif /* REFNET_FILTER_H */
