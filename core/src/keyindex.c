/*
 * keyindex.c: byte-string keys on the ALEX index (contract in keyindex.h, design in
 * docs/keys.md).
 *
 * State of a kix: a tree of levels.
 *
 *  - A level L indexes keys by the 8 bytes at position pos = L->off + L->plen, big-endian and
 *    zero-padded (akey_of). L->off is the number of key bytes consumed above L (0 at the root);
 *    L->prefix[0..plen) are the bytes [off, pos) every "long" key of L has. Its ALEX tree maps an
 *    ALEX key to a payload:
 *      - below 2^63: a location, the only key of L with that ALEX key;
 *      - GROUP_BIT set, LEVEL_TAG clear: a bucket (kix_bucket), 2..KIX_BUCKET_MAX locations
 *        sorted by key (more only at depth KIX_MAX_DEPTH - 1, where nesting stops);
 *      - GROUP_BIT and LEVEL_TAG set: a nested level holding the group (>= 2 keys, normally
 *        >= KIX_LEVEL_MIN).
 *    Group payloads hold the pointer shifted right by one (allocations are at least 4-aligned,
 *    so bit 1 of the pointer is free for the tag once shifted into bit 0).
 *  - The root level (ix->root, depth 0, off 0) holds every key; its prefix lives in
 *    ix->root_prefix. has_prefix is false while the kix is empty; the next key then sets the
 *    prefix to its first min(len, KIX_MAX_PREFIX) bytes.
 *  - A nested level C created for the group of ALEX key W at level L (position pos) has
 *    C->off = pos + 8. Every key of the group starts with the bytes [0, pos) shared at L and
 *    has W as its zero-padded window. The keys of length <= C->off ("short" keys) are prefixes
 *    of those pos + 8 bytes, so they differ only in length: at most 9 of them, and they sort
 *    before every longer key of the group; they live in C->shorts[], sorted. The others ("long"
 *    keys) start with all pos + 8 bytes and are indexed by C's tree behind C's own prefix.
 *
 * Order: for keys a < b of a level, akey(a) <= akey(b) (docs/keys.md), so a key that is not
 * stored can be positioned by its own ALEX key: entries with a smaller ALEX key hold smaller
 * keys, entries with a larger one larger keys, and only the entry with the equal ALEX key needs
 * a closer look (a full-key comparison, a bucket search, or the same procedure one level down).
 *
 * Prefixes: a key that does not start with a level's prefix (it sorts before or after all the
 * level's long keys) shrinks that prefix to the common part; the level is rebuilt in place
 * (level_rebuild). Each level counts inserts and deletes since its last rebuild or check
 * (mods); after a delete (dirty), once mods reaches the level's key count, the true common
 * prefix of the level's long keys (that of its first and last long key) is computed and, if
 * longer, the level is rebuilt with it (maybe_regrow). Both are O(keys of the level).
 *
 * Failure atomicity: every AXI_ENOMEM return leaves the kix as it was. Every step of a put that
 * can fail (a new bucket, a larger bucket, a nested level built from a bucket, a fresh ALEX key,
 * a rebuild into a new tree) comes before the first change; replacing the payload of an ALEX
 * key that is already present never allocates. Optional work after a change (a regrow, a
 * collapse of a small level, shrinking a bucket) is skipped when its allocation fails.
 *
 * kix_put never calls key_at for the location it is putting (it has the key's bytes; builds
 * read that key through bsrc).
 */
#include "keyindex.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_BIT (UINT64_C(1) << 63)
#define LEVEL_TAG UINT64_C(1)
#define BUCKET_INIT_CAP 4u
#define SHORT_MAX 9u /* short keys of a nested level: lengths off-8 .. off */
#define HIST_BINS (KIX_BUCKET_MAX + 2u)

#if defined(__GNUC__)
#define KIX_NOINLINE __attribute__((noinline)) /* keeps slow paths out of the fast ones */
#else
#define KIX_NOINLINE
#endif

_Static_assert(sizeof(uintptr_t) <= sizeof(uint64_t), "group payloads hold a pointer");
_Static_assert(KIX_LEVEL_MIN > SHORT_MAX && KIX_LEVEL_MIN <= KIX_BUCKET_MAX,
               "a level must be able to hold its short keys and collapse into a bucket");
_Static_assert(KIX_MAX_DEPTH >= 1 && KIX_MAX_DEPTH <= 255, "depth fits the level field");

typedef struct kix_bucket {
    uint32_t n;      /* locations held, >= 2 while the bucket is in use */
    uint32_t cap;    /* room in locs[] */
    uint64_t locs[]; /* n locations, strictly increasing by key */
} kix_bucket;

typedef struct kix_level kix_level;
struct kix_level {
    axi_tree *tree;   /* long keys, by the ALEX key at off + plen */
    uint8_t *prefix;  /* plen bytes (root: ix->root_prefix; nested: own allocation or NULL) */
    uint32_t off;     /* key bytes consumed above this level */
    uint32_t plen;    /* bytes [off, off + plen) shared by every long key */
    uint64_t count;   /* keys in the level: shorts + everything under tree */
    uint64_t mods;    /* inserts and deletes since the last rebuild or regrow check */
    bool dirty;       /* a delete since then: the common prefix may have grown */
    uint8_t depth;    /* 0: the root */
    uint8_t nshort;   /* short keys (nested levels only) */
    uint64_t shorts[SHORT_MAX]; /* strictly increasing by key (and length) */
    kix_level *prev, *next;     /* list of nested levels */
};

struct kix {
    kix_key_at_fn key_at;
    void *ctx;
    kix_prefetch_fn prefetch; /* optional: see kix_set_prefetch */
    kix_level root;
    bool has_prefix;
    uint64_t rebuilds;       /* root prefix shrinks */
    uint64_t regrows;        /* root prefix regrows */
    uint64_t level_rebuilds; /* nested prefix shrinks and regrows */
    uint64_t buckets, bucket_keys, bucket_bytes;
    uint64_t levels, level_bytes; /* nested levels: count, bytes of structs and prefixes */
    kix_level *nested;            /* list of nested levels */
    uint64_t hist[HIST_BINS];     /* buckets by size (the last bin: above KIX_BUCKET_MAX) */
    uint8_t root_prefix[KIX_MAX_PREFIX];
};

/* ---- Keys ---------------------------------------------------------------------------------- */

static inline uint64_t load_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* ALEX key of key[0..klen) at position pos (klen >= pos): key[pos .. pos+8) big-endian,
 * zero-padded. */
static inline uint64_t akey_of(const uint8_t *key, size_t klen, size_t pos)
{
    size_t rem = klen - pos;
    if (rem >= 8)
        return load_be64(key + pos);
    if (rem == 0)
        return 0;
    uint64_t v = 0;
    const uint8_t *p = key + pos;
    for (size_t i = 0; i < rem; i++)
        v = (v << 8) | p[i];
    return v << (8 * (8 - rem));
}

/* Length of the common prefix of a and b, at most limit. */
static size_t common_len(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                         size_t limit)
{
    size_t m = alen < blen ? alen : blen;
    if (m > limit)
        m = limit;
    size_t i = 0;
    while (i + 8 <= m && load_be64(a + i) == load_be64(b + i))
        i += 8;
    while (i < m && a[i] == b[i])
        i++;
    return i;
}

static inline const uint8_t *key_of(const kix *ix, uint64_t loc, size_t *len)
{
    return ix->key_at(ix->ctx, loc, len);
}

static inline int cmp_loc(const kix *ix, uint64_t loc, const uint8_t *key, size_t klen)
{
    size_t l;
    const uint8_t *k = key_of(ix, loc, &l);
    return kix_key_cmp(k, l, key, klen);
}

/* Where key lies relative to the long keys of L (key shares the bytes consumed above L and is
 * longer than L->off if L is nested): -1 before all of them, +1 after all of them, 0 if it
 * starts with L's prefix. */
static int level_side(const kix_level *L, const uint8_t *key, size_t klen)
{
    size_t rest = klen - L->off;
    size_t m = rest < L->plen ? rest : L->plen;
    int c = m ? memcmp(key + L->off, L->prefix, m) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return rest < L->plen ? -1 : 0;
}

