/*
 * The streaming mode of the control protocol: the decoder of the daemon's
 * side (chunks, end, trailer) fed whole and byte by byte, and the server's
 * streaming calls on a real UNIX socket with the loop on a thread of its
 * own: a handler that turns the client's bytes to upper case and streams
 * them back, 8 MiB through a 64 KiB buffer; a client that does not read
 * is held back (its sends stop being taken) instead of growing the
 * daemon; a client that leaves mid-stream cancels the request; a request
 * without the streaming flag gets no go; a stream ended by an error right
 * after the go carries the end chunk and the failing trailer.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl/ctl.h"
#include "refnet/error.h"
#include "refnet/loop.h"
#include "refnet/strbuf.h"
#include "helper_ctl.h"
#include "support.h"

/* ---- The decoder --------------------------------------------------------- */

/* A stream: chunks "hello", " world", the end, and a trailer (status 3,
 * text "bye\n"). */
static size_t make_stream(uint8_t *out)
{
    static const uint8_t chunks[] = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o',
                                     0, 0, 0, 6, ' ', 'w', 'o', 'r', 'l', 'd',
                                     0, 0, 0, 0};
    size_t n = sizeof(chunks);

    memcpy(out, chunks, n);
    assert_int_equal(rn__ctl_reply_header(out + n, 3, 4), 0);
    n += RN_CTL_HDR_LEN + RN_CTL_REPLY_HEAD_LEN;
    memcpy(out + n, "bye\n", 4);
    return n + 4;
}

/* Decodes buf in steps of at most step bytes.  Returns the decoder's last
 * result; the data goes to data (NUL-terminated), what was taken to
 * *taken. */
static int unchunk_all(const uint8_t *buf, size_t len, size_t step, char *data, size_t *taken,
                       struct rn_ctl_unchunker *uc)
{
    size_t off = 0, dl = 0;
    char err[128];
    int r = 0;

    while (off < len && r == 0) {
        size_t n = len - off < step ? len - off : step, used;
        const uint8_t *d;
        size_t dlen;

        r = rn__ctl_unchunk(uc, buf + off, n, &used, &d, &dlen, err, sizeof(err));
        if (r < 0)
            break;
        if (dlen > 0)
            memcpy(data + dl, d, dlen);
        dl += dlen;
        off += used;
    }
    data[dl] = '\0';
    *taken = off;
    return r;
}

static void test_unchunk_whole_and_byte_by_byte(void **state)
{
    uint8_t buf[128];
    size_t len, steps[] = {1000, 1, 3, 7}, i;

    (void)state;
    len = make_stream(buf);
    buf[len] = 'X';  /* a byte after the trailer is not taken */
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct rn_ctl_unchunker uc;
        const uint8_t *p, *text;
        uint32_t plen;
        size_t taken, tlen;
        int32_t status;
        char data[64], err[64];

        rn__ctl_unchunker_init(&uc);
        assert_int_equal(unchunk_all(buf, len + 1, steps[i], data, &taken, &uc), 1);
        assert_string_equal(data, "hello world");
        assert_int_equal(taken, len);
        assert_true(uc.uc_eof);
        assert_int_equal(uc.uc_bytes, 11);
        p = rn__ctl_reader_payload(&uc.uc_trailer, &plen);
        assert_int_equal(rn__ctl_reply_decode(p, plen, &status, (const char **)&text, &tlen, err,
                                             sizeof(err)), 0);
        assert_int_equal(status, 3);
        assert_memory_equal(text, "bye\n", 4);
        rn__ctl_unchunker_fini(&uc);
    }
}

static void test_unchunk_refuses_oversized_chunk_and_bad_trailer(void **state)
{
    struct rn_ctl_unchunker uc;
    uint8_t big[4] = {0, 0x10, 0, 1};  /* 1 MiB + 1 */
    uint8_t bad[12] = {0, 0, 0, 0, 'X', 'N', 'C', 1, 0, 0, 0, 8};
    char data[16], err[128];
    size_t taken;
    const uint8_t *d;
    size_t used, dlen;

    (void)state;
    rn__ctl_unchunker_init(&uc);
    assert_int_equal(rn__ctl_unchunk(&uc, big, sizeof(big), &used, &d, &dlen, err, sizeof(err)),
                     RN_EMSGSIZE);
    assert_non_null(strstr(err, "exceeds"));
    rn__ctl_unchunker_fini(&uc);
    rn__ctl_unchunker_init(&uc);
    assert_int_equal(unchunk_all(bad, sizeof(bad), 100, data, &taken, &uc), RN_EFORMAT);
    rn__ctl_unchunker_fini(&uc);
}

