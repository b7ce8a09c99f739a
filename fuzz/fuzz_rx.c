/*
 * libFuzzer target for a stack's receive path, with time in the input.
 *
 * One stack, 198.18.0.2/15 and 2001:2::2/64 (with its link-local
 * address fe80::ff:fe00:1, both preferred once their duplicate address
 * detection ends, a second in) on interface sim0 (MAC 02:00:00:00:00:01),
 * with small ARP and reassembly tables, UDP and TCP set up and the UDP
 * echo service on port 7 and a TCP listener on port 80 that never accepts
 * (FUZZ_RX_NO_TCP_LISTEN in the environment leaves it out), sits on one end of a
 * simulated cable; the fuzzer holds the other end
 * (MAC 02:00:00:00:00:02) and sends the input's frames on it.  The input
 * is a sequence of records, each
 *
 *     u16 dt     big-endian: virtual milliseconds to advance first
 *     u16 flags  big-endian: bits 0-13 the record's length n;
 *                bit 15: repair the IPv4 header checksum and, for an
 *                        unfragmented datagram, the ICMP/UDP/TCP checksum
 *                        (random bytes almost never carry right ones);
 *                bit 14: instead of receiving the n bytes, the stack
 *                        sends an ICMP echo request carrying them to
 *                        198.18.0.1 (exercises ARP queueing, resolution
 *                        by a later frame, and fragmentation)
 *     n bytes    the frame (fewer if the input ends first)
 *
 * After each record the stack is polled at the new time, and whatever it
 * sent is taken off the cable and dropped.  At the end virtual time runs
 * on for two minutes, deadline by deadline, so every timer (ARP retries
 * and expiry, reassembly timeouts) fires.  Then the echo service stops
 * and the listener's process (if any) exits (both must finish within a bounded
 * number of polls), the stack is destroyed, and the target aborts unless
 * every buffer came back to both pools and no object is left alive.  The frame summariser of the simulator's trace
 * reads every frame too.
 *
 * Seed corpus: fuzz/corpus/rx/, made by fuzz/gen_rx_corpus.py.  With
 * FUZZ_RX_VERBOSE set in the environment, every frame in and out is
 * printed with its summary, and the stack's counters at the end: to see
 * what an input (a crash reproducer, a corpus file) does.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "apps/apps.h"
#include "ctl/render.h"
#include "refnet/clock.h"
#include "refnet/link.h"
#include "refnet/netbuf.h"
#include "refnet/object.h"
#include "refnet/sim.h"
#include "refnet/socket.h"
#include "refnet/stack.h"
#include "refnet/strbuf.h"
#include "refnet/transport.h"
#include "wire/wire.h"

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "check failed at %s:%d: %s\n", __FILE__,         \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

#define REC_HLEN 4
#define REC_REPAIR 0x8000u
#define REC_ORIGINATE 0x4000u
#define REC_LEN_MASK 0x3fffu
#define MAX_RECORDS 256
#define PEER_ADDR 0xc6120001u  /* 198.18.0.1 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static _Atomic rn_time_t fuzz_now;
static struct rn_nbpool *peer_pool;
static rn_nb_owner_t own_peer, own_ping;
static struct rn_strbuf summary = RN_STRBUF_INIT;
static uint8_t frame[REC_LEN_MASK + RN_ICMP_HLEN];
static bool verbose;
static bool tcp_listen;

static rn_time_t fuzz_clock(void *ctx)
{
    (void)ctx;
    return atomic_load(&fuzz_now);
}

static void setup_once(void)
{
    static int done;
    struct rn_nbpool_params pp = {.np_name = "fuzz-peer", .np_max = 1024};

    if (done)
        return;
    done = 1;
    verbose = getenv("FUZZ_RX_VERBOSE") != NULL;
    tcp_listen = getenv("FUZZ_RX_NO_TCP_LISTEN") == NULL;
    if (verbose)
        setvbuf(stdout, NULL, _IOLBF, 0);  /* keep what was printed if a check aborts */
    rn_clock_set_source(fuzz_clock, NULL);
    CHECK(rn_nbpool_create(&pp, &peer_pool) == 0);
    own_peer = rn_nb_owner_register("fuzz.peer");
    own_ping = rn_nb_owner_register("fuzz.ping");
    CHECK(own_peer != RN_NB_OWNER_NONE && own_ping != RN_NB_OWNER_NONE);
}

