/*
 * The control protocol's codec: request round trips, the reader fed byte by
 * byte, and every way a frame can lie (bad magic, bad version, oversized,
 * truncated, argc and length lies, NUL bytes, trailing bytes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/ctl.h"
#include "refnet/error.h"
#include "support.h"

/* Builds a raw frame around payload. */
static size_t frame(uint8_t *out, const char *magic, uint8_t version, uint32_t len,
                    const uint8_t *payload, size_t plen)
{
    memcpy(out, magic, 3);
    out[3] = version;
    out[4] = (uint8_t)(len >> 24);
    out[5] = (uint8_t)(len >> 16);
    out[6] = (uint8_t)(len >> 8);
    out[7] = (uint8_t)len;
    if (plen)
        memcpy(out + 8, payload, plen);
    return 8 + plen;
}

/* Feeds buf to a fresh reader (max payload max) in chunks of step bytes.
 * Returns the last result; *used_total is how many bytes were taken. */
static int feed_all(struct rn_ctl_reader *rd, uint32_t max, const uint8_t *buf, size_t len,
                    size_t step, size_t *used_total, char *err, size_t errlen)
{
    size_t off = 0;
    int r = 0;

    rn__ctl_reader_init(rd, max);
    while (off < len && r == 0) {
        size_t n = len - off < step ? len - off : step;
        size_t used;

        r = rn__ctl_reader_feed(rd, buf + off, n, &used, err, errlen);
        off += used;
        if (r == 0)
            assert_int_equal(used, n);
    }
    *used_total = off;
    return r;
}

