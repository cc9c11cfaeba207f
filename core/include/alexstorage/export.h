/*
 * export.h: symbol visibility for the AlexStorage core library.
 *
 * The library is compiled with -fvisibility=hidden; only declarations marked AXS_EXPORT are
 * part of the shared object's ABI. Everything else stays internal to the library.
 */
#ifndef ALEXSTORAGE_EXPORT_H
#define ALEXSTORAGE_EXPORT_H

#if defined(_WIN32)
#define AXS_EXPORT
#elif defined(__GNUC__)
#define AXS_EXPORT __attribute__((visibility("default")))
#else
#define AXS_EXPORT
#endif

#endif /* ALEXSTORAGE_EXPORT_H */
