/*
 * TAP link against the real Linux kernel, in a network namespace made for
 * the test and deleted afterwards (also when a test fails).
 *
 * The TAP device is created inside the namespace with the Linux side at
 * 198.18.0.1/15; refnet's side is 198.18.0.2.  Hand-built frames go out
 * through tx and the kernel's answers must come back through rx: an ARP
 * reply, and ICMP echo replies, one small and one of 6000 bytes (MTU 9000),
 * which arrives as a chain of buffers and is sent as one too.
 *
 * Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for setns); skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_link.h"
#include "refnet/link.h"
#include "support.h"

#define TAP_NAME "rntap0"
#define TAP_MTU 9000

static struct {
    bool ready;                  /* set up; tests run */
    const char *skip_reason;     /* why not, if not */
    char netns[32];              /* namespace name, "" if none made */
    struct rn_nbpool *pool;
    struct rn_link *tap;
    uint8_t mac[6];              /* refnet's address on the tap */
    uint8_t kernel_mac[6];       /* the Linux side's, learnt by ARP */
    bool have_kernel_mac;
} g;

static rn_time_t os_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (rn_time_t)ts.tv_sec * RN_NSEC_PER_SEC + (rn_time_t)ts.tv_nsec;
}

static int group_teardown(void **state)
{
    uint32_t leaked = 0;

    /* The namespace goes first, whatever else failed. */
    rn_link_close(g.tap);
    g.tap = NULL;
    if (g.netns[0]) {
        sup_sh("ip netns del %s", g.netns);
        g.netns[0] = '\0';
    }
    if (g.pool) {
        leaked = rn_nbpool_outstanding(g.pool, RN_NB_OWNER_NONE);
        rn_nbpool_destroy(g.pool);
        g.pool = NULL;
    }
    if (leaked) {
        fprintf(stderr, "%u buffers outstanding at the end\n", leaked);
        return -1;
    }
    return 0;
}

static int group_setup(void **state)
{
    struct rn_link_tap_params tp = {.tp_ifname = TAP_NAME, .tp_mtu = TAP_MTU, .tp_up = true};
    char err[RN_LINK_ERRLEN] = "", path[64];
    struct rn_link_caps caps;
    int self = -1, ns = -1, rc;

    if (geteuid() != 0) {
        g.skip_reason = "TAP test skipped: needs root to create a network namespace and a TAP";
        return 0;
    }
    if (access("/dev/net/tun", R_OK | W_OK) != 0) {
        g.skip_reason = "TAP test skipped: /dev/net/tun is not available";
        return 0;
    }
    snprintf(g.netns, sizeof(g.netns), "rnlink%ld", (long)getpid());
    if (sup_sh("ip netns add %s", g.netns) != 0) {
        g.netns[0] = '\0';
        return -1;
    }
    /* Create the TAP inside the namespace: enter it, open, come back. */
    snprintf(path, sizeof(path), "/run/netns/%s", g.netns);
    self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ns = open(path, O_RDONLY | O_CLOEXEC);
    if (self < 0 || ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
        fprintf(stderr, "cannot enter namespace %s: %s\n", g.netns, strerror(errno));
        goto out_fail;
    }
    g.pool = th_pool(256);
    tp.tp_pool = g.pool;
    rc = rn_link_tap_open(&tp, &g.tap, err);
    if (setns(self, CLONE_NEWNET) != 0) {
        fprintf(stderr, "cannot return to the original namespace: %s\n", strerror(errno));
        abort();  /* carrying on would run the other tests in the wrong place */
    }
    if (rc != 0) {
        fprintf(stderr, "rn_link_tap_open: %s\n", err);
        goto out_fail;
    }
    close(self);
    close(ns);
    rn_link_caps(g.tap, &caps);
    memcpy(g.mac, caps.lc_hwaddr, 6);
    if (sup_sh("ip netns exec %s ip addr add 198.18.0.1/15 dev %s", g.netns, TAP_NAME) != 0)
        return group_teardown(state), -1;
    g.ready = true;
    return 0;

out_fail:
    if (self >= 0)
        close(self);
    if (ns >= 0)
        close(ns);
    group_teardown(state);
    return -1;
}

