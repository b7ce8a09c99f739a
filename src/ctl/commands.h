/*
 * Internal interfaces of the control plane (src/ctl): the command families
 * the daemon registers on its control server.
 */
#ifndef REFNET_CTL_COMMANDS_H
#define REFNET_CTL_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl/ctl.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"

struct rn_loop;
struct rn_stack;
struct rn__ctl_lanes;

/* Adds `ifconfig`, `arp`, `route` and `stat` (ctl_stack.c) for st to srv;
 * the chains `ifconfig NAME remove` prints are judged with threshold (the
 * watchdog's; 0: the default).  With lanes (may be NULL) `stat` speaks for
 * every loop's stack: summed in JSON, loop by loop in text.  Returns 0 or
 * RN_ENOMEM. */
int rn__ctl_add_stack_cmds(struct rn_ctl_server *srv, struct rn_stack *st, rn_time_t threshold,
                           struct rn__ctl_lanes *lanes);

/* Adds `get` and `set` (ctl_tcp.c): TCP's settings of st, read and
 * changed at run time.  Returns 0 or RN_ENOMEM. */
int rn__ctl_add_tcp_cmds(struct rn_ctl_server *srv, struct rn_stack *st,
                         struct rn__ctl_lanes *lanes);

/* Adds `objects`, `refs` and `trace` (ctl_objects.c) to srv.  Returns 0 or
 * RN_ENOMEM. */
int rn__ctl_add_object_cmds(struct rn_ctl_server *srv);

/* Adds `filter list|add|del` (ctl_filter.c) for st's filtering platform
 * to srv.  Returns 0 or RN_ENOMEM. */
int rn__ctl_add_filter_cmds(struct rn_ctl_server *srv, struct rn_stack *st,
                            struct rn__ctl_lanes *lanes);

/* Dump jobs in flight (ctl_dump.c): `dump FILE` takes a snapshot on the
 * loop thread and writes it on a worker thread, so that the file's write
 * and flush to disk never hold the loop; the reply is completed back on the
 * loop.  Returns NULL on allocation failure. */
struct rn__dumper;
struct rn__dumper *rn__dumper_new(struct rn_loop *loop);
/* Waits for the jobs still writing and completes their requests.  Call on
 * the loop's thread with rn_loop_run() not running.  NULL is allowed. */
void rn__dumper_free(struct rn__dumper *du);
/* Sets the watchdog threshold the dumps carry (s_threshold; 0: none). */
void rn__dumper_set_threshold(struct rn__dumper *du, rn_time_t threshold);
/* Adds `dump` to srv, its jobs tracked by du.  Returns 0 or RN_ENOMEM. */
int rn__ctl_add_dump_cmd(struct rn_ctl_server *srv, struct rn__dumper *du);

/* Transfers over refnet's TCP for the clients (ctl_net.c): `connect` and
 * `accept` pipe a TCP connection of st (run by loop) through the control
 * connection in the streaming mode.  Returns NULL on allocation
 * failure. */
struct rn__ctl_net;
struct rn__ctl_net *rn__ctl_net_new(struct rn_loop *loop, struct rn_stack *st);
/* Adds `connect` and `accept` to srv.  Returns 0 or RN_ENOMEM. */
int rn__ctl_add_net_cmds(struct rn_ctl_server *srv, struct rn__ctl_net *net);
/* [L] Refuses new transfers and aborts the running ones; done(ctx) runs
 * on the loop thread once every one has ended (at once if none runs,
 * before this returns).  The loop must keep running until then. */
void rn__ctl_net_stop(struct rn__ctl_net *net, void (*done)(void *ctx), void *ctx);
/* [L] Transfers running or ending. */
unsigned rn__ctl_net_count(const struct rn__ctl_net *net);
/* Frees what is left, after the stack was destroyed.  NULL is allowed. */
void rn__ctl_net_free(struct rn__ctl_net *net);

/* ---- Lanes (ctl_lanes.c) ----------------------------------------------------
 * A daemon with receive-side scaling runs a stack per loop; the commands
 * that speak for all of them reach each through its lanes.  Lane 0 is the
 * control socket's loop and its stack; a daemon without RSS has it alone
 * (a NULL set of lanes counts one). */
struct rn__ctl_lanes;
struct json_object;
typedef void (*rn__ctl_lane_fn)(unsigned lane, struct rn_stack *st, void *ctx);
struct rn__ctl_lanes *rn__ctl_lanes_new(struct rn_loop *loop, struct rn_stack *st);
void rn__ctl_lanes_free(struct rn__ctl_lanes *cl);
/* Adds the next lane, before any command runs.  0 or RN_ENOMEM. */
int rn__ctl_lanes_add(struct rn__ctl_lanes *cl, struct rn_loop *loop, struct rn_stack *st);
unsigned rn__ctl_lanes_count(const struct rn__ctl_lanes *cl);
struct rn_stack *rn__ctl_lanes_stack(const struct rn__ctl_lanes *cl, unsigned i);
struct rn_loop *rn__ctl_lanes_loop(const struct rn__ctl_lanes *cl, unsigned i);
/* [L of lane 0] Runs fn on lane i's loop thread and waits for it (lane 0:
 * at once, on the caller's); each: lane 0 first, then the others. */
