/*
 * Addresses: IPv4 and IPv6 addresses and prefixes, the dual-family address
 * the transports carry, MAC addresses, and their text forms; and the IP
 * protocol numbers.  The one parser of each form in refnet: the tool, the
 * daemon, filter specs and the simulator all read addresses through these.
 *
 * IPv4 addresses are uint32_t in host order everywhere in refnet:
 * 198.18.0.2 is 0xc6120002.  IPv6 addresses are struct rn_ip6, sixteen
 * octets in network order.  Where either family may appear (a socket
 * address, a port binding, a connection's ends, a netstat row) the address
 * is a struct rn_inaddr: an IPv6 address, with IPv4 held as an
 * IPv4-mapped address (::ffff:198.18.0.2, RFC 4291 2.5.5.2).  See
 * docs/design.md, "Addresses of both families".
 *
 * Thread safety: every function is pure and may be called from any
 * thread.
 */
#ifndef REFNET_ADDR_H
#define REFNET_ADDR_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

/* "255.255.255.255" plus the NUL. */
#define RN_IP4_STRLEN 16
/* "198.18.0.2/15" at most: "255.255.255.255/32" plus the NUL. */
#define RN_IP4_CIDR_STRLEN 19

/* IP protocol numbers (IANA), as rn_sock_open() takes them. */
#define RN_IPPROTO_ICMP 1
#define RN_IPPROTO_TCP 6
#define RN_IPPROTO_UDP 17
#define RN_IPPROTO_ICMPV6 58

/* Bytes in a MAC address. */
#define RN_MAC_LEN 6

/* A MAC address.  A struct so that it can be assigned and passed by value. */
struct rn_mac {
    uint8_t mac_octet[RN_MAC_LEN]; /* in transmission order */
};

#define RN_MAC_BROADCAST ((struct rn_mac){{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}})
#define RN_MAC_ZERO ((struct rn_mac){{0, 0, 0, 0, 0, 0}})

/* "02:00:00:00:00:01" plus the NUL. */
#define RN_MAC_STRLEN 18

/* ---- IPv4 -------------------------------------------------------------- */

/* Returns the netmask of a prefix length 0..32, host order (24 ->
 * 0xffffff00). */
static inline uint32_t rn_ip4_mask(unsigned plen)
{
    assert(plen <= 32);
    return plen == 0 ? 0 : 0xffffffffu << (32 - plen);
}

/* Returns the prefix length of a contiguous netmask, or RN_EINVAL (< 0) if
 * the mask has holes (255.0.255.0). */
int rn_ip4_mask_to_plen(uint32_t mask);

/* Returns the network address of addr under a plen-bit prefix. */
static inline uint32_t rn_ip4_net(uint32_t addr, unsigned plen)
{
    return addr & rn_ip4_mask(plen);
}

/* True if addr lies in net/plen (host bits of net are ignored). */
static inline bool rn_ip4_in_prefix(uint32_t addr, uint32_t net,
                                    unsigned plen)
{
    return ((addr ^ net) & rn_ip4_mask(plen)) == 0;
}

/* Returns the directed broadcast address of addr's plen-bit subnet. */
static inline uint32_t rn_ip4_subnet_bcast(uint32_t addr, unsigned plen)
{
    return addr | ~rn_ip4_mask(plen);
}

/* True for 0.0.0.0. */
static inline bool rn_ip4_is_any(uint32_t a)
{
    return a == 0;
}

/* True for the limited broadcast 255.255.255.255. */
static inline bool rn_ip4_is_bcast(uint32_t a)
{
    return a == 0xffffffffu;
}

/* True for 224.0.0.0/4. */
static inline bool rn_ip4_is_multicast(uint32_t a)
{
    return (a & 0xf0000000u) == 0xe0000000u;
}

/* True for 127.0.0.0/8. */
static inline bool rn_ip4_is_loopback(uint32_t a)
{
    return (a & 0xff000000u) == 0x7f000000u;
}

/* Writes addr as a dotted quad into buf, which must hold RN_IP4_STRLEN
 * bytes.  Returns buf. */
char *rn_ip4_addr_fmt(uint32_t addr, char *buf);

/*
 * Parses a dotted quad of four decimal numbers 0..255 ("198.18.0.2").
 * Leading zeros are refused, because other parsers read "010" as octal.
 * Returns 0 and sets *addr, or RN_EINVAL and, if errmsg is not NULL,
 * points *errmsg at a static one-line reason.  *addr is untouched on error.
 */
int rn_ip4_addr_parse(const char *s, uint32_t *addr, const char **errmsg);

/*
 * Parses "address/prefix-length" ("198.18.0.2/15").  The address keeps its
 * host bits (it names an interface address as well as a network); apply
 * rn_ip4_net() for the network.  Returns 0 and sets *addr and *plen, or
 * RN_EINVAL with a static reason in *errmsg (if not NULL).  Nothing is
 * written on error.
 */
