/*
 * The simulator (sim.h): stacks joined by simulated cables in one process,
 * driven in virtual time by one deterministic loop.
 *
 * The loop, per event:
 *   now = min over stacks of rn_stack_next_deadline()  (never backwards)
 *   rn_stack_poll(stack, now) for every stack, in the order they were added
 * Cable frames, fault-filter holds, ARP and reassembly timers and posted
 * work all surface as stack deadlines, so this is the whole scheduler.  A
 * run that keeps polling at one instant, or exceeds its event budget, is
 * stopped and reported as a livelock instead of hanging the test.
 *
 * Determinism: the virtual clock is the process clock; stack seeds, fault
 * seeds, interface names and MACs are derived from the sim's seed and the
 * order of calls; stacks and cables live in arrays walked in creation
 * order.  No pointer value ever decides anything.
 *
 * A cable end, top to bottom (see sim_trace.c):
 *   stack iface -> [capture] -> trace -> fault (this end's tx) -> cable end
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_priv.h"
#include "net/net.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/report.h"
#include "refnet/snapshot.h"
#include "refnet/stack.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "wire/ipv4.h"

#define SIM_DEFAULT_LATENCY RN_MSEC(1)
#define SIM_DEFAULT_SPIN 10000u
#define SIM_DEFAULT_EVENTS 10000000ull

/* Only one sim at a time: it owns the process clock. */
static atomic_bool sim_exists;

/* ---- Seeds ------------------------------------------------------------------ */

/* splitmix64's finaliser: a bijective mix of x. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
    return h;
}

/* ---- The virtual clock ---------------------------------------------------- */

static rn_time_t sim_clock(void *ctx)
{
    const struct rn_sim *sim = ctx;

    return atomic_load_explicit(&sim->sim_now, memory_order_acquire);
}

rn_time_t rn_sim_now(const struct rn_sim *sim)
{
    return atomic_load_explicit(&sim->sim_now, memory_order_acquire);
}

static void sim_set_now(struct rn_sim *sim, rn_time_t t)
{
    atomic_store_explicit(&sim->sim_now, t, memory_order_release);
}

static void sim_seterr(struct rn_sim *sim, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sim_seterr(struct rn_sim *sim, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sim->sim_err, sizeof(sim->sim_err), fmt, ap);
    va_end(ap);
}

const char *rn_sim_error(const struct rn_sim *sim)
{
    return sim->sim_err;
}

/* ---- Creating and destroying ----------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Records the ids of the objects alive now, so that destroy can tell the
 * sim's leftovers from objects that were there before it. */
static int sim_note_objects(struct rn_sim *sim)
{
    struct rn_snapshot *s;
    uint32_t i;

    rn_ob_drain();
    s = rn_ob_snapshot();
    if (s == NULL)
        return RN_ENOMEM;
    if (s->s_nobjects > 0) {
        sim->sim_ids_before = calloc(s->s_nobjects, sizeof(uint64_t));
        if (sim->sim_ids_before == NULL) {
            rn_snapshot_free(s);
            return RN_ENOMEM;
        }
        for (i = 0; i < s->s_nobjects; i++)
            sim->sim_ids_before[i] = s->s_objects[i].so_id;
        sim->sim_nids_before = s->s_nobjects;
        qsort(sim->sim_ids_before, sim->sim_nids_before, sizeof(uint64_t), cmp_u64);
    }
    rn_snapshot_free(s);
    return 0;
}

