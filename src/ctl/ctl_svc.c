/*
 * The service commands of the control socket (service.h), `why`, and the
 * lab's `lab clear-leak`:
 *
 *   svc [list]                 every service, its state, process, counters
 *   svc status NAME            one service
 *   svc start NAME[=ARG]       starts it (adding it first if it is a known
 *                              kind not configured yet)
 *   svc add NAME [--stop-signal SIG] [--stop-grace S] [--stop-main] -- COMMAND...
 *                              adds a service that runs COMMAND (under
 *                              `refnet run`), STOPPED
 *   svc remove NAME            removes a STOPPED service
 *   svc stop NAME [--timeout S]
 *                              stops it and answers once it is STOPPED
 *                              (status 0), or after S seconds (default 30)
 *                              with the diagnosis, status 3: the service
 *                              stays STOP_PENDING
 *   svc drain NAME [S]         how long its stops drain its connections
 *                              before aborting them (0: abort at once);
 *                              without S, says it
 *   why [SERVICE|ID]           the waiting chains through a service or an
 *                              object, or every chain, with holders and
 *                              verdicts: what the watchdog prints
 *   lab clear-leak             gives back the "enum" holds the injected
 *                              fault (`--inject enum-leak`) lost
 *
 * A stop waits as a pending request (RN_CTL_PENDING) with a struct
 * rn_svc_stop: svc_stop_done() completes it on the loop thread; a client
 * that goes away cancels the wait, not the stop.
 *
 * With receive-side scaling (rn__ctl_svc_add_lane()) every further loop
 * runs its own instance of each built-in service under the same name:
 * start, stop, drain and remove act on every loop's instance, the stop
 * answers once all have stopped (or with the chains of those that did
 * not), and the JSON listing sums their counters.  Commands run as
 * services (svc add) are the first loop's alone.  Another loop's
 * instance is reached on that loop's thread (ctl_lanes.c); its stop's
 * completion comes back to the control socket's loop as posted work.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/commands.h"
#include "ctl/ctl.h"
#include "ctl/render.h"
#include <stddef.h>
#include "refnet/diag.h"
#include "refnet/loop.h"
#include "refnet/error.h"
#include "refnet/netstat_walk.h"
#include "refnet/runtime.h"
#include "refnet/service.h"
#include "refnet/snapshot.h"
#include "refnet/socket.h"
#include "refnet/strbuf.h"

/* Exit status of a stop that did not complete in time. */
#define SVC_EXIT_STOP_TIMEOUT 3
#define SVC_STOP_TIMEOUT_DEFAULT RN_SEC(30)

struct stop_req;

#define SVC_LANES_MAX 64

struct rn__ctl_svc {
    struct rn_svcctl *cs_sc;       /* [I] */
    struct rn_stack *cs_stack;     /* [I] */
    rn_time_t cs_threshold;        /* [I] the watchdog's */
    struct stop_req *cs_stops;     /* [L] stop requests waiting */
    struct rn__ctl_lanes *cs_lanes; /* [I] the loops' stacks, or NULL */
    struct rn_svcctl *cs_lane_sc[SVC_LANES_MAX]; /* [I] [k]: loop k's services */
};

struct stop_req;

/* Another loop's part of a `svc stop`: begun, waited for and ended on
 * that loop's thread, then posted home. */
struct lane_stop {
    struct stop_req *ls_sr;        /* [I] */
    unsigned ls_lane;              /* [I] */
    struct rn_svc *ls_svc;         /* [I] that loop's instance */
    struct rn_svc_stop ls_stop;    /* the wait, on that loop */
    int ls_result;                 /* its end: 0, RN_ETIMEDOUT ... */
    struct rn_loop_work ls_work;   /* to that loop, then home */
};

/* One `svc stop` waiting. */
struct stop_req {
    struct stop_req *sr_next;      /* [L] on cs_stops */
    struct rn__ctl_svc *sr_cs;     /* [I] */
    struct rn_ctl_req *sr_req;     /* [L] the pending request, NULL once
                                      its client left */
    struct rn_svc *sr_svc;         /* [I] */
    rn_time_t sr_timeout;          /* [I] */
    rn_time_t sr_began;            /* [I] on the OS clock */
    struct rn_svc_stop sr_stop;    /* the wait */
    bool sr_own_done;              /* [L] the first loop's stop ended */
    int sr_own_result;             /* [L] how */
    unsigned sr_lanes_out;         /* [L] other loops' stops not yet home */
    unsigned sr_nlanes;            /* [I] entries of sr_lanes */
    struct lane_stop sr_lanes[];   /* [I] one per other loop's instance */
};

struct rn__ctl_svc *rn__ctl_svc_new(struct rn_svcctl *sc, struct rn_stack *st,
                                    rn_time_t threshold)
{
    struct rn__ctl_svc *cs = calloc(1, sizeof(*cs));

    if (cs != NULL) {
        cs->cs_sc = sc;
        cs->cs_stack = st;
        cs->cs_threshold = threshold;
    }
    return cs;
}

