/*
 * capi_bench.c: latency of put and get through RocksDB's C API, on the plugin (native and
 * hybrid mode) against the core's own API in the same process, or (built with
 * -DCAPI_BENCH_REAL) on real RocksDB. Issue 4's report: plugin overhead and hybrid latency.
 *
 *   capi_bench [num_keys] [dir]      default 1000000 keys, $TMPDIR
 *
 * Keys are 16 bytes (db_bench's format: 8-byte big-endian number padded with '0'), values
 * 100 bytes, inserted in a random order, then read in another random order; each operation
 * is timed alone. Prints p50 / p99 / mean in nanoseconds per store and operation.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rocksdb/c.h>
#ifndef CAPI_BENCH_REAL
#include "alexstorage/db.h"
#include "rocksdb_alex.h"
#endif

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void make_key(char *k, uint64_t n)
{
    for (int i = 0; i < 8; i++)
        k[i] = (char)(n >> (56 - 8 * i));
    memset(k + 8, '0', 8);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void shuffle(uint64_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = next_rand() % i;
        uint64_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *store, const char *op, uint64_t *lat, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)lat[i];
    qsort(lat, n, sizeof *lat, cmp_u64);
    printf("%-14s %-4s p50 %7" PRIu64 " ns  p99 %7" PRIu64 " ns  mean %8.0f ns\n", store, op,
           lat[n / 2], lat[n * 99 / 100], sum / (double)n);
}

typedef struct ops {
    void *h;
    void (*put)(void *h, const char *k, const char *v);
    void (*get)(void *h, const char *k);
} ops;

static void run(const char *name, ops *o, uint64_t *order, uint64_t *lat, size_t n)
{
    char k[16], v[100];
    memset(v, 'v', sizeof v);
    shuffle(order, n);
    for (size_t i = 0; i < n; i++) {
        make_key(k, order[i]);
        memcpy(v, k, 8);
        uint64_t t = now_ns();
        o->put(o->h, k, v);
        lat[i] = now_ns() - t;
    }
    report(name, "put", lat, n);
    shuffle(order, n);
    for (size_t i = 0; i < n; i++) {
        make_key(k, order[i]);
        uint64_t t = now_ns();
        o->get(o->h, k);
        lat[i] = now_ns() - t;
    }
    report(name, "get", lat, n);
}

/* ---- through the C API ---- */
static rocksdb_writeoptions_t *capi_wo;
static rocksdb_readoptions_t *capi_ro;
static void capi_put(void *h, const char *k, const char *v)
{
    char *err = NULL;
    rocksdb_put(h, capi_wo, k, 16, v, 100, &err);
    if (err) {
        fprintf(stderr, "put: %s\n", err);
        exit(1);
    }
}
static void capi_get(void *h, const char *k)
{
    char *err = NULL;
    size_t vl;
    char *v = rocksdb_get(h, capi_ro, k, 16, &vl, &err);
    if (!v || vl != 100) {
        fprintf(stderr, "get: missing key\n");
        exit(1);
    }
    free(v);
}

static void bench_capi(const char *name, const char *mode, const char *dir, uint64_t *order,
                       uint64_t *lat, size_t n)
{
    (void)mode;
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_compression(o, 0);
#ifndef CAPI_BENCH_REAL
    char *err = NULL;
    alexstorage_options_set_mode(o, mode, &err);
#else
    char *err = NULL;
    /* RocksDB as its users tune it for reads: a block cache holding the data, bloom filter */
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(t, rocksdb_cache_create_lru(1u << 30));
    rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom(10));
    rocksdb_options_set_block_based_table_factory(o, t);
#endif
    rocksdb_destroy_db(o, dir, &err);
    free(err);
    err = NULL;
    rocksdb_t *db = rocksdb_open(o, dir, &err);
    if (err) {
        fprintf(stderr, "open %s: %s\n", dir, err);
        exit(1);
    }
    ops x = {db, capi_put, capi_get};
    run(name, &x, order, lat, n);
    rocksdb_close(db);
    rocksdb_destroy_db(o, dir, &err);
    free(err);
    rocksdb_options_destroy(o);
}

#ifndef CAPI_BENCH_REAL
/* ---- the core's own API ---- */
static void core_put(void *h, const char *k, const char *v)
{
    if (axs_put(h, NULL, k, 16, v, 100) != AXS_OK)
        exit(1);
}
static void core_get(void *h, const char *k)
{
    char *v;
    size_t vl;
    bool found;
    if (axs_get_alloc(h, NULL, k, 16, &v, &vl, &found) != AXS_OK || !found)
        exit(1);
    free(v);
}
#endif

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", argc > 2 ? argv[2] : tmp, "capi_bench_db");
    uint64_t *order = malloc(n * sizeof *order), *lat = malloc(n * sizeof *lat);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    capi_wo = rocksdb_writeoptions_create();
    capi_ro = rocksdb_readoptions_create();
    printf("%zu keys of 16 bytes, values of 100 bytes, buffered writes (no sync)\n", n);
#ifdef CAPI_BENCH_REAL
    bench_capi("rocksdb", NULL, dir, order, lat, n);
#else
    for (int round = 0; round < 2; round++) { /* alternate, so drift hits both alike */
        axs_options ao;
        axs_options_init(&ao);
        ao.create_if_missing = true;
        axs_destroy(dir, NULL);
        axs_db *db = NULL;
        char *msg = NULL;
        if (axs_open(dir, &ao, &db, &msg) != AXS_OK) {
            fprintf(stderr, "open: %s\n", msg);
            return 1;
        }
        ops x = {db, core_put, core_get};
        run("core-native", &x, order, lat, n);
        axs_close(db);
        axs_destroy(dir, NULL);
        bench_capi("plugin-native", "native", dir, order, lat, n);
    }
    bench_capi("plugin-hybrid", "hybrid", dir, order, lat, n);
#endif
    rocksdb_writeoptions_destroy(capi_wo);
    rocksdb_readoptions_destroy(capi_ro);
    free(order);
    free(lat);
    return 0;
}
