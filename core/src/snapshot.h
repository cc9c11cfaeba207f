/*
 * snapshot.h: snapshots and the version store that serves them (snapshot.c).
 *
 * The index maps each key to its newest entry only. When a write replaces or removes a key
 * while a snapshot is live, the state it replaces is kept here as a version: (key, the
 * sequence number of the replacing write, the replaced state). The replaced state is the
 * location of the old PUT entry in the log (the log never changes in place, so the location
 * stays readable until compaction removes its segment, and compaction first copies such
 * values into memory), or "absent" when the key did not exist.
 *
 * Reading key k at snapshot sequence s: the first version of k with seq > s holds k's state
 * at s; when k has no such version, nothing changed k after s and the index has the answer.
 *
 * Invariants:
 *  - versions of a key are ordered by seq, oldest first, and every seq is larger than the
 *    sequence of the snapshot that was newest when it was recorded;
 *  - a version is recorded only if no version of its key has seq > the newest live snapshot
 *    (else every live snapshot resolves to that earlier version and a new one is never read);
 *  - versions with seq <= the oldest live snapshot are never read and are dropped when a
 *    snapshot is released; all are dropped when none is live.
 * Everything here runs under db->mu.
 */
#ifndef ALEXSTORAGE_SNAPSHOT_H
#define ALEXSTORAGE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alexstorage/db.h"

#define VS_ABSENT UINT64_MAX /* version loc: the key did not exist */

typedef struct vs_version {
    uint64_t seq;       /* the write that replaced this state */
    uint64_t loc;       /* old PUT entry, VS_ABSENT, or unused when copied */
    uint8_t *value;     /* copied value (owned) once compaction moved the entry; else NULL */
    size_t vlen;
    bool copied;
    struct vs_version *next; /* newer */
} vs_version;

typedef struct vs_node vs_node;
typedef struct vstore vstore;

struct axs_snapshot {
    uint64_t seq;
    struct axs_snapshot *prev, *next; /* db's list, oldest first */
};

int vs_create(vstore **out);
void vs_destroy(vstore *vs);
bool vs_empty(const vstore *vs);
size_t vs_bytes(const vstore *vs);

/* Records that the write numbered seq replaces key's state (old_loc, or VS_ABSENT), given the
 * newest live snapshot's sequence. AXS_OK or AXS_ENOMEM. */
int vs_record(vstore *vs, const void *key, size_t klen, uint64_t seq, uint64_t old_loc,
              uint64_t newest_snapshot);
/* The version of key holding its state at snapshot sequence s, or NULL (state = current). */
const vs_version *vs_lookup(const vstore *vs, const void *key, size_t klen, uint64_t s);

/* Ordered access for iterators: the node with the smallest key > key (or >= when inclusive),
 * or the largest key < key (<= when inclusive). NULL when none. key NULL with after=true
 * means "first", with after=false "last". */
const vs_node *vs_seek(const vstore *vs, const void *key, size_t klen, bool after,
                       bool inclusive);
const void *vs_node_key(const vs_node *n, size_t *klen);
/* The version of node n holding its state at s, or NULL. */
const vs_version *vs_node_version(const vs_node *n, uint64_t s);

/* Drops versions no live snapshot can read: those with seq <= oldest (all if !any_live). */
void vs_collect(vstore *vs, bool any_live, uint64_t oldest);

/* Calls fn for every version still pointing into the log, so compaction can copy it. */
int vs_for_each_located(vstore *vs, int (*fn)(void *arg, vs_version *v), void *arg);

#endif /* ALEXSTORAGE_SNAPSHOT_H */
