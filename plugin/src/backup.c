/*
 * backup.c: RocksDB's BackupEngine (c.h sections "BackupEngine" and "BackupEngineOptions") on
 * checkpoints. docs/backup.md describes the backup directory and the meta file byte by byte.
 *
 * A backup is a checkpoint of the database (axp_db_checkpoint) made in
 * <backup_dir>/private/<id>/, turned into an independent copy (files the checkpoint
 * hard-linked to the database are replaced by copies, so damage to one never reaches the
 * other), plus the meta file <backup_dir>/meta/<id>, which lists every file with its size and
 * CRC32C. The meta file is written as meta/<id>.tmp, synced, renamed and the directory synced:
 * a backup exists exactly when its meta file does. Backups are full copies; nothing is shared
 * between them.
 *
 * RocksDB's observable behaviour, checked against librocksdb 7.8.3 and kept here:
 *   - backup IDs start at 1 and increase; the next ID is one past the largest ID with a meta
 *     file (so after purging every backup and reopening the engine, IDs start at 1 again);
 *   - get_backup_info lists the valid backups in increasing ID order; timestamp is the time of
 *     the backup in seconds since the epoch, size the sum of the files' sizes;
 *   - a missing ID: verify says "NotFound: ", restore says "NotFound: Backup not found"
 *     (also restore_from_latest with no backup);
 *   - a backup whose meta file is unreadable, or one of whose files is missing or has the
 *     wrong size when the engine opens, is left out of the info, keeps its ID, and verify or
 *     restore of it reports "Corruption: " and the reason;
 *   - verify: a missing file is "NotFound: File missing: <path>", a wrong size "Corruption:
 *     File corrupted: File size mismatch for <path>: Expected file size is N while found file
 *     size is M". RocksDB's C API verifies sizes only; this one also checks every file's
 *     CRC32C: "Corruption: File corrupted: Checksum mismatch for <path>: Expected checksum is
 *     0x... while computed checksum is 0x...";
 *   - purge_old_backups(n) deletes the oldest valid backups until n remain (n = 0: all);
 *   - restore deletes every file directly in db_dir, whatever it is, then copies the backup's
 *     files in (checking each one's size and checksum); db_dir is created if missing, its
 *     parent must exist. RocksDB does not check whether a database is open in db_dir, and
 *     neither does this.
 *   - open makes the backup directory if missing (its parent must exist).
 * Differences: wal_dir is ignored (the engine has no separate log directory); the options
 * that tune RocksDB's copying (rate limits, threads, file sharing) are stored and returned
 * but change nothing; rocksdb_backup_engine_open_opts accepts a NULL env (RocksDB crashes).
 *
 * Threads: one mutex per engine serialises its calls.
 */
#define _GNU_SOURCE /* asprintf, strndup; nftw */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capi_internal.h"
#include "checkpoint.h"
#include "format.h" /* the core's CRC32C (ISA-L) and little-endian accessors */

/* snprintf for paths. Their parts are bounded (backup and database directories at most 2048
 * bytes, names in a backup at most BK_MAX_NAME), so BK_PATH always has room. */
static void bk_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void bk_fmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* ---- the meta file (docs/backup.md, "Meta file") -------------------------------------------- */

#define BK_META_MAGIC "ALEXBKUP"
#define BK_META_VERSION 1u
#define BK_META_HEADER 40u
#define BK_FILE_FIXED 16u /* name length (2), reserved (2), size (8), CRC (4) */
#define BK_MAX_NAME 1024u
#define BK_MAX_FILES 1000000u
#define BK_PATH 4096
#define BK_CHUNK (1u << 20)

typedef struct bk_file {
    char *name; /* relative to private/<id>/, '/'-separated */
    uint64_t size;
    uint32_t crc; /* CRC32C of the contents, unmasked */
} bk_file;

typedef struct bk_backup {
    uint32_t id;
    int64_t timestamp;
    uint64_t size;
    uint32_t nfiles;
    bk_file *files;
    char *corrupt; /* NULL, or why the backup cannot be used ("Corruption: " is added) */
} bk_backup;

struct rocksdb_backup_engine_t {
    char *dir;
    pthread_mutex_t mu;
    bk_backup *b; /* by increasing id, corrupt ones included */
    size_t n, cap;
    uint32_t next_id;
    bool sync;
};

struct rocksdb_backup_engine_info_t {
    int n;
    struct bk_info {
        uint32_t id;
        int64_t timestamp;
        uint64_t size;
        uint32_t nfiles;
    } *e;
};

struct rocksdb_restore_options_t {
    int keep_log_files;
};

struct rocksdb_backup_engine_options_t {
    char *backup_dir;
    rocksdb_env_t *env;
    unsigned char share_table_files, sync, destroy_old_data, backup_log_files;
    uint64_t backup_rate_limit, restore_rate_limit, callback_trigger_interval_size;
    int max_background_operations, max_valid_backups_to_open, share_files_with_checksum_naming;
};

static void bk_free_files(bk_file *f, uint32_t n)
{
    for (uint32_t i = 0; f && i < n; i++)
        free(f[i].name);
    free(f);
}

static void bk_backup_free(bk_backup *b)
{
    bk_free_files(b->files, b->nfiles);
    free(b->corrupt);
    memset(b, 0, sizeof *b);
}

