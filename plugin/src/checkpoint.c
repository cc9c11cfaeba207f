/*
 * checkpoint.c: RocksDB's Checkpoint (c.h section "Checkpoint") on AlexStorage.
 *
 * rocksdb_checkpoint_create copies the open database into a new directory that opens as a
 * database showing exactly the data at the call (docs/backup.md, "Checkpoints"). Native mode
 * uses the core's axs_checkpoint_create (hard links for sealed segments, a copy of the
 * active one, a fresh index checkpoint); hybrid mode is hybrid.c's axp_hybrid_checkpoint.
 *
 * RocksDB's observable behaviour, checked against librocksdb 7.8.3:
 *   - an existing directory (even an empty one): "Invalid argument: Directory exists";
 *   - an empty name: "Invalid argument: invalid checkpoint directory name";
 *   - a missing parent: "IO error: No such file or directory: While mkdir: <dir>.tmp: ...";
 *   - log_size_for_flush is a hint about flushing the memtable first; the engine has no
 *     memtable (its log is the data), so every value behaves as 0 ("always flush") does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"

struct rocksdb_checkpoint_t {
    rocksdb_t *db; /* not owned: the database must outlive the checkpoint object */
};

int axp_db_checkpoint(rocksdb_t *db, const char *dir, char **errptr)
{
    if (!db) {
        axp_error(errptr, "Invalid argument: NULL database");
        return -1;
    }
    if (!dir || !*dir) {
        axp_error(errptr, "Invalid argument: invalid checkpoint directory name");
        return -1;
    }
    if (db->mode == AXP_MODE_HYBRID) {
        struct stat sb;
        if (stat(dir, &sb) == 0) {
            axp_error(errptr, "Invalid argument: Directory exists");
            return -1;
        }
        return axp_hybrid_checkpoint(db, dir, errptr);
    }
    int rc = axs_checkpoint_create(db->core, dir);
    if (rc == AXS_OK)
        return 0;
    if (rc == AXS_EEXIST)
        axp_error(errptr, "Invalid argument: Directory exists");
    else
        axp_error_core(errptr, rc, db->core, NULL);
    return -1;
}

rocksdb_checkpoint_t *rocksdb_checkpoint_object_create(rocksdb_t *db, char **errptr)
{
    if (!db) {
        axp_error(errptr, "Invalid argument: NULL database");
        return NULL;
    }
    rocksdb_checkpoint_t *cp = calloc(1, sizeof *cp);
    if (!cp) {
        axp_error(errptr, "IO error: out of memory");
        return NULL;
    }
    cp->db = db;
    return cp;
}

void rocksdb_checkpoint_create(rocksdb_checkpoint_t *checkpoint, const char *checkpoint_dir,
                               uint64_t log_size_for_flush, char **errptr)
{
    (void)log_size_for_flush; /* no memtable to flush: see the top of this file */
    if (!checkpoint) {
        axp_error(errptr, "Invalid argument: NULL checkpoint object");
        return;
    }
    axp_db_checkpoint(checkpoint->db, checkpoint_dir, errptr);
}

void rocksdb_checkpoint_object_destroy(rocksdb_checkpoint_t *checkpoint)
{
    free(checkpoint);
}
