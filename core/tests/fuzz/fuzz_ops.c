/*
 * fuzz_ops.c: libFuzzer target that decodes its input into a sequence of API calls on a small
 * database (segment_size 64 KiB, no background compaction) and checks every read against an
 * in-memory model (a sorted array of key/value pairs). abort() on any mismatch.
 *
 * Input: a stream of bytes read on demand (0 once exhausted). Each operation is one byte
 * (op % 12) followed by its arguments:
 *   0-2  put key value          3  delete key              4  delete_range begin end
 *   5    write batch of 1-8 puts/deletes/delete_ranges    6  get key (copying, then pinned)
 *   7    iterator: full forward/backward scan plus a seek and a seek_for_prev, vs. the model
 *   8    take a snapshot (or release it when one is held; at most one)
 *   9    close and reopen (bit 0 of the argument: remove CHECKPOINT first; bit 1: LZ4)
 *   10   axs_compact or axs_compact_range   11  axs_flush
 * A key is a length (0-4) and that many bytes from {0,1,2,3}, so keys collide often; a value
 * is a length byte (bit 7: times 128, for values up to 16 KiB that roll segments over) and
 * deterministic contents. While a snapshot is held, reads through it are checked against a
 * copy of the model taken with it.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alexstorage/db.h"
#include "fuzz_dir.h"


static void fail(const char *what)
{
    fprintf(stderr, "fuzz_ops: %s\n", what);
    abort();
}

static void check_rc(int rc, const char *what)
{
    if (rc != AXS_OK) {
        fprintf(stderr, "fuzz_ops: %s: %s\n", what, axs_strerror(rc));
        abort();
    }
}

/* ---- input ---- */

typedef struct input {
    const uint8_t *p;
    size_t n, off;
} input;

static uint8_t next(input *in)
{
    return in->off < in->n ? in->p[in->off++] : 0;
}

typedef struct fkey {
    uint8_t b[4];
    size_t n;
} fkey;

static fkey read_key(input *in)
{
    fkey k;
    k.n = next(in) % 5;
    for (size_t i = 0; i < k.n; i++)
        k.b[i] = next(in) & 3;
    return k;
}

static uint64_t g_value_seq;

/* A fresh value: its length from the input, its bytes from a counter. malloc'd. */
static char *make_value(input *in, size_t *len)
{
    uint8_t l = next(in);
    size_t n = l & 0x80 ? (size_t)(l & 0x7f) * 128 : l;
    char *v = malloc(n ? n : 1);
    if (!v)
        fail("malloc");
    uint64_t s = ++g_value_seq;
    for (size_t i = 0; i < n; i++)
        v[i] = (char)(uint8_t)(s * 131 + i * 7 + (s >> 8));
    *len = n;
    return v;
}

/* ---- the model ---- */

typedef struct kv {
    uint8_t k[4];
    size_t klen;
    char *v;
    size_t vlen;
} kv;

typedef struct model {
    kv *e;
    size_t n, cap;
} model;

