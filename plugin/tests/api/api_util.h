/*
 * api_util.h: helpers shared by the C API tests of plugin/tests/api/ (cmocka, header-only).
 *
 * Every test program is built twice (plugin/tests/api/CMakeLists.txt): linked against the
 * plugin (test_api_*) and linked against real RocksDB (test_api_*_real, AXP_AGAINST_REAL
 * defined). The expected values in the tests are what real RocksDB 7.8.3 does, and the _real
 * copies keep them honest. Cases where real RocksDB crashes (NULL handles, NULL errptr,
 * lengths it does not check) or where the plugin must differ on purpose (a RocksDB database
 * opened in native mode) call AXP_PLUGIN_ONLY() and are skipped in the _real copies.
 *
 * Each test gets a fresh scratch directory (axu_setup/axu_teardown as cmocka group-less
 * setup/teardown), removed afterwards.
 */
#ifndef AXP_API_UTIL_H
#define AXP_API_UTIL_H

#define _GNU_SOURCE /* mkdtemp, strdup; include this header first */

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <rocksdb/c.h>

#ifdef AXP_AGAINST_REAL
#define AXP_PLUGIN_ONLY()                                                                          \
    do {                                                                                           \
        fprintf(stderr, "[ SKIPPED  ] plugin-only case (real RocksDB crashes or differs)\n");      \
        skip();                                                                                    \
    } while (0)
#else
#define AXP_PLUGIN_ONLY() ((void)0)
#endif

/* The scratch directory of the running test. */
static char axu_dir[256];

static inline void axu_rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", path, path);
    if (system(cmd) != 0)
        fprintf(stderr, "rm -rf %s failed\n", path);
}

static inline int axu_setup(void **state)
{
    (void)state;
    snprintf(axu_dir, sizeof axu_dir, "/tmp/axp_api_XXXXXX");
    if (!mkdtemp(axu_dir))
        return -1;
    return 0;
}

static inline int axu_teardown(void **state)
{
    (void)state;
    axu_rm_rf(axu_dir);
    return 0;
}

/* For the permission cases: root ignores file permissions, so as root this hands the scratch
 * directory to the unprivileged user nobody (65534) and becomes that user, for good (CTest runs
 * every case in its own process; run by hand, the cases after this one run as nobody too).
 * Returns 0 when the process is unprivileged, -1 if the switch failed. */
static inline int axu_become_unprivileged(void)
{
    if (geteuid() != 0)
        return 0;
    if (chown(axu_dir, 65534, 65534) != 0 || setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
        setuid(65534) != 0)
        return -1;
    /* Changing user makes the process undumpable, and LeakSanitizer's tracer could then not
     * attach to it at exit. */
    if (prctl(PR_SET_DUMPABLE, 1) != 0)
        return -1;
    return geteuid() == 0 ? -1 : 0;
}

/* A path inside the scratch directory (static buffer; copy it to keep two). */
static inline const char *axu_path(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", axu_dir, name);
    return p;
}

/* RocksDB's Status::ToString() prefixes. Note NotFound's is "NotFound: " (no space). */
static const char *const axu_prefixes[] = {
    "NotFound: ",        "Corruption: ",          "Not implemented: ",
    "Invalid argument: ", "IO error: ",            "Merge in progress: ",
    "Result incomplete: ", "Shutdown in progress: ", "Operation timed out: ",
    "Operation aborted: ", "Resource busy: ",       "Operation expired: ",
    "Operation failed. Try again.: ", "Compaction too large: ", "Column family dropped: ",
};

static inline int axu_has_rocksdb_prefix(const char *msg)
{
    for (size_t i = 0; i < sizeof axu_prefixes / sizeof axu_prefixes[0]; i++)
        if (strncmp(msg, axu_prefixes[i], strlen(axu_prefixes[i])) == 0)
            return 1;
    return 0;
}

