/*
 * test_gen.c: tests of the generated part of librocksdb_alex.so (plugin/gen/gen_capi.py).
 *
 * Uses only the public <rocksdb/c.h>, the plugin's file, and the generator's outputs (the
 * list of c.h names, the list of stubs, and the probe program built twice: against the real
 * librocksdb and against the plugin). Run under ASan too: the ownership cases are there to let
 * LeakSanitizer and ASan catch a leak, double free or use after free in the generated code.
 *
 *   test_gen [case]   (a cmocka name filter, e.g. test_gen 'ownership_*')
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <rocksdb/c.h>

/* ---- helpers--------------------------------------------------------------------------------- */

typedef struct lines {
    char **v;
    size_t n;
} lines;

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void lines_add(lines *l, const char *s)
{
    char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
    assert_non_null(v);
    l->v = v;
    l->v[l->n] = strdup(s);
    assert_non_null(l->v[l->n]);
    l->n++;
}

/* Every line of a file or of a command's output, without the newline. A command must exit 0. */
static lines read_lines(FILE *f)
{
    lines l = {0};
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&buf, &cap, f)) >= 0) {
        if (n > 0 && buf[n - 1] == '\n')
            buf[n - 1] = '\0';
        lines_add(&l, buf);
    }
    free(buf);
    return l;
}

static lines file_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    lines l = read_lines(f);
    fclose(f);
    return l;
}

static lines command_lines(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    if (!f)
        fail_msg("cannot run %s", cmd);
    lines l = read_lines(f);
    int status = pclose(f);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("`%s` failed (status %d)", cmd, status);
    return l;
}

static bool in_lines(const lines *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s))
            return true;
    return false;
}

/* ---- (a) exports----------------------------------------------------------------------------- */

/* Whether exports.map's "global:" list names sym (entries are names or prefix*). */
static bool exported_by_map(const char *sym)
{
    FILE *f = fopen(AXP_EXPORTS_MAP, "r");
    if (!f)
        fail_msg("cannot open %s", AXP_EXPORTS_MAP);
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *g = strstr(text, "global:"), *l = strstr(text, "local:");
    assert_non_null(g);
    if (l)
        *l = '\0';
    for (char *save = NULL, *tok = strtok_r(g + 7, "; \t\n", &save); tok;
         tok = strtok_r(NULL, "; \t\n", &save)) {
        size_t len = strlen(tok);
        if (len && tok[len - 1] == '*' ? !strncmp(sym, tok, len - 1) : !strcmp(sym, tok))
            return true;
    }
    return false;
}

static void exports_every_c_h_function(void **state)
{
    (void)state;
    lines names = file_lines(AXP_NAMES_PATH);
    assert_true(names.n > 700);

    void *h = dlopen(AXP_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        fail_msg("dlopen: %s", dlerror());
    size_t missing = 0;
    for (size_t i = 0; i < names.n; i++) {
        if (!dlsym(h, names.v[i])) {
            print_error("not exported: %s\n", names.v[i]);
            missing++;
        }
    }
    dlclose(h);

    /* Nothing but the rocksdb_* names and the map's additions (absolute symbols aside). */
    lines syms = command_lines(AXP_NM " -D --defined-only " AXP_PLUGIN_PATH);
    size_t foreign = 0, exported = 0;
    for (size_t i = 0; i < syms.n; i++) {
        char addr[64], type[8], name[512];
        if (sscanf(syms.v[i], "%63s %7s %511s", addr, type, name) != 3 || !strcmp(type, "A"))
            continue;
        if (strncmp(name, "rocksdb_", 8) != 0) {
            if (!exported_by_map(name)) {
                print_error("exported but not in exports.map: %s\n", name);
                foreign++;
            }
        } else {
            exported++;
            if (!in_lines(&names, name))
                print_message("note: exported, not in c.h: %s\n", name);
        }
    }
    print_message("%zu c.h functions, %zu rocksdb_* symbols exported\n", names.n, exported);
    lines_free(&syms);
    lines_free(&names);
    assert_int_equal(missing, 0);
    assert_int_equal(foreign, 0);
}

/* ---- (b), (c) the probe against both libraries----------------------------------------------- */

static void compare_probe(const char *mode)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s", AXP_PROBE_ROCKSDB, mode);
    lines want = command_lines(cmd);
    snprintf(cmd, sizeof cmd, "'%s' %s", AXP_PROBE_ALEX, mode);
    lines got = command_lines(cmd);
    size_t bad = 0;
    for (size_t i = 0; i < want.n || i < got.n; i++) {
        const char *w = i < want.n ? want.v[i] : "(none)";
        const char *g = i < got.n ? got.v[i] : "(none)";
        if (strcmp(w, g) != 0) {
            print_error("rocksdb: %s\nplugin:  %s\n", w, g);
            bad++;
        }
    }
    print_message("%s: %zu lines compared, %zu differ\n", mode, want.n, bad);
    assert_true(want.n > 0);
    lines_free(&want);
    lines_free(&got);
    assert_int_equal(bad, 0);
}