/* ---- Payloads ------------------------------------------------------------------------------- */

static inline bool is_group(uint64_t p)
{
    return (p & GROUP_BIT) != 0;
}

static inline bool is_level(uint64_t p)
{
    return (p & (GROUP_BIT | LEVEL_TAG)) == (GROUP_BIT | LEVEL_TAG);
}

static inline void *group_ptr(uint64_t p)
{
    return (void *)(uintptr_t)((p << 1) & ~(uint64_t)3);
}

static inline uint64_t bucket_pay(const kix_bucket *b)
{
    assert(((uintptr_t)b & 3) == 0);
    return GROUP_BIT | ((uint64_t)(uintptr_t)b >> 1);
}

static inline uint64_t level_pay(const kix_level *L)
{
    assert(((uintptr_t)L & 3) == 0);
    return GROUP_BIT | ((uint64_t)(uintptr_t)L >> 1) | LEVEL_TAG;
}

/* Replaces the payload of an ALEX key that is present: never allocates, never fails. */
static void set_payload(axi_tree *t, uint64_t ak, uint64_t p)
{
    int rc = axi_upsert(t, ak, p, NULL);
    (void)rc;
    assert(rc == AXI_OK);
}

/* ---- Buckets -------------------------------------------------------------------------------- */

static size_t bucket_bytes(uint32_t cap)
{
    return sizeof(kix_bucket) + (size_t)cap * sizeof(uint64_t);
}

static inline unsigned hist_bin(uint32_t n)
{
    return n > KIX_BUCKET_MAX ? KIX_BUCKET_MAX + 1 : n;
}

/* A bucket with room for cap and n locations (to be filled by the caller). */
static kix_bucket *bucket_new(kix *ix, uint32_t cap, uint32_t n)
{
    kix_bucket *b = malloc(bucket_bytes(cap));
    if (!b)
        return NULL;
    b->n = n;
    b->cap = cap;
    ix->buckets++;
    ix->bucket_keys += n;
    ix->bucket_bytes += bucket_bytes(cap);
    ix->hist[hist_bin(n)]++;
    return b;
}

static void bucket_free(kix *ix, kix_bucket *b)
{
    ix->buckets--;
    ix->bucket_keys -= b->n;
    ix->bucket_bytes -= bucket_bytes(b->cap);
    ix->hist[hist_bin(b->n)]--;
    free(b);
}

static void bucket_set_n(kix *ix, kix_bucket *b, uint32_t n)
{
    ix->hist[hist_bin(b->n)]--;
    ix->hist[hist_bin(n)]++;
    ix->bucket_keys = ix->bucket_keys - b->n + n;
    b->n = n;
}

/* Reallocates b with room for cap; NULL (b unchanged) on failure. */
static kix_bucket *bucket_resize(kix *ix, kix_bucket *b, uint32_t cap)
{
    uint32_t old = b->cap;
    kix_bucket *nb = realloc(b, bucket_bytes(cap));
    if (!nb)
        return NULL;
    ix->bucket_bytes = ix->bucket_bytes - bucket_bytes(old) + bucket_bytes(cap);
    nb->cap = cap;
    return nb;
}

