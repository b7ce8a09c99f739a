/*
 * Receive-side scaling's hash and queue choice: the Toeplitz hash against
 * Microsoft's published verification data (IPv4 and IPv6, with and
 * without ports), which frames are hashed and which go to queue 0, the
 * indirection table, and the key's text form.
 *
 * The addresses of the verification data are inputs to the hash only: no
 * frame carrying them is ever sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "refnet/rss.h"

struct vector {
    const char *dst, *src;    /* as the table writes them: destination first */
    uint16_t dport, sport;
    uint32_t hash_ip, hash_ports;
};

/* "Verifying the RSS Hash Calculation", Windows driver documentation. */
static const struct vector vectors[] = {
    {"161.142.100.80", "66.9.149.187", 1766, 2794, 0x323e8fc2, 0x51ccc178},
    {"65.69.140.83", "199.92.111.2", 4739, 14230, 0xd718262a, 0xc626b0ea},
    {"12.22.207.184", "24.19.198.95", 38024, 12898, 0xd2d0a5de, 0x5c2b394a},
    {"209.142.163.6", "38.27.205.30", 2217, 48228, 0x82989176, 0xafc7327f},
    {"202.188.127.2", "153.39.163.191", 1303, 44251, 0x5d1809c5, 0x10e828a2},
    {"3ffe:2501:200:3::1", "3ffe:2501:200:1fff::7", 1766, 2794, 0x2cc18cd5, 0x40207d3d},
    {"ff02::1", "3ffe:501:8::260:97ff:fe40:efab", 4739, 14230, 0x0f0c461c, 0xdde51bbf},
    {"fe80::200:f8ff:fe21:67cf", "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 38024, 44251,
     0x4b61e985, 0x02d1feef},
};

static struct rn_inaddr addr(const char *s)
{
    struct rn_inaddr ia;
    const char *why = NULL;

    assert_int_equal(rn_inaddr_parse(s, &ia, &why), 0);
    return ia;
}

/* The hash input: source address, destination address (4 or 16 bytes). */
static size_t addr_bytes(const struct rn_inaddr *ia, uint8_t *out)
{
    if (rn_inaddr_is_v4(ia)) {
        memcpy(out, &ia->ia_ip6.i6_octet[12], 4);
        return 4;
    }
    memcpy(out, ia->ia_ip6.i6_octet, 16);
    return 16;
}

static void test_verification_data(void **state)
{
    struct rn_rss rss;
    size_t i;

    (void)state;
    rn_rss_init(&rss, 1);
    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vector *v = &vectors[i];
        struct rn_inaddr src = addr(v->src), dst = addr(v->dst);
        uint8_t in[32];
        size_t n = addr_bytes(&src, in);

        n += addr_bytes(&dst, in + n);
        assert_int_equal(rn_rss_toeplitz(rss.rs_key, in, n), v->hash_ip);
        assert_int_equal(rn_rss_flow_hash(&rss, &src, &dst, v->sport, v->dport), v->hash_ports);
    }
}

/* The window of key bits an input bit adds is what the hash XORs in:
 * a single set bit hashes to its window. */
static void test_key_window(void **state)
{
    uint8_t in[36];
    unsigned i;

    (void)state;
    for (i = 0; i < 36 * 8; i++) {
        memset(in, 0, sizeof(in));
        in[i / 8] = (uint8_t)(0x80u >> (i % 8));
        assert_int_equal(rn_rss_toeplitz(rn_rss_default_key, in, sizeof(in)),
                         rn_rss_key_window(rn_rss_default_key, i));
    }
    assert_int_equal(rn_rss_key_window(rn_rss_default_key, 0), 0x6d5a56da);
    assert_int_equal(rn_rss_key_window(rn_rss_default_key, 4), 0xd5a56da2);
}

