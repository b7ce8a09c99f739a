/*
 * The shared basics (src/base/): SipHash against its published test
 * vector, text buffers and error names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/siphash.h"
#include "refnet/error.h"
#include "refnet/strbuf.h"

static void test_siphash_vector(void **state)
{
    /* The reference vector of the SipHash paper (appendix A): key
     * 00..0f, message 00..0e. */
    const uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
    uint8_t msg[15];
    int i;

    (void)state;
    for (i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    assert_int_equal(rn__siphash(key, msg, sizeof(msg)), 0xa129ca6149be45e5ull);
    /* Empty input (first entry of the reference table). */
    assert_int_equal(rn__siphash(key, msg, 0), 0x726fdb47dd0e0e31ull);
}

static void test_strbuf_printf(void **state)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;

    (void)state;
    rn_strbuf_printf(&sb, "%d-%s", 7, "x");
    assert_string_equal(rn_strbuf_str(&sb), "7-x");
    rn_strbuf_free(&sb);
}

static void test_errors(void **state)
{
    (void)state;
    assert_string_equal(rn_strerror(RN_ECONNREFUSED), "connection refused");
    assert_string_equal(rn_err_name(RN_ECONNRESET), "CONNRESET");
    assert_int_equal(rn_err_to_errno(RN_ECONNRESET), ECONNRESET);
    assert_string_equal(rn_strerror(-1), "unknown error");
    assert_int_equal(rn_err_to_errno(12345), EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_vector),
        cmocka_unit_test(test_strbuf_printf),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
