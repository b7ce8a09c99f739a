/*
 * The static file web server (apps.h, "httpd"): HTTP/1.1 over the TCP
 * service skeleton (tcp_server.c), the pure parser (http.c) and the
 * beneath-the-root opens (httpd_fs.c).
 *
 * A connection always has exactly one request in flight (until it
 * closes), and is in one of four states:
 *   READ    a receive into w_in; bytes go through the parser as they come
 *   SKIP    a receive whose bytes are a request body being dropped
 *   SEND    a send: a response head, or head and file piece, or a piece
 *   LINGER  our side is shut; a receive drops what the peer still sends
 * In call order:
 *   hc_open() -> hc_read()
 *   hc_done(RECV) -> hc_input() -> rn__http_parse() ...
 *      DONE  -> [SKIP the body] -> hc_respond() -> hc_send()
 *      ERROR -> hc_error() -> hc_send()
 *   hc_done(SEND) -> hc_sent(): next file piece (pread, hc_send()), or
 *      the response is over -> hc_next() (keep-alive: parse what is
 *      buffered, pipelined, else hc_read()) or hc_linger()
 *   hc_done(RECV) in LINGER: drop; the peer's end -> close; time up -> reset
 * An idle connection (READ, nothing buffered, no request begun) keeps
 * its parser and buffers (struct hc_work, 13 KB) for HTTPD_HOT only, so
 * that keep-alive requests in quick succession cost one receive each; its
 * receive then times out, the work block goes back to the server's free
 * list (at most HTTPD_WORK_KEEP kept) and a poll for input waits out the
 * rest of the idle timeout in its place (the zero-byte receive of a
 * Windows server).  Input, or the peer's end, takes a block again and
 * receives.
 * Deadlines ride on the receive requests' own timeouts (sq_timeout, on
 * the stack's timers): the idle timeout while no request has begun, the
 * head deadline from a head's first byte, as long again for a body to be
 * dropped, the linger deadline; a send carries hp_send_timeout.  A timeout completes the request with
 * RN_EAGAIN.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apps/http.h"
#include "apps/httpd_cache.h"
#include "apps/httpd_fs.h"
#include "refnet/heap.h"
#include "refnet/error.h"
#include "apps/tcp_server.h"

#define HTTPD_IN 4096u                       /* receive buffer per connection */
#define HTTPD_HEAD_MAX 512u                  /* a response head, an error body */
#define HTTPD_OUT_SMALL 4096u                /* a head and a small cached file's
                                                body, sent from the work block */
#define HTTPD_CONNS_DEFAULT 4000u
#define HTTPD_CONNS_MAX RN_SVC_CONNS_MAX
#define HTTPD_BACKLOG_DEFAULT 1024u
#define HTTPD_IDLE_DEFAULT RN_SEC(30)
#define HTTPD_HEADER_DEFAULT RN_SEC(10)
#define HTTPD_SEND_DEFAULT RN_SEC(60)
#define HTTPD_LINGER_DEFAULT RN_SEC(5)
#define HTTPD_CHUNK_DEFAULT 65536u
#define HTTPD_CHUNK_MIN 4096u
#define HTTPD_CHUNK_MAX (1u << 20)
#define HTTPD_CACHE_VALID RN_SEC(1)             /* an open file trusted unchecked */
#define HTTPD_BUFS_KEEP 16u                  /* send buffers kept for reuse, at
                                                least ... */
#define HTTPD_BUFS_KEEP_BYTES (16u << 20)    /* ... and up to as many as were in
                                                use at once, within this many
                                                bytes */
#define HTTPD_HOT RN_SEC(2)                  /* an idle connection keeps its work
                                                block this long */
#define HTTPD_WORK_KEEP 64u                  /* free work blocks kept for reuse */

struct rn_httpd {
    struct tsrv hd_srv;            /* the skeleton; first, so a tsrv is a rn_httpd */
    int hd_root;                   /* [I] the document root, opened O_DIRECTORY */
    rn_time_t hd_idle;             /* [I] hp_idle_timeout */
    rn_time_t hd_header;           /* [I] hp_header_timeout */
    rn_time_t hd_send;             /* [I] hp_send_timeout */
    rn_time_t hd_linger;           /* [I] hp_linger_timeout */
    uint32_t hd_chunk;             /* [I] hp_chunk */
    struct rn_httpd_stats hd_stats; /* [L] hs_conn is filled in from the skeleton */
    struct httpd_cache hd_cache;   /* [L] open files (httpd_cache.h) */
    void *hd_bufs;                 /* [L] hd_chunk-byte send buffers kept for
                                      reuse, each holding the next's address */
    unsigned hd_nbufs;             /* [L] buffers on hd_bufs */
    unsigned hd_bufs_out;          /* [L] buffers taken and not yet given back */
    unsigned hd_bufs_keep;         /* [L] the most hd_bufs may hold: the most
                                      taken at once since the last connection
                                      went, at least HTTPD_BUFS_KEEP, within
                                      HTTPD_BUFS_KEEP_BYTES */
    struct hc_work *hd_work;       /* [L] free work blocks, by w_next */
    unsigned hd_nwork;             /* [L] <= HTTPD_WORK_KEEP */
};

