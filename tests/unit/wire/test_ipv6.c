/*
 * Tests of IPv6: the text forms and helpers of addresses (refnet/addr.h),
 * the dual-family address, the fixed header, the extension header walk
 * (src/wire/ipv6.c), the IPv6 pseudo-header checksum, and ICMPv6 with
 * neighbour discovery (src/wire/icmpv6.c), partly against frames Linux
 * sent.
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
#include "wire/icmpv6.h"
#include "wire/ipv6.h"

/* A neighbour advertisement Linux (2001:2::1, 02:00:00:00:00:01) sent to
 * fe80::ff:fe00:2 in answer to a unicast solicitation: solicited flag,
 * target 2001:2::1, no option.  Captured on a veth with checksum offload
 * off. */
static const uint8_t frame_na6[78] = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x3a, 0xff, 0x20, 0x01,
    0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xfe, 0x00, 0x00, 0x02, 0x88, 0x00, 0xfa, 0x21, 0x40, 0x00,
    0x00, 0x00, 0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
};

/* A neighbour solicitation Linux sent from fe80::ff:fe00:1 to
 * fe80::ff:fe00:2 for that address, with its source link-layer option. */
static const uint8_t frame_ns6[86] = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0xfe, 0x80,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00,
    0x00, 0x01, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xfe, 0x00, 0x00, 0x02, 0x87, 0x00, 0x7d, 0x1b, 0x00, 0x00,
    0x00, 0x00, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xfe, 0x00, 0x00, 0x02, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00,
    0x00, 0x01,
};

/* A router advertisement radvd sent from fe80::ff:fe00:1 (02:00:00:00:00:01)
 * to all nodes: router lifetime 12 s, a prefix option for 2001:2:0:1::/64
 * (on-link, autonomous, valid 3600 s, preferred 1800 s), an MTU option of
 * 1280 and a source link-layer option. */
static const uint8_t frame_ra6[118] = {
    0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x86, 0xdd, 0x60, 0x08, 0x2b, 0xf0, 0x00, 0x40, 0x3a, 0xff, 0xfe, 0x80,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00,
    0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0x00, 0xb7, 0x0f, 0x40, 0x00,
    0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x04,
    0x40, 0xc0, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x00, 0x07, 0x08, 0x00, 0x00,
    0x00, 0x00, 0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
};

static struct rn_ip6 A6(const char *s)
{
    struct rn_ip6 a;

    assert_int_equal(rn_ip6_addr_parse(s, &a, NULL), 0);
    return a;
}

static void roundtrip(const char *in, const char *out)
{
    struct rn_ip6 a;
    char buf[RN_IP6_STRLEN];
    const char *err = NULL;

    assert_int_equal(rn_ip6_addr_parse(in, &a, &err), 0);
    assert_string_equal(rn_ip6_addr_fmt(&a, buf), out);
}

