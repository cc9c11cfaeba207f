/*
 * axp_conformance.c: a seeded random walk through Debian's <rocksdb/c.h> (RocksDB 7.8.3) that
 * prints a transcript, one line per call with everything the call lets a program observe.
 *
 * The same program runs against real RocksDB and against librocksdb_alex.so (LD_PRELOAD, or a
 * copy linked directly against the plugin); run_compare.sh compares the transcripts byte for
 * byte. Real RocksDB is the oracle: nothing here encodes the expected results.
 *
 * What a line may contain, so that two conforming implementations print the same bytes:
 *   - keys and short values in hex ("x" + hex; the empty string is "x"), long values as
 *     "#<length>:<FNV-1a 64 hash>";
 *   - "missing" for NotFound, "ok" for success, "err=<prefix>" for a failure, where <prefix> is
 *     the error message up to its first ':' ("Invalid argument", "IO error", ...): the rest of a
 *     message (paths, errno texts) may legitimately differ;
 *   - iterator positions, counts, write batch counts and sequence numbers;
 *   - nothing about key_may_exist beyond its contract: the line says "ok" unless it claimed a
 *     present key absent or returned a value different from rocksdb_get's ("VIOLATION").
 * RocksDB's rules for callers are kept: no Next/Prev on an invalid iterator, every iterator
 * destroyed and snapshot released before its database closes, bounds with lower <= upper, and
 * SingleDelete only where RocksDB defines it. That last rule is strict: a key that was ever
 * deleted, range-deleted or merged, or put twice without a SingleDelete in between, may come
 * back to life after a SingleDelete (RocksDB 7.8.3 does resurrect such values, seen with this
 * program). So the last NSD keys of the key space are "SingleDelete keys": they only ever see
 * Put and SingleDelete, alternately, and no range deletion covers them; the other keys never
 * see SingleDelete.
 *
 * Usage: axp_conformance [--steps N] [--seed S] DIR
 *   DIR       scratch directory, emptied of the program's databases first
 *   --steps N number of random steps (default 10000; env ALEXSTORAGE_CONFORMANCE_STEPS)
 *   --seed S  seed (default: env ALEXSTORAGE_SEED, else taken from the clock); printed first
 * Exit status 0 unless the program could not run (bad flags, DIR unusable); differences in
 * behaviour show only in the transcript.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

/* ---- random numbers: splitmix64 ---------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t rnd(uint32_t n) { return (uint32_t)(rnd64() % n); }
/* True with probability pct/100. */
static int chance(uint32_t pct) { return rnd(100) < pct; }

/* ---- transcript output ------------------------------------------------------------------- */

static uint64_t step_no;

static void print_bytes(const char *p, size_t n)
{
    if (n <= 24) {
        putchar('x');
        for (size_t i = 0; i < n; i++)
            printf("%02x", (unsigned char)p[i]);
        return;
    }
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    printf("#%zu:%016" PRIx64, n, h);
}

/* Prints " ok" or " err=<prefix>" and frees the message. */
static void print_err(char **err)
{
    if (*err == NULL) {
        fputs(" ok", stdout);
        return;
    }
    const char *colon = strchr(*err, ':');
    int n = colon ? (int)(colon - *err) : (int)strlen(*err);
    printf(" err=%.*s", n, *err);
    free(*err);
    *err = NULL;
}

static void line_start(const char *db, const char *op)
{
    printf("%" PRIu64 " %s %s", step_no, db, op);
}

static void line_end(void) { putchar('\n'); }

static void die(const char *what)
{
    fflush(stdout);
    fprintf(stderr, "axp_conformance: %s\n", what);
    exit(2);
}

/* ---- the key space ------------------------------------------------------------------------ */

#define NKEYS 40
#define NSD 6 /* keys[NKEYS - NSD ..] are the SingleDelete keys */
#define MAXKEY 24

typedef struct {
    char b[MAXKEY + 1];
    size_t n;
} tkey;

static tkey keys[NKEYS];

