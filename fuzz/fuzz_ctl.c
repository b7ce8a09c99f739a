/*
 * libFuzzer target for the control protocol's codec (src/ctl/ctl_proto.c),
 * the part of the daemon that reads bytes from any local client.
 *
 * The first input byte picks how the stream is cut into reads (1 to 128
 * bytes, or all at once) and which side reads it (request reader, as the
 * daemon, or reply reader, as the client); the rest is the byte stream.
 * The stream is read frame after frame, exactly as the server does, until
 * it ends or a frame is refused.
 *
 * Besides memory safety (ASan, UBSan), every input is checked for what the
 * server relies on; a violation aborts:
 *   - the reader never takes more bytes than it was offered, and always
 *     takes some until it holds a frame or refuses one (no stall);
 *   - a refused stream comes with a message;
 *   - a decoded request re-encodes to exactly the frame it came from (the
 *     encoding is canonical, so nothing was skipped or invented);
 *   - a decoded reply's text lies inside its frame.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "refnet/error.h"

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "property failed at %s:%d: %s\n", __FILE__,      \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const uint8_t *frame, size_t framelen, const uint8_t *payload,
                          uint32_t plen)
{
    struct rn_ctl_request rq;
    uint8_t *again;
    size_t againlen;
    char err[256];
    int r;

    err[0] = '\0';
    r = rn__ctl_request_decode(payload, plen, &rq, err, sizeof(err));
    if (r != 0) {
        CHECK(r == RN_EFORMAT || r == RN_ENOMEM);
        CHECK(err[0] != '\0');
        return;
    }
    CHECK(rq.rq_argc >= 1 && rq.rq_argc <= RN_CTL_ARGS_MAX);
    CHECK(rq.rq_argv[rq.rq_argc] == NULL);
    r = rn__ctl_request_encode(rq.rq_flags, rq.rq_argc, (const char *const *)rq.rq_argv, &again,
                              &againlen, err, sizeof(err));
    CHECK(r == 0);
    CHECK(againlen == framelen);
    CHECK(memcmp(again, frame, framelen) == 0);
    free(again);
    rn__ctl_request_free(&rq);
}

static void check_reply(const uint8_t *payload, uint32_t plen)
{
    const char *text;
    size_t tlen;
    int32_t status;
    char err[256];

    err[0] = '\0';
    if (rn__ctl_reply_decode(payload, plen, &status, &text, &tlen, err, sizeof(err)) != 0) {
        CHECK(err[0] != '\0');
        return;
    }
    CHECK(text >= (const char *)payload + RN_CTL_REPLY_HEAD_LEN);
    CHECK(text + tlen == (const char *)payload + plen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rn_ctl_reader rd;
    size_t off = 1, frame_start = 1, chunk;
    bool as_reply;
    char err[256];
    int r = 0;

    if (size < 1)
        return 0;
    chunk = (data[0] & 0x7f) ? (data[0] & 0x7f) : SIZE_MAX;
    as_reply = data[0] & 0x80;
    rn__ctl_reader_init(&rd, as_reply ? RN_CTL_REPLY_MAX : RN_CTL_REQ_MAX);
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        size_t used = 0;

        err[0] = '\0';
        r = rn__ctl_reader_feed(&rd, data + off, n, &used, err, sizeof(err));
        CHECK(used <= n);
        off += used;
        if (r < 0) {
            CHECK(err[0] != '\0');
            break;
        }
        if (r == 0) {
            /* Needs more: it must have taken everything it was offered. */
            CHECK(used == n);
            continue;
        }
        {
            const uint8_t *payload;
            uint32_t plen;

            payload = rn__ctl_reader_payload(&rd, &plen);
            CHECK((size_t)plen + RN_CTL_HDR_LEN == off - frame_start);
            if (as_reply)
                check_reply(payload, plen);
            else
                check_request(data + frame_start, off - frame_start, payload, plen);
        }
        rn__ctl_reader_reset(&rd);
        frame_start = off;
    }
    rn__ctl_reader_fini(&rd);
    return 0;
}
