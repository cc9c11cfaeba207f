/*
 * index.h: the ALEX adaptive learned index for 64-bit keys and 64-bit payloads.
 *
 * Contract (read this before calling anything):
 *
 *  1. What it is. An ordered map uint64_t -> uint64_t after Ding et al., "ALEX: An Updatable
 *     Adaptive Learned Index" (SIGMOD 2020). Keys are unique; every uint64_t value is a valid
 *     key, 0 and UINT64_MAX included. Payloads are opaque to the index. docs/index.md explains
 *     the structure (gapped-array data nodes, exactly routed model nodes) and its invariants.
 *
 *  2. Ownership. The tree owns all of its memory. axi_create() hands the caller one handle that
 *     the caller releases with axi_destroy(). No function keeps a pointer to caller memory after
 *     it returns; bulk-loaded arrays are copied.
 *
 *  3. Errors. Functions that can fail return an int: AXI_OK (0) or a negative AXI_E* code;
 *     axi_strerror() names it. "Key not found" is not an error: lookups return bool. After a
 *     failed call the tree is unchanged and still valid (an out-of-memory insert is not applied).
 *
 *  4. Threads. A tree is not internally synchronised. Any number of threads may run the
 *     read-only functions (those taking `const axi_tree *`, and cursor functions) at once,
 *     provided no thread modifies the tree meanwhile; reads write no shared state. Modifying
 *     calls need exclusive access. The storage engine layers its own concurrency scheme on top.
 *
 *  5. Cursors. An axi_cursor is a position in the tree. It is invalidated by any modification
 *     of the tree (upsert, erase, bulk load); using a stale cursor is undefined. To resume after
 *     a modification, seek again with axi_lower_bound() on the last key seen.
 *
 *  6. Bounds. Memory is O(n) with a constant stated in docs/index.md (bytes per key, reported
 *     by axi_get_stats); tree depth is at most AXI_MAX_DEPTH; no single operation rebuilds more
 *     than one data node of at most AXI_MAX_DATA_NODE_SLOTS slots plus one model node. The
 *     one exception: a data node at depth AXI_MAX_DEPTH grows past the slot cap rather than
 *     deepening the tree (docs/index.md, "Growing"); no tested input gets there.
 */
#ifndef ALEXSTORAGE_INDEX_H
#define ALEXSTORAGE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alexstorage/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. 0 is success; errors are negative so they can share a return value with counts. */
enum {
    AXI_OK = 0,
    AXI_ENOMEM = -1,   /* an allocation failed; the tree is unchanged */
    AXI_EINVAL = -2,   /* bad argument: NULL pointer, unsorted or duplicate bulk-load keys */
    AXI_ENOTEMPTY = -3 /* bulk load into a tree that already holds keys */
};

/* Structural limits, fixed at compile time. */
#define AXI_MAX_DEPTH 24                       /* model-node levels above a data node, at most */
#define AXI_MAX_FANOUT (1u << 16)              /* child slots of one model node, at most */
#define AXI_MAX_DATA_NODE_SLOTS (1u << 14)     /* slots of one data node (see bound 6 above) */

typedef struct axi_tree axi_tree;

/* A position in the tree: a data node and a slot in it. Plain value; copy freely. */
typedef struct axi_cursor {
    const void *node; /* NULL when the cursor is past either end */
    uint32_t slot;
} axi_cursor;

/* Counters and shape, filled by axi_get_stats(). All counts are exact at the time of the call. */
typedef struct axi_stats {
    uint64_t num_keys;
    uint64_t num_model_nodes;
    uint64_t num_data_nodes;
    uint32_t max_depth;          /* levels of model nodes above the deepest data node */
    uint64_t memory_bytes;       /* everything the tree allocated, headers included */
    uint64_t data_slots;         /* total slots in all data nodes (keys + gaps) */
    /* Work done by modifying operations since creation (lookups write nothing, see contract 4). */
    uint64_t num_inserts;        /* upserts that added a key */
    uint64_t num_updates;        /* upserts that replaced a payload */
    uint64_t num_erases;
    uint64_t search_steps;       /* exponential + binary search iterations spent by inserts */
    uint64_t shifts;             /* slots moved to open a gap for inserts */
    uint64_t expansions;         /* data nodes rebuilt larger */
    uint64_t contractions;       /* data nodes rebuilt smaller after erases */
    uint64_t retrains;           /* data-node models refitted (every rebuild refits) */
    uint64_t splits_sideways;    /* data node split into two under the same parent */
    uint64_t splits_down;        /* data node replaced by a new model node with children */
    uint64_t model_expansions;   /* model node doubled its slots (finer or wider domain) */
    uint64_t root_expansions;    /* new root placed above the old one to widen the domain */
    uint64_t merges;             /* two sibling data nodes merged after erases */
} axi_stats;

