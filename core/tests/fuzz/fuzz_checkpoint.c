/*
 * fuzz_checkpoint.c: libFuzzer target for loading the CHECKPOINT file (core/src/checkpoint.c,
 * docs/format.md "Checkpoint file") in depth, over a known, intact log.
 *
 * At the first input, a database is built through the API (segment_size 64 KiB, about 330
 * keys, some overwritten, some deleted one by one or by a delete_range, in 3 segments, a group
 * of long keys sharing their ALEX key) and closed, which writes a genuine checkpoint. Its
 * segment files and checkpoint are kept in memory, and the log is parsed (format.h) into the
 * known facts: every PUT ever written (location, key, value), every record boundary, each
 * key's final value and the position of its last write. fuzz_open fuzzes whole directories,
 * so a random checkpoint fails its CRC at once; here the segments are always the genuine ones
 * and only the CHECKPOINT varies, with its checksums recomputed, so the parsing, the segment
 * table, the location blocks and the per-location checks are what gets exercised.
 *
 * Input: byte 0 is the mode, the rest its argument.
 *   mode & 3 == 0   the rest is the raw checkpoint (checksums fixed unless mode & 0x20)
 *   mode & 3 != 0   the rest is an edit script applied to the genuine checkpoint, decoded
 *                   into fields (see apply_edits), then serialized with good checksums;
 *                   byte edits after serialization are re-checksummed unless mode & 0x20
 *   mode & 0x10     after the read-write opens, run axs_compact before closing
 *
 * Each input is opened four ways, the files rewritten before each: read-only with and without
 * paranoid_checks, read-write with and without. Invariants (abort() on any violation):
 *   - the open succeeds, or fails with AXS_ECORRUPT (only with paranoid_checks: without it a
 *     checkpoint cannot make an intact log unopenable), or AXS_ENOTSUP for a newer version;
 *     the genuine checkpoint always opens;
 *   - the iterator (both ways), axs_get on every known key and on keys never written, and
 *     the stats agree, and every value returned for a key is one that was really written for
 *     that key (a checkpoint cannot make get(A) return B's value or any unwritten bytes);
 *   - exactness where the engine can guarantee it: a checkpoint whose checksums are good can
 *     still lie (leave keys out, point a key at an older PUT of itself, bring back a deleted
 *     key: every location check passes, and only a full replay could tell). What the log after
 *     the checkpoint's position says is never overridden, so every key whose last write is in
 *     a record at or after the position given in the file's header must have its final value;
 *     when the whole log was replayed (checkpoint ignored), or the checkpoint is the genuine
 *     one, the state must be exactly the known one;
 *   - a read-only open leaves the segment files byte for byte as they were; a read-write one
 *     too, but for removing the segments the checkpoint calls obsolete (the log is intact:
 *     there is no torn tail to cut, whatever the checkpoint's position says);
 *   - a read-write open: compaction (mode & 0x10) changes nothing visible; close, reopen: it
 *     opens (even with paranoid_checks) and holds exactly what the first open held.
 * Any crash, sanitizer report, leak, hang or abort() is a bug.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alexstorage/db.h"
#include "format.h"
#include "fuzz_crc.h"
#include "fuzz_dir.h"
#include "keyindex.h"

static bool verbose; /* FUZZ_CHECKPOINT_VERBOSE set: one line per open on stderr */

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_checkpoint: %s\n", what);
    abort();
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        fail("malloc");
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        fail("realloc");
    return p;
}

/* ---- the known database ---- */

#define MAX_SEGS 8

typedef struct seg_file {
    uint64_t number;
    uint8_t *data;
    size_t len;
} seg_file;

typedef struct put_rec {
    uint64_t loc; /* of the entry */
    size_t key;   /* index into g.keys */
    const uint8_t *value;
    size_t vlen;
    long next; /* the key's next PUT in g.puts (-1: none) */
} put_rec;

typedef struct known_key {
    uint8_t *key;
    size_t klen;
    long final;       /* index into g.puts of its current value, -1 when absent */
    long first_put;   /* its first PUT in g.puts, chained by put_rec.next (-1: none) */
    uint64_t last_op; /* fmt_loc of the record that last wrote (or deleted) it */
} known_key;

static struct {
    bool ready;
    seg_file segs[MAX_SEGS];
    size_t nsegs;
    uint8_t *ckpt; /* the genuine checkpoint */
    size_t ckpt_len;
    known_key *keys;
    size_t nkeys;
    put_rec *puts;
    size_t nputs;
    uint64_t *records; /* fmt_loc of every record start, and of every segment's end */
    size_t nrecords;
    uint64_t log_records; /* records a full replay goes through (recovered_records) */
} g;

static int key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int known_cmp(const void *a, const void *b)
{
    const known_key *x = a, *y = b;
    return key_cmp(x->key, x->klen, y->key, y->klen);
}

