/*
 * test_index_pathological.c: inputs that break naive learned indexes, one test each.
 *
 * Every test asserts correctness (every key found with its payload, full scans in order in both
 * directions, axi_check) and bounded shape through axi_get_stats (see check_shape):
 *   - max_depth <= AXI_MAX_DEPTH, and no deeper than the number of model nodes;
 *   - memory_bytes <= MAX_BYTES_PER_KEY * num_keys once num_keys >= BOUND_MIN_KEYS
 *     (MAX_BYTES_PER_KEY_ERASED after erases, see the bounds below);
 *   - node counts consistent: a data node when there are keys, enough slots for the keys, no
 *     data node over AXI_MAX_DATA_NODE_SLOTS on average, model nodes not outnumbering data nodes
 *     by more than a degenerate chain;
 *   - memory_bytes < EMPTY_TREE_MAX_BYTES with at most one key, and an emptied tree no bigger
 *     than one emptied after a thousand keys (check_emptied);
 *   - no data node over AXI_MAX_DATA_NODE_SLOTS slots, seen through cursor positions
 *     (check_data_node_sizes, index.h bound 6).
 * The insert-latency test only prints: this project never asserts on time.
 */
#include "test_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Memory bounds per key for trees of at least BOUND_MIN_KEYS keys, from docs/index.md
 * ("Bounds"): data-node arrays cost 16.125 bytes a slot; inserts and bulk loads keep density
 * between 0.6 and 0.8 (20 to 27 bytes a key plus node headers), so 64 is generous. Erases may
 * let a node fall to 0.2 density before it shrinks (about 81 bytes a key): ERASED allows that
 * plus headers. */
#define MAX_BYTES_PER_KEY 64u
#define MAX_BYTES_PER_KEY_ERASED 96u
#define BOUND_MIN_KEYS 10000u
/* A tree with no keys (or one key) must give its nodes back. */
#define EMPTY_TREE_MAX_BYTES (64u * 1024u)
/* An emptied tree may differ from another emptied tree by at most this: what is left after
 * erasing everything must not depend on how many keys there were (memory is O(n)). */
#define EMPTY_TREE_HISTORY_SLACK (4u * 1024u)

#define SALT 7

/* ---- helpers ------------------------------------------------------------------------------ */

static void print_shape(const char *what, const axi_stats *st)
{
    fprintf(stderr,
            "[ SHAPE    ] %s: keys=%" PRIu64 " bytes=%" PRIu64 " (%.1f B/key) depth=%u"
            " model_nodes=%" PRIu64 " data_nodes=%" PRIu64 " slots=%" PRIu64 "\n",
            what, st->num_keys, st->memory_bytes,
            st->num_keys ? (double)st->memory_bytes / (double)st->num_keys : 0.0, st->max_depth,
            st->num_model_nodes, st->num_data_nodes, st->data_slots);
    uint64_t ins = st->num_inserts ? st->num_inserts : 1;
    fprintf(stderr,
            "[ WORK     ] %s: inserts=%" PRIu64 " shifts/insert=%.1f steps/insert=%.1f"
            " expansions=%" PRIu64 " contractions=%" PRIu64 " splits_sideways=%" PRIu64
            " splits_down=%" PRIu64 " model_expansions=%" PRIu64 " root_expansions=%" PRIu64
            " merges=%" PRIu64 "\n",
            what, st->num_inserts, (double)st->shifts / (double)ins,
            (double)st->search_steps / (double)ins, st->expansions, st->contractions,
            st->splits_sideways, st->splits_down, st->model_expansions, st->root_expansions,
            st->merges);
}

/* Asserts the shape bounds of the file comment with `per_key` bytes a key allowed; `what`
 * names the situation in messages. */
static void check_shape_bound(const axi_tree *t, uint64_t expect_keys, const char *what,
                              unsigned per_key)
{
    axi_stats st;
    axi_get_stats(t, &st);
    TU_REQUIRE(st.num_keys == expect_keys, "%s: stats.num_keys %llu, expected %llu", what,
               (unsigned long long)st.num_keys, (unsigned long long)expect_keys);
    TU_REQUIRE(axi_size(t) == expect_keys, "%s: axi_size %llu, expected %llu", what,
               (unsigned long long)axi_size(t), (unsigned long long)expect_keys);
    TU_REQUIRE(st.max_depth <= AXI_MAX_DEPTH, "%s: depth %u > %u", what, st.max_depth,
               AXI_MAX_DEPTH);
    TU_REQUIRE(st.max_depth <= st.num_model_nodes, "%s: depth %u but only %llu model nodes", what,
               st.max_depth, (unsigned long long)st.num_model_nodes);
    if (st.num_keys > 0)
        TU_REQUIRE(st.num_data_nodes >= 1, "%s: keys but no data node", what);
    TU_REQUIRE(st.data_slots >= st.num_keys, "%s: %llu slots for %llu keys", what,
               (unsigned long long)st.data_slots, (unsigned long long)st.num_keys);
    TU_REQUIRE(st.data_slots <= st.num_data_nodes * (uint64_t)AXI_MAX_DATA_NODE_SLOTS,
               "%s: %llu slots in %llu data nodes exceeds AXI_MAX_DATA_NODE_SLOTS each", what,
               (unsigned long long)st.data_slots, (unsigned long long)st.num_data_nodes);
    TU_REQUIRE(st.num_model_nodes <= st.num_data_nodes + AXI_MAX_DEPTH,
               "%s: %llu model nodes over %llu data nodes", what,
               (unsigned long long)st.num_model_nodes, (unsigned long long)st.num_data_nodes);
    if (st.num_keys >= BOUND_MIN_KEYS)
        TU_REQUIRE(st.memory_bytes <= (uint64_t)per_key * st.num_keys,
                   "%s: memory %llu bytes for %llu keys = %.1f B/key > %u", what,
                   (unsigned long long)st.memory_bytes, (unsigned long long)st.num_keys,
                   (double)st.memory_bytes / (double)st.num_keys, per_key);
    if (st.num_keys <= 1)
        TU_REQUIRE(st.memory_bytes < EMPTY_TREE_MAX_BYTES,
                   "%s: %llu keys but memory_bytes %llu >= %u", what,
                   (unsigned long long)st.num_keys, (unsigned long long)st.memory_bytes,
                   EMPTY_TREE_MAX_BYTES);
}

