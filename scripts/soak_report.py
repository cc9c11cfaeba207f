#!/usr/bin/env python3
"""soak_report.py: README.md (and soak.png) for a soak run, from the files the test wrote.

Reads the CSV of samples that core/tests/soak/test_soak.c writes (--csv; columns seconds,
rss_kib, fds, ops, process, child, age_s, anon_kib, segments, log_bytes) and the test's output
(--log: its "[ SOAK ]" summary lines), and writes <out>/README.md: the run's command, machine
and result, the summary lines as the test printed them, one row per child process (its life,
RSS, fds, operations), and the samples in 30-second bins. With matplotlib (python3-matplotlib,
as /usr/bin/python3 has) it also draws <out>/soak.png: RSS and fds over time. Nothing in the
report is typed in: every figure comes from the two files. Python 3 standard library otherwise.

  scripts/soak_report.py --csv results/X/soak.csv --log results/X/soak.log --out results/X
"""
import argparse
import csv
import datetime
import os
import platform
import re
import subprocess
import sys


def load_samples(path):
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows.append({
                "t": float(r["seconds"]), "rss": int(r["rss_kib"]), "fds": int(r["fds"]),
                "ops": int(r["ops"]), "parent": r["process"] == "parent",
                "child": int(r["child"]), "age": float(r["age_s"]),
                "anon": int(r["anon_kib"]), "segments": int(r["segments"]),
                "log_bytes": int(r["log_bytes"]),
            })
    return rows


def git_describe(repo):
    try:
        rev = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mib(kib):
    return f"{kib / 1024:.1f}"


def children_table(rows):
    kids = {}
    for r in rows:
        if not r["parent"]:
            kids.setdefault(r["child"], []).append(r)
    parents = {r["child"]: r for r in rows if r["parent"] and r["child"] > 0}
    out = ["| child | start s | life s | samples | RSS MiB min..max | RssAnon MiB min..max "
           "| fds min..max | segments min..max | ops in its life "
           "| parent after reopen: RSS MiB, fds |",
           "|---:|---:|---:|---:|---|---|---|---|---:|---|"]
    for c in sorted(kids):
        s = kids[c]
        p = parents.get(c)
        ops = s[-1]["ops"] - s[0]["ops"]
        out.append(
            f"| {c} | {s[0]['t']:.1f} | {s[-1]['age']:.1f} | {len(s)} "
            f"| {mib(min(x['rss'] for x in s))}..{mib(max(x['rss'] for x in s))} "
            f"| {mib(min(x['anon'] for x in s))}..{mib(max(x['anon'] for x in s))} "
            f"| {min(x['fds'] for x in s)}..{max(x['fds'] for x in s)} "
            f"| {min(x['segments'] for x in s)}..{max(x['segments'] for x in s)} "
            f"| {ops} | {mib(p['rss']) + ', ' + str(p['fds']) if p else '-'} |")
    return out


