/*
 * db_internal.h: the engine's shared internal types (db.c, batch.c, iter.c, checkpoint.c).
 */
#ifndef ALEXSTORAGE_DB_INTERNAL_H
#define ALEXSTORAGE_DB_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "alexstorage/db.h"
#include "format.h"
#include "keyindex.h"
#include "log.h"
#include "snapshot.h"

#define DB_DEFAULT_SEGMENT_SIZE (64u * 1024u * 1024u)
#define DB_MIN_SEGMENT_SIZE (64u * 1024u)
#define DB_ERRBUF 512
#define DB_DEFAULT_GARBAGE_RATIO 0.5

/* ---- Left-right (docs/concurrency.md) ---------------------------------------------------------
 * Everything a reader looks at to find a record lives in a view: the key index and the
 * version store. There are two views holding the same state. Readers announce themselves in a
 * read indicator and read the view `reading` names; they never wait. The writer (holding
 * write_mu) changes the other view, makes it the one readers use, waits until no reader can
 * still be in the old one, and applies the same change to it. A read indicator is striped
 * over cache lines so that readers on different cores do not share one. */
#define LR_STRIPES 16
typedef struct lr_slot {
    _Atomic uint64_t readers; /* readers inside a read section that arrived here */
    _Atomic uint64_t gets;    /* statistics: point reads counted on this stripe */
    char pad[64 - 2 * sizeof(uint64_t)];
} __attribute__((aligned(64))) lr_slot;

typedef struct db_view {
    kix *index;
    vstore *versions;
    uint64_t seq;       /* sequence number of the last write applied to this view */
    uint64_t mod_count; /* bumped by every change; an iterator's cursor is valid while equal */
} db_view;

/* Segments by number for readers: a two-level table of atomic pointers that is never
 * reallocated, so a reader can look a segment up while the writer adds one. */
#define SEGTAB_CHUNK_BITS 10
#define SEGTAB_CHUNK (1u << SEGTAB_CHUNK_BITS)
#define SEGTAB_TOP ((FMT_LOC_MAX_SEGMENT >> SEGTAB_CHUNK_BITS) + 1)
typedef struct segtab_chunk {
    _Atomic(log_segment *) seg[SEGTAB_CHUNK];
} segtab_chunk;

/* A write waiting in the commit queue (group commit, db.c). The payload is the record's
 * entries, already encoded by the writing thread; the leader of a group numbers and appends
 * the records of every writer in it with one write. */
typedef struct db_writer {
    const uint8_t *payload;
    size_t len;
    uint32_t count, crcs;
    uint8_t kind; /* DB_WRITE_PUT, _DELETE or _BATCH, for statistics */
    bool sync;
    bool done; /* set by the leader, under queue_mu, with rc (and err when rc != 0) */
    int rc;
    char err[DB_ERRBUF];
    pthread_cond_t cv;
    struct db_writer *next;
} db_writer;

struct axs_db {
    char *path;
    axs_options opts;
    const axs_io *io;
    axs_file *lock_file;

    /* The writer lock: log appends, changes to the views, compaction steps, checkpoints,
     * statistics. Readers never take it. */
    pthread_mutex_t write_mu;

    db_view views[2];
    _Atomic int reading;   /* the view readers use */
    _Atomic int arrive_at; /* the read indicator new readers arrive at */
    lr_slot indicator[2][LR_STRIPES];

    _Atomic(segtab_chunk *) *segtab; /* SEGTAB_TOP chunk pointers (readers' lookups) */
    /* Open segments by number for the writer: segs[number - seg_base], NULL where a number is
     * not in use. Under write_mu (or single-threaded at open and close). */
    log_segment **segs;
    uint64_t seg_base;
    size_t seg_count; /* slots in segs */
    log_segment *active; /* appends go here; NULL when read-only */
    uint64_t min_live_segment;
    uint64_t log_bytes, live_bytes; /* totals over the segments, kept by the writer */

    int failed; /* AXS_OK, or the error after which writes are refused (db.h contract 3) */

    /* Live snapshots, oldest first (iterators hold one each). snap_mu guards the list; the
     * writer holds it while it changes the view readers will see next, so a snapshot's
     * sequence and the versions recorded for it agree (docs/concurrency.md). */
    pthread_mutex_t snap_mu;
    axs_snapshot *snap_oldest, *snap_newest;
    uint64_t pub_newest, pub_oldest; /* snapshot bounds of the change being published */
    bool pub_any;

    /* The commit queue. */
    pthread_mutex_t queue_mu;
    db_writer *queue_head, *queue_tail;

    /* Compaction (db.c, "Compaction"): passes are serialised by compact_mu (taken before
     * write_mu); the background thread runs one when woken. */
    pthread_mutex_t compact_mu;
    pthread_t bg_thread;
    bool bg_started;
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv, bg_idle_cv;
    bool bg_stop, bg_wanted, bg_running;
    int bg_rc;
    bool bg_pending; /* a pass was requested and has not ended (under write_mu) */

    uint8_t *wbuf; /* records are assembled here, then written with one write_at */
    size_t wbuf_cap;

    axs_stats st; /* counters (writer's, under write_mu); gets are counted per stripe */
};

enum { DB_WRITE_PUT = 1, DB_WRITE_DELETE = 2, DB_WRITE_BATCH = 3 };

/* ---- Read sections --------------------------------------------------------------------- */
unsigned lr_my_stripe(void);

/* Enters a read section and returns the view to read; *slot must be passed to lr_leave. Inside
 * the section the view does not change and no segment found through it is unmapped. */
static inline const db_view *lr_enter(axs_db *db, lr_slot **slot)
{
    int vi = atomic_load(&db->arrive_at);
    *slot = &db->indicator[vi][lr_my_stripe()];
    atomic_fetch_add(&(*slot)->readers, 1);
    return &db->views[atomic_load(&db->reading)];
}

static inline void lr_leave(lr_slot *slot)
{
    atomic_fetch_sub_explicit(&slot->readers, 1, memory_order_release);
}

/* The view the writer reads (it holds write_mu, so both views are equal and stable). */
static inline db_view *db_wview(axs_db *db)
{
    return &db->views[atomic_load_explicit(&db->reading, memory_order_relaxed)];
}

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
    /* Index cursor on the current key, usable while on_index and the iterator reads the same
     * view (side) with an unchanged mod_count; otherwise moving re-seeks from the current key. */
    kix_cursor cur;
    bool on_index;
    int side;
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
/* Pins seg (inside a read section) so it stays mapped after the section; db_unpin releases. */
void db_pin(log_segment *seg);
void db_unpin(axs_db *db, log_segment *seg);
int db_errno_to_code(int neg_errno);
/* Snapshots (db.c): registers one at the sequence readers currently see (or at seq, if not
 * UINT64_MAX), and releases one. Both take snap_mu only. */
int db_snapshot_register(axs_db *db, uint64_t seq, axs_snapshot **out);
void db_snapshot_unregister(axs_db *db, axs_snapshot *s);

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
 * write_mu and has synced the log up to the position. Returns AXS_OK or an error. */
int ckpt_write(axs_db *db, const ckpt_info *info);
/* Loads CHECKPOINT into views[0]'s index (which must be empty) and the segments' live bytes.
 * Returns AXS_OK, AXS_ENOTFOUND (no checkpoint), or AXS_ECORRUPT with a reason in db->err;
 * on failure the index is left empty. Segments must already be open. */
int ckpt_load(axs_db *db, ckpt_info *info);

#endif /* ALEXSTORAGE_DB_INTERNAL_H */
