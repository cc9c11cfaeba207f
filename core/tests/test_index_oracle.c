/*
 * test_index_oracle.c: differential test of the index against a simple ordered-map oracle.
 *
 * Each test case picks one key distribution and one starting point (empty tree, or a tree
 * bulk-loaded from that distribution) and runs four phases of random operations (grow, mixed,
 * shrink, mixed) on the index and on the oracle side by side, comparing every result: upsert's
 * inserted flag, erase's hit and old payload, find, lower_bound, upper_bound, floor, and short
 * forward and backward cursor walks from random positions. axi_check runs every CHECK_EVERY
 * operations; at each phase end the whole contents (both directions), axi_size and the exact
 * counters of axi_get_stats are compared with the oracle.
 *
 * Size: OPS_PER_CASE operations per case at ALEXSTORAGE_TEST_SCALE=1.0, 20 cases, so about
 * six million operations in total.
 *
 * The oracle is a sorted sequence of (key, payload) kept in fixed-size blocks (a two-level sorted
 * array): binary search over the blocks' last keys, then inside the block. It exists only so the
 * test stays fast with a few hundred thousand keys; it is checked for order and count at every
 * phase end.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPS_PER_CASE 300000
#define CHECK_EVERY 10000

/* ---- oracle ------------------------------------------------------------------------------- */

#define ORC_B 256

typedef struct orc_kv {
    uint64_t key, val;
} orc_kv;

typedef struct orc_block {
    uint32_t n; /* 1..ORC_B; empty blocks are removed */
    orc_kv e[ORC_B];
} orc_block;

typedef struct oracle {
    orc_block **b;
    size_t nb, cap;
    size_t size;
} oracle;

typedef struct orc_pos {
    size_t b, i;
} orc_pos;

static void orc_init(oracle *o)
{
    memset(o, 0, sizeof *o);
}

static void orc_free(oracle *o)
{
    for (size_t i = 0; i < o->nb; i++)
        free(o->b[i]);
    free(o->b);
    memset(o, 0, sizeof *o);
}

static uint64_t orc_last_key(const orc_block *blk)
{
    return blk->e[blk->n - 1].key;
}

