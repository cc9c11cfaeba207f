#!/usr/bin/env python3
"""make_corpus.py: writes the seed corpora of the fuzz targets (python3 stdlib only).

    python3 core/tests/fuzz/make_corpus.py [outdir]     # default: corpus/ next to this file

Every seed is built from docs/format.md (fuzz_open), RocksDB's WriteBatch format
(docs/writebatch.md; fuzz_writebatch) or fuzz_ops.c's operation encoding, deterministically,
so the files are reproducible byte for byte. fuzz_checkpoint's seeds are mostly edit scripts
for the checkpoint of the database the target builds itself (fuzz_checkpoint.c), plus a few
raw checkpoints. Existing seed files of the same names are
overwritten; other files in the directories are left alone.
"""
import os
import random
import struct
import sys

# ---- CRC32C (Castagnoli), masked as in docs/format.md ----
_T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _T[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask(c):
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def align8(n):
    return (n + 7) & ~7


# ---- fuzz_open: database files ----
PUT, DELETE, DELETE_RANGE = 1, 2, 3
WRITE, COMPACTED, SEAL = 1, 2, 3


def marker():
    b = b"ALEXSTOR" + struct.pack("<I", 2) + bytes(8)
    return b + struct.pack("<I", mask(crc32c(b)))


def seg_header(number):
    b = b"ALEXSEG\0" + struct.pack("<IIQI", 2, 0, number, 0)
    return b + struct.pack("<I", mask(crc32c(b)))


def entry(etype, key, value=b""):
    body = struct.pack("<BBHII", etype, 0, 0, len(key), len(value)) + key + value
    return struct.pack("<I", mask(crc32c(body))) + body


def record(rtype, seq, entries):
    ents = b"".join(entries)
    length = 24 + len(ents)
    hdr = struct.pack("<IQIB3x", length, seq, len(entries), rtype)
    crcs = 0
    for e in entries:
        crcs = crc32c(e[:4], crcs)
    rec = struct.pack("<I", mask(crc32c(hdr, crcs))) + hdr + ents
    return rec + bytes(align8(length) - length)


class Seg:
    """A segment being built; remembers each PUT's offset for checkpoints."""

    def __init__(self, number):
        self.number = number
        self.data = bytearray(seg_header(number))
        self.locs = {}  # key -> entry offset of its latest PUT

    def add(self, rtype, seq, ops):
        ents = []
        off = len(self.data) + 24
        for op in ops:
            e = entry(*op)
            if op[0] == PUT:
                self.locs[op[1]] = off
            elif op[0] == DELETE:
                self.locs.pop(op[1], None)
            else:
                for k in [k for k in self.locs if op[1] <= k < op[2]]:
                    del self.locs[k]
            ents.append(e)
            off += len(e)
        self.data += record(rtype, seq, ents)
        return seq + (len(ops) if rtype == WRITE else 0)

    def seal(self, seq):
        self.data += record(SEAL, seq, [])


def akey(key):
    return int.from_bytes((key + bytes(8))[:8], "big")


def checkpoint(seg, last_seq, live):
    """A checkpoint with an empty prefix covering all of `seg` (live = {key: loc})."""
    keys = sorted(live)
    table = struct.pack("<QQ", seg.number, len(seg.data))
    hdr = b"ALEXCKPT" + struct.pack("<IIQQQQQI", 2, 0, last_seq, seg.number, len(seg.data),
                                    len(keys), seg.number, 1)
    out = hdr + struct.pack("<I", mask(crc32c(hdr)))
    out += table + struct.pack("<I", mask(crc32c(table)))
    out += b"" + struct.pack("<I", mask(crc32c(b"")))
    for i in range(0, len(keys), 4096):
        blk = b"".join(struct.pack("<QQ", (seg.number << 40) | live[k], akey(k))
                       for k in keys[i:i + 4096])
        out += blk + struct.pack("<I", mask(crc32c(blk)))
    return out


def open_input(mode, files):
    """fuzz_open's input: mode byte, then (kind, u16 length, data) per file."""
    out = bytearray([mode])
    for kind, data in files:
        assert len(data) < 65536
        out += struct.pack("<BH", kind, len(data)) + data
    return bytes(out)


def open_seeds():
    seeds = {}
    s = Seg(1)
    seeds["empty"] = open_input(0, [(0, bytes(s.data))])
    seq = 1
    seq = s.add(WRITE, seq, [(PUT, b"k1", b"hello")])
    seq = s.add(WRITE, seq, [(PUT, b"k2", b"world"), (PUT, b"a", b""), (DELETE, b"k1")])
    seq = s.add(WRITE, seq, [(PUT, b"key\x00\xff", b"v" * 40)])
    seq = s.add(WRITE, seq, [(DELETE_RANGE, b"a", b"k2")])
    seq = s.add(WRITE, seq, [(PUT, b"zz", b"last")])
    seeds["one_segment"] = open_input(0, [(0, bytes(s.data))])
    seeds["one_segment_fixcrc"] = open_input(1, [(0, bytes(s.data))])
    # torn tail: the last record cut short
    seeds["torn_tail"] = open_input(0, [(0, bytes(s.data[:-5]))])
    # corruption in the middle: a flipped byte in the second record's value
    bad = bytearray(s.data)
    bad[32 + 48 + 40] ^= 0x55
    seeds["mid_corrupt"] = open_input(0, [(0, bytes(bad))])

    ck = checkpoint(s, seq - 1, s.locs)
    seeds["with_checkpoint"] = open_input(0, [(0, bytes(s.data)), (3, ck)])

    # two segments: the first sealed, a COMPACTED record in the second
    s1 = Seg(1)
    seq = 1
    seq = s1.add(WRITE, seq, [(PUT, b"a%d" % i, b"x" * i) for i in range(6)])
    s1.seal(seq - 1)
    s2 = Seg(2)
    s2.add(COMPACTED, seq - 1, [(PUT, b"a1", b"x")])
    seq = s2.add(WRITE, seq, [(DELETE, b"a3"), (PUT, b"b", b"bee")])
    seeds["two_segments"] = open_input(0, [(0, bytes(s1.data)), (1, bytes(s2.data))])
    # the same without the seal: a sealed segment that lost its end
    s1u = Seg(1)
    s1u.add(WRITE, 1, [(PUT, b"a%d" % i, b"x" * i) for i in range(6)])
    seeds["unsealed"] = open_input(1, [(0, bytes(s1u.data)), (1, bytes(s2.data))])
    # a gap: segments 1 and 3
    s3 = Seg(3)
    s3.add(WRITE, seq, [(PUT, b"c", b"c")])
    seeds["gap"] = open_input(1, [(0, bytes(s1.data)), (2, bytes(s3.data))])
    seeds["no_marker"] = open_input(2, [(0, bytes(s.data))])
    return seeds


# ---- fuzz_checkpoint: edit scripts (fuzz_checkpoint.c, apply_edits) and raw checkpoints ----
def ckpt_raw(pos_seg, pos_off, min_live=1, version=2, table=(), magic=b"ALEXCKPT"):
    """A checkpoint without keys (empty prefix) whose position is (pos_seg, pos_off)."""
    tab = b"".join(struct.pack("<QQ", n, live) for n, live in table)
    hdr = magic + struct.pack("<IIQQQQQI", version, 0, 0, pos_seg, pos_off, 0, min_live,
                              len(table))
    out = hdr + struct.pack("<I", mask(crc32c(hdr)))
    out += tab + struct.pack("<I", mask(crc32c(tab)))
    return out + struct.pack("<I", mask(crc32c(b"")))


def ckpt_seeds():
    u16 = lambda v: struct.pack("<H", v)  # noqa: E731
    edit = lambda *ops: bytes([1]) + b"".join(ops)  # noqa: E731
    return {
        # raw (mode 0): keyless checkpoints, checksums fixed by the target
        "raw_empty_at_start": bytes([0]) + ckpt_raw(1, 32),
        "raw_past_the_log": bytes([0]) + ckpt_raw(3, 1 << 20, table=[(1, 0), (2, 0), (3, 0)]),
        "raw_missing_segment": bytes([0]) + ckpt_raw(1, 32, table=[(9, 100)]),
        "raw_newer_version": bytes([0]) + ckpt_raw(1, 32, version=3),
        "raw_bad_magic": bytes([0]) + ckpt_raw(1, 32, magic=b"ALEXCKPX"),
        "raw_header_only": bytes([0]) + ckpt_raw(1, 32)[:64],
        # edit scripts (mode 1; 0x11 also compacts after the read-write opens)
        "genuine": edit(),
        "genuine_compact": bytes([0x11]),
        "stale_value": edit(bytes([6]) + u16(17) + bytes([0]), bytes([6]) + u16(40) + bytes([1])),
        "other_keys_record": edit(bytes([1]) + u16(5) + bytes([1]) + u16(300)),
        "other_keys_location": edit(bytes([1]) + u16(5) + bytes([0]) + u16(301)),
        "wrong_akey": edit(bytes([2]) + u16(9) + bytes([0, 1])),
        "location_off_by_8": edit(bytes([3]) + u16(9) + bytes([0, 8])),
        "pair_removed": edit(bytes([4]) + u16(100)),
        "pair_duplicated": edit(bytes([5]) + u16(100) + bytes([1])),
        "pairs_swapped": edit(bytes([7]) + u16(3) + u16(200)),
        "long_keys_swapped": edit(bytes([7]) + u16(7) + u16(8)),
        "live_bytes_wrong": edit(bytes([8]) + u16(0) + bytes([0, 1, 2, 0])),
        "table_entry_added": edit(bytes([9]) + u16(0) + bytes([1, 7, 5, 0])),
        "table_entry_removed": edit(bytes([9]) + u16(0) + bytes([0])),
        "prefix_shorter": edit(bytes([10]) + u16(0) + bytes([0])),
        "prefix_shorter_stale_akeys": edit(bytes([10]) + u16(0) + bytes([0x80])),
        "prefix_changed": edit(bytes([10]) + u16(0) + bytes([2, 0, ord("x")])),
        "deleted_key_back": edit(bytes([11]) + u16(0) + u16(0) + bytes([0])),
        "older_position": edit(bytes([12]) + u16(0) + u16(20) + bytes([1])),
        "older_position_kept_pairs": edit(bytes([12]) + u16(0) + u16(20) + bytes([0])),
        "first_pairs_only": edit(bytes([13]) + u16(50)),
        "byte_flipped": edit(bytes([14]) + u16(0) + u16(70) + bytes([0x10])),
        "truncated": edit(bytes([15]) + u16(0) + bytes([1]) + u16(1000)),
        "extended": edit(bytes([15]) + u16(0) + bytes([0, 16])),
        "min_live_raised": edit(bytes([0]) + u16(0) + bytes([6, 1, 2])),
        "min_live_raised_older_position": edit(bytes([0]) + u16(0) + bytes([6, 1, 2]),
                                               bytes([12]) + u16(0) + u16(40) + bytes([1])),
        "position_mid_record": edit(bytes([0]) + u16(0) + bytes([4, 0, 0xf8])),
        "position_other_segment": edit(bytes([0]) + u16(0) + bytes([3, 0, 0xff])),
        "num_keys_wrong": edit(bytes([0]) + u16(0) + bytes([5, 0, 1])),
        "no_crc_fix": bytes([0x21, 14]) + u16(0) + u16(100) + bytes([1]),
    }


# ---- fuzz_writebatch: RocksDB WriteBatch reps ----
def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def sl(b):
    return varint(len(b)) + b


def rep(seq, count, recs):
    return struct.pack("<QI", seq, count) + b"".join(recs)


def wb_seeds():
    return {
        "empty": rep(0, 0, []),
        "put": rep(7, 1, [b"\x01" + sl(b"key") + sl(b"value")]),
        "mixed": rep(1, 5, [b"\x01" + sl(b"a") + sl(b"1"), b"\x00" + sl(b"b"),
                            b"\x07" + sl(b"c"), b"\x02" + sl(b"d") + sl(b"op"),
                            b"\x03" + sl(b"blob"), b"\x0f" + sl(b"e") + sl(b"f")]),
        "cf": rep(0, 2, [b"\x05" + varint(3) + sl(b"k") + sl(b"v"),
                         b"\x04" + varint(300) + sl(b"k")]),
        "markers": rep(0, 1, [b"\x09", b"\x01" + sl(b"k") + sl(b"v"), b"\x0a" + sl(b"xid"),
                              b"\x0d", b"\x15" + sl(b"ts") + sl(b"xid")]),
        "bad_count": rep(0, 3, [b"\x01" + sl(b"k") + sl(b"v")]),
        "truncated": rep(0, 1, [b"\x01" + sl(b"key") + varint(100) + b"short"]),
        "long_varint": rep(0, 1, [b"\x01" + b"\x83\x80\x80\x80\x00abc" + sl(b"")]),
        "short": b"\x01\x02\x03",
    }


# ---- fuzz_ops: operation streams ----
def ops_seeds():
    seeds = {}

    def key(rng):
        n = rng.randrange(5)
        return bytes([n]) + bytes(rng.randrange(4) for _ in range(n))

    for name, seed, length, weights in [
        ("puts_gets", 1, 300, [4, 4, 4, 1, 0, 0, 4, 1, 0, 0, 0, 0]),
        ("deletes_ranges", 2, 400, [3, 3, 3, 3, 3, 1, 2, 1, 0, 0, 0, 0]),
        ("batches_snapshots", 3, 500, [2, 2, 2, 1, 1, 3, 2, 2, 2, 0, 0, 0]),
        ("reopen_compact", 4, 600, [3, 3, 3, 2, 1, 1, 2, 1, 1, 2, 2, 1]),
        ("big_values", 5, 400, [0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0]),
    ]:
        rng = random.Random(seed)
        out = bytearray()
        while len(out) < length:
            op = rng.choices(range(12), weights)[0]
            if name == "big_values" and rng.random() < 0.5:
                op = 0
            out.append(op)
            if op <= 2:
                out += key(rng)
                big = name == "big_values" or rng.random() < 0.1
                out.append(0x80 | rng.randrange(128) if big else rng.randrange(64))
            elif op == 3 or op == 6:
                out += key(rng)
            elif op == 4:
                out += key(rng) + key(rng)
            elif op == 5:
                n = rng.randrange(8)
                out.append(n)
                for _ in range(n + 1):
                    t = rng.randrange(4)
                    out.append(t)
                    out += key(rng)
                    if t <= 1:
                        out.append(rng.randrange(64))
                    elif t == 3:
                        out += key(rng)
            elif op == 7:
                out += key(rng)
            elif op == 9:
                out.append(rng.randrange(4))
                out += key(rng)
            elif op == 10:
                a = rng.randrange(8)
                out.append(a)
                if not a & 1:
                    out += key(rng) + key(rng)
        seeds[name] = bytes(out)
    return seeds


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    total = 0
    for target, seeds in [("fuzz_open", open_seeds()), ("fuzz_writebatch", wb_seeds()),
                          ("fuzz_ops", ops_seeds()), ("fuzz_checkpoint", ckpt_seeds())]:
        d = os.path.join(outdir, target)
        os.makedirs(d, exist_ok=True)
        for name, data in sorted(seeds.items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
            total += len(data)
        print(f"{target}: {len(seeds)} seeds")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
