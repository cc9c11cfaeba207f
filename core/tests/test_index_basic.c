/*
 * test_index_basic.c: unit tests of the axi_* contract in index.h, one behaviour per test.
 *
 * Covers: error names, create/destroy argument handling, the empty tree, a single key, the
 * extreme keys 0 and UINT64_MAX, upsert/erase semantics and their out-parameters, axi_size,
 * cursor walks in both directions, lower_bound/upper_bound/floor at every position, bulk-load
 * argument errors and copying, and the exact counters of axi_get_stats.
 */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------ */

/* Asserts that a positioning call returned `ok` == want, and on success that the cursor is at
 * (key, payload); on failure that cur.node is NULL. */
#define EXPECT_AT(ok, cur, want, key, payload)                                                     \
    do {                                                                                           \
        bool ok_ = (ok);                                                                           \
        TU_REQUIRE(ok_ == (want), "positioning returned %d, expected %d", (int)ok_, (int)(want)); \
        if (ok_) {                                                                                 \
            TU_REQUIRE((cur).node != NULL, "success but cursor node is NULL");                     \
            TU_REQUIRE(axi_cursor_key(&(cur)) == (uint64_t)(key),                                  \
                       "cursor key %llu, expected %llu",                                           \
                       (unsigned long long)axi_cursor_key(&(cur)), (unsigned long long)(key));     \
            TU_REQUIRE(axi_cursor_payload(&(cur)) == (uint64_t)(payload),                          \
                       "cursor payload %llu, expected %llu for key %llu",                          \
                       (unsigned long long)axi_cursor_payload(&(cur)),                             \
                       (unsigned long long)(payload), (unsigned long long)(key));                  \
        } else {                                                                                   \
            TU_REQUIRE((cur).node == NULL, "failed positioning must set cur.node = NULL");         \
        }                                                                                          \
    } while (0)

static void upsert_ok(axi_tree *t, uint64_t key, uint64_t payload, bool want_inserted)
{
    bool ins = !want_inserted;
    int rc = axi_upsert(t, key, payload, &ins);
    TU_REQUIRE(rc == AXI_OK, "axi_upsert(%llu) returned %d", (unsigned long long)key, rc);
    TU_REQUIRE(ins == want_inserted, "axi_upsert(%llu): inserted=%d, expected %d",
               (unsigned long long)key, (int)ins, (int)want_inserted);
}

static void expect_find(const axi_tree *t, uint64_t key, bool want, uint64_t payload)
{
    uint64_t p = 0xDEADBEEFull;
    bool hit = axi_find(t, key, &p);
    TU_REQUIRE(hit == want, "axi_find(%llu) = %d, expected %d", (unsigned long long)key, (int)hit,
               (int)want);
    if (want)
        TU_REQUIRE(p == payload, "axi_find(%llu) payload %llu, expected %llu",
                   (unsigned long long)key, (unsigned long long)p, (unsigned long long)payload);
    /* NULL payload pointer is allowed. */
    TU_REQUIRE(axi_find(t, key, NULL) == want, "axi_find(%llu, NULL) disagrees",
               (unsigned long long)key);
}

/* Checks lower_bound/upper_bound/floor for query q against the sorted keys[0..n) (payloads
 * vals[]). */
static void expect_bounds(const axi_tree *t, const uint64_t *keys, const uint64_t *vals, size_t n,
                          uint64_t q)
{
    /* Reference answers by binary search. */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < q)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t lb = lo; /* first >= q */
    size_t ub = (lb < n && keys[lb] == q) ? lb + 1 : lb; /* first > q */
    axi_cursor c;

    c.node = (const void *)&c; /* poison: must be reset to NULL on failure */
    EXPECT_AT(axi_lower_bound(t, q, &c), c, lb < n, lb < n ? keys[lb] : 0,
              lb < n ? vals[lb] : 0);
    c.node = (const void *)&c;
    EXPECT_AT(axi_upper_bound(t, q, &c), c, ub < n, ub < n ? keys[ub] : 0,
              ub < n ? vals[ub] : 0);
    c.node = (const void *)&c;
    EXPECT_AT(axi_floor(t, q, &c), c, ub > 0, ub > 0 ? keys[ub - 1] : 0,
              ub > 0 ? vals[ub - 1] : 0);
}

