/*
 * The filter spec language: what parses, into what, the canonical form
 * written back (and parsed again to the same spec), and a one-line error
 * naming the bad field for each kind of mistake; IPv4 and IPv6 addresses
 * and prefixes, each held as its family (IPv4 mapped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/filter.h"

static void parse_ok(const char *text, struct rn_filter_spec *fs)
{
    char err[256] = "";

    if (rn_filter_parse(text, fs, err, sizeof(err)) != 0)
        fail_msg("'%s' did not parse: %s", text, err);
}

/* Parses text, formats it, and checks the canonical form and that it
 * parses back to the same spec. */
static void round_trip(const char *text, const char *canonical)
{
    struct rn_filter_spec a, b;
    char buf[RN_FILTER_SPEC_MAX];

    parse_ok(text, &a);
    rn_filter_spec_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, canonical);
    parse_ok(buf, &b);
    assert_memory_equal(&a, &b, sizeof(a));
}

static void test_spec_fields(void **state)
{
    struct rn_filter_spec fs;

    (void)state;
    parse_ok("layer=inbound-transport,proto=udp,lport=7,action=block", &fs);
    assert_int_equal(fs.fs_layer, RN_FL_INBOUND_TRANSPORT);
    assert_int_equal(fs.fs_match, RN_FS_PROTO | RN_FS_LPORT);
    assert_int_equal(fs.fs_proto, 17);
    assert_int_equal(fs.fs_lport_lo, 7);
    assert_int_equal(fs.fs_lport_hi, 7);
    assert_int_equal(fs.fs_action, RN_FA_BLOCK);
    assert_int_equal(fs.fs_weight, 0);

    /* Any order, spaces around fields, ranges, prefixes, a callout. */
    parse_ok(" action=callout:connlog , weight=10,layer=accept,raddr=198.18.0.0/15,"
             "rport=1024-65535,laddr=198.18.0.3", &fs);
    assert_int_equal(fs.fs_layer, RN_FL_ACCEPT);
    assert_int_equal(fs.fs_action, RN_FA_CALLOUT);
    assert_string_equal(fs.fs_callout, "connlog");
    assert_int_equal(fs.fs_weight, 10);
    /* IPv4, held IPv4-mapped, its prefix in IPv4 bits. */
    assert_true(rn_inaddr_is_v4(&fs.fs_raddr));
    assert_int_equal(rn_inaddr_to_v4(&fs.fs_raddr), 0xc6120000u);
    assert_int_equal(fs.fs_rplen, 15);
    assert_true(rn_inaddr_is_v4(&fs.fs_laddr));
    assert_int_equal(rn_inaddr_to_v4(&fs.fs_laddr), 0xc6120003u);
    assert_int_equal(fs.fs_lplen, 32);
    assert_int_equal(fs.fs_rport_lo, 1024);
    assert_int_equal(fs.fs_rport_hi, 65535);
    /* proto=any is no condition at all. */
    parse_ok("layer=outbound-ip,proto=any,action=permit", &fs);
    assert_int_equal(fs.fs_match, 0);
    /* Every layer by name. */
    for (int l = 0; l < RN_FL_COUNT_; l++) {
        char text[96];

        snprintf(text, sizeof(text), "layer=%s,action=permit",
                 rn_filter_layer_name((enum rn_filter_layer)l));
        parse_ok(text, &fs);
        assert_int_equal(fs.fs_layer, l);
    }
    assert_string_equal(rn_filter_layer_name(RN_FL_COUNT_), "?");
    assert_true(rn_filter_layer_can_pend(RN_FL_LISTEN));
    assert_false(rn_filter_layer_can_pend(RN_FL_INBOUND_TRANSPORT));
}

static void test_spec_ipv6_fields(void **state)
{
    struct rn_filter_spec fs;
    struct rn_ip6 want;
    char txt[RN_IP6_STRLEN];

    (void)state;
    parse_ok("layer=inbound-transport,laddr=2001:2::/64,raddr=2001:2::1,action=block", &fs);
    assert_int_equal(fs.fs_match, RN_FS_LADDR | RN_FS_RADDR);
    assert_false(rn_inaddr_is_v4(&fs.fs_laddr));
    assert_string_equal(rn_ip6_addr_fmt(&fs.fs_laddr.ia_ip6, txt), "2001:2::");
    assert_int_equal(fs.fs_lplen, 64);
    assert_int_equal(rn_ip6_addr_parse("2001:2::1", &want, NULL), 0);
    assert_true(rn_ip6_eq(&fs.fs_raddr.ia_ip6, &want));
    assert_int_equal(fs.fs_rplen, 128);
    /* Every length 0..128, upper case and long forms too. */
    parse_ok("layer=inbound-ip,raddr=::/0,action=block", &fs);
    assert_int_equal(fs.fs_rplen, 0);
    assert_false(rn_inaddr_is_v4(&fs.fs_raddr));
    parse_ok("layer=inbound-ip,raddr=2001:0002:0000:0000:0000:0000:0000:00FF/128,action=block",
             &fs);
    assert_string_equal(rn_ip6_addr_fmt(&fs.fs_raddr.ia_ip6, txt), "2001:2::ff");
    parse_ok("layer=inbound-ip,proto=icmpv6,raddr=2001:2::/48,action=block", &fs);
    assert_int_equal(fs.fs_proto, 58);
    parse_ok("layer=inbound-ip,proto=icmp6,action=block", &fs);
    assert_int_equal(fs.fs_proto, 58);
}