static void defaults_match_rocksdb(void **state)
{
    (void)state;
    compare_probe("defaults");
}

static void roundtrip_matches_rocksdb(void **state)
{
    (void)state;
    compare_probe("roundtrip");
}

static void methods_match_rocksdb(void **state)
{
    (void)state;
    compare_probe("methods");
}

/* ---- (d) not implemented--------------------------------------------------------------------- */

static lines stubs;

static bool is_stub(const char *name)
{
    if (!stubs.v)
        stubs = file_lines(AXP_STUBS_PATH);
    if (in_lines(&stubs, name))
        return true;
    print_message("skipped: %s is hand-written now\n", name);
    return false;
}

/* *err must hold exactly "Not implemented: <name>"; frees it. */
static void expect_not_implemented(char **err, const char *name)
{
    char want[256];
    snprintf(want, sizeof want, "Not implemented: %s", name);
    assert_non_null(*err);
    assert_string_equal(*err, want);
    free(*err);
    *err = NULL;
}

static void not_implemented_sets_errptr(void **state)
{
    (void)state;
    rocksdb_options_t *opt = rocksdb_options_create();
    char *err = NULL;
    if (is_stub("rocksdb_optimistictransactiondb_open")) {
        assert_null(rocksdb_optimistictransactiondb_open(opt, "/nonexistent/h1", &err));
        expect_not_implemented(&err, "rocksdb_optimistictransactiondb_open");
    }
    if (is_stub("rocksdb_get_options_from_string")) {
        rocksdb_options_t *n = rocksdb_options_create();
        rocksdb_get_options_from_string(opt, "write_buffer_size=1", n, &err);
        expect_not_implemented(&err, "rocksdb_get_options_from_string");
        rocksdb_options_destroy(n);
    }
    rocksdb_options_destroy(opt);
}

/* RocksDB's convention: the old message is freed (LeakSanitizer checks it). */
static void not_implemented_frees_old_message(void **state)
{
    (void)state;
    char *err = strdup("IO error: an older failure");
    assert_non_null(err);
    if (is_stub("rocksdb_sstfilewriter_open")) {
        rocksdb_sstfilewriter_open(NULL, "/nonexistent/h1.sst", &err);
        expect_not_implemented(&err, "rocksdb_sstfilewriter_open");
    }
    free(err);
}

static void not_implemented_errptr_null(void **state)
{
    (void)state;
    rocksdb_options_t *opt = rocksdb_options_create();
    rocksdb_transactiondb_options_t *topt = rocksdb_transactiondb_options_create();
    if (is_stub("rocksdb_transactiondb_open"))
        assert_null(rocksdb_transactiondb_open(opt, topt, "/nonexistent/h1", NULL));
    if (is_stub("rocksdb_sstfilewriter_finish"))
        rocksdb_sstfilewriter_finish(NULL, NULL);
    rocksdb_transactiondb_options_destroy(topt);
    rocksdb_options_destroy(opt);
}

