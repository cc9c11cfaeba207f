/*
 * rel_util.h: helpers shared by the reliability tests (prefix rel_): temporary directories,
 * self-describing values, a model of the expected database state, a random workload of
 * operations, the "is the recovered state a prefix of the history" check, and crash/hang
 * reporting that names the trial in progress.
 *
 * Values. Every value the reliability tests write describes itself:
 *
 *   offset  size  field
 *   0       4     magic "RVAL"
 *   4       4     key id (the key is rel_key(id))
 *   8       8     version: unique over the whole test run (a global counter)
 *   16      8     batch id: unique per operation (a single put has its own)
 *   24      4     number of entries of the operation that wrote it
 *   28      4     pad length p
 *   32      p     pad: a pure function of (key id, version, p); every third version is
 *                 compressible (runs of one letter), the others are pseudo-random bytes
 *
 * so a value read back can be checked on its own (rel_value_decode rejects any byte that is not
 * what the writer wrote) and compared with the model by its fields alone.
 *
 * Temporary directories are made with mkdtemp under ALEXSTORAGE_TEST_TMPDIR if set, else (when
 * the caller prefers memory, for tests that simulate durability themselves) /dev/shm if usable,
 * else TMPDIR, else /tmp. rel_rmtree removes them.
 */
#ifndef ALEXSTORAGE_REL_UTIL_H
#define ALEXSTORAGE_REL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "test_util.h"

#include "alexstorage/db.h"

/* ---- files and directories ----------------------------------------------------------------- */

/* A fresh directory "<base>/axs-rel-<tag>-XXXXXX" (malloc'd path); fails the test on error.
 * Removed at exit if rel_rmtree has not removed it by then. */
char *rel_mkdtemp(const char *tag, bool prefer_memory);
/* Removes path and everything below it; a missing path is fine. Fails the test on error. */
void rel_rmtree(const char *path);
/* Reads a whole file into a malloc'd buffer. Returns 0 or -errno. */
int rel_read_file(const char *path, uint8_t **data, size_t *len);
/* Creates or truncates path and writes data. Fails the test on error. */
void rel_write_file(const char *path, const void *data, size_t len);
/* Names of the regular files directly in dir, sorted (malloc'd array of malloc'd strings). */
size_t rel_list_files(const char *dir, char ***names);
void rel_free_names(char **names, size_t n);
bool rel_file_exists(const char *path);

/* ---- keys and values ----------------------------------------------------------------------- */

#define REL_KEY_MAX 32
#define REL_VALUE_HEADER 32u

/* Writes the key of id into buf (REL_KEY_MAX bytes) and returns its length (8 to 16 bytes,
 * varying with the id so that key lengths differ). */
size_t rel_key(char *buf, uint32_t id);

typedef struct rel_val {
    uint32_t key_id;
    uint64_t version;
    uint64_t batch_id;
    uint32_t batch_count;
    uint32_t pad_len;
} rel_val;

/* Encodes v into a malloc'd buffer of REL_VALUE_HEADER + v->pad_len bytes. */
uint8_t *rel_value_encode(const rel_val *v, size_t *len);
/* 0 if buf is exactly a value rel_value_encode produced (fields in *v), -1 otherwise. */
int rel_value_decode(const uint8_t *buf, size_t len, rel_val *v);

/* ---- model --------------------------------------------------------------------------------- */

/* What the database holds (or should hold) for one key. */
typedef struct rel_slot {
    bool present;
    rel_val v; /* when present */
} rel_slot;

bool rel_slot_equal(const rel_slot *a, const rel_slot *b);
/* "absent" or "v<version> b<batch>/<count> p<pad>" into buf. */
const char *rel_slot_str(const rel_slot *s, char *buf, size_t len);

/* Reads every key id in [0, nkeys) from db into state[]. Returns AXS_OK, or the first error
 * of a get. A value that does not decode, or names another key, is reported in bad (with its
 * key id in *bad_key) and returns AXS_ECORRUPT with *garbage = true. */
int rel_read_state(axs_db *db, uint32_t nkeys, rel_slot *state, bool *garbage, uint32_t *bad_key,
                   char *why, size_t why_len);
/* Iterates db from first to last: every pair must be a key id below nkeys whose value decodes
 * and equals state[id]; the count must match. Returns 0, or -1 with a reason in why. */
