/*
 * log.c: segment files: creation, mapping, appends and the recovery scan (docs/format.md).
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexstorage/db.h"

#define LOG_WRITEBACK_CHUNK (4u << 20)

void log_segment_path(char *buf, size_t len, const char *dir, uint64_t number)
{
    snprintf(buf, len, "%s/%010" PRIu64 ".seg", dir, number);
}

bool log_parse_segment_name(const char *name, uint64_t *number)
{
    size_t n = strlen(name);
    if (n != 14 || strcmp(name + 10, ".seg") != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *number = v;
    return true;
}

/* Maps the segment. A writable one keeps room for at least a SEAL record past its data. */
static int segment_map(const axs_io *io, log_segment *seg, uint64_t capacity, bool writable)
{
    uint64_t size;
    int rc = io->size(io->ctx, seg->file, &size);
    if (rc)
        return rc;
    seg->size = size;
    seg->written_back = size;
    uint64_t need = writable ? size + FMT_RECORD_HEADER_SIZE : size;
    seg->capacity = capacity > need ? capacity : need;
    if (seg->capacity > SIZE_MAX)
        return -EFBIG;
    if (seg->capacity == 0)
        return 0; /* an empty file: nothing to map, nothing to read */
    const void *addr;
    rc = io->map(io->ctx, seg->file, (size_t)seg->capacity, &addr);
    if (rc)
        return rc;
    seg->map = addr;
    return 0;
}

static int segment_open_file(const axs_io *io, const char *dir, uint64_t number, int flags,
                             log_segment **out)
{
    char path[4096];
    log_segment_path(path, sizeof path, dir, number);
    log_segment *seg = calloc(1, sizeof *seg);
    if (!seg)
        return -ENOMEM;
    seg->number = number;
    int rc = io->open(io->ctx, path, flags, &seg->file);
    if (rc) {
        free(seg);
        return rc;
    }
    *out = seg;
    return 0;
}

int log_segment_create(const axs_io *io, const char *dir, uint64_t number, uint64_t capacity,
                       log_segment **out, bool *sync_failed)
{
    log_segment *seg;
    *sync_failed = false;
    int rc = segment_open_file(io, dir, number,
                               AXS_IO_WRITE | AXS_IO_CREATE | AXS_IO_EXCL, &seg);
    if (rc)
        return rc;
    uint8_t hdr[FMT_SEG_HEADER_SIZE];
    fmt_segment_header_encode(hdr, number);
    int64_t w = io->write_at(io->ctx, seg->file, hdr, sizeof hdr, 0);
    rc = w < 0 ? (int)w : w != (int64_t)sizeof hdr ? -EIO : 0;
    if (!rc && (rc = io->sync(io->ctx, seg->file)) != 0)
        *sync_failed = true;
    if (!rc && (rc = io->sync_dir(io->ctx, dir)) != 0)
        *sync_failed = true;
    if (!rc)
        rc = segment_map(io, seg, capacity, true);
    if (rc) {
        char path[4096];
        io->close(io->ctx, seg->file);
        log_segment_path(path, sizeof path, dir, number);
        io->remove(io->ctx, path);
        free(seg);
        return rc;
    }
    *out = seg;
    return 0;
}

int log_segment_open(const axs_io *io, const char *dir, uint64_t number, uint64_t capacity,
                     bool writable, log_segment **out)
{
    log_segment *seg;
    int rc = segment_open_file(io, dir, number, writable ? AXS_IO_WRITE : AXS_IO_READ, &seg);
    if (rc)
        return rc;
    rc = segment_map(io, seg, capacity, writable);
    if (rc) {
        io->close(io->ctx, seg->file);
        free(seg);
        return rc;
    }
    *out = seg;
    return 0;
}

void log_segment_close(const axs_io *io, log_segment *seg)
{
    if (!seg)
        return;
    if (seg->map)
        io->unmap(io->ctx, seg->file, seg->map, (size_t)seg->capacity);
    io->close(io->ctx, seg->file);
    free(seg);
}

