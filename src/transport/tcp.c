/*
 * TCP: connection and listener objects, the port tables, initial sequence
 * numbers and ephemeral ports, and the calls the socket layer makes
 * (tcp.h).  The protocol itself is in tcp_input.c, tcp_output.c,
 * tcp_timer.c, tcp_timewait.c and tcp_cc_newreno.c.
 *
 * Who holds a connection:
 *   "create"          the TCP layer, until the protocol is done with it
 *   "port-table"      while segments can find it in the connection table
 *   "tcp.timer"       one while any of its timers is armed
 *   "listener"        a listener's SYN or accept queue, until accepted
 *   "socket.endpoint" the socket above it (taken by the socket layer)
 *   "callout:NAME"    a filtering platform callout: context it keeps on the
 *                     flow, or an authorisation it pended (tcp_filter.c)
 * A listener is held by "create" until closed, "port-table" while bound,
 * "tcp.conn" by each connection that has not been accepted yet, and
 * "callout:NAME" like a connection.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/once.h"
#include "base/siphash.h"
#include "refnet/error.h"
#include "refnet/heap.h"
#include "refnet/strbuf.h"
#include "transport/netstat.h"
#include "transport/tcp_priv.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

static const char *const state_names[] = {
    [TCPS_CLOSED] = "CLOSED",
    [TCPS_LISTEN] = "LISTEN",
    [TCPS_SYN_SENT] = "SYN_SENT",
    [TCPS_SYN_RECEIVED] = "SYN_RECEIVED",
    [TCPS_ESTABLISHED] = "ESTABLISHED",
    [TCPS_CLOSE_WAIT] = "CLOSE_WAIT",
    [TCPS_FIN_WAIT_1] = "FIN_WAIT_1",
    [TCPS_CLOSING] = "CLOSING",
    [TCPS_LAST_ACK] = "LAST_ACK",
    [TCPS_FIN_WAIT_2] = "FIN_WAIT_2",
    [TCPS_TIME_WAIT] = "TIME_WAIT",
};

const char *rn__tcp_state_name(enum tcp_state s)
{
    return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

/* ---- Object types ------------------------------------------------------- */

static void conn_release(void *ob)
{
    struct tcp_conn *c = ob;

    /* Buffers of pool memory were freed on the loop thread by rn__tcp_done
     * or rn__tcp_close; the ring is a page block, which any thread may
     * give back, and the settings it opened under are plain memory. */
    rn_pgblock_put(c->t_snd.sb_data, c->t_snd.sb_cap);
    c->t_snd.sb_data = NULL;
    free(c->t_sb);  /* only if rn__tcp_done never ran: not to the loop's pool */
    c->t_sb = NULL;
    rn__tcp_conf_deref(c->t_conf);
    c->t_conf = NULL;
}

/* Writes a:port as "198.18.0.2:80" or "[2001:2::2]:80" (RFC 5952 6). */
static char *ep_fmt(const struct rn_inaddr *a, uint16_t port, char *buf, size_t len)
{
    char t[RN_IP6_STRLEN];

    rn_inaddr_fmt(a, t);
    snprintf(buf, len, rn_inaddr_is_v4(a) ? "%s:%u" : "[%s]:%u", t, port);
    return buf;
}

#define EP_STRLEN (RN_IP6_STRLEN + 8)

static void conn_describe(const void *ob, char *buf, size_t len)
{
    const struct tcp_conn *c = ob;
    char l[EP_STRLEN], f[EP_STRLEN];

    if (c->t_tcp == NULL)
        return;
    snprintf(buf, len, "tcp connection %s %s %s sndq %u rcvq %u",
             ep_fmt(&c->t_laddr, c->t_lport, l, sizeof(l)),
             ep_fmt(&c->t_faddr, c->t_fport, f, sizeof(f)), rn__tcp_state_name(tcp_state(c)),
             atomic_load_explicit(&c->t_sndq_bytes, memory_order_relaxed),
             atomic_load_explicit(&c->t_rcvq_bytes, memory_order_relaxed));
}

static const struct rn_ob_type_ops conn_ops = {
    .name = "tcp connection",
    .size = sizeof(struct tcp_conn),
    .release = conn_release,
    .describe = conn_describe,
    /* Lines for five holders at once: "create", "port-table",
     * "tcp.timer", the loop passing, and "listener" that the accept hands
     * to "socket.endpoint".  A sixth at once (an accept made while the
     * loop holds the connection, an enumeration) takes a block of extra
     * lines from the pool, kept until the release: 20,000 idle echo
     * connections had 1,727 such blocks, httpd's 11, and cost less in all
     * (1,972 and 1,996 B each) than with a sixth line for everyone. */
    .holders = 5,
};

static void listener_describe(const void *ob, char *buf, size_t len)
{
    const struct tcp_listener *l = ob;
    char a[EP_STRLEN];

    if (l->l_tcp == NULL)
        return;
    snprintf(buf, len, "tcp listener %s %s synq %u acceptq %u",
             ep_fmt(&l->l_laddr, l->l_lport, a, sizeof(a)),
             rn__tcp_state_name((enum tcp_state)atomic_load_explicit(&l->l_state,
                                                                    memory_order_relaxed)),
             atomic_load_explicit(&l->l_nsyn, memory_order_relaxed),
             atomic_load_explicit(&l->l_naccept, memory_order_relaxed));
}

static const struct rn_ob_type_ops listener_ops = {
    .name = "tcp listener",
    .size = sizeof(struct tcp_listener),
    .describe = listener_describe,
};

static void tw_describe(const void *ob, char *buf, size_t len)
{
    const struct tcp_tw *tw = ob;
    char l[EP_STRLEN], f[EP_STRLEN];

    if (tw->tw_tcp == NULL)
        return;
    snprintf(buf, len, "tcp timewait %s %s TIME_WAIT", ep_fmt(&tw->tw_laddr, tw->tw_lport, l, sizeof(l)),
             ep_fmt(&tw->tw_faddr, tw->tw_fport, f, sizeof(f)));
}

static const struct rn_ob_type_ops tw_ops = {
    .name = "tcp timewait",
    .size = sizeof(struct tcp_tw),
    .describe = tw_describe,
};

/* Who holds a connection, a listener and a TIME_WAIT entry, and when
 * (object.h, "Holder contracts"; the list at the top of this file). */
static const char *const conn_conds[] = {
    "in the connection table", "retransmission timer armed", "delayed-ACK timer armed",
    "keep timer armed", "queued on a listener",
};
static const struct rn_ob_holder conn_holders[] = {
    {"create", 0, 0, 0, "expected: TCP's own, until the protocol is done with it"},
    {"port-table", TCP_COND_IN_TABLE, RN_HOLD_ONE, 0, "expected while in the connection table"},
    {"tcp.timer", TCP_COND_TIMERS, RN_HOLD_ONE, 0, "expected while a timer is armed"},
    {"listener", TCP_COND_QUEUED, RN_HOLD_ONE, 0,
     "expected: queued on its listener until accepted"},
    {"socket.endpoint", 0, RN_HOLD_DYING, 0,
     "expected: the socket endpoint's reference, dropped on its release"},
    {"callout:", 0, 0, 0, "expected while its flow lives"},
};
static const struct rn_ob_contract conn_contract = {
    conn_holders, sizeof(conn_holders) / sizeof(conn_holders[0]),
    conn_conds, sizeof(conn_conds) / sizeof(conn_conds[0]), 0,
};

static const char *const listener_conds[] = {"bound"};
static const struct rn_ob_holder listener_holders[] = {
    {"create", 0, 0, 0, "expected: TCP's own, until the listener closes"},
    {"port-table", TCP_LCOND_BOUND, RN_HOLD_ONE, 0, "expected while bound"},
    {"socket.endpoint", 0, RN_HOLD_DYING, 0,
     "expected: the socket endpoint's reference, dropped on its release"},
    {"tcp.conn", 0, 0, 0, "expected: an accept in flight (a connection in its queues)"},
    {"callout:", 0, 0, 0, "expected while its flow lives"},
};
static const struct rn_ob_contract listener_contract = {
    listener_holders, sizeof(listener_holders) / sizeof(listener_holders[0]),
    listener_conds, 1, 0,
};

static const struct rn_ob_holder tw_holders[] = {
    {"timewait", 0, 0, 0, "expected: the TIME_WAIT table's, until it expires"},
};
static const struct rn_ob_contract tw_contract = {
    tw_holders, 1, NULL, 0, 0,
};

/* The types, once any stack registered them, for rn__tcp_kind_of(): written
 * with the same values by every rn_tcp_init(). */
static _Atomic(struct rn_ob_type *) tcp_kind_types[3];

enum tcp_kind rn__tcp_kind_of(const void *ob)
{
    struct rn_ob_type *t = rn_ob_type_of(ob);

    if (t == atomic_load_explicit(&tcp_kind_types[0], memory_order_relaxed))
        return TCP_KIND_CONN;
    if (t == atomic_load_explicit(&tcp_kind_types[1], memory_order_relaxed))
        return TCP_KIND_LISTENER;
    if (t == atomic_load_explicit(&tcp_kind_types[2], memory_order_relaxed))
        return TCP_KIND_TIMEWAIT;
    return TCP_KIND_NONE;
}

/* ---- Per-stack state ---------------------------------------------------- */

/* The stack slot TCP keeps its state in, taken once by tcp_slot_take(). */
static _Atomic int tcp_slot = -1;
static struct rn_once tcp_slot_once = RN_ONCE_INIT;

static bool tcp_slot_take(void)
{
    int slot = rn_stack_slot_alloc();

    if (slot < 0)
        return false;
    atomic_store_explicit(&tcp_slot, slot, memory_order_relaxed);
    return true;
}

struct tcp_stack *rn__tcp_stack(struct rn_stack *st)
{
    int slot = atomic_load_explicit(&tcp_slot, memory_order_relaxed);

    return slot < 0 ? NULL : rn_stack_slot(st, slot);
}

static void tcp_fini(struct rn_stack *st, void *ctx);
static unsigned tcp_stats_hook(struct rn_stack *st, void *ctx, struct rn_stack_counter *out,
                               unsigned max);
static void bind_unlink(struct tcp_bind *b);

static void tcp_addr_gone(struct rn_stack *st, uint32_t addr);

