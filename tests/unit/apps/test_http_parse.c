/*
 * The HTTP/1.1 request parser and its pure helpers (apps/http.c): every
 * error path of the parser, incremental feeding in pieces of every size,
 * pipelined heads, persistence rules, target to path (the traversal and
 * encoding tricks), content types and response heads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../../apps/http.h"

/* Parses s whole; returns the status (0 for DONE, -1 for MORE). */
static int parse_whole(struct rn_http_parser *hp, const char *s, size_t len, size_t *used)
{
    int r;

    rn__http_parser_init(hp, NULL);
    r = rn__http_parse(hp, (const uint8_t *)s, len, used);
    if (r == RN_HTTP_MORE)
        return -1;
    if (r == RN_HTTP_DONE)
        return 0;
    assert_int_equal(r, RN_HTTP_ERROR);
    assert_true(hp->hp_status >= 400);
    return hp->hp_status;
}

/* Parses s in pieces of step bytes; returns as parse_whole(). */
static int parse_steps(struct rn_http_parser *hp, const char *s, size_t len, size_t step,
                       size_t *used)
{
    size_t off = 0, u;
    int r = RN_HTTP_MORE;

    rn__http_parser_init(hp, NULL);
    while (off < len) {
        size_t n = len - off < step ? len - off : step;

        r = rn__http_parse(hp, (const uint8_t *)s + off, n, &u);
        assert_true(u <= n);
        off += u;
        if (r != RN_HTTP_MORE)
            break;
        assert_int_equal(u, n);
    }
    *used = off;
    if (r == RN_HTTP_MORE)
        return -1;
    return r == RN_HTTP_DONE ? 0 : hp->hp_status;
}

/* Parses s whole and byte by byte and in pieces of 7: all must agree.
 * Returns the status. */
static int parse_str(const char *s)
{
    static struct rn_http_parser a, b, c;
    size_t ua, ub, uc;
    int ra = parse_whole(&a, s, strlen(s), &ua);
    int rb = parse_steps(&b, s, strlen(s), 1, &ub);
    int rc = parse_steps(&c, s, strlen(s), 7, &uc);

    assert_int_equal(ra, rb);
    assert_int_equal(ra, rc);
    assert_int_equal(ua, ub);
    assert_int_equal(ua, uc);
    return ra;
}

static struct rn_http_parser P1;

static void test_simple_get(void **state)
{
    const char *s = "GET /index.html?x=1 HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n";
    size_t used;

    (void)state;
    assert_int_equal(parse_whole(&P1, s, strlen(s), &used), 0);
    assert_int_equal(used, strlen(s));
    assert_int_equal(P1.hp_method, RN_HTTP_M_GET);
    assert_string_equal(P1.hp_target, "/index.html?x=1");
    assert_int_equal(P1.hp_minor, 1);
    assert_int_equal(P1.hp_nhosts, 1);
    assert_int_equal(P1.hp_nfields, 2);
    assert_true(rn__http_keep_alive(&P1));
    assert_true(rn__http_parser_started(&P1));
    assert_int_equal(parse_str(s), 0);
}

