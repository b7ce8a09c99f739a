/*
 * The control server on a real UNIX socket, its loop on a thread of its
 * own and the test as the client: socket mode and path handling, requests
 * and replies, malformed input (the server answers, closes that connection
 * and keeps serving), pipelining, asynchronous completion with and without
 * the client, large replies to a slow reader, the connection limit, the
 * object commands (objects, refs, trace), and every allocation failing in
 * turn while requests are served; descriptors passed with requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl/commands.h"
#include "ctl/ctl.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/loop.h"
#include "refnet/object.h"
#include "refnet/strbuf.h"
#include "refnet/timer.h"
#include "failalloc.h"
#include "helper_ctl.h"
#include "support.h"

/* ---- A test object type for refs and trace ------------------------------ */

struct widget {
    int w_port;
};

static void widget_describe(const void *ob, char *buf, size_t len)
{
    snprintf(buf, len, "widget :%d", ((const struct widget *)ob)->w_port);
}

static const struct rn_ob_type_ops widget_ops = {
    .name = "ctl test widget",
    .size = sizeof(struct widget),
    .describe = widget_describe,
};

/* ---- Test commands ------------------------------------------------------ */

/* A request kept by "later", completed by a loop timer. */
struct later {
    struct rn_timer l_timer;       /* first: the callback casts back */
    struct rn_ctl_req *l_req;
    atomic_int l_cancelled;        /* the cancel callback ran */
    atomic_int l_completed;        /* the timer completed the request */
    atomic_int l_was_connected;    /* rn__ctl_req_connected() at completion */
};

struct fixture {
    struct ctl_fixture f_ctl;         /* the server, its loop and directory */
    struct rn__dumper *f_dumper;
    char f_late_dump[160];            /* written by a dump teardown waits for */
    struct later f_later;
};

static struct fixture *fx;

static void later_fire(struct rn_timer *t, rn_time_t now)
{
    struct later *l = (struct later *)t;

    (void)now;
    atomic_store(&l->l_was_connected, rn__ctl_req_connected(l->l_req));
    rn_strbuf_puts(rn__ctl_req_out(l->l_req), "done later\n");
    rn__ctl_req_complete(l->l_req, 0);
    l->l_req = NULL;
    atomic_store(&l->l_completed, 1);
}

static void later_cancel(struct rn_ctl_req *req, void *ctx)
{
    struct later *l = ctx;

    assert_ptr_equal(req, l->l_req);
    atomic_store(&l->l_cancelled, 1);
}

/* later MS: completes after MS milliseconds. */
static int cmd_later(struct rn_ctl_req *req, void *ctx)
{
    struct later *l = ctx;
    struct rn_loop *loop = rn__ctl_server_loop(rn__ctl_req_server(req));

    if (l->l_req != NULL)
        return rn__ctl_req_fail(req, 1, "busy");
    l->l_req = req;
    rn__ctl_req_on_cancel(req, later_cancel, l);
    rn_timer_init(&l->l_timer, later_fire);
    rn_loop_timer_arm(loop, &l->l_timer,
                      rn_loop_now(loop) + RN_MSEC(atoi(rn__ctl_req_arg(req, 1))));
    return RN_CTL_PENDING;
}

/* big N: N bytes of a pattern, then a newline. */
static int cmd_big(struct rn_ctl_req *req, void *ctx)
{
    struct rn_strbuf *out = rn__ctl_req_out(req);
    long n = atol(rn__ctl_req_arg(req, 1)), i;

    (void)ctx;
    for (i = 0; i < n; i++)
        rn_strbuf_append(out, &"0123456789abcdef"[i % 16], 1);
    rn_strbuf_puts(out, "\n");
    return 0;
}

/* echo ARGS...: the arguments, one per line, and the JSON flag. */
static int cmd_echo(struct rn_ctl_req *req, void *ctx)
{
    int i;

    (void)ctx;
    for (i = 0; i < rn__ctl_req_argc(req); i++)
        rn_strbuf_printf(rn__ctl_req_out(req), "[%s]\n", rn__ctl_req_arg(req, i));
    rn_strbuf_printf(rn__ctl_req_out(req), "json=%d\n", rn__ctl_req_json(req));
    return 3;
}

/* takefd: what the descriptor passed with the request holds (one read),
 * or "no descriptor". */
static int cmd_takefd(struct rn_ctl_req *req, void *ctx)
{
    int fd = rn__ctl_req_take_fd(req);
    char buf[64];
    ssize_t n;

    (void)ctx;
    if (fd < 0)
        return rn__ctl_req_fail(req, 1, "no descriptor");
    n = read(fd, buf, sizeof(buf));
    close(fd);
    rn_strbuf_printf(rn__ctl_req_out(req), "read %.*s\n", n > 0 ? (int)n : 0, buf);
    return 0;
}