int log_append(const axs_io *io, log_segment *seg, const void *buf, size_t len)
{
    if (seg->size + len > seg->capacity)
        return -EFBIG; /* the caller sizes segments so this cannot happen */
    int64_t w = io->write_at(io->ctx, seg->file, buf, len, seg->size);
    if (w < 0)
        return (int)w;
    if ((size_t)w != len)
        return -EIO;
    seg->size += len;
    /* Keep the page cache's dirty data for this segment small, so sealing it (a sync) never
     * stalls a write for long: start writeback every LOG_WRITEBACK_CHUNK bytes. */
    if (io->writeback && seg->size - seg->written_back >= LOG_WRITEBACK_CHUNK) {
        io->writeback(io->ctx, seg->file, seg->written_back, seg->size - seg->written_back);
        seg->written_back = seg->size;
    }
    return 0;
}

/* The next offset >= from, aligned, at which a valid record starts, or 0 if none. */
static uint64_t find_next_valid(const log_segment *seg, uint64_t from)
{
    for (uint64_t off = fmt_align(from); off + FMT_RECORD_HEADER_SIZE <= seg->size;
         off += FMT_RECORD_ALIGN) {
        fmt_record r;
        if (fmt_record_validate(seg->map + off, seg->size - off, &r) == 0)
            return off;
    }
    return 0;
}

int log_scan(log_segment *seg, uint64_t start, bool is_last, bool paranoid, log_record_fn fn,
             void *arg, log_scan_result *res)
{
    memset(res, 0, sizeof *res);
    int hc = fmt_segment_header_check(seg->map, seg->size, seg->number);
    if (hc == -2)
        return AXS_ENOTSUP;
    if (hc) {
        /* A segment whose header never reached the disk is an empty torn tail; anything
         * else with a damaged header is corruption. */
        if (is_last && seg->size < FMT_SEG_HEADER_SIZE + FMT_RECORD_HEADER_SIZE) {
            res->torn_tail = true;
            res->valid_end = 0;
            return 0;
        }
        res->bad_offset = 0;
        return AXS_ECORRUPT;
    }
    if (start < FMT_SEG_HEADER_SIZE)
        start = FMT_SEG_HEADER_SIZE;
    uint64_t off = start;
    while (off < seg->size) {
        fmt_record r;
        if (off + FMT_RECORD_HEADER_SIZE <= seg->size &&
            fmt_record_validate(seg->map + off, seg->size - off, &r) == 0) {
            int rc = fn ? fn(arg, seg, off, &r) : 0;
            if (rc)
                return rc;
            res->records++;
            res->sealed = r.type == FMT_RECORD_SEAL;
            off += fmt_align(r.length);
            if (off > seg->size) {
                /* A complete record whose zero padding was cut. In the last segment that is
                 * a torn write: the valid end is the padded end, since the next record must
                 * start aligned (the caller's truncation extends the file with zeros). A
                 * sealed segment cut there lost its SEAL, which the caller reports. */
                if (is_last)
                    res->torn_tail = true;
                else
                    off = seg->size;
                break;
            }
            continue;
        }
        uint64_t next = find_next_valid(seg, off + FMT_RECORD_ALIGN);
        if (next == 0 && is_last) {
            res->torn_tail = true; /* nothing valid follows: a torn last write */
            break;
        }
        if (!res->skipped && !res->bad_offset)
            res->bad_offset = off;
        if (paranoid) {
            res->bad_offset = off;
            return AXS_ECORRUPT;
        }
        res->skipped++;
        if (next == 0) {
            off = seg->size; /* damage runs to the end of a sealed segment */
            break;
        }
        off = next;
    }
    res->valid_end = off < seg->size ? off : seg->size;
    if (res->torn_tail)
        res->valid_end = off;
    /* Started past the segment's last record (a checkpoint's position): it is sealed if its
     * final 24 bytes are a valid SEAL record, since a SEAL is always the last record. */
    fmt_record last;
    if (res->records == 0 && !res->skipped && !res->torn_tail && start > FMT_SEG_HEADER_SIZE &&
        start == seg->size && seg->size >= FMT_SEG_HEADER_SIZE + FMT_RECORD_HEADER_SIZE &&
        fmt_record_validate(seg->map + seg->size - FMT_RECORD_HEADER_SIZE,
                            FMT_RECORD_HEADER_SIZE, &last) == 0 &&
        last.type == FMT_RECORD_SEAL)
        res->sealed = true;
    return 0;
}
