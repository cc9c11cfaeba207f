/*
 * capi_internal.h: what the files of the RocksDB C API plugin share.
 *
 * The plugin implements every function of Debian's <rocksdb/c.h> (RocksDB 7.8.3). Functions
 * with real behaviour are written by hand in the files of plugin/src; the option objects' plain
 * setters/getters and the "Not implemented: " stubs for everything else are generated at build
 * time by plugin/gen/gen_capi.py from c.h itself, skipping every function a hand-written file
 * already defines (docs/plugin.md).
 *
 * Generated objects with hand-managed parts embed an "extra" struct declared here; the
 * generated create/copy/destroy call the matching axp_*_extra_* hooks.
 */
#ifndef ALEXSTORAGE_PLUGIN_CAPI_INTERNAL_H
#define ALEXSTORAGE_PLUGIN_CAPI_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rocksdb/c.h>

#include "alexstorage/db.h"

/* Exports: plugin/exports.map makes every rocksdb_* symbol global and everything else local,
 * so the core's axs_* symbols never leak into a program that loads the plugin. */

/* ---- errors (errors.c) ------------------------------------------------------------------------ */

/* RocksDB's errptr convention: on failure free(*errptr) and store a fresh malloc'd message;
 * success leaves *errptr alone. errptr may be NULL (the message is dropped). The message is
 * formatted as given: callers start it with RocksDB's prefix ("Invalid argument: ",
 * "IO error: ", "Corruption: ", "Not implemented: ", "Not found: "). */
void axp_error(char **errptr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Turns a core AXS_E* code (and the handle's detailed message, if db is not NULL) into a
 * RocksDB-style message with the right prefix. */
void axp_error_core(char **errptr, int code, axs_db *db, const char *what);
/* RocksDB's default (bytewise) key order, the only one this engine has. */
static inline int axp_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (alen < blen ? -1 : alen > blen);
}

#define AXP_NOT_IMPLEMENTED(errptr) axp_error((errptr), "Not implemented: %s", __func__)

/* ---- hand-managed parts of generated option objects -------------------------------------------- */

typedef struct axp_options_extra {
    rocksdb_mergeoperator_t *merge_operator; /* shared: reference counted (merge.c) */
    rocksdb_comparator_t *comparator;        /* caller-owned, as in RocksDB; NULL = bytewise */
    int mode; /* AXP_MODE_* chosen through rocksdb_alex.h, or -1: ALEXSTORAGE_MODE decides */
} axp_options_extra;
void axp_options_extra_init(axp_options_extra *x);
void axp_options_extra_copy(axp_options_extra *dst, const axp_options_extra *src);
void axp_options_extra_free(axp_options_extra *x);

typedef struct axp_readoptions_extra {
    const rocksdb_snapshot_t *snapshot; /* not owned */
    bool has_lower, has_upper;
    char *lower, *upper; /* copies of the bounds (RocksDB's C API copies them too) */
    size_t lower_len, upper_len;
} axp_readoptions_extra;
void axp_readoptions_extra_init(axp_readoptions_extra *x);
void axp_readoptions_extra_free(axp_readoptions_extra *x);

/* ---- comparators (options.c) ------------------------------------------------------------------ */

#define AXP_BYTEWISE_COMPARATOR "leveldb.BytewiseComparator"

struct rocksdb_comparator_t {
    void *state;
    void (*destructor)(void *);
    int (*compare)(void *, const char *, size_t, const char *, size_t);
    const char *(*name)(void *);
};
/* The comparator's name; RocksDB's default bytewise comparator's for NULL. */
const char *axp_comparator_name(const rocksdb_comparator_t *c);

/* ---- the database handle (db.c) --------------------------------------------------------------- */

enum { AXP_MODE_NATIVE = 0, AXP_MODE_HYBRID = 1 };

struct axp_hybrid; /* hybrid.c: real RocksDB, loaded with dlopen(RTLD_LOCAL) */

struct rocksdb_t {
    int mode;                   /* AXP_MODE_* */
    axs_db *core;               /* native: the store; hybrid: the read side */
    struct axp_hybrid *hybrid;  /* hybrid only */
    char *path;
    bool read_only;
    rocksdb_mergeoperator_t *merge_operator; /* reference held for the handle's life */
    rocksdb_comparator_t *comparator;
    /* Held exclusively by writes that must read before they write (merge, delete_range,
     * batches) and by every hybrid-mode write (both sides in the same order); shared by native
     * puts and deletes, which the core's commit queue orders (db.c). */
    pthread_rwlock_t write_mu;
};

struct rocksdb_snapshot_t {
    axs_snapshot *core; /* the read side's snapshot in hybrid mode, which serves the reads */
};

/* Copies the open database into a new directory dir that must not exist, as RocksDB's
 * checkpoint does (checkpoint.c). Returns 0, or -1 with *errptr set. */
int axp_db_checkpoint(rocksdb_t *db, const char *dir, char **errptr);

#endif /* ALEXSTORAGE_PLUGIN_CAPI_INTERNAL_H */
