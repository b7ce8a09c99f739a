/*
 * Tests of the drop reason table (include/refnet/drop.h, src/base/drop.c).
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "refnet/drop.h"
#include "refnet/error.h"

/* Names are unique, lowercase words, found again by rn_drop_from_name();
 * every reason has a description. */
static void test_names_unique_and_found(void **state)
{
    int i, j;

    (void)state;
    for (i = 0; i < RN_DROP_MAX_; i++) {
        const char *name = rn_drop_name((enum rn_drop)i);
        const char *c;

        assert_true(strlen(name) > 0);
        for (c = name; *c; c++)
            assert_true(islower((unsigned char)*c) || *c == '_' ||
                        isdigit((unsigned char)*c));
        assert_true(strlen(rn_drop_desc((enum rn_drop)i)) > 0);
        assert_int_equal(rn_drop_from_name(name), i);
        for (j = 0; j < i; j++)
            assert_string_not_equal(name, rn_drop_name((enum rn_drop)j));
    }
}

/* The reasons the other layers count by name exist, with these names. */
static void test_required_reasons(void **state)
{
    static const char *const required[] = {
        "truncated", "bad_eth", "unsupported_ethertype", "bad_arp",
        "bad_ip_version", "bad_ip_hdr_len", "bad_ip_total_len", "bad_ip_csum",
        "bad_ip_options", "ip_ttl_expired", "not_for_us", "frag_overlap",
        "frag_too_big", "frag_timeout", "frag_no_memory", "bad_icmp_csum",
        "bad_icmp", "bad_udp_len", "bad_udp_csum", "udp_no_port",
        "bad_tcp_hdr_len", "bad_tcp_csum", "bad_tcp_options", "no_buffer",
        "queue_full", "fault_injected", "arp_unresolved", "no_route",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        assert_true(rn_drop_from_name(required[i]) > 0);
    assert_string_equal(rn_drop_name(RN_DROP_BAD_IP_CSUM), "bad_ip_csum");
    assert_string_equal(rn_drop_desc(RN_DROP_BAD_IP_CSUM),
                        "IPv4 header checksum does not verify");
}

static void test_none_and_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(RN_DROP_NONE, 0);
    assert_string_equal(rn_drop_name(RN_DROP_NONE), "none");
    assert_string_equal(rn_drop_desc(RN_DROP_NONE), "not dropped");
    assert_string_equal(rn_drop_name(RN_DROP_MAX_), "unknown");
    assert_string_equal(rn_drop_desc((enum rn_drop)-1), "unknown drop reason");
    assert_int_equal(rn_drop_from_name("no_such_reason"), RN_EINVAL);
    assert_int_equal(rn_drop_from_name(""), RN_EINVAL);
    assert_int_equal(rn_drop_from_name(NULL), RN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_unique_and_found),
        cmocka_unit_test(test_required_reasons),
        cmocka_unit_test(test_none_and_out_of_range),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
