/*
 * The web server's cache of open files (httpd_cache.h).
 *
 * In call order, per request:
 *   rn__httpd_cache_get() -> lookup by hash -> trusted (within hc_valid): hit
 *     -> else check: rn__httpd_fs_open() again, compare identity and change
 *        times -> unchanged: hit, the new open closed; changed: entry_drop()
 *        and the new open becomes an entry (entry_new())
 *   ... the response sends ce_body, or preads ce_file.hf_fd ...
 *   rn__httpd_cache_put() -> entry_free() if it was dropped meanwhile
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps/httpd_cache.h"

static uint32_t path_hash(const char *rel, bool dir)
{
    uint32_t h = 2166136261u;  /* FNV-1a */

    for (; *rel != '\0'; rel++)
        h = (h ^ (uint8_t)*rel) * 16777619u;
    return (h ^ (dir ? 1u : 0u)) * 16777619u;
}

int rn__httpd_cache_init(struct httpd_cache *c, int root, uint32_t max, uint64_t max_bytes,
                         uint64_t valid)
{
    uint32_t nb = 16;

    memset(c, 0, sizeof(*c));
    c->hc_root = root;
    c->hc_max = max;
    c->hc_max_bytes = max_bytes;
    c->hc_valid = valid;
    while (nb < max && nb < (1u << 20))
        nb <<= 1;
    c->hc_buckets = calloc(nb, sizeof(*c->hc_buckets));
    if (c->hc_buckets == NULL)
        return -1;
    c->hc_nbuckets = nb;
    return 0;
}

static void entry_free(struct httpd_centry *e)
{
    if (e->ce_file.hf_fd >= 0)
        close(e->ce_file.hf_fd);
    free(e->ce_body);
    free(e);
}

static void lru_unlink(struct httpd_cache *c, struct httpd_centry *e)
{
    if (e->ce_prev != NULL)
        e->ce_prev->ce_next = e->ce_next;
    else
        c->hc_head = e->ce_next;
    if (e->ce_next != NULL)
        e->ce_next->ce_prev = e->ce_prev;
    else
        c->hc_tail = e->ce_prev;
    e->ce_next = e->ce_prev = NULL;
}

static void lru_push(struct httpd_cache *c, struct httpd_centry *e)
{
    e->ce_prev = NULL;
    e->ce_next = c->hc_head;
    if (c->hc_head != NULL)
        c->hc_head->ce_prev = e;
    else
        c->hc_tail = e;
    c->hc_head = e;
}

/* Takes e out of the cache; it is freed now if unused, else at its last
 * put. */
static void entry_drop(struct httpd_cache *c, struct httpd_centry *e)
{
    struct httpd_centry **pp = &c->hc_buckets[e->ce_hash & (c->hc_nbuckets - 1)];

    if (!e->ce_linked)
        return;
    while (*pp != e)
        pp = &(*pp)->ce_hnext;
    *pp = e->ce_hnext;
    e->ce_hnext = NULL;
    lru_unlink(c, e);
    e->ce_linked = false;
    c->hc_n--;
    if (e->ce_body != NULL)
        c->hc_bytes -= e->ce_file.hf_size;
    if (e->ce_users == 0)
        entry_free(e);
}

static struct httpd_centry *lookup(struct httpd_cache *c, const char *rel, bool dir,
                                   uint32_t hash)
{
    struct httpd_centry *e;

    for (e = c->hc_buckets[hash & (c->hc_nbuckets - 1)]; e != NULL; e = e->ce_hnext) {
        if (e->ce_hash == hash && e->ce_dir == dir && strcmp(e->ce_path, rel) == 0)
            return e;
    }
    return NULL;
}

/* Makes room for one more entry of extra body bytes: drops unused entries
 * from the least recently used end.  Returns false if there is none to
 * drop and still no room. */
static bool make_room(struct httpd_cache *c, uint64_t extra)
{
    struct httpd_centry *e = c->hc_tail, *prev;

    while ((c->hc_n >= c->hc_max || c->hc_bytes + extra > c->hc_max_bytes) && e != NULL) {
        prev = e->ce_prev;
        if (e->ce_users == 0) {
            entry_drop(c, e);
            c->hc_stats.cs_evicted++;
        }
        e = prev;
    }
    return c->hc_n < c->hc_max && c->hc_bytes + extra <= c->hc_max_bytes;
}

/* Reads a small file whole.  Returns its bytes, or NULL (then the file is
 * read per piece, as a large one). */