/* A stored name must stay inside the backup: relative, no empty, "." or ".." component. */
static bool bk_name_ok(const char *name, size_t len)
{
    if (len == 0 || name[0] == '/' || name[len - 1] == '/')
        return false;
    const char *p = name, *end = name + len;
    while (p < end) {
        const char *q = memchr(p, '/', (size_t)(end - p));
        size_t c = q ? (size_t)(q - p) : (size_t)(end - p);
        if (c == 0 || (c == 1 && p[0] == '.') || (c == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        p += c + 1;
    }
    return memchr(name, '\0', len) == NULL;
}

static uint8_t *bk_meta_encode(const bk_backup *b, size_t *len)
{
    size_t n = BK_META_HEADER + 4;
    for (uint32_t i = 0; i < b->nfiles; i++)
        n += BK_FILE_FIXED + strlen(b->files[i].name);
    uint8_t *m = calloc(1, n);
    if (!m)
        return NULL;
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): 8 magic bytes, no NUL on disk */
    memcpy(m, BK_META_MAGIC, 8);
    fmt_put32(m + 8, BK_META_VERSION);
    fmt_put32(m + 12, b->id);
    fmt_put64(m + 16, (uint64_t)b->timestamp);
    fmt_put64(m + 24, b->size);
    fmt_put32(m + 32, b->nfiles);
    fmt_put32(m + 36, fmt_mask_crc(fmt_crc32c(m, 36)));
    uint8_t *p = m + BK_META_HEADER;
    for (uint32_t i = 0; i < b->nfiles; i++) {
        size_t nl = strlen(b->files[i].name);
        fmt_put32(p, (uint32_t)nl); /* 2 bytes of length, 2 reserved: nl < 65536 */
        fmt_put64(p + 4, b->files[i].size);
        fmt_put32(p + 12, fmt_mask_crc(b->files[i].crc));
        memcpy(p + BK_FILE_FIXED, b->files[i].name, nl);
        p += BK_FILE_FIXED + nl;
    }
    const uint8_t *files = m + BK_META_HEADER;
    fmt_put32(p, fmt_mask_crc(fmt_crc32c(files, (size_t)(p - files))));
    *len = n;
    return m;
}

/* Decodes meta file bytes; returns NULL, or a malloc'd reason on failure. */
static char *bk_meta_decode(const uint8_t *m, size_t len, uint32_t id, bk_backup *b)
{
    memset(b, 0, sizeof *b);
    b->id = id;
    if (len < BK_META_HEADER + 4 || memcmp(m, BK_META_MAGIC, 8) != 0 ||
        fmt_mask_crc(fmt_crc32c(m, 36)) != fmt_get32(m + 36))
        return strdup("bad meta file header");
    if (fmt_get32(m + 8) != BK_META_VERSION)
        return strdup(fmt_get32(m + 8) > BK_META_VERSION ? "meta file has a newer format version"
                                                         : "unknown meta file version");
    if (fmt_get32(m + 12) != id)
        return strdup("meta file names another backup");
    b->timestamp = (int64_t)fmt_get64(m + 16);
    b->size = fmt_get64(m + 24);
    uint32_t nf = fmt_get32(m + 32);
    if (nf > BK_MAX_FILES || (uint64_t)nf * BK_FILE_FIXED > len)
        return strdup("bad number of files in meta file");
    const uint8_t *files = m + BK_META_HEADER, *end = m + len - 4;
    if (fmt_mask_crc(fmt_crc32c(files, (size_t)(end - files))) != fmt_get32(end))
        return strdup("bad meta file checksum");
    b->files = calloc(nf ? nf : 1, sizeof *b->files);
    if (!b->files)
        return strdup("out of memory");
    const uint8_t *p = files;
    uint64_t total = 0;
    for (uint32_t i = 0; i < nf; i++) {
        if ((size_t)(end - p) < BK_FILE_FIXED)
            goto bad;
        uint32_t w = fmt_get32(p), nl = w & 0xffff;
        if ((w >> 16) != 0 || nl > BK_MAX_NAME || (size_t)(end - p) - BK_FILE_FIXED < nl ||
            !bk_name_ok((const char *)p + BK_FILE_FIXED, nl))
            goto bad;
        b->files[i].size = fmt_get64(p + 4);
        b->files[i].crc = fmt_get32(p + 12);
        if (!(b->files[i].name = strndup((const char *)p + BK_FILE_FIXED, nl)))
            goto bad;
        b->files[i].crc = ((b->files[i].crc - 0xa282ead8u) >> 17) |
                          ((b->files[i].crc - 0xa282ead8u) << 15); /* unmask */
        b->nfiles = i + 1;
        total += b->files[i].size;
        p += BK_FILE_FIXED + nl;
    }
    if (p != end || total != b->size)
        goto bad;
    return NULL;
bad:
    return strdup("bad file list in meta file");
}

/* ---- files ------------------------------------------------------------------------------------ */

static int bk_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) ? -errno : 0;
    close(fd);
    return rc;
}

/* Reads path through, giving its size and CRC32C. 0 or -errno. */
static int bk_crc_file(const char *path, uint64_t *size, uint32_t *crc)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    uint8_t *buf = malloc(BK_CHUNK);
    int rc = buf ? 0 : -ENOMEM;
    uint32_t c = 0;
    uint64_t total = 0;
    while (!rc) {
        ssize_t r = read(fd, buf, BK_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = -errno;
        if (r <= 0)
            break;
        c = fmt_crc32c_extend(c, buf, (size_t)r);
        total += (uint64_t)r;
    }
    free(buf);
    close(fd);
    *size = total;
    *crc = c;
    return rc;
}

/* Copies src to a new file dst (replacing it), synced if sync; gives the size and CRC32C of
 * what was copied. 0 or -errno. */