/* After inserts or bulk loads. */
static void check_shape(const axi_tree *t, uint64_t expect_keys, const char *what)
{
    check_shape_bound(t, expect_keys, what, MAX_BYTES_PER_KEY);
}

/* After erases. */
static void check_shape_erased(const axi_tree *t, uint64_t expect_keys, const char *what)
{
    check_shape_bound(t, expect_keys, what, MAX_BYTES_PER_KEY_ERASED);
}

/*
 * Contract 6 of index.h: a data node has at most AXI_MAX_DATA_NODE_SLOTS slots (no operation
 * rebuilds a bigger one). A cursor names its data node and slot, so a full scan sees, for each
 * node, its highest occupied slot and how many keys it holds; either reaching the cap proves a
 * node over it.
 */
static void check_data_node_sizes(const axi_tree *t, const char *what)
{
    axi_cursor c;
    const void *node = NULL;
    uint64_t in_node = 0, max_keys = 0;
    uint32_t max_slot = 0;
    for (bool ok = axi_first(t, &c); ok; ok = axi_next(&c)) {
        if (c.node != node) {
            node = c.node;
            in_node = 0;
        }
        in_node++;
        if (in_node > max_keys)
            max_keys = in_node;
        if (c.slot > max_slot)
            max_slot = c.slot;
    }
    TU_REQUIRE(max_slot < AXI_MAX_DATA_NODE_SLOTS && max_keys <= AXI_MAX_DATA_NODE_SLOTS,
               "%s: a data node is over AXI_MAX_DATA_NODE_SLOTS (%u, index.h bound 6): the"
               " fullest node holds %llu keys, the highest slot seen is %u",
               what, AXI_MAX_DATA_NODE_SLOTS, (unsigned long long)max_keys, max_slot);
}

/* Full correctness: keys[0..n) sorted and unique, payload tu_payload_of(key, salt). */
static void verify_all(const axi_tree *t, const uint64_t *keys, size_t n, uint64_t salt,
                       const char *what)
{
    check_tree(t);
    check_shape(t, n, what);
    for (size_t i = 0; i < n; i++) {
        uint64_t p = 0;
        TU_REQUIRE(axi_find(t, keys[i], &p), "%s: key %llu (#%zu) not found", what,
                   (unsigned long long)keys[i], i);
        TU_REQUIRE(p == tu_payload_of(keys[i], salt), "%s: key %llu has the wrong payload", what,
                   (unsigned long long)keys[i]);
    }
    axi_cursor c;
    bool ok = axi_first(t, &c);
    for (size_t i = 0; i < n; i++) {
        TU_REQUIRE(ok, "%s: forward scan stopped after %zu of %zu keys", what, i, n);
        TU_REQUIRE(axi_cursor_key(&c) == keys[i], "%s: forward scan #%zu: %llu, want %llu", what,
                   i, (unsigned long long)axi_cursor_key(&c), (unsigned long long)keys[i]);
        ok = axi_next(&c);
    }
    TU_REQUIRE(!ok, "%s: forward scan returned more than %zu keys", what, n);
    ok = axi_last(t, &c);
    for (size_t i = n; i-- > 0;) {
        TU_REQUIRE(ok, "%s: backward scan stopped early at #%zu", what, i);
        TU_REQUIRE(axi_cursor_key(&c) == keys[i], "%s: backward scan #%zu: %llu, want %llu", what,
                   i, (unsigned long long)axi_cursor_key(&c), (unsigned long long)keys[i]);
        ok = axi_prev(&c);
    }
    TU_REQUIRE(!ok, "%s: backward scan returned more than %zu keys", what, n);
    check_data_node_sizes(t, what);
    axi_stats st;
    axi_get_stats(t, &st);
    print_shape(what, &st);
}

/* Inserts order[0..n) (all new keys). */
static void insert_all(axi_tree *t, const uint64_t *order, size_t n, uint64_t salt,
                       const char *what)
{
    for (size_t i = 0; i < n; i++) {
        bool ins = false;
        int rc = axi_upsert(t, order[i], tu_payload_of(order[i], salt), &ins);
        TU_REQUIRE(rc == AXI_OK, "%s: upsert #%zu (%llu) returned %d", what, i,
                   (unsigned long long)order[i], rc);
        TU_REQUIRE(ins, "%s: upsert #%zu (%llu) of a new key reported inserted=false", what, i,
                   (unsigned long long)order[i]);
        if ((i + 1) % 50000 == 0)
            check_tree(t);
    }
}

