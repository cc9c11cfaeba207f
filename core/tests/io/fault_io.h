/*
 * fault_io.h: a test I/O table (alexstorage/io.h) over axs_io_posix() that injects faults and
 * simulates crashes and power loss. Test support only (static library alexstorage_fault_io);
 * prefix fault_io_.
 *
 * Typical uses:
 *
 *   Error injection at every call site:
 *     fault_io *fio; fault_io_create(&fio);
 *     run(fault_io_table(fio));                        // count the calls of the workload
 *     uint64_t n = fault_io_count(fio, FAULT_IO_ANY);
 *     for (uint64_t i = 1; i <= n; i++) {
 *         ...fresh directory, fault_io_reset_counters(fio)...
 *         fault_io_arm(fio, FAULT_IO_ANY, i, FAULT_IO_EIO, false);
 *         run(fault_io_table(fio));                    // must fail cleanly or succeed
 *         fault_io_disarm(fio);
 *     }
 *
 *   Crash loop: open a database on fault_io_table(fio), arm a sticky FAULT_IO_EIO on call i
 *   of FAULT_IO_ANY (the process "dies" at call i: nothing after it reaches the disk) or call
 *   fault_io_crash(fio) at any point; close the database (every call fails with -EIO, but
 *   close and unmap still release memory, so the database handle can be freed); then
 *   fault_io_power_loss(fio, FAULT_IO_DROP_UNSYNCED or FAULT_IO_TORN_TAIL, seed); reopen the
 *   database on the same table and check that everything acknowledged as durable is there.
 *
 * ---- Counting and faults --------------------------------------------------------------------
 *
 * Every call through the table, whatever its outcome, adds one to a global counter and one to
 * the counter of its kind (fault_io_kind; close is counted as a kind too). One fault can be
 * armed at a time: "fail the nth call of kind K (or of FAULT_IO_ANY kind) from now on",
 * one-shot (that call only) or sticky (that call and every later call of the kind). What a
 * failing call does (fault_io_fault):
 *
 *   FAULT_IO_EIO, FAULT_IO_ENOSPC  the call does nothing and returns -EIO / -ENOSPC.
 *   FAULT_IO_SHORT_WRITE           write_at writes only the first len / 2 bytes and returns that
 *                                  count; any other kind of call fails with -EIO.
 *   FAULT_IO_SYNC_LOST             sync returns -EIO and the file's unsynced data is lost, as
 *                                  on Linux after a writeback error: the file keeps its size,
 *                                  but every byte written since the last good sync reads back
 *                                  as the durable byte at that offset, or as zero beyond the
 *                                  durable size (the pages were dropped and re-read from disk).
 *                                  A later successful sync makes that state durable. Any other
 *                                  kind of call fails with -EIO.
 *
 * close and unmap always release what they are given, even when they fail (a fault, a crash,
 * a dead handle), so tests stay leak-free; they still return the error.
 *
 * ---- The durability model -------------------------------------------------------------------
 *
 * The table keeps, for every file it has touched, its durable content (a copy of the bytes
 * as of the last successful sync; files the table has not changed need no copy), and for every
 * directory entry it has touched (created, renamed from or to, removed, opened), the entry's
 * durable state: absent, a directory, or a given file. Files that exist before the table first
 * touches them are taken as durable as they are.
 *
 *   - sync(f) makes f's current content and size durable (whatever handle of the file it is
 *     called on). Data of a file that was never synced is durable as an empty file.
 *   - sync_dir(d) makes every entry directly in d durable as it is now: creations, removals,
 *     and both sides of renames within d. A rename across directories changes two entries;
 *     each becomes durable with its own directory (syncing only one can leave both names or
 *     neither).
 *   - mkdir(d) creates an entry in d's parent: a new directory, and everything in it,
 *     disappears on power loss unless its parent was synced after the mkdir.
 *
 * fault_io_power_loss(mode) then puts the file system into the durable state:
 *
 *   FAULT_IO_KEEP_UNSYNCED  a process crash, not a power loss: nothing is lost, the page cache
 *                           survives; unsynced data stays unsynced (a later power loss can
 *                           still drop it).
 *   FAULT_IO_DROP_UNSYNCED  every file is rewritten to its durable content; every entry to its
 *                           durable state (unsynced creations vanish, unsynced renames and
 *                           removals are undone, with the durable content of the files they
 *                           had replaced or removed).
 *   FAULT_IO_TORN_TAIL      as DROP, except that a file's unsynced changes may partly
 *                           survive, as a torn write: the bytes that differ from the durable
 *                           content, from the first to the last one (or to the end of a file
 *                           that grew), are taken as one sequential write cut at a random
 *                           point. Bytes before the cut survive (from none to all); the rest
 *                           of the 4 KiB page holding the cut is random garbage (never beyond
 *                           the changed range); after that the file is durable again and ends
 *                           at max(durable size, end of the garbage). For an append since the
 *                           last sync that is: a random prefix of the appended bytes, then
 *                           garbage up to the next page boundary or the old end of file. Bytes
 *                           the unsynced writes did not change are never damaged. A file that
 *                           shrank is rolled back entirely. Randomness comes from the seed
 *                           argument, so a run replays exactly.
 *
 * In every mode, all handles the table had returned die: their descriptors are closed (so
 * their locks are released) and every call on them fails with -EIO, except that close and
 * unmap still release the handle and the mapping. Mappings are cut from their files (a live
 * mapping would keep the file, and its lock, open) but stay readable: each is replaced by
 * zero-filled memory at the same address, so a stale read is harmless and shows zeros; unmap
 * (which then returns -EIO) or fault_io_destroy releases it. The
 * crash state and the armed fault are cleared; counters are kept. Files restored by a power
 * loss are new files (new inodes). After DROP and TORN the table forgets its history: the
 * restored state is all durable.
 *
 * ---- Limits (what is not simulated) ---------------------------------------------------------
 *
 *   - Reordering of writes within a file between two syncs is modelled only by the TORN_TAIL
 *     cut-and-torn-page rule: the unsynced changes of a file are treated as one write in
 *     offset order, so a changed byte never survives while a changed byte at a lower offset
 *     is lost, and no page but the one holding the cut is torn. A shrinking truncate is
 *     always rolled back entirely.
 *   - No file system metadata beyond names and sizes: permissions, times and sparse holes are
 *     not preserved by a restore. Restored files are written afresh.
 *   - Directory renames are passed through but treated as durable at once; hard and symbolic
 *     links made outside the table are not followed (paths are normalized lexically: made
 *     absolute with the working directory, "." and ".." and repeated slashes removed).
 *   - Changes made to the file system behind the table's back are not tracked; a file it has
 *     not touched is assumed durable.
 *   - The real disk never loses anything: the simulation rewrites files at power-loss time, so
 *     file contents are held in memory (test files should stay small, tens of MiB).
 *   - Faults fire at call granularity: there is no fault "in the middle" of a call except the
 *     short write.
 *
 * ---- Threads -------------------------------------------------------------------------------
 *
 * The table is safe to call from several threads (one mutex serialises the calls; list_dir
 * calls its callback without holding it, so the callback may call the table). The control
 * functions (arm, crash, power loss, counters) are thread-safe too, but fault_io_power_loss
 * and fault_io_destroy must not run while another thread is inside a table call.
 *
 * Errors: functions returning int return 0 or a negative errno value, like the table.
 */
