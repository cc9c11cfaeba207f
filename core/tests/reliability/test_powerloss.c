/*
 * test_powerloss.c: power loss at random points, simulated by fault_io (core/tests/io/fault_io.h;
 * LevelDB's fault-injection test that drops unsynced data, STYLE.md Tests 12).
 *
 * Each point: a fresh database on a fault_io table (64 KiB segments, LZ4 on or off at random)
 * runs a seeded random workload of synced and buffered puts, deletes, write batches of 2-20
 * entries, axs_flush and axs_compact, with values up to 20 KiB so segments roll over. The
 * workload stops at a random place, either between two operations (fault_io_crash) or inside
 * one (a sticky EIO armed a few calls ahead: nothing after that call reaches the disk). The
 * handle is closed (every call fails), then fault_io_power_loss puts the files into their
 * durable state: FAULT_IO_DROP_UNSYNCED (unsynced data and directory changes vanish) or
 * FAULT_IO_TORN_TAIL (as drop, but a random prefix of the appended bytes survives and the rest
 * of its 4 KiB page is garbage). The database is then reopened on the plain POSIX table:
 *
 *  - the open succeeds with paranoid_checks (power loss is never corruption);
 *  - the state is exactly the state after some prefix of the operations (so no batch is half
 *    there and no value appears that was not written), and that prefix holds every operation
 *    up to the last put/delete/batch acknowledged with sync = true and the last successful
 *    axs_flush (rel_prefix_match);
 *  - iteration agrees; the database takes a synced write, closes and reopens with it.
 *
 * Cases:
 *   drop, torn     the two loss modes, >= 150 points each;
 *   after_fault    first a one-shot fault (EIO, ENOSPC, short write or lost sync) at a random
 *                  call, the workload goes on, then the power loss. An operation that failed
 *                  while the database stayed usable must be absent afterwards (it was rolled
 *                  back); one after which the database refused writes may be either way;
 *   compaction_fault  the one-shot fault hits a call of an axs_compact; writes go on after
 *                  the failed compaction, then the power loss;
 *   double         after the power loss the reopen itself is interrupted at a random call and
 *                  power is lost again before the final check.
 * ALEXSTORAGE_POWERLOSS_POINTS=<n> sets the points of every case; ALEXSTORAGE_SEED replays a
 * case; ALEXSTORAGE_PL_POINT=<point seed> replays one point (printed with every failure), and
 * ALEXSTORAGE_PL_TRACE=1 prints every I/O call of it.
 */
#define _XOPEN_SOURCE 700

#include "rel_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_io.h"

typedef struct pl_cfg {
    const char *name;
    int mode;          /* FAULT_IO_DROP_UNSYNCED, FAULT_IO_TORN_TAIL, or -1 for either */
    unsigned points;   /* default, scaled by ALEXSTORAGE_TEST_SCALE */
    unsigned max_ops;
    bool fault_first;  /* a one-shot fault before the power loss */
    bool double_crash; /* interrupt the recovery and lose power again */
    bool fault_in_compact; /* the one-shot fault hits an axs_compact; writes follow it */
} pl_cfg;

static const rel_mix pl_mix = {.nkeys = 200, .p_sync = 0.15, .p_delete = 0.1, .p_batch = 0.15,
                               .p_flush = 0.02, .p_compact = 0.01, .max_batch = 20,
                               .pad_min = 0, .pad_max = 1500, .p_big = 0.03, .big_pad = 20000};

typedef struct pl_run {
    const pl_cfg *cfg;
    uint64_t seed;
    rel_failures fails;
    char *base;
    char *dir;
    /* figures */
    uint64_t points, ops, crashes_inside_op, drop, torn, prefix_full, prefix_short, lost_ops,
        faults_fired, faults_failed_op, faults_db_failed, double_crashes, opens_interrupted,
        compactions, flushes;
} pl_run;

static bool is_write(const rel_op *op)
{
    return op->kind == REL_OP_PUT || op->kind == REL_OP_DELETE || op->kind == REL_OP_BATCH;
}

static const char *fault_name(int f)
{
    static const char *n[] = {"EIO", "ENOSPC", "short write", "lost sync"};
    return f >= 0 && f < 4 ? n[f] : "?";
}

