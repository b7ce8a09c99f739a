/*
 * The floor of bench/latency.sh's ICMP row (not a benchmark itself): the
 * least a program in user space does to answer a ping over a TAP, with no
 * stack at all.  It waits in epoll for the TAP, reads each frame, answers
 * ARP requests and ICMP echo requests for one IPv4 address by rewriting
 * the frame in place, and writes it back: the same wake-ups and system
 * calls as any user-space stack on a TAP, none of a stack's work.
 *
 * Usage: tap-echo IFNAME ADDR   (the TAP must exist: ip tuntap add ...)
 * Runs until killed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define ETH_LEN 14
#define MAC_OWN {0x02, 0x00, 0x00, 0x00, 0xe0, 0x01}

static const uint8_t own_mac[6] = MAC_OWN;

/* Answers an ARP request for addr in frame f (n bytes) in place.  Returns
 * true if f is now the reply. */
static int arp_answer(uint8_t *f, ssize_t n, const uint8_t addr[4])
{
    uint8_t *a = f + ETH_LEN;

    if (n < ETH_LEN + 28 || a[6] != 0 || a[7] != 1 || memcmp(a + 24, addr, 4) != 0)
        return 0;  /* not a request for addr */
    memcpy(f, f + 6, 6);
    memcpy(f + 6, own_mac, 6);
    a[7] = 2;
    memcpy(a + 18, a + 8, 10);  /* the asker becomes the target */
    memcpy(a + 8, own_mac, 6);
    memcpy(a + 14, addr, 4);
    return 1;
}

/* Turns an ICMP echo request to addr in frame f into its reply in place.
 * Returns true if it did. */
static int echo_answer(uint8_t *f, ssize_t n, const uint8_t addr[4])
{
    uint8_t *ip = f + ETH_LEN, *icmp;
    size_t ihl;
    uint32_t sum;

    if (n < ETH_LEN + 20 || (ip[0] >> 4) != 4 || ip[9] != 1 || memcmp(ip + 16, addr, 4) != 0)
        return 0;
    ihl = (size_t)(ip[0] & 15) * 4;
    if (ihl < 20 || n < (ssize_t)(ETH_LEN + ihl + 8) || ip[ihl] != 8)
        return 0;
    icmp = ip + ihl;
    memcpy(f, f + 6, 6);
    memcpy(f + 6, own_mac, 6);
    memcpy(ip + 16, ip + 12, 4);
    memcpy(ip + 12, addr, 4);
    icmp[0] = 0;  /* echo reply; the checksum loses the type's 8 << 8 */
    sum = (uint32_t)((icmp[2] << 8) | icmp[3]) + 0x0800u;
    sum = (sum & 0xffffu) + (sum >> 16);
    icmp[2] = (uint8_t)(sum >> 8);
    icmp[3] = (uint8_t)sum;
    return 1;
}

int main(int argc, char **argv)
{
    struct epoll_event ev = {.events = EPOLLIN};
    struct ifreq ifr;
    uint8_t addr[4], f[2048];
    int fd, ep;

    if (argc != 3 || strlen(argv[1]) >= IFNAMSIZ || inet_pton(AF_INET, argv[2], addr) != 1) {
        fputs("usage: tap-echo IFNAME ADDR\n", stderr);
        return 2;
    }
    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        perror("tap-echo: /dev/net/tun");
        return 1;
    }
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, argv[1], strlen(argv[1]));
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ioctl(fd, TUNSETIFF, &ifr) != 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        fprintf(stderr, "tap-echo: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    for (;;) {
        if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR) {
            perror("tap-echo: epoll_wait");
            return 1;
        }
        for (;;) {
            ssize_t n = read(fd, f, sizeof(f));

            if (n < 0)
                break;  /* EAGAIN: back to epoll */
            if (n < ETH_LEN)
                continue;
            if ((f[12] == 0x08 && f[13] == 0x06 && arp_answer(f, n, addr)) ||
                (f[12] == 0x08 && f[13] == 0x00 && echo_answer(f, n, addr)))
                (void)write(fd, f, (size_t)n);
        }
    }
}
