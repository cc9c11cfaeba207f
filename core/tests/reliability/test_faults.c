/*
 * test_faults.c: error injection at every I/O call site in turn (STYLE.md Tests 12; SQLite's
 * overridable syscalls, LevelDB's fault-injection Env).
 *
 * A fixed workload (open and create; puts, synced puts, deletes, batches; axs_flush; reads and
 * an iteration; axs_compact; segment roll-overs with 64 KiB segments; close; reopen from the
 * checkpoint; more writes; a power loss that tears the last write; recovery; more writes;
 * close) runs once on a fault_io table to count its I/O calls and name
 * each one (kind and file, from fault_io's trace). Then, for every call index i (or a dense
 * sample if there are more than 2000), it runs again from an empty directory with call i
 * failing once:
 *
 *   eio        every call fails with -EIO;
 *   enospc     every write_at fails with -ENOSPC;
 *   short      every write_at writes half and reports it;
 *   sync_lost  every sync fails with -EIO and loses the file's unsynced data (Linux
 *              writeback-error semantics, fault_io.h).
 *
 * Checks:
 *  - nothing crashes or hangs (a watchdog names the trial);
 *  - an operation that fails returns an AXS_E* code, and only the operation hit by the fault (or,
 *    after a failed sync or an unrecoverable error, every later write, with AXS_EIO) fails;
 *  - after a failed sync (a sync call hit by eio or sync_lost) every further write returns
 *    AXS_EIO until the handle is closed (db.h contract 3);
 *  - reads on the open handle return exactly the acknowledged writes (read your writes, a
 *    failed write leaves no trace in the index);
 *  - closing the handle works (and leaks nothing under ASan);
 *  - reopening on the plain POSIX table succeeds and gives the state after a prefix of the
 *    operations (so no partial batch and no value never written) that holds:
 *      eio, enospc, short: every acknowledged write, synced or not. In fault_io's model these
 *        faults lose nothing that reached the table, so a buffered write that was
 *        acknowledged reached the OS and must survive, as it would a process crash (except
 *        across the workload's one planned power loss, which may drop what was not durable). A write that failed while the database went on (a later write
 *        succeeded) must be absent: it was rolled back. A write after which the database
 *        refused writes may be either way;
 *      sync_lost: every write acknowledged with sync = true and everything before a
 *        successful flush or close; acknowledged buffered writes after the last good sync of
 *        their file may be lost (a failed fsync leaves their fate unknown);
 *  - the reopened database takes a synced write and reopens with it.
 * ALEXSTORAGE_FAULT_CALL=<n> runs only the trial of call n (as printed with a failure);
 * ALEXSTORAGE_FAULT_TRACE=1 prints every I/O call of the trials.
 * Faults that hit a call and still let its operation succeed are counted per call kind and
 * printed (e.g. removing an obsolete segment; the end-to-end checks decide whether that is
 * harmless).
 */
#define _GNU_SOURCE /* open_memstream */

#include "rel_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_io.h"

/* ---- the workload ------------------------------------------------------------------------------ */

enum { A_OPEN, A_OP, A_CHECK, A_CLOSE, A_CRASH };

typedef struct action {
    int kind;
    rel_op op; /* A_OP */
} action;

static const rel_mix fw_mix = {.nkeys = 120, .p_sync = 0.2, .p_delete = 0.1, .p_batch = 0.15,
                               .max_batch = 12, .pad_min = 0, .pad_max = 3000, .p_big = 0.08,
                               .big_pad = 16000};

typedef struct workload {
    action *a;
    size_t n, cap;
} workload;

static void w_add(workload *w, int kind, const rel_op *op)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->a = realloc(w->a, w->cap * sizeof *w->a);
        assert_non_null(w->a);
    }
    memset(&w->a[w->n], 0, sizeof w->a[w->n]);
    w->a[w->n].kind = kind;
    if (op)
        w->a[w->n].op = *op;
    w->n++;
}

static void w_ops(workload *w, tu_rng *rng, uint64_t *version, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        rel_op op;
        rel_gen_op(rng, &fw_mix, version, w->n + 1, &op);
        w_add(w, A_OP, &op);
    }
}

