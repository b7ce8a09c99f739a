/*
 * The lab's world, shared by its scenarios (lab.c) and built by
 * lab_world.c.  Internal to refnet.
 *
 * Thread safety: none needed: a lab runs on the simulator's one thread.
 */
#ifndef REFNET_LAB_PRIV_H
#define REFNET_LAB_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/lab.h"
#include "refnet/netstat_walk.h"
#include "refnet/service.h"
#include "refnet/sim.h"
#include "refnet/socket.h"
#include "refnet/strbuf.h"
#include "refnet/timer.h"

#define LAB_WWW_CIDR "198.18.0.2/15"
#define LAB_CLIENTS_CIDR "198.18.0.10/15"
#define LAB_WWW_ADDR 0xc6120002u  /* 198.18.0.2 */

#define LAB_MAX_CLIENTS 64
/* The netstat loop: a walk every LAB_WALK_EVERY, LAB_WALK_BATCH objects
 * per batch, one batch per millisecond step. */
#define LAB_WALK_EVERY RN_MSEC(250)
#define LAB_WALK_BATCH 16

struct lab;

struct lab_client {
    struct lab *lc_lab;
    int lc_h;                  /* its handle, 0 between connections */
    struct rn_timer lc_timer;  /* think time before the next connection */
    unsigned lc_rounds;        /* connections it made */
    bool lc_idle;              /* stopped, nothing in flight */
    char lc_buf[2048];         /* request out, response in */
};

/* A stop and what its waiter heard. */
struct lab_stop {
    struct rn_svc_stop ls_stop;
    bool ls_heard;
    int ls_result;
};

struct lab {
    const struct rn_lab_params *l_p;
    FILE *l_out;
    uint64_t l_seed;
    uint64_t l_rng;
    rn_time_t l_threshold;
    struct rn_sim *l_sim;
    struct rn_stack *l_www;       /* the server's stack */
    struct rn_stack *l_cst;       /* the clients' stack */
    struct rn_svcctl *l_sc;       /* www's service controller */
    struct rn_svc *l_httpd;       /* NULL in a world without it */
    char l_dir[256];              /* httpd's document root, "" if none */
    bool l_livelock;              /* the sim reported a livelock */

    /* Clients: one process, each client one connection at a time. */
    struct rn_proc *l_cproc;
    struct lab_client l_clients[LAB_MAX_CLIENTS];
    unsigned l_nclients;
    uint16_t l_port;              /* where they connect */
    const char *l_request;        /* what they send */
    bool l_client_hangs_up;       /* close right after sending */
    unsigned l_client_rounds;     /* connections per client, 0: no limit */
    rn_time_t l_think_min, l_think_max, l_stagger;
    bool l_clients_stop;
    uint64_t l_started, l_ok, l_failed, l_bytes;

    /* The netstat loop on www. */
    bool l_walking;
    bool l_inject;                /* its enumeration fault */
    struct rn_netstat_walk *l_walk;
    bool l_walk_done;
    rn_time_t l_next_walk;
    struct rn_strbuf l_walk_out;  /* the listing of the walk running */
    struct rn_strbuf l_walk_last; /* the last whole listing */
    uint64_t l_walks, l_walk_rows, l_walk_restarts, l_walk_leaked;

    /* A scenario's own application, torn down before httpd. */
    void (*l_app_down)(struct lab *l);
    void *l_app;
};

/* The story. */
void rn__lab_say(struct lab *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rn__lab_print(struct lab *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Virtual seconds since the sim began. */
double rn__lab_secs(const struct lab *l, rn_time_t t);

/* Builds the world: www's filtering platform with filter (a spec, or
 * NULL for none) added first, then httpd RUNNING on www:80 if with_httpd
 * (the scenario sets the clients' fields before rn__lab_clients_start()).
 * Returns 0, or -1 with the reason on stderr (everything built is torn
 * down). */
int rn__lab_up(struct lab *l, const struct rn_lab_params *p, bool with_httpd, const char *filter);
/* Stops what runs (netstat loop, clients, the scenario's application,
 * httpd), destroys the sim and removes the document root.  Returns 0, or
 * -1 if anything leaked (reported on stderr by the object manager). */
int rn__lab_down(struct lab *l);

int rn__lab_clients_start(struct lab *l, unsigned n);
bool rn__lab_clients_stop(struct lab *l, rn_time_t limit);
void rn__lab_netstat_loop(struct lab *l, bool on);

/* One millisecond of the world; and as many as fit in d. */
void rn__lab_step(struct lab *l);
void rn__lab_run_for(struct lab *l, rn_time_t d);

/* Stops svc with a timeout, as `refnet svc stop` does; returns 0 or
 * rn_svc_stop()'s error.  rn__lab_wait_stop() runs until the waiter heard,
 * for at most limit; returns whether it did. */
int rn__lab_svc_stop(struct rn_svc *svc, rn_time_t timeout, struct lab_stop *ls);
bool rn__lab_wait_stop(struct lab *l, struct lab_stop *ls, rn_time_t limit);

/* Runs the world with a watchdog of the lab's threshold checking every
 * 100 ms until it reports (the report appended to report), or the stop
 * completes.  Returns how many waits it reported (0: the stop completed
 * first), or RN_ENOMEM. */
int rn__lab_watch(struct lab *l, struct lab_stop *ls, rn_time_t began, struct rn_strbuf *report);

/* Prints the suspect holders of object id as the verdict engine judges
 * them, with their acquisition sites.  Returns how many, or < 0. */
int rn__lab_diagnose(struct lab *l, uint64_t id, const char *what);

/* Writes a dump of the object manager to path and says so. */
int rn__lab_write_dump(struct lab *l, const char *path);

#endif /* REFNET_LAB_PRIV_H */