static int key_cmp(const void *a, size_t al, const void *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

/* Index of the first entry >= key. */
static size_t lower_bound(const model *m, const void *k, size_t kl)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (key_cmp(m->e[mid].k, m->e[mid].klen, k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const kv *model_find(const model *m, const void *k, size_t kl)
{
    size_t i = lower_bound(m, k, kl);
    return i < m->n && key_cmp(m->e[i].k, m->e[i].klen, k, kl) == 0 ? &m->e[i] : NULL;
}

static void model_put(model *m, const fkey *k, const char *v, size_t vl)
{
    char *copy = malloc(vl ? vl : 1);
    if (!copy)
        fail("malloc");
    if (vl)
        memcpy(copy, v, vl);
    size_t i = lower_bound(m, k->b, k->n);
    if (i < m->n && key_cmp(m->e[i].k, m->e[i].klen, k->b, k->n) == 0) {
        free(m->e[i].v);
        m->e[i].v = copy;
        m->e[i].vlen = vl;
        return;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->e = realloc(m->e, m->cap * sizeof *m->e);
        if (!m->e)
            fail("realloc");
    }
    memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof *m->e);
    kv *e = &m->e[i];
    memcpy(e->k, k->b, k->n);
    e->klen = k->n;
    e->v = copy;
    e->vlen = vl;
    m->n++;
}

static void model_delete_range(model *m, const void *b, size_t bl, const void *e, size_t el)
{
    if (key_cmp(e, el, b, bl) <= 0)
        return;
    size_t i = lower_bound(m, b, bl), j = lower_bound(m, e, el);
    if (i == j)
        return; /* nothing in the range (m->e may be NULL) */
    for (size_t x = i; x < j; x++)
        free(m->e[x].v);
    memmove(&m->e[i], &m->e[j], (m->n - j) * sizeof *m->e);
    m->n -= j - i;
}

static void model_delete(model *m, const fkey *k)
{
    size_t i = lower_bound(m, k->b, k->n);
    if (i < m->n && key_cmp(m->e[i].k, m->e[i].klen, k->b, k->n) == 0) {
        free(m->e[i].v);
        memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof *m->e);
        m->n--;
    }
}

static void model_copy(model *dst, const model *src)
{
    dst->n = dst->cap = src->n;
    dst->e = malloc((src->n ? src->n : 1) * sizeof *dst->e);
    if (!dst->e)
        fail("malloc");
    for (size_t i = 0; i < src->n; i++) {
        dst->e[i] = src->e[i];
        dst->e[i].v = malloc(src->e[i].vlen ? src->e[i].vlen : 1);
        if (!dst->e[i].v)
            fail("malloc");
        if (src->e[i].vlen)
            memcpy(dst->e[i].v, src->e[i].v, src->e[i].vlen);
    }
}

static void model_free(model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].v);
    free(m->e);
    memset(m, 0, sizeof *m);
}

/* ---- checks ---- */

