/*
 * test_util.h: helpers shared by the index tests (cmocka).
 *
 *  - A seeded PRNG (xoshiro256**, seeded through splitmix64). Every randomized test calls
 *    tu_seed(__func__) once; it prints "seed=<n>" (and the scale) to stderr and returns the
 *    seed. The seed comes from ALEXSTORAGE_SEED if set (replay: same seed and same
 *    ALEXSTORAGE_TEST_SCALE give the same run), otherwise from the clock, so runs differ.
 *  - tu_scale() reads ALEXSTORAGE_TEST_SCALE (float multiplier, default 1.0) so sanitizer runs
 *    can shrink every size without recompiling; tu_scaled(n, min) applies it.
 *  - check_tree(tree) runs axi_check() and fails the current cmocka test with its message.
 *  - TU_REQUIRE(cond, fmt, ...) fails the current test with a printf-style message.
 *
 * Include order: this header pulls in what cmocka.h needs, so include it before cmocka.h or
 * instead of it.
 */
#ifndef ALEXSTORAGE_TEST_UTIL_H
#define ALEXSTORAGE_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "alexstorage/index.h"

/* ---- PRNG --------------------------------------------------------------------------------- */

typedef struct tu_rng {
    uint64_t s[4];
} tu_rng;

/* One splitmix64 step: advances *state and returns a well-mixed value. */
uint64_t tu_splitmix64(uint64_t *state);
void tu_rng_init(tu_rng *rng, uint64_t seed);
uint64_t tu_rng_next(tu_rng *rng);
/* Uniform in [0, bound); bound 0 means the full 64-bit range. */
uint64_t tu_rng_below(tu_rng *rng, uint64_t bound);
/* Uniform in [0, 1). */
double tu_rng_double(tu_rng *rng);
/* Standard normal (Box-Muller). */
double tu_rng_normal(tu_rng *rng);
/* Fisher-Yates shuffle of n keys. */
void tu_shuffle(tu_rng *rng, uint64_t *a, size_t n);

/* ---- seed and scale ----------------------------------------------------------------------- */

/* Returns this test's seed and prints "[ SEED     ] <test> seed=<n>" to stderr. */
uint64_t tu_seed(const char *test_name);
/* ALEXSTORAGE_TEST_SCALE, default 1.0 (values <= 0 or unparsable are rejected with a message
 * and treated as 1.0). */
double tu_scale(void);
/* n * tu_scale(), rounded, at least min. */
size_t tu_scaled(size_t n, size_t min);

/* ---- failures ----------------------------------------------------------------------------- */

void tu_fail_at(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#define TU_REQUIRE(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            tu_fail_at(__FILE__, __LINE__, __VA_ARGS__);                                           \
    } while (0)

void tu_check_tree_at(const axi_tree *tree, const char *file, int line);
#define check_tree(tree) tu_check_tree_at((tree), __FILE__, __LINE__)

/* ---- misc --------------------------------------------------------------------------------- */

/* Creates a tree, failing the test on error. */
axi_tree *tu_new_tree(void);
/* Sorts a[0..n) ascending and removes duplicates; returns the new length. */
size_t tu_sort_unique(uint64_t *a, size_t n);
/* ---- a fresh directory per test ---------------------------------------------------------- */

/* The state of tu_dir_setup / tu_dir_teardown, a cmocka fixture pair: a directory made with
 * mkdtemp under $TMPDIR (or /tmp), removed with everything in it by the teardown. */
typedef struct tu_dir {
    char base[512]; /* the directory */
    char db[600];   /* base/db: a database path (does not exist at the start) */
} tu_dir;

int tu_dir_setup(void **state);
int tu_dir_teardown(void **state);
/* Removes path and everything below it (symbolic links not followed); errors are ignored. */
void tu_rm_rf(const char *path);

/* Monotonic clock in nanoseconds (reporting only; tests never assert on time). */
uint64_t tu_now_ns(void);
/* malloc that fails the test on exhaustion. */
void *tu_xmalloc(size_t bytes);
/* A payload derived from a key, so bulk-loaded and inserted payloads can be told apart. */
static inline uint64_t tu_payload_of(uint64_t key, uint64_t salt)
{
    uint64_t x = key ^ (salt * 0x9E3779B97F4A7C15ull);
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return x;
}

#endif /* ALEXSTORAGE_TEST_UTIL_H */
