/*
 * The live view: a small HTTP server on a management address (`refnet
 * daemon --ui 127.0.0.1:PORT`, or `--ui unix:PATH`) that serves a page in
 * plain JavaScript and SVG, built into the daemon (web_assets.c, made from
 * src/ctl/web/ at build time), and the JSON it reads once a second:
 *
 *   GET /                       the page (overview, connections, objects,
 *   GET /app.js, /app.css         waits), nothing fetched from elsewhere
 *   GET /api/overview           `refnet status`, `ifconfig`, `stat` and
 *                               `svc list` as JSON, processes, the last
 *                               minutes of counters, the server's refusals
 *   GET /api/connections        `refnet netstat -a --refs --json`'s rows
 *   GET /api/objects?q=TEXT     objects whose id, type or description
 *                               holds TEXT, with ledgers (`refnet objects`)
 *   GET /api/waits              every pending wait as a graph, with the
 *                               blocker's holders and verdict, and the
 *                               text of `refnet why`
 *   GET /report.html            the report `refnet analyze --html` writes,
 *                               of a snapshot taken now
 *   POST /api/action            with "Authorization: Bearer TOKEN" (the
 *                               token printed at start-up): "clear-leak",
 *                               "svc-stop NAME", "svc-start NAME"
 *
 * Threads.  The server runs on a thread of its own, at a lower priority
 * than the loop, so that neither a viewer nor a flood of bad requests
 * takes the loop's time.  What only the loop may read (interfaces,
 * counters, services, the netstat walk's rows) is rendered on the loop by
 * the sampler (web_sample.c), once a second and only while someone looks
 * (a request in the last WEB_VIEWER_IDLE seconds): the same render.c
 * functions as the control commands, in a few tens of microseconds, and
 * the netstat walk in its own batches of at most ~0.4 ms.  The results are
 * handed to the server under a mutex as finished JSON text.  The object
 * manager is read by the server thread itself, through snapshots, which
 * any thread may take.
 *
 * Bad input.  Requests are parsed from one fixed buffer per connection
 * (WEB_HEAD_MAX bytes, no allocation per byte), strictly: a request line
 * and headers of bounded size and number, GET, HEAD or POST, a path of
 * plain characters with no "..", a Host naming this address (against DNS
 * rebinding), a body only for POST and at most WEB_BODY_MAX.  Each refusal
 * is answered with its status and one line, counted by reason
 * (rn__web_refusals()), and the connection is closed.  Connections are
 * limited in number and idle time, and requests in rate.
 */
#ifndef REFNET_CTL_WEB_H
#define REFNET_CTL_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/clock.h"

struct rn_loop;
struct rn_stack;
struct rn_svcctl;
struct rn_strbuf;

/* Why a request was refused. */
#define RN_WEB_REFUSALS(X)                                                                    \
    X(HEAD_TOO_LARGE, "head-too-large", 431, "request head too large")                       \
    X(BAD_REQUEST, "bad-request", 400, "malformed request")                                  \
    X(BAD_METHOD, "bad-method", 405, "method not allowed")                                   \
    X(BAD_PATH, "bad-path", 400, "path refused")                                             \
    X(NOT_FOUND, "not-found", 404, "no such page")                                           \
    X(BAD_HOST, "bad-host", 421, "Host names another server")                                \
    X(BAD_TOKEN, "bad-token", 403, "action needs the daemon's token")                        \
    X(BODY_TOO_LARGE, "body-too-large", 413, "request body too large")                       \
    X(BAD_ACTION, "bad-action", 400, "unknown action")                                       \
    X(TOO_MANY_CONNS, "too-many-connections", 503, "too many connections")                   \
    X(RATE_LIMITED, "rate-limited", 429, "too many requests")                                \
    X(IDLE, "idle-timeout", 408, "request not sent in time")

enum rn_web_refusal {
#define RN_WEB_X(name, str, status, text) RN_WEB_R_##name,
    RN_WEB_REFUSALS(RN_WEB_X)
#undef RN_WEB_X
    RN_WEB_R_COUNT_
};

