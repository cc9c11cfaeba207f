/*
 * db.c: rocksdb_t on the AlexStorage core: open, close, destroy; writes (single and batched,
 * with merges applied at write time, merge.h); point reads; snapshots; flush, compaction,
 * properties and sizes.
 *
 * Writes take db->write_mu, a read-write lock: exclusively for anything that reads before it
 * writes (merges, range deletions, batches) and in hybrid mode, where both sides must apply
 * writes in the same order (hybrid.h); shared for a native put or delete, which the core
 * orders itself, so concurrent puts reach the core together and share its group commit.
 * Reads take no plugin lock; the core is thread-safe.
 */
#define _GNU_SOURCE /* tdestroy, twalk_r */
#include <errno.h>
#include <fcntl.h> /* AT_FDCWD, AT_EACCESS */
#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h> /* faccessat */

#include "capi_objects.h"
#include "hybrid.h"
#include "merge.h"
#include "writebatch.h"

struct rocksdb_pinnableslice_t {
    axs_pinned *pin;
};

/* ---- argument checks ------------------------------------------------------------------------- */

static bool check_db(const rocksdb_t *db, char **errptr)
{
    if (!db) {
        axp_error(errptr, "Invalid argument: database handle is NULL");
        return false;
    }
    return true;
}

/* A handle whose reads can be served (hybrid: the read side is intact). */
static bool check_readable(rocksdb_t *db, char **errptr)
{
    return check_db(db, errptr) && (db->mode != AXP_MODE_HYBRID || axp_hybrid_readable(db, errptr));
}

static bool check_key(const char *key, size_t klen, char **errptr)
{
    if (!key && klen) {
        axp_error(errptr, "Invalid argument: key is NULL with length %zu", klen);
        return false;
    }
    if (klen > AXS_MAX_KEY_LEN) {
        axp_error(errptr, "Invalid argument: key of %zu bytes exceeds the limit of %u", klen,
                  AXS_MAX_KEY_LEN);
        return false;
    }
    return true;
}

static bool check_value(const char *v, size_t vlen, char **errptr)
{
    if (!v && vlen) {
        axp_error(errptr, "Invalid argument: value is NULL with length %zu", vlen);
        return false;
    }
    if (vlen > AXS_MAX_VALUE_LEN) {
        axp_error(errptr, "Invalid argument: value of %zu bytes exceeds the limit of %u", vlen,
                  AXS_MAX_VALUE_LEN);
        return false;
    }
    return true;
}

/* Core write options for wo; false (with the error RocksDB gives) for a combination RocksDB
 * refuses. In hybrid mode durability is real RocksDB's, so the read side never syncs. */
static bool core_write_options(const rocksdb_t *db, const rocksdb_writeoptions_t *wo,
                               axs_write_options *out, char **errptr)
{
    if (!wo) {
        axp_error(errptr, "Invalid argument: write options are NULL");
        return false;
    }
    if (wo->f.sync && wo->f.disable_WAL) {
        axp_error(errptr, "Invalid argument: Sync writes has to enable WAL.");
        return false;
    }
    axs_write_options_init(out);
    out->sync = db->mode == AXP_MODE_NATIVE && wo->f.sync;
    out->disable_wal = wo->f.disable_WAL;
    return true;
}

static void core_read_options(const rocksdb_readoptions_t *ro, axs_read_options *out)
{
    axs_read_options_init(out);
    if (!ro)
        return;
    out->verify_checksums = ro->f.verify_checksums;
    out->snapshot = ro->x.snapshot ? ro->x.snapshot->core : NULL;
}

/* ---- open, close, destroy ------------------------------------------------------------------- */

/* ALEXSTORAGE_MODE=native|hybrid, unless the options chose (rocksdb_alex.h). */
static int choose_mode(const rocksdb_options_t *o, char **errptr)
{
    if (o->x.mode >= 0)
        return o->x.mode;
    const char *m = getenv("ALEXSTORAGE_MODE");
    if (!m || !*m || strcmp(m, "native") == 0)
        return AXP_MODE_NATIVE;
    if (strcmp(m, "hybrid") == 0)
        return AXP_MODE_HYBRID;
    axp_error(errptr, "Invalid argument: ALEXSTORAGE_MODE=%s (expected native or hybrid)", m);
    return -1;
}

