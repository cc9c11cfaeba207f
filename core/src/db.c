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
 */
#define _POSIX_C_SOURCE 200809L
#include "db_internal.h"

#include <errno.h>
#include <inttypes.h>
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

int db_set_error(axs_db *db, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->err, sizeof db->err, fmt, ap);
    va_end(ap);
    return code;
}

const char *axs_last_error(axs_db *db)
{
    return db ? db->err : "";
}

void axs_options_init(axs_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->paranoid_checks = true;
    o->compression = AXS_COMPRESSION_NONE;
    o->segment_size = DB_DEFAULT_SEGMENT_SIZE;
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
    if (number < db->seg_base || number - db->seg_base >= db->seg_count)
        return NULL;
    return db->segs[number - db->seg_base];
}

/* Adds an open segment to the table, growing it as needed. */
static int db_add_segment(axs_db *db, log_segment *seg)
{
    if (db->seg_count == 0)
        db->seg_base = seg->number;
    if (seg->number < db->seg_base) {
        size_t shift = (size_t)(db->seg_base - seg->number);
        log_segment **s = calloc(db->seg_count + shift, sizeof *s);
        if (!s)
            return AXS_ENOMEM;
        memcpy(s + shift, db->segs, db->seg_count * sizeof *s);
        free(db->segs);
        db->segs = s;
        db->seg_count += shift;
        db->seg_base = seg->number;
    }
    size_t idx = (size_t)(seg->number - db->seg_base);
    if (idx >= db->seg_count) {
        size_t n = idx + 1 > 2 * db->seg_count ? idx + 1 : 2 * db->seg_count;
        log_segment **s = realloc(db->segs, n * sizeof *s);
        if (!s)
            return AXS_ENOMEM;
        memset(s + db->seg_count, 0, (n - db->seg_count) * sizeof *s);
        db->segs = s;
        db->seg_count = n;
    }
    db->segs[idx] = seg;
    return AXS_OK;
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
        fmt_entry_decode(seg->map + off, seg->size - off, verify, e) != 0)
        return db_set_error(db, AXS_ECORRUPT,
                            "Corruption: bad entry in segment %" PRIu64 " at offset %" PRIu64
                            "%s",
                            fmt_loc_segment(loc), off, verify ? " (checksum or format)" : "");
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
    if (e->vlen_stored < 4)
        return db_set_error(db, AXS_ECORRUPT, "Corruption: compressed value too short");
    uint32_t raw = fmt_get32(e->value);
    if (raw > AXS_MAX_VALUE_LEN)
        return db_set_error(db, AXS_ECORRUPT, "Corruption: compressed value length %u", raw);
    if (*cap < raw || !*buf) {
        uint8_t *nb = realloc(*buf, raw ? raw : 1);
        if (!nb)
            return AXS_ENOMEM;
        *buf = nb;
        *cap = raw ? raw : 1;
    }
    int got = LZ4_decompress_safe((const char *)e->value + 4, (char *)*buf,
                                  (int)(e->vlen_stored - 4), (int)raw);
    if (got < 0 || (uint32_t)got != raw)
        return db_set_error(db, AXS_ECORRUPT, "Corruption: LZ4 value does not decompress");
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

void db_unpin(axs_db *db, log_segment *seg)
{
    if (!seg)
        return;
    if (--seg->pins == 0 && seg->obsolete)
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
}

/* Removes every key in [e->key, e->value) from the index, recording old states for live
 * snapshots. Locations are gathered first: deleting invalidates the cursor. */
static int db_apply_range_delete(axs_db *db, const fmt_entry *e, uint64_t seq)
{
    if (kix_key_cmp(e->key, e->klen, e->value, e->vlen_stored) >= 0)
        return AXS_OK;
    uint64_t *locs = NULL;
    size_t n = 0, cap = 0;
    kix_cursor c;
    for (bool on = kix_seek(db->index, e->key, e->klen, &c); on; on = kix_next(db->index, &c)) {
        uint64_t loc = kix_cursor_loc(db->index, &c);
        fmt_entry k;
        if (db_entry_at(db, loc, false, &k) != AXS_OK) {
            free(locs);
            return AXS_ECORRUPT;
        }
        if (kix_key_cmp(k.key, k.klen, e->value, e->vlen_stored) >= 0)
            break;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            uint64_t *nl = realloc(locs, nc * sizeof *nl);
            if (!nl) {
                free(locs);
                return AXS_ENOMEM;
            }
            locs = nl;
            cap = nc;
        }
        locs[n++] = loc;
    }
    int rc = AXS_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        fmt_entry k;
        uint64_t old;
        db_entry_at(db, locs[i], false, &k); /* readable: checked above */
        if (!kix_delete(db->index, k.key, k.klen, &old))
            continue;
        if (db->snap_newest &&
            vs_record(db->versions, k.key, k.klen, seq, old, db->snap_newest->seq) != AXS_OK)
            rc = AXS_ENOMEM;
        db_forget_entry(db, old);
    }
    free(locs);
    return rc;
}

