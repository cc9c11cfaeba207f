/*
 * log.h: log segments, the files that hold every record and are also the write-ahead log
 * (internal; prefix log_). Format: docs/format.md, "Segment files".
 *
 * A segment is appended to with write_at and read through one read-only shared mapping of
 * its whole capacity, made once when the segment is opened: appends never remap. Records
 * never span segments; a record larger than the segment size gets a segment of its own.
 */
#ifndef ALEXSTORAGE_LOG_H
#define ALEXSTORAGE_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alexstorage/io.h"
#include "format.h"

typedef struct log_segment {
    uint64_t number;
    axs_file *file;
    const uint8_t *map; /* capacity bytes mapped; only [0, size) may be read */
    uint64_t capacity;
    /* Bytes of valid data: appends go here. Written by the writer, read by readers to bound
     * an entry (atomic; the index publishes a location only after its bytes are written). */
    _Atomic uint64_t size;
    uint64_t live_bytes; /* bytes of entries the index still points to (writer's) */
    /* Pinned values and iterators positioned in this segment, plus LOG_OBSOLETE once
     * compaction removed it: whoever brings the count to exactly LOG_OBSOLETE unmaps it. */
    _Atomic uint64_t pin_state;
    bool sealed;         /* ends with a SEAL record: never appended to again */
    uint64_t written_back; /* appended bytes below this offset have had writeback started */
} log_segment;

#define LOG_OBSOLETE (UINT64_C(1) << 63)

/* File name of segment `number` in dir, written to buf (at least strlen(dir) + 32 bytes). */
void log_segment_path(char *buf, size_t len, const char *dir, uint64_t number);
/* If name is a segment file name, stores its number and returns true. */
bool log_parse_segment_name(const char *name, uint64_t *number);

/* Creates segment `number` (header written and synced, directory synced), mapped with the
 * given capacity. Returns 0 or a negative errno; *sync_failed tells whether the failure was a
 * sync (after which the caller must stop writing, STYLE.md 8). */
int log_segment_create(const axs_io *io, const char *dir, uint64_t number, uint64_t capacity,
                       log_segment **out, bool *sync_failed);
/* Opens an existing segment: maps max(file size, capacity) bytes, size = file size. The
 * header is checked by log_scan, not here. writable: open for appending. */
int log_segment_open(const axs_io *io, const char *dir, uint64_t number, uint64_t capacity,
                     bool writable, log_segment **out);
/* Unmaps, closes and frees (does not remove the file). */
void log_segment_close(const axs_io *io, log_segment *seg);

/* Appends len bytes at seg->size; on success advances size. A short write is an error; the
 * caller decides what a failure means for the database. Returns 0 or -errno. */
int log_append(const axs_io *io, log_segment *seg, const void *buf, size_t len);

/* Called for every valid record found by log_scan, in order; a non-zero return stops the scan
 * and is returned. */
typedef int (*log_record_fn)(void *arg, log_segment *seg, uint64_t offset, const fmt_record *r);

typedef struct log_scan_result {
    uint64_t valid_end;    /* offset after the last valid record (where appends may go) */
    uint64_t records;      /* valid records passed to fn */
    uint64_t skipped;      /* damaged regions skipped (paranoid off) */
    bool torn_tail;        /* a torn last record was dropped */
    bool sealed;           /* the last valid record is a SEAL record */
    uint64_t bad_offset;   /* first damaged offset, if any */
} log_scan_result;

/*
 * Scans records from offset `start` (FMT_SEG_HEADER_SIZE for a whole segment). The torn-tail
 * rule (docs/format.md): a damaged record after which no valid record follows in the last
 * segment is a torn write and ends the scan; any other damage is corruption: returns
 * AXS_ECORRUPT when paranoid, else skips to the next valid record and counts it.
 * Returns 0, AXS_ECORRUPT, AXS_ENOTSUP (newer version), or fn's non-zero result.
 */
int log_scan(log_segment *seg, uint64_t start, bool is_last, bool paranoid, log_record_fn fn,
             void *arg, log_scan_result *res);

#endif /* ALEXSTORAGE_LOG_H */
