#!/usr/bin/env python3
"""fidelity.py: alex_db_bench reproduces real db_bench's counts, and every store agrees.

Cases (one CTest test each, db_bench_ext/tests/CMakeLists.txt):
  vs_db_bench <flag set>   --store=rocksdb against Debian's real db_bench (rocksdb-tools), same
                           flags and seed: every result line must agree on the benchmark name,
                           the number of operations and the message ("(X of Y found)", the
                           reads/writes/found of readrandomwriterandom, "(N ops)" of fillsync).
                           The keys each benchmark touches follow from the seed, so equal counts
                           mean equal key streams.
  same_counts <store>      the same single-threaded workload on <store>: the counts must equal
                           real db_bench's (a store that lost or invented a key would differ).
  same_data                fillrandom then overwrite with odd sizes and compression_ratio, once
                           by real db_bench and once by --store=rocksdb: `ldb scan` of the two
                           databases prints the same keys with the same values (the value
                           generator and the key stream are db_bench's, byte for byte).
  output                   --histogram and --json: the histogram block has db_bench's shape and
                           its Count matches the operations; the JSON parses and its counters
                           match the text.
  threads <store>          readwhilewriting and readrandomwriterandom with several threads on
                           <store>: every reader does its reads, the writer stops when they are
                           done, nothing fails (under TSan: no data race in driver or store).

Usage: fidelity.py --driver PATH [--db_bench PATH] CASE [ARG]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Single-threaded sequences whose counts are deterministic for a given seed. Each flag set
# exercises different code paths: batch sizes, key/value sizes, --reads/--writes/--deletes.
FLAG_SETS = {
    "basic": [
        "--benchmarks=fillseq,readrandom,fillbatch,readrandom,filluniquerandom,readrandom,"
        "overwrite,readrandomwriterandom,seekrandom,deleteseq,readseq,fillrandom,deleterandom,"
        "readreverse,updaterandom,readrandom,fillsync,readseq",
        "--num=3000", "--seed=12345", "--readwritepercent=70", "--seek_nexts=5",
        "--batch_size=3", "--deletes=1000", "--reads=2000",
    ],
    "sizes": [
        "--benchmarks=fillrandom,readrandom,readrandomwriterandom,readseq,seekrandom,"
        "deleterandom,readrandom,updaterandom,readreverse",
        "--num=2500", "--seed=777", "--key_size=20", "--value_size=400", "--batch_size=7",
        "--seek_nexts=10", "--readwritepercent=80", "--reads=1500", "--writes=2000",
    ],
    "short_keys": [
        "--benchmarks=fillrandom,readrandom,readseq,deleterandom,readrandom",
        "--num=4000", "--seed=99", "--key_size=8", "--value_size=10",
    ],
    # Several threads: only workloads whose result does not depend on the interleaving.
    "threads": [
        "--benchmarks=fillseq,readrandom,seekrandom,readseq,readreverse",
        "--num=3000", "--seed=4242", "--threads=3", "--seek_nexts=3",
    ],
}

RESULT = re.compile(r"^(\S+)\s*:\s+[0-9.]+ micros/op \d+ ops/sec [0-9.]+ seconds (\d+) operations;"
                    r"(?:\s+[0-9.]+ MB/s)?\s*(.*)$")


def result_lines(text):
    """(name, operations, message) of every db_bench result line."""
    out = []
    for line in text.splitlines():
        m = RESULT.match(line)
        if m:
            out.append((m.group(1), int(m.group(2)), m.group(3).strip()))
    return out


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode != 0:
        sys.exit("FAIL: %s exited %d\nstdout:\n%s\nstderr:\n%s"
                 % (" ".join(cmd), p.returncode, p.stdout[-4000:], p.stderr[-4000:]))
    return p.stdout


def real_db_bench(db_bench, flags, workdir):
    # Real db_bench gets our driver's fair settings too, so both open RocksDB alike.
    return result_lines(run([db_bench, "--db=" + os.path.join(workdir, "real"),
                             "--compression_type=none", "--bloom_bits=10",
                             "--cache_size=8388608"] + flags))


def ours(driver, store, flags, workdir, extra=()):
    return run([driver, "--store=" + store, "--db=" + os.path.join(workdir, store),
                "--cache_size=8388608"] + list(extra) + flags)


def compare(expected, got, label):
    if not expected:
        sys.exit("FAIL: real db_bench printed no result line")
    if expected != got:
        lines = ["FAIL: %s differs from real db_bench" % label]
        for i in range(max(len(expected), len(got))):
            e = expected[i] if i < len(expected) else None
            g = got[i] if i < len(got) else None
            lines.append("%s db_bench=%s ours=%s" % ("  " if e == g else "!!", e, g))
        sys.exit("\n".join(lines))
    print("ok: %s: %d result lines equal real db_bench's" % (label, len(got)))
    for r in got:
        print("   %-22s %8d operations %s" % r)


def case_output(driver, workdir):
    jpath = os.path.join(workdir, "out.json")
    text = ours(driver, "alex", ["--benchmarks=fillrandom,readrandom,readrandomwriterandom,"
                                 "seekrandom", "--num=2000", "--seed=5", "--histogram",
                                 "--json=" + jpath], workdir)
    results = result_lines(text)
    blocks = re.findall(r"Microseconds per (\w+):\nCount: (\d+) Average: [0-9.]+  StdDev: "
                        r"[0-9.]+\nMin: \d+  Median: [0-9.]+  Max: \d+\nPercentiles: P50: "
                        r"[0-9.]+ P75: [0-9.]+ P99: [0-9.]+ P99.9: [0-9.]+ P99.99: [0-9.]+\n-{54}\n",
                        text)
    if len(blocks) != 5:  # write; read; read + write; seek
        sys.exit("FAIL: expected 5 histogram blocks, found %d:\n%s" % (len(blocks), text))
    with open(jpath) as f:
        j = json.load(f)
    assert j["store"]["name"] == "alex", j["store"]
    assert j["config"]["seed"] == 5 and j["config"]["num"] == 2000, j["config"]
    for key in ("cpu_model", "kernel", "filesystem", "versions", "build_type"):
        assert key in j["environment"], key
    for lib in ("AlexStorage", "RocksDB", "LMDB", "SQLite", "LZ4"):
        assert lib in j["environment"]["versions"], lib
    by_name = {r["name"]: r for r in j["results"]}
    for name, ops, msg in results:
        r = by_name[name]
        assert r["operations"] == ops, (name, r["operations"], ops)
        assert r["message"].strip() == msg, (name, r["message"], msg)
        lat_count = sum(x["count"] for x in r["latency"].values())
        assert lat_count == ops, (name, lat_count, ops)
        for x in r["latency"].values():
            assert 0 < x["p50_ns"] <= x["p99_ns"] <= x["max_ns"], x
    rr = by_name["readrandom"]["counters"]
    m = re.match(r"\((\d+) of (\d+) found\)", by_name["readrandom"]["message"])
    assert (rr["found"], rr["reads"]) == (int(m.group(1)), int(m.group(2))), rr
    mixed = by_name["readrandomwriterandom"]
    assert set(mixed["latency"]) == {"read", "write"}, mixed["latency"].keys()
    assert mixed["counters"]["reads"] == mixed["latency"]["read"]["count"]
    assert mixed["counters"]["writes"] == mixed["latency"]["write"]["count"]
    print("ok: histogram blocks and JSON agree with the result lines")


def case_same_data(driver, db_bench, ldb, workdir):
    flags = ["--benchmarks=fillrandom,overwrite", "--num=1500", "--seed=31", "--key_size=12",
             "--value_size=77", "--compression_ratio=0.3", "--batch_size=4"]
    real_db_bench(db_bench, flags, workdir)
    ours(driver, "rocksdb", flags, workdir)
    scans = [run([ldb, "--db=" + os.path.join(workdir, d), "scan", "--hex"])
             for d in ("real", "rocksdb")]
    if not scans[0].strip() or scans[0] != scans[1]:
        sys.exit("FAIL: the databases differ\nreal db_bench:\n%s\nours:\n%s"
                 % (scans[0][:2000], scans[1][:2000]))
    print("ok: %d keys, same keys and values as real db_bench" % len(scans[0].splitlines()))


def case_threads(driver, store, workdir):
    jpath = os.path.join(workdir, "threads.json")
    ours(driver, store, ["--benchmarks=fillrandom,readwhilewriting,readrandomwriterandom,"
                         "seekrandom,updaterandom", "--num=3000", "--seed=3", "--threads=3",
                         "--seek_nexts=4", "--json=" + jpath], workdir)
    with open(jpath) as f:
        by_name = {r["name"]: r for r in json.load(f)["results"]}
    rww = by_name["readwhilewriting"]
    assert rww["threads"] == 4, rww  # 3 readers + the writer
    assert rww["counters"]["reads"] == 3 * 3000, rww["counters"]  # the writer's ops not merged
    assert rww["operations"] == 3 * 3000, rww
    mixed = by_name["readrandomwriterandom"]["counters"]
    assert mixed["reads"] + mixed["writes"] == 3 * 3000, mixed
    assert by_name["seekrandom"]["counters"]["seeks"] == 3 * 3000
    assert by_name["updaterandom"]["operations"] == 3 * 3000
    print("ok: %s with 3 threads: %s" % (store, {n: r["operations"] for n, r in by_name.items()}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--db_bench", default=shutil.which("db_bench") or "/usr/bin/db_bench")
    ap.add_argument("--ldb", default=shutil.which("ldb") or "/usr/bin/ldb")
    ap.add_argument("case", choices=["vs_db_bench", "same_counts", "same_data", "output",
                                        "threads"])
    ap.add_argument("arg", nargs="?")
    a = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="axb_fidelity_")
    try:
        if a.case == "output":
            case_output(a.driver, workdir)
        elif a.case == "same_data":
            case_same_data(a.driver, a.db_bench, a.ldb, workdir)
        elif a.case == "threads":
            case_threads(a.driver, a.arg, workdir)
        elif a.case == "vs_db_bench":
            flags = FLAG_SETS[a.arg]
            compare(real_db_bench(a.db_bench, flags, workdir),
                    result_lines(ours(a.driver, "rocksdb", flags, workdir)),
                    "rocksdb store, flag set '%s'" % a.arg)
        else:
            for name in ("basic", "sizes", "short_keys"):
                flags = FLAG_SETS[name]
                compare(real_db_bench(a.db_bench, flags, workdir),
                        result_lines(ours(a.driver, a.arg, flags, workdir)),
                        "store %s, flag set '%s'" % (a.arg, name))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
