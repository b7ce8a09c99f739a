/*
 * libFuzzer target for the HTTP/1.1 request parser and its pure helpers
 * (apps/http.c).
 *
 * Input: byte 0 picks the mode, byte 1 seeds the split; the rest is the
 * byte stream a client would send.
 *   byte0 & 0x80 clear: the stream goes through the parser twice, once in
 *     one piece and once in pieces whose sizes a generator seeded by bytes
 *     0 and 1 chooses (1 byte to a few KiB), as a connection's receives
 *     would cut it.  Each complete head is read like the server does,
 *     and the parser is reset for the next, pipelined, one.
 *   byte0 & 0x80 set: the stream is a request target for
 *     rn__http_target_path() directly, any bytes at all.
 *
 * Besides memory safety (ASan, UBSan), a violation of these aborts:
 *   - both feedings give the same sequence of results (status, method,
 *     target, version, persistence, body length) and take the same bytes:
 *     where the stream is cut never matters;
 *   - a call never takes more than it was given, MORE takes it all, and
 *     the parser's fields stay within their bounds;
 *   - a path that rn__http_target_path() accepts has no "..", "." or empty
 *     segment, no leading "/", no control character, and is no longer
 *     than the target;
 *   - every head formats within the server's buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../apps/http.h"

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "property failed at %s:%d: %s\n", __FILE__,      \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

#define MAX_RESULTS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one head came to. */
struct result {
    int r_kind;             /* RN_HTTP_DONE, RN_HTTP_ERROR, or RN_HTTP_MORE at the end */
    int r_status;
    int r_method;
    uint8_t r_minor;
    bool r_keep;
    bool r_has_length;
    uint64_t r_length;
    uint32_t r_target_len;
    uint64_t r_target_hash;
    uint64_t r_end;         /* stream offset just after the head */
    bool r_started;         /* MORE: a request line had begun */
};

struct run {
    struct rn_http_parser ru_p;
    struct result ru_res[MAX_RESULTS];
    unsigned ru_n;
    bool ru_over;           /* stopped: an error, or too many heads */
    uint64_t ru_off;        /* stream bytes taken */
};

static struct run whole, split;
static char path[RN_HTTP_TARGET_MAX + 1];

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

/* The properties of an accepted path. */
static void check_path(const char *out, size_t target_len)
{
    size_t n = strlen(out), i, seg = 0;

    CHECK(n <= target_len);
    if (n == 0)
        return;  /* the root */
    CHECK(out[0] != '/' && out[n - 1] != '/');
    for (i = 0; i <= n; i++) {
        if (i == n || out[i] == '/') {
            size_t len = i - seg;

            CHECK(len > 0);
            CHECK(!(len == 1 && out[seg] == '.'));
            CHECK(!(len == 2 && out[seg] == '.' && out[seg + 1] == '.'));
            seg = i + 1;
            continue;
        }
        CHECK((uint8_t)out[i] >= 0x20 && (uint8_t)out[i] != 0x7f);
    }
}

/* Reads a complete head the way the server does. */
static void serve(const struct rn_http_parser *p)
{
    char head[512];
    bool dir;
    int st;

    CHECK(p->hp_method != RN_HTTP_M_NONE);
    CHECK(p->hp_minor <= 1);
    CHECK(p->hp_target_len > 0 && p->hp_target_len <= RN_HTTP_TARGET_MAX);
    CHECK(p->hp_target[p->hp_target_len] == '\0');
    CHECK(strlen(p->hp_target) == p->hp_target_len);
    CHECK(!p->hp_has_length || p->hp_length <= p->hp_lim.hl_body_max);
    st = rn__http_target_path(p->hp_target, p->hp_target_len, path, sizeof(path), &dir);
    CHECK(st == 0 || st == 400 || st == 404);
    if (st == 0) {
        check_path(path, p->hp_target_len);
        CHECK(rn__http_content_type(path) != NULL);
    }
    CHECK(rn__http_format_head(head, sizeof(head), 200, rn__http_content_type(path), UINT64_MAX,
                              RN_HTTP_RF_CLOSE | RN_HTTP_RF_ALLOW) > 0);
}