void rn__ctl_svc_set_lanes(struct rn__ctl_svc *cs, struct rn__ctl_lanes *lanes)
{
    cs->cs_lanes = lanes;
}

int rn__ctl_svc_add_lane(struct rn__ctl_svc *cs, unsigned lane, struct rn_svcctl *sc)
{
    if (lane == 0 || lane >= SVC_LANES_MAX)
        return RN_EINVAL;
    cs->cs_lane_sc[lane] = sc;
    return 0;
}

/* The loops beyond the first with a services' controller. */
static unsigned svc_lanes(const struct rn__ctl_svc *cs)
{
    unsigned n = rn__ctl_lanes_count(cs->cs_lanes);

    return n > SVC_LANES_MAX ? SVC_LANES_MAX : n;
}

void rn__ctl_svc_free(struct rn__ctl_svc *cs)
{
    if (cs == NULL)
        return;
    /* The server's close cancelled every request, which took them off. */
    free(cs);
}

/* Parses seconds ("5", "0.5") in (0, 86400].  Returns false if bad. */
static bool parse_seconds(const char *arg, rn_time_t *t)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (errno != 0 || end == arg || *end != '\0' || !isfinite(v) || v <= 0 || v > 86400)
        return false;
    *t = (rn_time_t)(v * 1e9 + 0.5);
    return true;
}

/* Finds the service named by argument i, or fails the request. */
static struct rn_svc *svc_arg(struct rn__ctl_svc *cs, struct rn_ctl_req *req, int i, int *st)
{
    const char *name = rn__ctl_req_arg(req, i);
    struct rn_svc *svc;
    char known[256];

    if (name == NULL) {
        *st = rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "which service? (usage: svc %s NAME)",
                              rn__ctl_req_arg(req, 1));
        return NULL;
    }
    svc = rn_svcctl_find(cs->cs_sc, name);
    if (svc == NULL) {
        rn_svcctl_kinds(cs->cs_sc, known, sizeof(known));
        *st = rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "no service '%s' (configured: %zu; known "
                              "kinds: %s)", name, rn_svcctl_count(cs->cs_sc), known);
    }
    return svc;
}

/* ---- svc stop ------------------------------------------------------------ */

static void stop_req_unlink(struct stop_req *sr)
{
    struct stop_req **pp;

    for (pp = &sr->sr_cs->cs_stops; *pp != NULL && *pp != sr; pp = &(*pp)->sr_next)
        ;
    if (*pp != NULL)
        *pp = sr->sr_next;
}

/* Every loop's stop ended: the answer.  A loop's instance that did not
 * stop in time adds its chain. */
static void svc_stop_answer(struct stop_req *sr)
{
    struct rn_ctl_req *req = sr->sr_req;
    struct rn_strbuf *out;
    const char *name = rn_svc_name(sr->sr_svc);
    rn_time_t took = rn_clock_os_monotonic() - sr->sr_began;
    int result = sr->sr_own_result, status = RN_CTL_EXIT_OK, rc;
    char a[32];
    unsigned k;

    stop_req_unlink(sr);
    if (req == NULL) {
        free(sr);  /* the client left meanwhile */
        return;
    }
    out = rn__ctl_req_out(req);
    for (k = 0; k < sr->sr_nlanes && result == 0; k++)
        result = sr->sr_lanes[k].ls_result;
    if (result == 0) {
        rn_strbuf_printf(out, "service %s STOPPED (stop took %s)\n", name,
                         rn_fmt_age(took, a, sizeof(a)));
    } else if (result == RN_ETIMEDOUT || sr->sr_own_result == RN_ETIMEDOUT) {
        status = SVC_EXIT_STOP_TIMEOUT;
        rn_strbuf_printf(out, "refnet svc: %s did not stop within %s; it stays %s. Why:\n", name,
                         rn_fmt_age(sr->sr_timeout, a, sizeof(a)),
                         rn_svc_state_name(rn_svc_state(sr->sr_svc)));
        rc = sr->sr_own_result == RN_ETIMEDOUT
                 ? rn_svc_why(sr->sr_svc, sr->sr_cs->cs_threshold, out) : 0;
        for (k = 0; k < sr->sr_nlanes && rc >= 0; k++)
            if (sr->sr_lanes[k].ls_result == RN_ETIMEDOUT)
                rc = rn_svc_why(sr->sr_lanes[k].ls_svc, sr->sr_cs->cs_threshold, out);
        if (rc < 0)
            rn_strbuf_printf(out, "(no diagnosis: %s)\n", rn_strerror(rc));
    } else {
        status = rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "%s: the daemon is shutting down; "
                                 "the stop goes on without a waiter", name);
    }
    rn__ctl_req_complete(req, status);
    free(sr);
}

static void svc_stop_done(struct rn_svc_stop *stp, int result, void *ctx)
{
    struct stop_req *sr = ctx;

    (void)stp;
    sr->sr_own_done = true;
    sr->sr_own_result = result;
    if (sr->sr_lanes_out == 0)
        svc_stop_answer(sr);
}