/* Returns a static, human-readable name for an AXI_* code. Never NULL. */
AXS_EXPORT const char *axi_strerror(int code);

/* Creates an empty tree in *out. Returns AXI_OK, AXI_EINVAL (out NULL) or AXI_ENOMEM. */
AXS_EXPORT int axi_create(axi_tree **out);

/* Frees the tree and everything it owns. NULL is allowed and does nothing. */
AXS_EXPORT void axi_destroy(axi_tree *tree);

/* Loads n pairs into an empty tree, building the structure top-down in one pass (a fan-out
 * tree over the key distribution). keys must be strictly increasing. payloads may be NULL, in
 * which case each payload is 0. Both arrays are copied; the caller keeps them.
 * Returns AXI_OK, AXI_EINVAL (unsorted/duplicate keys, NULL keys with n > 0),
 * AXI_ENOTEMPTY, or AXI_ENOMEM (the tree is left empty). */
AXS_EXPORT int axi_bulk_load(axi_tree *tree, const uint64_t *keys, const uint64_t *payloads,
                             size_t n);

/* Inserts key with payload, or replaces the payload if key is present (upsert).
 * If inserted is not NULL it is set to true when the key was new.
 * Returns AXI_OK or AXI_ENOMEM (nothing changed). */
AXS_EXPORT int axi_upsert(axi_tree *tree, uint64_t key, uint64_t payload, bool *inserted);

/* Finds key. On a hit stores its payload in *payload (if not NULL) and returns true. */
AXS_EXPORT bool axi_find(const axi_tree *tree, uint64_t key, uint64_t *payload);

/* Removes key. On a hit stores the old payload in *payload (if not NULL) and returns true.
 * Never fails: shrinking a node is skipped if memory for the smaller copy is not available. */
AXS_EXPORT bool axi_erase(axi_tree *tree, uint64_t key, uint64_t *payload);

AXS_EXPORT uint64_t axi_size(const axi_tree *tree);

/* Cursor positioning. Each returns true and sets *cur to a key, or returns false and sets
 * cur->node = NULL when there is no such key. */
AXS_EXPORT bool axi_first(const axi_tree *tree, axi_cursor *cur);
AXS_EXPORT bool axi_last(const axi_tree *tree, axi_cursor *cur);
/* First key >= key. */
AXS_EXPORT bool axi_lower_bound(const axi_tree *tree, uint64_t key, axi_cursor *cur);
/* First key > key. */
AXS_EXPORT bool axi_upper_bound(const axi_tree *tree, uint64_t key, axi_cursor *cur);
/* Last key <= key (the "seek for prev" of an ordered store). */
AXS_EXPORT bool axi_floor(const axi_tree *tree, uint64_t key, axi_cursor *cur);

/* Step to the next / previous key. Returns false (and sets cur->node = NULL) past the end.
 * cur must be valid (node != NULL). */
AXS_EXPORT bool axi_next(axi_cursor *cur);
AXS_EXPORT bool axi_prev(axi_cursor *cur);

/* Key and payload at a valid cursor. */
AXS_EXPORT uint64_t axi_cursor_key(const axi_cursor *cur);
AXS_EXPORT uint64_t axi_cursor_payload(const axi_cursor *cur);
/* Replaces the payload at a valid cursor (the key stays). The cursor must come from a tree the
 * caller may modify; like any modification, not concurrently with readers of that tree.
 * Unlike the others, it invalidates no cursor. */
AXS_EXPORT void axi_cursor_set_payload(const axi_cursor *cur, uint64_t payload);

AXS_EXPORT void axi_get_stats(const axi_tree *tree, axi_stats *stats);

/* Walks the whole tree and checks every structural invariant listed in docs/index.md
 * (ordering, gap fill, bitmap and count agreement, routing of every key back to its node,
 * run alignment, leaf chain, depth bound). Returns 0 if all hold; otherwise writes a one-line
 * description of the first violation into msg (if msg is not NULL) and returns -1.
 * O(n); meant for tests. */
AXS_EXPORT int axi_check(const axi_tree *tree, char *msg, size_t msg_len);

#ifdef __cplusplus
}
#endif

#endif /* ALEXSTORAGE_INDEX_H */
