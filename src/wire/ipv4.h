/*
 * IPv4 headers (RFC 791) and their options: parse and emit only.  Address
 * helpers and text forms are public (refnet/addr.h).
 *
 * The network layer calls rn__ip4_parse() on every Ethernet payload of type
 * 0x0800; it validates everything that can be checked without state
 * (version, lengths, checksum, options, fragment fields) so the layers above
 * only see well-formed headers.  Reassembly, routing and delivery decisions
 * are the network layer's (src/net).
 *
 * Addresses are uint32_t in host order everywhere in refnet:
 * 198.18.0.2 is 0xc6120002.
 */
#ifndef REFNET_WIRE_IPV4_H
#define REFNET_WIRE_IPV4_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/addr.h"
#include "refnet/drop.h"
#include "refnet/error.h"

#define RN_IP4_HLEN 20        /* header without options */
/* The ECN field, the TOS octet's two low bits (RFC 3168 5). */
#define RN_IP_ECN_MASK 0x03
#define RN_IP_ECN_ECT0 0x02   /* ECN-capable transport (0) */
#define RN_IP_ECN_CE 0x03     /* congestion experienced */
#define RN_IP4_MAX_HLEN 60    /* IHL is 4 bits of 32-bit words */
#define RN_IP4_MAX_OPTLEN 40  /* RN_IP4_MAX_HLEN - RN_IP4_HLEN */
#define RN_IP4_MAX_LEN 65535  /* total length is 16 bits */
#define RN_IP4_MIN_MTU 68     /* RFC 791: every link must carry this */

/* Protocol numbers: RN_IPPROTO_* (refnet/addr.h). */

/* Option types (RFC 791 section 3.1 and later RFCs). */
#define RN_IPOPT_EOL 0     /* end of option list */
#define RN_IPOPT_NOP 1     /* no operation, for alignment */
#define RN_IPOPT_RR 7      /* record route */
#define RN_IPOPT_TS 68     /* timestamp */
#define RN_IPOPT_LSRR 131  /* loose source and record route */
#define RN_IPOPT_SSRR 137  /* strict source and record route */
#define RN_IPOPT_RA 148    /* router alert (RFC 2113) */
/* The copied flag: copy this option into every fragment. */
#define RN_IPOPT_COPIED(type) (((type) & 0x80) != 0)

/* "255.255.255.255/32" plus the NUL. */
#define RN_IP4_CIDR_STRLEN 19

/*
 * A parsed IPv4 header.  Filled by rn__ip4_parse(); rn__ip4_emit() reads the
 * fields marked (emit) and computes the rest.
 * Invariants after a successful parse:
 *   ip_hlen == RN_IP4_HLEN + ip_optlen, ip_len == ip_hlen + ip_paylen,
 *   ip_off + ip_paylen <= RN_IP4_MAX_LEN.
 */
struct rn_ip4_hdr {
    uint8_t ip_hlen;           /* header length in bytes, 20..60 */
    uint8_t ip_tos;            /* DSCP and ECN bits (emit) */
    uint16_t ip_len;           /* total length: header plus payload */
    uint16_t ip_id;            /* identification, for reassembly (emit) */
    uint16_t ip_off;           /* fragment offset in bytes, a multiple of 8
                                * (emit) */
    bool ip_df;                /* don't fragment (emit) */
    bool ip_mf;                /* more fragments follow (emit) */
    uint8_t ip_ttl;            /* time to live (emit) */
    uint8_t ip_proto;          /* RN_IPPROTO_* (emit) */
    uint16_t ip_sum;           /* header checksum as received */
    uint32_t ip_src;           /* source address (emit) */
    uint32_t ip_dst;           /* destination address (emit) */
    const uint8_t *ip_opts;    /* options, ip_optlen bytes; NULL if none
                                * (emit) */
    uint8_t ip_optlen;         /* 0..40, a multiple of 4 (emit) */
    const uint8_t *ip_payload; /* first payload byte; parse only */
    uint16_t ip_paylen;        /* payload bytes, Ethernet padding excluded
                                * (emit) */
};

