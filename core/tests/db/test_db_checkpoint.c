/*
 * test_db_checkpoint.c: axs_checkpoint_create (db.h; core/src/dbcopy.c; docs/backup.md), one
 * behaviour per test.
 *
 * Covers: the copy shows exactly the data at the call while the source keeps changing
 * (overwrites, deletes, new keys, segment roll-over, compaction); the copy opens without
 * replaying the log (its index checkpoint is used); a copy of an empty database; the
 * directory exists (AXS_EEXIST, nothing touched), the parent is missing, bad arguments; a
 * checkpoint after compaction; the copy survives the source's destruction; the copy reopens
 * and takes writes without touching the source (its last segment is a copy, sealed segments
 * are hard links); a read-only handle; LZ4 values; a handle that failed earlier is refused; a
 * staging directory left by a crash; every I/O call of a checkpoint failing in turn
 * (fault_io): it fails cleanly, leaves no directory and the source usable; and power loss
 * right after the call returns (everything in the copy was synced).
 *
 * Every case gets a fresh directory under $TMPDIR (or /tmp), removed by its teardown.
 */
#define _XOPEN_SOURCE 700

#include "test_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alexstorage/db.h"
#include "fault_io.h"

/* ---- fixture ------------------------------------------------------------------------------ */

typedef struct fx {
    char base[512]; /* mkdtemp directory, removed by the teardown */
    char db[600];   /* base/db: the source database */
    char cp[600];   /* base/cp: the checkpoint (does not exist at the start) */
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(f->base, sizeof f->base, "%s/axs_db_ckpt_XXXXXX", tmp);
    if (!mkdtemp(f->base)) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "%s/db", f->base);
    snprintf(f->cp, sizeof f->cp, "%s/cp", f->base);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    if (f) {
        tu_rm_rf(f->base);
        free(f);
    }
    return 0;
}

static bool path_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* ---- a model: key i holds version ver[i] of its value, or nothing (ver[i] < 0) ------------- */

enum { NKEYS = 600, VLEN = 700 };

typedef struct model {
    int ver[NKEYS];
} model;

static size_t key_of(char *buf, unsigned i)
{
    return (size_t)snprintf(buf, 16, "key%05u", i);
}

/* Value of key i at version v: VLEN bytes, compressible half of the time. */
static size_t value_of(uint8_t *buf, unsigned i, int v)
{
    uint64_t s = (uint64_t)i * 1000003u + (uint64_t)v * 7919u + 1;
    for (size_t j = 0; j < VLEN; j++)
        buf[j] = (i + (unsigned)v) % 2 ? (uint8_t)('a' + (i + (unsigned)v) % 26)
                                       : (uint8_t)(tu_splitmix64(&s) & 0xff);
    return VLEN;
}

static void model_init(model *m)
{
    for (unsigned i = 0; i < NKEYS; i++)
        m->ver[i] = -1;
}

static void put_v(axs_db *db, model *m, unsigned i, int v)
{
    char k[16];
    uint8_t val[VLEN];
    size_t kl = key_of(k, i), vl = value_of(val, i, v);
    int rc = axs_put(db, NULL, k, kl, val, vl);
    TU_REQUIRE(rc == AXS_OK, "put %s: %s (%s)", k, axs_strerror(rc), axs_last_error(db));
    m->ver[i] = v;
}

static void del_k(axs_db *db, model *m, unsigned i)
{
    char k[16];
    size_t kl = key_of(k, i);
    int rc = axs_delete(db, NULL, k, kl);
    TU_REQUIRE(rc == AXS_OK, "delete %s: %s", k, axs_strerror(rc));
    m->ver[i] = -1;
}

/* Round r of writes: every key gets version r, then every seventh key is deleted. */
static void write_round(axs_db *db, model *m, int r)
{
    for (unsigned i = 0; i < NKEYS; i++)
        put_v(db, m, i, r);
    for (unsigned i = (unsigned)r % 7; i < NKEYS; i += 7)
        del_k(db, m, i);
}

