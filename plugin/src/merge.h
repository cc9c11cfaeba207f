/*
 * merge.h: merge operators (RocksDB's rocksdb_mergeoperator_t) and how the plugin applies them.
 *
 * RocksDB stores merge operands and combines them when a key is read. This engine stores
 * values only, so a merge is applied when it is written: the new value is the user's
 * full_merge of the key's current value (or none) with the one operand, under the handle's
 * write lock so nothing slips in between. What a reader then sees is what RocksDB's Get
 * returns for an associative operator; differences are listed in docs/plugin.md.
 */
#ifndef ALEXSTORAGE_PLUGIN_MERGE_H
#define ALEXSTORAGE_PLUGIN_MERGE_H

#include <stdbool.h>
#include <stddef.h>

#include "capi_internal.h"

/* RocksDB's built-in UInt64AddOperator (rocksdb_options_set_uint64add_merge_operator). */
rocksdb_mergeoperator_t *axp_mergeoperator_create_uint64add(void);

/* Reference counting: a merge operator is shared by the option objects it is set on and the
 * databases opened with them, as RocksDB shares it through shared_ptr. */
void axp_mergeoperator_ref(rocksdb_mergeoperator_t *m);
void axp_mergeoperator_unref(rocksdb_mergeoperator_t *m);

/* Merges operand into the existing value (NULL: the key is absent). On success returns 0 and
 * *out / *out_len hold a malloc'd result (free()). On failure (the operator reported failure)
 * returns -1 with a "Corruption: " message in *errptr. */
int axp_merge_apply(rocksdb_mergeoperator_t *m, const char *key, size_t klen,
                    const char *existing, size_t existing_len, const char *operand,
                    size_t operand_len, char **out, size_t *out_len, char **errptr);


/* For hybrid mode, which hands the same operator to real RocksDB through trampolines. */
bool axp_merge_is_uint64add(const rocksdb_mergeoperator_t *m);
const char *axp_merge_name(const rocksdb_mergeoperator_t *m);
char *axp_merge_full_raw(rocksdb_mergeoperator_t *m, const char *key, size_t klen,
                         const char *existing, size_t elen, const char *const *ops,
                         const size_t *lens, int n, unsigned char *success, size_t *new_len);
/* Without a user partial_merge, reports failure (RocksDB then keeps the operands). */
char *axp_merge_partial_raw(rocksdb_mergeoperator_t *m, const char *key, size_t klen,
                            const char *const *ops, const size_t *lens, int n,
                            unsigned char *success, size_t *new_len);
void axp_merge_delete_raw(rocksdb_mergeoperator_t *m, const char *value, size_t len);

#endif /* ALEXSTORAGE_PLUGIN_MERGE_H */