enum order_kind { ORDER_RANDOM, ORDER_SORTED, ORDER_REVERSE };

/* Inserts sorted unique keys[0..n) in the given order into a new tree, verifies, destroys. */
static void insert_and_verify(const uint64_t *keys, size_t n, enum order_kind ord, tu_rng *rng,
                              const char *what)
{
    uint64_t *order = tu_xmalloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = ord == ORDER_REVERSE ? keys[n - 1 - i] : keys[i];
    if (ord == ORDER_RANDOM)
        tu_shuffle(rng, order, n);
    axi_tree *t = tu_new_tree();
    insert_all(t, order, n, SALT, what);
    verify_all(t, keys, n, SALT, what);
    axi_destroy(t);
    free(order);
}

/* ---- one key, many times ------------------------------------------------------------------ */

static void test_repeat_upsert_one_key(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    const uint64_t keys[] = {tu_rng_next(&rng), 0, UINT64_MAX, UINT64_C(1) << 63};
    const int reps = 20000;
    for (size_t ki = 0; ki < sizeof keys / sizeof keys[0]; ki++) {
        axi_tree *t = tu_new_tree();
        for (int i = 0; i < reps; i++) {
            bool ins = i != 0;
            assert_int_equal(axi_upsert(t, keys[ki], (uint64_t)i, &ins), AXI_OK);
            TU_REQUIRE(ins == (i == 0), "rep %d: inserted=%d", i, (int)ins);
            TU_REQUIRE(axi_size(t) == 1, "rep %d: size %llu", i, (unsigned long long)axi_size(t));
            if (i % 1000 == 0)
                check_shape(t, 1, "repeat upsert");
        }
        check_tree(t);
        check_shape(t, 1, "repeat upsert");
        uint64_t p = 0;
        TU_REQUIRE(axi_find(t, keys[ki], &p) && p == (uint64_t)(reps - 1), "last payload lost");
        axi_cursor a, b;
        TU_REQUIRE(axi_first(t, &a) && axi_last(t, &b), "first/last on one key");
        TU_REQUIRE(axi_cursor_key(&a) == keys[ki] && axi_cursor_key(&b) == keys[ki],
                   "first/last key wrong");
        axi_stats st;
        axi_get_stats(t, &st);
        assert_int_equal(st.num_inserts, 1);
        assert_int_equal(st.num_updates, (uint64_t)reps - 1);
        axi_destroy(t);
    }
}

/* ---- dense blocks at 2^63 and at the top of the key space -------------------------------- */

static uint64_t *dense_keys(uint64_t first, size_t n)
{
    uint64_t *k = tu_xmalloc(n * sizeof *k);
    for (size_t i = 0; i < n; i++)
        k[i] = first + i;
    return k;
}

static void dense_case(uint64_t first_or_zero, bool ends_at_max, enum order_kind ord,
                       const char *test_name, const char *what)
{
    uint64_t seed = tu_seed(test_name);
    tu_rng rng;
    tu_rng_init(&rng, seed);
    size_t n = tu_scaled(100000, BOUND_MIN_KEYS);
    uint64_t first = ends_at_max ? UINT64_MAX - (uint64_t)(n - 1) : first_or_zero;
    uint64_t *keys = dense_keys(first, n);
    insert_and_verify(keys, n, ord, &rng, what);

    /* The same block bulk-loaded, then grown by one more dense block just below it. */
    axi_tree *t = tu_new_tree();
    assert_int_equal(axi_bulk_load(t, keys + n / 2, NULL, n - n / 2), AXI_OK);
    for (size_t i = n / 2; i-- > 0;)
        assert_int_equal(axi_upsert(t, keys[i], 0, NULL), AXI_OK);
    check_tree(t);
    check_shape(t, n, what);
    for (size_t i = 0; i < n; i++)
        TU_REQUIRE(axi_find(t, keys[i], NULL), "%s (bulk + grow down): key %llu lost", what,
                   (unsigned long long)keys[i]);
    axi_destroy(t);
    free(keys);
}

static void test_dense_at_2p63_random_order(void **state)
{
    (void)state;
    dense_case(UINT64_C(1) << 63, false, ORDER_RANDOM, __func__, "dense 2^63 random");
}

static void test_dense_at_2p63_sorted_order(void **state)
{
    (void)state;
    dense_case(UINT64_C(1) << 63, false, ORDER_SORTED, __func__, "dense 2^63 sorted");
}

static void test_dense_to_max_random_order(void **state)
{
    (void)state;
    dense_case(0, true, ORDER_RANDOM, __func__, "dense to max random");
}

static void test_dense_to_max_sorted_order(void **state)
{
    (void)state;
    dense_case(0, true, ORDER_SORTED, __func__, "dense to max sorted");
}

static void test_dense_to_max_reverse_order(void **state)
{
    (void)state;
    dense_case(0, true, ORDER_REVERSE, __func__, "dense to max reverse");
}

/* ---- extremes among other keys ------------------------------------------------------------ */

