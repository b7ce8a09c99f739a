/*
 * libFuzzer target for the client side of `refnet get` (tools/cmd_net.c):
 * the decoder of the daemon's stream (rn__ctl_unchunk(), ctl_proto.c) and
 * the HTTP/1.1 response decoder (apps/http_resp.c), the two parsers
 * that read what a remote web server and the daemon send.
 *
 * The first input byte picks how the input is cut into reads (1 to 127
 * bytes, or all at once) and, with its top bit, whether the rest is a
 * daemon stream whose data is an HTTP response (both layers, as `get`
 * runs them) or an HTTP response alone.  After the last byte the server's
 * close is reported to the HTTP decoder, as the end chunk does.
 *
 * Properties checked besides memory safety; a violation aborts:
 *   - a decoder never takes more than it was offered, and takes something
 *     from every non-empty offer until it has finished or refused (no
 *     stall);
 *   - data handed out lies inside the offer, and the counts the decoders
 *     keep (uc_bytes, hr_body) equal what they handed out;
 *   - a Content-Length body never exceeds its length;
 *   - a refusal comes with a message, and a finished decoder stays
 *     finished and takes nothing more.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/http_resp.h"
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

struct http_run {
    struct rn_http_resp hr;
    uint64_t body;      /* body bytes handed out */
    bool done;          /* complete or refused */
};

static void http_feed(struct http_run *h, const uint8_t *buf, size_t len)
{
    char err[256];

    while (len > 0 && !h->done) {
        const uint8_t *d;
        size_t used, dlen;
        int r;

        err[0] = '\0';
        r = rn__http_resp_feed(&h->hr, buf, len, &used, &d, &dlen, err, sizeof(err));
        CHECK(used <= len);
        if (r < 0) {
            CHECK(r == RN_EPROTO && err[0] != '\0');
            h->done = true;
            return;
        }
        CHECK(dlen == 0 || (d >= buf && d + dlen <= buf + used));
        h->body += dlen;
        CHECK(h->body == h->hr.hr_body);
        if (h->hr.hr_framing == RN_HTTP_FRAME_LENGTH)
            CHECK(h->body <= h->hr.hr_length);
        if (r == RN_HTTP_COMPLETE) {
            size_t u2, l2;
            const uint8_t *d2;

            CHECK(rn__http_resp_feed(&h->hr, buf, len, &u2, &d2, &l2, err, sizeof(err)) ==
                  RN_HTTP_COMPLETE);
            CHECK(u2 == 0 && l2 == 0);
            h->done = true;
            return;
        }
        CHECK(used > 0 || h->hr.hr_phase == RN_HTTP_DONE);
        buf += used;
        len -= used;
    }
}

static void http_eof(struct http_run *h)
{
    char err[256];
    int r;

    if (h->done)
        return;
    err[0] = '\0';
    r = rn__http_resp_eof(&h->hr, err, sizeof(err));
    CHECK(r == RN_HTTP_COMPLETE || (r == RN_EPROTO && err[0] != '\0'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rn_ctl_unchunker uc;
    struct http_run h;
    size_t off = 1, chunk;
    bool framed, finished = false;
    uint64_t stream_data = 0;
    char err[256];

    if (size < 1)
        return 0;
    chunk = (data[0] & 0x7f) ? (data[0] & 0x7f) : SIZE_MAX;
    framed = data[0] & 0x80;
    memset(&h, 0, sizeof(h));
    rn__http_resp_init(&h.hr);
    rn__ctl_unchunker_init(&uc);
    while (off < size && !finished) {
        size_t n = size - off < chunk ? size - off : chunk;

        if (!framed) {
            http_feed(&h, data + off, n);
            off += n;
            continue;
        }
        while (n > 0) {
            const uint8_t *d;
            size_t used, dlen;
            bool had_eof = uc.uc_eof;
            int r;

            err[0] = '\0';
            r = rn__ctl_unchunk(&uc, data + off, n, &used, &d, &dlen, err, sizeof(err));
            CHECK(used <= n);
            if (r < 0) {
                CHECK(err[0] != '\0');
                finished = true;
                break;
            }
            CHECK(dlen == 0 || (d >= data + off && d + dlen <= data + off + used));
            stream_data += dlen;
            CHECK(stream_data == uc.uc_bytes);
            if (dlen > 0)
                http_feed(&h, d, dlen);
            if (!had_eof && uc.uc_eof)
                http_eof(&h);
            off += used;
            n -= used;
            if (r == 1) {
                finished = true;
                break;
            }
            CHECK(used > 0);
        }
    }
    if (!framed)
        http_eof(&h);
    rn__ctl_unchunker_fini(&uc);
    return 0;
}