static void test_text_forms(void **state)
{
    (void)state;
    roundtrip("2001:2::2", "2001:2::2");
    roundtrip("2001:0002:0000:0000:0000:0000:0000:0002", "2001:2::2");
    roundtrip("::", "::");
    roundtrip("::1", "::1");
    roundtrip("1::", "1::");
    roundtrip("FE80::FF:FE00:2", "fe80::ff:fe00:2");
    /* The longest run is shortened, the first one on a tie, never one
     * group alone (RFC 5952 4.2). */
    roundtrip("2001:2:0:0:1:0:0:1", "2001:2::1:0:0:1");
    roundtrip("2001:2:0:1:0:0:0:1", "2001:2:0:1::1");
    roundtrip("2001:2:0:1:2:3:4:5", "2001:2:0:1:2:3:4:5");
    roundtrip("::ffff:198.18.0.2", "::ffff:198.18.0.2");
    roundtrip("::ffff:c612:2", "::ffff:198.18.0.2");
    roundtrip("2001:2::198.18.0.2", "2001:2::c612:2");
    roundtrip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
              "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

static void test_text_errors(void **state)
{
    static const char *const bad[] = {
        "", ":", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7",
        ":1::", "1:", "1::2:", "2001:2::2/64", "2001:2::g", "1:2:3:4:5:6:7::8",
        "::198.18.0.256", "1:2:3:4:5:6:7:198.18.0.2", "2001:2::2 ",
    };
    struct rn_ip6 a = A6("2001:2::9"), keep = a;
    const char *err;
    unsigned plen = 7, i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        if (rn_ip6_addr_parse(bad[i], &a, &err) != RN_EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_non_null(err);
        assert_true(rn_ip6_eq(&a, &keep));
    }
    assert_int_equal(rn_ip6_cidr_parse("2001:2::2/64", &a, &plen, &err), 0);
    assert_true(rn_ip6_eq(&a, &(struct rn_ip6){{0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0,
                                                 0, 0, 0, 2}}));
    assert_int_equal(plen, 64);
    assert_int_equal(rn_ip6_cidr_parse("::/0", &a, &plen, &err), 0);
    assert_int_equal(plen, 0);
    assert_int_equal(rn_ip6_cidr_parse("2001:2::2/129", &a, &plen, &err), RN_EINVAL);
    assert_string_equal(err, "prefix length above 128");
    assert_int_equal(rn_ip6_cidr_parse("2001:2::2/064", &a, &plen, &err), RN_EINVAL);
    assert_int_equal(rn_ip6_cidr_parse("2001:2::2", &a, &plen, &err), RN_EINVAL);
    assert_string_equal(err, "missing '/prefix-length'");
    assert_int_equal(rn_ip6_cidr_parse("2001:2::2/", &a, &plen, &err), RN_EINVAL);
}

static void test_helpers(void **state)
{
    struct rn_mac mac = {{0x02, 0, 0, 0, 0, 0x02}};
    struct rn_ip6 ll = rn_ip6_linklocal_from_mac(&mac), a = A6("2001:2::12:3456");
    struct rn_ip6 sn = rn_ip6_solicited_node(&a);
    struct rn_mac m = rn_ip6_mcast_mac(&sn);
    struct rn_ip6 net;
    char buf[RN_IP6_STRLEN];

    (void)state;
    /* Linux gives 02:00:00:00:00:02 this link-local address. */
    assert_string_equal(rn_ip6_addr_fmt(&ll, buf), "fe80::ff:fe00:2");
    assert_true(rn_ip6_is_linklocal(&ll));
    assert_false(rn_ip6_is_linklocal(&a));
    assert_string_equal(rn_ip6_addr_fmt(&sn, buf), "ff02::1:ff12:3456");
    assert_true(rn_ip6_is_multicast(&sn));
    assert_memory_equal(m.mac_octet, ((uint8_t[]){0x33, 0x33, 0xff, 0x12, 0x34, 0x56}), 6);
    assert_true(rn_ip6_in_prefix(&a, &(struct rn_ip6){{0x20, 0x01, 0, 2}}, 48));
    assert_true(rn_ip6_in_prefix(&a, &(struct rn_ip6){{0x20, 0x01, 0, 3}}, 31));
    assert_false(rn_ip6_in_prefix(&a, &(struct rn_ip6){{0x20, 0x01, 0, 3}}, 32));
    assert_false(rn_ip6_in_prefix(&a, &(struct rn_ip6){{0x20, 0x01, 0, 3}}, 48));
    assert_true(rn_ip6_in_prefix(&a, &ll, 0));
    assert_true(rn_ip6_in_prefix(&a, &a, 128));
    net = rn_ip6_net(&a, 115);
    assert_string_equal(rn_ip6_addr_fmt(&net, buf), "2001:2::12:2000");
    assert_true(rn_ip6_is_loopback(&(struct rn_ip6){{[15] = 1}}));
    assert_true(rn_ip6_is_any(&RN_IP6_ANY));
}

static void test_inaddr(void **state)
{
    struct rn_inaddr v4 = rn_inaddr_v4(0xc6120002u), p;
    struct rn_ip6 a = A6("2001:2::2");
    struct rn_inaddr v6 = rn_inaddr_v6(&a);
    char buf[RN_IP6_STRLEN];
    const char *err;

    (void)state;
    assert_true(rn_inaddr_is_v4(&v4));
    assert_false(rn_inaddr_is_v4(&v6));
    assert_int_equal(rn_inaddr_to_v4(&v4), 0xc6120002u);
    assert_string_equal(rn_inaddr_fmt(&v4, buf), "198.18.0.2");
    assert_string_equal(rn_inaddr_fmt(&v6, buf), "2001:2::2");
    assert_string_equal(rn_ip6_addr_fmt(&v4.ia_ip6, buf), "::ffff:198.18.0.2");
    assert_int_equal(rn_inaddr_parse("198.18.0.2", &p, &err), 0);
    assert_true(rn_inaddr_eq(&p, &v4));
    assert_int_equal(rn_inaddr_parse("::ffff:198.18.0.2", &p, &err), 0);
    assert_true(rn_inaddr_eq(&p, &v4));  /* the same address, either form */
    assert_int_equal(rn_inaddr_parse("2001:2::2", &p, &err), 0);
    assert_true(rn_inaddr_eq(&p, &v6));
    assert_int_equal(rn_inaddr_parse("198.18.0", &p, &err), RN_EINVAL);
    assert_int_equal(rn_inaddr_parse("2001:2::2::", &p, &err), RN_EINVAL);
    p = rn_inaddr_v4(0);
    assert_true(rn_inaddr_is_any(&p));
    p = rn_inaddr_v6(&RN_IP6_ANY);
    assert_true(rn_inaddr_is_any(&p));
    assert_false(rn_inaddr_is_any(&v4));
    assert_false(rn_inaddr_is_any(&v6));
}

static void test_parse_emit(void **state)
{
    const uint8_t *p = frame_na6 + 14;
    struct rn_ip6_hdr ip;
    uint8_t out[RN_IP6_HLEN], pad[80];
    char buf[RN_IP6_STRLEN];

    (void)state;
    assert_int_equal(rn__ip6_parse(p, sizeof(frame_na6) - 14, &ip), RN_DROP_NONE);
    assert_int_equal(ip.ip6_plen, 24);
    assert_int_equal(ip.ip6_nxt, RN_IPPROTO_ICMPV6);
    assert_int_equal(ip.ip6_hlim, 255);
    assert_int_equal(ip.ip6_tclass, 0);
    assert_int_equal(ip.ip6_flow, 0);
    assert_string_equal(rn_ip6_addr_fmt(&ip.ip6_src, buf), "2001:2::1");
    assert_string_equal(rn_ip6_addr_fmt(&ip.ip6_dst, buf), "fe80::ff:fe00:2");
    assert_ptr_equal(ip.ip6_payload, p + 40);
    assert_int_equal(rn__ip6_emit(out, &ip), RN_IP6_HLEN);
    assert_memory_equal(out, p, RN_IP6_HLEN);
    ip.ip6_tclass = 0xb9;
    ip.ip6_flow = 0xabcde;
    ip.ip6_plen = 0;
    rn__ip6_emit(out, &ip);
    assert_int_equal(rn__ip6_parse(out, sizeof(out), &ip), RN_DROP_NONE);
    assert_int_equal(ip.ip6_tclass, 0xb9);
    assert_int_equal(ip.ip6_flow, 0xabcde);

    /* Rejects. */
    assert_int_equal(rn__ip6_parse(p, 39, &ip), RN_DROP_TRUNCATED);
    memcpy(pad, p, 64);
    pad[0] = 0x45;
    assert_int_equal(rn__ip6_parse(pad, 64, &ip), RN_DROP_BAD_IP_VERSION);
    pad[0] = 0x60;
    assert_int_equal(rn__ip6_parse(pad, 63, &ip), RN_DROP_BAD_IP6_PAYLOAD_LEN);
    /* Link padding past the payload length is fine. */
    assert_int_equal(rn__ip6_parse(pad, 80, &ip), RN_DROP_NONE);
    assert_int_equal(ip.ip6_plen, 24);
}

/* Builds a datagram whose payload is the ext bytes followed by an 8-byte
 * upper-layer header, first next header nxt.  Returns its length. */
static size_t build(uint8_t *out, uint8_t nxt, const uint8_t *ext, size_t extlen)
{
    struct rn_ip6_hdr ip = {
        .ip6_plen = (uint16_t)(extlen + 8), .ip6_nxt = nxt, .ip6_hlim = 64,
        .ip6_src = {{0x20, 0x01, 0, 2, [15] = 1}}, .ip6_dst = {{0x20, 0x01, 0, 2, [15] = 2}},
    };

    rn__ip6_emit(out, &ip);
    if (extlen > 0)
        memcpy(out + 40, ext, extlen);
    memset(out + 40 + extlen, 0xaa, 8);
    return 40 + extlen + 8;
}

static void test_ext_walk(void **state)
{
    uint8_t d[256];
    struct rn_ip6_ext ex;
    size_t n;

    (void)state;
    /* No extension header. */
    n = build(d, RN_IPPROTO_UDP, NULL, 0);
    assert_int_equal(rn__ip6_ext_walk(d, n, d[6], false, &ex), RN_DROP_NONE);
    assert_int_equal(ex.ex_proto, RN_IPPROTO_UDP);
    assert_int_equal(ex.ex_off, 40);
    assert_int_equal(ex.ex_nxt_off, 6);

    /* Hop-by-hop (router alert, PadN), then destination options with Pad1,
     * an unknown option of action 0 (skipped) and PadN, then TCP. */
    {
        const uint8_t e[] = {RN_IP6_NH_DSTOPTS, 0, 5, 2, 0, 0, 1, 0,
                             RN_IPPROTO_TCP, 0, 0, 0x1e, 1, 0, 1, 0};
        n = build(d, RN_IP6_NH_HOPOPTS, e, sizeof(e));
        assert_int_equal(rn__ip6_ext_walk(d, n, d[6], false, &ex), RN_DROP_NONE);
        assert_int_equal(ex.ex_proto, RN_IPPROTO_TCP);
        assert_int_equal(ex.ex_off, 56);
        assert_int_equal(ex.ex_nxt_off, 48);
        assert_true(ex.ex_router_alert);
    }
    /* Hop-by-hop after another header: parameter problem code 1 at the
     * next-header octet that named it. */
    {
        const uint8_t e[] = {RN_IP6_NH_HOPOPTS, 0, 1, 4, 0, 0, 0, 0,
                             RN_IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0};
        n = build(d, RN_IP6_NH_DSTOPTS, e, sizeof(e));
        assert_int_equal(rn__ip6_ext_walk(d, n, d[6], false, &ex), RN_DROP_BAD_IP6_EXT);
        assert_int_equal(ex.ex_pp_code, 1);
        assert_int_equal(ex.ex_pp_ptr, 40);
    }
    /* Unknown options by their action bits. */
    {
        uint8_t e[] = {RN_IPPROTO_TCP, 0, 0x00, 2, 0, 0, 1, 0};
        static const struct { uint8_t type; bool mcast; int code; enum rn_drop r; } c[] = {
            {0x3e, false, -1, RN_DROP_NONE},
            {0x7e, false, -1, RN_DROP_IP6_UNKNOWN_OPTION},
            {0xbe, false, 2, RN_DROP_IP6_UNKNOWN_OPTION},
            {0xbe, true, 2, RN_DROP_IP6_UNKNOWN_OPTION},
            {0xfe, false, 2, RN_DROP_IP6_UNKNOWN_OPTION},
            {0xfe, true, -1, RN_DROP_IP6_UNKNOWN_OPTION},
        };
        unsigned i;

        for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
            e[2] = c[i].type;
            n = build(d, RN_IP6_NH_DSTOPTS, e, sizeof(e));
            assert_int_equal(rn__ip6_ext_walk(d, n, d[6], c[i].mcast, &ex), c[i].r);
            if (c[i].r != RN_DROP_NONE) {
                assert_int_equal(ex.ex_pp_code, c[i].code);
                assert_int_equal(ex.ex_pp_ptr, 42);
            }
        }
    }
    /* An option running past its header. */
    {
        const uint8_t e[] = {RN_IPPROTO_TCP, 0, 1, 5, 0, 0, 0, 0};
        n = build(d, RN_IP6_NH_DSTOPTS, e, sizeof(e));
        assert_int_equal(rn__ip6_ext_walk(d, n, d[6], false, &ex), RN_DROP_BAD_IP6_EXT);
        assert_int_equal(ex.ex_pp_code, -1);
    }
    /* A header running past the datagram. */
    {
        const uint8_t e[] = {RN_IPPROTO_TCP, 2, 1, 4, 0, 0, 0, 0};
        n = build(d, RN_IP6_NH_DSTOPTS, e, sizeof(e));
        assert_int_equal(rn__ip6_ext_walk(d, n, d[6], false, &ex), RN_DROP_BAD_IP6_EXT);
        n = build(d, RN_IP6_NH_DSTOPTS, NULL, 0);
        assert_int_equal(rn__ip6_ext_walk(d, 41, d[6], false, &ex), RN_DROP_BAD_IP6_EXT);
    }
    /* Routing: type 0 with segments left is refused (RFC 5095) with code 0
     * at the type; with none left any type is ignored; another type with
     * segments left is refused too. */
    {
        uint8_t e[24] = {RN_IPPROTO_UDP, 2, 0, 1};
        n = build(d, RN_IP6_NH_ROUTING, e, sizeof(e));
        assert_int_equal(rn__ip6_ext_walk(d, n, d[6], false, &ex), RN_DROP_IP6_ROUTING_TYPE0);
        assert_int_equal(ex.ex_pp_code, 0);
        assert_int_equal(ex.ex_pp_ptr, 42);
        e[3] = 0;
        n = build(d, RN_IP6_NH_ROUTING, e, sizeof(e));
        assert_int_equal(rn__ip6_ext_walk(d, n, d[6], false, &ex), RN_DROP_NONE);
        assert_int_equal(ex.ex_proto, RN_IPPROTO_UDP);
        assert_int_equal(ex.ex_off, 64);
        e[2] = 4;
        e[3] = 1;
        n = build(d, RN_IP6_NH_ROUTING, e, sizeof(e));
        assert_int_equal(rn__ip6_ext_walk(d, n, d[6], false, &ex), RN_DROP_IP6_ROUTING);
    }
    /* Fragments: an atomic one is walked past (RFC 8021); a real one stops
     * the walk; a middle one of a length not a multiple of 8 is refused. */
    {
        uint8_t e[8] = {RN_IPPROTO_UDP, 0, 0, 0, 0x12, 0x34, 0x56, 0x78};
        n = build(d, RN_IP6_NH_FRAGMENT, e, sizeof(e));
        assert_int_equal(rn__ip6_ext_walk(d, n, d[6], false, &ex), RN_DROP_NONE);
        assert_true(ex.ex_atomic);
        assert_false(ex.ex_frag);
        assert_int_equal(ex.ex_proto, RN_IPPROTO_UDP);
        assert_int_equal(ex.ex_off, 48);
        e[2] = 0x05;  /* offset 0x50 units of 8 = 160... */
        e[3] = 0x01;  /* ... with more fragments */
        n = build(d, RN_IP6_NH_FRAGMENT, e, sizeof(e));
        assert_int_equal(rn__ip6_ext_walk(d, n, d[6], false, &ex), RN_DROP_NONE);
        assert_true(ex.ex_frag);
        assert_true(ex.ex_frag_more);
        assert_int_equal(ex.ex_frag_off, 0x500);
        assert_int_equal(ex.ex_frag_id, 0x12345678);
        assert_int_equal(ex.ex_frag_hdr, 40);
        assert_int_equal(ex.ex_off, 48);
        assert_int_equal(rn__ip6_ext_walk(d, n - 1, d[6], false, &ex), RN_DROP_BAD_IP6_FRAG);
        assert_int_equal(ex.ex_pp_code, 0);
        assert_int_equal(ex.ex_pp_ptr, 4);
        e[2] = 0xff;
        e[3] = 0xf8;  /* the last fragment, at 65528 + 8 bytes: too far */
        n = build(d, RN_IP6_NH_FRAGMENT, e, sizeof(e));
        assert_int_equal(rn__ip6_ext_walk(d, n, d[6], false, &ex), RN_DROP_BAD_IP6_FRAG);
        assert_int_equal(ex.ex_pp_ptr, 42);
    }
}

