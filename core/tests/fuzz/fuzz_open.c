/*
 * fuzz_open.c: libFuzzer target for opening a database directory made of arbitrary files.
 *
 * Input layout (make_corpus.py writes seeds in it):
 *   byte 0          mode: bit 0 = repair the checksums of the files before writing them (so
 *                   the fuzzer gets past the CRCs into the record/entry/checkpoint logic);
 *                   bit 1 = do not write the ALEXSTORAGE marker (by default a valid one is
 *                   written, unless a file of kind 4 supplies it)
 *   then files, each: kind (1 byte), length (2 bytes LE), data (length bytes; a short last
 *                   file takes what is left). kind % 5: 0..2 = segment 0000000001.seg ..
 *                   0000000003.seg, 3 = CHECKPOINT, 4 = ALEXSTORAGE. A later file of the same
 *                   kind replaces an earlier one.
 *
 * Every input is opened three ways, with the files rewritten before each: read-only with
 * paranoid_checks, read-only without, and read-write without paranoid_checks (no background
 * compaction). Whenever an open succeeds, every key is iterated forwards and backwards and
 * read back with axs_get, which must agree with the iterator. After the read-write open the
 * handle is closed (which writes a checkpoint) and the database reopened with the same
 * options: it must open and hold exactly the same keys and values.
 * Any crash, sanitizer report, leak or abort() is a bug.
 */
#define _POSIX_C_SOURCE 200809L

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


#define NKINDS 5
static const char *const kind_names[NKINDS] = {"0000000001.seg", "0000000002.seg",
                                                "0000000003.seg", "CHECKPOINT", "ALEXSTORAGE"};

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_open: %s\n", what);
    abort();
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

/* ---- checksum repair (docs/format.md) ---- */

static void fix_segment(uint8_t *p, size_t n)
{
    if (n < FMT_SEG_HEADER_SIZE)
        return;
    fmt_put32(p + 28, fmt_mask_crc(fmt_crc32c(p, 28)));
    size_t off = FMT_SEG_HEADER_SIZE;
    while (off + FMT_RECORD_HEADER_SIZE <= n) {
        uint8_t *r = p + off;
        uint32_t len = fmt_get32(r + 4), count = fmt_get32(r + 16);
        if (len < FMT_RECORD_HEADER_SIZE || len > n - off)
            break;
        uint32_t crcs = 0;
        size_t e = FMT_RECORD_HEADER_SIZE;
        for (uint32_t i = 0; i < count && e + FMT_ENTRY_HEADER_SIZE <= len; i++) {
            uint64_t esz = fmt_entry_size(fmt_get32(r + e + 8), fmt_get32(r + e + 12));
            if (esz > len - e)
                break;
            fmt_put32(r + e, fmt_mask_crc(fmt_crc32c(r + e + 4, (size_t)esz - 4)));
            crcs = fmt_crc32c_extend(crcs, r + e, 4);
            e += (size_t)esz;
        }
        fmt_put32(r, fmt_mask_crc(fmt_crc32c_extend(crcs, r + 4, 20)));
        off += (size_t)fmt_align(len);
    }
}

/* ---- the files of one input ---- */

typedef struct files {
    uint8_t *data[NKINDS];
    size_t len[NKINDS];
    bool present[NKINDS];
    bool marker;
} files;

static void parse(const uint8_t *in, size_t n, files *fs)
{
    memset(fs, 0, sizeof *fs);
    uint8_t mode = n ? in[0] : 0;
    size_t off = n ? 1 : 0;
    while (off < n) {
        unsigned kind = in[off] % NKINDS;
        size_t len = 0;
        if (off + 1 < n)
            len = in[off + 1];
        if (off + 2 < n)
            len |= (size_t)in[off + 2] << 8;
        off = off + 3 < n ? off + 3 : n;
        if (len > n - off)
            len = n - off;
        free(fs->data[kind]);
        fs->data[kind] = malloc(len ? len : 1);
        if (!fs->data[kind])
            fail("malloc");
        memcpy(fs->data[kind], in + off, len);
        fs->len[kind] = len;
        fs->present[kind] = true;
        off += len;
    }
    if (mode & 1) {
        for (int k = 0; k < 3; k++)
            if (fs->present[k])
                fix_segment(fs->data[k], fs->len[k]);
        if (fs->present[3])
            fuzz_fix_checkpoint_crcs(fs->data[3], fs->len[3]);
    }
    fs->marker = !(mode & 2);
}

