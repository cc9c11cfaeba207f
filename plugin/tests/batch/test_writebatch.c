/*
 * test_writebatch.c: cmocka tests of plugin/src/writebatch.c (docs/writebatch.md), built
 * without the rest of the plugin. The expected bytes were checked against the real
 * librocksdb 7.8.3 (wb_transcript.c compares the two at random; these pin the edges).
 *
 *   ./test_writebatch [case-name-filter]
 *   ALEXSTORAGE_SEED=<n>  replays test_create_from_fuzz with the seed it printed
 *   ALEXSTORAGE_TEST_SCALE=<float>  scales the fuzz iterations (default 1.0)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "writebatch.h"

/* ---- allocation failure injection (linked with --wrap=malloc,calloc,realloc) ------------------ */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static int fail_after = -1; /* -1: never fail; k >= 0: the allocation after k more succeeds fails */

static int should_fail(void) {
    if (fail_after < 0)
        return 0;
    if (fail_after == 0) {
        fail_after = -1;
        return 1;
    }
    fail_after--;
    return 0;
}

void *__wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { return should_fail() ? NULL : __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { return should_fail() ? NULL : __real_realloc(p, n); }

/* ---- helpers ----------------------------------------------------------------------------------- */

static char *hex(const char *p, size_t n) {
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", (unsigned char)p[i]);
    s[2 * n] = '\0';
    return s;
}

#define HEADER0 "000000000000000000000000"

/* Checks data() as hex, that it is NUL-terminated, and count(). */
static void expect_rep(rocksdb_writebatch_t *b, const char *want_hex, int want_count) {
    size_t n;
    const char *d = rocksdb_writebatch_data(b, &n);
    char *h = hex(d, n);
    assert_string_equal(h, want_hex);
    free(h);
    assert_int_equal(d[n], 0);
    assert_int_equal(rocksdb_writebatch_count(b), want_count);
}

/* iterate() and axp_batch_foreach() callbacks write a text log. */
typedef struct logbuf {
    char s[4096];
} logbuf;

static void logf_(logbuf *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(logbuf *l, const char *fmt, ...) {
    size_t n = strlen(l->s);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->s + n, sizeof l->s - n, fmt, ap);
    va_end(ap);
}

static void it_put(void *s, const char *k, size_t kl, const char *v, size_t vl) {
    logf_(s, "put(%.*s,%.*s)", (int)kl, k, (int)vl, v);
}

static void it_del(void *s, const char *k, size_t kl) {
    logf_(s, "del(%.*s)", (int)kl, k);
}

static const char *iterate_log(rocksdb_writebatch_t *b, logbuf *l) {
    l->s[0] = '\0';
    rocksdb_writebatch_iterate(b, l, it_put, it_del);
    return l->s;
}

static const char *const op_names[] = {"PUT", "DEL", "SDEL", "MERGE", "DR",
                                       "LOG", "BLOB", "ENTITY", "NOOP", "TXN"};

static int fe_log(void *arg, const axp_batch_op *op) {
    logf_(arg, "%s/%02x/%u(%.*s,%.*s)", op_names[op->type], op->tag, op->cf, (int)op->klen,
          op->key ? op->key : "", (int)op->vlen, op->value ? op->value : "");
    return 0;
}

static rocksdb_writebatch_t *from_hex(const char *h) {
    size_t n = strlen(h) / 2;
    char *buf = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        buf[i] = (char)v;
    }
    rocksdb_writebatch_t *b = rocksdb_writebatch_create_from(buf, n);
    free(buf);
    return b;
}

/* ---- byte format --------------------------------------------------------------------------- */

static void test_empty_batch(void **state) {
    (void)state;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    expect_rep(b, HEADER0, 0);
    assert_int_equal(axp_batch_count(b), 0);
    assert_int_equal(axp_batch_sequence(b), 0);
    rocksdb_writebatch_destroy(b);
    rocksdb_writebatch_destroy(NULL);
}

