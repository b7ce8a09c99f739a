/*
 * Benchmark of the Internet checksum: rn__csum_partial() (64 bits at a time)
 * against the textbook loop over 16-bit words, on a 1500-byte packet
 * starting 14 bytes into an aligned buffer, where an IPv4 header sits
 * behind an Ethernet header.
 *
 * Prints one JSON line:
 *   {"bench":"csum","bytes":1500,"offset":14,"fast_ns":...,"naive_ns":...,
 *    "speedup":...}
 * with nanoseconds per checksum (best of several rounds, to shed noise
 * from a shared machine) and speedup = naive_ns / fast_ns.  The two
 * results are compared first; the program fails if they differ.
 *
 * Usage: bench-csum [iterations per round]   (default 200000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "wire/csum.h"

#define PKT_LEN 1500
#define PKT_OFF 14
#define ROUNDS 7

/* The loop RFC 1071 section 4.1 describes, written plainly. */
__attribute__((noinline)) static uint16_t naive_csum(const uint8_t *p,
                                                     size_t len)
{
    uint32_t sum = 0;

    while (len > 1) {
        sum += (uint32_t)p[0] << 8 | p[1];
        p += 2;
        len -= 2;
    }
    if (len)
        sum += (uint32_t)p[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

__attribute__((noinline)) static uint16_t fast_csum(const uint8_t *p,
                                                    size_t len)
{
    return rn_csum_fold(rn__csum_partial(p, len, 0));
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Returns the best time per call, in ns, of fn over ROUNDS rounds.  A byte
 * of the packet changes every call so nothing can be hoisted. */
static double measure(uint16_t (*fn)(const uint8_t *, size_t), uint8_t *pkt,
                      long iters, volatile uint16_t *sink)
{
    double best = 0;
    int r;

    for (r = 0; r < ROUNDS; r++) {
        double t0, t1;
        uint16_t acc = 0;
        long i;

        t0 = now_ns();
        for (i = 0; i < iters; i++) {
            pkt[100] = (uint8_t)i;
            acc ^= fn(pkt, PKT_LEN);
        }
        t1 = now_ns();
        *sink = acc;
        if (r == 0 || (t1 - t0) / (double)iters < best)
            best = (t1 - t0) / (double)iters;
    }
    return best;
}

int main(int argc, char **argv)
{
    static _Alignas(64) uint8_t buf[PKT_OFF + PKT_LEN];
    uint8_t *pkt = buf + PKT_OFF;
    volatile uint16_t sink;
    long iters = 200000;
    double fast, naive;
    uint32_t x = 12345;
    size_t i;

    if (argc > 1) {
        iters = strtol(argv[1], NULL, 10);
        if (iters <= 0) {
            fprintf(stderr, "bench-csum: iterations must be a positive "
                            "number, not '%s'\n", argv[1]);
            return 2;
        }
    }
    for (i = 0; i < PKT_LEN; i++) {
        x = x * 1103515245u + 12345u;
        pkt[i] = (uint8_t)(x >> 16);
    }
    for (i = 0; i < 64; i++) {
        pkt[100] = (uint8_t)i;
        if (fast_csum(pkt, PKT_LEN - (i & 1)) !=
            naive_csum(pkt, PKT_LEN - (i & 1))) {
            fprintf(stderr, "bench-csum: fast and naive checksums differ\n");
            return 1;
        }
    }

    /* Warm up caches and clocks, then measure. */
    measure(fast_csum, pkt, iters / 10 + 1, &sink);
    fast = measure(fast_csum, pkt, iters, &sink);
    naive = measure(naive_csum, pkt, iters, &sink);
    printf("{\"bench\":\"csum\",\"bytes\":%d,\"offset\":%d,"
           "\"fast_ns\":%.1f,\"naive_ns\":%.1f,\"speedup\":%.2f}\n",
           PKT_LEN, PKT_OFF, fast, naive, naive / fast);
    return 0;
}
