/*
 * test_db_model.c: differential test of the storage engine against an in-memory model.
 *
 * The model is a sorted array of byte-string keys (ordered as db.h orders them: memcmp, then
 * shorter first) with their values. Each case runs a long random sequence of puts, deletes,
 * write batches, reads (axs_get with full, partial and length-only buffers, axs_get_alloc,
 * axs_get_pinned), iterator walks from every kind of seek, and one long-lived iterator that
 * keeps stepping while the database changes, with periodic close and reopen (sometimes after
 * deleting CHECKPOINT, so the whole log is replayed, and with a different segment size or
 * compression setting), occasional axs_flush and axs_compact. After every reopen the whole
 * content is compared both ways, and num_keys and last_sequence are checked.
 *
 * Key generators: db_bench keys (8-byte big-endian number + 8 bytes '0'), "user:profile:<id>",
 * short binary keys of 0..10 bytes over a 3-letter alphabet (collisions, prefixes, zero
 * bytes), and keys of random length up to 300 bytes sharing random-length prefixes. Values
 * are 0..2000 bytes, random or compressible. Each generator runs with compression off and on.
 *
 * Most opens use an I/O table without fdatasync (see nosync_io) to keep the run fast.
 * Every case prints its seed (ALEXSTORAGE_SEED=<n> replays it); ALEXSTORAGE_TEST_SCALE
 * scales the number of operations. A failure message names the operation number.
 */
#define _XOPEN_SOURCE 700

#include "test_util.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alexstorage/db.h"

/* ---- the model ---------------------------------------------------------------------------- */

typedef struct ment {
    uint8_t *k;
    size_t kl;
    uint8_t *v;
    size_t vl;
    uint64_t since; /* model clock when the key last went from absent to present */
} ment;

typedef struct model {
    ment *e;
    size_t n, cap;
    uint64_t clock;
} model;

static int keycmp(const void *a, size_t al, const void *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

/* Index of the first entry >= key; *hit when it equals key. */
static size_t model_lower(const model *m, const void *k, size_t kl, bool *hit)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keycmp(m->e[mid].k, m->e[mid].kl, k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (hit)
        *hit = lo < m->n && keycmp(m->e[lo].k, m->e[lo].kl, k, kl) == 0;
    return lo;
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *d = tu_xmalloc(n);
    if (n)
        memcpy(d, p, n);
    return d;
}

static void model_put(model *m, const void *k, size_t kl, const void *v, size_t vl)
{
    bool hit;
    size_t i = model_lower(m, k, kl, &hit);
    m->clock++;
    if (hit) {
        free(m->e[i].v);
        m->e[i].v = dup_bytes(v, vl);
        m->e[i].vl = vl;
        return;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->e = realloc(m->e, m->cap * sizeof *m->e);
        TU_REQUIRE(m->e != NULL, "out of memory");
    }
    memmove(m->e + i + 1, m->e + i, (m->n - i) * sizeof *m->e);
    m->e[i] = (ment){dup_bytes(k, kl), kl, dup_bytes(v, vl), vl, m->clock};
    m->n++;
}

static void model_del(model *m, const void *k, size_t kl)
{
    bool hit;
    size_t i = model_lower(m, k, kl, &hit);
    m->clock++;
    if (!hit)
        return;
    free(m->e[i].k);
    free(m->e[i].v);
    memmove(m->e + i, m->e + i + 1, (m->n - i - 1) * sizeof *m->e);
    m->n--;
}

static void model_free(model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].k);
        free(m->e[i].v);
    }
    free(m->e);
    memset(m, 0, sizeof *m);
}

/* A deep copy: the state a snapshot or an iterator must keep seeing. */
static void model_copy(model *dst, const model *src)
{
    memset(dst, 0, sizeof *dst);
    dst->n = dst->cap = src->n;
    dst->e = tu_xmalloc((src->n ? src->n : 1) * sizeof *dst->e);
    for (size_t i = 0; i < src->n; i++) {
        dst->e[i] = src->e[i];
        dst->e[i].k = dup_bytes(src->e[i].k, src->e[i].kl);
        dst->e[i].v = dup_bytes(src->e[i].v, src->e[i].vl);
    }
}

