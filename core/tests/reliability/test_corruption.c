/*
 * test_corruption.c: damage every region of every file of a small database, one byte or one
 * truncation at a time, and bound what the engine may do with it (STYLE.md, Tests 13; LevelDB's
 * db/corruption_test.cc).
 *
 * A base database is built once per case with a seeded workload: a few hundred keys, puts,
 * overwrites, deletes, write batches, a compaction (so COMPACTED records and a segment holding
 * one oversized record exist), 64 KiB segments, LZ4 on or off. It is read into memory and
 * parsed by an independent reader written from docs/format.md (this file does not use the
 * engine's format code), which checks every checksum the document defines and classifies every
 * byte offset into a region: segment header fields, record header fields, entry header
 * fields, key bytes, value bytes, LZ4 length prefix, padding, checkpoint header fields, segment
 * table, location blocks and their CRCs, marker fields.
 *
 * Variants of the base: "closed" (closed cleanly: the checkpoint covers the whole log),
 * "tail" (a snapshot of the open database after more writes: the checkpoint covers a prefix
 * and the rest is replayed at open) and "nockpt" (the checkpoint removed: full replay).
 *
 * For each chosen position (every byte of the small files; every header, padding and edge byte
 * of a set of focus records plus a dense random sample elsewhere in segments) a fresh copy of
 * the database is written with that byte flipped, or cut at that offset (and, once per
 * segment, with the whole segment file removed), and opened twice:
 *
 *  paranoid_checks = true: the open either fails with AXS_ECORRUPT (AXS_ENOTDB for the marker)
 *    and a message naming the segment (or marker) and the offset of the damaged record, or
 *    succeeds; then every get returns the exact original value, AXS_ECORRUPT, or - only where
 *    the torn-tail rule of docs/format.md applies (damage in the last record of the last
 *    segment, or a cut of the last segment above a sound checkpoint's position) - the state
 *    without the dropped records. A non-last segment that lost its end (no SEAL record) and a
 *    log cut below the checkpoint's position are corruption, as format.md says.
 *  paranoid_checks = false: the open succeeds (exceptions: a broken marker, AXS_ENOTDB, since
 *    nothing then says the directory is ours; a damaged segment header, AXS_ECORRUPT, since the
 *    header holds the format version and without it the segment's records cannot be trusted to
 *    mean what version 1 says); a damaged record may be skipped, and then the state without it
 *    is allowed, but only if "alexstorage.corruptions" counts it.
 *  Either way: never a crash, never a value that was not the key's (values describe
 *  themselves, rel_util.h), never a batch half applied, iteration agrees with the gets, and
 *  the database takes a new write.
 *  A damaged or cut checkpoint must be ignored: the open succeeds, replays the whole log
 *  (checkpoint_keys == 0) and every value is exact.
 *
 * The test prints how many positions it tried per file kind and region, and every failure
 * (capped) with the file, offset and kind of damage; it fails at the end if there was any.
 * ALEXSTORAGE_SEED replays a run; ALEXSTORAGE_TEST_SCALE scales the sample density.
 */
#define _XOPEN_SOURCE 700

#include "rel_util.h"

#include <errno.h>
#include <inttypes.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* ---- an independent reader of docs/format.md ------------------------------------------------ */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* CRC32C (Castagnoli, reflected 0x82F63B78), bit by bit: slow and obviously right. crc is the
 * CRC of the bytes before (0 for none). */