int rn_tcp_init(struct rn_stack *st, const struct rn_tcp_params *params)
{
    struct rn_tcp_params defaults;
    struct tcp_stack *ts;
    uint64_t seed = rn_stack_seed(st);
    int err;

    if (params == NULL) {
        rn_tcp_params_init(&defaults);
        params = &defaults;
    }
    if (rn_tcp_params_check(params, NULL) != 0)
        return RN_EINVAL;
    if (!rn_once(&tcp_slot_once, tcp_slot_take))
        return RN_ENOSPC;
    if (rn__tcp_stack(st) != NULL)
        return RN_EEXIST;
    ts = calloc(1, sizeof(*ts));
    if (ts == NULL)
        return RN_ENOMEM;
    ts->ts_stack = st;
    ts->ts_conf = rn__tcp_conf_new(params);
    ts->ts_hash = calloc(TCP_HASH_BUCKETS, sizeof(*ts->ts_hash));
    ts->ts_hash_mask = TCP_HASH_BUCKETS - 1;
    ts->ts_port_users = calloc(65536, sizeof(*ts->ts_port_users));
    if (ts->ts_conf == NULL || ts->ts_hash == NULL || ts->ts_port_users == NULL) {
        if (ts->ts_conf != NULL)
            rn__tcp_conf_deref(ts->ts_conf);
        free(ts->ts_hash);
        free(ts->ts_port_users);
        free(ts);
        return RN_ENOMEM;
    }
    ts->ts_secret[0] = seed * 0x9e3779b97f4a7c15ull ^ 0x5443505f49534e31ull;
    ts->ts_secret[1] = (seed + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull;
    ts->ts_next_ephemeral = (uint32_t)(seed >> 11);
    ts->ts_conn_type = rn_ob_type_register(&conn_ops);
    ts->ts_listener_type = rn_ob_type_register(&listener_ops);
    ts->ts_tw_type = rn_ob_type_register(&tw_ops);
    ts->ts_tag_listener = rn_tag_intern("listener");
    ts->ts_tag_timewait = rn_tag_intern("timewait");
    ts->ts_tag_conn = rn_tag_intern("tcp.conn");
    ts->ts_own_tx = rn_nb_owner_register("tcp.tx");
    ts->ts_own_rcvq = rn_nb_owner_register("tcp.rcvq");
    ts->ts_own_ooo = rn_nb_owner_register("tcp.ooo");
    if (!ts->ts_conn_type || !ts->ts_listener_type || !ts->ts_tw_type || !ts->ts_tag_listener ||
        !ts->ts_tag_timewait || !ts->ts_tag_conn || !ts->ts_own_ooo ||
        rn_ob_type_set_contract(ts->ts_conn_type, &conn_contract) < 0 ||
        rn_ob_type_set_contract(ts->ts_listener_type, &listener_contract) < 0 ||
        rn_ob_type_set_contract(ts->ts_tw_type, &tw_contract) < 0) {
        rn__tcp_conf_deref(ts->ts_conf);
        free(ts->ts_hash);
        free(ts->ts_port_users);
        free(ts);
        return RN_ENOMEM;
    }
    atomic_store_explicit(&tcp_kind_types[0], ts->ts_conn_type, memory_order_relaxed);
    atomic_store_explicit(&tcp_kind_types[1], ts->ts_listener_type, memory_order_relaxed);
    atomic_store_explicit(&tcp_kind_types[2], ts->ts_tw_type, memory_order_relaxed);
    rn__tcp_tw_init(ts);
    /* First: the hook reads TCP through the stack's slot, so one left
     * behind by a failure below shows zeros and holds nothing. */
    err = rn_stack_add_stats(st, tcp_stats_hook, NULL);
    if (err == 0)
        err = rn__ip_register(st, RN_IPPROTO_TCP, rn__tcp_input, rn__tcp_err_input);
    if (err == 0)
        err = rn__ip6_register(st, RN_IPPROTO_TCP, rn__tcp_input6, rn__tcp_err_input);
    if (err == 0)
        err = rn__ip_on_addr_gone(st, RN_IPPROTO_TCP, tcp_addr_gone);
    if (err == 0)
        err = rn_stack_on_destroy(st, tcp_fini, ts);
    if (err < 0) {
        rn__tcp_conf_deref(ts->ts_conf);
        free(ts->ts_hash);
        free(ts->ts_port_users);
        free(ts);
        return err;
    }
    rn_stack_set_slot(st, tcp_slot, ts);
    return 0;
}

/* The interface of addr was removed: its connections end with
 * RN_ENETDOWN, without a reset (there is no way to send one). */
static void tcp_addr_gone(struct rn_stack *st, uint32_t addr)
{
    struct tcp_stack *ts = rn__tcp_stack(st);
    struct rn_inaddr gone = rn_inaddr_v4(addr);
    struct tcp_conn *c, *next;
    unsigned i;

    if (ts == NULL)
        return;
    for (i = 0; i <= ts->ts_hash_mask; i++) {
        for (c = ts->ts_hash[i]; c != NULL; c = next) {
            next = c->t_hnext;
            if (rn_inaddr_eq(&c->t_laddr, &gone))
                rn__tcp_drop(c, RN_ENETDOWN);
        }
    }
}

/* Runs every connection and listener down when the stack goes. */
static void tcp_fini(struct rn_stack *st, void *ctx)
{
    struct tcp_stack *ts = ctx;
    unsigned i;

    for (i = 0; i < TCP_LHASH_BUCKETS; i++) {
        struct tcp_bind *b, *next;

        for (b = ts->ts_lhash[i]; b != NULL; b = b->b_next) {
            if (b->b_listener != NULL)
                rn__tcp_listener_close(b->b_listener);
        }
        /* Ports of listeners still held elsewhere: stop waiting for them. */
        for (b = ts->ts_lhash[i]; b != NULL; b = next) {
            next = b->b_next;
            if (rn_ob_wait_cancel(&b->b_wait)) {
                bind_unlink(b);
                free(b);
            }
        }
    }
    /* Unbinds posted by listeners released just now. */
    rn_stack_poll(st, rn_stack_now(st));
    for (i = 0; i <= ts->ts_hash_mask; i++) {
        while (ts->ts_hash[i] != NULL) {
            struct tcp_conn *c = ts->ts_hash[i];

            if (tcp_state(c) >= TCPS_SYN_RECEIVED)
                rn__tcp_send_rst(c);
            rn__tcp_drop(c, RN_ECONNABORTED);
        }
    }
    rn__tcp_tw_flush(ts);
    rn_timer_cancel(rn_stack_timers(st), &ts->ts_tw_timer);
    rn__tcp_sack_pool_fini(ts);
    rn__tcp_ring_pool_fini(ts);
    rn_stack_set_slot(st, tcp_slot, NULL);
    rn__tcp_conf_deref(ts->ts_conf);
    free(ts->ts_hash);
    free(ts->ts_port_users);
    free(ts);
}

/* ---- Tables ------------------------------------------------------------- */

/* The 4-tuple's hash; its low bits pick the bucket. */
static uint32_t conn_hash(const struct rn_inaddr *laddr, uint16_t lport,
                          const struct rn_inaddr *faddr, uint16_t fport)
{
    uint32_t h = rn__inaddr_fold(laddr) * 2654435761u ^ rn__inaddr_fold(faddr) * 2246822519u ^
                 ((uint32_t)lport << 16 | fport) * 3266489917u;

    return h ^ h >> 15;
}

static uint32_t conn_bucket(const struct tcp_stack *ts, const struct rn_inaddr *laddr,
                            uint16_t lport, const struct rn_inaddr *faddr, uint16_t fport)
{
    return conn_hash(laddr, lport, faddr, fport) & ts->ts_hash_mask;
}

/* Doubles the connection table once it holds twice as many connections as
 * buckets, so that a lookup walks two on average whatever their number:
 * the rehash costs a walk of them all, once per doubling (amortised, one
 * move per connection inserted).  Without memory the table stays as it
 * is, its chains longer. */
static void conn_hash_grow(struct tcp_stack *ts)
{
    uint32_t n = ts->ts_hash_mask + 1, i;
    struct tcp_conn **t, *c, *next;

    if (ts->ts_nconns <= 2u * n || n >= (1u << 30))
        return;
    t = calloc(2u * n, sizeof(*t));
    if (t == NULL)
        return;
    for (i = 0; i < n; i++) {
        for (c = ts->ts_hash[i]; c != NULL; c = next) {
            uint32_t b = conn_hash(&c->t_laddr, c->t_lport, &c->t_faddr, c->t_fport) & (2u * n - 1);

            next = c->t_hnext;
            c->t_hnext = t[b];
            t[b] = c;
        }
    }
    free(ts->ts_hash);
    ts->ts_hash = t;
    ts->ts_hash_mask = 2u * n - 1;
}

struct tcp_conn *rn__tcp_lookup(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport,
                             struct rn_inaddr faddr, uint16_t fport)
{
    struct tcp_conn *c;

    for (c = ts->ts_hash[conn_bucket(ts, &laddr, lport, &faddr, fport)]; c; c = c->t_hnext) {
        if (c->t_lport == lport && c->t_fport == fport && rn_inaddr_eq(&c->t_laddr, &laddr) &&
            rn_inaddr_eq(&c->t_faddr, &faddr))
            return c;
    }
    return NULL;
}

/* A listener takes SYNs unless a callout pended its authorisation. */
static bool bind_takes_syns(const struct tcp_bind *b, uint16_t lport)
{
    return b->b_lport == lport && b->b_listener != NULL && !b->b_listener->l_auth_pending;
}

/* True if b, open on lport, takes a SYN to want, the address looked for:
 * a dual-stack listener on :: takes IPv4 (laddr) unless IPV6_V6ONLY. */
static bool bind_matches(const struct tcp_bind *b, uint16_t lport, const struct rn_inaddr *want,
                         const struct rn_inaddr *laddr)
{
    return bind_takes_syns(b, lport) && rn_inaddr_eq(&b->b_laddr, want) &&
           (!rn_inaddr_is_v4(laddr) || !rn_ip6_is_any(&want->ia_ip6) ||
            !(b->b_listener->l_uo.uo_flags & UO_V6ONLY));
}

struct tcp_listener *rn__tcp_lookup_listener(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport,
                                          struct rn_inaddr faddr, uint16_t fport)
{
    struct tcp_bind *b, *head = ts->ts_lhash[lport % TCP_LHASH_BUCKETS];
    struct rn_inaddr cand[3];
    const struct rn_inaddr *want = NULL;
    uint32_t n = 0, pick, k;
    struct {
        struct rn_inaddr l, f;
        uint32_t ports;
    } key = {laddr, faddr, (uint32_t)lport << 16 | fport};

    /* The listener of laddr itself comes before a wildcard one of its
     * family, and that before a dual-stack one on :: for IPv4. */
    cand[0] = laddr;
    cand[1] = rn_inaddr_is_v4(&laddr) ? rn_inaddr_v4(0) : rn_inaddr_v6(&RN_IP6_ANY);
    cand[2] = rn_inaddr_v6(&RN_IP6_ANY);
    for (k = 0; k < (rn_inaddr_is_v4(&laddr) ? 3u : 2u) && want == NULL; k++) {
        for (b = head; b != NULL; b = b->b_next) {
            if (bind_matches(b, lport, &cand[k], &laddr)) {
                want = &cand[k];
                break;
            }
        }
    }
    if (want == NULL)
        return NULL;
    for (b = head; b != NULL; b = b->b_next) {
        if (bind_matches(b, lport, want, &laddr))
            n++;
    }
    if (n <= 1) {
        for (b = head; b != NULL; b = b->b_next) {
            if (bind_matches(b, lport, want, &laddr))
                return b->b_listener;
        }
        return NULL;
    }
    /* SO_REUSEPORT: several listeners share the address; each SYN goes to
     * one of them by a keyed hash of its 4-tuple, so a connection's
     * retransmitted SYN finds the same one. */
    pick = (uint32_t)(((uint64_t)(uint32_t)rn__siphash(ts->ts_secret, &key, sizeof(key)) * n) >> 32);
    for (b = head; b != NULL; b = b->b_next) {
        if (bind_matches(b, lport, want, &laddr) && pick-- == 0)
            return b->b_listener;
    }
    return NULL;
}

/* Returns the listening port that lport on laddr would collide with (the
 * same address, or either one the wildcard), open or closing, or NULL. */
static uint32_t bind_flags(const struct tcp_bind *b);

static struct tcp_bind *port_taken(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport,
                                   uint32_t flags)
{
    struct tcp_bind *b;

    for (b = ts->ts_lhash[lport % TCP_LHASH_BUCKETS]; b; b = b->b_next) {
        if (b->b_lport == lport && rn__inaddr_overlap(&b->b_laddr, bind_flags(b) & UO_V6ONLY,
                                                      &laddr, flags & UO_V6ONLY))
            return b;
    }
    return NULL;
}

uint64_t rn_tcp_port_holder(struct rn_stack *st, uint32_t laddr, uint16_t lport)
{
    struct tcp_stack *ts = rn__tcp_stack(st);
    struct tcp_bind *b = ts ? port_taken(ts, rn_inaddr_v4(laddr), lport, 0) : NULL;

    return b ? b->b_holder : 0;
}

/* ---- Who may share a port ------------------------------------------------
 *
 * Linux's rule for a bind (and a listen) to a port others use: it may
 * share with each of them if both set SO_REUSEADDR and the other is not
 * listening, or both set SO_REUSEPORT; their addresses must otherwise
 * differ (neither the wildcard).  The users of a port are the sockets
 * bound to it (ts_bound), its listeners (open, or closed and held), the
 * connections whose local port it is, and TIME_WAIT entries, each with
 * the reuse options its socket had. */

static bool addrs_overlap(const struct rn_inaddr *a, uint32_t aflags, const struct rn_inaddr *b,
                          uint32_t bflags)
{
    return rn__inaddr_overlap(a, aflags & UO_V6ONLY, b, bflags & UO_V6ONLY);
}

static bool may_share(uint32_t mine, uint32_t theirs, bool they_listen)
{
    if ((mine & UO_REUSEADDR) && (theirs & UO_REUSEADDR) && !they_listen)
        return true;
    return (mine & UO_REUSEPORT) && (theirs & UO_REUSEPORT);
}

static uint32_t bind_flags(const struct tcp_bind *b)
{
    return b->b_listener != NULL ? b->b_listener->l_uo.uo_flags : b->b_flags;
}

int rn__tcp_port_check(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport, uint32_t flags,
                       const struct tcp_bound *self)
{
    const struct tcp_bound *bd;
    const struct tcp_bind *b;
    const struct tcp_tw *tw;
    unsigned i;

    for (bd = ts->ts_bound[lport % TCP_LHASH_BUCKETS]; bd != NULL; bd = bd->bd_next) {
        if (bd != self && bd->bd_lport == lport && addrs_overlap(&bd->bd_laddr, bd->bd_uo->uo_flags, &laddr, flags) &&
            !may_share(flags, bd->bd_uo->uo_flags, false))
            return RN_EADDRINUSE;
    }
    for (b = ts->ts_lhash[lport % TCP_LHASH_BUCKETS]; b != NULL; b = b->b_next) {
        if (b->b_lport == lport && addrs_overlap(&b->b_laddr, bind_flags(b), &laddr, flags) &&
            !may_share(flags, bind_flags(b), true))
            return RN_EADDRINUSE;
    }
    /* Connections and TIME_WAIT entries: walked only when some are on the
     * port (an address of theirs may still differ). */
    if (ts->ts_port_users[lport] == 0)
        return 0;
    for (i = 0; i <= ts->ts_hash_mask; i++) {
        const struct tcp_conn *c;

        for (c = ts->ts_hash[i]; c != NULL; c = c->t_hnext) {
            if (c->t_lport == lport && addrs_overlap(&c->t_laddr, 0, &laddr, flags) &&
                !may_share(flags, c->t_uo.uo_flags, false))
                return RN_EADDRINUSE;
        }
    }
    for (tw = ts->ts_tw_oldest; tw != NULL; tw = tw->tw_newer) {
        if (tw->tw_lport == lport && addrs_overlap(&tw->tw_laddr, 0, &laddr, flags) &&
            !may_share(flags, tw->tw_flags, false))
            return RN_EADDRINUSE;
    }
    return 0;
}

void rn__tcp_bound_link(struct tcp_stack *ts, struct tcp_bound *bd)
{
    struct tcp_bound **head = &ts->ts_bound[bd->bd_lport % TCP_LHASH_BUCKETS];

    if (bd->bd_linked)
        return;
    bd->bd_next = *head;
    *head = bd;
    bd->bd_linked = true;
    rn__stack_port_use(ts->ts_stack, RN_IPPROTO_TCP, bd->bd_lport, true);
}

void rn__tcp_bound_unlink(struct tcp_stack *ts, struct tcp_bound *bd)
{
    struct tcp_bound **pp = &ts->ts_bound[bd->bd_lport % TCP_LHASH_BUCKETS];

    if (!bd->bd_linked)
        return;
    while (*pp != bd)
        pp = &(*pp)->bd_next;
    *pp = bd->bd_next;
    bd->bd_next = NULL;
    rn__stack_port_use(ts->ts_stack, RN_IPPROTO_TCP, bd->bd_lport, false);
    bd->bd_linked = false;
}

/* True if a socket bound with bind() holds lport on an address that
 * overlaps laddr: an ephemeral pick for a connect steps over it. */
static bool port_bound(const struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport,
                       uint32_t flags)
{
    const struct tcp_bound *bd;

    for (bd = ts->ts_bound[lport % TCP_LHASH_BUCKETS]; bd != NULL; bd = bd->bd_next) {
        if (bd->bd_lport == lport && addrs_overlap(&bd->bd_laddr, bd->bd_uo->uo_flags, &laddr, flags))
            return true;
    }
    return false;
}

static void bind_unlink(struct tcp_bind *b)
{
    struct tcp_bind **pp = &b->b_tcp->ts_lhash[b->b_lport % TCP_LHASH_BUCKETS];

    while (*pp != b)
        pp = &(*pp)->b_next;
    *pp = b->b_next;
    rn__stack_port_use(b->b_tcp->ts_stack, RN_IPPROTO_TCP, b->b_lport, false);
}

/* On the loop thread, after the closed listener was released. */
static void bind_release_work(struct rn_stack *st, struct rn_work *w)
{
    struct tcp_bind *b = (struct tcp_bind *)((char *)w - offsetof(struct tcp_bind, b_work));

    (void)st;
    bind_unlink(b);
    free(b);
}

/* On whichever thread dropped the closed listener's last reference. */
static void bind_released(struct rn_ob_wait *w, void *ctx)
{
    struct tcp_bind *b = ctx;

    (void)w;
    rn_stack_post(b->b_tcp->ts_stack, &b->b_work, bind_release_work);
}

static void conn_hash_insert(struct tcp_stack *ts, struct tcp_conn *c)
{
    uint32_t b = conn_bucket(ts, &c->t_laddr, c->t_lport, &c->t_faddr, c->t_fport);

    c->t_hnext = ts->ts_hash[b];
    ts->ts_hash[b] = c;
    c->t_flags |= TF_IN_HASH;
    ts->ts_nconns++;
    rn__tcp_port_users(ts, c->t_lport, 1);
    conn_hash_grow(ts);
    rn__stack_port_use(ts->ts_stack, RN_IPPROTO_TCP, c->t_lport, true);
    rn_ob_cond_set(c, TCP_COND_IN_TABLE);
    rn_ob_ref(c, RN_TAG_PORT_TABLE);
}

static void conn_hash_remove(struct tcp_stack *ts, struct tcp_conn *c)
{
    struct tcp_conn **pp = &ts->ts_hash[conn_bucket(ts, &c->t_laddr, c->t_lport, &c->t_faddr,
                                                    c->t_fport)];

    if (!(c->t_flags & TF_IN_HASH))
        return;
    while (*pp != c)
        pp = &(*pp)->t_hnext;
    *pp = c->t_hnext;
    c->t_hnext = NULL;
    c->t_flags &= ~TF_IN_HASH;
    ts->ts_nconns--;
    rn__tcp_port_users(ts, c->t_lport, -1);
    rn__stack_port_use(ts->ts_stack, RN_IPPROTO_TCP, c->t_lport, false);
    rn_ob_deref_cond(c, RN_TAG_PORT_TABLE, TCP_COND_IN_TABLE);
}

/* ---- Numbers: ISNs and ports -------------------------------------------- */

uint32_t rn__tcp_isn(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport, struct rn_inaddr faddr,
                  uint16_t fport)
{
    struct {
        struct rn_inaddr l, f;
        uint32_t ports;
    } key = {laddr, faddr, (uint32_t)lport << 16 | fport};

    /* RFC 6528: ISN = M + F(4-tuple, secret), M a clock ticking every 4 us. */
    return (uint32_t)(rn_stack_now(ts->ts_stack) / 4000) +
           (uint32_t)rn__siphash(ts->ts_secret, &key, sizeof(key));
}

/* Picks an ephemeral port for a connection to faddr:fport (RFC 6056,
 * algorithm 3: a keyed offset per destination plus a global counter),
 * one no listener or bound socket holds and whose 4-tuple is free; with
 * receive-side scaling, one whose answers the device steers to this
 * stack's queue (about one port in as many as there are queues).
 * Returns 0 if every port is taken. */
static uint16_t ephemeral_port(struct tcp_stack *ts, struct rn_inaddr laddr, struct rn_inaddr faddr,
                               uint16_t fport)
{
    const struct rn_tcp_params *p = &ts->ts_conf->tc_p;
    uint32_t lo = p->tp_port_lo, n = p->tp_port_hi - lo + 1u;
    struct {
        struct rn_inaddr l, f;
        uint32_t port;
    } key = {laddr, faddr, fport};
    uint32_t offset = (uint32_t)rn__siphash(ts->ts_secret, &key, sizeof(key));
    uint32_t i;

    for (i = 0; i < n; i++) {
        uint16_t port = (uint16_t)(lo + (offset + ts->ts_next_ephemeral + i) % n);

        if (port_taken(ts, laddr, port, 0) == NULL && !port_bound(ts, laddr, port, 0) &&
            rn_stack_rss_mine(ts->ts_stack, &faddr, &laddr, fport, port) &&
            rn__tcp_lookup(ts, laddr, port, faddr, fport) == NULL &&
            rn__tcp_tw_lookup(ts, laddr, port, faddr, fport) == NULL) {
            ts->ts_next_ephemeral += i + 1;
            return port;
        }
    }
    return 0;
}

/* The first free port of the ephemeral range for laddr from the point
 * the address and the picks so far decide, or 0: free when no listener
 * or bound socket has it and, if used is NULL, no connection or
 * TIME_WAIT entry uses it at all (their counts), else when its bit in
 * used is clear. */
static uint16_t port_scan(struct tcp_stack *ts, struct rn_inaddr laddr, uint32_t flags,
                          const uint8_t *used)
{
    const struct rn_tcp_params *p = &ts->ts_conf->tc_p;
    uint32_t lo = p->tp_port_lo, n = p->tp_port_hi - lo + 1u;
    uint32_t offset = (uint32_t)rn__siphash(ts->ts_secret, &laddr, sizeof(laddr));
    uint32_t i;

    for (i = 0; i < n; i++) {
        uint16_t port = (uint16_t)(lo + (offset + ts->ts_next_ephemeral + i) % n);
        bool busy = used != NULL ? (used[port / 8] & (1u << (port % 8))) != 0
                                 : ts->ts_port_users[port] != 0;

        if (!busy && port_taken(ts, laddr, port, flags) == NULL &&
            !port_bound(ts, laddr, port, flags)) {
            ts->ts_next_ephemeral += i + 1;
            return port;
        }
    }
    return 0;
}

/* A port of the ephemeral range for laddr, or 0.  First among the ports
 * no connection or TIME_WAIT entry uses at all (found by their counts, no
 * walk); only when none is left, one whose users all have other
 * addresses (a walk of every connection, once). */
uint16_t rn__tcp_port_pick(struct tcp_stack *ts, struct rn_inaddr laddr, uint32_t flags)
{
    uint8_t used[65536 / 8];  /* a bit per local port in use by laddr */
    const struct tcp_tw *tw;
    uint16_t port = port_scan(ts, laddr, flags, NULL);
    uint32_t i;

    if (port != 0)
        return port;
    memset(used, 0, sizeof(used));
    for (i = 0; i <= ts->ts_hash_mask; i++) {
        const struct tcp_conn *c;

        for (c = ts->ts_hash[i]; c != NULL; c = c->t_hnext) {
            if (addrs_overlap(&c->t_laddr, 0, &laddr, flags))
                used[c->t_lport / 8] |= (uint8_t)(1u << (c->t_lport % 8));
        }
    }
    for (tw = ts->ts_tw_oldest; tw != NULL; tw = tw->tw_newer) {
        if (addrs_overlap(&tw->tw_laddr, 0, &laddr, flags))
            used[tw->tw_lport / 8] |= (uint8_t)(1u << (tw->tw_lport % 8));
    }
    return port_scan(ts, laddr, flags, used);
}

/* ---- Connections -------------------------------------------------------- */

struct tcp_conn *rn__tcp_conn_new(struct tcp_stack *ts, struct rn_inaddr laddr, uint16_t lport,
                               struct rn_inaddr faddr, uint16_t fport)
{
    struct tcp_conn *c = rn_ob_create(ts->ts_conn_type, RN_TAG_CREATE);
    rn_time_t now = rn_stack_now(ts->ts_stack);

    if (c == NULL)
        return NULL;
    c->t_tcp = ts;
    c->t_conf = ts->ts_conf;
    rn__tcp_conf_ref(c->t_conf);
    c->t_cc = c->t_conf->tc_cc;
    c->t_laddr = laddr;
    c->t_lport = lport;
    c->t_faddr = faddr;
    c->t_fport = fport;
    tcp_set_state(c, TCPS_CLOSED);
    c->t_snd.sb_max = c->t_conf->tc_p.tp_sndbuf;
    c->t_rto = c->t_conf->tc_p.tp_rto_initial;
    c->t_last_recv = now;
    c->t_una_since = now;
    c->ts_offset = (uint32_t)rn__siphash(ts->ts_secret, &c->t_lport, 8) ^ (uint32_t)(now >> 20);
    rn_nbq_init(&c->t_rcvq);
    rn__tcp_timers_init(c);
    rn__tcp_mss_update(c, TCP_DEFAULT_MSS);
    rn__tcp_rcvbuf_init(c);
    rn_ob_publish(c);
    conn_hash_insert(ts, c);
    return c;
}

void rn__tcp_mss_update(struct tcp_conn *c, uint32_t peer_mss)
{
    const struct rn_tcp_params *p = &c->t_conf->tc_p;
    struct rn_ip_route r;
    uint32_t mtu = 1500, mss, iphlen = RN_IP4_HLEN;
    int err;

    c->t_offloads = 0;
    if (rn_inaddr_is_v4(&c->t_faddr)) {
        err = rn__ip_route(c->t_tcp->ts_stack, rn_inaddr_to_v4(&c->t_faddr), &r);
    } else {
        struct rn_ip6 src;

        iphlen = RN_IP6_HLEN;
        err = rn__ip6_route(c->t_tcp->ts_stack, &c->t_faddr.ia_ip6, &r, &src);
    }
    if (err == 0) {
        mtu = r.ir_mtu;
        c->t_offloads = r.ir_offloads;
    }
    if (mtu > 65535)
        mtu = 65535;
    /* What we announce: the route's, cut by tcp.mss_clamp and the
     * socket's TCP_MAXSEG, which bound what we send as well: MTU-40 for
     * IPv4, MTU-60 for IPv6. */
    c->t_our_mss = mtu - iphlen - RN_TCP_HLEN;
    if (p->tp_mss_clamp != 0 && p->tp_mss_clamp < c->t_our_mss)
        c->t_our_mss = p->tp_mss_clamp;
    if (c->t_uo.uo_maxseg != 0 && c->t_uo.uo_maxseg < c->t_our_mss)
        c->t_our_mss = c->t_uo.uo_maxseg;
    c->t_peer_mss = peer_mss;
    /* A peer that announces a tiny MSS gets 64-byte segments at least (a
     * floor like Linux's tcp_min_snd_mss: no one makes us send a segment
     * per byte); our own route's MTU is never exceeded for it. */
    mss = peer_mss < 64 ? 64 : peer_mss;
    if (mss > c->t_our_mss)
        mss = c->t_our_mss;
    if (c->t_flags & TF_TSTMP)
        mss = mss > 12 + 8 ? mss - 12 : 8;  /* the timestamp option rides on every segment */
    c->t_maxseg = mss;
}

/* The class of a ring of cap bytes, or TCP_RING_CLASSES if it has none. */
static unsigned ring_class(uint32_t cap)
{
    unsigned k;

    for (k = 0; k < TCP_RING_CLASSES; k++)
        if (cap == TCP_RING_FIRST << k)
            return k;
    return TCP_RING_CLASSES;
}

/* A send ring of cap bytes: one from the stack's free list of its size
 * if there is one, else a new one; NULL without memory. */
static uint8_t *ring_get(struct tcp_stack *ts, uint32_t cap)
{
    unsigned k = ring_class(cap);
    void *p;

    if (k == TCP_RING_CLASSES || (p = ts->ts_ring_free[k]) == NULL)
        return rn_pgblock_get(cap);
    ts->ts_ring_free[k] = *(void **)p;
    ts->ts_ring_pooled -= cap;
    return p;
}

/* A ring of cap bytes no longer used: kept for the next taker of its
 * size while the stack keeps less than TCP_RING_POOL_BYTES, else freed. */
static void ring_release(struct tcp_stack *ts, void *p, uint32_t cap)
{
    unsigned k = ring_class(cap);

    if (p == NULL)
        return;
    if (k == TCP_RING_CLASSES || ts->ts_ring_pooled + cap > TCP_RING_POOL_BYTES) {
        rn_pgblock_put(p, cap);
        return;
    }
    *(void **)p = ts->ts_ring_free[k];
    ts->ts_ring_free[k] = p;
    ts->ts_ring_pooled += cap;
}

void rn__tcp_ring_put(struct tcp_conn *c)
{
    struct tcp_sndbuf *sb = &c->t_snd;

    if (sb->sb_data == NULL || sb->sb_len != 0)
        return;
    rn__tcp_ring_quiesce(c, true);
    ring_release(c->t_tcp, sb->sb_data, sb->sb_cap);
    sb->sb_data = NULL;
    sb->sb_cap = 0;
    sb->sb_head = 0;
}

void rn__tcp_ring_pool_fini(struct tcp_stack *ts)
{
    unsigned k;

    for (k = 0; k < TCP_RING_CLASSES; k++) {
        while (ts->ts_ring_free[k] != NULL) {
            void *p = ts->ts_ring_free[k];

            ts->ts_ring_free[k] = *(void **)p;
            rn_pgblock_put(p, TCP_RING_FIRST << k);
        }
    }
    ts->ts_ring_pooled = 0;
}

void rn__tcp_free_buffers(struct tcp_conn *c)
{
    struct rn_netbuf *nb;

    rn_nbq_purge(&c->t_rcvq);
    while ((nb = c->t_ooo) != NULL) {
        c->t_ooo = nb->nb_nextpkt;
        nb->nb_nextpkt = NULL;
        rn_nb_free(nb);
    }
    c->t_ooo_bytes = 0;
    atomic_store_explicit(&c->t_rcvq_bytes, 0, memory_order_relaxed);
}

void rn__tcp_done(struct tcp_conn *c)
{
    struct tcp_stack *ts = c->t_tcp;
    /* A connection never accepted has no user who could read its data or
     * close it later: its buffers go now. */
    bool unaccepted = c->t_listener != NULL;

    if (c->t_flags & TF_DONE)
        return;
    c->t_flags |= TF_DONE;
    if (tcp_state(c) != TCPS_TIME_WAIT)
        tcp_set_state(c, TCPS_CLOSED);
    rn__tcp_timers_stop(c);
    rn__tcp_sack_free(c);
    /* The ring may be freed by whichever thread lets go of c last. */
    rn__tcp_ring_quiesce(c, true);
    if (c->t_listener != NULL)
        rn__tcp_listener_forget(c);
    conn_hash_remove(ts, c);
    if ((c->t_flags & TF_USER_CLOSED) || unaccepted) {
        rn__tcp_free_buffers(c);
        c->t_snd.sb_len = 0;
        rn__tcp_ring_put(c);
    }
    /* Callouts with context on the connection must let go now. */
    if (c->t_filter != NULL)
        rn__filter_flow_deleted(ts->ts_stack, &c->t_filter);
    rn_ob_kill(c);
}

void rn__tcp_drop(struct tcp_conn *c, int err)
{
    const struct tcp_upcalls *up = c->t_up;
    enum tcp_state s = tcp_state(c);

    c->t_softerror = err;
    rn__tcp_done(c);
    if (up == NULL)
        return;
    if (err == 0) {
        /* Closed by the peer after our close: nothing to report. */
        if (up->tu_readable != NULL)
            up->tu_readable(c->t_upctx);
        return;
    }
    if (s == TCPS_SYN_SENT && up->tu_connected != NULL)
        up->tu_connected(c->t_upctx, err);
    else if (up->tu_error != NULL)
        up->tu_error(c->t_upctx, err);
}

void rn__tcp_upcall_readable(struct tcp_conn *c)
{
    if (c->t_up != NULL && c->t_up->tu_readable != NULL)
        c->t_up->tu_readable(c->t_upctx);
}

void rn__tcp_upcall_writable(struct tcp_conn *c)
{
    if (c->t_up != NULL && c->t_up->tu_writable != NULL)
        c->t_up->tu_writable(c->t_upctx);
}

uint32_t rn__tcp_rcv_space(const struct tcp_conn *c)
{
    uint32_t used = c->t_rcvq.nq_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)c->t_rcvq.nq_bytes;
    uint32_t buf = c->rcv_buf;

    /* TCP_WINDOW_CLAMP bounds the window whatever the buffer. */
    if (c->t_uo.uo_window_clamp != 0 && c->t_uo.uo_window_clamp < buf)
        buf = c->t_uo.uo_window_clamp;
    used += c->t_ooo_bytes;
    return used >= buf ? 0 : buf - used;
}