static void test_spec_canonical(void **state)
{
    (void)state;
    round_trip("action=block,lport=7,proto=udp,layer=inbound-transport",
               "layer=inbound-transport,proto=udp,lport=7,action=block");
    round_trip("layer=accept,lport=80,action=callout:connlog,weight=10",
               "layer=accept,lport=80,action=callout:connlog,weight=10");
    round_trip("layer=inbound-ip,raddr=198.19.0.0/16,laddr=198.18.0.3/32,rport=1-1023,"
               "lport=8000-8080,proto=tcp,action=permit,weight=0",
               "layer=inbound-ip,proto=tcp,laddr=198.18.0.3,raddr=198.19.0.0/16,lport=8000-8080,"
               "rport=1-1023,action=permit");
    round_trip("layer=listen,action=callout:faulty,arg=pend",
               "layer=listen,action=callout:faulty,arg=pend");
    round_trip("layer=outbound-ip,proto=icmp,raddr=0.0.0.0/0,action=block,weight=65535",
               "layer=outbound-ip,proto=icmp,raddr=0.0.0.0/0,action=block,weight=65535");
    /* IPv6: RFC 5952 form, /128 left out like IPv4's /32. */
    round_trip("layer=inbound-transport,raddr=2001:2:0:0:0:0:0:1,laddr=2001:2::/64,action=block",
               "layer=inbound-transport,laddr=2001:2::/64,raddr=2001:2::1,action=block");
    round_trip("layer=inbound-ip,proto=icmp6,raddr=2001:2::/48,action=block",
               "layer=inbound-ip,proto=icmpv6,raddr=2001:2::/48,action=block");
    round_trip("layer=accept,raddr=::/0,lport=80,action=callout:connlog",
               "layer=accept,raddr=::/0,lport=80,action=callout:connlog");
    round_trip("layer=outbound-ip,laddr=2001:2::3/128,raddr=2001:2:0:ff00::/56,action=permit",
               "layer=outbound-ip,laddr=2001:2::3,raddr=2001:2:0:ff00::/56,action=permit");
    /* The longest spec there is fits RN_FILTER_SPEC_MAX uncut. */
    {
        static const char longest[] =
            "layer=outbound-transport,proto=tcp,"
            "laddr=ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127,"
            "raddr=ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127,lport=65534-65535,"
            "rport=65534-65535,action=callout:abcdefghijklmnopqrstuvwxyz01234,weight=65535,"
            "arg=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

        round_trip(longest, longest);
    }
}

/* The spec is refused with an error containing every needle. */
static void parse_bad(const char *text, const char *needle1, const char *needle2)
{
    struct rn_filter_spec fs;
    char err[256] = "";

    if (rn_filter_parse(text, &fs, err, sizeof(err)) != RN_EINVAL)
        fail_msg("'%s' parsed", text);
    assert_null(strchr(err, '\n'));
    if (strstr(err, needle1) == NULL || (needle2 != NULL && strstr(err, needle2) == NULL))
        fail_msg("'%s': error \"%s\" lacks \"%s\" / \"%s\"", text, err, needle1,
                 needle2 ? needle2 : "");
}

