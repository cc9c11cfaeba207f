/*
 * test_backup.c: rocksdb_checkpoint_* and rocksdb_backup_engine_* of the plugin, through
 * <rocksdb/c.h> only, one behaviour per case. The expected messages and numbers are those
 * librocksdb 7.8.3 gives (plugin/src/backup.c lists them).
 *
 * Covers: backup, write more, backup, restore from the latest and from ID 1 (into a fresh
 * directory, over a database, over foreign files); purge keeps the newest N, IDs continue,
 * and restart at 1 once every backup is purged and the engine reopened; verify detects a
 * flipped byte, a truncated and a missing file, and the engine reopened leaves a damaged
 * backup out; a garbled meta file and an interrupted backup; info accessors; errors through
 * errptr (bad paths, missing IDs; an old message is replaced); checkpoint errors (directory
 * exists, empty name, missing parent) and a checkpoint that opens; backup engine options.
 *
 * Every case works in a fresh directory under $TMPDIR (or /tmp), removed afterwards.
 */
#define _XOPEN_SOURCE 700

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

/* ---- fixture ------------------------------------------------------------------------------ */

typedef struct fx {
    char base[512];
    char db[600], bk[600], r1[600], r2[600];
} fx;

static int rm_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    remove(p);
    return 0;
}

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->base, sizeof f->base, "%s/axp_backup_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->base)) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "%s/db", f->base);
    snprintf(f->bk, sizeof f->bk, "%s/backups", f->base);
    snprintf(f->r1, sizeof f->r1, "%s/r1", f->base);
    snprintf(f->r2, sizeof f->r2, "%s/r2", f->base);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    nftw(f->base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error(__VA_ARGS__);                                                              \
            print_error("\n");                                                                     \
            fail_msg("%s:%d: %s", __FILE__, __LINE__, #cond);                                      \
        }                                                                                          \
    } while (0)

#define NO_ERR(err)                                                                                \
    do {                                                                                           \
        REQUIRE((err) == NULL, "unexpected error: %s", (err));                                    \
    } while (0)

/* Expects an error starting with prefix; frees it. */
#define EXPECT_ERR(err, prefix)                                                                    \
    do {                                                                                           \
        REQUIRE((err) != NULL, "expected an error starting with \"%s\"", (prefix));               \
        REQUIRE(strncmp((err), (prefix), strlen(prefix)) == 0, "error \"%s\", want \"%s...\"",    \
                (err), (prefix));                                                                  \
        free(err);                                                                                 \
        (err) = NULL;                                                                              \
    } while (0)

/* ---- database helpers ---------------------------------------------------------------------- */

static rocksdb_t *db_open(const char *path, bool create)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, create);
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, path, &err);
    rocksdb_options_destroy(o);
    REQUIRE(db != NULL && err == NULL, "open %s: %s", path, err ? err : "NULL handle");
    return db;
}

static void put(rocksdb_t *db, const char *k, const char *v)
{
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    char *err = NULL;
    rocksdb_put(db, wo, k, strlen(k), v, strlen(v), &err);
    rocksdb_writeoptions_destroy(wo);
    NO_ERR(err);
}

static void del(rocksdb_t *db, const char *k)
{
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    char *err = NULL;
    rocksdb_delete(db, wo, k, strlen(k), &err);
    rocksdb_writeoptions_destroy(wo);
    NO_ERR(err);
}

/* Expects key k to hold v (NULL: absent). */
static void expect(rocksdb_t *db, const char *k, const char *v)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    char *err = NULL;
    size_t len = 0;
    char *got = rocksdb_get(db, ro, k, strlen(k), &len, &err);
    rocksdb_readoptions_destroy(ro);
    NO_ERR(err);
    if (!v) {
        REQUIRE(got == NULL, "%s should be absent, holds %.*s", k, (int)len, got);
        return;
    }
    REQUIRE(got != NULL, "%s missing (want %s)", k, v);
    REQUIRE(len == strlen(v) && memcmp(got, v, len) == 0, "%s = %.*s, want %s", k, (int)len,
            got, v);
    rocksdb_free(got);
}

