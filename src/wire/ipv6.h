/*
 * IPv6 headers (RFC 8200) and the walk of their extension header chain:
 * parse and emit only.  Address helpers and text forms are public
 * (refnet/addr.h).
 *
 * The network layer calls rn__ip6_parse() on every Ethernet payload of type
 * 0x86dd, then rn__ip6_ext_walk() over the datagram, which judges the
 * hop-by-hop, destination options, routing and fragment headers the way a
 * host must (RFC 8200 4, RFC 5095) and says where the upper-layer header
 * starts, or why the datagram is dropped and which ICMPv6 parameter
 * problem, if any, answers it.  Reassembly and delivery are the network
 * layer's (src/net).
 */
#ifndef REFNET_WIRE_IPV6_H
#define REFNET_WIRE_IPV6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/addr.h"
#include "refnet/drop.h"

#define RN_IP6_HLEN 40          /* the fixed header */
#define RN_IP6_MIN_MTU 1280     /* RFC 8200 5: every link carries this */
#define RN_IP6_MAX_PAYLOAD 65535

/* Next-header values of the extension headers and the ones that end a
 * chain (IANA).  Upper-layer protocols: RN_IPPROTO_* (refnet/addr.h). */
#define RN_IP6_NH_HOPOPTS 0
#define RN_IP6_NH_ROUTING 43
#define RN_IP6_NH_FRAGMENT 44
#define RN_IP6_NH_ESP 50
#define RN_IP6_NH_AH 51
#define RN_IP6_NH_NONE 59
#define RN_IP6_NH_DSTOPTS 60

/* Options of the hop-by-hop and destination options headers. */
#define RN_IP6_OPT_PAD1 0
#define RN_IP6_OPT_PADN 1
#define RN_IP6_OPT_ROUTER_ALERT 5  /* RFC 2711, hop-by-hop */
/* The two high bits of an option type: what to do if it is unknown. */
#define RN_IP6_OPT_ACTION(type) ((type) >> 6)
#define RN_IP6_OPT_SKIP 0          /* skip it */
#define RN_IP6_OPT_DISCARD 1       /* discard silently */
#define RN_IP6_OPT_DISCARD_ICMP 2  /* discard, parameter problem code 2 */
#define RN_IP6_OPT_DISCARD_ICMP_UC 3 /* the same unless the destination is
                                      * multicast */

/*
 * A parsed IPv6 fixed header.  Filled by rn__ip6_parse(); rn__ip6_emit()
 * reads the fields marked (emit).  After a successful parse
 * ip6_plen <= len - RN_IP6_HLEN (bytes past it are link padding).
 */
struct rn_ip6_hdr {
    uint8_t ip6_tclass;          /* traffic class: DSCP and ECN (emit) */
    uint32_t ip6_flow;           /* flow label, 20 bits (emit) */
    uint16_t ip6_plen;           /* payload length: everything after the
                                  * fixed header (emit) */
    uint8_t ip6_nxt;             /* next header (emit) */
    uint8_t ip6_hlim;            /* hop limit (emit) */
    struct rn_ip6 ip6_src;       /* (emit) */
    struct rn_ip6 ip6_dst;       /* (emit) */
    const uint8_t *ip6_payload;  /* first byte after the fixed header;
                                  * parse only */
};

/*
 * Parses the fixed IPv6 header of the len-byte packet at p into *ip.
 * Returns RN_DROP_NONE or:
 *   RN_DROP_TRUNCATED            len < 40;
 *   RN_DROP_BAD_IP_VERSION       version is not 6;
 *   RN_DROP_BAD_IP6_PAYLOAD_LEN  40 + payload length > len.
 * A payload length of 0 is taken as an empty payload (refnet has no
 * jumbograms: their hop-by-hop option is unknown to it and discards them).
 * Reads only [p, p + len).
 */
enum rn_drop rn__ip6_parse(const uint8_t *p, size_t len, struct rn_ip6_hdr *ip);

/* Writes the fixed header described by *ip (fields marked (emit)) at out,
 * which must have RN_IP6_HLEN bytes.  Returns RN_IP6_HLEN. */
size_t rn__ip6_emit(uint8_t *out, const struct rn_ip6_hdr *ip);

