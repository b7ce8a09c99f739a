/*
 * The unit tests' support library (tests/support/, built once as
 * librefnet-test-support.a and linked into every unit test).  A test
 * includes this header and nothing else of the harness:
 *
 *   - checks: TEST_CHECK for any thread, the leak checks every test ends
 *     with (the object ledger and the buffer pools back to zero);
 *   - capture: a report sink that keeps what it is told, for tests that
 *     expect a report (and must not print it);
 *   - the manual clock, for virtual time;
 *   - the simulated pair: two stacks over a simulated cable, in virtual or
 *     real time, with the layers, filters, faults and processes a test asks
 *     for in struct pair_params;
 *   - object look-ups: a live object by type and description, counts of
 *     objects, holds by tag and ledger lines, waits in a snapshot;
 *   - socket requests whose completions are recorded, and bound sockets;
 *   - the wire: every segment and datagram crossing a's end of the cable,
 *     decoded, and a predicate that loses the ones a test names.
 *
 * The failing allocator is failalloc.h beside this header: it defines the
 * allocator's wrappers, so only a program linked with them includes it.
 *
 * Unless said otherwise, these run on the test's own thread, and a
 * function that "fails the test" does so with cmocka (the test stops
 * there, and the run reports it).  Addresses are in 198.18.0.0/15.
 */
#ifndef REFNET_TEST_SUPPORT_H
#define REFNET_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "refnet/clock.h"
#include "refnet/object.h"
#include "refnet/report.h"
#include "refnet/socket.h"
#include "refnet/stack.h"

/* ---- Checks ------------------------------------------------------------- */

/* An assertion usable on any thread (cmocka's may only fail on the test's
 * own thread): prints the condition and aborts the program. */
