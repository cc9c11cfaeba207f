/*
 * test_io.c: tests of the I/O layer: the posix table (alexstorage/io.h: every function's
 * success and error paths) and the fault table of fault_io.h (counters, each fault kind firing
 * at exactly the armed call, one-shot and sticky faults, crashes, and the power-loss model:
 * synced data survives, unsynced appends vanish or tear, undone creations, renames and
 * removals, dead handles).
 *
 * Every test runs in its own temporary directory (under $TMPDIR, else /tmp), removed
 * afterwards. Files are checked with stdio, independently of the tables under test. The torn
 * write test is randomized: it prints its seed and replays it from ALEXSTORAGE_SEED.
 */
#define _GNU_SOURCE /* nftw, mkdtemp, readlink */

#include "test_util.h"

#include "fault_io.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- fixture and helpers ------------------------------------------------------------------ */

typedef struct fixture {
    char dir[PATH_MAX];
    fault_io *fio;       /* created by the fault tests' setup */
    const axs_io *io;    /* the table under test */
} fixture;

static int setup_common(void **state, bool with_fault)
{
    const char *tmp = getenv("TMPDIR");
    fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "%s/axs_io_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    if (with_fault) {
        if (fault_io_create(&fx->fio) != 0) {
            rmdir(fx->dir);
            free(fx);
            return -1;
        }
        fx->io = fault_io_table(fx->fio);
    } else {
        fx->io = axs_io_posix();
    }
    *state = fx;
    return 0;
}

static int setup_posix(void **state)
{
    return setup_common(state, false);
}

static int setup_fault(void **state)
{
    return setup_common(state, true);
}

static int setup_fault_nosync(void **state)
{
    int rc = setup_common(state, true);
    if (rc == 0)
        fault_io_skip_real_sync(((fixture *)*state)->fio, true);
    return rc;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture *fx = *state;
    fault_io_destroy(fx->fio);
    nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* a "/" b into out (PATH_MAX bytes); fails the test if it does not fit. */
static char *join(char *out, const char *a, const char *b)
{
    size_t al = strlen(a), bl = strlen(b);
    TU_REQUIRE(al + 1 + bl < PATH_MAX, "path too long");
    memcpy(out, a, al);
    out[al] = '/';
    memcpy(out + al + 1, b, bl + 1);
    return out;
}

/* fx->dir "/" name, in one of 8 rotating buffers (valid for the next 7 calls). */
static const char *P(fixture *fx, const char *name)
{
    static char bufs[8][PATH_MAX];
    static unsigned next;
    return join(bufs[next++ % 8], fx->dir, name);
}

/* Whole file via stdio (malloc'd, NUL-terminated), or NULL if it does not exist. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b = NULL;
    size_t n = 0, cap = 0;
    if (f == NULL)
        return NULL;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            b = realloc(b, cap);
            assert_non_null(b);
        }
        size_t got = fread(b + n, 1, 4096, f);
        n += got;
        if (got < 4096)
            break;
    }
    fclose(f);
    b[n] = 0;
    *len = n;
    return b;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The file holds exactly want[0..len) (checked with stdio). */
static void expect_file(const char *path, const void *want, size_t len)
{
    size_t n = 0;
    unsigned char *b = slurp(path, &n);
    TU_REQUIRE(b != NULL, "%s is missing", path);
    TU_REQUIRE(n == len, "%s has %zu bytes, expected %zu", path, n, len);
    TU_REQUIRE(len == 0 || memcmp(b, want, len) == 0, "%s has the wrong content", path);
    free(b);
}

static void expect_str_file(const char *path, const char *want)
{
    expect_file(path, want, strlen(want));
}

static axs_file *xopen(const axs_io *io, const char *path, int flags)
{
    axs_file *f = NULL;
    int rc = io->open(io->ctx, path, flags, &f);
    TU_REQUIRE(rc == 0 && f != NULL, "open(%s, %d) = %d", path, flags, rc);
    return f;
}

static void xwrite(const axs_io *io, axs_file *f, const void *buf, size_t len, uint64_t off)
{
    int64_t n = io->write_at(io->ctx, f, buf, len, off);
    TU_REQUIRE(n == (int64_t)len, "write_at(%zu bytes at %llu) = %lld", len,
               (unsigned long long)off, (long long)n);
}

static void xclose(const axs_io *io, axs_file *f)
{
    assert_int_equal(io->close(io->ctx, f), 0);
}

/* Creates path with content s through the table; syncs the file if sync_file, the directory
 * if sync_parent (dir). */
static void put(const axs_io *io, const char *path, const char *s, bool sync_file,
                const char *sync_parent)
{
    axs_file *f = xopen(io, path, AXS_IO_WRITE | AXS_IO_CREATE | AXS_IO_TRUNCATE);
    xwrite(io, f, s, strlen(s), 0);
    if (sync_file)
        assert_int_equal(io->sync(io->ctx, f), 0);
    xclose(io, f);
    if (sync_parent != NULL)
        assert_int_equal(io->sync_dir(io->ctx, sync_parent), 0);
}

static void fill_pattern(unsigned char *b, size_t n, unsigned seed)
{
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)tu_splitmix64(&st);
}

/* ---- posix: files ------------------------------------------------------------------------- */

static void test_posix_open_errors(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    axs_file *f = (axs_file *)(void *)fx; /* poison: must be reset to NULL */

    assert_int_equal(io->open(io->ctx, P(fx, "missing"), AXS_IO_READ, &f), -ENOENT);
    assert_null(f);
    assert_int_equal(io->open(io->ctx, P(fx, "missing"), AXS_IO_WRITE, &f), -ENOENT);
    assert_int_equal(io->open(io->ctx, P(fx, "no/such/dir"), AXS_IO_WRITE | AXS_IO_CREATE, &f),
                     -ENOENT);
    /* Undefined flag combinations. */
    assert_int_equal(io->open(io->ctx, P(fx, "x"), AXS_IO_CREATE, &f), -EINVAL);
    assert_int_equal(io->open(io->ctx, P(fx, "x"), AXS_IO_WRITE | AXS_IO_EXCL, &f), -EINVAL);
    assert_int_equal(io->open(io->ctx, P(fx, "x"), AXS_IO_TRUNCATE, &f), -EINVAL);
    assert_int_equal(io->open(io->ctx, P(fx, "x"), AXS_IO_WRITE | 64, &f), -EINVAL);
    assert_false(exists(P(fx, "x")));

    f = xopen(io, P(fx, "x"), AXS_IO_WRITE | AXS_IO_CREATE | AXS_IO_EXCL);
    xclose(io, f);
    assert_int_equal(
        io->open(io->ctx, P(fx, "x"), AXS_IO_WRITE | AXS_IO_CREATE | AXS_IO_EXCL, &f), -EEXIST);
    assert_null(f);
    /* A directory cannot be opened for writing. */
    assert_int_equal(io->open(io->ctx, fx->dir, AXS_IO_WRITE, &f), -EISDIR);
}