static bool path_exists(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

/* Only bytewise ordering exists in this engine. A database always has the bytewise
 * comparator, so a different name fails as RocksDB fails a comparator mismatch; creating a
 * database with another comparator is not implemented. */
static bool check_comparator(const rocksdb_options_t *o, const char *path, int mode,
                             char **errptr)
{
    const char *name = axp_comparator_name(o->x.comparator);
    if (strcmp(name, AXP_BYTEWISE_COMPARATOR) == 0)
        return true;
    bool exists = mode == AXP_MODE_NATIVE ? path_exists(path, "ALEXSTORAGE")
                                          : path_exists(path, "CURRENT");
    if (exists)
        axp_error(errptr, "Invalid argument: %s does not match existing comparator %s", name,
                  AXP_BYTEWISE_COMPARATOR);
    else
        axp_error(errptr, "Not implemented: comparator %s: this engine orders keys bytewise "
                          "only (" AXP_BYTEWISE_COMPARATOR ")", name);
    return false;
}

/* Open failures in RocksDB's words where RocksDB has them. */
static void open_error(char **errptr, int rc, const char *path, const char *msg, bool read_only,
                       bool create)
{
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode) && path_exists(path, "CURRENT") &&
        !path_exists(path, "ALEXSTORAGE"))
        axp_error(errptr, "Invalid argument: %s holds a RocksDB database, which the native "
                          "engine does not read (open it with ALEXSTORAGE_MODE=hybrid)", path);
    else if (exists && !S_ISDIR(st.st_mode))
        axp_error(errptr, "IO error: While mkdir if missing: %s: File exists", path);
    else if (rc == AXS_ENOTFOUND && read_only) /* RocksDB fails reading CURRENT */
        axp_error(errptr, "IO error: While opening a file for sequentially reading: %s/CURRENT: "
                          "No such file or directory", path);
    else if (rc == AXS_ENOTFOUND && create) /* the parent is missing */
        axp_error(errptr, "IO error: While mkdir if missing: %s: No such file or directory",
                  path);
    else if (rc == AXS_ENOTFOUND || (rc == AXS_ENOTDB && !create))
        axp_error(errptr, "Invalid argument: %s/CURRENT: does not exist (create_if_missing is "
                          "false)", path);
    else if (rc == AXS_EEXIST)
        axp_error(errptr, "Invalid argument: %s: exists (error_if_exists is true)", path);
    else if (rc == AXS_EBUSY)
        axp_error(errptr, "IO error: While lock file: %s/LOCK: Resource temporarily "
                          "unavailable", path);
    else {
        static const char *const known[] = {"Invalid argument: ", "Corruption: ", "IO error: ",
                                            "Not implemented: "};
        static const char not_supported[] = "Not supported: "; /* the core's word for it */
        if (msg && strncmp(msg, not_supported, sizeof not_supported - 1) == 0) {
            axp_error(errptr, "Not implemented: %s", msg + sizeof not_supported - 1);
            return;
        }
        if (msg && *msg)
            for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
                if (strncmp(msg, known[i], strlen(known[i])) == 0) {
                    axp_error(errptr, "%s", msg);
                    return;
                }
        char *tmp = NULL;
        axp_error_core(&tmp, rc, NULL, NULL);
        axp_error(errptr, "%.*s%s", (int)(strchr(tmp, ':') - tmp + 2), tmp,
                  msg && *msg ? msg : axs_strerror(rc));
        free(tmp);
    }
}

