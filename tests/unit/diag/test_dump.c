/*
 * Dump files (dump.c, docs/dump-format.md): a snapshot survives encoding,
 * decoding and the disk byte for byte as far as anyone reading its chains
 * can tell; and the decoder rejects truncated, corrupted, hostile and
 * foreign input with one line naming the offset and what was wrong, never
 * crashing.  Dumps with defects are written here by a small encoder that
 * follows the format document, independent of dump.c.
 *
 * Run as `test_dump --write-seeds DIR`, the program writes the fuzz seed
 * corpus (and the dump the CLI test analyzes) into DIR instead.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "diag/diag_priv.h"
#include "helper_case.h"
#include "refnet/error.h"

/* ---- Helpers ------------------------------------------------------------- */

/* Everything a reader can see of a snapshot: all its chains, then every
 * object, then the header fields, as text. */
static char *render_all(const struct rn_snapshot *s)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;
    uint32_t i;

    rn_strbuf_printf(&sb, "now %llu threshold %llu misuse", (unsigned long long)s->s_now,
                     (unsigned long long)s->s_threshold);
    for (i = 0; i < RN_MISUSE_COUNT_; i++)
        rn_strbuf_printf(&sb, " %llu", (unsigned long long)s->s_misuse[i]);
    rn_strbuf_puts(&sb, "\n");
    assert_true(rn_diag_render_chains(s, 0, &sb) >= 0);
    for (i = 0; i < s->s_nobjects; i++) {
        rn_diag_render_object(s, &s->s_objects[i], 2, &sb);
        rn_strbuf_printf(&sb, "created %llu\n", (unsigned long long)s->s_objects[i].so_created);
    }
    assert_false(sb.sb_oom);
    return rn_strbuf_detach(&sb);
}

static void encode(const struct rn_snapshot *s, unsigned char **buf, size_t *len)
{
    void *p;

    assert_int_equal(rn_dump_encode(s, &p, len), 0);
    *buf = p;
}

/* Decodes and expects a defect; returns the error line (static). */
static const char *decode_err(const void *buf, size_t len, int want)
{
    static char err[256];
    struct rn_snapshot *s = (void *)1;

    assert_int_equal(rn_dump_decode(buf, len, &s, err, sizeof(err)), want);
    assert_null(s);
    assert_non_null(strstr(err, "offset "));
    assert_null(strchr(err, '\n'));
    return err;
}

/* ---- A small encoder written from docs/dump-format.md -------------------- */

struct tb {
    unsigned char b[8192];
    size_t n;
};

static void tb_le(struct tb *t, uint64_t v, int n)
{
    int i;

    assert_true(t->n + (size_t)n <= sizeof(t->b));
    for (i = 0; i < n; i++)
        t->b[t->n++] = (unsigned char)(v >> (8 * i));
}

static void tb_str(struct tb *t, const char *s)
{
    size_t n = strlen(s);

    tb_le(t, n, 2);
    assert_true(t->n + n <= sizeof(t->b));
    memcpy(t->b + t->n, s, n);
    t->n += n;
}

static void tb_patch(struct tb *t, size_t at, uint64_t v, int n)
{
    int i;

    for (i = 0; i < n; i++)
        t->b[at + (size_t)i] = (unsigned char)(v >> (8 * i));
}

/* Opens a section; returns where its payload starts. */
static size_t tb_sec(struct tb *t, const char *fourcc)
{
    tb_le(t, (uint32_t)fourcc[0] | (uint32_t)fourcc[1] << 8 | (uint32_t)fourcc[2] << 16 |
                 (uint32_t)fourcc[3] << 24, 4);
    tb_le(t, 0, 4);
    tb_le(t, 0, 4);
    return t->n;
}

static void tb_sec_end(struct tb *t, size_t start)
{
    tb_patch(t, start - 8, t->n - start, 4);
    tb_patch(t, start - 4, rn__crc32(0, t->b + start, t->n - start), 4);
}

static void tb_header(struct tb *t, unsigned major, unsigned minor)
{
    t->n = 0;
    memcpy(t->b, "RNDUMP\r\n", 8);
    t->n = 8;
    tb_le(t, major, 2);
    tb_le(t, minor, 2);
    tb_le(t, 0, 4);
    tb_le(t, 0, 8);
    tb_le(t, 0, 4);
}

