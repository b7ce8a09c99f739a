/*
 * Receive-side scaling: the Toeplitz hash, the queue of a flow and of a
 * frame, and the key's text form (include/refnet/rss.h).
 *
 * rn_rss_frame_queue() is the reference the TAP's steering program
 * (tap_steer.c) is built to agree with, byte for byte: the same frames
 * are hashed, over the same bytes, and the rest go to queue 0.
 */
#include <stdio.h>
#include <string.h>

#include "base/hex.h"
#include "refnet/rss.h"

const uint8_t rn_rss_default_key[RN_RSS_KEY_LEN] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

#define ETHERTYPE_IP4 0x0800
#define ETHERTYPE_IP6 0x86dd
#define ETH_HLEN 14
#define IP6_HLEN 40

void rn_rss_init(struct rn_rss *rss, unsigned n)
{
    memcpy(rss->rs_key, rn_rss_default_key, RN_RSS_KEY_LEN);
    rss->rs_queues = n == 0 ? 1 : n;
}

uint32_t rn_rss_key_window(const uint8_t key[RN_RSS_KEY_LEN], unsigned i)
{
    uint64_t v = 0;
    unsigned b;

    /* Bits i .. i+31 lie within the five bytes from i / 8. */
    for (b = 0; b < 5; b++)
        v = v << 8 | key[i / 8 + b];
    return (uint32_t)(v >> (8 - i % 8));
}

uint32_t rn_rss_toeplitz(const uint8_t key[RN_RSS_KEY_LEN], const uint8_t *in, size_t len)
{
    /* The window holds key bits [i, i+31] for input bit i; each input bit
     * shifts in the key's next bit (from `next`, refilled a byte at a
     * time). */
    uint32_t hash = 0, win;
    size_t i;
    int b;

    if (len > RN_RSS_KEY_LEN - 4)
        len = RN_RSS_KEY_LEN - 4;
    win = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
    for (i = 0; i < len; i++) {
        uint8_t next = key[i + 4];

        for (b = 7; b >= 0; b--) {
            if (in[i] >> b & 1)
                hash ^= win;
            win = win << 1 | (uint32_t)(next >> b & 1);
        }
    }
    return hash;
}

uint32_t rn_rss_flow_hash(const struct rn_rss *rss, const struct rn_inaddr *src,
                          const struct rn_inaddr *dst, uint16_t sport, uint16_t dport)
{
    uint8_t in[36];
    size_t n;

    if (rn_inaddr_is_v4(src)) {
        memcpy(in, &src->ia_ip6.i6_octet[12], 4);
        memcpy(in + 4, &dst->ia_ip6.i6_octet[12], 4);
        n = 8;
    } else {
        memcpy(in, src->ia_ip6.i6_octet, 16);
        memcpy(in + 16, dst->ia_ip6.i6_octet, 16);
        n = 32;
    }
    in[n] = (uint8_t)(sport >> 8);
    in[n + 1] = (uint8_t)sport;
    in[n + 2] = (uint8_t)(dport >> 8);
    in[n + 3] = (uint8_t)dport;
    return rn_rss_toeplitz(rss->rs_key, in, n + 4);
}

static unsigned be16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

unsigned rn_rss_frame_queue(const struct rn_rss *rss, const uint8_t *frame, size_t len,
                            bool *hashed)
{
    uint8_t in[36];
    size_t n, ports;

    if (hashed != NULL)
        *hashed = false;
    if (len < ETH_HLEN)
        return 0;
    switch (be16(frame + 12)) {
    case ETHERTYPE_IP4: {
        const uint8_t *ip = frame + ETH_HLEN;
        size_t ihl;

        if (len < ETH_HLEN + 20 || ip[0] >> 4 != 4)
            return 0;
        ihl = (size_t)(ip[0] & 0x0f) * 4;
        /* A fragment (more to come, or not the first) carries no ports, or
         * not all of its datagram's: the whole goes by queue 0. */
        if (ihl < 20 || (be16(ip + 6) & 0x3fff) != 0 ||
            (ip[9] != RN_IPPROTO_TCP && ip[9] != RN_IPPROTO_UDP))
            return 0;
        memcpy(in, ip + 12, 8);
        n = 8;
        ports = ETH_HLEN + ihl;
        break;
    }
    case ETHERTYPE_IP6: {
        const uint8_t *ip = frame + ETH_HLEN;

        if (len < ETH_HLEN + IP6_HLEN || ip[0] >> 4 != 6 ||
            (ip[6] != RN_IPPROTO_TCP && ip[6] != RN_IPPROTO_UDP))
            return 0;
        memcpy(in, ip + 8, 32);
        n = 32;
        ports = ETH_HLEN + IP6_HLEN;
        break;
    }
    default:
        return 0;
    }
    if (len < ports + 4)
        return 0;
    memcpy(in + n, frame + ports, 4);
    if (hashed != NULL)
        *hashed = true;
    return rn_rss_queue_of(rss, rn_rss_toeplitz(rss->rs_key, in, n + 4));
}

/* The queue of the flow a quoted packet belongs to: the quoted packet is
 * one this side sent (ip: its IP header, of IP version `version`; end:
 * the frame's end), so the flow's frames arrive with its addresses and
 * ports the other way round.  False if it is not TCP or UDP, or carries
 * no ports. */
