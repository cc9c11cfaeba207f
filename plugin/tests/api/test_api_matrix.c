/*
 * test_api_matrix.c: every function of <rocksdb/c.h> called with bad inputs (issue 8).
 *
 * gen_matrix.py writes capi_matrix.inc at build time from c.h: one thunk per declared function
 * (all 783) and the table axm_table[]. Each thunk takes its arguments from the helpers below,
 * which answer according to the running variant (gen_matrix.py's docstring has the table):
 *
 *   nulls     every pointer NULL, every number 0; errptr a valid char*
 *   huge      a live object of the right type for every rocksdb_X_t* handle (fresh for each
 *             call, so a destroy or close gets its own), data pointers NULL, output pointers
 *             NULL, every length SIZE_MAX, every count INT_MAX / UINT64_MAX, doubles +inf
 *   negative  live handles, data pointers NULL, output pointers to zeroed buffers of their
 *             own, lengths 2^32+1 (past RocksDB's 32-bit limit), signed counts -1 or the
 *             minimum, doubles NaN
 *   readonly  negative's values, but the database is opened read-only and the iterator is
 *             never positioned (invalid: RocksDB asserts Valid() in key, value, next, prev)
 *
 * matrix_open_<values>: every function whose only handle is an options or block-based table
 * options object (253 setters and methods) is called with the variant's values on a fresh
 * object, which then opens a database, writes, reads, scans, flushes, compacts and closes it.
 *
 * After every call it checks: no crash or hang (a signal handler and an alarm name the
 * function); *errptr, which starts as a malloc'd "earlier error", is either left alone or
 * replaced by a malloc'd message with one of RocksDB's prefixes (the old one freed, which
 * LeakSanitizer checks in the ASan build); a function with errptr that got a NULL handle or
 * NULL data reports an error; a function returning a pointer returns NULL when a handle was
 * NULL; what it returns otherwise is freed by its type. In the ASan build every call is also
 * checked for memory errors, undefined behaviour and (at exit) leaks.
 *
 * Plugin only: real RocksDB crashes on most of these inputs (test_api_badinput.c holds the
 * cases where its behaviour is defined). Use after destroy or close is undefined in RocksDB
 * and is not tested (docs/plugin.md, "Bad input").
 *
 *   ./test_api_matrix                    # all variants
 *   ./test_api_matrix matrix_huge        # one; AXM_ONLY=rocksdb_put narrows to one function
 *   AXM_FORK=1 ./test_api_matrix         # each call in a child: lists every crash, no leak check
 */
#include "api_util.h" /* first: it sets _GNU_SOURCE */

#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/wait.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define AXM_ASAN 1
#endif

#define AXM_OLD_ERR "axm: an earlier error"
#define AXM_MAX_FIX 16
#define AXM_MAX_OUT 16
#define AXM_OUT_BYTES 4096
#define AXM_CALL_SECONDS 60

enum { AXM_NULLS, AXM_HUGE, AXM_NEGATIVE, AXM_READONLY };
static const char *const axm_variant_names[] = {"nulls", "huge", "negative", "readonly"};

/* Flags of a table entry (gen_matrix.py). */
#define AXM_ERRPTR 1  /* has a char **errptr */
#define AXM_RET_PTR 2 /* returns a pointer */
#define AXM_STUB 4    /* a generated "Not implemented" stub */

typedef struct axm_ctx axm_ctx;

typedef struct axm_fn {
    const char *name;
    void (*call)(axm_ctx *);
    int handles;  /* rocksdb_X_t* parameters */
    int nulldata; /* input pointers that are NULL in every variant (strings, keys, arrays) */
    const char *self; /* the type of the first parameter if it is a handle, else NULL */
    int flags;
} axm_fn;

typedef struct axm_fix {
    const char *type;
    void *obj, *aux, *aux2;
    int consumed;
} axm_fix;

struct axm_ctx {
    int variant;
    int values; /* the variant whose values the helpers return (readonly: negative's) */
    char *err;
    const axm_fn *fn;
    axm_fix fix[AXM_MAX_FIX];
    int nfix;
    void *out[AXM_MAX_OUT];
    rocksdb_t *db; /* the call's database, opened when a handle needs one */
    char db_path[600];
    int db_consumed;
    int seq; /* numbers the call's directories */
    const char *lend_type; /* matrix_open_*: the object handed to the call instead of a fresh one */
    void *lend_obj;
    int null_handles, live_handles;
    int failures;
    /* Totals of a variant, for the summary line. */
    int t_calls, t_live, t_null, t_err_reported, t_err_required, t_no_factory;
};

/* ---- naming a crash -------------------------------------------------------------------- */

static const char *volatile axm_running = "(none)";
static volatile int axm_running_variant;

