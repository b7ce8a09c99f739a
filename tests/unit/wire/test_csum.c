/*
 * Tests of the Internet checksum (src/wire/csum.c, csum.h) against a plain
 * reference implementation, RFC examples and checksums Linux computed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/bytes.h"
#include "wire/csum.h"
#include "frames.h"

/* Deterministic pseudo-random bytes (xorshift64), so failures replay. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(uint8_t *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        p[i] = (uint8_t)rng();
}

/* The textbook RFC 1071 loop: big-endian 16-bit words into a wide sum, an
 * odd last byte as the high half of a zero-padded word, then fold. */
static uint16_t ref_fold(uint64_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

static uint16_t ref_csum(const uint8_t *p, size_t len, uint16_t init)
{
    uint64_t s = init;
    size_t i;

    for (i = 0; i + 1 < len; i += 2)
        s += (uint64_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        s += (uint64_t)p[len - 1] << 8;
    return (uint16_t)~ref_fold(s);
}

/* Every length 0..2000 at every start offset 0..7 (odd ones included),
 * from a zero and from a large unfolded accumulator.  Each range is copied
 * to the end of its own heap block so that ASan catches any read past it. */
static void test_partial_matches_reference(void **state)
{
    uint8_t *src = malloc(2008);
    size_t len, off;

    (void)state;
    assert_non_null(src);
    fill_random(src, 2008);
    for (len = 0; len <= 2000; len++) {
        for (off = 0; off < 8; off++) {
            /* 1 + off bytes before the range, none after it; the start
             * address takes every alignment 1..8 as off goes 0..7. */
            uint8_t *blk = malloc(1 + off + len);
            uint8_t *p;
            uint64_t acc = rng();

            assert_non_null(blk);
            p = blk + 1 + off;
            memcpy(p, src + off, len);
            assert_int_equal(rn_csum_fold(rn__csum_partial(p, len, 0)),
                             ref_csum(src + off, len, 0));
            /* A large accumulator: only its value modulo 0xffff counts. */
            assert_int_equal(rn_csum_fold(rn__csum_partial(p, len, acc)),
                             ref_csum(src + off, len, ref_fold(acc)));
            free(blk);
        }
    }
    free(src);
}

/* All-zero and all-0xff data: the one's-complement corner values. */
static void test_corner_values(void **state)
{
    uint8_t buf[64];

    (void)state;
    memset(buf, 0, sizeof(buf));
    assert_int_equal(rn_csum(buf, sizeof(buf)), 0xffff);
    assert_int_equal(rn_csum(buf, 0), 0xffff);
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(rn_csum(buf, sizeof(buf)), 0x0000);
    assert_int_equal(rn_csum(buf, 63), ref_csum(buf, 63, 0));
    /* Carries out of bit 63 in every word. */
    assert_int_equal(rn_csum_fold(rn__csum_partial(buf, 64, UINT64_MAX)),
                     ref_csum(buf, 64, ref_fold(UINT64_MAX)));
}

/* RFC 1071 section 3's numerical example. */
static void test_rfc1071_example(void **state)
{
    static const uint8_t data[8] = {0x00, 0x01, 0xf2, 0x03,
                                    0xf4, 0xf5, 0xf6, 0xf7};

    (void)state;
    assert_int_equal(rn__csum_fold16(rn__csum_partial(data, 8, 0)), 0xddf2);
    assert_int_equal(rn_csum(data, 8), 0x220d);
}

/* A message summed in pieces, some at odd offsets, equals the whole. */
static void test_block_add_odd_offsets(void **state)
{
    uint8_t buf[1500];
    int round;

    (void)state;
    for (round = 0; round < 2000; round++) {
        size_t len = rng() % sizeof(buf);
        size_t off = 0;
        uint64_t acc = 0;

        fill_random(buf, len);
        while (off < len) {
            size_t piece = 1 + rng() % 37;

            if (piece > len - off)
                piece = len - off;
            acc = rn_csum_block_add(acc, rn__csum_partial(buf + off, piece, 0),
                                    off);
            off += piece;
        }
        assert_int_equal(rn_csum_fold(acc), ref_csum(buf, len, 0));
    }
}

/* RFC 1624 section 4: equation 3 gives 0x0000 where equation 2 gives the
 * wrong 0xffff. */
static void test_update16_rfc1624_example(void **state)
{
    (void)state;
    assert_int_equal(rn_csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

/* Incremental updates of random headers agree with full recomputation. */
static void test_update16_matches_recompute(void **state)
{
    uint8_t hdr[20];
    int round;

    (void)state;
    for (round = 0; round < 100000; round++) {
        size_t w = 2 * (rng() % 10);
        uint16_t old_word, new_word, sum;

        if (w == 10)
            continue; /* the checksum field itself */
        fill_random(hdr, sizeof(hdr));
        rn_put_be16(hdr + 10, 0);
        rn_put_be16(hdr + 10, rn_csum(hdr, sizeof(hdr)));
        old_word = rn_get_be16(hdr + w);
        new_word = (round & 1) ? (uint16_t)rng() : (uint16_t)(old_word - 0x100);
        rn_put_be16(hdr + w, new_word);
        sum = rn_csum_update16(rn_get_be16(hdr + 10), old_word, new_word);
        rn_put_be16(hdr + 10, 0);
        assert_int_equal(sum, rn_csum(hdr, sizeof(hdr)));
    }
}

/* Checksums Linux computed: the IPv4 header of a ping, and a UDP datagram
 * with its pseudo-header. */
static void test_linux_frames(void **state)
{
    const uint8_t *ip = frame_ping_request + 14;
    const uint8_t *udp = frame_udp_dgram + 14 + 20;
    uint8_t hdr[20];
    uint64_t ph;

    (void)state;
    assert_int_equal(rn_csum(ip, 20), 0);
    memcpy(hdr, ip, 20);
    rn_put_be16(hdr + 10, 0);
    assert_int_equal(rn_csum(hdr, 20), 0xa53c);

    /* UDP length 21: an odd length, so the last byte is padded. */
    ph = rn_csum_pseudo4(0xc6120001, 0xc6120002, 17, 21);
    assert_int_equal(rn_csum_fold(rn__csum_partial(udp, 21, ph)), 0);
    assert_int_equal(rn_get_be16(udp + 6), 0xfa8a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partial_matches_reference),
        cmocka_unit_test(test_corner_values),
        cmocka_unit_test(test_rfc1071_example),
        cmocka_unit_test(test_block_add_odd_offsets),
        cmocka_unit_test(test_update16_rfc1624_example),
        cmocka_unit_test(test_update16_matches_recompute),
        cmocka_unit_test(test_linux_frames),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