static long find_key(const void *key, size_t klen)
{
    size_t lo = 0, hi = g.nkeys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(g.keys[mid].key, g.keys[mid].klen, key, klen);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* A key for the unsorted table built while the log is parsed (linear: init only). */
static size_t intern_key(const uint8_t *key, size_t klen)
{
    for (size_t i = 0; i < g.nkeys; i++)
        if (key_cmp(g.keys[i].key, g.keys[i].klen, key, klen) == 0)
            return i;
    g.keys = xrealloc(g.keys, (g.nkeys + 1) * sizeof *g.keys);
    known_key *k = &g.keys[g.nkeys];
    k->key = xmalloc(klen);
    memcpy(k->key, key, klen);
    k->klen = klen;
    k->final = -1;
    k->last_op = 0;
    return g.nkeys++;
}

static void add_record(uint64_t loc)
{
    g.records = xrealloc(g.records, (g.nrecords + 1) * sizeof *g.records);
    g.records[g.nrecords++] = loc;
}

/* Applies the log to the model, in order (docs/format.md, segments and records). */
static void parse_log(void)
{
    for (size_t s = 0; s < g.nsegs; s++) {
        const uint8_t *p = g.segs[s].data;
        size_t n = g.segs[s].len;
        uint64_t num = g.segs[s].number;
        if (fmt_segment_header_check(p, n, num) != 0)
            fail("init: bad segment header");
        size_t off = FMT_SEG_HEADER_SIZE;
        fmt_record r;
        while (off + FMT_RECORD_HEADER_SIZE <= n &&
               fmt_record_validate(p + off, n - off, &r) == 0) {
            uint64_t rloc = fmt_loc(num, off);
            add_record(rloc);
            g.log_records++;
            size_t e_off = off + FMT_RECORD_HEADER_SIZE;
            for (uint32_t i = 0; i < r.count; i++) {
                fmt_entry e;
                if (fmt_entry_decode(p + e_off, n - e_off, true, &e) != 0)
                    fail("init: bad entry");
                if (e.flags)
                    fail("init: compressed entry");
                if (e.type == FMT_ENTRY_PUT || e.type == FMT_ENTRY_DELETE) {
                    size_t k = intern_key(e.key, e.klen);
                    if (e.type == FMT_ENTRY_PUT) {
                        g.puts = xrealloc(g.puts, (g.nputs + 1) * sizeof *g.puts);
                        g.puts[g.nputs] = (put_rec){fmt_loc(num, e_off), k, e.value,
                                                    e.vlen_stored, -1};
                        g.keys[k].final = (long)g.nputs++;
                    } else {
                        g.keys[k].final = -1;
                    }
                    g.keys[k].last_op = rloc;
                } else if (e.type == FMT_ENTRY_DELETE_RANGE) {
                    for (size_t k = 0; k < g.nkeys; k++)
                        if (key_cmp(g.keys[k].key, g.keys[k].klen, e.key, e.klen) >= 0 &&
                            key_cmp(g.keys[k].key, g.keys[k].klen, e.value,
                                    e.vlen_stored) < 0) {
                            g.keys[k].final = -1;
                            g.keys[k].last_op = rloc;
                        }
                }
                e_off += (size_t)fmt_entry_size(e.klen, e.vlen_stored);
            }
            off += (size_t)fmt_align(r.length);
        }
        if (off != n)
            fail("init: the log does not parse to its end");
        add_record(fmt_loc(num, n));
    }
    /* Sort the keys; re-point the puts at the sorted table (the key bytes do not move). */
    const uint8_t **kp = xmalloc(g.nputs * sizeof *kp);
    size_t *kl = xmalloc(g.nputs * sizeof *kl);
    for (size_t i = 0; i < g.nputs; i++) {
        kp[i] = g.keys[g.puts[i].key].key;
        kl[i] = g.keys[g.puts[i].key].klen;
    }
    qsort(g.keys, g.nkeys, sizeof *g.keys, known_cmp);
    for (size_t i = 0; i < g.nputs; i++) {
        long k = find_key(kp[i], kl[i]);
        if (k < 0)
            fail("init: lost a key");
        g.puts[i].key = (size_t)k;
    }
    for (size_t k = 0; k < g.nkeys; k++)
        g.keys[k].first_put = -1;
    for (size_t i = g.nputs; i-- > 0;) {
        g.puts[i].next = g.keys[g.puts[i].key].first_put;
        g.keys[g.puts[i].key].first_put = (long)i;
    }
    free(kp);
    free(kl);
}

/* Bytes of a whole file, malloc'd. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail("init: fopen");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            buf = xrealloc(buf, cap);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void write_file(const char *name, const uint8_t *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        fail("fopen");
    if (len && fwrite(data, 1, len, f) != len)
        fail("fwrite");
    fclose(f);
}

static void check(int rc, const char *what)
{
    if (rc != AXS_OK) {
        fprintf(stderr, "fuzz_checkpoint: init: %s: %s\n", what, axs_strerror(rc));
        abort();
    }
}

/* Deterministic keys and values: "user:NNNN" keys and a group of long keys whose 8 bytes
 * after the common prefix are equal; values of 60..570 bytes naming key and version. */
static void make_key(unsigned i, char *buf, size_t *len)
{
    if (i < 300)
        *len = (size_t)snprintf(buf, 64, "user:%04u", i);
    else
        *len = (size_t)snprintf(buf, 64, "user:0007:longkey-%02u", i - 300);
}

static void put_version(axs_db *db, unsigned i, unsigned version)
{
    char key[64], val[640];
    size_t klen;
    make_key(i, key, &klen);
    size_t vlen = 60 + (i * 37 + version * 101) % 511;
    int h = snprintf(val, sizeof val, "value of %.*s, version %u:", (int)klen, key, version);
    for (size_t j = (size_t)h; j < vlen; j++)
        val[j] = (char)('a' + (i + j + version) % 26);
    check(axs_put(db, NULL, key, klen, val, vlen), "put");
}

static void build_known(void)
{
    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = true;
    o.segment_size = 64 * 1024;
    o.compaction_garbage_ratio = 0;
    axs_db *db = NULL;
    check(axs_open(fuzz_dir, &o, &db, NULL), "open");
    for (unsigned i = 0; i < 320; i++)
        put_version(db, i, 0);
    for (unsigned i = 0; i < 320; i += 4) /* overwrites, some twice */
        put_version(db, (i * 7) % 320, 1);
    for (unsigned i = 0; i < 320; i += 9) {
        char key[64];
        size_t klen;
        make_key((i * 13) % 320, key, &klen);
        check(axs_delete(db, NULL, key, klen), "delete");
    }
    check(axs_delete_range(db, NULL, "user:0200", 9, "user:0215", 9), "delete_range");
    axs_batch *b = axs_batch_create();
    if (!b)
        fail("init: batch");
    for (unsigned i = 0; i < 320; i += 11) {
        char key[64];
        size_t klen;
        make_key(i, key, &klen);
        if (i % 2)
            axs_batch_delete(b, key, klen);
        else
            axs_batch_put(b, key, klen, "batched", 7);
    }
    check(axs_write(db, NULL, b), "write");
    axs_batch_destroy(b);
    for (unsigned i = 205; i < 210; i++) /* back after the range delete */
        put_version(db, i, 2);
    for (unsigned i = 0; i < 320; i += 5)
        put_version(db, (i * 3) % 320, 3);
    check(axs_close(db), "close");

    DIR *d = opendir(fuzz_dir);
    if (!d)
        fail("init: opendir");
    struct dirent *de;
    char path[512];
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        snprintf(path, sizeof path, "%s/%s", fuzz_dir, de->d_name);
        if (n == 14 && strcmp(de->d_name + 10, ".seg") == 0) {
            if (g.nsegs == MAX_SEGS)
                fail("init: too many segments");
            seg_file *s = &g.segs[g.nsegs++];
            s->number = strtoull(de->d_name, NULL, 10);
            s->data = read_file(path, &s->len);
        } else if (strcmp(de->d_name, FMT_CKPT_NAME) == 0) {
            g.ckpt = read_file(path, &g.ckpt_len);
        }
    }
    closedir(d);
    if (g.nsegs < 2 || !g.ckpt)
        fail("init: the known database has fewer than 2 segments or no checkpoint");
    for (size_t i = 1; i < g.nsegs; i++) /* by number */
        for (size_t j = i; j > 0 && g.segs[j - 1].number > g.segs[j].number; j--) {
            seg_file t = g.segs[j];
            g.segs[j] = g.segs[j - 1];
            g.segs[j - 1] = t;
        }
    parse_log();
    fuzz_dir_clean();
}