def bins_table(rows, width):
    kids = [r for r in rows if not r["parent"]]
    if not kids:
        return []
    end = max(r["t"] for r in kids)
    out = [f"| seconds | child samples | RSS MiB max | RssAnon MiB max | fds max | segments max "
           f"| log MiB max | ops/s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    b = 0.0
    while b <= end:
        s = [r for r in kids if b <= r["t"] < b + width]
        if s:
            first, last = min(s, key=lambda r: r["t"]), max(s, key=lambda r: r["t"])
            span = last["t"] - first["t"]
            rate = f"{(last['ops'] - first['ops']) / span:.0f}" if span > 0 else "-"
            out.append(f"| {b:.0f}-{b + width:.0f} | {len(s)} | {mib(max(r['rss'] for r in s))} "
                       f"| {mib(max(r['anon'] for r in s))} | {max(r['fds'] for r in s)} "
                       f"| {max(r['segments'] for r in s)} "
                       f"| {max(r['log_bytes'] for r in s) / 2**20:.1f} | {rate} |")
        b += width
    return out


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    kids = [r for r in rows if not r["parent"]]
    par = [r for r in rows if r["parent"]]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    a1.plot([r["t"] for r in kids], [r["rss"] / 1024 for r in kids], ".", ms=3, label="child RSS")
    a1.plot([r["t"] for r in kids], [r["anon"] / 1024 for r in kids], ".", ms=3,
            label="child RssAnon")
    a1.plot([r["t"] for r in par], [r["rss"] / 1024 for r in par], "x",
            label="parent RSS after close")
    a1.set_ylabel("MiB")
    a1.legend(loc="upper left", fontsize=8)
    a2.plot([r["t"] for r in kids], [r["fds"] for r in kids], ".", ms=3, label="child fds")
    a2.plot([r["t"] for r in kids], [r["segments"] for r in kids], ".", ms=3, label="log segments")
    a2.plot([r["t"] for r in par], [r["fds"] for r in par], "x", label="parent fds after close")
    a2.set_ylabel("count")
    a2.set_xlabel("seconds (each child is killed and the database reopened; see the table)")
    a2.legend(loc="upper left", fontsize=8)
    fig.suptitle("AlexStorage soak: memory and descriptors over time")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", required=True, help="samples written by test_soak --csv")
    ap.add_argument("--log", required=True, help="the test's output")
    ap.add_argument("--out", required=True, help="directory for README.md and soak.png")
    ap.add_argument("--command", default="", help="the command that ran the test")
    ap.add_argument("--status", type=int, default=0, help="the test's exit status")
    ap.add_argument("--build-dir", default="", help="the build tree (for its build type)")
    ap.add_argument("--bin-seconds", type=float, default=30, help="width of the time bins")
    a = ap.parse_args()

    rows = load_samples(a.csv) if os.path.exists(a.csv) else []
    with open(a.log, errors="replace") as f:
        log = f.read()
    summary = [l.rstrip() for l in log.splitlines() if l.startswith("[ SOAK") or
               l.startswith("[ SEED")]
    failed = [l for l in summary if "SOAK FAIL" in l]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build_type = "unknown"
    cache = os.path.join(a.build_dir, "CMakeCache.txt") if a.build_dir else ""
    if cache and os.path.exists(cache):
        with open(cache) as f:
            m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$", f.read(), re.M)
            build_type = m.group(1) if m else build_type

    md = ["# Soak run", "",
          "Generated by `scripts/soak_report.py` from `soak.csv` and `soak.log`, which "
          "`scripts/soak.sh` had `core/tests/soak/test_soak` write (docs/reliability.md, \"Soak\", "
          "says what the test does and checks).", "",
          f"- result: **{'passed' if a.status == 0 and not failed else 'FAILED'}** "
          f"(exit status {a.status}, {len(failed)} failure lines)",
          f"- command: `{a.command}`",
          f"- report written: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
          f"- commit: {git_describe(repo)}; build type: {build_type}",
          f"- machine: {cpu_model()}, {os.cpu_count()} CPUs, "
          f"{platform.system()} {platform.release()}",
          "", "## The test's summary", "", "```"] + summary + ["```", ""]
    if rows:
        kids = [r for r in rows if not r["parent"]]
        par = [r for r in rows if r["parent"]]
        md += ["## Figures", "",
               f"- samples: {len(kids)} from {len({r['child'] for r in kids})} child processes, "
               f"{len(par)} from the parent (one at the start, one after each reopen and close)",
               f"- child RSS: {mib(min(r['rss'] for r in kids))}.."
               f"{mib(max(r['rss'] for r in kids))} MiB"
               f" (RssAnon {mib(min(r['anon'] for r in kids))}.."
               f"{mib(max(r['anon'] for r in kids))} MiB);"
               f" fds {min(r['fds'] for r in kids)}..{max(r['fds'] for r in kids)}"
               f" (of which log segments {min(r['segments'] for r in kids)}.."
               f"{max(r['segments'] for r in kids)})" if kids else "- no child samples",
               f"- parent after each close: RSS {mib(min(r['rss'] for r in par))}.."
               f"{mib(max(r['rss'] for r in par))} MiB, fds {min(r['fds'] for r in par)}.."
               f"{max(r['fds'] for r in par)}" if par else "- no parent samples",
               f"- operations: {max(r['ops'] for r in rows)} in {max(r['t'] for r in rows):.0f} s "
               "(gets, pinned gets, scans, snapshots, writes, compactions, flushes; iterator steps "
               "and batch entries not counted)", ""]
        if plot(rows, os.path.join(a.out, "soak.png")):
            md += ["![RSS and fds over time](soak.png)", ""]
        md += ["## Child processes", "",
               "Each child opens the database, runs the threads, and is SIGKILLed (or, one in "
               "four, asked to stop and close) at the end of its life; the parent then reopens "
               "and checks "
               "the database, closes it, and samples itself.", ""]
        md += children_table(rows) + [""]
        md += [f"## Over time ({a.bin_seconds:.0f}-second bins of the children's samples)", ""]
        md += bins_table(rows, a.bin_seconds) + [""]
    else:
        md += ["No samples: the CSV is missing or empty.", ""]
    with open(os.path.join(a.out, "README.md"), "w") as f:
        f.write("\n".join(md))
    print(f"wrote {os.path.join(a.out, 'README.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
