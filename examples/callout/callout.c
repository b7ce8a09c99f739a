/*
 * callout: a filtering-platform callout of your own (filter.h), deciding
 * which TCP connections a server accepts.
 *
 *     callout
 *
 * The callout "gatekeeper" sits at the accept layer: the stack asks it
 * about every SYN that would create a connection on a listener, before
 * the SYN+ACK.  It refuses connections to the port its filter's argument
 * names (the client sees "connection refused") and lets the others in.
 * On each connection it lets in it keeps a small record, associated with
 * the connection (a flow context): refnet then tells it when the
 * connection is established and when it ends, and the record holds the
 * connection under "callout:gatekeeper" until the callout lets go, which
 * it must do once told that the flow ended.
 *
 * Two stacks run in the simulator (sim.h), joined by a simulated cable,
 * in virtual time on this one thread, so the program needs no root and
 * no network, and runs the same way every time:
 *
 *     stack "client" 198.18.0.1  ---- cable ----  stack "server" 198.18.0.2
 *                                                   listeners on 80 and 81
 *                                                   filter: accept, ports 80-81,
 *                                                   callout:gatekeeper, arg=81
 *
 * The client connects to port 80 (let in) and to port 81 (refused), then
 * closes.  The program prints what the callout saw and decided, and exits
 * 0 only if that is one connection let in and established, one refused,
 * the established one ended and released, and nothing leaked.
 *
 * Everything here runs on the simulator's thread, which is the loop
 * thread of both stacks: it uses the socket layer's immediate calls and
 * requests (rn_sock_open, rn_sock_submit), never the blocking API, which
 * would wait for a loop that only this thread runs.
 *
 * Build: make (pkg-config --cflags --libs refnet).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <refnet/refnet.h>

/* ---- The callout ----------------------------------------------------------- */

/* The callout's state: what it has seen and decided. */
struct gatekeeper {
    unsigned gk_permitted;    /* connections it let in */
    unsigned gk_blocked;      /* connections it refused */
    unsigned gk_established;  /* of those let in, how many completed the handshake */
    unsigned gk_ended;        /* flows it was told ended, and released */
};

/* What a filter naming the callout asks of it: the port to refuse, from
 * the filter's "arg=". */
struct gate_rule {
    uint16_t gr_deny_port;
};

/* What the callout keeps on one connection it let in. */
struct gate_flow {
    struct gatekeeper *gf_gk;  /* the callout's state */
    uint16_t gf_rport;         /* the client's port, for the log */
    rn_time_t gf_start;        /* when the SYN was let in (virtual time) */
};

/* A filter naming the callout is being added: check it and read its arg.
 * The result comes back in every classification as cl_filter_ctx. */
static int gate_filter_add(struct rn_callout *co, const struct rn_filter_spec *fs, void **fctx,
                           char *err, size_t errlen)
{
    struct gate_rule *rule;
    char *end;
    unsigned long port;

    (void)co;
    if (fs->fs_layer != RN_FL_ACCEPT) {
        snprintf(err, errlen, "gatekeeper decides at layer=accept, not layer=%s",
                 rn_filter_layer_name(fs->fs_layer));
        return RN_EINVAL;
    }
    port = strtoul(fs->fs_arg, &end, 10);
    if (fs->fs_arg[0] == '\0' || *end != '\0' || port == 0 || port > 65535) {
        snprintf(err, errlen, "gatekeeper needs arg=PORT, the port to refuse");
        return RN_EINVAL;
    }
    rule = malloc(sizeof(*rule));
    if (rule == NULL)
        return RN_ENOMEM;
    rule->gr_deny_port = (uint16_t)port;
    *fctx = rule;
    return 0;
}

/* The filter is gone: so is what gate_filter_add() made of its arg. */
static void gate_filter_del(struct rn_callout *co, void *fctx)
{
    (void)co;
    free(fctx);
}