/* ---- key and value generators ------------------------------------------------------------- */

enum { KG_DBBENCH, KG_USER, KG_TINY, KG_LONG };
enum { MAX_GEN_KEY = 320, MAX_GEN_VALUE = 2000 };

typedef struct gen {
    int kind;
    uint64_t space;               /* distinct numbers for the numbered generators */
    uint8_t prefix[MAX_GEN_KEY];  /* shared prefix material for KG_LONG */
} gen;

static size_t gen_key(gen *g, tu_rng *r, uint8_t *buf)
{
    switch (g->kind) {
    case KG_DBBENCH: {
        uint64_t n = tu_rng_below(r, g->space);
        for (int i = 0; i < 8; i++)
            buf[i] = (uint8_t)(n >> (56 - 8 * i));
        memset(buf + 8, '0', 8);
        return 16;
    }
    case KG_USER:
        return (size_t)sprintf((char *)buf, "user:profile:%" PRIu64, tu_rng_below(r, g->space));
    case KG_TINY: {
        static const uint8_t alpha[3] = {0x00, 'a', 0xff};
        size_t len = (size_t)tu_rng_below(r, 11);
        for (size_t i = 0; i < len; i++)
            buf[i] = alpha[tu_rng_below(r, 3)];
        return len;
    }
    default: { /* KG_LONG: random length, random-length shared prefix, random tail */
        size_t len = (size_t)tu_rng_below(r, 301);
        size_t pre = (size_t)tu_rng_below(r, len + 1);
        memcpy(buf, g->prefix, pre);
        for (size_t i = pre; i < len; i++)
            buf[i] = (uint8_t)tu_rng_below(r, 4) == 0 ? 0 : (uint8_t)tu_rng_next(r);
        return len;
    }
    }
}

static size_t gen_value(tu_rng *r, uint8_t *buf)
{
    uint64_t c = tu_rng_below(r, 100);
    size_t len = c < 5 ? 0 : c < 45 ? (size_t)tu_rng_below(r, 100) : (size_t)tu_rng_below(r, MAX_GEN_VALUE + 1);
    if (tu_rng_below(r, 5) < 2) { /* compressible: a short pattern repeated, with runs */
        uint8_t pat[8];
        size_t pl = 1 + (size_t)tu_rng_below(r, 8);
        for (size_t i = 0; i < pl; i++)
            pat[i] = (uint8_t)tu_rng_next(r);
        for (size_t i = 0; i < len; i++)
            buf[i] = pat[i % pl];
        if (len > 10)
            buf[tu_rng_below(r, len)] ^= 0x5a;
    } else {
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)tu_rng_next(r);
    }
    return len;
}

/* ---- the run ------------------------------------------------------------------------------ */

typedef struct run {
    const char *name;
    tu_rng rng;
    gen g;
    model m;
    axs_db *db;
    char base[512];
    char path[600];
    int compression; /* the case's main setting */
    uint64_t op;     /* operation number, for messages */
    uint64_t seq;    /* expected last_sequence: one per put/delete, count per batch */
    char deferred[512]; /* first failure of a bookkeeping check, reported at the end */

    /* the long-lived iterator: it must keep seeing the database as it was at its creation,
     * kept in live_m, whatever is written meanwhile */
    axs_iter *live;
    bool live_forward;
    model live_m;
    size_t live_i; /* its position in live_m */

    /* an explicit snapshot and the model at the time it was taken */
    axs_snapshot *snap;
    model snap_m;

    uint8_t kbuf[MAX_GEN_KEY];
    uint8_t vbuf[MAX_GEN_VALUE + 8];
} run;

#define RUN_FAIL(r, ...)                                                                           \
    do {                                                                                           \
        print_error("ERROR: %s, operation %" PRIu64 ": ", (r)->name, (r)->op);                   \
        tu_fail_at(__FILE__, __LINE__, __VA_ARGS__);                                               \
    } while (0)
#define RUN_REQUIRE(r, cond, ...)                                                                  \
    do {                                                                                           \
        if (!(cond))                                                                               \
            RUN_FAIL(r, __VA_ARGS__);                                                              \
    } while (0)

