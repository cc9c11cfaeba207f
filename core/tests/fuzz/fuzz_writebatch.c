/*
 * fuzz_writebatch.c: libFuzzer target for the plugin's rocksdb_writebatch_t decoder
 * (plugin/src/writebatch.c, RocksDB's WriteBatch byte format, docs/writebatch.md).
 *
 * The input is the rep handed to rocksdb_writebatch_create_from(). Checks:
 *  - count(), data() round trip: data() returns exactly the input bytes, count() the header;
 *  - iterate() never reads outside the rep (ASan) and delivers what axp_batch_decode() says;
 *  - a rep that axp_batch_foreach() accepts is rebuilt record by record with the public
 *    appenders (put, delete, singledelete, merge, delete_range, put_log_data) when every
 *    record is of the default column family and of those kinds; the rebuilt batch must decode
 *    to the same records and count, and create_from(data()) of it must decode the same again;
 *  - save points and clear on a fuzzed batch behave (rollback restores the bytes).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "writebatch.h"

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_writebatch: %s\n", what);
    abort();
}

/* ---- collecting records ---- */

typedef struct rec {
    int type; /* axp_op_type, or 100 + put/delete as seen by iterate() */
    uint32_t cf;
    const char *key, *value;
    size_t klen, vlen;
} rec;

typedef struct recs {
    rec *v;
    size_t n, cap;
    bool rebuildable;
} recs;

static void push(recs *r, int type, uint32_t cf, const char *k, size_t kl, const char *v,
                 size_t vl)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        if (!r->v)
            fail("realloc");
    }
    r->v[r->n++] = (rec){type, cf, k, v, kl, vl};
}

static int collect_op(void *arg, const axp_batch_op *op)
{
    recs *r = arg;
    push(r, (int)op->type, op->cf, op->key, op->klen, op->value, op->vlen);
    if (op->cf != 0)
        r->rebuildable = false;
    switch (op->type) {
    case AXP_OP_PUT:
    case AXP_OP_DELETE:
    case AXP_OP_SINGLE_DELETE:
    case AXP_OP_MERGE:
    case AXP_OP_DELETE_RANGE:
    case AXP_OP_LOG_DATA:
        break;
    default:
        r->rebuildable = false;
    }
    return 0;
}

static void it_put(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
    push(arg, 100 + AXP_OP_PUT, 0, k, kl, v, vl);
}

static void it_del(void *arg, const char *k, size_t kl)
{
    push(arg, 100 + AXP_OP_DELETE, 0, k, kl, NULL, 0);
}

static bool same_bytes(const char *a, size_t al, const char *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static bool same_recs(const recs *a, const recs *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const rec *x = &a->v[i], *y = &b->v[i];
        if (x->type != y->type || x->cf != y->cf || !same_bytes(x->key, x->klen, y->key, y->klen) ||
            !same_bytes(x->value, x->vlen, y->value, y->vlen))
            return false;
    }
    return true;
}

