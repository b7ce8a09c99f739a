/*
 * Tests of TCP header and option parse and emit over IPv4
 * (src/wire/tcp.c, tcp.h), against segments the Linux kernel sent.
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
#include "wire/tcp.h"

#define IP1 0xc6120001u /* 198.18.0.1 */
#define IP2 0xc6120002u /* 198.18.0.2 */

/* The TCP segment inside a captured frame (no IP options in these). */
#define SEG(f) ((f) + 14 + 20)
#define SEGLEN(f) (sizeof(f) - 14 - 20)

static void test_parse_linux_syn(void **state)
{
    struct rn_tcp_hdr th;
    struct rn_tcp_opts to;

    (void)state;
    assert_int_equal(rn__tcp_parse4(SEG(frame_tcp_syn), SEGLEN(frame_tcp_syn),
                                   IP1, IP2, 0, &th),
                     RN_DROP_NONE);
    assert_int_equal(th.th_sport, 36922);
    assert_int_equal(th.th_dport, 8080);
    assert_int_equal(th.th_seq, 1955094512u);
    assert_int_equal(th.th_ack, 0);
    assert_int_equal(th.th_hlen, 40);
    assert_int_equal(th.th_flags, RN_TCP_SYN);
    assert_int_equal(th.th_win, 64240);
    assert_int_equal(th.th_sum, 0x0e28);
    assert_int_equal(th.th_urp, 0);
    assert_int_equal(th.th_optlen, 20);
    assert_ptr_equal(th.th_opts, SEG(frame_tcp_syn) + 20);
    assert_int_equal(th.th_paylen, 0);

    assert_int_equal(rn__tcp_opts_parse(th.th_opts, th.th_optlen, &to),
                     RN_DROP_NONE);
    assert_int_equal(to.to_present, RN_TCPOPT_F_MSS | RN_TCPOPT_F_SACK_PERM |
                                        RN_TCPOPT_F_TS | RN_TCPOPT_F_WSCALE);
    assert_int_equal(to.to_mss, 1460);
    assert_int_equal(to.to_wscale, 10);
    assert_int_equal(to.to_tsval, 2049160277u);
    assert_int_equal(to.to_tsecr, 0);
    assert_int_equal(to.to_nsacks, 0);
}

static void test_parse_linux_data(void **state)
{
    struct rn_tcp_hdr th;
    struct rn_tcp_opts to;

    (void)state;
    assert_int_equal(rn__tcp_parse4(SEG(frame_tcp_data),
                                   SEGLEN(frame_tcp_data), IP1, IP2, 0, &th),
                     RN_DROP_NONE);
    assert_int_equal(th.th_flags, RN_TCP_PSH | RN_TCP_ACK);
    assert_int_equal(th.th_seq, 1955094513u);
    assert_int_equal(th.th_ack, 1765939652u);
    assert_int_equal(th.th_win, 63);
    assert_int_equal(th.th_hlen, 32);
    assert_int_equal(th.th_paylen, 13);
    assert_memory_equal(th.th_payload, "hello refnet\n", 13);
    assert_int_equal(rn__tcp_opts_parse(th.th_opts, th.th_optlen, &to),
                     RN_DROP_NONE);
    assert_int_equal(to.to_present, RN_TCPOPT_F_TS);
    assert_int_equal(to.to_tsval, 2049160277u);
    assert_int_equal(to.to_tsecr, 3740162504u);

    /* Wrong addresses in the pseudo-header fail the checksum. */
    assert_int_equal(rn__tcp_parse4(SEG(frame_tcp_data),
                                   SEGLEN(frame_tcp_data), IP2, IP1, 0, &th),
                     RN_DROP_NONE); /* swapping keeps the sum... */
    assert_int_equal(rn__tcp_parse4(SEG(frame_tcp_data),
                                   SEGLEN(frame_tcp_data), IP1 + 1, IP2, 0,
                                   &th),
                     RN_DROP_BAD_TCP_CSUM); /* ...changing one does not */
}

/* Re-emitting each Linux segment from its parsed fields gives its bytes:
 * the option layout and the checksum are Linux's. */
