/*
 * concurrency_bench.c: what AlexStorage's concurrency (db.h, 6.) buys, measured on one handle
 * with plain pthreads and clock_gettime: wait-free readers, group-commit writers, background
 * and explicit compaction.
 *
 * Every repetition (--repeats, default 3) runs the four parts below on fresh databases under
 * --db; the table and the JSON give the median over repetitions of every figure, and the JSON
 * also keeps each repetition's value.
 *
 *   a. Read throughput. N keys (default 1,000,000) are put once in a seeded random order, then
 *      read back once in key order (untimed: it checks every value and warms the page cache).
 *      Then 1 reader thread, and 2 reader threads, call axs_get (copying into a 100-byte
 *      buffer) on uniformly random keys for --seconds each; ops/s is all threads' gets over the
 *      wall time of the phase. The ratio 2 threads / 1 thread is taken within each repetition
 *      (the two phases run back to back, their order alternating between repetitions), then
 *      the median of the ratios is reported.
 *   b. Reader latency. One reader thread times every get alone (a clock_gettime pair around
 *      it) for --seconds: solo, then with one writer thread alongside that overwrites random
 *      existing keys with buffered axs_put as fast as it can (its puts are timed too). The
 *      writer changes the database, so "solo" always runs first. Background compaction is off
 *      on this database (--rw_garbage_ratio, default 0) so the writer alone is measured; part c
 *      measures compaction.
 *   c. Compaction. A database is opened with compaction_garbage_ratio 0 (nothing compacts by
 *      itself), N keys are put, then a random --overwrite_fraction of them (default 0.5, each
 *      once) are overwritten with new values; the set-up's garbage (1 - live_bytes /
 *      log_bytes) is reported. Then:
 *        full        one reader thread times gets for --seconds with nothing else running
 *                    (the idle baseline), then again while the main thread runs axs_compact;
 *                    the compaction's wall time and the stats' deltas (bytes written, bytes
 *                    removed, log bytes after) are reported, with the reader's percentiles in
 *                    both cases and the ratio of their p99s.
 *        range       a fresh set-up, then axs_compact_range(NULL, NULL) (every key), timed
 *                    the same way, with a reader alongside.
 *        background  a fresh set-up, closed, then opened again with compaction_garbage_ratio
 *                    --bg_garbage_ratio (default 0.25), and axs_wait_for_compaction; the open
 *                    and the wait are timed separately, and the engine's own
 *                    compaction_seconds, passes and bytes are reported, with a reader alongside
 *                    the wait. Overwriting half the keys leaves a third of the records dead
 *                    (N/2 of 1.5 N); with the records' framing counted as not live, the
 *                    set-up's garbage is about 0.45 on this engine: below 0.5, so a trigger of
 *                    0.5 would never fire; hence the default 0.25. The table says when the
 *                    set-up's garbage was below the trigger, or a compaction removed nothing.
 *      After each compaction every key is read back and its value checked (untimed).
 *   d. Synced writes. On a fresh database, T writer threads (--sync_threads, default 1,2,4,8;
 *      the order reverses on odd repetitions) put distinct new keys with
 *      axs_write_options.sync for --seconds; ops/s over the phase's wall time, per-put latency
 *      (p50, p99 in us) and the stats' deltas: syncs (fdatasyncs), synced_writes, commit_groups,
 *      and synced_writes / syncs, the writes each fdatasync made durable (group commit).
 *
 * Keys are db_bench's 16-byte keys (key number big-endian in 8 bytes, then 8 '0' bytes);
 * values 100 bytes, half random printable bytes and half a repeat of them, from a 1 MiB pool
 * (db_bench's compression_ratio 0.5). Random streams derive from --seed.
 *
 * Latency percentiles come from a log-linear histogram, 256 sub-buckets per power of two:
 * every value below 256 ns is exact, every other one within 0.4% (the bucket's midpoint is
 * reported). Timed operations include the cost of one clock_gettime pair, printed in the
 * environment block.
 *
 * Output: an environment block and markdown tables on stdout, progress on stderr, and with
 * --json=FILE the same figures as JSON (every metric with its section, label, unit, median and
 * per-repetition values). compare/concurrency.py runs it.
 */
#define _GNU_SOURCE /* clock_gettime, mkdtemp, nftw (POSIX/XSI) */

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "alexstorage/db.h"
#include "bench_util.h"

#ifndef CONCURRENCY_BENCH_BUILD_TYPE
#define CONCURRENCY_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef CONCURRENCY_BENCH_C_COMPILER
#define CONCURRENCY_BENCH_C_COMPILER "unknown"
#endif
#ifndef CONCURRENCY_BENCH_C_FLAGS
#define CONCURRENCY_BENCH_C_FLAGS ""
#endif
#ifndef CONCURRENCY_BENCH_SANITIZE
#define CONCURRENCY_BENCH_SANITIZE ""
#endif
#ifndef CONCURRENCY_BENCH_ALEXSTORAGE_VERSION
#define CONCURRENCY_BENCH_ALEXSTORAGE_VERSION "unknown"
#endif

#define KEY_SIZE 16    /* db_bench --key_size */
#define VALUE_SIZE 100 /* db_bench --value_size */
#define VALUE_POOL_BYTES (1u << 20)
#define VALUE_POOL_PIECES (VALUE_POOL_BYTES / VALUE_SIZE)
#define MAX_REPS 99
#define MAX_SYNC_THREADS 8 /* entries in --sync_threads */
#define MAX_THREADS 256    /* threads in one entry */
#define MAX_METRICS 160

/* ---------------------------------------------------------------------------------------- */
/* Flags: --name=value; anything else is rejected.                                          */

static struct {
    uint64_t num;              /* --num: keys in every database */
    const char *db;            /* --db: base directory; a mkdtemp inside it is used */
    const char *json;          /* --json: write the results here */
    double seconds;            /* --seconds: length of every timed phase */
    int repeats;               /* --repeats: the table shows the median */
    uint64_t seed;             /* --seed */
    int sync_threads[MAX_SYNC_THREADS];
    int n_sync_threads;
    uint64_t segment_size;     /* --segment_size: axs_options.segment_size; 0 = engine default */
    double overwrite_fraction; /* --overwrite_fraction: keys overwritten in part c's set-up */
    double bg_garbage_ratio;   /* --bg_garbage_ratio: trigger at part c's reopen */
    double rw_garbage_ratio;   /* --rw_garbage_ratio: compaction trigger of part a/b's db */
} flags = {
    .num = 1000000,
    .seconds = 3.0,
    .repeats = 3,
    .seed = 301,
    .sync_threads = {1, 2, 4, 8},
    .n_sync_threads = 4,
    .overwrite_fraction = 0.5,
    .bg_garbage_ratio = 0.25,
    .rw_garbage_ratio = 0.0,
};

static const char usage[] =
    "usage: concurrency_bench [flags]\n"
    "  --num=N                  keys in every database (default 1000000)\n"
    "  --db=DIR                 base directory; a mkdtemp inside it holds the databases and is\n"
    "                           removed at exit (default /tmp)\n"
    "  --seconds=S              length of every timed phase (default 3)\n"
    "  --repeats=K              run everything K times; tables show medians (default 3)\n"
    "  --json=FILE              also write the results as JSON\n"
    "  --seed=S                 seed of keys, permutations and values (default 301)\n"
    "  --sync_threads=LIST      writer thread counts of the synced-write part (default 1,2,4,8)\n"
    "  --segment_size=BYTES     axs_options.segment_size (default 0: the engine's default)\n"
    "  --overwrite_fraction=F   keys overwritten in the compaction set-up (default 0.5)\n"
    "  --bg_garbage_ratio=R     compaction_garbage_ratio of the background-compaction reopen\n"
    "                           (default 0.25; 0.05..0.95)\n"
    "  --rw_garbage_ratio=R     compaction_garbage_ratio of the read/latency database\n"
    "                           (default 0: off, so part b measures the writer alone)\n";

