/*
 * The lab's three scenarios (lab.h), each a story told on the world of
 * lab_world.c and ended by its diagnosis, made with the tools a live
 * daemon has: the watchdog's chain, the verdict's suspects, the port's
 * holder, netstat with owners.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/lab_priv.h"
#include "refnet/runtime.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/object.h"
#include "refnet/report.h"
#include "refnet/transport.h"
#include "refnet/addr.h"

/* ---- Shared pieces ----------------------------------------------------------- */

static struct lab *lab_new(void)
{
    struct lab *l = calloc(1, sizeof(*l));

    if (l == NULL)
        fprintf(stderr, "refnet lab: out of memory\n");
    return l;
}

/* Ends a scenario: tears the world down; a leak turns any outcome into a
 * failure. */
static int lab_end(struct lab *l, int status)
{
    if (rn__lab_down(l) < 0)
        status = RN_LAB_FAILED;
    free(l);
    return status;
}

/* The listener's references now, without the lookup's own. */
static void listener_refs(uint64_t id, unsigned *refs, unsigned *tagged, rn_tag_t tag)
{
    void *ob = rn_ob_lookup(id, RN_TAG_LOOKUP);

    *refs = *tagged = 0;
    if (ob == NULL)
        return;
    *refs = rn_ob_refcount(ob) - 1;
    *tagged = rn_ob_tag_count(ob, tag);
    rn_ob_deref(ob, RN_TAG_LOOKUP);
}

/* One object whose lost holds were given back, as `refnet lab clear-leak`
 * prints it. */
static void leak_line(const struct rn_netstat_leak *leak, void *ctx)
{
    rn_strbuf_printf(ctx, "  %s #%" PRIu64 ": %" PRIu32 " 'enum' hold%s given back\n",
                     leak->nl_desc, leak->nl_id, leak->nl_holds, leak->nl_holds == 1 ? "" : "s");
}

/* Prints the lines of the last netstat listing that mention port 80's
 * listener, under the listing's header. */
static void print_listener_rows(struct lab *l)
{
    const char *t = rn_strbuf_str(&l->l_walk_last);
    const char *nl = strchr(t, '\n');

    if (nl == NULL)
        return;
    rn__lab_print(l, "%.*s", (int)(nl - t), t);
    for (t = nl + 1; *t != '\0'; t = nl + 1) {
        nl = strchr(t, '\n');
        if (nl == NULL)
            nl = t + strlen(t);
        if (strstr(t, "LISTEN") != NULL && (size_t)(strstr(t, "LISTEN") - t) < (size_t)(nl - t))
            rn__lab_print(l, "%.*s", (int)(nl - t), t);
        if (*nl == '\0')
            break;
    }
}

/* The common end of the two hang scenarios: stop httpd as `refnet svc
 * stop httpd` does (its default timeout, 30 s, or longer than the
 * watchdog's threshold) and watch it.  Returns true if it hung
 * and was diagnosed (the stop still pending), false if it stopped. */