int rn_sim_create(uint64_t seed, struct rn_sim **out)
{
    struct rn_sim *sim;
    bool expected = false;
    int err;

    assert(out != NULL);
    if (!atomic_compare_exchange_strong(&sim_exists, &expected, true))
        return RN_EBUSY;
    sim = calloc(1, sizeof(*sim));
    if (sim == NULL) {
        atomic_store(&sim_exists, false);
        return RN_ENOMEM;
    }
    sim->sim_seed = seed;
    sim->sim_spin_max = SIM_DEFAULT_SPIN;
    sim->sim_events_max = SIM_DEFAULT_EVENTS;
    sim->sim_trace.tr_digest = 0xcbf29ce484222325ull;
    rn_strbuf_init(&sim->sim_trace.tr_line);
    atomic_init(&sim->sim_now, RN_SIM_EPOCH);
    err = sim_note_objects(sim);
    if (err < 0) {
        free(sim);
        atomic_store(&sim_exists, false);
        return err;
    }
    rn_clock_set_source(sim_clock, sim);
    *out = sim;
    return 0;
}

static bool id_was_alive(const struct rn_sim *sim, uint64_t id)
{
    return sim->sim_nids_before > 0 &&
           bsearch(&id, sim->sim_ids_before, sim->sim_nids_before, sizeof(uint64_t),
                   cmp_u64) != NULL;
}

/* Reports objects created during the sim that are still alive.  Returns
 * how many. */
static uint32_t sim_report_objects(struct rn_sim *sim)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct rn_snapshot *s;
    uint32_t i, n = 0;

    rn_ob_drain();
    s = rn_ob_snapshot();
    if (s == NULL)
        return 0;
    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *o = &s->s_objects[i];

        if (id_was_alive(sim, o->so_id))
            continue;
        if (n++ == 0)
            rn_strbuf_printf(&sb, "sim (seed %" PRIu64 "): objects still alive after every "
                                  "stack was destroyed:\n",
                             sim->sim_seed);
        rn_diag_render_object(s, o, 2, &sb);
    }
    if (n > 0)
        rn_report_text(RN_REPORT_LEAK, rn_strbuf_str(&sb));
    rn_strbuf_free(&sb);
    rn_snapshot_free(s);
    return n;
}

int rn_sim_destroy(struct rn_sim *sim)
{
    unsigned i;
    int ret = 0;

    if (sim == NULL)
        return 0;
    /* Newest first: a stack's teardown may still hand frames to its
     * cables' other ends, which then still exist. */
    for (i = sim->sim_nstacks; i-- > 0;) {
        struct sim_stack *ss = &sim->sim_stacks[i];

        if (ss->ss_stack != NULL && rn_stack_destroy(ss->ss_stack) < 0) {
            rn_report(RN_REPORT_LEAK, "sim: stack %s still held buffers when destroyed\n",
                      ss->ss_name);
            ret = RN_EBUSY;
        }
        ss->ss_stack = NULL;
    }
    if (sim_report_objects(sim) > 0)
        ret = RN_EBUSY;
    rn_clock_set_source(NULL, NULL);
    for (i = 0; i < sim->sim_ncables; i++)
        free(sim->sim_cables[i]);
    free(sim->sim_cables);
    free(sim->sim_stacks);
    free(sim->sim_ids_before);
    rn__sim_trace_fini(&sim->sim_trace);
    free(sim);
    atomic_store(&sim_exists, false);
    return ret;
}

/* ---- Stacks ------------------------------------------------------------------ */

static struct sim_stack *sim_find_stack(struct rn_sim *sim, const struct rn_stack *st)
{
    unsigned i;

    for (i = 0; i < sim->sim_nstacks; i++) {
        if (sim->sim_stacks[i].ss_stack == st)
            return &sim->sim_stacks[i];
    }
    return NULL;
}

/* Sets up the transports (UDP, TCP) and the socket layer on a new stack. */
static int sim_init_transports(struct rn_stack *st)
{
    return rn_sock_layer_init(st);
}

