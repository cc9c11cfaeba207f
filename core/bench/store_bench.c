/*
 * store_bench.c: AlexStorage against LMDB and RocksDB, through one driver, in one run, with the
 * same keys, values and operation order for every store.
 *
 * Benchmarks, in the order they run for each store (each store in a fresh directory):
 *
 *   fillrandom   put every key 0..N-1 once, in a seeded random permutation; mean us/op, ops/s
 *                (one clock read around the whole loop, as db_bench does).
 *   settle       wait (untimed) until the store has no background work left from the fill
 *                (RocksDB: flushes and compactions; like db_bench's waitforcompaction); the
 *                wait is reported. --settle=0 skips it, so reads race the compactions.
 *   readrandom   N gets of keys drawn uniformly from 0..N-1, after the fill (warm, same
 *                process); every get timed with clock_gettime(CLOCK_MONOTONIC): p50, p99,
 *                p99.9, mean in ns, plus ops/s of the whole loop.
 *   mixed        N operations, op i a read if i % 100 < 80 else an overwrite of a random key
 *                (db_bench readrandomwriterandom's deterministic 80/20 cycle); per-op latency.
 *   close, open  the store is closed (timed), its directory measured (bytes on disk per key:
 *                the sum of the files' sizes over N, and the blocks they occupy over N), then
 *                opened again (timed; AlexStorage also reports its own open time).
 *   profilekeys  AlexStorage only: the fill and readrandom above again, in another directory,
 *                with keys "user:profile:<decimal id>", to compare get p50 between key shapes.
 *
 * With --sync: fillrandom only, every write synced by every store, N 20,000 by default.
 *
 * Keys are db_bench's 16-byte keys (GenerateKeyFromInt with key_size 16: the key number
 * big-endian in 8 bytes, then 8 '0' bytes). Values are 100 bytes, half random printable bytes
 * and half a repeat of them (db_bench's compression_ratio=0.5), taken in turn from a 1 MiB pool
 * like db_bench's RandomGenerator. Every get is checked against the value last written for its
 * key, outside the timed interval; a mismatch or a miss stops the run.
 *
 * Durability is the same for all stores: buffered writes (reached the OS, no sync per write),
 * unless --sync. The configuration of each store is printed with the results. Every random
 * stream is derived from --seed and restarted for each store and phase, so every store sees
 * the same keys in the same order.
 *
 * Output: an environment block, then a markdown table (metrics x stores, with the ratios
 * AlexStorage/RocksDB and AlexStorage/LMDB) on stdout; progress on stderr; --json=FILE writes
 * the same numbers as JSON. scripts/bench_store.sh runs it and keeps both under results/store.
 *
 * A store is compiled in only when CMake found its library (STORE_BENCH_HAVE_LMDB,
 * STORE_BENCH_HAVE_ROCKSDB).
 */
#define _GNU_SOURCE /* clock_gettime, mkdtemp, nftw (POSIX/XSI), RUSAGE_THREAD (Linux) */

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <lz4.h>

#include "alexstorage/db.h"
#include "bench_util.h"

#ifdef STORE_BENCH_HAVE_LMDB
#include <lmdb.h>
#endif
#ifdef STORE_BENCH_HAVE_ROCKSDB
#include <dirent.h>
#include <rocksdb/c.h>
#endif
#ifndef STORE_BENCH_ROCKSDB_HEADER_VERSION /* rocksdb/version.h is C++: CMake reads its macros */
#define STORE_BENCH_ROCKSDB_HEADER_VERSION "unknown"
#endif

#ifndef STORE_BENCH_BUILD_TYPE
#define STORE_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef STORE_BENCH_C_COMPILER
#define STORE_BENCH_C_COMPILER "unknown"
#endif
#ifndef STORE_BENCH_C_FLAGS
#define STORE_BENCH_C_FLAGS ""
#endif
#ifndef STORE_BENCH_SANITIZE
#define STORE_BENCH_SANITIZE ""
#endif
#ifndef STORE_BENCH_ALEXSTORAGE_VERSION
#define STORE_BENCH_ALEXSTORAGE_VERSION "unknown"
#endif

#define KEY_SIZE 16       /* db_bench --key_size */
#define PROFILE_KEY_MAX 32 /* "user:profile:" + up to 20 digits */
#define VALUE_SIZE 100    /* db_bench --value_size */
#define VALUE_POOL_BYTES (1u << 20)
#define VALUE_POOL_PIECES (VALUE_POOL_BYTES / VALUE_SIZE)
#define REOPEN_CHECKS 1000 /* keys checked (untimed) after the reopen */
#define MAX_STORES 3
#define MAX_REPS 99

/* ---------------------------------------------------------------------------------------- */
/* Flags: --name=value (booleans also bare --name); anything else is rejected.             */

static struct {
    uint64_t num;          /* --num: keys and operations per phase (20,000 with --sync) */
    bool num_set;
    uint64_t seed;         /* --seed: seeds the permutation, key draws and values */
    char stores[64];       /* --stores: comma list of alex, lmdb, rocksdb (those compiled in) */
    const char *dir;       /* --dir: base directory; a fresh mkdtemp is made inside it */
    const char *json;      /* --json: write the results as JSON to this file */
    bool sync;             /* --sync: sync every write; fillrandom only */
    int repetitions;       /* --repetitions: whole runs; the table shows the median */
    int alex_compression;  /* --alex_compression: none (engine default) or lz4 */
    bool alex_verify;      /* --alex_verify_checksums: axs_read_options.verify_checksums */
    uint64_t rocksdb_cache_mb; /* --rocksdb_cache_mb: LRU block cache size */
    int bloom_bits;        /* --bloom_bits: RocksDB bloom filter bits per key (0: none) */
    bool keep;             /* --keep: leave the database directories in place */
    bool settle;           /* --settle: wait for background work between fill and reads */
} flags = {
    .num = 1000000,
    .seed = 301,
    .stores = "alex,lmdb,rocksdb",
    .repetitions = 1,
    .alex_compression = AXS_COMPRESSION_NONE,
    .alex_verify = true,
    .rocksdb_cache_mb = 256,
    .bloom_bits = 10,
    .settle = true,
};

static const char usage[] =
    "usage: store_bench [flags]\n"
    "  --num=N                 keys and operations per phase (default 1000000; 20000 with --sync)\n"
    "  --seed=S                seed of the permutation, key draws and values (default 301)\n"
    "  --stores=LIST           comma list of alex,lmdb,rocksdb (default: all compiled in)\n"
    "  --dir=PATH              base directory; a mkdtemp inside it is used and removed\n"
    "                          (default: a mkdtemp under /tmp)\n"
    "  --json=FILE             also write the results as JSON\n"
    "  --sync[=0|1]            sync every write in every store; runs fillrandom only\n"
    "  --repetitions=K         run everything K times; the table shows medians (default 1)\n"
    "  --alex_compression=C    none (default, the engine's default) or lz4\n"
    "  --alex_verify_checksums=0|1  AlexStorage read option (default 1, the engine's default)\n"
    "  --rocksdb_cache_mb=M    RocksDB LRU block cache (default 256)\n"
    "  --bloom_bits=B          RocksDB bloom filter bits per key, 0 for none (default 10)\n"
    "  --keep[=0|1]            keep the database directories (default 0)\n"
    "  --settle[=0|1]          wait for background work (RocksDB compactions) after the\n"
    "                          fill, before the reads (default 1; the wait is reported)\n";

/* ---------------------------------------------------------------------------------------- */
/* Small helpers.                                                                            */

/* Streams derived from --seed, so that each phase restarts the same sequence for every store. */
enum { STREAM_PERM = 1, STREAM_READ = 2, STREAM_MIXED = 3, STREAM_VALUES = 4, STREAM_REOPEN = 5 };
static uint64_t stream_seed(int stream)
{
    uint64_t s = flags.seed ^ ((uint64_t)stream * 0x2545f4914f6cdd1du);
    return rng_next(&s);
}