/* Walks the whole tree forward and backward and compares with keys/vals. */
static void expect_contents(const axi_tree *t, const uint64_t *keys, const uint64_t *vals,
                            size_t n)
{
    axi_cursor c;
    TU_REQUIRE(axi_size(t) == n, "axi_size %llu, expected %zu", (unsigned long long)axi_size(t),
               n);
    bool ok = axi_first(t, &c);
    for (size_t i = 0; i < n; i++) {
        TU_REQUIRE(ok, "forward walk ended after %zu of %zu keys", i, n);
        TU_REQUIRE(axi_cursor_key(&c) == keys[i], "forward walk position %zu: key %llu, want %llu",
                   i, (unsigned long long)axi_cursor_key(&c), (unsigned long long)keys[i]);
        TU_REQUIRE(axi_cursor_payload(&c) == vals[i], "forward walk position %zu: payload", i);
        ok = axi_next(&c);
    }
    TU_REQUIRE(!ok, "forward walk has more than %zu keys", n);
    TU_REQUIRE(c.node == NULL, "cursor past the end must have node == NULL");

    ok = axi_last(t, &c);
    for (size_t i = n; i-- > 0;) {
        TU_REQUIRE(ok, "backward walk ended early at position %zu", i);
        TU_REQUIRE(axi_cursor_key(&c) == keys[i],
                   "backward walk position %zu: key %llu, want %llu", i,
                   (unsigned long long)axi_cursor_key(&c), (unsigned long long)keys[i]);
        TU_REQUIRE(axi_cursor_payload(&c) == vals[i], "backward walk position %zu: payload", i);
        ok = axi_prev(&c);
    }
    TU_REQUIRE(!ok, "backward walk has more than %zu keys", n);
    TU_REQUIRE(c.node == NULL, "cursor before the start must have node == NULL");
}

/* ---- error names and handles -------------------------------------------------------------- */

static void test_strerror_all_codes(void **state)
{
    (void)state;
    const int codes[] = {AXI_OK, AXI_ENOMEM, AXI_EINVAL, AXI_ENOTEMPTY, -12345, 12345, -4, 1};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = axi_strerror(codes[i]);
        TU_REQUIRE(s != NULL, "axi_strerror(%d) returned NULL", codes[i]);
        TU_REQUIRE(strlen(s) > 0, "axi_strerror(%d) returned an empty string", codes[i]);
    }
    /* The known codes have distinct names. */
    assert_string_not_equal(axi_strerror(AXI_OK), axi_strerror(AXI_ENOMEM));
    assert_string_not_equal(axi_strerror(AXI_ENOMEM), axi_strerror(AXI_EINVAL));
    assert_string_not_equal(axi_strerror(AXI_EINVAL), axi_strerror(AXI_ENOTEMPTY));
    assert_string_not_equal(axi_strerror(AXI_OK), axi_strerror(AXI_ENOTEMPTY));
}

static void test_create_null_and_destroy_null(void **state)
{
    (void)state;
    assert_int_equal(axi_create(NULL), AXI_EINVAL);
    axi_destroy(NULL);
    axi_tree *t = NULL;
    assert_int_equal(axi_create(&t), AXI_OK);
    assert_non_null(t);
    axi_destroy(t);
}

/* ---- empty tree --------------------------------------------------------------------------- */

static void test_empty_tree(void **state)
{
    (void)state;
    axi_tree *t = tu_new_tree();
    const uint64_t probes[] = {0, 1, 42, UINT64_C(1) << 63, UINT64_MAX - 1, UINT64_MAX};
    axi_cursor c;

    assert_int_equal(axi_size(t), 0);
    check_tree(t);
    c.node = (const void *)&c;
    EXPECT_AT(axi_first(t, &c), c, false, 0, 0);
    c.node = (const void *)&c;
    EXPECT_AT(axi_last(t, &c), c, false, 0, 0);
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        uint64_t q = probes[i];
        expect_find(t, q, false, 0);
        uint64_t p = 0;
        TU_REQUIRE(!axi_erase(t, q, &p), "erase(%llu) on empty tree hit", (unsigned long long)q);
        TU_REQUIRE(!axi_erase(t, q, NULL), "erase(%llu, NULL) on empty tree hit",
                   (unsigned long long)q);
        expect_bounds(t, NULL, NULL, 0, q);
    }
    assert_int_equal(axi_size(t), 0);

    axi_stats st;
    memset(&st, 0xAB, sizeof st);
    axi_get_stats(t, &st);
    assert_int_equal(st.num_keys, 0);
    assert_int_equal(st.num_inserts, 0);
    assert_int_equal(st.num_updates, 0);
    assert_int_equal(st.num_erases, 0);
    assert_true(st.max_depth <= AXI_MAX_DEPTH);
    check_tree(t);
    axi_destroy(t);
}

/* ---- single key --------------------------------------------------------------------------- */