static void test_pseudo6_matches_linux(void **state)
{
    const uint8_t *p = frame_ns6 + 14;
    struct rn_ip6_hdr ip;
    struct rn_icmp6_hdr ic;
    uint8_t msg[32];

    (void)state;
    assert_int_equal(rn__ip6_parse(p, sizeof(frame_ns6) - 14, &ip), RN_DROP_NONE);
    assert_int_equal(rn__icmp6_parse(ip.ip6_payload, ip.ip6_plen, &ip.ip6_src, &ip.ip6_dst, 0,
                                     &ic),
                     RN_DROP_NONE);
    assert_int_equal(ic.ic6_sum, 0x7d1b);
    /* Our checksum of Linux's message is Linux's. */
    memcpy(msg, ip.ip6_payload, sizeof(msg));
    rn__icmp6_set_csum(msg, sizeof(msg), &ip.ip6_src, &ip.ip6_dst);
    assert_memory_equal(msg, ip.ip6_payload, sizeof(msg));
    /* One bit off fails, in the message or in the pseudo-header. */
    msg[20] ^= 1;
    assert_int_equal(rn__icmp6_parse(msg, sizeof(msg), &ip.ip6_src, &ip.ip6_dst, 0, &ic),
                     RN_DROP_BAD_ICMP_CSUM);
    assert_int_equal(rn__icmp6_parse(msg, sizeof(msg), &ip.ip6_src, &ip.ip6_dst,
                                     RN_CSUM_VERIFIED, &ic),
                     RN_DROP_NONE);
    msg[20] ^= 1;
    ip.ip6_dst.i6_octet[3] ^= 1;
    assert_int_equal(rn__icmp6_parse(msg, sizeof(msg), &ip.ip6_src, &ip.ip6_dst, 0, &ic),
                     RN_DROP_BAD_ICMP_CSUM);
    assert_int_equal(rn__icmp6_parse(msg, 7, &ip.ip6_src, &ip.ip6_dst, 0, &ic),
                     RN_DROP_BAD_ICMP);
}