#define TEST_CHECK(cond)                                                        \
    do {                                                                        \
        if (!(cond))                                                            \
            test_check_failed(#cond, __FILE__, __LINE__);                       \
    } while (0)
void test_check_failed(const char *cond, const char *file, int line)
    __attribute__((noreturn));

/* Drains released objects and fails the test unless exactly `expected`
 * objects of all types are still alive; before failing, lists those alive
 * with their ledgers on stderr. */
void check_live_objects(uint64_t expected);

/* Buffers of pool held by anyone (every owner together). */
uint32_t pool_outstanding_of(struct rn_nbpool *pool);
/* Buffers outstanding in a stack's pool. */
uint32_t pool_outstanding(struct rn_stack *st);
/* Fails the test unless pool has no buffer outstanding. */
void check_pool_empty(struct rn_nbpool *pool);

/* ---- Captured reports ------------------------------------------------------ */

/* Starts capturing reports (and stops printing them) until capture_end().
 * Reports from any thread are kept. */
void capture_begin(void);
/* Stops capturing; the captured text stays readable until the next begin. */
void capture_end(void);
/* All captured text, reports separated by nothing (each ends in '\n'). */
const char *capture_text(void);
/* Reports of kind captured so far. */
unsigned capture_count(enum rn_report_kind kind);
/* Reports of every kind captured so far. */
unsigned capture_total(void);
/* True if the captured text contains needle. */
bool capture_has(const char *needle);

/* ---- The manual clock ------------------------------------------------------ */

/* A manual clock for the whole process: installed at start_ns by
 * clock_manual_install(), moved only by clock_manual_advance() (from any
 * thread), and the OS clock back after clock_manual_uninstall(). */
void clock_manual_install(uint64_t start_ns);
void clock_manual_advance(uint64_t ns);
void clock_manual_uninstall(void);

/* ---- The simulated pair ------------------------------------------------- */

#define ADDR_A 0xc6120002u  /* 198.18.0.2, stack a's interface */
#define ADDR_B 0xc6120003u  /* 198.18.0.3, stack b's interface */
/* With pp_ipv6: the IPv6 addresses of a and b (pair_params). */
#define ADDR6_A "2001:2::2"
#define ADDR6_B "2001:2::3"

/* What runs above IP on both stacks. */
enum pair_layers {
    PAIR_SOCKETS = 0,  /* UDP, TCP and sockets (rn_sock_layer_init()) */
    PAIR_NET,          /* nothing: the network layer alone */
    PAIR_TCP,          /* TCP alone, with its default parameters */
};

/* How a pair is built.  All zero is the common pair: sockets on both
 * stacks, seed 7, a 1,500-byte cable of 1 ms latency, virtual time. */
struct pair_params {
    uint32_t pp_mtu;              /* the cable's MTU; 0: 1500 */
    bool pp_realtime;             /* real time: the OS clock, and the test
                                     thread polls both stacks; else virtual
                                     time on the manual clock */
    uint64_t pp_seed;             /* both stacks' seed; 0: 7 */
    enum pair_layers pp_layers;   /* what runs above IP */
    bool pp_filter;               /* the filtering platform on both stacks */
    bool pp_procs;                /* a process on each stack: P.pa "client"
                                     on a, P.pb "server" on b; pair_down()
                                     exits them */
    uint32_t pp_limit;            /* frames in flight each way; 0: the
                                     cable's default */
    const char *pp_fault_ab;      /* a fault filter (rn_fault_parse() spec)
                                     on a's transmit side; NULL: none */
    const char *pp_fault_ba;      /* the same on b's transmit side */
    bool pp_offloads;             /* the cable offers checksum offload and
                                     TSO, as a TAP does */
    bool pp_ipv6;                 /* IPv6 too: a ADDR6_A, b ADDR6_B (/64),
                                     preferred once pair_up_with() returns
                                     (duplicate address detection run) */
    /* If set, called with the top of a's end (its fault filter, if any)
     * before the interface takes it: returns the link to give the
     * interface instead, a filter of the test's own stacked on it. */
    struct rn_link *(*pp_wrap_a)(struct rn_link *end);
};

/* The pair.  [I] after pair_up(), but now, which the run functions move. */
struct pair {
    struct rn_stack *a;     /* stack a, 198.18.0.2 */
    struct rn_stack *b;     /* stack b, 198.18.0.3 */
    struct rn_iface *ifa;   /* a's interface on the cable (borrowed) */
    struct rn_iface *ifb;   /* b's interface on the cable (borrowed) */
    struct rn_proc *pa;     /* with pp_procs: a process on a, else NULL */
    struct rn_proc *pb;     /* with pp_procs: a process on b, else NULL */
    rn_time_t now;          /* the time of the last poll */
    bool realtime;          /* built with pp_realtime */
    int wake_fd;            /* real time: an eventfd written when work is
                               posted to either stack; else -1 */
};

/* The one pair of the test program. */
extern struct pair P;

/* Sets up the common pair with the given MTU, in real or virtual time:
 * pair_up_with() with only those two parameters. */
void pair_up(uint32_t mtu, bool realtime);
/* Sets up the pair as pp says.  Virtual time installs the manual clock at
 * 1 s; real time leaves the OS clock.  Fails the test if any step fails. */
void pair_up_with(const struct pair_params *pp);
/* The lower-level entry, for tests that make steps fail: builds the pair's
 * stacks, layers, cable and interfaces as pp says (no clock, no
 * processes), into a P the caller zeroed, and asserts nothing.  Returns 0,
 * or the first error, with what was built left in P for pair_down(). */
int pair_build(const struct pair_params *pp);
/* Tears the pair down: exits its processes (and lets their closes run for
 * 10 ms), destroys the stacks that were built, puts the clock back, and
 * fails the test unless each destroy found nothing held (objects and
 * buffers) and no object at all is left alive. */
void pair_down(void);

/* Virtual time: runs both stacks, from deadline to deadline, until
 * `until`.  Fails the test after 50 million steps (a livelock). */
void run_until(rn_time_t until);
/* Virtual time: run_until(P.now + d). */
void run_for(rn_time_t d);
/* Runs both stacks (either mode) until cond(ctx) holds or limit of the
 * mode's time has passed; returns whether cond held.  In real time each
 * step sleeps at most 2 ms, woken early by work posted to a stack; in
 * virtual time it fails the test after 50 million steps, as run_until(). */
bool run_while_not(bool (*cond)(void *ctx), void *ctx, rn_time_t limit);
/* One poll of both stacks at P.now; in real time P.now is read from the
 * OS clock first, in virtual time it does not move. */
void poll_both(void);

/* ---- Objects --------------------------------------------------------------- */

/* Live objects of the type named name; fails the test if no such type is
 * registered (a count of a misspelt type would pass as 0). */
uint64_t count_type(const char *name);
/* Live objects of type whose description contains needle (any, if NULL);
 * 0 if no such type is registered. */
unsigned count_objects(const char *type, const char *needle);
/* Live objects of type whose description begins with prefix. */
unsigned count_objects_prefixed(const char *type, const char *prefix);
/* The first live object of type whose description contains needle, with a
 * "lookup" reference the caller drops; NULL if none. */
void *find_object(const char *type, const char *needle);
/* ob's count under tag in its ledger, 0 if it has no line; fails the test
 * unless the ledger's lines add up to the reference count. */
uint32_t ledger_count(void *ob, rn_tag_t tag);
/* References held under the tag named tag, summed over every object not
 * yet released (a snapshot's view). */
uint64_t tag_holds(const char *tag);
/* Objects not yet released whose ledger has a line for tag. */
unsigned objects_held_by(const char *tag);
/* True if a snapshot holds a wait "what" by waiter (an object id) for an
 * object matching waited (an id; 0: any) and waited_type (NULL: any). */
bool has_wait_on(uint64_t waiter, uint64_t waited, const char *waited_type,
                 const char *what);
/* has_wait_on(waiter, 0, NULL, what). */
bool has_wait(uint64_t waiter, const char *what);
/* Renders every waiting chain of a fresh snapshot (threshold 0) into a malloc'd
 * string the caller frees. */
char *render_live_chains(void);

/* ---- Socket requests --------------------------------------------------------- */

/* Completions of requests, in order. */
struct rec {
    unsigned n;                           /* completions recorded */
    struct rn_sock_completion c[64];      /* n <= 64 */
};
/* A completion callback for rn_sock_submit(): appends the completion to the
 * struct rec that is the request's sq_user (fails the test if it is
 * full). */
void rec_fn(struct rn_proc *p, const struct rn_sock_completion *c);
/* Submits a request whose completion is appended to r (fails the test if
 * the submit fails or r is full). */
void submit(struct rn_proc *p, int op, int h, void *buf, size_t len,
            const struct rn_sockaddr_in *to, struct rec *r);
/* submit() with request flags. */
void submit_flags(struct rn_proc *p, int op, int h, void *buf, size_t len,
                  const struct rn_sockaddr_in *to, uint32_t flags, struct rec *r);
/* The last completion of op in r, or NULL. */
const struct rn_sock_completion *last_of(const struct rec *r, int op);

/* A UDP socket of p bound to addr:port (0: any); fails the test on error. */
int udp_bound_to(struct rn_proc *p, uint32_t addr, uint16_t port);
/* A UDP socket of p bound to port on any address. */
int udp_bound(struct rn_proc *p, uint16_t port);
/* A TCP socket of p bound to port on any address and listening (backlog
 * 8); *err is listen's result. */
int tcp_listening(struct rn_proc *p, uint16_t port, int *err);
/* Connects pa's stream socket hc to ADDR_B:port, where pb's socket hl
 * listens, and accepts, running the pair until both complete (5 s at
 * most).  Returns the accepted handle; fails the test if either fails. */
int tcp_connect_accept(struct rn_proc *pa, int hc, struct rn_proc *pb, int hl, uint16_t port);

/* ---- The wire ------------------------------------------------------------------ */

/* An IPv4 TCP segment or UDP datagram seen on the cable at stack a's end,
 * decoded (tests/support/wire.c).  Install the recorder with the pair's
 * pp_wrap_a = wire_wrap; pair_down() removes it. */
struct wire_seg {
    rn_time_t ws_time;     /* when it crossed (the stacks' clock) */
    bool ws_from_a;        /* sent by a; else sent by b, received by a */
    bool ws_dropped;       /* the drop predicate took it off the wire */
    uint8_t ws_proto;      /* 6 TCP, 17 UDP */
    uint8_t ws_tos;        /* IP header: TOS octet */
    uint8_t ws_ttl;        /* IP header: TTL */
    uint32_t ws_src, ws_dst;
    uint16_t ws_sport, ws_dport;
    uint32_t ws_len;       /* payload bytes */
    /* TCP only: */
    uint8_t ws_flags;      /* RN_TCP_* bits */
    uint32_t ws_seq, ws_ack;
    uint16_t ws_win;       /* the window field, unscaled */
    uint16_t ws_mss;       /* MSS option, 0 if absent */
    int ws_wscale;         /* window scale option, -1 if absent */
    bool ws_sack_ok;       /* SACK-permitted option */
    bool ws_ts;            /* timestamp option */
    unsigned ws_nsacks;    /* SACK blocks */
    uint8_t ws_data[8];    /* the first payload bytes (fewer if ws_len is) */
};

/* Wraps a's end of the cable in the recorder (struct pair_params'
 * pp_wrap_a). */
struct rn_link *wire_wrap(struct rn_link *end);
/* Decides which frames the wire loses: fn(seg, ctx) true drops it (it is
 * still recorded, ws_dropped set); NULL loses none. */
typedef bool (*wire_drop_fn)(const struct wire_seg *s, void *ctx);
void wire_drop(wire_drop_fn fn, void *ctx);
/* Frames recorded so far, and the i-th (fails the test past the end). */
unsigned wire_count(void);
const struct wire_seg *wire_at(unsigned i);
/* Forgets what was recorded. */
void wire_clear(void);
/* The first TCP segment from index from on that went from a (from_a) or
 * from b, has every bit of flags_set and none of flags_clear, and carries
 * data if data; NULL if none. */
const struct wire_seg *wire_find(unsigned from, bool from_a, uint8_t flags_set,
                                 uint8_t flags_clear, bool data);

/* ---- Namespaces (netns.c): for the tests that meet the Linux kernel -------- */

/* Runs a command line (printf format) through the shell; prints it with
 * its status if that is not 0.  Returns system()'s status. */
int sup_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A network namespace made for a test, and the test's own, to go back to. */
struct sup_netns {
    char sn_name[32];   /* PREFIX<pid>; "" once deleted, or if none was made */
    int sn_self;        /* the test's namespace, -1 if none */
    int sn_fd;          /* the made one, -1 if none */
};

/* Makes namespace PREFIX<pid>: 0, or -1 with a line on stderr. */
int sup_netns_make(struct sup_netns *ns, const char *prefix);
/* Moves the calling thread into it, and back; abort if the kernel says
 * no (carrying on would run the rest in the wrong place). */
void sup_netns_enter(const struct sup_netns *ns);
void sup_netns_leave(const struct sup_netns *ns);
/* Deletes it (and what lives only in it: TAP devices, addresses). */
void sup_netns_del(struct sup_netns *ns);

#endif /* REFNET_TEST_SUPPORT_H */