/* Involuntary context switches of the benchmark thread so far (not of the stores' background
 * threads): each is a preemption that lands in some operation's time (the machine may be
 * shared, or a store's own threads may compete for the cores). */
static uint64_t preemptions(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_THREAD, &ru) == 0 ? (uint64_t)ru.ru_nivcsw : 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* ---------------------------------------------------------------------------------------- */
/* Keys and values.                                                                          */

/* db_bench GenerateKeyFromInt, key_size 16, no prefixes. */
static inline size_t key_dbbench(uint8_t *buf, uint64_t k)
{
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(k >> (56 - 8 * i));
    memset(buf + 8, '0', KEY_SIZE - 8);
    return KEY_SIZE;
}

static inline size_t key_profile(uint8_t *buf, uint64_t k)
{
    static const char prefix[] = "user:profile:";
    memcpy(buf, prefix, sizeof prefix - 1);
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + k % 10);
        k /= 10;
    } while (k);
    size_t len = sizeof prefix - 1;
    while (n)
        buf[len++] = (uint8_t)digits[--n];
    return len;
}

typedef size_t (*key_fn)(uint8_t *buf, uint64_t k);

static uint8_t *value_pool; /* VALUE_POOL_PIECES values of VALUE_SIZE bytes */

static void value_pool_init(void)
{
    value_pool = bench_value_pool(VALUE_POOL_PIECES, VALUE_SIZE, stream_seed(STREAM_VALUES));
}

/* The value of write number w (0-based over the whole run of one store). */
static inline const uint8_t *value_for(uint64_t w)
{
    return value_pool + (w % VALUE_POOL_PIECES) * VALUE_SIZE;
}

/* ---------------------------------------------------------------------------------------- */
/* The stores, behind one small interface. Functions return 0, or -1 with s->err set.        */

typedef struct store store;
typedef struct store_class {
    const char *name;  /* --stores name */
    const char *title; /* table column */
    int (*open)(store *s, const char *dir);
    int (*close)(store *s);
    int (*put)(store *s, const void *k, size_t kl, const void *v, size_t vl);
    /* Copies the value into buf (cap bytes); *vlen is its full length. */
    int (*get)(store *s, const void *k, size_t kl, void *buf, size_t cap, size_t *vlen,
               bool *found);
    void (*describe)(store *s, char *buf, size_t len); /* configuration, one line */
    /* Waits until no background work is pending; NULL when the store has none. */
    int (*settle)(store *s);
} store_class;

struct store {
    const store_class *cls;
    bool sync;
    double reported_open_seconds; /* < 0: the store does not report one */
    char err[512];
    /* AlexStorage */
    axs_db *axs;
    axs_write_options axs_wo;
    axs_read_options axs_ro;
#ifdef STORE_BENCH_HAVE_LMDB
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *rtxn; /* reset between gets, renewed for each */
    size_t mapsize;
#endif
#ifdef STORE_BENCH_HAVE_ROCKSDB
    rocksdb_t *rdb;
    rocksdb_options_t *ropts;
    rocksdb_block_based_table_options_t *bbto;
    rocksdb_cache_t *cache;
    rocksdb_writeoptions_t *rwo;
    rocksdb_readoptions_t *rro;
#endif
};

static int store_fail(store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int store_fail(store *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* AlexStorage: the native db.h API, default options apart from the flags above. */
static int alex_open(store *s, const char *dir)
{
    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = true;
    o.compression = flags.alex_compression;
    axs_write_options_init(&s->axs_wo);
    s->axs_wo.sync = s->sync;
    axs_read_options_init(&s->axs_ro);
    s->axs_ro.verify_checksums = flags.alex_verify;
    char *msg = NULL;
    int rc = axs_open(dir, &o, &s->axs, &msg);
    if (rc) {
        store_fail(s, "axs_open: %s: %s", axs_strerror(rc), msg ? msg : "");
        free(msg);
        return -1;
    }
    axs_stats st;
    axs_get_stats(s->axs, &st);
    s->reported_open_seconds = st.open_seconds;
    return 0;
}

static int alex_close(store *s)
{
    int rc = axs_close(s->axs);
    s->axs = NULL;
    return rc ? store_fail(s, "axs_close: %s", axs_strerror(rc)) : 0;
}

static int alex_put(store *s, const void *k, size_t kl, const void *v, size_t vl)
{
    int rc = axs_put(s->axs, &s->axs_wo, k, kl, v, vl);
    return rc ? store_fail(s, "axs_put: %s: %s", axs_strerror(rc), axs_last_error(s->axs)) : 0;
}

static int alex_get(store *s, const void *k, size_t kl, void *buf, size_t cap, size_t *vlen,
                    bool *found)
{
    int rc = axs_get(s->axs, &s->axs_ro, k, kl, buf, cap, vlen, found);
    return rc ? store_fail(s, "axs_get: %s: %s", axs_strerror(rc), axs_last_error(s->axs)) : 0;
}

static void alex_describe(store *s, char *buf, size_t len)
{
    snprintf(buf, len,
             "AlexStorage %s: axs_options defaults (compression %s, segment 64 MiB); "
             "write sync=%d; gets with axs_get (copy into caller buffer, verify_checksums=%d)",
             STORE_BENCH_ALEXSTORAGE_VERSION,
             flags.alex_compression == AXS_COMPRESSION_LZ4 ? "lz4" : "none", s->sync,
             flags.alex_verify);
}

static const store_class alex_class = {"alex", "AlexStorage", alex_open, alex_close,
                                       alex_put, alex_get, alex_describe, NULL};

#ifdef STORE_BENCH_HAVE_LMDB
/* LMDB: one write transaction per put (one operation per transaction); MDB_NOSYNC unless
 * --sync. Gets renew one read transaction, copy the value out and reset it. */
static size_t lmdb_mapsize(void) /* 1 GiB + 2 KiB per key: room for the overwrites' copies */
{
    return ((size_t)1 << 30) + (size_t)flags.num * 2048u;
}

static int lmdb_open(store *s, const char *dir)
{
    int rc;
    MDB_txn *txn = NULL;
    s->reported_open_seconds = -1;
    s->mapsize = lmdb_mapsize();
    if ((rc = mdb_env_create(&s->env)))
        return store_fail(s, "mdb_env_create: %s", mdb_strerror(rc));
    if ((rc = mdb_env_set_mapsize(s->env, s->mapsize)))
        goto fail;
    if ((rc = mdb_env_open(s->env, dir, s->sync ? 0 : MDB_NOSYNC, 0644)))
        goto fail;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
        goto fail;
    if ((rc = mdb_dbi_open(txn, NULL, 0, &s->dbi)))
        goto fail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc)
        goto fail;
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn)))
        goto fail;
    mdb_txn_reset(s->rtxn);
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(s->env);
    s->env = NULL;
    return store_fail(s, "lmdb open %s: %s", dir, mdb_strerror(rc));
}

static int lmdb_close(store *s)
{
    mdb_txn_abort(s->rtxn);
    s->rtxn = NULL;
    mdb_env_close(s->env);
    s->env = NULL;
    return 0;
}

static int lmdb_put(store *s, const void *k, size_t kl, const void *v, size_t vl)
{
    MDB_txn *txn;
    MDB_val mk = {kl, (void *)k}, mv = {vl, (void *)v};
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return store_fail(s, "mdb_txn_begin: %s", mdb_strerror(rc));
    if ((rc = mdb_put(txn, s->dbi, &mk, &mv, 0))) {
        mdb_txn_abort(txn);
        return store_fail(s, "mdb_put: %s", mdb_strerror(rc));
    }
    if ((rc = mdb_txn_commit(txn)))
        return store_fail(s, "mdb_txn_commit: %s", mdb_strerror(rc));
    return 0;
}