static bool stop_and_diagnose(struct lab *l, uint64_t lid, struct lab_stop *ls)
{
    struct rn_strbuf report = RN_STRBUF_INIT;
    rn_time_t began = rn_sim_now(l->l_sim);
    rn_time_t timeout = RN_SEC(30);
    char err[512];
    int n, e;

    if (timeout < l->l_threshold + RN_SEC(5))
        timeout = l->l_threshold + RN_SEC(5);
    rn__lab_say(l, "refnet svc stop httpd --timeout %.0f", (double)timeout / 1e9);
    if (rn__lab_svc_stop(l->l_httpd, timeout, ls) < 0) {
        rn__lab_print(l, "the stop could not begin");
        return false;
    }
    rn__lab_print(l, "httpd is %s", rn_svc_state_name(rn_svc_state(l->l_httpd)));
    n = rn__lab_watch(l, ls, began, &report);
    if (n <= 0) {
        if (ls->ls_heard && ls->ls_result == 0)
            rn__lab_say(l, "httpd STOPPED, %.0f ms after the stop began",
                    (double)(rn_sim_now(l->l_sim) - began) / 1e6);
        rn_strbuf_free(&report);
        return false;
    }
    rn__lab_say(l, "the watchdog, %.1fs after the stop began (threshold %.0fs)",
            (double)(rn_sim_now(l->l_sim) - began) / 1e9, (double)l->l_threshold / 1e9);
    fputs(rn_strbuf_str(&report), l->l_out);
    rn_strbuf_free(&report);

    rn__lab_say(l, "diagnosis");
    (void)rn__lab_diagnose(l, lid, "listener of port 80");

    rn__lab_say(l, "refnet svc start httpd (while its stop hangs)");
    e = rn_svc_start(l->l_httpd, err, sizeof(err));
    if (e < 0)
        rn__lab_print(l, "refnet: svc start httpd: %s", err);
    else
        rn__lab_print(l, "started (%d): the port was free after all", e);
    if (l->l_p->lp_dump != NULL)
        (void)rn__lab_write_dump(l, l->l_p->lp_dump);

    /* `svc stop` gives up at its timeout, with exit status 3. */
    if (!rn__lab_wait_stop(l, ls, timeout + RN_SEC(1)) || ls->ls_result != RN_ETIMEDOUT) {
        rn__lab_print(l, "the stop ended on its own (%s)",
                  ls->ls_heard ? rn_strerror(ls->ls_result) : "still waiting");
        return true;
    }
    rn__lab_say(l, "refnet svc stop httpd: still %s after %.0fs: the diagnosis above, exit status 3",
            rn_svc_state_name(rn_svc_state(l->l_httpd)), (double)timeout / 1e9);
    return true;
}

/* After the cause was cleared, the stop that hung completes by itself. */
static bool stopped(struct lab *l)
{
    rn_time_t end = rn_sim_now(l->l_sim) + RN_SEC(5);

    while (rn_svc_state(l->l_httpd) != RN_SVC_STOPPED && rn_sim_now(l->l_sim) < end)
        rn__lab_step(l);
    if (rn_svc_state(l->l_httpd) != RN_SVC_STOPPED) {
        rn__lab_print(l, "httpd is still %s", rn_svc_state_name(rn_svc_state(l->l_httpd)));
        return false;
    }
    rn__lab_print(l, "httpd STOPPED: the stop that hung completed");
    return true;
}

static void print_traffic(struct lab *l, uint64_t lid, bool with_walks)
{
    unsigned refs, enums;

    listener_refs(lid, &refs, &enums, RN_TAG_ENUM);
    if (with_walks)
        rn__lab_print(l, "t=%5.1fs  %4" PRIu64 " responses, %3" PRIu64 " failures, %3" PRIu64
                     " netstat walks (%" PRIu64 " restarted)   tcp listener refs %u (enum %u)",
                  rn__lab_secs(l, rn_sim_now(l->l_sim)), l->l_ok, l->l_failed, l->l_walks,
                  l->l_walk_restarts, refs, enums);
    else
        rn__lab_print(l, "t=%5.1fs  %4" PRIu64 " responses, %3" PRIu64 " failures   tcp listener "
                     "refs %u",
                  rn__lab_secs(l, rn_sim_now(l->l_sim)), l->l_ok, l->l_failed, refs);
}

/* ---- stop-hang ------------------------------------------------------------------- */

