/*
 * test_api_badinput.c: bad inputs and hostile directories.
 *
 * Where real RocksDB 7.8.3 defines the outcome, the test expects exactly its error prefix
 * (test_api_badinput_real checks that against librocksdb): keys or values longer than
 * UINT32_MAX bytes, a path that is a regular file or has a missing parent, directories with
 * foreign or garbage files, an unwritable or unreadable directory (as root, the case first
 * becomes the user nobody, since root ignores permissions).
 *
 * Where real RocksDB crashes (NULL handles, NULL errptr, a NULL key with a length, a huge
 * length it does not check), the plugin must not crash: it either does nothing or fails with
 * one of RocksDB's prefixes. Those cases are AXP_PLUGIN_ONLY(), as is the case of a directory
 * holding a real RocksDB database, which the plugin in native mode must refuse with a clear
 * error without changing a byte of it, and an AlexStorage database of a newer format version.
 *
 * test_api_matrix.c calls every c.h function with NULL handles, NULL data and huge lengths.
 */
#include "api_util.h" /* first: it sets _GNU_SOURCE */

#include <dlfcn.h>

#define HUGE_LEN (((size_t)1 << 32) + 1) /* one more than RocksDB's 32-bit length limit */

static void oversized_key_and_value(void **state)
{
    (void)state;
    rocksdb_options_t *o = axu_create_options();
    rocksdb_options_set_uint64add_merge_operator(o); /* so that merge reaches the length check */
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, axu_path("db"), &err);
    axu_expect_ok(err);
    rocksdb_options_destroy(o);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    uint64_t seq = rocksdb_get_latest_sequence_number(db);
    /* The lengths are checked before the bytes are read: small buffers are enough. */
    rocksdb_put(db, wo, "k", HUGE_LEN, "v", 1, &err);
    axu_expect_err(&err, "Invalid argument: ");
    rocksdb_put(db, wo, "k", 1, "v", HUGE_LEN, &err);
    axu_expect_err(&err, "Invalid argument: ");
    rocksdb_merge(db, wo, "k", HUGE_LEN, "v", 1, &err);
    axu_expect_err(&err, "Invalid argument: ");
    assert_int_equal(rocksdb_get_latest_sequence_number(db), seq);

    /* A batch silently drops an oversized record. */
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_put(wb, "k", HUGE_LEN, "v", 1);
    rocksdb_writebatch_put(wb, "k", 1, "v", HUGE_LEN);
    assert_int_equal(rocksdb_writebatch_count(wb), 0);
    rocksdb_writebatch_put(wb, "k", 1, "v", 1);
    assert_int_equal(rocksdb_writebatch_count(wb), 1);
    rocksdb_write(db, wo, wb, &err);
#ifdef AXP_AGAINST_REAL
    axu_expect_ok(err);
#else
    /* Documented difference: the plugin refuses the whole batch rather than write it without
     * the records it dropped (docs/writebatch.md, contract 3). */
    axu_expect_err(&err, "Invalid argument: ");
#endif
    rocksdb_writebatch_destroy(wb);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
}

static void large_key_and_value_roundtrip(void **state)
{
    (void)state;
    const char *path = axu_path("db");
    rocksdb_t *db = axu_open(path);
    size_t kn = 1 << 20, vn = 32 << 20;
#ifndef AXP_AGAINST_REAL
    /* Documented limit: keys up to 64 KiB (AXS_MAX_KEY_LEN); longer ones are refused. */
    {
        char *err = NULL;
        char *big = calloc(1, kn);
        rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
        rocksdb_put(db, wo, big, kn, "v", 1, &err);
        axu_expect_err(&err, "Invalid argument: ");
        rocksdb_writeoptions_destroy(wo);
        free(big);
        kn = 64 << 10;
    }
#endif
    char *k = malloc(kn), *v = malloc(vn);
    assert_non_null(k);
    assert_non_null(v);
    for (size_t i = 0; i < kn; i++)
        k[i] = (char)(i * 7);
    for (size_t i = 0; i < vn; i++)
        v[i] = (char)(i * 13 + (i >> 12));
    axu_put(db, k, kn, v, vn);
    for (int round = 0; round < 2; round++) {
        size_t gn;
        char *g = axu_get(db, k, kn, &gn);
        assert_non_null(g);
        assert_int_equal(gn, vn);
        assert_memory_equal(g, v, vn);
        free(g);
        rocksdb_close(db); /* and again after recovery */
        db = axu_open(path);
    }
    rocksdb_close(db);
    free(k);
    free(v);
}