static rocksdb_t *db_open(const rocksdb_options_t *o, const char *name, bool read_only,
                          char **errptr)
{
    if (!o || !name) {
        axp_error(errptr, "Invalid argument: %s is NULL", o ? "database path" : "options");
        return NULL;
    }
    if (!*name) {
        axp_error(errptr, "IO error: While mkdir if missing: : No such file or directory");
        return NULL;
    }
    int mode = choose_mode(o, errptr);
    if (mode < 0 || !check_comparator(o, name, mode, errptr))
        return NULL;
    rocksdb_t *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(name))) {
        free(db);
        axp_error(errptr, "IO error: out of memory");
        return NULL;
    }
    db->mode = mode;
    db->read_only = read_only;
    db->comparator = o->x.comparator;
    pthread_rwlock_init(&db->write_mu, NULL);
    int rc = 0;
    if (mode == AXP_MODE_HYBRID) {
        rc = axp_hybrid_open(db, o, read_only, errptr);
    } else {
        axs_options ao;
        axs_options_init(&ao);
        ao.create_if_missing = o->f.create_if_missing && !read_only;
        ao.error_if_exists = o->f.error_if_exists;
        ao.read_only = read_only;
        ao.paranoid_checks = o->f.paranoid_checks;
        ao.compression = o->f.compression == 0 ? AXS_COMPRESSION_NONE : AXS_COMPRESSION_LZ4;
        /* RocksDB's switch for automatic compaction turns the core's background pass off;
         * rocksdb_compact_range still compacts on demand. */
        if (o->f.disable_auto_compactions)
            ao.compaction_garbage_ratio = 0;
        /* RocksDB creates files at every read-write open, so a database directory it may not
         * write fails there; the core would open and fail only at its next new file (segment
         * roll-over, checkpoint). Fail as RocksDB does. */
        struct stat st;
        if (!read_only && stat(name, &st) == 0 && S_ISDIR(st.st_mode) &&
            faccessat(AT_FDCWD, name, W_OK | X_OK, AT_EACCESS) != 0 &&
            (errno == EACCES || errno == EROFS)) {
            axp_error(errptr, "IO error: While opening a file for writing in %s: %s", name,
                      strerror(errno));
            rc = AXS_EIO;
        } else {
            char *msg = NULL;
            rc = axs_open(name, &ao, &db->core, &msg);
            if (rc)
                open_error(errptr, rc, name, msg, read_only, ao.create_if_missing);
            free(msg);
        }
    }
    if (rc) {
        pthread_rwlock_destroy(&db->write_mu);
        free(db->path);
        free(db);
        return NULL;
    }
    db->merge_operator = o->x.merge_operator;
    axp_mergeoperator_ref(db->merge_operator);
    return db;
}

rocksdb_t *rocksdb_open(const rocksdb_options_t *options, const char *name, char **errptr)
{
    return db_open(options, name, false, errptr);
}

rocksdb_t *rocksdb_open_for_read_only(const rocksdb_options_t *options, const char *name,
                                      unsigned char error_if_wal_file_exists, char **errptr)
{
    (void)error_if_wal_file_exists; /* no separate WAL: the log is the data */
    return db_open(options, name, true, errptr);
}

void rocksdb_close(rocksdb_t *db)
{
    if (!db)
        return;
    if (db->mode == AXP_MODE_HYBRID)
        axp_hybrid_close(db);
    else
        axs_close(db->core);
    axp_mergeoperator_unref(db->merge_operator);
    pthread_rwlock_destroy(&db->write_mu);
    free(db->path);
    free(db);
}

void rocksdb_destroy_db(const rocksdb_options_t *options, const char *name, char **errptr)
{
    (void)options;
    if (!name) {
        axp_error(errptr, "Invalid argument: database path is NULL");
        return;
    }
    /* Whatever the mode: the directory's contents say which engine's database it is. */
    if (path_exists(name, "CURRENT")) {
        axp_hybrid_destroy(name, errptr);
        return;
    }
    int rc = axs_destroy(name, NULL);
    if (rc)
        axp_error_core(errptr, rc, NULL, name);
}

void rocksdb_free(void *ptr)
{
    free(ptr);
}

/* ---- writes ---------------------------------------------------------------------------------- */

/* The state of keys written earlier in the batch being resolved (tsearch tree of pend). */
typedef struct pend {
    char *key;
    size_t klen;
    bool present;
    char *value;
    size_t vlen;
} pend;

static int pend_cmp(const void *a, const void *b)
{
    const pend *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = n ? memcmp(x->key, y->key, n) : 0;
    return c ? c : (x->klen < y->klen ? -1 : x->klen > y->klen);
}

static void pend_free(void *p)
{
    pend *e = p;
    free(e->key);
    free(e->value);
    free(e);
}

/* Resolves a RocksDB batch into a core batch of puts and deletes. */
typedef struct resolver {
    rocksdb_t *db;
    axs_batch *out;
    void *tree; /* pend entries: only built when a merge or range deletion needs it */
    bool need_state;
    char **errptr;
    axp_batch_op *ranges; /* range deletions so far, in order */
    size_t nranges, ranges_cap;
} resolver;

static pend *pend_find(resolver *r, const char *key, size_t klen)
{
    pend probe = {(char *)key, klen, false, NULL, 0};
    void *hit = tfind(&probe, &r->tree, pend_cmp);
    return hit ? *(pend **)hit : NULL;
}