#ifndef ALEXSTORAGE_FAULT_IO_H
#define ALEXSTORAGE_FAULT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alexstorage/io.h"

typedef struct fault_io fault_io;

/* Kinds of calls, one per function of the table. FAULT_IO_ANY stands for all of them in
 * fault_io_arm and fault_io_count. */
typedef enum fault_io_kind {
    FAULT_IO_OPEN,
    FAULT_IO_CLOSE,
    FAULT_IO_READ_AT,
    FAULT_IO_WRITE_AT,
    FAULT_IO_SYNC,
    FAULT_IO_TRUNCATE,
    FAULT_IO_SIZE,
    FAULT_IO_MAP,
    FAULT_IO_UNMAP,
    FAULT_IO_LOCK,
    FAULT_IO_MKDIR,
    FAULT_IO_RENAME,
    FAULT_IO_REMOVE,
    FAULT_IO_LIST_DIR,
    FAULT_IO_SYNC_DIR,
    FAULT_IO_STAT,
    FAULT_IO_NKINDS,
    FAULT_IO_ANY = FAULT_IO_NKINDS
} fault_io_kind;

/* What an armed fault does to the call it hits (see the top of this file). */
typedef enum fault_io_fault {
    FAULT_IO_EIO,
    FAULT_IO_ENOSPC,
    FAULT_IO_SHORT_WRITE,
    FAULT_IO_SYNC_LOST
} fault_io_fault;

