/*
 * test_api_options.c: ownership rules of option objects and the callbacks set on them, as real
 * RocksDB 7.8.3 has them (test_api_options_real runs the same expectations against it).
 *
 *  - a merge operator set on options belongs to the options and to every database opened with
 *    them: the options can be destroyed before the database closes; the operator's destructor
 *    runs once, when the last owner goes (here: rocksdb_close);
 *  - a comparator is the caller's and must outlive the database; its name is recorded in the
 *    database, and opening with a different name fails with "Invalid argument: ";
 *  - the merge callbacks see existing_value == NULL when there is no base value, and an empty
 *    non-NULL one for an empty base value.
 */
#include "api_util.h"

/* ---- block-based table options ------------------------------------------------------------ */

#ifndef AXP_AGAINST_REAL
void alexstorage_options_set_mode(rocksdb_options_t *opt, const char *mode, char **errptr);
#endif

/* The text of the OPTIONS-* file RocksDB wrote in dir (malloc'd), or NULL. */
static char *options_file_text(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cat '%s'/OPTIONS-* 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    size_t got;
    while (text && (got = fread(text + n, 1, cap - 1 - n, p)) > 0) {
        n += got;
        if (n == cap - 1) {
            char *bigger = realloc(text, cap *= 2);
            if (!bigger) {
                free(text);
                text = NULL;
            }
            text = bigger;
        }
    }
    pclose(p);
    if (text)
        text[n] = '\0';
    return text;
}

/* Block size, block cache and bloom filter set through the C API reach RocksDB's own options
 * (its OPTIONS file records them). The plugin runs this in hybrid mode, whose write side is
 * real RocksDB and must be configured as the caller asked; the _real copy shows the file real
 * RocksDB writes for the same calls. */
static void table_options_reach_rocksdb(void **state)
{
    (void)state;
    for (int bloom = 0; bloom <= 1; bloom++) {
        char dir[300];
        snprintf(dir, sizeof dir, "%s/bloom%d", axu_dir, bloom);
        rocksdb_options_t *o = axu_create_options();
        char *err = NULL;
#ifndef AXP_AGAINST_REAL
        alexstorage_options_set_mode(o, "hybrid", &err);
        axu_expect_ok(err);
#endif
        rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
        rocksdb_block_based_options_set_block_size(t, 8192);
        rocksdb_cache_t *cache = rocksdb_cache_create_lru(32u << 20);
        rocksdb_block_based_options_set_block_cache(t, cache);
        if (bloom)
            rocksdb_block_based_options_set_filter_policy(t,
                                                          rocksdb_filterpolicy_create_bloom_full(10));
        rocksdb_options_set_block_based_table_factory(o, t);
        rocksdb_block_based_options_destroy(t);
        rocksdb_t *db = rocksdb_open(o, dir, &err);
        axu_expect_ok(err);
        axu_put(db, "k", 1, "v", 1);
        rocksdb_close(db);
        rocksdb_options_destroy(o);
        rocksdb_cache_destroy(cache);

        char *text = options_file_text(dir);
        assert_non_null(text);
        assert_non_null(strstr(text, "block_size=8192"));
        assert_non_null(strstr(text, bloom ? "filter_policy=bloomfilter" : "filter_policy=nullptr"));
        free(text);
    }
}

/* ---- a merge operator that records what it was called with -------------------------------- */

static int mo_destructor_calls;
static int mo_saw_null_existing, mo_saw_empty_existing;

static void mo_destructor(void *state)
{
    assert_ptr_equal(state, &mo_destructor_calls);
    mo_destructor_calls++;
}