static void test_single_key(void **state)
{
    (void)state;
    axi_tree *t = tu_new_tree();
    const uint64_t k = 1000, v = 7;
    axi_cursor c;

    upsert_ok(t, k, v, true);
    assert_int_equal(axi_size(t), 1);
    check_tree(t);
    expect_find(t, k, true, v);
    expect_find(t, k - 1, false, 0);
    expect_find(t, k + 1, false, 0);
    expect_find(t, 0, false, 0);
    expect_find(t, UINT64_MAX, false, 0);

    const uint64_t keys[] = {k}, vals[] = {v};
    const uint64_t qs[] = {0, 1, k - 1, k, k + 1, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
        expect_bounds(t, keys, vals, 1, qs[i]);
    expect_contents(t, keys, vals, 1);

    /* first == last; stepping off either end fails. */
    EXPECT_AT(axi_first(t, &c), c, true, k, v);
    TU_REQUIRE(!axi_prev(&c) && c.node == NULL, "prev from the only key must fail");
    EXPECT_AT(axi_last(t, &c), c, true, k, v);
    TU_REQUIRE(!axi_next(&c) && c.node == NULL, "next from the only key must fail");

    uint64_t old = 0;
    TU_REQUIRE(!axi_erase(t, k + 1, &old), "erase of an absent neighbour hit");
    TU_REQUIRE(axi_erase(t, k, &old), "erase of the only key missed");
    assert_int_equal(old, v);
    assert_int_equal(axi_size(t), 0);
    TU_REQUIRE(!axi_erase(t, k, &old), "second erase hit");
    expect_find(t, k, false, 0);
    EXPECT_AT(axi_first(t, &c), c, false, 0, 0);
    EXPECT_AT(axi_last(t, &c), c, false, 0, 0);
    check_tree(t);

    /* And it can come back. */
    upsert_ok(t, k, v + 1, true);
    expect_find(t, k, true, v + 1);
    check_tree(t);
    axi_destroy(t);
}

/* ---- extreme keys ------------------------------------------------------------------------- */

/* Runs the full battery around the given sorted key set (which contains 0 and/or UINT64_MAX). */
static void extremes_battery(const uint64_t *keys, size_t n, bool bulk)
{
    uint64_t vals[8];
    axi_tree *t = tu_new_tree();
    for (size_t i = 0; i < n; i++)
        vals[i] = tu_payload_of(keys[i], 1);
    if (bulk) {
        assert_int_equal(axi_bulk_load(t, keys, vals, n), AXI_OK);
    } else {
        /* Insert in reverse order to exercise the other direction too. */
        for (size_t i = n; i-- > 0;)
            upsert_ok(t, keys[i], vals[i], true);
    }
    check_tree(t);
    expect_contents(t, keys, vals, n);
    for (size_t i = 0; i < n; i++)
        expect_find(t, keys[i], true, vals[i]);

    const uint64_t qs[] = {0, 1, 2, UINT64_C(1) << 63, (UINT64_C(1) << 63) - 1, UINT64_MAX - 2,
                           UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        expect_bounds(t, keys, vals, n, qs[i]);
        bool present = false;
        for (size_t j = 0; j < n; j++)
            present |= keys[j] == qs[i];
        if (!present)
            expect_find(t, qs[i], false, 0);
    }

    /* Overwrite each, then erase each (in an order that removes the extremes first). */
    for (size_t i = 0; i < n; i++) {
        vals[i] = ~vals[i];
        upsert_ok(t, keys[i], vals[i], false);
    }
    expect_contents(t, keys, vals, n);
    check_tree(t);

    uint64_t left[8], lv[8];
    size_t nl = n;
    memcpy(left, keys, n * sizeof *keys);
    memcpy(lv, vals, n * sizeof *vals);
    while (nl > 0) {
        /* remove the last, then the first, alternately */
        size_t idx = (nl % 2) ? nl - 1 : 0;
        uint64_t old = 0;
        TU_REQUIRE(axi_erase(t, left[idx], &old), "erase(%llu) missed",
                   (unsigned long long)left[idx]);
        TU_REQUIRE(old == lv[idx], "erase(%llu) returned the wrong payload",
                   (unsigned long long)left[idx]);
        memmove(left + idx, left + idx + 1, (nl - idx - 1) * sizeof *left);
        memmove(lv + idx, lv + idx + 1, (nl - idx - 1) * sizeof *lv);
        nl--;
        check_tree(t);
        expect_contents(t, left, lv, nl);
        for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
            expect_bounds(t, left, lv, nl, qs[i]);
    }
    axi_destroy(t);
}

static void test_key_zero(void **state)
{
    (void)state;
    const uint64_t a[] = {0};
    extremes_battery(a, 1, false);
    extremes_battery(a, 1, true);
    const uint64_t b[] = {0, 1, 2, 100};
    extremes_battery(b, 4, false);
    extremes_battery(b, 4, true);
}

static void test_key_max(void **state)
{
    (void)state;
    const uint64_t a[] = {UINT64_MAX};
    extremes_battery(a, 1, false);
    extremes_battery(a, 1, true);
    const uint64_t b[] = {100, UINT64_MAX - 2, UINT64_MAX - 1, UINT64_MAX};
    extremes_battery(b, 4, false);
    extremes_battery(b, 4, true);
}

static void test_keys_zero_and_max(void **state)
{
    (void)state;
    const uint64_t a[] = {0, UINT64_MAX};
    extremes_battery(a, 2, false);
    extremes_battery(a, 2, true);
    const uint64_t b[] = {0, 1, UINT64_C(1) << 63, UINT64_MAX - 1, UINT64_MAX};
    extremes_battery(b, 5, false);
    extremes_battery(b, 5, true);
    const uint64_t c[] = {0, (UINT64_C(1) << 63) - 1, UINT64_C(1) << 63, UINT64_MAX};
    extremes_battery(c, 4, false);
    extremes_battery(c, 4, true);
}

/* ---- upsert / erase semantics ------------------------------------------------------------- */

static void test_upsert_overwrite(void **state)
{
    (void)state;
    axi_tree *t = tu_new_tree();
    upsert_ok(t, 5, 50, true);
    upsert_ok(t, 5, 51, false);
    expect_find(t, 5, true, 51);
    assert_int_equal(axi_size(t), 1);

    /* inserted == NULL is allowed for both outcomes. */
    assert_int_equal(axi_upsert(t, 5, 52, NULL), AXI_OK);
    assert_int_equal(axi_upsert(t, 6, 60, NULL), AXI_OK);
    expect_find(t, 5, true, 52);
    expect_find(t, 6, true, 60);
    assert_int_equal(axi_size(t), 2);

    /* Payload values are opaque: 0 and UINT64_MAX round-trip. */
    upsert_ok(t, 7, 0, true);
    upsert_ok(t, 8, UINT64_MAX, true);
    expect_find(t, 7, true, 0);
    expect_find(t, 8, true, UINT64_MAX);
    upsert_ok(t, 7, UINT64_MAX, false);
    upsert_ok(t, 8, 0, false);
    expect_find(t, 7, true, UINT64_MAX);
    expect_find(t, 8, true, 0);
    assert_int_equal(axi_size(t), 4);

    /* inserted is written as false on overwrite, even if it held true before. */
    bool ins = true;
    assert_int_equal(axi_upsert(t, 6, 61, &ins), AXI_OK);
    assert_false(ins);
    ins = false;
    assert_int_equal(axi_upsert(t, 9, 90, &ins), AXI_OK);
    assert_true(ins);
    check_tree(t);
    axi_destroy(t);
}

static void test_erase_returns_old_payload(void **state)
{
    (void)state;
    axi_tree *t = tu_new_tree();
    for (uint64_t k = 1; k <= 100; k++)
        upsert_ok(t, k * 10, k * 1000, true);
    upsert_ok(t, 500, 123456, false); /* overwrite: erase must return the newest payload */
    uint64_t old = 0;
    TU_REQUIRE(axi_erase(t, 500, &old), "erase(500) missed");
    assert_int_equal(old, 123456);
    TU_REQUIRE(!axi_erase(t, 500, &old), "erase(500) hit twice");
    TU_REQUIRE(!axi_erase(t, 505, &old), "erase of never-present key hit");
    TU_REQUIRE(axi_erase(t, 10, NULL), "erase with NULL payload pointer missed");
    expect_find(t, 10, false, 0);
    assert_int_equal(axi_size(t), 98);
    for (uint64_t k = 2; k <= 100; k++) {
        if (k == 50)
            continue;
        expect_find(t, k * 10, true, k * 1000);
    }
    check_tree(t);
    axi_destroy(t);
}

static void test_size_tracks_operations(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    axi_tree *t = tu_new_tree();
    /* Keys from a small range so upserts overwrite and erases miss often. */
    const uint64_t range = 512;
    bool present[512] = {false};
    uint64_t count = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t k = tu_rng_below(&rng, range);
        if (tu_rng_below(&rng, 3) != 0) {
            bool ins = false;
            assert_int_equal(axi_upsert(t, k * 7919, (uint64_t)i, &ins), AXI_OK);
            TU_REQUIRE(ins == !present[k], "op %d: inserted flag wrong for key %llu", i,
                       (unsigned long long)(k * 7919));
            if (!present[k])
                count++;
            present[k] = true;
        } else {
            bool hit = axi_erase(t, k * 7919, NULL);
            TU_REQUIRE(hit == present[k], "op %d: erase hit=%d, expected %d", i, (int)hit,
                       (int)present[k]);
            if (present[k])
                count--;
            present[k] = false;
        }
        TU_REQUIRE(axi_size(t) == count, "op %d: size %llu, expected %llu", i,
                   (unsigned long long)axi_size(t), (unsigned long long)count);
    }
    check_tree(t);
    axi_destroy(t);
}

