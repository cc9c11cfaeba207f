/*
 * db.c: the AlexStorage engine: open and recovery, the write path, reads, flush, compaction
 * and statistics. The contract is alexstorage/db.h; the files are described in
 * docs/format.md and the design in docs/architecture.md.
 *
 * Invariants:
 *  - Every key in the index points at a PUT entry inside a valid record of an open segment,
 *    below that segment's size.
 *  - A record is appended with one write_at; the index changes only after the append (and the
 *    sync, if asked for) succeeded, so readers never see data the log does not hold.
 *  - seg->live_bytes is the sum of the sizes of the entries the index points to in seg.
 *  - After a failed sync or a failed append that could not be undone, db->failed is set and
 *    stays set: every later write returns it.
 *  - Concurrency (docs/concurrency.md): readers use only the view `reading` names, inside a
 *    read section, and the segment table; the writer (write_mu) changes only the other view,
 *    and changes a view readers used only after a drain (lr_drain) showed none is left in it.
 *    A segment leaves the segment table before the drain that precedes its unmapping.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Errors -------------------------------------------------------------------------------- */

const char *axs_strerror(int code)
{
    switch (code) {
    case AXS_OK:
        return "success";
    case AXS_EINVAL:
        return "invalid argument";
    case AXS_ENOMEM:
        return "out of memory";
    case AXS_EIO:
        return "I/O error";
    case AXS_ECORRUPT:
        return "corruption";
    case AXS_ENOTFOUND:
        return "database does not exist";
    case AXS_EEXIST:
        return "database exists";
    case AXS_EBUSY:
        return "database is in use by another process";
    case AXS_ENOTSUP:
        return "not supported";
    case AXS_ENOSPC:
        return "no space left on device";
    case AXS_EREADONLY:
        return "database is open read-only";
    case AXS_ENOTDB:
        return "not an AlexStorage database";
    default:
        return "unknown error code";
    }
}

int db_errno_to_code(int neg_errno)
{
    switch (-neg_errno) {
    case 0:
        return AXS_OK;
    case ENOMEM:
        return AXS_ENOMEM;
    case ENOSPC:
    case EDQUOT:
        return AXS_ENOSPC;
    case ENOENT:
        return AXS_ENOTFOUND;
    case EEXIST:
        return AXS_EEXIST;
    case EWOULDBLOCK:
        return AXS_EBUSY;
    default:
        return AXS_EIO;
    }
}

/* The last error message is kept per thread (and per handle): readers run concurrently, and a
 * message belongs to the call that failed, which returns in the thread that made it. */
static _Thread_local struct {
    const axs_db *db;
    char msg[DB_ERRBUF];
} last_error;

int db_set_error(axs_db *db, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    last_error.db = db;
    vsnprintf(last_error.msg, sizeof last_error.msg, fmt, ap);
    va_end(ap);
    return code;
}

const char *axs_last_error(axs_db *db)
{
    return db && last_error.db == db ? last_error.msg : "";
}

/* ---- Read sections (left-right) ------------------------------------------------------------- */

static _Atomic unsigned lr_stripes_handed_out;
static _Thread_local unsigned lr_stripe_plus_one;

unsigned lr_my_stripe(void)
{
    if (!lr_stripe_plus_one)
        lr_stripe_plus_one = atomic_fetch_add(&lr_stripes_handed_out, 1) % LR_STRIPES + 1;
    return lr_stripe_plus_one - 1;
}

static void lr_wait_empty(axs_db *db, int vi)
{
    for (unsigned s = 0; s < LR_STRIPES; s++)
        for (unsigned spins = 0; atomic_load(&db->indicator[vi][s].readers) != 0; spins++)
            if (spins > 64)
                sched_yield();
}

/* Returns once no reader can still be reading the view that was `reading` before the writer's
 * last flip: readers that arrived before the flip arrived at the old indicator, which is
 * emptied after new readers are sent to the other one (Ramalhete and Correia's left-right). */
static void lr_drain(axs_db *db)
{
    int prev = atomic_load(&db->arrive_at), next = 1 - prev;
    lr_wait_empty(db, next);
    atomic_store(&db->arrive_at, next);
    lr_wait_empty(db, prev);
}

/* A change of the views, applied once per view. first is true for the first view (the one
 * readers do not see yet); shared bookkeeping (live bytes, statistics) is done then only. */
typedef int (*db_change_fn)(axs_db *db, db_view *v, void *arg, bool first);

static void db_collect_versions(axs_db *db, db_view *v)
{
    if (v->versions && !vs_empty(v->versions))
        vs_collect(v->versions, db->pub_any, db->pub_oldest);
}

/*
 * Publishes a change: applies it to the view readers do not use, makes that view the one they
 * use, waits until none is left in the other, and applies it there too. Caller holds write_mu.
 * The snapshot bounds the change records versions against are read once, under snap_mu, and
 * held until the flip, so a snapshot taken meanwhile sees either none or all of the change
 * with its versions. If applying fails (memory), the views may differ: the failed view is
 * never shown to readers, and the database refuses writes from then on (reopen recovers).
 */
static int db_publish(axs_db *db, db_change_fn fn, void *arg)
{
    int r = atomic_load(&db->reading), w = 1 - r;
    pthread_mutex_lock(&db->snap_mu);
    db->pub_any = db->snap_oldest != NULL;
    db->pub_oldest = db->snap_oldest ? db->snap_oldest->seq : 0;
    db->pub_newest = db->snap_newest ? db->snap_newest->seq : 0;
    db_collect_versions(db, &db->views[w]);
    int rc = fn(db, &db->views[w], arg, true);
    db->views[w].mod_count++;
    if (!rc)
        atomic_store(&db->reading, w);
    pthread_mutex_unlock(&db->snap_mu);
    if (rc) {
        db->failed = rc;
        return db_set_error(db, rc, "out of memory updating the index; reopen to recover");
    }
    lr_drain(db);
    db_collect_versions(db, &db->views[r]);
    rc = fn(db, &db->views[r], arg, false);
    db->views[r].mod_count++;
    if (rc) {
        db->failed = rc;
        return db_set_error(db, rc, "out of memory updating the index; reopen to recover");
    }
    return AXS_OK;
}

void axs_options_init(axs_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->paranoid_checks = true;
    o->compression = AXS_COMPRESSION_NONE;
    o->segment_size = DB_DEFAULT_SEGMENT_SIZE;
    o->compaction_garbage_ratio = DB_DEFAULT_GARBAGE_RATIO;
}

void axs_write_options_init(axs_write_options *o)
{
    if (o)
        memset(o, 0, sizeof *o);
}

void axs_read_options_init(axs_read_options *o)
{
    if (o) {
        o->verify_checksums = true;
        o->snapshot = NULL;
    }
}

/* ---- Segments and entries ------------------------------------------------------------------ */

log_segment *db_segment(const axs_db *db, uint64_t number)
{
    if (number > FMT_LOC_MAX_SEGMENT)
        return NULL;
    segtab_chunk *c = atomic_load_explicit(&db->segtab[number >> SEGTAB_CHUNK_BITS],
                                           memory_order_acquire);
    return c ? atomic_load_explicit(&c->seg[number & (SEGTAB_CHUNK - 1)], memory_order_acquire)
             : NULL;
}

/* Sets the readers' table entry of segment number (seg, or NULL to remove it). */
static int db_segtab_set(axs_db *db, uint64_t number, log_segment *seg)
{
    _Atomic(segtab_chunk *) *slot = &db->segtab[number >> SEGTAB_CHUNK_BITS];
    segtab_chunk *c = atomic_load_explicit(slot, memory_order_relaxed);
    if (!c) {
        if (!seg)
            return AXS_OK;
        if (!(c = calloc(1, sizeof *c)))
            return AXS_ENOMEM;
        atomic_store_explicit(slot, c, memory_order_release);
    }
    atomic_store_explicit(&c->seg[number & (SEGTAB_CHUNK - 1)], seg, memory_order_release);
    return AXS_OK;
}

/* Appends x to the growable array *v of *n values (room for *cap). On AXS_ENOMEM the array is
 * left as it was; its owner frees it either way. */
static int u64_append(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        uint64_t *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return AXS_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = x;
    return AXS_OK;
}

/* Adds an open segment to the tables, growing the writer's as needed. */
static int db_add_segment(axs_db *db, log_segment *seg)
{
    if (seg->number > FMT_LOC_MAX_SEGMENT)
        return AXS_ENOMEM;
    if (db->seg_count == 0)
        db->seg_base = seg->number;
    if (seg->number < db->seg_base) {
        size_t shift = (size_t)(db->seg_base - seg->number);
        log_segment **s = calloc(db->seg_count + shift, sizeof(log_segment *));
        if (!s)
            return AXS_ENOMEM;
        memcpy(s + shift, db->segs, db->seg_count * sizeof(log_segment *));
        free(db->segs);
        db->segs = s;
        db->seg_count += shift;
        db->seg_base = seg->number;
    }
    size_t idx = (size_t)(seg->number - db->seg_base);
    if (idx >= db->seg_count) {
        size_t n = idx + 1 > 2 * db->seg_count ? idx + 1 : 2 * db->seg_count;
        log_segment **s = realloc(db->segs, n * sizeof(log_segment *));
        if (!s)
            return AXS_ENOMEM;
        memset(s + db->seg_count, 0, (n - db->seg_count) * sizeof(log_segment *));
        db->segs = s;
        db->seg_count = n;
    }
    if (db_segtab_set(db, seg->number, seg) != AXS_OK)
        return AXS_ENOMEM;
    db->segs[idx] = seg;
    db->log_bytes += seg->size;
    return AXS_OK;
}

/* The oldest open segment's number (0 if none). */
static uint64_t db_first_segment_number(const axs_db *db)
{
    for (size_t i = 0; i < db->seg_count; i++)
        if (db->segs[i])
            return db->seg_base + i;
    return 0;
}

static uint64_t db_last_segment_number(const axs_db *db)
{
    for (size_t i = db->seg_count; i-- > 0;)
        if (db->segs[i])
            return db->seg_base + i;
    return 0;
}

int db_entry_at(axs_db *db, uint64_t loc, bool verify, fmt_entry *e)
{
    log_segment *seg = db_segment(db, fmt_loc_segment(loc));
    uint64_t off = fmt_loc_offset(loc);
    if (!seg || off < FMT_SEG_HEADER_SIZE || off >= seg->size ||
        fmt_entry_decode(seg->map + off, seg->size - off, verify, e) != 0) {
        /* The code is returned here, not through db_set_error: the static analyzer does not
         * follow variadic calls, and callers read *e only after AXS_OK (docs/lint.md). */
        db_set_error(db, AXS_ECORRUPT,
                     "Corruption: bad entry in segment %" PRIu64 " at offset %" PRIu64 "%s",
                     fmt_loc_segment(loc), off, verify ? " (checksum or format)" : "");
        return AXS_ECORRUPT;
    }
    return AXS_OK;
}

int db_entry_value(axs_db *db, const fmt_entry *e, uint8_t **buf, size_t *cap,
                   const uint8_t **value, size_t *vlen)
{
    if (!(e->flags & FMT_ENTRY_FLAG_LZ4)) {
        *value = e->value;
        *vlen = e->vlen_stored;
        return AXS_OK;
    }
    /* Codes returned explicitly, as in db_entry_at: *value is set only on AXS_OK. */
    if (e->vlen_stored < 4) {
        db_set_error(db, AXS_ECORRUPT, "Corruption: compressed value too short");
        return AXS_ECORRUPT;
    }
    uint32_t raw = fmt_get32(e->value);
    if (raw > AXS_MAX_VALUE_LEN) {
        db_set_error(db, AXS_ECORRUPT, "Corruption: compressed value length %u", raw);
        return AXS_ECORRUPT;
    }
    if (*cap < raw || !*buf) {
        uint8_t *nb = realloc(*buf, raw ? raw : 1);
        if (!nb)
            return AXS_ENOMEM;
        *buf = nb;
        *cap = raw ? raw : 1;
    }
    int got = LZ4_decompress_safe((const char *)e->value + 4, (char *)*buf,
                                  (int)(e->vlen_stored - 4), (int)raw);
    if (got < 0 || (uint32_t)got != raw) {
        db_set_error(db, AXS_ECORRUPT, "Corruption: LZ4 value does not decompress");
        return AXS_ECORRUPT;
    }
    *value = *buf;
    *vlen = raw;
    return AXS_OK;
}

/* kix callback: the key of the entry at loc. Locations in the index are trusted (validated
 * when they entered it). */