static int bk_copy_file(const char *src, const char *dst, bool sync, uint64_t *size, uint32_t *crc)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        int e = -errno;
        close(in);
        return e;
    }
    uint8_t *buf = malloc(BK_CHUNK);
    int rc = buf ? 0 : -ENOMEM;
    uint32_t c = 0;
    uint64_t total = 0;
    while (!rc) {
        ssize_t r = read(in, buf, BK_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = -errno;
        if (r <= 0)
            break;
        for (ssize_t done = 0; !rc && done < r;) {
            ssize_t w = write(out, buf + done, (size_t)(r - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                rc = -errno;
            else
                done += w;
        }
        c = fmt_crc32c_extend(c, buf, (size_t)r);
        total += (uint64_t)r;
    }
    if (!rc && sync && fsync(out) != 0)
        rc = -errno;
    if (close(out) != 0 && !rc)
        rc = -errno;
    close(in);
    free(buf);
    if (rc)
        unlink(dst);
    *size = total;
    *crc = c;
    return rc;
}

static int bk_rm_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

/* Removes a file or a directory tree; a missing path is fine. */
static void bk_rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode))
        nftw(path, bk_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    else
        unlink(path);
}

/* The regular files under root, as '/'-separated relative names (a list for bk_list_tree). */
typedef struct bk_list {
    char **names;
    size_t n, cap;
    size_t root_len;
    int err;
} bk_list;
static _Thread_local bk_list *bk_cur_list;

static int bk_list_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    bk_list *l = bk_cur_list;
    if (type == FTW_D || type == FTW_DP)
        return 0;
    if (type != FTW_F) {
        l->err = -EIO; /* unreadable directory, dangling link: not something to back up */
        return 1;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        char **v = realloc(l->names, cap * sizeof *v);
        if (!v) {
            l->err = -ENOMEM;
            return 1;
        }
        l->names = v;
        l->cap = cap;
    }
    if (!(l->names[l->n] = strdup(p + l->root_len + 1))) {
        l->err = -ENOMEM;
        return 1;
    }
    l->n++;
    return 0;
}

static int bk_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void bk_list_free(bk_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
}

static int bk_list_tree(const char *root, bk_list *l)
{
    memset(l, 0, sizeof *l);
    l->root_len = strlen(root);
    bk_cur_list = l;
    int rc = nftw(root, bk_list_cb, 16, FTW_PHYS);
    bk_cur_list = NULL;
    if (rc < 0 && !l->err)
        l->err = -errno;
    if (!l->err && l->n)
        qsort(l->names, l->n, sizeof *l->names, bk_cmp_str);
    return l->err;
}

/* Makes the directories of a relative name under root (for a restore). */
static int bk_make_parents(const char *root, const char *name)
{
    char p[BK_PATH];
    bk_fmt(p, sizeof p, "%s/%s", root, name);
    for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    return 0;
}

/* Writes a small file durably under its final name: tmp, fsync, rename, fsync dir. */
static int bk_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                           bool sync)
{
    char tmp[BK_PATH], final[BK_PATH];
    bk_fmt(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
    bk_fmt(final, sizeof final, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = 0;
    for (size_t done = 0; !rc && done < len;) {
        ssize_t w = write(fd, (const uint8_t *)data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            rc = -errno;
        else
            done += (size_t)w;
    }
    if (!rc && sync && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, final) != 0)
        rc = -errno;
    if (!rc && sync)
        rc = bk_fsync_dir(dir);
    if (rc)
        unlink(tmp);
    return rc;
}

static int bk_read_all(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat sb;
    int rc = fstat(fd, &sb) ? -errno : 0;
    uint8_t *buf = NULL;
    if (!rc && (sb.st_size < 0 || sb.st_size > (1 << 30)))
        rc = -EFBIG;
    if (!rc && !(buf = malloc(sb.st_size ? (size_t)sb.st_size : 1)))
        rc = -ENOMEM;
    size_t got = 0;
    while (!rc && got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            rc = r < 0 ? -errno : -EIO;
        else
            got += (size_t)r;
    }
    close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = got;
    return 0;
}

/* ---- the engine ------------------------------------------------------------------------------- */

static void bk_path(char *buf, size_t len, const rocksdb_backup_engine_t *be, const char *sub,
                    uint32_t id, const char *name)
{
    if (name)
        bk_fmt(buf, len, "%s/%s/%" PRIu32 "/%s", be->dir, sub, id, name);
    else
        bk_fmt(buf, len, "%s/%s/%" PRIu32, be->dir, sub, id);
}

/* A decimal backup ID (1 .. UINT32_MAX, no leading zero) followed by suffix. */
static bool bk_parse_id(const char *name, const char *suffix, uint32_t *id)
{
    if (name[0] < '1' || name[0] > '9')
        return false;
    uint64_t v = 0;
    const char *p = name;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX)
            return false;
    }
    if (strcmp(p, suffix) != 0)
        return false;
    *id = (uint32_t)v;
    return true;
}

static bk_backup *bk_find(rocksdb_backup_engine_t *be, uint32_t id)
{
    for (size_t i = 0; i < be->n; i++)
        if (be->b[i].id == id)
            return &be->b[i];
    return NULL;
}

static int bk_cmp_backup(const void *a, const void *b)
{
    uint32_t x = ((const bk_backup *)a)->id, y = ((const bk_backup *)b)->id;
    return x < y ? -1 : x > y;
}