static void test_nd_linux(void **state)
{
    struct rn_ip6_hdr ip;
    struct rn_icmp6_hdr ic;
    struct rn_nd6 nd;
    char buf[RN_IP6_STRLEN];

    (void)state;
    assert_int_equal(rn__ip6_parse(frame_ns6 + 14, sizeof(frame_ns6) - 14, &ip), RN_DROP_NONE);
    assert_int_equal(rn__icmp6_parse(ip.ip6_payload, ip.ip6_plen, &ip.ip6_src, &ip.ip6_dst, 0,
                                     &ic),
                     RN_DROP_NONE);
    assert_int_equal(ic.ic6_type, RN_ICMP6_NEIGHBOR_SOLICIT);
    assert_int_equal(rn__nd6_parse(&ic, ip.ip6_hlim, &ip.ip6_src, &ip.ip6_dst, &nd),
                     RN_DROP_NONE);
    assert_string_equal(rn_ip6_addr_fmt(&nd.nd_target, buf), "fe80::ff:fe00:2");
    assert_true(nd.nd_has_lladdr);
    assert_memory_equal(nd.nd_lladdr.mac_octet, ((uint8_t[]){2, 0, 0, 0, 0, 1}), 6);
    /* Hop limit below 255: it crossed a router. */
    assert_int_equal(rn__nd6_parse(&ic, 254, &ip.ip6_src, &ip.ip6_dst, &nd), RN_DROP_BAD_NDP);
    /* From :: (duplicate address detection) it must go to the
     * solicited-node group and carry no link-layer option. */
    assert_int_equal(rn__nd6_parse(&ic, 255, &RN_IP6_ANY, &ip.ip6_dst, &nd), RN_DROP_BAD_NDP);

    assert_int_equal(rn__ip6_parse(frame_na6 + 14, sizeof(frame_na6) - 14, &ip), RN_DROP_NONE);
    assert_int_equal(rn__icmp6_parse(ip.ip6_payload, ip.ip6_plen, &ip.ip6_src, &ip.ip6_dst, 0,
                                     &ic),
                     RN_DROP_NONE);
    assert_int_equal(ic.ic6_type, RN_ICMP6_NEIGHBOR_ADVERT);
    assert_int_equal(rn__nd6_parse(&ic, ip.ip6_hlim, &ip.ip6_src, &ip.ip6_dst, &nd),
                     RN_DROP_NONE);
    assert_string_equal(rn_ip6_addr_fmt(&nd.nd_target, buf), "2001:2::1");
    assert_int_equal(nd.nd_flags, RN_ND_NA_SOLICITED);
    assert_false(nd.nd_has_lladdr);
    /* Solicited, to a group: invalid. */
    assert_int_equal(rn__nd6_parse(&ic, 255, &ip.ip6_src, &RN_IP6_ALL_NODES, &nd),
                     RN_DROP_BAD_NDP);
}