static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}
static uint32_t mask_crc(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

enum file_kind { F_MARKER, F_SEGMENT, F_CKPT, F_OTHER };

/* Regions of the files, for the coverage report. */
enum region {
    R_SEG_MAGIC, R_SEG_VERSION, R_SEG_RES1, R_SEG_NUMBER, R_SEG_RES2, R_SEG_CRC,
    R_REC_CRC, R_REC_LENGTH, R_REC_SEQUENCE, R_REC_COUNT, R_REC_TYPE, R_REC_RESERVED,
    R_ENT_CRC, R_ENT_TYPE, R_ENT_FLAGS, R_ENT_RESERVED, R_ENT_KLEN, R_ENT_VLEN, R_ENT_KEY,
    R_ENT_VALUE, R_ENT_LZ4_LEN, R_ENT_LZ4_BLOCK, R_PADDING,
    R_CK_MAGIC, R_CK_VERSION, R_CK_RESERVED, R_CK_LASTSEQ, R_CK_POS_SEG, R_CK_POS_OFF,
    R_CK_NKEYS, R_CK_MINLIVE, R_CK_NSEG, R_CK_HDR_CRC, R_CK_TABLE, R_CK_TABLE_CRC, R_CK_PREFIX,
    R_CK_PREFIX_CRC, R_CK_LOCS, R_CK_BLOCK_CRC,
    R_MK_MAGIC, R_MK_VERSION, R_MK_RESERVED, R_MK_CRC,
    R_WHOLE_FILE,
    R_COUNT
};
static const char *region_names[R_COUNT] = {
    "segment header magic", "segment header version", "segment header reserved(12)",
    "segment header number", "segment header reserved(24)", "segment header crc",
    "record crc", "record length", "record sequence", "record count", "record type",
    "record reserved",
    "entry crc", "entry type", "entry flags", "entry reserved", "entry key length",
    "entry value length", "key bytes", "value bytes", "lz4 raw length", "lz4 block", "padding",
    "checkpoint magic", "checkpoint version", "checkpoint prefix length", "checkpoint last sequence",
    "checkpoint position segment", "checkpoint position offset", "checkpoint key count",
    "checkpoint oldest live segment", "checkpoint segment count", "checkpoint header crc",
    "checkpoint segment table", "checkpoint segment table crc", "checkpoint prefix",
    "checkpoint prefix crc", "checkpoint locations and ALEX keys", "checkpoint block crc",
    "marker magic", "marker version", "marker reserved", "marker crc",
    "whole file (removed)"};

typedef struct c_entry {
    uint64_t off; /* in the segment */
    uint8_t type, flags;
    uint32_t klen, vlen;
    uint32_t key_id;
    rel_slot slot; /* what this entry makes the key */
} c_entry;

typedef struct c_record {
    uint32_t file; /* index into files */
    uint64_t seg_no;
    uint64_t off, length, end_padded;
    uint8_t type;
    uint32_t count;
    uint32_t first_entry; /* index into ents */
    bool has_delete, has_lz4;
} c_record;

typedef struct c_file {
    char name[64];
    uint8_t *data;
    size_t len;
    int kind;
    uint64_t seg_no;
    uint32_t first_rec, nrecs; /* segments */
    /* the copy in the work directory, as last written by write_copy */
    ino_t w_ino;
    uint64_t w_size;
    struct timespec w_mtime;
} c_file;

typedef struct c_db {
    c_file files[64];
    uint32_t nfiles;
    c_record *recs;
    uint32_t nrecs, caprecs;
    c_entry *ents;
    uint32_t nents, capents;
    uint32_t nkeys;
    rel_slot *model; /* expected final state, from the workload */
    bool has_ckpt;
    uint64_t ck_pos_seg, ck_pos_off, ck_nkeys, ck_minlive;
    uint32_t ck_nseg;
    uint32_t ck_plen; /* prefix length */
    int last_seg_file; /* index of the highest-numbered segment */
    char problem[512]; /* first disagreement with format.md, if any */
} c_db;

static void problem(c_db *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void problem(c_db *db, const char *fmt, ...)
{
    if (db->problem[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->problem, sizeof db->problem, fmt, ap);
    va_end(ap);
}

static bool parse_key_id(const uint8_t *k, uint32_t klen, uint32_t *id)
{
    if (klen < 8 || k[0] != 'k')
        return false;
    uint32_t v = 0;
    for (int i = 1; i < 8; i++) {
        if (k[i] < '0' || k[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(k[i] - '0');
    }
    char buf[REL_KEY_MAX];
    size_t l = rel_key(buf, v);
    if (l != klen || memcmp(buf, k, klen) != 0)
        return false;
    *id = v;
    return true;
}

static void parse_segment(c_db *db, uint32_t fi)
{
    c_file *f = &db->files[fi];
    const uint8_t *p = f->data;
    f->first_rec = db->nrecs;
    if (f->len < 32 || memcmp(p, "ALEXSEG\0", 8) != 0 || le32(p + 8) < 1 || le32(p + 8) > 2 || le32(p + 12) != 0 ||
        le64(p + 16) != f->seg_no || le32(p + 24) != 0 ||
        mask_crc(crc32c_sw(0, p, 28)) != le32(p + 28)) {
        problem(db, "%s: segment header does not match format.md", f->name);
        return;
    }
    uint64_t off = 32;
    while (off < f->len) {
        if (off % 8 || off + 24 > f->len) {
            problem(db, "%s: record at %" PRIu64 " misaligned or cut", f->name, off);
            return;
        }
        const uint8_t *h = p + off;
        uint32_t length = le32(h + 4), count = le32(h + 16);
        uint8_t type = h[20];
        /* types 1 WRITE, 2 COMPACTED (count >= 1), 3 SEAL (count 0, length 24) */
        if ((type != 1 && type != 2 && type != 3) || (type == 3) != (count == 0) ||
            (type == 3 && length != 24) || h[21] || h[22] || h[23] || off + length > f->len ||
            length < 24) {
            problem(db, "%s: record header at %" PRIu64 " does not match format.md", f->name,
                    off);
            return;
        }
        if (db->nrecs == db->caprecs) {
            db->caprecs = db->caprecs ? 2 * db->caprecs : 256;
            db->recs = realloc(db->recs, db->caprecs * sizeof *db->recs);
            assert_non_null(db->recs);
        }
        c_record *r = &db->recs[db->nrecs];
        memset(r, 0, sizeof *r);
        r->file = fi;
        r->seg_no = f->seg_no;
        r->off = off;
        r->length = length;
        r->end_padded = off + ((length + 7u) & ~7u);
        r->type = type;
        r->count = count;
        r->first_entry = db->nents;
        uint32_t rcrc = 0;
        uint64_t eo = off + 24;
        for (uint32_t i = 0; i < count; i++) {
            if (eo + 16 > off + length) {
                problem(db, "%s: entry %u of record %" PRIu64 " cut", f->name, i, off);
                return;
            }
            const uint8_t *e = p + eo;
            uint32_t klen = le32(e + 8), vlen = le32(e + 12);
            if (eo + 16 + (uint64_t)klen + vlen > off + length || (e[4] < 1 || e[4] > 3) ||
                (e[5] & ~1u) || e[6] || e[7] || (e[4] == 2 && (vlen || e[5])) ||
                (e[4] == 3 && e[5])) {
                problem(db, "%s: entry at %" PRIu64 " does not match format.md", f->name, eo);
                return;
            }
            if (mask_crc(crc32c_sw(0, e + 4, 12 + (size_t)klen + vlen)) != le32(e)) {
                problem(db, "%s: entry CRC at %" PRIu64 " differs from format.md's definition",
                        f->name, eo);
                return;
            }
            rcrc = crc32c_sw(rcrc, e, 4);
            if (db->nents == db->capents) {
                db->capents = db->capents ? 2 * db->capents : 1024;
                db->ents = realloc(db->ents, db->capents * sizeof *db->ents);
                assert_non_null(db->ents);
            }
            c_entry *ce = &db->ents[db->nents++];
            memset(ce, 0, sizeof *ce);
            ce->off = eo;
            ce->type = e[4];
            ce->flags = e[5];
            ce->klen = klen;
            ce->vlen = vlen;
            if (!parse_key_id(e + 16, klen, &ce->key_id) || ce->key_id >= db->nkeys) {
                problem(db, "%s: entry at %" PRIu64 " has a key the workload never wrote",
                        f->name, eo);
                return;
            }
            if (e[4] == 2) {
                r->has_delete = true;
            } else {
                const uint8_t *v = e + 16 + klen;
                uint8_t *raw = NULL;
                uint32_t rawlen = vlen;
                if (e[5] & 1) {
                    r->has_lz4 = true;
                    if (vlen < 4) {
                        problem(db, "%s: LZ4 value at %" PRIu64 " too short", f->name, eo);
                        return;
                    }
                    rawlen = le32(v);
                    raw = tu_xmalloc(rawlen ? rawlen : 1);
                    int got = LZ4_decompress_safe((const char *)v + 4, (char *)raw,
                                                  (int)vlen - 4, (int)rawlen);
                    if (got < 0 || (uint32_t)got != rawlen) {
                        free(raw);
                        problem(db, "%s: LZ4 value at %" PRIu64 " does not decompress",
                                f->name, eo);
                        return;
                    }
                    v = raw;
                }
                ce->slot.present = true;
                if (rel_value_decode(v, rawlen, &ce->slot.v) != 0 ||
                    ce->slot.v.key_id != ce->key_id) {
                    free(raw);
                    problem(db, "%s: value at %" PRIu64 " is not one the workload wrote",
                            f->name, eo);
                    return;
                }
                free(raw);
            }
            eo += 16 + (uint64_t)klen + vlen;
        }
        if (eo != off + length) {
            problem(db, "%s: entries of record %" PRIu64 " do not fill its length", f->name, off);
            return;
        }
        rcrc = crc32c_sw(rcrc, h + 4, 20);
        if (mask_crc(rcrc) != le32(h)) {
            problem(db, "%s: record CRC at %" PRIu64 " differs from format.md's definition",
                    f->name, off);
            return;
        }
        for (uint64_t q = off + length; q < r->end_padded && q < f->len; q++)
            if (p[q]) {
                problem(db, "%s: non-zero padding at %" PRIu64, f->name, q);
                return;
            }
        db->nrecs++;
        f->nrecs++;
        off = r->end_padded;
    }
}

/* format.md: every segment except the last ends with a SEAL record. */
static void check_seals(c_db *db)
{
    for (uint32_t i = 0; i < db->nfiles; i++) {
        const c_file *f = &db->files[i];
        if (f->kind != F_SEGMENT || (int)i == db->last_seg_file)
            continue;
        if (f->nrecs == 0 || db->recs[f->first_rec + f->nrecs - 1].type != 3)
            problem(db, "%s is not the last segment but does not end with a SEAL record",
                    f->name);
    }
}

static void parse_ckpt(c_db *db, const c_file *f)
{
    const uint8_t *m = f->data;
    if (f->len < 64 || memcmp(m, "ALEXCKPT", 8) != 0 || le32(m + 8) < 1 || le32(m + 8) > 2 || le32(m + 12) > 256 ||
        mask_crc(crc32c_sw(0, m, 60)) != le32(m + 60)) {
        problem(db, "CHECKPOINT header does not match format.md");
        return;
    }
    db->has_ckpt = true;
    db->ck_pos_seg = le64(m + 24);
    db->ck_pos_off = le64(m + 32);
    db->ck_nkeys = le64(m + 40);
    db->ck_minlive = le64(m + 48);
    db->ck_nseg = le32(m + 56);
    db->ck_plen = le32(m + 12);
    uint64_t nblocks = (db->ck_nkeys + 4095) / 4096;
    uint64_t expect = 64 + 16ull * db->ck_nseg + 4 + db->ck_plen + 4 + 16 * db->ck_nkeys +
                      4 * nblocks;
    if (expect != f->len) {
        problem(db, "CHECKPOINT size %zu, format.md says %" PRIu64, f->len, expect);
        return;
    }
    const uint8_t *t = m + 64;
    if (mask_crc(crc32c_sw(0, t, 16ull * db->ck_nseg)) != le32(t + 16ull * db->ck_nseg)) {
        problem(db, "CHECKPOINT segment table CRC differs from format.md's definition");
        return;
    }
    const uint8_t *pfx = t + 16ull * db->ck_nseg + 4;
    if (mask_crc(crc32c_sw(0, pfx, db->ck_plen)) != le32(pfx + db->ck_plen)) {
        problem(db, "CHECKPOINT prefix CRC differs from format.md's definition");
        return;
    }
    const uint8_t *b = pfx + db->ck_plen + 4;
    for (uint64_t done = 0; done < db->ck_nkeys;) {
        uint64_t nb = db->ck_nkeys - done < 4096 ? db->ck_nkeys - done : 4096;
        if (mask_crc(crc32c_sw(0, b, 16 * nb)) != le32(b + 16 * nb)) {
            problem(db, "CHECKPOINT block CRC differs from format.md's definition");
            return;
        }
        b += 16 * nb + 4;
        done += nb;
    }
}

static int region_of(const c_db *db, uint32_t fi, uint64_t off, const c_record **rec_out)
{
    const c_file *f = &db->files[fi];
    *rec_out = NULL;
    if (f->kind == F_MARKER)
        return off < 8 ? R_MK_MAGIC : off < 12 ? R_MK_VERSION : off < 20 ? R_MK_RESERVED : R_MK_CRC;
    if (f->kind == F_CKPT) {
        static const int hdr[] = {R_CK_MAGIC, R_CK_VERSION, R_CK_RESERVED, R_CK_LASTSEQ,
                                  R_CK_POS_SEG, R_CK_POS_OFF, R_CK_NKEYS, R_CK_MINLIVE};
        if (off < 56)
            return off < 8 ? hdr[0] : off < 12 ? hdr[1] : off < 16 ? hdr[2] : hdr[3 + (off - 16) / 8];
        if (off < 60)
            return R_CK_NSEG;
        if (off < 64)
            return R_CK_HDR_CRC;
        uint64_t t = 64 + 16ull * db->ck_nseg;
        if (off < t)
            return R_CK_TABLE;
        if (off < t + 4)
            return R_CK_TABLE_CRC;
        if (off < t + 4 + db->ck_plen)
            return R_CK_PREFIX;
        if (off < t + 8 + db->ck_plen)
            return R_CK_PREFIX_CRC;
        uint64_t rel = off - t - 8 - db->ck_plen;
        uint64_t blk = 4096 * 16 + 4;
        uint64_t in = rel % blk;
        uint64_t nb_in_block = db->ck_nkeys - (rel / blk) * 4096;
        if (nb_in_block > 4096)
            nb_in_block = 4096;
        return in < 16 * nb_in_block ? R_CK_LOCS : R_CK_BLOCK_CRC;
    }
    if (off < 32) {
        static const int seg[] = {R_SEG_MAGIC, R_SEG_VERSION, R_SEG_RES1, R_SEG_NUMBER,
                                  R_SEG_RES2, R_SEG_CRC};
        return off < 8 ? seg[0] : off < 12 ? seg[1] : off < 16 ? seg[2] : off < 24 ? seg[3]
                                                               : off < 28 ? seg[4] : seg[5];
    }
    /* binary search the record */
    uint32_t lo = f->first_rec, hi = f->first_rec + f->nrecs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (db->recs[mid].end_padded <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    assert_true(lo < f->first_rec + f->nrecs);
    const c_record *r = &db->recs[lo];
    *rec_out = r;
    uint64_t ro = off - r->off;
    if (ro < 24)
        return ro < 4 ? R_REC_CRC : ro < 8 ? R_REC_LENGTH : ro < 16 ? R_REC_SEQUENCE
               : ro < 20 ? R_REC_COUNT : ro < 21 ? R_REC_TYPE : R_REC_RESERVED;
    if (off >= r->off + r->length)
        return R_PADDING;
    for (uint32_t i = 0; i < r->count; i++) {
        const c_entry *e = &db->ents[r->first_entry + i];
        uint64_t end = e->off + 16 + e->klen + e->vlen;
        if (off >= end)
            continue;
        uint64_t eo = off - e->off;
        if (eo < 16)
            return eo < 4 ? R_ENT_CRC : eo < 5 ? R_ENT_TYPE : eo < 6 ? R_ENT_FLAGS
                   : eo < 8 ? R_ENT_RESERVED : eo < 12 ? R_ENT_KLEN : R_ENT_VLEN;
        if (eo < 16 + e->klen)
            return R_ENT_KEY;
        if (e->flags & 1)
            return eo < 16 + e->klen + 4 ? R_ENT_LZ4_LEN : R_ENT_LZ4_BLOCK;
        return R_ENT_VALUE;
    }
    fail_msg("offset %" PRIu64 " of %s not classified", off, f->name);
    return R_COUNT;
}

/* State after replaying every record except those with skip[i] (NULL: none). */
static void replay(const c_db *db, const bool *skip, rel_slot *out)
{
    memset(out, 0, db->nkeys * sizeof *out);
    for (uint32_t i = 0; i < db->nrecs; i++) {
        if (skip && skip[i])
            continue;
        const c_record *r = &db->recs[i];
        for (uint32_t j = 0; j < r->count; j++) {
            const c_entry *e = &db->ents[r->first_entry + j];
            out[e->key_id] = e->slot;
        }
    }
}

/* ---- building the base database ------------------------------------------------------------ */

enum variant { V_CLOSED, V_TAIL, V_NOCKPT };
static const char *variant_names[] = {"closed", "tail", "nockpt"};

#define C_NKEYS 360u
#define C_SEGMENT_SIZE (64u * 1024u)

typedef struct c_case {
    int compression;
    int variant;
    uint64_t seed;
    c_db db;
    char *base_dir;
    char *work_dir;
    rel_slot *final;   /* replay of every record: must equal db.model */
    rel_slot *alt;     /* scratch: state without the damaged records */
    rel_slot *alt2;    /* scratch: another such state (c_expect.has_alt2) */
    bool *skip2;       /* scratch */
    rel_slot *seen;    /* scratch: what the gets returned */
    int *seen_rc;      /* scratch */
    bool *skip;        /* scratch */
    rel_failures fails;
    struct {
        char key[160];
        char example[700];
        unsigned count;
    } tally[160];
    unsigned ntally;
    int dirty_file; /* file damaged in the work directory (-1: none) */
    uint64_t tried[R_COUNT][2]; /* [region][truncate] */
    uint64_t failed_region[R_COUNT];
    uint64_t opens, open_failures, corrupt_gets, iter_corrupt, alt_states;
} c_case;

static void run_ops(axs_db *h, tu_rng *rng, const rel_mix *mix, uint64_t *version,
                    uint64_t *batch, rel_slot *model, unsigned n, int only_kind)
{
    for (unsigned i = 0; i < n; i++) {
        rel_op op;
        rel_gen_op(rng, mix, version, ++*batch, &op);
        if (only_kind >= 0 && op.kind != only_kind)
            continue;
        if (op.kind == REL_OP_FLUSH || op.kind == REL_OP_COMPACT)
            continue;
        int rc = rel_exec_op(h, &op);
        assert_int_equal(rc, AXS_OK);
        rel_apply_op(model, &op);
    }
}

static void put_every_key(axs_db *h, tu_rng *rng, uint64_t *version, uint64_t *batch,
                          rel_slot *model)
{
    for (uint32_t k = 0; k < C_NKEYS; k++) {
        rel_op op;
        memset(&op, 0, sizeof op);
        op.kind = REL_OP_PUT;
        op.sync = k % 16 == 0;
        op.batch_id = ++*batch;
        op.n = 1;
        op.e[0].key = k;
        op.e[0].version = ++*version;
        op.e[0].pad = 40 + (uint32_t)tu_rng_below(rng, 560);
        assert_int_equal(rel_exec_op(h, &op), AXS_OK);
        rel_apply_op(model, &op);
    }
}

static void load_files(c_case *cx, const char *dir)
{
    c_db *db = &cx->db;
    char **names;
    size_t n = rel_list_files(dir, &names);
    db->nfiles = 0;
    db->last_seg_file = -1;
    uint64_t best = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "LOCK") == 0)
            continue;
        assert_true(db->nfiles < 64);
        c_file *f = &db->files[db->nfiles];
        memset(f, 0, sizeof *f);
        snprintf(f->name, sizeof f->name, "%s", names[i]);
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        assert_int_equal(rel_read_file(p, &f->data, &f->len), 0);
        size_t nl = strlen(names[i]);
        if (strcmp(names[i], "ALEXSTORAGE") == 0) {
            f->kind = F_MARKER;
        } else if (strcmp(names[i], "CHECKPOINT") == 0) {
            f->kind = F_CKPT;
        } else if (nl == 14 && strcmp(names[i] + 10, ".seg") == 0) {
            f->kind = F_SEGMENT;
            f->seg_no = strtoull(names[i], NULL, 10);
            if (db->last_seg_file < 0 || f->seg_no > best) {
                best = f->seg_no;
                db->last_seg_file = (int)db->nfiles;
            }
        } else {
            f->kind = F_OTHER;
        }
        db->nfiles++;
    }
    rel_free_names(names, n);
}

static int cmp_seg(const void *a, const void *b)
{
    const c_file *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind - y->kind;
    return (x->seg_no > y->seg_no) - (x->seg_no < y->seg_no);
}

static void build_base(c_case *cx)
{
    c_db *db = &cx->db;
    memset(db, 0, sizeof *db);
    db->nkeys = C_NKEYS;
    db->model = calloc(C_NKEYS, sizeof *db->model);
    assert_non_null(db->model);
    cx->base_dir = rel_mkdtemp("corrupt-base", true);
    cx->work_dir = rel_mkdtemp("corrupt-work", true);

    tu_rng rng;
    tu_rng_init(&rng, cx->seed);
    uint64_t version = 0, batch = 0;
    rel_mix mix = {.nkeys = C_NKEYS, .p_sync = 0.05, .p_delete = 0.12, .p_batch = 0.06,
                   .max_batch = 12, .pad_min = 0, .pad_max = 600};

    axs_options o;
    axs_options_init(&o);
    /* No background compaction: this test counts and damages exact records and I/O calls,
     * which a concurrent pass would move; it runs axs_compact itself. */
    o.compaction_garbage_ratio = 0;
    o.create_if_missing = true;
    o.segment_size = C_SEGMENT_SIZE;
    o.compression = cx->compression;
    axs_db *h = NULL;
    char *err = NULL;
    assert_int_equal(axs_open(cx->base_dir, &o, &h, &err), AXS_OK);
    put_every_key(h, &rng, &version, &batch, db->model); /* ~120 KiB: two segments */
    run_ops(h, &rng, &mix, &version, &batch, db->model, 150, -1);
    assert_int_equal(axs_compact(h), AXS_OK); /* COMPACTED records, one oversized */
    run_ops(h, &rng, &mix, &version, &batch, db->model, 260, -1);
    assert_int_equal(axs_close(h), AXS_OK);

    if (cx->variant == V_TAIL) {
        assert_int_equal(axs_open(cx->base_dir, &o, &h, &err), AXS_OK);
        run_ops(h, &rng, &mix, &version, &batch, db->model, 300, -1);
        load_files(cx, cx->base_dir); /* a snapshot of the open database */
        assert_int_equal(axs_close(h), AXS_OK);
    } else {
        load_files(cx, cx->base_dir);
    }
    if (cx->variant == V_NOCKPT) {
        for (uint32_t i = 0; i < db->nfiles; i++)
            if (db->files[i].kind == F_CKPT) {
                free(db->files[i].data);
                db->files[i] = db->files[--db->nfiles];
                break;
            }
    }
    /* segments in number order, so that records come out in log order */
    qsort(db->files, db->nfiles, sizeof db->files[0], cmp_seg);
    db->last_seg_file = -1;
    for (uint32_t i = 0; i < db->nfiles; i++) {
        c_file *f = &db->files[i];
        if (f->kind == F_SEGMENT) {
            db->last_seg_file = (int)i;
            parse_segment(db, i);
        } else if (f->kind == F_CKPT) {
            parse_ckpt(db, f);
        } else if (f->kind == F_OTHER) {
            problem(db, "unexpected file %s in the database directory", f->name);
        }
    }
    check_seals(db);
    TU_REQUIRE(db->problem[0] == '\0', "the base database disagrees with docs/format.md: %s",
               db->problem);
    TU_REQUIRE(db->last_seg_file >= 0, "no segment files");

    cx->final = calloc(C_NKEYS, sizeof *cx->final);
    cx->alt = calloc(C_NKEYS, sizeof *cx->alt);
    cx->seen = calloc(C_NKEYS, sizeof *cx->seen);
    cx->seen_rc = calloc(C_NKEYS, sizeof *cx->seen_rc);
    cx->skip = calloc(db->nrecs ? db->nrecs : 1, sizeof *cx->skip);
    cx->alt2 = calloc(C_NKEYS, sizeof *cx->alt2);
    cx->skip2 = calloc(db->nrecs ? db->nrecs : 1, sizeof *cx->skip2);
    assert_true(cx->final && cx->alt && cx->seen && cx->seen_rc && cx->skip && cx->alt2 &&
                cx->skip2);
    replay(db, NULL, cx->final);
    for (uint32_t k = 0; k < C_NKEYS; k++) {
        char a[96], b[96];
        TU_REQUIRE(rel_slot_equal(&cx->final[k], &db->model[k]),
                   "replaying the log as format.md describes gives key %u = %s, but the "
                   "workload wrote %s", k, rel_slot_str(&cx->final[k], a, sizeof a),
                   rel_slot_str(&db->model[k], b, sizeof b));
    }
    uint32_t nseg = 0, compacted = 0, lz4 = 0, batches = 0, deletes = 0, seals = 0;
    for (uint32_t i = 0; i < db->nfiles; i++)
        nseg += db->files[i].kind == F_SEGMENT;
    for (uint32_t i = 0; i < db->nrecs; i++) {
        compacted += db->recs[i].type == 2;
        seals += db->recs[i].type == 3;
        lz4 += db->recs[i].has_lz4;
        batches += db->recs[i].type == 1 && db->recs[i].count > 1;
        deletes += db->recs[i].has_delete;
    }
    fprintf(stderr,
            "[ BASE     ] %s/%s: %u files, %u segments, %u records (%u compacted, %u seals, %u "
            "batches, %u with deletes, %u with LZ4), checkpoint %s (position %" PRIu64
            ":%" PRIu64 ")\n",
            cx->compression ? "lz4" : "plain", variant_names[cx->variant], db->nfiles, nseg,
            db->nrecs, compacted, seals, batches, deletes, lz4, db->has_ckpt ? "yes" : "no",
            db->ck_pos_seg, db->ck_pos_off);
    TU_REQUIRE(nseg >= 3, "want several segments, got %u", nseg);
    TU_REQUIRE(compacted >= 1 && batches >= 1 && deletes >= 1 && seals >= 1,
               "base lacks a record kind");
    TU_REQUIRE(!cx->compression || lz4 >= 1, "no LZ4 values in an LZ4 database");
}

static void free_case(c_case *cx)
{
    for (uint32_t i = 0; i < cx->db.nfiles; i++)
        free(cx->db.files[i].data);
    free(cx->db.recs);
    free(cx->db.ents);
    free(cx->db.model);
    free(cx->final);
    free(cx->alt);
    free(cx->seen);
    free(cx->seen_rc);
    free(cx->skip);
    free(cx->alt2);
    free(cx->skip2);
    rel_rmtree(cx->base_dir);
    rel_rmtree(cx->work_dir);
    free(cx->base_dir);
    free(cx->work_dir);
}

/* ---- one trial ----------------------------------------------------------------------------- */

typedef struct c_damage {
    uint32_t file;
    uint64_t off;
    bool truncate; /* cut at off (off 0 with remove: the file is removed) */
    bool remove;
    uint8_t mask;
} c_damage;

/* Makes the work directory a fresh copy of the base with damage d. Writing every file for
 * every trial is slow, so only files that differ from what was written last are rewritten: the
 * one damaged now or last time, and any whose size, inode or modification time changed (the
 * engine appends, truncates, recreates and checkpoints); files the base lacks are removed. */
static void write_copy(c_case *cx, const c_damage *d)
{
    char **names;
    size_t n = rel_list_files(cx->work_dir, &names);
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (uint32_t j = 0; j < cx->db.nfiles && !known; j++)
            known = strcmp(names[i], cx->db.files[j].name) == 0;
        if (!known) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", cx->work_dir, names[i]);
            if (unlink(p) != 0)
                fail_msg("unlink %s: %s", p, strerror(errno));
        }
    }
    rel_free_names(names, n);
    for (uint32_t i = 0; i < cx->db.nfiles; i++) {
        c_file *f = &cx->db.files[i];
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", cx->work_dir, f->name);
        struct stat st;
        bool same = i != d->file && (int)i != cx->dirty_file && stat(p, &st) == 0 &&
                    st.st_ino == f->w_ino && (uint64_t)st.st_size == f->w_size &&
                    st.st_mtim.tv_sec == f->w_mtime.tv_sec &&
                    st.st_mtim.tv_nsec == f->w_mtime.tv_nsec;
        if (same)
            continue;
        if (i == d->file && d->remove) {
            if (unlink(p) != 0 && errno != ENOENT)
                fail_msg("unlink %s: %s", p, strerror(errno));
            f->w_ino = 0;
            continue;
        }
        if (i != d->file) {
            rel_write_file(p, f->data, f->len);
        } else if (d->truncate) {
            rel_write_file(p, f->data, (size_t)d->off);
        } else {
            uint8_t *copy = tu_xmalloc(f->len);
            memcpy(copy, f->data, f->len);
            copy[d->off] ^= d->mask;
            rel_write_file(p, copy, f->len);
            free(copy);
        }
        if (stat(p, &st) != 0)
            fail_msg("stat %s: %s", p, strerror(errno));
        f->w_ino = st.st_ino;
        f->w_size = (uint64_t)st.st_size;
        f->w_mtime = st.st_mtim;
    }
    cx->dirty_file = (int)d->file;
}

/* Does msg contain word followed (after spaces) by the decimal number num? */
static bool msg_number_after(const char *msg, const char *word, uint64_t num)
{
    size_t wl = strlen(word);
    for (const char *s = strstr(msg, word); s; s = strstr(s + 1, word)) {
        const char *q = s + wl;
        while (*q == ' ' || *q == ':' || *q == '#')
            q++;
        if (*q < '0' || *q > '9')
            continue;
        if (strtoull(q, NULL, 10) == num)
            return true;
    }
    return false;
}

/* Does msg give an offset in [lo, hi] ("offset N" or "at N")? */
static bool msg_names_offset(const char *msg, uint64_t lo, uint64_t hi)
{
    static const char *words[] = {"offset", " at "};
    for (int w = 0; w < 2; w++) {
        size_t wl = strlen(words[w]);
        for (const char *s = strstr(msg, words[w]); s; s = strstr(s + 1, words[w])) {
            const char *q = s + wl;
            while (*q == ' ' || *q == ':')
                q++;
            if (*q < '0' || *q > '9')
                continue;
            uint64_t v = strtoull(q, NULL, 10);
            if (v >= lo && v <= hi)
                return true;
        }
    }
    return false;
}

/* Does msg name segment seg: "segment N", "segments N to M" (a range holding it), or the file
 * name? */
static bool msg_names_segment(const char *msg, uint64_t seg)
{
    char name[32];
    snprintf(name, sizeof name, "%010" PRIu64 ".seg", seg);
    if (msg_number_after(msg, "segment", seg) || strstr(msg, name) != NULL)
        return true;
    for (const char *s = strstr(msg, "segments "); s; s = strstr(s + 1, "segments ")) {
        char *end;
        uint64_t a = strtoull(s + 9, &end, 10);
        if (end == s + 9)
            continue;
        uint64_t b = a;
        if (strncmp(end, " to ", 4) == 0 || strncmp(end, "-", 1) == 0)
            b = strtoull(end + (*end == '-' ? 1 : 4), NULL, 10);
        if (seg >= a && seg <= b)
            return true;
    }
    return false;
}

/* What the rules allow for one damage (see the top of the file). */
typedef struct c_expect {
    bool ckpt_file;       /* damage in CHECKPOINT: fall back, all exact */
    bool marker;          /* damage in the marker: ENOTDB */
    bool seg_header;      /* damage in a segment header */
    bool torn_ok;         /* the torn-tail rule applies: alt allowed without counting */
    bool lost_any;        /* alt differs from final */
    bool fail_ok_strict;  /* ECORRUPT allowed with paranoid_checks */
    bool fail_ok_lax;     /* ECORRUPT allowed without */
    uint64_t seg_no;      /* expected in the message */
    uint64_t report_off;  /* expected in the message: an offset in [report_off, report_hi] */
    uint64_t report_hi;
    const c_record *rec;  /* damaged record, if any */
    bool has_alt2;        /* alt2 replaces alt when the checkpoint was used */
} c_expect;

static void expect_for(c_case *cx, const c_damage *d, int region, const c_record *rec,
                       c_expect *ex)
{
    c_db *db = &cx->db;
    const c_file *f = &db->files[d->file];
    memset(ex, 0, sizeof *ex);
    memset(cx->skip, 0, db->nrecs * sizeof *cx->skip);
    ex->rec = rec;
    ex->seg_no = f->seg_no;
    bool last_seg = (int)d->file == db->last_seg_file;
    if (f->kind == F_MARKER) {
        ex->marker = true;
    } else if (f->kind == F_CKPT) {
        ex->ckpt_file = true;
    } else if (d->remove) {
        /* a whole segment gone: a gap in the numbers (corruption), or, for the last one, the
         * end of the log (like a crash before its creation was durable) unless a sound
         * checkpoint's position lies in it */
        for (uint32_t i = 0; i < f->nrecs; i++)
            cx->skip[f->first_rec + i] = true;
        ex->fail_ok_strict = true;
        ex->report_off = 0;
        ex->report_hi = UINT64_MAX;
        ex->torn_ok = last_seg && !(db->has_ckpt && db->ck_pos_seg == f->seg_no);
    } else if (!d->truncate) {
        if (region <= R_SEG_CRC) {
            ex->seg_header = true;
            ex->fail_ok_strict = ex->fail_ok_lax = true;
            ex->report_off = 0; /* "segment N has a damaged header" is precise enough */
            ex->report_hi = UINT64_MAX;
            for (uint32_t i = 0; i < f->nrecs; i++) /* the whole segment may be given up */
                cx->skip[f->first_rec + i] = true;
            if (db->has_ckpt && db->ck_pos_seg == f->seg_no) {
                /* ... or, when the checkpoint is used, only the part replayed after its
                 * position (the entries before it come from the checkpoint) */
                ex->has_alt2 = true;
                memset(cx->skip2, 0, db->nrecs * sizeof *cx->skip2);
                for (uint32_t i = 0; i < f->nrecs; i++)
                    cx->skip2[f->first_rec + i] = db->recs[f->first_rec + i].off >= db->ck_pos_off;
                replay(db, cx->skip2, cx->alt2);
            }
        } else {
            uint32_t ri = (uint32_t)(rec - db->recs);
            cx->skip[ri] = true;
            ex->fail_ok_strict = true;
            ex->report_off = ex->report_hi = rec->off;
            ex->torn_ok = last_seg && ri == f->first_rec + f->nrecs - 1;
        }
    } else {
        /* cut at d->off: every record not wholly below it is gone. The engine may name the
         * start of the first lost record or the cut itself. */
        bool first = true;
        ex->report_off = ex->report_hi = d->off;
        for (uint32_t i = 0; i < f->nrecs; i++) {
            const c_record *r = &db->recs[f->first_rec + i];
            if (d->off >= 32 && r->off + r->length <= d->off)
                continue;
            cx->skip[f->first_rec + i] = true;
            if (first && r->off < ex->report_off)
                ex->report_off = r->off;
            if (first && r->off > ex->report_hi)
                ex->report_hi = r->off;
            first = false;
        }
        if (d->off < 32) {
            ex->seg_header = true;
            ex->report_off = 0;
            ex->report_hi = UINT64_MAX;
        }
        bool below_ckpt =
            db->has_ckpt && db->ck_pos_seg == f->seg_no && d->off < db->ck_pos_off;
        if (below_ckpt) {
            /* format.md: a log shorter than a sound checkpoint's position is corruption (the
             * checkpoint is written after the log is synced up to it), not a torn tail; the
             * message may name the checkpoint's position instead of the cut */
            ex->report_off = 0;
            ex->report_hi = UINT64_MAX;
        }
        if (last_seg && below_ckpt) {
            ex->fail_ok_strict = true;
        } else if (last_seg) {
            ex->torn_ok = true; /* a cut last segment is a torn tail: never an error */
        } else {
            ex->fail_ok_strict = true;
            ex->fail_ok_lax = ex->seg_header;
        }
    }
    replay(db, cx->skip, cx->alt);
    for (uint32_t k = 0; k < db->nkeys; k++)
        if (!rel_slot_equal(&cx->alt[k], &cx->final[k]))
            ex->lost_any = true;
}

static void describe(const c_case *cx, const c_damage *d, int region, bool paranoid, char *buf,
                     size_t len)
{
    snprintf(buf, len, "%s/%s seed=%" PRIu64 ": %s %s at offset %" PRIu64 " (%s), paranoid=%d",
             cx->compression ? "lz4" : "plain", variant_names[cx->variant], cx->seed,
             d->remove ? "remove" : d->truncate ? "truncate" : "flip", cx->db.files[d->file].name,
             d->off, region_names[region], paranoid);
    if (!d->truncate) {
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, " mask=0x%02x", d->mask);
    }
}