static int lmdb_get(store *s, const void *k, size_t kl, void *buf, size_t cap, size_t *vlen,
                    bool *found)
{
    MDB_val mk = {kl, (void *)k}, mv;
    int rc = mdb_txn_renew(s->rtxn);
    if (rc)
        return store_fail(s, "mdb_txn_renew: %s", mdb_strerror(rc));
    rc = mdb_get(s->rtxn, s->dbi, &mk, &mv);
    if (rc == 0) {
        *found = true;
        *vlen = mv.mv_size;
        memcpy(buf, mv.mv_data, mv.mv_size < cap ? mv.mv_size : cap);
    } else {
        *found = false;
    }
    mdb_txn_reset(s->rtxn);
    if (rc && rc != MDB_NOTFOUND)
        return store_fail(s, "mdb_get: %s", mdb_strerror(rc));
    return 0;
}

static void lmdb_describe(store *s, char *buf, size_t len)
{
    snprintf(buf, len,
             "%s; %s, mapsize %zu MiB, one write txn per put; gets renew/reset one "
             "read txn and copy the value",
             MDB_VERSION_STRING, s->sync ? "default flags (sync on commit)" : "MDB_NOSYNC",
             s->mapsize >> 20);
}

static const store_class lmdb_class = {"lmdb", "LMDB", lmdb_open, lmdb_close,
                                       lmdb_put, lmdb_get, lmdb_describe, NULL};
#endif

#ifdef STORE_BENCH_HAVE_ROCKSDB
/* RocksDB: default options, a block cache that holds the data, a bloom filter; default
 * WriteOptions (WAL on, no sync) unless --sync. Gets use rocksdb_get_pinned and copy. */
static const char *rocksdb_compression_name(int c)
{
    switch (c) {
    case rocksdb_no_compression: return "none";
    case rocksdb_snappy_compression: return "snappy";
    case rocksdb_zlib_compression: return "zlib";
    case rocksdb_bz2_compression: return "bz2";
    case rocksdb_lz4_compression: return "lz4";
    case rocksdb_lz4hc_compression: return "lz4hc";
    case rocksdb_xpress_compression: return "xpress";
    case rocksdb_zstd_compression: return "zstd";
    default: return "?";
    }
}

static void rocksdb_free_all(store *s)
{
    if (s->rdb)
        rocksdb_close(s->rdb);
    if (s->ropts)
        rocksdb_options_destroy(s->ropts);
    if (s->bbto)
        rocksdb_block_based_options_destroy(s->bbto);
    if (s->cache)
        rocksdb_cache_destroy(s->cache);
    if (s->rwo)
        rocksdb_writeoptions_destroy(s->rwo);
    if (s->rro)
        rocksdb_readoptions_destroy(s->rro);
    s->rdb = NULL;
    s->ropts = NULL;
    s->bbto = NULL;
    s->cache = NULL;
    s->rwo = NULL;
    s->rro = NULL;
}

static int rocks_open(store *s, const char *dir)
{
    char *err = NULL;
    s->reported_open_seconds = -1;
    s->ropts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s->ropts, 1);
    s->bbto = rocksdb_block_based_options_create();
    s->cache = rocksdb_cache_create_lru((size_t)flags.rocksdb_cache_mb << 20);
    rocksdb_block_based_options_set_block_cache(s->bbto, s->cache);
    if (flags.bloom_bits > 0)
        rocksdb_block_based_options_set_filter_policy(
            s->bbto, rocksdb_filterpolicy_create_bloom_full(flags.bloom_bits));
    rocksdb_options_set_block_based_table_factory(s->ropts, s->bbto);
    s->rwo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->rwo, s->sync);
    s->rro = rocksdb_readoptions_create();
    s->rdb = rocksdb_open(s->ropts, dir, &err);
    if (err) {
        store_fail(s, "rocksdb_open %s: %s", dir, err);
        rocksdb_free(err);
        s->rdb = NULL;
        rocksdb_free_all(s);
        return -1;
    }
    return 0;
}

static int rocks_close(store *s)
{
    rocksdb_free_all(s);
    return 0;
}

static int rocks_put(store *s, const void *k, size_t kl, const void *v, size_t vl)
{
    char *err = NULL;
    rocksdb_put(s->rdb, s->rwo, k, kl, v, vl, &err);
    if (err) {
        store_fail(s, "rocksdb_put: %s", err);
        rocksdb_free(err);
        return -1;
    }
    return 0;
}

static int rocks_get(store *s, const void *k, size_t kl, void *buf, size_t cap, size_t *vlen,
                     bool *found)
{
    char *err = NULL;
    rocksdb_pinnableslice_t *p = rocksdb_get_pinned(s->rdb, s->rro, k, kl, &err);
    if (err) {
        store_fail(s, "rocksdb_get_pinned: %s", err);
        rocksdb_free(err);
        return -1;
    }
    *found = p != NULL;
    if (p) {
        const char *v = rocksdb_pinnableslice_value(p, vlen);
        memcpy(buf, v, *vlen < cap ? *vlen : cap);
        rocksdb_pinnableslice_destroy(p);
    }
    return 0;
}

static void rocks_describe(store *s, char *buf, size_t len)
{
    rocksdb_options_t *o = rocksdb_options_create();
    int comp = rocksdb_options_get_compression(o);
    rocksdb_options_destroy(o);
    snprintf(buf, len,
             "RocksDB %s: default options, compression %s (default), LRU block cache "
             "%" PRIu64 " MiB, bloom filter %d bits/key (full filter); WriteOptions default "
             "(WAL on, sync=%d); gets with rocksdb_get_pinned + copy, default ReadOptions",
             STORE_BENCH_ROCKSDB_HEADER_VERSION, rocksdb_compression_name(comp),
             flags.rocksdb_cache_mb, flags.bloom_bits, s->sync);
}

/* Polls RocksDB's properties until no flush or compaction is running or pending (10 ms steps,
 * at most 10 minutes). */
static int rocks_settle(store *s)
{
    static const char *const props[] = {"rocksdb.mem-table-flush-pending",
                                        "rocksdb.num-running-flushes",
                                        "rocksdb.compaction-pending",
                                        "rocksdb.num-running-compactions"};
    for (int step = 0; step < 60000; step++) {
        uint64_t busy = 0;
        for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
            uint64_t v = 0;
            if (rocksdb_property_int(s->rdb, props[i], &v) != 0)
                return store_fail(s, "rocksdb_property_int %s failed", props[i]);
            busy += v;
        }
        if (!busy)
            return 0;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return store_fail(s, "background work still running after 10 minutes");
}

static const store_class rocksdb_class = {"rocksdb", "RocksDB", rocks_open, rocks_close,
                                          rocks_put, rocks_get, rocks_describe, rocks_settle};
#endif

static const store_class *const all_classes[] = {
    &alex_class,
#ifdef STORE_BENCH_HAVE_LMDB
    &lmdb_class,
#endif
#ifdef STORE_BENCH_HAVE_ROCKSDB
    &rocksdb_class,
#endif
};
#define NUM_CLASSES (sizeof all_classes / sizeof all_classes[0])

/* ---------------------------------------------------------------------------------------- */
/* Metrics: one table row each.                                                              */

enum metric {
    M_FILL_US, M_FILL_OPS,
    M_READ_P50, M_READ_P99, M_READ_P999, M_READ_MEAN, M_READ_OPS,
    M_MIXED_MEAN, M_MIXED_P50, M_MIXED_P99, M_MIXED_OPS,
    M_MIXED_READ_P50, M_MIXED_WRITE_P50, M_MIXED_WRITE_P99,
    M_CLOSE_MS, M_OPEN_MS, M_OPEN_REPORTED_MS,
    M_DISK_BYTES, M_ALLOC_BYTES, M_INDEX_BYTES,
    M_PROFILE_FILL_US, M_PROFILE_P50, M_PROFILE_RATIO,
    M_SYNC_FILL_US, M_SYNC_FILL_OPS, M_SYNC_P50, M_SYNC_P99,
    M_SETTLE_MS,
    M_PREEMPTIONS,
    M_COUNT
};

