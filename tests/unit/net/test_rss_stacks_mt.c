/*
 * Receive-side scaling with a stack per queue, against the real Linux
 * kernel: two stacks, each on its own loop thread and its own queue of a
 * two-queue TAP, sharing one MAC address, 198.18.0.2 and 2001:2::2 (queue
 * 1's interface a shadow of queue 0's), with fan-out filters between them.
 *
 *   - Datagrams from Linux reach the stack whose queue the flow hashes
 *     to, over both families, and every one is answered from there: the
 *     second stack learnt Linux's address from copies of what reached
 *     queue 0 (ARP requests, neighbour solicitations).
 *   - The second stack resolves a neighbour it never heard from: its ARP
 *     request and neighbour solicitation go out on its queue, the answers
 *     come to queue 0, and the copies complete its resolution.
 *   - Connections each stack opens to Linux complete on that stack: the
 *     local port is chosen so that the answers come back to its queue.
 *   - Everything ends leak-free.
 *
 * Needs root (namespaces, TAP, BPF); skipped otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/link.h"
#include "refnet/loop.h"
#include "refnet/object.h"
#include "refnet/rss.h"
#include "refnet/socket.h"
#include "refnet/stack.h"
#include "support.h"

#define TAP_NAME "rnrss1"
#define NQ 2
#define PORT 7000

struct lane {
    struct rn_stack *st;
    struct rn_loop *loop;
    pthread_t thread;
    bool running;
    struct rn_loop_work wake;
    atomic_bool wake_posted;
    struct rn_proc *proc;
    int udp;                      /* dual-stack UDP socket on [::]:PORT */
};

static struct {
    const char *skip_reason;
    struct sup_netns ns;         /* made for the test */
    struct rn_rss rss;
    struct rn_link_fanout *fan;
    struct lane lane[NQ];
} g = {.ns = {.sn_self = -1, .sn_fd = -1}};

static void wake_ran(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct lane *l = (struct lane *)((char *)w - offsetof(struct lane, wake));

    (void)loop;
    atomic_store(&l->wake_posted, false);
}

/* The fan-out's wake: a post to that queue's loop, at most one at a time. */
static void fan_wake(void *ctx, unsigned q)
{
    struct lane *l = &g.lane[q];

    (void)ctx;
    if (!atomic_exchange(&l->wake_posted, true))
        rn_loop_post(l->loop, &l->wake, wake_ran);
}

static void *lane_main(void *arg)
{
    struct lane *l = arg;

    (void)rn_loop_run(l->loop);
    return NULL;
}

static void sa4(struct rn_sockaddr_in *a, const char *ip, uint16_t port)
{
    memset(a, 0, sizeof(*a));
    a->sin_family = RN_AF_INET;
    a->sin_port = port;
    a->sin_addr = ntohl(inet_addr(ip));
}

static void sa6(struct rn_sockaddr_in *a, const char *ip, uint16_t port)
{
    const char *why;

    memset(a, 0, sizeof(*a));
    a->sin_family = RN_AF_INET6;
    a->sin_port = port;
    assert_int_equal(rn_ip6_addr_parse(ip, &a->sin6_addr, &why), 0);
}

/* Queue q's stack: the stack, RSS on, sockets; its interface comes with
 * its link (lane_link()). */
static void lane_stack(unsigned q)
{
    struct rn_stack_params sp = {.sp_name = q ? "rss1" : "rss0", .sp_seed = 11 + q};
    struct lane *l = &g.lane[q];

    assert_int_equal(rn_stack_create(&sp, &l->st), 0);
    assert_int_equal(rn_stack_set_rss(l->st, &g.rss, q), 0);
    assert_int_equal(rn_sock_layer_init(l->st), 0);
    l->udp = -1;
}

/* Its interface over its queue and fan-out filter, its loop and a
 * process.  Every lane's loop exists before any runs: queue 0's wakes
 * the others'. */
