/*
 * ICMPv6 (RFC 4443) and the neighbour discovery messages a host handles
 * (RFC 4861): parse and emit only.
 *
 * The network layer parses every IPv6 payload of next header 58 with
 * rn__icmp6_parse(), which verifies the checksum over the IPv6
 * pseudo-header and, for an error message, reads the quoted datagram's
 * addresses and upper-layer header so a transport can find what it is
 * about.  Neighbour solicitations and advertisements are then validated by
 * rn__nd6_parse() (RFC 4861 7.1) before neighbour discovery (src/net) acts
 * on them.
 */
#ifndef REFNET_WIRE_ICMPV6_H
#define REFNET_WIRE_ICMPV6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/addr.h"
#include "refnet/drop.h"

#define RN_ICMP6_HLEN 8  /* type, code, checksum and 4 type-specific bytes */
/* The longest error message: an error must fit in the minimum MTU with its
 * IPv6 header (RFC 4443 2.4 (c)). */
#define RN_ICMP6_ERR_MAXLEN (1280 - 40)

/* Types. */
#define RN_ICMP6_DEST_UNREACH 1
#define RN_ICMP6_PACKET_TOO_BIG 2
#define RN_ICMP6_TIME_EXCEEDED 3
#define RN_ICMP6_PARAM_PROBLEM 4
#define RN_ICMP6_ECHO_REQUEST 128
#define RN_ICMP6_ECHO_REPLY 129
#define RN_ICMP6_MLD_QUERY 130
#define RN_ICMP6_ROUTER_SOLICIT 133
#define RN_ICMP6_ROUTER_ADVERT 134
#define RN_ICMP6_NEIGHBOR_SOLICIT 135
#define RN_ICMP6_NEIGHBOR_ADVERT 136
#define RN_ICMP6_REDIRECT 137

/* Codes of RN_ICMP6_DEST_UNREACH. */
#define RN_ICMP6_UNREACH_NOROUTE 0
#define RN_ICMP6_UNREACH_ADMIN 1
#define RN_ICMP6_UNREACH_ADDR 3
#define RN_ICMP6_UNREACH_PORT 4
/* Codes of RN_ICMP6_PARAM_PROBLEM. */
#define RN_ICMP6_PP_HEADER 0       /* erroneous header field */
#define RN_ICMP6_PP_NEXTHEADER 1   /* unrecognized next header */
#define RN_ICMP6_PP_OPTION 2       /* unrecognized option */

/* Neighbour advertisement flags, in the high bits of ic6_rest. */
#define RN_ND_NA_ROUTER 0x80000000u
#define RN_ND_NA_SOLICITED 0x40000000u
#define RN_ND_NA_OVERRIDE 0x20000000u

/* Neighbour discovery option types (RFC 4861 4.6). */
#define RN_ND_OPT_SRC_LLADDR 1
#define RN_ND_OPT_TGT_LLADDR 2
#define RN_ND_OPT_PREFIX 3
#define RN_ND_OPT_REDIRECTED 4
#define RN_ND_OPT_MTU 5

/* Bytes of a neighbour solicitation or advertisement without options, and
 * with one link-layer address option for Ethernet. */
#define RN_ND_NS_LEN 24
#define RN_ND_NS_LL_LEN 32

/*
 * A parsed ICMPv6 message.  The ic6_q* fields are set only for error
 * messages (type below 128) and describe the datagram quoted in them.
 */
struct rn_icmp6_hdr {
    uint8_t ic6_type;          /* RN_ICMP6_* */
    uint8_t ic6_code;
    uint16_t ic6_sum;          /* as received */
    uint32_t ic6_rest;         /* the 4 type-specific bytes, host order:
                                * echo id << 16 | seq; too big: the MTU;
                                * parameter problem: the pointer; NA flags */
    const uint8_t *ic6_data;   /* after the 8-byte header */
    size_t ic6_datalen;
    struct rn_ip6 ic6_qsrc;    /* error: quoted source */
    struct rn_ip6 ic6_qdst;    /* error: quoted destination */
    uint8_t ic6_qproto;        /* error: quoted upper-layer protocol, or
                                * RN_IP6_NH_NONE if the quote stops first */
    const uint8_t *ic6_ql4;    /* error: quoted upper-layer header */
    size_t ic6_ql4len;         /* error: bytes at ic6_ql4 (may be < 8) */
};