/* ---- the checkpoint, as fields (docs/format.md) ---- */

typedef struct ckpt {
    uint32_t version, plen, nseg;
    uint64_t last_seq, pos_seg, pos_off, nkeys, min_live;
    bool plen_set, nseg_set, nkeys_set; /* header fields overridden, not recomputed */
    uint64_t *table; /* 2 per entry: number, live bytes */
    size_t ntable;
    uint8_t prefix[300];
    size_t prefix_len;
    uint64_t *pairs; /* 2 per pair: location, ALEX key */
    size_t npairs;
} ckpt;

static void ckpt_decode(const uint8_t *m, size_t n, ckpt *c)
{
    memset(c, 0, sizeof *c);
    if (n < FMT_CKPT_HEADER_SIZE)
        fail("genuine checkpoint too short");
    c->version = fmt_get32(m + 8);
    c->plen = fmt_get32(m + 12);
    c->last_seq = fmt_get64(m + 16);
    c->pos_seg = fmt_get64(m + 24);
    c->pos_off = fmt_get64(m + 32);
    c->nkeys = fmt_get64(m + 40);
    c->min_live = fmt_get64(m + 48);
    c->nseg = fmt_get32(m + 56);
    size_t off = FMT_CKPT_HEADER_SIZE;
    c->ntable = c->nseg;
    c->table = xmalloc(16 * c->ntable);
    for (size_t i = 0; i < 2 * c->ntable; i++)
        c->table[i] = fmt_get64(m + off + 8 * i);
    off += 16 * c->ntable + 4;
    c->prefix_len = c->plen;
    if (c->plen > sizeof c->prefix)
        fail("genuine checkpoint prefix");
    memcpy(c->prefix, m + off, c->plen);
    off += c->plen + 4;
    c->npairs = (size_t)c->nkeys;
    c->pairs = xmalloc(16 * (c->npairs + 1));
    for (size_t done = 0; done < c->npairs;) {
        size_t nb = c->npairs - done < FMT_CKPT_BLOCK_LOCS ? c->npairs - done : FMT_CKPT_BLOCK_LOCS;
        for (size_t j = 0; j < 2 * nb; j++)
            c->pairs[2 * done + j] = fmt_get64(m + off + 8 * j);
        off += 16 * nb + 4;
        done += nb;
    }
    if (off != n)
        fail("genuine checkpoint size");
}

