/*
 * rel_util.c: see rel_util.h.
 */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */

#include "rel_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define REL_ASAN 1
#else
#define REL_ASAN 0
#endif

/* ---- files and directories ----------------------------------------------------------------- */

static bool usable_dir(const char *p)
{
    struct stat st;
    return p && *p && stat(p, &st) == 0 && S_ISDIR(st.st_mode) && access(p, W_OK | X_OK) == 0;
}

/* Directories made by rel_mkdtemp and not yet removed: removed at exit, so that a test that
 * fails half-way (cmocka jumps out of it) leaves nothing behind. Forked children leave with
 * _exit and do not run this. */
static char *made_dirs[64];
static pid_t made_by;

static void remove_made_dirs(void)
{
    if (made_by != getpid())
        return;
    for (size_t i = 0; i < sizeof made_dirs / sizeof made_dirs[0]; i++)
        if (made_dirs[i]) {
            char *p = made_dirs[i];
            made_dirs[i] = NULL;
            rel_rmtree(p);
            free(p);
        }
}

static void remember_dir(const char *path)
{
    if (!made_by) {
        made_by = getpid();
        atexit(remove_made_dirs);
    }
    for (size_t i = 0; i < sizeof made_dirs / sizeof made_dirs[0]; i++)
        if (!made_dirs[i]) {
            made_dirs[i] = strdup(path);
            return;
        }
}

static void forget_dir(const char *path)
{
    for (size_t i = 0; i < sizeof made_dirs / sizeof made_dirs[0]; i++)
        if (made_dirs[i] && strcmp(made_dirs[i], path) == 0) {
            free(made_dirs[i]);
            made_dirs[i] = NULL;
        }
}

char *rel_mkdtemp(const char *tag, bool prefer_memory)
{
    const char *base = getenv("ALEXSTORAGE_TEST_TMPDIR");
    if (!usable_dir(base)) {
        base = NULL;
        if (prefer_memory && usable_dir("/dev/shm"))
            base = "/dev/shm";
        else if (usable_dir(getenv("TMPDIR")))
            base = getenv("TMPDIR");
        else
            base = "/tmp";
    }
    size_t len = strlen(base) + strlen(tag) + 32;
    char *path = tu_xmalloc(len);
    snprintf(path, len, "%s/axs-rel-%s-XXXXXX", base, tag);
    if (mkdtemp(path) == NULL)
        tu_fail_at(__FILE__, __LINE__, "mkdtemp(%s): %s", path, strerror(errno));
    remember_dir(path);
    return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        return errno;
    return 0;
}

void rel_rmtree(const char *path)
{
    struct stat st;
    forget_dir(path);
    if (lstat(path, &st) != 0)
        return;
    int rc = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (rc != 0)
        tu_fail_at(__FILE__, __LINE__, "removing %s: %s", path, strerror(rc > 0 ? rc : errno));
}

int rel_read_file(const char *path, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = tu_xmalloc(n ? n : 1);
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return -e;
        }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *len = n;
    return 0;
}

void rel_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        tu_fail_at(__FILE__, __LINE__, "open(%s): %s", path, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, (const uint8_t *)data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            tu_fail_at(__FILE__, __LINE__, "write(%s): %s", path, strerror(errno));
        done += (size_t)w;
    }
    close(fd);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t rel_list_files(const char *dir, char ***names)
{
    DIR *d = opendir(dir);
    if (!d)
        tu_fail_at(__FILE__, __LINE__, "opendir(%s): %s", dir, strerror(errno));
    size_t n = 0, cap = 16;
    char **v = tu_xmalloc(cap * sizeof *v);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap *= 2;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv)
                tu_fail_at(__FILE__, __LINE__, "out of memory");
            v = nv;
        }
        v[n] = strdup(de->d_name);
        if (!v[n])
            tu_fail_at(__FILE__, __LINE__, "out of memory");
        n++;
    }
    closedir(d);
    qsort(v, n, sizeof *v, cmp_str);
    *names = v;
    return n;
}