/* ---- cursors ------------------------------------------------------------------------------ */

static void test_cursor_walk_both_directions(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    size_t n = tu_scaled(50000, 2000);
    uint64_t *keys = tu_xmalloc(n * sizeof *keys);
    uint64_t *vals = tu_xmalloc(n * sizeof *vals);
    for (size_t i = 0; i < n; i++)
        keys[i] = tu_rng_next(&rng);
    n = tu_sort_unique(keys, n);
    for (size_t i = 0; i < n; i++)
        vals[i] = tu_payload_of(keys[i], 2);

    /* Inserted in random order. */
    uint64_t *order = tu_xmalloc(n * sizeof *order);
    memcpy(order, keys, n * sizeof *keys);
    tu_shuffle(&rng, order, n);
    axi_tree *t = tu_new_tree();
    for (size_t i = 0; i < n; i++)
        upsert_ok(t, order[i], tu_payload_of(order[i], 2), true);
    check_tree(t);
    expect_contents(t, keys, vals, n);

    /* Zig-zag: from a random middle key go forward k, back 2k, forward k; cursor stays exact. */
    for (int round = 0; round < 200; round++) {
        size_t i = (size_t)tu_rng_below(&rng, n);
        size_t k = 1 + (size_t)tu_rng_below(&rng, 300);
        axi_cursor c;
        EXPECT_AT(axi_lower_bound(t, keys[i], &c), c, true, keys[i], vals[i]);
        size_t pos = i;
        for (size_t s = 0; s < k && pos + 1 < n; s++) {
            TU_REQUIRE(axi_next(&c), "next failed at position %zu", pos);
            pos++;
            TU_REQUIRE(axi_cursor_key(&c) == keys[pos], "next: wrong key at %zu", pos);
        }
        for (size_t s = 0; s < 2 * k && pos > 0; s++) {
            TU_REQUIRE(axi_prev(&c), "prev failed at position %zu", pos);
            pos--;
            TU_REQUIRE(axi_cursor_key(&c) == keys[pos], "prev: wrong key at %zu", pos);
            TU_REQUIRE(axi_cursor_payload(&c) == vals[pos], "prev: wrong payload at %zu", pos);
        }
    }
    axi_destroy(t);

    /* Same keys bulk-loaded. */
    t = tu_new_tree();
    assert_int_equal(axi_bulk_load(t, keys, vals, n), AXI_OK);
    check_tree(t);
    expect_contents(t, keys, vals, n);
    axi_destroy(t);
    free(order);
    free(keys);
    free(vals);
}

