/*
 * io_posix.c: the default I/O table (see alexstorage/io.h for the contract): plain POSIX calls
 * on the local file system.
 *
 * Choices the header leaves open, made here once:
 *
 *  - Open flags: AXS_IO_READ -> O_RDONLY; AXS_IO_WRITE -> O_RDWR (read-write, so the engine
 *    can read back what it appends); AXS_IO_CREATE -> O_CREAT (mode 0644, minus the umask);
 *    AXS_IO_EXCL -> O_EXCL; AXS_IO_TRUNCATE -> O_TRUNC. Every descriptor is O_CLOEXEC.
 *    Combinations the header does not define (CREATE or TRUNCATE without WRITE, EXCL without
 *    CREATE, unknown bits) are refused with -EINVAL.
 *  - read_at and write_at loop until len bytes are done, retrying EINTR. read_at stops early
 *    only at end of file. write_at returns a short count only when the kernel wrote part of
 *    the request and then failed (e.g. ENOSPC after some bytes), as write(2) would.
 *    Offsets or lengths beyond the range of off_t give -EINVAL.
 *  - sync is fdatasync(2) (F_FULLFSYNC on macOS). It is never retried, not even on EINTR: a
 *    failed sync is reported as it is, and the engine stops (STYLE.md point 8).
 *  - map of len 0 is refused with -EINVAL (mmap(2) refuses it too, and a dummy address would
 *    invite reads through it). unmap does not use its file argument, so it may be called
 *    before or after the file is closed (a mapping outlives its descriptor).
 *  - lock is flock(LOCK_EX | LOCK_NB). flock locks belong to the open file description, so a
 *    second open of the same file conflicts even inside one process. A mapping keeps the open
 *    file description alive: the lock goes only once the file is closed and every mapping
 *    made through it is unmapped (so a lock file should not be mapped).
 *  - close always frees the handle, even when close(2) reports an error (which it returns;
 *    the descriptor is gone either way on Linux, so it is never retried).
 *  - remove tries unlink(2) and falls back to rmdir(2) when the path is a directory; a
 *    non-empty directory gives -ENOTEMPTY (or -EEXIST on some systems).
 *  - list_dir reports entries in the order readdir(3) returns them (unspecified), without "."
 *    and "..".
 *  - stat follows symbolic links; is_dir may be NULL.
 *
 * Thread safety: every function works only on its arguments; the table is immutable.
 */
#define _GNU_SOURCE /* flock(2), fdatasync(2), O_DIRECTORY and O_CLOEXEC in strict C11 mode */

#include "alexstorage/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* rename(3) */
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

struct axs_file {
    int fd;
};

#define FILE_MODE 0644
#define DIR_MODE 0755
#define OFF_MAX ((uint64_t)INT64_MAX) /* off_t is 64 bits on every platform we build for */

_Static_assert(sizeof(off_t) == 8, "io_posix.c needs a 64-bit off_t");

/* ---- files -------------------------------------------------------------------------------- */