static void ckpt_free(ckpt *c)
{
    free(c->table);
    free(c->pairs);
}

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void b_put(bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void b_crc(bytes *b, size_t from)
{
    uint8_t c[4];
    fmt_put32(c, fmt_mask_crc(fmt_crc32c(b->p + from, b->n - from)));
    b_put(b, c, 4);
}

static void ckpt_encode(const ckpt *c, bytes *b)
{
    uint8_t h[FMT_CKPT_HEADER_SIZE];
    memcpy(h, FMT_CKPT_MAGIC, 8);
    fmt_put32(h + 8, c->version);
    fmt_put32(h + 12, c->plen_set ? c->plen : (uint32_t)c->prefix_len);
    fmt_put64(h + 16, c->last_seq);
    fmt_put64(h + 24, c->pos_seg);
    fmt_put64(h + 32, c->pos_off);
    fmt_put64(h + 40, c->nkeys_set ? c->nkeys : c->npairs);
    fmt_put64(h + 48, c->min_live);
    fmt_put32(h + 56, c->nseg_set ? c->nseg : (uint32_t)c->ntable);
    fmt_put32(h + 60, fmt_mask_crc(fmt_crc32c(h, 60)));
    b->n = 0;
    b_put(b, h, sizeof h);
    uint8_t w[16];
    for (size_t i = 0; i < c->ntable; i++) {
        fmt_put64(w, c->table[2 * i]);
        fmt_put64(w + 8, c->table[2 * i + 1]);
        b_put(b, w, 16);
    }
    b_crc(b, FMT_CKPT_HEADER_SIZE);
    size_t from = b->n;
    b_put(b, c->prefix, c->prefix_len);
    b_crc(b, from);
    for (size_t done = 0; done < c->npairs;) {
        size_t nb = c->npairs - done < FMT_CKPT_BLOCK_LOCS ? c->npairs - done : FMT_CKPT_BLOCK_LOCS;
        from = b->n;
        for (size_t j = 0; j < nb; j++) {
            fmt_put64(w, c->pairs[2 * (done + j)]);
            fmt_put64(w + 8, c->pairs[2 * (done + j) + 1]);
            b_put(b, w, 16);
        }
        b_crc(b, from);
        done += nb;
    }
}

/* ---- the edit script ---- */

typedef struct input {
    const uint8_t *p;
    size_t n, off;
} input;

static uint8_t in8(input *in)
{
    return in->off < in->n ? in->p[in->off++] : 0;
}

static uint64_t in16(input *in)
{
    uint64_t v = in8(in);
    return v | (uint64_t)in8(in) << 8;
}

static uint64_t in64(input *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)in8(in) << (8 * i);
    return v;
}

/* A value for a 64-bit field: mostly near the interesting ones. */
static uint64_t in_value(input *in, uint64_t current)
{
    uint8_t how = in8(in);
    int8_t delta = (int8_t)in8(in);
    switch (how % 6) {
    case 0: return current + (uint64_t)(int64_t)delta;
    case 1: return (uint64_t)(uint8_t)delta;
    case 2: return UINT64_MAX - (uint8_t)delta;
    case 3: return (uint64_t)1 << ((uint8_t)delta % 64);
    case 4: return g.records[in16(in) % g.nrecords];
    default: return in64(in);
    }
}

static void pair_insert(ckpt *c, size_t at, uint64_t loc, uint64_t akey)
{
    if (at > c->npairs)
        at = c->npairs;
    c->pairs = xrealloc(c->pairs, 16 * (c->npairs + 1));
    memmove(c->pairs + 2 * at + 2, c->pairs + 2 * at, 16 * (c->npairs - at));
    c->pairs[2 * at] = loc;
    c->pairs[2 * at + 1] = akey;
    c->npairs++;
}

static void pair_remove(ckpt *c, size_t at)
{
    if (at >= c->npairs)
        return;
    memmove(c->pairs + 2 * at, c->pairs + 2 * at + 2, 16 * (c->npairs - at - 1));
    c->npairs--;
}