/* What a connection needs while it reads or answers a request; an idle
 * one lends it back (the file comment). */
struct hc_work {
    struct rn_http_parser w_parser;   /* [L] the request being read */
    uint8_t w_in[HTTPD_IN];           /* [L] received bytes */
    char w_head[HTTPD_OUT_SMALL];     /* [L] heads (at most HTTPD_HEAD_MAX
                                         bytes), error bodies, and a small
                                         cached file's body after its head */
    uint32_t w_in_off;                /* [L] w_in[w_in_off..w_in_len) not yet */
    uint32_t w_in_len;                /*     parsed; w_in_off <= w_in_len */
    uint64_t w_skip;                  /* [L] request body bytes still to drop */
    struct httpd_centry *w_file;      /* [L] the cached open file being sent, or NULL */
    int w_fd;                         /* [L] its descriptor, or -1 */
    uint64_t w_file_off;              /* [L] its next offset */
    uint64_t w_file_left;             /* [L] its bytes still to send */
    uint8_t *w_out;                   /* [L] hd_chunk bytes, during a file response */
    struct hc_work *w_next;           /* [L] on hd_work while free */
};

enum hc_state {
    HC_READ,
    HC_SKIP,
    HC_SEND,
    HC_LINGER,
};

struct hconn {
    struct tsrv_conn hc_base;         /* the skeleton's head */
    uint8_t hc_state;                 /* [L] enum hc_state, see the file comment */
    bool hc_close_after;              /* [L] close once the response is sent */
    bool hc_shut;                     /* [L] the last send shut our side (RN_MSG_EOF) */
    struct hc_work *hc_w;             /* [L] parser, buffers and the request in
                                         hand; NULL only while idle (READ,
                                         nothing buffered, no request begun) */
    struct rn_timer hc_timer;         /* [L] hc_deadline of a wait for input
                                         (rn__tsrv_wait_input()) */
    rn_time_t hc_deadline;            /* [L] when the current wait for input ends */
};

static void hc_input(struct hconn *hc);

static struct rn_httpd *hd_of(const struct hconn *hc)
{
    return (struct rn_httpd *)hc->hc_base.tc_srv;
}

int rn__httpd_status_index(int status)
{
    static const int codes[] = {400, 404, 405, 408, 414, 431, 505};
    int i;

    for (i = 0; i < (int)(sizeof(codes) / sizeof(codes[0])); i++) {
        if (codes[i] == status)
            return i;
    }
    return -1;
}

static void count_status(struct rn_httpd *hd, int status)
{
    int i = rn__httpd_status_index(status);

    hd->hd_stats.hs_requests++;
    if (status >= 200 && status < 300)
        hd->hd_stats.hs_status_2xx++;
    else if (status >= 400 && status < 500)
        hd->hd_stats.hs_status_4xx++;
    else if (status >= 500)
        hd->hd_stats.hs_status_5xx++;
    if (i >= 0)
        hd->hd_stats.hs_status[i]++;
}

/* ---- Requests in flight --------------------------------------------------------- */

static void hc_abort(struct hconn *hc)
{
    rn__tsrv_close(&hc->hc_base, true);
}

static bool hc_started(const struct hconn *hc)
{
    return hc->hc_w != NULL && rn__http_parser_started(&hc->hc_w->w_parser);
}

/* Whether hc waits for a request with nothing of one in hand. */
static bool hc_idle(const struct hconn *hc)
{
    return hc->hc_state == HC_READ &&
           (hc->hc_w == NULL ||
            (!hc_started(hc) && hc->hc_w->w_in_off == hc->hc_w->w_in_len));
}

/* Gives hc a work block: a kept one, else a new one.  Returns false if
 * there is no memory for one. */
static bool work_take(struct hconn *hc)
{
    struct rn_httpd *hd = hd_of(hc);
    struct hc_work *w = hd->hd_work;

    if (hc->hc_w != NULL)
        return true;
    if (w != NULL) {
        hd->hd_work = w->w_next;
        hd->hd_nwork--;
    } else {
        w = rn_pgblock_get(sizeof(*w));
        if (w == NULL)
            return false;
    }
    rn__http_parser_init(&w->w_parser, NULL);
    w->w_in_off = w->w_in_len = 0;
    w->w_skip = 0;
    w->w_file = NULL;
    w->w_fd = -1;
    w->w_file_off = w->w_file_left = 0;
    w->w_out = NULL;
    hc->hc_w = w;
    return true;
}