static void test_extremes_mixed_with_others(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    static const uint64_t ext[] = {0,
                                   1,
                                   2,
                                   (UINT64_C(1) << 63) - 1,
                                   UINT64_C(1) << 63,
                                   (UINT64_C(1) << 63) + 1,
                                   UINT64_MAX - 2,
                                   UINT64_MAX - 1,
                                   UINT64_MAX};
    const size_t next = sizeof ext / sizeof ext[0];
    size_t n = tu_scaled(50000, BOUND_MIN_KEYS);
    uint64_t *keys = tu_xmalloc((n + next) * sizeof *keys);

    /* (a) random keys over the whole space plus the extremes, random order. */
    for (size_t i = 0; i < n; i++)
        keys[i] = tu_rng_next(&rng);
    memcpy(keys + n, ext, sizeof ext);
    size_t m = tu_sort_unique(keys, n + next);
    TU_REQUIRE(keys[0] == 0 && keys[m - 1] == UINT64_MAX, "setup");
    insert_and_verify(keys, m, ORDER_RANDOM, &rng, "extremes + uniform, random order");
    insert_and_verify(keys, m, ORDER_SORTED, &rng, "extremes + uniform, sorted order");

    /* (b) a narrow middle block bulk-loaded, then the extremes inserted (the root's domain must
     * widen both ways), then more keys spread everywhere. */
    uint64_t mid = UINT64_C(1) << 40;
    size_t nb = n / 2;
    uint64_t *all = tu_xmalloc((n + next) * sizeof *all);
    for (size_t i = 0; i < nb; i++)
        all[i] = mid + i * 3;
    axi_tree *t = tu_new_tree();
    uint64_t *vals = tu_xmalloc(nb * sizeof *vals);
    for (size_t i = 0; i < nb; i++)
        vals[i] = tu_payload_of(all[i], SALT);
    assert_int_equal(axi_bulk_load(t, all, vals, nb), AXI_OK);
    free(vals);
    for (size_t i = 0; i < next; i++)
        assert_int_equal(axi_upsert(t, ext[i], tu_payload_of(ext[i], SALT), NULL), AXI_OK);
    check_tree(t);
    size_t total = nb;
    memcpy(all + total, ext, sizeof ext);
    total += next;
    while (total < n + next) {
        uint64_t k = tu_rng_next(&rng);
        bool ins = false;
        assert_int_equal(axi_upsert(t, k, tu_payload_of(k, SALT), &ins), AXI_OK);
        if (ins)
            all[total++] = k;
    }
    total = tu_sort_unique(all, total);
    verify_all(t, all, total, SALT, "bulk middle, then extremes, then uniform");

    /* Bounds right at the edges. */
    axi_cursor c;
    TU_REQUIRE(axi_lower_bound(t, UINT64_MAX, &c) && axi_cursor_key(&c) == UINT64_MAX, "lb max");
    TU_REQUIRE(!axi_upper_bound(t, UINT64_MAX, &c) && c.node == NULL, "ub max");
    TU_REQUIRE(axi_floor(t, 0, &c) && axi_cursor_key(&c) == 0, "floor 0");
    TU_REQUIRE(axi_upper_bound(t, 0, &c) && axi_cursor_key(&c) == 1, "ub 0");
    TU_REQUIRE(axi_floor(t, UINT64_MAX - 3, &c) && axi_cursor_key(&c) < UINT64_MAX - 2,
               "floor below max-2");

    /* Erase the extremes and check the neighbours take over as first/last. */
    for (size_t i = 0; i < next; i++)
        TU_REQUIRE(axi_erase(t, ext[i], NULL), "erase extreme %llu", (unsigned long long)ext[i]);
    check_tree(t);
    TU_REQUIRE(axi_first(t, &c) && axi_cursor_key(&c) > 2, "first after erasing extremes");
    TU_REQUIRE(axi_last(t, &c) && axi_cursor_key(&c) < UINT64_MAX - 2,
               "last after erasing extremes");
    check_shape_erased(t, total - next, "after erasing extremes");
    axi_destroy(t);
    free(all);
    free(keys);
}

/* ---- long monotone and clustered insert streams ------------------------------------------- */

static void test_sorted_stream(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    size_t n = tu_scaled(250000, 20000);
    uint64_t *keys = tu_xmalloc(n * sizeof *keys);
    uint64_t k = tu_rng_below(&rng, UINT64_C(1) << 60);
    for (size_t i = 0; i < n; i++) {
        k += 1 + tu_rng_below(&rng, 100);
        keys[i] = k;
    }
    insert_and_verify(keys, n, ORDER_SORTED, &rng, "sorted stream");
    free(keys);
}

static void test_reverse_sorted_stream(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    size_t n = tu_scaled(250000, 20000);
    uint64_t *keys = tu_xmalloc(n * sizeof *keys);
    uint64_t k = (UINT64_C(1) << 62) + tu_rng_below(&rng, UINT64_C(1) << 60);
    for (size_t i = 0; i < n; i++) {
        k += 1 + tu_rng_below(&rng, 100);
        keys[i] = k;
    }
    insert_and_verify(keys, n, ORDER_REVERSE, &rng, "reverse-sorted stream");
    free(keys);
}