static void gen_keys(void)
{
    static const unsigned char alphabet[] = {0x00, 0x01, 'a', 'b', 'c', 0x7f, 0x80, 0xfe, 0xff};
    keys[0].n = 0; /* the empty key */
    keys[1].n = 1;
    keys[1].b[0] = 0x00;
    keys[2].n = 1;
    keys[2].b[0] = (char)0xff;
    for (int i = 3; i < NKEYS; i++) {
    again:
        if (chance(30)) { /* extend an earlier key: prefixes of each other */
            const tkey *base = &keys[rnd((uint32_t)i)];
            if (base->n >= MAXKEY)
                goto again;
            keys[i] = *base;
            keys[i].b[keys[i].n++] = (char)alphabet[rnd(sizeof alphabet)];
        } else {
            keys[i].n = 1 + (chance(70) ? rnd(6) : rnd(MAXKEY));
            for (size_t j = 0; j < keys[i].n; j++)
                keys[i].b[j] = (char)(chance(80) ? alphabet[rnd(sizeof alphabet)] : rnd(256));
        }
        for (int j = 0; j < i; j++)
            if (keys[j].n == keys[i].n && memcmp(keys[j].b, keys[i].b, keys[i].n) == 0)
                goto again;
    }
}

/* A key for a read, seek or bound: usually from the key space, sometimes a fresh one. */
static tkey any_key(void)
{
    if (chance(85))
        return keys[rnd(NKEYS)];
    tkey k;
    k.n = rnd(8);
    for (size_t j = 0; j < k.n; j++)
        k.b[j] = (char)(chance(50) ? (uint32_t)(unsigned char)"\x00\x01" "ab\x7f\x80\xff"[rnd(7)]
                                   : rnd(256));
    return k;
}

static int key_cmp(const tkey *a, const tkey *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->b, b->b, n);
    if (c)
        return c;
    return a->n < b->n ? -1 : a->n > b->n;
}

/* ---- values ------------------------------------------------------------------------------- */

static char valbuf[40000];

static size_t gen_value(int uint64_db)
{
    size_t n;
    if (uint64_db && chance(70)) {
        n = 8;
        if (chance(30)) { /* small numbers, whose sums are easy to read in the transcript */
            memset(valbuf, 0, 8);
            valbuf[0] = (char)rnd(16);
            return 8;
        }
    } else {
        uint32_t r = rnd(100);
        n = r < 10 ? 0 : r < 70 ? 1 + rnd(16) : r < 96 ? 17 + rnd(200) : 1000 + rnd(30000);
    }
    for (size_t i = 0; i < n; i++)
        valbuf[i] = (char)(chance(60) ? 'a' + rnd(26) : rnd(256));
    return n;
}

/* ---- the string-append merge operator (database A) ---------------------------------------- */

static char *join(const char *first, size_t first_len, int has_first, const char *const *ops,
                  const size_t *lens, int n, size_t *out_len)
{
    size_t total = has_first ? first_len + 1 : 0;
    for (int i = 0; i < n; i++)
        total += lens[i] + 1;
    char *out = malloc(total + 1);
    if (!out)
        die("out of memory");
    size_t at = 0;
    if (has_first) {
        memcpy(out, first, first_len);
        at = first_len;
    }
    for (int i = 0; i < n; i++) {
        if (has_first || i > 0)
            out[at++] = ',';
        memcpy(out + at, ops[i], lens[i]);
        at += lens[i];
    }
    *out_len = at;
    return out;
}

static char *sa_full_merge(void *state, const char *key, size_t key_length,
                           const char *existing_value, size_t existing_value_length,
                           const char *const *operands_list, const size_t *operands_list_length,
                           int num_operands, unsigned char *success, size_t *new_value_length)
{
    (void)state, (void)key, (void)key_length;
    *success = 1;
    return join(existing_value, existing_value_length, existing_value != NULL, operands_list,
                operands_list_length, num_operands, new_value_length);
}

static char *sa_partial_merge(void *state, const char *key, size_t key_length,
                              const char *const *operands_list, const size_t *operands_list_length,
                              int num_operands, unsigned char *success, size_t *new_value_length)
{
    (void)state, (void)key, (void)key_length;
    *success = 1;
    return join(NULL, 0, 0, operands_list, operands_list_length, num_operands, new_value_length);
}

static void sa_delete_value(void *state, const char *value, size_t value_length)
{
    (void)state, (void)value_length;
    free((void *)value);
}

/* Real RocksDB calls the destructor without checking it for NULL. */
static void sa_destructor(void *state) { (void)state; }

static const char *sa_name(void *state)
{
    (void)state;
    return "axp.StringAppendConformance";
}

/* ---- databases under test ----------------------------------------------------------------- */

#define MAXSNAP 4