static void defer_fail(run *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void defer_fail(run *r, const char *fmt, ...)
{
    if (r->deferred[0])
        return;
    int n = snprintf(r->deferred, sizeof r->deferred, "operation %" PRIu64 ": ", r->op);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->deferred + n, sizeof r->deferred - (size_t)n, fmt, ap);
    va_end(ap);
    print_error("deferred failure: %s\n", r->deferred);
}

static int rm_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    remove(p);
    return 0;
}

/*
 * fdatasync costs milliseconds on a real disk and this test is about logic, not durability
 * (the reliability tests cover that), so most opens use the POSIX I/O table with sync and
 * sync_dir turned into no-ops. The data still reaches the page cache, which is all a reopen
 * in the same process needs. A quarter of the opens use the real table.
 */
static int nosync_sync(void *ctx, axs_file *f)
{
    (void)ctx;
    (void)f;
    return 0;
}

static int nosync_sync_dir(void *ctx, const char *path)
{
    (void)ctx;
    (void)path;
    return 0;
}

static const axs_io *nosync_io(void)
{
    static axs_io io;
    if (!io.open) {
        io = *axs_io_posix();
        io.sync = nosync_sync;
        io.sync_dir = nosync_sync_dir;
    }
    return &io;
}

static void db_open_run(run *r, bool create)
{
    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = create;
    o.compression = r->compression;
    if (tu_rng_below(&r->rng, 5) == 0)
        o.compression = r->compression == AXS_COMPRESSION_LZ4 ? AXS_COMPRESSION_NONE
                                                              : AXS_COMPRESSION_LZ4;
    static const uint64_t sizes[] = {64 * 1024, 256 * 1024, 1024 * 1024, 0};
    uint64_t s = sizes[tu_rng_below(&r->rng, 4)];
    if (s)
        o.segment_size = s;
    o.io = tu_rng_below(&r->rng, 4) == 0 ? NULL : nosync_io();
    char *err = NULL;
    r->db = NULL;
    int rc = axs_open(r->path, &o, &r->db, &err);
    RUN_REQUIRE(r, rc == AXS_OK && r->db, "axs_open = %d (%s): %s", rc, axs_strerror(rc),
                err ? err : "");
}

/* Compares one iterator position with model entry i (i == m.n: past the end). */
static void check_iter_at_model(run *r, const model *m, const axs_iter *it, size_t i,
                                const char *what)
{
    if (i >= m->n) {
        RUN_REQUIRE(r, !axs_iter_valid(it), "%s: iterator valid, model is past the end", what);
        RUN_REQUIRE(r, axs_iter_status(it) == AXS_OK, "%s: status %d", what,
                    axs_iter_status(it));
        return;
    }
    const ment *e = &m->e[i];
    RUN_REQUIRE(r, axs_iter_valid(it), "%s: iterator invalid (status %d), model has entry %zu of %zu",
                what, axs_iter_status(it), i, m->n);
    size_t kl = 0, vl = 0;
    const void *k = axs_iter_key(it, &kl);
    const void *v = axs_iter_value(it, &vl);
    RUN_REQUIRE(r, kl == e->kl && (kl == 0 || memcmp(k, e->k, kl) == 0),
                "%s: iterator key (%zu bytes) is not model entry %zu (%zu bytes)", what, kl, i,
                e->kl);
    RUN_REQUIRE(r, vl == e->vl && (vl == 0 || memcmp(v, e->v, vl) == 0),
                "%s: value of entry %zu: %zu bytes, model %zu bytes%s", what, i, vl, e->vl,
                vl == e->vl ? " (bytes differ)" : "");
}

static void check_iter_at(run *r, const axs_iter *it, size_t i, const char *what)
{
    check_iter_at_model(r, &r->m, it, i, what);
}

