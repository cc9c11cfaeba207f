/*
 * test_concurrency.c: the concurrency contract of alexstorage/db.h (point 6): every function
 * may be called from many threads at once on one handle; reads (gets, pinned gets, iterator
 * steps) never wait for a writer, an fsync or a compaction; writers are queued and committed
 * in groups sharing one fdatasync; pinned values and iterators stay valid across writes,
 * segment roll-over and compaction (explicit, by range, and in the background).
 *
 * Cases:
 *   test_stress_model                  writers, readers, an iterator thread, a snapshot thread
 *                                      and a compaction thread on one handle, every read
 *                                      checked against a model the writers publish with C11
 *                                      atomics; the content after a reopen equals the model.
 *   test_pinned_survives_compaction    pinned values keep their bytes while their segments are
 *                                      overwritten, compacted and removed.
 *   test_iterator_survives_compaction  iterators (implicit and explicit snapshot) walk both
 *                                      ways while other threads overwrite and compact.
 *   test_group_commit                  8 threads of synced puts: all durable, syncs shared.
 *   test_readers_do_not_wait           1000 gets complete while a synced put is held inside
 *                                      its fdatasync (an I/O table whose sync blocks).
 *   test_background_compaction_bounds_space
 *                                      the background compaction keeps the log within about
 *                                      twice the live data.
 *
 * The model of test_stress_model. Each writer thread owns a disjoint set of keys and numbers
 * its writes 1, 2, 3, ... (a "version"). For every key it publishes three atomics:
 *   started    the version of the newest write to the key it has begun (stored before the call),
 *   completed  (version << 1) | is_delete of the newest write that has returned,
 *   last_del   the version of the newest delete of the key it has begun.
 * A read that loads c = completed before it starts and h = started, d = last_del after it ends
 * must return a value whose version v satisfies v <= h and v >= c's version (v > it if c was
 * a delete), or "not found" only if c is nothing yet or d >= c's version (a delete lies in the
 * window). Values are self-checking: magic, length, version, writer, the key, bytes derived
 * from (key, version) and an FNV-1a checksum, so any value can be regenerated from its key and
 * version and compared byte for byte. Pair keys "wNN-pNNNNNa/b" are written only together in
 * 2-entry batches with the same version, so any consistent view (an iterator, a snapshot)
 * shows both absent or both at one version.
 *
 * Threads never call cmocka: they record the first failure (with key, version and seed) in a
 * failbox and stop everyone; the main thread fails the test after joining them.
 *
 * Environment (besides ALEXSTORAGE_SEED and ALEXSTORAGE_TEST_SCALE, see test_util.h):
 *   ALEXSTORAGE_STRESS_SECONDS   run time of test_stress_model (default 3; e.g. 600)
 *   ALEXSTORAGE_STRESS_WRITERS   writer threads of test_stress_model (default 2, at most 16)
 *   ALEXSTORAGE_STRESS_READERS   reader threads of test_stress_model (default 2, at most 16)
 *
 * Every case gets a fresh directory under $TMPDIR (or /tmp), removed by its teardown. No case
 * asserts on time; the only waits are for conditions (with generous liveness guards whose
 * failure messages say what did not happen).
 */
#define _XOPEN_SOURCE 700

#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "alexstorage/db.h"
#include "alexstorage/io.h"

/* Fixture: a fresh directory per test (tu_dir_setup / tu_dir_teardown, test_util.h). */
typedef tu_dir fx;

/* ---- small helpers ------------------------------------------------------------------------ */

static int keycmp(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static uint64_t fnv64(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001B3ull;
    }
    return h;
}
#define FNV_INIT 0xCBF29CE484222325ull

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static double env_double(const char *name, double def)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v > 0)) {
        fprintf(stderr, "%s=\"%s\" ignored (want a positive number)\n", name, s);
        return def;
    }
    return v;
}

static axs_options mkopts(bool create)
{
    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = create;
    return o;
}

static axs_db *open_at(const char *path, const axs_options *o)
{
    axs_db *db = NULL;
    char *err = NULL;
    int rc = axs_open(path, o, &db, &err);
    TU_REQUIRE(rc == AXS_OK && db != NULL, "axs_open(%s) = %d (%s): %s", path, rc,
               axs_strerror(rc), err ? err : "(no message)");
    free(err);
    return db;
}

static void close_ok(axs_db *db)
{
    int rc = axs_close(db);
    TU_REQUIRE(rc == AXS_OK, "axs_close = %d (%s)", rc, axs_strerror(rc));
}

static axs_stats stats_of(axs_db *db)
{
    axs_stats st;
    axs_get_stats(db, &st);
    return st;
}

/* Names of the *.seg files in dir (up to max), their count, and the sum of their sizes. */
static size_t seg_files(const char *dir, char (*names)[32], size_t max, uint64_t *bytes)
{
    DIR *d = opendir(dir);
    TU_REQUIRE(d != NULL, "opendir(%s): %s", dir, strerror(errno));
    size_t n = 0;
    uint64_t sum = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".seg") == 0) {
            char p[4096];
            struct stat sb;
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            if (stat(p, &sb) == 0)
                sum += (uint64_t)sb.st_size;
            if (names && n < max)
                snprintf(names[n], sizeof names[0], "%s", de->d_name);
            n++;
        }
    }
    closedir(d);
    if (bytes)
        *bytes = sum;
    return n;
}

/* ---- failures in threads ------------------------------------------------------------------ */

/* The first failure of any thread, and a stop flag for all of them. Threads never call cmocka
 * (its failure longjmps out of the test's own thread only). */
typedef struct failbox {
    atomic_bool stop;
    atomic_int failed;
    char msg[2048]; /* written by the one thread that set failed, read after joining */
} failbox;

static void fb_init(failbox *fb)
{
    atomic_init(&fb->stop, false);
    atomic_init(&fb->failed, 0);
    fb->msg[0] = '\0';
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void fb_fail(failbox *fb, const char *fmt, ...)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&fb->failed, &expected, 1)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fb->msg, sizeof fb->msg, fmt, ap);
        va_end(ap);
        fprintf(stderr, "[ THREAD   ] first failure: %s\n", fb->msg);
        fflush(stderr);
    }
    atomic_store(&fb->stop, true);
}

static bool fb_stopped(failbox *fb)
{
    return atomic_load_explicit(&fb->stop, memory_order_relaxed);
}

/* After joining every thread of the box: fails the test with the first thread failure. */
#define FB_CHECK(fb, seed)                                                                         \
    TU_REQUIRE(atomic_load(&(fb)->failed) == 0, "%s [test seed=%" PRIu64 "]", (fb)->msg, (seed))

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
    int rc = pthread_create(t, NULL, fn, arg);
    TU_REQUIRE(rc == 0, "pthread_create: %s", strerror(rc));
}

/* ---- self-checking values ------------------------------------------------------------------
 *
 *  off  size
 *    0     4  magic "AXSV"
 *    4     4  total length of the value
 *    8     8  version
 *   16     4  writer
 *   20     2  key length
 *   22    kl  the key
 *    .     .  filler: splitmix64 stream seeded from (key, writer, version)
 *  end-8   8  FNV-1a 64 of every byte before it
 */
#define VAL_MAGIC 0x56535841u /* "AXSV" */
enum { VAL_HDR = 22, VAL_SUM = 8, VAL_MAX = 16384, VAL_PARTIAL = 30 };

static size_t val_min_len(size_t kl)
{
    return VAL_HDR + kl + VAL_SUM;
}

/* The length a value of (key, version) gets: mostly small, some minimal, some > 4 KiB. */
static size_t val_len_for(const void *k, size_t kl, uint64_t version)
{
    uint64_t h = mix64(fnv64(k, kl, FNV_INIT) ^ (version * 0x9E3779B97F4A7C15ull));
    size_t min = val_min_len(kl), len;
    unsigned r = (unsigned)(h % 100);
    if (r < 6)
        len = 4097 + (size_t)((h >> 8) % 8192); /* 4097 .. 12288: more than a page */
    else if (r < 14)
        len = min; /* the smallest well-formed value */
    else
        len = min + (size_t)((h >> 8) % 1500);
    return len < min ? min : len > VAL_MAX ? VAL_MAX : len;
}

/* Writes the value of (key, writer, version) of length len (>= val_min_len, <= VAL_MAX). */
static size_t make_value_len(uint8_t *buf, const void *k, size_t kl, uint32_t writer,
                             uint64_t version, size_t len)
{
    put32(buf, VAL_MAGIC);
    put32(buf + 4, (uint32_t)len);
    put64(buf + 8, version);
    put32(buf + 16, writer);
    buf[20] = (uint8_t)(kl & 0xff);
    buf[21] = (uint8_t)(kl >> 8);
    memcpy(buf + VAL_HDR, k, kl);
    uint64_t s = fnv64(k, kl, FNV_INIT) ^ mix64(version + 0x1234567ull * (writer + 1));
    for (size_t i = VAL_HDR + kl; i < len - VAL_SUM; i += 8) {
        uint64_t x = tu_splitmix64(&s);
        size_t n = len - VAL_SUM - i < 8 ? len - VAL_SUM - i : 8;
        memcpy(buf + i, &x, n);
    }
    put64(buf + len - VAL_SUM, fnv64(buf, len - VAL_SUM, FNV_INIT));
    return len;
}

static size_t make_value(uint8_t *buf, const void *k, size_t kl, uint32_t writer,
                         uint64_t version)
{
    return make_value_len(buf, k, kl, writer, version, val_len_for(k, kl, version));
}

/* Checks that v[0..vl) is a well-formed value of key k written by writer (any writer if
 * writer < 0); sets *version. On failure writes the reason to why and returns false. */
static bool check_value(const void *k, size_t kl, int writer, const uint8_t *v, size_t vl,
                        uint64_t *version, char *why, size_t wl)
{
    if (vl < val_min_len(kl) || vl > VAL_MAX) {
        snprintf(why, wl, "value of %zu bytes cannot be a value of this key (%zu..%u bytes)", vl,
                 val_min_len(kl), VAL_MAX);
        return false;
    }
    if (get32(v) != VAL_MAGIC) {
        snprintf(why, wl, "value (%zu bytes) has no magic (0x%08x)", vl, get32(v));
        return false;
    }
    if (get32(v + 4) != vl) {
        snprintf(why, wl, "value has %zu bytes but its header says %u", vl, get32(v + 4));
        return false;
    }
    size_t vkl = (size_t)v[20] | (size_t)v[21] << 8;
    if (vkl != kl || memcmp(v + VAL_HDR, k, kl) != 0) {
        snprintf(why, wl, "value belongs to key \"%.*s\"", (int)(vkl < 40 ? vkl : 40),
                 (const char *)v + VAL_HDR);
        return false;
    }
    uint32_t w = get32(v + 16);
    uint64_t ver = get64(v + 8);
    if ((writer >= 0 && w != (uint32_t)writer) || ver == 0) {
        snprintf(why, wl, "value names writer %u version %" PRIu64 " (expected writer %d)", w,
                 ver, writer);
        return false;
    }
    if (fnv64(v, vl - VAL_SUM, FNV_INIT) != get64(v + vl - VAL_SUM)) {
        snprintf(why, wl, "checksum of the value (version %" PRIu64 ", %zu bytes) is wrong", ver,
                 vl);
        return false;
    }
    uint8_t want[VAL_MAX];
    make_value_len(want, k, kl, w, ver, vl);
    if (memcmp(want, v, vl) != 0) {
        size_t at = 0;
        while (want[at] == v[at])
            at++;
        snprintf(why, wl, "value (version %" PRIu64 ") differs from its regeneration at byte %zu",
                 ver, at);
        return false;
    }
    *version = ver;
    return true;
}

/* The first VAL_PARTIAL bytes of a value whose full length is vl (a partial axs_get). */
static bool check_partial(const void *k, size_t kl, int writer, const uint8_t *v, size_t vl,
                          uint64_t *version, char *why, size_t wl)
{
    if (vl < val_min_len(kl) || vl > VAL_MAX || vl < VAL_PARTIAL) {
        snprintf(why, wl, "partial get reported %zu bytes, not a possible value length", vl);
        return false;
    }
    uint64_t ver = get64(v + 8);
    if (get32(v) != VAL_MAGIC || get32(v + 4) != vl || ver == 0 ||
        (writer >= 0 && get32(v + 16) != (uint32_t)writer)) {
        snprintf(why, wl, "partial get: header wrong (magic 0x%08x, length %u of %zu, version %" PRIu64
                 ", writer %u)", get32(v), get32(v + 4), vl, ver, get32(v + 16));
        return false;
    }
    uint8_t want[VAL_MAX];
    make_value_len(want, k, kl, get32(v + 16), ver, vl);
    if (memcmp(want, v, VAL_PARTIAL) != 0) {
        snprintf(why, wl, "partial get (version %" PRIu64 "): the first %d bytes differ", ver,
                 VAL_PARTIAL);
        return false;
    }
    *version = ver;
    return true;
}

/* Reads key k with one of the read calls (variant 0: axs_get, 1: axs_get_alloc,
 * 2: axs_get_pinned, 3: axs_get into a 30-byte buffer) and checks the value belongs to k and
 * writer. If keep is not NULL and variant 2 found the key, the pin is handed to *keep instead of
 * being released. Returns false with why set on an error or a malformed value. */
static const char *const variant_name[4] = {"axs_get", "axs_get_alloc", "axs_get_pinned",
                                            "axs_get(partial)"};

