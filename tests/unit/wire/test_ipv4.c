/*
 * Tests of IPv4 header parse and emit, the options walker, TTL decrement
 * and address text forms (src/wire/ipv4.c, ipv4.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "refnet/error.h"
#include "wire/bytes.h"
#include "wire/csum.h"
#include "frames.h"
#include "wire/ipv4.h"

#define IP1 0xc6120001u /* 198.18.0.1 */
#define IP2 0xc6120002u /* 198.18.0.2 */

/* Recomputes the header checksum of a crafted header, so that a test
 * reaches the check it aims at. */
static void fix_csum(uint8_t *hdr)
{
    size_t hlen = (size_t)(hdr[0] & 0x0f) * 4;

    rn_put_be16(hdr + 10, 0);
    rn_put_be16(hdr + 10, rn_csum(hdr, hlen));
}

static void test_parse_linux_ping(void **state)
{
    const uint8_t *p = frame_ping_request + 14;
    struct rn_ip4_hdr ip;

    (void)state;
    assert_int_equal(rn__ip4_parse(p, sizeof(frame_ping_request) - 14, &ip),
                     RN_DROP_NONE);
    assert_int_equal(ip.ip_hlen, 20);
    assert_int_equal(ip.ip_tos, 0);
    assert_int_equal(ip.ip_len, 84);
    assert_int_equal(ip.ip_id, 0x0945);
    assert_true(ip.ip_df);
    assert_false(ip.ip_mf);
    assert_int_equal(ip.ip_off, 0);
    assert_false(rn_ip4_is_fragment(&ip));
    assert_int_equal(ip.ip_ttl, 64);
    assert_int_equal(ip.ip_proto, RN_IPPROTO_ICMP);
    assert_int_equal(ip.ip_sum, 0xa53c);
    assert_int_equal(ip.ip_src, IP1);
    assert_int_equal(ip.ip_dst, IP2);
    assert_null(ip.ip_opts);
    assert_int_equal(ip.ip_optlen, 0);
    assert_ptr_equal(ip.ip_payload, p + 20);
    assert_int_equal(ip.ip_paylen, 64);
}

static void test_parse_linux_fragments(void **state)
{
    struct rn_ip4_hdr ip;

    (void)state;
    assert_int_equal(rn__ip4_parse(frame_frag0 + 14, sizeof(frame_frag0) - 14,
                                  &ip),
                     RN_DROP_NONE);
    assert_true(ip.ip_mf);
    assert_false(ip.ip_df);
    assert_int_equal(ip.ip_off, 0);
    assert_int_equal(ip.ip_paylen, 1480);
    assert_true(rn_ip4_is_fragment(&ip));

    assert_int_equal(rn__ip4_parse(frame_frag2 + 14, sizeof(frame_frag2) - 14,
                                  &ip),
                     RN_DROP_NONE);
    assert_false(ip.ip_mf);
    assert_int_equal(ip.ip_off, 2960);
    assert_int_equal(ip.ip_paylen, 48);
    assert_int_equal(ip.ip_id, 0x0947);
    assert_true(rn_ip4_is_fragment(&ip));
}

/* ping -R: NOP, then a 39-byte record-route option filling the header. */
static void test_parse_linux_options(void **state)
{
    const uint8_t *p = frame_ping_rr + 14;
    struct rn_ip4_opt_iter it;
    struct rn_ip4_opt opt;
    struct rn_ip4_hdr ip;

    (void)state;
    assert_int_equal(rn__ip4_parse(p, sizeof(frame_ping_rr) - 14, &ip),
                     RN_DROP_NONE);
    assert_int_equal(ip.ip_hlen, 60);
    assert_int_equal(ip.ip_optlen, 40);
    assert_ptr_equal(ip.ip_opts, p + 20);
    assert_ptr_equal(ip.ip_payload, p + 60);
    assert_int_equal(ip.ip_paylen, 64);

    rn__ip4_opt_init(&it, ip.ip_opts, ip.ip_optlen);
    assert_int_equal(rn__ip4_opt_next(&it, &opt), 1);
    assert_int_equal(opt.io_type, RN_IPOPT_RR);
    assert_int_equal(opt.io_len, 39);
    assert_ptr_equal(opt.io_data, p + 20 + 1 + 2);
    assert_int_equal(opt.io_data[0], 8);            /* RR pointer */
    assert_int_equal(rn_get_be32(opt.io_data + 1), IP1); /* first hop */
    assert_false(RN_IPOPT_COPIED(opt.io_type));
    assert_int_equal(rn__ip4_opt_next(&it, &opt), 0);
    assert_int_equal(rn__ip4_opt_next(&it, &opt), 0);
}