static void not_implemented_without_errptr_returns_zero(void **state)
{
    (void)state;
    if (is_stub("rocksdb_perfcontext_create"))
        assert_null(rocksdb_perfcontext_create());
    if (is_stub("rocksdb_column_family_handle_get_id"))
        assert_int_equal(rocksdb_column_family_handle_get_id(NULL), 0);
    if (is_stub("rocksdb_livefiles_count"))
        assert_int_equal(rocksdb_livefiles_count(NULL), 0);
}

/* ---- ownership (meaningful under ASan/LeakSanitizer)----------------------------------------- */

static int destructor_calls;

static void count_destructor(void *state)
{
    assert_ptr_equal(state, &destructor_calls);
    destructor_calls++;
}

static char *transform_none(void *state, const char *key, size_t length, size_t *dst_length)
{
    (void)state;
    *dst_length = length;
    return (char *)key;
}

static unsigned char in_domain_all(void *state, const char *key, size_t length)
{
    (void)state, (void)key, (void)length;
    return 1;
}

static const char *name_h1(void *state)
{
    (void)state;
    return "h1";
}

/* set_prefix_extractor adopts the transform: shared by copies, destroyed with the last. */
static void ownership_adopted_prefix_extractor(void **state)
{
    (void)state;
    destructor_calls = 0;
    rocksdb_options_t *opt = rocksdb_options_create();
    rocksdb_options_set_prefix_extractor(opt, rocksdb_slicetransform_create_fixed_prefix(3));
    rocksdb_slicetransform_t *st = rocksdb_slicetransform_create(
        &destructor_calls, count_destructor, transform_none, in_domain_all, in_domain_all,
        name_h1);
    rocksdb_options_set_prefix_extractor(opt, st); /* releases the fixed-prefix one */
    rocksdb_options_t *copy = rocksdb_options_create_copy(opt);
    rocksdb_options_destroy(opt);
    assert_int_equal(destructor_calls, 0);
    rocksdb_options_destroy(copy);
    assert_int_equal(destructor_calls, 1);
}

/* block_based_options_set_filter_policy adopts; set_block_cache shares (the caller still
 * destroys its cache); the table factory copies the table options. */
static void ownership_table_options(void **state)
{
    (void)state;
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom(10));
    rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_ribbon(9.9));
    rocksdb_cache_t *cache = rocksdb_cache_create_lru(1 << 20);
    rocksdb_block_based_options_set_block_cache(t, cache);
    rocksdb_block_based_options_set_block_cache(t, cache);
    rocksdb_options_t *opt = rocksdb_options_create();
    rocksdb_options_set_row_cache(opt, cache);
    rocksdb_options_set_block_based_table_factory(opt, t);
    rocksdb_block_based_options_destroy(t);
    assert_int_equal(rocksdb_cache_get_capacity(cache), 1 << 20);
    rocksdb_cache_destroy(cache);
    rocksdb_options_t *copy = rocksdb_options_create_copy(opt);
    rocksdb_options_set_block_based_table_factory(copy, NULL); /* ignored, as in RocksDB */
    rocksdb_options_destroy(opt);
    rocksdb_options_destroy(copy);
}

static void ownership_compaction_filter_factory(void **state)
{
    (void)state;
    destructor_calls = 0;
    rocksdb_options_t *opt = rocksdb_options_create();
    rocksdb_options_set_compaction_filter_factory(
        opt, rocksdb_compactionfilterfactory_create(&destructor_calls, count_destructor, NULL,
                                                    name_h1));
    rocksdb_options_destroy(opt);
    assert_int_equal(destructor_calls, 1);
}