/*
 * What rn__ip6_ext_walk() found.  On RN_DROP_NONE the upper-layer header
 * (or the fragmentable part, if ex_frag) starts ex_off bytes into the
 * datagram.  On a drop, ex_pp_code says whether and how to answer.
 */
struct rn_ip6_ext {
    uint8_t ex_proto;        /* next header after the last extension
                              * header walked: the upper-layer protocol, or
                              * RN_IP6_NH_NONE, ESP, AH ... */
    uint16_t ex_off;         /* offset of that header from the start of the
                              * datagram (the fixed header) */
    uint16_t ex_nxt_off;     /* offset of the next-header octet that names
                              * ex_proto (6 for the fixed header): the
                              * pointer of a parameter problem about it */
    bool ex_frag;            /* a fragment header that needs reassembly:
                              * offset or more-fragments set */
    bool ex_atomic;          /* a fragment header with offset 0 and no more
                              * fragments (RFC 8021): walked past */
    uint16_t ex_frag_hdr;    /* offset of the fragment header, if ex_frag */
    uint16_t ex_frag_off;    /* fragment offset in bytes, if ex_frag */
    bool ex_frag_more;       /* more fragments follow, if ex_frag */
    uint32_t ex_frag_id;     /* identification, if ex_frag */
    bool ex_router_alert;    /* hop-by-hop carried a router alert */
    /* When the walk drops the datagram: */
    int ex_pp_code;          /* ICMPv6 parameter problem code to send, or
                              * -1 to drop silently */
    uint32_t ex_pp_ptr;      /* its pointer: offset of the bad octet */
};

/*
 * Walks the extension headers of the datagram at p (the fixed header
 * first; len = RN_IP6_HLEN + payload length, padding excluded) whose first
 * next header is nxt.  dst_mcast says whether the destination is multicast
 * (an option of action 3 is then dropped without an answer).
 *
 * Stops at the first header that is not hop-by-hop, destination options,
 * routing or an atomic fragment, or at a fragment header that needs
 * reassembly.  Returns RN_DROP_NONE and fills *ex, or the drop reason with
 * ex_pp_code and ex_pp_ptr set:
 *   RN_DROP_BAD_IP6_EXT         a header or option runs past the datagram
 *                               (silent), or hop-by-hop is not the first
 *                               (code 1, pointer at its next-header octet);
 *   RN_DROP_IP6_UNKNOWN_OPTION  an unknown option whose action bits say
 *                               discard (code 2 at the option for actions
 *                               2 and 3, unless 3 and dst_mcast);
 *   RN_DROP_IP6_ROUTING_TYPE0   routing type 0 with segments left (code 0
 *                               at the routing type, RFC 5095);
 *   RN_DROP_IP6_ROUTING         any other routing type with segments left
 *                               (code 0 at the routing type): a host
 *                               forwards nothing;
 *   RN_DROP_BAD_IP6_FRAG        more fragments with a fragment length not
 *                               a multiple of 8 (code 0 at the payload
 *                               length), or offset + length past 65535
 *                               (code 0 at the fragment offset).
 * Reads only [p, p + len).
 */
enum rn_drop rn__ip6_ext_walk(const uint8_t *p, size_t len, uint8_t nxt, bool dst_mcast,
                              struct rn_ip6_ext *ex);

/*
 * RFC 7112: true if the first fragment at p (len bytes from the fixed
 * header; ex describes its fragment header, ex_frag_off 0) holds the
 * whole header chain: every extension header after the fragment header
 * and the upper-layer header (8 bytes of ICMPv6 or UDP, 20 of TCP; any
 * other protocol, or no next header, needs none).  A chain that reaches
 * ESP, or another fragment header, ends there.  Reads only [p, p + len).
 */
bool rn__ip6_frag_chain_whole(const uint8_t *p, size_t len, const struct rn_ip6_ext *ex);

/* True if nxt names one of the extension headers rn__ip6_ext_walk() walks. */
static inline bool rn_ip6_is_ext(uint8_t nxt)
{
    return nxt == RN_IP6_NH_HOPOPTS || nxt == RN_IP6_NH_ROUTING ||
           nxt == RN_IP6_NH_FRAGMENT || nxt == RN_IP6_NH_DSTOPTS;
}

#endif /* REFNET_WIRE_IPV6_H */