/* The whole database equals the model: scans both ways, num_keys, last_sequence. */
static void check_all(run *r, const char *when)
{
    axs_iter *it = NULL;
    int rc = axs_iter_create(r->db, NULL, &it);
    RUN_REQUIRE(r, rc == AXS_OK, "axs_iter_create = %d", rc);
    axs_iter_seek_to_first(it);
    for (size_t i = 0; i <= r->m.n; i++) {
        check_iter_at(r, it, i, when);
        if (i < r->m.n)
            axs_iter_next(it);
    }
    axs_iter_seek_to_last(it);
    for (size_t i = r->m.n; i-- > 0;) {
        check_iter_at(r, it, i, when);
        axs_iter_prev(it);
    }
    RUN_REQUIRE(r, !axs_iter_valid(it) && axs_iter_status(it) == AXS_OK,
                "%s: backward scan did not end cleanly", when);
    axs_iter_destroy(it);
    axs_stats st;
    axs_get_stats(r->db, &st);
    RUN_REQUIRE(r, st.num_keys == r->m.n, "%s: num_keys %" PRIu64 ", model %zu", when,
                st.num_keys, r->m.n);
    if (st.last_sequence != r->seq)
        defer_fail(r, "%s: last_sequence %" PRIu64 ", expected %" PRIu64, when,
                   st.last_sequence, r->seq);
    if (st.live_bytes > st.log_bytes)
        defer_fail(r, "%s: live_bytes %" PRIu64 " > log_bytes %" PRIu64, when, st.live_bytes,
                   st.log_bytes);
}

static void live_destroy(run *r)
{
    axs_iter_destroy(r->live);
    r->live = NULL;
    model_free(&r->live_m);
}

/* Creates the long-lived iterator at a random end, checked exactly against the model. */
static void live_start(run *r)
{
    int rc = axs_iter_create(r->db, NULL, &r->live);
    RUN_REQUIRE(r, rc == AXS_OK, "axs_iter_create = %d", rc);
    model_copy(&r->live_m, &r->m);
    r->live_forward = tu_rng_below(&r->rng, 2) == 0;
    if (r->live_forward) {
        axs_iter_seek_to_first(r->live);
        r->live_i = 0;
    } else {
        axs_iter_seek_to_last(r->live);
        r->live_i = r->live_m.n ? r->live_m.n - 1 : r->live_m.n;
    }
    check_iter_at_model(r, &r->live_m, r->live, r->live_i, "live iterator start");
    if (!axs_iter_valid(r->live))
        live_destroy(r);
}

/* One step of the long-lived iterator, while the database changed (and was perhaps
 * compacted) since the last one. It must land exactly on the next entry of the database as it
 * was when the iterator was created. */
static void live_step(run *r)
{
    if (!r->live) {
        live_start(r);
        return;
    }
    if (r->live_forward) {
        axs_iter_next(r->live);
        r->live_i++;
    } else {
        axs_iter_prev(r->live);
        r->live_i = r->live_i ? r->live_i - 1 : r->live_m.n; /* before the first: past the end */
    }
    check_iter_at_model(r, &r->live_m, r->live, r->live_i, "live iterator step");
    if (!axs_iter_valid(r->live))
        live_destroy(r);
}

static void snap_release(run *r)
{
    if (r->snap)
        axs_snapshot_release(r->db, r->snap);
    r->snap = NULL;
    model_free(&r->snap_m);
}

/* Takes, checks or releases the explicit snapshot. Checks: point reads of present and
 * absent keys, and a whole scan in one direction, at the snapshot. */