/* Copied values, strings and arrays: owned by each object. */
static void ownership_values_strings_arrays(void **state)
{
    (void)state;
    rocksdb_options_t *opt = rocksdb_options_create();
    rocksdb_universal_compaction_options_t *u = rocksdb_universal_compaction_options_create();
    rocksdb_options_set_universal_compaction_options(opt, u);
    rocksdb_universal_compaction_options_destroy(u);
    rocksdb_fifo_compaction_options_t *fifo = rocksdb_fifo_compaction_options_create();
    rocksdb_options_set_fifo_compaction_options(opt, fifo);
    rocksdb_fifo_compaction_options_destroy(fifo);
    rocksdb_options_set_db_log_dir(opt, "/tmp/h1-log");
    rocksdb_options_set_db_log_dir(opt, "/tmp/h1-log2");
    rocksdb_options_set_wal_dir(opt, "/tmp/h1-wal");
    int levels[3] = {0, 1, 4};
    rocksdb_options_set_compression_per_level(opt, levels, 3);
    rocksdb_options_set_max_bytes_for_level_multiplier_additional(opt, levels, 3);
    rocksdb_dbpath_t *p1 = rocksdb_dbpath_create("/tmp/h1-a", 10);
    rocksdb_dbpath_t *p2 = rocksdb_dbpath_create("/tmp/h1-b", 20);
    const rocksdb_dbpath_t *paths[2] = {p1, p2};
    rocksdb_options_set_db_paths(opt, paths, 2);
    rocksdb_dbpath_destroy(p1);
    rocksdb_dbpath_destroy(p2);
    rocksdb_options_optimize_for_point_lookup(opt, 8);
    rocksdb_options_optimize_level_style_compaction(opt, 64 << 20);
    rocksdb_options_optimize_universal_style_compaction(opt, 64 << 20);
    rocksdb_options_set_min_level_to_compress(opt, 2);
    rocksdb_options_t *copy = rocksdb_options_create_copy(opt);
    rocksdb_options_destroy(opt);
    rocksdb_options_destroy(copy);

    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_timestamp(ro, "ts1", 3);
    rocksdb_readoptions_set_timestamp(ro, "ts22", 4);
    rocksdb_readoptions_set_iter_start_ts(ro, "t", 1);
    rocksdb_readoptions_set_iter_start_ts(ro, NULL, 0);
    rocksdb_readoptions_destroy(ro);
    rocksdb_compactoptions_t *co = rocksdb_compactoptions_create();
    char ts[2] = {'x', 'y'};
    rocksdb_compactoptions_set_full_history_ts_low(co, ts, 2);
    rocksdb_compactoptions_destroy(co);
}

/* A cache built from lru_cache_options takes its capacity. */
static void cache_from_lru_options(void **state)
{
    (void)state;
    rocksdb_lru_cache_options_t *lo = rocksdb_lru_cache_options_create();
    rocksdb_lru_cache_options_set_capacity(lo, 4096);
    rocksdb_cache_t *c = rocksdb_cache_create_lru_opts(lo);
    rocksdb_lru_cache_options_destroy(lo);
    assert_int_equal(rocksdb_cache_get_capacity(c), 4096);
    rocksdb_cache_set_capacity(c, 8192);
    assert_int_equal(rocksdb_cache_get_capacity(c), 8192);
    assert_int_equal(rocksdb_cache_get_usage(c), 0);
    rocksdb_cache_destroy(c);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exports_every_c_h_function),
        cmocka_unit_test(defaults_match_rocksdb),
        cmocka_unit_test(roundtrip_matches_rocksdb),
        cmocka_unit_test(methods_match_rocksdb),
        cmocka_unit_test(not_implemented_sets_errptr),
        cmocka_unit_test(not_implemented_frees_old_message),
        cmocka_unit_test(not_implemented_errptr_null),
        cmocka_unit_test(not_implemented_without_errptr_returns_zero),
        cmocka_unit_test(ownership_adopted_prefix_extractor),
        cmocka_unit_test(ownership_table_options),
        cmocka_unit_test(ownership_compaction_filter_factory),
        cmocka_unit_test(ownership_values_strings_arrays),
        cmocka_unit_test(cache_from_lru_options),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    lines_free(&stubs);
    return rc;
}