/* Records a failed trial: printed (capped), and tallied by rule (the message's format), kind
 * of damage and region for the summary. */
static void trial_fail(c_case *cx, const char *what, int region, bool truncate, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));
static void trial_fail(c_case *cx, const char *what, int region, bool truncate, const char *fmt,
                       ...)
{
    char m[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    rel_failure(&cx->fails, "%s: %s", what, m);
    cx->failed_region[region]++;
    char key[160];
    size_t cut = strcspn(fmt, "%");
    snprintf(key, sizeof key, "%-4s %-28s %.*s", truncate ? "cut" : "flip", region_names[region],
             (int)(cut > 90 ? 90 : cut), fmt);
    for (unsigned i = 0; i < cx->ntally; i++)
        if (strcmp(cx->tally[i].key, key) == 0) {
            cx->tally[i].count++;
            return;
        }
    if (cx->ntally < sizeof cx->tally / sizeof cx->tally[0]) {
        snprintf(cx->tally[cx->ntally].key, sizeof cx->tally[0].key, "%s", key);
        snprintf(cx->tally[cx->ntally].example, sizeof cx->tally[0].example, "%.300s: %.390s",
                 what, m);
        cx->tally[cx->ntally++].count = 1;
    }
}

#define TRIAL_FAIL(...)                                                                            \
    do {                                                                                           \
        trial_fail(cx, what, region, d->truncate, __VA_ARGS__);                                    \
        goto done;                                                                                 \
    } while (0)

static void trial(c_case *cx, const c_damage *d, int region, const c_record *rec, bool paranoid)
{
    c_db *db = &cx->db;
    char what[512];
    describe(cx, d, region, paranoid, what, sizeof what);
    rel_trial("%s", what);
    rel_watchdog(60);
    c_expect ex;
    expect_for(cx, d, region, rec, &ex);
    write_copy(cx, d);
    cx->opens++;

    axs_options o;
    axs_options_init(&o);
    /* No background compaction: this test counts and damages exact records and I/O calls,
     * which a concurrent pass would move; it runs axs_compact itself. */
    o.compaction_garbage_ratio = 0;
    o.paranoid_checks = paranoid;
    o.segment_size = C_SEGMENT_SIZE;
    o.compression = cx->compression;
    axs_db *h = NULL;
    char *err = NULL;
    int rc = axs_open(cx->work_dir, &o, &h, &err);
    if (rc != AXS_OK) {
        cx->open_failures++;
        const char *msg = err ? err : "";
        if (ex.marker) {
            if (rc != AXS_ENOTDB && rc != AXS_ECORRUPT)
                TRIAL_FAIL("open returned %s (want AXS_ENOTDB): %s", axs_strerror(rc), msg);
            if (!strstr(msg, "marker") && !strstr(msg, "ALEXSTORAGE"))
                TRIAL_FAIL("open failed as it should, but the message does not name the marker "
                           "file: \"%s\"", msg);
            goto done;
        }
        if (rc != AXS_ECORRUPT)
            TRIAL_FAIL("open returned %s: %s", axs_strerror(rc), msg);
        if (ex.ckpt_file)
            TRIAL_FAIL("a damaged checkpoint failed the open instead of being ignored: %s", msg);
        if (paranoid ? !ex.fail_ok_strict : !ex.fail_ok_lax)
            TRIAL_FAIL("open failed with AXS_ECORRUPT where it must %s: %s",
                       paranoid ? "apply the torn-tail rule and succeed"
                                : "skip the damaged record and succeed",
                       msg);
        if (!msg_names_segment(msg, ex.seg_no) ||
            (ex.report_hi != UINT64_MAX && !msg_names_offset(msg, ex.report_off, ex.report_hi)))
            TRIAL_FAIL("corruption message should name segment %" PRIu64 " and offset %" PRIu64
                       "%s: \"%s\"", ex.seg_no, ex.report_off,
                       ex.report_hi > ex.report_off ? " (or up to the cut)" : "", msg);
        goto done;
    }
    free(err);
    err = NULL;
    if (ex.marker)
        TRIAL_FAIL("open succeeded with a damaged marker file");

    axs_stats st;
    axs_get_stats(h, &st);
    char *prop = axs_property(h, "alexstorage.corruptions");
    uint64_t corruptions = prop ? strtoull(prop, NULL, 10) : 0;
    free(prop);
    if (corruptions != st.corruptions_skipped)
        TRIAL_FAIL("property alexstorage.corruptions=%" PRIu64 " but stats say %" PRIu64,
                   corruptions, st.corruptions_skipped);
    if (corruptions && paranoid)
        TRIAL_FAIL("paranoid open skipped %" PRIu64 " corruptions instead of failing",
                   corruptions);
    if (corruptions) {
        const char *le = axs_last_error(h);
        if (!msg_names_segment(le, ex.seg_no))
            TRIAL_FAIL("%" PRIu64 " corruptions skipped, but axs_last_error does not name "
                       "segment %" PRIu64 ": \"%s\"", corruptions, ex.seg_no, le);
    }
    if (ex.ckpt_file && st.checkpoint_keys != 0)
        TRIAL_FAIL("a damaged checkpoint was used (%" PRIu64 " keys loaded from it)",
                   st.checkpoint_keys);
    if (ex.has_alt2 && st.checkpoint_keys > 0)
        memcpy(cx->alt, cx->alt2, db->nkeys * sizeof *cx->alt);
    if (ex.rec && !d->truncate && region != R_PADDING && !ex.torn_ok) {
        /* A flipped byte in a record the open replayed (after the checkpoint's position, or
         * all of them when the checkpoint was not used) always breaks a checksum: it must be
         * reported, whether or not the keys' final values depend on that record. */
        bool ckpt_used = st.checkpoint_keys > 0;
        bool scanned = !ckpt_used || ex.rec->seg_no > db->ck_pos_seg ||
                       (ex.rec->seg_no == db->ck_pos_seg && ex.rec->off >= db->ck_pos_off);
        if (scanned && paranoid)
            TRIAL_FAIL("paranoid open succeeded although the damaged record at %" PRIu64
                       " was replayed", ex.rec->off);
        if (scanned && corruptions == 0)
            TRIAL_FAIL("the damaged record at %" PRIu64 " was replayed but not counted in "
                       "alexstorage.corruptions", ex.rec->off);
    }

    /* every key */
    unsigned n_final = 0, n_alt = 0, n_corrupt = 0;
    for (uint32_t k = 0; k < db->nkeys; k++) {
        char key[REL_KEY_MAX];
        size_t klen = rel_key(key, k);
        char *val = NULL;
        size_t vlen = 0;
        bool found = false;
        int g = axs_get_alloc(h, NULL, key, klen, &val, &vlen, &found);
        cx->seen_rc[k] = g;
        memset(&cx->seen[k], 0, sizeof cx->seen[k]);
        if (g == AXS_ECORRUPT) {
            n_corrupt++;
            free(val);
            continue;
        }
        if (g != AXS_OK) {
            free(val);
            TRIAL_FAIL("get(key %u) returned %s", k, axs_strerror(g));
        }
        if (found) {
            cx->seen[k].present = true;
            if (rel_value_decode((const uint8_t *)val, vlen, &cx->seen[k].v) != 0 ||
                cx->seen[k].v.key_id != k) {
                free(val);
                TRIAL_FAIL("get(key %u) returned %zu bytes that were never written for it", k,
                           vlen);
            }
        }
        free(val);
        bool is_final = rel_slot_equal(&cx->seen[k], &cx->final[k]);
        bool is_alt = rel_slot_equal(&cx->seen[k], &cx->alt[k]);
        if (is_final) {
            n_final += !is_alt;
        } else if (is_alt) {
            n_alt++;
        } else {
            char a[96], b[96], c[96];
            TRIAL_FAIL("get(key %u) = %s; original %s, without the damaged records %s", k,
                       rel_slot_str(&cx->seen[k], a, sizeof a),
                       rel_slot_str(&cx->final[k], b, sizeof b),
                       rel_slot_str(&cx->alt[k], c, sizeof c));
        }
    }
    cx->corrupt_gets += n_corrupt;
    if (ex.ckpt_file && (n_alt || n_corrupt))
        TRIAL_FAIL("after a checkpoint fallback %u keys lost their value and %u reads failed",
                   n_alt, n_corrupt);
    if (n_alt) {
        cx->alt_states++;
        if (n_final) {
            unsigned shown = 0;
            char keys[200] = "";
            for (uint32_t k = 0; k < db->nkeys && shown < 6; k++)
                if (cx->seen_rc[k] == AXS_OK && !rel_slot_equal(&cx->final[k], &cx->alt[k])) {
                    size_t u = strlen(keys);
                    snprintf(keys + u, sizeof keys - u, " %u:%s", k,
                             rel_slot_equal(&cx->seen[k], &cx->final[k]) ? "kept" : "lost");
                    shown++;
                }
            TRIAL_FAIL("of the keys the damaged records hold, %u read as if the records were "
                       "gone and %u as if intact (%s): a record half applied, or a lookup that "
                       "silently misses a key whose entry is damaged", n_alt, n_final, keys);
        }
        if (!ex.torn_ok && paranoid)
            TRIAL_FAIL("paranoid open succeeded but %u keys silently lost their values (the "
                       "damage is not a torn tail of the last segment)", n_alt);
        if (!ex.torn_ok && corruptions == 0)
            TRIAL_FAIL("%u keys lost their values but alexstorage.corruptions is 0", n_alt);
    }

    /* iteration agrees with the gets */
    {
        axs_iter *it = NULL;
        if (axs_iter_create(h, NULL, &it) != AXS_OK)
            TRIAL_FAIL("axs_iter_create failed");
        uint32_t seen_keys = 0, expect_keys = 0;
        for (uint32_t k = 0; k < db->nkeys; k++)
            expect_keys += cx->seen_rc[k] == AXS_OK && cx->seen[k].present;
        char bad[256] = "";
        for (axs_iter_seek_to_first(it); axs_iter_valid(it) && !bad[0]; axs_iter_next(it)) {
            size_t kl, vl;
            const uint8_t *kp = axs_iter_key(it, &kl);
            const uint8_t *vp = axs_iter_value(it, &vl);
            uint32_t id;
            rel_slot s = {true, {0}};
            if (!parse_key_id(kp, (uint32_t)kl, &id) || id >= db->nkeys)
                snprintf(bad, sizeof bad, "iterator returned a key never written (%zu bytes)",
                         kl);
            else if (rel_value_decode(vp, vl, &s.v) != 0 || s.v.key_id != id)
                snprintf(bad, sizeof bad, "iterator returned a value never written for key %u",
                         id);
            else if (cx->seen_rc[id] == AXS_OK && !rel_slot_equal(&s, &cx->seen[id]))
                snprintf(bad, sizeof bad, "iterator and get disagree on key %u", id);
            else if (cx->seen_rc[id] == AXS_OK)
                seen_keys++;
        }
        int ist = axs_iter_status(it);
        axs_iter_destroy(it);
        if (bad[0])
            TRIAL_FAIL("%s", bad);
        /* An iterator may stop with AXS_ECORRUPT at a damaged entry no get reaches (a stale
         * version still indexed); what it returned before that was checked above. */
        if (ist != AXS_OK && ist != AXS_ECORRUPT)
            TRIAL_FAIL("iterator status %s", axs_strerror(ist));
        if (ist == AXS_ECORRUPT)
            cx->iter_corrupt++;
        if (ist == AXS_OK && seen_keys != expect_keys)
            TRIAL_FAIL("iterator saw %u keys, gets found %u", seen_keys, expect_keys);
    }

    /* the database takes a write */
    {
        axs_write_options wo;
        axs_write_options_init(&wo);
        wo.sync = true;
        int w = axs_put(h, &wo, "~probe", 6, "after-damage", 12);
        if (w != AXS_OK)
            TRIAL_FAIL("a put after the open failed: %s (%s)", axs_strerror(w), axs_last_error(h));
        char buf[32];
        size_t vl = 0;
        bool found = false;
        w = axs_get(h, NULL, "~probe", 6, buf, sizeof buf, &vl, &found);
        if (w != AXS_OK || !found || vl != 12 || memcmp(buf, "after-damage", 12) != 0)
            TRIAL_FAIL("the put made after the open does not read back (%s)", axs_strerror(w));
    }
    rc = axs_close(h);
    h = NULL;
    if (rc != AXS_OK)
        TRIAL_FAIL("close failed: %s", axs_strerror(rc));
done:
    if (h)
        axs_close(h);
    free(err);
    rel_watchdog(0);
}

static void remove_both_modes(c_case *cx, uint32_t file)
{
    c_damage d = {file, 0, true, true, 0};
    cx->tried[R_WHOLE_FILE][1]++;
    trial(cx, &d, R_WHOLE_FILE, NULL, true);
    trial(cx, &d, R_WHOLE_FILE, NULL, false);
}

static void damage_both_modes(c_case *cx, uint32_t file, uint64_t off, bool truncate,
                              uint8_t mask)
{
    c_damage d = {file, off, truncate, false, mask};
    const c_record *rec = NULL;
    if (off >= cx->db.files[file].len)
        return;
    int region = region_of(&cx->db, file, off, &rec);
    cx->tried[region][truncate]++;
    trial(cx, &d, region, rec, true);
    trial(cx, &d, region, rec, false);
}

/* Flip masks: a whole byte, single bits at either end, a mixed pattern. CRC32C catches every
 * error burst of up to 32 bits, so each must be detected wherever a checksum covers it. */
static uint8_t mask_for(uint64_t off, uint64_t salt)
{
    static const uint8_t masks[] = {0xFF, 0x01, 0x80, 0x5A, 0x10, 0x04};
    return masks[(off + salt) % (sizeof masks)];
}

/* ---- position selection -------------------------------------------------------------------- */

typedef struct pos_list {
    uint64_t *v;
    size_t n, cap;
} pos_list;

static void pos_add(pos_list *l, uint64_t off)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[l->n++] = off;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void pos_unique(pos_list *l)
{
    if (!l->n)
        return;
    qsort(l->v, l->n, sizeof *l->v, cmp_u64);
    size_t w = 1;
    for (size_t i = 1; i < l->n; i++)
        if (l->v[i] != l->v[w - 1])
            l->v[w++] = l->v[i];
    l->n = w;
}

static void add_entry_positions(pos_list *fl, pos_list *tl, const c_entry *e, tu_rng *rng)
{
    for (uint64_t b = 0; b < 16; b++)
        pos_add(fl, e->off + b);
    uint64_t k0 = e->off + 16, v0 = k0 + e->klen, end = v0 + e->vlen;
    if (e->klen) {
        pos_add(fl, k0);
        pos_add(fl, v0 - 1);
        pos_add(fl, k0 + tu_rng_below(rng, e->klen));
    }
    if (e->vlen) {
        pos_add(fl, v0);
        pos_add(fl, end - 1);
        pos_add(fl, v0 + tu_rng_below(rng, e->vlen));
        if (e->flags & 1)
            for (uint64_t b = 0; b < 4 && v0 + b < end; b++)
                pos_add(fl, v0 + b);
    }
    pos_add(tl, e->off);
    pos_add(tl, e->off + 8);
    pos_add(tl, k0);
    if (e->vlen)
        pos_add(tl, v0 + tu_rng_below(rng, e->vlen));
}

/* Positions for a segment: every header byte; for focus records every header, entry-header,
 * padding and edge byte; for the rest two random bytes; plus a uniform sample. */
static void segment_positions(c_case *cx, uint32_t fi, tu_rng *rng, pos_list *fl, pos_list *tl)
{
    const c_db *db = &cx->db;
    const c_file *f = &db->files[fi];
    double scale = tu_scale();
    for (uint64_t b = 0; b < 32; b++)
        pos_add(fl, b);
    static const uint64_t hdr_cuts[] = {0, 1, 8, 16, 28, 31};
    for (size_t i = 0; i < sizeof hdr_cuts / sizeof hdr_cuts[0]; i++)
        pos_add(tl, hdr_cuts[i]);
    unsigned seen_batch = 0, seen_del = 0, seen_lz4 = 0, seen_comp = 0;
    for (uint32_t i = 0; i < f->nrecs; i++) {
        const c_record *r = &db->recs[f->first_rec + i];
        bool focus = i < 2 || i + 2 >= f->nrecs;
        if (r->type == 2 && seen_comp++ < 1)
            focus = true;
        if (r->type == 1 && r->count > 1 && seen_batch++ < 2)
            focus = true;
        if (r->has_delete && seen_del++ < 2)
            focus = true;
        if (r->has_lz4 && seen_lz4++ < 2)
            focus = true;
        if (tu_rng_double(rng) < 0.03 * scale)
            focus = true;
        if (focus) {
            for (uint64_t b = 0; b < 24; b++)
                pos_add(fl, r->off + b);
            for (uint64_t q = r->off + r->length; q < r->end_padded && q < f->len; q++)
                pos_add(fl, q);
            for (uint32_t j = 0; j < r->count; j++)
                if (j < 3 || j + 3 >= r->count)
                    add_entry_positions(fl, tl, &db->ents[r->first_entry + j], rng);
            static const uint64_t cuts[] = {0, 1, 4, 20, 23, 24};
            for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++)
                pos_add(tl, r->off + cuts[c]);
            pos_add(tl, r->off + r->length - 1);
            pos_add(tl, r->off + r->length);
            if (r->end_padded > r->off + r->length + 1)
                pos_add(tl, r->end_padded - 1);
        } else if (tu_rng_double(rng) < 0.3 * scale) {
            pos_add(fl, r->off + tu_rng_below(rng, 24));
            pos_add(fl, r->off + 24 + tu_rng_below(rng, r->length - 24));
            pos_add(tl, tu_rng_below(rng, 2) ? r->off : r->off + 1 + tu_rng_below(rng, r->length - 1));
        }
    }
    uint64_t step = (uint64_t)(1024.0 / scale);
    if (step < 8)
        step = 8;
    for (uint64_t o = tu_rng_below(rng, step); o < f->len; o += 1 + tu_rng_below(rng, 2 * step))
        pos_add(fl, o);
    pos_unique(fl);
    pos_unique(tl);
    while (tl->n && tl->v[tl->n - 1] >= f->len)
        tl->n--;
    while (fl->n && fl->v[fl->n - 1] >= f->len)
        fl->n--;
}