static void op_snapshot(run *r)
{
    if (!r->snap) {
        int rc = axs_snapshot_create(r->db, &r->snap);
        RUN_REQUIRE(r, rc == AXS_OK, "axs_snapshot_create = %d", rc);
        model_copy(&r->snap_m, &r->m);
        return;
    }
    axs_read_options ro;
    axs_read_options_init(&ro);
    ro.snapshot = r->snap;
    for (int i = 0; i < 8; i++) {
        size_t kl;
        const ment *e = NULL;
        if (r->snap_m.n && tu_rng_below(&r->rng, 2)) {
            e = &r->snap_m.e[tu_rng_below(&r->rng, r->snap_m.n)];
            kl = e->kl;
            memcpy(r->kbuf, e->k, kl);
        } else {
            kl = gen_key(&r->g, &r->rng, r->kbuf);
            bool hit;
            size_t j = model_lower(&r->snap_m, r->kbuf, kl, &hit);
            e = hit ? &r->snap_m.e[j] : NULL;
        }
        char *v = NULL;
        size_t vl = 0;
        bool found = false;
        int rc = axs_get_alloc(r->db, &ro, r->kbuf, kl, &v, &vl, &found);
        RUN_REQUIRE(r, rc == AXS_OK, "get at snapshot = %d", rc);
        RUN_REQUIRE(r, found == (e != NULL), "get at snapshot: found %d, snapshot model %d",
                    found, e != NULL);
        if (e)
            RUN_REQUIRE(r, vl == e->vl && (vl == 0 || memcmp(v, e->v, vl) == 0),
                        "get at snapshot: value %zu bytes, snapshot model %zu bytes", vl, e->vl);
        free(v);
    }
    if (tu_rng_below(&r->rng, 4) == 0) {
        axs_iter *it = NULL;
        int rc = axs_iter_create(r->db, &ro, &it);
        RUN_REQUIRE(r, rc == AXS_OK, "axs_iter_create at snapshot = %d", rc);
        if (tu_rng_below(&r->rng, 2)) {
            axs_iter_seek_to_first(it);
            for (size_t i = 0; i <= r->snap_m.n; i++) {
                check_iter_at_model(r, &r->snap_m, it, i, "scan at snapshot");
                axs_iter_next(it);
            }
        } else {
            axs_iter_seek_to_last(it);
            for (size_t i = r->snap_m.n; i-- > 0;) {
                check_iter_at_model(r, &r->snap_m, it, i, "reverse scan at snapshot");
                axs_iter_prev(it);
            }
            RUN_REQUIRE(r, !axs_iter_valid(it), "reverse scan at snapshot: valid past the start");
        }
        axs_iter_destroy(it);
    }
    if (tu_rng_below(&r->rng, 6) == 0)
        snap_release(r);
}

static void close_reopen(run *r, bool drop_checkpoint)
{
    live_destroy(r);
    snap_release(r);
    int rc = axs_close(r->db);
    r->db = NULL;
    RUN_REQUIRE(r, rc == AXS_OK, "axs_close = %d (%s)", rc, axs_strerror(rc));
    if (drop_checkpoint) {
        char p[1024];
        snprintf(p, sizeof p, "%s/CHECKPOINT", r->path);
        RUN_REQUIRE(r, remove(p) == 0, "remove(%s): %s", p, strerror(errno));
    }
    db_open_run(r, false);
    check_all(r, drop_checkpoint ? "after reopen without checkpoint" : "after reopen");
}

/* A key for an operation: an existing one half of the time, else a fresh random one. */
static size_t pick_key(run *r, uint8_t *buf)
{
    if (r->m.n && tu_rng_below(&r->rng, 2) == 0) {
        const ment *e = &r->m.e[tu_rng_below(&r->rng, r->m.n)];
        memcpy(buf, e->k, e->kl);
        return e->kl;
    }
    return gen_key(&r->g, &r->rng, buf);
}

static void op_put(run *r)
{
    size_t kl = pick_key(r, r->kbuf);
    size_t vl = gen_value(&r->rng, r->vbuf);
    axs_write_options w;
    axs_write_options_init(&w);
    w.sync = tu_rng_below(&r->rng, 300) == 0; /* fdatasync is slow: rarely */
    int rc = axs_put(r->db, &w, r->kbuf, kl, r->vbuf, vl);
    RUN_REQUIRE(r, rc == AXS_OK, "axs_put = %d (%s): %s", rc, axs_strerror(rc),
                axs_last_error(r->db));
    model_put(&r->m, r->kbuf, kl, r->vbuf, vl);
    r->seq++;
}

static void op_delete(run *r)
{
    size_t kl = pick_key(r, r->kbuf);
    int rc = axs_delete(r->db, NULL, r->kbuf, kl);
    RUN_REQUIRE(r, rc == AXS_OK, "axs_delete = %d (%s): %s", rc, axs_strerror(rc),
                axs_last_error(r->db));
    model_del(&r->m, r->kbuf, kl);
    r->seq++;
}

