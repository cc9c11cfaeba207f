/*
 * hybrid.c: hybrid mode (hybrid.h). Real RocksDB takes every write with its own WAL,
 * memtables and compaction, so durability and crash recovery are exactly RocksDB's; the core
 * holds a read-side copy (no syncs of its own) that serves reads.
 *
 * Consistency: a write goes to RocksDB first and then, under the same db->write_mu, to the
 * read side, so both apply writes in one order and a reader sees a write once the call that
 * made it returns. If the read side fails to take a write that RocksDB took, the handle stops
 * serving reads from it (they fail with an error) until it is reopened, which rebuilds the read
 * side from RocksDB: after any crash, hybrid reads equal what real RocksDB holds.
 *
 * Real librocksdb is dlopen'ed with RTLD_LOCAL (ALEXSTORAGE_ROCKSDB_LIB may name another
 * build, e.g. a release one) and called through pointers typed from c.h itself.
 */
#define _GNU_SOURCE /* strdup, dladdr */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "hybrid.h"
#include "merge.h"

#define REAL_FUNCS(X)                                                                              \
    X(rocksdb_open)                                                                                \
    X(rocksdb_open_for_read_only)                                                                  \
    X(rocksdb_close)                                                                               \
    X(rocksdb_destroy_db)                                                                          \
    X(rocksdb_free)                                                                                \
    X(rocksdb_options_create)                                                                      \
    X(rocksdb_options_destroy)                                                                     \
    X(rocksdb_options_set_create_if_missing)                                                       \
    X(rocksdb_options_set_error_if_exists)                                                         \
    X(rocksdb_options_set_paranoid_checks)                                                         \
    X(rocksdb_options_set_compression)                                                             \
    X(rocksdb_options_set_use_fsync)                                                               \
    X(rocksdb_options_set_write_buffer_size)                                                       \
    X(rocksdb_options_set_enable_pipelined_write)                                                  \
    X(rocksdb_options_set_table_cache_numshardbits)                                                \
    X(rocksdb_options_set_block_based_table_factory)                                               \
    X(rocksdb_block_based_options_create)                                                          \
    X(rocksdb_block_based_options_destroy)                                                         \
    X(rocksdb_block_based_options_set_block_size)                                                  \
    X(rocksdb_block_based_options_set_no_block_cache)                                              \
    X(rocksdb_block_based_options_set_block_cache)                                                 \
    X(rocksdb_block_based_options_set_filter_policy)                                               \
    X(rocksdb_block_based_options_set_whole_key_filtering)                                         \
    X(rocksdb_block_based_options_set_cache_index_and_filter_blocks)                               \
    X(rocksdb_block_based_options_set_format_version)                                              \
    X(rocksdb_cache_create_lru)                                                                    \
    X(rocksdb_cache_destroy)                                                                       \
    X(rocksdb_filterpolicy_create_bloom_full)                                                      \
    X(rocksdb_options_set_merge_operator)                                                          \
    X(rocksdb_mergeoperator_create)                                                                \
    X(rocksdb_options_set_uint64add_merge_operator)                                                \
    X(rocksdb_writeoptions_create)                                                                 \
    X(rocksdb_writeoptions_destroy)                                                                \
    X(rocksdb_writeoptions_set_sync)                                                               \
    X(rocksdb_writeoptions_disable_WAL)                                                            \
    X(rocksdb_writebatch_create_from)                                                              \
    X(rocksdb_writebatch_destroy)                                                                  \
    X(rocksdb_write)                                                                               \
    X(rocksdb_readoptions_create)                                                                  \
    X(rocksdb_readoptions_destroy)                                                                 \
    X(rocksdb_readoptions_set_fill_cache)                                                          \
    X(rocksdb_create_iterator)                                                                     \
    X(rocksdb_iter_destroy)                                                                        \
    X(rocksdb_iter_seek_to_first)                                                                  \
    X(rocksdb_iter_valid)                                                                          \
    X(rocksdb_iter_next)                                                                           \
    X(rocksdb_iter_key)                                                                            \
    X(rocksdb_iter_value)                                                                          \
    X(rocksdb_iter_get_error)                                                                      \
    X(rocksdb_flushoptions_create)                                                                 \
    X(rocksdb_flushoptions_destroy)                                                                \
    X(rocksdb_flushoptions_set_wait)                                                               \
    X(rocksdb_flush)                                                                               \
    X(rocksdb_flush_wal)                                                                           \
    X(rocksdb_compact_range)                                                                       \
    X(rocksdb_property_value)                                                                      \
    X(rocksdb_get_latest_sequence_number)                                                          \
    X(rocksdb_checkpoint_object_create)                                                            \
    X(rocksdb_checkpoint_create)                                                                   \
    X(rocksdb_checkpoint_object_destroy)                                                           \
    X(rocksdb_set_perf_level)

