/*
 * Dump files: a snapshot (snapshot.h) written to disk and read back with no
 * access to the process that took it.  `refnet dump` writes one,
 * `refnet analyze` reads it; docs/dump-format.md is the specification and
 * says which check guards what.
 *
 * Layout, little-endian throughout:
 *
 *   header   "RNDUMP\r\n", version major.minor, flags, total length, CRC
 *   META     clock, threshold, misuse counters
 *   STAK     symbolised stacks
 *   TYPE     holder contracts of the types (1.1)
 *   OBJS     objects: ledger, holds by stack; condition bits and when
 *            tracing began (1.1)
 *   WAIT     waits
 *   END      empty; marks a dump written to the end
 *
 * Every section carries its length and a CRC-32 of its bytes, every count
 * is checked against the bytes left before anything is allocated, every
 * string has a length limit, and the decoder spends from a memory budget
 * proportional to the input.  A defect stops decoding with one line
 * naming the byte offset and what was being read there.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag/diag_priv.h"
#include "refnet/error.h"

#define DUMP_MAGIC "RNDUMP\r\n"
#define DUMP_MAGIC_LEN 8
#define DUMP_HEADER_LEN 28
#define SECTION_HEADER_LEN 12

/* Section types: their four ASCII letters read as a little-endian u32. */
#define FOURCC(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define SEC_META FOURCC('M', 'E', 'T', 'A')
#define SEC_STAK FOURCC('S', 'T', 'A', 'K')
#define SEC_TYPE FOURCC('T', 'Y', 'P', 'E')
#define SEC_OBJS FOURCC('O', 'B', 'J', 'S')
#define SEC_WAIT FOURCC('W', 'A', 'I', 'T')
#define SEC_END FOURCC('E', 'N', 'D', ' ')

/* Limits on what one dump may hold (docs/dump-format.md). */
#define LIM_TYPE 255       /* type name bytes */
#define LIM_DESC 1024      /* describe line bytes */
#define LIM_TAG RN_TAG_NAME_MAX
#define LIM_SITE 512       /* last ref site bytes */
#define LIM_FRAME 512      /* frame bytes */
#define LIM_WHAT 255       /* wait's what bytes */
#define LIM_FRAMES 256     /* frames per stack */
#define LIM_TAGS RN_TAG_MAX
#define LIM_HOLDS (1u << 20)
#define LIM_MISUSE 64      /* misuse counters */
#define LIM_COND 63        /* condition name bytes */
#define LIM_WHY 255        /* holder reason bytes */
#define LIM_HOLDERS 256    /* holders per contract */

/* Fixed bytes of an object record after its length field. */
#define OBJ_FIXED 48
/* Least bytes one element of each list takes in a valid dump. */
#define MIN_STACK 4        /* nframes */
#define MIN_FRAME 2        /* empty string */
#define MIN_OBJECT (4 + OBJ_FIXED)
#define MIN_TAG (2 + 1 + 4 + 8 + 2)
#define MIN_HOLD (2 + 1 + 4 + 4 + 8)
#define MIN_WAIT (8 + 8 + 8 + 2)
#define MIN_TYPE (2 + 1 + 8 + 4 + 4)
#define MIN_COND 2
#define MIN_HOLDER (2 + 1 + 4 + 4 + 8 + 2)
/* Bytes a 1.1 object record adds after its 1.0 fields. */
#define OBJ_TRAILER_1_1 (4 + 8)

#define OBF_TRACED 0x1
#define OBF_SATURATED 0x2

/* ---- Shared checks -------------------------------------------------------- */

struct tag_index {
    const char *ti_name;  /* tag name */
    uint32_t ti_pos;      /* its position in the ledger */
};

static int cmp_tag_index(const void *a, const void *b)
{
    const struct tag_index *x = a, *y = b;

    return strcmp(x->ti_name, y->ti_name);
}

/* Sorts a ledger's names into idx (ntags slots).  Returns the position of
 * a name listed twice, or -1. */
static long ledger_index(const struct rn_snap_tag *tags, uint32_t ntags, struct tag_index *idx)
{
    uint32_t i;

    for (i = 0; i < ntags; i++) {
        idx[i].ti_name = tags[i].st_tag ? tags[i].st_tag : "";
        idx[i].ti_pos = i;
    }
    qsort(idx, ntags, sizeof(*idx), cmp_tag_index);
    for (i = 1; i < ntags; i++)
        if (strcmp(idx[i - 1].ti_name, idx[i].ti_name) == 0)
            return (long)idx[i].ti_pos;
    return -1;
}

/* Returns the ledger position of name, or -1. */
static long ledger_find(const struct tag_index *idx, uint32_t ntags, const char *name)
{
    struct tag_index key = {name, 0};
    const struct tag_index *p = bsearch(&key, idx, ntags, sizeof(*idx), cmp_tag_index);

    return p ? (long)p->ti_pos : -1;
}

/* ---- Encoding --------------------------------------------------------------- */

struct wbuf {
    unsigned char *w_buf;
    size_t w_len;
    size_t w_cap;
    bool w_oom;
};

