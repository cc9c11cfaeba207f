/*
 * merge.c: rocksdb_mergeoperator_t, user-defined and the built-in uint64add (merge.h).
 */
#define _GNU_SOURCE /* strdup, dladdr */
#include <stdlib.h>
#include <string.h>

#include "merge.h"

typedef char *(*axp_full_merge_fn)(void *, const char *, size_t, const char *, size_t,
                                   const char *const *, const size_t *, int, unsigned char *,
                                   size_t *);
typedef char *(*axp_partial_merge_fn)(void *, const char *, size_t, const char *const *,
                                      const size_t *, int, unsigned char *, size_t *);

struct rocksdb_mergeoperator_t {
    void *state;
    void (*destructor)(void *);
    axp_full_merge_fn full_merge;
    axp_partial_merge_fn partial_merge;
    void (*delete_value)(void *, const char *, size_t);
    const char *(*name)(void *);
    bool uint64add;
    /* Holders: option objects it is set on and open databases. 0 = owned by the caller, who
     * may destroy it; once set on options, they own it (RocksDB: shared_ptr). */
    int refs;
    pthread_mutex_t mu;
};

rocksdb_mergeoperator_t *rocksdb_mergeoperator_create(
    void *state, void (*destructor)(void *), axp_full_merge_fn full_merge,
    axp_partial_merge_fn partial_merge, void (*delete_value)(void *, const char *, size_t),
    const char *(*name)(void *))
{
    rocksdb_mergeoperator_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->state = state;
    m->destructor = destructor;
    m->full_merge = full_merge;
    m->partial_merge = partial_merge;
    m->delete_value = delete_value;
    m->name = name;
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

rocksdb_mergeoperator_t *axp_mergeoperator_create_uint64add(void)
{
    rocksdb_mergeoperator_t *m = rocksdb_mergeoperator_create(NULL, NULL, NULL, NULL, NULL, NULL);
    if (m)
        m->uint64add = true;
    return m;
}

static void mergeoperator_free(rocksdb_mergeoperator_t *m)
{
    if (m->destructor)
        m->destructor(m->state);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* Destroying an operator that options or a database still hold would free it under them
 * (in RocksDB, a double delete): that call is ignored, and the last holder frees it. */
void rocksdb_mergeoperator_destroy(rocksdb_mergeoperator_t *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    int refs = m->refs;
    pthread_mutex_unlock(&m->mu);
    if (refs == 0)
        mergeoperator_free(m);
}

void axp_mergeoperator_ref(rocksdb_mergeoperator_t *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->refs++;
    pthread_mutex_unlock(&m->mu);
}

void axp_mergeoperator_unref(rocksdb_mergeoperator_t *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    int refs = --m->refs;
    pthread_mutex_unlock(&m->mu);
    if (refs == 0)
        mergeoperator_free(m);
}

/* RocksDB's uint64add reads a value as a little-endian fixed64 and any other length as 0. */
static uint64_t decode_u64(const char *p, size_t len)
{
    if (!p || len != 8)
        return 0;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | (uint8_t)p[i];
    return v;
}

int axp_merge_apply(rocksdb_mergeoperator_t *m, const char *key, size_t klen,
                    const char *existing, size_t existing_len, const char *operand,
                    size_t operand_len, char **out, size_t *out_len, char **errptr)
{
    if (m->uint64add) {
        uint64_t v = decode_u64(existing, existing_len) + decode_u64(operand, operand_len);
        char *r = malloc(8);
        if (!r) {
            axp_error(errptr, "IO error: out of memory");
            return -1;
        }
        for (int i = 0; i < 8; i++)
            r[i] = (char)(v >> (8 * i));
        *out = r;
        *out_len = 8;
        return 0;
    }
    if (!m->full_merge) {
        axp_error(errptr, "Invalid argument: merge operator has no full_merge function");
        return -1;
    }
    const char *ops[1] = {operand ? operand : ""};
    size_t lens[1] = {operand_len};
    unsigned char success = 0;
    size_t len = 0;
    char *r = m->full_merge(m->state, key ? key : "", klen, existing, existing_len, ops, lens, 1,
                            &success, &len);
    if (!success) {
        if (r) {
            if (m->delete_value)
                m->delete_value(m->state, r, len);
            else
                free(r);
        }
        axp_error(errptr, "Corruption: Error: Could not perform merge.");
        return -1;
    }
    /* Keep our own copy: the operator's result is released its way (delete_value). */
    char *copy = malloc(len ? len : 1);
    if (copy && len)
        memcpy(copy, r, len);
    if (r) {
        if (m->delete_value)
            m->delete_value(m->state, r, len);
        else
            free(r);
    }
    if (!copy) {
        axp_error(errptr, "IO error: out of memory");
        return -1;
    }
    *out = copy;
    *out_len = len;
    return 0;
}

bool axp_merge_is_uint64add(const rocksdb_mergeoperator_t *m)
{
    return m->uint64add;
}

const char *axp_merge_name(const rocksdb_mergeoperator_t *m)
{
    const char *n = m->name ? m->name(m->state) : NULL;
    return n ? n : (m->uint64add ? "UInt64AddOperator" : "merge operator");
}

char *axp_merge_full_raw(rocksdb_mergeoperator_t *m, const char *key, size_t klen,
                         const char *existing, size_t elen, const char *const *ops,
                         const size_t *lens, int n, unsigned char *success, size_t *new_len)
{
    if (!m->full_merge) {
        *success = 0;
        return NULL;
    }
    return m->full_merge(m->state, key, klen, existing, elen, ops, lens, n, success, new_len);
}

char *axp_merge_partial_raw(rocksdb_mergeoperator_t *m, const char *key, size_t klen,
                            const char *const *ops, const size_t *lens, int n,
                            unsigned char *success, size_t *new_len)
{
    if (!m->partial_merge) {
        *success = 0;
        *new_len = 0;
        return NULL;
    }
    return m->partial_merge(m->state, key, klen, ops, lens, n, success, new_len);
}

void axp_merge_delete_raw(rocksdb_mergeoperator_t *m, const char *value, size_t len)
{
    if (m->delete_value)
        m->delete_value(m->state, value, len);
    else
        free((void *)value);
}