/* Records the new state of key in the tree (value copied; NULL = deleted). */
static int pend_set(resolver *r, const char *key, size_t klen, const char *value, size_t vlen)
{
    pend *e = pend_find(r, key, klen);
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e || !(e->key = malloc(klen ? klen : 1))) {
            free(e);
            return -1;
        }
        memcpy(e->key, key, klen);
        e->klen = klen;
        if (!tsearch(e, &r->tree, pend_cmp)) {
            pend_free(e);
            return -1;
        }
    }
    free(e->value);
    e->value = NULL;
    e->vlen = 0;
    e->present = value != NULL;
    if (value) {
        if (!(e->value = malloc(vlen ? vlen : 1)))
            return -1;
        memcpy(e->value, value, vlen);
        e->vlen = vlen;
    }
    return 0;
}

/* The key's current value as the batch sees it: earlier records of the batch, else the core.
 * *value is malloc'd (or NULL when absent). */
static int current_value(resolver *r, const char *key, size_t klen, char **value, size_t *vlen)
{
    *value = NULL;
    *vlen = 0;
    pend *e = pend_find(r, key, klen);
    if (e) {
        if (e->present) {
            if (!(*value = malloc(e->vlen ? e->vlen : 1)))
                return AXS_ENOMEM;
            memcpy(*value, e->value, e->vlen);
            *vlen = e->vlen;
        }
        return AXS_OK;
    }
    /* Not written by the batch since its last range deletion covering it? */
    for (size_t i = r->nranges; i-- > 0;)
        if (axp_key_cmp(key, klen, r->ranges[i].key, r->ranges[i].klen) >= 0 &&
            axp_key_cmp(key, klen, r->ranges[i].value, r->ranges[i].vlen) < 0)
            return AXS_OK; /* deleted by the range (later writes would be in the tree) */
    bool found;
    return axs_get_alloc(r->db->core, NULL, key, klen, value, vlen, &found);
}

/* Marks earlier records of the batch inside the range (the closure) as deleted. */
static void range_walk(const void *node, VISIT which, void *closure)
{
    if (which != postorder && which != leaf)
        return;
    const axp_batch_op *op = closure;
    pend *e = *(pend *const *)node;
    if (e->present && axp_key_cmp(e->key, e->klen, op->key, op->klen) >= 0 &&
        axp_key_cmp(e->key, e->klen, op->value, op->vlen) < 0) {
        free(e->value);
        e->value = NULL;
        e->vlen = 0;
        e->present = false;
    }
}

/* A range deletion: one core entry (one sequence number, as in RocksDB). Earlier records of
 * the batch inside the range are marked deleted, and later reads of the batch's state
 * (merges) see keys in the range as absent. */
static int resolve_range(resolver *r, const axp_batch_op *op)
{
    if (axp_key_cmp(op->key, op->klen, op->value, op->vlen) > 0) {
        axp_error(r->errptr, "Invalid argument: end key comes before start key");
        return -1;
    }
    int rc = axs_batch_delete_range(r->out, op->key, op->klen, op->value, op->vlen);
    if (rc || axp_key_cmp(op->key, op->klen, op->value, op->vlen) >= 0)
        return rc;
    if (r->nranges == r->ranges_cap) {
        size_t nc = r->ranges_cap ? 2 * r->ranges_cap : 8;
        axp_batch_op *nr = realloc(r->ranges, nc * sizeof *nr);
        if (!nr)
            return AXS_ENOMEM;
        r->ranges = nr;
        r->ranges_cap = nc;
    }
    r->ranges[r->nranges++] = *op; /* points into the batch's rep, which outlives r */
    twalk_r(r->tree, range_walk, (void *)op);
    return AXS_OK;
}

