/*
 * libFuzzer target for the dump reader: arbitrary bytes go to
 * rn_dump_decode().  Whatever it accepts must render safely (every chain,
 * every object, the chains through each object), must encode again, and
 * must decode from that encoding to a snapshot that renders to the same
 * text: what the reader accepts, the writer can write.  A defect must come
 * back as one line naming an offset.
 *
 * Each input is decoded twice: as it is, which exercises the header and
 * CRC checks, and with its total length and every CRC it can find
 * recomputed, so that mutations get past the checksums into the parsers
 * of the sections and records behind them.
 *
 * Seeds: fuzz/corpus/dump/, written by `test_dump --write-seeds`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/diag_priv.h"
#include "refnet/diag.h"
#include "refnet/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *render(const struct rn_snapshot *s)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;
    uint32_t i;

    rn_diag_render_chains(s, 0, &sb);
    rn_diag_render_chains(s, s->s_threshold, &sb);
    for (i = 0; i < s->s_nobjects && i < 64; i++) {
        rn_diag_render_object(s, &s->s_objects[i], 2, &sb);
        rn_diag_render_for(s, s->s_objects[i].so_id, &sb);
    }
    for (i = 0; i < s->s_nwaits && i < 16; i++)
        rn_diag_render_for(s, s->s_waits[i].sw_waiter, &sb);
    return rn_strbuf_detach(&sb);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Makes the header's total length and CRC, and the CRC of every section
 * whose length fits, agree with the bytes. */
static void fix_checksums(uint8_t *d, size_t size)
{
    size_t off = 28;
    int i;

    if (size < 28)
        return;
    for (i = 0; i < 8; i++)
        d[16 + i] = (uint8_t)((uint64_t)size >> (8 * i));
    put32(d + 24, rn__crc32(0, d, 24));
    while (size - off >= 12) {
        uint32_t len = (uint32_t)d[off + 4] | (uint32_t)d[off + 5] << 8 |
                       (uint32_t)d[off + 6] << 16 | (uint32_t)d[off + 7] << 24;

        if (len > size - off - 12)
            break;
        put32(d + off + 8, rn__crc32(0, d + off + 12, len));
        off += 12 + (size_t)len;
    }
}

static void check_one(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy;

    check_one(data, size);
    copy = malloc(size + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    fix_checksums(copy, size);
    check_one(copy, size);
    free(copy);
    return 0;
}

static void check_one(const uint8_t *data, size_t size)
{
    struct rn_snapshot *s = NULL, *again = NULL;
    char err[256], *a, *b;
    void *buf;
    size_t len;
    int rc;

    rc = rn_dump_decode(data, size, &s, err, sizeof(err));
    if (rc != 0) {
        if (s != NULL || strncmp(err, "offset ", 7) != 0 || strchr(err, '\n') != NULL) {
            fprintf(stderr, "bad error report: rc %d, '%s'\n", rc, err);
            abort();
        }
        return;
    }
    a = render(s);
    rc = rn_dump_encode(s, &buf, &len);
    if (rc != 0) {
        fprintf(stderr, "decoded snapshot does not encode: %s\n", rn_strerror(rc));
        abort();
    }
    rc = rn_dump_decode(buf, len, &again, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "re-encoded dump does not decode: %s\n", err);
        abort();
    }
    b = render(again);
    if (strcmp(a, b) != 0) {
        fprintf(stderr, "renderings differ after a round trip\n");
        abort();
    }
    free(a);
    free(b);
    free(buf);
    rn_snapshot_free(again);
    rn_snapshot_free(s);
}
