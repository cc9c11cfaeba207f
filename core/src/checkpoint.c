/*
 * checkpoint.c: the index checkpoint (docs/format.md, "Checkpoint file"): every key's
 * location in key order, so an open can bulk-load the index instead of replaying the log.
 *
 * A checkpoint is written to CHECKPOINT.tmp, synced, renamed over CHECKPOINT and the
 * directory synced. Loading trusts nothing: header, segment table and every block of
 * locations are checksummed, and every location is checked against the open segments
 * (bounds and entry header) before the index takes it. Any failure makes the open ignore the
 * checkpoint and replay the whole log instead. Each entry's CRC is checked too: a damaged
 * key must be reported as corruption by the replay, never filed under the wrong bytes.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

static int ckpt_put_bytes(axs_db *db, axs_file *f, uint64_t *off, const void *p, size_t len)
{
    int64_t w = db->io->write_at(db->io->ctx, f, p, len, *off);
    if (w < 0)
        return (int)w;
    if ((size_t)w != len)
        return -EIO;
    *off += len;
    return 0;
}

int ckpt_write(axs_db *db, const ckpt_info *info)
{
    const axs_io *io = db->io;
    char tmp[4096], final[4096];
    snprintf(tmp, sizeof tmp, "%s/%s", db->path, FMT_CKPT_TMP_NAME);
    snprintf(final, sizeof final, "%s/%s", db->path, FMT_CKPT_NAME);

    /* Segment table: every open segment with its live bytes. */
    uint32_t nseg = 0;
    for (size_t i = 0; i < db->seg_count; i++)
        nseg += db->segs[i] != NULL;
    size_t table_len = (size_t)nseg * 16 + 4;
    uint8_t *table = malloc(table_len);
    uint8_t *block = malloc(FMT_CKPT_BLOCK_LOCS * 16 + 4);
    if (!table || !block) {
        free(table);
        free(block);
        return AXS_ENOMEM;
    }
    uint32_t k = 0;
    for (size_t i = 0; i < db->seg_count; i++) {
        if (!db->segs[i])
            continue;
        fmt_put64(table + 16 * k, db->segs[i]->number);
        fmt_put64(table + 16 * k + 8, db->segs[i]->live_bytes);
        k++;
    }
    fmt_put32(table + 16 * nseg, fmt_mask_crc(fmt_crc32c(table, 16 * (size_t)nseg)));

    uint8_t hdr[FMT_CKPT_HEADER_SIZE];
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): 8 magic bytes, no NUL on disk */
    memcpy(hdr, FMT_CKPT_MAGIC, 8);
    const uint8_t *prefix;
    size_t plen = kix_count(db_wview(db)->index) ? kix_prefix(db_wview(db)->index, &prefix) : 0;
    uint8_t pbuf[KIX_MAX_PREFIX + 4];
    if (plen)
        memcpy(pbuf, prefix, plen);
    fmt_put32(pbuf + plen, fmt_mask_crc(fmt_crc32c(pbuf, plen)));
    fmt_put32(hdr + 8, FMT_VERSION);
    fmt_put32(hdr + 12, (uint32_t)plen);
    fmt_put64(hdr + 16, info->last_sequence);
    fmt_put64(hdr + 24, info->position_segment);
    fmt_put64(hdr + 32, info->position_offset);
    fmt_put64(hdr + 40, info->num_keys);
    fmt_put64(hdr + 48, info->min_live_segment);
    fmt_put32(hdr + 56, nseg);
    fmt_put32(hdr + 60, fmt_mask_crc(fmt_crc32c(hdr, 60)));

    axs_file *f;
    int rc = io->open(io->ctx, tmp, AXS_IO_WRITE | AXS_IO_CREATE | AXS_IO_TRUNCATE, &f);
    if (rc) {
        free(table);
        free(block);
        return db_set_error(db, db_errno_to_code(rc), "IO error: %s: %s", tmp, strerror(-rc));
    }
    uint64_t off = 0;
    rc = ckpt_put_bytes(db, f, &off, hdr, sizeof hdr);
    if (!rc)
        rc = ckpt_put_bytes(db, f, &off, table, table_len);
    if (!rc)
        rc = ckpt_put_bytes(db, f, &off, pbuf, plen + 4);
    kix_cursor c;
    bool on = kix_first(db_wview(db)->index, &c);
    uint64_t written = 0;
    while (!rc && on) {
        uint32_t nb = 0;
        for (; on && nb < FMT_CKPT_BLOCK_LOCS; nb++) {
            fmt_put64(block + 16 * nb, kix_cursor_loc(db_wview(db)->index, &c));
            fmt_put64(block + 16 * nb + 8, kix_cursor_root_akey(db_wview(db)->index, &c));
            on = kix_next(db_wview(db)->index, &c);
        }
        fmt_put32(block + 16 * nb, fmt_mask_crc(fmt_crc32c(block, 16 * (size_t)nb)));
        rc = ckpt_put_bytes(db, f, &off, block, 16 * (size_t)nb + 4);
        written += nb;
    }
    if (!rc && written != info->num_keys)
        rc = -EIO; /* cannot happen: the caller holds the lock */
    if (!rc && (rc = io->sync(io->ctx, f)) != 0)
        db->failed = AXS_EIO; /* never carry on after a failed sync (STYLE.md 8) */
    io->close(io->ctx, f);
    if (!rc)
        rc = io->rename(io->ctx, tmp, final);
    if (!rc && (rc = io->sync_dir(io->ctx, db->path)) != 0)
        db->failed = AXS_EIO;
    free(table);
    free(block);
    if (rc) {
        io->remove(io->ctx, tmp);
        return db_set_error(db, db_errno_to_code(rc), "IO error: writing checkpoint: %s",
                            strerror(-rc));
    }
    return AXS_OK;
}

