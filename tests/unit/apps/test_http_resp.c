/*
 * The HTTP/1.1 response decoder of `refnet get` (apps/http_resp.c):
 * every framing (Content-Length, chunked with extensions and trailers,
 * close-delimited, no body), interim responses, bare LF line ends, each
 * fed whole, byte by byte and in odd pieces with the same result; and the
 * responses it must refuse, each with the message the user sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "apps/http_resp.h"
#include "refnet/error.h"

struct outcome {
    int o_rc;            /* last result: RN_HTTP_COMPLETE, RN_HTTP_MORE, or < 0 */
    int o_heads;         /* RN_HTTP_HEAD seen */
    char o_body[4096];   /* body bytes */
    size_t o_len;
    char o_err[256];
    int o_status;
};

/* Feeds resp in pieces of step bytes; with eof, tells the decoder the
 * server closed after the bytes. */
static void decode(const char *resp, size_t len, size_t step, bool eof, struct outcome *o)
{
    struct rn_http_resp hr;
    size_t off = 0;

    memset(o, 0, sizeof(*o));
    rn__http_resp_init(&hr);
    o->o_rc = RN_HTTP_MORE;
    while (off < len) {
        size_t n = len - off < step ? len - off : step, used;
        const uint8_t *d;
        size_t dlen;
        int r = rn__http_resp_feed(&hr, (const uint8_t *)resp + off, n, &used, &d, &dlen,
                                  o->o_err, sizeof(o->o_err));

        o->o_rc = r;
        if (r < 0)
            return;
        if (r == RN_HTTP_HEAD)
            o->o_heads++;
        assert_true(o->o_len + dlen < sizeof(o->o_body));
        if (dlen > 0)
            memcpy(o->o_body + o->o_len, d, dlen);
        o->o_len += dlen;
        off += used;
        if (r == RN_HTTP_COMPLETE || hr.hr_phase == RN_HTTP_DONE) {
            o->o_rc = RN_HTTP_COMPLETE;
            break;
        }
    }
    o->o_status = hr.hr_status;
    if (eof && o->o_rc != RN_HTTP_COMPLETE && o->o_rc >= 0)
        o->o_rc = rn__http_resp_eof(&hr, o->o_err, sizeof(o->o_err));
    o->o_body[o->o_len] = '\0';
}

/* Decodes resp whole, byte by byte and in pieces of 2, 3, 7 and 64 bytes:
 * every way must agree. */
static void decode_all_ways(const char *resp, bool eof, struct outcome *o)
{
    static const size_t steps[] = {1, 2, 3, 7, 64};
    size_t len = strlen(resp), i;

    decode(resp, len, len ? len : 1, eof, o);
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct outcome p;

        decode(resp, len, steps[i], eof, &p);
        assert_int_equal(p.o_rc, o->o_rc);
        assert_int_equal(p.o_len, o->o_len);
        assert_memory_equal(p.o_body, o->o_body, o->o_len);
        if (o->o_rc < 0)
            assert_string_equal(p.o_err, o->o_err);
    }
}

static void expect_body(const char *resp, bool eof, int status, const char *body)
{
    struct outcome o;

    decode_all_ways(resp, eof, &o);
    if (o.o_rc < 0)
        fail_msg("refused: %s", o.o_err);
    assert_int_equal(o.o_rc, RN_HTTP_COMPLETE);
    assert_int_equal(o.o_heads, 1);
    assert_int_equal(o.o_status, status);
    assert_string_equal(o.o_body, body);
}

static void expect_error(const char *resp, bool eof, const char *needle)
{
    struct outcome o;

    decode_all_ways(resp, eof, &o);
    assert_int_equal(o.o_rc, RN_EPROTO);
    if (strstr(o.o_err, needle) == NULL)
        fail_msg("error '%s' does not say '%s'", o.o_err, needle);
}

static void test_content_length(void **state)
{
    (void)state;
    expect_body("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello", false, 200,
                "hello");
    /* Bytes after the body are not part of it. */
    expect_body("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", false, 200, "ok");
    /* Repeated identical values are one value (RFC 9110 8.6). */
    expect_body("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\ncontent-length:3\r\n\r\nabc", false,
                200, "abc");
    expect_body("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n", false, 404, "");
}

