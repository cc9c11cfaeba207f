/*
 * format.h: AlexStorage's on-disk formats: constants, encoding and validation
 * (internal; prefix fmt_). docs/format.md is the byte-by-byte description and the reference;
 * every constant here is frozen once released, and changing a layout means a new version.
 *
 * All integers are little-endian. All checksums are CRC32C (Castagnoli), masked as LevelDB
 * masks them so that a checksum over bytes that contain checksums stays strong:
 *     masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8
 * Structures are read with memcpy-based accessors, never by casting pointers into the file,
 * and every length read from disk is bounds-checked before it is used (STYLE.md 7).
 */
#ifndef ALEXSTORAGE_FORMAT_H
#define ALEXSTORAGE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Version written; readers accept FMT_MIN_VERSION..FMT_VERSION. Version 2 added the
 * DELETE_RANGE entry (docs/format.md). */
#define FMT_VERSION 2u
#define FMT_MIN_VERSION 1u
#define FMT_VERSION_OK(v) ((v) >= FMT_MIN_VERSION && (v) <= FMT_VERSION)

/* ---- Marker file "ALEXSTORAGE" (24 bytes) ---- */
#define FMT_MARKER_NAME "ALEXSTORAGE"
#define FMT_MARKER_MAGIC "ALEXSTOR"
#define FMT_MARKER_SIZE 24u

/* ---- Segment files "<10-digit number>.seg" ---- */
#define FMT_SEG_MAGIC "ALEXSEG\0"
#define FMT_SEG_HEADER_SIZE 32u
#define FMT_RECORD_ALIGN 8u

/* Record header: 24 bytes, then `count` entries, then zero padding to FMT_RECORD_ALIGN. */
#define FMT_RECORD_HEADER_SIZE 24u
enum { FMT_RECORD_WRITE = 1, FMT_RECORD_COMPACTED = 2, FMT_RECORD_SEAL = 3 };
/* A SEAL record (no entries, length 24) is the last record of every segment that is not the
 * last one: a sealed segment without it has lost its end. */

/* Entry header: 16 bytes, then the key, then the stored value. */
#define FMT_ENTRY_HEADER_SIZE 16u
/* DELETE_RANGE (format version 2): key = begin (inclusive), value = end (exclusive). */
enum { FMT_ENTRY_PUT = 1, FMT_ENTRY_DELETE = 2, FMT_ENTRY_DELETE_RANGE = 3 };
#define FMT_ENTRY_FLAG_LZ4 0x01u /* stored value = 4-byte raw length + LZ4 block */

/* ---- Checkpoint file "CHECKPOINT" ---- */
#define FMT_CKPT_NAME "CHECKPOINT"
#define FMT_CKPT_TMP_NAME "CHECKPOINT.tmp"
#define FMT_CKPT_MAGIC "ALEXCKPT"
#define FMT_CKPT_HEADER_SIZE 64u
#define FMT_CKPT_BLOCK_LOCS 4096u /* locations per checksummed block */

#define FMT_LOCK_NAME "LOCK"

/* A location names an entry: segment number (23 bits) and byte offset in it (40 bits). */
#define FMT_LOC_OFFSET_BITS 40
#define FMT_LOC_MAX_SEGMENT ((UINT64_C(1) << 23) - 1)
#define FMT_LOC_MAX_OFFSET ((UINT64_C(1) << FMT_LOC_OFFSET_BITS) - 1)

static inline uint64_t fmt_loc(uint64_t segment, uint64_t offset)
{
    return (segment << FMT_LOC_OFFSET_BITS) | offset;
}
static inline uint64_t fmt_loc_segment(uint64_t loc)
{
    return loc >> FMT_LOC_OFFSET_BITS;
}
static inline uint64_t fmt_loc_offset(uint64_t loc)
{
    return loc & FMT_LOC_MAX_OFFSET;
}