typedef struct {
    const char *name;  /* "A": string-append merge, "B": uint64add merge */
    char path[4096];
    int uint64;
    rocksdb_options_t *opts;
    rocksdb_t *db;
    const rocksdb_snapshot_t *snaps[MAXSNAP];
    int nsnaps;
    /* For SingleDelete keys: 1 if the key holds a Put not yet single-deleted, else 0. */
    unsigned char puts[NKEYS];
    uint64_t seq_at_open; /* latest sequence number right after the last open */
} tdb;

static tdb dbs[2];
static rocksdb_writeoptions_t *wopts;
static char workdir[4096];
static unsigned missing_no;

static void make_options(tdb *t)
{
    t->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(t->opts, 1);
    /* Small memtables make real RocksDB flush and compact in the background, so merges,
     * tombstones and snapshots cross memtable, L0 and deeper levels. */
    rocksdb_options_set_write_buffer_size(t->opts, 64 << 10);
    if (t->uint64) {
        rocksdb_options_set_uint64add_merge_operator(t->opts);
    } else {
        rocksdb_mergeoperator_t *mo = rocksdb_mergeoperator_create(
            NULL, sa_destructor, sa_full_merge, sa_partial_merge, sa_delete_value, sa_name);
        rocksdb_options_set_merge_operator(t->opts, mo);
    }
}

/* Sequence numbers are compared as the count consumed since the last open: each write takes
 * exactly as many in RocksDB as in the plugin, but the absolute number after a reopen is, in
 * RocksDB, the largest one its flushed files kept, which drops when a flush discards trailing
 * entries (a SingleDelete meeting its Put, an empty range deletion); the plugin keeps the
 * largest one assigned. Reopen itself is printed as "open", with the seq consumed before. */
static void print_seq(tdb *t)
{
    line_start(t->name, "seq");
    printf(" +%" PRIu64, rocksdb_get_latest_sequence_number(t->db) - t->seq_at_open);
    line_end();
}

static void db_open(tdb *t, const char *why)
{
    char *err = NULL;
    t->db = rocksdb_open(t->opts, t->path, &err);
    line_start(t->name, "open");
    printf(" %s", why);
    print_err(&err);
    line_end();
    if (!t->db)
        die("cannot open a database under test; see the transcript");
    t->seq_at_open = rocksdb_get_latest_sequence_number(t->db);
}

static void release_snapshots(tdb *t)
{
    for (int i = 0; i < t->nsnaps; i++)
        rocksdb_release_snapshot(t->db, t->snaps[i]);
    t->nsnaps = 0;
}

static void db_close(tdb *t)
{
    release_snapshots(t);
    rocksdb_close(t->db);
    t->db = NULL;
}

/* A read options object, at a random live snapshot (printed as @i) or none (@-). */
static rocksdb_readoptions_t *make_ropts(tdb *t, int *snap)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    *snap = -1;
    if (t->nsnaps > 0 && chance(40)) {
        *snap = (int)rnd((uint32_t)t->nsnaps);
        rocksdb_readoptions_set_snapshot(ro, t->snaps[*snap]);
    }
    return ro;
}

static void print_snap(int snap)
{
    if (snap < 0)
        fputs(" @-", stdout);
    else
        printf(" @%d", snap);
}

/* ---- write steps -------------------------------------------------------------------------- */

static int is_sd_key(int k) { return k >= NKEYS - NSD; }

/* A key for a Delete or Merge: never a SingleDelete key. */
static int plain_key(void) { return (int)rnd(NKEYS - NSD); }

/* A range [lo, hi) that covers no SingleDelete key (empty if none is found). */
static void gen_range(tkey *lo, tkey *hi)
{
    for (int tries = 0; tries < 20; tries++) {
        *lo = any_key();
        *hi = any_key();
        if (key_cmp(lo, hi) > 0) {
            tkey tmp = *lo;
            *lo = *hi;
            *hi = tmp;
        }
        int covers = 0;
        for (int k = NKEYS - NSD; k < NKEYS; k++)
            if (key_cmp(&keys[k], lo) >= 0 && key_cmp(&keys[k], hi) < 0)
                covers = 1;
        if (!covers)
            return;
    }
    *hi = *lo;
}

static void step_delete(tdb *t);

static void step_put(tdb *t)
{
    int k = (int)rnd(NKEYS);
    if (is_sd_key(k) && t->puts[k]) { /* a second Put would break SingleDelete's rule */
        step_delete(t);
        return;
    }
    size_t vn = gen_value(t->uint64);
    char *err = NULL;
    rocksdb_put(t->db, wopts, keys[k].b, keys[k].n, valbuf, vn, &err);
    line_start(t->name, "put ");
    print_bytes(keys[k].b, keys[k].n);
    putchar(' ');
    print_bytes(valbuf, vn);
    if (!err && is_sd_key(k))
        t->puts[k] = 1;
    print_err(&err);
    line_end();
}