int rn__lab_stop_hang(const struct rn_lab_params *p)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct lab_stop ls;
    struct lab *l = lab_new();
    uint64_t lid, given;
    int status, i;

    if (l == NULL)
        return RN_LAB_FAILED;
    if (rn__lab_up(l, p, true, NULL) < 0) {
        free(l);
        return RN_LAB_FAILED;
    }
    l->l_inject = !p->lp_fixed;
    lid = rn_tcp_port_holder(l->l_www, 0, 80);
    rn__lab_say(l, "httpd serves 198.18.0.2:80 in the simulator (seed %" PRIu64 ")", l->l_seed);
    rn__lab_print(l, "refnet trace on \"tcp listener\": each reference on tcp listener #%" PRIu64
                 " records where it was taken", lid);
    rn__lab_print(l, "8 clients on 198.18.0.10 fetch / again and again");
    rn__lab_print(l, "refnet netstat -a --refs runs every %.0f ms, %s", (double)LAB_WALK_EVERY / 1e6,
              l->l_inject ? "with the enumeration's fault armed (the lab's default)"
                          : "without the enumeration's fault (--fixed)");
    rn__lab_clients_start(l, 8);
    rn__lab_netstat_loop(l, true);
    for (i = 0; i < 4; i++) {
        rn__lab_run_for(l, RN_SEC(2));
        print_traffic(l, lid, true);
    }
    rn__lab_say(l, "what netstat -a --refs says about the listener now");
    print_listener_rows(l);

    rn__lab_say(l, "the clients finish; netstat keeps running");
    if (!rn__lab_clients_stop(l, RN_SEC(10)))
        rn__lab_print(l, "a client did not finish");
    print_traffic(l, lid, true);

    if (!stop_and_diagnose(l, lid, &ls)) {
        rn__lab_netstat_loop(l, false);
        status = rn_svc_state(l->l_httpd) == RN_SVC_STOPPED ? RN_LAB_CLEAN : RN_LAB_FAILED;
        given = rn_netstat_clear_leaks(NULL, NULL);  /* none, unless the run was odd */
        if (given > 0)
            rn__lab_print(l, "%" PRIu64 " lost references given back", given);
        return lab_end(l, status);
    }
    rn__lab_print(l, "the walks restarted %" PRIu64 " times when the table changed under them "
                 "and lost %" PRIu64 " 'enum' references on the listener",
              l->l_walk_restarts, l->l_walk_leaked);

    rn__lab_say(l, "refnet lab clear-leak: the lost references are given back");
    rn__lab_netstat_loop(l, false);
    given = rn_netstat_clear_leaks(leak_line, &sb);
    rn__lab_print(l, "%" PRIu64 " 'enum' reference%s given back", given, given == 1 ? "" : "s");
    fputs(rn_strbuf_str(&sb), l->l_out);
    rn_strbuf_free(&sb);
    status = stopped(l) ? RN_LAB_DIAGNOSED : RN_LAB_FAILED;
    return lab_end(l, status);
}

/* ---- callout-hang ----------------------------------------------------------------- */

/* The lab prints its own story; the connection logger's per-connection
 * lines (RN_REPORT_INFO) would drown it.  Everything else goes on. */
static void no_info_sink(void *ctx, enum rn_report_kind kind, const char *text)
{
    (void)ctx;
    if (kind == RN_REPORT_INFO)
        return;
    fprintf(stderr, "refnet: %s: %s\n", rn_report_kind_name(kind), text);
}

int rn__lab_callout_hang(const struct rn_lab_params *p)
{
    const char *spec = p->lp_fixed ? "layer=listen,lport=80,action=permit"
                                   : "layer=listen,lport=80,action=callout:faulty,arg=pend";
    struct lab_stop ls;
    struct lab *l = lab_new();
    uint64_t lid;
    unsigned released;
    int status, i;

    if (l == NULL)
        return RN_LAB_FAILED;
    rn_report_set_sink(no_info_sink, NULL);
    if (rn__lab_up(l, p, true, spec) < 0) {
        rn_report_set_sink(NULL, NULL);
        free(l);
        return RN_LAB_FAILED;
    }
    lid = rn_tcp_port_holder(l->l_www, 0, 80);
    rn__lab_say(l, "refnet filter add %s", spec);
    rn__lab_print(l, p->lp_fixed ? "without the faulty callout: a filter permits every listen "
                               "on port 80 at once"
                             : "a third-party callout is asked about every listen on port 80: "
                               "it pends the authorisation, and never completes it");
    rn__lab_say(l, "httpd started on 198.18.0.2:80 in the simulator (seed %" PRIu64 ")", l->l_seed);
    rn__lab_print(l, "it is %s; its listener: %s", rn_svc_state_name(rn_svc_state(l->l_httpd)),
              p->lp_fixed ? "takes connections" : "bound, waiting for the callout's answer");
    rn__lab_print(l, "4 clients on 198.18.0.10 fetch / again and again");
    l->l_think_min = RN_MSEC(100);
    l->l_think_max = RN_MSEC(400);
    rn__lab_clients_start(l, 4);
    for (i = 0; i < 2; i++) {
        rn__lab_run_for(l, RN_SEC(2));
        print_traffic(l, lid, false);
    }
    rn__lab_say(l, "the clients finish");
    if (!rn__lab_clients_stop(l, RN_SEC(10)))
        rn__lab_print(l, "a client did not finish");
    print_traffic(l, lid, false);

    if (!stop_and_diagnose(l, lid, &ls)) {
        status = rn_svc_state(l->l_httpd) == RN_SVC_STOPPED ? RN_LAB_CLEAN : RN_LAB_FAILED;
        goto out;
    }
    rn__lab_say(l, "the callout's pended operations are completed (blocked), its flows released");
    released = rn_callout_faulty_release_all(l->l_www);
    rn__lab_print(l, "%u let go", released);
    status = stopped(l) ? RN_LAB_DIAGNOSED : RN_LAB_FAILED;
out:
    status = lab_end(l, status);
    rn_report_set_sink(NULL, NULL);
    return status;
}