/* Ethernet pads a 41-byte datagram to 46 bytes; the padding is trimmed. */
static void test_padding_trimmed(void **state)
{
    uint8_t buf[46];
    struct rn_ip4_hdr ip;

    (void)state;
    memset(buf, 0, sizeof(buf));
    memcpy(buf, frame_udp_dgram + 14, sizeof(frame_udp_dgram) - 14);
    assert_int_equal(rn__ip4_parse(buf, sizeof(buf), &ip), RN_DROP_NONE);
    assert_int_equal(ip.ip_len, 41);
    assert_int_equal(ip.ip_paylen, 21);
    assert_int_equal(ip.ip_proto, RN_IPPROTO_UDP);
}

/* Emitting Linux's field values gives Linux's bytes, options included. */
static void test_emit_matches_linux(void **state)
{
    struct rn_ip4_hdr ip;
    uint8_t out[RN_IP4_MAX_HLEN];

    (void)state;
    memset(&ip, 0, sizeof(ip));
    ip.ip_id = 0x0945;
    ip.ip_df = true;
    ip.ip_ttl = 64;
    ip.ip_proto = RN_IPPROTO_ICMP;
    ip.ip_src = IP1;
    ip.ip_dst = IP2;
    ip.ip_paylen = 64;
    assert_int_equal(rn__ip4_emit(out, &ip), 20);
    assert_memory_equal(out, frame_ping_request + 14, 20);

    ip.ip_id = 0x0946;
    ip.ip_opts = frame_ping_rr + 14 + 20;
    ip.ip_optlen = 40;
    assert_int_equal(rn__ip4_emit(out, &ip), 60);
    assert_memory_equal(out, frame_ping_rr + 14, 60);

    /* Options already in place are left where they are. */
    memcpy(out + 20, frame_ping_rr + 14 + 20, 40);
    ip.ip_opts = out + 20;
    assert_int_equal(rn__ip4_emit(out, &ip), 60);
    assert_memory_equal(out, frame_ping_rr + 14, 60);

    /* The last fragment's offset. */
    memset(&ip, 0, sizeof(ip));
    ip.ip_id = 0x0947;
    ip.ip_ttl = 64;
    ip.ip_proto = RN_IPPROTO_ICMP;
    ip.ip_src = IP1;
    ip.ip_dst = IP2;
    ip.ip_paylen = 48;
    ip.ip_off = 2960;
    assert_int_equal(rn__ip4_emit(out, &ip), 20);
    assert_memory_equal(out, frame_frag2 + 14, 20);
}

/* Emit then parse gives back every field, over a spread of values. */
static void test_round_trip(void **state)
{
    static const uint8_t opts[8] = {RN_IPOPT_RA, 4, 0, 0,
                                    RN_IPOPT_NOP, RN_IPOPT_EOL, 0, 0};
    uint8_t *buf = calloc(1, RN_IP4_MAX_LEN);
    unsigned i;

    (void)state;
    assert_non_null(buf);
    for (i = 0; i < 64; i++) {
        struct rn_ip4_hdr in, out;
        size_t hlen;

        memset(&in, 0, sizeof(in));
        in.ip_tos = (uint8_t)(i * 7);
        in.ip_id = (uint16_t)(i * 1031);
        in.ip_df = i & 1;
        in.ip_mf = (i & 2) != 0;
        in.ip_off = (uint16_t)((i & 4) ? 8 * 1000 : 0);
        in.ip_ttl = (uint8_t)i;
        in.ip_proto = (uint8_t)(i * 3);
        in.ip_src = 0xc6120000u + i;
        in.ip_dst = 0xc6130000u - i;
        in.ip_opts = (i & 8) ? opts : NULL;
        in.ip_optlen = (i & 8) ? sizeof(opts) : 0;
        in.ip_paylen = (uint16_t)((i & 16) ? 1480 : 8 * i);
        if (in.ip_mf && in.ip_paylen == 0)
            in.ip_paylen = 8;
        hlen = rn__ip4_emit(buf, &in);
        assert_int_equal(hlen, 20 + in.ip_optlen);
        assert_int_equal(rn__ip4_parse(buf, hlen + in.ip_paylen, &out),
                         RN_DROP_NONE);
        assert_int_equal(out.ip_hlen, hlen);
        assert_int_equal(out.ip_len, hlen + in.ip_paylen);
        assert_int_equal(out.ip_tos, in.ip_tos);
        assert_int_equal(out.ip_id, in.ip_id);
        assert_int_equal(out.ip_df, in.ip_df);
        assert_int_equal(out.ip_mf, in.ip_mf);
        assert_int_equal(out.ip_off, in.ip_off);
        assert_int_equal(out.ip_ttl, in.ip_ttl);
        assert_int_equal(out.ip_proto, in.ip_proto);
        assert_int_equal(out.ip_src, in.ip_src);
        assert_int_equal(out.ip_dst, in.ip_dst);
        assert_int_equal(out.ip_optlen, in.ip_optlen);
        if (in.ip_optlen)
            assert_memory_equal(out.ip_opts, opts, sizeof(opts));
        assert_int_equal(out.ip_paylen, in.ip_paylen);
        assert_int_equal(rn_csum(buf, hlen), 0);
    }
    free(buf);
}

