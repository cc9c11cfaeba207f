/*
 * test_format.c: unit tests of format.c (entries, records, segment headers, the marker,
 * checksums) and of log.c's recovery scan (the torn-tail rule, the seal rule), on bytes built
 * in memory. docs/format.md is the reference every expectation here comes from.
 */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "log.h"

#include "alexstorage/db.h"

/* CRC32C of "123456789" is 0xE3069283 (the standard check value). */
static void test_crc32c_check_value(void **state)
{
    (void)state;
    assert_int_equal(fmt_crc32c("123456789", 9), 0xE3069283u);
    uint32_t a = fmt_crc32c_extend(fmt_crc32c("1234", 4), "56789", 5);
    assert_int_equal(a, 0xE3069283u);
    assert_int_not_equal(fmt_mask_crc(0xE3069283u), 0xE3069283u);
}

static void test_entry_roundtrip_and_rejects(void **state)
{
    (void)state;
    uint8_t buf[256];
    uint32_t crc = fmt_entry_encode(buf, FMT_ENTRY_PUT, 0, "key", 3, "value", 5);
    fmt_entry e;
    assert_int_equal(fmt_entry_decode(buf, fmt_entry_size(3, 5), true, &e), 0);
    assert_int_equal(e.type, FMT_ENTRY_PUT);
    assert_int_equal(e.klen, 3);
    assert_int_equal(e.vlen_stored, 5);
    assert_memory_equal(e.key, "key", 3);
    assert_memory_equal(e.value, "value", 5);
    assert_int_equal(e.crc_stored, crc);
    /* Too few readable bytes, at every length short of the entry. */
    for (uint64_t avail = 0; avail < fmt_entry_size(3, 5); avail++)
        assert_int_not_equal(fmt_entry_decode(buf, avail, false, &e), 0);
    /* Every single-bit flip is caught by the CRC (or the field checks). */
    for (size_t i = 0; i < fmt_entry_size(3, 5); i++)
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            assert_int_not_equal(fmt_entry_decode(buf, sizeof buf, true, &e), 0);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    /* Unknown type, unknown flag bits, non-zero reserved bytes: rejected even unverified. */
    uint8_t bad[64];
    memcpy(bad, buf, sizeof bad);
    bad[4] = 9;
    assert_int_not_equal(fmt_entry_decode(bad, sizeof bad, false, &e), 0);
    memcpy(bad, buf, sizeof bad);
    bad[5] = 0x80;
    assert_int_not_equal(fmt_entry_decode(bad, sizeof bad, false, &e), 0);
    memcpy(bad, buf, sizeof bad);
    bad[6] = 1;
    assert_int_not_equal(fmt_entry_decode(bad, sizeof bad, false, &e), 0);
    /* A DELETE carries no value. */
    fmt_entry_encode(bad, FMT_ENTRY_DELETE, 0, "k", 1, NULL, 0);
    assert_int_equal(fmt_entry_decode(bad, fmt_entry_size(1, 0), true, &e), 0);
    fmt_put32(bad + 12, 1);
    assert_int_not_equal(fmt_entry_decode(bad, sizeof bad, false, &e), 0);
    /* Empty key and empty value are valid. */
    fmt_entry_encode(bad, FMT_ENTRY_PUT, 0, NULL, 0, NULL, 0);
    assert_int_equal(fmt_entry_decode(bad, FMT_ENTRY_HEADER_SIZE, true, &e), 0);
    assert_int_equal(e.klen + e.vlen_stored, 0);
}

/* Builds a WRITE record of `count` puts at dst; returns its length (without padding). */
static uint32_t build_record(uint8_t *dst, uint32_t count, uint64_t seq)
{
    uint32_t len = FMT_RECORD_HEADER_SIZE, crcs = 0;
    for (uint32_t i = 0; i < count; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%u", i);
        fmt_entry_encode(dst + len, FMT_ENTRY_PUT, 0, k, (uint32_t)strlen(k), "v", 1);
        crcs = fmt_crc32c_extend(crcs, dst + len, 4);
        len += (uint32_t)fmt_entry_size((uint32_t)strlen(k), 1);
    }
    fmt_record_header_encode(dst, FMT_RECORD_WRITE, count, seq, len, crcs);
    return len;
}