static int resolve_op(void *arg, const axp_batch_op *op)
{
    resolver *r = arg;
    int rc = AXS_OK;
    if (op->cf != 0) {
        axp_error(r->errptr, "Invalid argument: column family %" PRIu32 " does not exist "
                             "(this engine has only the default column family)", op->cf);
        return -1;
    }
    switch (op->type) {
    case AXP_OP_PUT:
        rc = axs_batch_put(r->out, op->key, op->klen, op->value, op->vlen);
        if (!rc && r->need_state && pend_set(r, op->key, op->klen, op->value, op->vlen))
            rc = AXS_ENOMEM;
        break;
    case AXP_OP_DELETE:
    case AXP_OP_SINGLE_DELETE:
        rc = axs_batch_delete(r->out, op->key, op->klen);
        if (!rc && r->need_state && pend_set(r, op->key, op->klen, NULL, 0))
            rc = AXS_ENOMEM;
        break;
    case AXP_OP_MERGE: {
        if (!r->db->merge_operator) {
            axp_error(r->errptr, "Invalid argument: merge_operator is not properly initialized.");
            return -1;
        }
        char *cur = NULL, *merged = NULL;
        size_t clen = 0, mlen = 0;
        rc = current_value(r, op->key, op->klen, &cur, &clen);
        if (rc)
            break;
        if (axp_merge_apply(r->db->merge_operator, op->key, op->klen, cur, clen, op->value,
                            op->vlen, &merged, &mlen, r->errptr)) {
            free(cur);
            return -1;
        }
        free(cur);
        rc = axs_batch_put(r->out, op->key, op->klen, merged, mlen);
        if (!rc && pend_set(r, op->key, op->klen, merged, mlen))
            rc = AXS_ENOMEM;
        free(merged);
        break;
    }
    case AXP_OP_DELETE_RANGE:
        rc = resolve_range(r, op);
        break;
    case AXP_OP_LOG_DATA:
    case AXP_OP_NOOP:
        break; /* log data goes to RocksDB's WAL only; nothing to apply */
    default:
        axp_error(r->errptr, "Not implemented: write batch record type 0x%02x (BlobDB, "
                             "wide columns and transactions are not supported)", op->tag);
        return -1;
    }
    if (rc) {
        axp_error_core(r->errptr, rc, r->db->core, "write batch");
        return -1;
    }
    return 0;
}

/* Does the batch hold records whose effect depends on the current state? */
static int scan_op(void *arg, const axp_batch_op *op)
{
    if (op->type == AXP_OP_MERGE)
        *(bool *)arg = true;
    return 0;
}

/*
 * The one write path: resolves the batch (merges, range deletions) against the state the
 * write lock protects, writes it to real RocksDB first in hybrid mode, then to the core.
 * Caller checked db and wo.
 */
static void write_batch(rocksdb_t *db, const rocksdb_writeoptions_t *wo,
                        const rocksdb_writebatch_t *b, char **errptr)
{
    axs_write_options cwo;
    if (!core_write_options(db, wo, &cwo, errptr))
        return;
    if (db->read_only) {
        axp_error(errptr, "Not implemented: Not supported operation in read only mode.");
        return;
    }
    resolver r = {db, axs_batch_create(), NULL, false, errptr, NULL, 0, 0};
    if (!r.out) {
        axp_error(errptr, "IO error: out of memory");
        return;
    }
    if (axp_batch_foreach(b, scan_op, &r.need_state, errptr) != 0) {
        axs_batch_destroy(r.out);
        return;
    }
    pthread_rwlock_wrlock(&db->write_mu);
    int rc = axp_batch_foreach(b, resolve_op, &r, errptr);
    if (rc == 0 && db->mode == AXP_MODE_HYBRID) {
        size_t len;
        const char *rep = axp_batch_rep(b, &len);
        rc = axp_hybrid_write(db, wo, rep, len, errptr);
    }
    if (rc == 0) {
        rc = axs_write(db->core, &cwo, r.out);
        if (rc) {
            axp_error_core(errptr, rc, db->core, NULL);
            if (db->mode == AXP_MODE_HYBRID) /* RocksDB has it; the read side does not */
                axp_hybrid_read_side_failed(db);
        }
    }
    pthread_rwlock_unlock(&db->write_mu);
    tdestroy(r.tree, pend_free);
    free(r.ranges);
    axs_batch_destroy(r.out);
}

void rocksdb_write(rocksdb_t *db, const rocksdb_writeoptions_t *options,
                   rocksdb_writebatch_t *batch, char **errptr)
{
    if (!check_db(db, errptr))
        return;
    if (!batch) {
        axp_error(errptr, "Invalid argument: write batch is NULL");
        return;
    }
    write_batch(db, options, batch, errptr);
}

