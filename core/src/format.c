/*
 * format.c: encoding and validation of the on-disk structures (docs/format.md).
 * Nothing here trusts a byte it reads: every length is checked against what is readable.
 */
#include "format.h"

#include <isa-l/crc.h>

uint32_t fmt_crc32c_extend(uint32_t crc, const void *data, size_t len)
{
    /* ISA-L's crc32_iscsi is CRC32C without the final inversion; chain through ~crc. */
    uint32_t state = ~crc;
    const unsigned char *p = data;
    while (len > 0) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        state = crc32_iscsi((unsigned char *)p, chunk, state);
        p += chunk;
        len -= (size_t)chunk;
    }
    return ~state;
}

uint32_t fmt_crc32c(const void *data, size_t len)
{
    return fmt_crc32c_extend(0, data, len);
}

uint32_t fmt_entry_encode(uint8_t *dst, uint8_t type, uint8_t flags, const void *key,
                          uint32_t klen, const void *value, uint32_t vlen_stored)
{
    dst[4] = type;
    dst[5] = flags;
    dst[6] = dst[7] = 0;
    fmt_put32(dst + 8, klen);
    fmt_put32(dst + 12, vlen_stored);
    if (klen)
        memcpy(dst + FMT_ENTRY_HEADER_SIZE, key, klen);
    if (vlen_stored && value != dst + FMT_ENTRY_HEADER_SIZE + klen)
        memcpy(dst + FMT_ENTRY_HEADER_SIZE + klen, value, vlen_stored);
    uint32_t crc = fmt_mask_crc(
        fmt_crc32c(dst + 4, (size_t)fmt_entry_size(klen, vlen_stored) - 4));
    fmt_put32(dst, crc);
    return crc;
}

int fmt_entry_decode(const uint8_t *p, uint64_t avail, bool verify, fmt_entry *e)
{
    if (avail < FMT_ENTRY_HEADER_SIZE)
        return -1;
    e->crc_stored = fmt_get32(p);
    e->type = p[4];
    e->flags = p[5];
    e->klen = fmt_get32(p + 8);
    e->vlen_stored = fmt_get32(p + 12);
    if (e->type != FMT_ENTRY_PUT && e->type != FMT_ENTRY_DELETE &&
        e->type != FMT_ENTRY_DELETE_RANGE)
        return -1;
    if ((e->flags & ~FMT_ENTRY_FLAG_LZ4) || p[6] || p[7])
        return -1;
    if (e->type == FMT_ENTRY_DELETE && (e->vlen_stored || e->flags))
        return -1;
    if (e->type == FMT_ENTRY_DELETE_RANGE && e->flags)
        return -1;
    if (fmt_entry_size(e->klen, e->vlen_stored) > avail)
        return -1;
    e->key = p + FMT_ENTRY_HEADER_SIZE;
    e->value = e->key + e->klen;
    if (verify) {
        uint32_t crc = fmt_crc32c(p + 4, (size_t)fmt_entry_size(e->klen, e->vlen_stored) - 4);
        if (fmt_mask_crc(crc) != e->crc_stored)
            return -1;
    }
    return 0;
}

void fmt_record_header_encode(uint8_t *dst, uint8_t type, uint32_t count, uint64_t sequence,
                              uint32_t length, uint32_t entry_crcs_crc)
{
    fmt_put32(dst + 4, length);
    fmt_put64(dst + 8, sequence);
    fmt_put32(dst + 16, count);
    dst[20] = type;
    dst[21] = dst[22] = dst[23] = 0;
    /* Record CRC: over the entry CRCs (folded as the batch was built), then header [4, 24). */
    fmt_put32(dst, fmt_mask_crc(fmt_crc32c_extend(entry_crcs_crc, dst + 4, 20)));
}

int fmt_record_validate(const uint8_t *p, uint64_t avail, fmt_record *r)
{
    if (avail < FMT_RECORD_HEADER_SIZE)
        return -1;
    r->length = fmt_get32(p + 4);
    r->sequence = fmt_get64(p + 8);
    r->count = fmt_get32(p + 16);
    r->type = p[20];
    if (r->type != FMT_RECORD_WRITE && r->type != FMT_RECORD_COMPACTED &&
        r->type != FMT_RECORD_SEAL)
        return -1;
    if (p[21] || p[22] || p[23])
        return -1;
    if ((r->type == FMT_RECORD_SEAL) != (r->count == 0))
        return -1;
    if (r->type == FMT_RECORD_SEAL && r->length != FMT_RECORD_HEADER_SIZE)
        return -1;
    if (r->length > avail ||
        r->length < FMT_RECORD_HEADER_SIZE + (uint64_t)r->count * FMT_ENTRY_HEADER_SIZE)
        return -1;
    uint32_t crcs = 0;
    uint64_t off = FMT_RECORD_HEADER_SIZE;
    for (uint32_t i = 0; i < r->count; i++) {
        fmt_entry e;
        if (fmt_entry_decode(p + off, r->length - off, true, &e))
            return -1;
        crcs = fmt_crc32c_extend(crcs, p + off, 4);
        off += fmt_entry_size(e.klen, e.vlen_stored);
    }
    if (off != r->length)
        return -1;
    if (fmt_mask_crc(fmt_crc32c_extend(crcs, p + 4, 20)) != fmt_get32(p))
        return -1;
    return 0;
}

void fmt_segment_header_encode(uint8_t dst[FMT_SEG_HEADER_SIZE], uint64_t number)
{
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): 8 magic bytes, no NUL on disk */
    memcpy(dst, FMT_SEG_MAGIC, 8);
    fmt_put32(dst + 8, FMT_VERSION);
    fmt_put32(dst + 12, 0);
    fmt_put64(dst + 16, number);
    fmt_put32(dst + 24, 0);
    fmt_put32(dst + 28, fmt_mask_crc(fmt_crc32c(dst, 28)));
}

int fmt_segment_header_check(const uint8_t *p, uint64_t avail, uint64_t number)
{
    if (avail < FMT_SEG_HEADER_SIZE || memcmp(p, FMT_SEG_MAGIC, 8) != 0)
        return -1;
    if (fmt_mask_crc(fmt_crc32c(p, 28)) != fmt_get32(p + 28))
        return -1;
    if (fmt_get32(p + 8) > FMT_VERSION)
        return -2;
    if (!FMT_VERSION_OK(fmt_get32(p + 8)) || fmt_get64(p + 16) != number)
        return -1;
    return 0;
}

void fmt_marker_encode(uint8_t dst[FMT_MARKER_SIZE])
{
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): 8 magic bytes, no NUL on disk */
    memcpy(dst, FMT_MARKER_MAGIC, 8);
    fmt_put32(dst + 8, FMT_VERSION);
    fmt_put32(dst + 12, 0);
    fmt_put32(dst + 16, 0);
    fmt_put32(dst + 20, fmt_mask_crc(fmt_crc32c(dst, 20)));
}

int fmt_marker_check(const uint8_t *p, uint64_t len)
{
    if (len != FMT_MARKER_SIZE || memcmp(p, FMT_MARKER_MAGIC, 8) != 0)
        return -1;
    if (fmt_mask_crc(fmt_crc32c(p, 20)) != fmt_get32(p + 20))
        return -1;
    if (fmt_get32(p + 8) > FMT_VERSION)
        return -2;
    return FMT_VERSION_OK(fmt_get32(p + 8)) ? 0 : -1;
}
