/*
 * The live view's request parser (ctl/web.h): requests it takes, with the
 * fields it keeps, and each way it refuses one, by reason; a head fed a
 * byte at a time; every prefix of a valid head is "need more", never an
 * answer; a head of any bytes up to the limit never reads outside its
 * buffer (ASan checks) and always ends in a verdict by the limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/web.h"
#include "support.h"

static int parse(const char *s, struct rn_web_req *r, enum rn_web_refusal *why)
{
    /* An exact-size copy, so that ASan sees any read past the end. */
    size_t n = strlen(s);
    char *buf = malloc(n ? n : 1);
    int rc;

    memcpy(buf, s, n);
    rc = rn__web_parse(buf, n, r, why);
    free(buf);
    return rc;
}

static void test_good_requests(void **state)
{
    struct rn_web_req r;
    enum rn_web_refusal why;
    const char *s = "GET /api/objects?q=tcp+listener HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                    "User-Agent: x\r\nAuthorization: Bearer abc\r\n\r\n";

    (void)state;
    assert_int_equal(rn__web_parse(s, strlen(s), &r, &why), 1);
    assert_int_equal(r.wq_method, RN_WEB_GET);
    assert_int_equal(r.wq_pathlen, strlen("/api/objects"));
    assert_memory_equal(r.wq_path, "/api/objects", r.wq_pathlen);
    assert_int_equal(r.wq_querylen, strlen("q=tcp+listener"));
    assert_memory_equal(r.wq_host, "127.0.0.1:8080", r.wq_hostlen);
    assert_memory_equal(r.wq_auth, "Bearer abc", r.wq_authlen);
    assert_false(r.wq_close);
    assert_int_equal(r.wq_head_len, strlen(s));

    s = "POST /api/action HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
        "clear-leak";
    assert_int_equal(rn__web_parse(s, strlen(s), &r, &why), 1);
    assert_int_equal(r.wq_method, RN_WEB_POST);
    assert_int_equal(r.wq_body_len, 10);
    assert_true(r.wq_close);
    assert_int_equal(r.wq_head_len, strlen(s) - 10);

    /* HTTP/1.0: no Host needed, closes unless kept alive. */
    assert_int_equal(parse("HEAD / HTTP/1.0\r\n\r\n", &r, &why), 1);
    assert_true(r.wq_close);
    assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r, &why), 1);
    assert_false(r.wq_close);
}