void rel_free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

bool rel_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- keys and values ----------------------------------------------------------------------- */

size_t rel_key(char *buf, uint32_t id)
{
    int n = snprintf(buf, REL_KEY_MAX, "k%07" PRIu32, id % 10000000u);
    size_t len = (size_t)n;
    uint32_t extra = id % 9;
    for (uint32_t i = 0; i < extra; i++)
        buf[len++] = (char)('a' + (id + i) % 26);
    buf[len] = '\0';
    return len;
}

static const uint8_t rel_magic[4] = {'R', 'V', 'A', 'L'};

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* The pad bytes of (key, version): runs of letters every third version, else noise. */
static void fill_pad(uint8_t *p, uint32_t len, uint32_t key, uint64_t version)
{
    if (version % 3 == 0) {
        for (uint32_t i = 0; i < len; i++)
            p[i] = (uint8_t)('a' + (key + i / 32) % 26);
        return;
    }
    uint64_t st = version * 0x9E3779B97F4A7C15ull ^ ((uint64_t)key << 32) ^ len;
    for (uint32_t i = 0; i < len; i += 8) {
        uint64_t x = tu_splitmix64(&st);
        for (uint32_t j = 0; j < 8 && i + j < len; j++)
            p[i + j] = (uint8_t)(x >> (8 * j));
    }
}

uint8_t *rel_value_encode(const rel_val *v, size_t *len)
{
    size_t n = REL_VALUE_HEADER + v->pad_len;
    uint8_t *b = tu_xmalloc(n);
    memcpy(b, rel_magic, 4);
    put32(b + 4, v->key_id);
    put64(b + 8, v->version);
    put64(b + 16, v->batch_id);
    put32(b + 24, v->batch_count);
    put32(b + 28, v->pad_len);
    fill_pad(b + REL_VALUE_HEADER, v->pad_len, v->key_id, v->version);
    *len = n;
    return b;
}

int rel_value_decode(const uint8_t *buf, size_t len, rel_val *v)
{
    if (len < REL_VALUE_HEADER || memcmp(buf, rel_magic, 4) != 0)
        return -1;
    v->key_id = get32(buf + 4);
    v->version = get64(buf + 8);
    v->batch_id = get64(buf + 16);
    v->batch_count = get32(buf + 24);
    v->pad_len = get32(buf + 28);
    if ((uint64_t)v->pad_len + REL_VALUE_HEADER != len)
        return -1;
    uint8_t small[512];
    uint8_t *exp = v->pad_len <= sizeof small ? small : tu_xmalloc(v->pad_len);
    fill_pad(exp, v->pad_len, v->key_id, v->version);
    int rc = memcmp(exp, buf + REL_VALUE_HEADER, v->pad_len) == 0 ? 0 : -1;
    if (exp != small)
        free(exp);
    return rc;
}

/* ---- model --------------------------------------------------------------------------------- */

bool rel_slot_equal(const rel_slot *a, const rel_slot *b)
{
    if (a->present != b->present)
        return false;
    if (!a->present)
        return true;
    return a->v.key_id == b->v.key_id && a->v.version == b->v.version &&
           a->v.batch_id == b->v.batch_id && a->v.batch_count == b->v.batch_count &&
           a->v.pad_len == b->v.pad_len;
}

const char *rel_slot_str(const rel_slot *s, char *buf, size_t len)
{
    if (!s->present)
        snprintf(buf, len, "absent");
    else
        snprintf(buf, len, "v%" PRIu64 " b%" PRIu64 "/%" PRIu32 " p%" PRIu32, s->v.version,
                 s->v.batch_id, s->v.batch_count, s->v.pad_len);
    return buf;
}