static const uint8_t *db_key_at(void *ctx, uint64_t loc, size_t *len)
{
    const axs_db *db = ctx;
    const log_segment *seg = db_segment(db, fmt_loc_segment(loc));
    const uint8_t *p = seg->map + fmt_loc_offset(loc);
    *len = fmt_get32(p + 8);
    return p + FMT_ENTRY_HEADER_SIZE;
}

/* kix prefetch hint: start loading the entry at loc (its header and the key's first bytes). */
static void db_prefetch_key(void *ctx, uint64_t loc)
{
    const axs_db *db = ctx;
    const log_segment *seg = db_segment(db, fmt_loc_segment(loc));
    if (seg && seg->map && fmt_loc_offset(loc) < seg->size)
        __builtin_prefetch(seg->map + fmt_loc_offset(loc));
}

/* A new, empty key index over this database's log. */
static int db_index_create(axs_db *db, kix **out)
{
    if (kix_create(db_key_at, db, out) != AXI_OK)
        return AXS_ENOMEM;
    kix_set_prefetch(*out, db_prefetch_key);
    return AXS_OK;
}

void db_pin(log_segment *seg)
{
    atomic_fetch_add(&seg->pin_state, 1);
}

void db_unpin(axs_db *db, log_segment *seg)
{
    if (seg && atomic_fetch_sub(&seg->pin_state, 1) == (LOG_OBSOLETE | 1))
        log_segment_close(db->io, seg);
}

/* Takes seg out of use after compaction removed it from both tables and drained the readers:
 * closed now, or by the last db_unpin. */
static void db_retire_segment(axs_db *db, log_segment *seg)
{
    if (atomic_fetch_or(&seg->pin_state, LOG_OBSOLETE) == 0)
        log_segment_close(db->io, seg);
}

/* ---- Applying records to the index (writes and recovery) -------------------------------------- */

/* Removes the live-byte accounting of the entry at loc. */
static void db_forget_entry(axs_db *db, uint64_t loc)
{
    log_segment *seg = db_segment(db, fmt_loc_segment(loc));
    if (!seg)
        return;
    const uint8_t *p = seg->map + fmt_loc_offset(loc);
    uint64_t size = fmt_entry_size(fmt_get32(p + 8), fmt_get32(p + 12));
    seg->live_bytes -= size <= seg->live_bytes ? size : seg->live_bytes;
    db->live_bytes -= size <= db->live_bytes ? size : db->live_bytes;
}

static void db_count_entry(axs_db *db, log_segment *seg, uint64_t size)
{
    seg->live_bytes += size;
    db->live_bytes += size;
}

/* Records, for live snapshots, that the write numbered seq replaced key's state. */
static int db_record_version(axs_db *db, db_view *v, const void *key, size_t klen, uint64_t seq,
                             uint64_t old)
{
    if (!db->pub_any)
        return AXS_OK;
    return vs_record(v->versions, key, klen, seq, old, db->pub_newest);
}

/* Removes every key in [e->key, e->value) from view v's index, recording old states for live
 * snapshots. Locations are gathered first: deleting invalidates the cursor. */
static int db_apply_range_delete(axs_db *db, db_view *v, const fmt_entry *e, uint64_t seq,
                                 bool account)
{
    if (kix_key_cmp(e->key, e->klen, e->value, e->vlen_stored) >= 0)
        return AXS_OK;
    uint64_t *locs = NULL;
    size_t n = 0, cap = 0;
    kix_cursor c;
    for (bool on = kix_seek(v->index, e->key, e->klen, &c); on; on = kix_next(v->index, &c)) {
        uint64_t loc = kix_cursor_loc(v->index, &c);
        fmt_entry k;
        if (db_entry_at(db, loc, false, &k) != AXS_OK) {
            free(locs);
            return AXS_ECORRUPT;
        }
        if (kix_key_cmp(k.key, k.klen, e->value, e->vlen_stored) >= 0)
            break;
        if (u64_append(&locs, &n, &cap, loc) != AXS_OK) {
            free(locs);
            return AXS_ENOMEM;
        }
    }
    int rc = AXS_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        fmt_entry k;
        uint64_t old;
        if (db_entry_at(db, locs[i], false, &k) != AXS_OK) { /* read above: cannot fail */
            rc = AXS_ECORRUPT;
            break;
        }
        if (!kix_delete(v->index, k.key, k.klen, &old))
            continue;
        rc = db_record_version(db, v, k.key, k.klen, seq, old);
        if (account)
            db_forget_entry(db, old);
    }
    free(locs);
    return rc;
}

/* Applies the entries of a validated record at seg/offset to view v's index; with account,
 * also to the live-byte accounting and the sequence number. */
static int db_apply_record(axs_db *db, db_view *v, log_segment *seg, uint64_t offset,
                           const fmt_record *r, bool account)
{
    if (r->type == FMT_RECORD_SEAL) {
        if (r->sequence > v->seq)
            v->seq = r->sequence;
        return AXS_OK;
    }
    uint64_t off = offset + FMT_RECORD_HEADER_SIZE;
    for (uint32_t i = 0; i < r->count; i++) {
        fmt_entry e;
        fmt_entry_decode(seg->map + off, seg->size - off, false, &e); /* validated already */
        uint64_t size = fmt_entry_size(e.klen, e.vlen_stored);
        uint64_t old;
        bool had;
        if (e.type == FMT_ENTRY_DELETE_RANGE) {
            int rc = db_apply_range_delete(db, v, &e, r->sequence + i, account);
            if (rc)
                return rc;
            off += size;
            continue;
        }
        bool changed = true;
        if (e.type == FMT_ENTRY_PUT) {
            int rc = kix_put(v->index, e.key, e.klen, fmt_loc(seg->number, off), &old, &had);
            if (rc != AXI_OK)
                return AXS_ENOMEM;
            if (account) {
                if (had)
                    db_forget_entry(db, old);
                db_count_entry(db, seg, size);
            }
        } else if ((had = kix_delete(v->index, e.key, e.klen, &old))) {
            if (account)
                db_forget_entry(db, old);
        } else {
            changed = false; /* deleting a missing key changes nothing a snapshot could see */
        }
        /* A live snapshot may still need the state this entry replaced (snapshot.h). A
         * COMPACTED record only moves values, which no snapshot can tell. */
        if (changed && r->type == FMT_RECORD_WRITE &&
            db_record_version(db, v, e.key, e.klen, r->sequence + i, had ? old : VS_ABSENT))
            return AXS_ENOMEM;
        off += size;
    }
    /* WRITE records number their entries; a COMPACTED record carries the last sequence
     * number at the time of the compaction, which numbering must never fall below. */
    uint64_t last = r->type == FMT_RECORD_WRITE ? r->sequence + r->count - 1 : r->sequence;
    if (last > v->seq)
        v->seq = last;
    return AXS_OK;
}

static int recovery_record(void *arg, log_segment *seg, uint64_t offset, const fmt_record *r)
{
    axs_db *db = arg;
    db->st.recovered_records++;
    return db_apply_record(db, &db->views[0], seg, offset, r, true);
}

/* ---- The write path ---------------------------------------------------------------------------- */

static int db_reserve_wbuf(axs_db *db, size_t need)
{
    if (need <= db->wbuf_cap)
        return AXS_OK;
    size_t cap = db->wbuf_cap ? db->wbuf_cap : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *b = realloc(db->wbuf, cap);
    if (!b)
        return AXS_ENOMEM;
    db->wbuf = b;
    db->wbuf_cap = cap;
    return AXS_OK;
}

/* Appends a SEAL record to seg and syncs it: seg will not be appended to again, so only the
 * last segment can ever hold a torn write, and a sealed segment that lost its end is known.
 * A segment already sealed is left alone: the active segment stays sealed when starting its
 * successor failed, and a second SEAL would be a record after the SEAL (corruption once a
 * later segment exists). */
static int db_seal(axs_db *db, log_segment *seg)
{
    if (seg->sealed)
        return AXS_OK;
    uint8_t rec[FMT_RECORD_HEADER_SIZE];
    fmt_record_header_encode(rec, FMT_RECORD_SEAL, 0, db_wview(db)->seq, sizeof rec, 0);
    int rc = log_append(db->io, seg, rec, sizeof rec);
    if (rc) {
        if (db->io->truncate(db->io->ctx, seg->file, seg->size) != 0)
            db->failed = AXS_EIO;
        return db_set_error(db, db_errno_to_code(rc), "IO error: sealing segment %" PRIu64
                            ": %s", seg->number, strerror(-rc));
    }
    seg->sealed = true; /* even if the sync fails: nothing may follow the SEAL */
    db->log_bytes += sizeof rec;
    rc = db->io->sync(db->io->ctx, seg->file);
    if (rc) {
        db->failed = AXS_EIO;
        return db_set_error(db, AXS_EIO, "IO error: sync of segment %" PRIu64 ": %s",
                            seg->number, strerror(-rc));
    }
    return AXS_OK;
}

/* Makes db->active able to take a record of len bytes, starting a new segment if needed. */
static int db_make_room(axs_db *db, uint64_t len)
{
    log_segment *seg = db->active;
    if (!seg->sealed && seg->size + len + FMT_RECORD_HEADER_SIZE <= seg->capacity &&
        (seg->size + len <= db->opts.segment_size || seg->size == FMT_SEG_HEADER_SIZE))
        return AXS_OK;
    int rc = db_seal(db, seg);
    if (rc)
        return rc;
    /* Room for the record and the SEAL that will follow it. */
    uint64_t cap = db->opts.segment_size;
    if (cap < FMT_SEG_HEADER_SIZE + len + FMT_RECORD_HEADER_SIZE)
        cap = FMT_SEG_HEADER_SIZE + len + FMT_RECORD_HEADER_SIZE;
    uint64_t number = db_last_segment_number(db) + 1;
    if (number > FMT_LOC_MAX_SEGMENT)
        return db_set_error(db, AXS_ENOSPC, "IO error: segment numbers exhausted");
    log_segment *next;
    bool sync_failed;
    rc = log_segment_create(db->io, db->path, number, cap, &next, &sync_failed);
    if (rc) {
        if (sync_failed)
            db->failed = AXS_EIO;
        return db_set_error(db, db_errno_to_code(rc),
                            "IO error: creating segment %" PRIu64 ": %s", number, strerror(-rc));
    }
    rc = db_add_segment(db, next);
    if (rc) {
        log_segment_close(db->io, next);
        return rc;
    }
    db->active = next;
    db->st.segments++;
    return AXS_OK;
}

/* Appends len bytes of db->wbuf to the active segment. On failure the segment is cut back to
 * its old size so that the next append starts at a record boundary; if even that fails the
 * database is marked failed. */
static int db_append(axs_db *db, size_t len)
{
    log_segment *seg = db->active;
    uint64_t at = seg->size;
    int rc = log_append(db->io, seg, db->wbuf, len);
    if (!rc) {
        db->log_bytes += len;
        return AXS_OK;
    }
    if (db->io->truncate(db->io->ctx, seg->file, at) != 0)
        db->failed = AXS_EIO;
    seg->size = at;
    if (seg->written_back > at)
        seg->written_back = at;
    return db_set_error(db, db_errno_to_code(rc), "IO error: append to segment %" PRIu64 ": %s",
                        seg->number, strerror(-rc));
}

static int db_check_writable(axs_db *db)
{
    /* Codes returned explicitly (see db_entry_at): callers go on to write only on AXS_OK. */
    if (db->opts.read_only) {
        db_set_error(db, AXS_EREADONLY, "Not supported: database is open read-only");
        return AXS_EREADONLY;
    }
    if (db->failed) {
        db_set_error(db, db->failed, "IO error: database failed earlier; writes refused");
        return db->failed;
    }
    return AXS_OK;
}

/* Encodes one entry at dst (room for FMT_ENTRY_HEADER_SIZE + klen + LZ4 bound of vlen),
 * compressing the value when the database compresses and it pays. Returns the entry size;
 * *crc gets the entry's masked CRC. */
static size_t db_encode_entry(const axs_options *o, uint8_t *dst, uint8_t type, const void *key,
                              uint32_t klen, const void *value, uint32_t vlen, uint32_t *crc)
{
    if (type == FMT_ENTRY_PUT && o->compression == AXS_COMPRESSION_LZ4 && vlen > 16) {
        uint8_t *out = dst + FMT_ENTRY_HEADER_SIZE + klen;
        int bound = LZ4_compressBound((int)vlen);
        int n = LZ4_compress_default(value, (char *)out + 4, (int)vlen, bound);
        if (n > 0 && (uint32_t)n + 4 < vlen) {
            fmt_put32(out, vlen);
            *crc = fmt_entry_encode(dst, type, FMT_ENTRY_FLAG_LZ4, key, klen, out,
                                    (uint32_t)n + 4);
            return (size_t)fmt_entry_size(klen, (uint32_t)n + 4);
        }
    }
    *crc = fmt_entry_encode(dst, type, 0, key, klen, value, vlen);
    return (size_t)fmt_entry_size(klen, vlen);
}