/* Async-signal-safe: write(2) of fixed strings only. */
static void axm_write_str(const char *s)
{
    if (write(2, s, strlen(s)) < 0)
        return;
}

static void axm_say_running(const char *what)
{
    axm_write_str("\ntest_api_matrix: ");
    axm_write_str(what);
    axm_write_str(" while calling ");
    axm_write_str(axm_running);
    axm_write_str(" (variant ");
    axm_write_str(axm_variant_names[axm_running_variant]);
    axm_write_str(")\n");
}

static void axm_on_signal(int sig)
{
    axm_say_running(sig == SIGALRM   ? "timeout (hang)"
                    : sig == SIGSEGV ? "SIGSEGV"
                    : sig == SIGBUS  ? "SIGBUS"
                    : sig == SIGFPE  ? "SIGFPE"
                    : sig == SIGILL  ? "SIGILL"
                                     : "SIGABRT");
    signal(sig, SIG_DFL);
    signal(SIGABRT, SIG_DFL);
    raise(sig == SIGALRM ? SIGABRT : sig);
}

#ifdef AXM_ASAN
static void axm_on_sanitizer_death(void)
{
    axm_say_running("sanitizer error");
}
#endif

static void axm_install_handlers(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGALRM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], axm_on_signal);
#ifdef AXM_ASAN
    __sanitizer_set_death_callback(axm_on_sanitizer_death);
#endif
}

/* ---- failures --------------------------------------------------------------------------- */

