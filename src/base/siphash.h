/*
 * SipHash-2-4 (Aumasson and Bernstein), the keyed hash behind refnet's
 * unpredictable numbers: TCP initial sequence numbers (RFC 6528) and
 * ephemeral port offsets (RFC 6056).
 */
#ifndef REFNET_SIPHASH_H
#define REFNET_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* Returns the SipHash-2-4 of len bytes at p under the 128-bit key k. */
uint64_t rn__siphash(const uint64_t k[2], const void *p, size_t len);

#endif