/* ---- The server's streaming mode ----------------------------------------- */

#define XF_BUF 65536u

/* "upper": streams the client's bytes back in upper case, through one
 * XF_BUF buffer, reading only when it is empty. */
struct upper {
    struct rn_ctl_req *u_req;      /* [L] until completed */
    uint8_t u_buf[XF_BUF];         /* [L] */
    size_t u_len;                  /* [L] bytes held */
    size_t u_off;                  /* [L] of which written back */
    uint64_t u_total;              /* [L] bytes read */
    bool u_eof;                    /* [L] the client's data ended */
    atomic_int u_cancelled;        /* the cancel callback ran */
    atomic_int u_done;             /* the request completed */
    bool u_fail_at_once;           /* complete with status 1 right after the go */
};

static void upper_finish(struct upper *u, int status, const char *text)
{
    struct rn_ctl_req *req = u->u_req;

    u->u_req = NULL;
    rn_strbuf_puts(rn__ctl_req_out(req), text);
    rn__ctl_req_complete(req, status);
    atomic_store(&u->u_done, 1);
}

static void upper_io(struct rn_ctl_req *req, uint32_t events, void *ctx)
{
    struct upper *u = ctx;
    size_t i;

    (void)events;
    TEST_CHECK(req == u->u_req);
    for (;;) {
        ssize_t n;

        if (u->u_off < u->u_len) {
            n = rn__ctl_req_stream_write(req, u->u_buf + u->u_off, u->u_len - u->u_off);
            if (n == RN_EAGAIN) {
                rn__ctl_req_stream_want(req, EPOLLOUT);
                return;
            }
            if (n < 0)
                return;  /* the client is gone: the cancel follows */
            u->u_off += (size_t)n;
            continue;
        }
        u->u_off = u->u_len = 0;
        if (u->u_eof) {
            char text[64];

            TEST_CHECK(rn__ctl_req_stream_eof(req) == 0);
            snprintf(text, sizeof(text), "%llu bytes\n", (unsigned long long)u->u_total);
            upper_finish(u, 0, text);
            return;
        }
        n = rn__ctl_req_stream_read(req, u->u_buf, XF_BUF);
        if (n == RN_EAGAIN) {
            rn__ctl_req_stream_want(req, EPOLLIN);
            return;
        }
        if (n < 0)
            return;
        if (n == 0) {
            u->u_eof = true;
            continue;
        }
        for (i = 0; i < (size_t)n; i++)
            u->u_buf[i] = (uint8_t)toupper(u->u_buf[i]);
        u->u_len = (size_t)n;
        u->u_total += (uint64_t)n;
    }
}

static void upper_cancel(struct rn_ctl_req *req, void *ctx)
{
    struct upper *u = ctx;

    TEST_CHECK(req == u->u_req);
    atomic_store(&u->u_cancelled, 1);
    upper_finish(u, 1, "cancelled\n");
}

static int cmd_upper(struct rn_ctl_req *req, void *ctx)
{
    struct upper *u = ctx;
    int err;

    if (u->u_req != NULL)
        return rn__ctl_req_fail(req, 1, "busy");
    rn_strbuf_puts(rn__ctl_req_out(req), "go ahead\n");
    err = rn__ctl_req_go(req, upper_io, u);
    if (err == RN_EINVAL)
        return rn__ctl_req_fail(req, 2, "needs the streaming mode");
    TEST_CHECK(err == 0);
    u->u_req = req;
    rn__ctl_req_on_cancel(req, upper_cancel, u);
    if (u->u_fail_at_once) {
        upper_finish(u, 1, "refnet upper: it broke\n");
        return RN_CTL_PENDING;
    }
    rn__ctl_req_stream_want(req, EPOLLIN);
    return RN_CTL_PENDING;
}

struct fixture {
    struct ctl_fixture f_ctl;         /* the server, its loop and directory */
    struct upper f_upper;
};

static struct fixture *fx;

static const struct rn_ctl_cmd test_cmds[] = {
    {"upper", cmd_upper, "upper"},
};

