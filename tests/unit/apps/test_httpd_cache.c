/*
 * The web server's cache of open files (apps/httpd_cache.c), on a
 * temporary directory with the clock handed in: a second request for a
 * file opens nothing; a file rewritten, resized, replaced or removed is
 * seen once the entry's trust runs out, and not before; an entry dropped
 * while a response uses it stays readable until the response ends; the
 * bounds on entries and on cached bytes hold; every descriptor goes back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../../apps/httpd_cache.h"
#include "helper_client.h"

#define VALID 1000u  /* the cache's clock: any unit, the test's own */

static char root[64];
static int root_fd = -1;
static unsigned base_fds;

static void put_file(const char *name, const char *text, long mtime_sec)
{
    char path[160];
    struct timespec ts[2];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", root, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    /* Explicit times: a rewrite within one clock tick of the filesystem
     * must still look changed. */
    ts[0].tv_sec = ts[1].tv_sec = mtime_sec;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    assert_int_equal(futimens(fd, ts), 0);
    close(fd);
}

static void remove_file(const char *name)
{
    char path[160];

    snprintf(path, sizeof(path), "%s/%s", root, name);
    unlink(path);
}

static int setup(void **state)
{
    (void)state;
    base_fds = count_fds();
    strcpy(root, "/tmp/refnet-hcache-XXXXXX");
    assert_non_null(mkdtemp(root));
    root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(root_fd >= 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove_file("a.txt");
    remove_file("b.txt");
    remove_file("c.txt");
    remove_file("big.bin");
    remove_file("a.tmp");
    close(root_fd);
    rmdir(root);
    assert_int_equal(count_fds(), base_fds);
    return 0;
}

/* The body an entry serves: its cached bytes, else read from its fd. */
static void body_of(const struct httpd_centry *e, char *out, size_t len)
{
    ssize_t n;

    assert_true(e->ce_file.hf_size < len);
    if (e->ce_body != NULL) {
        memcpy(out, e->ce_body, e->ce_file.hf_size);
        n = (ssize_t)e->ce_file.hf_size;
    } else {
        n = pread(e->ce_file.hf_fd, out, len - 1, 0);
    }
    assert_true(n >= 0);
    out[n] = '\0';
}

static void get_text(struct httpd_cache *c, const char *rel, uint64_t now, const char *want)
{
    struct httpd_centry *e = NULL;
    char buf[256];

    assert_int_equal(rn__httpd_cache_get(c, rel, false, now, &e), 0);
    body_of(e, buf, sizeof(buf));
    assert_string_equal(buf, want);
    rn__httpd_cache_put(c, e);
}

static void test_hit_opens_nothing(void **state)
{
    struct httpd_cache c;
    struct httpd_centry *e1, *e2;
    unsigned fds;

    (void)state;
    put_file("a.txt", "hello\n", 1000);
    assert_int_equal(rn__httpd_cache_init(&c, root_fd, 16, 1 << 20, VALID), 0);
    assert_int_equal(rn__httpd_cache_get(&c, "a.txt", false, 10, &e1), 0);
    assert_int_equal(c.hc_stats.cs_misses, 1);
    assert_non_null(e1->ce_body);
    assert_int_equal(e1->ce_file.hf_size, 6);
    fds = count_fds();
    assert_int_equal(rn__httpd_cache_get(&c, "a.txt", false, 20, &e2), 0);
    /* The same entry, the same open file, nothing opened. */
    assert_ptr_equal(e1, e2);
    assert_int_equal(count_fds(), fds);
    assert_int_equal(c.hc_stats.cs_hits, 1);
    assert_int_equal(e1->ce_users, 2);
    rn__httpd_cache_put(&c, e1);
    rn__httpd_cache_put(&c, e2);
    /* A trailing "/" is another lookup (it names a directory). */
    assert_int_equal(rn__httpd_cache_get(&c, "a.txt", true, 30, &e1), 404);
    assert_int_equal(rn__httpd_cache_get(&c, "missing.txt", false, 30, &e1), 404);
    assert_false(c.hc_refused);
    assert_int_equal(c.hc_n, 1);
    rn__httpd_cache_fini(&c);
    assert_int_equal(count_fds(), base_fds + 1);  /* the root alone */
}

static void test_changes_seen_after_trust(void **state)
{
    struct httpd_cache c;
    struct httpd_centry *e;
    char path[160], tmp[160];

    (void)state;
    put_file("a.txt", "one\n", 1000);
    assert_int_equal(rn__httpd_cache_init(&c, root_fd, 16, 1 << 20, VALID), 0);
    get_text(&c, "a.txt", 0, "one\n");
    /* Rewritten with the same size: trusted until VALID has passed... */
    put_file("a.txt", "two\n", 2000);
    get_text(&c, "a.txt", VALID - 1, "one\n");
    /* ...then checked, found changed (mtime), and served anew. */
    get_text(&c, "a.txt", VALID + 1, "two\n");
    assert_int_equal(c.hc_stats.cs_changed, 1);
    /* Checked and unchanged: the entry stays, trusted again from then. */
    get_text(&c, "a.txt", 3 * VALID, "two\n");
    assert_int_equal(c.hc_stats.cs_checks, 2);
    assert_int_equal(c.hc_stats.cs_changed, 1);
    /* Resized. */
    put_file("a.txt", "three!\n", 2000);
    get_text(&c, "a.txt", 5 * VALID, "three!\n");
    assert_int_equal(c.hc_stats.cs_changed, 2);
    /* Replaced by a rename: another inode, same size and times. */
    put_file("a.tmp", "four!!\n", 2000);
    snprintf(tmp, sizeof(tmp), "%s/a.tmp", root);
    snprintf(path, sizeof(path), "%s/a.txt", root);
    assert_int_equal(rename(tmp, path), 0);
    get_text(&c, "a.txt", 7 * VALID, "four!!\n");
    assert_int_equal(c.hc_stats.cs_changed, 3);
    /* Removed: a 404, and the entry (and its descriptor) gone. */
    remove_file("a.txt");
    assert_int_equal(rn__httpd_cache_get(&c, "a.txt", false, 9 * VALID, &e), 404);
    assert_int_equal(c.hc_n, 0);
    assert_int_equal(count_fds(), base_fds + 1);
    rn__httpd_cache_fini(&c);
}

static void test_dropped_while_in_use(void **state)
{
    struct httpd_cache c;
    struct httpd_centry *old, *cur;
    char buf[64];

    (void)state;
    put_file("a.txt", "first\n", 1000);
    assert_int_equal(rn__httpd_cache_init(&c, root_fd, 16, 1 << 20, VALID), 0);
    assert_int_equal(rn__httpd_cache_get(&c, "a.txt", false, 0, &old), 0);
    put_file("a.txt", "second\n", 2000);
    assert_int_equal(rn__httpd_cache_get(&c, "a.txt", false, 2 * VALID, &cur), 0);
    assert_ptr_not_equal(old, cur);
    assert_false(old->ce_linked);
    /* The response still sending the old file reads what it began with. */
    body_of(old, buf, sizeof(buf));
    assert_string_equal(buf, "first\n");
    body_of(cur, buf, sizeof(buf));
    assert_string_equal(buf, "second\n");
    assert_int_equal(count_fds(), base_fds + 1 + 2);
    rn__httpd_cache_put(&c, old);  /* its last use: closed now */
    assert_int_equal(count_fds(), base_fds + 1 + 1);
    /* A response that found its file short drops the entry. */
    rn__httpd_cache_drop(&c, cur);
    assert_int_equal(c.hc_n, 0);
    body_of(cur, buf, sizeof(buf));
    assert_string_equal(buf, "second\n");
    rn__httpd_cache_put(&c, cur);
    assert_int_equal(count_fds(), base_fds + 1);
    rn__httpd_cache_fini(&c);
}

static void test_bounds(void **state)
{
    struct httpd_cache c;
    struct httpd_centry *a, *e;
    char big[HTTPD_CACHE_BODY_MAX + 2];

    (void)state;
    put_file("a.txt", "aaaa\n", 1000);
    put_file("b.txt", "bbbb\n", 1000);
    put_file("c.txt", "cccc\n", 1000);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    put_file("big.bin", big, 1000);
    /* Two entries, and 8 bytes of small files' bodies. */
    assert_int_equal(rn__httpd_cache_init(&c, root_fd, 2, 8, VALID), 0);
    assert_int_equal(rn__httpd_cache_get(&c, "a.txt", false, 0, &a), 0);
    assert_non_null(a->ce_body);
    get_text(&c, "b.txt", 1, "bbbb\n");
    /* b's bytes would pass the byte bound while a (in use) keeps its
     * own: b is cached without its body, read from its descriptor. */
    assert_int_equal(c.hc_n, 2);
    assert_true(c.hc_bytes <= 8);
    /* A third file: the least recently used entry not in use (b) goes. */
    get_text(&c, "c.txt", 2, "cccc\n");
    assert_int_equal(c.hc_n, 2);
    assert_int_equal(c.hc_stats.cs_evicted, 1);
    assert_true(a->ce_linked);
    rn__httpd_cache_put(&c, a);
    /* A file larger than a cached body is served from its descriptor. */
    assert_int_equal(rn__httpd_cache_get(&c, "big.bin", false, 3, &e), 0);
    assert_null(e->ce_body);
    assert_int_equal(e->ce_file.hf_size, sizeof(big) - 1);
    rn__httpd_cache_put(&c, e);
    assert_int_equal(c.hc_n, 2);
    assert_true(count_fds() <= base_fds + 1 + 2);
    /* Trimmed: everything not in use goes, with its descriptor. */
    rn__httpd_cache_trim(&c);
    assert_int_equal(c.hc_n, 0);
    assert_int_equal(c.hc_bytes, 0);
    assert_int_equal(count_fds(), base_fds + 1);
    /* No entries at all: each get opens, each put closes. */
    rn__httpd_cache_fini(&c);
    assert_int_equal(rn__httpd_cache_init(&c, root_fd, 0, 0, VALID), 0);
    assert_int_equal(rn__httpd_cache_get(&c, "a.txt", false, 0, &e), 0);
    assert_int_equal(count_fds(), base_fds + 1 + 1);
    rn__httpd_cache_put(&c, e);
    assert_int_equal(count_fds(), base_fds + 1);
    rn__httpd_cache_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hit_opens_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_seen_after_trust, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_while_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