static void check_reemit(const uint8_t *seg, size_t len, uint32_t src,
                         uint32_t dst)
{
    uint8_t *out = malloc(len);
    uint8_t opts[RN_TCP_MAX_OPTLEN];
    struct rn_tcp_hdr th, em;
    struct rn_tcp_opts to;
    size_t optlen;

    assert_non_null(out);
    assert_int_equal(rn__tcp_parse4(seg, len, src, dst, 0, &th), RN_DROP_NONE);
    assert_int_equal(rn__tcp_opts_parse(th.th_opts, th.th_optlen, &to),
                     RN_DROP_NONE);
    optlen = rn__tcp_opts_emit(opts, &to);
    assert_int_equal(optlen, th.th_optlen);
    assert_int_equal(rn__tcp_opts_len(&to), optlen);
    assert_memory_equal(opts, th.th_opts, optlen);

    em = th;
    em.th_opts = opts;
    em.th_optlen = (uint8_t)optlen;
    memcpy(out + 20 + optlen, th.th_payload, th.th_paylen);
    assert_int_equal(rn__tcp_emit4(out, &em, src, dst), 20 + optlen);
    assert_memory_equal(out, seg, len);

    /* Options laid out in place. */
    memset(out, 0, 20 + optlen);
    assert_int_equal(rn__tcp_opts_emit(out + 20, &to), optlen);
    em.th_opts = out + 20;
    assert_int_equal(rn__tcp_emit4(out, &em, src, dst), 20 + optlen);
    assert_memory_equal(out, seg, len);
    free(out);
}

static void test_emit_matches_linux(void **state)
{
    (void)state;
    check_reemit(SEG(frame_tcp_syn), SEGLEN(frame_tcp_syn), IP1, IP2);
    check_reemit(SEG(frame_tcp_synack), SEGLEN(frame_tcp_synack), IP2, IP1);
    check_reemit(SEG(frame_tcp_data), SEGLEN(frame_tcp_data), IP1, IP2);
}

/* Every combination of options and SACK block counts: emit, parse back,
 * compare; the layout stays aligned and within 40 bytes. */
static void test_opts_round_trip(void **state)
{
    unsigned present, n;

    (void)state;
    for (present = 0; present < 32; present++) {
        for (n = 0; n <= RN_TCP_MAX_SACKS; n++) {
            struct rn_tcp_opts in, out;
            uint8_t buf[RN_TCP_MAX_OPTLEN];
            size_t len, room, expect_n;
            unsigned i;

            memset(&in, 0, sizeof(in));
            in.to_present = (uint8_t)present;
            in.to_mss = 1400;
            in.to_wscale = 7;
            in.to_tsval = 0x01020304u;
            in.to_tsecr = 0xfffffffeu;
            in.to_nsacks = (uint8_t)n;
            for (i = 0; i < n; i++) {
                in.to_sacks[i].sb_start = 1000u * (i + 1);
                in.to_sacks[i].sb_end = 1000u * (i + 1) + 500;
            }
            len = rn__tcp_opts_emit(buf, &in);
            assert_int_equal(len % 4, 0);
            assert_true(len <= RN_TCP_MAX_OPTLEN);
            assert_int_equal(rn__tcp_opts_len(&in), len);
            assert_int_equal(rn__tcp_opts_parse(buf, len, &out), RN_DROP_NONE);

            /* SACK blocks that fit beside the other options. */
            room = (RN_TCP_MAX_OPTLEN - 4 -
                    ((present & RN_TCPOPT_F_MSS) ? 4 : 0) -
                    ((present & (RN_TCPOPT_F_TS | RN_TCPOPT_F_SACK_PERM))
                         ? ((present & RN_TCPOPT_F_TS) ? 12 : 4)
                         : 0) -
                    ((present & RN_TCPOPT_F_WSCALE) ? 4 : 0)) / 8;
            expect_n = (present & RN_TCPOPT_F_SACK) ? (n < room ? n : room) : 0;
            assert_int_equal(out.to_present,
                             (present & ~RN_TCPOPT_F_SACK) |
                                 (expect_n ? RN_TCPOPT_F_SACK : 0));
            if (present & RN_TCPOPT_F_MSS)
                assert_int_equal(out.to_mss, 1400);
            if (present & RN_TCPOPT_F_WSCALE)
                assert_int_equal(out.to_wscale, 7);
            if (present & RN_TCPOPT_F_TS) {
                assert_int_equal(out.to_tsval, 0x01020304u);
                assert_int_equal(out.to_tsecr, 0xfffffffeu);
            }
            assert_int_equal(out.to_nsacks, expect_n);
            for (i = 0; i < expect_n; i++) {
                assert_int_equal(out.to_sacks[i].sb_start, in.to_sacks[i].sb_start);
                assert_int_equal(out.to_sacks[i].sb_end, in.to_sacks[i].sb_end);
            }
        }
    }
}