int rel_check_iterator(axs_db *db, uint32_t nkeys, const rel_slot *state, char *why,
                       size_t why_len);

/* ---- operations ---------------------------------------------------------------------------- */

#define REL_MAX_BATCH 20

enum rel_op_kind { REL_OP_PUT, REL_OP_DELETE, REL_OP_BATCH, REL_OP_FLUSH, REL_OP_COMPACT };

typedef struct rel_entry {
    uint32_t key;
    bool del;
    uint64_t version;
    uint32_t pad;
} rel_entry;

typedef struct rel_op {
    int kind;
    bool sync;
    uint64_t batch_id;
    uint32_t n; /* entries (0 for flush and compact) */
    rel_entry e[REL_MAX_BATCH];
} rel_op;

/* Shape of a random workload. Probabilities are per operation; what remains is buffered
 * single puts. */
typedef struct rel_mix {
    uint32_t nkeys;
    double p_sync;    /* a single put or delete is synced */
    double p_delete;  /* single delete */
    double p_batch;   /* batch of 2..max_batch entries (deletes among them with p_delete) */
    double p_flush;   /* axs_flush */
    double p_compact; /* axs_compact */
    uint32_t max_batch;
    uint32_t pad_min, pad_max; /* pad length of values, uniform */
    double p_big;              /* a value gets big_pad bytes of pad instead */
    uint32_t big_pad;
} rel_mix;

/* Generates the next operation. *version is the global version counter (advanced by one per
 * entry); batch_id is stored in every value of the operation. Depends only on rng, *version
 * and batch_id, so a parent process can regenerate what a child did. */
void rel_gen_op(tu_rng *rng, const rel_mix *mix, uint64_t *version, uint64_t batch_id,
                rel_op *op);
/* Runs op on db; returns the engine's result. */
int rel_exec_op(axs_db *db, const rel_op *op);
/* Applies op's entries to state (flush and compact change nothing). */
void rel_apply_op(rel_slot *state, const rel_op *op);
/* The slot an entry leaves. */
void rel_entry_slot(const rel_op *op, const rel_entry *e, rel_slot *out);
const char *rel_op_str(const rel_op *op, char *buf, size_t len);

/* ---- the prefix check ---------------------------------------------------------------------- */

/* What is known about an operation of a history. */
enum rel_fate {
    REL_APPLIED,  /* acknowledged: part of the history */
    REL_MAYBE,    /* failed or interrupted: may or may not have reached the log */
    REL_EXCLUDED  /* failed cleanly (or refused) while the database went on: must not be there */
};

/*
 * Is observed[] (nkeys slots) the state after some prefix of ops[0..n) (starting from start[],
 * or an empty database if start is NULL), with at least the first min_ops operations in it? Excluded operations are never
 * applied; a maybe operation may be applied or not (each combination is tried when several
 * are followed by applied ones).
 * Returns the length of the matching prefix (>= min_ops), or -1; on -1, why says which keys
 * differ from the state after min_ops operations and from the final state. On a match, if
 * resolved is not NULL, resolved[i] (n entries) says whether operation i is in the matching
 * state (REL_APPLIED) or not (REL_EXCLUDED): the maybes decided, the lost ones out.
 */
long rel_prefix_match(const rel_op *ops, const int *fate, size_t n, size_t min_ops,
                      uint32_t nkeys, const rel_slot *start, const rel_slot *observed, char *why,
                      size_t why_len, int *resolved);

/* ---- diagnostics --------------------------------------------------------------------------- */

/* Describes the trial in progress; printed if the process crashes or hangs. */
void rel_trial(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Installs the crash reporter (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT; the sanitizers' death
 * callback under ASan) and the hang reporter (SIGALRM). Idempotent. */
void rel_install_reporters(void);
/* Arms (seconds > 0) or cancels (0) the hang watchdog: if it expires the trial is printed and
 * the process exits with status 124. */
void rel_watchdog(unsigned seconds);

/* Collects failures of a test so that it can report many of them (with a cap on the detail
 * printed) and fail once at the end. */
typedef struct rel_failures {
    unsigned count;
    unsigned printed;
    unsigned max_print;
} rel_failures;
void rel_failure(rel_failures *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Environment: unsigned integer variable or def. */
uint64_t rel_env_u64(const char *name, uint64_t def);

#endif /* ALEXSTORAGE_REL_UTIL_H */