static void test_refusals(void **state)
{
    static const struct {
        const char *req;
        enum rn_web_refusal why;
    } cases[] = {
        {"DELETE / HTTP/1.1\r\nHost: h\r\n\r\n", RN_WEB_R_BAD_METHOD},
        {"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", RN_WEB_R_BAD_REQUEST},
        {"GET /../etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n", RN_WEB_R_BAD_PATH},
        {"GET /a/.. HTTP/1.1\r\nHost: h\r\n\r\n", RN_WEB_R_BAD_PATH},
        {"GET //etc HTTP/1.1\r\nHost: h\r\n\r\n", RN_WEB_R_BAD_PATH},
        {"GET /%2e%2e/x HTTP/1.1\r\nHost: h\r\n\r\n", RN_WEB_R_BAD_PATH},
        {"GET http://x/ HTTP/1.1\r\nHost: h\r\n\r\n", RN_WEB_R_BAD_PATH},
        {"GET /?q=<script> HTTP/1.1\r\nHost: h\r\n\r\n", RN_WEB_R_BAD_PATH},
        {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", RN_WEB_R_BAD_REQUEST},
        {"GET / HTTP/1.1 x\r\nHost: h\r\n\r\n", RN_WEB_R_BAD_REQUEST},
        {"GET / HTTP/1.1\r\n\r\n", RN_WEB_R_BAD_REQUEST},                 /* no Host */
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", RN_WEB_R_BAD_REQUEST},
        {"GET / HTTP/1.1\nHost: h\n\n", RN_WEB_R_BAD_REQUEST},            /* bare LF */
        {"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", RN_WEB_R_BAD_REQUEST},
        {"GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n", RN_WEB_R_BAD_REQUEST},
        {"GET / HTTP/1.1\r\nBad Name: h\r\n\r\n", RN_WEB_R_BAD_REQUEST},
        {"POST /api/action HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
         RN_WEB_R_BAD_REQUEST},
        {"POST /api/action HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
         RN_WEB_R_BAD_REQUEST},
        {"POST /api/action HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", RN_WEB_R_BAD_REQUEST},
        {"POST /api/action HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n\r\n",
         RN_WEB_R_BODY_TOO_LARGE},
        {"POST /api/action HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\n\r\n",
         RN_WEB_R_BODY_TOO_LARGE},
        {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc", RN_WEB_R_BAD_REQUEST},
        {"\r\n\r\n", RN_WEB_R_BAD_REQUEST},
    };
    struct rn_web_req r;
    enum rn_web_refusal why;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why = RN_WEB_R_COUNT_;
        if (parse(cases[i].req, &r, &why) != -1 || why != cases[i].why)
            fail_msg("case %zu (%s): want %s, got %s", i, cases[i].req,
                     rn__web_refusal_name(cases[i].why), rn__web_refusal_name(why));
    }
}

static void test_limits(void **state)
{
    char *big = malloc(WEB_HEAD_MAX + 64);
    struct rn_web_req r;
    enum rn_web_refusal why;
    size_t n = 0;
    int i;

    (void)state;
    /* A header that never ends: need more until the limit, then refused. */
    n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
    memset(big + n, 'a', WEB_HEAD_MAX + 64 - n);
    assert_int_equal(rn__web_parse(big, WEB_HEAD_MAX - 1, &r, &why), 0);
    assert_int_equal(rn__web_parse(big, WEB_HEAD_MAX, &r, &why), -1);
    assert_int_equal(why, RN_WEB_R_HEAD_TOO_LARGE);
    /* More headers than allowed. */
    n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (i = 0; i < WEB_HEADERS_MAX; i++)
        n += (size_t)sprintf(big + n, "X-%d: y\r\n", i);
    n += (size_t)sprintf(big + n, "\r\n");
    assert_int_equal(rn__web_parse(big, n, &r, &why), -1);
    assert_int_equal(why, RN_WEB_R_HEAD_TOO_LARGE);
    free(big);
}

static void test_every_prefix_needs_more(void **state)
{
    const char *s = "GET /app.js HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\n\r\n";
    struct rn_web_req r;
    enum rn_web_refusal why;
    size_t n;

    (void)state;
    for (n = 0; n < strlen(s); n++) {
        char *buf = malloc(n ? n : 1);

        memcpy(buf, s, n);
        if (rn__web_parse(buf, n, &r, &why) != 0)
            fail_msg("a prefix of %zu bytes was answered", n);
        free(buf);
    }
    assert_int_equal(parse(s, &r, &why), 1);
}

static void test_random_bytes(void **state)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    char *buf = malloc(WEB_HEAD_MAX);
    struct rn_web_req r;
    enum rn_web_refusal why;
    int round, rc;
    size_t i, n;

    (void)state;
    for (round = 0; round < 2000; round++) {
        n = (size_t)(seed % WEB_HEAD_MAX) + 1;
        for (i = 0; i < n; i++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            /* Mostly header-like bytes, so that lines form. */
            buf[i] = "GET /HTP1.\r\n: ab"[seed % 16];
            if (seed % 97 == 0)
                buf[i] = (char)(seed >> 8);
        }
        rc = rn__web_parse(buf, n, &r, &why);
        assert_true(rc >= -1 && rc <= 1);
        if (rc == 1)
            assert_true(r.wq_head_len <= n);
        if (n == WEB_HEAD_MAX)
            assert_int_not_equal(rc, 0);
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_requests),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_every_prefix_needs_more),
        cmocka_unit_test(test_random_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
