/*
 * fuzz_dir.h: the scratch directory a fuzz target's databases live in (fuzz_open, fuzz_ops,
 * fuzz_checkpoint).
 * One per process, made under $TMPDIR (or /tmp) at LLVMFuzzerInitialize and removed at exit.
 */
#ifndef ALEXSTORAGE_FUZZ_DIR_H
#define ALEXSTORAGE_FUZZ_DIR_H

extern char fuzz_dir[256];

/* Creates fuzz_dir as "<TMPDIR>/<name>.XXXXXX" and arranges its removal at exit; aborts with
 * a message on failure. */
void fuzz_dir_create(const char *name);
/* Removes every file in fuzz_dir (databases are flat directories). */
void fuzz_dir_clean(void);

#endif /* ALEXSTORAGE_FUZZ_DIR_H */
