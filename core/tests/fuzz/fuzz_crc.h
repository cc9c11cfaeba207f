/*
 * fuzz_crc.h: checksum repair for fuzzed database files (fuzz_open, fuzz_checkpoint), so that
 * damaged bytes get past the CRCs and reach the parsing behind them.
 */
#ifndef ALEXSTORAGE_FUZZ_CRC_H
#define ALEXSTORAGE_FUZZ_CRC_H

#include <stddef.h>
#include <stdint.h>

/* Recomputes every checksum of the checkpoint file p[0..n) from what its header says (segment
 * count, prefix length, key count), as far as the bytes reach (docs/format.md, "Checkpoint
 * file"). */
void fuzz_fix_checkpoint_crcs(uint8_t *p, size_t n);

#endif /* ALEXSTORAGE_FUZZ_CRC_H */
