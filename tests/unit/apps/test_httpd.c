/*
 * The web server (apps/httpd.c) on stack b serving a temporary directory,
 * with clients on stack a over a simulated cable, in virtual time: GET and
 * HEAD of small and large files byte for byte, keep-alive (without a
 * malloc per request) and pipelining,
 * Connection: close and HTTP/1.0, every error status, path tricks and
 * symbolic links (with openat2 and with the fallback walk), the slowloris
 * and idle deadlines, the send timeout, the cap, a thousand malformed
 * requests, and a stop in the middle of responses.  Every test ends with
 * no object alive, empty pools, and the descriptors it began with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../../apps/httpd_fs.h"
#include "helper_client.h"
#include "apps/apps.h"
#include "refnet/heap.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "support.h"

#define BIG_LEN (6u * 1024u * 1024u + 12345u)

/* Every malloc() of the process is counted (not under a sanitizer, which
 * has its own): the keep-alive path must make none per request. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SANITIZED 1 /* clang's way of saying so */
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(SANITIZED)
#define COUNTS_MALLOCS 0
static const unsigned long mallocs = 0;
#else
#define COUNTS_MALLOCS 1
extern void *__libc_malloc(size_t n);
static unsigned long mallocs;

void *malloc(size_t n)
{
    mallocs++;
    return __libc_malloc(n);
}
#endif

/* The fixture: a document root and a directory beside it ("outside"). */
static struct {
    char base[64];         /* the temporary directory */
    char root[96];         /* base/root: served */
    char outside[96];      /* base/outside: must never be served */
    uint8_t *big;          /* the contents of big.bin */
    struct rn_httpd *hd;
    struct rn_proc *cp;    /* the clients' process */
    unsigned fds;          /* descriptors open before the test */
} F;

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_str(const char *dir, const char *name, const char *s)
{
    write_file(dir, name, s, strlen(s));
}