static int setup(void **state)
{
    (void)state;
    fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    ctl_fixture_open(&fx->f_ctl, "/tmp/rn-ctls-XXXXXX", test_cmds, 1, &fx->f_upper);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ctl_loop_stop(&fx->f_ctl);
    ctl_server_shut(&fx->f_ctl);
    ctl_fixture_close(&fx->f_ctl);
    free(fx);
    fx = NULL;
    return 0;
}

/* Opens an "upper" stream.  Returns the fd, with the go's text checked. */
static int open_upper(void)
{
    const char *argv[] = {"upper"};
    struct rn_ctl_reply reply;
    char err[256];
    int fd = -1, r;

    r = rn__ctl_stream_open(fx->f_ctl.cf_path, 0, 1, argv, RN_SEC(10), &fd, &reply, err, sizeof(err));
    if (r < 0)
        fail_msg("stream open: %s", err);
    assert_int_equal(r, 1);
    assert_int_equal(reply.rp_status, RN_CTL_STATUS_GO);
    assert_string_equal(reply.rp_text, "go ahead\n");
    free(reply.rp_text);
    return fd;
}

/* Streams len bytes of in through fd while reading what comes back into
 * out (len bytes room), then ends our data and reads to the trailer.  If
 * hold_reads, sends first without reading until the daemon stops taking
 * bytes, and returns in *held how much it took then.  Returns the
 * trailer's status, its text in text. */
static int stream_through(int fd, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen,
                          bool hold_reads, size_t *held, char *text, size_t textlen)
{
    struct rn_ctl_unchunker uc;
    size_t sent = 0, got = 0;
    bool shut = false, holding = hold_reads;
    uint8_t buf[65536];
    char err[128];
    int rounds, idle = 0;

    rn__ctl_unchunker_init(&uc);
    for (rounds = 0; rounds < 1000000; rounds++) {
        struct pollfd pfd = {.fd = fd, .events = (short)(holding ? 0 : POLLIN)};
        ssize_t n;

        if (sent < len)
            pfd.events |= POLLOUT;
        if (sent == len && !shut) {
            assert_int_equal(shutdown(fd, SHUT_WR), 0);
            shut = true;
        }
        n = poll(&pfd, 1, holding ? 300 : 10000);
        assert_true(n >= 0);
        if (n == 0) {
            /* Nothing moves while we do not read: the daemon holds back. */
            assert_true(holding);
            if (++idle >= 2) {
                *held = sent;
                holding = false;
            }
            continue;
        }
        idle = 0;
        if ((pfd.revents & POLLOUT) && sent < len) {
            n = send(fd, in + sent, len - sent > 65536 ? 65536 : len - sent,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
        }
        if (!holding && (pfd.revents & (POLLIN | POLLHUP))) {
            size_t off = 0;

            n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n < 0 && errno == EAGAIN)
                continue;
            assert_true(n > 0);
            while (off < (size_t)n) {
                const uint8_t *d;
                size_t used, dlen;
                int r = rn__ctl_unchunk(&uc, buf + off, (size_t)n - off, &used, &d, &dlen, err,
                                       sizeof(err));

                assert_true(r >= 0);
                assert_true(got + dlen <= len);
                if (dlen > 0)
                    memcpy(out + got, d, dlen);
                got += dlen;
                off += used;
                if (r == 1) {
                    const uint8_t *p;
                    const char *t;
                    uint32_t plen;
                    size_t tlen;
                    int32_t status;

                    p = rn__ctl_reader_payload(&uc.uc_trailer, &plen);
                    assert_int_equal(rn__ctl_reply_decode(p, plen, &status, &t, &tlen, err,
                                                         sizeof(err)), 0);
                    snprintf(text, textlen, "%.*s", (int)tlen, t);
                    *outlen = got;
                    assert_true(uc.uc_eof);
                    rn__ctl_unchunker_fini(&uc);
                    return status;
                }
            }
        }
    }
    fail_msg("the stream did not end");
    return -1;
}

