/*
 * wb_transcript.c: drives rocksdb_writebatch_* through <rocksdb/c.h> only and prints what it
 * sees, so that two builds of it can be compared line by line:
 *   wb_transcript_real  linked with the real librocksdb (RocksDB 7.8.3)
 *   wb_transcript_ours  built with plugin/src/writebatch.c
 * (They cannot share one process: both define the same rocksdb_* symbols.) compare.cmake runs
 * both with the same seed and fails on the first differing line.
 *
 *   wb_transcript <seed> [steps]
 *
 * Part 1: a random sequence of appends (every rocksdb_writebatch_* appender, plain and vector,
 * with empty keys and lengths that need 1-3 varint bytes), save points, rollbacks, pops,
 * clears and copies through create_from(data()). After every step: size, count and a hash of
 * data() and of the iterate() callbacks; every 64 steps and at the end the full bytes.
 * Part 2: create_from on every truncation of a batch from part 1 and on random byte mutations
 * of it: count (only for reps of 12 bytes or more: for shorter ones RocksDB reads past its
 * string), data(), iterate(), and an append rolled back. No byte of that batch, and no byte a
 * mutation writes, has the value of a no-op or transaction-marker tag (0x09-0x0D, 0x12, 0x13,
 * 0x15): the Debian librocksdb is built with assertions on and aborts when iterate() meets one
 * (ours stops; see docs/writebatch.md), so such a byte read as a tag would end the run.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

static uint64_t rng_state;

static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t below(size_t n) {
    return n ? (size_t)(rnd() % n) : 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001B3ull;
    return h;
}

#define FNV0 0xCBF29CE484222325ull

/* The tags of no-op and transaction markers: iterate() of the real library asserts on them. */
static int is_marker(unsigned char c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x12 || c == 0x13 || c == 0x15;
}

static int has_marker_byte(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (is_marker((unsigned char)p[i]))
            return 1;
    return 0;
}

/* Random string into buf: usually short, sometimes long enough for a 2-byte varint, rarely
 * for a 3-byte one. */
static size_t rnd_str(char *buf) {
    size_t r = below(100), n;
    if (r < 10)
        n = 0;
    else if (r < 85)
        n = 1 + below(12);
    else if (r < 98)
        n = 120 + below(200);
    else
        n = 16380 + below(10);
    for (size_t i = 0; i < n; i++) {
        unsigned char c;
        do
            c = (unsigned char)(r < 50 ? 'a' + below(4) : below(256));
        while (is_marker(c));
        buf[i] = (char)c;
    }
    return n;
}

enum { MAXSTR = 16400, MAXPARTS = 4 };
static char sbuf[2 * MAXPARTS + 2][MAXSTR];

typedef struct cb_state {
    uint64_t h;
    unsigned puts, dels;
} cb_state;

static void cb_put(void *s, const char *k, size_t klen, const char *v, size_t vlen) {
    cb_state *st = s;
    uint64_t n[2] = {klen, vlen};
    st->h = fnv(fnv(fnv(st->h, "P", 1), n, sizeof n), k, klen);
    st->h = fnv(st->h, v, vlen);
    st->puts++;
}

static void cb_del(void *s, const char *k, size_t klen) {
    cb_state *st = s;
    uint64_t n = klen;
    st->h = fnv(fnv(fnv(st->h, "D", 1), &n, sizeof n), k, klen);
    st->dels++;
}

static void print_hex(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        printf("%02x", (unsigned char)p[i]);
    printf("\n");
}

/* One line describing the batch; full bytes too if full. */
static void show(rocksdb_writebatch_t *b, int full) {
    size_t n;
    const char *d = rocksdb_writebatch_data(b, &n);
    cb_state st = {FNV0, 0, 0};
    rocksdb_writebatch_iterate(b, &st, cb_put, cb_del);
    if (n >= 12)
        printf("  size=%zu count=%d", n, rocksdb_writebatch_count(b));
    else
        printf("  size=%zu count=(short)", n);
    printf(" data=%016" PRIx64 " iter=%u/%u/%016" PRIx64 "\n", fnv(FNV0, d, n), st.puts, st.dels,
           st.h);
    if (full) {
        printf("  bytes=");
        print_hex(d, n);
    }
}

static void show_err(const char *what, char *err) {
    printf("  %s err=%s\n", what, err ? err : "(none)");
    free(err);
}

/* Fills up to MAXPARTS slices; returns how many. */
static int rnd_parts(int base, const char **ptrs, size_t *lens) {
    int n = (int)below(MAXPARTS + 1);
    for (int i = 0; i < n; i++) {
        lens[i] = rnd_str(sbuf[base + i]);
        ptrs[i] = sbuf[base + i];
    }
    return n;
}