static size_t entry_room(uint32_t klen, uint32_t vlen)
{
    return FMT_ENTRY_HEADER_SIZE + klen + (size_t)LZ4_compressBound((int)vlen) + 4 + vlen;
}

static void db_compaction_check(axs_db *db);
static int db_compaction_start(axs_db *db);
static void db_compaction_stop(axs_db *db);

/* ---- Group commit ------------------------------------------------------------------------------ */

#define DB_GROUP_MAX_BYTES (1u << 20) /* a group stops growing at this many bytes */

/* The records of a commit group, as placed in db->wbuf and appended at seg/at. */
typedef struct db_group {
    db_writer *first, *last;
    log_segment *seg;
    uint64_t at;
    size_t n;
    size_t *offsets;   /* record i starts at at + offsets[i] */
    fmt_record *recs;
} db_group;

static int group_apply(axs_db *db, db_view *v, void *arg, bool first)
{
    db_group *g = arg;
    for (size_t i = 0; i < g->n; i++) {
        int rc = db_apply_record(db, v, g->seg, g->at + g->offsets[i], &g->recs[i], first);
        if (rc)
            return rc;
    }
    return AXS_OK;
}

static size_t writer_bytes(const db_writer *w)
{
    return (size_t)fmt_align(FMT_RECORD_HEADER_SIZE + w->len);
}

/*
 * Commits the writers first..last (the queue's head group) as one append of their records,
 * numbered in queue order, one fdatasync if any of them asked for one, and one publication of
 * the index change. Caller holds write_mu. Returns the result every writer of the group gets.
 */
static int db_commit_group(axs_db *db, db_writer *first, db_writer *last)
{
    int rc = db_check_writable(db);
    if (rc)
        return rc;
    size_t n = 0, total = 0;
    bool sync = false;
    for (db_writer *w = first;; w = w->next) {
        n++;
        total += writer_bytes(w);
        sync |= w->sync;
        if (w == last)
            break;
    }
    /* A group of a few writers (the usual case) needs no allocation. */
    size_t offsets_small[16];
    fmt_record recs_small[16];
    bool small = n <= 16;
    db_group g = {first, last, NULL, 0, n, small ? offsets_small : malloc(n * sizeof(size_t)),
                  small ? recs_small : malloc(n * sizeof(fmt_record))};
    if (!g.offsets || !g.recs || db_reserve_wbuf(db, total) != AXS_OK) {
        if (!small) {
            free(g.offsets);
            free(g.recs);
        }
        return AXS_ENOMEM;
    }
    uint64_t seq = db_wview(db)->seq + 1;
    size_t off = 0, i = 0;
    for (db_writer *w = first;; w = w->next, i++) {
        fmt_record r = {FMT_RECORD_WRITE, w->count, seq,
                        (uint32_t)(FMT_RECORD_HEADER_SIZE + w->len)};
        fmt_record_header_encode(db->wbuf + off, r.type, r.count, r.sequence, r.length, w->crcs);
        memcpy(db->wbuf + off + FMT_RECORD_HEADER_SIZE, w->payload, w->len);
        size_t padded = writer_bytes(w);
        memset(db->wbuf + off + r.length, 0, padded - r.length);
        g.offsets[i] = off;
        g.recs[i] = r;
        off += padded;
        seq += w->count;
        if (w == last)
            break;
    }
    rc = db_make_room(db, total);
    if (!rc) {
        g.seg = db->active;
        g.at = g.seg->size;
        rc = db_append(db, total);
    }
    if (!rc && sync) {
        db->st.syncs++;
        int src = db->io->sync(db->io->ctx, g.seg->file);
        if (src) {
            db->failed = AXS_EIO;
            rc = db_set_error(db, AXS_EIO, "IO error: sync of segment %" PRIu64 ": %s",
                              g.seg->number, strerror(-src));
        }
    }
    if (!rc)
        rc = db_publish(db, group_apply, &g);
    if (!rc) {
        db->st.commit_groups++;
        for (db_writer *w = first;; w = w->next) {
            if (w->sync)
                db->st.synced_writes++;
            if (w->kind == DB_WRITE_PUT)
                db->st.puts++;
            else if (w->kind == DB_WRITE_DELETE)
                db->st.deletes++;
            else
                db->st.batches++;
            if (w == last)
                break;
        }
        db_compaction_check(db);
    }
    if (!small) {
        free(g.offsets);
        free(g.recs);
    }
    return rc;
}

/*
 * Queues w and waits. The writer at the head of the queue leads: it takes the writers queued
 * behind it (up to DB_GROUP_MAX_BYTES; a writer asking for sync does not join a group that
 * would not sync), commits them as one group under write_mu while others keep queueing, hands
 * each its result, and wakes the next head. Writers are committed in queue order.
 */
static int db_submit(axs_db *db, db_writer *w)
{
    pthread_cond_init(&w->cv, NULL);
    w->done = false;
    w->rc = AXS_OK;
    w->next = NULL;
    pthread_mutex_lock(&db->queue_mu);
    if (db->queue_tail)
        db->queue_tail->next = w;
    else
        db->queue_head = w;
    db->queue_tail = w;
    while (!w->done && db->queue_head != w)
        pthread_cond_wait(&w->cv, &db->queue_mu);
    if (w->done) {
        pthread_mutex_unlock(&db->queue_mu);
        pthread_cond_destroy(&w->cv);
        /* The leader's message, in this thread's last error (errors are per thread). */
        if (w->rc)
            db_set_error(db, w->rc, "%s", w->err);
        return w->rc;
    }
    db_writer *last = w;
    size_t bytes = writer_bytes(w);
    size_t limit = DB_GROUP_MAX_BYTES;
    if (limit > db->opts.segment_size / 2)
        limit = (size_t)db->opts.segment_size / 2;
    for (db_writer *x = w->next; x; x = x->next) {
        if ((x->sync && !w->sync) || bytes + writer_bytes(x) > limit)
            break;
        bytes += writer_bytes(x);
        last = x;
    }
    pthread_mutex_unlock(&db->queue_mu);

    pthread_mutex_lock(&db->write_mu);
    int rc = db_commit_group(db, w, last);
    char msg[DB_ERRBUF];
    if (rc)
        snprintf(msg, sizeof msg, "%s", axs_last_error(db));
    pthread_mutex_unlock(&db->write_mu);

    pthread_mutex_lock(&db->queue_mu);
    db_writer *x = w;
    for (;;) {
        db_writer *next = x->next; /* x may be gone once done is set */
        bool is_last = x == last;
        if (x != w) {
            x->rc = rc;
            if (rc)
                snprintf(x->err, sizeof x->err, "%s", msg);
            x->done = true;
            pthread_cond_signal(&x->cv);
        }
        if (is_last) {
            db->queue_head = next;
            break;
        }
        x = next;
    }
    if (!db->queue_head)
        db->queue_tail = NULL;
    else
        pthread_cond_signal(&db->queue_head->cv);
    pthread_mutex_unlock(&db->queue_mu);
    pthread_cond_destroy(&w->cv);
    if (rc)
        db_set_error(db, rc, "%s", msg);
    return rc;
}

static int db_write_one(axs_db *db, const axs_write_options *wo, uint8_t type, const void *key,
                        size_t klen, const void *value, size_t vlen)
{
    if (!db || (!key && klen) || (!value && vlen))
        return AXS_EINVAL;
    if (klen > AXS_MAX_KEY_LEN)
        return db_set_error(db, AXS_EINVAL, "Invalid argument: key of %zu bytes exceeds %u",
                            klen, AXS_MAX_KEY_LEN);
    if (vlen > AXS_MAX_VALUE_LEN)
        return db_set_error(db, AXS_EINVAL, "Invalid argument: value of %zu bytes exceeds %u",
                            vlen, AXS_MAX_VALUE_LEN);
    if (db->opts.read_only)
        return db_set_error(db, AXS_EREADONLY, "Not supported: database is open read-only");
    /* The entry is encoded (and compressed, and checksummed) here, by the writing thread,
     * outside every lock. */
    uint8_t stack[1024];
    size_t room = entry_room((uint32_t)klen, (uint32_t)vlen);
    uint8_t *buf = room <= sizeof stack ? stack : malloc(room);
    if (!buf)
        return AXS_ENOMEM;
    uint32_t crc;
    db_writer w; /* not zeroed: every field is set here or by db_submit (err is 512 bytes) */
    w.len = db_encode_entry(&db->opts, buf, type, key, (uint32_t)klen, value, (uint32_t)vlen,
                            &crc);
    uint8_t crcb[4];
    fmt_put32(crcb, crc);
    w.payload = buf;
    w.count = 1;
    w.crcs = fmt_crc32c(crcb, 4);
    w.kind = type == FMT_ENTRY_PUT ? DB_WRITE_PUT : DB_WRITE_DELETE;
    w.sync = wo && wo->sync;
    int rc = db_submit(db, &w);
    if (buf != stack)
        free(buf);
    return rc;
}

int axs_put(axs_db *db, const axs_write_options *wopts, const void *key, size_t klen,
            const void *value, size_t vlen)
{
    return db_write_one(db, wopts, FMT_ENTRY_PUT, key, klen, value, vlen);
}

int axs_delete(axs_db *db, const axs_write_options *wopts, const void *key, size_t klen)
{
    return db_write_one(db, wopts, FMT_ENTRY_DELETE, key, klen, NULL, 0);
}

int axs_delete_range(axs_db *db, const axs_write_options *wopts, const void *begin, size_t blen,
                     const void *end, size_t elen)
{
    if (elen > AXS_MAX_KEY_LEN || (!end && elen))
        return AXS_EINVAL;
    return db_write_one(db, wopts, FMT_ENTRY_DELETE_RANGE, begin, blen, end, elen);
}

int axs_write(axs_db *db, const axs_write_options *wopts, const axs_batch *b)
{
    if (!db || !b)
        return AXS_EINVAL;
    if (b->len + FMT_RECORD_HEADER_SIZE > UINT32_MAX - 8)
        return db_set_error(db, AXS_EINVAL, "Invalid argument: batch of %zu bytes is too large",
                            b->len);
    if (db->opts.read_only)
        return db_set_error(db, AXS_EREADONLY, "Not supported: database is open read-only");
    if (b->count == 0) {
        pthread_mutex_lock(&db->write_mu);
        int rc = db_check_writable(db);
        pthread_mutex_unlock(&db->write_mu);
        return rc;
    }
    db_writer w; /* every field is set here or by db_submit */
    w.payload = b->data;
    w.len = b->len;
    w.count = b->count;
    w.crcs = b->entry_crcs;
    w.kind = DB_WRITE_BATCH;
    w.sync = wopts && wopts->sync;
    return db_submit(db, &w);
}

/* ---- Batches ------------------------------------------------------------------------------------ */

axs_batch *axs_batch_create(void)
{
    return calloc(1, sizeof(axs_batch));
}

void axs_batch_destroy(axs_batch *b)
{
    if (b) {
        free(b->data);
        free(b);
    }
}

void axs_batch_clear(axs_batch *b)
{
    if (b) {
        b->len = 0;
        b->count = 0;
        b->entry_crcs = 0;
    }
}

uint32_t axs_batch_count(const axs_batch *b)
{
    return b ? b->count : 0;
}

static int batch_add(axs_batch *b, uint8_t type, const void *key, size_t klen, const void *value,
                     size_t vlen)
{
    if (!b || (!key && klen) || (!value && vlen) || klen > AXS_MAX_KEY_LEN ||
        vlen > AXS_MAX_VALUE_LEN || b->count == UINT32_MAX)
        return AXS_EINVAL;
    /* Batches are not compressed here: compression is a property of the database, applied by
     * the database's own writes (docs/format.md notes that a batch's values are stored raw). */
    size_t need = (size_t)fmt_entry_size((uint32_t)klen, (uint32_t)vlen);
    if (b->len + need > UINT32_MAX / 2)
        return AXS_EINVAL;
    if (b->len + need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + need)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            return AXS_ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    uint32_t crc = fmt_entry_encode(b->data + b->len, type, 0, key, (uint32_t)klen, value,
                                    (uint32_t)vlen);
    uint8_t crcb[4];
    fmt_put32(crcb, crc);
    b->entry_crcs = fmt_crc32c_extend(b->entry_crcs, crcb, 4);
    b->len += need;
    b->count++;
    return AXS_OK;
}