/* Takes hc's work block back. */
static void work_give(struct hconn *hc)
{
    struct rn_httpd *hd = hd_of(hc);
    struct hc_work *w = hc->hc_w;

    if (w == NULL)
        return;
    assert(w->w_file == NULL && w->w_out == NULL);  /* hc_file_end() first */
    hc->hc_w = NULL;
    if (hd->hd_nwork >= HTTPD_WORK_KEEP) {
        rn_pgblock_put(w, sizeof(*w));
        return;
    }
    w->w_next = hd->hd_work;
    hd->hd_work = w;
    hd->hd_nwork++;
}

/* Receives into the free part of w_in, until hc_deadline; an idle
 * connection without a work block waits for input instead (in the
 * service's readiness set, hc_timer at its deadline), and one with a
 * block waits HTTPD_HOT at most before it lends the block back. */
static void hc_read(struct hconn *hc)
{
    rn_time_t now = rn__tsrv_now(hc->hc_base.tc_srv);
    rn_time_t wait = hc->hc_deadline > now ? hc->hc_deadline - now : 1;
    struct rn_sock_req rq = {.sq_op = RN_SOP_RECV};

    if (hc->hc_w == NULL && hc_idle(hc)) {
        if (rn__tsrv_wait_input(&hc->hc_base) < 0) {
            hc_abort(hc);
            return;
        }
        (void)rn_timer_arm(rn_stack_timers(hc->hc_base.tc_srv->ts_stack), &hc->hc_timer,
                           now + wait);
        return;
    }
    if (!work_take(hc)) {
        hc_abort(hc);
        return;
    }
    if (hc->hc_w->w_in_off == hc->hc_w->w_in_len)
        hc->hc_w->w_in_off = hc->hc_w->w_in_len = 0;
    assert(hc->hc_w->w_in_len < HTTPD_IN);
    rq.sq_buf = hc->hc_w->w_in + hc->hc_w->w_in_len;
    rq.sq_len = HTTPD_IN - hc->hc_w->w_in_len;
    /* A deadline already passed still gets a receive, of the shortest
     * wait: the timeout then takes the one path every timeout takes. */
    rq.sq_timeout = hc_idle(hc) && wait > HTTPD_HOT ? HTTPD_HOT : wait;
    if (rn__tsrv_submit(&hc->hc_base, &rq) < 0)
        hc_abort(hc);
}

static void hc_send(struct hconn *hc, const void *buf, size_t len)
{
    struct rn_sock_req rq = {
        .sq_op = RN_SOP_SEND,
        .sq_buf = (void *)buf,
        .sq_len = len,
        .sq_timeout = hd_of(hc)->hd_send,
    };

    /* The last bytes of a response that ends the connection carry our
     * FIN: a client that closes as soon as it has the answer (wrk, curl
     * with Connection: close) then closes second, and the TIME_WAIT stays
     * here rather than filling the client's ports. */
    if (hc->hc_close_after && (hc->hc_w->w_fd < 0 || hc->hc_w->w_file_left == 0)) {
        rq.sq_flags |= RN_MSG_EOF;
        hc->hc_shut = true;
    }

    hc->hc_state = HC_SEND;
    if (rn__tsrv_submit(&hc->hc_base, &rq) < 0)
        hc_abort(hc);
}

/* ---- Responses -------------------------------------------------------------------- */

/* A send buffer of hd_chunk bytes: a kept one, else a new one.  The pool
 * keeps as many as were out at once (within HTTPD_BUFS_KEEP_BYTES), so
 * that a steady load of larger responses takes none from malloc: with a
 * fixed 16, 100 connections fetching 16 KiB files made the heap grow and
 * shrink a thousand times in 3 s. */
static uint8_t *buf_get(struct rn_httpd *hd)
{
    uint8_t *b = hd->hd_bufs;

    if (b != NULL) {
        memcpy(&hd->hd_bufs, b, sizeof(void *));
        hd->hd_nbufs--;
    } else if ((b = rn_pgblock_get(hd->hd_chunk)) == NULL) {
        return NULL;
    }
    hd->hd_bufs_out++;
    if (hd->hd_bufs_out > hd->hd_bufs_keep &&
        (uint64_t)hd->hd_bufs_out * hd->hd_chunk <= HTTPD_BUFS_KEEP_BYTES)
        hd->hd_bufs_keep = hd->hd_bufs_out;
    return b;
}