static void make_tree(void)
{
    char path[256], target[256];
    uint8_t png[300];
    size_t i;

    strcpy(F.base, "/tmp/refnet-httpd-XXXXXX");
    assert_non_null(mkdtemp(F.base));
    snprintf(F.root, sizeof(F.root), "%s/root", F.base);
    snprintf(F.outside, sizeof(F.outside), "%s/outside", F.base);
    assert_int_equal(mkdir(F.root, 0755), 0);
    assert_int_equal(mkdir(F.outside, 0755), 0);
    write_str(F.outside, "secret.txt", "secret\n");
    write_str(F.root, "index.html", "<h1>refnet</h1>\n");
    write_str(F.root, "hello.txt", "hello, world\n");
    write_str(F.root, "style.css", "h1 { color: red }\n");
    write_str(F.root, "data.json", "{\"a\": 1}\n");
    write_str(F.root, "a b.txt", "spaced\n");
    write_str(F.root, "empty.txt", "");
    for (i = 0; i < sizeof(png); i++)
        png[i] = (uint8_t)(i * 13);
    write_file(F.root, "img.png", png, sizeof(png));
    F.big = malloc(BIG_LEN);
    assert_non_null(F.big);
    for (i = 0; i < BIG_LEN; i++)
        F.big[i] = (uint8_t)((i * 2654435761u) >> 13);
    write_file(F.root, "big.bin", F.big, BIG_LEN);
    write_file(F.root, "medium.bin", F.big, 12u * 1024u);
    write_file(F.root, "large.bin", F.big, 40u * 1024u);
    snprintf(path, sizeof(path), "%s/sub", F.root);
    assert_int_equal(mkdir(path, 0755), 0);
    write_str(path, "index.html", "<p>sub</p>\n");
    write_str(path, "page.htm", "<p>page</p>\n");
    snprintf(path, sizeof(path), "%s/noindex", F.root);
    assert_int_equal(mkdir(path, 0755), 0);
    write_str(path, "x.txt", "x\n");
    /* Links: out of the root, within it, to a directory outside. */
    snprintf(target, sizeof(target), "%s/secret.txt", F.outside);
    snprintf(path, sizeof(path), "%s/link-out", F.root);
    assert_int_equal(symlink(target, path), 0);
    snprintf(path, sizeof(path), "%s/link-in", F.root);
    assert_int_equal(symlink("hello.txt", path), 0);
    snprintf(path, sizeof(path), "%s/linkdir", F.root);
    assert_int_equal(symlink(F.outside, path), 0);
    snprintf(path, sizeof(path), "%s/sub/up", F.root);
    assert_int_equal(symlink("../hello.txt", path), 0);
    snprintf(path, sizeof(path), "%s/pipe", F.root);
    assert_int_equal(mkfifo(path, 0644), 0);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tree(void)
{
    assert_int_equal(nftw(F.base, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(F.big);
    F.big = NULL;
}

static void fx_up(const struct rn_httpd_params *extra)
{
    struct rn_httpd_params hp = extra ? *extra : (struct rn_httpd_params){0};

    F.fds = count_fds();
    make_tree();
    pair_up(1500, false);
    hp.hp_root = F.root;
    assert_int_equal(rn__httpd_start(P.b, &hp, &F.hd), 0);
    assert_int_equal(rn_proc_create(P.a, "client", &F.cp), 0);
}

static bool flag_set(void *ctx)
{
    return *(bool *)ctx;
}

static void set_flag(void *ctx)
{
    *(bool *)ctx = true;
}

static void stop_httpd(void)
{
    bool done = false;

    rn__httpd_stop(F.hd, set_flag, &done);
    F.hd = NULL;
    assert_true(run_while_not(flag_set, &done, RN_SEC(10)));
    assert_int_equal(count_objects("process", "process httpd "), 0);
    assert_int_equal(count_objects("tcp listener", NULL), 0);
}

static void fx_down(void)
{
    if (F.hd != NULL)
        stop_httpd();
    rn_proc_exit(F.cp);
    run_for(RN_SEC(1));
    assert_int_equal(pool_outstanding(P.a), 0);
    assert_int_equal(pool_outstanding(P.b), 0);
    pair_down();
    remove_tree();
    assert_int_equal(count_fds(), F.fds);
}

static void stats(struct rn_httpd_stats *out)
{
    rn__httpd_stats(F.hd, out);
}

/* Sends req on c and reads one response into r; the response leaves c's
 * buffer, its body is copied to body (if not NULL, up to cap bytes). */
static void exchange(struct tcl *c, const char *req, bool head, struct resp *r, uint8_t *body,
                     size_t cap)
{
    if (req != NULL)
        tcl_send_str(c, req);
    if (!tcl_response(c, head, r, RN_SEC(60)))
        fail_msg("no response to %.60s", req ? req : "(pipelined)");
    if (body != NULL) {
        assert_true(r->r_total - r->r_head_len <= cap);
        memcpy(body, c->cl_rx + r->r_head_len, r->r_total - r->r_head_len);
    }
    tcl_consume(c, r->r_total);
}

/* The body of the response exchanged last, NUL-terminated. */
static char body_buf[4096];

static int get_status(struct tcl *c, const char *req)
{
    struct resp r;

    memset(body_buf, 0, sizeof(body_buf));
    exchange(c, req, req != NULL && strncmp(req, "HEAD", 4) == 0, &r, (uint8_t *)body_buf,
             sizeof(body_buf) - 1);
    return r.r_status;
}

static void open_client(struct tcl *c)
{
    tcl_connect(c, F.cp, 80);
    assert_true(run_while_not(tcl_is_connected, c, RN_SEC(5)));
    assert_true(c->cl_connected);
}

static void close_client(struct tcl *c)
{
    tcl_close(c, false);
    assert_true(run_while_not(tcl_is_closed, c, RN_SEC(10)));
    tcl_free(c);
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: test\r\n\r\n"
#define HEAD(path) "HEAD " path " HTTP/1.1\r\nHost: test\r\n\r\n"

/* ---- Files ---------------------------------------------------------------------------- */

static void test_get_and_head(void **state)
{
    static uint8_t big[BIG_LEN];
    struct rn_httpd_stats hs;
    struct resp r;
    struct tcl c;

    (void)state;
    fx_up(NULL);
    open_client(&c);
    exchange(&c, GET("/hello.txt"), false, &r, (uint8_t *)body_buf, sizeof(body_buf));
    assert_int_equal(r.r_status, 200);
    assert_int_equal(r.r_length, 13);
    assert_memory_equal(body_buf, "hello, world\n", 13);
    assert_string_equal(resp_field(&r, "Content-Type"), "text/plain; charset=utf-8");
    assert_string_equal(resp_field(&r, "Server"), "refnet");
    assert_null(resp_field(&r, "Date"));
    assert_null(resp_field(&r, "Connection"));
    /* HEAD: the same head, no body (the next response follows at once). */
    exchange(&c, HEAD("/hello.txt"), true, &r, NULL, 0);
    assert_int_equal(r.r_status, 200);
    assert_int_equal(r.r_length, 13);
    run_for(RN_MSEC(50));
    assert_int_equal(c.cl_rx_len, 0);
    assert_int_equal(get_status(&c, GET("/")), 200);
    assert_string_equal(body_buf, "<h1>refnet</h1>\n");
    assert_int_equal(get_status(&c, GET("/sub/")), 200);
    assert_string_equal(body_buf, "<p>sub</p>\n");
    exchange(&c, GET("/sub"), false, &r, (uint8_t *)body_buf, sizeof(body_buf));
    assert_string_equal(resp_field(&r, "Content-Type"), "text/html; charset=utf-8");
    assert_int_equal(get_status(&c, GET("//sub//page.htm")), 200);
    assert_string_equal(body_buf, "<p>page</p>\n");
    exchange(&c, GET("/empty.txt"), false, &r, NULL, 0);
    assert_int_equal(r.r_status, 200);
    assert_int_equal(r.r_length, 0);
    exchange(&c, GET("/style.css"), false, &r, NULL, 0);
    assert_string_equal(resp_field(&r, "Content-Type"), "text/css; charset=utf-8");
    exchange(&c, GET("/data.json?x=1"), false, &r, NULL, 0);
    assert_string_equal(resp_field(&r, "Content-Type"), "application/json");
    exchange(&c, GET("/img.png"), false, &r, (uint8_t *)body_buf, sizeof(body_buf));
    assert_string_equal(resp_field(&r, "Content-Type"), "image/png");
    assert_int_equal(r.r_length, 300);
    assert_int_equal((uint8_t)body_buf[299], (uint8_t)(299 * 13));
    exchange(&c, GET("/big.bin"), false, &r, NULL, 0);  /* consumed below */
    assert_int_equal(get_status(&c, GET("/a%20b.txt")), 200);
    assert_string_equal(body_buf, "spaced\n");
    assert_int_equal(get_status(&c, "GET http://test/hello.txt HTTP/1.1\r\nHost: test\r\n\r\n"),
                     200);
    assert_string_equal(body_buf, "hello, world\n");
    /* 404 keeps the connection. */
    assert_int_equal(get_status(&c, GET("/missing.txt")), 404);
    assert_string_equal(body_buf, "404 Not Found\n");
    assert_int_equal(get_status(&c, GET("/noindex/")), 404);
    assert_int_equal(get_status(&c, HEAD("/missing")), 404);
    assert_string_equal(body_buf, "");
    /* A large file, byte for byte. */
    exchange(&c, HEAD("/big.bin"), true, &r, NULL, 0);
    assert_int_equal(r.r_length, BIG_LEN);
    assert_string_equal(resp_field(&r, "Content-Type"), "application/octet-stream");
    exchange(&c, GET("/big.bin"), false, &r, big, sizeof(big));
    assert_int_equal(r.r_status, 200);
    assert_int_equal(r.r_length, BIG_LEN);
    assert_memory_equal(big, F.big, BIG_LEN);
    stats(&hs);
    assert_int_equal(hs.hs_requests, 18);
    assert_int_equal(hs.hs_status_2xx, 15);
    assert_int_equal(hs.hs_status[rn__httpd_status_index(404)], 3);
    assert_int_equal(hs.hs_file_bytes, 2 * (uint64_t)BIG_LEN + 13 + 16 + 11 + 11 + 12 + 18 + 9 +
                                           300 + 7 + 13);
    assert_int_equal(hs.hs_conn.ss_accepted, 1);
    close_client(&c);
    fx_down();
}

/* Three large downloads at once, and a client with small requests served
 * meanwhile: the loop is never held by one response. */
static void test_concurrent_large_files(void **state)
{
    struct tcl c[3], small;
    struct resp r;
    unsigned k, i;

    (void)state;
    fx_up(NULL);
    for (k = 0; k < 3; k++) {
        open_client(&c[k]);
        tcl_send_str(&c[k], GET("/big.bin"));
    }
    open_client(&small);
    run_for(RN_MSEC(20));
    for (i = 0; i < 10; i++) {
        assert_int_equal(get_status(&small, GET("/hello.txt")), 200);
        for (k = 0; k < 3; k++)
            assert_true(c[k].cl_rx_len < BIG_LEN);  /* still downloading */
    }
    for (k = 0; k < 3; k++) {
        assert_true(tcl_response(&c[k], false, &r, RN_SEC(120)));
        assert_int_equal(r.r_status, 200);
        assert_int_equal(c[k].cl_rx_len, r.r_head_len + BIG_LEN);
        assert_memory_equal(c[k].cl_rx + r.r_head_len, F.big, BIG_LEN);
        close_client(&c[k]);
    }
    close_client(&small);
    fx_down();
}

static void test_pipelined(void **state)
{
    struct rn_httpd_stats hs;
    struct resp r;
    struct tcl c;

    (void)state;
    fx_up(NULL);
    open_client(&c);
    /* Four requests in one segment, the last asking to close. */
    tcl_send_str(&c, GET("/hello.txt") HEAD("/big.bin") GET("/nope") GET("/") "GET /sub/ "
                     "HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    exchange(&c, NULL, false, &r, (uint8_t *)body_buf, sizeof(body_buf));
    assert_int_equal(r.r_status, 200);
    assert_memory_equal(body_buf, "hello, world\n", 13);
    exchange(&c, NULL, true, &r, NULL, 0);
    assert_int_equal(r.r_status, 200);
    assert_int_equal(r.r_length, BIG_LEN);
    exchange(&c, NULL, false, &r, NULL, 0);
    assert_int_equal(r.r_status, 404);
    memset(body_buf, 0, sizeof(body_buf));
    exchange(&c, NULL, false, &r, (uint8_t *)body_buf, sizeof(body_buf));
    assert_int_equal(r.r_status, 200);
    assert_string_equal(body_buf, "<h1>refnet</h1>\n");
    memset(body_buf, 0, sizeof(body_buf));
    exchange(&c, NULL, false, &r, (uint8_t *)body_buf, sizeof(body_buf));
    assert_string_equal(body_buf, "<p>sub</p>\n");
    assert_string_equal(resp_field(&r, "Connection"), "close");
    assert_true(run_while_not(tcl_is_ended, &c, RN_SEC(5)));
    assert_true(c.cl_eof);
    assert_int_equal(c.cl_rx_len, 0);
    /* Pipelining across segments, byte by byte. */
    {
        struct tcl d;
        const char *two = GET("/hello.txt") GET("/data.json");
        size_t i;

        open_client(&d);
        for (i = 0; two[i] != '\0'; i++)
            tcl_send(&d, two + i, 1);
        assert_int_equal(get_status(&d, NULL), 200);
        assert_string_equal(body_buf, "hello, world\n");
        assert_int_equal(get_status(&d, NULL), 200);
        assert_string_equal(body_buf, "{\"a\": 1}\n");
        close_client(&d);
    }
    /* A body on a GET is read and dropped; the next request follows it. */
    {
        struct tcl d;

        open_client(&d);
        tcl_send_str(&d, "GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"
                         "0123456789" GET("/data.json"));
        assert_int_equal(get_status(&d, NULL), 200);
        assert_string_equal(body_buf, "hello, world\n");
        assert_int_equal(get_status(&d, NULL), 200);
        assert_string_equal(body_buf, "{\"a\": 1}\n");
        close_client(&d);
    }
    stats(&hs);
    assert_int_equal(hs.hs_requests, 9);
    assert_int_equal(hs.hs_conn.ss_accepted, 3);
    close_client(&c);
    fx_down();
}

/* Allocations so far: mallocs and page blocks taken (refnet/heap.h). */
static unsigned long allocations(void)
{
    struct rn_heap_counters hc;

    rn_heap_counters(&hc);
    return mallocs + (unsigned long)hc.hc_gets;
}

/* Rounds of one keep-alive request for path on each of nc connections at
 * once, each answer's body beginning with want[0..n); returns the
 * allocations (mallocs and page blocks) made meanwhile. */
static unsigned long keepalive_rounds(struct tcl *c, int nc, int rounds, const char *req,
                                      const void *want, size_t n)
{
    unsigned long before = allocations();
    int i, k;

    for (i = 0; i < rounds; i++) {
        for (k = 0; k < nc; k++)
            tcl_send_str(&c[k], req);
        for (k = 0; k < nc; k++) {
            struct resp r;

            assert_true(tcl_response(&c[k], false, &r, RN_SEC(60)));
            assert_int_equal(r.r_status, 200);
            assert_memory_equal(c[k].cl_rx + r.r_head_len, want, n);
            tcl_consume(&c[k], r.r_total);
        }
    }
    return allocations() - before;
}

/* Keep-alive requests for a small file, a 12 KiB one (sent through a
 * send buffer, within TCP's first 16 KiB ring) and a 40 KiB one (a 64 KiB
 * ring), once the server has warmed up: the only malloc per request is
 * the test client's own copy of what it sends (tcl_send()); the server,
 * both TCPs and the socket layers make none.  Responses once took 64 KiB
 * send buffers from a pool of a fixed 16, and with more in flight (here
 * 24) each further one was a malloc; TCP once kept only 16 KiB rings, and
 * every larger response took a ring from malloc. */
static void test_keepalive_allocates_nothing(void **state)
{
    static struct tcl c[24];
    int k;

    (void)state;
    if (!COUNTS_MALLOCS)
        skip();
    fx_up(NULL);
    for (k = 0; k < 24; k++)
        open_client(&c[k]);
    /* Pools and the file cache fill first. */
    (void)keepalive_rounds(c, 24, 10, GET("/hello.txt"), "hello, world\n", 13);
    assert_int_equal(keepalive_rounds(c, 24, 40, GET("/hello.txt"), "hello, world\n", 13), 24 * 40);
    (void)keepalive_rounds(c, 24, 10, GET("/medium.bin"), F.big, 1024);
    assert_int_equal(keepalive_rounds(c, 24, 20, GET("/medium.bin"), F.big, 1024), 24 * 20);
    (void)keepalive_rounds(c, 24, 10, GET("/large.bin"), F.big, 40 * 1024);
    assert_int_equal(keepalive_rounds(c, 24, 20, GET("/large.bin"), F.big, 40 * 1024), 24 * 20);
    for (k = 0; k < 24; k++)
        close_client(&c[k]);
    fx_down();
}

static void test_persistence_rules(void **state)
{
    struct resp r;
    struct tcl c;

    (void)state;
    fx_up(NULL);
    /* HTTP/1.1 with Connection: close. */
    open_client(&c);
    exchange(&c, "GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", false, &r,
             NULL, 0);
    assert_int_equal(r.r_status, 200);
    assert_string_equal(resp_field(&r, "Connection"), "close");
    assert_true(run_while_not(tcl_is_ended, &c, RN_SEC(5)));
    assert_true(c.cl_eof);
    close_client(&c);
    /* HTTP/1.0 closes unless asked. */
    open_client(&c);
    exchange(&c, "GET /hello.txt HTTP/1.0\r\n\r\n", false, &r, NULL, 0);
    assert_int_equal(r.r_status, 200);
    assert_string_equal(resp_field(&r, "Connection"), "close");
    assert_true(run_while_not(tcl_is_ended, &c, RN_SEC(5)));
    assert_true(c.cl_eof);
    close_client(&c);
    /* HTTP/1.0 with keep-alive stays, and says so. */
    open_client(&c);
    exchange(&c, "GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false, &r, NULL, 0);
    assert_string_equal(resp_field(&r, "Connection"), "keep-alive");
    exchange(&c, "GET /nope HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", false, &r, NULL, 0);
    assert_int_equal(r.r_status, 404);
    assert_string_equal(resp_field(&r, "Connection"), "keep-alive");
    exchange(&c, "HEAD /hello.txt HTTP/1.0\r\n\r\n", true, &r, NULL, 0);
    assert_string_equal(resp_field(&r, "Connection"), "close");
    assert_true(run_while_not(tcl_is_ended, &c, RN_SEC(5)));
    assert_true(c.cl_eof);
    close_client(&c);
    fx_down();
}

/* ---- Errors ------------------------------------------------------------------------------ */

struct bad_case {
    const char *name;
    char *req;
    size_t len;
    int status;
};

static char *repeat(const char *head, char fill, size_t n, const char *tail, size_t *len)
{
    size_t h = strlen(head), t = strlen(tail);
    char *s = malloc(h + n + t + 1);

    assert_non_null(s);
    memcpy(s, head, h);
    memset(s + h, fill, n);
    memcpy(s + h + n, tail, t + 1);
    *len = h + n + t;
    return s;
}

static char *dup_bytes(const char *s, size_t n, size_t *len)
{
    char *d = malloc(n + 1);

    assert_non_null(d);
    memcpy(d, s, n);
    d[n] = '\0';
    *len = n;
    return d;
}

#define STR_CASE(n, s, st) {n, NULL, 0, st}

static void test_error_statuses(void **state)
{
    static const char nul_field[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    static const char nul_target[] = "GET /a\0 HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    struct bad_case cases[] = {
        {"POST", "POST /hello.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", 0, 405},
        {"DELETE", "DELETE / HTTP/1.1\r\nHost: h\r\n\r\n", 0, 405},
        {"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 0, 405},
        {"no Host", "GET / HTTP/1.1\r\n\r\n", 0, 400},
        {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0, 400},
        {"space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 0, 400},
        {"bad escape", "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 0, 400},
        {"short escape", "GET /a%4 HTTP/1.1\r\nHost: h\r\n\r\n", 0, 400},
        {"decoded NUL", "GET /a%00.txt HTTP/1.1\r\nHost: h\r\n\r\n", 0, 400},
        {"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 0, 400},
        {"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\n x\r\n\r\n", 0, 400},
        {"bare CR", "GET / HTTP/1.1\rHost: h\r\n\r\n", 0, 400},
        {"asterisk GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 0, 400},
        {"HTTP/0.9", "GET /\r\n\r\n", 0, 400},
        {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 0, 505},
        {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 0, 505},
        {"chunked", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 501},
        {"TE and CL", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                      "Content-Length: 3\r\n\r\n", 0, 400},
        {"big body", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n", 0, 413},
        {"CL conflict", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n"
                        "\r\n", 0, 400},
        STR_CASE("NUL in field", nul_field, 400),
        STR_CASE("NUL in target", nul_target, 400),
        STR_CASE("TLS hello", tls, 400),
        STR_CASE("long target", NULL, 414),
        STR_CASE("long field line", NULL, 431),
        STR_CASE("many fields", NULL, 431),
        STR_CASE("large field section", NULL, 431),
    };
    struct rn_httpd_stats hs;
    unsigned i, n = sizeof(cases) / sizeof(cases[0]);
    char *many;
    size_t len;

    (void)state;
    for (i = 0; i < n; i++) {
        if (cases[i].req != NULL)
            cases[i].req = dup_bytes(cases[i].req, strlen(cases[i].req), &cases[i].len);
    }
    cases[20].req = dup_bytes(nul_field, sizeof(nul_field) - 1, &cases[20].len);
    cases[21].req = dup_bytes(nul_target, sizeof(nul_target) - 1, &cases[21].len);
    cases[22].req = dup_bytes(tls, sizeof(tls) - 1, &cases[22].len);
    cases[23].req = repeat("GET /", 'a', 9000, " HTTP/1.1\r\nHost: h\r\n\r\n", &cases[23].len);
    cases[24].req = repeat("GET / HTTP/1.1\r\nHost: h\r\nX-Long: ", 'v', 9000, "\r\n\r\n",
                           &cases[24].len);
    many = malloc(101 * 16 + 64);
    assert_non_null(many);
    len = (size_t)sprintf(many, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (i = 0; i < 101; i++)
        len += (size_t)sprintf(many + len, "X-%u: y\r\n", i);
    strcpy(many + len, "\r\n");
    cases[25].req = dup_bytes(many, len + 2, &cases[25].len);
    free(many);
    {
        /* Three lines of 7000 bytes: each fine, together over 16 KiB. */
        char *s = malloc(3 * 7100 + 64);

        assert_non_null(s);
        len = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: h\r\n");
        for (i = 0; i < 3; i++) {
            len += (size_t)sprintf(s + len, "X-%u: ", i);
            memset(s + len, 'z', 7000);
            len += 7000;
            len += (size_t)sprintf(s + len, "\r\n");
        }
        strcpy(s + len, "\r\n");
        cases[26].req = dup_bytes(s, len + 2, &cases[26].len);
        free(s);
    }
    fx_up(NULL);
    for (i = 0; i < n; i++) {
        struct resp r;
        struct tcl c;
        char want[64];

        open_client(&c);
        tcl_send(&c, cases[i].req, cases[i].len);
        memset(body_buf, 0, sizeof(body_buf));
        exchange(&c, NULL, false, &r, (uint8_t *)body_buf, sizeof(body_buf) - 1);
        if (r.r_status != cases[i].status)
            fail_msg("%s: status %d, not %d", cases[i].name, r.r_status, cases[i].status);
        snprintf(want, sizeof(want), "%d ", cases[i].status);
        assert_int_equal(strncmp(body_buf, want, strlen(want)), 0);
        assert_string_equal(resp_field(&r, "Connection"), "close");
        if (cases[i].status == 405)
            assert_string_equal(resp_field(&r, "Allow"), "GET, HEAD");
        else
            assert_null(resp_field(&r, "Allow"));
        /* The server closes after the error, without a reset. */
        assert_true(run_while_not(tcl_is_ended, &c, RN_SEC(10)));
        if (!c.cl_eof)
            fail_msg("%s: ended with %d, not the end of data", cases[i].name, c.cl_err);
        assert_int_equal(c.cl_rx_len, 0);
        close_client(&c);
        free(cases[i].req);
    }
    stats(&hs);
    assert_int_equal(hs.hs_requests, n);
    assert_int_equal(hs.hs_status[rn__httpd_status_index(405)], 3);
    assert_int_equal(hs.hs_status[rn__httpd_status_index(414)], 1);
    assert_int_equal(hs.hs_status[rn__httpd_status_index(431)], 3);
    assert_int_equal(hs.hs_status[rn__httpd_status_index(505)], 2);
    assert_int_equal(hs.hs_status_5xx, 3);  /* 505 505 501 */
    run_for(RN_MSEC(100));
    stats(&hs);
    assert_int_equal(hs.hs_conn.ss_active, 0);
    assert_int_equal(hs.hs_conn.ss_aborted, 0);
    fx_down();
}

/* ---- Paths -------------------------------------------------------------------------------- */

static void path_safety(bool fallback)
{
    static const char *const refused[] = {
        GET("/../outside/secret.txt"),
        GET("/sub/../../outside/secret.txt"),
        GET("/%2e%2e/outside/secret.txt"),
        GET("/%2E%2E/%2e%2e/outside/secret.txt"),
        GET("/.%2e/outside/secret.txt"),
        GET("/..%2foutside%2fsecret.txt"),
        GET("/sub%2f..%2f..%2foutside%2fsecret.txt"),
        GET("/link-out"),
        GET("/link-in"),
        GET("/linkdir/secret.txt"),
        GET("/linkdir/"),
        GET("/sub/up"),
        GET("/pipe"),
        GET("/hello.txt/"),
        "GET http://test/../outside/secret.txt HTTP/1.1\r\nHost: test\r\n\r\n",
    };
    struct rn_httpd_stats hs;
    struct tcl c;
    unsigned i;

    rn__httpd_fs_force_fallback(fallback);
    fx_up(NULL);
    open_client(&c);
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        int st = get_status(&c, refused[i]);

        if (st != 404)
            fail_msg("%s: %d, not 404", refused[i], st);
        assert_null(strstr(body_buf, "secret"));
    }
    /* Nothing of the above broke the connection. */
    assert_int_equal(get_status(&c, GET("/hello.txt")), 200);
    assert_int_equal(get_status(&c, GET("/sub/./page.htm")), 200);
    stats(&hs);
    /* Refused for the path (not merely missing): the ".." forms and the
     * links. */
    assert_int_equal(hs.hs_refused_paths, 13);
    assert_int_equal(rn__httpd_fs_uses_openat2(), !fallback);
    close_client(&c);
    fx_down();
    rn__httpd_fs_force_fallback(false);
}

static void test_path_safety_openat2(void **state)
{
    (void)state;
    path_safety(false);
}

static void test_path_safety_fallback(void **state)
{
    (void)state;
    path_safety(true);
}

/* ---- Deadlines ---------------------------------------------------------------------------- */

static bool ended_or_late(void *ctx)
{
    return tcl_is_ended(ctx);
}

/* A slowloris trickles a head that never ends: it gets 408 ten seconds
 * after its first byte while another client is served meanwhile; an idle
 * connection is closed after the idle timeout, without a word. */
static void test_slowloris_and_idle(void **state)
{
    struct rn_httpd_stats hs;
    struct tcl slow, good, idle;
    rn_time_t t0, t_idle, ended;
    struct resp r;
    unsigned i;

    (void)state;
    fx_up(NULL);
    open_client(&idle);
    t_idle = P.now;
    open_client(&slow);
    open_client(&good);
    t0 = P.now;
    tcl_send_str(&slow, "GET /hello.txt HTTP/1.1\r\nHo");
    for (i = 0; i < 8; i++) {
        run_for(RN_MSEC(1000));
        tcl_send_str(&slow, "x");
        assert_int_equal(get_status(&good, GET("/hello.txt")), 200);
        assert_false(tcl_is_ended(&slow));
    }
    assert_true(run_while_not(ended_or_late, &slow, RN_SEC(5)));
    ended = P.now;
    assert_true(ended - t0 >= RN_SEC(10) && ended - t0 < RN_SEC(11));
    assert_true(resp_parse(slow.cl_rx, slow.cl_rx_len, false, &r));
    assert_int_equal(r.r_status, 408);
    assert_string_equal(resp_field(&r, "Connection"), "close");
    assert_true(slow.cl_eof);
    close_client(&slow);
    /* The idle one goes at 30 s, and the good one 30 s after its last
     * request. */
    assert_false(tcl_is_ended(&idle));
    assert_true(run_while_not(tcl_is_ended, &idle, RN_SEC(25)));
    assert_true(P.now - t_idle >= RN_SEC(30) && P.now - t_idle < RN_SEC(31));
    assert_true(idle.cl_eof);
    assert_int_equal(idle.cl_rx_total, 0);
    assert_true(run_while_not(tcl_is_ended, &good, RN_SEC(30)));
    assert_true(good.cl_eof);
    stats(&hs);
    assert_int_equal(hs.hs_header_timeouts, 1);
    assert_int_equal(hs.hs_idle_closed, 2);
    assert_int_equal(hs.hs_status[rn__httpd_status_index(408)], 1);
    close_client(&idle);
    close_client(&good);
    fx_down();
}

/* A keep-alive connection idle far longer than the server keeps its
 * request buffers for it (it then waits in a poll, holding none) still
 * gets its next requests answered, and the idle timeout still counts from
 * the last answer. */
static void test_idle_between_requests(void **state)
{
    struct rn_httpd_stats hs;
    struct tcl c;
    rn_time_t last;
    int i;

    (void)state;
    fx_up(NULL);
    open_client(&c);
    for (i = 0; i < 3; i++) {
        assert_int_equal(get_status(&c, GET("/hello.txt")), 200);
        run_for(RN_SEC(20));
        assert_false(tcl_is_ended(&c));
    }
    assert_int_equal(get_status(&c, GET("/hello.txt")), 200);
    last = P.now;
    assert_true(run_while_not(tcl_is_ended, &c, RN_SEC(35)));
    assert_true(P.now - last >= RN_SEC(30) && P.now - last < RN_SEC(31));
    assert_true(c.cl_eof);
    stats(&hs);
    assert_int_equal(hs.hs_idle_closed, 1);
    assert_int_equal(hs.hs_status_2xx, 4);
    close_client(&c);
    fx_down();
}

/* A body that trickles in is given as long as a head, in all. */
static void test_body_deadline(void **state)
{
    struct rn_httpd_stats hs;
    struct tcl c;
    struct resp r;
    rn_time_t t0;
    unsigned i;

    (void)state;
    fx_up(NULL);
    open_client(&c);
    t0 = P.now;
    tcl_send_str(&c, "GET /hello.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n");
    for (i = 0; i < 20 && !tcl_is_ended(&c); i++) {
        tcl_send_str(&c, "b");
        run_for(RN_MSEC(900));
    }
    assert_true(run_while_not(tcl_is_ended, &c, RN_SEC(5)));
    assert_true(P.now - t0 >= RN_SEC(10) && P.now - t0 < RN_SEC(11));
    assert_true(resp_parse(c.cl_rx, c.cl_rx_len, false, &r));
    assert_int_equal(r.r_status, 408);
    stats(&hs);
    assert_int_equal(hs.hs_header_timeouts, 1);
    assert_int_equal(hs.hs_status_2xx, 0);
    close_client(&c);
    fx_down();
}

/* A client that asks for a large file and stops reading is reset after
 * the send timeout; one that never closes after an error is reset after
 * the linger timeout. */
static void test_send_and_linger_timeouts(void **state)
{
    struct rn_httpd_params hp = {.hp_send_timeout = RN_SEC(5), .hp_linger_timeout = RN_SEC(2)};
    struct rn_httpd_stats hs;
    struct tcl c, d;
    struct resp r;

    (void)state;
    fx_up(&hp);
    open_client(&c);
    tcl_pause(&c, true);
    tcl_send_str(&c, GET("/big.bin"));
    run_for(RN_SEC(4));
    stats(&hs);
    assert_int_equal(hs.hs_send_timeouts, 0);
    run_for(RN_SEC(3));
    stats(&hs);
    assert_int_equal(hs.hs_send_timeouts, 1);
    assert_int_equal(hs.hs_conn.ss_aborted, 1);
    tcl_pause(&c, false);
    assert_true(run_while_not(tcl_is_ended, &c, RN_SEC(5)));
    assert_int_equal(c.cl_err, RN_ECONNRESET);
    assert_true(c.cl_rx_len < BIG_LEN);
    close_client(&c);
    /* An error, then a client that keeps sending and never closes. */
    open_client(&d);
    exchange(&d, "BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n", false, &r, NULL, 0);
    assert_int_equal(r.r_status, 405);
    tcl_send_str(&d, "more bytes that nobody reads");
    run_for(RN_SEC(1));
    assert_true(d.cl_eof);  /* the server shut its side */
    assert_int_equal(d.cl_err, 0);
    run_for(RN_SEC(2));
    stats(&hs);
    assert_int_equal(hs.hs_conn.ss_aborted, 2);
    assert_int_equal(hs.hs_conn.ss_active, 0);
    close_client(&d);
    fx_down();
}

/* ---- Robustness ------------------------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rng(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

/* A control character that is never a line end or whitespace. */
static uint8_t bad_control(void)
{
    uint8_t b;

    do
        b = (uint8_t)(rng() % 32);
    while (b == '\t' || b == '\n' || b == '\r');
    return b;
}

/* One malformed request of kind k into buf; returns its length. */
static size_t junk_request(unsigned k, uint8_t *buf, size_t cap)
{
    size_t n = 0, i, len;

    switch (k % 8) {
    case 0:  /* random binary */
        len = 1 + rng() % 3000;
        for (i = 0; i < len; i++)
            buf[n++] = (uint8_t)rng();
        break;
    case 1:  /* a huge field section */
        n = (size_t)sprintf((char *)buf, "GET / HTTP/1.1\r\nHost: h\r\n");
        while (n < 20000) {
            n += (size_t)sprintf((char *)buf + n, "X-%u: ", rng());
            len = 1 + rng() % 5000;
            memset(buf + n, 'a' + (int)(rng() % 26), len);
            n += len;
            buf[n++] = '\r';
            buf[n++] = '\n';
        }
        break;
    case 2:  /* a long target */
        n = (size_t)sprintf((char *)buf, "GET /");
        len = 8200 + rng() % 4000;
        memset(buf + n, 'p', len);
        n += len;
        n += (size_t)sprintf((char *)buf + n, " HTTP/1.1\r\nHost: h\r\n\r\n");
        break;
    case 3:  /* printable junk lines */
        len = 1 + rng() % 400;
        for (i = 0; i < len; i++)
            buf[n++] = (uint8_t)(0x20 + rng() % 95);
        break;
    case 4:  /* a valid start, then a random byte somewhere in the head */
        n = (size_t)sprintf((char *)buf, "GET /hello.txt HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n");
        buf[rng() % n] = bad_control();
        break;
    case 5:  /* a bad version */
        n = (size_t)sprintf((char *)buf, "GET / HTTP/%u.%u\r\nHost: h\r\n\r\n", rng() % 10,
                            2 + rng() % 8);
        break;
    case 6:  /* traversal attempts, malformed escapes */
        n = (size_t)sprintf((char *)buf, "GET /%s%%%02x%s HTTP/1.1\r\nHost: h\r\n\r\n",
                            rng() % 2 ? ".." : "%2e%2e", rng() % 256, rng() % 2 ? "%" : "%g");
        break;
    default:  /* NULs and controls in fields */
        n = (size_t)sprintf((char *)buf, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
        len = 1 + rng() % 50;
        for (i = 0; i < len; i++)
            buf[n++] = bad_control();
        break;
    }
    assert_true(n + 4 <= cap);
    memcpy(buf + n, "\r\n\r\n", 4);
    return n + 4;
}

/* A thousand malformed requests, 25 connections at a time: each gets an
 * error or is closed; the server keeps serving correctly and, after it
 * stops, nothing is left. */
static void test_thousand_malformed_requests(void **state)
{
    static const int allowed[] = {400, 404, 405, 408, 413, 414, 431, 501, 505};
    static uint8_t buf[32768];
    static uint8_t big[BIG_LEN];
    struct rn_httpd_stats hs;
    struct tcl *c = calloc(25, sizeof(*c));
    unsigned batch, k, answered = 0, j;
    struct resp r;
    struct tcl g;

    (void)state;
    assert_non_null(c);
    rng_state = 0x5eed;
    fx_up(NULL);
    for (batch = 0; batch < 40; batch++) {
        for (k = 0; k < 25; k++) {
            size_t n = junk_request(batch * 25 + k, buf, sizeof(buf));

            open_client(&c[k]);
            tcl_send(&c[k], buf, n);
            tcl_shutdown(&c[k]);
        }
        for (k = 0; k < 25; k++) {
            assert_true(run_while_not(tcl_is_ended, &c[k], RN_SEC(30)));
            if (resp_parse(c[k].cl_rx, c[k].cl_rx_len, false, &r)) {
                bool ok = false;

                for (j = 0; j < sizeof(allowed) / sizeof(allowed[0]); j++)
                    ok |= r.r_status == allowed[j];
                if (!ok)
                    fail_msg("junk %u answered %d", batch * 25 + k, r.r_status);
                answered++;
            }
            close_client(&c[k]);
        }
    }
    /* Nearly all were answered with their error (a few random heads end
     * before anything was wrong, and the client's end closes them). */
    assert_true(answered >= 950);
    run_for(RN_SEC(1));
    stats(&hs);
    assert_int_equal(hs.hs_conn.ss_accepted, 1000);
    assert_int_equal(hs.hs_conn.ss_active, 0);
    assert_int_equal(hs.hs_status_2xx, 0);
    /* Still serving, byte for byte. */
    open_client(&g);
    exchange(&g, GET("/big.bin"), false, &r, big, sizeof(big));
    assert_int_equal(r.r_status, 200);
    assert_memory_equal(big, F.big, BIG_LEN);
    close_client(&g);
    free(c);
    fx_down();
}

/* ---- Cap and stop ------------------------------------------------------------------------ */

static void test_cap_on_connections(void **state)
{
    struct rn_httpd_params hp = {.hp_max_conns = 2};
    struct rn_httpd_stats hs;
    struct tcl c[3];
    unsigned k;

    (void)state;
    fx_up(&hp);
    for (k = 0; k < 3; k++) {
        tcl_connect(&c[k], F.cp, 80);
        run_for(RN_MSEC(50));
    }
    /* Over the cap the SYN is refused: no connection is made and reset. */
    assert_int_equal(c[2].cl_connect_err, RN_ECONNREFUSED);
    for (k = 0; k < 2; k++)
        assert_int_equal(get_status(&c[k], GET("/hello.txt")), 200);
    stats(&hs);
    assert_int_equal(hs.hs_conn.ss_refused, 0);
    assert_int_equal(hs.hs_conn.ss_accepted, 2);
    for (k = 0; k < 3; k++)
        close_client(&c[k]);
    fx_down();
}

/* Stop while responses are in progress, connections idle, a head half
 * read: everything is reset, every file closed, the stop completes. */
static void test_stop_mid_response(void **state)
{
    struct tcl c[6];
    unsigned k;

    (void)state;
    fx_up(NULL);
    for (k = 0; k < 6; k++)
        open_client(&c[k]);
    for (k = 0; k < 3; k++) {
        tcl_pause(&c[k], true);
        tcl_send_str(&c[k], GET("/big.bin"));
    }
    tcl_send_str(&c[4], GET("/hello.txt"));
    tcl_send_str(&c[5], "GET /hello.txt HTTP/1.1\r\nHo");
    run_for(RN_MSEC(300));
    assert_true(c[1].cl_rx_len > 0 && c[1].cl_rx_len < BIG_LEN);
    /* The three responses share one open of the big file (the cache of
     * open files), and the small file served stays open in the cache. */
    assert_int_equal(count_fds(), F.fds + 1 + 2);
    stop_httpd();
    assert_int_equal(count_fds(), F.fds + 0);
    for (k = 0; k < 6; k++) {
        tcl_pause(&c[k], false);
        assert_true(run_while_not(tcl_is_ended, &c[k], RN_SEC(5)));
        assert_int_equal(c[k].cl_err, RN_ECONNRESET);
        close_client(&c[k]);
    }
    fx_down();
}

static void test_start_errors(void **state)
{
    struct rn_httpd_params hp = {0};
    struct rn_httpd *h;
    char path[160], err[128];

    (void)state;
    F.fds = count_fds();
    make_tree();
    pair_up(1500, false);
    assert_int_equal(rn__httpd_start(P.b, &hp, &h), RN_EINVAL);
    hp.hp_root = "/nonexistent/refnet";
    assert_int_equal(rn__httpd_start(P.b, &hp, &h), RN_ENOENT);
    snprintf(path, sizeof(path), "%s/hello.txt", F.root);
    hp.hp_root = path;
    assert_int_equal(rn__httpd_start(P.b, &hp, &h), RN_EINVAL);
    hp.hp_root = F.root;
    hp.hp_chunk = 100;
    assert_int_equal(rn__httpd_start(P.b, &hp, &h), RN_EINVAL);
    hp.hp_chunk = 0;
    hp.hp_max_conns = RN_SVC_CONNS_MAX + 1;
    assert_int_equal(rn__httpd_start(P.b, &hp, &h), RN_EINVAL);
    hp.hp_max_conns = 0;
    hp.hp_port = 8080;
    assert_int_equal(rn__httpd_start(P.b, &hp, &F.hd), 0);
    assert_int_equal(rn__httpd_start(P.b, &hp, &h), RN_EADDRINUSE);
    assert_non_null(rn__httpd_proc(F.hd));
    /* The daemon's PORT:DIR. */
    assert_int_equal(rn__httpd_parse_spec("8080:/srv/www", &hp, err, sizeof(err)), 0);
    assert_int_equal(hp.hp_port, 8080);
    assert_string_equal(hp.hp_root, "/srv/www");
    assert_int_equal(rn__httpd_parse_spec("/srv/www", &hp, err, sizeof(err)), RN_EINVAL);
    assert_non_null(strstr(err, "PORT:DIR"));
    assert_int_equal(rn__httpd_parse_spec(":/srv", &hp, err, sizeof(err)), RN_EINVAL);
    assert_int_equal(rn__httpd_parse_spec("0:/srv", &hp, err, sizeof(err)), RN_EINVAL);
    assert_int_equal(rn__httpd_parse_spec("65536:/srv", &hp, err, sizeof(err)), RN_EINVAL);
    assert_int_equal(rn__httpd_parse_spec("8x:/srv", &hp, err, sizeof(err)), RN_EINVAL);
    assert_int_equal(rn__httpd_parse_spec("80:", &hp, err, sizeof(err)), RN_EINVAL);
    assert_non_null(strstr(err, "no directory"));
    assert_int_equal(rn_proc_create(P.a, "client", &F.cp), 0);
    fx_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_and_head),
        cmocka_unit_test(test_concurrent_large_files),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_keepalive_allocates_nothing),
        cmocka_unit_test(test_persistence_rules),
        cmocka_unit_test(test_error_statuses),
        cmocka_unit_test(test_path_safety_openat2),
        cmocka_unit_test(test_path_safety_fallback),
        cmocka_unit_test(test_slowloris_and_idle),
        cmocka_unit_test(test_idle_between_requests),
        cmocka_unit_test(test_body_deadline),
        cmocka_unit_test(test_send_and_linger_timeouts),
        cmocka_unit_test(test_thousand_malformed_requests),
        cmocka_unit_test(test_cap_on_connections),
        cmocka_unit_test(test_stop_mid_response),
        cmocka_unit_test(test_start_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