int rn_sim_add_stack_params(struct rn_sim *sim, const char *name,
                            const struct rn_stack_params *params, struct rn_stack **out)
{
    struct rn_stack_params sp = {0};
    struct sim_stack *ss;
    struct rn_stack *st;
    unsigned i;
    int err;

    assert(sim != NULL && out != NULL);
    if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof(ss->ss_name)) {
        sim_seterr(sim, "stack name must be 1 to %zu characters", sizeof(ss->ss_name) - 1);
        return RN_EINVAL;
    }
    for (i = 0; i < sim->sim_nstacks; i++) {
        if (!strcmp(sim->sim_stacks[i].ss_name, name)) {
            sim_seterr(sim, "a stack named '%s' exists already", name);
            return RN_EEXIST;
        }
    }
    if (sim->sim_nstacks == sim->sim_stacks_cap) {
        unsigned cap = sim->sim_stacks_cap ? sim->sim_stacks_cap * 2 : 4;
        struct sim_stack *v = realloc(sim->sim_stacks, cap * sizeof(*v));

        if (v == NULL)
            return RN_ENOMEM;
        sim->sim_stacks = v;
        sim->sim_stacks_cap = cap;
    }
    if (params != NULL)
        sp = *params;
    sp.sp_name = name;
    sp.sp_seed = mix64(sim->sim_seed ^ mix64(name_hash(name)));
    err = rn_stack_create(&sp, &st);
    if (err < 0) {
        sim_seterr(sim, "cannot create stack '%s': %s", name, rn_strerror(err));
        return err;
    }
    /* Stacks start at the sim's now, not at 0. */
    rn_stack_poll(st, rn_sim_now(sim));
    err = sim_init_transports(st);
    if (err < 0) {
        rn_stack_destroy(st);
        sim_seterr(sim, "cannot start the transports of '%s': %s", name, rn_strerror(err));
        return err;
    }
    ss = &sim->sim_stacks[sim->sim_nstacks];
    memset(ss, 0, sizeof(*ss));
    ss->ss_stack = st;
    snprintf(ss->ss_name, sizeof(ss->ss_name), "%s", name);
    ss->ss_index = ++sim->sim_nstacks;
    *out = st;
    return 0;
}

int rn_sim_add_stack(struct rn_sim *sim, const char *name, struct rn_stack **out)
{
    return rn_sim_add_stack_params(sim, name, NULL, out);
}

/* ---- Cables ------------------------------------------------------------------ */

const char *rn_sim_cable_name(const struct rn_sim_cable *cable)
{
    return cable->sc_name;
}

void rn_sim_cable_faults(const struct rn_sim_cable *cable, bool a_to_b,
                         struct rn_fault_counters *out)
{
    rn_link_fault_counters(cable->sc_fault[a_to_b ? 0 : 1], RN_FAULT_TX, out);
}

struct rn_iface *rn_sim_cable_iface(const struct rn_sim_cable *cable, bool a_end)
{
    return cable->sc_iface[a_end ? 0 : 1];
}

/* Builds one end's filter chain on the cable end `end`: fault (faulting
 * this end's transmissions), trace, and a capture if asked.  On success
 * *top owns the chain; on failure end is closed. */
static int sim_end_chain(struct rn_sim *sim, struct rn_sim_cable *c, int which,
                         struct rn_link *end, const struct rn_fault_params *fp,
                         const char *pcap, struct rn_link **top)
{
    char label[40], errbuf[RN_LINK_ERRLEN];
    struct rn_link *fault, *trace, *cap;
    int err;

    err = rn_link_fault_open(end, fp, &fault);
    if (err < 0) {
        rn_link_close(end);
        sim_seterr(sim, "cable %s: cannot open the fault filter: %s", c->sc_name,
                   rn_strerror(err));
        return err;
    }
    c->sc_fault[which] = fault;
    snprintf(label, sizeof(label), "%s.%c", c->sc_name, which == 0 ? 'a' : 'b');
    err = rn__sim_trace_open(sim, fault, label, &trace);
    if (err < 0) {
        rn_link_close(fault);
        sim_seterr(sim, "cable %s: out of memory", c->sc_name);
        return err;
    }
    if (pcap != NULL) {
        err = rn_link_capture_open(trace, &(struct rn_link_capture_params){.cp_path = pcap},
                                   &cap, errbuf);
        if (err < 0) {
            rn_link_close(trace);
            sim_seterr(sim, "%s", errbuf);
            return err;
        }
        trace = cap;
    }
    *top = trace;
    return 0;
}

