/*
 * test_keyindex.c: tests of the byte-string key index (core/src/keyindex.h).
 *
 * The "log" is an in-memory arena of keys: a location is an index into its entry table and
 * key_at returns the key's bytes. The arena is reallocated as it grows, between kix calls, which
 * the contract allows (key_at pointers need only live until the next call into the kix).
 *
 * The model of the expected state is a sorted array of locations (bytewise key order, the
 * oracle) plus the root prefix the design prescribes: the first key of an empty kix sets it, a
 * key that does not start with it shrinks it to the common part (one rebuild each time), a bulk
 * load sets it to the common prefix of the first and last key, an emptied kix forgets it, and
 * after a delete, once there have been as many inserts and deletes as keys since the last
 * rebuild or check, it regrows to the common prefix of the first and last key. From the oracle
 * and that prefix the tests derive the root's groups (keys sharing an ALEX key): their number
 * is exact, a group of 2..KIX_LEVEL_MIN-1 keys must be a bucket, one above KIX_BUCKET_MAX a
 * nested level; kix_check verifies every level's invariants.
 *
 * Every put through put_both also checks that the kix does not ask key_at for the location
 * being put (it has the key's bytes), and that it keeps no pointer to the key passed in.
 *
 * Tests:
 *  - argument handling, locations up to KIX_LOC_MAX, the empty kix, the empty key, embedded
 *    zero bytes ("ab" < "ab\0" < "ab\0\0"), every short key over a tiny alphabet probed
 *    exhaustively;
 *  - collision buckets (keys differing only after the 8 indexed bytes), overwrite and delete
 *    semantics in plain entries and buckets, buckets dissolving;
 *  - prefix shrinking at various moments (long first key capped at KIX_MAX_PREFIX, a shorter
 *    key, a divergent key, the empty key arriving late, a shrink that creates a bucket), seeks
 *    outside the prefix, the prefix forgotten when the kix empties;
 *  - bulk load (collisions, argument errors);
 *  - db_bench-style and "user:profile:<id>" key sets at size;
 *  - nesting: 100K "user:profile:<id>" keys plus the empty key (first or last): one nested
 *    level, no bucket, and the prefix regrows once the stray key is gone; "tenant<t>/user/<id>"
 *    keys (a level per tenant, back to buckets when tenants shrink); long shared runs (one level
 *    per 264 bytes) and ladder keys ending inside them; an adversarial set that reaches
 *    KIX_MAX_DEPTH; short keys in front of nested levels and cursors across levels both ways;
 *    the bucket -> level -> bucket hysteresis; regrow at the root and in a nested level;
 *  - out-of-memory at every allocation of create, put (first key, new bucket, bucket growth,
 *    prefix rebuild, bucket -> level conversion at depth 1 and 2, a nested prefix shrink, a
 *    bucket inside a level) and bulk load, at every allocation of every put of a random
 *    sequence (malloc wrapped), and deletes with every allocation failing (levels that cannot
 *    collapse, down to a level of short keys only; a regrow that fails): the kix must be
 *    unchanged (or, for deletes, valid) and still usable;
 *  - a differential test against the oracle over long random operation sequences (put,
 *    overwrite, delete, get, seek, seek_for_prev, next/prev walks with direction changes, full
 *    scans) from eight key generators (two of them force nesting: 0-3 varying bytes + 20
 *    constant bytes + an id; a 300-byte run with ladder and stray keys), starting empty or
 *    bulk-loaded, in four phases (grow, mixed, shrink, mixed); a coin decides whether the kix is
 *    emptied after the shrink phase (the prefix resets). kix_check and the stats run every
 *    5,000 operations and at every phase end. OPS_PER_CASE operations per case, fourteen
 *    cases, at ALEXSTORAGE_TEST_SCALE=1.
 */
#include "test_util.h"

#include "keyindex.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEY 512
#define OPS_PER_CASE 200000 /* differential test: operations per case at scale 1.0 */
#define POOL_KEYS 4000      /* differential test: distinct keys most operations draw from */

/* ---- allocation failure injection (the binary is linked with --wrap=malloc etc.) ----------- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t nmemb, size_t size);
void *__real_realloc(void *ptr, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *ptr, size_t size);

static long fi_countdown = -1; /* allocations to let through before the failure; -1: off */
static bool fi_fired;
static bool fi_all; /* fail every allocation until disarmed */

static bool fi_fail_now(void)
{
    if (fi_all) {
        fi_fired = true;
        return true;
    }
    if (fi_countdown < 0)
        return false;
    if (fi_countdown-- == 0) {
        fi_fired = true;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t size)
{
    return fi_fail_now() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
    return fi_fail_now() ? NULL : __real_calloc(nmemb, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
    return fi_fail_now() ? NULL : __real_realloc(ptr, size);
}

/* Fails the n-th allocation from now (0: the next one), once. */
static void fi_arm(long n)
{
    fi_fired = false;
    fi_countdown = n;
}

/* Fails every allocation from now on, until fi_disarm. */
static void fi_arm_all(void)
{
    fi_fired = false;
    fi_all = true;
}

/* Turns injection off; returns whether a failure was injected. */
static bool fi_disarm(void)
{
    fi_countdown = -1;
    fi_all = false;
    return fi_fired;
}

/* ---- keys ---------------------------------------------------------------------------------- */

static int tk_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    for (size_t i = 0; i < m; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return (al > bl) - (al < bl);
}

static size_t tk_common(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t i = 0;
    while (i < al && i < bl && a[i] == b[i])
        i++;
    return i;
}

/* The ALEX key as the design defines it, written independently of keyindex.c. */
static uint64_t tk_akey(const uint8_t *k, size_t l, size_t plen)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = (v << 8) | (plen + i < l ? k[plen + i] : 0);
    return v;
}

/* Printable form of a key for failure messages (four rotating buffers). */
static const char *tk_str(const uint8_t *k, size_t l)
{
    static char buf[4][256];
    static int r;
    char *s = buf[r++ & 3];
    size_t o = 0;
    o += (size_t)snprintf(s + o, 256 - o, "[%zu]\"", l);
    for (size_t i = 0; i < l && o < 200; i++) {
        if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '"' && k[i] != '\\')
            s[o++] = (char)k[i];
        else
            o += (size_t)snprintf(s + o, 256 - o, "\\x%02x", k[i]);
    }
    snprintf(s + o, 256 - o, "%s\"", o >= 200 ? "..." : "");
    return s;
}

/* ---- the log: an arena of keys ------------------------------------------------------------- */

typedef struct tlog_ent {
    size_t off, len;
} tlog_ent;

typedef struct tlog {
    uint8_t *bytes;
    size_t used, cap;
    tlog_ent *ent;
    size_t n, ecap;
    uint64_t pending; /* location being put: key_at must not be asked for it (UINT64_MAX: none) */
} tlog;

static void tlog_init(tlog *lg)
{
    memset(lg, 0, sizeof *lg);
    lg->cap = 4096;
    lg->bytes = tu_xmalloc(lg->cap);
    lg->ecap = 1024;
    lg->ent = tu_xmalloc(lg->ecap * sizeof *lg->ent);
    lg->pending = UINT64_MAX;
}

static void tlog_free(tlog *lg)
{
    free(lg->bytes);
    free(lg->ent);
    memset(lg, 0, sizeof *lg);
}

static uint64_t tlog_add(tlog *lg, const void *key, size_t len)
{
    if (lg->used + len > lg->cap) {
        while (lg->used + len > lg->cap)
            lg->cap *= 2;
        lg->bytes = realloc(lg->bytes, lg->cap);
        TU_REQUIRE(lg->bytes != NULL, "out of memory");
    }
    if (lg->n == lg->ecap) {
        lg->ecap *= 2;
        lg->ent = realloc(lg->ent, lg->ecap * sizeof *lg->ent);
        TU_REQUIRE(lg->ent != NULL, "out of memory");
    }
    if (len)
        memcpy(lg->bytes + lg->used, key, len);
    lg->ent[lg->n].off = lg->used;
    lg->ent[lg->n].len = len;
    lg->used += len;
    return lg->n++;
}

static const uint8_t *tlog_key(const tlog *lg, uint64_t loc, size_t *len)
{
    TU_REQUIRE(loc < lg->n, "key_at(%" PRIu64 ") past the log (%zu entries)", loc, lg->n);
    *len = lg->ent[loc].len;
    return lg->bytes + lg->ent[loc].off;
}

static const uint8_t *tlog_key_at(void *ctx, uint64_t loc, size_t *len)
{
    const tlog *lg = ctx;
    TU_REQUIRE(loc != lg->pending, "kix_put asked key_at for the location it is putting");
    return tlog_key(lg, loc, len);
}

/* ---- the model: oracle + expected prefix ---------------------------------------------------- */

typedef struct model {
    const tlog *lg;
    uint64_t *loc; /* sorted by key */
    size_t n, cap;
    bool has_prefix;
    size_t plen;
    uint8_t prefix[KIX_MAX_PREFIX];
    uint64_t rebuilds;
    /* Regrow of the root prefix: inserts and deletes since the last rebuild or check, whether a
     * delete happened since, regrows done; and the last operation's regrow, if it did one (a
     * failed allocation may have skipped it: model_sync_regrow). */
    uint64_t mods;
    bool dirty;
    uint64_t regrows;
    bool last_regrew;
    size_t regrew_from;
} model;

static void model_init(model *m, const tlog *lg)
{
    memset(m, 0, sizeof *m);
    m->lg = lg;
    m->cap = 1024;
    m->loc = tu_xmalloc(m->cap * sizeof *m->loc);
}

static void model_free(model *m)
{
    free(m->loc);
    memset(m, 0, sizeof *m);
}

static const uint8_t *model_key(const model *m, size_t i, size_t *len)
{
    return tlog_key(m->lg, m->loc[i], len);
}