static void test_posix_read_write(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    char buf[64];
    uint64_t size = 1;

    axs_file *f = xopen(io, P(fx, "f"), AXS_IO_WRITE | AXS_IO_CREATE);
    assert_int_equal(io->size(io->ctx, f, &size), 0);
    assert_int_equal(size, 0);
    assert_int_equal(io->read_at(io->ctx, f, buf, sizeof buf, 0), 0); /* empty: end of file */
    xwrite(io, f, "hello", 5, 0);
    xwrite(io, f, "world", 5, 10); /* leaves a hole of zeros */
    assert_int_equal(io->size(io->ctx, f, &size), 0);
    assert_int_equal(size, 15);
    memset(buf, 'x', sizeof buf);
    assert_int_equal(io->read_at(io->ctx, f, buf, sizeof buf, 0), 15); /* short file */
    assert_memory_equal(buf, "hello\0\0\0\0\0world", 15);
    assert_int_equal(io->read_at(io->ctx, f, buf, 100, 12), 3);
    assert_memory_equal(buf, "rld", 3);
    assert_int_equal(io->read_at(io->ctx, f, buf, 10, 15), 0);
    assert_int_equal(io->read_at(io->ctx, f, buf, 10, 1u << 20), 0);
    assert_int_equal(io->read_at(io->ctx, f, buf, 0, 0), 0);
    assert_int_equal(io->write_at(io->ctx, f, buf, 0, 0), 0);
    /* Offsets beyond off_t. */
    assert_int_equal(io->read_at(io->ctx, f, buf, 1, UINT64_MAX), -EINVAL);
    assert_int_equal(io->write_at(io->ctx, f, buf, 1, UINT64_MAX), -EINVAL);
    assert_int_equal(io->sync(io->ctx, f), 0);
    xclose(io, f);
    expect_file(P(fx, "f"), "hello\0\0\0\0\0world", 15);

    /* A large buffer goes through whole. */
    size_t big = (size_t)3 << 20;
    unsigned char *a = malloc(big), *b = malloc(big);
    assert_non_null(a);
    assert_non_null(b);
    fill_pattern(a, big, 7);
    f = xopen(io, P(fx, "big"), AXS_IO_WRITE | AXS_IO_CREATE);
    xwrite(io, f, a, big, 4096);
    assert_int_equal(io->read_at(io->ctx, f, b, big, 4096), (int64_t)big);
    assert_memory_equal(a, b, big);
    xclose(io, f);
    free(a);
    free(b);

    /* Read-only handles read, but do not write; sync works on them too. */
    f = xopen(io, P(fx, "f"), AXS_IO_READ);
    assert_int_equal(io->read_at(io->ctx, f, buf, 5, 0), 5);
    assert_int_equal(io->write_at(io->ctx, f, "x", 1, 0), -EBADF);
    int rc = io->truncate(io->ctx, f, 0); /* ftruncate on O_RDONLY */
    assert_true(rc == -EINVAL || rc == -EBADF);
    assert_int_equal(io->sync(io->ctx, f), 0);
    xclose(io, f);
}

static void test_posix_truncate_and_flags(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    uint64_t size = 0;
    char buf[16];

    spit(P(fx, "t"), "0123456789", 10);
    /* CREATE without EXCL opens an existing file as it is. */
    axs_file *f = xopen(io, P(fx, "t"), AXS_IO_WRITE | AXS_IO_CREATE);
    assert_int_equal(io->size(io->ctx, f, &size), 0);
    assert_int_equal(size, 10);
    assert_int_equal(io->truncate(io->ctx, f, 3), 0);
    assert_int_equal(io->size(io->ctx, f, &size), 0);
    assert_int_equal(size, 3);
    assert_int_equal(io->truncate(io->ctx, f, 8192), 0); /* growing fills with zeros */
    assert_int_equal(io->size(io->ctx, f, &size), 0);
    assert_int_equal(size, 8192);
    assert_int_equal(io->read_at(io->ctx, f, buf, 5, 0), 5);
    assert_memory_equal(buf, "012\0\0", 5);
    assert_int_equal(io->truncate(io->ctx, f, UINT64_MAX), -EINVAL);
    xclose(io, f);

    f = xopen(io, P(fx, "t"), AXS_IO_WRITE | AXS_IO_TRUNCATE);
    assert_int_equal(io->size(io->ctx, f, &size), 0);
    assert_int_equal(size, 0);
    xclose(io, f);
    expect_file(P(fx, "t"), "", 0);
}

static void test_posix_map(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    const void *addr = (const void *)fx;
    unsigned char data[300];

    fill_pattern(data, sizeof data, 3);
    axs_file *f = xopen(io, P(fx, "m"), AXS_IO_WRITE | AXS_IO_CREATE);
    xwrite(io, f, data, 100, 0);
    assert_int_equal(io->map(io->ctx, f, 0, &addr), -EINVAL); /* no empty mappings */
    assert_null(addr);
    /* Map far more than the file holds, as the engine maps a segment's capacity. */
    size_t cap = (size_t)1 << 20;
    assert_int_equal(io->map(io->ctx, f, cap, &addr), 0);
    assert_non_null(addr);
    assert_memory_equal(addr, data, 100);
    /* Later writes show through the mapping. */
    xwrite(io, f, data + 100, 200, 100);
    assert_memory_equal((const unsigned char *)addr + 100, data + 100, 200);
    xwrite(io, f, "XY", 2, 5);
    assert_memory_equal((const unsigned char *)addr + 5, "XY", 2);
    assert_int_equal(io->unmap(io->ctx, f, addr, cap), 0);
    assert_int_equal(io->unmap(io->ctx, f, NULL, cap), -EINVAL);

    /* A mapping outlives its handle; read-only handles map too. */
    axs_file *r = xopen(io, P(fx, "m"), AXS_IO_READ);
    assert_int_equal(io->map(io->ctx, r, 4096, &addr), 0);
    xclose(io, r);
    assert_memory_equal((const unsigned char *)addr + 100, data + 100, 200);
    assert_int_equal(io->unmap(io->ctx, f, addr, 4096), 0);
    xclose(io, f);
}

/* In a child process: opens path, tries the lock, exits with 0 if lock returned `want`. */
static int lock_in_child(const char *path, int want)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        const axs_io *io = axs_io_posix();
        axs_file *f = NULL;
        int rc = io->open(io->ctx, path, AXS_IO_WRITE, &f);
        if (rc == 0)
            rc = io->lock(io->ctx, f);
        _exit(rc == want ? 0 : 1);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_posix_lock(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    const char *path = P(fx, "LOCK");

    axs_file *a = xopen(io, path, AXS_IO_WRITE | AXS_IO_CREATE);
    axs_file *b = xopen(io, path, AXS_IO_WRITE);
    assert_int_equal(io->lock(io->ctx, a), 0);
    assert_int_equal(io->lock(io->ctx, a), 0); /* again on the same handle: still ours */
    /* Another process cannot take it... */
    assert_int_equal(lock_in_child(path, -EWOULDBLOCK), 0);
    /* ...nor another open of the same file in this process (flock is per open file). */
    assert_int_equal(io->lock(io->ctx, b), -EWOULDBLOCK);
    /* Closing releases it. */
    xclose(io, a);
    assert_int_equal(lock_in_child(path, 0), 0);
    assert_int_equal(io->lock(io->ctx, b), 0);
    assert_int_equal(lock_in_child(path, -EWOULDBLOCK), 0);
    xclose(io, b);
}

/* Descriptors are close-on-exec: find the one open on our file in /proc/self/fd. */
static void test_posix_cloexec(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    char target[PATH_MAX], link[64];
    int found = 0;

    if (!exists("/proc/self/fd")) {
        skip();
        return;
    }
    axs_file *f = xopen(io, P(fx, "c"), AXS_IO_WRITE | AXS_IO_CREATE);
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, P(fx, "c")) != 0)
            continue;
        found++;
        int fl = fcntl(fd, F_GETFD);
        assert_true(fl >= 0 && (fl & FD_CLOEXEC));
    }
    xclose(io, f);
    assert_int_equal(found, 1);
}

/* ---- posix: names and directories --------------------------------------------------------- */

static void test_posix_mkdir_stat(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    int is_dir = -1;

    assert_int_equal(io->mkdir(io->ctx, P(fx, "d")), 0);
    assert_int_equal(io->mkdir(io->ctx, P(fx, "d")), -EEXIST);
    assert_int_equal(io->mkdir(io->ctx, P(fx, "no/d")), -ENOENT);
    assert_int_equal(io->stat(io->ctx, P(fx, "d"), &is_dir), 0);
    assert_int_equal(is_dir, 1);
    spit(P(fx, "f"), "x", 1);
    assert_int_equal(io->stat(io->ctx, P(fx, "f"), &is_dir), 0);
    assert_int_equal(is_dir, 0);
    assert_int_equal(io->stat(io->ctx, P(fx, "f"), NULL), 0);
    assert_int_equal(io->stat(io->ctx, P(fx, "missing"), &is_dir), -ENOENT);
    assert_int_equal(io->stat(io->ctx, P(fx, "f/sub"), &is_dir), -ENOTDIR);
    assert_int_equal(io->mkdir(io->ctx, P(fx, "f")), -EEXIST);
}