static void test_stream_round_trip(void **state)
{
    size_t len = 8u << 20, outlen = 0, i, held = 0;
    uint8_t *in = malloc(len), *out = malloc(len);
    char text[128];
    int fd;

    (void)state;
    assert_non_null(in);
    assert_non_null(out);
    for (i = 0; i < len; i++)
        in[i] = (uint8_t)('a' + i % 26);
    ctl_loop_start(&fx->f_ctl);
    fd = open_upper();
    assert_int_equal(stream_through(fd, in, len, out, &outlen, false, &held, text, sizeof(text)),
                     0);
    assert_int_equal(outlen, len);
    for (i = 0; i < len; i++) {
        if (out[i] != (uint8_t)('A' + i % 26))
            fail_msg("byte %zu is %#x", i, out[i]);
    }
    assert_string_equal(text, "8388608 bytes\n");
    /* After the trailer the server closes the connection. */
    {
        char c;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};

        assert_int_equal(poll(&pfd, 1, 10000), 1);
        assert_int_equal(recv(fd, &c, 1, 0), 0);
    }
    close(fd);
    assert_int_equal(atomic_load(&fx->f_upper.u_done), 1);
    assert_int_equal(atomic_load(&fx->f_upper.u_cancelled), 0);
    free(in);
    free(out);
}

static void test_stream_holds_back_a_client_that_does_not_read(void **state)
{
    size_t len = 16u << 20, outlen = 0, held = 0, i;
    uint8_t *in = malloc(len), *out = malloc(len);
    char text[128];
    int fd;

    (void)state;
    assert_non_null(in);
    assert_non_null(out);
    for (i = 0; i < len; i++)
        in[i] = (uint8_t)('a' + i % 7);
    ctl_loop_start(&fx->f_ctl);
    fd = open_upper();
    assert_int_equal(stream_through(fd, in, len, out, &outlen, true, &held, text, sizeof(text)),
                     0);
    /* What was taken while we did not read is bounded by the socket
     * buffers both ways and the handler's one buffer, far below 16 MiB. */
    assert_true(held > 0);
    assert_true(held < 8u << 20);
    assert_int_equal(outlen, len);
    assert_int_equal(out[len - 1], (uint8_t)toupper(in[len - 1]));
    close(fd);
    free(in);
    free(out);
}

static void test_stream_client_gone_cancels(void **state)
{
    char junk[1000];
    int fd, i;

    (void)state;
    memset(junk, 'x', sizeof(junk));
    ctl_loop_start(&fx->f_ctl);
    fd = open_upper();
    assert_int_equal(send(fd, junk, sizeof(junk), MSG_NOSIGNAL), (ssize_t)sizeof(junk));
    close(fd);
    for (i = 0; i < 1000 && !atomic_load(&fx->f_upper.u_cancelled); i++)
        usleep(5000);
    assert_int_equal(atomic_load(&fx->f_upper.u_cancelled), 1);
    assert_int_equal(atomic_load(&fx->f_upper.u_done), 1);
}

static void test_no_go_without_the_flag(void **state)
{
    const char *argv[] = {"upper"};
    struct rn_ctl_reply reply;
    char err[256];

    (void)state;
    ctl_loop_start(&fx->f_ctl);
    assert_int_equal(rn__ctl_call(fx->f_ctl.cf_path, 0, 1, argv, RN_SEC(10), &reply, err, sizeof(err)),
                     0);
    assert_int_equal(reply.rp_status, 2);
    assert_string_equal(reply.rp_text, "refnet upper: needs the streaming mode\n");
    free(reply.rp_text);
    /* An unknown flag bit is still refused. */
    assert_int_equal(rn__ctl_call(fx->f_ctl.cf_path, 0x4, 1, argv, RN_SEC(10), &reply, err,
                                 sizeof(err)), RN_EINVAL);
}

static void test_failure_right_after_go(void **state)
{
    uint8_t out[16];
    size_t outlen = 0, held = 0;
    char text[128];
    int fd;

    (void)state;
    fx->f_upper.u_fail_at_once = true;
    ctl_loop_start(&fx->f_ctl);
    fd = open_upper();
    assert_int_equal(stream_through(fd, (const uint8_t *)"", 0, out, &outlen, false, &held, text,
                                    sizeof(text)), 1);
    assert_int_equal(outlen, 0);
    assert_string_equal(text, "refnet upper: it broke\n");
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unchunk_whole_and_byte_by_byte),
        cmocka_unit_test(test_unchunk_refuses_oversized_chunk_and_bad_trailer),
        cmocka_unit_test_setup_teardown(test_stream_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_holds_back_a_client_that_does_not_read,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_client_gone_cancels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_go_without_the_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_right_after_go, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