static bool read_key(axs_db *db, const axs_read_options *ro, const void *k, size_t kl,
                     int writer, int variant, bool *found, uint64_t *version, axs_pinned **keep,
                     char *why, size_t wl)
{
    uint8_t buf[VAL_MAX + 16];
    size_t vl = 0;
    int rc;
    bool ok = true;
    *found = false;
    *version = 0;
    if (keep)
        *keep = NULL;
    switch (variant) {
    case 0:
        rc = axs_get(db, ro, k, kl, buf, VAL_MAX, &vl, found);
        if (rc == AXS_OK && *found)
            ok = check_value(k, kl, writer, buf, vl, version, why, wl);
        break;
    case 1: {
        char *a = (char *)(uintptr_t)1;
        rc = axs_get_alloc(db, ro, k, kl, &a, &vl, found);
        if (rc == AXS_OK && *found && a == NULL) {
            snprintf(why, wl, "axs_get_alloc found the key but returned NULL");
            return false;
        }
        if (rc == AXS_OK && !*found && a != NULL) {
            snprintf(why, wl, "axs_get_alloc missed the key but did not set *value = NULL");
            return false;
        }
        if (rc == AXS_OK && *found)
            ok = check_value(k, kl, writer, (const uint8_t *)a, vl, version, why, wl);
        if (rc == AXS_OK)
            free(a);
        break;
    }
    case 2: {
        axs_pinned *pin = (axs_pinned *)(uintptr_t)1;
        rc = axs_get_pinned(db, ro, k, kl, &pin, found);
        if (rc == AXS_OK && (*found ? pin == NULL : pin != NULL)) {
            snprintf(why, wl, "axs_get_pinned: found %d but pin %s", (int)*found,
                     pin ? "set" : "NULL");
            return false;
        }
        if (rc == AXS_OK && *found) {
            const uint8_t *pd = axs_pinned_data(pin, &vl);
            ok = check_value(k, kl, writer, pd, vl, version, why, wl);
            if (keep && ok)
                *keep = pin;
            else
                axs_pinned_release(pin);
        }
        break;
    }
    default:
        memset(buf, 0xA5, sizeof buf);
        rc = axs_get(db, ro, k, kl, buf, VAL_PARTIAL, &vl, found);
        if (rc == AXS_OK && *found) {
            for (size_t i = VAL_PARTIAL; i < VAL_PARTIAL + 16; i++)
                if (buf[i] != 0xA5) {
                    snprintf(why, wl, "partial axs_get wrote past its %d-byte buffer (byte %zu)",
                             VAL_PARTIAL, i);
                    return false;
                }
            ok = check_partial(k, kl, writer, buf, vl, version, why, wl);
        }
        break;
    }
    if (rc != AXS_OK) {
        snprintf(why, wl, "%s = %d (%s)", variant_name[variant & 3], rc, axs_strerror(rc));
        return false;
    }
    return ok;
}

/* ---- the stress model --------------------------------------------------------------------- */

enum { KIND_SINGLE, KIND_PAIR_A, KIND_PAIR_B };
enum { MAX_WRITERS = 16, MAX_READERS = 16 };

typedef struct ukey {
    char k[24];
    uint8_t kl;
    uint8_t writer;
    uint8_t kind;
} ukey;

typedef struct kmodel {
    _Atomic uint64_t started;   /* version of the newest write begun */
    _Atomic uint64_t completed; /* (version << 1) | is_delete of the newest write returned */
    _Atomic uint64_t last_del;  /* version of the newest delete begun */
} kmodel;

typedef struct stress {
    axs_db *db;
    uint64_t seed;
    int nwriters, nreaders;
    size_t npairs, nsingles, per_writer, nslots;
    ukey *keys; /* sorted; slot w * per_writer + (pairs: 2p, 2p+1; singles: 2 * npairs + s) */
    kmodel *m;
    failbox fb;
    /* counters (reporting) */
    atomic_uint_fast64_t gets, writes, synced_writes, batches, range_deletes, iter_steps,
        iterators, snapshots, snapshot_reads, compact_full, compact_range, flushes;
    atomic_uint_fast64_t progress; /* writes completed so far, by all writers (pacing) */
    /* the iterator thread's own keys: "x-marker" and "x-fresh-NNNNNNNN" */
    _Atomic uint64_t marker_version;
} stress;

#define MARKER_KEY "x-marker"
#define FRESH_PREFIX "x-fresh-"
#define ITER_WRITER 200u /* writer id in the iterator thread's values */

static size_t slot_of(const stress *st, int w, int kind, size_t idx)
{
    size_t base = (size_t)w * st->per_writer;
    if (kind == KIND_SINGLE)
        return base + 2 * st->npairs + idx;
    return base + 2 * idx + (kind == KIND_PAIR_B);
}