/* The worked example of docs/writebatch.md; matches the real library byte for byte. */
static void test_every_record_type(void **state) {
    (void)state;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    rocksdb_writebatch_put(b, "a", 1, "1", 1);
    rocksdb_writebatch_merge(b, "m", 1, "2", 1);
    rocksdb_writebatch_singledelete(b, "s", 1);
    rocksdb_writebatch_put_log_data(b, "L", 1);
    rocksdb_writebatch_delete(b, "d", 1);
    rocksdb_writebatch_put(b, "b", 1, "", 0);
    rocksdb_writebatch_delete_range(b, "r1", 2, "r2", 2);
    rocksdb_writebatch_put(b, "c", 1, "3", 1);
    expect_rep(b,
               "000000000000000007000000"
               "0101610131" "02016d0132" "070173" "03014c" "000164" "01016200"
               "0f027231027232" "0101630133",
               7);
    rocksdb_writebatch_destroy(b);
}

static void test_varint_lengths(void **state) {
    (void)state;
    static char big[16384];
    memset(big, 'x', sizeof big);
    static const struct {
        size_t len;
        const char *prefix;
    } cases[] = {{0, "00"}, {127, "7f"}, {128, "8001"}, {300, "ac02"}, {16383, "ff7f"},
                 {16384, "808001"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rocksdb_writebatch_t *b = rocksdb_writebatch_create();
        rocksdb_writebatch_delete(b, big, cases[i].len);
        size_t n;
        const char *d = rocksdb_writebatch_data(b, &n);
        size_t pl = strlen(cases[i].prefix) / 2;
        assert_int_equal(n, AXP_BATCH_HEADER + 1 + pl + cases[i].len);
        char *h = hex(d + AXP_BATCH_HEADER, 1 + pl);
        char want[16];
        snprintf(want, sizeof want, "00%s", cases[i].prefix);
        assert_string_equal(h, want);
        free(h);
        rocksdb_writebatch_destroy(b);
    }
}

static void test_vector_variants(void **state) {
    (void)state;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    const char *ks[] = {"ab", "cd"}, *vs[] = {"x", "y", "z"};
    size_t kss[] = {2, 2}, vss[] = {1, 1, 1};
    rocksdb_writebatch_putv(b, 2, ks, kss, 3, vs, vss);
    rocksdb_writebatch_putv(b, 0, NULL, NULL, 0, NULL, NULL); /* empty key and value */
    rocksdb_writebatch_deletev(b, 2, ks, kss);
    rocksdb_writebatch_mergev(b, 2, ks, kss, 1, vs, vss);
    rocksdb_writebatch_delete_rangev(b, 2, ks, kss, vs, vss); /* ["abcd", "xy") */
    expect_rep(b,
               "000000000000000005000000"
               "0104616263640378797a" "010000" "000461626364" "02046162636401" "78"
               "0f04616263640278" "79",
               5);
    rocksdb_writebatch_destroy(b);
}

/* ---- oversized and invalid appends ----------------------------------------------------------- */

static int count_ops(void *arg, const axp_batch_op *op) {
    (void)op;
    (*(int *)arg)++;
    return 0;
}

static void test_oversized_dropped(void **state) {
    (void)state;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    char *err = NULL;
    int calls = 0;
    rocksdb_writebatch_put(b, "a", 1, "1", 1);
    rocksdb_writebatch_set_save_point(b);
    /* The lengths are refused before any byte is read, so the pointers need not be that long. */
    const char *ks[] = {"k", "k"};
    size_t half[] = {(size_t)1 << 31, ((size_t)1 << 31) - 1}; /* sum UINT32_MAX: too large */
    rocksdb_writebatch_putv(b, 2, ks, half, 2, ks, half);
    rocksdb_writebatch_put(b, "k", (size_t)UINT32_MAX + 1, "v", 1);
    rocksdb_writebatch_delete(b, "k", SIZE_MAX);
    rocksdb_writebatch_deletev(b, -1, ks, half);
    rocksdb_writebatch_put_log_data(b, "k", (size_t)UINT32_MAX + 1);
    expect_rep(b, "000000000000000001000000" "0101610131", 1);
    assert_int_equal(axp_batch_foreach(b, count_ops, &calls, &err), AXP_BATCH_INVALID);
    assert_int_equal(calls, 0);
    assert_string_equal(err, "Invalid argument: a record was dropped from the write batch: "
                             "key is too large");
    /* Rolling back past the failure forgets it. */
    rocksdb_writebatch_rollback_to_save_point(b, &err);
    assert_int_equal(axp_batch_foreach(b, count_ops, &calls, &err), 0);
    assert_int_equal(calls, 1);
    /* So does clear. */
    rocksdb_writebatch_put(b, "k", (size_t)UINT32_MAX + 1, "v", 1);
    rocksdb_writebatch_clear(b);
    assert_int_equal(axp_batch_foreach(b, count_ops, &calls, &err), 0);
    free(err);
    rocksdb_writebatch_destroy(b);
}

static void test_out_of_memory(void **state) {
    (void)state;
    static char big[4096];
    char *err = NULL;
    fail_after = 0;
    assert_null(rocksdb_writebatch_create());
    fail_after = 1;
    assert_null(rocksdb_writebatch_create()); /* the rep's allocation fails */
    fail_after = 0;
    assert_null(rocksdb_writebatch_create_from("abc", 3));

    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    rocksdb_writebatch_put(b, "a", 1, "1", 1);
    fail_after = 0; /* growing the rep fails: the record is dropped whole */
    rocksdb_writebatch_put(b, "k", 1, big, sizeof big);
    expect_rep(b, "000000000000000001000000" "0101610131", 1);
    assert_int_equal(axp_batch_foreach(b, count_ops, &(int){0}, &err), AXP_BATCH_INVALID);
    assert_string_equal(err, "Invalid argument: a record was dropped from the write batch: "
                             "out of memory");
    rocksdb_writebatch_clear(b);
    rocksdb_writebatch_put(b, "k", 1, big, sizeof big); /* works again */
    assert_int_equal(rocksdb_writebatch_count(b), 1);
    /* A save point that cannot be recorded poisons the batch too. */
    rocksdb_writebatch_clear(b);
    fail_after = 0;
    rocksdb_writebatch_set_save_point(b);
    assert_int_equal(axp_batch_foreach(b, count_ops, &(int){0}, &err), AXP_BATCH_INVALID);
    free(err);
    rocksdb_writebatch_destroy(b);
}

/* ---- save points --------------------------------------------------------------------------- */

static void test_save_points(void **state) {
    (void)state;
    char *err = NULL;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    rocksdb_writebatch_rollback_to_save_point(b, &err);
    assert_string_equal(err, "NotFound: "); /* RocksDB's Status::NotFound().ToString() */
    free(err);
    err = NULL;
    rocksdb_writebatch_pop_save_point(b, &err);
    assert_string_equal(err, "NotFound: ");
    free(err);
    err = NULL;
    rocksdb_writebatch_rollback_to_save_point(b, NULL); /* errptr may be NULL */

    rocksdb_writebatch_put(b, "a", 1, "1", 1);
    rocksdb_writebatch_set_save_point(b);              /* sp1: 1 record */
    rocksdb_writebatch_set_save_point(b);              /* sp2: 1 record */
    rocksdb_writebatch_put(b, "b", 1, "2", 1);
    rocksdb_writebatch_put_log_data(b, "L", 1);
    rocksdb_writebatch_set_save_point(b);              /* sp3: 2 records */
    rocksdb_writebatch_delete(b, "c", 1);
    rocksdb_writebatch_pop_save_point(b, &err);        /* drops sp3, keeps the delete */
    assert_null(err);
    expect_rep(b, "000000000000000003000000" "0101610131" "0101620132" "03014c" "000163", 3);
    rocksdb_writebatch_rollback_to_save_point(b, &err); /* to sp2 */
    assert_null(err);
    expect_rep(b, "000000000000000001000000" "0101610131", 1);
    rocksdb_writebatch_rollback_to_save_point(b, &err); /* to sp1: nothing to undo */
    assert_null(err);
    expect_rep(b, "000000000000000001000000" "0101610131", 1);
    rocksdb_writebatch_rollback_to_save_point(b, &err); /* none left */
    assert_string_equal(err, "NotFound: ");
    free(err);
    err = NULL;

    /* clear drops every save point and zeroes the header, sequence included. */
    assert_int_equal(axp_batch_set_sequence(b, 0x0102030405060708ull), 0);
    assert_int_equal(axp_batch_sequence(b), 0x0102030405060708ull);
    expect_rep(b, "080706050403020101000000" "0101610131", 1);
    rocksdb_writebatch_set_save_point(b);
    rocksdb_writebatch_clear(b);
    expect_rep(b, HEADER0, 0);
    rocksdb_writebatch_pop_save_point(b, &err);
    assert_string_equal(err, "NotFound: ");
    free(err);
    rocksdb_writebatch_destroy(b);
}

/* Rollback keeps the sequence number (only clear resets it). */
static void test_rollback_keeps_sequence(void **state) {
    (void)state;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    rocksdb_writebatch_set_save_point(b);
    axp_batch_set_sequence(b, 7);
    rocksdb_writebatch_put(b, "a", 1, "1", 1);
    rocksdb_writebatch_rollback_to_save_point(b, NULL);
    expect_rep(b, "070000000000000000000000", 0);
    rocksdb_writebatch_destroy(b);
}

/* ---- create_from ---------------------------------------------------------------------------- */

static void test_create_from(void **state) {
    (void)state;
    char src[] = "\x01\0\0\0\0\0\0\0\x01\0\0\0\x01\x01k\x01v";
    rocksdb_writebatch_t *b = rocksdb_writebatch_create_from(src, 17);
    src[13] = 'X'; /* the batch holds a copy */
    expect_rep(b, "010000000000000001000000" "01016b0176", 1);
    assert_int_equal(axp_batch_sequence(b), 1);
    rocksdb_writebatch_destroy(b);

    b = rocksdb_writebatch_create_from(NULL, 0);
    expect_rep(b, "", 0);
    rocksdb_writebatch_destroy(b);
    assert_null(rocksdb_writebatch_create_from(NULL, 5));
}

/* RocksDB keeps a short rep as given; count() reads missing header bytes as zero (the real
 * library reads past its string there: it saw zeros too). An append first pads the header. */
static void test_create_from_short(void **state) {
    (void)state;
    logbuf l;
    char *err = NULL;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create_from("\x01\0\0\0\0\0\0\0\x02", 9);
    expect_rep(b, "010000000000000002", 2);
    assert_string_equal(iterate_log(b, &l), "");
    assert_int_equal(axp_batch_foreach(b, fe_log, &l, &err), AXP_BATCH_CORRUPT);
    assert_string_equal(err, "Corruption: malformed WriteBatch (too small)");
    free(err);
    err = NULL;
    rocksdb_writebatch_destroy(b);

    b = rocksdb_writebatch_create_from("abc", 3);
    rocksdb_writebatch_set_save_point(b);
    rocksdb_writebatch_put(b, "k", 1, "v", 1);
    expect_rep(b, "616263000000000001000000" "01016b0176", 1);
    rocksdb_writebatch_rollback_to_save_point(b, NULL); /* back to the bytes as given */
    expect_rep(b, "616263", 0);
    rocksdb_writebatch_destroy(b);

    /* A save point on an empty rep: rolling back to it clears the batch (RocksDB's rule for a
     * save point of size 0), which drops the other save points too. */
    b = rocksdb_writebatch_create_from("", 0);
    rocksdb_writebatch_set_save_point(b);
    rocksdb_writebatch_set_save_point(b);
    rocksdb_writebatch_put(b, "k", 1, "v", 1);
    rocksdb_writebatch_rollback_to_save_point(b, NULL);
    expect_rep(b, HEADER0, 0);
    rocksdb_writebatch_rollback_to_save_point(b, &err);
    assert_string_equal(err, "NotFound: ");
    free(err);
    rocksdb_writebatch_destroy(b);
}

/* ---- reading -------------------------------------------------------------------------------- */

/* What RocksDB's C API iterate() delivers (checked against the real library): puts and
 * deletes of the default family; merges, single deletes and log data skipped; a range
 * deletion or a record of another family ends it. */
static void test_iterate(void **state) {
    (void)state;
    logbuf l;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    rocksdb_writebatch_put(b, "a", 1, "1", 1);
    rocksdb_writebatch_merge(b, "m", 1, "2", 1);
    rocksdb_writebatch_singledelete(b, "s", 1);
    rocksdb_writebatch_put_log_data(b, "L", 1);
    rocksdb_writebatch_delete(b, "d", 1);
    rocksdb_writebatch_put(b, "b", 1, "", 0);
    rocksdb_writebatch_delete_range(b, "r1", 2, "r2", 2);
    rocksdb_writebatch_put(b, "c", 1, "3", 1);
    assert_string_equal(iterate_log(b, &l), "put(a,1)del(d)put(b,)");
    rocksdb_writebatch_iterate(b, NULL, NULL, NULL); /* NULL callbacks are skipped */
    rocksdb_writebatch_destroy(b);

    /* Put "a", put to column family 3, put "c": stops at the second. */
    b = from_hex("000000000000000003000000" "01016100" "0503016200" "01016300");
    assert_string_equal(iterate_log(b, &l), "put(a,)");
    rocksdb_writebatch_destroy(b);
    /* No-op marker: ours stops (the real library aborts on an assertion). */
    b = from_hex("000000000000000002000000" "01016100" "0d" "01016300");
    assert_string_equal(iterate_log(b, &l), "put(a,)");
    rocksdb_writebatch_destroy(b);
    /* Truncated second record: the first is still delivered. */
    b = from_hex("000000000000000002000000" "01016100" "010163");
    assert_string_equal(iterate_log(b, &l), "put(a,)");
    rocksdb_writebatch_destroy(b);
    /* A wrong count does not stop iterate (only its ignored Status would say so). */
    b = from_hex("000000000000000009000000" "01016100" "000163");
    assert_string_equal(iterate_log(b, &l), "put(a,)del(c)");
    rocksdb_writebatch_destroy(b);
}

static void test_foreach_every_tag(void **state) {
    (void)state;
    logbuf l = {{0}};
    char *err = NULL;
    /* Counted: put, cf put, delete, cf delete, single delete, cf single delete, merge,
     * cf merge, range deletion, cf range deletion, blob index, cf blob index, entity,
     * cf entity = 14. Not counted: log data, noop, begin prepare (3 kinds), end prepare,
     * commit, rollback, commit with timestamp. */
    rocksdb_writebatch_t *b = from_hex(
        "05000000000000000e000000"
        "01016101" "31" "050201620132" "000163" "04020164" "070165" "08020166"
        "0201670133" "060201680134" "0f0169016a" "0e02016b016c" "11016d016e"
        "1002016f0170" "1601710172" "170201730174" "03014c" "0d" "09" "12" "13"
        "0a0178" "0b0179" "0c017a" "150174017b");
    assert_non_null(b);
    assert_int_equal(axp_batch_sequence(b), 5);
    assert_int_equal(axp_batch_count(b), 14);
    assert_int_equal(axp_batch_foreach(b, fe_log, &l, &err), 0);
    assert_null(err);
    assert_string_equal(l.s,
                        "PUT/01/0(a,1)PUT/05/2(b,2)DEL/00/0(c,)DEL/04/2(d,)SDEL/07/0(e,)"
                        "SDEL/08/2(f,)MERGE/02/0(g,3)MERGE/06/2(h,4)DR/0f/0(i,j)DR/0e/2(k,l)"
                        "BLOB/11/0(m,n)BLOB/10/2(o,p)ENTITY/16/0(q,r)ENTITY/17/2(s,t)"
                        "LOG/03/0(,L)NOOP/0d/0(,)TXN/09/0(,)TXN/12/0(,)TXN/13/0(,)"
                        "TXN/0a/0(x,)TXN/0b/0(y,)TXN/0c/0(z,)TXN/15/0({,t)");
    rocksdb_writebatch_destroy(b);
}

static int stop_at_second(void *arg, const axp_batch_op *op) {
    (void)op;
    return ++*(int *)arg == 2 ? 42 : 0;
}

static void test_foreach_stops(void **state) {
    (void)state;
    int n = 0;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    for (int i = 0; i < 5; i++)
        rocksdb_writebatch_put(b, "k", 1, "v", 1);
    assert_int_equal(axp_batch_foreach(b, stop_at_second, &n, NULL), 42);
    assert_int_equal(n, 2);
    rocksdb_writebatch_destroy(b);
}

/* Every truncation of a valid batch is corrupt, with RocksDB's message for the record cut,
 * and no callback runs before the corruption is found. */
static void test_foreach_corruption(void **state) {
    (void)state;
    static const struct {
        const char *hex;
        const char *msg;
    } cases[] = {
        {"", "malformed WriteBatch (too small)"},
        {"0000000000000000000000", "malformed WriteBatch (too small)"},
        {HEADER0 "01", "bad WriteBatch Put"},
        {HEADER0 "010161", "bad WriteBatch Put"},
        {HEADER0 "01016102", "bad WriteBatch Put"}, /* value length 2, no bytes */
        {HEADER0 "05", "bad WriteBatch Put"},         /* cf id missing */
        {HEADER0 "0580", "bad WriteBatch Put"},       /* cf id varint cut */
        {HEADER0 "00", "bad WriteBatch Delete"},
        {HEADER0 "0802", "bad WriteBatch Delete"},
        {HEADER0 "0f0161", "bad WriteBatch DeleteRange"},
        {HEADER0 "020161", "bad WriteBatch Merge"},
        {HEADER0 "110161", "bad WriteBatch BlobIndex"},
        {HEADER0 "160161", "bad WriteBatch PutEntity"},
        {HEADER0 "0302", "bad WriteBatch Blob"},
        {HEADER0 "0a", "bad EndPrepare XID"},
        {HEADER0 "0b", "bad Commit XID"},
        {HEADER0 "0c05", "bad Rollback XID"},
        {HEADER0 "15", "bad commit timestamp"},
        {HEADER0 "150174", "bad Commit XID"},
        {HEADER0 "14", "unknown WriteBatch tag"}, /* deletion with timestamp: memtable only */
        {HEADER0 "18", "unknown WriteBatch tag"},
        {HEADER0 "ff", "unknown WriteBatch tag"},
        {HEADER0 "01016100", "WriteBatch has wrong count"},
        {"000000000000000001000000" "03014c", "WriteBatch has wrong count"},
        /* a 5-byte varint with the continuation bit on the 5th byte */
        {HEADER0 "0181808080800100", "bad WriteBatch Put"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rocksdb_writebatch_t *b = from_hex(cases[i].hex);
        char *err = NULL;
        int calls = 0;
        assert_int_equal(axp_batch_foreach(b, count_ops, &calls, &err), AXP_BATCH_CORRUPT);
        assert_int_equal(calls, 0);
        char want[128];
        snprintf(want, sizeof want, "Corruption: %s", cases[i].msg);
        assert_string_equal(err, want);
        free(err);
        /* decode on bare bytes agrees, and a NULL errptr is fine */
        size_t n;
        const char *d = rocksdb_writebatch_data(b, &n);
        assert_int_equal(axp_batch_decode(d, n, count_ops, &calls, NULL), AXP_BATCH_CORRUPT);
        rocksdb_writebatch_destroy(b);
    }
}

/* RocksDB's varint32 reader drops the bits of a 5th byte above bit 31 instead of failing:
 * key length 0x81 80 80 80 70 reads as 1. */
static void test_varint_fifth_byte(void **state) {
    (void)state;
    logbuf l = {{0}};
    rocksdb_writebatch_t *b = from_hex("000000000000000001000000" "01818080807061" "0162");
    assert_int_equal(axp_batch_foreach(b, fe_log, &l, NULL), 0);
    assert_string_equal(l.s, "PUT/01/0(a,b)");
    assert_string_equal(iterate_log(b, &l), "put(a,b)");
    rocksdb_writebatch_destroy(b);
}

/* ---- fuzz ------------------------------------------------------------------------------------- */

static uint64_t fz_state;

static uint64_t fz_next(void) {
    uint64_t z = (fz_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int fe_touch(void *arg, const axp_batch_op *op) {
    /* Read every byte handed out, so ASan sees any read outside the rep. */
    unsigned *sum = arg;
    for (size_t i = 0; i < op->klen; i++)
        *sum += (unsigned char)op->key[i];
    for (size_t i = 0; i < op->vlen; i++)
        *sum += (unsigned char)op->value[i];
    return 0;
}

static void it_touch_put(void *s, const char *k, size_t kl, const char *v, size_t vl) {
    axp_batch_op op = {AXP_OP_PUT, 0, 0, k, kl, v, vl};
    fe_touch(s, &op);
}

static void it_touch_del(void *s, const char *k, size_t kl) {
    axp_batch_op op = {AXP_OP_DELETE, 0, 0, k, kl, NULL, 0};
    fe_touch(s, &op);
}

/* create_from on garbage, on truncations and on mutations of valid batches; then every read
 * and some writes. Nothing may crash or read outside the rep (run under ASan). */
static void test_create_from_fuzz(void **state) {
    (void)state;
    const char *env = getenv("ALEXSTORAGE_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)clock();
    const char *sc = getenv("ALEXSTORAGE_TEST_SCALE");
    double scale = sc ? atof(sc) : 1.0;
    int rounds = (int)(20000 * (scale > 0 ? scale : 1.0));
    fprintf(stderr, "seed=%llu rounds=%d\n", (unsigned long long)seed, rounds);
    fz_state = seed;

    /* A valid batch with every tag, to mutate. */
    static const char *valid_hex =
        "05000000000000000e000000"
        "01016101" "31" "050201620132" "000163" "04020164" "070165" "08020166"
        "0201670133" "060201680134" "0f0169016a" "0e02016b016c" "11016d016e"
        "1002016f0170" "1601710172" "170201730174" "03014c" "0d" "09" "12" "13"
        "0a0178" "0b0179" "0c017a" "150174017b";
    rocksdb_writebatch_t *v = from_hex(valid_hex);
    size_t vn;
    const char *vd = rocksdb_writebatch_data(v, &vn);
    unsigned sum = 0;
    for (int r = 0; r < rounds; r++) {
        size_t n;
        char *buf;
        switch (fz_next() % 3) {
        case 0: /* garbage, often with a plausible header */
            n = (size_t)(fz_next() % 64);
            buf = malloc(n + 1);
            for (size_t i = 0; i < n; i++)
                buf[i] = (char)(fz_next() % 4 ? fz_next() % 0x19 : fz_next());
            break;
        default: /* truncated and mutated valid batch */
            n = (size_t)(fz_next() % (vn + 1));
            buf = malloc(vn + 1);
            memcpy(buf, vd, vn);
            for (int f = (int)(fz_next() % 4); f > 0; f--)
                buf[fz_next() % vn] = (char)fz_next();
            break;
        }
        /* Exact-size heap copy so ASan catches a read one past the end of the input. */
        char *exact = malloc(n ? n : 1);
        memcpy(exact, buf, n);
        free(buf);
        rocksdb_writebatch_t *b = rocksdb_writebatch_create_from(exact, n);
        assert_non_null(b);
        axp_batch_decode(exact, n, fe_touch, &sum, NULL);
        free(exact);
        char *err = NULL;
        sum += (unsigned)rocksdb_writebatch_count(b) + (unsigned)axp_batch_sequence(b);
        rocksdb_writebatch_iterate(b, &sum, it_touch_put, it_touch_del);
        int rc = axp_batch_foreach(b, fe_touch, &sum, &err);
        assert_true(rc == 0 || rc == AXP_BATCH_CORRUPT);
        assert_true((rc == 0) == (err == NULL));
        free(err);
        err = NULL;
        rocksdb_writebatch_set_save_point(b);
        rocksdb_writebatch_put(b, "k", 1, "v", 1);
        rocksdb_writebatch_rollback_to_save_point(b, &err);
        assert_null(err);
        size_t after;
        rocksdb_writebatch_data(b, &after);
        /* The rollback restored the rep, except that a save point on an empty rep clears. */
        assert_int_equal(after, n ? n : AXP_BATCH_HEADER);
        rocksdb_writebatch_destroy(b);
    }
    rocksdb_writebatch_destroy(v);
    fprintf(stderr, "checksum %u\n", sum);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_batch),
        cmocka_unit_test(test_every_record_type),
        cmocka_unit_test(test_varint_lengths),
        cmocka_unit_test(test_vector_variants),
        cmocka_unit_test(test_oversized_dropped),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_save_points),
        cmocka_unit_test(test_rollback_keeps_sequence),
        cmocka_unit_test(test_create_from),
        cmocka_unit_test(test_create_from_short),
        cmocka_unit_test(test_iterate),
        cmocka_unit_test(test_foreach_every_tag),
        cmocka_unit_test(test_foreach_stops),
        cmocka_unit_test(test_foreach_corruption),
        cmocka_unit_test(test_varint_fifth_byte),
        cmocka_unit_test(test_create_from_fuzz),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