static void test_posix_rename_remove(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;

    spit(P(fx, "a"), "AAA", 3);
    spit(P(fx, "b"), "BB", 2);
    assert_int_equal(io->rename(io->ctx, P(fx, "a"), P(fx, "c")), 0);
    assert_false(exists(P(fx, "a")));
    expect_str_file(P(fx, "c"), "AAA");
    assert_int_equal(io->rename(io->ctx, P(fx, "a"), P(fx, "d")), -ENOENT);
    /* Renaming over an existing file replaces it. */
    assert_int_equal(io->rename(io->ctx, P(fx, "c"), P(fx, "b")), 0);
    expect_str_file(P(fx, "b"), "AAA");
    assert_false(exists(P(fx, "c")));

    assert_int_equal(io->remove(io->ctx, P(fx, "b")), 0);
    assert_false(exists(P(fx, "b")));
    assert_int_equal(io->remove(io->ctx, P(fx, "b")), -ENOENT);
    /* Directories: empty ones go, full ones stay. */
    assert_int_equal(io->mkdir(io->ctx, P(fx, "e")), 0);
    assert_int_equal(io->remove(io->ctx, P(fx, "e")), 0);
    assert_false(exists(P(fx, "e")));
    assert_int_equal(io->mkdir(io->ctx, P(fx, "full")), 0);
    spit(P(fx, "full/x"), "x", 1);
    int rc = io->remove(io->ctx, P(fx, "full"));
    assert_true(rc == -ENOTEMPTY || rc == -EEXIST);
    assert_true(exists(P(fx, "full/x")));
}

typedef struct listing {
    char names[16][32];
    int n;
    int stop_at; /* return 7 from this call (1-based), 0 = never */
} listing;