/* Every rejection, each from a crafted header with a correct checksum. */
static void test_rejects(void **state)
{
    uint8_t buf[128];
    const size_t n = sizeof(frame_ping_request) - 14; /* 84 */
    struct rn_ip4_hdr ip;
    size_t len;

#define RESET() memcpy(buf, frame_ping_request + 14, n)
    (void)state;
    for (len = 0; len < 20; len++)
        assert_int_equal(rn__ip4_parse(frame_ping_request + 14, len, &ip),
                         RN_DROP_TRUNCATED);

    RESET();
    buf[0] = 0x65; /* version 6 */
    fix_csum(buf);
    assert_int_equal(rn__ip4_parse(buf, n, &ip), RN_DROP_BAD_IP_VERSION);

    RESET();
    buf[0] = 0x44; /* IHL 4 */
    assert_int_equal(rn__ip4_parse(buf, n, &ip), RN_DROP_BAD_IP_HDR_LEN);
    RESET();
    buf[0] = 0x46; /* IHL 6, but only 20 bytes present */
    assert_int_equal(rn__ip4_parse(buf, 20, &ip), RN_DROP_BAD_IP_HDR_LEN);

    RESET();
    rn_put_be16(buf + 2, 19); /* total length below the header */
    fix_csum(buf);
    assert_int_equal(rn__ip4_parse(buf, n, &ip), RN_DROP_BAD_IP_TOTAL_LEN);
    RESET();
    rn_put_be16(buf + 2, (uint16_t)(n + 1)); /* beyond the frame */
    fix_csum(buf);
    assert_int_equal(rn__ip4_parse(buf, n, &ip), RN_DROP_BAD_IP_TOTAL_LEN);
    /* A cut packet: the header is whole, the payload is not. */
    assert_int_equal(rn__ip4_parse(frame_ping_request + 14, n - 1, &ip),
                     RN_DROP_BAD_IP_TOTAL_LEN);

    RESET();
    buf[8] = 63; /* TTL changed, checksum not */
    assert_int_equal(rn__ip4_parse(buf, n, &ip), RN_DROP_BAD_IP_CSUM);
    RESET();
    buf[10] ^= 0x01;
    assert_int_equal(rn__ip4_parse(buf, n, &ip), RN_DROP_BAD_IP_CSUM);

    /* Fragment fields: offset 65528 with 64 bytes ends past 65535. */
    RESET();
    rn_put_be16(buf + 6, 0x1fff);
    fix_csum(buf);
    assert_int_equal(rn__ip4_parse(buf, n, &ip), RN_DROP_FRAG_TOO_BIG);
    /* 65472 + 64 = 65536 is one byte too many; 65464 + 64 = 65528 fits. */
    RESET();
    rn_put_be16(buf + 6, 65472 / 8);
    fix_csum(buf);
    assert_int_equal(rn__ip4_parse(buf, n, &ip), RN_DROP_FRAG_TOO_BIG);
    RESET();
    rn_put_be16(buf + 6, 65464 / 8);
    fix_csum(buf);
    assert_int_equal(rn__ip4_parse(buf, n, &ip), RN_DROP_NONE);
    /* MF with 63 payload bytes, and MF with none. */
    RESET();
    rn_put_be16(buf + 2, 83);
    rn_put_be16(buf + 6, 0x2000);
    fix_csum(buf);
    assert_int_equal(rn__ip4_parse(buf, n, &ip), RN_DROP_BAD_IP_FRAG);
    RESET();
    rn_put_be16(buf + 2, 20);
    rn_put_be16(buf + 6, 0x2000);
    fix_csum(buf);
    assert_int_equal(rn__ip4_parse(buf, n, &ip), RN_DROP_BAD_IP_FRAG);
    /* The last fragment may carry any length. */
    RESET();
    rn_put_be16(buf + 2, 83);
    rn_put_be16(buf + 6, 0x0001);
    fix_csum(buf);
    assert_int_equal(rn__ip4_parse(buf, n, &ip), RN_DROP_NONE);
#undef RESET
}