/* True for the types that report an error (RFC 4443 2.1: below 128). */
static inline bool rn_icmp6_is_error(uint8_t type)
{
    return type < 128;
}

/*
 * Parses the ICMPv6 message of len bytes at p, sent from src to dst, into
 * *ic.  Returns RN_DROP_NONE or:
 *   RN_DROP_BAD_ICMP       len < 8, or an error message quoting less than
 *                          an IPv6 header;
 *   RN_DROP_BAD_ICMP_CSUM  the checksum over the pseudo-header fails (not
 *                          judged if flags has RN_CSUM_VERIFIED).
 * Reads only [p, p + len).
 */
enum rn_drop rn__icmp6_parse(const uint8_t *p, size_t len, const struct rn_ip6 *src,
                             const struct rn_ip6 *dst, unsigned flags, struct rn_icmp6_hdr *ic);

/* Writes the checksum of the len-byte ICMPv6 message at msg, sent from src
 * to dst, into its checksum field. */
void rn__icmp6_set_csum(uint8_t *msg, size_t len, const struct rn_ip6 *src,
                        const struct rn_ip6 *dst);

/*
 * Writes an error message of type and code with rest in its 4 bytes,
 * quoting as much of the orig_len bytes at orig (the offending datagram,
 * IPv6 header first) as fits in cap bytes (at most RN_ICMP6_ERR_MAXLEN),
 * with its checksum for src -> dst.  out must have cap bytes, cap >= 8.
 * Returns the message's length.
 */
size_t rn__icmp6_emit_error(uint8_t *out, size_t cap, const struct rn_ip6 *src,
                            const struct rn_ip6 *dst, uint8_t type, uint8_t code, uint32_t rest,
                            const uint8_t *orig, size_t orig_len);

/* ---- Neighbour discovery ------------------------------------------------- */

/* A validated neighbour solicitation or advertisement. */
struct rn_nd6 {
    struct rn_ip6 nd_target;  /* the target address */
    uint32_t nd_flags;        /* NA: RN_ND_NA_*; NS: 0 */
    bool nd_has_lladdr;       /* a link-layer address option came: the
                               * source's (NS) or the target's (NA) */
    struct rn_mac nd_lladdr;  /* that address */
};

/*
 * Validates a neighbour solicitation or advertisement ic, received with
 * hop limit hlim from src to dst, as RFC 4861 7.1.1 and 7.1.2 say, and
 * reads it into *nd.  Returns RN_DROP_NONE or RN_DROP_BAD_NDP: hop limit
 * not 255, code not 0, shorter than 24 bytes, a multicast target, an option
 * of length 0 or running past the message, a solicitation from :: not to
 * a solicited-node address or with a source link-layer option, or a
 * solicited advertisement to a multicast address.  Other ND option types
 * are skipped.  ic must be an RN_ICMP6_NEIGHBOR_SOLICIT or _ADVERT.
 */
enum rn_drop rn__nd6_parse(const struct rn_icmp6_hdr *ic, uint8_t hlim,
                           const struct rn_ip6 *src, const struct rn_ip6 *dst,
                           struct rn_nd6 *nd);

/* Writes a neighbour solicitation for target from src to dst, with a
 * source link-layer address option of *sll unless sll is NULL (duplicate
 * address detection sends none, from ::).  out must have
 * RN_ND_NS_LL_LEN bytes.  Returns the length, 24 or 32. */
size_t rn__nd6_emit_ns(uint8_t *out, const struct rn_ip6 *src, const struct rn_ip6 *dst,
                       const struct rn_ip6 *target, const struct rn_mac *sll);

/* Writes a neighbour advertisement for target with flags (RN_ND_NA_*) and
 * a target link-layer address option of *tll, from src to dst.  out must
 * have RN_ND_NS_LL_LEN bytes.  Returns RN_ND_NS_LL_LEN. */
size_t rn__nd6_emit_na(uint8_t *out, const struct rn_ip6 *src, const struct rn_ip6 *dst,
                       const struct rn_ip6 *target, uint32_t flags, const struct rn_mac *tll);

/* ---- Router discovery and redirects (RFC 4861 4.1, 4.2, 4.5, 4.6) ------- */

#define RN_ND_RS_LL_LEN 16      /* a router solicitation with an Ethernet
                                 * source link-layer option (8 without) */