static void need_tap(void)
{
    if (!g.ready) {
        fprintf(stderr, "%s\n", g.skip_reason ? g.skip_reason : "TAP test skipped");
        skip();
    }
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Answers the kernel's ARP requests for refnet's address, so that its
 * replies can reach us.  Returns true if f was such a request. */
static bool answer_arp(const uint8_t *f, size_t len)
{
    uint8_t reply[64];
    size_t n;

    if (len < 42 || get16(f + 12) != 0x0806 || get16(f + 20) != 1 ||
        get32(f + 38) != TH_IP_REFNET)
        return false;
    n = th_arp_reply(reply, g.mac, TH_IP_REFNET, f + 22, get32(f + 28));
    assert_int_equal(rn_link_tx1(g.tap, th_packet(g.pool, reply, n), os_now()), 1);
    return true;
}

typedef bool (*match_fn)(const uint8_t *f, size_t len, void *ctx);

/* Receives until match() accepts a frame, for at most 3 s.  The matched
 * frame is copied into out (outcap bytes); returns its length, or 0 on
 * timeout. */
static size_t wait_for(match_fn match, void *ctx, uint8_t *out, size_t outcap,
                       unsigned *chained)
{
    static uint8_t f[65536];
    rn_time_t deadline = os_now() + RN_SEC(3);
    struct rn_netbuf *pkts[16];
    struct pollfd pfd = {.fd = rn_link_poll_fd(g.tap), .events = POLLIN};
    size_t found = 0;
    int loops = 0;

    assert_true(pfd.fd >= 0);
    while (found == 0 && os_now() < deadline && loops++ < 1000) {
        int n, i;

        if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
        n = rn_link_rx(g.tap, pkts, 16, os_now());
        assert_true(n >= 0);
        for (i = 0; i < n; i++) {
            int len = rn_nb_linearize(pkts[i], f, sizeof(f));

            assert_true(len > 0);
            assert_true(rn_nb_check(pkts[i]));
            if (found == 0 && !answer_arp(f, (size_t)len) && match(f, (size_t)len, ctx)) {
                assert_true((size_t)len <= outcap);
                memcpy(out, f, (size_t)len);
                found = (size_t)len;
                if (chained)
                    *chained = rn_nb_count(pkts[i]);
            }
            rn_nb_free(pkts[i]);
        }
    }
    return found;
}

static bool is_arp_reply(const uint8_t *f, size_t len, void *ctx)
{
    return len >= 42 && get16(f + 12) == 0x0806 && get16(f + 20) == 2 &&
           get32(f + 28) == TH_IP_LINUX && get32(f + 38) == TH_IP_REFNET;
}

static void read_kernel_mac(uint8_t *mac)
{
    char cmd[160], line[64];
    unsigned m[6];
    FILE *p;
    int i;

    snprintf(cmd, sizeof(cmd), "ip netns exec %s cat /sys/class/net/%s/address", g.netns,
             TAP_NAME);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof(line), p));
    pclose(p);
    assert_int_equal(sscanf(line, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]),
                     6);
    for (i = 0; i < 6; i++)
        mac[i] = (uint8_t)m[i];
}

