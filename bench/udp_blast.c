/*
 * Load generator of bench/rx.sh (not a benchmark itself): sends UDP
 * datagrams of a given payload size to ADDR:PORT as fast as one thread can,
 * 64 per sendmmsg(), for a given number of seconds, from a plain Linux
 * socket.  The same program loads refnet's TAP and the kernel's veth.
 *
 * Usage: udp-blast ADDR PORT SECS [PAYLOAD]   (payload default 18 bytes:
 * a minimal Ethernet frame)
 * Prints one JSON line: datagrams sent and the seconds it took.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    static char payload[1472];
    struct mmsghdr msgs[BATCH];
    struct iovec iov;
    struct sockaddr_in to = {.sin_family = AF_INET};
    unsigned long long sent = 0, calls = 0;
    double secs, t0, t, end;
    size_t plen = 18;
    int fd, i;

    if (argc < 4 || argc > 5 || inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
        fprintf(stderr, "usage: udp-blast ADDR PORT SECS [PAYLOAD]\n");
        return 2;
    }
    to.sin_port = htons((uint16_t)atoi(argv[2]));
    secs = atof(argv[3]);
    if (argc == 5)
        plen = (size_t)atoi(argv[4]);
    if (secs <= 0 || secs > 60 || plen > sizeof(payload)) {
        fprintf(stderr, "udp-blast: SECS must be in (0, 60], PAYLOAD at most %zu\n",
                sizeof(payload));
        return 2;
    }
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    /* Not connected: ICMP errors coming back do not fail the sends. */
    if (fd < 0) {
        perror("udp-blast: socket");
        return 1;
    }
    memset(payload, 0x5a, plen);
    iov.iov_base = payload;
    iov.iov_len = plen;
    memset(msgs, 0, sizeof(msgs));
    for (i = 0; i < BATCH; i++) {
        msgs[i].msg_hdr.msg_name = &to;
        msgs[i].msg_hdr.msg_namelen = sizeof(to);
        msgs[i].msg_hdr.msg_iov = &iov;
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    t0 = now_s();
    end = t0 + secs;
    t = t0;
    while (t < end) {
        int n = sendmmsg(fd, msgs, BATCH, 0);

        if (n > 0) {
            sent += (unsigned long long)n;
        } else if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
            perror("udp-blast: sendmmsg");
            return 1;
        }
        /* The clock is read every 16 calls: 1024 datagrams. */
        if (++calls % 16 == 0)
            t = now_s();
    }
    t = now_s();
    close(fd);
    printf("{\"sent\":%llu,\"secs\":%.4f}\n", sent, t - t0);
    return 0;
}