bool rn__tcp_window_update_due(const struct tcp_conn *c)
{
    uint32_t space = rn__tcp_rcv_space(c), held = c->rcv_adv - c->rcv_nxt;
    uint32_t useful = 2 * c->t_maxseg < c->rcv_buf / 2 ? 2 * c->t_maxseg : c->rcv_buf / 2;

    /* Before any data came, the window was held back by nothing but the
     * handshake's unscaled field (RFC 7323 2.2): the peer learns the full
     * one from the first ACK of its data, so a segment of its own would
     * be wasted, one per connection. */
    if (c->t_bytes_received == 0)
        return false;
    /* Nor is one that the window field cannot carry. */
    if (space > (uint32_t)65535 << c->rcv_scale)
        space = (uint32_t)65535 << c->rcv_scale;
    if (SEQ_LT(c->rcv_adv, c->rcv_nxt))
        held = 0;
    return space > held && space - held >= useful && space >= 2 * held;
}

int rn__tcp_connect(struct rn_stack *st, uint32_t laddr, uint16_t lport, uint32_t faddr,
                   uint16_t fport, const struct tcp_upcalls *up, void *ctx,
                   struct tcp_conn **out)
{
    return rn__tcp_connect_opts(st, rn_inaddr_v4(laddr), lport, rn_inaddr_v4(faddr), fport, NULL,
                                up, ctx, out);
}