/* Bulk keys bulkNNNN = "<tag>-NNNN-xxxx...": enough bytes for several segments. */
static void put_bulk(rocksdb_t *db, const char *tag, int n)
{
    char k[32], v[1100];
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "bulk%04d", i);
        int l = snprintf(v, sizeof v, "%s-%04d-", tag, i);
        memset(v + l, 'a' + i % 26, 1000);
        v[l + 1000] = '\0';
        put(db, k, v);
    }
}

static void expect_bulk(rocksdb_t *db, const char *tag, int n)
{
    char k[32], v[1100];
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "bulk%04d", i);
        int l = snprintf(v, sizeof v, "%s-%04d-", tag, i);
        memset(v + l, 'a' + i % 26, 1000);
        v[l + 1000] = '\0';
        expect(db, k, v);
    }
}

static rocksdb_backup_engine_t *be_open(const char *path)
{
    rocksdb_options_t *o = rocksdb_options_create();
    char *err = NULL;
    rocksdb_backup_engine_t *be = rocksdb_backup_engine_open(o, path, &err);
    rocksdb_options_destroy(o);
    REQUIRE(be != NULL && err == NULL, "backup engine open %s: %s", path,
            err ? err : "NULL handle");
    return be;
}

static void backup(rocksdb_backup_engine_t *be, rocksdb_t *db)
{
    char *err = NULL;
    rocksdb_backup_engine_create_new_backup(be, db, &err);
    NO_ERR(err);
}

static void restore(rocksdb_backup_engine_t *be, const char *dir, uint32_t id)
{
    rocksdb_restore_options_t *ro = rocksdb_restore_options_create();
    char *err = NULL;
    if (id)
        rocksdb_backup_engine_restore_db_from_backup(be, dir, dir, ro, id, &err);
    else
        rocksdb_backup_engine_restore_db_from_latest_backup(be, dir, dir, ro, &err);
    rocksdb_restore_options_destroy(ro);
    NO_ERR(err);
}

/* The IDs of the valid backups, as a string "1,2,3". */
static void ids_of(rocksdb_backup_engine_t *be, char *buf, size_t len)
{
    const rocksdb_backup_engine_info_t *info = rocksdb_backup_engine_get_backup_info(be);
    buf[0] = '\0';
    for (int i = 0; i < rocksdb_backup_engine_info_count(info); i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%u", i ? "," : "",
                 rocksdb_backup_engine_info_backup_id(info, i));
    rocksdb_backup_engine_info_destroy(info);
}

#define EXPECT_IDS(be, want)                                                                       \
    do {                                                                                           \
        char ids_[256];                                                                            \
        ids_of((be), ids_, sizeof ids_);                                                           \
        REQUIRE(strcmp(ids_, (want)) == 0, "backup IDs [%s], want [%s]", ids_, (want));            \
    } while (0)

/* The largest regular file in backup id's private directory (path into buf). */
static void largest_file(const fx *f, uint32_t id, char *buf, size_t len)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/private/%u", f->bk, id);
    DIR *d = opendir(dir);
    REQUIRE(d != NULL, "opendir %s: %s", dir, strerror(errno));
    struct dirent *de;
    long long best = -1;
    while ((de = readdir(d)) != NULL) {
        char p[1000];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > best) {
            best = sb.st_size;
            snprintf(buf, len, "%s", p);
        }
    }
    closedir(d);
    REQUIRE(best > 0, "no file in %s", dir);
}