static void tb_finish(struct tb *t)
{
    tb_patch(t, 16, t->n, 8);
    tb_patch(t, 24, rn__crc32(0, t->b, 24), 4);
}

/* Header, META, STAK with one stack of one frame; opens OBJS with nobjects
 * objects and returns the payload start. */
static size_t tb_begin_objects(struct tb *t, uint32_t nobjects)
{
    size_t sec;

    tb_header(t, 1, 0);
    sec = tb_sec(t, "META");
    tb_le(t, CASE_NOW, 8);
    tb_le(t, RN_SEC(10), 8);
    tb_le(t, 0, 4);
    tb_sec_end(t, sec);
    sec = tb_sec(t, "STAK");
    tb_le(t, 1, 4);
    tb_le(t, 1, 4);
    tb_str(t, "f+0x1");
    tb_sec_end(t, sec);
    sec = tb_sec(t, "OBJS");
    tb_le(t, nobjects, 4);
    return sec;
}

static void tb_end_objects(struct tb *t, size_t sec)
{
    tb_sec_end(t, sec);
    sec = tb_sec(t, "WAIT");
    tb_le(t, 0, 4);
    tb_sec_end(t, sec);
    sec = tb_sec(t, "END ");
    tb_sec_end(t, sec);
    tb_finish(t);
}

/* Begins an object record up to and including its description. */
static size_t tb_object(struct tb *t, uint64_t id, unsigned state, uint32_t refs)
{
    size_t rec = t->n;

    tb_le(t, 0, 4);
    tb_le(t, id, 8);
    tb_le(t, state, 2);
    tb_le(t, 1, 2); /* traced */
    tb_le(t, refs, 4);
    tb_le(t, 0, 8);
    tb_le(t, 0, 8);
    tb_str(t, "thing");
    tb_str(t, "thing one");
    return rec;
}

static void tb_tag(struct tb *t, const char *tag, uint32_t count)
{
    tb_str(t, tag);
    tb_le(t, count, 4);
    tb_le(t, CASE_NOW - RN_SEC(20), 8);
    tb_str(t, "");
}

static void tb_object_end(struct tb *t, size_t rec)
{
    tb_patch(t, rec, t->n - rec - 4, 4);
}

/* ---- Tests ---------------------------------------------------------------- */

