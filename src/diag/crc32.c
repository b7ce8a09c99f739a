/*
 * CRC-32 for the dump format (diag_priv.h): the IEEE 802.3 polynomial in
 * its reflected form, the checksum of zlib, gzip and PNG, so a dump's
 * sections can be checked with any of their tools.
 *
 * A table of 16 entries processed a nibble at a time: small enough to
 * write out, fast enough for dumps of a few megabytes.
 */
#include "diag/diag_priv.h"

/* crc_nibble[i] is the CRC of the 4-bit value i. */
static const uint32_t crc_nibble[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
    0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

uint32_t rn__crc32(uint32_t crc, const void *p, size_t len)
{
    const unsigned char *b = p;

    crc = ~crc;
    while (len-- > 0) {
        crc ^= *b++;
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
    }
    return ~crc;
}