static void step_delete(tdb *t)
{
    /* A SingleDelete key holding a Put: SingleDelete; otherwise a plain key: Delete. */
    int k = (int)rnd(NKEYS);
    if (!is_sd_key(k) || !t->puts[k])
        k = plain_key();
    char *err = NULL;
    int single = is_sd_key(k);
    if (single)
        rocksdb_singledelete(t->db, wopts, keys[k].b, keys[k].n, &err);
    else
        rocksdb_delete(t->db, wopts, keys[k].b, keys[k].n, &err);
    line_start(t->name, single ? "sdel " : "del ");
    print_bytes(keys[k].b, keys[k].n);
    if (!err && single)
        t->puts[k] = 0;
    print_err(&err);
    line_end();
}

static void step_merge(tdb *t)
{
    int k = plain_key();
    size_t vn = gen_value(t->uint64);
    if (!t->uint64 && vn > 40)
        vn = rnd(8); /* string-append values grow with every merge: keep operands short */
    char *err = NULL;
    rocksdb_merge(t->db, wopts, keys[k].b, keys[k].n, valbuf, vn, &err);
    line_start(t->name, "merge ");
    print_bytes(keys[k].b, keys[k].n);
    putchar(' ');
    print_bytes(valbuf, vn);
    print_err(&err);
    line_end();
}

static void step_batch(tdb *t)
{
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    unsigned char puts[NKEYS];
    unsigned char saved[16][NKEYS]; /* more than the 12 records a batch can have */
    int nsaved = 0;
    memcpy(puts, t->puts, sizeof puts);
    int nops = 1 + (int)rnd(12);
    line_start(t->name, "batch");
    printf(" ops=%d", nops);
    line_end();
    for (int i = 0; i < nops; i++) {
        int k = (int)rnd(NKEYS);
        uint32_t r = rnd(100);
        if (r < 35 && is_sd_key(k) && puts[k])
            r = 35; /* a second Put: SingleDelete instead */
        line_start(t->name, " wb");
        if (r < 35) {
            size_t vn = gen_value(t->uint64);
            rocksdb_writebatch_put(wb, keys[k].b, keys[k].n, valbuf, vn);
            fputs(" put ", stdout);
            print_bytes(keys[k].b, keys[k].n);
            putchar(' ');
            print_bytes(valbuf, vn);
            if (is_sd_key(k))
                puts[k] = 1;
        } else if (r < 50) {
            if (!is_sd_key(k) || !puts[k])
                k = plain_key();
            if (is_sd_key(k)) {
                rocksdb_writebatch_singledelete(wb, keys[k].b, keys[k].n);
                fputs(" sdel ", stdout);
                puts[k] = 0;
            } else {
                rocksdb_writebatch_delete(wb, keys[k].b, keys[k].n);
                fputs(" del ", stdout);
            }
            print_bytes(keys[k].b, keys[k].n);
        } else if (r < 68) {
            k = plain_key();
            size_t vn = gen_value(t->uint64);
            if (!t->uint64 && vn > 40)
                vn = rnd(8);
            rocksdb_writebatch_merge(wb, keys[k].b, keys[k].n, valbuf, vn);
            fputs(" merge ", stdout);
            print_bytes(keys[k].b, keys[k].n);
            putchar(' ');
            print_bytes(valbuf, vn);
        } else if (r < 76) {
            tkey lo, hi;
            gen_range(&lo, &hi);
            rocksdb_writebatch_delete_range(wb, lo.b, lo.n, hi.b, hi.n);
            fputs(" delrange ", stdout);
            print_bytes(lo.b, lo.n);
            putchar(' ');
            print_bytes(hi.b, hi.n);
        } else if (r < 82) {
            size_t vn = gen_value(0);
            rocksdb_writebatch_put_log_data(wb, valbuf, vn);
            fputs(" logdata ", stdout);
            print_bytes(valbuf, vn);
        } else if (r < 89) {
            rocksdb_writebatch_set_save_point(wb);
            if (nsaved < 16)
                memcpy(saved[nsaved], puts, sizeof puts);
            nsaved++;
            fputs(" savepoint", stdout);
        } else if (r < 96) {
            char *err = NULL;
            rocksdb_writebatch_rollback_to_save_point(wb, &err);
            fputs(" rollback", stdout);
            if (!err && nsaved > 0) {
                nsaved--;
                memcpy(puts, saved[nsaved], sizeof puts);
            }
            print_err(&err);
        } else {
            char *err = NULL;
            rocksdb_writebatch_pop_save_point(wb, &err);
            fputs(" popsavepoint", stdout);
            if (!err && nsaved > 0)
                nsaved--;
            print_err(&err);
        }
        printf(" count=%d", rocksdb_writebatch_count(wb));
        line_end();
    }
    char *err = NULL;
    rocksdb_write(t->db, wopts, wb, &err);
    line_start(t->name, "write");
    if (!err)
        memcpy(t->puts, puts, sizeof puts);
    print_err(&err);
    line_end();
    if (chance(20)) { /* a batch is reusable after clear */
        rocksdb_writebatch_clear(wb);
        line_start(t->name, "wb clear");
        printf(" count=%d", rocksdb_writebatch_count(wb));
        rocksdb_write(t->db, wopts, wb, &err);
        print_err(&err);
        line_end();
    }
    rocksdb_writebatch_destroy(wb);
}

