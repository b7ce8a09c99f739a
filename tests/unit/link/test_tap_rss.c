/*
 * Receive-side scaling on a multi-queue TAP against the real Linux kernel:
 * the steering program the device runs puts every frame the kernel sends
 * on the queue rn_rss_frame_queue() names, for the default key and for
 * another; a flow's frames all come on one queue; what is not a TCP or
 * UDP flow (ICMP, IPv4 fragments, neighbour discovery, MLD) on queue 0;
 * a pinned port's frames on its queue.
 *
 * The Linux side is 198.18.0.1/15 and 2001:2::1/64 on the TAP in a
 * namespace made for the test; refnet's side, 198.18.0.2 and 2001:2::2,
 * answers nothing: the kernel reaches it through static neighbour
 * entries, and the frames are only read.
 *
 * Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for setns, CAP_BPF); skipped
 * otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_link.h"
#include "refnet/error.h"
#include "refnet/link.h"
#include "refnet/rss.h"
#include "support.h"

#define TAP_NAME "rnrss0"
#define NQ 4

static struct {
    const char *skip_reason;
    struct sup_netns ns;         /* made for the test */
    struct rn_nbpool *pool;
} g = {.ns = {.sn_self = -1, .sn_fd = -1}};

static rn_time_t os_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (rn_time_t)ts.tv_sec * RN_NSEC_PER_SEC + (rn_time_t)ts.tv_nsec;
}

static int group_setup(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        g.skip_reason = "multi-queue TAP test skipped: needs root";
        return 0;
    }
    if (access("/dev/net/tun", R_OK | W_OK) != 0) {
        g.skip_reason = "multi-queue TAP test skipped: /dev/net/tun is not available";
        return 0;
    }
    if (sup_netns_make(&g.ns, "rnrss") != 0)
        return -1;
    g.pool = th_pool(4096);
    return 0;
}

static int group_teardown(void **state)
{
    uint32_t leaked = 0;

    (void)state;
    sup_netns_del(&g.ns);
    if (g.pool) {
        leaked = rn_nbpool_outstanding(g.pool, RN_NB_OWNER_NONE);
        rn_nbpool_destroy(g.pool);
    }
    if (leaked) {
        fprintf(stderr, "%u buffers outstanding at the end\n", leaked);
        return -1;
    }
    return 0;
}

/* Opens the NQ queues of the device in the namespace, queue 0 first. */
static void open_queues(const struct rn_rss *rss, bool vnet, struct rn_link **q)
{
    struct rn_link_tap_params tp = {.tp_ifname = TAP_NAME, .tp_mtu = 1500, .tp_pool = g.pool,
                                    .tp_queues = NQ, .tp_rss = rss, .tp_vnet_hdr = vnet};
    char err[RN_LINK_ERRLEN] = "";
    struct rn_link_caps caps;
    unsigned i;

    sup_netns_enter(&g.ns);
    for (i = 0; i < NQ; i++) {
        tp.tp_queue = i;
        if (rn_link_tap_open(&tp, &q[i], err) != 0) {
            sup_netns_leave(&g.ns);
            fail_msg("queue %u: %s", i, err);
        }
        if (i == 0) {
            rn_link_caps(q[0], &caps);
            memcpy(tp.tp_hwaddr, caps.lc_hwaddr, RN_MAC_LEN);
        }
    }
    sup_netns_leave(&g.ns);
    assert_int_equal(rn_link_tap_set_up(q[0], true), 0);
    rn_link_caps(q[0], &caps);
    assert_int_equal(sup_sh("ip netns exec %s sh -c 'ip addr add 198.18.0.1/15 dev %s && "
                         "ip -6 addr add 2001:2::1/64 dev %s nodad && "
                         "ip neigh replace 198.18.0.2 lladdr "
                         "%02x:%02x:%02x:%02x:%02x:%02x dev %s && "
                         "ip -6 neigh replace 2001:2::2 lladdr "
                         "%02x:%02x:%02x:%02x:%02x:%02x dev %s'",
                         g.ns.sn_name, TAP_NAME, TAP_NAME, caps.lc_hwaddr[0], caps.lc_hwaddr[1],
                         caps.lc_hwaddr[2], caps.lc_hwaddr[3], caps.lc_hwaddr[4],
                         caps.lc_hwaddr[5], TAP_NAME, caps.lc_hwaddr[0], caps.lc_hwaddr[1],
                         caps.lc_hwaddr[2], caps.lc_hwaddr[3], caps.lc_hwaddr[4],
                         caps.lc_hwaddr[5], TAP_NAME),
                     0);
}

