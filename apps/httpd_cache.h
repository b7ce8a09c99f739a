/*
 * The web server's cache of open files (httpd.c): what a path beneath the
 * document root opened to, kept open so that a keep-alive request for a
 * file already served costs no open, fstat, read or close.  Internal to
 * apps/.
 *
 * An entry is the open file, its size, identity (device and inode) and
 * last change (mtime, ctime), and, for a small file, its bytes.  An entry
 * is trusted for hc_valid after it was opened or last checked; after
 * that, the next request for it opens the path again (rn__httpd_fs_open(),
 * with the same guards) and compares: a file replaced (another inode),
 * rewritten or resized (size, mtime or ctime changed) drops the entry and
 * the new open takes its place.  hc_valid 0 checks on every request.
 *
 * The cache is bounded in entries and in cached bytes; when full, the
 * least recently used entry no response is using goes.  An entry in use
 * by a response (rn__httpd_cache_get() .. rn__httpd_cache_put()) is never
 * closed under it: one dropped meanwhile is only unlinked, and closed at
 * its last put.
 *
 * Thread safety: none; one cache belongs to one server on its loop.
 */
#ifndef REFNET_APPS_HTTPD_CACHE_H
#define REFNET_APPS_HTTPD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apps/http.h"
#include "apps/httpd_fs.h"

#define HTTPD_CACHE_ENTRIES_DEFAULT 256u
#define HTTPD_CACHE_ENTRIES_MAX 65536u
#define HTTPD_CACHE_BYTES_DEFAULT (8u << 20)  /* small files' bytes, in all */
#define HTTPD_CACHE_BODY_MAX 65536u           /* larger files are read per piece */

/* One open file. */
struct httpd_centry {
    struct httpd_centry *ce_next;  /* on the LRU list (most recent first) */
    struct httpd_centry *ce_prev;
    struct httpd_centry *ce_hnext; /* in its hash bucket */
    uint32_t ce_hash;              /* of ce_path and ce_dir */
    struct httpd_file ce_file;     /* the open file: fd, size, identity */
    uint8_t *ce_body;              /* its bytes if it is small, else NULL */
    uint64_t ce_checked;           /* when opened or last checked (the cache's clock) */
    uint32_t ce_users;             /* responses using it (get .. put) */
    bool ce_linked;                /* in the cache; false: dropped, freed at the last put */
    bool ce_dir;                   /* looked up with a trailing "/" */
    char ce_path[];                /* the normalised path it was looked up by */
};

struct httpd_cache_stats {
    uint64_t cs_hits;            /* served from an entry trusted or checked unchanged */
    uint64_t cs_misses;          /* paths opened afresh */
    uint64_t cs_checks;          /* entries checked again against the path */
    uint64_t cs_changed;         /* entries dropped because the file had changed */
    uint64_t cs_evicted;         /* entries dropped to make room */
};

struct httpd_cache {
    int hc_root;                   /* the document root (borrowed) */
    uint64_t hc_valid;             /* how long an entry is trusted unchecked */
    uint32_t hc_max;               /* entries at most; 0: cache nothing */
    uint64_t hc_max_bytes;         /* small files' bytes at most */
    uint32_t hc_n;                 /* entries linked */
    uint64_t hc_bytes;             /* bytes in the linked entries' ce_body */
    struct httpd_centry *hc_head;  /* most recently used */
    struct httpd_centry *hc_tail;  /* least */
    struct httpd_centry **hc_buckets; /* hash buckets, hc_nbuckets (a power of two) */
    uint32_t hc_nbuckets;
    bool hc_refused;               /* the last get's 404 was a refused path */
    struct httpd_cache_stats hc_stats;
};

/* Sets up an empty cache over root (borrowed).  max entries, max_bytes of
 * small files' bytes, valid: how long an entry is trusted unchecked.
 * Returns 0, or -1 if memory ran out. */
int rn__httpd_cache_init(struct httpd_cache *c, int root, uint32_t max, uint64_t max_bytes,
                          uint64_t valid);

/* Looks rel up (normalised, as rn__httpd_fs_open() takes it) at time now.
 * Returns 0 and *out, an entry the caller uses until rn__httpd_cache_put(),
 * or the HTTP status rn__httpd_fs_open() answers (nothing to put; for a
 * 404, hc_refused says whether the path itself was refused). */
int rn__httpd_cache_get(struct httpd_cache *c, const char *rel, bool want_dir, uint64_t now,
                        struct httpd_centry **out);

/* Ends a use of e.  Closes it if it was dropped meanwhile. */
void rn__httpd_cache_put(struct httpd_cache *c, struct httpd_centry *e);

/* Drops e from the cache (its file did not give what it promised): the
 * next request opens the path again.  e stays usable until its put. */
void rn__httpd_cache_drop(struct httpd_cache *c, struct httpd_centry *e);

/* Drops every entry no response is using (memory goes back). */
void rn__httpd_cache_trim(struct httpd_cache *c);

/* Closes everything; no entry may be in use. */
void rn__httpd_cache_fini(struct httpd_cache *c);

#endif /* REFNET_APPS_HTTPD_CACHE_H */
