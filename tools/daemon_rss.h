/*
 * The daemon's receive-side scaling (docs/design.md, "Receive-side
 * scaling"): beside the first loop, which runs queue 0 of the TAP with
 * the control socket, `refnet run` and the commands run as services, one
 * lane per further queue: a stack of its own on a loop thread of its own,
 * with an interface sharing queue 0's addresses (a shadow), the same TCP
 * settings and filters, and its own instance of each built-in service,
 * listening on the same ports.  Connections live where the device's
 * steering put their first frame, and stay there.
 *
 * Every lane's objects are under the one object manager: the watchdog,
 * `refnet why`, `objects` and dumps see them all.
 *
 * Threads: create and start run on the daemon's thread before the lanes'
 * loops run; stop and destroy on the daemon's loop thread; what a lane
 * does after start, on its own thread.
 */
#ifndef REFNET_TOOLS_DAEMON_RSS_H
#define REFNET_TOOLS_DAEMON_RSS_H

#include <stddef.h>
#include <stdint.h>

#include "refnet/link.h"
#include "refnet/rss.h"
#include "refnet/stack.h"
#include "tools/daemon.h"

struct rn__lane;
struct rn__pins;

/* ---- Pinned ports ------------------------------------------------------------
 * A port that only the first loop's stack uses (a listener of a program
 * under `refnet run`, a command run as a service, `refnet recv`, a bound
 * UDP socket, the connections on them) must bring every frame to that
 * loop, whatever the hash says: the first loop pins it to queue 0 on the
 * TAP (rn_link_tap_pin()) while it is in use there and on no other loop,
 * and takes the pin back after.  Every loop's stack tells its uses
 * (rn_stack_set_port_use()); a port the built-in services use on every
 * loop stays hashed.  Any thread, under a lock. */
struct rn__pins *rn__pins_new(unsigned queues);
void rn__pins_free(struct rn__pins *p);
/* Queue 0's TAP, once open; pins are made from then on (those due meanwhile
 * at once).  NULL before the device goes: no pin is taken back after. */
void rn__pins_set_link(struct rn__pins *p, struct rn_link *tap0);
/* Has st (queue q's stack) tell p its ports' uses. */
void rn__pins_watch(struct rn__pins *p, struct rn_stack *st, unsigned q);
/* Whether this side's port (RN_IPPROTO_TCP or UDP) is pinned to queue 0
 * now. */
bool rn__pins_pinned(struct rn__pins *p, uint8_t proto, uint16_t port);
/* Ports pinned now, and pins made and failed so far. */
void rn__pins_counts(struct rn__pins *p, uint64_t *pinned, uint64_t *made, uint64_t *failed);

/* What a lane is made from: the daemon's parameters, the steering, its
 * queue, the fan-out group and the interface's address. */
struct rn__lane_setup {
    const struct rn_daemon_params *ls_params;
    const struct rn_rss *ls_rss;
    unsigned ls_queue;                 /* 1 .. rs_queues - 1 */
    struct rn_link_fanout *ls_fan;
    const uint8_t *ls_mac;             /* queue 0's */
    struct rn__pins *ls_pins;          /* the ports pinned to queue 0 */
    struct rn_link *ls_capture;        /* queue 0's capture filter, or NULL */
};

/* Creates queue ls_queue's stack (TCP settings, socket layer, RSS) and
 * loop, not yet running.  Returns 0 or a negative code with a one-line
 * reason in err. */
int rn__lane_create(const struct rn__lane_setup *s, struct rn__lane **out, char *err,
                    size_t errlen);

/* Opens the lane's TAP queue with the fault filter (--fault), the shared
 * capture (--capture) and the fan-out filter on top.  Queue 0 must be
 * open; all are before the device comes up.  Returns 0 or a negative code
 * with a one-line reason in err. */
int rn__lane_open(struct rn__lane *l, char *err, size_t errlen);

/* Adds the shadow interface over that link, the default route, the
 * filters and plug-ins, starts the built-in services, then the loop's
 * thread.  Returns 0 or a negative code with a one-line reason in err. */
int rn__lane_start(struct rn__lane *l, char *err, size_t errlen);

/* The fan-out's wake for the lane (any thread). */
void rn__lane_wake(struct rn__lane *l);
/* Has the lane's stack give back its packet pool's free slabs
 * (rn_nbpool_shrink()), on its thread, soon.  NULL is fine. */
void rn__lane_shrink(struct rn__lane *l);

/* Asks the lane's services to stop, on its thread; done(ctx) is called on
 * the lane's thread once they have (at once if none runs). */
void rn__lane_stop_services(struct rn__lane *l, void (*done)(void *ctx), void *ctx);

/* Stops the lane's loop, waits for its thread and runs its stack down
 * (what is still held is reported with the daemon's leaks).  NULL is
 * fine. */
void rn__lane_destroy(struct rn__lane *l);

struct rn_stack *rn__lane_stack(const struct rn__lane *l);
struct rn_svcctl *rn__lane_services(const struct rn__lane *l);
struct rn_loop *rn__lane_loop(const struct rn__lane *l);

/* The daemon's filtering platform on st: plug-ins, then filters, as
 * given at start (daemon.c). */
int rn__daemon_filters_on(struct rn_stack *st, const struct rn_daemon_params *p, char *err,
                          size_t errlen);

#endif /* REFNET_TOOLS_DAEMON_RSS_H */