static const struct metric_info {
    const char *json; /* key in the JSON */
    const char *label;
    int digits;
    bool no_ratio; /* a diagnostic, not a comparison */
} metrics[M_COUNT] = {
    [M_FILL_US] = {"fillrandom_us_per_op", "fillrandom mean (us/op)", 3},
    [M_FILL_OPS] = {"fillrandom_ops_per_sec", "fillrandom (ops/s)", 0},
    [M_READ_P50] = {"readrandom_p50_ns", "readrandom p50 (ns)", 0},
    [M_READ_P99] = {"readrandom_p99_ns", "readrandom p99 (ns)", 0},
    [M_READ_P999] = {"readrandom_p999_ns", "readrandom p99.9 (ns)", 0},
    [M_READ_MEAN] = {"readrandom_mean_ns", "readrandom mean (ns)", 0},
    [M_READ_OPS] = {"readrandom_ops_per_sec", "readrandom (ops/s)", 0},
    [M_MIXED_MEAN] = {"mixed_mean_ns", "mixed 80/20 mean (ns/op)", 0},
    [M_MIXED_P50] = {"mixed_p50_ns", "mixed 80/20 p50 (ns)", 0},
    [M_MIXED_P99] = {"mixed_p99_ns", "mixed 80/20 p99 (ns)", 0},
    [M_MIXED_OPS] = {"mixed_ops_per_sec", "mixed 80/20 (ops/s)", 0},
    [M_MIXED_READ_P50] = {"mixed_read_p50_ns", "mixed: reads p50 (ns)", 0},
    [M_MIXED_WRITE_P50] = {"mixed_write_p50_ns", "mixed: writes p50 (ns)", 0},
    [M_MIXED_WRITE_P99] = {"mixed_write_p99_ns", "mixed: writes p99 (ns)", 0},
    [M_CLOSE_MS] = {"close_ms", "close (ms)", 2},
    [M_OPEN_MS] = {"reopen_ms", "reopen: open (ms)", 2},
    [M_OPEN_REPORTED_MS] = {"reopen_reported_ms", "reopen: open, store's own figure (ms)", 2},
    [M_DISK_BYTES] = {"disk_bytes_per_key", "on disk after close: file sizes / N (bytes/key)", 1},
    [M_ALLOC_BYTES] = {"disk_alloc_bytes_per_key",
                       "on disk after close: blocks / N (bytes/key)", 1},
    [M_INDEX_BYTES] = {"index_memory_bytes_per_key", "index memory / N (bytes/key)", 1},
    [M_PROFILE_FILL_US] = {"profile_fillrandom_us_per_op",
                           "user:profile keys: fillrandom (us/op)", 3},
    [M_PROFILE_P50] = {"profile_readrandom_p50_ns", "user:profile keys: readrandom p50 (ns)", 0},
    [M_PROFILE_RATIO] = {"profile_over_dbbench_p50",
                         "get p50 ratio user:profile / db_bench keys", 2, true},
    [M_SYNC_FILL_US] = {"sync_fillrandom_us_per_op", "fillrandom, sync each write (us/op)", 1},
    [M_SYNC_FILL_OPS] = {"sync_fillrandom_ops_per_sec", "fillrandom, sync each write (ops/s)", 0},
    [M_SYNC_P50] = {"sync_fillrandom_p50_us", "fillrandom, sync each write: p50 (us)", 1},
    [M_SYNC_P99] = {"sync_fillrandom_p99_us", "fillrandom, sync each write: p99 (us)", 1},
    [M_SETTLE_MS] = {"settle_after_fill_ms",
                     "settle after fill: wait for background work (ms)", 1, true},
    [M_PREEMPTIONS] = {"involuntary_context_switches",
                       "preemptions of the benchmark thread in timed phases (noise)", 0, true},
};

typedef struct result {
    double v[M_COUNT];
    bool have[M_COUNT];
} result;

static void set_metric(result *r, enum metric m, double v)
{
    r->v[m] = v;
    r->have[m] = true;
}

/* Nearest-rank percentile of sorted samples. */
static uint64_t percentile(const uint64_t *sorted, size_t n, double p)
{
    if (!n)
        return 0;
    size_t rank = (size_t)(p * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static double mean_u64(const uint64_t *a, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)a[i];
    return n ? sum / (double)n : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Files.                                                                                    */

static uint64_t du_size, du_blocks;
static int du_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (type == FTW_F) {
        du_size += (uint64_t)st->st_size;
        du_blocks += (uint64_t)st->st_blocks * 512u;
    }
    return 0;
}

static void dir_usage(const char *dir, uint64_t *size, uint64_t *blocks)
{
    du_size = du_blocks = 0;
    if (nftw(dir, du_visit, 16, FTW_PHYS) != 0)
        die("measuring %s: %s", dir, strerror(errno));
    *size = du_size;
    *blocks = du_blocks;
}

/* ---------------------------------------------------------------------------------------- */
/* Phases.                                                                                   */

typedef struct bench_ctx {
    uint64_t n;
    uint64_t *perm;   /* fill order */
    uint32_t *widx;   /* write number of each key's current value */
    uint64_t writes;  /* writes so far in this store's run (value_for index) */
    uint64_t *lat;    /* n samples */
    uint64_t *lat_r;  /* mixed: read samples */
    uint64_t *lat_w;  /* mixed: write samples */
} bench_ctx;

static void check(store *s, int rc, const char *phase)
{
    if (rc)
        die("%s: %s: %s", s->cls->name, phase, s->err);
}

static void verify_value(store *s, const char *phase, uint64_t k, bool found, size_t vlen,
                         const uint8_t *buf, uint32_t w)
{
    if (!found)
        die("%s: %s: key %" PRIu64 " not found", s->cls->name, phase, k);
    if (vlen != VALUE_SIZE || memcmp(buf, value_for(w), VALUE_SIZE) != 0)
        die("%s: %s: key %" PRIu64 " has a wrong value (length %zu)", s->cls->name, phase, k,
            vlen);
}

/* Puts every key once in permutation order. per_op: also time each put into ctx->lat. */
static double phase_fill(store *s, bench_ctx *c, key_fn kf, bool per_op)
{
    uint8_t key[PROFILE_KEY_MAX];
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < c->n; i++) {
        uint64_t k = c->perm[i];
        size_t kl = kf(key, k);
        uint64_t w = c->writes++;
        uint64_t a = per_op ? now_ns() : 0;
        check(s, s->cls->put(s, key, kl, value_for(w), VALUE_SIZE), "fillrandom");
        if (per_op)
            c->lat[i] = now_ns() - a;
        c->widx[k] = (uint32_t)w;
    }
    return (double)(now_ns() - t0);
}

/* N gets of uniformly drawn keys; per-op latency into ctx->lat. Returns the loop's ns. */
static double phase_read(store *s, bench_ctx *c, key_fn kf)
{
    uint8_t key[PROFILE_KEY_MAX], buf[VALUE_SIZE];
    uint64_t rs = stream_seed(STREAM_READ);
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < c->n; i++) {
        uint64_t k = rng_next(&rs) % c->n;
        size_t kl = kf(key, k), vlen = 0;
        bool found = false;
        uint64_t a = now_ns();
        int rc = s->cls->get(s, key, kl, buf, sizeof buf, &vlen, &found);
        c->lat[i] = now_ns() - a;
        check(s, rc, "readrandom");
        verify_value(s, "readrandom", k, found, vlen, buf, c->widx[k]);
    }
    return (double)(now_ns() - t0);
}