static void axm_fail(axm_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void axm_fail(axm_ctx *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("matrix %s: %s: %s\n", axm_variant_names[c->variant], c->fn->name, msg);
    c->failures++;
}

/* ---- values of the variant ---------------------------------------------------------------- */

static size_t axm_size(axm_ctx *c)
{
    static const size_t v[] = {0, SIZE_MAX, ((size_t)1 << 32) + 1};
    return v[c->values];
}

static int axm_int(axm_ctx *c)
{
    static const int v[] = {0, INT_MAX, -1};
    return v[c->values];
}

static int32_t axm_i32(axm_ctx *c)
{
    static const int32_t v[] = {0, INT32_MAX, INT32_MIN};
    return v[c->values];
}

static int64_t axm_i64(axm_ctx *c)
{
    static const int64_t v[] = {0, INT64_MAX, -1};
    return v[c->values];
}

static uint32_t axm_u32(axm_ctx *c)
{
    static const uint32_t v[] = {0, UINT32_MAX, (uint32_t)1 << 31};
    return v[c->values];
}

static uint64_t axm_u64(axm_ctx *c)
{
    static const uint64_t v[] = {0, UINT64_MAX, ((uint64_t)1 << 32) + 1};
    return v[c->values];
}

static unsigned char axm_uchar(axm_ctx *c)
{
    static const unsigned char v[] = {0, 0xff, 2};
    return v[c->values];
}

static char axm_char(axm_ctx *c)
{
    static const char v[] = {0, 0x7f, -1};
    return v[c->values];
}

static bool axm_bool(axm_ctx *c)
{
    return c->values != AXM_NULLS;
}

static double axm_double(axm_ctx *c)
{
    return c->values == AXM_NULLS ? 0.0 : c->values == AXM_HUGE ? HUGE_VAL : NAN;
}

/* An output parameter: NULL, or (negative) a zeroed buffer of its own, freed after the call. */
static void *axm_out(axm_ctx *c, int i)
{
    if (c->values != AXM_NEGATIVE || i >= AXM_MAX_OUT)
        return NULL;
    if (!c->out[i])
        c->out[i] = calloc(1, AXM_OUT_BYTES);
    return c->out[i];
}

/* ---- fixtures: a live object for every handle type ------------------------------------------ */

static int axm_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void axm_rm_tree(const char *path)
{
    nftw(path, axm_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void axm_rm_tree_contents(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        axm_rm_tree(p);
    }
    if (d)
        closedir(d);
}

/* A fresh path in the scratch directory (the creators copy it). */
static const char *axm_new_path(axm_ctx *c, const char *what)
{
    static char buf[600];
    snprintf(buf, sizeof buf, "%s/%s%d", axu_dir, what, ++c->seq);
    return buf;
}

static rocksdb_t *axm_db(axm_ctx *c)
{
    if (c->db || c->db_consumed)
        return c->db;
    snprintf(c->db_path, 300, "%s/db%d", axu_dir, ++c->seq);
    rocksdb_options_t *o = axu_create_options();
    rocksdb_options_set_uint64add_merge_operator(o);
    char *err = NULL;
    c->db = rocksdb_open(o, c->db_path, &err);
    rocksdb_options_destroy(o);
    if (err) {
        axm_fail(c, "fixture: cannot open a database: %s", err);
        free(err);
        return NULL;
    }
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_put(c->db, wo, "k", 1, "v", 1, &err);
    rocksdb_put(c->db, wo, "l", 1, "w", 1, &err);
    rocksdb_writeoptions_destroy(wo);
    free(err);
    err = NULL;
    if (c->variant == AXM_READONLY) { /* the same database, reopened read-only */
        rocksdb_close(c->db);
        o = rocksdb_options_create();
        c->db = rocksdb_open_for_read_only(o, c->db_path, 0, &err);
        rocksdb_options_destroy(o);
        if (err) {
            axm_fail(c, "fixture: cannot open a database read-only: %s", err);
            free(err);
        }
    }
    return c->db;
}

/* Callbacks for the objects that need them. */
static void axm_cb_destructor(void *state)
{
    (void)state;
}

static const char *axm_cb_name(void *state)
{
    (void)state;
    return "axm";
}

static int axm_cb_compare(void *state, const char *a, size_t an, const char *b, size_t bn)
{
    (void)state;
    int r = memcmp(a, b, an < bn ? an : bn);
    return r ? r : (an > bn) - (an < bn);
}

static char *axm_cb_full_merge(void *state, const char *key, size_t klen, const char *existing,
                               size_t elen, const char *const *ops, const size_t *oplens,
                               int nops, unsigned char *success, size_t *vlen)
{
    (void)state, (void)key, (void)klen, (void)existing, (void)elen, (void)ops, (void)oplens;
    (void)nops;
    *success = 1;
    *vlen = 1;
    return strdup("m");
}

static char *axm_cb_partial_merge(void *state, const char *key, size_t klen,
                                  const char *const *ops, const size_t *oplens, int nops,
                                  unsigned char *success, size_t *vlen)
{
    (void)state, (void)key, (void)klen, (void)ops, (void)oplens, (void)nops;
    *success = 0;
    *vlen = 0;
    return NULL;
}

static unsigned char axm_cb_filter(void *state, int level, const char *key, size_t klen,
                                   const char *value, size_t vlen, char **new_value,
                                   size_t *new_vlen, unsigned char *changed)
{
    (void)state, (void)level, (void)key, (void)klen, (void)value, (void)vlen, (void)new_value;
    (void)new_vlen;
    *changed = 0;
    return 0;
}

static rocksdb_compactionfilter_t *axm_cb_create_filter(void *state,
                                                        rocksdb_compactionfiltercontext_t *ctx)
{
    (void)state, (void)ctx;
    return rocksdb_compactionfilter_create(NULL, axm_cb_destructor, axm_cb_filter, axm_cb_name);
}

/* Creates the object of fix->type (NULL if it has no factory or its creator is a stub). */
static void axm_make(axm_ctx *c, axm_fix *f)
{
    const char *t = f->type + strlen("rocksdb_");
    char *err = NULL;
#define IS(name) (strcmp(t, name "_t") == 0)
    if (strcmp(f->type, "rocksdb_t") == 0) /* the call's database */
        f->obj = axm_db(c);
    else if (IS("options"))
        f->obj = rocksdb_options_create();
    else if (IS("readoptions"))
        f->obj = rocksdb_readoptions_create();
    else if (IS("writeoptions"))
        f->obj = rocksdb_writeoptions_create();
    else if (IS("flushoptions"))
        f->obj = rocksdb_flushoptions_create();
    else if (IS("compactoptions"))
        f->obj = rocksdb_compactoptions_create();
    else if (IS("block_based_table_options"))
        f->obj = rocksdb_block_based_options_create();
    else if (IS("cuckoo_table_options"))
        f->obj = rocksdb_cuckoo_options_create();
    else if (IS("lru_cache_options"))
        f->obj = rocksdb_lru_cache_options_create();
    else if (IS("cache"))
        f->obj = rocksdb_cache_create_lru(1 << 20);
    else if (IS("filterpolicy"))
        f->obj = rocksdb_filterpolicy_create_bloom(10);
    else if (IS("env"))
        f->obj = rocksdb_create_default_env();
    else if (IS("ratelimiter"))
        f->obj = rocksdb_ratelimiter_create(1 << 20, 100000, 10);
    else if (IS("envoptions"))
        f->obj = rocksdb_envoptions_create();
    else if (IS("universal_compaction_options"))
        f->obj = rocksdb_universal_compaction_options_create();
    else if (IS("fifo_compaction_options"))
        f->obj = rocksdb_fifo_compaction_options_create();
    else if (IS("dbpath"))
        f->obj = rocksdb_dbpath_create(axm_new_path(c, "p"), 1 << 20);
    else if (IS("slicetransform"))
        f->obj = rocksdb_slicetransform_create_fixed_prefix(2);
    else if (IS("compactionfilter"))
        f->obj = rocksdb_compactionfilter_create(NULL, axm_cb_destructor, axm_cb_filter,
                                                 axm_cb_name);
    else if (IS("compactionfilterfactory"))
        f->obj = rocksdb_compactionfilterfactory_create(NULL, axm_cb_destructor,
                                                        axm_cb_create_filter, axm_cb_name);
    else if (IS("ingestexternalfileoptions"))
        f->obj = rocksdb_ingestexternalfileoptions_create();
    else if (IS("transactiondb_options"))
        f->obj = rocksdb_transactiondb_options_create();
    else if (IS("transaction_options"))
        f->obj = rocksdb_transaction_options_create();
    else if (IS("optimistictransaction_options"))
        f->obj = rocksdb_optimistictransaction_options_create();
    else if (IS("backup_engine_options"))
        f->obj = rocksdb_backup_engine_options_create(axm_new_path(c, "bo"));
    else if (IS("restore_options"))
        f->obj = rocksdb_restore_options_create();
    else if (IS("comparator"))
        f->obj = rocksdb_comparator_create(NULL, axm_cb_destructor, axm_cb_compare, axm_cb_name);
    else if (IS("mergeoperator"))
        f->obj = rocksdb_mergeoperator_create(NULL, axm_cb_destructor, axm_cb_full_merge,
                                              axm_cb_partial_merge, NULL, axm_cb_name);
    else if (IS("writebatch")) {
        f->obj = rocksdb_writebatch_create();
        rocksdb_writebatch_put(f->obj, "k", 1, "v", 1);
        rocksdb_writebatch_delete(f->obj, "l", 1);
    } else if (IS("writebatch_wi")) {
        f->obj = rocksdb_writebatch_wi_create(0, 1);
        if (f->obj)
            rocksdb_writebatch_wi_put(f->obj, "k", 1, "v", 1);
    } else if (IS("perfcontext"))
        f->obj = rocksdb_perfcontext_create();
    else if (IS("memory_consumers"))
        f->obj = rocksdb_memory_consumers_create();
    else if (IS("memory_allocator"))
        f->obj = rocksdb_jemalloc_nodump_allocator_create(&err);
    else if (IS("sstfilewriter")) {
        rocksdb_envoptions_t *eo = rocksdb_envoptions_create();
        rocksdb_options_t *o = rocksdb_options_create();
        f->obj = rocksdb_sstfilewriter_create(eo, o);
        rocksdb_options_destroy(o);
        rocksdb_envoptions_destroy(eo);
    } else if (IS("backup_engine") || IS("backup_engine_info")) {
        rocksdb_options_t *o = axu_create_options();
        rocksdb_backup_engine_t *be = rocksdb_backup_engine_open(o, axm_new_path(c, "b"), &err);
        rocksdb_options_destroy(o);
        if (be && IS("backup_engine_info")) {
            if (axm_db(c))
                rocksdb_backup_engine_create_new_backup(be, c->db, &err);
            f->aux = be;
            f->obj = (void *)rocksdb_backup_engine_get_backup_info(be);
        } else {
            f->obj = be;
        }
    } else if (IS("transactiondb") || IS("transaction")) {
        rocksdb_options_t *o = axu_create_options();
        rocksdb_transactiondb_options_t *to = rocksdb_transactiondb_options_create();
        rocksdb_transactiondb_t *tdb = rocksdb_transactiondb_open(o, to, axm_new_path(c, "t"),
                                                                  &err);
        rocksdb_transactiondb_options_destroy(to);
        rocksdb_options_destroy(o);
        if (tdb && IS("transaction")) {
            rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
            rocksdb_transaction_options_t *xo = rocksdb_transaction_options_create();
            f->aux = tdb;
            f->obj = rocksdb_transaction_begin(tdb, wo, xo, NULL);
            rocksdb_transaction_options_destroy(xo);
            rocksdb_writeoptions_destroy(wo);
        } else {
            f->obj = tdb;
        }
    } else if (IS("optimistictransactiondb")) {
        rocksdb_options_t *o = axu_create_options();
        f->obj = rocksdb_optimistictransactiondb_open(o, axm_new_path(c, "o"), &err);
        rocksdb_options_destroy(o);
    } else if (axm_db(c) == NULL) {
        f->obj = NULL; /* the remaining types come from an open database */
    } else if (IS("iterator")) {
        rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
        f->obj = rocksdb_create_iterator(c->db, ro);
        if (c->variant != AXM_READONLY) /* readonly: an iterator never positioned (invalid) */
            rocksdb_iter_seek_to_first(f->obj);
        f->aux = ro; /* RocksDB's iterator may keep pointing at its read options */
    } else if (IS("snapshot"))
        f->obj = (void *)rocksdb_create_snapshot(c->db);
    else if (IS("checkpoint"))
        f->obj = rocksdb_checkpoint_object_create(c->db, &err);
    else if (IS("pinnableslice")) {
        rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
        f->obj = rocksdb_get_pinned(c->db, ro, "k", 1, &err);
        rocksdb_readoptions_destroy(ro);
    } else if (IS("livefiles"))
        f->obj = (void *)rocksdb_livefiles(c->db);
    else if (IS("column_family_handle")) {
        rocksdb_options_t *o = rocksdb_options_create();
        f->obj = rocksdb_create_column_family(c->db, o, "cf", &err);
        rocksdb_options_destroy(o);
    } else if (IS("wal_iterator"))
        f->obj = rocksdb_get_updates_since(c->db, 0, NULL, &err);
    else if (IS("column_family_metadata") || IS("level_metadata") || IS("sst_file_metadata")) {
        rocksdb_column_family_metadata_t *cm = rocksdb_get_column_family_metadata(c->db);
        rocksdb_level_metadata_t *lm = NULL;
        if (cm && !IS("column_family_metadata"))
            lm = rocksdb_column_family_metadata_get_level_metadata(cm, 0);
        if (IS("column_family_metadata")) {
            f->obj = cm;
        } else if (IS("level_metadata")) {
            f->obj = lm;
            f->aux = cm;
        } else {
            f->obj = lm ? rocksdb_level_metadata_get_sst_file_metadata(lm, 0) : NULL;
            f->aux = cm;
            f->aux2 = lm;
        }
    } else if (IS("memory_usage")) {
        rocksdb_memory_consumers_t *mc = rocksdb_memory_consumers_create();
        if (mc) {
            rocksdb_memory_consumers_add_db(mc, c->db);
            f->obj = rocksdb_approximate_memory_usage_create(mc, &err);
            f->aux = mc;
        }
    } else {
        /* No factory: logger, compactionfiltercontext, wal_readoptions (c.h has no creator). */
        c->t_no_factory++;
    }
#undef IS
    free(err); /* fixtures of stubbed types fail with "Not implemented": NULL, as nulls */
}

/* Destroys what axm_make made (the object itself unless the call took it). */
static void axm_drop(axm_ctx *c, axm_fix *f)
{
    const char *t = f->type + strlen("rocksdb_");
    void *o = f->consumed ? NULL : f->obj;
#define IS(name) (strcmp(t, name "_t") == 0)
#define DROP(name, fn)                                                                             \
    else if (IS(name))                                                                             \
    {                                                                                              \
        if (o)                                                                                     \
            fn(o);                                                                                 \
    }
    if (strcmp(f->type, "rocksdb_t") == 0) {
        if (f->consumed) /* closed by the call */
            c->db_consumed = 1, c->db = NULL;
    }
    DROP("options", rocksdb_options_destroy)
    DROP("readoptions", rocksdb_readoptions_destroy)
    DROP("writeoptions", rocksdb_writeoptions_destroy)
    DROP("flushoptions", rocksdb_flushoptions_destroy)
    DROP("compactoptions", rocksdb_compactoptions_destroy)
    DROP("block_based_table_options", rocksdb_block_based_options_destroy)
    DROP("cuckoo_table_options", rocksdb_cuckoo_options_destroy)
    DROP("lru_cache_options", rocksdb_lru_cache_options_destroy)
    DROP("cache", rocksdb_cache_destroy)
    DROP("filterpolicy", rocksdb_filterpolicy_destroy)
    DROP("env", rocksdb_env_destroy)
    DROP("ratelimiter", rocksdb_ratelimiter_destroy)
    DROP("envoptions", rocksdb_envoptions_destroy)
    DROP("universal_compaction_options", rocksdb_universal_compaction_options_destroy)
    DROP("fifo_compaction_options", rocksdb_fifo_compaction_options_destroy)
    DROP("dbpath", rocksdb_dbpath_destroy)
    DROP("slicetransform", rocksdb_slicetransform_destroy)
    DROP("compactionfilter", rocksdb_compactionfilter_destroy)
    DROP("compactionfilterfactory", rocksdb_compactionfilterfactory_destroy)
    DROP("ingestexternalfileoptions", rocksdb_ingestexternalfileoptions_destroy)
    DROP("transactiondb_options", rocksdb_transactiondb_options_destroy)
    DROP("transaction_options", rocksdb_transaction_options_destroy)
    DROP("optimistictransaction_options", rocksdb_optimistictransaction_options_destroy)
    DROP("backup_engine_options", rocksdb_backup_engine_options_destroy)
    DROP("restore_options", rocksdb_restore_options_destroy)
    DROP("comparator", rocksdb_comparator_destroy)
    DROP("mergeoperator", rocksdb_mergeoperator_destroy)
    DROP("writebatch", rocksdb_writebatch_destroy)
    DROP("writebatch_wi", rocksdb_writebatch_wi_destroy)
    DROP("perfcontext", rocksdb_perfcontext_destroy)
    DROP("memory_consumers", rocksdb_memory_consumers_destroy)
    DROP("memory_allocator", rocksdb_memory_allocator_destroy)
    DROP("sstfilewriter", rocksdb_sstfilewriter_destroy)
    DROP("backup_engine", rocksdb_backup_engine_close)
    DROP("optimistictransactiondb", rocksdb_optimistictransactiondb_close)
    DROP("checkpoint", rocksdb_checkpoint_object_destroy)
    DROP("pinnableslice", rocksdb_pinnableslice_destroy)
    DROP("column_family_handle", rocksdb_column_family_handle_destroy)
    DROP("wal_iterator", rocksdb_wal_iter_destroy)
    DROP("column_family_metadata", rocksdb_column_family_metadata_destroy)
    else if (IS("backup_engine_info"))
    {
        if (o)
            rocksdb_backup_engine_info_destroy(o);
        if (f->aux)
            rocksdb_backup_engine_close(f->aux);
    }
    else if (IS("transactiondb") || IS("transaction"))
    {
        if (o && IS("transaction"))
            rocksdb_transaction_destroy(o);
        if (f->aux || (o && IS("transactiondb")))
            rocksdb_transactiondb_close(f->aux ? f->aux : o);
    }
    else if (IS("iterator"))
    {
        if (o)
            rocksdb_iter_destroy(o);
        if (f->aux)
            rocksdb_readoptions_destroy(f->aux);
    }
    else if (IS("snapshot"))
    {
        if (o && c->db)
            rocksdb_release_snapshot(c->db, o);
    }
    else if (IS("livefiles"))
    {
        if (o)
            rocksdb_livefiles_destroy(o);
    }
    else if (IS("level_metadata") || IS("sst_file_metadata"))
    {
        if (o && IS("level_metadata"))
            rocksdb_level_metadata_destroy(o);
        if (o && IS("sst_file_metadata"))
            rocksdb_sst_file_metadata_destroy(o);
        if (f->aux2)
            rocksdb_level_metadata_destroy(f->aux2);
        if (f->aux)
            rocksdb_column_family_metadata_destroy(f->aux);
    }
    else if (IS("memory_usage"))
    {
        if (o)
            rocksdb_approximate_memory_usage_destroy(o);
        if (f->aux)
            rocksdb_memory_consumers_destroy(f->aux);
    }
    else if (o)
    {
        axm_fail(c, "fixture: cannot destroy a %s", f->type);
    }
#undef DROP
#undef IS
}

/* A handle argument: a fresh live object, or NULL in the nulls variant. consumed: the call
 * takes it over (a destroy, close, release, or adopting setter), so it is not dropped. */
static void *axm_obj(axm_ctx *c, const char *type, int consumed)
{
    if (c->lend_type && !consumed && strcmp(type, c->lend_type) == 0) {
        c->live_handles++;
        return c->lend_obj;
    }
    if (c->variant == AXM_NULLS || c->nfix == AXM_MAX_FIX) {
        c->null_handles++;
        return NULL;
    }
    axm_fix *f = &c->fix[c->nfix++];
    memset(f, 0, sizeof *f);
    f->type = type;
    f->consumed = consumed;
    axm_make(c, f);
    if (f->obj)
        c->live_handles++;
    else
        c->null_handles++;
    return f->obj;
}

/* A returned pointer: NULL when a handle was NULL; otherwise freed according to its type. */
static void axm_ret(axm_ctx *c, const char *type, const void *r)
{
    if (!r)
        return;
    if (c->null_handles > 0)
        axm_fail(c, "returned %p (%s) although a handle was NULL", r, type);
    if (strcmp(type, "const char*") == 0) /* points into an object */
        return;
    if (strcmp(type, "char*") == 0) {
        free((void *)r);
        return;
    }
    if (strncmp(type, "const ", 6) == 0)
        type += 6;
    size_t n = strlen(type);
    if (strncmp(type, "rocksdb_", 8) != 0 || n < 2 || type[n - 1] != '*' || type[n - 2] == '*') {
        axm_fail(c, "returned a %s the test cannot free", type);
        return;
    }
    char tname[128];
    snprintf(tname, sizeof tname, "%.*s", (int)(n - 1), type);
    axm_fix f = {.type = tname, .obj = (void *)r};
    axm_drop(c, &f);
}

/* ---- the table ------------------------------------------------------------------------------ */

#include "capi_matrix.inc"

#define AXM_COUNT (sizeof axm_table / sizeof axm_table[0])

static void axm_call(axm_ctx *c, const axm_fn *fn)
{
    c->fn = fn;
    c->nfix = 0;
    c->null_handles = c->live_handles = 0;
    c->db = NULL;
    c->db_consumed = 0;
    memset(c->out, 0, sizeof c->out);
    c->err = strdup(AXM_OLD_ERR);
    axm_running = fn->name;
    axm_running_variant = c->variant;

    alarm(AXM_CALL_SECONDS);
    fn->call(c);
    alarm(0);

    c->t_calls++;
    c->t_live += c->live_handles;
    c->t_null += c->null_handles;
    /* errptr: untouched, or a malloc'd message with RocksDB's prefix (the old one freed). */
    int reported = 0;
    if (!c->err) {
        axm_fail(c, "set *errptr to NULL");
    } else if (strcmp(c->err, AXM_OLD_ERR) != 0) {
        reported = 1;
        if (!axu_has_rocksdb_prefix(c->err))
            axm_fail(c, "error without a RocksDB prefix: \"%s\"", c->err);
    }
    free(c->err);
    c->err = NULL;
    if (fn->flags & AXM_ERRPTR) {
        int required = c->null_handles > 0 || fn->nulldata > 0;
        c->t_err_reported += reported;
        c->t_err_required += required;
        if (required && !reported)
            axm_fail(c, "no error for a NULL %s", c->null_handles ? "handle" : "input");
    } else if (reported) {
        axm_fail(c, "wrote an error without an errptr parameter");
    }

    /* Drop the call's objects, newest first, then its database and directories. */
    for (int i = c->nfix - 1; i >= 0; i--)
        axm_drop(c, &c->fix[i]);
    if (c->db)
        rocksdb_close(c->db);
    for (int i = 0; i < AXM_MAX_OUT; i++)
        free(c->out[i]);
    axm_running = "(nothing: between calls or at exit, where LeakSanitizer checks)";
}

/* Runs body(c, fn) in this process, or with AXM_FORK set in a child (discovery mode: a crash
 * is reported and the run goes on; no leak check). */
static void axm_run_one(axm_ctx *c, const axm_fn *fn, void (*body)(axm_ctx *, const axm_fn *))
{
    if (!getenv("AXM_FORK")) {
        body(c, fn);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int before = c->failures;
        body(c, fn);
        _exit(c->failures > before);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        c->fn = fn;
        axm_fail(c, "child %s", WIFEXITED(st) ? "failed" : "crashed");
    }
}

static void axm_run_variant(int variant)
{
    axm_install_handlers();
    axm_ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->variant = variant;
    c->values = variant == AXM_READONLY ? AXM_NEGATIVE : variant;
    const char *only = getenv("AXM_ONLY");
    for (size_t i = 0; i < AXM_COUNT; i++) {
        if (only && strcmp(only, axm_table[i].name) != 0)
            continue;
        axm_run_one(c, &axm_table[i], axm_call);
        axm_rm_tree_contents(axu_dir); /* the call's databases, backups, checkpoints */
    }
    fprintf(stderr,
            "matrix %s: %d calls, %d live handle arguments, %d NULL; errors reported %d, "
            "required %d; %d handle arguments of types without a factory%s\n",
            axm_variant_names[variant], c->t_calls, c->t_live, c->t_null, c->t_err_reported,
            c->t_err_required, c->t_no_factory,
            getenv("AXM_FORK") ? " (AXM_FORK: counted in the children, not here)" : "");
    int failures = c->failures;
    free(c);
    assert_int_equal(failures, 0);
}

/* ---- options given a bad value, then used ------------------------------------------------ */

static void axm_expect_no_err_or_prefix(axm_ctx *c, char **err, const char *what)
{
    if (*err && !axu_has_rocksdb_prefix(*err))
        axm_fail(c, "%s: error without a RocksDB prefix: \"%s\"", what, *err);
    free(*err);
    *err = NULL;
}

/* Opens a database with o, writes, reads, scans, flushes, compacts and closes it: each step
 * may fail with one of RocksDB's prefixes, none may crash or hang. */
static void axm_open_with(axm_ctx *c, rocksdb_options_t *o)
{
    static char running[300];
    snprintf(running, sizeof running, "rocksdb_open and use, after %s", c->fn->name);
    axm_running = running;
    alarm(AXM_CALL_SECONDS);
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, axm_new_path(c, "open"), &err);
    axm_expect_no_err_or_prefix(c, &err, "rocksdb_open");
    if (db) {
        rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
        rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
        rocksdb_put(db, wo, "key", 3, "value", 5, &err);
        axm_expect_no_err_or_prefix(c, &err, "rocksdb_put");
        size_t vn = 0;
        free(rocksdb_get(db, ro, "key", 3, &vn, &err));
        axm_expect_no_err_or_prefix(c, &err, "rocksdb_get");
        rocksdb_iterator_t *it = rocksdb_create_iterator(db, ro);
        for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it))
            ;
        rocksdb_iter_get_error(it, &err);
        axm_expect_no_err_or_prefix(c, &err, "iterator");
        rocksdb_iter_destroy(it);
        rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
        rocksdb_flush(db, fo, &err);
        axm_expect_no_err_or_prefix(c, &err, "rocksdb_flush");
        rocksdb_flushoptions_destroy(fo);
        rocksdb_compact_range(db, NULL, 0, NULL, 0);
        rocksdb_readoptions_destroy(ro);
        rocksdb_writeoptions_destroy(wo);
        rocksdb_close(db);
    }
    alarm(0);
    axm_running = "(nothing: between calls or at exit, where LeakSanitizer checks)";
}