/* Frames built by hand: Ethernet, then IPv4 or IPv6, then 4 port bytes. */
static size_t frame_ip4(uint8_t *f, uint8_t proto, uint16_t frag, const char *src,
                        const char *dst, uint16_t sport, uint16_t dport, unsigned ihl)
{
    struct rn_inaddr s = addr(src), d = addr(dst);
    size_t hl = ihl * 4;

    memset(f, 0, 128);
    f[12] = 0x08;
    f[13] = 0x00;
    f[14] = (uint8_t)(0x40 | ihl);
    f[14 + 6] = (uint8_t)(frag >> 8);
    f[14 + 7] = (uint8_t)frag;
    f[14 + 9] = proto;
    memcpy(f + 14 + 12, &s.ia_ip6.i6_octet[12], 4);
    memcpy(f + 14 + 16, &d.ia_ip6.i6_octet[12], 4);
    f[14 + hl] = (uint8_t)(sport >> 8);
    f[14 + hl + 1] = (uint8_t)sport;
    f[14 + hl + 2] = (uint8_t)(dport >> 8);
    f[14 + hl + 3] = (uint8_t)dport;
    return 14 + hl + 8;
}

static size_t frame_ip6(uint8_t *f, uint8_t next, const char *src, const char *dst,
                        uint16_t sport, uint16_t dport)
{
    struct rn_inaddr s = addr(src), d = addr(dst);

    memset(f, 0, 128);
    f[12] = 0x86;
    f[13] = 0xdd;
    f[14] = 0x60;
    f[14 + 6] = next;
    memcpy(f + 14 + 8, s.ia_ip6.i6_octet, 16);
    memcpy(f + 14 + 24, d.ia_ip6.i6_octet, 16);
    f[54] = (uint8_t)(sport >> 8);
    f[55] = (uint8_t)sport;
    f[56] = (uint8_t)(dport >> 8);
    f[57] = (uint8_t)dport;
    return 54 + 8;
}

static void test_frames(void **state)
{
    struct rn_inaddr s4 = addr("198.18.0.1"), d4 = addr("198.18.0.2");
    struct rn_inaddr s6 = addr("2001:2::1"), d6 = addr("2001:2::2");
    uint8_t f[128];
    struct rn_rss rss;
    bool hashed;
    size_t len;
    unsigned q;

    (void)state;
    rn_rss_init(&rss, 4);
    /* TCP and UDP over IPv4, with and without IP options. */
    len = frame_ip4(f, 6, 0x4000, "198.18.0.1", "198.18.0.2", 40000, 80, 5);
    q = rn_rss_frame_queue(&rss, f, len, &hashed);
    assert_true(hashed);
    assert_int_equal(q, rn_rss_flow_queue(&rss, &s4, &d4, 40000, 80));
    assert_int_equal(q, rn_rss_flow_hash(&rss, &s4, &d4, 40000, 80) % 128 % 4);
    len = frame_ip4(f, 17, 0, "198.18.0.1", "198.18.0.2", 40001, 53, 7);
    assert_int_equal(rn_rss_frame_queue(&rss, f, len, &hashed),
                     rn_rss_flow_queue(&rss, &s4, &d4, 40001, 53));
    assert_true(hashed);
    /* Too short for its ports. */
    assert_int_equal(rn_rss_frame_queue(&rss, f, len - 5, &hashed), 0);
    assert_false(hashed);
    /* Fragments: more to come, or an offset. */
    len = frame_ip4(f, 17, 0x2000, "198.18.0.1", "198.18.0.2", 40001, 53, 5);
    assert_int_equal(rn_rss_frame_queue(&rss, f, len, &hashed), 0);
    assert_false(hashed);
    len = frame_ip4(f, 17, 0x0010, "198.18.0.1", "198.18.0.2", 40001, 53, 5);
    assert_int_equal(rn_rss_frame_queue(&rss, f, len, &hashed), 0);
    assert_false(hashed);
    /* ICMP, a bad header length, a wrong version. */
    len = frame_ip4(f, 1, 0, "198.18.0.1", "198.18.0.2", 0x0800, 1, 5);
    assert_int_equal(rn_rss_frame_queue(&rss, f, len, &hashed), 0);
    assert_false(hashed);
    len = frame_ip4(f, 6, 0, "198.18.0.1", "198.18.0.2", 1, 2, 5);
    f[14] = 0x44;
    assert_int_equal(rn_rss_frame_queue(&rss, f, len, &hashed), 0);
    f[14] = 0x65;
    assert_int_equal(rn_rss_frame_queue(&rss, f, len, &hashed), 0);
    assert_false(hashed);
    /* IPv6: TCP, UDP; ICMPv6 and extension headers go to queue 0. */
    len = frame_ip6(f, 6, "2001:2::1", "2001:2::2", 50000, 443);
    assert_int_equal(rn_rss_frame_queue(&rss, f, len, &hashed),
                     rn_rss_flow_queue(&rss, &s6, &d6, 50000, 443));
    assert_true(hashed);
    len = frame_ip6(f, 58, "2001:2::1", "2001:2::2", 0x8000, 0);
    assert_int_equal(rn_rss_frame_queue(&rss, f, len, &hashed), 0);
    assert_false(hashed);
    len = frame_ip6(f, 44, "2001:2::1", "2001:2::2", 50000, 443);
    assert_int_equal(rn_rss_frame_queue(&rss, f, len, NULL), 0);
    /* ARP, and a runt. */
    memset(f, 0, sizeof(f));
    f[12] = 0x08;
    f[13] = 0x06;
    assert_int_equal(rn_rss_frame_queue(&rss, f, 42, &hashed), 0);
    assert_false(hashed);
    assert_int_equal(rn_rss_frame_queue(&rss, f, 10, NULL), 0);
}