/* N operations: i % 100 < 80 reads, the rest overwrites. Returns the loop's ns. */
static double phase_mixed(store *s, bench_ctx *c, size_t *nr, size_t *nw)
{
    uint8_t key[KEY_SIZE], buf[VALUE_SIZE];
    uint64_t rs = stream_seed(STREAM_MIXED);
    size_t r = 0, w = 0;
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < c->n; i++) {
        uint64_t k = rng_next(&rs) % c->n;
        key_dbbench(key, k);
        if (i % 100 < 80) {
            size_t vlen = 0;
            bool found = false;
            uint64_t a = now_ns();
            int rc = s->cls->get(s, key, KEY_SIZE, buf, sizeof buf, &vlen, &found);
            uint64_t d = now_ns() - a;
            c->lat[i] = c->lat_r[r++] = d;
            check(s, rc, "mixed read");
            verify_value(s, "mixed read", k, found, vlen, buf, c->widx[k]);
        } else {
            uint64_t wn = c->writes++;
            uint64_t a = now_ns();
            int rc = s->cls->put(s, key, KEY_SIZE, value_for(wn), VALUE_SIZE);
            uint64_t d = now_ns() - a;
            c->lat[i] = c->lat_w[w++] = d;
            check(s, rc, "mixed write");
            c->widx[k] = (uint32_t)wn;
        }
    }
    *nr = r;
    *nw = w;
    return (double)(now_ns() - t0);
}

/* Gets a sample of keys after the reopen (untimed): the data must have survived. */
static void verify_sample(store *s, bench_ctx *c)
{
    uint8_t key[KEY_SIZE], buf[VALUE_SIZE];
    uint64_t rs = stream_seed(STREAM_REOPEN);
    uint64_t checks = c->n < REOPEN_CHECKS ? c->n : REOPEN_CHECKS;
    for (uint64_t i = 0; i < checks; i++) {
        uint64_t k = rng_next(&rs) % c->n;
        size_t vlen = 0;
        bool found = false;
        check(s, s->cls->get(s, key, key_dbbench(key, k), buf, sizeof buf, &vlen, &found),
              "check after reopen");
        verify_value(s, "check after reopen", k, found, vlen, buf, c->widx[k]);
    }
}

static void sort_u64(uint64_t *a, size_t n)
{
    qsort(a, n, sizeof *a, cmp_u64);
}

static void make_store_dir(char *out, size_t len, const char *base, const char *name, int rep,
                           const char *suffix)
{
    int n = snprintf(out, len, "%s/%s%s-r%d", base, name, suffix, rep);
    if (n < 0 || (size_t)n >= len)
        die("directory name too long under %s", base);
    if (mkdir(out, 0755) != 0)
        die("mkdir %s: %s", out, strerror(errno));
}

static void finish_store_dir(const char *dir)
{
    if (!flags.keep)
        remove_tree(dir);
    sync(); /* so that this store's dirty pages are not written back during the next one's */
}

/* One store, one repetition: the whole sequence of phases. */
static void run_store(const store_class *cls, bench_ctx *c, const char *base, int rep,
                      result *res)
{
    store s;
    memset(&s, 0, sizeof s);
    s.cls = cls;
    s.sync = flags.sync;
    s.reported_open_seconds = -1;
    char dir[4096];
    double ns;
    uint64_t n = c->n;

    make_store_dir(dir, sizeof dir, base, cls->name, rep, "");
    check(&s, cls->open(&s, dir), "open");
    c->writes = 0;

    if (flags.sync) {
        progress("[%s r%d] fillrandom, sync every write, %" PRIu64 " keys", cls->name, rep, n);
        uint64_t p0 = preemptions();
        ns = phase_fill(&s, c, key_dbbench, true);
        set_metric(res, M_PREEMPTIONS, (double)(preemptions() - p0));
        sort_u64(c->lat, n);
        set_metric(res, M_SYNC_FILL_US, ns / (double)n / 1e3);
        set_metric(res, M_SYNC_FILL_OPS, (double)n / (ns / 1e9));
        set_metric(res, M_SYNC_P50, (double)percentile(c->lat, n, 0.50) / 1e3);
        set_metric(res, M_SYNC_P99, (double)percentile(c->lat, n, 0.99) / 1e3);
        check(&s, cls->close(&s), "close");
        finish_store_dir(dir);
        return;
    }

    progress("[%s r%d] fillrandom %" PRIu64 " keys", cls->name, rep, n);
    uint64_t p0 = preemptions(), pre = 0, t0;
    ns = phase_fill(&s, c, key_dbbench, false);
    pre += preemptions() - p0;
    set_metric(res, M_FILL_US, ns / (double)n / 1e3);
    set_metric(res, M_FILL_OPS, (double)n / (ns / 1e9));

    if (flags.settle) {
        t0 = now_ns();
        if (cls->settle)
            check(&s, cls->settle(&s), "settle");
        set_metric(res, M_SETTLE_MS, (double)(now_ns() - t0) / 1e6);
    }

    progress("[%s r%d] readrandom", cls->name, rep);
    p0 = preemptions();
    ns = phase_read(&s, c, key_dbbench);
    pre += preemptions() - p0;
    set_metric(res, M_READ_OPS, (double)n / (ns / 1e9));
    set_metric(res, M_READ_MEAN, mean_u64(c->lat, n));
    sort_u64(c->lat, n);
    set_metric(res, M_READ_P50, (double)percentile(c->lat, n, 0.50));
    set_metric(res, M_READ_P99, (double)percentile(c->lat, n, 0.99));
    set_metric(res, M_READ_P999, (double)percentile(c->lat, n, 0.999));

    progress("[%s r%d] mixed 80/20", cls->name, rep);
    size_t nr, nw;
    p0 = preemptions();
    ns = phase_mixed(&s, c, &nr, &nw);
    pre += preemptions() - p0;
    set_metric(res, M_PREEMPTIONS, (double)pre);
    set_metric(res, M_MIXED_OPS, (double)n / (ns / 1e9));
    set_metric(res, M_MIXED_MEAN, mean_u64(c->lat, n));
    sort_u64(c->lat, n);
    sort_u64(c->lat_r, nr);
    sort_u64(c->lat_w, nw);
    set_metric(res, M_MIXED_P50, (double)percentile(c->lat, n, 0.50));
    set_metric(res, M_MIXED_P99, (double)percentile(c->lat, n, 0.99));
    set_metric(res, M_MIXED_READ_P50, (double)percentile(c->lat_r, nr, 0.50));
    set_metric(res, M_MIXED_WRITE_P50, (double)percentile(c->lat_w, nw, 0.50));
    set_metric(res, M_MIXED_WRITE_P99, (double)percentile(c->lat_w, nw, 0.99));

    if (cls == &alex_class) {
        axs_stats st;
        axs_get_stats(s.axs, &st);
        set_metric(res, M_INDEX_BYTES, (double)st.index_bytes / (double)n);
        progress("[%s r%d] stats before close: keys %" PRIu64 ", segments %" PRIu64
                 ", log %" PRIu64 " B, live %" PRIu64 " B, index %" PRIu64 " B",
                 cls->name, rep, st.num_keys, st.segments, st.log_bytes, st.live_bytes,
                 st.index_bytes);
    }

    progress("[%s r%d] close, measure, reopen", cls->name, rep);
    t0 = now_ns();
    check(&s, cls->close(&s), "close");
    set_metric(res, M_CLOSE_MS, (double)(now_ns() - t0) / 1e6);
    uint64_t size, blocks;
    dir_usage(dir, &size, &blocks);
    set_metric(res, M_DISK_BYTES, (double)size / (double)n);
    set_metric(res, M_ALLOC_BYTES, (double)blocks / (double)n);
    t0 = now_ns();
    check(&s, cls->open(&s, dir), "reopen");
    set_metric(res, M_OPEN_MS, (double)(now_ns() - t0) / 1e6);
    if (s.reported_open_seconds >= 0)
        set_metric(res, M_OPEN_REPORTED_MS, s.reported_open_seconds * 1e3);
    verify_sample(&s, c);
    check(&s, cls->close(&s), "close after reopen");
    finish_store_dir(dir);

    if (cls == &alex_class) {
        /* The same fill and reads with "user:profile:<id>" keys, in a fresh database. */
        make_store_dir(dir, sizeof dir, base, cls->name, rep, "-profile");
        check(&s, cls->open(&s, dir), "open (profile keys)");
        c->writes = 0;
        progress("[%s r%d] user:profile keys: fillrandom, readrandom", cls->name, rep);
        ns = phase_fill(&s, c, key_profile, false);
        set_metric(res, M_PROFILE_FILL_US, ns / (double)n / 1e3);
        phase_read(&s, c, key_profile);
        sort_u64(c->lat, n);
        double p50 = (double)percentile(c->lat, n, 0.50);
        set_metric(res, M_PROFILE_P50, p50);
        if (res->v[M_READ_P50] > 0)
            set_metric(res, M_PROFILE_RATIO, p50 / res->v[M_READ_P50]);
        check(&s, cls->close(&s), "close (profile keys)");
        finish_store_dir(dir);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Environment.                                                                              */

/* The header's version, and the library's own: RocksDB writes "rocksdb_version=x.y.z" into
 * the OPTIONS file of every database it opens, so a throwaway database under base tells it. */
static char rocksdb_runtime[32] = "not built";
static void rocksdb_probe_runtime(const char *base)
{
#ifdef STORE_BENCH_HAVE_ROCKSDB
    char dir[4096];
    snprintf(rocksdb_runtime, sizeof rocksdb_runtime, "unknown");
    if (snprintf(dir, sizeof dir, "%s/rocksdb-version-probe", base) >= (int)sizeof dir)
        return;
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, dir, &err);
    if (db)
        rocksdb_close(db);
    rocksdb_free(err);
    rocksdb_options_destroy(o);
    DIR *d = opendir(dir);
    for (struct dirent *de; d && (de = readdir(d));) {
        if (strncmp(de->d_name, "OPTIONS-", 8) != 0)
            continue;
        char path[4352], line[256];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f)) {
            char *p = strstr(line, "rocksdb_version=");
            if (p) {
                p += strlen("rocksdb_version=");
                p[strcspn(p, "\r\n")] = 0;
                snprintf(rocksdb_runtime, sizeof rocksdb_runtime, "%s", p);
                break;
            }
        }
        if (f)
            fclose(f);
        break;
    }
    if (d)
        closedir(d);
    remove_tree(dir);
