/*
 * The live view's server (web.h): its own thread, its own epoll, a fixed
 * table of connections each with a fixed input buffer.
 *
 * The thread, in call order:
 *   web_thread(): epoll_wait (at most 250 ms)
 *     -> web_accept(): a new connection, or refused when the table is full
 *     -> web_read(): bytes into the connection's buffer; once the head ends
 *        (a blank line found by a scan that resumes where it stopped, so
 *        no byte is looked at twice) -> rn__web_parse() -> web_serve()
 *     -> web_write(): the pending answer
 *     -> web_sweep(): connections without progress for WEB_IDLE closed
 * Answers are made whole in the connection's output buffer, then written
 * as the socket takes them; a connection reads its next request only
 * once its answer is out (one request in flight per connection).
 *
 * Rate: a token bucket of WEB_RATE requests a second (burst WEB_BURST)
 * for the whole server; a request over it is answered 429 and counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "ctl/render.h"
#include "ctl/web.h"
#include "refnet/clock.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/netstat_walk.h"
#include "refnet/object.h"
#include "refnet/service.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"

/* Connections served at once; one more is answered 503 and closed. */
#define WEB_CONNS_MAX 32
/* A connection that makes no progress this long is closed. */
#define WEB_IDLE RN_SEC(10)
/* Requests a second, and the burst, for the whole server. */
#define WEB_RATE 200
#define WEB_BURST 400
/* A snapshot serves the requests of this long (objects, waits). */
#define WEB_SNAP_REUSE RN_MSEC(200)
/* Objects listed at most in one answer of /api/objects. */
#define WEB_OBJECTS_MAX 500
/* How long the answer to a viewer back after a pause waits for the sample
 * its request asked for (one is taken at once; a walk of many connections
 * takes longer): then it gets what there is. */
#define WEB_DEFER_MAX RN_MSEC(1500)

struct web_conn {
    int wc_fd;                     /* -1: slot free */
    char wc_in[WEB_HEAD_MAX + WEB_BODY_MAX]; /* the request being read */
    size_t wc_inlen;               /* bytes in wc_in */
    size_t wc_scan;                /* the blank-line search resumes here */
    struct rn_web_req wc_req;      /* the head, once parsed */
    bool wc_have_head;             /* wc_req is valid; waiting for the body */
    struct rn_strbuf wc_out;       /* the answer being written */
    size_t wc_outoff;              /* bytes of it written */
    bool wc_close;                 /* close once the answer is out */
    rn_time_t wc_last;             /* last progress (OS monotonic) */
    /* An answer held back until the sampler publishes (web_defer()). */
    bool wc_deferred;
    enum rn_web_want wc_def_what;  /* what it waits for */
    bool wc_def_head;              /* a HEAD request */
    uint64_t wc_def_gen;           /* its publications then */
    rn_time_t wc_def_until;        /* answered by then regardless */
};

struct rn__web {
    struct rn__web_params w_p;             /* [I] strings not owned */
    char w_url[160];                       /* [I] */
    char w_token[33];                      /* [I] */
    char w_hosts[3][80];                   /* [I] Host values accepted */
    bool w_unix;                           /* [I] a UNIX socket */
    char w_unix_path[108];                 /* [I] its path */
    dev_t w_unix_dev;                      /* [I] the file made, to remove */
    ino_t w_unix_ino;
    int w_lfd;                             /* [I] listening socket */
    int w_epfd;                            /* [I] the thread's epoll */
    int w_stopfd;                          /* [I] eventfd: stop the thread */
    int w_samplefd;                        /* [I] eventfd: the sampler published */
    unsigned w_ndeferred;                  /* [T] answers held back */
    pthread_t w_thread;                    /* [I] */
    bool w_running;                        /* [L] the thread was started */
    struct web_conn w_conns[WEB_CONNS_MAX]; /* [T] the server thread's */
    double w_tokens;                       /* [T] the rate's bucket */
    rn_time_t w_refill;                    /* [T] when it was last filled */
    struct rn_snapshot *w_snap;            /* [T] the latest snapshot */
    rn_time_t w_snap_at;                   /* [T] when it was taken */
    atomic_uint_fast64_t w_refused[RN_WEB_R_COUNT_]; /* [A] by reason */
    atomic_uint_fast64_t w_served;         /* [A] requests answered 2xx */
    struct rn__web_sampler *w_sampler;     /* [I] owned */
    /* Actions, run on the loop; the server thread waits a while for
     * their outcome (WEB_ACT_WAIT) to answer with it. */
    atomic_bool w_act_pending;             /* [A] one is queued: the two
                                              below belong to the loop */
    char w_act_name[64];                   /* the service named */
    int w_act_kind;                        /* ACT_* */
    pthread_mutex_t w_act_lock;            /* guards the three below */
    pthread_cond_t w_act_cond;             /* signalled when one ran */
    bool w_act_ran;                        /* [w_act_lock] */
    int w_act_rc;                          /* [w_act_lock] its outcome */
    char w_act_err[160];                   /* [w_act_lock] its reason */
};

/* How long the server thread waits for an action's outcome before it
 * answers that it was requested. */
#define WEB_ACT_WAIT RN_SEC(1)

enum { ACT_NONE, ACT_SVC_STOP, ACT_SVC_START };

static const int refusal_status[] = {
#define RN_WEB_X(name, str, status, text) status,
    RN_WEB_REFUSALS(RN_WEB_X)
#undef RN_WEB_X
};
static const char *const refusal_text[] = {
#define RN_WEB_X(name, str, status, text) text,
    RN_WEB_REFUSALS(RN_WEB_X)
#undef RN_WEB_X
};

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 421: return "Misdirected Request";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    }
    return "Error";
}

