/*
 * Alignment-safe access to big-endian (network order) fields.
 *
 * Packet bytes sit at any alignment: an IPv4 header behind a 14-byte
 * Ethernet header is only 2-byte aligned, and fuzzers and ICMP quotes hand
 * us odd addresses.  Casting to uint32_t * there is undefined behaviour, so
 * every multi-byte field in src/wire goes through these helpers.  memcpy of
 * a constant size compiles to one load or store (plus a byte swap on
 * little-endian machines) at -O1 and above, with gcc and clang alike.
 */
#ifndef REFNET_WIRE_BYTES_H
#define REFNET_WIRE_BYTES_H

#include <stdint.h>
#include <string.h>

/* Returns the big-endian 16-bit value at p, in host order. */
static inline uint16_t rn_get_be16(const void *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap16(v);
#endif
    return v;
}

/* Returns the big-endian 32-bit value at p, in host order. */
static inline uint32_t rn_get_be32(const void *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

/* Stores the host-order value v at p as big-endian 16 bits. */
static inline void rn_put_be16(void *p, uint16_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap16(v);
#endif
    memcpy(p, &v, sizeof(v));
}

/* Stores the host-order value v at p as big-endian 32 bits. */
static inline void rn_put_be32(void *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, sizeof(v));
}

#endif /* REFNET_WIRE_BYTES_H */