/* First index whose key is >= k; *eq if equal. */
static size_t model_lower(const model *m, const uint8_t *k, size_t kl, bool *eq)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t l;
        const uint8_t *s = model_key(m, mid, &l);
        if (tk_cmp(s, l, k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *eq = false;
    if (lo < m->n) {
        size_t l;
        const uint8_t *s = model_key(m, lo, &l);
        *eq = tk_cmp(s, l, k, kl) == 0;
    }
    return lo;
}

/* The regrow rule of the design, after an insert or delete that left keys: once a delete has
 * happened and there have been as many inserts and deletes as keys, the prefix becomes the
 * common prefix of the first and the last key (capped) if that is longer. */
static void model_regrow_check(model *m)
{
    m->last_regrew = false;
    if (!m->dirty || m->mods < m->n)
        return;
    m->mods = 0;
    size_t fl, ll;
    const uint8_t *f = model_key(m, 0, &fl), *l = model_key(m, m->n - 1, &ll);
    size_t c = tk_common(f, fl, l, ll);
    if (c > KIX_MAX_PREFIX)
        c = KIX_MAX_PREFIX;
    m->dirty = false;
    if (c <= m->plen)
        return;
    m->last_regrew = true;
    m->regrew_from = m->plen;
    m->plen = c;
    memcpy(m->prefix, f, c);
    m->regrows++;
}

/* After an operation during which an allocation failed but that succeeded: the regrow it was
 * due to do may have been skipped (the kix then keeps its prefix and stays dirty). */
static void model_sync_regrow(model *m, const kix *ix)
{
    kix_stats st;
    kix_get_stats(ix, &st);
    if (m->last_regrew && st.prefix_regrows + 1 == m->regrows) {
        m->plen = m->regrew_from;
        m->regrows--;
        m->dirty = true;
    }
    m->last_regrew = false;
}

/* Applies a put of k (stored at loc) to the model; returns whether it replaced and the old
 * location. */
static bool model_put(model *m, const uint8_t *k, size_t kl, uint64_t loc, uint64_t *old)
{
    bool eq;
    size_t i = model_lower(m, k, kl, &eq);
    m->last_regrew = false;
    if (eq) {
        *old = m->loc[i];
        m->loc[i] = loc;
        return true;
    }
    bool first = !m->has_prefix;
    if (!m->has_prefix) {
        m->plen = kl < KIX_MAX_PREFIX ? kl : KIX_MAX_PREFIX;
        memcpy(m->prefix, k, m->plen);
        m->has_prefix = true;
        m->mods = 0;
        m->dirty = false;
    } else {
        size_t c = tk_common(k, kl, m->prefix, m->plen);
        if (c < m->plen) {
            m->plen = c;
            m->rebuilds++;
            m->mods = 0;
            m->dirty = false;
        }
    }
    if (m->n == m->cap) {
        m->cap *= 2;
        m->loc = realloc(m->loc, m->cap * sizeof *m->loc);
        TU_REQUIRE(m->loc != NULL, "out of memory");
    }
    memmove(m->loc + i + 1, m->loc + i, (m->n - i) * sizeof *m->loc);
    m->loc[i] = loc;
    m->n++;
    if (!first) {
        m->mods++;
        model_regrow_check(m);
    }
    return false;
}

static bool model_delete(model *m, const uint8_t *k, size_t kl, uint64_t *old)
{
    bool eq;
    size_t i = model_lower(m, k, kl, &eq);
    if (!eq)
        return false;
    *old = m->loc[i];
    memmove(m->loc + i, m->loc + i + 1, (m->n - i - 1) * sizeof *m->loc);
    m->n--;
    m->last_regrew = false;
    if (m->n == 0) {
        m->has_prefix = false;
        m->plen = 0;
        m->mods = 0;
        m->dirty = false;
    } else {
        m->mods++;
        m->dirty = true;
        model_regrow_check(m);
    }
    return true;
}

/* The model after a bulk load of its current contents. */
static void model_after_bulk(model *m)
{
    if (m->n == 0)
        return;
    size_t fl, ll;
    const uint8_t *f = model_key(m, 0, &fl), *l = model_key(m, m->n - 1, &ll);
    size_t c = tk_common(f, fl, l, ll);
    m->plen = c < KIX_MAX_PREFIX ? c : KIX_MAX_PREFIX;
    memcpy(m->prefix, f, m->plen);
    m->has_prefix = true;
    m->mods = 0;
    m->dirty = false;
}

/* ---- kix helpers ----------------------------------------------------------------------------- */

static kix *new_kix(tlog *lg)
{
    kix *ix = NULL;
    int rc = kix_create(tlog_key_at, lg, &ix);
    TU_REQUIRE(rc == AXI_OK && ix != NULL, "kix_create: %d", rc);
    return ix;
}

static void check_kix(const kix *ix)
{
    char msg[512] = "";
    int rc = kix_check(ix, msg, sizeof msg);
    TU_REQUIRE(rc == 0, "kix_check: %s", msg);
}

/* Puts k at a fresh log location, in the kix and the model, and compares the outcome. */
static void put_both(tlog *lg, kix *ix, model *m, const uint8_t *k, size_t kl)
{
    uint8_t scratch[MAX_KEY];
    TU_REQUIRE(kl <= MAX_KEY, "key too long");
    uint64_t loc = tlog_add(lg, k, kl);
    uint64_t old = 0, mold = 0;
    bool rep = true;
    if (kl)
        memcpy(scratch, k, kl);
    lg->pending = loc;
    int rc = kix_put(ix, scratch, kl, loc, &old, &rep);
    lg->pending = UINT64_MAX;
    memset(scratch, 0xA5, sizeof scratch); /* the kix must not have kept the key pointer */
    TU_REQUIRE(rc == AXI_OK, "kix_put(%s): %d", tk_str(k, kl), rc);
    bool mrep = model_put(m, k, kl, loc, &mold);
    TU_REQUIRE(rep == mrep, "kix_put(%s): replaced=%d, expected %d", tk_str(k, kl), (int)rep,
               (int)mrep);
    if (mrep)
        TU_REQUIRE(old == mold, "kix_put(%s): old location %" PRIu64 ", expected %" PRIu64,
                   tk_str(k, kl), old, mold);
}

static void put_str(tlog *lg, kix *ix, model *m, const char *s)
{
    put_both(lg, ix, m, (const uint8_t *)s, strlen(s));
}

static void delete_both(kix *ix, model *m, const uint8_t *k, size_t kl)
{
    uint64_t old = UINT64_MAX, mold = 0;
    bool hit = kix_delete(ix, k, kl, &old);
    bool mhit = model_delete(m, k, kl, &mold);
    TU_REQUIRE(hit == mhit, "kix_delete(%s) = %d, expected %d", tk_str(k, kl), (int)hit,
               (int)mhit);
    if (mhit)
        TU_REQUIRE(old == mold, "kix_delete(%s): old location %" PRIu64 ", expected %" PRIu64,
                   tk_str(k, kl), old, mold);
}

/* Checks get, seek and seek_for_prev of k against the model. */
static void expect_probe(const kix *ix, const model *m, const uint8_t *k, size_t kl)
{
    bool eq;
    size_t i = model_lower(m, k, kl, &eq);
    uint64_t loc = UINT64_MAX;
    bool hit = kix_get(ix, k, kl, &loc);
    TU_REQUIRE(hit == eq, "kix_get(%s) = %d, expected %d", tk_str(k, kl), (int)hit, (int)eq);
    if (eq)
        TU_REQUIRE(loc == m->loc[i], "kix_get(%s) location %" PRIu64 ", expected %" PRIu64,
                   tk_str(k, kl), loc, m->loc[i]);
    TU_REQUIRE(kix_get(ix, k, kl, NULL) == eq, "kix_get(%s, NULL) disagrees", tk_str(k, kl));

    kix_cursor c;
    bool ok = kix_seek(ix, k, kl, &c);
    TU_REQUIRE(ok == (i < m->n), "kix_seek(%s) = %d, expected %d", tk_str(k, kl), (int)ok,
               (int)(i < m->n));
    if (ok) {
        size_t l1, l2;
        const uint8_t *got = tlog_key(m->lg, kix_cursor_loc(ix, &c), &l1);
        const uint8_t *want = model_key(m, i, &l2);
        TU_REQUIRE(kix_cursor_loc(ix, &c) == m->loc[i], "kix_seek(%s) at %s, expected %s",
                   tk_str(k, kl), tk_str(got, l1), tk_str(want, l2));
    } else {
        TU_REQUIRE(c.depth == 0 && kix_cursor_loc(ix, &c) == UINT64_MAX,
                   "kix_seek(%s) failed but left a position", tk_str(k, kl));
    }
    bool has_prev = eq || i > 0;
    size_t j = eq ? i : i - 1;
    ok = kix_seek_for_prev(ix, k, kl, &c);
    TU_REQUIRE(ok == has_prev, "kix_seek_for_prev(%s) = %d, expected %d", tk_str(k, kl), (int)ok,
               (int)has_prev);
    if (ok) {
        size_t l1, l2;
        const uint8_t *got = tlog_key(m->lg, kix_cursor_loc(ix, &c), &l1);
        const uint8_t *want = model_key(m, j, &l2);
        TU_REQUIRE(kix_cursor_loc(ix, &c) == m->loc[j], "kix_seek_for_prev(%s) at %s, expected %s",
                   tk_str(k, kl), tk_str(got, l1), tk_str(want, l2));
    } else {
        TU_REQUIRE(c.depth == 0 && kix_cursor_loc(ix, &c) == UINT64_MAX,
                   "kix_seek_for_prev(%s) failed but left a position",
                   tk_str(k, kl));
    }
}

static void expect_probe_str(const kix *ix, const model *m, const char *s, size_t len)
{
    expect_probe(ix, m, (const uint8_t *)s, len);
}

/* Full scans in both directions, count, kix_check. */
static void expect_contents(const kix *ix, const model *m)
{
    TU_REQUIRE(kix_count(ix) == m->n, "kix_count %" PRIu64 ", expected %zu", kix_count(ix), m->n);
    kix_cursor c;
    bool ok = kix_first(ix, &c);
    for (size_t i = 0; i < m->n; i++) {
        TU_REQUIRE(ok, "forward scan ended at %zu of %zu", i, m->n);
        TU_REQUIRE(kix_cursor_loc(ix, &c) == m->loc[i], "forward scan: position %zu differs", i);
        ok = kix_next(ix, &c);
    }
    TU_REQUIRE(!ok && c.depth == 0, "forward scan runs past %zu keys", m->n);
    TU_REQUIRE(!kix_next(ix, &c), "kix_next on an ended cursor");
    ok = kix_last(ix, &c);
    for (size_t i = m->n; i-- > 0;) {
        TU_REQUIRE(ok, "backward scan ended at %zu", i);
        TU_REQUIRE(kix_cursor_loc(ix, &c) == m->loc[i], "backward scan: position %zu differs", i);
        ok = kix_prev(ix, &c);
    }
    TU_REQUIRE(!ok && c.depth == 0, "backward scan runs past %zu keys", m->n);
    TU_REQUIRE(!kix_prev(ix, &c) && kix_cursor_loc(ix, &c) == UINT64_MAX,
               "kix_prev on an ended cursor");
    check_kix(ix);
}

/* expect_contents, plus the stats against the model. */
static void expect_all(const kix *ix, const model *m)
{
    expect_contents(ix, m);

    /* Structure under the expected prefix: the root's groups (keys sharing an ALEX key) are
     * exact; a group of 2..KIX_LEVEL_MIN-1 keys must be a bucket, one of more than
     * KIX_BUCKET_MAX keys a nested level, one in between may be either (hysteresis). */
    uint64_t groups = 0, small = 0, small_keys = 0, mid = 0, mid_keys = 0, big = 0, big_keys = 0;
    for (size_t i = 0; i < m->n;) {
        size_t l;
        const uint8_t *k = model_key(m, i, &l);
        uint64_t ak = tk_akey(k, l, m->plen);
        size_t j = i + 1;
        while (j < m->n) {
            size_t l2;
            const uint8_t *k2 = model_key(m, j, &l2);
            if (tk_akey(k2, l2, m->plen) != ak)
                break;
            j++;
        }
        size_t g = j - i;
        groups++;
        if (g >= 2 && g < KIX_LEVEL_MIN) {
            small++;
            small_keys += g;
        } else if (g >= KIX_LEVEL_MIN && g <= KIX_BUCKET_MAX) {
            mid++;
            mid_keys += g;
        } else if (g > KIX_BUCKET_MAX) {
            big++;
            big_keys += g;
        }
        i = j;
    }
    kix_stats st;
    kix_get_stats(ix, &st);
    TU_REQUIRE(st.prefix_len == m->plen, "prefix_len %" PRIu64 ", expected %zu", st.prefix_len,
               m->plen);
    TU_REQUIRE(st.prefix_rebuilds == m->rebuilds, "prefix_rebuilds %" PRIu64 ", expected %" PRIu64,
               st.prefix_rebuilds, m->rebuilds);
    TU_REQUIRE(st.prefix_regrows == m->regrows, "prefix_regrows %" PRIu64 ", expected %" PRIu64,
               st.prefix_regrows, m->regrows);
    TU_REQUIRE(st.alex.num_keys == groups, "ALEX holds %" PRIu64 " keys, expected %" PRIu64,
               st.alex.num_keys, groups);
    if (mid == 0 && big == 0) {
        TU_REQUIRE(st.levels == 0 && st.buckets == small && st.bucket_keys == small_keys,
                   "%" PRIu64 " levels, %" PRIu64 " buckets holding %" PRIu64 ", expected none, %"
                   PRIu64 " holding %" PRIu64, st.levels, st.buckets, st.bucket_keys, small,
                   small_keys);
    } else {
        TU_REQUIRE(st.levels >= big && st.buckets >= small &&
                       st.level_keys >= big_keys && st.level_keys <= big_keys + mid_keys,
                   "%" PRIu64 " levels holding %" PRIu64 ", %" PRIu64 " buckets; root groups: %"
                   PRIu64 " big (%" PRIu64 " keys), %" PRIu64 " mid (%" PRIu64 "), %" PRIu64
                   " small", st.levels, st.level_keys, st.buckets, big, big_keys, mid, mid_keys,
                   small);
    }
    TU_REQUIRE((st.levels == 0) == (st.max_depth == 0), "levels %" PRIu64 ", max depth %" PRIu64,
               st.levels, st.max_depth);
    if (st.max_depth + 1 < KIX_MAX_DEPTH)
        TU_REQUIRE(st.max_bucket <= KIX_BUCKET_MAX, "a bucket of %" PRIu64 " keys",
                   st.max_bucket);
    TU_REQUIRE((st.buckets == 0) == (st.max_bucket == 0) &&
                   st.bucket_keys >= st.buckets * 2 && st.bucket_keys <= m->n,
               "bucket figures: %" PRIu64 " buckets, %" PRIu64 " keys, largest %" PRIu64,
               st.buckets, st.bucket_keys, st.max_bucket);
    TU_REQUIRE(st.memory_bytes > st.alex.memory_bytes + st.bucket_keys * 8,
               "memory_bytes %" PRIu64 " does not cover ALEX (%" PRIu64 ") and the buckets",
               st.memory_bytes, st.alex.memory_bytes);
    check_kix(ix);
}

/* Bulk-loads the model's current contents into an empty kix. */
static void bulk_both(kix *ix, model *m)
{
    int rc = kix_bulk_load(ix, m->loc, m->n);
    TU_REQUIRE(rc == AXI_OK, "kix_bulk_load(%zu): %d", m->n, rc);
    model_after_bulk(m);
}

/* Adds k to the log and the oracle only (to be bulk-loaded later): the expected prefix is
 * left alone until bulk_both. */
static void model_add_only(tlog *lg, model *m, const uint8_t *k, size_t kl)
{
    uint64_t old, rebuilds = m->rebuilds, regrows = m->regrows;
    model_put(m, k, kl, tlog_add(lg, k, kl), &old);
    m->rebuilds = rebuilds;
    m->regrows = regrows;
}

/* ---- unit tests ---------------------------------------------------------------------------- */

static void test_create_args(void **state)
{
    (void)state;
    kix *ix = (kix *)1;
    TU_REQUIRE(kix_create(NULL, NULL, &ix) == AXI_EINVAL && ix == NULL, "NULL key_at accepted");
    TU_REQUIRE(kix_create(tlog_key_at, NULL, NULL) == AXI_EINVAL, "NULL out accepted");
    kix_destroy(NULL);
    TU_REQUIRE(kix_count(NULL) == 0, "kix_count(NULL)");

    tlog lg;
    tlog_init(&lg);
    ix = new_kix(&lg);
    uint64_t loc = tlog_add(&lg, "k", 1);
    TU_REQUIRE(kix_put(ix, "k", 1, KIX_LOC_MAX + 1, NULL, NULL) == AXI_EINVAL,
               "location above KIX_LOC_MAX accepted");
    TU_REQUIRE(kix_count(ix) == 0, "a rejected put changed the count");
    TU_REQUIRE(kix_put(ix, NULL, 3, loc, NULL, NULL) == AXI_EINVAL, "NULL key with length");
    TU_REQUIRE(kix_put(ix, "k", 1, loc, NULL, NULL) == AXI_OK, "put with NULL out-params");
    TU_REQUIRE(kix_delete(ix, "k", 1, NULL) && !kix_delete(ix, "k", 1, NULL), "delete NULL out");
    kix_cursor c;
    memset(&c, 0, sizeof c);
    TU_REQUIRE(!kix_next(ix, &c) && !kix_prev(ix, &c), "stepping an invalid cursor");
    TU_REQUIRE(kix_cursor_loc(ix, &c) == UINT64_MAX, "location of an invalid cursor");
    check_kix(ix);
    kix_destroy(ix);
    tlog_free(&lg);
}

/* Locations up to KIX_LOC_MAX, plain and in buckets: key_at maps location KIX_LOC_MAX - i to
 * log entry i. */
static const uint8_t *high_key_at(void *ctx, uint64_t loc, size_t *len)
{
    TU_REQUIRE(loc <= KIX_LOC_MAX, "key_at(%" PRIu64 "): not a location", loc);
    return tlog_key(ctx, KIX_LOC_MAX - loc, len);
}

static void test_large_locations(void **state)
{
    (void)state;
    static const char *keys[] = {"a", "b", "b\0", "b\0\0", "c0000000x", "c0000000y", "d"};
    static const size_t lens[] = {1, 1, 2, 3, 9, 9, 1};
    tlog lg;
    tlog_init(&lg);
    kix *ix = NULL;
    TU_REQUIRE(kix_create(high_key_at, &lg, &ix) == AXI_OK, "kix_create");
    for (size_t i = 0; i < 7; i++) {
        uint64_t loc = KIX_LOC_MAX - tlog_add(&lg, keys[i], lens[i]);
        TU_REQUIRE(kix_put(ix, keys[i], lens[i], loc, NULL, NULL) == AXI_OK, "put %zu", i);
    }
    check_kix(ix);
    kix_cursor c;
    size_t i = 0;
    for (bool ok = kix_first(ix, &c); ok; ok = kix_next(ix, &c), i++)
        TU_REQUIRE(kix_cursor_loc(ix, &c) == KIX_LOC_MAX - i, "scan position %zu", i);
    TU_REQUIRE(i == 7, "scan saw %zu keys", i);
    for (i = 0; i < 7; i++) {
        uint64_t loc = 0;
        TU_REQUIRE(kix_get(ix, keys[i], lens[i], &loc) && loc == KIX_LOC_MAX - i, "get %zu", i);
    }
    uint64_t old = 0;
    bool rep = false;
    uint64_t again = KIX_LOC_MAX - tlog_add(&lg, "b\0", 2);
    TU_REQUIRE(kix_put(ix, "b\0", 2, again, &old, &rep) == AXI_OK && rep && old == KIX_LOC_MAX - 2,
               "overwrite in a bucket");
    TU_REQUIRE(kix_delete(ix, "a", 1, &old) && old == KIX_LOC_MAX, "delete KIX_LOC_MAX");
    check_kix(ix);
    kix_destroy(ix);
    tlog_free(&lg);
}

static void test_empty_kix(void **state)
{
    (void)state;
    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);
    expect_all(ix, &m);
    expect_probe_str(ix, &m, "", 0);
    expect_probe_str(ix, &m, "a", 1);
    expect_probe_str(ix, &m, "\0\0\0\0\0\0\0\0\0", 9);
    kix_cursor c;
    TU_REQUIRE(!kix_first(ix, &c) && !kix_last(ix, &c), "first/last on an empty kix");
    TU_REQUIRE(!kix_delete(ix, "", 0, NULL) && !kix_delete(ix, "x", 1, NULL), "delete on empty");
    kix_stats st;
    kix_get_stats(ix, &st);
    TU_REQUIRE(st.prefix_len == 0 && st.buckets == 0 && st.memory_bytes > 0, "empty stats");
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
}

