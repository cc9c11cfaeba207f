/*
 * test_db_api.c: unit tests of the storage engine's public contract (alexstorage/db.h), one
 * behaviour per test, through the public header only.
 *
 * Covers: error names and option defaults; open/close/destroy (missing, existing, read-only,
 * locked by another process, a file instead of a directory, foreign files); error messages;
 * put/get/get_alloc/get_pinned/delete semantics and the key and value length limits; binary
 * keys and key ordering; partial copies; pinned values across overwrites, deletes and
 * compaction; write batches; iterators (seeks at every position, walks both ways, walks while
 * the database changes underneath); flush and recovery after a process crash; LZ4; segment
 * roll-over; reopen with and without the checkpoint; compaction; threads sharing a handle;
 * statistics and properties; NULL arguments.
 *
 * Where db.h leaves a behaviour open, the test follows RocksDB and says so in a comment.
 * Every case gets a fresh directory under $TMPDIR (or /tmp), removed by its teardown.
 */
#define _XOPEN_SOURCE 700

#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alexstorage/db.h"

/* Fixture: a fresh directory per test (tu_dir_setup / tu_dir_teardown, test_util.h). */
typedef tu_dir fx;

/* ---- file helpers ------------------------------------------------------------------------- */

static bool path_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static void join(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *content)
{
    FILE *fp = fopen(path, "wb");
    TU_REQUIRE(fp != NULL, "fopen(%s): %s", path, strerror(errno));
    fputs(content, fp);
    fclose(fp);
}

static void remove_in(const char *dir, const char *name)
{
    char p[4096];
    join(p, sizeof p, dir, name);
    TU_REQUIRE(remove(p) == 0, "remove(%s): %s", p, strerror(errno));
}

/* Number of *.seg files in dir and the sum of their sizes. */
static size_t seg_files(const char *dir, uint64_t *total_bytes)
{
    DIR *d = opendir(dir);
    TU_REQUIRE(d != NULL, "opendir(%s): %s", dir, strerror(errno));
    size_t n = 0;
    uint64_t sum = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".seg") == 0) {
            char p[4096];
            struct stat sb;
            join(p, sizeof p, dir, de->d_name);
            if (stat(p, &sb) == 0)
                sum += (uint64_t)sb.st_size;
            n++;
        }
    }
    closedir(d);
    if (total_bytes)
        *total_bytes = sum;
    return n;
}

/* A listing of a directory (names, sizes, modification times) to prove nothing changed. */
typedef struct dir_snap {
    size_t n;
    char names[64][256];
    long long sizes[64];
    long long mtime_ns[64];
} dir_snap;

static void snap_dir(const char *dir, dir_snap *s)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir(dir);
    TU_REQUIRE(d != NULL, "opendir(%s): %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        TU_REQUIRE(s->n < 64, "too many files in %s", dir);
        char p[4096];
        struct stat sb;
        join(p, sizeof p, dir, de->d_name);
        TU_REQUIRE(stat(p, &sb) == 0, "stat(%s)", p);
        snprintf(s->names[s->n], sizeof s->names[0], "%s", de->d_name);
        s->sizes[s->n] = (long long)sb.st_size;
        s->mtime_ns[s->n] = (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
        s->n++;
    }
    closedir(d);
}

static void expect_same_dir(const dir_snap *a, const dir_snap *b)
{
    TU_REQUIRE(a->n == b->n, "directory had %zu files, now %zu", a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        size_t j = 0;
        while (j < b->n && strcmp(a->names[i], b->names[j]) != 0)
            j++;
        TU_REQUIRE(j < b->n, "file %s disappeared", a->names[i]);
        TU_REQUIRE(a->sizes[i] == b->sizes[j], "file %s changed size: %lld -> %lld",
                   a->names[i], a->sizes[i], b->sizes[j]);
        TU_REQUIRE(a->mtime_ns[i] == b->mtime_ns[j], "file %s was modified", a->names[i]);
    }
}

/* ---- database helpers --------------------------------------------------------------------- */

static axs_options mkopts(bool create)
{
    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = create;
    return o;
}

static axs_db *open_at(const char *path, const axs_options *o)
{
    axs_db *db = (axs_db *)(uintptr_t)1; /* poison: must be overwritten */
    char *err = (char *)(uintptr_t)1;
    int rc = axs_open(path, o, &db, &err);
    TU_REQUIRE(rc == AXS_OK, "axs_open(%s) = %d (%s): %s", path, rc, axs_strerror(rc),
               err && err != (char *)(uintptr_t)1 ? err : "(no message)");
    TU_REQUIRE(db != NULL && db != (axs_db *)(uintptr_t)1, "axs_open succeeded without a handle");
    TU_REQUIRE(err == NULL, "axs_open succeeded but set *errmsg");
    return db;
}

static axs_db *open_new(const fx *f)
{
    axs_options o = mkopts(true);
    return open_at(f->db, &o);
}

/* Opens and expects failure with code want (0 = any error); checks the failure contract. */
static void expect_open_fails(const char *path, const axs_options *o, int want)
{
    axs_db *db = (axs_db *)(uintptr_t)1;
    char *err = NULL;
    int rc = axs_open(path, o, &db, &err);
    TU_REQUIRE(rc != AXS_OK, "axs_open(%s) succeeded, expected %s", path,
               want ? axs_strerror(want) : "an error");
    if (rc == AXS_OK)
        axs_close(db);
    if (want)
        TU_REQUIRE(rc == want, "axs_open(%s) = %d (%s), expected %d (%s); msg: %s", path, rc,
                   axs_strerror(rc), want, axs_strerror(want), err ? err : "(none)");
    TU_REQUIRE(rc < 0, "error codes are negative, got %d", rc);
    TU_REQUIRE(db == NULL, "failed axs_open must set *out = NULL");
    TU_REQUIRE(err != NULL && err[0] != '\0', "failed axs_open must give a message");
    free(err);
    /* errmsg NULL is allowed too */
    db = (axs_db *)(uintptr_t)1;
    rc = axs_open(path, o, &db, NULL);
    TU_REQUIRE(rc != AXS_OK && db == NULL, "second failing open (errmsg NULL) = %d", rc);
}

static void close_ok(axs_db *db)
{
    int rc = axs_close(db);
    TU_REQUIRE(rc == AXS_OK, "axs_close = %d (%s)", rc, axs_strerror(rc));
}

static void put_ok_at(axs_db *db, const void *k, size_t kl, const void *v, size_t vl,
                      const char *file, int line)
{
    int rc = axs_put(db, NULL, k, kl, v, vl);
    if (rc != AXS_OK)
        tu_fail_at(file, line, "axs_put(klen %zu, vlen %zu) = %d (%s): %s", kl, vl, rc,
                   axs_strerror(rc), axs_last_error(db));
}
#define put_ok(db, k, kl, v, vl) put_ok_at((db), (k), (kl), (v), (vl), __FILE__, __LINE__)
#define put_str(db, k, v) put_ok((db), (k), strlen(k), (v), strlen(v))

static void del_ok_at(axs_db *db, const void *k, size_t kl, const char *file, int line)
{
    int rc = axs_delete(db, NULL, k, kl);
    if (rc != AXS_OK)
        tu_fail_at(file, line, "axs_delete(klen %zu) = %d (%s): %s", kl, rc, axs_strerror(rc),
                   axs_last_error(db));
}
#define del_ok(db, k, kl) del_ok_at((db), (k), (kl), __FILE__, __LINE__)

/* Checks that key holds exactly value, through axs_get, axs_get_alloc and axs_get_pinned. */
static void expect_value_at(axs_db *db, const void *k, size_t kl, const void *v, size_t vl,
                            const char *file, int line)
{
    const size_t pad = 16;
    uint8_t *buf = tu_xmalloc(vl + pad);
    memset(buf, 0xA5, vl + pad);
    size_t got = 12345;
    bool found = false;
    int rc = axs_get(db, NULL, k, kl, buf, vl + pad, &got, &found);
    if (rc != AXS_OK || !found || got != vl) {
        free(buf);
        tu_fail_at(file, line, "axs_get(klen %zu): rc %d found %d vlen %zu, expected vlen %zu",
                   kl, rc, (int)found, got, vl);
    }
    if (vl && memcmp(buf, v, vl) != 0) {
        free(buf);
        tu_fail_at(file, line, "axs_get(klen %zu): value bytes differ", kl);
    }
    for (size_t i = vl; i < vl + pad; i++)
        if (buf[i] != 0xA5) {
            free(buf);
            tu_fail_at(file, line, "axs_get wrote past the value's length (byte %zu)", i);
        }
    free(buf);

    char *a = NULL;
    got = 12345;
    found = false;
    rc = axs_get_alloc(db, NULL, k, kl, &a, &got, &found);
    if (rc != AXS_OK || !found || !a || got != vl || (vl && memcmp(a, v, vl) != 0)) {
        free(a);
        tu_fail_at(file, line,
                   "axs_get_alloc(klen %zu): rc %d found %d ptr %s vlen %zu (expected %zu) or "
                   "bytes differ",
                   kl, rc, (int)found, a ? "set" : "NULL", got, vl);
    }
    free(a);

    axs_pinned *pin = NULL;
    found = false;
    rc = axs_get_pinned(db, NULL, k, kl, &pin, &found);
    if (rc != AXS_OK || !found || !pin)
        tu_fail_at(file, line, "axs_get_pinned(klen %zu): rc %d found %d pin %s", kl, rc,
                   (int)found, pin ? "set" : "NULL");
    size_t pl = 12345;
    const void *pd = axs_pinned_data(pin, &pl);
    bool ok = pl == vl && (vl == 0 || (pd && memcmp(pd, v, vl) == 0));
    axs_pinned_release(pin);
    if (!ok)
        tu_fail_at(file, line, "axs_get_pinned(klen %zu): length %zu (expected %zu) or bytes differ",
                   kl, pl, vl);
}
#define expect_val(db, k, kl, v, vl) expect_value_at((db), (k), (kl), (v), (vl), __FILE__, __LINE__)
#define expect_str(db, k, v) expect_val((db), (k), strlen(k), (v), strlen(v))

/* Checks that key is absent, through the three read calls. */
static void expect_missing_at(axs_db *db, const void *k, size_t kl, const char *file, int line)
{
    size_t got = 999;
    bool found = true;
    char buf[8];
    int rc = axs_get(db, NULL, k, kl, buf, sizeof buf, &got, &found);
    if (rc != AXS_OK || found)
        tu_fail_at(file, line, "axs_get(klen %zu) of a missing key: rc %d found %d", kl, rc,
                   (int)found);
    char *a = (char *)(uintptr_t)1;
    found = true;
    rc = axs_get_alloc(db, NULL, k, kl, &a, &got, &found);
    if (rc != AXS_OK || found || a != NULL)
        tu_fail_at(file, line, "axs_get_alloc(klen %zu) of a missing key: rc %d found %d value %s",
                   kl, rc, (int)found, a ? "not NULL" : "NULL");
    axs_pinned *pin = (axs_pinned *)(uintptr_t)1;
    found = true;
    rc = axs_get_pinned(db, NULL, k, kl, &pin, &found);
    if (rc != AXS_OK || found || pin != NULL)
        tu_fail_at(file, line, "axs_get_pinned(klen %zu) of a missing key: rc %d found %d pin %s",
                   kl, rc, (int)found, pin ? "not NULL" : "NULL");
}
#define expect_missing(db, k, kl) expect_missing_at((db), (k), (kl), __FILE__, __LINE__)
#define expect_missing_str(db, k) expect_missing((db), (k), strlen(k))

static int keycmp(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

/* An expected key/value pair. */
typedef struct kv {
    const void *k;
    size_t kl;
    const void *v;
    size_t vl;
} kv;

static void expect_iter_at_kv(const axs_iter *it, const kv *want, const char *file, int line)
{
    if (!want) {
        if (axs_iter_valid(it))
            tu_fail_at(file, line, "iterator valid, expected it past the end");
        if (axs_iter_status(it) != AXS_OK)
            tu_fail_at(file, line, "iterator status %d", axs_iter_status(it));
        return;
    }
    if (!axs_iter_valid(it))
        tu_fail_at(file, line, "iterator invalid (status %d), expected a key of %zu bytes",
                   axs_iter_status(it), want->kl);
    size_t kl = 0, vl = 0;
    const void *k = axs_iter_key(it, &kl);
    const void *v = axs_iter_value(it, &vl);
    if (kl != want->kl || (kl && memcmp(k, want->k, kl) != 0))
        tu_fail_at(file, line, "iterator key (%zu bytes, \"%.*s\") differs from expected (%zu bytes, \"%.*s\")",
                   kl, (int)(kl < 40 ? kl : 40), (const char *)k, want->kl,
                   (int)(want->kl < 40 ? want->kl : 40), (const char *)want->k);
    if (vl != want->vl || (vl && memcmp(v, want->v, vl) != 0))
        tu_fail_at(file, line, "iterator value (%zu bytes) differs from expected (%zu bytes)", vl,
                   want->vl);
}
#define expect_iter(it, want) expect_iter_at_kv((it), (want), __FILE__, __LINE__)

/* Full scan both ways must equal exp[0..n) (sorted), and every key must read back. */
static void expect_content_at(axs_db *db, const kv *exp, size_t n, const char *file, int line)
{
    axs_iter *it = NULL;
    int rc = axs_iter_create(db, NULL, &it);
    if (rc != AXS_OK || !it)
        tu_fail_at(file, line, "axs_iter_create = %d", rc);
    axs_iter_seek_to_first(it);
    for (size_t i = 0; i < n; i++) {
        expect_iter_at_kv(it, &exp[i], file, line);
        axs_iter_next(it);
    }
    expect_iter_at_kv(it, NULL, file, line);
    axs_iter_seek_to_last(it);
    for (size_t i = n; i-- > 0;) {
        expect_iter_at_kv(it, &exp[i], file, line);
        axs_iter_prev(it);
    }
    expect_iter_at_kv(it, NULL, file, line);
    axs_iter_destroy(it);
    for (size_t i = 0; i < n; i++)
        expect_value_at(db, exp[i].k, exp[i].kl, exp[i].v, exp[i].vl, file, line);
    axs_stats st;
    axs_get_stats(db, &st);
    if (st.num_keys != n)
        tu_fail_at(file, line, "stats.num_keys = %" PRIu64 ", expected %zu", st.num_keys, n);
}
#define expect_content(db, exp, n) expect_content_at((db), (exp), (n), __FILE__, __LINE__)

static uint64_t prop_u64(axs_db *db, const char *name)
{
    char *s = axs_property(db, name);
    TU_REQUIRE(s != NULL, "axs_property(%s) = NULL", name);
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    bool ok = errno == 0 && end != s && *end == '\0';
    TU_REQUIRE(ok, "axs_property(%s) = \"%s\" is not a decimal number", name, s);
    free(s);
    return (uint64_t)v;
}

static axs_stats stats_of(axs_db *db)
{
    axs_stats st;
    axs_get_stats(db, &st);
    return st;
}

/* Deterministic bytes: value i of a test, len bytes. */
static void fill_bytes(uint8_t *p, size_t len, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t x = tu_splitmix64(&s);
        size_t n = len - i < 8 ? len - i : 8;
        memcpy(p + i, &x, n);
    }
}