static void lane_start(unsigned q, struct rn_link *tapq, const uint8_t *mac)
{
    struct rn_iface_params ip = {.ifp_name = TAP_NAME, .ifp_addr = 0xc6120002, .ifp_plen = 15,
                                 .ifp_ipv6 = true, .ifp_rss_shadow = q > 0};
    struct lane *l = &g.lane[q];
    struct rn_sockaddr_in a6;
    char err[RN_LINK_ERRLEN] = "";
    struct rn_iface *ifp;

    if (rn_link_fanout_open(g.fan, q, tapq, rn_stack_pool(l->st), &ip.ifp_link, err) != 0)
        fail_msg("fan-out %u: %s", q, err);
    memcpy(ip.ifp_mac, mac, 6);
    assert_int_equal(rn_stack_add_iface(l->st, &ip, &ifp), 0);
    sa6(&a6, "2001:2::2", 0);
    assert_int_equal(rn_iface_add_addr6(ifp, &a6.sin6_addr, 64), 0);
    assert_int_equal(rn_loop_create(l->st, &l->loop), 0);
    atomic_init(&l->wake_posted, false);
    assert_int_equal(rn_proc_create(l->st, q ? "lane1" : "lane0", &l->proc), 0);
}

/* The loop on a thread of its own, and a dual-stack UDP socket on
 * [::]:PORT. */
static void lane_run(unsigned q)
{
    struct lane *l = &g.lane[q];
    struct rn_sockaddr_in any;

    assert_int_equal(pthread_create(&l->thread, NULL, lane_main, l), 0);
    l->running = true;
    l->udp = rn_socket(l->proc, RN_SOCK_DGRAM | RN_SOCK_INET6, 0);
    assert_true(l->udp > 0);
    sa6(&any, "::", PORT);
    assert_int_equal(rn_bind(l->proc, l->udp, &any), 0);
    assert_int_equal(rn_setsockopt(l->proc, l->udp, RN_SO_RCVTIMEO, 300), 0);
}

static void lane_stop(unsigned q)
{
    struct lane *l = &g.lane[q];

    if (l->proc != NULL) {
        if (l->udp > 0)
            (void)rn_close(l->proc, l->udp);
        rn_proc_exit(l->proc);
        l->proc = NULL;
    }
    if (l->running) {
        usleep(100000);  /* the exits' cleanups run on the loop */
        rn_loop_stop(l->loop);
        pthread_join(l->thread, NULL);
        l->running = false;
    }
    if (l->loop != NULL)
        rn_loop_destroy(l->loop);
    l->loop = NULL;
    if (l->st != NULL)
        assert_int_equal(rn_stack_destroy(l->st), 0);
    l->st = NULL;
}

static int group_teardown(void **state)
{
    unsigned q;

    (void)state;
    for (q = NQ; q-- > 0;)
        lane_stop(q);
    rn_link_fanout_release(g.fan);
    sup_netns_del(&g.ns);
    if (g.skip_reason == NULL)
        check_live_objects(0);
    return 0;
}

