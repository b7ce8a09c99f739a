/*
 * Benchmark of the receive path in the simulator (no system calls): frames
 * built by the benchmark are sent on one end of a simulated cable and a
 * stack on the other end takes them in, 64 per poll as a TAP read batch
 * would be.  Three settings, interleaved, best of several runs:
 *
 *   link   the reference: the same frames through the cable alone (tx on
 *          one end, rx on the other, freed): what it costs to make, carry
 *          and free a frame, without the stack
 *   udp    64-byte UDP datagrams to a port nobody holds: Ethernet, IPv4
 *          with its checksum, UDP's lookup, the drop (udp_no_port) and the
 *          ICMP error's rate limit (which lets 1000 a second through)
 *   icmp   98-byte ICMP echo requests: the whole receive path and an echo
 *          reply built and sent for each
 *
 * Virtual time advances 1 us per batch of 64 frames.  The cable and the
 * stack share one buffer pool, so no frame is copied on the cable.
 *
 * Usage: bench-rx [frames] [runs]   (default 2,000,000 frames, 5 runs)
 * Prints one JSON line: frames per second for each setting, ns per frame,
 * and the rate of each stack setting as a ratio to the link's.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refnet/clock.h"
#include "refnet/link.h"
#include "refnet/netbuf.h"
#include "refnet/stack.h"
#include "refnet/socket.h"
#include "refnet/transport.h"

#define ADDR_A 0xc6120001u  /* 198.18.0.1: the sender, the benchmark */
#define ADDR_B 0xc6120002u  /* 198.18.0.2: the stack */
#define BATCH 64

enum setting { S_LINK, S_UDP, S_ICMP, S_COUNT_ };
static const char *const setting_names[S_COUNT_] = {"link", "udp", "icmp"};

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0x02};

static rn_time_t vnow;

