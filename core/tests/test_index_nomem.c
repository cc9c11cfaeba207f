/*
 * test_index_nomem.c: allocation-failure injection against contract 3 of index.h.
 *
 * This binary is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (see
 * CMakeLists.txt), so every allocation the statically linked index makes goes through the
 * wrappers below. A test arms the injector around one index call: let N allocations through,
 * then refuse the next one (FAIL_ONE) or every one from then on (FAIL_REST). Retrying with
 * N = 0, 1, 2, ... until the call succeeds makes each allocation of the operation fail once.
 *
 * Asserted, from index.h:
 *  - axi_create: AXI_ENOMEM when its allocation fails.
 *  - axi_upsert: AXI_OK or AXI_ENOMEM; after AXI_ENOMEM the tree is unchanged (same keys and
 *    payloads, same size, axi_check passes) and still usable.
 *  - axi_erase: never fails, even when no allocation succeeds.
 *  - axi_bulk_load: AXI_ENOMEM leaves the tree empty (and usable).
 * Leaks on the failure paths are caught by LeakSanitizer in the ASan build.
 */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the injector ------------------------------------------------------------------------- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

enum inject_mode { FAIL_ONE, FAIL_REST };

static long g_countdown = -1; /* < 0: disarmed; else allocations still let through */
static enum inject_mode g_mode;
static unsigned long g_refused; /* allocations refused since arming */

static void inject_arm(long let_through, enum inject_mode mode)
{
    g_countdown = let_through;
    g_mode = mode;
    g_refused = 0;
}

static void inject_disarm(void)
{
    g_countdown = -1;
}

static bool inject_refuse(void)
{
    if (g_countdown < 0)
        return false;
    if (g_countdown > 0) {
        g_countdown--;
        return false;
    }
    g_refused++;
    if (g_mode == FAIL_ONE)
        g_countdown = -1;
    return true;
}