/* Slot of a writer key, or -1. */
static long find_slot(const stress *st, const void *k, size_t kl)
{
    size_t lo = 0, hi = st->nslots;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = keycmp(st->keys[mid].k, st->keys[mid].kl, k, kl);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void stress_build_keys(stress *st)
{
    st->per_writer = 2 * st->npairs + st->nsingles;
    st->nslots = st->per_writer * (size_t)st->nwriters;
    st->keys = calloc(st->nslots, sizeof *st->keys);
    st->m = calloc(st->nslots, sizeof *st->m);
    TU_REQUIRE(st->keys && st->m, "out of memory");
    for (int w = 0; w < st->nwriters; w++) {
        for (size_t p = 0; p < st->npairs; p++)
            for (int b = 0; b < 2; b++) {
                ukey *u = &st->keys[slot_of(st, w, b ? KIND_PAIR_B : KIND_PAIR_A, p)];
                u->kl = (uint8_t)snprintf(u->k, sizeof u->k, "w%02d-p%05zu%c", w, p, b ? 'b' : 'a');
                u->writer = (uint8_t)w;
                u->kind = b ? KIND_PAIR_B : KIND_PAIR_A;
            }
        for (size_t s = 0; s < st->nsingles; s++) {
            ukey *u = &st->keys[slot_of(st, w, KIND_SINGLE, s)];
            u->kl = (uint8_t)snprintf(u->k, sizeof u->k, "w%02d-s%05zu", w, s);
            u->writer = (uint8_t)w;
            u->kind = KIND_SINGLE;
        }
    }
    for (size_t i = 0; i < st->nslots; i++) {
        atomic_init(&st->m[i].started, 0);
        atomic_init(&st->m[i].completed, 0);
        atomic_init(&st->m[i].last_del, 0);
        if (i)
            TU_REQUIRE(keycmp(st->keys[i - 1].k, st->keys[i - 1].kl, st->keys[i].k,
                              st->keys[i].kl) < 0,
                       "test bug: key universe not sorted at %zu", i);
    }
    atomic_init(&st->marker_version, 0);
}

/* Is "found at version v" / "absent" a possible result of a read of a key whose model showed
 * completed = c before the read, started = h and last_del = d after it? */
static bool window_ok(uint64_t c, uint64_t h, uint64_t d, bool found, uint64_t v, char *why,
                      size_t wl)
{
    uint64_t cv = c >> 1;
    bool cdel = c & 1;
    if (found) {
        if (v > h) {
            snprintf(why, wl, "read version %" PRIu64 ", but the newest write begun is %" PRIu64
                     " (a value from the future)", v, h);
            return false;
        }
        if (cv && (cdel ? v <= cv : v < cv)) {
            snprintf(why, wl, "read version %" PRIu64 ", older than the %s of version %" PRIu64
                     " that had completed before the read", v, cdel ? "delete" : "put", cv);
            return false;
        }
        return true;
    }
    if (cv == 0 || d >= cv)
        return true;
    snprintf(why, wl, "key absent, but the put of version %" PRIu64 " had completed before the "
             "read and no delete began since (newest delete %" PRIu64 ", newest write %" PRIu64 ")",
             cv, d, h);
    return false;
}

/* ---- writers ---- */

typedef struct writer_arg {
    stress *st;
    int id;
} writer_arg;

static void w_begin(stress *st, size_t slot, uint64_t v, bool del)
{
    if (del)
        atomic_store(&st->m[slot].last_del, v);
    atomic_store(&st->m[slot].started, v);
}

static void w_end(stress *st, size_t slot, uint64_t v, bool del)
{
    atomic_store(&st->m[slot].completed, v << 1 | (del ? 1u : 0u));
}

static void *writer_main(void *p)
{
    writer_arg *a = p;
    stress *st = a->st;
    failbox *fb = &st->fb;
    tu_rng rng;
    tu_rng_init(&rng, st->seed ^ (0x5752495445520000ull + (uint64_t)a->id));
    uint8_t *val = malloc(VAL_MAX), *val2 = malloc(VAL_MAX);
    axs_batch *b = axs_batch_create();
    if (!val || !val2 || !b) {
        fb_fail(fb, "writer %d: out of memory", a->id);
        goto out;
    }
    uint64_t v = 0, nwrites = 0, nsync = 0, nbatch = 0, nrange = 0;
    while (!fb_stopped(fb)) {
        v++;
        axs_write_options wo;
        axs_write_options_init(&wo);
        wo.sync = tu_rng_below(&rng, 100) < 2;
        unsigned r = (unsigned)tu_rng_below(&rng, 100);
        int rc;
        const char *what;
        size_t s0;
        if (r < 57) { /* single put (45%) or delete (12%) */
            bool del = r >= 45;
            s0 = slot_of(st, a->id, KIND_SINGLE, (size_t)tu_rng_below(&rng, st->nsingles));
            const ukey *u = &st->keys[s0];
            w_begin(st, s0, v, del);
            if (del) {
                what = "axs_delete";
                rc = axs_delete(st->db, &wo, u->k, u->kl);
            } else {
                what = "axs_put";
                size_t vl = make_value(val, u->k, u->kl, (uint32_t)a->id, v);
                rc = axs_put(st->db, &wo, u->k, u->kl, val, vl);
            }
            if (rc == AXS_OK)
                w_end(st, s0, v, del);
        } else if (r < 62) { /* delete_range over 1..8 singles */
            size_t i = (size_t)tu_rng_below(&rng, st->nsingles);
            size_t n = 1 + (size_t)tu_rng_below(&rng, 8);
            if (i + n > st->nsingles)
                n = st->nsingles - i;
            s0 = slot_of(st, a->id, KIND_SINGLE, i);
            char endk[24];
            size_t endl;
            if (i + n < st->nsingles) {
                memcpy(endk, st->keys[s0 + n].k, st->keys[s0 + n].kl);
                endl = st->keys[s0 + n].kl;
            } else { /* past this writer's last single, before the next writer's keys */
                endl = (size_t)snprintf(endk, sizeof endk, "w%02d-t", a->id);
            }
            for (size_t j = 0; j < n; j++)
                w_begin(st, s0 + j, v, true);
            what = "axs_delete_range";
            rc = axs_delete_range(st->db, &wo, st->keys[s0].k, st->keys[s0].kl, endk, endl);
            if (rc == AXS_OK)
                for (size_t j = 0; j < n; j++)
                    w_end(st, s0 + j, v, true);
            nrange++;
        } else { /* a pair as one batch: both put (30%) or both deleted (8%) */
            bool del = r >= 92;
            size_t pair = (size_t)tu_rng_below(&rng, st->npairs);
            s0 = slot_of(st, a->id, KIND_PAIR_A, pair);
            const ukey *ua = &st->keys[s0], *ub = &st->keys[s0 + 1];
            axs_batch_clear(b);
            if (del) {
                rc = axs_batch_delete(b, ua->k, ua->kl);
                if (rc == AXS_OK)
                    rc = axs_batch_delete(b, ub->k, ub->kl);
            } else {
                size_t la = make_value(val, ua->k, ua->kl, (uint32_t)a->id, v);
                size_t lb = make_value(val2, ub->k, ub->kl, (uint32_t)a->id, v);
                rc = axs_batch_put(b, ua->k, ua->kl, val, la);
                if (rc == AXS_OK)
                    rc = axs_batch_put(b, ub->k, ub->kl, val2, lb);
            }
            if (rc != AXS_OK) {
                fb_fail(fb, "writer %d: building a batch for %s: %d (%s) (seed=%" PRIu64 ")",
                        a->id, ua->k, rc, axs_strerror(rc), st->seed);
                break;
            }
            w_begin(st, s0, v, del);
            w_begin(st, s0 + 1, v, del);
            what = "axs_write (pair batch)";
            rc = axs_write(st->db, &wo, b);
            if (rc == AXS_OK) {
                w_end(st, s0, v, del);
                w_end(st, s0 + 1, v, del);
            }
            nbatch++;
        }
        if (rc != AXS_OK) {
            fb_fail(fb, "writer %d: %s of %s (version %" PRIu64 ", sync %d) = %d (%s): %s (seed=%" PRIu64 ")",
                    a->id, what, st->keys[s0].k, v, (int)wo.sync, rc, axs_strerror(rc),
                    axs_last_error(st->db), st->seed);
            break;
        }
        nwrites++;
        nsync += wo.sync;
        atomic_fetch_add_explicit(&st->progress, 1, memory_order_relaxed);
    }
    atomic_fetch_add(&st->writes, nwrites);
    atomic_fetch_add(&st->synced_writes, nsync);
    atomic_fetch_add(&st->batches, nbatch);
    atomic_fetch_add(&st->range_deletes, nrange);
out:
    axs_batch_destroy(b);
    free(val);
    free(val2);
    return NULL;
}

/* ---- readers ---- */

typedef struct reader_arg {
    stress *st;
    int id;
} reader_arg;

typedef struct held_pin {
    axs_pinned *pin;
    size_t slot;
    uint64_t version;
} held_pin;

/* A pin held for a while must still show the value it showed when taken. */
static bool recheck_pin(stress *st, const held_pin *hp, char *why, size_t wl)
{
    const ukey *u = &st->keys[hp->slot];
    size_t vl = 0;
    const uint8_t *pd = axs_pinned_data(hp->pin, &vl);
    uint64_t ver = 0;
    char inner[256];
    if (!check_value(u->k, u->kl, u->writer, pd, vl, &ver, inner, sizeof inner)) {
        snprintf(why, wl, "held pin of %s (version %" PRIu64 ") changed: %s", u->k, hp->version,
                 inner);
        return false;
    }
    if (ver != hp->version) {
        snprintf(why, wl, "held pin of %s changed from version %" PRIu64 " to %" PRIu64, u->k,
                 hp->version, ver);
        return false;
    }
    return true;
}

static void *reader_main(void *p)
{
    reader_arg *a = p;
    stress *st = a->st;
    failbox *fb = &st->fb;
    tu_rng rng;
    tu_rng_init(&rng, st->seed ^ (0x5245414445520000ull + (uint64_t)a->id));
    uint64_t *last = calloc(st->nslots, sizeof *last); /* newest version this thread read */
    held_pin held[4];
    memset(held, 0, sizeof held);
    uint64_t n = 0;
    char why[512];
    if (!last) {
        fb_fail(fb, "reader %d: out of memory", a->id);
        return NULL;
    }
    while (!fb_stopped(fb)) {
        size_t slot = (size_t)tu_rng_below(&rng, st->nslots);
        const ukey *u = &st->keys[slot];
        int variant = (int)tu_rng_below(&rng, 4);
        uint64_t c = atomic_load(&st->m[slot].completed);
        bool found;
        uint64_t ver;
        axs_pinned *pin = NULL;
        bool ok = read_key(st->db, NULL, u->k, u->kl, u->writer, variant, &found, &ver,
                           variant == 2 ? &pin : NULL, why, sizeof why);
        uint64_t h = atomic_load(&st->m[slot].started);
        uint64_t d = atomic_load(&st->m[slot].last_del);
        n++;
        if (!ok) {
            fb_fail(fb, "reader %d: %s of %s: %s (seed=%" PRIu64 ")", a->id,
                    variant_name[variant], u->k, why, st->seed);
            break;
        }
        if (!window_ok(c, h, d, found, ver, why, sizeof why)) {
            axs_pinned_release(pin);
            fb_fail(fb, "reader %d: %s of %s: %s (seed=%" PRIu64 ")", a->id,
                    variant_name[variant], u->k, why, st->seed);
            break;
        }
        if (found && ver < last[slot]) {
            axs_pinned_release(pin);
            fb_fail(fb, "reader %d: %s of %s read version %" PRIu64 " after this thread had read "
                    "version %" PRIu64 " (reads went back in time) (seed=%" PRIu64 ")",
                    a->id, variant_name[variant], u->k, ver, last[slot], st->seed);
            break;
        }
        if (!found && last[slot] && d <= last[slot]) {
            fb_fail(fb, "reader %d: %s of %s: absent after this thread had read version %" PRIu64
                    ", and no later delete began (newest delete %" PRIu64 ") (seed=%" PRIu64 ")",
                    a->id, variant_name[variant], u->k, last[slot], d, st->seed);
            break;
        }
        if (found)
            last[slot] = ver;
        if (pin) { /* hold it for a while, replacing (and re-checking) the oldest one */
            held_pin *hp = &held[n % 4];
            if (hp->pin) {
                bool same = recheck_pin(st, hp, why, sizeof why);
                axs_pinned_release(hp->pin);
                hp->pin = NULL;
                if (!same) {
                    axs_pinned_release(pin);
                    fb_fail(fb, "reader %d: %s (seed=%" PRIu64 ")", a->id, why, st->seed);
                    break;
                }
            }
            *hp = (held_pin){pin, slot, ver};
        }
    }
    for (int i = 0; i < 4; i++)
        if (held[i].pin) {
            if (!recheck_pin(st, &held[i], why, sizeof why))
                fb_fail(fb, "reader %d: %s (seed=%" PRIu64 ")", a->id, why, st->seed);
            axs_pinned_release(held[i].pin);
        }
    atomic_fetch_add(&st->gets, n);
    free(last);
    return NULL;
}

/* ---- views (iterators, snapshots) checked against the model ---- */

/* Model of every slot around the creation of a view: completed before, started/last_del after. */
typedef struct window {
    uint64_t *c, *h, *d;
} window;

static void window_alloc(const stress *st, window *w)
{
    w->c = calloc(st->nslots, sizeof(uint64_t));
    w->h = calloc(st->nslots, sizeof(uint64_t));
    w->d = calloc(st->nslots, sizeof(uint64_t));
}

static void window_free(window *w)
{
    free(w->c);
    free(w->h);
    free(w->d);
}

static void window_before(stress *st, window *w)
{
    for (size_t i = 0; i < st->nslots; i++)
        w->c[i] = atomic_load(&st->m[i].completed);
}

static void window_after(stress *st, window *w)
{
    for (size_t i = 0; i < st->nslots; i++) {
        w->h[i] = atomic_load(&st->m[i].started);
        w->d[i] = atomic_load(&st->m[i].last_del);
    }
}

/* obs[s] = version seen at slot s (0: absent) for s in [lo, hi]: each must fit the window and
 * the two keys of a pair must agree. */
static bool check_view(const stress *st, const window *w, const uint64_t *obs, long lo, long hi,
                       const char *what, char *why, size_t wl)
{
    char inner[384];
    for (long s = lo; s <= hi; s++) {
        const ukey *u = &st->keys[s];
        if (!window_ok(w->c[s], w->h[s], w->d[s], obs[s] != 0, obs[s], inner, sizeof inner)) {
            snprintf(why, wl, "%s: key %s: %s", what, u->k, inner);
            return false;
        }
        if (u->kind == KIND_PAIR_A && s + 1 <= hi && obs[s] != obs[s + 1]) {
            snprintf(why, wl, "%s: batch torn: %s at %s%" PRIu64 ", %s at %s%" PRIu64, what, u->k,
                     obs[s] ? "version " : "absent ", obs[s], st->keys[s + 1].k,
                     obs[s + 1] ? "version " : "absent ", obs[s + 1]);
            return false;
        }
    }
    return true;
}

enum { ENT_SLOT = 1, ENT_MARKER = 2, ENT_FRESH = 3 };

/* Classifies an iterator entry and checks its value. */
static int classify(const stress *st, const void *k, size_t kl, const uint8_t *v, size_t vl,
                    long *slot, uint64_t *version, char *why, size_t wl)
{
    char inner[256];
    long s = find_slot(st, k, kl);
    if (s >= 0) {
        const ukey *u = &st->keys[s];
        if (!check_value(k, kl, u->writer, v, vl, version, inner, sizeof inner)) {
            snprintf(why, wl, "entry %s: %s", u->k, inner);
            return 0;
        }
        *slot = s;
        return ENT_SLOT;
    }
    bool marker = kl == strlen(MARKER_KEY) && memcmp(k, MARKER_KEY, kl) == 0;
    bool fresh = kl == strlen(FRESH_PREFIX) + 8 && memcmp(k, FRESH_PREFIX, strlen(FRESH_PREFIX)) == 0;
    if (!marker && !fresh) {
        snprintf(why, wl, "iterator returned a key nobody wrote: \"%.*s\" (%zu bytes)",
                 (int)(kl < 40 ? kl : 40), (const char *)k, kl);
        return 0;
    }
    if (!check_value(k, kl, ITER_WRITER, v, vl, version, inner, sizeof inner)) {
        snprintf(why, wl, "entry %.*s: %s", (int)kl, (const char *)k, inner);
        return 0;
    }
    *slot = -1;
    return marker ? ENT_MARKER : ENT_FRESH;
}

typedef struct xentry { /* an entry of the iterator thread's keys seen by a scan */
    char k[24];
    size_t kl;
    uint64_t version;
} xentry;

enum { SCAN_FULL_FWD, SCAN_FULL_BWD, SCAN_PART_FWD, SCAN_PART_BWD };
static const char *const scan_name[4] = {"full forward scan", "full backward scan",
                                         "partial forward scan", "partial backward scan"};

/* Scans it (mode, from slot target for partial scans, at most limit entries), storing the
 * versions of writer slots in obs (cleared first) and the covered slot range in [*lo, *hi],
 * and the iterator thread's keys in xs (up to 8, count in *nx). Checks strict key order, the
 * seek targets and every value. */
static bool scan(const stress *st, axs_iter *it, int mode, size_t target, size_t limit,
                 uint64_t *obs, long *lo, long *hi, xentry *xs, size_t *nx, uint64_t *steps,
                 char *why, size_t wl)
{
    memset(obs, 0, st->nslots * sizeof *obs);
    *nx = 0;
    bool fwd = mode == SCAN_FULL_FWD || mode == SCAN_PART_FWD;
    bool part = mode >= SCAN_PART_FWD;
    const ukey *t = &st->keys[target];
    if (mode == SCAN_FULL_FWD)
        axs_iter_seek_to_first(it);
    else if (mode == SCAN_FULL_BWD)
        axs_iter_seek_to_last(it);
    else if (fwd)
        axs_iter_seek(it, t->k, t->kl);
    else
        axs_iter_seek_for_prev(it, t->k, t->kl);
    char prev[64];
    size_t prevl = 0;
    bool first = true, past_slots = false;
    long last_slot = -1;
    size_t n = 0;
    for (; axs_iter_valid(it) && n < limit; n++) {
        size_t kl = 0, vl = 0;
        const uint8_t *k = axs_iter_key(it, &kl);
        const uint8_t *v = axs_iter_value(it, &vl);
        if (!k || !v || kl >= sizeof prev) {
            snprintf(why, wl, "%s: entry %zu: key %p (%zu bytes), value %p", scan_name[mode], n,
                     (const void *)k, kl, (const void *)v);
            return false;
        }
        if (!first && (fwd ? keycmp(prev, prevl, k, kl) >= 0 : keycmp(prev, prevl, k, kl) <= 0)) {
            snprintf(why, wl, "%s: key \"%.*s\" after \"%.*s\": not strictly %s", scan_name[mode],
                     (int)kl, (const char *)k, (int)prevl, prev, fwd ? "increasing" : "decreasing");
            return false;
        }
        if (first && part &&
            (fwd ? keycmp(k, kl, t->k, t->kl) < 0 : keycmp(k, kl, t->k, t->kl) > 0)) {
            snprintf(why, wl, "%s: seek%s(%s) landed on \"%.*s\"", scan_name[mode],
                     fwd ? "" : "_for_prev", t->k, (int)kl, (const char *)k);
            return false;
        }
        memcpy(prev, k, kl);
        prevl = kl;
        first = false;
        long s;
        uint64_t ver;
        int kind = classify(st, k, kl, v, vl, &s, &ver, why, wl);
        if (!kind)
            return false;
        if (kind == ENT_SLOT) {
            obs[s] = ver;
            last_slot = s;
        } else {
            past_slots = true; /* the iterator thread's keys sort after every writer key */
            if (*nx < 8) {
                memcpy(xs[*nx].k, k, kl);
                xs[*nx].kl = kl;
                xs[*nx].version = ver;
                ++*nx;
            }
        }
        if (fwd)
            axs_iter_next(it);
        else
            axs_iter_prev(it);
    }
    *steps += n;
    int status = axs_iter_status(it);
    if (status != AXS_OK) {
        snprintf(why, wl, "%s: iterator status %d (%s) after %zu entries", scan_name[mode],
                 status, axs_strerror(status), n);
        return false;
    }
    bool ended = !axs_iter_valid(it);
    if (fwd) {
        *lo = part ? (long)target : 0;
        *hi = ended || past_slots ? (long)st->nslots - 1 : last_slot;
    } else {
        *hi = part ? (long)target : (long)st->nslots - 1;
        *lo = ended ? 0 : last_slot >= 0 ? last_slot : *hi + 1;
    }
    return true;
}

/* ---- the iterator thread ---- */

typedef struct iter_arg {
    stress *st;
} iter_arg;

static size_t fresh_key(char *buf, uint64_t n)
{
    return (size_t)snprintf(buf, 24, FRESH_PREFIX "%08" PRIu64, (uint64_t)(n % 100000000u));
}

static void *iter_main(void *p)
{
    iter_arg *a = p;
    stress *st = a->st;
    failbox *fb = &st->fb;
    tu_rng rng;
    tu_rng_init(&rng, st->seed ^ 0x4954455200000000ull);
    window w;
    window_alloc(st, &w);
    uint64_t *obs = calloc(st->nslots, sizeof *obs);
    uint8_t *val = malloc(VAL_MAX);
    char why[768];
    uint64_t mver = 0, fresh_n = 0, steps = 0, iters = 0;
    if (!w.c || !w.h || !w.d || !obs || !val) {
        fb_fail(fb, "iterator thread: out of memory");
        goto out;
    }
    while (!fb_stopped(fb)) {
        /* a write completed before the iterator exists: it must be seen */
        mver++;
        size_t vl = make_value(val, MARKER_KEY, strlen(MARKER_KEY), ITER_WRITER, mver);
        int rc = axs_put(st->db, NULL, MARKER_KEY, strlen(MARKER_KEY), val, vl);
        if (rc != AXS_OK) {
            fb_fail(fb, "iterator thread: put of %s = %d (%s)", MARKER_KEY, rc, axs_strerror(rc));
            break;
        }
        atomic_store(&st->marker_version, mver);
        window_before(st, &w);
        axs_iter *it = NULL;
        rc = axs_iter_create(st->db, NULL, &it);
        if (rc != AXS_OK || !it) {
            fb_fail(fb, "iterator thread: axs_iter_create = %d (%s)", rc, axs_strerror(rc));
            break;
        }
        window_after(st, &w);
        iters++;
        /* writes completed after its creation: they must not be seen */
        uint64_t seen_marker = mver;
        mver++;
        vl = make_value(val, MARKER_KEY, strlen(MARKER_KEY), ITER_WRITER, mver);
        rc = axs_put(st->db, NULL, MARKER_KEY, strlen(MARKER_KEY), val, vl);
        char fk[24];
        size_t fkl = fresh_key(fk, ++fresh_n);
        if (rc == AXS_OK) {
            atomic_store(&st->marker_version, mver);
            vl = make_value(val, fk, fkl, ITER_WRITER, 1);
            rc = axs_put(st->db, NULL, fk, fkl, val, vl);
        }
        if (rc != AXS_OK) {
            axs_iter_destroy(it);
            fb_fail(fb, "iterator thread: put after iterator creation = %d (%s)", rc,
                    axs_strerror(rc));
            break;
        }
        int mode = (int)tu_rng_below(&rng, 4);
        size_t target = (size_t)tu_rng_below(&rng, st->nslots);
        size_t limit = mode < SCAN_PART_FWD ? SIZE_MAX : 1 + (size_t)tu_rng_below(&rng, 200);
        long lo, hi;
        xentry xs[8];
        size_t nx;
        bool ok = scan(st, it, mode, target, limit, obs, &lo, &hi, xs, &nx, &steps, why,
                       sizeof why);
        if (ok)
            ok = check_view(st, &w, obs, lo, hi, scan_name[mode], why, sizeof why);
        for (size_t i = 0; ok && i < nx; i++) {
            bool is_marker = xs[i].kl == strlen(MARKER_KEY);
            if (!is_marker)
                snprintf(why, sizeof why, "%s: the iterator shows %.*s, which was written only "
                         "after it was created (or deleted before)", scan_name[mode],
                         (int)xs[i].kl, xs[i].k);
            else if (xs[i].version != seen_marker)
                snprintf(why, sizeof why, "%s: the iterator shows %s at version %" PRIu64
                         ", expected %" PRIu64 " (the version when it was created)",
                         scan_name[mode], MARKER_KEY, xs[i].version, seen_marker);
            ok = is_marker && xs[i].version == seen_marker;
        }
        if (ok) { /* explicit seeks to the keys written around its creation */
            axs_iter_seek(it, fk, fkl);
            size_t kl = 0;
            const void *k = axs_iter_valid(it) ? axs_iter_key(it, &kl) : NULL;
            if (k && kl == fkl && memcmp(k, fk, fkl) == 0) {
                snprintf(why, sizeof why, "seek(%s) found it, though it was written after the "
                         "iterator was created", fk);
                ok = false;
            }
        }
        if (ok) {
            axs_iter_seek(it, MARKER_KEY, strlen(MARKER_KEY));
            size_t kl = 0, mvl = 0;
            const void *k = axs_iter_valid(it) ? axs_iter_key(it, &kl) : NULL;
            const uint8_t *mv = k ? axs_iter_value(it, &mvl) : NULL;
            uint64_t ver = 0;
            char inner[256];
            if (!k || kl != strlen(MARKER_KEY) || memcmp(k, MARKER_KEY, kl) != 0) {
                snprintf(why, sizeof why, "seek(%s) did not find it (status %d), though it was "
                         "written before the iterator was created", MARKER_KEY,
                         axs_iter_status(it));
                ok = false;
            } else if (!check_value(MARKER_KEY, kl, ITER_WRITER, mv, mvl, &ver, inner,
                                    sizeof inner) || ver != seen_marker) {
                snprintf(why, sizeof why, "seek(%s): version %" PRIu64 " (expected %" PRIu64
                         ") %s", MARKER_KEY, ver, seen_marker, inner);
                ok = false;
            }
        }
        axs_iter_destroy(it);
        if (!ok) {
            fb_fail(fb, "iterator thread: %s (iterator %" PRIu64 ", seed=%" PRIu64 ")", why,
                    iters, st->seed);
            break;
        }
        rc = axs_delete(st->db, NULL, fk, fkl);
        if (rc != AXS_OK) {
            fb_fail(fb, "iterator thread: delete of %s = %d (%s)", fk, rc, axs_strerror(rc));
            break;
        }
    }
out:
    atomic_fetch_add(&st->iter_steps, steps);
    atomic_fetch_add(&st->iterators, iters);
    window_free(&w);
    free(obs);
    free(val);
    return NULL;
}

/* ---- the snapshot thread ---- */

enum { SNAP_SAMPLE = 64 };

static void *snap_main(void *p)
{
    stress *st = p;
    failbox *fb = &st->fb;
    tu_rng rng;
    tu_rng_init(&rng, st->seed ^ 0x534E415000000000ull);
    window w;
    window_alloc(st, &w);
    uint64_t *obs = calloc(st->nslots, sizeof *obs);
    char why[768];
    uint64_t prev_seq = 0, nsnap = 0, nreads = 0, steps = 0;
    if (!w.c || !w.h || !w.d || !obs) {
        fb_fail(fb, "snapshot thread: out of memory");
        goto out;
    }
    while (!fb_stopped(fb)) {
        window_before(st, &w);
        axs_snapshot *snap = NULL;
        int rc = axs_snapshot_create(st->db, &snap);
        if (rc != AXS_OK || !snap) {
            fb_fail(fb, "snapshot thread: axs_snapshot_create = %d (%s)", rc, axs_strerror(rc));
            break;
        }
        window_after(st, &w);
        nsnap++;
        uint64_t seq = axs_snapshot_sequence(snap);
        bool ok = true;
        if (seq < prev_seq) {
            snprintf(why, sizeof why, "snapshot sequence went back: %" PRIu64 " after %" PRIu64,
                     seq, prev_seq);
            ok = false;
        }
        prev_seq = seq;
        axs_read_options ro;
        axs_read_options_init(&ro);
        ro.snapshot = snap;
        /* 1. a sample of keys read at the snapshot */
        size_t sample[SNAP_SAMPLE];
        bool f1[SNAP_SAMPLE];
        uint64_t v1[SNAP_SAMPLE];
        for (int i = 0; ok && i < SNAP_SAMPLE; i++) {
            sample[i] = (size_t)tu_rng_below(&rng, st->nslots);
            const ukey *u = &st->keys[sample[i]];
            char inner[512];
            int variant = (int)tu_rng_below(&rng, 4);
            ok = read_key(st->db, &ro, u->k, u->kl, u->writer, variant, &f1[i], &v1[i], NULL,
                          inner, sizeof inner) &&
                 window_ok(w.c[sample[i]], w.h[sample[i]], w.d[sample[i]], f1[i], v1[i], inner,
                           sizeof inner);
            if (!ok)
                snprintf(why, sizeof why, "%s of %s at the snapshot: %s", variant_name[variant],
                         u->k, inner);
            nreads++;
        }
        /* 2. other work while the writers go on: reads of the current state */
        for (int i = 0; ok && i < 200; i++) {
            size_t s = (size_t)tu_rng_below(&rng, st->nslots);
            const ukey *u = &st->keys[s];
            bool found;
            uint64_t ver;
            char inner[512];
            if (!read_key(st->db, NULL, u->k, u->kl, u->writer, i & 3, &found, &ver, NULL, inner,
                          sizeof inner)) {
                snprintf(why, sizeof why, "%s of %s: %s", variant_name[i & 3], u->k, inner);
                ok = false;
            }
            nreads++;
        }
        /* 3. the sample again at the snapshot: identical */
        for (int i = 0; ok && i < SNAP_SAMPLE; i++) {
            const ukey *u = &st->keys[sample[i]];
            bool found;
            uint64_t ver;
            char inner[512];
            int variant = (int)tu_rng_below(&rng, 4);
            if (!read_key(st->db, &ro, u->k, u->kl, u->writer, variant, &found, &ver, NULL,
                          inner, sizeof inner)) {
                snprintf(why, sizeof why, "%s of %s at the snapshot (again): %s",
                         variant_name[variant], u->k, inner);
                ok = false;
            } else if (found != f1[i] || ver != v1[i]) {
                snprintf(why, sizeof why, "%s of %s at the snapshot changed: first %s%" PRIu64
                         ", now %s%" PRIu64, variant_name[variant], u->k,
                         f1[i] ? "version " : "absent ", v1[i], found ? "version " : "absent ", ver);
                ok = false;
            }
            nreads++;
        }
        /* 4. an iterator at the snapshot agrees with point gets at the snapshot */
        axs_iter *it = NULL;
        if (ok) {
            rc = axs_iter_create(st->db, &ro, &it);
            if (rc != AXS_OK || !it) {
                snprintf(why, sizeof why, "axs_iter_create at a snapshot = %d (%s)", rc,
                         axs_strerror(rc));
                ok = false;
            }
        }
        if (ok) {
            int mode = nsnap % 2 ? SCAN_FULL_FWD : SCAN_FULL_BWD;
            long lo, hi;
            xentry xs[8];
            size_t nx;
            ok = scan(st, it, mode, 0, SIZE_MAX, obs, &lo, &hi, xs, &nx, &steps, why,
                      sizeof why) &&
                 check_view(st, &w, obs, lo, hi, "iterator at a snapshot", why, sizeof why);
            for (size_t i = 0; ok && i < nx; i++) { /* the iterator thread's keys */
                bool found;
                uint64_t ver;
                char inner[512];
                ok = read_key(st->db, &ro, xs[i].k, xs[i].kl, ITER_WRITER, (int)(i & 3), &found,
                              &ver, NULL, inner, sizeof inner);
                if (!ok)
                    snprintf(why, sizeof why, "get of %.*s at the snapshot: %s", (int)xs[i].kl,
                             xs[i].k, inner);
                else if (!found || ver != xs[i].version) {
                    snprintf(why, sizeof why, "iterator at a snapshot shows %.*s at version %" PRIu64
                             ", get at the snapshot %s%" PRIu64, (int)xs[i].kl, xs[i].k,
                             xs[i].version, found ? "version " : "absent ", ver);
                    ok = false;
                }
            }
        }
        axs_iter_destroy(it);
        for (size_t s = 0; ok && s < st->nslots; s++) {
            const ukey *u = &st->keys[s];
            bool found;
            uint64_t ver;
            char inner[512];
            int variant = (int)(s & 3);
            if (!read_key(st->db, &ro, u->k, u->kl, u->writer, variant, &found, &ver, NULL,
                          inner, sizeof inner)) {
                snprintf(why, sizeof why, "%s of %s at the snapshot: %s", variant_name[variant],
                         u->k, inner);
                ok = false;
            } else if (found != (obs[s] != 0) || ver != obs[s]) {
                snprintf(why, sizeof why, "at one snapshot, the iterator shows %s %s%" PRIu64
                         " but %s %s%" PRIu64, u->k, obs[s] ? "at version " : "absent ", obs[s],
                         variant_name[variant], found ? "reads version " : "misses it ", ver);
                ok = false;
            }
            nreads++;
        }
        for (int i = 0; ok && i < SNAP_SAMPLE; i++)
            if (f1[i] != (obs[sample[i]] != 0) || v1[i] != obs[sample[i]]) {
                snprintf(why, sizeof why, "at one snapshot, %s was first read as %s%" PRIu64
                         ", later the iterator shows %s%" PRIu64, st->keys[sample[i]].k,
                         f1[i] ? "version " : "absent ", v1[i],
                         obs[sample[i]] ? "version " : "absent ", obs[sample[i]]);
                ok = false;
            }
        axs_snapshot_release(st->db, snap);
        if (!ok) {
            fb_fail(fb, "snapshot thread: %s (snapshot %" PRIu64 ", sequence %" PRIu64
                    ", seed=%" PRIu64 ")", why, nsnap, seq, st->seed);
            break;
        }
    }
out:
    atomic_fetch_add(&st->snapshots, nsnap);
    atomic_fetch_add(&st->snapshot_reads, nreads);
    atomic_fetch_add(&st->iter_steps, steps);
    window_free(&w);
    free(obs);
    return NULL;
}

/* ---- the compaction thread ---- */

static void *compact_main(void *p)
{
    stress *st = p;
    failbox *fb = &st->fb;
    tu_rng rng;
    tu_rng_init(&rng, st->seed ^ 0x434F4D5000000000ull);
    uint64_t full = 0, range = 0, flushes = 0, last = 0;
    while (!fb_stopped(fb)) {
        /* a pass per 50 writes at most, so that the writers, which a pass holds up for a chunk
         * at a time, still get most of the write lock on two cores */
        uint64_t now = atomic_load_explicit(&st->progress, memory_order_relaxed);
        if (now < last + 50) {
            sched_yield();
            continue;
        }
        last = now;
        unsigned r = (unsigned)tu_rng_below(&rng, 10);
        int rc;
        const char *what;
        char desc[96] = "";
        if (r < 5) {
            size_t a = (size_t)tu_rng_below(&rng, st->nslots);
            size_t b = a + 1 + (size_t)tu_rng_below(&rng, st->nslots / 4 + 1);
            bool open_begin = tu_rng_below(&rng, 10) == 0, open_end = b >= st->nslots;
            const ukey *ua = &st->keys[a], *ub = open_end ? NULL : &st->keys[b];
            snprintf(desc, sizeof desc, "[%s, %s)", open_begin ? "first" : ua->k,
                     open_end ? "last" : ub->k);
            what = "axs_compact_range";
            rc = axs_compact_range(st->db, open_begin ? NULL : ua->k, open_begin ? 0 : ua->kl,
                                   open_end ? NULL : ub->k, open_end ? 0 : ub->kl);
            range++;
        } else if (r < 7) {
            what = "axs_compact";
            rc = axs_compact(st->db);
            full++;
        } else {
            what = "axs_flush";
            rc = axs_flush(st->db);
            flushes++;
        }
        if (rc != AXS_OK) {
            fb_fail(fb, "compaction thread: %s%s = %d (%s): %s (seed=%" PRIu64 ")", what, desc, rc,
                    axs_strerror(rc), axs_last_error(st->db), st->seed);
            break;
        }
    }
    atomic_fetch_add(&st->compact_full, full);
    atomic_fetch_add(&st->compact_range, range);
    atomic_fetch_add(&st->flushes, flushes);
    return NULL;
}

/* The database must hold exactly the model's final state (every thread joined). */
static void stress_expect_final(stress *st, axs_db *db, const char *when)
{
    uint64_t *want = calloc(st->nslots, sizeof *want);
    uint64_t *obs = calloc(st->nslots, sizeof *obs);
    TU_REQUIRE(want && obs, "out of memory");
    size_t nkeys = 0;
    for (size_t s = 0; s < st->nslots; s++) {
        uint64_t c = atomic_load(&st->m[s].completed);
        want[s] = c & 1 ? 0 : c >> 1;
        nkeys += want[s] != 0;
    }
    uint64_t mver = atomic_load(&st->marker_version);
    nkeys += mver != 0;
    char why[768];
    for (int dir = 0; dir < 2; dir++) {
        axs_iter *it = NULL;
        int rc = axs_iter_create(db, NULL, &it);
        TU_REQUIRE(rc == AXS_OK && it, "%s: axs_iter_create = %d", when, rc);
        long lo, hi;
        xentry xs[8];
        size_t nx;
        uint64_t steps = 0;
        bool ok = scan(st, it, dir ? SCAN_FULL_BWD : SCAN_FULL_FWD, 0, SIZE_MAX, obs, &lo, &hi,
                       xs, &nx, &steps, why, sizeof why);
        axs_iter_destroy(it);
        TU_REQUIRE(ok, "%s: %s (seed=%" PRIu64 ")", when, why, st->seed);
        TU_REQUIRE(lo == 0 && hi == (long)st->nslots - 1, "%s: scan covered [%ld, %ld]", when, lo,
                   hi);
        for (size_t s = 0; s < st->nslots; s++)
            TU_REQUIRE(obs[s] == want[s],
                       "%s: %s of the whole database shows %s %s%" PRIu64 ", the model %s%" PRIu64
                       " (seed=%" PRIu64 ")",
                       when, dir ? "backward scan" : "forward scan", st->keys[s].k,
                       obs[s] ? "at version " : "absent ", obs[s],
                       want[s] ? "version " : "absent ", want[s], st->seed);
        TU_REQUIRE(nx == (mver ? 1u : 0u), "%s: %zu keys of the iterator thread, expected %s",
                   when, nx, mver ? "only " MARKER_KEY : "none");
        if (nx)
            TU_REQUIRE(xs[0].kl == strlen(MARKER_KEY) && memcmp(xs[0].k, MARKER_KEY, xs[0].kl) == 0 &&
                           xs[0].version == mver,
                       "%s: %.*s at version %" PRIu64 ", expected %s at version %" PRIu64, when,
                       (int)xs[0].kl, xs[0].k, xs[0].version, MARKER_KEY, mver);
    }
    for (size_t s = 0; s < st->nslots; s++) {
        const ukey *u = &st->keys[s];
        bool found;
        uint64_t ver;
        int variant = (int)(s % 4);
        bool ok = read_key(db, NULL, u->k, u->kl, u->writer, variant, &found, &ver, NULL, why,
                           sizeof why);
        TU_REQUIRE(ok, "%s: %s of %s: %s (seed=%" PRIu64 ")", when, variant_name[variant], u->k,
                   why, st->seed);
        TU_REQUIRE(ver == want[s],
                   "%s: %s of %s: %s%" PRIu64 ", the model says %s%" PRIu64 " (seed=%" PRIu64 ")",
                   when, variant_name[variant], u->k, found ? "version " : "absent ", ver,
                   want[s] ? "version " : "absent ", want[s], st->seed);
    }
    axs_stats s = stats_of(db);
    TU_REQUIRE(s.num_keys == nkeys, "%s: stats.num_keys = %" PRIu64 ", the model has %zu", when,
               s.num_keys, nkeys);
    free(want);
    free(obs);
}

static int env_threads(const char *name, int def, int max)
{
    double v = env_double(name, def);
    int n = (int)v;
    return n < 1 ? 1 : n > max ? max : n;
}

static void test_stress_model(void **state)
{
    fx *f = *state;
    static stress st; /* big; one test at a time */
    memset(&st, 0, sizeof st);
    st.seed = tu_seed(__func__);
    st.nwriters = env_threads("ALEXSTORAGE_STRESS_WRITERS", 2, MAX_WRITERS);
    st.nreaders = env_threads("ALEXSTORAGE_STRESS_READERS", 2, MAX_READERS);
    st.npairs = 64;
    st.nsingles = 256;
    /* The run time is not scaled down: it is short already, and a sanitizer run needs the
     * interleavings more than a release run does. */
    double seconds = env_double("ALEXSTORAGE_STRESS_SECONDS", 3.0);
    stress_build_keys(&st);
    fb_init(&st.fb);
    atomic_init(&st.gets, 0);
    atomic_init(&st.writes, 0);
    atomic_init(&st.synced_writes, 0);
    atomic_init(&st.batches, 0);
    atomic_init(&st.range_deletes, 0);
    atomic_init(&st.iter_steps, 0);
    atomic_init(&st.iterators, 0);
    atomic_init(&st.snapshots, 0);
    atomic_init(&st.snapshot_reads, 0);
    atomic_init(&st.compact_full, 0);
    atomic_init(&st.compact_range, 0);
    atomic_init(&st.flushes, 0);
    atomic_init(&st.progress, 0);

    axs_options o = mkopts(true);
    o.segment_size = 64 * 1024;
    o.compaction_garbage_ratio = 0.3;
    st.db = open_at(f->db, &o);
    fprintf(stderr, "[ STRESS   ] %d writers, %d readers, 1 iterator, 1 snapshot, 1 compaction "
            "thread for %.1f s on %zu keys (seed=%" PRIu64 ")\n",
            st.nwriters, st.nreaders, seconds, st.nslots, st.seed);

    pthread_t th[MAX_WRITERS + MAX_READERS + 3];
    writer_arg wa[MAX_WRITERS];
    reader_arg ra[MAX_READERS];
    iter_arg ia = {&st};
    int nth = 0;
    for (int i = 0; i < st.nwriters; i++) {
        wa[i] = (writer_arg){&st, i};
        start_thread(&th[nth++], writer_main, &wa[i]);
    }
    for (int i = 0; i < st.nreaders; i++) {
        ra[i] = (reader_arg){&st, i};
        start_thread(&th[nth++], reader_main, &ra[i]);
    }
    start_thread(&th[nth++], iter_main, &ia);
    start_thread(&th[nth++], snap_main, &st);
    start_thread(&th[nth++], compact_main, &st);

    uint64_t t0 = tu_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    while (!fb_stopped(&st.fb) && tu_now_ns() < end)
        sleep_ms(20); /* the run's length, not a synchronisation */
    atomic_store(&st.fb.stop, true);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(tu_now_ns() - t0) / 1e9;
    FB_CHECK(&st.fb, st.seed);

    axs_stats s = stats_of(st.db);
    fprintf(stderr,
            "[ STRESS   ] %.1f s: %" PRIu64 " gets (+%" PRIu64 " by the snapshot thread), %" PRIu64
            " writes (%" PRIu64 " synced, %" PRIu64 " pair batches, %" PRIu64 " delete_range), %"
            PRIu64 " iterators with %" PRIu64 " steps, %" PRIu64 " snapshots, %" PRIu64
            " full + %" PRIu64 " range compactions called, %" PRIu64 " flushes\n",
            secs, (uint64_t)atomic_load(&st.gets), (uint64_t)atomic_load(&st.snapshot_reads),
            (uint64_t)atomic_load(&st.writes), (uint64_t)atomic_load(&st.synced_writes),
            (uint64_t)atomic_load(&st.batches), (uint64_t)atomic_load(&st.range_deletes),
            (uint64_t)atomic_load(&st.iterators), (uint64_t)atomic_load(&st.iter_steps),
            (uint64_t)atomic_load(&st.snapshots), (uint64_t)atomic_load(&st.compact_full),
            (uint64_t)atomic_load(&st.compact_range), (uint64_t)atomic_load(&st.flushes));
    fprintf(stderr,
            "[ STRESS   ] engine: %" PRIu64 " compactions (all kinds), %" PRIu64
            " bytes rewritten, %" PRIu64 " bytes of segments removed, %" PRIu64 " syncs for %"
            PRIu64 " synced writes, %" PRIu64 " commit groups, %" PRIu64 " segments, log %" PRIu64
            " bytes, live %" PRIu64 " bytes\n",
            s.compactions, s.compaction_bytes_written, s.compaction_bytes_removed, s.syncs,
            s.synced_writes, s.commit_groups, s.segments, s.log_bytes, s.live_bytes);
    TU_REQUIRE(atomic_load(&st.writes) > 0 && atomic_load(&st.gets) > 0 &&
                   atomic_load(&st.iterators) > 0 && atomic_load(&st.snapshots) > 0,
               "some thread made no progress: %" PRIu64 " writes, %" PRIu64 " gets, %" PRIu64
               " iterators, %" PRIu64 " snapshots",
               (uint64_t)atomic_load(&st.writes), (uint64_t)atomic_load(&st.gets),
               (uint64_t)atomic_load(&st.iterators), (uint64_t)atomic_load(&st.snapshots));
    TU_REQUIRE(s.compactions > 0, "stats.compactions = 0 after %" PRIu64 " compaction calls",
               (uint64_t)(atomic_load(&st.compact_full) + atomic_load(&st.compact_range)));

    stress_expect_final(&st, st.db, "after the run");
    int rc = axs_wait_for_compaction(st.db);
    TU_REQUIRE(rc == AXS_OK, "axs_wait_for_compaction = %d (%s): %s", rc, axs_strerror(rc),
               axs_last_error(st.db));
    stress_expect_final(&st, st.db, "after axs_wait_for_compaction");
    close_ok(st.db);
    o.create_if_missing = false;
    st.db = open_at(f->db, &o);
    stress_expect_final(&st, st.db, "after a reopen");
    close_ok(st.db);
    free(st.keys);
    free(st.m);
}

/* ---- pinned values across compaction ------------------------------------------------------- */

enum { PIN_KEYS = 16 };

static size_t pin_key(char *buf, int i)
{
    return (size_t)snprintf(buf, 16, "pin%02d", i);
}

static void expect_pins_at(axs_pinned **pins, uint8_t (*want)[VAL_MAX], const size_t *wl,
                           int n, const char *when, int comp, const char *file, int line)
{
    for (int i = 0; i < n; i++) {
        size_t pl = 0;
        const void *pd = axs_pinned_data(pins[i], &pl);
        if (pl != wl[i] || !pd || memcmp(pd, want[i], pl) != 0) {
            size_t at = 0;
            if (pd && pl == wl[i])
                while (((const uint8_t *)pd)[at] == want[i][at])
                    at++;
            tu_fail_at(file, line, "compression %d, %s: pin %d: %zu bytes (expected %zu), first "
                       "difference at byte %zu", comp, when, i, pl, wl[i], at);
        }
    }
}
#define expect_pins(pins, want, wl, n, when, comp)                                                 \
    expect_pins_at((pins), (want), (wl), (n), (when), (comp), __FILE__, __LINE__)

static void test_pinned_survives_compaction(void **state)
{
    fx *f = *state;
    uint64_t seed = tu_seed(__func__);
    tu_rng rng;
    tu_rng_init(&rng, seed);
    enum { NPINS = PIN_KEYS + PIN_KEYS / 2 };
    static uint8_t want[NPINS][VAL_MAX];
    static uint8_t val[VAL_MAX];
    size_t wl[NPINS];
    for (int comp = 0; comp < 2; comp++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/pin%d", f->base, comp);
        axs_options o = mkopts(true);
        o.segment_size = 64 * 1024;
        o.compaction_garbage_ratio = 0.3;
        o.compression = comp ? AXS_COMPRESSION_LZ4 : AXS_COMPRESSION_NONE;
        axs_db *db = open_at(dir, &o);
        /* version 1 of every key, sizes from 40 bytes to 12 KiB, pinned; half the keys are
         * then overwritten with version 2 and pinned again */
        axs_pinned *pins[NPINS];
        uint64_t version[PIN_KEYS];
        int npins = 0;
        for (int v = 1; v <= 2; v++)
            for (int i = 0; i < PIN_KEYS; i++) {
                if (v == 2 && i % 2)
                    continue;
                char k[16];
                size_t kl = pin_key(k, i);
                size_t len = val_min_len(kl) + (size_t)tu_rng_below(&rng, i % 4 == 0 ? 12000 : 3000);
                wl[npins] = make_value_len(want[npins], k, kl, 0, (uint64_t)v, len);
                int rc = axs_put(db, NULL, k, kl, want[npins], wl[npins]);
                TU_REQUIRE(rc == AXS_OK, "put %s = %d", k, rc);
                bool found = false;
                rc = axs_get_pinned(db, NULL, k, kl, &pins[npins], &found);
                TU_REQUIRE(rc == AXS_OK && found && pins[npins], "get_pinned %s = %d found %d", k,
                           rc, (int)found);
                version[i] = (uint64_t)v;
                npins++;
            }
        char first_seg[64][32];
        size_t nfirst = seg_files(dir, first_seg, 64, NULL);
        TU_REQUIRE(nfirst >= 1, "no segment files after the first writes");
        expect_pins(pins, want, wl, npins, "after pinning", comp);
        /* overwrite and delete the pinned keys many times, with filler: many segments roll */
        uint64_t written = 0;
        for (int round = 0; round < 40; round++) {
            for (int i = 0; i < PIN_KEYS; i++) {
                char k[16];
                size_t kl = pin_key(k, i);
                int rc;
                if ((round + i) % 5 == 0) {
                    rc = axs_delete(db, NULL, k, kl);
                    version[i] = 0;
                } else {
                    version[i] = 100 + (uint64_t)round;
                    size_t vl = make_value(val, k, kl, 0, version[i]);
                    rc = axs_put(db, NULL, k, kl, val, vl);
                    written += vl;
                }
                TU_REQUIRE(rc == AXS_OK, "round %d: write of %s = %d", round, k, rc);
            }
            char fk[16];
            size_t fkl = (size_t)snprintf(fk, sizeof fk, "filler%03d", round % 20);
            size_t vl = make_value_len(val, fk, fkl, 1, (uint64_t)round + 1, 6000);
            TU_REQUIRE(axs_put(db, NULL, fk, fkl, val, vl) == AXS_OK, "filler put");
            written += vl;
        }
        expect_pins(pins, want, wl, npins, "after overwrites", comp);
        char before[256][32];
        size_t nbefore = seg_files(dir, before, 256, NULL);
        /* segments rolled over many times (numbers count up from 1; the background
         * compaction may already have removed some) */
        uint64_t newest_num = 0;
        for (size_t i = 0; i < nbefore && i < 256; i++) {
            uint64_t num = strtoull(before[i], NULL, 10);
            newest_num = num > newest_num ? num : newest_num;
        }
        TU_REQUIRE(newest_num >= 8, "compression %d: the newest segment is number %" PRIu64
                   " after %" PRIu64 " bytes of writes into 64 KiB segments", comp, newest_num,
                   written);
        int rc = axs_compact(db);
        TU_REQUIRE(rc == AXS_OK, "axs_compact = %d (%s): %s", rc, axs_strerror(rc),
                   axs_last_error(db));
        expect_pins(pins, want, wl, npins, "after axs_compact", comp);
        /* every segment sealed before the compaction is gone, except perhaps the first ones,
         * which hold the pinned bytes: the engine may unlink them at once (the pins keep
         * their mappings) or when the last pin is released (checked below) */
        char after[256][32];
        size_t nafter = seg_files(dir, after, 256, NULL);
        char newest[32] = "";
        for (size_t i = 0; i < nbefore && i < 256; i++)
            if (strcmp(before[i], newest) > 0)
                snprintf(newest, sizeof newest, "%s", before[i]);
        size_t pinned_left = 0;
        for (size_t i = 0; i < nafter && i < 256; i++) {
            bool holds_pins = false;
            for (size_t j = 0; j < nfirst && j < 64; j++)
                holds_pins = holds_pins || strcmp(first_seg[j], after[i]) == 0;
            pinned_left += holds_pins;
            TU_REQUIRE(holds_pins || strcmp(after[i], newest) >= 0,
                       "compression %d: segment %s, sealed before axs_compact, is still there",
                       comp, after[i]);
        }
        fprintf(stderr, "[ PINNED   ] compression %d: segments holding the pinned values: %zu, "
                "of which still on disk after axs_compact: %zu\n", comp, nfirst, pinned_left);
        rc = axs_compact_range(db, "pin", 3, "pio", 3);
        TU_REQUIRE(rc == AXS_OK, "axs_compact_range(pin, pio) = %d (%s)", rc, axs_strerror(rc));
        rc = axs_compact_range(db, NULL, 0, NULL, 0);
        TU_REQUIRE(rc == AXS_OK, "axs_compact_range(all) = %d (%s)", rc, axs_strerror(rc));
        expect_pins(pins, want, wl, npins, "after axs_compact_range", comp);
        /* more garbage for the background compaction, then wait for it */
        for (int round = 0; round < 20; round++)
            for (int i = 0; i < PIN_KEYS; i++) {
                char k[16];
                size_t kl = pin_key(k, i);
                version[i] = 1000 + (uint64_t)round;
                size_t vl = make_value(val, k, kl, 0, version[i]);
                TU_REQUIRE(axs_put(db, NULL, k, kl, val, vl) == AXS_OK, "put %s", k);
            }
        rc = axs_wait_for_compaction(db);
        TU_REQUIRE(rc == AXS_OK, "axs_wait_for_compaction = %d (%s)", rc, axs_strerror(rc));
        expect_pins(pins, want, wl, npins, "after the background compaction", comp);
        axs_stats s1 = stats_of(db);
        uint64_t disk = 0;
        fprintf(stderr, "[ PINNED   ] compression %d: %" PRIu64 " compactions, %" PRIu64
                " bytes of segments removed, %" PRIu64 " segments (%" PRIu64 " bytes) left of %"
                PRIu64 " bytes written\n", comp, s1.compactions, s1.compaction_bytes_removed,
                s1.segments, s1.log_bytes, written);
        TU_REQUIRE(s1.compactions >= 3 && s1.compaction_bytes_removed > 0,
                   "compression %d: stats show %" PRIu64 " compactions, %" PRIu64
                   " bytes removed", comp, s1.compactions, s1.compaction_bytes_removed);
        /* the pins are released only now; then no segment of theirs may remain */
        for (int i = 0; i < npins; i++)
            axs_pinned_release(pins[i]);
        rc = axs_compact(db);
        TU_REQUIRE(rc == AXS_OK, "axs_compact after the release = %d (%s)", rc, axs_strerror(rc));
        nafter = seg_files(dir, after, 256, &disk);
        for (size_t i = 0; i < nfirst && i < 64; i++)
            for (size_t j = 0; j < nafter && j < 256; j++)
                TU_REQUIRE(strcmp(first_seg[i], after[j]) != 0,
                           "compression %d: segment %s (the pinned values) is still there after "
                           "its pins were released and the database compacted", comp, first_seg[i]);
        s1 = stats_of(db);
        TU_REQUIRE(nafter == s1.segments && disk == s1.log_bytes,
                   "compression %d: %zu segment files (%" PRIu64 " bytes) on disk, stats %" PRIu64
                   " (%" PRIu64 " bytes)", comp, nafter, disk, s1.segments, s1.log_bytes);
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < PIN_KEYS; i++) {
                char k[16], why[512];
                size_t kl = pin_key(k, i);
                bool found;
                uint64_t ver;
                bool ok = read_key(db, NULL, k, kl, 0, i % 4, &found, &ver, NULL, why, sizeof why);
                TU_REQUIRE(ok, "%s: %s", k, why);
                TU_REQUIRE(found && ver == version[i], "compression %d, %s: %s: %s%" PRIu64
                           ", expected version %" PRIu64, comp, pass ? "after reopen" : "open",
                           k, found ? "version " : "absent ", ver, version[i]);
            }
            close_ok(db);
            if (pass == 0) {
                o.create_if_missing = false;
                db = open_at(dir, &o);
            }
        }
    }
}