static void w_special(workload *w, int kind)
{
    rel_op op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    w_add(w, A_OP, &op);
}

static void build_workload(workload *w)
{
    tu_rng rng;
    tu_rng_init(&rng, 0xFA17u); /* fixed: the call sites must be the same in every run */
    uint64_t version = 0;
    memset(w, 0, sizeof *w);
    w_add(w, A_OPEN, NULL);
    w_ops(w, &rng, &version, 25);
    w_special(w, REL_OP_FLUSH);
    w_ops(w, &rng, &version, 25);
    w_add(w, A_CHECK, NULL);
    w_special(w, REL_OP_COMPACT);
    w_ops(w, &rng, &version, 20);
    w_add(w, A_CLOSE, NULL);
    w_add(w, A_OPEN, NULL);
    w_ops(w, &rng, &version, 15);
    w_add(w, A_CHECK, NULL);
    /* a synced put, then a buffered one torn by the power loss that follows */
    rel_op op;
    memset(&op, 0, sizeof op);
    op.kind = REL_OP_PUT;
    op.n = 1;
    op.sync = true;
    op.batch_id = w->n + 1;
    op.e[0].key = 3;
    op.e[0].version = ++version;
    op.e[0].pad = 100;
    w_add(w, A_OP, &op);
    op.sync = false;
    op.batch_id = w->n + 1;
    op.e[0].key = 4;
    op.e[0].version = ++version;
    op.e[0].pad = 14000;
    w_add(w, A_OP, &op);
    w_add(w, A_CRASH, NULL); /* power loss, torn tail: no checkpoint at the end */
    w_add(w, A_OPEN, NULL);  /* recovery drops the torn record and replays the rest */
    w_ops(w, &rng, &version, 8);
    w_add(w, A_CHECK, NULL);
    w_add(w, A_CLOSE, NULL);
}

static bool is_write(const rel_op *op)
{
    return op->kind == REL_OP_PUT || op->kind == REL_OP_DELETE || op->kind == REL_OP_BATCH;
}

/* ---- call sites -------------------------------------------------------------------------------- */

typedef struct site {
    int kind;       /* fault_io_kind */
    char what[80];  /* "sync 0000000002.seg" */
    size_t action;  /* index of the workload action that made the call */
} site;

static int kind_from_name(const char *s)
{
    for (int k = 0; k < FAULT_IO_NKINDS; k++)
        if (strcmp(s, fault_io_kind_name((fault_io_kind)k)) == 0)
            return k;
    return -1;
}

static const char *action_str(const workload *w, size_t i, char *buf, size_t len)
{
    static const char *names[] = {"open", "op", "read check", "close", "power loss"};
    const action *a = &w->a[i];
    if (a->kind == A_OP) {
        char o[160];
        snprintf(buf, len, "action %zu (%s)", i, rel_op_str(&a->op, o, sizeof o));
    } else {
        snprintf(buf, len, "action %zu (%s)", i, names[a->kind]);
    }
    return buf;
}

/* ---- one run ----------------------------------------------------------------------------------- */

typedef struct f_run {
    workload w;
    char *base, *dir;
    site *sites;
    size_t nsites;
    rel_failures fails;
    uint64_t seed;
    /* figures, per fault type */
    uint64_t trials, surfaced, absorbed, absorbed_by_kind[FAULT_IO_NKINDS], refused_after,
        open_failed, not_fired;
} f_run;

static const char *fault_names[] = {"eio", "enospc", "short", "sync_lost"};

typedef struct f_trial {
    f_run *fr;
    int fault;
    uint64_t index; /* 0: no fault (the counting run) */
    char desc[400];
} f_trial;

#define F_FAIL(...)                                                                                \
    do {                                                                                           \
        char m_[2560];                                                                             \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                      \
        rel_failure(&fr->fails, "%s: %s", t->desc, m_);                                            \
        goto out;                                                                                  \
    } while (0)

/* How many of the operations ops[0..n) a reopened database must hold at least: every
 * acknowledged one; after a lost sync only those up to the last durable point (a successful
 * synced write, flush or close). */
static size_t min_needed(const int *fate, size_t n, size_t durable, bool lossy)
{
    size_t m = 0;
    if (lossy)
        return durable;
    for (size_t i = 0; i < n; i++)
        if (fate[i] == REL_APPLIED)
            m = i + 1;
    return m;
}