/* Files and bytes in a directory tree. */
static uint64_t tree_files, tree_bytes;
static int tree_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)p;
    (void)ftw;
    if (type == FTW_F) {
        tree_files++;
        tree_bytes += (uint64_t)sb->st_size;
        REQUIRE(sb->st_nlink == 1, "%s is shared with another file (%lu links)", p,
                (unsigned long)sb->st_nlink);
    }
    return 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    REQUIRE(fp != NULL, "fopen %s: %s", path, strerror(errno));
    fputs(text, fp);
    fclose(fp);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_backup_restore_latest_and_first(void **state)
{
    fx *f = *state;
    rocksdb_t *db = db_open(f->db, true);
    put(db, "a", "1");
    put(db, "b", "1");
    put_bulk(db, "one", 300);
    rocksdb_backup_engine_t *be = be_open(f->bk);
    backup(be, db);
    put(db, "b", "2");
    put(db, "c", "2");
    del(db, "a");
    put_bulk(db, "two", 300);
    char *err = NULL;
    rocksdb_backup_engine_create_new_backup_flush(be, db, 1, &err);
    NO_ERR(err);
    put(db, "d", "after the backups");
    EXPECT_IDS(be, "1,2");

    restore(be, f->r1, 0); /* latest: 2 */
    restore(be, f->r2, 1);
    rocksdb_t *r = db_open(f->r1, false);
    expect(r, "a", NULL);
    expect(r, "b", "2");
    expect(r, "c", "2");
    expect(r, "d", NULL);
    expect_bulk(r, "two", 300);
    rocksdb_close(r);
    r = db_open(f->r2, false);
    expect(r, "a", "1");
    expect(r, "b", "1");
    expect(r, "c", NULL);
    expect_bulk(r, "one", 300);
    put(r, "e", "written to the restored copy");
    rocksdb_close(r);

    /* Restoring over a database replaces it; files that are not the backup's go, as in
     * RocksDB. */
    char foreign[700];
    snprintf(foreign, sizeof foreign, "%s/notes.txt", f->r2);
    write_text(foreign, "someone's file");
    restore(be, f->r2, 2);
    struct stat sb;
    REQUIRE(stat(foreign, &sb) != 0, "restore kept a file that is not the backup's");
    r = db_open(f->r2, false);
    expect(r, "b", "2");
    expect(r, "e", NULL);
    rocksdb_close(r);

    /* The source is untouched and the backups are independent copies of it. */
    expect(db, "d", "after the backups");
    expect_bulk(db, "two", 300);
    rocksdb_close(db);
    rocksdb_backup_engine_close(be);
    char priv[700];
    snprintf(priv, sizeof priv, "%s/private", f->bk);
    tree_files = tree_bytes = 0;
    nftw(priv, tree_cb, 16, FTW_PHYS);
    REQUIRE(tree_files > 0, "no files in %s", priv);
}

static void test_purge_keeps_n(void **state)
{
    fx *f = *state;
    rocksdb_t *db = db_open(f->db, true);
    rocksdb_backup_engine_t *be = be_open(f->bk);
    for (int i = 1; i <= 5; i++) {
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        put(db, "k", v);
        backup(be, db);
    }
    EXPECT_IDS(be, "1,2,3,4,5");
    char *err = NULL;
    rocksdb_backup_engine_purge_old_backups(be, 2, &err);
    NO_ERR(err);
    EXPECT_IDS(be, "4,5");
    char p[700];
    snprintf(p, sizeof p, "%s/private/1", f->bk);
    struct stat sb;
    REQUIRE(stat(p, &sb) != 0, "purged backup's files are still there");
    rocksdb_restore_options_t *ro = rocksdb_restore_options_create();
    rocksdb_backup_engine_restore_db_from_backup(be, f->r1, f->r1, ro, 1, &err);
    EXPECT_ERR(err, "NotFound: Backup not found");
    restore(be, f->r1, 4);
    rocksdb_t *r = db_open(f->r1, false);
    expect(r, "k", "4");
    rocksdb_close(r);
    /* Keeping more than there are changes nothing; IDs continue after a purge. */
    rocksdb_backup_engine_purge_old_backups(be, 10, &err);
    NO_ERR(err);
    EXPECT_IDS(be, "4,5");
    backup(be, db);
    EXPECT_IDS(be, "4,5,6");
    /* Across a reopen, IDs continue after the largest one. */
    rocksdb_backup_engine_close(be);
    be = be_open(f->bk);
    EXPECT_IDS(be, "4,5,6");
    backup(be, db);
    EXPECT_IDS(be, "4,5,6,7");
    /* Purge all: none left; after a reopen IDs start at 1 again (as RocksDB). */
    rocksdb_backup_engine_purge_old_backups(be, 0, &err);
    NO_ERR(err);
    EXPECT_IDS(be, "");
    rocksdb_backup_engine_restore_db_from_latest_backup(be, f->r1, f->r1, ro, &err);
    EXPECT_ERR(err, "NotFound: Backup not found");
    rocksdb_backup_engine_close(be);
    be = be_open(f->bk);
    backup(be, db);
    EXPECT_IDS(be, "1");
    rocksdb_restore_options_destroy(ro);
    rocksdb_backup_engine_close(be);
    rocksdb_close(db);
}