static void report(c_case *cx, const char *title, uint64_t t0)
{
    uint64_t flips = 0, cuts = 0;
    for (int r = 0; r < R_COUNT; r++) {
        flips += cx->tried[r][0];
        cuts += cx->tried[r][1];
    }
    fprintf(stderr,
            "[ POSITIONS] %s %s/%s seed=%" PRIu64 ": %" PRIu64 " flipped bytes + %" PRIu64
            " cuts = %" PRIu64 " positions, %" PRIu64 " opens (%" PRIu64 " refused, %" PRIu64
            " with a state without damaged records), %" PRIu64 " reads and %" PRIu64
            " iterations gave AXS_ECORRUPT, %u failures, %.1f s\n",
            title, cx->compression ? "lz4" : "plain", variant_names[cx->variant], cx->seed, flips,
            cuts, flips + cuts, cx->opens, cx->open_failures, cx->alt_states, cx->corrupt_gets,
            cx->iter_corrupt, cx->fails.count, (double)(tu_now_ns() - t0) * 1e-9);
    for (int r = 0; r < R_COUNT; r++)
        if (cx->tried[r][0] || cx->tried[r][1])
            fprintf(stderr, "[ REGION   ]   %-32s flips %6" PRIu64 "  cuts %6" PRIu64
                            "  failed trials %" PRIu64 "\n",
                    region_names[r], cx->tried[r][0], cx->tried[r][1], cx->failed_region[r]);
    for (unsigned i = 0; i < cx->ntally; i++)
        fprintf(stderr, "[ FAILED AS] %5u x  %s\n             e.g. %s\n", cx->tally[i].count,
                cx->tally[i].key, cx->tally[i].example);
}

