/*
 * SipHash-2-4 (siphash.h): two compression rounds per 8-byte word, four
 * finalisation rounds.
 */
#include <string.h>

#include "base/siphash.h"

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = ROTL(v[1], 13);
    v[1] ^= v[0];
    v[0] = ROTL(v[0], 32);
    v[2] += v[3];
    v[3] = ROTL(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = ROTL(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = ROTL(v[1], 17);
    v[1] ^= v[2];
    v[2] = ROTL(v[2], 32);
}

/* Reads 8 bytes little-endian, as the algorithm defines its words. */
static uint64_t le64(const uint8_t *p)
{
    uint64_t w = 0;
    int i;

    for (i = 7; i >= 0; i--)
        w = w << 8 | p[i];
    return w;
}

uint64_t rn__siphash(const uint64_t k[2], const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t v[4] = {
        k[0] ^ 0x736f6d6570736575ull,
        k[1] ^ 0x646f72616e646f6dull,
        k[0] ^ 0x6c7967656e657261ull,
        k[1] ^ 0x7465646279746573ull,
    };
    uint8_t tail[8] = {0};
    uint64_t m;
    size_t i;

    for (i = 0; i + 8 <= len; i += 8) {
        m = le64(p + i);
        v[3] ^= m;
        sip_round(v);
        sip_round(v);
        v[0] ^= m;
    }
    memcpy(tail, p + i, len - i);
    tail[7] = (uint8_t)len;
    m = le64(tail);
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
    v[2] ^= 0xff;
    for (i = 0; i < 4; i++)
        sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}
