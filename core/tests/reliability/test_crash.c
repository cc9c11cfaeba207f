/*
 * test_crash.c: crash loops with real processes (STYLE.md, Tests 12).
 *
 * Each iteration forks a child that opens the database (real files, the POSIX I/O table) and
 * runs a seeded random workload: synced and buffered puts, deletes, write batches of 2-20
 * entries, and (per case) flushes and compactions. After each call returns AXS_OK the child
 * writes an acknowledgement to a pipe. The parent sleeps a random 1-30 ms (reading the pipe
 * meanwhile), SIGKILLs the child, drains the pipe, and reopens the database itself:
 *
 *  - the open succeeds with paranoid_checks (a torn last write is not corruption);
 *  - every acknowledged write is there with its value, buffered ones included: they reached
 *    the operating system before the call returned, and a process crash cannot lose them
 *    (db.h contract 5);
 *  - the one operation that may have been in flight when the kill came is either wholly there
 *    or wholly absent: a batch is all-or-nothing (each value carries its batch id and entry
 *    count, rel_util.h);
 *  - no value that was never written, no key that was never written (iteration checked too);
 *  - the database keeps working: the parent writes a batch and a synced put, closes, reopens
 *    and checks everything again.
 *
 * The child regenerates nothing the parent does not know: operations depend only on the
 * iteration's seed and the global version counter, so the parent replays the generator to
 * learn what the acknowledged operations (and the one in flight) were.
 *
 * Cases: a mixed workload (>= 200 iterations), a compaction-heavy one (kills land inside
 * axs_compact; counted through a "compaction begins" message) and a roll-over-heavy one with
 * 64 KiB segments and values of several KiB (kills land inside a segment roll-over; counted
 * when more segment files exist after the kill than the last acknowledgement reported).
 * ALEXSTORAGE_CRASH_ITERS=<n> sets the iterations of every case (e.g. 2000 for a long run);
 * ALEXSTORAGE_SEED replays one (timing still varies). Databases live under TMPDIR (a real
 * disk), except the compaction case's, on /dev/shm where syncs are free, so that compactions
 * complete as well as get killed (on a disk one takes longer than the 30 ms window).
 */
#define _XOPEN_SOURCE 700

#include "rel_util.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- messages from the child ----------------------------------------------------------------- */

enum { M_READY = 1, M_ACK, M_BEGIN_COMPACT, M_ERROR, M_DONE };

typedef struct msg {
    uint32_t kind;
    int32_t rc;
    uint64_t op;       /* operation index */
    uint64_t segments; /* M_ACK: segments the database has after the operation */
    char text[40];
} msg;

static void send_msg(int fd, uint32_t kind, int rc, uint64_t op, uint64_t segments,
                     const char *text)
{
    msg m;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.rc = rc;
    m.op = op;
    m.segments = segments;
    if (text)
        snprintf(m.text, sizeof m.text, "%s", text);
    const char *p = (const char *)&m;
    size_t left = sizeof m; /* < PIPE_BUF: one atomic write */
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(9);
        p += w;
        left -= (size_t)w;
    }
}

/* ---- configuration --------------------------------------------------------------------------- */

typedef struct crash_cfg {
    const char *name;
    rel_mix mix;
    uint64_t segment_size;
    int compression;
    unsigned iters;       /* default iterations */
    unsigned fresh_every; /* a new database every n iterations */
    unsigned max_ops;     /* per child, to bound the database's growth */
    double p_early_kill;  /* kill 0-2 ms after fork, without waiting for the open */
    bool want_compact_kills, want_rollover_kills; /* assert that some kills landed there */
    bool in_memory; /* /dev/shm: syncs cost nothing, so compactions also complete */
} crash_cfg;

/* ---- the child --------------------------------------------------------------------------------- */

