/*
 * snapshot.c: the version store behind snapshots (contract and invariants in snapshot.h).
 *
 * Keys with versions live in a skip list ordered like the database (bytewise, shorter first),
 * so iterators can merge it with the index in key order. Each node owns its key bytes and a
 * list of versions, oldest first. The list is empty whenever no snapshot is live, so a
 * database without snapshots pays one pointer test per write.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "keyindex.h"
#include "snapshot.h"

#define VS_MAX_HEIGHT 20

struct vs_node {
    vs_version *first, *last;
    size_t klen;
    uint8_t *key;
    int height;
    struct vs_node *next[]; /* height forward links */
};

struct vstore {
    vs_node *head; /* sentinel with VS_MAX_HEIGHT links */
    int height;    /* links in use */
    uint64_t rng;
    size_t nodes, versions, bytes;
};

int vs_create(vstore **out)
{
    vstore *vs = calloc(1, sizeof *vs);
    if (!vs)
        return AXS_ENOMEM;
    vs->head = calloc(1, sizeof *vs->head + VS_MAX_HEIGHT * sizeof(vs_node *));
    if (!vs->head) {
        free(vs);
        return AXS_ENOMEM;
    }
    vs->head->height = VS_MAX_HEIGHT;
    vs->height = 1;
    vs->rng = 0x9e3779b97f4a7c15ull;
    *out = vs;
    return AXS_OK;
}

static void version_free(vs_version *v)
{
    free(v->value);
    free(v);
}

static void node_free(vs_node *n)
{
    for (vs_version *v = n->first, *nx; v; v = nx) {
        nx = v->next;
        version_free(v);
    }
    free(n->key);
    free(n);
}

void vs_destroy(vstore *vs)
{
    if (!vs)
        return;
    for (vs_node *n = vs->head->next[0], *nx; n; n = nx) {
        nx = n->next[0];
        node_free(n);
    }
    free(vs->head);
    free(vs);
}

bool vs_empty(const vstore *vs)
{
    return vs->nodes == 0;
}

size_t vs_bytes(const vstore *vs)
{
    return vs->bytes;
}

/* Fills prev[h] with the last node at level h whose key is < key. */
static void find_prev(const vstore *vs, const void *key, size_t klen, vs_node **prev)
{
    vs_node *x = vs->head;
    for (int h = VS_MAX_HEIGHT - 1; h >= 0; h--) {
        if (h < vs->height)
            while (x->next[h] && kix_key_cmp(x->next[h]->key, x->next[h]->klen, key, klen) < 0)
                x = x->next[h];
        prev[h] = x;
    }
}

static int random_height(vstore *vs)
{
    /* xorshift64; each level is kept with probability 1/4 */
    uint64_t r = vs->rng;
    r ^= r << 13;
    r ^= r >> 7;
    r ^= r << 17;
    vs->rng = r;
    int h = 1;
    while (h < VS_MAX_HEIGHT && (r & 3) == 0) {
        h++;
        r >>= 2;
    }
    return h;
}

int vs_record(vstore *vs, const void *key, size_t klen, uint64_t seq, uint64_t old_loc,
              uint64_t newest_snapshot)
{
    vs_node *prev[VS_MAX_HEIGHT];
    find_prev(vs, key, klen, prev);
    vs_node *n = prev[0]->next[0];
    if (n && kix_key_cmp(n->key, n->klen, key, klen) == 0) {
        if (n->last && n->last->seq > newest_snapshot)
            return AXS_OK; /* every live snapshot reads an older version (snapshot.h) */
    } else {
        int h = random_height(vs);
        assert(h >= 1 && h <= VS_MAX_HEIGHT); /* so n is linked at level 0 at least */
        n = calloc(1, sizeof *n + (size_t)h * sizeof(vs_node *));
        if (!n)
            return AXS_ENOMEM;
        n->key = malloc(klen ? klen : 1);
        if (!n->key) {
            free(n);
            return AXS_ENOMEM;
        }
        if (klen)
            memcpy(n->key, key, klen);
        n->klen = klen;
        n->height = h;
        if (h > vs->height)
            vs->height = h; /* prev[] above the old height already points at head */
        for (int i = 0; i < h; i++) {
            n->next[i] = prev[i]->next[i];
            prev[i]->next[i] = n;
        }
        vs->nodes++;
        vs->bytes += sizeof *n + (size_t)h * sizeof(vs_node *) + klen;
    }
    vs_version *v = calloc(1, sizeof *v);
    if (!v)
        return AXS_ENOMEM; /* the node may stay empty; vs_collect removes it */
    v->seq = seq;
    v->loc = old_loc;
    if (n->last)
        n->last->next = v;
    else
        n->first = v;
    n->last = v;
    vs->versions++;
    vs->bytes += sizeof *v;
    return AXS_OK;
}