static int bk_add(rocksdb_backup_engine_t *be, bk_backup *b)
{
    if (be->n == be->cap) {
        size_t cap = be->cap ? 2 * be->cap : 8;
        bk_backup *v = realloc(be->b, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        be->b = v;
        be->cap = cap;
    }
    be->b[be->n++] = *b;
    qsort(be->b, be->n, sizeof *be->b, bk_cmp_backup);
    if (b->id >= be->next_id)
        be->next_id = b->id + 1;
    return 0;
}

/* Loads meta/<id>; a backup that cannot be used is kept with its reason in ->corrupt. */
static int bk_load(rocksdb_backup_engine_t *be, uint32_t id)
{
    char p[BK_PATH];
    bk_path(p, sizeof p, be, "meta", id, NULL);
    uint8_t *m = NULL;
    size_t len = 0;
    bk_backup b;
    char *why = NULL;
    int rc = bk_read_all(p, &m, &len);
    if (rc) {
        why = strdup(strerror(-rc));
        if (!why) { /* b is not set: never fall through to the checks below */
            free(m);
            return -ENOMEM;
        }
    } else {
        why = bk_meta_decode(m, len, id, &b);
    }
    free(m);
    if (why) {
        if (!rc)
            bk_backup_free(&b);
        memset(&b, 0, sizeof b);
        b.id = id;
        if (asprintf(&b.corrupt, "%s in %s", why, p) < 0)
            b.corrupt = NULL;
        free(why);
        if (!b.corrupt)
            return -ENOMEM;
        return bk_add(be, &b);
    }
    /* As RocksDB does at open: every file must be there with its size. */
    for (uint32_t i = 0; i < b.nfiles; i++) {
        char f[BK_PATH];
        struct stat sb;
        bk_path(f, sizeof f, be, "private", id, b.files[i].name);
        if (stat(f, &sb) != 0 || (uint64_t)sb.st_size != b.files[i].size) {
            if (asprintf(&b.corrupt, "File %s: %s", stat(f, &sb) ? "missing" : "size mismatch",
                         f) < 0)
                b.corrupt = NULL;
            break;
        }
    }
    if ((rc = bk_add(be, &b)) != 0)
        bk_backup_free(&b);
    return rc;
}

static int bk_scan_meta(rocksdb_backup_engine_t *be)
{
    char p[BK_PATH];
    bk_fmt(p, sizeof p, "%s/meta", be->dir);
    DIR *d = opendir(p);
    if (!d)
        return -errno;
    struct dirent *de;
    int rc = 0;
    uint32_t *ids = NULL;
    size_t n = 0, cap = 0;
    while (!rc && (de = readdir(d)) != NULL) {
        uint32_t id;
        if (bk_parse_id(de->d_name, "", &id)) {
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                uint32_t *v = realloc(ids, cap * sizeof *v);
                if (!v) {
                    rc = -ENOMEM;
                    break;
                }
                ids = v;
            }
            ids[n++] = id;
        } else if (bk_parse_id(de->d_name, ".tmp", &id)) {
            char t[BK_PATH];
            bk_fmt(t, sizeof t, "%s/%s", p, de->d_name);
            unlink(t); /* a meta file being written when a backup was interrupted */
        }
    }
    closedir(d);
    for (size_t i = 0; !rc && i < n; i++)
        rc = bk_load(be, ids[i]);
    free(ids);
    return rc;
}

/* Removes what interrupted backups left in private/: directories without a meta file. */
static void bk_collect_garbage(rocksdb_backup_engine_t *be)
{
    char p[BK_PATH];
    bk_fmt(p, sizeof p, "%s/private", be->dir);
    DIR *d = opendir(p);
    if (!d)
        return;
    struct dirent *de;
    char **victims = NULL;
    size_t n = 0;
    while ((de = readdir(d)) != NULL) {
        uint32_t id;
        if ((bk_parse_id(de->d_name, "", &id) && !bk_find(be, id)) ||
            bk_parse_id(de->d_name, ".tmp", &id) || bk_parse_id(de->d_name, ".tmp.tmp", &id)) {
            char **v = realloc(victims, (n + 1) * sizeof *v);
            if (!v)
                break;
            victims = v;
            if (asprintf(&victims[n], "%s/%s", p, de->d_name) < 0)
                break;
            n++;
        }
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        bk_rm_rf(victims[i]);
        free(victims[i]);
    }
    free(victims);
}

/* mkdir if missing, with RocksDB's messages. */
static int bk_mkdir_if_missing(const char *path, char **errptr)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            return 0;
        axp_error(errptr, "IO error: `%s/' exists but is not a directory", path);
        return -1;
    }
    int e = errno;
    axp_error(errptr, "IO error: %s: While mkdir if missing: %s/: %s", strerror(e), path,
              strerror(e));
    return -1;
}

static void bk_engine_free(rocksdb_backup_engine_t *be)
{
    if (!be)
        return;
    for (size_t i = 0; i < be->n; i++)
        bk_backup_free(&be->b[i]);
    free(be->b);
    free(be->dir);
    pthread_mutex_destroy(&be->mu);
    free(be);
}