/* A numbered key "k00042" and its value "v00042-<version>". */
static size_t num_key(char *buf, unsigned n)
{
    return (size_t)sprintf(buf, "k%05u", n);
}

static size_t num_val(char *buf, unsigned n, unsigned version)
{
    return (size_t)sprintf(buf, "v%05u-%u", n, version);
}

/* Runs fn in a child process; the child's exit status must be 0 (its stderr says why not). */
static void run_child(int (*fn)(const fx *f), const fx *f, const char *what)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    TU_REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int code = fn(f);
        fflush(stderr);
        _exit(code);
    }
    int status = 0;
    TU_REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
    TU_REQUIRE(WIFEXITED(status), "child (%s) died: signal %d", what,
               WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    TU_REQUIRE(WEXITSTATUS(status) == 0, "child (%s) failed with exit code %d (see its stderr)",
               what, WEXITSTATUS(status));
}

/* ---- errors and options ------------------------------------------------------------------- */

static void test_strerror_all_codes(void **state)
{
    (void)state;
    const int codes[] = {AXS_OK,      AXS_EINVAL, AXS_ENOMEM,   AXS_EIO,      AXS_ECORRUPT,
                         AXS_ENOTFOUND, AXS_EEXIST, AXS_EBUSY, AXS_ENOTSUP, AXS_ENOSPC,
                         AXS_EREADONLY, AXS_ENOTDB};
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        TU_REQUIRE(codes[i] == -(int)i, "code %zu has value %d", i, codes[i]);
        const char *s = axs_strerror(codes[i]);
        TU_REQUIRE(s != NULL && s[0] != '\0', "axs_strerror(%d) is empty", codes[i]);
        for (size_t j = 0; j < i; j++)
            TU_REQUIRE(strcmp(s, axs_strerror(codes[j])) != 0,
                       "axs_strerror(%d) and (%d) are both \"%s\"", codes[i], codes[j], s);
    }
    const int unknown[] = {1, -12, -1000, 12345, INT32_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = axs_strerror(unknown[i]);
        TU_REQUIRE(s != NULL && s[0] != '\0', "axs_strerror(%d) of an unknown code is empty",
                   unknown[i]);
    }
}

static void test_options_defaults(void **state)
{
    (void)state;
    axs_options o;
    memset(&o, 0x5A, sizeof o);
    axs_options_init(&o);
    assert_false(o.create_if_missing);
    assert_false(o.error_if_exists);
    assert_false(o.read_only);
    assert_true(o.paranoid_checks);
    assert_int_equal(o.compression, AXS_COMPRESSION_NONE);
    assert_int_equal(o.segment_size, 64u * 1024u * 1024u);
    assert_null(o.io);

    axs_write_options w;
    memset(&w, 0x5A, sizeof w);
    axs_write_options_init(&w);
    assert_false(w.sync);
    assert_false(w.disable_wal);

    axs_read_options r;
    memset(&r, 0, sizeof r);
    axs_read_options_init(&r);
    assert_true(r.verify_checksums);
}

/* ---- open / close / destroy --------------------------------------------------------------- */

static void test_open_missing_without_create(void **state)
{
    fx *f = *state;
    axs_options o = mkopts(false);
    expect_open_fails(f->db, &o, AXS_ENOTFOUND);
    TU_REQUIRE(!path_exists(f->db), "a failed open created %s", f->db);
    /* opts NULL means defaults: create_if_missing false */
    expect_open_fails(f->db, NULL, AXS_ENOTFOUND);
    TU_REQUIRE(!path_exists(f->db), "a failed open created %s", f->db);
    /* an existing but empty directory is not a database either */
    TU_REQUIRE(mkdir(f->db, 0755) == 0, "mkdir");
    expect_open_fails(f->db, &o, AXS_ENOTFOUND);
}

static void test_open_create_and_reopen(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    put_str(db, "alpha", "one");
    close_ok(db);
    char p[1024];
    join(p, sizeof p, f->db, "ALEXSTORAGE");
    TU_REQUIRE(path_exists(p), "no marker file after create");
    TU_REQUIRE(seg_files(f->db, NULL) >= 1, "no segment file after create");

    /* defaults (NULL options) open an existing database */
    db = NULL;
    char *err = NULL;
    int rc = axs_open(f->db, NULL, &db, &err);
    TU_REQUIRE(rc == AXS_OK && db && !err, "axs_open(NULL opts) = %d: %s", rc, err ? err : "");
    expect_str(db, "alpha", "one");
    close_ok(db);

    /* create_if_missing on an existing database just opens it */
    db = open_new(f);
    expect_str(db, "alpha", "one");
    close_ok(db);

    /* an empty existing directory is a fine place to create one */
    char empty[1024];
    join(empty, sizeof empty, f->base, "empty");
    TU_REQUIRE(mkdir(empty, 0755) == 0, "mkdir");
    axs_options o = mkopts(true);
    db = open_at(empty, &o);
    put_str(db, "x", "y");
    close_ok(db);
    o = mkopts(false);
    db = open_at(empty, &o);
    expect_str(db, "x", "y");
    close_ok(db);

    /* a trailing slash names the same database */
    char slash[1100];
    snprintf(slash, sizeof slash, "%s/", f->db);
    db = open_at(slash, &o);
    expect_str(db, "alpha", "one");
    close_ok(db);
}

static void test_open_error_if_exists(void **state)
{
    fx *f = *state;
    axs_options o = mkopts(true);
    o.error_if_exists = true;
    axs_db *db = open_at(f->db, &o); /* a new one: fine */
    put_str(db, "k", "v");
    close_ok(db);
    expect_open_fails(f->db, &o, AXS_EEXIST);
    /* the database is intact */
    o.error_if_exists = false;
    db = open_at(f->db, &o);
    expect_str(db, "k", "v");
    close_ok(db);
}

static void test_open_read_only(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    put_str(db, "a", "1");
    put_str(db, "b", "2");
    del_ok(db, "a", 1);
    close_ok(db);

    dir_snap before, after;
    snap_dir(f->db, &before);

    axs_options o = mkopts(false);
    o.read_only = true;
    db = open_at(f->db, &o);
    expect_missing_str(db, "a");
    expect_str(db, "b", "2");
    kv exp[] = {{"b", 1, "2", 1}};
    expect_content(db, exp, 1);
    TU_REQUIRE(axs_put(db, NULL, "c", 1, "3", 1) == AXS_EREADONLY, "put on read-only");
    TU_REQUIRE(axs_delete(db, NULL, "b", 1) == AXS_EREADONLY, "delete on read-only");
    axs_batch *b = axs_batch_create();
    assert_non_null(b);
    assert_int_equal(axs_batch_put(b, "c", 1, "3", 1), AXS_OK);
    TU_REQUIRE(axs_write(db, NULL, b) == AXS_EREADONLY, "write on read-only");
    TU_REQUIRE(axs_compact(db) == AXS_EREADONLY, "compact on read-only");
    const char *le = axs_last_error(db);
    TU_REQUIRE(le != NULL && le[0] != '\0', "no last error after a refused write");
    /* flush has nothing to make durable; RocksDB refuses it (NotSupported), AlexStorage may
     * accept it as a no-op. Either way it must write nothing (checked below). */
    int rc = axs_flush(db);
    TU_REQUIRE(rc == AXS_OK || rc == AXS_EREADONLY, "flush on read-only = %d", rc);
    expect_content(db, exp, 1);
    close_ok(db);
    snap_dir(f->db, &after);
    expect_same_dir(&before, &after);

    /* read_only never creates a database, even with create_if_missing */
    char other[1024];
    join(other, sizeof other, f->base, "other");
    o.create_if_missing = true;
    expect_open_fails(other, &o, 0);
    TU_REQUIRE(!path_exists(other), "read-only open created %s", other);

    /* RocksDB's read-only DB refuses every Write, even an empty batch. */
    o.create_if_missing = false;
    db = open_at(f->db, &o);
    axs_batch_clear(b);
    rc = axs_write(db, NULL, b);
    axs_batch_destroy(b);
    close_ok(db);
    TU_REQUIRE(rc == AXS_EREADONLY,
               "axs_write(empty batch) on a read-only database = %d (%s), expected "
               "AXS_EREADONLY (RocksDB: NotSupported)",
               rc, axs_strerror(rc));
}

static int child_open_busy(const fx *f)
{
    int bad = 0;
    axs_options o = mkopts(true);
    axs_db *db = (axs_db *)(uintptr_t)1;
    char *err = NULL;
    int rc = axs_open(f->db, &o, &db, &err);
    if (rc != AXS_EBUSY || db != NULL || err == NULL) {
        fprintf(stderr, "child: second open = %d (%s), db %s, errmsg %s; expected AXS_EBUSY\n",
                rc, axs_strerror(rc), db ? "set" : "NULL", err ? err : "NULL");
        bad = 1;
        if (rc == AXS_OK)
            axs_close(db);
    }
    free(err);
    rc = axs_destroy(f->db, NULL);
    if (rc != AXS_EBUSY) {
        fprintf(stderr, "child: axs_destroy of an open database = %d, expected AXS_EBUSY\n", rc);
        bad = 1;
    }
    /* RocksDB lets a read-only instance open a database another process has open. */
    o.create_if_missing = false;
    o.read_only = true;
    db = NULL;
    rc = axs_open(f->db, &o, &db, NULL);
    if (rc != AXS_OK) {
        fprintf(stderr, "child: read-only open while another process writes = %d\n", rc);
        bad = 1;
    } else {
        char buf[16];
        size_t vl = 0;
        bool found = false;
        rc = axs_get(db, NULL, "k", 1, buf, sizeof buf, &vl, &found);
        if (rc || !found || vl != 1 || buf[0] != 'v') {
            fprintf(stderr, "child: read-only open does not see the parent's key\n");
            bad = 1;
        }
        axs_close(db);
    }
    return bad;
}

static int child_open_free(const fx *f)
{
    axs_options o = mkopts(false);
    axs_db *db = NULL;
    char *err = NULL;
    int rc = axs_open(f->db, &o, &db, &err);
    if (rc != AXS_OK) {
        fprintf(stderr, "child: open after the parent closed = %d: %s\n", rc, err ? err : "");
        free(err);
        return 1;
    }
    rc = axs_put(db, NULL, "child", 5, "yes", 3);
    int rc2 = axs_close(db);
    if (rc || rc2) {
        fprintf(stderr, "child: put %d close %d\n", rc, rc2);
        return 1;
    }
    return 0;
}

static void test_open_busy(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    put_str(db, "k", "v");
    assert_int_equal(axs_flush(db), AXS_OK);

    /* another process */
    run_child(child_open_busy, f, "open while locked");

    /* a second handle in the same process is refused too (RocksDB: lock held) */
    axs_options o = mkopts(true);
    expect_open_fails(f->db, &o, AXS_EBUSY);
    TU_REQUIRE(axs_destroy(f->db, NULL) == AXS_EBUSY, "destroy of an open database");

    /* the handle still works after the refused attempts */
    put_str(db, "k2", "v2");
    expect_str(db, "k", "v");
    close_ok(db);

    run_child(child_open_free, f, "open after close");
    db = open_at(f->db, &o);
    expect_str(db, "child", "yes");
    expect_str(db, "k2", "v2");
    close_ok(db);
}