static void test_arp_with_kernel(void **state)
{
    uint8_t frame[64], reply[2048], linux_mac[6];
    struct rn_link_stats st;
    struct rn_link_caps caps;
    size_t len;

    need_tap();
    rn_link_caps(g.tap, &caps);
    assert_int_equal(caps.lc_mtu, TAP_MTU);  /* set on the device at open */
    assert_true(caps.lc_has_hwaddr);
    assert_int_equal(caps.lc_hwaddr[0] & 0x03, 0x02);  /* unicast, locally administered */
    assert_string_equal(rn_link_tap_ifname(g.tap), TAP_NAME);

    len = th_arp_request(frame, g.mac, TH_IP_REFNET, TH_IP_LINUX);
    assert_int_equal(rn_link_tx1(g.tap, th_packet(g.pool, frame, len), os_now()), 1);
    len = wait_for(is_arp_reply, NULL, reply, sizeof(reply), NULL);
    if (len == 0)
        fail_msg("no ARP reply from the kernel within 3 s");
    /* Field by field: to us, from the kernel's device address. */
    read_kernel_mac(linux_mac);
    assert_memory_equal(reply, g.mac, 6);
    assert_memory_equal(reply + 6, linux_mac, 6);
    assert_memory_equal(reply + 22, linux_mac, 6);  /* sender hardware address */
    assert_memory_equal(reply + 32, g.mac, 6);      /* target hardware address */
    memcpy(g.kernel_mac, linux_mac, 6);
    g.have_kernel_mac = true;
    rn_link_stats(g.tap, &st);
    assert_true(st.ls_tx_frames >= 1);
    assert_true(st.ls_rx_frames >= 1);
    assert_int_equal(st.ls_tx_errors, 0);
}

struct echo_want {
    uint16_t id;
    uint16_t seq;
    size_t len;
};

static bool is_echo_reply(const uint8_t *f, size_t len, void *ctx)
{
    const struct echo_want *w = ctx;

    return len >= 42 && get16(f + 12) == 0x0800 && f[23] == 1 && get32(f + 26) == TH_IP_LINUX &&
           get32(f + 30) == TH_IP_REFNET && f[34] == 0 && get16(f + 38) == w->id &&
           get16(f + 40) == w->seq;
}

static void ping(uint16_t seq, size_t payload, unsigned *chained_in)
{
    static uint8_t frame[TAP_MTU + 14], reply[TAP_MTU + 14];
    struct echo_want w = {.id = 0x5151, .seq = seq};
    struct rn_netbuf *nb;
    size_t len, got;

    need_tap();
    if (!g.have_kernel_mac)
        read_kernel_mac(g.kernel_mac);
    len = th_icmp_echo(frame, g.mac, g.kernel_mac, TH_IP_REFNET, TH_IP_LINUX, w.id, seq, payload);
    w.len = len;
    nb = th_packet(g.pool, frame, len);
    assert_int_equal(rn_link_tx1(g.tap, nb, os_now()), 1);
    got = wait_for(is_echo_reply, &w, reply, sizeof(reply), chained_in);
    if (got == 0)
        fail_msg("no ICMP echo reply (seq %u, %zu bytes) from the kernel within 3 s", seq, len);
    assert_int_equal(got, len);
    /* A valid IPv4 header and ICMP checksum, and our payload echoed. */
    assert_int_equal(th_csum_fold(reply + 14, 20, 0), 0xffff);
    assert_int_equal(th_csum_fold(reply + 34, len - 34, 0), 0xffff);
    assert_memory_equal(reply + 42, frame + 42, payload);
}

static void test_icmp_echo_with_kernel(void **state)
{
    ping(1, 56, NULL);
}

static void test_large_frame_chains(void **state)
{
    unsigned chained = 0;

    /* 6042 bytes: more than one 2048-byte buffer each way. */
    ping(2, 6000, &chained);
    assert_true(chained >= 3);
}

struct tap_values {
    const char *batches;
    uint64_t rx_batches;
    uint64_t tx_batches;
    char text[16];
};

static void tap_value(const struct rn_value *v, void *ctx)
{
    struct tap_values *tv = ctx;

    if (strcmp(v->v_name, "batches") == 0) {
        snprintf(tv->text, sizeof(tv->text), "%s", v->v_text);
        tv->batches = tv->text;
    } else if (strcmp(v->v_name, "tx_batches") == 0) {
        tv->tx_batches = v->v_value;
    } else if (strcmp(v->v_name, "rx_batches") == 0) {
        tv->rx_batches = v->v_value;
    }
}