/* Sorted and reverse-sorted streams long enough to drive a naive split-down chain to
 * AXI_MAX_DEPTH: the depth bound must hold and every key must stay reachable. */
static void test_long_sorted_streams(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    /* Not scaled below 500K: the depth limit is only reached by long streams. */
    size_t n = tu_scaled(1000000, 500000);
    uint64_t *keys = tu_xmalloc(n * sizeof *keys);
    uint64_t k = 1000 + tu_rng_below(&rng, 1000);
    for (size_t i = 0; i < n; i++) {
        k += 1 + tu_rng_below(&rng, 100);
        keys[i] = k;
    }
    insert_and_verify(keys, n, ORDER_SORTED, &rng, "long sorted stream");
    /* Reverse, ending right at UINT64_MAX. */
    uint64_t top = UINT64_MAX - keys[n - 1];
    for (size_t i = 0; i < n; i++)
        keys[i] += top;
    insert_and_verify(keys, n, ORDER_REVERSE, &rng, "long reverse stream to max");
    free(keys);
}

/* Keys approaching a point geometrically (each step covers 1/4096 of the remaining distance)
 * need one more level of resolution every few thousand keys. Approaching 0 from a bulk-loaded
 * block at 2^50 (left of the root's domain) and UINT64_MAX from below, then filling the deep
 * end densely: the depth bound and contract 6 must hold throughout, and every key must be
 * found. */
static void geometric_then_dense(bool toward_zero, const char *test_name)
{
    uint64_t seed = tu_seed(test_name);
    tu_rng rng;
    tu_rng_init(&rng, seed);
    const char *what = toward_zero ? "geometric to 0, then dense" : "geometric to max, then dense";
    size_t nbulk = tu_scaled(100000, 20000);
    size_t nwalk = 70000; /* not scaled: the deep end only forms after this many steps */
    size_t ndense = tu_scaled(400000, 100000);
    size_t cap = nbulk + nwalk + ndense;
    uint64_t *keys = tu_xmalloc(cap * sizeof *keys);
    size_t n = 0;

    uint64_t base = UINT64_C(1) << 50;
    for (size_t i = 0; i < nbulk; i++)
        keys[n++] = base + i * 1000 + tu_rng_below(&rng, 1000);
    axi_tree *t = tu_new_tree();
    uint64_t *vals = tu_xmalloc(nbulk * sizeof *vals);
    for (size_t i = 0; i < nbulk; i++)
        vals[i] = tu_payload_of(keys[i], SALT);
    assert_int_equal(axi_bulk_load(t, keys, vals, nbulk), AXI_OK);
    free(vals);

    /* Walk: distance to the target shrinks by 1/4096 (at least 1) per key. */
    uint64_t cur = toward_zero ? keys[0] : keys[nbulk - 1];
    for (size_t i = 0; i < nwalk; i++) {
        uint64_t dist = toward_zero ? cur : UINT64_MAX - cur;
        if (dist < 2 * ndense + 2)
            break;
        uint64_t step = dist / 4096 + 1;
        cur = toward_zero ? cur - step : cur + step;
        keys[n++] = cur;
        assert_int_equal(axi_upsert(t, cur, tu_payload_of(cur, SALT), NULL), AXI_OK);
    }
    check_tree(t);
    axi_stats st;
    axi_get_stats(t, &st);
    print_shape(toward_zero ? "geometric walk to 0" : "geometric walk to max", &st);

    /* Dense fill at the deep end: 1..ndense (or UINT64_MAX - ndense + 1..UINT64_MAX). */
    for (size_t i = 0; i < ndense; i++) {
        uint64_t k = toward_zero ? (uint64_t)i + 1 : UINT64_MAX - (uint64_t)i;
        keys[n++] = k;
        assert_int_equal(axi_upsert(t, k, tu_payload_of(k, SALT), NULL), AXI_OK);
        if ((i + 1) % 20000 == 0) {
            check_data_node_sizes(t, what); /* fail early rather than after a long fill */
            check_tree(t);
        }
    }
    size_t m = tu_sort_unique(keys, n);
    TU_REQUIRE(m == n, "test setup produced duplicate keys");
    verify_all(t, keys, m, SALT, what);
    axi_destroy(t);
    free(keys);
}

static void test_geometric_to_zero_then_dense(void **state)
{
    (void)state;
    geometric_then_dense(true, __func__);
}

static void test_geometric_to_max_then_dense(void **state)
{
    (void)state;
    geometric_then_dense(false, __func__);
}

/* A large bulk load packed at the top of the key space, then keys from everywhere: the root's
 * domain must widen to the left until its fan-out is exhausted, and then a new root goes above
 * it (at scale 1.0 this reaches root_expansions > 0; smaller scales still widen the domain). */