/* Index of the first location in b whose key is >= key; *eq tells whether it is equal. */
static uint32_t bucket_lower(const kix *ix, const kix_bucket *b, const uint8_t *key, size_t klen,
                             bool *eq)
{
    uint32_t lo = 0, hi = b->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = cmp_loc(ix, b->locs[mid], key, klen);
        if (c == 0) {
            *eq = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *eq = false;
    return lo;
}

/* ---- Levels --------------------------------------------------------------------------------- */

/* A nested level without a tree yet (build_level makes it). */
static kix_level *level_new(kix *ix, size_t off, size_t plen, const uint8_t *prefix,
                            unsigned depth)
{
    kix_level *L = calloc(1, sizeof *L);
    if (!L)
        return NULL;
    if (plen) {
        L->prefix = malloc(plen);
        if (!L->prefix) {
            free(L);
            return NULL;
        }
        memcpy(L->prefix, prefix, plen);
    }
    L->off = (uint32_t)off;
    L->plen = (uint32_t)plen;
    L->depth = (uint8_t)depth;
    L->next = ix->nested;
    if (ix->nested)
        ix->nested->prev = L;
    ix->nested = L;
    ix->levels++;
    ix->level_bytes += sizeof *L + plen;
    return L;
}

static void level_free(kix *ix, kix_level *L);

static void free_payload(kix *ix, uint64_t p)
{
    if (!is_group(p))
        return;
    if (is_level(p))
        level_free(ix, group_ptr(p));
    else
        bucket_free(ix, group_ptr(p));
}

/* Frees tree t and every bucket and level it names. */
static void tree_free(kix *ix, axi_tree *t)
{
    if (!t)
        return;
    axi_cursor c;
    for (bool ok = axi_first(t, &c); ok; ok = axi_next(&c))
        free_payload(ix, axi_cursor_payload(&c));
    axi_destroy(t);
}

static void level_free(kix *ix, kix_level *L)
{
    tree_free(ix, L->tree);
    if (L->prev)
        L->prev->next = L->next;
    else
        ix->nested = L->next;
    if (L->next)
        L->next->prev = L->prev;
    ix->levels--;
    ix->level_bytes -= sizeof *L + L->plen;
    free(L->prefix);
    free(L);
}

/* Location of the first (last) key under a payload. */
static uint64_t payload_first(uint64_t p);
static uint64_t payload_last(uint64_t p);

static uint64_t tree_first_loc(const axi_tree *t)
{
    axi_cursor c;
    bool ok = axi_first(t, &c);
    (void)ok;
    assert(ok);
    return payload_first(axi_cursor_payload(&c));
}

static uint64_t tree_last_loc(const axi_tree *t)
{
    axi_cursor c;
    bool ok = axi_last(t, &c);
    (void)ok;
    assert(ok);
    return payload_last(axi_cursor_payload(&c));
}

static uint64_t payload_first(uint64_t p)
{
    if (!is_group(p))
        return p;
    if (!is_level(p))
        return ((const kix_bucket *)group_ptr(p))->locs[0];
    const kix_level *L = group_ptr(p);
    return L->nshort ? L->shorts[0] : tree_first_loc(L->tree);
}

static uint64_t payload_last(uint64_t p)
{
    if (!is_group(p))
        return p;
    if (!is_level(p)) {
        const kix_bucket *b = group_ptr(p);
        return b->locs[b->n - 1];
    }
    const kix_level *L = group_ptr(p);
    return L->count > L->nshort ? tree_last_loc(L->tree) : L->shorts[L->nshort - 1];
}

/* Appends the locations under tree t, in key order, to out; returns how many. */
static size_t collect_level(const kix_level *L, uint64_t *out);

static size_t collect_tree(const axi_tree *t, uint64_t *out)
{
    size_t n = 0;
    axi_cursor c;
    for (bool ok = axi_first(t, &c); ok; ok = axi_next(&c)) {
        uint64_t p = axi_cursor_payload(&c);
        if (!is_group(p)) {
            out[n++] = p;
        } else if (!is_level(p)) {
            const kix_bucket *b = group_ptr(p);
            memcpy(out + n, b->locs, b->n * sizeof *out);
            n += b->n;
        } else {
            n += collect_level(group_ptr(p), out + n);
        }
    }
    return n;
}

static size_t collect_level(const kix_level *L, uint64_t *out)
{
    memcpy(out, L->shorts, L->nshort * sizeof *out);
    return L->nshort + collect_tree(L->tree, out + L->nshort);
}

/* ---- Building levels from sorted locations ------------------------------------------------- */

/* The sorted locations a build reads, one of which (kpos) may be the key being put, whose bytes
 * the caller has (key_at is not asked for it). */
typedef struct bsrc {
    const kix *ix;
    const uint64_t *locs;
    const uint64_t *akeys; /* root ALEX keys of locs (kix_bulk_load_hinted), or NULL */
    size_t kpos; /* SIZE_MAX: none */
    const uint8_t *kkey;
    size_t klen;
} bsrc;

/* Bulk builds read every key once, in key order: random reads of the caller's store. Asking
 * for the key KIX_PREFETCH_AHEAD places ahead lets those misses overlap. */
#define KIX_PREFETCH_AHEAD 16

static inline void prefetch_loc(const kix *ix, const uint64_t *locs, size_t i, size_t n)
{
    if (ix->prefetch && i + KIX_PREFETCH_AHEAD < n)
        ix->prefetch(ix->ctx, locs[i + KIX_PREFETCH_AHEAD]);
}

static inline const uint8_t *bkey(const bsrc *s, size_t i, size_t *len)
{
    if (i == s->kpos) {
        *len = s->klen;
        return s->kkey;
    }
    return key_of(s->ix, s->locs[i], len);
}

static int build_level(kix *ix, const bsrc *s, size_t lo, size_t hi, size_t off, unsigned depth,
                       kix_level **out);

/* Builds a tree over s->locs[lo, hi) (strictly increasing keys, all at least pos bytes long and
 * sharing bytes [0, pos)) keyed at position pos, for a level at depth depth. Groups of more than
 * KIX_BUCKET_MAX keys become nested levels (below KIX_MAX_DEPTH). On failure nothing is left
 * allocated and the kix's figures are as before. */
static int build_tree(kix *ix, const bsrc *s, size_t lo, size_t hi, size_t pos, unsigned depth,
                      axi_tree **out)
{
    axi_tree *t = NULL;
    uint64_t *keys = NULL, *pays = NULL;
    size_t n = hi - lo, g = 0;
    int rc;

    if (n > SIZE_MAX / sizeof(uint64_t))
        return AXI_ENOMEM;
    if ((rc = axi_create(&t)) != AXI_OK)
        return rc;
    if (n) {
        keys = malloc(n * sizeof *keys);
        pays = malloc(n * sizeof *pays);
        if (!keys || !pays) {
            rc = AXI_ENOMEM;
            goto fail;
        }
    }
    size_t l;
    const uint8_t *k;
    uint64_t ak = 0;
    /* With hints (the root of a hinted bulk load) the ALEX keys come from s->akeys, and keys
     * are read only inside groups, where their order is checked here. */
    const uint64_t *hint = depth == 0 ? s->akeys : NULL;
    if (n) {
        if (hint) {
            ak = hint[lo];
        } else {
            k = bkey(s, lo, &l);
            ak = akey_of(k, l, pos);
        }
    }
    for (size_t i = lo; i < hi;) {
        size_t j = i + 1;
        uint64_t next = 0;
        while (j < hi) {
            if (hint) {
                next = hint[j];
            } else {
                prefetch_loc(ix, s->locs, j, hi);
                k = bkey(s, j, &l);
                next = akey_of(k, l, pos);
            }
            if (next != ak)
                break;
            j++;
        }
        size_t m = j - i;
        if (hint && m > 1) {
            size_t pl, cl;
            const uint8_t *pk = bkey(s, i, &pl);
            for (size_t x = i + 1; x < j; x++) {
                const uint8_t *ck = bkey(s, x, &cl);
                if (kix_key_cmp(pk, pl, ck, cl) >= 0) {
                    rc = AXI_EINVAL;
                    goto fail;
                }
                pk = ck;
                pl = cl;
            }
        }
        if (m == 1) {
            pays[g] = s->locs[i];
        } else if (m <= KIX_BUCKET_MAX || depth + 1 >= KIX_MAX_DEPTH) {
            if (m > UINT32_MAX) {
                rc = AXI_ENOMEM; /* a bucket cannot hold that many */
                goto fail;
            }
            kix_bucket *b = bucket_new(ix, (uint32_t)m, (uint32_t)m);
            if (!b) {
                rc = AXI_ENOMEM;
                goto fail;
            }
            memcpy(b->locs, s->locs + i, m * sizeof *b->locs);
            pays[g] = bucket_pay(b);
        } else {
            kix_level *c;
            if ((rc = build_level(ix, s, i, j, pos + 8, depth + 1, &c)) != AXI_OK)
                goto fail;
            pays[g] = level_pay(c);
        }
        keys[g++] = ak;
        i = j;
        ak = next;
    }
    if ((rc = axi_bulk_load(t, keys, pays, g)) != AXI_OK)
        goto fail;
    free(keys);
    free(pays);
    *out = t;
    return AXI_OK;

fail:
    for (size_t x = 0; x < g; x++)
        free_payload(ix, pays[x]);
    free(keys);
    free(pays);
    axi_destroy(t);
    return rc;
}

/* Builds a nested level at depth depth over the group s->locs[lo, hi) (more than
 * KIX_BUCKET_MAX keys sharing bytes [0, off - 8) and the zero-padded window at off - 8). */
static int build_level(kix *ix, const bsrc *s, size_t lo, size_t hi, size_t off, unsigned depth,
                       kix_level **out)
{
    size_t ns = 0, l;
    while (lo + ns < hi) {
        bkey(s, lo + ns, &l);
        if (l > off)
            break;
        ns++;
    }
    assert(ns <= SHORT_MAX && ns < hi - lo);
    size_t fl, ll;
    const uint8_t *f = bkey(s, lo + ns, &fl);
    const uint8_t *la = bkey(s, hi - 1, &ll);
    size_t plen = common_len(f + off, fl - off, la + off, ll - off, KIX_MAX_PREFIX);
    kix_level *L = level_new(ix, off, plen, f + off, depth);
    if (!L)
        return AXI_ENOMEM;
    memcpy(L->shorts, s->locs + lo, ns * sizeof *L->shorts);
    L->nshort = (uint8_t)ns;
    L->count = hi - lo;
    int rc = build_tree(ix, s, lo + ns, hi, off + plen, depth, &L->tree);
    if (rc != AXI_OK) {
        level_free(ix, L);
        return rc;
    }
    *out = L;
    return AXI_OK;
}

/* Rebuilds the tree of level L in place under a prefix of new_plen bytes, over L's long keys
 * plus, if has_new, the key k (location loc), which sorts first or last among them. When the
 * prefix grows, np holds the new prefix bytes (a long key's bytes from L->off). Returns AXI_OK
 * or AXI_ENOMEM (then nothing changed). L's count is the caller's business. */
static KIX_NOINLINE int level_rebuild(kix *ix, kix_level *L, size_t new_plen,
                                      const uint8_t *np, const uint8_t *k, size_t klen,
                                      uint64_t loc, bool has_new, bool first)
{
    size_t n = (size_t)(L->count - L->nshort) + has_new;
    if (n > SIZE_MAX / sizeof(uint64_t))
        return AXI_ENOMEM;
    uint64_t *locs = malloc((n ? n : 1) * sizeof *locs);
    if (!locs)
        return AXI_ENOMEM;
    uint8_t *pbuf = NULL;
    if (L->depth && new_plen > L->plen) {
        pbuf = malloc(new_plen);
        if (!pbuf) {
            free(locs);
            return AXI_ENOMEM;
        }
        memcpy(pbuf, np, new_plen);
    }
    size_t i = 0;
    if (has_new && first)
        locs[i++] = loc;
    i += collect_tree(L->tree, locs + i);
    if (has_new && !first)
        locs[i++] = loc;
    assert(i == n);
    bsrc s = {ix, locs, NULL, has_new ? (first ? 0 : n - 1) : SIZE_MAX, k, klen};
    axi_tree *t;
    int rc = build_tree(ix, &s, 0, n, L->off + new_plen, L->depth, &t);
    free(locs);
    if (rc != AXI_OK) {
        free(pbuf);
        return rc;
    }
    tree_free(ix, L->tree);
    L->tree = t;
    if (pbuf) { /* set above exactly when the prefix grows at depth > 0 */
        free(L->prefix);
        L->prefix = pbuf;
        ix->level_bytes += new_plen - L->plen;
    } else if (new_plen > L->plen) {
        memcpy(L->prefix, np, new_plen);
    } else if (L->depth) {
        ix->level_bytes -= L->plen - new_plen; /* the buffer is kept; count what is used */
    }
    L->plen = (uint32_t)new_plen;
    L->mods = 0;
    L->dirty = false;
    return AXI_OK;
}

/* After an insert or delete in L: if a delete happened since the last check and L has seen as
 * many inserts and deletes as it holds keys, rebuild L under the true common prefix of its long
 * keys if that is longer. Amortised O(1) per operation; a failed allocation skips it. */
static KIX_NOINLINE void regrow_check(kix *ix, kix_level *L)
{
    if (L->depth && L->count < KIX_LEVEL_MIN)
        return; /* the parent collapses it */
    L->mods = 0;
    if (L->count == L->nshort)
        return;
    size_t fl, ll;
    const uint8_t *f = key_of(ix, tree_first_loc(L->tree), &fl);
    const uint8_t *la = key_of(ix, tree_last_loc(L->tree), &ll);
    size_t c = common_len(f + L->off, fl - L->off, la + L->off, ll - L->off, KIX_MAX_PREFIX);
    if (c <= L->plen) {
        L->dirty = false;
        return;
    }
    if (level_rebuild(ix, L, c, f + L->off, NULL, 0, 0, false, false) == AXI_OK) {
        if (L->depth)
            ix->level_rebuilds++;
        else
            ix->regrows++;
    }
}

static inline void maybe_regrow(kix *ix, kix_level *L)
{
    if (L->dirty && L->mods >= L->count)
        regrow_check(ix, L);
}

/* Forgets the prefix of an emptied kix (the root tree is empty then). */
static void reset_if_empty(kix *ix)
{
    if (ix->root.count == 0) {
        ix->has_prefix = false;
        ix->root.plen = 0;
        ix->root.mods = 0;
        ix->root.dirty = false;
    }
}

/* ---- Lifecycle ------------------------------------------------------------------------------ */

int kix_create(kix_key_at_fn key_at, void *ctx, kix **out)
{
    if (!out)
        return AXI_EINVAL;
    *out = NULL;
    if (!key_at)
        return AXI_EINVAL;
    kix *ix = calloc(1, sizeof *ix);
    if (!ix)
        return AXI_ENOMEM;
    int rc = axi_create(&ix->root.tree);
    if (rc != AXI_OK) {
        free(ix);
        return rc;
    }
    ix->root.prefix = ix->root_prefix;
    ix->key_at = key_at;
    ix->ctx = ctx;
    *out = ix;
    return AXI_OK;
}

void kix_set_prefetch(kix *ix, kix_prefetch_fn prefetch)
{
    if (ix)
        ix->prefetch = prefetch;
}

void kix_destroy(kix *ix)
{
    if (!ix)
        return;
    tree_free(ix, ix->root.tree);
    free(ix);
}

uint64_t kix_count(const kix *ix)
{
    return ix ? ix->root.count : 0;
}

/* ---- Point operations ----------------------------------------------------------------------- */

static inline bool loc_match(const kix *ix, uint64_t p, const uint8_t *k, size_t klen,
                             uint64_t *loc)
{
    size_t l;
    const uint8_t *s = key_of(ix, p, &l);
    if (l != klen || (klen && memcmp(s, k, klen) != 0))
        return false;
    if (loc)
        *loc = p;
    return true;
}

/* kix_get below the root: p is the group payload k's ALEX key found. */
static KIX_NOINLINE bool get_group(const kix *ix, uint64_t p, const uint8_t *k, size_t klen,
                                   uint64_t *loc)
{
    for (;;) {
        if (!is_level(p)) {
            const kix_bucket *b = group_ptr(p);
            bool eq;
            uint32_t i = bucket_lower(ix, b, k, klen, &eq);
            if (eq && loc)
                *loc = b->locs[i];
            return eq;
        }
        const kix_level *L = group_ptr(p);
        if (klen <= L->off) {
            for (unsigned i = 0; i < L->nshort; i++) {
                int c = cmp_loc(ix, L->shorts[i], k, klen);
                if (c == 0) {
                    if (loc)
                        *loc = L->shorts[i];
                    return true;
                }
                if (c > 0)
                    break;
            }
            return false;
        }
        size_t pos = L->off + L->plen;
        if (klen < pos || !axi_find(L->tree, akey_of(k, klen, pos), &p))
            return false;
        if (!is_group(p))
            return loc_match(ix, p, k, klen, loc);
    }
}

bool kix_get(const kix *ix, const void *key, size_t klen, uint64_t *loc)
{
    const uint8_t *k = key;
    if (!ix || klen < ix->root.plen || (!k && klen))
        return false;
    uint64_t p;
    if (!axi_find(ix->root.tree, akey_of(k, klen, ix->root.plen), &p))
        return false;
    if (!is_group(p))
        return loc_match(ix, p, k, klen, loc);
    return get_group(ix, p, k, klen, loc);
}

/* Puts a short key (klen <= L->off) into nested level L. */
static KIX_NOINLINE int put_short(kix_level *L, const kix *ix, const uint8_t *k, size_t klen,
                                  uint64_t loc, uint64_t *old_loc, bool *replaced, bool *ins)
{
    unsigned i = 0;
    for (; i < L->nshort; i++) {
        int c = cmp_loc(ix, L->shorts[i], k, klen);
        if (c == 0) {
            if (old_loc)
                *old_loc = L->shorts[i];
            if (replaced)
                *replaced = true;
            L->shorts[i] = loc;
            return AXI_OK;
        }
        if (c > 0)
            break;
    }
    /* Short keys differ only in length, one of off-8 .. off: there is room. */
    assert(L->nshort < SHORT_MAX);
    if (L->nshort >= SHORT_MAX)
        return AXI_EINVAL;
    memmove(L->shorts + i + 1, L->shorts + i, (L->nshort - i) * sizeof *L->shorts);
    L->shorts[i] = loc;
    L->nshort++;
    *ins = true;
    return AXI_OK;
}

/* Turns the full bucket b (ALEX key ak of L) plus the new key k (at index i of b) into a nested
 * level. */
static KIX_NOINLINE int bucket_to_level(kix *ix, kix_level *L, uint64_t ak, kix_bucket *b,
                                        uint32_t i, const uint8_t *k, size_t klen, uint64_t loc)
{
    size_t n = (size_t)b->n + 1;
    uint64_t *locs = malloc(n * sizeof *locs);
    if (!locs)
        return AXI_ENOMEM;
    memcpy(locs, b->locs, i * sizeof *locs);
    locs[i] = loc;
    memcpy(locs + i + 1, b->locs + i, (b->n - i) * sizeof *locs);
    bsrc s = {ix, locs, NULL, i, k, klen};
    kix_level *c;
    int rc = build_level(ix, &s, 0, n, (size_t)L->off + L->plen + 8, L->depth + 1u, &c);
    free(locs);
    if (rc != AXI_OK)
        return rc;
    set_payload(L->tree, ak, level_pay(c));
    bucket_free(ix, b);
    return AXI_OK;
}

/* Puts k -> loc into level L (k belongs there: it shares what the levels above consumed).
 * *ins tells whether a key was added (else one was replaced, or rc < 0 and nothing changed). */
static int put_level(kix *ix, kix_level *L, const uint8_t *k, size_t klen, uint64_t loc,
                     uint64_t *old_loc, bool *replaced, bool *ins)
{
    int rc;
    *ins = false;
    if (L->depth && klen <= L->off) {
        if ((rc = put_short(L, ix, k, klen, loc, old_loc, replaced, ins)) != AXI_OK || !*ins)
            return rc;
        goto added;
    }
    size_t pos = (size_t)L->off + L->plen;
    if (klen < pos || (L->plen && memcmp(k + L->off, L->prefix, L->plen) != 0)) {
        /* k leaves the prefix: a new key before or after all long keys. Rebuild under the
         * common part, with k in. */
        size_t c = common_len(k + L->off, klen - L->off, L->prefix, L->plen, L->plen);
        bool first = L->off + c == klen || k[L->off + c] < L->prefix[c];
        if ((rc = level_rebuild(ix, L, c, NULL, k, klen, loc, true, first)) != AXI_OK)
            return rc;
        if (L->depth)
            ix->level_rebuilds++;
        else
            ix->rebuilds++;
        *ins = true;
        goto added;
    }

    uint64_t ak = akey_of(k, klen, pos), p;
    if (!axi_find(L->tree, ak, &p)) {
        if ((rc = axi_upsert(L->tree, ak, loc, NULL)) != AXI_OK)
            return rc;
        *ins = true;
        goto added;
    }
    if (!is_group(p)) {
        int c = cmp_loc(ix, p, k, klen);
        if (c == 0) {
            set_payload(L->tree, ak, loc);
            if (old_loc)
                *old_loc = p;
            if (replaced)
                *replaced = true;
            return AXI_OK;
        }
        /* A second key with this ALEX key: a bucket of the two. */
        kix_bucket *b = bucket_new(ix, BUCKET_INIT_CAP, 2);
        if (!b)
            return AXI_ENOMEM;
        b->locs[c < 0 ? 0 : 1] = p;
        b->locs[c < 0 ? 1 : 0] = loc;
        set_payload(L->tree, ak, bucket_pay(b));
        *ins = true;
        goto added;
    }
    if (is_level(p)) {
        if ((rc = put_level(ix, group_ptr(p), k, klen, loc, old_loc, replaced, ins)) != AXI_OK ||
            !*ins)
            return rc;
        goto added;
    }
    kix_bucket *b = group_ptr(p);
    bool eq;
    uint32_t i = bucket_lower(ix, b, k, klen, &eq);
    if (eq) {
        if (old_loc)
            *old_loc = b->locs[i];
        if (replaced)
            *replaced = true;
        b->locs[i] = loc;
        return AXI_OK;
    }
    if (b->n >= KIX_BUCKET_MAX && L->depth + 1u < KIX_MAX_DEPTH) {
        if ((rc = bucket_to_level(ix, L, ak, b, i, k, klen, loc)) != AXI_OK)
            return rc;
        *ins = true;
        goto added;
    }
    if (b->n == b->cap) {
        if (b->cap > UINT32_MAX / 2)
            return AXI_ENOMEM;
        kix_bucket *nb = bucket_resize(ix, b, b->cap * 2);
        if (!nb)
            return AXI_ENOMEM;
        set_payload(L->tree, ak, bucket_pay(nb)); /* it may have moved */
        b = nb;
    }
    memmove(b->locs + i + 1, b->locs + i, (b->n - i) * sizeof *b->locs);
    b->locs[i] = loc;
    bucket_set_n(ix, b, b->n + 1);
    *ins = true;

added:
    L->count++;
    L->mods++;
    maybe_regrow(ix, L);
    return AXI_OK;
}

int kix_put(kix *ix, const void *key, size_t klen, uint64_t loc, uint64_t *old_loc,
            bool *replaced)
{
    const uint8_t *k = key;
    if (!ix || (!k && klen) || loc > KIX_LOC_MAX)
        return AXI_EINVAL;
    if (!k)
        k = (const uint8_t *)"";
    if (replaced)
        *replaced = false;

    if (!ix->has_prefix) {
        /* First key of an empty kix: it sets the prefix (applied only once the key is in). */
        size_t plen = klen < KIX_MAX_PREFIX ? klen : KIX_MAX_PREFIX;
        int rc = axi_upsert(ix->root.tree, akey_of(k, klen, plen), loc, NULL);
        if (rc != AXI_OK)
            return rc;
        if (plen)
            memcpy(ix->root_prefix, k, plen);
        ix->root.plen = (uint32_t)plen;
        ix->has_prefix = true;
        ix->root.count = 1;
        ix->root.mods = 0;
        ix->root.dirty = false;
        return AXI_OK;
    }
    /* The common cases inline: the key starts with the root prefix and its ALEX key is new, or
     * names this very key alone. Everything else goes to put_level (which repeats the lookup). */
    kix_level *R = &ix->root;
    if (klen >= R->plen && (R->plen == 0 || memcmp(k, R->prefix, R->plen) == 0)) {
        uint64_t ak = akey_of(k, klen, R->plen), p;
        if (!axi_find(R->tree, ak, &p)) {
            int rc = axi_upsert(R->tree, ak, loc, NULL);
            if (rc != AXI_OK)
                return rc;
            R->count++;
            R->mods++;
            maybe_regrow(ix, R);
            return AXI_OK;
        }
        if (!is_group(p) && cmp_loc(ix, p, k, klen) == 0) {
            set_payload(R->tree, ak, loc);
            if (old_loc)
                *old_loc = p;
            if (replaced)
                *replaced = true;
            return AXI_OK;
        }
    }
    bool ins;
    return put_level(ix, R, k, klen, loc, old_loc, replaced, &ins);
}

/* Turns nested level C (ALEX key ak of L), which fell below KIX_LEVEL_MIN keys, back into a
 * bucket (or a plain location). Skipped if the bucket cannot be allocated. */
static void collapse(kix *ix, kix_level *L, uint64_t ak, kix_level *C)
{
    if (C->count == 1) {
        set_payload(L->tree, ak, payload_first(level_pay(C)));
    } else {
        kix_bucket *b = bucket_new(ix, (uint32_t)C->count, 0);
        if (!b)
            return;
        size_t n = collect_level(C, b->locs);
        assert(n == C->count);
        bucket_set_n(ix, b, (uint32_t)n);
        set_payload(L->tree, ak, bucket_pay(b));
    }
    level_free(ix, C);
}

/* Removes k from level L; true and *old_loc on a hit. */
static bool del_level(kix *ix, kix_level *L, const uint8_t *k, size_t klen, uint64_t *old_loc)
{
    if (L->depth && klen <= L->off) {
        unsigned i = 0;
        for (; i < L->nshort; i++) {
            int c = cmp_loc(ix, L->shorts[i], k, klen);
            if (c == 0)
                break;
            if (c > 0)
                return false;
        }
        if (i == L->nshort)
            return false;
        if (old_loc)
            *old_loc = L->shorts[i];
        memmove(L->shorts + i, L->shorts + i + 1, (L->nshort - i - 1) * sizeof *L->shorts);
        L->nshort--;
        goto removed;
    }
    size_t pos = (size_t)L->off + L->plen;
    if (klen < pos)
        return false;
    uint64_t ak = akey_of(k, klen, pos), p;
    if (!axi_find(L->tree, ak, &p))
        return false;
    if (!is_group(p)) {
        if (cmp_loc(ix, p, k, klen) != 0)
            return false;
        axi_erase(L->tree, ak, NULL);
        if (old_loc)
            *old_loc = p;
        goto removed;
    }
    if (is_level(p)) {
        kix_level *C = group_ptr(p);
        if (!del_level(ix, C, k, klen, old_loc))
            return false;
        if (C->count < KIX_LEVEL_MIN)
            collapse(ix, L, ak, C);
        goto removed;
    }
    kix_bucket *b = group_ptr(p);
    bool eq;
    uint32_t i = bucket_lower(ix, b, k, klen, &eq);
    if (!eq)
        return false;
    if (old_loc)
        *old_loc = b->locs[i];
    memmove(b->locs + i, b->locs + i + 1, (b->n - i - 1) * sizeof *b->locs);
    bucket_set_n(ix, b, b->n - 1);
    if (b->n == 1) {
        /* A bucket of one becomes a plain location again. */
        set_payload(L->tree, ak, b->locs[0]);
        bucket_free(ix, b);
    } else if (b->cap > BUCKET_INIT_CAP && b->n <= b->cap / 4) {
        kix_bucket *nb = bucket_resize(ix, b, b->cap / 2); /* failure: keep the larger one */
        if (nb)
            set_payload(L->tree, ak, bucket_pay(nb)); /* it may have moved */
    }

removed:
    L->count--;
    L->mods++;
    L->dirty = true;
    if (L->depth == 0 && L->count == 0)
        reset_if_empty(ix);
    else
        maybe_regrow(ix, L);
    return true;
}

bool kix_delete(kix *ix, const void *key, size_t klen, uint64_t *old_loc)
{
    const uint8_t *k = key;
    if (!ix || (!k && klen) || ix->root.count == 0)
        return false;
    if (!k)
        k = (const uint8_t *)"";
    return del_level(ix, &ix->root, k, klen, old_loc);
}

/* Makes t (built over n keys sharing prefix[0, plen)) the root of an empty kix. */
static void install_root(kix *ix, axi_tree *t, const uint8_t *prefix, size_t plen, size_t n)
{
    tree_free(ix, ix->root.tree);
    ix->root.tree = t;
    if (plen)
        memcpy(ix->root_prefix, prefix, plen);
    ix->root.plen = (uint32_t)plen;
    ix->has_prefix = true;
    ix->root.count = n;
    ix->root.mods = 0;
    ix->root.dirty = false;
}

int kix_bulk_load(kix *ix, const uint64_t *locs, size_t n)
{
    if (!ix || (n && !locs) || ix->root.count != 0)
        return AXI_EINVAL;
    if (n == 0)
        return AXI_OK;
    for (size_t i = 0; i < n; i++)
        if (locs[i] > KIX_LOC_MAX)
            return AXI_EINVAL;
    size_t plen, flen;
    const uint8_t *prev = key_of(ix, locs[0], &plen);
    const uint8_t *first = prev;
    flen = plen;
    for (size_t i = 1; i < n; i++) {
        size_t l;
        prefetch_loc(ix, locs, i, n);
        const uint8_t *cur = key_of(ix, locs[i], &l);
        if (kix_key_cmp(prev, plen, cur, l) >= 0)
            return AXI_EINVAL;
        prev = cur;
        plen = l;
    }
    /* Sorted: the common prefix of the first and the last key is that of all keys. */
    size_t p = common_len(first, flen, prev, plen, KIX_MAX_PREFIX);

    axi_tree *t;
    bsrc s = {ix, locs, NULL, SIZE_MAX, NULL, 0};
    int rc = build_tree(ix, &s, 0, n, p, 0, &t);
    if (rc != AXI_OK)
        return rc;
    install_root(ix, t, first, p, n);
    return AXI_OK;
}

uint64_t kix_akey(const void *key, size_t klen, size_t pos)
{
    return klen >= pos ? akey_of(key, klen, pos) : 0;
}

size_t kix_prefix(const kix *ix, const uint8_t **prefix)
{
    *prefix = ix->root_prefix;
    return ix->has_prefix ? ix->root.plen : 0;
}

int kix_bulk_load_hinted(kix *ix, const uint64_t *locs, const uint64_t *akeys, size_t n,
                         const uint8_t *prefix, size_t plen)
{
    if (!ix || (n && (!locs || !akeys)) || ix->root.count != 0 || plen > KIX_MAX_PREFIX ||
        (plen && !prefix))
        return AXI_EINVAL;
    if (n == 0)
        return AXI_OK;
    for (size_t i = 0; i < n; i++)
        if (locs[i] > KIX_LOC_MAX || (i && akeys[i] < akeys[i - 1]))
            return AXI_EINVAL;
    axi_tree *t;
    bsrc s = {ix, locs, akeys, SIZE_MAX, NULL, 0};
    int rc = build_tree(ix, &s, 0, n, plen, 0, &t);
    if (rc != AXI_OK)
        return rc;
    install_root(ix, t, prefix, plen, n);
    return AXI_OK;
}

/* ---- Cursors -------------------------------------------------------------------------------- */

static bool cur_end(kix_cursor *c)
{
    c->depth = 0;
    c->ac[0].node = NULL;
    c->ac[0].slot = 0;
    c->pos[0] = 0;
    return false;
}

/* The level frame d of c is in. */
static const kix_level *frame_level(const kix *ix, const kix_cursor *c, unsigned d)
{
    const kix_level *L = &ix->root;
    for (unsigned i = 0; i < d; i++)
        L = group_ptr(axi_cursor_payload(&c->ac[i]));
    return L;
}

/* c->ac[d] is on an entry: put c on the first key under it. */
static bool enter_first(kix_cursor *c, unsigned d)
{
    for (;;) {
        uint64_t p = axi_cursor_payload(&c->ac[d]);
        c->pos[d] = 0;
        if (!is_level(p)) {
            c->depth = d + 1;
            return true;
        }
        const kix_level *C = group_ptr(p);
        d++;
        if (C->nshort) {
            c->ac[d].node = NULL;
            c->ac[d].slot = 0;
            c->pos[d] = 0;
            c->depth = d + 1;
            return true;
        }
        bool ok = axi_first(C->tree, &c->ac[d]);
        (void)ok;
        assert(ok); /* a level without short keys has long ones */
    }
}

/* Puts c on the last short key of nested level L at depth d; false if there is none. */
static bool on_last_short(const kix_level *L, unsigned d, kix_cursor *c)
{
    if (d == 0 || !L->nshort)
        return false;
    c->ac[d].node = NULL;
    c->ac[d].slot = 0;
    c->pos[d] = L->nshort - 1u;
    c->depth = d + 1;
    return true;
}

/* c->ac[d] is on an entry: put c on the last key under it. */
static bool enter_last(kix_cursor *c, unsigned d)
{
    for (;;) {
        uint64_t p = axi_cursor_payload(&c->ac[d]);
        c->pos[d] = 0;
        if (!is_group(p)) {
            c->depth = d + 1;
            return true;
        }
        if (!is_level(p)) {
            c->pos[d] = ((const kix_bucket *)group_ptr(p))->n - 1;
            c->depth = d + 1;
            return true;
        }
        const kix_level *C = group_ptr(p);
        d++;
        if (!axi_last(C->tree, &c->ac[d]))
            return on_last_short(C, d, c);
    }
}

bool kix_first(const kix *ix, kix_cursor *c)
{
    if (!c)
        return false;
    if (!ix || !axi_first(ix->root.tree, &c->ac[0]))
        return cur_end(c);
    return enter_first(c, 0);
}

bool kix_last(const kix *ix, kix_cursor *c)
{
    if (!c)
        return false;
    if (!ix || !axi_last(ix->root.tree, &c->ac[0]))
        return cur_end(c);
    return enter_last(c, 0);
}

/* Puts c (frames below d already set) on the first key >= k within level L at depth d; false
 * if every key of L is smaller. k shares what the levels above L consumed. */
static bool seek_in(const kix *ix, const kix_level *L, unsigned d, const uint8_t *k, size_t klen,
                    kix_cursor *c)
{
    if (d && klen <= L->off) {
        /* k is a prefix of the bytes the group shares: it sorts before every long key. */
        for (unsigned i = 0; i < L->nshort; i++) {
            if (cmp_loc(ix, L->shorts[i], k, klen) >= 0) {
                c->ac[d].node = NULL;
                c->ac[d].slot = 0;
                c->pos[d] = i;
                c->depth = d + 1;
                return true;
            }
        }
        return axi_first(L->tree, &c->ac[d]) && enter_first(c, d);
    }
    int side = level_side(L, k, klen);
    if (side < 0)
        return axi_first(L->tree, &c->ac[d]) && enter_first(c, d);
    if (side > 0)
        return false;
    uint64_t ak = akey_of(k, klen, (size_t)L->off + L->plen);
    if (!axi_lower_bound(L->tree, ak, &c->ac[d]))
        return false;
    if (axi_cursor_key(&c->ac[d]) != ak)
        return enter_first(c, d); /* every key of that entry is larger */
    uint64_t p = axi_cursor_payload(&c->ac[d]);
    c->pos[d] = 0;
    if (!is_group(p)) {
        if (cmp_loc(ix, p, k, klen) >= 0) {
            c->depth = d + 1;
            return true;
        }
    } else if (!is_level(p)) {
        const kix_bucket *b = group_ptr(p);
        bool eq;
        uint32_t i = bucket_lower(ix, b, k, klen, &eq);
        if (i < b->n) {
            c->pos[d] = i;
            c->depth = d + 1;
            return true;
        }
    } else if (d + 1 < KIX_MAX_DEPTH && seek_in(ix, group_ptr(p), d + 1, k, klen, c)) {
        return true;
    }
    return axi_next(&c->ac[d]) && enter_first(c, d);
}

/* Puts c on the last key <= k within level L at depth d; false if every key of L is larger. */
static bool seek_prev_in(const kix *ix, const kix_level *L, unsigned d, const uint8_t *k,
                         size_t klen, kix_cursor *c)
{
    if (d && klen <= L->off) {
        for (unsigned i = L->nshort; i-- > 0;) {
            if (cmp_loc(ix, L->shorts[i], k, klen) <= 0) {
                c->ac[d].node = NULL;
                c->ac[d].slot = 0;
                c->pos[d] = i;
                c->depth = d + 1;
                return true;
            }
        }
        return false;
    }
    /* From here k is longer than L->off: every short key of L is smaller. */
    int side = level_side(L, k, klen);
    if (side < 0)
        return on_last_short(L, d, c);
    if (side > 0)
        return axi_last(L->tree, &c->ac[d]) ? enter_last(c, d) : on_last_short(L, d, c);
    uint64_t ak = akey_of(k, klen, (size_t)L->off + L->plen);
    if (!axi_floor(L->tree, ak, &c->ac[d]))
        return on_last_short(L, d, c);
    if (axi_cursor_key(&c->ac[d]) != ak)
        return enter_last(c, d); /* every key of that entry is smaller */
    uint64_t p = axi_cursor_payload(&c->ac[d]);
    c->pos[d] = 0;
    if (!is_group(p)) {
        if (cmp_loc(ix, p, k, klen) <= 0) {
            c->depth = d + 1;
            return true;
        }
    } else if (!is_level(p)) {
        const kix_bucket *b = group_ptr(p);
        bool eq;
        uint32_t i = bucket_lower(ix, b, k, klen, &eq);
        if (eq || i > 0) {
            c->pos[d] = eq ? i : i - 1;
            c->depth = d + 1;
            return true;
        }
    } else if (d + 1 < KIX_MAX_DEPTH && seek_prev_in(ix, group_ptr(p), d + 1, k, klen, c)) {
        return true;
    }
    if (axi_prev(&c->ac[d]))
        return enter_last(c, d);
    return on_last_short(L, d, c);
}

bool kix_seek(const kix *ix, const void *key, size_t klen, kix_cursor *c)
{
    const uint8_t *k = key;
    if (!c)
        return false;
    if (!ix || (!k && klen) || ix->root.count == 0)
        return cur_end(c);
    if (!k)
        k = (const uint8_t *)"";
    return seek_in(ix, &ix->root, 0, k, klen, c) || cur_end(c);
}

bool kix_seek_for_prev(const kix *ix, const void *key, size_t klen, kix_cursor *c)
{
    const uint8_t *k = key;
    if (!c)
        return false;
    if (!ix || (!k && klen) || ix->root.count == 0)
        return cur_end(c);
    if (!k)
        k = (const uint8_t *)"";
    return seek_prev_in(ix, &ix->root, 0, k, klen, c) || cur_end(c);
}

static inline bool cur_valid(const kix_cursor *c)
{
    return c->depth > 0 && c->depth <= KIX_MAX_DEPTH;
}

bool kix_next(const kix *ix, kix_cursor *c)
{
    if (!ix || !c || !cur_valid(c))
        return false;
    unsigned d = c->depth - 1;
    if (!c->ac[d].node) { /* on a short key of a nested level */
        const kix_level *L = frame_level(ix, c, d);
        if (c->pos[d] + 1u < L->nshort) {
            c->pos[d]++;
            return true;
        }
        if (axi_first(L->tree, &c->ac[d]))
            return enter_first(c, d);
        if (d == 0)
            return cur_end(c);
        d--; /* L is done: step past its entry above */
    } else {
        uint64_t p = axi_cursor_payload(&c->ac[d]);
        if (is_group(p) && !is_level(p) &&
            c->pos[d] + 1u < ((const kix_bucket *)group_ptr(p))->n) {
            c->pos[d]++;
            return true;
        }
    }
    for (;;) {
        if (axi_next(&c->ac[d]))
            return enter_first(c, d);
        if (d == 0)
            return cur_end(c);
        d--;
    }
}

bool kix_prev(const kix *ix, kix_cursor *c)
{
    if (!ix || !c || !cur_valid(c))
        return false;
    unsigned d = c->depth - 1;
    if (c->pos[d] > 0) { /* within a bucket or the short keys */
        c->pos[d]--;
        return true;
    }
    if (!c->ac[d].node) { /* on the first short key: nothing of this level is before it */
        if (d == 0)
            return cur_end(c);
        d--;
    }
    for (;;) {
        if (axi_prev(&c->ac[d]))
            return enter_last(c, d);
        if (on_last_short(frame_level(ix, c, d), d, c))
            return true;
        if (d == 0)
            return cur_end(c);
        d--;
    }
}

uint64_t kix_cursor_root_akey(const kix *ix, const kix_cursor *c)
{
    if (c->depth && c->ac[0].node)
        return axi_cursor_key(&c->ac[0]);
    size_t len;
    const uint8_t *k = key_of(ix, kix_cursor_loc(ix, c), &len);
    return kix_akey(k, len, ix->has_prefix ? ix->root.plen : 0);
}

uint64_t kix_cursor_loc(const kix *ix, const kix_cursor *c)
{
    if (!ix || !c || !cur_valid(c))
        return UINT64_MAX;
    const kix_level *L = &ix->root;
    for (unsigned d = 0; d < c->depth; d++) {
        if (!c->ac[d].node)
            return L->shorts[c->pos[d]];
        uint64_t p = axi_cursor_payload(&c->ac[d]);
        if (!is_group(p))
            return p;
        if (!is_level(p))
            return ((const kix_bucket *)group_ptr(p))->locs[c->pos[d]];
        L = group_ptr(p);
    }
    return UINT64_MAX;
}

void kix_cursor_set_loc(kix *ix, const kix_cursor *c, uint64_t loc)
{
    if (!ix || !c || !cur_valid(c) || loc > KIX_LOC_MAX)
        return;
    kix_level *L = &ix->root;
    for (unsigned d = 0; d < c->depth; d++) {
        if (!c->ac[d].node) {
            L->shorts[c->pos[d]] = loc;
            return;
        }
        uint64_t p = axi_cursor_payload(&c->ac[d]);
        if (!is_group(p)) {
            axi_cursor_set_payload(&c->ac[d], loc);
            return;
        }
        if (!is_level(p)) {
            ((kix_bucket *)group_ptr(p))->locs[c->pos[d]] = loc;
            return;
        }
        L = group_ptr(p);
    }
}

/* ---- Statistics and checking ---------------------------------------------------------------- */

static uint32_t tree_max_bucket(const axi_tree *t)
{
    uint32_t m = 0;
    axi_cursor c;
    for (bool ok = axi_first(t, &c); ok; ok = axi_next(&c)) {
        uint64_t p = axi_cursor_payload(&c);
        if (is_group(p) && !is_level(p)) {
            const kix_bucket *b = group_ptr(p);
            if (b->n > m)
                m = b->n;
        }
    }
    return m;
}

void kix_get_stats(const kix *ix, kix_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!ix)
        return;
    axi_get_stats(ix->root.tree, &st->alex);
    st->prefix_len = ix->root.plen;
    st->prefix_rebuilds = ix->rebuilds;
    st->prefix_regrows = ix->regrows;
    st->buckets = ix->buckets;
    st->bucket_keys = ix->bucket_keys;
    for (unsigned i = KIX_BUCKET_MAX + 1; i > 0; i--) {
        if (ix->hist[i]) {
            st->max_bucket = i;
            break;
        }
    }
    st->levels = ix->levels;
    st->level_rebuilds = ix->level_rebuilds;
    st->memory_bytes = sizeof *ix + st->alex.memory_bytes + ix->bucket_bytes + ix->level_bytes;
    bool oversized = ix->hist[KIX_BUCKET_MAX + 1] > 0;
    for (const kix_level *L = ix->nested; L; L = L->next) {
        axi_stats as;
        axi_get_stats(L->tree, &as);
        st->memory_bytes += as.memory_bytes;
        if (L->depth == 1)
            st->level_keys += L->count;
        if (L->depth > st->max_depth)
            st->max_depth = L->depth;
        if (oversized && L->depth + 1u == KIX_MAX_DEPTH) {
            /* Buckets grow past KIX_BUCKET_MAX only in the deepest levels. */
            uint32_t m = tree_max_bucket(L->tree);
            if (m > st->max_bucket)
                st->max_bucket = m;
        }
    }
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int check_fail(char *msg, size_t msg_len, const char *fmt, ...)
{
    if (msg && msg_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msg_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

typedef struct chk {
    const kix *ix;
    char *msg;
    size_t msg_len;
    const uint8_t *prev;
    size_t prev_len;
    uint64_t keys, buckets, bucket_keys, bucket_bytes, levels, level_bytes;
    uint64_t hist[HIST_BINS];
    const kix_level *lv[KIX_MAX_DEPTH]; /* levels on the path of the key being checked */
    uint64_t ak[KIX_MAX_DEPTH];         /* its ALEX key at each of them */
} chk;

/* One stored key in walk order, filed under lv[0..nl) with ALEX keys ak[0..nl) (as a long key
 * of each), and, if short_of is not NULL, as a short key of that level. */
static int check_key(chk *c, unsigned nl, const kix_level *short_of, uint64_t loc)
{
    if (loc > KIX_LOC_MAX)
        return check_fail(c->msg, c->msg_len, "location %llu out of range",
                          (unsigned long long)loc);
    size_t l;
    const uint8_t *k = key_of(c->ix, loc, &l);
    if (!k)
        return check_fail(c->msg, c->msg_len, "key_at(%llu) returned NULL",
                          (unsigned long long)loc);
    for (unsigned i = 0; i < nl; i++) {
        const kix_level *L = c->lv[i];
        size_t pos = (size_t)L->off + L->plen;
        if ((L->depth && l <= L->off) || l < pos ||
            (L->plen && memcmp(k + L->off, L->prefix, L->plen) != 0))
            return check_fail(c->msg, c->msg_len,
                              "key at location %llu (%zu bytes) lacks the prefix of its level "
                              "at depth %u (bytes %u..%zu)",
                              (unsigned long long)loc, l, i, (unsigned)L->off, pos);
        if (akey_of(k, l, pos) != c->ak[i])
            return check_fail(c->msg, c->msg_len,
                              "key at location %llu filed under %016llx at depth %u, not %016llx",
                              (unsigned long long)loc, (unsigned long long)c->ak[i], i,
                              (unsigned long long)akey_of(k, l, pos));
    }
    if (short_of && l > short_of->off)
        return check_fail(c->msg, c->msg_len,
                          "short key at location %llu has %zu bytes, its level consumed %u",
                          (unsigned long long)loc, l, (unsigned)short_of->off);
    if (c->prev && kix_key_cmp(c->prev, c->prev_len, k, l) >= 0)
        return check_fail(c->msg, c->msg_len, "key at location %llu out of order",
                          (unsigned long long)loc);
    c->prev = k;
    c->prev_len = l;
    c->keys++;
    return 0;
}

/* Checks level L at depth d (c->lv/ak[0..d) describe the path to it); adds its keys to *n. */
static int check_level(chk *c, const kix_level *L, unsigned d, uint64_t *n)
{
    const uint64_t before = c->keys;
    if (L->depth != d || L->plen > KIX_MAX_PREFIX || L->nshort > SHORT_MAX ||
        (d && (L->off != c->lv[d - 1]->off + c->lv[d - 1]->plen + 8u || L->count < 2)) ||
        (!d && (L->off || L->nshort)))
        return check_fail(c->msg, c->msg_len,
                          "level at depth %u: depth %u, off %u, plen %u, %u short keys, "
                          "%llu keys",
                          d, (unsigned)L->depth, (unsigned)L->off, (unsigned)L->plen,
                          (unsigned)L->nshort, (unsigned long long)L->count);
    if (axi_check(L->tree, c->msg, c->msg_len) != 0)
        return -1;
    for (unsigned i = 0; i < L->nshort; i++)
        if (check_key(c, d, L, L->shorts[i]) != 0)
            return -1;
    c->lv[d] = L;
    axi_cursor ac;
    for (bool ok = axi_first(L->tree, &ac); ok; ok = axi_next(&ac)) {
        uint64_t ak = axi_cursor_key(&ac), p = axi_cursor_payload(&ac);
        c->ak[d] = ak;
        if (!is_group(p)) {
            if (check_key(c, d + 1, NULL, p) != 0)
                return -1;
        } else if (!is_level(p)) {
            const kix_bucket *b = group_ptr(p);
            if (b->n < 2 || b->n > b->cap || (b->n > KIX_BUCKET_MAX && d + 1 < KIX_MAX_DEPTH))
                return check_fail(c->msg, c->msg_len, "bucket at depth %u holds %u of %u", d,
                                  (unsigned)b->n, (unsigned)b->cap);
            for (uint32_t i = 0; i < b->n; i++)
                if (check_key(c, d + 1, NULL, b->locs[i]) != 0)
                    return -1;
            c->buckets++;
            c->bucket_keys += b->n;
            c->bucket_bytes += bucket_bytes(b->cap);
            c->hist[hist_bin(b->n)]++;
        } else {
            const kix_level *C = group_ptr(p);
            if (d + 1 >= KIX_MAX_DEPTH)
                return check_fail(c->msg, c->msg_len, "level nested too deep");
            uint64_t sub = 0;
            if (check_level(c, C, d + 1, &sub) != 0)
                return -1;
            if (sub != C->count)
                return check_fail(c->msg, c->msg_len,
                                  "level at depth %u holds %llu keys, counts %llu", d + 1,
                                  (unsigned long long)sub, (unsigned long long)C->count);
            c->lv[d] = L; /* the recursion reused the slots below */
            c->levels++;
            c->level_bytes += sizeof *C + C->plen;
        }
    }
    *n = c->keys - before;
    return 0;
}

int kix_check(const kix *ix, char *msg, size_t msg_len)
{
    if (!ix)
        return check_fail(msg, msg_len, "NULL kix");
    const kix_level *R = &ix->root;
    if (R->prefix != ix->root_prefix || ix->has_prefix != (R->count > 0) ||
        (!ix->has_prefix && R->plen))
        return check_fail(msg, msg_len, "root prefix length %u (set: %d) with %llu keys",
                          (unsigned)R->plen, (int)ix->has_prefix, (unsigned long long)R->count);
    chk *c = calloc(1, sizeof *c);
    if (!c)
        return check_fail(msg, msg_len, "out of memory");
    c->ix = ix;
    c->msg = msg;
    c->msg_len = msg_len;
    uint64_t n = 0;
    int rc = check_level(c, R, 0, &n);
    if (rc == 0 && n != R->count)
        rc = check_fail(msg, msg_len, "%llu keys found, count says %llu", (unsigned long long)n,
                        (unsigned long long)R->count);
    if (rc == 0 && (c->buckets != ix->buckets || c->bucket_keys != ix->bucket_keys ||
                    c->bucket_bytes != ix->bucket_bytes ||
                    memcmp(c->hist, ix->hist, sizeof c->hist) != 0))
        rc = check_fail(msg, msg_len,
                        "buckets: %llu, %llu keys, %llu bytes found; kix says %llu, %llu, %llu "
                        "(or the size histogram differs)",
                        (unsigned long long)c->buckets, (unsigned long long)c->bucket_keys,
                        (unsigned long long)c->bucket_bytes, (unsigned long long)ix->buckets,
                        (unsigned long long)ix->bucket_keys,
                        (unsigned long long)ix->bucket_bytes);
    uint64_t listed = 0;
    for (const kix_level *L = ix->nested; rc == 0 && L && listed <= c->levels; L = L->next) {
        if ((L->next && L->next->prev != L) || (!L->prev && L != ix->nested))
            rc = check_fail(msg, msg_len, "level list broken");
        listed++;
    }
    if (rc == 0 && (c->levels != ix->levels || listed != ix->levels ||
                    c->level_bytes != ix->level_bytes))
        rc = check_fail(msg, msg_len,
                        "levels: %llu found (%llu bytes), %llu listed, kix says %llu (%llu bytes)",
                        (unsigned long long)c->levels, (unsigned long long)c->level_bytes,
                        (unsigned long long)listed, (unsigned long long)ix->levels,
                        (unsigned long long)ix->level_bytes);
    free(c);
    return rc;
}