/* The decision, on the server's loop thread, for one SYN. */
static int gate_classify(struct rn_callout *co, const struct rn_classify *cl)
{
    struct gatekeeper *gk = rn_callout_ctx(co);
    const struct gate_rule *rule = cl->cl_filter_ctx;
    const struct rn_filter_values *v = cl->cl_values;
    struct gate_flow *gf;
    char a[RN_IP6_STRLEN], raddr[RN_IP6_STRLEN + 8];

    /* The peer: IPv4 as a dotted quad, IPv6 in brackets before its port. */
    rn_inaddr_fmt(&v->fv_raddr, a);
    snprintf(raddr, sizeof(raddr), rn_inaddr_is_v4(&v->fv_raddr) ? "%s:%u" : "[%s]:%u", a,
             v->fv_rport);
    if (v->fv_lport == rule->gr_deny_port) {
        gk->gk_blocked++;
        printf("callout: gatekeeper refuses %s -> port %u\n", raddr, v->fv_lport);
        return RN_FILTER_BLOCK;
    }
    gk->gk_permitted++;
    printf("callout: gatekeeper lets in %s -> port %u\n", raddr, v->fv_lport);
    /* Keep a record on the new connection.  If that fails (no memory), the
     * connection still goes ahead: only the record is missing. */
    gf = malloc(sizeof(*gf));
    if (gf == NULL)
        return RN_FILTER_PERMIT;
    gf->gf_gk = gk;
    gf->gf_rport = v->fv_rport;
    gf->gf_start = rn_stack_now(rn_callout_stack(co));
    if (rn_callout_flow_associate(cl, gf, NULL) != 0)
        free(gf);
    return RN_FILTER_PERMIT;
}

/* A connection the callout keeps a record on completed its handshake. */
static void gate_flow_established(struct rn_callout *co, struct rn_flow_ctx *fc, void *ctx)
{
    struct gate_flow *gf = ctx;

    (void)co;
    (void)fc;
    gf->gf_gk->gk_established++;
}

/* It ended.  The callout must let go of the connection: until it does, its
 * reference keeps the connection (and a close waiting for it) alive. */
static void gate_flow_deleted(struct rn_callout *co, struct rn_flow_ctx *fc, void *ctx)
{
    struct gate_flow *gf = ctx;
    char age[32];

    rn_fmt_age(rn_stack_now(rn_callout_stack(co)) - gf->gf_start, age, sizeof(age));
    printf("callout: the connection from port %u ended after %s\n", gf->gf_rport, age);
    gf->gf_gk->gk_ended++;
    free(gf);
    rn_callout_flow_release(fc);
}

static const struct rn_callout_ops gate_ops = {
    .co_name = "gatekeeper",
    .co_filter_add = gate_filter_add,
    .co_filter_del = gate_filter_del,
    .co_classify = gate_classify,
    .co_flow_established = gate_flow_established,
    .co_flow_deleted = gate_flow_deleted,
    /* No co_unregister: the callout's state is this program's, and it
     * unregisters the callout itself once it holds nothing. */
};

/* ---- Sockets on the simulated stacks -------------------------------------- */

#define ADDR_SERVER 0xc6120002u  /* 198.18.0.2 */

/* Where a request's completion is kept: sq_user points at one. */
struct done {
    bool dn_done;                  /* the completion came */
    struct rn_sock_completion dn_c;
};

static void on_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct done *dn = c->sc_user;

    (void)p;
    dn->dn_c = *c;
    dn->dn_done = true;
}

/* Submits op on handle h of p; its completion goes to *dn. */
static int submit(struct rn_proc *p, enum rn_sock_op op, int h,
                  const struct rn_sockaddr_in *to, struct done *dn)
{
    struct rn_sock_req rq = {.sq_op = op, .sq_handle = h, .sq_to = to, .sq_user = dn};

    dn->dn_done = false;
    return rn_sock_submit(p, &rq, on_done);
}

