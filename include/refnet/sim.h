/*
 * The simulator: N stacks in one process, joined by simulated cables, run
 * in virtual time.
 *
 * The same core as the real-time host runs here, but the host is this
 * library: it installs a virtual clock as the process clock source, wires
 * stacks together with sim cables (link.h) carrying seeded faults (loss,
 * duplication, reordering, corruption, delay), and drives every stack by
 * jumping virtual time to the earliest deadline of any of them and polling
 * them all, in the order they were added.  Nothing reads the OS clock,
 * every random decision comes from a stream seeded from the sim's seed, and
 * nothing depends on where the heap put an object, so a failing run
 * replays exactly from its seed:
 *
 *     struct rn_sim *sim;
 *     struct rn_stack *a, *b;
 *     struct rn_sim_link_params lp = {.sl_fault_ab = "drop=20%",
 *                                     .sl_fault_ba = "drop=20%"};
 *
 *     rn_sim_create(42, &sim);
 *     rn_sim_add_stack(sim, "a", &a);
 *     rn_sim_add_stack(sim, "b", &b);
 *     rn_sim_connect(sim, a, "198.18.0.2/15", b, "198.18.0.3/15", &lp, NULL);
 *     rn_sim_trace_to_file(sim, stdout);
 *     ... start work on a: sockets (socket.h), rn_icmp_echo_send() ...
 *     rn_sim_run_for(sim, RN_SEC(10));
 *     rn_sim_destroy(sim);           (0 if nothing leaked)
 *
 * The trace: every frame crossing every cable, in order, one line each:
 *
 *     <sec>.<nsec> <cable>.<end> <dir> <bytes> <summary> [<hash>]
 *     1.002000000 c1.a > 98 ICMP echo 198.18.0.2 > 198.18.0.3 id 7 seq 1 len 84 [5d0f13a2]
 *     1.003000000 c1.b < 98 ICMP echo 198.18.0.2 > 198.18.0.3 id 7 seq 1 len 84 [5d0f13a2]
 *
 * dir is '>' for a frame the end's stack sent onto the cable (before the
 * fault filter decides its fate) and '<' for a frame the stack received
 * (after it), so a lost frame is a '>' line with no matching '<' line, and a
 * corrupted one arrives with another hash.  The hash is FNV-1a over the
 * frame's bytes.  See rn_sim_frame_summary() for the summaries.
 *
 * Thread safety: a sim and its stacks belong to the thread that created the
 * sim.  Only one sim may exist in a process at a time (it owns the process
 * clock).
 */
#ifndef REFNET_SIM_H
#define REFNET_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "refnet/clock.h"
#include "refnet/link.h"

struct rn_sim;
struct rn_sim_cable;
struct rn_stack;
struct rn_stack_params;
struct rn_strbuf;

/* Virtual time at which every sim starts: 1 s, so that 0 stays "never". */
#define RN_SIM_EPOCH RN_SEC(1)

/* ---- Creating and destroying -------------------------------------------- */

/* Creates a sim whose every random decision derives from seed, and installs
 * its virtual clock (at RN_SIM_EPOCH) as the process clock source.  Returns
 * 0 and sets *out; RN_EBUSY if another sim exists; RN_ENOMEM. */
int rn_sim_create(uint64_t seed, struct rn_sim **out);

/* Destroys every stack (their interfaces close the cables), checks that
 * nothing leaked, restores the OS clock and frees the sim.  Returns 0, or
 * RN_EBUSY if any stack still held buffers or any object created during
 * the sim's life is still alive; each leak is reported through
 * rn_report(RN_REPORT_LEAK) with the objects' descriptions and holders.
 * Work the caller started on the stacks (pings, endpoints) must be stopped
 * first. */
int rn_sim_destroy(struct rn_sim *sim);

/* ---- Building the network ----------------------------------------------- */

/* Creates a stack named name (at most 31 characters, unique in the sim)
 * whose seed is derived from the sim's seed and the name, and sets up its
 * transports and socket layer (rn_sock_layer_init()), so services
 * (apps.h) and clients (ping.h, echo_client.h) can run on it at once.  Returns 0 and sets *out (the sim owns
 * the stack; it is destroyed with the sim), or RN_EINVAL, RN_EEXIST,
 * RN_ENOMEM. */
int rn_sim_add_stack(struct rn_sim *sim, const char *name, struct rn_stack **out);

/* The same with explicit stack parameters; sp_name and sp_seed are set by
 * the sim, the rest is taken from params (NULL for defaults). */
int rn_sim_add_stack_params(struct rn_sim *sim, const char *name,
                            const struct rn_stack_params *params, struct rn_stack **out);

/* A cable's parameters.  A zero field takes its default. */
struct rn_sim_link_params {
    const char *sl_name;      /* cable name, ends "<name>.a" and "<name>.b";
                                 default "c<n>", n counting cables from 1 */
    rn_time_t sl_latency;     /* one-way propagation delay; default 1 ms */
    uint64_t sl_rate_bps;     /* bits per second each way; 0 = unlimited */
    uint32_t sl_mtu;          /* default 1500 */
    uint32_t sl_limit;        /* frames in flight each way at most; default 1024 */
    const char *sl_fault_ab;  /* fault spec (rn_fault_parse) for frames a -> b */
    const char *sl_fault_ba;  /* fault spec for frames b -> a */
    const char *sl_pcap_a;    /* capture file of what end a's stack sends and
                                 receives (virtual timestamps), or NULL */
    const char *sl_pcap_b;    /* the same at end b */
    bool sl_no_garp;          /* do not announce the addresses at start */
};

