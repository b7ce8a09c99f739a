/*
 * Tests of Ethernet II parse and emit and of MAC addresses
 * (src/wire/eth.c, eth.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "refnet/error.h"
#include "wire/eth.h"
#include "frames.h"

static const struct rn_mac mac1 = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
static const struct rn_mac mac2 = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

static void test_parse_linux_frame(void **state)
{
    struct rn_eth_hdr eh;

    (void)state;
    assert_int_equal(rn__eth_parse(frame_ping_request,
                                  sizeof(frame_ping_request), &eh),
                     RN_DROP_NONE);
    assert_true(rn_mac_equal(&eh.eh_dst, &mac2));
    assert_true(rn_mac_equal(&eh.eh_src, &mac1));
    assert_int_equal(eh.eh_type, RN_ETHERTYPE_IPV4);
    assert_ptr_equal(eh.eh_payload, frame_ping_request + 14);
    assert_int_equal(eh.eh_paylen, sizeof(frame_ping_request) - 14);

    assert_int_equal(rn__eth_parse(frame_arp_request,
                                  sizeof(frame_arp_request), &eh),
                     RN_DROP_NONE);
    assert_true(rn_mac_is_broadcast(&eh.eh_dst));
    assert_int_equal(eh.eh_type, RN_ETHERTYPE_ARP);
}

static void test_round_trip(void **state)
{
    uint8_t buf[RN_ETH_HLEN];
    struct rn_eth_hdr eh;

    (void)state;
    assert_int_equal(rn__eth_emit(buf, &mac2, &mac1, RN_ETHERTYPE_IPV4),
                     RN_ETH_HLEN);
    assert_memory_equal(buf, frame_ping_request, RN_ETH_HLEN);
    assert_int_equal(rn__eth_parse(buf, sizeof(buf), &eh), RN_DROP_NONE);
    assert_true(rn_mac_equal(&eh.eh_dst, &mac2));
    assert_true(rn_mac_equal(&eh.eh_src, &mac1));
    assert_int_equal(eh.eh_type, RN_ETHERTYPE_IPV4);
    assert_int_equal(eh.eh_paylen, 0);
}

static void test_rejects(void **state)
{
    uint8_t buf[64];
    struct rn_eth_hdr eh;
    size_t len;

    (void)state;
    for (len = 0; len < RN_ETH_HLEN; len++)
        assert_int_equal(rn__eth_parse(frame_ping_request, len, &eh),
                         RN_DROP_TRUNCATED);
    assert_int_equal(rn__eth_parse(NULL, 0, &eh), RN_DROP_TRUNCATED);

    /* A group source address. */
    memcpy(buf, frame_ping_request, sizeof(buf));
    buf[6] |= 0x01;
    assert_int_equal(rn__eth_parse(buf, sizeof(buf), &eh), RN_DROP_BAD_ETH);

    /* An 802.1Q tag: recognised, reported, not parsed past. */
    memcpy(buf, frame_ping_request, sizeof(buf));
    buf[12] = 0x81;
    buf[13] = 0x00;
    assert_int_equal(rn__eth_parse(buf, sizeof(buf), &eh),
                     RN_DROP_UNSUPPORTED_ETHERTYPE);
    assert_int_equal(eh.eh_type, RN_ETHERTYPE_VLAN);
    buf[12] = 0x88;
    buf[13] = 0xa8;
    assert_int_equal(rn__eth_parse(buf, sizeof(buf), &eh),
                     RN_DROP_UNSUPPORTED_ETHERTYPE);
    /* An 802.3 length field. */
    buf[12] = 0x00;
    buf[13] = 0x2e;
    assert_int_equal(rn__eth_parse(buf, sizeof(buf), &eh),
                     RN_DROP_UNSUPPORTED_ETHERTYPE);
    /* An EtherType we do not speak is still a valid frame. */
    buf[12] = 0x86;
    buf[13] = 0xdd;
    assert_int_equal(rn__eth_parse(buf, sizeof(buf), &eh), RN_DROP_NONE);
    assert_int_equal(eh.eh_type, RN_ETHERTYPE_IPV6);
}