/* Headers with 4 option bytes: each malformed one is refused. */
static void test_rejects_bad_options(void **state)
{
    static const uint8_t bad[][4] = {
        {RN_IPOPT_NOP, RN_IPOPT_NOP, RN_IPOPT_NOP, 0x44}, /* no length octet */
        {0x44, 0, 0, 0},                   /* length 0 */
        {0x44, 1, 0, 0},                   /* length 1 */
        {0x82, 5, 0, 0},                   /* runs past the header */
        {RN_IPOPT_RR, 2, 0, 0},            /* RR without its pointer */
        {RN_IPOPT_TS, 3, 0, RN_IPOPT_EOL}, /* TS too short */
        {RN_IPOPT_RA, 3, 0, RN_IPOPT_EOL}, /* RA must be 4 */
        {RN_IPOPT_NOP, RN_IPOPT_RA, 4, 0}, /* RA running past the end */
    };
    static const uint8_t good[][4] = {
        {RN_IPOPT_RA, 4, 0, 0},
        {RN_IPOPT_EOL, 0x44, 0, 0},          /* junk after EOL is padding */
        {RN_IPOPT_NOP, RN_IPOPT_NOP, RN_IPOPT_NOP, RN_IPOPT_NOP},
        {0x99, 2, RN_IPOPT_NOP, RN_IPOPT_EOL}, /* unknown, skipped */
        {RN_IPOPT_RR, 3, 4, RN_IPOPT_EOL},
    };
    uint8_t buf[24 + 8];
    struct rn_ip4_hdr ip;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]) + sizeof(good) / sizeof(good[0]);
         i++) {
        bool is_bad = i < sizeof(bad) / sizeof(bad[0]);

        memcpy(buf, frame_ping_request + 14, 20);
        buf[0] = 0x46;
        rn_put_be16(buf + 2, sizeof(buf));
        memcpy(buf + 20,
               is_bad ? bad[i] : good[i - sizeof(bad) / sizeof(bad[0])], 4);
        memset(buf + 24, 0xab, 8);
        fix_csum(buf);
        assert_int_equal(rn__ip4_parse(buf, sizeof(buf), &ip),
                         is_bad ? RN_DROP_BAD_IP_OPTIONS : RN_DROP_NONE);
    }
}

/* The walker on arbitrary bytes: never outside the area (ASan watches the
 * heap copy), sticky once it found a malformed option. */