/* The options a SYN offers, as the settings in force say. */
static uint32_t syn_offers(const struct tcp_conf *tc)
{
    return (tc->tc_p.tp_timestamps ? TF_REQ_TSTMP : 0) |
           (tc->tc_p.tp_window_scaling ? TF_REQ_SCALE : 0) | (tc->tc_p.tp_sack ? TF_REQ_SACK : 0);
}

uint32_t rn__tcp_syn_offers(const struct tcp_conn *c)
{
    return syn_offers(c->t_conf);
}

int rn__tcp_connect_opts(struct rn_stack *st, struct rn_inaddr laddr, uint16_t lport, struct rn_inaddr faddr,
                         uint16_t fport, const struct tcp_uopts *uo,
                         const struct tcp_upcalls *up, void *ctx, struct tcp_conn **out)
{
    struct tcp_stack *ts = rn__tcp_stack(st);
    struct rn_ip_route r;
    struct tcp_conn *c;

    if (ts == NULL || rn_inaddr_is_any(&faddr) || fport == 0)
        return RN_EINVAL;
    if (rn_inaddr_is_v4(&faddr)) {
        if (rn_ip4_is_bcast(rn_inaddr_to_v4(&faddr)))
            return RN_EINVAL;
        /* An IPv4 peer from a socket bound to an IPv6 address. */
        if (!rn_inaddr_is_any(&laddr) && !rn_inaddr_is_v4(&laddr))
            return RN_ENETUNREACH;
        if (rn__ip_route(st, rn_inaddr_to_v4(&faddr), &r) < 0)
            return RN_ENETUNREACH;
        if (rn_inaddr_is_any(&laddr))
            laddr = rn_inaddr_v4(r.ir_src);
    } else {
        struct rn_ip6 src;

        if (rn_ip6_is_multicast(&faddr.ia_ip6))
            return RN_EINVAL;
        if (!rn_inaddr_is_any(&laddr) && rn_inaddr_is_v4(&laddr))
            return RN_ENETUNREACH;
        if (rn__ip6_route(st, &faddr.ia_ip6, &r, &src) < 0)
            return RN_ENETUNREACH;
        if (rn_inaddr_is_any(&laddr))
            laddr = rn_inaddr_v6(&src);
    }
    if (lport == 0) {
        lport = ephemeral_port(ts, laddr, faddr, fport);
        if (lport == 0)
            return RN_EADDRNOTAVAIL;
    } else if (rn__tcp_lookup(ts, laddr, lport, faddr, fport) != NULL ||
               rn__tcp_tw_lookup(ts, laddr, lport, faddr, fport) != NULL) {
        return RN_EADDRINUSE;
    }
    c = rn__tcp_conn_new(ts, laddr, lport, faddr, fport);
    if (c == NULL)
        return RN_ENOMEM;
    c->t_up = up;
    c->t_upctx = ctx;
    if (uo != NULL)
        rn__tcp_opt_apply(c, uo);
    c->iss = rn__tcp_isn(ts, laddr, lport, faddr, fport);
    c->snd_una = c->snd_nxt = c->snd_max = c->snd_recover = c->iss;
    c->t_flags |= syn_offers(c->t_conf);
    rn__tcp_cc_init(c);
    tcp_set_state(c, TCPS_SYN_SENT);
    c->t_una_since = rn_stack_now(st);
    ts->ts_active_opens++;
    /* Connect authorisation: a pended one sends nothing until completed,
     * and gives up after 75 s, as an unanswered SYN would. */
    if (rn__filter_on(RN_FL_CONNECT) && rn__tcp_filter_connect(c) == RN_FILTER_BLOCK) {
        rn__tcp_done(c);
        return RN_EACCES;
    }
    if (c->t_flags & TF_AUTH_PENDING)
        rn__tcp_timer_arm(c, TCP_T_KEEP, rn_stack_now(st) + RN_SEC(75));
    rn__tcp_output(c);
    *out = c;
    return 0;
}