#define PL_FAIL(...)                                                                               \
    do {                                                                                           \
        char m_[3072];                                                                             \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                      \
        rel_failure(&pr->fails, "%s seed=%" PRIu64 " point %" PRIu64 " (%s): %s", cfg->name,     \
                    pr->seed, pr->points, desc, m_);                                               \
        goto out;                                                                                  \
    } while (0)

static void one_point(pl_run *pr, uint64_t pseed)
{
    const pl_cfg *cfg = pr->cfg;
    tu_rng rng;
    tu_rng_init(&rng, pseed);
    rel_rmtree(pr->dir);
    int compression = tu_rng_below(&rng, 2) ? AXS_COMPRESSION_LZ4 : AXS_COMPRESSION_NONE;
    unsigned nops = 1 + (unsigned)tu_rng_below(&rng, cfg->max_ops);
    bool inside = tu_rng_below(&rng, 2) == 0;
    unsigned crash_op = inside ? (unsigned)tu_rng_below(&rng, nops) : nops;
    unsigned crash_ahead = 1 + (unsigned)tu_rng_below(&rng, 12);
    int mode = cfg->mode >= 0 ? cfg->mode
                              : (tu_rng_below(&rng, 2) ? FAULT_IO_TORN_TAIL : FAULT_IO_DROP_UNSYNCED);
    unsigned fault_op = cfg->fault_first ? (unsigned)tu_rng_below(&rng, crash_op + 1) : UINT32_MAX;
    int fault_kind = (int)tu_rng_below(&rng, 4);
    unsigned fault_ahead = 1 + (unsigned)tu_rng_below(&rng, 8);
    if (cfg->fault_in_compact) {
        if (nops < 40)
            nops = 40 + (unsigned)tu_rng_below(&rng, 40);
        fault_op = 10 + (unsigned)tu_rng_below(&rng, nops / 2);
        fault_ahead = 1 + (unsigned)tu_rng_below(&rng, 30);
        if (crash_op <= fault_op + 1)
            crash_op = inside ? fault_op + 2 + (unsigned)tu_rng_below(&rng, nops - fault_op - 1)
                              : nops;
    }
    char desc[256];
    char fdesc[64] = "no fault";
    if (cfg->fault_first)
        snprintf(fdesc, sizeof fdesc, "%s %u calls into op %u", fault_name(fault_kind),
                 fault_ahead, fault_op);
    snprintf(desc, sizeof desc,
             "point seed %" PRIu64 ": %u ops, %s %u%s, %s, %s", pseed, nops,
             inside ? "crash inside op" : "crash after op", inside ? crash_op : nops - 1,
             compression ? ", lz4" : "", mode == FAULT_IO_TORN_TAIL ? "torn tail" : "drop unsynced",
             fdesc);
    rel_trial("%s seed=%" PRIu64 " point %" PRIu64 " (%s)", cfg->name, pr->seed, pr->points, desc);
    rel_watchdog(120);

    rel_op *ops = calloc(nops, sizeof *ops);
    int *fate = calloc(nops, sizeof *fate);
    rel_slot *obs = calloc(pl_mix.nkeys, sizeof *obs);
    assert_true(ops && fate && obs);
    fault_io *fio = NULL;
    assert_int_equal(fault_io_create(&fio), 0);
    fault_io_skip_real_sync(fio, true);
    if (rel_env_u64("ALEXSTORAGE_PL_TRACE", 0))
        fault_io_set_trace(fio, stderr);
    const axs_io *io = fault_io_table(fio);
    axs_db *db = NULL;
    char *err = NULL;
    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = true;
    o.segment_size = 64 * 1024;
    o.compression = compression;
    o.compaction_garbage_ratio = 0.25; /* power can go during a background pass too */
    o.io = io;
    int rc = axs_open(pr->dir, &o, &db, &err);
    if (rc)
        PL_FAIL("open on the fault table failed: %s (%s)", axs_strerror(rc), err ? err : "");

    uint64_t version = 0;
    size_t n = 0, durable = 0;
    long pending = -1; /* a write that failed after the one-shot fault: fate decided later */
    bool db_failed = false, crash_armed = false, fault_armed = false;
    for (unsigned i = 0; i < nops; i++) {
        if (i == fault_op && !fault_armed) {
            fault_io_arm(fio, FAULT_IO_ANY, fault_ahead, (fault_io_fault)fault_kind, false);
            fault_armed = true;
        }
        if (i == crash_op && !crash_armed) {
            if (fault_armed && fault_io_fired(fio))
                pr->faults_fired++;
            fault_io_arm(fio, FAULT_IO_ANY, crash_ahead, FAULT_IO_EIO, true);
            crash_armed = true;
        }
        rel_op *op = &ops[n];
        rel_gen_op(&rng, &pl_mix, &version, i + 1, op);
        if (cfg->fault_in_compact && i == fault_op) {
            memset(op, 0, sizeof *op);
            op->kind = REL_OP_COMPACT;
        }
        uint64_t fired_before = fault_armed && !crash_armed ? fault_io_fired(fio) : 0;
        rc = rel_exec_op(db, op);
        n++;
        pr->ops++;
        if (rc == AXS_OK) {
            fate[n - 1] = REL_APPLIED;
            if (pending >= 0) { /* the database went on after the failed write */
                fate[pending] = REL_EXCLUDED;
                pending = -1;
            }
            if ((is_write(op) && op->sync) || op->kind == REL_OP_FLUSH)
                durable = n;
            pr->compactions += op->kind == REL_OP_COMPACT;
            pr->flushes += op->kind == REL_OP_FLUSH;
            continue;
        }
        if (crash_armed) { /* the simulated process is dead */
            fate[n - 1] = REL_MAYBE;
            pr->crashes_inside_op++;
            break;
        }
        /* a failure from the one-shot fault, or from the failed state it left */
        bool fired_now = fault_armed && fault_io_fired(fio) > fired_before;
        if (fired_now)
            pr->faults_failed_op++;
        if (!is_write(op)) {
            fate[n - 1] = REL_APPLIED; /* flush and compact change no key */
            continue;
        }
        if (fired_now) {
            fate[n - 1] = REL_MAYBE;
            pending = (long)(n - 1);
        } else {
            /* refused: the database failed earlier (pending stays maybe) */
            if (rc != AXS_EIO && rc != AXS_ENOSPC)
                PL_FAIL("a write after the fault failed with %s, not the failed state's code",
                        axs_strerror(rc));
            fate[n - 1] = REL_EXCLUDED;
            if (!db_failed)
                pr->faults_db_failed++;
            db_failed = true;
        }
    }
    if (!crash_armed || !fault_io_fired(fio))
        fault_io_crash(fio);
    axs_close(db); /* fails: the table is dead; releases everything */
    db = NULL;
    rc = fault_io_power_loss(fio, (fault_io_loss)mode, pseed);
    if (rc)
        PL_FAIL("fault_io_power_loss failed: %s", strerror(-rc));
    mode == FAULT_IO_TORN_TAIL ? pr->torn++ : pr->drop++;

    if (cfg->double_crash) { /* interrupt the recovery, then lose power again */
        fault_io_arm(fio, FAULT_IO_ANY, 1 + tu_rng_below(&rng, 40), FAULT_IO_EIO, true);
        axs_options o2 = o;
        o2.create_if_missing = false;
        rc = axs_open(pr->dir, &o2, &db, &err);
        free(err);
        err = NULL;
        if (rc == AXS_OK) {
            fault_io_crash(fio);
            axs_close(db);
            db = NULL;
        } else {
            pr->opens_interrupted++;
        }
        rc = fault_io_power_loss(fio, (fault_io_loss)(tu_rng_below(&rng, 2) ? FAULT_IO_TORN_TAIL
                                                                            : FAULT_IO_DROP_UNSYNCED),
                                 pseed ^ 0xd0b1e);
        if (rc)
            PL_FAIL("second fault_io_power_loss failed: %s", strerror(-rc));
        pr->double_crashes++;
    }
    fault_io_destroy(fio);
    fio = NULL;

    /* the check, on the plain POSIX table */
    axs_options_init(&o);
    o.paranoid_checks = true;
    o.segment_size = 64 * 1024;
    o.compression = compression;
    rc = axs_open(pr->dir, &o, &db, &err);
    if (rc)
        PL_FAIL("reopen after power loss failed: %s (%s)", axs_strerror(rc), err ? err : "");
    bool garbage;
    uint32_t bad;
    char why[2048];
    rc = rel_read_state(db, pl_mix.nkeys, obs, &garbage, &bad, why, sizeof why);
    if (rc)
        PL_FAIL("%s", why);
    long k = rel_prefix_match(ops, fate, n, durable, pl_mix.nkeys, NULL, obs, why, sizeof why,
                              NULL);
    if (k < 0)
        PL_FAIL("%s (last durable point after op %zu)", why, durable);
    if ((size_t)k == n)
        pr->prefix_full++;
    else
        pr->prefix_short++;
    for (size_t i = (size_t)k; i < n; i++)
        pr->lost_ops += fate[i] == REL_APPLIED && is_write(&ops[i]);
    if (rel_check_iterator(db, pl_mix.nkeys, obs, why, sizeof why) != 0)
        PL_FAIL("%s", why);
    {
        rel_op op;
        rel_mix m = pl_mix;
        m.p_flush = m.p_compact = m.p_batch = m.p_delete = 0;
        m.p_sync = 1;
        rel_gen_op(&rng, &m, &version, nops + 1, &op);
        rc = rel_exec_op(db, &op);
        if (rc)
            PL_FAIL("a synced put after recovery failed: %s (%s)", axs_strerror(rc),
                    axs_last_error(db));
        rel_apply_op(obs, &op);
    }
    rc = axs_close(db);
    db = NULL;
    if (rc)
        PL_FAIL("close after recovery failed: %s", axs_strerror(rc));
    rc = axs_open(pr->dir, &o, &db, &err);
    if (rc)
        PL_FAIL("second reopen failed: %s (%s)", axs_strerror(rc), err ? err : "");
    if (rel_check_iterator(db, pl_mix.nkeys, obs, why, sizeof why) != 0)
        PL_FAIL("after the second reopen: %s", why);
out:
    if (db)
        axs_close(db);
    fault_io_destroy(fio);
    free(err);
    free(ops);
    free(fate);
    free(obs);
    rel_watchdog(0);
}