/* Reads the whole database: the state must be the state after a prefix of the history holding
 * at least min_ops operations; iteration must agree. obs gets the state, and fate the decided
 * fates (doubtful operations in or out, lost ones out). 0 or -1 with why. */
static int check_state(axs_db *db, const rel_op *ops, int *fate, size_t n, size_t min_ops,
                       rel_slot *obs, char *why, size_t why_len)
{
    bool garbage;
    uint32_t bad;
    if (rel_read_state(db, fw_mix.nkeys, obs, &garbage, &bad, why, why_len) != 0)
        return -1;
    int *resolved = calloc(n ? n : 1, sizeof *resolved);
    assert_non_null(resolved);
    long k = rel_prefix_match(ops, fate, n, min_ops, fw_mix.nkeys, NULL, obs, why, why_len,
                              resolved);
    if (k >= 0)
        memcpy(fate, resolved, n * sizeof *fate);
    free(resolved);
    if (k < 0)
        return -1;
    return rel_check_iterator(db, fw_mix.nkeys, obs, why, why_len);
}

/* Every key: a get returns a value written for it, "absent" or AXS_ECORRUPT. */
static int loose_reads(axs_db *db, char *why, size_t why_len)
{
    for (uint32_t k = 0; k < fw_mix.nkeys; k++) {
        char key[REL_KEY_MAX];
        size_t klen = rel_key(key, k);
        char *v = NULL;
        size_t vl = 0;
        bool found = false;
        int rc = axs_get_alloc(db, NULL, key, klen, &v, &vl, &found);
        rel_val val;
        if (rc == AXS_OK && found && (rel_value_decode((uint8_t *)v, vl, &val) || val.key_id != k)) {
            snprintf(why, why_len, "key %" PRIu32 " read as %zu bytes never written for it", k, vl);
            free(v);
            return -1;
        }
        free(v);
        if (rc != AXS_OK && rc != AXS_ECORRUPT) {
            snprintf(why, why_len, "key %" PRIu32 ": get returned %s", k, axs_strerror(rc));
            return -1;
        }
    }
    return 0;
}

/* Runs the workload with the fault armed (none if t->index == 0); when trace is not NULL the
 * call trace goes there. */