/* Connects stack a and stack b with a cable.  addr_a and addr_b are
 * "address/prefix" (e.g. "198.18.0.2/15"); each stack gets an interface
 * named "sim<i>" (i counting that stack's interfaces from 0) with that
 * address and its connected route.  A fault spec's seed, and its dir, are
 * not taken as written: each direction's filter is seeded from the sim's
 * seed, the cable's number and the direction (mixed with the spec's own
 * seed=, so changing it still changes the run), and faults only its own
 * direction.  The ends' MACs are 02:52:4e:<cable number, 2 bytes>:01 and
 * ...:02.
 * Returns 0 and, if out is not NULL, sets *out (valid until the sim is
 * destroyed); RN_EINVAL with a one-line reason in rn_sim_error() for a bad
 * address or spec (nothing was built); or another negative code, also
 * explained there (if b's interface could not be added, a's stays, on a
 * cable that leads nowhere). */
int rn_sim_connect(struct rn_sim *sim, struct rn_stack *a, const char *addr_a,
                   struct rn_stack *b, const char *addr_b,
                   const struct rn_sim_link_params *params, struct rn_sim_cable **out);

/* Returns the text of the last error a sim call reported, or "". */
const char *rn_sim_error(const struct rn_sim *sim);

/* Returns the cable's name ("c1"). */
const char *rn_sim_cable_name(const struct rn_sim_cable *cable);

/* Copies the fault filter's counters for frames a -> b (a_to_b true) or
 * b -> a.  Valid while both stacks exist. */
void rn_sim_cable_faults(const struct rn_sim_cable *cable, bool a_to_b,
                         struct rn_fault_counters *out);

/* Returns the interface of end a (a_end true) or end b. */
struct rn_iface *rn_sim_cable_iface(const struct rn_sim_cable *cable, bool a_end);

/* ---- Running ------------------------------------------------------------ */

/* Returns virtual now. */
rn_time_t rn_sim_now(const struct rn_sim *sim);

/* Runs until virtual time t (>= now): repeatedly moves now to the earliest
 * deadline of any stack not after t and polls every stack, then moves now
 * to t and polls once more.  Returns 0, or RN_EBUSY if the run livelocked
 * (too many polls without time advancing, or more events than the limit
 * for one call), which is reported with the time and the stacks'
 * deadlines; now is then left where it stopped. */
int rn_sim_run_until(struct rn_sim *sim, rn_time_t t);

/* rn_sim_run_until(sim, rn_sim_now(sim) + dt). */
int rn_sim_run_for(struct rn_sim *sim, rn_time_t dt);

/* Runs while pred(ctx) is true, checking it before the first event and
 * after each poll, for at most limit of virtual time.  Returns 0 once pred
 * is false, RN_ETIMEDOUT if limit passed first (now = start + limit), or
 * RN_EBUSY on a livelock as above. */
int rn_sim_run_while(struct rn_sim *sim, bool (*pred)(void *ctx), void *ctx, rn_time_t limit);

/* Sets the livelock bounds: polls at one instant before a run is declared
 * livelocked (default 10000) and events per run call (default 10 000 000).
 * 0 leaves a bound unchanged. */
void rn_sim_set_limits(struct rn_sim *sim, uint32_t polls_per_instant, uint64_t events_per_run);

/* Returns the number of poll rounds (all stacks polled once) run so far. */
uint64_t rn_sim_rounds(const struct rn_sim *sim);

/* ---- The trace ---------------------------------------------------------- */

/* Writes the trace to f from now on (NULL stops); f is not closed. */
void rn_sim_trace_to_file(struct rn_sim *sim, FILE *f);

/* Appends the trace to sb from now on (NULL stops); sb stays the
 * caller's. */
void rn_sim_trace_to_strbuf(struct rn_sim *sim, struct rn_strbuf *sb);

/* Returns an FNV-1a 64-bit digest of every trace line so far (whether or
 * not a sink was set), and how many lines there were.  Two runs with equal
 * digests produced the same trace. */
uint64_t rn_sim_trace_digest(const struct rn_sim *sim, uint64_t *lines);

/* Appends a one-line summary (no newline) of the Ethernet frame of len
 * bytes at f to sb, as the trace prints it:
 *   ARP who-has 198.18.0.3 tell 198.18.0.2
 *   ARP reply 198.18.0.3 is-at 02:52:4e:00:01:02
 *   ARP announce 198.18.0.2
 *   ICMP echo 198.18.0.2 > 198.18.0.3 id 1 seq 5 len 84
 *   ICMP echo-reply ... | ICMP unreach-port ... | ICMP time-exceeded-reass ...
 *   UDP 198.18.0.2:1024 > 198.18.0.3:7 len 100
 *   TCP 198.18.0.2:1024 > 198.18.0.3:80 [S] seq 1 ack 0 win 65535 len 0
 *   IPv4 198.18.0.2 > 198.18.0.3 frag id 7 off 1480 len 1480 MF
 * A first fragment is summarised by its transport header followed by
 * " frag id N off 0 len L MF".  A frame the parsers reject reads
 * "<proto> bad (<drop reason>)", e.g. "IPv4 bad (bad_ip_csum)". */
void rn_sim_frame_summary(const uint8_t *f, size_t len, struct rn_strbuf *sb);

#endif /* REFNET_SIM_H */