/* Fails unless err is non-NULL and starts with prefix; frees it and resets it to NULL. */
#define axu_expect_err(errp, prefix) axu_expect_err_at((errp), (prefix), __FILE__, __LINE__)
static inline void axu_expect_err_at(char **err, const char *prefix, const char *file, int line)
{
    if (*err == NULL) {
        print_error("%s:%d: expected an error starting with \"%s\", got none\n", file, line,
                       prefix);
        _fail(file, line);
    }
    if (strncmp(*err, prefix, strlen(prefix)) != 0) {
        print_error("%s:%d: expected an error starting with \"%s\", got \"%s\"\n", file, line,
                       prefix, *err);
        free(*err);
        *err = NULL;
        _fail(file, line);
    }
    free(*err);
    *err = NULL;
}

#define axu_expect_ok(err) axu_expect_ok_at((err), __FILE__, __LINE__)
static inline void axu_expect_ok_at(char *err, const char *file, int line)
{
    if (err != NULL) {
        print_error("%s:%d: unexpected error \"%s\"\n", file, line, err);
        _fail(file, line);
    }
}

/* For calls where real RocksDB crashes and the plugin may either do nothing or fail: the error,
 * if any, must carry one of RocksDB's prefixes. Frees it. */
#define axu_expect_nothing_or_err(errp) axu_expect_nothing_or_err_at((errp), __FILE__, __LINE__)
static inline void axu_expect_nothing_or_err_at(char **err, const char *file, int line)
{
    if (*err && !axu_has_rocksdb_prefix(*err)) {
        print_error("%s:%d: error without a RocksDB prefix: \"%s\"\n", file, line, *err);
        _fail(file, line);
    }
    free(*err);
    *err = NULL;
}

static inline rocksdb_options_t *axu_create_options(void)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    return o;
}

/* Opens (creating) a database at path with default options; fails the test on error. */
static inline rocksdb_t *axu_open(const char *path)
{
    rocksdb_options_t *o = axu_create_options();
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, path, &err);
    rocksdb_options_destroy(o);
    axu_expect_ok(err);
    assert_non_null(db);
    return db;
}

static inline void axu_put(rocksdb_t *db, const char *k, size_t kn, const char *v, size_t vn)
{
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    char *err = NULL;
    rocksdb_put(db, wo, k, kn, v, vn, &err);
    rocksdb_writeoptions_destroy(wo);
    axu_expect_ok(err);
}

/* rocksdb_get; returns the malloc'd value (NULL if missing), fails the test on error. */
static inline char *axu_get(rocksdb_t *db, const char *k, size_t kn, size_t *vn)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    char *err = NULL;
    char *v = rocksdb_get(db, ro, k, kn, vn, &err);
    rocksdb_readoptions_destroy(ro);
    axu_expect_ok(err);
    return v;
}

/* A listing of dir: one "name size fnv64" line per file, sorted by name; malloc'd. */
static inline int axu_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline char *axu_dir_fingerprint(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[512];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 512)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], axu_cmp_str);
    size_t cap = 64 + n * 600, at = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        uint64_t h = 0xcbf29ce484222325ULL;
        long size = -1;
        FILE *f = fopen(p, "rb");
        if (f) {
            int c;
            size = 0;
            while ((c = getc(f)) != EOF) {
                h = (h ^ (unsigned char)c) * 0x100000001b3ULL;
                size++;
            }
            fclose(f);
        }
        at += (size_t)snprintf(out + at, cap - at, "%s %ld %016llx\n", names[i], size,
                               (unsigned long long)h);
        free(names[i]);
    }
    return out;
}

/* main() of every test program: an optional cmocka name filter as the first argument. */
#define AXU_MAIN(tests)                                                                            \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        if (argc > 1)                                                                              \
            cmocka_set_test_filter(argv[1]);                                                       \
        return cmocka_run_group_tests(tests, NULL, NULL);                                          \
    }

#define AXU_TEST(f) cmocka_unit_test_setup_teardown(f, axu_setup, axu_teardown)

#endif