int rel_read_state(axs_db *db, uint32_t nkeys, rel_slot *state, bool *garbage, uint32_t *bad_key,
                   char *why, size_t why_len)
{
    *garbage = false;
    for (uint32_t k = 0; k < nkeys; k++) {
        char key[REL_KEY_MAX];
        size_t klen = rel_key(key, k);
        char *val = NULL;
        size_t vlen = 0;
        bool found = false;
        int rc = axs_get_alloc(db, NULL, key, klen, &val, &vlen, &found);
        if (rc != AXS_OK) {
            *bad_key = k;
            snprintf(why, why_len, "get(%s) failed: %s (%s)", key, axs_strerror(rc),
                     axs_last_error(db));
            free(val);
            return rc;
        }
        state[k].present = found;
        memset(&state[k].v, 0, sizeof state[k].v);
        if (found) {
            if (rel_value_decode((const uint8_t *)val, vlen, &state[k].v) != 0 ||
                state[k].v.key_id != k) {
                *garbage = true;
                *bad_key = k;
                snprintf(why, why_len,
                         "get(%s) returned a value that was never written (%zu bytes%s)", key,
                         vlen, state[k].v.key_id != k ? ", another key's" : "");
                free(val);
                return AXS_ECORRUPT;
            }
        }
        free(val);
    }
    return AXS_OK;
}