static void test_open_path_is_file(void **state)
{
    fx *f = *state;
    write_file(f->db, "not a directory\n");
    axs_options o = mkopts(true);
    expect_open_fails(f->db, &o, 0);
    o.create_if_missing = false;
    expect_open_fails(f->db, &o, 0);
    /* the file is untouched */
    struct stat sb;
    TU_REQUIRE(stat(f->db, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 16,
               "the file was changed");
    /* axs_destroy must not remove it either */
    int rc = axs_destroy(f->db, NULL);
    TU_REQUIRE(rc != AXS_OK, "axs_destroy on a plain file succeeded");
    TU_REQUIRE(path_exists(f->db), "axs_destroy removed a plain file");
}

static void test_open_foreign_files(void **state)
{
    fx *f = *state;
    const char *names[] = {"CURRENT", "random.txt", "000001.log"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char dir[1024], p[1200];
        snprintf(dir, sizeof dir, "%s/foreign%zu", f->base, i);
        TU_REQUIRE(mkdir(dir, 0755) == 0, "mkdir");
        join(p, sizeof p, dir, names[i]);
        write_file(p, "MANIFEST-000001\n");
        axs_options o = mkopts(true);
        expect_open_fails(dir, &o, AXS_ENOTDB);
        o.create_if_missing = false;
        expect_open_fails(dir, &o, 0);
        dir_snap s;
        snap_dir(dir, &s);
        TU_REQUIRE(s.n == 1 && strcmp(s.names[0], names[i]) == 0 && s.sizes[0] == 16,
                   "a refused open changed the directory (now %zu files)", s.n);
        TU_REQUIRE(axs_destroy(dir, NULL) == AXS_ENOTDB, "axs_destroy of a foreign directory");
        TU_REQUIRE(path_exists(p), "axs_destroy removed a foreign file");
    }
    /* a foreign file dropped into a database: the database still opens (the marker says what
     * it is), but axs_destroy refuses to delete what it does not own */
    axs_db *db = open_new(f);
    put_str(db, "k", "v");
    close_ok(db);
    char p[1024];
    join(p, sizeof p, f->db, "notes.txt");
    write_file(p, "mine\n");
    TU_REQUIRE(axs_destroy(f->db, NULL) == AXS_ENOTDB, "axs_destroy with a foreign file");
    TU_REQUIRE(path_exists(p), "axs_destroy removed the foreign file");
    axs_options o = mkopts(false);
    db = open_at(f->db, &o);
    expect_str(db, "k", "v");
    close_ok(db);
}

static void test_open_bad_arguments(void **state)
{
    fx *f = *state;
    axs_options o = mkopts(true);
    o.compression = 7;
    expect_open_fails(f->db, &o, AXS_EINVAL);
    TU_REQUIRE(!path_exists(f->db), "open with a bad option created the directory");
    o = mkopts(true);
    expect_open_fails(NULL, &o, AXS_EINVAL);
    expect_open_fails("", &o, AXS_EINVAL);

    /* out NULL: nothing to return the handle in */
    char *err = NULL;
    int rc = axs_open(f->db, &o, NULL, &err);
    TU_REQUIRE(rc == AXS_EINVAL, "axs_open(out NULL) = %d", rc);
    TU_REQUIRE(err != NULL, "axs_open(out NULL) failed without an error message (db.h: *errmsg "
                            "gets a message on failure)");
    free(err);
    rc = axs_open(f->db, &o, NULL, NULL);
    TU_REQUIRE(rc == AXS_EINVAL, "axs_open(out NULL, errmsg NULL) = %d", rc);
}

static void test_destroy(void **state)
{
    fx *f = *state;
    /* a missing directory is not an error */
    assert_int_equal(axs_destroy(f->db, NULL), AXS_OK);
    axs_options o = mkopts(true);
    o.segment_size = 64 * 1024;
    axs_db *db = open_at(f->db, &o);
    uint8_t v[5000];
    for (unsigned i = 0; i < 100; i++) {
        char k[16];
        fill_bytes(v, sizeof v, i);
        put_ok(db, k, num_key(k, i), v, sizeof v);
    }
    assert_int_equal(axs_flush(db), AXS_OK);
    close_ok(db);
    TU_REQUIRE(seg_files(f->db, NULL) > 1, "expected several segments");
    assert_int_equal(axs_destroy(f->db, &o), AXS_OK);
    TU_REQUIRE(!path_exists(f->db), "axs_destroy left the directory");
    assert_int_equal(axs_destroy(f->db, NULL), AXS_OK);
    /* and a new database can be created there */
    o = mkopts(false);
    expect_open_fails(f->db, &o, AXS_ENOTFOUND);
    db = open_new(f);
    expect_missing_str(db, "k00001");
    close_ok(db);
    /* an empty directory goes too */
    char empty[1024];
    join(empty, sizeof empty, f->base, "empty");
    TU_REQUIRE(mkdir(empty, 0755) == 0, "mkdir");
    assert_int_equal(axs_destroy(empty, NULL), AXS_OK);
    TU_REQUIRE(!path_exists(empty), "axs_destroy left an empty directory");
}

static void test_close_null_and_errmsg(void **state)
{
    (void)state;
    assert_int_equal(axs_close(NULL), AXS_OK);
    fx *f = *state;
    axs_db *db = open_new(f);
    const char *le = axs_last_error(db);
    TU_REQUIRE(le != NULL && le[0] == '\0', "last error after a clean open: \"%s\"",
               le ? le : "(NULL)");
    uint8_t *big = tu_xmalloc(AXS_MAX_KEY_LEN + 1);
    memset(big, 'x', AXS_MAX_KEY_LEN + 1);
    assert_int_equal(axs_put(db, NULL, big, AXS_MAX_KEY_LEN + 1, "v", 1), AXS_EINVAL);
    free(big);
    le = axs_last_error(db);
    TU_REQUIRE(le != NULL && le[0] != '\0', "no last error after AXS_EINVAL");
    close_ok(db);
}

/* ---- reads and writes --------------------------------------------------------------------- */

static void test_put_get_delete(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    expect_missing_str(db, "a");
    put_str(db, "a", "first");
    expect_str(db, "a", "first");
    put_str(db, "a", "second, longer");
    expect_str(db, "a", "second, longer");
    put_str(db, "a", "3");
    expect_str(db, "a", "3");
    put_str(db, "b", "bee");
    del_ok(db, "a", 1);
    expect_missing_str(db, "a");
    expect_str(db, "b", "bee");
    /* deleting a missing key is fine, twice */
    del_ok(db, "a", 1);
    del_ok(db, "never", 5);
    expect_missing_str(db, "never");
    /* re-insert after delete */
    put_str(db, "a", "again");
    expect_str(db, "a", "again");
    /* sync and disable_wal are accepted */
    axs_write_options w;
    axs_write_options_init(&w);
    w.sync = true;
    uint64_t syncs = stats_of(db).syncs;
    assert_int_equal(axs_put(db, &w, "s", 1, "synced", 6), AXS_OK);
    TU_REQUIRE(stats_of(db).syncs > syncs, "a sync write did not count a sync");
    w.sync = false;
    w.disable_wal = true;
    assert_int_equal(axs_put(db, &w, "w", 1, "nowal", 5), AXS_OK);
    assert_int_equal(axs_delete(db, &w, "b", 1), AXS_OK);
    /* read options: verify_checksums off reads the same */
    axs_read_options r;
    axs_read_options_init(&r);
    r.verify_checksums = false;
    char buf[16];
    size_t vl = 0;
    bool found = false;
    assert_int_equal(axs_get(db, &r, "w", 1, buf, sizeof buf, &vl, &found), AXS_OK);
    TU_REQUIRE(found && vl == 5 && memcmp(buf, "nowal", 5) == 0, "read without verify");
    kv exp[] = {{"a", 1, "again", 5}, {"s", 1, "synced", 6}, {"w", 1, "nowal", 5}};
    expect_content(db, exp, 3);
    close_ok(db);
    axs_options o = mkopts(false);
    db = open_at(f->db, &o);
    expect_content(db, exp, 3);
    close_ok(db);
}

static void test_empty_key_and_value(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    /* empty value: found, length 0, get_alloc non-NULL */
    put_ok(db, "e", 1, "", 0);
    put_ok(db, "n", 1, NULL, 0);
    char *a = NULL;
    size_t vl = 99;
    bool found = false;
    assert_int_equal(axs_get_alloc(db, NULL, "e", 1, &a, &vl, &found), AXS_OK);
    TU_REQUIRE(found && vl == 0 && a != NULL, "empty value via get_alloc: found %d vlen %zu %s",
               (int)found, vl, a ? "" : "NULL");
    free(a);
    vl = 99;
    found = false;
    assert_int_equal(axs_get(db, NULL, "n", 1, NULL, 0, &vl, &found), AXS_OK);
    TU_REQUIRE(found && vl == 0, "empty value via get");
    /* empty key, with a value and then with an empty value */
    expect_missing(db, "", 0);
    put_ok(db, "", 0, "empty-key", 9);
    expect_val(db, "", 0, "empty-key", 9);
    expect_val(db, NULL, 0, "empty-key", 9);
    put_ok(db, NULL, 0, NULL, 0);
    expect_val(db, "", 0, "", 0);
    /* the empty key sorts first, before "\0" */
    put_ok(db, "\0", 1, "zero", 4);
    kv exp[] = {{"", 0, "", 0}, {"\0", 1, "zero", 4}, {"e", 1, "", 0}, {"n", 1, "", 0}};
    expect_content(db, exp, 4);
    close_ok(db);
    axs_options o = mkopts(false);
    db = open_at(f->db, &o);
    expect_content(db, exp, 4);
    del_ok(db, "", 0);
    expect_missing(db, "", 0);
    expect_content(db, exp + 1, 3);
    close_ok(db);
    db = open_at(f->db, &o);
    expect_content(db, exp + 1, 3);
    close_ok(db);
}

static void test_key_length_limits(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    uint8_t *k = tu_xmalloc(AXS_MAX_KEY_LEN + 1);
    fill_bytes(k, AXS_MAX_KEY_LEN + 1, 42);
    const size_t max = AXS_MAX_KEY_LEN;

    put_ok(db, k, max, "max", 3);
    expect_val(db, k, max, "max", 3);
    /* its prefix of max-1 bytes is another key */
    expect_missing(db, k, max - 1);
    put_ok(db, k, max - 1, "max-1", 5);

    /* one byte more is refused everywhere */
    assert_int_equal(axs_put(db, NULL, k, max + 1, "v", 1), AXS_EINVAL);
    assert_int_equal(axs_delete(db, NULL, k, max + 1), AXS_EINVAL);
    char buf[8];
    size_t vl = 0;
    bool found = true;
    assert_int_equal(axs_get(db, NULL, k, max + 1, buf, sizeof buf, &vl, &found), AXS_EINVAL);
    char *a = NULL;
    assert_int_equal(axs_get_alloc(db, NULL, k, max + 1, &a, &vl, &found), AXS_EINVAL);
    assert_null(a);
    axs_pinned *pin = NULL;
    assert_int_equal(axs_get_pinned(db, NULL, k, max + 1, &pin, &found), AXS_EINVAL);
    assert_null(pin);
    axs_batch *b = axs_batch_create();
    assert_non_null(b);
    assert_int_equal(axs_batch_put(b, k, max + 1, "v", 1), AXS_EINVAL);
    assert_int_equal(axs_batch_delete(b, k, max + 1), AXS_EINVAL);
    assert_int_equal(axs_batch_count(b), 0);
    assert_int_equal(axs_batch_put(b, k, max, "batch", 5), AXS_OK);
    assert_int_equal(axs_batch_count(b), 1);
    assert_int_equal(axs_write(db, NULL, b), AXS_OK);
    axs_batch_destroy(b);
    expect_val(db, k, max, "batch", 5);

    /* seeks with the longest key work, one more byte is an argument error */
    axs_iter *it = NULL;
    assert_int_equal(axs_iter_create(db, NULL, &it), AXS_OK);
    kv e_max = {k, max, "batch", 5}, e_max1 = {k, max - 1, "max-1", 5};
    axs_iter_seek(it, k, max);
    expect_iter(it, &e_max);
    axs_iter_prev(it);
    expect_iter(it, &e_max1);
    axs_iter_seek_for_prev(it, k, max);
    expect_iter(it, &e_max);
    axs_iter_seek(it, k, max + 1);
    TU_REQUIRE(!axs_iter_valid(it), "seek with a too-long key left the iterator valid");
    TU_REQUIRE(axs_iter_status(it) == AXS_EINVAL, "seek with a too-long key: status %d",
               axs_iter_status(it));
    axs_iter_seek_to_first(it);
    TU_REQUIRE(axs_iter_status(it) == AXS_OK, "status not reset by a good seek");
    axs_iter_destroy(it);

    close_ok(db);
    axs_options o = mkopts(false);
    db = open_at(f->db, &o);
    expect_val(db, k, max, "batch", 5);
    expect_val(db, k, max - 1, "max-1", 5);
    del_ok(db, k, max);
    expect_missing(db, k, max);
    close_ok(db);
    free(k);
}

static void test_value_length_limits(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    const size_t max = AXS_MAX_VALUE_LEN;
    uint8_t *v = tu_xmalloc(max + 1);
    fill_bytes(v, max + 1, 7);
    assert_int_equal(axs_put(db, NULL, "big", 3, v, max + 1), AXS_EINVAL);
    axs_batch *b = axs_batch_create();
    assert_non_null(b);
    assert_int_equal(axs_batch_put(b, "big", 3, v, max + 1), AXS_EINVAL);
    assert_int_equal(axs_batch_count(b), 0);
    axs_batch_destroy(b);
    expect_missing(db, "big", 3);

    put_ok(db, "big", 3, v, max);
    put_str(db, "small", "s");
    expect_val(db, "big", 3, v, max);
    /* a partial read of the big value */
    uint8_t head[100];
    size_t vl = 0;
    bool found = false;
    assert_int_equal(axs_get(db, NULL, "big", 3, head, sizeof head, &vl, &found), AXS_OK);
    TU_REQUIRE(found && vl == max && memcmp(head, v, sizeof head) == 0, "partial read of 64 MiB");
    close_ok(db);
    axs_options o = mkopts(false);
    db = open_at(f->db, &o);
    expect_val(db, "big", 3, v, max);
    expect_str(db, "small", "s");
    close_ok(db);
    free(v);
}

static void test_binary_keys(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    /* Keys that share their first 8 bytes (and more), zero bytes, 0xff bytes, prefixes. */
    static const struct {
        const char *k;
        size_t kl;
    } keys[] = {
        {"", 0},
        {"\0", 1},
        {"\0\0", 2},
        {"\0\x01", 2},
        {"\x01", 1},
        {"abcdefg", 7},
        {"abcdefgh", 8},
        {"abcdefgh\0", 9},
        {"abcdefgh\0\0", 10},
        {"abcdefgh\x01", 9},
        {"abcdefgh12345678", 16},
        {"abcdefgh123456789", 17},
        {"abcdefgh12345679", 16},
        {"abcdefghA", 9},
        {"abcdefghB", 9},
        {"abcdefghBB", 10},
        {"abcdefgh\xff", 9},
        {"abcdefgi", 8},
        {"\xff", 1},
        {"\xff\xff\xff\xff\xff\xff\xff\xff", 8},
        {"\xff\xff\xff\xff\xff\xff\xff\xff\0", 9},
        {"\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9},
    };
#define NKEYS (sizeof keys / sizeof keys[0])
    const size_t n = NKEYS;
    /* long shared prefixes: 1000 and 20000 bytes of the same prefix, then a difference */
    const size_t plens[] = {1000, 20000};
    enum { NLONG = 2 * 4 };
    uint8_t *longk[NLONG];
    size_t longl[NLONG];
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 4; j++) {
            size_t len = plens[i] + (j == 3 ? 0 : 1 + j % 2);
            uint8_t *p = tu_xmalloc(len);
            memset(p, 'p', len);
            if (j < 3)
                p[plens[i]] = (uint8_t)(j == 0 ? 0x00 : j == 1 ? 'q' : 0xff);
            longk[i * 4 + j] = p;
            longl[i * 4 + j] = len;
        }
    }
    /* write in reverse order, values naming their index */
    char vals[NKEYS + NLONG][24];
    for (size_t i = n; i-- > 0;) {
        snprintf(vals[i], sizeof vals[i], "val%zu", i);
        put_ok(db, keys[i].k, keys[i].kl, vals[i], strlen(vals[i]));
    }
    for (size_t i = 0; i < NLONG; i++) {
        snprintf(vals[n + i], sizeof vals[n + i], "long%zu", i);
        put_ok(db, longk[i], longl[i], vals[n + i], strlen(vals[n + i]));
    }
    /* expected order: sort by memcmp, shorter first */
    kv exp[NKEYS + NLONG];
    for (size_t i = 0; i < n; i++)
        exp[i] = (kv){keys[i].k, keys[i].kl, vals[i], strlen(vals[i])};
    for (size_t i = 0; i < NLONG; i++)
        exp[n + i] = (kv){longk[i], longl[i], vals[n + i], strlen(vals[n + i])};
    for (size_t i = 1; i < n + NLONG; i++) /* insertion sort */
        for (size_t j = i; j > 0 && keycmp(exp[j - 1].k, exp[j - 1].kl, exp[j].k, exp[j].kl) > 0;
             j--) {
            kv t = exp[j];
            exp[j] = exp[j - 1];
            exp[j - 1] = t;
        }
    /* sanity of the table itself: keys[] is already in order */
    for (size_t i = 1; i < n; i++)
        TU_REQUIRE(keycmp(keys[i - 1].k, keys[i - 1].kl, keys[i].k, keys[i].kl) < 0,
                   "test table out of order at %zu", i);
    expect_content(db, exp, n + NLONG);
    /* prefixes that are not keys are missing */
    expect_missing(db, "abcdefgh1234567", 15);
    expect_missing(db, "\0\0\0", 3);
    expect_missing(db, longk[0], plens[0] - 1);
    /* delete every other key and check again, also after reopen without checkpoint */
    size_t m = 0;
    for (size_t i = 0; i < n + NLONG; i++) {
        if (i % 2)
            del_ok(db, exp[i].k, exp[i].kl);
        else
            exp[m++] = exp[i];
    }
    expect_content(db, exp, m);
    close_ok(db);
    remove_in(f->db, "CHECKPOINT");
    axs_options o = mkopts(false);
    db = open_at(f->db, &o);
    expect_content(db, exp, m);
    close_ok(db);
    for (size_t i = 0; i < NLONG; i++)
        free(longk[i]);
#undef NKEYS
}

