/*
 * Two stacks with transports over a simulated cable, for the socket and
 * transport tests: in virtual time (the test drives both loops on a manual
 * clock) or in real time (the test thread polls both stacks on the OS
 * clock while other threads use the blocking API).
 */
#ifndef REFNET_TEST_PAIR_H
#define REFNET_TEST_PAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "refnet/clock.h"
#include "refnet/stack.h"

#define ADDR_A 0xc6120002u  /* 198.18.0.2 */
#define ADDR_B 0xc6120003u  /* 198.18.0.3 */

struct pair {
    struct rn_stack *a;
    struct rn_stack *b;
    struct rn_iface *ifa;
    struct rn_iface *ifb;
    rn_time_t now;
    bool realtime;
    int wake_fd;   /* real time: written when work is posted */
};

extern struct pair P;

/* Sets up the pair with transports.  Virtual time installs the manual
 * clock; real time leaves the OS clock. */
void pair_up(uint32_t mtu, bool realtime);
/* Destroys both stacks, failing the test unless both pools are empty and
 * no object is left alive. */
void pair_down(void);

/* Virtual time: runs both stacks until `until`. */
void run_until(rn_time_t until);
void run_for(rn_time_t d);
/* Runs (either mode) until cond(ctx) holds or limit of the mode's time
 * has passed; returns whether cond held. */
bool run_while_not(bool (*cond)(void *ctx), void *ctx, rn_time_t limit);

/* Buffers outstanding in a stack's pool. */
uint32_t pool_outstanding(struct rn_stack *st);

#endif