#define BATCH_FRAMES 100u
#define BATCH_SEQ0 1000u
#define BATCH_LONG 50u      /* this one goes out in 40 pieces */

struct batch_want {
    bool seen[BATCH_FRAMES];
    unsigned nseen;
};

/* Marks each echo reply of the batch; accepts the frame that completes it. */
static bool batch_reply(const uint8_t *f, size_t len, void *ctx)
{
    struct batch_want *w = ctx;
    unsigned i;

    if (len < 42 || get16(f + 12) != 0x0800 || f[23] != 1 || f[34] != 0 ||
        get16(f + 38) != 0x5152)
        return false;
    i = get16(f + 40) - BATCH_SEQ0;
    if (i < BATCH_FRAMES && !w->seen[i]) {
        w->seen[i] = true;
        w->nseen++;
    }
    return w->nseen == BATCH_FRAMES;
}

/* One transmit call of 100 frames, one of them a chain of more pieces than
 * a write takes (written flat, alone, between two batches): every frame
 * reaches the kernel, which answers each; with io_uring the call made two
 * submissions, not a hundred writes. */
static void test_tx_batch(void **state)
{
    static uint8_t frame[TAP_MTU + 14], reply[TAP_MTU + 14];
    struct rn_netbuf *pkts[BATCH_FRAMES];
    struct tap_values before = {0}, after = {0};
    struct batch_want w = {0};
    struct rn_link_stats st0, st1;
    unsigned i, p;
    size_t len = 0;

    need_tap();
    if (!g.have_kernel_mac)
        read_kernel_mac(g.kernel_mac);
    rn_link_values(g.tap, tap_value, &before);
    rn_link_stats(g.tap, &st0);
    for (i = 0; i < BATCH_FRAMES; i++) {
        len = th_icmp_echo(frame, g.mac, g.kernel_mac, TH_IP_REFNET, TH_IP_LINUX, 0x5152,
                           (uint16_t)(BATCH_SEQ0 + i), 120);
        if (i != BATCH_LONG) {
            pkts[i] = th_packet(g.pool, frame, len);
            continue;
        }
        /* 40 pieces of 4 bytes, then the rest. */
        pkts[i] = th_packet(g.pool, frame, 4);
        for (p = 1; p < 40; p++)
            rn_nb_cat(pkts[i], th_packet(g.pool, frame + 4 * p, 4));
        rn_nb_cat(pkts[i], th_packet(g.pool, frame + 160, len - 160));
        assert_int_equal(rn_nb_count(pkts[i]), 41);
    }
    assert_int_equal(rn_link_tx(g.tap, pkts, BATCH_FRAMES, os_now()), BATCH_FRAMES);
    rn_link_stats(g.tap, &st1);
    assert_int_equal(st1.ls_tx_frames - st0.ls_tx_frames, BATCH_FRAMES);
    assert_int_equal(st1.ls_tx_errors, st0.ls_tx_errors);
    if (wait_for(batch_reply, &w, reply, sizeof(reply), NULL) == 0)
        fail_msg("%u of %u echo replies from the kernel within 3 s", w.nseen, BATCH_FRAMES);
    rn_link_values(g.tap, tap_value, &after);
    assert_non_null(after.batches);
    if (strcmp(after.batches, "io_uring") == 0) {
        assert_int_equal(after.tx_batches - before.tx_batches, 2);
        /* 100 answers, read in batches: fewer submissions than frames. */
        assert_true(after.rx_batches > before.rx_batches);
        assert_true(after.rx_batches - before.rx_batches < BATCH_FRAMES);
    }
    else
        fprintf(stderr, "io_uring is not allowed here: the frames went one writev each\n");
}