/* Marks our sending side shut (the state change of a shutdown for
 * writing) without sending; returns false if there was nothing to do. */
static bool tcp_shut_wr(struct tcp_conn *c)
{
    if (c->t_flags & (TF_SHUT_WR | TF_DONE))
        return false;
    c->t_flags |= TF_SHUT_WR;
    switch (tcp_state(c)) {
    case TCPS_SYN_SENT:
        rn__tcp_done(c);
        return false;
    case TCPS_SYN_RECEIVED:
    case TCPS_ESTABLISHED:
        tcp_set_state(c, TCPS_FIN_WAIT_1);
        return true;
    case TCPS_CLOSE_WAIT:
        tcp_set_state(c, TCPS_LAST_ACK);
        return true;
    default:
        return false;
    }
}

ssize_t rn__tcp_send(struct tcp_conn *c, const void *buf, size_t len)
{
    return rn__tcp_send_flags(c, buf, len, false, false);
}

ssize_t rn__tcp_send_eof(struct tcp_conn *c, const void *buf, size_t len, bool eof)
{
    return rn__tcp_send_flags(c, buf, len, eof, false);
}

ssize_t rn__tcp_send_flags(struct tcp_conn *c, const void *buf, size_t len, bool eof, bool more)
{
    struct tcp_sndbuf *sb = &c->t_snd;
    enum tcp_state s = tcp_state(c);
    size_t room, n, first, tail;

    if (c->t_softerror)
        return c->t_softerror;
    if (c->t_flags & (TF_SHUT_WR | TF_USER_CLOSED | TF_DONE))
        return RN_EPIPE;
    if (s == TCPS_SYN_SENT || s == TCPS_SYN_RECEIVED)
        return RN_EAGAIN;
    if (s != TCPS_ESTABLISHED && s != TCPS_CLOSE_WAIT)
        return RN_ENOTCONN;
    /* MSG_MORE holds a partial segment until a send without it, as
     * TCP_CORK does; a send without it pushes what waits. */
    if (more) {
        c->t_flags |= TF_MORE;
    } else if (c->t_flags & TF_MORE) {
        c->t_flags &= ~TF_MORE;
        c->t_flags |= TF_PUSH_ONCE;
    }
    if (len == 0) {
        if (eof && tcp_shut_wr(c))
            rn__tcp_output(c);
        else if (c->t_flags & TF_PUSH_ONCE)
            rn__tcp_output(c);
        return 0;
    }
    room = sb->sb_max > sb->sb_len ? sb->sb_max - sb->sb_len : 0;
    if (room == 0)
        return RN_EAGAIN;
    n = len < room ? len : room;
    if (sb->sb_len + n > sb->sb_cap) {
        /* Take a ring, or grow it, unwrapping it into the new space. */
        uint32_t cap = sb->sb_cap ? sb->sb_cap : TCP_RING_FIRST;
        uint8_t *p;

        while (cap < sb->sb_len + n)
            cap *= 2;
        if (cap > sb->sb_max)
            cap = sb->sb_max;
        p = ring_get(c->t_tcp, cap);
        if (p == NULL) {
            if (sb->sb_cap == sb->sb_len)
                return RN_ENOBUFS;
            n = sb->sb_cap - sb->sb_len;
        } else {
            if (sb->sb_len) {
                first = sb->sb_cap - sb->sb_head < sb->sb_len ? sb->sb_cap - sb->sb_head
                                                              : sb->sb_len;
                memcpy(p, sb->sb_data + sb->sb_head, first);
                memcpy(p + first, sb->sb_data, sb->sb_len - first);
            }
            rn__tcp_ring_quiesce(c, true);
            ring_release(c->t_tcp, sb->sb_data, sb->sb_cap);  /* NULL, or outgrown */
            sb->sb_data = p;
            sb->sb_cap = cap;
            sb->sb_head = 0;
        }
    }
    rn__tcp_ring_quiesce(c, false);
    tail = (sb->sb_head + sb->sb_len) % sb->sb_cap;
    first = sb->sb_cap - tail < n ? sb->sb_cap - tail : n;
    memcpy(sb->sb_data + tail, buf, first);
    memcpy(sb->sb_data, (const uint8_t *)buf + first, n - first);
    sb->sb_len += (uint32_t)n;
    atomic_store_explicit(&c->t_sndq_bytes, sb->sb_len, memory_order_relaxed);
    /* All of it taken and the last: the FIN rides on the last segment. */
    if (eof && n == len)
        (void)tcp_shut_wr(c);
    rn__tcp_output(c);
    return (ssize_t)n;
}