static int list_cb(void *arg, const char *name)
{
    listing *l = arg;
    if (l->n < 16)
        snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
    l->n++;
    return l->stop_at != 0 && l->n == l->stop_at ? 7 : 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_posix_list_dir(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    listing l = {0};

    assert_int_equal(io->list_dir(io->ctx, fx->dir, list_cb, &l), 0);
    assert_int_equal(l.n, 0); /* "." and ".." are skipped */
    spit(P(fx, "c"), "", 0);
    spit(P(fx, "a"), "", 0);
    spit(P(fx, "b"), "", 0);
    assert_int_equal(io->mkdir(io->ctx, P(fx, "d")), 0);
    spit(P(fx, "d/inner"), "", 0); /* not listed: listing is not recursive */
    assert_int_equal(io->list_dir(io->ctx, fx->dir, list_cb, &l), 0);
    assert_int_equal(l.n, 4);
    qsort(l.names, 4, sizeof l.names[0], cmp_name);
    assert_string_equal(l.names[0], "a");
    assert_string_equal(l.names[1], "b");
    assert_string_equal(l.names[2], "c");
    assert_string_equal(l.names[3], "d");

    /* A non-zero callback result stops the listing and is returned. */
    memset(&l, 0, sizeof l);
    l.stop_at = 2;
    assert_int_equal(io->list_dir(io->ctx, fx->dir, list_cb, &l), 7);
    assert_int_equal(l.n, 2);

    assert_int_equal(io->list_dir(io->ctx, P(fx, "missing"), list_cb, &l), -ENOENT);
    assert_int_equal(io->list_dir(io->ctx, P(fx, "a"), list_cb, &l), -ENOTDIR);
}

static void test_posix_sync_dir(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;

    assert_int_equal(io->sync_dir(io->ctx, fx->dir), 0);
    assert_int_equal(io->mkdir(io->ctx, P(fx, "sub")), 0);
    assert_int_equal(io->sync_dir(io->ctx, P(fx, "sub")), 0);
    assert_int_equal(io->sync_dir(io->ctx, P(fx, "missing")), -ENOENT);
    spit(P(fx, "file"), "x", 1);
    assert_int_equal(io->sync_dir(io->ctx, P(fx, "file")), -ENOTDIR);
}

/* ---- fault table: counting and faults ----------------------------------------------------- */

/* One call of every kind, in a fixed order; returns nothing, asserts success. */
static void workload_every_kind(fixture *fx)
{
    const axs_io *io = fx->io;
    const void *addr = NULL;
    uint64_t size = 0;
    char buf[8];
    listing l = {0};
    int is_dir = 0;

    assert_int_equal(io->mkdir(io->ctx, P(fx, "w")), 0);                       /* mkdir */
    axs_file *f = xopen(io, P(fx, "w/f"), AXS_IO_WRITE | AXS_IO_CREATE);      /* open */
    xwrite(io, f, "abc", 3, 0);                                                /* write_at */
    xwrite(io, f, "def", 3, 3);                                                /* write_at */
    assert_int_equal(io->sync(io->ctx, f), 0);                                 /* sync */
    assert_int_equal(io->size(io->ctx, f, &size), 0);                          /* size */
    assert_int_equal(io->read_at(io->ctx, f, buf, 6, 0), 6);                   /* read_at */
    assert_int_equal(io->map(io->ctx, f, 4096, &addr), 0);                     /* map */
    assert_int_equal(io->unmap(io->ctx, f, addr, 4096), 0);                    /* unmap */
    assert_int_equal(io->lock(io->ctx, f), 0);                                 /* lock */
    assert_int_equal(io->truncate(io->ctx, f, 4), 0);                          /* truncate */
    xclose(io, f);                                                             /* close */
    assert_int_equal(io->rename(io->ctx, P(fx, "w/f"), P(fx, "w/g")), 0);     /* rename */
    assert_int_equal(io->stat(io->ctx, P(fx, "w/g"), &is_dir), 0);            /* stat */
    assert_int_equal(io->list_dir(io->ctx, P(fx, "w"), list_cb, &l), 0);      /* list_dir */
    assert_int_equal(io->sync_dir(io->ctx, P(fx, "w")), 0);                   /* sync_dir */
    assert_int_equal(io->remove(io->ctx, P(fx, "w/g")), 0);                   /* remove */
}

static void test_fault_counters(void **state)
{
    fixture *fx = *state;
    static const uint64_t want[FAULT_IO_NKINDS] = {
        [FAULT_IO_OPEN] = 1,  [FAULT_IO_CLOSE] = 1,   [FAULT_IO_READ_AT] = 1,
        [FAULT_IO_WRITE_AT] = 2, [FAULT_IO_SYNC] = 1, [FAULT_IO_TRUNCATE] = 1,
        [FAULT_IO_SIZE] = 1,  [FAULT_IO_MAP] = 1,     [FAULT_IO_UNMAP] = 1,
        [FAULT_IO_LOCK] = 1,  [FAULT_IO_MKDIR] = 1,   [FAULT_IO_RENAME] = 1,
        [FAULT_IO_REMOVE] = 1, [FAULT_IO_LIST_DIR] = 1, [FAULT_IO_SYNC_DIR] = 1,
        [FAULT_IO_STAT] = 1};
    uint64_t total = 0;

    assert_int_equal(fault_io_count(fx->fio, FAULT_IO_ANY), 0);
    workload_every_kind(fx);
    for (int k = 0; k < FAULT_IO_NKINDS; k++) {
        TU_REQUIRE(fault_io_count(fx->fio, (fault_io_kind)k) == want[k], "%s: %llu calls",
                   fault_io_kind_name((fault_io_kind)k),
                   (unsigned long long)fault_io_count(fx->fio, (fault_io_kind)k));
        total += want[k];
    }
    assert_int_equal(fault_io_count(fx->fio, FAULT_IO_ANY), total);
    /* Failed calls count too. */
    axs_file *f = NULL;
    assert_int_equal(fx->io->open(fx->io->ctx, P(fx, "missing"), AXS_IO_READ, &f), -ENOENT);
    assert_int_equal(fault_io_count(fx->fio, FAULT_IO_OPEN), 2);
    fault_io_reset_counters(fx->fio);
    for (int k = 0; k <= FAULT_IO_ANY; k++)
        assert_int_equal(fault_io_count(fx->fio, (fault_io_kind)k), 0);
    assert_string_equal(fault_io_kind_name(FAULT_IO_SYNC_DIR), "sync_dir");
    assert_string_equal(fault_io_kind_name(FAULT_IO_ANY), "any");
}

/* State for calling any kind once: a directory "k" with an open file and fresh names. */
typedef struct kind_env {
    fixture *fx;
    axs_file *f; /* writable, 8 KiB long */
    int serial;
} kind_env;

/* Makes one call of `kind` that succeeds when no fault is armed; returns its result (>= 0 on
 * success). Setup calls it needs (an open to have something to close, a map to have something
 * to unmap, a file to remove) are of other kinds. */
static int64_t call_kind(kind_env *ke, fault_io_kind kind)
{
    fixture *fx = ke->fx;
    const axs_io *io = fx->io;
    char name[64], name2[64];
    char buf[16];
    uint64_t size;
    int is_dir, rc;
    const void *addr = NULL;
    listing l = {0};
    axs_file *g = NULL;

    ke->serial++;
    snprintf(name, sizeof name, "k/n%d", ke->serial);
    snprintf(name2, sizeof name2, "k/m%d", ke->serial);
    switch (kind) {
    case FAULT_IO_OPEN:
        rc = io->open(io->ctx, P(fx, name), AXS_IO_WRITE | AXS_IO_CREATE, &g);
        if (rc == 0)
            io->close(io->ctx, g);
        return rc;
    case FAULT_IO_CLOSE:
        g = xopen(io, P(fx, "k/data"), AXS_IO_READ);
        return io->close(io->ctx, g);
    case FAULT_IO_READ_AT:
        return io->read_at(io->ctx, ke->f, buf, sizeof buf, 0);
    case FAULT_IO_WRITE_AT:
        return io->write_at(io->ctx, ke->f, "0123456789", 10, 100);
    case FAULT_IO_SYNC:
        return io->sync(io->ctx, ke->f);
    case FAULT_IO_TRUNCATE:
        return io->truncate(io->ctx, ke->f, 8192);
    case FAULT_IO_SIZE:
        return io->size(io->ctx, ke->f, &size);
    case FAULT_IO_MAP:
        rc = io->map(io->ctx, ke->f, 8192, &addr);
        if (rc == 0)
            io->unmap(io->ctx, ke->f, addr, 8192);
        return rc;
    case FAULT_IO_UNMAP:
        assert_int_equal(io->map(io->ctx, ke->f, 8192, &addr), 0);
        return io->unmap(io->ctx, ke->f, addr, 8192);
    case FAULT_IO_LOCK:
        return io->lock(io->ctx, ke->f);
    case FAULT_IO_MKDIR:
        return io->mkdir(io->ctx, P(fx, name));
    case FAULT_IO_RENAME:
        assert_int_equal(io->mkdir(io->ctx, P(fx, name)), 0);
        return io->rename(io->ctx, P(fx, name), P(fx, name2));
    case FAULT_IO_REMOVE:
        assert_int_equal(io->mkdir(io->ctx, P(fx, name)), 0);
        return io->remove(io->ctx, P(fx, name));
    case FAULT_IO_LIST_DIR:
        return io->list_dir(io->ctx, P(fx, "k"), list_cb, &l);
    case FAULT_IO_SYNC_DIR:
        return io->sync_dir(io->ctx, P(fx, "k"));
    case FAULT_IO_STAT:
        return io->stat(io->ctx, P(fx, "k"), &is_dir);
    default:
        fail_msg("bad kind %d", (int)kind);
        return -1;
    }
}

static void kind_env_open(kind_env *ke, fixture *fx)
{
    const axs_io *io = fx->io;
    static unsigned char zeros[8192];
    memset(ke, 0, sizeof *ke);
    ke->fx = fx;
    assert_int_equal(io->mkdir(io->ctx, P(fx, "k")), 0);
    ke->f = xopen(io, P(fx, "k/data"), AXS_IO_WRITE | AXS_IO_CREATE);
    xwrite(io, ke->f, zeros, sizeof zeros, 0);
}

/* For every kind and both plain errors: the 2nd call of that kind fails, the 1st and 3rd do
 * not, and the fault fired once. */
static void test_fault_each_kind_fires_at_nth(void **state)
{
    fixture *fx = *state;
    kind_env ke;
    kind_env_open(&ke, fx);
    for (int k = 0; k < FAULT_IO_NKINDS; k++) {
        for (int e = 0; e < 2; e++) {
            fault_io_fault fault = e == 0 ? FAULT_IO_EIO : FAULT_IO_ENOSPC;
            int want = e == 0 ? -EIO : -ENOSPC;
            fault_io_arm(fx->fio, (fault_io_kind)k, 2, fault, false);
            int64_t r1 = call_kind(&ke, (fault_io_kind)k);
            int64_t r2 = call_kind(&ke, (fault_io_kind)k);
            int64_t r3 = call_kind(&ke, (fault_io_kind)k);
            TU_REQUIRE(r1 >= 0 && r2 == want && r3 >= 0, "%s/%d: results %lld %lld %lld",
                       fault_io_kind_name((fault_io_kind)k), want, (long long)r1, (long long)r2,
                       (long long)r3);
            TU_REQUIRE(fault_io_fired(fx->fio) == 1, "%s fired %llu times",
                       fault_io_kind_name((fault_io_kind)k),
                       (unsigned long long)fault_io_fired(fx->fio));
        }
    }
    fault_io_disarm(fx->fio);
    xclose(fx->io, ke.f);
}

/* A failed call does nothing. */
static void test_fault_failed_call_has_no_effect(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    axs_file *f = NULL;

    fault_io_arm(fx->fio, FAULT_IO_MKDIR, 1, FAULT_IO_EIO, false);
    assert_int_equal(io->mkdir(io->ctx, P(fx, "d")), -EIO);
    assert_false(exists(P(fx, "d")));
    fault_io_arm(fx->fio, FAULT_IO_OPEN, 1, FAULT_IO_ENOSPC, false);
    assert_int_equal(io->open(io->ctx, P(fx, "f"), AXS_IO_WRITE | AXS_IO_CREATE, &f), -ENOSPC);
    assert_null(f);
    assert_false(exists(P(fx, "f")));
    f = xopen(io, P(fx, "f"), AXS_IO_WRITE | AXS_IO_CREATE);
    xwrite(io, f, "abc", 3, 0);
    fault_io_arm(fx->fio, FAULT_IO_WRITE_AT, 1, FAULT_IO_ENOSPC, false);
    assert_int_equal(io->write_at(io->ctx, f, "def", 3, 3), -ENOSPC);
    fault_io_arm(fx->fio, FAULT_IO_TRUNCATE, 1, FAULT_IO_EIO, false);
    assert_int_equal(io->truncate(io->ctx, f, 0), -EIO);
    expect_str_file(P(fx, "f"), "abc");
    /* close fails but releases the handle (ASan would see a leak otherwise). */
    fault_io_arm(fx->fio, FAULT_IO_CLOSE, 1, FAULT_IO_EIO, false);
    assert_int_equal(io->close(io->ctx, f), -EIO);
    fault_io_arm(fx->fio, FAULT_IO_RENAME, 1, FAULT_IO_EIO, false);
    assert_int_equal(io->rename(io->ctx, P(fx, "f"), P(fx, "g")), -EIO);
    fault_io_arm(fx->fio, FAULT_IO_REMOVE, 1, FAULT_IO_EIO, false);
    assert_int_equal(io->remove(io->ctx, P(fx, "f")), -EIO);
    expect_str_file(P(fx, "f"), "abc");
    assert_false(exists(P(fx, "g")));
}

/* FAULT_IO_ANY counts calls of every kind. */
static void test_fault_any_kind(void **state)
{
    fixture *fx = *state;
    kind_env ke;
    kind_env_open(&ke, fx);
    static const fault_io_kind seq[] = {FAULT_IO_SIZE, FAULT_IO_STAT, FAULT_IO_READ_AT,
                                        FAULT_IO_SYNC, FAULT_IO_WRITE_AT, FAULT_IO_LOCK,
                                        FAULT_IO_SYNC_DIR};
    const int nseq = (int)(sizeof seq / sizeof seq[0]);
    for (int target = 1; target <= nseq; target++) {
        fault_io_arm(fx->fio, FAULT_IO_ANY, (uint64_t)target, FAULT_IO_EIO, false);
        for (int i = 1; i <= nseq; i++) {
            int64_t r = call_kind(&ke, seq[i - 1]);
            TU_REQUIRE(i == target ? r == -EIO : r >= 0, "target %d, call %d (%s) = %lld",
                       target, i, fault_io_kind_name(seq[i - 1]), (long long)r);
        }
        assert_int_equal(fault_io_fired(fx->fio), 1);
    }
    fault_io_disarm(fx->fio);
    xclose(fx->io, ke.f);
}

static void test_fault_sticky_vs_one_shot(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    uint64_t size;
    axs_file *f = xopen(io, P(fx, "s"), AXS_IO_WRITE | AXS_IO_CREATE);

    /* One-shot: only the 2nd write fails. */
    fault_io_arm(fx->fio, FAULT_IO_WRITE_AT, 2, FAULT_IO_ENOSPC, false);
    assert_int_equal(io->write_at(io->ctx, f, "a", 1, 0), 1);
    assert_int_equal(io->write_at(io->ctx, f, "b", 1, 1), -ENOSPC);
    for (int i = 0; i < 4; i++)
        assert_int_equal(io->write_at(io->ctx, f, "c", 1, 1 + (uint64_t)i), 1);
    assert_int_equal(fault_io_fired(fx->fio), 1);

    /* Sticky: the 2nd write and every later one fail; other kinds are untouched. */
    fault_io_arm(fx->fio, FAULT_IO_WRITE_AT, 2, FAULT_IO_ENOSPC, true);
    assert_int_equal(io->write_at(io->ctx, f, "d", 1, 5), 1);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(io->write_at(io->ctx, f, "e", 1, 6), -ENOSPC);
        assert_int_equal(io->size(io->ctx, f, &size), 0);
        assert_int_equal(size, 6);
    }
    assert_int_equal(fault_io_fired(fx->fio), 4);
    /* Resetting the counters keeps a sticky fault in force. */
    fault_io_reset_counters(fx->fio);
    assert_int_equal(io->write_at(io->ctx, f, "e", 1, 6), -ENOSPC);
    fault_io_disarm(fx->fio);
    assert_int_equal(io->write_at(io->ctx, f, "e", 1, 6), 1);
    xclose(io, f);
    expect_str_file(P(fx, "s"), "accccde");

    /* Resetting keeps a one-shot fault's place among the calls still to come. */
    f = xopen(io, P(fx, "s"), AXS_IO_READ);
    fault_io_arm(fx->fio, FAULT_IO_SIZE, 3, FAULT_IO_EIO, false);
    assert_int_equal(io->size(io->ctx, f, &size), 0);
    fault_io_reset_counters(fx->fio);
    assert_int_equal(io->size(io->ctx, f, &size), 0);
    assert_int_equal(io->size(io->ctx, f, &size), -EIO);
    assert_int_equal(io->size(io->ctx, f, &size), 0);
    xclose(io, f);
}