static void test_spec_errors(void **state)
{
    (void)state;
    parse_bad("", "empty filter spec", NULL);
    parse_bad("   ", "empty filter spec", NULL);
    parse_bad("layer=listen", "missing 'action='", NULL);
    parse_bad("action=block", "missing 'layer='", NULL);
    parse_bad("layer=listen,,action=block", "empty field", NULL);
    parse_bad("layer=listen,action=block,", "empty field", NULL);
    parse_bad("layer=listen,action", "'action' is not key=value", NULL);
    parse_bad("layer=inbound-ip,lprot=80,action=block", "unknown key 'lprot'", "keys: layer");
    parse_bad("layer=inbound,action=block", "unknown layer 'inbound'", "inbound-transport");
    parse_bad("layer=listen,action=drop", "unknown action 'drop'", "callout:NAME");
    parse_bad("layer=listen,action=callout:", "bad callout name ''", NULL);
    parse_bad("layer=listen,action=callout:Bad!", "bad callout name 'Bad!'", NULL);
    parse_bad("layer=inbound-ip,proto=sctp,action=block", "unknown protocol 'sctp'", NULL);
    parse_bad("layer=inbound-ip,lport=8o,action=block", "bad port '8o' in 'lport=8o'", NULL);
    parse_bad("layer=inbound-ip,lport=0,action=block", "bad port '0'", NULL);
    parse_bad("layer=inbound-ip,lport=65536,action=block", "bad port '65536'", NULL);
    parse_bad("layer=inbound-ip,rport=90-80,action=block", "bad port '90-80' in 'rport=90-80'",
              NULL);
    parse_bad("layer=inbound-ip,raddr=198.18.0,action=block", "bad address '198.18.0'", NULL);
    parse_bad("layer=inbound-ip,raddr=198.18.0.300,action=block", "bad address", NULL);
    parse_bad("layer=inbound-ip,raddr=198.18.0.1/33,action=block", "bad prefix length '33'",
              NULL);
    parse_bad("layer=inbound-ip,raddr=198.18.0.1/15,action=block", "host bits set", NULL);
    parse_bad("layer=inbound-ip,weight=70000,action=block", "bad weight '70000'", NULL);
    parse_bad("layer=inbound-ip,weight=-1,action=block", "bad weight '-1'", NULL);
    parse_bad("layer=inbound-ip,lport=80,lport=81,action=block", "'lport=' given twice", NULL);
    parse_bad("layer=inbound-ip,lport=,action=block", "'lport=' has no value", NULL);
    parse_bad("layer=connect,proto=udp,action=block", "layer connect is TCP only", NULL);
    parse_bad("layer=inbound-ip,proto=icmp,lport=1,action=block", "proto=icmp has no ports",
              NULL);
    parse_bad("layer=listen,rport=80,action=block", "layer listen has no remote side", "rport");
    parse_bad("layer=listen,raddr=1.2.3.4,action=block", "layer listen has no remote side",
              "raddr");
    parse_bad("layer=listen,action=block,arg=x", "'arg=x' is for callouts", NULL);
    /* IPv6. */
    parse_bad("layer=inbound-ip,raddr=2001:2::1/129,action=block", "bad prefix length '129'",
              "0..128 for an IPv6 address");
    parse_bad("layer=inbound-ip,raddr=198.18.0.0/64,action=block", "bad prefix length '64'",
              "0..32 for an IPv4 address");
    parse_bad("layer=inbound-ip,raddr=2001:2::g,action=block", "bad IPv6 address '2001:2::g'",
              NULL);
    parse_bad("layer=inbound-ip,raddr=2001:2:::1,action=block", "bad IPv6 address", NULL);
    parse_bad("layer=inbound-ip,raddr=2001:2::1/48,action=block", "host bits set", "/48");
    parse_bad("layer=inbound-ip,raddr=::ffff:198.18.0.1,action=block", "IPv4-mapped",
              "A.B.C.D");
    parse_bad("layer=inbound-ip,raddr=fe80::1%eth0,action=block", "bad IPv6 address", NULL);
    parse_bad("layer=inbound-ip,raddr=[2001:2::1],action=block", "bad", "raddr");
    parse_bad("layer=inbound-ip,raddr=1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa,"
              "action=block", "bad IPv6 address", "more than 8 groups");
    parse_bad("layer=inbound-ip,raddr=1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb,"
              "action=block", "bad address '1111:2222", "in 'raddr='");
    parse_bad("layer=inbound-ip,laddr=198.18.0.3,raddr=2001:2::1,action=block",
              "laddr is IPv4 and raddr IPv6", "one family");
    parse_bad("layer=inbound-ip,proto=icmp,raddr=2001:2::1,action=block", "proto=icmp is IPv4's",
              "proto=icmpv6");
    parse_bad("layer=inbound-ip,proto=icmpv6,laddr=198.18.0.3,action=block",
              "proto=icmpv6 is IPv6's", "proto=icmp");
    parse_bad("layer=inbound-ip,proto=icmpv6,lport=1,action=block", "proto=icmpv6 has no ports",
              NULL);
    /* Control and non-ASCII bytes would make a quoted field span lines. */
    parse_bad("layer=listen,act\nion=block", "byte 0x0a at offset 16", "printable ASCII");
    parse_bad("layer=listen,action=callout:c,arg=\xc3\xa9", "byte 0xc3 at offset 34", NULL);
    parse_bad("layer=listen,action=block\x7f", "byte 0x7f", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_fields),
        cmocka_unit_test(test_spec_ipv6_fields),
        cmocka_unit_test(test_spec_canonical),
        cmocka_unit_test(test_spec_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