static void test_crc32(void **state)
{
    (void)state;
    /* The check value of CRC-32/ISO-HDLC, zlib's crc32(). */
    assert_int_equal(rn__crc32(0, "123456789", 9), 0xcbf43926u);
    assert_int_equal(rn__crc32(rn__crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
    assert_int_equal(rn__crc32(0, "", 0), 0);
}

static void round_trip(struct rn_snapshot *s)
{
    struct rn_snapshot *d = NULL;
    unsigned char *buf, *buf2;
    size_t len, len2;
    char err[256], *a, *b;

    encode(s, &buf, &len);
    assert_int_equal(rn_dump_decode(buf, len, &d, err, sizeof(err)), 0);
    a = render_all(s);
    b = render_all(d);
    assert_string_equal(a, b);
    /* And the decoded snapshot encodes to the same bytes. */
    encode(d, &buf2, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    free(a);
    free(b);
    free(buf);
    free(buf2);
    rn_snapshot_free(d);
    rn_snapshot_free(s);
}

static void test_round_trip_case(void **state)
{
    (void)state;
    round_trip(case_apache());
}

static void test_round_trip_rich(void **state)
{
    (void)state;
    round_trip(case_rich());
}

static void test_round_trip_empty(void **state)
{
    struct rn_snapshot *s = rn_snapshot_new();

    (void)state;
    assert_non_null(s);
    rn_snapshot_finish(s);
    round_trip(s);
}

static void test_long_strings_are_cut_at_a_character(void **state)
{
    struct rn_snapshot *s = rn_snapshot_new(), *d = NULL;
    char desc[3001], err[256];
    unsigned char *buf;
    size_t len, n;
    int i;

    (void)state;
    assert_non_null(s);
    /* 1000 three-byte characters: 1024 falls inside one. */
    for (i = 0; i < 1000; i++)
        memcpy(desc + 3 * i, "\xe2\x94\x80", 3);
    desc[3000] = '\0';
    case_add_object(s, 1, "thing", desc, RN_OB_LIVE, 0, 0);
    rn_snapshot_finish(s);
    encode(s, &buf, &len);
    assert_int_equal(rn_dump_decode(buf, len, &d, err, sizeof(err)), 0);
    n = strlen(d->s_objects[0].so_desc);
    assert_int_equal(n, 1023);
    assert_memory_equal(d->s_objects[0].so_desc, desc, n);
    free(buf);
    rn_snapshot_free(d);
    rn_snapshot_free(s);
}

static void test_encode_refuses_broken_snapshots(void **state)
{
    struct rn_snapshot *s;
    struct rn_snap_object *o;
    void *buf;
    size_t len;

    (void)state;
    s = case_apache();
    s->s_objects[0].so_refs++;
    assert_int_equal(rn_dump_encode(s, &buf, &len), RN_EINVAL);
    rn_snapshot_free(s);

    s = case_apache();
    s->s_objects[1].so_id = s->s_objects[0].so_id;
    assert_int_equal(rn_dump_encode(s, &buf, &len), RN_EINVAL);
    rn_snapshot_free(s);

    s = case_apache();
    o = (struct rn_snap_object *)rn_snapshot_find(s, CASE_LISTENER);
    o->so_holds[0].sh_stack = 7;
    assert_int_equal(rn_dump_encode(s, &buf, &len), RN_EINVAL);
    rn_snapshot_free(s);
}

static void test_write_and_read_file(void **state)
{
    char dir[] = "/tmp/refnet-test-dump-XXXXXX", path[128], err[512], *a, *b;
    struct rn_snapshot *s = case_rich(), *d = NULL;
    struct dirent *de;
    DIR *dp;
    int files = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/rich.rndump", dir);
    assert_int_equal(rn_dump_write(s, path, err, sizeof(err)), 0);
    /* Again over the first: the rename replaces it. */
    assert_int_equal(rn_dump_write(s, path, err, sizeof(err)), 0);
    assert_int_equal(rn_dump_read(path, &d, err, sizeof(err)), 0);
    a = render_all(s);
    b = render_all(d);
    assert_string_equal(a, b);
    free(a);
    free(b);
    rn_snapshot_free(d);
    /* No temporary file is left beside it. */
    dp = opendir(dir);
    assert_non_null(dp);
    while ((de = readdir(dp)) != NULL)
        if (de->d_name[0] != '.')
            files++;
    closedir(dp);
    assert_int_equal(files, 1);

    /* Errors name the file. */
    snprintf(path, sizeof(path), "%s/no/such/dir/x.rndump", dir);
    assert_int_equal(rn_dump_write(s, path, err, sizeof(err)), RN_ENOENT);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file or directory"));
    assert_int_equal(rn_dump_read(path, &d, err, sizeof(err)), RN_ENOENT);
    assert_null(d);
    assert_true(strncmp(err, path, strlen(path)) == 0);
    assert_non_null(strstr(err, "cannot open"));
    /* A file that is not a dump: the path, then the offset. */
    snprintf(path, sizeof(path), "%s/rich.rndump", dir);
    {
        FILE *f = fopen(path, "wb");

        assert_non_null(f);
        fputs("hello, world\n", f);
        fclose(f);
    }
    assert_int_equal(rn_dump_read(path, &d, err, sizeof(err)), RN_EFORMAT);
    assert_null(d);
    assert_true(strncmp(err, path, strlen(path)) == 0);
    assert_non_null(strstr(err, ": offset 0: header: not a refnet dump"));
    unlink(path);
    rmdir(dir);
    rn_snapshot_free(s);
}

static void test_truncation_at_every_offset(void **state)
{
    struct rn_snapshot *s = case_rich();
    unsigned char *buf, *cut;
    size_t len, n;

    (void)state;
    encode(s, &buf, &len);
    for (n = 0; n < len; n++) {
        /* A copy of exactly n bytes, so ASan sees any read past it. */
        cut = malloc(n + 1);
        assert_non_null(cut);
        memcpy(cut, buf, n);
        decode_err(cut, n, RN_EFORMAT);
        free(cut);
    }
    assert_non_null(strstr(decode_err(buf, len - 1, RN_EFORMAT), ": truncated"));
    free(buf);
    rn_snapshot_free(s);
}

static void test_every_corrupted_byte_is_caught(void **state)
{
    static const unsigned char flips[] = {0x01, 0x10, 0x80, 0xff};
    struct rn_snapshot *s = case_rich();
    unsigned char *buf;
    size_t len, i, f;
    unsigned rejected = 0;

    (void)state;
    encode(s, &buf, &len);
    for (i = 0; i < len; i++) {
        for (f = 0; f < sizeof(flips); f++) {
            buf[i] ^= flips[f];
            decode_err(buf, len, i >= 8 && i < 10 ? RN_ENOTSUP : RN_EFORMAT);
            rejected++;
            buf[i] ^= flips[f];
        }
    }
    assert_int_equal(rejected, len * sizeof(flips));
    free(buf);
    rn_snapshot_free(s);
}

static void test_version(void **state)
{
    struct rn_snapshot *d = NULL;
    struct tb t;
    size_t sec;
    char err[256];

    (void)state;
    tb_header(&t, 2, 0);
    tb_finish(&t);
    assert_string_equal(decode_err(t.b, t.n, RN_ENOTSUP),
                        "offset 8: header: dump format version 2.0 is not supported: this refnet "
                        "reads 1.x");

    /* A later minor version may add sections and fields: they are read
     * past. */
    tb_header(&t, 1, 7);
    sec = tb_sec(&t, "META");
    tb_le(&t, CASE_NOW, 8);
    tb_le(&t, 0, 8);
    tb_le(&t, 0, 4);
    tb_le(&t, 0xabcdef, 8); /* a new field */
    tb_sec_end(&t, sec);
    sec = tb_sec(&t, "XTRA");
    tb_str(&t, "something new");
    tb_sec_end(&t, sec);
    sec = tb_sec(&t, "STAK");
    tb_le(&t, 0, 4);
    tb_sec_end(&t, sec);
    sec = tb_sec(&t, "OBJS");
    tb_le(&t, 0, 4);
    tb_sec_end(&t, sec);
    sec = tb_sec(&t, "WAIT");
    tb_le(&t, 0, 4);
    tb_sec_end(&t, sec);
    sec = tb_sec(&t, "END ");
    tb_sec_end(&t, sec);
    tb_finish(&t);
    assert_int_equal(rn_dump_decode(t.b, t.n, &d, err, sizeof(err)), 0);
    assert_int_equal(d->s_now, CASE_NOW);
    rn_snapshot_free(d);

    /* The same from a 1.0 writer is a defect. */
    tb_patch(&t, 10, 0, 2);
    tb_patch(&t, 24, rn__crc32(0, t.b, 24), 4);
    assert_string_equal(decode_err(t.b, t.n, RN_EFORMAT),
                        "offset 60: section META: 8 unexpected bytes at the end of the section");
}

static void test_hostile_counts(void **state)
{
    struct tb t;
    size_t sec, rec, at;
    char want[160];

    (void)state;
    /* An object count of four billion in a file of a hundred bytes. */
    sec = tb_begin_objects(&t, 0xfffffff0u);
    at = sec;
    tb_end_objects(&t, sec);
    snprintf(want, sizeof(want),
             "offset %zu: section OBJS: object count 4294967280 exceeds remaining 0 bytes", at);
    assert_string_equal(decode_err(t.b, t.n, RN_EFORMAT), want);

    /* The example of the format document: a ledger claiming 5 tags with 3
     * bytes left in its record. */
    sec = tb_begin_objects(&t, 1);
    rec = tb_object(&t, 17, 0, 5);
    at = t.n;
    tb_le(&t, 5, 4);
    tb_le(&t, 0, 3);
    tb_object_end(&t, rec);
    tb_end_objects(&t, sec);
    snprintf(want, sizeof(want),
             "offset %zu: ledger of object #17: tag count 5 exceeds remaining 3 bytes", at);
    assert_string_equal(decode_err(t.b, t.n, RN_EFORMAT), want);

    /* A string longer than what is left. */
    sec = tb_begin_objects(&t, 1);
    rec = tb_object(&t, 17, 0, 1);
    tb_le(&t, 1, 4);
    at = t.n;
    tb_le(&t, 60, 2);
    tb_le(&t, 0, 8);
    tb_le(&t, 0, 8);
    tb_le(&t, 0, 2);
    tb_object_end(&t, rec);
    tb_end_objects(&t, sec);
    snprintf(want, sizeof(want),
             "offset %zu: ledger of object #17: tag name length 60 exceeds remaining 18 bytes", at);
    assert_string_equal(decode_err(t.b, t.n, RN_EFORMAT), want);

    /* Stack count and frame count past what remains. */
    tb_header(&t, 1, 0);
    sec = tb_sec(&t, "META");
    tb_le(&t, 0, 8);
    tb_le(&t, 0, 8);
    tb_le(&t, 0, 4);
    tb_sec_end(&t, sec);
    sec = tb_sec(&t, "STAK");
    tb_le(&t, 1, 4);
    tb_le(&t, 200, 4);
    tb_le(&t, 0, 2);
    tb_sec_end(&t, sec);
    tb_finish(&t);
    assert_non_null(strstr(decode_err(t.b, t.n, RN_EFORMAT),
                           "stack 0: frame count 200 exceeds remaining 2 bytes"));
}

/* One object with the given ledger; the rest of the dump valid. */
static const char *one_object(uint64_t id, unsigned state, uint32_t refs, int ntags,
                              const char *tag1, uint32_t count1, const char *tag2,
                              uint32_t count2, int nholds, const char *htag, uint32_t hstack,
                              uint32_t hcount)
{
    struct tb t;
    size_t sec, rec;

    sec = tb_begin_objects(&t, 1);
    rec = tb_object(&t, id, state, refs);
    tb_le(&t, (uint32_t)ntags, 4);
    if (ntags > 0)
        tb_tag(&t, tag1, count1);
    if (ntags > 1)
        tb_tag(&t, tag2, count2);
    tb_le(&t, (uint32_t)nholds, 4);
    if (nholds > 0) {
        tb_str(&t, htag);
        tb_le(&t, hstack, 4);
        tb_le(&t, hcount, 4);
        tb_le(&t, CASE_NOW, 8);
    }
    tb_le(&t, 0, 4);
    tb_object_end(&t, rec);
    tb_end_objects(&t, sec);
    return decode_err(t.b, t.n, RN_EFORMAT);
}

static void test_checked_invariants(void **state)
{
    (void)state;
    assert_non_null(strstr(one_object(17, 0, 3, 2, "enum", 1, "handle", 1, 0, NULL, 0, 0),
                           "ledger of object #17: refs 3 but the tag counts add up to 2"));
    assert_non_null(strstr(one_object(17, 0, 2, 2, "enum", 1, "enum", 1, 0, NULL, 0, 0),
                           "ledger of object #17: tag 'enum' is listed twice"));
    assert_non_null(strstr(one_object(17, 0, 1, 1, "enum", 1, NULL, 0, 1, "enum", 1, 1),
                           "holds of object #17: hold 0: stack index 1 is out of range (the dump "
                           "has 1 stacks)"));
    assert_non_null(strstr(one_object(17, 0, 1, 1, "enum", 1, NULL, 0, 1, "handle", 0, 1),
                           "holds of object #17: hold 0 names tag 'handle', which the ledger does "
                           "not list"));
    assert_non_null(strstr(one_object(17, 0, 1, 1, "enum", 1, NULL, 0, 1, "enum", 0, 2),
                           "holds of tag 'enum' add up to 2, more than its count 1"));
    assert_non_null(strstr(one_object(17, 5, 1, 1, "enum", 1, NULL, 0, 0, NULL, 0, 0),
                           "object #17: state 5 is neither live (0) nor dying (1)"));
    assert_non_null(strstr(one_object(17, 0, 1, 1, "", 1, NULL, 0, 0, NULL, 0, 0),
                           "tag 0 has an empty name"));
    assert_non_null(strstr(one_object(17, 0, 0, 1, "enum", 0, NULL, 0, 0, NULL, 0, 0),
                           "tag 'enum' holds 0 references"));
    assert_non_null(strstr(one_object(17, 0, 1, 1, "en\x1b[1mum", 1, NULL, 0, 1, "x", 0, 1),
                           "names tag 'x'"));
    assert_non_null(strstr(one_object(17, 0, 1, 1, "a\x01", 1, NULL, 0, 1, "b\x1b", 0, 1),
                           "names tag 'b\\x1b'"));
}

static void test_structure_errors(void **state)
{
    struct tb t;
    size_t sec, rec;

    (void)state;
    /* Ids must increase. */
    sec = tb_begin_objects(&t, 2);
    rec = tb_object(&t, 9, 0, 0);
    tb_le(&t, 0, 4);
    tb_le(&t, 0, 4);
    tb_le(&t, 0, 4);
    tb_object_end(&t, rec);
    rec = tb_object(&t, 9, 0, 0);
    tb_le(&t, 0, 4);
    tb_le(&t, 0, 4);
    tb_le(&t, 0, 4);
    tb_object_end(&t, rec);
    tb_end_objects(&t, sec);
    assert_non_null(strstr(decode_err(t.b, t.n, RN_EFORMAT),
                           "object 1: id 9 does not follow 9: ids must increase"));

    /* A NUL inside a string. */
    sec = tb_begin_objects(&t, 1);
    rec = tb_object(&t, 9, 0, 0);
    t.b[t.n - 3] = '\0'; /* inside "thing one" */
    tb_le(&t, 0, 4);
    tb_le(&t, 0, 4);
    tb_le(&t, 0, 4);
    tb_object_end(&t, rec);
    tb_end_objects(&t, sec);
    assert_non_null(strstr(decode_err(t.b, t.n, RN_EFORMAT),
                           "object #9: description contains a NUL byte"));

    /* A record with bytes its version does not define. */
    sec = tb_begin_objects(&t, 1);
    rec = tb_object(&t, 9, 0, 0);
    tb_le(&t, 0, 4);
    tb_le(&t, 0, 4);
    tb_le(&t, 0, 4);
    tb_le(&t, 0, 2);
    tb_object_end(&t, rec);
    tb_end_objects(&t, sec);
    assert_non_null(strstr(decode_err(t.b, t.n, RN_EFORMAT),
                           "object #9: 2 unexpected bytes at the end of the record"));

    /* Sections out of order, missing END, data after END. */
    tb_header(&t, 1, 0);
    sec = tb_sec(&t, "STAK");
    tb_le(&t, 0, 4);
    tb_sec_end(&t, sec);
    tb_finish(&t);
    assert_string_equal(decode_err(t.b, t.n, RN_EFORMAT),
                        "offset 28: section STAK: out of order: section META expected here");

    sec = tb_begin_objects(&t, 0);
    tb_sec_end(&t, sec);
    tb_finish(&t);
    assert_non_null(strstr(decode_err(t.b, t.n, RN_EFORMAT),
                           "section header: the dump ends without its END section"));

    sec = tb_begin_objects(&t, 0);
    tb_end_objects(&t, sec);
    sec = tb_sec(&t, "META");
    tb_sec_end(&t, sec);
    tb_finish(&t);
    assert_non_null(strstr(decode_err(t.b, t.n, RN_EFORMAT), "data follows the END section"));

    /* Bytes after the length the header declares. */
    sec = tb_begin_objects(&t, 0);
    tb_end_objects(&t, sec);
    t.b[t.n++] = 0;
    assert_non_null(strstr(decode_err(t.b, t.n, RN_EFORMAT), "1 bytes follow the end of the dump"));
}

/* ---- Seeds ------------------------------------------------------------------ */

static int write_file(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static int write_seeds(const char *dir)
{
    struct {
        const char *name;
        struct rn_snapshot *s;
    } seeds[] = {
        {"case.rndump", case_apache()},
        {"rich.rndump", case_rich()},
        {"empty.rndump", rn_snapshot_new()},
    };
    int rc = 0;
    size_t i;

    rn_snapshot_finish(seeds[2].s);
    for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        void *buf;
        size_t len;
        char name[64];

        if (rn_dump_encode(seeds[i].s, &buf, &len) != 0)
            return 1;
        rc |= write_file(dir, seeds[i].name, buf, len);
        if (i < 2) {
            /* Truncated in the middle of the objects and at the END. */
            snprintf(name, sizeof(name), "trunc-half-%s", seeds[i].name);
            rc |= write_file(dir, name, buf, len / 2);
            snprintf(name, sizeof(name), "trunc-end-%s", seeds[i].name);
            rc |= write_file(dir, name, buf, len - 6);
        }
        free(buf);
        rn_snapshot_free(seeds[i].s);
    }
    return rc;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_round_trip_case),
        cmocka_unit_test(test_round_trip_rich),
        cmocka_unit_test(test_round_trip_empty),
        cmocka_unit_test(test_long_strings_are_cut_at_a_character),
        cmocka_unit_test(test_encode_refuses_broken_snapshots),
        cmocka_unit_test(test_write_and_read_file),
        cmocka_unit_test(test_truncation_at_every_offset),
        cmocka_unit_test(test_every_corrupted_byte_is_caught),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_hostile_counts),
        cmocka_unit_test(test_checked_invariants),
        cmocka_unit_test(test_structure_errors),
    };

    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