static void test_record_validate(void **state)
{
    (void)state;
    uint8_t buf[512];
    memset(buf, 0, sizeof buf);
    uint32_t len = build_record(buf, 3, 42);
    fmt_record r;
    assert_int_equal(fmt_record_validate(buf, len, &r), 0);
    assert_int_equal(r.count, 3);
    assert_int_equal(r.sequence, 42);
    assert_int_equal(r.length, len);
    /* Cut anywhere: invalid. Any bit flipped: invalid. */
    for (uint32_t cut = 0; cut < len; cut++)
        assert_int_not_equal(fmt_record_validate(buf, cut, &r), 0);
    for (uint32_t i = 0; i < len; i++) {
        buf[i] ^= 0x10;
        assert_int_not_equal(fmt_record_validate(buf, len, &r), 0);
        buf[i] ^= 0x10;
    }
    /* A WRITE record with no entries is invalid; a SEAL is exactly 24 bytes with none. */
    uint8_t seal[FMT_RECORD_HEADER_SIZE];
    fmt_record_header_encode(seal, FMT_RECORD_SEAL, 0, 7, sizeof seal, 0);
    assert_int_equal(fmt_record_validate(seal, sizeof seal, &r), 0);
    assert_int_equal(r.type, FMT_RECORD_SEAL);
    fmt_record_header_encode(seal, FMT_RECORD_WRITE, 0, 7, sizeof seal, 0);
    assert_int_not_equal(fmt_record_validate(seal, sizeof seal, &r), 0);
    /* All-zero bytes (never written) are not a record. */
    uint8_t zero[64] = {0};
    assert_int_not_equal(fmt_record_validate(zero, sizeof zero, &r), 0);
}

static void test_segment_header_and_marker(void **state)
{
    (void)state;
    uint8_t h[FMT_SEG_HEADER_SIZE];
    fmt_segment_header_encode(h, 17);
    assert_int_equal(fmt_segment_header_check(h, sizeof h, 17), 0);
    assert_int_equal(fmt_segment_header_check(h, sizeof h, 18), -1); /* wrong file */
    assert_int_equal(fmt_segment_header_check(h, sizeof h - 1, 17), -1);
    /* A newer version (with a good checksum) is reported as such, not as corruption. */
    fmt_put32(h + 8, FMT_VERSION + 1);
    fmt_put32(h + 28, fmt_mask_crc(fmt_crc32c(h, 28)));
    assert_int_equal(fmt_segment_header_check(h, sizeof h, 17), -2);
    uint8_t m[FMT_MARKER_SIZE];
    fmt_marker_encode(m);
    assert_int_equal(fmt_marker_check(m, sizeof m), 0);
    assert_int_equal(fmt_marker_check(m, sizeof m - 1), -1);
    m[3] ^= 1;
    assert_int_equal(fmt_marker_check(m, sizeof m), -1);
    m[3] ^= 1;
    fmt_put32(m + 8, FMT_VERSION + 1);
    fmt_put32(m + 20, fmt_mask_crc(fmt_crc32c(m, 20)));
    assert_int_equal(fmt_marker_check(m, sizeof m), -2);
}

/* A synthetic segment in memory: header, then `nrec` records of 2 entries, optionally sealed. */
typedef struct synth {
    uint8_t bytes[8192];
    uint64_t record_off[32];
    log_segment seg;
} synth;

static void synth_build(synth *s, int nrec, bool seal)
{
    memset(s, 0, sizeof *s);
    fmt_segment_header_encode(s->bytes, 1);
    uint64_t off = FMT_SEG_HEADER_SIZE;
    for (int i = 0; i < nrec; i++) {
        s->record_off[i] = off;
        off += fmt_align(build_record(s->bytes + off, 2, (uint64_t)i * 2 + 1));
    }
    if (seal) {
        fmt_record_header_encode(s->bytes + off, FMT_RECORD_SEAL, 0, 99, FMT_RECORD_HEADER_SIZE,
                                 0);
        off += FMT_RECORD_HEADER_SIZE;
    }
    s->seg.number = 1;
    s->seg.map = s->bytes;
    s->seg.size = off;
    s->seg.capacity = sizeof s->bytes;
}