void *__wrap_malloc(size_t size)
{
    return inject_refuse() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return inject_refuse() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return inject_refuse() ? NULL : __real_realloc(p, size);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t mix(uint64_t key, uint64_t payload)
{
    uint64_t x = key * 0x9E3779B97F4A7C15ull ^ (payload + 0x632BE59BD9B4E019ull);
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ull;
    x ^= x >> 32;
    return x;
}

/* What the tree should hold, summarised: key count and a sum of mix(key, payload). */
typedef struct digest {
    uint64_t count, sum;
} digest;

/* Scans the tree in order and checks it against the digest. */
static void expect_digest(const axi_tree *t, const digest *d, const char *what)
{
    check_tree(t);
    TU_REQUIRE(axi_size(t) == d->count, "%s: size %llu, expected %llu", what,
               (unsigned long long)axi_size(t), (unsigned long long)d->count);
    axi_cursor c;
    uint64_t n = 0, sum = 0, prev = 0;
    for (bool ok = axi_first(t, &c); ok; ok = axi_next(&c)) {
        uint64_t k = axi_cursor_key(&c);
        TU_REQUIRE(n == 0 || k > prev, "%s: scan out of order at %llu", what,
                   (unsigned long long)k);
        prev = k;
        sum += mix(k, axi_cursor_payload(&c));
        n++;
    }
    TU_REQUIRE(n == d->count, "%s: scan saw %llu keys, expected %llu", what,
               (unsigned long long)n, (unsigned long long)d->count);
    TU_REQUIRE(sum == d->sum, "%s: keys or payloads differ from the expected contents", what);
}

static uint64_t empty_tree_memory(const axi_tree *t)
{
    axi_stats st;
    axi_get_stats(t, &st);
    return st.memory_bytes;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_nomem_create(void **state)
{
    (void)state;
    axi_tree *t = NULL;
    inject_arm(0, FAIL_REST);
    int rc = axi_create(&t);
    inject_disarm();
    assert_int_equal(rc, AXI_ENOMEM);
    t = tu_new_tree();
    check_tree(t);
    axi_destroy(t);
}

/* Inserts n keys of one shape; every insert is retried with its 1st, 2nd, ... allocation
 * refused until it succeeds, and the tree is compared with the expected contents after every
 * refusal. */
static void upsert_under_injection(int shape, tu_rng *rng, size_t n)
{
    axi_tree *t = tu_new_tree();
    digest d = {0, 0};
    unsigned long enomem_events = 0;
    uint64_t stream = (UINT64_C(1) << 62) + tu_rng_below(rng, UINT64_C(1) << 60);
    uint64_t centers[64];
    for (int i = 0; i < 64; i++)
        centers[i] = tu_rng_next(rng);
    uint64_t *keys = tu_xmalloc(n * sizeof *keys);
    uint64_t *vals = tu_xmalloc(n * sizeof *vals);
    size_t nk = 0;

    for (size_t i = 0; i < n; i++) {
        uint64_t k;
        switch (shape) {
        case 0: k = tu_rng_next(rng); break;                              /* uniform */
        case 1: stream += 1 + tu_rng_below(rng, 8); k = stream; break;    /* ascending */
        case 2: stream -= 1 + tu_rng_below(rng, 8); k = stream; break;    /* descending */
        default: k = centers[tu_rng_below(rng, 64)] + tu_rng_below(rng, 4096); break;
        }
        uint64_t v = tu_rng_next(rng), oldv = 0;
        bool present = axi_find(t, k, &oldv);
        for (long let = 0;; let++) {
            TU_REQUIRE(let < 10000, "shape %d insert #%zu: still ENOMEM after %ld attempts",
                       shape, i, let);
            bool ins = false;
            enum inject_mode mode = tu_rng_below(rng, 2) ? FAIL_ONE : FAIL_REST;
            inject_arm(let, mode);
            int rc = axi_upsert(t, k, v, &ins);
            unsigned long refused = g_refused;
            inject_disarm();
            if (rc == AXI_ENOMEM) {
                TU_REQUIRE(refused > 0, "AXI_ENOMEM without a refused allocation");
                enomem_events++;
                /* Unchanged: the key keeps its old state, and the contents are identical. */
                uint64_t p = 0;
                bool hit = axi_find(t, k, &p);
                TU_REQUIRE(hit == present, "shape %d insert #%zu (%s, alloc %ld refused): failed "
                           "upsert changed presence of key %llu", shape, i,
                           mode == FAIL_ONE ? "one" : "rest", let, (unsigned long long)k);
                TU_REQUIRE(!hit || p == oldv, "failed upsert changed the payload");
                expect_digest(t, &d, "after a failed upsert");
                continue;
            }
            TU_REQUIRE(rc == AXI_OK, "upsert returned %d (%s)", rc, axi_strerror(rc));
            TU_REQUIRE(ins == !present, "inserted flag %d, key was %s", (int)ins,
                       present ? "present" : "absent");
            if (present)
                d.sum -= mix(k, oldv);
            else
                d.count++;
            d.sum += mix(k, v);
            if (!present) {
                keys[nk] = k;
                vals[nk] = v;
                nk++;
            } else {
                for (size_t j = 0; j < nk; j++)
                    if (keys[j] == k)
                        vals[j] = v;
            }
            break;
        }
        if ((i + 1) % 4096 == 0)
            expect_digest(t, &d, "periodic");
    }
    expect_digest(t, &d, "end of injected inserts");
    for (size_t j = 0; j < nk; j++) {
        uint64_t p = 0;
        TU_REQUIRE(axi_find(t, keys[j], &p) && p == vals[j], "key %llu lost",
                   (unsigned long long)keys[j]);
    }
    axi_stats st;
    axi_get_stats(t, &st);
    fprintf(stderr,
            "[ NOMEM    ] shape %d: %zu inserts, %lu refused-allocation failures survived,"
            " expansions=%llu splits_sideways=%llu splits_down=%llu model_expansions=%llu"
            " root_expansions=%llu\n",
            shape, n, enomem_events, (unsigned long long)st.expansions,
            (unsigned long long)st.splits_sideways, (unsigned long long)st.splits_down,
            (unsigned long long)st.model_expansions, (unsigned long long)st.root_expansions);
    axi_destroy(t);
    free(keys);
    free(vals);
}

static void test_nomem_upsert_uniform(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    upsert_under_injection(0, &rng, tu_scaled(60000, 15000));
}

static void test_nomem_upsert_ascending(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    upsert_under_injection(1, &rng, tu_scaled(60000, 15000));
}

static void test_nomem_upsert_descending(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    upsert_under_injection(2, &rng, tu_scaled(60000, 15000));
}

static void test_nomem_upsert_clustered(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    upsert_under_injection(3, &rng, tu_scaled(30000, 10000));
}

/* Erase never fails: with every allocation refused, each erase still removes its key. */
static void test_nomem_erase_never_fails(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    size_t n = tu_scaled(100000, 20000);
    uint64_t *keys = tu_xmalloc(n * sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = (i % 3 == 0) ? tu_rng_next(&rng) : (UINT64_C(1) << 50) + i * 5;
    n = tu_sort_unique(keys, n);
    axi_tree *t = tu_new_tree();
    digest d = {0, 0};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(axi_upsert(t, keys[i], tu_payload_of(keys[i], 9), NULL), AXI_OK);
        d.count++;
        d.sum += mix(keys[i], tu_payload_of(keys[i], 9));
    }
    tu_shuffle(&rng, keys, n);

    /* The first 90% erased with every allocation refused. */
    size_t cut = n - n / 10;
    for (size_t i = 0; i < cut; i++) {
        uint64_t p = 0;
        inject_arm(0, FAIL_REST);
        bool hit = axi_erase(t, keys[i], &p);
        inject_disarm();
        TU_REQUIRE(hit, "erase #%zu (%llu) missed while allocations fail", i,
                   (unsigned long long)keys[i]);
        TU_REQUIRE(p == tu_payload_of(keys[i], 9), "erase #%zu: wrong payload", i);
        d.count--;
        d.sum -= mix(keys[i], p);
        if ((i + 1) % (n / 8) == 0)
            expect_digest(t, &d, "erasing with allocations refused");
    }
    expect_digest(t, &d, "after erases with allocations refused");

    /* The tree still takes inserts, and the rest erases normally; then it must be small. */
    for (size_t i = 0; i < cut; i += 7) {
        assert_int_equal(axi_upsert(t, keys[i], 1, NULL), AXI_OK);
        TU_REQUIRE(axi_erase(t, keys[i], NULL), "re-inserted key missing");
    }
    for (size_t i = cut; i < n; i++)
        TU_REQUIRE(axi_erase(t, keys[i], NULL), "erase #%zu missed", i);
    check_tree(t);
    assert_int_equal(axi_size(t), 0);
    TU_REQUIRE(empty_tree_memory(t) < 64u * 1024u, "emptied tree holds %llu bytes",
               (unsigned long long)empty_tree_memory(t));
    axi_destroy(t);
    free(keys);
}

/* Bulk load with each allocation refused in turn: AXI_ENOMEM leaves the tree empty. */
static void test_nomem_bulk_load(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    size_t n0 = tu_scaled(100000, 20000);
    uint64_t *keys = tu_xmalloc(n0 * sizeof *keys);
    uint64_t *vals = tu_xmalloc(n0 * sizeof *vals);

    for (int shape = 0; shape < 3; shape++) {
        for (size_t i = 0; i < n0; i++) {
            switch (shape) {
            case 0: keys[i] = tu_rng_next(&rng); break;
            case 1: keys[i] = UINT64_MAX - i * 3; break;
            default: keys[i] = (tu_rng_next(&rng) & ~UINT64_C(0xFFFFFF)) | (i & 0xFFFF); break;
            }
        }
        size_t n = tu_sort_unique(keys, n0);
        digest d = {n, 0};
        for (size_t i = 0; i < n; i++) {
            vals[i] = tu_payload_of(keys[i], 11);
            d.sum += mix(keys[i], vals[i]);
        }
        axi_tree *t = tu_new_tree();
        long attempts = 0;
        for (long let = 0;; let++) {
            TU_REQUIRE(let < 100000, "bulk load still ENOMEM after %ld attempts", let);
            enum inject_mode mode = (let & 1) ? FAIL_ONE : FAIL_REST;
            inject_arm(let, mode);
            int rc = axi_bulk_load(t, keys, vals, n);
            unsigned long refused = g_refused;
            inject_disarm();
            attempts++;
            if (rc == AXI_ENOMEM) {
                TU_REQUIRE(refused > 0, "AXI_ENOMEM without a refused allocation");
                axi_cursor c;
                TU_REQUIRE(axi_size(t) == 0 && !axi_first(t, &c),
                           "shape %d, allocation %ld refused: failed bulk load left keys", shape,
                           let);
                check_tree(t);
                TU_REQUIRE(empty_tree_memory(t) < 64u * 1024u,
                           "failed bulk load left %llu bytes in the tree",
                           (unsigned long long)empty_tree_memory(t));
                /* Usable: a key in and out. */
                assert_int_equal(axi_upsert(t, 42, 1, NULL), AXI_OK);
                TU_REQUIRE(axi_erase(t, 42, NULL), "erase after failed bulk load");
                /* Skip ahead on long runs so the test stays quick: after the first 64
                 * allocations, try every 7th. */
                if (let >= 64)
                    let += 6;
                continue;
            }
            TU_REQUIRE(rc == AXI_OK, "bulk load returned %d (%s)", rc, axi_strerror(rc));
            break;
        }
        expect_digest(t, &d, "bulk load after refused allocations");
        fprintf(stderr, "[ NOMEM    ] bulk load shape %d: %zu keys, %ld attempts\n", shape, n,
                attempts);
        axi_destroy(t);
    }
    free(keys);
    free(vals);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nomem_create),
        cmocka_unit_test(test_nomem_upsert_uniform),
        cmocka_unit_test(test_nomem_upsert_ascending),
        cmocka_unit_test(test_nomem_upsert_descending),
        cmocka_unit_test(test_nomem_upsert_clustered),
        cmocka_unit_test(test_nomem_erase_never_fails),
        cmocka_unit_test(test_nomem_bulk_load),
    };
    /* Optional argv[1]: a cmocka name filter (e.g. "*bulk*") to run a subset. */
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