static uint8_t *read_body(const struct httpd_file *f)
{
    uint8_t *b = malloc(f->hf_size > 0 ? f->hf_size : 1);
    uint64_t got = 0;
    ssize_t n;

    if (b == NULL)
        return NULL;
    while (got < f->hf_size) {
        n = pread(f->hf_fd, b + got, f->hf_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(b);  /* shrank under us: the per-piece path reports it */
            return NULL;
        }
        got += (uint64_t)n;
    }
    return b;
}

/* Makes an entry of a fresh open f, linked into the cache if there is
 * room, else unlinked (freed at its put).  Consumes f.  NULL if memory ran
 * out (f closed). */
static struct httpd_centry *entry_new(struct httpd_cache *c, const char *rel, bool dir,
                                      uint32_t hash, struct httpd_file *f, uint64_t now)
{
    size_t len = strlen(rel);
    struct httpd_centry *e = calloc(1, sizeof(*e) + len + 1);
    bool small = f->hf_size <= HTTPD_CACHE_BODY_MAX;

    if (e == NULL) {
        close(f->hf_fd);
        return NULL;
    }
    memcpy(e->ce_path, rel, len + 1);
    e->ce_file = *f;
    e->ce_hash = hash;
    e->ce_dir = dir;
    e->ce_checked = now;
    if (c->hc_max == 0 || !make_room(c, 0))
        return e;  /* no room: it serves this response only */
    if (small && make_room(c, f->hf_size))
        e->ce_body = read_body(f);
    e->ce_linked = true;
    e->ce_hnext = c->hc_buckets[hash & (c->hc_nbuckets - 1)];
    c->hc_buckets[hash & (c->hc_nbuckets - 1)] = e;
    lru_push(c, e);
    c->hc_n++;
    if (e->ce_body != NULL)
        c->hc_bytes += f->hf_size;
    return e;
}

static bool same_file(const struct httpd_file *a, const struct httpd_file *b)
{
    return a->hf_dev == b->hf_dev && a->hf_ino == b->hf_ino && a->hf_size == b->hf_size &&
           a->hf_mtime == b->hf_mtime && a->hf_ctime == b->hf_ctime &&
           a->hf_index == b->hf_index;
}

int rn__httpd_cache_get(struct httpd_cache *c, const char *rel, bool want_dir, uint64_t now,
                        struct httpd_centry **out)
{
    uint32_t hash = path_hash(rel, want_dir);
    struct httpd_centry *e = lookup(c, rel, want_dir, hash);
    struct httpd_file f;
    int status;

    if (e != NULL && now - e->ce_checked < c->hc_valid && now >= e->ce_checked)
        goto out_hit;
    status = rn__httpd_fs_open(c->hc_root, rel, want_dir, &f);
    if (e != NULL) {
        c->hc_stats.cs_checks++;
        if (status == 0 && same_file(&e->ce_file, &f)) {
            close(f.hf_fd);
            e->ce_checked = now;
            goto out_hit;
        }
        c->hc_stats.cs_changed++;
        entry_drop(c, e);
    }
    if (status != 0) {
        c->hc_refused = f.hf_refused;
        return status;
    }
    c->hc_stats.cs_misses++;
    e = entry_new(c, rel, want_dir, hash, &f, now);
    if (e == NULL)
        return 500;
    e->ce_users++;
    *out = e;
    return 0;

out_hit:
    c->hc_stats.cs_hits++;
    if (c->hc_head != e) {
        lru_unlink(c, e);
        lru_push(c, e);
    }
    e->ce_users++;
    *out = e;
    return 0;
}

void rn__httpd_cache_put(struct httpd_cache *c, struct httpd_centry *e)
{
    (void)c;
    assert(e->ce_users > 0);
    if (--e->ce_users == 0 && !e->ce_linked)
        entry_free(e);
}

void rn__httpd_cache_drop(struct httpd_cache *c, struct httpd_centry *e)
{
    entry_drop(c, e);
}

void rn__httpd_cache_trim(struct httpd_cache *c)
{
    struct httpd_centry *e = c->hc_tail, *prev;

    while (e != NULL) {
        prev = e->ce_prev;
        if (e->ce_users == 0)
            entry_drop(c, e);
        e = prev;
    }
}

void rn__httpd_cache_fini(struct httpd_cache *c)
{
    rn__httpd_cache_trim(c);
    assert(c->hc_n == 0);
    free(c->hc_buckets);
    c->hc_buckets = NULL;
}
