/*
 * test_api_conventions.c: the conventions of <rocksdb/c.h> that every caller relies on, as real
 * RocksDB 7.8.3 implements them (each case passes against librocksdb: test_api_conventions_real).
 *
 *  - errptr: success leaves *errptr untouched (a sentinel pointer survives); failure frees the
 *    old message and stores a new malloc'd one (ASan builds catch a leak or a double free).
 *  - rocksdb_get: malloc'd value released with free(); NULL and no error for a missing key;
 *    non-NULL with length 0 for an empty value; a NULL key with length 0 is the empty key.
 *  - pinnable slices, multi_get, iterators: NULL-safety and error slots as RocksDB has them.
 *  - exact error prefixes for the failures a program meets first.
 */
#include "api_util.h"

static char sentinel_storage[] = "sentinel: not a malloc'd message";
#define SENTINEL (sentinel_storage)

static void success_leaves_errptr_untouched(void **state)
{
    (void)state;
    rocksdb_t *db = axu_open(axu_path("db"));
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    char *err = SENTINEL;

    rocksdb_put(db, wo, "k", 1, "v", 1, &err);
    assert_ptr_equal(err, SENTINEL);
    rocksdb_delete(db, wo, "k", 1, &err);
    assert_ptr_equal(err, SENTINEL);
    size_t vn = 99;
    char *v = rocksdb_get(db, ro, "k", 1, &vn, &err); /* missing: not an error */
    assert_null(v);
    assert_ptr_equal(err, SENTINEL);
    rocksdb_pinnableslice_t *ps = rocksdb_get_pinned(db, ro, "k", 1, &err);
    assert_null(ps);
    assert_ptr_equal(err, SENTINEL);

    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_put(wb, "a", 1, "b", 1);
    rocksdb_write(db, wo, wb, &err);
    assert_ptr_equal(err, SENTINEL);
    rocksdb_writebatch_set_save_point(wb);
    rocksdb_writebatch_rollback_to_save_point(wb, &err);
    assert_ptr_equal(err, SENTINEL);
    rocksdb_writebatch_destroy(wb);

    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flush(db, fo, &err);
    assert_ptr_equal(err, SENTINEL);
    rocksdb_flushoptions_destroy(fo);

    rocksdb_iterator_t *it = rocksdb_create_iterator(db, ro);
    rocksdb_iter_seek_to_first(it);
    rocksdb_iter_get_error(it, &err);
    assert_ptr_equal(err, SENTINEL);
    rocksdb_iter_destroy(it);

    rocksdb_readoptions_destroy(ro);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
}

/* A failure replaces an earlier message: the old one is freed (ASan: no leak), the new one is
 * malloc'd (free() below must be valid). */
static void failure_replaces_old_message(void **state)
{
    (void)state;
    char *err = strdup("old message that must be freed");
    rocksdb_options_t *o = rocksdb_options_create(); /* create_if_missing off */
    rocksdb_t *db = rocksdb_open(o, axu_path("missing"), &err);
    assert_null(db);
    axu_expect_err(&err, "Invalid argument: ");

    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    err = strdup("another old message");
    rocksdb_writebatch_pop_save_point(wb, &err);
    axu_expect_err(&err, "NotFound: ");
    /* Two failures in a row through the same errptr. */
    rocksdb_writebatch_rollback_to_save_point(wb, &err);
    assert_non_null(err);
    rocksdb_writebatch_rollback_to_save_point(wb, &err);
    axu_expect_err(&err, "NotFound: ");
    rocksdb_writebatch_destroy(wb);
    rocksdb_options_destroy(o);
}

static void merge_without_operator_fails(void **state)
{
    (void)state;
    rocksdb_t *db = axu_open(axu_path("db"));
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    char *err = NULL;
    rocksdb_merge(db, wo, "k", 1, "v", 1, &err);
    axu_expect_err(&err, "Not implemented: ");
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
}

static void get_missing_empty_and_free(void **state)
{
    (void)state;
    rocksdb_t *db = axu_open(axu_path("db"));
    size_t vn = 12345;
    char *v = axu_get(db, "nope", 4, &vn);
    assert_null(v);
    assert_int_equal(vn, 0); /* RocksDB sets the length to 0 for a missing key */

    axu_put(db, "empty", 5, NULL, 0); /* a NULL value of length 0 is the empty value */
    vn = 12345;
    v = axu_get(db, "empty", 5, &vn);
    assert_non_null(v);
    assert_int_equal(vn, 0);
    free(v);

    axu_put(db, NULL, 0, "for the empty key", 17); /* NULL key of length 0: the empty key */
    v = axu_get(db, "", 0, &vn);
    assert_non_null(v);
    assert_int_equal(vn, 17);
    assert_memory_equal(v, "for the empty key", 17);
    free(v);
    v = axu_get(db, NULL, 0, &vn);
    assert_non_null(v);
    rocksdb_free(v); /* rocksdb_free is free() */

    /* A value with zero bytes in it comes back whole. */
    axu_put(db, "bin", 3, "a\0b\0", 4);
    v = axu_get(db, "bin", 3, &vn);
    assert_int_equal(vn, 4);
    assert_memory_equal(v, "a\0b\0", 4);
    free(v);
    rocksdb_close(db);
}