/* Home, on the control socket's loop: another loop's stop ended. */
static void lane_stop_home(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct lane_stop *ls = (struct lane_stop *)((char *)w - offsetof(struct lane_stop, ls_work));
    struct stop_req *sr = ls->ls_sr;

    (void)loop;
    if (--sr->sr_lanes_out == 0 && sr->sr_own_done)
        svc_stop_answer(sr);
}

/* On the other loop: its stop ended. */
static void lane_stop_done(struct rn_svc_stop *stp, int result, void *ctx)
{
    struct lane_stop *ls = ctx;

    (void)stp;
    ls->ls_result = result;
    rn_loop_post(rn__ctl_lanes_loop(ls->ls_sr->sr_cs->cs_lanes, 0), &ls->ls_work,
                 lane_stop_home);
}

/* On the other loop: its instance's stop begins. */
static void lane_stop_begin(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct lane_stop *ls = (struct lane_stop *)((char *)w - offsetof(struct lane_stop, ls_work));
    int rc;

    (void)loop;
    rc = rn_svc_stop(ls->ls_svc, ls->ls_sr->sr_timeout, &ls->ls_stop, lane_stop_done, ls);
    if (rc != 0)
        lane_stop_done(&ls->ls_stop, rc == 1 ? 0 : rc, ls);  /* stopped already, or cannot */
}

static void svc_stop_cancelled(struct rn_ctl_req *req, void *ctx)
{
    struct stop_req *sr = ctx;

    /* The client left: stop waiting (the stops themselves go on).  The
     * other loops' waits end by their timeout and come home to free sr. */
    if (!sr->sr_own_done) {
        rn_svc_stop_cancel(&sr->sr_stop);
        sr->sr_own_done = true;
        sr->sr_own_result = RN_EIO;  /* unseen: no one is told */
    }
    sr->sr_req = NULL;
    rn__ctl_req_complete(req, RN_CTL_EXIT_FAIL);
    if (sr->sr_lanes_out == 0) {
        stop_req_unlink(sr);
        free(sr);
    }
}

/* The same service on each other loop (the stop's part there), found on
 * that loop. */
struct lane_find {
    struct rn__ctl_svc *lf_cs;
    const char *lf_name;
    struct rn_svc *lf_svc[SVC_LANES_MAX];
};

static void lane_find(unsigned lane, struct rn_stack *st, void *ctx)
{
    struct lane_find *lf = ctx;

    (void)st;
    if (lane > 0 && lf->lf_cs->cs_lane_sc[lane] != NULL)
        lf->lf_svc[lane] = rn_svcctl_find(lf->lf_cs->cs_lane_sc[lane], lf->lf_name);
}

static int svc_stop(struct rn__ctl_svc *cs, struct rn_ctl_req *req)
{
    rn_time_t timeout = SVC_STOP_TIMEOUT_DEFAULT;
    struct rn_svc *svc = NULL;
    struct stop_req *sr;
    struct lane_find lf;
    bool have_timeout = false;
    unsigned k, n;
    int i, st = 0, rc;

    for (i = 2; i < rn__ctl_req_argc(req); i++) {
        const char *a = rn__ctl_req_arg(req, i);

        if (strcmp(a, "--timeout") == 0 || strncmp(a, "--timeout=", 10) == 0) {
            const char *v = a[9] == '=' ? a + 10 : rn__ctl_req_arg(req, ++i);

            if (have_timeout)
                return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--timeout given twice");
            if (v == NULL || !parse_seconds(v, &timeout))
                return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--timeout: '%s': must be a "
                                       "number of seconds in (0, 86400]", v ? v : "");
            have_timeout = true;
        } else if (svc == NULL && a[0] != '-') {
            svc = svc_arg(cs, req, i, &st);
            if (svc == NULL)
                return st;
        } else {
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "unexpected argument '%s' (usage: "
                                   "svc stop NAME [--timeout S])", a);
        }
    }
    if (svc == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "which service? (usage: svc stop NAME "
                               "[--timeout S])");
    lf.lf_cs = cs;
    lf.lf_name = rn_svc_name(svc);
    memset(lf.lf_svc, 0, sizeof(lf.lf_svc));
    rn__ctl_lanes_each(cs->cs_lanes, lane_find, &lf);
    for (k = 1, n = 0; k < svc_lanes(cs); k++)
        n += lf.lf_svc[k] != NULL;
    sr = calloc(1, sizeof(*sr) + n * sizeof(sr->sr_lanes[0]));
    if (sr == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory");
    sr->sr_cs = cs;
    sr->sr_req = req;
    sr->sr_svc = svc;
    sr->sr_timeout = timeout;
    sr->sr_began = rn_clock_os_monotonic();
    rc = rn_svc_stop(svc, timeout, &sr->sr_stop, svc_stop_done, sr);
    if (rc != 0 && n == 0) {
        free(sr);
        if (rc == 1) {
            rn_strbuf_printf(rn__ctl_req_out(req), "service %s already STOPPED\n",
                             rn_svc_name(svc));
            return RN_CTL_EXIT_OK;
        }
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "%s is %s: try again once it is RUNNING",
                               rn_svc_name(svc), rn_svc_state_name(rn_svc_state(svc)));
    }
    if (rc != 0) {
        /* This loop's is stopped (or stopping); the others' still go. */
        sr->sr_own_done = true;
        sr->sr_own_result = rc == 1 ? 0 : RN_EBUSY;
    }
    sr->sr_next = cs->cs_stops;
    cs->cs_stops = sr;
    for (k = 1; k < svc_lanes(cs); k++) {
        struct lane_stop *ls;

        if (lf.lf_svc[k] == NULL)
            continue;
        ls = &sr->sr_lanes[sr->sr_nlanes++];
        ls->ls_sr = sr;
        ls->ls_lane = k;
        ls->ls_svc = lf.lf_svc[k];
        sr->sr_lanes_out++;
        rn_loop_post(rn__ctl_lanes_loop(cs->cs_lanes, k), &ls->ls_work, lane_stop_begin);
    }
    rn__ctl_req_on_cancel(req, svc_stop_cancelled, sr);
    return RN_CTL_PENDING;
}