int axs_batch_put(axs_batch *b, const void *key, size_t klen, const void *value, size_t vlen)
{
    return batch_add(b, FMT_ENTRY_PUT, key, klen, value, vlen);
}

int axs_batch_delete(axs_batch *b, const void *key, size_t klen)
{
    return batch_add(b, FMT_ENTRY_DELETE, key, klen, NULL, 0);
}

int axs_batch_delete_range(axs_batch *b, const void *begin, size_t blen, const void *end,
                           size_t elen)
{
    if (elen > AXS_MAX_KEY_LEN)
        return AXS_EINVAL;
    return batch_add(b, FMT_ENTRY_DELETE_RANGE, begin, blen, end, elen);
}

/* ---- Reads ----------------------------------------------------------------------------------- */

/* Finds key in view v and, on a hit, its value: *value points into the mapping, or into *buf
 * (grown as needed, the caller frees it) for a compressed value or a copied old version. *loc
 * is the entry's location (VS_ABSENT for a copy). Called inside a read section; the value
 * pointer stays valid until the section ends (or while its segment is pinned). */
static int db_read_view(axs_db *db, const db_view *v, const axs_read_options *ro,
                        const void *key, size_t klen, bool *found, uint64_t *loc, uint8_t **buf,
                        const uint8_t **value, size_t *vlen)
{
    *found = false;
#ifdef ALEXSTORAGE_GATE_SLOWDOWN
    /* A deliberate slowdown for the performance gate's self-test (compare/CMakeLists.txt
     * builds a copy of the core with it; the gate must fail on that copy). Never defined in
     * a build that ships. */
    for (volatile int spin = 0; spin < 64; spin++) {
    }
#endif
    const axs_snapshot *snap = ro ? ro->snapshot : NULL;
    const vs_version *ver = snap ? vs_lookup(v->versions, key, klen, snap->seq) : NULL;
    if (ver && ver->loc == VS_ABSENT && !ver->copied)
        return AXS_OK;
    if (ver && ver->copied) {
        /* An old value compaction moved into memory: hand out a private copy. */
        if (!(*buf = malloc(ver->vlen ? ver->vlen : 1)))
            return AXS_ENOMEM;
        memcpy(*buf, ver->value, ver->vlen);
        *value = *buf;
        *vlen = ver->vlen;
        *loc = VS_ABSENT;
        *found = true;
        return AXS_OK;
    }
    if (ver)
        *loc = ver->loc;
    else if (!kix_get(v->index, key, klen, loc))
        return AXS_OK;
    fmt_entry e;
    int rc = db_entry_at(db, *loc, ro ? ro->verify_checksums : true, &e);
    size_t cap = 0;
    if (!rc)
        rc = db_entry_value(db, &e, buf, &cap, value, vlen);
    *found = rc == AXS_OK;
    return rc;
}

static int db_check_key(const void *key, size_t klen)
{
    return (!key && klen) || klen > AXS_MAX_KEY_LEN ? AXS_EINVAL : AXS_OK;
}

int axs_get(axs_db *db, const axs_read_options *ropts, const void *key, size_t klen, void *buf,
            size_t buf_len, size_t *vlen, bool *found)
{
    if (!db || !vlen || !found || (!buf && buf_len))
        return AXS_EINVAL;
    *found = false;
    int rc = db_check_key(key, klen);
    if (rc)
        return rc;
    uint8_t *tmp = NULL;
    const uint8_t *v;
    uint64_t loc;
    lr_slot *slot;
    const db_view *view = lr_enter(db, &slot);
    atomic_fetch_add_explicit(&slot->gets, 1, memory_order_relaxed);
    rc = db_read_view(db, view, ropts, key, klen, found, &loc, &tmp, &v, vlen);
    if (*found && buf_len)
        memcpy(buf, v, *vlen < buf_len ? *vlen : buf_len);
    lr_leave(slot);
    free(tmp);
    return rc;
}

int axs_get_alloc(axs_db *db, const axs_read_options *ropts, const void *key, size_t klen,
                  char **value, size_t *vlen, bool *found)
{
    if (!db || !value || !vlen || !found)
        return AXS_EINVAL;
    *value = NULL;
    *found = false;
    int rc = db_check_key(key, klen);
    if (rc)
        return rc;
    uint8_t *tmp = NULL;
    const uint8_t *v;
    uint64_t loc;
    lr_slot *slot;
    const db_view *view = lr_enter(db, &slot);
    atomic_fetch_add_explicit(&slot->gets, 1, memory_order_relaxed);
    rc = db_read_view(db, view, ropts, key, klen, found, &loc, &tmp, &v, vlen);
    if (*found) {
        if (v == tmp) {
            *value = (char *)tmp; /* the decompression buffer becomes the caller's */
            tmp = NULL;
        } else if ((*value = malloc(*vlen ? *vlen : 1)) != NULL) {
            memcpy(*value, v, *vlen);
        } else {
            rc = AXS_ENOMEM;
            *found = false;
        }
    }
    lr_leave(slot);
    free(tmp);
    return rc;
}

int axs_get_pinned(axs_db *db, const axs_read_options *ropts, const void *key, size_t klen,
                   axs_pinned **pin, bool *found)
{
    if (!db || !pin || !found)
        return AXS_EINVAL;
    *pin = NULL;
    *found = false;
    int rc = db_check_key(key, klen);
    if (rc)
        return rc;
    axs_pinned *p = calloc(1, sizeof *p);
    if (!p)
        return AXS_ENOMEM;
    const uint8_t *v;
    uint64_t loc;
    lr_slot *slot;
    const db_view *view = lr_enter(db, &slot);
    atomic_fetch_add_explicit(&slot->gets, 1, memory_order_relaxed);
    rc = db_read_view(db, view, ropts, key, klen, found, &loc, &p->owned, &v, &p->len);
    if (*found) {
        p->db = db;
        p->data = v;
        if (!p->owned) { /* a view into the mapping: keep the segment mapped */
            p->seg = db_segment(db, fmt_loc_segment(loc));
            db_pin(p->seg);
        }
        *pin = p;
        p = NULL;
    }
    lr_leave(slot);
    if (p) {
        free(p->owned);
        free(p);
    }
    return rc;
}

const void *axs_pinned_data(const axs_pinned *pin, size_t *len)
{
    if (!pin) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = pin->len;
    return pin->data;
}

void axs_pinned_release(axs_pinned *pin)
{
    if (!pin)
        return;
    db_unpin(pin->db, pin->seg);
    free(pin->owned);
    free(pin);
}

/* ---- Open and recovery --------------------------------------------------------------------- */

typedef struct dir_scan {
    axs_db *db;
    uint64_t *numbers;
    size_t n, cap;
    bool marker, foreign;
    char foreign_name[256];
} dir_scan;