/* ---- iterators across compaction ------------------------------------------------------------ */

enum { IC_KEYS = 1200 };

typedef struct ic_shared {
    axs_db *db;
    uint64_t seed;
    failbox fb;
    uint32_t cur[IC_KEYS]; /* the writer's model: version per key, 0 = absent (writer only,
                              read by the main thread after the join) */
    uint32_t next_version;
    atomic_uint_fast64_t writes, compactions;
} ic_shared;

static size_t ic_key(char *buf, unsigned i)
{
    return (size_t)snprintf(buf, 16, "c%05u", i);
}

static void *ic_writer(void *p)
{
    ic_shared *sh = p;
    tu_rng rng;
    tu_rng_init(&rng, sh->seed ^ 0x4943575200000000ull);
    uint8_t *val = malloc(VAL_MAX);
    axs_batch *b = axs_batch_create();
    if (!val || !b) {
        fb_fail(&sh->fb, "ic writer: out of memory");
        goto out;
    }
    while (!fb_stopped(&sh->fb)) {
        unsigned r = (unsigned)tu_rng_below(&rng, 100);
        unsigned i = (unsigned)tu_rng_below(&rng, IC_KEYS);
        char k[16];
        size_t kl = ic_key(k, i);
        int rc;
        if (r < 60) {
            uint32_t v = ++sh->next_version;
            size_t vl = make_value(val, k, kl, 0, v);
            rc = axs_put(sh->db, NULL, k, kl, val, vl);
            sh->cur[i] = v;
        } else if (r < 85) {
            rc = axs_delete(sh->db, NULL, k, kl);
            sh->cur[i] = 0;
        } else if (r < 90) {
            unsigned n = 1 + (unsigned)tu_rng_below(&rng, 10);
            if (i + n > IC_KEYS)
                n = IC_KEYS - i;
            char e[16];
            size_t el = ic_key(e, i + n);
            rc = axs_delete_range(sh->db, NULL, k, kl, e, el);
            for (unsigned j = i; j < i + n; j++)
                sh->cur[j] = 0;
        } else {
            axs_batch_clear(b);
            rc = AXS_OK;
            uint32_t v = ++sh->next_version;
            for (unsigned j = i; rc == AXS_OK && j < i + 3 && j < IC_KEYS; j++) {
                char bk[16];
                size_t bkl = ic_key(bk, j);
                size_t vl = make_value(val, bk, bkl, 0, v);
                rc = axs_batch_put(b, bk, bkl, val, vl);
                sh->cur[j] = v;
            }
            if (rc == AXS_OK)
                rc = axs_write(sh->db, NULL, b);
        }
        if (rc != AXS_OK) {
            fb_fail(&sh->fb, "ic writer: write at %s = %d (%s): %s", k, rc, axs_strerror(rc),
                    axs_last_error(sh->db));
            break;
        }
        atomic_fetch_add(&sh->writes, 1);
    }
out:
    axs_batch_destroy(b);
    free(val);
    return NULL;
}

