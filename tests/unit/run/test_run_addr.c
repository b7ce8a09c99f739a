/*
 * The shim's address conversions (src/run/run_addr.h): a program's
 * sockaddr_in and sockaddr_in6 to the run channel's address and back, and
 * the errno Linux gives for each bad length and family (checked against
 * Linux's own sockets where the kernel answers without a network: bind
 * and datagram connect).
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "run/run_addr.h"

static struct sockaddr_in sin_of(const char *a, uint16_t port)
{
    struct sockaddr_in s;

    memset(&s, 0, sizeof(s));
    s.sin_family = AF_INET;
    s.sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, a, &s.sin_addr), 1);
    return s;
}

static struct sockaddr_in6 sin6_of(const char *a, uint16_t port)
{
    struct sockaddr_in6 s;

    memset(&s, 0, sizeof(s));
    s.sin6_family = AF_INET6;
    s.sin6_port = htons(port);
    assert_int_equal(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
    return s;
}

static void assert_ip(const struct run_addr *a, const char *text)
{
    struct in6_addr want;

    assert_int_equal(inet_pton(AF_INET6, text, &want), 1);
    assert_memory_equal(a->a_ip, &want, 16);
}

/* AF_INET: the address is held mapped, the port in host order. */
static void test_v4_read(void **state)
{
    struct sockaddr_in s = sin_of("198.18.0.1", 8080);
    struct run_addr a = {.a_port = 0};

    (void)state;
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET, SOCK_STREAM,
                                 RUN_SA_CONNECT, &a), 1);
    assert_ip(&a, "::ffff:198.18.0.1");
    assert_int_equal(a.a_port, 8080);
    assert_true(run_addr_is_v4(&a));
    assert_false(run_addr_is_loopback(&a));
    /* AF_UNSPEC with 0.0.0.0 is bind's wildcard, as Linux takes it. */
    s = sin_of("0.0.0.0", 80);
    s.sin_family = AF_UNSPEC;
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET, SOCK_STREAM,
                                 RUN_SA_BIND, &a), 1);
    assert_ip(&a, "::ffff:0.0.0.0");
}

/* AF_INET: short, or of another family. */
static void test_v4_bad(void **state)
{
    struct sockaddr_in s = sin_of("198.18.0.1", 80);
    struct sockaddr_in6 s6 = sin6_of("2001:2::1", 80);
    struct run_addr a = {.a_port = 0};

    (void)state;
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s) - 1, AF_INET, SOCK_STREAM,
                                 RUN_SA_BIND, &a), -EINVAL);
    assert_int_equal(run_sa_read(NULL, 0, AF_INET, SOCK_STREAM, RUN_SA_BIND, &a), -EINVAL);
    assert_int_equal(run_sa_read((struct sockaddr *)&s6, sizeof(s6), AF_INET, SOCK_STREAM,
                                 RUN_SA_CONNECT, &a), -EAFNOSUPPORT);
    s.sin_family = AF_UNSPEC;  /* AF_UNSPEC with an address is no wildcard */
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET, SOCK_DGRAM,
                                 RUN_SA_SENDTO, &a), -EAFNOSUPPORT);
    s.sin_family = 4242;
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET, SOCK_STREAM,
                                 RUN_SA_BIND, &a), -EAFNOSUPPORT);
}

/* AF_INET6: the address as given; RFC 2133's 24 bytes are enough. */
static void test_v6_read(void **state)
{
    struct sockaddr_in6 s = sin6_of("2001:2::1", 443);
    struct run_addr a = {.a_port = 0};

    (void)state;
    s.sin6_scope_id = 7;  /* read as Linux reads it for a global address: not */
    s.sin6_flowinfo = htonl(0x12345);
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET6, SOCK_STREAM,
                                 RUN_SA_CONNECT, &a), 1);
    assert_ip(&a, "2001:2::1");
    assert_int_equal(a.a_port, 443);
    assert_false(run_addr_is_v4(&a));
    assert_int_equal(run_sa_read((struct sockaddr *)&s, RUN_SIN6_LEN_MIN, AF_INET6,
                                 SOCK_STREAM, RUN_SA_BIND, &a), 1);
    assert_ip(&a, "2001:2::1");
    /* A mapped address names an IPv4 peer. */
    s = sin6_of("::ffff:198.18.0.1", 80);
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET6, SOCK_STREAM,
                                 RUN_SA_CONNECT, &a), 1);
    assert_true(run_addr_is_v4(&a));
    assert_ip(&a, "::ffff:198.18.0.1");
}

