/*
 * Tests of ARP parse and emit (src/wire/arp.c, arp.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wire/arp.h"
#include "frames.h"

#define IP1 0xc6120001u /* 198.18.0.1 */
#define IP2 0xc6120002u /* 198.18.0.2 */

static const struct rn_mac mac1 = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
static const struct rn_mac mac2 = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

static void test_parse_linux_request_and_reply(void **state)
{
    const struct rn_mac zero = RN_MAC_ZERO;
    struct rn_arp ar;

    (void)state;
    assert_int_equal(rn__arp_parse(frame_arp_request + 14,
                                  sizeof(frame_arp_request) - 14, &ar),
                     RN_DROP_NONE);
    assert_int_equal(ar.ar_op, RN_ARP_OP_REQUEST);
    assert_true(rn_mac_equal(&ar.ar_sha, &mac1));
    assert_int_equal(ar.ar_spa, IP1);
    assert_true(rn_mac_equal(&ar.ar_tha, &zero));
    assert_int_equal(ar.ar_tpa, IP2);

    assert_int_equal(rn__arp_parse(frame_arp_reply + 14,
                                  sizeof(frame_arp_reply) - 14, &ar),
                     RN_DROP_NONE);
    assert_int_equal(ar.ar_op, RN_ARP_OP_REPLY);
    assert_true(rn_mac_equal(&ar.ar_sha, &mac2));
    assert_int_equal(ar.ar_spa, IP2);
    assert_true(rn_mac_equal(&ar.ar_tha, &mac1));
    assert_int_equal(ar.ar_tpa, IP1);
}

/* Emitting what Linux sent gives Linux's bytes, and parses back. */
static void test_emit_matches_linux(void **state)
{
    const struct rn_arp req = {RN_ARP_OP_REQUEST, mac1, IP1, RN_MAC_ZERO, IP2};
    const struct rn_arp rep = {RN_ARP_OP_REPLY, mac2, IP2, mac1, IP1};
    uint8_t buf[RN_ARP_LEN];
    struct rn_arp ar;

    (void)state;
    assert_int_equal(rn__arp_emit(buf, &req), RN_ARP_LEN);
    assert_memory_equal(buf, frame_arp_request + 14, RN_ARP_LEN);
    assert_int_equal(rn__arp_emit(buf, &rep), RN_ARP_LEN);
    assert_memory_equal(buf, frame_arp_reply + 14, RN_ARP_LEN);
    assert_int_equal(rn__arp_parse(buf, sizeof(buf), &ar), RN_DROP_NONE);
    assert_memory_equal(&ar.ar_sha, &rep.ar_sha, sizeof(ar.ar_sha));
    assert_memory_equal(&ar.ar_tha, &rep.ar_tha, sizeof(ar.ar_tha));
    assert_int_equal(ar.ar_op, rep.ar_op);
    assert_int_equal(ar.ar_spa, rep.ar_spa);
    assert_int_equal(ar.ar_tpa, rep.ar_tpa);
}

/* Padding to the 60-byte minimum frame is ignored. */
static void test_padding_ignored(void **state)
{
    uint8_t buf[46];
    struct rn_arp ar;

    (void)state;
    memset(buf, 0xee, sizeof(buf));
    memcpy(buf, frame_arp_request + 14, RN_ARP_LEN);
    assert_int_equal(rn__arp_parse(buf, sizeof(buf), &ar), RN_DROP_NONE);
    assert_int_equal(ar.ar_tpa, IP2);
}

static void test_rejects(void **state)
{
    /* Offset and value of each field to spoil. */
    static const struct {
        size_t off;
        uint8_t val;
    } bad[] = {
        {1, 6},     /* htype 6 (IEEE 802) */
        {2, 0x86},  /* ptype 0x86dd-ish */
        {3, 0x06},  /* ptype 0x0806 */
        {4, 8},     /* hlen 8 */
        {5, 16},    /* plen 16 */
        {7, 0},     /* op 0 */
        {7, 3},     /* op 3 (RARP request) */
        {6, 1},     /* op 0x0101 */
        {8, 0x03},  /* sender MAC with the group bit */
        {8, 0xff},  /* sender MAC broadcast-like */
    };
    uint8_t buf[RN_ARP_LEN];
    struct rn_arp ar;
    size_t i, len;

    (void)state;
    for (len = 0; len < RN_ARP_LEN; len++)
        assert_int_equal(rn__arp_parse(frame_arp_request + 14, len, &ar),
                         RN_DROP_TRUNCATED);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(buf, frame_arp_request + 14, RN_ARP_LEN);
        buf[bad[i].off] = bad[i].val;
        assert_int_equal(rn__arp_parse(buf, sizeof(buf), &ar), RN_DROP_BAD_ARP);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_linux_request_and_reply),
        cmocka_unit_test(test_emit_matches_linux),
        cmocka_unit_test(test_padding_ignored),
        cmocka_unit_test(test_rejects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