ssize_t rn__tcp_recv(struct tcp_conn *c, void *buf, size_t len)
{
    uint8_t *out = buf;
    size_t done = 0;

    while (done < len && c->t_rcvq.nq_head != NULL) {
        struct rn_netbuf *nb = c->t_rcvq.nq_head;
        size_t n = nb->nb_pktlen < len - done ? nb->nb_pktlen : len - done;

        rn_nb_copyout(nb, 0, out + done, n);
        done += n;
        if (n == nb->nb_pktlen) {
            rn_nb_free(rn_nbq_get(&c->t_rcvq));
        } else {
            rn_nb_pull(nb, n);
            c->t_rcvq.nq_bytes -= n;
        }
    }
    atomic_store_explicit(&c->t_rcvq_bytes, (uint32_t)c->t_rcvq.nq_bytes, memory_order_relaxed);
    if (done > 0) {
        rn__tcp_rcvbuf_tune(c, done);
        /* Tell the peer once the window has opened by a useful amount
         * (RFC 9293 3.8.6.2.2), or it may wait on a window it thinks shut. */
        if (!(c->t_flags & TF_DONE) && !(c->t_flags & TF_RCVD_FIN) &&
            rn__tcp_window_update_due(c))
            c->t_flags |= TF_ACKNOW;
        if (!(c->t_flags & TF_DONE) && (c->t_flags & TF_ACKNOW))
            rn__tcp_output(c);
        return (ssize_t)done;
    }
    if (len == 0)
        return 0;
    if (c->t_softerror)
        return c->t_softerror;
    if (c->t_flags & TF_RCVD_FIN)
        return 0;
    if (c->t_flags & TF_DONE)
        return 0;
    return RN_EAGAIN;
}

ssize_t rn__tcp_peek(const struct tcp_conn *c, void *buf, size_t len)
{
    const struct rn_netbuf *nb;
    uint8_t *out = buf;
    size_t done = 0;

    for (nb = c->t_rcvq.nq_head; nb != NULL && done < len; nb = nb->nb_nextpkt) {
        size_t n = nb->nb_pktlen < len - done ? nb->nb_pktlen : len - done;

        rn_nb_copyout(nb, 0, out + done, n);
        done += n;
    }
    if (done > 0 || len == 0)
        return (ssize_t)done;
    if (c->t_softerror)
        return c->t_softerror;
    if (c->t_flags & (TF_RCVD_FIN | TF_DONE))
        return 0;
    return RN_EAGAIN;
}

size_t rn__tcp_readable(const struct tcp_conn *c, bool *eof)
{
    if (eof != NULL)
        *eof = (c->t_flags & TF_RCVD_FIN) != 0 || (c->t_flags & TF_DONE) != 0 ||
               c->t_softerror != 0;
    return (size_t)c->t_rcvq.nq_bytes;
}

size_t rn__tcp_writable(const struct tcp_conn *c)
{
    enum tcp_state s = tcp_state(c);

    if (s != TCPS_ESTABLISHED && s != TCPS_CLOSE_WAIT)
        return 0;
    return c->t_snd.sb_max > c->t_snd.sb_len ? c->t_snd.sb_max - c->t_snd.sb_len : 0;
}

int rn__tcp_shutdown(struct tcp_conn *c, int how)
{
    enum tcp_state s = tcp_state(c);

    if (how != RN_SHUT_RD && how != RN_SHUT_WR && how != RN_SHUT_RDWR)
        return RN_EINVAL;
    if (s < TCPS_SYN_SENT && !(c->t_flags & TF_DONE))
        return RN_ENOTCONN;
    if (how != RN_SHUT_WR)
        c->t_flags |= TF_SHUT_RD;
    if (how == RN_SHUT_RD)
        return 0;
    if (tcp_shut_wr(c))
        rn__tcp_output(c);
    return 0;
}

void rn__tcp_close(struct tcp_conn *c, bool abort)
{
    enum tcp_state s = tcp_state(c);

    if (c->t_flags & TF_USER_CLOSED)
        return;
    c->t_flags |= TF_USER_CLOSED;
    c->t_up = NULL;
    c->t_upctx = NULL;
    if (c->t_flags & TF_DONE) {
        rn__tcp_free_buffers(c);
        return;
    }
    /* Unread data means the peer's bytes were lost: RFC 9293 3.10.4 says
     * reset, as Linux does. */
    if (abort || c->t_rcvq.nq_bytes > 0 || s == TCPS_SYN_SENT) {
        if (s >= TCPS_SYN_RECEIVED && s != TCPS_TIME_WAIT)
            rn__tcp_send_rst(c);
        rn__tcp_done(c);
        return;
    }
    rn__tcp_shutdown(c, RN_SHUT_RDWR);
    if (tcp_state(c) == TCPS_FIN_WAIT_2)
        rn__tcp_timer_arm(c, TCP_T_KEEP, rn_stack_now(c->t_tcp->ts_stack) +
                                          c->t_conf->tc_p.tp_fin_wait_2);
}

const char *rn_tcp_state_name(enum rn_tcp_state s)
{
    return rn__tcp_state_name((enum tcp_state)s);
}

/* The public states are TCP's own, in the same order. */
_Static_assert((int)RN_TCP_TIME_WAIT == (int)TCPS_TIME_WAIT &&
                   (int)RN_TCP_ESTABLISHED == (int)TCPS_ESTABLISHED,
               "enum rn_tcp_state follows enum tcp_state");