static int udp_from(int family, uint16_t sport)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(sport)};
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(sport)};

    assert_true(fd >= 0);
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET)
        assert_int_equal(bind(fd, (struct sockaddr *)&a4, sizeof(a4)), 0);
    else
        assert_int_equal(bind(fd, (struct sockaddr *)&a6, sizeof(a6)), 0);
    return fd;
}

static void send_to(int fd, int family, uint16_t dport, size_t len)
{
    static char buf[3000];
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(dport)};
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(dport)};
    ssize_t n;

    inet_pton(AF_INET, "198.18.0.2", &a4.sin_addr);
    inet_pton(AF_INET6, "2001:2::2", &a6.sin6_addr);
    if (family == AF_INET)
        n = sendto(fd, buf, len, 0, (struct sockaddr *)&a4, sizeof(a4));
    else
        n = sendto(fd, buf, len, 0, (struct sockaddr *)&a6, sizeof(a6));
    assert_int_equal(n, (ssize_t)len);
}

/* A TCP connect that never completes: its SYN is the frame. */
static int tcp_syn(int family, uint16_t sport, uint16_t dport)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(sport)};
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(sport)};

    assert_true(fd >= 0);
    if (family == AF_INET) {
        assert_int_equal(bind(fd, (struct sockaddr *)&a4, sizeof(a4)), 0);
        a4.sin_port = htons(dport);
        inet_pton(AF_INET, "198.18.0.2", &a4.sin_addr);
        assert_int_equal(connect(fd, (struct sockaddr *)&a4, sizeof(a4)), -1);
    } else {
        assert_int_equal(bind(fd, (struct sockaddr *)&a6, sizeof(a6)), 0);
        a6.sin6_port = htons(dport);
        inet_pton(AF_INET6, "2001:2::2", &a6.sin6_addr);
        assert_int_equal(connect(fd, (struct sockaddr *)&a6, sizeof(a6)), -1);
    }
    assert_int_equal(errno, EINPROGRESS);
    return fd;
}