/* ---- close-wait ------------------------------------------------------------------- */

#define INBOX_PORT 2525
#define INBOX_MAX 256

/* The application: a process "inbox" that accepts connections on 2525
 * and reads them.  Its bug (without --fixed): at the end of the data it
 * forgets to close the handle. */
struct inbox_conn {
    struct inbox *ic_app;
    int ic_h;
    char ic_buf[512];
};

struct inbox {
    struct lab *ib_lab;
    struct rn_proc *ib_proc;
    int ib_lh;                       /* the listening handle */
    bool ib_closes;                  /* --fixed */
    unsigned ib_accepted, ib_eof, ib_closed;
    struct inbox_conn ib_conns[INBOX_MAX];
    unsigned ib_nconns;
};

static void inbox_done(struct rn_proc *p, const struct rn_sock_completion *c);

static void inbox_submit(struct inbox *ib, enum rn_sock_op op, int h, void *buf, size_t len,
                         void *user)
{
    struct rn_sock_req rq = {.sq_op = op, .sq_handle = h, .sq_buf = buf, .sq_len = len,
                             .sq_user = user};

    (void)rn_sock_submit(ib->ib_proc, &rq, inbox_done);
}

static void inbox_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    (void)p;
    if (c->sc_op == RN_SOP_ACCEPT) {
        struct inbox *ib = c->sc_user;
        struct inbox_conn *ic;

        if (c->sc_result < 0)
            return;  /* the process exits */
        ib->ib_accepted++;
        if (ib->ib_nconns < INBOX_MAX) {
            ic = &ib->ib_conns[ib->ib_nconns++];
            ic->ic_app = ib;
            ic->ic_h = (int)c->sc_result;
            inbox_submit(ib, RN_SOP_RECV, ic->ic_h, ic->ic_buf, sizeof(ic->ic_buf), ic);
        }
        inbox_submit(ib, RN_SOP_ACCEPT, ib->ib_lh, NULL, 0, ib);
        return;
    }
    if (c->sc_op == RN_SOP_RECV) {
        struct inbox_conn *ic = c->sc_user;
        struct inbox *ib = ic->ic_app;

        if (c->sc_result > 0) {
            inbox_submit(ib, RN_SOP_RECV, ic->ic_h, ic->ic_buf, sizeof(ic->ic_buf), ic);
            return;
        }
        if (c->sc_result == 0) {
            ib->ib_eof++;
            if (ib->ib_closes)
                inbox_submit(ib, RN_SOP_CLOSE, ic->ic_h, NULL, 0, ic);
            /* else the bug: the handle stays open, the connection in
             * CLOSE_WAIT */
        }
        return;
    }
    if (c->sc_op == RN_SOP_CLOSE && c->sc_result == 0) {
        struct inbox_conn *ic = c->sc_user;

        ic->ic_app->ib_closed++;
    }
}