/* Full merge: "<existing or ~>" then "+operand" for each operand. */
static char *mo_full_merge(void *state, const char *key, size_t key_length,
                           const char *existing_value, size_t existing_value_length,
                           const char *const *operands_list, const size_t *operands_list_length,
                           int num_operands, unsigned char *success, size_t *new_value_length)
{
    (void)state, (void)key, (void)key_length;
    size_t n = existing_value ? existing_value_length : 1;
    for (int i = 0; i < num_operands; i++)
        n += 1 + operands_list_length[i];
    char *out = malloc(n + 1);
    size_t at = 0;
    if (existing_value) {
        if (existing_value_length == 0)
            mo_saw_empty_existing = 1;
        memcpy(out, existing_value, existing_value_length);
        at = existing_value_length;
    } else {
        mo_saw_null_existing = 1;
        out[at++] = '~';
    }
    for (int i = 0; i < num_operands; i++) {
        out[at++] = '+';
        memcpy(out + at, operands_list[i], operands_list_length[i]);
        at += operands_list_length[i];
    }
    *new_value_length = at;
    *success = 1;
    return out;
}

static char *mo_partial_merge(void *state, const char *key, size_t key_length,
                              const char *const *operands_list, const size_t *operands_list_length,
                              int num_operands, unsigned char *success, size_t *new_value_length)
{
    (void)state, (void)key, (void)key_length, (void)operands_list, (void)operands_list_length;
    (void)num_operands;
    /* Never combine operands: full_merge sees them all. Real RocksDB reads the length even
     * when success is 0, so it must be set. */
    *success = 0;
    *new_value_length = 0;
    return NULL;
}

static void mo_delete_value(void *state, const char *value, size_t value_length)
{
    (void)state, (void)value_length;
    free((void *)value);
}

static const char *mo_name(void *state)
{
    (void)state;
    return "axp.test.Recorder";
}

static rocksdb_mergeoperator_t *make_merge_operator(void)
{
    return rocksdb_mergeoperator_create(&mo_destructor_calls, mo_destructor, mo_full_merge,
                                        mo_partial_merge, mo_delete_value, mo_name);
}

static void check_value(rocksdb_t *db, const char *key, const char *want)
{
    size_t vn;
    char *v = axu_get(db, key, strlen(key), &vn);
    if (want == NULL) {
        assert_null(v);
        return;
    }
    assert_non_null(v);
    assert_int_equal(vn, strlen(want));
    assert_memory_equal(v, want, vn);
    free(v);
}

static void merge_operator_outlives_options(void **state)
{
    (void)state;
    mo_destructor_calls = 0;
    rocksdb_options_t *o = axu_create_options();
    rocksdb_options_set_merge_operator(o, make_merge_operator());
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, axu_path("db"), &err);
    axu_expect_ok(err);
    rocksdb_options_destroy(o); /* the database keeps the operator */
    assert_int_equal(mo_destructor_calls, 0);

    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_merge(db, wo, "k", 1, "a", 1, &err);
    axu_expect_ok(err);
    rocksdb_merge(db, wo, "k", 1, "b", 1, &err);
    axu_expect_ok(err);
    check_value(db, "k", "~+a+b");
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flush(db, fo, &err);
    axu_expect_ok(err);
    rocksdb_flushoptions_destroy(fo);
    check_value(db, "k", "~+a+b");
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
    assert_int_equal(mo_destructor_calls, 1);
}

static void merge_operator_destroyed_with_unused_options(void **state)
{
    (void)state;
    mo_destructor_calls = 0;
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_merge_operator(o, make_merge_operator());
    rocksdb_options_destroy(o);
    assert_int_equal(mo_destructor_calls, 1);
}