/* An ICMP error quoting a packet this side sent (src: this side): an
 * Ethernet + IP + ICMP header of type `type` from router `from`, then the
 * quoted packet as frame_ip4 / frame_ip6 build it (cut to `quote` bytes). */
static size_t error_ip4(uint8_t *f, uint8_t type, const char *from, const uint8_t *quoted,
                        size_t quote)
{
    struct rn_inaddr r = addr(from);

    memset(f, 0, 14 + 20 + 8);
    f[12] = 0x08;
    f[14] = 0x45;
    f[14 + 9] = 1;
    memcpy(f + 14 + 12, &r.ia_ip6.i6_octet[12], 4);
    f[34] = type;
    memcpy(f + 42, quoted + 14, quote);
    return 42 + quote;
}

static size_t error_ip6(uint8_t *f, uint8_t type, const char *from, const uint8_t *quoted,
                        size_t quote)
{
    struct rn_inaddr r = addr(from);

    memset(f, 0, 14 + 40 + 8);
    f[12] = 0x86;
    f[13] = 0xdd;
    f[14] = 0x60;
    f[14 + 6] = 58;
    memcpy(f + 14 + 8, r.ia_ip6.i6_octet, 16);
    f[54] = type;
    memcpy(f + 62, quoted + 14, quote);
    return 62 + quote;
}

/* An error reaches the queue that the flow it quotes arrives on: the
 * quoted packet's addresses and ports reversed. */