static void buf_put(struct rn_httpd *hd, uint8_t *b)
{
    if (b == NULL)
        return;
    hd->hd_bufs_out--;
    if (hd->hd_nbufs >= hd->hd_bufs_keep) {
        rn_pgblock_put(b, hd->hd_chunk);
        return;
    }
    memcpy(b, &hd->hd_bufs, sizeof(void *));
    hd->hd_bufs = b;
    hd->hd_nbufs++;
}

/* Gives back every kept send buffer (the server has no connection); the
 * pool starts small again. */
static void bufs_release(struct rn_httpd *hd)
{
    while (hd->hd_bufs != NULL) {
        void *b = hd->hd_bufs;

        memcpy(&hd->hd_bufs, b, sizeof(void *));
        rn_pgblock_put(b, hd->hd_chunk);
    }
    hd->hd_nbufs = 0;
    hd->hd_bufs_keep = HTTPD_BUFS_KEEP;
}

/* Frees every kept work block. */
static void works_release(struct rn_httpd *hd)
{
    while (hd->hd_work != NULL) {
        struct hc_work *w = hd->hd_work;

        hd->hd_work = w->w_next;
        rn_pgblock_put(w, sizeof(*w));
    }
    hd->hd_nwork = 0;
}

static void hc_file_end(struct hconn *hc)
{
    struct rn_httpd *hd = hd_of(hc);

    if (hc->hc_w == NULL)
        return;
    if (hc->hc_w->w_file != NULL)
        rn__httpd_cache_put(&hd->hd_cache, hc->hc_w->w_file);
    hc->hc_w->w_file = NULL;
    hc->hc_w->w_fd = -1;
    hc->hc_w->w_file_left = 0;
    buf_put(hd, hc->hc_w->w_out);
    hc->hc_w->w_out = NULL;
}

/* A response with a short text body (errors, 403, 404).  close: the
 * connection ends after it. */
static void hc_status(struct hconn *hc, int status, bool close)
{
    struct rn_http_parser *hp = &hc->hc_w->w_parser;
    char body[64];
    unsigned flags = 0;
    size_t n, blen;

    count_status(hd_of(hc), status);
    blen = (size_t)snprintf(body, sizeof(body), "%d %s\n", status, rn__http_reason(status));
    if (close)
        hc->hc_close_after = true;
    if (hc->hc_close_after)
        flags |= RN_HTTP_RF_CLOSE;
    else if (hp->hp_minor == 0)
        flags |= RN_HTTP_RF_KEEPALIVE;
    if (status == 405)
        flags |= RN_HTTP_RF_ALLOW;
    n = rn__http_format_head(hc->hc_w->w_head, HTTPD_HEAD_MAX, status,
                            "text/plain; charset=utf-8", blen, flags);
    assert(n > 0 && n + blen < sizeof(hc->hc_w->w_head));
    /* HEAD gets the head alone; so does a request we could not read. */
    if (hp->hp_method != RN_HTTP_M_HEAD) {
        memcpy(hc->hc_w->w_head + n, body, blen);
        n += blen;
    }
    hc_send(hc, hc->hc_w->w_head, n);
}

/* A request that cannot be answered normally: its status, then close. */
static void hc_error(struct hconn *hc, int status)
{
    hc_status(hc, status, true);
}

/* Reads the next piece of the file into hc_out after `used` bytes already
 * there (the head), and sends them.  Returns false if the file could not
 * give what it promised. */
static bool hc_piece(struct hconn *hc, size_t used)
{
    struct rn_httpd *hd = hd_of(hc);
    size_t want = hd->hd_chunk - used;
    ssize_t n;

    if (want > hc->hc_w->w_file_left)
        want = (size_t)hc->hc_w->w_file_left;
    do
        n = pread(hc->hc_w->w_fd, hc->hc_w->w_out + used, want, (off_t)hc->hc_w->w_file_off);
    while (n < 0 && errno == EINTR);
    if (n <= 0 && want > 0) {
        /* Shrunk or failed under us: the length was promised.  The next
         * request opens the path again. */
        rn__httpd_cache_drop(&hd->hd_cache, hc->hc_w->w_file);
        return false;
    }
    hc->hc_w->w_file_off += (uint64_t)n;
    hc->hc_w->w_file_left -= (uint64_t)n;
    hd->hd_stats.hs_file_bytes += (uint64_t)n;
    hc_send(hc, hc->hc_w->w_out, used + (size_t)n);
    return true;
}