static void merge_existing_null_vs_empty(void **state)
{
    (void)state;
    mo_destructor_calls = 0;
    mo_saw_null_existing = mo_saw_empty_existing = 0;
    rocksdb_options_t *o = axu_create_options();
    rocksdb_options_set_merge_operator(o, make_merge_operator());
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, axu_path("db"), &err);
    axu_expect_ok(err);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();

    rocksdb_merge(db, wo, "none", 4, "x", 1, &err); /* no base value */
    axu_expect_ok(err);
    check_value(db, "none", "~+x");
    assert_true(mo_saw_null_existing);
    assert_false(mo_saw_empty_existing);

    rocksdb_put(db, wo, "empty", 5, "", 0, &err); /* an empty base value */
    rocksdb_merge(db, wo, "empty", 5, "y", 1, &err);
    axu_expect_ok(err);
    check_value(db, "empty", "+y");
    assert_true(mo_saw_empty_existing);

    rocksdb_put(db, wo, "del", 3, "base", 4, &err); /* a deleted base value is no base value */
    rocksdb_delete(db, wo, "del", 3, &err);
    rocksdb_merge(db, wo, "del", 3, "z", 1, &err);
    axu_expect_ok(err);
    check_value(db, "del", "~+z");

    rocksdb_put(db, wo, "base", 4, "B", 1, &err);
    rocksdb_merge(db, wo, "base", 4, "", 0, &err); /* an empty operand */
    rocksdb_merge(db, wo, "base", 4, "2", 1, &err);
    axu_expect_ok(err);
    check_value(db, "base", "B++2");

    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
    assert_int_equal(mo_destructor_calls, 1);
}

/* ---- comparators -------------------------------------------------------------------------- */

static int cmp_destructor_calls;

static void cmp_destructor(void *state)
{
    (void)state;
    cmp_destructor_calls++;
}

static int reverse_compare(void *state, const char *a, size_t alen, const char *b, size_t blen)
{
    (void)state;
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    if (c)
        return -c;
    return alen < blen ? 1 : alen > blen ? -1 : 0;
}

static const char *reverse_name(void *state)
{
    (void)state;
    return "axp.test.Reverse";
}

static const char *other_name(void *state)
{
    (void)state;
    return "axp.test.Other";
}

static void comparator_orders_keys(void **state)
{
    (void)state;
    rocksdb_comparator_t *cmp =
        rocksdb_comparator_create(NULL, cmp_destructor, reverse_compare, reverse_name);
    rocksdb_options_t *o = axu_create_options();
    rocksdb_options_set_comparator(o, cmp);
    char *err = NULL;
    const char *path = axu_path("db");
    rocksdb_t *db = rocksdb_open(o, path, &err);
#ifndef AXP_AGAINST_REAL
    /* Documented difference (docs/plugin.md): the engine orders keys bytewise only, so a
     * database with another comparator is refused, never silently misordered. */
    assert_null(db);
    axu_expect_err(&err, "Not implemented: ");
    rocksdb_options_destroy(o);
    rocksdb_comparator_destroy(cmp);
    return;
#endif
    axu_expect_ok(err);
    axu_put(db, "a", 1, "1", 1);
    axu_put(db, "c", 1, "3", 1);
    axu_put(db, "b", 1, "2", 1);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_iterator_t *it = rocksdb_create_iterator(db, ro);
    char seen[4] = {0};
    int n = 0;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it) && n < 3; rocksdb_iter_next(it)) {
        size_t kn;
        seen[n++] = rocksdb_iter_key(it, &kn)[0];
    }
    assert_string_equal(seen, "cba");
    rocksdb_iter_seek(it, "bb", 2); /* first key at or after "bb" in reverse order: "b" */
    assert_true(rocksdb_iter_valid(it));
    size_t kn;
    assert_int_equal(rocksdb_iter_key(it, &kn)[0], 'b');
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    rocksdb_close(db);

    db = rocksdb_open(o, path, &err); /* same name: fine */
    axu_expect_ok(err);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
    rocksdb_comparator_destroy(cmp); /* the caller's: destroyed after the database */
}