static void test_nd_emit(void **state)
{
    struct rn_ip6 me = A6("2001:2::2"), peer = A6("2001:2::1"), sn = rn_ip6_solicited_node(&peer);
    struct rn_mac mac = {{2, 0, 0, 0, 0, 2}};
    uint8_t m[RN_ND_NS_LL_LEN];
    struct rn_icmp6_hdr ic;
    struct rn_nd6 nd;
    size_t n;

    (void)state;
    n = rn__nd6_emit_ns(m, &me, &sn, &peer, &mac);
    assert_int_equal(n, RN_ND_NS_LL_LEN);
    assert_int_equal(rn__icmp6_parse(m, n, &me, &sn, 0, &ic), RN_DROP_NONE);
    assert_int_equal(rn__nd6_parse(&ic, 255, &me, &sn, &nd), RN_DROP_NONE);
    assert_true(rn_ip6_eq(&nd.nd_target, &peer));
    assert_true(nd.nd_has_lladdr);
    assert_memory_equal(nd.nd_lladdr.mac_octet, mac.mac_octet, 6);
    /* Duplicate address detection: from ::, no option. */
    sn = rn_ip6_solicited_node(&me);
    n = rn__nd6_emit_ns(m, &RN_IP6_ANY, &sn, &me, NULL);
    assert_int_equal(n, RN_ND_NS_LEN);
    assert_int_equal(rn__icmp6_parse(m, n, &RN_IP6_ANY, &sn, 0, &ic), RN_DROP_NONE);
    assert_int_equal(rn__nd6_parse(&ic, 255, &RN_IP6_ANY, &sn, &nd), RN_DROP_NONE);
    n = rn__nd6_emit_na(m, &me, &peer, &me, RN_ND_NA_SOLICITED | RN_ND_NA_OVERRIDE, &mac);
    assert_int_equal(rn__icmp6_parse(m, n, &me, &peer, 0, &ic), RN_DROP_NONE);
    assert_int_equal(rn__nd6_parse(&ic, 255, &me, &peer, &nd), RN_DROP_NONE);
    assert_int_equal(nd.nd_flags, RN_ND_NA_SOLICITED | RN_ND_NA_OVERRIDE);
    assert_true(nd.nd_has_lladdr);
    /* An option of length 0 would loop forever: invalid. */
    m[25] = 0;
    rn__icmp6_set_csum(m, n, &me, &peer);
    assert_int_equal(rn__icmp6_parse(m, n, &me, &peer, 0, &ic), RN_DROP_NONE);
    assert_int_equal(rn__nd6_parse(&ic, 255, &me, &peer, &nd), RN_DROP_BAD_NDP);
    /* Shorter than a target. */
    assert_int_equal(rn__icmp6_parse(m, 20, &me, &peer, RN_CSUM_VERIFIED, &ic), RN_DROP_NONE);
    assert_int_equal(rn__nd6_parse(&ic, 255, &me, &peer, &nd), RN_DROP_BAD_NDP);
}