static void test_scan_clean_and_sealed(void **state)
{
    (void)state;
    synth *s = malloc(sizeof *s);
    synth_build(s, 5, true);
    log_scan_result res;
    assert_int_equal(log_scan(&s->seg, 0, false, true, NULL, NULL, &res), 0);
    assert_int_equal(res.records, 6);
    assert_true(res.sealed);
    assert_false(res.torn_tail);
    assert_int_equal(res.valid_end, s->seg.size);
    /* Starting at the end (a checkpoint's position) still sees the seal. */
    assert_int_equal(log_scan(&s->seg, s->seg.size, false, true, NULL, NULL, &res), 0);
    assert_true(res.sealed);
    free(s);
}

static void test_scan_torn_tail_only_at_the_end(void **state)
{
    (void)state;
    synth *s = malloc(sizeof *s);
    log_scan_result res;
    /* Cut the last record anywhere: in the last segment that is a torn tail, dropped. */
    synth_build(s, 5, false);
    uint64_t full = s->seg.size, last = s->record_off[4];
    fmt_record r;
    assert_int_equal(fmt_record_validate(s->bytes + last, full - last, &r), 0);
    for (uint64_t cut = last + 1; cut < full; cut++) {
        s->seg.size = cut;
        assert_int_equal(log_scan(&s->seg, 0, true, true, NULL, NULL, &res), 0);
        assert_true(res.torn_tail);
        if (cut < last + r.length) { /* the record itself is cut: dropped */
            assert_int_equal(res.valid_end, last);
            assert_int_equal(res.records, 4);
        } else { /* only its padding is cut: kept, and the end restored to alignment */
            assert_int_equal(res.valid_end, full);
            assert_int_equal(res.records, 5);
        }
    }
    /* The same cut in a segment that is not the last one is not a torn tail: with a
     * following record damaged in the middle, paranoid checks report corruption. */
    synth_build(s, 5, false);
    s->bytes[s->record_off[2] + 30] ^= 0x55; /* inside record 2's first entry */
    assert_int_equal(log_scan(&s->seg, 0, true, true, NULL, NULL, &res), AXS_ECORRUPT);
    assert_int_equal(res.bad_offset, s->record_off[2]);
    /* Without paranoid checks the damaged record is skipped and counted. */
    assert_int_equal(log_scan(&s->seg, 0, true, false, NULL, NULL, &res), 0);
    assert_int_equal(res.skipped, 1);
    assert_int_equal(res.records, 4);
    free(s);
}

static void test_scan_bad_header(void **state)
{
    (void)state;
    synth *s = malloc(sizeof *s);
    log_scan_result res;
    synth_build(s, 2, true);
    s->bytes[0] ^= 1;
    assert_int_equal(log_scan(&s->seg, 0, false, true, NULL, NULL, &res), AXS_ECORRUPT);
    /* A last segment cut inside its header is an empty torn tail. */
    synth_build(s, 2, false);
    s->seg.size = FMT_SEG_HEADER_SIZE - 5;
    assert_int_equal(log_scan(&s->seg, 0, true, true, NULL, NULL, &res), 0);
    assert_true(res.torn_tail);
    assert_int_equal(res.valid_end, 0);
    free(s);
}

static void test_segment_names(void **state)
{
    (void)state;
    uint64_t n;
    assert_true(log_parse_segment_name("0000000042.seg", &n));
    assert_int_equal(n, 42);
    assert_false(log_parse_segment_name("000000042.seg", &n));
    assert_false(log_parse_segment_name("00000000x2.seg", &n));
    assert_false(log_parse_segment_name("0000000042.sst", &n));
    char p[64];
    log_segment_path(p, sizeof p, "d", 7);
    assert_string_equal(p, "d/0000000007.seg");
    assert_int_equal(fmt_loc_segment(fmt_loc(5, 1234)), 5);
    assert_int_equal(fmt_loc_offset(fmt_loc(5, 1234)), 1234);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_check_value),
        cmocka_unit_test(test_entry_roundtrip_and_rejects),
        cmocka_unit_test(test_record_validate),
        cmocka_unit_test(test_segment_header_and_marker),
        cmocka_unit_test(test_scan_clean_and_sealed),
        cmocka_unit_test(test_scan_torn_tail_only_at_the_end),
        cmocka_unit_test(test_scan_bad_header),
        cmocka_unit_test(test_segment_names),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
