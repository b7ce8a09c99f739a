/*
 * TCP header and option parse and emit for IPv4 (see tcp.h).
 *
 * Header layout (RFC 9293 section 3.1), offsets in bytes:
 *   0 source port  2 destination port  4 sequence  8 acknowledgment
 *   12 data offset (high 4 bits) | reserved  13 control bits  14 window
 *   16 checksum  18 urgent pointer  20 options
 * The checksum covers the IPv4 pseudo-header, the header and the data.
 */
#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include "wire/bytes.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

enum rn_drop rn__tcp_parse4(const uint8_t *p, size_t len, uint32_t src,
                           uint32_t dst, unsigned flags,
                           struct rn_tcp_hdr *th)
{
    size_t hlen;

    assert(p != NULL || len == 0);
    assert(th != NULL);

    if (len < RN_TCP_HLEN)
        return RN_DROP_TRUNCATED;
    hlen = (size_t)(p[12] >> 4) * 4;
    if (hlen < RN_TCP_HLEN || hlen > len)
        return RN_DROP_BAD_TCP_HDR_LEN;
    if (!(flags & RN_CSUM_VERIFIED) &&
        rn_csum_fold(rn__csum_partial(
            p, len, rn_csum_pseudo4(src, dst, RN_IPPROTO_TCP, (uint32_t)len))) != 0)
        return RN_DROP_BAD_TCP_CSUM;
    th->th_sport = rn_get_be16(p);
    th->th_dport = rn_get_be16(p + 2);
    th->th_seq = rn_get_be32(p + 4);
    th->th_ack = rn_get_be32(p + 8);
    th->th_hlen = (uint8_t)hlen;
    th->th_flags = p[13];
    th->th_win = rn_get_be16(p + 14);
    th->th_sum = rn_get_be16(p + 16);
    th->th_urp = rn_get_be16(p + 18);
    th->th_optlen = (uint8_t)(hlen - RN_TCP_HLEN);
    th->th_opts = th->th_optlen ? p + RN_TCP_HLEN : NULL;
    th->th_payload = p + hlen;
    th->th_paylen = len - hlen;
    return RN_DROP_NONE;
}

size_t rn__tcp_emit4(uint8_t *seg, const struct rn_tcp_hdr *th, uint32_t src,
                    uint32_t dst)
{
    size_t hlen, seglen;

    assert(seg != NULL && th != NULL);
    assert(th->th_optlen <= RN_TCP_MAX_OPTLEN && th->th_optlen % 4 == 0);
    assert(th->th_optlen == 0 || th->th_opts != NULL);

    hlen = RN_TCP_HLEN + (size_t)th->th_optlen;
    seglen = hlen + th->th_paylen;
    assert(seglen <= RN_IP4_MAX_LEN - RN_IP4_HLEN);

    rn_put_be16(seg, th->th_sport);
    rn_put_be16(seg + 2, th->th_dport);
    rn_put_be32(seg + 4, th->th_seq);
    rn_put_be32(seg + 8, th->th_ack);
    seg[12] = (uint8_t)(hlen / 4 << 4);
    seg[13] = th->th_flags;
    rn_put_be16(seg + 14, th->th_win);
    rn_put_be16(seg + 16, 0);
    rn_put_be16(seg + 18, th->th_urp);
    if (th->th_optlen && th->th_opts != seg + RN_TCP_HLEN)
        memmove(seg + RN_TCP_HLEN, th->th_opts, th->th_optlen);
    rn_put_be16(seg + 16,
                rn_csum_fold(rn__csum_partial(
                    seg, seglen,
                    rn_csum_pseudo4(src, dst, RN_IPPROTO_TCP, (uint32_t)seglen))));
    return hlen;
}

/* ---- Options ------------------------------------------------------------ */

enum rn_drop rn__tcp_opts_parse(const uint8_t *opts, size_t len,
                               struct rn_tcp_opts *to)
{
    size_t off = 0;

    assert(opts != NULL || len == 0);
    assert(to != NULL);

