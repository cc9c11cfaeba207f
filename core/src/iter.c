/*
 * iter.c: ordered iterators over the database (alexstorage/db.h).
 *
 * An iterator holds a key-index cursor and pins the segment of its current entry, so the key
 * and value pointers it hands out stay valid while it stays put, whatever other threads
 * write meanwhile. A modification invalidates index cursors; the iterator notices through
 * db->mod_count and re-seeks to its current key before moving.
 */
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

int axs_iter_create(axs_db *db, const axs_read_options *ropts, axs_iter **out)
{
    if (!db || !out)
        return AXS_EINVAL;
    axs_iter *it = calloc(1, sizeof *it);
    if (!it)
        return AXS_ENOMEM;
    it->db = db;
    axs_read_options_init(&it->ropts);
    if (ropts)
        it->ropts = *ropts;
    *out = it;
    return AXS_OK;
}

/* Leaves the current entry: unpins its segment. Caller holds the lock. */
static void iter_release_entry(axs_iter *it)
{
    db_unpin(it->db, it->seg);
    it->seg = NULL;
    it->valid = false;
}

/* Loads the entry under the cursor (if on is true) and pins it. Caller holds the lock. */
static void iter_load(axs_iter *it, bool on)
{
    axs_db *db = it->db;
    iter_release_entry(it);
    it->mod_count = db->mod_count;
    if (!on)
        return;
    uint64_t loc = kix_cursor_loc(db->index, &it->cur);
    int rc = db_entry_at(db, loc, it->ropts.verify_checksums, &it->entry);
    const uint8_t *v = NULL;
    if (!rc)
        rc = db_entry_value(db, &it->entry, &it->vbuf, &it->vbuf_cap, &v, &it->vlen);
    if (rc) {
        it->status = rc;
        return;
    }
    it->seg = db_segment(db, fmt_loc_segment(loc));
    it->seg->pins++;
    /* Uncompressed values are read straight from the mapping; compressed ones from vbuf. */
    it->valid = true;
}

void axs_iter_destroy(axs_iter *it)
{
    if (!it)
        return;
    pthread_mutex_lock(&it->db->mu);
    iter_release_entry(it);
    pthread_mutex_unlock(&it->db->mu);
    free(it->vbuf);
    free(it);
}

bool axs_iter_valid(const axs_iter *it)
{
    return it && it->valid;
}

void axs_iter_seek_to_first(axs_iter *it)
{
    if (!it)
        return;
    pthread_mutex_lock(&it->db->mu);
    it->status = AXS_OK;
    iter_load(it, kix_first(it->db->index, &it->cur));
    pthread_mutex_unlock(&it->db->mu);
}

void axs_iter_seek_to_last(axs_iter *it)
{
    if (!it)
        return;
    pthread_mutex_lock(&it->db->mu);
    it->status = AXS_OK;
    iter_load(it, kix_last(it->db->index, &it->cur));
    pthread_mutex_unlock(&it->db->mu);
}

/* Positions at the first key >= key (forward) or the last key <= key. */
static void iter_seek(axs_iter *it, const void *key, size_t klen, bool forward)
{
    pthread_mutex_lock(&it->db->mu);
    it->status = AXS_OK;
    if ((!key && klen) || klen > AXS_MAX_KEY_LEN) {
        iter_release_entry(it);
        it->status = AXS_EINVAL;
    } else {
        kix *ix = it->db->index;
        iter_load(it, forward ? kix_seek(ix, key, klen, &it->cur)
                              : kix_seek_for_prev(ix, key, klen, &it->cur));
    }
    pthread_mutex_unlock(&it->db->mu);
}

void axs_iter_seek(axs_iter *it, const void *key, size_t klen)
{
    if (it)
        iter_seek(it, key, klen, true);
}

void axs_iter_seek_for_prev(axs_iter *it, const void *key, size_t klen)
{
    if (it)
        iter_seek(it, key, klen, false);
}

/* Steps forward or backward from the current key, re-seeking first if the index changed
 * since the cursor was computed (the current entry is pinned, so its key is still readable). */
static void iter_step(axs_iter *it, bool forward)
{
    axs_db *db = it->db;
    pthread_mutex_lock(&db->mu);
    if (!it->valid) {
        pthread_mutex_unlock(&db->mu);
        return;
    }
    bool on;
    if (it->mod_count != db->mod_count) {
        const void *k = it->entry.key;
        size_t kl = it->entry.klen;
        if (forward) {
            on = kix_seek(db->index, k, kl, &it->cur);
            if (on) { /* skip the current key itself if it is still there */
                size_t cl;
                uint64_t loc = kix_cursor_loc(db->index, &it->cur);
                fmt_entry e;
                if (db_entry_at(db, loc, false, &e) == 0) {
                    cl = e.klen;
                    if (cl == kl && memcmp(e.key, k, kl) == 0)
                        on = kix_next(db->index, &it->cur);
                }
            }
        } else {
            on = kix_seek_for_prev(db->index, k, kl, &it->cur);
            if (on) {
                uint64_t loc = kix_cursor_loc(db->index, &it->cur);
                fmt_entry e;
                if (db_entry_at(db, loc, false, &e) == 0 && e.klen == kl &&
                    memcmp(e.key, k, kl) == 0)
                    on = kix_prev(db->index, &it->cur);
            }
        }
    } else {
        on = forward ? kix_next(db->index, &it->cur) : kix_prev(db->index, &it->cur);
    }
    iter_load(it, on);
    pthread_mutex_unlock(&db->mu);
}

void axs_iter_next(axs_iter *it)
{
    if (it)
        iter_step(it, true);
}

void axs_iter_prev(axs_iter *it)
{
    if (it)
        iter_step(it, false);
}

const void *axs_iter_key(const axs_iter *it, size_t *klen)
{
    if (!it || !it->valid) {
        if (klen)
            *klen = 0;
        return NULL;
    }
    if (klen)
        *klen = it->entry.klen;
    return it->entry.key;
}

const void *axs_iter_value(const axs_iter *it, size_t *vlen)
{
    if (!it || !it->valid) {
        if (vlen)
            *vlen = 0;
        return NULL;
    }
    if (vlen)
        *vlen = it->vlen;
    return it->entry.flags & FMT_ENTRY_FLAG_LZ4 ? it->vbuf : it->entry.value;
}

int axs_iter_status(const axs_iter *it)
{
    return it ? it->status : AXS_EINVAL;
}