static void test_rx_without_buffers(void **state)
{
    static uint8_t frame[200];
    struct rn_link_stats before, after;
    struct pollfd pfd = {.events = POLLIN};
    struct rn_netbuf *nb, *pkts[4];
    struct rn_nbq hoard;
    size_t len;
    int n;

    need_tap();
    if (!g.have_kernel_mac)
        read_kernel_mac(g.kernel_mac);
    len = th_icmp_echo(frame, g.mac, g.kernel_mac, TH_IP_REFNET, TH_IP_LINUX, 0x5151, 9, 56);
    /* Take every remaining buffer, then let the kernel answer. */
    rn_nbq_init(&hoard);
    while ((nb = rn_nb_alloc(g.pool, th_owner())) != NULL)
        rn_nbq_put(&hoard, nb);
    rn_link_stats(g.tap, &before);
    pfd.fd = rn_link_poll_fd(g.tap);
    /* Three requests; the link may still hold a spare buffer from an
     * earlier read (like a NIC's ring), but not three. */
    for (int i = 0; i < 3; i++) {
        nb = rn_nbq_get(&hoard);  /* one buffer back for each request */
        rn_nb_free(nb);
        len = th_icmp_echo(frame, g.mac, g.kernel_mac, TH_IP_REFNET, TH_IP_LINUX, 0x5151,
                           (uint16_t)(9 + i), 56);
        nb = th_packet(g.pool, frame, len);
        assert_int_equal(rn_link_tx1(g.tap, nb, os_now()), 1);
        nb = rn_nb_alloc(g.pool, th_owner());  /* and the pool is empty again */
        assert_non_null(nb);
        rn_nbq_put(&hoard, nb);
    }
    assert_int_equal(poll(&pfd, 1, 3000), 1);
    usleep(100000);  /* let all three replies arrive */
    /* The replies are taken off the device and counted, not left there. */
    n = rn_link_rx(g.tap, pkts, 4, os_now());
    assert_true(n < 3);
    while (n > 0)
        rn_nb_free(pkts[--n]);
    rn_link_stats(g.tap, &after);
    assert_true(after.ls_rx_drops > before.ls_rx_drops);
    rn_nbq_purge(&hoard);
}

static void test_open_errors(void **state)
{
    struct rn_link_tap_params tp = {.tp_ifname = "this-name-is-too-long", .tp_pool = NULL};
    char err[RN_LINK_ERRLEN] = "";
    struct rn_link *l = NULL;

    need_tap();
    tp.tp_pool = g.pool;
    assert_int_not_equal(rn_link_tap_open(&tp, &l, err), 0);
    assert_non_null(strstr(err, "this-name-is-too-long"));
    assert_null(l);
}

/* With IFF_VNET_HDR the device offers checksum offload and TSO, over
 * IPv4 and IPv6. */
static void test_vnet_offloads(void **state)
{
    struct rn_link_tap_params tp = {.tp_ifname = "rnv0", .tp_vnet_hdr = true};
    char err[RN_LINK_ERRLEN] = "";
    struct rn_link_caps caps;
    struct rn_link *l = NULL;

    need_tap();
    tp.tp_pool = g.pool;
    assert_int_equal(rn_link_tap_open(&tp, &l, err), 0);
    rn_link_caps(l, &caps);
    assert_int_equal(caps.lc_offloads, RN_LINK_OFF_TX_CSUM | RN_LINK_OFF_RX_CSUM |
                                           RN_LINK_OFF_TSO | RN_LINK_OFF_TSO6 |
                                           RN_LINK_OFF_TX_REF);
    rn_link_close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arp_with_kernel),
        cmocka_unit_test(test_icmp_echo_with_kernel),
        cmocka_unit_test(test_large_frame_chains),
        cmocka_unit_test(test_tx_batch),
        cmocka_unit_test(test_rx_without_buffers),
        cmocka_unit_test(test_vnet_offloads),
        cmocka_unit_test(test_open_errors),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