    to->to_present = 0;
    to->to_nsacks = 0;
    while (off < len) {
        const uint8_t *q = opts + off;
        size_t left = len - off;
        size_t optlen, i;

        if (q[0] == RN_TCPOPT_EOL)
            break;
        if (q[0] == RN_TCPOPT_NOP) {
            off++;
            continue;
        }
        if (left < 2)
            return RN_DROP_BAD_TCP_OPTIONS;
        optlen = q[1];
        if (optlen < 2 || optlen > left)
            return RN_DROP_BAD_TCP_OPTIONS;
        switch (q[0]) {
        case RN_TCPOPT_MSS:
            if (optlen != RN_TCPOLEN_MSS)
                return RN_DROP_BAD_TCP_OPTIONS;
            to->to_mss = rn_get_be16(q + 2);
            to->to_present |= RN_TCPOPT_F_MSS;
            break;
        case RN_TCPOPT_WSCALE:
            if (optlen != RN_TCPOLEN_WSCALE)
                return RN_DROP_BAD_TCP_OPTIONS;
            to->to_wscale = q[2];
            to->to_present |= RN_TCPOPT_F_WSCALE;
            break;
        case RN_TCPOPT_SACK_PERM:
            if (optlen != RN_TCPOLEN_SACK_PERM)
                return RN_DROP_BAD_TCP_OPTIONS;
            to->to_present |= RN_TCPOPT_F_SACK_PERM;
            break;
        case RN_TCPOPT_TS:
            if (optlen != RN_TCPOLEN_TS)
                return RN_DROP_BAD_TCP_OPTIONS;
            to->to_tsval = rn_get_be32(q + 2);
            to->to_tsecr = rn_get_be32(q + 6);
            to->to_present |= RN_TCPOPT_F_TS;
            break;
        case RN_TCPOPT_SACK:
            /* Options inside a 60-byte header hold at most 4 blocks;
             * check it anyway, since the caller may pass any bytes. */
            if (optlen < 2 + RN_TCPOLEN_SACK_BLOCK ||
                (optlen - 2) % RN_TCPOLEN_SACK_BLOCK != 0 ||
                (optlen - 2) / RN_TCPOLEN_SACK_BLOCK > RN_TCP_MAX_SACKS)
                return RN_DROP_BAD_TCP_OPTIONS;
            to->to_nsacks = (uint8_t)((optlen - 2) / RN_TCPOLEN_SACK_BLOCK);
            for (i = 0; i < to->to_nsacks; i++) {
                const uint8_t *b = q + 2 + i * RN_TCPOLEN_SACK_BLOCK;

                to->to_sacks[i].sb_start = rn_get_be32(b);
                to->to_sacks[i].sb_end = rn_get_be32(b + 4);
            }
            to->to_present |= RN_TCPOPT_F_SACK;
            break;
        default:
            /* Unknown kinds carry a length, so they can be stepped over. */
            break;
        }
        off += optlen;
    }
    return RN_DROP_NONE;
}

/*
 * Writes (if out != NULL) or measures the option layout of *to.  The one
 * routine serves rn__tcp_opts_emit() and rn__tcp_opts_len(), so the two can
 * never disagree.
 */
