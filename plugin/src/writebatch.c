/*
 * writebatch.c: rocksdb_writebatch_t in RocksDB 7.8.3's byte format (docs/writebatch.md).
 *
 * The rep is one growing byte buffer: a 12-byte header (sequence, count) and the records.
 * Appenders build each record whole before touching the rep, so a failed append leaves the
 * batch as it was. Readers go through one decoder, read_record(), which accepts exactly what
 * RocksDB's ReadRecordFromWriteBatch accepts and never reads past the end of its input.
 */
#include "writebatch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "capi_internal.h"

typedef struct axp_savepoint {
    size_t size;         /* rep length when the save point was set */
    uint32_t count;      /* header count then */
    const char *failure; /* b->failure then */
} axp_savepoint;

struct rocksdb_writebatch_t {
    char *rep;           /* the bytes; rep[len] is always a NUL outside the batch */
    size_t len, cap;     /* cap > len, and cap > AXP_BATCH_HEADER (so clear never allocates) */
    axp_savepoint *sp;   /* stack of save points, sp[nsp - 1] on top */
    size_t nsp, spcap;
    /* Static text of the first record dropped since the last clear (contract 3), or NULL. */
    const char *failure;
};

/* ---- little-endian fixed ints and varint32 (RocksDB's util/coding.h encodings) ---------------- */

static void put_fixed32(char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (char)(uint8_t)(v >> (8 * i));
}

/* Reads n <= 8 little-endian bytes at p; bytes at or past avail read as zero. */
static uint64_t get_fixed(const char *p, size_t n, size_t avail) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < avail; i++)
        v |= (uint64_t)(uint8_t)p[i] << (8 * i);
    return v;
}

