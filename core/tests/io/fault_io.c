/*
 * fault_io.c: see fault_io.h for the model.
 *
 * Bookkeeping:
 *
 *  - A node is a file the table has seen (an inode). It remembers its current path (NULL once
 *    unlinked) and, when its durable content may differ from its current content, a copy of
 *    the durable bytes (have_dur). A clean node carries no copy: its durable content is what
 *    is on disk. The copy is taken just before the first change (write, truncate, truncating
 *    open, removal, being replaced by a rename) and dropped again by a successful sync.
 *  - An entry is a directory entry (a normalized absolute path) the table has touched: its
 *    current state and its durable state, each absent, a directory, or a file (a node).
 *    sync_dir copies current to durable for the entries directly inside the directory.
 *  - Power loss: every entry whose durable state differs from its current one (or whose file
 *    has a durable copy) is "work". The content to restore is computed for every durable file
 *    first, then work entries are removed deepest first and recreated shallowest first.
 *
 * Every real file-system operation goes to the inner table (axs_io_posix()); the wrapper's own
 * reads and writes (snapshots, restores) are not counted and never fail on purpose.
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS */

#include "fault_io.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SIZE_TORN 4096u   /* granularity of the torn write */
#define HANDLE_MAGIC 0x46494f48u /* "FIOH": catches handles from elsewhere and double closes */
#define NBUCKETS 1024u          /* entry hash buckets (power of two) */

enum { ENT_NONE, ENT_FILE, ENT_DIR };

typedef struct fio_node {
    char *path;          /* current path, NULL once unlinked */
    bool have_dur;       /* dur holds the durable content; otherwise durable == on disk */
    unsigned char *dur;
    size_t dur_len;
    bool rest_ready;     /* power loss scratch: the content to restore */
    unsigned char *rest;
    size_t rest_len;
} fio_node;

typedef struct fio_entry {
    char *path;          /* normalized, absolute */
    size_t parent_len;   /* path[0..parent_len) is the parent directory */
    int cur_kind, dur_kind;
    fio_node *cur_node, *dur_node; /* for ENT_FILE */
    struct fio_entry *hnext;
} fio_entry;

typedef struct fio_handle {
    uint32_t magic;
    bool writable;
    axs_file *inner;     /* NULL once dead (power loss) */
    fio_node *node;      /* NULL for a directory or a dead handle */
    struct fio_handle *prev, *next;
} fio_handle;

typedef struct fio_mapping {
    const void *addr;
    size_t len;
    uint64_t gen;        /* table generation it was made in: older ones are dead */
    struct fio_mapping *next;
} fio_mapping;

struct fault_io {
    axs_io table;
    const axs_io *inner;
    pthread_mutex_t mu;
    uint64_t counts[FAULT_IO_NKINDS + 1]; /* [FAULT_IO_ANY] counts every call */

    bool armed, f_sticky;
    fault_io_kind f_kind;
    fault_io_fault f_fault;
    uint64_t f_target, f_fired;

    bool crashed;
    bool skip_sync;      /* fault_io_skip_real_sync */
    _Atomic unsigned sync_delay_us; /* fault_io_set_sync_delay; read without the lock */
    uint64_t gen;
    FILE *trace;

    fio_handle *handles; /* every handle not yet closed, live or dead */
    fio_mapping *maps;
    fio_entry **entries; /* in creation order */
    size_t n_entries, cap_entries;
    fio_entry *buckets[NBUCKETS];
    fio_node **nodes;
    size_t n_nodes, cap_nodes;
};

static const char *const kind_names[FAULT_IO_NKINDS + 1] = {
    "open", "close", "read_at", "write_at", "sync", "truncate", "size", "map", "unmap",
    "lock", "mkdir", "rename", "remove", "list_dir", "sync_dir", "stat", "any"};

/* ---- small helpers ------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Makes room for `need` elements of `elem` bytes in arr (capacity *cap); returns the possibly
 * moved array, or NULL (arr untouched) when out of memory. */
static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(arr, ncap * elem);
    if (p != NULL)
        *cap = ncap;
    return p;
}

/* Absolute, lexically normalized copy of path (malloc'd), or NULL on ENOMEM / no cwd. */
static char *norm_path(const char *path)
{
    char *full = NULL, *out = NULL;
    size_t o = 0;

    if (path[0] == '/') {
        full = strdup(path);
    } else {
        size_t cap = 256;
        for (;;) {
            char *cwd = malloc(cap);
            if (cwd == NULL)
                return NULL;
            if (getcwd(cwd, cap) != NULL) {
                size_t cl = strlen(cwd), pl = strlen(path);
                full = malloc(cl + pl + 2);
                if (full != NULL) {
                    memcpy(full, cwd, cl);
                    full[cl] = '/';
                    memcpy(full + cl + 1, path, pl + 1);
                }
                free(cwd);
                break;
            }
            free(cwd);
            if (errno != ERANGE)
                return NULL;
            cap *= 2;
        }
    }
    if (full == NULL)
        return NULL;
    out = malloc(strlen(full) + 2);
    if (out == NULL)
        goto leave;
    for (const char *p = full; *p != '\0';) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        const char *s = p;
        while (*p != '\0' && *p != '/')
            p++;
        size_t n = (size_t)(p - s);
        if (n == 1 && s[0] == '.')
            continue;
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            continue;
        }
        out[o++] = '/';
        memcpy(out + o, s, n);
        o += n;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
leave:
    free(full);
    return out;
}

static size_t parent_len_of(const char *npath)
{
    const char *slash = strrchr(npath, '/');
    size_t n = (size_t)(slash - npath);
    return n == 0 ? 1 : n; /* "/a" -> "/" */
}

static int depth_of(const char *npath)
{
    int d = 0;
    for (; *npath != '\0'; npath++)
        d += *npath == '/';
    return d;
}

static uint32_t hash_path(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h & (NBUCKETS - 1);
}

/* ---- inner I/O helpers (not counted, no faults) ------------------------------------------- */

