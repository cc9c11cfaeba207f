/*
 * rocksdb_alex.h: the plugin's own additions to RocksDB's C API, for programs that know they
 * run on AlexStorage. Everything else is <rocksdb/c.h>, unchanged.
 *
 * Modes (docs/plugin.md):
 *   "native"  the AlexStorage engine owns the data (default);
 *   "hybrid"  real RocksDB owns the data and takes the writes; an ALEX read side serves reads.
 * Without a call here, the environment variable ALEXSTORAGE_MODE picks the mode at open, so
 * unchanged programs can choose it too. The call wins over the variable.
 */
#ifndef ROCKSDB_ALEX_H
#define ROCKSDB_ALEX_H

#include <rocksdb/c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the mode databases opened with opt will use: "native", "hybrid", or NULL to go back to
 * ALEXSTORAGE_MODE. An unknown name sets *errptr ("Invalid argument: ...") and changes
 * nothing. */
void alexstorage_options_set_mode(rocksdb_options_t *opt, const char *mode, char **errptr);

/* The mode of an open database: "native" or "hybrid" (static string); NULL for NULL. */
const char *alexstorage_db_mode(rocksdb_t *db);

#ifdef __cplusplus
}
#endif

#endif /* ROCKSDB_ALEX_H */
