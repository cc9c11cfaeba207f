/*
 * shim.c: a stand-in for plugin/src/db.c while the plugin library is being written: the few
 * rocksdb_* database calls test_backup.c uses, built directly on the core (native mode only),
 * with the same rocksdb_t as capi_internal.h. Built only when plugin/src/db.c is missing or
 * AXP_BACKUP_TEST_SHIM is ON (CMakeLists.txt); the real plugin replaces it otherwise.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "capi_internal.h"
#include "checkpoint.h"

struct rocksdb_options_t {
    unsigned char create_if_missing;
};
struct rocksdb_writeoptions_t {
    int unused;
};
struct rocksdb_readoptions_t {
    int unused;
};

rocksdb_options_t *rocksdb_options_create(void)
{
    return calloc(1, sizeof(rocksdb_options_t));
}
void rocksdb_options_destroy(rocksdb_options_t *o)
{
    free(o);
}
void rocksdb_options_set_create_if_missing(rocksdb_options_t *o, unsigned char v)
{
    o->create_if_missing = v;
}
rocksdb_writeoptions_t *rocksdb_writeoptions_create(void)
{
    return calloc(1, sizeof(rocksdb_writeoptions_t));
}
void rocksdb_writeoptions_destroy(rocksdb_writeoptions_t *o)
{
    free(o);
}
rocksdb_readoptions_t *rocksdb_readoptions_create(void)
{
    return calloc(1, sizeof(rocksdb_readoptions_t));
}
void rocksdb_readoptions_destroy(rocksdb_readoptions_t *o)
{
    free(o);
}
void rocksdb_free(void *p)
{
    free(p);
}

rocksdb_t *rocksdb_open(const rocksdb_options_t *options, const char *name, char **errptr)
{
    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = options && options->create_if_missing;
    o.segment_size = 64 * 1024; /* several segments in small tests: links get exercised */
    rocksdb_t *db = calloc(1, sizeof *db);
    char *msg = NULL;
    int rc = db ? axs_open(name, &o, &db->core, &msg) : AXS_ENOMEM;
    if (rc) {
        axp_error(errptr, "%s", msg ? msg : axs_strerror(rc));
        free(msg);
        free(db);
        return NULL;
    }
    db->mode = AXP_MODE_NATIVE;
    db->path = strdup(name);
    pthread_rwlock_init(&db->write_mu, NULL);
    return db;
}

void rocksdb_close(rocksdb_t *db)
{
    if (!db)
        return;
    axs_close(db->core);
    pthread_rwlock_destroy(&db->write_mu);
    free(db->path);
    free(db);
}

void rocksdb_put(rocksdb_t *db, const rocksdb_writeoptions_t *options, const char *key,
                 size_t keylen, const char *val, size_t vallen, char **errptr)
{
    (void)options;
    int rc = axs_put(db->core, NULL, key, keylen, val, vallen);
    if (rc)
        axp_error_core(errptr, rc, db->core, NULL);
}

void rocksdb_delete(rocksdb_t *db, const rocksdb_writeoptions_t *options, const char *key,
                    size_t keylen, char **errptr)
{
    (void)options;
    int rc = axs_delete(db->core, NULL, key, keylen);
    if (rc)
        axp_error_core(errptr, rc, db->core, NULL);
}

char *rocksdb_get(rocksdb_t *db, const rocksdb_readoptions_t *options, const char *key,
                  size_t keylen, size_t *vallen, char **errptr)
{
    (void)options;
    char *v = NULL;
    bool found = false;
    int rc = axs_get_alloc(db->core, NULL, key, keylen, &v, vallen, &found);
    if (rc)
        axp_error_core(errptr, rc, db->core, NULL);
    if (!found)
        *vallen = 0;
    return found ? v : NULL;
}

/* hybrid.c is the lead's; the shim has native mode only. */
int axp_hybrid_checkpoint(rocksdb_t *db, const char *dir, char **errptr)
{
    (void)db;
    (void)dir;
    axp_error(errptr, "Not implemented: hybrid checkpoint in the test shim");
    return -1;
}