/* Parses one direction's fault spec and reseeds it for this sim, cable and
 * direction. */
static int sim_fault_params(struct rn_sim *sim, const char *cable, unsigned index, int dir,
                            const char *spec, struct rn_fault_params *fp)
{
    char errbuf[200];

    if (rn_fault_parse(spec != NULL ? spec : "", fp, errbuf, sizeof(errbuf)) < 0) {
        sim_seterr(sim, "cable %s, %s fault spec: %s", cable, dir == 0 ? "a->b" : "b->a", errbuf);
        return RN_EINVAL;
    }
    fp->fp_seed = mix64(mix64(sim->sim_seed ^ 0x5eed0fa17ull) ^ (uint64_t)index << 1 ^
                        (uint64_t)dir) ^
                  mix64(fp->fp_seed);
    fp->fp_dir = RN_FAULT_TX;
    return 0;
}

static int sim_parse_addr(struct rn_sim *sim, const char *s, uint32_t *addr, uint8_t *plen)
{
    const char *why = "no address";
    unsigned p;

    if (s == NULL || rn_ip4_cidr_parse(s, addr, &p, &why) < 0) {
        sim_seterr(sim, "bad address '%s': %s (want address/prefix, e.g. 198.18.0.2/15)",
                   s ? s : "", why);
        return RN_EINVAL;
    }
    *plen = (uint8_t)p;
    return 0;
}