static void test_fault_short_write(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    axs_file *f = xopen(io, P(fx, "w"), AXS_IO_WRITE | AXS_IO_CREATE);

    fault_io_arm(fx->fio, FAULT_IO_WRITE_AT, 1, FAULT_IO_SHORT_WRITE, true);
    assert_int_equal(io->write_at(io->ctx, f, "0123456789", 10, 0), 5);
    assert_int_equal(io->write_at(io->ctx, f, "abcdefg", 7, 5), 3);
    assert_int_equal(io->write_at(io->ctx, f, "z", 1, 8), 0);
    assert_int_equal(fault_io_fired(fx->fio), 3);
    expect_str_file(P(fx, "w"), "01234abc");
    /* One-shot at the 2nd write: only that one is cut short. */
    fault_io_arm(fx->fio, FAULT_IO_WRITE_AT, 2, FAULT_IO_SHORT_WRITE, false);
    assert_int_equal(io->write_at(io->ctx, f, "ABCD", 4, 0), 4);
    assert_int_equal(io->write_at(io->ctx, f, "wxyz", 4, 8), 2);
    assert_int_equal(io->write_at(io->ctx, f, "!", 1, 10), 1);
    assert_int_equal(fault_io_fired(fx->fio), 1);
    expect_str_file(P(fx, "w"), "ABCD4abcwx!");
    /* With FAULT_IO_ANY, a short-write fault hitting another kind is an EIO. */
    fault_io_arm(fx->fio, FAULT_IO_ANY, 1, FAULT_IO_SHORT_WRITE, false);
    assert_int_equal(io->sync(io->ctx, f), -EIO);
    fault_io_disarm(fx->fio);
    xclose(io, f);
}

static void test_fault_sync_lost(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    unsigned char a[4096], b[1000], want[5096];
    uint64_t size = 0;

    fill_pattern(a, sizeof a, 1);
    fill_pattern(b, sizeof b, 2);
    axs_file *f = xopen(io, P(fx, "s"), AXS_IO_WRITE | AXS_IO_CREATE);
    xwrite(io, f, a, sizeof a, 0);
    assert_int_equal(io->sync(io->ctx, f), 0);
    assert_int_equal(io->sync_dir(io->ctx, fx->dir), 0);
    xwrite(io, f, b, sizeof b, sizeof a); /* unsynced append */
    xwrite(io, f, "XX", 2, 10);           /* unsynced overwrite */
    fault_io_arm(fx->fio, FAULT_IO_SYNC, 1, FAULT_IO_SYNC_LOST, false);
    assert_int_equal(io->sync(io->ctx, f), -EIO);
    /* The size stays; the unsynced bytes read back as the durable ones or zeros. */
    assert_int_equal(io->size(io->ctx, f, &size), 0);
    assert_int_equal(size, sizeof want);
    memcpy(want, a, sizeof a);
    memset(want + sizeof a, 0, sizeof b);
    expect_file(P(fx, "s"), want, sizeof want);
    /* Still not durable: a power loss goes back to the last good sync. */
    assert_int_equal(fault_io_pending(fx->fio), 1);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    expect_file(P(fx, "s"), a, sizeof a);
    assert_int_equal(io->close(io->ctx, f), -EIO); /* dead handle, still released */

    /* A later successful sync makes the zeros durable. */
    f = xopen(io, P(fx, "s"), AXS_IO_WRITE);
    xwrite(io, f, b, sizeof b, sizeof a);
    fault_io_arm(fx->fio, FAULT_IO_SYNC, 1, FAULT_IO_SYNC_LOST, false);
    assert_int_equal(io->sync(io->ctx, f), -EIO);
    assert_int_equal(io->sync(io->ctx, f), 0);
    assert_int_equal(fault_io_pending(fx->fio), 0);
    xclose(io, f);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    expect_file(P(fx, "s"), want, sizeof want);
}

/* The pattern the engine's tests use: count the calls of a workload, then fail each in turn. */
static int publish(const axs_io *io, fixture *fx, const char *dir)
{
    char tmp[PATH_MAX], cur[PATH_MAX];
    axs_file *f = NULL;
    int rc;
    int64_t n;

    join(tmp, P(fx, dir), "CURRENT.tmp");
    join(cur, P(fx, dir), "CURRENT");
    if ((rc = io->mkdir(io->ctx, P(fx, dir))) != 0)
        return rc;
    if ((rc = io->sync_dir(io->ctx, fx->dir)) != 0)
        return rc;
    if ((rc = io->open(io->ctx, tmp, AXS_IO_WRITE | AXS_IO_CREATE | AXS_IO_TRUNCATE, &f)) != 0)
        return rc;
    n = io->write_at(io->ctx, f, "MANIFEST-1\n", 11, 0);
    if (n != 11)
        rc = n < 0 ? (int)n : -EIO;
    if (rc == 0)
        rc = io->sync(io->ctx, f);
    int rc2 = io->close(io->ctx, f);
    if (rc == 0)
        rc = rc2;
    if (rc == 0)
        rc = io->rename(io->ctx, tmp, cur);
    if (rc == 0)
        rc = io->sync_dir(io->ctx, P(fx, dir));
    return rc;
}

static void test_fault_iterate_call_sites(void **state)
{
    fixture *fx = *state;
    char dir[32];

    assert_int_equal(publish(fx->io, fx, "d0"), 0);
    assert_int_equal(fault_io_pending(fx->fio), 0);
    uint64_t n = fault_io_count(fx->fio, FAULT_IO_ANY);
    assert_int_equal(n, 8);
    for (uint64_t i = 1; i <= n; i++) {
        snprintf(dir, sizeof dir, "d%llu", (unsigned long long)i);
        fault_io_reset_counters(fx->fio);
        fault_io_arm(fx->fio, FAULT_IO_ANY, i, FAULT_IO_EIO, false);
        int rc = publish(fx->io, fx, dir);
        TU_REQUIRE(rc == -EIO, "failing call %llu: publish returned %d", (unsigned long long)i,
                   rc);
        assert_int_equal(fault_io_fired(fx->fio), 1);
        /* After a crash right there, CURRENT is either absent or complete. */
        assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, i), 0);
        snprintf(dir, sizeof dir, "d%llu/CURRENT", (unsigned long long)i);
        if (exists(P(fx, dir)))
            expect_str_file(P(fx, dir), "MANIFEST-1\n");
    }
    expect_str_file(P(fx, "d0/CURRENT"), "MANIFEST-1\n");
}

