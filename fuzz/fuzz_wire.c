/*
 * libFuzzer target for every wire parser (src/wire).
 *
 * The first input byte picks an entry point and a mode; the rest is the
 * data:
 *   byte0 & 0x07: 0-3 an Ethernet frame, 4 an IPv4 packet, 5 TCP option
 *                 bytes, 6 IPv4 option bytes, 7 text (MAC, address, CIDR);
 *   byte0 & 0x80: repair checksums first.  Random bytes almost never carry
 *                 a right checksum, so without this the fuzzer would rarely
 *                 get past IPv4 to ICMP, UDP and TCP.
 * A frame is dispatched the way the network layer will: Ethernet, then by
 * EtherType to ARP or IPv4, then by protocol to ICMP, UDP or TCP, with the
 * IPv4 options walker and the TCP options parser on whatever is there.
 *
 * Besides memory safety (ASan, UBSan), each accepted input is checked for
 * properties a user relies on; a violation aborts:
 *   - emit(parse(x)) reproduces x's header, and the result parses again;
 *   - TCP options survive parse -> emit -> parse;
 *   - replies and errors built from an accepted packet parse cleanly;
 *   - text that parses formats back to the same text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "property failed at %s:%d: %s\n", __FILE__,      \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Scratch space for re-emitted packets. */
static uint8_t out[RN_IP4_MAX_LEN + 64];

/* ---- Checksum repair ---------------------------------------------------- */

/* Sets the IPv4 header checksum, and the ICMP/UDP/TCP one, of the packet at
 * p (len bytes) wherever the fields are in range.  Never reads or writes
 * outside [p, p + len). */
static void repair_ip(uint8_t *p, size_t len)
{
    size_t hlen, tot, l4len;
    uint32_t src, dst;
    uint8_t *l4;

    if (len < RN_IP4_HLEN)
        return;
    hlen = (size_t)(p[0] & 0x0f) * 4;
    if (hlen < RN_IP4_HLEN || hlen > len)
        return;
    rn_put_be16(p + 10, 0);
    rn_put_be16(p + 10, rn_csum(p, hlen));
    tot = rn_get_be16(p + 2);
    if (tot < hlen || tot > len)
        return;
    l4 = p + hlen;
    l4len = tot - hlen;
    src = rn_get_be32(p + 12);
    dst = rn_get_be32(p + 16);
    switch (p[9]) {
    case RN_IPPROTO_ICMP:
        if (l4len >= RN_ICMP_HLEN) {
            rn_put_be16(l4 + 2, 0);
            rn_put_be16(l4 + 2, rn_csum(l4, l4len));
        }
        break;
    case RN_IPPROTO_UDP:
        if (l4len >= RN_UDP_HLEN) {
            size_t ulen = rn_get_be16(l4 + 4);

            if (ulen >= RN_UDP_HLEN && ulen <= l4len) {
                rn_put_be16(l4 + 6, 0);
                rn_put_be16(l4 + 6, rn_csum_fold(rn__csum_partial(
                                        l4, ulen,
                                        rn_csum_pseudo4(src, dst, 17,
                                                        (uint32_t)ulen))));
            }
        }
        break;
    case RN_IPPROTO_TCP:
        if (l4len >= RN_TCP_HLEN) {
            rn_put_be16(l4 + 16, 0);
            rn_put_be16(l4 + 16, rn_csum_fold(rn__csum_partial(
                                     l4, l4len,
                                     rn_csum_pseudo4(src, dst, 6,
                                                     (uint32_t)l4len))));
        }
        break;
    }
}

/* ---- Layers ------------------------------------------------------------- */