static void mutate_and_check(const char *d, size_t n) {
    /* Every truncation. */
    for (size_t len = 0; len <= n; len++) {
        rocksdb_writebatch_t *c = rocksdb_writebatch_create_from(d, len);
        printf("trunc %zu\n", len);
        show(c, 0);
        rocksdb_writebatch_destroy(c);
    }
    /* Random mutations. */
    char *m = malloc(n ? n : 1);
    for (int round = 0; round < 200 && n; round++) {
        memcpy(m, d, n);
        int flips = 1 + (int)below(3);
        for (int f = 0; f < flips; f++) {
            unsigned char v;
            do
                v = (unsigned char)below(256);
            while (is_marker(v));
            m[below(n)] = (char)v;
        }
        size_t len = below(4) == 0 ? below(n + 1) : n;
        rocksdb_writebatch_t *c = rocksdb_writebatch_create_from(m, len);
        printf("mutation %d len %zu\n", round, len);
        show(c, 0);
        /* Appending to a mutated (but full-header) rep and rolling back. */
        if (len >= 12) {
            char *err = NULL;
            rocksdb_writebatch_set_save_point(c);
            rocksdb_writebatch_put(c, "k", 1, "v", 1);
            show(c, 0);
            rocksdb_writebatch_rollback_to_save_point(c, &err);
            show_err("rollback", err);
            show(c, 0);
        }
        rocksdb_writebatch_destroy(c);
    }
    free(m);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <seed> [steps]\n", argv[0]);
        return 2;
    }
    uint64_t seed = strtoull(argv[1], NULL, 0);
    int steps = argc > 2 ? atoi(argv[2]) : 2000;
    rng_state = seed;
    printf("seed=%" PRIu64 " steps=%d\n", seed, steps);

    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    char *keep = NULL; /* a copy of an interesting batch for part 2 */
    size_t keep_len = 0;
    for (int i = 0; i < steps; i++) {
        const char *kp[MAXPARTS], *vp[MAXPARTS];
        size_t kl[MAXPARTS], vl[MAXPARTS];
        char *err = NULL;
        size_t r = below(100);
        if (r < 16) {
            size_t k = rnd_str(sbuf[0]), v = rnd_str(sbuf[1]);
            printf("%d put %zu %zu\n", i, k, v);
            rocksdb_writebatch_put(b, sbuf[0], k, sbuf[1], v);
        } else if (r < 22) {
            int nk = rnd_parts(0, kp, kl), nv = rnd_parts(MAXPARTS, vp, vl);
            printf("%d putv %d %d\n", i, nk, nv);
            rocksdb_writebatch_putv(b, nk, kp, kl, nv, vp, vl);
        } else if (r < 32) {
            size_t k = rnd_str(sbuf[0]);
            printf("%d delete %zu\n", i, k);
            rocksdb_writebatch_delete(b, sbuf[0], k);
        } else if (r < 36) {
            int nk = rnd_parts(0, kp, kl);
            printf("%d deletev %d\n", i, nk);
            rocksdb_writebatch_deletev(b, nk, kp, kl);
        } else if (r < 42) {
            size_t k = rnd_str(sbuf[0]);
            printf("%d singledelete %zu\n", i, k);
            rocksdb_writebatch_singledelete(b, sbuf[0], k);
        } else if (r < 47) {
            size_t k = rnd_str(sbuf[0]), v = rnd_str(sbuf[1]);
            printf("%d delete_range %zu %zu\n", i, k, v);
            rocksdb_writebatch_delete_range(b, sbuf[0], k, sbuf[1], v);
        } else if (r < 50) {
            int nk = rnd_parts(0, kp, kl);
            for (int j = 0; j < nk; j++) {
                vl[j] = rnd_str(sbuf[MAXPARTS + j]);
                vp[j] = sbuf[MAXPARTS + j];
            }
            printf("%d delete_rangev %d\n", i, nk);
            rocksdb_writebatch_delete_rangev(b, nk, kp, kl, vp, vl);
        } else if (r < 58) {
            size_t k = rnd_str(sbuf[0]), v = rnd_str(sbuf[1]);
            printf("%d merge %zu %zu\n", i, k, v);
            rocksdb_writebatch_merge(b, sbuf[0], k, sbuf[1], v);
        } else if (r < 62) {
            int nk = rnd_parts(0, kp, kl), nv = rnd_parts(MAXPARTS, vp, vl);
            printf("%d mergev %d %d\n", i, nk, nv);
            rocksdb_writebatch_mergev(b, nk, kp, kl, nv, vp, vl);
        } else if (r < 68) {
            size_t k = rnd_str(sbuf[0]);
            printf("%d put_log_data %zu\n", i, k);
            rocksdb_writebatch_put_log_data(b, sbuf[0], k);
        } else if (r < 78) {
            printf("%d set_save_point\n", i);
            rocksdb_writebatch_set_save_point(b);
        } else if (r < 88) {
            printf("%d rollback_to_save_point\n", i);
            rocksdb_writebatch_rollback_to_save_point(b, &err);
            show_err("rollback", err);
        } else if (r < 94) {
            printf("%d pop_save_point\n", i);
            rocksdb_writebatch_pop_save_point(b, &err);
            show_err("pop", err);
        } else if (r < 96) {
            printf("%d clear\n", i);
            rocksdb_writebatch_clear(b);
        } else {
            /* Replace the batch by a copy made from its bytes (save points are not copied). */
            size_t n;
            const char *d = rocksdb_writebatch_data(b, &n);
            printf("%d copy via create_from\n", i);
            rocksdb_writebatch_t *c = rocksdb_writebatch_create_from(d, n);
            rocksdb_writebatch_destroy(b);
            b = c;
        }
        show(b, i % 64 == 63);
        size_t n;
        const char *d = rocksdb_writebatch_data(b, &n);
        /* Part 2 wants a batch rich in records but small, and without a byte that a mutation
         * could make the real iterate() read as a marker tag. */
        if (n > keep_len && n < 400 && !has_marker_byte(d, n)) {
            free(keep);
            keep = malloc(n);
            memcpy(keep, d, n);
            keep_len = n;
        }
    }
    printf("final\n");
    show(b, 1);
    rocksdb_writebatch_destroy(b);

    if (keep) {
        printf("part 2 on %zu bytes: ", keep_len);
        print_hex(keep, keep_len);
        mutate_and_check(keep, keep_len);
    }
    free(keep);
    printf("done\n");
    return 0;
}