/* The ALEX key of a known key under the checkpoint's prefix length. */
static uint64_t akey_of(const ckpt *c, size_t key)
{
    return kix_akey(g.keys[key].key, g.keys[key].klen, c->prefix_len);
}

/* The PUT at location loc (g.puts is in log order, so sorted by location), or NULL. */
static const put_rec *put_at(uint64_t loc)
{
    size_t lo = 0, hi = g.nputs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g.puts[mid].loc == loc)
            return &g.puts[mid];
        if (g.puts[mid].loc < loc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Where a pair for `key` goes in key order: before the first pair naming a PUT of a key not
 * smaller (pairs that name no PUT are passed over). */
static size_t pair_slot(const ckpt *c, size_t key)
{
    size_t at = 0;
    for (; at < c->npairs; at++) {
        const put_rec *pr = put_at(c->pairs[2 * at]);
        if (pr && pr->key >= key)
            return at;
    }
    return at;
}

/* The loc of the nth PUT (mod their number) of key. */
static uint64_t nth_put(size_t key, unsigned nth)
{
    unsigned n = 0;
    for (long i = g.keys[key].first_put; i >= 0; i = g.puts[i].next)
        n++;
    nth %= n ? n : 1;
    for (long i = g.keys[key].first_put; i >= 0; i = g.puts[i].next)
        if (nth-- == 0)
            return g.puts[i].loc;
    return 0;
}

typedef struct post_edit {
    uint32_t offset;
    uint8_t xor_with;
} post_edit;

#define MAX_POST 32

/* Decodes the script into edits of c; byte edits to apply after encoding go to post[];
 * *cut: the file's final length (SIZE_MAX: unchanged). Each operation is a byte (op % 16)
 * and its arguments. */
static void apply_edits(input *in, ckpt *c, post_edit *post, size_t *npost, size_t *cut,
                        size_t *extend)
{
    while (in->off < in->n) {
        uint8_t op = in8(in);
        size_t j = c->npairs ? (size_t)(in16(in) % c->npairs) : 0;
        switch (op % 16) {
        case 0: /* a header field */
            switch (in8(in) % 8) {
            case 0: c->version = (uint32_t)in_value(in, c->version); break;
            case 1: c->plen = (uint32_t)in_value(in, c->prefix_len); c->plen_set = true; break;
            case 2: c->last_seq = in_value(in, c->last_seq); break;
            case 3: c->pos_seg = in_value(in, c->pos_seg); break;
            case 4: c->pos_off = in_value(in, c->pos_off); break;
            case 5: c->nkeys = in_value(in, c->npairs); c->nkeys_set = true; break;
            case 6: c->min_live = in_value(in, c->min_live); break;
            default: c->nseg = (uint32_t)in_value(in, c->ntable); c->nseg_set = true; break;
            }
            break;
        case 1: /* point a pair at any PUT ever written, maybe with that key's ALEX key */
            if (c->npairs) {
                uint8_t how = in8(in);
                const put_rec *pr = &g.puts[in16(in) % g.nputs];
                c->pairs[2 * j] = pr->loc;
                if (how & 1)
                    c->pairs[2 * j + 1] = akey_of(c, pr->key);
            }
            break;
        case 2: /* a pair's ALEX key */
            if (c->npairs)
                c->pairs[2 * j + 1] = in_value(in, c->pairs[2 * j + 1]);
            break;
        case 3: /* a pair's location, near or raw */
            if (c->npairs)
                c->pairs[2 * j] = in_value(in, c->pairs[2 * j]);
            break;
        case 4: pair_remove(c, j); break;
        case 5: /* duplicate a pair next to itself, or elsewhere */
            if (c->npairs)
                pair_insert(c, in8(in) & 1 ? j : (size_t)in16(in) % (c->npairs + 1),
                            c->pairs[2 * j], c->pairs[2 * j + 1]);
            break;
        case 6: /* a stale value: the pair's key at one of its older PUTs */
            if (c->npairs) {
                uint8_t nth = in8(in);
                const put_rec *pr = put_at(c->pairs[2 * j]);
                if (pr)
                    c->pairs[2 * j] = nth_put(pr->key, nth);
            }
            break;
        case 7: { /* swap two pairs */
            size_t k = c->npairs ? (size_t)(in16(in) % c->npairs) : 0;
            if (c->npairs) {
                uint64_t t0 = c->pairs[2 * j], t1 = c->pairs[2 * j + 1];
                c->pairs[2 * j] = c->pairs[2 * k];
                c->pairs[2 * j + 1] = c->pairs[2 * k + 1];
                c->pairs[2 * k] = t0;
                c->pairs[2 * k + 1] = t1;
            }
            break;
        }
        case 8: /* a segment-table entry */
            if (c->ntable) {
                size_t i = in8(in) % c->ntable;
                uint8_t which = in8(in) & 1;
                c->table[2 * i + which] = in_value(in, c->table[2 * i + which]);
            }
            break;
        case 9: /* add or remove a segment-table entry */
            if (in8(in) & 1 || !c->ntable) {
                c->table = xrealloc(c->table, 16 * (c->ntable + 1));
                c->table[2 * c->ntable] = in8(in) % 6;
                c->table[2 * c->ntable + 1] = in_value(in, 1000);
                c->ntable++;
            } else {
                c->ntable--;
            }
            break;
        case 10: { /* the prefix: shorter, longer, or new bytes */
            uint8_t how = in8(in);
            if (how % 3 == 0 && c->prefix_len)
                c->prefix_len--;
            else if (how % 3 == 1 && c->prefix_len < sizeof c->prefix)
                c->prefix[c->prefix_len++] = in8(in);
            else if (c->prefix_len) {
                size_t at = in8(in) % c->prefix_len;
                c->prefix[at] = in8(in);
            }
            /* recompute every ALEX key for the new prefix length (bit 7: keep them) */
            for (size_t i = 0; !(how & 0x80) && i < c->npairs; i++) {
                const put_rec *pr = put_at(c->pairs[2 * i]);
                if (pr)
                    c->pairs[2 * i + 1] = akey_of(c, pr->key);
            }
            break;
        }
        case 11: /* bring a deleted key back at one of its PUTs, in key order */
        {
            size_t k = (size_t)in16(in) % g.nkeys;
            uint8_t nth = in8(in);
            if (g.keys[k].first_put >= 0)
                pair_insert(c, pair_slot(c, k), nth_put(k, nth), akey_of(c, k));
            break;
        }
        case 12: /* an older position: a record boundary; drop the pairs at or after it */
        {
            uint64_t r = g.records[in16(in) % g.nrecords];
            bool drop = in8(in) & 1;
            c->pos_seg = fmt_loc_segment(r);
            c->pos_off = fmt_loc_offset(r);
            for (size_t i = c->npairs; drop && i-- > 0;)
                if (c->pairs[2 * i] >= r)
                    pair_remove(c, i);
            break;
        }
        case 13: /* keep only the first j pairs */
            c->npairs = j;
            break;
        case 14: /* a byte of the encoded file */
            if (*npost < MAX_POST) {
                post[*npost].offset = (uint32_t)in16(in);
                post[*npost].xor_with = in8(in);
                if (!post[*npost].xor_with)
                    post[*npost].xor_with = 1;
                (*npost)++;
            }
            break;
        default: /* the file's length */
            if (in8(in) & 1)
                *cut = (size_t)in16(in);
            else
                *extend = in8(in);
            break;
        }
    }
}

/* The checkpoint this input makes; malloc'd into *out. */
static void make_checkpoint(const uint8_t *data, size_t size, bytes *out)
{
    uint8_t mode = size ? data[0] : 0;
    input in = {data, size, size ? 1 : 0};
    out->n = 0;
    if ((mode & 3) == 0) {
        b_put(out, data + in.off, size - in.off);
    } else {
        ckpt c;
        ckpt_decode(g.ckpt, g.ckpt_len, &c);
        post_edit post[MAX_POST];
        size_t npost = 0, cut = SIZE_MAX, extend = 0;
        apply_edits(&in, &c, post, &npost, &cut, &extend);
        ckpt_encode(&c, out);
        ckpt_free(&c);
        for (size_t i = 0; i < npost; i++)
            if (out->n)
                out->p[post[i].offset % out->n] ^= post[i].xor_with;
        if (cut < out->n)
            out->n = cut;
        for (size_t i = 0; i < extend; i++)
            b_put(out, "\0", 1);
    }
    if (!(mode & 0x20))
        fuzz_fix_checkpoint_crcs(out->p, out->n);
}

/* ---- opening and checking ---- */

static void materialize(const bytes *ck)
{
    fuzz_dir_clean();
    char name[32];
    for (size_t s = 0; s < g.nsegs; s++) {
        snprintf(name, sizeof name, "%010llu.seg", (unsigned long long)g.segs[s].number);
        write_file(name, g.segs[s].data, g.segs[s].len);
    }
    uint8_t m[FMT_MARKER_SIZE];
    fmt_marker_encode(m);
    write_file(FMT_MARKER_NAME, m, sizeof m);
    write_file(FMT_CKPT_NAME, ck->p ? ck->p : (const uint8_t *)"", ck->n);
}

/* Are the segment files as they were? A missing one counts as unchanged if allow_missing
 * (a checkpoint may name older segments obsolete: a read-write open removes them). */
static bool segments_unchanged(bool allow_missing)
{
    char path[512];
    for (size_t s = 0; s < g.nsegs; s++) {
        snprintf(path, sizeof path, "%s/%010llu.seg", fuzz_dir,
                 (unsigned long long)g.segs[s].number);
        if (allow_missing && access(path, F_OK) != 0)
            continue;
        size_t n;
        uint8_t *b = read_file(path, &n);
        bool same = n == g.segs[s].len && memcmp(b, g.segs[s].data, n) == 0;
        free(b);
        if (!same)
            return false;
    }
    return true;
}

/* The PUT of key that wrote these value bytes (the last of equal ones), or -1: none did. */
static long written_for(size_t key, const void *v, size_t vlen)
{
    long which = -1;
    for (long i = g.keys[key].first_put; i >= 0; i = g.puts[i].next)
        if (g.puts[i].vlen == vlen && (vlen == 0 || memcmp(g.puts[i].value, v, vlen) == 0))
            which = i;
    return which;
}

/* What an open database holds: per known key, the index of the PUT whose value it returns
 * (-1: absent). Checks the iterator, axs_get and the stats against each other on the way. */
static void observe(axs_db *db, long *state)
{
    for (size_t k = 0; k < g.nkeys; k++)
        state[k] = -2; /* not seen by the iterator */
    axs_iter *it = NULL;
    if (axs_iter_create(db, NULL, &it) != AXS_OK)
        fail("axs_iter_create failed");
    uint64_t fwd = 0;
    long prev_k = -1;
    for (axs_iter_seek_to_first(it); axs_iter_valid(it); axs_iter_next(it)) {
        size_t klen, vlen;
        const void *key = axs_iter_key(it, &klen);
        const void *v = axs_iter_value(it, &vlen);
        long k = find_key(key, klen);
        if (k < 0)
            fail("the iterator yields a key that was never written");
        if (k <= prev_k)
            fail("the iterator yields keys out of order or twice");
        prev_k = k;
        long which = written_for((size_t)k, v, vlen);
        if (which < 0)
            fail("the iterator yields a value never written for its key");
        state[k] = which;
        fwd++;
    }
    if (axs_iter_status(it) != AXS_OK)
        fail("the iterator reports an error over an intact log");
    uint64_t back = 0;
    for (axs_iter_seek_to_last(it); axs_iter_valid(it); axs_iter_prev(it))
        back++;
    if (back != fwd)
        fail("backward iteration yields a different number of keys");
    axs_iter_destroy(it);

    for (size_t k = 0; k < g.nkeys; k++) {
        char *got = NULL;
        size_t glen = 0;
        bool found = false;
        if (axs_get_alloc(db, NULL, g.keys[k].key, g.keys[k].klen, &got, &glen, &found) != AXS_OK)
            fail("axs_get fails over an intact log");
        if (found != (state[k] != -2))
            fail("axs_get and the iterator disagree on whether a key exists");
        if (found && (glen != g.puts[state[k]].vlen ||
                      memcmp(got, g.puts[state[k]].value, glen) != 0))
            fail("axs_get and the iterator disagree on a value");
        free(got);
        if (state[k] == -2)
            state[k] = -1;
    }
    static const char *const never[] = {"", "user:", "user:0007", "user:9999", "zzz",
                                        "user:0007:longkey-99"};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++) {
        bool found = true;
        char *got = NULL;
        size_t glen;
        if (axs_get_alloc(db, NULL, never[i], strlen(never[i]), &got, &glen, &found) != AXS_OK)
            fail("axs_get fails over an intact log");
        free(got);
        if (found)
            fail("axs_get finds a key that was never written");
    }
    axs_stats st;
    axs_get_stats(db, &st);
    if (st.num_keys != fwd)
        fail("stats num_keys differs from the number of keys iterated");
}