#else
    (void)base;
#endif
}

typedef struct env_info {
    bench_env m;       /* the machine (bench_env.h) */
    double clock_p50, clock_mean; /* one clock_gettime pair, ns */
} env_info;

/* Median cost of one clock_gettime pair, as seen by the per-op timings. */
static void clock_overhead(double *p50, double *mean)
{
    enum { SAMPLES = 200000 };
    uint64_t *d = xmalloc(SAMPLES * sizeof *d);
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t a = now_ns();
        d[i] = now_ns() - a;
    }
    *mean = mean_u64(d, SAMPLES);
    sort_u64(d, SAMPLES);
    *p50 = (double)percentile(d, SAMPLES, 0.5);
    free(d);
}

static void gather_env(env_info *e, const char *base, int argc, char **argv)
{
    bench_env_gather(&e->m, base, argc, argv);
    clock_overhead(&e->clock_p50, &e->clock_mean);
    rocksdb_probe_runtime(base);
}

static const char *assertions(void)
{
#ifdef NDEBUG
    return "off (NDEBUG)";
#else
    return "ON (numbers not representative)";
#endif
}

static void lmdb_version_str(char *buf, size_t len)
{
#ifdef STORE_BENCH_HAVE_LMDB
    int ma, mi, pa;
    mdb_version(&ma, &mi, &pa);
    snprintf(buf, len, "%d.%d.%d", ma, mi, pa);
#else
    snprintf(buf, len, "not built");
#endif
}

static void rocksdb_version_str(char *buf, size_t len)
{
#ifdef STORE_BENCH_HAVE_ROCKSDB
    snprintf(buf, len, "%s", STORE_BENCH_ROCKSDB_HEADER_VERSION);
#else
    snprintf(buf, len, "not built");
#endif
}

/* ---------------------------------------------------------------------------------------- */
/* Output.                                                                                   */

static const store_class *sel[MAX_STORES];
static int nsel;
static char describe_lines[MAX_STORES][768];
static result results[MAX_REPS][MAX_STORES];
static result medians[MAX_STORES];

