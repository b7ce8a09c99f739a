/*
 * `dump FILE`: the object manager's state written to a dump file that
 * `refnet analyze` reads later, with no access to this process.
 *
 *   handler (loop)   rn_ob_snapshot() -> worker thread, request pending
 *   worker           rn_dump_write() (temporary file, fsync, rename)
 *                    -> rn_loop_post(dump_done)
 *   dump_done (loop) join the worker -> rn__ctl_req_complete()
 *
 * The snapshot is taken on the loop thread so that it shows the stack
 * between two polls; only the write, which may wait for the disk, leaves the
 * loop.  FILE must be absolute: the client resolves a relative path against
 * its own working directory, which the daemon does not share.
 */
#include <assert.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/commands.h"
#include "ctl/render.h"
#include "ctl/ctl.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/loop.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"

/* Dumps written at once at most; more are refused until one ends. */
#define DUMP_JOBS_MAX 4

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct dump_job {
    struct dump_job *dj_next;      /* [L] du_jobs */
    struct rn__dumper *dj_dumper;  /* [I] */
    struct rn_ctl_req *dj_req;     /* [L] the pending request */
    struct rn_snapshot *dj_snap;   /* [I] what is written; worker reads it */
    char *dj_path;                 /* [I] absolute path */
    pthread_t dj_thread;           /* [I] the worker */
    bool dj_joined;                /* [L] the worker was joined */
    struct rn_loop_work dj_done;   /* posted by the worker when it is done */
    int dj_err;                    /* worker: rn_dump_write()'s result */
    char dj_why[256];              /* worker: its message on failure */
};

struct rn__dumper {
    struct rn_loop *du_loop;       /* [I] where completions run */
    rn_time_t du_threshold;        /* [L] the watchdog threshold dumps carry */
    struct dump_job *du_jobs;      /* [L] jobs not yet completed */
    size_t du_njobs;               /* [L] how many */
};

struct rn__dumper *rn__dumper_new(struct rn_loop *loop)
{
    struct rn__dumper *du = calloc(1, sizeof(*du));

    if (du != NULL)
        du->du_loop = loop;
    return du;
}

static void dump_job_free(struct dump_job *job)
{
    rn_snapshot_free(job->dj_snap);
    free(job->dj_path);
    free(job);
}

/* On the loop thread, once the worker has posted. */
static void dump_done(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct dump_job *job = container_of(w, struct dump_job, dj_done);
    struct rn__dumper *du = job->dj_dumper;
    struct rn_ctl_req *req = job->dj_req;
    struct rn_strbuf *out = rn__ctl_req_out(req);
    struct dump_job **pp;
    int status = RN_CTL_EXIT_OK;

    (void)loop;
    /* The worker returns right after posting. */
    if (!job->dj_joined)
        pthread_join(job->dj_thread, NULL);
    for (pp = &du->du_jobs; *pp != job; pp = &(*pp)->dj_next)
        assert(*pp != NULL);
    *pp = job->dj_next;
    du->du_njobs--;
    if (job->dj_err != 0) {
        status = rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "%s",
                                 job->dj_why[0] ? job->dj_why : rn_strerror(job->dj_err));
    } else if (rn__ctl_req_json(req)) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "path", json_object_new_string(job->dj_path));
        json_object_object_add(o, "objects", json_object_new_uint64(job->dj_snap->s_nobjects));
        json_object_object_add(o, "waits", json_object_new_uint64(job->dj_snap->s_nwaits));
        rn__render_json(out, o);
        rn_strbuf_puts(out, "\n");
    } else {
        rn_strbuf_printf(out, "dump of %u objects and %u waits written to %s\n",
                         job->dj_snap->s_nobjects, job->dj_snap->s_nwaits, job->dj_path);
    }
    rn__ctl_req_complete(req, status);
    dump_job_free(job);
}

static void *dump_worker(void *arg)
{
    struct dump_job *job = arg;

    job->dj_why[0] = '\0';
    job->dj_err = rn_dump_write(job->dj_snap, job->dj_path, job->dj_why, sizeof(job->dj_why));
    rn_loop_post(job->dj_dumper->du_loop, &job->dj_done, dump_done);
    return NULL;
}

static int rn__cmd_dump(struct rn_ctl_req *req, void *ctx)
{
    struct rn__dumper *du = ctx;
    struct dump_job *job;
    const char *path;

    if (rn__ctl_req_argc(req) != 2)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "usage: dump FILE");
    path = rn__ctl_req_arg(req, 1);
    if (path[0] != '/')
        return rn__ctl_req_fail(req, RN_CTL_EXIT_USAGE, "'%s': the path must be absolute (the "
                               "refnet command makes it so)", path);
    if (du->du_njobs >= DUMP_JOBS_MAX)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "%d dumps are being written already; "
                               "try again when one is done", DUMP_JOBS_MAX);
    job = calloc(1, sizeof(*job));
    if (job == NULL)
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory");
    job->dj_dumper = du;
    job->dj_req = req;
    job->dj_path = strdup(path);
    job->dj_snap = rn_ob_snapshot();
    if (job->dj_path == NULL || job->dj_snap == NULL) {
        dump_job_free(job);
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "out of memory for the snapshot");
    }
    /* So that `refnet analyze` judges with the grace the watchdog and
     * `refnet why` use. */
    job->dj_snap->s_threshold = du->du_threshold;
    if (pthread_create(&job->dj_thread, NULL, dump_worker, job) != 0) {
        dump_job_free(job);
        return rn__ctl_req_fail(req, RN_CTL_EXIT_FAIL, "cannot start a thread to write the dump");
    }
    job->dj_next = du->du_jobs;
    du->du_jobs = job;
    du->du_njobs++;
    return RN_CTL_PENDING;
}

void rn__dumper_set_threshold(struct rn__dumper *du, rn_time_t threshold)
{
    du->du_threshold = threshold;
}

void rn__dumper_free(struct rn__dumper *du)
{
    struct dump_job *job;

    if (du == NULL)
        return;
    /* Every worker posts before it returns, so once all are joined their
     * completions are queued on the loop: run them. */
    for (job = du->du_jobs; job != NULL; job = job->dj_next) {
        pthread_join(job->dj_thread, NULL);
        job->dj_joined = true;
    }
    rn_loop_run_posted(du->du_loop);
    assert(du->du_jobs == NULL);
    free(du);
}

static const struct rn_ctl_cmd dump_cmds[] = {
    {"dump", rn__cmd_dump, "dump FILE"},
};

int rn__ctl_add_dump_cmd(struct rn_ctl_server *srv, struct rn__dumper *du)
{
    return rn__ctl_server_add(srv, dump_cmds, sizeof(dump_cmds) / sizeof(dump_cmds[0]), du);
}