/* Opens a TCP listener of p on port. */
static int listen_on(struct rn_proc *p, uint16_t port)
{
    struct rn_sockaddr_in any = {.sin_addr = 0, .sin_port = port};
    int h = rn_sock_open(p, RN_SOCK_STREAM, 0);
    int e;

    if (h < 0)
        return h;
    e = rn_sock_bind(p, h, &any);
    if (e == 0)
        e = rn_sock_listen(p, h, 8);
    return e == 0 ? h : e;
}

/* Predicates for rn_sim_run_while(): run while they are true. */
static bool both_pending(void *ctx)
{
    struct done *dn = ctx;

    return !dn[0].dn_done || !dn[1].dn_done;
}

static bool flow_open(void *ctx)
{
    const struct gatekeeper *gk = ctx;

    return gk->gk_ended < gk->gk_permitted;
}

static bool not_yet(void *ctx)
{
    return !*(bool *)ctx;
}

static void released(struct rn_ob_wait *w, void *ctx)
{
    (void)w;
    *(bool *)ctx = true;
}

/* Ends p and runs the simulation until refnet has released it (every
 * handle closed).  Returns 0, or RN_ETIMEDOUT. */
static int proc_exit_wait(struct rn_sim *sim, struct rn_proc *p)
{
    struct rn_ob_wait w = {0};
    rn_tag_t tag = rn_tag_intern("callout-example");
    bool gone = false;

    /* rn_proc_exit() gives up the creator's reference; a wait for the
     * release is registered under a reference of our own, dropped at once
     * (every reference names its holder: ours is "callout-example"). */
    rn_ob_ref(p, tag);
    if (rn_ob_wait_release(p, &w, NULL, "exit", released, &gone) != 0)
        gone = true;
    rn_proc_exit(p);
    rn_ob_deref(p, tag);
    return rn_sim_run_while(sim, not_yet, &gone, RN_SEC(10));
}

/* ---- The run ------------------------------------------------------------------ */

