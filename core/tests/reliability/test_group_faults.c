/*
 * test_group_faults.c: an I/O fault inside a commit group of several writers (group commit,
 * docs/concurrency.md; STYLE.md Tests 12).
 *
 * Several threads write at once on one handle, so the writer at the head of the queue commits
 * the others with its own records (db_submit). Each trial opens a fresh database on a fault_io
 * table whose syncs are slowed (fault_io_set_sync_delay, so that writers pile up behind the
 * one syncing and groups have several members), arms one one-shot fault a random number of
 * calls ahead, and lets the threads run a fixed list of synced puts and 3-entry batches,
 * every key written once:
 *
 *   write_eio, write_enospc, write_short   the fault hits a write_at: the append of a group,
 *                                          a segment header at roll-over, or a checkpoint;
 *   sync_eio, sync_lost                    the fault hits a sync (sync_lost also loses the
 *                                          file's unsynced data, fault_io.h).
 *
 * Checks:
 *  - every writer of the group that hit the fault gets the error, and the message it reads
 *    from axs_last_error in its own thread says what failed (an I/O error or a full disk);
 *  - on the open handle, reads return exactly the acknowledged writes: a failed write,
 *    whichever member of a group it was, leaves nothing in the index;
 *  - if the database goes on taking writes after the fault, no failed write is there after a
 *    reopen; if it refuses writes (a failed sync, db.h contract 3), every later write fails
 *    with AXS_EIO and a failed write may or may not be there after a reopen, but never half
 *    of a batch;
 *  - after close and reopen on the plain POSIX table, every acknowledged write is there with
 *    its exact value, and nothing else is;
 *  - over all trials, at least one fault failed a group of two or more writers at once
 *    (otherwise the test did not test what it is for; it reports the sizes it saw).
 *
 * ALEXSTORAGE_GROUP_TRIALS=<n> sets the number of trials of each case (default 24, scaled by
 * ALEXSTORAGE_TEST_SCALE, at least 16); ALEXSTORAGE_SEED replays a run. The test starts threads: it runs
 * under TSan in scripts/test.sh.
 */
#define _POSIX_C_SOURCE 200809L

#include "rel_util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_io.h"

enum {
    GF_THREADS = 6,
    GF_OPS = 24,       /* operations per thread and trial */
    GF_BATCH = 3,      /* entries of a batch; every third operation is one */
    GF_KEYS_PER_THREAD = GF_OPS * GF_BATCH,
    GF_NKEYS = GF_THREADS * GF_KEYS_PER_THREAD,
    GF_SYNC_DELAY_US = 600,
};

/* ---- the workload ------------------------------------------------------------------------- */

typedef struct gf_case {
    const char *name;
    fault_io_kind kind;   /* the call kind the fault hits */
    fault_io_fault fault;
} gf_case;

typedef struct gf_result {
    int rc;
    char msg[160]; /* axs_last_error in the writer's thread, when rc != 0 */
} gf_result;

typedef struct gf_trial {
    axs_db *db;
    atomic_int go;
    gf_result res[GF_THREADS][GF_OPS];
} gf_trial;

typedef struct gf_thread {
    gf_trial *t;
    uint32_t id;
} gf_thread;

/* Keys of thread th, operation i: one key for a put, GF_BATCH consecutive keys for a batch. */
static uint32_t gf_first_key(uint32_t th, uint32_t i)
{
    return th * GF_KEYS_PER_THREAD + i * GF_BATCH;
}
static bool gf_is_batch(uint32_t i)
{
    return i % 3 == 2;
}
static uint32_t gf_op_keys(uint32_t i)
{
    return gf_is_batch(i) ? GF_BATCH : 1;
}

static void gf_slot(uint32_t th, uint32_t i, uint32_t j, rel_slot *s)
{
    s->present = true;
    s->v = (rel_val){.key_id = gf_first_key(th, i) + j,
                     .version = 1,
                     .batch_id = gf_is_batch(i) ? 1 + th * GF_OPS + i : 0,
                     .batch_count = gf_is_batch(i) ? GF_BATCH : 0,
                     .pad_len = 40 + (th * 131 + i * 17) % 700};
}