static const struct rn_ctl_cmd test_cmds[] = {
    {"later", cmd_later, "later MS"},
    {"big", cmd_big, "big N"},
    {"echo", cmd_echo, "echo ARGS"},
    {"takefd", cmd_takefd, "takefd"},
};

/* ---- Fixture ------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    ctl_fixture_open(&fx->f_ctl, "/tmp/rn-ctl-XXXXXX", test_cmds, 4, &fx->f_later);
    assert_int_equal(rn__ctl_add_object_cmds(fx->f_ctl.cf_srv), 0);
    fx->f_dumper = rn__dumper_new(fx->f_ctl.cf_loop);
    assert_non_null(fx->f_dumper);
    assert_int_equal(rn__ctl_add_dump_cmd(fx->f_ctl.cf_srv, fx->f_dumper), 0);
    ctl_loop_start(&fx->f_ctl);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ctl_loop_stop(&fx->f_ctl);
    ctl_server_shut(&fx->f_ctl);
    rn__dumper_free(fx->f_dumper);
    unlink(fx->f_late_dump);
    ctl_fixture_close(&fx->f_ctl);
    free(fx);
    fx = NULL;
    return 0;
}

/* ---- Client helpers ----------------------------------------------------- */

static int call(uint32_t flags, char **text, int argc, ...)
{
    const char *argv[16];
    struct rn_ctl_reply reply;
    char err[256];
    va_list ap;
    int i;

    va_start(ap, argc);
    for (i = 0; i < argc; i++)
        argv[i] = va_arg(ap, const char *);
    va_end(ap);
    if (rn__ctl_call(fx->f_ctl.cf_path, flags, argc, argv, RN_SEC(10), &reply, err, sizeof(err)) != 0)
        fail_msg("call: %s", err);
    if (text != NULL)
        *text = reply.rp_text;
    else
        free(reply.rp_text);
    return reply.rp_status;
}

static int raw_connect(const char *path)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    assert_true(strlen(path) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, path, strlen(path));
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    return fd;
}

/* Reads one reply frame from fd (waiting at most 10 s).  Returns its
 * status and stores its text (malloc'd) in *text. */
static int raw_reply(int fd, char **text)
{
    struct rn_ctl_reader rd;
    const uint8_t *p;
    const char *t;
    uint32_t plen;
    size_t tlen;
    int32_t status;
    char err[256];
    int r = 0;

    rn__ctl_reader_init(&rd, RN_CTL_REPLY_MAX);
    while (r == 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        uint8_t *where;
        size_t space = rn__ctl_reader_space(&rd, &where);
        ssize_t n;

        assert_int_equal(poll(&pfd, 1, 10000), 1);
        n = recv(fd, where, space, 0);
        if (n <= 0)
            fail_msg("connection closed before a whole reply");
        r = rn__ctl_reader_advance(&rd, (size_t)n, err, sizeof(err));
    }
    assert_int_equal(r, 1);
    p = rn__ctl_reader_payload(&rd, &plen);
    assert_int_equal(rn__ctl_reply_decode(p, plen, &status, &t, &tlen, err, sizeof(err)), 0);
    *text = strndup(t, tlen);
    rn__ctl_reader_fini(&rd);
    return status;
}

/* True if the server closes fd within 10 s (after any reply was read). */
static bool raw_closed(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char c;

    ssize_t n;

    if (poll(&pfd, 1, 10000) != 1)
        return false;
    n = recv(fd, &c, 1, 0);
    if (n < 0)
        fprintf(stderr, "recv after the reply: %s\n", strerror(errno));
    return n == 0;
}

static void assert_still_serving(void)
{
    char *text;

    assert_int_equal(call(0, &text, 1, "ping-ctl"), 0);
    assert_non_null(strstr(text, "pong"));
    free(text);
}

/* Waits (bounded) until the server has no connection left. */
static void wait_no_connections(void)
{
    int i;

    for (i = 0; i < 1000 && rn__ctl_server_connections(fx->f_ctl.cf_srv) != 0; i++)
        usleep(5000);
    assert_int_equal(rn__ctl_server_connections(fx->f_ctl.cf_srv), 0);
}

/* Sends the request `argv[0]` on a new connection with the n descriptors
 * of fds passed (SCM_RIGHTS) and returns its reply's status, the text in
 * *text (malloc'd). */