static void test_empty_key(void **state)
{
    (void)state;
    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);

    /* The empty key alone: prefix 0, ALEX key 0. */
    put_str(&lg, ix, &m, "");
    expect_all(ix, &m);
    expect_probe_str(ix, &m, "", 0);
    expect_probe_str(ix, &m, "\0", 1);
    put_str(&lg, ix, &m, ""); /* overwrite */
    put_str(&lg, ix, &m, "\0");
    put_str(&lg, ix, &m, "a");
    put_str(&lg, ix, &m, "\0\0\0\0\0\0\0\0"); /* 8 zeros: same ALEX key as "" */
    expect_all(ix, &m);
    static const char *probes[] = {"", "\0", "\0\0", "\0\0\0\0\0\0\0\0", "\0\0\0\0\0\0\0\0\0",
                                   "\x01", "a", "a\0", "b"};
    static const size_t plens[] = {0, 1, 2, 8, 9, 1, 1, 2, 1};
    for (size_t i = 0; i < sizeof plens / sizeof *plens; i++)
        expect_probe_str(ix, &m, probes[i], plens[i]);
    delete_both(ix, &m, (const uint8_t *)"", 0);
    expect_all(ix, &m);
    for (size_t i = 0; i < sizeof plens / sizeof *plens; i++)
        expect_probe_str(ix, &m, probes[i], plens[i]);
    kix_destroy(ix);
    model_free(&m);

    /* The empty key arriving late, after long shared-prefix keys. */
    model_init(&m, &lg);
    ix = new_kix(&lg);
    char buf[64];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(buf, sizeof buf, "user:profile:%d", i * 7);
        put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)n);
    }
    expect_all(ix, &m);
    expect_probe_str(ix, &m, "", 0); /* before the prefix: seek lands on the first key */
    put_str(&lg, ix, &m, "");
    expect_all(ix, &m);
    TU_REQUIRE(m.plen == 0, "model prefix after the empty key");
    for (int i = 0; i < 300; i += 13) {
        int n = snprintf(buf, sizeof buf, "user:profile:%d", i);
        expect_probe_str(ix, &m, buf, (size_t)n);
    }
    expect_probe_str(ix, &m, "", 0);
    delete_both(ix, &m, (const uint8_t *)"", 0);
    expect_all(ix, &m);
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
}

/* "ab" < "ab\0" < "ab\0\0" ... all distinct, most with the same ALEX key. */
static void test_embedded_zeros(void **state)
{
    (void)state;
    static const char *keys[] = {"ab", "ab\0", "ab\0\0", "ab\0\x01", "ab\x01", "a", "abc",
                                 "ab\0\0\0\0\0\0\0\0", "ab\0\0\0\0\0\0\0", "aa\xff"};
    static const size_t lens[] = {2, 3, 4, 4, 3, 1, 3, 10, 9, 3};
    enum { NK = sizeof lens / sizeof *lens };
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(__func__));
    tlog lg;
    tlog_init(&lg);
    for (int round = 0; round < 30; round++) {
        size_t order[NK];
        for (size_t i = 0; i < NK; i++)
            order[i] = i;
        for (size_t i = NK; i > 1; i--) {
            size_t j = (size_t)tu_rng_below(&rng, i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        model m;
        model_init(&m, &lg);
        kix *ix = new_kix(&lg);
        for (size_t i = 0; i < NK; i++) {
            put_both(&lg, ix, &m, (const uint8_t *)keys[order[i]], lens[order[i]]);
            expect_all(ix, &m);
        }
        /* The prefix is "a"; "ab", "ab\0", "ab\0\0", "ab\0" x8 and "ab\0" x7 share ALEX key
         * "b\0\0\0\0\0\0\0". */
        kix_stats st;
        kix_get_stats(ix, &st);
        TU_REQUIRE(st.prefix_len == 1 && st.buckets == 1 && st.bucket_keys == 5,
                   "prefix %" PRIu64 ", %" PRIu64 " buckets with %" PRIu64 " keys",
                   st.prefix_len, st.buckets, st.bucket_keys);
        uint8_t probe[12];
        for (size_t i = 0; i < NK; i++) {
            expect_probe(ix, &m, (const uint8_t *)keys[i], lens[i]);
            memcpy(probe, keys[i], lens[i]);
            for (uint8_t b = 0; b < 3; b++) { /* keys just after: appended 0, 1, 2 */
                probe[lens[i]] = b;
                expect_probe(ix, &m, probe, lens[i] + 1);
            }
            if (lens[i]) { /* and just before: truncated */
                expect_probe(ix, &m, probe, lens[i] - 1);
            }
        }
        expect_probe_str(ix, &m, "", 0);
        expect_probe_str(ix, &m, "b", 1);
        expect_probe_str(ix, &m, "ab\0\0\0\0\0\0\0\0\0\0", 12);
        /* Delete the bucket down to one key, in random order: it turns back into a location. */
        size_t zeros[] = {0, 1, 2, 7, 8};
        for (size_t i = 5; i > 1; i--) {
            size_t j = (size_t)tu_rng_below(&rng, i), t = zeros[i - 1];
            zeros[i - 1] = zeros[j];
            zeros[j] = t;
        }
        for (size_t i = 0; i < 4; i++) {
            delete_both(ix, &m, (const uint8_t *)keys[zeros[i]], lens[zeros[i]]);
            delete_both(ix, &m, (const uint8_t *)keys[zeros[i]], lens[zeros[i]]); /* again */
            expect_all(ix, &m);
            for (size_t k = 0; k < NK; k++)
                expect_probe(ix, &m, (const uint8_t *)keys[k], lens[k]);
        }
        kix_get_stats(ix, &st);
        TU_REQUIRE(st.buckets == 0 && st.bucket_keys == 0, "bucket of one not dissolved");
        kix_destroy(ix);
        model_free(&m);
    }
    tlog_free(&lg);
}

/* Every key of length 0..3 over {00, 01, ff}, in random order, probed with every key of length
 * 0..4 over {00, 01, 02, fe, ff}; then half deleted and probed again. */
static void test_short_keys_exhaustive(void **state)
{
    (void)state;
    static const uint8_t alpha_in[] = {0x00, 0x01, 0xff};
    static const uint8_t alpha_probe[] = {0x00, 0x01, 0x02, 0xfe, 0xff};
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(__func__));
    tlog lg;
    tlog_init(&lg);
    for (int round = 0; round < 4; round++) {
        model m;
        model_init(&m, &lg);
        kix *ix = new_kix(&lg);
        uint8_t keys[40][3];
        size_t lens[40], nk = 0;
        for (size_t len = 0; len <= 3; len++) {
            size_t count = 1;
            for (size_t i = 0; i < len; i++)
                count *= 3;
            for (size_t x = 0; x < count; x++) {
                size_t y = x;
                for (size_t i = 0; i < len; i++, y /= 3)
                    keys[nk][len - 1 - i] = alpha_in[y % 3];
                lens[nk++] = len;
            }
        }
        size_t order[40];
        for (size_t i = 0; i < nk; i++)
            order[i] = i;
        for (size_t i = nk; i > 1; i--) {
            size_t j = (size_t)tu_rng_below(&rng, i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        /* Round 1 starts from a long key so the prefix shrinks late; round 2 bulk-loads. */
        if (round == 1)
            put_str(&lg, ix, &m, "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01");
        if (round == 2) {
            for (size_t i = 0; i < nk; i++)
                model_add_only(&lg, &m, keys[i], lens[i]);
            bulk_both(ix, &m);
        } else {
            for (size_t i = 0; i < nk; i++)
                put_both(&lg, ix, &m, keys[order[i]], lens[order[i]]);
        }
        expect_all(ix, &m);
        for (int pass = 0; pass < 2; pass++) {
            uint8_t probe[4];
            for (size_t len = 0; len <= 4; len++) {
                size_t count = 1;
                for (size_t i = 0; i < len; i++)
                    count *= 5;
                for (size_t x = 0; x < count; x++) {
                    size_t y = x;
                    for (size_t i = 0; i < len; i++, y /= 5)
                        probe[len - 1 - i] = alpha_probe[y % 5];
                    expect_probe(ix, &m, probe, len);
                }
            }
            for (size_t i = 0; i < nk; i += 2)
                delete_both(ix, &m, keys[order[i]], lens[order[i]]);
            expect_all(ix, &m);
        }
        kix_destroy(ix);
        model_free(&m);
    }
    tlog_free(&lg);
}

/* Keys that differ only after the 8 indexed bytes: "a12345678<suffix>" and "b12345678<...>". */
static void test_collisions_after_byte8(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(__func__));
    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);
    char buf[64];
    enum { NSUF = 600 };
    uint64_t ids[NSUF];
    for (uint64_t i = 0; i < NSUF; i++)
        ids[i] = i;
    tu_shuffle(&rng, ids, NSUF);
    for (size_t i = 0; i < NSUF; i++) {
        for (char x = 'a'; x <= 'b'; x++) {
            int n = snprintf(buf, sizeof buf, "%c1234567%s%" PRIu64, x, ids[i] % 3 ? "8" : "",
                             ids[i]);
            put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)n);
        }
    }
    put_str(&lg, ix, &m, "a1234567");
    put_str(&lg, ix, &m, "a12345678");
    put_str(&lg, ix, &m, "b1234567\0");
    expect_all(ix, &m);
    kix_stats st;
    kix_get_stats(ix, &st);
    TU_REQUIRE(st.prefix_len == 0 && st.levels == 2 && st.alex.num_keys == 2 &&
                   st.max_depth == 1 && st.level_keys == m.n,
               "expected two nested levels, got %" PRIu64 " (prefix %" PRIu64 ")", st.levels,
               st.prefix_len);
    /* Probes between bucket members and at the bucket edges. */
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(buf, sizeof buf, "%c1234567%s%" PRIu64, (int)('a' + tu_rng_below(&rng, 3)),
                         tu_rng_below(&rng, 2) ? "8" : "", tu_rng_below(&rng, 2 * NSUF));
        if (tu_rng_below(&rng, 4) == 0)
            n -= (int)tu_rng_below(&rng, (uint64_t)n + 1);
        expect_probe_str(ix, &m, buf, (size_t)n);
    }
    expect_probe_str(ix, &m, "a1234567", 8);
    expect_probe_str(ix, &m, "a12345670", 9);
    expect_probe_str(ix, &m, "a1234567\xff", 9);
    expect_probe_str(ix, &m, "b1234567\0\0", 10);
    /* Overwrites inside a bucket report the old location. */
    for (size_t i = 0; i < 50; i++) {
        int n = snprintf(buf, sizeof buf, "b1234567%s%" PRIu64, ids[i] % 3 ? "8" : "", ids[i]);
        put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)n);
    }
    /* Walk a cursor with direction changes through the bucket. */
    kix_cursor c;
    TU_REQUIRE(kix_seek(ix, "a12345678", 9, &c), "seek into the bucket");
    bool eq;
    size_t pos = model_lower(&m, (const uint8_t *)"a12345678", 9, &eq);
    for (int step = 0; step < 3000; step++) {
        bool fwd = tu_rng_below(&rng, 3) != 0;
        bool ok = fwd ? kix_next(ix, &c) : kix_prev(ix, &c);
        if (fwd ? pos + 1 >= m.n : pos == 0) {
            TU_REQUIRE(!ok, "walk went past the end");
            TU_REQUIRE(kix_seek(ix, "a12345678", 9, &c), "seek into the bucket");
            pos = model_lower(&m, (const uint8_t *)"a12345678", 9, &eq);
            continue;
        }
        pos = fwd ? pos + 1 : pos - 1;
        TU_REQUIRE(ok && kix_cursor_loc(ix, &c) == m.loc[pos], "walk step %d", step);
    }
    /* Delete everything of the 'a' bucket but one key, and most of the 'b' bucket. */
    for (size_t i = 0; i < NSUF; i++) {
        int n = snprintf(buf, sizeof buf, "a1234567%s%" PRIu64, ids[i] % 3 ? "8" : "", ids[i]);
        delete_both(ix, &m, (const uint8_t *)buf, (size_t)n);
        if (i % 2) {
            n = snprintf(buf, sizeof buf, "b1234567%s%" PRIu64, ids[i] % 3 ? "8" : "", ids[i]);
            delete_both(ix, &m, (const uint8_t *)buf, (size_t)n);
        }
        if (i % 97 == 0)
            expect_all(ix, &m);
    }
    delete_both(ix, &m, (const uint8_t *)"a12345678", 9);
    expect_all(ix, &m);
    expect_probe_str(ix, &m, "a1234567", 8);
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
}

/* The prefix shrinks at various moments, in both directions of the divergence. */
static void test_prefix_shrink_moments(void **state)
{
    (void)state;
    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);
    uint8_t k[400];
    memset(k, 'x', sizeof k);

    put_both(&lg, ix, &m, k, 300); /* long first key: prefix capped */
    TU_REQUIRE(m.plen == KIX_MAX_PREFIX, "cap");
    expect_all(ix, &m);
    k[300] = 'y';
    put_both(&lg, ix, &m, k, 301); /* shares the capped prefix: no rebuild */
    k[300] = 'x';
    put_both(&lg, ix, &m, k, 264); /* ALEX key of 8 'x' after the prefix */
    put_both(&lg, ix, &m, k, 265); /* same ALEX key as the 300-byte one: a bucket */
    expect_all(ix, &m);
    TU_REQUIRE(m.rebuilds == 0, "no rebuild expected yet");
    put_both(&lg, ix, &m, k, 100); /* a proper prefix of the prefix: before every key */
    expect_all(ix, &m);
    k[100] = 0;
    put_both(&lg, ix, &m, k, 101);
    k[100] = 'x';
    put_str(&lg, ix, &m, "xy"); /* diverges after 1 byte, after every key */
    expect_all(ix, &m);
    put_str(&lg, ix, &m, "xa"); /* before the 'x' run */
    put_str(&lg, ix, &m, "y"); /* prefix 0, after every key */
    expect_all(ix, &m);
    put_str(&lg, ix, &m, "");
    expect_all(ix, &m);
    TU_REQUIRE(m.rebuilds == 3, "rebuilds %" PRIu64, m.rebuilds);
    for (size_t l = 0; l <= 310; l++)
        expect_probe(ix, &m, k, l);
    kix_destroy(ix);
    model_free(&m);

    /* Shrinks with many keys present: "user:profile:<id>" then "user:zzz" then "zz" then "". */
    model_init(&m, &lg);
    ix = new_kix(&lg);
    char buf[64];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(buf, sizeof buf, "user:profile:%d", 100000 + i * 3);
        put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)n);
    }
    expect_all(ix, &m);
    TU_REQUIRE(m.plen == 14, "prefix \"user:profile:1\" expected, got %zu bytes", m.plen);
    put_str(&lg, ix, &m, "user:zzz");
    expect_all(ix, &m);
    put_str(&lg, ix, &m, "user:");
    put_str(&lg, ix, &m, "zz");
    expect_all(ix, &m);
    put_str(&lg, ix, &m, "");
    expect_all(ix, &m);
    for (int i = 0; i < 5000; i += 7) {
        int n = snprintf(buf, sizeof buf, "user:profile:%d", 100000 + i);
        expect_probe_str(ix, &m, buf, (size_t)n);
    }
    kix_destroy(ix);
    model_free(&m);

    /* A shrink that creates a bucket: "ab\0" sets the prefix, then "ab" shares its ALEX key. */
    model_init(&m, &lg);
    ix = new_kix(&lg);
    put_str(&lg, ix, &m, "ab\0");
    put_both(&lg, ix, &m, (const uint8_t *)"ab\0\0\0\0\0\0\0\0\0", 11);
    put_str(&lg, ix, &m, "ab");
    expect_all(ix, &m);
    kix_stats st;
    kix_get_stats(ix, &st);
    TU_REQUIRE(st.prefix_len == 2 && st.buckets == 1 && st.bucket_keys == 2,
               "prefix %" PRIu64 ", %" PRIu64 " buckets", st.prefix_len, st.buckets);
    expect_probe_str(ix, &m, "ab\0\0", 4);
    kix_destroy(ix);
    model_free(&m);

    /* Bulk-loaded keys, then a divergent key. */
    model_init(&m, &lg);
    ix = new_kix(&lg);
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(buf, sizeof buf, "tenant7/user/%06d/x", i * 11);
        model_add_only(&lg, &m, (const uint8_t *)buf, (size_t)n);
    }
    bulk_both(ix, &m);
    expect_all(ix, &m);
    put_str(&lg, ix, &m, "tenant6");
    expect_all(ix, &m);
    put_str(&lg, ix, &m, "tenant8/");
    expect_all(ix, &m);
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
}