/* Applies the entries of a validated record at seg/offset to the index. */
static int db_apply_record(axs_db *db, log_segment *seg, uint64_t offset, const fmt_record *r)
{
    if (r->type == FMT_RECORD_SEAL) {
        if (r->sequence > db->last_sequence)
            db->last_sequence = r->sequence;
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
            int rc = db_apply_range_delete(db, &e, r->sequence + i);
            if (rc)
                return rc;
            off += size;
            continue;
        }
        bool changed = true;
        if (e.type == FMT_ENTRY_PUT) {
            int rc = kix_put(db->index, e.key, e.klen, fmt_loc(seg->number, off), &old, &had);
            if (rc != AXI_OK)
                return AXS_ENOMEM;
            if (had)
                db_forget_entry(db, old);
            seg->live_bytes += size;
        } else if ((had = kix_delete(db->index, e.key, e.klen, &old))) {
            db_forget_entry(db, old);
        } else {
            changed = false; /* deleting a missing key changes nothing a snapshot could see */
        }
        /* A live snapshot may still need the state this entry replaced (snapshot.h). */
        if (changed && db->snap_newest &&
            vs_record(db->versions, e.key, e.klen, r->sequence + i, had ? old : VS_ABSENT,
                      db->snap_newest->seq) != AXS_OK)
            return AXS_ENOMEM;
        off += size;
    }
    /* WRITE records number their entries; a COMPACTED record carries the last sequence
     * number at the time of the compaction, which numbering must never fall below. */
    uint64_t last = r->type == FMT_RECORD_WRITE ? r->sequence + r->count - 1 : r->sequence;
    if (last > db->last_sequence)
        db->last_sequence = last;
    db->mod_count++;
    return AXS_OK;
}