/* Records the parser's outcome after a call that returned r. */
static void record(struct run *ru, int r)
{
    struct rn_http_parser *p = &ru->ru_p;
    struct result *res;

    CHECK(p->hp_method_len <= RN_HTTP_METHOD_MAX);
    CHECK(p->hp_target_len <= p->hp_lim.hl_target_max);
    CHECK(p->hp_version_len <= 8);
    if (r == RN_HTTP_MORE)
        return;
    if (ru->ru_n == MAX_RESULTS) {
        ru->ru_over = true;
        return;
    }
    res = &ru->ru_res[ru->ru_n++];
    memset(res, 0, sizeof(*res));
    res->r_kind = r;
    res->r_status = p->hp_status;
    res->r_end = ru->ru_off;
    if (r == RN_HTTP_ERROR) {
        CHECK(p->hp_status == 400 || p->hp_status == 413 || p->hp_status == 414 ||
              p->hp_status == 431 || p->hp_status == 501 || p->hp_status == 505);
        ru->ru_over = true;
        return;
    }
    CHECK(p->hp_status == 0);
    serve(p);
    res->r_method = p->hp_method;
    res->r_minor = p->hp_minor;
    res->r_keep = rn__http_keep_alive(p);
    res->r_has_length = p->hp_has_length;
    res->r_length = p->hp_length;
    res->r_target_len = p->hp_target_len;
    res->r_target_hash = fnv(p->hp_target, p->hp_target_len);
    rn__http_parser_reset(p);
}

/* Feeds one piece, as many heads as it holds. */
static void feed(struct run *ru, const uint8_t *buf, size_t len)
{
    while (len > 0 && !ru->ru_over) {
        size_t used = (size_t)-1;
        int r = rn__http_parse(&ru->ru_p, buf, len, &used);

        CHECK(used <= len);
        CHECK(r != RN_HTTP_MORE || used == len);
        CHECK(r == RN_HTTP_MORE || used > 0);
        ru->ru_off += used;
        record(ru, r);
        buf += used;
        len -= used;
    }
}

static void run_init(struct run *ru)
{
    memset(ru, 0, sizeof(*ru));
    rn__http_parser_init(&ru->ru_p, NULL);
}

static void run_end(struct run *ru)
{
    struct result *res;

    if (ru->ru_over || ru->ru_n == MAX_RESULTS)
        return;
    res = &ru->ru_res[ru->ru_n++];
    memset(res, 0, sizeof(*res));
    res->r_kind = RN_HTTP_MORE;
    res->r_end = ru->ru_off;
    res->r_started = rn__http_parser_started(&ru->ru_p);
    res->r_target_len = ru->ru_p.hp_target_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t seed;
    size_t off;
    unsigned i;

    if (size < 2)
        return 0;
    seed = (uint32_t)data[0] << 8 | data[1] | 1u;
    if (data[0] & 0x80) {
        bool dir;
        int st = rn__http_target_path((const char *)data + 2, size - 2, path, sizeof(path), &dir);

        CHECK(st == 0 || st == 400 || st == 404 || st == 414);
        if (st == 0)
            check_path(path, size - 2);
        return 0;
    }
    data += 2;
    size -= 2;
    run_init(&whole);
    feed(&whole, data, size);
    run_end(&whole);
    run_init(&split);
    for (off = 0; off < size && !split.ru_over;) {
        size_t n;

        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        n = (seed & 7) == 0 ? 1 + seed % 4096 : 1 + seed % 24;
        if (n > size - off)
            n = size - off;
        feed(&split, data + off, n);
        off += n;
    }
    run_end(&split);
    CHECK(whole.ru_n == split.ru_n);
    for (i = 0; i < whole.ru_n; i++)
        CHECK(memcmp(&whole.ru_res[i], &split.ru_res[i], sizeof(struct result)) == 0);
    return 0;
}