static void powerloss_case(const pl_cfg *cfg, const char *test_name)
{
    rel_install_reporters();
    pl_run pr;
    memset(&pr, 0, sizeof pr);
    pr.cfg = cfg;
    pr.seed = tu_seed(test_name);
    pr.fails.max_print = 20;
    pr.base = rel_mkdtemp("powerloss", true);
    size_t dl = strlen(pr.base) + 8;
    pr.dir = tu_xmalloc(dl);
    snprintf(pr.dir, dl, "%s/db", pr.base);
    tu_rng rng;
    tu_rng_init(&rng, pr.seed);
    unsigned points = (unsigned)rel_env_u64("ALEXSTORAGE_POWERLOSS_POINTS",
                                            tu_scaled(cfg->points, 20));
    uint64_t t0 = tu_now_ns();
    uint64_t only = rel_env_u64("ALEXSTORAGE_PL_POINT", 0);
    if (only)
        points = 1;
    for (unsigned i = 0; i < points; i++) {
        one_point(&pr, only ? only : tu_rng_next(&rng));
        pr.points++;
    }
    fprintf(stderr,
            "[ POWERLOSS] %s seed=%" PRIu64 ": %" PRIu64 " power-loss points (%" PRIu64
            " drop unsynced, %" PRIu64 " torn tail; %" PRIu64 " inside an operation), %" PRIu64
            " operations (%" PRIu64 " flushes, %" PRIu64 " compactions); recovered state = all "
            "operations %" PRIu64 " times, a shorter prefix %" PRIu64 " times (%" PRIu64
            " acknowledged unsynced writes lost)",
            cfg->name, pr.seed, pr.points, pr.drop, pr.torn, pr.crashes_inside_op, pr.ops,
            pr.flushes, pr.compactions, pr.prefix_full, pr.prefix_short, pr.lost_ops);
    if (cfg->fault_first)
        fprintf(stderr, "; one-shot faults failed an operation %" PRIu64
                        " times, left the database refusing writes %" PRIu64 " times",
                pr.faults_failed_op, pr.faults_db_failed);
    if (cfg->double_crash)
        fprintf(stderr, "; %" PRIu64 " recoveries interrupted (%" PRIu64 " inside the open)",
                pr.double_crashes, pr.opens_interrupted);
    fprintf(stderr, "; %u failures; %.1f s\n", pr.fails.count, (double)(tu_now_ns() - t0) * 1e-9);
    unsigned fails = pr.fails.count;
    rel_rmtree(pr.base);
    free(pr.base);
    free(pr.dir);
    TU_REQUIRE(fails == 0, "%u power-loss points failed (seed %" PRIu64 "; first ones above)",
               fails, pr.seed);
}