/* ---- Answers ------------------------------------------------------------- */

/* The security headers every answer carries: nothing may be loaded from
 * elsewhere, nothing framed. */
#define WEB_SEC_HEADERS                                                                  \
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "  \
    "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "                 \
    "base-uri 'none'; form-action 'none'\r\n"                                            \
    "X-Content-Type-Options: nosniff\r\n"                                                \
    "Referrer-Policy: no-referrer\r\n"                                                   \
    "Cache-Control: no-store\r\n"

static void answer(struct web_conn *c, int status, const char *type, const void *body,
                   size_t len, bool head_only, const char *extra)
{
    rn_strbuf_printf(&c->wc_out,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     WEB_SEC_HEADERS "%s%s\r\n",
                     status, status_text(status), type, len, extra ? extra : "",
                     c->wc_close ? "Connection: close\r\n" : "");
    if (!head_only && len > 0)
        rn_strbuf_append(&c->wc_out, body, len);
}

static void refuse(struct rn__web *w, struct web_conn *c, enum rn_web_refusal r)
{
    char line[128];
    int n;

    atomic_fetch_add(&w->w_refused[r], 1);
    c->wc_close = true;
    n = snprintf(line, sizeof(line), "refnet: %s\n", refusal_text[r]);
    answer(c, refusal_status[r], "text/plain; charset=utf-8", line, (size_t)n, false, NULL);
}

static void answer_json(struct web_conn *c, bool head_only, struct json_object *o)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;

    rn__render_json(&sb, o);
    if (sb.sb_oom) {
        c->wc_close = true;
        answer(c, 500, "text/plain; charset=utf-8", "out of memory\n", 14, head_only, NULL);
    } else {
        answer(c, 200, "application/json", rn_strbuf_str(&sb), sb.sb_len, head_only, NULL);
    }
    rn_strbuf_free(&sb);
}

/* ---- Data ---------------------------------------------------------------- */

/* A snapshot at most WEB_SNAP_REUSE old, or NULL (out of memory). */
static struct rn_snapshot *web_snapshot(struct rn__web *w)
{
    rn_time_t now = rn_clock_os_monotonic();

    if (w->w_snap != NULL && now - w->w_snap_at < WEB_SNAP_REUSE)
        return w->w_snap;
    rn_snapshot_free(w->w_snap);
    w->w_snap = rn_ob_snapshot();
    w->w_snap_at = now;
    if (w->w_snap != NULL)
        w->w_snap->s_threshold = w->w_p.wp_threshold;
    return w->w_snap;
}

/* Copies the sampler's texts into a JSON document under the sampler's
 * lock (web.h: fn copies and returns). */
struct overview_ctx {
    struct rn_strbuf *oc_out;
    bool oc_conns;        /* the connections instead */
};

static void put_raw(struct rn_strbuf *out, const char *key, const struct rn_strbuf *val,
                    const char *none)
{
    size_t n = val->sb_len;

    rn_strbuf_printf(out, ",\"%s\":", key);
    while (n > 0 && val->sb_buf[n - 1] == '\n')
        n--;
    if (n == 0)
        rn_strbuf_puts(out, none);
    else
        rn_strbuf_append(out, val->sb_buf, n);
}

static void copy_sample(const struct rn__web_sample *s, void *ctx)
{
    struct overview_ctx *oc = ctx;

    rn_strbuf_printf(oc->oc_out, "\"sampled_ns\":%" PRIu64 ",\"sampler_loop_ns\":%" PRIu64,
                     (uint64_t)s->ws_when, s->ws_loop_ns);
    if (oc->oc_conns) {
        rn_strbuf_printf(oc->oc_out, ",\"walks\":%" PRIu64, s->ws_walks);
        put_raw(oc->oc_out, "rows", s->ws_conns, "null");
        return;
    }
    put_raw(oc->oc_out, "ifaces", s->ws_ifaces, "null");
    put_raw(oc->oc_out, "stats", s->ws_stats, "null");
    put_raw(oc->oc_out, "services", s->ws_services, "null");
    put_raw(oc->oc_out, "history", s->ws_history, "[]");
}

static void serve_overview(struct rn__web *w, struct web_conn *c, bool head_only)
{
    struct rn_strbuf out = RN_STRBUF_INIT;
    struct overview_ctx oc = {&out, false};
    struct json_object *daemon = json_object_new_object(), *web = json_object_new_object();
    struct json_object *refused = json_object_new_object(), *procs = NULL;
    struct rn_snapshot *s = web_snapshot(w);
    int i;

    json_object_object_add(daemon, "version", json_object_new_string(w->w_p.wp_version));
    json_object_object_add(daemon, "pid", json_object_new_int(getpid()));
    json_object_object_add(daemon, "control", json_object_new_string(w->w_p.wp_ctl_path));
    json_object_object_add(daemon, "threshold_ns", json_object_new_uint64(w->w_p.wp_threshold));
    json_object_object_add(daemon, "objects", json_object_new_uint64(rn_ob_live_count(NULL)));
    json_object_object_add(daemon, "leaked_enum", json_object_new_uint64(rn_netstat_leaked()));
    for (i = 0; i < RN_WEB_R_COUNT_; i++)
        json_object_object_add(refused, rn__web_refusal_name((enum rn_web_refusal)i),
                               json_object_new_uint64(atomic_load(&w->w_refused[i])));
    json_object_object_add(web, "address", json_object_new_string(w->w_url));
    json_object_object_add(web, "served", json_object_new_uint64(atomic_load(&w->w_served)));
    json_object_object_add(web, "refused", refused);
    if (s != NULL)
        procs = rn__render_objects_json(s, NULL, "process", 200);
    rn_strbuf_puts(&out, "{");
    rn__web_sampler_read(w->w_sampler, copy_sample, &oc);
    rn_strbuf_puts(&out, ",\"daemon\":");
    rn__render_json(&out, daemon);
    rn_strbuf_puts(&out, ",\"web\":");
    rn__render_json(&out, web);
    rn_strbuf_puts(&out, ",\"processes\":");
    if (procs != NULL)
        rn__render_json(&out, procs);
    else
        rn_strbuf_puts(&out, "null");
    rn_strbuf_puts(&out, "}");
    if (out.sb_oom) {
        c->wc_close = true;
        answer(c, 500, "text/plain; charset=utf-8", "out of memory\n", 14, head_only, NULL);
    } else {
        answer(c, 200, "application/json", rn_strbuf_str(&out), out.sb_len, head_only, NULL);
    }
    rn_strbuf_free(&out);
}