static int pair_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts n (key, value) pairs stored as v[2i], v[2i+1] by key; tmp has room for 2n values.
 * Equal keys may end in any order (the caller rejects them). Below a few thousand pairs the
 * radix sort's four passes over 65,536 counters cost more than a comparison sort. */
static int radix_sort_pairs(uint64_t *v, uint64_t *tmp, size_t n)
{
    if (n < 4096) {
        qsort(v, n, 2 * sizeof *v, pair_cmp);
        return AXS_OK;
    }
    size_t *count = malloc(sizeof(size_t) << 16);
    if (!count)
        return AXS_ENOMEM;
    for (unsigned shift = 0; shift < 64; shift += 16) {
        memset(count, 0, sizeof(size_t) << 16);
        for (size_t i = 0; i < n; i++)
            count[(v[2 * i] >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t d = 0; d < (1u << 16); d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            size_t at = count[(v[2 * i] >> shift) & 0xffff]++;
            tmp[2 * at] = v[2 * i];
            tmp[2 * at + 1] = v[2 * i + 1];
        }
        memcpy(v, tmp, 2 * n * sizeof *v);
    }
    free(count);
    return AXS_OK;
}

static int ckpt_bad(axs_db *db, const char *why)
{
    return db_set_error(db, AXS_ECORRUPT, "Corruption: checkpoint ignored: %s", why);
}

int ckpt_load(axs_db *db, ckpt_info *info)
{
    const axs_io *io = db->io;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", db->path, FMT_CKPT_NAME);
    axs_file *f;
    int rc = io->open(io->ctx, path, AXS_IO_READ, &f);
    if (rc == -ENOENT)
        return AXS_ENOTFOUND;
    if (rc)
        return ckpt_bad(db, "cannot open");
    uint64_t size = 0;
    const uint8_t *m = NULL;
    rc = io->size(io->ctx, f, &size);
    if (!rc && size >= FMT_CKPT_HEADER_SIZE)
        rc = io->map(io->ctx, f, (size_t)size, (const void **)&m);
    int result = AXS_OK;
    uint64_t *locs = NULL;
    if (rc || size < FMT_CKPT_HEADER_SIZE) {
        result = ckpt_bad(db, "unreadable or too short");
        goto out;
    }
    if (memcmp(m, FMT_CKPT_MAGIC, 8) != 0 || fmt_mask_crc(fmt_crc32c(m, 60)) != fmt_get32(m + 60)) {
        result = ckpt_bad(db, "bad header");
        goto out;
    }
    if (!FMT_VERSION_OK(fmt_get32(m + 8))) {
        result = fmt_get32(m + 8) > FMT_VERSION
                     ? db_set_error(db, AXS_ENOTSUP, "Not supported: checkpoint has format "
                                                     "version %" PRIu32 ", newer than this "
                                                     "library's %u", fmt_get32(m + 8), FMT_VERSION)
                     : ckpt_bad(db, "unknown version");
        goto out;
    }
    info->last_sequence = fmt_get64(m + 16);
    info->position_segment = fmt_get64(m + 24);
    info->position_offset = fmt_get64(m + 32);
    info->num_keys = fmt_get64(m + 40);
    info->min_live_segment = fmt_get64(m + 48);
    uint32_t nseg = fmt_get32(m + 56);
    uint32_t plen = fmt_get32(m + 12);
    uint64_t nblocks = (info->num_keys + FMT_CKPT_BLOCK_LOCS - 1) / FMT_CKPT_BLOCK_LOCS;
    uint64_t expect = FMT_CKPT_HEADER_SIZE + (uint64_t)nseg * 16 + 4 + (uint64_t)plen + 4 +
                      info->num_keys * 16 + nblocks * 4;
    if (plen > KIX_MAX_PREFIX) {
        result = ckpt_bad(db, "prefix too long");
        goto out;
    }
    if (info->num_keys > (UINT64_C(1) << 40) || expect != size) {
        result = ckpt_bad(db, "size does not match its header");
        goto out;
    }
    const uint8_t *table = m + FMT_CKPT_HEADER_SIZE;
    if (fmt_mask_crc(fmt_crc32c(table, 16 * (size_t)nseg)) != fmt_get32(table + 16 * nseg)) {
        result = ckpt_bad(db, "bad segment table");
        goto out;
    }
    /* Replay resumes at the position, so its segment is live: a checkpoint saying otherwise
     * would have every segment up to it removed as obsolete. */
    if (info->min_live_segment > info->position_segment) {
        result = ckpt_bad(db, "oldest live segment after the position");
        goto out;
    }
    /* The position must be inside an open segment, and every live segment must be there. */
    log_segment *pos = db_segment(db, info->position_segment);
    if (!pos || info->position_offset < FMT_SEG_HEADER_SIZE ||
        info->position_offset > pos->size) {
        /* The checkpoint's own checksums are good, so the log was synced up to its position
         * before it was written: a shorter log has lost data. */
        info->log_truncated = true;
        result = db_set_error(db, AXS_ECORRUPT,
                              "Corruption: the log ends before the checkpoint's position "
                              "(segment %" PRIu64 ", offset %" PRIu64 ")",
                              info->position_segment, info->position_offset);
        goto out;
    }
    /* The position must be a record boundary: the replay resumes there, and would cut the log
     * there as a torn tail if a record straddled it. The log up to the position was synced
     * before the checkpoint was written, so the records' lengths, followed from the start of
     * the segment, lead to it exactly (docs/format.md, "Record"); if not, the checkpoint is
     * wrong. One header read per record, in one segment. */
    uint64_t at = FMT_SEG_HEADER_SIZE, pos_size = pos->size;
    while (pos->map && at < info->position_offset && pos_size - at >= FMT_RECORD_HEADER_SIZE) {
        uint32_t rlen = fmt_get32(pos->map + at + 4);
        if (rlen < FMT_RECORD_HEADER_SIZE)
            break;
        at += fmt_align(rlen);
    }
    if (at != info->position_offset) {
        result = ckpt_bad(db, "its position is not a record boundary");
        goto out;
    }
    for (uint32_t i = 0; i < nseg; i++) {
        uint64_t num = fmt_get64(table + 16 * i);
        log_segment *s = db_segment(db, num);
        if (num >= info->min_live_segment && !s) {
            /* A sound checkpoint names it, so it existed and held live data: it was lost.
             * (Compaction removes only segments below min_live, after the checkpoint.) */
            info->log_truncated = true;
            result = db_set_error(db, AXS_ECORRUPT,
                                  "Corruption: segment %" PRIu64 ", which the checkpoint "
                                  "names, is missing", num);
            goto out;
        }
        if (s)
            s->live_bytes = fmt_get64(table + 16 * i + 8);
    }
    const uint8_t *prefix = table + 16 * (size_t)nseg + 4;
    if (fmt_mask_crc(fmt_crc32c(prefix, plen)) != fmt_get32(prefix + plen)) {
        result = ckpt_bad(db, "bad prefix");
        goto out;
    }
    /* locs and akeys in key order, then (location, ALEX key) pairs sorted by location. */
    size_t nk = (size_t)(info->num_keys ? info->num_keys : 1);
    locs = malloc(nk * 6 * sizeof *locs);
    if (!locs) {
        result = AXS_ENOMEM;
        goto out;
    }
    uint64_t *akeys = locs + nk, *pairs = akeys + nk, *tmp = pairs + 2 * nk;
    const uint8_t *p = prefix + plen + 4;
    for (uint64_t done = 0; done < info->num_keys;) {
        uint64_t nb = info->num_keys - done < FMT_CKPT_BLOCK_LOCS ? info->num_keys - done
                                                                    : FMT_CKPT_BLOCK_LOCS;
        if (fmt_mask_crc(fmt_crc32c(p, 16 * nb)) != fmt_get32(p + 16 * nb)) {
            result = ckpt_bad(db, "bad block of locations");
            goto out;
        }
        for (uint64_t j = 0; j < nb; j++) {
            locs[done + j] = fmt_get64(p + 16 * j);
            akeys[done + j] = fmt_get64(p + 16 * j + 8);
        }
        p += 16 * nb + 4;
        done += nb;
    }
    /* The index build below reads every key in key order, i.e. at random: fault the mapped
     * segments in sequentially first. */
    if (io->populate)
        for (size_t i = 0; i < db->seg_count; i++)
            if (db->segs[i] && db->segs[i]->size && db->segs[i]->map)
                io->populate(io->ctx, db->segs[i]->file, db->segs[i]->map,
                             (size_t)db->segs[i]->size);
    /* Check, in log order so that the reads are sequential, that every location names a PUT
     * entry (header and CRC) in a live segment, wholly before the position, and that its key
     * starts with the prefix and has the ALEX key the checkpoint gives it. The index then
     * needs to read keys only where ALEX keys are equal. */
    for (uint64_t j = 0; j < info->num_keys; j++) {
        pairs[2 * j] = locs[j];
        pairs[2 * j + 1] = akeys[j];
    }
    if (radix_sort_pairs(pairs, tmp, (size_t)info->num_keys) != AXS_OK) {
        result = AXS_ENOMEM;
        goto out;
    }
    for (uint64_t j = 0; j < info->num_keys; j++) {
        uint64_t loc = pairs[2 * j];
        fmt_entry e;
        log_segment *s = db_segment(db, fmt_loc_segment(loc));
        if (!s || s->number < info->min_live_segment ||
            (s->number == info->position_segment &&
             fmt_loc_offset(loc) >= info->position_offset) ||
            s->number > info->position_segment || (j && loc == pairs[2 * j - 2]) ||
            db_entry_at(db, loc, true, &e) != AXS_OK || e.type != FMT_ENTRY_PUT ||
            /* the whole entry before the position, which the replay may cut the log at */
            (s->number == info->position_segment &&
             fmt_loc_offset(loc) + fmt_entry_size(e.klen, e.vlen_stored) >
                 info->position_offset) ||
            e.klen < plen || (plen && memcmp(e.key, prefix, plen) != 0) ||
            kix_akey(e.key, e.klen, plen) != pairs[2 * j + 1]) {
            result = ckpt_bad(db, "a location does not name a stored entry");
            goto out;
        }
    }
    if (kix_bulk_load_hinted(db->views[0].index, locs, akeys, info->num_keys, prefix, plen) != AXI_OK) {
        result = ckpt_bad(db, "keys are not in order");
        goto out;
    }
out:
    free(locs);
    if (m)
        io->unmap(io->ctx, f, m, (size_t)size);
    io->close(io->ctx, f);
    return result;
}