static void fuzz_tcp_opts(const uint8_t *p, size_t len)
{
    struct rn_tcp_opts a, b;
    uint8_t buf[RN_TCP_MAX_OPTLEN];
    size_t n, room;
    unsigned i;

    if (rn__tcp_opts_parse(p, len, &a) != RN_DROP_NONE)
        return;
    CHECK(a.to_nsacks <= RN_TCP_MAX_SACKS);
    CHECK(!!(a.to_present & RN_TCPOPT_F_SACK) == (a.to_nsacks > 0));
    n = rn__tcp_opts_emit(buf, &a);
    CHECK(n <= RN_TCP_MAX_OPTLEN && n % 4 == 0);
    CHECK(n == rn__tcp_opts_len(&a));
    CHECK(rn__tcp_opts_parse(buf, n, &b) == RN_DROP_NONE);
    /* Everything but SACK blocks that did not fit comes back. */
    CHECK((b.to_present & ~RN_TCPOPT_F_SACK) ==
          (a.to_present & ~RN_TCPOPT_F_SACK));
    if (a.to_present & RN_TCPOPT_F_MSS)
        CHECK(b.to_mss == a.to_mss);
    if (a.to_present & RN_TCPOPT_F_WSCALE)
        CHECK(b.to_wscale == a.to_wscale);
    if (a.to_present & RN_TCPOPT_F_TS)
        CHECK(b.to_tsval == a.to_tsval && b.to_tsecr == a.to_tsecr);
    room = (a.to_present & RN_TCPOPT_F_TS) ? 3 : 4;
    CHECK(b.to_nsacks <= a.to_nsacks && b.to_nsacks <= room);
    for (i = 0; i < b.to_nsacks; i++)
        CHECK(b.to_sacks[i].sb_start == a.to_sacks[i].sb_start &&
              b.to_sacks[i].sb_end == a.to_sacks[i].sb_end);
}

static void fuzz_ip_opts(const uint8_t *p, size_t len)
{
    struct rn_ip4_opt_iter it;
    struct rn_ip4_opt opt;
    size_t total = 0;
    int rc;

    rn__ip4_opt_init(&it, p, len);
    while ((rc = rn__ip4_opt_next(&it, &opt)) > 0) {
        CHECK(opt.io_len >= 2);
        CHECK(opt.io_data >= p + 2 &&
              opt.io_data + opt.io_len - 2 <= p + len);
        total += opt.io_len;
        CHECK(total <= len);
    }
    CHECK(rc == 0 || rc == RN_EFORMAT);
    CHECK(rn__ip4_opt_next(&it, &opt) == rc);
}

static void fuzz_tcp(const struct rn_ip4_hdr *ip)
{
    struct rn_tcp_hdr th, th2;
    size_t hlen;

    if (rn__tcp_parse4(ip->ip_payload, ip->ip_paylen, ip->ip_src, ip->ip_dst, 0,
                      &th) != RN_DROP_NONE)
        return;
    CHECK(th.th_hlen == RN_TCP_HLEN + th.th_optlen);
    CHECK(th.th_hlen + th.th_paylen == ip->ip_paylen);
    fuzz_tcp_opts(th.th_opts, th.th_optlen);

    /* Re-emit: the same bytes, but for the reserved bits and the 0/0xffff
     * ambiguity of a checksum. */
    memcpy(out + th.th_hlen, th.th_payload, th.th_paylen);
    hlen = rn__tcp_emit4(out, &th, ip->ip_src, ip->ip_dst);
    CHECK(hlen == th.th_hlen);
    CHECK(memcmp(out, ip->ip_payload, 12) == 0);
    CHECK(out[12] == (ip->ip_payload[12] & 0xf0));
    CHECK(memcmp(out + 13, ip->ip_payload + 13, 3) == 0);
    CHECK(memcmp(out + 18, ip->ip_payload + 18, hlen - 18) == 0);
    CHECK(rn__tcp_parse4(out, hlen + th.th_paylen, ip->ip_src, ip->ip_dst, 0,
                        &th2) == RN_DROP_NONE);
}

static void fuzz_udp(const struct rn_ip4_hdr *ip)
{
    struct rn_udp_hdr uh, uh2;

    if (rn__udp_parse4(ip->ip_payload, ip->ip_paylen, ip->ip_src, ip->ip_dst, 0,
                      &uh) != RN_DROP_NONE)
        return;
    CHECK(uh.uh_len == RN_UDP_HLEN + uh.uh_paylen);
    CHECK(uh.uh_len <= ip->ip_paylen);
    memcpy(out + RN_UDP_HLEN, uh.uh_payload, uh.uh_paylen);
    CHECK(rn__udp_emit4(out, &uh, ip->ip_src, ip->ip_dst) == RN_UDP_HLEN);
    CHECK(memcmp(out, ip->ip_payload, 6) == 0);
    CHECK(rn_get_be16(out + 6) != 0);
    CHECK(rn__udp_parse4(out, uh.uh_len, ip->ip_src, ip->ip_dst, 0, &uh2) ==
          RN_DROP_NONE);
    CHECK(uh2.uh_sport == uh.uh_sport && uh2.uh_dport == uh.uh_dport &&
          uh2.uh_paylen == uh.uh_paylen);
}