static void test_root_widening_after_narrow_bulk(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    size_t nbulk = tu_scaled(2500000, 100000);
    size_t nins = tu_scaled(500000, 50000);
    uint64_t *keys = tu_xmalloc((nbulk + nins + 2) * sizeof *keys);
    for (size_t i = 0; i < nbulk; i++)
        keys[i] = UINT64_MAX - (uint64_t)(nbulk - i) * 16;
    uint64_t *vals = tu_xmalloc(nbulk * sizeof *vals);
    for (size_t i = 0; i < nbulk; i++)
        vals[i] = tu_payload_of(keys[i], SALT);
    axi_tree *t = tu_new_tree();
    assert_int_equal(axi_bulk_load(t, keys, vals, nbulk), AXI_OK);
    free(vals);
    check_tree(t);
    size_t n = nbulk;
    for (size_t i = 0; i < nins; i++) {
        uint64_t k = i == 0 ? 0 : i == 1 ? 1 : tu_rng_next(&rng);
        bool ins = false;
        assert_int_equal(axi_upsert(t, k, tu_payload_of(k, SALT), &ins), AXI_OK);
        if (ins)
            keys[n++] = k;
        if ((i + 1) % 100000 == 0)
            check_tree(t);
    }
    n = tu_sort_unique(keys, n);
    verify_all(t, keys, n, SALT, "narrow bulk at the top, then uniform");
    axi_destroy(t);
    free(keys);
}

/* Clusters visited one after another in random order, each filled in ascending order: every
 * cluster is a sorted append into the middle of the existing key space. */
static void test_clustered_stream(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    size_t n = tu_scaled(250000, 20000);
    const size_t nclusters = 250;
    size_t per = n / nclusters;
    uint64_t *order = tu_xmalloc(per * nclusters * sizeof *order);
    size_t m = 0;
    for (size_t c = 0; c < nclusters; c++) {
        uint64_t k = tu_rng_below(&rng, UINT64_MAX - (uint64_t)per * 8);
        for (size_t i = 0; i < per; i++) {
            k += 1 + tu_rng_below(&rng, 4);
            order[m++] = k;
        }
    }
    /* Clusters could overlap by chance; drop repeats while keeping the stream order. */
    uint64_t *keys = tu_xmalloc(m * sizeof *keys);
    memcpy(keys, order, m * sizeof *keys);
    size_t u = tu_sort_unique(keys, m);
    axi_tree *t = tu_new_tree();
    for (size_t i = 0; i < m; i++) {
        int rc = axi_upsert(t, order[i], tu_payload_of(order[i], SALT), NULL);
        TU_REQUIRE(rc == AXI_OK, "upsert #%zu returned %d", i, rc);
        if ((i + 1) % 50000 == 0)
            check_tree(t);
    }
    verify_all(t, keys, u, SALT, "clustered stream");
    axi_destroy(t);

    /* All clusters advancing together (round-robin): many interleaved append points. */
    t = tu_new_tree();
    for (size_t i = 0; i < per; i++)
        for (size_t c = 0; c < nclusters; c++) {
            uint64_t kk = order[c * per + i];
            assert_int_equal(axi_upsert(t, kk, tu_payload_of(kk, SALT), NULL), AXI_OK);
        }
    verify_all(t, keys, u, SALT, "clustered round-robin");
    axi_destroy(t);
    free(order);
    free(keys);
}

/* ---- erase everything, then re-insert ----------------------------------------------------- */

/* Memory of a tree that held a few keys and had them all erased: the reference for what an
 * emptied tree may keep. */
static uint64_t emptied_small_tree_bytes(void)
{
    axi_tree *t = tu_new_tree();
    for (uint64_t k = 0; k < 1000; k++)
        assert_int_equal(axi_upsert(t, k * 0x9E3779B97F4A7C15ull, k, NULL), AXI_OK);
    for (uint64_t k = 0; k < 1000; k++)
        TU_REQUIRE(axi_erase(t, k * 0x9E3779B97F4A7C15ull, NULL), "erase missed");
    axi_stats st;
    axi_get_stats(t, &st);
    axi_destroy(t);
    return st.memory_bytes;
}

/* An emptied tree keeps no more than a small emptied tree does (plus slack). */
static void check_emptied(const axi_tree *t, const char *what)
{
    static uint64_t reference;
    if (reference == 0)
        reference = emptied_small_tree_bytes();
    axi_stats st;
    axi_get_stats(t, &st);
    TU_REQUIRE(st.num_keys == 0, "%s: not empty", what);
    TU_REQUIRE(st.memory_bytes <= reference + EMPTY_TREE_HISTORY_SLACK,
               "%s: emptied tree keeps %llu bytes (%llu data nodes, %llu model nodes); a tree "
               "emptied after 1000 keys keeps %llu",
               what, (unsigned long long)st.memory_bytes, (unsigned long long)st.num_data_nodes,
               (unsigned long long)st.num_model_nodes, (unsigned long long)reference);
}

static void erase_all(axi_tree *t, const uint64_t *order, size_t n, uint64_t salt,
                      const char *what)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t p = 0;
        TU_REQUIRE(axi_erase(t, order[i], &p), "%s: erase #%zu (%llu) missed", what, i,
                   (unsigned long long)order[i]);
        TU_REQUIRE(p == tu_payload_of(order[i], salt), "%s: erase #%zu wrong payload", what, i);
        if ((i + 1) % (n / 10 + 1) == 0) {
            check_tree(t);
            check_shape_erased(t, n - i - 1, what);
        }
    }
    check_tree(t);
    check_shape_erased(t, 0, what);
    check_emptied(t, what);
    axi_cursor c;
    TU_REQUIRE(!axi_first(t, &c) && !axi_last(t, &c), "%s: keys left after erasing all", what);
    axi_stats st;
    axi_get_stats(t, &st);
    print_shape(what, &st);
}