static void test_predicates(void **state)
{
    const struct rn_mac bc = RN_MAC_BROADCAST;
    const struct rn_mac zero = RN_MAC_ZERO;
    const struct rn_mac mcast = {{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}};

    (void)state;
    assert_true(rn_mac_is_broadcast(&bc));
    assert_true(rn_mac_is_multicast(&bc));
    assert_false(rn_mac_is_zero(&bc));
    assert_true(rn_mac_is_multicast(&mcast));
    assert_false(rn_mac_is_broadcast(&mcast));
    assert_false(rn_mac_is_multicast(&mac1));
    assert_false(rn_mac_is_broadcast(&mac1));
    assert_true(rn_mac_is_zero(&zero));
    assert_false(rn_mac_is_zero(&mac1));
    assert_true(rn_mac_equal(&mac1, &mac1));
    assert_false(rn_mac_equal(&mac1, &mac2));
}

static void test_mac_text(void **state)
{
    char buf[RN_MAC_STRLEN];
    const struct rn_mac odd = {{0xde, 0xad, 0xbe, 0xef, 0x0a, 0xf0}};
    struct rn_mac m;

    (void)state;
    assert_string_equal(rn_mac_fmt(&mac1, buf), "02:00:00:00:00:01");
    assert_string_equal(rn_mac_fmt(&odd, buf), "de:ad:be:ef:0a:f0");

    assert_int_equal(rn_mac_parse("02:00:00:00:00:01", &m, NULL), 0);
    assert_true(rn_mac_equal(&m, &mac1));
    assert_int_equal(rn_mac_parse("DE-AD-BE-EF-0A-F0", &m, NULL), 0);
    assert_true(rn_mac_equal(&m, &odd));
    assert_int_equal(rn_mac_parse("2:0:0:0:0:2", &m, NULL), 0);
    assert_true(rn_mac_equal(&m, &mac2));
    /* Text round trip. */
    assert_int_equal(rn_mac_parse(rn_mac_fmt(&odd, buf), &m, NULL), 0);
    assert_true(rn_mac_equal(&m, &odd));
}

static void test_mac_parse_errors(void **state)
{
    static const struct {
        const char *in;
        const char *msg;
    } cases[] = {
        {"", "empty MAC address"},
        {"02:00:00:00:00", "fewer than six groups"},
        {"02:00:00:00:00:01:02", "more than six groups"},
        {"02:00:zz:00:00:01", "group 3 has no hex digit"},
        {"02:00:0z:00:00:01", "group 3 has a character that is not a hex digit"},
        {"02:00:000:00:00:01", "group 3 has more than two hex digits"},
        {"02:00:00-00:00:01", "mixed ':' and '-' separators"},
        {"02.00.00.00.00.01", "groups must be separated by ':' or '-'"},
        {"02:00:00:00:00:01 ", "trailing characters after the sixth group"},
        {"02:00:00:00:00:0g", "group 6 has a character that is not a hex digit"},
        {"02::00:00:00:01", "group 2 has no hex digit"},
    };
    const struct rn_mac keep = {{1, 2, 3, 4, 5, 6}};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rn_mac m = keep;
        const char *err = NULL;

        assert_int_equal(rn_mac_parse(cases[i].in, &m, &err), RN_EINVAL);
        assert_non_null(err);
        assert_string_equal(err, cases[i].msg);
        assert_true(rn_mac_equal(&m, &keep)); /* untouched on error */
    }
    {
        struct rn_mac m;

        assert_int_equal(rn_mac_parse(NULL, &m, NULL), RN_EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_linux_frame),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_predicates),
        cmocka_unit_test(test_mac_text),
        cmocka_unit_test(test_mac_parse_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