static void pinnableslice_null_safe(void **state)
{
    (void)state;
    size_t vn = 77;
    assert_null(rocksdb_pinnableslice_value(NULL, &vn));
    assert_int_equal(vn, 0);
    rocksdb_pinnableslice_destroy(NULL);

    rocksdb_t *db = axu_open(axu_path("db"));
    axu_put(db, "k", 1, "", 0);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    char *err = NULL;
    rocksdb_pinnableslice_t *ps = rocksdb_get_pinned(db, ro, "k", 1, &err);
    axu_expect_ok(err);
    assert_non_null(ps); /* found, empty */
    vn = 77;
    rocksdb_pinnableslice_value(ps, &vn);
    assert_int_equal(vn, 0);
    rocksdb_pinnableslice_destroy(ps);

    axu_put(db, "k", 1, "value", 5);
    ps = rocksdb_get_pinned(db, ro, "k", 1, &err);
    axu_expect_ok(err);
    /* The pinned value stays valid across later writes until destroyed. */
    axu_put(db, "k", 1, "other", 5);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_delete(db, wo, "k", 1, &err);
    axu_expect_ok(err);
    const char *pv = rocksdb_pinnableslice_value(ps, &vn);
    assert_int_equal(vn, 5);
    assert_memory_equal(pv, "value", 5);
    rocksdb_pinnableslice_destroy(ps);

    ps = rocksdb_get_pinned(db, ro, "k", 1, &err);
    axu_expect_ok(err);
    assert_null(ps);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_readoptions_destroy(ro);
    rocksdb_close(db);
}

static void multi_get_slots(void **state)
{
    (void)state;
    rocksdb_t *db = axu_open(axu_path("db"));
    axu_put(db, "a", 1, "1", 1);
    axu_put(db, "e", 1, "", 0);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    const char *keys[4] = {"a", "zz", "e", NULL};
    size_t klens[4] = {1, 2, 1, 0};
    char *vals[4];
    size_t vlens[4] = {9, 9, 9, 9};
    char *errs[4];
    for (int i = 0; i < 4; i++) {
        vals[i] = SENTINEL;
        errs[i] = SENTINEL;
    }
    rocksdb_multi_get(db, ro, 4, keys, klens, vals, vlens, errs);
    for (int i = 0; i < 4; i++)
        assert_null(errs[i]); /* every slot written: NULL for found and for missing */
    assert_non_null(vals[0]);
    assert_int_equal(vlens[0], 1);
    assert_memory_equal(vals[0], "1", 1);
    assert_null(vals[1]);
    assert_int_equal(vlens[1], 0);
    assert_non_null(vals[2]);
    assert_int_equal(vlens[2], 0);
    assert_null(vals[3]); /* the empty key, absent */
    for (int i = 0; i < 4; i++)
        free(vals[i]);
    rocksdb_multi_get(db, ro, 0, keys, klens, vals, vlens, errs); /* zero keys: nothing */
    rocksdb_readoptions_destroy(ro);
    rocksdb_close(db);
}

static void destroy_null_is_safe(void **state)
{
    (void)state;
    /* Real RocksDB deletes these with `delete p`, which accepts NULL. */
    rocksdb_options_destroy(NULL);
    rocksdb_readoptions_destroy(NULL);
    rocksdb_writeoptions_destroy(NULL);
    rocksdb_flushoptions_destroy(NULL);
    rocksdb_writebatch_destroy(NULL);
    rocksdb_mergeoperator_destroy(NULL);
    rocksdb_comparator_destroy(NULL);
    rocksdb_free(NULL);
}

static void read_only_writes_fail(void **state)
{
    (void)state;
    const char *path = axu_path("db");
    rocksdb_t *db = axu_open(path);
    axu_put(db, "k", 1, "v", 1);
    rocksdb_close(db);

    rocksdb_options_t *o = rocksdb_options_create();
    char *err = NULL;
    db = rocksdb_open_for_read_only(o, path, 0, &err);
    axu_expect_ok(err);
    assert_non_null(db);
    size_t vn;
    char *v = axu_get(db, "k", 1, &vn); /* the unflushed write came back from the log */
    assert_non_null(v);
    assert_memory_equal(v, "v", 1);
    free(v);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_put(db, wo, "k", 1, "w", 1, &err);
    axu_expect_err(&err, "Not implemented: ");
    rocksdb_delete(db, wo, "k", 1, &err);
    axu_expect_err(&err, "Not implemented: ");
    rocksdb_singledelete(db, wo, "k", 1, &err);
    axu_expect_err(&err, "Not implemented: ");
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_put(wb, "x", 1, "y", 1);
    rocksdb_write(db, wo, wb, &err);
    axu_expect_err(&err, "Not implemented: ");
    rocksdb_writebatch_destroy(wb);
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flush(db, fo, &err);
    axu_expect_err(&err, "Not implemented: ");
    rocksdb_flushoptions_destroy(fo);
    v = axu_get(db, "k", 1, &vn);
    assert_memory_equal(v, "v", 1);
    free(v);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);

    /* A read-only open of a missing database: IO error (CURRENT cannot be read). */
    db = rocksdb_open_for_read_only(o, axu_path("missing"), 0, &err);
    assert_null(db);
    axu_expect_err(&err, "IO error: ");
    rocksdb_options_destroy(o);
}