/* fn with the variant's values on a fresh options object (or block-based table options, then
 * set on one), which then opens and uses a database. */
static void axm_open_after(axm_ctx *c, const axm_fn *fn)
{
    int bbto = strcmp(fn->self, "rocksdb_block_based_table_options_t") == 0;
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_block_based_table_options_t *b = bbto ? rocksdb_block_based_options_create() : NULL;
    c->lend_type = fn->self;
    c->lend_obj = bbto ? (void *)b : (void *)o;
    axm_call(c, fn);
    c->lend_type = NULL;
    if (b) {
        rocksdb_options_set_block_based_table_factory(o, b);
        rocksdb_block_based_options_destroy(b);
    }
    axm_open_with(c, o);
    rocksdb_options_destroy(o);
}

/* Every function taking an options or block-based table options object as its only handle
 * (setters and methods), called with the variant's values on a fresh object, which then
 * opens a database (native or, with ALEXSTORAGE_MODE=hybrid, real RocksDB too). */
static void axm_run_open_variant(int variant)
{
    axm_install_handlers();
    axm_ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->variant = variant;
    c->values = variant;
    const char *only = getenv("AXM_ONLY");
    int n = 0;
    for (size_t i = 0; i < AXM_COUNT; i++) {
        const axm_fn *fn = &axm_table[i];
        size_t len = strlen(fn->name);
        if (!fn->self || fn->handles != 1 || (len > 8 && !strcmp(fn->name + len - 8, "_destroy")))
            continue;
        if (strcmp(fn->self, "rocksdb_block_based_table_options_t") != 0 &&
            strcmp(fn->self, "rocksdb_options_t") != 0)
            continue;
        if (only && strcmp(only, fn->name) != 0)
            continue;
        axm_run_one(c, fn, axm_open_after);
        axm_rm_tree_contents(axu_dir);
        n++;
    }
    fprintf(stderr, "matrix open %s: %d option functions, each followed by open and use\n",
            axm_variant_names[variant], n);
    int failures = c->failures;
    free(c);
    assert_int_equal(failures, 0);
}

