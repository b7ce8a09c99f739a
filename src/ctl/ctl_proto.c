/*
 * The control protocol's codec (ctl.h, docs/control-protocol.md): frame
 * reader, request encoder and decoder, reply header and decoder, and the
 * decoder of the daemon's side of a stream (chunks, end, trailer).
 *
 * Pure byte handling, no I/O: the server (ctl_server.c), the client
 * (ctl_client.c) and the fuzz target (fuzz/fuzz_ctl.c) all go through it.
 * Everything read from the peer is bounded before it is trusted: the header
 * is checked byte by byte, the payload buffer grows only as bytes arrive,
 * and every length is checked against what is left before it is used.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "refnet/error.h"

static const uint8_t ctl_magic[3] = {'R', 'N', 'C'};

/* The payload buffer's first size; it doubles up to the frame's length. */
#define CTL_BUF_FIRST 4096u

static void ctl_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ctl_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* ---- Reader ------------------------------------------------------------- */

void rn__ctl_reader_init(struct rn_ctl_reader *rd, uint32_t max_payload)
{
    memset(rd, 0, sizeof(*rd));
    rd->rd_max = max_payload;
}

void rn__ctl_reader_fini(struct rn_ctl_reader *rd)
{
    free(rd->rd_buf);
    rd->rd_buf = NULL;
    rd->rd_cap = 0;
}

void rn__ctl_reader_reset(struct rn_ctl_reader *rd)
{
    uint32_t max = rd->rd_max;
    uint8_t *buf = rd->rd_buf;
    uint32_t cap = rd->rd_cap;

    /* Keep a small buffer for the next frame; drop a big one. */
    if (cap > CTL_BUF_FIRST) {
        free(buf);
        buf = NULL;
        cap = 0;
    }
    memset(rd, 0, sizeof(*rd));
    rd->rd_max = max;
    rd->rd_buf = buf;
    rd->rd_cap = cap;
}

bool rn__ctl_reader_partial(const struct rn_ctl_reader *rd)
{
    return rd->rd_hdr_have > 0 && !rd->rd_done;
}

size_t rn__ctl_reader_space(struct rn_ctl_reader *rd, uint8_t **where)
{
    uint32_t want;

    if (rd->rd_done) {
        *where = NULL;
        return 0;
    }
    if (rd->rd_hdr_have < RN_CTL_HDR_LEN) {
        *where = rd->rd_hdr + rd->rd_hdr_have;
        return RN_CTL_HDR_LEN - rd->rd_hdr_have;
    }
    if (rd->rd_have == rd->rd_cap) {
        uint32_t cap = rd->rd_cap ? rd->rd_cap * 2 : CTL_BUF_FIRST;
        uint8_t *buf;

        if (cap > rd->rd_len || cap < rd->rd_cap)
            cap = rd->rd_len;
        buf = realloc(rd->rd_buf, cap);
        if (buf == NULL) {
            *where = NULL;
            return 0;
        }
        rd->rd_buf = buf;
        rd->rd_cap = cap;
    }
    /* A buffer kept from an earlier, longer frame may exceed this one:
     * never ask for bytes past the frame's end. */
    want = (rd->rd_cap < rd->rd_len ? rd->rd_cap : rd->rd_len) - rd->rd_have;
    *where = rd->rd_buf + rd->rd_have;
    return want;
}

/* Checks the header bytes from..rd_hdr_have-1 as they arrive. */
static int reader_check_header(struct rn_ctl_reader *rd, uint32_t from, char *err, size_t errlen)
{
    uint32_t i;

    for (i = from; i < rd->rd_hdr_have && i < sizeof(ctl_magic); i++) {
        if (rd->rd_hdr[i] != ctl_magic[i]) {
            ctl_err(err, errlen,
                    "bad magic: byte %u is 0x%02x, expected 0x%02x ('%c'): not a refnet "
                    "control frame", i, rd->rd_hdr[i], ctl_magic[i], ctl_magic[i]);
            return RN_EFORMAT;
        }
    }
    if (from <= 3 && rd->rd_hdr_have > 3 && rd->rd_hdr[3] != RN_CTL_VERSION) {
        ctl_err(err, errlen, "unsupported control protocol version %u (this side speaks %u)",
                rd->rd_hdr[3], RN_CTL_VERSION);
        return RN_ENOTSUP;
    }
    if (rd->rd_hdr_have == RN_CTL_HDR_LEN) {
        uint32_t len = get_be32(rd->rd_hdr + 4);

        if (len > rd->rd_max) {
            ctl_err(err, errlen, "frame of %u bytes exceeds the limit of %u bytes", len,
                    rd->rd_max);
            return RN_EMSGSIZE;
        }
        rd->rd_len = len;
        if (len == 0)
            rd->rd_done = true;
    }
    return 0;
}