#define RN_ND_RA_MANAGED 0x80   /* RA flags: addresses from DHCPv6 */
#define RN_ND_RA_OTHER 0x40     /* RA flags: other configuration from DHCPv6 */
#define RN_ND_PI_ONLINK 0x80    /* prefix option flags: on-link (L) */
#define RN_ND_PI_AUTO 0x40      /* prefix option flags: autonomous (A) */
#define RN_ND_RA_MAX_PREFIXES 8 /* prefix options read from one advertisement */

/* A prefix information option (RFC 4861 4.6.2). */
struct rn_nd6_prefix {
    struct rn_ip6 pi_prefix;    /* the prefix, host bits as sent */
    uint8_t pi_plen;            /* its length, 0..128 */
    uint8_t pi_flags;           /* RN_ND_PI_* */
    uint32_t pi_valid;          /* valid lifetime, seconds; 0xffffffff: forever */
    uint32_t pi_preferred;      /* preferred lifetime, seconds */
};

/* A validated router advertisement. */
struct rn_ra6 {
    uint8_t ra_cur_hlim;        /* hop limit for our datagrams; 0: unspecified */
    uint8_t ra_flags;           /* RN_ND_RA_* */
    uint16_t ra_lifetime;       /* as a default router, seconds; 0: not one */
    uint32_t ra_reachable;      /* ReachableTime, ms; 0: unspecified */
    uint32_t ra_retrans;        /* RetransTimer, ms; 0: unspecified */
    bool ra_has_lladdr;         /* a source link-layer option came */
    struct rn_mac ra_lladdr;    /* the router's link address */
    uint32_t ra_mtu;            /* the MTU option's value; 0: none */
    struct rn_nd6_prefix ra_prefix[RN_ND_RA_MAX_PREFIXES]; /* in order */
    unsigned ra_nprefix;        /* entries of ra_prefix used */
    unsigned ra_prefix_over;    /* prefix options past RN_ND_RA_MAX_PREFIXES,
                                 * not read */
};

/*
 * Validates a router advertisement ic received with hop limit hlim from
 * src (RFC 4861 6.1.2) and reads it into *ra.  Returns RN_DROP_NONE or
 * RN_DROP_BAD_RA: source not link-local, hop limit not 255, code not 0,
 * shorter than 16 bytes, an option of length 0 or running past the
 * message.  Options of an unexpected length (a link-layer option not 8
 * bytes, a prefix option not 32, an MTU option not 8) and unknown options
 * are skipped, as RFC 4861 4.6 lets a receiver do.  ic must be an
 * RN_ICMP6_ROUTER_ADVERT.
 */
enum rn_drop rn__ra6_parse(const struct rn_icmp6_hdr *ic, uint8_t hlim, const struct rn_ip6 *src,
                           struct rn_ra6 *ra);

/* A validated redirect. */
struct rn_redirect6 {
    struct rn_ip6 rd_target;    /* the better first hop (or rd_dst itself:
                                 * the destination is on-link) */
    struct rn_ip6 rd_dst;       /* the destination redirected */
    bool rd_has_lladdr;         /* a target link-layer option came */
    struct rn_mac rd_lladdr;    /* the target's link address */
};

/*
 * Validates a redirect ic received with hop limit hlim from src (RFC 4861
 * 8.1, all but the check against the current first hop, which is the
 * network layer's) and reads it into *rd.  Returns RN_DROP_NONE or
 * RN_DROP_BAD_REDIRECT: source not link-local, hop limit not 255, code not
 * 0, shorter than 40 bytes, a multicast destination, a target neither
 * link-local nor the destination, an option of length 0 or running past
 * the message.  ic must be an RN_ICMP6_REDIRECT.
 */
enum rn_drop rn__redirect6_parse(const struct rn_icmp6_hdr *ic, uint8_t hlim,
                                 const struct rn_ip6 *src, struct rn_redirect6 *rd);

/* Writes a router solicitation from src to dst with a source link-layer
 * option of *sll unless sll is NULL (from ::, RFC 4861 4.1 forbids it).
 * out must have RN_ND_RS_LL_LEN bytes.  Returns the length, 8 or 16. */
size_t rn__nd6_emit_rs(uint8_t *out, const struct rn_ip6 *src, const struct rn_ip6 *dst,
                       const struct rn_mac *sll);

#endif /* REFNET_WIRE_ICMPV6_H */
