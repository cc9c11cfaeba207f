/*
 * db.h: AlexStorage, a durable key-value store on the ALEX learned index.
 *
 * Contract (read before calling anything):
 *
 *  1. Data model. Keys are byte strings of 0 to AXS_MAX_KEY_LEN bytes, ordered bytewise
 *     (memcmp, then shorter first), as RocksDB's default comparator orders them. Values are
 *     0 to AXS_MAX_VALUE_LEN bytes. Longer keys or values are rejected with AXS_EINVAL.
 *
 *  2. Lifecycle. axs_options_init() fills defaults; set fields; axs_open() returns a handle
 *     or an error (nothing to clean up on failure). axs_close() syncs, writes an index
 *     checkpoint so the next open is fast, and frees the handle, even when it reports an error.
 *     One process at a time may open a database: a second open fails with AXS_EBUSY.
 *
 *  3. Errors. Functions return AXS_OK (0) or a negative AXS_E* code. axs_strerror() names a
 *     code; axs_last_error() gives the handle's last detailed message (file and offset of a
 *     corruption, the system call that failed). "Not found" is not an error: lookups report it
 *     through a bool. After a failed sync the database refuses every further write with
 *     AXS_EIO (the data's fate on disk is unknown, so it never retries silently); reads go on.
 *
 *  4. Ownership. The library never keeps a pointer to caller memory after a call returns.
 *     Memory it hands out is named in each function: copied into caller buffers, malloc'd
 *     (release with free()), or pinned (release with axs_pinned_release()).
 *
 *  5. Durability. Every write is one append to the log, which is also the data.
 *     With axs_write_options.sync it is fdatasync'ed before the call returns, so it survives a
 *     power loss. Without it (the default, as in RocksDB) it has reached the operating system
 *     and survives a crash of the process, not of the machine. A write batch is atomic: after
 *     any crash either all of it is there or none of it.
 *
 *  6. Threads. Every function may be called from any number of threads at once on one handle
 *     (docs/concurrency.md). Reads (gets, pinned gets, iterator steps) never wait for a
 *     writer, an fsync or a compaction: they read an immutable side of the index while writes
 *     go to the other. Writers are queued; the one at the head commits the whole queue as one
 *     group with one write and at most one fdatasync. Pinned values and iterators stay valid
 *     across other threads' writes, segment roll-over and compaction until released.
 *
 *  7. Files. docs/format.md describes every file in the database directory, byte by byte.
 */
#ifndef ALEXSTORAGE_DB_H
#define ALEXSTORAGE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alexstorage/export.h"
#include "alexstorage/io.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AXS_MAX_KEY_LEN (64u * 1024u)           /* 65,536 bytes */
#define AXS_MAX_VALUE_LEN (64u * 1024u * 1024u) /* 67,108,864 bytes */

enum {
    AXS_OK = 0,
    AXS_EINVAL = -1,     /* bad argument: NULL pointer, key or value too long, bad option */
    AXS_ENOMEM = -2,     /* an allocation failed */
    AXS_EIO = -3,        /* a file operation failed, or the database failed earlier (3.) */
    AXS_ECORRUPT = -4,   /* data on disk failed a checksum or a format check */
    AXS_ENOTFOUND = -5,  /* the database does not exist (open without create_if_missing) */
    AXS_EEXIST = -6,     /* the database exists (open with error_if_exists) */
    AXS_EBUSY = -7,      /* another process has the database open */
    AXS_ENOTSUP = -8,    /* a newer format version, or an operation this version lacks */
    AXS_ENOSPC = -9,     /* the file system is full */
    AXS_EREADONLY = -10, /* a write to a database opened read-only */
    AXS_ENOTDB = -11     /* the directory holds something that is not an AlexStorage database */
};

enum { AXS_COMPRESSION_NONE = 0, AXS_COMPRESSION_LZ4 = 1 };