static void test_seek_outside_prefix(void **state)
{
    (void)state;
    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);
    char buf[64];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(buf, sizeof buf, "user:profile:%d", 500 + i);
        put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)n);
    }
    TU_REQUIRE(m.plen == 13, "prefix");
    static const char *probes[] = {"", "a", "user", "user:", "user:profile", "user:profile:",
                                   "user:profile:\xff", "user:profile:0", "user:profile:5",
                                   "user:profile:9", "user:profile;", "user:q", "usr", "z",
                                   "\xff\xff", "user:profile:/", "user:profile::"};
    for (size_t i = 0; i < sizeof probes / sizeof *probes; i++)
        expect_probe_str(ix, &m, probes[i], strlen(probes[i]));
    expect_probe_str(ix, &m, "user:profile\0", 13);
    expect_probe_str(ix, &m, "user:profile:\0", 14);
    kix_cursor c;
    TU_REQUIRE(kix_seek(ix, "a", 1, &c) && kix_cursor_loc(ix, &c) == m.loc[0], "seek before");
    TU_REQUIRE(!kix_seek(ix, "z", 1, &c), "seek after");
    TU_REQUIRE(kix_seek_for_prev(ix, "z", 1, &c) && kix_cursor_loc(ix, &c) == m.loc[m.n - 1],
               "seek_for_prev after");
    TU_REQUIRE(!kix_seek_for_prev(ix, "", 0, &c), "seek_for_prev before");
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
}

/* replaced/old_loc for plain and bucketed keys; misses that share an ALEX key. */
static void test_overwrite_and_delete(void **state)
{
    (void)state;
    tlog lg;
    tlog_init(&lg);
    kix *ix = new_kix(&lg);
    uint64_t l1 = tlog_add(&lg, "key-0000A", 9), l2 = tlog_add(&lg, "key-0000A", 9);
    uint64_t l3 = tlog_add(&lg, "key-0000B", 9), l4 = tlog_add(&lg, "key-0000Ax", 10);
    uint64_t old = 77;
    bool rep = true;
    TU_REQUIRE(kix_put(ix, "key-0000A", 9, l1, &old, &rep) == AXI_OK && !rep && old == 77,
               "first put");
    TU_REQUIRE(kix_put(ix, "key-0000B", 9, l3, &old, &rep) == AXI_OK && !rep, "second put");
    /* The prefix is now "key-0000": "key-0000A" has ALEX key "A\0\0\0\0\0\0\0", shared by
     * "key-0000A\0" (not stored yet), not by "key-0000Ax". */
    TU_REQUIRE(kix_put(ix, "key-0000A", 9, l2, &old, &rep) == AXI_OK && rep && old == l1,
               "overwrite plain");
    uint64_t loc;
    TU_REQUIRE(kix_get(ix, "key-0000A", 9, &loc) && loc == l2, "get after overwrite");
    TU_REQUIRE(!kix_get(ix, "key-0000A\0", 10, &loc), "miss sharing the ALEX key");
    TU_REQUIRE(!kix_delete(ix, "key-0000A\0", 10, &old), "delete miss sharing the ALEX key");
    TU_REQUIRE(!kix_get(ix, "key-0000", 8, &loc) && !kix_get(ix, "key-", 4, &loc),
               "shorter than the prefix");
    TU_REQUIRE(kix_put(ix, "key-0000Ax", 10, l4, &old, &rep) == AXI_OK && !rep, "third put");
    uint64_t l5 = tlog_add(&lg, "key-0000A\0", 10), l6 = tlog_add(&lg, "key-0000A\0", 10);
    TU_REQUIRE(kix_put(ix, "key-0000A\0", 10, l5, &old, &rep) == AXI_OK && !rep, "bucket put");
    kix_stats st;
    kix_get_stats(ix, &st);
    TU_REQUIRE(st.buckets == 1 && st.bucket_keys == 2, "bucket expected");
    TU_REQUIRE(kix_put(ix, "key-0000A\0", 10, l6, &old, &rep) == AXI_OK && rep && old == l5,
               "overwrite in bucket");
    TU_REQUIRE(!kix_get(ix, "key-0000A\0\0", 11, &loc), "get miss inside a bucket");
    TU_REQUIRE(!kix_delete(ix, "key-0000A\0\0", 11, NULL), "delete miss inside a bucket");
    TU_REQUIRE(kix_delete(ix, "key-0000A", 9, &old) && old == l2, "delete from bucket");
    kix_get_stats(ix, &st);
    TU_REQUIRE(st.buckets == 0 && kix_count(ix) == 3, "bucket of one dissolved");
    TU_REQUIRE(kix_get(ix, "key-0000A\0", 10, &loc) && loc == l6, "survivor after dissolve");
    check_kix(ix);
    TU_REQUIRE(kix_delete(ix, "key-0000A\0", 10, &old) && old == l6, "delete");
    TU_REQUIRE(kix_delete(ix, "key-0000B", 9, &old) && old == l3, "delete");
    TU_REQUIRE(kix_delete(ix, "key-0000Ax", 10, &old) && old == l4, "delete last");
    kix_get_stats(ix, &st);
    TU_REQUIRE(kix_count(ix) == 0 && st.prefix_len == 0 && st.alex.num_keys == 0, "emptied");
    check_kix(ix);
    /* An emptied kix forgets its prefix: an unrelated key does not rebuild. */
    uint64_t l7 = tlog_add(&lg, "zz", 2);
    TU_REQUIRE(kix_put(ix, "zz", 2, l7, &old, &rep) == AXI_OK && !rep, "put after empty");
    kix_get_stats(ix, &st);
    TU_REQUIRE(st.prefix_len == 2 && st.prefix_rebuilds == 1, "prefix %" PRIu64 ", rebuilds %"
               PRIu64, st.prefix_len, st.prefix_rebuilds);
    check_kix(ix);
    kix_destroy(ix);
    tlog_free(&lg);
}

static void test_bulk_load(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(__func__));
    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);

    TU_REQUIRE(kix_bulk_load(ix, NULL, 0) == AXI_OK && kix_count(ix) == 0, "empty bulk load");
    expect_all(ix, &m);
    /* Tiny-alphabet keys behind a shared prefix: many collisions. */
    uint8_t k[48];
    for (int i = 0; i < 4000; i++) {
        size_t len = 6 + (size_t)tu_rng_below(&rng, 30);
        memcpy(k, "pfx://", 6);
        for (size_t j = 6; j < len; j++)
            k[j] = "\0\1a"[tu_rng_below(&rng, 3)];
        model_add_only(&lg, &m, k, len);
    }
    /* Argument errors first. */
    uint64_t *locs = tu_xmalloc(m.n * sizeof *locs);
    memcpy(locs, m.loc, m.n * sizeof *locs);
    uint64_t t = locs[10];
    locs[10] = locs[11];
    locs[11] = t;
    TU_REQUIRE(kix_bulk_load(ix, locs, m.n) == AXI_EINVAL, "unsorted accepted");
    locs[11] = locs[10];
    TU_REQUIRE(kix_bulk_load(ix, locs, m.n) == AXI_EINVAL, "duplicate location accepted");
    memcpy(locs, m.loc, m.n * sizeof *locs);
    uint64_t dup = tlog_add(&lg, tlog_key(&lg, locs[5], &(size_t){0}), lg.ent[locs[5]].len);
    locs[6] = dup;
    TU_REQUIRE(kix_bulk_load(ix, locs, 7) == AXI_EINVAL, "duplicate key accepted");
    locs[6] = KIX_LOC_MAX + 1;
    TU_REQUIRE(kix_bulk_load(ix, locs, 7) == AXI_EINVAL, "location > KIX_LOC_MAX accepted");
    TU_REQUIRE(kix_count(ix) == 0, "failed bulk load changed the kix");
    check_kix(ix);
    free(locs);

    bulk_both(ix, &m);
    expect_all(ix, &m);
    kix_stats st;
    kix_get_stats(ix, &st);
    TU_REQUIRE(st.buckets > 100 && st.prefix_len >= 6, "expected collisions behind the prefix");
    TU_REQUIRE(kix_bulk_load(ix, m.loc, 1) == AXI_EINVAL, "bulk load into a non-empty kix");
    for (int i = 0; i < 3000; i++) {
        size_t len = (size_t)tu_rng_below(&rng, 36);
        memcpy(k, "pfx://", len < 6 ? len : 6);
        for (size_t j = 6; j < len; j++)
            k[j] = "\0\1a"[tu_rng_below(&rng, 3)];
        expect_probe(ix, &m, k, len);
        if (i % 3 == 0)
            put_both(&lg, ix, &m, k, len);
        else if (i % 3 == 1)
            delete_both(ix, &m, k, len);
    }
    expect_all(ix, &m);
    kix_destroy(ix);

    /* One key, and keys longer than KIX_MAX_PREFIX sharing all of it. */
    model_free(&m);
    model_init(&m, &lg);
    ix = new_kix(&lg);
    uint8_t big[300];
    memset(big, 'q', sizeof big);
    model_add_only(&lg, &m, big, 290);
    bulk_both(ix, &m);
    expect_all(ix, &m);
    kix_destroy(ix);
    model_free(&m);
    model_init(&m, &lg);
    ix = new_kix(&lg);
    for (size_t l = 270; l < 300; l++)
        model_add_only(&lg, &m, big, l);
    bulk_both(ix, &m);
    expect_all(ix, &m);
    for (size_t l = 250; l <= 300; l++)
        expect_probe(ix, &m, big, l);
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
}

/* db_bench keys (8-byte big-endian number + 8 bytes '0') and "user:profile:<id>" at size. */
static void run_keyset(bool dbbench)
{
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(dbbench ? "test_dbbench_keys" : "test_user_profile_keys"));
    size_t n = tu_scaled(200000, 2000);
    tlog lg;
    tlog_init(&lg);
    kix *ix = new_kix(&lg);
    uint64_t *ids = tu_xmalloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = i;
    tu_shuffle(&rng, ids, n);
    uint8_t k[32];
    size_t kl = 16;
    for (size_t i = 0; i < n; i++) {
        if (dbbench) {
            for (int b = 0; b < 8; b++)
                k[b] = (uint8_t)(ids[i] >> (56 - 8 * b));
            memset(k + 8, '0', 8);
        } else {
            kl = (size_t)snprintf((char *)k, sizeof k, "user:profile:%" PRIu64, ids[i]);
        }
        uint64_t loc = tlog_add(&lg, k, kl);
        TU_REQUIRE(kix_put(ix, k, kl, loc, NULL, NULL) == AXI_OK, "put");
    }
    /* Location i holds the key of ids[i]. */
    kix_stats st;
    kix_get_stats(ix, &st);
    TU_REQUIRE(st.buckets == 0 && st.levels == 0, "%" PRIu64 " buckets, %" PRIu64
               " levels with unique ALEX keys", st.buckets, st.levels);
    /* db_bench: the leading zero bytes of the largest id; else "user:profile:". */
    uint64_t want = 13;
    if (dbbench) {
        want = 8;
        for (uint64_t x = n - 1; x; x >>= 8)
            want--;
    }
    TU_REQUIRE(st.prefix_len == want, "prefix_len %" PRIu64 ", expected %" PRIu64, st.prefix_len,
               want);
    for (size_t i = 0; i < n; i++) {
        size_t l;
        const uint8_t *key = tlog_key(&lg, i, &l);
        memcpy(k, key, l);
        uint64_t loc;
        TU_REQUIRE(kix_get(ix, k, l, &loc) && loc == i, "get %zu", i);
        k[l - 1] ^= 0x40; /* a digit or '0' becomes a letter */
        TU_REQUIRE(!kix_get(ix, k, l, &loc), "get of a changed key %zu", i);
    }
    /* In-order scan: strictly increasing keys, every location once. */
    kix_cursor c;
    size_t seen = 0, pl = 0;
    const uint8_t *prev = NULL;
    for (bool ok = kix_first(ix, &c); ok; ok = kix_next(ix, &c), seen++) {
        size_t l;
        const uint8_t *key = tlog_key(&lg, kix_cursor_loc(ix, &c), &l);
        TU_REQUIRE(!prev || tk_cmp(prev, pl, key, l) < 0, "scan order at %zu", seen);
        prev = key;
        pl = l;
    }
    TU_REQUIRE(seen == n, "scan saw %zu of %zu", seen, n);
    check_kix(ix);
    printf("    %s: %zu keys, %.1f bytes/key, ALEX depth %u\n",
           dbbench ? "db_bench" : "user:profile", n, (double)st.memory_bytes / (double)n,
           st.alex.max_depth);
    free(ids);
    kix_destroy(ix);
    tlog_free(&lg);
}

static void test_dbbench_keys(void **state)
{
    (void)state;
    run_keyset(true);
}

static void test_user_profile_keys(void **state)
{
    (void)state;
    run_keyset(false);
}

/* ---- nesting -------------------------------------------------------------------------------- */

static void walk(const kix *ix, const model *m, kix_cursor *c, size_t pos, bool fwd, tu_rng *r);

/* Big insert-only loads: model_put keeps its array sorted by insertion (quadratic at 100K keys),
 * so these append (applying the same prefix rules; no regrow can be due while no delete has
 * happened) and sort once. */
static const tlog *sort_lg;

static int loc_order(const void *a, const void *b)
{
    size_t la, lb;
    const uint8_t *ka = tlog_key(sort_lg, *(const uint64_t *)a, &la);
    const uint8_t *kb = tlog_key(sort_lg, *(const uint64_t *)b, &lb);
    return tk_cmp(ka, la, kb, lb);
}

static void model_append(model *m, const uint8_t *k, size_t kl, uint64_t loc)
{
    TU_REQUIRE(!m->dirty, "model_append after a delete");
    if (!m->has_prefix) {
        m->plen = kl < KIX_MAX_PREFIX ? kl : KIX_MAX_PREFIX;
        memcpy(m->prefix, k, m->plen);
        m->has_prefix = true;
        m->mods = 0;
    } else {
        size_t c = tk_common(k, kl, m->prefix, m->plen);
        if (c < m->plen) {
            m->plen = c;
            m->rebuilds++;
            m->mods = 0;
        }
        m->mods++;
    }
    if (m->n == m->cap) {
        m->cap *= 2;
        m->loc = realloc(m->loc, m->cap * sizeof *m->loc);
        TU_REQUIRE(m->loc != NULL, "out of memory");
    }
    m->loc[m->n++] = loc;
}

static void model_sort(model *m)
{
    sort_lg = m->lg;
    qsort(m->loc, m->n, sizeof *m->loc, loc_order);
    for (size_t i = 1; i < m->n; i++) {
        size_t la, lb;
        const uint8_t *a = model_key(m, i - 1, &la), *b = model_key(m, i, &lb);
        TU_REQUIRE(tk_cmp(a, la, b, lb) < 0, "model_sort: duplicate key %s", tk_str(b, lb));
    }
}

/* Puts a key known to be new into the kix and appends it to the model. */
static uint64_t put_new(tlog *lg, kix *ix, model *m, const uint8_t *k, size_t kl)
{
    uint64_t loc = tlog_add(lg, k, kl);
    bool rep = true;
    lg->pending = loc;
    int rc = kix_put(ix, k, kl, loc, NULL, &rep);
    lg->pending = UINT64_MAX;
    TU_REQUIRE(rc == AXI_OK && !rep, "kix_put(%s): rc %d, replaced %d", tk_str(k, kl), rc,
               (int)rep);
    model_append(m, k, kl, loc);
    return loc;
}

static kix_stats stats_of(const kix *ix)
{
    kix_stats st;
    kix_get_stats(ix, &st);
    return st;
}