static rocksdb_backup_engine_t *bk_open(const char *path, bool destroy_old, bool sync,
                                        char **errptr)
{
    if (!path || !*path || strlen(path) > 2048) {
        axp_error(errptr, "Invalid argument: backup directory name is empty or too long");
        return NULL;
    }
    rocksdb_backup_engine_t *be = calloc(1, sizeof *be);
    if (!be || !(be->dir = strdup(path))) {
        free(be);
        axp_error(errptr, "IO error: out of memory");
        return NULL;
    }
    pthread_mutex_init(&be->mu, NULL);
    be->next_id = 1;
    be->sync = sync;
    size_t l = strlen(be->dir);
    while (l > 1 && be->dir[l - 1] == '/')
        be->dir[--l] = '\0';
    char meta[BK_PATH], priv[BK_PATH];
    bk_fmt(meta, sizeof meta, "%s/meta", be->dir);
    bk_fmt(priv, sizeof priv, "%s/private", be->dir);
    if (bk_mkdir_if_missing(be->dir, errptr) || bk_mkdir_if_missing(meta, errptr) ||
        bk_mkdir_if_missing(priv, errptr))
        goto fail;
    if (destroy_old) {
        /* Meta files first: a backup exists exactly when its meta file does. */
        bk_rm_rf(meta);
        if (bk_mkdir_if_missing(meta, errptr))
            goto fail;
        bk_fsync_dir(meta);
        bk_rm_rf(priv);
        if (bk_mkdir_if_missing(priv, errptr))
            goto fail;
    }
    int rc = bk_scan_meta(be);
    if (rc) {
        axp_error(errptr, "IO error: %s: While reading %s: %s", strerror(-rc), meta,
                  strerror(-rc));
        goto fail;
    }
    bk_collect_garbage(be);
    return be;
fail:
    bk_engine_free(be);
    return NULL;
}

rocksdb_backup_engine_t *rocksdb_backup_engine_open(const rocksdb_options_t *options,
                                                    const char *path, char **errptr)
{
    (void)options; /* RocksDB takes its env and info log from them; nothing to take here */
    return bk_open(path, false, true, errptr);
}

rocksdb_backup_engine_t *rocksdb_backup_engine_open_opts(
    const rocksdb_backup_engine_options_t *options, rocksdb_env_t *env, char **errptr)
{
    (void)env;
    if (!options) {
        axp_error(errptr, "Invalid argument: NULL backup engine options");
        return NULL;
    }
    return bk_open(options->backup_dir, options->destroy_old_data, options->sync, errptr);
}

void rocksdb_backup_engine_close(rocksdb_backup_engine_t *be)
{
    bk_engine_free(be);
}

/* Turns the checkpoint in private/<id> into an independent, listed backup in *b. */
static int bk_seal_files(rocksdb_backup_engine_t *be, uint32_t id, bk_backup *b, char **errptr)
{
    char root[BK_PATH];
    bk_path(root, sizeof root, be, "private", id, NULL);
    bk_list l;
    int rc = bk_list_tree(root, &l);
    if (rc) {
        axp_error(errptr, "IO error: %s: While listing %s", strerror(-rc), root);
        bk_list_free(&l);
        return -1;
    }
    b->files = calloc(l.n ? l.n : 1, sizeof *b->files);
    if (!b->files || l.n > BK_MAX_FILES) {
        axp_error(errptr, "IO error: too many files or out of memory");
        bk_list_free(&l);
        return -1;
    }
    for (size_t i = 0; i < l.n; i++) {
        char p[BK_PATH], tmp[BK_PATH + 16];
        struct stat sb;
        bk_file *f = &b->files[i];
        f->name = l.names[i];
        l.names[i] = NULL;
        b->nfiles = (uint32_t)i + 1;
        bk_fmt(p, sizeof p, "%s/%s", root, f->name);
        if (strlen(f->name) > BK_MAX_NAME || !bk_name_ok(f->name, strlen(f->name))) {
            axp_error(errptr, "IO error: %s: file name not supported in a backup", p);
            rc = -1;
            break;
        }
        if (lstat(p, &sb) != 0) {
            rc = -errno;
        } else if (sb.st_nlink > 1) {
            /* Shared with the database (a hard link made by the checkpoint): make it a copy. */
            bk_fmt(tmp, sizeof tmp, "%s.bk.tmp", p);
            rc = bk_copy_file(p, tmp, be->sync, &f->size, &f->crc);
            if (!rc && rename(tmp, p) != 0) {
                rc = -errno;
                unlink(tmp);
            }
        } else {
            rc = bk_crc_file(p, &f->size, &f->crc);
            if (!rc && be->sync) {
                int fd = open(p, O_RDONLY | O_CLOEXEC);
                rc = fd < 0 ? -errno : fsync(fd) ? -errno : 0;
                if (fd >= 0)
                    close(fd);
            }
        }
        if (rc) {
            axp_error(errptr, "IO error: %s: While copying %s", strerror(-rc), p);
            rc = -1;
            break;
        }
        b->size += f->size;
    }
    bk_list_free(&l);
    if (rc)
        return -1;
    if (be->sync) {
        /* The checkpoint synced its directory; the link replacements renamed inside it, and
         * nested directories (hybrid mode) are synced here too. */
        char last[BK_PATH] = "";
        for (uint32_t i = 0; i < b->nfiles; i++) {
            char p[BK_PATH];
            bk_fmt(p, sizeof p, "%s/%s", root, b->files[i].name);
            *strrchr(p, '/') = '\0';
            if (strcmp(p, last) == 0)
                continue;
            memcpy(last, p, sizeof last);
            if ((rc = bk_fsync_dir(p)) != 0) {
                axp_error(errptr, "IO error: %s: While fsync %s", strerror(-rc), p);
                return -1;
            }
        }
    }
    return 0;
}