/* The usual layouts, byte for byte. */
static void test_opts_layouts(void **state)
{
    static const uint8_t ts_sack[] = {
        1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2,
        1, 1, 5, 26, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40,
        0, 0, 0, 50, 0, 0, 0, 60,
    };
    static const uint8_t sack4[] = {
        1, 1, 5, 34, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40,
        0, 0, 0, 50, 0, 0, 0, 60, 0, 0, 0, 70, 0, 0, 0, 80,
    };
    static const uint8_t mss_sackok_ws[] = {
        2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7,
    };
    struct rn_tcp_opts to;
    uint8_t buf[RN_TCP_MAX_OPTLEN];
    unsigned i;

    (void)state;
    memset(&to, 0, sizeof(to));
    to.to_present = RN_TCPOPT_F_TS | RN_TCPOPT_F_SACK;
    to.to_tsval = 1;
    to.to_tsecr = 2;
    to.to_nsacks = 4;
    for (i = 0; i < 4; i++) {
        to.to_sacks[i].sb_start = 10 + 20 * i;
        to.to_sacks[i].sb_end = 20 + 20 * i;
    }
    /* Beside timestamps only three of the four blocks fit. */
    assert_int_equal(rn__tcp_opts_emit(buf, &to), sizeof(ts_sack));
    assert_memory_equal(buf, ts_sack, sizeof(ts_sack));
    to.to_present = RN_TCPOPT_F_SACK;
    assert_int_equal(rn__tcp_opts_emit(buf, &to), sizeof(sack4));
    assert_memory_equal(buf, sack4, sizeof(sack4));

    memset(&to, 0, sizeof(to));
    to.to_present = RN_TCPOPT_F_MSS | RN_TCPOPT_F_SACK_PERM |
                    RN_TCPOPT_F_WSCALE;
    to.to_mss = 1460;
    to.to_wscale = 7;
    assert_int_equal(rn__tcp_opts_emit(buf, &to), sizeof(mss_sackok_ws));
    assert_memory_equal(buf, mss_sackok_ws, sizeof(mss_sackok_ws));
    to.to_present = 0;
    assert_int_equal(rn__tcp_opts_emit(buf, &to), 0);
}

static void test_opts_parse_lenient_cases(void **state)
{
    static const uint8_t unknown_then_mss[] = {
        30, 4, 0xaa, 0xbb, /* MPTCP-like unknown kind, skipped */
        2, 4, 0x02, 0x18,  /* MSS 536 */
        0, 2, 0xff,        /* EOL, then junk that must not be read as MSS */
    };
    static const uint8_t twice[] = {
        2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18, /* last one wins */
    };
    struct rn_tcp_opts to;

    (void)state;
    assert_int_equal(rn__tcp_opts_parse(unknown_then_mss,
                                       sizeof(unknown_then_mss), &to),
                     RN_DROP_NONE);
    assert_int_equal(to.to_present, RN_TCPOPT_F_MSS);
    assert_int_equal(to.to_mss, 536);
    assert_int_equal(rn__tcp_opts_parse(twice, sizeof(twice), &to),
                     RN_DROP_NONE);
    assert_int_equal(to.to_mss, 536);
    assert_int_equal(rn__tcp_opts_parse(NULL, 0, &to), RN_DROP_NONE);
    assert_int_equal(to.to_present, 0);
}

static void test_opts_rejects(void **state)
{
    static const struct {
        uint8_t bytes[12];
        size_t len;
    } bad[] = {
        {{1, 1, 1, 2}, 4},                      /* MSS without length octet */
        {{30, 0}, 2},                           /* length 0 */
        {{30, 1, 1, 1}, 4},                     /* length 1 */
        {{30, 6, 0, 0}, 4},                     /* runs past the area */
        {{2, 3, 5, 1}, 4},                      /* MSS length 3 */
        {{2, 5, 5, 0xb4, 0}, 5},                /* MSS length 5 */
        {{3, 4, 7, 0}, 4},                      /* WS length 4 */
        {{3, 2, 1, 1}, 4},                      /* WS length 2 */
        {{4, 3, 0, 1}, 4},                      /* SACK-perm length 3 */
        {{8, 8, 0, 0, 0, 0, 0, 0}, 8},          /* TS length 8 */
        {{8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12}, /* TS length 12 */
        {{5, 2, 1, 1}, 4},                      /* SACK with no block */
        {{5, 9, 0, 0, 0, 0, 0, 0, 0, 1}, 10},   /* SACK length 9 */
    };
    uint8_t five[2 + 5 * 8];
    struct rn_tcp_opts to;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rn__tcp_opts_parse(bad[i].bytes, bad[i].len, &to),
                         RN_DROP_BAD_TCP_OPTIONS);
    /* Five SACK blocks cannot come from a real header; refuse them. */
    memset(five, 0, sizeof(five));
    five[0] = RN_TCPOPT_SACK;
    five[1] = sizeof(five);
    assert_int_equal(rn__tcp_opts_parse(five, sizeof(five), &to),
                     RN_DROP_BAD_TCP_OPTIONS);
}

