/*
 * fuzz_dir.c: the fuzz targets' scratch directory (fuzz_dir.h).
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "fuzz_dir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char fuzz_dir[256];

static void fuzz_dir_fail(const char *what)
{
    fprintf(stderr, "fuzz: %s (%s)\n", what, fuzz_dir);
    abort();
}

void fuzz_dir_clean(void)
{
    DIR *d = opendir(fuzz_dir);
    if (!d)
        fuzz_dir_fail("opendir");
    struct dirent *de;
    char path[512];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", fuzz_dir, de->d_name);
        unlink(path);
    }
    closedir(d);
}

static void fuzz_dir_remove(void)
{
    if (fuzz_dir[0]) {
        fuzz_dir_clean();
        rmdir(fuzz_dir);
    }
}

void fuzz_dir_create(const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp(fuzz_dir))
        fuzz_dir_fail("mkdtemp");
    atexit(fuzz_dir_remove);
}