static int sel_index(const char *name)
{
    for (int i = 0; i < nsel; i++)
        if (strcmp(sel[i]->name, name) == 0)
            return i;
    return -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void compute_medians(void)
{
    double vals[MAX_REPS];
    for (int s = 0; s < nsel; s++) {
        for (int m = 0; m < M_COUNT; m++) {
            int k = 0;
            for (int r = 0; r < flags.repetitions; r++)
                if (results[r][s].have[m])
                    vals[k++] = results[r][s].v[m];
            if (!k)
                continue;
            qsort(vals, (size_t)k, sizeof vals[0], cmp_double);
            double med = (k % 2) ? vals[k / 2] : (vals[k / 2 - 1] + vals[k / 2]) / 2;
            set_metric(&medians[s], (enum metric)m, med);
        }
    }
}

static void fmt_num(char *buf, size_t len, double v, int digits)
{
    if (digits == 0 || v >= 1e5) {
        /* thousands separators by hand: %' is not in C11 */
        char raw[64];
        snprintf(raw, sizeof raw, "%.0f", v);
        size_t n = strlen(raw), o = 0;
        for (size_t i = 0; i < n && o + 2 < len; i++) {
            buf[o++] = raw[i];
            size_t rest = n - i - 1;
            if (rest && rest % 3 == 0 && raw[i] != '-')
                buf[o++] = ',';
        }
        buf[o] = 0;
    } else {
        snprintf(buf, len, "%.*f", digits, v);
    }
}

static void print_env(const env_info *e, const char *base)
{
    char lmdbv[32], rocksv[32];
    lmdb_version_str(lmdbv, sizeof lmdbv);
    rocksdb_version_str(rocksv, sizeof rocksv);
    printf("## store_bench %s\n\n", e->m.date);
    printf("```\n");
    printf("command:      %s\n", e->m.cmdline);
    printf("CPU:          %s, %ld cores online, %" PRIu64 " MiB RAM\n", e->m.cpu, e->m.cores,
           e->m.mem_mib);
    printf("kernel:       %s; load average at start: %s\n", e->m.kernel, e->m.loadavg);
    printf("directory:    %s (%s)\n", base, e->m.fs);
    printf("AlexStorage:  %s, LZ4 %s (runtime)\n", STORE_BENCH_ALEXSTORAGE_VERSION,
           LZ4_versionString());
    printf("LMDB:         %s (runtime mdb_version)\n", lmdbv);
    printf("RocksDB:      %s (rocksdb/version.h), library %s (its OPTIONS file)\n", rocksv,
           rocksdb_runtime);
    printf("build:        %s, %s, C flags '%s', assertions %s%s%s\n", STORE_BENCH_BUILD_TYPE,
           STORE_BENCH_C_COMPILER, STORE_BENCH_C_FLAGS, assertions(),
           STORE_BENCH_SANITIZE[0] ? ", sanitizer " : "", STORE_BENCH_SANITIZE);
    printf("workload:     N=%" PRIu64 " keys, key 16 B (db_bench format), value %d B "
           "(50%% compressible), seed %" PRIu64 ", %d repetition(s)%s\n",
           flags.num, VALUE_SIZE, flags.seed, flags.repetitions,
           flags.sync ? ", --sync: every write synced, fillrandom only" : "");
    printf("clock:        clock_gettime(CLOCK_MONOTONIC) pair: p50 %.0f ns, mean %.1f ns; "
           "included in every per-op latency\n",
           e->clock_p50, e->clock_mean);
    printf("```\n\n");
    fflush(stdout);
}

static void print_table(void)
{
    int ia = sel_index("alex"), ir = sel_index("rocksdb"), il = sel_index("lmdb");
    bool ratio_r = ia >= 0 && ir >= 0, ratio_l = ia >= 0 && il >= 0;
    printf("Store configurations:\n\n");
    for (int s = 0; s < nsel; s++)
        printf("- %s\n", describe_lines[s]);
    printf("\n");
    if (flags.repetitions > 1)
        printf("Median of %d repetitions.\n\n", flags.repetitions);
    printf("| metric |");
    for (int s = 0; s < nsel; s++)
        printf(" %s |", sel[s]->title);
    if (ratio_r)
        printf(" AlexStorage/RocksDB |");
    if (ratio_l)
        printf(" AlexStorage/LMDB |");
    printf("\n|---|");
    for (int s = 0; s < nsel + ratio_r + ratio_l; s++)
        printf("--:|");
    printf("\n");
    for (int m = 0; m < M_COUNT; m++) {
        bool any = false;
        for (int s = 0; s < nsel; s++)
            any |= medians[s].have[m];
        if (!any)
            continue;
        printf("| %s |", metrics[m].label);
        for (int s = 0; s < nsel; s++) {
            char buf[64] = "";
            if (medians[s].have[m])
                fmt_num(buf, sizeof buf, medians[s].v[m], metrics[m].digits);
            printf(" %s |", buf[0] ? buf : "-");
        }
        int others[2] = {ratio_r ? ir : -1, ratio_l ? il : -1};
        for (int j = 0; j < 2; j++) {
            if (others[j] < 0)
                continue;
            const result *a = &medians[ia], *o = &medians[others[j]];
            if (!metrics[m].no_ratio && a->have[m] && o->have[m] && o->v[m] != 0)
                printf(" %.2f |", a->v[m] / o->v[m]);
            else
                printf(" - |");
        }
        printf("\n");
    }
    printf("\nRatios are AlexStorage's value over the other store's: below 1 is better for "
           "times, sizes and latencies, above 1 is better for ops/s.\n");
    if (flags.sync)
        printf("--sync: each put timed alone (clock pair included); us/op and ops/s from the "
               "loop's wall time. AlexStorage: axs_write_options.sync (fdatasync); LMDB: "
               "synced commit; RocksDB: WriteOptions.sync (WAL synced).\n");
    if (!flags.sync) {
        printf("fillrandom: one clock read around the whole loop (key formatting included). "
               "readrandom/mixed: each operation timed alone (clock pair included, see "
               "'clock' above); ops/s is N over the loop's wall time, which also includes the "
               "untimed value check. Mixed: op i reads if i %% 100 < 80, else overwrites; "
               "its writes are counted from write N on (values keep changing).\n");
        printf("On disk: after the mixed phase (N + %.0f%% overwrites) and close, before the "
               "reopen; 'file sizes' sums st_size, 'blocks' sums st_blocks * 512. Open: a "
               "wall-clock time around the open call; AlexStorage also reports its own.\n",
               20.0);
        printf("Settle: %s\n",
               flags.settle ? "after the fill, the driver waited (untimed) until RocksDB had "
                              "no flush or compaction running or pending; the row above shows "
                              "how long (the other stores have no background work)"
                            : "off (--settle=0): reads started right after the fill, while "
                              "RocksDB may still be compacting");
        printf("After each store: its directory is removed and sync() runs, so that no "
               "writeback of one store overlaps the next.\n");
    }
    fflush(stdout);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_result(FILE *f, const result *r, const char *indent)
{
    bool first = true;
    fputs("{", f);
    for (int m = 0; m < M_COUNT; m++) {
        if (!r->have[m])
            continue;
        fprintf(f, "%s\n%s  \"%s\": %.10g", first ? "" : ",", indent, metrics[m].json, r->v[m]);
        first = false;
    }
    fprintf(f, "\n%s}", indent);
}

static void write_json(const char *path, const env_info *e, const char *base)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die("--json: cannot write %s: %s", path, strerror(errno));
    char lmdbv[32], rocksv[32];
    lmdb_version_str(lmdbv, sizeof lmdbv);
    rocksdb_version_str(rocksv, sizeof rocksv);
    fprintf(f, "{\n  \"benchmark\": \"store_bench\",\n  \"environment\": {\n");
    fprintf(f, "    \"date\": ");
    json_str(f, e->m.date);
    fprintf(f, ",\n    \"command\": ");
    json_str(f, e->m.cmdline);
    fprintf(f, ",\n    \"cpu_model\": ");
    json_str(f, e->m.cpu);
    fprintf(f, ",\n    \"cores\": %ld,\n    \"memory_mib\": %" PRIu64 ",\n    \"kernel\": ",
            e->m.cores, e->m.mem_mib);
    json_str(f, e->m.kernel);
    fprintf(f, ",\n    \"loadavg_at_start\": ");
    json_str(f, e->m.loadavg);
    fprintf(f, ",\n    \"directory\": ");
    json_str(f, base);
    fprintf(f, ",\n    \"filesystem\": ");
    json_str(f, e->m.fs);
    fprintf(f, ",\n    \"alexstorage_version\": ");
    json_str(f, STORE_BENCH_ALEXSTORAGE_VERSION);
    fprintf(f, ",\n    \"lz4_version\": ");
    json_str(f, LZ4_versionString());
    fprintf(f, ",\n    \"lmdb_version\": ");
    json_str(f, lmdbv);
    fprintf(f, ",\n    \"rocksdb_version\": ");
    json_str(f, rocksv);
    fprintf(f, ",\n    \"rocksdb_library_version\": ");
    json_str(f, rocksdb_runtime);
    fprintf(f, ",\n    \"build_type\": ");
    json_str(f, STORE_BENCH_BUILD_TYPE);
    fprintf(f, ",\n    \"c_compiler\": ");
    json_str(f, STORE_BENCH_C_COMPILER);
    fprintf(f, ",\n    \"c_flags\": ");
    json_str(f, STORE_BENCH_C_FLAGS);
    fprintf(f, ",\n    \"assertions\": ");
    json_str(f, assertions());
    fprintf(f, ",\n    \"sanitize\": ");
    json_str(f, STORE_BENCH_SANITIZE);
    fprintf(f, ",\n    \"clock_overhead_p50_ns\": %.1f,\n    \"clock_overhead_mean_ns\": %.2f\n"
               "  },\n",
            e->clock_p50, e->clock_mean);
    fprintf(f, "  \"config\": {\n    \"num\": %" PRIu64 ",\n    \"seed\": %" PRIu64
               ",\n    \"key_size\": %d,\n    \"value_size\": %d,\n    \"compression_ratio\": "
               "0.5,\n    \"sync\": %s,\n    \"repetitions\": %d,\n    \"mixed_read_percent\": "
               "80\n  },\n",
            flags.num, flags.seed, KEY_SIZE, VALUE_SIZE, flags.sync ? "true" : "false",
            flags.repetitions);
    fprintf(f, "  \"stores\": {");
    for (int s = 0; s < nsel; s++) {
        fprintf(f, "%s\n    \"%s\": {\n      \"title\": ", s ? "," : "", sel[s]->name);
        json_str(f, sel[s]->title);
        fprintf(f, ",\n      \"configuration\": ");
        json_str(f, describe_lines[s]);
        fprintf(f, ",\n      \"median\": ");
        json_result(f, &medians[s], "      ");
        fprintf(f, ",\n      \"runs\": [");
        for (int r = 0; r < flags.repetitions; r++) {
            fprintf(f, "%s\n        ", r ? "," : "");
            json_result(f, &results[r][s], "        ");
        }
        fprintf(f, "\n      ]\n    }");
    }
    fprintf(f, "\n  },\n  \"ratios\": {");
    int ia = sel_index("alex");
    bool firstr = true;
    for (int s = 0; s < nsel && ia >= 0; s++) {
        if (s == ia)
            continue;
        fprintf(f, "%s\n    \"alex/%s\": {", firstr ? "" : ",", sel[s]->name);
        firstr = false;
        bool first = true;
        for (int m = 0; m < M_COUNT; m++) {
            if (metrics[m].no_ratio || !medians[ia].have[m] || !medians[s].have[m] ||
                medians[s].v[m] == 0)
                continue;
            fprintf(f, "%s\n      \"%s\": %.4g", first ? "" : ",", metrics[m].json,
                    medians[ia].v[m] / medians[s].v[m]);
            first = false;
        }
        fprintf(f, "\n    }");
    }
    fprintf(f, "\n  }\n}\n");
    if (fclose(f) != 0)
        die("--json: writing %s failed", path);
}

/* ---------------------------------------------------------------------------------------- */
/* Flag parsing.                                                                             */

static uint64_t parse_u64(const char *name, const char *v, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    if (!*v || *v == '-')
        die("--%s: '%s' is not a number", name, v);
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end || x < min || x > max)
        die("--%s: '%s' is not a number in [%" PRIu64 ", %" PRIu64 "]", name, v, min, max);
    return (uint64_t)x;
}