void rn__tcp_conn_info(const struct tcp_conn *c, struct rn_tcp_info *out)
{
    uint32_t mss = c->t_maxseg ? c->t_maxseg : 1;
    uint32_t start = c->snd_una == c->iss ? c->iss + 1 : c->snd_una;
    rn_time_t now = rn_stack_now(c->t_tcp->ts_stack);
    uint32_t sent = SEQ_GT(c->snd_max, start) ? c->snd_max - start : 0;

    memset(out, 0, sizeof(*out));
    out->ti_state = (enum rn_tcp_state)tcp_state(c);
    out->ti_state_age = now > c->t_state_since ? now - c->t_state_since : 0;
    if (c->t_flags & TF_TSTMP)
        out->ti_options |= RN_TCPI_OPT_TIMESTAMPS;
    if (c->t_flags & TF_SACK_PERMIT)
        out->ti_options |= RN_TCPI_OPT_SACK;
    if (c->t_flags & TF_SCALE) {
        out->ti_options |= RN_TCPI_OPT_WSCALE;
        out->ti_snd_wscale = c->snd_scale;
        out->ti_rcv_wscale = c->rcv_scale;
    }
    snprintf(out->ti_cc, sizeof(out->ti_cc), "%s", c->t_cc->cc_name);
    out->ti_rtt = c->t_srtt;
    out->ti_rttvar = c->t_rttvar;
    out->ti_min_rtt = c->t_min_rtt;
    out->ti_rto = rn__tcp_rto(c);
    out->ti_backoff = c->t_rxtshift;
    out->ti_snd_mss = c->t_maxseg;
    out->ti_rcv_mss = c->t_rcv_mss;
    out->ti_advmss = c->t_our_mss;
    out->ti_peer_mss = c->t_peer_mss;
    out->ti_snd_cwnd = c->snd_cwnd / mss;
    out->ti_snd_ssthresh = c->snd_ssthresh >= (1u << 30) ? UINT32_MAX : c->snd_ssthresh / mss;
    out->ti_snd_wnd = c->snd_wnd;
    out->ti_rcv_wnd = rn__tcp_rcv_space(c);
    out->ti_sndbuf = c->t_snd.sb_max;
    out->ti_rcvbuf = c->rcv_buf * 2;
    if (c->t_flags & TF_SENTFIN)
        sent = sent > 0 ? sent - 1 : 0;
    out->ti_unacked = sent < c->t_snd.sb_len ? sent : c->t_snd.sb_len;
    out->ti_notsent = c->t_snd.sb_len - out->ti_unacked;
    out->ti_recvq = (uint32_t)c->t_rcvq.nq_bytes;
    out->ti_bytes_sent = c->t_bytes_sent;
    out->ti_bytes_retrans = c->t_bytes_retrans;
    out->ti_bytes_acked = c->t_bytes_acked;
    out->ti_bytes_received = c->t_bytes_received;
    out->ti_segs_out = c->t_segs_out;
    out->ti_segs_in = c->t_segs_in;
    out->ti_data_segs_out = c->t_data_segs_out;
    out->ti_data_segs_in = c->t_data_segs_in;
    out->ti_total_retrans = c->t_retransmits;
    out->ti_delivery_rate = c->t_dr_rate;
    out->ti_last_recv = now > c->t_last_recv ? now - c->t_last_recv : 0;
}

void rn__tcp_info(const struct tcp_conn *c, struct tcp_info *out)
{
    memset(out, 0, sizeof(*out));
    out->ti_state = tcp_state(c);
    out->ti_laddr = c->t_laddr;
    out->ti_faddr = c->t_faddr;
    out->ti_lport = c->t_lport;
    out->ti_fport = c->t_fport;
    out->ti_sendq = c->t_snd.sb_len;
    out->ti_recvq = (uint32_t)c->t_rcvq.nq_bytes;
    out->ti_mss = c->t_maxseg;
    out->ti_cwnd = c->snd_cwnd;
    out->ti_ssthresh = c->snd_ssthresh;
    out->ti_srtt = c->t_srtt;
    out->ti_rto = rn__tcp_rto(c);
    out->ti_retransmits = c->t_retransmits;
    out->ti_snd_wnd = c->snd_wnd;
    out->ti_rcv_wnd = rn__tcp_rcv_space(c);
}

/* ---- Listeners ---------------------------------------------------------- */

int rn__tcp_listen(struct rn_stack *st, uint32_t laddr, uint16_t lport, unsigned backlog,
                  const struct tcp_upcalls *up, void *ctx, struct tcp_listener **out)
{
    return rn__tcp_listen_opts(st, rn_inaddr_v4(laddr), lport, backlog, NULL, up, ctx, out);
}

int rn__tcp_listen_opts(struct rn_stack *st, struct rn_inaddr laddr, uint16_t lport, unsigned backlog,
                        const struct tcp_uopts *uo, const struct tcp_upcalls *up, void *ctx,
                        struct tcp_listener **out)
{
    struct tcp_stack *ts = rn__tcp_stack(st);
    struct tcp_listener *l;
    struct tcp_bind *b;
    unsigned h;