static void test_ra_linux(void **state)
{
    struct rn_ip6_hdr ip;
    struct rn_icmp6_hdr ic;
    struct rn_ra6 ra;
    char buf[RN_IP6_STRLEN];
    uint8_t m[sizeof(frame_ra6)];
    size_t len;

    (void)state;
    assert_int_equal(rn__ip6_parse(frame_ra6 + 14, sizeof(frame_ra6) - 14, &ip), RN_DROP_NONE);
    assert_int_equal(rn__icmp6_parse(ip.ip6_payload, ip.ip6_plen, &ip.ip6_src, &ip.ip6_dst, 0,
                                     &ic),
                     RN_DROP_NONE);
    assert_int_equal(ic.ic6_type, RN_ICMP6_ROUTER_ADVERT);
    assert_int_equal(rn__ra6_parse(&ic, ip.ip6_hlim, &ip.ip6_src, &ra), RN_DROP_NONE);
    assert_int_equal(ra.ra_cur_hlim, 64);
    assert_int_equal(ra.ra_lifetime, 12);
    assert_int_equal(ra.ra_mtu, 1280);
    assert_true(ra.ra_has_lladdr);
    assert_memory_equal(ra.ra_lladdr.mac_octet, ((uint8_t[]){2, 0, 0, 0, 0, 1}), 6);
    assert_int_equal(ra.ra_nprefix, 1);
    assert_string_equal(rn_ip6_addr_fmt(&ra.ra_prefix[0].pi_prefix, buf), "2001:2:0:1::");
    assert_int_equal(ra.ra_prefix[0].pi_plen, 64);
    assert_int_equal(ra.ra_prefix[0].pi_flags, RN_ND_PI_ONLINK | RN_ND_PI_AUTO);
    assert_int_equal(ra.ra_prefix[0].pi_valid, 3600);
    assert_int_equal(ra.ra_prefix[0].pi_preferred, 1800);
    /* RFC 4861 6.1.2: hop limit 255, a link-local source, code 0, 16
     * bytes at least. */
    assert_int_equal(rn__ra6_parse(&ic, 254, &ip.ip6_src, &ra), RN_DROP_BAD_RA);
    assert_int_equal(rn__ra6_parse(&ic, 255, &ip.ip6_dst, &ra), RN_DROP_BAD_RA);
    assert_int_equal(rn__ra6_parse(&ic, 255, &(struct rn_ip6){{0x20, 1, 0, 2, [15] = 1}}, &ra),
                     RN_DROP_BAD_RA);
    len = ip.ip6_plen;
    memcpy(m, ip.ip6_payload, len);
    m[1] = 1;
    assert_int_equal(rn__icmp6_parse(m, len, &ip.ip6_src, &ip.ip6_dst, RN_CSUM_VERIFIED, &ic),
                     RN_DROP_NONE);
    assert_int_equal(rn__ra6_parse(&ic, 255, &ip.ip6_src, &ra), RN_DROP_BAD_RA);
    m[1] = 0;
    assert_int_equal(rn__icmp6_parse(m, 12, &ip.ip6_src, &ip.ip6_dst, RN_CSUM_VERIFIED, &ic),
                     RN_DROP_NONE);
    assert_int_equal(rn__ra6_parse(&ic, 255, &ip.ip6_src, &ra), RN_DROP_BAD_RA);
    /* The prefix option's length byte 0: the walk cannot go on. */
    m[17] = 0;
    assert_int_equal(rn__icmp6_parse(m, len, &ip.ip6_src, &ip.ip6_dst, RN_CSUM_VERIFIED, &ic),
                     RN_DROP_NONE);
    assert_int_equal(rn__ra6_parse(&ic, 255, &ip.ip6_src, &ra), RN_DROP_BAD_RA);
    /* Length 7 (56 bytes) runs past the end. */
    m[17] = 7;
    assert_int_equal(rn__icmp6_parse(m, len, &ip.ip6_src, &ip.ip6_dst, RN_CSUM_VERIFIED, &ic),
                     RN_DROP_NONE);
    assert_int_equal(rn__ra6_parse(&ic, 255, &ip.ip6_src, &ra), RN_DROP_BAD_RA);
    /* An MTU option of 16 bytes is not one: skipped, not read. */
    memcpy(m, ip.ip6_payload, len);
    m[17] = 4;
    m[48 + 1] = 2;  /* the MTU option, now 16 bytes: over the link-layer option */
    assert_int_equal(rn__icmp6_parse(m, len, &ip.ip6_src, &ip.ip6_dst, RN_CSUM_VERIFIED, &ic),
                     RN_DROP_NONE);
    assert_int_equal(rn__ra6_parse(&ic, 255, &ip.ip6_src, &ra), RN_DROP_NONE);
    assert_int_equal(ra.ra_mtu, 0);
    assert_false(ra.ra_has_lladdr);
}

