/*
 * writebatch.h: rocksdb_writebatch_t, RocksDB's WriteBatch in RocksDB's own byte format, and
 * the internal API the plugin's write path reads batches through.
 *
 * Contract (docs/writebatch.md has the byte format, byte by byte, and the save point rules):
 *  1. The batch's bytes ("rep") are exactly what RocksDB 7.8.3 builds for the same calls:
 *     rocksdb_writebatch_data() of ours and of the real librocksdb are byte-identical, so a rep
 *     can travel between the two (hybrid mode feeds ours to the real
 *     rocksdb_writebatch_create_from). plugin/tests/batch/ checks this against the real library.
 *  2. rocksdb_writebatch_create_from() copies any bytes without checking them, as RocksDB does;
 *     a malformed rep is reported when it is read: axp_batch_foreach() returns
 *     AXP_BATCH_CORRUPT, rocksdb_writebatch_iterate() stops early. Nothing here ever reads
 *     outside the rep, whatever its bytes (a fuzz target).
 *  3. The rocksdb_writebatch_* appenders return void, so a record that cannot be added (a key,
 *     value or blob of 4 GiB or more, which a varint32 length cannot describe; a negative
 *     number of slices; out of memory) is dropped, as RocksDB drops a Put whose Status the C
 *     API ignores, and the batch remembers the failure: axp_batch_foreach() then refuses the
 *     whole batch with AXP_BATCH_INVALID ("Invalid argument: ...") rather than write part of
 *     it. rocksdb_writebatch_clear() and rolling back to a save point taken before the failure
 *     forget it.
 *  4. Ownership: the batch owns its rep; rocksdb_writebatch_data() and axp_batch_rep() return
 *     a pointer into it, valid until the next call that changes the batch. Keys and values
 *     handed to callbacks point into the rep too, valid only during the callback.
 *  5. Not thread-safe: a batch is used by one thread at a time (RocksDB's rule too); reading a
 *     batch (count, data, iterate, axp_batch_foreach) from several threads at once is safe as
 *     long as nobody changes it.
 *  6. Column families: the plugin has only the default column family, so the *_cf appenders
 *     are not defined here (the generator stubs them). Records of other column families can
 *     still arrive through create_from; axp_batch_foreach() reports their id in op->cf.
 */
#ifndef ALEXSTORAGE_PLUGIN_WRITEBATCH_H
#define ALEXSTORAGE_PLUGIN_WRITEBATCH_H

#include <stddef.h>
#include <stdint.h>

#include <rocksdb/c.h>

/* ---- the frozen byte format (RocksDB's db/dbformat.h ValueType; docs/writebatch.md) ---------- */

enum {
    AXP_BATCH_HEADER = 12, /* 8-byte LE sequence number, then 4-byte LE record count */
};

typedef enum axp_batch_tag {
    AXP_TAG_DELETION = 0x00,
    AXP_TAG_VALUE = 0x01,
    AXP_TAG_MERGE = 0x02,
    AXP_TAG_LOG_DATA = 0x03,
    AXP_TAG_CF_DELETION = 0x04,
    AXP_TAG_CF_VALUE = 0x05,
    AXP_TAG_CF_MERGE = 0x06,
    AXP_TAG_SINGLE_DELETION = 0x07,
    AXP_TAG_CF_SINGLE_DELETION = 0x08,
    AXP_TAG_BEGIN_PREPARE_XID = 0x09,
    AXP_TAG_END_PREPARE_XID = 0x0A,
    AXP_TAG_COMMIT_XID = 0x0B,
    AXP_TAG_ROLLBACK_XID = 0x0C,
    AXP_TAG_NOOP = 0x0D,
    AXP_TAG_CF_RANGE_DELETION = 0x0E,
    AXP_TAG_RANGE_DELETION = 0x0F,
    AXP_TAG_CF_BLOB_INDEX = 0x10,
    AXP_TAG_BLOB_INDEX = 0x11,
    AXP_TAG_BEGIN_PERSISTED_PREPARE_XID = 0x12,
    AXP_TAG_BEGIN_UNPREPARE_XID = 0x13,
    /* 0x14 (deletion with timestamp) exists only inside RocksDB's memtable: not a batch tag */
    AXP_TAG_COMMIT_XID_AND_TIMESTAMP = 0x15,
    AXP_TAG_WIDE_COLUMN_ENTITY = 0x16,
    AXP_TAG_CF_WIDE_COLUMN_ENTITY = 0x17,
} axp_batch_tag;