/* AF_INET6: each bad length and family with Linux's errno. */
static void test_v6_bad(void **state)
{
    struct sockaddr_in6 s = sin6_of("2001:2::1", 80);
    struct sockaddr_in s4 = sin_of("198.18.0.1", 80);
    struct run_addr a = {.a_port = 0};

    (void)state;
    /* bind, TCP connect: < 24 bytes EINVAL, then the family. */
    assert_int_equal(run_sa_read((struct sockaddr *)&s, RUN_SIN6_LEN_MIN - 1, AF_INET6,
                                 SOCK_STREAM, RUN_SA_BIND, &a), -EINVAL);
    assert_int_equal(run_sa_read((struct sockaddr *)&s4, sizeof(s4), AF_INET6, SOCK_STREAM,
                                 RUN_SA_BIND, &a), -EINVAL);
    assert_int_equal(run_sa_read((struct sockaddr *)&s4, sizeof(s4), AF_INET6, SOCK_STREAM,
                                 RUN_SA_CONNECT, &a), -EINVAL);
    s.sin6_family = AF_INET;  /* long enough, of the wrong family */
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET6, SOCK_STREAM,
                                 RUN_SA_BIND, &a), -EAFNOSUPPORT);
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET6, SOCK_STREAM,
                                 RUN_SA_CONNECT, &a), -EAFNOSUPPORT);
    s.sin6_family = 4242;
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET6, SOCK_DGRAM,
                                 RUN_SA_CONNECT, &a), -EAFNOSUPPORT);
    /* sendto: an unknown family is EINVAL; fewer than 2 bytes too. */
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET6, SOCK_DGRAM,
                                 RUN_SA_SENDTO, &a), -EINVAL);
    assert_int_equal(run_sa_read((struct sockaddr *)&s, 1, AF_INET6, SOCK_DGRAM,
                                 RUN_SA_SENDTO, &a), -EINVAL);
    s.sin6_family = AF_INET6;
    assert_int_equal(run_sa_read((struct sockaddr *)&s, 20, AF_INET6, SOCK_DGRAM,
                                 RUN_SA_SENDTO, &a), -EINVAL);
    /* A socket of no family the shim takes. */
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_UNIX, SOCK_STREAM,
                                 RUN_SA_BIND, &a), -EAFNOSUPPORT);
}

/* A dual-stack datagram socket takes an AF_INET peer (mapped) in connect
 * and sendto, and AF_UNSPEC in sendto as "the connected peer". */
static void test_v6_dgram_v4_peer(void **state)
{
    struct sockaddr_in s4 = sin_of("198.18.0.1", 53);
    struct sockaddr_in6 s = sin6_of("2001:2::1", 53);
    struct run_addr a = {.a_port = 0};

    (void)state;
    assert_int_equal(run_sa_read((struct sockaddr *)&s4, sizeof(s4), AF_INET6, SOCK_DGRAM,
                                 RUN_SA_SENDTO, &a), 1);
    assert_ip(&a, "::ffff:198.18.0.1");
    assert_int_equal(a.a_port, 53);
    assert_int_equal(run_sa_read((struct sockaddr *)&s4, sizeof(s4), AF_INET6, SOCK_DGRAM,
                                 RUN_SA_CONNECT, &a), 1);
    assert_int_equal(run_sa_read((struct sockaddr *)&s4, sizeof(s4) - 1, AF_INET6, SOCK_DGRAM,
                                 RUN_SA_SENDTO, &a), -EINVAL);
    s.sin6_family = AF_UNSPEC;
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET6, SOCK_DGRAM,
                                 RUN_SA_SENDTO, &a), 0);
    assert_int_equal(run_sa_read(NULL, 0, AF_INET6, SOCK_DGRAM, RUN_SA_SENDTO, &a), 0);
}

static void test_loopback(void **state)
{
    struct sockaddr_in6 s = sin6_of("::1", 80);
    struct sockaddr_in s4 = sin_of("127.0.0.53", 53);
    struct run_addr a = {.a_port = 0};

    (void)state;
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET6, SOCK_STREAM,
                                 RUN_SA_BIND, &a), 1);
    assert_true(run_addr_is_loopback(&a));
    s = sin6_of("::ffff:127.0.0.1", 80);
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET6, SOCK_STREAM,
                                 RUN_SA_CONNECT, &a), 1);
    assert_true(run_addr_is_loopback(&a));
    assert_int_equal(run_sa_read((struct sockaddr *)&s4, sizeof(s4), AF_INET, SOCK_DGRAM,
                                 RUN_SA_SENDTO, &a), 1);
    assert_true(run_addr_is_loopback(&a));
    s = sin6_of("::", 80);
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET6, SOCK_STREAM,
                                 RUN_SA_BIND, &a), 1);
    assert_false(run_addr_is_loopback(&a));
}

/* Written back: an AF_INET6 socket gives an IPv4 peer as ::ffff:a.b.c.d,
 * an AF_INET one its dotted quad; cut to the room given, the length the
 * full size. */