static void test_icmp_errors(void **state)
{
    uint8_t sent[128], back[128], f[256];
    struct rn_rss rss;
    unsigned q, port, seen[4] = {0}, i;
    uint8_t proto;
    uint16_t lport;
    size_t len, qlen;

    (void)state;
    rn_rss_init(&rss, 4);
    for (port = 40000; port < 40064; port++) {
        /* Frag needed, port unreachable, time exceeded: IPv4, TCP and UDP. */
        qlen = frame_ip4(sent, 6, 0x4000, "198.18.0.2", "198.18.1.9", (uint16_t)port, 80, 5);
        len = error_ip4(f, 3, "198.18.0.1", sent, qlen - 14);
        q = 99;
        proto = 0;
        lport = 0;
        assert_true(rn_rss_icmp_error_queue(&rss, f, len, &q, &proto, &lport));
        assert_int_equal(proto, 6);
        assert_int_equal(lport, port);  /* this side's port: the pin to look up */
        len = frame_ip4(back, 6, 0, "198.18.1.9", "198.18.0.2", 80, (uint16_t)port, 5);
        assert_int_equal(q, rn_rss_frame_queue(&rss, back, len, NULL));
        seen[q]++;
        qlen = frame_ip4(sent, 17, 0, "198.18.0.2", "198.18.1.9", (uint16_t)port, 53, 6);
        len = error_ip4(f, 11, "198.18.0.1", sent, qlen - 14);
        assert_true(rn_rss_icmp_error_queue(&rss, f, len, &q, NULL, NULL));
        len = frame_ip4(back, 17, 0, "198.18.1.9", "198.18.0.2", 53, (uint16_t)port, 5);
        assert_int_equal(q, rn_rss_frame_queue(&rss, back, len, NULL));
        /* Packet too big and unreachable over IPv6. */
        qlen = frame_ip6(sent, 6, "2001:2::2", "2001:2::1:9", (uint16_t)port, 443);
        for (i = 1; i <= 4; i++) {
            len = error_ip6(f, (uint8_t)i, "2001:2::1", sent, qlen - 14);
            assert_true(rn_rss_icmp_error_queue(&rss, f, len, &q, NULL, NULL));
            len = frame_ip6(back, 6, "2001:2::1:9", "2001:2::2", 443, (uint16_t)port);
            assert_int_equal(q, rn_rss_frame_queue(&rss, back, len, NULL));
        }
    }
    for (i = 0; i < 4; i++)
        assert_true(seen[i] > 0);  /* the errors do not all go one way */

    /* Not errors about a hashed flow: an echo request, a redirect, a
     * quoted later fragment, a quoted ICMP packet, a quote cut before
     * its ports, a quote of the wrong version, an error with IP options
     * cut short, ICMPv6 informational types. */
    qlen = frame_ip4(sent, 6, 0, "198.18.0.2", "198.18.1.9", 40000, 80, 5);
    len = error_ip4(f, 8, "198.18.0.1", sent, qlen - 14);
    assert_false(rn_rss_icmp_error_queue(&rss, f, len, &q, NULL, NULL));
    len = error_ip4(f, 5, "198.18.0.1", sent, qlen - 14);
    assert_false(rn_rss_icmp_error_queue(&rss, f, len, &q, NULL, NULL));
    len = error_ip4(f, 3, "198.18.0.1", sent, 20 + 3);
    assert_false(rn_rss_icmp_error_queue(&rss, f, len, &q, NULL, NULL));
    qlen = frame_ip4(sent, 17, 0x0020, "198.18.0.2", "198.18.1.9", 40000, 53, 5);
    len = error_ip4(f, 3, "198.18.0.1", sent, qlen - 14);
    assert_false(rn_rss_icmp_error_queue(&rss, f, len, &q, NULL, NULL));
    qlen = frame_ip4(sent, 1, 0, "198.18.0.2", "198.18.1.9", 0x0800, 0, 5);
    len = error_ip4(f, 3, "198.18.0.1", sent, qlen - 14);
    assert_false(rn_rss_icmp_error_queue(&rss, f, len, &q, NULL, NULL));
    qlen = frame_ip6(sent, 6, "2001:2::2", "2001:2::1:9", 40000, 443);
    len = error_ip4(f, 3, "198.18.0.1", sent, qlen - 14);
    assert_false(rn_rss_icmp_error_queue(&rss, f, len, &q, NULL, NULL));
    qlen = frame_ip4(sent, 6, 0, "198.18.0.2", "198.18.1.9", 40000, 80, 5);
    len = error_ip4(f, 3, "198.18.0.1", sent, qlen - 14);
    f[14] = 0x4f;  /* 60 bytes of header: the ICMP header lies past the end */
    assert_false(rn_rss_icmp_error_queue(&rss, f, len, &q, NULL, NULL));
    qlen = frame_ip6(sent, 6, "2001:2::2", "2001:2::1:9", 40000, 443);
    len = error_ip6(f, 128, "2001:2::1", sent, qlen - 14);
    assert_false(rn_rss_icmp_error_queue(&rss, f, len, &q, NULL, NULL));
    len = error_ip6(f, 135, "2001:2::1", sent, qlen - 14);
    assert_false(rn_rss_icmp_error_queue(&rss, f, len, &q, NULL, NULL));
    len = error_ip6(f, 2, "2001:2::1", sent, 40 + 3);
    assert_false(rn_rss_icmp_error_queue(&rss, f, len, &q, NULL, NULL));
    qlen = frame_ip6(sent, 44, "2001:2::2", "2001:2::1:9", 40000, 443);
    len = error_ip6(f, 2, "2001:2::1", sent, qlen - 14);
    assert_false(rn_rss_icmp_error_queue(&rss, f, len, &q, NULL, NULL));
    /* Every cut of a good error either names the flow's queue or none. */
    qlen = frame_ip6(sent, 17, "2001:2::2", "2001:2::1:9", 40000, 443);
    len = error_ip6(f, 1, "2001:2::1", sent, qlen - 14);
    for (i = 0; i < len; i++) {
        unsigned cut = 99;

        if (rn_rss_icmp_error_queue(&rss, f, i, &cut, NULL, NULL))
            assert_true(i >= 62 + 40 + 4 && cut < 4);
    }
}