/* ---- read steps --------------------------------------------------------------------------- */

static void print_value_or_missing(const char *v, size_t vn, int found)
{
    putchar(' ');
    if (found)
        print_bytes(v, vn);
    else
        fputs("missing", stdout);
}

static void step_get(tdb *t)
{
    int snap;
    rocksdb_readoptions_t *ro = make_ropts(t, &snap);
    tkey k = any_key();
    char *err = NULL;
    uint32_t how = rnd(3);
    if (how == 0) {
        size_t vn = 12345;
        char *v = rocksdb_get(t->db, ro, k.b, k.n, &vn, &err);
        line_start(t->name, "get");
        print_snap(snap);
        putchar(' ');
        print_bytes(k.b, k.n);
        print_value_or_missing(v, vn, v != NULL);
        free(v);
    } else if (how == 1) {
        rocksdb_pinnableslice_t *ps = rocksdb_get_pinned(t->db, ro, k.b, k.n, &err);
        line_start(t->name, "get_pinned");
        print_snap(snap);
        putchar(' ');
        print_bytes(k.b, k.n);
        size_t vn = 0;
        const char *v = ps ? rocksdb_pinnableslice_value(ps, &vn) : NULL;
        print_value_or_missing(v, vn, ps != NULL);
        rocksdb_pinnableslice_destroy(ps);
    } else {
        /* key_may_exist: only its guarantee is checked, against rocksdb_get. */
        char *v = NULL;
        size_t vn = 0;
        unsigned char found = 0;
        unsigned char may = rocksdb_key_may_exist(t->db, ro, k.b, k.n, &v, &vn, NULL, 0, &found);
        size_t gn = 0;
        char *g = rocksdb_get(t->db, ro, k.b, k.n, &gn, &err);
        line_start(t->name, "key_may_exist");
        print_snap(snap);
        putchar(' ');
        print_bytes(k.b, k.n);
        int bad = (!may && g != NULL) ||
                  (may && found && (!g || gn != vn || (vn && memcmp(g, v, vn) != 0)));
        fputs(bad ? " VIOLATION" : " consistent", stdout);
        if (found)
            free(v);
        free(g);
    }
    print_err(&err);
    line_end();
    rocksdb_readoptions_destroy(ro);
}

static void step_multi_get(tdb *t)
{
    int snap;
    rocksdb_readoptions_t *ro = make_ropts(t, &snap);
    enum { MAXN = 10 };
    size_t n = 1 + rnd(MAXN);
    tkey ks[MAXN];
    const char *kp[MAXN];
    size_t kl[MAXN], vl[MAXN];
    char *vals[MAXN], *errs[MAXN];
    for (size_t i = 0; i < n; i++) {
        ks[i] = any_key();
        kp[i] = ks[i].b;
        kl[i] = ks[i].n;
        vals[i] = (char *)1; /* must be overwritten */
        errs[i] = (char *)1;
        vl[i] = 777;
    }
    rocksdb_multi_get(t->db, ro, n, kp, kl, vals, vl, errs);
    line_start(t->name, "multi_get");
    print_snap(snap);
    printf(" n=%zu", n);
    line_end();
    for (size_t i = 0; i < n; i++) {
        line_start(t->name, " mg");
        putchar(' ');
        print_bytes(ks[i].b, ks[i].n);
        print_value_or_missing(vals[i], vl[i], vals[i] != NULL);
        print_err(&errs[i]);
        line_end();
        free(vals[i]);
    }
    rocksdb_readoptions_destroy(ro);
}