/* ---- Little-endian accessors ---- */
static inline uint32_t fmt_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t fmt_get64(const uint8_t *p)
{
    return (uint64_t)fmt_get32(p) | (uint64_t)fmt_get32(p + 4) << 32;
}
static inline void fmt_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void fmt_put64(uint8_t *p, uint64_t v)
{
    fmt_put32(p, (uint32_t)v);
    fmt_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t fmt_align(uint64_t n)
{
    return (n + FMT_RECORD_ALIGN - 1) & ~(uint64_t)(FMT_RECORD_ALIGN - 1);
}

/* ---- Checksums ---- */
uint32_t fmt_crc32c(const void *data, size_t len);
uint32_t fmt_crc32c_extend(uint32_t crc, const void *data, size_t len);
static inline uint32_t fmt_mask_crc(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

/* ---- Entries ---- */

/* A decoded entry header, pointing into the bytes it was decoded from. */
typedef struct fmt_entry {
    uint8_t type;  /* FMT_ENTRY_PUT or FMT_ENTRY_DELETE */
    uint8_t flags; /* FMT_ENTRY_FLAG_* */
    uint32_t klen;
    uint32_t vlen_stored;
    const uint8_t *key;
    const uint8_t *value; /* stored bytes (compressed form if FMT_ENTRY_FLAG_LZ4) */
    uint32_t crc_stored;  /* the masked CRC field as written */
} fmt_entry;

static inline uint64_t fmt_entry_size(uint32_t klen, uint32_t vlen_stored)
{
    return FMT_ENTRY_HEADER_SIZE + (uint64_t)klen + vlen_stored;
}

/* Writes an entry (header + key + stored value) at dst, which has room for
 * fmt_entry_size(klen, vlen_stored) bytes, and fills in its CRC. Returns the masked CRC. */
uint32_t fmt_entry_encode(uint8_t *dst, uint8_t type, uint8_t flags, const void *key,
                          uint32_t klen, const void *value, uint32_t vlen_stored);

/* Decodes the entry at p, given that `avail` bytes are readable there. Checks sizes and
 * type; checks the CRC only if verify. Returns 0, or -1 if the bytes are not a valid entry. */
int fmt_entry_decode(const uint8_t *p, uint64_t avail, bool verify, fmt_entry *e);

/* ---- Records ---- */

typedef struct fmt_record {
    uint8_t type;      /* FMT_RECORD_WRITE, FMT_RECORD_COMPACTED or FMT_RECORD_SEAL */
    uint32_t count;    /* entries */
    uint64_t sequence; /* of the first entry (WRITE); informational for COMPACTED */
    uint32_t length;   /* header + entries, without padding */
} fmt_record;

/* Fills the 24-byte header at dst for entries whose masked CRCs have been folded into
 * entry_crcs_crc (fmt_crc32c_extend over each entry's 4 CRC bytes, starting from 0). */
void fmt_record_header_encode(uint8_t *dst, uint8_t type, uint32_t count, uint64_t sequence,
                              uint32_t length, uint32_t entry_crcs_crc);

/* Validates the whole record at p (avail readable bytes): header fields, every entry's size,
 * type and CRC, and the record CRC. Returns 0 and fills *r, or -1. */
int fmt_record_validate(const uint8_t *p, uint64_t avail, fmt_record *r);

/* ---- Segment header ---- */
void fmt_segment_header_encode(uint8_t dst[FMT_SEG_HEADER_SIZE], uint64_t number);
/* 0 if valid and for segment `number`; -1 corrupt; -2 newer version. */
int fmt_segment_header_check(const uint8_t *p, uint64_t avail, uint64_t number);

/* ---- Marker ---- */
void fmt_marker_encode(uint8_t dst[FMT_MARKER_SIZE]);
/* 0 valid; -1 not ours / corrupt; -2 newer version. */
int fmt_marker_check(const uint8_t *p, uint64_t len);

#endif /* ALEXSTORAGE_FORMAT_H */