static int group_setup(void **state)
{
    struct rn_link_tap_params tp = {.tp_ifname = TAP_NAME, .tp_mtu = 1500, .tp_queues = NQ,
                                    .tp_vnet_hdr = true};
    struct rn_link *tapq[NQ] = {0};
    char err[RN_LINK_ERRLEN] = "";
    struct rn_link_caps caps;
    unsigned q;

    (void)state;
    if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
        g.skip_reason = "RSS stacks test skipped: needs root and /dev/net/tun";
        return 0;
    }
    if (sup_netns_make(&g.ns, "rnrsst") != 0)
        return -1;
    rn_rss_init(&g.rss, NQ);
    if (rn_link_fanout_create(&g.rss, fan_wake, NULL, &g.fan) != 0)
        return -1;
    for (q = 0; q < NQ; q++)
        lane_stack(q);
    sup_netns_enter(&g.ns);
    for (q = 0; q < NQ; q++) {
        tp.tp_queue = q;
        tp.tp_pool = rn_stack_pool(g.lane[q].st);
        if (rn_link_tap_open(&tp, &tapq[q], err) != 0) {
            sup_netns_leave(&g.ns);
            fprintf(stderr, "queue %u: %s\n", q, err);
            return -1;
        }
        if (q == 0) {
            rn_link_caps(tapq[0], &caps);
            memcpy(tp.tp_hwaddr, caps.lc_hwaddr, 6);
        }
    }
    sup_netns_leave(&g.ns);
    if (rn_link_tap_set_up(tapq[0], true) != 0)
        return -1;
    for (q = 0; q < NQ; q++)
        lane_start(q, tapq[q], caps.lc_hwaddr);
    for (q = 0; q < NQ; q++)
        lane_run(q);
    /* Linux: two addresses of each family; the second is one refnet
     * has never heard from. */
    if (sup_sh("ip netns exec %s sh -c 'ip addr add 198.18.0.1/15 dev %s && "
            "ip addr add 198.18.0.3/15 dev %s && ip -6 addr add 2001:2::1/64 dev %s nodad && "
            "ip -6 addr add 2001:2::3/64 dev %s nodad'",
            g.ns.sn_name, TAP_NAME, TAP_NAME, TAP_NAME, TAP_NAME) != 0)
        return -1;
    /* Queue 0's stack answers pings once its IPv6 address passed DAD. */
    if (sup_sh("ip netns exec %s sh -c 'ping -c1 -W1 -q 198.18.0.2 >/dev/null && "
            "for i in 1 2 3 4 5 6 7 8 9 10; do "
            "ping -6 -c1 -W1 -q 2001:2::2 >/dev/null && exit 0; sleep 0.3; done; exit 1'",
            g.ns.sn_name) != 0)
        return -1;
    return 0;
}

/* A Linux UDP socket on ip:port in the namespace. */
static int linux_udp(int family, const char *ip, uint16_t port)
{
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {2, 0};
    int fd;

    sup_netns_enter(&g.ns);
    fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sup_netns_leave(&g.ns);
    assert_true(fd >= 0);
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (family == AF_INET) {
        inet_pton(AF_INET, ip, &a4.sin_addr);
        assert_int_equal(bind(fd, (struct sockaddr *)&a4, sizeof(a4)), 0);
    } else {
        inet_pton(AF_INET6, ip, &a6.sin6_addr);
        assert_int_equal(bind(fd, (struct sockaddr *)&a6, sizeof(a6)), 0);
    }
    return fd;
}

struct echo_arg {
    unsigned q;
    unsigned got;
    unsigned wrong;
};

/* Queue q's stack: every datagram to PORT is checked against the hash
 * and sent back, until none came for 300 ms. */
static void *lane_echo(void *arg)
{
    struct echo_arg *ea = arg;
    struct lane *l = &g.lane[ea->q];
    struct rn_sockaddr_in from, me;
    char buf[64];
    ssize_t n;

    while ((n = rn_recvfrom(l->proc, l->udp, buf, sizeof(buf), 0, &from)) > 0) {
        struct rn_inaddr src = {from.sin6_addr}, dst = rn_inaddr_v4(0xc6120002);

        if (!rn_inaddr_is_v4(&src)) {
            sa6(&me, "2001:2::2", 0);
            dst = rn_inaddr_v6(&me.sin6_addr);
        }
        if (rn_rss_flow_queue(&g.rss, &src, &dst, from.sin_port, PORT) != ea->q)
            ea->wrong++;
        ea->got++;
        (void)rn_sendto(l->proc, l->udp, buf, (size_t)n, 0, &from);
    }
    return NULL;
}

/* 64 flows from Linux of each family to refnet's PORT: each comes to the
 * stack of its hash, both stacks get some, and every one is answered. */