static void run_trial(f_trial *t, FILE *trace, size_t *calls_before_action)
{
    f_run *fr = t->fr;
    const workload *w = &fr->w;
    rel_rmtree(fr->dir);
    rel_trial("%s", t->desc);
    rel_watchdog(60);
    uint32_t nkeys = fw_mix.nkeys;
    rel_op *ops = calloc(w->n, sizeof *ops);
    int *fate = calloc(w->n, sizeof *fate);
    rel_slot *mem = calloc(nkeys, sizeof *mem); /* what the handle must show */
    rel_slot *obs = calloc(nkeys, sizeof *obs);
    assert_true(ops && fate && mem && obs);
    fault_io *fio = NULL;
    assert_int_equal(fault_io_create(&fio), 0);
    fault_io_skip_real_sync(fio, true);
    if (trace)
        fault_io_set_trace(fio, trace);
    if (t->index)
        fault_io_arm(fio, FAULT_IO_ANY, t->index, (fault_io_fault)t->fault, false);
    const site *hit = t->index && t->index <= fr->nsites ? &fr->sites[t->index - 1] : NULL;
    bool hit_is_sync = hit && hit->kind == FAULT_IO_SYNC;

    axs_options o;
    axs_options_init(&o);
    /* No background compaction: this test counts and damages exact records and I/O calls,
     * which a concurrent pass would move; it runs axs_compact itself. */
    o.compaction_garbage_ratio = 0;
    o.create_if_missing = true;
    o.segment_size = 64 * 1024;
    o.compression = AXS_COMPRESSION_LZ4;
    o.io = fault_io_table(fio);
    axs_db *db = NULL;
    char *err = NULL;
    size_t n = 0, durable = 0;
    /* After a reopen in the middle of the workload its state is checked against the whole
     * history, which decides the fate of the operations that were in doubt. */
    bool lossy = false;        /* a lost sync fired: acknowledged buffered writes may be gone */
    bool lossy_handle = false; /* ... and this handle may read them as gone */
    long pending = -1;
    bool failed_state = false; /* a write was refused after the fault */
    bool expect_refuse = false;
    bool fired_any = false;
    char why[2048];
    char as[200];
    for (size_t ai = 0; ai < w->n; ai++) {
        const action *a = &w->a[ai];
        if (calls_before_action)
            calls_before_action[ai] = (size_t)fault_io_count(fio, FAULT_IO_ANY);
        uint64_t fired_before = fault_io_fired(fio);
        int rc = AXS_OK;
        switch (a->kind) {
        case A_OPEN:
            if (db)
                break;
            rc = axs_open(fr->dir, &o, &db, &err);
            expect_refuse = failed_state = lossy_handle = false;
            pending = -1; /* a failed write of the last handle stays "maybe" */
            if (rc) {
                if (!err || !*err)
                    F_FAIL("open failed with %s and no message", axs_strerror(rc));
                free(err);
                err = NULL;
                fr->open_failed++;
            } else if (ai > 0) {
                if (check_state(db, ops, fate, n, min_needed(fate, n, durable, lossy), obs, why,
                                sizeof why) != 0)
                    F_FAIL("reopened at %s: %s", action_str(w, ai, as, sizeof as), why);
                memcpy(mem, obs, nkeys * sizeof *mem);
            }
            break;
        case A_OP:
            if (!db)
                break;
            ops[n] = a->op;
            rc = rel_exec_op(db, &a->op);
            n++;
            break;
        case A_CHECK:
            if (!db)
                break;
            if (lossy_handle) {
                /* the file lost data under the handle's index: a read may miss or fail, but
                 * must not crash or return a value never written for the key */
                if (loose_reads(db, why, sizeof why) != 0)
                    F_FAIL("reads after a lost sync at %s: %s", action_str(w, ai, as, sizeof as),
                           why);
            } else {
                bool garbage;
                uint32_t bad;
                int r = rel_read_state(db, nkeys, obs, &garbage, &bad, why, sizeof why);
                if (r)
                    F_FAIL("reads at %s: %s", action_str(w, ai, as, sizeof as), why);
                for (uint32_t k = 0; k < nkeys; k++)
                    if (!rel_slot_equal(&obs[k], &mem[k])) {
                        char x[96], y[96];
                        F_FAIL("read your writes at %s: key %" PRIu32 " is %s, acknowledged %s",
                               action_str(w, ai, as, sizeof as), k,
                               rel_slot_str(&obs[k], x, sizeof x),
                               rel_slot_str(&mem[k], y, sizeof y));
                    }
                if (rel_check_iterator(db, nkeys, mem, why, sizeof why) != 0)
                    F_FAIL("iteration at %s: %s", action_str(w, ai, as, sizeof as), why);
            }
            break;
        case A_CLOSE:
            if (!db)
                break;
            rc = axs_close(db);
            db = NULL;
            if (rc == AXS_OK) {
                if (pending >= 0) /* the database was not failed: the write was undone */
                    fate[pending] = REL_EXCLUDED;
                pending = -1;
                durable = n;
            }
            break;
        case A_CRASH:
            if (!db)
                break;
            fault_io_crash(fio);
            axs_close(db); /* every call fails: the process is gone */
            db = NULL;
            {
                /* Power loss with a torn tail (fixed seed: the same in every run): what was
                 * not durable may be lost. It clears the armed fault; arm it again for its
                 * call if that is still ahead. */
                for (size_t i = durable; i < n; i++)
                    if (fate[i] == REL_APPLIED)
                        fate[i] = REL_MAYBE;
                pending = -1;
                bool fired_here = fault_io_fired(fio) > fired_before;
                int r = fault_io_power_loss(fio, FAULT_IO_TORN_TAIL, 7);
                if (r)
                    F_FAIL("fault_io_power_loss: %s", strerror(-r));
                uint64_t done_calls = fault_io_count(fio, FAULT_IO_ANY);
                if (t->index && !fired_any && !fired_here && t->index > done_calls)
                    fault_io_arm(fio, FAULT_IO_ANY, t->index - done_calls,
                                 (fault_io_fault)t->fault, false);
            }
            rc = AXS_OK;
            break;
        }
        bool fired_now = fault_io_fired(fio) > fired_before;
        fired_any |= fired_now;
        if (fired_now && t->fault == FAULT_IO_SYNC_LOST)
            lossy = lossy_handle = true;
        if (!t->index && rc)
            F_FAIL("%s failed without a fault: %s", action_str(w, ai, as, sizeof as),
                   axs_strerror(rc));
        if (rc > 0 || rc < AXS_ENOTDB)
            F_FAIL("%s returned %d, not an AXS_E* code", action_str(w, ai, as, sizeof as), rc);
        if (fired_now) {
            if (rc) {
                fr->surfaced++;
            } else if (hit) {
                fr->absorbed++, fr->absorbed_by_kind[hit->kind]++;
                if (hit->kind != FAULT_IO_CLOSE && hit->kind != FAULT_IO_UNMAP)
                    fprintf(stderr, "[ ABSORBED ] %s: %s still succeeded\n", t->desc,
                            action_str(w, ai, as, sizeof as));
            }
            /* a failed append or sync under a write, flush or close must be reported */
            if (!rc && hit && (hit->kind == FAULT_IO_WRITE_AT || hit->kind == FAULT_IO_SYNC) &&
                (a->kind == A_CLOSE || (a->kind == A_OP && a->op.kind != REL_OP_COMPACT)))
                F_FAIL("%s succeeded although its %s failed", action_str(w, ai, as, sizeof as),
                       hit->what);
        }
        if (a->kind != A_OP || !db) {
            if (a->kind == A_OP && !db && rc == AXS_OK) {
                /* no handle: the operation did not run */
            }
            if (a->kind == A_CLOSE && fired_now && rc == AXS_OK && hit_is_sync)
                F_FAIL("close hit a failed sync (%s) and reported success", hit->what);
            continue;
        }
        rel_op *op = &ops[n - 1];
        if (rc == AXS_OK) {
            if (expect_refuse && is_write(op)) {
                /* reported once; the trial goes on so that its end state is checked too */
                rel_failure(&fr->fails, "%s: %s was accepted after a failed sync (%s)", t->desc,
                            action_str(w, ai, as, sizeof as), hit ? hit->what : "?");
                expect_refuse = false;
            }
            if (failed_state && is_write(op))
                F_FAIL("%s was accepted after the database had refused a write",
                       action_str(w, ai, as, sizeof as));
            fate[n - 1] = REL_APPLIED;
            rel_apply_op(mem, op);
            if (pending >= 0) { /* the database went on: the failed write was undone */
                fate[pending] = REL_EXCLUDED;
                pending = -1;
            }
            if ((is_write(op) && op->sync) || op->kind == REL_OP_FLUSH)
                durable = n;
            continue;
        }
        /* a failed operation */
        if (fired_now) {
            fate[n - 1] = is_write(op) ? REL_MAYBE : REL_APPLIED;
            if (is_write(op))
                pending = (long)(n - 1);
            if (hit_is_sync)
                expect_refuse = true; /* db.h contract 3 */
        } else if (fired_any) {
            if (rc != AXS_EIO)
                F_FAIL("%s, after the fault, failed with %s instead of the failed state's "
                       "AXS_EIO",
                       action_str(w, ai, as, sizeof as), axs_strerror(rc));
            fate[n - 1] = is_write(op) ? REL_EXCLUDED : REL_APPLIED;
            if (is_write(op) && !failed_state) {
                failed_state = true;
                fr->refused_after++;
            }
        } else {
            F_FAIL("%s failed before the fault fired: %s", action_str(w, ai, as, sizeof as),
                   axs_strerror(rc));
        }
    }
    if (db) {
        axs_close(db);
        db = NULL;
    }
    if (t->index && !fired_any)
        fr->not_fired++;
    fault_io_destroy(fio);
    fio = NULL;

    /* reopen on the plain table */
    axs_options_init(&o);
    /* No background compaction: this test counts and damages exact records and I/O calls,
     * which a concurrent pass would move; it runs axs_compact itself. */
    o.compaction_garbage_ratio = 0;
    o.create_if_missing = true; /* the fault may have hit the creation itself */
    o.segment_size = 64 * 1024;
    o.compression = AXS_COMPRESSION_LZ4;
    int rc = axs_open(fr->dir, &o, &db, &err);
    if (rc)
        F_FAIL("reopen on a clean table failed: %s (%s)", axs_strerror(rc), err ? err : "");
    if (check_state(db, ops, fate, n, min_needed(fate, n, durable, lossy), obs, why,
                    sizeof why) != 0)
        F_FAIL("after reopening on a clean table: %s", why);
    {
        axs_write_options wo;
        axs_write_options_init(&wo);
        wo.sync = true;
        rc = axs_put(db, &wo, "~after", 6, "fault", 5);
        if (rc)
            F_FAIL("a put after reopening failed: %s (%s)", axs_strerror(rc), axs_last_error(db));
        rc = axs_close(db);
        db = NULL;
        if (rc)
            F_FAIL("close after reopening failed: %s", axs_strerror(rc));
        rc = axs_open(fr->dir, &o, &db, &err);
        if (rc)
            F_FAIL("second reopen failed: %s (%s)", axs_strerror(rc), err ? err : "");
        char buf[8];
        size_t vl = 0;
        bool found = false;
        rc = axs_get(db, NULL, "~after", 6, buf, sizeof buf, &vl, &found);
        if (rc || !found || vl != 5 || memcmp(buf, "fault", 5))
            F_FAIL("the put made after reopening is gone");
    }
out:
    if (db)
        axs_close(db);
    fault_io_destroy(fio);
    free(err);
    free(ops);
    free(fate);
    free(mem);
    free(obs);
    rel_watchdog(0);
    fr->trials++;
}