static void *gf_writer(void *p)
{
    gf_thread *w = p;
    gf_trial *t = w->t;
    axs_write_options wo;
    axs_write_options_init(&wo);
    wo.sync = true;
    axs_batch *b = axs_batch_create();
    while (!atomic_load(&t->go))
        ;
    for (uint32_t i = 0; i < GF_OPS; i++) {
        gf_result *r = &t->res[w->id][i];
        char key[REL_KEY_MAX];
        int rc;
        if (!gf_is_batch(i)) {
            rel_slot s;
            gf_slot(w->id, i, 0, &s);
            size_t vl, kl = rel_key(key, s.v.key_id);
            uint8_t *v = rel_value_encode(&s.v, &vl);
            rc = axs_put(t->db, &wo, key, kl, v, vl);
            free(v);
        } else {
            axs_batch_clear(b);
            for (uint32_t j = 0; j < GF_BATCH; j++) {
                rel_slot s;
                gf_slot(w->id, i, j, &s);
                size_t vl, kl = rel_key(key, s.v.key_id);
                uint8_t *v = rel_value_encode(&s.v, &vl);
                axs_batch_put(b, key, kl, v, vl);
                free(v);
            }
            rc = axs_write(t->db, &wo, b);
        }
        r->rc = rc;
        if (rc)
            snprintf(r->msg, sizeof r->msg, "%s", axs_last_error(t->db));
    }
    axs_batch_destroy(b);
    return NULL;
}

/* ---- checks ------------------------------------------------------------------------------- */

typedef struct gf_totals {
    unsigned trials, faults_fired, trials_failed_writes, db_went_on, db_refused;
    unsigned max_group_failed;  /* most writers one fault failed */
    unsigned multi_member_hits; /* faults that failed >= 2 writers at once */
    uint64_t writes, failed_writes, commit_groups;
} gf_totals;

/* Compares the database with the model: want[k] for every acknowledged key (present), absent
 * for keys of writes that must not be there; keys of writes whose fate is open (maybe[k]) may
 * be either, but a batch only whole. */
static void gf_check_state(axs_db *db, const rel_slot *want, const bool *maybe, const char *when,
                           const char *trial, rel_failures *fails)
{
    static rel_slot got[GF_NKEYS];
    bool garbage = false;
    uint32_t bad = 0;
    char why[256];
    int rc = rel_read_state(db, GF_NKEYS, got, &garbage, &bad, why, sizeof why);
    if (rc || garbage) {
        rel_failure(fails, "%s: %s: reading the state failed (%d): %s", trial, when, rc, why);
        return;
    }
    for (uint32_t k = 0; k < GF_NKEYS; k++) {
        if (maybe[k] && got[k].present) {
            /* The write may have landed; then it must be exactly what was written. */
            rel_slot intended;
            uint32_t per = GF_KEYS_PER_THREAD, th = k / per, i = (k % per) / GF_BATCH;
            gf_slot(th, i, (k % per) % GF_BATCH, &intended);
            if (!rel_slot_equal(&got[k], &intended)) {
                char a[128], b[128];
                rel_failure(fails, "%s: %s: key %" PRIu32 " is %s, never written (wrote %s)",
                            trial, when, k, rel_slot_str(&got[k], a, sizeof a),
                            rel_slot_str(&intended, b, sizeof b));
            }
            continue;
        }
        if (maybe[k])
            continue;
        if (!rel_slot_equal(&got[k], &want[k])) {
            char a[128], b[128];
            rel_failure(fails, "%s: %s: key %" PRIu32 " is %s, want %s", trial, when, k,
                        rel_slot_str(&got[k], a, sizeof a), rel_slot_str(&want[k], b, sizeof b));
            return;
        }
    }
    /* A batch whose fate was open: all of it or none. */
    for (uint32_t th = 0; th < GF_THREADS; th++)
        for (uint32_t i = 0; i < GF_OPS; i++) {
            if (!gf_is_batch(i) || !maybe[gf_first_key(th, i)])
                continue;
            unsigned n = 0;
            for (uint32_t j = 0; j < GF_BATCH; j++)
                n += got[gf_first_key(th, i) + j].present;
            if (n != 0 && n != GF_BATCH)
                rel_failure(fails, "%s: %s: %u of the %u entries of batch (thread %" PRIu32
                            ", op %" PRIu32 ") are there", trial, when, n, GF_BATCH, th, i);
        }
    rc = rel_check_iterator(db, GF_NKEYS, got, why, sizeof why);
    if (rc)
        rel_failure(fails, "%s: %s: iteration disagrees with gets: %s", trial, when, why);
}

