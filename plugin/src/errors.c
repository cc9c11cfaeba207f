/*
 * errors.c: the plugin's one place for turning failures into RocksDB's errptr messages.
 *
 * RocksDB's convention (c.h): a function that can fail takes char **errptr; on failure it
 * frees *errptr and stores a fresh malloc'd message; on success it leaves *errptr as it was.
 * Messages start with the name of RocksDB's Status code ("IO error: ", "Corruption: ", ...),
 * which programs match on.
 */
#define _GNU_SOURCE /* vasprintf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capi_internal.h"

void axp_error(char **errptr, const char *fmt, ...)
{
    if (!errptr)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    free(*errptr);
    /* Out of memory while reporting an error: still report one (a static string cannot be
     * handed out, since callers free() it). */
    *errptr = n < 0 ? strdup("IO error: out of memory") : msg;
}

/* RocksDB's Status prefix for a core error code. */
static const char *status_prefix(int code)
{
    switch (code) {
    case AXS_EINVAL:
    case AXS_EEXIST:
    case AXS_ENOTFOUND:
        return "Invalid argument: ";
    case AXS_ECORRUPT:
    case AXS_ENOTDB:
        return "Corruption: ";
    case AXS_ENOTSUP:
    case AXS_EREADONLY:
        return "Not implemented: ";
    case AXS_EBUSY:
    case AXS_ENOMEM:
    case AXS_EIO:
    case AXS_ENOSPC:
    default:
        return "IO error: ";
    }
}

void axp_error_core(char **errptr, int code, axs_db *db, const char *what)
{
    static const char *const known[] = {"Invalid argument: ", "Corruption: ", "IO error: ",
                                        "Not implemented: ", "Not supported: ", "Not found: "};
    const char *prefix = status_prefix(code);
    const char *detail = db ? axs_last_error(db) : "";
    if (!detail[0])
        detail = axs_strerror(code);
    /* The core's detailed messages often start with a Status name already: keep it, once. */
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        size_t n = strlen(known[i]);
        if (strncmp(detail, known[i], n) == 0) {
            prefix = i == 4 ? "Not implemented: " : known[i];
            detail += n;
            break;
        }
    }
    if (what)
        axp_error(errptr, "%s%s: %s", prefix, what, detail);
    else
        axp_error(errptr, "%s%s", prefix, detail);
}