static void setup_case(c_case *cx, int compression, int variant, const char *name)
{
    memset(cx, 0, sizeof *cx);
    rel_install_reporters();
    cx->compression = compression;
    cx->variant = variant;
    cx->seed = tu_seed(name);
    cx->fails.max_print = 25;
    cx->dirty_file = -1;
    build_base(cx);
}

/* ---- cases --------------------------------------------------------------------------------- */

static void segments_case(int compression, int variant, const char *name)
{
    c_case cx;
    setup_case(&cx, compression, variant, name);
    uint64_t t0 = tu_now_ns();
    tu_rng rng;
    tu_rng_init(&rng, cx.seed ^ 0x5eed);
    for (uint32_t fi = 0; fi < cx.db.nfiles; fi++) {
        if (cx.db.files[fi].kind != F_SEGMENT)
            continue;
        pos_list fl = {0}, tl = {0};
        segment_positions(&cx, fi, &rng, &fl, &tl);
        for (size_t i = 0; i < fl.n; i++)
            damage_both_modes(&cx, fi, fl.v[i], false, mask_for(fl.v[i], cx.seed));
        for (size_t i = 0; i < tl.n; i++)
            damage_both_modes(&cx, fi, tl.v[i], true, 0);
        remove_both_modes(&cx, fi);
        free(fl.v);
        free(tl.v);
    }
    report(&cx, name, t0);
    uint64_t flips = 0, cuts = 0;
    for (int r = 0; r < R_COUNT; r++)
        flips += cx.tried[r][0], cuts += cx.tried[r][1];
    size_t seg_bytes = 0;
    for (uint32_t fi = 0; fi < cx.db.nfiles; fi++)
        seg_bytes += cx.db.files[fi].kind == F_SEGMENT ? cx.db.files[fi].len : 0;
    /* a dense sample: at least one flipped byte per 256 bytes of log, and cuts too */
    TU_REQUIRE(flips >= tu_scaled(seg_bytes / 256, 100) && cuts >= tu_scaled(200, 50),
               "only %" PRIu64 " flips and %" PRIu64 " cuts tried over %zu bytes of segments",
               flips, cuts, seg_bytes);
    /* every region of a segment was tried */
    for (int r = R_SEG_MAGIC; r <= R_PADDING; r++) {
        if ((r == R_ENT_LZ4_LEN || r == R_ENT_LZ4_BLOCK) && !compression)
            continue;
        TU_REQUIRE(cx.tried[r][0] > 0, "region \"%s\" was never damaged", region_names[r]);
    }
    unsigned fails = cx.fails.count;
    free_case(&cx);
    TU_REQUIRE(fails == 0, "%u damaged copies were handled wrongly (first ones printed above)",
               fails);
}