/* Answers the complete request in hc_parser. */
static void hc_respond(struct hconn *hc)
{
    struct rn_http_parser *hp = &hc->hc_w->w_parser;
    struct rn_httpd *hd = hd_of(hc);
    char path[RN_HTTP_TARGET_MAX + 1];
    struct httpd_centry *e = NULL;
    bool refused = false;
    unsigned flags = 0;
    uint64_t size;
    size_t n;
    bool dir;
    int status;

    /* A draining server answers what was asked and then closes. */
    hc->hc_close_after = !rn__http_keep_alive(hp) || hd->hd_srv.ts_draining;
    if (hp->hp_method == RN_HTTP_M_OTHER) {
        hc_error(hc, 405);
        return;
    }
    status = rn__http_target_path(hp->hp_target, hp->hp_target_len, path, sizeof(path), &dir);
    if (status == 0)
        status = rn__httpd_cache_get(&hd->hd_cache, path, dir, rn__tsrv_now(&hd->hd_srv), &e);
    else if (status == 404)
        refused = true;
    if (status == 404 && !refused)
        refused = hd->hd_cache.hc_refused;
    if (status != 0) {
        if (status == 404 && refused)
            hd->hd_stats.hs_refused_paths++;
        hc_status(hc, status, status != 403 && status != 404);
        return;
    }
    count_status(hd, 200);
    if (hc->hc_close_after)
        flags |= RN_HTTP_RF_CLOSE;
    else if (hp->hp_minor == 0)
        flags |= RN_HTTP_RF_KEEPALIVE;
    size = e->ce_file.hf_size;
    n = rn__http_format_head(hc->hc_w->w_head, HTTPD_HEAD_MAX, 200,
                            rn__http_content_type(e->ce_file.hf_index ? "index.html" : path), size,
                            flags);
    assert(n > 0);
    if (hp->hp_method == RN_HTTP_M_HEAD || size == 0) {
        rn__httpd_cache_put(&hd->hd_cache, e);
        hc_send(hc, hc->hc_w->w_head, n);
        return;
    }
    if (e->ce_body != NULL && n + size <= sizeof(hc->hc_w->w_head)) {
        /* A small cached file goes out behind its head, from the work
         * block the request already has: no send buffer to take, and
         * one copy of the body.  (With a 64 KiB buffer per response,
         * 100 keep-alive connections took more buffers than the 16 kept
         * and the heap grew and shrank with every pass.) */
        memcpy(hc->hc_w->w_head + n, e->ce_body, size);
        rn__httpd_cache_put(&hd->hd_cache, e);
        hd->hd_stats.hs_file_bytes += size;
        hc_send(hc, hc->hc_w->w_head, n + size);
        return;
    }
    hc->hc_w->w_out = buf_get(hd);
    if (hc->hc_w->w_out == NULL) {
        rn__httpd_cache_put(&hd->hd_cache, e);
        hc_error(hc, 500);
        return;
    }
    hc->hc_w->w_file = e;
    hc->hc_w->w_fd = e->ce_file.hf_fd;
    hc->hc_w->w_file_off = 0;
    hc->hc_w->w_file_left = size;
    /* The head and the first piece go in one send; a small cached file
     * is copied from memory, with no read. */
    memcpy(hc->hc_w->w_out, hc->hc_w->w_head, n);
    if (e->ce_body != NULL && n + size <= hd->hd_chunk) {
        memcpy(hc->hc_w->w_out + n, e->ce_body, size);
        hc->hc_w->w_file_off = size;
        hc->hc_w->w_file_left = 0;
        hd->hd_stats.hs_file_bytes += size;
        hc_send(hc, hc->hc_w->w_out, n + size);
        return;
    }
    if (!hc_piece(hc, n)) {
        hd->hd_stats.hs_file_errors++;
        hc_file_end(hc);
        hc_abort(hc);
    }
}

/* ---- Reading requests --------------------------------------------------------------- */

/* Waits for the next request, parsing what is buffered first. */
static void hc_next(struct hconn *hc)
{
    hc->hc_state = HC_READ;
    if (hc->hc_w != NULL)
        rn__http_parser_reset(&hc->hc_w->w_parser);
    hc->hc_deadline = rn__tsrv_now(hc->hc_base.tc_srv) + hd_of(hc)->hd_idle;
    hc_input(hc);
}

/* Shuts our side and drops input until the peer closes. */
static void hc_linger(struct hconn *hc)
{
    struct rn_httpd *hd = hd_of(hc);

    hc->hc_state = HC_LINGER;
    if (!hc->hc_shut)
        (void)rn_sock_shutdown(hd->hd_srv.ts_proc, hc->hc_base.tc_handle, RN_SHUT_WR);
    if (hc->hc_w != NULL)
        hc->hc_w->w_in_off = hc->hc_w->w_in_len = 0;
    hc->hc_deadline = rn__tsrv_now(&hd->hd_srv) + hd->hd_linger;
    hc_read(hc);
}

