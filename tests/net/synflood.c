/*
 * A SYN flood from spoofed sources, for tests/net/test_synflood.sh: run
 * inside the test's namespace, as root, it writes Ethernet frames into the
 * Linux side of refnet's TAP through a raw AF_PACKET socket.
 *
 * Every frame is a SYN to DST:PORT from a source address drawn at random
 * (seeded) in 198.18.0.0/15, never the test's two hosts (198.18.0.1 and
 * .2) nor the network's first and last address, with a random port,
 * sequence number and source MAC, an MSS option and correct checksums.
 * POOL distinct frames are built beforehand and sent in turn, RATE a
 * second in 1 ms ticks (sendmmsg batches), for SECONDS seconds: the flood
 * is bounded in count (RATE * SECONDS frames) and in time (it stops at
 * SECONDS + 2 s whatever it sent).  A frame the TAP's queue has no room
 * for is lost, as on a wire, and counted as sent.
 *
 * Writes to OUT: {"sent": N, "seconds": S, "rate": R, "target": RATE}.
 *
 *   synflood IFACE DST_MAC DST PORT RATE SECONDS SEED OUT
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POOL 16384
#define FRAME_LEN 58 /* Ethernet 14, IPv4 20, TCP 20 + MSS 4 */
#define BATCH 64

static uint8_t frames[POOL][FRAME_LEN];
static uint64_t rng_state;

static uint32_t rnd(void)
{
    /* xorshift64*: enough to spread sources and ports. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static uint16_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    size_t i;

    for (i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
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

static void build(uint8_t *f, const uint8_t dst_mac[6], uint32_t dst, uint16_t port)
{
    const uint32_t net = 0xc6120000u; /* 198.18.0.0/15 */
    uint8_t *ip = f + 14, *tcp = ip + 20, pseudo[12];
    uint32_t src;
    int i;

    do {
        src = net + (rnd() & 0x1ffff);
    } while (src == net || src == net + 1 || src == net + 2 || src == net + 0x1ffff);
    memcpy(f, dst_mac, 6);
    f[6] = 0x02;
    f[7] = 0x66;
    for (i = 8; i < 12; i++)
        f[i] = (uint8_t)rnd();
    put16(f + 12, 0x0800);
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, 20 + 24);
    put16(ip + 4, (uint16_t)rnd());
    put16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, (uint16_t)~csum_add(0, ip, 20));
    memset(tcp, 0, 24);
    put16(tcp, (uint16_t)(1024 + rnd() % 64512));
    put16(tcp + 2, port);
    put32(tcp + 4, rnd());
    tcp[12] = 6 << 4;
    tcp[13] = 0x02; /* SYN */
    put16(tcp + 14, 64240);
    tcp[20] = 2;
    tcp[21] = 4;
    put16(tcp + 22, 1460);
    memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = 6;
    put16(pseudo + 10, 24);
    put16(tcp + 16, (uint16_t)~csum_add(csum_add(0, pseudo, 12), tcp, 24));
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct sockaddr_ll sll = {0};
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    uint8_t dst_mac[6];
    struct in_addr dst;
    unsigned m[6];
    long rate;
    double seconds, start, elapsed;
    uint64_t total, sent = 0, next = 0;
    FILE *out;
    int s, i;

    if (argc != 9) {
        fprintf(stderr, "usage: synflood IFACE DST_MAC DST PORT RATE SECONDS SEED OUT\n");
        return 2;
    }
    if (sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6 ||
        inet_pton(AF_INET, argv[3], &dst) != 1) {
        fprintf(stderr, "synflood: bad MAC '%s' or address '%s'\n", argv[2], argv[3]);
        return 2;
    }
    for (i = 0; i < 6; i++)
        dst_mac[i] = (uint8_t)m[i];
    rate = atol(argv[5]);
    seconds = atof(argv[6]);
    if (rate <= 0 || rate > 10000000 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "synflood: RATE 1..10000000 and SECONDS up to 600\n");
        return 2;
    }
    rng_state = (uint64_t)atoll(argv[7]) * 0x9e3779b97f4a7c15ull + 1;
    for (i = 0; i < POOL; i++)
        build(frames[i], dst_mac, ntohl(dst.s_addr), (uint16_t)atoi(argv[4]));
    s = socket(AF_PACKET, SOCK_RAW, 0);
    if (s < 0) {
        perror("synflood: socket");
        return 1;
    }
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = (int)if_nametoindex(argv[1]);
    if (sll.sll_ifindex == 0 || bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        perror("synflood: bind");
        return 1;
    }
    total = (uint64_t)((double)rate * seconds);
    start = now_s();
    while (sent < total) {
        double t = now_s() - start;
        uint64_t due = (uint64_t)(t * (double)rate) + 1;

        if (t > seconds + 2)
            break;
        if (due > total)
            due = total;
        if (due <= sent) {
            usleep(1000);
            continue;
        }
        while (sent < due) {
            int n = due - sent < BATCH ? (int)(due - sent) : BATCH, r;

            for (i = 0; i < n; i++) {
                iov[i].iov_base = frames[(next + (uint64_t)i) % POOL];
                iov[i].iov_len = FRAME_LEN;
                memset(&msgs[i], 0, sizeof(msgs[i]));
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            r = sendmmsg(s, msgs, (unsigned)n, MSG_DONTWAIT);
            /* Whatever the queue did not take is lost, as on a wire. */
            (void)r;
            next += (uint64_t)n;
            sent += (uint64_t)n;
        }
    }
    elapsed = now_s() - start;
    close(s);
    out = fopen(argv[8], "w");
    if (out == NULL) {
        perror("synflood: OUT");
        return 1;
    }
    fprintf(out, "{\"rate\": %.0f, \"seconds\": %.3f, \"sent\": %llu, \"target\": %ld}\n",
            (double)sent / elapsed, elapsed, (unsigned long long)sent, rate);
    fclose(out);
    return 0;
}