static void comparator_name_mismatch_fails(void **state)
{
    (void)state;
    char *err = NULL;
    rocksdb_comparator_t *rev =
        rocksdb_comparator_create(NULL, cmp_destructor, reverse_compare, reverse_name);
    rocksdb_comparator_t *other =
        rocksdb_comparator_create(NULL, cmp_destructor, reverse_compare, other_name);

    /* Created with the default bytewise comparator, opened with another name. */
    const char *p1 = strdup(axu_path("bytewise"));
    rocksdb_t *db = axu_open(p1);
    axu_put(db, "k", 1, "v", 1);
    rocksdb_close(db);
    rocksdb_options_t *o = axu_create_options();
    rocksdb_options_set_comparator(o, rev);
    db = rocksdb_open(o, p1, &err);
    assert_null(db);
    axu_expect_err(&err, "Invalid argument: ");

#ifndef AXP_AGAINST_REAL
    /* Creating with a custom comparator is refused (see comparator_orders_keys). */
    rocksdb_options_destroy(o);
    rocksdb_comparator_destroy(rev);
    rocksdb_comparator_destroy(other);
    free((void *)p1);
    return;
#endif
    /* Created with a custom comparator, opened with the default or another custom one. */
    const char *p2 = strdup(axu_path("custom"));
    db = rocksdb_open(o, p2, &err);
    axu_expect_ok(err);
    axu_put(db, "k", 1, "v", 1);
    rocksdb_close(db);
    rocksdb_options_t *plain = axu_create_options();
    db = rocksdb_open(plain, p2, &err);
    assert_null(db);
    axu_expect_err(&err, "Invalid argument: ");
    rocksdb_options_set_comparator(plain, other);
    db = rocksdb_open(plain, p2, &err);
    assert_null(db);
    axu_expect_err(&err, "Invalid argument: ");

    /* After the failed opens the database is intact. */
    db = rocksdb_open(o, p2, &err);
    axu_expect_ok(err);
    size_t vn;
    char *v = axu_get(db, "k", 1, &vn);
    assert_non_null(v);
    free(v);
    rocksdb_close(db);

    rocksdb_options_destroy(o);
    rocksdb_options_destroy(plain);
    rocksdb_comparator_destroy(rev);
    rocksdb_comparator_destroy(other);
    free((void *)p1);
    free((void *)p2);
}

static void uint64add_merge(void **state)
{
    (void)state;
    rocksdb_options_t *o = axu_create_options();
    rocksdb_options_set_uint64add_merge_operator(o);
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, axu_path("db"), &err);
    axu_expect_ok(err);
    rocksdb_options_destroy(o);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    uint64_t one = 1, big = UINT64_MAX;
    rocksdb_merge(db, wo, "n", 1, (const char *)&one, 8, &err);
    rocksdb_merge(db, wo, "n", 1, (const char *)&one, 8, &err);
    axu_expect_ok(err);
    size_t vn;
    char *v = axu_get(db, "n", 1, &vn);
    assert_int_equal(vn, 8);
    uint64_t got;
    memcpy(&got, v, 8);
    assert_int_equal(got, 2);
    free(v);
    rocksdb_merge(db, wo, "n", 1, "abc", 3, &err); /* not 8 bytes: counts as 0 */
    rocksdb_merge(db, wo, "n", 1, (const char *)&big, 8, &err); /* wraps around */
    axu_expect_ok(err);
    v = axu_get(db, "n", 1, &vn);
    assert_int_equal(vn, 8);
    memcpy(&got, v, 8);
    assert_int_equal(got, 1);
    free(v);
    rocksdb_put(db, wo, "s", 1, "short", 5, &err); /* a base value of the wrong size: 0 */
    rocksdb_merge(db, wo, "s", 1, (const char *)&one, 8, &err);
    v = axu_get(db, "s", 1, &vn);
    assert_int_equal(vn, 8);
    memcpy(&got, v, 8);
    assert_int_equal(got, 1);
    free(v);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
}

static const struct CMUnitTest tests[] = {
    AXU_TEST(table_options_reach_rocksdb),
    AXU_TEST(merge_operator_outlives_options),
    AXU_TEST(merge_operator_destroyed_with_unused_options),
    AXU_TEST(merge_existing_null_vs_empty),
    AXU_TEST(comparator_orders_keys),
    AXU_TEST(comparator_name_mismatch_fails),
    AXU_TEST(uint64add_merge),
};

AXU_MAIN(tests)