static void test_opt_walker(void **state)
{
    static const uint8_t opts[] = {
        RN_IPOPT_NOP, 0x99, 3, 0xaa, RN_IPOPT_NOP, RN_IPOPT_RA, 4, 0, 0,
        0x44, 0xff,
    };
    struct rn_ip4_opt_iter it;
    struct rn_ip4_opt opt;
    uint64_t seed = 1;
    size_t len, round;

    (void)state;
    rn__ip4_opt_init(&it, opts, sizeof(opts));
    assert_int_equal(rn__ip4_opt_next(&it, &opt), 1);
    assert_int_equal(opt.io_type, 0x99);
    assert_int_equal(opt.io_len, 3);
    assert_int_equal(opt.io_data[0], 0xaa);
    assert_int_equal(rn__ip4_opt_next(&it, &opt), 1);
    assert_int_equal(opt.io_type, RN_IPOPT_RA);
    assert_true(RN_IPOPT_COPIED(opt.io_type));
    assert_int_equal(rn__ip4_opt_next(&it, &opt), RN_EFORMAT);
    assert_int_equal(rn__ip4_opt_next(&it, &opt), RN_EFORMAT);

    rn__ip4_opt_init(&it, NULL, 0);
    assert_int_equal(rn__ip4_opt_next(&it, &opt), 0);

    for (round = 0; round < 20000; round++) {
        uint8_t *blk;
        size_t i, total = 0;
        int rc;

        len = round % 41;
        blk = malloc(len + 1);
        assert_non_null(blk);
        for (i = 0; i < len; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            /* Bias towards small values so lengths often look plausible. */
            blk[1 + i] = (uint8_t)((seed >> 33) % ((seed >> 20) & 1 ? 12 : 256));
        }
        rn__ip4_opt_init(&it, blk + 1, len);
        while ((rc = rn__ip4_opt_next(&it, &opt)) > 0) {
            assert_true(opt.io_len >= 2);
            assert_true(opt.io_data >= blk + 1 + 2);
            assert_true(opt.io_data + opt.io_len - 2 <= blk + 1 + len);
            total += opt.io_len;
            assert_true(total <= len);
        }
        assert_true(rc == 0 || rc == RN_EFORMAT);
        free(blk);
    }
}

static void test_dec_ttl(void **state)
{
    uint8_t buf[20];
    uint8_t ref[20];

    (void)state;
    memcpy(buf, frame_ping_request + 14, 20);
    assert_int_equal(rn__ip4_dec_ttl(buf), RN_DROP_NONE);
    assert_int_equal(buf[8], 63);
    assert_int_equal(rn_csum(buf, 20), 0);
    memcpy(ref, buf, 20);
    fix_csum(ref);
    assert_memory_equal(buf, ref, 20);

    /* Down to 1, which must not be forwarded. */
    while (buf[8] > 1)
        assert_int_equal(rn__ip4_dec_ttl(buf), RN_DROP_NONE);
    assert_int_equal(rn_csum(buf, 20), 0);
    memcpy(ref, buf, 20);
    assert_int_equal(rn__ip4_dec_ttl(buf), RN_DROP_IP_TTL_EXPIRED);
    assert_memory_equal(buf, ref, 20);
    buf[8] = 0;
    fix_csum(buf);
    assert_int_equal(rn__ip4_dec_ttl(buf), RN_DROP_IP_TTL_EXPIRED);
}

static void test_addr_text(void **state)
{
    static const struct {
        const char *in;
        const char *msg;
    } bad[] = {
        {"", "empty IPv4 address"},
        {"198.18.0", "fewer than four octets"},
        {"198.18.0.2.1", "more than four octets"},
        {"198.18.0.256", "octet 4 is greater than 255"},
        {"198.18.00.2", "octet 3 has a leading zero (octal is not accepted)"},
        {"198.18..2", "octet 3 has no digits"},
        {"x.18.0.2", "octet 1 has no digits"},
        {"198,18.0.2", "octets must be separated by '.'"},
        {"198.18.0.2 ", "trailing characters after the address"},
        {"198.18.0.2/15", "unexpected prefix length ('/')"},
        {"1984.18.0.2", "octet 1 is greater than 255"},
    };
    char buf[RN_IP4_STRLEN];
    uint32_t a;
    size_t i;

    (void)state;
    assert_string_equal(rn_ip4_addr_fmt(IP2, buf), "198.18.0.2");
    assert_string_equal(rn_ip4_addr_fmt(0xffffffffu, buf), "255.255.255.255");
    assert_string_equal(rn_ip4_addr_fmt(0, buf), "0.0.0.0");
    assert_int_equal(rn_ip4_addr_parse("198.18.0.2", &a, NULL), 0);
    assert_int_equal(a, IP2);
    assert_int_equal(rn_ip4_addr_parse("255.255.255.255", &a, NULL), 0);
    assert_int_equal(a, 0xffffffffu);
    assert_int_equal(rn_ip4_addr_parse("0.0.0.0", &a, NULL), 0);
    assert_int_equal(a, 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = NULL;

        a = 12345;
        assert_int_equal(rn_ip4_addr_parse(bad[i].in, &a, &err), RN_EINVAL);
        assert_non_null(err);
        assert_string_equal(err, bad[i].msg);
        assert_int_equal(a, 12345);
    }
}