int rn__ctl_reader_advance(struct rn_ctl_reader *rd, size_t n, char *err, size_t errlen)
{
    int e;

    if (rd->rd_done)
        return 1;
    if (rd->rd_hdr_have < RN_CTL_HDR_LEN) {
        uint32_t from = rd->rd_hdr_have;

        assert(n <= RN_CTL_HDR_LEN - from);
        rd->rd_hdr_have += (uint32_t)n;
        e = reader_check_header(rd, from, err, errlen);
        if (e != 0)
            return e;
        return rd->rd_done ? 1 : 0;
    }
    if (rd->rd_have == rd->rd_cap && n == 0) {
        /* rn__ctl_reader_space() could not grow the buffer. */
        ctl_err(err, errlen, "out of memory for a frame of %u bytes", rd->rd_len);
        return RN_ENOMEM;
    }
    assert(n <= rd->rd_cap - rd->rd_have);
    rd->rd_have += (uint32_t)n;
    if (rd->rd_have == rd->rd_len)
        rd->rd_done = true;
    return rd->rd_done ? 1 : 0;
}

int rn__ctl_reader_feed(struct rn_ctl_reader *rd, const void *buf, size_t len, size_t *used,
                       char *err, size_t errlen)
{
    const uint8_t *p = buf;
    int r = rd->rd_done ? 1 : 0;

    *used = 0;
    while (!rd->rd_done && *used < len) {
        uint8_t *where;
        size_t space = rn__ctl_reader_space(rd, &where);
        size_t n = len - *used;

        if (where == NULL)
            return rn__ctl_reader_advance(rd, 0, err, errlen);
        if (n > space)
            n = space;
        memcpy(where, p + *used, n);
        *used += n;
        r = rn__ctl_reader_advance(rd, n, err, errlen);
        if (r < 0)
            return r;
    }
    return r;
}

const uint8_t *rn__ctl_reader_payload(const struct rn_ctl_reader *rd, uint32_t *len)
{
    assert(rd->rd_done);
    *len = rd->rd_len;
    return rd->rd_buf;
}

/* ---- Requests ----------------------------------------------------------- */

int rn__ctl_request_encode(uint32_t flags, int argc, const char *const *argv, uint8_t **out,
                          size_t *outlen, char *err, size_t errlen)
{
    size_t total = RN_CTL_HDR_LEN + RN_CTL_REQ_HEAD_LEN;
    uint8_t *buf, *p;
    int i;

    *out = NULL;
    *outlen = 0;
    if (flags & ~RN_CTL_F_KNOWN_) {
        ctl_err(err, errlen, "unknown request flags 0x%x", flags & ~RN_CTL_F_KNOWN_);
        return RN_EINVAL;
    }
    if (argc < 1 || argc > RN_CTL_ARGS_MAX) {
        ctl_err(err, errlen, "%d arguments; a request holds 1 to %d", argc, RN_CTL_ARGS_MAX);
        return RN_EINVAL;
    }
    for (i = 0; i < argc; i++) {
        size_t len = strlen(argv[i]);

        if (len > RN_CTL_ARG_MAX) {
            ctl_err(err, errlen, "argument %d is %zu bytes; the limit is %d", i, len,
                    RN_CTL_ARG_MAX);
            return RN_EINVAL;
        }
        total += 2 + len;
    }
    if (total - RN_CTL_HDR_LEN > RN_CTL_REQ_MAX) {
        ctl_err(err, errlen, "request of %zu bytes exceeds the limit of %u bytes",
                total - RN_CTL_HDR_LEN, RN_CTL_REQ_MAX);
        return RN_EINVAL;
    }
    buf = malloc(total);
    if (buf == NULL) {
        ctl_err(err, errlen, "out of memory");
        return RN_ENOMEM;
    }
    memcpy(buf, ctl_magic, sizeof(ctl_magic));
    buf[3] = RN_CTL_VERSION;
    put_be32(buf + 4, (uint32_t)(total - RN_CTL_HDR_LEN));
    put_be32(buf + 8, flags);
    put_be16(buf + 12, (uint16_t)argc);
    p = buf + RN_CTL_HDR_LEN + RN_CTL_REQ_HEAD_LEN;
    for (i = 0; i < argc; i++) {
        size_t len = strlen(argv[i]);

        put_be16(p, (uint16_t)len);
        memcpy(p + 2, argv[i], len);
        p += 2 + len;
    }
    assert((size_t)(p - buf) == total);
    *out = buf;
    *outlen = total;
    return 0;
}