static bool same(const void *a, size_t al, const void *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static void check_get(axs_db *db, const axs_snapshot *snap, const model *m, const fkey *k)
{
    axs_read_options ro;
    axs_read_options_init(&ro);
    ro.snapshot = snap;
    const kv *want = model_find(m, k->b, k->n);

    char buf[64];
    size_t vlen = 0;
    bool found = false;
    check_rc(axs_get(db, &ro, k->b, k->n, buf, sizeof buf, &vlen, &found), "axs_get");
    if (found != (want != NULL))
        fail(want ? "axs_get misses a key the model has" : "axs_get finds a deleted key");
    if (want) {
        if (vlen != want->vlen)
            fail("axs_get: wrong value length");
        size_t c = vlen < sizeof buf ? vlen : sizeof buf;
        if (c && memcmp(buf, want->v, c) != 0)
            fail("axs_get: wrong value bytes");
    }

    axs_pinned *pin = NULL;
    check_rc(axs_get_pinned(db, &ro, k->b, k->n, &pin, &found), "axs_get_pinned");
    if (found != (want != NULL))
        fail("axs_get_pinned disagrees with the model");
    if (want) {
        size_t pl;
        const void *pd = axs_pinned_data(pin, &pl);
        if (!same(pd, pl, want->v, want->vlen))
            fail("axs_get_pinned: wrong value");
    } else if (pin) {
        fail("axs_get_pinned: a pin on a miss");
    }
    axs_pinned_release(pin);
}

static void check_entry(const axs_iter *it, const kv *e)
{
    size_t kl, vl;
    const void *k = axs_iter_key(it, &kl);
    const void *v = axs_iter_value(it, &vl);
    if (!same(k, kl, e->k, e->klen))
        fail("iterator: wrong key");
    if (!same(v, vl, e->v, e->vlen))
        fail("iterator: wrong value");
}

static void check_iter(axs_db *db, const axs_snapshot *snap, const model *m, input *in)
{
    axs_read_options ro;
    axs_read_options_init(&ro);
    ro.snapshot = snap;
    axs_iter *it = NULL;
    check_rc(axs_iter_create(db, &ro, &it), "axs_iter_create");

    size_t i = 0;
    for (axs_iter_seek_to_first(it); axs_iter_valid(it); axs_iter_next(it), i++) {
        if (i >= m->n)
            fail("iterator: more keys than the model");
        check_entry(it, &m->e[i]);
    }
    check_rc(axs_iter_status(it), "iterator status (forward)");
    if (i != m->n)
        fail("iterator: fewer keys than the model (forward)");

    i = m->n;
    for (axs_iter_seek_to_last(it); axs_iter_valid(it); axs_iter_prev(it)) {
        if (i == 0)
            fail("iterator: more keys than the model (backward)");
        check_entry(it, &m->e[--i]);
    }
    check_rc(axs_iter_status(it), "iterator status (backward)");
    if (i != 0)
        fail("iterator: fewer keys than the model (backward)");

    fkey k = read_key(in);
    size_t lb = lower_bound(m, k.b, k.n);
    axs_iter_seek(it, k.b, k.n);
    if (lb == m->n) {
        if (axs_iter_valid(it))
            fail("seek: valid past the last key");
    } else {
        if (!axs_iter_valid(it))
            fail("seek: invalid before the last key");
        check_entry(it, &m->e[lb]);
        /* one step each way from there */
        axs_iter_next(it);
        if (lb + 1 < m->n) {
            if (!axs_iter_valid(it))
                fail("next after seek: invalid");
            check_entry(it, &m->e[lb + 1]);
            axs_iter_prev(it);
            if (!axs_iter_valid(it))
                fail("prev after next: invalid");
            check_entry(it, &m->e[lb]);
        } else if (axs_iter_valid(it)) {
            fail("next after seek: valid past the end");
        }
    }

    /* seek_for_prev: the last key <= k */
    size_t up = lb < m->n && key_cmp(m->e[lb].k, m->e[lb].klen, k.b, k.n) == 0 ? lb + 1 : lb;
    axs_iter_seek_for_prev(it, k.b, k.n);
    if (up == 0) {
        if (axs_iter_valid(it))
            fail("seek_for_prev: valid before the first key");
    } else {
        if (!axs_iter_valid(it))
            fail("seek_for_prev: invalid");
        check_entry(it, &m->e[up - 1]);
    }
    check_rc(axs_iter_status(it), "iterator status (seek)");
    axs_iter_destroy(it);
}

/* ---- the database ---- */

static axs_db *open_db(bool lz4)
{
    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = true;
    o.segment_size = 64 * 1024;
    o.compaction_garbage_ratio = 0;
    o.compression = lz4 ? AXS_COMPRESSION_LZ4 : AXS_COMPRESSION_NONE;
    axs_db *db = NULL;
    char *err = NULL;
    int rc = axs_open(fuzz_dir, &o, &db, &err);
    if (rc != AXS_OK) {
        fprintf(stderr, "fuzz_ops: axs_open: %s: %s\n", axs_strerror(rc), err ? err : "");
        abort();
    }
    free(err);
    return db;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_dir_create("fuzz_ops");
    return 0;
}

#define MAX_OPS 400

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    fuzz_dir_clean();
    input in = {data, size, 0};
    model m = {0}, snapm = {0};
    axs_snapshot *snap = NULL;
    bool lz4 = false;
    axs_db *db = open_db(lz4);

    for (int step = 0; step < MAX_OPS && in.off < in.n; step++) {
        uint8_t op = next(&in) % 12;
        switch (op) {
        case 0:
        case 1:
        case 2: {
            fkey k = read_key(&in);
            size_t vl;
            char *v = make_value(&in, &vl);
            check_rc(axs_put(db, NULL, k.b, k.n, v, vl), "axs_put");
            model_put(&m, &k, v, vl);
            free(v);
            break;
        }
        case 3: {
            fkey k = read_key(&in);
            check_rc(axs_delete(db, NULL, k.b, k.n), "axs_delete");
            model_delete(&m, &k);
            break;
        }
        case 4: {
            fkey b = read_key(&in), e = read_key(&in);
            check_rc(axs_delete_range(db, NULL, b.b, b.n, e.b, e.n), "axs_delete_range");
            model_delete_range(&m, b.b, b.n, e.b, e.n);
            break;
        }
        case 5: {
            axs_batch *b = axs_batch_create();
            if (!b)
                fail("axs_batch_create");
            model staged;
            model_copy(&staged, &m);
            unsigned n = 1 + next(&in) % 8;
            for (unsigned i = 0; i < n; i++) {
                uint8_t t = next(&in) % 4;
                fkey k = read_key(&in);
                if (t <= 1) {
                    size_t vl;
                    char *v = make_value(&in, &vl);
                    check_rc(axs_batch_put(b, k.b, k.n, v, vl), "axs_batch_put");
                    model_put(&staged, &k, v, vl);
                    free(v);
                } else if (t == 2) {
                    check_rc(axs_batch_delete(b, k.b, k.n), "axs_batch_delete");
                    model_delete(&staged, &k);
                } else {
                    fkey e = read_key(&in);
                    check_rc(axs_batch_delete_range(b, k.b, k.n, e.b, e.n),
                             "axs_batch_delete_range");
                    model_delete_range(&staged, k.b, k.n, e.b, e.n);
                }
            }
            if (axs_batch_count(b) != n)
                fail("axs_batch_count");
            check_rc(axs_write(db, NULL, b), "axs_write");
            axs_batch_destroy(b);
            model_free(&m);
            m = staged;
            break;
        }
        case 6: {
            fkey k = read_key(&in);
            check_get(db, NULL, &m, &k);
            if (snap)
                check_get(db, snap, &snapm, &k);
            break;
        }
        case 7: {
            check_iter(db, NULL, &m, &in);
            if (snap)
                check_iter(db, snap, &snapm, &in);
            axs_stats st;
            axs_get_stats(db, &st);
            if (st.num_keys != m.n)
                fail("stats num_keys differs from the model");
            break;
        }
        case 8:
            if (snap) {
                axs_snapshot_release(db, snap);
                snap = NULL;
                model_free(&snapm);
            } else {
                check_rc(axs_snapshot_create(db, &snap), "axs_snapshot_create");
                model_copy(&snapm, &m);
            }
            break;
        case 9: {
            uint8_t a = next(&in);
            if (snap) {
                axs_snapshot_release(db, snap);
                snap = NULL;
                model_free(&snapm);
            }
            check_rc(axs_close(db), "axs_close");
            if (a & 1) {
                char path[512];
                snprintf(path, sizeof path, "%s/CHECKPOINT", fuzz_dir);
                unlink(path);
            }
            lz4 = (a & 2) != 0;
            db = open_db(lz4);
            check_iter(db, NULL, &m, &in);
            break;
        }
        case 10: {
            uint8_t a = next(&in);
            if (a & 1) {
                check_rc(axs_compact(db), "axs_compact");
            } else {
                fkey b = read_key(&in), e = read_key(&in);
                check_rc(axs_compact_range(db, (a & 2) ? NULL : b.b, (a & 2) ? 0 : b.n,
                                           (a & 4) ? NULL : e.b, (a & 4) ? 0 : e.n),
                         "axs_compact_range");
            }
            break;
        }
        case 11:
            check_rc(axs_flush(db), "axs_flush");
            break;
        }
    }

    /* Final check through the live handle and, after a clean close, a reopen. */
    check_iter(db, NULL, &m, &in);
    if (snap) {
        check_iter(db, snap, &snapm, &in);
        axs_snapshot_release(db, snap);
        model_free(&snapm);
    }
    check_rc(axs_close(db), "axs_close");
    db = open_db(lz4);
    check_iter(db, NULL, &m, &in);
    check_rc(axs_close(db), "axs_close");
    model_free(&m);
    return 0;
}