static void fuzz_icmp(const struct rn_ip4_hdr *ip)
{
    struct rn_icmp_hdr ic, ic2;
    size_t n;

    if (rn__icmp_parse(ip->ip_payload, ip->ip_paylen, &ic) != RN_DROP_NONE)
        return;
    if (rn_icmp_is_error(ic.ic_type)) {
        CHECK(ic.ic_ql4 != NULL && ic.ic_ql4len >= RN_ICMP_QUOTE_L4);
        CHECK(ic.ic_ql4 + ic.ic_ql4len == ip->ip_payload + ip->ip_paylen);
    }
    if (ic.ic_type == RN_ICMP_ECHO) {
        n = rn__icmp_emit_echo_reply(out, &ic);
        CHECK(n == ip->ip_paylen);
        CHECK(rn__icmp_parse(out, n, &ic2) == RN_DROP_NONE);
        CHECK(ic2.ic_type == RN_ICMP_ECHO_REPLY && ic2.ic_rest == ic.ic_rest);
        CHECK(memcmp(out + 8, ic.ic_data, ic.ic_datalen) == 0);
    }
}

static void fuzz_ip(const uint8_t *p, size_t len)
{
    struct rn_ip4_hdr ip, ip2;
    struct rn_icmp_hdr ic;
    size_t hlen, n;

    if (rn__ip4_parse(p, len, &ip) != RN_DROP_NONE)
        return;
    CHECK(ip.ip_hlen == RN_IP4_HLEN + ip.ip_optlen);
    CHECK(ip.ip_len == ip.ip_hlen + ip.ip_paylen && ip.ip_len <= len);
    CHECK((uint32_t)ip.ip_off + ip.ip_paylen <= RN_IP4_MAX_LEN);
    fuzz_ip_opts(ip.ip_opts, ip.ip_optlen);

    /* Re-emit the header: the same bytes but for the reserved flag bit
     * and the checksum's 0/0xffff ambiguity. */
    hlen = rn__ip4_emit(out, &ip);
    CHECK(hlen == ip.ip_hlen);
    CHECK(memcmp(out, p, 6) == 0);
    CHECK(out[6] == (p[6] & 0x7f) && out[7] == p[7]);
    CHECK(memcmp(out + 8, p + 8, 2) == 0);
    CHECK(memcmp(out + 12, p + 12, hlen - 12) == 0);
    memcpy(out + hlen, ip.ip_payload, ip.ip_paylen);
    CHECK(rn__ip4_parse(out, ip.ip_len, &ip2) == RN_DROP_NONE);

    /* Forwarding's TTL decrement keeps the checksum right. */
    if (rn__ip4_dec_ttl(out) == RN_DROP_NONE) {
        CHECK(out[8] == ip.ip_ttl - 1);
        CHECK(rn_csum(out, hlen) == 0);
    } else {
        CHECK(ip.ip_ttl <= 1);
    }

    /* An error about this packet quotes it and parses back. */
    if (rn__icmp_may_send_error(&ip)) {
        n = rn__icmp_emit_port_unreach(out, p, ip.ip_len);
        CHECK(n <= RN_ICMP_ERR_MAXLEN);
        if (ip.ip_paylen >= RN_ICMP_QUOTE_L4) {
            CHECK(rn__icmp_parse(out, n, &ic) == RN_DROP_NONE);
            CHECK(ic.ic_qsrc == ip.ip_src && ic.ic_qdst == ip.ip_dst &&
                  ic.ic_qproto == ip.ip_proto);
        } else {
            CHECK(rn__icmp_parse(out, n, &ic) == RN_DROP_BAD_ICMP);
        }
    }

    switch (ip.ip_proto) {
    case RN_IPPROTO_ICMP:
        fuzz_icmp(&ip);
        break;
    case RN_IPPROTO_UDP:
        fuzz_udp(&ip);
        break;
    case RN_IPPROTO_TCP:
        fuzz_tcp(&ip);
        break;
    }
}

