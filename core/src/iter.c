/*
 * iter.c: ordered iterators over the database (alexstorage/db.h).
 *
 * An iterator reads the database as of one sequence number: its own snapshot, taken when it is
 * created, or the snapshot in its read options. Keys come from two ordered sources merged on
 * the fly: the index (newest state of every key) and the version store (older states of keys
 * written since a live snapshot, snapshot.h). For a candidate key, the first version with seq
 * above the iterator's holds the key's state (present with an old value, or absent); a key
 * with no such version reads the index. Keys absent at the iterator's sequence are skipped.
 *
 * Every call is one read section (docs/concurrency.md): it reads the view readers currently
 * use and never waits for a writer. The iterator pins the segment of its current entry, so the
 * key and value pointers it hands out stay valid while it stays put, whatever other threads
 * write or compact. It keeps the index cursor between steps while it reads the same view and
 * that view is unchanged (mod_count), and re-seeks from its current key otherwise.
 */
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

int axs_iter_create(axs_db *db, const axs_read_options *ropts, axs_iter **out)
{
    if (!db || !out)
        return AXS_EINVAL;
    *out = NULL;
    axs_iter *it = calloc(1, sizeof *it);
    if (!it)
        return AXS_ENOMEM;
    it->db = db;
    axs_read_options_init(&it->ropts);
    if (ropts)
        it->ropts = *ropts;
    int rc = AXS_OK;
    if (it->ropts.snapshot)
        it->seq = it->ropts.snapshot->seq;
    else if ((rc = db_snapshot_register(db, UINT64_MAX, &it->own_snapshot)) == 0)
        it->seq = it->own_snapshot->seq;
    if (rc) {
        free(it);
        return rc;
    }
    *out = it;
    return AXS_OK;
}

/* Leaves the current entry: unpins its segment. */
static void iter_release_entry(axs_iter *it)
{
    db_unpin(it->db, it->seg);
    it->seg = NULL;
    it->valid = false;
    it->on_index = false;
}

/* Makes the entry at loc current and pins its segment. Inside a read section. */
static void iter_load_loc(axs_iter *it, uint64_t loc)
{
    axs_db *db = it->db;
    fmt_entry e;
    const uint8_t *v = NULL;
    int rc = db_entry_at(db, loc, it->ropts.verify_checksums, &e);
    if (!rc)
        rc = db_entry_value(db, &e, &it->vbuf, &it->vbuf_cap, &v, &it->vlen);
    if (rc) {
        it->status = rc;
        return;
    }
    it->seg = db_segment(db, fmt_loc_segment(loc));
    db_pin(it->seg);
    it->key = e.key;
    it->klen = e.klen;
    it->value = v;
    it->valid = true;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return AXS_OK;
    uint8_t *nb = realloc(*buf, need);
    if (!nb)
        return AXS_ENOMEM;
    *buf = nb;
    *cap = need;
    return AXS_OK;
}

/* Makes a version copied into memory current (key and value copied: the version store may
 * drop it once no snapshot needs it). Inside a read section. */
static void iter_load_copy(axs_iter *it, const void *key, size_t klen, const vs_version *v)
{
    if (grow(&it->kbuf, &it->kbuf_cap, klen ? klen : 1) ||
        grow(&it->vbuf, &it->vbuf_cap, v->vlen ? v->vlen : 1)) {
        it->status = AXS_ENOMEM;
        return;
    }
    memcpy(it->kbuf, key, klen);
    memcpy(it->vbuf, v->value, v->vlen);
    it->key = it->kbuf;
    it->klen = klen;
    it->value = it->vbuf;
    it->vlen = v->vlen;
    it->valid = true;
}

/* The key under an index cursor (a view into the log). */
static const uint8_t *cursor_key(axs_db *db, const kix *ix, const kix_cursor *c, size_t *klen)
{
    fmt_entry e;
    if (db_entry_at(db, kix_cursor_loc(ix, c), false, &e) != AXS_OK) {
        *klen = 0;
        return NULL;
    }
    *klen = e.klen;
    return e.key;
}

/*
 * Positions the iterator on the first visible key after the boundary (forward) or the last
 * one before it, the boundary itself included when inclusive; key NULL means from the start
 * (forward) or the end. If hint is not NULL, *hint is the index cursor already positioned on
 * the index's candidate for this boundary and hint_on says whether there is one. The caller
 * is in a read section on view v (side), has released the current entry and copied the
 * boundary key if it lived in that entry.
 */
