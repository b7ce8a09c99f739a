/*
 * The filter tests' pair and chores: the simulated pair with the filtering
 * platform on both stacks and a process on each (P.pa "client" on a, P.pb
 * "server" on b), and filters added or counted.  The rest of the harness
 * is the support library's (support.h).
 */
#ifndef REFNET_TEST_FILTER_HELPER_H
#define REFNET_TEST_FILTER_HELPER_H

#include <stdint.h>

#include "refnet/stack.h"
#include "support.h"

/* Sets the pair up (seed 11, sockets and the filtering platform on both
 * stacks, a process on each), and checks that the platform refuses a
 * second set-up on a stack. */
void fpair_up(void);
/* pair_down(): exits both processes, destroys both stacks, and fails the
 * test unless nothing was left held and no object is alive. */
void fpair_down(void);

/* Counts of drops under "filter_blocked" on a stack. */
uint64_t filter_drops(struct rn_stack *st);

/* Adds a filter on st; fails the test on error.  Returns its id. */
uint64_t add_filter(struct rn_stack *st, const char *spec);

#endif