static void op_batch(run *r)
{
    axs_batch *b = axs_batch_create();
    RUN_REQUIRE(r, b != NULL, "axs_batch_create");
    unsigned n = 1 + (unsigned)tu_rng_below(&r->rng, 16);
    /* the batch's operations, kept to apply to the model after the write */
    uint8_t *keys[16], *vals[16];
    size_t kls[16], vls[16];
    bool dels[16];
    for (unsigned i = 0; i < n; i++) {
        if (i > 0 && tu_rng_below(&r->rng, 5) == 0) { /* the same key again */
            unsigned j = (unsigned)tu_rng_below(&r->rng, i);
            kls[i] = kls[j];
            memcpy(r->kbuf, keys[j], kls[j]);
        } else {
            kls[i] = pick_key(r, r->kbuf);
        }
        keys[i] = dup_bytes(r->kbuf, kls[i]);
        dels[i] = tu_rng_below(&r->rng, 3) == 0;
        vls[i] = dels[i] ? 0 : gen_value(&r->rng, r->vbuf);
        vals[i] = dup_bytes(r->vbuf, vls[i]);
        int rc = dels[i] ? axs_batch_delete(b, keys[i], kls[i])
                         : axs_batch_put(b, keys[i], kls[i], vals[i], vls[i]);
        RUN_REQUIRE(r, rc == AXS_OK, "batch add = %d", rc);
    }
    RUN_REQUIRE(r, axs_batch_count(b) == n, "axs_batch_count %u, expected %u",
                axs_batch_count(b), n);
    int rc = axs_write(r->db, NULL, b);
    RUN_REQUIRE(r, rc == AXS_OK, "axs_write = %d (%s): %s", rc, axs_strerror(rc),
                axs_last_error(r->db));
    axs_batch_destroy(b);
    for (unsigned i = 0; i < n; i++) {
        if (dels[i])
            model_del(&r->m, keys[i], kls[i]);
        else
            model_put(&r->m, keys[i], kls[i], vals[i], vls[i]);
        free(keys[i]);
        free(vals[i]);
    }
    r->seq += n;
}

static void op_get(run *r)
{
    size_t kl = pick_key(r, r->kbuf);
    bool hit;
    size_t i = model_lower(&r->m, r->kbuf, kl, &hit);
    const ment *e = hit ? &r->m.e[i] : NULL;
    axs_read_options ro;
    axs_read_options_init(&ro);
    ro.verify_checksums = tu_rng_below(&r->rng, 4) != 0;
    bool found = !hit;
    int rc;
    switch (tu_rng_below(&r->rng, 4)) {
    case 0: { /* full buffer */
        size_t vl = 0;
        rc = axs_get(r->db, &ro, r->kbuf, kl, r->vbuf, sizeof r->vbuf, &vl, &found);
        RUN_REQUIRE(r, rc == AXS_OK && found == hit, "axs_get = %d found %d, model %d", rc,
                    (int)found, (int)hit);
        if (hit)
            RUN_REQUIRE(r, vl == e->vl && (vl == 0 || memcmp(r->vbuf, e->v, vl) == 0),
                        "axs_get: %zu bytes, model %zu", vl, e->vl);
        break;
    }
    case 1: { /* partial or length-only */
        size_t cap = hit && e->vl ? (size_t)tu_rng_below(&r->rng, e->vl) : 0;
        size_t vl = 0;
        rc = axs_get(r->db, &ro, r->kbuf, kl, cap ? r->vbuf : NULL, cap, &vl, &found);
        RUN_REQUIRE(r, rc == AXS_OK && found == hit, "axs_get(partial) = %d found %d, model %d",
                    rc, (int)found, (int)hit);
        if (hit)
            RUN_REQUIRE(r, vl == e->vl && (cap == 0 || memcmp(r->vbuf, e->v, cap) == 0),
                        "axs_get(partial %zu): length %zu, model %zu", cap, vl, e->vl);
        break;
    }
    case 2: {
        char *v = NULL;
        size_t vl = 0;
        rc = axs_get_alloc(r->db, &ro, r->kbuf, kl, &v, &vl, &found);
        bool ok = rc == AXS_OK && found == hit &&
                  (hit ? v != NULL && vl == e->vl && (vl == 0 || memcmp(v, e->v, vl) == 0)
                       : v == NULL);
        free(v);
        RUN_REQUIRE(r, ok, "axs_get_alloc = %d found %d (model %d) or value differs", rc,
                    (int)found, (int)hit);
        break;
    }
    default: {
        axs_pinned *pin = NULL;
        rc = axs_get_pinned(r->db, &ro, r->kbuf, kl, &pin, &found);
        size_t vl = 0;
        const void *v = pin ? axs_pinned_data(pin, &vl) : NULL;
        bool ok = rc == AXS_OK && found == hit &&
                  (hit ? pin != NULL && vl == e->vl && (vl == 0 || memcmp(v, e->v, vl) == 0)
                       : pin == NULL);
        axs_pinned_release(pin);
        RUN_REQUIRE(r, ok, "axs_get_pinned = %d found %d (model %d) or value differs", rc,
                    (int)found, (int)hit);
        break;
    }
    }
}

