/*
 * io.h: the one replaceable layer through which AlexStorage does all file I/O.
 *
 * Contract:
 *
 *  1. Every file-system call the engine makes goes through an axs_io table: opening, reading,
 *     appending, syncing, mapping, renaming, listing and removing files. The engine never calls
 *     open(2), pwrite(2), fsync(2), mmap(2) and the like directly. Tests substitute a table
 *     that injects errors (EIO, ENOSPC, short writes, failed syncs) at any call, or that
 *     simulates power loss by dropping everything not yet synced.
 *
 *  2. Return values. Functions returning int return 0 on success or a negative errno value
 *     (-EIO, -ENOSPC, -ENOENT, ...) on failure; they never set errno for the caller to read.
 *     write_at may write fewer bytes than asked: it returns the count written (>= 0) or a
 *     negative errno, and the engine treats a short count as an I/O error.
 *
 *  3. Files are identified by an opaque handle the table hands out (axs_file *). Paths are
 *     NUL-terminated and absolute or relative to the process's working directory.
 *
 *  4. Durability. sync(f) makes the file's data and size durable (fdatasync semantics).
 *     sync_dir(path) makes the directory's entries durable (creations, renames, removals).
 *     Data written but not synced may vanish on power loss; it survives a process crash.
 *
 *  5. Mappings. map(f, len) maps the first len bytes of the file read-only and shared; len may
 *     exceed the file's current size (the engine maps a whole segment's capacity once and
 *     appends with write_at). The engine reads only bytes below the file's size. The mapping
 *     reflects later writes to the file (a unified page cache, as on Linux).
 *
 *  6. Threads. The default table is safe to call from any thread. A replacement must be too
 *     once the engine is used from several threads.
 *
 *  7. Lifetime. The table and its ctx must outlive every database opened with it.
 */
#ifndef ALEXSTORAGE_IO_H
#define ALEXSTORAGE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "alexstorage/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct axs_file axs_file;

/* open flags */
enum {
    AXS_IO_READ = 0,     /* open an existing file read-only */
    AXS_IO_WRITE = 1,    /* open an existing file read-write */
    AXS_IO_CREATE = 2,   /* create if missing (with AXS_IO_WRITE) */
    AXS_IO_EXCL = 4,     /* with AXS_IO_CREATE: fail with -EEXIST if it exists */
    AXS_IO_TRUNCATE = 8  /* with AXS_IO_WRITE: truncate to zero length */
};

/* Called once per directory entry by list_dir; a non-zero return stops the listing and is
 * returned by list_dir. */
typedef int (*axs_io_dir_fn)(void *arg, const char *name);

typedef struct axs_io {
    void *ctx; /* passed as the first argument of every function */

    int (*open)(void *ctx, const char *path, int flags, axs_file **out);
    int (*close)(void *ctx, axs_file *f);
    /* Reads up to len bytes at off; returns the count read (0 at end of file) or -errno. */
    int64_t (*read_at)(void *ctx, axs_file *f, void *buf, size_t len, uint64_t off);
    /* Writes len bytes at off; returns the count written or -errno (see contract 2). */
    int64_t (*write_at)(void *ctx, axs_file *f, const void *buf, size_t len, uint64_t off);
    int (*sync)(void *ctx, axs_file *f);
    int (*truncate)(void *ctx, axs_file *f, uint64_t size);
    int (*size)(void *ctx, axs_file *f, uint64_t *size);
    int (*map)(void *ctx, axs_file *f, size_t len, const void **addr);
    int (*unmap)(void *ctx, axs_file *f, const void *addr, size_t len);
    /* Advisory exclusive lock on the open file (flock LOCK_EX | LOCK_NB): -EWOULDBLOCK if
     * another process holds it. Released when the file is closed. */
    int (*lock)(void *ctx, axs_file *f);

    int (*mkdir)(void *ctx, const char *path); /* -EEXIST if it exists */
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*remove)(void *ctx, const char *path); /* a file, or an empty directory */
    int (*list_dir)(void *ctx, const char *path, axs_io_dir_fn fn, void *arg);
    int (*sync_dir)(void *ctx, const char *path);
    /* 0 and the kind if path exists: *is_dir set to 1 for a directory, 0 otherwise. */
    int (*stat)(void *ctx, const char *path, int *is_dir);
    /* Optional (may be NULL): start writing back [off, off + len) without waiting and
     * without any durability promise (Linux sync_file_range with SYNC_FILE_RANGE_WRITE). The
     * engine calls it as a segment grows so that the sync when the segment is sealed has
     * little left to do. Errors are ignored; only sync says what is durable. */
    int (*writeback)(void *ctx, axs_file *f, uint64_t off, uint64_t len);
    /* Optional (may be NULL): fault in the page tables of len bytes of a mapping made by map,
     * reading the data in sequentially (Linux madvise MADV_POPULATE_READ), before the engine
     * reads it in random order (bulk-loading the index at open). A hint: errors are ignored. */
    int (*populate)(void *ctx, axs_file *f, const void *addr, size_t len);
} axs_io;

/* The default table: POSIX calls on the local file system. Never NULL. */
AXS_EXPORT const axs_io *axs_io_posix(void);

#ifdef __cplusplus
}
#endif

#endif /* ALEXSTORAGE_IO_H */