/* lower_bound / upper_bound / floor at, just below and just above every key, before the first
 * and after the last, on a tree built by inserts and on one built by bulk load. */
static void test_bounds_every_position(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    size_t n = tu_scaled(20000, 1000);
    uint64_t *keys = tu_xmalloc(n * sizeof *keys);
    uint64_t *vals = tu_xmalloc(n * sizeof *vals);
    /* Gaps of 2..65 so key-1 and key+1 are absent; first key > 1 and last < UINT64_MAX - 1. */
    uint64_t k = 10 + tu_rng_below(&rng, 1000);
    for (size_t i = 0; i < n; i++) {
        keys[i] = k;
        vals[i] = tu_payload_of(k, 3);
        k += 2 + tu_rng_below(&rng, 64);
    }

    for (int mode = 0; mode < 2; mode++) {
        axi_tree *t = tu_new_tree();
        if (mode == 0) {
            uint64_t *order = tu_xmalloc(n * sizeof *order);
            memcpy(order, keys, n * sizeof *keys);
            tu_shuffle(&rng, order, n);
            for (size_t i = 0; i < n; i++)
                upsert_ok(t, order[i], tu_payload_of(order[i], 3), true);
            free(order);
        } else {
            assert_int_equal(axi_bulk_load(t, keys, vals, n), AXI_OK);
        }
        check_tree(t);
        expect_bounds(t, keys, vals, n, 0);
        expect_bounds(t, keys, vals, n, keys[0] - 1);
        for (size_t i = 0; i < n; i++) {
            expect_bounds(t, keys, vals, n, keys[i] - 1);
            expect_bounds(t, keys, vals, n, keys[i]);
            expect_bounds(t, keys, vals, n, keys[i] + 1);
        }
        expect_bounds(t, keys, vals, n, keys[n - 1] + 1);
        expect_bounds(t, keys, vals, n, UINT64_C(1) << 63);
        expect_bounds(t, keys, vals, n, UINT64_MAX);
        axi_destroy(t);
    }
    free(keys);
    free(vals);
}