/* ---- reading a batch ---------------------------------------------------------------------------- */

typedef enum axp_op_type {
    AXP_OP_PUT,           /* key, value */
    AXP_OP_DELETE,        /* key */
    AXP_OP_SINGLE_DELETE, /* key */
    AXP_OP_MERGE,         /* key, value = merge operand */
    AXP_OP_DELETE_RANGE,  /* key = begin (inclusive), value = end (exclusive) */
    AXP_OP_LOG_DATA,      /* value = the blob; not counted; never applied to the database */
    /* Valid RocksDB records the plugin's engine does not model; the write path should refuse a
     * batch holding one (RocksDB itself refuses most of them outside BlobDB/TransactionDB). */
    AXP_OP_BLOB_INDEX,    /* key, value = BlobDB index */
    AXP_OP_PUT_ENTITY,    /* key, value = serialized wide columns */
    AXP_OP_NOOP,          /* no payload; RocksDB's write path accepts and skips it */
    AXP_OP_TXN_MARKER,    /* op->tag says which; key = XID (empty for begin-prepare tags),
                             value = commit timestamp (COMMIT_XID_AND_TIMESTAMP only) */
} axp_op_type;

typedef struct axp_batch_op {
    axp_op_type type;
    uint8_t tag;       /* the record's tag byte (axp_batch_tag) */
    uint32_t cf;       /* column family id; 0 = default (the only one the plugin has) */
    const char *key;   /* points into the rep; valid during the callback only */
    size_t klen;
    const char *value; /* points into the rep; NULL/0 when the type has no value */
    size_t vlen;
} axp_batch_op;

enum {
    AXP_BATCH_CORRUPT = -2, /* malformed rep; *errptr = "Corruption: ..." (RocksDB's text) */
    AXP_BATCH_INVALID = -3, /* a record was dropped when it was added (contract 3);
                               *errptr = "Invalid argument: ..." */
};

/* Checks the whole batch, then calls fn(arg, op) for every record in order, including
 * LOG_DATA, NOOP and transaction markers. Validation comes first and covers the header, every
 * record, the record count in the header (RocksDB's "WriteBatch has wrong count") and
 * contract 3, so fn is never called for a batch that will turn out bad: a caller can apply
 * records as they come and stay all-or-nothing. Returns 0; or the first non-zero value fn
 * returns (decoding stops there); or AXP_BATCH_CORRUPT / AXP_BATCH_INVALID with *errptr set
 * (axp_error rules) before any fn call. */
int axp_batch_foreach(const rocksdb_writebatch_t *b,
                      int (*fn)(void *arg, const axp_batch_op *op), void *arg, char **errptr);
/* The same over bare rep bytes (e.g. a batch read back from a log); the bytes are only read. */
int axp_batch_decode(const char *rep, size_t size,
                     int (*fn)(void *arg, const axp_batch_op *op), void *arg, char **errptr);

/* The record count from the header (missing header bytes of a short rep read as 0). */
uint32_t axp_batch_count(const rocksdb_writebatch_t *b);
/* The sequence number field of the header (0 in a batch built here; missing bytes read as 0). */
uint64_t axp_batch_sequence(const rocksdb_writebatch_t *b);
/* The rep: *size bytes, followed by a NUL that is not part of it. Valid until b changes. */
const char *axp_batch_rep(const rocksdb_writebatch_t *b, size_t *size);

/* ---- building a batch ------------------------------------------------------------------------ */
/* A batch is built with the public rocksdb_writebatch_* calls (create, put, delete, ...). */

/* Sets the header's sequence number (as RocksDB's WriteBatchInternal::SetSequence); a rep
 * shorter than the header is first padded with zero bytes. Returns 0, or -1 if out of memory. */
int axp_batch_set_sequence(rocksdb_writebatch_t *b, uint64_t seq);

#endif /* ALEXSTORAGE_PLUGIN_WRITEBATCH_H */