void rn__ctl_lanes_call(struct rn__ctl_lanes *cl, unsigned i, rn__ctl_lane_fn fn, void *ctx);
void rn__ctl_lanes_each(struct rn__ctl_lanes *cl, rn__ctl_lane_fn fn, void *ctx);
/* A listing of every lane's stack, each rendered on its loop by render:
 * in JSON one document, the lanes' summed (rn__ctl_json_add()) with
 * "loops": n beside; in text each lane's under "loop N (stack NAME):". */
struct rn_ctl_req;
struct rn_strbuf;
typedef void (*rn__ctl_render_fn)(struct rn_stack *st, struct rn_strbuf *sb, bool json);
int rn__ctl_lanes_render(struct rn__ctl_lanes *cl, struct rn_ctl_req *req,
                         rn__ctl_render_fn render);
/* The JSON of it alone, into out; cl is not NULL.  False when out of
 * memory. */
bool rn__ctl_lanes_render_json(struct rn__ctl_lanes *cl, rn__ctl_render_fn render,
                               struct rn_strbuf *out);
/* The same for a listing whose JSON is an array of rows, objects each
 * lane has its own of under one name (interfaces): in JSON the first
 * lane's rows, their counters summed with the other lanes' rows of the
 * same name, and each with "loops": every lane's part (its number, the
 * id and references of its object, its counters). */
int rn__ctl_lanes_render_rows(struct rn__ctl_lanes *cl, struct rn_ctl_req *req,
                              rn__ctl_render_fn render);
bool rn__ctl_lanes_rows_json(struct rn__ctl_lanes *cl, rn__ctl_render_fn render,
                             struct rn_strbuf *out);
/* Adds JSON document from into into, member by member: numbers are
 * summed (but those that name or describe: id, pid, mtu, index ...),
 * arrays element by element (by "name" where elements have one), what
 * into lacks is added, and other values (strings, settings) stay into's. */
void rn__ctl_json_add(struct json_object *into, struct json_object *from);

/* `netstat [-a] [--refs] [--json]` (ctl_netstat.c): st's TCP and UDP
 * endpoints, listed by the batched walk of netstat_walk.h, one batch per
 * loop wake.  inject_enum_leak arms the lab's fault in every walk.
 * Returns NULL on allocation failure. */
struct rn__ctl_netstat;
struct rn__ctl_netstat *rn__ctl_netstat_new(struct rn_loop *loop, struct rn_stack *st,
                                            bool inject_enum_leak);
/* Adds `netstat` to srv.  Returns 0 or RN_ENOMEM. */
int rn__ctl_add_netstat_cmd(struct rn_ctl_server *srv, struct rn__ctl_netstat *cn);
/* With receive-side scaling: another stack to list, on its own loop
 * (after the first's, in the order added).  Before any request. */
int rn__ctl_netstat_add_lane(struct rn__ctl_netstat *cn, struct rn_loop *loop,
                             struct rn_stack *st);
/* Ends the walks still running (their requests were cancelled by the
 * server's close, which must come first): runs the loop's posted work, in
 * which each one lets go of what it holds.  Call on the loop's thread with
 * rn_loop_run() not running.  NULL is allowed. */
void rn__ctl_netstat_free(struct rn__ctl_netstat *cn);

/* `svc list|status|start|stop`, `why` and `lab clear-leak` (ctl_svc.c),
 * for the services of sc on st.  threshold is the watchdog's: the grace
 * verdicts give.  Returns NULL on allocation failure. */
struct rn_svcctl;
struct rn_svc;
struct rn__ctl_svc;
struct rn__ctl_svc *rn__ctl_svc_new(struct rn_svcctl *sc, struct rn_stack *st,
                                    rn_time_t threshold);
/* With receive-side scaling: the loops' stacks, and loop k's services
 * (k >= 1), whose built-in instances the commands act on with the first
 * loop's.  Before any request. */
void rn__ctl_svc_set_lanes(struct rn__ctl_svc *cs, struct rn__ctl_lanes *lanes);
int rn__ctl_svc_add_lane(struct rn__ctl_svc *cs, unsigned lane, struct rn_svcctl *sc);
/* [L] What `svc list` (only NULL) or `svc status NAME` prints, into out:
 * the first loop's services with every loop's instances' counters and
 * handles summed (render.h).  Returns 0 or RN_ENOMEM. */
int rn__ctl_svc_render(struct rn__ctl_svc *cs, const struct rn_svc *only, struct rn_strbuf *out,
                       bool json);
/* [L] What `svc start NAME` (stop false) or `svc stop NAME` does, with
 * no one waiting for the answer: on every loop's instance.  Returns 0,
 * or a negative code with one line in err. */
int rn__ctl_svc_act(struct rn__ctl_svc *cs, const char *name, bool stop, char *err,
                    size_t errlen);
/* Adds the commands to srv.  Returns 0 or RN_ENOMEM. */
int rn__ctl_add_svc_cmds(struct rn_ctl_server *srv, struct rn__ctl_svc *cs);
/* Frees cs once the server was closed (which completed its requests).
 * NULL is allowed. */
void rn__ctl_svc_free(struct rn__ctl_svc *cs);

/* Parses an object id ("17" or "#17").  Returns 0 and sets *id, or
 * RN_EINVAL. */
int rn__ctl_parse_id(const char *arg, uint64_t *id);

#endif /* REFNET_CTL_COMMANDS_H */