int rn__ctl_request_decode(const uint8_t *payload, size_t len, struct rn_ctl_request *rq,
                          char *err, size_t errlen)
{
    size_t off, strbytes = 0;
    uint32_t flags;
    unsigned argc, i;
    char **argv;
    char *s;

    memset(rq, 0, sizeof(*rq));
    if (len < RN_CTL_REQ_HEAD_LEN) {
        ctl_err(err, errlen, "request of %zu bytes is shorter than its %d-byte head", len,
                RN_CTL_REQ_HEAD_LEN);
        return RN_EFORMAT;
    }
    flags = get_be32(payload);
    argc = get_be16(payload + 4);
    if (flags & ~RN_CTL_F_KNOWN_) {
        ctl_err(err, errlen, "unknown request flags 0x%x", flags & ~RN_CTL_F_KNOWN_);
        return RN_EFORMAT;
    }
    if (argc == 0) {
        ctl_err(err, errlen, "request has no arguments (argc 0): no command named");
        return RN_EFORMAT;
    }
    if (argc > RN_CTL_ARGS_MAX) {
        ctl_err(err, errlen, "argc %u exceeds the limit of %d", argc, RN_CTL_ARGS_MAX);
        return RN_EFORMAT;
    }
    /* First pass: check every length against the limit and what is left. */
    off = RN_CTL_REQ_HEAD_LEN;
    for (i = 0; i < argc; i++) {
        unsigned alen;

        if (len - off < 2) {
            ctl_err(err, errlen, "request ends inside the length of argument %u of %u", i,
                    argc);
            return RN_EFORMAT;
        }
        alen = get_be16(payload + off);
        off += 2;
        if (alen > RN_CTL_ARG_MAX) {
            ctl_err(err, errlen, "argument %u is %u bytes; the limit is %d", i, alen,
                    RN_CTL_ARG_MAX);
            return RN_EFORMAT;
        }
        if (alen > len - off) {
            ctl_err(err, errlen, "argument %u claims %u bytes but %zu remain", i, alen,
                    len - off);
            return RN_EFORMAT;
        }
        if (memchr(payload + off, '\0', alen) != NULL) {
            ctl_err(err, errlen, "argument %u holds a NUL byte", i);
            return RN_EFORMAT;
        }
        off += alen;
        strbytes += alen + 1;
    }
    if (off != len) {
        ctl_err(err, errlen, "%zu bytes follow the last argument", len - off);
        return RN_EFORMAT;
    }
    /* Second pass: copy, pointers and strings in one allocation. */
    argv = malloc((argc + 1) * sizeof(char *) + strbytes);
    if (argv == NULL) {
        ctl_err(err, errlen, "out of memory");
        return RN_ENOMEM;
    }
    s = (char *)(argv + argc + 1);
    off = RN_CTL_REQ_HEAD_LEN;
    for (i = 0; i < argc; i++) {
        unsigned alen = get_be16(payload + off);

        memcpy(s, payload + off + 2, alen);
        s[alen] = '\0';
        argv[i] = s;
        s += alen + 1;
        off += 2 + alen;
    }
    argv[argc] = NULL;
    rq->rq_flags = flags;
    rq->rq_argc = (int)argc;
    rq->rq_argv = argv;
    return 0;
}