static void test_powerloss_drop(void **state)
{
    (void)state;
    static const pl_cfg cfg = {"drop", FAULT_IO_DROP_UNSYNCED, 300, 300, false, false, false};
    powerloss_case(&cfg, __func__);
}

static void test_powerloss_torn(void **state)
{
    (void)state;
    static const pl_cfg cfg = {"torn", FAULT_IO_TORN_TAIL, 300, 300, false, false, false};
    powerloss_case(&cfg, __func__);
}

static void test_powerloss_after_fault(void **state)
{
    (void)state;
    static const pl_cfg cfg = {"after_fault", -1, 250, 300, true, false, false};
    powerloss_case(&cfg, __func__);
}

static void test_powerloss_after_compaction_fault(void **state)
{
    (void)state;
    static const pl_cfg cfg = {"compaction_fault", -1, 250, 150, true, false, true};
    powerloss_case(&cfg, __func__);
}

static void test_powerloss_double(void **state)
{
    (void)state;
    static const pl_cfg cfg = {"double", -1, 150, 200, false, true, false};
    powerloss_case(&cfg, __func__);
}

/* Points that failed once, kept as named regressions (STYLE.md, Tests 13). Each replays one
 * point of a case by its point seed; the engine may since take other paths through them, but
 * they stay fixed scenarios. */