/* Reads the whole file behind an inner handle into a malloc'd buffer. */
static int read_all_inner(fault_io *fio, axs_file *in, unsigned char **buf, size_t *len)
{
    uint64_t size = 0;
    unsigned char *b;
    int rc = fio->inner->size(fio->inner->ctx, in, &size);

    *buf = NULL;
    *len = 0;
    if (rc != 0)
        return rc;
    if (size > SIZE_MAX - 1)
        return -EFBIG;
    b = malloc((size_t)size + 1);
    if (b == NULL)
        return -ENOMEM;
    int64_t got = size ? fio->inner->read_at(fio->inner->ctx, in, b, (size_t)size, 0) : 0;
    if (got < 0) {
        free(b);
        return (int)got;
    }
    *buf = b;
    *len = (size_t)got;
    return 0;
}

static int read_all_path(fault_io *fio, const char *path, unsigned char **buf, size_t *len)
{
    axs_file *in = NULL;
    int rc = fio->inner->open(fio->inner->ctx, path, AXS_IO_READ, &in);
    if (rc != 0)
        return rc;
    rc = read_all_inner(fio, in, buf, len);
    fio->inner->close(fio->inner->ctx, in);
    return rc;
}

static int write_all_inner(fault_io *fio, axs_file *out, const unsigned char *buf, size_t len)
{
    if (len == 0)
        return 0;
    int64_t n = fio->inner->write_at(fio->inner->ctx, out, buf, len, 0);
    if (n < 0)
        return (int)n;
    return (size_t)n == len ? 0 : -EIO;
}

/* Creates or replaces path with exactly buf[0..len). */
static int write_file(fault_io *fio, const char *path, const unsigned char *buf, size_t len)
{
    axs_file *out = NULL;
    int rc = fio->inner->open(fio->inner->ctx, path,
                              AXS_IO_WRITE | AXS_IO_CREATE | AXS_IO_TRUNCATE, &out);
    if (rc != 0)
        return rc;
    rc = write_all_inner(fio, out, buf, len);
    int rc2 = fio->inner->close(fio->inner->ctx, out);
    return rc != 0 ? rc : rc2;
}

typedef struct name_list {
    char **names;
    size_t n, cap;
    int err;
} name_list;

static int collect_name(void *arg, const char *name)
{
    name_list *l = arg;
    char *copy = strdup(name);
    char **names = copy ? grow(l->names, &l->cap, l->n + 1, sizeof *l->names) : NULL;
    if (names == NULL) {
        free(copy);
        l->err = -ENOMEM;
        return 1;
    }
    l->names = names;
    l->names[l->n++] = copy;
    return 0;
}

static void free_names(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
}

/* Removes path and, for a directory, everything below it. Missing is fine. */
static int rm_rf(fault_io *fio, const char *path)
{
    int is_dir = 0, rc = fio->inner->stat(fio->inner->ctx, path, &is_dir);
    name_list l = {0};

    if (rc == -ENOENT)
        return 0;
    if (rc != 0)
        return rc;
    if (is_dir) {
        rc = fio->inner->list_dir(fio->inner->ctx, path, collect_name, &l);
        if (rc != 0) {
            rc = l.err ? l.err : rc;
            goto leave;
        }
        for (size_t i = 0; i < l.n; i++) {
            size_t pl = strlen(path), nl = strlen(l.names[i]);
            char *child = malloc(pl + nl + 2);
            if (child == NULL) {
                rc = -ENOMEM;
                goto leave;
            }
            memcpy(child, path, pl);
            child[pl] = '/';
            memcpy(child + pl + 1, l.names[i], nl + 1);
            rc = rm_rf(fio, child);
            free(child);
            if (rc != 0)
                goto leave;
        }
    }
    rc = fio->inner->remove(fio->inner->ctx, path);
    if (rc == -ENOENT)
        rc = 0;
leave:
    free_names(&l);
    return rc;
}

/* ---- nodes and entries -------------------------------------------------------------------- */

static fio_node *node_new(fault_io *fio, const char *npath)
{
    fio_node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    if (npath != NULL && (n->path = strdup(npath)) == NULL)
        goto fail;
    fio_node **nodes = grow(fio->nodes, &fio->cap_nodes, fio->n_nodes + 1, sizeof *nodes);
    if (nodes == NULL)
        goto fail;
    fio->nodes = nodes;
    fio->nodes[fio->n_nodes++] = n;
    return n;
fail:
    free(n->path);
    free(n);
    return NULL;
}

static void node_set_path(fio_node *n, char *owned_path)
{
    free(n->path);
    n->path = owned_path;
}

/* Takes the durable copy of a clean node, from the open inner handle `via` if given, else
 * from its path. */
static int node_snapshot(fault_io *fio, fio_node *n, axs_file *via)
{
    int rc;
    if (n->have_dur)
        return 0;
    if (via != NULL)
        rc = read_all_inner(fio, via, &n->dur, &n->dur_len);
    else if (n->path != NULL)
        rc = read_all_path(fio, n->path, &n->dur, &n->dur_len);
    else
        rc = -EIO; /* a clean node is always linked; see the invariant at the top */
    if (rc == 0)
        n->have_dur = true;
    return rc;
}

static fio_entry *entry_find(fault_io *fio, const char *npath)
{
    for (fio_entry *e = fio->buckets[hash_path(npath)]; e != NULL; e = e->hnext)
        if (strcmp(e->path, npath) == 0)
            return e;
    return NULL;
}

static fio_entry *entry_add(fault_io *fio, const char *npath, int kind, fio_node *node)
{
    fio_entry *e = calloc(1, sizeof *e);
    fio_entry **entries = grow(fio->entries, &fio->cap_entries, fio->n_entries + 1,
                               sizeof *entries);
    if (entries != NULL)
        fio->entries = entries;
    if (e == NULL || entries == NULL || (e->path = strdup(npath)) == NULL) {
        free(e);
        return NULL;
    }
    e->parent_len = parent_len_of(e->path);
    e->cur_kind = e->dur_kind = kind;
    e->cur_node = e->dur_node = node;
    uint32_t b = hash_path(e->path);
    e->hnext = fio->buckets[b];
    fio->buckets[b] = e;
    fio->entries[fio->n_entries++] = e;
    return e;
}