/* ---------------------------------------------------------------------------------------- */
/* Small helpers.                                                                            */

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

enum {
    STREAM_PERM = 1,      /* fill order */
    STREAM_OVERWRITE = 2, /* which keys part c overwrites */
    STREAM_VALUES = 3,
    STREAM_THREADS = 100  /* + thread number: the key draws of reader/writer threads */
};
static uint64_t stream_seed(uint64_t stream)
{
    uint64_t s = flags.seed ^ (stream * 0x2545f4914f6cdd1du);
    return rng_next(&s);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* db_bench GenerateKeyFromInt, key_size 16, no prefixes. */
static inline void make_key(uint8_t *buf, uint64_t k)
{
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(k >> (56 - 8 * i));
    memset(buf + 8, '0', KEY_SIZE - 8);
}

static uint8_t *value_pool; /* VALUE_POOL_PIECES values of VALUE_SIZE bytes */

static void value_pool_init(void)
{
    value_pool = bench_value_pool(VALUE_POOL_PIECES, VALUE_SIZE, stream_seed(STREAM_VALUES));
}

static inline const uint8_t *value_for(uint64_t w)
{
    return value_pool + (w % VALUE_POOL_PIECES) * VALUE_SIZE;
}

static uint64_t *permutation(uint64_t n, uint64_t stream)
{
    return bench_permutation(n, stream_seed(stream));
}

/* ---------------------------------------------------------------------------------------- */
/* Latency histogram: log-linear, 256 sub-buckets per power of two.                          */

#define H_SUB_BITS 8
#define H_SUB (1u << H_SUB_BITS)
#define H_MAX_EXP 40 /* values up to 2^41 ns (~36 min) */
#define H_BUCKETS (H_SUB + (H_MAX_EXP - H_SUB_BITS + 1) * H_SUB)

typedef struct hist {
    uint64_t count, sum, min, max;
    uint64_t b[H_BUCKETS];
} hist;

static hist *hist_new(void)
{
    hist *h = xcalloc(1, sizeof *h);
    h->min = UINT64_MAX;
    return h;
}

static inline unsigned hist_index(uint64_t v)
{
    if (v < H_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    if (e > H_MAX_EXP)
        return H_BUCKETS - 1;
    unsigned sub = (unsigned)(v >> (e - H_SUB_BITS)) - H_SUB;
    return H_SUB + (e - H_SUB_BITS) * H_SUB + sub;
}

static uint64_t hist_value(unsigned idx) /* the midpoint of bucket idx */
{
    if (idx < H_SUB)
        return idx;
    unsigned k = idx - H_SUB, e = k / H_SUB + H_SUB_BITS, sub = k % H_SUB;
    uint64_t lo = (uint64_t)(H_SUB + sub) << (e - H_SUB_BITS);
    uint64_t width = (uint64_t)1 << (e - H_SUB_BITS);
    return lo + (width - 1) / 2;
}

static inline void hist_add(hist *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

static void hist_merge(hist *into, const hist *h)
{
    for (unsigned i = 0; i < H_BUCKETS; i++)
        into->b[i] += h->b[i];
    into->count += h->count;
    into->sum += h->sum;
    if (h->min < into->min)
        into->min = h->min;
    if (h->max > into->max)
        into->max = h->max;
}

/* Nearest-rank percentile, p in (0, 1]. */
static double hist_pct(const hist *h, double p)
{
    if (!h->count)
        return 0;
    uint64_t rank = (uint64_t)ceil(p * (double)h->count);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < H_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = hist_value(i);
            /* never outside the observed range */
            return (double)(v < h->min ? h->min : v > h->max ? h->max : v);
        }
    }
    return (double)h->max;
}

static double hist_mean(const hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Metrics: each repetition sets values by key; the report shows medians.                    */

enum section { SEC_READS, SEC_LATENCY, SEC_COMPACTION, SEC_SYNC, SEC_COUNT };
static const char *const section_key[SEC_COUNT] = {"reads", "latency", "compaction", "sync"};
static const char *const section_title[SEC_COUNT] = {
    "a. Read throughput: random axs_get (copying), 1 and 2 reader threads",
    "b. Reader latency: one reader thread, alone and with one writer thread",
    "c. Compaction",
    "d. Synced writes: T writer threads, axs_put with sync, distinct keys",
};

static struct metric {
    char key[80];
    enum section sec;
    char label[128];
    char unit[16];
    int digits;
} mets[MAX_METRICS];
static int nmets;
static double vals[MAX_REPS][MAX_METRICS];
static bool have[MAX_REPS][MAX_METRICS];
static double med[MAX_METRICS];
static bool have_med[MAX_METRICS];

static void put(int rep, enum section sec, const char *key, const char *label, const char *unit,
                int digits, double v)
{
    int m = 0;
    while (m < nmets && strcmp(mets[m].key, key) != 0)
        m++;
    if (m == nmets) {
        if (nmets == MAX_METRICS)
            die("too many metrics");
        struct metric *x = &mets[nmets++];
        snprintf(x->key, sizeof x->key, "%s", key);
        x->sec = sec;
        snprintf(x->label, sizeof x->label, "%s", label);
        snprintf(x->unit, sizeof x->unit, "%s", unit);
        x->digits = digits;
    }
    if (isnan(v)) /* a row without a value in this repetition (not measurable) */
        return;
    vals[rep][m] = v;
    have[rep][m] = true;
}

static void compute_medians(void)
{
    double tmp[MAX_REPS];
    for (int m = 0; m < nmets; m++) {
        int n = 0;
        for (int r = 0; r < flags.repeats; r++)
            if (have[r][m])
                tmp[n++] = vals[r][m];
        have_med[m] = n > 0;
        if (!n)
            continue;
        qsort(tmp, (size_t)n, sizeof tmp[0], cmp_double);
        med[m] = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
    }
}

static int metric_index(const char *key)
{
    for (int m = 0; m < nmets; m++)
        if (strcmp(mets[m].key, key) == 0)
            return m;
    return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Files.                                                                                    */

/* ---------------------------------------------------------------------------------------- */
/* The database.                                                                             */

static void check(axs_db *db, int rc, const char *what)
{
    if (rc != AXS_OK)
        die("%s: %s (%s)", what, axs_strerror(rc), db ? axs_last_error(db) : "");
}

static axs_db *open_db(const char *dir, bool fresh, double garbage_ratio)
{
    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = true;
    o.error_if_exists = fresh;
    o.compaction_garbage_ratio = garbage_ratio;
    if (flags.segment_size)
        o.segment_size = flags.segment_size;
    axs_db *db = NULL;
    char *err = NULL;
    int rc = axs_open(dir, &o, &db, &err);
    if (rc != AXS_OK)
        die("axs_open %s: %s (%s)", dir, axs_strerror(rc), err ? err : "");
    free(err);
    return db;
}

static void destroy_db(const char *dir)
{
    int rc = axs_destroy(dir, NULL);
    if (rc != AXS_OK)
        die("axs_destroy %s: %s", dir, axs_strerror(rc));
}

static axs_stats stats(axs_db *db)
{
    axs_stats st;
    memset(&st, 0, sizeof st);
    axs_get_stats(db, &st);
    return st;
}

static double garbage_of(const axs_stats *st)
{
    return st->log_bytes ? 1.0 - (double)st->live_bytes / (double)st->log_bytes : 0;
}

/* Puts every key once in the order of perm; widx[k] = the write number of key k's value.
 * Returns the ops/s of the loop. */
static double fill(axs_db *db, const uint64_t *perm, uint64_t n, uint64_t *widx, uint64_t *w)
{
    uint8_t key[KEY_SIZE];
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t k = perm[i];
        make_key(key, k);
        check(db, axs_put(db, NULL, key, KEY_SIZE, value_for(*w), VALUE_SIZE), "fill: axs_put");
        widx[k] = (*w)++;
    }
    return (double)n / ((double)(now_ns() - t0) / 1e9);
}

/* Reads every key in key order and checks its value (untimed: a check, and a warm-up). */
static void verify_all(axs_db *db, uint64_t n, const uint64_t *widx, const char *when)
{
    uint8_t key[KEY_SIZE], buf[VALUE_SIZE];
    for (uint64_t k = 0; k < n; k++) {
        size_t vlen = 0;
        bool found = false;
        make_key(key, k);
        check(db, axs_get(db, NULL, key, KEY_SIZE, buf, sizeof buf, &vlen, &found), when);
        if (!found)
            die("%s: key %" PRIu64 " not found", when, k);
        if (vlen != VALUE_SIZE || memcmp(buf, value_for(widx[k]), VALUE_SIZE) != 0)
            die("%s: key %" PRIu64 " has a wrong value (length %zu)", when, k, vlen);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Threads. A phase starts its workers, releases them together through a barrier, lets them  */
/* run while the main thread sleeps --seconds (or runs a compaction), then stops them.       */

enum wkind { W_READER, W_WRITER, W_SYNC_WRITER };

typedef struct worker {
    pthread_t th;
    axs_db *db;
    enum wkind kind;
    uint64_t n;        /* reader, writer: keys 0..n-1 */
    uint64_t rng;      /* reader, writer: key draws */
    uint64_t key_base; /* sync writer: key number key_base + i * key_step for its i-th put */
    uint64_t key_step;
    uint64_t value_w;  /* value pool position */
    hist *h;           /* per-op latency, or NULL */
    uint64_t ops;
    uint64_t t_start, t_end;
    int rc;
    char err[256];
} worker;

static pthread_barrier_t start_barrier;
static atomic_bool stop_flag;

static void *worker_main(void *arg)
{
    worker *w = arg;
    uint8_t key[KEY_SIZE], buf[VALUE_SIZE];
    axs_write_options wo;
    axs_write_options_init(&wo);
    wo.sync = w->kind == W_SYNC_WRITER;
    pthread_barrier_wait(&start_barrier);
    w->t_start = now_ns();
    /* At least one operation, so even a phase shorter than one op has a sample. */
    do {
        uint64_t k;
        if (w->kind == W_SYNC_WRITER)
            k = w->key_base + w->ops * w->key_step;
        else
            k = rng_next(&w->rng) % w->n;
        make_key(key, k);
        uint64_t t0 = w->h ? now_ns() : 0;
        int rc;
        if (w->kind == W_READER) {
            size_t vlen = 0;
            bool found = false;
            rc = axs_get(w->db, NULL, key, KEY_SIZE, buf, sizeof buf, &vlen, &found);
            if (rc == AXS_OK && (!found || vlen != VALUE_SIZE)) {
                snprintf(w->err, sizeof w->err, "axs_get: key %" PRIu64 " %s", k,
                         found ? "has a wrong length" : "not found");
                w->rc = AXS_ECORRUPT;
                break;
            }
        } else {
            rc = axs_put(w->db, &wo, key, KEY_SIZE, value_for(w->value_w++), VALUE_SIZE);
        }
        if (w->h)
            hist_add(w->h, now_ns() - t0);
        if (rc != AXS_OK) {
            snprintf(w->err, sizeof w->err, "%s: %s (%s)",
                     w->kind == W_READER ? "axs_get" : "axs_put", axs_strerror(rc),
                     axs_last_error(w->db));
            w->rc = rc;
            break;
        }
        w->ops++;
    } while (!atomic_load_explicit(&stop_flag, memory_order_relaxed));
    w->t_end = now_ns();
    return NULL;
}

typedef struct phase_result {
    double seconds;  /* wall time from the first worker's start to the last one's stop */
    double fn_value; /* what fn returned (a compaction's seconds) */
} phase_result;

/* Runs the workers until fn returns (fn NULL: for --seconds); fn runs on the main thread. */
static phase_result run_phase(worker *ws, int nw, double (*fn)(void *), void *ctx)
{
    phase_result pr = {0, 0};
    atomic_store(&stop_flag, false);
    if (pthread_barrier_init(&start_barrier, NULL, (unsigned)nw + 1) != 0)
        die("pthread_barrier_init failed");
    for (int i = 0; i < nw; i++) {
        ws[i].ops = 0;
        ws[i].rc = AXS_OK;
        ws[i].err[0] = 0;
        int e = pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
        if (e)
            die("pthread_create: %s", strerror(e));
    }
    pthread_barrier_wait(&start_barrier);
    uint64_t t0 = now_ns(); /* a worker may start before this, if the main thread is preempted */
    if (fn)
        pr.fn_value = fn(ctx);
    else
        sleep_seconds(flags.seconds);
    atomic_store(&stop_flag, true);
    uint64_t t_end = t0;
    for (int i = 0; i < nw; i++) {
        pthread_join(ws[i].th, NULL);
        if (ws[i].t_end > t_end)
            t_end = ws[i].t_end;
        if (ws[i].t_start < t0)
            t0 = ws[i].t_start;
    }
    pthread_barrier_destroy(&start_barrier);
    for (int i = 0; i < nw; i++)
        if (ws[i].rc != AXS_OK)
            die("worker %d: %s", i, ws[i].err);
    pr.seconds = (double)(t_end - t0) / 1e9;
    return pr;
}

static worker make_worker(axs_db *db, enum wkind kind, uint64_t n, uint64_t thread_no, hist *h)
{
    worker w;
    memset(&w, 0, sizeof w);
    w.db = db;
    w.kind = kind;
    w.n = n;
    w.rng = stream_seed(STREAM_THREADS + thread_no);
    w.value_w = thread_no * 7919u; /* writers start at different values of the pool */
    w.h = h;
    return w;
}

static uint64_t total_ops(const worker *ws, int nw)
{
    uint64_t s = 0;
    for (int i = 0; i < nw; i++)
        s += ws[i].ops;
    return s;
}

/* ---------------------------------------------------------------------------------------- */
/* Parts a and b: one database of N keys.                                                    */

static void put_latency(int rep, enum section sec, const char *prefix, const char *what,
                        const hist *h)
{
    char key[80], label[128];
    static const struct {
        const char *suffix, *name;
        double p;
    } ps[] = {{"p50_ns", "p50", 0.5}, {"p99_ns", "p99", 0.99}, {"p99_9_ns", "p99.9", 0.999}};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        snprintf(key, sizeof key, "%s.%s", prefix, ps[i].suffix);
        snprintf(label, sizeof label, "%s: %s", what, ps[i].name);
        put(rep, sec, key, label, "ns", 0, hist_pct(h, ps[i].p));
    }
    snprintf(key, sizeof key, "%s.mean_ns", prefix);
    snprintf(label, sizeof label, "%s: mean", what);
    put(rep, sec, key, label, "ns", 0, hist_mean(h));
    snprintf(key, sizeof key, "%s.max_ns", prefix);
    snprintf(label, sizeof label, "%s: max", what);
    put(rep, sec, key, label, "ns", 0, (double)h->max);
    snprintf(key, sizeof key, "%s.samples", prefix);
    snprintf(label, sizeof label, "%s: timed operations", what);
    put(rep, sec, key, label, "ops", 0, (double)h->count);
}

static double read_phase(axs_db *db, int nthreads)
{
    worker ws[2];
    for (int i = 0; i < nthreads; i++)
        ws[i] = make_worker(db, W_READER, flags.num, (uint64_t)i, NULL);
    phase_result pr = run_phase(ws, nthreads, NULL, NULL);
    return (double)total_ops(ws, nthreads) / pr.seconds;
}

static void part_reads(int rep, const char *dir)
{
    uint64_t n = flags.num, w = 0;
    uint64_t *perm = permutation(n, STREAM_PERM);
    uint64_t *widx = xmalloc(n * sizeof *widx);
    destroy_db(dir);
    axs_db *db = open_db(dir, true, flags.rw_garbage_ratio);
    progress("[rep %d] a/b: fill %" PRIu64 " keys", rep + 1, n);
    double fill_ops = fill(db, perm, n, widx, &w);
    put(rep, SEC_READS, "reads.fill_ops_per_sec", "set-up: fill, buffered puts in random order",
        "ops/s", 0, fill_ops);
    verify_all(db, n, widx, "a: check after fill");

    /* a. 1 and 2 readers, back to back, order alternating between repetitions. */
    double ops[3] = {0, 0, 0};
    int order[2] = {1, 2};
    if (rep % 2) {
        order[0] = 2;
        order[1] = 1;
    }
    for (int i = 0; i < 2; i++) {
        progress("[rep %d] a: %d reader thread(s), %.1f s", rep + 1, order[i], flags.seconds);
        ops[order[i]] = read_phase(db, order[i]);
    }
    put(rep, SEC_READS, "reads.ops_per_sec_1_thread", "1 reader thread", "ops/s", 0, ops[1]);
    put(rep, SEC_READS, "reads.ops_per_sec_2_threads", "2 reader threads, total", "ops/s", 0,
        ops[2]);
    put(rep, SEC_READS, "reads.ratio_2_to_1", "ratio 2 threads / 1 thread", "x", 2,
        ops[2] / ops[1]);

    /* b. latency, solo then with a writer. */
    progress("[rep %d] b: 1 timed reader, %.1f s", rep + 1, flags.seconds);
    hist *solo = hist_new();
    worker r1 = make_worker(db, W_READER, n, 10, solo);
    phase_result pr = run_phase(&r1, 1, NULL, NULL);
    put_latency(rep, SEC_LATENCY, "latency.solo", "reader alone", solo);
    put(rep, SEC_LATENCY, "latency.solo.reader_ops_per_sec", "reader alone: throughput", "ops/s",
        0, (double)r1.ops / pr.seconds);

    progress("[rep %d] b: 1 timed reader + 1 writer, %.1f s", rep + 1, flags.seconds);
    hist *rw = hist_new(), *wh = hist_new();
    worker pair[2] = {make_worker(db, W_READER, n, 11, rw), make_worker(db, W_WRITER, n, 12, wh)};
    axs_stats before = stats(db);
    pr = run_phase(pair, 2, NULL, NULL);
    axs_stats after = stats(db);
    put_latency(rep, SEC_LATENCY, "latency.with_writer", "reader with a writer", rw);
    put(rep, SEC_LATENCY, "latency.with_writer.reader_ops_per_sec",
        "reader with a writer: throughput", "ops/s", 0, (double)pair[0].ops / pr.seconds);
    put(rep, SEC_LATENCY, "latency.with_writer.writer_ops_per_sec",
        "writer (buffered overwrites): throughput", "ops/s", 0, (double)pair[1].ops / pr.seconds);
    put(rep, SEC_LATENCY, "latency.with_writer.writer_p50_ns", "writer: put p50", "ns", 0,
        hist_pct(wh, 0.5));
    put(rep, SEC_LATENCY, "latency.with_writer.writer_p99_ns", "writer: put p99", "ns", 0,
        hist_pct(wh, 0.99));
    put(rep, SEC_LATENCY, "latency.with_writer.commit_groups",
        "writer: commit groups (stats delta)", "", 0,
        (double)(after.commit_groups - before.commit_groups));
    put(rep, SEC_LATENCY, "latency.p99_ratio", "reader p99 with a writer / alone", "x", 2,
        hist_pct(rw, 0.99) / hist_pct(solo, 0.99));
    put(rep, SEC_LATENCY, "latency.p50_ratio", "reader p50 with a writer / alone", "x", 2,
        hist_pct(rw, 0.5) / hist_pct(solo, 0.5));

    check(db, axs_close(db), "axs_close");
    destroy_db(dir);
    free(solo);
    free(rw);
    free(wh);
    free(perm);
    free(widx);
}

/* ---------------------------------------------------------------------------------------- */
/* Part c: compaction.                                                                       */

typedef struct garbage_db {
    axs_db *db;
    uint64_t *widx;
    axs_stats st; /* after the set-up */
} garbage_db;

/* Fresh database with compaction off; N keys, then overwrite_fraction of them again. */
static garbage_db garbage_setup(int rep, const char *dir, const char *name)
{
    uint64_t n = flags.num, w = 0;
    garbage_db g;
    uint64_t *perm = permutation(n, STREAM_PERM);
    uint64_t *over = permutation(n, STREAM_OVERWRITE);
    g.widx = xmalloc(n * sizeof *g.widx);
    destroy_db(dir);
    g.db = open_db(dir, true, 0.0);
    uint64_t m = (uint64_t)llround(flags.overwrite_fraction * (double)n);
    progress("[rep %d] c/%s: set-up: %" PRIu64 " keys, then %" PRIu64 " overwrites", rep + 1,
             name, n, m);
    fill(g.db, perm, n, g.widx, &w);
    fill(g.db, over, m, g.widx, &w);
    g.st = stats(g.db);
    free(perm);
    free(over);
    return g;
}

static double compact_full(void *ctx)
{
    axs_db *db = ctx;
    uint64_t t0 = now_ns();
    check(db, axs_compact(db), "axs_compact");
    return (double)(now_ns() - t0) / 1e9;
}

static double compact_all_range(void *ctx)
{
    axs_db *db = ctx;
    uint64_t t0 = now_ns();
    check(db, axs_compact_range(db, NULL, 0, NULL, 0), "axs_compact_range(NULL, NULL)");
    return (double)(now_ns() - t0) / 1e9;
}

static double wait_compaction(void *ctx)
{
    axs_db *db = ctx;
    uint64_t t0 = now_ns();
    check(db, axs_wait_for_compaction(db), "axs_wait_for_compaction");
    return (double)(now_ns() - t0) / 1e9;
}

static void put_compaction_bytes(int rep, const char *prefix, const char *what,
                                 const axs_stats *b, const axs_stats *a)
{
    char key[80], label[128];
    snprintf(key, sizeof key, "compaction.%s.bytes_written", prefix);
    snprintf(label, sizeof label, "%s: bytes written (stats delta)", what);
    put(rep, SEC_COMPACTION, key, label, "bytes", 0,
        (double)(a->compaction_bytes_written - b->compaction_bytes_written));
    snprintf(key, sizeof key, "compaction.%s.bytes_removed", prefix);
    snprintf(label, sizeof label, "%s: bytes removed (stats delta)", what);
    put(rep, SEC_COMPACTION, key, label, "bytes", 0,
        (double)(a->compaction_bytes_removed - b->compaction_bytes_removed));
    snprintf(key, sizeof key, "compaction.%s.passes", prefix);
    snprintf(label, sizeof label, "%s: compaction passes (stats delta)", what);
    put(rep, SEC_COMPACTION, key, label, "", 0, (double)(a->compactions - b->compactions));
    snprintf(key, sizeof key, "compaction.%s.log_bytes_after", prefix);
    snprintf(label, sizeof label, "%s: log bytes after", what);
    put(rep, SEC_COMPACTION, key, label, "bytes", 0, (double)a->log_bytes);
    snprintf(key, sizeof key, "compaction.%s.garbage_after", prefix);
    snprintf(label, sizeof label, "%s: garbage after (1 - live/log)", what);
    put(rep, SEC_COMPACTION, key, label, "", 3, garbage_of(a));
}

/* A reader's figures beside a compaction; none when it timed fewer than MIN_SAMPLES gets (a
 * compaction that had nothing to do): their percentiles would say nothing. */
#define MIN_SAMPLES 100
static bool put_reader_p(int rep, const char *prefix, const char *what, const hist *h,
                         double seconds, uint64_t ops)
{
    char key[80], label[128];
    snprintf(key, sizeof key, "compaction.%s.samples", prefix);
    snprintf(label, sizeof label, "%s: timed gets", what);
    put(rep, SEC_COMPACTION, key, label, "ops", 0, (double)h->count);
    bool ok = h->count >= MIN_SAMPLES;
    snprintf(key, sizeof key, "compaction.%s.p50_ns", prefix);
    snprintf(label, sizeof label, "%s: p50", what);
    put(rep, SEC_COMPACTION, key, label, "ns", 0, ok ? hist_pct(h, 0.5) : NAN);
    snprintf(key, sizeof key, "compaction.%s.p99_ns", prefix);
    snprintf(label, sizeof label, "%s: p99", what);
    put(rep, SEC_COMPACTION, key, label, "ns", 0, ok ? hist_pct(h, 0.99) : NAN);
    snprintf(key, sizeof key, "compaction.%s.p99_9_ns", prefix);
    snprintf(label, sizeof label, "%s: p99.9", what);
    put(rep, SEC_COMPACTION, key, label, "ns", 0, ok ? hist_pct(h, 0.999) : NAN);
    snprintf(key, sizeof key, "compaction.%s.max_ns", prefix);
    snprintf(label, sizeof label, "%s: max", what);
    put(rep, SEC_COMPACTION, key, label, "ns", 0, ok ? (double)h->max : NAN);
    snprintf(key, sizeof key, "compaction.%s.ops_per_sec", prefix);
    snprintf(label, sizeof label, "%s: throughput", what);
    put(rep, SEC_COMPACTION, key, label, "ops/s", 0,
        ok && seconds > 0 ? (double)ops / seconds : NAN);
    return ok;
}

static void part_compaction(int rep, const char *dir)
{
    uint64_t n = flags.num;

    /* full: idle baseline, then axs_compact with the reader alongside. */
    garbage_db g = garbage_setup(rep, dir, "full");
    put(rep, SEC_COMPACTION, "compaction.setup.log_bytes", "set-up: log bytes", "bytes", 0,
        (double)g.st.log_bytes);
    put(rep, SEC_COMPACTION, "compaction.setup.live_bytes", "set-up: live bytes", "bytes", 0,
        (double)g.st.live_bytes);
    put(rep, SEC_COMPACTION, "compaction.setup.garbage", "set-up: garbage (1 - live/log)", "", 3,
        garbage_of(&g.st));
    put(rep, SEC_COMPACTION, "compaction.setup.segments", "set-up: segments", "", 0,
        (double)g.st.segments);
    verify_all(g.db, n, g.widx, "c: check after set-up");
    progress("[rep %d] c/full: idle reader, %.1f s", rep + 1, flags.seconds);
    hist *idle = hist_new();
    worker r = make_worker(g.db, W_READER, n, 20, idle);
    phase_result pr = run_phase(&r, 1, NULL, NULL);
    if (!put_reader_p(rep, "reader_idle", "reader, no compaction running", idle, pr.seconds,
                      r.ops))
        die("c: the idle reader timed only %" PRIu64 " gets in %.2f s", idle->count, pr.seconds);

    progress("[rep %d] c/full: axs_compact with a timed reader", rep + 1);
    hist *during = hist_new();
    r = make_worker(g.db, W_READER, n, 21, during);
    axs_stats b = stats(g.db);
    pr = run_phase(&r, 1, compact_full, g.db);
    axs_stats a = stats(g.db);
    put(rep, SEC_COMPACTION, "compaction.full.seconds", "full (axs_compact): wall time", "s", 3,
        pr.fn_value);
    put_compaction_bytes(rep, "full", "full", &b, &a);
    bool ok = put_reader_p(rep, "reader_during_full", "reader during axs_compact", during,
                           pr.seconds, r.ops);
    put(rep, SEC_COMPACTION, "compaction.full.reader_p99_ratio",
        "reader p99 during axs_compact / no compaction", "x", 2,
        ok ? hist_pct(during, 0.99) / hist_pct(idle, 0.99) : NAN);
    verify_all(g.db, n, g.widx, "c: check after axs_compact");
    check(g.db, axs_close(g.db), "axs_close");
    free(g.widx);

    /* range: axs_compact_range over every key. */
    g = garbage_setup(rep, dir, "range");
    progress("[rep %d] c/range: axs_compact_range(NULL, NULL) with a timed reader", rep + 1);
    hist *during_range = hist_new();
    r = make_worker(g.db, W_READER, n, 22, during_range);
    b = stats(g.db);
    pr = run_phase(&r, 1, compact_all_range, g.db);
    a = stats(g.db);
    put(rep, SEC_COMPACTION, "compaction.range.seconds",
        "range (axs_compact_range NULL..NULL): wall time", "s", 3, pr.fn_value);
    put_compaction_bytes(rep, "range", "range", &b, &a);
    ok = put_reader_p(rep, "reader_during_range", "reader during axs_compact_range",
                      during_range, pr.seconds, r.ops);
    put(rep, SEC_COMPACTION, "compaction.range.reader_p99_ratio",
        "reader p99 during axs_compact_range / no compaction", "x", 2,
        ok ? hist_pct(during_range, 0.99) / hist_pct(idle, 0.99) : NAN);
    verify_all(g.db, n, g.widx, "c: check after axs_compact_range");
    check(g.db, axs_close(g.db), "axs_close");
    free(g.widx);

    /* background: reopen with a trigger, wait for the compaction thread. */
    g = garbage_setup(rep, dir, "background");
    double garbage = garbage_of(&g.st);
    check(g.db, axs_close(g.db), "axs_close");
    if (garbage <= flags.bg_garbage_ratio)
        progress("[rep %d] c/background: WARNING: garbage %.3f is not above the trigger %.2f; "
                 "nothing will compact", rep + 1, garbage, flags.bg_garbage_ratio);
    progress("[rep %d] c/background: reopen with compaction_garbage_ratio %.2f, "
             "axs_wait_for_compaction with a timed reader", rep + 1, flags.bg_garbage_ratio);
    uint64_t t0 = now_ns();
    g.db = open_db(dir, false, flags.bg_garbage_ratio);
    double open_s = (double)(now_ns() - t0) / 1e9;
    hist *during_bg = hist_new();
    r = make_worker(g.db, W_READER, n, 23, during_bg);
    pr = run_phase(&r, 1, wait_compaction, g.db);
    a = stats(g.db);
    /* The handle is new: its counters start at zero, so they are the background's own. */
    axs_stats zero;
    memset(&zero, 0, sizeof zero);
    put(rep, SEC_COMPACTION, "compaction.background.trigger", "background: trigger ratio", "", 2,
        flags.bg_garbage_ratio);
    put(rep, SEC_COMPACTION, "compaction.background.open_seconds", "background: reopen", "s", 3,
        open_s);
    put(rep, SEC_COMPACTION, "compaction.background.wait_seconds",
        "background: axs_wait_for_compaction after the open", "s", 3, pr.fn_value);
    put(rep, SEC_COMPACTION, "compaction.background.seconds",
        "background: reopen + wait (reclaim wall time)", "s", 3, open_s + pr.fn_value);
    put(rep, SEC_COMPACTION, "compaction.background.engine_seconds",
        "background: the engine's compaction_seconds", "s", 3, a.compaction_seconds);
    put_compaction_bytes(rep, "background", "background", &zero, &a);
    ok = put_reader_p(rep, "reader_during_background", "reader during background compaction",
                      during_bg, pr.seconds, r.ops);
    put(rep, SEC_COMPACTION, "compaction.background.reader_p99_ratio",
        "reader p99 during background compaction / no compaction", "x", 2,
        ok ? hist_pct(during_bg, 0.99) / hist_pct(idle, 0.99) : NAN);
    verify_all(g.db, n, g.widx, "c: check after background compaction");
    check(g.db, axs_close(g.db), "axs_close");
    destroy_db(dir);
    free(g.widx);
    free(idle);
    free(during);
    free(during_range);
    free(during_bg);
}

/* ---------------------------------------------------------------------------------------- */
/* Part d: synced writes.                                                                    */

static void part_sync(int rep, const char *dir)
{
    destroy_db(dir);
    axs_db *db = open_db(dir, true, 0.0);
    worker *ws = xcalloc(MAX_THREADS, sizeof *ws);
    hist **hs = xcalloc(MAX_THREADS, sizeof *hs);
    for (int j = 0; j < flags.n_sync_threads; j++) {
        int idx = rep % 2 ? flags.n_sync_threads - 1 - j : j;
        int t = flags.sync_threads[idx];
        progress("[rep %d] d: %d synced writer thread(s), %.1f s", rep + 1, t, flags.seconds);
        for (int i = 0; i < t; i++) {
            hs[i] = hist_new();
            ws[i] = make_worker(db, W_SYNC_WRITER, 0, (uint64_t)(30 + i), hs[i]);
            /* distinct keys: each phase its own range, each thread every t-th key in it */
            ws[i].key_base = ((uint64_t)(idx + 1) << 40) + (uint64_t)i;
            ws[i].key_step = (uint64_t)t;
        }
        axs_stats b = stats(db);
        phase_result pr = run_phase(ws, t, NULL, NULL);
        axs_stats a = stats(db);
        uint64_t ops = total_ops(ws, t);
        if (a.num_keys - b.num_keys != ops)
            die("d: %" PRIu64 " synced puts of new keys, but num_keys grew by %" PRIu64, ops,
                a.num_keys - b.num_keys);
        hist *all = hist_new();
        for (int i = 0; i < t; i++) {
            hist_merge(all, hs[i]);
            free(hs[i]);
        }
        char key[80], label[128];
#define SYNC_PUT(suffix, lbl, unit, digits, v)                                                 \
    do {                                                                                       \
        snprintf(key, sizeof key, "sync.%d.%s", t, suffix);                                    \
        snprintf(label, sizeof label, "%d thread%s: %s", t, t == 1 ? "" : "s", lbl);           \
        put(rep, SEC_SYNC, key, label, unit, digits, v);                                       \
    } while (0)
        uint64_t syncs = a.syncs - b.syncs, sw = a.synced_writes - b.synced_writes;
        SYNC_PUT("ops_per_sec", "synced puts", "ops/s", 0, (double)ops / pr.seconds);
        SYNC_PUT("p50_us", "put p50", "us", 1, hist_pct(all, 0.5) / 1e3);
        SYNC_PUT("p99_us", "put p99", "us", 1, hist_pct(all, 0.99) / 1e3);
        SYNC_PUT("puts", "puts", "", 0, (double)ops);
        SYNC_PUT("syncs", "syncs (stats delta)", "", 0, (double)syncs);
        SYNC_PUT("synced_writes", "synced_writes (stats delta)", "", 0, (double)sw);
        SYNC_PUT("commit_groups", "commit_groups (stats delta)", "", 0,
                 (double)(a.commit_groups - b.commit_groups));
        SYNC_PUT("writes_per_sync", "synced_writes / syncs", "", 2,
                 syncs ? (double)sw / (double)syncs : 0);
#undef SYNC_PUT
        free(all);
    }
    /* Scaling against the first entry (1 thread by default), within the repetition. */
    char k0[80];
    snprintf(k0, sizeof k0, "sync.%d.ops_per_sec", flags.sync_threads[0]);
    int m0 = metric_index(k0);
    for (int j = 1; j < flags.n_sync_threads; j++) {
        int t = flags.sync_threads[j];
        char key[80], label[128];
        snprintf(key, sizeof key, "sync.%d.ops_per_sec", t);
        int m = metric_index(key);
        snprintf(key, sizeof key, "sync.%d.scaling", t);
        snprintf(label, sizeof label, "%d threads: ops/s over %d-thread ops/s", t,
                 flags.sync_threads[0]);
        if (m0 >= 0 && m >= 0 && vals[rep][m0] > 0)
            put(rep, SEC_SYNC, key, label, "x", 2, vals[rep][m] / vals[rep][m0]);
    }
    check(db, axs_close(db), "axs_close");
    destroy_db(dir);
    free(ws);
    free(hs);
}

/* ---------------------------------------------------------------------------------------- */
/* Environment.                                                                              */

typedef struct env_info {
    bench_env m;       /* the machine (bench_env.h) */
    double clock_p50; /* one clock_gettime pair, ns */
} env_info;

static void gather_env(env_info *e, const char *base, int argc, char **argv)
{
    bench_env_gather(&e->m, base, argc, argv);
    hist *h = hist_new();
    for (int i = 0; i < 200000; i++) {
        uint64_t a = now_ns();
        hist_add(h, now_ns() - a);
    }
    e->clock_p50 = hist_pct(h, 0.5);
    free(h);
}

static const char *assertions(void)
{
#ifdef NDEBUG
    return "off (NDEBUG)";
#else
    return "ON (numbers not representative)";
#endif
}

/* ---------------------------------------------------------------------------------------- */
/* Output.                                                                                   */

/* v with `digits` decimals and thousands separators in its integer part (%' is not C11). */
static void fmt_num(char *buf, size_t len, double v, int digits)
{
    char raw[64];
    snprintf(raw, sizeof raw, "%.*f", digits, v);
    size_t ilen = strcspn(raw, "."), o = 0;
    for (size_t i = 0; raw[i] && o + 2 < len; i++) {
        buf[o++] = raw[i];
        if (i < ilen) {
            size_t rest = ilen - i - 1;
            if (rest && rest % 3 == 0 && raw[i] != '-')
                buf[o++] = ',';
        }
    }
    buf[o] = 0;
}

static void sync_threads_str(char *buf, size_t len)
{
    buf[0] = 0;
    for (int i = 0; i < flags.n_sync_threads; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%d", i ? "," : "",
                 flags.sync_threads[i]);
}

static void print_env(const env_info *e, const char *base)
{
    char st[64];
    sync_threads_str(st, sizeof st);
    printf("## concurrency_bench %s\n\n", e->m.date);
    printf("```\n");
    printf("command:      %s\n", e->m.cmdline);
    printf("CPU:          %s, %ld cores online, %" PRIu64 " MiB RAM\n", e->m.cpu, e->m.cores,
           e->m.mem_mib);
    printf("kernel:       %s; load average at start: %s\n", e->m.kernel, e->m.loadavg);
    printf("directory:    %s (%s)\n", base, e->m.fs);
    printf("AlexStorage:  %s\n", CONCURRENCY_BENCH_ALEXSTORAGE_VERSION);
    printf("build:        %s, %s, C flags '%s', assertions %s%s%s\n",
           CONCURRENCY_BENCH_BUILD_TYPE, CONCURRENCY_BENCH_C_COMPILER, CONCURRENCY_BENCH_C_FLAGS,
           assertions(), CONCURRENCY_BENCH_SANITIZE[0] ? ", sanitizer " : "",
           CONCURRENCY_BENCH_SANITIZE);
    printf("workload:     N=%" PRIu64 " keys, key 16 B (db_bench format), value %d B; "
           "%.2f s per timed phase; %d repetition(s); seed %" PRIu64 "\n",
           flags.num, VALUE_SIZE, flags.seconds, flags.repeats, flags.seed);
    printf("options:      segment_size %s; part c overwrites %.0f%% of the keys, background "
           "trigger %.2f; part a/b compaction_garbage_ratio %.2f; synced writers %s\n",
           flags.segment_size ? "set by --segment_size" : "engine default",
           flags.overwrite_fraction * 100, flags.bg_garbage_ratio, flags.rw_garbage_ratio, st);
    if (flags.segment_size)
        printf("segment_size: %" PRIu64 " bytes\n", flags.segment_size);
    printf("clock:        clock_gettime(CLOCK_MONOTONIC) pair: p50 %.0f ns; included in every "
           "timed operation\n",
           e->clock_p50);
    printf("```\n\n");
    fflush(stdout);
}

static void print_section(enum section sec)
{
    printf("### %s\n\n", section_title[sec]);
    printf("| metric | median |");
    for (int r = 0; r < flags.repeats; r++)
        printf(" run %d |", r + 1);
    printf("\n|---|--:|");
    for (int r = 0; r < flags.repeats; r++)
        printf("--:|");
    printf("\n");
    for (int m = 0; m < nmets; m++) {
        if (mets[m].sec != sec || !have_med[m])
            continue;
        char buf[64];
        if (mets[m].unit[0])
            printf("| %s, %s |", mets[m].label, mets[m].unit);
        else
            printf("| %s |", mets[m].label);
        fmt_num(buf, sizeof buf, med[m], mets[m].digits);
        printf(" %s |", buf);
        for (int r = 0; r < flags.repeats; r++) {
            if (have[r][m])
                fmt_num(buf, sizeof buf, vals[r][m], mets[m].digits);
            printf(" %s |", have[r][m] ? buf : "-");
        }
        printf("\n");
    }
    printf("\n");
}

static void print_sync_pivot(void)
{
    static const struct {
        const char *suffix, *head;
        int digits;
    } cols[] = {{"ops_per_sec", "synced puts/s", 0},  {"scaling", "vs 1st row", 2},
                {"p50_us", "p50 us", 1},              {"p99_us", "p99 us", 1},
                {"syncs", "syncs", 0},                {"synced_writes", "synced_writes", 0},
                {"writes_per_sync", "writes/sync", 2}, {"commit_groups", "commit groups", 0}};
    printf("Synced writes, medians:\n\n| threads |");
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
        printf(" %s |", cols[c].head);
    printf("\n|--:|");
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
        printf("--:|");
    printf("\n");
    for (int j = 0; j < flags.n_sync_threads; j++) {
        int t = flags.sync_threads[j];
        printf("| %d |", t);
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
            char key[80], buf[64] = "-";
            snprintf(key, sizeof key, "sync.%d.%s", t, cols[c].suffix);
            int m = metric_index(key);
            if (m >= 0 && have_med[m])
                fmt_num(buf, sizeof buf, med[m], cols[c].digits);
            printf(" %s |", buf);
        }
        printf("\n");
    }
    printf("\n");
}

static void print_tables(void)
{
    if (flags.repeats > 1)
        printf("Medians of %d repetitions; each repetition's value follows. Ratios are taken "
               "within a repetition, then their median is shown.\n\n",
               flags.repeats);
    for (int s = 0; s < SEC_COUNT; s++) {
        if (s == SEC_SYNC)
            print_sync_pivot();
        print_section((enum section)s);
    }
    int mg = metric_index("compaction.setup.garbage");
    if (mg >= 0 && have_med[mg] && med[mg] <= flags.bg_garbage_ratio)
        printf("Note: the set-up's garbage (%.3f) was not above the background trigger (%.2f), "
               "so the background compaction had nothing to do.\n\n",
               med[mg], flags.bg_garbage_ratio);
    static const char *const reclaim[] = {"range", "background"};
    for (size_t i = 0; i < 2; i++) {
        char key[80];
        snprintf(key, sizeof key, "compaction.%s.bytes_removed", reclaim[i]);
        int m = metric_index(key);
        if (m >= 0 && have_med[m] && med[m] == 0)
            printf("Note: %s compaction removed no bytes (median): its time reclaimed nothing."
                   "\n\n", reclaim[i]);
    }
    printf("Throughput is operations over the wall time of the phase (workers released "
           "together, stopped after --seconds). Latencies: each operation timed alone with a "
           "clock_gettime pair, from a log-linear histogram (256 sub-buckets per power of two, "
           "within 0.4%%). Reads copy the 100-byte value (axs_get), with the engine's default "
           "read options.\n");
    fflush(stdout);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
    else
        fputs("null", f);
}

static void write_json(const char *path, const env_info *e, const char *base)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        die("--json: cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "{\n  \"benchmark\": \"concurrency_bench\",\n  \"format_version\": 1,\n");
    fprintf(f, "  \"environment\": {\n    \"date\": ");
    json_str(f, e->m.date);
    fprintf(f, ",\n    \"command\": ");
    json_str(f, e->m.cmdline);
    fprintf(f, ",\n    \"cpu_model\": ");
    json_str(f, e->m.cpu);
    fprintf(f, ",\n    \"cores\": %ld,\n    \"memory_mib\": %" PRIu64 ",\n    \"kernel\": ",
            e->m.cores, e->m.mem_mib);
    json_str(f, e->m.kernel);
    fprintf(f, ",\n    \"loadavg_at_start\": ");
    json_str(f, e->m.loadavg);
    fprintf(f, ",\n    \"directory\": ");
    json_str(f, base);
    fprintf(f, ",\n    \"filesystem\": ");
    json_str(f, e->m.fs);
    fprintf(f, ",\n    \"alexstorage_version\": ");
    json_str(f, CONCURRENCY_BENCH_ALEXSTORAGE_VERSION);
    fprintf(f, ",\n    \"build_type\": ");
    json_str(f, CONCURRENCY_BENCH_BUILD_TYPE);
    fprintf(f, ",\n    \"c_compiler\": ");
    json_str(f, CONCURRENCY_BENCH_C_COMPILER);
    fprintf(f, ",\n    \"c_flags\": ");
    json_str(f, CONCURRENCY_BENCH_C_FLAGS);
    fprintf(f, ",\n    \"assertions\": ");
    json_str(f, assertions());
    fprintf(f, ",\n    \"sanitize\": ");
    json_str(f, CONCURRENCY_BENCH_SANITIZE);
    fprintf(f, ",\n    \"clock_pair_p50_ns\": %.1f\n  },\n", e->clock_p50);
    fprintf(f, "  \"config\": {\n    \"num\": %" PRIu64 ",\n    \"seconds\": ", flags.num);
    json_num(f, flags.seconds);
    fprintf(f, ",\n    \"repeats\": %d,\n    \"seed\": %" PRIu64 ",\n    \"key_size\": %d,\n"
               "    \"value_size\": %d,\n    \"segment_size\": %" PRIu64 ",\n"
               "    \"overwrite_fraction\": ",
            flags.repeats, flags.seed, KEY_SIZE, VALUE_SIZE, flags.segment_size);
    json_num(f, flags.overwrite_fraction);
    fprintf(f, ",\n    \"bg_garbage_ratio\": ");
    json_num(f, flags.bg_garbage_ratio);
    fprintf(f, ",\n    \"rw_garbage_ratio\": ");
    json_num(f, flags.rw_garbage_ratio);
    fprintf(f, ",\n    \"sync_threads\": [");
    for (int i = 0; i < flags.n_sync_threads; i++)
        fprintf(f, "%s%d", i ? ", " : "", flags.sync_threads[i]);
    fprintf(f, "]\n  },\n  \"sections\": {");
    for (int s = 0; s < SEC_COUNT; s++) {
        fprintf(f, "%s\n    \"%s\": ", s ? "," : "", section_key[s]);
        json_str(f, section_title[s]);
    }
    fprintf(f, "\n  },\n  \"median\": {");
    bool first = true;
    for (int m = 0; m < nmets; m++) {
        if (!have_med[m])
            continue;
        fprintf(f, "%s\n    \"%s\": ", first ? "" : ",", mets[m].key);
        json_num(f, med[m]);
        first = false;
    }
    fprintf(f, "\n  },\n  \"metrics\": [");
    for (int m = 0; m < nmets; m++) {
        fprintf(f, "%s\n    {\"key\": \"%s\", \"section\": \"%s\", \"label\": ", m ? "," : "",
                mets[m].key, section_key[mets[m].sec]);
        json_str(f, mets[m].label);
        fprintf(f, ", \"unit\": ");
        json_str(f, mets[m].unit);
        fprintf(f, ", \"digits\": %d, \"median\": ", mets[m].digits);
        if (have_med[m])
            json_num(f, med[m]);
        else
            fputs("null", f);
        fprintf(f, ", \"runs\": [");
        for (int r = 0; r < flags.repeats; r++) {
            fputs(r ? ", " : "", f);
            if (have[r][m])
                json_num(f, vals[r][m]);
            else
                fputs("null", f);
        }
        fprintf(f, "]}");
    }
    fprintf(f, "\n  ]\n}\n");
    if (fclose(f) != 0)
        die("--json: writing %s failed", tmp);
    if (rename(tmp, path) != 0)
        die("--json: rename %s -> %s: %s", tmp, path, strerror(errno));
}

/* ---------------------------------------------------------------------------------------- */
/* Flag parsing.                                                                             */

static uint64_t parse_u64(const char *name, const char *v, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    if (!*v || *v == '-')
        die("--%s: '%s' is not a number", name, v);
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end || x < min || x > max)
        die("--%s: '%s' is not a number in [%" PRIu64 ", %" PRIu64 "]", name, v, min, max);
    return (uint64_t)x;
}

static double parse_double(const char *name, const char *v, double min, double max)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || errno || *end || !(x >= min && x <= max))
        die("--%s: '%s' is not a number in [%g, %g]", name, v, min, max);
    return x;
}

