/*
 * fuzz_crc.c: checksum repair for fuzzed database files (fuzz_crc.h).
 */
#include "fuzz_crc.h"

#include "format.h"

void fuzz_fix_checkpoint_crcs(uint8_t *p, size_t n)
{
    if (n < FMT_CKPT_HEADER_SIZE)
        return;
    fmt_put32(p + 60, fmt_mask_crc(fmt_crc32c(p, 60)));
    uint64_t plen = fmt_get32(p + 12), nkeys = fmt_get64(p + 40), nseg = fmt_get32(p + 56);
    size_t off = FMT_CKPT_HEADER_SIZE;
    if (nseg > (n - off) / 16 || 16 * nseg + 4 > n - off)
        return;
    fmt_put32(p + off + 16 * nseg, fmt_mask_crc(fmt_crc32c(p + off, 16 * (size_t)nseg)));
    off += 16 * (size_t)nseg + 4;
    if (plen + 4 > n - off)
        return;
    fmt_put32(p + off + plen, fmt_mask_crc(fmt_crc32c(p + off, (size_t)plen)));
    off += (size_t)plen + 4;
    while (nkeys > 0) {
        uint64_t nb = nkeys < FMT_CKPT_BLOCK_LOCS ? nkeys : FMT_CKPT_BLOCK_LOCS;
        if (16 * nb + 4 > n - off)
            return;
        fmt_put32(p + off + 16 * nb, fmt_mask_crc(fmt_crc32c(p + off, 16 * (size_t)nb)));
        off += 16 * (size_t)nb + 4;
        nkeys -= nb;
    }
}