static void test_write(void **state)
{
    struct run_addr a = {.a_port = 0};
    struct sockaddr_in6 s6;
    struct sockaddr_in s4;
    struct sockaddr_storage ss;
    socklen_t len;
    char text[INET6_ADDRSTRLEN];

    (void)state;
    run_addr_set_v4(&a, htonl(0xc6120001), htons(40000));
    len = sizeof(ss);
    memset(&ss, 0xaa, sizeof(ss));
    run_sa_write((struct sockaddr *)&ss, &len, AF_INET6, &a);
    assert_int_equal(len, sizeof(s6));
    memcpy(&s6, &ss, sizeof(s6));
    assert_int_equal(s6.sin6_family, AF_INET6);
    assert_int_equal(ntohs(s6.sin6_port), 40000);
    assert_int_equal(s6.sin6_flowinfo, 0);
    assert_int_equal(s6.sin6_scope_id, 0);
    assert_string_equal(inet_ntop(AF_INET6, &s6.sin6_addr, text, sizeof(text)),
                        "::ffff:198.18.0.1");
    len = sizeof(ss);
    run_sa_write((struct sockaddr *)&ss, &len, AF_INET, &a);
    assert_int_equal(len, sizeof(s4));
    memcpy(&s4, &ss, sizeof(s4));
    assert_int_equal(s4.sin_family, AF_INET);
    assert_int_equal(s4.sin_addr.s_addr, htonl(0xc6120001));
    /* Cut to 8 bytes: the rest of the buffer untouched. */
    memset(&ss, 0xaa, sizeof(ss));
    len = 8;
    run_sa_write((struct sockaddr *)&ss, &len, AF_INET6, &a);
    assert_int_equal(len, sizeof(s6));
    assert_int_equal(((uint8_t *)&ss)[8], 0xaa);
    /* NULL: nothing written, no crash. */
    run_sa_write(NULL, &len, AF_INET6, &a);
    run_sa_write((struct sockaddr *)&ss, NULL, AF_INET6, &a);
}

/* Round trip of an IPv6 address through both conversions. */
static void test_round_trip(void **state)
{
    struct sockaddr_in6 s = sin6_of("2001:2::2", 8080), back;
    struct run_addr a = {.a_port = 0};
    socklen_t len = sizeof(back);

    (void)state;
    assert_int_equal(run_sa_read((struct sockaddr *)&s, sizeof(s), AF_INET6, SOCK_DGRAM,
                                 RUN_SA_SENDTO, &a), 1);
    run_sa_write((struct sockaddr *)&back, &len, AF_INET6, &a);
    assert_int_equal(len, sizeof(back));
    assert_memory_equal(&back.sin6_addr, &s.sin6_addr, 16);
    assert_int_equal(back.sin6_port, s.sin6_port);
}

/* The table's bind and datagram-connect rows are Linux's: the kernel's own
 * sockets answer the same (no network needed: the checks come first). */
static void test_linux_agrees(void **state)
{
    struct sockaddr_in6 s6 = sin6_of("2001:2::1", 9);
    struct sockaddr_in s4 = sin_of("198.18.0.1", 9);
    struct {
        int family, type;
        const void *sa;
        socklen_t len;
        int (*call)(int, const struct sockaddr *, socklen_t);
        enum run_sa_use use;
    } cases[] = {
        {AF_INET6, SOCK_STREAM, &s6, RUN_SIN6_LEN_MIN - 1, bind, RUN_SA_BIND},
        {AF_INET6, SOCK_STREAM, &s4, sizeof(s4), bind, RUN_SA_BIND},
        {AF_INET6, SOCK_DGRAM, &s4, sizeof(s4) - 1, connect, RUN_SA_CONNECT},
        {AF_INET, SOCK_STREAM, &s6, sizeof(s6), bind, RUN_SA_BIND},
        {AF_INET, SOCK_DGRAM, &s4, sizeof(s4) - 1, bind, RUN_SA_BIND},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = socket(cases[i].family, cases[i].type, 0);
        struct run_addr a = {.a_port = 0};
        int want;

        if (fd < 0)
            skip();  /* no IPv6 in this kernel */
        errno = 0;
        want = cases[i].call(fd, cases[i].sa, cases[i].len) < 0 ? -errno : 1;
        close(fd);
        assert_int_equal(run_sa_read(cases[i].sa, cases[i].len, cases[i].family,
                                     cases[i].type, cases[i].use, &a), want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_read),
        cmocka_unit_test(test_v4_bad),
        cmocka_unit_test(test_v6_read),
        cmocka_unit_test(test_v6_bad),
        cmocka_unit_test(test_v6_dgram_v4_peer),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_linux_agrees),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