/* Is the value held for key k its final one? (Two PUTs of equal bytes are the same value.) */
static bool is_final(size_t k, long held)
{
    long want = g.keys[k].final;
    if (held < 0 || want < 0)
        return held == want;
    return g.puts[held].vlen == g.puts[want].vlen &&
           memcmp(g.puts[held].value, g.puts[want].value, g.puts[held].vlen) == 0;
}

static void check_exact(const long *state, const char *why)
{
    for (size_t k = 0; k < g.nkeys; k++)
        if (!is_final(k, state[k])) {
            fprintf(stderr, "fuzz_checkpoint: key %.*s is not in its final state (%s)\n",
                    (int)g.keys[k].klen, (const char *)g.keys[k].key, why);
            fail("the opened state differs from the log's");
        }
}

/* Do two states hold the same value (bytes) for every key? */
static bool same_state(const long *a, const long *b)
{
    for (size_t k = 0; k < g.nkeys; k++) {
        if ((a[k] < 0) != (b[k] < 0))
            return false;
        if (a[k] >= 0 && (g.puts[a[k]].vlen != g.puts[b[k]].vlen ||
                          memcmp(g.puts[a[k]].value, g.puts[b[k]].value, g.puts[a[k]].vlen)))
            return false;
    }
    return true;
}

