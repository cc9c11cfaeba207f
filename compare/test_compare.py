#!/usr/bin/python3
"""test_compare.py: compare.py end to end at 10K keys (one repeat, alex and rocksdb).

Checks that every workload of the matrix produced a table with a value for both stores, that
the scaling and claims sections are there, that every linked plot exists, and that the raw
JSON, commands and environment were written.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    a = ap.parse_args()
    out = tempfile.mkdtemp(prefix="axs_compare_test_")
    try:
        p = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "compare.py"), "--scales",
                            "10K", "--repeats", "1", "--stores", "alex,rocksdb", "--driver",
                            a.driver, "--out", out, "--quiet"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit("FAIL: compare.py exited %d\n%s\n%s" % (p.returncode, p.stdout, p.stderr))
        if "[1/2] 10K" not in p.stderr or "[2/2] 10K" not in p.stderr:
            sys.exit("FAIL: no progress lines on stderr:\n" + p.stderr)
        with open(os.path.join(out, "report.md")) as f:
            md = f.read()
        sys.path.insert(0, HERE)
        import compare
        for w in compare.WORKLOADS:
            sec = md.split("## " + w["title"], 1)
            if len(sec) != 2:
                sys.exit("FAIL: no section for %s" % w["id"])
            table = sec[1].split("\n## ", 1)[0]
            for metric in ("p50", "mean, ns/op", "p99", "ops/sec"):
                row = [l for l in table.splitlines() if l.startswith("| " + metric)]
                if not row:
                    sys.exit("FAIL: %s: no %s row" % (w["id"], metric))
                cells = [c.strip() for c in row[0].strip("|").split("|")]
                # Metric | AlexStorage | RocksDB | Winner | AlexStorage vs RocksDB
                if not re.match(r"^[\d,]+$", cells[1]) or not re.match(r"^[\d,]+$", cells[2]):
                    sys.exit("FAIL: %s: %s row has no numbers: %s" % (w["id"], metric, row[0]))
                if not re.search(r"x[\d.]+ over|^-$", cells[3]):
                    sys.exit("FAIL: %s: winner cell: %s" % (w["id"], cells[3]))
        if "## The design notes' claims beside these measurements" not in md:
            sys.exit("FAIL: no claims section")
        for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
            if not os.path.getsize(os.path.join(out, link)):
                sys.exit("FAIL: plot %s is empty" % link)
        for name in ("commands.txt", "environment.txt", "summary.json"):
            if not os.path.getsize(os.path.join(out, name)):
                sys.exit("FAIL: %s is empty" % name)
        raw = [f for _, _, fs in os.walk(os.path.join(out, "raw")) for f in fs
               if f.endswith(".json")]
        if len(raw) != 8:  # 2 stores x (seq, load, load-threads, scan)
            sys.exit("FAIL: expected 8 raw JSON files, found %d" % len(raw))
        print("ok: report with %d workloads, %d plots, %d raw results" % (
            len(compare.WORKLOADS), len(re.findall(r"!\[", md)), len(raw)))

        # The synced variant: its three write workloads, with 200 synced operations each.
        sync_out = os.path.join(out, "sync")
        p = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "compare.py"), "--scales",
                            "10K", "--repeats", "1", "--stores", "alex,lmdb", "--sync",
                            "--sync-ops", "200", "--driver", a.driver, "--out", sync_out,
                            "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit("FAIL: compare.py --sync exited %d\n%s" % (p.returncode, p.stderr))
        with open(os.path.join(sync_out, "report.md")) as f:
            md = f.read()
        for w in compare.SYNC_WORKLOADS:
            if "## " + w["title"] not in md:
                sys.exit("FAIL: --sync report lacks %s" % w["id"])
        with open(os.path.join(sync_out, "commands.txt")) as f:
            cmds = f.read()
        if cmds.count("--sync ") < 2 or "--writes=200" not in cmds:
            sys.exit("FAIL: --sync commands do not sync or cap:\n" + cmds)
        print("ok: --sync report with %d workloads" % len(compare.SYNC_WORKLOADS))
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