/* An ICMP echo request to 198.18.0.2 (a raw socket: root). */
static void ping4(void)
{
    uint8_t echo[16] = {8, 0, 0, 0, 0x12, 0x34, 0, 1};
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    uint32_t sum = 0;
    int fd, i;

    for (i = 0; i < 16; i += 2)
        sum += (uint32_t)echo[i] << 8 | echo[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    echo[2] = (uint8_t)(~sum >> 8);
    echo[3] = (uint8_t)~sum;
    inet_pton(AF_INET, "198.18.0.2", &a4.sin_addr);
    fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    assert_true(fd >= 0);
    assert_int_equal(sendto(fd, echo, sizeof(echo), 0, (struct sockaddr *)&a4, sizeof(a4)),
                     (ssize_t)sizeof(echo));
    close(fd);
}

/* Ports pinned for a run: protocol, destination port, queue. */
struct pin {
    uint8_t proto;
    uint16_t port;
    unsigned queue;
};
static struct pin pins[4];
static unsigned npins;

/* The queue a frame must come on: its pinned port's, or the hash's. */
static unsigned expected_queue(const struct rn_rss *rss, const uint8_t *f, size_t len,
                               bool *hashed)
{
    unsigned q = rn_rss_frame_queue(rss, f, len, hashed), i;
    size_t ports;
    uint8_t proto;

    if (!*hashed)
        return q;
    ports = f[12] == 0x08 ? 14u + (f[14] & 0x0fu) * 4 : 54u;
    proto = f[12] == 0x08 ? f[14 + 9] : f[14 + 6];
    for (i = 0; i < npins; i++)
        if (pins[i].proto == proto && pins[i].port == ((unsigned)f[ports + 2] << 8 | f[ports + 3]))
            return pins[i].queue;
    return q;
}

struct tally {
    unsigned per_queue[NQ];
    unsigned hashed[NQ];
    unsigned wrong;           /* frames on a queue the reference does not name */
    unsigned flows_split;     /* UDP source ports seen on two queues */
    int8_t port_queue[1024];  /* UDP/TCP source port - 41000 -> queue, -1 unseen */
};

/* Reads every queue for a while; checks each frame's queue. */
static void drain(struct rn_link **q, const struct rn_rss *rss, struct tally *t)
{
    static uint8_t frame[65536];
    struct rn_netbuf *pkts[64];
    rn_time_t end = os_now() + 400 * RN_NSEC_PER_MSEC;
    unsigned i, k, n;

    while (os_now() < end) {
        for (i = 0; i < NQ; i++) {
            int got = rn_link_rx(q[i], pkts, 64, os_now());

            for (k = 0; got > 0 && k < (unsigned)got; k++) {
                bool hashed;
                int len = rn_nb_linearize(pkts[k], frame, sizeof(frame));
                unsigned want;

                assert_true(len > 0);
                want = expected_queue(rss, frame, (size_t)len, &hashed);
                t->per_queue[i]++;
                if (want != i) {
                    t->wrong++;
                    fprintf(stderr, "frame of %d bytes, type %02x%02x, on queue %u, not %u\n",
                            len, frame[12], frame[13], i, want);
                }
                if (hashed) {
                    size_t ports = frame[12] == 0x08 ? 14u + (frame[14] & 0x0fu) * 4 : 54u;
                    unsigned sport = (unsigned)frame[ports] << 8 | frame[ports + 1];

                    t->hashed[i]++;
                    if (sport >= 41000 && sport < 41000 + 1024) {
                        n = sport - 41000;
                        if (t->port_queue[n] >= 0 && t->port_queue[n] != (int8_t)i)
                            t->flows_split++;
                        t->port_queue[n] = (int8_t)i;
                    }
                }
            }
            for (k = 0; got > 0 && k < (unsigned)got; k++)
                rn_nb_free(pkts[k]);
        }
        usleep(2000);
    }
}

static void spread_and_check(const struct rn_rss *rss, bool vnet)
{
    struct rn_link *q[NQ] = {0};
    struct tally t;
    int fds[200];
    unsigned nfd = 0, i, r;

    memset(&t, 0, sizeof(t));
    memset(t.port_queue, -1, sizeof(t.port_queue));
    open_queues(rss, vnet, q);
    for (i = 0; i < npins; i++)
        assert_int_equal(rn_link_tap_pin(q[0], pins[i].proto, pins[i].port, pins[i].queue), 0);
    sup_netns_enter(&g.ns);
    /* UDP over both families, each flow three times; TCP SYNs. */
    for (i = 0; i < 64; i++)
        fds[nfd++] = udp_from(AF_INET, (uint16_t)(41000 + i));
    for (i = 0; i < 32; i++)
        fds[nfd++] = udp_from(AF_INET6, (uint16_t)(41100 + i));
    for (r = 0; r < 3; r++)
        for (i = 0; i < 96; i++)
            send_to(fds[i], i < 64 ? AF_INET : AF_INET6, 9, 32);
    for (i = 0; i < 16; i++)
        fds[nfd++] = tcp_syn(AF_INET, (uint16_t)(41200 + i), 80);
    for (i = 0; i < 16; i++)
        fds[nfd++] = tcp_syn(AF_INET6, (uint16_t)(41300 + i), 443);
    /* A datagram over the MTU: two IPv4 fragments, queue 0's. */
    send_to(fds[0], AF_INET, 9, 2000);
    ping4();
    sup_netns_leave(&g.ns);
    drain(q, rss, &t);
    for (i = 0; i < nfd; i++)
        close(fds[i]);
    for (i = NQ; i-- > 0;)
        rn_link_close(q[i]);
    for (i = 0; i < NQ; i++)
        fprintf(stderr, "queue %u: %u frames, %u hashed\n", i, t.per_queue[i], t.hashed[i]);
    assert_int_equal(t.wrong, 0);
    assert_int_equal(t.flows_split, 0);
    /* 96 UDP flows 3 times and 32 SYNs: all of them, and each queue had
     * its share of flows. */
    assert_true(t.hashed[0] + t.hashed[1] + t.hashed[2] + t.hashed[3] >= 96 * 3 + 32);
    for (i = 0; i < NQ && npins == 0; i++)
        assert_true(t.hashed[i] >= 30);
    /* Fragments, the echo request, the kernel's own neighbour discovery
     * and MLD: at least the two fragments and the ping on queue 0. */
    assert_true(t.per_queue[0] - t.hashed[0] >= 3);
    for (i = 1; i < NQ; i++)
        assert_int_equal(t.per_queue[i], t.hashed[i]);
}

static void test_default_key(void **state)
{
    struct rn_rss rss;

    (void)state;
    if (g.skip_reason)
        skip();
    rn_rss_init(&rss, NQ);
    spread_and_check(&rss, false);
}

static void test_other_key_offloads(void **state)
{
    struct rn_rss rss;
    unsigned i;

    (void)state;
    if (g.skip_reason)
        skip();
    rn_rss_init(&rss, NQ);
    for (i = 0; i < RN_RSS_KEY_LEN; i++)
        rss.rs_key[i] = (uint8_t)(rss.rs_key[i] * 7 + i);
    spread_and_check(&rss, true);
}

/* Pinned ports go to their queue whatever the hash says: UDP port 9 (all
 * the datagrams) to queue 3, TCP port 80 to queue 2; TCP to 443 is still
 * hashed.  Pins are refused past the last queue, for another protocol,
 * and on a queue other than 0; a pin can be moved and removed. */
static void test_pins(void **state)
{
    struct rn_rss rss;

    (void)state;
    if (g.skip_reason)
        skip();
    rn_rss_init(&rss, NQ);
    pins[0] = (struct pin){17, 9, 3};
    pins[1] = (struct pin){6, 80, 2};
    npins = 2;
    spread_and_check(&rss, true);
    npins = 0;
}

static void test_pin_errors(void **state)
{
    struct rn_link *q[NQ] = {0};
    struct rn_rss rss;
    unsigned i;

    (void)state;
    if (g.skip_reason)
        skip();
    rn_rss_init(&rss, NQ);
    open_queues(&rss, false, q);
    assert_int_equal(rn_link_tap_pin(q[0], 17, 53, NQ), RN_EINVAL);
    assert_int_equal(rn_link_tap_pin(q[0], 1, 53, 1), RN_EINVAL);
    assert_int_equal(rn_link_tap_pin(q[1], 17, 53, 1), RN_EINVAL);
    assert_int_equal(rn_link_tap_unpin(q[0], 17, 53), RN_ENOENT);
    assert_int_equal(rn_link_tap_pin(q[0], 17, 53, 1), 0);
    assert_int_equal(rn_link_tap_pin(q[0], 17, 53, 2), 0);
    assert_int_equal(rn_link_tap_unpin(q[0], 17, 53), 0);
    assert_int_equal(rn_link_tap_unpin(q[0], 17, 53), RN_ENOENT);
    for (i = NQ; i-- > 0;)
        rn_link_close(q[i]);
}

/* Opening errors: a queue past the count, a second queue without the
 * first's address, too many queues, RSS for another count. */
static void test_open_errors(void **state)
{
    struct rn_link_tap_params tp = {.tp_ifname = TAP_NAME, .tp_pool = g.pool, .tp_queues = 2};
    char err[RN_LINK_ERRLEN] = "";
    struct rn_link *l = NULL;
    struct rn_rss rss;

    (void)state;
    if (g.skip_reason)
        skip();
    tp.tp_queue = 2;
    assert_int_equal(rn_link_tap_open(&tp, &l, err), RN_EINVAL);
    assert_non_null(strstr(err, "queue 2 of 2"));
    tp.tp_queue = 1;
    assert_int_equal(rn_link_tap_open(&tp, &l, err), RN_EINVAL);
    assert_non_null(strstr(err, "needs queue 0's hardware address"));
    tp.tp_queue = 0;
    tp.tp_queues = RN_RSS_QUEUES_MAX + 1;
    assert_int_equal(rn_link_tap_open(&tp, &l, err), RN_EINVAL);
    tp.tp_queues = 2;
    rn_rss_init(&rss, 3);
    tp.tp_rss = &rss;
    sup_netns_enter(&g.ns);
    assert_int_equal(rn_link_tap_open(&tp, &l, err), RN_EINVAL);
    sup_netns_leave(&g.ns);
    assert_non_null(strstr(err, "RSS over 3 queues, device has 2"));
    assert_null(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_key),
        cmocka_unit_test(test_other_key_offloads),
        cmocka_unit_test(test_pins),
        cmocka_unit_test(test_pin_errors),
        cmocka_unit_test(test_open_errors),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