static void *ic_compactor(void *p)
{
    ic_shared *sh = p;
    tu_rng rng;
    tu_rng_init(&rng, sh->seed ^ 0x4943434F00000000ull);
    uint64_t last_writes = 0;
    while (!fb_stopped(&sh->fb)) {
        /* one pass per 25 writes at most: the walks, not the compactions, should get most of
         * the time of a slow (sanitizer) build */
        uint64_t nw = atomic_load(&sh->writes);
        if (nw < last_writes + 25) {
            sched_yield();
            continue;
        }
        last_writes = nw;
        int rc;
        char a[16], b[16];
        unsigned i = (unsigned)tu_rng_below(&rng, IC_KEYS);
        unsigned j = i + 1 + (unsigned)tu_rng_below(&rng, IC_KEYS / 3);
        size_t al = ic_key(a, i), bl = ic_key(b, j);
        if (tu_rng_below(&rng, 5) < 2)
            rc = axs_compact(sh->db);
        else
            rc = axs_compact_range(sh->db, a, al, b, bl);
        if (rc != AXS_OK) {
            fb_fail(&sh->fb, "ic compactor: %d (%s): %s", rc, axs_strerror(rc),
                    axs_last_error(sh->db));
            break;
        }
        atomic_fetch_add(&sh->compactions, 1);
    }
    return NULL;
}