/* Repairs the checksums of the Ethernet frame p of len bytes, in range. */
static void repair(uint8_t *p, size_t len)
{
    size_t hlen, tot, n;
    uint8_t *ip, *l4;
    uint32_t src, dst;

    if (len < RN_ETH_HLEN + RN_IP4_HLEN || rn_get_be16(p + 12) != RN_ETHERTYPE_IPV4)
        return;
    ip = p + RN_ETH_HLEN;
    len -= RN_ETH_HLEN;
    hlen = (size_t)(ip[0] & 0x0f) * 4;
    if (hlen < RN_IP4_HLEN || hlen > len)
        return;
    rn_put_be16(ip + 10, 0);
    rn_put_be16(ip + 10, rn_csum(ip, hlen));
    tot = rn_get_be16(ip + 2);
    if (tot < hlen || tot > len || (rn_get_be16(ip + 6) & 0x3fff) != 0)
        return;  /* bad length, or a fragment: its transport sum spans others */
    l4 = ip + hlen;
    n = tot - hlen;
    src = rn_get_be32(ip + 12);
    dst = rn_get_be32(ip + 16);
    if (ip[9] == RN_IPPROTO_ICMP && n >= RN_ICMP_HLEN) {
        rn_put_be16(l4 + 2, 0);
        rn_put_be16(l4 + 2, rn_csum(l4, n));
    } else if (ip[9] == RN_IPPROTO_UDP && n >= RN_UDP_HLEN) {
        size_t ulen = rn_get_be16(l4 + 4);

        if (ulen >= RN_UDP_HLEN && ulen <= n) {
            rn_put_be16(l4 + 6, 0);
            rn_put_be16(l4 + 6, rn_csum_fold(rn__csum_partial(
                                    l4, ulen, rn_csum_pseudo4(src, dst, 17, (uint32_t)ulen))));
        }
    } else if (ip[9] == RN_IPPROTO_TCP && n >= RN_TCP_HLEN) {
        rn_put_be16(l4 + 16, 0);
        rn_put_be16(l4 + 16, rn_csum_fold(rn__csum_partial(
                                 l4, n, rn_csum_pseudo4(src, dst, 6, (uint32_t)n))));
    }
}

/* Takes everything the stack sent off the cable. */
static void drain(struct rn_link *peer, rn_time_t now)
{
    struct rn_netbuf *pkts[64];
    int n, i;

    do {
        n = rn_link_rx(peer, pkts, 64, now);
        for (i = 0; i < n; i++) {
            CHECK(rn_nb_check(pkts[i]));
            if (verbose) {
                size_t len = pkts[i]->nb_pktlen;
                uint8_t *copy = malloc(len ? len : 1);

                CHECK(copy != NULL);
                rn_nb_linearize(pkts[i], copy, len);
                rn_strbuf_reset(&summary);
                rn_sim_frame_summary(copy, len, &summary);
                printf("%llu.%09llu out %zu %s\n", (unsigned long long)(now / RN_NSEC_PER_SEC),
                       (unsigned long long)(now % RN_NSEC_PER_SEC), len,
                       rn_strbuf_str(&summary));
                free(copy);
            }
            rn_nb_free(pkts[i]);
        }
    } while (n == 64);
}

/* The stack sends an echo request with the record's bytes as data. */
static void originate(struct rn_stack *st, const uint8_t *p, size_t n)
{
    struct rn_ip_out out = {.io_dst = PEER_ADDR, .io_proto = RN_IPPROTO_ICMP};
    struct rn_netbuf *nb = rn__ip_alloc(st, own_ping);

    if (nb == NULL)
        return;
    frame[0] = RN_ICMP_ECHO;
    frame[1] = 0;
    rn_put_be16(frame + 2, 0);
    rn_put_be32(frame + 4, 0x12340000u | (uint32_t)(n & 0xffff));
    memcpy(frame + RN_ICMP_HLEN, p, n);
    rn_put_be16(frame + 2, rn_csum(frame, RN_ICMP_HLEN + n));
    if (rn_nb_copyin(nb, 0, frame, RN_ICMP_HLEN + n) < 0) {
        rn_nb_free(nb);
        return;
    }
    rn__ip_output(st, nb, &out);
}

/* Sends the n-byte frame at p from the peer's end. */
static void inject(struct rn_link *peer, const uint8_t *p, size_t n, bool fix, rn_time_t now)
{
    struct rn_netbuf *nb;

    memcpy(frame, p, n);
    if (fix)
        repair(frame, n);
    rn_strbuf_reset(&summary);
    rn_sim_frame_summary(frame, n, &summary);
    if (verbose)
        printf("%llu.%09llu in  %zu %s\n", (unsigned long long)(now / RN_NSEC_PER_SEC),
               (unsigned long long)(now % RN_NSEC_PER_SEC), n, rn_strbuf_str(&summary));
    nb = rn_nb_alloc(peer_pool, own_peer);
    CHECK(nb != NULL);
    if (rn_nb_copyin(nb, 0, frame, n) < 0) {
        rn_nb_free(nb);
        return;
    }
    rn_link_tx(peer, &nb, 1, now);
}