/* Random probes (get, seek, seek_for_prev, short walks) around stored keys. */
static void probe_around(const kix *ix, const model *m, tu_rng *rng, int count)
{
    uint8_t k[MAX_KEY + 2];
    for (int i = 0; i < count && m->n; i++) {
        size_t at = (size_t)tu_rng_below(rng, m->n), l;
        const uint8_t *s = model_key(m, at, &l);
        memcpy(k, s, l);
        switch (tu_rng_below(rng, 6)) {
        case 0:
            k[l++] = (uint8_t)tu_rng_next(rng);
            break;
        case 1:
            if (l)
                l -= 1 + (size_t)tu_rng_below(rng, l);
            break;
        case 2:
            if (l && k[l - 1] < 0xff)
                k[l - 1]++;
            break;
        case 3:
            if (l && k[l - 1] > 0)
                k[l - 1]--;
            break;
        default:
            break;
        }
        expect_probe(ix, m, k, l);
        bool eq;
        size_t pos = model_lower(m, k, l, &eq);
        kix_cursor c;
        if (tu_rng_below(rng, 2)) {
            if (kix_seek(ix, k, l, &c))
                walk(ix, m, &c, pos, true, rng);
        } else if (kix_seek_for_prev(ix, k, l, &c)) {
            walk(ix, m, &c, eq ? pos : pos - 1, false, rng);
        }
    }
}

/* Every stored key is found with its location; keys one byte longer are not. */
static void expect_gets(const kix *ix, const model *m)
{
    uint8_t k[MAX_KEY + 1];
    for (size_t i = 0; i < m->n; i++) {
        size_t l;
        const uint8_t *s = model_key(m, i, &l);
        uint64_t loc = UINT64_MAX;
        TU_REQUIRE(kix_get(ix, s, l, &loc) && loc == m->loc[i], "get %s", tk_str(s, l));
        memcpy(k, s, l);
        k[l] = 0x7f;
        if (i + 1 < m->n) {
            size_t l2;
            const uint8_t *n2 = model_key(m, i + 1, &l2);
            if (tk_cmp(k, l + 1, n2, l2) == 0)
                continue;
        }
        TU_REQUIRE(!kix_get(ix, k, l + 1, &loc), "get of an absent key %s", tk_str(k, l + 1));
    }
}

/* 100K "user:profile:<id>" keys and one stray key (the empty key), put first or last: the
 * stray key takes the root prefix to 0, so every profile key shares the ALEX key "user:pro".
 * That group must be a nested level indexing the ids (not one bucket of 100K keys), and the
 * prefix must grow back once the stray key is gone (at once if the level has seen as many
 * inserts and deletes as keys since its last rebuild, else after that many more). */
static void test_stray_key(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(__func__));
    size_t n = tu_scaled(100000, 2000);
    uint64_t *ids = tu_xmalloc(n * sizeof *ids);
    char buf[64];
    for (int variant = 0; variant < 2; variant++) {
        bool stray_first = variant == 0;
        tlog lg;
        tlog_init(&lg);
        model m;
        model_init(&m, &lg);
        kix *ix = new_kix(&lg);
        for (size_t i = 0; i < n; i++)
            ids[i] = i;
        tu_shuffle(&rng, ids, n);
        if (stray_first)
            put_new(&lg, ix, &m, (const uint8_t *)"", 0);
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(buf, sizeof buf, "user:profile:%" PRIu64, ids[i]);
            put_new(&lg, ix, &m, (const uint8_t *)buf, (size_t)len);
        }
        if (!stray_first)
            put_new(&lg, ix, &m, (const uint8_t *)"", 0);
        model_sort(&m);
        expect_all(ix, &m);
        /* Root: "" and "user:pro"; one nested level under "user:pro" whose prefix "file:" is
         * followed by ids of at most 8 digits: every id has its own ALEX key there. */
        kix_stats st = stats_of(ix);
        TU_REQUIRE(st.prefix_len == 0 && st.alex.num_keys == 2 && st.levels == 1 &&
                       st.max_depth == 1 && st.level_keys == n && st.buckets == 0,
                   "prefix %" PRIu64 ", %" PRIu64 " root entries, %" PRIu64 " levels (depth %"
                   PRIu64 ", %" PRIu64 " keys), %" PRIu64 " buckets",
                   st.prefix_len, st.alex.num_keys, st.levels, st.max_depth, st.level_keys,
                   st.buckets);
        expect_gets(ix, &m);
        probe_around(ix, &m, &rng, 3000);
        /* More puts (new ids above the others, and overwrites) keep the shape. */
        for (size_t i = 0; i < 500; i++) {
            int len = snprintf(buf, sizeof buf, "user:profile:%" PRIu64,
                               i % 2 ? (uint64_t)(n + i) : ids[i]);
            put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)len);
        }
        st = stats_of(ix);
        TU_REQUIRE(st.levels == 1 && st.max_depth == 1 && st.max_bucket <= KIX_BUCKET_MAX,
                   "shape after more puts: %" PRIu64 " levels, depth %" PRIu64
                   ", largest bucket %" PRIu64, st.levels, st.max_depth, st.max_bucket);
        expect_all(ix, &m);

        /* The stray key goes. Put first, the root has seen n+ inserts since its last rebuild:
         * the prefix grows back at once. Put last (a shrink, which rebuilt the root), it takes
         * about n more inserts and deletes. */
        delete_both(ix, &m, (const uint8_t *)"", 0);
        st = stats_of(ix);
        if (stray_first) {
            TU_REQUIRE(st.prefix_regrows == 1 && st.prefix_len == 13 && st.levels == 0,
                       "no regrow after the stray key left: prefix %" PRIu64 ", %" PRIu64
                       " regrows", st.prefix_len, st.prefix_regrows);
        } else {
            TU_REQUIRE(st.prefix_regrows == 0 && st.prefix_len == 0, "early regrow");
            /* Churn at the end of the key order (cheap for the model). */
            size_t rounds = 0;
            while (stats_of(ix).prefix_regrows == 0) {
                TU_REQUIRE(rounds++ < n, "no regrow after %zu rounds", rounds);
                size_t l;
                uint8_t k[64];
                const uint8_t *s = model_key(&m, m.n - 1, &l);
                memcpy(k, s, l);
                delete_both(ix, &m, k, l);
                put_both(&lg, ix, &m, k, l);
            }
            st = stats_of(ix);
            TU_REQUIRE(st.prefix_len == 13 && st.levels == 0, "after the regrow: prefix %" PRIu64
                       ", %" PRIu64 " levels", st.prefix_len, st.levels);
            TU_REQUIRE(rounds >= n / 2 - 2 && rounds <= n / 2 + 2, "regrow after %zu rounds",
                       rounds);
        }
        expect_all(ix, &m);
        probe_around(ix, &m, &rng, 1000);
        kix_destroy(ix);
        model_free(&m);
        tlog_free(&lg);
    }
    free(ids);
}

/* "tenant<t>/user/<id>": the varying tenant is followed by a constant part, so keys of one
 * tenant share their ALEX key; each tenant is a nested level indexing the ids. Then most of
 * some tenants' keys go: their levels turn back into buckets. */
static void test_tenant_keys(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(__func__));
    enum { TENANTS = 100 };
    size_t n = tu_scaled(60000, 10000);
    size_t per = n / TENANTS;
    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);
    uint64_t *order = tu_xmalloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    tu_shuffle(&rng, order, n);
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        uint64_t t = order[i] % TENANTS, id = order[i] / TENANTS * 7 + t % 7;
        int len = snprintf(buf, sizeof buf, "tenant%" PRIu64 "/user/%" PRIu64, t, id);
        put_new(&lg, ix, &m, (const uint8_t *)buf, (size_t)len);
    }
    model_sort(&m);
    expect_all(ix, &m);
    kix_stats st = stats_of(ix);
    TU_REQUIRE(st.prefix_len == 6 && st.levels >= 90 && st.max_depth == 1 &&
                   st.max_bucket <= KIX_BUCKET_MAX && st.level_keys >= 90 * per,
               "prefix %" PRIu64 ", %" PRIu64 " levels, depth %" PRIu64 ", largest bucket %"
               PRIu64 ", %" PRIu64 " keys in levels", st.prefix_len, st.levels, st.max_depth,
               st.max_bucket, st.level_keys);
    expect_gets(ix, &m);
    probe_around(ix, &m, &rng, 4000);
    for (const char *const *p = (const char *const[]){"tenant", "tenant1", "tenant10/",
                                                       "tenant10/user/", "tenant10/user/9",
                                                       "tenant99/user/~", "tenant:", NULL};
         *p; p++)
        expect_probe_str(ix, &m, *p, strlen(*p));

    /* Tenants 20..29 (two-digit: one ALEX key each) lose all but 10 keys. */
    uint64_t levels_before = st.levels;
    for (uint64_t t = 20; t < 30; t++) {
        for (size_t j = 10; j < per; j++) {
            int len = snprintf(buf, sizeof buf, "tenant%" PRIu64 "/user/%" PRIu64, t,
                               (uint64_t)j * 7 + t % 7);
            delete_both(ix, &m, (const uint8_t *)buf, (size_t)len);
        }
    }
    expect_all(ix, &m);
    st = stats_of(ix);
    TU_REQUIRE(st.levels == levels_before - 10 && st.buckets >= 10,
               "%" PRIu64 " levels (before: %" PRIu64 "), %" PRIu64 " buckets", st.levels,
               levels_before, st.buckets);
    probe_around(ix, &m, &rng, 2000);
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
    free(order);
}

/* Long runs of shared bytes after the root prefix: a nested level strips the run at once (up to
 * KIX_MAX_PREFIX bytes per level), so depth grows with the run's length / 264, not / 8. Then
 * keys that end inside the run ("ladder" keys) cut the levels' prefixes short. */
static void test_long_shared_runs(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(__func__));
    static const size_t runs[] = {200, 450};
    for (int r = 0; r < 2; r++) {
        tlog lg;
        tlog_init(&lg);
        model m;
        model_init(&m, &lg);
        kix *ix = new_kix(&lg);
        uint8_t k[MAX_KEY];
        size_t run = runs[r];
        size_t nk = tu_scaled(2000, 800);
        for (size_t i = 0; i < nk; i++) {
            k[0] = 'r';
            k[1] = "AbCd"[i % 4];
            memset(k + 2, 'x', run);
            int len = snprintf((char *)k + 2 + run, 24, "%zu", i / 4 * 13);
            put_both(&lg, ix, &m, k, 2 + run + (size_t)len);
        }
        expect_all(ix, &m);
        kix_stats st = stats_of(ix);
        /* Root prefix "r"; 4 groups "<c>xxxxxxx" -> levels at offset 9 with prefix run - 7 (run
         * 200), or 256 then a second level with the remaining 443 - 264 = 179 (run 450). */
        uint64_t want_depth = run == 200 ? 1 : 2;
        TU_REQUIRE(st.prefix_len == 1 && st.alex.num_keys == 4 && st.levels == 4 * want_depth &&
                       st.max_depth == want_depth && st.buckets == 0,
                   "run %zu: prefix %" PRIu64 ", %" PRIu64 " root entries, %" PRIu64
                   " levels, depth %" PRIu64 ", %" PRIu64 " buckets", run, st.prefix_len,
                   st.alex.num_keys, st.levels, st.max_depth, st.buckets);
        expect_gets(ix, &m);
        probe_around(ix, &m, &rng, 1500);

        /* Ladder keys: "r<c>" + k x's for assorted k, shorter than the run. */
        static const size_t ladder[] = {0, 5, 6, 7, 8, 9, 15, 16, 17, 100, 199, 263, 264, 265, 300};
        for (size_t i = 0; i < sizeof ladder / sizeof *ladder; i++) {
            if (ladder[i] > run)
                continue;
            for (int c = 0; c < 4; c += 3) {
                k[0] = 'r';
                k[1] = "AbCd"[c];
                memset(k + 2, 'x', ladder[i]);
                put_both(&lg, ix, &m, k, 2 + ladder[i]);
            }
            expect_all(ix, &m);
        }
        st = stats_of(ix);
        TU_REQUIRE(st.max_depth + 1 < KIX_MAX_DEPTH && st.max_bucket <= KIX_BUCKET_MAX,
                   "ladder: depth %" PRIu64 ", largest bucket %" PRIu64, st.max_depth,
                   st.max_bucket);
        expect_gets(ix, &m);
        probe_around(ix, &m, &rng, 1500);
        for (size_t l = 0; l < 2 + run + 4; l++) { /* every prefix of a stored key */
            size_t kl;
            const uint8_t *s = model_key(&m, m.n / 2, &kl);
            if (l <= kl)
                expect_probe(ix, &m, s, l);
        }
        /* Ladder keys go again, in random order; the shape heals (regrow). */
        for (size_t i = 0; i < sizeof ladder / sizeof *ladder; i++) {
            if (ladder[i] > run)
                continue;
            for (int c = 0; c < 4; c += 3) {
                k[0] = 'r';
                k[1] = "AbCd"[c];
                memset(k + 2, 'x', ladder[i]);
                delete_both(ix, &m, k, 2 + ladder[i]);
            }
        }
        expect_all(ix, &m);
        for (size_t i = 0; i < nk; i++) { /* churn: rewrite every key once (delete + put) */
            size_t l;
            const uint8_t *s = model_key(&m, m.n - 1 - (i % m.n), &l);
            memcpy(k, s, l);
            delete_both(ix, &m, k, l);
            put_both(&lg, ix, &m, k, l);
        }
        expect_all(ix, &m);
        st = stats_of(ix);
        TU_REQUIRE(st.max_depth == want_depth && st.levels == 4 * want_depth,
                   "after the churn: depth %" PRIu64 ", %" PRIu64 " levels (%" PRIu64
                   " level rebuilds)", st.max_depth, st.levels, st.level_rebuilds);
        kix_destroy(ix);
        model_free(&m);
        tlog_free(&lg);
    }
}

/* An adversarial set that needs one more level per stray key: "a"*8j + "\xff" for j = 1..20
 * beside 150 keys "a"*176 + id. Nesting stops at KIX_MAX_DEPTH levels; the deepest group is a
 * bucket above KIX_BUCKET_MAX keys, and everything still works. */
static void test_depth_limit(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(__func__));
    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);
    uint8_t k[MAX_KEY];
    memset(k, 'a', sizeof k);
    uint64_t order[170];
    for (uint64_t i = 0; i < 170; i++)
        order[i] = i;
    tu_shuffle(&rng, order, 170);
    for (size_t i = 0; i < 170; i++) {
        memset(k, 'a', 200);
        if (order[i] < 150) {
            int len = snprintf((char *)k + 176, 24, "%03" PRIu64, order[i]);
            put_both(&lg, ix, &m, k, 176 + (size_t)len);
        } else {
            size_t j = (size_t)order[i] - 149;
            k[8 * j] = 0xff;
            put_both(&lg, ix, &m, k, 8 * j + 1);
        }
        if (i % 20 == 0)
            expect_all(ix, &m);
    }
    expect_all(ix, &m);
    kix_stats st = stats_of(ix);
    TU_REQUIRE(st.max_depth == KIX_MAX_DEPTH - 1 && st.max_bucket > KIX_BUCKET_MAX,
               "depth %" PRIu64 ", largest bucket %" PRIu64, st.max_depth, st.max_bucket);
    expect_gets(ix, &m);
    probe_around(ix, &m, &rng, 3000);
    for (size_t l = 0; l <= 180; l++) {
        memset(k, 'a', 200);
        expect_probe(ix, &m, k, l);
        k[l] = 0xff;
        expect_probe(ix, &m, k, l + 1);
        k[l] = 0;
        expect_probe(ix, &m, k, l + 1);
    }
    /* Take the strays out again, deepest first: the levels unwind (regrow, collapse). */
    for (size_t j = 20; j >= 1; j--) {
        memset(k, 'a', 200);
        k[8 * j] = 0xff;
        delete_both(ix, &m, k, 8 * j + 1);
        expect_all(ix, &m);
    }
    for (size_t i = 0; i < 400; i++) { /* churn so every level sees its regrow check */
        size_t l;
        const uint8_t *s = model_key(&m, (size_t)tu_rng_below(&rng, m.n), &l);
        memcpy(k, s, l);
        delete_both(ix, &m, k, l);
        put_both(&lg, ix, &m, k, l);
    }
    expect_all(ix, &m);
    st = stats_of(ix);
    TU_REQUIRE(st.max_bucket <= KIX_BUCKET_MAX && st.max_depth <= 1,
               "after the strays left: depth %" PRIu64 ", largest bucket %" PRIu64, st.max_depth,
               st.max_bucket);
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
}