/* Single writes in native mode go straight to the core (no batch to build): the fast path. */
static void write_one(rocksdb_t *db, const rocksdb_writeoptions_t *wo, int type,
                      const char *key, size_t klen, const char *val, size_t vlen,
                      char **errptr)
{
    if (!check_db(db, errptr) || !check_key(key, klen, errptr) ||
        (type != AXP_OP_DELETE && type != AXP_OP_SINGLE_DELETE &&
         !check_value(val, vlen, errptr)))
        return;
    if (db->mode == AXP_MODE_NATIVE && type != AXP_OP_MERGE && !db->read_only) {
        axs_write_options cwo;
        if (!core_write_options(db, wo, &cwo, errptr))
            return;
        pthread_rwlock_rdlock(&db->write_mu);
        int rc = type == AXP_OP_PUT ? axs_put(db->core, &cwo, key, klen, val, vlen)
                                    : axs_delete(db->core, &cwo, key, klen);
        if (rc)
            axp_error_core(errptr, rc, db->core, NULL);
        pthread_rwlock_unlock(&db->write_mu);
        return;
    }
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    if (!b) {
        axp_error(errptr, "IO error: out of memory");
        return;
    }
    if (type == AXP_OP_PUT)
        rocksdb_writebatch_put(b, key, klen, val, vlen);
    else if (type == AXP_OP_MERGE)
        rocksdb_writebatch_merge(b, key, klen, val, vlen);
    else if (type == AXP_OP_SINGLE_DELETE)
        rocksdb_writebatch_singledelete(b, key, klen);
    else
        rocksdb_writebatch_delete(b, key, klen);
    write_batch(db, wo, b, errptr);
    rocksdb_writebatch_destroy(b);
}

void rocksdb_put(rocksdb_t *db, const rocksdb_writeoptions_t *options, const char *key,
                 size_t keylen, const char *val, size_t vallen, char **errptr)
{
    write_one(db, options, AXP_OP_PUT, key, keylen, val, vallen, errptr);
}

void rocksdb_delete(rocksdb_t *db, const rocksdb_writeoptions_t *options, const char *key,
                    size_t keylen, char **errptr)
{
    write_one(db, options, AXP_OP_DELETE, key, keylen, NULL, 0, errptr);
}

void rocksdb_singledelete(rocksdb_t *db, const rocksdb_writeoptions_t *options, const char *key,
                          size_t keylen, char **errptr)
{
    write_one(db, options, AXP_OP_SINGLE_DELETE, key, keylen, NULL, 0, errptr);
}

void rocksdb_merge(rocksdb_t *db, const rocksdb_writeoptions_t *options, const char *key,
                   size_t keylen, const char *val, size_t vallen, char **errptr)
{
    if (db && !db->merge_operator) {
        axp_error(errptr, "Not implemented: Provide a merge_operator when opening DB");
        return;
    }
    write_one(db, options, AXP_OP_MERGE, key, keylen, val, vallen, errptr);
}

/* ---- reads ------------------------------------------------------------------------------------ */

char *rocksdb_get(rocksdb_t *db, const rocksdb_readoptions_t *options, const char *key,
                  size_t keylen, size_t *vallen, char **errptr)
{
    if (vallen)
        *vallen = 0;
    if (!check_readable(db, errptr) || !check_key(key, keylen, errptr))
        return NULL;
    if (!options || !vallen) {
        axp_error(errptr, "Invalid argument: %s is NULL", options ? "vallen" : "read options");
        return NULL;
    }
    axs_read_options ro;
    core_read_options(options, &ro);
    char *value = NULL;
    size_t len = 0;
    bool found = false;
    int rc = axs_get_alloc(db->core, &ro, key, keylen, &value, &len, &found);
    if (rc) {
        axp_error_core(errptr, rc, db->core, NULL);
        return NULL;
    }
    if (!found)
        return NULL;
    *vallen = len;
    return value;
}

rocksdb_pinnableslice_t *rocksdb_get_pinned(rocksdb_t *db, const rocksdb_readoptions_t *options,
                                            const char *key, size_t keylen, char **errptr)
{
    if (!check_readable(db, errptr) || !check_key(key, keylen, errptr))
        return NULL;
    if (!options) {
        axp_error(errptr, "Invalid argument: read options are NULL");
        return NULL;
    }
    axs_read_options ro;
    core_read_options(options, &ro);
    axs_pinned *pin = NULL;
    bool found = false;
    int rc = axs_get_pinned(db->core, &ro, key, keylen, &pin, &found);
    if (rc) {
        axp_error_core(errptr, rc, db->core, NULL);
        return NULL;
    }
    if (!found)
        return NULL;
    rocksdb_pinnableslice_t *s = malloc(sizeof *s);
    if (!s) {
        axs_pinned_release(pin);
        axp_error(errptr, "IO error: out of memory");
        return NULL;
    }
    s->pin = pin;
    return s;
}