static void inbox_down(struct lab *l)
{
    struct inbox *ib = l->l_app;

    if (ib != NULL && ib->ib_proc != NULL) {
        rn_proc_exit(ib->ib_proc);  /* closes every handle it has */
        ib->ib_proc = NULL;
    }
}

/* CLOSE_WAIT connections of the inbox's port on www, by owner. */
struct cw_scan {
    struct lab *cs_lab;
    unsigned cs_closewait, cs_other;
    unsigned cs_not_closing;   /* their socket's close never began */
    rn_time_t cs_oldest;       /* since when the oldest has been in CLOSE_WAIT */
    struct rn_sock_owner cs_owner; /* the owner of the last one */
    uint64_t cs_procs[8];      /* distinct owning processes (the first 8) */
    unsigned cs_owners;
    unsigned cs_printed;
};

static void cw_row(const struct rn_netstat_row *row, void *ctx)
{
    struct cw_scan *cs = ctx;
    struct rn_sock_owner ow;
    char la[RN_IP6_STRLEN], fa[RN_IP6_STRLEN], lep[RN_IP6_STRLEN + 8], fep[RN_IP6_STRLEN + 8];
    unsigned i;

    if (row->nr_listening || row->nr_lport != INBOX_PORT || strcmp(row->nr_proto, "tcp") != 0)
        return;
    if (strcmp(row->nr_state, "CLOSE_WAIT") != 0) {
        cs->cs_other++;
        return;
    }
    cs->cs_closewait++;
    if (cs->cs_oldest == 0 || (row->nr_since != 0 && row->nr_since < cs->cs_oldest))
        cs->cs_oldest = row->nr_since;
    if (rn_sock_owner_of(row->nr_ob, &ow) == 0) {
        if (!ow.ow_closing)
            cs->cs_not_closing++;
        for (i = 0; i < cs->cs_owners && cs->cs_procs[i] != ow.ow_proc; i++)
            ;
        if (i == cs->cs_owners && i < sizeof(cs->cs_procs) / sizeof(cs->cs_procs[0]))
            cs->cs_procs[cs->cs_owners++] = ow.ow_proc;
        cs->cs_owner = ow;
    }
    if (cs->cs_printed++ < 5) {
        snprintf(lep, sizeof(lep), "%s:%u", rn_inaddr_fmt(&row->nr_laddr, la), row->nr_lport);
        snprintf(fep, sizeof(fep), "%s:%u", rn_inaddr_fmt(&row->nr_faddr, fa), row->nr_fport);
        rn__lab_print(cs->cs_lab, "%-5s %-21s %-21s %-11s %5.1fs  %-6u %s (pid %u) handle %d%s", "tcp",
                  lep, fep, "CLOSE_WAIT", (double)(rn_sim_now(cs->cs_lab->l_sim) - row->nr_since) / 1e9,
                  rn_ob_refcount(row->nr_ob), ow.ow_proc_name, ow.ow_pid, ow.ow_handle,
                  ow.ow_closing ? " closing" : "");
    }
}

