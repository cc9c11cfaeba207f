/*
 * gate_ops.c: the core operations whose instruction counts the performance gate watches.
 *
 * Run under `valgrind --tool=callgrind`; compare/gate.py reads the inclusive instruction count
 * of each gate_* function (noinline, so each is one node of the call graph) and divides it by
 * the operations it did. Everything is fixed (keys, values, sizes, order), so the counts are
 * the same from run to run on one build: a change of a few percent is a change of the code.
 *
 *   gate_ops <empty or missing directory>
 *
 * Keys are db_bench's (16 bytes: the number big-endian, '0' padding), values 100 bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alexstorage/db.h>

enum { LOADED = 20000, PUTS = 2000, GETS = 10000, SCANNED = 10000, KEY = 16, VALUE = 100 };

static void make_key(uint64_t v, char key[KEY])
{
    for (int i = 0; i < 8; i++)
        key[i] = (char)(v >> (56 - 8 * i));
    memset(key + 8, '0', KEY - 8);
}

/* A permutation of 0..n-1 from a fixed LCG, so inserts and reads are in random order. */
static uint64_t scramble(uint64_t i, uint64_t n)
{
    return (i * 2654435761u + 12345u) % n;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "gate_ops: %s: %s\n", what, axs_strerror(rc));
    exit(1);
}

__attribute__((noinline)) static void gate_puts(axs_db *db, const char *value)
{
    char key[KEY];
    for (uint64_t i = 0; i < PUTS; i++) {
        make_key(LOADED + scramble(i, PUTS), key);
        int rc = axs_put(db, NULL, key, KEY, value, VALUE);
        if (rc)
            die("put", rc);
    }
}

__attribute__((noinline)) static uint64_t gate_gets(axs_db *db)
{
    char key[KEY], buf[VALUE];
    uint64_t hits = 0;
    for (uint64_t i = 0; i < GETS; i++) {
        make_key(scramble(i, LOADED), key);
        size_t vlen;
        bool found;
        int rc = axs_get(db, NULL, key, KEY, buf, sizeof buf, &vlen, &found);
        if (rc)
            die("get", rc);
        hits += found;
    }
    return hits;
}

__attribute__((noinline)) static uint64_t gate_scan(axs_db *db)
{
    axs_iter *it;
    int rc = axs_iter_create(db, NULL, &it);
    if (rc)
        die("iterator", rc);
    uint64_t seen = 0;
    size_t n;
    for (axs_iter_seek_to_first(it); axs_iter_valid(it) && seen < SCANNED; axs_iter_next(it)) {
        seen += axs_iter_value(it, &n) != NULL;
    }
    axs_iter_destroy(it);
    return seen;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gate_ops <empty or missing directory>\n");
        return 2;
    }
    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = true;
    o.error_if_exists = true;
    axs_db *db;
    char *msg = NULL;
    int rc = axs_open(argv[1], &o, &db, &msg);
    if (rc) {
        fprintf(stderr, "gate_ops: open %s: %s\n", argv[1], msg ? msg : axs_strerror(rc));
        free(msg);
        return 1;
    }
    char value[VALUE], key[KEY];
    for (int i = 0; i < VALUE; i++)
        value[i] = (char)('a' + i % 26);
    for (uint64_t i = 0; i < LOADED; i++) {
        make_key(scramble(i, LOADED), key);
        if ((rc = axs_put(db, NULL, key, KEY, value, VALUE)))
            die("load", rc);
    }
    gate_puts(db, value);
    uint64_t hits = gate_gets(db);
    uint64_t seen = gate_scan(db);
    if ((rc = axs_close(db)))
        die("close", rc);
    if (hits != GETS || seen != SCANNED) {
        fprintf(stderr, "gate_ops: %llu of %d gets hit, %llu of %d scanned\n",
                (unsigned long long)hits, GETS, (unsigned long long)seen, SCANNED);
        return 1;
    }
    /* The operation counts gate.py divides by. */
    printf("puts %d\ngets %d\nscan %d\n", PUTS, GETS, SCANNED);
    return 0;
}