/* Checks that db holds exactly the model: every key by get, and the key count by iteration. */
static void expect_model(axs_db *db, const model *m, const char *what)
{
    size_t present = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        char k[16];
        uint8_t want[VLEN];
        size_t kl = key_of(k, i);
        char *got = NULL;
        size_t gl = 0;
        bool found = false;
        int rc = axs_get_alloc(db, NULL, k, kl, &got, &gl, &found);
        TU_REQUIRE(rc == AXS_OK, "%s: get %s: %s", what, k, axs_strerror(rc));
        if (m->ver[i] < 0) {
            TU_REQUIRE(!found, "%s: %s should be deleted", what, k);
        } else {
            size_t wl = value_of(want, i, m->ver[i]);
            TU_REQUIRE(found, "%s: %s missing (version %d)", what, k, m->ver[i]);
            TU_REQUIRE(gl == wl && memcmp(got, want, wl) == 0, "%s: %s has the wrong value "
                       "(want version %d)", what, k, m->ver[i]);
            present++;
        }
        free(got);
    }
    axs_iter *it = NULL;
    assert_int_equal(axs_iter_create(db, NULL, &it), AXS_OK);
    size_t n = 0;
    for (axs_iter_seek_to_first(it); axs_iter_valid(it); axs_iter_next(it))
        n++;
    assert_int_equal(axs_iter_status(it), AXS_OK);
    axs_iter_destroy(it);
    TU_REQUIRE(n == present, "%s: iteration found %zu keys, want %zu", what, n, present);
}

static axs_options opts(bool create, uint64_t segment_size)
{
    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = create;
    o.segment_size = segment_size;
    return o;
}

static axs_db *open_at(const char *path, const axs_options *o)
{
    axs_db *db = NULL;
    char *err = NULL;
    int rc = axs_open(path, o, &db, &err);
    TU_REQUIRE(rc == AXS_OK, "axs_open(%s) = %s: %s", path, axs_strerror(rc),
               err ? err : "(no message)");
    free(err);
    return db;
}

static void checkpoint_ok(axs_db *db, const char *dir)
{
    int rc = axs_checkpoint_create(db, dir);
    TU_REQUIRE(rc == AXS_OK, "axs_checkpoint_create(%s) = %s: %s", dir, axs_strerror(rc),
               axs_last_error(db));
}

/* Opens the copy at dir, checks it holds m, that its open used the index checkpoint (replayed
 * no record), and closes it. */
static void expect_copy(const char *dir, const model *m, const char *what)
{
    axs_options o = opts(false, 64 * 1024);
    axs_db *c = open_at(dir, &o);
    axs_stats st;
    axs_get_stats(c, &st);
    TU_REQUIRE(st.recovered_records == 0, "%s: the copy's open replayed %" PRIu64 " records "
               "(its index checkpoint was not used)", what, st.recovered_records);
    expect_model(c, m, what);
    assert_int_equal(axs_close(c), AXS_OK);
}

static unsigned long nlink_of(const char *dir, unsigned number)
{
    char p[700];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%010u.seg", dir, number);
    TU_REQUIRE(stat(p, &sb) == 0, "stat(%s): %s", p, strerror(errno));
    return (unsigned long)sb.st_nlink;
}

/* ---- tests -------------------------------------------------------------------------------- */

/* The copy shows the data at the call, whatever the source does afterwards. */
static void test_checkpoint_then_write_source(void **state)
{
    fx *f = *state;
    axs_options o = opts(true, 64 * 1024);
    axs_db *db = open_at(f->db, &o);
    model m, at_cp;
    model_init(&m);
    for (int r = 0; r < 3; r++)
        write_round(db, &m, r); /* ~1.3 MB: many segments, most of them sealed */
    at_cp = m;
    checkpoint_ok(db, f->cp);
    char staging[720];
    snprintf(staging, sizeof staging, "%s.tmp", f->cp);
    TU_REQUIRE(!path_exists(staging), "the staging directory was left behind");
    /* Keep writing to the source: overwrites, deletes, new segments, a compaction. */
    write_round(db, &m, 3);
    assert_int_equal(axs_compact(db), AXS_OK);
    write_round(db, &m, 4);
    expect_model(db, &m, "source after the checkpoint");
    expect_copy(f->cp, &at_cp, "copy");
    /* The source is unaffected by the copy being opened. */
    expect_model(db, &m, "source after opening the copy");
    assert_int_equal(axs_close(db), AXS_OK);
    db = open_at(f->db, &o);
    expect_model(db, &m, "source reopened");
    assert_int_equal(axs_close(db), AXS_OK);
}

