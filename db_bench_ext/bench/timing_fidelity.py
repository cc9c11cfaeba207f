#!/usr/bin/env python3
"""timing_fidelity.py: does --store=rocksdb time RocksDB like real db_bench does?

A benchmark, not a test (timings on shared machines are noisy): for each --num, runs Debian's
db_bench and `alex_db_bench --store=rocksdb` with identical flags and seed, alternating which goes
first, --runs times, and prints the median micros/op of each and their ratio (ours / db_bench).
The aim (issue 5) is a ratio within 0.8..1.2 for fillrandom, readrandom and
readrandomwriterandom at 100K and 1M keys.

  db_bench_ext/bench/timing_fidelity.py --driver build/db_bench_ext/alex_db_bench \
      --num 100000 1000000 --runs 5 [--markdown results/timing_fidelity.md]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

LINE = re.compile(r"^(\S+)\s*:\s+([0-9.]+) micros/op")


def micros(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stdout[-2000:]))
    return {m.group(1): float(m.group(2)) for m in map(LINE.match, p.stdout.splitlines()) if m}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--db_bench", default=shutil.which("db_bench") or "/usr/bin/db_bench")
    ap.add_argument("--num", type=int, nargs="+", default=[100000, 1000000])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--benchmarks", default="fillrandom,readrandom,readrandomwriterandom")
    ap.add_argument("--markdown", help="also write the table to this file")
    a = ap.parse_args()
    names = a.benchmarks.split(",")
    work = tempfile.mkdtemp(prefix="axb_timing_")
    rows = []
    try:
        for num in a.num:
            # The driver's fair defaults, spelled out so both programs get the same settings.
            cache = max(8 << 20, num * 116 // 4 * 5)
            common = ["--benchmarks=" + a.benchmarks, "--num=%d" % num, "--compression_type=none",
                      "--bloom_bits=10", "--cache_size=%d" % cache, "--key_size=16",
                      "--value_size=100"]
            samples = {"db_bench": {n: [] for n in names}, "ours": {n: [] for n in names}}
            for run in range(a.runs):
                seed = ["--seed=%d" % (1000 + run)]
                real = [a.db_bench, "--db=" + os.path.join(work, "real")] + common + seed
                ours = [a.driver, "--store=rocksdb", "--db=" + os.path.join(work, "ours")] + \
                    common + seed
                order = [("db_bench", real), ("ours", ours)]
                if run % 2:
                    order.reverse()
                for who, cmd in order:
                    for n, v in micros(cmd).items():
                        if n in samples[who]:
                            samples[who][n].append(v)
                print("num=%d run %d/%d done" % (num, run + 1, a.runs), file=sys.stderr)
            for n in names:
                real_m = statistics.median(samples["db_bench"][n])
                ours_m = statistics.median(samples["ours"][n])
                rows.append((num, n, real_m, ours_m, ours_m / real_m))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = ["| num | benchmark | db_bench micros/op (median of %d) | alex_db_bench --store=rocksdb "
           "| ratio |" % a.runs, "|---|---|---|---|---|"]
    for num, n, r, o, ratio in rows:
        flag = "" if 0.8 <= ratio <= 1.2 else " (outside 0.8..1.2)"
        out.append("| %d | %s | %.3f | %.3f | %.3f%s |" % (num, n, r, o, ratio, flag))
    text = "\n".join(out)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