/* Groups whose window ends in zeros have short keys (ending inside or at the window) in front
 * of a nested level: "g" + "\0"*j for j = 1..9 beside "g" + "\0"*8 + id, and one level down
 * "g" + "\0"*j for j = 10..17 beside "g" + "\0"*16 + id. Cursors cross the levels both ways,
 * with direction changes at every position. */
static void test_nested_cursors(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(__func__));
    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);
    uint8_t k[64];
    memset(k, 0, sizeof k);
    k[0] = 'g';
    put_str(&lg, ix, &m, "f"); /* root prefix "" */
    put_str(&lg, ix, &m, "h");
    for (int i = 0; i < 200; i++) {
        int len = snprintf((char *)k + 9, 16, "%d", i * 37 % 1000);
        put_both(&lg, ix, &m, k, 9 + (size_t)len);
        memset(k + 1, 0, sizeof k - 1);
        if (i < 100) {
            len = snprintf((char *)k + 17, 16, "%d", i * 37 % 1000);
            put_both(&lg, ix, &m, k, 17 + (size_t)len);
            memset(k + 1, 0, sizeof k - 1);
        }
    }
    for (size_t j = 0; j <= 17; j++)
        put_both(&lg, ix, &m, k, 1 + j);
    expect_all(ix, &m);
    kix_stats st = stats_of(ix);
    TU_REQUIRE(st.levels == 2 && st.max_depth == 2, "%" PRIu64 " levels, depth %" PRIu64,
               st.levels, st.max_depth);
    /* From every key: a long walk with direction changes. */
    for (size_t i = 0; i < m.n; i++) {
        size_t l;
        const uint8_t *s = model_key(&m, i, &l);
        uint8_t key[64];
        memcpy(key, s, l);
        kix_cursor c;
        TU_REQUIRE(kix_seek(ix, key, l, &c) && kix_cursor_loc(ix, &c) == m.loc[i], "seek %zu", i);
        size_t pos = i;
        for (int step = 0; step < 40; step++) {
            bool fwd = tu_rng_below(&rng, 2);
            bool ok = fwd ? kix_next(ix, &c) : kix_prev(ix, &c);
            if (fwd ? pos + 1 >= m.n : pos == 0) {
                TU_REQUIRE(!ok, "walk went past the end");
                break;
            }
            pos = fwd ? pos + 1 : pos - 1;
            TU_REQUIRE(ok && kix_cursor_loc(ix, &c) == m.loc[pos], "walk from %zu, step %d", i,
                       step);
        }
        expect_probe(ix, &m, key, l);
        key[l] = 0;
        expect_probe(ix, &m, key, l + 1);
        key[l] = 0x35;
        expect_probe(ix, &m, key, l + 1);
    }
    /* Short keys go, then come back, then most long keys go. */
    for (size_t j = 0; j <= 17; j += 2)
        delete_both(ix, &m, k, 1 + j);
    expect_all(ix, &m);
    probe_around(ix, &m, &rng, 2000);
    for (size_t j = 0; j <= 17; j += 2)
        put_both(&lg, ix, &m, k, 1 + j);
    expect_all(ix, &m);
    for (int i = 0; i < 200; i++) {
        int len = snprintf((char *)k + 9, 16, "%d", i * 37 % 1000);
        if (i % 10)
            delete_both(ix, &m, k, 9 + (size_t)len);
        memset(k + 1, 0, sizeof k - 1);
        if (i < 100 && i % 50) {
            len = snprintf((char *)k + 17, 16, "%d", i * 37 % 1000);
            delete_both(ix, &m, k, 17 + (size_t)len);
            memset(k + 1, 0, sizeof k - 1);
        }
        if (i % 10 == 0)
            expect_all(ix, &m);
    }
    expect_all(ix, &m);
    probe_around(ix, &m, &rng, 2000);
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
}

/* A group grows into a nested level at KIX_BUCKET_MAX + 1 keys and turns back into a bucket
 * below KIX_LEVEL_MIN (hysteresis), then into a plain location; its short keys travel along. */
static void test_nested_collapse(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(__func__));
    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);
    char buf[64];
    put_str(&lg, ix, &m, "a");
    put_str(&lg, ix, &m, "z");
    put_str(&lg, ix, &m, "mmmmmmmm"); /* a short key of the group */
    for (int round = 0; round < 2; round++) {
        for (int i = 1; i <= 200; i++) {
            int len = snprintf(buf, sizeof buf, "mmmmmmmm%d", i);
            put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)len);
            kix_stats st = stats_of(ix);
            bool nested = i + 1 > (int)KIX_BUCKET_MAX;
            TU_REQUIRE(st.levels == (nested ? 1u : 0u) &&
                           st.max_bucket == (nested ? 0u : (uint64_t)i + 1),
                       "after %d puts: %" PRIu64 " levels, largest bucket %" PRIu64, i, st.levels,
                       st.max_bucket);
        }
        expect_all(ix, &m);
        uint64_t order[200];
        for (uint64_t i = 0; i < 200; i++)
            order[i] = i + 1;
        tu_shuffle(&rng, order, 200);
        for (int i = 0; i < 200; i++) {
            int len = snprintf(buf, sizeof buf, "mmmmmmmm%" PRIu64, order[i]);
            delete_both(ix, &m, (const uint8_t *)buf, (size_t)len);
            uint64_t left = 200 - (uint64_t)i; /* group keys, the short one included */
            kix_stats st = stats_of(ix);
            bool nested = left >= KIX_LEVEL_MIN;
            TU_REQUIRE(st.levels == (nested ? 1u : 0u) &&
                           st.max_bucket == (nested || left < 2 ? 0u : left) &&
                           st.alex.num_keys == 3,
                       "%" PRIu64 " keys left: %" PRIu64 " levels, largest bucket %" PRIu64,
                       left, st.levels, st.max_bucket);
            if (i % 16 == 0 || !nested)
                expect_all(ix, &m);
        }
    }
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
}

/* Prefix regrow, at the root (exactly as the model predicts) and in a nested level (a stray key
 * cuts its prefix and adds a level; when it is gone and the level has seen as many inserts and
 * deletes as keys, the level is rebuilt under the longer prefix). */
static void test_prefix_regrow(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(__func__));
    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);
    char buf[96];
    for (int i = 0; i < 1000; i++) {
        int len = snprintf(buf, sizeof buf, "user:profile:%d", 1000 + i * 7);
        put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)len);
    }
    put_str(&lg, ix, &m, "user:");
    put_str(&lg, ix, &m, "");
    expect_all(ix, &m);
    TU_REQUIRE(m.plen == 0 && m.rebuilds >= 2, "model: prefix %zu, %" PRIu64 " rebuilds", m.plen,
               m.rebuilds);
    delete_both(ix, &m, (const uint8_t *)"", 0);
    delete_both(ix, &m, (const uint8_t *)"user:", 5);
    expect_all(ix, &m);
    TU_REQUIRE(m.regrows == 0, "regrow too early");
    /* Overwrites are no inserts: they do not count. */
    for (int i = 0; i < 2000; i++) {
        int len = snprintf(buf, sizeof buf, "user:profile:%d", 1000 + (i % 1000) * 7);
        put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)len);
    }
    expect_all(ix, &m);
    TU_REQUIRE(m.regrows == 0, "regrow after overwrites");
    for (int i = 0; m.regrows == 0; i++) {
        TU_REQUIRE(i < 1000, "no regrow");
        int len = snprintf(buf, sizeof buf, "user:profile:%d", 1000 + (i % 1000) * 7);
        delete_both(ix, &m, (const uint8_t *)buf, (size_t)len);
        put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)len);
    }
    expect_all(ix, &m);
    kix_stats st = stats_of(ix);
    TU_REQUIRE(st.prefix_regrows == 1 && st.prefix_len == 13, "prefix %" PRIu64, st.prefix_len);
    kix_destroy(ix);
    model_free(&m);

    /* Nested: two families "A"/"B" + 20 constant bytes + id under a root prefix of 0. */
    model_init(&m, &lg);
    ix = new_kix(&lg);
    static const char cst[] = "-constant-part-20b--";
    for (int i = 0; i < 300; i++) {
        for (int f = 0; f < 2; f++) {
            int len = snprintf(buf, sizeof buf, "%c%s%d", "AB"[f], cst, i * 13);
            put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)len);
        }
    }
    expect_all(ix, &m);
    st = stats_of(ix);
    TU_REQUIRE(st.prefix_len == 0 && st.levels == 2 && st.max_depth == 1 &&
                   st.level_rebuilds == 0,
               "families: %" PRIu64 " levels, depth %" PRIu64, st.levels, st.max_depth);
    /* A stray in family A diverging inside its level's prefix (offset 8 + 3). */
    int slen = snprintf(buf, sizeof buf, "A%.10sX", cst);
    put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)slen);
    expect_all(ix, &m);
    st = stats_of(ix);
    TU_REQUIRE(st.level_rebuilds == 1 && st.levels == 3 && st.max_depth == 2,
               "after the stray: %" PRIu64 " level rebuilds, %" PRIu64 " levels, depth %" PRIu64,
               st.level_rebuilds, st.levels, st.max_depth);
    probe_around(ix, &m, &rng, 1000);
    uint8_t stray[64];
    memcpy(stray, buf, (size_t)slen);
    delete_both(ix, &m, stray, (size_t)slen);
    /* Family A's level has seen one insert and one delete since its rebuild: churn it. */
    for (int i = 0; stats_of(ix).level_rebuilds == 1; i++) {
        TU_REQUIRE(i < 400, "no regrow in the nested level");
        int len = snprintf(buf, sizeof buf, "A%s%d", cst, (i % 300) * 13);
        delete_both(ix, &m, (const uint8_t *)buf, (size_t)len);
        put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)len);
    }
    expect_all(ix, &m);
    st = stats_of(ix);
    TU_REQUIRE(st.level_rebuilds == 2 && st.levels == 2 && st.max_depth == 1,
               "after the regrow: %" PRIu64 " levels, depth %" PRIu64, st.levels, st.max_depth);
    probe_around(ix, &m, &rng, 1000);
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
}

/* ---- out of memory --------------------------------------------------------------------------- */

typedef struct snapshot {
    uint64_t *loc;
    size_t n;
    kix_stats st;
} snapshot;

static void snap_take(const kix *ix, snapshot *s)
{
    s->n = (size_t)kix_count(ix);
    s->loc = tu_xmalloc((s->n + 1) * sizeof *s->loc);
    kix_cursor c;
    size_t i = 0;
    for (bool ok = kix_first(ix, &c); ok; ok = kix_next(ix, &c)) {
        TU_REQUIRE(i < s->n, "scan longer than the count");
        s->loc[i++] = kix_cursor_loc(ix, &c);
    }
    TU_REQUIRE(i == s->n, "scan shorter than the count");
    kix_get_stats(ix, &s->st);
}

static void snap_expect_same(const kix *ix, const snapshot *s, const char *what, long at)
{
    snapshot now;
    snap_take(ix, &now);
    TU_REQUIRE(now.n == s->n && memcmp(now.loc, s->loc, s->n * sizeof *s->loc) == 0,
               "%s: failed at allocation %ld but the contents changed", what, at);
    TU_REQUIRE(now.st.prefix_len == s->st.prefix_len &&
                   now.st.prefix_rebuilds == s->st.prefix_rebuilds &&
                   now.st.prefix_regrows == s->st.prefix_regrows &&
                   now.st.buckets == s->st.buckets && now.st.bucket_keys == s->st.bucket_keys &&
                   now.st.max_bucket == s->st.max_bucket && now.st.levels == s->st.levels &&
                   now.st.level_keys == s->st.level_keys &&
                   now.st.max_depth == s->st.max_depth &&
                   now.st.level_rebuilds == s->st.level_rebuilds &&
                   now.st.memory_bytes == s->st.memory_bytes &&
                   now.st.alex.num_keys == s->st.alex.num_keys,
               "%s: failed at allocation %ld but the shape changed", what, at);
    check_kix(ix);
    free(now.loc);
}

enum {
    OOM_FIRST_PUT,    /* into an empty kix */
    OOM_NEW_BUCKET,   /* second key with an ALEX key */
    OOM_BUCKET_GROW,  /* bucket at capacity */
    OOM_TABLE_GROW,   /* a 17th bucket beside 16 others */
    OOM_REBUILD,      /* prefix shrink with many keys and collisions (nested groups) */
    OOM_BULK,         /* bulk load with collisions (nested groups) */
    OOM_NEST_CONVERT, /* a full bucket becomes a nested level */
    OOM_NEST_SHRINK,  /* a key cuts a nested level's prefix: the level is rebuilt */
    OOM_NEST_DEEP,    /* a full bucket inside a nested level becomes a level of depth 2 */
    OOM_NEST_BUCKET,  /* a new bucket / bucket growth inside a nested level */
    OOM_COUNT
};

static const char *const oom_names[OOM_COUNT] = {
    "first put",    "new bucket",   "bucket growth", "table growth",  "rebuild",
    "bulk load",    "nest convert", "nest shrink",   "nest depth 2", "nested bucket"};