static void bk_create(rocksdb_backup_engine_t *be, rocksdb_t *db, bool flush, char **errptr)
{
    if (!be || !db) {
        axp_error(errptr, "Invalid argument: NULL backup engine or database");
        return;
    }
    pthread_mutex_lock(&be->mu);
    uint32_t id = be->next_id;
    bk_backup b = {.id = id, .timestamp = (int64_t)time(NULL)};
    char priv[BK_PATH], tmp[BK_PATH], metadir[BK_PATH];
    char name[16];
    bk_path(priv, sizeof priv, be, "private", id, NULL);
    bk_fmt(tmp, sizeof tmp, "%s.tmp", priv);
    bk_fmt(metadir, sizeof metadir, "%s/meta", be->dir);
    bk_fmt(name, sizeof name, "%" PRIu32, id);
    if (id == 0) {
        axp_error(errptr, "Invalid argument: backup IDs exhausted");
        goto out;
    }
    bk_rm_rf(priv); /* left by an interrupted backup: it has no meta file */
    bk_rm_rf(tmp);
    if (flush && db->mode == AXP_MODE_NATIVE && !db->read_only) {
        int rc = axs_flush(db->core);
        if (rc) {
            axp_error_core(errptr, rc, db->core, NULL);
            goto out;
        }
    }
    if (axp_db_checkpoint(db, priv, errptr) != 0)
        goto out;
    if (bk_seal_files(be, id, &b, errptr) != 0)
        goto fail;
    size_t len;
    uint8_t *m = bk_meta_encode(&b, &len);
    if (!m) {
        axp_error(errptr, "IO error: out of memory");
        goto fail;
    }
    int rc = bk_write_atomic(metadir, name, m, len, be->sync);
    free(m);
    if (rc) {
        axp_error(errptr, "IO error: %s: While writing %s/%s", strerror(-rc), metadir, name);
        goto fail;
    }
    if (bk_add(be, &b) != 0) {
        /* The backup is on disk and complete; it shows up when the engine is reopened. */
        axp_error(errptr, "IO error: out of memory");
        bk_backup_free(&b);
        be->next_id = id + 1;
    }
    goto out;
fail:
    bk_rm_rf(priv);
    bk_backup_free(&b);
out:
    pthread_mutex_unlock(&be->mu);
}

void rocksdb_backup_engine_create_new_backup(rocksdb_backup_engine_t *be, rocksdb_t *db,
                                             char **errptr)
{
    bk_create(be, db, false, errptr);
}

void rocksdb_backup_engine_create_new_backup_flush(rocksdb_backup_engine_t *be, rocksdb_t *db,
                                                   unsigned char flush_before_backup,
                                                   char **errptr)
{
    bk_create(be, db, flush_before_backup != 0, errptr);
}

/* Deletes backup b: the meta file first (then the backup no longer exists), then its files. */
static int bk_delete(rocksdb_backup_engine_t *be, size_t idx, char **errptr)
{
    char p[BK_PATH], metadir[BK_PATH];
    uint32_t id = be->b[idx].id;
    bk_path(p, sizeof p, be, "meta", id, NULL);
    bk_fmt(metadir, sizeof metadir, "%s/meta", be->dir);
    if (unlink(p) != 0 && errno != ENOENT) {
        int e = errno;
        axp_error(errptr, "IO error: %s: While deleting %s", strerror(e), p);
        return -1;
    }
    if (be->sync)
        bk_fsync_dir(metadir);
    bk_path(p, sizeof p, be, "private", id, NULL);
    bk_rm_rf(p);
    bk_backup_free(&be->b[idx]);
    memmove(be->b + idx, be->b + idx + 1, (be->n - idx - 1) * sizeof *be->b);
    be->n--;
    return 0;
}

void rocksdb_backup_engine_purge_old_backups(rocksdb_backup_engine_t *be,
                                             uint32_t num_backups_to_keep, char **errptr)
{
    if (!be) {
        axp_error(errptr, "Invalid argument: NULL backup engine");
        return;
    }
    pthread_mutex_lock(&be->mu);
    size_t valid = 0;
    for (size_t i = 0; i < be->n; i++)
        valid += be->b[i].corrupt == NULL;
    /* Oldest first; corrupt backups are kept, as RocksDB keeps them. */
    for (size_t i = 0; valid > num_backups_to_keep && i < be->n;) {
        if (be->b[i].corrupt) {
            i++;
            continue;
        }
        if (bk_delete(be, i, errptr) != 0)
            break;
        valid--;
    }
    pthread_mutex_unlock(&be->mu);
}

/* The backup to verify or restore: 0 and *out, or -1 with RocksDB's error. */
static int bk_usable(rocksdb_backup_engine_t *be, uint32_t id, const char *not_found,
                     char **errptr, bk_backup **out)
{
    bk_backup *b = bk_find(be, id);
    if (!b) {
        axp_error(errptr, "NotFound: %s", not_found);
        return -1;
    }
    if (b->corrupt) {
        axp_error(errptr, "Corruption: %s", b->corrupt);
        return -1;
    }
    *out = b;
    return 0;
}

/* Compares a file's size and CRC32C with the meta file's; reports RocksDB's words. */
static int bk_check(const char *path, const bk_file *f, uint64_t size, uint32_t crc,
                    char **errptr)
{
    if (size != f->size) {
        axp_error(errptr, "Corruption: File corrupted: File size mismatch for %s: Expected file "
                          "size is %" PRIu64 " while found file size is %" PRIu64,
                  path, f->size, size);
        return -1;
    }
    if (crc != f->crc) {
        axp_error(errptr, "Corruption: File corrupted: Checksum mismatch for %s: Expected "
                          "checksum is 0x%08" PRIx32 " while computed checksum is 0x%08" PRIx32,
                  path, f->crc, crc);
        return -1;
    }
    return 0;
}