int rn_ip4_cidr_parse(const char *s, uint32_t *addr, unsigned *plen,
                      const char **errmsg);

/* ---- MAC ---------------------------------------------------------------- */

/* Writes m as "02:00:00:00:00:01" (lower-case hex) into buf, which must
 * hold RN_MAC_STRLEN bytes.  Returns buf. */
char *rn_mac_fmt(const struct rn_mac *m, char *buf);

/*
 * Parses a MAC address written as six groups of one or two hex digits
 * separated by ':' (or all by '-'), e.g. "02:00:00:00:00:01".  Returns 0 and
 * fills *m, or RN_EINVAL and, if errmsg is not NULL, points *errmsg at a
 * static one-line reason ("group 3 has no hex digit").  *m is
 * untouched on error.
 */
int rn_mac_parse(const char *s, struct rn_mac *m, const char **errmsg);

/* ---- IPv6 -------------------------------------------------------------- */

/* Octets in an IPv6 address. */
#define RN_IP6_LEN 16
/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" plus the NUL. */
#define RN_IP6_STRLEN 46
/* The same with "/128". */
#define RN_IP6_CIDR_STRLEN 50

/* An IPv6 address.  A struct so that it can be assigned and compared by
 * value; the octets are in transmission order. */
struct rn_ip6 {
    uint8_t i6_octet[RN_IP6_LEN]; /* network order */
};

#define RN_IP6_ANY ((struct rn_ip6){{0}})
/* ff02::1, every node on the link. */
#define RN_IP6_ALL_NODES                                                      \
    ((struct rn_ip6){{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}})
/* ff02::2, every router on the link. */
#define RN_IP6_ALL_ROUTERS                                                    \
    ((struct rn_ip6){{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}})

/* True if a and b are the same address. */
static inline bool rn_ip6_eq(const struct rn_ip6 *a, const struct rn_ip6 *b)
{
    uint64_t x0, x1, y0, y1;

    __builtin_memcpy(&x0, a->i6_octet, 8);
    __builtin_memcpy(&x1, a->i6_octet + 8, 8);
    __builtin_memcpy(&y0, b->i6_octet, 8);
    __builtin_memcpy(&y1, b->i6_octet + 8, 8);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
}

/* True for ::, the unspecified address. */
static inline bool rn_ip6_is_any(const struct rn_ip6 *a)
{
    static const struct rn_ip6 any;

    return rn_ip6_eq(a, &any);
}

/* True for ::1. */
static inline bool rn_ip6_is_loopback(const struct rn_ip6 *a)
{
    static const struct rn_ip6 one = {{0, 0, 0, 0, 0, 0, 0, 0,
                                       0, 0, 0, 0, 0, 0, 0, 1}};

    return rn_ip6_eq(a, &one);
}

/* True for ff00::/8. */
static inline bool rn_ip6_is_multicast(const struct rn_ip6 *a)
{
    return a->i6_octet[0] == 0xff;
}

/* True for fe80::/10, link-local unicast. */
static inline bool rn_ip6_is_linklocal(const struct rn_ip6 *a)
{
    return a->i6_octet[0] == 0xfe && (a->i6_octet[1] & 0xc0) == 0x80;
}

/* True for ::ffff:0:0/96, an IPv4 address held as IPv6. */
static inline bool rn_ip6_is_v4mapped(const struct rn_ip6 *a)
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    return __builtin_memcmp(a->i6_octet, pfx, 12) == 0;
}

/* True if a lies in net/plen, plen 0..128 (host bits of net ignored). */
bool rn_ip6_in_prefix(const struct rn_ip6 *a, const struct rn_ip6 *net,
                      unsigned plen);

/* Returns a with every bit past the first plen (0..128) cleared. */
struct rn_ip6 rn_ip6_net(const struct rn_ip6 *a, unsigned plen);

/* Returns the solicited-node multicast address of a (RFC 4291 2.7.1):
 * ff02::1:ffXX:XXXX with the low 24 bits of a. */
struct rn_ip6 rn_ip6_solicited_node(const struct rn_ip6 *a);

/* Returns the Ethernet multicast address an IPv6 multicast address maps to
 * (RFC 2464 7): 33:33 and its last four octets. */
struct rn_mac rn_ip6_mcast_mac(const struct rn_ip6 *a);

/* Returns the link-local address fe80::/64 with the modified EUI-64
 * interface identifier of mac (RFC 4291 appendix A, RFC 2464 4): the
 * universal/local bit flipped and ff:fe in the middle. */
struct rn_ip6 rn_ip6_linklocal_from_mac(const struct rn_mac *mac);