static void print_iter(rocksdb_iterator_t *it)
{
    if (!rocksdb_iter_valid(it)) {
        fputs(" invalid", stdout);
        char *err = NULL;
        rocksdb_iter_get_error(it, &err);
        if (err)
            print_err(&err);
        return;
    }
    size_t kn, vn;
    const char *k = rocksdb_iter_key(it, &kn);
    const char *v = rocksdb_iter_value(it, &vn);
    putchar(' ');
    print_bytes(k, kn);
    putchar(' ');
    print_bytes(v, vn);
}

static void step_write_any(tdb *t);

static void step_iter(tdb *t)
{
    int snap;
    rocksdb_readoptions_t *ro = make_ropts(t, &snap);
    tkey lo = any_key(), hi = any_key();
    if (key_cmp(&lo, &hi) > 0) {
        tkey tmp = lo;
        lo = hi;
        hi = tmp;
    }
    uint32_t bounds = rnd(4); /* bit 0: lower, bit 1: upper */
    if (bounds & 1)
        rocksdb_readoptions_set_iterate_lower_bound(ro, lo.b, lo.n);
    if (bounds & 2)
        rocksdb_readoptions_set_iterate_upper_bound(ro, hi.b, hi.n);
    rocksdb_iterator_t *it = rocksdb_create_iterator(t->db, ro);
    line_start(t->name, "iter");
    print_snap(snap);
    fputs(" lower=", stdout);
    if (bounds & 1)
        print_bytes(lo.b, lo.n);
    else
        putchar('-');
    fputs(" upper=", stdout);
    if (bounds & 2)
        print_bytes(hi.b, hi.n);
    else
        putchar('-');
    line_end();
    /* RocksDB keeps pointers to ro and to the bound bytes: both outlive the iterator. */
    int moves = 3 + (int)rnd(25);
    for (int i = 0; i < moves; i++) {
        uint32_t r = rnd(100);
        if (r < 8) { /* the iterator must not see writes made after it was created */
            step_write_any(t);
            continue;
        }
        if (r < 16 && rocksdb_iter_valid(it)) {
            /* a full walk from here */
            int dir = chance(50);
            int n = 0;
            line_start(t->name, dir ? " walk_next" : " walk_prev");
            while (rocksdb_iter_valid(it)) {
                if (dir)
                    rocksdb_iter_next(it);
                else
                    rocksdb_iter_prev(it);
                n++;
            }
            printf(" moves=%d", n);
            print_iter(it);
            line_end();
            continue;
        }
        tkey target = any_key();
        const char *what;
        if (r < 28) {
            rocksdb_iter_seek_to_first(it);
            what = " first";
        } else if (r < 40) {
            rocksdb_iter_seek_to_last(it);
            what = " last";
        } else if (r < 55) {
            rocksdb_iter_seek(it, target.b, target.n);
            what = " seek";
        } else if (r < 70) {
            rocksdb_iter_seek_for_prev(it, target.b, target.n);
            what = " seek_for_prev";
        } else if (r < 85) {
            if (!rocksdb_iter_valid(it))
                continue;
            rocksdb_iter_next(it);
            what = " next";
        } else {
            if (!rocksdb_iter_valid(it))
                continue;
            rocksdb_iter_prev(it);
            what = " prev";
        }
        line_start(t->name, what);
        if (r >= 40 && r < 70) {
            putchar(' ');
            print_bytes(target.b, target.n);
        }
        print_iter(it);
        line_end();
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    line_start(t->name, "iter_end");
    print_err(&err);
    line_end();
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
}

/* Every key and value, forwards then backwards, optionally at a snapshot. */
static void dump(tdb *t, int snap)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    if (snap >= 0)
        rocksdb_readoptions_set_snapshot(ro, t->snaps[snap]);
    rocksdb_iterator_t *it = rocksdb_create_iterator(t->db, ro);
    int n = 0;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        line_start(t->name, " dump");
        print_iter(it);
        line_end();
        n++;
    }
    int back = 0;
    for (rocksdb_iter_seek_to_last(it); rocksdb_iter_valid(it); rocksdb_iter_prev(it))
        back++;
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    line_start(t->name, "dump");
    print_snap(snap);
    printf(" count=%d backwards=%d", n, back);
    print_err(&err);
    line_end();
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
}

