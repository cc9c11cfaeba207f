/*
 * checkpoint.h: checkpoints of the plugin's databases (checkpoint.c), shared with hybrid.c and
 * backup.c. axp_db_checkpoint itself is declared in capi_internal.h.
 */
#ifndef ALEXSTORAGE_PLUGIN_CHECKPOINT_H
#define ALEXSTORAGE_PLUGIN_CHECKPOINT_H

#include "capi_internal.h"

/* Hybrid mode (hybrid.c): copies both sides of a hybrid database into the new directory dir,
 * which does not exist (axp_db_checkpoint has checked it) and whose parent does, so that
 * rocksdb_open in hybrid mode on dir sees the database as it was at the call. Everything it
 * leaves in dir must be regular files or directories of them (backup.c copies the tree).
 * Returns 0, or -1 with *errptr set in RocksDB's words. */
int axp_hybrid_checkpoint(rocksdb_t *db, const char *dir, char **errptr);

#endif /* ALEXSTORAGE_PLUGIN_CHECKPOINT_H */