static void materialize(const files *fs)
{
    fuzz_dir_clean();
    for (int k = 0; k < NKINDS; k++)
        if (fs->present[k])
            write_file(kind_names[k], fs->data[k], fs->len[k]);
    if (fs->marker && !fs->present[4]) {
        uint8_t m[FMT_MARKER_SIZE];
        fmt_marker_encode(m);
        write_file(FMT_MARKER_NAME, m, sizeof m);
    }
}

/* ---- reading everything back ---- */

/* FNV-1a over (klen, key, vlen, value) of every pair in order, and the count. */
typedef struct summary {
    uint64_t hash, count;
    bool ok; /* no read error: the summary is complete */
} summary;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211u;
    return h;
}

static void scan(axs_db *db, summary *s)
{
    s->hash = 1469598103934665603u;
    s->count = 0;
    s->ok = true;
    axs_iter *it = NULL;
    if (axs_iter_create(db, NULL, &it) != AXS_OK) {
        s->ok = false;
        return;
    }
    uint64_t fwd = 0;
    for (axs_iter_seek_to_first(it); axs_iter_valid(it); axs_iter_next(it)) {
        size_t klen, vlen;
        const void *k = axs_iter_key(it, &klen);
        const void *v = axs_iter_value(it, &vlen);
        s->hash = fnv(s->hash, &klen, sizeof klen);
        s->hash = fnv(s->hash, k, klen);
        s->hash = fnv(s->hash, &vlen, sizeof vlen);
        s->hash = fnv(s->hash, v, vlen);
        fwd++;

        char *got = NULL;
        size_t glen = 0;
        bool found = false;
        int rc = axs_get_alloc(db, NULL, k, klen, &got, &glen, &found);
        if (rc == AXS_OK) {
            if (!found)
                fail("axs_get misses a key the iterator yields");
            if (glen != vlen || (vlen && memcmp(got, v, vlen) != 0))
                fail("axs_get and the iterator disagree on a value");
        } else {
            s->ok = false;
        }
        free(got);
    }
    if (axs_iter_status(it) != AXS_OK)
        s->ok = false;
    s->count = fwd;

    uint64_t back = 0;
    for (axs_iter_seek_to_last(it); axs_iter_valid(it); axs_iter_prev(it))
        back++;
    if (axs_iter_status(it) == AXS_OK && s->ok && back != fwd)
        fail("backward iteration yields a different number of keys");
    axs_iter_destroy(it);

    axs_stats st;
    axs_get_stats(db, &st);
    if (s->ok && st.num_keys != fwd)
        fail("stats num_keys differs from the number of keys iterated");
    char *prop = axs_property(db, "alexstorage.stats");
    free(prop);
}

static void run_variant(const files *fs, bool read_only, bool paranoid)
{
    materialize(fs);
    axs_options o;
    axs_options_init(&o);
    o.read_only = read_only;
    o.paranoid_checks = paranoid;
    o.compaction_garbage_ratio = 0;
    axs_db *db = NULL;
    char *err = NULL;
    int rc = axs_open(fuzz_dir, &o, &db, &err);
    free(err);
    if (rc != AXS_OK) {
        if (db)
            fail("axs_open failed but returned a handle");
        return;
    }
    summary s1;
    scan(db, &s1);
    rc = axs_close(db);
    if (read_only || rc != AXS_OK)
        return;

    /* What a read-write open accepted and closed must reopen the same. */
    db = NULL;
    err = NULL;
    rc = axs_open(fuzz_dir, &o, &db, &err);
    if (rc != AXS_OK) {
        fprintf(stderr, "fuzz_open: reopen failed: %s: %s\n", axs_strerror(rc),
                err ? err : "");
        free(err);
        fail("a database that opened and closed cleanly does not reopen");
    }
    free(err);
    summary s2;
    scan(db, &s2);
    axs_close(db);
    if (s1.ok && s2.ok && (s1.count != s2.count || s1.hash != s2.hash))
        fail("reopen after a clean close changed the contents");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_dir_create("fuzz_open");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    files fs;
    parse(data, size, &fs);
    run_variant(&fs, true, true);
    run_variant(&fs, true, false);
    run_variant(&fs, false, false);
    for (int k = 0; k < NKINDS; k++)
        free(fs.data[k]);
    fuzz_dir_clean();
    return 0;
}
