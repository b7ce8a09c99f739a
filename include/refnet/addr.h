/*
 * Addresses: IPv4 addresses and prefixes, MAC addresses, and their text
 * forms; and the IP protocol numbers.  The one parser of each form in refnet: the tool, the daemon,
 * filter specs and the simulator all read addresses through these.
 *
 * IPv4 addresses are uint32_t in host order everywhere in refnet:
 * 198.18.0.2 is 0xc6120002.
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

#endif /* REFNET_ADDR_H */