static int call_with_fds(const char *cmd, const int *fds, int n, char **text)
{
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    const char *argv[1] = {cmd};
    uint8_t *req;
    size_t len;
    char err[256];
    int fd = raw_connect(fx->f_ctl.cf_path), status;
    struct iovec iov;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *c;

    assert_int_equal(rn__ctl_request_encode(0, 1, argv, &req, &len, err, sizeof(err)), 0);
    iov.iov_base = req;
    iov.iov_len = len;
    memset(&ctl, 0, sizeof(ctl));
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
    assert_int_equal(sendmsg(fd, &msg, MSG_NOSIGNAL), (ssize_t)len);
    free(req);
    status = raw_reply(fd, text);
    close(fd);
    return status;
}

/* ---- Tests -------------------------------------------------------------- */

static void test_socket_is_owner_only(void **state)
{
    struct stat stb;

    (void)state;
    assert_int_equal(stat(fx->f_ctl.cf_path, &stb), 0);
    assert_true(S_ISSOCK(stb.st_mode));
    assert_int_equal(stb.st_mode & 0777, 0600);
    assert_string_equal(rn__ctl_server_path(fx->f_ctl.cf_srv), fx->f_ctl.cf_path);
    assert_still_serving();
}

static void test_arguments_and_flags_reach_the_handler(void **state)
{
    char *text;

    (void)state;
    assert_int_equal(call(RN_CTL_F_JSON, &text, 4, "echo", "a b", "", "--x=\"y\""), 3);
    assert_string_equal(text, "[echo]\n[a b]\n[]\n[--x=\"y\"]\njson=1\n");
    free(text);
}

/* A descriptor passed with a request reaches the handler that takes it;
 * one a handler leaves is closed when the request completes; two with
 * one request fail it. */