static void iter_find(axs_iter *it, const db_view *v, int side, const void *key, size_t klen,
                      bool forward, bool inclusive, const kix_cursor *hint, bool hint_on)
{
    axs_db *db = it->db;
    const kix *ix = v->index;
    uint8_t *bound = NULL; /* owned copy of a boundary taken from a skipped version key */
    for (;;) {
        kix_cursor c;
        bool ion;
        if (hint) {
            c = *hint;
            ion = hint_on;
            hint = NULL;
        } else if (!key) {
            ion = forward ? kix_first(ix, &c) : kix_last(ix, &c);
        } else {
            ion = forward ? kix_seek(ix, key, klen, &c)
                          : kix_seek_for_prev(ix, key, klen, &c);
            if (ion && !inclusive) {
                size_t cl;
                const uint8_t *ck = cursor_key(db, ix, &c, &cl);
                if (ck && kix_key_cmp(ck, cl, key, klen) == 0)
                    ion = forward ? kix_next(ix, &c) : kix_prev(ix, &c);
            }
        }
        size_t ikl = 0;
        const uint8_t *ik = ion ? cursor_key(db, ix, &c, &ikl) : NULL;
        if (ion && !ik) {
            it->status = AXS_ECORRUPT;
            break;
        }
        const vs_node *n = v->versions && !vs_empty(v->versions)
                               ? vs_seek(v->versions, key, klen, forward, inclusive || !key)
                               : NULL;
        size_t nkl = 0;
        const uint8_t *nk = n ? vs_node_key(n, &nkl) : NULL;
        int cmp = n && ion ? kix_key_cmp(nk, nkl, ik, ikl) : 0;
        bool from_versions = n && (!ion || (forward ? cmp <= 0 : cmp >= 0));
        if (!from_versions) {
            if (ion) {
                iter_load_loc(it, kix_cursor_loc(ix, &c));
                it->cur = c;
                it->on_index = it->valid;
                it->side = side;
                it->mod_count = v->mod_count;
            }
            break;
        }
        const vs_version *ver = vs_node_version(n, it->seq);
        if (ver && ver->copied) {
            iter_load_copy(it, nk, nkl, ver);
            break;
        }
        if (ver && ver->loc != VS_ABSENT) {
            iter_load_loc(it, ver->loc);
            break;
        }
        if (!ver && ion && cmp == 0) { /* unchanged since the snapshot: the index has it */
            iter_load_loc(it, kix_cursor_loc(ix, &c));
            it->cur = c;
            it->on_index = it->valid;
            it->side = side;
            it->mod_count = v->mod_count;
            break;
        }
        /* Absent at the iterator's sequence: skip the key and look past it. */
        uint8_t *nb = malloc(nkl ? nkl : 1);
        if (!nb) {
            it->status = AXS_ENOMEM;
            break;
        }
        memcpy(nb, nk, nkl);
        free(bound);
        bound = nb;
        key = bound;
        klen = nkl;
        inclusive = false;
    }
    free(bound);
}

void axs_iter_destroy(axs_iter *it)
{
    if (!it)
        return;
    iter_release_entry(it);
    if (it->own_snapshot)
        db_snapshot_unregister(it->db, it->own_snapshot);
    free(it->kbuf);
    free(it->vbuf);
    free(it);
}

bool axs_iter_valid(const axs_iter *it)
{
    return it && it->valid;
}

/* The read section of an iterator call: enters it and says which view (side) it reads. */
static const db_view *iter_enter(axs_iter *it, lr_slot **slot, int *side)
{
    const db_view *v = lr_enter(it->db, slot);
    *side = (int)(v - it->db->views);
    return v;
}

static void iter_seek(axs_iter *it, const void *key, size_t klen, bool forward)
{
    lr_slot *slot;
    int side;
    const db_view *v = iter_enter(it, &slot, &side);
    iter_release_entry(it);
    it->status = AXS_OK;
    if (key == NULL && klen == SIZE_MAX) /* seek_to_first / seek_to_last */
        iter_find(it, v, side, NULL, 0, forward, true, NULL, false);
    else if ((!key && klen) || klen > AXS_MAX_KEY_LEN)
        it->status = AXS_EINVAL;
    else
        iter_find(it, v, side, key ? key : "", klen, forward, true, NULL, false);
    lr_leave(slot);
}

void axs_iter_seek_to_first(axs_iter *it)
{
    if (it)
        iter_seek(it, NULL, SIZE_MAX, true);
}

void axs_iter_seek_to_last(axs_iter *it)
{
    if (it)
        iter_seek(it, NULL, SIZE_MAX, false);
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

/* Steps to the next (or previous) visible key after the current one. */
static void iter_step(axs_iter *it, bool forward)
{
    if (!it->valid)
        return;
    /* The boundary is the current key; copy it, since releasing the entry unpins it. */
    if (grow(&it->kbuf, &it->kbuf_cap, it->klen ? it->klen : 1)) {
        iter_release_entry(it);
        it->status = AXS_ENOMEM;
        return;
    }
    if (it->key != it->kbuf)
        memcpy(it->kbuf, it->key, it->klen);
    size_t klen = it->klen;
    lr_slot *slot;
    int side;
    const db_view *v = iter_enter(it, &slot, &side);
    bool use_cursor = it->on_index && it->side == side && it->mod_count == v->mod_count;
    kix_cursor c = it->cur;
    bool on = false;
    if (use_cursor)
        on = forward ? kix_next(v->index, &c) : kix_prev(v->index, &c);
    iter_release_entry(it);
    iter_find(it, v, side, it->kbuf, klen, forward, false, use_cursor ? &c : NULL, on);
    lr_leave(slot);
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
        *klen = it->klen;
    return it->key;
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
    return it->value;
}

int axs_iter_status(const axs_iter *it)
{
    return it ? it->status : AXS_EINVAL;
}