/* ---- bulk load ---------------------------------------------------------------------------- */

static void expect_empty_and_usable(axi_tree *t)
{
    axi_cursor c;
    assert_int_equal(axi_size(t), 0);
    TU_REQUIRE(!axi_first(t, &c), "tree not empty after failed bulk load");
    check_tree(t);
    upsert_ok(t, 77, 1, true);
    expect_find(t, 77, true, 1);
    TU_REQUIRE(axi_erase(t, 77, NULL), "erase after failed bulk load missed");
    assert_int_equal(axi_size(t), 0);
}

static void test_bulk_load_errors(void **state)
{
    (void)state;
    axi_tree *t = tu_new_tree();
    const uint64_t sorted[] = {1, 2, 3, 10, 20};
    const uint64_t pay[] = {11, 12, 13, 110, 120};

    /* NULL keys with n > 0. */
    assert_int_equal(axi_bulk_load(t, NULL, NULL, 3), AXI_EINVAL);
    assert_int_equal(axi_bulk_load(t, NULL, pay, 3), AXI_EINVAL);
    expect_empty_and_usable(t);

    /* Unsorted: at the start, in the middle, at the very end. */
    const uint64_t uns_a[] = {2, 1, 3, 4};
    const uint64_t uns_b[] = {1, 2, 5, 4, 6};
    const uint64_t uns_c[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 3};
    const uint64_t uns_d[] = {UINT64_MAX, 0};
    assert_int_equal(axi_bulk_load(t, uns_a, NULL, 4), AXI_EINVAL);
    expect_empty_and_usable(t);
    assert_int_equal(axi_bulk_load(t, uns_b, NULL, 5), AXI_EINVAL);
    expect_empty_and_usable(t);
    assert_int_equal(axi_bulk_load(t, uns_c, NULL, 16), AXI_EINVAL);
    expect_empty_and_usable(t);
    assert_int_equal(axi_bulk_load(t, uns_d, NULL, 2), AXI_EINVAL);
    expect_empty_and_usable(t);

    /* Duplicates: first pair, middle, last pair, extremes. */
    const uint64_t dup_a[] = {1, 1, 2};
    const uint64_t dup_b[] = {1, 2, 3, 3, 4};
    const uint64_t dup_c[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 15};
    const uint64_t dup_d[] = {0, 0};
    const uint64_t dup_e[] = {5, UINT64_MAX, UINT64_MAX};
    assert_int_equal(axi_bulk_load(t, dup_a, NULL, 3), AXI_EINVAL);
    expect_empty_and_usable(t);
    assert_int_equal(axi_bulk_load(t, dup_b, NULL, 5), AXI_EINVAL);
    expect_empty_and_usable(t);
    assert_int_equal(axi_bulk_load(t, dup_c, NULL, 16), AXI_EINVAL);
    expect_empty_and_usable(t);
    assert_int_equal(axi_bulk_load(t, dup_d, NULL, 2), AXI_EINVAL);
    expect_empty_and_usable(t);
    assert_int_equal(axi_bulk_load(t, dup_e, NULL, 3), AXI_EINVAL);
    expect_empty_and_usable(t);

    /* n == 0 is fine and leaves the tree empty (keys may then be NULL). */
    assert_int_equal(axi_bulk_load(t, NULL, NULL, 0), AXI_OK);
    assert_int_equal(axi_size(t), 0);
    assert_int_equal(axi_bulk_load(t, sorted, pay, 0), AXI_OK);
    expect_empty_and_usable(t);

    /* A good load, then a second load into the non-empty tree fails and changes nothing. */
    assert_int_equal(axi_bulk_load(t, sorted, pay, 5), AXI_OK);
    check_tree(t);
    expect_contents(t, sorted, pay, 5);
    const uint64_t more[] = {100, 200};
    assert_int_equal(axi_bulk_load(t, more, NULL, 2), AXI_ENOTEMPTY);
    expect_contents(t, sorted, pay, 5);
    expect_find(t, 100, false, 0);
    check_tree(t);
    axi_destroy(t);

    /* A tree that became non-empty through upsert also refuses. */
    t = tu_new_tree();
    upsert_ok(t, 1000, 1, true);
    assert_int_equal(axi_bulk_load(t, sorted, pay, 5), AXI_ENOTEMPTY);
    assert_int_equal(axi_size(t), 1);
    expect_find(t, 1000, true, 1);
    /* ... and accepts again once emptied. */
    TU_REQUIRE(axi_erase(t, 1000, NULL), "erase missed");
    assert_int_equal(axi_bulk_load(t, sorted, pay, 5), AXI_OK);
    expect_contents(t, sorted, pay, 5);
    check_tree(t);
    axi_destroy(t);
}