static void test_head_and_other_methods(void **state)
{
    (void)state;
    assert_int_equal(parse_str("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    assert_int_equal(parse_whole(&P1, "HEAD / HTTP/1.0\r\n\r\n", 19, &(size_t){0}), 0);
    assert_int_equal(P1.hp_method, RN_HTTP_M_HEAD);
    assert_int_equal(parse_whole(&P1, "POST / HTTP/1.0\r\n\r\n", 19, &(size_t){0}), 0);
    assert_int_equal(P1.hp_method, RN_HTTP_M_OTHER);
    assert_string_equal(P1.hp_method_name, "POST");
    /* Methods are case-sensitive: "get" is another method. */
    assert_int_equal(parse_whole(&P1, "get / HTTP/1.0\r\n\r\n", 18, &(size_t){0}), 0);
    assert_int_equal(P1.hp_method, RN_HTTP_M_OTHER);
}

static void test_line_endings(void **state)
{
    size_t used;

    (void)state;
    /* Bare LF everywhere (RFC 9112 2.2), and mixed. */
    assert_int_equal(parse_str("GET / HTTP/1.1\nHost: h\n\n"), 0);
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: h\n\r\n"), 0);
    /* Empty lines before the request line are skipped... */
    assert_int_equal(parse_str("\r\n\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    assert_int_equal(parse_whole(&P1, "\r\n\r\n", 4, &used), -1);
    assert_false(rn__http_parser_started(&P1));
    /* ...but not without end. */
    {
        char junk[200];

        memset(junk, '\n', sizeof(junk) - 1);
        junk[sizeof(junk) - 1] = '\0';
        assert_int_equal(parse_str(junk), 400);
    }
    /* A CR not followed by LF is an error anywhere. */
    assert_int_equal(parse_str("\rGET / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.1\rX\nHost: h\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: h\rx\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: h\r\n\rx"), 400);
}

static void test_request_line_errors(void **state)
{
    (void)state;
    assert_int_equal(parse_str(" GET / HTTP/1.1\r\n\r\n"), 400);       /* leading space */
    assert_int_equal(parse_str("GET  / HTTP/1.1\r\n\r\n"), 400);       /* two spaces */
    assert_int_equal(parse_str("GET /  HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET\t/ HTTP/1.1\r\n\r\n"), 400);       /* tab */
    assert_int_equal(parse_str("G(T / HTTP/1.1\r\n\r\n"), 400);        /* not a tchar */
    assert_int_equal(parse_str("GET /\r\n\r\n"), 400);                 /* HTTP/0.9 */
    assert_int_equal(parse_str("GET / \r\n\r\n"), 400);                /* no version */
    assert_int_equal(parse_str("GET / http/1.1\r\n\r\n"), 400);        /* case */
    assert_int_equal(parse_str("GET / HTTP/1\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.10\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.1 \r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1x1\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/a.1\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET /a\x01 HTTP/1.1\r\n\r\n"), 400);   /* control in target */
    assert_int_equal(parse_str("GET /a\x7f HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET /\xc3\xa9 HTTP/1.1\r\n\r\n"), 400); /* raw UTF-8 */
    assert_int_equal(parse_str("GET /a#frag HTTP/1.1\r\n\r\n"), 400);
    /* NUL in the request line. */
    {
        static const char s[] = "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n";
        size_t used;

        assert_int_equal(parse_whole(&P1, s, sizeof(s) - 1, &used), 400);
        assert_int_equal(used, 7);  /* stopped at the NUL */
    }
    /* A method of 33 characters. */
    {
        char s[128];

        snprintf(s, sizeof(s), "%s / HTTP/1.1\r\n\r\n", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG");
        assert_int_equal(parse_str(s), 400);
        snprintf(s, sizeof(s), "%s / HTTP/1.0\r\n\r\n", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF");
        assert_int_equal(parse_str(s), 0);
    }
}

static void test_versions(void **state)
{
    (void)state;
    assert_int_equal(parse_whole(&P1, "GET / HTTP/1.0\r\n\r\n", 18, &(size_t){0}), 0);
    assert_int_equal(P1.hp_minor, 0);
    assert_int_equal(parse_str("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
    assert_int_equal(parse_str("GET / HTTP/1.2\r\nHost: h\r\n\r\n"), 505);
    assert_int_equal(parse_str("GET / HTTP/0.9\r\n\r\n"), 505);
    assert_int_equal(parse_str("GET / HTTP/9.9\n"), 505);
}

static void test_target_limit(void **state)
{
    char *s = malloc(RN_HTTP_TARGET_MAX + 64);
    size_t used;

    (void)state;
    assert_non_null(s);
    /* Exactly 8 KiB is fine. */
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', RN_HTTP_TARGET_MAX - 1);
    strcpy(s + 4 + RN_HTTP_TARGET_MAX, " HTTP/1.0\r\n\r\n");
    assert_int_equal(parse_str(s), 0);
    assert_int_equal(parse_whole(&P1, s, strlen(s), &used), 0);
    assert_int_equal(P1.hp_target_len, RN_HTTP_TARGET_MAX);
    /* One more byte is 414, at once. */
    memset(s + 5, 'a', RN_HTTP_TARGET_MAX);
    strcpy(s + 5 + RN_HTTP_TARGET_MAX, " HTTP/1.0\r\n\r\n");
    assert_int_equal(parse_str(s), 414);
    assert_int_equal(parse_whole(&P1, s, strlen(s), &used), 414);
    assert_int_equal(used, 5 + RN_HTTP_TARGET_MAX);
    free(s);
}

static void test_field_errors(void **state)
{
    (void)state;
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400); /* space before colon */
    assert_int_equal(parse_str("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), 400); /* ws before field */
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n"), 400); /* obs-fold */
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: h\r\n\tfolded\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.1\r\n: h\r\n\r\n"), 400);    /* empty name */
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost h\r\n\r\n"), 400); /* no colon */
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHo(st: h\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: h\x7f\r\n\r\n"), 400);
    {
        static const char s[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
        size_t used;

        assert_int_equal(parse_whole(&P1, s, sizeof(s) - 1, &used), 400);
    }
    /* obs-text and inner whitespace in values are fine. */
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: h\r\nX: a \xe9\t b  \r\n\r\n"), 0);
    /* Empty values are fine too. */
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: h\r\nX:\r\nY: \r\n\r\n"), 0);
}

static void test_host_rules(void **state)
{
    (void)state;
    assert_int_equal(parse_str("GET / HTTP/1.1\r\n\r\n"), 400);              /* none in 1.1 */
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\n\r\n"), 0);                /* optional in 1.0 */
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nhOsT:x\r\n\r\n"), 0);
}

static void test_body_framing(void **state)
{
    size_t used;

    (void)state;
    assert_int_equal(parse_whole(&P1, "GET / HTTP/1.0\r\nContent-Length: 12\r\n\r\n", 38, &used),
                     0);
    assert_true(P1.hp_has_length);
    assert_int_equal(P1.hp_length, 12);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\nContent-Length:  7 \r\ncontent-length: 7\r\n\r\n"),
                     0);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n"),
                     400);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\nContent-Length: 7, 7\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\nContent-Length: -1\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\nContent-Length: +1\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\nContent-Length: 1 2\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\nContent-Length: 0x10\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\nContent-Length:\r\n\r\n"), 400);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\nContent-Length: 1048576\r\n\r\n"), 0);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\nContent-Length: 1048577\r\n\r\n"), 413);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
                     413);
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"),
                     501);
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                               "Content-Length: 5\r\n\r\n"),
                     400);
}

static void test_connection_tokens(void **state)
{
    size_t used;

    (void)state;
#define CONN(v, ver) "GET / " ver "\r\nHost: h\r\nConnection: " v "\r\n\r\n"
    assert_int_equal(parse_whole(&P1, CONN("close", "HTTP/1.1"), strlen(CONN("close", "HTTP/1.1")),
                                 &used), 0);
    assert_true(P1.hp_conn_close);
    assert_false(rn__http_keep_alive(&P1));
    assert_int_equal(parse_whole(&P1, CONN("Upgrade, CLOSE ", "HTTP/1.1"),
                                 strlen(CONN("Upgrade, CLOSE ", "HTTP/1.1")), &used), 0);
    assert_false(rn__http_keep_alive(&P1));
    assert_int_equal(parse_whole(&P1, CONN("keep-alive", "HTTP/1.0"),
                                 strlen(CONN("keep-alive", "HTTP/1.0")), &used), 0);
    assert_true(rn__http_keep_alive(&P1));
    assert_int_equal(parse_whole(&P1, CONN(" Keep-Alive ,foo", "HTTP/1.0"),
                                 strlen(CONN(" Keep-Alive ,foo", "HTTP/1.0")), &used), 0);
    assert_true(rn__http_keep_alive(&P1));
    assert_int_equal(parse_whole(&P1, CONN("keep-alive, close", "HTTP/1.0"),
                                 strlen(CONN("keep-alive, close", "HTTP/1.0")), &used), 0);
    assert_false(rn__http_keep_alive(&P1));
    /* Near misses are other tokens. */
    assert_int_equal(parse_whole(&P1, CONN("closed, keep alive, xclose", "HTTP/1.0"),
                                 strlen(CONN("closed, keep alive, xclose", "HTTP/1.0")), &used), 0);
    assert_false(P1.hp_conn_close);
    assert_false(P1.hp_conn_keepalive);
    assert_false(rn__http_keep_alive(&P1));
    assert_int_equal(parse_whole(&P1, CONN("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaclose", "HTTP/1.1"),
                                 strlen(CONN("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaclose",
                                             "HTTP/1.1")), &used), 0);
    assert_true(rn__http_keep_alive(&P1));
    /* HTTP/1.0 without the token closes. */
    assert_int_equal(parse_whole(&P1, "GET / HTTP/1.0\r\n\r\n", 18, &used), 0);
    assert_false(rn__http_keep_alive(&P1));
#undef CONN
}

static void test_field_limits(void **state)
{
    char *s = malloc(64 * 1024);
    size_t n, used;
    int i;

    (void)state;
    assert_non_null(s);
    /* A field line of exactly 8 KiB with its CRLF is fine; one byte more is 431. */
    n = (size_t)sprintf(s, "GET / HTTP/1.0\r\nX: ");
    memset(s + n, 'v', 8192 - 5);
    n += 8192 - 5;
    strcpy(s + n, "\r\n\r\n");
    assert_int_equal(parse_str(s), 0);
    n = (size_t)sprintf(s, "GET / HTTP/1.0\r\nX: ");
    memset(s + n, 'v', 8192 - 4);
    n += 8192 - 4;
    strcpy(s + n, "\r\n\r\n");
    assert_int_equal(parse_str(s), 431);
    /* A long name counts too. */
    n = (size_t)sprintf(s, "GET / HTTP/1.0\r\n");
    memset(s + n, 'N', 9000);
    strcpy(s + n + 9000, ": v\r\n\r\n");
    assert_int_equal(parse_str(s), 431);
    /* 16 KiB of fields in all: three lines of 6000 bytes. */
    n = (size_t)sprintf(s, "GET / HTTP/1.0\r\n");
    for (i = 0; i < 3; i++) {
        n += (size_t)sprintf(s + n, "X%d: ", i);
        memset(s + n, 'v', 6000);
        n += 6000;
        n += (size_t)sprintf(s + n, "\r\n");
    }
    strcpy(s + n, "\r\n");
    assert_int_equal(parse_str(s), 431);
    /* 100 fields are fine, 101 are 431. */
    n = (size_t)sprintf(s, "GET / HTTP/1.0\r\n");
    for (i = 0; i < 100; i++)
        n += (size_t)sprintf(s + n, "F%d: x\r\n", i);
    strcpy(s + n, "\r\n");
    assert_int_equal(parse_str(s), 0);
    assert_int_equal(parse_whole(&P1, s, strlen(s), &used), 0);
    assert_int_equal(P1.hp_nfields, 100);
    n = (size_t)sprintf(s, "GET / HTTP/1.0\r\n");
    for (i = 0; i < 101; i++)
        n += (size_t)sprintf(s + n, "F%d: x\r\n", i);
    strcpy(s + n, "\r\n");
    assert_int_equal(parse_str(s), 431);
    free(s);
}

static void test_custom_limits(void **state)
{
    struct rn_http_limits lim = {.hl_target_max = 10, .hl_nfields_max = 1, .hl_body_max = 5};
    const char *s;
    size_t used;

    (void)state;
    rn__http_parser_init(&P1, &lim);
    s = "GET /1234567890 HTTP/1.0\r\n\r\n";
    assert_int_equal(rn__http_parse(&P1, (const uint8_t *)s, strlen(s), &used), RN_HTTP_ERROR);
    assert_int_equal(P1.hp_status, 414);
    rn__http_parser_reset(&P1);
    s = "GET /12345678 HTTP/1.0\r\nA: 1\r\nB: 2\r\n\r\n";
    assert_int_equal(rn__http_parse(&P1, (const uint8_t *)s, strlen(s), &used), RN_HTTP_ERROR);
    assert_int_equal(P1.hp_status, 431);
    rn__http_parser_reset(&P1);
    s = "GET / HTTP/1.0\r\nContent-Length: 6\r\n\r\n";
    assert_int_equal(rn__http_parse(&P1, (const uint8_t *)s, strlen(s), &used), RN_HTTP_ERROR);
    assert_int_equal(P1.hp_status, 413);
}

static void test_pipelined(void **state)
{
    const char *s = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c";
    size_t off = 0, used;

    (void)state;
    rn__http_parser_init(&P1, NULL);
    assert_int_equal(rn__http_parse(&P1, (const uint8_t *)s, strlen(s), &used), RN_HTTP_DONE);
    assert_string_equal(P1.hp_target, "/a");
    off += used;
    assert_int_equal(off, strlen("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
    rn__http_parser_reset(&P1);
    assert_int_equal(rn__http_parse(&P1, (const uint8_t *)s + off, strlen(s) - off, &used),
                     RN_HTTP_DONE);
    assert_int_equal(P1.hp_method, RN_HTTP_M_HEAD);
    assert_string_equal(P1.hp_target, "/b");
    off += used;
    rn__http_parser_reset(&P1);
    assert_int_equal(rn__http_parse(&P1, (const uint8_t *)s + off, strlen(s) - off, &used),
                     RN_HTTP_MORE);
    assert_int_equal(used, strlen(s) - off);
    assert_true(rn__http_parser_started(&P1));
}

/* Every split of one request into two pieces gives the same result. */
static void test_every_split(void **state)
{
    const char *s = "\r\nGET /x%20y?q HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n"
                    "Content-Length: 3\r\n\r\nabc";
    size_t len = strlen(s), cut, u1, u2;
    struct rn_http_parser ref;
    int r;

    (void)state;
    assert_int_equal(parse_whole(&ref, s, len, &u1), 0);
    for (cut = 0; cut <= len; cut++) {
        rn__http_parser_init(&P1, NULL);
        r = rn__http_parse(&P1, (const uint8_t *)s, cut, &u1);
        u2 = 0;
        if (r == RN_HTTP_MORE)
            r = rn__http_parse(&P1, (const uint8_t *)s + cut, len - cut, &u2);
        assert_int_equal(r, RN_HTTP_DONE);
        assert_int_equal(u1 + u2, len - 3);
        assert_string_equal(P1.hp_target, ref.hp_target);
        assert_true(P1.hp_conn_keepalive);
        assert_int_equal(P1.hp_length, 3);
    }
}

/* ---- Target to path ------------------------------------------------------------ */

static int path_of(const char *t, char *out, bool *dir)
{
    return rn__http_target_path(t, strlen(t), out, RN_HTTP_TARGET_MAX + 1, dir);
}

static void test_target_path(void **state)
{
    static char out[RN_HTTP_TARGET_MAX + 1];
    bool dir;

    (void)state;
    assert_int_equal(path_of("/", out, &dir), 0);
    assert_string_equal(out, "");
    assert_true(dir);
    assert_int_equal(path_of("/a/b.txt", out, &dir), 0);
    assert_string_equal(out, "a/b.txt");
    assert_false(dir);
    assert_int_equal(path_of("//a///b//", out, &dir), 0);
    assert_string_equal(out, "a/b");
    assert_true(dir);
    assert_int_equal(path_of("/./a/./b/.", out, &dir), 0);
    assert_string_equal(out, "a/b");
    assert_true(dir);
    assert_int_equal(path_of("/a%20b/c%2Fd?x=/../..", out, &dir), 0);
    assert_string_equal(out, "a b/c/d");
    assert_int_equal(path_of("/a%2f", out, &dir), 0);
    assert_string_equal(out, "a");
    assert_true(dir);
    assert_int_equal(path_of("/%41%62", out, &dir), 0);
    assert_string_equal(out, "Ab");
    /* Decoded once: %2541 is "%41", a file of that name. */
    assert_int_equal(path_of("/%2541", out, &dir), 0);
    assert_string_equal(out, "%41");
    /* Dots inside names are names. */
    assert_int_equal(path_of("/a..b/...", out, &dir), 0);
    assert_string_equal(out, "a..b/...");
    assert_int_equal(path_of("/.hidden", out, &dir), 0);
    assert_string_equal(out, ".hidden");
    /* absolute-form */
    assert_int_equal(path_of("http://example.com/a/b?q", out, &dir), 0);
    assert_string_equal(out, "a/b");
    assert_int_equal(path_of("HTTPS://example.com:8080", out, &dir), 0);
    assert_string_equal(out, "");
    assert_true(dir);
    assert_int_equal(path_of("http://h?x", out, &dir), 0);
    assert_string_equal(out, "");
    assert_int_equal(path_of("http:///a", out, &dir), 400);
    assert_int_equal(path_of("ftp://h/a", out, &dir), 400);
    assert_int_equal(path_of("*", out, &dir), 400);
    assert_int_equal(path_of("example.com:80", out, &dir), 400);
    assert_int_equal(path_of("a/b", out, &dir), 400);
}

static void test_target_path_refusals(void **state)
{
    static char out[RN_HTTP_TARGET_MAX + 1];
    bool dir;

    (void)state;
    /* ".." segments, in every disguise: 404. */
    assert_int_equal(path_of("/..", out, &dir), 404);
    assert_int_equal(path_of("/../etc/passwd", out, &dir), 404);
    assert_int_equal(path_of("/a/../../etc/passwd", out, &dir), 404);
    assert_int_equal(path_of("/a/..", out, &dir), 404);
    assert_int_equal(path_of("/a/../b", out, &dir), 404);  /* even harmless ones */
    assert_int_equal(path_of("/%2e%2e/etc/passwd", out, &dir), 404);
    assert_int_equal(path_of("/%2E%2e/x", out, &dir), 404);
    assert_int_equal(path_of("/.%2e/x", out, &dir), 404);
    assert_int_equal(path_of("/%2e./x", out, &dir), 404);
    assert_int_equal(path_of("/..%2fetc%2fpasswd", out, &dir), 404);
    assert_int_equal(path_of("/a%2f..%2f..%2fetc", out, &dir), 404);
    assert_int_equal(path_of("/%2f..%2f", out, &dir), 404);
    assert_int_equal(path_of("/a/..?x", out, &dir), 404);
    assert_int_equal(path_of("http://h/../x", out, &dir), 404);
    /* Bad encodings and decoded controls: 400. */
    assert_int_equal(path_of("/%", out, &dir), 400);
    assert_int_equal(path_of("/%4", out, &dir), 400);
    assert_int_equal(path_of("/%4?x", out, &dir), 400);
    assert_int_equal(path_of("/%zz", out, &dir), 400);
    assert_int_equal(path_of("/%g0", out, &dir), 400);
    assert_int_equal(path_of("/a%00b", out, &dir), 400);
    assert_int_equal(path_of("/a%00", out, &dir), 400);
    assert_int_equal(path_of("/a%0a", out, &dir), 400);
    assert_int_equal(path_of("/a%7F", out, &dir), 400);
    /* Raw bytes the parser never lets through are refused here too. */
    assert_int_equal(path_of("/a b", out, &dir), 400);
    assert_int_equal(path_of("/a\x06", out, &dir), 400);
    assert_int_equal(path_of("/\xc3\xa9", out, &dir), 400);
    assert_int_equal(rn__http_target_path("/a\0b", 4, out, sizeof(out), &dir), 400);
    /* A buffer too small says so. */
    assert_int_equal(rn__http_target_path("/abcdef", 7, out, 4, &dir), 414);
}

static void test_content_types(void **state)
{
    (void)state;
    assert_string_equal(rn__http_content_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(rn__http_content_type("a/B.HTM"), "text/html; charset=utf-8");
    assert_string_equal(rn__http_content_type("x.txt"), "text/plain; charset=utf-8");
    assert_string_equal(rn__http_content_type("x.css"), "text/css; charset=utf-8");
    assert_string_equal(rn__http_content_type("x.js"), "text/javascript; charset=utf-8");
    assert_string_equal(rn__http_content_type("x.json"), "application/json");
    assert_string_equal(rn__http_content_type("x.png"), "image/png");
    assert_string_equal(rn__http_content_type("x.jpg"), "image/jpeg");
    assert_string_equal(rn__http_content_type("x.JPEG"), "image/jpeg");
    assert_string_equal(rn__http_content_type("x.gif"), "image/gif");
    assert_string_equal(rn__http_content_type("x.svg"), "image/svg+xml");
    assert_string_equal(rn__http_content_type("x.ico"), "image/vnd.microsoft.icon");
    assert_string_equal(rn__http_content_type("x.pdf"), "application/pdf");
    assert_string_equal(rn__http_content_type("x.wasm"), "application/wasm");
    assert_string_equal(rn__http_content_type("x.bin"), "application/octet-stream");
    assert_string_equal(rn__http_content_type("x.htmlx"), "application/octet-stream");
    assert_string_equal(rn__http_content_type("x.jsx"), "application/octet-stream");
    assert_string_equal(rn__http_content_type("dir.html/file"), "application/octet-stream");
    assert_string_equal(rn__http_content_type("noext"), "application/octet-stream");
    assert_string_equal(rn__http_content_type(""), "application/octet-stream");
}

static void test_format_head(void **state)
{
    char buf[512];
    size_t n;

    (void)state;
    n = rn__http_format_head(buf, sizeof(buf), 200, "text/plain", 12345, 0);
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf, "HTTP/1.1 200 OK\r\nServer: refnet\r\nContent-Type: text/plain\r\n"
                             "Content-Length: 12345\r\n\r\n");
    n = rn__http_format_head(buf, sizeof(buf), 405, NULL, 0,
                            RN_HTTP_RF_ALLOW | RN_HTTP_RF_CLOSE);
    assert_string_equal(buf, "HTTP/1.1 405 Method Not Allowed\r\nServer: refnet\r\n"
                             "Content-Length: 0\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n");
    n = rn__http_format_head(buf, sizeof(buf), 404, NULL, 0, RN_HTTP_RF_KEEPALIVE);
    assert_non_null(strstr(buf, "Connection: keep-alive\r\n\r\n"));
    assert_null(strstr(buf, "Date:"));
    assert_int_equal(rn__http_format_head(buf, 20, 200, NULL, 0, 0), 0);
    assert_string_equal(rn__http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(rn__http_reason(414), "URI Too Long");
    assert_string_equal(rn__http_reason(505), "HTTP Version Not Supported");
    assert_string_equal(rn__http_reason(999), "Unknown");
    (void)n;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_head_and_other_methods),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_request_line_errors),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_target_limit),
        cmocka_unit_test(test_field_errors),
        cmocka_unit_test(test_host_rules),
        cmocka_unit_test(test_body_framing),
        cmocka_unit_test(test_connection_tokens),
        cmocka_unit_test(test_field_limits),
        cmocka_unit_test(test_custom_limits),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_target_path),
        cmocka_unit_test(test_target_path_refusals),
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_format_head),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