/* Goes through the buffered input, in READ or SKIP. */
static void hc_input(struct hconn *hc)
{
    struct rn_http_parser *hp;
    struct rn_httpd *hd = hd_of(hc);

    if (hc->hc_w == NULL) {
        hc_read(hc);  /* nothing buffered: wait for input */
        return;
    }
    hp = &hc->hc_w->w_parser;
    for (;;) {
        uint32_t avail = hc->hc_w->w_in_len - hc->hc_w->w_in_off;
        bool was_started = rn__http_parser_started(hp);
        size_t used;
        int r;

        if (hc->hc_state == HC_SKIP) {
            uint32_t n = hc->hc_w->w_skip < avail ? (uint32_t)hc->hc_w->w_skip : avail;

            hc->hc_w->w_in_off += n;
            hc->hc_w->w_skip -= n;
            if (hc->hc_w->w_skip > 0) {
                hc_read(hc);
                return;
            }
            hc_respond(hc);
            return;
        }
        if (avail == 0) {
            hc_read(hc);
            return;
        }
        r = rn__http_parse(hp, hc->hc_w->w_in + hc->hc_w->w_in_off, avail, &used);
        hc->hc_w->w_in_off += (uint32_t)used;
        if (!was_started && rn__http_parser_started(hp))
            hc->hc_deadline = rn__tsrv_now(&hd->hd_srv) + hd->hd_header;
        if (r == RN_HTTP_ERROR) {
            hc_error(hc, hp->hp_status);
            return;
        }
        if (r == RN_HTTP_DONE) {
            if (hp->hp_has_length && hp->hp_length > 0 && hp->hp_method != RN_HTTP_M_OTHER) {
                /* The body has as long as a head had, in all. */
                hc->hc_state = HC_SKIP;
                hc->hc_w->w_skip = hp->hp_length;
                hc->hc_deadline = rn__tsrv_now(&hd->hd_srv) + hd->hd_header;
                continue;
            }
            hc_respond(hc);
            return;
        }
    }
}

/* ---- Completions --------------------------------------------------------------------- */

static void hc_received(struct hconn *hc, ssize_t n)
{
    struct rn_httpd *hd = hd_of(hc);
    struct tsrv *s = &hd->hd_srv;

    if (n > 0) {
        s->ts_stats.ss_bytes_in += (uint64_t)n;
        if (hc->hc_state == HC_LINGER) {
            hc_read(hc);  /* dropped */
            return;
        }
        hc->hc_w->w_in_len += (uint32_t)n;
        hc_input(hc);
        return;
    }
    if (n == 0) {
        /* The peer's end: nothing more will come, nothing is owed. */
        rn__tsrv_close(&hc->hc_base, false);
        return;
    }
    if (n != RN_EAGAIN) {
        s->ts_stats.ss_resets++;
        hc_abort(hc);
        return;
    }
    /* An idle connection's wait with its work block is over: it lends
     * the block back and polls until the idle deadline. */
    if (hc_idle(hc) && hc->hc_w != NULL &&
        rn__tsrv_now(&hd->hd_srv) < hc->hc_deadline) {
        work_give(hc);
        hc_read(hc);
        return;
    }
    /* A drain's linger keeps the rest of the idle wait it began in. */
    if (hc->hc_state == HC_LINGER && rn__tsrv_now(&hd->hd_srv) < hc->hc_deadline) {
        hc_read(hc);
        return;
    }
    /* A deadline passed. */
    if (hc->hc_state == HC_LINGER) {
        hc_abort(hc);
    } else if (hc->hc_state == HC_SKIP || hc_started(hc)) {
        hd->hd_stats.hs_header_timeouts++;
        hc_error(hc, 408);
    } else {
        hd->hd_stats.hs_idle_closed++;
        hc_linger(hc);
    }
}

static void hc_sent(struct hconn *hc, ssize_t n)
{
    struct rn_httpd *hd = hd_of(hc);

    if (n < 0) {
        if (n == RN_EAGAIN)
            hd->hd_stats.hs_send_timeouts++;
        else
            hd->hd_srv.ts_stats.ss_resets++;
        hc_file_end(hc);
        hc_abort(hc);
        return;
    }
    hd->hd_srv.ts_stats.ss_bytes_out += (uint64_t)n;
    if (hc->hc_w->w_fd >= 0 && hc->hc_w->w_file_left > 0) {
        if (!hc_piece(hc, 0)) {
            hd->hd_stats.hs_file_errors++;
            hc_file_end(hc);
            hc_abort(hc);
        }
        return;
    }
    hc_file_end(hc);
    if (hc->hc_close_after)
        hc_linger(hc);
    else
        hc_next(hc);
}

