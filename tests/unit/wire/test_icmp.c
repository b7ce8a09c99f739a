/*
 * Tests of ICMP parse and emit (src/wire/icmp.c, icmp.h).  Expected
 * checksums of the error messages were cross-checked with scapy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wire/bytes.h"
#include "wire/csum.h"
#include "frames.h"
#include "wire/icmp.h"

#define IP1 0xc6120001u /* 198.18.0.1 */
#define IP2 0xc6120002u /* 198.18.0.2 */

/* The IPv4 packet inside a captured frame. */
#define IPPKT(f) ((f) + 14)
#define IPLEN(f) (sizeof(f) - 14)

static void test_parse_linux_echo(void **state)
{
    const uint8_t *p = IPPKT(frame_ping_request) + 20;
    struct rn_icmp_hdr ic;

    (void)state;
    assert_int_equal(rn__icmp_parse(p, 64, &ic), RN_DROP_NONE);
    assert_int_equal(ic.ic_type, RN_ICMP_ECHO);
    assert_int_equal(ic.ic_code, 0);
    assert_int_equal(ic.ic_sum, 0x03c4);
    assert_int_equal(rn_icmp_echo_id(&ic), 0x4d2f);
    assert_int_equal(rn_icmp_echo_seq(&ic), 1);
    assert_ptr_equal(ic.ic_data, p + 8);
    assert_int_equal(ic.ic_datalen, 56);
    assert_false(rn_icmp_is_error(ic.ic_type));
    assert_null(ic.ic_ql4);
}

/* Our reply to Linux's request is byte for byte Linux's own reply. */
static void test_echo_reply_matches_linux(void **state)
{
    const uint8_t *linux_reply = IPPKT(frame_ping_reply) + 20;
    uint8_t out[64];
    uint8_t inplace[64];
    struct rn_icmp_hdr req, rep;

    (void)state;
    assert_int_equal(rn__icmp_parse(IPPKT(frame_ping_request) + 20, 64, &req),
                     RN_DROP_NONE);
    assert_int_equal(rn__icmp_emit_echo_reply(out, &req), 64);
    assert_memory_equal(out, linux_reply, 64);

    /* Answering in place, over the request's own bytes. */
    memcpy(inplace, IPPKT(frame_ping_request) + 20, 64);
    assert_int_equal(rn__icmp_parse(inplace, 64, &req), RN_DROP_NONE);
    assert_int_equal(rn__icmp_emit_echo_reply(inplace, &req), 64);
    assert_memory_equal(inplace, linux_reply, 64);

    assert_int_equal(rn__icmp_parse(out, 64, &rep), RN_DROP_NONE);
    assert_int_equal(rep.ic_type, RN_ICMP_ECHO_REPLY);
    assert_int_equal(rn_icmp_echo_id(&rep), 0x4d2f);
    assert_int_equal(rn_icmp_echo_seq(&rep), 1);

    /* An echo with no data at all. */
    {
        uint8_t empty[8] = {RN_ICMP_ECHO, 0, 0, 0, 0x12, 0x34, 0x00, 0x07};

        rn_put_be16(empty + 2, rn_csum(empty, 8));
        assert_int_equal(rn__icmp_parse(empty, 8, &req), RN_DROP_NONE);
        assert_int_equal(req.ic_datalen, 0);
        assert_int_equal(rn__icmp_emit_echo_reply(out, &req), 8);
        assert_int_equal(rn__icmp_parse(out, 8, &rep), RN_DROP_NONE);
        assert_int_equal(rn_icmp_echo_id(&rep), 0x1234);
        assert_int_equal(rn_icmp_echo_seq(&rep), 7);
    }
}