static bool quoted_queue(const struct rn_rss *rss, unsigned version, const uint8_t *ip,
                         const uint8_t *end, unsigned *queue, uint8_t *qproto, uint16_t *lport)
{
    uint8_t in[36];
    size_t alen, hlen;
    uint8_t proto;

    if (end - ip < 1 || (unsigned)(ip[0] >> 4) != version)
        return false;
    if (version == 4) {
        if (end - ip < 20 || (be16(ip + 6) & 0x1fff) != 0)
            return false;  /* short, or a later fragment: no ports */
        hlen = (size_t)(ip[0] & 0x0f) * 4;
        if (hlen < 20)
            return false;
        proto = ip[9];
        alen = 4;
    } else {
        if (end - ip < IP6_HLEN)
            return false;
        hlen = IP6_HLEN;
        proto = ip[6];
        alen = 16;
    }
    if ((proto != RN_IPPROTO_TCP && proto != RN_IPPROTO_UDP) || (size_t)(end - ip) < hlen + 4)
        return false;
    /* Source, destination, source port, destination port, as received:
     * the quoted destination first. */
    memcpy(in, ip + (alen == 4 ? 16 : 24), alen);
    memcpy(in + alen, ip + (alen == 4 ? 12 : 8), alen);
    memcpy(in + 2 * alen, ip + hlen + 2, 2);
    memcpy(in + 2 * alen + 2, ip + hlen, 2);
    *queue = rn_rss_queue_of(rss, rn_rss_toeplitz(rss->rs_key, in, 2 * alen + 4));
    if (qproto != NULL)
        *qproto = proto;
    if (lport != NULL)
        *lport = (uint16_t)be16(ip + hlen);
    return true;
}

bool rn_rss_icmp_error_queue(const struct rn_rss *rss, const uint8_t *frame, size_t len,
                             unsigned *queue, uint8_t *proto, uint16_t *lport)
{
    const uint8_t *end = frame + len, *ip = frame + ETH_HLEN, *icmp;

    if (len < ETH_HLEN + IP6_HLEN + 8)
        return false;  /* shorter than any error that quotes ports */
    switch (be16(frame + 12)) {
    case ETHERTYPE_IP4: {
        size_t ihl = (size_t)(ip[0] & 0x0f) * 4;

        if (ip[0] >> 4 != 4 || ihl < 20 || ip[9] != 1 /* ICMP */ ||
            (be16(ip + 6) & 0x3fff) != 0 || (size_t)(end - ip) < ihl + 8)
            return false;
        icmp = ip + ihl;
        /* Destination unreachable, source quench, time exceeded,
         * parameter problem (RFC 792). */
        if (icmp[0] != 3 && icmp[0] != 4 && icmp[0] != 11 && icmp[0] != 12)
            return false;
        return quoted_queue(rss, 4, icmp + 8, end, queue, proto, lport);
    }
    case ETHERTYPE_IP6:
        if (ip[0] >> 4 != 6 || ip[6] != 58 /* ICMPv6 */)
            return false;
        icmp = ip + IP6_HLEN;
        /* Destination unreachable, packet too big, time exceeded,
         * parameter problem (RFC 4443): types 1 to 4. */
        if (icmp[0] < 1 || icmp[0] > 4)
            return false;
        return quoted_queue(rss, 6, icmp + 8, end, queue, proto, lport);
    default:
        return false;
    }
}

int rn_rss_key_parse(const char *text, uint8_t key[RN_RSS_KEY_LEN], char *err, size_t errlen)
{
    uint8_t k[RN_RSS_KEY_LEN];
    const char *p = text;
    unsigned i;

    for (i = 0; i < RN_RSS_KEY_LEN; i++) {
        int hi = rn__hex_digit(p[0]), lo = hi < 0 ? -1 : rn__hex_digit(p[1]);

        if (hi < 0 || lo < 0) {
            snprintf(err, errlen,
                     "RSS key: byte %u is not two hexadecimal digits (want %u bytes like 6d:5a:...)",
                     i + 1, RN_RSS_KEY_LEN);
            return -1;
        }
        k[i] = (uint8_t)(hi << 4 | lo);
        p += 2;
        if (i + 1 < RN_RSS_KEY_LEN) {
            if (*p != ':') {
                snprintf(err, errlen, "RSS key: %s after byte %u (want %u bytes separated by ':')",
                         *p == '\0' ? "ends" : "no ':'", i + 1, RN_RSS_KEY_LEN);
                return -1;
            }
            p++;
        }
    }
    if (*p != '\0') {
        snprintf(err, errlen, "RSS key: longer than %u bytes", RN_RSS_KEY_LEN);
        return -1;
    }
    memcpy(key, k, RN_RSS_KEY_LEN);
    return 0;
}

void rn_rss_key_format(const uint8_t key[RN_RSS_KEY_LEN], char *buf, size_t len)
{
    size_t off = 0;
    unsigned i;

    if (len == 0)
        return;
    buf[0] = '\0';
    for (i = 0; i < RN_RSS_KEY_LEN && off + 3 <= len; i++)
        off += (size_t)snprintf(buf + off, len - off, i ? ":%02x" : "%02x", key[i]);
}