/* A walk of up to 40 steps from a random seek, in random directions, against the model. */
static void op_walk(run *r)
{
    axs_iter *it = NULL;
    int rc = axs_iter_create(r->db, NULL, &it);
    RUN_REQUIRE(r, rc == AXS_OK, "axs_iter_create = %d", rc);
    size_t kl = pick_key(r, r->kbuf);
    /* sometimes a neighbour of an existing key: one byte more, or the last byte changed */
    if (kl && kl < MAX_GEN_KEY && tu_rng_below(&r->rng, 4) == 0) {
        if (tu_rng_below(&r->rng, 2))
            r->kbuf[kl++] = (uint8_t)tu_rng_below(&r->rng, 3) == 0 ? 0 : (uint8_t)tu_rng_next(&r->rng);
        else
            r->kbuf[kl - 1] += (uint8_t)(tu_rng_below(&r->rng, 2) ? 1 : 0xff);
    }
    bool hit;
    size_t lb = model_lower(&r->m, r->kbuf, kl, &hit);
    size_t pos; /* model index, r->m.n = invalid */
    const char *what;
    switch (tu_rng_below(&r->rng, 4)) {
    case 0:
        axs_iter_seek(it, r->kbuf, kl);
        pos = lb;
        what = "seek";
        break;
    case 1:
        axs_iter_seek_for_prev(it, r->kbuf, kl);
        pos = hit ? lb : lb == 0 ? r->m.n : lb - 1;
        what = "seek_for_prev";
        break;
    case 2:
        axs_iter_seek_to_first(it);
        pos = 0;
        what = "seek_to_first";
        break;
    default:
        axs_iter_seek_to_last(it);
        pos = r->m.n ? r->m.n - 1 : 0;
        what = "seek_to_last";
        break;
    }
    check_iter_at(r, it, pos, what);
    unsigned steps = (unsigned)tu_rng_below(&r->rng, 41);
    bool forward = tu_rng_below(&r->rng, 2);
    for (unsigned s = 0; s < steps && pos < r->m.n; s++) {
        if (tu_rng_below(&r->rng, 8) == 0)
            forward = !forward;
        if (forward) {
            axs_iter_next(it);
            pos++;
        } else {
            axs_iter_prev(it);
            pos = pos == 0 ? r->m.n : pos - 1;
        }
        check_iter_at(r, it, pos, forward ? "walk next" : "walk prev");
    }
    axs_iter_destroy(it);
}

static int run_setup(void **state)
{
    run *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(r->base, sizeof r->base, "%s/axs_db_model_XXXXXX", tmp);
    if (!mkdtemp(r->base)) {
        free(r);
        return -1;
    }
    snprintf(r->path, sizeof r->path, "%s/db", r->base);
    *state = r;
    return 0;
}