/* Builds the starting state of scenario sc (round r) in ix/m, and the key of the operation. */
static void oom_setup(int sc, int r, tlog *lg, kix *ix, model *m, uint8_t *k, size_t *kl)
{
    char buf[64];
    switch (sc) {
    case OOM_FIRST_PUT:
        *kl = (size_t)snprintf((char *)k, MAX_KEY, "hello");
        break;
    case OOM_NEW_BUCKET:
    case OOM_BUCKET_GROW:
    case OOM_TABLE_GROW:
        put_str(lg, ix, m, "c");
        for (int i = 0; i < (sc == OOM_TABLE_GROW ? 16 : 1); i++) {
            int n = snprintf(buf, sizeof buf, "b%07d", i);
            put_both(lg, ix, m, (const uint8_t *)buf, (size_t)n);
            if (sc == OOM_TABLE_GROW) {
                buf[n] = '!';
                put_both(lg, ix, m, (const uint8_t *)buf, (size_t)n + 1);
            }
        }
        if (sc == OOM_BUCKET_GROW) /* a full bucket of 4 << r keys */
            for (int i = 0; i < (4 << r) - 1; i++) {
                int n = snprintf(buf, sizeof buf, "b0000000-%d", i);
                put_both(lg, ix, m, (const uint8_t *)buf, (size_t)n);
            }
        *kl = (size_t)snprintf((char *)k, MAX_KEY, "b%07d.", sc == OOM_TABLE_GROW ? 16 : 0);
        if (sc == OOM_TABLE_GROW) {
            k[8] = 0; /* "b0000016" then "b0000016\0" */
            put_both(lg, ix, m, k, 8);
            *kl = 9;
        }
        break;
    case OOM_REBUILD:
    case OOM_BULK:
        /* 16 ALEX keys of 125 keys each behind the prefix "zz". */
        for (int i = 0; i < 2000; i++) {
            int n = snprintf(buf, sizeof buf, "zz%c%c%c%cxyzw%d", "\1a"[i & 1],
                             "\1a"[(i >> 1) & 1], "\1a"[(i >> 2) & 1], "\1a"[(i >> 3) & 1], i);
            model_add_only(lg, m, (const uint8_t *)buf, (size_t)n);
        }
        if (sc == OOM_REBUILD) {
            bulk_both(ix, m);
            /* A key before everything, the empty key, a key diverging inside the prefix, one
             * after everything. */
            static const char *const rk[] = {"a", "", "zy", "{"};
            *kl = strlen(rk[r]);
            memcpy(k, rk[r], *kl);
        }
        break;
    case OOM_NEST_CONVERT: /* a bucket of 64 under "mmmmmmmm" (round 1: with a short key) */
        put_str(lg, ix, m, "a");
        put_str(lg, ix, m, "z");
        if (r == 1)
            put_str(lg, ix, m, "mmmmmmmm");
        for (int i = 0; i < (r == 1 ? 63 : 64); i++) {
            int n = snprintf(buf, sizeof buf, "mmmmmmmm%d", i);
            put_both(lg, ix, m, (const uint8_t *)buf, (size_t)n);
        }
        *kl = (size_t)snprintf((char *)k, MAX_KEY, "mmmmmmmm%s", r == 2 ? "" : "64");
        if (r == 2) /* the 65th key is the short one */
            *kl = 8;
        break;
    case OOM_NEST_SHRINK: /* a level under "nnnnnnnn" with prefix "CONSTANT" */
        put_str(lg, ix, m, "a");
        put_str(lg, ix, m, "z");
        for (int i = 0; i < 100; i++) {
            int n = snprintf(buf, sizeof buf, "nnnnnnnnCONSTANT%d", i * 7);
            put_both(lg, ix, m, (const uint8_t *)buf, (size_t)n);
        }
        {
            static const char *const sk[] = {"nnnnnnnnCONSTXNT", "nnnnnnnnC", "nnnnnnnnD",
                                             "nnnnnnnnCONSTANT"};
            *kl = strlen(sk[r]);
            memcpy(k, sk[r], *kl);
        }
        break;
    case OOM_NEST_DEEP:
    case OOM_NEST_BUCKET: /* a level under "pppppppp": 70 "A<id>" keys, a group "Bbbbbbbb" */
        put_str(lg, ix, m, "a");
        put_str(lg, ix, m, "z");
        for (int i = 0; i < 70; i++) {
            int n = snprintf(buf, sizeof buf, "ppppppppA%d", i);
            put_both(lg, ix, m, (const uint8_t *)buf, (size_t)n);
        }
        {
            int group = sc == OOM_NEST_DEEP ? 64 : r == 0 ? 1 : 4;
            for (int i = 0; i < group; i++) {
                int n = snprintf(buf, sizeof buf, "ppppppppBbbbbbbb%d", i);
                put_both(lg, ix, m, (const uint8_t *)buf, (size_t)n);
            }
            *kl = (size_t)snprintf((char *)k, MAX_KEY, "ppppppppBbbbbbbb%d", group);
        }
        break;
    default:
        break;
    }
}

static void test_out_of_memory(void **state)
{
    (void)state;
    long create_failures = 0, total[OOM_COUNT] = {0};
    for (long at = 0;; at++) { /* kix_create */
        kix *ix = (kix *)1;
        fi_arm(at);
        int rc = kix_create(tlog_key_at, NULL, &ix);
        bool fired = fi_disarm();
        if (rc == AXI_ENOMEM) {
            TU_REQUIRE(fired && ix == NULL, "kix_create ENOMEM without a failure or with output");
            create_failures++;
            continue;
        }
        TU_REQUIRE(rc == AXI_OK && !fired, "kix_create: %d", rc);
        kix_destroy(ix);
        break;
    }

    static const int rounds[OOM_COUNT] = {1, 1, 3, 1, 4, 1, 3, 4, 1, 2};
    for (int sc = 0; sc < OOM_COUNT; sc++) {
        for (int r = 0; r < rounds[sc]; r++) {
            long failures = 0;
            for (long at = 0;; at++) {
                tlog lg;
                tlog_init(&lg);
                model m;
                model_init(&m, &lg);
                kix *ix = new_kix(&lg);
                uint8_t k[MAX_KEY];
                size_t kl = 0;
                oom_setup(sc, r, &lg, ix, &m, k, &kl);
                snapshot before;
                snap_take(ix, &before);
                uint64_t loc = tlog_add(&lg, k, kl);
                int rc;
                bool fired;
                if (sc == OOM_BULK) {
                    fi_arm(at);
                    rc = kix_bulk_load(ix, m.loc, m.n);
                    fired = fi_disarm();
                } else {
                    fi_arm(at);
                    rc = kix_put(ix, k, kl, loc, NULL, NULL);
                    fired = fi_disarm();
                }
                if (rc == AXI_ENOMEM) {
                    TU_REQUIRE(fired, "%s: ENOMEM without an injected failure", oom_names[sc]);
                    snap_expect_same(ix, &before, oom_names[sc], at);
                    failures++;
                    /* Still usable: the same operation now succeeds. */
                    rc = sc == OOM_BULK ? kix_bulk_load(ix, m.loc, m.n)
                                        : kix_put(ix, k, kl, loc, NULL, NULL);
                }
                TU_REQUIRE(rc == AXI_OK, "%s: rc %d at allocation %ld", oom_names[sc], rc, at);
                if (sc == OOM_BULK) {
                    model_after_bulk(&m);
                } else {
                    uint64_t old;
                    model_put(&m, k, kl, loc, &old);
                    if (fired)
                        model_sync_regrow(&m, ix);
                }
                expect_all(ix, &m);
                if (!fired && sc != OOM_BULK) {
                    /* An overwrite never allocates; a delete never fails (an allocation it
                     * tries, to shrink something, may fail harmlessly). */
                    uint64_t loc2 = tlog_add(&lg, k, kl), old = 0, mold = 0;
                    bool rep = false;
                    fi_arm(0);
                    rc = kix_put(ix, k, kl, loc2, &old, &rep);
                    fired = fi_disarm();
                    TU_REQUIRE(rc == AXI_OK && rep && old == loc && !fired,
                               "%s: overwrite rc %d, allocated: %d", oom_names[sc], rc, (int)fired);
                    model_put(&m, k, kl, loc2, &mold);
                    fi_arm(0);
                    bool hit = kix_delete(ix, k, kl, &old);
                    bool dfired = fi_disarm();
                    TU_REQUIRE(hit && old == loc2, "%s: delete under failing malloc",
                               oom_names[sc]);
                    model_delete(&m, k, kl, &mold);
                    if (dfired)
                        model_sync_regrow(&m, ix);
                    expect_all(ix, &m);
                    fired = false;
                }
                free(before.loc);
                kix_destroy(ix);
                model_free(&m);
                tlog_free(&lg);
                if (!fired)
                    break;
            }
            TU_REQUIRE(failures > 0, "%s: no allocation to fail", oom_names[sc]);
            total[sc] += failures;
        }
    }
    printf("    failures injected: create %ld", create_failures);
    for (int sc = 0; sc < OOM_COUNT; sc++)
        printf(", %s %ld", oom_names[sc], total[sc]);
    printf("\n");
}

/* Deletes while every allocation fails: a nested level that falls below KIX_LEVEL_MIN cannot
 * collapse into a bucket and stays, down to a level holding only short keys (an empty tree),
 * which must keep working; at one key it collapses without allocating. And a regrow that fails
 * leaves the prefix as it was, to be retried later. */
static void test_out_of_memory_nested_deletes(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(__func__));
    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);
    uint8_t k[32];
    put_str(&lg, ix, &m, "a");
    put_str(&lg, ix, &m, "z");
    memset(k, 0, sizeof k);
    for (int i = 0; i < 56; i++) {
        int n = snprintf((char *)k + 8, 16, "L%d", i);
        put_both(&lg, ix, &m, k, 8 + (size_t)n);
    }
    memset(k, 0, sizeof k);
    for (size_t j = 0; j <= 8; j++) /* "" and 1..8 zero bytes: short keys of the group */
        put_both(&lg, ix, &m, k, j);
    expect_all(ix, &m);
    TU_REQUIRE(stats_of(ix).levels == 1, "expected a nested level");

    for (int i = 0; i < 56; i++) { /* every long key goes, with every allocation failing */
        int n = snprintf((char *)k + 8, 16, "L%d", i);
        fi_arm_all();
        delete_both(ix, &m, k, 8 + (size_t)n);
        if (fi_disarm())
            model_sync_regrow(&m, ix);
        memset(k, 0, sizeof k);
        expect_contents(ix, &m);
    }
    kix_stats st = stats_of(ix);
    TU_REQUIRE(st.levels == 1 && st.level_keys == 9, "%" PRIu64 " levels holding %" PRIu64,
               st.levels, st.level_keys);
    /* The level of short keys only: probes, walks, and puts of long keys into it. */
    for (size_t j = 0; j <= 10; j++) {
        expect_probe(ix, &m, k, j);
        k[j] = 1;
        expect_probe(ix, &m, k, j + 1);
        k[j] = 0;
    }
    probe_around(ix, &m, &rng, 300);
    for (int i = 0; i < 3; i++) {
        int n = snprintf((char *)k + 8, 16, "%c", "M\1L"[i]);
        uint64_t loc = tlog_add(&lg, k, 8 + (size_t)n);
        for (long at = 0;; at++) {
            fi_arm(at);
            int rc = kix_put(ix, k, 8 + (size_t)n, loc, NULL, NULL);
            bool fired = fi_disarm();
            if (rc == AXI_OK)
                break;
            TU_REQUIRE(rc == AXI_ENOMEM && fired, "put: rc %d", rc);
            expect_contents(ix, &m);
        }
        uint64_t old;
        model_put(&m, k, 8 + (size_t)n, loc, &old);
        memset(k, 0, sizeof k);
        expect_contents(ix, &m);
        probe_around(ix, &m, &rng, 200);
    }
    /* Down to one key with failing allocations: the level goes. */
    while (m.n > 3) {
        size_t l;
        const uint8_t *s = model_key(&m, (size_t)tu_rng_below(&rng, m.n - 2), &l); /* not a, z */
        uint8_t key[32];
        memcpy(key, s, l);
        fi_arm_all();
        delete_both(ix, &m, key, l);
        if (fi_disarm())
            model_sync_regrow(&m, ix);
        expect_contents(ix, &m);
        probe_around(ix, &m, &rng, 50);
    }
    st = stats_of(ix);
    TU_REQUIRE(st.levels == 0, "a level of one key survived");
    expect_all(ix, &m);
    kix_destroy(ix);
    model_free(&m);

    /* A regrow whose allocation fails. */
    model_init(&m, &lg);
    ix = new_kix(&lg);
    put_str(&lg, ix, &m, "");
    char buf[32];
    for (int i = 0; i < 200; i++) {
        int n = snprintf(buf, sizeof buf, "user:profile:%d", i);
        put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)n);
    }
    fi_arm_all();
    delete_both(ix, &m, (const uint8_t *)"", 0);
    TU_REQUIRE(fi_disarm(), "the regrow did not allocate");
    model_sync_regrow(&m, ix);
    expect_all(ix, &m);
    st = stats_of(ix);
    TU_REQUIRE(st.prefix_regrows == 0 && st.prefix_len == 0, "regrow despite the failure");
    for (int i = 0; stats_of(ix).prefix_regrows == 0; i++) {
        TU_REQUIRE(i < 300, "no regrow after the failed one");
        int n = snprintf(buf, sizeof buf, "user:profile:%d", i % 200);
        delete_both(ix, &m, (const uint8_t *)buf, (size_t)n);
        put_both(&lg, ix, &m, (const uint8_t *)buf, (size_t)n);
    }
    expect_all(ix, &m);
    TU_REQUIRE(stats_of(ix).prefix_len == 13, "prefix after the regrow");
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
}

/* A random sequence of puts and deletes (db_bench keys, tiny-alphabet keys that collide, keys in
 * two groups that nest, a long first key so the prefix shrinks): every put is first tried with its
 * 1st, 2nd, ... allocation failing until it succeeds; each failure must leave the kix exactly as
 * the model says. */
static void test_out_of_memory_sequence(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(__func__));
    size_t n = tu_scaled(4000, 400);
    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);
    uint8_t k[MAX_KEY];
    long failures = 0, failed_puts = 0;
    for (size_t i = 0; i < n; i++) {
        size_t kl;
        if (i == 0) {
            memset(k, 'L', 40);
            kl = 40;
        } else if (tu_rng_below(&rng, 10) < 4) {
            uint64_t id = tu_rng_below(&rng, 4 * n);
            for (int b = 0; b < 8; b++)
                k[b] = (uint8_t)(id >> (56 - 8 * b));
            memset(k + 8, '0', 8);
            kl = 16;
        } else if (tu_rng_below(&rng, 6) < 4) { /* groups that nest */
            kl = (size_t)snprintf((char *)k, MAX_KEY, "N%c~~~~~~~~~~~~constant%" PRIu64,
                                  "ab"[tu_rng_below(&rng, 2)], tu_rng_below(&rng, 2 * n));
            if (tu_rng_below(&rng, 10) == 0)
                kl = (size_t)tu_rng_below(&rng, kl + 1);
        } else {
            kl = 9 + (size_t)tu_rng_below(&rng, 6);
            for (size_t j = 0; j < kl; j++)
                k[j] = "\0\1a"[tu_rng_below(&rng, 3)];
        }
        if (tu_rng_below(&rng, 8) == 0) {
            fi_arm((long)tu_rng_below(&rng, 3));
            uint64_t old = 0, mold = 0;
            bool hit = kix_delete(ix, k, kl, &old);
            bool fired = fi_disarm();
            TU_REQUIRE(hit == model_delete(&m, k, kl, &mold) && (!hit || old == mold),
                       "delete under failing malloc");
            if (fired)
                model_sync_regrow(&m, ix);
            continue;
        }
        uint64_t loc = tlog_add(&lg, k, kl);
        bool any = false, put_fired = false;
        for (long at = 0;; at++) {
            fi_arm(at);
            int rc = kix_put(ix, k, kl, loc, NULL, NULL);
            bool fired = fi_disarm();
            if (rc == AXI_OK) {
                put_fired = fired;
                break;
            }
            TU_REQUIRE(rc == AXI_ENOMEM && fired, "put %zu: rc %d (failure injected: %d)", i, rc,
                       (int)fired);
            failures++;
            any = true;
            if (at < 4 || tu_rng_below(&rng, 8) == 0) /* full checks cost O(n) */
                expect_all(ix, &m);
        }
        failed_puts += any;
        uint64_t old;
        model_put(&m, k, kl, loc, &old);
        if (put_fired)
            model_sync_regrow(&m, ix);
        if (i % 500 == 0)
            expect_all(ix, &m);
    }
    expect_all(ix, &m);
    kix_stats st = stats_of(ix);
    printf("    %zu operations, %ld puts failed %ld times in all; end: %" PRIu64 " levels, %" PRIu64
           " buckets\n", n, failed_puts, failures, st.levels, st.buckets);
    TU_REQUIRE(m.rebuilds > 0 && failed_puts > 0 && st.levels > 0,
               "no rebuild, no allocation failure or no nesting");
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
}

/* ---- differential test against the model ----------------------------------------------------- */

enum {
    GEN_BIN_SHORT, /* 0..12 random bytes, biased to 00/01/7f/80/ff and to short lengths */
    GEN_DBBENCH,   /* 8-byte big-endian number + 8 bytes '0' */
    GEN_PREFIX_ID, /* "user:profile:<id>", some 9-digit ids colliding on their first 8 */
    GEN_TINY,      /* 0..40 bytes over {00, 01, 'a'}: heavy collisions */
    GEN_MIXED,     /* any of the above per key */
    GEN_SHRINKING, /* phase-dependent: long prefixed keys first, then shorter, then anything */
    GEN_NEST,      /* 0-3 varying bytes, 20 constant bytes, an id: groups nest; some truncated
                    * (short keys, prefix cuts), rarely the empty key */
    GEN_RUNS,      /* "R" + 1 of 3 bytes + a 300-byte run + id, ladder keys ending inside the
                    * run, strays diverging inside it: deep nesting, level prefix shrinks */
    GEN_KINDS
};

