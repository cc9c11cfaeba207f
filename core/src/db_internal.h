/*
 * db_internal.h: the engine's shared internal types (db.c, batch.c, iter.c, checkpoint.c).
 */
#ifndef ALEXSTORAGE_DB_INTERNAL_H
#define ALEXSTORAGE_DB_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>

#include "alexstorage/db.h"
#include "format.h"
#include "keyindex.h"
#include "log.h"
#include "snapshot.h"

#define DB_DEFAULT_SEGMENT_SIZE (64u * 1024u * 1024u)
#define DB_MIN_SEGMENT_SIZE (64u * 1024u)
#define DB_ERRBUF 512

struct axs_db {
    char *path;
    axs_options opts;
    const axs_io *io;
    axs_file *lock_file;
    pthread_mutex_t mu; /* serialises every call (db.h contract 6) */

    kix *index;
    /* Open segments by number: segs[number - seg_base], NULL where a number is not in use. */
    log_segment **segs;
    uint64_t seg_base;
    size_t seg_count; /* slots in segs */
    log_segment *active; /* appends go here; NULL when read-only */
    uint64_t min_live_segment;

    uint64_t last_sequence;
    int failed; /* AXS_OK, or the error after which writes are refused (db.h contract 3) */
    uint64_t mod_count; /* bumped by every change of the index; iterators re-seek on change */

    /* Live snapshots, oldest first (iterators hold one each), and the old states they may
     * still read (snapshot.h). versions is created with the first snapshot. */
    axs_snapshot *snap_oldest, *snap_newest;
    vstore *versions;

    uint8_t *wbuf; /* one record is assembled here, then written with one write_at */
    size_t wbuf_cap;

    axs_stats st; /* counters; shape figures are filled in by axs_get_stats */
    char err[DB_ERRBUF];
};

/* A batch holds its entries exactly as they will be on disk (docs/format.md, "Entries"). */
struct axs_batch {
    uint8_t *data;
    size_t len, cap;
    uint32_t count;
    uint32_t entry_crcs; /* CRC32C folded over each entry's stored CRC, in order */
};

struct axs_pinned {
    axs_db *db;
    log_segment *seg; /* pinned segment, or NULL when data is a private buffer */
    const uint8_t *data;
    size_t len;
    uint8_t *owned; /* decompressed value, freed on release */
};

struct axs_iter {
    axs_db *db;
    axs_read_options ropts;
    axs_snapshot *own_snapshot; /* taken at creation unless ropts.snapshot is set */
    uint64_t seq;               /* the iterator sees writes numbered up to seq */
    bool valid;
    int status;
    /* Index cursor on the current key, usable while on_index and db->mod_count is unchanged;
     * otherwise moving re-seeks from the current key. */
    kix_cursor cur;
    bool on_index;
    uint64_t mod_count;
    /* Current entry: key and value point into the pinned segment seg, or into kbuf / vbuf
     * (a decompressed value, or an old version copied into memory by compaction). */
    log_segment *seg;
    const uint8_t *key, *value;
    size_t klen, vlen;
    uint8_t *kbuf, *vbuf;
    size_t kbuf_cap, vbuf_cap;
};

/* ---- db.c helpers shared with the other engine files ---- */
int db_set_error(axs_db *db, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
log_segment *db_segment(const axs_db *db, uint64_t number);
/* Decodes the entry at loc (bounds checked; CRC checked if verify). AXS_OK or AXS_ECORRUPT
 * (with the location in the error message). */
int db_entry_at(axs_db *db, uint64_t loc, bool verify, fmt_entry *e);
/* Value bytes of a PUT entry: for LZ4 entries, decompressed into *buf (grown as needed). */
int db_entry_value(axs_db *db, const fmt_entry *e, uint8_t **buf, size_t *cap,
                   const uint8_t **value, size_t *vlen);
void db_unpin(axs_db *db, log_segment *seg);
int db_errno_to_code(int neg_errno);
/* Snapshots, under the lock (db.c). */
int db_snapshot_create_locked(axs_db *db, uint64_t seq, axs_snapshot **out);
void db_snapshot_release_locked(axs_db *db, axs_snapshot *s);

/* ---- checkpoint.c ---- */
typedef struct ckpt_info {
    uint64_t last_sequence;
    uint64_t position_segment; /* replay resumes at this segment ... */
    uint64_t position_offset;  /* ... and offset */
    uint64_t min_live_segment;
    uint64_t num_keys;
    bool log_truncated; /* set by ckpt_load: the checkpoint is sound but the log is shorter */
} ckpt_info;

/* Writes CHECKPOINT for the current index (tmp file, sync, rename, sync dir). Caller holds
 * the lock and has synced the log up to the position. Returns AXS_OK or an error. */
int ckpt_write(axs_db *db, const ckpt_info *info);
/* Loads CHECKPOINT into db->index (which must be empty) and the segments' live bytes.
 * Returns AXS_OK, AXS_ENOTFOUND (no checkpoint), or AXS_ECORRUPT with a reason in db->err;
 * on failure the index is left empty. Segments must already be open. */
int ckpt_load(axs_db *db, ckpt_info *info);

#endif /* ALEXSTORAGE_DB_INTERNAL_H */