/* "head-too-large" ... */
const char *rn__web_refusal_name(enum rn_web_refusal r);

/* ---- The request parser (web_http.c) ----------------------------------- */

/* The largest request head (request line and headers) a connection
 * buffers; a longer one is refused. */
#define WEB_HEAD_MAX 8192
/* At most this many header lines. */
#define WEB_HEADERS_MAX 32
/* The largest body (POST /api/action). */
#define WEB_BODY_MAX 1024

enum rn_web_method { RN_WEB_GET, RN_WEB_HEAD, RN_WEB_POST };

/* A parsed request head; the strings point into the caller's buffer (not
 * NUL-terminated: pointer and length). */
struct rn_web_req {
    enum rn_web_method wq_method;
    const char *wq_path;        /* "/api/objects", without the query */
    size_t wq_pathlen;
    const char *wq_query;       /* after '?', or NULL */
    size_t wq_querylen;
    const char *wq_host;        /* the Host header's value, or NULL */
    size_t wq_hostlen;
    const char *wq_auth;        /* the Authorization header's value, or NULL */
    size_t wq_authlen;
    size_t wq_body_len;         /* Content-Length, 0 if none */
    bool wq_close;              /* "Connection: close", or HTTP/1.0 without
                                   keep-alive */
    size_t wq_head_len;         /* bytes of the head, the blank line included */
};

/* Parses the request head at buf (len bytes so far).  Returns 1 and fills
 * *req once the head is complete and valid; 0 if more bytes are needed
 * (len < WEB_HEAD_MAX and no blank line yet); or -1 with *why set: the
 * head is malformed (RN_WEB_R_BAD_REQUEST), too long (HEAD_TOO_LARGE), its
 * method is not served (BAD_METHOD), its path is refused (BAD_PATH) or its
 * body too large (BODY_TOO_LARGE).  Reads only buf[0..len), allocates
 * nothing, and takes time linear in len. */
int rn__web_parse(const char *buf, size_t len, struct rn_web_req *req, enum rn_web_refusal *why);

/* ---- The server (web.c) ------------------------------------------------ */

struct rn__web;

struct rn__web_params {
    const char *wp_addr;           /* "127.0.0.1:8080" (port 0: any free
                                      one), or "unix:/path" */
    struct rn_loop *wp_loop;       /* the daemon's loop */
    struct rn_stack *wp_stack;     /* its stack */
    struct rn__ctl_lanes *wp_lanes; /* with receive-side scaling, every loop's
                                      stack (the connections walk them all, the
                                      counters are summed); NULL: wp_stack */
    struct rn__ctl_svc *wp_ctl_svc; /* their commands (commands.h): the
                                      overview sums every loop's instances,
                                      the actions act on all of them */
    const char *wp_version;        /* shown in the overview */
    const char *wp_ctl_path;       /* the control socket, shown */
    rn_time_t wp_threshold;        /* the watchdog's threshold: the grace
                                      verdicts give */
    bool wp_inject_enum_leak;      /* the walks carry the lab's fault, as
                                      `refnet netstat`'s do */
};

/* Checks an --ui argument: 0, or -1 with one line in err. */
int rn__web_addr_check(const char *addr, char *err, size_t errlen);

/* [L, before the loop runs] Binds the address, makes the token, and
 * starts the server thread and the sampler.  Returns 0 and *out, or a
 * negative code with one line in err ("--ui 127.0.0.1:80: address in
 * use"); nothing is left behind then. */
int rn__web_open(const struct rn__web_params *p, struct rn__web **out, char *err, size_t errlen);

/* "http://127.0.0.1:8080/" or "unix:/run/refnet/ui.sock". */
const char *rn__web_url(const struct rn__web *w);
/* The token actions need: 32 hex digits. */
const char *rn__web_token(const struct rn__web *w);

/* [any] Requests refused for reason r since the start. */
uint64_t rn__web_refusals(const struct rn__web *w, enum rn_web_refusal r);

/* [L, the loop not running] Stops the thread, cancels the sampler's walk,
 * closes the socket (removing a UNIX socket's file) and frees w.  NULL is
 * allowed. */