const char *rocksdb_pinnableslice_value(const rocksdb_pinnableslice_t *v, size_t *vlen)
{
    if (!v) {
        if (vlen)
            *vlen = 0;
        return NULL;
    }
    size_t len = 0;
    const char *p = axs_pinned_data(v->pin, &len);
    if (vlen)
        *vlen = len;
    return p;
}

void rocksdb_pinnableslice_destroy(rocksdb_pinnableslice_t *v)
{
    if (!v)
        return;
    axs_pinned_release(v->pin);
    free(v);
}

void rocksdb_multi_get(rocksdb_t *db, const rocksdb_readoptions_t *options, size_t num_keys,
                       const char *const *keys_list, const size_t *keys_list_sizes,
                       char **values_list, size_t *values_list_sizes, char **errs)
{
    if (!values_list || !values_list_sizes || !errs)
        return; /* nowhere to report anything */
    for (size_t i = 0; i < num_keys; i++) {
        errs[i] = NULL;
        values_list[i] = NULL;
        values_list_sizes[i] = 0;
        if (!keys_list || !keys_list_sizes) {
            axp_error(&errs[i], "Invalid argument: keys_list is NULL");
            continue;
        }
        values_list[i] = rocksdb_get(db, options, keys_list[i], keys_list_sizes[i],
                                     &values_list_sizes[i], &errs[i]);
    }
}

unsigned char rocksdb_key_may_exist(rocksdb_t *db, const rocksdb_readoptions_t *options,
                                    const char *key, size_t key_len, char **value,
                                    size_t *val_len, const char *timestamp, size_t timestamp_len,
                                    unsigned char *value_found)
{
    (void)timestamp;
    (void)timestamp_len;
    char *err = NULL;
    size_t len = 0;
    char *v = rocksdb_get(db, options, key, key_len, &len, &err);
    if (err) { /* cannot tell: "may exist" is the safe answer */
        free(err);
        if (value_found)
            *value_found = 0;
        return 1;
    }
    /* The index answers exactly, so the value is always "found" when the key exists. */
    if (value_found) {
        *value_found = v != NULL;
        if (v && value && val_len) {
            *value = v;
            *val_len = len;
            v = NULL;
        }
    }
    unsigned char exists = v != NULL || (value_found && *value_found);
    free(v);
    return exists;
}

/* ---- snapshots --------------------------------------------------------------------------------- */

const rocksdb_snapshot_t *rocksdb_create_snapshot(rocksdb_t *db)
{
    if (!db)
        return NULL;
    rocksdb_snapshot_t *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    if (axs_snapshot_create(db->core, &s->core) != AXS_OK) {
        free(s);
        return NULL;
    }
    return s;
}

void rocksdb_release_snapshot(rocksdb_t *db, const rocksdb_snapshot_t *snapshot)
{
    if (!db || !snapshot)
        return;
    rocksdb_snapshot_t *s = (rocksdb_snapshot_t *)snapshot;
    axs_snapshot_release(db->core, s->core);
    free(s);
}

uint64_t rocksdb_get_latest_sequence_number(rocksdb_t *db)
{
    if (!db)
        return 0;
    if (db->mode == AXP_MODE_HYBRID)
        return axp_hybrid_latest_sequence(db);
    axs_stats st;
    axs_get_stats(db->core, &st);
    return st.last_sequence;
}

/* ---- flush, compaction, properties, sizes --------------------------------------------------- */

void rocksdb_flush(rocksdb_t *db, const rocksdb_flushoptions_t *options, char **errptr)
{
    (void)options; /* wait or not: the flush is synchronous either way */
    if (!check_db(db, errptr))
        return;
    if (db->mode == AXP_MODE_HYBRID) {
        axp_hybrid_flush(db, false, true, errptr);
        return;
    }
    if (db->read_only) {
        axp_error(errptr, "Not implemented: Not supported operation in read only mode.");
        return;
    }
    int rc = axs_flush(db->core);
    if (rc)
        axp_error_core(errptr, rc, db->core, NULL);
}

void rocksdb_flush_wal(rocksdb_t *db, unsigned char sync, char **errptr)
{
    if (!check_db(db, errptr))
        return;
    if (db->mode == AXP_MODE_HYBRID) {
        axp_hybrid_flush(db, true, sync, errptr);
        return;
    }
    /* Every write has reached the operating system already; sync asks for the disk. */
    if (sync && !db->read_only) {
        int rc = axs_flush(db->core);
        if (rc)
            axp_error_core(errptr, rc, db->core, NULL);
    }
}