static void test_descriptors_with_requests(void **state)
{
    int p[2], two[2];
    char *text;

    (void)state;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "hello", 5), 5);
    assert_int_equal(call_with_fds("takefd", &p[0], 1, &text), 0);
    assert_string_equal(text, "read hello\n");
    free(text);
    assert_int_equal(call(0, &text, 1, "takefd"), 1);
    assert_non_null(strstr(text, "no descriptor"));
    free(text);

    /* echo leaves it: the server's copy is closed by the reply, so once
     * ours goes too the pipe has no reader. */
    assert_int_equal(call_with_fds("echo", &p[0], 1, &text), 3);
    free(text);
    close(p[0]);
    assert_int_equal(write(p[1], "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    close(p[1]);

    assert_int_equal(pipe(two), 0);
    assert_int_equal(call_with_fds("takefd", two, 2, &text), 2);
    assert_non_null(strstr(text, "more than one descriptor came with the request"));
    free(text);
    close(two[0]);
    assert_int_equal(write(two[1], "x", 1), -1);  /* the server kept neither */
    assert_int_equal(errno, EPIPE);
    close(two[1]);
    assert_still_serving();
}

static void test_unknown_command(void **state)
{
    char *text;

    (void)state;
    assert_int_equal(call(0, &text, 1, "frobnicate"), 2);
    assert_non_null(strstr(text, "unknown command 'frobnicate'"));
    /* The message lists what the daemon answers. */
    assert_non_null(strstr(text, "ping-ctl"));
    assert_non_null(strstr(text, "objects"));
    assert_non_null(strchr(text, '\n'));
    assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
    free(text);
    assert_int_equal(call(0, &text, 2, "ping-ctl", "extra"), 2);
    assert_string_equal(text, "refnet ping-ctl: takes no arguments\n");
    free(text);
}

/* Sends bytes on a fresh connection; expects one error reply (status 2)
 * mentioning needle, then the connection closed, and the server still up. */
static void expect_rejected(const void *bytes, size_t len, bool shut_wr, const char *needle)
{
    char *text;
    int fd = raw_connect(fx->f_ctl.cf_path);

    assert_int_equal(send(fd, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
    if (shut_wr)
        shutdown(fd, SHUT_WR);
    assert_int_equal(raw_reply(fd, &text), 2);
    if (strstr(text, needle) == NULL)
        fail_msg("reply '%s' does not mention '%s'", text, needle);
    assert_non_null(strstr(text, "bad control request"));
    assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
    free(text);
    assert_true(raw_closed(fd));
    close(fd);
    assert_still_serving();
}

static void test_malformed_requests(void **state)
{
    static const uint8_t oversized[] = {'R', 'N', 'C', 1, 0, 0x10, 0, 0};
    static const uint8_t version[] = {'R', 'N', 'C', 9, 0, 0, 0, 6};
    static const uint8_t argc_lie[] = {'R', 'N', 'C', 1, 0, 0, 0, 9,
                                       0, 0, 0, 0, 0, 3, 0, 1, 'x'};
    static const uint8_t len_lie[] = {'R', 'N', 'C', 1, 0, 0, 0, 10,
                                      0, 0, 0, 0, 0, 1, 0, 9, 'x', 'y'};
    static const uint8_t truncated[] = {'R', 'N', 'C', 1, 0, 0, 0, 40, 0, 0};

    (void)state;
    expect_rejected("GET / HTTP/1.0\r\n\r\n", 18, false, "bad magic");
    expect_rejected("hello\n", 6, true, "bad magic");
    expect_rejected(oversized, sizeof(oversized), false, "1048576 bytes exceeds the limit");
    expect_rejected(version, sizeof(version), false, "version 9");
    expect_rejected(argc_lie, sizeof(argc_lie), false, "argument 1 of 3");
    expect_rejected(len_lie, sizeof(len_lie), false, "claims 9 bytes but 2 remain");
    expect_rejected(truncated, sizeof(truncated), true, "truncated");
    wait_no_connections();
}

static void test_pipelined_requests_answered_in_order(void **state)
{
    /* The second shorter than the first: the connection's reader reuses
     * its buffer and must still stop at the second's end. */
    const char *a1[] = {"echo", "one", "and a longer argument"};
    const char *a2[] = {"echo", "two"};
    uint8_t *f1, *f2, both[256];
    size_t l1, l2;
    char err[128], *text;
    int fd;

    (void)state;
    assert_int_equal(rn__ctl_request_encode(0, 3, a1, &f1, &l1, err, sizeof(err)), 0);
    assert_int_equal(rn__ctl_request_encode(0, 2, a2, &f2, &l2, err, sizeof(err)), 0);
    memcpy(both, f1, l1);
    memcpy(both + l1, f2, l2);
    memcpy(both + l1 + l2, f1, l1);
    fd = raw_connect(fx->f_ctl.cf_path);
    assert_int_equal(send(fd, both, 2 * l1 + l2, 0), (ssize_t)(2 * l1 + l2));
    assert_int_equal(raw_reply(fd, &text), 3);
    assert_non_null(strstr(text, "[one]"));
    free(text);
    assert_int_equal(raw_reply(fd, &text), 3);
    assert_string_equal(text, "[echo]\n[two]\njson=0\n");
    free(text);
    assert_int_equal(raw_reply(fd, &text), 3);
    assert_string_equal(text, "[echo]\n[one]\n[and a longer argument]\njson=0\n");
    free(text);
    /* A client that closes its side after its requests is closed cleanly. */
    shutdown(fd, SHUT_WR);
    assert_true(raw_closed(fd));
    close(fd);
    free(f1);
    free(f2);
}

static void test_async_reply(void **state)
{
    rn_time_t t0 = rn_clock_os_monotonic();
    char *text;

    (void)state;
    assert_int_equal(call(0, &text, 2, "later", "50"), 0);
    assert_string_equal(text, "done later\n");
    free(text);
    assert_true(rn_clock_os_monotonic() - t0 >= RN_MSEC(45));
    assert_int_equal(atomic_load(&fx->f_later.l_completed), 1);
    assert_int_equal(atomic_load(&fx->f_later.l_was_connected), 1);
    assert_int_equal(atomic_load(&fx->f_later.l_cancelled), 0);
}

static void test_async_client_gone(void **state)
{
    const char *argv[] = {"later", "100"};
    uint8_t *f;
    size_t l;
    char err[128];
    int fd, i;

    (void)state;
    assert_int_equal(rn__ctl_request_encode(0, 2, argv, &f, &l, err, sizeof(err)), 0);
    fd = raw_connect(fx->f_ctl.cf_path);
    assert_int_equal(send(fd, f, l, 0), (ssize_t)l);
    free(f);
    /* Let the request reach its handler, then leave. */
    for (i = 0; i < 1000 && count_type("ctl request") == 0; i++)
        usleep(2000);
    close(fd);
    for (i = 0; i < 2000 && !atomic_load(&fx->f_later.l_completed); i++)
        usleep(2000);
    assert_int_equal(atomic_load(&fx->f_later.l_cancelled), 1);
    assert_int_equal(atomic_load(&fx->f_later.l_completed), 1);
    assert_int_equal(atomic_load(&fx->f_later.l_was_connected), 0);
    /* The request was released once completed. */
    rn_ob_drain();
    assert_int_equal(count_type("ctl request"), 0);
    assert_still_serving();
}

static void test_pending_request_outlives_server(void **state)
{
    const char *argv[] = {"later", "100"};
    uint8_t *f;
    size_t l;
    char err[128];
    int fd, i;

    (void)state;
    assert_int_equal(rn__ctl_request_encode(0, 2, argv, &f, &l, err, sizeof(err)), 0);
    fd = raw_connect(fx->f_ctl.cf_path);
    assert_int_equal(send(fd, f, l, 0), (ssize_t)l);
    free(f);
    for (i = 0; i < 1000 && count_type("ctl request") == 0; i++)
        usleep(2000);
    /* Close the server under the pending request: the client is cut off,
     * the handler is told, and completes later without harm. */
    ctl_loop_stop(&fx->f_ctl);
    rn__ctl_server_close(fx->f_ctl.cf_srv);
    fx->f_ctl.cf_srv = NULL;
    assert_int_equal(atomic_load(&fx->f_later.l_cancelled), 1);
    assert_true(raw_closed(fd));
    close(fd);
    assert_int_equal(count_type("ctl request"), 1);
    fx->f_later.l_completed = 0;
    ctl_loop_start(&fx->f_ctl);
    for (i = 0; i < 2000 && !atomic_load(&fx->f_later.l_completed); i++)
        usleep(2000);
    assert_int_equal(atomic_load(&fx->f_later.l_completed), 1);
    /* Reopen so that teardown finds a server. */
    ctl_loop_stop(&fx->f_ctl);
    assert_int_equal(rn__ctl_server_open(fx->f_ctl.cf_loop, fx->f_ctl.cf_path, &fx->f_ctl.cf_srv, err, sizeof(err)),
                     0);
    ctl_loop_start(&fx->f_ctl);
}

static void test_big_reply_to_a_slow_reader(void **state)
{
    const char *argv[] = {"big", "8000000"};
    uint8_t *f, hdr[16];
    size_t l, got = 0;
    char err[128];
    int fd;

    (void)state;
    assert_int_equal(rn__ctl_request_encode(0, 2, argv, &f, &l, err, sizeof(err)), 0);
    fd = raw_connect(fx->f_ctl.cf_path);
    assert_int_equal(send(fd, f, l, 0), (ssize_t)l);
    free(f);
    /* Read only the head; the rest stays queued in the server while others
     * are served. */
    assert_int_equal(recv(fd, hdr, sizeof(hdr), MSG_WAITALL), 16);
    assert_int_equal(hdr[12] << 24 | hdr[13] << 16 | hdr[14] << 8 | hdr[15], 8000001);
    usleep(50000);
    assert_still_serving();
    while (got < 8000001) {
        char buf[65536];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        size_t i;

        assert_true(n > 0);
        for (i = 0; i < (size_t)n && got + i < 8000000; i++) {
            if (buf[i] != "0123456789abcdef"[(got + i) % 16])
                fail_msg("byte %zu corrupted", got + i);
        }
        got += (size_t)n;
        usleep(200);
    }
    assert_int_equal(got, 8000001);
    close(fd);
}

static void test_connection_limit(void **state)
{
    int fds[RN_CTL_CONN_MAX];
    char *text;
    int i, extra;

    (void)state;
    for (i = 0; i < RN_CTL_CONN_MAX; i++)
        fds[i] = raw_connect(fx->f_ctl.cf_path);
    for (i = 0; i < 1000 && rn__ctl_server_connections(fx->f_ctl.cf_srv) < RN_CTL_CONN_MAX; i++)
        usleep(2000);
    assert_int_equal(rn__ctl_server_connections(fx->f_ctl.cf_srv), RN_CTL_CONN_MAX);
    extra = raw_connect(fx->f_ctl.cf_path);
    assert_int_equal(raw_reply(extra, &text), 1);
    assert_non_null(strstr(text, "64 control connections"));
    free(text);
    assert_true(raw_closed(extra));
    close(extra);
    for (i = 0; i < RN_CTL_CONN_MAX; i++)
        close(fds[i]);
    wait_no_connections();
    assert_still_serving();
}

static void test_second_server_refused_stale_replaced(void **state)
{
    struct rn_ctl_server *other;
    struct sockaddr_un sun;
    char path[160], err[256];
    struct stat stb;
    int fd;

    (void)state;
    /* A live server answers on the path: refused, and the file stays. */
    assert_int_equal(rn__ctl_server_open(fx->f_ctl.cf_loop, fx->f_ctl.cf_path, &other, err, sizeof(err)),
                     RN_EADDRINUSE);
    assert_non_null(strstr(err, "another daemon is answering there"));
    assert_int_equal(stat(fx->f_ctl.cf_path, &stb), 0);
    assert_still_serving();

    /* Opening and closing servers happens on the loop's thread: stop the
     * loop meanwhile. */
    ctl_loop_stop(&fx->f_ctl);
    /* A stale socket (bound, nobody listening) is replaced. */
    snprintf(path, sizeof(path), "%s/stale.sock", fx->f_ctl.cf_dir);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    assert_true(strlen(path) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, path, strlen(path));
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd);
    assert_int_equal(rn__ctl_server_open(fx->f_ctl.cf_loop, path, &other, err, sizeof(err)), 0);
    rn__ctl_server_close(other);
    assert_int_equal(access(path, F_OK), -1);

    /* A regular file is never replaced. */
    fd = creat(path, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(rn__ctl_server_open(fx->f_ctl.cf_loop, path, &other, err, sizeof(err)), RN_EEXIST);
    assert_non_null(strstr(err, "not a socket"));
    assert_int_equal(stat(path, &stb), 0);
    assert_true(S_ISREG(stb.st_mode));
    unlink(path);

    /* Too long a path is refused with a message. */
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    assert_int_equal(rn__ctl_server_open(fx->f_ctl.cf_loop, path, &other, err, sizeof(err)), RN_EINVAL);
    assert_non_null(strstr(err, "must be 1 to 107 bytes"));
    ctl_loop_start(&fx->f_ctl);
}

static void test_close_keeps_a_replaced_socket(void **state)
{
    struct rn_ctl_server *other;
    char path[160], err[256];

    (void)state;
    ctl_loop_stop(&fx->f_ctl);
    snprintf(path, sizeof(path), "%s/moved.sock", fx->f_ctl.cf_dir);
    assert_int_equal(rn__ctl_server_open(fx->f_ctl.cf_loop, path, &other, err, sizeof(err)), 0);
    /* Someone removes our file and puts another in its place. */
    unlink(path);
    close(creat(path, 0600));
    rn__ctl_server_close(other);
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);
    ctl_loop_start(&fx->f_ctl);
}

static void test_client_errors(void **state)
{
    const char *argv[] = {"ping-ctl"};
    struct rn_ctl_reply reply;
    char path[160], err[256];
    int e;

    (void)state;
    snprintf(path, sizeof(path), "%s/nobody.sock", fx->f_ctl.cf_dir);
    e = rn__ctl_call(path, 0, 1, argv, RN_SEC(1), &reply, err, sizeof(err));
    assert_int_equal(e, RN_ENOENT);
    assert_non_null(strstr(err, "cannot reach the daemon at"));
    assert_non_null(strstr(err, "No such file or directory (is `refnet daemon` running?)"));
}

static void test_client_timeout(void **state)
{
    const char *argv[] = {"later", "3000"};
    struct rn_ctl_reply reply;
    rn_time_t t0 = rn_clock_os_monotonic();
    char err[256];
    int e, i;

    (void)state;
    e = rn__ctl_call(fx->f_ctl.cf_path, 0, 2, argv, RN_MSEC(200), &reply, err, sizeof(err));
    assert_int_equal(e, RN_ETIMEDOUT);
    assert_non_null(strstr(err, "no reply from the daemon"));
    assert_true(rn_clock_os_monotonic() - t0 < RN_SEC(2));
    /* The handler still completes; nobody is there to read it. */
    for (i = 0; i < 3000 && !atomic_load(&fx->f_later.l_completed); i++)
        usleep(2000);
    assert_int_equal(atomic_load(&fx->f_later.l_completed), 1);
}

static void test_object_commands(void **state)
{
    struct rn_ob_type *type = rn_ob_type_register(&widget_ops);
    struct widget *w = rn_ob_create(type, RN_TAG_CREATE);
    rn_tag_t tag = rn_tag_intern("ctl-test.holder");
    char id[32], *text;

    (void)state;
    w->w_port = 80;
    rn_ob_publish(w);
    assert_int_equal(rn_ob_ref(w, tag), 0);
    snprintf(id, sizeof(id), "%llu", (unsigned long long)rn_ob_id(w));

    assert_int_equal(call(0, &text, 3, "objects", "--type", "ctl test widget"), 0);
    assert_non_null(strstr(text, "widget :80"));
    assert_non_null(strstr(text, "ctl-test.holder"));
    assert_non_null(strstr(text, "1 object of type ctl test widget"));
    free(text);
    /* Unfiltered, the listing holds the request being answered too. */
    assert_int_equal(call(RN_CTL_F_JSON, &text, 1, "objects"), 0);
    assert_true(text[0] == '[');
    assert_non_null(strstr(text, "\"desc\":\"widget :80\""));
    assert_non_null(strstr(text, "\"tag\":\"ctl-test.holder\",\"count\":1"));
    assert_non_null(strstr(text, "ctl request 'objects'"));
    free(text);
    assert_int_equal(call(0, &text, 3, "objects", "--type", "no such"), 2);
    assert_string_equal(text, "refnet objects: --type: 'no such': no object type of that name\n");
    free(text);

    assert_int_equal(call(0, &text, 2, "refs", id), 0);
    assert_non_null(strstr(text, "widget :80"));
    assert_non_null(strstr(text, "refs 2"));
    free(text);
    assert_int_equal(call(0, &text, 2, "refs", "99999999"), 1);
    assert_non_null(strstr(text, "no object #99999999"));
    free(text);
    assert_int_equal(call(0, &text, 2, "refs", "17x"), 2);
    free(text);

    assert_false(rn_ob_is_traced(w));
    assert_int_equal(call(0, &text, 3, "trace", "on", id), 0);
    assert_non_null(strstr(text, "tracing on for #"));
    free(text);
    assert_true(rn_ob_is_traced(w));
    assert_int_equal(call(0, &text, 3, "trace", "off", id), 0);
    free(text);
    assert_false(rn_ob_is_traced(w));
    /* A type name with a space, given as separate words. */
    assert_int_equal(call(0, &text, 5, "trace", "on", "ctl", "test", "widget"), 0);
    assert_non_null(strstr(text, "type 'ctl test widget'"));
    free(text);
    assert_true(rn_ob_is_traced(w));
    /* A hold taken while traced shows with its acquisition stack. */
    assert_int_equal(rn_ob_ref(w, tag), 0);
    assert_int_equal(call(RN_CTL_F_JSON, &text, 2, "refs", id), 0);
    assert_non_null(strstr(text, "\"traced\":true"));
    assert_non_null(strstr(text, "\"holds\":[{\"tag\":\"ctl-test.holder\",\"count\":1"));
    assert_non_null(strstr(text, "test_object_commands"));
    free(text);
    assert_int_equal(rn_ob_deref(w, tag), 0);
    assert_int_equal(call(0, &text, 3, "trace", "off", "ctl test widget"), 0);
    free(text);
    assert_int_equal(call(0, &text, 3, "trace", "maybe", id), 2);
    free(text);
    assert_int_equal(call(0, &text, 3, "trace", "on", "nothing"), 2);
    assert_non_null(strstr(text, "neither an object id nor an object type"));
    free(text);

    assert_int_equal(rn_ob_deref(w, tag), 0);
    assert_int_equal(rn_ob_kill(w), 0);
}

static void test_dump(void **state)
{
    struct rn_ob_type *type = rn_ob_type_register(&widget_ops);
    struct widget *w = rn_ob_create(type, RN_TAG_CREATE);
    const struct rn_snap_object *o;
    struct rn_snapshot *s;
    char path[160], err[256], *text;

    (void)state;
    w->w_port = 443;
    rn_ob_publish(w);
    snprintf(path, sizeof(path), "%s/state.dump", fx->f_ctl.cf_dir);
    assert_int_equal(call(0, &text, 2, "dump", path), 0);
    assert_non_null(strstr(text, "written to"));
    assert_non_null(strstr(text, path));
    free(text);
    /* What was written reads back, with the widget and its holder. */
    if (rn_dump_read(path, &s, err, sizeof(err)) != 0)
        fail_msg("dump read: %s", err);
    o = rn_snapshot_find(s, rn_ob_id(w));
    assert_non_null(o);
    assert_string_equal(o->so_desc, "widget :443");
    assert_int_equal(o->so_refs, 1);
    rn_snapshot_free(s);
    unlink(path);

    assert_int_equal(call(RN_CTL_F_JSON, &text, 2, "dump", path), 0);
    assert_non_null(strstr(text, "\"objects\":"));
    free(text);
    unlink(path);
    /* The daemon does not share the client's cwd: relative paths are the
     * client's to resolve. */
    assert_int_equal(call(0, &text, 2, "dump", "rel.dump"), 2);
    assert_non_null(strstr(text, "must be absolute"));
    free(text);
    /* A directory that does not exist: the write fails, with the reason. */
    snprintf(path, sizeof(path), "%s/no/such/dir.dump", fx->f_ctl.cf_dir);
    assert_int_equal(call(0, &text, 2, "dump", path), 1);
    assert_non_null(strstr(text, "refnet dump: "));
    free(text);
    assert_int_equal(call(0, &text, 1, "dump"), 2);
    free(text);
    assert_int_equal(rn_ob_kill(w), 0);
}

/* A dump still being written when the daemon shuts down completes its
 * request then (teardown frees the dumper), and leaks nothing. */
static void test_dump_in_flight_at_shutdown(void **state)
{
    const char *argv[2];
    char path[160], err[128];
    uint8_t *f;
    size_t l;
    int fd, i;

    (void)state;
    snprintf(path, sizeof(path), "%s/late.dump", fx->f_ctl.cf_dir);
    snprintf(fx->f_late_dump, sizeof(fx->f_late_dump), "%s", path);
    argv[0] = "dump";
    argv[1] = path;
    assert_int_equal(rn__ctl_request_encode(0, 2, argv, &f, &l, err, sizeof(err)), 0);
    fd = raw_connect(fx->f_ctl.cf_path);
    assert_int_equal(send(fd, f, l, 0), (ssize_t)l);
    free(f);
    /* As soon as the request is dispatched (its object exists), teardown
     * stops the loop: usually before the worker's completion has run on
     * it, so rn__dumper_free() must join the worker and complete the
     * request itself; teardown then checks that nothing leaked. */
    for (i = 0; i < 5000 && count_type("ctl request") == 0; i++)
        usleep(200);
    close(fd);
}

/* One call that may fail: returns false with the client's error in err,
 * or true with the reply. */
static bool try_call(struct rn_ctl_reply *reply, char *err, size_t errlen, int argc,
                     const char **argv)
{
    return rn__ctl_call(fx->f_ctl.cf_path, 0, argc, argv, RN_SEC(5), reply, err, errlen) == 0;
}

/* What a request answered under allocation failure: the reply a run
 * without failure gives (want), or an error of its own, in one line. */
static void check_answer(int argc, const char **argv, int want_status, const char *want)
{
    struct rn_ctl_reply reply;
    char err[256];

    if (!try_call(&reply, err, sizeof(err), argc, argv)) {
        /* The client's own allocation failed, or the server closed the
         * connection; never a server that stopped answering. */
        assert_null(strstr(err, "no reply from the daemon"));
        return;
    }
    if (reply.rp_status == want_status && (want == NULL || !strcmp(reply.rp_text, want))) {
        free(reply.rp_text);
        return;
    }
    /* Anything else must be an error saying so in one line ("refnet: the
     * daemon ran out of memory ...", "refnet objects: out of memory for
     * the snapshot"): never the right status with a shortened text. */
    assert_true(reply.rp_status != 0 && reply.rp_status != want_status);
    assert_true(!strncmp(reply.rp_text, "refnet", 6));
    assert_non_null(strchr(reply.rp_text, '\n'));
    assert_ptr_equal(strchr(reply.rp_text, '\n'), reply.rp_text + reply.rp_len - 1);
    free(reply.rp_text);
}

static void test_requests_under_allocation_failure(void **state)
{
    const char *echo[] = {"echo", "x", "y"}, *big[] = {"big", "20000"};
    const char *objects[] = {"objects"}, *ping[] = {"ping-ctl"};
    struct rn_ctl_reply reply;
    char err[256], *want_echo, *want_big;
    long k;

    (void)state;
    assert_true(try_call(&reply, err, sizeof(err), 3, echo));
    want_echo = reply.rp_text;
    assert_true(try_call(&reply, err, sizeof(err), 2, big));
    want_big = reply.rp_text;
    for (k = 0; k < 20000; k++) {
        bool met;

        arm(k);
        check_answer(3, echo, 3, want_echo);
        check_answer(2, big, 0, want_big);
        check_answer(1, objects, 0, NULL);
        check_answer(1, ping, 0, NULL);
        met = disarm();
        wait_no_connections();
        assert_still_serving();
        if (!met)
            break;
    }
    assert_true(k < 20000);
    print_message("control requests: %ld allocations, each failed in turn\n", k);
    free(want_echo);
    free(want_big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_socket_is_owner_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arguments_and_flags_reach_the_handler, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_descriptors_with_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_requests_answered_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_async_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_client_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_request_outlives_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_reply_to_a_slow_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_server_refused_stale_replaced, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_keeps_a_replaced_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_in_flight_at_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests_under_allocation_failure, setup,
                                        teardown),
    };

    /* A write to a pipe without a reader fails with EPIPE, as tested. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