static int dir_entry(void *arg, const char *name)
{
    dir_scan *ds = arg;
    uint64_t number;
    if (log_parse_segment_name(name, &number)) {
        if (u64_append(&ds->numbers, &ds->n, &ds->cap, number) != AXS_OK)
            return AXS_ENOMEM;
    } else if (strcmp(name, FMT_MARKER_NAME) == 0) {
        ds->marker = true;
    } else if (strcmp(name, FMT_LOCK_NAME) != 0 && strcmp(name, FMT_CKPT_NAME) != 0 &&
               strcmp(name, FMT_CKPT_TMP_NAME) != 0 && strcmp(name, FMT_MARKER_NAME ".tmp") != 0) {
        if (!ds->foreign)
            snprintf(ds->foreign_name, sizeof ds->foreign_name, "%s", name);
        ds->foreign = true;
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void path_join(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

/* Reads a whole small file into a malloc'd buffer. */
static int read_small_file(const axs_io *io, const char *path, uint8_t **out, uint64_t *len)
{
    axs_file *f;
    int rc = io->open(io->ctx, path, AXS_IO_READ, &f);
    if (rc)
        return rc;
    uint64_t size = 0;
    rc = io->size(io->ctx, f, &size);
    uint8_t *buf = NULL;
    if (!rc && size > (uint64_t)1 << 40)
        rc = -EFBIG;
    if (!rc && !(buf = malloc(size ? (size_t)size : 1)))
        rc = -ENOMEM;
    uint64_t got = 0;
    while (!rc && got < size) {
        int64_t r = io->read_at(io->ctx, f, buf + got, (size_t)(size - got), got);
        if (r < 0)
            rc = (int)r;
        else if (r == 0)
            rc = -EIO;
        else
            got += (uint64_t)r;
    }
    io->close(io->ctx, f);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = size;
    return 0;
}

/* Writes a small file durably under its final name: tmp, sync, rename, sync dir. */
static int write_file_atomic(const axs_io *io, const char *dir, const char *name,
                             const void *data, size_t len)
{
    char tmp[4096], final[4096];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
    path_join(final, sizeof final, dir, name);
    axs_file *f;
    int rc = io->open(io->ctx, tmp, AXS_IO_WRITE | AXS_IO_CREATE | AXS_IO_TRUNCATE, &f);
    if (rc)
        return rc;
    int64_t w = io->write_at(io->ctx, f, data, len, 0);
    rc = w < 0 ? (int)w : (size_t)w != len ? -EIO : 0;
    if (!rc)
        rc = io->sync(io->ctx, f);
    io->close(io->ctx, f);
    if (!rc)
        rc = io->rename(io->ctx, tmp, final);
    if (!rc)
        rc = io->sync_dir(io->ctx, dir);
    if (rc)
        io->remove(io->ctx, tmp);
    return rc;
}

static void db_free(axs_db *db)
{
    if (!db)
        return;
    for (int i = 0; i < 2; i++) {
        kix_destroy(db->views[i].index);
        vs_destroy(db->views[i].versions);
    }
    /* Snapshots the caller failed to release (db.h asks them to): freed with the handle. */
    for (axs_snapshot *sn = db->snap_oldest, *nx; sn; sn = nx) {
        nx = sn->next;
        free(sn);
    }
    for (size_t i = 0; i < db->seg_count; i++)
        log_segment_close(db->io, db->segs[i]);
    free(db->segs);
    if (db->segtab) {
        for (size_t i = 0; i < SEGTAB_TOP; i++)
            free(atomic_load(&db->segtab[i]));
        free(db->segtab);
    }
    if (db->lock_file)
        db->io->close(db->io->ctx, db->lock_file);
    pthread_mutex_destroy(&db->write_mu);
    pthread_mutex_destroy(&db->snap_mu);
    pthread_mutex_destroy(&db->queue_mu);
    pthread_mutex_destroy(&db->bg_mu);
    pthread_mutex_destroy(&db->compact_mu);
    pthread_cond_destroy(&db->bg_cv);
    pthread_cond_destroy(&db->bg_idle_cv);
    free(db->wbuf);
    free(db->path);
    free(db);
}

/*
 * Drops the segments numbered below min_live (obsolete since a compaction) and removes their
 * files, oldest first, stopping at the first failure: the files that remain are then always a
 * consecutive run just below the live ones, so the numbering on disk never has a hole.
 */
static void db_remove_obsolete(axs_db *db)
{
    bool removing = !db->opts.read_only;
    bool removed = false;
    /* Out of both tables first; then no reader can find them once the drain returns. */
    size_t first = SIZE_MAX, end = 0;
    for (size_t i = 0; i < db->seg_count; i++) {
        log_segment *seg = db->segs[i];
        if (!seg || seg->number >= db->min_live_segment)
            continue;
        db_segtab_set(db, seg->number, NULL);
        first = first == SIZE_MAX ? i : first;
        end = i + 1;
    }
    if (first == SIZE_MAX)
        return;
    lr_drain(db);
    for (size_t i = first; i < end; i++) {
        log_segment *seg = db->segs[i];
        if (!seg || seg->number >= db->min_live_segment)
            continue;
        char p[4096];
        log_segment_path(p, sizeof p, db->path, seg->number);
        db->segs[i] = NULL;
        uint64_t size = seg->size;
        db->log_bytes -= size <= db->log_bytes ? size : db->log_bytes;
        db->live_bytes -= seg->live_bytes <= db->live_bytes ? seg->live_bytes : db->live_bytes;
        db_retire_segment(db, seg);
        if (removing && db->io->remove(db->io->ctx, p) != 0) {
            removing = false;
        } else if (removing) {
            removed = true;
            db->st.compaction_bytes_removed += size;
        }
    }
    if (removed && db->io->sync_dir(db->io->ctx, db->path) != 0)
        db->failed = AXS_EIO;
}

/* Replays the log from the checkpoint position (or the start) into db->index. */
static int db_replay(axs_db *db, uint64_t from_segment, uint64_t from_offset)
{
    uint64_t last = db_last_segment_number(db);
    for (size_t i = 0; i < db->seg_count; i++) {
        log_segment *seg = db->segs[i];
        if (!seg || seg->number < from_segment)
            continue;
        bool is_last = seg->number == last;
        log_scan_result res;
        uint64_t start = seg->number == from_segment ? from_offset : FMT_SEG_HEADER_SIZE;
        int rc = log_scan(seg, start, is_last, db->opts.paranoid_checks, recovery_record, db,
                          &res);
        if (rc == AXS_ECORRUPT && !db->opts.paranoid_checks && seg->size == 0)
            continue; /* left out by the header check in db_open_locked */
        if (rc == AXS_ECORRUPT)
            return db_set_error(db, rc,
                                "Corruption: segment %" PRIu64 " damaged at offset %" PRIu64,
                                seg->number, res.bad_offset);
        if (rc == AXS_ENOTSUP)
            return db_set_error(db, rc, "Not supported: segment %" PRIu64 " has format version %"
                                        PRIu32 ", newer than this library's %u",
                                seg->number, fmt_get32(seg->map + 8), FMT_VERSION);
        if (rc)
            return rc;
        if (!is_last && !res.sealed && !res.skipped) {
            /* A sealed segment always ends with its SEAL record: this one lost its end. */
            if (db->opts.paranoid_checks)
                return db_set_error(db, AXS_ECORRUPT,
                                    "Corruption: segment %" PRIu64 " is truncated at %" PRIu64
                                    " (no seal record)", seg->number, seg->size);
            db->st.corruptions_skipped++;
            db_set_error(db, AXS_OK, "Corruption skipped: segment %" PRIu64 " is truncated",
                         seg->number);
        }
        if (res.skipped) {
            db->st.corruptions_skipped += res.skipped;
            db_set_error(db, AXS_OK,
                         "Corruption skipped: segment %" PRIu64 " damaged at offset %" PRIu64,
                         seg->number, res.bad_offset);
        }
        if (res.torn_tail && !db->opts.read_only) {
            /* Drop the torn last write so that appends continue from a clean record boundary. */
            uint64_t keep = res.valid_end;
            int t = db->io->truncate(db->io->ctx, seg->file, keep);
            if (!t)
                t = db->io->sync(db->io->ctx, seg->file);
            if (t)
                return db_set_error(db, db_errno_to_code(t),
                                    "IO error: truncating torn tail of segment %" PRIu64,
                                    seg->number);
        }
        if (res.torn_tail)
            seg->size = seg->written_back = res.valid_end;
        seg->sealed = res.sealed && !res.torn_tail;
        if (is_last && !db->opts.read_only && seg->size >= FMT_SEG_HEADER_SIZE) {
            /* What the replay found may still be only in the page cache (an earlier process
             * may have died, or failed a sync, before it reached the disk). Make it durable
             * before anything is written after it. */
            int t = db->io->sync(db->io->ctx, seg->file);
            if (t)
                return db_set_error(db, AXS_EIO, "IO error: sync of segment %" PRIu64 ": %s",
                                    seg->number, strerror(-t));
        }
    }
    return AXS_OK;
}

static int db_open_locked(axs_db *db, const axs_options *o)
{
    const axs_io *io = db->io;
    char p[4096];
    int is_dir = 0;
    int rc = io->stat(io->ctx, db->path, &is_dir);
    if (rc == -ENOENT) {
        if (!o->create_if_missing || o->read_only)
            return db_set_error(db, AXS_ENOTFOUND,
                                "Invalid argument: %s: does not exist (create_if_missing is "
                                "false)", db->path);
        rc = io->mkdir(io->ctx, db->path);
        if (rc && rc != -EEXIST)
            return db_set_error(db, db_errno_to_code(rc), "IO error: mkdir %s: %s", db->path,
                                strerror(-rc));
    } else if (rc) {
        return db_set_error(db, db_errno_to_code(rc), "IO error: %s: %s", db->path,
                            strerror(-rc));
    } else if (!is_dir) {
        return db_set_error(db, AXS_EINVAL, "Invalid argument: %s: not a directory", db->path);
    }

    dir_scan ds = {db, NULL, 0, 0, false, false, ""};
    rc = io->list_dir(io->ctx, db->path, dir_entry, &ds);
    if (rc) {
        free(ds.numbers);
        return rc < 0 ? db_set_error(db, db_errno_to_code(rc), "IO error: listing %s: %s",
                                     db->path, strerror(-rc))
                      : rc;
    }
    if (!ds.marker && (ds.foreign || ds.n)) {
        free(ds.numbers);
        return db_set_error(db, AXS_ENOTDB,
                            "Invalid argument: %s holds files that are not an AlexStorage "
                            "database (e.g. %s)", db->path, ds.n ? "segments without marker"
                                                                  : ds.foreign_name);
    }
    if (!o->read_only) {
        path_join(p, sizeof p, db->path, FMT_LOCK_NAME);
        rc = io->open(io->ctx, p, AXS_IO_WRITE | AXS_IO_CREATE, &db->lock_file);
        if (!rc)
            rc = io->lock(io->ctx, db->lock_file);
        if (rc) {
            free(ds.numbers);
            return db_set_error(db, rc == -EWOULDBLOCK || rc == -EAGAIN ? AXS_EBUSY
                                                                         : db_errno_to_code(rc),
                                "IO error: lock %s: %s", p,
                                rc == -EWOULDBLOCK || rc == -EAGAIN ? "held by another process"
                                                                     : strerror(-rc));
        }
    }
    if (ds.marker) {
        if (o->error_if_exists) {
            free(ds.numbers);
            return db_set_error(db, AXS_EEXIST, "Invalid argument: %s: exists (error_if_exists "
                                                "is true)", db->path);
        }
        uint8_t *m;
        uint64_t mlen;
        path_join(p, sizeof p, db->path, FMT_MARKER_NAME);
        rc = read_small_file(io, p, &m, &mlen);
        if (rc) {
            free(ds.numbers);
            return db_set_error(db, db_errno_to_code(rc), "IO error: reading %s: %s", p,
                                strerror(-rc));
        }
        int mc = fmt_marker_check(m, mlen);
        uint32_t mversion = mc == -2 && mlen >= 12 ? fmt_get32(m + 8) : 0;
        free(m);
        if (mc) {
            free(ds.numbers);
            return mc == -2 ? db_set_error(db, AXS_ENOTSUP, "Not supported: %s has format version "
                                           "%" PRIu32 ", newer than this library's %u",
                                           db->path, mversion, FMT_VERSION)
                            : db_set_error(db, AXS_ENOTDB, "Corruption: %s: bad marker file",
                                           db->path);
        }
    } else {
        if (o->read_only) {
            free(ds.numbers);
            return db_set_error(db, AXS_ENOTFOUND, "Invalid argument: %s: no database",
                                db->path);
        }
        if (!o->create_if_missing) {
            free(ds.numbers);
            return db_set_error(db, AXS_ENOTFOUND, "Invalid argument: %s: does not exist "
                                                   "(create_if_missing is false)", db->path);
        }
        uint8_t m[FMT_MARKER_SIZE];
        fmt_marker_encode(m);
        rc = write_file_atomic(io, db->path, FMT_MARKER_NAME, m, sizeof m);
        if (rc) {
            free(ds.numbers);
            return db_set_error(db, db_errno_to_code(rc), "IO error: creating %s: %s", db->path,
                                strerror(-rc));
        }
    }
    if (!o->read_only) {
        /* Make the directory and its entry in the parent durable on every writable open: an
         * earlier open may have created them and failed before syncing. */
        rc = io->sync_dir(io->ctx, db->path);
        if (!rc) {
            char parent[4096];
            snprintf(parent, sizeof parent, "%s", db->path);
            char *slash = strrchr(parent, '/');
            if (slash == parent)
                slash[1] = '\0';
            else if (slash)
                *slash = '\0';
            else
                snprintf(parent, sizeof parent, ".");
            rc = io->sync_dir(io->ctx, parent);
        }
        if (rc) {
            free(ds.numbers);
            return db_set_error(db, db_errno_to_code(rc), "IO error: syncing directory %s: %s",
                                db->path, strerror(-rc));
        }
    }

    /* Open every segment; only the last may be appended to. */
    if (ds.n)
        qsort(ds.numbers, ds.n, sizeof *ds.numbers, cmp_u64);
    for (size_t i = 0; i < ds.n; i++) {
        bool last = i + 1 == ds.n;
        log_segment *seg;
        rc = log_segment_open(io, db->path, ds.numbers[i], last ? o->segment_size : 0,
                              last && !o->read_only, &seg);
        if (!rc && (rc = db_add_segment(db, seg)) != AXS_OK)
            log_segment_close(io, seg);
        if (rc) {
            uint64_t number = ds.numbers[i];
            free(ds.numbers);
            return rc == AXS_ENOMEM ? rc
                                    : db_set_error(db, db_errno_to_code(rc),
                                                   "IO error: opening segment %" PRIu64 ": %s",
                                                   number, strerror(-rc));
        }
    }
    free(ds.numbers);
    db->st.segments = 0;

    /* Segment headers first: a damaged one (not a torn header of the last segment) is
     * corruption; without paranoid checks its segment is left out entirely, and so is the
     * checkpoint, which may point into it. */
    bool use_checkpoint = true;
    uint64_t last_number = db_last_segment_number(db);
    for (size_t i = 0; i < db->seg_count; i++) {
        log_segment *seg = db->segs[i];
        if (!seg)
            continue;
        int hc = fmt_segment_header_check(seg->map, seg->size, seg->number);
        if (hc == -2)
            return db_set_error(db, AXS_ENOTSUP, "Not supported: segment %" PRIu64
                                " has format version %" PRIu32 ", newer than this library's %u",
                                seg->number, fmt_get32(seg->map + 8), FMT_VERSION);
        bool torn = seg->number == last_number &&
                    seg->size < FMT_SEG_HEADER_SIZE + FMT_RECORD_HEADER_SIZE;
        if (hc == 0 || torn)
            continue;
        if (o->paranoid_checks)
            return db_set_error(db, AXS_ECORRUPT, "Corruption: segment %" PRIu64
                                " damaged at offset 0 (segment header)", seg->number);
        db->st.corruptions_skipped++;
        db_set_error(db, AXS_OK, "Corruption skipped: segment %" PRIu64 " has a bad header",
                     seg->number);
        seg->size = 0; /* nothing in it is read */
        use_checkpoint = false;
    }

    /* Index: from the checkpoint if it is valid, then the log after it. */
    ckpt_info ck = {0};
    rc = use_checkpoint ? ckpt_load(db, &ck) : AXS_ENOTFOUND;
    if (rc == AXS_ECORRUPT && ck.log_truncated) {
        /* A sound checkpoint says the log was synced further than it now reaches. */
        if (o->paranoid_checks)
            return rc;
        db->st.corruptions_skipped++;
    }
    uint64_t from_seg = 0, from_off = 0;
    if (rc == AXS_OK) {
        db->views[0].seq = ck.last_sequence;
        db->min_live_segment = ck.min_live_segment;
        db->st.checkpoint_keys = ck.num_keys;
        from_seg = ck.position_segment;
        from_off = ck.position_offset;
        db_remove_obsolete(db);
    } else if (rc != AXS_ENOTFOUND && rc != AXS_ECORRUPT) {
        return rc;
    } else {
        /* No usable checkpoint: replay everything (the log holds all the data). */
        kix_destroy(db->views[0].index);
        db->views[0].index = NULL;
        if (db_index_create(db, &db->views[0].index) != AXS_OK)
            return AXS_ENOMEM;
        for (size_t i = 0; i < db->seg_count; i++)
            if (db->segs[i])
                db->segs[i]->live_bytes = 0;
        db->live_bytes = 0;
    }
    /* Segment numbers are consecutive from the oldest to the newest: a hole is a lost file. */
    uint64_t first = 0, prev = 0;
    for (size_t i = 0; i < db->seg_count; i++) {
        if (!db->segs[i])
            continue;
        uint64_t num = db->segs[i]->number;
        if (first && num != prev + 1) {
            if (o->paranoid_checks)
                return db_set_error(db, AXS_ECORRUPT, "Corruption: segments %" PRIu64
                                    " to %" PRIu64 " are missing", prev + 1, num - 1);
            db->st.corruptions_skipped++;
            db_set_error(db, AXS_OK, "Corruption skipped: segments %" PRIu64 " to %" PRIu64
                         " are missing", prev + 1, num - 1);
        }
        if (!first)
            first = num;
        prev = num;
    }

    rc = db_replay(db, from_seg, from_off);
    if (rc)
        return rc;
    /* Every segment but the last ends with a SEAL (the seal rule, checked when the log is
     * scanned), including those before the checkpoint's position, which were not scanned. */
    uint64_t newest = db_last_segment_number(db);
    for (size_t i = 0; i < db->seg_count; i++)
        if (db->segs[i] && db->segs[i]->number != newest &&
            db->segs[i]->size >= FMT_SEG_HEADER_SIZE)
            db->segs[i]->sealed = true;

    /* The active segment: the last one, unless its header was torn (then it is recreated). */
    if (!o->read_only) {
        uint64_t last = db_last_segment_number(db);
        log_segment *seg = last ? db_segment(db, last) : NULL;
        uint64_t on_disk = 0;
        if (seg && seg->size < FMT_SEG_HEADER_SIZE && io->size(io->ctx, seg->file, &on_disk) == 0 &&
            on_disk == 0) {
            /* A torn header (truncated to nothing by the replay): recreate the segment. */
            log_segment_path(p, sizeof p, db->path, seg->number);
            log_segment_close(io, seg);
            db->segs[last - db->seg_base] = NULL;
            io->remove(io->ctx, p);
            seg = NULL;
            last--;
        } else if (seg && seg->size < FMT_SEG_HEADER_SIZE) {
            seg = NULL; /* a damaged segment skipped without paranoid checks: keep the file,
                           start a new segment after it */
        } else if (!seg) {
            last = 0;
        }
        if (!seg) {
            bool sync_failed;
            rc = log_segment_create(io, db->path, last + 1, o->segment_size, &seg, &sync_failed);
            if (rc)
                return db_set_error(db, db_errno_to_code(rc), "IO error: creating segment: %s",
                                    strerror(-rc));
            if ((rc = db_add_segment(db, seg)) != AXS_OK) {
                log_segment_close(io, seg);
                return rc;
            }
        }
        db->active = seg;
    }
    db->log_bytes = db->live_bytes = 0;
    for (size_t i = 0; i < db->seg_count; i++) {
        if (!db->segs[i])
            continue;
        db->st.segments++;
        db->log_bytes += db->segs[i]->size;
        db->live_bytes += db->segs[i]->live_bytes;
    }
    return AXS_OK;
}

/* Makes views[1] a copy of views[0] (after recovery filled it): the same keys, bulk-loaded in
 * key order, and the same sequence number. */
static int db_copy_view(axs_db *db)
{
    db_view *src = &db->views[0], *dst = &db->views[1];
    uint64_t n = kix_count(src->index);
    uint64_t *locs = malloc((n ? n : 1) * sizeof *locs);
    if (!locs)
        return AXS_ENOMEM;
    kix_cursor c;
    size_t i = 0;
    for (bool on = kix_first(src->index, &c); on && i < n; on = kix_next(src->index, &c))
        locs[i++] = kix_cursor_loc(src->index, &c);
    int rc = kix_bulk_load(dst->index, locs, i) == AXI_OK ? AXS_OK : AXS_ENOMEM;
    free(locs);
    dst->seq = src->seq;
    return rc;
}

int axs_open(const char *path, const axs_options *opts, axs_db **out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (!out) {
        if (errmsg)
            *errmsg = strdup("Invalid argument: NULL handle pointer");
        return AXS_EINVAL;
    }
    *out = NULL;
    axs_options o;
    axs_options_init(&o);
    if (opts)
        o = *opts;
    if (!path || !*path || strlen(path) > 3000) {
        if (errmsg)
            *errmsg = strdup("Invalid argument: database path is empty or too long");
        return AXS_EINVAL;
    }
    if (o.compression != AXS_COMPRESSION_NONE && o.compression != AXS_COMPRESSION_LZ4) {
        if (errmsg)
            *errmsg = strdup("Invalid argument: unknown compression type");
        return AXS_EINVAL;
    }
    if (o.segment_size == 0)
        o.segment_size = DB_DEFAULT_SEGMENT_SIZE;
    if (o.segment_size < DB_MIN_SEGMENT_SIZE)
        o.segment_size = DB_MIN_SEGMENT_SIZE;
    if (o.segment_size > FMT_LOC_MAX_OFFSET)
        o.segment_size = FMT_LOC_MAX_OFFSET;
    if (!(o.compaction_garbage_ratio == 0 ||
          (o.compaction_garbage_ratio >= 0.05 && o.compaction_garbage_ratio <= 0.95))) {
        if (errmsg)
            *errmsg = strdup("Invalid argument: compaction_garbage_ratio must be 0 or within "
                             "0.05..0.95");
        return AXS_EINVAL;
    }
    axs_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return AXS_ENOMEM;
    }
    size_t pl = strlen(db->path);
    while (pl > 1 && db->path[pl - 1] == '/')
        db->path[--pl] = '\0';
    db->opts = o;
    db->io = o.io ? o.io : axs_io_posix();
    db->opts.io = db->io;
    pthread_mutex_init(&db->write_mu, NULL);
    pthread_mutex_init(&db->snap_mu, NULL);
    pthread_mutex_init(&db->queue_mu, NULL);
    pthread_mutex_init(&db->bg_mu, NULL);
    pthread_mutex_init(&db->compact_mu, NULL);
    pthread_cond_init(&db->bg_cv, NULL);
    pthread_cond_init(&db->bg_idle_cv, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    last_error.db = NULL;
    last_error.msg[0] = '\0';
    int rc = (db->segtab = calloc(SEGTAB_TOP, sizeof *db->segtab)) ? AXS_OK : AXS_ENOMEM;
    for (int i = 0; i < 2 && !rc; i++) {
        rc = db_index_create(db, &db->views[i].index);
        if (!rc && vs_create(&db->views[i].versions) != AXS_OK)
            rc = AXS_ENOMEM;
    }
    if (!rc)
        rc = db_open_locked(db, &o);
    if (!rc)
        rc = db_copy_view(db);
    if (!rc)
        rc = db_compaction_start(db);
    if (rc) {
        if (errmsg)
            *errmsg = strdup(last_error.db == db && last_error.msg[0] ? last_error.msg
                                                                      : axs_strerror(rc));
        db_free(db);
        last_error.db = NULL;
        return rc;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    db->st.open_seconds =
        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (!db->st.corruptions_skipped)
        last_error.db = NULL;
    *out = db;
    return AXS_OK;
}

/* ---- Flush, checkpoint, close ------------------------------------------------------------------ */

/* Syncs the active segment and writes a checkpoint at its end. Caller holds the lock. */
static int db_flush_locked(axs_db *db)
{
    if (db->opts.read_only)
        return AXS_OK;
    if (db->failed)
        return db_set_error(db, db->failed, "IO error: database failed earlier");
    int rc = db->io->sync(db->io->ctx, db->active->file);
    if (rc) {
        db->failed = AXS_EIO;
        return db_set_error(db, AXS_EIO, "IO error: sync of segment %" PRIu64 ": %s",
                            db->active->number, strerror(-rc));
    }
    db->st.syncs++;
    ckpt_info ck = {.last_sequence = db_wview(db)->seq,
                    .position_segment = db->active->number,
                    .position_offset = db->active->size,
                    .min_live_segment = db->min_live_segment,
                    .num_keys = kix_count(db_wview(db)->index)};
    return ckpt_write(db, &ck);
}

int axs_flush(axs_db *db)
{
    if (!db)
        return AXS_EINVAL;
    pthread_mutex_lock(&db->write_mu);
    int rc = db_flush_locked(db);
    pthread_mutex_unlock(&db->write_mu);
    return rc;
}

int axs_close(axs_db *db)
{
    if (!db)
        return AXS_OK;
    db_compaction_stop(db);
    pthread_mutex_lock(&db->write_mu);
    int rc = db->failed ? db->failed : db_flush_locked(db);
    pthread_mutex_unlock(&db->write_mu);
    db_free(db);
    return rc;
}

typedef struct destroy_scan {
    const axs_io *io;
    const char *dir;
    bool marker, foreign;
    int rc;
} destroy_scan;

static int destroy_entry(void *arg, const char *name)
{
    destroy_scan *ds = arg;
    uint64_t n;
    if (strcmp(name, FMT_MARKER_NAME) == 0)
        ds->marker = true;
    else if (!log_parse_segment_name(name, &n) && strcmp(name, FMT_LOCK_NAME) != 0 &&
             strcmp(name, FMT_CKPT_NAME) != 0 && strcmp(name, FMT_CKPT_TMP_NAME) != 0 &&
             strcmp(name, FMT_MARKER_NAME ".tmp") != 0)
        ds->foreign = true;
    return 0;
}

static int remove_entry(void *arg, const char *name)
{
    destroy_scan *ds = arg;
    char p[4096];
    if (strcmp(name, FMT_LOCK_NAME) == 0 || strcmp(name, FMT_MARKER_NAME) == 0)
        return 0; /* removed last: the marker, then the lock */
    path_join(p, sizeof p, ds->dir, name);
    int rc = ds->io->remove(ds->io->ctx, p);
    if (rc && !ds->rc)
        ds->rc = rc;
    return 0;
}

int axs_destroy(const char *path, const axs_options *opts)
{
    if (!path || !*path)
        return AXS_EINVAL;
    const axs_io *io = opts && opts->io ? opts->io : axs_io_posix();
    int is_dir = 0;
    int rc = io->stat(io->ctx, path, &is_dir);
    if (rc == -ENOENT)
        return AXS_OK;
    if (rc)
        return db_errno_to_code(rc);
    if (!is_dir)
        return AXS_ENOTDB;
    destroy_scan ds = {io, path, false, false, 0};
    rc = io->list_dir(io->ctx, path, destroy_entry, &ds);
    if (rc)
        return db_errno_to_code(rc);
    if (ds.foreign || !ds.marker)
        return ds.foreign ? AXS_ENOTDB : (io->remove(io->ctx, path), AXS_OK);
    char p[4096];
    axs_file *lock;
    path_join(p, sizeof p, path, FMT_LOCK_NAME);
    rc = io->open(io->ctx, p, AXS_IO_WRITE | AXS_IO_CREATE, &lock);
    if (rc)
        return db_errno_to_code(rc);
    if ((rc = io->lock(io->ctx, lock)) != 0) {
        io->close(io->ctx, lock);
        return rc == -EWOULDBLOCK || rc == -EAGAIN ? AXS_EBUSY : db_errno_to_code(rc);
    }
    rc = io->list_dir(io->ctx, path, remove_entry, &ds);
    if (!rc)
        rc = ds.rc;
    if (!rc) {
        path_join(p, sizeof p, path, FMT_MARKER_NAME);
        rc = io->remove(io->ctx, p);
    }
    path_join(p, sizeof p, path, FMT_LOCK_NAME);
    if (!rc)
        io->remove(io->ctx, p);
    io->close(io->ctx, lock);
    if (!rc) {
        io->remove(io->ctx, path); /* fails harmlessly if the user left other files */
        char parent[4096];
        snprintf(parent, sizeof parent, "%s/..", path);
        io->sync_dir(io->ctx, parent);
    }
    return rc ? db_errno_to_code(rc) : AXS_OK;
}

/* ---- Compaction ------------------------------------------------------------------------------- */
/*
 * Compaction moves live entries to the head of the log and then removes the oldest segments,
 * which then hold nothing the index needs (docs/concurrency.md, "Compaction"):
 *  - A chunk of live entries is chosen, copied into one COMPACTED record, appended, and the
 *    index re-pointed at the copies, all under write_mu: no write can come between choosing an
 *    entry and re-pointing its key, so replaying the log puts the copy exactly where the
 *    index had it. Writers wait one chunk at most; readers never wait.
 *  - Only a prefix of the segments is ever removed (min_live_segment, in the checkpoint), so a
 *    tombstone is dropped only together with everything older than it.
 *  - Before the removal: old values live snapshots may read are copied into memory, the log is
 *    synced, and a checkpoint naming the new oldest live segment is published. A crash before
 *    it leaves the old segments and a replay that applies the copies in order; after it, the
 *    old segments are garbage the next open removes.
 * Compaction passes are serialised by compact_mu (the background thread and manual calls).
 */

#define COMPACT_CHUNK_BYTES (256u * 1024u) /* entries copied per chunk (one record), about */

typedef struct reloc {
    uint64_t from, to;
} reloc;

typedef struct reloc_set {
    const reloc *r;
    size_t n;
    bool key_order; /* the moves are in key order, a subsequence of the index's order */
} reloc_set;

/* Moves the live-byte accounting of one re-pointed key from its old entry (none: UINT64_MAX)
 * to its copy. */
static void reloc_account(axs_db *db, uint64_t from, uint64_t to)
{
    log_segment *seg = db_segment(db, fmt_loc_segment(to));
    const uint8_t *e = seg->map + fmt_loc_offset(to);
    if (from != UINT64_MAX)
        db_forget_entry(db, from);
    db_count_entry(db, seg, fmt_entry_size(fmt_get32(e + 8), fmt_get32(e + 12)));
}

/* Re-points moves in key order by walking the index once: seek the first, then step. A move
 * whose key the walk does not find where expected falls back to a lookup. Returns how many of
 * the moves it made (all, unless the index disagrees, which it should not). */
static size_t reloc_walk(axs_db *db, db_view *v, const reloc_set *rs, bool first)
{
    size_t klen;
    const uint8_t *key = db_key_at(db, rs->r[0].to, &klen);
    kix_cursor c;
    bool on = kix_seek(v->index, key, klen, &c);
    size_t i = 0;
    for (; on && i < rs->n; i++) {
        /* The entries between two moves are keys the pass left in place: few, and bounded. */
        unsigned skipped = 0;
        while (on && kix_cursor_loc(v->index, &c) != rs->r[i].from && skipped++ < 4096)
            on = kix_next(v->index, &c);
        if (!on || kix_cursor_loc(v->index, &c) != rs->r[i].from)
            break;
        kix_cursor_set_loc(v->index, &c, rs->r[i].to);
        if (first)
            reloc_account(db, rs->r[i].from, rs->r[i].to);
        on = kix_next(v->index, &c);
    }
    return i;
}

/* Re-points each moved key at its copy. Replacing a present key's location never allocates. */
static int reloc_apply(axs_db *db, db_view *v, void *arg, bool first)
{
    const reloc_set *rs = arg;
    size_t done = rs->key_order && rs->n ? reloc_walk(db, v, rs, first) : 0;
    for (size_t i = done; i < rs->n; i++) {
        size_t klen;
        const uint8_t *key = db_key_at(db, rs->r[i].to, &klen);
        uint64_t old;
        bool had;
        if (kix_put(v->index, key, klen, rs->r[i].to, &old, &had) != AXI_OK)
            return AXS_ENOMEM;
        if (first)
            reloc_account(db, had ? old : UINT64_MAX, rs->r[i].to);
    }
    return AXS_OK;
}

/*
 * Copies the live entries at locs[0..n) (checked live by the caller, under write_mu, which it
 * still holds) into one COMPACTED record at the head of the log and re-points their keys.
 * Entries are checksummed as they are copied: damage is reported, never copied.
 */
static int compact_chunk(axs_db *db, const uint64_t *locs, size_t n, bool key_order)
{
    if (n == 0)
        return AXS_OK;
    reloc *rl = malloc(n * sizeof *rl);
    if (!rl)
        return AXS_ENOMEM;
    size_t len = FMT_RECORD_HEADER_SIZE;
    uint32_t crcs = 0;
    int rc = AXS_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        fmt_entry e;
        if ((rc = db_entry_at(db, locs[i], true, &e)) != AXS_OK)
            break;
        size_t es = (size_t)fmt_entry_size(e.klen, e.vlen_stored);
        if ((rc = db_reserve_wbuf(db, len + es + 8)) != AXS_OK)
            break;
        memcpy(db->wbuf + len, e.key - FMT_ENTRY_HEADER_SIZE, es);
        crcs = fmt_crc32c_extend(crcs, db->wbuf + len, 4);
        rl[i] = (reloc){locs[i], len};
        len += es;
    }
    if (!rc) {
        fmt_record_header_encode(db->wbuf, FMT_RECORD_COMPACTED, (uint32_t)n, db_wview(db)->seq,
                                 (uint32_t)len, crcs);
        size_t total = (size_t)fmt_align(len);
        memset(db->wbuf + len, 0, total - len);
        rc = db_make_room(db, total);
        uint64_t at = rc ? 0 : db->active->size;
        if (!rc)
            rc = db_append(db, total);
        if (!rc) {
            for (size_t i = 0; i < n; i++)
                rl[i].to = fmt_loc(db->active->number, at + rl[i].to);
            reloc_set rs = {rl, n, key_order};
            rc = db_publish(db, reloc_apply, &rs);
            db->st.compaction_bytes_written += total;
        }
    }
    free(rl);
    return rc;
}

/* Is the entry at loc the one the index holds for its key? Caller holds write_mu. */
static bool compact_is_live(axs_db *db, uint64_t loc, size_t *entry_size)
{
    fmt_entry e;
    uint64_t cur;
    if (db_entry_at(db, loc, false, &e) != AXS_OK || e.type != FMT_ENTRY_PUT)
        return false;
    *entry_size = (size_t)fmt_entry_size(e.klen, e.vlen_stored);
    return kix_get(db_wview(db)->index, e.key, e.klen, &cur) && cur == loc;
}

typedef struct seg_entries {
    uint64_t *locs;
    size_t n, cap;
} seg_entries;

static int collect_entries(void *arg, log_segment *seg, uint64_t offset, const fmt_record *r)
{
    seg_entries *se = arg;
    if (r->type == FMT_RECORD_SEAL)
        return 0;
    uint64_t off = offset + FMT_RECORD_HEADER_SIZE;
    for (uint32_t i = 0; i < r->count; i++) {
        fmt_entry e;
        if (fmt_entry_decode(seg->map + off, seg->size - off, false, &e) != 0)
            return AXS_ECORRUPT;
        if (e.type == FMT_ENTRY_PUT &&
            u64_append(&se->locs, &se->n, &se->cap, fmt_loc(seg->number, off)) != AXS_OK)
            return AXS_ENOMEM;
        off += fmt_entry_size(e.klen, e.vlen_stored);
    }
    return 0;
}

/* Moves the live entries of sealed segment `number` (older than the active one) to the head of
 * the log, chunk by chunk. Caller holds compact_mu (so the segment stays), not write_mu. */
static int compact_segment(axs_db *db, uint64_t number)
{
    pthread_mutex_lock(&db->write_mu);
    log_segment *seg = db_segment(db, number);
    bool usable = seg && seg->sealed && seg != db->active;
    pthread_mutex_unlock(&db->write_mu);
    if (!usable)
        return AXS_OK;
    seg_entries se = {0};
    log_scan_result res;
    int rc = log_scan(seg, FMT_SEG_HEADER_SIZE, false, true, collect_entries, &se, &res);
    if (rc == AXS_ECORRUPT)
        rc = db_set_error(db, rc, "Corruption: segment %" PRIu64 " damaged at offset %" PRIu64
                          " (found by compaction)", number, res.bad_offset);
    for (size_t i = 0; !rc && i < se.n;) {
        pthread_mutex_lock(&db->write_mu);
        rc = db_check_writable(db);
        size_t bytes = 0, k = 0;
        uint64_t *chunk = se.locs + i; /* live ones are packed to the front in place */
        for (; !rc && i < se.n && bytes < COMPACT_CHUNK_BYTES; i++) {
            size_t es;
            if (compact_is_live(db, se.locs[i], &es)) {
                chunk[k++] = se.locs[i];
                bytes += es;
            }
        }
        if (!rc)
            rc = compact_chunk(db, chunk, k, false);
        pthread_mutex_unlock(&db->write_mu);
    }
    free(se.locs);
    return rc;
}

/* Copies an old version's value out of the log, before compaction removes its segment. */
typedef struct version_copy {
    axs_db *db;
    uint64_t below; /* copy versions in segments numbered below this */
} version_copy;

static int copy_version(void *arg, vs_version *v)
{
    version_copy *vc = arg;
    axs_db *db = vc->db;
    if (fmt_loc_segment(v->loc) >= vc->below)
        return AXS_OK;
    fmt_entry e;
    uint8_t *buf = NULL;
    size_t cap = 0, vlen = 0;
    const uint8_t *value = NULL;
    int rc = db_entry_at(db, v->loc, true, &e);
    if (!rc)
        rc = db_entry_value(db, &e, &buf, &cap, &value, &vlen);
    if (rc) {
        free(buf);
        return rc;
    }
    if (value != buf) {
        uint8_t *copy = malloc(vlen ? vlen : 1);
        if (!copy) {
            free(buf);
            return AXS_ENOMEM;
        }
        memcpy(copy, value, vlen);
        free(buf);
        buf = copy;
    }
    v->value = buf;
    v->vlen = vlen;
    v->copied = true;
    return AXS_OK;
}

static int versions_copy_apply(axs_db *db, db_view *v, void *arg, bool first)
{
    (void)first;
    version_copy vc = {db, *(const uint64_t *)arg};
    return vs_empty(v->versions) ? AXS_OK : vs_for_each_located(v->versions, copy_version, &vc);
}

/* Ends a pass that emptied every segment numbered below new_min: copies what snapshots still
 * need from them, syncs, publishes the checkpoint, removes them. Caller holds compact_mu. */
static int compact_finish(axs_db *db, uint64_t new_min)
{
    pthread_mutex_lock(&db->write_mu);
    int rc = db_check_writable(db);
    if (!rc && new_min > db_first_segment_number(db)) {
        rc = db_publish(db, versions_copy_apply, &new_min);
        if (!rc && db->io->sync(db->io->ctx, db->active->file) != 0) {
            db->failed = AXS_EIO;
            rc = db_set_error(db, AXS_EIO, "IO error: sync of compaction output");
        }
        if (!rc) {
            db->st.syncs++;
            ckpt_info ck = {.last_sequence = db_wview(db)->seq,
                            .position_segment = db->active->number,
                            .position_offset = db->active->size,
                            .min_live_segment = new_min,
                            .num_keys = kix_count(db_wview(db)->index)};
            rc = ckpt_write(db, &ck);
        }
        if (!rc) {
            db->min_live_segment = new_min;
            db_remove_obsolete(db);
        }
    }
    pthread_mutex_unlock(&db->write_mu);
    return rc;
}

/* Seals the active segment and starts a new one; returns its number in *number. */
static int compact_roll(axs_db *db, uint64_t *number)
{
    pthread_mutex_lock(&db->write_mu);
    int rc = db_check_writable(db);
    if (!rc && db->active->size > FMT_SEG_HEADER_SIZE) {
        rc = db_seal(db, db->active);
        if (!rc)
            rc = db_make_room(db, FMT_RECORD_HEADER_SIZE);
    }
    *number = db->active->number;
    pthread_mutex_unlock(&db->write_mu);
    return rc;
}

/*
 * Moves the live entries of the keys in [begin, end) (end NULL: no end) to the head of the log
 * in key order, chunk by chunk, leaving alone entries already in segments numbered >= keep_from.
 */
static int compact_keys(axs_db *db, const void *begin, size_t blen, const void *end, size_t elen,
                        uint64_t keep_from)
{
    uint8_t *resume = NULL;
    size_t rlen = 0;
    bool started = false, more = true;
    uint64_t *chunk = malloc(4096 * sizeof *chunk);
    int rc = chunk ? AXS_OK : AXS_ENOMEM;
    while (!rc && more) {
        pthread_mutex_lock(&db->write_mu);
        rc = db_check_writable(db);
        const kix *ix = db_wview(db)->index;
        kix_cursor c;
        bool on = false;
        if (!rc) {
            if (!started)
                on = begin ? kix_seek(ix, begin, blen, &c) : kix_first(ix, &c);
            else if ((on = kix_seek(ix, resume, rlen, &c))) {
                fmt_entry e;
                if (db_entry_at(db, kix_cursor_loc(ix, &c), false, &e) == AXS_OK &&
                    kix_key_cmp(e.key, e.klen, resume, rlen) == 0)
                    on = kix_next(ix, &c);
            }
        }
        started = true;
        size_t n = 0, bytes = 0;
        while (!rc && on && n < 4096 && bytes < COMPACT_CHUNK_BYTES) {
            uint64_t loc = kix_cursor_loc(ix, &c);
            fmt_entry e;
            if ((rc = db_entry_at(db, loc, false, &e)) != AXS_OK)
                break;
            if (end && kix_key_cmp(e.key, e.klen, end, elen) >= 0) {
                on = false;
                break;
            }
            if (fmt_loc_segment(loc) < keep_from) {
                chunk[n++] = loc;
                bytes += (size_t)fmt_entry_size(e.klen, e.vlen_stored);
            }
            if (rlen < e.klen || !resume) {
                uint8_t *nr = realloc(resume, e.klen ? e.klen : 1);
                if (!nr) {
                    rc = AXS_ENOMEM;
                    break;
                }
                resume = nr;
            }
            memcpy(resume, e.key, e.klen);
            rlen = e.klen;
            on = kix_next(ix, &c);
        }
        if (!rc)
            rc = compact_chunk(db, chunk, n, true);
        more = on;
        pthread_mutex_unlock(&db->write_mu);
    }
    free(chunk);
    free(resume);
    return rc;
}

/* Compacts the prefix of sealed segments [min_live, upto) and removes it. */
static int compact_prefix(axs_db *db, uint64_t upto)
{
    int rc = AXS_OK;
    pthread_mutex_lock(&db->write_mu);
    uint64_t from = db_first_segment_number(db);
    pthread_mutex_unlock(&db->write_mu);
    for (uint64_t n = from; !rc && n < upto; n++)
        rc = compact_segment(db, n);
    return rc ? rc : compact_finish(db, upto);
}

typedef enum { COMPACT_OLDEST, COMPACT_RANGE, COMPACT_ALL } compact_kind;

static int db_compact(axs_db *db, compact_kind kind, const void *begin, size_t blen,
                      const void *end, size_t elen)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_mutex_lock(&db->compact_mu);
    int rc = AXS_OK;
    uint64_t upto = 0;
    if (kind == COMPACT_ALL) {
        /* Everything before a fresh segment goes: every live key is moved past it. */
        rc = compact_roll(db, &upto);
        if (!rc)
            rc = compact_keys(db, NULL, 0, NULL, 0, upto);
    } else if (kind == COMPACT_RANGE) {
        rc = compact_keys(db, begin, blen, end, elen, UINT64_MAX);
    }
    if (!rc) {
        /* The oldest segments to remove: for a full pass, all before the fresh one; else the
         * oldest sealed ones, while garbage stays above half the trigger (background) or
         * while they hold nothing live (after a range). */
        pthread_mutex_lock(&db->write_mu);
        if (kind != COMPACT_ALL) {
            double target = db->opts.compaction_garbage_ratio / 2;
            double log = (double)db->log_bytes, live = (double)db->live_bytes;
            upto = db_first_segment_number(db);
            for (uint64_t n = upto; n < db->active->number; n++) {
                log_segment *seg = db_segment(db, n);
                if (!seg || !seg->sealed)
                    break;
                if (kind == COMPACT_RANGE ? seg->live_bytes != 0
                                          : log <= 0 || (log - live) / log <= target)
                    break;
                log = log - (double)seg->size + (double)seg->live_bytes;
                upto = n + 1;
            }
        }
        pthread_mutex_unlock(&db->write_mu);
        /* After a full pass nothing below upto is live (every key was moved or written past
         * it), so nothing there needs scanning. */
        rc = kind == COMPACT_ALL ? compact_finish(db, upto) : compact_prefix(db, upto);
    }
    pthread_mutex_unlock(&db->compact_mu);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_mutex_lock(&db->write_mu);
    db->st.compactions += rc == AXS_OK;
    db->st.compaction_seconds +=
        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    pthread_mutex_unlock(&db->write_mu);
    return rc;
}

int axs_compact(axs_db *db)
{
    if (!db)
        return AXS_EINVAL;
    if (db->opts.read_only)
        return db_set_error(db, AXS_EREADONLY, "Not supported: database is open read-only");
    return db_compact(db, COMPACT_ALL, NULL, 0, NULL, 0);
}

int axs_compact_range(axs_db *db, const void *begin, size_t blen, const void *end, size_t elen)
{
    if (!db || (!begin && blen) || blen > AXS_MAX_KEY_LEN || elen > AXS_MAX_KEY_LEN ||
        (!end && elen))
        return AXS_EINVAL;
    if (db->opts.read_only)
        return db_set_error(db, AXS_EREADONLY, "Not supported: database is open read-only");
    if (begin && end && kix_key_cmp(begin, blen, end, elen) >= 0)
        return AXS_OK;
    return db_compact(db, COMPACT_RANGE, begin, blen, end, elen);
}

/* ---- Background compaction ---- */

/* After a commit (write_mu held): wakes the background thread when garbage passed the trigger
 * and enough of it lies in sealed segments (the active one cannot be compacted) for a pass to
 * bring it down to half the trigger. One request at a time: the thread clears bg_pending. */
static void db_compaction_check(axs_db *db)
{
    double ratio = db->opts.compaction_garbage_ratio;
    if (!db->bg_started || db->bg_pending || db->log_bytes == 0 || !db->active)
        return;
    double log = (double)db->log_bytes;
    double garbage = log - (double)db->live_bytes;
    double active_garbage = (double)db->active->size - (double)db->active->live_bytes;
    if (garbage <= ratio * log || garbage - active_garbage <= ratio / 2 * log)
        return;
    db->bg_pending = true;
    pthread_mutex_lock(&db->bg_mu);
    db->bg_wanted = true;
    pthread_cond_signal(&db->bg_cv);
    pthread_mutex_unlock(&db->bg_mu);
}

static void *bg_main(void *arg)
{
    axs_db *db = arg;
    pthread_mutex_lock(&db->bg_mu);
    while (!db->bg_stop) {
        if (!db->bg_wanted) {
            pthread_cond_broadcast(&db->bg_idle_cv);
            pthread_cond_wait(&db->bg_cv, &db->bg_mu);
            continue;
        }
        db->bg_wanted = false;
        db->bg_running = true;
        pthread_mutex_unlock(&db->bg_mu);
        pthread_mutex_lock(&db->write_mu);
        uint64_t removed = db->st.compaction_bytes_removed;
        pthread_mutex_unlock(&db->write_mu);
        int rc = db_compact(db, COMPACT_OLDEST, NULL, 0, NULL, 0);
        /* Accept the next request; ask again at once if this pass made progress and garbage
         * is still over the trigger (writes meanwhile). */
        pthread_mutex_lock(&db->write_mu);
        db->bg_pending = false;
        if (!rc && db->st.compaction_bytes_removed > removed)
            db_compaction_check(db);
        pthread_mutex_unlock(&db->write_mu);
        pthread_mutex_lock(&db->bg_mu);
        db->bg_running = false;
        if (rc)
            db->bg_rc = rc;
    }
    pthread_cond_broadcast(&db->bg_idle_cv);
    pthread_mutex_unlock(&db->bg_mu);
    return NULL;
}

static int db_compaction_start(axs_db *db)
{
    if (db->opts.read_only || db->opts.compaction_garbage_ratio == 0)
        return AXS_OK;
    int rc = pthread_create(&db->bg_thread, NULL, bg_main, db);
    if (rc)
        return db_set_error(db, AXS_ENOMEM, "cannot start the compaction thread: %s",
                            strerror(rc));
    db->bg_started = true;
    /* Garbage found at open counts: the first check may start a pass at once. */
    pthread_mutex_lock(&db->write_mu);
    db_compaction_check(db);
    pthread_mutex_unlock(&db->write_mu);
    return AXS_OK;
}

static void db_compaction_stop(axs_db *db)
{
    if (!db->bg_started)
        return;
    pthread_mutex_lock(&db->bg_mu);
    db->bg_stop = true;
    pthread_cond_signal(&db->bg_cv);
    pthread_mutex_unlock(&db->bg_mu);
    pthread_join(db->bg_thread, NULL);
    db->bg_started = false;
}

int axs_wait_for_compaction(axs_db *db)
{
    if (!db)
        return AXS_EINVAL;
    pthread_mutex_lock(&db->bg_mu);
    while (db->bg_started && !db->bg_stop && (db->bg_wanted || db->bg_running))
        pthread_cond_wait(&db->bg_idle_cv, &db->bg_mu);
    int rc = db->bg_rc;
    pthread_mutex_unlock(&db->bg_mu);
    return rc;
}

/* ---- Snapshots -------------------------------------------------------------------------------- */

int db_snapshot_register(axs_db *db, uint64_t seq, axs_snapshot **out)
{
    axs_snapshot *sn = calloc(1, sizeof *sn);
    if (!sn)
        return AXS_ENOMEM;
    pthread_mutex_lock(&db->snap_mu);
    /* Under snap_mu the view readers use is complete, versions included, for its sequence. */
    sn->seq = seq != UINT64_MAX ? seq : db->views[atomic_load(&db->reading)].seq;
    /* Sequence numbers only grow, so appending keeps the list ordered by seq, except for an
     * iterator reading at an older explicit snapshot, which takes no snapshot of its own. */
    sn->prev = db->snap_newest;
    if (db->snap_newest)
        db->snap_newest->next = sn;
    else
        db->snap_oldest = sn;
    db->snap_newest = sn;
    pthread_mutex_unlock(&db->snap_mu);
    *out = sn;
    return AXS_OK;
}

/* Versions no snapshot needs any more are dropped by the writer's next change (db_publish). */
void db_snapshot_unregister(axs_db *db, axs_snapshot *sn)
{
    pthread_mutex_lock(&db->snap_mu);
    if (sn->prev)
        sn->prev->next = sn->next;
    else
        db->snap_oldest = sn->next;
    if (sn->next)
        sn->next->prev = sn->prev;
    else
        db->snap_newest = sn->prev;
    pthread_mutex_unlock(&db->snap_mu);
    free(sn);
}

int axs_snapshot_create(axs_db *db, axs_snapshot **out)
{
    if (!db || !out)
        return AXS_EINVAL;
    return db_snapshot_register(db, UINT64_MAX, out);
}

void axs_snapshot_release(axs_db *db, axs_snapshot *snap)
{
    if (!db || !snap)
        return;
    db_snapshot_unregister(db, snap);
}

uint64_t axs_snapshot_sequence(const axs_snapshot *snap)
{
    return snap ? snap->seq : 0;
}

/* ---- Statistics and properties ------------------------------------------------------------------ */

static void db_fill_stats(axs_db *db, axs_stats *st)
{
    *st = db->st;
    st->num_keys = kix_count(db_wview(db)->index);
    st->last_sequence = db_wview(db)->seq;
    for (int v = 0; v < 2; v++)
        for (unsigned i = 0; i < LR_STRIPES; i++)
            st->gets += atomic_load_explicit(&db->indicator[v][i].gets, memory_order_relaxed);
    st->segments = st->log_bytes = st->live_bytes = 0;
    for (size_t i = 0; i < db->seg_count; i++) {
        if (!db->segs[i])
            continue;
        st->segments++;
        st->log_bytes += db->segs[i]->size;
        st->live_bytes += db->segs[i]->live_bytes;
    }
    kix_stats ks;
    kix_get_stats(db_wview(db)->index, &ks);
    st->index_bytes = ks.memory_bytes;
}

void axs_get_stats(axs_db *db, axs_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!db)
        return;
    pthread_mutex_lock(&db->write_mu);
    db_fill_stats(db, st);
    pthread_mutex_unlock(&db->write_mu);
}

char *axs_property(axs_db *db, const char *name)
{
    if (!db || !name)
        return NULL;
    axs_stats st;
    axs_get_stats(db, &st);
    char buf[1024];
    if (strcmp(name, "alexstorage.num-keys") == 0)
        snprintf(buf, sizeof buf, "%" PRIu64, st.num_keys);
    else if (strcmp(name, "alexstorage.live-bytes") == 0)
        snprintf(buf, sizeof buf, "%" PRIu64, st.live_bytes);
    else if (strcmp(name, "alexstorage.log-bytes") == 0)
        snprintf(buf, sizeof buf, "%" PRIu64, st.log_bytes);
    else if (strcmp(name, "alexstorage.segments") == 0)
        snprintf(buf, sizeof buf, "%" PRIu64, st.segments);
    else if (strcmp(name, "alexstorage.index-bytes") == 0)
        snprintf(buf, sizeof buf, "%" PRIu64, st.index_bytes);
    else if (strcmp(name, "alexstorage.corruptions") == 0)
        snprintf(buf, sizeof buf, "%" PRIu64, st.corruptions_skipped);
    else if (strcmp(name, "alexstorage.stats") == 0)
        snprintf(buf, sizeof buf,
                 "keys: %" PRIu64 "\nlast sequence: %" PRIu64 "\nsegments: %" PRIu64
                 "\nlog bytes: %" PRIu64 "\nlive bytes: %" PRIu64 "\nindex bytes: %" PRIu64
                 "\nputs: %" PRIu64 " deletes: %" PRIu64 " batches: %" PRIu64 " gets: %" PRIu64
                 " syncs: %" PRIu64 "\nopen: %.3f s (%" PRIu64 " keys from checkpoint, %" PRIu64
                 " records replayed, %" PRIu64 " corruptions skipped)\n",
                 st.num_keys, st.last_sequence, st.segments, st.log_bytes, st.live_bytes,
                 st.index_bytes, st.puts, st.deletes, st.batches, st.gets, st.syncs,
                 st.open_seconds, st.checkpoint_keys, st.recovered_records,
                 st.corruptions_skipped);
    else
        return NULL;
    return strdup(buf);
}