/* An idle connection's wait for input: input, the peer's end or an
 * error came (a receive tells which). */
static void hc_ready(struct tsrv_conn *c, unsigned events)
{
    struct hconn *hc = (struct hconn *)c;

    (void)events;
    rn_timer_cancel(rn_stack_timers(c->tc_srv->ts_stack), &hc->hc_timer);
    if (!work_take(hc))
        hc_abort(hc);
    else
        hc_read(hc);
}

/* The idle deadline of a wait for input passed, as a receive's timeout. */
static void hc_timeout(struct rn_timer *t, rn_time_t now)
{
    struct hconn *hc = (struct hconn *)((char *)t - offsetof(struct hconn, hc_timer));

    (void)now;
    if (hc->hc_base.tc_srv->ts_stopping || !rn__tsrv_wait_cancel(&hc->hc_base))
        return;
    hc_received(hc, RN_EAGAIN);
    rn__tsrv_settle(&hc->hc_base);
}

static void hc_done(struct tsrv_conn *c, const struct rn_sock_completion *cmp)
{
    struct hconn *hc = (struct hconn *)c;

    if (cmp->sc_op == RN_SOP_RECV) {
        hc_received(hc, cmp->sc_result);
    } else {
        hc_sent(hc, cmp->sc_result);
    }
}

static void hc_open(struct tsrv_conn *c)
{
    struct hconn *hc = (struct hconn *)c;

    rn_timer_init(&hc->hc_timer, hc_timeout);
    hc_next(hc);  /* no work block until input comes */
}

/* The server drains: an idle connection shuts our side (the peer's end
 * closes it), one that is reading or answering a request closes once its
 * answer is sent. */
static void hc_drain(struct tsrv_conn *c)
{
    struct hconn *hc = (struct hconn *)c;

    switch (hc->hc_state) {
    case HC_READ:
        if (hc_idle(hc)) {
            /* The receive in flight hears the peer's end (or its
             * deadline) and closes; what the peer sends meanwhile is
             * dropped. */
            hc->hc_state = HC_LINGER;
            hc->hc_shut = true;
            (void)rn_sock_shutdown(hd_of(hc)->hd_srv.ts_proc, c->tc_handle, RN_SHUT_WR);
            return;
        }
        hc->hc_close_after = true;
        return;
    case HC_SKIP:
    case HC_SEND:
        hc->hc_close_after = true;
        return;
    case HC_LINGER:
        return;
    }
}

static uint64_t hc_left(const struct tsrv_conn *c)
{
    const struct hconn *hc = (const struct hconn *)c;

    return hc->hc_w != NULL && hc->hc_w->w_fd >= 0 ? hc->hc_w->w_file_left : 0;
}

static void hc_free(struct tsrv_conn *c)
{
    struct hconn *hc = (struct hconn *)c;
    struct rn_httpd *hd = hd_of(hc);

    rn_timer_cancel(rn_stack_timers(c->tc_srv->ts_stack), &hc->hc_timer);
    hc_file_end(hc);
    work_give(hc);
    /* The last connection gone: kept send buffers go back. */
    if (hd->hd_srv.ts_stats.ss_active == 0) {
        bufs_release(hd);
        works_release(hd);
    }
}

static void hd_stopped(struct tsrv *s)
{
    struct rn_httpd *hd = (struct rn_httpd *)s;

    bufs_release(hd);
    works_release(hd);
    rn__httpd_cache_fini(&hd->hd_cache);
    close(hd->hd_root);
    free(hd);
}

static const struct tsrv_ops httpd_ops = {
    .tso_conn_size = sizeof(struct hconn),
    .tso_open = hc_open,
    .tso_done = hc_done,
    .tso_ready = hc_ready,
    .tso_free = hc_free,
    .tso_stopped = hd_stopped,
    .tso_drain = hc_drain,
    .tso_left = hc_left,
};

/* ---- The service ------------------------------------------------------------------------ */

int rn__httpd_start(struct rn_stack *st, const struct rn_httpd_params *params,
                   struct rn_httpd **out)
{
    struct rn_httpd_params hp;
    struct tsrv_params tp = {0};
    struct rn_httpd *hd;
    int err;

