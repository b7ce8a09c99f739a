/*
 * The Internet checksum over a byte range (see csum.h).
 *
 * This is the one loop every packet goes through at least once, so it works
 * 64 bits at a time.  The one's-complement sum does not depend on byte order
 * (RFC 1071 section 2(B)): adding the data as native 64-bit words and
 * folding gives, on a little-endian machine, the byte-swapped value of the
 * big-endian 16-bit sum.  So the loop sums native words, and the accumulator
 * is converted into the native domain on entry and back on exit by one
 * 16-bit byte swap each (a no-op on big-endian machines).
 *
 * Four independent accumulators let the CPU overlap the add-with-carry
 * chains.  A carry out of bit 63 is worth 2^64, which is 1 modulo 0xffff,
 * so it is added back into bit 0 (end-around carry).
 */
#include <string.h>

#include "wire/csum.h"

/* Returns a + b with the carry out of bit 63 added back at bit 0. */
static inline uint64_t csum_addc(uint64_t a, uint64_t b)
{
    uint64_t s = a + b;

    return s + (s < b);
}

/* Returns the 64 bits at p in native order, at any alignment. */
static inline uint64_t csum_load64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* Converts a folded sum between the big-endian word domain of the API and
 * the native domain of the loop; the same swap goes both ways. */
static inline uint64_t csum_to_from_native(uint16_t folded)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap16(folded);
#else
    return folded;
#endif
}

uint64_t rn__csum_partial(const void *buf, size_t len, uint64_t acc)
{
    const unsigned char *p = buf;
    uint64_t s0 = csum_to_from_native(rn__csum_fold16(acc));
    uint64_t s1 = 0, s2 = 0, s3 = 0;
    uint64_t tail = 0;

    while (len >= 32) {
        s0 = csum_addc(s0, csum_load64(p));
        s1 = csum_addc(s1, csum_load64(p + 8));
        s2 = csum_addc(s2, csum_load64(p + 16));
        s3 = csum_addc(s3, csum_load64(p + 24));
        p += 32;
        len -= 32;
    }
    s0 = csum_addc(s0, s1);
    s2 = csum_addc(s2, s3);
    s0 = csum_addc(s0, s2);
    while (len >= 8) {
        s0 = csum_addc(s0, csum_load64(p));
        p += 8;
        len -= 8;
    }
    /* The last 0..7 bytes keep their positions relative to p inside a
     * zeroed word, which also pads an odd last byte with zero as RFC 1071
     * requires. */
    if (len) {
        memcpy(&tail, p, len);
        s0 = csum_addc(s0, tail);
    }
    return csum_to_from_native(rn__csum_fold16(s0));
}