static void test_fault_crash(void **state)
{
    fixture *fx = *state;
    kind_env ke;
    kind_env_open(&ke, fx);
    const axs_io *io = fx->io;
    axs_file *g = xopen(io, P(fx, "k/g"), AXS_IO_WRITE | AXS_IO_CREATE);
    const void *addr = NULL;
    assert_int_equal(io->map(io->ctx, ke.f, 8192, &addr), 0);

    assert_false(fault_io_crashed(fx->fio));
    fault_io_crash(fx->fio);
    assert_true(fault_io_crashed(fx->fio));
    for (int k = 0; k < FAULT_IO_NKINDS; k++) {
        if (k == FAULT_IO_CLOSE || k == FAULT_IO_UNMAP || k == FAULT_IO_RENAME ||
            k == FAULT_IO_REMOVE)
            continue; /* their setup calls would fail first; checked below */
        int64_t r = call_kind(&ke, (fault_io_kind)k);
        TU_REQUIRE(r == -EIO, "%s after a crash: %lld", fault_io_kind_name((fault_io_kind)k),
                   (long long)r);
    }
    assert_int_equal(io->rename(io->ctx, P(fx, "k/data"), P(fx, "k/x")), -EIO);
    assert_int_equal(io->remove(io->ctx, P(fx, "k/data")), -EIO);
    assert_true(exists(P(fx, "k/data")));
    assert_false(exists(P(fx, "k/n1"))); /* the open and the mkdir did nothing */
    /* Releasing still releases. */
    assert_int_equal(io->unmap(io->ctx, ke.f, addr, 8192), -EIO);
    assert_int_equal(io->close(io->ctx, g), -EIO);
    assert_int_equal(io->close(io->ctx, ke.f), -EIO);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_KEEP_UNSYNCED, 0), 0);
    assert_false(fault_io_crashed(fx->fio));
    int is_dir;
    assert_int_equal(io->stat(io->ctx, P(fx, "k/data"), &is_dir), 0);
}

/* list_dir's callback may call the table (here: remove what is listed). */
typedef struct remover {
    fixture *fx;
    int n;
} remover;

static int remove_cb(void *arg, const char *name)
{
    remover *r = arg;
    r->n++;
    return r->fx->io->remove(r->fx->io->ctx, P(r->fx, name));
}

static void test_fault_list_dir_reentrant(void **state)
{
    fixture *fx = *state;
    remover r = {fx, 0};
    spit(P(fx, "a"), "", 0);
    spit(P(fx, "b"), "", 0);
    assert_int_equal(fx->io->list_dir(fx->io->ctx, fx->dir, remove_cb, &r), 0);
    assert_int_equal(r.n, 2);
    assert_false(exists(P(fx, "a")));
    assert_false(exists(P(fx, "b")));
    assert_int_equal(fault_io_count(fx->fio, FAULT_IO_REMOVE), 2);
}

static void test_fault_trace(void **state)
{
    fixture *fx = *state;
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    assert_non_null(mem);
    fault_io_set_trace(fx->fio, mem);
    assert_int_equal(fx->io->mkdir(fx->io->ctx, P(fx, "d")), 0);
    assert_int_equal(fx->io->mkdir(fx->io->ctx, P(fx, "d")), -EEXIST);
    fault_io_set_trace(fx->fio, NULL);
    fclose(mem);
    assert_non_null(strstr(text, "fault_io #1 mkdir "));
    assert_non_null(strstr(text, "/d -> 0\n"));
    assert_non_null(strstr(text, "fault_io #2 mkdir "));
    free(text);
}

/* The table is safe to call from several threads; counters stay exact. */
typedef struct worker {
    fixture *fx;
    int id;
    int rc;
} worker;

#define WORKER_ROUNDS 100

static void *worker_main(void *arg)
{
    worker *w = arg;
    const axs_io *io = w->fx->io;
    char name[32], path[PATH_MAX];
    snprintf(name, sizeof name, "w%d", w->id);
    join(path, w->fx->dir, name);
    for (int i = 0; i < WORKER_ROUNDS && w->rc == 0; i++) {
        axs_file *f = NULL;
        w->rc = io->open(io->ctx, path, AXS_IO_WRITE | AXS_IO_CREATE, &f);
        if (w->rc != 0)
            break;
        if (io->write_at(io->ctx, f, &i, sizeof i, (uint64_t)i * sizeof i) != (int64_t)sizeof i)
            w->rc = -EIO;
        if (w->rc == 0)
            w->rc = io->sync(io->ctx, f);
        int rc2 = io->close(io->ctx, f);
        if (w->rc == 0)
            w->rc = rc2;
    }
    return NULL;
}

static void test_fault_threads(void **state)
{
    fixture *fx = *state;
    enum { NTHREADS = 4 };
    pthread_t th[NTHREADS];
    worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){fx, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].rc, 0);
    }
    assert_int_equal(fault_io_count(fx->fio, FAULT_IO_ANY), NTHREADS * WORKER_ROUNDS * 4);
    assert_int_equal(fault_io_count(fx->fio, FAULT_IO_SYNC), NTHREADS * WORKER_ROUNDS);
    assert_int_equal(fault_io_pending(fx->fio), NTHREADS); /* creations never dir-synced */
}

/* ---- power loss --------------------------------------------------------------------------- */

static void test_pl_synced_survives(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;

    /* f: 100 synced bytes, then 50 unsynced ones. */
    unsigned char data[150];
    fill_pattern(data, sizeof data, 5);
    axs_file *f = xopen(io, P(fx, "f"), AXS_IO_WRITE | AXS_IO_CREATE);
    xwrite(io, f, data, 100, 0);
    assert_int_equal(io->sync(io->ctx, f), 0);
    assert_int_equal(io->sync_dir(io->ctx, fx->dir), 0);
    xwrite(io, f, data + 100, 50, 100);
    /* h: a durable entry, data never synced: empty after the loss. */
    put(io, P(fx, "h"), "hhh", false, fx->dir);
    /* i: an overwrite inside synced data is undone. */
    put(io, P(fx, "i"), "original", true, fx->dir);
    axs_file *i = xopen(io, P(fx, "i"), AXS_IO_WRITE);
    xwrite(io, i, "OVER", 4, 2);
    /* g: synced data, but its creation was never made durable. */
    put(io, P(fx, "g"), "ggg", true, NULL);
    assert_int_equal(fault_io_pending(fx->fio), 4);

    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    expect_file(P(fx, "f"), data, 100);
    assert_false(exists(P(fx, "g")));
    expect_str_file(P(fx, "h"), "");
    expect_str_file(P(fx, "i"), "original");
    assert_int_equal(fault_io_pending(fx->fio), 0);
    assert_int_equal(io->close(io->ctx, f), -EIO);
    assert_int_equal(io->close(io->ctx, i), -EIO);
}

static void test_pl_preexisting_file(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;

    spit(P(fx, "old"), "before", 6); /* the table has never seen it: taken as durable */
    axs_file *f = xopen(io, P(fx, "old"), AXS_IO_WRITE);
    xwrite(io, f, " and after", 10, 6);
    xclose(io, f);
    spit(P(fx, "old2"), "x", 1); /* truncated by an open: undone too */
    f = xopen(io, P(fx, "old2"), AXS_IO_WRITE | AXS_IO_TRUNCATE);
    xclose(io, f);
    expect_str_file(P(fx, "old2"), "");
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    expect_str_file(P(fx, "old"), "before");
    expect_str_file(P(fx, "old2"), "x");
}

/* Checks one torn-tail outcome: dur[0..dl) is intact; the rest is a prefix of the appended
 * bytes followed by garbage that stays within the page of the cut; the file ends at a page
 * boundary or at the old end. Returns flags: 1 = some appended bytes lost, 2 = garbage seen. */
static int check_torn(const unsigned char *got, size_t len, const unsigned char *cur, size_t dl,
                      size_t cl)
{
    TU_REQUIRE(len >= dl && len <= cl, "torn length %zu outside [%zu, %zu]", len, dl, cl);
    TU_REQUIRE(memcmp(got, cur, dl) == 0, "synced bytes damaged");
    TU_REQUIRE(len == cl || len % 4096 == 0, "torn file ends at %zu, not at a page end", len);
    size_t m = dl;
    while (m < len && got[m] == cur[m])
        m++;
    if (m < len)
        TU_REQUIRE(m / 4096 == (len - 1) / 4096,
                   "garbage at %zu is not in the last page (length %zu)", m, len);
    return (len < cl ? 1 : 0) | (m < len ? 2 : 0);
}