    if (ts == NULL)
        return RN_EINVAL;
    if (!rn_inaddr_is_any(&laddr) &&
        !(rn_inaddr_is_v4(&laddr) ? rn__ip_is_local(st, rn_inaddr_to_v4(&laddr))
                                  : rn__ip6_is_local(st, &laddr.ia_ip6)))
        return RN_EADDRNOTAVAIL;
    if (lport == 0) {
        lport = rn__tcp_port_pick(ts, laddr, uo != NULL ? uo->uo_flags : 0);
        if (lport == 0)
            return RN_EADDRINUSE;
    } else if (rn__tcp_port_check(ts, laddr, lport, uo != NULL ? uo->uo_flags : 0, NULL) < 0) {
        return RN_EADDRINUSE;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return RN_ENOMEM;
    l = rn_ob_create(ts->ts_listener_type, RN_TAG_CREATE);
    if (l == NULL) {
        free(b);
        return RN_ENOMEM;
    }
    l->l_tcp = ts;
    l->l_bind = b;
    l->l_laddr = laddr;
    l->l_lport = lport;
    l->l_backlog = backlog == 0 ? 1 : backlog > 65535 ? 65535 : backlog;
    l->l_up = up;
    l->l_upctx = ctx;
    if (uo != NULL)
        l->l_uo = *uo;
    atomic_store_explicit(&l->l_state, TCPS_LISTEN, memory_order_relaxed);
    rn_ob_publish(l);
    b->b_tcp = ts;
    b->b_laddr = laddr;
    b->b_lport = lport;
    b->b_listener = l;
    b->b_holder = rn_ob_id(l);
    b->b_flags = l->l_uo.uo_flags & (UO_REUSEADDR | UO_REUSEPORT | UO_V6ONLY);
    h = lport % TCP_LHASH_BUCKETS;
    b->b_next = ts->ts_lhash[h];
    ts->ts_lhash[h] = b;
    rn__stack_port_use(ts->ts_stack, RN_IPPROTO_TCP, lport, true);
    rn_ob_cond_set(l, TCP_LCOND_BOUND);
    rn_ob_ref(l, RN_TAG_PORT_TABLE);
    /* Listen authorisation, once bound: a refused listener is closed at
     * once; a pended one holds its port and takes no SYNs meanwhile. */
    if (rn__filter_on(RN_FL_LISTEN) && rn__tcp_filter_listen(l) == RN_FILTER_BLOCK) {
        l->l_up = NULL;
        rn__tcp_listener_close(l);
        return RN_EACCES;
    }
    *out = l;
    return 0;
}

void rn__tcp_listener_addr(const struct tcp_listener *l, struct rn_inaddr *addr, uint16_t *port)
{
    *addr = l->l_laddr;
    *port = l->l_lport;
}

/* Detaches c from its listener: drops the queue's hold on c and c's hold
 * on the listener. */
static void listener_detach(struct tcp_listener *l, struct tcp_conn *c)
{
    struct tcp_stack *ts = l->l_tcp;

    c->t_listener = NULL;
    c->t_qnext = NULL;
    rn_ob_deref(l, ts->ts_tag_conn);
    rn_ob_deref_cond(c, ts->ts_tag_listener, TCP_COND_QUEUED);
}

void rn__tcp_listener_forget(struct tcp_conn *c)
{
    struct tcp_listener *l = c->t_listener;
    struct tcp_conn **pp;

    for (pp = &l->l_synq; *pp != NULL; pp = &(*pp)->t_qnext) {
        if (*pp == c) {
            *pp = c->t_qnext;
            atomic_fetch_sub_explicit(&l->l_nsyn, 1, memory_order_relaxed);
            listener_detach(l, c);
            return;
        }
    }
    for (pp = &l->l_acceptq; *pp != NULL; pp = &(*pp)->t_qnext) {
        if (*pp == c) {
            struct tcp_conn *prev = NULL, *x;

            *pp = c->t_qnext;
            for (x = l->l_acceptq; x != NULL; x = x->t_qnext)
                prev = x;
            l->l_acceptq_tail = prev;
            atomic_fetch_sub_explicit(&l->l_naccept, 1, memory_order_relaxed);
            listener_detach(l, c);
            return;
        }
    }
}

/* Called by tcp_input when a passive connection reaches ESTABLISHED: moves
 * it from the SYN queue to the accept queue. */
void rn__tcp_listener_established(struct tcp_conn *c)
{
    struct tcp_listener *l = c->t_listener;
    struct tcp_conn **pp;

    if (l == NULL)
        return;
    for (pp = &l->l_synq; *pp != NULL && *pp != c; pp = &(*pp)->t_qnext)
        ;
    if (*pp == NULL)
        return;
    *pp = c->t_qnext;
    atomic_fetch_sub_explicit(&l->l_nsyn, 1, memory_order_relaxed);
    c->t_qnext = NULL;
    if (l->l_acceptq_tail)
        l->l_acceptq_tail->t_qnext = c;
    else
        l->l_acceptq = c;
    l->l_acceptq_tail = c;
    atomic_fetch_add_explicit(&l->l_naccept, 1, memory_order_relaxed);
    if (l->l_up != NULL && l->l_up->tu_acceptable != NULL)
        l->l_up->tu_acceptable(l->l_upctx);
}

int rn__tcp_accept(struct tcp_listener *l, unsigned tag, const struct tcp_upcalls *up,
                  void *ctx, struct tcp_conn **out)
{
    struct tcp_conn *c = l->l_acceptq;

    if (atomic_load_explicit(&l->l_state, memory_order_relaxed) != TCPS_LISTEN)
        return l->l_error != 0 ? l->l_error : RN_EINVAL;
    if (c == NULL)
        return RN_EAGAIN;
    l->l_acceptq = c->t_qnext;
    if (l->l_acceptq == NULL)
        l->l_acceptq_tail = NULL;
    atomic_fetch_sub_explicit(&l->l_naccept, 1, memory_order_relaxed);
    /* The queue's hold becomes the caller's. */
    rn_ob_transfer(c, l->l_tcp->ts_tag_listener, (rn_tag_t)tag);
    rn_ob_cond_clear(c, TCP_COND_QUEUED);  /* held under tag now */
    rn_ob_deref(l, l->l_tcp->ts_tag_conn);
    c->t_listener = NULL;
    c->t_qnext = NULL;
    c->t_flags |= TF_ACCEPTED;
    c->t_up = up;
    c->t_upctx = ctx;
    *out = c;
    /* Data or a FIN may already be waiting. */
    if (c->t_rcvq.nq_len > 0 || (c->t_flags & TF_RCVD_FIN))
        rn__tcp_upcall_readable(c);
    return 0;
}

void rn__tcp_listener_close(struct tcp_listener *l)
{
    struct tcp_bind *b = l->l_bind;

    if (atomic_load_explicit(&l->l_state, memory_order_relaxed) != TCPS_LISTEN)
        return;
    atomic_store_explicit(&l->l_state, TCPS_CLOSED, memory_order_relaxed);
    l->l_up = NULL;
    /* New SYNs no longer find it; the port stays taken until it is
     * released (struct tcp_bind), shared as its reuse options allowed. */
    b->b_flags = l->l_uo.uo_flags & (UO_REUSEADDR | UO_REUSEPORT);
    b->b_listener = NULL;
    if (rn_ob_wait_release(l, &b->b_wait, NULL, "unbind", bind_released, b) < 0) {
        bind_unlink(b);
        free(b);
    }
    l->l_bind = NULL;
    /* Connections nobody accepted are reset, as Linux does. */
    while (l->l_synq != NULL || l->l_acceptq != NULL) {
        struct tcp_conn *c = l->l_synq ? l->l_synq : l->l_acceptq;

        rn_ob_ref(c, RN_TAG_LOOP);
        rn__tcp_send_rst(c);
        rn__tcp_drop(c, RN_ECONNABORTED);
        rn_ob_deref(c, RN_TAG_LOOP);
    }
    l->l_auth_pending = false;
    /* Callouts with context on the listener must let go now. */
    if (l->l_filter != NULL)
        rn__filter_flow_deleted(l->l_tcp->ts_stack, &l->l_filter);
    rn_ob_deref_cond(l, RN_TAG_PORT_TABLE, TCP_LCOND_BOUND);
    rn_ob_kill(l);
}

void rn__tcp_listener_refuse(struct tcp_listener *l, int err)
{
    const struct tcp_upcalls *up = l->l_up;
    void *ctx = l->l_upctx;

    l->l_error = err;
    rn__tcp_listener_close(l);
    if (up != NULL && up->tu_error != NULL)
        up->tu_error(ctx, err);
}

/* ---- Listings ----------------------------------------------------------- */

static void netstat_emit(rn_netstat_fn fn, void *ctx, const char *state, struct rn_inaddr la,
                         uint16_t lp, struct rn_inaddr fa, uint16_t fp, uint32_t sq, uint32_t rq,
                         bool listening, const void *ob)
{
    const struct rn_netstat_row row = {
        .nr_proto = "tcp",
        .nr_state = state,
        .nr_laddr = la,
        .nr_lport = lp,
        .nr_faddr = fa,
        .nr_fport = fp,
        .nr_sendq = sq,
        .nr_recvq = rq,
        .nr_listening = listening,
        .nr_ob = ob,
    };

    fn(&row, ctx);
}

void rn_tcp_netstat(struct rn_stack *st, rn_netstat_fn fn, void *ctx)
{
    struct tcp_stack *ts = rn__tcp_stack(st);
    struct tcp_tw *tw;
    unsigned i;

    if (ts == NULL)
        return;
    for (i = 0; i < TCP_LHASH_BUCKETS; i++) {
        struct tcp_bind *b;

        for (b = ts->ts_lhash[i]; b != NULL; b = b->b_next) {
            struct tcp_listener *l = b->b_listener;

            if (l != NULL)
                netstat_emit(fn, ctx, "LISTEN", l->l_laddr, l->l_lport,
                             rn__inaddr_any_like(&l->l_laddr), 0,
                             atomic_load(&l->l_naccept), atomic_load(&l->l_nsyn), true, l);
        }
    }
    for (i = 0; i <= ts->ts_hash_mask; i++) {
        struct tcp_conn *c;

        for (c = ts->ts_hash[i]; c != NULL; c = c->t_hnext) {
            struct rn_netstat_row row;

            if (rn__tcp_netstat_row(st, c, &row))
                fn(&row, ctx);
        }
    }
    for (tw = ts->ts_tw_oldest; tw != NULL; tw = tw->tw_newer)
        netstat_emit(fn, ctx, "TIME_WAIT", tw->tw_laddr, tw->tw_lport, tw->tw_faddr,
                     tw->tw_fport, 0, 0, false, tw);
}

bool rn__tcp_netstat_row(struct rn_stack *st, const void *ob, struct rn_netstat_row *row)
{
    struct tcp_stack *ts = rn__tcp_stack(st);

    if (ts == NULL)
        return false;
    switch (rn__tcp_kind_of(ob)) {
    case TCP_KIND_LISTENER: {
        const struct tcp_listener *l = ob;
        enum tcp_state state =
            (enum tcp_state)atomic_load_explicit(&l->l_state, memory_order_relaxed);

        if (l->l_tcp != ts)
            return false;
        *row = (struct rn_netstat_row){
            .nr_proto = "tcp",
            .nr_state = rn__tcp_state_name(state),
            .nr_laddr = l->l_laddr,
            .nr_lport = l->l_lport,
            .nr_faddr = rn__inaddr_any_like(&l->l_laddr),
            .nr_sendq = atomic_load(&l->l_naccept),
            .nr_recvq = atomic_load(&l->l_nsyn),
            .nr_listening = true,
            .nr_ob = l,
        };
        return true;
    }
    case TCP_KIND_CONN: {
        const struct tcp_conn *c = ob;

        if (c->t_tcp != ts)
            return false;
        *row = (struct rn_netstat_row){
            .nr_proto = "tcp",
            .nr_state = rn__tcp_state_name(tcp_state(c)),
            .nr_laddr = c->t_laddr,
            .nr_lport = c->t_lport,
            .nr_faddr = c->t_faddr,
            .nr_fport = c->t_fport,
            .nr_sendq = c->t_snd.sb_len,
            .nr_recvq = (uint32_t)c->t_rcvq.nq_bytes,
            .nr_since = c->t_state_since,
            .nr_ob = c,
        };
        return true;
    }
    case TCP_KIND_TIMEWAIT: {
        const struct tcp_tw *tw = ob;

        if (tw->tw_tcp != ts)
            return false;
        *row = (struct rn_netstat_row){
            .nr_proto = "tcp",
            .nr_state = "TIME_WAIT",
            .nr_laddr = tw->tw_laddr,
            .nr_lport = tw->tw_lport,
            .nr_faddr = tw->tw_faddr,
            .nr_fport = tw->tw_fport,
            .nr_ob = tw,
        };
        return true;
    }
    default:
        return false;
    }
}

bool rn__tcp_netstat_info(struct rn_stack *st, const void *ob, struct rn_tcp_info *out)
{
    struct tcp_stack *ts = rn__tcp_stack(st);
    const struct tcp_conn *c = ob;

    if (ts == NULL || rn__tcp_kind_of(ob) != TCP_KIND_CONN || c->t_tcp != ts)
        return false;
    rn__tcp_conn_info(c, out);
    return true;
}

unsigned rn__tcp_timewait_count(struct rn_stack *st)
{
    struct tcp_stack *ts = rn__tcp_stack(st);

    return ts ? ts->ts_ntw : 0;
}

/* Fills out (at most max entries) with the counters of ts (zeros if TCP
 * is gone); returns how many it filled. */
static unsigned tcp_counters(const struct tcp_stack *ts, struct rn_stack_counter *out,
                             unsigned max)
{
    const struct rn_stack_counter c[] = {
        {"tcp.segs_in", ts ? ts->ts_segs_in : 0},
        {"tcp.segs_out", ts ? ts->ts_segs_out : 0},
        {"tcp.retransmits", ts ? ts->ts_retransmits : 0},
        {"tcp.fast_retransmits", ts ? ts->ts_fast_retransmits : 0},
        {"tcp.tlp_probes", ts ? ts->ts_tlp_probes : 0},
        {"tcp.ecn_reductions", ts ? ts->ts_ecn_reductions : 0},
        {"tcp.undos", ts ? ts->ts_undos : 0},
        {"tcp.sack_recoveries", ts ? ts->ts_sack_recoveries : 0},
        {"tcp.rack_losses", ts ? ts->ts_rack_losses : 0},
        {"tcp.rescue_retransmits", ts ? ts->ts_rescue_rxts : 0},
        {"tcp.ring_flushes", ts ? ts->ts_ring_flushes : 0},
        {"tcp.timeouts", ts ? ts->ts_timeouts : 0},
        {"tcp.rst_in", ts ? ts->ts_rst_in : 0},
        {"tcp.rst_out", ts ? ts->ts_rst_out : 0},
        {"tcp.active_opens", ts ? ts->ts_active_opens : 0},
        {"tcp.passive_opens", ts ? ts->ts_passive_opens : 0},
        {"tcp.challenge_acks", ts ? ts->ts_challenge_acks : 0},
        {"tcp.challenge_acks_skipped", ts ? ts->ts_challenge_acks_skipped : 0},
        {"tcp.syncookies_sent", ts ? ts->ts_syncookies_sent : 0},
        {"tcp.syncookies_ok", ts ? ts->ts_syncookies_ok : 0},
        {"tcp.syncookies_failed", ts ? ts->ts_syncookies_failed : 0},
        {"tcp.listen_overflows", ts ? ts->ts_listen_overflows : 0},
        {"tcp.probes_answered", ts ? ts->ts_probes_answered : 0},
        {"tcp.timewait", ts ? ts->ts_ntw : 0},
        {"tcp.timewait_recycled", ts ? ts->ts_tw_recycled : 0},
        {"tcp.timewait_reopened", ts ? ts->ts_tw_reopened : 0},
        {"tcp.connections", ts ? ts->ts_nconns : 0},
        {"tcp.hash_buckets", ts ? ts->ts_hash_mask + 1u : 0},
    };
    unsigned i;

    for (i = 0; i < sizeof(c) / sizeof(c[0]) && i < max; i++)
        out[i] = c[i];
    return i;
}

/* The stack's stats hook: TCP's counters in `refnet stat`.  TCP is looked
 * up each time rather than kept as the context, since the hook outlives
 * tcp_fini(). */
static unsigned tcp_stats_hook(struct rn_stack *st, void *ctx, struct rn_stack_counter *out,
                               unsigned max)
{
    (void)ctx;
    return tcp_counters(rn__tcp_stack(st), out, max);
}

