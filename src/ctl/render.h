/*
 * The listings of refnet, rendered in one place: tables for people and
 * JSON for programs, made from the rows the library hands out (stack.h,
 * transport.h, netstat_walk.h, filter.h, service.h).  The daemon's control
 * commands and the tool's local commands (sim, lab) both render here, so
 * a listing reads the same wherever it comes from.
 *
 * JSON is made with json-c: each listing builds its objects and appends
 * them serialised, one line per listing, ending in a newline.  Text ends
 * in a newline too.
 *
 * Every function appends to sb; an allocation failure marks sb (sb_oom)
 * and the caller answers with an error.  [L]: on the loop thread of the
 * stack the rows come from.
 */
#ifndef REFNET_CTL_RENDER_H
#define REFNET_CTL_RENDER_H

#include <stdbool.h>

#include "refnet/clock.h"
#include "refnet/netstat_walk.h"
#include "refnet/service.h"
#include "refnet/strbuf.h"

struct rn_stack;
struct rn_svcctl;
struct rn_svc;
struct json_object;
struct rn_snapshot;
struct rn_snap_object;

/* [L] `ifconfig`: every interface with its links' counters and values. */
void rn__render_ifaces(struct rn_stack *st, struct rn_strbuf *sb, bool json);
/* [L] `arp`: the neighbour entries. */
void rn__render_neighbours(struct rn_stack *st, struct rn_strbuf *sb, bool json);
/* The ARP cache alone (IPv4 neighbours), as `arp` lists it. */
void rn__render_arp(struct rn_stack *st, struct rn_strbuf *sb, bool json);
/* [L] `route`: the routes, longest prefix first. */
void rn__render_routes(struct rn_stack *st, struct rn_strbuf *sb, bool json);
/* [L] `stat`: per interface frames, bytes and drops by reason, the
 * protocol counters, the stack's own drops, the buffer pool by owner. */
void rn__render_stats(struct rn_stack *st, struct rn_strbuf *sb, bool json);
/* [L] `filter list`: filters, callouts with their values, layer counters. */
void rn__render_filters(struct rn_stack *st, struct rn_strbuf *sb, bool json);
/* [L] `plugin list`: loaded plug-ins (plugin.h rows). */
void rn__render_plugins(struct rn_stack *st, struct rn_strbuf *sb, bool json);
/* With receive-side scaling, a built-in service runs one instance per
 * loop under one name: what a listing adds to the first loop's instance
 * (ctl_svc.c gathers it on each loop). */
#define RN__SVC_LOOPS_MAX 64
struct rn__svc_loops {
    unsigned sl_loops;           /* instances in all, the first loop's included */
    uint64_t sl_handles;         /* the other instances' handles */
    uint64_t sl_counters[RN_SVC_COUNTERS_MAX];  /* theirs, in the first
                                                   instance's order */
    unsigned char sl_state[RN__SVC_LOOPS_MAX];  /* [k]: loop k's instance's
                                                   enum rn_svc_state */
};

/* [L] `svc list` (only NULL) or `svc status NAME`: services with state,
 * time in it (against now, the stack's clock), process and counters.
 * With json: an array, or one object for `only`.  loops: NULL, or one
 * entry per service of sc (rn_svcctl_at()'s order), or for `only` its
 * one entry: the other loops' instances, whose counters and handles are
 * added and whose states are said where they differ. */
void rn__render_services(const struct rn_svcctl *sc, const struct rn_svc *only, rn_time_t now,
                         const struct rn__svc_loops *loops, struct rn_strbuf *sb, bool json);

/* [L] `get tcp` (name NULL) or `get NAME`: TCP's settings in force on
 * st, each with refnet's default, Linux's, and what it does; with json an
 * array, or one object for a name.  Nothing for a name that is no
 * setting (the caller checks it first). */
void rn__render_tcp_settings(struct rn_stack *st, const char *name, struct rn_strbuf *sb,
                             bool json);