/* An iterator and the state it must show (versions per key, 0 = absent). */
typedef struct walker {
    const char *name;
    axs_iter *it;
    const uint32_t *state;
    long pos; /* index of the current key, -1: invalid */
    int dir;  /* +1 forward, -1 backward */
} walker;

static long ic_next_present(const uint32_t *s, long i)
{
    for (; i < IC_KEYS; i++)
        if (s[i])
            return i;
    return -1;
}

static long ic_prev_present(const uint32_t *s, long i)
{
    for (; i >= 0; i--)
        if (s[i])
            return i;
    return -1;
}

/* Checks that the walker's iterator is where its state says; on a mismatch writes why and
 * returns false (no cmocka call, so a caller with threads running can stop them first). */
static bool walker_check(const walker *w, uint64_t seed, const char *what, char *why, size_t wl)
{
    if (w->pos < 0) {
        if (axs_iter_valid(w->it) || axs_iter_status(w->it) != AXS_OK) {
            snprintf(why, wl, "%s, %s: valid %d, status %d; expected past the end (seed=%" PRIu64
                     ")", w->name, what, (int)axs_iter_valid(w->it), axs_iter_status(w->it), seed);
            return false;
        }
        return true;
    }
    char k[16];
    size_t kl = ic_key(k, (unsigned)w->pos);
    if (!axs_iter_valid(w->it)) {
        snprintf(why, wl, "%s, %s: invalid (status %d), expected %s (seed=%" PRIu64 ")", w->name,
                 what, axs_iter_status(w->it), k, seed);
        return false;
    }
    size_t gkl = 0, vl = 0;
    const void *gk = axs_iter_key(w->it, &gkl);
    const uint8_t *v = axs_iter_value(w->it, &vl);
    if (gkl != kl || memcmp(gk, k, kl) != 0) {
        snprintf(why, wl, "%s, %s: at \"%.*s\", expected %s (seed=%" PRIu64 ")", w->name, what,
                 (int)(gkl < 40 ? gkl : 40), (const char *)gk, k, seed);
        return false;
    }
    uint64_t ver = 0;
    char inner[256];
    if (!check_value(k, kl, 0, v, vl, &ver, inner, sizeof inner)) {
        snprintf(why, wl, "%s, %s: %s: %s (seed=%" PRIu64 ")", w->name, what, k, inner, seed);
        return false;
    }
    if (ver != w->state[w->pos]) {
        snprintf(why, wl, "%s, %s: %s at version %" PRIu64 ", its view has version %u (seed=%"
                 PRIu64 ")", w->name, what, k, ver, w->state[w->pos], seed);
        return false;
    }
    return true;
}

static void walker_expect_at(const walker *w, uint64_t seed, const char *what, const char *file,
                             int line)
{
    char why[768];
    if (!walker_check(w, seed, what, why, sizeof why))
        tu_fail_at(file, line, "%s", why);
}
#define walker_expect(w, seed, what) walker_expect_at((w), (seed), (what), __FILE__, __LINE__)

#define WALK_CHECK(what)                                                                           \
    do {                                                                                           \
        if (!walker_check(w, seed, (what), why, wl))                                               \
            return false;                                                                          \
    } while (0)

/* One step in the walker's direction; at either end it steps off (checking the iterator
 * becomes invalid), seeks back to that end and turns around. Every 61st step is a random seek.
 * Returns false with why set on a mismatch. */
static bool walker_step(walker *w, tu_rng *rng, uint64_t seed, uint64_t n, char *why, size_t wl)
{
    if (n % 61 == 60) {
        unsigned i = (unsigned)tu_rng_below(rng, IC_KEYS);
        char k[16];
        size_t kl = ic_key(k, i);
        if (tu_rng_below(rng, 2)) {
            axs_iter_seek(w->it, k, kl);
            w->pos = ic_next_present(w->state, (long)i);
            WALK_CHECK("after seek");
        } else {
            axs_iter_seek_for_prev(w->it, k, kl);
            w->pos = ic_prev_present(w->state, (long)i);
            WALK_CHECK("after seek_for_prev");
        }
        if (w->pos < 0) { /* fell off: start again from the end it fell off */
            if (w->dir > 0) {
                axs_iter_seek_to_first(w->it);
                w->pos = ic_next_present(w->state, 0);
            } else {
                axs_iter_seek_to_last(w->it);
                w->pos = ic_prev_present(w->state, IC_KEYS - 1);
            }
            WALK_CHECK("after seek to an end");
        }
        return true;
    }
    if (w->dir > 0) {
        axs_iter_next(w->it);
        w->pos = ic_next_present(w->state, w->pos + 1);
        WALK_CHECK("after next");
        if (w->pos < 0) {
            axs_iter_seek_to_last(w->it);
            w->pos = ic_prev_present(w->state, IC_KEYS - 1);
            WALK_CHECK("after seek_to_last");
            w->dir = -1;
        }
    } else {
        axs_iter_prev(w->it);
        w->pos = ic_prev_present(w->state, w->pos - 1);
        WALK_CHECK("after prev");
        if (w->pos < 0) {
            axs_iter_seek_to_first(w->it);
            w->pos = ic_next_present(w->state, 0);
            WALK_CHECK("after seek_to_first");
            w->dir = 1;
        }
    }
    return true;
}