/* ---- The other loops' instances --------------------------------------------- */

/* What to do to a built-in service on each other loop, and how it went. */
struct lane_op {
    struct rn__ctl_svc *lo_cs;
    enum { LO_START, LO_STOP, LO_DRAIN, LO_REMOVE } lo_op;
    const char *lo_spec;        /* LO_START: NAME[=ARG]; else NAME */
    rn_time_t lo_grace;         /* LO_DRAIN */
    int lo_rc;                  /* the first failure, 0 if none */
    unsigned lo_lane;           /* its loop */
    char lo_err[600];           /* its reason */
};

static void lane_op(unsigned lane, struct rn_stack *st, void *ctx)
{
    struct lane_op *lo = ctx;
    struct rn_svcctl *sc = lo->lo_cs->cs_lane_sc[lane];
    char name[32], err[600] = "";
    struct rn_svc *svc;
    int rc = 0;

    (void)st;
    if (lane == 0 || sc == NULL)
        return;
    snprintf(name, sizeof(name), "%.*s", (int)strcspn(lo->lo_spec, "="), lo->lo_spec);
    svc = rn_svcctl_find(sc, name);
    switch (lo->lo_op) {
    case LO_START:
        if (svc == NULL)
            rc = rn_svcctl_add(sc, lo->lo_spec, &svc, err, sizeof(err));
        if (rc == 0) {
            rc = rn_svc_start(svc, err, sizeof(err));
            rc = rc == 1 ? 0 : rc;
        }
        break;
    case LO_STOP:  /* no one waits */
        rc = svc != NULL ? rn_svc_stop(svc, 0, NULL, NULL, NULL) : 0;
        rc = rc == 1 ? 0 : rc;
        break;
    case LO_DRAIN:
        rc = svc != NULL ? rn_svc_set_drain(svc, lo->lo_grace) : 0;
        break;
    case LO_REMOVE:
        rc = svc != NULL ? rn_svcctl_remove(sc, svc, err, sizeof(err)) : 0;
        break;
    }
    if (rc < 0 && lo->lo_rc == 0) {
        lo->lo_rc = rc;
        lo->lo_lane = lane;
        snprintf(lo->lo_err, sizeof(lo->lo_err), "%s", err[0] ? err : rn_strerror(rc));
    }
}

/* Does op to the service on every other loop, if svc is a built-in kind
 * (a command run as a service is the first loop's alone).  Returns 0, or
 * the first failure that came (lo says which loop and why). */
static int lanes_run(struct rn__ctl_svc *cs, const struct rn_svc *svc, struct lane_op *lo)
{
    if (svc_lanes(cs) <= 1 || strcmp(rn_svc_kind(svc)->sk_name, "exec") == 0)
        return 0;
    lo->lo_cs = cs;
    rn__ctl_lanes_each(cs->cs_lanes, lane_op, lo);
    return lo->lo_rc;
}

/* lanes_run() for a request: fails it with the failure. */
static int lanes_op(struct rn__ctl_svc *cs, struct rn_ctl_req *req, const struct rn_svc *svc,
                    struct lane_op *lo)
{
    if (lanes_run(cs, svc, lo) == 0)
        return 0;
    return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "%s on loop %u: %s", rn_svc_name(svc),
                           lo->lo_lane, lo->lo_err);
}

/* ---- svc drain ---------------------------------------------------------------- */