static void child_main(int wfd, const char *dir, const crash_cfg *cfg, uint64_t seed,
                       uint64_t version, uint64_t batch_base)
{
    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = true;
    o.segment_size = cfg->segment_size;
    o.compression = cfg->compression;
    /* Background compaction on, and eager: kills also land inside its passes (issue 7). */
    o.compaction_garbage_ratio = 0.25;
    axs_db *db = NULL;
    char *err = NULL;
    int rc = axs_open(dir, &o, &db, &err);
    if (rc) {
        send_msg(wfd, M_ERROR, rc, UINT64_MAX, 0, err ? err : "open");
        _exit(2);
    }
    send_msg(wfd, M_READY, 0, 0, 0, NULL);
    tu_rng rng;
    tu_rng_init(&rng, seed);
    for (uint64_t i = 0; i < cfg->max_ops; i++) {
        rel_op op;
        rel_gen_op(&rng, &cfg->mix, &version, batch_base + i, &op);
        if (op.kind == REL_OP_COMPACT)
            send_msg(wfd, M_BEGIN_COMPACT, 0, i, 0, NULL);
        rc = rel_exec_op(db, &op);
        if (rc) {
            send_msg(wfd, M_ERROR, rc, i, 0, axs_last_error(db));
            _exit(3);
        }
        axs_stats st;
        axs_get_stats(db, &st);
        send_msg(wfd, M_ACK, 0, i, st.segments, NULL);
    }
    send_msg(wfd, M_DONE, 0, cfg->max_ops, 0, NULL);
    /* Wait for the kill rather than closing: the parent treats every iteration as a crash. */
    for (;;)
        pause();
}

/* ---- the parent -------------------------------------------------------------------------------- */

typedef struct crash_run {
    const crash_cfg *cfg;
    uint64_t seed;
    tu_rng rng;
    char *dir;
    rel_slot *model;
    uint64_t version, batch;
    rel_failures fails;
    /* figures */
    uint64_t iters, acked_ops, inflight_landed, inflight_absent, kills_in_compact,
        kills_in_rollover, early_kills, compactions_acked, children_done, syncs, batches;
} crash_run;

static uint64_t now_ms(void)
{
    return tu_now_ns() / 1000000u;
}

/* Reads whatever the pipe holds into buf (appending), waiting at most timeout_ms (-1: until
 * EOF). Returns false at EOF. */
static bool pump(int fd, msg **buf, size_t *n, size_t *cap, uint8_t *part, size_t *part_len,
                 int timeout_ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    int pr = poll(&pfd, 1, timeout_ms);
    if (pr <= 0)
        return true;
    uint8_t tmp[64 * 64];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r < 0)
        return errno == EINTR || errno == EAGAIN;
    if (r == 0)
        return false;
    for (ssize_t i = 0; i < r; i++) {
        part[(*part_len)++] = tmp[i];
        if (*part_len == sizeof(msg)) {
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 1024;
                *buf = realloc(*buf, *cap * sizeof **buf);
                assert_non_null(*buf);
            }
            memcpy(&(*buf)[(*n)++], part, sizeof(msg));
            *part_len = 0;
        }
    }
    return true;
}

static int count_segments(const char *dir)
{
    char **names;
    size_t n = rel_list_files(dir, &names);
    int segs = 0;
    for (size_t i = 0; i < n; i++)
        segs += strlen(names[i]) == 14 && strcmp(names[i] + 10, ".seg") == 0;
    rel_free_names(names, n);
    return segs;
}

static axs_db *open_checked(crash_run *cr, const char *when)
{
    axs_options o;
    axs_options_init(&o);
    o.create_if_missing = true;
    o.paranoid_checks = true;
    o.segment_size = cr->cfg->segment_size;
    o.compression = cr->cfg->compression;
    axs_db *db = NULL;
    char *err = NULL;
    int rc = axs_open(cr->dir, &o, &db, &err);
    if (rc) {
        rel_failure(&cr->fails, "%s seed=%" PRIu64 " iteration %" PRIu64 ": open %s failed: %s (%s)",
                    cr->cfg->name, cr->seed, cr->iters, when, axs_strerror(rc), err ? err : "");
        free(err);
        return NULL;
    }
    return db;
}

/* Compares the whole database with the model; the in-flight operation (if any) may be wholly
 * there. Returns true if consistent; *landed tells whether the in-flight operation is there. */