/* Full walks both ways: exactly the walker's state. */
static void walker_full(walker *w, uint64_t seed)
{
    axs_iter_seek_to_first(w->it);
    for (w->pos = ic_next_present(w->state, 0);; w->pos = ic_next_present(w->state, w->pos + 1)) {
        walker_expect(w, seed, "full forward walk");
        if (w->pos < 0)
            break;
        axs_iter_next(w->it);
    }
    axs_iter_seek_to_last(w->it);
    for (w->pos = ic_prev_present(w->state, IC_KEYS - 1);;
         w->pos = ic_prev_present(w->state, w->pos - 1)) {
        walker_expect(w, seed, "full backward walk");
        if (w->pos < 0)
            break;
        axs_iter_prev(w->it);
    }
}

static void ic_expect_content(axs_db *db, const uint32_t *state, uint64_t seed, const char *when)
{
    axs_iter *it = NULL;
    TU_REQUIRE(axs_iter_create(db, NULL, &it) == AXS_OK, "%s: axs_iter_create", when);
    walker w = {when, it, state, 0, 1};
    walker_full(&w, seed);
    axs_iter_destroy(it);
    for (unsigned i = 0; i < IC_KEYS; i++) {
        char k[16], why[512];
        size_t kl = ic_key(k, i);
        bool found;
        uint64_t ver;
        TU_REQUIRE(read_key(db, NULL, k, kl, 0, (int)(i % 4), &found, &ver, NULL, why, sizeof why),
                   "%s: %s: %s", when, k, why);
        TU_REQUIRE(ver == state[i], "%s: %s: %s%" PRIu64 ", expected %s%u (seed=%" PRIu64 ")",
                   when, k, found ? "version " : "absent ", ver, state[i] ? "version " : "absent ",
                   state[i], seed);
    }
}

static void test_iterator_survives_compaction(void **state)
{
    fx *f = *state;
    static ic_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.seed = tu_seed(__func__);
    fb_init(&sh.fb);
    atomic_init(&sh.writes, 0);
    atomic_init(&sh.compactions, 0);
    tu_rng rng;
    tu_rng_init(&rng, sh.seed);
    axs_options o = mkopts(true);
    o.segment_size = 64 * 1024;
    o.compaction_garbage_ratio = 0.3;
    axs_db *db = sh.db = open_at(f->db, &o);
    static uint8_t val[VAL_MAX];
    static uint32_t state0[IC_KEYS], state1[IC_KEYS];
    /* state 0: 90% of the keys */
    for (unsigned i = 0; i < IC_KEYS; i++) {
        char k[16];
        size_t kl = ic_key(k, i);
        if (tu_rng_below(&rng, 10) == 0)
            continue;
        uint32_t v = ++sh.next_version;
        TU_REQUIRE(axs_put(db, NULL, k, kl, val, make_value(val, k, kl, 0, v)) == AXS_OK,
                   "put %s", k);
        sh.cur[i] = v;
    }
    memcpy(state0, sh.cur, sizeof state0);
    axs_iter *it_a = NULL; /* implicit snapshot: state 0 */
    TU_REQUIRE(axs_iter_create(db, NULL, &it_a) == AXS_OK, "axs_iter_create");
    /* state 1: a third overwritten, a tenth deleted */
    for (unsigned i = 0; i < IC_KEYS; i++) {
        char k[16];
        size_t kl = ic_key(k, i);
        unsigned r = (unsigned)tu_rng_below(&rng, 30);
        if (r < 10) {
            uint32_t v = ++sh.next_version;
            TU_REQUIRE(axs_put(db, NULL, k, kl, val, make_value(val, k, kl, 0, v)) == AXS_OK,
                       "put %s", k);
            sh.cur[i] = v;
        } else if (r < 13) {
            TU_REQUIRE(axs_delete(db, NULL, k, kl) == AXS_OK, "delete %s", k);
            sh.cur[i] = 0;
        }
    }
    memcpy(state1, sh.cur, sizeof state1);
    axs_snapshot *snap = NULL;
    TU_REQUIRE(axs_snapshot_create(db, &snap) == AXS_OK && snap, "axs_snapshot_create");
    axs_read_options ro;
    axs_read_options_init(&ro);
    ro.snapshot = snap;
    axs_iter *it_b = NULL; /* explicit snapshot: state 1 */
    TU_REQUIRE(axs_iter_create(db, &ro, &it_b) == AXS_OK, "axs_iter_create(snapshot)");
    /* a write between snapshot and iterator creation must not show in it_b either */
    {
        char k[16];
        size_t kl = ic_key(k, 0);
        uint32_t v = ++sh.next_version;
        TU_REQUIRE(axs_put(db, NULL, k, kl, val, make_value(val, k, kl, 0, v)) == AXS_OK, "put");
        sh.cur[0] = v;
    }
    walker wa = {"iterator (implicit snapshot)", it_a, state0, -1, 1};
    walker wb = {"iterator at an explicit snapshot", it_b, state1, -1, -1};
    char mk[16];
    size_t mkl = ic_key(mk, IC_KEYS / 2);
    axs_iter_seek(it_a, mk, mkl);
    wa.pos = ic_next_present(state0, IC_KEYS / 2);
    walker_expect(&wa, sh.seed, "after the first seek");
    mkl = ic_key(mk, IC_KEYS / 3);
    axs_iter_seek_for_prev(it_b, mk, mkl);
    wb.pos = ic_prev_present(state1, IC_KEYS / 3);
    walker_expect(&wb, sh.seed, "after the first seek_for_prev");
    /* a third iterator stands still during the run: its current entry (key and value
     * pointers) must stay readable and unchanged, and it must then walk on correctly */
    axs_iter *it_s = NULL;
    TU_REQUIRE(axs_iter_create(db, NULL, &it_s) == AXS_OK, "axs_iter_create");
    static uint32_t state2[IC_KEYS];
    memcpy(state2, sh.cur, sizeof state2);
    walker ws = {"still iterator", it_s, state2, -1, 1};
    mkl = ic_key(mk, IC_KEYS / 4);
    axs_iter_seek(it_s, mk, mkl);
    ws.pos = ic_next_present(state2, IC_KEYS / 4);
    walker_expect(&ws, sh.seed, "after its seek");
    TU_REQUIRE(wa.pos >= 0 && wb.pos >= 0 && ws.pos >= 0, "test bug: a walker starts off the end");
    size_t held_kl = 0, held_vl = 0;
    const uint8_t *held_k = axs_iter_key(it_s, &held_kl);
    const uint8_t *held_v = axs_iter_value(it_s, &held_vl);
    uint8_t *held_kcopy = tu_xmalloc(held_kl), *held_vcopy = tu_xmalloc(held_vl);
    memcpy(held_kcopy, held_k, held_kl);
    memcpy(held_vcopy, held_v, held_vl);

    pthread_t tw, tc;
    start_thread(&tw, ic_writer, &sh);
    start_thread(&tc, ic_compactor, &sh);
    /* walk both iterators back and forth until the others have done real work */
    uint64_t t0 = tu_now_ns(), steps = 0;
    char walk_err[768] = "";
    while (!fb_stopped(&sh.fb)) {
        uint64_t nc = atomic_load(&sh.compactions), nw = atomic_load(&sh.writes);
        if (nc >= 8 && nw >= 1000 && steps >= 4 * IC_KEYS)
            break;
        if (tu_now_ns() - t0 > 120ull * 1000000000ull) {
            snprintf(walk_err, sizeof walk_err, "after 120 s the compaction thread has made %"
                     PRIu64 " passes and the writer %" PRIu64 " writes (wanted 8 and 1000): is "
                     "someone blocked?", nc, nw);
            break;
        }
        bool ok = true;
        for (int i = 0; ok && i < 8; i++, steps++)
            ok = walker_step(&wa, &rng, sh.seed, steps, walk_err, sizeof walk_err) &&
                 walker_step(&wb, &rng, sh.seed, steps, walk_err, sizeof walk_err);
        if (!ok)
            break;
    }
    /* stop and join the others before failing, so that no thread outlives the test */
    atomic_store(&sh.fb.stop, true);
    pthread_join(tw, NULL);
    pthread_join(tc, NULL);
    FB_CHECK(&sh.fb, sh.seed);
    TU_REQUIRE(walk_err[0] == '\0', "while the others wrote and compacted: %s", walk_err);
    fprintf(stderr, "[ ITERATOR ] %" PRIu64 " steps of each iterator during %" PRIu64
            " writes and %" PRIu64 " compactions\n", steps, (uint64_t)atomic_load(&sh.writes),
            (uint64_t)atomic_load(&sh.compactions));
    TU_REQUIRE(memcmp(held_k, held_kcopy, held_kl) == 0 && memcmp(held_v, held_vcopy, held_vl) == 0,
               "the current entry of an iterator that did not move changed during %" PRIu64
               " compactions (seed=%" PRIu64 ")", (uint64_t)atomic_load(&sh.compactions), sh.seed);
    walker_expect(&ws, sh.seed, "after standing still during the compactions");
    free(held_kcopy);
    free(held_vcopy);
    /* compact everything once more, fully and by range, then walk again */
    TU_REQUIRE(axs_compact(db) == AXS_OK, "axs_compact");
    TU_REQUIRE(axs_compact_range(db, "c00100", 6, "c00900", 6) == AXS_OK, "axs_compact_range");
    TU_REQUIRE(axs_compact_range(db, NULL, 0, NULL, 0) == AXS_OK, "axs_compact_range(all)");
    for (int i = 0; i < 50; i++) {
        bool ok = walker_step(&wa, &rng, sh.seed, steps + (uint64_t)i, walk_err, sizeof walk_err) &&
                  walker_step(&wb, &rng, sh.seed, steps + (uint64_t)i, walk_err, sizeof walk_err);
        TU_REQUIRE(ok, "after the final compactions: %s", walk_err);
    }
    walker_full(&wa, sh.seed);
    walker_full(&wb, sh.seed);
    walker_full(&ws, sh.seed);
    /* a new iterator at the old snapshot still sees state 1 */
    axs_iter *it_c = NULL;
    TU_REQUIRE(axs_iter_create(db, &ro, &it_c) == AXS_OK, "axs_iter_create(snapshot) after");
    walker wc = {"new iterator at the old snapshot", it_c, state1, -1, 1};
    walker_full(&wc, sh.seed);
    for (unsigned i = 0; i < IC_KEYS; i += 7) { /* and so do gets at it */
        char k[16], why[512];
        size_t kl = ic_key(k, i);
        bool found;
        uint64_t ver;
        TU_REQUIRE(read_key(db, &ro, k, kl, 0, (int)(i % 4), &found, &ver, NULL, why, sizeof why),
                   "get of %s at the snapshot: %s", k, why);
        TU_REQUIRE(ver == state1[i], "get of %s at the snapshot: %s%" PRIu64 ", expected %u", k,
                   found ? "version " : "absent ", ver, state1[i]);
    }
    axs_iter_destroy(it_a);
    axs_iter_destroy(it_b);
    axs_iter_destroy(it_c);
    axs_iter_destroy(it_s);
    axs_snapshot_release(db, snap);
    ic_expect_content(db, sh.cur, sh.seed, "after the iterators");
    TU_REQUIRE(axs_wait_for_compaction(db) == AXS_OK, "axs_wait_for_compaction");
    TU_REQUIRE(axs_compact(db) == AXS_OK, "axs_compact");
    axs_stats s = stats_of(db);
    TU_REQUIRE(s.compactions > 8 && s.compaction_bytes_removed > 0,
               "stats: %" PRIu64 " compactions, %" PRIu64 " bytes of segments removed",
               s.compactions, s.compaction_bytes_removed);
    close_ok(db);
    o.create_if_missing = false;
    db = open_at(f->db, &o);
    ic_expect_content(db, sh.cur, sh.seed, "after a reopen");
    close_ok(db);
}

/* ---- group commit --------------------------------------------------------------------------- */

enum { GC_THREADS = 8 };

typedef struct gc_arg {
    axs_db *db;
    int id;
    unsigned n;
    pthread_barrier_t *go;
    failbox *fb;
} gc_arg;

static size_t gc_key(char *buf, int t, unsigned i)
{
    return (size_t)snprintf(buf, 16, "g%d-%05u", t, i);
}

static void *gc_main(void *p)
{
    gc_arg *a = p;
    uint8_t *val = malloc(VAL_MAX);
    pthread_barrier_wait(a->go);
    axs_write_options wo;
    axs_write_options_init(&wo);
    wo.sync = true;
    for (unsigned i = 0; val && i < a->n && !fb_stopped(a->fb); i++) {
        char k[16];
        size_t kl = gc_key(k, a->id, i);
        size_t vl = make_value(val, k, kl, (uint32_t)a->id, i + 1);
        int rc = axs_put(a->db, &wo, k, kl, val, vl);
        if (rc != AXS_OK) {
            fb_fail(a->fb, "thread %d: synced put of %s = %d (%s): %s", a->id, k, rc,
                    axs_strerror(rc), axs_last_error(a->db));
            break;
        }
    }
    if (!val)
        fb_fail(a->fb, "thread %d: out of memory", a->id);
    free(val);
    return NULL;
}

