/*
 * keyindex.h: an ordered map from byte-string keys to 63-bit record locations, on the ALEX
 * index (internal to libalexstorage; prefix kix_).
 *
 * Design (docs/keys.md has the details, the ordering argument and the costs):
 *
 *  - Keys are arbitrary byte strings, the empty key included, ordered bytewise (memcmp, then
 *    the shorter first), as RocksDB's default comparator orders them.
 *  - The index stores no key bytes. It stores a 63-bit location per key; the caller's key_at
 *    callback returns the key stored at a location (in the engine: the key bytes inside the
 *    log record). Comparisons that need the full key call key_at.
 *  - The index is a tree of levels. The root level indexes every key by its ALEX key: the 8
 *    bytes that follow the root prefix, big-endian, zero-padded. The root prefix is a common
 *    prefix of every stored key (at most KIX_MAX_PREFIX bytes). The ALEX key is monotone in
 *    bytewise order, so ALEX order is key order.
 *  - When a new key does not share the whole root prefix, the prefix shrinks to the common part
 *    and the root is rebuilt. After deletes the true common prefix may be longer than the one
 *    in use; the index checks it (amortised: once per `count` inserts and deletes after a
 *    delete) and rebuilds with the longer prefix ("regrow").
 *  - Keys that share their ALEX key form a group. A group of 2..KIX_BUCKET_MAX keys is a
 *    bucket: an array of locations sorted by full key. A larger group is a nested level: it
 *    indexes the bytes after the 8 consumed at its parent, behind its own common prefix, in an
 *    ALEX tree of its own, recursively; its keys that end within the consumed bytes (at most 9)
 *    are kept in a small sorted array in front. A nested level that drops below
 *    KIX_LEVEL_MIN keys turns back into a bucket. Nesting stops at KIX_MAX_DEPTH levels: there
 *    buckets grow without bound (only adversarial key sets get there; docs/keys.md).
 *
 * Ownership: a kix owns its ALEX trees, buckets and levels. It keeps no pointer to key bytes
 * passed in. Pointers returned by key_at must stay valid until the next call into the kix (one
 * kix call may hold several of them at once).
 *
 * Threads: none of these functions is thread-safe; the engine serialises access.
 */
#ifndef ALEXSTORAGE_KEYINDEX_H
#define ALEXSTORAGE_KEYINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alexstorage/index.h"

#define KIX_MAX_PREFIX 256u           /* longest common prefix a level strips */
#define KIX_LOC_MAX (UINT64_MAX >> 1) /* locations are < 2^63 */
#define KIX_BUCKET_MAX 64u            /* a bucket that would grow past this becomes a level */
#define KIX_LEVEL_MIN 16u             /* a nested level with fewer keys becomes a bucket */
#define KIX_MAX_DEPTH 16u             /* levels on a path, the root included */

/* Returns the key stored at location loc and its length in *len. Never NULL for a location
 * the index was given. */
typedef const uint8_t *(*kix_key_at_fn)(void *ctx, uint64_t loc, size_t *len);

/* Optional: starts loading the key stored at loc into the cache without waiting (a hint; it
 * must not fail or block). Bulk loads call it a few keys ahead of key_at. */
typedef void (*kix_prefetch_fn)(void *ctx, uint64_t loc);

typedef struct kix kix;

/* A position in key order: valid until the next modification of the kix. A plain value of
 * fixed size (the engine embeds it); its fields are internal to keyindex.c. Frame d is the
 * position in the level at depth d: an ALEX position (ac[d]) and an index (pos[d]) within the
 * bucket there, or, with ac[d].node NULL, the index of one of that nested level's short keys.
 * The key is that of the last frame. */
typedef struct kix_cursor {
    uint32_t depth; /* frames in use; 0: not on a key */
    uint32_t pos[KIX_MAX_DEPTH];
    axi_cursor ac[KIX_MAX_DEPTH];
} kix_cursor;

/* The database's key order: memcmp on the common length, then the shorter key first. */
static inline int kix_key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c;
    return (alen > blen) - (alen < blen);
}

/* Returns AXI_OK, AXI_ENOMEM or AXI_EINVAL. */
int kix_create(kix_key_at_fn key_at, void *ctx, kix **out);
/* Sets (or clears, with NULL) the prefetch hint used by bulk loads. */
void kix_set_prefetch(kix *ix, kix_prefetch_fn prefetch);
void kix_destroy(kix *ix);

uint64_t kix_count(const kix *ix);

/* Sets key -> loc (loc <= KIX_LOC_MAX). If the key was present, stores its previous location
 * in *old_loc (if not NULL) and sets *replaced (if not NULL; else it is cleared). Returns AXI_OK,
 * AXI_EINVAL (ix NULL, key NULL with klen > 0, or loc > KIX_LOC_MAX: nothing changed) or
 * AXI_ENOMEM (then nothing changed). Replacing the location of a present key never allocates.
 * kix_put never calls key_at for loc (it has the key's bytes), so the caller may index a record
 * before the record is readable at loc. */