static bool valid_ratio(double r)
{
    return r == 0 || (r >= 0.05 && r <= 0.95);
}

static void parse_flags(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0)
            die("unexpected argument '%s'\n%s", a, usage);
        const char *eq = strchr(a, '=');
        if (!eq)
            die("--%s needs a value (--name=value)\n%s", a + 2, usage);
        char name[64];
        size_t nl = (size_t)(eq - a - 2);
        if (nl >= sizeof name)
            die("unknown flag '%s'\n%s", a, usage);
        memcpy(name, a + 2, nl);
        name[nl] = 0;
        const char *v = eq + 1;
        if (strcmp(name, "num") == 0) {
            flags.num = parse_u64(name, v, 100, UINT32_MAX / 4);
        } else if (strcmp(name, "db") == 0) {
            flags.db = v;
        } else if (strcmp(name, "json") == 0) {
            flags.json = v;
        } else if (strcmp(name, "seconds") == 0) {
            flags.seconds = parse_double(name, v, 0.01, 3600);
        } else if (strcmp(name, "repeats") == 0) {
            flags.repeats = (int)parse_u64(name, v, 1, MAX_REPS);
        } else if (strcmp(name, "seed") == 0) {
            flags.seed = parse_u64(name, v, 0, UINT64_MAX);
        } else if (strcmp(name, "segment_size") == 0) {
            flags.segment_size = parse_u64(name, v, 0, UINT64_MAX);
        } else if (strcmp(name, "overwrite_fraction") == 0) {
            flags.overwrite_fraction = parse_double(name, v, 0, 1);
        } else if (strcmp(name, "bg_garbage_ratio") == 0) {
            flags.bg_garbage_ratio = parse_double(name, v, 0.05, 0.95);
        } else if (strcmp(name, "rw_garbage_ratio") == 0) {
            flags.rw_garbage_ratio = parse_double(name, v, 0, 0.95);
            if (!valid_ratio(flags.rw_garbage_ratio))
                die("--rw_garbage_ratio: 0 or 0.05..0.95");
        } else if (strcmp(name, "sync_threads") == 0) {
            char list[128];
            if (strlen(v) >= sizeof list)
                die("--sync_threads: too long");
            snprintf(list, sizeof list, "%s", v);
            flags.n_sync_threads = 0;
            for (char *save = NULL, *t = strtok_r(list, ",", &save); t;
                 t = strtok_r(NULL, ",", &save)) {
                if (flags.n_sync_threads == MAX_SYNC_THREADS)
                    die("--sync_threads: at most %d entries", MAX_SYNC_THREADS);
                int x = (int)parse_u64(name, t, 1, MAX_THREADS);
                for (int j = 0; j < flags.n_sync_threads; j++)
                    if (flags.sync_threads[j] == x)
                        die("--sync_threads: %d given twice", x);
                flags.sync_threads[flags.n_sync_threads++] = x;
            }
            if (!flags.n_sync_threads)
                die("--sync_threads: empty");
        } else {
            die("unknown flag '%s'\n%s", a, usage);
        }
    }
}

