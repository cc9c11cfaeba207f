/*
 * dbcopy.c: axs_checkpoint_create, a consistent copy of an open database in a new directory
 * (db.h; the files are those of docs/format.md; docs/backup.md describes the procedure).
 *
 * Under the handle's lock, so the copy is the database exactly as it is at the call:
 *
 *  1. Make a staging directory "<dir>.tmp" (as RocksDB's checkpoint does). A staging
 *     directory left by a crash is emptied of AlexStorage's own file names and reused; one
 *     that holds anything else is refused.
 *  2. Every live segment goes in. A sealed segment that is not the last one never changes
 *     again, so it is hard-linked when the I/O table is the POSIX one and the file system
 *     allows it (EXDEV, EPERM, EMLINK, ENOTSUP fall back to a copy). The last segment is
 *     always copied, up to the size the handle has appended so far: it keeps growing in the
 *     source, and the copy's open may truncate or append to its own last segment, which must
 *     never be a file shared with the source. Copies read from the handle's mapping, so the
 *     bytes are exactly the records the index points to, and are written and synced through
 *     db->io, where fault-injection tests reach them.
 *  3. The index checkpoint of the copy (CHECKPOINT, written by ckpt_write with the staging
 *     directory as the database path), positioned at the end of the copied last segment,
 *     so that opening the copy replays nothing.
 *  4. The marker ALEXSTORAGE, last: a staging directory without it is never a database.
 *  5. Sync the staging directory, rename it to dir, sync dir's parent.
 *
 * A failure removes the staging directory and leaves the source untouched: a failed sync of a
 * copied file is the copy's problem, so db->failed is restored after ckpt_write (which marks
 * the handle failed when a sync of its own checkpoint fails).
 *
 * A handle that failed earlier is refused (its log's fate on disk is unknown), as RocksDB
 * refuses a checkpoint after a background error. A read-only handle is copied like any other;
 * its last segment is copied up to the end of its last valid record.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_internal.h"

#define COPY_CHUNK (1u << 20) /* bytes per write_at when copying a segment */
#define COPY_PATH_MAX 4096
#define COPY_DIR_MAX 3008 /* dir (at most 3000 bytes) plus ".tmp" */

/* Removes the files of an AlexStorage staging directory; stops at a file of any other name. */
typedef struct copy_clean {
    const axs_io *io;
    const char *dir;
    bool foreign;
} copy_clean;

static bool copy_own_name(const char *name)
{
    uint64_t n;
    return log_parse_segment_name(name, &n) || strcmp(name, FMT_CKPT_NAME) == 0 ||
           strcmp(name, FMT_CKPT_TMP_NAME) == 0 || strcmp(name, FMT_MARKER_NAME) == 0 ||
           strcmp(name, FMT_MARKER_NAME ".tmp") == 0 || strcmp(name, FMT_LOCK_NAME) == 0;
}

static int copy_clean_entry(void *arg, const char *name)
{
    copy_clean *cc = arg;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    if (!copy_own_name(name)) {
        cc->foreign = true;
        return 0;
    }
    char p[COPY_PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", cc->dir, name);
    cc->io->remove(cc->io->ctx, p);
    return 0;
}

/* Empties (of our own files) and removes a staging directory. 0, or -ENOTEMPTY if it holds
 * files of another name, or the error of the final remove. */
static int copy_remove_staging(const axs_io *io, const char *dir)
{
    copy_clean cc = {io, dir, false};
    int rc = io->list_dir(io->ctx, dir, copy_clean_entry, &cc);
    if (rc)
        return rc;
    if (cc.foreign)
        return -ENOTEMPTY;
    return io->remove(io->ctx, dir);
}

static void copy_parent(char *buf, size_t len, const char *path)
{
    snprintf(buf, len, "%s", path);
    char *slash = strrchr(buf, '/');
    if (slash == buf)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(buf, len, ".");
}

/* Writes len bytes of data to a new file at path through the I/O table, and syncs it. */
static int copy_bytes(const axs_io *io, const char *path, const uint8_t *data, uint64_t len)
{
    axs_file *f;
    int rc = io->open(io->ctx, path, AXS_IO_WRITE | AXS_IO_CREATE | AXS_IO_EXCL, &f);
    if (rc)
        return rc;
    for (uint64_t off = 0; !rc && off < len;) {
        size_t n = len - off < COPY_CHUNK ? (size_t)(len - off) : COPY_CHUNK;
        int64_t w = io->write_at(io->ctx, f, data + off, n, off);
        if (w < 0)
            rc = (int)w;
        else if ((size_t)w != n)
            rc = -EIO; /* a short write is an error (io.h contract 2) */
        else
            off += n;
    }
    if (!rc)
        rc = io->sync(io->ctx, f);
    int crc = io->close(io->ctx, f);
    return rc ? rc : crc;
}

/* Puts segment seg into staging directory dir: a hard link or a copy (see the top). */
static int copy_segment(axs_db *db, const log_segment *seg, bool last, const char *dir)
{
    char src[COPY_PATH_MAX], dst[COPY_PATH_MAX];
    log_segment_path(src, sizeof src, db->path, seg->number);
    log_segment_path(dst, sizeof dst, dir, seg->number);
    if (seg->sealed && !last && db->io == axs_io_posix()) {
        /* The POSIX table has no link hook; a replaced table (tests) always gets copies, so
         * every byte of the copy goes through it. */
        if (link(src, dst) == 0)
            return 0; /* the file was synced when it was sealed */
        int err = errno;
        /* NOLINTNEXTLINE(misc-redundant-expression): ENOTSUP == EOPNOTSUPP on Linux only */
        if (err != EXDEV && err != EPERM && err != EMLINK && err != ENOTSUP &&
            err != EOPNOTSUPP)
            return -err;
    }
    return copy_bytes(db->io, dst, seg->map, seg->size);
}

/* The marker file, written as ALEXSTORAGE.tmp, synced and renamed (docs/format.md). */
static int copy_marker(const axs_io *io, const char *dir)
{
    char tmp[COPY_PATH_MAX], final[COPY_PATH_MAX];
    uint8_t m[FMT_MARKER_SIZE];
    fmt_marker_encode(m);
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, FMT_MARKER_NAME);
    snprintf(final, sizeof final, "%s/%s", dir, FMT_MARKER_NAME);
    int rc = copy_bytes(io, tmp, m, sizeof m);
    if (!rc)
        rc = io->rename(io->ctx, tmp, final);
    return rc;
}