static void test_bulk_load_null_payloads_and_copy(void **state)
{
    (void)state;
    size_t n = 1000;
    uint64_t *keys = tu_xmalloc(n * sizeof *keys);
    uint64_t *vals = tu_xmalloc(n * sizeof *vals);
    uint64_t *zeros = tu_xmalloc(n * sizeof *zeros);
    for (size_t i = 0; i < n; i++) {
        keys[i] = i * i * 3 + 1;
        vals[i] = i + 5;
        zeros[i] = 0;
    }

    axi_tree *t = tu_new_tree();
    assert_int_equal(axi_bulk_load(t, keys, NULL, n), AXI_OK);
    check_tree(t);
    expect_contents(t, keys, zeros, n);
    axi_destroy(t);

    /* The arrays are copied: scribbling over them after the call changes nothing. */
    uint64_t *kcopy = tu_xmalloc(n * sizeof *kcopy);
    uint64_t *vcopy = tu_xmalloc(n * sizeof *vcopy);
    memcpy(kcopy, keys, n * sizeof *keys);
    memcpy(vcopy, vals, n * sizeof *vals);
    t = tu_new_tree();
    assert_int_equal(axi_bulk_load(t, kcopy, vcopy, n), AXI_OK);
    memset(kcopy, 0xFF, n * sizeof *kcopy);
    memset(vcopy, 0xEE, n * sizeof *vcopy);
    free(kcopy);
    free(vcopy);
    check_tree(t);
    expect_contents(t, keys, vals, n);
    for (size_t i = 0; i < n; i++)
        expect_find(t, keys[i], true, vals[i]);

    /* A bulk-loaded tree takes further inserts and erases normally. */
    upsert_ok(t, 0, 99, true);
    upsert_ok(t, UINT64_MAX, 98, true);
    upsert_ok(t, keys[10] + 1, 97, true);
    upsert_ok(t, keys[10], 96, false);
    expect_find(t, keys[10], true, 96);
    uint64_t old = 0;
    TU_REQUIRE(axi_erase(t, keys[500], &old) && old == vals[500], "erase after bulk load");
    assert_int_equal(axi_size(t), n + 3 - 1);
    check_tree(t);
    axi_destroy(t);

    /* n == 1 and n == 2 loads, with extremes. */
    const uint64_t one[] = {UINT64_MAX};
    const uint64_t two[] = {0, UINT64_MAX};
    t = tu_new_tree();
    assert_int_equal(axi_bulk_load(t, one, NULL, 1), AXI_OK);
    expect_find(t, UINT64_MAX, true, 0);
    check_tree(t);
    axi_destroy(t);
    t = tu_new_tree();
    assert_int_equal(axi_bulk_load(t, two, two, 2), AXI_OK);
    expect_contents(t, two, two, 2);
    check_tree(t);
    axi_destroy(t);

    free(keys);
    free(vals);
    free(zeros);
}

/* Large bulk loads of several shapes, checked key by key. */
static void test_bulk_load_large(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    size_t n = tu_scaled(200000, 10000);
    uint64_t *keys = tu_xmalloc(n * sizeof *keys);
    uint64_t *vals = tu_xmalloc(n * sizeof *vals);

    for (int shape = 0; shape < 4; shape++) {
        size_t m = n;
        for (size_t i = 0; i < m; i++) {
            switch (shape) {
            case 0: keys[i] = tu_rng_next(&rng); break;                  /* uniform */
            case 1: keys[i] = (uint64_t)i; break;                        /* dense from 0 */
            case 2: keys[i] = UINT64_MAX - (uint64_t)(m - 1) + i; break; /* dense to max */
            default:                                                     /* two far clusters */
                keys[i] = (i & 1) ? (UINT64_C(1) << 40) + tu_rng_below(&rng, m * 4)
                                  : UINT64_MAX - tu_rng_below(&rng, m * 4);
                break;
            }
        }
        m = tu_sort_unique(keys, m);
        for (size_t i = 0; i < m; i++)
            vals[i] = tu_payload_of(keys[i], 4);
        axi_tree *t = tu_new_tree();
        assert_int_equal(axi_bulk_load(t, keys, vals, m), AXI_OK);
        check_tree(t);
        expect_contents(t, keys, vals, m);
        for (size_t i = 0; i < m; i++) {
            uint64_t p;
            TU_REQUIRE(axi_find(t, keys[i], &p) && p == vals[i], "shape %d: key %llu lost", shape,
                       (unsigned long long)keys[i]);
        }
        axi_stats st;
        axi_get_stats(t, &st);
        assert_int_equal(st.num_keys, m);
        TU_REQUIRE(st.max_depth <= AXI_MAX_DEPTH, "depth %u", st.max_depth);
        TU_REQUIRE(st.data_slots >= m, "data_slots %llu < keys %zu",
                   (unsigned long long)st.data_slots, m);
        /* Bulk load is not an upsert. */
        assert_int_equal(st.num_inserts, 0);
        axi_destroy(t);
    }
    free(keys);
    free(vals);
}