/* Linux's port unreachable: the quote gives addresses, protocol, ports. */
static void test_parse_linux_port_unreach(void **state)
{
    const uint8_t *ip = IPPKT(frame_icmp_port_unreach);
    size_t len = IPLEN(frame_icmp_port_unreach) - 20;
    struct rn_icmp_hdr ic;

    (void)state;
    assert_int_equal(rn__icmp_parse(ip + 20, len, &ic), RN_DROP_NONE);
    assert_int_equal(ic.ic_type, RN_ICMP_DEST_UNREACH);
    assert_int_equal(ic.ic_code, RN_ICMP_UNREACH_PORT);
    assert_true(rn_icmp_is_error(ic.ic_type));
    assert_int_equal(ic.ic_qsrc, IP1);
    assert_int_equal(ic.ic_qdst, IP2);
    assert_int_equal(ic.ic_qproto, RN_IPPROTO_UDP);
    assert_ptr_equal(ic.ic_ql4, ip + 20 + 8 + 20);
    assert_int_equal(ic.ic_ql4len, 21); /* Linux quotes the whole datagram */
    assert_int_equal(rn_get_be16(ic.ic_ql4), 50631);
    assert_int_equal(rn_get_be16(ic.ic_ql4 + 2), 9999);
}

/* Checks an emitted error: its header, that it quotes exactly the first
 * qlen bytes of orig, and that it parses back. */
static void check_error(const uint8_t *msg, size_t len, uint8_t type,
                        uint8_t code, uint32_t rest, uint16_t sum,
                        const uint8_t *orig, size_t qlen)
{
    struct rn_icmp_hdr ic;

    assert_int_equal(len, 8 + qlen);
    assert_int_equal(msg[0], type);
    assert_int_equal(msg[1], code);
    assert_int_equal(rn_get_be16(msg + 2), sum);
    assert_int_equal(rn_get_be32(msg + 4), rest);
    assert_memory_equal(msg + 8, orig, qlen);
    assert_int_equal(rn__icmp_parse(msg, len, &ic), RN_DROP_NONE);
    assert_int_equal(ic.ic_type, type);
    assert_int_equal(ic.ic_code, code);
    assert_int_equal(ic.ic_rest, rest);
    assert_int_equal(ic.ic_qsrc, rn_get_be32(orig + 12));
    assert_int_equal(ic.ic_qdst, rn_get_be32(orig + 16));
    assert_int_equal(ic.ic_qproto, orig[9]);
}

static void test_emit_errors(void **state)
{
    uint8_t out[RN_ICMP_ERR_MAXLEN + 8];
    const uint8_t *udp = IPPKT(frame_udp_dgram);
    const uint8_t *frag = IPPKT(frame_frag0);
    const uint8_t *rr = IPPKT(frame_ping_rr);
    size_t len;

    (void)state;
    /* RFC 792: the original header and the first 64 bits of its data. */
    len = rn__icmp_emit_port_unreach(out, udp, IPLEN(frame_udp_dgram));
    check_error(out, len, 3, 3, 0, 0x1586, udp, 28);

    len = rn__icmp_emit_frag_needed(out, 1400, udp, IPLEN(frame_udp_dgram));
    check_error(out, len, 3, 4, 1400, 0x100d, udp, 28);

    len = rn__icmp_emit_reasm_timeout(out, frag, IPLEN(frame_frag0));
    check_error(out, len, 11, 1, 0, 0xae02, frag, 28);

    /* A header with 40 option bytes: the longest message there is. */
    memset(out, 0xcc, sizeof(out));
    len = rn__icmp_emit_error(out, RN_ICMP_TIME_EXCEEDED, RN_ICMP_TIMXCEED_TTL,
                             0, rr, IPLEN(frame_ping_rr));
    assert_int_equal(len, RN_ICMP_ERR_MAXLEN);
    assert_int_equal(rn_csum(out, len), 0);
    assert_memory_equal(out + 8, rr, 68);
    assert_int_equal(out[RN_ICMP_ERR_MAXLEN], 0xcc); /* nothing beyond */

    /* A datagram with fewer than 8 payload bytes is quoted whole. */
    len = rn__icmp_emit_port_unreach(out, udp, 24);
    assert_int_equal(len, 8 + 24);
    assert_int_equal(rn_csum(out, len), 0);
    assert_memory_equal(out + 8, udp, 24);
}