/* Sealed segments are hard links, the last segment is a private copy. */
static void test_checkpoint_links_sealed_segments(void **state)
{
    fx *f = *state;
    axs_options o = opts(true, 64 * 1024);
    axs_db *db = open_at(f->db, &o);
    model m;
    model_init(&m);
    write_round(db, &m, 0);
    axs_stats st;
    axs_get_stats(db, &st);
    TU_REQUIRE(st.segments >= 3, "want several segments, have %" PRIu64, st.segments);
    checkpoint_ok(db, f->cp);
    unsigned last = (unsigned)st.segments; /* numbered from 1, no compaction yet */
    for (unsigned n = 1; n < last; n++)
        TU_REQUIRE(nlink_of(f->cp, n) == 2, "sealed segment %u is not a hard link", n);
    TU_REQUIRE(nlink_of(f->cp, last) == 1, "the last segment must be copied, not linked");
    /* Writing to the copy never reaches the source. */
    axs_db *c = open_at(f->cp, &o);
    model mc = m;
    write_round(c, &mc, 1);
    assert_int_equal(axs_compact(c), AXS_OK);
    expect_model(c, &mc, "copy after writes");
    assert_int_equal(axs_close(c), AXS_OK);
    expect_model(db, &m, "source after writes to the copy");
    assert_int_equal(axs_close(db), AXS_OK);
    db = open_at(f->db, &o);
    expect_model(db, &m, "source reopened");
    assert_int_equal(axs_close(db), AXS_OK);
}

static void test_checkpoint_empty_db(void **state)
{
    fx *f = *state;
    axs_options o = opts(true, 0);
    axs_db *db = open_at(f->db, &o);
    checkpoint_ok(db, f->cp);
    model m;
    model_init(&m);
    expect_copy(f->cp, &m, "copy of an empty database");
    put_v(db, &m, 1, 1);
    assert_int_equal(axs_close(db), AXS_OK);
    model empty;
    model_init(&empty);
    expect_copy(f->cp, &empty, "copy of an empty database, source written");
}

static void test_checkpoint_dir_exists(void **state)
{
    fx *f = *state;
    axs_options o = opts(true, 0);
    axs_db *db = open_at(f->db, &o);
    model m;
    model_init(&m);
    put_v(db, &m, 0, 0);
    /* An empty directory, a database, a file: all AXS_EEXIST, nothing changed. */
    assert_int_equal(mkdir(f->cp, 0755), 0);
    assert_int_equal(axs_checkpoint_create(db, f->cp), AXS_EEXIST);
    TU_REQUIRE(strstr(axs_last_error(db), "exists") != NULL, "message: %s", axs_last_error(db));
    assert_int_equal(axs_checkpoint_create(db, f->db), AXS_EEXIST);
    char file[700];
    snprintf(file, sizeof file, "%s/afile", f->base);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(axs_checkpoint_create(db, file), AXS_EEXIST);
    /* The parent must exist. */
    char deep[700];
    snprintf(deep, sizeof deep, "%s/no/such/dir", f->base);
    assert_int_equal(axs_checkpoint_create(db, deep), AXS_EIO);
    TU_REQUIRE(strstr(axs_last_error(db), "No such file") != NULL, "message: %s",
               axs_last_error(db));
    /* Bad arguments. */
    assert_int_equal(axs_checkpoint_create(NULL, f->cp), AXS_EINVAL);
    assert_int_equal(axs_checkpoint_create(db, NULL), AXS_EINVAL);
    assert_int_equal(axs_checkpoint_create(db, ""), AXS_EINVAL);
    /* The source still works, and a trailing slash is accepted. */
    rmdir(f->cp);
    put_v(db, &m, 1, 0);
    char slash[700];
    snprintf(slash, sizeof slash, "%s/", f->cp);
    checkpoint_ok(db, slash);
    expect_copy(f->cp, &m, "copy");
    assert_int_equal(axs_close(db), AXS_OK);
}

static void test_checkpoint_after_compaction(void **state)
{
    fx *f = *state;
    axs_options o = opts(true, 64 * 1024);
    axs_db *db = open_at(f->db, &o);
    model m;
    model_init(&m);
    write_round(db, &m, 0);
    write_round(db, &m, 1);
    assert_int_equal(axs_compact(db), AXS_OK);
    checkpoint_ok(db, f->cp);
    write_round(db, &m, 2);
    model at_cp = m;
    char cp2[700];
    snprintf(cp2, sizeof cp2, "%s/cp2", f->base);
    assert_int_equal(axs_compact(db), AXS_OK); /* compact right before: all sealed but one */
    checkpoint_ok(db, cp2);
    assert_int_equal(axs_close(db), AXS_OK);
    model first;
    model_init(&first);
    for (unsigned i = 0; i < NKEYS; i++)
        first.ver[i] = i % 7 == 1 ? -1 : 1;
    expect_copy(f->cp, &first, "copy after one compaction");
    expect_copy(cp2, &at_cp, "copy right after a second compaction");
}

