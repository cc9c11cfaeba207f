/*
 * options.c: the parts of the option objects that carry references or copies, so the
 * generated code (plain stored values) cannot handle them: merge operator, comparator,
 * snapshot and iterator bounds. Also rocksdb_comparator_t.
 */
#define _GNU_SOURCE /* strdup, dladdr */
#include <stdlib.h>
#include <string.h>

#include "capi_objects.h"
#include "merge.h"
#include "rocksdb_alex.h"

/* ---- rocksdb_options_t ---------------------------------------------------------------------- */

void axp_options_extra_init(axp_options_extra *x)
{
    memset(x, 0, sizeof *x);
    x->mode = -1;
}

void axp_options_extra_copy(axp_options_extra *dst, const axp_options_extra *src)
{
    *dst = *src;
    axp_mergeoperator_ref(dst->merge_operator);
}

void axp_options_extra_free(axp_options_extra *x)
{
    axp_mergeoperator_unref(x->merge_operator);
    x->merge_operator = NULL;
}

/* The options take ownership, as RocksDB's shared_ptr does; setting another operator (or
 * NULL) releases the previous one. */
void rocksdb_options_set_merge_operator(rocksdb_options_t *opt, rocksdb_mergeoperator_t *m)
{
    if (!opt)
        return;
    axp_mergeoperator_ref(m);
    axp_mergeoperator_unref(opt->x.merge_operator);
    opt->x.merge_operator = m;
}

void rocksdb_options_set_uint64add_merge_operator(rocksdb_options_t *opt)
{
    if (!opt)
        return;
    rocksdb_mergeoperator_t *m = axp_mergeoperator_create_uint64add();
    if (m) /* void API: out of memory leaves the previous operator */
        rocksdb_options_set_merge_operator(opt, m);
}

/* The caller keeps ownership and must keep the comparator alive while databases opened with
 * these options are open (RocksDB stores a raw pointer). */
void rocksdb_options_set_comparator(rocksdb_options_t *opt, rocksdb_comparator_t *cmp)
{
    if (opt)
        opt->x.comparator = cmp;
}

/* ---- rocksdb_comparator_t ---------------------------------------------------------------------- */

rocksdb_comparator_t *rocksdb_comparator_create(
    void *state, void (*destructor)(void *),
    int (*compare)(void *, const char *a, size_t alen, const char *b, size_t blen),
    const char *(*name)(void *))
{
    rocksdb_comparator_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->state = state;
    c->destructor = destructor;
    c->compare = compare;
    c->name = name;
    return c;
}

void rocksdb_comparator_destroy(rocksdb_comparator_t *c)
{
    if (!c)
        return;
    if (c->destructor)
        c->destructor(c->state);
    free(c);
}

const char *axp_comparator_name(const rocksdb_comparator_t *c)
{
    const char *n = c && c->name ? c->name(c->state) : NULL;
    return n ? n : AXP_BYTEWISE_COMPARATOR;
}

/* ---- rocksdb_readoptions_t --------------------------------------------------------------------- */

void axp_readoptions_extra_init(axp_readoptions_extra *x)
{
    memset(x, 0, sizeof *x);
}

void axp_readoptions_extra_free(axp_readoptions_extra *x)
{
    free(x->lower);
    free(x->upper);
    memset(x, 0, sizeof *x);
}

void rocksdb_readoptions_set_snapshot(rocksdb_readoptions_t *opt, const rocksdb_snapshot_t *snap)
{
    if (opt)
        opt->x.snapshot = snap;
}

/* RocksDB's C API copies the bound; key NULL clears it. */
static void set_bound(char **dst, size_t *dst_len, bool *has, const char *key, size_t keylen)
{
    free(*dst);
    *dst = NULL;
    *dst_len = 0;
    *has = false;
    if (!key)
        return;
    char *copy = malloc(keylen ? keylen : 1);
    if (!copy)
        return; /* void API: out of memory leaves the bound unset */
    memcpy(copy, key, keylen);
    *dst = copy;
    *dst_len = keylen;
    *has = true;
}

void rocksdb_readoptions_set_iterate_upper_bound(rocksdb_readoptions_t *opt, const char *key,
                                                 size_t keylen)
{
    if (opt)
        set_bound(&opt->x.upper, &opt->x.upper_len, &opt->x.has_upper, key, keylen);
}

void rocksdb_readoptions_set_iterate_lower_bound(rocksdb_readoptions_t *opt, const char *key,
                                                 size_t keylen)
{
    if (opt)
        set_bound(&opt->x.lower, &opt->x.lower_len, &opt->x.has_lower, key, keylen);
}

/* ---- rocksdb_alex.h ------------------------------------------------------------------------- */

void alexstorage_options_set_mode(rocksdb_options_t *opt, const char *mode, char **errptr)
{
    if (!opt) {
        axp_error(errptr, "Invalid argument: options are NULL");
        return;
    }
    if (!mode)
        opt->x.mode = -1;
    else if (strcmp(mode, "native") == 0)
        opt->x.mode = AXP_MODE_NATIVE;
    else if (strcmp(mode, "hybrid") == 0)
        opt->x.mode = AXP_MODE_HYBRID;
    else
        axp_error(errptr, "Invalid argument: mode \"%s\" (expected native or hybrid)", mode);
}

const char *alexstorage_db_mode(rocksdb_t *db)
{
    if (!db)
        return NULL;
    return db->mode == AXP_MODE_HYBRID ? "hybrid" : "native";
}