static void w_bytes(struct wbuf *w, const void *p, size_t n)
{
    if (w->w_oom || n == 0)
        return;
    if (w->w_cap - w->w_len < n) {
        size_t cap = w->w_cap ? w->w_cap : 4096;
        unsigned char *b;

        while (cap - w->w_len < n) {
            if (cap > SIZE_MAX / 2) {
                w->w_oom = true;
                return;
            }
            cap *= 2;
        }
        b = realloc(w->w_buf, cap);
        if (b == NULL) {
            w->w_oom = true;
            return;
        }
        w->w_buf = b;
        w->w_cap = cap;
    }
    memcpy(w->w_buf + w->w_len, p, n);
    w->w_len += n;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    int i;

    for (i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void w_u16(struct wbuf *w, uint16_t v)
{
    unsigned char b[2];

    put_le(b, v, 2);
    w_bytes(w, b, 2);
}

static void w_u32(struct wbuf *w, uint32_t v)
{
    unsigned char b[4];

    put_le(b, v, 4);
    w_bytes(w, b, 4);
}

static void w_u64(struct wbuf *w, uint64_t v)
{
    unsigned char b[8];

    put_le(b, v, 8);
    w_bytes(w, b, 8);
}

/* Writes a string, cut to lim bytes at a character boundary. */
static void w_str(struct wbuf *w, const char *str, size_t lim)
{
    size_t n = str ? strlen(str) : 0;

    if (n > lim) {
        n = lim;
        while (n > 0 && ((unsigned char)str[n] & 0xc0) == 0x80)
            n--;
    }
    w_u16(w, (uint16_t)n);
    w_bytes(w, str, n);
}

/* Starts a length-prefixed block; returns where its length goes. */
static size_t w_begin(struct wbuf *w, uint32_t type)
{
    size_t at;

    if (type != 0)
        w_u32(w, type);
    at = w->w_len;
    w_u32(w, 0);
    if (type != 0)
        w_u32(w, 0);
    return at;
}

/* Ends a block begun at `at`: patches its length and, for a section
 * (crc true), the CRC of its payload. */
static void w_end(struct wbuf *w, size_t at, bool crc)
{
    size_t start = at + (crc ? 8 : 4);
    size_t len = w->w_len - start;

    if (w->w_oom)
        return;
    if (len > UINT32_MAX) {
        w->w_oom = true;
        return;
    }
    put_le(w->w_buf + at, len, 4);
    if (crc)
        put_le(w->w_buf + at + 4, rn__crc32(0, w->w_buf + start, len), 4);
}

/* Checks that s keeps the invariants the decoder enforces, so that every
 * dump written can be read.  Returns 0 or RN_EINVAL. */
static int encode_check(const struct rn_snapshot *s)
{
    struct tag_index *idx = NULL;
    uint64_t *held = NULL;
    uint32_t i, j;
    int rc = 0;

    for (i = 0; i < s->s_nstacks; i++)
        if (s->s_stacks[i].ss_nframes > LIM_FRAMES)
            return RN_EINVAL;
    for (i = 0; i < s->s_ntypes; i++) {
        const struct rn_snap_type *y = &s->s_types[i];

        if (y->sy_name == NULL || y->sy_name[0] == '\0' || y->sy_nconds > RN_OB_CONDS_MAX ||
            y->sy_nholders > LIM_HOLDERS ||
            (i > 0 && strcmp(s->s_types[i - 1].sy_name, y->sy_name) >= 0))
            return RN_EINVAL;
        for (j = 0; j < y->sy_nholders; j++) {
            const struct rn_snap_holder *h = &y->sy_holders[j];

            if (h->sr_tag == NULL || h->sr_tag[0] == '\0' || strlen(h->sr_tag) > LIM_TAG ||
                (y->sy_nconds < 32 && (h->sr_while >> y->sy_nconds) != 0))
                return RN_EINVAL;
        }
    }
    for (i = 0; i < s->s_nobjects && rc == 0; i++) {
        const struct rn_snap_object *o = &s->s_objects[i];
        uint64_t sum = 0;

        if ((i > 0 && o->so_id <= s->s_objects[i - 1].so_id) ||
            (o->so_state != RN_OB_LIVE && o->so_state != RN_OB_DYING) ||
            o->so_ntags > LIM_TAGS || o->so_nholds > LIM_HOLDS)
            return RN_EINVAL;
        for (j = 0; j < o->so_ntags; j++) {
            const struct rn_snap_tag *t = &o->so_tags[j];

            if (t->st_tag == NULL || t->st_tag[0] == '\0' || strlen(t->st_tag) > LIM_TAG ||
                t->st_count == 0)
                return RN_EINVAL;
            sum += t->st_count;
        }
        if (sum != o->so_refs)
            return RN_EINVAL;
        idx = malloc(((size_t)o->so_ntags + 1) * sizeof(*idx));
        held = calloc((size_t)o->so_ntags + 1, sizeof(*held));
        if (idx == NULL || held == NULL) {
            rc = RN_ENOMEM;
            goto next;
        }
        if (ledger_index(o->so_tags, o->so_ntags, idx) >= 0) {
            rc = RN_EINVAL;
            goto next;
        }
        for (j = 0; j < o->so_nholds && rc == 0; j++) {
            const struct rn_snap_hold *h = &o->so_holds[j];
            long pos = ledger_find(idx, o->so_ntags, h->sh_tag ? h->sh_tag : "");

            if (pos < 0 || h->sh_count == 0 ||
                (h->sh_stack != RN_SNAP_NO_STACK && h->sh_stack >= s->s_nstacks))
                rc = RN_EINVAL;
            else if ((held[pos] += h->sh_count) > o->so_tags[pos].st_count)
                rc = RN_EINVAL;
        }
next:
        free(idx);
        free(held);
        idx = NULL;
        held = NULL;
    }
    return rc;
}

int rn_dump_encode(const struct rn_snapshot *s, void **buf, size_t *len)
{
    struct wbuf w = {NULL, 0, 0, false};
    size_t at, rec;
    uint32_t i, j;
    int rc;

    assert(s != NULL && buf != NULL && len != NULL);
    rc = encode_check(s);
    if (rc != 0)
        return rc;

    /* Header; the total length and its CRC are patched at the end. */
    w_bytes(&w, DUMP_MAGIC, DUMP_MAGIC_LEN);
    w_u16(&w, RN_DUMP_VERSION_MAJOR);
    w_u16(&w, RN_DUMP_VERSION_MINOR);
    w_u32(&w, 0);
    w_u64(&w, 0);
    w_u32(&w, 0);

    at = w_begin(&w, SEC_META);
    w_u64(&w, s->s_now);
    w_u64(&w, s->s_threshold);
    w_u32(&w, RN_MISUSE_COUNT_);
    for (i = 0; i < RN_MISUSE_COUNT_; i++)
        w_u64(&w, s->s_misuse[i]);
    w_end(&w, at, true);

    at = w_begin(&w, SEC_STAK);
    w_u32(&w, s->s_nstacks);
    for (i = 0; i < s->s_nstacks; i++) {
        const struct rn_snap_stack *st = &s->s_stacks[i];

        w_u32(&w, st->ss_nframes);
        for (j = 0; j < st->ss_nframes; j++)
            w_str(&w, st->ss_frames[j], LIM_FRAME);
    }
    w_end(&w, at, true);

    at = w_begin(&w, SEC_TYPE);
    w_u32(&w, s->s_ntypes);
    for (i = 0; i < s->s_ntypes; i++) {
        const struct rn_snap_type *y = &s->s_types[i];

        w_str(&w, y->sy_name, LIM_TYPE);
        w_u64(&w, y->sy_orphan_bound);
        w_u32(&w, y->sy_nconds);
        for (j = 0; j < y->sy_nconds; j++)
            w_str(&w, y->sy_conds[j], LIM_COND);
        w_u32(&w, y->sy_nholders);
        for (j = 0; j < y->sy_nholders; j++) {
            const struct rn_snap_holder *h = &y->sy_holders[j];

            w_str(&w, h->sr_tag, LIM_TAG);
            w_u32(&w, h->sr_while);
            w_u32(&w, h->sr_flags);
            w_u64(&w, h->sr_bound);
            w_str(&w, h->sr_why, LIM_WHY);
        }
    }
    w_end(&w, at, true);

    at = w_begin(&w, SEC_OBJS);
    w_u32(&w, s->s_nobjects);
    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *o = &s->s_objects[i];

        rec = w_begin(&w, 0);
        w_u64(&w, o->so_id);
        w_u16(&w, (uint16_t)o->so_state);
        w_u16(&w, (uint16_t)((o->so_traced ? OBF_TRACED : 0) |
                             (o->so_saturated ? OBF_SATURATED : 0)));
        w_u32(&w, o->so_refs);
        w_u64(&w, o->so_created);
        w_u64(&w, o->so_killed);
        w_str(&w, o->so_type, LIM_TYPE);
        w_str(&w, o->so_desc, LIM_DESC);
        w_u32(&w, o->so_ntags);
        for (j = 0; j < o->so_ntags; j++) {
            const struct rn_snap_tag *t = &o->so_tags[j];

            w_str(&w, t->st_tag, LIM_TAG);
            w_u32(&w, t->st_count);
            w_u64(&w, t->st_since);
            w_str(&w, t->st_last_ref, LIM_SITE);
        }
        w_u32(&w, o->so_nholds);
        for (j = 0; j < o->so_nholds; j++) {
            const struct rn_snap_hold *h = &o->so_holds[j];

            w_str(&w, h->sh_tag, LIM_TAG);
            w_u32(&w, h->sh_stack);
            w_u32(&w, h->sh_count);
            w_u64(&w, h->sh_oldest);
        }
        w_u32(&w, o->so_untraced);
        w_u32(&w, o->so_conds);
        w_u64(&w, o->so_traced_since);
        w_end(&w, rec, false);
    }
    w_end(&w, at, true);

    at = w_begin(&w, SEC_WAIT);
    w_u32(&w, s->s_nwaits);
    for (i = 0; i < s->s_nwaits; i++) {
        const struct rn_snap_wait *wt = &s->s_waits[i];

        w_u64(&w, wt->sw_waiter);
        w_u64(&w, wt->sw_waited);
        w_u64(&w, wt->sw_since);
        w_str(&w, wt->sw_what, LIM_WHAT);
    }
    w_end(&w, at, true);

    at = w_begin(&w, SEC_END);
    w_end(&w, at, true);

    if (w.w_oom) {
        free(w.w_buf);
        return RN_ENOMEM;
    }
    put_le(w.w_buf + 16, w.w_len, 8);
    put_le(w.w_buf + 24, rn__crc32(0, w.w_buf, 24), 4);
    *buf = w.w_buf;
    *len = w.w_len;
    return 0;
}

/* ---- Decoding --------------------------------------------------------------- */

struct rd {
    const unsigned char *r_buf;  /* the whole dump */
    size_t r_len;                /* its bytes */
    size_t r_pos;                /* offset of the next byte to read */
    size_t r_end;                /* end of the section or record being read */
    char *r_err;                 /* error line, errlen bytes */
    size_t r_errlen;
    int r_rc;                    /* first error, or 0 */
    char r_what[96];             /* what is being read, for errors */
    size_t r_budget;             /* bytes the decode may still allocate */
    bool r_newer;                /* written by a newer minor version */
    uint16_t r_minor;            /* the dump's minor version */
    struct rn_snapshot *r_s;     /* being built */
};

static void rd_fail_at(struct rd *r, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void rd_fail_at(struct rd *r, size_t off, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (r->r_rc != 0)
        return;
    r->r_rc = RN_EFORMAT;
    if (r->r_err == NULL || r->r_errlen == 0)
        return;
    n = snprintf(r->r_err, r->r_errlen, "offset %zu: %s%s", off, r->r_what,
                 r->r_what[0] ? ": " : "");
    if (n < 0 || (size_t)n >= r->r_errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(r->r_err + n, r->r_errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void rd_what(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void rd_what(struct rd *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->r_what, sizeof(r->r_what), fmt, ap);
    va_end(ap);
}

static size_t rd_left(const struct rd *r)
{
    return r->r_end - r->r_pos;
}

/* True if n bytes of field remain; fails otherwise. */
static bool rd_need(struct rd *r, size_t n, const char *field)
{
    if (r->r_rc != 0)
        return false;
    if (rd_left(r) >= n)
        return true;
    rd_fail_at(r, r->r_pos, "%s needs %zu bytes, %zu remain", field, n, rd_left(r));
    return false;
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    int i;

    for (i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t rd_int(struct rd *r, int n, const char *field)
{
    uint64_t v;

    if (!rd_need(r, (size_t)n, field))
        return 0;
    v = get_le(r->r_buf + r->r_pos, n);
    r->r_pos += (size_t)n;
    return v;
}

#define rd_u16(r, f) ((uint16_t)rd_int((r), 2, (f)))
#define rd_u32(r, f) ((uint32_t)rd_int((r), 4, (f)))
#define rd_u64(r, f) rd_int((r), 8, (f))

static void rd_oom(struct rd *r);

/* Allocates from the snapshot, within the budget. */
static void *rd_alloc(struct rd *r, size_t size)
{
    void *p;

    if (r->r_rc != 0)
        return NULL;
    if (size > r->r_budget) {
        rd_fail_at(r, r->r_pos, "the dump would need more memory than %zu bytes of input justify",
                   r->r_len);
        return NULL;
    }
    r->r_budget -= size;
    p = rn_snap_alloc(r->r_s, size);
    if (p == NULL)
        rd_oom(r);
    return p;
}

/* Fails the decode for want of memory. */
static void rd_oom(struct rd *r)
{
    if (r->r_rc != 0)
        return;
    r->r_rc = RN_ENOMEM;
    if (r->r_err != NULL && r->r_errlen > 0)
        snprintf(r->r_err, r->r_errlen, "offset %zu: out of memory", r->r_pos);
}

/* Copies str into buf with anything but printable ASCII escaped, for
 * names from the dump quoted in an error line. */
static const char *esc(const char *str, char *buf, size_t len)
{
    size_t o = 0;

    for (; str != NULL && *str != '\0' && o + 5 < len; str++) {
        unsigned char c = (unsigned char)*str;

        if (c >= 0x20 && c < 0x7f)
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
    }
    buf[o] = '\0';
    return buf;
}

/* Charges the budget for a table of n elements grown by doubling. */
static bool rd_charge(struct rd *r, size_t n, size_t elem)
{
    size_t need = (n + 64) * elem * 2;

    if (r->r_rc != 0)
        return false;
    if (need > r->r_budget) {
        rd_fail_at(r, r->r_pos, "the dump would need more memory than %zu bytes of input justify",
                   r->r_len);
        return false;
    }
    r->r_budget -= need;
    return true;
}

/* Reads a count of elements that take at least min_each bytes each, and
 * checks it against its limit and the bytes left before anything is
 * allocated for it. */
static uint32_t rd_count(struct rd *r, const char *field, uint32_t lim, size_t min_each)
{
    size_t at = r->r_pos;
    uint32_t n = rd_u32(r, field);

    if (r->r_rc != 0)
        return 0;
    if (n > lim) {
        rd_fail_at(r, at, "%s %" PRIu32 " exceeds the limit %" PRIu32, field, n, lim);
        return 0;
    }
    if ((uint64_t)n * min_each > rd_left(r)) {
        rd_fail_at(r, at, "%s %" PRIu32 " exceeds remaining %zu bytes", field, n, rd_left(r));
        return 0;
    }
    return n;
}

/* Reads a string of at most lim bytes.  Empty strings are shared ""
 * (NULL with null_if_empty), costing no memory. */
static const char *rd_str(struct rd *r, const char *field, size_t lim, bool null_if_empty)
{
    size_t at = r->r_pos;
    uint16_t n = rd_u16(r, field);
    char *p;

    if (r->r_rc != 0)
        return NULL;
    if (n > lim) {
        rd_fail_at(r, at, "%s length %u exceeds the limit %zu", field, n, lim);
        return NULL;
    }
    if (n > rd_left(r)) {
        rd_fail_at(r, at, "%s length %u exceeds remaining %zu bytes", field, n, rd_left(r));
        return NULL;
    }
    if (memchr(r->r_buf + r->r_pos, '\0', n) != NULL) {
        rd_fail_at(r, at, "%s contains a NUL byte", field);
        return NULL;
    }
    if (n == 0)
        return null_if_empty ? NULL : "";
    p = rd_alloc(r, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, r->r_buf + r->r_pos, n);
    p[n] = '\0';
    r->r_pos += n;
    return p;
}

static void fourcc_name(uint32_t type, char *buf, size_t len)
{
    size_t o = 0;
    int i;

    for (i = 0; i < 4 && o + 5 < len; i++) {
        unsigned char c = (unsigned char)(type >> (8 * i));

        if (c >= 0x20 && c < 0x7f && c != '\'')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
    }
    buf[o] = '\0';
}

static void decode_meta(struct rd *r)
{
    struct rn_snapshot *s = r->r_s;
    uint32_t n, i;

    rd_what(r, "section META");
    s->s_now = rd_u64(r, "clock");
    s->s_threshold = rd_u64(r, "threshold");
    n = rd_count(r, "misuse counter count", LIM_MISUSE, 8);
    for (i = 0; i < n && r->r_rc == 0; i++) {
        uint64_t v = rd_u64(r, "misuse counter");

        /* Counters this build does not know are read past. */
        if (i < RN_MISUSE_COUNT_)
            s->s_misuse[i] = v;
    }
}

static void decode_stacks(struct rd *r)
{
    uint32_t n, i, j;

    rd_what(r, "section STAK");
    n = rd_count(r, "stack count", UINT32_MAX - 1, MIN_STACK);
    if (!rd_charge(r, n, sizeof(struct rn_snap_stack)))
        return;
    for (i = 0; i < n && r->r_rc == 0; i++) {
        struct rn_snap_stack *st;
        const char **frames = NULL;
        uint32_t nframes;

        rd_what(r, "stack %" PRIu32, i);
        nframes = rd_count(r, "frame count", LIM_FRAMES, MIN_FRAME);
        if (r->r_rc != 0)
            return;
        if (nframes > 0) {
            frames = rd_alloc(r, (size_t)nframes * sizeof(*frames));
            if (frames == NULL)
                return;
        }
        for (j = 0; j < nframes && r->r_rc == 0; j++)
            frames[j] = rd_str(r, "frame", LIM_FRAME, false);
        if (r->r_rc != 0)
            return;
        st = rn_snapshot_add_stack(r->r_s);
        if (st == NULL) {
            rd_oom(r);
            return;
        }
        st->ss_nframes = nframes;
        st->ss_frames = frames;
    }
}

/* Reads the ledger of o; idx receives its names sorted. */
static void decode_ledger(struct rd *r, struct rn_snap_object *o, struct tag_index **idxp)
{
    size_t at;
    uint64_t sum = 0;
    uint32_t i;
    long dup;
    char name[4 * LIM_TAG + 1];

    rd_what(r, "ledger of object #%" PRIu64, o->so_id);
    at = r->r_pos;
    o->so_ntags = rd_count(r, "tag count", LIM_TAGS, MIN_TAG);
    if (r->r_rc != 0)
        return;
    if (o->so_ntags > 0) {
        o->so_tags = rd_alloc(r, (size_t)o->so_ntags * sizeof(*o->so_tags));
        if (o->so_tags == NULL)
            return;
    }
    for (i = 0; i < o->so_ntags && r->r_rc == 0; i++) {
        struct rn_snap_tag *t = &o->so_tags[i];
        size_t tat = r->r_pos;

        t->st_tag = rd_str(r, "tag name", LIM_TAG, false);
        if (r->r_rc == 0 && t->st_tag[0] == '\0')
            rd_fail_at(r, tat, "tag %" PRIu32 " has an empty name", i);
        tat = r->r_pos;
        t->st_count = rd_u32(r, "tag count");
        if (r->r_rc == 0 && t->st_count == 0)
            rd_fail_at(r, tat, "tag '%s' holds 0 references", esc(t->st_tag, name, sizeof(name)));
        t->st_since = rd_u64(r, "tag since");
        t->st_last_ref = rd_str(r, "last ref site", LIM_SITE, true);
        sum += t->st_count;
    }
    if (r->r_rc != 0)
        return;
    if (sum != o->so_refs) {
        rd_fail_at(r, at, "refs %" PRIu32 " but the tag counts add up to %" PRIu64, o->so_refs,
                   sum);
        return;
    }
    *idxp = malloc(((size_t)o->so_ntags + 1) * sizeof(**idxp));
    if (*idxp == NULL) {
        rd_oom(r);
        return;
    }
    dup = ledger_index(o->so_tags, o->so_ntags, *idxp);
    if (dup >= 0)
        rd_fail_at(r, at, "tag '%s' is listed twice",
                   esc(o->so_tags[dup].st_tag, name, sizeof(name)));
}

static void decode_holds(struct rd *r, struct rn_snap_object *o, const struct tag_index *idx)
{
    uint64_t *held;
    uint32_t i;
    char name[4 * LIM_TAG + 1];

    rd_what(r, "holds of object #%" PRIu64, o->so_id);
    o->so_nholds = rd_count(r, "hold count", LIM_HOLDS, MIN_HOLD);
    if (r->r_rc != 0 || o->so_nholds == 0)
        return;
    o->so_holds = rd_alloc(r, (size_t)o->so_nholds * sizeof(*o->so_holds));
    held = calloc((size_t)o->so_ntags + 1, sizeof(*held));
    if (o->so_holds == NULL || held == NULL) {
        free(held);
        rd_oom(r);
        return;
    }
    for (i = 0; i < o->so_nholds && r->r_rc == 0; i++) {
        struct rn_snap_hold *h = &o->so_holds[i];
        size_t at = r->r_pos;
        const char *tag = rd_str(r, "hold tag", LIM_TAG, false);
        long pos;

        if (r->r_rc != 0)
            break;
        pos = ledger_find(idx, o->so_ntags, tag);
        if (pos < 0) {
            rd_fail_at(r, at, "hold %" PRIu32 " names tag '%s', which the ledger does not list", i,
                       esc(tag, name, sizeof(name)));
            break;
        }
        h->sh_tag = o->so_tags[pos].st_tag;
        at = r->r_pos;
        h->sh_stack = rd_u32(r, "stack index");
        if (r->r_rc == 0 && h->sh_stack != RN_SNAP_NO_STACK && h->sh_stack >= r->r_s->s_nstacks) {
            rd_fail_at(r, at, "hold %" PRIu32 ": stack index %" PRIu32
                       " is out of range (the dump has %" PRIu32 " stacks)",
                       i, h->sh_stack, r->r_s->s_nstacks);
            break;
        }
        at = r->r_pos;
        h->sh_count = rd_u32(r, "hold count");
        if (r->r_rc == 0 && h->sh_count == 0)
            rd_fail_at(r, at, "hold %" PRIu32 " counts 0 references", i);
        h->sh_oldest = rd_u64(r, "hold time");
        if (r->r_rc == 0 && (held[pos] += h->sh_count) > o->so_tags[pos].st_count)
            rd_fail_at(r, at, "holds of tag '%s' add up to %" PRIu64 ", more than its count %" PRIu32,
                       esc(h->sh_tag, name, sizeof(name)), held[pos], o->so_tags[pos].st_count);
    }
    free(held);
}

static void decode_object(struct rd *r, uint32_t i, bool have_prev, uint64_t prev)
{
    struct rn_snap_object *o;
    struct tag_index *idx = NULL;
    size_t at, section_end = r->r_end;
    uint32_t reclen;
    uint16_t state, flags;

    rd_what(r, "object %" PRIu32, i);
    at = r->r_pos;
    reclen = rd_u32(r, "record length");
    if (r->r_rc != 0)
        return;
    if (reclen < OBJ_FIXED) {
        rd_fail_at(r, at, "record length %" PRIu32 " is less than its %d fixed bytes", reclen,
                   OBJ_FIXED);
        return;
    }
    if (reclen > rd_left(r)) {
        rd_fail_at(r, at, "record length %" PRIu32 " exceeds remaining %zu bytes", reclen,
                   rd_left(r));
        return;
    }
    r->r_end = r->r_pos + reclen;
    o = rn_snapshot_add_object(r->r_s);
    if (o == NULL) {
        rd_oom(r);
        return;
    }
    at = r->r_pos;
    o->so_id = rd_u64(r, "id");
    if (have_prev && o->so_id <= prev) {
        rd_fail_at(r, at, "id %" PRIu64 " does not follow %" PRIu64 ": ids must increase",
                   o->so_id, prev);
        return;
    }
    rd_what(r, "object #%" PRIu64, o->so_id);
    at = r->r_pos;
    state = rd_u16(r, "state");
    if (r->r_rc == 0 && state != RN_OB_LIVE && state != RN_OB_DYING) {
        rd_fail_at(r, at, "state %u is neither live (0) nor dying (1)", state);
        return;
    }
    o->so_state = (enum rn_ob_state)state;
    flags = rd_u16(r, "flags");
    o->so_traced = (flags & OBF_TRACED) != 0;
    o->so_saturated = (flags & OBF_SATURATED) != 0;
    o->so_refs = rd_u32(r, "refs");
    o->so_created = rd_u64(r, "created");
    o->so_killed = rd_u64(r, "killed");
    o->so_type = rd_str(r, "type name", LIM_TYPE, false);
    o->so_desc = rd_str(r, "description", LIM_DESC, false);
    decode_ledger(r, o, &idx);
    if (r->r_rc == 0)
        decode_holds(r, o, idx);
    free(idx);
    rd_what(r, "object #%" PRIu64, o->so_id);
    o->so_untraced = rd_u32(r, "untraced count");
    if (r->r_minor >= 1) {
        o->so_conds = rd_u32(r, "condition bits");
        o->so_traced_since = rd_u64(r, "traced since");
    }
    if (r->r_rc != 0)
        return;
    if (r->r_pos != r->r_end && !r->r_newer) {
        rd_fail_at(r, r->r_pos, "%zu unexpected bytes at the end of the record", rd_left(r));
        return;
    }
    r->r_pos = r->r_end;
    r->r_end = section_end;
}

/* The contracts of the types (1.1). */
static void decode_types(struct rd *r)
{
    uint32_t n, i, j;

    rd_what(r, "section TYPE");
    n = rd_count(r, "type count", UINT32_MAX - 1, MIN_TYPE);
    if (!rd_charge(r, n, sizeof(struct rn_snap_type)))
        return;
    for (i = 0; i < n && r->r_rc == 0; i++) {
        struct rn_snap_type y = {0}, *slot;
        size_t at;

        rd_what(r, "type %" PRIu32, i);
        at = r->r_pos;
        y.sy_name = rd_str(r, "type name", LIM_TYPE, false);
        if (r->r_rc == 0 && y.sy_name[0] == '\0') {
            rd_fail_at(r, at, "empty type name");
            return;
        }
        if (r->r_rc == 0 && i > 0 && strcmp(r->r_s->s_types[i - 1].sy_name, y.sy_name) >= 0) {
            rd_fail_at(r, at, "type '%s' out of order: names must increase", y.sy_name);
            return;
        }
        y.sy_orphan_bound = rd_u64(r, "orphan bound");
        y.sy_nconds = rd_count(r, "condition count", RN_OB_CONDS_MAX, MIN_COND);
        if (r->r_rc != 0)
            return;
        y.sy_conds = rd_alloc(r, ((size_t)y.sy_nconds + 1) * sizeof(*y.sy_conds));
        if (y.sy_conds == NULL)
            return;
        for (j = 0; j < y.sy_nconds && r->r_rc == 0; j++)
            y.sy_conds[j] = rd_str(r, "condition name", LIM_COND, false);
        y.sy_nholders = rd_count(r, "holder count", LIM_HOLDERS, MIN_HOLDER);
        if (r->r_rc != 0)
            return;
        y.sy_holders = rd_alloc(r, ((size_t)y.sy_nholders + 1) * sizeof(*y.sy_holders));
        if (y.sy_holders == NULL)
            return;
        for (j = 0; j < y.sy_nholders && r->r_rc == 0; j++) {
            struct rn_snap_holder *h = &y.sy_holders[j];

            at = r->r_pos;
            h->sr_tag = rd_str(r, "holder tag", LIM_TAG, false);
            if (r->r_rc == 0 && h->sr_tag[0] == '\0') {
                rd_fail_at(r, at, "empty holder tag");
                return;
            }
            at = r->r_pos;
            h->sr_while = rd_u32(r, "holder conditions");
            if (r->r_rc == 0 && y.sy_nconds < 32 && (h->sr_while >> y.sy_nconds) != 0) {
                rd_fail_at(r, at, "holder conditions 0x%" PRIx32 " name bits past the type's "
                           "%" PRIu32 " conditions", h->sr_while, y.sy_nconds);
                return;
            }
            h->sr_flags = rd_u32(r, "holder flags");
            h->sr_bound = rd_u64(r, "holder bound");
            h->sr_why = rd_str(r, "holder reason", LIM_WHY, false);
        }
        if (r->r_rc != 0)
            return;
        slot = rn_snapshot_add_type(r->r_s);
        if (slot == NULL) {
            rd_oom(r);
            return;
        }
        *slot = y;
    }
}

static void decode_objects(struct rd *r)
{
    uint32_t n, i;

    rd_what(r, "section OBJS");
    n = rd_count(r, "object count", UINT32_MAX - 1, MIN_OBJECT);
    if (!rd_charge(r, n, sizeof(struct rn_snap_object)))
        return;
    for (i = 0; i < n && r->r_rc == 0; i++)
        decode_object(r, i, i > 0, i > 0 ? r->r_s->s_objects[i - 1].so_id : 0);
}

static void decode_waits(struct rd *r)
{
    uint32_t n, i;

    rd_what(r, "section WAIT");
    n = rd_count(r, "wait count", UINT32_MAX - 1, MIN_WAIT);
    if (!rd_charge(r, n, sizeof(struct rn_snap_wait)))
        return;
    for (i = 0; i < n && r->r_rc == 0; i++) {
        struct rn_snap_wait *w;
        uint64_t waiter, waited, since;
        const char *what;

        rd_what(r, "wait %" PRIu32, i);
        waiter = rd_u64(r, "waiter id");
        waited = rd_u64(r, "waited id");
        since = rd_u64(r, "since");
        what = rd_str(r, "what", LIM_WHAT, false);
        if (r->r_rc != 0)
            return;
        w = rn_snapshot_add_wait(r->r_s);
        if (w == NULL) {
            rd_oom(r);
            return;
        }
        w->sw_waiter = waiter;
        w->sw_waited = waited;
        w->sw_since = since;
        w->sw_what = what;
    }
}

/* Checks magic, version, header CRC and total length. */
static void decode_header(struct rd *r)
{
    const unsigned char *b = r->r_buf;
    uint16_t major, minor;
    uint32_t stored, crc;
    uint64_t total;

    rd_what(r, "header");
    if (r->r_len < DUMP_MAGIC_LEN) {
        if (memcmp(b, DUMP_MAGIC, r->r_len) == 0)
            rd_fail_at(r, r->r_len, "truncated: the file is %zu bytes, a dump's header %d",
                       r->r_len, DUMP_HEADER_LEN);
        else
            rd_fail_at(r, 0, "not a refnet dump (no RNDUMP magic)");
        return;
    }
    if (memcmp(b, DUMP_MAGIC, DUMP_MAGIC_LEN) != 0) {
        rd_fail_at(r, 0, "not a refnet dump (no RNDUMP magic)");
        return;
    }
    if (r->r_len < 12) {
        rd_fail_at(r, r->r_len, "truncated: the file is %zu bytes, a dump's header %d",
                   r->r_len, DUMP_HEADER_LEN);
        return;
    }
    major = (uint16_t)get_le(b + 8, 2);
    minor = (uint16_t)get_le(b + 10, 2);
    if (major != RN_DUMP_VERSION_MAJOR) {
        rd_fail_at(r, 8, "dump format version %u.%u is not supported: this refnet reads %d.x",
                   major, minor, RN_DUMP_VERSION_MAJOR);
        r->r_rc = RN_ENOTSUP;
        return;
    }
    r->r_newer = minor > RN_DUMP_VERSION_MINOR;
    r->r_minor = minor;
    if (r->r_len < DUMP_HEADER_LEN) {
        rd_fail_at(r, r->r_len, "truncated: the file is %zu bytes, a dump's header %d",
                   r->r_len, DUMP_HEADER_LEN);
        return;
    }
    stored = (uint32_t)get_le(b + 24, 4);
    crc = rn__crc32(0, b, 24);
    if (stored != crc) {
        rd_fail_at(r, 24, "CRC mismatch (stored 0x%08" PRIx32 ", computed 0x%08" PRIx32 ")",
                   stored, crc);
        return;
    }
    total = get_le(b + 16, 8);
    if (total > r->r_len) {
        rd_fail_at(r, r->r_len, "the file ends after %zu bytes but its header says %" PRIu64
                   ": truncated", r->r_len, total);
        return;
    }
    if (total < r->r_len) {
        rd_fail_at(r, (size_t)total, "%zu bytes follow the end of the dump", r->r_len - (size_t)total);
        return;
    }
    r->r_pos = DUMP_HEADER_LEN;
    r->r_end = r->r_len;
}

static void decode_sections(struct rd *r)
{
    /* TYPE came with 1.1; a 1.0 dump has none, a 1.1 one may leave it
     * out (a snapshot with no contracts). */
    static const uint32_t order[] = {SEC_META, SEC_STAK, SEC_TYPE, SEC_OBJS, SEC_WAIT, SEC_END};
    size_t next = 0;

    while (r->r_rc == 0) {
        uint32_t type, len, stored, crc;
        size_t at = r->r_pos, k;
        char name[24];

        rd_what(r, "section header");
        if (r->r_pos == r->r_len) {
            rd_fail_at(r, r->r_pos, "the dump ends without its END section");
            return;
        }
        if (!rd_need(r, SECTION_HEADER_LEN, "section header"))
            return;
        type = rd_u32(r, "type");
        len = rd_u32(r, "length");
        stored = rd_u32(r, "CRC");
        fourcc_name(type, name, sizeof(name));
        rd_what(r, "section %s", name);
        if (len > rd_left(r)) {
            rd_fail_at(r, at, "length %" PRIu32 " exceeds remaining %zu bytes", len, rd_left(r));
            return;
        }
        crc = rn__crc32(0, r->r_buf + r->r_pos, len);
        if (crc != stored) {
            rd_fail_at(r, at, "CRC mismatch over bytes %zu..%zu (stored 0x%08" PRIx32
                       ", computed 0x%08" PRIx32 ")", r->r_pos, r->r_pos + len, stored, crc);
            return;
        }
        for (k = 0; k < sizeof(order) / sizeof(order[0]) && order[k] != type; k++)
            ;
        if (k == sizeof(order) / sizeof(order[0]) || (type == SEC_TYPE && r->r_minor < 1)) {
            if (!r->r_newer) {
                rd_fail_at(r, at, "unknown section type");
                return;
            }
            r->r_pos += len; /* a later minor version's addition */
            continue;
        }
        if (k == next + 1 && order[next] == SEC_TYPE)
            next++;  /* no TYPE section */
        if (k != next) {
            char want[24];

            fourcc_name(order[next], want, sizeof(want));
            rd_fail_at(r, at, "out of order: section %s expected here", want);
            return;
        }
        next++;
        r->r_end = r->r_pos + len;
        switch (type) {
        case SEC_META:
            decode_meta(r);
            break;
        case SEC_STAK:
            decode_stacks(r);
            break;
        case SEC_TYPE:
            decode_types(r);
            break;
        case SEC_OBJS:
            decode_objects(r);
            break;
        case SEC_WAIT:
            decode_waits(r);
            break;
        case SEC_END:
            if (len != 0)
                rd_fail_at(r, at, "END section has %" PRIu32 " bytes; it must be empty", len);
            break;
        }
        if (r->r_rc != 0)
            return;
        rd_what(r, "section %s", name);
        if (r->r_pos != r->r_end && !r->r_newer) {
            rd_fail_at(r, r->r_pos, "%zu unexpected bytes at the end of the section", rd_left(r));
            return;
        }
        r->r_pos = r->r_end;
        r->r_end = r->r_len;
        if (type == SEC_END) {
            if (r->r_pos != r->r_len)
                rd_fail_at(r, r->r_pos, "data follows the END section");
            return;
        }
    }
}

int rn_dump_decode(const void *buf, size_t len, struct rn_snapshot **out, char *err,
                   size_t errlen)
{
    struct rd r;

    assert(out != NULL && (buf != NULL || len == 0));
    *out = NULL;
    memset(&r, 0, sizeof(r));
    r.r_buf = buf ? buf : (const void *)"";
    r.r_len = len;
    r.r_end = len;
    r.r_err = err;
    r.r_errlen = errlen;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    /* A valid dump needs at most a few times its size in memory; the
     * budget leaves ample room and a floor for the fixed costs. */
    r.r_budget = len > SIZE_MAX / 32 ? SIZE_MAX : len * 16 + (256u << 10);
    r.r_s = rn_snapshot_new();
    if (r.r_s == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "out of memory");
        return RN_ENOMEM;
    }
    decode_header(&r);
    if (r.r_rc == 0)
        decode_sections(&r);
    if (r.r_rc != 0) {
        rn_snapshot_free(r.r_s);
        return r.r_rc;
    }
    rn_snapshot_finish(r.r_s);
    *out = r.r_s;
    return 0;
}

/* ---- Files ------------------------------------------------------------------ */

static int errno_code(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return RN_ENOENT;
    case EACCES:
    case EPERM:
    case EROFS:
        return RN_EACCES;
    case ENOSPC:
    case EDQUOT:
        return RN_ENOSPC;
    case ENOMEM:
        return RN_ENOMEM;
    default:
        return RN_EIO;
    }
}

static int file_error(char *err, size_t errlen, const char *path, const char *doing, int e)
{
    char msg[128];

    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: %s: %s", path, doing, strerror_r(e, msg, sizeof(msg)));
    return errno_code(e);
}

int rn_dump_read(const char *path, struct rn_snapshot **out, char *err, size_t errlen)
{
    char derr[256];
    unsigned char *buf = NULL;
    struct stat st;
    size_t len = 0;
    int fd, rc;

    assert(path != NULL && out != NULL);
    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return file_error(err, errlen, path, "cannot open", errno);
    if (fstat(fd, &st) != 0) {
        rc = file_error(err, errlen, path, "cannot stat", errno);
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: not a regular file", path);
        rc = RN_EINVAL;
        goto out_close;
    }
    if ((uint64_t)st.st_size > RN_DUMP_MAX_FILE) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: %jd bytes is larger than a dump may be (%zu)", path,
                     (intmax_t)st.st_size, RN_DUMP_MAX_FILE);
        rc = RN_EFORMAT;
        goto out_close;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = file_error(err, errlen, path, "cannot read", ENOMEM);
        goto out_close;
    }
    /* Read to end of file, not to st_size: the file may change. */
    while (len <= (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = file_error(err, errlen, path, "cannot read", errno);
            goto out_free;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > (size_t)st.st_size) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: the file grew while it was read", path);
        rc = RN_EIO;
        goto out_free;
    }
    rc = rn_dump_decode(buf, len, out, derr, sizeof(derr));
    if (rc != 0 && err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: %s", path, derr);

out_free:
    free(buf);
out_close:
    close(fd);
    return rc;
}

int rn_dump_write(const struct rn_snapshot *s, const char *path, char *err, size_t errlen)
{
    static unsigned counter;
    char *tmp = NULL, *dircopy = NULL;
    void *buf = NULL;
    size_t len = 0, off = 0, tlen;
    int fd = -1, rc, e, attempt;

    assert(s != NULL && path != NULL);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    rc = rn_dump_encode(s, &buf, &len);
    if (rc != 0) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: cannot encode the snapshot: %s", path, rn_strerror(rc));
        return rc;
    }
    tlen = strlen(path) + 48;
    tmp = malloc(tlen);
    if (tmp == NULL) {
        rc = file_error(err, errlen, path, "cannot write", ENOMEM);
        goto out_free;
    }
    /* A name of our own beside the target, so the rename stays on one
     * file system and never replaces anyone else's file. */
    for (attempt = 0; attempt < 16; attempt++) {
        snprintf(tmp, tlen, "%s.tmp.%ld.%u", path, (long)getpid(),
                 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        rc = file_error(err, errlen, tmp, "cannot create", errno);
        goto out_free;
    }
    while (off < len) {
        ssize_t n = write(fd, (const char *)buf + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = file_error(err, errlen, tmp, "cannot write", errno);
            goto out_unlink;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        rc = file_error(err, errlen, tmp, "cannot flush", errno);
        goto out_unlink;
    }
    e = close(fd);
    fd = -1;
    if (e != 0) {
        rc = file_error(err, errlen, tmp, "cannot close", errno);
        goto out_unlink;
    }
    if (rename(tmp, path) != 0) {
        rc = file_error(err, errlen, path, "cannot rename the temporary file into place", errno);
        goto out_unlink;
    }
    /* Make the rename itself durable; a failure here loses nothing
     * already written, so it is not reported. */
    dircopy = strdup(path);
    if (dircopy != NULL) {
        int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    rc = 0;
    goto out_free;

out_unlink:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out_free:
    free(dircopy);
    free(tmp);
    free(buf);
    return rc;
}
