/*
 * The `netstat` control command: every TCP listener, connection and
 * TIME_WAIT entry and every bound UDP endpoint of the daemon's stack, with
 * queues, reference count and object id, through the batched walk of the
 * object registry (netstat_walk.h, src/socket/netstat_walk.c).
 *
 *   netstat [-a] [-i] [--refs] [--json]
 *     without -a: connections and TIME_WAIT entries, and connected UDP
 *     endpoints; with -a: listeners and unconnected UDP endpoints too;
 *     -i: each TCP connection's statistics (TCP_INFO, as ss -i);
 *     --refs: each row's owner (service or process, pid), and its holders
 *     tag by tag; listeners with the number of connections on them.
 *
 * One batch runs per wake of the loop, in call order:
 *   rn__cmd_netstat() [L]: rn_netstat_walk_start(), post ns_resume, pending
 *   ns_resume() [L, loop work]: rn_netstat_walk_resume(): one batch,
 *     measured on the OS clock (at most ~0.4 ms)
 *     -> ns_yield(): posts ns_resume again, behind the stack's next poll
 *     -> ns_done(): completes the request, frees the walk
 * A client that leaves marks its job; the job's next ns_resume() cancels
 * the walk, which lets go of everything it holds.  A daemon started with
 * `--inject enum-leak` runs every walk with the lab's fault armed.
 *
 * With receive-side scaling the daemon has a stack per loop
 * (rn__ctl_netstat_add_lane()): the listing is one walk per stack, each
 * on its stack's loop, one after the other; the request's output passes
 * from loop to loop with the work that carries the job (a post is a
 * hand-over: what one thread wrote before it, the next reads after), and
 * the request completes back on the first loop, the control socket's.
 */
#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "refnet/clock.h"
#include "refnet/error.h"
#include "ctl/ctl.h"
#include "ctl/render.h"
#include "refnet/loop.h"
#include "refnet/netstat_walk.h"
#include "refnet/strbuf.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct ns_job;

#define NS_LANES_MAX 64

struct rn__ctl_netstat {
    struct rn_loop *cn_loop;    /* [I] the control socket's */
    struct rn_stack *cn_stack;  /* [I] */
    bool cn_inject;             /* [I] --inject enum-leak */
    struct ns_job *cn_jobs;     /* [L] walks running */
    unsigned cn_nlanes;         /* [I] stacks walked: cn_stack, then the lanes' */
    struct rn_loop *cn_loops[NS_LANES_MAX];   /* [I] [0] is cn_loop */
    struct rn_stack *cn_stacks[NS_LANES_MAX]; /* [I] [0] is cn_stack */
};

/* One listing in progress. */
struct ns_job {
    struct ns_job *nj_next;          /* [L] on cn_jobs */
    struct rn__ctl_netstat *nj_cn;   /* [I] */
    struct rn_ctl_req *nj_req;       /* [L] the pending request */
    struct rn_netstat_walk *nj_walk; /* [L] of the lane walked */
    struct rn_netstat_params nj_np;  /* [I] the walks' parameters */
    char nj_what[48];                /* [I] their np_what */
    unsigned nj_lane;                /* the stack walked now: its loop's thread
                                        has the job (handed over by posts) */
    int nj_status;                   /* the request's end, once every lane ran */
    bool nj_refs;                    /* [I] --refs */
    bool nj_json;                    /* [I] --json */
    bool nj_first;                   /* no JSON row yet */
    atomic_bool nj_cancelled;        /* [A] the client left */
    struct rn_loop_work nj_work;     /* runs the next batch */
};

static rn_time_t ns_clock(void *ctx)
{
    (void)ctx;
    return rn_clock_os_monotonic();
}

static rn_time_t ns_cpu_clock(void *ctx)
{
    struct timespec ts;

    (void)ctx;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (rn_time_t)ts.tv_sec * RN_NSEC_PER_SEC + (rn_time_t)ts.tv_nsec;
}

static void ns_job_end(struct ns_job *job, int status)
{
    struct ns_job **pp;

    for (pp = &job->nj_cn->cn_jobs; *pp != job; pp = &(*pp)->nj_next)
        ;
    *pp = job->nj_next;
    rn__ctl_req_complete(job->nj_req, status);
    free(job);
}

