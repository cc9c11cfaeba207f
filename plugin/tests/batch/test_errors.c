/*
 * test_errors.c: a test-local axp_error() so the batch tests can build plugin/src/writebatch.c
 * alone, without the rest of the plugin (plugin/src/errors.c has the real one). Same contract:
 * free(*errptr), store a fresh malloc'd message; errptr NULL drops it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "capi_internal.h"

void axp_error(char **errptr, const char *fmt, ...) {
    if (!errptr)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (msg) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    free(*errptr);
    *errptr = msg;
}