/* Runs after every case, passed or failed: releases the handle and removes the directory. */
static int run_teardown(void **state)
{
    run *r = *state;
    if (!r)
        return 0;
    live_destroy(r);
    snap_release(r);
    if (r->db)
        axs_close(r->db);
    nftw(r->base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    model_free(&r->m);
    free(r);
    return 0;
}

static void run_model(run *r, const char *name, int kind, int compression)
{
    r->name = name;
    uint64_t seed = tu_seed(name);
    tu_rng_init(&r->rng, seed);
    r->compression = compression;
    r->g.kind = kind;
    r->g.space = tu_scaled(4000, 50);
    for (size_t i = 0; i < MAX_GEN_KEY; i++)
        r->g.prefix[i] = (uint8_t)tu_rng_next(&r->rng);

    db_open_run(r, true);
    const uint64_t ops = tu_scaled(32000, 500);
    uint64_t next_reopen = 400 + tu_rng_below(&r->rng, 1600);
    unsigned reopens = 0, compactions = 0, flushes = 0;
    for (r->op = 1; r->op <= ops; r->op++) {
        uint64_t c = tu_rng_below(&r->rng, 1000);
        if (c < 330)
            op_put(r);
        else if (c < 460)
            op_delete(r);
        else if (c < 520)
            op_batch(r);
        else if (c < 760)
            op_get(r);
        else if (c < 790)
            op_walk(r);
        else if (c < 810)
            op_snapshot(r);
        else if (c < 999 || tu_rng_below(&r->rng, 3) == 0)
            live_step(r);
        else if (tu_rng_below(&r->rng, 2) == 0) {
            int rc = axs_flush(r->db);
            RUN_REQUIRE(r, rc == AXS_OK, "axs_flush = %d: %s", rc, axs_last_error(r->db));
            flushes++;
        } else {
            int rc = axs_compact(r->db);
            RUN_REQUIRE(r, rc == AXS_OK, "axs_compact = %d (%s): %s", rc, axs_strerror(rc),
                        axs_last_error(r->db));
            compactions++;
            if (tu_rng_below(&r->rng, 2))
                check_all(r, "after axs_compact");
        }
        if (r->op == next_reopen) {
            close_reopen(r, tu_rng_below(&r->rng, 3) == 0);
            reopens++;
            next_reopen = r->op + 400 + tu_rng_below(&r->rng, 1600);
        }
    }
    check_all(r, "at the end");
    close_reopen(r, false);
    close_reopen(r, true);
    live_destroy(r);
    int rc = axs_close(r->db);
    r->db = NULL;
    TU_REQUIRE(rc == AXS_OK, "final axs_close = %d", rc);
    fprintf(stderr,
            "[ INFO     ] %s: %" PRIu64 " operations, %zu keys at the end, %u reopens, %u "
            "flushes, %u compactions\n",
            name, ops, r->m.n, reopens, flushes, compactions);
    TU_REQUIRE(r->deferred[0] == '\0', "%s: %s", name, r->deferred);
}

static void test_model_dbbench(void **state)
{
    run_model(*state, __func__, KG_DBBENCH, AXS_COMPRESSION_NONE);
}

static void test_model_dbbench_lz4(void **state)
{
    run_model(*state, __func__, KG_DBBENCH, AXS_COMPRESSION_LZ4);
}

static void test_model_user(void **state)
{
    run_model(*state, __func__, KG_USER, AXS_COMPRESSION_NONE);
}

static void test_model_user_lz4(void **state)
{
    run_model(*state, __func__, KG_USER, AXS_COMPRESSION_LZ4);
}

static void test_model_tiny(void **state)
{
    run_model(*state, __func__, KG_TINY, AXS_COMPRESSION_NONE);
}

static void test_model_tiny_lz4(void **state)
{
    run_model(*state, __func__, KG_TINY, AXS_COMPRESSION_LZ4);
}

static void test_model_long(void **state)
{
    run_model(*state, __func__, KG_LONG, AXS_COMPRESSION_NONE);
}

static void test_model_long_lz4(void **state)
{
    run_model(*state, __func__, KG_LONG, AXS_COMPRESSION_LZ4);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model_dbbench, run_setup, run_teardown),
        cmocka_unit_test_setup_teardown(test_model_dbbench_lz4, run_setup, run_teardown),
        cmocka_unit_test_setup_teardown(test_model_user, run_setup, run_teardown),
        cmocka_unit_test_setup_teardown(test_model_user_lz4, run_setup, run_teardown),
        cmocka_unit_test_setup_teardown(test_model_tiny, run_setup, run_teardown),
        cmocka_unit_test_setup_teardown(test_model_tiny_lz4, run_setup, run_teardown),
        cmocka_unit_test_setup_teardown(test_model_long, run_setup, run_teardown),
        cmocka_unit_test_setup_teardown(test_model_long_lz4, run_setup, run_teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