static void test_get_partial_copy(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    const char *v = "0123456789abcdef";
    put_str(db, "k", v);
    char buf[32];
    size_t vl = 0;
    bool found = false;
    /* ask for the length only */
    assert_int_equal(axs_get(db, NULL, "k", 1, NULL, 0, &vl, &found), AXS_OK);
    TU_REQUIRE(found && vl == 16, "length query: found %d vlen %zu", (int)found, vl);
    /* a buffer too small gets the first bytes and the full length */
    for (size_t cap = 0; cap <= 20; cap++) {
        memset(buf, '#', sizeof buf);
        vl = 0;
        found = false;
        assert_int_equal(axs_get(db, NULL, "k", 1, buf, cap, &vl, &found), AXS_OK);
        TU_REQUIRE(found && vl == 16, "cap %zu: found %d vlen %zu", cap, (int)found, vl);
        size_t copied = cap < 16 ? cap : 16;
        TU_REQUIRE(memcmp(buf, v, copied) == 0, "cap %zu: wrong bytes", cap);
        for (size_t i = copied; i < sizeof buf; i++)
            TU_REQUIRE(buf[i] == '#', "cap %zu: byte %zu written", cap, i);
    }
    /* buf NULL with a length is an argument error */
    assert_int_equal(axs_get(db, NULL, "k", 1, NULL, 4, &vl, &found), AXS_EINVAL);
    /* a miss leaves the buffer alone */
    memset(buf, '#', sizeof buf);
    found = true;
    assert_int_equal(axs_get(db, NULL, "nope", 4, buf, sizeof buf, &vl, &found), AXS_OK);
    TU_REQUIRE(!found, "miss reported found");
    for (size_t i = 0; i < sizeof buf; i++)
        TU_REQUIRE(buf[i] == '#', "a miss wrote to the buffer");
    /* the same through LZ4-compressed values */
    close_ok(db);
    axs_options o = mkopts(false);
    o.compression = AXS_COMPRESSION_LZ4;
    db = open_at(f->db, &o);
    char cv[4000];
    for (size_t i = 0; i < sizeof cv; i++)
        cv[i] = (char)('a' + (i / 100) % 3);
    put_ok(db, "c", 1, cv, sizeof cv);
    vl = 0;
    assert_int_equal(axs_get(db, NULL, "c", 1, NULL, 0, &vl, &found), AXS_OK);
    TU_REQUIRE(found && vl == sizeof cv, "compressed length query: %zu", vl);
    memset(buf, '#', sizeof buf);
    assert_int_equal(axs_get(db, NULL, "c", 1, buf, 10, &vl, &found), AXS_OK);
    TU_REQUIRE(found && vl == sizeof cv && memcmp(buf, cv, 10) == 0 && buf[10] == '#',
               "compressed partial read");
    close_ok(db);
}

static void test_pinned_values_stay_intact(void **state)
{
    fx *f = *state;
    for (int comp = 0; comp < 2; comp++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/pin%d", f->base, comp);
        axs_options o = mkopts(true);
        o.compression = comp ? AXS_COMPRESSION_LZ4 : AXS_COMPRESSION_NONE;
        o.segment_size = 64 * 1024;
        axs_db *db = open_at(dir, &o);
        enum { NV = 4, VLEN = 3000 };
        uint8_t vals[NV][VLEN];
        for (int i = 0; i < NV; i++) {
            if (i % 2)
                fill_bytes(vals[i], VLEN, 100 + (uint64_t)i); /* incompressible */
            else
                memset(vals[i], 'a' + i, VLEN); /* compressible */
        }
        axs_pinned *pins[NV];
        bool found;
        /* pin version i of key "p", then overwrite it */
        for (int i = 0; i < NV; i++) {
            put_ok(db, "p", 1, vals[i], VLEN);
            found = false;
            assert_int_equal(axs_get_pinned(db, NULL, "p", 1, &pins[i], &found), AXS_OK);
            TU_REQUIRE(found && pins[i], "pin %d", i);
        }
        del_ok(db, "p", 1);
        /* fill several segments, then compact away everything the pins point into */
        uint8_t filler[2000];
        for (unsigned i = 0; i < 200; i++) {
            char k[16];
            fill_bytes(filler, sizeof filler, i);
            put_ok(db, k, num_key(k, i % 50), filler, sizeof filler);
        }
        for (int i = 0; i < NV; i++) {
            size_t pl = 0;
            const void *pd = axs_pinned_data(pins[i], &pl);
            TU_REQUIRE(pl == VLEN && memcmp(pd, vals[i], VLEN) == 0,
                       "comp %d: pin %d changed after overwrite/delete", comp, i);
        }
        assert_int_equal(axs_compact(db), AXS_OK);
        for (unsigned i = 0; i < 200; i++) {
            char k[16];
            fill_bytes(filler, sizeof filler, i + 1000);
            put_ok(db, k, num_key(k, i % 50), filler, sizeof filler);
        }
        assert_int_equal(axs_compact(db), AXS_OK);
        for (int i = 0; i < NV; i++) {
            size_t pl = 0;
            const void *pd = axs_pinned_data(pins[i], &pl);
            TU_REQUIRE(pl == VLEN && memcmp(pd, vals[i], VLEN) == 0,
                       "comp %d: pin %d changed after compaction", comp, i);
            axs_pinned_release(pins[i]);
        }
        expect_missing(db, "p", 1);
        /* a pin taken after compaction reads the compacted copy */
        put_ok(db, "q", 1, vals[1], VLEN);
        assert_int_equal(axs_compact(db), AXS_OK);
        axs_pinned *q = NULL;
        assert_int_equal(axs_get_pinned(db, NULL, "q", 1, &q, &found), AXS_OK);
        put_ok(db, "q", 1, "x", 1);
        assert_int_equal(axs_compact(db), AXS_OK);
        size_t ql = 0;
        const void *qd = axs_pinned_data(q, &ql);
        TU_REQUIRE(found && ql == VLEN && memcmp(qd, vals[1], VLEN) == 0, "pin across compaction");
        axs_pinned_release(q);
        expect_str(db, "q", "x");
        close_ok(db);
    }
}

/* ---- batches ------------------------------------------------------------------------------ */

static void test_batch(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    axs_batch *b = axs_batch_create();
    assert_non_null(b);
    assert_int_equal(axs_batch_count(b), 0);
    /* an empty batch is fine and changes nothing */
    assert_int_equal(axs_write(db, NULL, b), AXS_OK);
    put_str(db, "pre", "existing");
    put_str(db, "gone", "to be deleted");

    assert_int_equal(axs_batch_put(b, "a", 1, "1", 1), AXS_OK);
    assert_int_equal(axs_batch_put(b, "b", 1, "2", 1), AXS_OK);
    assert_int_equal(axs_batch_delete(b, "gone", 4), AXS_OK);
    assert_int_equal(axs_batch_delete(b, "never", 5), AXS_OK); /* missing: fine */
    /* same key in one batch: the last operation wins */
    assert_int_equal(axs_batch_put(b, "x", 1, "first", 5), AXS_OK);
    assert_int_equal(axs_batch_delete(b, "x", 1), AXS_OK);
    assert_int_equal(axs_batch_delete(b, "y", 1), AXS_OK);
    assert_int_equal(axs_batch_put(b, "y", 1, "last", 4), AXS_OK);
    assert_int_equal(axs_batch_put(b, "z", 1, "one", 3), AXS_OK);
    assert_int_equal(axs_batch_put(b, "z", 1, "two", 3), AXS_OK);
    assert_int_equal(axs_batch_put(b, "pre", 3, "", 0), AXS_OK);
    assert_int_equal(axs_batch_put(b, "", 0, "empty", 5), AXS_OK);
    assert_int_equal(axs_batch_count(b), 12);
    /* nothing is applied before axs_write */
    expect_missing_str(db, "a");
    expect_str(db, "gone", "to be deleted");
    uint64_t seq = stats_of(db).last_sequence;
    assert_int_equal(axs_write(db, NULL, b), AXS_OK);
    /* RocksDB: a batch of n operations takes n sequence numbers */
    TU_REQUIRE(stats_of(db).last_sequence == seq + 12,
               "last_sequence %" PRIu64 " after a batch of 12, was %" PRIu64,
               stats_of(db).last_sequence, seq);
    TU_REQUIRE(axs_batch_count(b) == 12, "axs_write changed the batch");
    kv exp[] = {{"", 0, "empty", 5}, {"a", 1, "1", 1},    {"b", 1, "2", 1},
                {"pre", 3, "", 0},   {"y", 1, "last", 4}, {"z", 1, "two", 3}};
    expect_content(db, exp, 6);

    /* clear empties it; it can be reused */
    axs_batch_clear(b);
    assert_int_equal(axs_batch_count(b), 0);
    assert_int_equal(axs_write(db, NULL, b), AXS_OK);
    expect_content(db, exp, 6);
    assert_int_equal(axs_batch_delete(b, "a", 1), AXS_OK);
    assert_int_equal(axs_batch_put(b, "c", 1, "3", 1), AXS_OK);
    assert_int_equal(axs_batch_count(b), 2);
    axs_write_options w;
    axs_write_options_init(&w);
    w.sync = true;
    assert_int_equal(axs_write(db, &w, b), AXS_OK);
    /* writing the same batch again is allowed (deleting a missing key, rewriting c) */
    assert_int_equal(axs_write(db, NULL, b), AXS_OK);
    kv exp2[] = {{"", 0, "empty", 5}, {"b", 1, "2", 1},    {"c", 1, "3", 1},
                 {"pre", 3, "", 0},   {"y", 1, "last", 4}, {"z", 1, "two", 3}};
    expect_content(db, exp2, 6);

    /* a large batch in a compressed database with small segments, then reopen both ways */
    close_ok(db);
    axs_options o = mkopts(false);
    o.compression = AXS_COMPRESSION_LZ4;
    o.segment_size = 64 * 1024;
    db = open_at(f->db, &o);
    axs_batch_clear(b);
    enum { NB = 300 };
    static uint8_t bv[NB][500];
    static char bk[NB][16];
    kv expb[NB];
    for (unsigned i = 0; i < NB; i++) {
        if (i % 2)
            memset(bv[i], 'a' + i % 26, sizeof bv[i]);
        else
            fill_bytes(bv[i], sizeof bv[i], i);
        size_t kl = num_key(bk[i], i);
        assert_int_equal(axs_batch_put(b, bk[i], kl, bv[i], sizeof bv[i]), AXS_OK);
        expb[i] = (kv){bk[i], kl, bv[i], sizeof bv[i]};
    }
    /* the batch (~160 KB) is larger than a segment: it still applies as one record */
    assert_int_equal(axs_write(db, NULL, b), AXS_OK);
    /* the "k..." keys sort between "c" and "pre": build the order explicitly */
    kv sorted[NB + 6];
    size_t m = 0;
    sorted[m++] = exp2[0];
    sorted[m++] = exp2[1];
    sorted[m++] = exp2[2];
    for (unsigned i = 0; i < NB; i++)
        sorted[m++] = expb[i];
    sorted[m++] = exp2[3];
    sorted[m++] = exp2[4];
    sorted[m++] = exp2[5];
    expect_content(db, sorted, m);
    close_ok(db);
    o.compression = AXS_COMPRESSION_NONE;
    db = open_at(f->db, &o);
    expect_content(db, sorted, m);
    close_ok(db);
    remove_in(f->db, "CHECKPOINT");
    db = open_at(f->db, &o);
    expect_content(db, sorted, m);
    close_ok(db);
    axs_batch_destroy(b);
}