int rn_sim_connect(struct rn_sim *sim, struct rn_stack *a, const char *addr_a,
                   struct rn_stack *b, const char *addr_b,
                   const struct rn_sim_link_params *params, struct rn_sim_cable **out)
{
    static const struct rn_sim_link_params defaults;
    const struct rn_sim_link_params *lp = params != NULL ? params : &defaults;
    struct sim_stack *ss[2] = {sim_find_stack(sim, a), sim_find_stack(sim, b)};
    struct rn_fault_params fp[2];
    struct rn_sim_cable_params cp = {0};
    struct rn_link *end[2], *top[2] = {NULL, NULL};
    struct rn_sim_cable *c;
    uint32_t addr[2];
    uint8_t plen[2];
    int err, i;

    assert(sim != NULL && a != NULL && b != NULL);
    if (ss[0] == NULL || ss[1] == NULL || a == b) {
        sim_seterr(sim, "connect needs two different stacks of this sim");
        return RN_EINVAL;
    }
    if (sim->sim_ncables == sim->sim_cables_cap) {
        unsigned cap = sim->sim_cables_cap ? sim->sim_cables_cap * 2 : 4;
        struct rn_sim_cable **v = realloc(sim->sim_cables, cap * sizeof(*v));

        if (v == NULL)
            return RN_ENOMEM;
        sim->sim_cables = v;
        sim->sim_cables_cap = cap;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return RN_ENOMEM;
    c->sc_index = sim->sim_ncables + 1;
    if (lp->sl_name != NULL)
        snprintf(c->sc_name, sizeof(c->sc_name), "%s", lp->sl_name);
    else
        snprintf(c->sc_name, sizeof(c->sc_name), "c%u", c->sc_index);
    c->sc_stack[0] = a;
    c->sc_stack[1] = b;
    if ((err = sim_parse_addr(sim, addr_a, &addr[0], &plen[0])) < 0 ||
        (err = sim_parse_addr(sim, addr_b, &addr[1], &plen[1])) < 0 ||
        (err = sim_fault_params(sim, c->sc_name, c->sc_index, 0, lp->sl_fault_ab, &fp[0])) < 0 ||
        (err = sim_fault_params(sim, c->sc_name, c->sc_index, 1, lp->sl_fault_ba, &fp[1])) < 0)
        goto out_free;

    cp.sc_latency = lp->sl_latency ? lp->sl_latency : SIM_DEFAULT_LATENCY;
    cp.sc_rate_bps = lp->sl_rate_bps;
    cp.sc_limit = lp->sl_limit;
    cp.sc_mtu = lp->sl_mtu;
    cp.sc_pool_a = rn_stack_pool(a);
    cp.sc_pool_b = rn_stack_pool(b);
    cp.sc_name = c->sc_name;
    for (i = 0; i < 2; i++) {
        /* 02:52:4e ("RN"), then the cable's number and the end. */
        uint8_t *mac = i == 0 ? cp.sc_hwaddr_a : cp.sc_hwaddr_b;

        mac[0] = 0x02;
        mac[1] = 0x52;
        mac[2] = 0x4e;
        mac[3] = (uint8_t)(c->sc_index >> 8);
        mac[4] = (uint8_t)c->sc_index;
        mac[5] = (uint8_t)(i + 1);
    }
    err = rn_sim_cable_new(&cp, &end[0], &end[1]);
    if (err < 0) {
        sim_seterr(sim, "cable %s: %s", c->sc_name, rn_strerror(err));
        goto out_free;
    }
    err = sim_end_chain(sim, c, 0, end[0], &fp[0], lp->sl_pcap_a, &top[0]);
    if (err < 0) {
        rn_link_close(end[1]);
        goto out_free;
    }
    err = sim_end_chain(sim, c, 1, end[1], &fp[1], lp->sl_pcap_b, &top[1]);
    if (err < 0) {
        rn_link_close(top[0]);
        goto out_free;
    }
    for (i = 0; i < 2; i++) {
        struct rn_iface_params ip = {0};
        char ifname[16];

        snprintf(ifname, sizeof(ifname), "sim%u", ss[i]->ss_nifaces);
        ip.ifp_name = ifname;
        ip.ifp_link = top[i];
        ip.ifp_addr = addr[i];
        ip.ifp_plen = plen[i];
        ip.ifp_mtu = lp->sl_mtu;
        ip.ifp_no_garp = lp->sl_no_garp;
        top[i] = NULL;
        /* The interface owns the chain from here, on failure too. */
        err = rn_stack_add_iface(c->sc_stack[i], &ip, &c->sc_iface[i]);
        if (err < 0) {
            if (i == 0)
                rn_link_close(top[1]);
            sim_seterr(sim, "cable %s: cannot add interface %s to stack %s: %s", c->sc_name,
                       ifname, ss[i]->ss_name, rn_strerror(err));
            goto out_free;
        }
        ss[i]->ss_nifaces++;
    }
    sim->sim_cables[sim->sim_ncables++] = c;
    if (out != NULL)
        *out = c;
    return 0;

out_free:
    free(c);
    return err;
}

/* ---- Running ------------------------------------------------------------------- */

void rn_sim_set_limits(struct rn_sim *sim, uint32_t polls_per_instant, uint64_t events_per_run)
{
    if (polls_per_instant != 0)
        sim->sim_spin_max = polls_per_instant;
    if (events_per_run != 0)
        sim->sim_events_max = events_per_run;
}

uint64_t rn_sim_rounds(const struct rn_sim *sim)
{
    return sim->sim_rounds;
}

/* Earliest deadline of any stack, or 0 for none. */
static rn_time_t sim_deadline(struct rn_sim *sim)
{
    rn_time_t next = 0;
    unsigned i;

    for (i = 0; i < sim->sim_nstacks; i++) {
        rn_time_t d;

        if (sim->sim_stacks[i].ss_stack == NULL)
            continue;
        d = rn_stack_next_deadline(sim->sim_stacks[i].ss_stack);
        if (d != 0 && (next == 0 || d < next))
            next = d;
    }
    return next;
}

/* Polls every stack once at now. */
static void sim_poll(struct rn_sim *sim, rn_time_t now)
{
    unsigned i;

    sim_set_now(sim, now);
    for (i = 0; i < sim->sim_nstacks; i++) {
        if (sim->sim_stacks[i].ss_stack != NULL)
            rn_stack_poll(sim->sim_stacks[i].ss_stack, now);
    }
    sim->sim_rounds++;
}

static int sim_livelock(struct rn_sim *sim, const char *why, uint64_t count)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;
    rn_time_t now = rn_sim_now(sim);
    unsigned i;

    rn_strbuf_printf(&sb, "sim (seed %" PRIu64 "): livelock at %llu.%09llu: %" PRIu64 " %s;",
                     sim->sim_seed, (unsigned long long)(now / RN_NSEC_PER_SEC),
                     (unsigned long long)(now % RN_NSEC_PER_SEC), count, why);
    for (i = 0; i < sim->sim_nstacks; i++) {
        struct rn_stack *st = sim->sim_stacks[i].ss_stack;
        rn_time_t d;

        if (st == NULL)
            continue;
        d = rn_stack_next_deadline(st);
        rn_strbuf_printf(&sb, " %s next %llu.%09llu%s", sim->sim_stacks[i].ss_name,
                         (unsigned long long)(d / RN_NSEC_PER_SEC),
                         (unsigned long long)(d % RN_NSEC_PER_SEC),
                         rn_stack_has_work(st) ? " (posted work)" : "");
    }
    rn_strbuf_puts(&sb, "\n");
    snprintf(sim->sim_err, sizeof(sim->sim_err), "%s", rn_strbuf_str(&sb));
    rn_report_text(RN_REPORT_INFO, rn_strbuf_str(&sb));
    rn_strbuf_free(&sb);
    return RN_EBUSY;
}