int rn__lab_close_wait(const struct rn_lab_params *p)
{
    struct lab *l = lab_new();
    struct inbox *ib;
    struct rn_sockaddr_in any = {.sin_addr = 0, .sin_port = INBOX_PORT};
    struct cw_scan cs;
    int status = RN_LAB_FAILED;

    if (l == NULL)
        return RN_LAB_FAILED;
    ib = calloc(1, sizeof(*ib));
    if (ib == NULL || rn__lab_up(l, p, false, NULL) < 0) {
        free(ib);
        free(l);
        return RN_LAB_FAILED;
    }
    l->l_app = ib;
    l->l_app_down = inbox_down;
    ib->ib_lab = l;
    ib->ib_closes = p->lp_fixed;
    if (rn_proc_create(l->l_www, "inbox", &ib->ib_proc) < 0 ||
        (ib->ib_lh = rn_sock_open(ib->ib_proc, RN_SOCK_STREAM, 0)) < 0 ||
        rn_sock_bind(ib->ib_proc, ib->ib_lh, &any) < 0 ||
        rn_sock_listen(ib->ib_proc, ib->ib_lh, 128) < 0) {
        fprintf(stderr, "refnet lab: the inbox application could not listen\n");
        goto out;
    }
    inbox_submit(ib, RN_SOP_ACCEPT, ib->ib_lh, NULL, 0, ib);
    rn__lab_say(l, "the application \"inbox\" (pid %u) takes messages on 198.18.0.2:%u "
               "(seed %" PRIu64 ")", rn_proc_pid(ib->ib_proc), INBOX_PORT, l->l_seed);
    rn__lab_print(l, ib->ib_closes ? "it closes each connection at the end of its data (--fixed)"
                               : "it reads each connection to its end, and never closes it");
    rn__lab_print(l, "12 clients on 198.18.0.10 each send 3 messages, one connection each, "
                 "and hang up");
    l->l_port = INBOX_PORT;
    l->l_request = "HELO lab\r\nmessage\r\n.\r\n";
    l->l_client_hangs_up = true;
    l->l_client_rounds = 3;
    l->l_think_min = RN_MSEC(200);
    l->l_think_max = RN_MSEC(900);
    l->l_stagger = RN_MSEC(100);
    rn__lab_clients_start(l, 12);
    rn__lab_run_for(l, RN_SEC(5));
    rn__lab_print(l, "t=%5.1fs  %" PRIu64 " messages sent, %u accepted, %u ended by the peer, "
                 "%u closed by the application",
              rn__lab_secs(l, rn_sim_now(l->l_sim)), l->l_ok, ib->ib_accepted, ib->ib_eof,
              ib->ib_closed);
    rn__lab_run_for(l, l->l_threshold + RN_SEC(5));

    rn__lab_say(l, "refnet netstat --refs, port %u", INBOX_PORT);
    rn__lab_print(l, "%-5s %-21s %-21s %-11s %6s  %-6s %s", "Proto", "Local Address",
              "Foreign Address", "State", "For", "Refs", "Owner");
    memset(&cs, 0, sizeof(cs));
    cs.cs_lab = l;
    rn_tcp_netstat(l->l_www, cw_row, &cs);
    if (cs.cs_closewait > 5)
        rn__lab_print(l, "... and %u more in CLOSE_WAIT", cs.cs_closewait - 5);
    rn__lab_say(l, "diagnosis");
    if (cs.cs_closewait == 0) {
        rn__lab_print(l, "no connection in CLOSE_WAIT: %u accepted, %u closed by the application",
                  ib->ib_accepted, ib->ib_closed);
        status = RN_LAB_CLEAN;
        goto out;
    }
    rn__lab_print(l, "%u connections to port %u are in CLOSE_WAIT, the oldest for %.1fs: their "
                 "peers sent FIN (each receive completed with 0, the end of the data)",
              cs.cs_closewait, INBOX_PORT,
              (double)(rn_sim_now(l->l_sim) - cs.cs_oldest) / 1e9);
    rn__lab_print(l, "%u of them belong to %u process%s, \"%s\" (pid %u), whose sockets never "
                 "began to close: the application never called close",
              cs.cs_not_closing, cs.cs_owners, cs.cs_owners == 1 ? "" : "es",
              cs.cs_owner.ow_proc_name, cs.cs_owner.ow_pid);
    rn__lab_print(l, "each is held under 'socket.endpoint' by its socket, open in the process's "
                 "handle table: only close lets go, nothing in the stack will");
    rn__lab_print(l, "process inbox holds %u handles", rn_proc_handles(ib->ib_proc));

    rn__lab_say(l, "the process exits: its handles close, the connections finish");
    inbox_down(l);
    rn__lab_run_for(l, RN_SEC(2));
    memset(&cs, 0, sizeof(cs));
    cs.cs_lab = l;
    cs.cs_printed = 5;  /* counts only */
    rn_tcp_netstat(l->l_www, cw_row, &cs);
    rn__lab_print(l, "%u in CLOSE_WAIT, %u other connections on port %u", cs.cs_closewait,
              cs.cs_other, INBOX_PORT);
    status = cs.cs_closewait == 0 ? RN_LAB_DIAGNOSED : RN_LAB_FAILED;
out:
    status = lab_end(l, status);
    free(ib);
    return status;
}