/* ---------------------------------------------------------------------------------------- */

static char cleanup_dir[4096];
static void cleanup(void)
{
    if (cleanup_dir[0])
        remove_tree(cleanup_dir);
}

int main(int argc, char **argv)
{
    bench_program = "concurrency_bench";
    parse_flags(argc, argv);

    char base[4096];
    int n = snprintf(base, sizeof base, "%s/concurrency_bench.XXXXXX",
                     flags.db ? flags.db : "/tmp");
    if (n < 0 || (size_t)n >= sizeof base - 64)
        die("--db: path too long");
    if (!mkdtemp(base))
        die("mkdtemp %s: %s", base, strerror(errno));
    snprintf(cleanup_dir, sizeof cleanup_dir, "%s", base);
    atexit(cleanup);

    env_info env;
    gather_env(&env, base, argc, argv);
    print_env(&env, base);
    value_pool_init();

    char d_reads[4200], d_compact[4200], d_sync[4200];
    snprintf(d_reads, sizeof d_reads, "%s/reads", base);
    snprintf(d_compact, sizeof d_compact, "%s/compaction", base);
    snprintf(d_sync, sizeof d_sync, "%s/sync", base);

    uint64_t t0 = now_ns();
    for (int r = 0; r < flags.repeats; r++) {
        part_reads(r, d_reads);
        part_compaction(r, d_compact);
        part_sync(r, d_sync);
        progress("[rep %d] done; %.1f s so far", r + 1, (double)(now_ns() - t0) / 1e9);
    }
    compute_medians();
    print_tables();
    if (flags.json)
        write_json(flags.json, &env, base);
    free(value_pool);
    return 0;
}