static void test_checkpoint_survives_source_destroy(void **state)
{
    fx *f = *state;
    axs_options o = opts(true, 64 * 1024);
    axs_db *db = open_at(f->db, &o);
    model m;
    model_init(&m);
    write_round(db, &m, 0);
    checkpoint_ok(db, f->cp);
    assert_int_equal(axs_close(db), AXS_OK);
    assert_int_equal(axs_destroy(f->db, NULL), AXS_OK);
    TU_REQUIRE(!path_exists(f->db), "source not destroyed");
    expect_copy(f->cp, &m, "copy after the source was destroyed");
}

static void test_checkpoint_reopen_copy_twice(void **state)
{
    fx *f = *state;
    axs_options o = opts(true, 64 * 1024);
    axs_db *db = open_at(f->db, &o);
    model m;
    model_init(&m);
    write_round(db, &m, 0);
    checkpoint_ok(db, f->cp);
    assert_int_equal(axs_close(db), AXS_OK);
    expect_copy(f->cp, &m, "first open");
    expect_copy(f->cp, &m, "second open");
    axs_db *c = open_at(f->cp, &o);
    write_round(c, &m, 1);
    assert_int_equal(axs_close(c), AXS_OK);
    expect_copy(f->cp, &m, "open after writes");
    /* A checkpoint of a checkpoint. */
    char cp2[700];
    snprintf(cp2, sizeof cp2, "%s/cp2", f->base);
    c = open_at(f->cp, &o);
    checkpoint_ok(c, cp2);
    assert_int_equal(axs_close(c), AXS_OK);
    expect_copy(cp2, &m, "checkpoint of the copy");
}

static void test_checkpoint_read_only_handle(void **state)
{
    fx *f = *state;
    axs_options o = opts(true, 64 * 1024);
    axs_db *db = open_at(f->db, &o);
    model m;
    model_init(&m);
    write_round(db, &m, 0);
    assert_int_equal(axs_close(db), AXS_OK);
    axs_options ro = opts(false, 64 * 1024);
    ro.read_only = true;
    db = open_at(f->db, &ro);
    checkpoint_ok(db, f->cp);
    assert_int_equal(axs_close(db), AXS_OK);
    expect_copy(f->cp, &m, "copy of a read-only handle");
    axs_db *c = open_at(f->cp, &o);
    write_round(c, &m, 1);
    assert_int_equal(axs_close(c), AXS_OK);
    expect_copy(f->cp, &m, "copy of a read-only handle, written");
}

static void test_checkpoint_lz4(void **state)
{
    fx *f = *state;
    axs_options o = opts(true, 64 * 1024);
    o.compression = AXS_COMPRESSION_LZ4;
    axs_db *db = open_at(f->db, &o);
    model m;
    model_init(&m);
    write_round(db, &m, 0);
    write_round(db, &m, 1);
    checkpoint_ok(db, f->cp);
    assert_int_equal(axs_close(db), AXS_OK);
    expect_copy(f->cp, &m, "copy of a compressed database");
}