/* Back on the control socket's loop: the request completes. */
static void ns_finish(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct ns_job *job = container_of(w, struct ns_job, nj_work);

    (void)loop;
    ns_job_end(job, job->nj_status);
}

/* The job leaves lane nj_lane's loop: to the next lane's, or home. */
static void ns_lane_done(struct ns_job *job, int status);

static void ns_resume(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct ns_job *job = container_of(w, struct ns_job, nj_work);

    (void)loop;
    if (atomic_load(&job->nj_cancelled)) {
        rn_netstat_walk_cancel(job->nj_walk);
        job->nj_walk = NULL;
        ns_lane_done(job, RN_CTL_EXIT_FAIL);
        return;
    }
    rn_netstat_walk_resume(job->nj_walk);
}

/* On lane nj_lane's loop: its stack's walk begins. */
static void ns_lane_start(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct ns_job *job = container_of(w, struct ns_job, nj_work);

    (void)loop;
    if (atomic_load(&job->nj_cancelled) ||
        rn_netstat_walk_start(job->nj_cn->cn_stacks[job->nj_lane], &job->nj_np,
                              &job->nj_walk) != 0) {
        job->nj_walk = NULL;
        ns_lane_done(job, RN_CTL_EXIT_FAIL);
        return;
    }
    rn_netstat_walk_resume(job->nj_walk);
}

static void ns_lane_done(struct ns_job *job, int status)
{
    struct rn__ctl_netstat *cn = job->nj_cn;

    if (status == RN_CTL_EXIT_OK && job->nj_lane + 1 < cn->cn_nlanes) {
        job->nj_lane++;
        rn_loop_post(cn->cn_loops[job->nj_lane], &job->nj_work, ns_lane_start);
        return;
    }
    if (status == RN_CTL_EXIT_OK)
        rn__render_netstat_end(rn__ctl_req_out(job->nj_req), job->nj_json);
    job->nj_status = status;
    if (job->nj_lane == 0)
        ns_job_end(job, status);
    else
        rn_loop_post(cn->cn_loop, &job->nj_work, ns_finish);
}

static void ns_yield(struct rn_netstat_walk *w, void *ctx)
{
    struct ns_job *job = ctx;

    (void)w;
    /* Loop work runs after the stack's poll of the next wake: traffic
     * goes between two batches. */
    rn_loop_post(job->nj_cn->cn_loops[job->nj_lane], &job->nj_work, ns_resume);
}

static void ns_row(const struct rn_netstat_walk_row *row, void *ctx)
{
    struct ns_job *job = ctx;

    rn__render_netstat_row_loop(rn__ctl_req_out(job->nj_req), row, job->nj_refs, job->nj_json,
                                &job->nj_first,
                                job->nj_cn->cn_nlanes > 1 ? (int)job->nj_lane : -1);
}

static void ns_done(struct rn_netstat_walk *w, void *ctx)
{
    struct ns_job *job = ctx;
    struct rn_netstat_stats stats;
    bool oom;

    rn_netstat_walk_stats(w, &stats);
    oom = rn__ctl_req_out(job->nj_req)->sb_oom || stats.nst_lost > 0;

    rn_netstat_walk_free(w);
    job->nj_walk = NULL;
    if (oom)
        (void)rn__ctl_req_fail(job->nj_req, RN_CTL_EXIT_FAIL, "out of memory for the listing");
    ns_lane_done(job, oom ? RN_CTL_EXIT_FAIL : RN_CTL_EXIT_OK);
}

static void ns_cancelled(struct rn_ctl_req *req, void *ctx)
{
    struct ns_job *job = ctx;

    (void)req;
    atomic_store(&job->nj_cancelled, true);  /* its queued batch ends it */
}