void rocksdb_backup_engine_verify_backup(rocksdb_backup_engine_t *be, uint32_t backup_id,
                                         char **errptr)
{
    if (!be) {
        axp_error(errptr, "Invalid argument: NULL backup engine");
        return;
    }
    pthread_mutex_lock(&be->mu);
    bk_backup *b;
    if (bk_usable(be, backup_id, "", errptr, &b) != 0)
        goto out;
    /* Sizes first, as RocksDB does (cheap), then the checksums. */
    for (uint32_t i = 0; i < b->nfiles; i++) {
        char p[BK_PATH];
        struct stat sb;
        bk_path(p, sizeof p, be, "private", b->id, b->files[i].name);
        if (stat(p, &sb) != 0) {
            axp_error(errptr, "NotFound: File missing: %s", p);
            goto out;
        }
        if (bk_check(p, &b->files[i], (uint64_t)sb.st_size, b->files[i].crc, errptr) != 0)
            goto out;
    }
    for (uint32_t i = 0; i < b->nfiles; i++) {
        char p[BK_PATH];
        uint64_t size = 0;
        uint32_t crc = 0;
        bk_path(p, sizeof p, be, "private", b->id, b->files[i].name);
        int rc = bk_crc_file(p, &size, &crc);
        if (rc) {
            axp_error(errptr, "IO error: %s: While reading %s", strerror(-rc), p);
            goto out;
        }
        if (bk_check(p, &b->files[i], size, crc, errptr) != 0)
            goto out;
    }
out:
    pthread_mutex_unlock(&be->mu);
}

/* Restore order: the files that make a directory a database come last, so that a restore
 * cut short never leaves something that opens (AlexStorage's marker, RocksDB's CURRENT). */
static int bk_restore_rank(const char *name)
{
    return strcmp(name, "ALEXSTORAGE") == 0 || strcmp(name, "CURRENT") == 0;
}

static void bk_restore(rocksdb_backup_engine_t *be, const char *db_dir, uint32_t id,
                       bool latest, char **errptr)
{
    if (!be || !db_dir || !*db_dir || strlen(db_dir) > 2048) {
        axp_error(errptr, "Invalid argument: NULL backup engine, or db_dir empty or too long");
        return;
    }
    pthread_mutex_lock(&be->mu);
    bk_backup *b;
    if (latest) {
        id = 0;
        for (size_t i = 0; i < be->n; i++)
            if (!be->b[i].corrupt)
                id = be->b[i].id;
    }
    if (bk_usable(be, id, "Backup not found", errptr, &b) != 0)
        goto out;
    if (mkdir(db_dir, 0755) != 0 && errno != EEXIST) {
        int e = errno;
        axp_error(errptr, "IO error: %s: While mkdir if missing: %s: %s", strerror(e), db_dir,
                  strerror(e));
        goto out;
    }
    /* Empty db_dir of files, as RocksDB does, and of the directories the backup brings. */
    DIR *d = opendir(db_dir);
    if (!d) {
        int e = errno;
        axp_error(errptr, "IO error: %s: While open directory: %s: %s", strerror(e), db_dir,
                  strerror(e));
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char p[BK_PATH];
        struct stat sb;
        bk_fmt(p, sizeof p, "%s/%s", db_dir, de->d_name);
        if (lstat(p, &sb) != 0)
            continue;
        bool brought = false;
        size_t nl = strlen(de->d_name);
        for (uint32_t i = 0; S_ISDIR(sb.st_mode) && !brought && i < b->nfiles; i++)
            brought = strncmp(b->files[i].name, de->d_name, nl) == 0 &&
                      b->files[i].name[nl] == '/';
        if (!S_ISDIR(sb.st_mode) || brought)
            bk_rm_rf(p);
    }
    closedir(d);
    for (int rank = 0; rank < 2; rank++) {
        for (uint32_t i = 0; i < b->nfiles; i++) {
            const bk_file *f = &b->files[i];
            if (bk_restore_rank(f->name) != rank)
                continue;
            char src[BK_PATH], dst[BK_PATH];
            bk_path(src, sizeof src, be, "private", b->id, f->name);
            bk_fmt(dst, sizeof dst, "%s/%s", db_dir, f->name);
            uint64_t size = 0;
            uint32_t crc = 0;
            int rc = bk_make_parents(db_dir, f->name);
            if (!rc)
                rc = bk_copy_file(src, dst, true, &size, &crc);
            if (rc) {
                axp_error(errptr, rc == -ENOENT ? "NotFound: %s: While copying %s"
                                                : "IO error: %s: While copying %s",
                          strerror(-rc), src);
                goto out;
            }
            if (bk_check(src, f, size, crc, errptr) != 0) {
                unlink(dst);
                goto out;
            }
        }
    }
    char last[BK_PATH] = "";
    for (uint32_t i = 0; i < b->nfiles; i++) {
        char p[BK_PATH];
        bk_fmt(p, sizeof p, "%s/%s", db_dir, b->files[i].name);
        *strrchr(p, '/') = '\0';
        if (strcmp(p, last) == 0)
            continue;
        memcpy(last, p, sizeof last);
        int rc = bk_fsync_dir(p);
        if (rc) {
            axp_error(errptr, "IO error: %s: While fsync %s", strerror(-rc), p);
            goto out;
        }
    }
out:
    pthread_mutex_unlock(&be->mu);
}

void rocksdb_backup_engine_restore_db_from_latest_backup(
    rocksdb_backup_engine_t *be, const char *db_dir, const char *wal_dir,
    const rocksdb_restore_options_t *restore_options, char **errptr)
{
    (void)wal_dir;
    (void)restore_options;
    bk_restore(be, db_dir, 0, true, errptr);
}