/* ---- snapshots, flush, reopen, compaction ------------------------------------------------- */

static void step_snapshot(tdb *t)
{
    if (t->nsnaps < MAXSNAP && (t->nsnaps == 0 || chance(60))) {
        t->snaps[t->nsnaps++] = rocksdb_create_snapshot(t->db);
        line_start(t->name, "snapshot");
        printf(" @%d", t->nsnaps - 1);
        line_end();
    } else {
        int i = (int)rnd((uint32_t)t->nsnaps);
        if (chance(30))
            dump(t, i);
        rocksdb_release_snapshot(t->db, t->snaps[i]);
        t->snaps[i] = t->snaps[--t->nsnaps];
        line_start(t->name, "release");
        printf(" @%d", i);
        line_end();
    }
}

static void step_flush(tdb *t)
{
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    char *err = NULL;
    rocksdb_flush(t->db, fo, &err);
    line_start(t->name, "flush");
    print_err(&err);
    line_end();
    rocksdb_flushoptions_destroy(fo);
}

static void step_compact(tdb *t)
{
    rocksdb_compact_range(t->db, NULL, 0, NULL, 0);
    line_start(t->name, "compact_range");
    line_end();
}

static void step_reopen(tdb *t)
{
    int flush = chance(50);
    if (flush)
        step_flush(t);
    db_close(t);
    line_start(t->name, "close");
    line_end();
    db_open(t, flush ? "after-flush" : "after-close");
}

/* Error outcomes: each leaves t open as it found it (snapshots released). */
static void step_errors(tdb *t)
{
    char *err = NULL;
    rocksdb_t *db;
    char path[4200];
    uint32_t r = rnd(5);

    if (r == 0) { /* a missing database without create_if_missing */
        rocksdb_options_t *o = rocksdb_options_create();
        snprintf(path, sizeof path, "%s/missing-%u", workdir, missing_no++);
        db = rocksdb_open(o, path, &err);
        line_start(t->name, "open_missing");
        printf(" db=%s", db ? "non-NULL" : "NULL");
        print_err(&err);
        line_end();
        if (db)
            rocksdb_close(db);
        db = rocksdb_open_for_read_only(o, path, 0, &err);
        line_start(t->name, "open_missing_read_only");
        printf(" db=%s", db ? "non-NULL" : "NULL");
        print_err(&err);
        line_end();
        if (db)
            rocksdb_close(db);
        rocksdb_options_destroy(o);
        return;
    }
    if (r == 1) { /* the database is open: a second rocksdb_open must fail on the lock */
        db = rocksdb_open(t->opts, t->path, &err);
        line_start(t->name, "open_twice");
        printf(" db=%s", db ? "non-NULL" : "NULL");
        print_err(&err);
        line_end();
        if (db)
            rocksdb_close(db);
        return;
    }

    db_close(t);
    line_start(t->name, "close");
    line_end();
    if (r == 2) { /* error_if_exists */
        rocksdb_options_t *o = rocksdb_options_create();
        rocksdb_options_set_error_if_exists(o, 1);
        rocksdb_options_set_create_if_missing(o, 1);
        db = rocksdb_open(o, t->path, &err);
        line_start(t->name, "open_error_if_exists");
        printf(" db=%s", db ? "non-NULL" : "NULL");
        print_err(&err);
        line_end();
        if (db)
            rocksdb_close(db);
        rocksdb_options_destroy(o);
    } else { /* read-only: reads work, writes fail */
        db = rocksdb_open_for_read_only(t->opts, t->path, 0, &err);
        line_start(t->name, "open_read_only");
        printf(" db=%s", db ? "non-NULL" : "NULL");
        print_err(&err);
        line_end();
        if (db) {
            rocksdb_t *rw = t->db;
            t->db = db;
            /* no print_seq: a read-only open recovers its own sequence number (see print_seq) */
            uint64_t ro_seq = rocksdb_get_latest_sequence_number(db);
            dump(t, -1);
            for (int i = 0; i < 3; i++)
                step_get(t);
            const tkey *k = &keys[rnd(NKEYS)];
            rocksdb_put(db, wopts, k->b, k->n, "v", 1, &err);
            line_start(t->name, "ro put");
            print_err(&err);
            line_end();
            rocksdb_delete(db, wopts, k->b, k->n, &err);
            line_start(t->name, "ro del");
            print_err(&err);
            line_end();
            rocksdb_merge(db, wopts, k->b, k->n, "\1\0\0\0\0\0\0\0", 8, &err);
            line_start(t->name, "ro merge");
            print_err(&err);
            line_end();
            rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
            rocksdb_writebatch_put(wb, k->b, k->n, "w", 1);
            rocksdb_write(db, wopts, wb, &err);
            rocksdb_writebatch_destroy(wb);
            line_start(t->name, "ro write");
            print_err(&err);
            line_end();
            line_start(t->name, "ro seq"); /* refused writes consume no sequence number */
            printf(" +%" PRIu64, rocksdb_get_latest_sequence_number(db) - ro_seq);
            line_end();
            t->db = rw;
            rocksdb_close(db);
        }
    }
    db_open(t, "after-errors");
}