static void serve_connections(struct rn__web *w, struct web_conn *c, bool head_only)
{
    struct rn_strbuf out = RN_STRBUF_INIT;
    struct overview_ctx oc = {&out, true};

    rn_strbuf_puts(&out, "{");
    rn__web_sampler_read(w->w_sampler, copy_sample, &oc);
    rn_strbuf_puts(&out, "}");
    if (out.sb_oom) {
        c->wc_close = true;
        answer(c, 500, "text/plain; charset=utf-8", "out of memory\n", 14, head_only, NULL);
    } else {
        answer(c, 200, "application/json", rn_strbuf_str(&out), out.sb_len, head_only, NULL);
    }
    rn_strbuf_free(&out);
}

/* The value of key in a query ("q=tcp+listener&x=1"), decoded (+ and
 * %XX) into buf; "" if absent or undecodable. */
static void query_get(const char *q, size_t qlen, const char *key, char *buf, size_t len)
{
    size_t klen = strlen(key), i = 0, o = 0;

    buf[0] = '\0';
    while (q != NULL && i < qlen) {
        size_t end = i;

        while (end < qlen && q[end] != '&')
            end++;
        if (end - i > klen && memcmp(q + i, key, klen) == 0 && q[i + klen] == '=') {
            for (i += klen + 1; i < end && o + 1 < len; i++) {
                char ch = q[i];

                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%') {
                    unsigned v;

                    if (end - i < 3)
                        return (void)(buf[0] = '\0');
                    if (sscanf(q + i + 1, "%2x", &v) != 1 || v < 0x20 || v == 0x7f)
                        return (void)(buf[0] = '\0');
                    ch = (char)v;
                    i += 2;
                }
                buf[o++] = ch;
            }
            buf[o] = '\0';
            return;
        }
        i = end + 1;
    }
}

static void serve_objects(struct rn__web *w, struct web_conn *c, bool head_only)
{
    struct rn_snapshot *s = web_snapshot(w);
    char q[128], type[64];

    query_get(c->wc_req.wq_query, c->wc_req.wq_querylen, "q", q, sizeof(q));
    query_get(c->wc_req.wq_query, c->wc_req.wq_querylen, "type", type, sizeof(type));
    answer_json(c, head_only,
                s ? rn__render_objects_json(s, q, type[0] ? type : NULL, WEB_OBJECTS_MAX) : NULL);
}

static void serve_waits(struct rn__web *w, struct web_conn *c, bool head_only)
{
    struct rn_snapshot *s = web_snapshot(w);

    answer_json(c, head_only, s ? rn__render_waits_json(s) : NULL);
}

static void serve_report(struct rn__web *w, struct web_conn *c, bool head_only)
{
    struct rn_snapshot *s = web_snapshot(w);
    struct rn_strbuf out = RN_STRBUF_INIT;
    char title[96];

    snprintf(title, sizeof(title), "live daemon, pid %d", (int)getpid());
    if (s == NULL || rn__web_report_html(s, title, &out) != 0) {
        c->wc_close = true;
        answer(c, 500, "text/plain; charset=utf-8", "out of memory\n", 14, head_only, NULL);
    } else {
        answer(c, 200, "text/html; charset=utf-8", rn_strbuf_str(&out), out.sb_len, head_only,
               "Content-Disposition: attachment; filename=\"refnet-report.html\"\r\n");
    }
    rn_strbuf_free(&out);
}

/* ---- Actions ---------------------------------------------------------------- */

/* [L] Runs the queued action: what `refnet svc stop|start NAME` does, on
 * every loop's instance (the service is looked up here, on the loop,
 * where the services are changed); the server thread hears how it went. */
static void act_run(void *ctx)
{
    struct rn__web *w = ctx;
    char err[sizeof(w->w_act_err)];
    int rc;

    rc = rn__ctl_svc_act(w->w_p.wp_ctl_svc, w->w_act_name, w->w_act_kind == ACT_SVC_STOP, err,
                         sizeof(err));
    pthread_mutex_lock(&w->w_act_lock);
    w->w_act_ran = true;
    w->w_act_rc = rc;
    memcpy(w->w_act_err, err, sizeof(err));
    pthread_cond_signal(&w->w_act_cond);
    pthread_mutex_unlock(&w->w_act_lock);
    atomic_store(&w->w_act_pending, false);
}

/* [T] Waits at most WEB_ACT_WAIT for the queued action.  Returns 1 if it
 * has not run by then, else its outcome (0, or a negative code with the
 * reason in err). */