/* ---- iterators ---------------------------------------------------------------------------- */

static void test_iter_empty_db(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    axs_iter *it = NULL;
    assert_int_equal(axs_iter_create(db, NULL, &it), AXS_OK);
    assert_non_null(it);
    /* a fresh iterator is not positioned */
    TU_REQUIRE(!axs_iter_valid(it), "a new iterator is valid before any seek");
    axs_iter_seek_to_first(it);
    expect_iter(it, NULL);
    axs_iter_seek_to_last(it);
    expect_iter(it, NULL);
    axs_iter_seek(it, "a", 1);
    expect_iter(it, NULL);
    axs_iter_seek(it, "", 0);
    expect_iter(it, NULL);
    axs_iter_seek_for_prev(it, "a", 1);
    expect_iter(it, NULL);
    axs_iter_seek_for_prev(it, "\xff\xff", 2);
    expect_iter(it, NULL);
    axs_iter_destroy(it);
    /* a database emptied by deletes behaves the same */
    put_str(db, "a", "1");
    del_ok(db, "a", 1);
    assert_int_equal(axs_iter_create(db, NULL, &it), AXS_OK);
    axs_iter_seek_to_first(it);
    expect_iter(it, NULL);
    axs_iter_seek_to_last(it);
    expect_iter(it, NULL);
    axs_iter_destroy(it);
    close_ok(db);
}

static void test_iter_seeks(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    put_str(db, "b", "B");
    put_str(db, "d", "D");
    put_str(db, "f", "F");
    put_ok(db, "d\0", 2, "D0", 2);
    kv b = {"b", 1, "B", 1}, d = {"d", 1, "D", 1}, d0 = {"d\0", 2, "D0", 2}, ff = {"f", 1, "F", 1};
    axs_iter *it = NULL;
    assert_int_equal(axs_iter_create(db, NULL, &it), AXS_OK);

    axs_iter_seek_to_first(it);
    expect_iter(it, &b);
    axs_iter_seek_to_last(it);
    expect_iter(it, &ff);

    /* seek: first key >= target */
    struct {
        const char *t;
        size_t tl;
        const kv *want;
    } seeks[] = {
        {"", 0, &b},   {"a", 1, &b},      {"b", 1, &b},      {"b\0", 2, &d}, {"c", 1, &d},
        {"d", 1, &d},  {"d\0", 2, &d0},   {"d\0\0", 3, &ff}, {"d\x01", 2, &ff},
        {"e", 1, &ff}, {"f", 1, &ff},     {"f\0", 2, NULL},  {"g", 1, NULL}, {"\xff", 1, NULL},
    };
    for (size_t i = 0; i < sizeof seeks / sizeof seeks[0]; i++) {
        axs_iter_seek(it, seeks[i].t, seeks[i].tl);
        expect_iter(it, seeks[i].want);
    }
    /* seek_for_prev: last key <= target */
    struct {
        const char *t;
        size_t tl;
        const kv *want;
    } prevs[] = {
        {"", 0, NULL},   {"a", 1, NULL},  {"b", 1, &b},       {"b\0", 2, &b}, {"c", 1, &b},
        {"d", 1, &d},    {"d\0", 2, &d0}, {"d\0\0", 3, &d0},  {"e", 1, &d0},  {"f", 1, &ff},
        {"f\0", 2, &ff}, {"zz", 2, &ff},  {"\xff\xff", 2, &ff},
    };
    for (size_t i = 0; i < sizeof prevs / sizeof prevs[0]; i++) {
        axs_iter_seek_for_prev(it, prevs[i].t, prevs[i].tl);
        expect_iter(it, prevs[i].want);
    }
    /* moving after seeks */
    axs_iter_seek(it, "c", 1);
    expect_iter(it, &d);
    axs_iter_prev(it);
    expect_iter(it, &b);
    axs_iter_prev(it);
    expect_iter(it, NULL);
    axs_iter_seek_for_prev(it, "e", 1);
    expect_iter(it, &d0);
    axs_iter_next(it);
    expect_iter(it, &ff);
    axs_iter_next(it);
    expect_iter(it, NULL);
    axs_iter_seek_to_last(it);
    axs_iter_prev(it);
    expect_iter(it, &d0);
    axs_iter_prev(it);
    expect_iter(it, &d);
    axs_iter_next(it);
    expect_iter(it, &d0);
    /* an invalid iterator can be re-seeked */
    axs_iter_seek(it, "z", 1);
    expect_iter(it, NULL);
    axs_iter_seek_to_first(it);
    expect_iter(it, &b);
    assert_int_equal(axs_iter_status(it), AXS_OK);
    /* read options NULL and explicit are both fine; two iterators are independent */
    axs_read_options r;
    axs_read_options_init(&r);
    r.verify_checksums = false;
    axs_iter *it2 = NULL;
    assert_int_equal(axs_iter_create(db, &r, &it2), AXS_OK);
    axs_iter_seek_to_last(it2);
    expect_iter(it2, &ff);
    expect_iter(it, &b);
    axs_iter_destroy(it2);
    axs_iter_destroy(it);
    close_ok(db);
}

static void test_iter_full_walks(void **state)
{
    fx *f = *state;
    axs_options o = mkopts(true);
    o.segment_size = 64 * 1024;
    axs_db *db = open_at(f->db, &o);
    enum { N = 3000 };
    static char ks[N][16], vs[N][24];
    static kv exp[N];
    /* insert in a scrambled order */
    for (unsigned i = 0; i < N; i++) {
        unsigned n = (unsigned)((i * 7919u) % N);
        size_t kl = num_key(ks[n], n);
        size_t vl = num_val(vs[n], n, 0);
        put_ok(db, ks[n], kl, vs[n], vl);
        exp[n] = (kv){ks[n], kl, vs[n], vl};
    }
    expect_content(db, exp, N);
    close_ok(db);
    o.create_if_missing = false;
    db = open_at(f->db, &o);
    expect_content(db, exp, N);
    /* walks that turn around */
    axs_iter *it = NULL;
    assert_int_equal(axs_iter_create(db, NULL, &it), AXS_OK);
    axs_iter_seek(it, ks[1500], 6);
    for (unsigned i = 1500; i < 1600; i++) {
        expect_iter(it, &exp[i]);
        axs_iter_next(it);
    }
    for (unsigned i = 1600; i-- > 1400;) {
        axs_iter_prev(it);
        expect_iter(it, &exp[i]);
    }
    axs_iter_destroy(it);
    close_ok(db);
}

/* Presence model of the numbered keys for the concurrent-modification walks. */
enum { CM_N = 1200 };
typedef struct cm_model {
    bool present[CM_N];
    unsigned version[CM_N];
    uint64_t since[CM_N]; /* clock value when the key last became present */
    uint64_t clock;
} cm_model;

static void cm_put(axs_db *db, cm_model *m, unsigned n)
{
    char k[16], v[32];
    size_t kl = num_key(k, n);
    m->version[n]++;
    size_t vl = num_val(v, n, m->version[n]);
    put_ok(db, k, kl, v, vl);
    m->clock++;
    if (!m->present[n]) {
        m->present[n] = true;
        m->since[n] = m->clock;
    }
}

static void cm_del(axs_db *db, cm_model *m, unsigned n)
{
    char k[16];
    size_t kl = num_key(k, n);
    del_ok(db, k, kl);
    m->clock++;
    m->present[n] = false;
}

/* Checks the step of an iterator from prev (or -1 / CM_N at the start) to its current
 * position, walking forward or backward: it must be on the next key present in frozen (the
 * model when the iterator was created), with the value it had then. */
static void cm_check_step(const axs_iter *it, const cm_model *frozen, long prev, bool forward,
                          long *cur_out)
{
    long want = prev;
    do
        want += forward ? 1 : -1;
    while (want >= 0 && want < CM_N && !frozen->present[want]);
    long cur = forward ? CM_N : -1;
    if (axs_iter_valid(it)) {
        size_t kl = 0, vl = 0;
        const char *k = axs_iter_key(it, &kl);
        const char *v = axs_iter_value(it, &vl);
        TU_REQUIRE(kl == 6 && k[0] == 'k', "unexpected key of %zu bytes", kl);
        char tmp[8];
        memcpy(tmp, k + 1, 5);
        tmp[5] = '\0';
        cur = strtol(tmp, NULL, 10);
        TU_REQUIRE(cur == want, "iterator stepped from k%05ld to k%05ld, expected k%05ld", prev,
                   cur, want);
        char wv[32];
        size_t wl = num_val(wv, (unsigned)cur, frozen->version[cur]);
        TU_REQUIRE(vl == wl && memcmp(v, wv, wl) == 0,
                   "k%05ld: value \"%.*s\", expected \"%s\" as at the iterator's creation", cur,
                   (int)vl, v, wv);
    } else {
        TU_REQUIRE(axs_iter_status(it) == AXS_OK, "iterator ended with status %d",
                   axs_iter_status(it));
        TU_REQUIRE(want < 0 || want >= CM_N, "iterator ended after k%05ld, expected k%05ld", prev,
                   want);
    }
    *cur_out = cur;
}

static void cm_walk(axs_db *db, cm_model *m, tu_rng *rng, bool forward, int maintenance)
{
    axs_iter *it = NULL;
    assert_int_equal(axs_iter_create(db, NULL, &it), AXS_OK);
    static cm_model frozen; /* what the iterator must see, whatever is written meanwhile */
    frozen = *m;
    long prev = forward ? -1 : CM_N;
    if (forward)
        axs_iter_seek_to_first(it);
    else
        axs_iter_seek_to_last(it);
    size_t steps = 0;
    for (;;) {
        long cur;
        cm_check_step(it, &frozen, prev, forward, &cur);
        if (!axs_iter_valid(it))
            break;
        TU_REQUIRE(++steps <= 4 * CM_N, "iterator does not end");
        /* modify around the current position before the next step */
        unsigned nmods = (unsigned)tu_rng_below(rng, 4);
        for (unsigned i = 0; i < nmods; i++) {
            long d = (long)tu_rng_below(rng, 11) - 5;
            long t = cur + d;
            switch (tu_rng_below(rng, 6)) {
            case 0: /* the current key itself */
                t = cur;
                break;
            case 1: /* the next key in the walk direction, if any */
                t = forward ? cur + 1 : cur - 1;
                break;
            case 2: /* anywhere */
                t = (long)tu_rng_below(rng, CM_N);
                break;
            default:
                break;
            }
            if (t < 0 || t >= CM_N)
                continue;
            if (tu_rng_below(rng, 2))
                cm_put(db, m, (unsigned)t);
            else
                cm_del(db, m, (unsigned)t);
        }
        if (maintenance && steps % 97 == 0)
            assert_int_equal(maintenance == 1 ? axs_flush(db) : axs_compact(db), AXS_OK);
        prev = cur;
        if (forward)
            axs_iter_next(it);
        else
            axs_iter_prev(it);
    }
    axs_iter_destroy(it);
}

static void test_iter_concurrent_modification(void **state)
{
    fx *f = *state;
    uint64_t seed = tu_seed(__func__);
    tu_rng rng;
    tu_rng_init(&rng, seed);
    axs_options o = mkopts(true);
    o.segment_size = 64 * 1024;
    axs_db *db = open_at(f->db, &o);
    static cm_model m;
    memset(&m, 0, sizeof m);
    for (unsigned n = 0; n < CM_N; n += 2)
        cm_put(db, &m, n);
    for (int round = 0; round < 6; round++)
        cm_walk(db, &m, &rng, round % 2 == 0, round / 2);
    /* the database equals the model at the end */
    static char ks[CM_N][16], vs[CM_N][32];
    static kv exp[CM_N];
    size_t n = 0;
    for (unsigned i = 0; i < CM_N; i++) {
        if (!m.present[i])
            continue;
        size_t kl = num_key(ks[n], i), vl = num_val(vs[n], i, m.version[i]);
        exp[n] = (kv){ks[n], kl, vs[n], vl};
        n++;
    }
    expect_content(db, exp, n);
    close_ok(db);
}