static int decode(const rocksdb_writebatch_t *b, recs *out)
{
    char *err = NULL;
    memset(out, 0, sizeof *out);
    out->rebuildable = true;
    int rc = axp_batch_foreach(b, collect_op, out, &err);
    if (rc != 0 && !err)
        fail("axp_batch_foreach failed without a message");
    if (rc == 0 && err)
        fail("axp_batch_foreach succeeded but set a message");
    free(err);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create_from(in, size);
    if (!b)
        fail("create_from returned NULL");

    size_t dlen = 0;
    const char *d = rocksdb_writebatch_data(b, &dlen);
    if (!same_bytes(d, dlen, in, size))
        fail("data() differs from the bytes given to create_from()");
    int count = rocksdb_writebatch_count(b);
    uint32_t hdr = 0;
    for (size_t i = 0; i < 4 && 8 + i < size; i++)
        hdr |= (uint32_t)data[8 + i] << (8 * i);
    if ((uint32_t)count != hdr)
        fail("count() differs from the header");

    /* iterate(): must stop at the first record it cannot deliver; what it delivered must be
     * the default-family puts and deletes of the prefix axp_batch_decode() would give. */
    recs it = {0};
    rocksdb_writebatch_iterate(b, &it, it_put, it_del);
    rocksdb_writebatch_iterate(b, NULL, NULL, NULL); /* NULL callbacks are allowed */

    recs all;
    int rc = decode(b, &all);
    if (rc == 0) {
        /* Valid batch: iterate() saw exactly the puts and deletes before the first record
         * that stops it. */
        size_t j = 0;
        for (size_t i = 0; i < all.n; i++) {
            const rec *x = &all.v[i];
            bool stop = false;
            if (x->type == AXP_OP_PUT || x->type == AXP_OP_DELETE) {
                if (x->cf != 0) {
                    stop = true;
                } else {
                    if (j >= it.n)
                        fail("iterate() delivered fewer records than the batch holds");
                    const rec *y = &it.v[j++];
                    if (y->type != 100 + x->type || !same_bytes(x->key, x->klen, y->key, y->klen) ||
                        !same_bytes(x->value, x->vlen, y->value, y->vlen))
                        fail("iterate() delivered a different record");
                }
            } else if (x->type == AXP_OP_SINGLE_DELETE || x->type == AXP_OP_MERGE) {
                stop = x->cf != 0;
            } else if (x->type != AXP_OP_LOG_DATA) {
                stop = true;
            }
            if (stop)
                break;
        }
        if (j != it.n)
            fail("iterate() delivered more records than expected");

        uint32_t counted = 0;
        for (size_t i = 0; i < all.n; i++)
            if (all.v[i].type != AXP_OP_LOG_DATA && all.v[i].type != AXP_OP_NOOP &&
                all.v[i].type != AXP_OP_TXN_MARKER)
                counted++;
        if (counted != (uint32_t)count)
            fail("a valid batch's count differs from its counted records");

        if (all.rebuildable) {
            rocksdb_writebatch_t *r = rocksdb_writebatch_create();
            for (size_t i = 0; i < all.n; i++) {
                const rec *x = &all.v[i];
                switch (x->type) {
                case AXP_OP_PUT: rocksdb_writebatch_put(r, x->key, x->klen, x->value, x->vlen); break;
                case AXP_OP_DELETE: rocksdb_writebatch_delete(r, x->key, x->klen); break;
                case AXP_OP_SINGLE_DELETE: rocksdb_writebatch_singledelete(r, x->key, x->klen); break;
                case AXP_OP_MERGE: rocksdb_writebatch_merge(r, x->key, x->klen, x->value, x->vlen); break;
                case AXP_OP_DELETE_RANGE:
                    rocksdb_writebatch_delete_range(r, x->key, x->klen, x->value, x->vlen);
                    break;
                case AXP_OP_LOG_DATA: rocksdb_writebatch_put_log_data(r, x->value, x->vlen); break;
                default: fail("unreachable");
                }
            }
            recs again;
            if (decode(r, &again) != 0)
                fail("a batch rebuilt from a valid batch does not decode");
            if (!same_recs(&all, &again))
                fail("the rebuilt batch decodes to different records");
            if (rocksdb_writebatch_count(r) != count)
                fail("the rebuilt batch has a different count");

            size_t rl;
            const char *rd = rocksdb_writebatch_data(r, &rl);
            rocksdb_writebatch_t *c = rocksdb_writebatch_create_from(rd, rl);
            recs third;
            if (decode(c, &third) != 0 || !same_recs(&all, &third))
                fail("create_from(data()) of the rebuilt batch differs");
            free(third.v);
            rocksdb_writebatch_destroy(c);
            free(again.v);
            rocksdb_writebatch_destroy(r);
        }
    } else if (rc != AXP_BATCH_CORRUPT) {
        fail("axp_batch_foreach of create_from bytes returned neither 0 nor CORRUPT");
    }
    free(all.v);
    free(it.v);

    /* Save points on the fuzzed batch: append, roll back, the bytes come back. The header is
     * rewritten by appends, so only a rep with a whole header is compared. */
    if (size >= AXP_BATCH_HEADER) {
        rocksdb_writebatch_set_save_point(b);
        rocksdb_writebatch_put(b, "k", 1, "v", 1);
        rocksdb_writebatch_delete(b, in, size < 16 ? size : 16);
        char *err = NULL;
        rocksdb_writebatch_rollback_to_save_point(b, &err);
        if (err)
            fail("rollback_to_save_point failed");
        d = rocksdb_writebatch_data(b, &dlen);
        if (!same_bytes(d, dlen, in, size))
            fail("rollback to a save point did not restore the bytes");
        rocksdb_writebatch_pop_save_point(b, &err); /* none left: an error, no crash */
        free(err);
    }
    rocksdb_writebatch_clear(b);
    if (rocksdb_writebatch_count(b) != 0)
        fail("clear() left a count");
    rocksdb_writebatch_destroy(b);
    return 0;
}
