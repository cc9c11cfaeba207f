/*
 * iter.c: rocksdb_iterator_t on the core's iterator, with RocksDB's iterate_lower_bound
 * (inclusive) and iterate_upper_bound (exclusive). The core iterator already reads the
 * database as of its creation (or the read options' snapshot), as RocksDB's does.
 *
 * Bounds follow RocksDB's DBIter: a seek below the lower bound starts at the lower bound, a
 * seek_for_prev at or above the upper bound starts below it, and the iterator becomes invalid
 * when it steps outside [lower, upper).
 */
#define _GNU_SOURCE /* strdup, dladdr */
#include <stdlib.h>
#include <string.h>

#include "capi_objects.h"

struct rocksdb_iterator_t {
    axs_iter *it;
    bool has_lower, has_upper;
    char *lower, *upper; /* copies: the read options may change or go away */
    size_t lower_len, upper_len;
    bool out_of_bounds; /* positioned outside the bounds: invalid */
};

static char *dup_bytes(const char *p, size_t n)
{
    char *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

rocksdb_iterator_t *rocksdb_create_iterator(rocksdb_t *db, const rocksdb_readoptions_t *options)
{
    if (!db || !options)
        return NULL;
    rocksdb_iterator_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    axs_read_options ro;
    axs_read_options_init(&ro);
    ro.verify_checksums = options->f.verify_checksums;
    ro.snapshot = options->x.snapshot ? options->x.snapshot->core : NULL;
    if (options->x.has_lower) {
        r->has_lower = true;
        r->lower_len = options->x.lower_len;
        if (!(r->lower = dup_bytes(options->x.lower, options->x.lower_len)))
            goto fail;
    }
    if (options->x.has_upper) {
        r->has_upper = true;
        r->upper_len = options->x.upper_len;
        if (!(r->upper = dup_bytes(options->x.upper, options->x.upper_len)))
            goto fail;
    }
    if (axs_iter_create(db->core, &ro, &r->it) != AXS_OK)
        goto fail;
    return r;
fail:
    free(r->lower);
    free(r->upper);
    free(r);
    return NULL;
}

void rocksdb_iter_destroy(rocksdb_iterator_t *r)
{
    if (!r)
        return;
    axs_iter_destroy(r->it);
    free(r->lower);
    free(r->upper);
    free(r);
}

/* Marks the iterator invalid if the core iterator left [lower, upper). */
static void check_bounds(rocksdb_iterator_t *r)
{
    r->out_of_bounds = false;
    if (!axs_iter_valid(r->it))
        return;
    size_t kl;
    const char *k = axs_iter_key(r->it, &kl);
    if ((r->has_upper && axp_key_cmp(k, kl, r->upper, r->upper_len) >= 0) ||
        (r->has_lower && axp_key_cmp(k, kl, r->lower, r->lower_len) < 0))
        r->out_of_bounds = true;
}

unsigned char rocksdb_iter_valid(const rocksdb_iterator_t *r)
{
    return r && !r->out_of_bounds && axs_iter_valid(r->it);
}

void rocksdb_iter_seek_to_first(rocksdb_iterator_t *r)
{
    if (!r)
        return;
    if (r->has_lower)
        axs_iter_seek(r->it, r->lower, r->lower_len);
    else
        axs_iter_seek_to_first(r->it);
    check_bounds(r);
}

/* The last key < upper when there is an upper bound. */
static void seek_below_upper(rocksdb_iterator_t *r)
{
    axs_iter_seek_for_prev(r->it, r->upper, r->upper_len);
    if (axs_iter_valid(r->it)) {
        size_t kl;
        const char *k = axs_iter_key(r->it, &kl);
        if (axp_key_cmp(k, kl, r->upper, r->upper_len) >= 0)
            axs_iter_prev(r->it);
    }
}

void rocksdb_iter_seek_to_last(rocksdb_iterator_t *r)
{
    if (!r)
        return;
    if (r->has_upper)
        seek_below_upper(r);
    else
        axs_iter_seek_to_last(r->it);
    check_bounds(r);
}

void rocksdb_iter_seek(rocksdb_iterator_t *r, const char *k, size_t klen)
{
    if (!r)
        return;
    if (!k && klen) {
        axs_iter_seek(r->it, NULL, SIZE_MAX - 1); /* fails: makes the iterator report EINVAL */
        return;
    }
    if (r->has_lower && axp_key_cmp(k, klen, r->lower, r->lower_len) < 0)
        axs_iter_seek(r->it, r->lower, r->lower_len);
    else
        axs_iter_seek(r->it, k, klen);
    check_bounds(r);
}

void rocksdb_iter_seek_for_prev(rocksdb_iterator_t *r, const char *k, size_t klen)
{
    if (!r)
        return;
    if (!k && klen) {
        axs_iter_seek_for_prev(r->it, NULL, SIZE_MAX - 1);
        return;
    }
    if (r->has_upper && axp_key_cmp(k, klen, r->upper, r->upper_len) >= 0)
        seek_below_upper(r);
    else
        axs_iter_seek_for_prev(r->it, k, klen);
    check_bounds(r);
}

void rocksdb_iter_next(rocksdb_iterator_t *r)
{
    if (!rocksdb_iter_valid(r))
        return; /* RocksDB requires a valid iterator; doing nothing is the safe reading */
    axs_iter_next(r->it);
    check_bounds(r);
}

void rocksdb_iter_prev(rocksdb_iterator_t *r)
{
    if (!rocksdb_iter_valid(r))
        return;
    axs_iter_prev(r->it);
    check_bounds(r);
}

const char *rocksdb_iter_key(const rocksdb_iterator_t *r, size_t *klen)
{
    if (!rocksdb_iter_valid(r)) {
        if (klen)
            *klen = 0;
        return NULL;
    }
    return axs_iter_key(r->it, klen);
}

const char *rocksdb_iter_value(const rocksdb_iterator_t *r, size_t *vlen)
{
    if (!rocksdb_iter_valid(r)) {
        if (vlen)
            *vlen = 0;
        return NULL;
    }
    return axs_iter_value(r->it, vlen);
}

void rocksdb_iter_get_error(const rocksdb_iterator_t *r, char **errptr)
{
    if (!r) {
        axp_error(errptr, "Invalid argument: iterator is NULL");
        return;
    }
    int rc = axs_iter_status(r->it);
    if (rc)
        axp_error_core(errptr, rc, NULL, "iterator");
}
