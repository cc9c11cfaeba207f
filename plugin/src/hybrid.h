/*
 * hybrid.h: hybrid mode (ALEXSTORAGE_MODE=hybrid): real RocksDB owns the data and takes every
 * write; the AlexStorage core keeps a read-side copy, updated by the same write call, that
 * serves reads. docs/plugin.md states the consistency guarantee and its cost.
 *
 * Real librocksdb is loaded with dlopen(RTLD_LOCAL) and called through function pointers, so
 * its rocksdb_* symbols never meet the plugin's. Every function here runs with db->write_mu
 * held by the caller where it writes.
 */
#ifndef ALEXSTORAGE_PLUGIN_HYBRID_H
#define ALEXSTORAGE_PLUGIN_HYBRID_H

#include <stdbool.h>
#include <stddef.h>

#include "capi_objects.h"

/* Opens real RocksDB in db->path with the equivalent options, then rebuilds the read side
 * (db->core, in db->path/alexstorage-read) from it. 0, or -1 with *errptr set. */
int axp_hybrid_open(rocksdb_t *db, const rocksdb_options_t *opts, bool read_only,
                    char **errptr);
void axp_hybrid_close(rocksdb_t *db);
/* Writes a batch (RocksDB's byte format) to real RocksDB. 0, or -1 with *errptr set. */
int axp_hybrid_write(rocksdb_t *db, const rocksdb_writeoptions_t *wo, const char *rep,
                     size_t len, char **errptr);
/* The read side failed to take a write RocksDB took: refuse writes and reads until reopen. */
void axp_hybrid_read_side_failed(rocksdb_t *db);
/* False (with *errptr set) once the read side has failed. */
bool axp_hybrid_readable(rocksdb_t *db, char **errptr);
int axp_hybrid_flush(rocksdb_t *db, bool wal_only, bool sync, char **errptr);
int axp_hybrid_compact(rocksdb_t *db, const char *start, size_t slen, const char *limit,
                       size_t llen);
/* Real RocksDB's value of a property (malloc'd), or NULL. */
char *axp_hybrid_property(rocksdb_t *db, const char *name);
uint64_t axp_hybrid_latest_sequence(rocksdb_t *db);
/* Destroys a RocksDB database in path and its read side. 0, or -1 with *errptr set. */
int axp_hybrid_destroy(const char *path, char **errptr);
/* Real RocksDB's checkpoint of db into dir (checkpoint.h). */
int axp_hybrid_checkpoint(rocksdb_t *db, const char *dir, char **errptr);

#define AXP_HYBRID_READ_DIR "alexstorage-read"

#endif /* ALEXSTORAGE_PLUGIN_HYBRID_H */