/* The indirection table spreads hashes evenly, and the same flow always
 * goes to the same queue; a different key moves flows. */
static void test_spread(void **state)
{
    struct rn_inaddr s4 = addr("198.18.0.1"), d4 = addr("198.18.0.2");
    unsigned count[4] = {0}, moved = 0, p, q;
    struct rn_rss rss, other;

    (void)state;
    rn_rss_init(&rss, 4);
    rn_rss_init(&other, 4);
    /* The queue is the hash's low bits: for IPv4 they come from key bits
     * 30 to 127, and a change there moves about three flows in four. */
    other.rs_key[9] ^= 0x5a;
    other.rs_key[12] ^= 0x11;
    for (p = 32768; p < 32768 + 4000; p++) {
        q = rn_rss_flow_queue(&rss, &s4, &d4, (uint16_t)p, 80);
        assert_true(q < 4);
        assert_int_equal(q, rn_rss_flow_queue(&rss, &s4, &d4, (uint16_t)p, 80));
        count[q]++;
        moved += q != rn_rss_flow_queue(&other, &s4, &d4, (uint16_t)p, 80);
    }
    for (q = 0; q < 4; q++)
        assert_in_range(count[q], 800, 1200);
    assert_in_range(moved, 2000, 3999);
    for (p = 0; p < RN_RSS_TABLE_LEN; p++)
        assert_int_equal(rn_rss_queue_of(&rss, p), p % 4);
    rn_rss_init(&rss, 0);
    assert_int_equal(rss.rs_queues, 1);
}

static void test_key_text(void **state)
{
    char text[RN_RSS_KEY_STRLEN], err[160];
    uint8_t key[RN_RSS_KEY_LEN];
    char bad[RN_RSS_KEY_STRLEN + 8];

    (void)state;
    rn_rss_key_format(rn_rss_default_key, text, sizeof(text));
    assert_int_equal(strlen(text), RN_RSS_KEY_STRLEN - 1);
    assert_true(strncmp(text, "6d:5a:56:da", 11) == 0);
    assert_true(strcmp(text + strlen(text) - 5, "01:fa") == 0);
    assert_int_equal(rn_rss_key_parse(text, key, err, sizeof(err)), 0);
    assert_memory_equal(key, rn_rss_default_key, RN_RSS_KEY_LEN);
    /* Upper case is fine. */
    strcpy(bad, text);
    bad[0] = 'D';
    assert_int_equal(rn_rss_key_parse(bad, key, err, sizeof(err)), 0);
    assert_int_equal(key[0], 0xdd);
    /* Short, long, a bad digit, a bad separator: one line each, key kept. */
    memcpy(key, rn_rss_default_key, RN_RSS_KEY_LEN);
    assert_int_equal(rn_rss_key_parse("6d:5a", key, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ends after byte 2"));
    snprintf(bad, sizeof(bad), "%s:00", text);
    assert_int_equal(rn_rss_key_parse(bad, key, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer"));
    strcpy(bad, text);
    bad[4] = 'g';
    assert_int_equal(rn_rss_key_parse(bad, key, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "byte 2 is not"));
    strcpy(bad, text);
    bad[2] = '-';
    assert_int_equal(rn_rss_key_parse(bad, key, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no ':' after byte 1"));
    assert_int_equal(rn_rss_key_parse("", key, err, sizeof(err)), -1);
    assert_memory_equal(key, rn_rss_default_key, RN_RSS_KEY_LEN);
    assert_null(strchr(err, '\n'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verification_data),
        cmocka_unit_test(test_key_window),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_icmp_errors),
        cmocka_unit_test(test_spread),
        cmocka_unit_test(test_key_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