static bool gf_io_message(const char *m)
{
    return strstr(m, "IO error") || strstr(m, "I/O") || strstr(m, "No space") ||
           strstr(m, "space");
}

static void gf_run_trial(const gf_case *c, uint64_t seed, gf_totals *tot, rel_failures *fails)
{
    tu_rng rng;
    tu_rng_init(&rng, seed);
    char trial[160];
    snprintf(trial, sizeof trial, "%s seed=%" PRIu64, c->name, seed);
    rel_trial("%s", trial);

    char *base = rel_mkdtemp("group_faults", true);
    size_t dl = strlen(base) + 8;
    char *dir = malloc(dl);
    snprintf(dir, dl, "%s/db", base);

    fault_io *fio = NULL;
    TU_REQUIRE(fault_io_create(&fio) == 0, "fault_io_create");
    fault_io_set_sync_delay(fio, GF_SYNC_DELAY_US);

    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = true;
    o.compaction_garbage_ratio = 0;
    o.segment_size = 64 << 10; /* roll-overs (segment headers, syncs) inside the workload */
    o.compression = tu_rng_below(&rng, 2) ? AXS_COMPRESSION_LZ4 : AXS_COMPRESSION_NONE;
    o.io = fault_io_table(fio);
    static gf_trial t;
    memset(&t, 0, sizeof t);
    char *err = NULL;
    int rc = axs_open(dir, &o, &t.db, &err);
    TU_REQUIRE(rc == AXS_OK, "%s: open: %s", trial, err ? err : axs_strerror(rc));
    free(err);
    axs_stats st0;
    axs_get_stats(t.db, &st0);

    /* Syncs: about one per group, so a few dozen in a trial; write_at: one per group plus
     * segment headers. Aim inside the busy middle of the run. */
    uint64_t nth = 2 + tu_rng_below(&rng, c->kind == FAULT_IO_SYNC ? 20 : 30);
    fault_io_arm(fio, c->kind, nth, c->fault, false);

    pthread_t th[GF_THREADS];
    gf_thread args[GF_THREADS];
    atomic_init(&t.go, 0);
    for (uint32_t i = 0; i < GF_THREADS; i++) {
        args[i] = (gf_thread){&t, i};
        TU_REQUIRE(pthread_create(&th[i], NULL, gf_writer, &args[i]) == 0, "pthread_create");
    }
    atomic_store(&t.go, 1);
    for (uint32_t i = 0; i < GF_THREADS; i++)
        pthread_join(th[i], NULL);
    bool fired = fault_io_fired(fio) > 0;
    fault_io_disarm(fio);

    /* Does the database still take writes? (A key outside the model.) */
    axs_write_options wo;
    axs_write_options_init(&wo);
    wo.sync = true;
    int probe = axs_put(t.db, &wo, "zz-probe", 8, "x", 1);
    bool went_on = probe == AXS_OK;
    if (!went_on && probe != AXS_EIO)
        rel_failure(fails, "%s: a write after the fault returned %s, want AXS_OK or AXS_EIO",
                    trial, axs_strerror(probe));
    if (went_on)
        axs_delete(t.db, &wo, "zz-probe", 8);

    static rel_slot want[GF_NKEYS];
    static bool maybe_after_reopen[GF_NKEYS], none_maybe[GF_NKEYS];
    memset(want, 0, sizeof want);
    memset(maybe_after_reopen, 0, sizeof maybe_after_reopen);
    memset(none_maybe, 0, sizeof none_maybe);
    unsigned failed = 0, hit = 0; /* hit: failed by the fault itself, not refused after it */
    for (uint32_t w = 0; w < GF_THREADS; w++)
        for (uint32_t i = 0; i < GF_OPS; i++) {
            const gf_result *r = &t.res[w][i];
            tot->writes++;
            if (r->rc == AXS_OK) {
                for (uint32_t j = 0; j < gf_op_keys(i); j++)
                    gf_slot(w, i, j, &want[gf_first_key(w, i) + j]);
                continue;
            }
            failed++;
            hit += strstr(r->msg, "failed earlier") == NULL;
            if (r->rc != AXS_EIO && r->rc != AXS_ENOSPC)
                rel_failure(fails, "%s: thread %" PRIu32 " op %" PRIu32 " failed with %s, want "
                            "AXS_EIO or AXS_ENOSPC", trial, w, i, axs_strerror(r->rc));
            if (!gf_io_message(r->msg))
                rel_failure(fails, "%s: thread %" PRIu32 " op %" PRIu32 " failed (%s) with "
                            "message \"%s\", which does not name the I/O error", trial, w, i,
                            axs_strerror(r->rc), r->msg);
            if (!went_on)
                for (uint32_t j = 0; j < gf_op_keys(i); j++)
                    maybe_after_reopen[gf_first_key(w, i) + j] = true;
        }
    if (!fired && failed)
        rel_failure(fails, "%s: %u writes failed but the fault never fired", trial, failed);
    tot->trials++;
    tot->faults_fired += fired;
    tot->failed_writes += failed;
    if (failed) {
        /* One one-shot fault: the writes it failed were one commit group; the writes after it
         * were refused ("failed earlier") if the database stopped taking writes. */
        tot->trials_failed_writes++;
        if (hit > tot->max_group_failed)
            tot->max_group_failed = hit;
        tot->multi_member_hits += hit >= 2;
        if (went_on && hit != failed)
            rel_failure(fails, "%s: the database went on, yet %u writes were refused as after "
                        "a failure", trial, failed - hit);
    }
    tot->db_went_on += went_on;
    tot->db_refused += !went_on;

    /* On the handle: read your writes; nothing of a failed write is visible. */
    gf_check_state(t.db, want, none_maybe, "on the open handle", trial, fails);
    axs_stats st1;
    axs_get_stats(t.db, &st1);
    tot->commit_groups += st1.commit_groups - st0.commit_groups;
    if (!went_on) {
        /* A failed sync: the database refuses writes until closed (db.h contract 3). */
        axs_batch *b = axs_batch_create();
        axs_batch_put(b, "zz-after", 8, "y", 1);
        int r1 = axs_write(t.db, &wo, b);
        axs_batch_destroy(b);
        if (r1 != AXS_EIO)
            rel_failure(fails, "%s: a batch after the database failed returned %s, want "
                        "AXS_EIO", trial, axs_strerror(r1));
    }
    axs_close(t.db); /* may report the earlier failure; it must release everything */

    /* Reopen on the plain table: acknowledged writes are there exactly; a failed write is
     * gone if the database went on, and may be there (whole) if it had refused writes. */
    axs_options ro;
    axs_options_init(&ro);
    ro.paranoid_checks = true;
    ro.compaction_garbage_ratio = 0;
    axs_db *db = NULL;
    err = NULL;
    rc = axs_open(dir, &ro, &db, &err);
    if (rc) {
        rel_failure(fails, "%s: reopen failed: %s", trial, err ? err : axs_strerror(rc));
    } else {
        gf_check_state(db, want, maybe_after_reopen, "after reopen", trial, fails);
        int r2 = axs_put(db, &wo, "zz-final", 8, "z", 1);
        if (r2)
            rel_failure(fails, "%s: a synced write after reopen failed: %s", trial,
                        axs_last_error(db));
        axs_close(db);
    }
    free(err);
    fault_io_destroy(fio);
    rel_rmtree(base);
    free(base);
    free(dir);
}