static void test_chunked(void **state)
{
    (void)state;
    expect_body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n7;name=val\r\n, world\r\nA \r\n0123456789\r\n0\r\n"
                "X-Checksum: 1\r\n\r\n",
                false, 200, "hello, world0123456789");
    expect_body("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", false, 200, "");
}

static void test_close_delimited_and_no_body(void **state)
{
    (void)state;
    expect_body("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", true, 200,
                "until the end");
    expect_body("HTTP/1.1 204 No Content\r\n\r\n", false, 204, "");
    expect_body("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", false, 304, "");
}

static void test_interim_and_bare_lf(void **state)
{
    (void)state;
    expect_body("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
                "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
                false, 201, "ok");
    expect_body("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, 200, "ok");
}

static void test_status_line_kept(void **state)
{
    struct rn_http_resp hr;
    const char *r = "HTTP/1.0 404 File not found\r\n\r\n";
    size_t used;
    const uint8_t *d;
    size_t dlen;
    char err[64];

    (void)state;
    rn__http_resp_init(&hr);
    assert_int_equal(rn__http_resp_feed(&hr, (const uint8_t *)r, strlen(r), &used, &d, &dlen, err,
                                       sizeof(err)), RN_HTTP_MORE);
    assert_string_equal(hr.hr_status_line, "HTTP/1.0 404 File not found");
    assert_int_equal(hr.hr_status, 404);
}

static void test_refused(void **state)
{
    char *longline;
    char *bigheaders;
    size_t i;

    (void)state;
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                 false, "both Transfer-Encoding and Content-Length");
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", false,
                 "Content-Length values differ");
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", false, "not a number");
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", false,
                 "too large");
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false,
                 "unsupported transfer coding");
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", false,
                 "unsupported transfer coding");
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false,
                 "bad chunk size");
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1234567890abcdef\r\n",
                 false, "more than 15 hex digits");
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", false,
                 "chunk data longer than its size");
    expect_error("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n", false, "obsolete line folding");
    expect_error("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", false, "without a name");
    expect_error("HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n", false, "bad header name");
    expect_error("SSH-2.0-OpenSSH\r\n", false, "not an HTTP/1.x status line");
    expect_error("HTTP/2.0 200 OK\r\n", false, "not an HTTP/1.x status line");
    expect_error("HTTP/1.1 2000 OK\r\n", false, "bad status code");
    expect_error("HTTP/1.1 099 Low\r\n", false, "out of range");
    expect_error("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", false,
                 "switched protocols");
    /* Cut short by the server's close. */
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", true,
                 "cut short: 9 of 100 bytes");
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", true,
                 "chunked body was cut short after 3 bytes");
    expect_error("HTTP/1.1 200 OK\r\nContent-", true, "inside the headers");
    expect_error("", true, "without a response");
    /* Bounds. */
    longline = malloc(RN_HTTP_LINE_MAX + 64);
    assert_non_null(longline);
    strcpy(longline, "HTTP/1.1 200 OK\r\nX-Long: ");
    for (i = strlen(longline); i < RN_HTTP_LINE_MAX + 40; i++)
        longline[i] = 'a';
    strcpy(longline + i, "\r\n\r\n");
    expect_error(longline, false, "longer than 8192 bytes");
    free(longline);
    bigheaders = malloc(RN_HTTP_HEADERS_MAX + 256);
    assert_non_null(bigheaders);
    strcpy(bigheaders, "HTTP/1.1 200 OK\r\n");
    while (strlen(bigheaders) < RN_HTTP_HEADERS_MAX + 100)
        strcat(bigheaders, "X-Filler: 0123456789abcdef\r\n");
    strcat(bigheaders, "\r\n");
    expect_error(bigheaders, false, "header section is longer");
    free(bigheaders);
}

static void test_nul_in_a_line(void **state)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";
    struct outcome o;

    (void)state;
    decode(resp, sizeof(resp) - 1, sizeof(resp), false, &o);
    assert_int_equal(o.o_rc, RN_EPROTO);
    assert_non_null(strstr(o.o_err, "NUL"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_close_delimited_and_no_body),
        cmocka_unit_test(test_interim_and_bare_lf),
        cmocka_unit_test(test_status_line_kept),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_nul_in_a_line),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