static void test_redirect_rs(void **state)
{
    struct rn_ip6 router = A6("fe80::1"), me = A6("2001:2::2"), all_routers = A6("ff02::2");
    struct rn_mac mac = {{2, 0, 0, 0, 0, 7}};
    struct rn_icmp6_hdr ic;
    struct rn_redirect6 rd;
    uint8_t m[48];
    size_t n;

    (void)state;
    /* A redirect of 2001:2:5::9 to fe80::7, with its link address. */
    memset(m, 0, sizeof(m));
    m[0] = RN_ICMP6_REDIRECT;
    memcpy(m + 8, A6("fe80::7").i6_octet, 16);
    memcpy(m + 24, A6("2001:2:5::9").i6_octet, 16);
    m[40] = RN_ND_OPT_TGT_LLADDR;
    m[41] = 1;
    memcpy(m + 42, mac.mac_octet, 6);
    rn__icmp6_set_csum(m, 48, &router, &me);
    assert_int_equal(rn__icmp6_parse(m, 48, &router, &me, 0, &ic), RN_DROP_NONE);
    assert_int_equal(rn__redirect6_parse(&ic, 255, &router, &rd), RN_DROP_NONE);
    assert_true(rn_ip6_eq(&rd.rd_target, &(struct rn_ip6){{0xfe, 0x80, [15] = 7}}));
    assert_true(rd.rd_has_lladdr);
    assert_memory_equal(rd.rd_lladdr.mac_octet, mac.mac_octet, 6);
    assert_int_equal(rn__redirect6_parse(&ic, 64, &router, &rd), RN_DROP_BAD_REDIRECT);
    assert_int_equal(rn__redirect6_parse(&ic, 255, &me, &rd), RN_DROP_BAD_REDIRECT);
    /* Shorter than target and destination. */
    assert_int_equal(rn__icmp6_parse(m, 39, &router, &me, RN_CSUM_VERIFIED, &ic), RN_DROP_NONE);
    assert_int_equal(rn__redirect6_parse(&ic, 255, &router, &rd), RN_DROP_BAD_REDIRECT);
    /* A global target other than the destination; a multicast destination. */
    memcpy(m + 8, A6("2001:2::7").i6_octet, 16);
    assert_int_equal(rn__icmp6_parse(m, 48, &router, &me, RN_CSUM_VERIFIED, &ic), RN_DROP_NONE);
    assert_int_equal(rn__redirect6_parse(&ic, 255, &router, &rd), RN_DROP_BAD_REDIRECT);
    memcpy(m + 8, A6("fe80::7").i6_octet, 16);
    memcpy(m + 24, A6("ff02::1").i6_octet, 16);
    assert_int_equal(rn__icmp6_parse(m, 48, &router, &me, RN_CSUM_VERIFIED, &ic), RN_DROP_NONE);
    assert_int_equal(rn__redirect6_parse(&ic, 255, &router, &rd), RN_DROP_BAD_REDIRECT);
    /* The target is the destination itself: it is on-link. */
    memcpy(m + 8, A6("2001:2:5::9").i6_octet, 16);
    memcpy(m + 24, A6("2001:2:5::9").i6_octet, 16);
    assert_int_equal(rn__icmp6_parse(m, 48, &router, &me, RN_CSUM_VERIFIED, &ic), RN_DROP_NONE);
    assert_int_equal(rn__redirect6_parse(&ic, 255, &router, &rd), RN_DROP_NONE);

    /* Router solicitations: with the link-layer option, and from ::
     * without. */
    n = rn__nd6_emit_rs(m, &router, &all_routers, &mac);
    assert_int_equal(n, RN_ND_RS_LL_LEN);
    assert_int_equal(rn__icmp6_parse(m, n, &router, &all_routers, 0, &ic), RN_DROP_NONE);
    assert_int_equal(ic.ic6_type, RN_ICMP6_ROUTER_SOLICIT);
    assert_memory_equal(m + 10, mac.mac_octet, 6);
    n = rn__nd6_emit_rs(m, &RN_IP6_ANY, &all_routers, NULL);
    assert_int_equal(n, 8);
    assert_int_equal(rn__icmp6_parse(m, n, &RN_IP6_ANY, &all_routers, 0, &ic), RN_DROP_NONE);
}