static int svc_drain(struct rn__ctl_svc *cs, struct rn_ctl_req *req)
{
    const char *v = rn__ctl_req_arg(req, 3);
    struct rn_strbuf *out = rn__ctl_req_out(req);
    rn_time_t grace = 0;
    struct rn_svc *svc;
    char a[32];
    int st = 0, rc;

    if (rn__ctl_req_argc(req) < 3 || rn__ctl_req_argc(req) > 4)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: svc drain NAME [SECONDS]");
    svc = svc_arg(cs, req, 2, &st);
    if (svc == NULL)
        return st;
    if (v != NULL) {
        if (strcmp(v, "0") != 0 && (!parse_seconds(v, &grace) || grace > RN_SVC_DRAIN_MAX))
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "svc drain: '%s': must be a number "
                                   "of seconds in [0, 3600]", v);
        rc = rn_svc_set_drain(svc, grace);
        if (rc == 0) {
            struct lane_op lo = {.lo_op = LO_DRAIN, .lo_spec = rn_svc_name(svc),
                                 .lo_grace = grace};

            st = lanes_op(cs, req, svc, &lo);
            if (st != 0)
                return st;
        }
        if (rc == RN_ENOTSUP)
            return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "%s cannot drain (kind %s): a "
                                   "service run as a program stops by its own stop signal "
                                   "and grace (svc add --stop-signal, --stop-grace)",
                                   rn_svc_name(svc), rn_svc_kind(svc)->sk_name);
        if (rc < 0)
            return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "svc drain: %s", rn_strerror(rc));
    }
    grace = rn_svc_drain_grace(svc);
    if (grace == 0)
        rn_strbuf_printf(out, "service %s: a stop aborts its connections at once\n",
                         rn_svc_name(svc));
    else
        rn_strbuf_printf(out, "service %s: a stop drains its connections for up to %s, then "
                         "aborts what is left\n", rn_svc_name(svc),
                         rn_fmt_age(grace, a, sizeof(a)));
    return RN_CTL_EXIT_OK;
}

/* ---- svc start, status, list --------------------------------------------------- */

static int svc_start(struct rn__ctl_svc *cs, struct rn_ctl_req *req)
{
    const char *spec = rn__ctl_req_arg(req, 2);
    char name[32], err[600];
    struct rn_svc *svc;
    struct rn_proc *p;
    size_t n;
    int rc;

    if (rn__ctl_req_argc(req) != 3)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: svc start NAME[=ARG]");
    n = strcspn(spec, "=");
    if (n == 0 || n >= sizeof(name))
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "'%s': not a service name", spec);
    memcpy(name, spec, n);
    name[n] = '\0';
    svc = rn_svcctl_find(cs->cs_sc, name);
    if (svc != NULL && spec[n] == '=' &&
        (rn_svc_arg(svc) == NULL || strcmp(rn_svc_arg(svc), spec + n + 1) != 0))
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "%s is configured as %s%s%s; start it "
                               "as `svc start %s`", name, name, rn_svc_arg(svc) ? "=" : "",
                               rn_svc_arg(svc) ? rn_svc_arg(svc) : "", name);
    if (svc == NULL) {
        err[0] = '\0';
        rc = rn_svcctl_add(cs->cs_sc, spec, &svc, err, sizeof(err));
        if (rc != 0)
            return rn__ctl_req_fail(req, rc == RN_ENOMEM ? RN_CTL_EXIT_FAIL : RN_CTL_EXIT_USAGE,
                                   "%s", err);
    }
    rc = rn_svc_start(svc, err, sizeof(err));
    if (rc >= 0) {
        struct lane_op lo = {.lo_op = LO_START, .lo_spec = spec};
        int st = lanes_op(cs, req, svc, &lo);

        if (st != 0)
            return st;
    }
    if (rc == 1) {
        rn_strbuf_printf(rn__ctl_req_out(req), "service %s already %s\n", name,
                         rn_svc_state_name(rn_svc_state(svc)));
        return RN_CTL_EXIT_OK;
    }
    if (rc < 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "cannot start %s: %s", name, err);
    p = rn_svc_proc(svc);
    if (p != NULL) {
        rn_strbuf_printf(rn__ctl_req_out(req), "service %s RUNNING, process %s (pid %" PRIu32
                         ")\n", name, rn_proc_name(p), rn_proc_pid(p));
    } else {
        struct rn_svc_exec_info ei;

        (void)rn_svc_exec_info(svc, &ei);
        rn_strbuf_printf(rn__ctl_req_out(req), "service %s RUNNING, pid %" PRId32 " (real "
                         "process #%" PRIu64 ")\n", name, ei.ei_pid, ei.ei_run);
    }
    return RN_CTL_EXIT_OK;
}

int rn__ctl_svc_act(struct rn__ctl_svc *cs, const char *name, bool stop, char *err,
                    size_t errlen)
{
    struct rn_svc *svc = rn_svcctl_find(cs->cs_sc, name);
    struct lane_op lo = {.lo_op = stop ? LO_STOP : LO_START, .lo_spec = name};
    int rc;

    err[0] = '\0';
    if (svc == NULL) {
        snprintf(err, errlen, "no service '%s'", name);
        return RN_ENOENT;
    }
    if (stop) {
        rc = rn_svc_stop(svc, 0, NULL, NULL, NULL);
        if (rc < 0)
            snprintf(err, errlen, "%s is %s: try again once it is RUNNING", name,
                     rn_svc_state_name(rn_svc_state(svc)));
    } else {
        rc = rn_svc_start(svc, err, errlen);
    }
    /* The other loops' instances, whatever the first loop's said. */
    if (lanes_run(cs, svc, &lo) != 0 && rc >= 0) {
        snprintf(err, errlen, "%s on loop %u: %s", name, lo.lo_lane, lo.lo_err);
        rc = lo.lo_rc;
    }
    return rc < 0 ? rc : 0;
}