int main(void)
{
    struct gatekeeper gk = {0};
    struct rn_sim *sim;
    struct rn_stack *client, *server;
    struct rn_proc *pc = NULL, *ps = NULL;
    struct rn_callout *co;
    struct rn_sockaddr_in to80 = {.sin_addr = ADDR_SERVER, .sin_port = 80}, to81 = {.sin_addr = ADDR_SERVER, .sin_port = 81};
    struct done conn[2], acc, closes[3];
    uint64_t filter_id;
    char err[256];
    int h80, h81, l80, l81, e, status = 1;
    bool ok;

    e = rn_sim_create(42, &sim);
    if (e != 0) {
        fprintf(stderr, "callout: cannot create the simulator: %s\n", rn_strerror(e));
        return 1;
    }
    /* Each stack comes with its transports and socket layer. */
    e = rn_sim_add_stack(sim, "client", &client);
    if (e == 0)
        e = rn_sim_add_stack(sim, "server", &server);
    if (e == 0)
        e = rn_sim_connect(sim, client, "198.18.0.1/15", server, "198.18.0.2/15", NULL, NULL);
    if (e != 0) {
        fprintf(stderr, "callout: cannot build the network: %s %s\n", rn_strerror(e),
                rn_sim_error(sim));
        goto out_destroy;
    }

    /* The filtering platform on the server, the callout, and a filter that
     * hands it the SYNs to ports 80 and 81. */
    e = rn_filter_init(server);
    if (e == 0)
        e = rn_callout_register(server, &gate_ops, &gk, &co);
    if (e != 0) {
        fprintf(stderr, "callout: cannot register the callout: %s\n", rn_strerror(e));
        goto out_destroy;
    }
    e = rn_filter_add(server, "layer=accept,proto=tcp,lport=80-81,action=callout:gatekeeper,arg=81",
                      &filter_id, err, sizeof(err));
    if (e != 0) {
        fprintf(stderr, "callout: cannot add the filter: %s\n", err);
        goto out_destroy;
    }

    /* The server listens on both ports and accepts on 80; the client
     * connects to both. */
    e = rn_proc_create(server, "server", &ps);
    if (e == 0)
        e = rn_proc_create(client, "client", &pc);
    if (e != 0) {
        fprintf(stderr, "callout: cannot create the processes: %s\n", rn_strerror(e));
        goto out_procs;
    }
    l80 = listen_on(ps, 80);
    l81 = listen_on(ps, 81);
    h80 = rn_sock_open(pc, RN_SOCK_STREAM, 0);
    h81 = rn_sock_open(pc, RN_SOCK_STREAM, 0);
    if (l80 < 0 || l81 < 0 || h80 < 0 || h81 < 0 ||
        submit(ps, RN_SOP_ACCEPT, l80, NULL, &acc) != 0 ||
        submit(pc, RN_SOP_CONNECT, h80, &to80, &conn[0]) != 0 ||
        submit(pc, RN_SOP_CONNECT, h81, &to81, &conn[1]) != 0) {
        fprintf(stderr, "callout: cannot set up the sockets\n");
        goto out_procs;
    }
    /* Virtual time: a few milliseconds of it, a moment of real time. */
    if (rn_sim_run_while(sim, both_pending, conn, RN_SEC(10)) != 0) {
        fprintf(stderr, "callout: the connects did not complete\n");
        goto out_procs;
    }
    printf("callout: connect to port 80: %s\n",
           conn[0].dn_c.sc_result == 0 ? "ok" : rn_strerror((int)conn[0].dn_c.sc_result));
    printf("callout: connect to port 81: %s\n",
           conn[1].dn_c.sc_result == 0 ? "ok" : rn_strerror((int)conn[1].dn_c.sc_result));

    /* The client closes first; then the server closes what it accepted.
     * The connection ends, and the callout is told. */
    if (submit(pc, RN_SOP_CLOSE, h80, NULL, &closes[0]) != 0 ||
        submit(pc, RN_SOP_CLOSE, h81, NULL, &closes[1]) != 0)
        goto out_procs;
    (void)rn_sim_run_for(sim, RN_MSEC(100));
    if (acc.dn_done && acc.dn_c.sc_result > 0 &&
        submit(ps, RN_SOP_CLOSE, (int)acc.dn_c.sc_result, NULL, &closes[2]) != 0)
        goto out_procs;
    (void)rn_sim_run_while(sim, flow_open, &gk, RN_SEC(300));

    printf("callout: gatekeeper let in %u, refused %u; established %u, ended %u; "
           "holds %u flows\n", gk.gk_permitted, gk.gk_blocked, gk.gk_established, gk.gk_ended,
           rn_callout_flows(co));
    ok = conn[0].dn_c.sc_result == 0 && conn[1].dn_c.sc_result == RN_ECONNREFUSED &&
         gk.gk_permitted == 1 && gk.gk_blocked == 1 && gk.gk_established == 1 &&
         gk.gk_ended == 1 && rn_callout_flows(co) == 0 && rn_filter_hits(server, filter_id) == 2;

    /* Take the callout out: first the filter that names it, then the
     * registration (refused while a filter names it or it holds flows). */
    if (rn_filter_del(server, filter_id) != 0 || rn_callout_unregister(co) != 0) {
        printf("callout: the callout could not be unregistered\n");
        ok = false;
    }
    status = ok ? 0 : 1;

out_procs:
    if (pc != NULL && proc_exit_wait(sim, pc) != 0)
        status = 1;
    if (ps != NULL && proc_exit_wait(sim, ps) != 0)
        status = 1;
out_destroy:
    /* Destroys both stacks and checks that no object and no buffer is left. */
    if (rn_sim_destroy(sim) != 0) {
        printf("callout: objects or buffers leaked\n");
        status = 1;
    }
    printf("callout: %s\n", status == 0 ? "ok" : "FAILED");
    return status;
}