const vs_version *vs_node_version(const vs_node *n, uint64_t s)
{
    for (const vs_version *v = n->first; v; v = v->next)
        if (v->seq > s)
            return v;
    return NULL;
}

const vs_version *vs_lookup(const vstore *vs, const void *key, size_t klen, uint64_t s)
{
    if (vs->nodes == 0)
        return NULL;
    vs_node *prev[VS_MAX_HEIGHT];
    find_prev(vs, key, klen, prev);
    vs_node *n = prev[0]->next[0];
    if (!n || kix_key_cmp(n->key, n->klen, key, klen) != 0)
        return NULL;
    return vs_node_version(n, s);
}

const vs_node *vs_seek(const vstore *vs, const void *key, size_t klen, bool after,
                       bool inclusive)
{
    if (vs->nodes == 0)
        return NULL;
    if (!key && after)
        return vs->head->next[0];
    vs_node *x = vs->head;
    for (int h = vs->height - 1; h >= 0; h--) {
        /* advance while next < key (or <= key when looking after, exclusive, or before,
         * inclusive) */
        for (vs_node *nx = x->next[h]; nx; nx = x->next[h]) {
            if (key) {
                int c = kix_key_cmp(nx->key, nx->klen, key, klen);
                bool go = (after ? !inclusive : inclusive) ? c <= 0 : c < 0;
                if (!go)
                    break;
            }
            x = nx;
        }
    }
    /* x is the last node before the boundary */
    if (after)
        return x->next[0];
    return x == vs->head ? NULL : x;
}

const void *vs_node_key(const vs_node *n, size_t *klen)
{
    *klen = n->klen;
    return n->key;
}

void vs_collect(vstore *vs, bool any_live, uint64_t oldest)
{
    vs_node *prev[VS_MAX_HEIGHT];
    for (int h = 0; h < VS_MAX_HEIGHT; h++)
        prev[h] = vs->head;
    for (vs_node *n = vs->head->next[0], *nx; n; n = nx) {
        nx = n->next[0];
        while (n->first && (!any_live || n->first->seq <= oldest)) {
            vs_version *v = n->first;
            n->first = v->next;
            vs->versions--;
            vs->bytes -= sizeof *v + (v->copied ? v->vlen : 0);
            version_free(v);
        }
        if (n->first) {
            for (int h = 0; h < n->height; h++)
                prev[h] = n;
            continue;
        }
        for (int h = 0; h < n->height; h++)
            prev[h]->next[h] = n->next[h];
        vs->nodes--;
        vs->bytes -= sizeof *n + (size_t)n->height * sizeof(vs_node *) + n->klen;
        n->last = NULL;
        node_free(n);
    }
    while (vs->height > 1 && !vs->head->next[vs->height - 1])
        vs->height--;
}

int vs_for_each_located(vstore *vs, int (*fn)(void *arg, vs_version *v), void *arg)
{
    for (vs_node *n = vs->head->next[0]; n; n = n->next[0])
        for (vs_version *v = n->first; v; v = v->next)
            if (!v->copied && v->loc != VS_ABSENT) {
                int rc = fn(arg, v);
                if (rc)
                    return rc;
                vs->bytes += v->vlen;
            }
    return AXS_OK;
}