static void entry_unhash(fault_io *fio, fio_entry *e)
{
    fio_entry **pp = &fio->buckets[hash_path(e->path)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
}

/* Drops an entry from tracking (its state is taken as durable). */
static void entry_forget(fault_io *fio, size_t i)
{
    fio_entry *e = fio->entries[i];
    entry_unhash(fio, e);
    memmove(&fio->entries[i], &fio->entries[i + 1], (fio->n_entries - i - 1) * sizeof *fio->entries);
    fio->n_entries--;
    free(e->path);
    free(e);
}

/* Returns the entry for npath, creating it from what is on disk now (which is then taken as
 * durable). An entry believed absent is refreshed from disk, in case the file appeared behind
 * the table's back. */
static int entry_get(fault_io *fio, const char *npath, fio_entry **out)
{
    fio_entry *e = entry_find(fio, npath);
    int is_dir = 0, rc;

    *out = e;
    if (e != NULL && e->cur_kind != ENT_NONE)
        return 0;
    rc = fio->inner->stat(fio->inner->ctx, npath, &is_dir);
    if (rc != 0 && rc != -ENOENT)
        return rc;
    int kind = rc == -ENOENT ? ENT_NONE : is_dir ? ENT_DIR : ENT_FILE;
    fio_node *node = NULL;
    if (kind == ENT_FILE && (node = node_new(fio, npath)) == NULL)
        return -ENOMEM;
    if (e != NULL) {
        e->cur_kind = kind;
        e->cur_node = node;
    } else if ((e = entry_add(fio, npath, kind, node)) == NULL) {
        return -ENOMEM;
    }
    *out = e;
    return 0;
}

/* True if the entry is durable as it is (nothing for a power loss to undo). */
static bool entry_settled(const fio_entry *e)
{
    if (e->cur_kind != e->dur_kind)
        return false;
    if (e->cur_kind != ENT_FILE)
        return true;
    return e->cur_node == e->dur_node && !e->cur_node->have_dur;
}

static void forget_all(fault_io *fio)
{
    for (size_t i = 0; i < fio->n_entries; i++) {
        free(fio->entries[i]->path);
        free(fio->entries[i]);
    }
    for (size_t i = 0; i < fio->n_nodes; i++) {
        free(fio->nodes[i]->path);
        free(fio->nodes[i]->dur);
        free(fio->nodes[i]->rest);
        free(fio->nodes[i]);
    }
    free(fio->entries);
    free(fio->nodes);
    fio->entries = NULL;
    fio->nodes = NULL;
    fio->n_entries = fio->cap_entries = fio->n_nodes = fio->cap_nodes = 0;
    memset(fio->buckets, 0, sizeof fio->buckets);
}

/* ---- call accounting ---------------------------------------------------------------------- */

static uint64_t count_call(fault_io *fio, fault_io_kind kind)
{
    fio->counts[kind]++;
    return ++fio->counts[FAULT_IO_ANY];
}

/* True if the armed fault hits this call (whose counters were just incremented). */
static bool fault_fires(fault_io *fio, fault_io_kind kind, fault_io_fault *fault)
{
    if (!fio->armed || (fio->f_kind != FAULT_IO_ANY && fio->f_kind != kind))
        return false;
    uint64_t n = fio->counts[fio->f_kind];
    if (n == fio->f_target || (fio->f_sticky && n > fio->f_target)) {
        fio->f_fired++;
        *fault = fio->f_fault;
        return true;
    }
    return false;
}

static int fault_rc(fault_io_fault fault)
{
    return fault == FAULT_IO_ENOSPC ? -ENOSPC : -EIO;
}

static void trace(fault_io *fio, uint64_t seq, fault_io_kind kind, const char *a, const char *b,
                  int64_t rc)
{
    if (fio->trace == NULL)
        return;
    fprintf(fio->trace, "fault_io #%" PRIu64 " %s %s%s%s -> %" PRId64 "\n", seq, kind_names[kind],
            a ? a : "", b ? " " : "", b ? b : "", rc);
    fflush(fio->trace);
}

static fio_handle *handle_of(axs_file *f)
{
    return (fio_handle *)(void *)f;
}

/* 0 if the call may go ahead on handle h, -EINVAL for a foreign handle, -EIO for a dead
 * handle or a crashed table. */
static int check_handle(const fault_io *fio, const fio_handle *h)
{
    if (h == NULL || h->magic != HANDLE_MAGIC)
        return -EINVAL;
    if (fio->crashed || h->inner == NULL)
        return -EIO;
    return 0;
}

static const char *handle_name(const fio_handle *h)
{
    return h != NULL && h->magic == HANDLE_MAGIC && h->node != NULL && h->node->path != NULL
               ? h->node->path
               : "(handle)";
}

#define FIO_LOCK(fio) pthread_mutex_lock(&(fio)->mu)
#define FIO_UNLOCK(fio) pthread_mutex_unlock(&(fio)->mu)

/* ---- the table: files --------------------------------------------------------------------- */

/* The node for an existing path after (or before) opening it; NULL for a directory or a
 * missing path. */
static int node_of_path(fault_io *fio, const char *npath, fio_node **node)
{
    fio_entry *e;
    int rc = entry_get(fio, npath, &e);
    *node = NULL;
    if (rc == 0 && e->cur_kind == ENT_FILE)
        *node = e->cur_node;
    return rc;
}

static int do_open(fault_io *fio, const char *path, int flags, axs_file **out)
{
    const axs_io *in = fio->inner;
    char *np = NULL;
    fio_handle *h = NULL;
    axs_file *inner = NULL;
    fio_node *node = NULL;
    bool created = false;
    int rc;

    if (path == NULL || out == NULL)
        return -EINVAL;
    if ((np = norm_path(path)) == NULL || (h = calloc(1, sizeof *h)) == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((flags & AXS_IO_CREATE) && (flags & AXS_IO_WRITE)) {
        /* Learn whether the open creates the file: try exclusively first. */
        rc = in->open(in->ctx, path, (flags | AXS_IO_EXCL) & ~AXS_IO_TRUNCATE, &inner);
        if (rc == 0)
            created = true;
        else if (rc != -EEXIST || (flags & AXS_IO_EXCL))
            goto fail;
        else
            flags &= ~AXS_IO_CREATE;
    }
    if (!created) {
        if ((flags & AXS_IO_TRUNCATE) && (flags & AXS_IO_WRITE)) {
            /* The open itself changes the file: keep its durable content first. */
            if ((rc = node_of_path(fio, np, &node)) != 0)
                goto fail;
            if (node != NULL && (rc = node_snapshot(fio, node, NULL)) != 0)
                goto fail;
        }
        if ((rc = in->open(in->ctx, path, flags, &inner)) != 0)
            goto fail;
        if ((rc = node_of_path(fio, np, &node)) != 0)
            goto fail;
    } else {
        fio_entry *e = entry_find(fio, np);
        if ((node = node_new(fio, np)) == NULL) {
            rc = -ENOMEM;
            goto fail;
        }
        node->have_dur = true; /* durable content: empty (never synced) */
        if (e == NULL && (e = entry_add(fio, np, ENT_NONE, NULL)) == NULL) {
            rc = -ENOMEM;
            goto fail;
        }
        e->cur_kind = ENT_FILE;
        e->cur_node = node;
    }
    h->magic = HANDLE_MAGIC;
    h->writable = (flags & AXS_IO_WRITE) != 0;
    h->inner = inner;
    h->node = node;
    h->next = fio->handles;
    if (fio->handles != NULL)
        fio->handles->prev = h;
    fio->handles = h;
    *out = (axs_file *)(void *)h;
    free(np);
    return 0;

fail:
    if (inner != NULL)
        in->close(in->ctx, inner);
    free(h);
    free(np);
    return rc;
}

static int fio_open(void *ctx, const char *path, int flags, axs_file **out)
{
    fault_io *fio = ctx;
    fault_io_fault fault;
    int rc;

    FIO_LOCK(fio);
    uint64_t seq = count_call(fio, FAULT_IO_OPEN);
    if (out != NULL)
        *out = NULL;
    if (fio->crashed)
        rc = -EIO;
    else if (fault_fires(fio, FAULT_IO_OPEN, &fault))
        rc = fault_rc(fault);
    else
        rc = do_open(fio, path, flags, out);
    trace(fio, seq, FAULT_IO_OPEN, path, NULL, rc);
    FIO_UNLOCK(fio);
    return rc;
}

static void handle_unlink(fault_io *fio, fio_handle *h)
{
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        fio->handles = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
}

static int fio_close(void *ctx, axs_file *f)
{
    fault_io *fio = ctx;
    fio_handle *h = handle_of(f);
    fault_io_fault fault;
    int rc;

    FIO_LOCK(fio);
    uint64_t seq = count_call(fio, FAULT_IO_CLOSE);
    const char *name = handle_name(h); /* the node, and so the name, outlives the handle */
    rc = check_handle(fio, h);
    if (rc == -EINVAL)
        goto done;
    bool fires = rc == 0 && fault_fires(fio, FAULT_IO_CLOSE, &fault);
    if (h->inner != NULL) {
        int r = fio->inner->close(fio->inner->ctx, h->inner); /* always release */
        if (rc == 0)
            rc = fires ? fault_rc(fault) : r;
    }
    handle_unlink(fio, h);
    h->magic = 0;
    free(h);
done:
    trace(fio, seq, FAULT_IO_CLOSE, name, NULL, rc);
    FIO_UNLOCK(fio);
    return rc;
}

static int64_t fio_read_at(void *ctx, axs_file *f, void *buf, size_t len, uint64_t off)
{
    fault_io *fio = ctx;
    fio_handle *h = handle_of(f);
    fault_io_fault fault;
    int64_t rc;

    FIO_LOCK(fio);
    uint64_t seq = count_call(fio, FAULT_IO_READ_AT);
    if ((rc = check_handle(fio, h)) == 0) {
        if (fault_fires(fio, FAULT_IO_READ_AT, &fault))
            rc = fault_rc(fault);
        else
            rc = fio->inner->read_at(fio->inner->ctx, h->inner, buf, len, off);
    }
    trace(fio, seq, FAULT_IO_READ_AT, handle_name(h), NULL, rc);
    FIO_UNLOCK(fio);
    return rc;
}

static int64_t fio_write_at(void *ctx, axs_file *f, const void *buf, size_t len, uint64_t off)
{
    fault_io *fio = ctx;
    fio_handle *h = handle_of(f);
    fault_io_fault fault;
    int64_t rc;
    size_t wlen = len;

    FIO_LOCK(fio);
    uint64_t seq = count_call(fio, FAULT_IO_WRITE_AT);
    if ((rc = check_handle(fio, h)) != 0)
        goto done;
    if (fault_fires(fio, FAULT_IO_WRITE_AT, &fault)) {
        if (fault != FAULT_IO_SHORT_WRITE) {
            rc = fault_rc(fault);
            goto done;
        }
        wlen = len / 2;
    }
    if (h->node != NULL && wlen > 0 && (rc = node_snapshot(fio, h->node, h->inner)) != 0)
        goto done;
    rc = fio->inner->write_at(fio->inner->ctx, h->inner, buf, wlen, off);
done:
    trace(fio, seq, FAULT_IO_WRITE_AT, handle_name(h), NULL, rc);
    FIO_UNLOCK(fio);
    return rc;
}

/* FAULT_IO_SYNC_LOST: the unsynced bytes of h's file are replaced by what a re-read from disk
 * would give (the durable byte, or zero past the durable size); the size stays. */
static int drop_unsynced(fault_io *fio, fio_handle *h)
{
    fio_node *n = h->node;
    axs_file *out = NULL, *tmp = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc;

    if (n == NULL || !n->have_dur)
        return 0; /* nothing unsynced */
    if (h->writable)
        out = h->inner;
    else if (n->path != NULL &&
             (rc = fio->inner->open(fio->inner->ctx, n->path, AXS_IO_WRITE, &tmp)) == 0)
        out = tmp;
    else
        return 0; /* unreachable for writing: leave it */
    if ((rc = read_all_inner(fio, out, &buf, &len)) != 0)
        goto leave;
    for (size_t i = 0; i < len; i++)
        buf[i] = i < n->dur_len ? n->dur[i] : 0;
    rc = write_all_inner(fio, out, buf, len);
leave:
    free(buf);
    if (tmp != NULL)
        fio->inner->close(fio->inner->ctx, tmp);
    return rc;
}

static int fio_sync(void *ctx, axs_file *f)
{
    fault_io *fio = ctx;
    fio_handle *h = handle_of(f);
    fault_io_fault fault;
    int rc;

    unsigned delay = atomic_load(&fio->sync_delay_us);
    if (delay) {
        struct timespec ts = {(time_t)(delay / 1000000), (long)(delay % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
    FIO_LOCK(fio);
    uint64_t seq = count_call(fio, FAULT_IO_SYNC);
    if ((rc = check_handle(fio, h)) != 0)
        goto done;
    if (fault_fires(fio, FAULT_IO_SYNC, &fault)) {
        if (fault == FAULT_IO_SYNC_LOST)
            drop_unsynced(fio, h); /* best effort: the call fails anyway */
        rc = fault_rc(fault);
        goto done;
    }
    if (!fio->skip_sync && (rc = fio->inner->sync(fio->inner->ctx, h->inner)) != 0)
        goto done;
    if (h->node == NULL)
        goto done;
    fio_node *n = h->node;
    free(n->dur);
    n->dur = NULL;
    n->dur_len = 0;
    n->have_dur = false;
    if (n->path == NULL) /* unlinked: only the handle still reaches the content */
        rc = node_snapshot(fio, n, h->inner);
done:
    trace(fio, seq, FAULT_IO_SYNC, handle_name(h), NULL, rc);
    FIO_UNLOCK(fio);
    return rc;
}

static int fio_truncate(void *ctx, axs_file *f, uint64_t size)
{
    fault_io *fio = ctx;
    fio_handle *h = handle_of(f);
    fault_io_fault fault;
    int rc;

    FIO_LOCK(fio);
    uint64_t seq = count_call(fio, FAULT_IO_TRUNCATE);
    if ((rc = check_handle(fio, h)) != 0)
        goto done;
    if (fault_fires(fio, FAULT_IO_TRUNCATE, &fault)) {
        rc = fault_rc(fault);
        goto done;
    }
    if (h->node != NULL && (rc = node_snapshot(fio, h->node, h->inner)) != 0)
        goto done;
    rc = fio->inner->truncate(fio->inner->ctx, h->inner, size);
done:
    trace(fio, seq, FAULT_IO_TRUNCATE, handle_name(h), NULL, rc);
    FIO_UNLOCK(fio);
    return rc;
}

static int fio_size(void *ctx, axs_file *f, uint64_t *size)
{
    fault_io *fio = ctx;
    fio_handle *h = handle_of(f);
    fault_io_fault fault;
    int rc;

    FIO_LOCK(fio);
    uint64_t seq = count_call(fio, FAULT_IO_SIZE);
    if ((rc = check_handle(fio, h)) == 0) {
        if (fault_fires(fio, FAULT_IO_SIZE, &fault))
            rc = fault_rc(fault);
        else
            rc = fio->inner->size(fio->inner->ctx, h->inner, size);
    }
    trace(fio, seq, FAULT_IO_SIZE, handle_name(h), NULL, rc);
    FIO_UNLOCK(fio);
    return rc;
}

static int fio_map(void *ctx, axs_file *f, size_t len, const void **addr)
{
    fault_io *fio = ctx;
    fio_handle *h = handle_of(f);
    fault_io_fault fault;
    fio_mapping *m = NULL;
    int rc;

    FIO_LOCK(fio);
    uint64_t seq = count_call(fio, FAULT_IO_MAP);
    if (addr != NULL)
        *addr = NULL;
    if ((rc = check_handle(fio, h)) != 0)
        goto done;
    if (fault_fires(fio, FAULT_IO_MAP, &fault)) {
        rc = fault_rc(fault);
        goto done;
    }
    if ((m = malloc(sizeof *m)) == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    if ((rc = fio->inner->map(fio->inner->ctx, h->inner, len, addr)) != 0) {
        free(m);
        goto done;
    }
    m->addr = *addr;
    m->len = len;
    m->gen = fio->gen;
    m->next = fio->maps;
    fio->maps = m;
done:
    trace(fio, seq, FAULT_IO_MAP, handle_name(h), NULL, rc);
    FIO_UNLOCK(fio);
    return rc;
}

/* The mapping is found by its address alone and f is not looked at (it may already be
 * closed, as with the posix table); the inner posix unmap ignores its file argument. */
static int fio_unmap(void *ctx, axs_file *f, const void *addr, size_t len)
{
    fault_io *fio = ctx;
    fault_io_fault fault;
    fio_mapping **pp = &fio->maps, *m;
    int rc;

    (void)f;
    FIO_LOCK(fio);
    uint64_t seq = count_call(fio, FAULT_IO_UNMAP);
    while (*pp != NULL && (*pp)->addr != addr)
        pp = &(*pp)->next;
    m = *pp;
    if (m == NULL || m->len != len) {
        rc = -EINVAL;
        goto done;
    }
    bool dead = fio->crashed || m->gen != fio->gen;
    bool fires = !dead && fault_fires(fio, FAULT_IO_UNMAP, &fault);
    rc = fio->inner->unmap(fio->inner->ctx, NULL, addr, len); /* always release */
    if (dead)
        rc = -EIO;
    else if (fires)
        rc = fault_rc(fault);
    *pp = m->next;
    free(m);
done:
    trace(fio, seq, FAULT_IO_UNMAP, "(mapping)", NULL, rc);
    FIO_UNLOCK(fio);
    return rc;
}

static int fio_lock(void *ctx, axs_file *f)
{
    fault_io *fio = ctx;
    fio_handle *h = handle_of(f);
    fault_io_fault fault;
    int rc;

    FIO_LOCK(fio);
    uint64_t seq = count_call(fio, FAULT_IO_LOCK);
    if ((rc = check_handle(fio, h)) == 0) {
        if (fault_fires(fio, FAULT_IO_LOCK, &fault))
            rc = fault_rc(fault);
        else
            rc = fio->inner->lock(fio->inner->ctx, h->inner);
    }
    trace(fio, seq, FAULT_IO_LOCK, handle_name(h), NULL, rc);
    FIO_UNLOCK(fio);
    return rc;
}

/* ---- the table: names and directories ----------------------------------------------------- */

/* Common start of the path calls: counts, then -EIO if crashed, the fault's error if it
 * fires, else 0. */
static int path_call_begin(fault_io *fio, fault_io_kind kind, uint64_t *seq)
{
    fault_io_fault fault;
    *seq = count_call(fio, kind);
    if (fio->crashed)
        return -EIO;
    if (fault_fires(fio, kind, &fault))
        return fault_rc(fault);
    return 0;
}

static int fio_mkdir(void *ctx, const char *path)
{
    fault_io *fio = ctx;
    char *np = NULL;
    uint64_t seq;
    int rc;

    FIO_LOCK(fio);
    if ((rc = path_call_begin(fio, FAULT_IO_MKDIR, &seq)) != 0)
        goto done;
    if (path == NULL) {
        rc = -EINVAL;
        goto done;
    }
    if ((np = norm_path(path)) == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    if ((rc = fio->inner->mkdir(fio->inner->ctx, path)) != 0)
        goto done;
    fio_entry *e = entry_find(fio, np);
    if (e == NULL && (e = entry_add(fio, np, ENT_NONE, NULL)) == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    e->cur_kind = ENT_DIR;
    e->cur_node = NULL;
done:
    trace(fio, seq, FAULT_IO_MKDIR, path, NULL, rc);
    free(np);
    FIO_UNLOCK(fio);
    return rc;
}

/* Paths below dir: "dir/..." (dir normalized, not "/"). */
static bool is_below(const char *path, const char *dir, size_t dl)
{
    return strncmp(path, dir, dl) == 0 && path[dl] == '/';
}

/* A directory was renamed from nf to nt: not modelled; everything involved becomes durable
 * as it now is (see fault_io.h, limits). */
static int rename_dir(fault_io *fio, fio_entry *ef, fio_entry *et, const char *nf,
                      const char *nt)
{
    size_t fl = strlen(nf), tl = strlen(nt);

    for (size_t i = fio->n_entries; i-- > 0;) {
        const char *p = fio->entries[i]->path;
        if (is_below(p, nf, fl) || is_below(p, nt, tl))
            entry_forget(fio, i);
    }
    for (size_t i = 0; i < fio->n_nodes; i++) {
        fio_node *n = fio->nodes[i];
        if (n->path == NULL || !is_below(n->path, nf, fl))
            continue;
        size_t rl = strlen(n->path + fl);
        char *np = malloc(tl + rl + 1);
        if (np == NULL)
            return -ENOMEM;
        memcpy(np, nt, tl);
        memcpy(np + tl, n->path + fl, rl + 1);
        node_set_path(n, np);
        free(n->dur);
        n->dur = NULL;
        n->dur_len = 0;
        n->have_dur = false;
    }
    ef->cur_kind = ef->dur_kind = ENT_NONE;
    ef->cur_node = ef->dur_node = NULL;
    et->cur_kind = et->dur_kind = ENT_DIR;
    et->cur_node = et->dur_node = NULL;
    return 0;
}

static int fio_rename(void *ctx, const char *from, const char *to)
{
    fault_io *fio = ctx;
    char *nf = NULL, *nt = NULL;
    fio_entry *ef, *et;
    uint64_t seq;
    int rc;

    FIO_LOCK(fio);
    if ((rc = path_call_begin(fio, FAULT_IO_RENAME, &seq)) != 0)
        goto done;
    if (from == NULL || to == NULL) {
        rc = -EINVAL;
        goto done;
    }
    if ((nf = norm_path(from)) == NULL || (nt = norm_path(to)) == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    if (strcmp(nf, nt) == 0) { /* a no-op for rename(2) too */
        rc = fio->inner->rename(fio->inner->ctx, from, to);
        goto done;
    }
    if ((rc = entry_get(fio, nf, &ef)) != 0 || (rc = entry_get(fio, nt, &et)) != 0)
        goto done;
    if (ef->cur_kind == ENT_FILE && et->cur_kind == ENT_FILE &&
        (rc = node_snapshot(fio, et->cur_node, NULL)) != 0)
        goto done;
    if ((rc = fio->inner->rename(fio->inner->ctx, from, to)) != 0)
        goto done;
    if (ef->cur_kind == ENT_DIR) {
        rc = rename_dir(fio, ef, et, nf, nt);
    } else if (ef->cur_kind == ENT_FILE) {
        fio_node *n = ef->cur_node;
        if (et->cur_kind == ENT_FILE)
            node_set_path(et->cur_node, NULL);
        node_set_path(n, nt);
        nt = NULL; /* now owned by the node */
        et->cur_kind = ENT_FILE;
        et->cur_node = n;
        ef->cur_kind = ENT_NONE;
        ef->cur_node = NULL;
    }
done:
    trace(fio, seq, FAULT_IO_RENAME, from, to, rc);
    free(nf);
    free(nt);
    FIO_UNLOCK(fio);
    return rc;
}

static int fio_remove(void *ctx, const char *path)
{
    fault_io *fio = ctx;
    char *np = NULL;
    fio_entry *e;
    uint64_t seq;
    int rc;

    FIO_LOCK(fio);
    if ((rc = path_call_begin(fio, FAULT_IO_REMOVE, &seq)) != 0)
        goto done;
    if (path == NULL) {
        rc = -EINVAL;
        goto done;
    }
    if ((np = norm_path(path)) == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    if ((rc = entry_get(fio, np, &e)) != 0)
        goto done;
    if (e->cur_kind == ENT_FILE && (rc = node_snapshot(fio, e->cur_node, NULL)) != 0)
        goto done;
    if ((rc = fio->inner->remove(fio->inner->ctx, path)) != 0)
        goto done;
    if (e->cur_kind == ENT_FILE)
        node_set_path(e->cur_node, NULL);
    e->cur_kind = ENT_NONE;
    e->cur_node = NULL;
done:
    trace(fio, seq, FAULT_IO_REMOVE, path, NULL, rc);
    free(np);
    FIO_UNLOCK(fio);
    return rc;
}

static int fio_list_dir(void *ctx, const char *path, axs_io_dir_fn fn, void *arg)
{
    fault_io *fio = ctx;
    name_list l = {0};
    uint64_t seq;
    int rc;

    FIO_LOCK(fio);
    if ((rc = path_call_begin(fio, FAULT_IO_LIST_DIR, &seq)) == 0) {
        if (path == NULL || fn == NULL)
            rc = -EINVAL;
        else if ((rc = fio->inner->list_dir(fio->inner->ctx, path, collect_name, &l)) != 0 &&
                 l.err != 0)
            rc = l.err;
    }
    trace(fio, seq, FAULT_IO_LIST_DIR, path, NULL, rc);
    FIO_UNLOCK(fio);
    /* The callback runs unlocked, so it may call the table. */
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        rc = fn(arg, l.names[i]);
    free_names(&l);
    return rc;
}

static int fio_sync_dir(void *ctx, const char *path)
{
    fault_io *fio = ctx;
    char *np = NULL;
    uint64_t seq;
    int rc;

    FIO_LOCK(fio);
    if ((rc = path_call_begin(fio, FAULT_IO_SYNC_DIR, &seq)) != 0)
        goto done;
    if (path == NULL) {
        rc = -EINVAL;
        goto done;
    }
    if ((np = norm_path(path)) == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    if (fio->skip_sync) {
        int is_dir = 0;
        if ((rc = fio->inner->stat(fio->inner->ctx, path, &is_dir)) == 0 && !is_dir)
            rc = -ENOTDIR;
    } else {
        rc = fio->inner->sync_dir(fio->inner->ctx, path);
    }
    if (rc != 0)
        goto done;
    size_t dl = strlen(np);
    for (size_t i = 0; i < fio->n_entries; i++) {
        fio_entry *e = fio->entries[i];
        if (e->parent_len == dl && strncmp(e->path, np, dl) == 0 && e->path[dl] != '\0') {
            e->dur_kind = e->cur_kind;
            e->dur_node = e->cur_node;
        }
    }
done:
    trace(fio, seq, FAULT_IO_SYNC_DIR, path, NULL, rc);
    free(np);
    FIO_UNLOCK(fio);
    return rc;
}

static int fio_stat(void *ctx, const char *path, int *is_dir)
{
    fault_io *fio = ctx;
    uint64_t seq;
    int rc;

    FIO_LOCK(fio);
    if ((rc = path_call_begin(fio, FAULT_IO_STAT, &seq)) == 0)
        rc = fio->inner->stat(fio->inner->ctx, path, is_dir);
    trace(fio, seq, FAULT_IO_STAT, path, NULL, rc);
    FIO_UNLOCK(fio);
    return rc;
}

/* ---- power loss --------------------------------------------------------------------------- */

/* Computes n->rest: the content n will have after the power loss. */
static int compute_rest(fault_io *fio, fio_node *n, bool torn, uint64_t *rng)
{
    unsigned char *cur = NULL;
    size_t cl = 0;
    int rc;

    if (n->rest_ready)
        return 0;
    if (!n->have_dur) { /* durable == current, and a clean node is linked */
        if (n->path == NULL)
            return -EIO;
        rc = read_all_path(fio, n->path, &n->rest, &n->rest_len);
        goto leave;
    }
    if (torn && n->path != NULL) {
        if ((rc = read_all_path(fio, n->path, &cur, &cl)) != 0)
            return rc;
        if (cl >= n->dur_len) {
            /* The changed bytes [p, q) are taken as one sequential write that was cut at a
             * random point `keep`: bytes before it survive, the rest of keep's page (within
             * [p, q)) is garbage, and everything after is durable again. Bytes outside [p, q)
             * are the same in both versions and are never touched. */
            const unsigned char *dur = n->dur;
            size_t dl = n->dur_len, p = 0, q;
            while (p < dl && cur[p] == dur[p])
                p++;
            q = cl;
            if (cl == dl)
                while (q > p && cur[q - 1] == dur[q - 1])
                    q--;
            size_t keep = p + (size_t)(splitmix64(rng) % (uint64_t)(q - p + 1));
            size_t end = keep;
            if (keep % PAGE_SIZE_TORN != 0) {
                end = (keep / PAGE_SIZE_TORN + 1) * PAGE_SIZE_TORN;
                if (end > q)
                    end = q;
            }
            for (size_t i = keep; i < end; i++)
                cur[i] = (unsigned char)splitmix64(rng);
            if (end < dl)
                memcpy(cur + end, dur + end, dl - end);
            n->rest = cur;
            n->rest_len = end > dl ? end : dl;
            rc = 0;
            goto leave;
        }
        free(cur); /* shrunk by a truncate: rolled back entirely */
    }
    n->rest_len = n->dur_len;
    n->rest = malloc(n->dur_len + 1);
    if (n->rest == NULL)
        return -ENOMEM;
    if (n->dur_len > 0)
        memcpy(n->rest, n->dur, n->dur_len);
    rc = 0;
leave:
    if (rc == 0)
        n->rest_ready = true;
    return rc;
}

static int cmp_deeper_first(const void *a, const void *b)
{
    const fio_entry *x = *(fio_entry *const *)a, *y = *(fio_entry *const *)b;
    int dx = depth_of(x->path), dy = depth_of(y->path);
    if (dx != dy)
        return dx > dy ? -1 : 1;
    return strcmp(x->path, y->path);
}

static int restore_durable(fault_io *fio, bool torn, uint64_t seed)
{
    const axs_io *in = fio->inner;
    fio_entry **work = NULL;
    size_t nw = 0;
    uint64_t rng = seed;
    int rc = 0;

    if (fio->n_entries == 0)
        return 0;
    if ((work = malloc(fio->n_entries * sizeof *work)) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < fio->n_entries; i++)
        if (!entry_settled(fio->entries[i]))
            work[nw++] = fio->entries[i];
    /* 1. What every surviving file will contain, read before anything is removed. */
    for (size_t i = 0; i < nw; i++)
        if (work[i]->dur_kind == ENT_FILE &&
            (rc = compute_rest(fio, work[i]->dur_node, torn, &rng)) != 0)
            goto leave;
    /* 2. Remove the current state, deepest first. */
    qsort(work, nw, sizeof *work, cmp_deeper_first);
    for (size_t i = 0; i < nw; i++) {
        fio_entry *e = work[i];
        if (e->cur_kind == ENT_FILE)
            rc = in->remove(in->ctx, e->path);
        else if (e->cur_kind == ENT_DIR && e->dur_kind != ENT_DIR)
            rc = rm_rf(fio, e->path);
        if (rc == -ENOENT)
            rc = 0;
        if (rc != 0)
            goto leave;
    }
    /* 3. Recreate the durable state, shallowest first. A missing parent means the entry
     * vanished with its directory. */
    for (size_t i = nw; i-- > 0;) {
        fio_entry *e = work[i];
        if (e->dur_kind == ENT_DIR)
            rc = in->mkdir(in->ctx, e->path);
        else if (e->dur_kind == ENT_FILE)
            rc = write_file(fio, e->path, e->dur_node->rest, e->dur_node->rest_len);
        if (rc == -ENOENT || rc == -EEXIST)
            rc = 0;
        if (rc != 0)
            goto leave;
    }
leave:
    free(work);
    return rc;
}

int fault_io_power_loss(fault_io *fio, fault_io_loss mode, uint64_t seed)
{
    int rc = 0;

    FIO_LOCK(fio);
    for (fio_handle *h = fio->handles; h != NULL; h = h->next) {
        if (h->inner != NULL)
            fio->inner->close(fio->inner->ctx, h->inner);
        h->inner = NULL;
        h->node = NULL;
    }
    /* A dead process's mappings go too, and with them their hold on the file (a mapping keeps
     * the open file, and so its flock, alive). The caller may still hold the addresses:
     * replace each with zero-filled memory rather than leave a hole. */
    for (fio_mapping *m = fio->maps; m != NULL; m = m->next) {
        if (m->gen == fio->gen)
            mmap((void *)(uintptr_t)m->addr, m->len, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    }
    fio->gen++;
    if (mode != FAULT_IO_KEEP_UNSYNCED) {
        rc = restore_durable(fio, mode == FAULT_IO_TORN_TAIL, seed);
        forget_all(fio);
    }
    fio->crashed = false;
    fio->armed = false;
    FIO_UNLOCK(fio);
    return rc;
}

int64_t fault_io_pending(fault_io *fio)
{
    int64_t pending = 0;

    FIO_LOCK(fio);
    for (size_t i = 0; i < fio->n_entries; i++) {
        fio_entry *e = fio->entries[i];
        if (e->cur_kind != e->dur_kind || e->cur_node != e->dur_node) {
            pending++;
        } else if (e->cur_kind == ENT_FILE && e->cur_node->have_dur) {
            fio_node *n = e->cur_node;
            unsigned char *cur = NULL;
            size_t cl = 0;
            int rc = read_all_path(fio, e->path, &cur, &cl);
            if (rc != 0) {
                pending = rc;
                break;
            }
            pending += cl != n->dur_len || (cl > 0 && memcmp(cur, n->dur, cl) != 0);
            free(cur);
        }
    }
    FIO_UNLOCK(fio);
    return pending;
}

/* ---- control ------------------------------------------------------------------------------ */

int fault_io_create(fault_io **out)
{
    fault_io *fio = calloc(1, sizeof *fio);
    if (fio == NULL)
        return -ENOMEM;
    if (pthread_mutex_init(&fio->mu, NULL) != 0) {
        free(fio);
        return -ENOMEM;
    }
    fio->inner = axs_io_posix();
    fio->table = (axs_io){
        .ctx = fio,
        .open = fio_open,
        .close = fio_close,
        .read_at = fio_read_at,
        .write_at = fio_write_at,
        .sync = fio_sync,
        .truncate = fio_truncate,
        .size = fio_size,
        .map = fio_map,
        .unmap = fio_unmap,
        .lock = fio_lock,
        .mkdir = fio_mkdir,
        .rename = fio_rename,
        .remove = fio_remove,
        .list_dir = fio_list_dir,
        .sync_dir = fio_sync_dir,
        .stat = fio_stat,
    };
    *out = fio;
    return 0;
}

void fault_io_destroy(fault_io *fio)
{
    if (fio == NULL)
        return;
    while (fio->handles != NULL) {
        fio_handle *h = fio->handles;
        fio->handles = h->next;
        if (h->inner != NULL)
            fio->inner->close(fio->inner->ctx, h->inner);
        h->magic = 0;
        free(h);
    }
    while (fio->maps != NULL) {
        fio_mapping *m = fio->maps;
        fio->maps = m->next;
        fio->inner->unmap(fio->inner->ctx, NULL, m->addr, m->len);
        free(m);
    }
    forget_all(fio);
    pthread_mutex_destroy(&fio->mu);
    free(fio);
}

const axs_io *fault_io_table(fault_io *fio)
{
    return &fio->table;
}

const char *fault_io_kind_name(fault_io_kind kind)
{
    return (unsigned)kind <= FAULT_IO_ANY ? kind_names[kind] : "?";
}

uint64_t fault_io_count(fault_io *fio, fault_io_kind kind)
{
    uint64_t n = 0;
    FIO_LOCK(fio);
    if ((unsigned)kind <= FAULT_IO_ANY)
        n = fio->counts[kind];
    FIO_UNLOCK(fio);
    return n;
}

void fault_io_reset_counters(fault_io *fio)
{
    FIO_LOCK(fio);
    if (fio->armed) { /* keep the fault's place relative to the calls still to come */
        uint64_t c = fio->counts[fio->f_kind];
        if (fio->f_target > c)
            fio->f_target -= c;
        else
            fio->f_target = fio->f_sticky ? 1 : 0; /* 0: a spent one-shot never fires again */
    }
    memset(fio->counts, 0, sizeof fio->counts);
    FIO_UNLOCK(fio);
}

void fault_io_arm(fault_io *fio, fault_io_kind kind, uint64_t nth, fault_io_fault fault,
                  bool sticky)
{
    FIO_LOCK(fio);
    if ((unsigned)kind <= FAULT_IO_ANY) {
        fio->armed = true;
        fio->f_kind = kind;
        fio->f_target = fio->counts[kind] + (nth == 0 ? 1 : nth);
        fio->f_fault = fault;
        fio->f_sticky = sticky;
        fio->f_fired = 0;
    }
    FIO_UNLOCK(fio);
}

void fault_io_disarm(fault_io *fio)
{
    FIO_LOCK(fio);
    fio->armed = false;
    FIO_UNLOCK(fio);
}

uint64_t fault_io_fired(fault_io *fio)
{
    FIO_LOCK(fio);
    uint64_t n = fio->f_fired;
    FIO_UNLOCK(fio);
    return n;
}

void fault_io_crash(fault_io *fio)
{
    FIO_LOCK(fio);
    fio->crashed = true;
    FIO_UNLOCK(fio);
}

bool fault_io_crashed(fault_io *fio)
{
    FIO_LOCK(fio);
    bool c = fio->crashed;
    FIO_UNLOCK(fio);
    return c;
}

void fault_io_set_sync_delay(fault_io *fio, unsigned us)
{
    atomic_store(&fio->sync_delay_us, us);
}

void fault_io_skip_real_sync(fault_io *fio, bool skip)
{
    FIO_LOCK(fio);
    fio->skip_sync = skip;
    FIO_UNLOCK(fio);
}

void fault_io_set_trace(fault_io *fio, FILE *out)
{
    FIO_LOCK(fio);
    fio->trace = out;
    FIO_UNLOCK(fio);
}