static void test_corrupt_segments_closed_plain(void **state)
{
    (void)state;
    segments_case(AXS_COMPRESSION_NONE, V_CLOSED, __func__);
}

static void test_corrupt_segments_closed_lz4(void **state)
{
    (void)state;
    segments_case(AXS_COMPRESSION_LZ4, V_CLOSED, __func__);
}

static void test_corrupt_segments_tail_plain(void **state)
{
    (void)state;
    segments_case(AXS_COMPRESSION_NONE, V_TAIL, __func__);
}

static void test_corrupt_segments_tail_lz4(void **state)
{
    (void)state;
    segments_case(AXS_COMPRESSION_LZ4, V_TAIL, __func__);
}

static void test_corrupt_segments_nockpt_lz4(void **state)
{
    (void)state;
    segments_case(AXS_COMPRESSION_LZ4, V_NOCKPT, __func__);
}

/* Every byte of a small file, flipped and cut; with loc_step > 1 (or a scale below 1) only
 * every step-th byte of the checkpoint's location blocks, where every byte is alike (all header,
 * table and CRC bytes still). */
static void small_file_case(int compression, int variant, int kind, uint64_t loc_step,
                            const char *name)
{
    c_case cx;
    setup_case(&cx, compression, variant, name);
    uint64_t t0 = tu_now_ns();
    uint64_t step = (uint64_t)((double)loc_step / tu_scale() + 0.5);
    if (step < 1)
        step = 1;
    bool found = false;
    for (uint32_t fi = 0; fi < cx.db.nfiles; fi++) {
        const c_file *f = &cx.db.files[fi];
        if (f->kind != kind)
            continue;
        found = true;
        for (uint64_t off = 0; off < f->len; off++) {
            const c_record *rec;
            int region = region_of(&cx.db, fi, off, &rec);
            if (region == R_CK_LOCS && off % step)
                continue;
            damage_both_modes(&cx, fi, off, false, mask_for(off, cx.seed));
            damage_both_modes(&cx, fi, off, true, 0);
        }
    }
    TU_REQUIRE(found, "no file of that kind");
    report(&cx, name, t0);
    uint64_t tried_flips = 0, tried_cuts = 0, size = 0;
    for (int r = 0; r < R_COUNT; r++)
        tried_flips += cx.tried[r][0], tried_cuts += cx.tried[r][1];
    for (uint32_t fi = 0; fi < cx.db.nfiles; fi++)
        size += cx.db.files[fi].kind == kind ? cx.db.files[fi].len : 0;
    if (step == 1) /* every byte offset, flipped and cut */
        TU_REQUIRE(tried_flips == size && tried_cuts == size,
                   "%" PRIu64 " flips and %" PRIu64 " cuts for a file of %" PRIu64 " bytes",
                   tried_flips, tried_cuts, size);
    unsigned fails = cx.fails.count;
    free_case(&cx);
    TU_REQUIRE(fails == 0, "%u damaged copies were handled wrongly (first ones printed above)",
               fails);
}

static void test_corrupt_checkpoint_closed(void **state)
{
    (void)state;
    small_file_case(AXS_COMPRESSION_NONE, V_CLOSED, F_CKPT, 1, __func__);
}

static void test_corrupt_checkpoint_tail_lz4(void **state)
{
    (void)state;
    small_file_case(AXS_COMPRESSION_LZ4, V_TAIL, F_CKPT, 13, __func__);
}

static void test_corrupt_marker(void **state)
{
    (void)state;
    small_file_case(AXS_COMPRESSION_NONE, V_CLOSED, F_MARKER, 1, __func__);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corrupt_segments_closed_plain),
        cmocka_unit_test(test_corrupt_segments_closed_lz4),
        cmocka_unit_test(test_corrupt_segments_tail_plain),
        cmocka_unit_test(test_corrupt_segments_tail_lz4),
        cmocka_unit_test(test_corrupt_segments_nockpt_lz4),
        cmocka_unit_test(test_corrupt_checkpoint_closed),
        cmocka_unit_test(test_corrupt_checkpoint_tail_lz4),
        cmocka_unit_test(test_corrupt_marker),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