/* First block whose last key >= key (nb if none). */
static size_t orc_block_ge(const oracle *o, uint64_t key)
{
    size_t lo = 0, hi = o->nb;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (orc_last_key(o->b[mid]) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First block whose last key > key (nb if none). */
static size_t orc_block_gt(const oracle *o, uint64_t key)
{
    size_t lo = 0, hi = o->nb;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (orc_last_key(o->b[mid]) <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t blk_lower(const orc_block *blk, uint64_t key)
{
    size_t lo = 0, hi = blk->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (blk->e[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t blk_upper(const orc_block *blk, uint64_t key)
{
    size_t lo = 0, hi = blk->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (blk->e[mid].key <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void orc_insert_block(oracle *o, size_t at, orc_block *blk)
{
    if (o->nb == o->cap) {
        size_t ncap = o->cap ? o->cap * 2 : 16;
        orc_block **nbp = realloc(o->b, ncap * sizeof *nbp);
        if (nbp == NULL)
            tu_fail_at(__FILE__, __LINE__, "oracle: out of memory");
        o->b = nbp;
        o->cap = ncap;
    }
    memmove(o->b + at + 1, o->b + at, (o->nb - at) * sizeof *o->b);
    o->b[at] = blk;
    o->nb++;
}

static bool orc_find(const oracle *o, uint64_t key, uint64_t *val)
{
    size_t bi = orc_block_ge(o, key);
    if (bi == o->nb)
        return false;
    const orc_block *blk = o->b[bi];
    size_t i = blk_lower(blk, key);
    if (blk->e[i].key != key)
        return false;
    *val = blk->e[i].val;
    return true;
}

/* Returns true if key was new. */
static bool orc_upsert(oracle *o, uint64_t key, uint64_t val)
{
    if (o->nb == 0) {
        orc_block *blk = tu_xmalloc(sizeof *blk);
        blk->n = 1;
        blk->e[0].key = key;
        blk->e[0].val = val;
        orc_insert_block(o, 0, blk);
        o->size = 1;
        return true;
    }
    size_t bi = orc_block_ge(o, key);
    if (bi == o->nb)
        bi = o->nb - 1;
    orc_block *blk = o->b[bi];
    size_t i = blk_lower(blk, key);
    if (i < blk->n && blk->e[i].key == key) {
        blk->e[i].val = val;
        return false;
    }
    if (blk->n == ORC_B) {
        orc_block *hi = tu_xmalloc(sizeof *hi);
        hi->n = ORC_B / 2;
        memcpy(hi->e, blk->e + ORC_B / 2, (ORC_B / 2) * sizeof(orc_kv));
        blk->n = ORC_B / 2;
        orc_insert_block(o, bi + 1, hi);
        if (i > ORC_B / 2) {
            blk = hi;
            i -= ORC_B / 2;
        }
    }
    memmove(blk->e + i + 1, blk->e + i, (blk->n - i) * sizeof(orc_kv));
    blk->e[i].key = key;
    blk->e[i].val = val;
    blk->n++;
    o->size++;
    return true;
}

static bool orc_erase(oracle *o, uint64_t key, uint64_t *val)
{
    size_t bi = orc_block_ge(o, key);
    if (bi == o->nb)
        return false;
    orc_block *blk = o->b[bi];
    size_t i = blk_lower(blk, key);
    if (blk->e[i].key != key)
        return false;
    *val = blk->e[i].val;
    memmove(blk->e + i, blk->e + i + 1, (blk->n - i - 1) * sizeof(orc_kv));
    blk->n--;
    o->size--;
    if (blk->n == 0) {
        free(blk);
        memmove(o->b + bi, o->b + bi + 1, (o->nb - bi - 1) * sizeof *o->b);
        o->nb--;
    }
    return true;
}

static const orc_kv *orc_at(const oracle *o, orc_pos p)
{
    return &o->b[p.b]->e[p.i];
}

static bool orc_lower_bound(const oracle *o, uint64_t key, orc_pos *p)
{
    size_t bi = orc_block_ge(o, key);
    if (bi == o->nb)
        return false;
    p->b = bi;
    p->i = blk_lower(o->b[bi], key);
    return true;
}

static bool orc_upper_bound(const oracle *o, uint64_t key, orc_pos *p)
{
    size_t bi = orc_block_gt(o, key);
    if (bi == o->nb)
        return false;
    p->b = bi;
    p->i = blk_upper(o->b[bi], key);
    return true;
}

static bool orc_last(const oracle *o, orc_pos *p)
{
    if (o->nb == 0)
        return false;
    p->b = o->nb - 1;
    p->i = o->b[p->b]->n - 1;
    return true;
}

static bool orc_prev(const oracle *o, orc_pos *p)
{
    if (p->i > 0) {
        p->i--;
        return true;
    }
    if (p->b == 0)
        return false;
    p->b--;
    p->i = o->b[p->b]->n - 1;
    return true;
}

static bool orc_next(const oracle *o, orc_pos *p)
{
    if (p->i + 1 < o->b[p->b]->n) {
        p->i++;
        return true;
    }
    if (p->b + 1 >= o->nb)
        return false;
    p->b++;
    p->i = 0;
    return true;
}

static bool orc_floor(const oracle *o, uint64_t key, orc_pos *p)
{
    if (orc_upper_bound(o, key, p))
        return orc_prev(o, p);
    return orc_last(o, p);
}

/* A random present key (not exactly uniform: uniform block, then uniform entry). */
static bool orc_random_key(const oracle *o, tu_rng *rng, uint64_t *key)
{
    if (o->nb == 0)
        return false;
    const orc_block *blk = o->b[tu_rng_below(rng, o->nb)];
    *key = blk->e[tu_rng_below(rng, blk->n)].key;
    return true;
}

/* Self-check of the oracle: strictly increasing, counts agree, no empty block. */
static void orc_validate(const oracle *o)
{
    size_t count = 0;
    bool have_prev = false;
    uint64_t prev = 0;
    for (size_t b = 0; b < o->nb; b++) {
        TU_REQUIRE(o->b[b]->n >= 1 && o->b[b]->n <= ORC_B, "oracle: bad block size");
        for (size_t i = 0; i < o->b[b]->n; i++) {
            uint64_t k = o->b[b]->e[i].key;
            TU_REQUIRE(!have_prev || k > prev, "oracle: order broken");
            prev = k;
            have_prev = true;
            count++;
        }
    }
    TU_REQUIRE(count == o->size, "oracle: size %zu but %zu entries", o->size, count);
}

/* ---- key distributions -------------------------------------------------------------------- */

typedef enum dist_kind {
    D_UNIFORM,      /* uniform 64-bit */
    D_SMALL_RANGE,  /* uniform in a 4096-wide range: mostly overwrites */
    D_DENSE,        /* dense consecutive block, random order */
    D_DENSE_2P63,   /* dense block straddling 2^63 */
    D_DENSE_TOP,    /* dense block ending exactly at UINT64_MAX */
    D_LOGNORMAL,    /* exp(2 * N(0,1)) * 1e9, truncated */
    D_CLUSTERED,    /* a few hundred random centres, +-1024 around each */
    D_ASCENDING,    /* strictly increasing stream, random gaps 1..16 */
    D_DESCENDING,   /* strictly decreasing stream, random gaps 1..16 */
    D_EDGES         /* 0, UINT64_MAX, powers of two and their neighbours, some uniform */
} dist_kind;

static const char *const dist_names[] = {
    "uniform64", "small_range", "dense", "dense_2p63", "dense_top",
    "lognormal", "clustered",   "ascending", "descending", "edges",
};

#define NUM_CENTERS 300

typedef struct keygen {
    dist_kind kind;
    tu_rng *rng;
    uint64_t base, span;
    uint64_t stream;
    uint64_t centers[NUM_CENTERS];
} keygen;

static void keygen_init(keygen *g, dist_kind kind, tu_rng *rng, size_t ops)
{
    memset(g, 0, sizeof *g);
    g->kind = kind;
    g->rng = rng;
    g->span = ops / 2 < 1024 ? 1024 : (uint64_t)(ops / 2);
    switch (kind) {
    case D_SMALL_RANGE:
        g->span = 4096;
        g->base = tu_rng_below(rng, UINT64_MAX - g->span);
        break;
    case D_DENSE: g->base = tu_rng_below(rng, UINT64_C(1) << 40); break;
    case D_DENSE_2P63: g->base = (UINT64_C(1) << 63) - g->span / 2; break;
    case D_DENSE_TOP: g->base = UINT64_MAX - g->span + 1; break;
    case D_CLUSTERED:
        for (int i = 0; i < NUM_CENTERS; i++)
            g->centers[i] = tu_rng_next(rng);
        break;
    case D_ASCENDING: g->stream = tu_rng_below(rng, UINT64_C(1) << 62); break;
    case D_DESCENDING:
        g->stream = (UINT64_C(1) << 63) + tu_rng_below(rng, UINT64_C(1) << 62);
        break;
    default: break;
    }
}

static uint64_t keygen_next(keygen *g)
{
    tu_rng *r = g->rng;
    switch (g->kind) {
    case D_UNIFORM: return tu_rng_next(r);
    case D_SMALL_RANGE:
    case D_DENSE:
    case D_DENSE_2P63:
    case D_DENSE_TOP: return g->base + tu_rng_below(r, g->span);
    case D_LOGNORMAL: {
        double x = exp(2.0 * tu_rng_normal(r)) * 1e9;
        if (x >= 18446744073709549568.0)
            return UINT64_MAX;
        return (uint64_t)x;
    }
    case D_CLUSTERED:
        return g->centers[tu_rng_below(r, NUM_CENTERS)] + tu_rng_below(r, 2048) - 1024;
    case D_ASCENDING: g->stream += 1 + tu_rng_below(r, 16); return g->stream;
    case D_DESCENDING: g->stream -= 1 + tu_rng_below(r, 16); return g->stream;
    case D_EDGES: {
        uint64_t small = tu_rng_below(r, 64);
        switch (tu_rng_below(r, 8)) {
        case 0: return small;
        case 1: return UINT64_MAX - small;
        case 2: return (UINT64_C(1) << 63) - 32 + small;
        case 3: return (UINT64_C(1) << 32) - 32 + small;
        case 4: return tu_rng_below(r, 2) ? 0 : UINT64_MAX;
        case 5: return tu_rng_next(r);
        case 6: {
            uint64_t p = UINT64_C(1) << tu_rng_below(r, 64);
            return p - 4 + tu_rng_below(r, 9);
        }
        default: return (UINT64_MAX / 3) * tu_rng_below(r, 4) + small;
        }
    }
    }
    return 0;
}

/* ---- the differential driver -------------------------------------------------------------- */

typedef struct run_ctx {
    const char *dist;
    const char *phase;
    const char *op;
    uint64_t seed;
    size_t opno;
    uint64_t key;
} run_ctx;

static run_ctx g_ctx;

static void print_ctx(void)
{
    print_error("  context: dist=%s phase=%s op#%zu %s key=%llu (0x%llx) seed=%llu\n", g_ctx.dist,
                g_ctx.phase, g_ctx.opno, g_ctx.op, (unsigned long long)g_ctx.key,
                (unsigned long long)g_ctx.key, (unsigned long long)g_ctx.seed);
}

#define OREQ(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_ctx();                                                                           \
            tu_fail_at(__FILE__, __LINE__, __VA_ARGS__);                                           \
        }                                                                                          \
    } while (0)

typedef struct counters {
    uint64_t inserts, updates, erases;
} counters;

/* Compares an index positioning result with the oracle's. */
static void cmp_pos(const oracle *o, bool ook, orc_pos op, bool iok, const axi_cursor *c,
                    const char *what)
{
    OREQ(ook == iok, "%s: index says %s, oracle says %s", what, iok ? "found" : "none",
         ook ? "found" : "none");
    if (!ook) {
        OREQ(c->node == NULL, "%s: no result but cursor node != NULL", what);
        return;
    }
    const orc_kv *kv = orc_at(o, op);
    uint64_t k = axi_cursor_key(c), v = axi_cursor_payload(c);
    OREQ(k == kv->key, "%s: index key %llu, oracle key %llu", what, (unsigned long long)k,
         (unsigned long long)kv->key);
    OREQ(v == kv->val, "%s: payload %llu, oracle %llu (key %llu)", what, (unsigned long long)v,
         (unsigned long long)kv->val, (unsigned long long)k);
}

static void compare_full(const axi_tree *t, const oracle *o, const counters *cnt,
                         uint64_t bulk_count)
{
    orc_validate(o);
    check_tree(t);
    OREQ(axi_size(t) == o->size, "axi_size %llu, oracle %zu", (unsigned long long)axi_size(t),
         o->size);

    axi_cursor c;
    orc_pos p;
    bool iok = axi_first(t, &c);
    bool ook = o->nb > 0;
    p.b = 0;
    p.i = 0;
    size_t n = 0;
    uint32_t max_slot = 0;
    while (ook || iok) {
        cmp_pos(o, ook, p, iok, &c, "forward scan");
        if (c.slot > max_slot)
            max_slot = c.slot;
        n++;
        iok = axi_next(&c);
        ook = orc_next(o, &p);
    }
    OREQ(n == o->size, "forward scan saw %zu keys, oracle has %zu", n, o->size);
    /* A cursor's slot lies inside its data node, which has at most AXI_MAX_DATA_NODE_SLOTS. */
    OREQ(max_slot < AXI_MAX_DATA_NODE_SLOTS, "cursor at slot %u: a data node over the cap",
         max_slot);

    iok = axi_last(t, &c);
    ook = orc_last(o, &p);
    n = 0;
    while (ook || iok) {
        cmp_pos(o, ook, p, iok, &c, "backward scan");
        n++;
        iok = axi_prev(&c);
        ook = orc_prev(o, &p);
    }
    OREQ(n == o->size, "backward scan saw %zu keys", n);

    axi_stats st;
    axi_get_stats(t, &st);
    OREQ(st.num_keys == o->size, "stats.num_keys %llu, oracle %zu",
         (unsigned long long)st.num_keys, o->size);
    OREQ(st.num_inserts == cnt->inserts, "stats.num_inserts %llu, expected %llu",
         (unsigned long long)st.num_inserts, (unsigned long long)cnt->inserts);
    OREQ(st.num_updates == cnt->updates, "stats.num_updates %llu, expected %llu",
         (unsigned long long)st.num_updates, (unsigned long long)cnt->updates);
    OREQ(st.num_erases == cnt->erases, "stats.num_erases %llu, expected %llu",
         (unsigned long long)st.num_erases, (unsigned long long)cnt->erases);
    OREQ(bulk_count + cnt->inserts - cnt->erases == o->size, "driver bookkeeping");
    OREQ(st.max_depth <= AXI_MAX_DEPTH, "depth %u > AXI_MAX_DEPTH", st.max_depth);
    OREQ(o->size == 0 || st.num_data_nodes >= 1, "keys but no data node");
    OREQ(st.data_slots >= st.num_keys, "data_slots %llu < num_keys %llu",
         (unsigned long long)st.data_slots, (unsigned long long)st.num_keys);
}

/* Operation mix of one phase, in per-mille. */
typedef struct phase_mix {
    const char *name;
    unsigned share;                    /* of the case's operations, per-mille */
    unsigned upsert, erase_present, erase_any, find, lower, upper, floor_, iter;
} phase_mix;

static const phase_mix phases[] = {
    {"grow", 350, 550, 50, 50, 150, 70, 50, 50, 30},
    {"mixed", 250, 300, 150, 100, 200, 80, 70, 70, 30},
    {"shrink", 250, 80, 450, 70, 150, 80, 70, 70, 30},
    {"mixed2", 150, 300, 150, 100, 200, 80, 70, 70, 30},
};

/* A query key: from the distribution, a present key or its neighbour, an extreme, or uniform. */
static uint64_t query_key(keygen *g, const oracle *o, tu_rng *rng)
{
    uint64_t r = tu_rng_below(rng, 100), k;
    if (r < 40)
        return keygen_next(g);
    if (r < 80) {
        if (!orc_random_key(o, rng, &k))
            return keygen_next(g);
        return k + tu_rng_below(rng, 3) - 1; /* k-1, k, k+1 (wrapping at the ends) */
    }
    if (r < 90) {
        static const uint64_t ext[] = {0, 1, UINT64_MAX - 1, UINT64_MAX};
        return ext[tu_rng_below(rng, 4)];
    }
    return tu_rng_next(rng);
}

static void run_case(dist_kind kind, bool bulk_start, const char *test_name)
{
    uint64_t seed = tu_seed(test_name);
    tu_rng rng;
    tu_rng_init(&rng, seed);
    size_t total_ops = tu_scaled(OPS_PER_CASE, 5000);

    memset(&g_ctx, 0, sizeof g_ctx);
    g_ctx.dist = dist_names[kind];
    g_ctx.seed = seed;
    g_ctx.phase = "setup";
    g_ctx.op = "";

    keygen g;
    keygen_init(&g, kind, &rng, total_ops);
    oracle o;
    orc_init(&o);
    axi_tree *t = tu_new_tree();
    counters cnt = {0, 0, 0};
    uint64_t bulk_count = 0;

    if (bulk_start) {
        g_ctx.op = "bulk_load";
        size_t nb = tu_scaled(OPS_PER_CASE / 2, 2000);
        uint64_t *keys = tu_xmalloc(nb * sizeof *keys);
        uint64_t *vals = tu_xmalloc(nb * sizeof *vals);
        for (size_t i = 0; i < nb; i++)
            keys[i] = keygen_next(&g);
        nb = tu_sort_unique(keys, nb);
        for (size_t i = 0; i < nb; i++) {
            vals[i] = tu_payload_of(keys[i], seed);
            (void)orc_upsert(&o, keys[i], vals[i]);
        }
        int rc = axi_bulk_load(t, keys, vals, nb);
        OREQ(rc == AXI_OK, "axi_bulk_load(%zu keys) = %d (%s)", nb, rc, axi_strerror(rc));
        bulk_count = nb;
        free(keys);
        free(vals);
        compare_full(t, &o, &cnt, bulk_count);
    }

    size_t opno = 0;
    for (size_t ph = 0; ph < sizeof phases / sizeof phases[0]; ph++) {
        const phase_mix *m = &phases[ph];
        size_t nops = total_ops * m->share / 1000;
        g_ctx.phase = m->name;
        for (size_t j = 0; j < nops; j++, opno++) {
            g_ctx.opno = opno;
            unsigned r = (unsigned)tu_rng_below(&rng, 1000);
            uint64_t k, ov = 0, iv = 0;
            axi_cursor c;
            orc_pos p = {0, 0};

            if (r < m->upsert) {
                g_ctx.op = "upsert";
                k = keygen_next(&g);
                g_ctx.key = k;
                uint64_t v = tu_rng_next(&rng);
                bool ins = false;
                int rc = axi_upsert(t, k, v, &ins);
                OREQ(rc == AXI_OK, "axi_upsert returned %d (%s)", rc, axi_strerror(rc));
                bool oins = orc_upsert(&o, k, v);
                OREQ(ins == oins, "inserted=%d, oracle says %d", (int)ins, (int)oins);
                if (oins)
                    cnt.inserts++;
                else
                    cnt.updates++;
            } else if ((r -= m->upsert) < m->erase_present + m->erase_any) {
                g_ctx.op = "erase";
                if (r < m->erase_present) {
                    if (!orc_random_key(&o, &rng, &k))
                        k = keygen_next(&g);
                } else {
                    k = query_key(&g, &o, &rng);
                }
                g_ctx.key = k;
                iv = 0xABABABABull;
                bool ihit = axi_erase(t, k, &iv);
                bool ohit = orc_erase(&o, k, &ov);
                OREQ(ihit == ohit, "erase hit=%d, oracle %d", (int)ihit, (int)ohit);
                if (ohit) {
                    OREQ(iv == ov, "erase payload %llu, oracle %llu", (unsigned long long)iv,
                         (unsigned long long)ov);
                    cnt.erases++;
                }
            } else if ((r -= m->erase_present + m->erase_any) < m->find) {
                g_ctx.op = "find";
                k = query_key(&g, &o, &rng);
                g_ctx.key = k;
                bool ihit = axi_find(t, k, &iv);
                bool ohit = orc_find(&o, k, &ov);
                OREQ(ihit == ohit, "find hit=%d, oracle %d", (int)ihit, (int)ohit);
                OREQ(!ohit || iv == ov, "find payload %llu, oracle %llu", (unsigned long long)iv,
                     (unsigned long long)ov);
            } else if ((r -= m->find) < m->lower) {
                g_ctx.op = "lower_bound";
                k = query_key(&g, &o, &rng);
                g_ctx.key = k;
                bool iok = axi_lower_bound(t, k, &c);
                cmp_pos(&o, orc_lower_bound(&o, k, &p), p, iok, &c, "lower_bound");
            } else if ((r -= m->lower) < m->upper) {
                g_ctx.op = "upper_bound";
                k = query_key(&g, &o, &rng);
                g_ctx.key = k;
                bool iok = axi_upper_bound(t, k, &c);
                cmp_pos(&o, orc_upper_bound(&o, k, &p), p, iok, &c, "upper_bound");
            } else if ((r -= m->upper) < m->floor_) {
                g_ctx.op = "floor";
                k = query_key(&g, &o, &rng);
                g_ctx.key = k;
                bool iok = axi_floor(t, k, &c);
                cmp_pos(&o, orc_floor(&o, k, &p), p, iok, &c, "floor");
            } else {
                /* Walk forward N from lower_bound(k), then backward N from floor(k). */
                g_ctx.op = "iterate";
                k = query_key(&g, &o, &rng);
                g_ctx.key = k;
                unsigned steps = 1 + (unsigned)tu_rng_below(&rng, 64);
                bool iok = axi_lower_bound(t, k, &c);
                bool ook = orc_lower_bound(&o, k, &p);
                cmp_pos(&o, ook, p, iok, &c, "iterate: seek forward");
                for (unsigned s = 0; s < steps && ook; s++) {
                    iok = axi_next(&c);
                    ook = orc_next(&o, &p);
                    cmp_pos(&o, ook, p, iok, &c, "iterate: next");
                }
                iok = axi_floor(t, k, &c);
                ook = orc_floor(&o, k, &p);
                cmp_pos(&o, ook, p, iok, &c, "iterate: seek backward");
                for (unsigned s = 0; s < steps && ook; s++) {
                    iok = axi_prev(&c);
                    ook = orc_prev(&o, &p);
                    cmp_pos(&o, ook, p, iok, &c, "iterate: prev");
                }
            }
            OREQ(axi_size(t) == o.size, "axi_size %llu, oracle %zu",
                 (unsigned long long)axi_size(t), o.size);
            if ((opno + 1) % CHECK_EVERY == 0) {
                g_ctx.op = "periodic axi_check";
                check_tree(t);
            }
        }
        g_ctx.op = "phase-end comparison";
        compare_full(t, &o, &cnt, bulk_count);
    }

    axi_destroy(t);
    orc_free(&o);
}

#define CASES(X)                                                                                   \
    X(D_UNIFORM, uniform64)                                                                        \
    X(D_SMALL_RANGE, small_range)                                                                  \
    X(D_DENSE, dense)                                                                              \
    X(D_DENSE_2P63, dense_2p63)                                                                    \
    X(D_DENSE_TOP, dense_top)                                                                      \
    X(D_LOGNORMAL, lognormal)                                                                      \
    X(D_CLUSTERED, clustered)                                                                      \
    X(D_ASCENDING, ascending)                                                                      \
    X(D_DESCENDING, descending)                                                                    \
    X(D_EDGES, edges)

#define DEFINE_CASES(kind, name)                                                                   \
    static void test_oracle_##name##_from_empty(void **state)                                      \
    {                                                                                              \
        (void)state;                                                                               \
        run_case(kind, false, __func__);                                                           \
    }                                                                                              \
    static void test_oracle_##name##_from_bulk(void **state)                                       \
    {                                                                                              \
        (void)state;                                                                               \
        run_case(kind, true, __func__);                                                            \
    }
CASES(DEFINE_CASES)

int main(int argc, char **argv)
{
    /* Listed one per line: core/tests/CMakeLists.txt registers each line as a CTest test. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_uniform64_from_empty),
        cmocka_unit_test(test_oracle_uniform64_from_bulk),
        cmocka_unit_test(test_oracle_small_range_from_empty),
        cmocka_unit_test(test_oracle_small_range_from_bulk),
        cmocka_unit_test(test_oracle_dense_from_empty),
        cmocka_unit_test(test_oracle_dense_from_bulk),
        cmocka_unit_test(test_oracle_dense_2p63_from_empty),
        cmocka_unit_test(test_oracle_dense_2p63_from_bulk),
        cmocka_unit_test(test_oracle_dense_top_from_empty),
        cmocka_unit_test(test_oracle_dense_top_from_bulk),
        cmocka_unit_test(test_oracle_lognormal_from_empty),
        cmocka_unit_test(test_oracle_lognormal_from_bulk),
        cmocka_unit_test(test_oracle_clustered_from_empty),
        cmocka_unit_test(test_oracle_clustered_from_bulk),
        cmocka_unit_test(test_oracle_ascending_from_empty),
        cmocka_unit_test(test_oracle_ascending_from_bulk),
        cmocka_unit_test(test_oracle_descending_from_empty),
        cmocka_unit_test(test_oracle_descending_from_bulk),
        cmocka_unit_test(test_oracle_edges_from_empty),
        cmocka_unit_test(test_oracle_edges_from_bulk),
    };
    /* Optional argv[1]: a cmocka name filter (e.g. "*dense*") to run a subset. */
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