void rn__ctl_request_free(struct rn_ctl_request *rq)
{
    free(rq->rq_argv);
    memset(rq, 0, sizeof(*rq));
}

/* ---- Replies ------------------------------------------------------------ */

int rn__ctl_reply_header(uint8_t *out, int32_t status, size_t textlen)
{
    if (textlen > RN_CTL_REPLY_MAX - RN_CTL_REPLY_HEAD_LEN)
        return RN_EMSGSIZE;
    memcpy(out, ctl_magic, sizeof(ctl_magic));
    out[3] = RN_CTL_VERSION;
    put_be32(out + 4, (uint32_t)(RN_CTL_REPLY_HEAD_LEN + textlen));
    put_be32(out + 8, (uint32_t)status);
    put_be32(out + 12, (uint32_t)textlen);
    return 0;
}

int rn__ctl_reply_decode(const uint8_t *payload, size_t len, int32_t *status, const char **text,
                        size_t *textlen, char *err, size_t errlen)
{
    uint32_t tlen;

    if (len < RN_CTL_REPLY_HEAD_LEN) {
        ctl_err(err, errlen, "reply of %zu bytes is shorter than its %d-byte head", len,
                RN_CTL_REPLY_HEAD_LEN);
        return RN_EFORMAT;
    }
    tlen = get_be32(payload + 4);
    if (tlen != len - RN_CTL_REPLY_HEAD_LEN) {
        ctl_err(err, errlen, "reply text claims %u bytes but the frame holds %zu", tlen,
                len - RN_CTL_REPLY_HEAD_LEN);
        return RN_EFORMAT;
    }
    *status = (int32_t)get_be32(payload);
    *text = (const char *)payload + RN_CTL_REPLY_HEAD_LEN;
    *textlen = tlen;
    return 0;
}

/* ---- Streams ------------------------------------------------------------ */

void rn__ctl_unchunker_init(struct rn_ctl_unchunker *uc)
{
    memset(uc, 0, sizeof(*uc));
    rn__ctl_reader_init(&uc->uc_trailer, RN_CTL_REPLY_MAX);
}

void rn__ctl_unchunker_fini(struct rn_ctl_unchunker *uc)
{
    rn__ctl_reader_fini(&uc->uc_trailer);
}

int rn__ctl_unchunk(struct rn_ctl_unchunker *uc, const uint8_t *buf, size_t len, size_t *used,
                   const uint8_t **data, size_t *datalen, char *err, size_t errlen)
{
    size_t n;

    *used = 0;
    *data = NULL;
    *datalen = 0;
    if (uc->uc_trailer.rd_done)
        return 1;
    if (uc->uc_eof)
        return rn__ctl_reader_feed(&uc->uc_trailer, buf, len, used, err, errlen);
    if (uc->uc_left > 0) {
        n = len < uc->uc_left ? len : uc->uc_left;
        uc->uc_left -= (uint32_t)n;
        uc->uc_bytes += n;
        *used = n;
        *data = buf;
        *datalen = n;
        return 0;
    }
    n = RN_CTL_CHUNK_HDR_LEN - uc->uc_hdr_have;
    if (n > len)
        n = len;
    memcpy(uc->uc_hdr + uc->uc_hdr_have, buf, n);
    uc->uc_hdr_have += (uint32_t)n;
    *used = n;
    if (uc->uc_hdr_have < RN_CTL_CHUNK_HDR_LEN)
        return 0;
    uc->uc_hdr_have = 0;
    uc->uc_left = get_be32(uc->uc_hdr);
    if (uc->uc_left > RN_CTL_CHUNK_MAX) {
        ctl_err(err, errlen, "stream chunk of %u bytes exceeds the limit of %u", uc->uc_left,
                RN_CTL_CHUNK_MAX);
        return RN_EMSGSIZE;
    }
    if (uc->uc_left == 0)
        uc->uc_eof = true;
    return 0;
}
