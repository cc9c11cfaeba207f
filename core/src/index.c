/*
 * index.c: the ALEX adaptive learned index (see alexstorage/index.h for the contract and
 * docs/index.md for the design, the invariants and the bounds).
 *
 * Two node kinds:
 *
 *  - Model nodes route a key to one of n = 2^k child slots with exact integer arithmetic:
 *        slot(k) = k < lo ? 0 : min((k - lo) >> shift, n - 1)
 *    i.e. a linear model whose slope is a power of two, fitted to the keys the node was built
 *    from (lo = smallest key, shift chosen so the key range spans the slots). Because routing is
 *    exact and monotone, doubling the slots (finer or wider), placing a new root above, and
 *    splitting a child along slot boundaries never change where an existing key routes, so no
 *    key can be stranded by floating-point rounding. A child may own an aligned power-of-two
 *    run of slots (ALEX's duplicate pointers).
 *
 *  - Data nodes are gapped arrays: keys[] and payloads[] of `cap` slots, a bitmap of occupied
 *    slots, and a linear model pos = slope * (key - base) + intercept in doubles, relative to the
 *    node's base so dense keys near 2^64 keep their precision. Each gap holds a copy of the
 *    nearest occupied key to its right (UINT64_MAX if none), so keys[] is non-decreasing and
 *    searches never read the bitmap. The only exception is key UINT64_MAX itself, which can
 *    equal trailing gaps; its lookups consult the bitmap (dn_find_slot).
 *
 * Data nodes are chained in key order for iteration. Routing is monotone, so the chain order is
 * the depth-first order of the tree and every key in a node lies between its neighbours' keys.
 */
#include "alexstorage/index.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Tuning constants (docs/index.md explains each choice) ------------------------------- */

#define MAX_DENSITY 0.8          /* a data node is full above this fraction of occupied slots */
#define INIT_DENSITY 0.7         /* density of a node built from sorted keys (bulk load, split) */
#define EXPAND_DENSITY 0.6       /* density after an expansion: growth factor 0.8/0.6 = 1.33 */
#define CONTRACT_DENSITY 0.2     /* below this an erase rebuilds the node smaller */
#define MIN_DATA_SLOTS 16u       /* smallest non-empty data node */
#define BULK_LEAF_MAX_KEYS 8192u /* bulk load makes data nodes of at most this many keys */
#define KEYS_PER_MODEL_SLOT 64u  /* bulk load sizes model nodes for about this many keys a slot */
#define MERGE_MAX_KEYS 8192u     /* sibling data nodes merge when together they hold at most this */
#define MERGE_TRIGGER_KEYS 2048u /* an erase looks for a merge once a node holds fewer keys */
#define NONROOT_DOUBLE_LIMIT 4096u /* non-root model nodes double their slots up to this many */
/* Cost model: a full node whose inserts cost far more than its model predicted splits rather
 * than growing (ALEX's "catastrophic cost" rule). */
#define COST_MIN_INSERTS 1024u
#define COST_RATIO 2.0
#define COST_SLACK 4.0
/* An insert that would move more slots than this rebuilds its node instead (the rebuild
 * spreads the gaps again), so one insert never costs O(node size) in shifts. */
#define SHIFT_LIMIT 1024u
/* A node whose own layout already predicts inserts this expensive (long occupied runs where
 * its linear model cannot separate the keys, e.g. tight clusters) is split, not rebuilt. */
#define BAD_EXPECTED_COST 16.0
#define BAD_MODEL_MIN_KEYS 256u

#define MAX_DATA_KEYS ((uint32_t)(AXI_MAX_DATA_NODE_SLOTS * MAX_DENSITY))

enum { NODE_DATA = 0, NODE_MODEL = 1 };

typedef struct node {
    uint8_t type;
} node;

typedef struct model_node {
    uint8_t type;  /* NODE_MODEL */
    uint8_t shift; /* slot width is 2^shift keys; 0..63 */
    uint32_t n;    /* number of child slots, a power of two */
    uint64_t lo;   /* first key of slot 0's nominal range */
    node **children;
} model_node;

typedef struct data_node {
    uint8_t type; /* NODE_DATA */
    uint32_t cap; /* slots; 0 means no arrays are allocated */
    uint32_t num_keys;
    uint64_t base; /* model is fitted on key - base */
    double slope;
    double intercept;
    uint64_t *keys;     /* cap entries, non-decreasing; gaps copy the next key to the right */
    uint64_t *payloads; /* cap entries; only occupied slots are meaningful */
    uint64_t *bitmap;   /* (cap + 63) / 64 words; bit i set <=> slot i holds a key */
    struct data_node *prev, *next;
    /* Cost model, reset at every rebuild. */
    uint32_t inserts_since_build;
    uint32_t appends_right;    /* of those, inserts past the largest key */
    uint32_t appends_left;     /* of those, inserts before the smallest key */
    uint64_t cost_since_build; /* search steps + shifts spent by those inserts */
    double expected_cost;      /* per insert, estimated at build */
} data_node;

struct axi_tree {
    node *root;
    uint64_t num_keys;
    axi_stats counters; /* only the work counters are kept here; shape is computed on demand */
};

/* A root-to-leaf path: the model nodes passed and the slot taken in each. */
typedef struct path {
    model_node *node[AXI_MAX_DEPTH + 1];
    uint32_t slot[AXI_MAX_DEPTH + 1];
    int depth; /* number of model nodes on the path */
} path;

/* ---- Small helpers ------------------------------------------------------------------------ */

static inline uint32_t model_slot(const model_node *m, uint64_t k)
{
    if (k < m->lo)
        return 0;
    uint64_t s = (k - m->lo) >> m->shift;
    return s < m->n ? (uint32_t)s : m->n - 1;
}

/* One past the last key of the model node's nominal domain, or 0 if it reaches past 2^64-1. */
static uint64_t model_domain_end(const model_node *m)
{
    unsigned log2n = (unsigned)__builtin_ctz(m->n);
    if (m->shift + log2n >= 64)
        return 0;
    uint64_t width = (uint64_t)m->n << m->shift;
    return width > UINT64_MAX - m->lo ? 0 : m->lo + width;
}

static inline double rel_key(uint64_t k, uint64_t base)
{
    return k >= base ? (double)(k - base) : -(double)(base - k);
}

static inline uint32_t dn_predict(const data_node *d, uint64_t k)
{
    double p = d->slope * rel_key(k, d->base) + d->intercept;
    if (!(p > 0)) /* also catches NaN */
        return 0;
    if (p >= (double)(d->cap - 1))
        return d->cap - 1;
    return (uint32_t)p;
}

static inline bool dn_occupied(const data_node *d, uint32_t i)
{
    return (d->bitmap[i >> 6] >> (i & 63)) & 1;
}

static inline void dn_set(data_node *d, uint32_t i)
{
    d->bitmap[i >> 6] |= (uint64_t)1 << (i & 63);
}