static void test_erase_all_then_reinsert(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    size_t n = tu_scaled(200000, 20000);
    uint64_t *keys = tu_xmalloc(n * sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = tu_rng_next(&rng);
    n = tu_sort_unique(keys, n);
    uint64_t *order = tu_xmalloc(n * sizeof *order);
    memcpy(order, keys, n * sizeof *keys);
    tu_shuffle(&rng, order, n);

    axi_tree *t = tu_new_tree();
    insert_all(t, order, n, 1, "first fill");
    verify_all(t, keys, n, 1, "first fill");
    tu_shuffle(&rng, order, n);
    erase_all(t, order, n, 1, "erase all, random order");

    /* Re-insert in sorted order with new payloads. */
    insert_all(t, keys, n, 2, "refill sorted");
    verify_all(t, keys, n, 2, "refill sorted");
    erase_all(t, keys, n, 2, "erase all, sorted order");

    /* Re-insert in random order; erase in reverse order. */
    insert_all(t, order, n, 3, "refill random");
    verify_all(t, keys, n, 3, "refill random");
    for (size_t i = 0; i < n; i++)
        order[i] = keys[n - 1 - i];
    erase_all(t, order, n, 3, "erase all, reverse order");

    /* A bulk-loaded tree emptied the same way. */
    uint64_t *vals = tu_xmalloc(n * sizeof *vals);
    for (size_t i = 0; i < n; i++)
        vals[i] = tu_payload_of(keys[i], 4);
    assert_int_equal(axi_bulk_load(t, keys, vals, n), AXI_OK);
    verify_all(t, keys, n, 4, "bulk load after emptying");
    tu_shuffle(&rng, order, n);
    erase_all(t, order, n, 4, "erase all of bulk load");
    insert_all(t, order, n, 5, "refill after bulk");
    verify_all(t, keys, n, 5, "refill after bulk");
    axi_destroy(t);
    free(vals);
    free(order);
    free(keys);
}

/* ---- churn on a small key set ------------------------------------------------------------- */

/* Full rounds: insert every key of a fixed set, erase every key; repeat. Memory at the full
 * point must not grow from round to round, and must come back down at the empty point. */
static void test_churn_full_rounds(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    const size_t n = 12000;
    size_t rounds = tu_scaled(60, 8);
    uint64_t *keys = tu_xmalloc(n * sizeof *keys);
    uint64_t *order = tu_xmalloc(n * sizeof *order);
    axi_tree *t = tu_new_tree();
    for (int set = 0; set < 2; set++) {
        /* set 0: random 64-bit keys; set 1: a dense block. */
        uint64_t base = tu_rng_next(&rng) >> 1;
        for (size_t i = 0; i < n; i++)
            keys[i] = set == 0 ? tu_rng_next(&rng) : base + i;
        size_t m = tu_sort_unique(keys, n);
        uint64_t first_full = 0;
        for (size_t r = 0; r < rounds; r++) {
            memcpy(order, keys, m * sizeof *keys);
            tu_shuffle(&rng, order, m);
            insert_all(t, order, m, r, "churn fill");
            axi_stats st;
            axi_get_stats(t, &st);
            if (r == 0)
                first_full = st.memory_bytes;
            TU_REQUIRE(st.memory_bytes <= 2 * first_full + EMPTY_TREE_MAX_BYTES,
                       "set %d round %zu: full-tree memory grew from %llu to %llu bytes", set, r,
                       (unsigned long long)first_full, (unsigned long long)st.memory_bytes);
            check_shape(t, m, "churn full");
            tu_shuffle(&rng, order, m);
            for (size_t i = 0; i < m; i++)
                TU_REQUIRE(axi_erase(t, order[i], NULL), "set %d round %zu: erase missed", set,
                           r);
            check_shape_erased(t, 0, "churn empty");
            check_emptied(t, "churn empty");
            if (r % 8 == 0)
                check_tree(t);
        }
        check_tree(t);
        axi_stats st;
        axi_get_stats(t, &st);
        print_shape(set == 0 ? "churn rounds (random set), empty" : "churn rounds (dense set), "
                                                                    "empty",
                    &st);
    }
    axi_destroy(t);
    free(keys);
    free(order);
}

/* Random toggles on a fixed set: each operation inserts the chosen key if absent, erases it if
 * present. About half the set is live at any time; memory must stay bounded by the set size. */
static void test_churn_random_toggles(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    const size_t n = 16384;
    size_t ops = tu_scaled(1000000, 100000);
    uint64_t *keys = tu_xmalloc(n * sizeof *keys);
    bool *live = calloc(n, sizeof *live);
    assert_non_null(live);
    uint64_t base = tu_rng_next(&rng);
    for (size_t i = 0; i < n; i++)
        keys[i] = (i & 1) ? tu_rng_next(&rng) : base + i; /* half dense, half scattered */
    size_t m = tu_sort_unique(keys, n);

    axi_tree *t = tu_new_tree();
    uint64_t count = 0, first_mem = 0;
    for (size_t op = 0; op < ops; op++) {
        size_t i = (size_t)tu_rng_below(&rng, m);
        if (live[i]) {
            uint64_t p = 0;
            TU_REQUIRE(axi_erase(t, keys[i], &p) && p == keys[i],
                       "op %zu: erase of live key %llu failed or wrong payload", op,
                       (unsigned long long)keys[i]);
            count--;
        } else {
            bool ins = false;
            assert_int_equal(axi_upsert(t, keys[i], keys[i], &ins), AXI_OK);
            TU_REQUIRE(ins, "op %zu: key %llu was absent but upsert says not inserted", op,
                       (unsigned long long)keys[i]);
            count++;
        }
        live[i] = !live[i];
        if ((op + 1) % 10000 == 0) {
            axi_stats st;
            axi_get_stats(t, &st);
            TU_REQUIRE(st.num_keys == count, "op %zu: num_keys %llu, expected %llu", op,
                       (unsigned long long)st.num_keys, (unsigned long long)count);
            TU_REQUIRE(st.memory_bytes <= (uint64_t)MAX_BYTES_PER_KEY * m,
                       "op %zu: memory %llu bytes for a %zu-key set (%llu live)", op,
                       (unsigned long long)st.memory_bytes, m, (unsigned long long)count);
            if (first_mem == 0)
                first_mem = st.memory_bytes;
            TU_REQUIRE(st.memory_bytes <= 2 * first_mem + EMPTY_TREE_MAX_BYTES,
                       "op %zu: memory grew from %llu to %llu bytes under steady churn", op,
                       (unsigned long long)first_mem, (unsigned long long)st.memory_bytes);
            check_shape_erased(t, count, "toggle churn");
            if ((op + 1) % 100000 == 0)
                check_tree(t);
        }
    }
    check_tree(t);
    for (size_t i = 0; i < m; i++) {
        uint64_t p = 0;
        bool hit = axi_find(t, keys[i], &p);
        TU_REQUIRE(hit == live[i], "key %llu: found=%d, live=%d", (unsigned long long)keys[i],
                   (int)hit, (int)live[i]);
        TU_REQUIRE(!hit || p == keys[i], "key %llu: wrong payload", (unsigned long long)keys[i]);
    }
    axi_stats st;
    axi_get_stats(t, &st);
    print_shape("toggle churn, end", &st);
    axi_destroy(t);
    free(live);
    free(keys);
}

/* ---- worst single insert (report only) ---------------------------------------------------- */

static void test_worst_single_insert_report(void **state)
{
    uint64_t seed = tu_seed(__func__);
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, seed);
    size_t n = tu_scaled(1000000, 50000);
    axi_tree *t = tu_new_tree();
    uint64_t worst = 0, total = 0;
    size_t worst_at = 0, inserted = 0;
    uint64_t over_10us = 0, over_100us = 0, over_1ms = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = tu_rng_next(&rng);
        bool ins = false;
        uint64_t t0 = tu_now_ns();
        int rc = axi_upsert(t, k, i, &ins);
        uint64_t dt = tu_now_ns() - t0;
        TU_REQUIRE(rc == AXI_OK, "upsert #%zu returned %d", i, rc);
        inserted += ins;
        total += dt;
        over_10us += dt > 10000;
        over_100us += dt > 100000;
        over_1ms += dt > 1000000;
        if (dt > worst) {
            worst = dt;
            worst_at = i;
        }
    }
    check_tree(t);
    check_shape(t, inserted, "worst insert");
    axi_stats st;
    axi_get_stats(t, &st);
    fprintf(stderr,
            "[ REPORT   ] %zu random inserts: mean %.0f ns, worst %" PRIu64 " ns (insert #%zu),"
            " >10us %" PRIu64 ", >100us %" PRIu64 ", >1ms %" PRIu64 "\n",
            n, (double)total / (double)n, worst, worst_at, over_10us, over_100us, over_1ms);
    fprintf(stderr,
            "[ REPORT   ] expansions=%" PRIu64 " splits_sideways=%" PRIu64 " splits_down=%" PRIu64
            " model_expansions=%" PRIu64 " root_expansions=%" PRIu64 " shifts=%" PRIu64 "\n",
            st.expansions, st.splits_sideways, st.splits_down, st.model_expansions,
            st.root_expansions, st.shifts);
    print_shape("worst insert", &st);
    axi_destroy(t);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeat_upsert_one_key),
        cmocka_unit_test(test_dense_at_2p63_random_order),
        cmocka_unit_test(test_dense_at_2p63_sorted_order),
        cmocka_unit_test(test_dense_to_max_random_order),
        cmocka_unit_test(test_dense_to_max_sorted_order),
        cmocka_unit_test(test_dense_to_max_reverse_order),
        cmocka_unit_test(test_extremes_mixed_with_others),
        cmocka_unit_test(test_sorted_stream),
        cmocka_unit_test(test_reverse_sorted_stream),
        cmocka_unit_test(test_long_sorted_streams),
        cmocka_unit_test(test_geometric_to_zero_then_dense),
        cmocka_unit_test(test_geometric_to_max_then_dense),
        cmocka_unit_test(test_root_widening_after_narrow_bulk),
        cmocka_unit_test(test_clustered_stream),
        cmocka_unit_test(test_erase_all_then_reinsert),
        cmocka_unit_test(test_churn_full_rounds),
        cmocka_unit_test(test_churn_random_toggles),
        cmocka_unit_test(test_worst_single_insert_report),
    };
    /* Optional argv[1]: a cmocka name filter (e.g. "test_dense*") to run a subset. */
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
