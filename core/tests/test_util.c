/*
 * test_util.c: see test_util.h.
 */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */

#include "test_util.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- PRNG --------------------------------------------------------------------------------- */

uint64_t tu_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void tu_rng_init(tu_rng *rng, uint64_t seed)
{
    uint64_t st = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = tu_splitmix64(&st);
    /* xoshiro must not start from the all-zero state; splitmix64 never yields four zeros, but
     * be explicit. */
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
        rng->s[0] = 1;
}

static inline uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t tu_rng_next(tu_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

uint64_t tu_rng_below(tu_rng *rng, uint64_t bound)
{
    if (bound == 0)
        return tu_rng_next(rng);
    /* Rejection sampling on the top of the range: exact uniformity. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
    for (;;) {
        uint64_t x = tu_rng_next(rng);
        if (x < limit)
            return x % bound;
    }
}

double tu_rng_double(tu_rng *rng)
{
    return (double)(tu_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

double tu_rng_normal(tu_rng *rng)
{
    double u1;
    do {
        u1 = tu_rng_double(rng);
    } while (u1 <= 0.0);
    double u2 = tu_rng_double(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void tu_shuffle(tu_rng *rng, uint64_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)tu_rng_below(rng, (uint64_t)i);
        uint64_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* ---- seed and scale ----------------------------------------------------------------------- */

uint64_t tu_seed(const char *test_name)
{
    static uint64_t counter;
    uint64_t seed;
    const char *env = getenv("ALEXSTORAGE_SEED");
    char *end = NULL;

    if (env != NULL && *env != '\0') {
        errno = 0;
        seed = strtoull(env, &end, 0);
        if (errno != 0 || end == env || *end != '\0') {
            fprintf(stderr, "ALEXSTORAGE_SEED=\"%s\" is not an unsigned integer\n", env);
            fail();
        }
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t st = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        st ^= (uint64_t)getpid() << 32;
        st += ++counter * 0x9E3779B97F4A7C15ull;
        /* Keep printed seeds short enough to copy: 48 bits are plenty. */
        seed = tu_splitmix64(&st) >> 16;
    }
    /* Sizes depend on the scale too, so a replay needs both. */
    fprintf(stderr, "[ SEED     ] %s seed=%" PRIu64 " (ALEXSTORAGE_TEST_SCALE=%g)\n", test_name,
            seed, tu_scale());
    fflush(stderr);
    return seed;
}

double tu_scale(void)
{
    static double cached = -1.0;
    if (cached > 0.0)
        return cached;
    double s = 1.0;
    const char *env = getenv("ALEXSTORAGE_TEST_SCALE");
    if (env != NULL && *env != '\0') {
        char *end = NULL;
        double v = strtod(env, &end);
        if (end == env || *end != '\0' || !(v > 0.0) || v > 1000.0)
            fprintf(stderr, "ALEXSTORAGE_TEST_SCALE=\"%s\" ignored (want a number in (0,1000])\n",
                    env);
        else
            s = v;
    }
    cached = s;
    return s;
}

size_t tu_scaled(size_t n, size_t min)
{
    double v = (double)n * tu_scale() + 0.5;
    size_t r = v >= (double)SIZE_MAX ? SIZE_MAX : (size_t)v;
    return r < min ? min : r;
}

/* ---- failures ----------------------------------------------------------------------------- */

void tu_fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_error("ERROR: ");
    vprint_error(fmt, ap);
    print_error("\n");
    va_end(ap);
    _fail(file, line);
}

void tu_check_tree_at(const axi_tree *tree, const char *file, int line)
{
    char msg[512];
    msg[0] = '\0';
    int rc = axi_check(tree, msg, sizeof msg);
    if (rc != 0) {
        msg[sizeof msg - 1] = '\0';
        print_error("ERROR: axi_check failed (rc=%d): %s\n", rc, msg);
        _fail(file, line);
    }
}

/* ---- misc --------------------------------------------------------------------------------- */

axi_tree *tu_new_tree(void)
{
    axi_tree *t = NULL;
    int rc = axi_create(&t);
    if (rc != AXI_OK || t == NULL) {
        print_error("ERROR: axi_create failed: %d (%s)\n", rc, axi_strerror(rc));
        fail();
    }
    return t;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

size_t tu_sort_unique(uint64_t *a, size_t n)
{
    if (n == 0)
        return 0;
    qsort(a, n, sizeof *a, cmp_u64);
    size_t w = 1;
    for (size_t i = 1; i < n; i++)
        if (a[i] != a[w - 1])
            a[w++] = a[i];
    return w;
}

uint64_t tu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void *tu_xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p == NULL) {
        print_error("ERROR: out of memory allocating %zu bytes\n", bytes);
        fail();
    }
    return p;
}

/* ---- a fresh directory per test ---------------------------------------------------------- */

static int rm_visit(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    remove(p);
    return 0;
}

void tu_rm_rf(const char *path)
{
    nftw(path, rm_visit, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_dir_setup(void **state)
{
    tu_dir *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(d->base, sizeof d->base, "%s/axs_test_XXXXXX", tmp);
    if (!mkdtemp(d->base)) {
        free(d);
        return -1;
    }
    snprintf(d->db, sizeof d->db, "%s/db", d->base);
    *state = d;
    return 0;
}

int tu_dir_teardown(void **state)
{
    tu_dir *d = *state;
    if (d) {
        tu_rm_rf(d->base);
        free(d);
    }
    return 0;
}