/* Parses a key made by rel_key; returns false if it is not one. */
static bool parse_key(const uint8_t *k, size_t len, uint32_t nkeys, uint32_t *id)
{
    if (len < 8 || k[0] != 'k')
        return false;
    uint32_t v = 0;
    for (int i = 1; i < 8; i++) {
        if (k[i] < '0' || k[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(k[i] - '0');
    }
    char buf[REL_KEY_MAX];
    size_t l = rel_key(buf, v);
    if (v >= nkeys || l != len || memcmp(buf, k, len) != 0)
        return false;
    *id = v;
    return true;
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

int rel_check_iterator(axs_db *db, uint32_t nkeys, const rel_slot *state, char *why,
                       size_t why_len)
{
    axs_iter *it = NULL;
    int rc = axs_iter_create(db, NULL, &it);
    if (rc) {
        snprintf(why, why_len, "axs_iter_create: %s", axs_strerror(rc));
        return -1;
    }
    uint32_t expect = 0;
    for (uint32_t k = 0; k < nkeys; k++)
        expect += state[k].present;
    uint32_t seen = 0;
    uint8_t prev[REL_KEY_MAX];
    size_t prev_len = 0;
    int result = 0;
    for (axs_iter_seek_to_first(it); axs_iter_valid(it); axs_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = axs_iter_key(it, &klen);
        const uint8_t *v = axs_iter_value(it, &vlen);
        uint32_t id;
        rel_val val;
        if (!parse_key(k, klen, nkeys, &id)) {
            snprintf(why, why_len, "iterator returned a key that was never written (%zu bytes)",
                     klen);
            result = -1;
            break;
        }
        if (seen && key_cmp(prev, prev_len, k, klen) >= 0) {
            snprintf(why, why_len, "iterator out of order at key id %" PRIu32, id);
            result = -1;
            break;
        }
        memcpy(prev, k, klen);
        prev_len = klen;
        if (rel_value_decode(v, vlen, &val) != 0 || val.key_id != id) {
            snprintf(why, why_len, "iterator: key id %" PRIu32 " has a value never written", id);
            result = -1;
            break;
        }
        rel_slot s = {true, val};
        if (!rel_slot_equal(&s, &state[id])) {
            char a[96], b[96];
            snprintf(why, why_len, "iterator: key id %" PRIu32 " is %s, expected %s", id,
                     rel_slot_str(&s, a, sizeof a), rel_slot_str(&state[id], b, sizeof b));
            result = -1;
            break;
        }
        seen++;
    }
    if (!result && axs_iter_status(it) != AXS_OK) {
        snprintf(why, why_len, "iterator status %s", axs_strerror(axs_iter_status(it)));
        result = -1;
    }
    if (!result && seen != expect) {
        snprintf(why, why_len, "iterator saw %" PRIu32 " keys, expected %" PRIu32, seen, expect);
        result = -1;
    }
    axs_iter_destroy(it);
    return result;
}

/* ---- operations ---------------------------------------------------------------------------- */

static uint32_t gen_pad(tu_rng *rng, const rel_mix *mix)
{
    if (mix->p_big > 0 && tu_rng_double(rng) < mix->p_big)
        return mix->big_pad;
    return mix->pad_min + (uint32_t)tu_rng_below(rng, (uint64_t)(mix->pad_max - mix->pad_min) + 1);
}

void rel_gen_op(tu_rng *rng, const rel_mix *mix, uint64_t *version, uint64_t batch_id,
                rel_op *op)
{
    memset(op, 0, sizeof *op);
    op->batch_id = batch_id;
    double r = tu_rng_double(rng);
    double c = mix->p_flush;
    if (r < c) {
        op->kind = REL_OP_FLUSH;
        return;
    }
    if (r < (c += mix->p_compact)) {
        op->kind = REL_OP_COMPACT;
        return;
    }
    op->sync = tu_rng_double(rng) < mix->p_sync;
    if (r < (c += mix->p_batch)) {
        op->kind = REL_OP_BATCH;
        uint32_t maxb = mix->max_batch < 2 ? 2 : mix->max_batch;
        if (maxb > REL_MAX_BATCH)
            maxb = REL_MAX_BATCH;
        if (maxb > mix->nkeys)
            maxb = mix->nkeys;
        op->n = 2 + (uint32_t)tu_rng_below(rng, maxb - 1);
        for (uint32_t i = 0; i < op->n; i++) {
            uint32_t k;
            bool dup;
            do { /* distinct keys, so that each key's fate shows the batch's */
                k = (uint32_t)tu_rng_below(rng, mix->nkeys);
                dup = false;
                for (uint32_t j = 0; j < i; j++)
                    dup |= op->e[j].key == k;
            } while (dup);
            op->e[i].key = k;
            op->e[i].del = tu_rng_double(rng) < mix->p_delete;
            op->e[i].version = ++*version;
            op->e[i].pad = op->e[i].del ? 0 : gen_pad(rng, mix);
        }
        return;
    }
    op->kind = r < (c += mix->p_delete) ? REL_OP_DELETE : REL_OP_PUT;
    op->n = 1;
    op->e[0].key = (uint32_t)tu_rng_below(rng, mix->nkeys);
    op->e[0].del = op->kind == REL_OP_DELETE;
    op->e[0].version = ++*version;
    op->e[0].pad = op->e[0].del ? 0 : gen_pad(rng, mix);
}

void rel_entry_slot(const rel_op *op, const rel_entry *e, rel_slot *out)
{
    memset(out, 0, sizeof *out);
    if (e->del)
        return;
    out->present = true;
    out->v.key_id = e->key;
    out->v.version = e->version;
    out->v.batch_id = op->batch_id;
    out->v.batch_count = op->n;
    out->v.pad_len = e->pad;
}

int rel_exec_op(axs_db *db, const rel_op *op)
{
    axs_write_options wo;
    axs_write_options_init(&wo);
    wo.sync = op->sync;
    char key[REL_KEY_MAX];
    switch (op->kind) {
    case REL_OP_FLUSH:
        return axs_flush(db);
    case REL_OP_COMPACT:
        return axs_compact(db);
    case REL_OP_DELETE: {
        size_t klen = rel_key(key, op->e[0].key);
        return axs_delete(db, &wo, key, klen);
    }
    case REL_OP_PUT: {
        size_t klen = rel_key(key, op->e[0].key), vlen;
        rel_slot s;
        rel_entry_slot(op, &op->e[0], &s);
        uint8_t *v = rel_value_encode(&s.v, &vlen);
        int rc = axs_put(db, &wo, key, klen, v, vlen);
        free(v);
        return rc;
    }
    default: {
        axs_batch *b = axs_batch_create();
        if (!b)
            return AXS_ENOMEM;
        int rc = AXS_OK;
        for (uint32_t i = 0; i < op->n && !rc; i++) {
            size_t klen = rel_key(key, op->e[i].key);
            if (op->e[i].del) {
                rc = axs_batch_delete(b, key, klen);
            } else {
                size_t vlen;
                rel_slot s;
                rel_entry_slot(op, &op->e[i], &s);
                uint8_t *v = rel_value_encode(&s.v, &vlen);
                rc = axs_batch_put(b, key, klen, v, vlen);
                free(v);
            }
        }
        if (!rc)
            rc = axs_write(db, &wo, b);
        axs_batch_destroy(b);
        return rc;
    }
    }
}

void rel_apply_op(rel_slot *state, const rel_op *op)
{
    for (uint32_t i = 0; i < op->n; i++)
        rel_entry_slot(op, &op->e[i], &state[op->e[i].key]);
}

const char *rel_op_str(const rel_op *op, char *buf, size_t len)
{
    static const char *names[] = {"put", "delete", "batch", "flush", "compact"};
    if (op->kind == REL_OP_FLUSH || op->kind == REL_OP_COMPACT)
        snprintf(buf, len, "%s", names[op->kind]);
    else
        snprintf(buf, len, "%s%s of %" PRIu32 " (first key %" PRIu32 " v%" PRIu64 ", batch id %" PRIu64
                 ")", op->sync ? "sync " : "", names[op->kind], op->n, op->e[0].key,
                 op->e[0].version, op->batch_id);
    return buf;
}

/* ---- the prefix check ---------------------------------------------------------------------- */

static long prefix_walk(const rel_op *ops, const int *fate, size_t n, size_t min_ops,
                        uint32_t nkeys, const rel_slot *start, const rel_slot *observed,
                        char *why, size_t why_len, int *resolved);

long rel_prefix_match(const rel_op *ops, const int *fate, size_t n, size_t min_ops,
                      uint32_t nkeys, const rel_slot *start, const rel_slot *observed, char *why,
                      size_t why_len, int *resolved)
{
    /* A maybe operation followed by an applied one is either wholly in or wholly out: try
     * each combination (there are at most a few). The last maybe needs no choice: the walk
     * looks at the state before and after it. */
    size_t maybes[12], m = 0;
    long last_applied = -1;
    for (size_t i = 0; i < n; i++)
        if (fate[i] == REL_APPLIED)
            last_applied = (long)i;
    for (size_t i = 0; i < n && m < 12; i++)
        if (fate[i] == REL_MAYBE && (long)i < last_applied)
            maybes[m++] = i;
    if (m == 0)
        return prefix_walk(ops, fate, n, min_ops, nkeys, start, observed, why, why_len,
                           resolved);
    int *f = malloc(n * sizeof *f);
    if (!f)
        tu_fail_at(__FILE__, __LINE__, "out of memory");
    long r = -1;
    for (uint32_t mask = 0; mask < (1u << m) && r < 0; mask++) {
        memcpy(f, fate, n * sizeof *f);
        for (size_t j = 0; j < m; j++)
            f[maybes[j]] = (mask >> j) & 1 ? REL_APPLIED : REL_EXCLUDED;
        bool last = mask + 1 == (1u << m);
        r = prefix_walk(ops, f, n, min_ops, nkeys, start, observed, last ? why : NULL,
                        last ? why_len : 0, resolved);
    }
    free(f);
    return r;
}

static long prefix_walk(const rel_op *ops, const int *fate, size_t n, size_t min_ops,
                        uint32_t nkeys, const rel_slot *start, const rel_slot *observed,
                        char *why, size_t why_len, int *resolved)
{
    rel_slot *cur = calloc(nkeys ? nkeys : 1, sizeof *cur);
    rel_slot *at_min = calloc(nkeys ? nkeys : 1, sizeof *at_min);
    if (!cur || !at_min)
        tu_fail_at(__FILE__, __LINE__, "out of memory");
    if (start)
        memcpy(cur, start, nkeys * sizeof *cur);
    size_t mism = 0;
    for (uint32_t k = 0; k < nkeys; k++)
        mism += !rel_slot_equal(&cur[k], &observed[k]);
    long match = -1;
    for (size_t i = 0;; i++) {
        if (i == min_ops)
            memcpy(at_min, cur, nkeys * sizeof *cur);
        if (i >= min_ops && mism == 0) {
            match = (long)i;
            break;
        }
        if (i == n)
            break;
        if (fate[i] == REL_EXCLUDED)
            continue;
        for (uint32_t j = 0; j < ops[i].n; j++) {
            const rel_entry *e = &ops[i].e[j];
            bool before = rel_slot_equal(&cur[e->key], &observed[e->key]);
            rel_entry_slot(&ops[i], e, &cur[e->key]);
            bool after = rel_slot_equal(&cur[e->key], &observed[e->key]);
            if (before && !after)
                mism++;
            else if (!before && after)
                mism--;
        }
    }
    if (match >= 0 && resolved)
        for (size_t i = 0; i < n; i++)
            resolved[i] = (long)i < match && fate[i] != REL_EXCLUDED ? REL_APPLIED : REL_EXCLUDED;
    if (match < 0 && why && why_len) {
        /* cur is the final state now. Name a few keys that differ. */
        size_t used = 0;
        used += (size_t)snprintf(why, why_len,
                                 "no prefix of the %zu operations (at least %zu) matches:", n,
                                 min_ops);
        unsigned shown = 0;
        for (uint32_t k = 0; k < nkeys && shown < 6 && used < why_len; k++) {
            if (rel_slot_equal(&at_min[k], &observed[k]) && rel_slot_equal(&cur[k], &observed[k]))
                continue;
            char a[96], b[96], c[96];
            used += (size_t)snprintf(why + used, why_len - used,
                                     " [key %" PRIu32 ": db %s, after %zu ops %s, at end %s]", k,
                                     rel_slot_str(&observed[k], a, sizeof a), min_ops,
                                     rel_slot_str(&at_min[k], b, sizeof b),
                                     rel_slot_str(&cur[k], c, sizeof c));
            shown++;
        }
    }
    free(cur);
    free(at_min);
    return match;
}

/* ---- diagnostics --------------------------------------------------------------------------- */

static char trial_buf[768];
static volatile sig_atomic_t reporters_installed;

void rel_trial(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(trial_buf, sizeof trial_buf, fmt, ap);
    va_end(ap);
}

static void write_str(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void report_trial(const char *what)
{
    write_str("\n*** ");
    write_str(what);
    write_str(" during trial: ");
    write_str(trial_buf);
    write_str("\n");
}

#if REL_ASAN
static void death_cb(void)
{
    report_trial("sanitizer report / crash");
    remove_made_dirs(); /* the sanitizer exits without running atexit handlers */
}
#else
static void crash_handler(int sig)
{
    report_trial(sig == SIGABRT ? "abort" : "crash (fatal signal)");
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

static void alarm_handler(int sig)
{
    (void)sig;
    report_trial("HANG (watchdog expired)");
    _exit(124);
}

void rel_install_reporters(void)
{
    if (reporters_installed)
        return;
    reporters_installed = 1;
#if REL_ASAN
    __sanitizer_set_death_callback(death_cb);
#else
    int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = crash_handler;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
#endif
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = alarm_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
}

void rel_watchdog(unsigned seconds)
{
    alarm(seconds);
}

void rel_failure(rel_failures *f, const char *fmt, ...)
{
    f->count++;
    unsigned cap = (unsigned)rel_env_u64("ALEXSTORAGE_REL_MAX_PRINT", f->max_print ? f->max_print : 20);
    if (f->printed >= cap)
        return;
    f->printed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAILURE %u: ", f->count);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    fflush(stderr);
    va_end(ap);
}

uint64_t rel_env_u64(const char *name, uint64_t def)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end) {
        fprintf(stderr, "%s=\"%s\" is not an unsigned integer; using %" PRIu64 "\n", name, s,
                def);
        return def;
    }
    return (uint64_t)v;
}