static int act_wait(struct rn__web *w, char *err, size_t errlen)
{
    rn_time_t t = rn_clock_os_monotonic() + WEB_ACT_WAIT;  /* the cond's clock */
    struct timespec until;
    int rc = 1;

    until.tv_sec = (time_t)(t / RN_NSEC_PER_SEC);
    until.tv_nsec = (long)(t % RN_NSEC_PER_SEC);
    pthread_mutex_lock(&w->w_act_lock);
    while (!w->w_act_ran &&
           pthread_cond_timedwait(&w->w_act_cond, &w->w_act_lock, &until) == 0)
        ;
    if (w->w_act_ran) {
        rc = w->w_act_rc;
        snprintf(err, errlen, "%s", w->w_act_err);
    }
    pthread_mutex_unlock(&w->w_act_lock);
    return rc;
}

static bool token_ok(const struct rn__web *w, const struct rn_web_req *r)
{
    unsigned diff = 0;
    size_t i;

    if (r->wq_auth == NULL || r->wq_authlen != 7 + 32 || memcmp(r->wq_auth, "Bearer ", 7) != 0)
        return false;
    for (i = 0; i < 32; i++)  /* in constant time */
        diff |= (unsigned)(r->wq_auth[7 + i] ^ w->w_token[i]);
    return diff == 0;
}

static void serve_action(struct rn__web *w, struct web_conn *c)
{
    const char *body = c->wc_in + c->wc_req.wq_head_len;
    size_t len = c->wc_req.wq_body_len, i;
    char cmd[WEB_BODY_MAX + 1], reply[160];
    int n;

    if (!token_ok(w, &c->wc_req)) {
        refuse(w, c, RN_WEB_R_BAD_TOKEN);
        return;
    }
    memcpy(cmd, body, len);
    cmd[len] = '\0';
    while (len > 0 && (cmd[len - 1] == '\n' || cmd[len - 1] == '\r'))
        cmd[--len] = '\0';
    for (i = 0; i < len; i++)
        if ((unsigned char)cmd[i] < 0x20 || cmd[i] == 0x7f) {
            refuse(w, c, RN_WEB_R_BAD_ACTION);
            return;
        }
    if (strcmp(cmd, "clear-leak") == 0) {
        uint64_t k = rn_netstat_clear_leaks(NULL, NULL);

        n = snprintf(reply, sizeof(reply), "gave back %" PRIu64 " 'enum' hold%s\n", k,
                     k == 1 ? "" : "s");
        answer(c, 200, "text/plain; charset=utf-8", reply, (size_t)n, false, NULL);
        return;
    }
    if ((strncmp(cmd, "svc-stop ", 9) == 0 || strncmp(cmd, "svc-start ", 10) == 0) &&
        strlen(strchr(cmd, ' ') + 1) < sizeof(w->w_act_name)) {
        const char *name = strchr(cmd, ' ') + 1;
        int kind = cmd[5] == 'o' ? ACT_SVC_STOP : ACT_SVC_START, rc;
        char why[sizeof(w->w_act_err)];

        if (atomic_exchange(&w->w_act_pending, true)) {
            answer(c, 409, "text/plain; charset=utf-8", "refnet: an action is running\n", 29,
                   false, NULL);
            return;
        }
        /* Ours until act_run() ends on the loop. */
        snprintf(w->w_act_name, sizeof(w->w_act_name), "%s", name);
        w->w_act_kind = kind;
        pthread_mutex_lock(&w->w_act_lock);
        w->w_act_ran = false;
        pthread_mutex_unlock(&w->w_act_lock);
        if (rn__web_sampler_run(w->w_sampler, act_run, w) != 0) {
            atomic_store(&w->w_act_pending, false);
            answer(c, 409, "text/plain; charset=utf-8", "refnet: an action is running\n", 29,
                   false, NULL);
            return;
        }
        rc = act_wait(w, why, sizeof(why));
        if (rc == RN_ENOENT) {
            n = snprintf(reply, sizeof(reply), "refnet: no service '%.60s'\n", name);
            answer(c, 404, "text/plain; charset=utf-8", reply, (size_t)n, false, NULL);
        } else if (rc < 0) {
            n = snprintf(reply, sizeof(reply), "refnet: %s\n", why);
            answer(c, 409, "text/plain; charset=utf-8", reply, (size_t)n, false, NULL);
        } else {
            n = snprintf(reply, sizeof(reply), "%s %s: %s\n",
                         kind == ACT_SVC_STOP ? "stop" : "start", name,
                         rc == 0 ? "ordered; the services show its state" : "requested");
            answer(c, 202, "text/plain; charset=utf-8", reply, (size_t)n, false, NULL);
        }
        return;
    }
    refuse(w, c, RN_WEB_R_BAD_ACTION);
}

/* ---- Routing ------------------------------------------------------------------ */

static bool path_is(const struct rn_web_req *r, const char *path)
{
    return r->wq_pathlen == strlen(path) && memcmp(r->wq_path, path, r->wq_pathlen) == 0;
}

static bool host_ok(const struct rn__web *w, const struct rn_web_req *r)
{
    size_t i;

    if (w->w_unix)
        return true;  /* only this machine's users reach it, by its mode */
    if (r->wq_host == NULL)
        return true;  /* HTTP/1.0 without Host: the address was dialled */
    for (i = 0; i < 3; i++)
        if (w->w_hosts[i][0] != '\0' && r->wq_hostlen == strlen(w->w_hosts[i]) &&
            memcmp(r->wq_host, w->w_hosts[i], r->wq_hostlen) == 0)
            return true;
    return false;
}