/* Pointers to real RocksDB's functions, typed as c.h declares them. */
static struct real_api {
/* NOLINTNEXTLINE(bugprone-macro-parentheses): name is a declarator, not an expression */
#define DECLARE(name) __typeof__(name) *name;
    REAL_FUNCS(DECLARE)
#undef DECLARE
} real;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static char real_error[512];
static void *real_handle; /* dlopen'd once, kept for the life of the process */

static void real_load(void)
{
    const char *lib = getenv("ALEXSTORAGE_ROCKSDB_LIB");
    void *h = dlopen(lib && *lib ? lib : "librocksdb.so.7.8", RTLD_NOW | RTLD_LOCAL);
    if (!h && !(lib && *lib))
        h = dlopen("librocksdb.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(real_error, sizeof real_error, "cannot load real RocksDB: %s", dlerror());
        return;
    }
    struct real_api api;
#define RESOLVE(name)                                                                              \
    if (!(*(void **)&api.name = dlsym(h, #name))) {                                                \
        snprintf(real_error, sizeof real_error, "real RocksDB lacks %s", #name);                   \
        dlclose(h);                                                                                \
        return;                                                                                    \
    }
    REAL_FUNCS(RESOLVE)
#undef RESOLVE
    real_handle = h;
    real = api;
}

static bool real_ready(char **errptr)
{
    pthread_once(&real_once, real_load);
    if (real_error[0]) {
        axp_error(errptr, "IO error: hybrid mode: %s", real_error);
        return false;
    }
    return true;
}

/* RocksDB's perf level is per thread and counts inside real RocksDB only, so it is forwarded to
 * the real library, which hybrid mode calls on the caller's thread. The native engine has no
 * perf counters: without real RocksDB (not installed) there is nothing to set. */
void rocksdb_set_perf_level(int level)
{
    /* RocksDB 7.8.3 asserts kUninitialized (0) < level < kOutOfBounds (6; c.h's enum is older
     * and stops at 5), and Debian's build keeps assertions: other levels are ignored. */
    if (level <= rocksdb_uninitialized || level > 5)
        return;
    char *err = NULL;
    if (real_ready(&err))
        real.rocksdb_set_perf_level(level);
    free(err);
}

struct axp_hybrid {
    rocksdb_t *rdb;            /* real RocksDB's handle (its own layout, opaque here) */
    rocksdb_options_t *ropts;  /* real options; they own the real merge operator */
    rocksdb_cache_t *rcache;   /* real block cache built from the caller's, or NULL */
    rocksdb_writeoptions_t *wo[2][2]; /* real write options by [sync][disable_WAL] */
    bool read_side_failed;     /* the read side missed a write: reads refused until reopen */
};

/* ---- merge operator trampolines: real RocksDB calls the user's operator ------------------- */

static void tramp_destructor(void *state)
{
    (void)state; /* the plugin's handle holds the operator and releases it at close */
}

static char *tramp_full(void *state, const char *key, size_t klen, const char *existing,
                        size_t elen, const char *const *ops, const size_t *lens, int n,
                        unsigned char *success, size_t *new_len)
{
    return axp_merge_full_raw(state, key, klen, existing, elen, ops, lens, n, success, new_len);
}

static char *tramp_partial(void *state, const char *key, size_t klen, const char *const *ops,
                           const size_t *lens, int n, unsigned char *success, size_t *new_len)
{
    return axp_merge_partial_raw(state, key, klen, ops, lens, n, success, new_len);
}

static void tramp_delete(void *state, const char *value, size_t len)
{
    axp_merge_delete_raw(state, value, len);
}

static const char *tramp_name(void *state)
{
    return axp_merge_name(state);
}

/* ---- open, close ---------------------------------------------------------------------------- */

static void read_dir(const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", path, AXP_HYBRID_READ_DIR);
}

/* Copies everything real RocksDB holds into a fresh read side, in key order. */
static int rebuild_read_side(rocksdb_t *db, char **errptr)
{
    char dir[4096];
    read_dir(db->path, dir, sizeof dir);
    axs_destroy(dir, NULL);
    axs_options ao;
    axs_options_init(&ao);
    ao.create_if_missing = true;
    char *msg = NULL;
    int rc = axs_open(dir, &ao, &db->core, &msg);
    if (rc) {
        axp_error(errptr, "IO error: hybrid read side %s: %s", dir, msg ? msg : "open failed");
        free(msg);
        return -1;
    }
    rocksdb_readoptions_t *ro = real.rocksdb_readoptions_create();
    real.rocksdb_readoptions_set_fill_cache(ro, 0);
    rocksdb_iterator_t *it = real.rocksdb_create_iterator(db->hybrid->rdb, ro);
    axs_batch *b = axs_batch_create();
    axs_write_options wo;
    axs_write_options_init(&wo);
    size_t bytes = 0;
    for (real.rocksdb_iter_seek_to_first(it); !rc && real.rocksdb_iter_valid(it);
         real.rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = real.rocksdb_iter_key(it, &kl);
        const char *v = real.rocksdb_iter_value(it, &vl);
        rc = axs_batch_put(b, k, kl, v, vl);
        bytes += kl + vl;
        if (!rc && bytes >= (4u << 20)) {
            rc = axs_write(db->core, &wo, b);
            axs_batch_clear(b);
            bytes = 0;
        }
    }
    if (!rc)
        rc = axs_write(db->core, &wo, b);
    char *ierr = NULL;
    real.rocksdb_iter_get_error(it, &ierr);
    real.rocksdb_iter_destroy(it);
    real.rocksdb_readoptions_destroy(ro);
    axs_batch_destroy(b);
    if (ierr) {
        axp_error(errptr, "%s", ierr);
        real.rocksdb_free(ierr);
        return -1;
    }
    if (rc) {
        axp_error_core(errptr, rc, db->core, "hybrid read side");
        return -1;
    }
    return 0;
}

static void hybrid_free(struct axp_hybrid *h)
{
    if (!h)
        return;
    if (h->rdb)
        real.rocksdb_close(h->rdb);
    for (int s = 0; s < 2; s++)
        for (int w = 0; w < 2; w++)
            if (h->wo[s][w])
                real.rocksdb_writeoptions_destroy(h->wo[s][w]);
    if (h->ropts)
        real.rocksdb_options_destroy(h->ropts);
    if (h->rcache)
        real.rocksdb_cache_destroy(h->rcache);
    free(h);
}

/* Rebuilds the caller's block-based table options (stored by the plugin's generated objects) in
 * real RocksDB, so the write side flushes and compacts tables as a plain RocksDB with the same
 * options would (bloom filters are built at flush: a write-side cost). The real filter policy
 * belongs to the real table options; the real cache is ours (h->rcache). */
static void set_real_table_options(struct axp_hybrid *h,
                                   const rocksdb_block_based_table_options_t *t)
{
    rocksdb_block_based_table_options_t *rt = real.rocksdb_block_based_options_create();
    real.rocksdb_block_based_options_set_block_size(rt, t->f.block_size);
    real.rocksdb_block_based_options_set_whole_key_filtering(rt, t->f.whole_key_filtering);
    real.rocksdb_block_based_options_set_cache_index_and_filter_blocks(
        rt, t->f.cache_index_and_filter_blocks);
    real.rocksdb_block_based_options_set_format_version(rt, t->f.format_version);
    if (t->f.no_block_cache) {
        real.rocksdb_block_based_options_set_no_block_cache(rt, 1);
    } else if (t->f.block_cache) {
        h->rcache = real.rocksdb_cache_create_lru(t->f.block_cache->f.capacity);
        real.rocksdb_block_based_options_set_block_cache(rt, h->rcache);
    }
    if (t->f.filter_policy && t->f.filter_policy->f.bits_per_key > 0)
        real.rocksdb_block_based_options_set_filter_policy(
            rt, real.rocksdb_filterpolicy_create_bloom_full(t->f.filter_policy->f.bits_per_key));
    real.rocksdb_options_set_block_based_table_factory(h->ropts, rt);
    real.rocksdb_block_based_options_destroy(rt);
}

/* Values real RocksDB 7.8.3 does not check before it asserts or crashes on them (Debian's
 * build keeps assertions): refused here with RocksDB's "Invalid argument: ". */
static int check_real_options(const rocksdb_options_t *o, char **errptr)
{
    /* NewLRUCache returns NULL for 20 shard bits or more, and DB::Open uses that table cache. */
    if (o->f.table_cache_numshardbits >= 20) {
        axp_error(errptr, "Invalid argument: table_cache_numshardbits %d: must be below 20",
                  o->f.table_cache_numshardbits);
        return -1;
    }
    /* CompressionTypeSupported asserts on a value that is no CompressionType (c.h's setter
     * takes an int and RocksDB casts it to one byte). */
    int t = o->f.compression;
    if (t < 0 || (t > 7 && t != 0x40)) {
        axp_error(errptr, "Invalid argument: compression type %d is not one of RocksDB's", t);
        return -1;
    }
    return 0;
}

int axp_hybrid_open(rocksdb_t *db, const rocksdb_options_t *o, bool read_only, char **errptr)
{
    if (!real_ready(errptr) || check_real_options(o, errptr))
        return -1;
    struct axp_hybrid *h = calloc(1, sizeof *h);
    if (!h) {
        axp_error(errptr, "IO error: out of memory");
        return -1;
    }
    h->ropts = real.rocksdb_options_create();
    real.rocksdb_options_set_create_if_missing(h->ropts, o->f.create_if_missing);
    real.rocksdb_options_set_error_if_exists(h->ropts, o->f.error_if_exists);
    real.rocksdb_options_set_paranoid_checks(h->ropts, o->f.paranoid_checks);
    real.rocksdb_options_set_compression(h->ropts, o->f.compression);
    real.rocksdb_options_set_use_fsync(h->ropts, o->f.use_fsync);
    real.rocksdb_options_set_write_buffer_size(h->ropts, o->f.write_buffer_size);
    real.rocksdb_options_set_enable_pipelined_write(h->ropts, o->f.enable_pipelined_write);
    real.rocksdb_options_set_table_cache_numshardbits(h->ropts, o->f.table_cache_numshardbits);
    if (o->f.block_based_table_factory)
        set_real_table_options(h, o->f.block_based_table_factory);
    rocksdb_mergeoperator_t *m = o->x.merge_operator;
    if (m) {
        if (axp_merge_is_uint64add(m))
            real.rocksdb_options_set_uint64add_merge_operator(h->ropts);
        else
            real.rocksdb_options_set_merge_operator(
                h->ropts, real.rocksdb_mergeoperator_create(m, tramp_destructor, tramp_full,
                                                            tramp_partial, tramp_delete,
                                                            tramp_name));
    }
    for (int s = 0; s < 2; s++)
        for (int w = 0; w < 2; w++) {
            h->wo[s][w] = real.rocksdb_writeoptions_create();
            real.rocksdb_writeoptions_set_sync(h->wo[s][w], (unsigned char)s);
            real.rocksdb_writeoptions_disable_WAL(h->wo[s][w], w);
        }
    char *err = NULL;
    h->rdb = read_only ? real.rocksdb_open_for_read_only(h->ropts, db->path, 0, &err)
                       : real.rocksdb_open(h->ropts, db->path, &err);
    if (err) {
        axp_error(errptr, "%s", err);
        real.rocksdb_free(err);
        h->rdb = NULL;
        hybrid_free(h);
        return -1;
    }
    db->hybrid = h;
    if (rebuild_read_side(db, errptr)) {
        axs_close(db->core);
        db->core = NULL;
        db->hybrid = NULL;
        hybrid_free(h);
        return -1;
    }
    return 0;
}

void axp_hybrid_close(rocksdb_t *db)
{
    axs_close(db->core);
    db->core = NULL;
    hybrid_free(db->hybrid);
    db->hybrid = NULL;
}

/* ---- writes and the rest -------------------------------------------------------------------- */

int axp_hybrid_write(rocksdb_t *db, const rocksdb_writeoptions_t *wo, const char *rep,
                     size_t len, char **errptr)
{
    struct axp_hybrid *h = db->hybrid;
    if (h->read_side_failed) {
        axp_error(errptr, "IO error: hybrid read side failed earlier; reopen to rebuild it");
        return -1;
    }
    rocksdb_writebatch_t *b = real.rocksdb_writebatch_create_from(rep, len);
    if (!b) {
        axp_error(errptr, "IO error: out of memory");
        return -1;
    }
    char *err = NULL;
    real.rocksdb_write(h->rdb, h->wo[wo->f.sync ? 1 : 0][wo->f.disable_WAL ? 1 : 0], b, &err);
    real.rocksdb_writebatch_destroy(b);
    if (err) {
        axp_error(errptr, "%s", err);
        real.rocksdb_free(err);
        return -1;
    }
    return 0;
}

void axp_hybrid_read_side_failed(rocksdb_t *db)
{
    db->hybrid->read_side_failed = true;
}

bool axp_hybrid_readable(rocksdb_t *db, char **errptr)
{
    if (!db->hybrid->read_side_failed)
        return true;
    axp_error(errptr, "IO error: hybrid read side failed earlier; reopen to rebuild it");
    return false;
}

int axp_hybrid_flush(rocksdb_t *db, bool wal_only, bool sync, char **errptr)
{
    char *err = NULL;
    if (wal_only) {
        real.rocksdb_flush_wal(db->hybrid->rdb, sync, &err);
    } else {
        rocksdb_flushoptions_t *fo = real.rocksdb_flushoptions_create();
        real.rocksdb_flushoptions_set_wait(fo, 1);
        real.rocksdb_flush(db->hybrid->rdb, fo, &err);
        real.rocksdb_flushoptions_destroy(fo);
    }
    if (err) {
        axp_error(errptr, "%s", err);
        real.rocksdb_free(err);
        return -1;
    }
    return 0;
}

int axp_hybrid_compact(rocksdb_t *db, const char *start, size_t slen, const char *limit,
                       size_t llen)
{
    real.rocksdb_compact_range(db->hybrid->rdb, start, slen, limit, llen);
    return axs_compact(db->core) == AXS_OK ? 0 : -1;
}

char *axp_hybrid_property(rocksdb_t *db, const char *name)
{
    char *v = real.rocksdb_property_value(db->hybrid->rdb, name);
    if (!v)
        return NULL;
    char *copy = strdup(v); /* the caller frees with our free(); keep allocators apart */
    real.rocksdb_free(v);
    return copy;
}

uint64_t axp_hybrid_latest_sequence(rocksdb_t *db)
{
    return real.rocksdb_get_latest_sequence_number(db->hybrid->rdb);
}

int axp_hybrid_destroy(const char *path, char **errptr)
{
    if (!real_ready(errptr))
        return -1;
    char dir[4096];
    read_dir(path, dir, sizeof dir);
    int rc = axs_destroy(dir, NULL);
    if (rc && rc != AXS_ENOTFOUND) {
        axp_error_core(errptr, rc, NULL, dir);
        return -1;
    }
    rocksdb_options_t *o = real.rocksdb_options_create();
    char *err = NULL;
    real.rocksdb_destroy_db(o, path, &err);
    real.rocksdb_options_destroy(o);
    if (err) {
        axp_error(errptr, "%s", err);
        real.rocksdb_free(err);
        return -1;
    }
    return 0;
}

/* RocksDB's own checkpoint; the read side is not copied, since opening rebuilds it. */
int axp_hybrid_checkpoint(rocksdb_t *db, const char *dir, char **errptr)
{
    char *err = NULL;
    rocksdb_checkpoint_t *cp = real.rocksdb_checkpoint_object_create(db->hybrid->rdb, &err);
    if (!err)
        real.rocksdb_checkpoint_create(cp, dir, 0, &err);
    if (cp)
        real.rocksdb_checkpoint_object_destroy(cp);
    if (err) {
        axp_error(errptr, "%s", err);
        real.rocksdb_free(err);
        return -1;
    }
    return 0;
}