/* An iterator created before writes, used after them: it sees the state at its creation. */
static void test_iter_sees_state_at_creation(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    put_str(db, "a", "1");
    put_str(db, "c", "3");
    put_str(db, "e", "5");
    axs_iter *it = NULL;
    assert_int_equal(axs_iter_create(db, NULL, &it), AXS_OK);
    axs_iter_seek(it, "a", 1);
    kv a = {"a", 1, "1", 1};
    expect_iter(it, &a);
    /* the current entry's key and value stay readable while the database changes */
    size_t kl, vl;
    const void *kp = axs_iter_key(it, &kl);
    const void *vp = axs_iter_value(it, &vl);
    del_ok(db, "a", 1);
    del_ok(db, "c", 1);
    put_str(db, "a", "changed");
    assert_int_equal(axs_compact(db), AXS_OK);
    TU_REQUIRE(kl == 1 && memcmp(kp, "a", 1) == 0 && vl == 1 && memcmp(vp, "1", 1) == 0,
               "the current entry changed under a still iterator");
    /* the iterator reads the database as it was at its creation: c is still there, and d,
     * written later, is not */
    axs_iter_next(it);
    kv c = {"c", 1, "3", 1};
    expect_iter(it, &c);
    axs_iter_next(it);
    kv e = {"e", 1, "5", 1};
    expect_iter(it, &e);
    put_str(db, "d", "4");
    axs_iter_prev(it);
    expect_iter(it, &c);
    axs_iter_prev(it);
    expect_iter(it, &a);
    axs_iter_prev(it);
    expect_iter(it, NULL);
    axs_iter_destroy(it);
    /* a new iterator sees the current state */
    assert_int_equal(axs_iter_create(db, NULL, &it), AXS_OK);
    axs_iter_seek_to_first(it);
    kv a2 = {"a", 1, "changed", 7};
    expect_iter(it, &a2);
    axs_iter_next(it);
    kv dd = {"d", 1, "4", 1};
    expect_iter(it, &dd);
    axs_iter_next(it);
    expect_iter(it, &e);
    axs_iter_next(it);
    expect_iter(it, NULL);
    axs_iter_destroy(it);
    close_ok(db);
}

/* ---- flush, crash recovery, reopen -------------------------------------------------------- */

/* Child: writes 100 keys, flushes, writes 70 more operations, and "crashes" (no close). */
static int child_flush_then_crash(const fx *f)
{
    axs_options o = mkopts(true);
    axs_db *db = NULL;
    if (axs_open(f->db, &o, &db, NULL) != AXS_OK)
        return 1;
    char k[16], v[32];
    for (unsigned i = 0; i < 100; i++)
        if (axs_put(db, NULL, k, num_key(k, i), v, num_val(v, i, 0)) != AXS_OK)
            return 2;
    if (axs_flush(db) != AXS_OK)
        return 3;
    for (unsigned i = 100; i < 150; i++)
        if (axs_put(db, NULL, k, num_key(k, i), v, num_val(v, i, 0)) != AXS_OK)
            return 4;
    for (unsigned i = 0; i < 10; i++)
        if (axs_delete(db, NULL, k, num_key(k, i)) != AXS_OK)
            return 5;
    for (unsigned i = 50; i < 60; i++)
        if (axs_put(db, NULL, k, num_key(k, i), v, num_val(v, i, 1)) != AXS_OK)
            return 6;
    return 0; /* _exit without axs_close: a process crash */
}

static void expect_after_crash(axs_db *db)
{
    static char ks[150][16], vs[150][32];
    static kv exp[150];
    size_t n = 0;
    for (unsigned i = 10; i < 150; i++) {
        size_t kl = num_key(ks[n], i);
        size_t vl = num_val(vs[n], i, i >= 50 && i < 60 ? 1 : 0);
        exp[n] = (kv){ks[n], kl, vs[n], vl};
        n++;
    }
    expect_content(db, exp, n);
}

static void test_flush_and_process_crash(void **state)
{
    fx *f = *state;
    run_child(child_flush_then_crash, f, "flush then crash");
    axs_options o = mkopts(false);
    axs_db *db = open_at(f->db, &o);
    axs_stats st = stats_of(db);
    /* the checkpoint of the flush covered 100 keys; the 70 writes after it were replayed */
    TU_REQUIRE(st.checkpoint_keys == 100, "checkpoint_keys %" PRIu64 ", expected 100",
               st.checkpoint_keys);
    TU_REQUIRE(st.recovered_records == 70, "recovered_records %" PRIu64 ", expected 70",
               st.recovered_records);
    TU_REQUIRE(st.last_sequence == 170, "last_sequence %" PRIu64 ", expected 170",
               st.last_sequence);
    expect_after_crash(db);
    close_ok(db);

    /* the same crash, then the checkpoint lost: the whole log is replayed */
    tu_rm_rf(f->db);
    run_child(child_flush_then_crash, f, "flush then crash");
    remove_in(f->db, "CHECKPOINT");
    db = open_at(f->db, &o);
    st = stats_of(db);
    TU_REQUIRE(st.checkpoint_keys == 0 && st.recovered_records == 170,
               "without checkpoint: checkpoint_keys %" PRIu64 " recovered_records %" PRIu64,
               st.checkpoint_keys, st.recovered_records);
    TU_REQUIRE(st.last_sequence == 170, "last_sequence %" PRIu64 ", expected 170",
               st.last_sequence);
    expect_after_crash(db);
    /* flush twice in a row, and on an unchanged database */
    assert_int_equal(axs_flush(db), AXS_OK);
    assert_int_equal(axs_flush(db), AXS_OK);
    close_ok(db);
    db = open_at(f->db, &o);
    expect_after_crash(db);
    close_ok(db);
}

static void test_reopen_with_and_without_checkpoint(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    enum { N = 500 };
    static char ks[N][16], vs[N][32];
    static kv exp[N];
    for (unsigned i = 0; i < N; i++)
        put_ok(db, ks[i], num_key(ks[i], i), vs[i], num_val(vs[i], i, 0));
    axs_batch *b = axs_batch_create();
    for (unsigned i = 0; i < N; i += 3)
        assert_int_equal(axs_batch_delete(b, ks[i], 6), AXS_OK);
    assert_int_equal(axs_write(db, NULL, b), AXS_OK);
    axs_batch_destroy(b);
    for (unsigned i = 1; i < N; i += 3)
        put_ok(db, ks[i], 6, vs[i], num_val(vs[i], i, 1));
    size_t n = 0;
    for (unsigned i = 0; i < N; i++)
        if (i % 3)
            exp[n++] = (kv){ks[i], 6, vs[i], strlen(vs[i])};
    axs_stats before = stats_of(db);
    expect_content(db, exp, n);
    close_ok(db);
    char ck[1024];
    join(ck, sizeof ck, f->db, "CHECKPOINT");
    TU_REQUIRE(path_exists(ck), "axs_close wrote no CHECKPOINT");

    axs_options o = mkopts(false);
    for (int round = 0; round < 3; round++) {
        if (round == 1)
            remove_in(f->db, "CHECKPOINT");
        db = open_at(f->db, &o);
        axs_stats st = stats_of(db);
        if (round == 1) {
            TU_REQUIRE(st.checkpoint_keys == 0, "no checkpoint, yet %" PRIu64 " keys from it",
                       st.checkpoint_keys);
            TU_REQUIRE(st.recovered_records == N + 1 + (N + 1) / 3,
                       "full replay: %" PRIu64 " records, expected %u", st.recovered_records,
                       N + 1 + (N + 1) / 3);
        } else {
            TU_REQUIRE(st.checkpoint_keys == n, "checkpoint_keys %" PRIu64 ", expected %zu",
                       st.checkpoint_keys, n);
            TU_REQUIRE(st.recovered_records == 0, "a clean close left %" PRIu64 " records to "
                       "replay", st.recovered_records);
        }
        TU_REQUIRE(st.last_sequence == before.last_sequence,
                   "round %d: last_sequence %" PRIu64 ", before close %" PRIu64, round,
                   st.last_sequence, before.last_sequence);
        TU_REQUIRE(st.live_bytes == before.live_bytes,
                   "round %d: live_bytes %" PRIu64 ", before close %" PRIu64, round,
                   st.live_bytes, before.live_bytes);
        TU_REQUIRE(st.open_seconds >= 0.0, "open_seconds negative");
        expect_content(db, exp, n);
        close_ok(db);
        TU_REQUIRE(path_exists(ck), "axs_close wrote no CHECKPOINT");
    }
}

/* ---- compression, segments, compaction ---------------------------------------------------- */

static void test_lz4_compression(void **state)
{
    fx *f = *state;
    enum { N = 60, VL = 4000 };
    static uint8_t vals[N][VL];
    static char ks[N][16];
    static kv exp[N];
    size_t lens[N];
    for (unsigned i = 0; i < N; i++) {
        switch (i % 4) {
        case 0: /* compressible text */
            for (size_t j = 0; j < VL; j++)
                vals[i][j] = (uint8_t)("the quick brown fox "[j % 20]);
            lens[i] = VL;
            break;
        case 1: /* incompressible */
            fill_bytes(vals[i], VL, i);
            lens[i] = VL;
            break;
        case 2: /* short values around the size where compression could start */
            memset(vals[i], 'z', 40);
            lens[i] = i % 40;
            break;
        default: /* half random, half zeros */
            fill_bytes(vals[i], VL / 2, i);
            memset(vals[i] + VL / 2, 0, VL / 2);
            lens[i] = VL;
            break;
        }
        exp[i] = (kv){ks[i], num_key(ks[i], i), vals[i], lens[i]};
    }
    uint64_t log_bytes[2];
    for (int comp = 0; comp < 2; comp++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/c%d", f->base, comp);
        axs_options o = mkopts(true);
        o.compression = comp ? AXS_COMPRESSION_LZ4 : AXS_COMPRESSION_NONE;
        axs_db *db = open_at(dir, &o);
        for (unsigned i = 0; i < N; i++)
            put_ok(db, exp[i].k, exp[i].kl, exp[i].v, exp[i].vl);
        expect_content(db, exp, N);
        log_bytes[comp] = prop_u64(db, "alexstorage.log-bytes");
        close_ok(db);
        /* reopen with the other setting: everything reads back; new writes mix in */
        o.create_if_missing = false;
        o.compression = comp ? AXS_COMPRESSION_NONE : AXS_COMPRESSION_LZ4;
        db = open_at(dir, &o);
        expect_content(db, exp, N);
        for (unsigned i = 0; i < N; i += 2)
            put_ok(db, exp[i].k, exp[i].kl, exp[i].v, exp[i].vl);
        expect_content(db, exp, N);
        close_ok(db);
        o.compression = comp ? AXS_COMPRESSION_LZ4 : AXS_COMPRESSION_NONE;
        db = open_at(dir, &o);
        expect_content(db, exp, N);
        assert_int_equal(axs_compact(db), AXS_OK);
        expect_content(db, exp, N);
        close_ok(db);
        remove_in(dir, "CHECKPOINT");
        db = open_at(dir, &o);
        expect_content(db, exp, N);
        close_ok(db);
    }
    /* a quarter of the data is highly compressible, another quarter half so */
    TU_REQUIRE(log_bytes[1] < log_bytes[0] * 3 / 4,
               "LZ4 saved too little: %" PRIu64 " bytes vs %" PRIu64 " uncompressed",
               log_bytes[1], log_bytes[0]);
    /* incompressible data never grows the log much beyond its raw size */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/rand", f->base);
    axs_options o = mkopts(true);
    o.compression = AXS_COMPRESSION_LZ4;
    axs_db *db = open_at(dir, &o);
    for (unsigned i = 1; i < N; i += 4)
        put_ok(db, exp[i].k, exp[i].kl, exp[i].v, exp[i].vl);
    uint64_t lb = prop_u64(db, "alexstorage.log-bytes");
    TU_REQUIRE(lb < (uint64_t)(N / 4) * (VL + 64) + 64,
               "incompressible values stored in %" PRIu64 " bytes", lb);
    close_ok(db);
}

