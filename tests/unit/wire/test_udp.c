/*
 * Tests of UDP parse and emit over IPv4 (src/wire/udp.c, udp.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/bytes.h"
#include "frames.h"
#include "wire/udp.h"

#define IP1 0xc6120001u /* 198.18.0.1 */
#define IP2 0xc6120002u /* 198.18.0.2 */

/* The UDP datagram inside the captured frame: 21 bytes. */
#define UDP_DGRAM (frame_udp_dgram + 14 + 20)
#define UDP_LEN (sizeof(frame_udp_dgram) - 14 - 20)

static void test_parse_linux(void **state)
{
    struct rn_udp_hdr uh;

    (void)state;
    assert_int_equal(rn__udp_parse4(UDP_DGRAM, UDP_LEN, IP1, IP2, 0, &uh),
                     RN_DROP_NONE);
    assert_int_equal(uh.uh_sport, 50631);
    assert_int_equal(uh.uh_dport, 9999);
    assert_int_equal(uh.uh_len, 21);
    assert_int_equal(uh.uh_sum, 0xfa8a);
    assert_ptr_equal(uh.uh_payload, UDP_DGRAM + 8);
    assert_int_equal(uh.uh_paylen, 13);
    assert_memory_equal(uh.uh_payload, "hello refnet\n", 13);
}

/* Our datagram from Linux's fields is Linux's datagram. */
static void test_emit_matches_linux(void **state)
{
    uint8_t buf[UDP_LEN];
    struct rn_udp_hdr uh = {0};

    (void)state;
    memcpy(buf + 8, "hello refnet\n", 13);
    uh.uh_sport = 50631;
    uh.uh_dport = 9999;
    uh.uh_paylen = 13;
    assert_int_equal(rn__udp_emit4(buf, &uh, IP1, IP2), 8);
    assert_memory_equal(buf, UDP_DGRAM, UDP_LEN);
}

/* Round trips over every payload length up to 300, odd ones included. */
static void test_round_trip(void **state)
{
    uint8_t *buf = malloc(8 + 300);
    size_t plen;

    (void)state;
    assert_non_null(buf);
    for (plen = 0; plen <= 300; plen++) {
        struct rn_udp_hdr in = {0}, out;
        size_t i;

        for (i = 0; i < plen; i++)
            buf[8 + i] = (uint8_t)(i * 37 + plen);
        in.uh_sport = (uint16_t)(1000 + plen);
        in.uh_dport = (uint16_t)(65535 - plen);
        in.uh_paylen = plen;
        assert_int_equal(rn__udp_emit4(buf, &in, IP2, IP1), 8);
        assert_int_not_equal(rn_get_be16(buf + 6), 0);
        assert_int_equal(rn__udp_parse4(buf, 8 + plen, IP2, IP1, 0, &out),
                         RN_DROP_NONE);
        assert_int_equal(out.uh_sport, in.uh_sport);
        assert_int_equal(out.uh_dport, in.uh_dport);
        assert_int_equal(out.uh_len, 8 + plen);
        assert_int_equal(out.uh_paylen, plen);
        /* The pseudo-header counts: another source fails the check. */
        assert_int_equal(rn__udp_parse4(buf, 8 + plen, IP2 + 1, IP1, 0, &out),
                         RN_DROP_BAD_UDP_CSUM);
    }
    free(buf);
}

/* A sum of 0 goes on the wire as 0xffff (0 would mean "no checksum"). */
static void test_zero_sum_sent_as_ffff(void **state)
{
    uint8_t buf[10];
    struct rn_udp_hdr in = {0}, out;
    uint16_t sum;

    (void)state;
    /* With payload 0x0000 the sum is that of the rest; choose the payload
     * word that makes the computed checksum 0. */
    in.uh_sport = 1;
    in.uh_dport = 2;
    in.uh_paylen = 2;
    memset(buf + 8, 0, 2);
    rn__udp_emit4(buf, &in, IP1, IP2);
    sum = rn_get_be16(buf + 6);
    /* Adding the current checksum value to the payload makes the total
     * sum 0xffff, whose complement is 0. */
    rn_put_be16(buf + 8, sum);
    rn__udp_emit4(buf, &in, IP1, IP2);
    assert_int_equal(rn_get_be16(buf + 6), 0xffff);
    assert_int_equal(rn__udp_parse4(buf, 10, IP1, IP2, 0, &out), RN_DROP_NONE);
}

static void test_rejects(void **state)
{
    uint8_t buf[UDP_LEN + 4];
    struct rn_udp_hdr uh;
    size_t len;

    (void)state;
    for (len = 0; len < 8; len++)
        assert_int_equal(rn__udp_parse4(UDP_DGRAM, len, IP1, IP2, 0, &uh),
                         RN_DROP_TRUNCATED);

    memcpy(buf, UDP_DGRAM, UDP_LEN);
    rn_put_be16(buf + 4, 7);
    assert_int_equal(rn__udp_parse4(buf, UDP_LEN, IP1, IP2, 0, &uh),
                     RN_DROP_BAD_UDP_LEN);
    rn_put_be16(buf + 4, UDP_LEN + 1);
    assert_int_equal(rn__udp_parse4(buf, UDP_LEN, IP1, IP2, 0, &uh),
                     RN_DROP_BAD_UDP_LEN);
    /* The IP payload cut short of the length field. */
    assert_int_equal(rn__udp_parse4(UDP_DGRAM, UDP_LEN - 1, IP1, IP2, 0, &uh),
                     RN_DROP_BAD_UDP_LEN);

    memcpy(buf, UDP_DGRAM, UDP_LEN);
    buf[UDP_LEN - 1] ^= 0x01;
    assert_int_equal(rn__udp_parse4(buf, UDP_LEN, IP1, IP2, 0, &uh),
                     RN_DROP_BAD_UDP_CSUM);
    /* ... unless the link verified it already. */
    assert_int_equal(rn__udp_parse4(buf, UDP_LEN, IP1, IP2, RN_CSUM_VERIFIED,
                                   &uh),
                     RN_DROP_NONE);
    /* A zero checksum means none: accepted unchecked over IPv4. */
    rn_put_be16(buf + 6, 0);
    assert_int_equal(rn__udp_parse4(buf, UDP_LEN, IP1, IP2, 0, &uh),
                     RN_DROP_NONE);
    assert_int_equal(uh.uh_sum, 0);
}

/* Bytes after the length field are not the datagram's: excluded from the
 * payload and from the checksum. */
static void test_trailing_bytes_excluded(void **state)
{
    uint8_t buf[UDP_LEN + 4];
    struct rn_udp_hdr uh;

    (void)state;
    memcpy(buf, UDP_DGRAM, UDP_LEN);
    memset(buf + UDP_LEN, 0x5a, 4);
    assert_int_equal(rn__udp_parse4(buf, sizeof(buf), IP1, IP2, 0, &uh),
                     RN_DROP_NONE);
    assert_int_equal(uh.uh_paylen, 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_linux),
        cmocka_unit_test(test_emit_matches_linux),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_zero_sum_sent_as_ffff),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_trailing_bytes_excluded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