/* Takes a token from the bucket; false when empty. */
static bool rate_ok(struct rn__web *w)
{
    rn_time_t now = rn_clock_os_monotonic();

    w->w_tokens += (double)(now - w->w_refill) * WEB_RATE / 1e9;
    if (w->w_tokens > WEB_BURST)
        w->w_tokens = WEB_BURST;
    w->w_refill = now;
    if (w->w_tokens < 1)
        return false;
    w->w_tokens -= 1;
    return true;
}

/* The first request for the overview's or the connections' data after no
 * one asked for a while: what the sampler last published is old or
 * missing, and a fresh sample is on its way (rn__web_sampler_touch()).
 * The answer waits for a publication after gen (read before the touch:
 * the loop may publish before this runs), at most WEB_DEFER_MAX; the
 * connection is not read meanwhile.  web_undefer() answers. */
static void web_defer(struct rn__web *w, struct web_conn *c, enum rn_web_want what, uint64_t gen,
                      bool head_only)
{
    c->wc_deferred = true;
    c->wc_def_what = what;
    c->wc_def_head = head_only;
    c->wc_def_gen = gen;
    c->wc_def_until = rn_clock_os_monotonic() + WEB_DEFER_MAX;
    {
        /* Not read meanwhile: a full buffer would be ready forever. */
        struct epoll_event ev = {.events = 0, .data.ptr = c};

        (void)epoll_ctl(w->w_epfd, EPOLL_CTL_MOD, c->wc_fd, &ev);
    }
    w->w_ndeferred++;
    rn__web_sampler_await(w->w_sampler);
}

static bool web_write(struct rn__web *w, struct web_conn *c);
static void web_drive(struct rn__web *w, struct web_conn *c);

/* Answers the held-back requests whose sample came or whose time is up. */
static void web_undefer(struct rn__web *w)
{
    rn_time_t now = rn_clock_os_monotonic();
    size_t i;

    for (i = 0; i < WEB_CONNS_MAX && w->w_ndeferred > 0; i++) {
        struct web_conn *c = &w->w_conns[i];

        if (c->wc_fd < 0 || !c->wc_deferred)
            continue;
        if (rn__web_sampler_gen(w->w_sampler, c->wc_def_what) == c->wc_def_gen &&
            now < c->wc_def_until) {
            rn__web_sampler_await(w->w_sampler);  /* still waiting */
            continue;
        }
        c->wc_deferred = false;
        w->w_ndeferred--;
        if (c->wc_def_what == RN_WEB_WANT_OVERVIEW)
            serve_overview(w, c, c->wc_def_head);
        else
            serve_connections(w, c, c->wc_def_head);
        if (strncmp(c->wc_out.sb_buf, "HTTP/1.1 2", 10) == 0)
            atomic_fetch_add(&w->w_served, 1);
        c->wc_last = now;
        if (web_write(w, c))
            web_drive(w, c);
    }
}

static void web_serve(struct rn__web *w, struct web_conn *c)
{
    const struct rn_web_req *r = &c->wc_req;
    bool head_only = r->wq_method == RN_WEB_HEAD;
    const struct rn__web_asset *a = NULL;
    size_t before = c->wc_out.sb_len;
    uint64_t gen;

    if (r->wq_close)
        c->wc_close = true;
    if (!rate_ok(w)) {
        refuse(w, c, RN_WEB_R_RATE_LIMITED);
        return;
    }
    if (!host_ok(w, r)) {
        refuse(w, c, RN_WEB_R_BAD_HOST);
        return;
    }
    if (r->wq_method == RN_WEB_POST) {
        if (path_is(r, "/api/action"))
            serve_action(w, c);
        else
            refuse(w, c, RN_WEB_R_BAD_METHOD);
        goto out;
    }
    if (path_is(r, "/") || path_is(r, "/index.html"))
        a = rn__web_asset("index.html");
    else if (path_is(r, "/app.js"))
        a = rn__web_asset("app.js");
    else if (path_is(r, "/app.css"))
        a = rn__web_asset("app.css");
    if (a != NULL)
        answer(c, 200, a->wa_type, a->wa_data, a->wa_len, head_only, NULL);
    else if (path_is(r, "/api/overview")) {
        gen = rn__web_sampler_gen(w->w_sampler, RN_WEB_WANT_OVERVIEW);
        if (rn__web_sampler_touch(w->w_sampler, RN_WEB_WANT_OVERVIEW))
            web_defer(w, c, RN_WEB_WANT_OVERVIEW, gen, head_only);
        else
            serve_overview(w, c, head_only);
    } else if (path_is(r, "/api/connections")) {
        gen = rn__web_sampler_gen(w->w_sampler, RN_WEB_WANT_CONNS);
        if (rn__web_sampler_touch(w->w_sampler, RN_WEB_WANT_CONNS))
            web_defer(w, c, RN_WEB_WANT_CONNS, gen, head_only);
        else
            serve_connections(w, c, head_only);
    }
    else if (path_is(r, "/api/objects"))
        serve_objects(w, c, head_only);
    else if (path_is(r, "/api/waits"))
        serve_waits(w, c, head_only);
    else if (path_is(r, "/report.html"))
        serve_report(w, c, head_only);
    else
        refuse(w, c, RN_WEB_R_NOT_FOUND);
out:
    if (c->wc_out.sb_len > before && strncmp(c->wc_out.sb_buf + before, "HTTP/1.1 2", 10) == 0)
        atomic_fetch_add(&w->w_served, 1);
}

/* ---- Connections ----------------------------------------------------------------- */

static void conn_close(struct rn__web *w, struct web_conn *c)
{
    if (c->wc_deferred) {
        c->wc_deferred = false;
        w->w_ndeferred--;
    }
    (void)epoll_ctl(w->w_epfd, EPOLL_CTL_DEL, c->wc_fd, NULL);
    close(c->wc_fd);
    c->wc_fd = -1;
    rn_strbuf_free(&c->wc_out);
}