/* Runs events due at or before limit, one poll round each, until none is
 * left (returns 0) or pred(ctx) turns false (returns 1).  Returns RN_EBUSY
 * on a livelock. */
static int sim_run(struct rn_sim *sim, rn_time_t limit, bool (*pred)(void *ctx), void *ctx)
{
    rn_time_t now = rn_sim_now(sim);
    uint64_t events = 0;
    uint32_t spin = 0;

    for (;;) {
        rn_time_t d;

        if (pred != NULL && !pred(ctx))
            return 1;
        d = sim_deadline(sim);
        if (d == 0 || d > limit)
            return 0;
        if (d > now) {
            now = d;
            spin = 0;
        } else if (++spin >= sim->sim_spin_max) {
            return sim_livelock(sim, "polls without time advancing", spin);
        }
        if (++events > sim->sim_events_max)
            return sim_livelock(sim, "events in one run call", events - 1);
        sim_poll(sim, now);
    }
}

int rn_sim_run_until(struct rn_sim *sim, rn_time_t t)
{
    int err;

    assert(sim != NULL);
    if (t < rn_sim_now(sim))
        t = rn_sim_now(sim);
    err = sim_run(sim, t, NULL, NULL);
    if (err < 0)
        return err;
    sim_poll(sim, t);
    return 0;
}

int rn_sim_run_for(struct rn_sim *sim, rn_time_t dt)
{
    return rn_sim_run_until(sim, rn_sim_now(sim) + dt);
}

int rn_sim_run_while(struct rn_sim *sim, bool (*pred)(void *ctx), void *ctx, rn_time_t limit)
{
    rn_time_t end = rn_sim_now(sim) + limit;
    int err;

    assert(sim != NULL && pred != NULL);
    err = sim_run(sim, end, pred, ctx);
    if (err < 0)
        return err;
    if (err == 1)
        return 0;
    sim_poll(sim, end);
    return pred(ctx) ? RN_ETIMEDOUT : 0;
}