/* ---- cases ------------------------------------------------------------------------------------- */

/* The counting run: names every call site. */
static void count_sites(f_run *fr)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    assert_non_null(mem);
    size_t *before = calloc(fr->w.n + 1, sizeof *before);
    assert_non_null(before);
    f_trial t = {fr, FAULT_IO_EIO, 0, "counting run (no fault)"};
    unsigned fails0 = fr->fails.count;
    run_trial(&t, mem, before);
    fclose(mem);
    TU_REQUIRE(fr->fails.count == fails0, "the workload fails without any fault");
    size_t cap = 256;
    fr->sites = calloc(cap, sizeof *fr->sites);
    fr->nsites = 0;
    size_t ai = 0;
    /* only the calls of the workload proper, before the final checks reopened on POSIX */
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        uint64_t seq;
        char kind[32], path[512];
        if (sscanf(line, "fault_io #%" SCNu64 " %31s %511s", &seq, kind, path) < 2)
            continue;
        if (seq != fr->nsites + 1)
            continue;
        if (fr->nsites == cap) {
            cap *= 2;
            fr->sites = realloc(fr->sites, cap * sizeof *fr->sites);
            assert_non_null(fr->sites);
        }
        site *s = &fr->sites[fr->nsites++];
        s->kind = kind_from_name(kind);
        const char *base = strrchr(path, '/');
        snprintf(s->what, sizeof s->what, "%.20s %.56s", kind, base ? base + 1 : path);
        while (ai + 1 < fr->w.n && before[ai + 1] < seq)
            ai++;
        s->action = ai;
    }
    free(buf);
    free(before);
    TU_REQUIRE(fr->nsites > 0, "no I/O calls traced");
}