static bool verify(crash_run *cr, axs_db *db, const rel_op *inflight, bool *landed,
                   const char *when)
{
    uint32_t nkeys = cr->cfg->mix.nkeys;
    rel_slot *obs = calloc(nkeys, sizeof *obs);
    rel_slot *after = calloc(nkeys, sizeof *after);
    assert_true(obs && after);
    bool ok = true;
    char why[1024];
    bool garbage;
    uint32_t bad;
    int rc = rel_read_state(db, nkeys, obs, &garbage, &bad, why, sizeof why);
    *landed = false;
    if (rc) {
        rel_failure(&cr->fails, "%s seed=%" PRIu64 " iteration %" PRIu64 " (%s): %s",
                    cr->cfg->name, cr->seed, cr->iters, when, why);
        ok = false;
        goto out;
    }
    memcpy(after, cr->model, nkeys * sizeof *after);
    if (inflight)
        rel_apply_op(after, inflight);
    unsigned saw_before = 0, saw_after = 0;
    for (uint32_t k = 0; k < nkeys; k++) {
        bool differs = !rel_slot_equal(&cr->model[k], &after[k]);
        if (rel_slot_equal(&obs[k], &cr->model[k])) {
            saw_before += differs;
        } else if (differs && rel_slot_equal(&obs[k], &after[k])) {
            saw_after++;
        } else {
            char a[96], b[96], c[96], d[160] = "";
            if (inflight)
                rel_op_str(inflight, d, sizeof d);
            rel_failure(&cr->fails,
                        "%s seed=%" PRIu64 " iteration %" PRIu64 " (%s): key %" PRIu32
                        " is %s; acknowledged %s%s%s%s",
                        cr->cfg->name, cr->seed, cr->iters, when, k,
                        rel_slot_str(&obs[k], a, sizeof a),
                        rel_slot_str(&cr->model[k], b, sizeof b),
                        differs ? ", in-flight would make it " : "",
                        differs ? rel_slot_str(&after[k], c, sizeof c) : "",
                        inflight ? "" : " (no operation in flight)");
            ok = false;
            goto out;
        }
    }
    if (saw_before && saw_after) {
        char d[160];
        rel_failure(&cr->fails,
                    "%s seed=%" PRIu64 " iteration %" PRIu64 " (%s): the in-flight %s is half "
                    "there: %u of its keys applied, %u not",
                    cr->cfg->name, cr->seed, cr->iters, when, rel_op_str(inflight, d, sizeof d),
                    saw_after, saw_before);
        ok = false;
        goto out;
    }
    *landed = saw_after > 0;
    if (rel_check_iterator(db, nkeys, *landed ? after : cr->model, why, sizeof why) != 0) {
        rel_failure(&cr->fails, "%s seed=%" PRIu64 " iteration %" PRIu64 " (%s): %s",
                    cr->cfg->name, cr->seed, cr->iters, when, why);
        ok = false;
    }
out:
    free(obs);
    free(after);
    return ok;
}

/* The parent's own writes after recovery: a batch and a synced put. */
static bool write_more(crash_run *cr, axs_db *db)
{
    rel_mix mix = cr->cfg->mix;
    mix.p_flush = mix.p_compact = 0;
    for (int i = 0; i < 2; i++) {
        rel_op op;
        mix.p_batch = i == 0 ? 1.0 : 0.0;
        mix.p_delete = i == 0 ? 0.2 : 0.0;
        mix.p_sync = i == 0 ? 0.0 : 1.0;
        rel_gen_op(&cr->rng, &mix, &cr->version, ++cr->batch, &op);
        int rc = rel_exec_op(db, &op);
        if (rc) {
            rel_failure(&cr->fails, "%s seed=%" PRIu64 " iteration %" PRIu64
                        ": a write after recovery failed: %s (%s)",
                        cr->cfg->name, cr->seed, cr->iters, axs_strerror(rc), axs_last_error(db));
            return false;
        }
        rel_apply_op(cr->model, &op);
    }
    return true;
}