static void test_group_commit(void **state)
{
    fx *f = *state;
    uint64_t seed = tu_seed(__func__);
    unsigned per = (unsigned)tu_scaled(150, 20);
    axs_options o = mkopts(true);
    axs_db *db = open_at(f->db, &o);
    axs_stats s0 = stats_of(db);
    failbox fb;
    fb_init(&fb);
    pthread_barrier_t go;
    TU_REQUIRE(pthread_barrier_init(&go, NULL, GC_THREADS) == 0, "pthread_barrier_init");
    pthread_t th[GC_THREADS];
    gc_arg args[GC_THREADS];
    uint64_t t0 = tu_now_ns();
    for (int i = 0; i < GC_THREADS; i++) {
        args[i] = (gc_arg){db, i, per, &go, &fb};
        start_thread(&th[i], gc_main, &args[i]);
    }
    for (int i = 0; i < GC_THREADS; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(tu_now_ns() - t0) / 1e9;
    pthread_barrier_destroy(&go);
    FB_CHECK(&fb, seed);
    axs_stats s1 = stats_of(db);
    uint64_t total = (uint64_t)GC_THREADS * per;
    uint64_t sw = s1.synced_writes - s0.synced_writes, syncs = s1.syncs - s0.syncs;
    uint64_t groups = s1.commit_groups - s0.commit_groups, puts = s1.puts - s0.puts;
    fprintf(stderr, "[ GROUP    ] %d threads x %u synced puts in %.2f s: %" PRIu64
            " synced writes, %" PRIu64 " syncs (%.2f writes per sync), %" PRIu64
            " commit groups\n", GC_THREADS, per, secs, sw, syncs,
            syncs ? (double)sw / (double)syncs : 0.0, groups);
    TU_REQUIRE(puts == total, "stats.puts grew by %" PRIu64 ", expected %" PRIu64, puts, total);
    TU_REQUIRE(sw == total, "stats.synced_writes grew by %" PRIu64 ", expected %" PRIu64, sw,
               total);
    TU_REQUIRE(syncs >= 1 && syncs <= sw,
               "stats.syncs grew by %" PRIu64 " for %" PRIu64 " synced writes (a group needs at "
               "most one)", syncs, sw);
    TU_REQUIRE(groups >= 1 && groups <= total,
               "stats.commit_groups grew by %" PRIu64 " for %" PRIu64 " writes", groups, total);
    close_ok(db);
    o.create_if_missing = false;
    db = open_at(f->db, &o);
    TU_REQUIRE(stats_of(db).num_keys == total, "%" PRIu64 " keys after reopen, expected %" PRIu64,
               stats_of(db).num_keys, total);
    for (int t = 0; t < GC_THREADS; t++)
        for (unsigned i = 0; i < per; i++) {
            char k[16], why[512];
            size_t kl = gc_key(k, t, i);
            bool found;
            uint64_t ver;
            TU_REQUIRE(read_key(db, NULL, k, kl, t, (int)(i % 4), &found, &ver, NULL, why,
                                sizeof why), "%s: %s", k, why);
            TU_REQUIRE(found && ver == i + 1, "after reopen, %s: %s%" PRIu64 ", expected version %u",
                       k, found ? "version " : "absent ", ver, i + 1);
        }
    close_ok(db);
}

/* ---- readers do not wait for an fsync ------------------------------------------------------- */

/* An I/O table over axs_io_posix() whose next sync, once armed, blocks until the reader is done
 * (or 30 s pass, so a reader that waits for the sync cannot hang the test). */
static struct slow_sync {
    const axs_io *posix;
    axs_io table;
    atomic_bool armed;
    atomic_bool in_sync;   /* the armed sync has started */
    atomic_bool timed_out; /* the armed sync gave up waiting for the reader */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool reader_done; /* under mu */
} slow;

static int slow_sync_fn(void *ctx, axs_file *f)
{
    if (atomic_exchange(&slow.armed, false)) {
        atomic_store(&slow.in_sync, true);
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 30;
        pthread_mutex_lock(&slow.mu);
        int rc = 0;
        while (!slow.reader_done && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&slow.cv, &slow.mu, &dl);
        if (!slow.reader_done)
            atomic_store(&slow.timed_out, true);
        pthread_mutex_unlock(&slow.mu);
    }
    return slow.posix->sync(ctx, f);
}

enum { RW_KEYS = 200, RW_GETS = 1000 };

typedef struct rw_arg {
    axs_db *db;
    axs_iter *it; /* created before the slow write */
    uint64_t seed;
    atomic_bool *put_returned;
    atomic_bool done_before_put_returned;
    atomic_bool gave_up; /* the synced put returned without ever reaching the sync */
    failbox *fb;
} rw_arg;

static size_t rw_key(char *buf, unsigned i)
{
    return (size_t)snprintf(buf, 16, "r%04u", i);
}

static void *rw_reader(void *p)
{
    rw_arg *a = p;
    /* wait (without sleeping: it is a condition) until the writer is inside the slow sync */
    while (!atomic_load(&slow.in_sync)) {
        if (atomic_load(a->put_returned)) {
            atomic_store(&a->gave_up, true);
            goto done;
        }
        sched_yield();
    }
    tu_rng rng;
    tu_rng_init(&rng, a->seed ^ 0x5257000000000000ull);
    for (unsigned n = 0; n < RW_GETS; n++) {
        unsigned i = (unsigned)tu_rng_below(&rng, RW_KEYS + 1); /* RW_KEYS: the key being written */
        char k[16], why[512];
        size_t kl = rw_key(k, i);
        bool found;
        uint64_t ver;
        if (!read_key(a->db, NULL, k, kl, 0, (int)(n % 4), &found, &ver, NULL, why, sizeof why)) {
            fb_fail(a->fb, "reader: %s of %s: %s", variant_name[n % 4], k, why);
            goto done;
        }
        uint64_t want = i < RW_KEYS ? 1 : 0;
        if (i < RW_KEYS ? (!found || ver != want) : (found && ver != 1)) {
            fb_fail(a->fb, "reader: %s of %s: %s%" PRIu64, variant_name[n % 4], k,
                    found ? "version " : "absent ", ver);
            goto done;
        }
        if (n % 5 == 0) { /* and an iterator step */
            if (!axs_iter_valid(a->it))
                axs_iter_seek_to_first(a->it);
            else
                axs_iter_next(a->it);
            if (axs_iter_status(a->it) != AXS_OK) {
                fb_fail(a->fb, "reader: iterator status %d", axs_iter_status(a->it));
                goto done;
            }
        }
    }
    atomic_store(&a->done_before_put_returned, !atomic_load(a->put_returned));
done:
    pthread_mutex_lock(&slow.mu);
    slow.reader_done = true;
    pthread_cond_broadcast(&slow.cv);
    pthread_mutex_unlock(&slow.mu);
    return NULL;
}

static void test_readers_do_not_wait(void **state)
{
    fx *f = *state;
    uint64_t seed = tu_seed(__func__);
    slow.posix = axs_io_posix();
    slow.table = *slow.posix;
    slow.table.sync = slow_sync_fn;
    atomic_init(&slow.armed, false);
    atomic_init(&slow.in_sync, false);
    atomic_init(&slow.timed_out, false);
    pthread_mutex_init(&slow.mu, NULL);
    pthread_cond_init(&slow.cv, NULL);
    slow.reader_done = false;

    axs_options o = mkopts(true);
    o.io = &slow.table;
    o.compaction_garbage_ratio = 0; /* nothing in the background may take the slow sync */
    axs_db *db = open_at(f->db, &o);
    static uint8_t val[VAL_MAX];
    for (unsigned i = 0; i < RW_KEYS; i++) {
        char k[16];
        size_t kl = rw_key(k, i);
        TU_REQUIRE(axs_put(db, NULL, k, kl, val, make_value(val, k, kl, 0, 1)) == AXS_OK, "put");
    }
    axs_iter *it = NULL;
    TU_REQUIRE(axs_iter_create(db, NULL, &it) == AXS_OK, "axs_iter_create");
    failbox fb;
    fb_init(&fb);
    atomic_bool put_returned;
    atomic_init(&put_returned, false);
    rw_arg ra = {.db = db, .it = it, .seed = seed, .put_returned = &put_returned, .fb = &fb};
    atomic_init(&ra.done_before_put_returned, false);
    atomic_init(&ra.gave_up, false);
    pthread_t tr;
    start_thread(&tr, rw_reader, &ra);
    /* the slow synced write */
    char k[16];
    size_t kl = rw_key(k, RW_KEYS);
    size_t vl = make_value(val, k, kl, 0, 1);
    axs_write_options wo;
    axs_write_options_init(&wo);
    wo.sync = true;
    atomic_store(&slow.armed, true);
    int rc = axs_put(db, &wo, k, kl, val, vl);
    atomic_store(&put_returned, true);
    pthread_join(tr, NULL);
    FB_CHECK(&fb, seed);
    TU_REQUIRE(rc == AXS_OK, "the synced put = %d (%s)", rc, axs_strerror(rc));
    TU_REQUIRE(!atomic_load(&ra.gave_up) && atomic_load(&slow.in_sync),
               "the synced put returned without calling the I/O table's sync");
    TU_REQUIRE(!atomic_load(&slow.timed_out) && atomic_load(&ra.done_before_put_returned),
               "the reader could not finish %d gets while a synced put was inside its fdatasync "
               "(the sync waited 30 s for it): readers wait for the fsync", RW_GETS);
    axs_iter_destroy(it);
    char why[512];
    bool found;
    uint64_t ver;
    TU_REQUIRE(read_key(db, NULL, k, kl, 0, 0, &found, &ver, NULL, why, sizeof why) && found &&
                   ver == 1, "the slow put's key after it returned: %s", why);
    close_ok(db);
    pthread_mutex_destroy(&slow.mu);
    pthread_cond_destroy(&slow.cv);
}

/* ---- the background compaction bounds the log ----------------------------------------------- */

static void test_background_compaction_bounds_space(void **state)
{
    fx *f = *state;
    uint64_t seed = tu_seed(__func__);
    tu_rng rng;
    tu_rng_init(&rng, seed);
    enum { BK = 600 };
    const uint64_t seg = 64 * 1024;
    axs_options o = mkopts(true);
    o.segment_size = seg;
    o.compaction_garbage_ratio = 0.5;
    axs_db *db = open_at(f->db, &o);
    static uint8_t val[VAL_MAX];
    static uint32_t ver[BK];
    uint32_t next = 0;
    uint64_t written = 0;
    unsigned rounds = (unsigned)tu_scaled(12, 4);
    for (int phase = 0; phase < 2; phase++) {
        if (phase == 0) { /* write, then overwrite every key again and again */
            for (unsigned r = 0; r < rounds; r++)
                for (unsigned i = 0; i < BK; i++) {
                    char k[16];
                    size_t kl = (size_t)snprintf(k, sizeof k, "b%05u", i);
                    if (tu_rng_below(&rng, 10) == 0 && r > 0) {
                        TU_REQUIRE(axs_delete(db, NULL, k, kl) == AXS_OK, "delete %s", k);
                        ver[i] = 0;
                        continue;
                    }
                    ver[i] = ++next;
                    size_t vl = make_value_len(val, k, kl, 0, ver[i],
                                               500 + (size_t)tu_rng_below(&rng, 1000));
                    TU_REQUIRE(axs_put(db, NULL, k, kl, val, vl) == AXS_OK, "put %s", k);
                    written += vl;
                }
        } else { /* delete most keys: the live data shrinks */
            for (unsigned i = 0; i < BK; i++)
                if (i % 5) {
                    char k[16];
                    size_t kl = (size_t)snprintf(k, sizeof k, "b%05u", i);
                    TU_REQUIRE(axs_delete(db, NULL, k, kl) == AXS_OK, "delete %s", k);
                    ver[i] = 0;
                }
        }
        int rc = axs_wait_for_compaction(db);
        TU_REQUIRE(rc == AXS_OK, "axs_wait_for_compaction = %d (%s): %s", rc, axs_strerror(rc),
                   axs_last_error(db));
        axs_stats s = stats_of(db);
        uint64_t bound = (uint64_t)(2.2 * (double)s.live_bytes) + 4 * seg;
        fprintf(stderr, "[ SPACE    ] phase %d: %" PRIu64 " bytes written, log %" PRIu64
                " bytes in %" PRIu64 " segments, live %" PRIu64 " bytes (bound %" PRIu64 "), %"
                PRIu64 " compactions removed %" PRIu64 " bytes\n", phase, written, s.log_bytes,
                s.segments, s.live_bytes, bound, s.compactions, s.compaction_bytes_removed);
        TU_REQUIRE(s.compactions > 0 && s.compaction_bytes_removed > 0,
                   "phase %d: the background compaction never ran (%" PRIu64 " passes, %" PRIu64
                   " bytes removed) although %" PRIu64 " bytes were written", phase,
                   s.compactions, s.compaction_bytes_removed, written);
        TU_REQUIRE(s.log_bytes <= bound,
                   "phase %d: after axs_wait_for_compaction the log holds %" PRIu64 " bytes for %"
                   PRIu64 " live bytes: more than 2.2 x live + 4 segments (%" PRIu64 ")",
                   phase, s.log_bytes, s.live_bytes, bound);
        TU_REQUIRE(s.live_bytes <= s.log_bytes, "live_bytes %" PRIu64 " > log_bytes %" PRIu64,
                   s.live_bytes, s.log_bytes);
        uint64_t disk = 0;
        size_t files = seg_files(f->db, NULL, 0, &disk);
        TU_REQUIRE(files == s.segments && disk == s.log_bytes,
                   "phase %d: %zu segment files (%" PRIu64 " bytes) on disk, stats %" PRIu64
                   " (%" PRIu64 " bytes)", phase, files, disk, s.segments, s.log_bytes);
    }
    for (int pass = 0; pass < 2; pass++) {
        size_t n = 0;
        for (unsigned i = 0; i < BK; i++) {
            char k[16], why[512];
            size_t kl = (size_t)snprintf(k, sizeof k, "b%05u", i);
            bool found;
            uint64_t v;
            TU_REQUIRE(read_key(db, NULL, k, kl, 0, (int)(i % 4), &found, &v, NULL, why,
                                sizeof why), "%s: %s", k, why);
            TU_REQUIRE(v == ver[i], "%s%s: %s%" PRIu64 ", expected %s%u (seed=%" PRIu64 ")",
                       pass ? "after reopen, " : "", k, found ? "version " : "absent ", v,
                       ver[i] ? "version " : "absent ", ver[i], seed);
            n += ver[i] != 0;
        }
        TU_REQUIRE(stats_of(db).num_keys == n, "num_keys %" PRIu64 ", expected %zu",
                   stats_of(db).num_keys, n);
        close_ok(db);
        if (pass == 0) {
            o.create_if_missing = false;
            db = open_at(f->db, &o);
        }
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stress_model, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_pinned_survives_compaction, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_iterator_survives_compaction, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_readers_do_not_wait, tu_dir_setup, tu_dir_teardown),
        cmocka_unit_test_setup_teardown(test_background_compaction_bounds_space,
                                        tu_dir_setup, tu_dir_teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