static int rn__cmd_netstat(struct rn_ctl_req *req, void *ctx)
{
    struct rn__ctl_netstat *cn = ctx;
    struct rn_netstat_params np = {
        .np_clock = ns_clock,
        .np_cpu_clock = ns_cpu_clock,
        .np_row = ns_row,
        .np_yield = ns_yield,
        .np_done = ns_done,
        .np_inject_enum_leak = cn->cn_inject,
    };
    struct ns_job *job;
    char what[48];
    int i;

    for (i = 1; i < rn__ctl_req_argc(req); i++) {
        const char *a = rn__ctl_req_arg(req, i);

        if (strcmp(a, "-a") == 0 || strcmp(a, "--all") == 0)
            np.np_all = true;
        else if (strcmp(a, "-i") == 0 || strcmp(a, "--info") == 0)
            np.np_info = true;
        else if (strcmp(a, "--refs") == 0)
            np.np_refs = true;
        else
            return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "unexpected argument '%s' "
                                   "(usage: netstat [-a] [-i] [--refs] [--json])", a);
    }
    job = calloc(1, sizeof(*job));
    if (job == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory");
    snprintf(what, sizeof(what), "netstat%s%s%s", np.np_all ? " -a" : "",
             np.np_info ? " -i" : "", np.np_refs ? " --refs" : "");
    np.np_what = what;
    np.np_ctx = job;
    job->nj_cn = cn;
    job->nj_req = req;
    job->nj_refs = np.np_refs;
    job->nj_json = rn__ctl_req_json(req);
    job->nj_first = true;
    atomic_init(&job->nj_cancelled, false);
    snprintf(job->nj_what, sizeof(job->nj_what), "%s", what);
    job->nj_np = np;
    job->nj_np.np_what = job->nj_what;
    if (rn_netstat_walk_start(cn->cn_stack, &np, &job->nj_walk) != 0) {
        free(job);
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory");
    }
    rn__render_netstat_begin(rn__ctl_req_out(req), job->nj_refs, job->nj_json);
    job->nj_next = cn->cn_jobs;
    cn->cn_jobs = job;
    rn__ctl_req_on_cancel(req, ns_cancelled, job);
    rn_loop_post(cn->cn_loop, &job->nj_work, ns_resume);
    return RN_CTL_PENDING;
}

static const struct rn_ctl_cmd netstat_cmds[] = {
    {"netstat", rn__cmd_netstat, "netstat [-a] [-i] [--refs]"},
};

struct rn__ctl_netstat *rn__ctl_netstat_new(struct rn_loop *loop, struct rn_stack *st,
                                            bool inject_enum_leak)
{
    struct rn__ctl_netstat *cn = calloc(1, sizeof(*cn));

    if (cn != NULL) {
        cn->cn_loop = loop;
        cn->cn_stack = st;
        cn->cn_inject = inject_enum_leak;
        cn->cn_nlanes = 1;
        cn->cn_loops[0] = loop;
        cn->cn_stacks[0] = st;
    }
    return cn;
}

int rn__ctl_netstat_add_lane(struct rn__ctl_netstat *cn, struct rn_loop *loop,
                             struct rn_stack *st)
{
    if (cn->cn_nlanes == NS_LANES_MAX)
        return RN_ENOMEM;
    cn->cn_loops[cn->cn_nlanes] = loop;
    cn->cn_stacks[cn->cn_nlanes++] = st;
    return 0;
}

int rn__ctl_add_netstat_cmd(struct rn_ctl_server *srv, struct rn__ctl_netstat *cn)
{
    return rn__ctl_server_add(srv, netstat_cmds, 1, cn);
}

void rn__ctl_netstat_free(struct rn__ctl_netstat *cn)
{
    struct ns_job *job;
    unsigned i;

    if (cn == NULL)
        return;
    /* Every walk has its next batch queued on a loop (a walk is never
     * between batches otherwise): marked cancelled, that batch ends it
     * and lets go of what it holds.  A walk on another lane's loop (still
     * running) comes home to this one's posted work. */
    for (job = cn->cn_jobs; job != NULL; job = job->nj_next)
        atomic_store(&job->nj_cancelled, true);
    for (i = 0; cn->cn_jobs != NULL && i < 5000; i++) {
        rn_loop_run_posted(cn->cn_loop);
        if (cn->cn_jobs != NULL)
            usleep(1000);
    }
    assert(cn->cn_jobs == NULL);
    free(cn);
}
