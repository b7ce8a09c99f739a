/*
 * Opening a file beneath a document root without ever leaving it: the
 * host filesystem side of the web server (httpd.c).  Internal to apps/.
 *
 * The path handed in is already normalised by rn__http_target_path() (no
 * "..", ".", or empty segments).  The open itself is the second guard:
 * openat2() with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel
 * has it (Linux 5.6+, checked at run time on first use), else a walk of
 * one openat(O_NOFOLLOW) per component.  Either way a symbolic link
 * anywhere on the path is refused, whether it points inside or outside
 * the root, and so is anything that is not a regular file or a directory.
 *
 * Thread safety: any thread; the run-time check is an atomic.
 */
#ifndef REFNET_APPS_HTTPD_FS_H
#define REFNET_APPS_HTTPD_FS_H

#include <stdbool.h>
#include <stdint.h>

/* What rn__httpd_fs_open() found. */
struct httpd_file {
    int hf_fd;             /* the open regular file, or -1 */
    uint64_t hf_size;      /* its size */
    uint64_t hf_dev;       /* its device, inode, and last change (ns since */
    uint64_t hf_ino;       /*   the epoch, mtime and ctime), which say     */
    int64_t hf_mtime;      /*   whether a cached open still shows the file */
    int64_t hf_ctime;      /*   behind the path (httpd_cache.c)            */
    bool hf_index;         /* it is the directory's index.html */
    bool hf_refused;       /* refused for its path (a symlink, an escape) */
};

/* Opens rel (normalised, "" for the root) beneath root_fd for reading; a
 * directory gives its index.html.  want_dir says the target ended in "/":
 * a regular file is then not found.  Returns 0 and fills *out (the caller
 * closes hf_fd), or the HTTP status to answer: 404 (missing, refused, a
 * directory without index.html, a special file), 403 (permission), 500
 * (anything else: out of descriptors, I/O). */
int rn__httpd_fs_open(int root_fd, const char *rel, bool want_dir, struct httpd_file *out);

/* Tests: true makes rn__httpd_fs_open() behave as if openat2() did not
 * exist, false returns to the run-time check. */
void rn__httpd_fs_force_fallback(bool on);

/* True if the last opens used openat2(). */
bool rn__httpd_fs_uses_openat2(void);

#endif /* REFNET_APPS_HTTPD_FS_H */