static void test_verify_detects_damage(void **state)
{
    fx *f = *state;
    rocksdb_t *db = db_open(f->db, true);
    put_bulk(db, "v", 200);
    rocksdb_backup_engine_t *be = be_open(f->bk);
    backup(be, db);
    backup(be, db);
    backup(be, db);
    char *err = NULL;
    rocksdb_backup_engine_verify_backup(be, 1, &err);
    NO_ERR(err);
    rocksdb_backup_engine_verify_backup(be, 9, &err);
    EXPECT_ERR(err, "NotFound: ");

    /* A flipped byte: same size, wrong checksum. */
    char p[1000];
    largest_file(f, 1, p, sizeof p);
    int fd = open(p, O_RDWR);
    REQUIRE(fd >= 0, "open %s", p);
    unsigned char byte;
    REQUIRE(pread(fd, &byte, 1, 100) == 1, "pread");
    byte ^= 0x20;
    REQUIRE(pwrite(fd, &byte, 1, 100) == 1, "pwrite");
    close(fd);
    rocksdb_backup_engine_verify_backup(be, 1, &err);
    EXPECT_ERR(err, "Corruption: File corrupted: Checksum mismatch for ");
    /* ... and a restore of it fails the same way instead of restoring damaged data. */
    rocksdb_restore_options_t *ro = rocksdb_restore_options_create();
    rocksdb_backup_engine_restore_db_from_backup(be, f->r1, f->r1, ro, 1, &err);
    EXPECT_ERR(err, "Corruption: File corrupted: Checksum mismatch for ");

    /* A truncated file. */
    largest_file(f, 2, p, sizeof p);
    REQUIRE(truncate(p, 5) == 0, "truncate");
    rocksdb_backup_engine_verify_backup(be, 2, &err);
    REQUIRE(err && strstr(err, "Expected file size is ") && strstr(err, "while found file size is 5"),
            "message: %s", err ? err : "(none)");
    EXPECT_ERR(err, "Corruption: File corrupted: File size mismatch for ");

    /* A missing file. */
    largest_file(f, 3, p, sizeof p);
    REQUIRE(unlink(p) == 0, "unlink");
    rocksdb_backup_engine_verify_backup(be, 3, &err);
    EXPECT_ERR(err, "NotFound: File missing: ");

    /* Reopened, the engine leaves out the backups whose files are missing or have the wrong
     * size (as RocksDB); a flipped byte is found only by verify. IDs continue. */
    rocksdb_backup_engine_close(be);
    be = be_open(f->bk);
    EXPECT_IDS(be, "1");
    rocksdb_backup_engine_verify_backup(be, 2, &err);
    EXPECT_ERR(err, "Corruption: ");
    rocksdb_backup_engine_restore_db_from_backup(be, f->r1, f->r1, ro, 3, &err);
    EXPECT_ERR(err, "Corruption: ");
    backup(be, db);
    EXPECT_IDS(be, "1,4");
    rocksdb_backup_engine_verify_backup(be, 4, &err);
    NO_ERR(err);
    restore(be, f->r1, 0);
    rocksdb_t *r = db_open(f->r1, false);
    expect_bulk(r, "v", 200);
    rocksdb_close(r);
    rocksdb_restore_options_destroy(ro);
    rocksdb_backup_engine_close(be);
    rocksdb_close(db);
}