static void test_cidr(void **state)
{
    static const struct {
        const char *in;
        const char *msg;
    } bad[] = {
        {"", "empty prefix"},
        {"198.18.0.2", "missing '/prefix-length'"},
        {"198.18.0.2/", "prefix length has no digits"},
        {"198.18.0.2/33", "prefix length is greater than 32"},
        {"198.18.0.2/100", "prefix length is greater than 32"},
        {"198.18.0.2/015", "prefix length has a leading zero"},
        {"198.18.0.2/15x", "trailing characters after the prefix length"},
        {"198.18.0.2x/15", "trailing characters after the address"},
        {"198.18.0/15", "fewer than four octets"},
        {"198.18.0.300/15", "octet 4 is greater than 255"},
    };
    uint32_t a;
    unsigned plen;
    size_t i;

    (void)state;
    assert_int_equal(rn_ip4_cidr_parse("198.18.0.2/15", &a, &plen, NULL), 0);
    assert_int_equal(a, IP2);
    assert_int_equal(plen, 15);
    assert_int_equal(rn_ip4_net(a, plen), 0xc6120000u);
    assert_int_equal(rn_ip4_subnet_bcast(a, plen), 0xc613ffffu);
    assert_int_equal(rn_ip4_cidr_parse("0.0.0.0/0", &a, &plen, NULL), 0);
    assert_int_equal(plen, 0);
    assert_int_equal(rn_ip4_cidr_parse("198.19.0.1/32", &a, &plen, NULL), 0);
    assert_int_equal(plen, 32);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = NULL;

        a = 1;
        plen = 99;
        assert_int_equal(rn_ip4_cidr_parse(bad[i].in, &a, &plen, &err),
                         RN_EINVAL);
        assert_non_null(err);
        assert_string_equal(err, bad[i].msg);
        assert_int_equal(a, 1);
        assert_int_equal(plen, 99);
    }
}

static void test_prefix_helpers(void **state)
{
    unsigned plen;

    (void)state;
    assert_int_equal(rn_ip4_mask(0), 0);
    assert_int_equal(rn_ip4_mask(15), 0xfffe0000u);
    assert_int_equal(rn_ip4_mask(24), 0xffffff00u);
    assert_int_equal(rn_ip4_mask(32), 0xffffffffu);
    for (plen = 0; plen <= 32; plen++)
        assert_int_equal(rn_ip4_mask_to_plen(rn_ip4_mask(plen)), (int)plen);
    assert_int_equal(rn_ip4_mask_to_plen(0xff00ff00u), RN_EINVAL);
    assert_int_equal(rn_ip4_mask_to_plen(0x00ffffffu), RN_EINVAL);
    assert_int_equal(rn_ip4_mask_to_plen(0x80000001u), RN_EINVAL);

    assert_true(rn_ip4_in_prefix(0xc6130001u, 0xc6120000u, 15));
    assert_false(rn_ip4_in_prefix(0xc6140001u, 0xc6120000u, 15));
    assert_true(rn_ip4_in_prefix(0x01020304u, 0, 0));
    assert_true(rn_ip4_in_prefix(IP2, IP2, 32));
    assert_false(rn_ip4_in_prefix(IP1, IP2, 32));

    assert_true(rn_ip4_is_any(0));
    assert_true(rn_ip4_is_bcast(0xffffffffu));
    assert_false(rn_ip4_is_bcast(0xc613ffffu));
    assert_true(rn_ip4_is_multicast(0xe0000001u));
    assert_true(rn_ip4_is_multicast(0xefffffffu));
    assert_false(rn_ip4_is_multicast(0xf0000000u));
    assert_true(rn_ip4_is_loopback(0x7f000001u));
    assert_false(rn_ip4_is_loopback(IP1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_linux_ping),
        cmocka_unit_test(test_parse_linux_fragments),
        cmocka_unit_test(test_parse_linux_options),
        cmocka_unit_test(test_padding_trimmed),
        cmocka_unit_test(test_emit_matches_linux),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_rejects_bad_options),
        cmocka_unit_test(test_opt_walker),
        cmocka_unit_test(test_dec_ttl),
        cmocka_unit_test(test_addr_text),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_prefix_helpers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