void rocksdb_backup_engine_restore_db_from_backup(
    rocksdb_backup_engine_t *be, const char *db_dir, const char *wal_dir,
    const rocksdb_restore_options_t *restore_options, const uint32_t backup_id, char **errptr)
{
    (void)wal_dir;
    (void)restore_options;
    bk_restore(be, db_dir, backup_id, false, errptr);
}

/* ---- backup info ------------------------------------------------------------------------------ */

const rocksdb_backup_engine_info_t *rocksdb_backup_engine_get_backup_info(
    rocksdb_backup_engine_t *be)
{
    if (!be)
        return NULL;
    rocksdb_backup_engine_info_t *info = calloc(1, sizeof *info);
    if (!info)
        return NULL;
    pthread_mutex_lock(&be->mu);
    info->e = calloc(be->n ? be->n : 1, sizeof *info->e);
    for (size_t i = 0; info->e && i < be->n; i++) {
        const bk_backup *b = &be->b[i];
        if (b->corrupt)
            continue;
        info->e[info->n++] = (struct bk_info){b->id, b->timestamp, b->size, b->nfiles};
    }
    pthread_mutex_unlock(&be->mu);
    return info;
}

/* Out-of-range indexes return 0 (RocksDB reads past its vector). */
#define BK_INFO_AT(info, index, field)                                                             \
    ((info) && (index) >= 0 && (index) < (info)->n ? (info)->e[(index)].field : 0)

int rocksdb_backup_engine_info_count(const rocksdb_backup_engine_info_t *info)
{
    return info ? info->n : 0;
}

int64_t rocksdb_backup_engine_info_timestamp(const rocksdb_backup_engine_info_t *info, int index)
{
    return BK_INFO_AT(info, index, timestamp);
}

uint32_t rocksdb_backup_engine_info_backup_id(const rocksdb_backup_engine_info_t *info, int index)
{
    return BK_INFO_AT(info, index, id);
}

uint64_t rocksdb_backup_engine_info_size(const rocksdb_backup_engine_info_t *info, int index)
{
    return BK_INFO_AT(info, index, size);
}

uint32_t rocksdb_backup_engine_info_number_files(const rocksdb_backup_engine_info_t *info,
                                                 int index)
{
    return BK_INFO_AT(info, index, nfiles);
}

void rocksdb_backup_engine_info_destroy(const rocksdb_backup_engine_info_t *info)
{
    if (!info)
        return;
    free(((rocksdb_backup_engine_info_t *)info)->e);
    free((rocksdb_backup_engine_info_t *)info);
}

/* ---- restore options -------------------------------------------------------------------------- */

rocksdb_restore_options_t *rocksdb_restore_options_create(void)
{
    return calloc(1, sizeof(rocksdb_restore_options_t));
}

void rocksdb_restore_options_destroy(rocksdb_restore_options_t *opt)
{
    free(opt);
}

/* Stored only: the engine has no log files apart from its data (docs/backup.md). */
void rocksdb_restore_options_set_keep_log_files(rocksdb_restore_options_t *opt, int v)
{
    if (opt)
        opt->keep_log_files = v;
}

/* ---- backup engine options (defaults as RocksDB 7.8.3's BackupEngineOptions) ------------------ */

rocksdb_backup_engine_options_t *rocksdb_backup_engine_options_create(const char *backup_dir)
{
    rocksdb_backup_engine_options_t *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    if (backup_dir && !(o->backup_dir = strdup(backup_dir))) {
        free(o);
        return NULL;
    }
    o->share_table_files = 1;
    o->sync = 1;
    o->backup_log_files = 1;
    o->max_background_operations = 1;
    o->callback_trigger_interval_size = 4u * 1024 * 1024;
    o->max_valid_backups_to_open = INT_MAX;
    o->share_files_with_checksum_naming = (int)(2u | 0x80000000u); /* kUseDbSessionId |
                                                                      kFlagIncludeFileSize */
    return o;
}

void rocksdb_backup_engine_options_destroy(rocksdb_backup_engine_options_t *o)
{
    if (!o)
        return;
    free(o->backup_dir);
    free(o);
}

void rocksdb_backup_engine_options_set_backup_dir(rocksdb_backup_engine_options_t *o,
                                                  const char *backup_dir)
{
    if (!o)
        return;
    char *d = backup_dir ? strdup(backup_dir) : NULL;
    if (backup_dir && !d)
        return;
    free(o->backup_dir);
    o->backup_dir = d;
}

void rocksdb_backup_engine_options_set_env(rocksdb_backup_engine_options_t *o,
                                           rocksdb_env_t *env)
{
    if (o)
        o->env = env;
}

#define BK_OPTION(type, field)                                                                     \
    void rocksdb_backup_engine_options_set_##field(rocksdb_backup_engine_options_t *o, type v)     \
    {                                                                                              \
        if (o)                                                                                     \
            o->field = v;                                                                          \
    }                                                                                              \
    type rocksdb_backup_engine_options_get_##field(rocksdb_backup_engine_options_t *o)             \
    {                                                                                              \
        return o ? o->field : 0;                                                                   \
    }

/* sync and destroy_old_data act (at rocksdb_backup_engine_open_opts); the others are stored. */
BK_OPTION(unsigned char, share_table_files)
BK_OPTION(unsigned char, sync)
BK_OPTION(unsigned char, destroy_old_data)
BK_OPTION(unsigned char, backup_log_files)
BK_OPTION(uint64_t, backup_rate_limit)
BK_OPTION(uint64_t, restore_rate_limit)
BK_OPTION(int, max_background_operations)
BK_OPTION(uint64_t, callback_trigger_interval_size)
BK_OPTION(int, max_valid_backups_to_open)
BK_OPTION(int, share_files_with_checksum_naming)