static void faults_case(int fault, const char *test_name)
{
    rel_install_reporters();
    f_run fr;
    memset(&fr, 0, sizeof fr);
    fr.seed = tu_seed(test_name);
    fr.fails.max_print = 25;
    build_workload(&fr.w);
    fr.base = rel_mkdtemp("faults", true);
    size_t dl = strlen(fr.base) + 8;
    fr.dir = tu_xmalloc(dl);
    snprintf(fr.dir, dl, "%s/db", fr.base);
    count_sites(&fr);
    uint64_t t0 = tu_now_ns();

    /* which calls this fault applies to */
    uint64_t *idx = calloc(fr.nsites, sizeof *idx);
    size_t m = 0;
    uint64_t per_kind[FAULT_IO_NKINDS] = {0};
    for (size_t i = 0; i < fr.nsites; i++) {
        int k = fr.sites[i].kind;
        bool ok = fr.w.a[fr.sites[i].action].kind != A_CRASH &&
                  (fault == FAULT_IO_EIO ||
                  ((fault == FAULT_IO_ENOSPC || fault == FAULT_IO_SHORT_WRITE) &&
                   k == FAULT_IO_WRITE_AT) ||
                  (fault == FAULT_IO_SYNC_LOST && k == FAULT_IO_SYNC));
        if (ok)
            idx[m++] = i + 1;
    }
    uint64_t only = rel_env_u64("ALEXSTORAGE_FAULT_CALL", 0);
    if (only) { /* replay one call site */
        m = 0;
        if (only <= fr.nsites)
            idx[m++] = only;
    }
    size_t limit = tu_scaled(2000, 100);
    tu_rng rng;
    tu_rng_init(&rng, fr.seed);
    if (m > limit) { /* a dense sample: keep each with probability limit/m */
        size_t w = 0;
        for (size_t i = 0; i < m; i++)
            if (tu_rng_below(&rng, m) < limit)
                idx[w++] = idx[i];
        m = w;
    }
    for (size_t j = 0; j < m; j++) {
        const site *s = &fr.sites[idx[j] - 1];
        f_trial t = {&fr, fault, idx[j], ""};
        char as[200];
        snprintf(t.desc, sizeof t.desc, "%s seed=%" PRIu64 ": fault %s at call #%" PRIu64 " (%s, in %s)",
                 test_name, fr.seed, fault_names[fault], idx[j], s->what,
                 action_str(&fr.w, s->action, as, sizeof as));
        run_trial(&t, rel_env_u64("ALEXSTORAGE_FAULT_TRACE", 0) ? stderr : NULL, NULL);
        per_kind[s->kind]++;
    }
    uint64_t total_calls = fr.nsites;
    fprintf(stderr,
            "[ FAULTS   ] %s seed=%" PRIu64 ": workload of %zu actions makes %" PRIu64
            " I/O calls; fault \"%s\" tried at %zu call sites (",
            test_name, fr.seed, fr.w.n, total_calls, fault_names[fault], m);
    for (int k = 0; k < FAULT_IO_NKINDS; k++)
        if (per_kind[k])
            fprintf(stderr, " %s:%" PRIu64, fault_io_kind_name((fault_io_kind)k), per_kind[k]);
    fprintf(stderr,
            " ); the operation hit failed %" PRIu64 " times, succeeded anyway %" PRIu64
            " times (",
            fr.surfaced, fr.absorbed);
    for (int k = 0; k < FAULT_IO_NKINDS; k++)
        if (fr.absorbed_by_kind[k])
            fprintf(stderr, " %s:%" PRIu64, fault_io_kind_name((fault_io_kind)k),
                    fr.absorbed_by_kind[k]);
    fprintf(stderr,
            " ); writes refused afterwards %" PRIu64 " times; opens failed %" PRIu64
            "; %u failures; %.1f s\n",
            fr.refused_after, fr.open_failed, fr.fails.count, (double)(tu_now_ns() - t0) * 1e-9);
    unsigned fails = fr.fails.count;
    free(idx);
    free(fr.sites);
    free(fr.w.a);
    rel_rmtree(fr.base);
    free(fr.base);
    free(fr.dir);
    TU_REQUIRE(fails == 0, "%u fault sites handled wrongly (first ones above)", fails);
}

static void test_faults_eio(void **state)
{
    (void)state;
    faults_case(FAULT_IO_EIO, __func__);
}

static void test_faults_enospc(void **state)
{
    (void)state;
    faults_case(FAULT_IO_ENOSPC, __func__);
}

static void test_faults_short_write(void **state)
{
    (void)state;
    faults_case(FAULT_IO_SHORT_WRITE, __func__);
}

static void test_faults_sync_lost(void **state)
{
    (void)state;
    faults_case(FAULT_IO_SYNC_LOST, __func__);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults_eio),
        cmocka_unit_test(test_faults_enospc),
        cmocka_unit_test(test_faults_short_write),
        cmocka_unit_test(test_faults_sync_lost),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
