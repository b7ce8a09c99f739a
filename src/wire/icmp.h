/*
 * ICMP for IPv4 (RFC 792, with RFC 1122 and RFC 1191): parse and emit only.
 *
 * The network layer parses every IPv4 payload of protocol 1 with
 * rn__icmp_parse(), answers echo requests with rn__icmp_emit_echo_reply(),
 * and reports errors about received datagrams with rn__icmp_emit_error()
 * and its wrappers.  For a received error message the parse also reads the
 * quoted datagram's addresses and protocol, so the transport layer can find
 * the connection it concerns (port unreachable, fragmentation needed).
 */
#ifndef REFNET_WIRE_ICMP_H
#define REFNET_WIRE_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/drop.h"
#include "wire/ipv4.h"

#define RN_ICMP_HLEN 8  /* type, code, checksum and 4 type-specific bytes */
/* Bytes of the original transport header an error message quotes. */
#define RN_ICMP_QUOTE_L4 8
/* Longest error message rn__icmp_emit_error() writes: header, an IPv4
 * header with the most options, and 8 bytes of its payload. */
#define RN_ICMP_ERR_MAXLEN (RN_ICMP_HLEN + RN_IP4_MAX_HLEN + RN_ICMP_QUOTE_L4)

/* Types. */
#define RN_ICMP_ECHO_REPLY 0
#define RN_ICMP_DEST_UNREACH 3
#define RN_ICMP_SOURCE_QUENCH 4  /* deprecated (RFC 6633); parsed only */
#define RN_ICMP_REDIRECT 5
#define RN_ICMP_ECHO 8
#define RN_ICMP_TIME_EXCEEDED 11
#define RN_ICMP_PARAM_PROBLEM 12

/* Codes of RN_ICMP_DEST_UNREACH. */
#define RN_ICMP_UNREACH_NET 0
#define RN_ICMP_UNREACH_HOST 1
#define RN_ICMP_UNREACH_PROTO 2
#define RN_ICMP_UNREACH_PORT 3
#define RN_ICMP_UNREACH_FRAG_NEEDED 4  /* ic_rest low 16 bits: next-hop MTU */
/* Codes of RN_ICMP_TIME_EXCEEDED. */
#define RN_ICMP_TIMXCEED_TTL 0    /* TTL reached zero in transit */
#define RN_ICMP_TIMXCEED_REASM 1  /* fragment reassembly time exceeded */

/*
 * A parsed ICMP message.  The ic_q* fields are set only for error messages
 * (rn_icmp_is_error(ic_type)); they describe the datagram the error is
 * about, as quoted in it.
 */
struct rn_icmp_hdr {
    uint8_t ic_type;         /* RN_ICMP_* type */
    uint8_t ic_code;         /* type-specific code */
    uint16_t ic_sum;         /* checksum as received */
    uint32_t ic_rest;        /* the 4 type-specific header bytes, host order:
                              * echo: id << 16 | seq; frag needed: MTU in the
                              * low 16 bits; redirect: gateway address */
    const uint8_t *ic_data;  /* after the 8-byte header: echo data, or the
                              * quoted datagram of an error */
    size_t ic_datalen;       /* bytes at ic_data */
    uint32_t ic_qsrc;        /* error: quoted source address */
    uint32_t ic_qdst;        /* error: quoted destination address */
    uint8_t ic_qproto;       /* error: quoted protocol */
    const uint8_t *ic_ql4;   /* error: quoted transport header, at least
                              * RN_ICMP_QUOTE_L4 bytes (ports at 0 and 2) */
    size_t ic_ql4len;        /* error: bytes at ic_ql4, >= 8 */
};

/* True for the types that report an error about a datagram and quote it. */
static inline bool rn_icmp_is_error(uint8_t type)
{
    return type == RN_ICMP_DEST_UNREACH || type == RN_ICMP_SOURCE_QUENCH ||
           type == RN_ICMP_REDIRECT || type == RN_ICMP_TIME_EXCEEDED ||
           type == RN_ICMP_PARAM_PROBLEM;
}

/* Echo identifier and sequence number of an echo request or reply. */
static inline uint16_t rn_icmp_echo_id(const struct rn_icmp_hdr *ic)
{
    return (uint16_t)(ic->ic_rest >> 16);
}

static inline uint16_t rn_icmp_echo_seq(const struct rn_icmp_hdr *ic)
{
    return (uint16_t)ic->ic_rest;
}

/*
 * Parses the ICMP message of len bytes at p (the IPv4 payload) into *ic.
 * Returns RN_DROP_NONE, or:
 *   RN_DROP_TRUNCATED      len < RN_ICMP_HLEN;
 *   RN_DROP_BAD_ICMP_CSUM  the checksum over the whole message fails;
 *   RN_DROP_BAD_ICMP       an error message whose quote is not an IPv4
 *                          header (version 4, IHL >= 5) followed by at
 *                          least 8 bytes.
 * Unknown types are not an error here.  Reads only [p, p + len).
 */
enum rn_drop rn__icmp_parse(const uint8_t *p, size_t len,
                           struct rn_icmp_hdr *ic);

/*
 * Writes the echo reply to the parsed echo request *req at out: type 0,
 * same identifier, sequence number and data, new checksum.  out must have
 * RN_ICMP_HLEN + req->ic_datalen bytes; it may be the request's own bytes,
 * to answer in place.  Returns the reply length.
 */
size_t rn__icmp_emit_echo_reply(uint8_t *out, const struct rn_icmp_hdr *req);

/*
 * Writes an ICMP error message of the given type and code at out, which
 * must have RN_ICMP_ERR_MAXLEN bytes.  rest fills the 4 type-specific bytes
 * (0 for most).  orig is the offending datagram as received, starting at
 * its IPv4 header (orig_len >= its header length >= 20, e.g. ip_len of a
 * parsed header); the message quotes that header and the first 8 bytes of
 * its payload, or less if the payload is shorter (RFC 792).  Returns the
 * message length.  Whether an error may be sent at all is the caller's to
 * decide (rn__icmp_may_send_error(), rate limits).
 */
size_t rn__icmp_emit_error(uint8_t *out, uint8_t type, uint8_t code,
                          uint32_t rest, const uint8_t *orig, size_t orig_len);

/* Destination unreachable, port unreachable: no UDP endpoint for it. */
size_t rn__icmp_emit_port_unreach(uint8_t *out, const uint8_t *orig,
                                 size_t orig_len);

/* Destination unreachable, fragmentation needed and DF set, with the
 * next-hop MTU (RFC 1191). */
size_t rn__icmp_emit_frag_needed(uint8_t *out, uint16_t mtu,
                                const uint8_t *orig, size_t orig_len);

/* Time exceeded, fragment reassembly time exceeded.  orig is the first
 * fragment (offset 0); RFC 1122 3.3.2 sends nothing if it never came. */
size_t rn__icmp_emit_reasm_timeout(uint8_t *out, const uint8_t *orig,
                                  size_t orig_len);

/*
 * True if RFC 1122 section 3.2.2 allows an ICMP error about the datagram
 * whose parsed header is *ip: it is not itself an ICMP error message, not a
 * non-initial fragment, not sent to a multicast or limited-broadcast
 * address, and its source is a single host (not 0.0.0.0, loopback,
 * broadcast, multicast or class E).  The caller must still refuse
 * datagrams that came as link-layer broadcast or to a subnet broadcast
 * address, which the header alone cannot tell.
 */
bool rn__icmp_may_send_error(const struct rn_ip4_hdr *ip);

#endif /* REFNET_WIRE_ICMP_H */