static int copy_locked(axs_db *db, const char *dir_arg)
{
    const axs_io *io = db->io;
    if (db->failed)
        return db_set_error(db, db->failed,
                            "IO error: database failed earlier; no checkpoint taken");
    char dir[COPY_DIR_MAX], staging[COPY_DIR_MAX], parent[COPY_DIR_MAX];
    size_t dl = strlen(dir_arg); /* at most 3000 (axs_checkpoint_create) */
    memcpy(dir, dir_arg, dl + 1);
    while (dl > 1 && dir[dl - 1] == '/')
        dir[--dl] = '\0';
    memcpy(staging, dir, dl);
    memcpy(staging + dl, ".tmp", 5);
    copy_parent(parent, sizeof parent, dir);

    int is_dir = 0;
    int rc = io->stat(io->ctx, dir, &is_dir);
    if (rc == 0)
        return db_set_error(db, AXS_EEXIST, "Invalid argument: %s: directory exists", dir);
    if (rc != -ENOENT)
        return db_set_error(db, db_errno_to_code(rc), "IO error: %s: %s", dir, strerror(-rc));
    rc = io->stat(io->ctx, staging, &is_dir);
    if (rc == 0) {
        /* Left by a crash during an earlier checkpoint: never a database (no marker). */
        rc = is_dir ? copy_remove_staging(io, staging) : -ENOTDIR;
        if (rc)
            return db_set_error(db, rc == -ENOTEMPTY || rc == -ENOTDIR ? AXS_EEXIST : AXS_EIO,
                                "IO error: %s: cannot remove the staging directory: %s",
                                staging, strerror(-rc));
    }
    rc = io->mkdir(io->ctx, staging);
    if (rc)
        return db_set_error(db, rc == -EEXIST ? AXS_EEXIST : rc == -ENOSPC ? AXS_ENOSPC : AXS_EIO,
                            "IO error: %s: While mkdir: %s: %s", strerror(-rc), staging,
                            strerror(-rc));

    /* The segments, oldest first. */
    log_segment *last = NULL;
    for (size_t i = 0; i < db->seg_count; i++)
        if (db->segs[i])
            last = db->segs[i];
    const char *step = "copying segments";
    for (size_t i = 0; !rc && i < db->seg_count; i++)
        if (db->segs[i])
            rc = copy_segment(db, db->segs[i], db->segs[i] == last, staging);

    /* The index checkpoint, positioned at the end of the copied log. */
    if (!rc && last && last->size >= FMT_SEG_HEADER_SIZE) {
        step = "writing the index checkpoint";
        ckpt_info ck = {.last_sequence = db_wview(db)->seq,
                        .position_segment = last->number,
                        .position_offset = last->size,
                        .min_live_segment = db->min_live_segment,
                        .num_keys = kix_count(db_wview(db)->index)};
        char *own = db->path;
        int failed = db->failed;
        db->path = staging; /* ckpt_write writes into db->path; the lock is held */
        int ck_rc = ckpt_write(db, &ck);
        db->path = own;
        db->failed = failed; /* a failed sync of the copy does not fail the source */
        if (ck_rc) {
            copy_remove_staging(io, staging);
            return ck_rc; /* db->err names the failure */
        }
    }
    if (!rc) {
        step = "writing the marker";
        rc = copy_marker(io, staging);
    }
    if (!rc) {
        step = "syncing";
        rc = io->sync_dir(io->ctx, staging);
    }
    if (!rc) {
        step = "renaming the staging directory";
        rc = io->rename(io->ctx, staging, dir);
    }
    if (rc) {
        copy_remove_staging(io, staging);
        return db_set_error(db, rc == -ENOSPC ? AXS_ENOSPC : AXS_EIO,
                            "IO error: checkpoint %s: %s: %s", dir, step, strerror(-rc));
    }
    rc = io->sync_dir(io->ctx, parent);
    if (rc)
        return db_set_error(db, AXS_EIO, "IO error: checkpoint %s: syncing %s: %s", dir,
                            parent, strerror(-rc));
    return AXS_OK;
}

int axs_checkpoint_create(axs_db *db, const char *dir)
{
    if (!db)
        return AXS_EINVAL;
    if (!dir || !*dir || strlen(dir) > 3000)
        return db_set_error(db, AXS_EINVAL, "Invalid argument: invalid checkpoint directory "
                                            "name");
    pthread_mutex_lock(&db->write_mu);
    int rc = copy_locked(db, dir);
    pthread_mutex_unlock(&db->write_mu);
    return rc;
}