typedef struct axs_options {
    bool create_if_missing; /* default false */
    bool error_if_exists;   /* default false */
    bool read_only;         /* default false: open for reading only, write nothing */
    /* Corruption in the middle of the log (not a torn last record): true (default) fails the
     * open with AXS_ECORRUPT; false skips the damaged record, reports it in
     * axs_last_error() and the "alexstorage.corruptions" property, and opens. */
    bool paranoid_checks;
    int compression;         /* AXS_COMPRESSION_NONE (default) or AXS_COMPRESSION_LZ4 */
    uint64_t segment_size;   /* bytes per log segment before a new one starts; default 64 MiB */
    /* Background compaction: a thread of the handle rewrites the live records of the oldest
     * segments, then removes them, whenever garbage (log bytes no key refers to any more)
     * passes this fraction of the log, and stops once it is below half of it. 0 turns it off;
     * valid values are 0 and 0.05..0.95. Default 0.5, which keeps the log within about twice
     * the live data. Ignored when read_only. */
    double compaction_garbage_ratio;
    const axs_io *io;        /* NULL: axs_io_posix() */
} axs_options;

typedef struct axs_write_options {
    bool sync;        /* fdatasync before returning (see 5.) */
    bool disable_wal; /* accepted for RocksDB compatibility; writes are still logged, so this is
                         never weaker than the default */
} axs_write_options;

typedef struct axs_snapshot axs_snapshot;

typedef struct axs_read_options {
    bool verify_checksums; /* check the record's CRC32C on every read; default true */
    /* Read the database as it was when this snapshot was taken; NULL (default): as it is now
     * (for an iterator: as it is when the iterator is created). */
    const axs_snapshot *snapshot;
} axs_read_options;

typedef struct axs_db axs_db;
typedef struct axs_batch axs_batch;
typedef struct axs_iter axs_iter;
typedef struct axs_pinned axs_pinned;

AXS_EXPORT const char *axs_strerror(int code);
AXS_EXPORT void axs_options_init(axs_options *opts);
AXS_EXPORT void axs_write_options_init(axs_write_options *opts);
AXS_EXPORT void axs_read_options_init(axs_read_options *opts);

/* Opens (or creates) the database in directory path. opts may be NULL (defaults).
 * On failure *out is NULL and nothing needs releasing; if errmsg is not NULL, *errmsg gets a
 * malloc'd message (free() it) describing the failure, else is set to NULL. */
AXS_EXPORT int axs_open(const char *path, const axs_options *opts, axs_db **out, char **errmsg);

/* Syncs, writes a checkpoint (unless read-only or failed), releases the handle. NULL is a
 * no-op. Iterators and pinned values of the handle must be released first. */
AXS_EXPORT int axs_close(axs_db *db);

/* Removes every file of the database in path, then the directory if it is empty.
 * A missing directory is not an error. Fails with AXS_ENOTDB if the directory holds files
 * that are not AlexStorage's, and AXS_EBUSY if the database is open. */
AXS_EXPORT int axs_destroy(const char *path, const axs_options *opts);

/* The last detailed error message of the handle (static storage of the handle; valid until
 * the next call on it). Empty string when none. */
AXS_EXPORT const char *axs_last_error(axs_db *db);

/* Writes. wopts may be NULL (defaults). */
AXS_EXPORT int axs_put(axs_db *db, const axs_write_options *wopts, const void *key, size_t klen,
                       const void *value, size_t vlen);
AXS_EXPORT int axs_delete(axs_db *db, const axs_write_options *wopts, const void *key,
                          size_t klen);
/* Deletes every key k with begin <= k < end (nothing if end <= begin), as one write with one
 * sequence number, like RocksDB's DeleteRange. It costs time in proportion to the keys it
 * removes, applied when written (and again when recovery replays it). */
AXS_EXPORT int axs_delete_range(axs_db *db, const axs_write_options *wopts, const void *begin,
                                size_t blen, const void *end, size_t elen);