static void test_flows_to_their_stack(void **state)
{
    struct echo_arg ea[NQ] = {{0, 0, 0}, {1, 0, 0}};
    struct sockaddr_in6 t6 = {.sin6_family = AF_INET6, .sin6_port = htons(PORT)};
    struct sockaddr_in t4 = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    pthread_t th[NQ];
    int fds[128];
    unsigned i, q, answered = 0;
    char buf[64];

    (void)state;
    if (g.skip_reason)
        skip();
    inet_pton(AF_INET, "198.18.0.2", &t4.sin_addr);
    inet_pton(AF_INET6, "2001:2::2", &t6.sin6_addr);
    for (q = 0; q < NQ; q++)
        assert_int_equal(pthread_create(&th[q], NULL, lane_echo, &ea[q]), 0);
    for (i = 0; i < 128; i++) {
        int fam = i < 64 ? AF_INET : AF_INET6;

        fds[i] = linux_udp(fam, i < 64 ? "198.18.0.1" : "2001:2::1", (uint16_t)(43000 + i));
        snprintf(buf, sizeof(buf), "flow %u", i);
        if (fam == AF_INET)
            assert_true(sendto(fds[i], buf, strlen(buf), 0, (struct sockaddr *)&t4,
                               sizeof(t4)) > 0);
        else
            assert_true(sendto(fds[i], buf, strlen(buf), 0, (struct sockaddr *)&t6,
                               sizeof(t6)) > 0);
    }
    for (i = 0; i < 128; i++) {
        ssize_t n = recv(fds[i], buf, sizeof(buf) - 1, 0);

        if (n > 0) {
            char want[32];

            buf[n] = '\0';
            snprintf(want, sizeof(want), "flow %u", i);
            answered += strcmp(buf, want) == 0;
        }
        close(fds[i]);
    }
    for (q = 0; q < NQ; q++)
        pthread_join(th[q], NULL);
    fprintf(stderr, "stack 0: %u datagrams, stack 1: %u; %u answered\n", ea[0].got, ea[1].got,
            answered);
    assert_int_equal(ea[0].wrong + ea[1].wrong, 0);
    assert_int_equal(ea[0].got + ea[1].got, 128);
    assert_true(ea[0].got >= 32 && ea[1].got >= 32);
    assert_int_equal(answered, 128);
}

/* Queue 1's stack sends to Linux addresses it never heard from: its ARP
 * request and neighbour solicitation go out on queue 1, the answers
 * reach queue 0, and the copies complete the resolution. */
static void test_shadow_resolves(void **state)
{
    struct lane *l = &g.lane[1];
    int f4 = -1, f6 = -1;
    struct rn_sockaddr_in to;
    char buf[16];

    (void)state;
    if (g.skip_reason)
        skip();
    f4 = linux_udp(AF_INET, "198.18.0.3", 9000);
    f6 = linux_udp(AF_INET6, "2001:2::3", 9000);
    sa6(&to, "::ffff:198.18.0.3", 9000);  /* the socket is AF_INET6 */
    assert_int_equal(rn_sendto(l->proc, l->udp, "v4", 2, 0, &to), 2);
    sa6(&to, "2001:2::3", 9000);
    assert_int_equal(rn_sendto(l->proc, l->udp, "v6", 2, 0, &to), 2);
    assert_int_equal(recv(f4, buf, sizeof(buf), 0), 2);
    assert_memory_equal(buf, "v4", 2);
    assert_int_equal(recv(f6, buf, sizeof(buf), 0), 2);
    assert_memory_equal(buf, "v6", 2);
    close(f4);
    close(f6);
}

/* Connections each stack opens complete there: 8 from each stack to a
 * Linux listener, each over a local port that hashes back to it. */
