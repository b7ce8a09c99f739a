/*
 * Opening files beneath the document root (httpd_fs.h).
 *
 * In call order:
 *   rn__httpd_fs_open() -> open_beneath(root, rel)
 *        -> openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | ...)   if known to work
 *        -> walk(): openat(O_NOFOLLOW) per component                 if ENOSYS
 *     -> fstat: a regular file is served; a directory gives
 *        open_beneath(dir, "index.html"), which must be regular too.
 * Every open carries O_NONBLOCK, so a FIFO under the root cannot block the
 * loop at open; it is then refused as a special file.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "apps/httpd_fs.h"

#define FS_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
#define FS_COMPONENT_MAX 255

enum {
    FS_OPENAT2_UNKNOWN = 0,  /* not tried yet */
    FS_OPENAT2_YES,          /* the kernel has it */
    FS_OPENAT2_NO,           /* ENOSYS: walk instead */
};

static _Atomic int fs_openat2 = FS_OPENAT2_UNKNOWN;
static _Atomic bool fs_forced;

void rn__httpd_fs_force_fallback(bool on)
{
    atomic_store(&fs_forced, on);
}

bool rn__httpd_fs_uses_openat2(void)
{
    return !atomic_load(&fs_forced) && atomic_load(&fs_openat2) != FS_OPENAT2_NO;
}

/* One component at a time, never following a link.  Returns a descriptor
 * or -errno. */
static int walk(int root_fd, const char *rel)
{
    char comp[FS_COMPONENT_MAX + 1];
    int cur = root_fd;
    const char *p = rel;

    if (*p == '\0') {
        int fd = openat(root_fd, ".", FS_FLAGS | O_DIRECTORY);

        return fd >= 0 ? fd : -errno;
    }
    while (*p != '\0') {
        const char *slash = strchr(p, '/');
        size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
        bool last = slash == NULL;
        int fd;

        if (n == 0 || n > FS_COMPONENT_MAX) {
            if (cur != root_fd)
                close(cur);
            return n == 0 ? -ENOENT : -ENAMETOOLONG;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        fd = openat(cur, comp, FS_FLAGS | O_NOFOLLOW | (last ? 0 : O_DIRECTORY));
        if (fd < 0) {
            struct stat sb;

            fd = -errno;
            /* A link where a directory was wanted says ENOTDIR: name it a
             * link, as openat2() does. */
            if (fd == -ENOTDIR && fstatat(cur, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(sb.st_mode))
                fd = -ELOOP;
        }
        if (cur != root_fd)
            close(cur);
        if (fd < 0)
            return fd;
        cur = fd;
        p += n + (last ? 0 : 1);
    }
    return cur;
}

/* Opens rel beneath dir_fd.  Returns a descriptor or -errno. */
static int open_beneath(int dir_fd, const char *rel)
{
    struct open_how how = {
        .flags = FS_FLAGS,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int state = atomic_load(&fs_openat2);
    int tries = 0;
    long fd;

    if (!atomic_load(&fs_forced) && state != FS_OPENAT2_NO) {
        /* EAGAIN: a rename or mount raced the lookup; it may be retried. */
        do
            fd = syscall(SYS_openat2, dir_fd, *rel != '\0' ? rel : ".", &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN && ++tries < 3);
        if (fd >= 0) {
            if (state == FS_OPENAT2_UNKNOWN)
                atomic_store(&fs_openat2, FS_OPENAT2_YES);
            return (int)fd;
        }
        if (errno != ENOSYS)
            return -errno;
        atomic_store(&fs_openat2, FS_OPENAT2_NO);
    }
    return walk(dir_fd, rel);
}

/* The status for a failed open. */
static int open_status(int err, struct httpd_file *out)
{
    switch (err) {
    case -ELOOP:   /* a symlink (O_NOFOLLOW, RESOLVE_NO_SYMLINKS) */
    case -EXDEV:   /* an escape (RESOLVE_BENEATH) or a mount crossing */
        out->hf_refused = true;
        return 404;
    case -ENOENT:
    case -ENOTDIR:
    case -ENAMETOOLONG:
    case -ENXIO:
        return 404;
    case -EACCES:
    case -EPERM:
        return 403;
    default:
        return 500;
    }
}

int rn__httpd_fs_open(int root_fd, const char *rel, bool want_dir, struct httpd_file *out)
{
    struct stat sb;
    int fd, ifd;

    memset(out, 0, sizeof(*out));
    out->hf_fd = -1;
    fd = open_beneath(root_fd, rel);
    if (fd < 0)
        return open_status(fd, out);
    if (fstat(fd, &sb) < 0) {
        close(fd);
        return 500;
    }
    if (S_ISDIR(sb.st_mode)) {
        ifd = open_beneath(fd, "index.html");
        close(fd);
        if (ifd < 0)
            return open_status(ifd, out);
        fd = ifd;
        out->hf_index = true;
        if (fstat(fd, &sb) < 0) {
            close(fd);
            return 500;
        }
    } else if (want_dir) {
        close(fd);  /* "/file.txt/" names no directory */
        return 404;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return 404;
    }
    out->hf_fd = fd;
    out->hf_size = (uint64_t)sb.st_size;
    out->hf_dev = (uint64_t)sb.st_dev;
    out->hf_ino = (uint64_t)sb.st_ino;
    out->hf_mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    out->hf_ctime = (int64_t)sb.st_ctim.tv_sec * 1000000000 + sb.st_ctim.tv_nsec;
    return 0;
}
