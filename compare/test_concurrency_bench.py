#!/usr/bin/python3
"""test_concurrency_bench.py: concurrency.py --quick end to end, into a scratch directory.

Checks that concurrency.md and concurrency.json were written, that the report has its
environment, commands and every table (concurrency_bench's four parts and the group-commit
comparison, a row per thread count with numbers for both stores), and that the figures that
must be positive are: throughputs, latencies, compaction times and bytes, syncs. It asserts
nothing about speed.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
THREADS = [1, 2, 4, 8]


def fail(msg):
    sys.exit("FAIL: " + msg)


def table_rows(md, heading):
    """The table rows (lines starting with '|', header and rule left out) under a heading."""
    parts = md.split("\n## " + heading, 1)
    if len(parts) != 2:
        fail("no section '## %s'" % heading)
    body = parts[1].split("\n## ", 1)[0]
    rows = [l for l in body.splitlines() if l.startswith("|")]
    return [r for r in rows[2:] if not re.match(r"^\|[-:|]+\|$", r) and "| metric |" not in r
            and "| threads |" not in r]


def number(cell):
    cell = cell.strip()
    return float(cell.replace(",", "")) if re.match(r"^-?[\d,]+(\.\d+)?$", cell) else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="concurrency_bench")
    ap.add_argument("--driver", required=True, help="alex_db_bench")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="axs_concurrency_test_")
    out = os.path.join(tmp, "results")
    try:
        cmd = ["/usr/bin/python3", os.path.join(HERE, "concurrency.py"), "--quick", "--bench",
               a.bench, "--driver", a.driver, "--out", out, "--workdir",
               os.path.join(tmp, "db"), "--quiet"]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            fail("concurrency.py exited %d\n%s\n%s" % (p.returncode, p.stdout[-3000:],
                                                        p.stderr[-3000:]))
        for name in ("concurrency.md", "concurrency.json", "raw/concurrency_bench.json",
                     "raw/concurrency_bench.txt"):
            path = os.path.join(out, name)
            if not os.path.isfile(path) or not os.path.getsize(path):
                fail("%s missing or empty" % name)
        with open(os.path.join(out, "concurrency.md")) as f:
            md = f.read()
        with open(os.path.join(out, "concurrency.json")) as f:
            doc = json.load(f)

        # The report: environment, commands, the four parts, group commit.
        env = md.split("## Environment", 1)[-1].split("\n## ", 1)[0]
        for field in ("nproc:", "cpu:", "kernel:", "file system:"):
            if field not in env:
                fail("environment block lacks '%s'" % field)
        cmds = md.split("## Commands", 1)[-1].split("\n## ", 1)[0]
        if "concurrency_bench" not in cmds and os.path.basename(a.bench) not in cmds:
            fail("commands block lacks the concurrency_bench command")
        for t in THREADS:
            for s in ("alex", "rocksdb"):
                if not re.search(r"--store=%s --benchmarks=fillrandom --sync=1 --threads=%d "
                                 % (s, t), cmds):
                    fail("commands block lacks --store=%s --threads=%d" % (s, t))
        for heading in ("a. Read throughput", "b. Reader latency", "c. Compaction",
                        "d. Synced writes", "Summary"):
            rows = table_rows(md, heading)
            if not rows:
                fail("section %s has no table rows" % heading)
            if heading != "Summary" and not any(number(r.strip("|").split("|")[1])
                                                for r in rows):
                fail("section %s has no numbers" % heading)
        gc_rows = table_rows(md, "Group commit")
        for t in THREADS:
            row = [r for r in gc_rows if r.startswith("| %d |" % t)]
            if not row:
                fail("group commit table has no row for %d threads" % t)
            cells = row[0].strip("|").split("|")
            for i, what in ((1, "AlexStorage ops/s"), (2, "RocksDB ops/s")):
                v = number(cells[i])
                if not v or v <= 0:
                    fail("group commit, %d threads: %s is '%s'" % (t, what, cells[i]))

        # The JSON: figures that must be positive whatever the machine.
        med = doc["concurrency_bench"]["median"]
        must = ["reads.ops_per_sec_1_thread", "reads.ops_per_sec_2_threads",
                "reads.ratio_2_to_1", "latency.solo.p50_ns", "latency.solo.p99_ns",
                "latency.solo.p99_9_ns", "latency.with_writer.p50_ns",
                "latency.with_writer.p99_ns", "latency.with_writer.p99_9_ns",
                "latency.with_writer.writer_ops_per_sec", "latency.p99_ratio",
                "compaction.setup.log_bytes", "compaction.setup.live_bytes",
                "compaction.setup.garbage", "compaction.reader_idle.p99_ns",
                "compaction.full.seconds", "compaction.full.bytes_written",
                "compaction.full.bytes_removed", "compaction.full.passes",
                "compaction.range.seconds", "compaction.range.bytes_written",
                "compaction.background.open_seconds", "compaction.background.seconds"]
        for t in THREADS:
            must += ["sync.%d.%s" % (t, k) for k in ("ops_per_sec", "p50_us", "p99_us", "puts",
                                                     "syncs", "synced_writes",
                                                     "writes_per_sync", "commit_groups")]
        bad = [k for k in must if not isinstance(med.get(k), (int, float)) or med[k] <= 0]
        if bad:
            fail("not positive in concurrency.json: " + ", ".join(
                "%s=%r" % (k, med.get(k)) for k in bad))
        for t in THREADS:
            if med["sync.%d.synced_writes" % t] != med["sync.%d.puts" % t]:
                fail("%d threads: synced_writes %r != puts %r" % (
                    t, med["sync.%d.synced_writes" % t], med["sync.%d.puts" % t]))
            for s in ("alex", "rocksdb"):
                cell = doc["group_commit"][s][str(t)]
                if not cell["ops_per_sec"] or cell["ops_per_sec"] <= 0 or \
                        not cell["p50_ns"] or cell["p50_ns"] <= 0:
                    fail("group commit %s, %d threads: %r" % (s, t, cell))
        for field in ("nproc", "cpu_model", "kernel", "db_dir_filesystem"):
            if not doc["environment"].get(field):
                fail("concurrency.json environment lacks %s" % field)
        print("ok: concurrency.md with every table, %d positive figures, group commit at %s "
              "threads for both stores (%.1f s)" % (len(must), ",".join(map(str, THREADS)),
                                                    doc["elapsed_seconds"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
