/*
 * TCP segments over IPv4 (RFC 9293) and their options (RFC 9293 MSS,
 * RFC 7323 window scale and timestamps, RFC 2018 SACK): parse and emit
 * only.
 *
 * Input: rn__tcp_parse4() validates the header and checksum of every IPv4
 * payload of protocol 6; rn__tcp_opts_parse() then decodes the options the
 * connection cares about.  Output: rn__tcp_opts_emit() lays out options,
 * the payload is placed after them, and rn__tcp_emit4() writes the header and
 * checksum.  Connection state is the transport layer's (src/transport).
 */
#ifndef REFNET_WIRE_TCP_H
#define REFNET_WIRE_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "refnet/drop.h"
#include "wire/csum.h"

#define RN_TCP_HLEN 20        /* header without options */
#define RN_TCP_MAX_HLEN 60    /* data offset is 4 bits of 32-bit words */
#define RN_TCP_MAX_OPTLEN 40  /* RN_TCP_MAX_HLEN - RN_TCP_HLEN */

/* Control bits, as in the 13th header byte (RFC 9293 3.1, RFC 3168). */
#define RN_TCP_FIN 0x01
#define RN_TCP_SYN 0x02
#define RN_TCP_RST 0x04
#define RN_TCP_PSH 0x08
#define RN_TCP_ACK 0x10
#define RN_TCP_URG 0x20
#define RN_TCP_ECE 0x40
#define RN_TCP_CWR 0x80

/* Option kinds (IANA) and their lengths. */
#define RN_TCPOPT_EOL 0
#define RN_TCPOPT_NOP 1
#define RN_TCPOPT_MSS 2
#define RN_TCPOPT_WSCALE 3
#define RN_TCPOPT_SACK_PERM 4
#define RN_TCPOPT_SACK 5
#define RN_TCPOPT_TS 8
#define RN_TCPOLEN_MSS 4
#define RN_TCPOLEN_WSCALE 3
#define RN_TCPOLEN_SACK_PERM 2
#define RN_TCPOLEN_TS 10
#define RN_TCPOLEN_SACK_BLOCK 8  /* per block, after 2 octets of kind/len */

#define RN_TCP_MAX_WSCALE 14  /* RFC 7323 2.3: larger shifts are clamped */
#define RN_TCP_MAX_SACKS 4    /* blocks that fit in 40 bytes of options */

/* Longest rn__tcp_flags_fmt_long() text, "FIN|SYN|...|CWR", plus the NUL;
 * also enough for rn__tcp_flags_fmt(). */
#define RN_TCP_FLAGS_STRLEN 32

/*
 * A parsed TCP header.  Filled by rn__tcp_parse4(); rn__tcp_emit4() reads the
 * fields marked (emit).  After a successful parse:
 *   th_hlen == RN_TCP_HLEN + th_optlen, th_hlen + th_paylen == segment len.
 */
struct rn_tcp_hdr {
    uint16_t th_sport;         /* source port (emit) */
    uint16_t th_dport;         /* destination port (emit) */
    uint32_t th_seq;           /* sequence number (emit) */
    uint32_t th_ack;           /* acknowledgment number (emit) */
    uint8_t th_hlen;           /* data offset in bytes, 20..60 */
    uint8_t th_flags;          /* RN_TCP_* control bits (emit) */
    uint16_t th_win;           /* window, unscaled as on the wire (emit) */
    uint16_t th_sum;           /* checksum as received */
    uint16_t th_urp;           /* urgent pointer (emit) */
    const uint8_t *th_opts;    /* option bytes; NULL if none (emit) */
    uint8_t th_optlen;         /* 0..40, a multiple of 4 (emit) */
    const uint8_t *th_payload; /* first data byte; parse only */
    size_t th_paylen;          /* data bytes (emit) */
};

/* One SACK block: bytes [sb_start, sb_end) received (sequence space). */
struct rn_tcp_sack {
    uint32_t sb_start;  /* left edge, first sequence number in the block */
    uint32_t sb_end;    /* right edge, first sequence number after it */
};

/* Which options a struct rn_tcp_opts holds (to_present bits). */
#define RN_TCPOPT_F_MSS 0x01
#define RN_TCPOPT_F_WSCALE 0x02
#define RN_TCPOPT_F_SACK_PERM 0x04
#define RN_TCPOPT_F_TS 0x08
#define RN_TCPOPT_F_SACK 0x10  /* to_nsacks >= 1 blocks */

/* The options refnet understands, decoded.  A field is meaningful only if
 * its bit is in to_present. */