/*
 * Parses and validates the IPv4 header of the len-byte packet at p (the
 * Ethernet payload, padding included) into *ip.  Returns RN_DROP_NONE or:
 *   RN_DROP_TRUNCATED         len < 20;
 *   RN_DROP_BAD_IP_VERSION    version is not 4;
 *   RN_DROP_BAD_IP_HDR_LEN    IHL < 5, or IHL * 4 > len;
 *   RN_DROP_BAD_IP_TOTAL_LEN  total length < IHL * 4, or > len;
 *   RN_DROP_BAD_IP_CSUM       the header checksum does not verify;
 *   RN_DROP_BAD_IP_OPTIONS    an option is malformed (see rn__ip4_opt_next);
 *   RN_DROP_FRAG_TOO_BIG      fragment offset + payload > 65535;
 *   RN_DROP_BAD_IP_FRAG       MF set with a payload that is empty or not a
 *                             multiple of 8 bytes.
 * Bytes past the total length (Ethernet padding) are excluded from
 * ip_paylen.  The TTL is not judged: a TTL of 0 or 1 is fine for a packet
 * addressed to us (see rn__ip4_dec_ttl() for forwarding).  Reads only
 * [p, p + len); on failure *ip is partly written and must not be used.
 */
enum rn_drop rn__ip4_parse(const uint8_t *p, size_t len, struct rn_ip4_hdr *ip);

/*
 * Writes the IPv4 header described by *ip at out, which must have
 * RN_IP4_HLEN + ip->ip_optlen bytes, with total length
 * header + ip->ip_paylen and a correct checksum.  ip_optlen must be a
 * multiple of 4 and at most 40 (pad options with EOL or NOP); the options
 * are copied unless ip_opts already points at out + 20.  ip_hlen, ip_len,
 * ip_sum and ip_payload are ignored.  Returns the header length.
 */
size_t rn__ip4_emit(uint8_t *out, const struct rn_ip4_hdr *ip);

/*
 * Decrements the TTL of the valid IPv4 header at hdr for forwarding and
 * updates its checksum incrementally (RFC 1624).  Returns RN_DROP_NONE, or
 * RN_DROP_IP_TTL_EXPIRED, leaving the header untouched, if the TTL is 0 or 1
 * (the caller then sends ICMP time exceeded).
 */
enum rn_drop rn__ip4_dec_ttl(uint8_t *hdr);

/*
 * Reads a dotted quad at the start of s (the IPv6 parser reads the one at
 * the end of "::ffff:198.18.0.2" with it).  Returns 0 and sets *addr and
 * *end (the first byte after the address), or RN_EINVAL with a static
 * reason in *errmsg.
 */
int rn__ip4_addr_scan(const char *s, uint32_t *addr, const char **end,
                      const char **errmsg);

/* True if the packet is a fragment: MF set, or a non-zero offset. */
static inline bool rn_ip4_is_fragment(const struct rn_ip4_hdr *ip)
{
    return ip->ip_mf || ip->ip_off != 0;
}

/* ---- Options ------------------------------------------------------------ */

/* One option, as produced by rn__ip4_opt_next().  NOP and EOL are never
 * produced. */
struct rn_ip4_opt {
    uint8_t io_type;         /* option type octet, RN_IPOPT_* */
    uint8_t io_len;          /* whole option, type and length octets
                              * included, >= 2 */
    const uint8_t *io_data;  /* io_len - 2 bytes after the length octet */
};

/* A cursor over an options area.  Set up with rn__ip4_opt_init(). */
struct rn_ip4_opt_iter {
    const uint8_t *oi_p;     /* first option byte */
    size_t oi_len;           /* bytes in the options area */
    size_t oi_off;           /* next byte to read, oi_off <= oi_len */
    bool oi_bad;             /* a malformed option was met; sticky */
};

/* Starts a walk over the len option bytes at opts (e.g. ip_opts and
 * ip_optlen of a parsed header, or any untrusted bytes). */
void rn__ip4_opt_init(struct rn_ip4_opt_iter *it, const uint8_t *opts,
                     size_t len);

/*
 * Advances to the next option, skipping NOPs.  Returns 1 and fills *opt;
 * 0 at an EOL or the end of the area; or RN_EFORMAT if an option is
 * malformed: its length octet is missing, below 2, runs past the area, or
 * is wrong for a known type (RR, LSRR, SSRR at least 3; TS at least 4; RA
 * exactly 4).  After RN_EFORMAT every further call returns RN_EFORMAT.
 * Never reads outside the area.
 */
int rn__ip4_opt_next(struct rn_ip4_opt_iter *it, struct rn_ip4_opt *opt);

#endif /* REFNET_WIRE_IPV4_H */