static void one_iteration(crash_run *cr)
{
    const crash_cfg *cfg = cr->cfg;
    uint64_t it_seed = tu_rng_next(&cr->rng);
    uint64_t version0 = cr->version;
    uint64_t batch_base = (cr->iters + 1) << 32;
    bool early = tu_rng_double(&cr->rng) < cfg->p_early_kill;
    unsigned sleep_ms = early ? (unsigned)tu_rng_below(&cr->rng, 3)
                              : 1 + (unsigned)tu_rng_below(&cr->rng, 30);
    rel_trial("%s seed=%" PRIu64 " iteration %" PRIu64 " (kill after %u ms%s)", cfg->name,
              cr->seed, cr->iters, sleep_ms, early ? ", early" : "");

    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        rel_watchdog(0);
        child_main(p[1], cr->dir, cfg, it_seed, version0, batch_base);
        _exit(0);
    }
    close(p[1]);
    msg *msgs = NULL;
    size_t nmsgs = 0, capmsgs = 0, part_len = 0;
    uint8_t part[sizeof(msg)];
    bool open_pipe = true;
    if (!early) { /* wait for the child's open, at most 30 s */
        uint64_t limit = now_ms() + 30000;
        while (open_pipe && now_ms() < limit) {
            bool ready = false;
            for (size_t i = 0; i < nmsgs; i++)
                ready |= msgs[i].kind == M_READY;
            if (ready)
                break;
            open_pipe = pump(p[0], &msgs, &nmsgs, &capmsgs, part, &part_len, 50);
        }
    } else {
        cr->early_kills++;
    }
    uint64_t deadline = now_ms() + sleep_ms;
    while (open_pipe) {
        uint64_t t = now_ms();
        if (t >= deadline)
            break;
        open_pipe = pump(p[0], &msgs, &nmsgs, &capmsgs, part, &part_len, (int)(deadline - t));
    }
    kill(pid, SIGKILL);
    while (open_pipe)
        open_pipe = pump(p[0], &msgs, &nmsgs, &capmsgs, part, &part_len, -1);
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }

    /* What did the child get done? */
    uint64_t acked = 0, last_segments = 0;
    bool done = false, in_compact = false;
    for (size_t i = 0; i < nmsgs; i++) {
        const msg *m = &msgs[i];
        if (m->kind == M_ACK) {
            if (m->op != acked) {
                rel_failure(&cr->fails, "%s: acknowledgements out of order", cfg->name);
                break;
            }
            acked++;
            last_segments = m->segments;
            in_compact = false;
        } else if (m->kind == M_BEGIN_COMPACT) {
            in_compact = true;
        } else if (m->kind == M_DONE) {
            done = true;
        } else if (m->kind == M_ERROR) {
            rel_failure(&cr->fails,
                        "%s seed=%" PRIu64 " iteration %" PRIu64 ": the child's %s failed: %s (%s)",
                        cfg->name, cr->seed, cr->iters,
                        m->op == UINT64_MAX ? "open" : "operation", axs_strerror(m->rc), m->text);
        }
    }
    free(msgs);
    cr->acked_ops += acked;
    if (in_compact && !done)
        cr->kills_in_compact++;
    if (done)
        cr->children_done++;

    /* Replay the generator: the acknowledged operations, and the one in flight. */
    tu_rng grng;
    tu_rng_init(&grng, it_seed);
    cr->version = version0;
    for (uint64_t i = 0; i < acked; i++) {
        rel_op op;
        rel_gen_op(&grng, &cfg->mix, &cr->version, batch_base + i, &op);
        rel_apply_op(cr->model, &op);
        cr->compactions_acked += op.kind == REL_OP_COMPACT;
        cr->syncs += op.sync;
        cr->batches += op.kind == REL_OP_BATCH;
    }
    rel_op inflight;
    bool have_inflight = !done; /* the operation after the last acknowledgement */
    if (have_inflight)
        rel_gen_op(&grng, &cfg->mix, &cr->version, batch_base + acked, &inflight);
    if (have_inflight && acked > 0 && inflight.kind != REL_OP_COMPACT &&
        count_segments(cr->dir) > (int)last_segments)
        cr->kills_in_rollover++;

    rel_watchdog(120);
    axs_db *db = open_checked(cr, "after the kill");
    if (!db)
        goto out;
    bool landed = false;
    if (!verify(cr, db, have_inflight ? &inflight : NULL, &landed, "after the kill")) {
        axs_close(db);
        goto out;
    }
    if (have_inflight && landed) {
        rel_apply_op(cr->model, &inflight);
        cr->inflight_landed++;
    } else if (have_inflight && inflight.n) {
        cr->inflight_absent++;
    }
    bool ok = write_more(cr, db);
    int rc = axs_close(db);
    if (rc) {
        rel_failure(&cr->fails, "%s seed=%" PRIu64 " iteration %" PRIu64 ": close failed: %s",
                    cfg->name, cr->seed, cr->iters, axs_strerror(rc));
        ok = false;
    }
    if (!ok)
        goto out;
    db = open_checked(cr, "after writing more");
    if (!db)
        goto out;
    verify(cr, db, NULL, &landed, "reopened after writing more");
    rc = axs_close(db);
    if (rc)
        rel_failure(&cr->fails, "%s seed=%" PRIu64 " iteration %" PRIu64 ": close failed: %s",
                    cfg->name, cr->seed, cr->iters, axs_strerror(rc));
out:
    rel_watchdog(0);
}