static void test_pl_torn_tail(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    uint64_t seed = tu_seed(__func__);
    const size_t dl = 1000, cl = 1000 + 20000;
    unsigned char *cur = malloc(cl);
    int seen = 0, trials = (int)tu_scaled(200, 40);
    char name[32];

    assert_non_null(cur);
    fill_pattern(cur, cl, 11);
    fault_io_skip_real_sync(fx->fio, true); /* the model alone decides what is durable */
    for (int t = 0; t < trials; t++) {
        snprintf(name, sizeof name, "t%d", t);
        axs_file *f = xopen(io, P(fx, name), AXS_IO_WRITE | AXS_IO_CREATE);
        xwrite(io, f, cur, dl, 0);
        assert_int_equal(io->sync(io->ctx, f), 0);
        assert_int_equal(io->sync_dir(io->ctx, fx->dir), 0);
        for (size_t off = dl; off < cl; off += 5000) /* several unsynced appends */
            xwrite(io, f, cur + off, off + 5000 <= cl ? 5000 : cl - off, off);
        assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_TORN_TAIL, seed + (uint64_t)t), 0);
        size_t len = 0;
        unsigned char *got = slurp(P(fx, name), &len);
        assert_non_null(got);
        seen |= check_torn(got, len, cur, dl, cl);
        free(got);
        assert_int_equal(io->close(io->ctx, f), -EIO);
    }
    TU_REQUIRE(seen == 3, "over %d trials: lost bytes %s, garbage %s", trials,
               (seen & 1) ? "seen" : "never", (seen & 2) ? "seen" : "never");

    /* An overwrite in the synced part plus an append: the changes from the first changed
     * byte on are cut and torn; the bytes before them are untouched. */
    put(io, P(fx, "o"), "0123456789", true, fx->dir);
    axs_file *f = xopen(io, P(fx, "o"), AXS_IO_WRITE);
    xwrite(io, f, "AB", 2, 3);
    xwrite(io, f, "more", 4, 10);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_TORN_TAIL, seed), 0);
    size_t olen = 0;
    unsigned char *o = slurp(P(fx, "o"), &olen);
    assert_non_null(o);
    assert_int_equal(olen, 14); /* the cut is always inside the one page: torn to the end */
    assert_memory_equal(o, "012", 3);
    free(o);
    assert_int_equal(io->close(io->ctx, f), -EIO);

    /* A preallocated file (synced zeros) written in the middle: only changed bytes tear. */
    const size_t cap = 4 * 4096, woff = 100, wlen = 9000;
    unsigned char *pre = calloc(1, cap);
    assert_non_null(pre);
    memcpy(pre + woff, cur, wlen); /* what the file holds before the loss */
    for (int t = 0; t < trials; t++) {
        snprintf(name, sizeof name, "p%d", t);
        f = xopen(io, P(fx, name), AXS_IO_WRITE | AXS_IO_CREATE);
        assert_int_equal(io->truncate(io->ctx, f, cap), 0);
        assert_int_equal(io->sync(io->ctx, f), 0);
        assert_int_equal(io->sync_dir(io->ctx, fx->dir), 0);
        xwrite(io, f, cur, wlen, woff);
        assert_int_equal(
            fault_io_power_loss(fx->fio, FAULT_IO_TORN_TAIL, seed + 1000 + (uint64_t)t), 0);
        size_t len = 0;
        unsigned char *got = slurp(P(fx, name), &len);
        assert_non_null(got);
        assert_int_equal(len, cap);
        size_t m = 0;
        while (m < cap && got[m] == pre[m])
            m++;
        TU_REQUIRE(m >= woff, "byte %zu before the write changed", m);
        /* From the cut m: garbage to the end of m's page (or of the write), zeros after. */
        size_t gend = (m / 4096 + 1) * 4096;
        if (gend > woff + wlen)
            gend = woff + wlen;
        for (size_t j = gend > m ? gend : m; j < cap; j++)
            TU_REQUIRE(got[j] == 0, "byte %zu beyond the torn page is not durable (m=%zu)", j,
                       m);
        free(got);
        assert_int_equal(io->close(io->ctx, f), -EIO);
    }
    free(pre);
    /* A file whose data was never synced: its appended bytes tear too, from nothing. */
    put(io, P(fx, "n"), "", true, fx->dir);
    f = xopen(io, P(fx, "n"), AXS_IO_WRITE);
    xwrite(io, f, cur, 3000, 0);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_TORN_TAIL, seed), 0);
    size_t len = 0;
    unsigned char *got = slurp(P(fx, "n"), &len);
    assert_non_null(got);
    check_torn(got, len, cur, 0, 3000);
    free(got);
    free(cur);
}

static void test_pl_rename(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;

    /* The LevelDB SetCurrentFile pattern, with and without the final directory sync. */
    put(io, P(fx, "CURRENT"), "old", true, fx->dir);
    put(io, P(fx, "tmp"), "new", true, NULL);
    assert_int_equal(io->rename(io->ctx, P(fx, "tmp"), P(fx, "CURRENT")), 0);
    expect_str_file(P(fx, "CURRENT"), "new");
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    expect_str_file(P(fx, "CURRENT"), "old"); /* rename undone, old content back */
    assert_false(exists(P(fx, "tmp")));       /* and tmp's creation was never durable */

    put(io, P(fx, "tmp"), "new", true, NULL);
    assert_int_equal(io->rename(io->ctx, P(fx, "tmp"), P(fx, "CURRENT")), 0);
    assert_int_equal(io->sync_dir(io->ctx, fx->dir), 0);
    assert_int_equal(fault_io_pending(fx->fio), 0);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    expect_str_file(P(fx, "CURRENT"), "new");
    assert_false(exists(P(fx, "tmp")));

    /* A durable source name comes back when the rename is undone. */
    put(io, P(fx, "a"), "AAA", true, fx->dir);
    assert_int_equal(io->rename(io->ctx, P(fx, "a"), P(fx, "b")), 0);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    expect_str_file(P(fx, "a"), "AAA");
    assert_false(exists(P(fx, "b")));

    /* Renamed, then written without a sync: the durable entry keeps the synced content. */
    axs_file *f = xopen(io, P(fx, "a"), AXS_IO_WRITE);
    assert_int_equal(io->rename(io->ctx, P(fx, "a"), P(fx, "c")), 0);
    xwrite(io, f, "ZZZZ", 4, 3);
    assert_int_equal(io->sync_dir(io->ctx, fx->dir), 0);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    assert_false(exists(P(fx, "a")));
    expect_str_file(P(fx, "c"), "AAA");
    assert_int_equal(io->close(io->ctx, f), -EIO);
}

static void test_pl_remove_and_mkdir(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;

    /* An unsynced removal is undone, with the durable content. */
    put(io, P(fx, "x"), "xx", true, fx->dir);
    assert_int_equal(io->remove(io->ctx, P(fx, "x")), 0);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    expect_str_file(P(fx, "x"), "xx");
    assert_int_equal(io->remove(io->ctx, P(fx, "x")), 0);
    assert_int_equal(io->sync_dir(io->ctx, fx->dir), 0);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    assert_false(exists(P(fx, "x")));

    /* A file the table never saw, removed without a directory sync, comes back. */
    spit(P(fx, "ext"), "external", 8);
    assert_int_equal(io->remove(io->ctx, P(fx, "ext")), 0);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    expect_str_file(P(fx, "ext"), "external");

    /* A new directory vanishes, contents and all, unless its parent was synced. */
    assert_int_equal(io->mkdir(io->ctx, P(fx, "db")), 0);
    put(io, P(fx, "db/seg"), "data", true, P(fx, "db"));
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    assert_false(exists(P(fx, "db")));
    assert_int_equal(io->mkdir(io->ctx, P(fx, "db")), 0);
    assert_int_equal(io->sync_dir(io->ctx, fx->dir), 0);
    put(io, P(fx, "db/seg"), "data", true, P(fx, "db"));
    put(io, P(fx, "db/unsynced"), "u", true, NULL);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    expect_str_file(P(fx, "db/seg"), "data");
    assert_false(exists(P(fx, "db/unsynced")));

    /* Removing a durable directory's files and the directory itself: all undone. */
    assert_int_equal(io->remove(io->ctx, P(fx, "db/seg")), 0);
    assert_int_equal(io->sync_dir(io->ctx, P(fx, "db")), 0); /* the file removal is durable */
    assert_int_equal(io->remove(io->ctx, P(fx, "db")), 0);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    int is_dir = 0;
    assert_int_equal(io->stat(io->ctx, P(fx, "db"), &is_dir), 0);
    assert_int_equal(is_dir, 1);
    assert_false(exists(P(fx, "db/seg")));

    /* Relative and unnormalized paths name the same entries. */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(fx->dir), 0);
    put(io, "./db/../rel", "r", true, NULL);
    assert_int_equal(io->sync_dir(io->ctx, fx->dir), 0);
    put(io, "rel2", "r", true, NULL);
    assert_int_equal(io->sync_dir(io->ctx, "db/.."), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    expect_str_file(P(fx, "rel"), "r");
    expect_str_file(P(fx, "rel2"), "r");
}