/* Writes what it can of the answer; then, if it is all out, closes or
 * goes back to reading.  Returns false if the connection was closed. */
static bool web_write(struct rn__web *w, struct web_conn *c)
{
    while (c->wc_outoff < c->wc_out.sb_len) {
        ssize_t n = send(c->wc_fd, c->wc_out.sb_buf + c->wc_outoff,
                         c->wc_out.sb_len - c->wc_outoff, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};

            (void)epoll_ctl(w->w_epfd, EPOLL_CTL_MOD, c->wc_fd, &ev);
            return true;
        }
        if (n <= 0) {
            conn_close(w, c);
            return false;
        }
        c->wc_outoff += (size_t)n;
        c->wc_last = rn_clock_os_monotonic();
    }
    if (c->wc_close) {
        conn_close(w, c);
        return false;
    }
    rn_strbuf_free(&c->wc_out);
    c->wc_outoff = 0;
    {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

        (void)epoll_ctl(w->w_epfd, EPOLL_CTL_MOD, c->wc_fd, &ev);
    }
    return true;
}

/* Looks for the blank line ending the head, from where the last look
 * stopped.  Returns true once found, or once a line ends in a bare LF,
 * which the parser refuses at once rather than wait for a head that will
 * never end as HTTP says. */
static bool head_complete(struct web_conn *c)
{
    size_t i = c->wc_scan >= 3 ? c->wc_scan - 3 : 0;

    for (; i < c->wc_inlen; i++) {
        if (c->wc_in[i] == '\n' && (i == 0 || c->wc_in[i - 1] != '\r'))
            return true;
        if (i + 3 < c->wc_inlen && c->wc_in[i] == '\r' && c->wc_in[i + 1] == '\n' &&
            c->wc_in[i + 2] == '\r' && c->wc_in[i + 3] == '\n')
            return true;
    }
    c->wc_scan = c->wc_inlen;
    return false;
}

/* Handles what the buffer holds: at most one request, whose answer is
 * then written. */
static void web_process(struct rn__web *w, struct web_conn *c)
{
    enum rn_web_refusal why;

    if (!c->wc_have_head) {
        bool full = c->wc_inlen >= WEB_HEAD_MAX;
        int rc;

        if (!head_complete(c) && !full)
            return;
        rc = rn__web_parse(c->wc_in, c->wc_inlen, &c->wc_req, &why);
        if (rc == 0 && !full)
            return;  /* a CRLF CRLF inside a line the parser reads on */
        if (rc == 0)
            why = RN_WEB_R_HEAD_TOO_LARGE;  /* full, and still no end */
        if (rc <= 0) {
            refuse(w, c, why);
            web_write(w, c);
            return;
        }
        c->wc_have_head = true;
    }
    if (c->wc_inlen < c->wc_req.wq_head_len + c->wc_req.wq_body_len)
        return;  /* the body is still coming */
    web_serve(w, c);
    /* Bytes past this request (a pipelined next one) are kept. */
    {
        size_t used = c->wc_req.wq_head_len + c->wc_req.wq_body_len;

        memmove(c->wc_in, c->wc_in + used, c->wc_inlen - used);
        c->wc_inlen -= used;
        c->wc_scan = 0;
        c->wc_have_head = false;
    }
    if (!c->wc_deferred)
        web_write(w, c);
}

/* Serves the requests the buffer holds, one after the other, as long as
 * each answer goes out at once (a pipelined client's next request may
 * already be read, and no event will say so). */
static void web_drive(struct rn__web *w, struct web_conn *c)
{
    while (c->wc_fd >= 0 && !c->wc_deferred && c->wc_inlen > 0 && c->wc_outoff == 0 &&
           c->wc_out.sb_len == 0) {
        size_t before = c->wc_inlen;

        web_process(w, c);
        if (c->wc_fd >= 0 && !c->wc_deferred && c->wc_inlen == before && c->wc_out.sb_len == 0)
            break;  /* an incomplete request: wait for more bytes */
    }
}

static void web_read(struct rn__web *w, struct web_conn *c)
{
    for (;;) {
        ssize_t n;

        if (c->wc_inlen == sizeof(c->wc_in)) {
            web_drive(w, c);
            return;
        }
        n = recv(c->wc_fd, c->wc_in + c->wc_inlen, sizeof(c->wc_in) - c->wc_inlen, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            conn_close(w, c);
            return;
        }
        c->wc_inlen += (size_t)n;
        c->wc_last = rn_clock_os_monotonic();
        if (!c->wc_have_head && c->wc_inlen >= WEB_HEAD_MAX)
            break;
    }
    web_drive(w, c);
}

