/*
 * bench_util.c: the benchmarks' shared plumbing (bench_util.h). The machine's description
 * comes from /proc, uname, sysconf and statfs.
 */
#define _GNU_SOURCE
#include "bench_util.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

const char *bench_program = "bench";

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", bench_program);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory (%zu bytes)", n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

uint8_t *bench_value_pool(size_t pieces, size_t size, uint64_t seed)
{
    uint8_t *pool = xmalloc(pieces * size);
    for (size_t p = 0; p < pieces; p++) {
        uint8_t *v = pool + p * size;
        for (size_t i = 0; i < size / 2; i++)
            v[i] = (uint8_t)(' ' + rng_next(&seed) % 95);
        memcpy(v + size / 2, v, size - size / 2);
    }
    return pool;
}

uint64_t *bench_permutation(uint64_t n, uint64_t seed)
{
    uint64_t *p = xmalloc(n * sizeof *p);
    for (uint64_t i = 0; i < n; i++)
        p[i] = i;
    for (uint64_t i = n ? n - 1 : 0; i > 0; i--) {
        uint64_t j = rng_next(&seed) % (i + 1);
        uint64_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    return p;
}

static int rm_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (type == FTW_DP) ? rmdir(path) : unlink(path);
    if (rc)
        fprintf(stderr, "%s: removing %s: %s\n", bench_program, path, strerror(errno));
    return 0;
}

void remove_tree(const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) != 0)
        return;
    nftw(dir, rm_visit, 16, FTW_DEPTH | FTW_PHYS);
}

static void read_cpu_model(char *out, size_t len)
{
    snprintf(out, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                p[strcspn(p, "\n")] = 0;
                snprintf(out, len, "%s", p);
            }
            break;
        }
    }
    fclose(f);
}

/* Names of the file systems a benchmark is likely to meet (statfs magic numbers). */
static const char *fs_name(long type)
{
    switch ((unsigned long)type) {
    case 0xEF53: return "ext2/3/4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794c7630: return "overlayfs";
    case 0x2FC12FC1: return "zfs";
    case 0xF2F52010: return "f2fs";
    default: return NULL;
    }
}

void bench_env_gather(bench_env *e, const char *dir, int argc, char **argv)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(e->date, sizeof e->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    read_cpu_model(e->cpu, sizeof e->cpu);
    e->cores = sysconf(_SC_NPROCESSORS_ONLN);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(e->kernel, sizeof e->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    else
        snprintf(e->kernel, sizeof e->kernel, "unknown");
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    e->mem_mib = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize >> 20 : 0;
    struct statfs sf;
    const char *name = statfs(dir, &sf) == 0 ? fs_name((long)sf.f_type) : "unknown";
    if (name)
        snprintf(e->fs, sizeof e->fs, "%s", name);
    else
        snprintf(e->fs, sizeof e->fs, "0x%lx", (unsigned long)sf.f_type);
    snprintf(e->loadavg, sizeof e->loadavg, "unknown");
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fgets(e->loadavg, sizeof e->loadavg, la))
            e->loadavg[strcspn(e->loadavg, "\n")] = 0;
        fclose(la);
    }
    size_t pos = 0;
    e->cmdline[0] = 0;
    for (int i = 0; i < argc && pos < sizeof e->cmdline; i++) {
        int n = snprintf(e->cmdline + pos, sizeof e->cmdline - pos, "%s%s", i ? " " : "",
                         argv[i]);
        if (n < 0)
            break;
        pos += (size_t)n;
    }
}