/* ---- svc add, remove ------------------------------------------------------------- */

#define SVC_ADD_USAGE "usage: svc add NAME [--stop-signal SIG] [--stop-grace S] [--stop-main] " \
                      "-- COMMAND..."

static int svc_add(struct rn__ctl_svc *cs, struct rn_ctl_req *req)
{
    const char *argv[RN_SVC_EXEC_ARGV_MAX + 1];
    const char *name = rn__ctl_req_arg(req, 2);
    int i, n = rn__ctl_req_argc(req), k = 0, rc;
    struct rn_svc_exec ex = {0};
    bool have_sig = false, have_grace = false;
    char err[600];

    if (name == NULL || name[0] == '-')
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "which service? (" SVC_ADD_USAGE ")");
    for (i = 3; i < n && strcmp(rn__ctl_req_arg(req, i), "--") != 0; i++) {
        const char *a = rn__ctl_req_arg(req, i), *v = NULL;
        bool sig = strncmp(a, "--stop-signal", 13) == 0 && (a[13] == '\0' || a[13] == '=');
        bool grace = strncmp(a, "--stop-grace", 12) == 0 && (a[12] == '\0' || a[12] == '=');

        if (strcmp(a, "--stop-main") == 0) {
            ex.ex_stop_main = true;
            continue;
        }
        if (!sig && !grace)
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "unexpected argument '%s' before "
                                   "-- (" SVC_ADD_USAGE ")", a);
        v = strchr(a, '=') ? strchr(a, '=') + 1 : rn__ctl_req_arg(req, ++i);
        if (v == NULL)
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "%s needs a value",
                                   sig ? "--stop-signal" : "--stop-grace");
        if ((sig && have_sig) || (grace && have_grace))
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "%s given twice",
                                   sig ? "--stop-signal" : "--stop-grace");
        if (sig) {
            have_sig = true;
            ex.ex_stop_signal = rn_svc_signal_parse(v);
            if (ex.ex_stop_signal == 0)
                return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--stop-signal: '%s': not a "
                                       "signal (a name such as TERM or SIGWINCH, or a "
                                       "number)", v);
        } else {
            have_grace = true;
            if (!parse_seconds(v, &ex.ex_grace) || ex.ex_grace > RN_SEC(3600))
                return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "--stop-grace: '%s': must be "
                                       "a number of seconds in (0, 3600]", v);
        }
    }
    if (i >= n)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "the command goes after -- (%s)",
                               SVC_ADD_USAGE);
    for (i++; i < n; i++) {
        if (k == RN_SVC_EXEC_ARGV_MAX)
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "a command has at most %d words",
                                   RN_SVC_EXEC_ARGV_MAX);
        argv[k++] = rn__ctl_req_arg(req, i);
    }
    argv[k] = NULL;
    if (k == 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "no command after -- (%s)",
                               SVC_ADD_USAGE);
    ex.ex_argv = argv;
    err[0] = '\0';
    rc = rn_svcctl_add_exec(cs->cs_sc, name, &ex, NULL, err, sizeof(err));
    if (rc != 0)
        return rn__ctl_req_fail(req, rc == RN_EINVAL ? RN_CTL_EXIT_USAGE : RN_CTL_EXIT_FAIL,
                               "cannot add %s: %s", name, err);
    rn_strbuf_printf(rn__ctl_req_out(req), "service %s added, STOPPED (`refnet svc start %s` "
                     "starts it)\n", name, name);
    return RN_CTL_EXIT_OK;
}

static int svc_remove(struct rn__ctl_svc *cs, struct rn_ctl_req *req)
{
    struct rn_svc *svc;
    char err[200], name[32];
    int st = 0;

    if (rn__ctl_req_argc(req) != 3)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: svc remove NAME");
    svc = svc_arg(cs, req, 2, &st);
    if (svc == NULL)
        return st;
    snprintf(name, sizeof(name), "%s", rn_svc_name(svc));
    if (rn_svc_state(svc) == RN_SVC_STOPPED) {
        struct lane_op lo = {.lo_op = LO_REMOVE, .lo_spec = name};

        st = lanes_op(cs, req, svc, &lo);
        if (st != 0)
            return st;
    }
    if (rn_svcctl_remove(cs->cs_sc, svc, err, sizeof(err)) != 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "cannot remove %s: %s", name, err);
    rn_strbuf_printf(rn__ctl_req_out(req), "service %s removed\n", name);
    return RN_CTL_EXIT_OK;
}

/* The listing's view of the other loops' instances: gathered on each
 * loop in turn, for the services of the first loop's listed. */
struct lane_first {
    const char *lf_name;                  /* the service's */
    size_t lf_n;                          /* its counters */
    struct rn_svc_counter lf_c[RN_SVC_COUNTERS_MAX]; /* their names */
};