    assert(params != NULL);
    hp = *params;
    if (hp.hp_root == NULL)
        return RN_EINVAL;
    if (hp.hp_port == 0)
        hp.hp_port = 80;
    if (hp.hp_max_conns == 0)
        hp.hp_max_conns = HTTPD_CONNS_DEFAULT;
    if (hp.hp_backlog == 0)
        hp.hp_backlog = HTTPD_BACKLOG_DEFAULT;
    if (hp.hp_chunk == 0)
        hp.hp_chunk = HTTPD_CHUNK_DEFAULT;
    if (hp.hp_max_conns > HTTPD_CONNS_MAX || hp.hp_backlog > 65535 ||
        hp.hp_chunk < HTTPD_CHUNK_MIN || hp.hp_chunk > HTTPD_CHUNK_MAX)
        return RN_EINVAL;
    hd = calloc(1, sizeof(*hd));
    if (hd == NULL)
        return RN_ENOMEM;
    hd->hd_idle = hp.hp_idle_timeout ? hp.hp_idle_timeout : HTTPD_IDLE_DEFAULT;
    hd->hd_header = hp.hp_header_timeout ? hp.hp_header_timeout : HTTPD_HEADER_DEFAULT;
    hd->hd_send = hp.hp_send_timeout ? hp.hp_send_timeout : HTTPD_SEND_DEFAULT;
    hd->hd_linger = hp.hp_linger_timeout ? hp.hp_linger_timeout : HTTPD_LINGER_DEFAULT;
    hd->hd_chunk = hp.hp_chunk;
    hd->hd_bufs_keep = HTTPD_BUFS_KEEP;
    hd->hd_root = open(hp.hp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (hd->hd_root < 0) {
        err = errno == ENOENT ? RN_ENOENT : errno == EACCES ? RN_EACCES : RN_EINVAL;
        free(hd);
        return err;
    }
    if (rn__httpd_cache_init(&hd->hd_cache, hd->hd_root, HTTPD_CACHE_ENTRIES_DEFAULT,
                             HTTPD_CACHE_BYTES_DEFAULT, HTTPD_CACHE_VALID) < 0) {
        close(hd->hd_root);
        free(hd);
        return RN_ENOMEM;
    }
    tp.tsp_name = "httpd";
    tp.tsp_addr = hp.hp_addr;
    tp.tsp_port = hp.hp_port;
    tp.tsp_backlog = hp.hp_backlog;
    tp.tsp_max_conns = hp.hp_max_conns;
    tp.tsp_proc = hp.hp_proc;
    err = rn__tsrv_start(&hd->hd_srv, st, &httpd_ops, &tp);
    if (err < 0) {
        rn__httpd_cache_fini(&hd->hd_cache);
        close(hd->hd_root);
        free(hd);
        return err;
    }
    *out = hd;
    return 0;
}

void rn__httpd_stop(struct rn_httpd *h, void (*done)(void *ctx), void *ctx)
{
    rn__tsrv_stop(&h->hd_srv, done, ctx);
}

void rn__httpd_drain(struct rn_httpd *h)
{
    rn__tsrv_drain(&h->hd_srv);
}

void rn__httpd_drain_status(const struct rn_httpd *h, uint32_t *conns, uint64_t *left,
                            uint64_t *sent)
{
    rn__tsrv_drain_status(&h->hd_srv, conns, left, sent);
}

void rn__httpd_released(struct rn_httpd *h)
{
    rn__tsrv_released(&h->hd_srv);
}

void rn__httpd_stats(const struct rn_httpd *h, struct rn_httpd_stats *out)
{
    *out = h->hd_stats;
    out->hs_conn = h->hd_srv.ts_stats;
}

struct rn_proc *rn__httpd_proc(const struct rn_httpd *h)
{
    return h->hd_srv.ts_proc;
}

int rn__httpd_parse_spec(const char *spec, struct rn_httpd_params *params, char *err,
                        size_t errlen)
{
    const char *colon = strchr(spec, ':');
    unsigned long port = 0;
    const char *p;

    memset(params, 0, sizeof(*params));
    if (colon == NULL || colon == spec) {
        snprintf(err, errlen, "httpd: expected PORT:DIR, got '%s'", spec);
        return RN_EINVAL;
    }
    for (p = spec; p < colon; p++) {
        if (*p < '0' || *p > '9' || port > 65535) {
            snprintf(err, errlen, "httpd: bad port in '%s'", spec);
            return RN_EINVAL;
        }
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port == 0 || port > 65535) {
        snprintf(err, errlen, "httpd: port must be 1..65535 in '%s'", spec);
        return RN_EINVAL;
    }
    if (colon[1] == '\0') {
        snprintf(err, errlen, "httpd: no directory in '%s'", spec);
        return RN_EINVAL;
    }
    params->hp_port = (uint16_t)port;
    params->hp_root = colon + 1;
    return 0;
}
