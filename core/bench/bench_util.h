/*
 * bench_util.h: what the C benchmarks (store_bench, concurrency_bench) share: fatal errors,
 * allocation that cannot fail, the clock, a small random generator, the value pool and key
 * permutation of the workloads, removing a directory tree, and the machine a run was made on,
 * for the header of its report.
 */
#ifndef ALEXSTORAGE_BENCH_UTIL_H
#define ALEXSTORAGE_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The program's name, set by main before anything else: prefixes die()'s messages. */
extern const char *bench_program;

/* Prints "<program>: <message>" to stderr and exits with status 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* A progress line on stderr. */
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* malloc and calloc that die when out of memory; a size of 0 still returns a pointer. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
/* Removes dir and everything below it; a missing dir is fine. Failures are printed. */
void remove_tree(const char *dir);
/* pieces values of size bytes, one after the other: printable, the first half of each random
 * and the second half a copy of it (so they compress about 2:1, as db_bench's do), drawn from
 * seed. The caller owns the buffer. */
uint8_t *bench_value_pool(size_t pieces, size_t size, uint64_t seed);
/* 0..n-1 in a random order (Fisher-Yates) drawn from seed. The caller owns the array. */
uint64_t *bench_permutation(uint64_t n, uint64_t seed);

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: a tiny, well-mixed generator; one state per stream. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

typedef struct bench_env {
    char date[32];      /* UTC, ISO 8601 */
    char cpu[128];      /* /proc/cpuinfo model name */
    long cores;         /* online processors */
    char kernel[256];   /* uname: system, release, machine */
    uint64_t mem_mib;   /* physical memory */
    char fs[64];        /* file system of the database directory */
    char loadavg[64];   /* /proc/loadavg at start: how quiet the machine was */
    char cmdline[1024]; /* the command, arguments joined by spaces */
} bench_env;

/* Fills e; dir is the directory whose file system is reported. Never fails: what cannot be
 * read is "unknown". */
void bench_env_gather(bench_env *e, const char *dir, int argc, char **argv);

#endif /* ALEXSTORAGE_BENCH_UTIL_H */