static void test_meta_garbage_and_interrupted_backup(void **state)
{
    fx *f = *state;
    rocksdb_t *db = db_open(f->db, true);
    put(db, "x", "1");
    rocksdb_backup_engine_t *be = be_open(f->bk);
    backup(be, db);
    backup(be, db);
    rocksdb_backup_engine_close(be);
    char p[700];
    snprintf(p, sizeof p, "%s/meta/2", f->bk);
    write_text(p, "garbage\n");
    /* An interrupted backup: files without a meta file, and a meta file being written. */
    snprintf(p, sizeof p, "%s/private/3", f->bk);
    REQUIRE(mkdir(p, 0755) == 0, "mkdir");
    snprintf(p, sizeof p, "%s/private/3/junk", f->bk);
    write_text(p, "junk");
    snprintf(p, sizeof p, "%s/meta/3.tmp", f->bk);
    write_text(p, "half");
    be = be_open(f->bk);
    EXPECT_IDS(be, "1");
    struct stat sb;
    snprintf(p, sizeof p, "%s/private/3", f->bk);
    REQUIRE(stat(p, &sb) != 0, "an interrupted backup's files were kept");
    snprintf(p, sizeof p, "%s/meta/3.tmp", f->bk);
    REQUIRE(stat(p, &sb) != 0, "an interrupted meta file was kept");
    char *err = NULL;
    rocksdb_backup_engine_verify_backup(be, 2, &err);
    REQUIRE(err && strstr(err, "meta/2"), "message: %s", err ? err : "(none)");
    EXPECT_ERR(err, "Corruption: ");
    backup(be, db);
    EXPECT_IDS(be, "1,3");
    rocksdb_backup_engine_close(be);
    rocksdb_close(db);
}

static void test_info_accessors(void **state)
{
    fx *f = *state;
    rocksdb_t *db = db_open(f->db, true);
    rocksdb_backup_engine_t *be = be_open(f->bk);
    const rocksdb_backup_engine_info_t *info = rocksdb_backup_engine_get_backup_info(be);
    assert_int_equal(rocksdb_backup_engine_info_count(info), 0);
    rocksdb_backup_engine_info_destroy(info);
    int64_t t0 = (int64_t)time(NULL);
    for (int i = 0; i < 3; i++) {
        put_bulk(db, i == 0 ? "a" : i == 1 ? "b" : "c", 100 * (i + 1));
        backup(be, db);
    }
    int64_t t1 = (int64_t)time(NULL);
    info = rocksdb_backup_engine_get_backup_info(be);
    assert_int_equal(rocksdb_backup_engine_info_count(info), 3);
    uint64_t prev_size = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rocksdb_backup_engine_info_backup_id(info, i), (uint32_t)i + 1);
        int64_t ts = rocksdb_backup_engine_info_timestamp(info, i);
        REQUIRE(ts >= t0 && ts <= t1, "timestamp %lld not in [%lld, %lld]", (long long)ts,
                (long long)t0, (long long)t1);
        char p[700];
        snprintf(p, sizeof p, "%s/private/%d", f->bk, i + 1);
        tree_files = tree_bytes = 0;
        nftw(p, tree_cb, 16, FTW_PHYS);
        uint64_t size = rocksdb_backup_engine_info_size(info, i);
        REQUIRE(size == tree_bytes, "size %llu, files hold %llu bytes", (unsigned long long)size,
                (unsigned long long)tree_bytes);
        REQUIRE(size > prev_size, "backup %d is not larger than the one before", i + 1);
        prev_size = size;
        assert_int_equal(rocksdb_backup_engine_info_number_files(info, i), tree_files);
    }
    /* Out of range: zeros rather than a crash. */
    assert_int_equal(rocksdb_backup_engine_info_backup_id(info, 3), 0);
    assert_int_equal(rocksdb_backup_engine_info_size(info, -1), 0);
    rocksdb_backup_engine_info_destroy(info);
    /* The info is a snapshot: it does not change with the engine. */
    info = rocksdb_backup_engine_get_backup_info(be);
    char *err = NULL;
    rocksdb_backup_engine_purge_old_backups(be, 1, &err);
    NO_ERR(err);
    assert_int_equal(rocksdb_backup_engine_info_count(info), 3);
    rocksdb_backup_engine_info_destroy(info);
    EXPECT_IDS(be, "3");
    rocksdb_backup_engine_close(be);
    rocksdb_close(db);
}