static bool parse_bool(const char *name, const char *v)
{
    if (!v || strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
        return true;
    if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
        return false;
    die("--%s: expected 0 or 1, got '%s'", name, v);
}

static void parse_flags(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0)
            die("unexpected argument '%s'\n%s", a, usage);
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nl >= sizeof name)
            die("unknown flag '%s'\n%s", a, usage);
        memcpy(name, a + 2, nl);
        name[nl] = 0;
        const char *v = eq ? eq + 1 : NULL;
        static const char *const known[] = {"num", "seed", "stores", "dir", "json", "sync",
                                            "keep", "repetitions", "alex_compression",
                                            "alex_verify_checksums", "rocksdb_cache_mb",
                                            "bloom_bits", "settle"};
        bool is_known = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            is_known |= strcmp(name, known[k]) == 0;
        if (!is_known)
            die("unknown flag '%s'\n%s", a, usage);
        bool is_bool = strcmp(name, "sync") == 0 || strcmp(name, "keep") == 0 ||
                       strcmp(name, "settle") == 0;
        if (!v && !is_bool)
            die("--%s needs a value (--%s=...)", name, name);
        if (strcmp(name, "num") == 0) {
            flags.num = parse_u64(name, v, 1, UINT32_MAX / 4);
            flags.num_set = true;
        } else if (strcmp(name, "seed") == 0) {
            flags.seed = parse_u64(name, v, 0, UINT64_MAX);
        } else if (strcmp(name, "stores") == 0) {
            if (strlen(v) >= sizeof flags.stores)
                die("--stores: too long");
            snprintf(flags.stores, sizeof flags.stores, "%s", v);
        } else if (strcmp(name, "dir") == 0) {
            flags.dir = v;
        } else if (strcmp(name, "json") == 0) {
            flags.json = v;
        } else if (strcmp(name, "sync") == 0) {
            flags.sync = parse_bool(name, v);
        } else if (strcmp(name, "keep") == 0) {
            flags.keep = parse_bool(name, v);
        } else if (strcmp(name, "repetitions") == 0) {
            flags.repetitions = (int)parse_u64(name, v, 1, MAX_REPS);
        } else if (strcmp(name, "alex_compression") == 0) {
            if (strcmp(v, "none") == 0)
                flags.alex_compression = AXS_COMPRESSION_NONE;
            else if (strcmp(v, "lz4") == 0)
                flags.alex_compression = AXS_COMPRESSION_LZ4;
            else
                die("--alex_compression: expected none or lz4, got '%s'", v);
        } else if (strcmp(name, "alex_verify_checksums") == 0) {
            flags.alex_verify = parse_bool(name, v);
        } else if (strcmp(name, "rocksdb_cache_mb") == 0) {
            flags.rocksdb_cache_mb = parse_u64(name, v, 1, 1u << 20);
        } else if (strcmp(name, "settle") == 0) {
            flags.settle = parse_bool(name, v);
        } else if (strcmp(name, "bloom_bits") == 0) {
            flags.bloom_bits = (int)parse_u64(name, v, 0, 64);
        }
    }
    if (flags.sync && !flags.num_set)
        flags.num = 20000;

    /* --stores: each name once, and compiled in. */
    char list[64];
    snprintf(list, sizeof list, "%s", flags.stores);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        const store_class *found = NULL;
        for (size_t c = 0; c < NUM_CLASSES; c++)
            if (strcmp(all_classes[c]->name, t) == 0)
                found = all_classes[c];
        if (!found) {
            if (strcmp(t, "lmdb") == 0 || strcmp(t, "rocksdb") == 0)
                die("--stores: %s was not found when store_bench was built", t);
            die("--stores: unknown store '%s' (alex, lmdb, rocksdb)", t);
        }
        if (sel_index(t) >= 0)
            die("--stores: %s given twice", t);
        sel[nsel++] = found;
    }
    if (!nsel)
        die("--stores: no store selected");
}

/* ---------------------------------------------------------------------------------------- */

/* The base directory goes at exit, also when a failure stops the run, unless --keep. */
static char cleanup_dir[4096];
static void cleanup(void)
{
    if (!cleanup_dir[0])
        return;
    if (flags.keep)
        progress("kept %s", cleanup_dir);
    else
        remove_tree(cleanup_dir);
}

int main(int argc, char **argv)
{
    bench_program = "store_bench";
    /* Default --stores: whatever is compiled in. */
    flags.stores[0] = 0;
    for (size_t c = 0; c < NUM_CLASSES; c++)
        snprintf(flags.stores + strlen(flags.stores), sizeof flags.stores - strlen(flags.stores),
                 "%s%s", c ? "," : "", all_classes[c]->name);
    parse_flags(argc, argv);

    char base[4096];
    int n = snprintf(base, sizeof base, "%s/store_bench.XXXXXX", flags.dir ? flags.dir : "/tmp");
    if (n < 0 || (size_t)n >= sizeof base)
        die("--dir: path too long");
    if (!mkdtemp(base))
        die("mkdtemp %s: %s", base, strerror(errno));
    snprintf(cleanup_dir, sizeof cleanup_dir, "%s", base);
    atexit(cleanup);

    env_info env;
    gather_env(&env, base, argc, argv);
    print_env(&env, base);

    bench_ctx c;
    memset(&c, 0, sizeof c);
    c.n = flags.num;
    c.widx = xmalloc(c.n * sizeof *c.widx);
    c.lat = xmalloc(c.n * sizeof *c.lat);
    c.lat_r = xmalloc(c.n * sizeof *c.lat_r);
    c.lat_w = xmalloc(c.n * sizeof *c.lat_w);
    c.perm = bench_permutation(c.n, stream_seed(STREAM_PERM));
    value_pool_init();

    for (int s = 0; s < nsel; s++) {
        store tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.sync = flags.sync;
#ifdef STORE_BENCH_HAVE_LMDB
        tmp.mapsize = lmdb_mapsize();
#endif
        sel[s]->describe(&tmp, describe_lines[s], sizeof describe_lines[s]);
    }

    /* Repetition r starts with store r % nsel, so that no store always runs first. */
    for (int r = 0; r < flags.repetitions; r++)
        for (int j = 0; j < nsel; j++) {
            int s = (r + j) % nsel;
            run_store(sel[s], &c, base, r, &results[r][s]);
        }

    compute_medians();
    print_table();
    if (flags.json)
        write_json(flags.json, &env, base);

    free(c.perm);
    free(c.widx);
    free(c.lat);
    free(c.lat_r);
    free(c.lat_w);
    free(value_pool);
    return 0;
}
