/*
 * Two stacks, a (198.18.0.2) and b (198.18.0.3), with transports, sockets
 * and the filtering platform, over a simulated cable in virtual time; and
 * the socket chores the filter tests share: processes, requests with their
 * completions recorded, a connected TCP pair, lookups in the object
 * manager and in snapshots.
 */
#ifndef REFNET_TEST_FILTER_HELPER_H
#define REFNET_TEST_FILTER_HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/clock.h"
#include "refnet/socket.h"
#include "refnet/stack.h"

#define ADDR_A 0xc6120002u  /* 198.18.0.2 */
#define ADDR_B 0xc6120003u  /* 198.18.0.3 */

struct fpair {
    struct rn_stack *a;
    struct rn_stack *b;
    struct rn_proc *pa;  /* a process on each */
    struct rn_proc *pb;
    rn_time_t now;
};

extern struct fpair F;

/* Sets the pair up, with a process on each stack. */
void fpair_up(void);
/* Exits both processes, destroys both stacks, and fails the test unless
 * both pools are empty and no object is left alive. */
void fpair_down(void);
/* Runs both stacks for d of virtual time. */
void run_for(rn_time_t d);
/* Runs until cond(ctx) or limit; returns whether cond held. */
bool run_while_not(bool (*cond)(void *ctx), void *ctx, rn_time_t limit);

/* Completions of requests, in order. */
struct rec {
    unsigned n;
    struct rn_sock_completion c[64];
};
/* Submits a request whose completion is appended to r. */
void submit(struct rn_proc *p, int op, int h, void *buf, size_t len,
            const struct rn_sockaddr_in *to, struct rec *r);
/* The last completion of op in r, or NULL. */
const struct rn_sock_completion *last_of(const struct rec *r, int op);

/* A UDP socket bound to port on p's stack (any address). */
int udp_bound(struct rn_proc *p, uint16_t port);
/* A TCP socket listening on port on p's stack, or the error of listen. */
int tcp_listening(struct rn_proc *p, uint16_t port, int *err);

/* Counts of drops under "filter_blocked" on a stack. */
uint64_t filter_drops(struct rn_stack *st);

/* The first live object of type whose description contains needle, with
 * a "lookup" reference the caller drops; NULL if none. */
void *find_object(const char *type, const char *needle);
/* Objects not yet released whose ledger holds tag (any object type). */
unsigned objects_held_by(const char *tag);
/* True if a wait "what" by waiter (object id) is registered. */
bool has_wait(uint64_t waiter, const char *what);
/* Renders every waiting chain (threshold 0) into a malloc'd string. */
char *render_chains(void);

/* Adds a filter on st; fails the test on error.  Returns its id. */
uint64_t add_filter(struct rn_stack *st, const char *spec);

#endif