struct lane_sum {
    struct rn__ctl_svc *ls_cs;
    size_t ls_n;                          /* services listed */
    struct lane_first *ls_first;          /* [i]: the first loop's, read
                                             on the first loop */
    struct rn__svc_loops *ls_loops;       /* [i]: what the others add */
};

static void lane_sum(unsigned lane, struct rn_stack *st, void *ctx)
{
    struct lane_sum *ls = ctx;
    struct rn_svcctl *sc = ls->ls_cs->cs_lane_sc[lane];
    struct rn_svc_counter theirs[RN_SVC_COUNTERS_MAX];
    size_t i, k, j, nt;

    (void)st;
    if (lane == 0 || sc == NULL)
        return;
    for (i = 0; i < ls->ls_n; i++) {
        const struct lane_first *lf = &ls->ls_first[i];
        struct rn__svc_loops *sl = &ls->ls_loops[i];
        const struct rn_svc *svc = rn_svcctl_find(sc, lf->lf_name);
        struct rn_proc *p;

        if (svc == NULL || sl->sl_loops >= RN__SVC_LOOPS_MAX)
            continue;
        sl->sl_state[sl->sl_loops++] = (unsigned char)rn_svc_state(svc);
        p = rn_svc_proc(svc);
        sl->sl_handles += p != NULL ? rn_proc_handles(p) : 0;
        /* By the first loop's counter names, in its order. */
        nt = rn_svc_counters(svc, theirs);
        for (k = 0; k < lf->lf_n; k++)
            for (j = 0; j < nt; j++)
                if (strcmp(lf->lf_c[k].sc_name, theirs[j].sc_name) == 0) {
                    sl->sl_counters[k] += theirs[j].sc_value;
                    break;
                }
    }
}

int rn__ctl_svc_render(struct rn__ctl_svc *cs, const struct rn_svc *only, struct rn_strbuf *out,
                       bool json)
{
    size_t i, n = only != NULL ? 1 : rn_svcctl_count(cs->cs_sc);
    struct lane_sum ls = {cs, n, NULL, NULL};

    if (svc_lanes(cs) <= 1 || n == 0) {
        rn__render_services(cs->cs_sc, only, rn_stack_now(cs->cs_stack), NULL, out, json);
        return out->sb_oom ? RN_ENOMEM : 0;
    }
    ls.ls_first = calloc(n, sizeof(*ls.ls_first));
    ls.ls_loops = calloc(n, sizeof(*ls.ls_loops));
    if (ls.ls_first == NULL || ls.ls_loops == NULL) {
        free(ls.ls_first);
        free(ls.ls_loops);
        return RN_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        const struct rn_svc *svc = only != NULL ? only : rn_svcctl_at(cs->cs_sc, i);

        ls.ls_first[i].lf_name = rn_svc_name(svc);
        ls.ls_first[i].lf_n = rn_svc_counters(svc, ls.ls_first[i].lf_c);
        ls.ls_loops[i].sl_loops = 1;
        ls.ls_loops[i].sl_state[0] = (unsigned char)rn_svc_state(svc);
    }
    rn__ctl_lanes_each(cs->cs_lanes, lane_sum, &ls);
    rn__render_services(cs->cs_sc, only, rn_stack_now(cs->cs_stack), ls.ls_loops, out, json);
    free(ls.ls_first);
    free(ls.ls_loops);
    return out->sb_oom ? RN_ENOMEM : 0;
}

/* `svc list` and `svc status NAME`: the first loop's services, with the
 * counters (and handles) of every loop's instance summed. */
static int svc_listing(struct rn__ctl_svc *cs, struct rn_ctl_req *req, const struct rn_svc *only)
{
    if (rn__ctl_svc_render(cs, only, rn__ctl_req_out(req), rn__ctl_req_json(req)) != 0)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory");
    return RN_CTL_EXIT_OK;
}

static int rn__cmd_svc(struct rn_ctl_req *req, void *ctx)
{
    struct rn__ctl_svc *cs = ctx;
    const char *sub = rn__ctl_req_arg(req, 1);
    struct rn_svc *svc;
    int st = 0;

    if (sub == NULL || strcmp(sub, "list") == 0) {
        if (rn__ctl_req_argc(req) > 2)
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "unexpected argument '%s' (usage: "
                                   "svc list)", rn__ctl_req_arg(req, 2));
        return svc_listing(cs, req, NULL);
    }
    if (strcmp(sub, "status") == 0) {
        if (rn__ctl_req_argc(req) != 3)
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: svc status NAME");
        svc = svc_arg(cs, req, 2, &st);
        if (svc == NULL)
            return st;
        return svc_listing(cs, req, svc);
    }
    if (strcmp(sub, "start") == 0)
        return svc_start(cs, req);
    if (strcmp(sub, "stop") == 0)
        return svc_stop(cs, req);
    if (strcmp(sub, "add") == 0)
        return svc_add(cs, req);
    if (strcmp(sub, "remove") == 0)
        return svc_remove(cs, req);
    if (strcmp(sub, "drain") == 0)
        return svc_drain(cs, req);
    return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "unknown subcommand '%s' (svc list | status "
                           "NAME | start NAME | stop NAME [--timeout S] | drain NAME [S] | "
                           "add NAME ... -- COMMAND... | remove NAME)", sub);
}