static void test_rejects(void **state)
{
    uint8_t buf[SEGLEN(frame_tcp_data)];
    struct rn_tcp_hdr th;
    size_t len;

    (void)state;
    for (len = 0; len < 20; len++)
        assert_int_equal(rn__tcp_parse4(SEG(frame_tcp_data), len, IP1, IP2, 0,
                                       &th),
                         RN_DROP_TRUNCATED);
    memcpy(buf, SEG(frame_tcp_data), sizeof(buf));
    buf[12] = 4 << 4; /* data offset 4 */
    assert_int_equal(rn__tcp_parse4(buf, sizeof(buf), IP1, IP2, 0, &th),
                     RN_DROP_BAD_TCP_HDR_LEN);
    buf[12] = 15 << 4; /* 60 bytes of header in a 45-byte segment */
    assert_int_equal(rn__tcp_parse4(buf, sizeof(buf), IP1, IP2, 0, &th),
                     RN_DROP_BAD_TCP_HDR_LEN);

    memcpy(buf, SEG(frame_tcp_data), sizeof(buf));
    buf[sizeof(buf) - 1] ^= 0x20; /* the last payload byte */
    assert_int_equal(rn__tcp_parse4(buf, sizeof(buf), IP1, IP2, 0, &th),
                     RN_DROP_BAD_TCP_CSUM);
    assert_int_equal(rn__tcp_parse4(buf, sizeof(buf), IP1, IP2,
                                   RN_CSUM_VERIFIED, &th),
                     RN_DROP_NONE);
    /* A segment cut short is caught by the checksum, not misread. */
    assert_int_equal(rn__tcp_parse4(SEG(frame_tcp_data),
                                   SEGLEN(frame_tcp_data) - 1, IP1, IP2, 0,
                                   &th),
                     RN_DROP_BAD_TCP_CSUM);
}

static void test_flags_fmt(void **state)
{
    static const struct {
        uint8_t flags;
        const char *shortf;
        const char *longf;
    } cases[] = {
        {0, "none", "none"},
        {RN_TCP_SYN, "S", "SYN"},
        {RN_TCP_SYN | RN_TCP_ACK, "S.", "SYN|ACK"},
        {RN_TCP_FIN | RN_TCP_ACK, "F.", "FIN|ACK"},
        {RN_TCP_ACK, ".", "ACK"},
        {RN_TCP_PSH | RN_TCP_ACK, "P.", "PSH|ACK"},
        {RN_TCP_RST, "R", "RST"},
        {RN_TCP_RST | RN_TCP_ACK, "R.", "RST|ACK"},
        {RN_TCP_FIN | RN_TCP_PSH | RN_TCP_ACK, "FP.", "FIN|PSH|ACK"},
        {RN_TCP_SYN | RN_TCP_ECE | RN_TCP_CWR, "SEW", "SYN|ECE|CWR"},
        {0xff, "FSRP.UEW", "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR"},
    };
    char buf[RN_TCP_FLAGS_STRLEN];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_string_equal(rn__tcp_flags_fmt(cases[i].flags, buf),
                            cases[i].shortf);
        assert_string_equal(rn__tcp_flags_fmt_long(cases[i].flags, buf),
                            cases[i].longf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_linux_syn),
        cmocka_unit_test(test_parse_linux_data),
        cmocka_unit_test(test_emit_matches_linux),
        cmocka_unit_test(test_opts_round_trip),
        cmocka_unit_test(test_opts_layouts),
        cmocka_unit_test(test_opts_parse_lenient_cases),
        cmocka_unit_test(test_opts_rejects),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_flags_fmt),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