/* Reads, copying. On a hit, *found = true, *vlen = the value's full length, and the first
 * min(*vlen, buf_len) bytes are copied to buf (buf may be NULL when buf_len is 0, to ask for
 * the length). On a miss, *found = false. ropts may be NULL. */
AXS_EXPORT int axs_get(axs_db *db, const axs_read_options *ropts, const void *key, size_t klen,
                       void *buf, size_t buf_len, size_t *vlen, bool *found);

/* Reads into a fresh malloc'd buffer (*value, release with free(); non-NULL even for an empty
 * value). On a miss *found = false and *value = NULL. */
AXS_EXPORT int axs_get_alloc(axs_db *db, const axs_read_options *ropts, const void *key,
                             size_t klen, char **value, size_t *vlen, bool *found);

/* Reads without copying: *pin holds the value (for an uncompressed value, a view into the
 * mapped log) until axs_pinned_release(). On a miss *found = false and *pin = NULL. */
AXS_EXPORT int axs_get_pinned(axs_db *db, const axs_read_options *ropts, const void *key,
                              size_t klen, axs_pinned **pin, bool *found);
AXS_EXPORT const void *axs_pinned_data(const axs_pinned *pin, size_t *len);
AXS_EXPORT void axs_pinned_release(axs_pinned *pin); /* NULL is a no-op */

/* Write batches: an ordered list of puts and deletes applied atomically by axs_write. */
AXS_EXPORT axs_batch *axs_batch_create(void); /* NULL only when out of memory */
AXS_EXPORT void axs_batch_destroy(axs_batch *b); /* NULL is a no-op */
AXS_EXPORT void axs_batch_clear(axs_batch *b);
AXS_EXPORT int axs_batch_put(axs_batch *b, const void *key, size_t klen, const void *value,
                             size_t vlen);
AXS_EXPORT int axs_batch_delete(axs_batch *b, const void *key, size_t klen);
AXS_EXPORT int axs_batch_delete_range(axs_batch *b, const void *begin, size_t blen,
                                      const void *end, size_t elen);
AXS_EXPORT uint32_t axs_batch_count(const axs_batch *b);
AXS_EXPORT int axs_write(axs_db *db, const axs_write_options *wopts, const axs_batch *b);

/* Iterators: ordered traversal of the database as it was when the iterator was created (it
 * holds an implicit snapshot until destroyed; writes made afterwards are not seen), or at
 * ropts->snapshot when one is given. */
AXS_EXPORT int axs_iter_create(axs_db *db, const axs_read_options *ropts, axs_iter **out);
AXS_EXPORT void axs_iter_destroy(axs_iter *it); /* NULL is a no-op */
AXS_EXPORT bool axs_iter_valid(const axs_iter *it);
AXS_EXPORT void axs_iter_seek_to_first(axs_iter *it);
AXS_EXPORT void axs_iter_seek_to_last(axs_iter *it);
AXS_EXPORT void axs_iter_seek(axs_iter *it, const void *key, size_t klen);          /* >= key */
AXS_EXPORT void axs_iter_seek_for_prev(axs_iter *it, const void *key, size_t klen); /* <= key */
AXS_EXPORT void axs_iter_next(axs_iter *it); /* requires valid */
AXS_EXPORT void axs_iter_prev(axs_iter *it); /* requires valid */
/* Key and value of a valid iterator: pointers owned by the iterator, valid until it moves or
 * is destroyed. */
AXS_EXPORT const void *axs_iter_key(const axs_iter *it, size_t *klen);
AXS_EXPORT const void *axs_iter_value(const axs_iter *it, size_t *vlen);
/* AXS_OK, or the error that made the iterator invalid (e.g. AXS_ECORRUPT). */
AXS_EXPORT int axs_iter_status(const axs_iter *it);