static void gf_run_case(const gf_case *c)
{
    uint64_t seed = tu_seed(c->name);
    rel_install_reporters();
    unsigned trials = (unsigned)rel_env_u64("ALEXSTORAGE_GROUP_TRIALS", 0);
    if (!trials)
        trials = (unsigned)tu_scaled(24, 16); /* 16: about half the faults hit a group of 2+ */
    rel_failures fails = {.max_print = (unsigned)rel_env_u64("ALEXSTORAGE_REL_MAX_PRINT", 20)};
    gf_totals tot = {0};
    tu_rng rng;
    tu_rng_init(&rng, seed);
    rel_watchdog(600);
    for (unsigned i = 0; i < trials; i++)
        gf_run_trial(c, tu_rng_next(&rng), &tot, &fails);
    rel_watchdog(0);
    fprintf(stderr,
            "[ FIGURES  ] %s: %u trials, %u faults fired, %" PRIu64 " writes in %" PRIu64
            " commit groups (%.2f acknowledged writes a group), %" PRIu64 " writes failed; trials with a "
            "failed write: %u (database went on: %u, refused writes: %u); faults that failed "
            "2+ writers of one group: %u, largest such group: %u; %u failures\n",
            c->name, tot.trials, tot.faults_fired, tot.writes, tot.commit_groups,
            tot.commit_groups ? (double)(tot.writes - tot.failed_writes) / (double)tot.commit_groups
                              : 0.0,
            tot.failed_writes, tot.trials_failed_writes, tot.db_went_on, tot.db_refused,
            tot.multi_member_hits, tot.max_group_failed, fails.count);
    TU_REQUIRE(fails.count == 0, "%s: %u failures (first ones printed above) [seed=%" PRIu64 "]",
               c->name, fails.count, seed);
    TU_REQUIRE(tot.faults_fired > 0, "%s: no fault fired in %u trials [seed=%" PRIu64 "]",
               c->name, tot.trials, seed);
    TU_REQUIRE(tot.multi_member_hits > 0, "%s: no fault failed a group of two or more writers "
               "in %u trials (largest: %u) [seed=%" PRIu64 "]", c->name, tot.trials,
               tot.max_group_failed, seed);
}

static void test_write_eio(void **state)
{
    (void)state;
    static const gf_case c = {"write_eio", FAULT_IO_WRITE_AT, FAULT_IO_EIO};
    gf_run_case(&c);
}

static void test_write_enospc(void **state)
{
    (void)state;
    static const gf_case c = {"write_enospc", FAULT_IO_WRITE_AT, FAULT_IO_ENOSPC};
    gf_run_case(&c);
}

static void test_write_short(void **state)
{
    (void)state;
    static const gf_case c = {"write_short", FAULT_IO_WRITE_AT, FAULT_IO_SHORT_WRITE};
    gf_run_case(&c);
}

static void test_sync_eio(void **state)
{
    (void)state;
    static const gf_case c = {"sync_eio", FAULT_IO_SYNC, FAULT_IO_EIO};
    gf_run_case(&c);
}

static void test_sync_lost(void **state)
{
    (void)state;
    static const gf_case c = {"sync_lost", FAULT_IO_SYNC, FAULT_IO_SYNC_LOST};
    gf_run_case(&c);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_eio),  cmocka_unit_test(test_write_enospc),
        cmocka_unit_test(test_write_short), cmocka_unit_test(test_sync_eio),
        cmocka_unit_test(test_sync_lost),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