static void fuzz_arp(const uint8_t *p, size_t len)
{
    struct rn_arp ar;

    if (rn__arp_parse(p, len, &ar) != RN_DROP_NONE)
        return;
    CHECK(rn__arp_emit(out, &ar) == RN_ARP_LEN);
    CHECK(memcmp(out, p, RN_ARP_LEN) == 0);
}

static void fuzz_eth(const uint8_t *p, size_t len)
{
    struct rn_eth_hdr eh;

    if (rn__eth_parse(p, len, &eh) != RN_DROP_NONE)
        return;
    CHECK(rn__eth_emit(out, &eh.eh_dst, &eh.eh_src, eh.eh_type) ==
          RN_ETH_HLEN);
    CHECK(memcmp(out, p, RN_ETH_HLEN) == 0);
    switch (eh.eh_type) {
    case RN_ETHERTYPE_ARP:
        fuzz_arp(eh.eh_payload, eh.eh_paylen);
        break;
    case RN_ETHERTYPE_IPV4:
        fuzz_ip(eh.eh_payload, eh.eh_paylen);
        break;
    }
}

static void fuzz_text(const uint8_t *p, size_t len)
{
    char s[64], buf[RN_IP4_CIDR_STRLEN + RN_MAC_STRLEN];
    struct rn_mac m, m2;
    uint32_t a;
    unsigned plen;
    const char *err;

    if (len >= sizeof(s))
        len = sizeof(s) - 1;
    memcpy(s, p, len);
    s[len] = '\0';

    err = NULL;
    if (rn_mac_parse(s, &m, &err) == 0) {
        CHECK(rn_mac_parse(rn_mac_fmt(&m, buf), &m2, NULL) == 0);
        CHECK(rn_mac_equal(&m, &m2));
    } else {
        CHECK(err != NULL);
    }
    err = NULL;
    if (rn_ip4_addr_parse(s, &a, &err) == 0) {
        /* No leading zeros, no alternatives: the text is canonical. */
        CHECK(strcmp(rn_ip4_addr_fmt(a, buf), s) == 0);
    } else {
        CHECK(err != NULL);
    }
    err = NULL;
    if (rn_ip4_cidr_parse(s, &a, &plen, &err) == 0) {
        char full[RN_IP4_CIDR_STRLEN + 4];

        CHECK(plen <= 32);
        snprintf(full, sizeof(full), "%s/%u", rn_ip4_addr_fmt(a, buf), plen);
        CHECK(strcmp(full, s) == 0);
        if (plen > 0)
            CHECK(rn_ip4_mask_to_plen(rn_ip4_mask(plen)) == (int)plen);
    } else {
        CHECK(err != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy;
    uint8_t mode;

    if (size < 1 || size - 1 > RN_IP4_MAX_LEN)
        return 0;
    mode = data[0];
    data++;
    size--;

    /* The checksum over the input must match the plain definition. */
    {
        uint64_t s = 0;
        size_t i;

        for (i = 0; i + 1 < size; i += 2)
            s += (uint32_t)data[i] << 8 | data[i + 1];
        if (size & 1)
            s += (uint32_t)data[size - 1] << 8;
        while (s >> 16)
            s = (s & 0xffff) + (s >> 16);
        CHECK(rn_csum(data, size) == (uint16_t)~s);
    }

    /* Parsers get a private copy of exactly `size` bytes, so that ASan
     * flags any read past the end, and so that a checksum repair never
     * touches the fuzzer's own input. */
    copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    switch (mode & 0x07) {
    case 4:
        if (mode & 0x80)
            repair_ip(copy, size);
        fuzz_ip(copy, size);
        break;
    case 5:
        fuzz_tcp_opts(copy, size);
        break;
    case 6:
        fuzz_ip_opts(copy, size);
        break;
    case 7:
        fuzz_text(copy, size);
        break;
    default:
        if ((mode & 0x80) && size > RN_ETH_HLEN)
            repair_ip(copy + RN_ETH_HLEN, size - RN_ETH_HLEN);
        fuzz_eth(copy, size);
        break;
    }
    free(copy);
    return 0;
}