static void set_flag(void *ctx)
{
    *(bool *)ctx = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Small tables, so that short inputs reach the limits: reassembly
     * memory and datagrams, ARP cache eviction and queue overflow. */
    struct rn_stack_params sp = {
        .sp_name = "fuzz",
        .sp_seed = 1,
        .sp_pool_max = 512,
        .sp_arp_max_entries = 4,
        .sp_arp_queue_max = 4,
        .sp_reass_max_bytes = 32u << 10,
        .sp_reass_max_datagrams = 8,
    };
    struct rn_sim_cable_params cp = {
        .sc_hwaddr_a = {0x02, 0, 0, 0, 0, 0x01},
        .sc_hwaddr_b = {0x02, 0, 0, 0, 0, 0x02},
        .sc_name = "fuzz",
    };
    struct rn_iface_params ip = {
        .ifp_name = "sim0",
        .ifp_addr = 0xc6120002u,
        .ifp_plen = 15,
        .ifp_no_garp = true,
        .ifp_ipv6 = true,
    };
    static const struct rn_ip6 addr6 = {{0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
    struct rn_stack *st;
    struct rn_link *end_a, *peer;
    struct rn_iface *ifp;
    struct rn_echo *echo;
    struct rn_proc *tcp = NULL;
    bool echo_stopped = false;
    int h;
    rn_time_t now = RN_SEC(1), end;
    size_t off = 0;
    unsigned records = 0, i;

    setup_once();
    atomic_store(&fuzz_now, now);
    CHECK(rn_stack_create(&sp, &st) == 0);
    cp.sc_pool_a = rn_stack_pool(st);
    cp.sc_pool_b = peer_pool;
    CHECK(rn_sim_cable_new(&cp, &end_a, &peer) == 0);
    ip.ifp_link = end_a;
    CHECK(rn_stack_add_iface(st, &ip, &ifp) == 0);
    CHECK(rn_iface_add_addr6(ifp, &addr6, 64) == 0);
    CHECK(rn_sock_layer_init(st) == 0);
    CHECK(rn__echo_start(st, NULL, &echo) == 0);
    if (tcp_listen) {
        CHECK(rn_proc_create(st, "fuzz-tcp", &tcp) == 0);
        h = rn_sock_open(tcp, RN_SOCK_STREAM, 0);
        CHECK(h > 0);
        CHECK(rn_sock_bind(tcp, h, &(struct rn_sockaddr_in){.sin_port = 80}) == 0);
        CHECK(rn_sock_listen(tcp, h, 4) == 0);
    }
    rn_stack_poll(st, now);

    while (off + REC_HLEN <= size && records++ < MAX_RECORDS) {
        unsigned dt = rn_get_be16(data + off), flags = rn_get_be16(data + off + 2);
        size_t n = flags & REC_LEN_MASK;

        off += REC_HLEN;
        if (n > size - off)
            n = size - off;
        now += RN_MSEC(dt);
        atomic_store(&fuzz_now, now);
        if (flags & REC_ORIGINATE)
            originate(st, data + off, n);
        else
            inject(peer, data + off, n, (flags & REC_REPAIR) != 0, now);
        off += n;
        rn_stack_poll(st, now);
        drain(peer, now);
    }

    /* Let every timer run out, one deadline at a time. */
    end = now + RN_SEC(120);
    for (i = 0; i < 10000; i++) {
        rn_time_t d = rn_stack_next_deadline(st);

        if (d == 0 || d > end)
            break;
        if (d > now)
            now = d;
        atomic_store(&fuzz_now, now);
        rn_stack_poll(st, now);
        drain(peer, now);
    }
    CHECK(i < 10000);

    /* Services stop before their stack goes, and must manage to. */
    rn__echo_stop(echo, set_flag, &echo_stopped);
    if (tcp != NULL)
        rn_proc_exit(tcp);
    for (i = 0; i < 1000 && !echo_stopped; i++) {
        rn_time_t d = rn_stack_next_deadline(st);

        if (d > now)
            now = d;
        atomic_store(&fuzz_now, now);
        rn_stack_poll(st, now);
        drain(peer, now);
    }
    CHECK(echo_stopped);

    if (verbose) {
        struct rn_strbuf sb = RN_STRBUF_INIT;

        rn__render_stats(st, &sb, false);
        fputs(rn_strbuf_str(&sb), stdout);
        rn_strbuf_free(&sb);
    }
    rn_link_close(peer);
    CHECK(rn_stack_destroy(st) == 0);
    CHECK(rn_nbpool_outstanding(peer_pool, RN_NB_OWNER_NONE) == 0);
    rn_ob_drain();
    CHECK(rn_ob_live_count(NULL) == 0);
    return 0;
}