static void path_is_regular_file(void **state)
{
    (void)state;
    const char *path = axu_path("file");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a database", f);
    fclose(f);
    rocksdb_options_t *o = axu_create_options();
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, path, &err);
    assert_null(db);
    axu_expect_err(&err, "IO error: ");
    db = rocksdb_open_for_read_only(o, path, 0, &err);
    assert_null(db);
    axu_expect_err(&err, "IO error: ");
    f = fopen(path, "r");
    char buf[32] = {0};
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "not a database");
    rocksdb_options_destroy(o);
}

static void missing_parent_and_empty_path(void **state)
{
    (void)state;
    rocksdb_options_t *o = axu_create_options();
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, axu_path("no/such/parent"), &err);
    assert_null(db);
    axu_expect_err(&err, "IO error: "); /* create_if_missing makes one level only */
    db = rocksdb_open(o, "", &err);
    assert_null(db);
    axu_expect_err(&err, "IO error: ");
    rocksdb_options_destroy(o);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void directory_with_foreign_files(void **state)
{
    (void)state;
    const char *dir = strdup(axu_path("foreign"));
    assert_int_equal(mkdir(dir, 0755), 0);
    char p[600];
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    write_file(p, "keep me\n", 8);

    rocksdb_options_t *o = rocksdb_options_create();
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, dir, &err); /* no database here, none created */
    assert_null(db);
    axu_expect_err(&err, "Invalid argument: ");

    rocksdb_options_set_create_if_missing(o, 1);
    db = rocksdb_open(o, dir, &err); /* a database can share a directory with other files */
#ifndef AXP_AGAINST_REAL
    /* Documented difference: the engine creates a database only in a missing or empty
     * directory, so it never mixes its files with another program's. */
    assert_null(db);
    axu_expect_err(&err, "Invalid argument: ");
    rocksdb_options_destroy(o);
    free((void *)dir);
    return;
#endif
    axu_expect_ok(err);
    assert_non_null(db);
    axu_put(db, "k", 1, "v", 1);
    rocksdb_close(db);
    db = rocksdb_open(o, dir, &err);
    axu_expect_ok(err);
    size_t vn;
    char *v = axu_get(db, "k", 1, &vn);
    assert_non_null(v);
    free(v);
    rocksdb_close(db);
    FILE *f = fopen(p, "r");
    char buf[16] = {0};
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "keep me\n");
    rocksdb_options_destroy(o);
    free((void *)dir);
}

/* RocksDB's own error for a damaged RocksDB directory; the native plugin, which does not read
 * RocksDB's files, refuses any RocksDB directory up front with "Invalid argument: " (it is
 * another engine's database) and changes nothing in it. */
#ifdef AXP_AGAINST_REAL
#define AXU_FOREIGN_DB_PREFIX(real) (real)
#else
#define AXU_FOREIGN_DB_PREFIX(real) "Invalid argument: "
#endif

/* A directory that looks like a RocksDB database but whose files are garbage. */
static void garbage_database_files(void **state)
{
    (void)state;
    rocksdb_options_t *o = axu_create_options();
    char *err = NULL;
    char p[600];
    unsigned char junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 151 + 7);

    const char *d1 = strdup(axu_path("g1")); /* CURRENT without a newline */
    assert_int_equal(mkdir(d1, 0755), 0);
    snprintf(p, sizeof p, "%s/CURRENT", d1);
    write_file(p, "junk", 4);
    rocksdb_t *db = rocksdb_open(o, d1, &err);
    assert_null(db);
    axu_expect_err(&err, AXU_FOREIGN_DB_PREFIX("Corruption: "));

    const char *d2 = strdup(axu_path("g2")); /* CURRENT names a garbage MANIFEST */
    assert_int_equal(mkdir(d2, 0755), 0);
    snprintf(p, sizeof p, "%s/CURRENT", d2);
    write_file(p, "MANIFEST-000001\n", 16);
    snprintf(p, sizeof p, "%s/MANIFEST-000001", d2);
    write_file(p, junk, sizeof junk);
    db = rocksdb_open(o, d2, &err);
    assert_null(db);
    axu_expect_err(&err, AXU_FOREIGN_DB_PREFIX("Corruption: "));
    db = rocksdb_open_for_read_only(o, d2, 0, &err);
    assert_null(db);
    axu_expect_err(&err, AXU_FOREIGN_DB_PREFIX("Corruption: "));

    const char *d3 = strdup(axu_path("g3")); /* CURRENT names a missing MANIFEST */
    assert_int_equal(mkdir(d3, 0755), 0);
    snprintf(p, sizeof p, "%s/CURRENT", d3);
    write_file(p, "MANIFEST-000009\n", 16);
    db = rocksdb_open(o, d3, &err);
    assert_null(db);
    axu_expect_err(&err, AXU_FOREIGN_DB_PREFIX("IO error: "));

    rocksdb_options_destroy(o);
    free((void *)d1);
    free((void *)d2);
    free((void *)d3);
}