static void test_pl_dead_handles(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    const void *addr = NULL;
    char buf[8];
    uint64_t size;

    put(io, P(fx, "LOCK"), "", true, fx->dir);
    axs_file *f = xopen(io, P(fx, "LOCK"), AXS_IO_WRITE);
    assert_int_equal(io->lock(io->ctx, f), 0);
    xwrite(io, f, "unsynced", 8, 0);
    assert_int_equal(io->map(io->ctx, f, 4096, &addr), 0);
    axs_file *other = xopen(io, P(fx, "LOCK"), AXS_IO_READ);
    assert_int_equal(io->lock(io->ctx, other), -EWOULDBLOCK);
    xclose(io, other);

    /* A process crash: nothing lost, but every handle is dead and its lock released. */
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_KEEP_UNSYNCED, 0), 0);
    assert_int_equal(io->read_at(io->ctx, f, buf, 8, 0), -EIO);
    assert_int_equal(io->write_at(io->ctx, f, "x", 1, 0), -EIO);
    assert_int_equal(io->sync(io->ctx, f), -EIO);
    assert_int_equal(io->truncate(io->ctx, f, 0), -EIO);
    assert_int_equal(io->size(io->ctx, f, &size), -EIO);
    const void *addr2 = NULL;
    assert_int_equal(io->map(io->ctx, f, 4096, &addr2), -EIO);
    assert_int_equal(io->lock(io->ctx, f), -EIO);
    expect_str_file(P(fx, "LOCK"), "unsynced");
    assert_int_equal(((const char *)addr)[0], 0); /* the dead mapping reads as zeros */
    other = xopen(io, P(fx, "LOCK"), AXS_IO_WRITE);
    assert_int_equal(io->lock(io->ctx, other), 0);
    xclose(io, other);
    assert_int_equal(fault_io_pending(fx->fio), 1);

    /* The unsynced data is still at risk: a later power loss drops it. */
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    expect_str_file(P(fx, "LOCK"), "");
    /* The dead mapping and handle are released by unmap and close, which report -EIO. */
    assert_int_equal(io->unmap(io->ctx, f, addr, 4096), -EIO);
    assert_int_equal(io->close(io->ctx, f), -EIO);
}

/* A test abandons a "database" mid-operation: crash, close everything, power loss, reopen. */
static void test_pl_crash_flow(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;
    unsigned char rec[512];

    fill_pattern(rec, sizeof rec, 9);
    assert_int_equal(io->mkdir(io->ctx, P(fx, "db")), 0);
    assert_int_equal(io->sync_dir(io->ctx, fx->dir), 0);
    axs_file *log = xopen(io, P(fx, "db/log"), AXS_IO_WRITE | AXS_IO_CREATE | AXS_IO_EXCL);
    assert_int_equal(io->sync_dir(io->ctx, P(fx, "db")), 0);
    for (int i = 0; i < 8; i++) { /* 8 records, each synced */
        xwrite(io, log, rec, sizeof rec, (uint64_t)i * sizeof rec);
        assert_int_equal(io->sync(io->ctx, log), 0);
    }
    /* The process dies at the 3rd call from here: a write that never reaches the disk. */
    fault_io_arm(fx->fio, FAULT_IO_ANY, 3, FAULT_IO_EIO, true);
    xwrite(io, log, rec, sizeof rec, 8 * sizeof rec);         /* call 1: reaches the cache */
    xwrite(io, log, rec, sizeof rec, 9 * sizeof rec);         /* call 2: too */
    assert_int_equal(io->write_at(io->ctx, log, rec, sizeof rec, 10 * sizeof rec), -EIO);
    assert_int_equal(io->sync(io->ctx, log), -EIO);
    assert_int_equal(io->close(io->ctx, log), -EIO);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_TORN_TAIL, 77), 0);
    /* Eight synced records survive; records 9 and 10 are torn or gone; the table works. */
    size_t len = 0;
    unsigned char *got = slurp(P(fx, "db/log"), &len);
    assert_non_null(got);
    assert_true(len >= 8 * sizeof rec && len <= 10 * sizeof rec);
    for (int i = 0; i < 8; i++)
        assert_memory_equal(got + (size_t)i * sizeof rec, rec, sizeof rec);
    free(got);
    log = xopen(io, P(fx, "db/log"), AXS_IO_WRITE);
    assert_int_equal(io->lock(io->ctx, log), 0);
    xclose(io, log);
}

/* sync through any handle of a file makes it durable (fdatasync is per file, not per fd). */
static void test_pl_sync_other_handle(void **state)
{
    fixture *fx = *state;
    const axs_io *io = fx->io;

    put(io, P(fx, "f"), "", true, fx->dir);
    axs_file *w = xopen(io, P(fx, "f"), AXS_IO_WRITE);
    axs_file *r = xopen(io, P(fx, "f"), AXS_IO_READ);
    xwrite(io, w, "durable", 7, 0);
    assert_int_equal(io->sync(io->ctx, r), 0);
    xwrite(io, w, " not", 4, 7);
    assert_int_equal(fault_io_power_loss(fx->fio, FAULT_IO_DROP_UNSYNCED, 0), 0);
    expect_str_file(P(fx, "f"), "durable");
    assert_int_equal(io->close(io->ctx, w), -EIO);
    assert_int_equal(io->close(io->ctx, r), -EIO);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_posix_open_errors, setup_posix, teardown),
        cmocka_unit_test_setup_teardown(test_posix_read_write, setup_posix, teardown),
        cmocka_unit_test_setup_teardown(test_posix_truncate_and_flags, setup_posix, teardown),
        cmocka_unit_test_setup_teardown(test_posix_map, setup_posix, teardown),
        cmocka_unit_test_setup_teardown(test_posix_lock, setup_posix, teardown),
        cmocka_unit_test_setup_teardown(test_posix_cloexec, setup_posix, teardown),
        cmocka_unit_test_setup_teardown(test_posix_mkdir_stat, setup_posix, teardown),
        cmocka_unit_test_setup_teardown(test_posix_rename_remove, setup_posix, teardown),
        cmocka_unit_test_setup_teardown(test_posix_list_dir, setup_posix, teardown),
        cmocka_unit_test_setup_teardown(test_posix_sync_dir, setup_posix, teardown),
        /* The fault table must pass the posix tests too: it changes nothing without faults. */
        cmocka_unit_test_setup_teardown(test_posix_open_errors, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_posix_read_write, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_posix_truncate_and_flags, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_posix_map, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_posix_lock, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_posix_mkdir_stat, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_posix_rename_remove, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_posix_list_dir, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_posix_sync_dir, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_posix_sync_dir, setup_fault_nosync, teardown),
        cmocka_unit_test_setup_teardown(test_fault_counters, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_fault_each_kind_fires_at_nth, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_fault_failed_call_has_no_effect, setup_fault,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fault_any_kind, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_fault_sticky_vs_one_shot, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_fault_short_write, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_fault_sync_lost, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_fault_iterate_call_sites, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_fault_crash, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_fault_list_dir_reentrant, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_fault_trace, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_fault_threads, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_pl_synced_survives, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_pl_preexisting_file, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_pl_torn_tail, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_pl_rename, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_pl_remove_and_mkdir, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_pl_dead_handles, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_pl_crash_flow, setup_fault, teardown),
        cmocka_unit_test_setup_teardown(test_pl_sync_other_handle, setup_fault, teardown),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