/* How fault_io_power_loss treats unsynced data (see the top of this file). */
typedef enum fault_io_loss {
    FAULT_IO_KEEP_UNSYNCED,
    FAULT_IO_DROP_UNSYNCED,
    FAULT_IO_TORN_TAIL
} fault_io_loss;

/* Creates a fault table over axs_io_posix(): counters at zero, no fault armed, not crashed.
 * Returns 0 or -ENOMEM. */
int fault_io_create(fault_io **out);
/* Closes every handle still open, releases every mapping still mapped, frees fio. Nothing is
 * rolled back: the files stay as they are. The table must no longer be in use. NULL is a no-op. */
void fault_io_destroy(fault_io *fio);
/* The table to hand to the engine; valid until fault_io_destroy. Its ctx is fio. */
const axs_io *fault_io_table(fault_io *fio);

/* "open", "close", "read_at", ... ("any" for FAULT_IO_ANY, "?" out of range). */
const char *fault_io_kind_name(fault_io_kind kind);

/* Calls of `kind` made so far (FAULT_IO_ANY: all calls), since creation or the last reset. */
uint64_t fault_io_count(fault_io *fio, fault_io_kind kind);
/* Sets every counter to zero (an armed fault keeps its place: it still fires at the call it
 * was armed for). */
void fault_io_reset_counters(fault_io *fio);

/* Arms one fault, replacing any armed before: the nth call of `kind` (FAULT_IO_ANY: of any
 * kind) made after this call fails as `fault` says; nth = 1 is the very next such call. If
 * sticky, every later call of that kind fails too, until fault_io_disarm or a power loss.
 * nth = 0 is treated as 1. Calls on a crashed table or on dead handles fail with -EIO
 * anyway and do not fire the fault. */
void fault_io_arm(fault_io *fio, fault_io_kind kind, uint64_t nth, fault_io_fault fault,
                  bool sticky);
void fault_io_disarm(fault_io *fio);
/* How many calls the armed fault has failed since it was armed (0 if it never fired, e.g.
 * because the workload made fewer calls). */
uint64_t fault_io_fired(fault_io *fio);

/* From now on every call fails with -EIO (close and unmap still release) until
 * fault_io_power_loss. Nothing more reaches the disk: the process is as good as dead. */
void fault_io_crash(fault_io *fio);
bool fault_io_crashed(fault_io *fio);

/* Simulates a power loss (or, with FAULT_IO_KEEP_UNSYNCED, a process crash) as described at
 * the top of this file, and revives the table. seed drives FAULT_IO_TORN_TAIL. Returns 0, or
 * a negative errno if restoring the durable state failed on the real disk (the test should
 * fail then). */
int fault_io_power_loss(fault_io *fio, fault_io_loss mode, uint64_t seed);

/* Number of tracked files and directory entries whose current state is not durable (a file
 * with unsynced changes, an entry whose directory was not synced since it changed). 0 means a
 * power loss now would lose nothing. Returns a negative errno if reading a file failed. */
int64_t fault_io_pending(fault_io *fio);

/* With skip = true, sync and sync_dir stop calling fsync on the real disk: they still check
 * their argument (a live handle; an existing directory, else -ENOENT / -ENOTDIR) and still
 * make the state durable in the model, which is all a power-loss test needs, and crash loops
 * run much faster. Default false (real syncs). */
void fault_io_skip_real_sync(fault_io *fio, bool skip);

/* Makes every sync sleep us microseconds before it does anything (outside the table's lock),
 * as a slow disk would: concurrent writers then queue behind the one syncing, which is how a
 * test gets commit groups of several writers. Default 0. */
void fault_io_set_sync_delay(fault_io *fio, unsigned us);

/* Prints one line per call to out ("fault_io #<n> <kind> <path> -> <rc>"), NULL to stop. Useful
 * to find which call number is which call site. */
void fault_io_set_trace(fault_io *fio, FILE *out);

#endif /* ALEXSTORAGE_FAULT_IO_H */