static void unwritable_directory(void **state)
{
    (void)state;
    if (axu_become_unprivileged() != 0) {
        fprintf(stderr, "[ SKIPPED  ] root, and cannot become nobody: permissions are not "
                        "enforced\n");
        skip();
    }
    const char *dir = strdup(axu_path("ro"));
    assert_int_equal(mkdir(dir, 0555), 0);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/db", dir);
    rocksdb_options_t *o = axu_create_options();
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, sub, &err); /* cannot create the database directory */
    assert_null(db);
    axu_expect_err(&err, "IO error: ");
    /* An existing database in a directory made read-only afterwards. */
    assert_int_equal(chmod(dir, 0755), 0);
    db = axu_open(sub);
    axu_put(db, "k", 1, "v", 1);
    rocksdb_close(db);
    assert_int_equal(chmod(sub, 0555), 0);
    db = rocksdb_open(o, sub, &err);
    assert_null(db);
    axu_expect_err(&err, "IO error: ");
    assert_int_equal(chmod(sub, 0755), 0);
    rocksdb_options_destroy(o);
    free((void *)dir);
}

/* A database directory nobody may read or enter: a clear IO error, nothing changed. */
static void unreadable_directory(void **state)
{
    (void)state;
    if (axu_become_unprivileged() != 0) {
        fprintf(stderr, "[ SKIPPED  ] root, and cannot become nobody: permissions are not "
                        "enforced\n");
        skip();
    }
    const char *path = strdup(axu_path("db"));
    rocksdb_t *db = axu_open(path);
    axu_put(db, "k", 1, "v", 1);
    rocksdb_close(db);
    char *before = axu_dir_fingerprint(path);
    assert_int_equal(chmod(path, 0), 0);
    rocksdb_options_t *o = axu_create_options();
    char *err = NULL;
    db = rocksdb_open(o, path, &err);
    assert_null(db);
    axu_expect_err(&err, "IO error: ");
    db = rocksdb_open_for_read_only(o, path, 0, &err);
    assert_null(db);
    axu_expect_err(&err, "IO error: ");
    assert_int_equal(chmod(path, 0755), 0);
    char *after = axu_dir_fingerprint(path);
    assert_string_equal(before, after);
    db = rocksdb_open(o, path, &err); /* and it opens again once readable */
    axu_expect_ok(err);
    size_t vn;
    char *v = axu_get(db, "k", 1, &vn);
    assert_non_null(v);
    free(v);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
    free(before);
    free(after);
    free((void *)path);
}

/* ---- plugin only: a database of a newer AlexStorage format -------------------------------- */