static size_t varint32_len(uint32_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static char *put_varint32(char *p, uint32_t v) {
    while (v >= 0x80) {
        *p++ = (char)(uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)(uint8_t)v;
    return p;
}

/* RocksDB's GetVarint32Ptr: at most 5 bytes; bits of the 5th byte above bit 31 are dropped
 * silently (not an error), a continuation bit on the 5th byte is. */
static bool get_varint32(const char **p, const char *end, uint32_t *out) {
    uint32_t result = 0;
    const char *q = *p;
    for (unsigned shift = 0; shift <= 28 && q < end; shift += 7) {
        uint32_t byte = (uint8_t)*q++;
        if (byte & 0x80) {
            result |= (byte & 0x7F) << shift;
        } else {
            result |= byte << shift;
            *out = result;
            *p = q;
            return true;
        }
    }
    return false;
}

static bool get_slice(const char **p, const char *end, const char **data, size_t *len) {
    uint32_t n;
    const char *q = *p;
    if (!get_varint32(&q, end, &n) || (size_t)(end - q) < n)
        return false;
    *data = q;
    *len = n;
    *p = q + n;
    return true;
}

/* ---- decoding --------------------------------------------------------------------------------- */

/* Decodes the record at *p (p < end) into op and advances *p. Returns NULL, or RocksDB's
 * corruption text for the record. */
static const char *read_record(const char **p, const char *end, axp_batch_op *op) {
    const char *q = *p;
    uint8_t tag = (uint8_t)*q++;
    const char *why = NULL;
    bool cf = false, key = false, value = false;

    memset(op, 0, sizeof *op);
    op->tag = tag;
    switch (tag) {
    case AXP_TAG_CF_VALUE: cf = true; /* fall through */
    case AXP_TAG_VALUE:
        op->type = AXP_OP_PUT, key = value = true, why = "bad WriteBatch Put";
        break;
    case AXP_TAG_CF_DELETION: cf = true; /* fall through */
    case AXP_TAG_DELETION:
        op->type = AXP_OP_DELETE, key = true, why = "bad WriteBatch Delete";
        break;
    case AXP_TAG_CF_SINGLE_DELETION: cf = true; /* fall through */
    case AXP_TAG_SINGLE_DELETION:
        op->type = AXP_OP_SINGLE_DELETE, key = true, why = "bad WriteBatch Delete";
        break;
    case AXP_TAG_CF_RANGE_DELETION: cf = true; /* fall through */
    case AXP_TAG_RANGE_DELETION:
        op->type = AXP_OP_DELETE_RANGE, key = value = true, why = "bad WriteBatch DeleteRange";
        break;
    case AXP_TAG_CF_MERGE: cf = true; /* fall through */
    case AXP_TAG_MERGE:
        op->type = AXP_OP_MERGE, key = value = true, why = "bad WriteBatch Merge";
        break;
    case AXP_TAG_CF_BLOB_INDEX: cf = true; /* fall through */
    case AXP_TAG_BLOB_INDEX:
        op->type = AXP_OP_BLOB_INDEX, key = value = true, why = "bad WriteBatch BlobIndex";
        break;
    case AXP_TAG_CF_WIDE_COLUMN_ENTITY: cf = true; /* fall through */
    case AXP_TAG_WIDE_COLUMN_ENTITY:
        op->type = AXP_OP_PUT_ENTITY, key = value = true, why = "bad WriteBatch PutEntity";
        break;
    case AXP_TAG_LOG_DATA:
        op->type = AXP_OP_LOG_DATA, value = true, why = "bad WriteBatch Blob";
        break;
    case AXP_TAG_NOOP:
        op->type = AXP_OP_NOOP;
        break;
    case AXP_TAG_BEGIN_PREPARE_XID:
    case AXP_TAG_BEGIN_PERSISTED_PREPARE_XID:
    case AXP_TAG_BEGIN_UNPREPARE_XID:
        op->type = AXP_OP_TXN_MARKER;
        break;
    case AXP_TAG_END_PREPARE_XID:
        op->type = AXP_OP_TXN_MARKER, key = true, why = "bad EndPrepare XID";
        break;
    case AXP_TAG_COMMIT_XID:
        op->type = AXP_OP_TXN_MARKER, key = true, why = "bad Commit XID";
        break;
    case AXP_TAG_ROLLBACK_XID:
        op->type = AXP_OP_TXN_MARKER, key = true, why = "bad Rollback XID";
        break;
    case AXP_TAG_COMMIT_XID_AND_TIMESTAMP:
        /* The rep holds the timestamp first, then the XID. */
        op->type = AXP_OP_TXN_MARKER;
        if (!get_slice(&q, end, &op->value, &op->vlen))
            return "bad commit timestamp";
        key = true, why = "bad Commit XID";
        break;
    default:
        return "unknown WriteBatch tag";
    }
    if (cf && !get_varint32(&q, end, &op->cf))
        return why;
    if (key && !get_slice(&q, end, &op->key, &op->klen))
        return why;
    if (value && !get_slice(&q, end, &op->value, &op->vlen))
        return why;
    if (op->type == AXP_OP_LOG_DATA) { /* RocksDB calls the payload "blob"; keep key empty */
        op->key = NULL;
        op->klen = 0;
    }
    *p = q;
    return NULL;
}

static bool op_counted(axp_op_type t) {
    return t != AXP_OP_LOG_DATA && t != AXP_OP_NOOP && t != AXP_OP_TXN_MARKER;
}

/* The validation pass: every record well formed and the count right. */
static const char *check_rep(const char *rep, size_t size) {
    if (size < AXP_BATCH_HEADER)
        return "malformed WriteBatch (too small)";
    const char *p = rep + AXP_BATCH_HEADER, *end = rep + size;
    uint32_t found = 0;
    while (p < end) {
        axp_batch_op op;
        const char *why = read_record(&p, end, &op);
        if (why)
            return why;
        if (op_counted(op.type))
            found++;
    }
    if (found != (uint32_t)get_fixed(rep + 8, 4, size - 8))
        return "WriteBatch has wrong count";
    return NULL;
}

int axp_batch_decode(const char *rep, size_t size,
                     int (*fn)(void *arg, const axp_batch_op *op), void *arg, char **errptr) {
    const char *why = check_rep(rep, size);
    if (why) {
        axp_error(errptr, "Corruption: %s", why);
        return AXP_BATCH_CORRUPT;
    }
    const char *p = rep + AXP_BATCH_HEADER, *end = rep + size;
    while (p < end) {
        axp_batch_op op;
        if (read_record(&p, end, &op))
            return AXP_BATCH_CORRUPT; /* cannot happen: check_rep passed */
        int rc = fn(arg, &op);
        if (rc)
            return rc;
    }
    return 0;
}

int axp_batch_foreach(const rocksdb_writebatch_t *b,
                      int (*fn)(void *arg, const axp_batch_op *op), void *arg, char **errptr) {
    if (b->failure) {
        axp_error(errptr, "Invalid argument: a record was dropped from the write batch: %s",
                  b->failure);
        return AXP_BATCH_INVALID;
    }
    return axp_batch_decode(b->rep, b->len, fn, arg, errptr);
}

uint32_t axp_batch_count(const rocksdb_writebatch_t *b) {
    return b->len > 8 ? (uint32_t)get_fixed(b->rep + 8, 4, b->len - 8) : 0;
}

uint64_t axp_batch_sequence(const rocksdb_writebatch_t *b) {
    return get_fixed(b->rep, 8, b->len);
}

const char *axp_batch_rep(const rocksdb_writebatch_t *b, size_t *size) {
    *size = b->len;
    return b->rep;
}

/* ---- building --------------------------------------------------------------------------------- */

/* Makes room for extra more bytes (plus the trailing NUL). */
static bool reserve(rocksdb_writebatch_t *b, size_t extra) {
    if (extra >= SIZE_MAX - b->len)
        return false;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *rep = realloc(b->rep, cap);
    if (!rep)
        return false;
    b->rep = rep;
    b->cap = cap;
    return true;
}

/* A rep shorter than the header (only create_from makes one) gets zero bytes up to it before
 * anything is appended; RocksDB writes its count past the end of such a rep instead. */
static bool ensure_header(rocksdb_writebatch_t *b) {
    if (b->len >= AXP_BATCH_HEADER)
        return true;
    if (!reserve(b, AXP_BATCH_HEADER - b->len))
        return false;
    memset(b->rep + b->len, 0, AXP_BATCH_HEADER - b->len);
    b->len = AXP_BATCH_HEADER;
    b->rep[b->len] = '\0';
    return true;
}

/* One length-prefixed field given as n slices that are concatenated (n = 1 for a plain call). */
typedef struct field {
    int n;
    const char *const *data;
    const size_t *len;
    size_t total;
} field;

/* Sums the slices. RocksDB refuses a plain key or value longer than UINT32_MAX and a sliced
 * one of UINT32_MAX bytes or more (CheckSlicePartsLength); we apply the same limits to every
 * record type (RocksDB writes a truncated length prefix for oversized deletes and log data). */
static bool field_size(field *f, bool sliced) {
    size_t t = 0;
    for (int i = 0; i < f->n; i++) {
        if (f->len[i] > UINT32_MAX - t)
            return false;
        t += f->len[i];
    }
    f->total = t;
    return sliced ? t < UINT32_MAX : true;
}

/* NULL slice arrays, or a NULL slice of non-zero length, cannot be read. */
static bool field_pointers_ok(const field *f) {
    if (f->n > 0 && (!f->data || !f->len))
        return false;
    for (int i = 0; i < f->n; i++)
        if (!f->data[i] && f->len[i])
            return false;
    return true;
}

static char *put_field(char *p, const field *f) {
    p = put_varint32(p, (uint32_t)f->total);
    for (int i = 0; i < f->n; i++) {
        if (f->len[i]) /* data may be NULL for an empty slice */
            memcpy(p, f->data[i], f->len[i]);
        p += f->len[i];
    }
    return p;
}

static void fail(rocksdb_writebatch_t *b, const char *why) {
    if (!b->failure)
        b->failure = why;
}

/* Appends one record: the tag, then key (if k) and value (if v). Counted records bump the
 * header count. On any failure the batch is unchanged except for b->failure. */
static void append(rocksdb_writebatch_t *b, uint8_t tag, bool counted, bool sliced,
                   field *k, field *v) {
    if (!b)
        return; /* void API: a NULL batch has nowhere to record anything */
    const char *why = NULL;
    if ((k && k->n < 0) || (v && v->n < 0))
        why = "negative number of slices";
    else if ((k && !field_pointers_ok(k)) || (v && !field_pointers_ok(v)))
        why = "NULL data with a non-zero length";
    else if (k && !field_size(k, sliced))
        why = tag == AXP_TAG_LOG_DATA ? "blob is too large" : "key is too large";
    else if (v && !field_size(v, sliced))
        why = "value is too large";
    if (why) {
        fail(b, why);
        return;
    }
    size_t need = 1;
    if (k)
        need += varint32_len((uint32_t)k->total) + k->total;
    if (v) /* cannot overflow: both totals are below 4 GiB and size_t is 64-bit here */
        need += varint32_len((uint32_t)v->total) + v->total;
    if (!ensure_header(b) || !reserve(b, need)) {
        fail(b, "out of memory");
        return;
    }
    char *p = b->rep + b->len;
    *p++ = (char)tag;
    if (k)
        p = put_field(p, k);
    if (v)
        p = put_field(p, v);
    b->len = (size_t)(p - b->rep);
    b->rep[b->len] = '\0';
    if (counted)
        put_fixed32(b->rep + 8, axp_batch_count(b) + 1);
}

/* Shorthands for a field of one slice. */
#define ONE(name, ptr, size) \
    const char *name##_d = (ptr); size_t name##_l = (size); \
    field name = {1, &name##_d, &name##_l, 0}

static rocksdb_writebatch_t *batch_new(const char *rep, size_t size) {
    rocksdb_writebatch_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cap = (size > AXP_BATCH_HEADER ? size : AXP_BATCH_HEADER) + 1;
    if (b->cap < 64)
        b->cap = 64;
    b->rep = malloc(b->cap);
    if (!b->rep) {
        free(b);
        return NULL;
    }
    if (rep) {
        if (size)
            memcpy(b->rep, rep, size);
        b->len = size;
    } else {
        memset(b->rep, 0, AXP_BATCH_HEADER);
        b->len = AXP_BATCH_HEADER;
    }
    b->rep[b->len] = '\0';
    return b;
}

rocksdb_writebatch_t *rocksdb_writebatch_create(void) {
    return batch_new(NULL, 0);
}

/* RocksDB copies the bytes unchecked; so do we (contract 2). NULL with size > 0 is refused
 * (RocksDB's std::string constructor throws and the process terminates). */
rocksdb_writebatch_t *rocksdb_writebatch_create_from(const char *rep, size_t size) {
    if (!rep && size)
        return NULL;
    return batch_new(rep ? rep : "", size);
}

void rocksdb_writebatch_destroy(rocksdb_writebatch_t *b) {
    if (!b)
        return;
    free(b->rep);
    free(b->sp);
    free(b);
}

/* RocksDB's Clear: a zeroed 12-byte header (sequence included), no save points. */
void rocksdb_writebatch_clear(rocksdb_writebatch_t *b) {
    if (!b)
        return;
    memset(b->rep, 0, AXP_BATCH_HEADER + 1); /* cap > AXP_BATCH_HEADER from batch_new */
    b->len = AXP_BATCH_HEADER;
    b->nsp = 0;
    b->failure = NULL;
}

int rocksdb_writebatch_count(rocksdb_writebatch_t *b) {
    if (!b)
        return 0;
    return (int)axp_batch_count(b);
}

int axp_batch_set_sequence(rocksdb_writebatch_t *b, uint64_t seq) {
    if (!ensure_header(b))
        return -1;
    put_fixed32(b->rep, (uint32_t)seq);
    put_fixed32(b->rep + 4, (uint32_t)(seq >> 32));
    return 0;
}

void rocksdb_writebatch_put(rocksdb_writebatch_t *b, const char *key, size_t klen,
                            const char *val, size_t vlen) {
    ONE(k, key, klen);
    ONE(v, val, vlen);
    append(b, AXP_TAG_VALUE, true, false, &k, &v);
}

void rocksdb_writebatch_putv(rocksdb_writebatch_t *b, int num_keys, const char *const *keys_list,
                             const size_t *keys_list_sizes, int num_values,
                             const char *const *values_list, const size_t *values_list_sizes) {
    field k = {num_keys, keys_list, keys_list_sizes, 0};
    field v = {num_values, values_list, values_list_sizes, 0};
    append(b, AXP_TAG_VALUE, true, true, &k, &v);
}

void rocksdb_writebatch_merge(rocksdb_writebatch_t *b, const char *key, size_t klen,
                              const char *val, size_t vlen) {
    ONE(k, key, klen);
    ONE(v, val, vlen);
    append(b, AXP_TAG_MERGE, true, false, &k, &v);
}

void rocksdb_writebatch_mergev(rocksdb_writebatch_t *b, int num_keys,
                               const char *const *keys_list, const size_t *keys_list_sizes,
                               int num_values, const char *const *values_list,
                               const size_t *values_list_sizes) {
    field k = {num_keys, keys_list, keys_list_sizes, 0};
    field v = {num_values, values_list, values_list_sizes, 0};
    append(b, AXP_TAG_MERGE, true, true, &k, &v);
}

void rocksdb_writebatch_delete(rocksdb_writebatch_t *b, const char *key, size_t klen) {
    ONE(k, key, klen);
    append(b, AXP_TAG_DELETION, true, false, &k, NULL);
}

void rocksdb_writebatch_singledelete(rocksdb_writebatch_t *b, const char *key, size_t klen) {
    ONE(k, key, klen);
    append(b, AXP_TAG_SINGLE_DELETION, true, false, &k, NULL);
}

void rocksdb_writebatch_deletev(rocksdb_writebatch_t *b, int num_keys,
                                const char *const *keys_list, const size_t *keys_list_sizes) {
    field k = {num_keys, keys_list, keys_list_sizes, 0};
    append(b, AXP_TAG_DELETION, true, true, &k, NULL);
}

void rocksdb_writebatch_delete_range(rocksdb_writebatch_t *b, const char *start_key,
                                     size_t start_key_len, const char *end_key,
                                     size_t end_key_len) {
    ONE(k, start_key, start_key_len);
    ONE(v, end_key, end_key_len);
    append(b, AXP_TAG_RANGE_DELETION, true, false, &k, &v);
}

/* num_keys begin slices make one begin key and num_keys end slices one end key: a single
 * range deletion, as in RocksDB (SliceParts). */
void rocksdb_writebatch_delete_rangev(rocksdb_writebatch_t *b, int num_keys,
                                      const char *const *start_keys_list,
                                      const size_t *start_keys_list_sizes,
                                      const char *const *end_keys_list,
                                      const size_t *end_keys_list_sizes) {
    field k = {num_keys, start_keys_list, start_keys_list_sizes, 0};
    field v = {num_keys, end_keys_list, end_keys_list_sizes, 0};
    append(b, AXP_TAG_RANGE_DELETION, true, true, &k, &v);
}

void rocksdb_writebatch_put_log_data(rocksdb_writebatch_t *b, const char *blob, size_t len) {
    ONE(k, blob, len);
    append(b, AXP_TAG_LOG_DATA, false, false, &k, NULL);
}

/* RocksDB's C API hands only default-family puts and deletes to the callbacks. Merges, single
 * deletes and log data are skipped; any other record (a range deletion, a record of another
 * column family, a blob index, an entity, a no-op or transaction marker) ends the iteration,
 * as does a malformed record. Records before it have been delivered. (Real RocksDB 7.8.3
 * aborts on an assertion for no-op and transaction markers; we stop.) */
void rocksdb_writebatch_iterate(rocksdb_writebatch_t *b, void *state,
                                void (*put)(void *, const char *k, size_t klen, const char *v,
                                            size_t vlen),
                                void (*deleted)(void *, const char *k, size_t klen)) {
    if (!b || b->len < AXP_BATCH_HEADER)
        return; /* "malformed WriteBatch (too small)" */
    const char *p = b->rep + AXP_BATCH_HEADER, *end = b->rep + b->len;
    while (p < end) {
        axp_batch_op op;
        if (read_record(&p, end, &op))
            return;
        switch (op.type) {
        case AXP_OP_PUT:
            if (op.cf != 0)
                return;
            if (put)
                put(state, op.key, op.klen, op.value, op.vlen);
            break;
        case AXP_OP_DELETE:
            if (op.cf != 0)
                return;
            if (deleted)
                deleted(state, op.key, op.klen);
            break;
        case AXP_OP_SINGLE_DELETE:
        case AXP_OP_MERGE:
            if (op.cf != 0)
                return;
            break;
        case AXP_OP_LOG_DATA:
            break;
        default:
            return;
        }
    }
}

const char *rocksdb_writebatch_data(rocksdb_writebatch_t *b, size_t *size) {
    if (!b) {
        if (size)
            *size = 0;
        return NULL;
    }
    size_t n;
    const char *rep = axp_batch_rep(b, &n);
    if (size)
        *size = n;
    return rep;
}

/* ---- save points ------------------------------------------------------------------------------ */

void rocksdb_writebatch_set_save_point(rocksdb_writebatch_t *b) {
    if (!b)
        return;
    if (b->nsp == b->spcap) {
        size_t cap = b->spcap ? b->spcap * 2 : 4;
        axp_savepoint *sp = cap < SIZE_MAX / sizeof *sp ? realloc(b->sp, cap * sizeof *sp) : NULL;
        if (!sp) { /* the save point is lost: the batch must not be written as if it held */
            fail(b, "out of memory (save point)");
            return;
        }
        b->sp = sp;
        b->spcap = cap;
    }
    b->sp[b->nsp++] = (axp_savepoint){b->len, axp_batch_count(b), b->failure};
}

/* Pops the newest save point and cuts the rep back to it. As in RocksDB: with none,
 * "NotFound: "; a save point taken on an empty rep (create_from of 0 bytes) clears the batch,
 * which also drops every other save point; the header count is restored with the length. */
void rocksdb_writebatch_rollback_to_save_point(rocksdb_writebatch_t *b, char **errptr) {
    if (!b || b->nsp == 0) {
        axp_error(errptr, "NotFound: ");
        return;
    }
    axp_savepoint sp = b->sp[--b->nsp];
    /* sp.size > b->len cannot happen: nothing shrinks the rep below a live save point. */
    if (sp.size < b->len && sp.size == 0) {
        rocksdb_writebatch_clear(b);
        return;
    }
    if (sp.size < b->len) {
        b->len = sp.size;
        b->rep[b->len] = '\0';
        if (b->len >= AXP_BATCH_HEADER)
            put_fixed32(b->rep + 8, sp.count);
    }
    b->failure = sp.failure;
}

void rocksdb_writebatch_pop_save_point(rocksdb_writebatch_t *b, char **errptr) {
    if (!b || b->nsp == 0) {
        axp_error(errptr, "NotFound: ");
        return;
    }
    b->nsp--;
}