/* ---- stats -------------------------------------------------------------------------------- */

/* Field by field: the struct has padding after max_depth. */
static bool stats_equal(const axi_stats *a, const axi_stats *b)
{
    return a->num_keys == b->num_keys && a->num_model_nodes == b->num_model_nodes &&
           a->num_data_nodes == b->num_data_nodes && a->max_depth == b->max_depth &&
           a->memory_bytes == b->memory_bytes && a->data_slots == b->data_slots &&
           a->num_inserts == b->num_inserts && a->num_updates == b->num_updates &&
           a->num_erases == b->num_erases && a->search_steps == b->search_steps &&
           a->shifts == b->shifts && a->expansions == b->expansions &&
           a->contractions == b->contractions && a->retrains == b->retrains &&
           a->splits_sideways == b->splits_sideways && a->splits_down == b->splits_down &&
           a->model_expansions == b->model_expansions &&
           a->root_expansions == b->root_expansions && a->merges == b->merges;
}

static void test_stats_counters_exact(void **state)
{
    (void)state;
    axi_tree *t = tu_new_tree();
    for (uint64_t k = 0; k < 3000; k++)
        upsert_ok(t, k * 1000003u, k, true);
    for (uint64_t k = 0; k < 1000; k++)
        upsert_ok(t, k * 1000003u, k + 1, false);
    for (uint64_t k = 0; k < 500; k++)
        TU_REQUIRE(axi_erase(t, k * 2 * 1000003u, NULL), "erase missed");
    for (uint64_t k = 0; k < 100; k++)
        (void)axi_erase(t, k * 1000003u + 1, NULL); /* misses */
    /* Lookups write nothing (contract 4), so they must not move any counter. */
    axi_stats before, after;
    axi_get_stats(t, &before);
    for (uint64_t k = 0; k < 3000; k++) {
        axi_cursor c;
        (void)axi_find(t, k * 1000003u, NULL);
        (void)axi_lower_bound(t, k * 1000003u + 1, &c);
    }
    axi_get_stats(t, &after);
    TU_REQUIRE(stats_equal(&before, &after), "lookups changed axi_stats");

    assert_int_equal(before.num_keys, 2500);
    assert_int_equal(axi_size(t), 2500);
    assert_int_equal(before.num_inserts, 3000);
    assert_int_equal(before.num_updates, 1000);
    assert_int_equal(before.num_erases, 500);
    TU_REQUIRE(before.num_data_nodes >= 1, "no data nodes");
    TU_REQUIRE(before.data_slots >= before.num_keys, "fewer slots than keys");
    TU_REQUIRE(before.memory_bytes >= before.num_keys * 2 * sizeof(uint64_t),
               "memory_bytes %llu cannot hold %llu keys and payloads",
               (unsigned long long)before.memory_bytes, (unsigned long long)before.num_keys);
    TU_REQUIRE(before.max_depth <= AXI_MAX_DEPTH, "depth");
    check_tree(t);
    axi_destroy(t);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_all_codes),
        cmocka_unit_test(test_create_null_and_destroy_null),
        cmocka_unit_test(test_empty_tree),
        cmocka_unit_test(test_single_key),
        cmocka_unit_test(test_key_zero),
        cmocka_unit_test(test_key_max),
        cmocka_unit_test(test_keys_zero_and_max),
        cmocka_unit_test(test_upsert_overwrite),
        cmocka_unit_test(test_erase_returns_old_payload),
        cmocka_unit_test(test_size_tracks_operations),
        cmocka_unit_test(test_cursor_walk_both_directions),
        cmocka_unit_test(test_bounds_every_position),
        cmocka_unit_test(test_bulk_load_errors),
        cmocka_unit_test(test_bulk_load_null_payloads_and_copy),
        cmocka_unit_test(test_bulk_load_large),
        cmocka_unit_test(test_stats_counters_exact),
    };
    /* Optional argv[1]: a cmocka name filter (e.g. "test_bulk*") to run a subset. */
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