static void test_errors_through_errptr(void **state)
{
    fx *f = *state;
    rocksdb_options_t *o = rocksdb_options_create();
    char *err = NULL;
    char p[700];
    snprintf(p, sizeof p, "%s/no/such/parent", f->base);
    rocksdb_backup_engine_t *be = rocksdb_backup_engine_open(o, p, &err);
    assert_null(be);
    EXPECT_ERR(err, "IO error: No such file or directory: While mkdir if missing: ");
    snprintf(p, sizeof p, "%s/afile", f->base);
    write_text(p, "x");
    be = rocksdb_backup_engine_open(o, p, &err);
    assert_null(be);
    REQUIRE(err && strstr(err, "exists but is not a directory"), "message: %s",
            err ? err : "(none)");
    EXPECT_ERR(err, "IO error: `");
    rocksdb_options_destroy(o);

    be = be_open(f->bk);
    rocksdb_restore_options_t *ro = rocksdb_restore_options_create();
    rocksdb_restore_options_set_keep_log_files(ro, 1);
    /* An old message in *errptr is freed and replaced (the errptr convention). */
    err = strdup("an old message");
    rocksdb_backup_engine_restore_db_from_latest_backup(be, f->r1, f->r1, ro, &err);
    EXPECT_ERR(err, "NotFound: Backup not found");
    rocksdb_backup_engine_restore_db_from_backup(be, f->r1, f->r1, ro, 0, &err);
    EXPECT_ERR(err, "NotFound: Backup not found");
    rocksdb_backup_engine_verify_backup(be, 1, &err);
    EXPECT_ERR(err, "NotFound: ");
    rocksdb_t *db = db_open(f->db, true);
    put(db, "k", "v");
    backup(be, db);
    /* Success leaves *errptr alone. */
    err = NULL;
    rocksdb_backup_engine_verify_backup(be, 1, &err);
    NO_ERR(err);
    snprintf(p, sizeof p, "%s/no/such/dir", f->base);
    rocksdb_backup_engine_restore_db_from_backup(be, p, p, ro, 1, &err);
    EXPECT_ERR(err, "IO error: ");
    rocksdb_restore_options_destroy(ro);
    rocksdb_backup_engine_close(be);
    rocksdb_close(db);
}

static void test_checkpoint(void **state)
{
    fx *f = *state;
    rocksdb_t *db = db_open(f->db, true);
    put(db, "a", "1");
    put_bulk(db, "cp", 200);
    char *err = NULL;
    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(db, &err);
    NO_ERR(err);
    assert_non_null(cp);
    char dir[700];
    snprintf(dir, sizeof dir, "%s/cp", f->base);
    rocksdb_checkpoint_create(cp, dir, 0, &err);
    NO_ERR(err);
    put(db, "a", "2");
    /* An existing directory, even an empty one: RocksDB's words. */
    rocksdb_checkpoint_create(cp, dir, 0, &err);
    REQUIRE(err && strcmp(err, "Invalid argument: Directory exists") == 0, "message: %s",
            err ? err : "(none)");
    free(err);
    err = NULL;
    REQUIRE(mkdir(f->r1, 0755) == 0, "mkdir");
    rocksdb_checkpoint_create(cp, f->r1, 0, &err);
    EXPECT_ERR(err, "Invalid argument: Directory exists");
    rocksdb_checkpoint_create(cp, "", 0, &err);
    EXPECT_ERR(err, "Invalid argument: invalid checkpoint directory name");
    char deep[700];
    snprintf(deep, sizeof deep, "%s/no/such/cp", f->base);
    rocksdb_checkpoint_create(cp, deep, UINT64_MAX, &err);
    EXPECT_ERR(err, "IO error: No such file or directory: While mkdir: ");
    rocksdb_checkpoint_object_destroy(cp);
    rocksdb_close(db);
    rocksdb_t *c = db_open(dir, false);
    expect(c, "a", "1");
    expect_bulk(c, "cp", 200);
    rocksdb_close(c);
}