static void run_variant(const bytes *ck, bool genuine, bool read_only, bool paranoid,
                        bool compact, long *state, long *state2)
{
    materialize(ck);
    axs_options o;
    axs_options_init(&o);
    o.read_only = read_only;
    o.paranoid_checks = paranoid;
    o.segment_size = 64 * 1024;
    o.compaction_garbage_ratio = 0;
    axs_db *db = NULL;
    char *err = NULL;
    int rc = axs_open(fuzz_dir, &o, &db, &err);
    if (verbose)
        fprintf(stderr, "fuzz_checkpoint: %s %s: %s%s%s\n",
                read_only ? "read-only" : "read-write", paranoid ? "paranoid" : "lenient",
                axs_strerror(rc), err ? ": " : "", err ? err : "");
    if (rc != AXS_OK) {
        bool newer = ck->n >= 12 && fmt_get32(ck->p + 8) > FMT_VERSION;
        if (db)
            fail("axs_open failed but returned a handle");
        if (genuine || !((rc == AXS_ECORRUPT && paranoid) || (rc == AXS_ENOTSUP && newer))) {
            fprintf(stderr, "fuzz_checkpoint: open (%s, %s): %s: %s\n",
                    read_only ? "read-only" : "read-write", paranoid ? "paranoid" : "lenient",
                    axs_strerror(rc), err ? err : "");
            fail("a checkpoint made an intact log fail to open, or with the wrong code");
        }
        free(err);
        return;
    }
    free(err);
    observe(db, state);

    axs_stats st;
    axs_get_stats(db, &st);
    if (verbose) {
        size_t finals = 0, present = 0;
        for (size_t k = 0; k < g.nkeys; k++) {
            finals += is_final(k, state[k]);
            present += state[k] >= 0;
        }
        fprintf(stderr, "fuzz_checkpoint:   %" PRIu64 " keys from the checkpoint, %" PRIu64
                " records replayed (of %" PRIu64 "); %zu keys, %zu of %zu in their final "
                "state; last error: %s\n", st.checkpoint_keys, st.recovered_records,
                g.log_records, present, finals, g.nkeys, axs_last_error(db));
    }
    if (genuine)
        check_exact(state, "genuine checkpoint");
    else if (st.checkpoint_keys == 0 && st.recovered_records == g.log_records)
        check_exact(state, "whole log replayed");
    if (ck->n >= FMT_CKPT_HEADER_SIZE) {
        /* What the log says after the position is never overridden by the checkpoint. */
        uint64_t pseg = fmt_get64(ck->p + 24), poff = fmt_get64(ck->p + 32);
        uint64_t pos = pseg <= FMT_LOC_MAX_SEGMENT && poff <= FMT_LOC_MAX_OFFSET
                           ? fmt_loc(pseg, poff)
                           : UINT64_MAX;
        for (size_t k = 0; k < g.nkeys; k++)
            if (g.keys[k].last_op >= pos && !is_final(k, state[k])) {
                fprintf(stderr, "fuzz_checkpoint: key %.*s\n", (int)g.keys[k].klen,
                        (const char *)g.keys[k].key);
                fail("a key written after the checkpoint's position lost that write");
            }
    } else {
        check_exact(state, "no checkpoint header");
    }

    if (read_only) {
        axs_close(db);
        if (!segments_unchanged(false))
            fail("a read-only open changed a segment file");
        return;
    }
    /* The log is intact (no torn tail): whatever the checkpoint says, an open must not cut or
     * rewrite a segment it keeps. */
    if (!segments_unchanged(true))
        fail("a read-write open changed a segment file of an intact log");
    if (compact) {
        if (axs_compact(db) != AXS_OK)
            fail("axs_compact fails over an intact log");
        observe(db, state2);
        if (!same_state(state, state2))
            fail("compaction changed the contents");
    }
    if (axs_close(db) != AXS_OK)
        fail("axs_close failed");
    db = NULL;
    err = NULL;
    rc = axs_open(fuzz_dir, &o, &db, &err);
    if (rc != AXS_OK) {
        fprintf(stderr, "fuzz_checkpoint: reopen: %s: %s\n", axs_strerror(rc), err ? err : "");
        fail("a database that opened and closed cleanly does not reopen");
    }
    free(err);
    observe(db, state2);
    axs_close(db);
    if (!same_state(state, state2))
        fail("reopen after a clean close changed the contents");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_dir_create("fuzz_checkpoint");
    verbose = getenv("FUZZ_CHECKPOINT_VERBOSE") != NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g.ready) {
        build_known();
        g.ready = true;
    }
    if (size > 256 * 1024)
        return 0;
    bytes ck = {NULL, 0, 0};
    make_checkpoint(data, size, &ck);
    bool genuine = ck.n == g.ckpt_len && memcmp(ck.p, g.ckpt, ck.n) == 0;
    bool compact = size && (data[0] & 0x10);
    long *state = xmalloc(2 * g.nkeys * sizeof *state);
    run_variant(&ck, genuine, true, true, false, state, state + g.nkeys);
    run_variant(&ck, genuine, true, false, false, state, state + g.nkeys);
    run_variant(&ck, genuine, false, true, compact, state, state + g.nkeys);
    run_variant(&ck, genuine, false, false, compact, state, state + g.nkeys);
    free(state);
    free(ck.p);
    fuzz_dir_clean();
    return 0;
}