static void test_segment_rollover(void **state)
{
    fx *f = *state;
    axs_options o = mkopts(true);
    o.segment_size = 64 * 1024;
    axs_db *db = open_at(f->db, &o);
    enum { N = 400, VL = 1000 };
    static uint8_t vals[N][VL];
    static char ks[N][16];
    static kv exp[N + 2];
    for (unsigned i = 0; i < N; i++) {
        fill_bytes(vals[i], VL, i);
        exp[i] = (kv){ks[i], num_key(ks[i], i), vals[i], VL};
        put_ok(db, exp[i].k, exp[i].kl, exp[i].v, exp[i].vl);
        if (i == N / 2) {
            /* a value larger than a segment, and a maximal key with it */
            size_t big = 200 * 1024;
            uint8_t *bv = tu_xmalloc(big);
            fill_bytes(bv, big, 999);
            put_ok(db, "zbig", 4, bv, big);
            uint8_t *mk = tu_xmalloc(AXS_MAX_KEY_LEN);
            memset(mk, 'z', AXS_MAX_KEY_LEN);
            put_ok(db, mk, AXS_MAX_KEY_LEN, "maxkey", 6);
            exp[N] = (kv){"zbig", 4, bv, big};
            exp[N + 1] = (kv){mk, AXS_MAX_KEY_LEN, "maxkey", 6};
        }
    }
    expect_content(db, exp, N + 2);
    axs_stats st = stats_of(db);
    assert_int_equal(axs_flush(db), AXS_OK);
    uint64_t disk = 0;
    size_t files = seg_files(f->db, &disk);
    TU_REQUIRE(st.segments >= 7, "only %" PRIu64 " segments for ~660 KB in 64 KiB segments",
               st.segments);
    TU_REQUIRE(files == st.segments, "%zu .seg files, stats say %" PRIu64, files, st.segments);
    TU_REQUIRE(disk == st.log_bytes, ".seg files hold %" PRIu64 " bytes, log_bytes %" PRIu64,
               disk, st.log_bytes);
    close_ok(db);

    o.create_if_missing = false;
    db = open_at(f->db, &o);
    expect_content(db, exp, N + 2);
    /* appends continue into further segments after a reopen */
    for (unsigned i = 0; i < N; i += 2)
        put_ok(db, exp[i].k, exp[i].kl, exp[i].v, exp[i].vl);
    close_ok(db);
    remove_in(f->db, "CHECKPOINT");
    axs_options def = mkopts(false); /* default segment size now */
    db = open_at(f->db, &def);
    expect_content(db, exp, N + 2);
    close_ok(db);
    db = open_at(f->db, &o);
    assert_int_equal(axs_compact(db), AXS_OK);
    expect_content(db, exp, N + 2);
    st = stats_of(db);
    files = seg_files(f->db, &disk);
    TU_REQUIRE(files == st.segments && disk == st.log_bytes,
               "after compaction: %zu files / %" PRIu64 " bytes on disk, stats %" PRIu64
               " / %" PRIu64,
               files, disk, st.segments, st.log_bytes);
    close_ok(db);
    free((void *)exp[N].v);
    free((void *)exp[N + 1].k);
}

static void test_compaction(void **state)
{
    fx *f = *state;
    axs_options o = mkopts(true);
    o.segment_size = 256 * 1024;
    o.compaction_garbage_ratio = 0; /* manual compaction only: garbage must build up first */
    axs_db *db = open_at(f->db, &o);
    /* compaction of an empty database */
    assert_int_equal(axs_compact(db), AXS_OK);
    enum { N = 400, VL = 1000, ROUNDS = 6 };
    static uint8_t vals[N][VL];
    static char ks[N][16];
    static kv exp[N];
    for (unsigned r = 0; r < ROUNDS; r++)
        for (unsigned i = 0; i < N; i++) {
            fill_bytes(vals[i], VL, r * N + i);
            exp[i] = (kv){ks[i], num_key(ks[i], i), vals[i], VL};
            put_ok(db, exp[i].k, exp[i].kl, exp[i].v, exp[i].vl);
        }
    for (unsigned i = 0; i < N; i += 4)
        del_ok(db, ks[i], 6);
    size_t n = 0;
    for (unsigned i = 0; i < N; i++)
        if (i % 4)
            exp[n++] = exp[i];
    axs_stats before = stats_of(db);
    uint64_t log_before = prop_u64(db, "alexstorage.log-bytes");
    TU_REQUIRE(before.live_bytes < before.log_bytes / 4,
               "live_bytes %" PRIu64 " of log_bytes %" PRIu64 " after 6 overwrites",
               before.live_bytes, before.log_bytes);
    assert_int_equal(axs_compact(db), AXS_OK);
    axs_stats after = stats_of(db);
    uint64_t log_after = prop_u64(db, "alexstorage.log-bytes");
    TU_REQUIRE(log_after < log_before / 4,
               "compaction left %" PRIu64 " log bytes of %" PRIu64, log_after, log_before);
    TU_REQUIRE(after.live_bytes <= after.log_bytes && after.live_bytes >= after.log_bytes / 2,
               "after compaction live_bytes %" PRIu64 " log_bytes %" PRIu64, after.live_bytes,
               after.log_bytes);
    TU_REQUIRE(after.live_bytes == before.live_bytes,
               "compaction changed live_bytes: %" PRIu64 " -> %" PRIu64, before.live_bytes,
               after.live_bytes);
    TU_REQUIRE(after.last_sequence == before.last_sequence,
               "compaction changed last_sequence: %" PRIu64 " -> %" PRIu64,
               before.last_sequence, after.last_sequence);
    uint64_t disk = 0;
    size_t files = seg_files(f->db, &disk);
    TU_REQUIRE(files == after.segments && disk == after.log_bytes,
               "old segments not removed: %zu files / %" PRIu64 " bytes on disk, stats %" PRIu64
               " / %" PRIu64,
               files, disk, after.segments, after.log_bytes);
    expect_content(db, exp, n);
    /* writes go on after compaction; compacting again is fine */
    put_str(db, "new", "after compaction");
    assert_int_equal(axs_compact(db), AXS_OK);
    assert_int_equal(axs_compact(db), AXS_OK);
    del_ok(db, "new", 3);
    expect_content(db, exp, n);
    uint64_t seq = stats_of(db).last_sequence;
    close_ok(db);

    o.create_if_missing = false;
    db = open_at(f->db, &o);
    expect_content(db, exp, n);
    TU_REQUIRE(stats_of(db).last_sequence == seq, "last_sequence after reopen %" PRIu64
               ", expected %" PRIu64, stats_of(db).last_sequence, seq);
    assert_int_equal(axs_compact(db), AXS_OK);
    close_ok(db);
    /* after a compaction, the log alone (no checkpoint) rebuilds the same state */
    remove_in(f->db, "CHECKPOINT");
    db = open_at(f->db, &o);
    expect_content(db, exp, n);
    TU_REQUIRE(stats_of(db).last_sequence == seq,
               "last_sequence after compaction and a reopen without checkpoint: %" PRIu64
               ", expected %" PRIu64 " (sequence numbers must never go back)",
               stats_of(db).last_sequence, seq);
    /* deleting everything and compacting leaves (almost) nothing */
    for (size_t i = 0; i < n; i++)
        del_ok(db, exp[i].k, exp[i].kl);
    assert_int_equal(axs_compact(db), AXS_OK);
    expect_content(db, exp, 0);
    uint64_t lb = prop_u64(db, "alexstorage.log-bytes");
    TU_REQUIRE(lb <= 4096, "an empty compacted database holds %" PRIu64 " log bytes", lb);
    close_ok(db);
    db = open_at(f->db, &o);
    expect_content(db, exp, 0);
    close_ok(db);
}

/* compaction with compressed values and a value larger than a segment */
static void test_compaction_mixed(void **state)
{
    fx *f = *state;
    axs_options o = mkopts(true);
    o.segment_size = 64 * 1024;
    o.compression = AXS_COMPRESSION_LZ4;
    axs_db *db = open_at(f->db, &o);
    size_t big = 300 * 1024;
    uint8_t *bv = tu_xmalloc(big);
    fill_bytes(bv, big, 5);
    uint8_t cv[20000];
    memset(cv, 'c', sizeof cv);
    put_ok(db, "big", 3, bv, big);
    put_ok(db, "comp", 4, cv, sizeof cv);
    put_ok(db, "empty", 5, "", 0);
    put_ok(db, "", 0, "emptykey", 8);
    for (int r = 0; r < 3; r++) {
        put_ok(db, "tmp", 3, bv, 70000);
        del_ok(db, "tmp", 3);
    }
    kv exp[] = {{"", 0, "emptykey", 8},
                {"big", 3, bv, big},
                {"comp", 4, cv, sizeof cv},
                {"empty", 5, "", 0}};
    assert_int_equal(axs_compact(db), AXS_OK);
    expect_content(db, exp, 4);
    close_ok(db);
    o.create_if_missing = false;
    o.compression = AXS_COMPRESSION_NONE;
    db = open_at(f->db, &o);
    expect_content(db, exp, 4);
    assert_int_equal(axs_compact(db), AXS_OK);
    expect_content(db, exp, 4);
    close_ok(db);
    remove_in(f->db, "CHECKPOINT");
    db = open_at(f->db, &o);
    expect_content(db, exp, 4);
    close_ok(db);
    free(bv);
}

/* ---- threads (db.h contract 6) ------------------------------------------------------------ */

enum { TH_WRITERS = 3, TH_KEYS = 1500 };

typedef struct th_arg {
    axs_db *db;
    int id;
    volatile int *writers_done;
    pthread_mutex_t *mu;
    char err[256];
} th_arg;

/* Key "t<id>-<n>", value "value of t<id>-<n> #<version>": a reader can check any value. */
static size_t th_key(char *buf, int id, unsigned n)
{
    return (size_t)sprintf(buf, "t%d-%05u", id, n);
}

static size_t th_val(char *buf, const char *key, size_t kl, unsigned version)
{
    return (size_t)sprintf(buf, "value of %.*s #%u", (int)kl, key, version);
}

static bool th_value_ok(const char *k, size_t kl, const char *v, size_t vl)
{
    char want[64];
    size_t wl = th_val(want, k, kl, 0);
    /* everything up to '#' must match */
    size_t pre = wl - 1;
    return vl >= pre + 1 && memcmp(v, want, pre) == 0;
}

static void *th_writer(void *p)
{
    th_arg *a = p;
    char k[32], v[64];
    for (unsigned n = 0; n < TH_KEYS; n++) {
        size_t kl = th_key(k, a->id, n);
        if (axs_put(a->db, NULL, k, kl, v, th_val(v, k, kl, 0)) != AXS_OK) {
            snprintf(a->err, sizeof a->err, "writer %d: put %u failed", a->id, n);
            break;
        }
        if (n % 3 == 2) { /* overwrite an older key through a batch, delete another */
            axs_batch *b = axs_batch_create();
            char k2[32], v2[64];
            size_t k2l = th_key(k2, a->id, n - 1);
            axs_batch_put(b, k2, k2l, v2, th_val(v2, k2, k2l, 1));
            size_t k3l = th_key(k2, a->id, n - 2);
            axs_batch_delete(b, k2, k3l);
            int rc = axs_write(a->db, NULL, b);
            axs_batch_destroy(b);
            if (rc != AXS_OK) {
                snprintf(a->err, sizeof a->err, "writer %d: batch at %u failed", a->id, n);
                break;
            }
        }
    }
    pthread_mutex_lock(a->mu);
    (*a->writers_done)++;
    pthread_mutex_unlock(a->mu);
    return NULL;
}