static void open_errors(void **state)
{
    (void)state;
    const char *path = axu_path("db");
    char *err = NULL;
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_t *db = rocksdb_open(o, path, &err); /* create_if_missing is off */
    assert_null(db);
    axu_expect_err(&err, "Invalid argument: ");

    rocksdb_options_set_create_if_missing(o, 1);
    db = rocksdb_open(o, path, &err);
    axu_expect_ok(err);
    /* A second handle on an open database fails on the lock. */
    rocksdb_t *db2 = rocksdb_open(o, path, &err);
    assert_null(db2);
    axu_expect_err(&err, "IO error: ");
    rocksdb_close(db);

    rocksdb_options_set_error_if_exists(o, 1);
    db = rocksdb_open(o, path, &err);
    assert_null(db);
    axu_expect_err(&err, "Invalid argument: ");
    rocksdb_options_set_error_if_exists(o, 0);
    db = rocksdb_open(o, path, &err);
    axu_expect_ok(err);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
}

static void batch_errors(void **state)
{
    (void)state;
    rocksdb_t *db = axu_open(axu_path("db"));
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    char *err = NULL;
    uint64_t seq = rocksdb_get_latest_sequence_number(db);

    /* An empty batch consumes no sequence number; an empty range is fine and counts as one
     * record; log data is no record. */
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_write(db, wo, wb, &err);
    axu_expect_ok(err);
    assert_int_equal(rocksdb_get_latest_sequence_number(db), seq);
    rocksdb_writebatch_delete_range(wb, "a", 1, "a", 1);
    rocksdb_writebatch_put_log_data(wb, "blob", 4);
    assert_int_equal(rocksdb_writebatch_count(wb), 1);
    rocksdb_write(db, wo, wb, &err);
    axu_expect_ok(err);
    assert_int_equal(rocksdb_get_latest_sequence_number(db), seq + 1);
    rocksdb_writebatch_destroy(wb);

    /* A range whose end comes before its start fails the write with "Invalid argument: ".
     * Only the prefix is checked: RocksDB 7.8.3 applies the records before the bad range,
     * advances the sequence number past the whole batch and then refuses every later write
     * of the handle (a background error) until the database is reopened. */
    wb = rocksdb_writebatch_create();
    rocksdb_writebatch_put(wb, "p", 1, "1", 1);
    rocksdb_writebatch_delete_range(wb, "b", 1, "a", 1);
    assert_int_equal(rocksdb_writebatch_count(wb), 2);
    rocksdb_write(db, wo, wb, &err);
    axu_expect_err(&err, "Invalid argument: ");
    rocksdb_writebatch_destroy(wb);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
}

static void iterator_bounds_null_clears(void **state)
{
    (void)state;
    rocksdb_t *db = axu_open(axu_path("db"));
    axu_put(db, "a", 1, "1", 1);
    axu_put(db, "c", 1, "3", 1);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_upper_bound(ro, "b", 1);
    rocksdb_readoptions_set_iterate_upper_bound(ro, NULL, 0); /* clears the bound */
    rocksdb_readoptions_set_iterate_lower_bound(ro, "b", 1);
    rocksdb_readoptions_set_iterate_lower_bound(ro, NULL, 0);
    rocksdb_iterator_t *it = rocksdb_create_iterator(db, ro);
    int n = 0;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it))
        n++;
    assert_int_equal(n, 2);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    rocksdb_close(db);
}

static const struct CMUnitTest tests[] = {
    AXU_TEST(success_leaves_errptr_untouched),
    AXU_TEST(failure_replaces_old_message),
    AXU_TEST(merge_without_operator_fails),
    AXU_TEST(get_missing_empty_and_free),
    AXU_TEST(pinnableslice_null_safe),
    AXU_TEST(multi_get_slots),
    AXU_TEST(destroy_null_is_safe),
    AXU_TEST(read_only_writes_fail),
    AXU_TEST(open_errors),
    AXU_TEST(batch_errors),
    AXU_TEST(iterator_bounds_null_clears),
};

AXU_MAIN(tests)