static void test_connects_stay(void **state)
{
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(9100)};
    struct rn_sockaddr_in to, local;
    int lfd, one = 1;
    unsigned q, i;
    char b;

    (void)state;
    if (g.skip_reason)
        skip();
    sup_netns_enter(&g.ns);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sup_netns_leave(&g.ns);
    assert_true(lfd >= 0);
    (void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    inet_pton(AF_INET, "198.18.0.1", &a4.sin_addr);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a4, sizeof(a4)), 0);
    assert_int_equal(listen(lfd, 64), 0);
    sa4(&to, "198.18.0.1", 9100);
    for (q = 0; q < NQ; q++) {
        struct lane *l = &g.lane[q];

        for (i = 0; i < 8; i++) {
            int h = rn_socket(l->proc, RN_SOCK_STREAM, 0);
            struct rn_inaddr src = rn_inaddr_v4(0xc6120001), dst = rn_inaddr_v4(0xc6120002);
            int c;

            assert_true(h > 0);
            assert_int_equal(rn_connect(l->proc, h, &to), 0);
            assert_int_equal(rn_getsockname(l->proc, h, &local), 0);
            assert_int_equal(rn_rss_flow_queue(&g.rss, &src, &dst, 9100, local.sin_port), q);
            assert_int_equal(rn_send(l->proc, h, "x", 1, 0), 1);
            c = accept(lfd, NULL, NULL);
            assert_true(c >= 0);
            assert_int_equal(write(c, "y", 1), 1);
            assert_int_equal(rn_recv(l->proc, h, &b, 1, 0), 1);
            assert_int_equal(b, 'y');
            close(c);
            assert_int_equal(rn_close(l->proc, h), 0);
        }
    }
    close(lfd);
}

/* UDP sockets each stack connects get answers there: 8 from each stack
 * to a Linux socket, each over a local port that hashes back to it (a
 * port hashed elsewhere would have its answers steered to a stack with
 * no socket on it). */
static void test_udp_connects_stay(void **state)
{
    struct rn_sockaddr_in to, local;
    struct sockaddr_in from;
    socklen_t fl;
    unsigned q, i;
    int lfd, k;
    char b[8];

    (void)state;
    if (g.skip_reason)
        skip();
    lfd = linux_udp(AF_INET, "198.18.0.1", 9200);
    sa4(&to, "198.18.0.1", 9200);
    for (q = 0; q < NQ; q++) {
        struct lane *l = &g.lane[q];

        for (i = 0; i < 8; i++) {
            int h = rn_socket(l->proc, RN_SOCK_DGRAM, 0);
            struct rn_inaddr src = rn_inaddr_v4(0xc6120001), dst = rn_inaddr_v4(0xc6120002);
            ssize_t n = RN_EAGAIN;

            assert_true(h > 0);
            assert_int_equal(rn_connect(l->proc, h, &to), 0);
            assert_int_equal(rn_getsockname(l->proc, h, &local), 0);
            assert_int_equal(rn_rss_flow_queue(&g.rss, &src, &dst, 9200, local.sin_port), q);
            assert_int_equal(rn_send(l->proc, h, "x", 1, 0), 1);
            fl = sizeof(from);
            assert_int_equal(recvfrom(lfd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl), 1);
            assert_int_equal(sendto(lfd, "y", 1, 0, (struct sockaddr *)&from, fl), 1);
            /* The answer within 2 s, not a wait for ever if it went astray. */
            for (k = 0; k < 200 && n == RN_EAGAIN; k++) {
                n = rn_recv(l->proc, h, b, sizeof(b), RN_MSG_DONTWAIT);
                if (n == RN_EAGAIN)
                    usleep(10000);
            }
            assert_int_equal(n, 1);
            assert_int_equal(b[0], 'y');
            assert_int_equal(rn_close(l->proc, h), 0);
        }
    }
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flows_to_their_stack),
        cmocka_unit_test(test_shadow_resolves),
        cmocka_unit_test(test_connects_stay),
        cmocka_unit_test(test_udp_connects_stay),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