/* Snapshots: a consistent read-only view of the database at one sequence number. Every write
 * gets the next sequence number (a batch of n entries takes n); a snapshot sees exactly the
 * writes numbered up to its own, so a batch is all in or all out. Old values a live snapshot
 * still needs are kept (their location in the log, or a copy once compaction moves them), and
 * dropped when the last snapshot that needs them is released. A snapshot must be released
 * before the handle is closed. */
AXS_EXPORT int axs_snapshot_create(axs_db *db, axs_snapshot **out);
AXS_EXPORT void axs_snapshot_release(axs_db *db, axs_snapshot *snap); /* NULL is a no-op */
AXS_EXPORT uint64_t axs_snapshot_sequence(const axs_snapshot *snap);

/* Copies the open database into directory dir, which must not exist, so that axs_open(dir)
 * sees every write completed before the call: sealed segments are hard-linked when the file
 * system allows it (copied otherwise), the active segment is copied up to its current end,
 * and an index checkpoint is written. The copy is synced before the call returns. */
AXS_EXPORT int axs_checkpoint_create(axs_db *db, const char *dir);

/* Makes everything written so far durable (fdatasync) and writes an index checkpoint. */
AXS_EXPORT int axs_flush(axs_db *db);

/* Rewrites every live record, in key order, into new segments and deletes the old ones,
 * reclaiming the space of overwritten and deleted values; crash-safe at every step
 * (docs/format.md). Reads go on while it runs; writes are held only while it switches a chunk
 * of records (docs/concurrency.md). */
AXS_EXPORT int axs_compact(axs_db *db);

/* Rewrites the live records of the keys in [begin, end), in key order, at the head of the log
 * (so a scan of the range reads them in order), then reclaims the oldest segments whose
 * records have all moved or died. begin NULL (or empty): from the first key; end NULL: through
 * the last key. An empty range does nothing. */
AXS_EXPORT int axs_compact_range(axs_db *db, const void *begin, size_t blen, const void *end,
                                 size_t elen);

/* Waits until the background compaction has nothing to do (garbage below the trigger) or is
 * off, and returns its last error (AXS_OK if none). For tests and benchmarks. */
AXS_EXPORT int axs_wait_for_compaction(axs_db *db);

typedef struct axs_stats {
    uint64_t num_keys;
    uint64_t last_sequence;     /* sequence number of the latest write */
    uint64_t segments;
    uint64_t log_bytes;         /* bytes in all segments */
    uint64_t live_bytes;        /* bytes of records still referenced by the index */
    uint64_t index_bytes;       /* memory of the learned index */
    uint64_t puts, deletes, gets, batches;
    uint64_t syncs;            /* fdatasyncs of the log (one per commit group that asked) */
    uint64_t synced_writes;    /* writes made with sync: syncs / synced_writes is group commit */
    uint64_t commit_groups;    /* commit groups (each one write of the log) */
    uint64_t compactions;      /* compaction passes finished (background, range or full) */
    uint64_t compaction_bytes_written; /* bytes compaction copied to the head of the log */
    uint64_t compaction_bytes_removed; /* bytes of segment files compaction removed */
    double compaction_seconds;         /* time spent compacting, all passes */
    uint64_t corruptions_skipped; /* records skipped at open with paranoid_checks off */
    uint64_t recovered_records;   /* log records replayed at the last open */
    uint64_t checkpoint_keys;     /* keys loaded from a checkpoint at the last open */
    double open_seconds;          /* time the last open took */
} axs_stats;
AXS_EXPORT void axs_get_stats(axs_db *db, axs_stats *st);

/* Named properties as text, in a malloc'd string (free()); NULL for an unknown name.
 * Names: "alexstorage.stats" (a readable summary), "alexstorage.num-keys",
 * "alexstorage.live-bytes", "alexstorage.log-bytes", "alexstorage.segments",
 * "alexstorage.index-bytes", "alexstorage.corruptions". */
AXS_EXPORT char *axs_property(axs_db *db, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* ALEXSTORAGE_DB_H */