void rn__web_close(struct rn__web *w);

/* ---- The sampler (web_sample.c), used by web.c ------------------------- */

struct rn__web_sampler;

/* The latest data the sampler rendered, as JSON texts (each one value). */
struct rn__web_sample {
    struct rn_strbuf *ws_ifaces;       /* `ifconfig --json` */
    struct rn_strbuf *ws_stats;        /* `stat --json` */
    struct rn_strbuf *ws_services;     /* `svc list --json` */
    struct rn_strbuf *ws_history;      /* the last minutes, one entry a second */
    struct rn_strbuf *ws_conns;        /* `netstat -a --refs --json` */
    rn_time_t ws_when;                 /* loop time of the sample, 0: none yet */
    rn_time_t ws_conns_when;           /* of the rows */
    uint64_t ws_walks;                 /* walks completed */
    uint64_t ws_loop_ns;               /* the loop thread's CPU time the
                                          sampler took, all told (ticks,
                                          walk batches, actions) */
};

/* [L] Creates the sampler and arms its timer.  notify_fd (an eventfd, or
 * -1) is written to when a sample is published while the server awaits one
 * (rn__web_sampler_await()).  NULL on allocation failure. */
struct rn__ctl_lanes;
struct rn__web_sampler *rn__web_sampler_new(struct rn_loop *loop, struct rn_stack *st,
                                            struct rn__ctl_lanes *lanes, struct rn__ctl_svc *cs,
                                            bool inject, int notify_fd);
/* What a viewer looked at: the sampler renders the overview's data, or
 * walks the connections, only while someone looks at them. */
enum rn_web_want {
    RN_WEB_WANT_OVERVIEW, /* ifconfig, stat, svc list */
    RN_WEB_WANT_CONNS,    /* the netstat walk */
    RN_WEB_WANT_COUNT_
};

/* [any] Someone looked at what: sample it for the next few seconds.
 * Returns true if no one had for a while: what was published then is
 * stale or missing, and a sample is on its way at once. */
bool rn__web_sampler_touch(struct rn__web_sampler *ws, enum rn_web_want what);
/* [any] How many times what has been published: a change says a new
 * sample is there. */
uint64_t rn__web_sampler_gen(struct rn__web_sampler *ws, enum rn_web_want what);
/* [any] The next publication (of anything) writes to the notify fd. */
void rn__web_sampler_await(struct rn__web_sampler *ws);
/* [any] Calls fn with the latest sample, under the sampler's lock (fn must
 * copy what it needs and return quickly). */
void rn__web_sampler_read(struct rn__web_sampler *ws,
                          void (*fn)(const struct rn__web_sample *s, void *ctx), void *ctx);
/* [any] Posts work to the loop: runs fn(ctx) there.  Returns 0 or RN_EBUSY
 * when an action is already queued. */
int rn__web_sampler_run(struct rn__web_sampler *ws, void (*fn)(void *ctx), void *ctx);
/* [L, the loop not running] Cancels the walk in flight and frees ws. */
void rn__web_sampler_free(struct rn__web_sampler *ws);

/* ---- The report, shared with `refnet analyze --html` ---------------------- */

struct rn_snapshot;

/* Appends the self-contained HTML report of s to out: the page's script
 * and style inline, the data (rn__render_report_json()) in a JSON script
 * block; nothing is fetched when it opens.  title names its source ("dump
 * /var/tmp/x.dump", "live daemon pid 12").  Returns 0 or RN_ENOMEM. */
int rn__web_report_html(const struct rn_snapshot *s, const char *title, struct rn_strbuf *out);

/* The assets built into the daemon (web_assets.c, generated). */
struct rn__web_asset {
    const char *wa_name;             /* "app.js" */
    const char *wa_type;             /* "text/javascript; charset=utf-8" */
    const unsigned char *wa_data;
    size_t wa_len;
};
/* The asset called name, or NULL. */
const struct rn__web_asset *rn__web_asset(const char *name);

#endif /* REFNET_CTL_WEB_H */