static size_t tcp_opts_layout(uint8_t *out, const struct rn_tcp_opts *to)
{
    uint8_t buf[RN_TCP_MAX_OPTLEN];
    uint8_t *q = out != NULL ? out : buf;
    size_t n = 0;
    bool sack_perm = to->to_present & RN_TCPOPT_F_SACK_PERM;
    bool ts = to->to_present & RN_TCPOPT_F_TS;

    if (to->to_present & RN_TCPOPT_F_MSS) {
        q[n++] = RN_TCPOPT_MSS;
        q[n++] = RN_TCPOLEN_MSS;
        rn_put_be16(q + n, to->to_mss);
        n += 2;
    }
    /* SACK-permitted's two bytes take the place of the two NOPs that would
     * otherwise align the timestamps. */
    if (sack_perm || ts) {
        if (sack_perm) {
            if (!ts) {
                q[n++] = RN_TCPOPT_NOP;
                q[n++] = RN_TCPOPT_NOP;
            }
            q[n++] = RN_TCPOPT_SACK_PERM;
            q[n++] = RN_TCPOLEN_SACK_PERM;
        } else {
            q[n++] = RN_TCPOPT_NOP;
            q[n++] = RN_TCPOPT_NOP;
        }
        if (ts) {
            q[n++] = RN_TCPOPT_TS;
            q[n++] = RN_TCPOLEN_TS;
            rn_put_be32(q + n, to->to_tsval);
            rn_put_be32(q + n + 4, to->to_tsecr);
            n += 8;
        }
    }
    if (to->to_present & RN_TCPOPT_F_WSCALE) {
        q[n++] = RN_TCPOPT_NOP;
        q[n++] = RN_TCPOPT_WSCALE;
        q[n++] = RN_TCPOLEN_WSCALE;
        q[n++] = to->to_wscale;
    }
    if ((to->to_present & RN_TCPOPT_F_SACK) && to->to_nsacks > 0) {
        size_t room = (RN_TCP_MAX_OPTLEN - n - 4) / RN_TCPOLEN_SACK_BLOCK;
        size_t nb = to->to_nsacks < room ? to->to_nsacks : room;
        size_t i;

        assert(to->to_nsacks <= RN_TCP_MAX_SACKS);
        if (nb > 0) {
            q[n++] = RN_TCPOPT_NOP;
            q[n++] = RN_TCPOPT_NOP;
            q[n++] = RN_TCPOPT_SACK;
            q[n++] = (uint8_t)(2 + nb * RN_TCPOLEN_SACK_BLOCK);
            for (i = 0; i < nb; i++) {
                rn_put_be32(q + n, to->to_sacks[i].sb_start);
                rn_put_be32(q + n + 4, to->to_sacks[i].sb_end);
                n += RN_TCPOLEN_SACK_BLOCK;
            }
        }
    }
    assert(n <= RN_TCP_MAX_OPTLEN && n % 4 == 0);
    return n;
}

size_t rn__tcp_opts_emit(uint8_t *out, const struct rn_tcp_opts *to)
{
    assert(out != NULL && to != NULL);
    return tcp_opts_layout(out, to);
}

size_t rn__tcp_opts_len(const struct rn_tcp_opts *to)
{
    assert(to != NULL);
    return tcp_opts_layout(NULL, to);
}

/* Flag bits in printing order, with tcpdump's letter and the long name. */
static const struct {
    uint8_t bit;
    char letter;
    const char *name;
} tcp_flag_names[] = {
    {RN_TCP_FIN, 'F', "FIN"}, {RN_TCP_SYN, 'S', "SYN"},
    {RN_TCP_RST, 'R', "RST"}, {RN_TCP_PSH, 'P', "PSH"},
    {RN_TCP_ACK, '.', "ACK"}, {RN_TCP_URG, 'U', "URG"},
    {RN_TCP_ECE, 'E', "ECE"}, {RN_TCP_CWR, 'W', "CWR"},
};

char *rn__tcp_flags_fmt(uint8_t flags, char *buf)
{
    size_t i, n = 0;

    assert(buf != NULL);
    if (flags == 0) {
        strcpy(buf, "none");
        return buf;
    }
    for (i = 0; i < sizeof(tcp_flag_names) / sizeof(tcp_flag_names[0]); i++) {
        if (flags & tcp_flag_names[i].bit)
            buf[n++] = tcp_flag_names[i].letter;
    }
    buf[n] = '\0';
    return buf;
}

char *rn__tcp_flags_fmt_long(uint8_t flags, char *buf)
{
    size_t i, n = 0;

    assert(buf != NULL);
    if (flags == 0) {
        strcpy(buf, "none");
        return buf;
    }
    for (i = 0; i < sizeof(tcp_flag_names) / sizeof(tcp_flag_names[0]); i++) {
        if (!(flags & tcp_flag_names[i].bit))
            continue;
        if (n > 0)
            buf[n++] = '|';
        memcpy(buf + n, tcp_flag_names[i].name, 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}