static const char *const gen_names[GEN_KINDS] = {"bin_short", "dbbench",   "prefix_id", "tiny",
                                                 "mixed",     "shrinking", "nest",      "runs"};

static size_t gen_key(int kind, int phase, size_t range, tu_rng *r, uint8_t *k)
{
    static const uint8_t special[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    size_t len;
    switch (kind) {
    case GEN_BIN_SHORT:
        len = (size_t)(tu_rng_below(r, 4) == 0 ? tu_rng_below(r, 13) : tu_rng_below(r, 5));
        for (size_t i = 0; i < len; i++)
            k[i] = tu_rng_below(r, 2) ? special[tu_rng_below(r, 5)] : (uint8_t)tu_rng_next(r);
        return len;
    case GEN_DBBENCH: {
        uint64_t id = tu_rng_below(r, range);
        for (int b = 0; b < 8; b++)
            k[b] = (uint8_t)(id >> (56 - 8 * b));
        memset(k + 8, '0', 8);
        return 16;
    }
    case GEN_PREFIX_ID: {
        uint64_t id = tu_rng_below(r, 10) == 0 ? 100000000 + tu_rng_below(r, 30)
                                               : tu_rng_below(r, range);
        return (size_t)snprintf((char *)k, MAX_KEY, "user:profile:%" PRIu64, id);
    }
    case GEN_TINY:
        len = (size_t)tu_rng_below(r, 41);
        for (size_t i = 0; i < len; i++)
            k[i] = "\0\1a"[tu_rng_below(r, 3)];
        return len;
    case GEN_MIXED:
        if (tu_rng_below(r, 50) == 0)
            return 0;
        return gen_key((int)tu_rng_below(r, GEN_MIXED), phase, range, r, k);
    case GEN_NEST: {
        if (tu_rng_below(r, 300) == 0)
            return 0;
        size_t v = (size_t)tu_rng_below(r, 4);
        for (size_t i = 0; i < v; i++)
            k[i] = "\0\1ab\xff"[tu_rng_below(r, 5)];
        memcpy(k + v, "~~~~constant~~~~~20b", 20);
        len = v + 20;
        len += (size_t)snprintf((char *)k + len, 24, "%" PRIu64, tu_rng_below(r, range));
        if (tu_rng_below(r, 16) == 0) /* cut inside the constant part or the id */
            len = (size_t)tu_rng_below(r, len + 1);
        return len;
    }
    case GEN_RUNS: {
        enum { RUN = 300 };
        k[0] = 'R';
        k[1] = "\0Ma"[tu_rng_below(r, 3)];
        memset(k + 2, 'x', RUN);
        uint64_t what = tu_rng_below(r, 100);
        if (what < 10) /* ladder: ends inside the run */
            return 2 + (size_t)tu_rng_below(r, RUN + 1);
        if (what < 12) { /* stray: diverges inside the run */
            len = 2 + (size_t)tu_rng_below(r, RUN);
            k[len] = tu_rng_below(r, 2) ? 'w' : 'y';
            return len + 1;
        }
        return 2 + RUN + (size_t)snprintf((char *)k + 2 + RUN, 24, "%" PRIu64,
                                          tu_rng_below(r, range));
    }
    default: /* GEN_SHRINKING */
        switch (phase) {
        case 0: { /* long: "user:profile:<id>:" + up to 300 bytes of padding */
            int n = snprintf((char *)k, MAX_KEY, "user:profile:%" PRIu64 ":",
                             tu_rng_below(r, range));
            size_t pad = (size_t)tu_rng_below(r, 300);
            memset(k + n, 'p', pad);
            return (size_t)n + pad;
        }
        case 1:
            return (size_t)snprintf((char *)k, MAX_KEY, "user:profile:%" PRIu64,
                                    tu_rng_below(r, range));
        case 2:
            return (size_t)snprintf((char *)k, MAX_KEY, "user:%c%" PRIu64,
                                    (char)('a' + tu_rng_below(r, 26)), tu_rng_below(r, range));
        default:
            if (tu_rng_below(r, 20) == 0)
                return 0;
            return gen_key(tu_rng_below(r, 2) ? GEN_TINY : GEN_BIN_SHORT, 0, range, r, k);
        }
    }
}

typedef struct pool {
    uint8_t (*k)[MAX_KEY];
    size_t *len;
    size_t n;
    size_t tier_end[4]; /* keys usable in phase p: [0, tier_end[p]) */
} pool;

/* Picks a key for an operation: mostly from the pool (hits), else fresh. */
static size_t pick_key(const pool *pl, int kind, int phase, size_t range, tu_rng *r, uint8_t *k)
{
    if (tu_rng_below(r, 100) < 85) {
        size_t i = (size_t)tu_rng_below(r, pl->tier_end[phase]);
        memcpy(k, pl->k[i], pl->len[i]);
        return pl->len[i];
    }
    return gen_key(kind, phase, range, r, k);
}

/* A seek target: pool keys, fresh keys, and pool keys nudged to fall between stored ones. */
static size_t pick_probe(const pool *pl, int kind, int phase, size_t range, tu_rng *r,
                         uint8_t *k)
{
    size_t len = pick_key(pl, kind, phase, range, r, k);
    switch (tu_rng_below(r, 10)) {
    case 0:
        k[len++] = 0;
        break;
    case 1:
        k[len++] = (uint8_t)tu_rng_next(r);
        break;
    case 2:
        if (len)
            len--;
        break;
    case 3:
        if (len && k[len - 1] < 0xff)
            k[len - 1]++;
        break;
    case 4:
        if (len && k[len - 1] > 0)
            k[len - 1]--;
        break;
    case 5:
        if (tu_rng_below(r, 4) == 0)
            len = 0;
        else
            len = (size_t)tu_rng_below(r, len + 1);
        break;
    default:
        break;
    }
    return len;
}

/* A short walk from the position of the last probe, changing direction at random. */
static void walk(const kix *ix, const model *m, kix_cursor *c, size_t pos, bool fwd, tu_rng *r)
{
    int steps = (int)tu_rng_below(r, 12);
    for (int s = 0; s < steps; s++) {
        bool f = tu_rng_below(r, 4) ? fwd : !fwd;
        bool ok = f ? kix_next(ix, c) : kix_prev(ix, c);
        bool want = f ? pos + 1 < m->n : pos > 0;
        TU_REQUIRE(ok == want, "walk step %d (%s) from position %zu of %zu: %d", s,
                   f ? "next" : "prev", pos, m->n, (int)ok);
        if (!ok)
            return;
        pos = f ? pos + 1 : pos - 1;
        TU_REQUIRE(kix_cursor_loc(ix, c) == m->loc[pos], "walk step %d reached the wrong key", s);
    }
}

static void run_oracle(int kind, bool bulk_start)
{
    char name[64];
    snprintf(name, sizeof name, "oracle_%s%s", gen_names[kind], bulk_start ? "_bulk" : "");
    tu_rng rng;
    tu_rng_init(&rng, tu_seed(name));
    size_t ops = tu_scaled(OPS_PER_CASE, 4000);
    size_t pool_n = tu_scaled(POOL_KEYS, 300);
    size_t range = pool_n * 3;

    pool pl;
    pl.k = tu_xmalloc(pool_n * sizeof *pl.k);
    pl.len = tu_xmalloc(pool_n * sizeof *pl.len);
    pl.n = pool_n;
    for (int p = 0; p < 4; p++) {
        size_t from = p ? pl.tier_end[p - 1] : 0;
        size_t to = kind == GEN_SHRINKING ? pool_n * (size_t)(p + 1) / 4 : pool_n;
        for (size_t i = from; i < to; i++)
            pl.len[i] = gen_key(kind, p, range, &rng, pl.k[i]);
        pl.tier_end[p] = to;
    }

    tlog lg;
    tlog_init(&lg);
    model m;
    model_init(&m, &lg);
    kix *ix = new_kix(&lg);
    uint8_t k[MAX_KEY + 2];
    if (bulk_start) {
        for (size_t i = 0; i < pool_n / 2; i++) {
            size_t len = pick_key(&pl, kind, 0, range, &rng, k);
            model_add_only(&lg, &m, k, len);
        }
        bulk_both(ix, &m);
        expect_all(ix, &m);
    }

    /* Phases: grow, mixed, shrink, mixed. Weights: put, delete, get, seek, seek_for_prev,
     * first/last. */
    static const int weights[4][6] = {
        {55, 10, 15, 8, 8, 4}, {30, 25, 20, 10, 10, 5}, {10, 55, 15, 8, 8, 4},
        {30, 25, 20, 10, 10, 5}};
    uint64_t n_put = 0, n_del = 0, n_seek = 0, max_keys = 0;
    bool emptied = false;
    for (int phase = 0; phase < 4; phase++) {
        for (size_t op = 0; op < ops / 4; op++) {
            int w = (int)tu_rng_below(&rng, 100), which = 0;
            while (w >= weights[phase][which])
                w -= weights[phase][which++];
            size_t len;
            switch (which) {
            case 0:
                len = pick_key(&pl, kind, phase, range, &rng, k);
                put_both(&lg, ix, &m, k, len);
                n_put++;
                break;
            case 1:
                len = pick_key(&pl, kind, phase, range, &rng, k);
                delete_both(ix, &m, k, len);
                n_del++;
                break;
            case 2:
                len = pick_key(&pl, kind, phase, range, &rng, k);
                expect_probe(ix, &m, k, len);
                break;
            case 3:
            case 4: {
                len = pick_probe(&pl, kind, phase, range, &rng, k);
                expect_probe(ix, &m, k, len); /* get, seek and seek_for_prev */
                bool eq;
                size_t i = model_lower(&m, k, len, &eq);
                kix_cursor c;
                if (which == 3 && kix_seek(ix, k, len, &c))
                    walk(ix, &m, &c, i, true, &rng);
                if (which == 4 && kix_seek_for_prev(ix, k, len, &c))
                    walk(ix, &m, &c, eq ? i : i - 1, false, &rng);
                n_seek++;
                break;
            }
            default: {
                kix_cursor c;
                bool last = tu_rng_below(&rng, 2);
                bool ok = last ? kix_last(ix, &c) : kix_first(ix, &c);
                TU_REQUIRE(ok == (m.n > 0), "first/last on %zu keys", m.n);
                if (ok) {
                    size_t pos = last ? m.n - 1 : 0;
                    TU_REQUIRE(kix_cursor_loc(ix, &c) == m.loc[pos], "first/last key");
                    walk(ix, &m, &c, pos, !last, &rng);
                }
                break;
            }
            }
            if (m.n > max_keys)
                max_keys = m.n;
            if (op % 5000 == 4999)
                expect_all(ix, &m);
        }
        expect_all(ix, &m);
        if (phase == 2 && tu_rng_below(&rng, 2)) {
            /* Empty the kix through a cursor-driven delete of every key: the prefix resets,
             * and the last phase starts over. */
            while (m.n) {
                kix_cursor c;
                TU_REQUIRE(kix_last(ix, &c), "kix_last with %zu keys", m.n);
                size_t l;
                const uint8_t *key = tlog_key(&lg, kix_cursor_loc(ix, &c), &l);
                memcpy(k, key, l);
                delete_both(ix, &m, k, l);
            }
            expect_all(ix, &m);
            emptied = true;
        }
    }
    kix_stats st;
    kix_get_stats(ix, &st);
    printf("    %s: %" PRIu64 " puts, %" PRIu64 " deletes, %" PRIu64 " seeks, up to %" PRIu64
           " keys; end: %zu keys, prefix %" PRIu64 ", %" PRIu64 " rebuilds, %" PRIu64
           " regrows, %" PRIu64 " buckets (%" PRIu64 " keys), %" PRIu64 " levels (%" PRIu64
           " keys, depth %" PRIu64 ", %" PRIu64 " level rebuilds)%s\n",
           name, n_put, n_del, n_seek, max_keys, m.n, st.prefix_len, st.prefix_rebuilds,
           st.prefix_regrows, st.buckets, st.bucket_keys, st.levels, st.level_keys,
           st.max_depth, st.level_rebuilds, emptied ? "; emptied after the shrink phase" : "");
    kix_destroy(ix);
    model_free(&m);
    tlog_free(&lg);
    free(pl.k);
    free(pl.len);
}

#define ORACLE_TEST(kind, bulk, fn)                                                                \
    static void fn(void **state)                                                                   \
    {                                                                                              \
        (void)state;                                                                               \
        run_oracle(kind, bulk);                                                                    \
    }

ORACLE_TEST(GEN_BIN_SHORT, false, test_oracle_bin_short)
ORACLE_TEST(GEN_DBBENCH, false, test_oracle_dbbench)
ORACLE_TEST(GEN_PREFIX_ID, false, test_oracle_prefix_id)
ORACLE_TEST(GEN_TINY, false, test_oracle_tiny)
ORACLE_TEST(GEN_MIXED, false, test_oracle_mixed)
ORACLE_TEST(GEN_SHRINKING, false, test_oracle_shrinking)
ORACLE_TEST(GEN_BIN_SHORT, true, test_oracle_bin_short_bulk)
ORACLE_TEST(GEN_PREFIX_ID, true, test_oracle_prefix_id_bulk)
ORACLE_TEST(GEN_TINY, true, test_oracle_tiny_bulk)
ORACLE_TEST(GEN_MIXED, true, test_oracle_mixed_bulk)
ORACLE_TEST(GEN_NEST, false, test_oracle_nest)
ORACLE_TEST(GEN_NEST, true, test_oracle_nest_bulk)
ORACLE_TEST(GEN_RUNS, false, test_oracle_runs)
ORACLE_TEST(GEN_RUNS, true, test_oracle_runs_bulk)

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_args),
        cmocka_unit_test(test_large_locations),
        cmocka_unit_test(test_empty_kix),
        cmocka_unit_test(test_empty_key),
        cmocka_unit_test(test_embedded_zeros),
        cmocka_unit_test(test_short_keys_exhaustive),
        cmocka_unit_test(test_collisions_after_byte8),
        cmocka_unit_test(test_prefix_shrink_moments),
        cmocka_unit_test(test_seek_outside_prefix),
        cmocka_unit_test(test_overwrite_and_delete),
        cmocka_unit_test(test_bulk_load),
        cmocka_unit_test(test_dbbench_keys),
        cmocka_unit_test(test_user_profile_keys),
        cmocka_unit_test(test_stray_key),
        cmocka_unit_test(test_tenant_keys),
        cmocka_unit_test(test_long_shared_runs),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_nested_cursors),
        cmocka_unit_test(test_nested_collapse),
        cmocka_unit_test(test_prefix_regrow),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_out_of_memory_sequence),
        cmocka_unit_test(test_out_of_memory_nested_deletes),
        cmocka_unit_test(test_oracle_bin_short),
        cmocka_unit_test(test_oracle_dbbench),
        cmocka_unit_test(test_oracle_prefix_id),
        cmocka_unit_test(test_oracle_tiny),
        cmocka_unit_test(test_oracle_mixed),
        cmocka_unit_test(test_oracle_shrinking),
        cmocka_unit_test(test_oracle_bin_short_bulk),
        cmocka_unit_test(test_oracle_prefix_id_bulk),
        cmocka_unit_test(test_oracle_tiny_bulk),
        cmocka_unit_test(test_oracle_mixed_bulk),
        cmocka_unit_test(test_oracle_nest),
        cmocka_unit_test(test_oracle_nest_bulk),
        cmocka_unit_test(test_oracle_runs),
        cmocka_unit_test(test_oracle_runs_bulk),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