static inline void dn_clear(data_node *d, uint32_t i)
{
    d->bitmap[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

static inline uint32_t bitmap_words(uint32_t cap)
{
    return (cap + 63) / 64;
}

/* First occupied slot >= i, or cap. */
static uint32_t dn_next_occupied(const data_node *d, uint32_t i)
{
    if (i >= d->cap)
        return d->cap;
    uint32_t w = i >> 6;
    uint64_t bits = d->bitmap[w] & (~(uint64_t)0 << (i & 63));
    uint32_t nw = bitmap_words(d->cap);
    while (!bits) {
        if (++w >= nw)
            return d->cap;
        bits = d->bitmap[w];
    }
    uint32_t r = (w << 6) + (uint32_t)__builtin_ctzll(bits);
    return r < d->cap ? r : d->cap;
}

/* Last occupied slot <= i, or UINT32_MAX if none. i may be UINT32_MAX (then none). */
static uint32_t dn_prev_occupied(const data_node *d, uint32_t i)
{
    if (d->cap == 0 || i == UINT32_MAX)
        return UINT32_MAX;
    if (i >= d->cap)
        i = d->cap - 1;
    uint32_t w = i >> 6;
    unsigned b = i & 63;
    uint64_t bits = d->bitmap[w] & (b == 63 ? ~(uint64_t)0 : (((uint64_t)1 << (b + 1)) - 1));
    while (!bits) {
        if (w == 0)
            return UINT32_MAX;
        bits = d->bitmap[--w];
    }
    return (w << 6) + 63u - (uint32_t)__builtin_clzll(bits);
}

/* First gap >= i, or cap. */
static uint32_t dn_next_gap(const data_node *d, uint32_t i)
{
    if (i >= d->cap)
        return d->cap;
    uint32_t w = i >> 6;
    uint64_t bits = ~d->bitmap[w] & (~(uint64_t)0 << (i & 63));
    uint32_t nw = bitmap_words(d->cap);
    while (!bits) {
        if (++w >= nw)
            return d->cap;
        bits = ~d->bitmap[w];
    }
    uint32_t r = (w << 6) + (uint32_t)__builtin_ctzll(bits);
    return r < d->cap ? r : d->cap;
}

/* Last gap <= i, or UINT32_MAX if none; looks no further left than `limit` slots. */
static uint32_t dn_prev_gap(const data_node *d, uint32_t i, uint32_t limit)
{
    if (i == UINT32_MAX)
        return UINT32_MAX;
    uint32_t stop = i > limit ? i - limit : 0;
    uint32_t w = i >> 6;
    unsigned b = i & 63;
    uint64_t bits = ~d->bitmap[w] & (b == 63 ? ~(uint64_t)0 : (((uint64_t)1 << (b + 1)) - 1));
    while (!bits) {
        if (w == 0 || (w << 6) <= stop)
            return UINT32_MAX;
        bits = ~d->bitmap[--w];
    }
    uint32_t r = (w << 6) + 63u - (uint32_t)__builtin_clzll(bits);
    return r >= stop ? r : UINT32_MAX;
}

/* First slot whose key is >= k (cap if none): exponential search outward from the model's
 * prediction, then binary search inside the bracket. Adds the iterations to *steps. */
static uint32_t dn_lower_bound(const data_node *d, uint64_t k, uint64_t *steps)
{
    const uint64_t *a = d->keys;
    uint32_t n = d->cap;
    uint32_t pos = dn_predict(d, k);
    uint32_t lo, hi, bound = 1, iters = 0;
    if (a[pos] >= k) { /* answer <= pos */
        hi = pos;
        while (bound <= pos && a[pos - bound] >= k) {
            hi = pos - bound;
            bound <<= 1;
            iters++;
        }
        lo = bound <= pos ? pos - bound + 1 : 0;
    } else { /* answer > pos */
        lo = pos + 1;
        while (bound < n - pos && a[pos + bound] < k) {
            lo = pos + bound + 1;
            bound <<= 1;
            iters++;
        }
        hi = bound < n - pos ? pos + bound : n;
    }
    while (lo < hi) { /* first index in [lo, hi) with a[i] >= k; a[hi] >= k or hi == n */
        uint32_t mid = lo + (hi - lo) / 2;
        if (a[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
        iters++;
    }
    if (steps)
        *steps += iters;
    return lo;
}

/* Slot holding k, or UINT32_MAX. */
static uint32_t dn_find_slot(const data_node *d, uint64_t k)
{
    if (d->num_keys == 0)
        return UINT32_MAX;
    if (k != UINT64_MAX) {
        /* The last slot with key <= k is occupied whenever its key equals k: a gap equal to k
         * would have the occupied k to its right, inside the same bracket. */
        uint32_t i = dn_lower_bound(d, k + 1, NULL);
        return i > 0 && d->keys[i - 1] == k ? i - 1 : UINT32_MAX;
    }
    uint32_t i = dn_next_occupied(d, dn_lower_bound(d, k, NULL));
    return i < d->cap && d->keys[i] == k ? i : UINT32_MAX;
}

static inline bool dn_is_full(const data_node *d)
{
    return d->num_keys + 1 > (uint32_t)(d->cap * MAX_DENSITY);
}

static uint32_t cap_for(uint32_t num_keys, double density)
{
    if (num_keys == 0)
        return 0;
    double c = ceil((double)num_keys / density);
    uint32_t cap = c > (double)UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)c;
    if (cap < MIN_DATA_SLOTS)
        cap = MIN_DATA_SLOTS;
    if ((uint32_t)(cap * MAX_DENSITY) < num_keys + 1) /* room for at least one insert */
        cap = (uint32_t)ceil((num_keys + 1) / MAX_DENSITY) + 1;
    return cap;
}

static uint64_t dn_array_bytes(uint32_t cap)
{
    return (uint64_t)cap * 16 + (uint64_t)bitmap_words(cap) * 8;
}

/* ---- Data node construction --------------------------------------------------------------- */

static void dn_free(data_node *d)
{
    if (d) {
        free(d->keys); /* keys, payloads and bitmap share one allocation */
        free(d);
    }
}

/* Fits pos = slope * (key - base) + intercept to (keys[i], i * span / n) by least squares:
 * the keys spread over `span` slots (the whole node, or part of it, see dn_build). */
static void dn_train(data_node *d, const uint64_t *keys, uint32_t n, uint32_t span)
{
    d->base = n ? keys[0] : 0;
    d->slope = 0;
    d->intercept = 0;
    if (n == 0)
        return;
    double scale = (double)span / n;
    if (n == 1) {
        d->intercept = span / 2.0;
        return;
    }
    /* Two passes (means, then centred sums) keep the fit exact enough for dense keys. Keys
     * are sorted, so key - base never wraps. */
    double mx = 0;
    for (uint32_t i = 0; i < n; i++)
        mx += (double)(keys[i] - d->base);
    mx /= n;
    double my = (n - 1) / 2.0;
    double sxx = 0, sxy = 0;
    for (uint32_t i = 0; i < n; i++) {
        double dx = (double)(keys[i] - d->base) - mx;
        sxx += dx * dx;
        sxy += dx * (i - my);
    }
    double slope = sxx > 0 ? sxy / sxx : 0;
    d->slope = slope * scale;
    d->intercept = (my - slope * mx) * scale;
}

/* Where a rebuild puts the existing keys: spread over the whole node, or packed into the left
 * (right) part at initial density when inserts have been appending past the largest (before
 * the smallest) key, so that the free slots are where the next keys will arrive. */
typedef enum { LAYOUT_SPREAD, LAYOUT_KEEP_LEFT, LAYOUT_KEEP_RIGHT } layout;

/* Builds a data node of `cap` slots holding the sorted keys (model-based placement: each key
 * goes to its predicted slot when free, else the next free one, leaving room for the rest). */
static data_node *dn_build_layout(const uint64_t *keys, const uint64_t *payloads, uint32_t n,
                                  uint32_t cap, layout how)
{
    assert(n <= cap); /* every key gets a slot */
    data_node *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->type = NODE_DATA;
    d->cap = cap;
    d->num_keys = n;
    if (cap) {
        size_t words = bitmap_words(cap);
        d->keys = malloc((size_t)cap * 16 + words * 8);
        if (!d->keys) {
            free(d);
            return NULL;
        }
        d->payloads = d->keys + cap;
        d->bitmap = d->payloads + cap;
        memset(d->bitmap, 0, words * 8);
    }
    uint32_t span = cap;
    if (how != LAYOUT_SPREAD) {
        uint32_t tight = cap_for(n, INIT_DENSITY);
        span = tight < cap ? tight : cap;
    }
    dn_train(d, keys, n, span);
    if (how == LAYOUT_KEEP_RIGHT)
        d->intercept += cap - span;

    uint64_t err_sum = 0;
    uint32_t next_free = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t pred = dn_predict(d, keys[i]);
        uint32_t pos = pred > next_free ? pred : next_free;
        uint32_t room = cap - (n - i); /* last slot this key may take */
        if (pos > room)
            pos = room;
        d->keys[pos] = keys[i];
        dn_set(d, pos);
        next_free = pos + 1;
        uint32_t err = pos >= pred ? pos - pred : pred - pos;
        err_sum += err ? 32u - (uint32_t)__builtin_clz(err) : 0; /* ~ exp-search steps */
        if (payloads)
            d->payloads[pos] = payloads[i];
    }
    if (!payloads)
        for (uint32_t j = 0; j < cap; j++)
            d->payloads[j] = 0;
    /* Gaps copy the nearest occupied key to their right; trailing gaps hold UINT64_MAX.
     * Walk the bitmap a word at a time, right to left; also sum the squared lengths of the
     * occupied runs for the expected shift cost. */
    uint64_t fill = UINT64_MAX;
    uint64_t run_sq = 0, run = 0;
    for (uint32_t w = bitmap_words(cap); w-- > 0;) {
        uint64_t bits = d->bitmap[w];
        uint32_t top = (w << 6) + 64 > cap ? cap : (w << 6) + 64;
        if (bits == 0) {
            for (uint32_t j = w << 6; j < top; j++)
                d->keys[j] = fill;
            run_sq += run * run;
            run = 0;
            continue;
        }
        for (uint32_t j = top; j-- > (w << 6);) {
            if ((bits >> (j & 63)) & 1) {
                fill = d->keys[j];
                run++;
            } else {
                d->keys[j] = fill;
                run_sq += run * run;
                run = 0;
            }
        }
    }
    run_sq += run * run;
    /* Expected cost of an insert: the search error of the placement plus the shifts of a
     * random insert, about a quarter of the occupied run it lands in. */
    d->expected_cost = n ? (double)err_sum / n + (double)run_sq / (4.0 * n) : 0;
    return d;
}

static data_node *dn_build(const uint64_t *keys, const uint64_t *payloads, uint32_t n,
                           uint32_t cap)
{
    return dn_build_layout(keys, payloads, n, cap, LAYOUT_SPREAD);
}

/* Copies the node's keys and payloads, in order, into fresh arrays (caller frees *keys). */
static int dn_extract(const data_node *d, uint64_t **keys, uint64_t **payloads)
{
    size_t n = d->num_keys;
    *keys = malloc((n ? n : 1) * 2 * sizeof(uint64_t));
    if (!*keys)
        return AXI_ENOMEM;
    *payloads = *keys + n;
    size_t j = 0;
    for (uint32_t i = dn_next_occupied(d, 0); i < d->cap; i = dn_next_occupied(d, i + 1)) {
        (*keys)[j] = d->keys[i];
        (*payloads)[j] = d->payloads[i];
        j++;
    }
    assert(j == n);
    return AXI_OK;
}

/* Rebuilds d in place with a new capacity (keeps the node, so parents and chain stay valid). */
static int dn_resize(data_node *d, uint32_t cap)
{
    uint64_t *keys, *payloads;
    if (dn_extract(d, &keys, &payloads))
        return AXI_ENOMEM;
    layout how = LAYOUT_SPREAD;
    if (2 * d->appends_right > d->inserts_since_build)
        how = LAYOUT_KEEP_LEFT;
    else if (2 * d->appends_left > d->inserts_since_build)
        how = LAYOUT_KEEP_RIGHT;
    data_node *fresh = dn_build_layout(keys, payloads, d->num_keys, cap, how);
    free(keys);
    if (!fresh)
        return AXI_ENOMEM;
    free(d->keys);
    d->cap = fresh->cap;
    d->base = fresh->base;
    d->slope = fresh->slope;
    d->intercept = fresh->intercept;
    d->keys = fresh->keys;
    d->payloads = fresh->payloads;
    d->bitmap = fresh->bitmap;
    d->expected_cost = fresh->expected_cost;
    d->inserts_since_build = d->appends_right = d->appends_left = 0;
    d->cost_since_build = 0;
    free(fresh);
    return AXI_OK;
}

/* Inserts k, absent, into a node that is not full; p is the first slot with key >= k and
 * steps the search work that found it. Returns false, changing nothing, when the insert would
 * shift more than SHIFT_LIMIT slots: the caller rebuilds the node instead. */
static bool dn_insert(axi_tree *t, data_node *d, uint64_t k, uint64_t payload, uint32_t p,
                      uint64_t steps)
{
    uint64_t shifts = 0;
    /* Slot p-1, if any, is occupied (a gap there would copy keys[p] >= k), so a gap at p can
     * take k without disturbing any other gap's copy. */
    bool append_right = p == d->cap || (d->keys[p] == UINT64_MAX && !dn_occupied(d, p));
    bool append_left = p == 0;
    if (p < d->cap && !dn_occupied(d, p)) {
        /* Slots [p, nx) are gaps; k may take any of them. Model-based insert: take the one the
         * model predicts, so later keys find their predicted slots free too. The gaps left of
         * it now have k as their next key to the right. */
        uint32_t nx = dn_next_occupied(d, p);
        uint32_t pos = dn_predict(d, k);
        pos = pos < p ? p : pos >= nx ? nx - 1 : pos;
        for (uint32_t j = p; j < pos; j++)
            d->keys[j] = k;
        d->keys[pos] = k;
        d->payloads[pos] = payload;
        dn_set(d, pos);
    } else {
        /* Shift toward the nearest gap. Right: slots [p, g) move to [p+1, g], k lands on p.
         * Left: slots [g+1, p) move to [g, p-1), k lands on p-1; the gaps left of g copied
         * keys[g+1], which now sits at g, so they stay correct. */
        uint32_t gr = p < d->cap ? dn_next_gap(d, p) : d->cap;
        uint32_t dist_r = gr < d->cap ? gr - p : UINT32_MAX;
        uint32_t gl = p >= 2 ? dn_prev_gap(d, p - 2, dist_r) : UINT32_MAX;
        bool go_left = gl != UINT32_MAX && (gr == d->cap || p - 1 - gl < dist_r);
        if ((go_left ? p - 1 - gl : dist_r) > SHIFT_LIMIT && d->inserts_since_build >= 16)
            return false;
        if (go_left) {
            uint32_t len = p - 1 - gl;
            memmove(&d->keys[gl], &d->keys[gl + 1], len * sizeof(uint64_t));
            memmove(&d->payloads[gl], &d->payloads[gl + 1], len * sizeof(uint64_t));
            dn_set(d, gl);
            d->keys[p - 1] = k;
            d->payloads[p - 1] = payload;
            shifts = len;
        } else {
            assert(gr < d->cap); /* a node that is not full has a gap somewhere */
            uint32_t len = gr - p;
            memmove(&d->keys[p + 1], &d->keys[p], len * sizeof(uint64_t));
            memmove(&d->payloads[p + 1], &d->payloads[p], len * sizeof(uint64_t));
            dn_set(d, gr);
            d->keys[p] = k;
            d->payloads[p] = payload;
            shifts = len;
        }
    }
    d->num_keys++;
    d->inserts_since_build++;
    d->appends_right += append_right;
    d->appends_left += append_left;
    d->cost_since_build += steps + shifts;
    t->counters.search_steps += steps;
    t->counters.shifts += shifts;
    return true;
}

/* Removes the key at occupied slot i; the new gap and the gaps left of it copy the next key. */
static void dn_remove_at(data_node *d, uint32_t i)
{
    dn_clear(d, i);
    uint32_t nx = dn_next_occupied(d, i + 1);
    uint64_t fill = nx < d->cap ? d->keys[nx] : UINT64_MAX;
    uint32_t j = i + 1;
    while (j-- > 0 && !dn_occupied(d, j))
        d->keys[j] = fill;
    d->num_keys--;
}

/* ---- Model nodes and subtrees ------------------------------------------------------------- */

static model_node *mn_alloc(uint64_t lo, unsigned shift, uint32_t n)
{
    model_node *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->children = calloc(n, sizeof(node *));
    if (!m->children) {
        free(m);
        return NULL;
    }
    m->type = NODE_MODEL;
    m->lo = lo;
    m->shift = (uint8_t)shift;
    m->n = n;
    return m;
}

/* Frees a subtree; children in NULL slots (a half-built node) are skipped. Does not touch the
 * leaf chain of any other node. */
static void node_free(node *n)
{
    if (!n)
        return;
    if (n->type == NODE_DATA) {
        dn_free((data_node *)n);
        return;
    }
    model_node *m = (model_node *)n;
    node *last = NULL;
    for (uint32_t i = 0; i < m->n; i++) {
        if (m->children[i] && m->children[i] != last)
            node_free(m->children[i]);
        last = m->children[i];
    }
    free(m->children);
    free(m);
}

/* The aligned run of slots in m that point to the same child as slot s. */
static void mn_child_run(const model_node *m, uint32_t s, uint32_t *start, uint32_t *len)
{
    node *c = m->children[s];
    uint32_t a = s, b = s + 1;
    while (a > 0 && m->children[a - 1] == c)
        a--;
    while (b < m->n && m->children[b] == c)
        b++;
    *start = a;
    *len = b - a;
}

static uint32_t pow2_ceil(uint64_t x)
{
    uint32_t p = 1;
    while (p < x && p < (1u << 31))
        p <<= 1;
    return p;
}

/* Chains new data nodes in key order while a structure is being built. */
typedef struct builder {
    data_node *first, *last;
    int depth_limit_hit;
    bool anchor_zero;
} builder;

static void builder_append(builder *b, data_node *d)
{
    d->prev = b->last;
    d->next = NULL;
    if (b->last)
        b->last->next = d;
    else
        b->first = d;
    b->last = d;
}

static node *build_subtree(const uint64_t *keys, const uint64_t *payloads, uint32_t n,
                           uint32_t leaf_limit, int level, builder *b, int *rc);

/* Builder flag: the subtree being built sits at the left edge of the key space, where keys
 * have been arriving below its parent's domain and the parent cannot widen any further; its
 * model nodes then start at key 0 so nothing can fall below them (docs/index.md). */

/* Index of the first key in keys[0..n) that routes to a slot >= s (routing is monotone). */
static uint32_t first_routed_at(const model_node *geo, const uint64_t *keys, uint32_t n,
                                uint32_t s)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (model_slot(geo, keys[mid]) < s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * Fills out[0..r) with children for the aligned slot run [s, s+r) of a model node with
 * geometry geo (at tree level `level`), from the sorted keys that route into that run.
 * One data node covers the run when the keys fit under leaf_limit; otherwise the run is
 * halved, and a single slot with too many keys gets a model node of its own (a level deeper).
 */
static int assign_run(const model_node *geo, uint32_t s, uint32_t r, node **out,
                      const uint64_t *keys, const uint64_t *payloads, uint32_t n,
                      uint32_t leaf_limit, int level, builder *b)
{
    int rc = AXI_OK;
    if (n <= leaf_limit || (r == 1 && level + 1 >= AXI_MAX_DEPTH)) {
        if (n > leaf_limit)
            b->depth_limit_hit = 1;
        data_node *d = dn_build(keys, payloads, n, cap_for(n, INIT_DENSITY));
        if (!d)
            return AXI_ENOMEM;
        if (r >= 2 && n >= BAD_MODEL_MIN_KEYS && d->expected_cost > BAD_EXPECTED_COST) {
            dn_free(d); /* one linear model fits these keys badly: halve the run instead */
            return assign_run(geo, s, r, out, keys, payloads, n, n - 1, level, b);
        }
        for (uint32_t i = 0; i < r; i++)
            out[i] = (node *)d;
        builder_append(b, d);
        return AXI_OK;
    }
    if (r >= 2) {
        uint32_t half = r / 2;
        uint32_t cut = first_routed_at(geo, keys, n, s + half);
        rc = assign_run(geo, s, half, out, keys, payloads, cut, leaf_limit, level, b);
        if (rc == AXI_OK)
            rc = assign_run(geo, s + half, half, out + half, keys + cut,
                            payloads ? payloads + cut : NULL, n - cut, leaf_limit, level, b);
        return rc;
    }
    node *child = build_subtree(keys, payloads, n, leaf_limit, level + 1, b, &rc);
    out[0] = child;
    return rc;
}

/* Builds a model node fitted to the sorted keys (n >= 2): 2^k slots for about
 * KEYS_PER_MODEL_SLOT keys each, spread over the keys between the 1/32 and 31/32 quantiles
 * (lo = the low quantile, the narrowest power-of-two slot width that spans up to the high
 * one). Trimming keeps a few far outliers (a geometric tail, a stray key) from squeezing the
 * bulk of the keys into one slot; the outliers are clamped into the edge slots. The two
 * quantile keys are distinct and land in different slots, so every child holds fewer keys
 * than its parent and recursion ends. */
static model_node *mn_fit(const uint64_t *keys, uint32_t n, bool anchor_zero)
{
    uint32_t slots = pow2_ceil((n + KEYS_PER_MODEL_SLOT - 1) / KEYS_PER_MODEL_SLOT);
    if (slots < 2)
        slots = 2;
    if (slots > AXI_MAX_FANOUT)
        slots = AXI_MAX_FANOUT;
    uint32_t a = n >= 64 ? n / 32 : 0, b = n >= 64 ? n - 1 - n / 32 : n - 1;
    uint64_t lo = anchor_zero ? 0 : keys[a];
    uint64_t range = keys[b] - lo;
    unsigned shift = 0;
    while (shift < 63 && (range >> shift) >= slots)
        shift++;
    return mn_alloc(lo, shift, slots);
}

/* A subtree for the sorted keys: one data node if they fit under leaf_limit (or the depth
 * bound is reached), otherwise a fitted model node with its slots assigned. On failure frees
 * what it built and sets *rc. */
static node *build_subtree(const uint64_t *keys, const uint64_t *payloads, uint32_t n,
                           uint32_t leaf_limit, int level, builder *b, int *rc)
{
    if (n <= leaf_limit || n < 2 || level >= AXI_MAX_DEPTH) {
        if (n > leaf_limit)
            b->depth_limit_hit = 1;
        data_node *d = dn_build(keys, payloads, n, cap_for(n, INIT_DENSITY));
        if (!d) {
            *rc = AXI_ENOMEM;
            return NULL;
        }
        builder_append(b, d);
        return (node *)d;
    }
    model_node *m = mn_fit(keys, n, b->anchor_zero);
    b->anchor_zero = false; /* only the top of the new subtree needs it */
    if (!m) {
        *rc = AXI_ENOMEM;
        return NULL;
    }
    int r = assign_run(m, 0, m->n, m->children, keys, payloads, n, leaf_limit, level, b);
    if (r != AXI_OK) {
        node_free((node *)m);
        *rc = r;
        return NULL;
    }
    return (node *)m;
}

/* Like assign_run, for any slot range [a, b): split into maximal aligned runs. */
static int assign_range(const model_node *geo, uint32_t a, uint32_t e, node **out,
                        const uint64_t *keys, const uint64_t *payloads, uint32_t n,
                        uint32_t leaf_limit, int level, builder *b)
{
    uint32_t i = a, k = 0;
    while (i < e) {
        uint32_t r = i ? (uint32_t)(i & -i) : geo->n;
        while (i + r > e)
            r >>= 1;
        uint32_t cut = k + first_routed_at(geo, keys + k, n - k, i + r);
        int rc = assign_run(geo, i, r, out + (i - a), keys + k, payloads ? payloads + k : NULL,
                            cut - k, leaf_limit, level, b);
        if (rc != AXI_OK)
            return rc;
        k = cut;
        i += r;
    }
    assert(k == n);
    return AXI_OK;
}

/* Frees the distinct non-NULL subtrees in out[0..r). */
static void free_children(node **out, uint32_t r)
{
    node *last = NULL;
    for (uint32_t i = 0; i < r; i++) {
        if (out[i] && out[i] != last)
            node_free(out[i]);
        last = out[i];
    }
}

/* Links a freshly built chain [b->first, b->last] in place of the old nodes between prev
 * and next (exclusive). An empty chain joins prev to next. */
static void chain_splice(data_node *prev, data_node *next, builder *b)
{
    data_node *first = b->first ? b->first : next;
    data_node *last = b->last ? b->last : prev;
    if (prev)
        prev->next = first;
    if (first)
        first->prev = prev;
    if (next)
        next->prev = last;
    if (last)
        last->next = next;
}

/* ---- Restructuring a full data node -------------------------------------------------------- */

/* Where a node hangs: in parent at the run [start, start+len), or the root if parent NULL. */
typedef struct place {
    model_node *parent;
    uint32_t start, len;
    int level; /* model nodes above the node */
} place;

static place place_of(const path *p, int level)
{
    place pl = {NULL, 0, 1, level};
    if (level > 0) {
        pl.parent = p->node[level - 1];
        mn_child_run(pl.parent, p->slot[level - 1], &pl.start, &pl.len);
    }
    return pl;
}

static void place_set(axi_tree *t, const place *pl, node *n)
{
    if (!pl->parent) {
        t->root = n;
        return;
    }
    for (uint32_t i = 0; i < pl->len; i++)
        pl->parent->children[pl->start + i] = n;
}

/* Rebuilds the run of data node d from its own keys, split so no piece exceeds leaf_limit
 * (sideways split when the run has several slots, a new model node when it has one). */
static int split_in_place(axi_tree *t, data_node *d, const place *pl, uint32_t leaf_limit,
                          bool anchor_zero)
{
    uint64_t *keys, *payloads;
    int rc = dn_extract(d, &keys, &payloads);
    if (rc)
        return rc;
    builder b = {0};
    b.anchor_zero = anchor_zero;
    node *sub = NULL;
    node **tmp = NULL;
    if (pl->parent && pl->len >= 2) {
        tmp = calloc(pl->len, sizeof(node *));
        rc = tmp ? assign_run(pl->parent, pl->start, pl->len, tmp, keys, payloads, d->num_keys,
                              leaf_limit, pl->level - 1, &b)
                 : AXI_ENOMEM;
    } else {
        sub = build_subtree(keys, payloads, d->num_keys, leaf_limit, pl->level, &b, &rc);
    }
    free(keys);
    if (rc != AXI_OK) {
        if (tmp)
            free_children(tmp, pl->len);
        free(tmp);
        return rc;
    }
    chain_splice(d->prev, d->next, &b);
    if (tmp) {
        memcpy(pl->parent->children + pl->start, tmp, pl->len * sizeof(node *));
        free(tmp);
        t->counters.splits_sideways++;
    } else {
        place_set(t, pl, sub);
        t->counters.splits_down++;
    }
    dn_free(d);
    return AXI_OK;
}

/* Doubles m's slots at half the width: every child's run doubles, no key moves. */
static int mn_double_resolution(axi_tree *t, model_node *m)
{
    node **c = malloc((size_t)m->n * 2 * sizeof(node *));
    if (!c)
        return AXI_ENOMEM;
    for (uint32_t i = 0; i < m->n; i++)
        c[2 * i] = c[2 * i + 1] = m->children[i];
    free(m->children);
    m->children = c;
    m->n *= 2;
    m->shift--;
    t->counters.model_expansions++;
    return AXI_OK;
}

/*
 * Widens m's domain toward key k, which lies outside it: the edge data node d (holding the
 * keys that were clamped into the edge slot) is rebuilt across its old run plus the new slots.
 * Right: n doubles, lo stays. Left: n doubles and lo moves down by the old width, so old slot
 * i becomes slot n + i exactly. Returns 1 if done, 0 if not applicable, or an error.
 */
static int mn_grow_domain(axi_tree *t, model_node *m, data_node *d, const place *pl,
                          bool right)
{
    if (m->shift + (unsigned)__builtin_ctz(m->n) >= 64)
        return 0;
    uint64_t width = (uint64_t)m->n << m->shift;
    if (!right && m->lo < width)
        return 0;
    uint32_t n2 = m->n * 2;
    model_node geo = *m;
    geo.n = n2;
    if (!right)
        geo.lo = m->lo - width;
    /* New slot range to rebuild from d's keys. */
    uint32_t a = right ? pl->start : 0;
    uint32_t e = right ? n2 : m->n + pl->start + pl->len;
    uint64_t *keys, *payloads;
    int rc = dn_extract(d, &keys, &payloads);
    if (rc)
        return rc;
    node **c = calloc(n2, sizeof(node *));
    builder b = {0};
    rc = c ? assign_range(&geo, a, e, c + a, keys, payloads, d->num_keys, MAX_DATA_KEYS / 2,
                          pl->level - 1, &b)
           : AXI_ENOMEM;
    free(keys);
    if (rc != AXI_OK) {
        if (c)
            free_children(c + a, e - a);
        free(c);
        return rc;
    }
    if (right)
        memcpy(c, m->children, pl->start * sizeof(node *));
    else
        memcpy(c + e, m->children + pl->len, (m->n - pl->len) * sizeof(node *));
    chain_splice(d->prev, d->next, &b);
    dn_free(d);
    free(m->children);
    m->children = c;
    m->n = n2;
    m->lo = geo.lo;
    t->counters.model_expansions++;
    return 1;
}

/*
 * Places a new two-slot root above the full root r, widening the domain toward k. The new
 * root's slot width equals r's whole domain, so r owns exactly one slot; the edge data node d
 * of r gives the keys that now route to the new slot to a new data node. Returns 1, 0 if not
 * applicable, or an error.
 */
static int expand_root(axi_tree *t, model_node *r, data_node *d, const place *pl, bool right)
{
    unsigned log2n = (unsigned)__builtin_ctz(r->n);
    if (r->shift + log2n + 1 >= 64)
        return 0;
    uint64_t width = (uint64_t)r->n << r->shift;
    if (!right && r->lo < width)
        return 0;
    model_node *root = mn_alloc(right ? r->lo : r->lo - width, r->shift + log2n, 2);
    if (!root)
        return AXI_ENOMEM;
    uint32_t old_slot = right ? 0 : 1;
    uint64_t *keys, *payloads;
    int rc = dn_extract(d, &keys, &payloads);
    if (rc) {
        node_free((node *)root);
        return rc;
    }
    /* Keys of d that stay under r, and those that move to the new slot. */
    uint32_t n = d->num_keys;
    uint32_t cut = first_routed_at(root, keys, n, 1);
    uint32_t stay_lo = right ? 0 : cut, stay_n = right ? cut : n - cut;
    uint32_t move_lo = right ? cut : 0, move_n = n - stay_n;
    node **tmp = calloc(pl->len, sizeof(node *));
    builder b_stay = {0}, b_move = {0};
    rc = tmp ? assign_run(r, pl->start, pl->len, tmp, keys + stay_lo, payloads + stay_lo, stay_n,
                          MAX_DATA_KEYS / 2, 1, &b_stay)
             : AXI_ENOMEM;
    if (rc == AXI_OK)
        rc = assign_run(root, 1 - old_slot, 1, root->children + (1 - old_slot), keys + move_lo,
                        payloads + move_lo, move_n, MAX_DATA_KEYS / 2, 0, &b_move);
    free(keys);
    if (rc != AXI_OK) {
        if (tmp)
            free_children(tmp, pl->len);
        free(tmp);
        node_free((node *)root);
        return rc;
    }
    /* Chain: the stay part replaces d, the moved part goes past it (right) or before it. */
    builder all = {0};
    builder *first = right ? &b_stay : &b_move, *second = right ? &b_move : &b_stay;
    all.first = first->first ? first->first : second->first;
    all.last = second->last ? second->last : first->last;
    if (first->last && second->first) {
        first->last->next = second->first;
        second->first->prev = first->last;
    }
    chain_splice(d->prev, d->next, &all);
    memcpy(r->children + pl->start, tmp, pl->len * sizeof(node *));
    free(tmp);
    dn_free(d);
    root->children[old_slot] = (node *)r;
    t->root = (node *)root;
    t->counters.root_expansions++;
    return 1;
}

static bool cost_is_catastrophic(const data_node *d)
{
    if (d->num_keys >= BAD_MODEL_MIN_KEYS && d->expected_cost > BAD_EXPECTED_COST)
        return true;
    if (d->inserts_since_build < COST_MIN_INSERTS)
        return false;
    double empirical = (double)d->cost_since_build / d->inserts_since_build;
    return empirical > COST_RATIO * d->expected_cost + COST_SLACK;
}

/*
 * Makes room for key k in the full data node at the end of path p. Afterwards the caller
 * descends again. In order of preference (docs/index.md, "Growing"):
 *   1. expand the node (refitting its model) while it is under the size cap and its inserts
 *      cost what its model predicted;
 *   2. split sideways within its run of parent slots;
 *   3. if k lies outside the parent's domain at an edge: widen the parent, or at the root
 *      place a new root above;
 *   4. double the parent's slots (the node's run doubles; the next pass splits sideways);
 *   5. split down: a new model node fitted to the node's keys takes its place;
 *   6. at the depth bound, expand past the size cap (counted; never reached in practice).
 */
static int make_room(axi_tree *t, data_node *d, const path *p, uint64_t k)
{
    bool catastrophic = cost_is_catastrophic(d) && d->num_keys >= 2 * MIN_DATA_SLOTS;
    uint32_t want = cap_for(d->num_keys + 1, EXPAND_DENSITY);
    if (!catastrophic && want <= AXI_MAX_DATA_NODE_SLOTS) {
        t->counters.expansions++;
        t->counters.retrains++;
        return dn_resize(d, want);
    }
    if (!catastrophic && d->cap < AXI_MAX_DATA_NODE_SLOTS &&
        (uint32_t)(AXI_MAX_DATA_NODE_SLOTS * MAX_DENSITY) > d->num_keys) {
        t->counters.expansions++;
        t->counters.retrains++;
        return dn_resize(d, AXI_MAX_DATA_NODE_SLOTS);
    }
    uint32_t half = d->num_keys / 2 > 1 ? d->num_keys / 2 : 1;
    place pl = place_of(p, p->depth);
    if (pl.parent) {
        /* Keys past the parent's domain were clamped into this edge node; splitting it would
         * pile them into the edge slot, so widen the domain first. */
        model_node *m = pl.parent;
        uint64_t end = model_domain_end(m);
        bool right = end != 0 && k >= end && pl.start + pl.len == m->n;
        bool left = k < m->lo && pl.start == 0;
        if (right || left) {
            int rc = 0;
            if (m->n < AXI_MAX_FANOUT)
                rc = mn_grow_domain(t, m, d, &pl, right);
            else if (p->depth == 1)
                rc = expand_root(t, m, d, &pl, right);
            if (rc != 0)
                return rc < 0 ? rc : AXI_OK;
        }
    }
    /* Keys below the leftmost node's domain that no widening could take in: whatever model
     * node this split creates starts at 0. */
    bool anchor = pl.parent && pl.start == 0 && k < pl.parent->lo;
    if (!pl.parent && d->num_keys && k < d->keys[dn_next_occupied(d, 0)])
        anchor = d->appends_left * 2 > d->inserts_since_build;
    if (pl.parent && pl.len >= 2)
        return split_in_place(t, d, &pl, half, anchor);
    if (pl.parent) {
        model_node *m = pl.parent;
        uint32_t limit = p->depth == 1 ? AXI_MAX_FANOUT : NONROOT_DOUBLE_LIMIT;
        if (m->n < limit && m->shift > 0)
            return mn_double_resolution(t, m);
    }
    if (p->depth < AXI_MAX_DEPTH)
        return split_in_place(t, d, &pl, half, anchor);
    /* Depth bound reached: grow past the size cap rather than deepen the tree. */
    t->counters.expansions++;
    t->counters.retrains++;
    return dn_resize(d, want);
}

/* ---- Shrinking after erases ------------------------------------------------------------------ */

/*
 * After an erase left d small: merge it with its buddy run (the aligned run of the same size
 * next to it) when that is one data node and both fit together, and repeat upward; a model
 * node whose slots all point to one data node collapses into it.
 */
static void merge_upward(axi_tree *t, data_node *d, const path *p)
{
    int level = p->depth;
    while (level > 0 && d->num_keys < MERGE_TRIGGER_KEYS) {
        place pl = place_of(p, level);
        model_node *m = pl.parent;
        if (pl.len == m->n) { /* d owns every slot: the model node is redundant */
            place up = place_of(p, level - 1);
            place_set(t, &up, (node *)d);
            free(m->children);
            free(m);
            level--;
            continue;
        }
        uint32_t bs = pl.start ^ pl.len; /* buddy run start */
        node *bn = m->children[bs];
        /* The buddy run never holds d itself; the first test says so to the static analyzer. */
        if (bn == (node *)d || bn->type != NODE_DATA || m->children[bs + pl.len - 1] != bn)
            return;
        data_node *buddy = (data_node *)bn;
        uint32_t total = d->num_keys + buddy->num_keys;
        if (total > MERGE_MAX_KEYS)
            return;
        data_node *left = bs < pl.start ? buddy : d, *right = left == d ? buddy : d;
        uint64_t *lk, *lp, *rk, *rp, *keys = NULL;
        if (dn_extract(left, &lk, &lp))
            return;
        if (dn_extract(right, &rk, &rp)) {
            free(lk);
            return;
        }
        keys = malloc(((size_t)total ? total : 1) * 2 * sizeof(uint64_t));
        data_node *merged = NULL;
        if (keys) {
            memcpy(keys, lk, left->num_keys * sizeof(uint64_t));
            memcpy(keys + left->num_keys, rk, right->num_keys * sizeof(uint64_t));
            memcpy(keys + total, lp, left->num_keys * sizeof(uint64_t));
            memcpy(keys + total + left->num_keys, rp, right->num_keys * sizeof(uint64_t));
            merged = dn_build(keys, keys + total, total, cap_for(total, INIT_DENSITY));
        }
        free(keys);
        free(lk);
        free(rk);
        if (!merged)
            return;
        builder b = {.first = merged, .last = merged};
        merged->prev = merged->next = NULL;
        chain_splice(left->prev, right->next, &b);
        uint32_t start = pl.start < bs ? pl.start : bs;
        for (uint32_t i = 0; i < 2 * pl.len; i++)
            m->children[start + i] = (node *)merged;
        dn_free(left);
        dn_free(right);
        t->counters.merges++;
        d = merged;
        /* The path's slot in m still lies inside the merged run; loop to try again. */
    }
}

/* ---- Public API ------------------------------------------------------------------------------ */

const char *axi_strerror(int code)
{
    switch (code) {
    case AXI_OK:
        return "success";
    case AXI_ENOMEM:
        return "out of memory";
    case AXI_EINVAL:
        return "invalid argument";
    case AXI_ENOTEMPTY:
        return "tree is not empty";
    default:
        return "unknown error code";
    }
}

int axi_create(axi_tree **out)
{
    if (!out)
        return AXI_EINVAL;
    *out = NULL;
    axi_tree *t = calloc(1, sizeof *t);
    if (!t)
        return AXI_ENOMEM;
    t->root = (node *)dn_build(NULL, NULL, 0, 0);
    if (!t->root) {
        free(t);
        return AXI_ENOMEM;
    }
    *out = t;
    return AXI_OK;
}

void axi_destroy(axi_tree *tree)
{
    if (!tree)
        return;
    node_free(tree->root);
    free(tree);
}

uint64_t axi_size(const axi_tree *tree)
{
    return tree ? tree->num_keys : 0;
}

int axi_bulk_load(axi_tree *tree, const uint64_t *keys, const uint64_t *payloads, size_t n)
{
    if (!tree || (n > 0 && !keys))
        return AXI_EINVAL;
    if (tree->num_keys > 0)
        return AXI_ENOTEMPTY;
    if (n > UINT32_MAX / 2) /* capacities are 32-bit */
        return AXI_EINVAL;
    for (size_t i = 1; i < n; i++)
        if (keys[i] <= keys[i - 1])
            return AXI_EINVAL;
    builder b = {0};
    int rc = AXI_OK;
    node *root = build_subtree(keys, payloads, (uint32_t)n, BULK_LEAF_MAX_KEYS, 0, &b, &rc);
    if (!root)
        return rc;
    node_free(tree->root);
    tree->root = root;
    tree->num_keys = n;
    return AXI_OK;
}

static data_node *descend(const axi_tree *t, uint64_t k, path *p)
{
    node *n = t->root;
    int depth = 0;
    while (n->type == NODE_MODEL) {
        model_node *m = (model_node *)n;
        uint32_t s = model_slot(m, k);
        if (p) {
            p->node[depth] = m;
            p->slot[depth] = s;
        }
        depth++;
        n = m->children[s];
    }
    if (p)
        p->depth = depth;
    return (data_node *)n;
}

bool axi_find(const axi_tree *tree, uint64_t key, uint64_t *payload)
{
    if (!tree)
        return false;
    const data_node *d = descend(tree, key, NULL);
    uint32_t i = dn_find_slot(d, key);
    if (i == UINT32_MAX)
        return false;
    if (payload)
        *payload = d->payloads[i];
    return true;
}

int axi_upsert(axi_tree *tree, uint64_t key, uint64_t payload, bool *inserted)
{
    if (!tree)
        return AXI_EINVAL;
    path p;
    for (;;) {
        data_node *d = descend(tree, key, &p);
        uint64_t steps = 0;
        uint32_t pos = d->cap ? dn_lower_bound(d, key, &steps) : 0;
        /* keys[pos] == key means pos holds key or is a gap copying it from the next key. */
        if (pos < d->cap && d->keys[pos] == key) {
            uint32_t i = dn_next_occupied(d, pos);
            if (i < d->cap && d->keys[i] == key) {
                d->payloads[i] = payload;
                tree->counters.num_updates++;
                if (inserted)
                    *inserted = false;
                return AXI_OK;
            }
        }
        if (!dn_is_full(d) && dn_insert(tree, d, key, payload, pos, steps)) {
            tree->num_keys++;
            tree->counters.num_inserts++;
            if (inserted)
                *inserted = true;
            return AXI_OK;
        }
        int rc = make_room(tree, d, &p, key);
        if (rc != AXI_OK)
            return rc;
    }
}

bool axi_erase(axi_tree *tree, uint64_t key, uint64_t *payload)
{
    if (!tree)
        return false;
    path p;
    data_node *d = descend(tree, key, &p);
    uint32_t i = dn_find_slot(d, key);
    if (i == UINT32_MAX)
        return false;
    if (payload)
        *payload = d->payloads[i];
    dn_remove_at(d, i);
    tree->num_keys--;
    tree->counters.num_erases++;
    if (d->num_keys == 0) {
        free(d->keys); /* an empty node keeps no arrays */
        d->keys = d->payloads = d->bitmap = NULL;
        d->cap = 0;
        dn_train(d, NULL, 0, 0);
    } else if (d->cap > 2 * MIN_DATA_SLOTS && d->num_keys < d->cap * CONTRACT_DENSITY) {
        if (dn_resize(d, cap_for(d->num_keys, INIT_DENSITY)) == AXI_OK) {
            tree->counters.contractions++;
            tree->counters.retrains++;
        }
    }
    merge_upward(tree, d, &p);
    return true;
}

/* ---- Cursors ------------------------------------------------------------------------------- */

static bool cursor_at(axi_cursor *cur, const data_node *d, uint32_t slot)
{
    cur->node = d;
    cur->slot = slot;
    return true;
}

static bool cursor_end(axi_cursor *cur)
{
    cur->node = NULL;
    cur->slot = 0;
    return false;
}

/* First key at slot >= i in d or in the nodes after it. */
static bool seek_forward(axi_cursor *cur, const data_node *d, uint32_t i)
{
    for (; d; d = d->next, i = 0) {
        uint32_t s = dn_next_occupied(d, i);
        if (s < d->cap)
            return cursor_at(cur, d, s);
    }
    return cursor_end(cur);
}

/* Last key at slot <= i (UINT32_MAX: none in d) in d or in the nodes before it. */
static bool seek_backward(axi_cursor *cur, const data_node *d, uint32_t i)
{
    for (; d; d = d->prev, i = UINT32_MAX - 1) {
        uint32_t s = dn_prev_occupied(d, i);
        if (s != UINT32_MAX)
            return cursor_at(cur, d, s);
    }
    return cursor_end(cur);
}

static const data_node *edge_leaf(const axi_tree *t, bool last)
{
    const node *n = t->root;
    while (n->type == NODE_MODEL) {
        const model_node *m = (const model_node *)n;
        n = m->children[last ? m->n - 1 : 0];
    }
    return (const data_node *)n;
}

bool axi_first(const axi_tree *tree, axi_cursor *cur)
{
    if (!cur)
        return false;
    if (!tree)
        return cursor_end(cur);
    return seek_forward(cur, edge_leaf(tree, false), 0);
}

bool axi_last(const axi_tree *tree, axi_cursor *cur)
{
    if (!cur)
        return false;
    if (!tree)
        return cursor_end(cur);
    return seek_backward(cur, edge_leaf(tree, true), UINT32_MAX - 1);
}

bool axi_lower_bound(const axi_tree *tree, uint64_t key, axi_cursor *cur)
{
    if (!cur)
        return false;
    if (!tree)
        return cursor_end(cur);
    const data_node *d = descend(tree, key, NULL);
    /* The first slot with key >= k is occupied or a gap copying the next occupied key. */
    uint32_t i = d->num_keys ? dn_lower_bound(d, key, NULL) : 0;
    return seek_forward(cur, d, i);
}

bool axi_upper_bound(const axi_tree *tree, uint64_t key, axi_cursor *cur)
{
    if (key == UINT64_MAX) {
        if (cur)
            cursor_end(cur);
        return false;
    }
    return axi_lower_bound(tree, key + 1, cur);
}

bool axi_floor(const axi_tree *tree, uint64_t key, axi_cursor *cur)
{
    if (!cur)
        return false;
    if (!tree)
        return cursor_end(cur);
    if (key == UINT64_MAX)
        return axi_last(tree, cur);
    const data_node *d = descend(tree, key, NULL);
    if (d->num_keys == 0)
        return seek_backward(cur, d->prev, UINT32_MAX - 1);
    /* Slots before the first key >= key+1 hold keys <= key. */
    uint32_t i = dn_lower_bound(d, key + 1, NULL);
    return seek_backward(cur, d, i ? i - 1 : UINT32_MAX);
}

bool axi_next(axi_cursor *cur)
{
    if (!cur || !cur->node)
        return false;
    return seek_forward(cur, cur->node, cur->slot + 1);
}

bool axi_prev(axi_cursor *cur)
{
    if (!cur || !cur->node)
        return false;
    return seek_backward(cur, cur->node, cur->slot ? cur->slot - 1 : UINT32_MAX);
}

uint64_t axi_cursor_key(const axi_cursor *cur)
{
    return ((const data_node *)cur->node)->keys[cur->slot];
}

uint64_t axi_cursor_payload(const axi_cursor *cur)
{
    return ((const data_node *)cur->node)->payloads[cur->slot];
}

void axi_cursor_set_payload(const axi_cursor *cur, uint64_t payload)
{
    /* Only occupied slots' payloads are ever read (gaps copy keys, not payloads), so one
     * store suffices. The node belongs to the caller's tree, hence the cast. */
    ((data_node *)(uintptr_t)cur->node)->payloads[cur->slot] = payload;
}

/* ---- Statistics and invariant checking ----------------------------------------------------- */

static void stats_walk(const node *n, uint32_t depth, axi_stats *s)
{
    if (n->type == NODE_DATA) {
        const data_node *d = (const data_node *)n;
        s->num_data_nodes++;
        s->data_slots += d->cap;
        s->memory_bytes += sizeof *d + dn_array_bytes(d->cap);
        if (depth > s->max_depth)
            s->max_depth = depth;
        return;
    }
    const model_node *m = (const model_node *)n;
    s->num_model_nodes++;
    s->memory_bytes += sizeof *m + (uint64_t)m->n * sizeof(node *);
    const node *last = NULL;
    for (uint32_t i = 0; i < m->n; i++) {
        if (m->children[i] != last)
            stats_walk(m->children[i], depth + 1, s);
        last = m->children[i];
    }
}

void axi_get_stats(const axi_tree *tree, axi_stats *stats)
{
    if (!stats)
        return;
    memset(stats, 0, sizeof *stats);
    if (!tree)
        return;
    *stats = tree->counters;
    stats->num_keys = tree->num_keys;
    stats->num_model_nodes = stats->num_data_nodes = stats->memory_bytes = 0;
    stats->data_slots = 0;
    stats->max_depth = 0;
    stats->memory_bytes = sizeof *tree;
    stats_walk(tree->root, 0, stats);
}

typedef struct check_ctx {
    const axi_tree *t;
    char *msg;
    size_t msg_len;
    const data_node *prev_leaf; /* chain order must equal depth-first order */
    uint64_t keys_seen;
    bool have_last_key;
    uint64_t last_key;
} check_ctx;

static int check_fail(check_ctx *c, const char *what, uint64_t a, uint64_t b)
{
    if (c->msg && c->msg_len)
        snprintf(c->msg, c->msg_len, "%s (%llu, %llu)", what, (unsigned long long)a,
                 (unsigned long long)b);
    return -1;
}

static int check_data(check_ctx *c, const data_node *d, int depth)
{
    if (d->prev != c->prev_leaf)
        return check_fail(c, "leaf chain prev pointer does not match tree order", 0, 0);
    if (c->prev_leaf && c->prev_leaf->next != d)
        return check_fail(c, "leaf chain next pointer does not match tree order", 0, 0);
    c->prev_leaf = d;
    if (depth > AXI_MAX_DEPTH)
        return check_fail(c, "depth bound exceeded", (uint64_t)depth, AXI_MAX_DEPTH);
    if (d->cap == 0)
        return d->num_keys == 0 ? 0 : check_fail(c, "keys in a node without slots", d->num_keys, 0);
    if (d->num_keys > d->cap)
        return check_fail(c, "more keys than slots", d->num_keys, d->cap);
    uint64_t count = 0;
    for (uint32_t w = 0; w < bitmap_words(d->cap); w++)
        count += (uint64_t)__builtin_popcountll(d->bitmap[w]);
    if (d->cap & 63 && d->bitmap[bitmap_words(d->cap) - 1] >> (d->cap & 63))
        return check_fail(c, "bitmap bits set past the last slot", d->cap, 0);
    if (count != d->num_keys)
        return check_fail(c, "bitmap population differs from key count", count, d->num_keys);
    bool have_next = false;
    uint64_t fill = UINT64_MAX; /* the next occupied key to the right, or UINT64_MAX */
    for (uint32_t j = d->cap; j-- > 0;) {
        if (dn_occupied(d, j)) {
            if (have_next && d->keys[j] >= fill)
                return check_fail(c, "keys out of order", d->keys[j], fill);
            fill = d->keys[j];
            have_next = true;
        } else if (d->keys[j] != fill) {
            return check_fail(c, "gap does not copy the next key to its right", j, d->keys[j]);
        }
    }
    for (uint32_t j = dn_next_occupied(d, 0); j < d->cap; j = dn_next_occupied(d, j + 1)) {
        uint64_t k = d->keys[j];
        if (c->have_last_key && k <= c->last_key)
            return check_fail(c, "keys out of order across nodes", c->last_key, k);
        c->have_last_key = true;
        c->last_key = k;
        c->keys_seen++;
        if (descend(c->t, k, NULL) != d)
            return check_fail(c, "key does not route to the node holding it", k, 0);
        if (dn_find_slot(d, k) != j)
            return check_fail(c, "search does not find a stored key", k, j);
    }
    return 0;
}

static int check_node(check_ctx *c, const node *n, int depth)
{
    if (n->type == NODE_DATA)
        return check_data(c, (const data_node *)n, depth);
    if (n->type != NODE_MODEL)
        return check_fail(c, "unknown node type", n->type, 0);
    const model_node *m = (const model_node *)n;
    if (m->n < 1 || (m->n & (m->n - 1)) || m->n > AXI_MAX_FANOUT)
        return check_fail(c, "model node slot count not a power of two in range", m->n, 0);
    if (m->shift > 63)
        return check_fail(c, "model node shift out of range", m->shift, 0);
    uint32_t i = 0;
    while (i < m->n) {
        const node *ch = m->children[i];
        if (!ch)
            return check_fail(c, "NULL child", i, 0);
        uint32_t r = 1;
        while (i + r < m->n && m->children[i + r] == ch)
            r++;
        if ((r & (r - 1)) || (i & (r - 1)))
            return check_fail(c, "child run not an aligned power of two", i, r);
        if (check_node(c, ch, depth + 1))
            return -1;
        i += r;
    }
    return 0;
}

int axi_check(const axi_tree *tree, char *msg, size_t msg_len)
{
    if (msg && msg_len)
        msg[0] = '\0';
    if (!tree)
        return -1;
    check_ctx c = {tree, msg, msg_len, NULL, 0, false, 0};
    if (check_node(&c, tree->root, 0))
        return -1;
    if (c.prev_leaf && c.prev_leaf->next)
        return check_fail(&c, "leaf chain continues past the last node", 0, 0);
    if (c.keys_seen != tree->num_keys)
        return check_fail(&c, "key count differs from keys stored", c.keys_seen, tree->num_keys);
    return 0;
}