/* NULL bounds compact everything (axs_compact); a range rewrites that range's records in key
 * order and reclaims the oldest segments left empty (axs_compact_range). In native mode writes
 * go on meanwhile (the core holds them only a chunk at a time). */
static void compact(rocksdb_t *db, const char *start, size_t slen, const char *limit,
                    size_t llen)
{
    if (!db || db->read_only)
        return;
    if (db->mode == AXP_MODE_HYBRID) {
        pthread_rwlock_wrlock(&db->write_mu);
        axp_hybrid_compact(db, start, slen, limit, llen);
        pthread_rwlock_unlock(&db->write_mu);
    } else if (!start && !limit) {
        axs_compact(db->core);
    } else {
        axs_compact_range(db->core, start, start ? slen : 0, limit, limit ? llen : 0);
    }
}

void rocksdb_compact_range(rocksdb_t *db, const char *start_key, size_t start_key_len,
                           const char *limit_key, size_t limit_key_len)
{
    compact(db, start_key, start_key_len, limit_key, limit_key_len);
}

void rocksdb_compact_range_opt(rocksdb_t *db, rocksdb_compactoptions_t *opt,
                               const char *start_key, size_t start_key_len,
                               const char *limit_key, size_t limit_key_len)
{
    (void)opt;
    compact(db, start_key, start_key_len, limit_key, limit_key_len);
}

/* RocksDB property names that map onto the core's; our own "alexstorage.*" pass through. */
char *rocksdb_property_value(rocksdb_t *db, const char *propname)
{
    if (!db || !propname)
        return NULL;
    if (db->mode == AXP_MODE_HYBRID && strncmp(propname, "rocksdb.", 8) == 0)
        return axp_hybrid_property(db, propname);
    if (strcmp(propname, "rocksdb.estimate-num-keys") == 0)
        return axs_property(db->core, "alexstorage.num-keys");
    if (strcmp(propname, "rocksdb.stats") == 0)
        return axs_property(db->core, "alexstorage.stats");
    if (strcmp(propname, "rocksdb.estimate-live-data-size") == 0)
        return axs_property(db->core, "alexstorage.live-bytes");
    if (strcmp(propname, "rocksdb.total-sst-files-size") == 0 ||
        strcmp(propname, "rocksdb.live-sst-files-size") == 0)
        return axs_property(db->core, "alexstorage.log-bytes");
    if (strcmp(propname, "rocksdb.cur-size-all-mem-tables") == 0 ||
        strcmp(propname, "rocksdb.size-all-mem-tables") == 0)
        return strdup("0"); /* no memtables: every write is in the log */
    return axs_property(db->core, propname);
}

int rocksdb_property_int(rocksdb_t *db, const char *propname, uint64_t *out_val)
{
    if (!out_val)
        return -1;
    char *v = rocksdb_property_value(db, propname);
    if (!v)
        return -1;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    int ok = errno == 0 && end != v && *end == '\0';
    free(v);
    if (!ok)
        return -1;
    *out_val = n;
    return 0;
}

/* Bytes of keys and values in each [start, limit) range, by scanning it. */
void rocksdb_approximate_sizes(rocksdb_t *db, int num_ranges,
                               const char *const *range_start_key,
                               const size_t *range_start_key_len,
                               const char *const *range_limit_key,
                               const size_t *range_limit_key_len, uint64_t *sizes,
                               char **errptr)
{
    if (!check_db(db, errptr))
        return;
    if (num_ranges < 0 || (num_ranges > 0 && (!range_start_key || !range_start_key_len ||
                                              !range_limit_key || !range_limit_key_len ||
                                              !sizes))) {
        axp_error(errptr, "Invalid argument: bad ranges");
        return;
    }
    for (int i = 0; i < num_ranges; i++) {
        sizes[i] = 0;
        axs_iter *it = NULL;
        if (axs_iter_create(db->core, NULL, &it) != AXS_OK) {
            axp_error(errptr, "IO error: out of memory");
            return;
        }
        for (axs_iter_seek(it, range_start_key[i], range_start_key_len[i]); axs_iter_valid(it);
             axs_iter_next(it)) {
            size_t kl, vl;
            const char *k = axs_iter_key(it, &kl);
            if (axp_key_cmp(k, kl, range_limit_key[i], range_limit_key_len[i]) >= 0)
                break;
            axs_iter_value(it, &vl);
            sizes[i] += kl + vl;
        }
        axs_iter_destroy(it);
    }
}