/* ---- the walk ----------------------------------------------------------------------------- */

static void step_write_any(tdb *t)
{
    uint32_t r = rnd(100);
    if (r < 40)
        step_put(t);
    else if (r < 60)
        step_delete(t);
    else if (r < 80)
        step_merge(t);
    else
        step_batch(t);
}

static void step(tdb *t)
{
    uint32_t r = rnd(1000);
    if (r < 450)
        step_write_any(t);
    else if (r < 700)
        step_get(t);
    else if (r < 760)
        step_multi_get(t);
    else if (r < 880)
        step_iter(t);
    else if (r < 930)
        step_snapshot(t);
    else if (r < 960)
        print_seq(t);
    else if (r < 975)
        step_flush(t);
    else if (r < 982)
        step_compact(t);
    else if (r < 992)
        step_reopen(t);
    else
        step_errors(t);
}

static void rm_rf(const char *path)
{
    /* Only the program's own databases: fixed names under DIR. */
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", path);
    if (system(cmd) != 0)
        die("rm -rf failed");
}

static void usage(void)
{
    fprintf(stderr, "usage: axp_conformance [--steps N] [--seed S] DIR\n");
    exit(2);
}

int main(int argc, char **argv)
{
    uint64_t seed = 0;
    int have_seed = 0;
    long steps = 10000;
    const char *env = getenv("ALEXSTORAGE_CONFORMANCE_STEPS");
    if (env && *env)
        steps = atol(env);
    env = getenv("ALEXSTORAGE_SEED");
    if (env && *env) {
        char *end;
        seed = strtoull(env, &end, 0);
        if (*end)
            usage();
        have_seed = 1;
    }
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
            steps = atol(argv[++i]);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            char *end;
            seed = strtoull(argv[++i], &end, 0);
            if (*end)
                usage();
            have_seed = 1;
        } else if (argv[i][0] == '-' || dir) {
            usage();
        } else {
            dir = argv[i];
        }
    }
    if (!dir || steps < 0)
        usage();
    if (!have_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rng_state = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
        seed = rnd64() >> 16;
    }
    fprintf(stderr, "axp_conformance: seed=%" PRIu64 " steps=%ld\n", seed, steps);
    printf("seed=%" PRIu64 " steps=%ld\n", seed, steps);
    rng_state = seed;

    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        die("cannot create DIR");
    snprintf(workdir, sizeof workdir, "%s", dir);
    {
        char cmd[8400];
        snprintf(cmd, sizeof cmd, "rm -rf -- '%s'/missing-*", dir);
        if (system(cmd) != 0)
            die("rm -rf failed");
    }

    gen_keys();
    wopts = rocksdb_writeoptions_create();
    for (int i = 0; i < 2; i++) {
        tdb *t = &dbs[i];
        t->name = i == 0 ? "A" : "B";
        t->uint64 = i == 1;
        snprintf(t->path, sizeof t->path, "%s/db%s", dir, t->name);
        rm_rf(t->path);
        make_options(t);
        db_open(t, "create");
    }

    for (step_no = 1; step_no <= (uint64_t)steps; step_no++)
        step(&dbs[rnd(2)]);

    for (int i = 0; i < 2; i++) {
        tdb *t = &dbs[i];
        for (int s = 0; s < t->nsnaps; s++)
            dump(t, s);
        dump(t, -1);
        print_seq(t);
        step_reopen(t);
        dump(t, -1);
        db_close(t);
        rocksdb_options_destroy(t->opts);
    }
    rocksdb_writeoptions_destroy(wopts);
    printf("end\n");
    return 0;
}