static int recovery_record(void *arg, log_segment *seg, uint64_t offset, const fmt_record *r)
{
    axs_db *db = arg;
    db->st.recovered_records++;
    return db_apply_record(db, seg, offset, r);
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
 * last segment can ever hold a torn write, and a sealed segment that lost its end is known. */
static int db_seal(axs_db *db, log_segment *seg)
{
    uint8_t rec[FMT_RECORD_HEADER_SIZE];
    fmt_record_header_encode(rec, FMT_RECORD_SEAL, 0, db->last_sequence, sizeof rec, 0);
    int rc = log_append(db->io, seg, rec, sizeof rec);
    if (rc) {
        if (db->io->truncate(db->io->ctx, seg->file, seg->size) != 0)
            db->failed = AXS_EIO;
        return db_set_error(db, db_errno_to_code(rc), "IO error: sealing segment %" PRIu64
                            ": %s", seg->number, strerror(-rc));
    }
    seg->sealed = true; /* even if the sync fails: nothing may follow the SEAL */
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
    int rc = seg->sealed ? AXS_OK : db_seal(db, seg);
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
    if (!rc)
        return AXS_OK;
    if (db->io->truncate(db->io->ctx, seg->file, at) != 0)
        db->failed = AXS_EIO;
    seg->size = at;
    if (seg->written_back > at)
        seg->written_back = at;
    return db_set_error(db, db_errno_to_code(rc), "IO error: append to segment %" PRIu64 ": %s",
                        seg->number, strerror(-rc));
}

/*
 * Appends the record assembled in db->wbuf (length len, padding included) and applies it:
 * one write_at, the sync if asked for, then the index. On an append failure the segment is
 * cut back to its old size; if even that fails the database is marked failed.
 */
static int db_commit(axs_db *db, const axs_write_options *wo, size_t len, const fmt_record *r)
{
    log_segment *seg = db->active;
    uint64_t at = seg->size;
    int rc = db_append(db, len);
    if (rc)
        return rc;
    if (wo && wo->sync) {
        db->st.syncs++;
        rc = db->io->sync(db->io->ctx, seg->file);
        if (rc) {
            db->failed = AXS_EIO;
            return db_set_error(db, AXS_EIO, "IO error: sync of segment %" PRIu64 ": %s",
                                seg->number, strerror(-rc));
        }
    }
    rc = db_apply_record(db, seg, at, r);
    if (rc) {
        /* The log holds the record but the index could not take it: refuse further writes;
         * a reopen replays the log and recovers. */
        db->failed = rc;
        return db_set_error(db, rc, "out of memory updating the index; reopen to recover");
    }
    return AXS_OK;
}

static int db_check_writable(axs_db *db)
{
    if (db->opts.read_only)
        return db_set_error(db, AXS_EREADONLY, "Not supported: database is open read-only");
    if (db->failed)
        return db_set_error(db, db->failed, "IO error: database failed earlier; writes refused");
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
    pthread_mutex_lock(&db->mu);
    int rc = db_check_writable(db);
    if (!rc)
        rc = db_reserve_wbuf(db, FMT_RECORD_HEADER_SIZE + entry_room((uint32_t)klen,
                                                                     (uint32_t)vlen) + 8);
    if (!rc) {
        uint32_t crc;
        size_t esize = db_encode_entry(&db->opts, db->wbuf + FMT_RECORD_HEADER_SIZE, type, key,
                                       (uint32_t)klen, value, (uint32_t)vlen, &crc);
        uint8_t crcb[4];
        fmt_put32(crcb, crc);
        fmt_record r = {FMT_RECORD_WRITE, 1, db->last_sequence + 1,
                        (uint32_t)(FMT_RECORD_HEADER_SIZE + esize)};
        fmt_record_header_encode(db->wbuf, r.type, 1, r.sequence, r.length,
                                 fmt_crc32c(crcb, 4));
        size_t total = (size_t)fmt_align(r.length);
        memset(db->wbuf + r.length, 0, total - r.length);
        rc = db_make_room(db, total);
        if (!rc)
            rc = db_commit(db, wo, total, &r);
        if (!rc)
            type == FMT_ENTRY_PUT ? db->st.puts++ : db->st.deletes++;
    }
    pthread_mutex_unlock(&db->mu);
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
    pthread_mutex_lock(&db->mu);
    int rc = db_check_writable(db);
    if (!rc && b->count == 0) {
        pthread_mutex_unlock(&db->mu);
        return AXS_OK;
    }
    if (!rc)
        rc = db_reserve_wbuf(db, FMT_RECORD_HEADER_SIZE + b->len + 8);
    if (!rc) {
        fmt_record r = {FMT_RECORD_WRITE, b->count, db->last_sequence + 1,
                        (uint32_t)(FMT_RECORD_HEADER_SIZE + b->len)};
        memcpy(db->wbuf + FMT_RECORD_HEADER_SIZE, b->data, b->len);
        fmt_record_header_encode(db->wbuf, r.type, r.count, r.sequence, r.length,
                                 b->entry_crcs);
        size_t total = (size_t)fmt_align(r.length);
        memset(db->wbuf + r.length, 0, total - r.length);
        rc = db_make_room(db, total);
        if (!rc)
            rc = db_commit(db, wopts, total, &r);
        if (!rc)
            db->st.batches++;
    }
    pthread_mutex_unlock(&db->mu);
    return rc;
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

/* Finds key and, on a hit, its value: *value points into the mapping, or into *buf (grown as
 * needed, the caller frees it) for a compressed value. *loc is the entry's location. Caller
 * holds the lock; the value pointer is valid while it does (or while the segment is pinned). */
static int db_read_locked(axs_db *db, const axs_read_options *ro, const void *key, size_t klen,
                          bool *found, uint64_t *loc, uint8_t **buf, const uint8_t **value,
                          size_t *vlen)
{
    *found = false;
    if ((!key && klen) || klen > AXS_MAX_KEY_LEN)
        return AXS_EINVAL;
#ifdef ALEXSTORAGE_GATE_SLOWDOWN
    /* A deliberate slowdown for the performance gate's self-test (compare/CMakeLists.txt
     * builds a copy of the core with it; the gate must fail on that copy). Never defined in
     * a build that ships. */
    for (volatile int spin = 0; spin < 64; spin++) {
    }
#endif
    db->st.gets++;
    const axs_snapshot *snap = ro ? ro->snapshot : NULL;
    const vs_version *ver = snap ? vs_lookup(db->versions, key, klen, snap->seq) : NULL;
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
    else if (!kix_get(db->index, key, klen, loc))
        return AXS_OK;
    fmt_entry e;
    int rc = db_entry_at(db, *loc, ro ? ro->verify_checksums : true, &e);
    size_t cap = 0;
    if (!rc)
        rc = db_entry_value(db, &e, buf, &cap, value, vlen);
    *found = rc == AXS_OK;
    return rc;
}

int axs_get(axs_db *db, const axs_read_options *ropts, const void *key, size_t klen, void *buf,
            size_t buf_len, size_t *vlen, bool *found)
{
    if (!db || !vlen || !found || (!buf && buf_len))
        return AXS_EINVAL;
    uint8_t *tmp = NULL;
    const uint8_t *v;
    uint64_t loc;
    pthread_mutex_lock(&db->mu);
    int rc = db_read_locked(db, ropts, key, klen, found, &loc, &tmp, &v, vlen);
    if (*found && buf_len)
        memcpy(buf, v, *vlen < buf_len ? *vlen : buf_len);
    pthread_mutex_unlock(&db->mu);
    free(tmp);
    return rc;
}

int axs_get_alloc(axs_db *db, const axs_read_options *ropts, const void *key, size_t klen,
                  char **value, size_t *vlen, bool *found)
{
    if (!db || !value || !vlen || !found)
        return AXS_EINVAL;
    *value = NULL;
    uint8_t *tmp = NULL;
    const uint8_t *v;
    uint64_t loc;
    pthread_mutex_lock(&db->mu);
    int rc = db_read_locked(db, ropts, key, klen, found, &loc, &tmp, &v, vlen);
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
    pthread_mutex_unlock(&db->mu);
    free(tmp);
    return rc;
}

int axs_get_pinned(axs_db *db, const axs_read_options *ropts, const void *key, size_t klen,
                   axs_pinned **pin, bool *found)
{
    if (!db || !pin || !found)
        return AXS_EINVAL;
    *pin = NULL;
    axs_pinned *p = calloc(1, sizeof *p);
    if (!p)
        return AXS_ENOMEM;
    const uint8_t *v;
    uint64_t loc;
    pthread_mutex_lock(&db->mu);
    int rc = db_read_locked(db, ropts, key, klen, found, &loc, &p->owned, &v, &p->len);
    if (*found) {
        p->db = db;
        p->data = v;
        if (!p->owned) { /* a view into the mapping: keep the segment mapped */
            p->seg = db_segment(db, fmt_loc_segment(loc));
            p->seg->pins++;
        }
        *pin = p;
        p = NULL;
    }
    pthread_mutex_unlock(&db->mu);
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
    if (pin->seg) {
        pthread_mutex_lock(&pin->db->mu);
        db_unpin(pin->db, pin->seg);
        pthread_mutex_unlock(&pin->db->mu);
    }
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
        if (ds->n == ds->cap) {
            size_t cap = ds->cap ? ds->cap * 2 : 16;
            uint64_t *v = realloc(ds->numbers, cap * sizeof *v);
            if (!v)
                return AXS_ENOMEM;
            ds->numbers = v;
            ds->cap = cap;
        }
        ds->numbers[ds->n++] = number;
    } else if (strcmp(name, FMT_MARKER_NAME) == 0) {
        ds->marker = true;
    } else if (strcmp(name, FMT_LOCK_NAME) != 0 && strcmp(name, FMT_CKPT_NAME) != 0 &&
               strcmp(name, FMT_CKPT_TMP_NAME) != 0 && strcmp(name, FMT_MARKER_NAME ".tmp")) {
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
    kix_destroy(db->index);
    /* Snapshots the caller failed to release (db.h asks them to): freed with the handle. */
    for (axs_snapshot *sn = db->snap_oldest, *nx; sn; sn = nx) {
        nx = sn->next;
        free(sn);
    }
    vs_destroy(db->versions);
    for (size_t i = 0; i < db->seg_count; i++)
        log_segment_close(db->io, db->segs[i]);
    free(db->segs);
    if (db->lock_file)
        db->io->close(db->io->ctx, db->lock_file);
    pthread_mutex_destroy(&db->mu);
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
    for (size_t i = 0; i < db->seg_count; i++) {
        log_segment *seg = db->segs[i];
        if (!seg || seg->number >= db->min_live_segment)
            continue;
        char p[4096];
        log_segment_path(p, sizeof p, db->path, seg->number);
        db->segs[i] = NULL;
        seg->obsolete = true;
        if (seg->pins == 0)
            log_segment_close(db->io, seg);
        if (removing && db->io->remove(db->io->ctx, p) != 0)
            removing = false;
        else if (removing)
            removed = true;
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
            return db_set_error(db, rc, "Not supported: segment %" PRIu64
                                        " has a newer format version", seg->number);
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
        free(m);
        if (mc) {
            free(ds.numbers);
            return mc == -2 ? db_set_error(db, AXS_ENOTSUP, "Not supported: %s was written by a "
                                                            "newer format version", db->path)
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
                                " has a newer format version", seg->number);
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
        db->last_sequence = ck.last_sequence;
        db->min_live_segment = ck.min_live_segment;
        db->st.checkpoint_keys = ck.num_keys;
        from_seg = ck.position_segment;
        from_off = ck.position_offset;
        db_remove_obsolete(db);
    } else if (rc != AXS_ENOTFOUND && rc != AXS_ECORRUPT) {
        return rc;
    } else {
        /* No usable checkpoint: replay everything (the log holds all the data). */
        kix_destroy(db->index);
        db->index = NULL;
        if (db_index_create(db, &db->index) != AXS_OK)
            return AXS_ENOMEM;
        for (size_t i = 0; i < db->seg_count; i++)
            if (db->segs[i])
                db->segs[i]->live_bytes = 0;
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
    for (size_t i = 0; i < db->seg_count; i++)
        db->st.segments += db->segs[i] != NULL;
    return AXS_OK;
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
    pthread_mutex_init(&db->mu, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = db_index_create(db, &db->index);
    if (!rc)
        rc = db_open_locked(db, &o);
    if (rc) {
        if (errmsg)
            *errmsg = strdup(db->err[0] ? db->err : axs_strerror(rc));
        db_free(db);
        return rc;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    db->st.open_seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (!db->st.corruptions_skipped)
        db->err[0] = '\0';
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
    ckpt_info ck = {.last_sequence = db->last_sequence,
                    .position_segment = db->active->number,
                    .position_offset = db->active->size,
                    .min_live_segment = db->min_live_segment,
                    .num_keys = kix_count(db->index)};
    return ckpt_write(db, &ck);
}

int axs_flush(axs_db *db)
{
    if (!db)
        return AXS_EINVAL;
    pthread_mutex_lock(&db->mu);
    int rc = db_flush_locked(db);
    pthread_mutex_unlock(&db->mu);
    return rc;
}

int axs_close(axs_db *db)
{
    if (!db)
        return AXS_OK;
    pthread_mutex_lock(&db->mu);
    int rc = db->failed ? db->failed : db_flush_locked(db);
    pthread_mutex_unlock(&db->mu);
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
    else if (!log_parse_segment_name(name, &n) && strcmp(name, FMT_LOCK_NAME) &&
             strcmp(name, FMT_CKPT_NAME) && strcmp(name, FMT_CKPT_TMP_NAME) &&
             strcmp(name, FMT_MARKER_NAME ".tmp"))
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

#define COMPACT_RECORD_BYTES (1u << 20) /* entries copied per record, about */

/*
 * Copies every live entry, in key order, into new segments numbered after the current last
 * one, then publishes a checkpoint naming the first new segment as the oldest live one, then
 * removes the old segments. A crash before the checkpoint is published leaves the old
 * checkpoint and all old segments in place (the copies are replayed as COMPACTED records,
 * which changes nothing); after it, only the new segments are needed (docs/format.md).
 */
/* Copies an old version's value out of the log, before compaction removes its segment. */
static int copy_version(void *arg, vs_version *v)
{
    axs_db *db = arg;
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

static int db_compact_locked(axs_db *db)
{
    int rc = db_check_writable(db);
    if (rc)
        return rc;
    /* Old versions live snapshots may read point into segments about to go: copy them. */
    if (db->versions && (rc = vs_for_each_located(db->versions, copy_version, db)) != AXS_OK)
        return rc;
    uint64_t n = kix_count(db->index);
    uint64_t *locs = malloc((n ? n : 1) * sizeof *locs);
    if (!locs)
        return AXS_ENOMEM;
    /* Seal the current segment: it stops being the last one. */
    rc = db_seal(db, db->active);
    if (rc) {
        free(locs);
        return rc;
    }
    uint64_t first_new = db->active->number + 1;
    log_segment *out = NULL;
    bool sync_failed;
    rc = log_segment_create(db->io, db->path, first_new, db->opts.segment_size, &out,
                            &sync_failed);
    if (rc) {
        if (sync_failed)
            db->failed = AXS_EIO;
        free(locs);
        return db_set_error(db, db_errno_to_code(rc), "IO error: compaction output: %s",
                            strerror(-rc));
    }
    if ((rc = db_add_segment(db, out)) != AXS_OK) {
        log_segment_close(db->io, out);
        free(locs);
        return rc;
    }
    db->active = out; /* db_make_room now rolls compaction output over */

    kix_cursor c;
    uint64_t i = 0;
    bool more = kix_first(db->index, &c);
    while (!rc && more) {
        /* Gather up to COMPACT_RECORD_BYTES of entries into one COMPACTED record. */
        size_t len = FMT_RECORD_HEADER_SIZE;
        uint32_t count = 0, crcs = 0;
        uint64_t batch_start = i;
        while (more && (count == 0 || len < COMPACT_RECORD_BYTES)) {
            fmt_entry e;
            uint64_t loc = kix_cursor_loc(db->index, &c);
            if ((rc = db_entry_at(db, loc, true, &e)) != AXS_OK)
                break;
            size_t es = (size_t)fmt_entry_size(e.klen, e.vlen_stored);
            if ((rc = db_reserve_wbuf(db, len + es + 8)) != AXS_OK)
                break;
            memcpy(db->wbuf + len, e.key - FMT_ENTRY_HEADER_SIZE, es);
            crcs = fmt_crc32c_extend(crcs, db->wbuf + len, 4);
            locs[i++] = len; /* offset within the record, made absolute below */
            len += es;
            count++;
            more = kix_next(db->index, &c);
        }
        if (rc || count == 0)
            break;
        fmt_record_header_encode(db->wbuf, FMT_RECORD_COMPACTED, count, db->last_sequence,
                                 (uint32_t)len, crcs);
        size_t total = (size_t)fmt_align(len);
        memset(db->wbuf + len, 0, total - len);
        if ((rc = db_make_room(db, total)) != AXS_OK)
            break;
        uint64_t at = db->active->size;
        if ((rc = db_append(db, total)) != AXS_OK)
            break;
        for (uint64_t j = batch_start; j < i; j++)
            locs[j] = fmt_loc(db->active->number, at + locs[j]);
    }
    if (!rc && db->io->sync(db->io->ctx, db->active->file) != 0) {
        db->failed = AXS_EIO;
        rc = db_set_error(db, AXS_EIO, "IO error: sync of compaction output");
    }

    kix *fresh = NULL;
    if (!rc && db_index_create(db, &fresh) != AXS_OK)
        rc = AXS_ENOMEM;
    if (!rc && kix_bulk_load(fresh, locs, n) != AXI_OK)
        rc = AXS_ENOMEM;
    free(locs);
    if (rc) {
        /* Abandon the output: the old segments and index are untouched. */
        /* Keep whatever output was written: it holds only copies of current values, which a
         * replay applies harmlessly, and removing files here could leave a hole in the
         * numbering. Writes continue in the last output; the old segment stays sealed. */
        kix_destroy(fresh);
        return rc;
    }
    /* Switch: new index and live bytes; old segments become obsolete. */
    kix *old_index = db->index;
    db->index = fresh;
    db->mod_count++;
    uint64_t prev_min = db->min_live_segment;
    db->min_live_segment = first_new;
    for (size_t k = 0; k < db->seg_count; k++)
        if (db->segs[k])
            db->segs[k]->live_bytes = 0;
    kix_cursor c2;
    for (bool ok = kix_first(db->index, &c2); ok; ok = kix_next(db->index, &c2)) {
        uint64_t loc = kix_cursor_loc(db->index, &c2);
        const uint8_t *p = db_segment(db, fmt_loc_segment(loc))->map + fmt_loc_offset(loc);
        db_segment(db, fmt_loc_segment(loc))->live_bytes +=
            fmt_entry_size(fmt_get32(p + 8), fmt_get32(p + 12));
    }
    ckpt_info ck = {.last_sequence = db->last_sequence,
                    .position_segment = db->active->number,
                    .position_offset = db->active->size,
                    .min_live_segment = first_new,
                    .num_keys = kix_count(db->index)};
    rc = ckpt_write(db, &ck);
    if (rc) {
        /* Not published: keep everything; the old segments still hold all data. */
        db->index = old_index;
        kix_destroy(fresh);
        db->min_live_segment = prev_min;
        db->mod_count++;
        /* Recompute live bytes for the old layout lazily is not possible; reopen fixes the
         * accounting. Writes go on into the new active segment. */
        return rc;
    }
    kix_destroy(old_index);
    db_remove_obsolete(db);
    return AXS_OK;
}

int axs_compact(axs_db *db)
{
    if (!db)
        return AXS_EINVAL;
    pthread_mutex_lock(&db->mu);
    int rc = db_compact_locked(db);
    pthread_mutex_unlock(&db->mu);
    return rc;
}

/* ---- Snapshots -------------------------------------------------------------------------------- */

int db_snapshot_create_locked(axs_db *db, uint64_t seq, axs_snapshot **out)
{
    if (!db->versions && vs_create(&db->versions) != AXS_OK)
        return AXS_ENOMEM;
    axs_snapshot *sn = calloc(1, sizeof *sn);
    if (!sn)
        return AXS_ENOMEM;
    sn->seq = seq;
    /* Sequence numbers only grow, so appending keeps the list ordered by seq, except for an
     * iterator reading at an older explicit snapshot, which takes no snapshot of its own. */
    sn->prev = db->snap_newest;
    if (db->snap_newest)
        db->snap_newest->next = sn;
    else
        db->snap_oldest = sn;
    db->snap_newest = sn;
    *out = sn;
    return AXS_OK;
}

void db_snapshot_release_locked(axs_db *db, axs_snapshot *sn)
{
    if (sn->prev)
        sn->prev->next = sn->next;
    else
        db->snap_oldest = sn->next;
    if (sn->next)
        sn->next->prev = sn->prev;
    else
        db->snap_newest = sn->prev;
    free(sn);
    vs_collect(db->versions, db->snap_oldest != NULL, db->snap_oldest ? db->snap_oldest->seq : 0);
}

int axs_snapshot_create(axs_db *db, axs_snapshot **out)
{
    if (!db || !out)
        return AXS_EINVAL;
    pthread_mutex_lock(&db->mu);
    int rc = db_snapshot_create_locked(db, db->last_sequence, out);
    pthread_mutex_unlock(&db->mu);
    return rc;
}

void axs_snapshot_release(axs_db *db, axs_snapshot *snap)
{
    if (!db || !snap)
        return;
    pthread_mutex_lock(&db->mu);
    db_snapshot_release_locked(db, snap);
    pthread_mutex_unlock(&db->mu);
}

uint64_t axs_snapshot_sequence(const axs_snapshot *snap)
{
    return snap ? snap->seq : 0;
}

/* ---- Statistics and properties ------------------------------------------------------------------ */

static void db_fill_stats(axs_db *db, axs_stats *st)
{
    *st = db->st;
    st->num_keys = kix_count(db->index);
    st->last_sequence = db->last_sequence;
    st->segments = st->log_bytes = st->live_bytes = 0;
    for (size_t i = 0; i < db->seg_count; i++) {
        if (!db->segs[i])
            continue;
        st->segments++;
        st->log_bytes += db->segs[i]->size;
        st->live_bytes += db->segs[i]->live_bytes;
    }
    kix_stats ks;
    kix_get_stats(db->index, &ks);
    st->index_bytes = ks.memory_bytes;
}

void axs_get_stats(axs_db *db, axs_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!db)
        return;
    pthread_mutex_lock(&db->mu);
    db_fill_stats(db, st);
    pthread_mutex_unlock(&db->mu);
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