static void crash_loop(const crash_cfg *cfg, const char *test_name)
{
    rel_install_reporters();
    crash_run cr;
    memset(&cr, 0, sizeof cr);
    cr.cfg = cfg;
    cr.seed = tu_seed(test_name);
    tu_rng_init(&cr.rng, cr.seed);
    cr.fails.max_print = 20;
    cr.model = calloc(cfg->mix.nkeys, sizeof *cr.model);
    assert_non_null(cr.model);
    char *base = rel_mkdtemp("crash", cfg->in_memory);
    size_t dl = strlen(base) + 8;
    cr.dir = tu_xmalloc(dl);
    snprintf(cr.dir, dl, "%s/db", base);
    unsigned iters = (unsigned)rel_env_u64("ALEXSTORAGE_CRASH_ITERS", cfg->iters);
    uint64_t t0 = tu_now_ns();
    for (unsigned i = 0; i < iters; i++) {
        if (i % cfg->fresh_every == 0) {
            rel_rmtree(cr.dir);
            memset(cr.model, 0, cfg->mix.nkeys * sizeof *cr.model);
        }
        unsigned before = cr.fails.count;
        one_iteration(&cr);
        cr.iters++;
        if (cr.fails.count > before) /* the model no longer says what the database holds */
            break;
    }
    fprintf(stderr,
            "[ CRASH    ] %s seed=%" PRIu64 ": %" PRIu64 " iterations (%" PRIu64
            " killed before/while opening), %" PRIu64 " acknowledged operations (%" PRIu64
            " synced, %" PRIu64 " batches, %" PRIu64 " compactions); in-flight operation found "
            "applied %" PRIu64 " times, absent %" PRIu64 "; kills during compaction %" PRIu64
            ", during segment roll-over %" PRIu64 "; %" PRIu64 " children finished before the "
            "kill; %u failures; %.1f s\n",
            cfg->name, cr.seed, cr.iters, cr.early_kills, cr.acked_ops, cr.syncs, cr.batches,
            cr.compactions_acked, cr.inflight_landed, cr.inflight_absent, cr.kills_in_compact,
            cr.kills_in_rollover, cr.children_done, cr.fails.count,
            (double)(tu_now_ns() - t0) * 1e-9);
    unsigned fails = cr.fails.count;
    uint64_t in_compact = cr.kills_in_compact, in_rollover = cr.kills_in_rollover;
    uint64_t done_iters = cr.iters;
    rel_rmtree(base);
    free(base);
    free(cr.dir);
    free(cr.model);
    TU_REQUIRE(fails == 0, "%u crash-recovery failures (seed %" PRIu64 "; first ones above)",
               fails, cr.seed);
    /* the cases exist to kill inside these: make sure they did */
    TU_REQUIRE(!cfg->want_compact_kills || done_iters < 30 || in_compact > 0,
               "no kill landed inside axs_compact in %" PRIu64 " iterations", done_iters);
    TU_REQUIRE(!cfg->want_rollover_kills || done_iters < 30 || in_rollover > 0,
               "no kill landed inside a segment roll-over in %" PRIu64 " iterations", done_iters);
}

static void test_crash_mixed(void **state)
{
    (void)state;
    static const crash_cfg cfg = {
        .name = "mixed",
        .mix = {.nkeys = 400, .p_sync = 0.2, .p_delete = 0.1, .p_batch = 0.15, .p_flush = 0.01,
                .p_compact = 0.003, .max_batch = 20, .pad_min = 0, .pad_max = 600},
        .segment_size = 64 * 1024,
        .compression = AXS_COMPRESSION_NONE,
        .iters = 200,
        .fresh_every = 25,
        .max_ops = 3000,
        .p_early_kill = 0.1,
    };
    crash_loop(&cfg, __func__);
}

static void test_crash_compaction(void **state)
{
    (void)state;
    static const crash_cfg cfg = {
        .name = "compaction",
        .mix = {.nkeys = 800, .p_sync = 0.05, .p_delete = 0.1, .p_batch = 0.1,
                .p_compact = 0.03, .max_batch = 20, .pad_min = 100, .pad_max = 400},
        .segment_size = 64 * 1024,
        .compression = AXS_COMPRESSION_LZ4,
        .iters = 60,
        .fresh_every = 30,
        .max_ops = 3000,
        .p_early_kill = 0.0,
        .want_compact_kills = true,
        .in_memory = true,
    };
    crash_loop(&cfg, __func__);
}

static void test_crash_rollover(void **state)
{
    (void)state;
    static const crash_cfg cfg = {
        .name = "rollover",
        .mix = {.nkeys = 300, .p_sync = 0.4, .p_delete = 0.05, .p_batch = 0.1,
                .p_compact = 0.01, .max_batch = 6, .pad_min = 2000, .pad_max = 12000},
        .segment_size = 64 * 1024,
        .compression = AXS_COMPRESSION_LZ4,
        .iters = 60,
        .fresh_every = 15,
        .max_ops = 400,
        .p_early_kill = 0.0,
        .want_rollover_kills = true,
    };
    crash_loop(&cfg, __func__);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_mixed),
        cmocka_unit_test(test_crash_compaction),
        cmocka_unit_test(test_crash_rollover),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