struct rn_tcp_opts {
    uint8_t to_present;      /* RN_TCPOPT_F_* */
    uint8_t to_wscale;       /* shift count as sent; may exceed 14, the
                              * transport layer clamps it */
    uint16_t to_mss;         /* maximum segment size */
    uint32_t to_tsval;       /* timestamp value */
    uint32_t to_tsecr;       /* timestamp echo reply */
    uint8_t to_nsacks;       /* blocks in to_sacks, 1..4 if F_SACK */
    struct rn_tcp_sack to_sacks[RN_TCP_MAX_SACKS]; /* in the order sent */
};

/*
 * Parses the TCP segment of len bytes at p (the IPv4 payload, ip_paylen)
 * from src to dst (host order) into *th.  Returns RN_DROP_NONE or:
 *   RN_DROP_TRUNCATED        len < 20;
 *   RN_DROP_BAD_TCP_HDR_LEN  data offset < 5 words or beyond len;
 *   RN_DROP_BAD_TCP_CSUM     the checksum over pseudo-header, header and
 *                            data does not verify (skipped with
 *                            RN_CSUM_VERIFIED in flags).
 * Options are not decoded here: call rn__tcp_opts_parse() on th_opts.  The
 * four reserved bits are ignored.  Reads only [p, p + len).
 */
enum rn_drop rn__tcp_parse4(const uint8_t *p, size_t len, uint32_t src,
                           uint32_t dst, unsigned flags,
                           struct rn_tcp_hdr *th);

/*
 * Writes the TCP header described by *th at seg, for a segment from src to
 * dst: RN_TCP_HLEN + th_optlen bytes, options copied from th_opts unless
 * they are already at seg + 20.  The th_paylen data bytes must already sit
 * at seg + RN_TCP_HLEN + th_optlen, since the checksum covers them.  th_optlen
 * must be a multiple of 4, at most 40 (rn__tcp_opts_emit() guarantees it).
 * Returns the header length.
 */
size_t rn__tcp_emit4(uint8_t *seg, const struct rn_tcp_hdr *th, uint32_t src,
                    uint32_t dst);

/*
 * Decodes the len option bytes at opts (th_opts, th_optlen) into *to.
 * MSS, window scale, SACK-permitted, timestamps and SACK (1..4 blocks) are
 * decoded, NOPs and unknown kinds skipped, and an EOL ends the list; a
 * kind that appears twice keeps its last value.  Returns RN_DROP_NONE, or
 * RN_DROP_BAD_TCP_OPTIONS if an option's length octet is missing, below 2,
 * runs past the area, or is wrong for its kind (MSS 4, WS 3, SACK-permitted
 * 2, TS 10, SACK 2 + 8n with n >= 1): RFC 9293 MUST-7 asks to handle an
 * illegal length, and a sender that gets lengths wrong cannot be trusted
 * with the rest.  Reads only [opts, opts + len).
 */
enum rn_drop rn__tcp_opts_parse(const uint8_t *opts, size_t len,
                               struct rn_tcp_opts *to);

/*
 * Lays out the options in to->to_present at out, which must have
 * RN_TCP_MAX_OPTLEN bytes, aligned and padded with NOPs to a multiple of 4:
 *   MSS | SACK-permitted, TS | NOP, WS | NOP, NOP, SACK blocks
 * which for a SYN with all four is the usual 20-byte
 * "MSS, SACK-perm, TS, NOP, WS"; without TS, SACK-permitted is preceded by
 * two NOPs, and TS alone by two NOPs.  SACK blocks are written first to
 * last, as many as fit in the remaining room (3 beside timestamps, 4
 * alone).  Returns the option length (0..40, a multiple of 4).
 */
size_t rn__tcp_opts_emit(uint8_t *out, const struct rn_tcp_opts *to);

/* Returns the length rn__tcp_opts_emit() would produce for *to, without
 * writing; for sizing headers and the effective send MSS. */
size_t rn__tcp_opts_len(const struct rn_tcp_opts *to);

/* Writes flags tcpdump's way into buf (RN_TCP_FLAGS_STRLEN bytes): one
 * letter per bit in the order F S R P . U E W, "." for ACK, so SYN|ACK is
 * "S.", FIN|ACK "F."; "none" for 0.  Returns buf. */
char *rn__tcp_flags_fmt(uint8_t flags, char *buf);

/* Writes flags as names joined by '|' into buf (RN_TCP_FLAGS_STRLEN bytes),
 * in the same order: "SYN|ACK", "FIN|PSH|ACK"; "none" for 0.  Returns
 * buf. */
char *rn__tcp_flags_fmt_long(uint8_t flags, char *buf);

#endif /* REFNET_WIRE_TCP_H */