static void test_backup_engine_options(void **state)
{
    fx *f = *state;
    rocksdb_backup_engine_options_t *o = rocksdb_backup_engine_options_create(f->bk);
    /* RocksDB 7.8.3's defaults. */
    assert_int_equal(rocksdb_backup_engine_options_get_share_table_files(o), 1);
    assert_int_equal(rocksdb_backup_engine_options_get_sync(o), 1);
    assert_int_equal(rocksdb_backup_engine_options_get_destroy_old_data(o), 0);
    assert_int_equal(rocksdb_backup_engine_options_get_backup_log_files(o), 1);
    assert_int_equal(rocksdb_backup_engine_options_get_backup_rate_limit(o), 0);
    assert_int_equal(rocksdb_backup_engine_options_get_restore_rate_limit(o), 0);
    assert_int_equal(rocksdb_backup_engine_options_get_max_background_operations(o), 1);
    assert_int_equal(rocksdb_backup_engine_options_get_callback_trigger_interval_size(o),
                     4 * 1024 * 1024);
    assert_int_equal(rocksdb_backup_engine_options_get_max_valid_backups_to_open(o), INT_MAX);
    assert_int_equal(rocksdb_backup_engine_options_get_share_files_with_checksum_naming(o),
                     -2147483646);
    /* Stored and returned. */
    rocksdb_backup_engine_options_set_share_table_files(o, 0);
    rocksdb_backup_engine_options_set_backup_rate_limit(o, 12345);
    rocksdb_backup_engine_options_set_max_background_operations(o, 4);
    assert_int_equal(rocksdb_backup_engine_options_get_share_table_files(o), 0);
    assert_int_equal(rocksdb_backup_engine_options_get_backup_rate_limit(o), 12345);
    assert_int_equal(rocksdb_backup_engine_options_get_max_background_operations(o), 4);

    rocksdb_t *db = db_open(f->db, true);
    put(db, "k", "v1");
    char *err = NULL;
    rocksdb_backup_engine_t *be = rocksdb_backup_engine_open_opts(o, NULL, &err);
    NO_ERR(err);
    backup(be, db);
    backup(be, db);
    rocksdb_backup_engine_close(be);
    /* destroy_old_data: the old backups go, IDs start again. */
    rocksdb_backup_engine_options_set_destroy_old_data(o, 1);
    be = rocksdb_backup_engine_open_opts(o, NULL, &err);
    NO_ERR(err);
    EXPECT_IDS(be, "");
    put(db, "k", "v2");
    backup(be, db);
    EXPECT_IDS(be, "1");
    restore(be, f->r1, 1);
    rocksdb_backup_engine_close(be);
    /* Another backup_dir. */
    char other[700];
    snprintf(other, sizeof other, "%s/other", f->base);
    rocksdb_backup_engine_options_set_backup_dir(o, other);
    rocksdb_backup_engine_options_set_destroy_old_data(o, 0);
    be = rocksdb_backup_engine_open_opts(o, NULL, &err);
    NO_ERR(err);
    EXPECT_IDS(be, "");
    rocksdb_backup_engine_close(be);
    rocksdb_backup_engine_options_destroy(o);
    rocksdb_close(db);
    rocksdb_t *r = db_open(f->r1, false);
    expect(r, "k", "v2");
    rocksdb_close(r);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backup_restore_latest_and_first, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_purge_keeps_n, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_verify_detects_damage, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_meta_garbage_and_interrupted_backup, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_info_accessors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_errors_through_errptr, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_backup_engine_options, fx_setup, fx_teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