int kix_put(kix *ix, const void *key, size_t klen, uint64_t loc, uint64_t *old_loc,
            bool *replaced);

/* Looks up key; true and *loc on a hit. */
bool kix_get(const kix *ix, const void *key, size_t klen, uint64_t *loc);

/* Removes key; true and its location in *old_loc (if not NULL) on a hit. Never fails (an
 * allocation it tries, to shrink or regroup something, may fail harmlessly). When the last key
 * goes, the kix forgets its prefix and starts over like a new one. */
bool kix_delete(kix *ix, const void *key, size_t klen, uint64_t *old_loc);

/* Replaces every key in one pass from locations sorted by key (strictly increasing keys),
 * e.g. from a checkpoint. The kix must be empty. Returns AXI_OK, AXI_EINVAL (not sorted,
 * duplicates, or not empty) or AXI_ENOMEM. */
int kix_bulk_load(kix *ix, const uint64_t *locs, size_t n);

/* The ALEX key a level keyed at byte pos files key under: bytes [pos, pos + 8) big-endian,
 * zero-padded (0 for a key shorter than pos). */
uint64_t kix_akey(const void *key, size_t klen, size_t pos);
/* The prefix every key starts with (the root level keys the bytes after it); returns its
 * length, *prefix pointing into the kix (valid until the next modification). */
size_t kix_prefix(const kix *ix, const uint8_t **prefix);
/* The root ALEX key of the key at a valid cursor (= kix_akey(key, klen, prefix length)),
 * read from the cursor when it knows it. For checkpoints. */
uint64_t kix_cursor_root_akey(const kix *ix, const kix_cursor *c);
/* Like kix_bulk_load, from a checkpoint that also kept each key's root ALEX key and the
 * prefix. The caller guarantees (having checked it) that every key starts with prefix and that
 * akeys[i] == kix_akey(key i, plen); keys are read only where ALEX keys are equal, and their
 * order is checked there. Returns AXI_OK, AXI_EINVAL (not sorted) or AXI_ENOMEM. */
int kix_bulk_load_hinted(kix *ix, const uint64_t *locs, const uint64_t *akeys, size_t n,
                         const uint8_t *prefix, size_t plen);

/* Cursor positioning; each returns true if the cursor is on a key. */
bool kix_first(const kix *ix, kix_cursor *c);
bool kix_last(const kix *ix, kix_cursor *c);
bool kix_seek(const kix *ix, const void *key, size_t klen, kix_cursor *c);          /* >= key */
bool kix_seek_for_prev(const kix *ix, const void *key, size_t klen, kix_cursor *c); /* <= key */
bool kix_next(const kix *ix, kix_cursor *c);
bool kix_prev(const kix *ix, kix_cursor *c);
/* Location of the key under c; UINT64_MAX if c is not on a key (a failed positioning or step
 * leaves c->depth 0). kix_next/kix_prev on such a cursor return false. */
uint64_t kix_cursor_loc(const kix *ix, const kix_cursor *c);
/* Replaces the location of the key under a valid cursor (loc <= KIX_LOC_MAX): for moving a
 * record (compaction). Changes nothing else and invalidates no cursor. */
void kix_cursor_set_loc(kix *ix, const kix_cursor *c, uint64_t loc);

/* Shape and memory. O(levels + ALEX nodes); not for hot paths. */
typedef struct kix_stats {
    axi_stats alex;            /* the root level's ALEX tree */
    uint64_t prefix_len;       /* bytes the root strips */
    uint64_t prefix_rebuilds;  /* times the root prefix shrank and the index was rebuilt */
    uint64_t prefix_regrows;   /* times the root was rebuilt under a longer prefix */
    uint64_t buckets;          /* buckets, at every level */
    uint64_t bucket_keys;      /* keys living in buckets */
    uint64_t max_bucket;       /* keys in the largest bucket (0: none) */
    uint64_t levels;           /* nested levels */
    uint64_t level_keys;       /* keys living in nested levels */
    uint64_t max_depth;        /* depth of the deepest nested level (0: none; root is 0) */
    uint64_t level_rebuilds;   /* nested levels rebuilt for their prefix (shrink or regrow) */
    uint64_t memory_bytes;     /* ALEX trees + buckets + levels + bookkeeping */
} kix_stats;
void kix_get_stats(const kix *ix, kix_stats *st);

/* Checks the ALEX invariants of every tree plus: global key order, every key filed under its
 * ALEX key and starting with the prefix at every level on its path, bucket and level sizes,
 * short keys, counts and the bookkeeping behind kix_get_stats. O(n); for tests. 0 or -1 with a
 * message. */
int kix_check(const kix *ix, char *msg, size_t msg_len);

#endif /* ALEXSTORAGE_KEYINDEX_H */
