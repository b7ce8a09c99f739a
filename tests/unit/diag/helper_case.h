/*
 * Snapshots built by hand for the diag tests and the dump seed corpus:
 * small builders over the snapshot.h API, and the case refnet exists for
 * (DESIGN.md): a service stop that hangs because a TCP listener keeps a
 * leaked enumeration reference.
 */
#ifndef REFNET_TEST_DIAG_HELPER_CASE_H
#define REFNET_TEST_DIAG_HELPER_CASE_H

#include <stdint.h>

#include "refnet/snapshot.h"

/* The case's clock: the snapshot is taken 3 hours after the origin. */
#define CASE_NOW RN_SEC(3 * 3600)
/* How long the stop has been pending. */
#define CASE_STUCK RN_MSEC(31200)
/* How long the listener has been bound. */
#define CASE_BOUND (RN_SEC(2 * 3600) + RN_SEC(10 * 60))

/* Object ids of the case. */
enum {
    CASE_SERVICE = 1,   /* service httpd, its stop pending */
    CASE_PROCESS = 2,   /* process httpd, terminating */
    CASE_SOCKET = 3,    /* socket #7, its close pending */
    CASE_LISTENER = 4,  /* tcp listener 0.0.0.0:80, the blocker */
    CASE_UDP = 9,       /* an unrelated udp endpoint, in no wait */
};

/* Appends an object; the pointer is valid until the next object is
 * added.  Aborts the test program on allocation failure, as all of these
 * do. */
struct rn_snap_object *case_add_object(struct rn_snapshot *s, uint64_t id, const char *type,
                                       const char *desc, enum rn_ob_state state,
                                       rn_time_t created, rn_time_t killed);
/* Appends a ledger line to o and adds count to its refs. */
void case_add_tag(struct rn_snapshot *s, struct rn_snap_object *o, const char *tag,
                  uint32_t count, rn_time_t since, const char *last_ref);
/* Appends a group of traced holds to o. */
void case_add_hold(struct rn_snapshot *s, struct rn_snap_object *o, const char *tag,
                   uint32_t stack, uint32_t count, rn_time_t oldest);
/* Appends a stack of n frames (innermost first); returns its index. */
uint32_t case_add_stack(struct rn_snapshot *s, int n, const char *const *frames);
void case_add_wait(struct rn_snapshot *s, uint64_t waiter, uint64_t waited, const char *what,
                   rn_time_t since);

/* The case, finished: service #1 waits ("stop") for process #2, which
 * waits ("cleanup") for socket #3, which waits ("close") for the live tcp
 * listener #4, traced, held by 'port-table' since it was bound 2h10m ago
 * (before tracing was armed) and by a leaked 'enum' for 31.2s from
 * tl_enum_next <- ctl_netstat.  Also an unrelated udp endpoint #9. */
struct rn_snapshot *case_apache(void);


/* A snapshot that uses every field of the model: misuse counters, a
 * saturated object, dying objects, traced holds over several stacks and
 * none, an empty stack, waits with a gone waiter, an anonymous waiter, a
 * branch and a cycle. */
struct rn_snapshot *case_rich(void);

#endif