static void test_powerloss_regressions(void **state)
{
    (void)state;
    static const pl_cfg after_fault = {"after_fault", -1, 1, 300, true, false, false};
    static const pl_cfg compaction_fault = {"compaction_fault", -1, 1, 150, true, false, true};
    static const struct {
        const pl_cfg *cfg;
        uint64_t point;
        const char *what;
    } regs[] = {
        /* a failed segment creation left the file behind, not durably removed: after power
         * loss it came back and made the torn tail of the previous segment "mid-log" */
        {&after_fault, 17028486734921303017u, "failed roll-over, resurrected empty segment"},
        {&compaction_fault, 1424893053209477660u, "failed compaction output, resurrected"},
        {&compaction_fault, 4390238519266982314u, "ENOSPC in compaction output, resurrected"},
        {&compaction_fault, 5666711612385757703u, "failed later compaction output"},
        {&compaction_fault, 14734793886244459200u, "records appended after a SEAL"},
        /* a checkpoint written while the active segment was sealed (its successor could not
         * be created) put the replay position after the SEAL: "no seal record" at open */
        {&after_fault, 10737327603958225687u, "flush after a failed roll-over"},
        {&compaction_fault, 16679390982295377440u, "flush after a failed compaction (lost sync)"},
        {&compaction_fault, 12843050410476125231u, "flush after a failed compaction (short write)"},
        /* a compaction after a failed roll-over sealed the already sealed active segment
         * again: a second SEAL after the first, torn by the power loss, in a segment that the
         * resurrected successor made non-last (found by a 3000-point run) */
        {&after_fault, 9342480801677050168u, "compaction after a failed roll-over (second SEAL)"},
    };
    rel_install_reporters();
    unsigned fails = 0;
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        pl_run pr;
        memset(&pr, 0, sizeof pr);
        pr.cfg = regs[i].cfg;
        pr.seed = 0;
        pr.fails.max_print = 5;
        pr.base = rel_mkdtemp("powerloss-reg", true);
        size_t dl = strlen(pr.base) + 8;
        pr.dir = tu_xmalloc(dl);
        snprintf(pr.dir, dl, "%s/db", pr.base);
        one_point(&pr, regs[i].point);
        fprintf(stderr, "[ REGRESS  ] %s point %" PRIu64 " (%s): %s\n", regs[i].cfg->name,
                regs[i].point, regs[i].what, pr.fails.count ? "FAILED" : "ok");
        fails += pr.fails.count;
        rel_rmtree(pr.base);
        free(pr.base);
        free(pr.dir);
    }
    TU_REQUIRE(fails == 0, "%u regression points failed", fails);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_powerloss_drop),
        cmocka_unit_test(test_powerloss_torn),
        cmocka_unit_test(test_powerloss_after_fault),
        cmocka_unit_test(test_powerloss_after_compaction_fault),
        cmocka_unit_test(test_powerloss_double),
        cmocka_unit_test(test_powerloss_regressions),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
