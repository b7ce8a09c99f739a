/*
 * The lab: the case refnet exists for, reproduced on purpose in the
 * simulator and diagnosed by the same tools a live daemon has.  No root,
 * no TAP, virtual time: each scenario takes seconds of real time.
 *
 * Every scenario builds the same small world: a stack "www" (198.18.0.2)
 * whose service controller runs httpd on port 80, a stack "clients"
 * (198.18.0.10) whose process "clients" keeps a few HTTP clients busy
 * through the socket layer's asynchronous requests, and one sim cable
 * between them.  Then:
 *
 *   stop-hang     netstat's enumeration runs in a loop while connections
 *                 come and go; with the enumeration fault armed (the
 *                 default here, off everywhere else) each walk that sees
 *                 the table change under it forgets its "enum" hold on
 *                 the listener.  `svc stop httpd` then hangs: the watchdog
 *                 prints the chain service -> process -> socket ->
 *                 listener with its holders, the verdict names "enum" and
 *                 the traced acquisition site, the port cannot be bound
 *                 again, and a dump can be analysed offline.  --fixed runs
 *                 the same with the fault off: the stop completes.
 *   callout-hang  a third-party callout at the listen layer pends httpd's
 *                 listen authorisation and never completes it: the port is
 *                 bound but takes no connection, and the stop hangs on the
 *                 listener held under "callout:faulty" by the pended
 *                 operation.  --fixed: a filter that permits instead.
 *   close-wait    an application accepts connections and never closes
 *                 them: each peer's FIN leaves one in CLOSE_WAIT, and they
 *                 pile up, held by their sockets in the process's handle
 *                 table.  --fixed: the application closes at end of data.
 *
 * Each scenario prints its story on out, ends in its diagnosis, then
 * clears what it broke and checks that nothing leaked.  A run replays
 * exactly from its seed.
 */
#ifndef REFNET_SIM_LAB_H
#define REFNET_SIM_LAB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "refnet/clock.h"

/* Exit statuses of a scenario, as `refnet lab` returns them. */
#define RN_LAB_CLEAN 0      /* the run stopped cleanly (the fix, or no hang) */
#define RN_LAB_FAILED 1     /* the lab itself failed (out of memory, a leak) */
#define RN_LAB_DIAGNOSED 3  /* the fault was reproduced and diagnosed */

struct rn_lab_params {
    uint64_t lp_seed;         /* the sim's seed; 0 takes 1 */
    bool lp_fixed;            /* run without the fault */
    rn_time_t lp_threshold;   /* watchdog threshold; 0: RN_DIAG_DEFAULT_THRESHOLD */
    const char *lp_dump;      /* write a dump here when the watchdog fires, or NULL */
    FILE *lp_out;             /* the story; NULL: stdout */
};

int rn__lab_stop_hang(const struct rn_lab_params *params);
int rn__lab_callout_hang(const struct rn_lab_params *params);
int rn__lab_close_wait(const struct rn_lab_params *params);

#endif /* REFNET_SIM_LAB_H */