static int posix_open(void *ctx, const char *path, int flags, axs_file **out)
{
    const int known = AXS_IO_WRITE | AXS_IO_CREATE | AXS_IO_EXCL | AXS_IO_TRUNCATE;
    axs_file *f = NULL;
    int oflags = O_CLOEXEC;
    int fd, rc;

    (void)ctx;
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (path == NULL || (flags & ~known) != 0)
        return -EINVAL;
    if ((flags & (AXS_IO_CREATE | AXS_IO_TRUNCATE)) && !(flags & AXS_IO_WRITE))
        return -EINVAL;
    if ((flags & AXS_IO_EXCL) && !(flags & AXS_IO_CREATE))
        return -EINVAL;

    oflags |= (flags & AXS_IO_WRITE) ? O_RDWR : O_RDONLY;
    if (flags & AXS_IO_CREATE)
        oflags |= O_CREAT;
    if (flags & AXS_IO_EXCL)
        oflags |= O_EXCL;
    if (flags & AXS_IO_TRUNCATE)
        oflags |= O_TRUNC;

    f = malloc(sizeof *f);
    if (f == NULL)
        return -ENOMEM;
    do {
        fd = open(path, oflags, FILE_MODE);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    f->fd = fd;
    *out = f;
    return 0;

fail:
    free(f);
    return rc;
}

static int posix_close(void *ctx, axs_file *f)
{
    int rc = 0;

    (void)ctx;
    if (f == NULL)
        return -EINVAL;
    if (close(f->fd) != 0 && errno != EINTR)
        rc = -errno;
    free(f);
    return rc;
}

static int64_t posix_read_at(void *ctx, axs_file *f, void *buf, size_t len, uint64_t off)
{
    unsigned char *p = buf;
    size_t done = 0;

    (void)ctx;
    if (f == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    if (off > OFF_MAX || (uint64_t)len > OFF_MAX - off)
        return -EINVAL;
    while (done < len) {
        ssize_t n = pread(f->fd, p + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break; /* end of file */
        done += (size_t)n;
    }
    return (int64_t)done;
}

static int64_t posix_write_at(void *ctx, axs_file *f, const void *buf, size_t len, uint64_t off)
{
    const unsigned char *p = buf;
    size_t done = 0;

    (void)ctx;
    if (f == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    if (off > OFF_MAX || (uint64_t)len > OFF_MAX - off)
        return -EINVAL;
    while (done < len) {
        ssize_t n = pwrite(f->fd, p + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (done > 0)
                break; /* the kernel wrote part of it: report the short count */
            return -errno;
        }
        if (n == 0)
            break; /* no progress and no error: report what was written */
        done += (size_t)n;
    }
    return (int64_t)done;
}

static int posix_sync(void *ctx, axs_file *f)
{
    (void)ctx;
    if (f == NULL)
        return -EINVAL;
#if defined(__APPLE__)
    if (fcntl(f->fd, F_FULLFSYNC) != 0)
        return -errno;
#else
    if (fdatasync(f->fd) != 0)
        return -errno;
#endif
    return 0;
}

/* Starts writeback of a range without waiting (Linux); elsewhere a no-op. */
static int posix_writeback(void *ctx, axs_file *f, uint64_t off, uint64_t len)
{
    (void)ctx;
    if (f == NULL || off > OFF_MAX || len > OFF_MAX)
        return -EINVAL;
#if defined(__linux__)
    if (sync_file_range(f->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE) != 0)
        return -errno;
#else
    (void)off;
    (void)len;
#endif
    return 0;
}

/* Prefaults a mapping's page tables (Linux 5.14+); elsewhere a no-op. */
static int posix_populate(void *ctx, axs_file *f, const void *addr, size_t len)
{
    (void)ctx;
    (void)f;
#if defined(MADV_POPULATE_READ)
    if (len && madvise((void *)(uintptr_t)addr, len, MADV_POPULATE_READ) != 0)
        return -errno;
#else
    (void)addr;
    (void)len;
#endif
    return 0;
}

static int posix_truncate(void *ctx, axs_file *f, uint64_t size)
{
    int r;

    (void)ctx;
    if (f == NULL || size > OFF_MAX)
        return -EINVAL;
    do {
        r = ftruncate(f->fd, (off_t)size);
    } while (r != 0 && errno == EINTR);
    return r == 0 ? 0 : -errno;
}

static int posix_size(void *ctx, axs_file *f, uint64_t *size)
{
    struct stat st;

    (void)ctx;
    if (f == NULL || size == NULL)
        return -EINVAL;
    if (fstat(f->fd, &st) != 0)
        return -errno;
    *size = (uint64_t)st.st_size;
    return 0;
}

static int posix_map(void *ctx, axs_file *f, size_t len, const void **addr)
{
    void *p;

    (void)ctx;
    if (addr == NULL)
        return -EINVAL;
    *addr = NULL;
    if (f == NULL || len == 0)
        return -EINVAL; /* see the note at the top: no empty mappings */
    p = mmap(NULL, len, PROT_READ, MAP_SHARED, f->fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    *addr = p;
    return 0;
}

static int posix_unmap(void *ctx, axs_file *f, const void *addr, size_t len)
{
    (void)ctx;
    (void)f; /* not needed: the mapping is identified by its address */
    if (addr == NULL || len == 0)
        return -EINVAL;
    if (munmap((void *)(uintptr_t)addr, len) != 0)
        return -errno;
    return 0;
}

static int posix_lock(void *ctx, axs_file *f)
{
    int r;

    (void)ctx;
    if (f == NULL)
        return -EINVAL;
    do {
        r = flock(f->fd, LOCK_EX | LOCK_NB);
    } while (r != 0 && errno == EINTR);
    if (r != 0)
        return errno == EAGAIN ? -EWOULDBLOCK : -errno;
    return 0;
}

/* ---- directories and names ---------------------------------------------------------------- */

static int posix_mkdir(void *ctx, const char *path)
{
    (void)ctx;
    if (path == NULL)
        return -EINVAL;
    return mkdir(path, DIR_MODE) == 0 ? 0 : -errno;
}

static int posix_rename(void *ctx, const char *from, const char *to)
{
    (void)ctx;
    if (from == NULL || to == NULL)
        return -EINVAL;
    return rename(from, to) == 0 ? 0 : -errno;
}

static int posix_remove(void *ctx, const char *path)
{
    struct stat st;
    int err;

    (void)ctx;
    if (path == NULL)
        return -EINVAL;
    if (unlink(path) == 0)
        return 0;
    err = errno;
    /* Linux says EISDIR for a directory, POSIX says EPERM. */
    if ((err == EISDIR || err == EPERM) && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return rmdir(path) == 0 ? 0 : -errno;
    return -err;
}

static int posix_list_dir(void *ctx, const char *path, axs_io_dir_fn fn, void *arg)
{
    DIR *d;
    int rc = 0;

    (void)ctx;
    if (path == NULL || fn == NULL)
        return -EINVAL;
    d = opendir(path);
    if (d == NULL)
        return -errno;
    for (;;) {
        struct dirent *de;
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            if (errno != 0)
                rc = -errno;
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rc = fn(arg, de->d_name);
        if (rc != 0)
            break;
    }
    closedir(d);
    return rc;
}

static int posix_sync_dir(void *ctx, const char *path)
{
    int fd, rc = 0;

    (void)ctx;
    if (path == NULL)
        return -EINVAL;
    do {
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno; /* never retried (STYLE.md point 8) */
    close(fd);       /* read-only descriptor: nothing for close to report */
    return rc;
}

static int posix_stat(void *ctx, const char *path, int *is_dir)
{
    struct stat st;

    (void)ctx;
    if (path == NULL)
        return -EINVAL;
    if (stat(path, &st) != 0)
        return -errno;
    if (is_dir != NULL)
        *is_dir = S_ISDIR(st.st_mode) ? 1 : 0;
    return 0;
}

/* ---- the table ---------------------------------------------------------------------------- */

static const axs_io posix_io = {
    .ctx = NULL,
    .open = posix_open,
    .close = posix_close,
    .read_at = posix_read_at,
    .write_at = posix_write_at,
    .sync = posix_sync,
    .truncate = posix_truncate,
    .size = posix_size,
    .map = posix_map,
    .unmap = posix_unmap,
    .lock = posix_lock,
    .mkdir = posix_mkdir,
    .rename = posix_rename,
    .remove = posix_remove,
    .list_dir = posix_list_dir,
    .sync_dir = posix_sync_dir,
    .stat = posix_stat,
    .writeback = posix_writeback,
    .populate = posix_populate,
};

AXS_EXPORT const axs_io *axs_io_posix(void)
{
    return &posix_io;
}