/* `netstat`, row by row as the walk hands them out (netstat_walk.h):
 * begin, then one call per row, then end.  refs: the --refs columns
 * (owner, holders).  *first tracks the JSON array's commas; set it true
 * before begin.  A row the walk gave TCP's statistics (np_info, -i) shows
 * them too: on a second line in text, as "info" in JSON. */
void rn__render_netstat_begin(struct rn_strbuf *sb, bool refs, bool json);
void rn__render_netstat_row(struct rn_strbuf *sb, const struct rn_netstat_walk_row *row,
                            bool refs, bool json, bool *first);
/* The same for a daemon with a stack per loop (receive-side scaling): the
 * JSON row says which loop's stack the endpoint is on; loop < 0: none. */
void rn__render_netstat_row_loop(struct rn_strbuf *sb, const struct rn_netstat_walk_row *row,
                                 bool refs, bool json, bool *first, int loop);
void rn__render_netstat_end(struct rn_strbuf *sb, bool json);

/* A snapshot object (snapshot.h) as `refnet objects --json` shows it: id,
 * type, description, state, refcount, ages in ns relative to the
 * snapshot's time, the ledger and, for traced objects, the holds grouped
 * by stack with their frames.  Returns a new object (NULL on allocation
 * failure, which rn__render_json() turns into an out-of-memory mark). */
struct json_object *rn__render_object_json(const struct rn_snapshot *s,
                                           const struct rn_snap_object *o);

/* Appends obj serialised on one line (no newline) and drops the
 * caller's reference on it.  NULL (a failed json-c allocation) marks sb
 * as out of memory. */
void rn__render_json(struct rn_strbuf *sb, struct json_object *obj);


/* ---- The live view and the HTML report (web.h) ---------------------------- */

/* One second of the live view's history: totals at that moment. */
struct rn_web_hist {
    rn_time_t wh_when;         /* the loop's time */
    uint64_t wh_rx_frames;     /* every interface's, added up */
    uint64_t wh_tx_frames;
    uint64_t wh_rx_bytes;
    uint64_t wh_tx_bytes;
    uint64_t wh_drops;         /* every drop reason's, interfaces and stack */
    uint64_t wh_tcp_opens;     /* tcp.active_opens + tcp.passive_opens */
    uint64_t wh_tcp_retrans;   /* tcp.retransmits */
    uint64_t wh_tcp_conns;     /* tcp.connections */
};

/* The history as a JSON array, oldest first: {"age_ns", "rx_frames", ...}
 * per entry.  ring holds n entries of cap, the next to be written at
 * next; ages are against now. */
void rn__render_web_history(const struct rn_web_hist *ring, unsigned n, unsigned next,
                            unsigned cap, rn_time_t now, struct rn_strbuf *sb);

/* Every wait of s as a graph: {"now_ns", "threshold_ns", "waits": [{"waiter",
 * "waited", "what", "age_ns"}], "nodes": [{"id", "type", "desc", "state",
 * "refs", ... and for a blocker (a node that waits for nothing) "holders":
 * [{"tag", "count", "held_ns", "class", "reason", "site"}] and "verdict",
 * the words of `refnet why`}], "why": the text of `refnet why`}.  NULL on
 * allocation failure. */
struct json_object *rn__render_waits_json(const struct rn_snapshot *s);

/* The objects of s whose id ("17", "#17"), type or description contains
 * query (case-insensitive; NULL or "" for all) and, if type is not NULL,
 * whose type is type: {"now_ns", "total", "types": {type: count},
 * "matched", "objects": [at most max, as rn__render_object_json()]}. */
struct json_object *rn__render_objects_json(const struct rn_snapshot *s, const char *query,
                                            const char *type, size_t max);

/* The most objects a report lists one by one (every one is counted by
 * type; those in waits are drawn whatever their number). */
#define RN_REPORT_OBJECTS_MAX 2000

/* What the HTML report shows of s: {"title", "now_ns", "threshold_ns",
 * "misuse": {...}, "waits": rn__render_waits_json(), "objects":
 * rn__render_objects_json() of the first RN_REPORT_OBJECTS_MAX objects}. */
struct json_object *rn__render_report_json(const struct rn_snapshot *s, const char *title);

#endif /* REFNET_CTL_RENDER_H */