/* A staging directory left by a crash is reused if it holds only our files. */
static void test_checkpoint_stale_staging(void **state)
{
    fx *f = *state;
    axs_options o = opts(true, 0);
    axs_db *db = open_at(f->db, &o);
    model m;
    model_init(&m);
    put_v(db, &m, 3, 3);
    char staging[720], p[800];
    snprintf(staging, sizeof staging, "%s.tmp", f->cp);
    assert_int_equal(mkdir(staging, 0755), 0);
    snprintf(p, sizeof p, "%s/0000000001.seg", staging);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("half a segment", fp);
    fclose(fp);
    checkpoint_ok(db, f->cp);
    TU_REQUIRE(!path_exists(staging), "staging directory left behind");
    expect_copy(f->cp, &m, "copy over a stale staging directory");
    /* A staging directory with someone else's file is not touched. */
    char cp2[700];
    snprintf(cp2, sizeof cp2, "%s/cp2", f->base);
    snprintf(staging, sizeof staging, "%s.tmp", cp2);
    assert_int_equal(mkdir(staging, 0755), 0);
    snprintf(p, sizeof p, "%s/precious.txt", staging);
    fp = fopen(p, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(axs_checkpoint_create(db, cp2), AXS_EEXIST);
    TU_REQUIRE(path_exists(p), "a foreign file was removed");
    TU_REQUIRE(!path_exists(cp2), "a checkpoint was made anyway");
    assert_int_equal(axs_close(db), AXS_OK);
}

/* After a failed sync the handle refuses checkpoints (db.h contract 3). */
static void test_checkpoint_failed_handle(void **state)
{
    fx *f = *state;
    fault_io *fio;
    assert_int_equal(fault_io_create(&fio), 0);
    axs_options o = opts(true, 0);
    o.io = fault_io_table(fio);
    axs_db *db = open_at(f->db, &o);
    model m;
    model_init(&m);
    put_v(db, &m, 0, 0);
    fault_io_arm(fio, FAULT_IO_SYNC, 1, FAULT_IO_EIO, false);
    axs_write_options wo;
    axs_write_options_init(&wo);
    wo.sync = true;
    assert_int_equal(axs_put(db, &wo, "k", 1, "v", 1), AXS_EIO);
    fault_io_disarm(fio);
    assert_int_equal(axs_checkpoint_create(db, f->cp), AXS_EIO);
    TU_REQUIRE(!path_exists(f->cp), "checkpoint of a failed handle was made");
    axs_close(db);
    fault_io_destroy(fio);
}

/* Every I/O call of a checkpoint fails in turn: the call fails cleanly (no directory left),
 * or succeeds; the source stays fully usable either way. */
static void test_checkpoint_io_faults(void **state)
{
    fx *f = *state;
    fault_io *fio;
    assert_int_equal(fault_io_create(&fio), 0);
    axs_options o = opts(true, 64 * 1024);
    o.io = fault_io_table(fio);
    axs_db *db = open_at(f->db, &o);
    model m;
    model_init(&m);
    write_round(db, &m, 0);
    fault_io_reset_counters(fio);
    checkpoint_ok(db, f->cp);
    uint64_t calls = fault_io_count(fio, FAULT_IO_ANY);
    tu_rm_rf(f->cp);
    TU_REQUIRE(calls > 10, "a checkpoint made only %" PRIu64 " I/O calls", calls);
    static const fault_io_fault kinds[] = {FAULT_IO_EIO, FAULT_IO_ENOSPC, FAULT_IO_SHORT_WRITE};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (uint64_t i = 1; i <= calls; i++) {
            fault_io_reset_counters(fio);
            fault_io_arm(fio, FAULT_IO_ANY, i, kinds[k], false);
            int rc = axs_checkpoint_create(db, f->cp);
            fault_io_disarm(fio);
            char staging[720];
            snprintf(staging, sizeof staging, "%s.tmp", f->cp);
            if (rc != AXS_OK) {
                TU_REQUIRE(rc == AXS_EIO || rc == AXS_ENOSPC || rc == AXS_EEXIST,
                           "call %" PRIu64 ": unexpected %s", i, axs_strerror(rc));
                /* Only the final sync of the parent may fail after the rename. */
                if (path_exists(f->cp))
                    expect_copy(f->cp, &m, "copy whose parent sync failed");
                tu_rm_rf(f->cp);
                tu_rm_rf(staging); /* a failed cleanup call may leave it */
            } else {
                expect_copy(f->cp, &m, "copy made despite a fault");
                tu_rm_rf(f->cp);
            }
            TU_REQUIRE(!path_exists(staging), "call %" PRIu64 ": staging left", i);
            /* The source was not marked failed by a fault in the copy. */
            put_v(db, &m, (unsigned)(i % NKEYS), (int)(100 + i));
        }
    }
    expect_model(db, &m, "source after the faults");
    checkpoint_ok(db, f->cp);
    expect_copy(f->cp, &m, "copy after the faults");
    assert_int_equal(axs_close(db), AXS_OK);
    fault_io_destroy(fio);
}

/* Everything in the copy is synced when the call returns: a power loss right after it keeps
 * the whole copy, although the source's own last writes were never synced. */
static void test_checkpoint_power_loss(void **state)
{
    fx *f = *state;
    fault_io *fio;
    assert_int_equal(fault_io_create(&fio), 0);
    axs_options o = opts(true, 64 * 1024);
    o.io = fault_io_table(fio);
    axs_db *db = open_at(f->db, &o);
    model m;
    model_init(&m);
    write_round(db, &m, 0);
    checkpoint_ok(db, f->cp);
    fault_io_crash(fio);
    axs_close(db);
    assert_int_equal(fault_io_power_loss(fio, FAULT_IO_DROP_UNSYNCED, 1), 0);
    expect_copy(f->cp, &m, "copy after power loss");
    fault_io_destroy(fio);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkpoint_then_write_source, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_links_sealed_segments, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_empty_db, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_dir_exists, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_after_compaction, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_survives_source_destroy, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_reopen_copy_twice, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_read_only_handle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_lz4, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_stale_staging, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_failed_handle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_io_faults, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_power_loss, fx_setup, fx_teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