static void web_accept(struct rn__web *w)
{
    for (;;) {
        int fd = accept4(w->w_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct web_conn *c = NULL;
        size_t i;

        if (fd < 0)
            return;
        for (i = 0; i < WEB_CONNS_MAX && c == NULL; i++)
            if (w->w_conns[i].wc_fd < 0)
                c = &w->w_conns[i];
        if (c == NULL) {
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                       "Connection: close\r\n\r\n";

            atomic_fetch_add(&w->w_refused[RN_WEB_R_TOO_MANY_CONNS], 1);
            (void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            continue;
        }
        c->wc_fd = fd;
        c->wc_inlen = 0;
        c->wc_scan = 0;
        c->wc_have_head = false;
        c->wc_close = false;
        c->wc_deferred = false;
        c->wc_outoff = 0;
        rn_strbuf_init(&c->wc_out);
        c->wc_last = rn_clock_os_monotonic();
        {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

            if (epoll_ctl(w->w_epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
                close(fd);
                c->wc_fd = -1;
            }
        }
    }
}

/* Closes the connections that made no progress for WEB_IDLE; one that
 * was sending a request is told so. */
static void web_sweep(struct rn__web *w)
{
    rn_time_t now = rn_clock_os_monotonic();
    size_t i;

    for (i = 0; i < WEB_CONNS_MAX; i++) {
        struct web_conn *c = &w->w_conns[i];

        if (c->wc_fd < 0 || now - c->wc_last < WEB_IDLE)
            continue;
        if (c->wc_inlen > 0 && c->wc_out.sb_len == 0) {
            refuse(w, c, RN_WEB_R_IDLE);
            (void)send(c->wc_fd, c->wc_out.sb_buf, c->wc_out.sb_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        conn_close(w, c);
    }
}

static void *web_thread(void *arg)
{
    struct rn__web *w = arg;
    struct epoll_event evs[16];
    rn_time_t last_sweep = rn_clock_os_monotonic();
    size_t i;

    /* Below the loop: a busy view or a flood waits, the packets do not. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    for (;;) {
        int n = epoll_wait(w->w_epfd, evs, 16, 250), k;

        for (k = 0; k < n; k++) {
            if (evs[k].data.ptr == &w->w_stopfd) {
                goto out;
            } else if (evs[k].data.ptr == &w->w_samplefd) {
                uint64_t v;

                (void)!read(w->w_samplefd, &v, sizeof(v));
            } else if (evs[k].data.ptr == &w->w_lfd) {
                web_accept(w);
            } else {
                struct web_conn *c = evs[k].data.ptr;

                if (c->wc_fd < 0)
                    continue;
                if (evs[k].events & (EPOLLERR | EPOLLHUP) && !(evs[k].events & EPOLLIN)) {
                    conn_close(w, c);
                } else if (c->wc_out.sb_len > c->wc_outoff) {
                    if (web_write(w, c))
                        web_drive(w, c);
                } else {
                    web_read(w, c);
                }
            }
        }
        if (w->w_ndeferred > 0)
            web_undefer(w);
        if (rn_clock_os_monotonic() - last_sweep >= RN_SEC(1)) {
            web_sweep(w);
            last_sweep = rn_clock_os_monotonic();
        }
    }
out:
    for (i = 0; i < WEB_CONNS_MAX; i++)
        if (w->w_conns[i].wc_fd >= 0)
            conn_close(w, &w->w_conns[i]);
    rn_snapshot_free(w->w_snap);
    w->w_snap = NULL;
    return NULL;
}

/* ---- Opening ------------------------------------------------------------------------ */

/* Splits "A.B.C.D:PORT".  Returns 0 or -1. */
static int parse_inet(const char *addr, struct sockaddr_in *sin)
{
    const char *colon = strrchr(addr, ':');
    char host[INET_ADDRSTRLEN];
    char *end;
    unsigned long port;

    if (colon == NULL || (size_t)(colon - addr) >= sizeof(host) || colon[1] == '\0')
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || errno != 0 || port > 65535 || colon[1] < '0' || colon[1] > '9')
        return -1;
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

int rn__web_addr_check(const char *addr, char *err, size_t errlen)
{
    struct sockaddr_in sin;

    if (strncmp(addr, "unix:", 5) == 0) {
        if (addr[5] != '/' || strlen(addr + 5) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            snprintf(err, errlen, "'%s': a UNIX socket is unix:/absolute/path, at most %zu bytes",
                     addr, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return -1;
        }
        return 0;
    }
    if (parse_inet(addr, &sin) != 0) {
        snprintf(err, errlen, "'%s': expected ADDR:PORT (e.g. 127.0.0.1:8080) or unix:PATH",
                 addr);
        return -1;
    }
    return 0;
}

static int web_listen(struct rn__web *w, char *err, size_t errlen)
{
    const char *addr = w->w_p.wp_addr;
    int one = 1;

    if (strncmp(addr, "unix:", 5) == 0) {
        struct sockaddr_un sun;
        struct stat sb;

        w->w_unix = true;
        snprintf(w->w_unix_path, sizeof(w->w_unix_path), "%s", addr + 5);
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", w->w_unix_path);
        w->w_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (w->w_lfd < 0)
            goto out_errno;
        /* A socket file left by a daemon that died is replaced; any
         * other file is left alone. */
        if (lstat(w->w_unix_path, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
            if (connect(w->w_lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
                snprintf(err, errlen, "--ui %s: another server is answering there", addr);
                return RN_EADDRINUSE;
            }
            (void)unlink(w->w_unix_path);
        }
        /* Owner only, set before listen. */
        if (bind(w->w_lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
            chmod(w->w_unix_path, 0600) != 0 || listen(w->w_lfd, 64) != 0)
            goto out_errno;
        if (stat(w->w_unix_path, &sb) == 0) {
            w->w_unix_dev = sb.st_dev;
            w->w_unix_ino = sb.st_ino;
        }
        snprintf(w->w_url, sizeof(w->w_url), "%s", addr);
        return 0;
    } else {
        struct sockaddr_in sin;
        socklen_t slen = sizeof(sin);
        char host[INET_ADDRSTRLEN];

        if (parse_inet(addr, &sin) != 0) {
            snprintf(err, errlen, "--ui %s: expected ADDR:PORT or unix:PATH", addr);
            return RN_EINVAL;
        }
        w->w_lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (w->w_lfd < 0)
            goto out_errno;
        (void)setsockopt(w->w_lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(w->w_lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(w->w_lfd, 64) != 0 ||
            getsockname(w->w_lfd, (struct sockaddr *)&sin, &slen) != 0)
            goto out_errno;
        inet_ntop(AF_INET, &sin.sin_addr, host, sizeof(host));
        snprintf(w->w_url, sizeof(w->w_url), "http://%s:%u/", host, ntohs(sin.sin_port));
        snprintf(w->w_hosts[0], sizeof(w->w_hosts[0]), "%s:%u", host, ntohs(sin.sin_port));
        if (sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK))
            snprintf(w->w_hosts[1], sizeof(w->w_hosts[1]), "localhost:%u", ntohs(sin.sin_port));
        if (sin.sin_port == htons(80))
            snprintf(w->w_hosts[2], sizeof(w->w_hosts[2]), "%s", host);
        return 0;
    }

out_errno:
    snprintf(err, errlen, "--ui %s: %s", addr, strerror(errno));
    return errno == EADDRINUSE ? RN_EADDRINUSE : RN_EIO;
}

static void web_free(struct rn__web *w)
{
    if (w->w_lfd >= 0)
        close(w->w_lfd);
    if (w->w_unix && w->w_unix_ino != 0) {
        struct stat sb;

        if (stat(w->w_unix_path, &sb) == 0 && sb.st_dev == w->w_unix_dev &&
            sb.st_ino == w->w_unix_ino)
            (void)unlink(w->w_unix_path);
    }
    if (w->w_epfd >= 0)
        close(w->w_epfd);
    if (w->w_stopfd >= 0)
        close(w->w_stopfd);
    if (w->w_samplefd >= 0)
        close(w->w_samplefd);
    pthread_cond_destroy(&w->w_act_cond);
    pthread_mutex_destroy(&w->w_act_lock);
    free(w);
}

int rn__web_open(const struct rn__web_params *p, struct rn__web **out, char *err, size_t errlen)
{
    struct rn__web *w = calloc(1, sizeof(*w));
    unsigned char rnd[16];
    size_t i;
    int e;

    *out = NULL;
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return RN_ENOMEM;
    }
    w->w_p = *p;
    w->w_lfd = w->w_epfd = w->w_stopfd = w->w_samplefd = -1;
    for (i = 0; i < WEB_CONNS_MAX; i++)
        w->w_conns[i].wc_fd = -1;
    for (i = 0; i < RN_WEB_R_COUNT_; i++)
        atomic_init(&w->w_refused[i], 0);
    atomic_init(&w->w_served, 0);
    atomic_init(&w->w_act_pending, false);
    pthread_mutex_init(&w->w_act_lock, NULL);
    {
        pthread_condattr_t ca;

        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w->w_act_cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    w->w_tokens = WEB_BURST;
    w->w_refill = rn_clock_os_monotonic();
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        snprintf(err, errlen, "--ui: no random bytes for the token: %s", strerror(errno));
        web_free(w);
        return RN_EIO;
    }
    for (i = 0; i < sizeof(rnd); i++)
        snprintf(w->w_token + 2 * i, 3, "%02x", rnd[i]);
    e = web_listen(w, err, errlen);
    if (e != 0) {
        web_free(w);
        return e;
    }
    w->w_epfd = epoll_create1(EPOLL_CLOEXEC);
    w->w_stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->w_samplefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->w_samplefd >= 0)
        w->w_sampler = rn__web_sampler_new(p->wp_loop, p->wp_stack, p->wp_lanes, p->wp_ctl_svc,
                                           p->wp_inject_enum_leak, w->w_samplefd);
    if (w->w_epfd < 0 || w->w_stopfd < 0 || w->w_samplefd < 0 || w->w_sampler == NULL) {
        snprintf(err, errlen, "--ui: cannot set up the server");
        goto out_free;
    }
    {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->w_lfd};
        struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &w->w_stopfd};
        struct epoll_event pev = {.events = EPOLLIN, .data.ptr = &w->w_samplefd};

        if (epoll_ctl(w->w_epfd, EPOLL_CTL_ADD, w->w_lfd, &ev) != 0 ||
            epoll_ctl(w->w_epfd, EPOLL_CTL_ADD, w->w_stopfd, &sev) != 0 ||
            epoll_ctl(w->w_epfd, EPOLL_CTL_ADD, w->w_samplefd, &pev) != 0) {
            snprintf(err, errlen, "--ui: cannot watch the socket: %s", strerror(errno));
            goto out_free;
        }
    }
    if (pthread_create(&w->w_thread, NULL, web_thread, w) != 0) {
        snprintf(err, errlen, "--ui: cannot start the server thread");
        goto out_free;
    }
    w->w_running = true;
    *out = w;
    return 0;

out_free:
    rn__web_sampler_free(w->w_sampler);
    web_free(w);
    return RN_EIO;
}

const char *rn__web_url(const struct rn__web *w)
{
    return w->w_url;
}

const char *rn__web_token(const struct rn__web *w)
{
    return w->w_token;
}

uint64_t rn__web_refusals(const struct rn__web *w, enum rn_web_refusal r)
{
    return atomic_load(&((struct rn__web *)w)->w_refused[r]);
}

void rn__web_close(struct rn__web *w)
{
    uint64_t one = 1;

    if (w == NULL)
        return;
    if (w->w_running) {
        (void)!write(w->w_stopfd, &one, sizeof(one));
        pthread_join(w->w_thread, NULL);
    }
    /* On the loop's thread, the loop not running: the walk ends, a
     * queued action runs. */
    rn__web_sampler_free(w->w_sampler);
    web_free(w);
}