static void test_rejects(void **state)
{
    uint8_t buf[64];
    struct rn_icmp_hdr ic;
    size_t len;

    (void)state;
    for (len = 0; len < 8; len++)
        assert_int_equal(rn__icmp_parse(IPPKT(frame_ping_request) + 20, len, &ic),
                         RN_DROP_TRUNCATED);

    memcpy(buf, IPPKT(frame_ping_request) + 20, 64);
    buf[40] ^= 0x10; /* a data byte */
    assert_int_equal(rn__icmp_parse(buf, 64, &ic), RN_DROP_BAD_ICMP_CSUM);
    /* The checksum covers the whole message, not a prefix. */
    assert_int_equal(rn__icmp_parse(IPPKT(frame_ping_request) + 20, 63, &ic),
                     RN_DROP_BAD_ICMP_CSUM);

    /* Error messages whose quote is unusable. */
    {
        const uint8_t *udp = IPPKT(frame_udp_dgram);
        static const struct {
            size_t qlen;    /* bytes of udp_dgram quoted */
            uint8_t vihl;   /* version|IHL byte of the quote */
        } bad[] = {
            {0, 0x45},  /* nothing quoted */
            {19, 0x45}, /* less than a header */
            {28, 0x65}, /* version 6 */
            {28, 0x44}, /* IHL 4 */
            {27, 0x45}, /* header but only 7 transport bytes */
            {28, 0x46}, /* IHL 6: then only 4 transport bytes */
        };
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            buf[0] = RN_ICMP_DEST_UNREACH;
            buf[1] = RN_ICMP_UNREACH_PORT;
            memset(buf + 2, 0, 6);
            memcpy(buf + 8, udp, bad[i].qlen);
            if (bad[i].qlen > 0)
                buf[8] = bad[i].vihl;
            rn_put_be16(buf + 2, rn_csum(buf, 8 + bad[i].qlen));
            assert_int_equal(rn__icmp_parse(buf, 8 + bad[i].qlen, &ic),
                             RN_DROP_BAD_ICMP);
        }
    }
    /* An unknown type is not malformed. */
    memset(buf, 0, 8);
    buf[0] = 42;
    rn_put_be16(buf + 2, rn_csum(buf, 8));
    assert_int_equal(rn__icmp_parse(buf, 8, &ic), RN_DROP_NONE);
}

static void test_may_send_error(void **state)
{
    struct rn_ip4_hdr ip;
    const uint8_t echo = RN_ICMP_ECHO;
    const uint8_t unreach = RN_ICMP_DEST_UNREACH;

    (void)state;
    assert_int_equal(rn__ip4_parse(IPPKT(frame_udp_dgram),
                                  IPLEN(frame_udp_dgram), &ip),
                     RN_DROP_NONE);
    assert_true(rn__icmp_may_send_error(&ip));

#define TRY(field, val, expect)                                              \
    do {                                                                     \
        struct rn_ip4_hdr t = ip;                                            \
        t.field = (val);                                                     \
        assert_int_equal(rn__icmp_may_send_error(&t), (expect));              \
    } while (0)
    TRY(ip_off, 1480, false);         /* not the first fragment */
    TRY(ip_mf, true, true);           /* the first fragment is fine */
    TRY(ip_dst, 0xe0000001u, false);  /* to a multicast group */
    TRY(ip_dst, 0xffffffffu, false);  /* to the limited broadcast */
    TRY(ip_src, 0, false);            /* from 0.0.0.0 */
    TRY(ip_src, 0x7f000001u, false);  /* from loopback */
    TRY(ip_src, 0xe0000001u, false);  /* from a group */
    TRY(ip_src, 0xf0000001u, false);  /* from class E */
    TRY(ip_src, 0xffffffffu, false);  /* from broadcast */
#undef TRY
    ip.ip_proto = RN_IPPROTO_ICMP;
    ip.ip_payload = &unreach;
    ip.ip_paylen = 1;
    assert_false(rn__icmp_may_send_error(&ip)); /* about an ICMP error */
    ip.ip_payload = &echo;
    assert_true(rn__icmp_may_send_error(&ip));  /* about an echo: fine */
    ip.ip_paylen = 0;
    assert_false(rn__icmp_may_send_error(&ip)); /* unreadable type */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_linux_echo),
        cmocka_unit_test(test_echo_reply_matches_linux),
        cmocka_unit_test(test_parse_linux_port_unreach),
        cmocka_unit_test(test_emit_errors),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_may_send_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