/* CRC32C (Castagnoli), masked as docs/format.md says: a file's header checksum. */
static uint32_t masked_crc32c(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    crc = ~crc;
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static void put32le(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Rewrites the format version of file (at offset 8, docs/format.md) with a valid header
 * checksum at crc_at over the bytes before it, as a newer library would write it. Returns
 * the original header (malloc'd) to restore. */
static unsigned char *set_file_version(const char *file, size_t crc_at, uint32_t version)
{
    FILE *f = fopen(file, "r+b");
    assert_non_null(f);
    unsigned char *orig = malloc(crc_at + 4), h[128];
    assert_true(crc_at + 4 <= sizeof h);
    assert_int_equal(fread(h, 1, crc_at + 4, f), crc_at + 4);
    memcpy(orig, h, crc_at + 4);
    assert_int_equal(masked_crc32c(h, crc_at), (uint32_t)h[crc_at] | (uint32_t)h[crc_at + 1] << 8 |
                                                   (uint32_t)h[crc_at + 2] << 16 |
                                                   (uint32_t)h[crc_at + 3] << 24);
    put32le(h + 8, version);
    put32le(h + crc_at, masked_crc32c(h, crc_at));
    rewind(f);
    assert_int_equal(fwrite(h, 1, crc_at + 4, f), crc_at + 4);
    fclose(f);
    return orig;
}

static void restore_header(const char *file, unsigned char *orig, size_t n)
{
    FILE *f = fopen(file, "r+b");
    assert_non_null(f);
    assert_int_equal(fwrite(orig, 1, n, f), n);
    fclose(f);
    free(orig);
}

/* The marker, a segment and the checkpoint of a real database, each in turn given format
 * version 7 (this library writes 2): open refuses with "Not implemented: " naming the
 * version, read-write and read-only, and changes no byte; restored, the database opens. */
static void newer_format_version(void **state)
{
    (void)state;
    AXP_PLUGIN_ONLY();
    const char *mode = getenv("ALEXSTORAGE_MODE");
    if (mode && strcmp(mode, "native") != 0)
        skip();
    const char *path = strdup(axu_path("db"));
    rocksdb_t *db = axu_open(path);
    axu_put(db, "k", 1, "v", 1);
    rocksdb_close(db);

    static const struct {
        const char *name;
        size_t crc_at; /* header checksum offset: marker 20, segment 28, checkpoint 60 */
    } files[] = {{"ALEXSTORAGE", 20}, {"0000000001.seg", 28}, {"CHECKPOINT", 60}};
    rocksdb_options_t *o = axu_create_options();
    int edited = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char file[600];
        snprintf(file, sizeof file, "%s/%s", path, files[i].name);
        if (access(file, F_OK) != 0) {
            fprintf(stderr, "newer_format_version: no %s in this database\n", files[i].name);
            continue;
        }
        unsigned char *orig = set_file_version(file, files[i].crc_at, 7);
        edited++;
        char *before = axu_dir_fingerprint(path);
        for (int ro = 0; ro < 2; ro++) {
            char *err = NULL;
            db = ro ? rocksdb_open_for_read_only(o, path, 0, &err) : rocksdb_open(o, path, &err);
            assert_null(db);
            assert_non_null(err);
            fprintf(stderr, "%s of version 7: %s\n", files[i].name, err);
            assert_non_null(strstr(err, "format version 7"));
            axu_expect_err(&err, "Not implemented: ");
        }
        char *after = axu_dir_fingerprint(path);
        assert_string_equal(before, after); /* not a byte changed, no file added or removed */
        free(before);
        free(after);
        restore_header(file, orig, files[i].crc_at + 4);
    }
    assert_true(edited >= 2); /* at least the marker and a segment */
    db = axu_open(path);
    size_t vn;
    char *v = axu_get(db, "k", 1, &vn);
    assert_non_null(v);
    assert_int_equal(vn, 1);
    free(v);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
    free((void *)path);
}

/* ---- plugin only: a real RocksDB database in native mode ---------------------------------- */

typedef struct {
    void *h;
    rocksdb_options_t *(*options_create)(void);
    void (*options_set_create_if_missing)(rocksdb_options_t *, unsigned char);
    void (*options_destroy)(rocksdb_options_t *);
    rocksdb_t *(*open)(const rocksdb_options_t *, const char *, char **);
    void (*close)(rocksdb_t *);
    rocksdb_writeoptions_t *(*writeoptions_create)(void);
    void (*writeoptions_destroy)(rocksdb_writeoptions_t *);
    rocksdb_readoptions_t *(*readoptions_create)(void);
    void (*readoptions_destroy)(rocksdb_readoptions_t *);
    void (*put)(rocksdb_t *, const rocksdb_writeoptions_t *, const char *, size_t, const char *,
                size_t, char **);
    char *(*get)(rocksdb_t *, const rocksdb_readoptions_t *, const char *, size_t, size_t *,
                 char **);
} real_api;

#define LOAD(api, name)                                                                            \
    do {                                                                                           \
        *(void **)&(api)->name = dlsym((api)->h, "rocksdb_" #name);                                \
        assert_non_null((api)->name);                                                              \
    } while (0)

static void load_real(real_api *r)
{
    /* RTLD_LOCAL: the handle's own symbols, not the plugin's rocksdb_* already loaded. */
    r->h = dlopen(AXP_REAL_ROCKSDB, RTLD_NOW | RTLD_LOCAL);
    if (!r->h)
        fprintf(stderr, "dlopen %s: %s\n", AXP_REAL_ROCKSDB, dlerror());
    assert_non_null(r->h);
    LOAD(r, options_create);
    LOAD(r, options_set_create_if_missing);
    LOAD(r, options_destroy);
    LOAD(r, open);
    LOAD(r, close);
    LOAD(r, writeoptions_create);
    LOAD(r, writeoptions_destroy);
    LOAD(r, readoptions_create);
    LOAD(r, readoptions_destroy);
    LOAD(r, put);
    LOAD(r, get);
}

static void rocksdb_database_in_native_mode(void **state)
{
    (void)state;
    AXP_PLUGIN_ONLY();
    const char *mode = getenv("ALEXSTORAGE_MODE");
    if (mode && strcmp(mode, "native") != 0)
        skip();
    real_api r;
    load_real(&r);
    const char *path = strdup(axu_path("real"));
    rocksdb_options_t *ro = r.options_create();
    r.options_set_create_if_missing(ro, 1);
    char *err = NULL;
    rocksdb_t *rdb = r.open(ro, path, &err);
    axu_expect_ok(err);
    rocksdb_writeoptions_t *rwo = r.writeoptions_create();
    r.put(rdb, rwo, "key", 3, "value", 5, &err);
    axu_expect_ok(err);
    r.close(rdb);
    char *before = axu_dir_fingerprint(path);

    /* The plugin (native mode) must refuse it clearly, read-write and read-only. */
    rocksdb_options_t *o = axu_create_options();
    rocksdb_t *db = rocksdb_open(o, path, &err);
    assert_null(db);
    assert_non_null(err);
    assert_true(axu_has_rocksdb_prefix(err));
    fprintf(stderr, "plugin on a RocksDB database: %s\n", err);
    free(err);
    err = NULL;
    db = rocksdb_open_for_read_only(o, path, 0, &err);
    assert_null(db);
    assert_non_null(err);
    assert_true(axu_has_rocksdb_prefix(err));
    free(err);
    err = NULL;
    rocksdb_options_destroy(o);

    char *after = axu_dir_fingerprint(path);
    assert_string_equal(before, after); /* not a byte changed, no file added or removed */
    free(before);
    free(after);

    rdb = r.open(ro, path, &err); /* and real RocksDB still reads it */
    axu_expect_ok(err);
    rocksdb_readoptions_t *rro = r.readoptions_create();
    size_t vn;
    char *v = r.get(rdb, rro, "key", 3, &vn, &err);
    axu_expect_ok(err);
    assert_non_null(v);
    assert_int_equal(vn, 5);
    assert_memory_equal(v, "value", 5);
    free(v);
    r.readoptions_destroy(rro);
    r.writeoptions_destroy(rwo);
    r.close(rdb);
    r.options_destroy(ro);
    free((void *)path);
    /* The library stays loaded: RocksDB's static destructors at dlclose are not our test. */
}

/* ---- plugin only: inputs that crash real RocksDB ------------------------------------------- */

static void null_handles(void **state)
{
    (void)state;
    AXP_PLUGIN_ONLY();
    char *err = NULL;
    rocksdb_options_t *o = axu_create_options();
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();

    assert_null(rocksdb_open(NULL, axu_path("db"), &err));
    axu_expect_nothing_or_err(&err);
    assert_null(rocksdb_open(o, NULL, &err));
    axu_expect_nothing_or_err(&err);
    assert_null(rocksdb_open_for_read_only(NULL, axu_path("db"), 0, &err));
    axu_expect_nothing_or_err(&err);

    rocksdb_put(NULL, wo, "k", 1, "v", 1, &err);
    axu_expect_nothing_or_err(&err);
    rocksdb_delete(NULL, wo, "k", 1, &err);
    axu_expect_nothing_or_err(&err);
    rocksdb_merge(NULL, wo, "k", 1, "v", 1, &err);
    axu_expect_nothing_or_err(&err);
    size_t vn = 5;
    assert_null(rocksdb_get(NULL, ro, "k", 1, &vn, &err));
    axu_expect_nothing_or_err(&err);
    assert_null(rocksdb_get_pinned(NULL, ro, "k", 1, &err));
    axu_expect_nothing_or_err(&err);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_write(NULL, wo, wb, &err);
    axu_expect_nothing_or_err(&err);
    rocksdb_iterator_t *it = rocksdb_create_iterator(NULL, ro);
    rocksdb_iter_destroy(it); /* NULL or a valid empty iterator */
    rocksdb_close(NULL);
    rocksdb_iter_destroy(NULL);
    rocksdb_writebatch_put(NULL, "k", 1, "v", 1);

    rocksdb_t *db = axu_open(axu_path("db"));
    rocksdb_put(db, NULL, "k", 1, "v", 1, &err); /* NULL write options */
    axu_expect_nothing_or_err(&err);
    assert_null(rocksdb_get(db, NULL, "zz", 2, &vn, &err)); /* NULL read options */
    axu_expect_nothing_or_err(&err);
    rocksdb_write(db, wo, NULL, &err); /* NULL batch */
    axu_expect_nothing_or_err(&err);
    rocksdb_release_snapshot(db, NULL);
    it = rocksdb_create_iterator(db, NULL);
    rocksdb_iter_destroy(it);
    rocksdb_close(db);

    rocksdb_writebatch_destroy(wb);
    rocksdb_readoptions_destroy(ro);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_options_destroy(o);
}

static void null_key_with_length(void **state)
{
    (void)state;
    AXP_PLUGIN_ONLY();
    rocksdb_t *db = axu_open(axu_path("db"));
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    char *err = NULL;
    rocksdb_put(db, wo, NULL, 3, "v", 1, &err);
    axu_expect_nothing_or_err(&err);
    rocksdb_put(db, wo, "k", 1, NULL, 3, &err);
    axu_expect_nothing_or_err(&err);
    rocksdb_delete(db, wo, NULL, 3, &err);
    axu_expect_nothing_or_err(&err);
    rocksdb_merge(db, wo, NULL, 3, "v", 1, &err);
    axu_expect_nothing_or_err(&err);
    size_t vn = 0;
    char *v = rocksdb_get(db, ro, NULL, 3, &vn, &err);
    axu_expect_nothing_or_err(&err);
    free(v);
    v = rocksdb_get(db, ro, "k", 1, NULL, &err); /* NULL length pointer */
    axu_expect_nothing_or_err(&err);
    free(v);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_put(wb, NULL, 3, "v", 1);
    rocksdb_writebatch_delete(wb, NULL, 3);
    rocksdb_write(db, wo, wb, &err);
    axu_expect_nothing_or_err(&err);
    rocksdb_writebatch_destroy(wb);
    rocksdb_iterator_t *it = rocksdb_create_iterator(db, ro);
    rocksdb_iter_seek(it, NULL, 3);
    rocksdb_iter_seek_for_prev(it, NULL, 3);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_set_iterate_upper_bound(ro, NULL, 3);
    it = rocksdb_create_iterator(db, ro);
    rocksdb_iter_seek_to_first(it);
    rocksdb_iter_destroy(it);
    const char *keys[2] = {"a", NULL};
    size_t klens[2] = {1, 3};
    char *vals[2], *errs[2];
    size_t vlens[2];
    rocksdb_multi_get(db, ro, 2, keys, klens, vals, vlens, errs);
    for (int i = 0; i < 2; i++) {
        axu_expect_nothing_or_err(&errs[i]);
        free(vals[i]);
    }
    /* Lengths real RocksDB never checks on these paths. */
    rocksdb_delete(db, wo, "k", HUGE_LEN, &err);
    axu_expect_nothing_or_err(&err);
    rocksdb_singledelete(db, wo, "k", HUGE_LEN, &err);
    axu_expect_nothing_or_err(&err);
    rocksdb_readoptions_destroy(ro);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
}

static void null_errptr(void **state)
{
    (void)state;
    AXP_PLUGIN_ONLY();
    rocksdb_options_t *o = rocksdb_options_create();
    /* A failing open with errptr NULL: the message is dropped, no crash. */
    assert_null(rocksdb_open(o, axu_path("missing"), NULL));
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_t *db = rocksdb_open(o, axu_path("db"), NULL);
    assert_non_null(db);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_put(db, wo, "k", 1, "v", 1, NULL);
    rocksdb_merge(db, wo, "k", 1, "v", 1, NULL); /* fails: no merge operator */
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_pop_save_point(wb, NULL);
    rocksdb_writebatch_destroy(wb);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
}

static const struct CMUnitTest tests[] = {
    AXU_TEST(oversized_key_and_value),
    AXU_TEST(large_key_and_value_roundtrip),
    AXU_TEST(path_is_regular_file),
    AXU_TEST(missing_parent_and_empty_path),
    AXU_TEST(directory_with_foreign_files),
    AXU_TEST(garbage_database_files),
    AXU_TEST(unwritable_directory),
    AXU_TEST(unreadable_directory),
    AXU_TEST(newer_format_version),
    AXU_TEST(rocksdb_database_in_native_mode),
    AXU_TEST(null_handles),
    AXU_TEST(null_key_with_length),
    AXU_TEST(null_errptr),
};

AXU_MAIN(tests)