/* Writes a in the RFC 5952 form (lower case, the longest run of two or
 * more zero groups as "::", the first such run on a tie; an IPv4-mapped
 * address ends in a dotted quad) into buf, which must hold RN_IP6_STRLEN
 * bytes.  Returns buf. */
char *rn_ip6_addr_fmt(const struct rn_ip6 *a, char *buf);

/*
 * Parses an IPv6 address in any RFC 4291 2.2 form: eight groups of one to
 * four hex digits, at most one "::", and an optional dotted quad in place
 * of the last two groups ("::ffff:198.18.0.2").  No zone ("%eth0") and no
 * brackets.  Returns 0 and sets *a, or RN_EINVAL and, if errmsg is not
 * NULL, points *errmsg at a static one-line reason.  *a is untouched on
 * error.
 */
int rn_ip6_addr_parse(const char *s, struct rn_ip6 *a, const char **errmsg);

/*
 * Parses "address/prefix-length" ("2001:2::2/64", length 0..128).  The
 * address keeps its host bits.  Returns 0 and sets *a and *plen, or
 * RN_EINVAL with a static reason in *errmsg (if not NULL).  Nothing is
 * written on error.
 */
int rn_ip6_cidr_parse(const char *s, struct rn_ip6 *a, unsigned *plen,
                      const char **errmsg);

/* ---- Either family ------------------------------------------------------ */

/*
 * An address of either family, as the transports, the socket layer and
 * netstat carry it: an IPv6 address, IPv4 held IPv4-mapped.  Sixteen
 * octets, so equality is two 64-bit compares and a hash reads one fixed
 * size whatever the family; a dual-stack listener on :: receives IPv4
 * peers as the mapped addresses RFC 3493 3.7 gives them.
 *
 * The wildcards differ by family: "any IPv4" is ::ffff:0.0.0.0 and "any
 * IPv6" is ::.  Build one with rn_inaddr_v4() or rn_inaddr_v6(), never by
 * hand.
 */
struct rn_inaddr {
    struct rn_ip6 ia_ip6;  /* IPv6, or IPv4-mapped for IPv4 */
};

/* Returns the address of IPv4 address a (host order), mapped. */
static inline struct rn_inaddr rn_inaddr_v4(uint32_t a)
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    struct rn_inaddr ia;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t be = __builtin_bswap32(a);
#else
    uint32_t be = a;
#endif

    /* Two stores, not sixteen: this runs for every IPv4 segment. */
    __builtin_memcpy(ia.ia_ip6.i6_octet, pfx, sizeof(pfx));
    __builtin_memcpy(ia.ia_ip6.i6_octet + 12, &be, sizeof(be));
    return ia;
}

/* Returns the address of IPv6 address a. */
static inline struct rn_inaddr rn_inaddr_v6(const struct rn_ip6 *a)
{
    struct rn_inaddr ia = {*a};

    return ia;
}

/* True if ia is an IPv4 address (held mapped). */
static inline bool rn_inaddr_is_v4(const struct rn_inaddr *ia)
{
    return rn_ip6_is_v4mapped(&ia->ia_ip6);
}

/* Returns the IPv4 address (host order) of an address that
 * rn_inaddr_is_v4(). */
static inline uint32_t rn_inaddr_to_v4(const struct rn_inaddr *ia)
{
    uint32_t be;

    assert(rn_inaddr_is_v4(ia));
    __builtin_memcpy(&be, ia->ia_ip6.i6_octet + 12, sizeof(be));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap32(be);
#else
    return be;
#endif
}

/* True if a and b are the same address. */
static inline bool rn_inaddr_eq(const struct rn_inaddr *a,
                                const struct rn_inaddr *b)
{
    return rn_ip6_eq(&a->ia_ip6, &b->ia_ip6);
}

/* True for a wildcard of either family: :: or ::ffff:0.0.0.0. */
static inline bool rn_inaddr_is_any(const struct rn_inaddr *ia)
{
    return rn_ip6_is_any(&ia->ia_ip6) ||
           (rn_inaddr_is_v4(ia) && rn_inaddr_to_v4(ia) == 0);
}

/* Writes ia as an IPv4 dotted quad if it is IPv4, else in the IPv6 form of
 * rn_ip6_addr_fmt(), into buf of RN_IP6_STRLEN bytes.  Returns buf. */
char *rn_inaddr_fmt(const struct rn_inaddr *ia, char *buf);

/* Parses a dotted quad (an IPv4 address) or an IPv6 address, as
 * rn_ip4_addr_parse() and rn_ip6_addr_parse() do.  Returns 0 and sets *ia,
 * or RN_EINVAL with a static reason in *errmsg (if not NULL). */
int rn_inaddr_parse(const char *s, struct rn_inaddr *ia, const char **errmsg);

#endif /* REFNET_ADDR_H */