static void matrix_readonly(void **state)
{
    (void)state;
    axm_run_variant(AXM_READONLY);
}

static void matrix_open_nulls(void **state)
{
    (void)state;
    axm_run_open_variant(AXM_NULLS);
}

static void matrix_open_huge(void **state)
{
    (void)state;
    axm_run_open_variant(AXM_HUGE);
}

static void matrix_open_negative(void **state)
{
    (void)state;
    axm_run_open_variant(AXM_NEGATIVE);
}

static void matrix_nulls(void **state)
{
    (void)state;
    axm_run_variant(AXM_NULLS);
}

static void matrix_huge(void **state)
{
    (void)state;
    axm_run_variant(AXM_HUGE);
}

static void matrix_negative(void **state)
{
    (void)state;
    axm_run_variant(AXM_NEGATIVE);
}

/* The table holds exactly the functions c.h declares (capi_names.txt, from gen_capi.py). */
static void matrix_covers_c_h(void **state)
{
    (void)state;
    FILE *f = fopen(AXM_NAMES_FILE, "r");
    assert_non_null(f);
    char line[256];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0])
            continue;
        int found = 0;
        for (size_t i = 0; i < AXM_COUNT && !found; i++)
            found = strcmp(axm_table[i].name, line) == 0;
        if (!found)
            print_error("%s is declared in c.h but not in the matrix\n", line);
        assert_true(found);
        n++;
    }
    fclose(f);
    assert_int_equal(n, AXM_COUNT);
    fprintf(stderr, "matrix: %zu functions, every one declared in c.h\n", n);
}

static const struct CMUnitTest tests[] = {
    AXU_TEST(matrix_covers_c_h),
    AXU_TEST(matrix_nulls),
    AXU_TEST(matrix_huge),
    AXU_TEST(matrix_negative),
    AXU_TEST(matrix_readonly),
    AXU_TEST(matrix_open_nulls),
    AXU_TEST(matrix_open_huge),
    AXU_TEST(matrix_open_negative),
};

AXU_MAIN(tests)