/* ---- why ------------------------------------------------------------------------ */

static int rn__cmd_why(struct rn_ctl_req *req, void *ctx)
{
    struct rn__ctl_svc *cs = ctx;
    struct rn_strbuf *out = rn__ctl_req_out(req);
    const char *what = rn__ctl_req_arg(req, 1);
    struct rn_snapshot *s;
    struct rn_svc *svc = NULL;
    uint64_t id = 0;
    int rc;

    if (rn__ctl_req_argc(req) > 2)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: why [SERVICE|OBJECT-ID]");
    if (what != NULL) {
        svc = rn_svcctl_find(cs->cs_sc, what);
        if (svc == NULL && rn__ctl_parse_id(what, &id) != 0)
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "'%s': neither a service nor an "
                                   "object id (a number such as 17 or #17)", what);
        if (svc != NULL)
            id = rn_svc_id(svc);
    }
    s = rn_ob_snapshot();
    if (s == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory for the snapshot");
    s->s_threshold = cs->cs_threshold;
    if (what == NULL) {
        int no;

        rc = rn_diag_render_chains(s, 0, out);
        if (rc == 0)
            rn_strbuf_puts(out, "no wait pending: nothing waits for an object's release\n");
        no = rn_diag_render_orphans(s, out);
        if (no < 0)
            rc = no;
        else if (no == 0 && rc >= 0)
            rn_strbuf_puts(out, "no orphan: every object killed longer ago than its bound is "
                                "waited for or held for a reason\n");
    } else {
        rc = rn_diag_render_for(s, id, out);
        if (svc != NULL && rc >= 0 && svc_lanes(cs) > 1) {
            /* The same service on the other loops: each its chain. */
            struct lane_find lf = {cs, what, {0}};
            unsigned k;

            rn__ctl_lanes_each(cs->cs_lanes, lane_find, &lf);
            for (k = 1; k < svc_lanes(cs) && rc >= 0; k++)
                if (lf.lf_svc[k] != NULL)
                    rc = rn_diag_render_for(s, rn_svc_id(lf.lf_svc[k]), out);
            rc = rc == RN_ENOENT ? 0 : rc;
        }
        if (rc == RN_ENOENT) {
            rn_snapshot_free(s);
            return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "no object #%" PRIu64 " (released, "
                                   "or never was)", id);
        }
    }
    rn_snapshot_free(s);
    if (rc < 0 || out->sb_oom)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory while rendering");
    return RN_CTL_EXIT_OK;
}

/* ---- lab --------------------------------------------------------------------------- */

/* One object whose lost holds were given back, as a line of the answer. */
static void leak_line(const struct rn_netstat_leak *leak, void *ctx)
{
    rn_strbuf_printf(ctx, "  %s #%" PRIu64 ": %" PRIu32 " 'enum' hold%s given back\n",
                     leak->nl_desc, leak->nl_id, leak->nl_holds, leak->nl_holds == 1 ? "" : "s");
}

static int rn__cmd_lab(struct rn_ctl_req *req, void *ctx)
{
    struct rn_strbuf list = RN_STRBUF_INIT;
    struct rn_strbuf *out = rn__ctl_req_out(req);
    const char *sub = rn__ctl_req_arg(req, 1);
    uint64_t n;

    (void)ctx;
    if (sub == NULL || strcmp(sub, "clear-leak") != 0 || rn__ctl_req_argc(req) != 2)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "the daemon's lab knows one command: "
                               "lab clear-leak");
    n = rn_netstat_clear_leaks(leak_line, &list);
    if (n == 0)
        rn_strbuf_puts(out, "no 'enum' hold was lost: nothing to give back\n");
    else
        rn_strbuf_printf(out, "gave back %" PRIu64 " 'enum' hold%s the injected enumeration "
                         "fault had lost:\n%s", n, n == 1 ? "" : "s", rn_strbuf_str(&list));
    rn_strbuf_free(&list);
    return RN_CTL_EXIT_OK;
}

static const struct rn_ctl_cmd svc_cmds[] = {
    {"svc", rn__cmd_svc, "svc [list | status NAME | start NAME | stop NAME [--timeout S] | "
                         "add NAME [--stop-signal SIG] [--stop-grace S] [--stop-main] -- COMMAND... | "
                         "remove NAME]"},
    {"why", rn__cmd_why, "why [SERVICE|OBJECT-ID]"},
    {"lab", rn__cmd_lab, "lab clear-leak"},
};

int rn__ctl_add_svc_cmds(struct rn_ctl_server *srv, struct rn__ctl_svc *cs)
{
    return rn__ctl_server_add(srv, svc_cmds, sizeof(svc_cmds) / sizeof(svc_cmds[0]), cs);
}