static rn_time_t vclock(void *ctx)
{
    (void)ctx;
    return vnow;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* The Internet checksum of len bytes, folded and complemented. */
static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    size_t i;

    for (i = 0; i + 1 < len; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* Writes an Ethernet + IPv4 header for a payload of plen bytes of protocol
 * proto; returns the header's length (34). */
static size_t eth_ip(uint8_t *f, uint8_t proto, size_t plen)
{
    memcpy(f, mac_b, 6);
    memcpy(f + 6, mac_a, 6);
    put16(f + 12, 0x0800);
    f[14] = 0x45;
    f[15] = 0;
    put16(f + 16, (uint16_t)(20 + plen));
    put16(f + 18, 1);
    put16(f + 20, 0x4000);  /* DF */
    f[22] = 64;
    f[23] = proto;
    put16(f + 24, 0);
    put32(f + 26, ADDR_A);
    put32(f + 30, ADDR_B);
    put16(f + 24, csum(f + 14, 20));
    return 34;
}

/* The frame of a setting into f; returns its length. */
static size_t make_frame(enum setting s, uint8_t *f)
{
    size_t h;

    if (s == S_ICMP) {
        /* 56 bytes of data, as ping sends. */
        h = eth_ip(f, 1, 64);
        memset(f + h, 0, 64);
        f[h] = 8;  /* echo request */
        put16(f + h + 4, 0x1234);
        put16(f + h + 6, 1);
        for (int i = 8; i < 64; i++)
            f[h + i] = (uint8_t)i;
        put16(f + h + 2, csum(f + h, 64));
        return h + 64;
    }
    /* A minimal Ethernet frame: 60 bytes before the FCS, 18 of payload. */
    h = eth_ip(f, 17, 26);
    put16(f + h, 40000);
    put16(f + h + 2, 9);  /* discard: nobody listens in this stack */
    put16(f + h + 4, 26);
    put16(f + h + 6, 0);  /* no checksum */
    memset(f + h + 8, 0x5a, 18);
    return h + 26;
}

/* Sends one batch of the frame on end; returns how many the cable took. */
static int send_batch(struct rn_link *end, struct rn_nbpool *pool, rn_nb_owner_t own,
                      const uint8_t *frame, size_t len)
{
    struct rn_netbuf *b[BATCH];
    unsigned i;

    for (i = 0; i < BATCH; i++) {
        b[i] = rn_nb_alloc(pool, own);
        if (b[i] == NULL) {
            fprintf(stderr, "bench-rx: the pool ran dry\n");
            exit(1);
        }
        memcpy(rn_nb_put(b[i], len), frame, len);
    }
    return rn_link_tx(end, b, BATCH, vnow);
}

/* Frees whatever end has received. */
static unsigned drain(struct rn_link *end)
{
    struct rn_netbuf *b[BATCH];
    unsigned total = 0;
    int n, i;

    while ((n = rn_link_rx(end, b, BATCH, vnow)) > 0) {
        for (i = 0; i < n; i++)
            rn_nb_free(b[i]);
        total += (unsigned)n;
    }
    return total;
}

/* Pushes frames frames of setting s; returns the wall-clock ns it took. */
static rn_time_t run_once(enum setting s, uint64_t frames)
{
    struct rn_stack_params sp = {.sp_seed = 7, .sp_name = "rx"};
    struct rn_sim_cable_params cp = {0};
    struct rn_iface_params ip = {0};
    struct rn_stack *st;
    struct rn_iface *ifp;
    struct rn_link *la, *lb;
    struct rn_nbpool *pool;
    rn_nb_owner_t own = rn_nb_owner_register("bench.rx");
    uint8_t frame[128], arp[60];
    size_t len = make_frame(s, frame);
    uint64_t sent = 0, got = 0, replies = 0;
    rn_time_t t0, t1;

    vnow = RN_SEC(1);
    if (rn_stack_create(&sp, &st) != 0 || rn_sock_layer_init(st) != 0)
        exit(1);
    pool = rn_stack_pool(st);
    cp.sc_latency = 0;
    cp.sc_limit = 4 * BATCH;
    cp.sc_pool_a = pool;
    cp.sc_pool_b = pool;
    memcpy(cp.sc_hwaddr_a, mac_a, 6);
    memcpy(cp.sc_hwaddr_b, mac_b, 6);
    if (rn_sim_cable_new(&cp, &la, &lb) != 0)
        exit(1);
    if (s != S_LINK) {
        ip.ifp_name = "sim0";
        ip.ifp_link = lb;
        ip.ifp_addr = ADDR_B;
        ip.ifp_plen = 15;
        memcpy(ip.ifp_mac, mac_b, 6);
        ip.ifp_no_garp = true;
        if (rn_stack_add_iface(st, &ip, &ifp) != 0)
            exit(1);
        /* Who has .2, tell .1: the stack learns the sender's address, so
         * that echo replies go straight out. */
        memset(arp, 0, sizeof(arp));
        memset(arp, 0xff, 6);
        memcpy(arp + 6, mac_a, 6);
        put16(arp + 12, 0x0806);
        put16(arp + 14, 1);
        put16(arp + 16, 0x0800);
        arp[18] = 6;
        arp[19] = 4;
        put16(arp + 20, 1);
        memcpy(arp + 22, mac_a, 6);
        put32(arp + 28, ADDR_A);
        put32(arp + 38, ADDR_B);
        {
            struct rn_netbuf *nb = rn_nb_alloc(pool, own);

            memcpy(rn_nb_put(nb, sizeof(arp)), arp, sizeof(arp));
            rn_link_tx1(la, nb, vnow);
        }
        rn_stack_poll(st, vnow);
        drain(la);
    }
    t0 = rn_clock_os_monotonic();
    while (sent < frames) {
        sent += (uint64_t)send_batch(la, pool, own, frame, len);
        if (s == S_LINK)
            got += drain(lb);
        else
            rn_stack_poll(st, vnow);
        replies += drain(la);
        vnow += 1000;
    }
    t1 = rn_clock_os_monotonic();
    if (s == S_LINK && got != sent) {
        fprintf(stderr, "bench-rx: the cable delivered %llu of %llu frames\n",
                (unsigned long long)got, (unsigned long long)sent);
        exit(1);
    }
    if (s == S_ICMP && replies != sent) {
        fprintf(stderr, "bench-rx: %llu echo replies to %llu requests\n",
                (unsigned long long)replies, (unsigned long long)sent);
        exit(1);
    }
    if (s == S_LINK)
        rn_link_close(lb);
    rn_link_close(la);
    if (rn_stack_destroy(st) != 0)
        exit(1);
    return t1 - t0;
}

int main(int argc, char **argv)
{
    uint64_t frames = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
    int runs = argc > 2 ? atoi(argv[2]) : 5, r, s;
    rn_time_t best[S_COUNT_];
    double fps[S_COUNT_];

    if (frames < BATCH || runs <= 0) {
        fprintf(stderr, "usage: bench-rx [frames] [runs]\n");
        return 2;
    }
    frames -= frames % BATCH;
    rn_clock_set_source(vclock, NULL);
    for (s = 0; s < S_COUNT_; s++)
        best[s] = UINT64_MAX;
    /* Interleaved, so that noise lands on every setting alike. */
    for (r = 0; r < runs; r++) {
        for (s = 0; s < S_COUNT_; s++) {
            rn_time_t t = run_once((enum setting)s, frames);

            if (t < best[s])
                best[s] = t;
        }
    }
    printf("{\"bench\":\"rx\",\"frames\":%llu,\"runs\":%d", (unsigned long long)frames, runs);
    for (s = 0; s < S_COUNT_; s++) {
        fps[s] = (double)frames * 1e9 / (double)best[s];
        printf(",\"%s_fps\":%.0f,\"%s_ns\":%.1f", setting_names[s], fps[s], setting_names[s],
               (double)best[s] / (double)frames);
    }
    printf(",\"udp_over_link\":%.3f,\"icmp_over_link\":%.3f}\n", fps[S_UDP] / fps[S_LINK],
           fps[S_ICMP] / fps[S_LINK]);
    return 0;
}