static void *th_reader(void *p)
{
    th_arg *a = p;
    for (;;) {
        pthread_mutex_lock(a->mu);
        int done = *a->writers_done;
        pthread_mutex_unlock(a->mu);
        if (done == TH_WRITERS)
            break;
        /* a walk: keys strictly increasing, values consistent with their keys */
        axs_iter *it = NULL;
        if (axs_iter_create(a->db, NULL, &it) != AXS_OK) {
            snprintf(a->err, sizeof a->err, "reader: iter_create failed");
            return NULL;
        }
        char prev[64];
        size_t prevl = 0;
        bool first = true;
        axs_iter_seek_to_first(it);
        for (unsigned steps = 0; axs_iter_valid(it) && steps < 500; steps++) {
            size_t kl, vl;
            const char *k = axs_iter_key(it, &kl);
            const char *v = axs_iter_value(it, &vl);
            if (kl >= sizeof prev || !th_value_ok(k, kl, v, vl) ||
                (!first && keycmp(prev, prevl, k, kl) >= 0)) {
                snprintf(a->err, sizeof a->err, "reader: bad iterator entry \"%.*s\"",
                         (int)(kl < 40 ? kl : 40), k);
                axs_iter_destroy(it);
                return NULL;
            }
            memcpy(prev, k, kl);
            prevl = kl;
            first = false;
            axs_iter_next(it);
        }
        int st = axs_iter_status(it);
        axs_iter_destroy(it);
        if (st != AXS_OK) {
            snprintf(a->err, sizeof a->err, "reader: iterator status %d", st);
            return NULL;
        }
        /* pinned reads of random keys stay intact while others write */
        char k[32];
        size_t kl = th_key(k, (int)(prevl % TH_WRITERS), (unsigned)(prevl * 37 % TH_KEYS));
        axs_pinned *pin = NULL;
        bool found = false;
        if (axs_get_pinned(a->db, NULL, k, kl, &pin, &found) != AXS_OK) {
            snprintf(a->err, sizeof a->err, "reader: get_pinned failed");
            return NULL;
        }
        if (found) {
            size_t vl = 0;
            char copy[64];
            const char *v = axs_pinned_data(pin, &vl);
            bool ok = vl < sizeof copy && th_value_ok(k, kl, v, vl);
            if (ok)
                memcpy(copy, v, vl);
            sched_yield();
            ok = ok && memcmp(copy, axs_pinned_data(pin, NULL), vl) == 0;
            axs_pinned_release(pin);
            if (!ok) {
                snprintf(a->err, sizeof a->err, "reader: pinned value of %s wrong or changed", k);
                return NULL;
            }
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    fx *f = *state;
    axs_options o = mkopts(true);
    o.segment_size = 64 * 1024;
    axs_db *db = open_at(f->db, &o);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    volatile int done = 0;
    th_arg args[TH_WRITERS + 1];
    pthread_t th[TH_WRITERS + 1];
    for (int i = 0; i <= TH_WRITERS; i++) {
        args[i] = (th_arg){db, i, &done, &mu, ""};
        int rc = pthread_create(&th[i], NULL, i < TH_WRITERS ? th_writer : th_reader, &args[i]);
        TU_REQUIRE(rc == 0, "pthread_create: %s", strerror(rc));
    }
    for (int i = 0; i <= TH_WRITERS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i <= TH_WRITERS; i++)
        TU_REQUIRE(args[i].err[0] == '\0', "%s", args[i].err);
    /* the final state is exactly what each writer's own sequence implies */
    static char ks[TH_WRITERS * TH_KEYS][32], vs[TH_WRITERS * TH_KEYS][64];
    static kv exp[TH_WRITERS * TH_KEYS];
    size_t n = 0;
    for (int id = 0; id < TH_WRITERS; id++)
        for (unsigned k = 0; k < TH_KEYS; k++) {
            /* n % 3 == 2 deletes n - 2 and rewrites n - 1 (version 1) */
            bool deleted = k % 3 == 0 && k + 2 < TH_KEYS;
            unsigned version = k % 3 == 1 && k + 1 < TH_KEYS ? 1 : 0;
            if (deleted)
                continue;
            size_t kl = th_key(ks[n], id, k);
            size_t vl = th_val(vs[n], ks[n], kl, version);
            exp[n] = (kv){ks[n], kl, vs[n], vl};
            n++;
        }
    expect_content(db, exp, n);
    close_ok(db);
    o.create_if_missing = false;
    db = open_at(f->db, &o);
    expect_content(db, exp, n);
    close_ok(db);
}

/* ---- statistics and properties ------------------------------------------------------------ */

static void test_stats_and_properties(void **state)
{
    fx *f = *state;
    axs_db *db = open_new(f);
    axs_stats st = stats_of(db);
    TU_REQUIRE(st.num_keys == 0 && st.last_sequence == 0 && st.puts == 0 && st.deletes == 0 &&
                   st.gets == 0 && st.batches == 0 && st.live_bytes == 0,
               "a new database has non-zero counters");
    put_str(db, "a", "1");
    put_str(db, "b", "2");
    put_str(db, "a", "3");
    del_ok(db, "b", 1);
    del_ok(db, "zz", 2);
    st = stats_of(db);
    TU_REQUIRE(st.puts == 3 && st.deletes == 2, "puts %" PRIu64 " deletes %" PRIu64, st.puts,
               st.deletes);
    TU_REQUIRE(st.num_keys == 1, "num_keys %" PRIu64, st.num_keys);
    /* RocksDB: every write takes a sequence number, even the delete of a missing key */
    TU_REQUIRE(st.last_sequence == 5, "last_sequence %" PRIu64 ", expected 5", st.last_sequence);
    expect_str(db, "a", "3"); /* three reads */
    st = stats_of(db);
    TU_REQUIRE(st.gets == 3, "gets %" PRIu64 " after get, get_alloc and get_pinned", st.gets);
    axs_batch *b = axs_batch_create();
    assert_int_equal(axs_batch_put(b, "c", 1, "4", 1), AXS_OK);
    assert_int_equal(axs_batch_put(b, "d", 1, "5", 1), AXS_OK);
    assert_int_equal(axs_write(db, NULL, b), AXS_OK);
    axs_batch_destroy(b);
    st = stats_of(db);
    TU_REQUIRE(st.batches == 1 && st.num_keys == 3 && st.last_sequence == 7,
               "batches %" PRIu64 " num_keys %" PRIu64 " last_sequence %" PRIu64, st.batches,
               st.num_keys, st.last_sequence);
    TU_REQUIRE(st.index_bytes > 0, "index_bytes 0 with keys");
    TU_REQUIRE(st.live_bytes > 0 && st.live_bytes <= st.log_bytes,
               "live_bytes %" PRIu64 " log_bytes %" PRIu64, st.live_bytes, st.log_bytes);
    assert_int_equal(axs_flush(db), AXS_OK);
    uint64_t disk = 0;
    size_t files = seg_files(f->db, &disk);
    st = stats_of(db);
    TU_REQUIRE(files == st.segments && disk == st.log_bytes,
               "%zu files / %" PRIu64 " bytes on disk, stats %" PRIu64 " / %" PRIu64, files,
               disk, st.segments, st.log_bytes);

    /* properties agree with the stats */
    TU_REQUIRE(prop_u64(db, "alexstorage.num-keys") == st.num_keys, "num-keys");
    TU_REQUIRE(prop_u64(db, "alexstorage.live-bytes") == st.live_bytes, "live-bytes");
    TU_REQUIRE(prop_u64(db, "alexstorage.log-bytes") == st.log_bytes, "log-bytes");
    TU_REQUIRE(prop_u64(db, "alexstorage.segments") == st.segments, "segments");
    TU_REQUIRE(prop_u64(db, "alexstorage.index-bytes") == st.index_bytes, "index-bytes");
    TU_REQUIRE(prop_u64(db, "alexstorage.corruptions") == 0, "corruptions");
    char *s = axs_property(db, "alexstorage.stats");
    TU_REQUIRE(s != NULL && strlen(s) > 10, "alexstorage.stats: %s", s ? s : "NULL");
    free(s);
    const char *unknown[] = {"alexstorage.nope", "", "rocksdb.stats", "alexstorage.num-keys ",
                             "ALEXSTORAGE.STATS", "alexstorage."};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        s = axs_property(db, unknown[i]);
        TU_REQUIRE(s == NULL, "axs_property(\"%s\") = \"%s\", expected NULL", unknown[i], s);
    }
    close_ok(db);
    /* after reopen: the shape is the same, the counters of this session start over */
    axs_options o = mkopts(false);
    db = open_at(f->db, &o);
    axs_stats st2 = stats_of(db);
    TU_REQUIRE(st2.num_keys == 3 && st2.last_sequence == 7 && st2.live_bytes == st.live_bytes,
               "after reopen: num_keys %" PRIu64 " last_sequence %" PRIu64 " live %" PRIu64,
               st2.num_keys, st2.last_sequence, st2.live_bytes);
    close_ok(db);
}

/* ---- NULL arguments ----------------------------------------------------------------------- */

static void test_null_arguments(void **state)
{
    fx *f = *state;
    /* option initialisers and destructors: no-ops */
    axs_options_init(NULL);
    axs_write_options_init(NULL);
    axs_read_options_init(NULL);
    axs_batch_destroy(NULL);
    axs_batch_clear(NULL);
    axs_iter_destroy(NULL);
    axs_pinned_release(NULL);
    assert_int_equal(axs_close(NULL), AXS_OK);
    assert_int_equal(axs_batch_count(NULL), 0);
    assert_int_equal(axs_destroy(NULL, NULL), AXS_EINVAL);

    /* handle NULL */
    char buf[8];
    size_t vl = 0;
    bool found = false;
    char *a = NULL;
    axs_pinned *pin = NULL;
    axs_iter *it = NULL;
    axs_batch *b = axs_batch_create();
    assert_non_null(b);
    assert_int_equal(axs_put(NULL, NULL, "k", 1, "v", 1), AXS_EINVAL);
    assert_int_equal(axs_delete(NULL, NULL, "k", 1), AXS_EINVAL);
    assert_int_equal(axs_get(NULL, NULL, "k", 1, buf, sizeof buf, &vl, &found), AXS_EINVAL);
    assert_int_equal(axs_get_alloc(NULL, NULL, "k", 1, &a, &vl, &found), AXS_EINVAL);
    assert_int_equal(axs_get_pinned(NULL, NULL, "k", 1, &pin, &found), AXS_EINVAL);
    assert_int_equal(axs_write(NULL, NULL, b), AXS_EINVAL);
    assert_int_equal(axs_iter_create(NULL, NULL, &it), AXS_EINVAL);
    assert_int_equal(axs_flush(NULL), AXS_EINVAL);
    assert_int_equal(axs_compact(NULL), AXS_EINVAL);
    TU_REQUIRE(axs_property(NULL, "alexstorage.stats") == NULL, "property of NULL handle");
    const char *le = axs_last_error(NULL);
    TU_REQUIRE(le != NULL, "axs_last_error(NULL) returned NULL");
    axs_stats st;
    memset(&st, 0x77, sizeof st);
    axs_get_stats(NULL, &st);
    axs_get_stats(NULL, NULL);

    /* batch NULL */
    assert_int_equal(axs_batch_put(NULL, "k", 1, "v", 1), AXS_EINVAL);
    assert_int_equal(axs_batch_delete(NULL, "k", 1), AXS_EINVAL);
    /* NULL bytes with a non-zero length */
    assert_int_equal(axs_batch_put(b, NULL, 1, "v", 1), AXS_EINVAL);
    assert_int_equal(axs_batch_put(b, "k", 1, NULL, 1), AXS_EINVAL);
    assert_int_equal(axs_batch_delete(b, NULL, 1), AXS_EINVAL);
    assert_int_equal(axs_batch_count(b), 0);

    /* iterator NULL: no-ops, invalid, EINVAL status */
    axs_iter_seek_to_first(NULL);
    axs_iter_seek_to_last(NULL);
    axs_iter_seek(NULL, "k", 1);
    axs_iter_seek_for_prev(NULL, "k", 1);
    axs_iter_next(NULL);
    axs_iter_prev(NULL);
    assert_false(axs_iter_valid(NULL));
    size_t kl = 5;
    TU_REQUIRE(axs_iter_key(NULL, &kl) == NULL, "axs_iter_key(NULL)");
    TU_REQUIRE(axs_iter_value(NULL, &kl) == NULL, "axs_iter_value(NULL)");
    assert_int_equal(axs_iter_status(NULL), AXS_EINVAL);
    size_t pl = 5;
    TU_REQUIRE(axs_pinned_data(NULL, &pl) == NULL, "axs_pinned_data(NULL)");

    /* with a real handle */
    axs_db *db = open_new(f);
    put_str(db, "k", "v");
    assert_int_equal(axs_put(db, NULL, NULL, 1, "v", 1), AXS_EINVAL);
    assert_int_equal(axs_put(db, NULL, "k", 1, NULL, 1), AXS_EINVAL);
    assert_int_equal(axs_delete(db, NULL, NULL, 1), AXS_EINVAL);
    assert_int_equal(axs_get(db, NULL, NULL, 1, buf, sizeof buf, &vl, &found), AXS_EINVAL);
    assert_int_equal(axs_get(db, NULL, "k", 1, buf, sizeof buf, NULL, &found), AXS_EINVAL);
    assert_int_equal(axs_get(db, NULL, "k", 1, buf, sizeof buf, &vl, NULL), AXS_EINVAL);
    assert_int_equal(axs_get_alloc(db, NULL, NULL, 1, &a, &vl, &found), AXS_EINVAL);
    assert_int_equal(axs_get_alloc(db, NULL, "k", 1, NULL, &vl, &found), AXS_EINVAL);
    assert_int_equal(axs_get_alloc(db, NULL, "k", 1, &a, NULL, &found), AXS_EINVAL);
    assert_int_equal(axs_get_alloc(db, NULL, "k", 1, &a, &vl, NULL), AXS_EINVAL);
    assert_int_equal(axs_get_pinned(db, NULL, NULL, 1, &pin, &found), AXS_EINVAL);
    assert_int_equal(axs_get_pinned(db, NULL, "k", 1, NULL, &found), AXS_EINVAL);
    assert_int_equal(axs_get_pinned(db, NULL, "k", 1, &pin, NULL), AXS_EINVAL);
    assert_int_equal(axs_write(db, NULL, NULL), AXS_EINVAL);
    assert_int_equal(axs_iter_create(db, NULL, NULL), AXS_EINVAL);
    TU_REQUIRE(axs_property(db, NULL) == NULL, "axs_property(db, NULL)");
    axs_get_stats(db, NULL);
    /* an iterator seek with NULL bytes and a length is refused, not followed */
    assert_int_equal(axs_iter_create(db, NULL, &it), AXS_OK);
    axs_iter_seek(it, NULL, 3);
    TU_REQUIRE(!axs_iter_valid(it) && axs_iter_status(it) == AXS_EINVAL,
               "seek(NULL, 3): valid %d status %d", (int)axs_iter_valid(it),
               axs_iter_status(it));
    axs_iter_seek_for_prev(it, NULL, 3);
    TU_REQUIRE(!axs_iter_valid(it) && axs_iter_status(it) == AXS_EINVAL,
               "seek_for_prev(NULL, 3)");
    /* NULL length out-parameters are tolerated on a valid iterator and pin */
    axs_iter_seek(it, NULL, 0);
    TU_REQUIRE(axs_iter_valid(it), "seek(NULL, 0) = seek to the empty key");
    TU_REQUIRE(axs_iter_key(it, NULL) != NULL && axs_iter_value(it, NULL) != NULL,
               "key/value with NULL length");
    axs_iter_destroy(it);
    assert_int_equal(axs_get_pinned(db, NULL, "k", 1, &pin, &found), AXS_OK);
    TU_REQUIRE(found && axs_pinned_data(pin, NULL) != NULL, "pinned data with NULL length");
    axs_pinned_release(pin);
    /* nothing above changed the database */
    kv exp[] = {{"k", 1, "v", 1}};
    expect_content(db, exp, 1);
    close_ok(db);
    axs_batch_destroy(b);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_strerror_all_codes, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_options_defaults, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_missing_without_create, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_create_and_reopen, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_error_if_exists, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_read_only, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_busy, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_path_is_file, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_foreign_files, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_bad_arguments, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_destroy, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_close_null_and_errmsg, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_put_get_delete, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_empty_key_and_value, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_key_length_limits, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_value_length_limits, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_binary_keys, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_get_partial_copy, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_pinned_values_stay_intact, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_batch, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_iter_empty_db, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_iter_seeks, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_iter_full_walks, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_iter_concurrent_modification, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_iter_sees_state_at_creation, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_flush_and_process_crash, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_with_and_without_checkpoint, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_lz4_compression, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_segment_rollover, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_compaction, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_compaction_mixed, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_threads, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_stats_and_properties, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_null_arguments, tu_dir_setup, tu_dir_teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