static void decode_payload(const uint8_t *frame_buf, size_t len, struct rn_ctl_request *rq,
                           int expect, const char *needle)
{
    struct rn_ctl_reader rd;
    const uint8_t *p;
    uint32_t plen;
    size_t used;
    char err[256] = "";
    int r;

    r = feed_all(&rd, RN_CTL_REQ_MAX, frame_buf, len, 1, &used, err, sizeof(err));
    assert_int_equal(r, 1);
    assert_int_equal(used, len);
    p = rn__ctl_reader_payload(&rd, &plen);
    r = rn__ctl_request_decode(p, plen, rq, err, sizeof(err));
    assert_int_equal(r, expect);
    if (needle != NULL && strstr(err, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err, needle);
    rn__ctl_reader_fini(&rd);
}

static void test_request_round_trip(void **state)
{
    const char *argv[] = {"objects", "--type", "tcp listener", ""};
    struct rn_ctl_request rq;
    uint8_t *buf;
    size_t len;
    char err[128];
    int i;

    (void)state;
    assert_int_equal(rn__ctl_request_encode(RN_CTL_F_JSON, 4, argv, &buf, &len, err,
                                           sizeof(err)), 0);
    assert_memory_equal(buf, "RNC\x01", 4);
    assert_int_equal(len, 8 + 6 + (2 + 7) + (2 + 6) + (2 + 12) + 2);
    decode_payload(buf, len, &rq, 0, NULL);
    assert_int_equal(rq.rq_flags, RN_CTL_F_JSON);
    assert_int_equal(rq.rq_argc, 4);
    for (i = 0; i < 4; i++)
        assert_string_equal(rq.rq_argv[i], argv[i]);
    assert_null(rq.rq_argv[4]);
    rn__ctl_request_free(&rq);
    free(buf);
}

static void test_encode_limits(void **state)
{
    const char *many[RN_CTL_ARGS_MAX + 1];
    char *big = malloc(RN_CTL_ARG_MAX + 2);
    const char *one[1];
    uint8_t *buf;
    size_t len;
    char err[128];
    int i;

    (void)state;
    for (i = 0; i <= RN_CTL_ARGS_MAX; i++)
        many[i] = "x";
    assert_int_equal(rn__ctl_request_encode(0, RN_CTL_ARGS_MAX + 1, many, &buf, &len, err,
                                           sizeof(err)), RN_EINVAL);
    assert_non_null(strstr(err, "65 arguments"));
    assert_int_equal(rn__ctl_request_encode(0, RN_CTL_ARGS_MAX, many, &buf, &len, err,
                                           sizeof(err)), 0);
    free(buf);
    assert_int_equal(rn__ctl_request_encode(0, 0, many, &buf, &len, err, sizeof(err)), RN_EINVAL);

    memset(big, 'a', RN_CTL_ARG_MAX + 1);
    big[RN_CTL_ARG_MAX + 1] = '\0';
    one[0] = big;
    assert_int_equal(rn__ctl_request_encode(0, 1, one, &buf, &len, err, sizeof(err)), RN_EINVAL);
    assert_non_null(strstr(err, "argument 0 is 4097 bytes"));
    big[RN_CTL_ARG_MAX] = '\0';
    assert_int_equal(rn__ctl_request_encode(0, 1, one, &buf, &len, err, sizeof(err)), 0);
    free(buf);
    assert_int_equal(rn__ctl_request_encode(0x80, 1, one, &buf, &len, err, sizeof(err)),
                     RN_EINVAL);
    free(big);
}

static void test_encode_total_limit(void **state)
{
    /* 16 arguments of 4096 bytes: each is within its limit, the whole is
     * not (16 * 4098 + 6 > 64 KiB). */
    const char *argv[16];
    char *arg = malloc(RN_CTL_ARG_MAX + 1);
    uint8_t *buf;
    size_t len;
    char err[128];
    int i;

    (void)state;
    memset(arg, 'b', RN_CTL_ARG_MAX);
    arg[RN_CTL_ARG_MAX] = '\0';
    for (i = 0; i < 16; i++)
        argv[i] = arg;
    assert_int_equal(rn__ctl_request_encode(0, 16, argv, &buf, &len, err, sizeof(err)),
                     RN_EINVAL);
    assert_non_null(strstr(err, "exceeds the limit of 65536"));
    assert_int_equal(rn__ctl_request_encode(0, 15, argv, &buf, &len, err, sizeof(err)), 0);
    free(buf);
    free(arg);
}

static void test_reader_bad_magic_fails_at_first_byte(void **state)
{
    struct rn_ctl_reader rd;
    size_t used;
    char err[256];

    (void)state;
    rn__ctl_reader_init(&rd, RN_CTL_REQ_MAX);
    /* "GET / HTTP/1.0": refused at 'G', without waiting for 8 bytes. */
    assert_int_equal(rn__ctl_reader_feed(&rd, "G", 1, &used, err, sizeof(err)), RN_EFORMAT);
    assert_non_null(strstr(err, "bad magic"));
    assert_non_null(strstr(err, "byte 0 is 0x47"));
    rn__ctl_reader_fini(&rd);

    rn__ctl_reader_init(&rd, RN_CTL_REQ_MAX);
    assert_int_equal(rn__ctl_reader_feed(&rd, "RNX", 3, &used, err, sizeof(err)), RN_EFORMAT);
    assert_non_null(strstr(err, "byte 2"));
    rn__ctl_reader_fini(&rd);
}

static void test_reader_bad_version(void **state)
{
    struct rn_ctl_reader rd;
    uint8_t buf[16];
    size_t len, used;
    char err[256];

    (void)state;
    len = frame(buf, "RNC", 2, 6, (const uint8_t *)"\0\0\0\0\0\0", 6);
    assert_int_equal(feed_all(&rd, RN_CTL_REQ_MAX, buf, len, 1, &used, err, sizeof(err)),
                     RN_ENOTSUP);
    assert_int_equal(used, 4);
    assert_non_null(strstr(err, "version 2"));
    rn__ctl_reader_fini(&rd);
    len = frame(buf, "RNC", 0, 6, (const uint8_t *)"\0\0\0\0\0\0", 6);
    assert_int_equal(feed_all(&rd, RN_CTL_REQ_MAX, buf, len, 3, &used, err, sizeof(err)),
                     RN_ENOTSUP);
    rn__ctl_reader_fini(&rd);
}

static void test_reader_oversized(void **state)
{
    struct rn_ctl_reader rd;
    uint8_t buf[16];
    size_t len, used;
    char err[256];

    (void)state;
    /* The length alone condemns it: nothing of the payload is read or
     * allocated. */
    len = frame(buf, "RNC", 1, RN_CTL_REQ_MAX + 1, NULL, 0);
    assert_int_equal(feed_all(&rd, RN_CTL_REQ_MAX, buf, len, 8, &used, err, sizeof(err)),
                     RN_EMSGSIZE);
    assert_non_null(strstr(err, "65537 bytes exceeds the limit of 65536"));
    assert_null(rd.rd_buf);
    rn__ctl_reader_fini(&rd);
    len = frame(buf, "RNC", 1, 0xffffffffu, NULL, 0);
    assert_int_equal(feed_all(&rd, RN_CTL_REQ_MAX, buf, len, 1, &used, err, sizeof(err)),
                     RN_EMSGSIZE);
    rn__ctl_reader_fini(&rd);
}

static void test_reader_big_length_allocates_as_bytes_arrive(void **state)
{
    struct rn_ctl_reader rd;
    uint8_t buf[8 + 100];
    size_t len, used;
    char err[256];

    (void)state;
    /* A reply reader (256 MiB limit) told 200 MiB are coming holds only
     * what arrived so far. */
    memset(buf + 8, 'z', 100);
    len = frame(buf, "RNC", 1, 200u << 20, buf + 8, 100);
    assert_int_equal(feed_all(&rd, RN_CTL_REPLY_MAX, buf, len, 1000, &used, err, sizeof(err)),
                     0);
    assert_int_equal(used, len);
    assert_true(rd.rd_cap <= 4096);
    assert_true(rn__ctl_reader_partial(&rd));
    rn__ctl_reader_fini(&rd);
}

static void test_reader_one_frame_at_a_time(void **state)
{
    const char *a1[] = {"status"};
    const char *a2[] = {"objects", "--type", "interface"};
    struct rn_ctl_reader rd;
    struct rn_ctl_request rq;
    uint8_t *f1, *f2, both[256];
    size_t l1, l2, used;
    const uint8_t *p;
    uint32_t plen;
    char err[128];

    (void)state;
    assert_int_equal(rn__ctl_request_encode(0, 1, a1, &f1, &l1, err, sizeof(err)), 0);
    assert_int_equal(rn__ctl_request_encode(0, 3, a2, &f2, &l2, err, sizeof(err)), 0);
    memcpy(both, f1, l1);
    memcpy(both + l1, f2, l2);
    rn__ctl_reader_init(&rd, RN_CTL_REQ_MAX);
    /* The reader stops at the end of the first frame. */
    assert_int_equal(rn__ctl_reader_feed(&rd, both, l1 + l2, &used, err, sizeof(err)), 1);
    assert_int_equal(used, l1);
    p = rn__ctl_reader_payload(&rd, &plen);
    assert_int_equal(rn__ctl_request_decode(p, plen, &rq, err, sizeof(err)), 0);
    assert_string_equal(rq.rq_argv[0], "status");
    rn__ctl_request_free(&rq);
    rn__ctl_reader_reset(&rd);
    assert_false(rn__ctl_reader_partial(&rd));
    assert_int_equal(rn__ctl_reader_feed(&rd, both + l1, l2, &used, err, sizeof(err)), 1);
    assert_int_equal(used, l2);
    p = rn__ctl_reader_payload(&rd, &plen);
    assert_int_equal(rn__ctl_request_decode(p, plen, &rq, err, sizeof(err)), 0);
    assert_int_equal(rq.rq_argc, 3);
    assert_string_equal(rq.rq_argv[2], "interface");
    rn__ctl_request_free(&rq);
    rn__ctl_reader_fini(&rd);
    free(f1);
    free(f2);
}

/* The reader keeps its buffer between frames; a short frame after a long
 * one, with more bytes behind it, must still end at its own length (found
 * by fuzz_ctl). */
static void test_reader_short_frame_after_long(void **state)
{
    const char *a1[] = {"objects", "--type", "tcp listener"};
    const char *a2[] = {"arp"};
    struct rn_ctl_reader rd;
    struct rn_ctl_request rq;
    uint8_t *f1, *f2, both[256];
    size_t l1, l2, used, off = 0, total;
    const uint8_t *p;
    uint32_t plen;
    char err[128];
    int r, frames = 0;
    static const char *const names[] = {"objects", "arp", "arp"};

    (void)state;
    assert_int_equal(rn__ctl_request_encode(0, 3, a1, &f1, &l1, err, sizeof(err)), 0);
    assert_int_equal(rn__ctl_request_encode(0, 1, a2, &f2, &l2, err, sizeof(err)), 0);
    memcpy(both, f1, l1);
    memcpy(both + l1, f2, l2);
    memcpy(both + l1 + l2, f2, l2);
    total = l1 + 2 * l2;
    rn__ctl_reader_init(&rd, RN_CTL_REQ_MAX);
    while (off < total) {
        size_t n = total - off < 64 ? total - off : 64;

        r = rn__ctl_reader_feed(&rd, both + off, n, &used, err, sizeof(err));
        assert_true(r >= 0);
        off += used;
        if (r == 1) {
            p = rn__ctl_reader_payload(&rd, &plen);
            assert_int_equal(rn__ctl_request_decode(p, plen, &rq, err, sizeof(err)), 0);
            assert_string_equal(rq.rq_argv[0], names[frames]);
            assert_int_equal(rq.rq_argc, frames == 0 ? 3 : 1);
            assert_int_equal(off, l1 + (size_t)frames * l2);
            rn__ctl_request_free(&rq);
            rn__ctl_reader_reset(&rd);
            frames++;
        }
    }
    assert_int_equal(frames, 3);
    rn__ctl_reader_fini(&rd);
    free(f1);
    free(f2);
}

static void test_reader_truncated_is_partial(void **state)
{
    const char *a[] = {"refs", "17"};
    struct rn_ctl_reader rd;
    uint8_t *f;
    size_t l, used;
    char err[128];

    (void)state;
    assert_int_equal(rn__ctl_request_encode(0, 2, a, &f, &l, err, sizeof(err)), 0);
    assert_int_equal(feed_all(&rd, RN_CTL_REQ_MAX, f, l - 1, 1, &used, err, sizeof(err)), 0);
    assert_true(rn__ctl_reader_partial(&rd));
    rn__ctl_reader_fini(&rd);
    assert_int_equal(feed_all(&rd, RN_CTL_REQ_MAX, f, 5, 1, &used, err, sizeof(err)), 0);
    assert_true(rn__ctl_reader_partial(&rd));
    rn__ctl_reader_fini(&rd);
    free(f);
}

/* Payload lies, each decoded from a correct frame around a bad payload. */
static void check_payload(const uint8_t *payload, size_t plen, int expect, const char *needle)
{
    uint8_t buf[512];
    struct rn_ctl_request rq;
    size_t len;

    assert_true(plen + 8 <= sizeof(buf));
    len = frame(buf, "RNC", 1, (uint32_t)plen, payload, plen);
    decode_payload(buf, len, &rq, expect, needle);
    if (expect == 0)
        rn__ctl_request_free(&rq);
}

static void test_decode_lies(void **state)
{
    (void)state;
    /* Empty payload and a head cut short. */
    check_payload(NULL, 0, RN_EFORMAT, "shorter than its 6-byte head");
    check_payload((const uint8_t *)"\0\0\0\0\0", 5, RN_EFORMAT, "shorter");
    /* argc 0. */
    check_payload((const uint8_t *)"\0\0\0\0\0\0", 6, RN_EFORMAT, "argc 0");
    /* Unknown flag bit. */
    check_payload((const uint8_t *)"\0\0\0\x04\0\x01\0\x01x", 9, RN_EFORMAT, "unknown request flags 0x4");
    /* argc 65. */
    check_payload((const uint8_t *)"\0\0\0\0\0\x41", 6, RN_EFORMAT, "argc 65 exceeds");
    /* argc says 2, one argument present. */
    check_payload((const uint8_t *)"\0\0\0\0\0\x02\0\x01x", 9, RN_EFORMAT,
                  "ends inside the length of argument 1 of 2");
    /* Length says 5, 2 bytes remain. */
    check_payload((const uint8_t *)"\0\0\0\0\0\x01\0\x05xy", 10, RN_EFORMAT,
                  "argument 0 claims 5 bytes but 2 remain");
    /* Length over the per-argument limit (0x1001 = 4097). */
    check_payload((const uint8_t *)"\0\0\0\0\0\x01\x10\x01x", 9, RN_EFORMAT,
                  "argument 0 is 4097 bytes");
    /* NUL inside an argument. */
    check_payload((const uint8_t *)"\0\0\0\0\0\x01\0\x03x\0y", 11, RN_EFORMAT,
                  "argument 0 holds a NUL byte");
    /* Bytes after the last argument. */
    check_payload((const uint8_t *)"\0\0\0\0\0\x01\0\x01xzz", 11, RN_EFORMAT,
                  "2 bytes follow the last argument");
    /* And a good one, to show the frame builder is right. */
    check_payload((const uint8_t *)"\0\0\0\x01\0\x01\0\x01x", 9, 0, NULL);
}

static void test_reply_round_trip_and_lies(void **state)
{
    uint8_t buf[64];
    const char *text;
    size_t tlen, used;
    int32_t status;
    struct rn_ctl_reader rd;
    const uint8_t *p;
    uint32_t plen;
    char err[128];

    (void)state;
    assert_int_equal(rn__ctl_reply_header(buf, 2, 5), 0);
    memcpy(buf + 16, "oops\n", 5);
    rn__ctl_reader_init(&rd, RN_CTL_REPLY_MAX);
    assert_int_equal(rn__ctl_reader_feed(&rd, buf, 21, &used, err, sizeof(err)), 1);
    p = rn__ctl_reader_payload(&rd, &plen);
    assert_int_equal(plen, 13);
    assert_int_equal(rn__ctl_reply_decode(p, plen, &status, &text, &tlen, err, sizeof(err)), 0);
    assert_int_equal(status, 2);
    assert_int_equal(tlen, 5);
    assert_memory_equal(text, "oops\n", 5);
    /* A text length that disagrees with the frame. */
    assert_int_equal(rn__ctl_reply_decode(p, plen - 1, &status, &text, &tlen, err, sizeof(err)),
                     RN_EFORMAT);
    assert_non_null(strstr(err, "claims 5 bytes but the frame holds 4"));
    assert_int_equal(rn__ctl_reply_decode(p, 7, &status, &text, &tlen, err, sizeof(err)),
                     RN_EFORMAT);
    rn__ctl_reader_fini(&rd);
    assert_int_equal(rn__ctl_reply_header(buf, 0, RN_CTL_REPLY_MAX), RN_EMSGSIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_encode_limits),
        cmocka_unit_test(test_encode_total_limit),
        cmocka_unit_test(test_reader_bad_magic_fails_at_first_byte),
        cmocka_unit_test(test_reader_bad_version),
        cmocka_unit_test(test_reader_oversized),
        cmocka_unit_test(test_reader_big_length_allocates_as_bytes_arrive),
        cmocka_unit_test(test_reader_one_frame_at_a_time),
        cmocka_unit_test(test_reader_short_frame_after_long),
        cmocka_unit_test(test_reader_truncated_is_partial),
        cmocka_unit_test(test_decode_lies),
        cmocka_unit_test(test_reply_round_trip_and_lies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