/* RFC 7112: a first fragment holds the whole chain, or it is refused. */
static void test_frag_chain(void **state)
{
    uint8_t d[RN_IP6_HLEN + 8 + 8 + 24];
    struct rn_ip6_ext ex;

    (void)state;
    memset(d, 0, sizeof(d));
    d[0] = 0x60;
    /* Fragment header (offset 0, more), destination options of 8, TCP. */
    d[RN_IP6_HLEN] = RN_IP6_NH_DSTOPTS;
    d[RN_IP6_HLEN + 3] = 1;
    d[RN_IP6_HLEN + 8] = RN_IPPROTO_TCP;
    d[RN_IP6_HLEN + 9] = 0;
    rn_put_be16(d + 4, sizeof(d) - RN_IP6_HLEN);
    d[6] = RN_IP6_NH_FRAGMENT;
    assert_int_equal(rn__ip6_ext_walk(d, sizeof(d), d[6], false, &ex), RN_DROP_NONE);
    assert_true(ex.ex_frag);
    assert_true(rn__ip6_frag_chain_whole(d, sizeof(d), &ex));
    assert_false(rn__ip6_frag_chain_whole(d, RN_IP6_HLEN + 8 + 8 + 19, &ex));
    assert_false(rn__ip6_frag_chain_whole(d, RN_IP6_HLEN + 8 + 4, &ex));
    /* UDP needs 8 bytes; an unknown protocol none. */
    d[RN_IP6_HLEN + 8] = RN_IPPROTO_UDP;
    assert_true(rn__ip6_frag_chain_whole(d, RN_IP6_HLEN + 8 + 8 + 8, &ex));
    assert_false(rn__ip6_frag_chain_whole(d, RN_IP6_HLEN + 8 + 8 + 7, &ex));
    d[RN_IP6_HLEN + 8] = 253;
    assert_true(rn__ip6_frag_chain_whole(d, RN_IP6_HLEN + 8 + 8, &ex));
}

static void test_error_quote(void **state)
{
    uint8_t orig[1500], out[RN_ICMP6_ERR_MAXLEN];
    struct rn_ip6 me = A6("2001:2::2"), peer = A6("2001:2::1");
    struct rn_icmp6_hdr ic;
    size_t n;

    (void)state;
    memset(orig, 0x5a, sizeof(orig));
    n = build(orig, RN_IPPROTO_UDP, NULL, 0);
    memcpy(orig + 8, peer.i6_octet, 16);
    memcpy(orig + 24, me.i6_octet, 16);
    /* A long datagram is quoted up to the minimum MTU. */
    n = rn__icmp6_emit_error(out, sizeof(out), &me, &peer, RN_ICMP6_DEST_UNREACH,
                             RN_ICMP6_UNREACH_PORT, 0, orig, sizeof(orig));
    assert_int_equal(n, RN_ICMP6_ERR_MAXLEN);
    assert_int_equal(rn__icmp6_parse(out, n, &me, &peer, 0, &ic), RN_DROP_NONE);
    assert_int_equal(ic.ic6_type, RN_ICMP6_DEST_UNREACH);
    assert_int_equal(ic.ic6_code, RN_ICMP6_UNREACH_PORT);
    assert_int_equal(ic.ic6_qproto, RN_IPPROTO_UDP);
    assert_true(rn_ip6_eq(&ic.ic6_qsrc, &peer));
    assert_true(rn_ip6_eq(&ic.ic6_qdst, &me));
    assert_ptr_equal(ic.ic6_ql4, out + 8 + 40);
    /* A short one whole; an error quoting less than a header is bad. */
    n = rn__icmp6_emit_error(out, sizeof(out), &me, &peer, RN_ICMP6_PARAM_PROBLEM, 0, 42, orig,
                             48);
    assert_int_equal(n, 56);
    assert_int_equal(rn__icmp6_parse(out, n, &me, &peer, 0, &ic), RN_DROP_NONE);
    assert_int_equal(ic.ic6_rest, 42);
    assert_int_equal(ic.ic6_ql4len, 8);
    n = rn__icmp6_emit_error(out, sizeof(out), &me, &peer, RN_ICMP6_PARAM_PROBLEM, 0, 42, orig,
                             39);
    assert_int_equal(rn__icmp6_parse(out, n, &me, &peer, 0, &ic), RN_DROP_BAD_ICMP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_forms),
        cmocka_unit_test(test_text_errors),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_inaddr),
        cmocka_unit_test(test_parse_emit),
        cmocka_unit_test(test_ext_walk),
        cmocka_unit_test(test_pseudo6_matches_linux),
        cmocka_unit_test(test_nd_linux),
        cmocka_unit_test(test_nd_emit),
        cmocka_unit_test(test_error_quote),
        cmocka_unit_test(test_ra_linux),
        cmocka_unit_test(test_redirect_rs),
        cmocka_unit_test(test_frag_chain),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
