#!/usr/bin/python3
"""concurrency.py: AlexStorage's concurrency on one handle, and group commit beside RocksDB.

Runs two things and writes one report:

  1. core/bench/concurrency_bench (see the comment at its top): read throughput with 1 and 2
     reader threads, reader latency alone and beside a writer, full / range / background
     compaction with a reader's latency during each, and synced writes from 1, 2, 4 and 8
     threads with the engine's syncs / synced_writes counters. It repeats everything itself
     (--repeats) and reports medians.
  2. Group commit against RocksDB: db_bench_ext's alex_db_bench --benchmarks=fillrandom
     --sync=1 --threads=T for T in --threads, --num writes per thread, for --store=alex and
     --store=rocksdb in the same run. The store that runs first alternates from one (repeat,
     T) cell to the next; the tables show medians over --repeats.

Writes into results/<run-id>/ (or --out):

  concurrency.md     the tables, the commands that produced them, the environment
  concurrency.json   the same figures (medians and every repeat), commands, environment
  raw/               every program's JSON and text output, untouched

  compare/concurrency.py                     # 1M keys, 3 repeats, 3 s phases, 2000 syncs/thread
  compare/concurrency.py --quick             # 10K keys, 1 repeat: a smoke test (~10 s)
  compare/concurrency.py --num 100000 --repeats 5 --out /tmp/conc

Standard library only; Debian's /usr/bin/python3 runs it.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

STORE_LABELS = {"alex": "AlexStorage", "rocksdb": "RocksDB"}
GC_STORES = ["alex", "rocksdb"]

DEFAULTS = {"num": 1_000_000, "repeats": 3, "seconds": 3.0, "sync_num": 2000}
QUICK = {"num": 10_000, "repeats": 1, "seconds": 0.5, "sync_num": 200}
# --quick: segments small enough that the 10K-key database spans several of them, so range and
# background compaction have whole segments to reclaim (the default is 64 MiB).
QUICK_SEGMENT_SIZE = 256 * 1024

SECTIONS = [  # concurrency_bench's sections, in report order
    ("reads", "a"), ("latency", "b"), ("compaction", "c"), ("sync", "d")]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def fmt(x, digits=0):
    """A number with thousands separators and `digits` decimals; '-' for None."""
    if x is None:
        return "-"
    return "{:,.{}f}".format(x, digits)


def run_cmd(cmd, out_prefix, commands, quiet, stream_stderr=False):
    """Runs cmd, keeps its output as out_prefix.txt, and records it in commands."""
    commands.append(" ".join(cmd))
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE,
                       stderr=None if (stream_stderr and not quiet) else subprocess.PIPE,
                       text=True)
    with open(out_prefix + ".txt", "w") as f:
        f.write(p.stdout)
        if p.stderr:
            f.write(p.stderr)
    if p.returncode != 0:
        sys.exit("concurrency: %s failed (exit %d):\n%s\n%s" % (
            " ".join(cmd), p.returncode, p.stdout[-3000:], (p.stderr or "")[-3000:]))
    return time.time() - t0


# ---- environment --------------------------------------------------------------------------------

def sh(cmd):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return p.stdout.strip() if p.returncode == 0 else ""
    except OSError:
        return ""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(workdir):
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split(":", 1)[1].strip()
    except (OSError, IndexError):
        pass
    try:
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
    except OSError:
        load = ""
    fs = sh(["df", "--output=fstype", workdir]).splitlines()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": sh(["nproc"]),
        "cpu_model": cpu_model(),
        "kernel": sh(["uname", "-srm"]) or platform.platform(),
        "memory": mem,
        "load_average_at_start": load,
        "db_dir": workdir,
        "db_dir_filesystem": fs[-1].strip() if fs else "unknown",
        "git": sh(["git", "-C", ROOT, "describe", "--always", "--dirty"]) or "unknown",
        "python": "%s %s" % (platform.python_implementation(), platform.python_version()),
    }


# ---- the group-commit comparison ----------------------------------------------------------------

def group_commit(a, commands, raw):
    """results[store][T] = [one dict per repeat]"""
    results = {s: {t: [] for t in a.threads} for s in GC_STORES}
    d = os.path.join(raw, "group_commit")
    os.makedirs(d, exist_ok=True)
    cells = a.repeats * len(a.threads)
    k = 0
    for r in range(a.repeats):
        for ti, t in enumerate(a.threads):
            k += 1
            order = GC_STORES if (r + ti) % 2 == 0 else list(reversed(GC_STORES))
            if not a.quiet:
                log("[group commit %d/%d] repeat %d, %d thread(s): %s" % (
                    k, cells, r + 1, t, ", then ".join(order)))
            for s in order:
                name = "%s-t%d-r%d" % (s, t, r + 1)
                jpath = os.path.join(d, name + ".json")
                db = os.path.join(a.workdir, "group_commit_" + s)
                cmd = [a.driver, "--store=" + s, "--benchmarks=fillrandom", "--sync=1",
                       "--threads=%d" % t, "--num=%d" % a.sync_num, "--key_size=16",
                       "--value_size=100", "--compression_type=none", "--seed=%d" % a.seed,
                       "--db=" + db, "--json=" + jpath]
                if s == "rocksdb" and a.rocksdb_lib:
                    cmd.append("--rocksdb_lib=" + a.rocksdb_lib)
                run_cmd(cmd, os.path.join(d, name), commands, True)
                shutil.rmtree(db, ignore_errors=True)
                with open(jpath) as f:
                    j = json.load(f)
                res = [x for x in j["results"] if x["name"] == "fillrandom"][0]
                lat = res.get("latency", {}).get("write", {})
                results[s][t].append({
                    "ops_per_sec": res["ops_per_sec"],
                    "operations": res["operations"],
                    "seconds": res["seconds"],
                    "p50_ns": lat.get("p50_ns"),
                    "p99_ns": lat.get("p99_ns"),
                    "rocksdb_assertions": j.get("environment", {}).get("rocksdb_assertions"),
                    "rocksdb_library": j.get("environment", {}).get("rocksdb_library"),
                })
    return results


def median_of(runs, key):
    xs = [x[key] for x in runs if x.get(key) is not None]
    return statistics.median(xs) if xs else None


def summarize_group_commit(results, threads):
    summary = {}
    for s, by_t in results.items():
        summary[s] = {}
        for t in threads:
            runs = by_t[t]
            summary[s][str(t)] = {
                "ops_per_sec": median_of(runs, "ops_per_sec"),
                "p50_ns": median_of(runs, "p50_ns"),
                "p99_ns": median_of(runs, "p99_ns"),
                "operations": median_of(runs, "operations"),
                "runs": runs,
            }
        base = summary[s][str(threads[0])]["ops_per_sec"]
        for t in threads:
            x = summary[s][str(t)]["ops_per_sec"]
            summary[s][str(t)]["scaling"] = x / base if x and base else None
    for t in threads:
        a_, r_ = summary["alex"][str(t)]["ops_per_sec"], summary["rocksdb"][str(t)]["ops_per_sec"]
        summary.setdefault("alex_over_rocksdb", {})[str(t)] = a_ / r_ if a_ and r_ else None
    return summary


# ---- report -------------------------------------------------------------------------------------

def metric_table(bench, section):
    """The rows of one concurrency_bench section: median, then each repeat."""
    reps = bench["config"]["repeats"]
    lines = ["| metric | median |" + "".join(" run %d |" % (r + 1) for r in range(reps)),
             "|---|--:|" + "--:|" * reps]
    for m in bench["metrics"]:
        if m["section"] != section or m["median"] is None:
            continue
        label = m["label"] + (", " + m["unit"] if m["unit"] else "")
        cells = [fmt(m["median"], m["digits"])] + [fmt(v, m["digits"]) for v in m["runs"]]
        lines.append("| %s | %s |" % (label, " | ".join(cells)))
    return lines


def sync_pivot(bench):
    med = bench["median"]
    cols = [("ops_per_sec", "synced puts/s", 0), ("scaling", "vs %d thread(s)" %
                                                  bench["config"]["sync_threads"][0], 2),
            ("p50_us", "p50, us", 1), ("p99_us", "p99, us", 1), ("syncs", "syncs", 0),
            ("synced_writes", "synced_writes", 0), ("writes_per_sync", "synced_writes/syncs", 2),
            ("commit_groups", "commit groups", 0)]
    lines = ["| threads | " + " | ".join(c[1] for c in cols) + " |",
             "|--:|" + "--:|" * len(cols)]
    for t in bench["config"]["sync_threads"]:
        lines.append("| %d | %s |" % (t, " | ".join(
            fmt(med.get("sync.%d.%s" % (t, c[0])), c[2]) for c in cols)))
    return lines


def headline(bench, gc, threads):
    med = bench["median"]
    g = med.get
    rows = [
        ("Reads, 1 reader thread", fmt(g("reads.ops_per_sec_1_thread")) + " gets/s"),
        ("Reads, 2 reader threads (total)", fmt(g("reads.ops_per_sec_2_threads")) + " gets/s"),
        ("Read scaling, 2 threads / 1", fmt(g("reads.ratio_2_to_1"), 2) + "x"),
        ("Reader p99 alone / with a writer", "%s / %s ns (x%s)" % (
            fmt(g("latency.solo.p99_ns")), fmt(g("latency.with_writer.p99_ns")),
            fmt(g("latency.p99_ratio"), 2))),
        ("Writer beside the reader (buffered puts)",
         fmt(g("latency.with_writer.writer_ops_per_sec")) + " puts/s"),
        ("Compaction set-up garbage (1 - live/log)", fmt(g("compaction.setup.garbage"), 3)),
        ("Full compaction (axs_compact)", "%s s, %s bytes written, %s removed" % (
            fmt(g("compaction.full.seconds"), 3), fmt(g("compaction.full.bytes_written")),
            fmt(g("compaction.full.bytes_removed")))),
        ("Reader p99 idle / during axs_compact", "%s / %s ns (x%s)" % (
            fmt(g("compaction.reader_idle.p99_ns")),
            fmt(g("compaction.reader_during_full.p99_ns")),
            fmt(g("compaction.full.reader_p99_ratio"), 2))),
        ("axs_compact_range(NULL, NULL)", "%s s, %s bytes removed" % (
            fmt(g("compaction.range.seconds"), 3), fmt(g("compaction.range.bytes_removed")))),
        ("Background reclaim (reopen + wait, trigger %s)" %
         fmt(bench["config"]["bg_garbage_ratio"], 2), "%s s, %s bytes removed" % (
             fmt(g("compaction.background.seconds"), 3),
             fmt(g("compaction.background.bytes_removed")))),
    ]
    for t in bench["config"]["sync_threads"]:
        rows.append(("Synced puts, %d thread%s" % (t, "" if t == 1 else "s"),
                     "%s/s, %s writes per fdatasync" % (
                         fmt(g("sync.%d.ops_per_sec" % t)),
                         fmt(g("sync.%d.writes_per_sync" % t), 2))))
    tmax = str(threads[-1])
    rows.append(("Synced fillrandom, %s threads: AlexStorage / RocksDB" % tmax,
                 "%s / %s ops/s (x%s)" % (fmt(gc["alex"][tmax]["ops_per_sec"]),
                                          fmt(gc["rocksdb"][tmax]["ops_per_sec"]),
                                          fmt(gc["alex_over_rocksdb"][tmax], 2))))
    lines = ["| figure (medians) | value |", "|---|---|"]
    lines += ["| %s | %s |" % r for r in rows]
    return lines


def report(a, env, bench, gc, commands):
    w = []
    w.append("# Concurrency: AlexStorage on one handle, and group commit beside RocksDB")
    w.append("")
    w.append("Run `%s`%s: %s keys, %d repeat(s) (medians shown), %s s per timed phase; "
             "group commit: %s synced writes per thread, %s thread(s)." % (
                 a.run_id, " (--quick, a smoke test: not a measurement)" if a.quick else "",
                 fmt(a.num), a.repeats, fmt(a.seconds, 1), fmt(a.sync_num),
                 ", ".join(str(t) for t in a.threads)))
    w.append("")
    w.append("## Environment")
    w.append("")
    be = bench["environment"]
    w.append("```")
    w.append("date:          %s" % env["date"])
    w.append("nproc:         %s" % env["nproc"])
    w.append("cpu:           %s" % env["cpu_model"])
    w.append("memory:        %s" % env["memory"])
    w.append("kernel:        %s" % env["kernel"])
    w.append("file system:   %s (database directory %s)" % (env["db_dir_filesystem"],
                                                           env["db_dir"]))
    w.append("load average:  %s (at start)" % env["load_average_at_start"])
    w.append("build:         concurrency_bench %s, %s, C flags '%s', assertions %s" % (
        be.get("build_type"), be.get("c_compiler"), be.get("c_flags"), be.get("assertions")))
    rlib = gc["rocksdb"][str(a.threads[0])]["runs"][0]
    w.append("rocksdb:       %s%s" % (rlib.get("rocksdb_library"),
                                      " (built with assertions on)"
                                      if rlib.get("rocksdb_assertions") else ""))
    w.append("clock pair:    %s ns (p50 of clock_gettime pairs, in every timed operation)" %
             fmt(be.get("clock_pair_p50_ns")))
    w.append("git:           %s" % env["git"])
    w.append("python:        %s" % env["python"])
    w.append("```")
    w.append("")
    w.append("## Summary")
    w.append("")
    w += headline(bench, gc, a.threads)
    w.append("")
    w.append("## Commands")
    w.append("")
    w.append("In the order they ran (databases under a scratch directory, removed afterwards):")
    w.append("")
    w.append("```")
    w += commands
    w.append("```")
    for key, letter in SECTIONS:
        w.append("")
        w.append("## %s" % bench["sections"][key])
        w.append("")
        if key == "sync":
            w.append("Medians:")
            w.append("")
            w += sync_pivot(bench)
            w.append("")
            w.append("Each repeat:")
            w.append("")
        w += metric_table(bench, key)
        if key == "compaction" and bench["median"].get("compaction.setup.garbage") is not None \
                and bench["median"]["compaction.setup.garbage"] <= \
                bench["config"]["bg_garbage_ratio"]:
            w.append("")
            w.append("The set-up's garbage was not above the background trigger, so the "
                     "background compaction had nothing to do.")
        if key == "compaction":
            for kind in ("range", "background"):
                if bench["median"].get("compaction.%s.bytes_removed" % kind) == 0:
                    w.append("")
                    w.append("**%s compaction removed no bytes** (median): its time above "
                             "reclaimed nothing." % kind.capitalize())
    w.append("")
    w.append("Throughput is operations over the wall time of a phase; latencies are single "
             "operations timed with a clock_gettime pair (log-linear histogram, within 0.4%%). "
             "Ratios are taken within each repeat, then their median is shown. Part c "
             "overwrites %s%% of the keys once; the set-up's garbage row is the fraction of the "
             "log that is not live (dead records and record overhead), and the background "
             "trigger is %s."
             % (fmt(bench["config"]["overwrite_fraction"] * 100), fmt(
                 bench["config"]["bg_garbage_ratio"], 2)))
    w.append("")
    w.append("## Group commit: synced fillrandom from T threads, AlexStorage and RocksDB")
    w.append("")
    w.append("`alex_db_bench --benchmarks=fillrandom --sync=1 --threads=T --num=%d`: each thread "
             "writes %d random keys, each write synced before it returns (AlexStorage: "
             "fdatasync; RocksDB: WriteOptions.sync, WAL synced). db_bench's fillrandom writes "
             "through a one-entry write batch. Medians of %d repeat(s); the store that runs "
             "first alternates from cell to cell." % (a.sync_num, a.sync_num, a.repeats))
    w.append("")
    head = ["threads", "AlexStorage, ops/s", "RocksDB, ops/s", "AlexStorage / RocksDB",
            "AlexStorage vs 1st row", "RocksDB vs 1st row", "AlexStorage p50, us",
            "RocksDB p50, us", "AlexStorage p99, us", "RocksDB p99, us"]
    w.append("| " + " | ".join(head) + " |")
    w.append("|--:|" + "--:|" * (len(head) - 1))
    for t in a.threads:
        x, y = gc["alex"][str(t)], gc["rocksdb"][str(t)]
        us = lambda v: fmt(v / 1000.0, 1) if v is not None else "-"  # noqa: E731
        w.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            t, fmt(x["ops_per_sec"]), fmt(y["ops_per_sec"]),
            fmt(gc["alex_over_rocksdb"][str(t)], 2), fmt(x["scaling"], 2),
            fmt(y["scaling"], 2), us(x["p50_ns"]), us(y["p50_ns"]), us(x["p99_ns"]),
            us(y["p99_ns"])))
    if a.repeats > 1:
        w.append("")
        w.append("Each repeat, ops/s:")
        w.append("")
        w.append("| threads | store | " + " | ".join("run %d" % (r + 1)
                                                    for r in range(a.repeats)) + " |")
        w.append("|--:|---|" + "--:|" * a.repeats)
        for t in a.threads:
            for s in GC_STORES:
                w.append("| %d | %s | %s |" % (t, STORE_LABELS[s], " | ".join(
                    fmt(x["ops_per_sec"]) for x in gc[s][str(t)]["runs"])))
    return "\n".join(w) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--num", type=int, help="keys in concurrency_bench's databases "
                    "(default %d; --quick %d)" % (DEFAULTS["num"], QUICK["num"]))
    ap.add_argument("--repeats", type=int, help="repeats of everything; tables show medians "
                    "(default %d; --quick %d)" % (DEFAULTS["repeats"], QUICK["repeats"]))
    ap.add_argument("--seconds", type=float, help="length of each timed phase of "
                    "concurrency_bench (default %g; --quick %g)" % (DEFAULTS["seconds"],
                                                                    QUICK["seconds"]))
    ap.add_argument("--sync-num", dest="sync_num", type=int,
                    help="group commit: synced writes per thread (alex_db_bench --num; "
                    "default %d; --quick %d)" % (DEFAULTS["sync_num"], QUICK["sync_num"]))
    ap.add_argument("--threads", default="1,2,4,8",
                    help="writer thread counts, both parts (default 1,2,4,8)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 10K keys, 1 repeat, short phases, small segments")
    ap.add_argument("--out", help="results directory (default results/<run-id>)")
    ap.add_argument("--run-id", dest="run_id")
    ap.add_argument("--workdir", help="where the databases live (default: a temporary "
                    "directory under /tmp, removed at the end)")
    ap.add_argument("--seed", type=int, default=1, help="alex_db_bench --seed (default 1)")
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "core", "bench",
                                                    "concurrency_bench"))
    ap.add_argument("--driver", default=os.path.join(ROOT, "build", "db_bench_ext",
                                                     "alex_db_bench"))
    ap.add_argument("--rocksdb-lib", dest="rocksdb_lib",
                    help="a RocksDB library for --store=rocksdb (default: Debian's)")
    ap.add_argument("--quiet", action="store_true",
                    help="no progress, and do not print the report at the end")
    a = ap.parse_args()

    base = QUICK if a.quick else DEFAULTS
    for k, v in base.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    try:
        a.threads = [int(t) for t in a.threads.split(",") if t.strip()]
    except ValueError:
        sys.exit("concurrency: --threads takes numbers, e.g. 1,2,4,8")
    if not a.threads or min(a.threads) < 1 or len(set(a.threads)) != len(a.threads):
        sys.exit("concurrency: --threads: distinct positive numbers")
    if a.repeats < 1 or a.num < 100 or a.sync_num < 1 or a.seconds <= 0:
        sys.exit("concurrency: --repeats >= 1, --num >= 100, --sync-num >= 1, --seconds > 0")
    for what, path in (("concurrency_bench", a.bench), ("alex_db_bench", a.driver)):
        if not os.access(path, os.X_OK):
            sys.exit("concurrency: no %s at %s (build first: cmake --build build)" % (what, path))
    if a.rocksdb_lib and not os.path.exists(a.rocksdb_lib):
        sys.exit("concurrency: --rocksdb-lib %s does not exist" % a.rocksdb_lib)
    if not a.run_id:
        a.run_id = "%s-concurrency%s" % (datetime.date.today().isoformat(),
                                         "-quick" if a.quick else "")
    a.out = os.path.abspath(a.out or os.path.join(ROOT, "results", a.run_id))
    if os.path.exists(os.path.join(a.out, "concurrency.json")):
        sys.exit("concurrency: %s already holds a run; use another --out" % a.out)
    raw = os.path.join(a.out, "raw")
    os.makedirs(raw, exist_ok=True)
    tmp = None
    if not a.workdir:
        tmp = a.workdir = tempfile.mkdtemp(prefix="axs_concurrency_")
    os.makedirs(a.workdir, exist_ok=True)

    started = time.time()
    env = environment(a.workdir)
    commands = []
    try:
        # 1. concurrency_bench
        bench_json = os.path.join(raw, "concurrency_bench.json")
        cmd = [a.bench, "--num=%d" % a.num, "--repeats=%d" % a.repeats,
               "--seconds=%g" % a.seconds, "--sync_threads=" + ",".join(map(str, a.threads)),
               "--db=" + a.workdir, "--json=" + bench_json]
        if a.quick:
            cmd.append("--segment_size=%d" % QUICK_SEGMENT_SIZE)
        if not a.quiet:
            log("concurrency: concurrency_bench, %d key(s), %d repeat(s)" % (a.num, a.repeats))
        secs = run_cmd(cmd, os.path.join(raw, "concurrency_bench"), commands, a.quiet,
                       stream_stderr=True)
        if not a.quiet:
            log("concurrency: concurrency_bench took %.1f s" % secs)
        with open(bench_json) as f:
            bench = json.load(f)
        # 2. group commit, alex and rocksdb
        gc_raw = group_commit(a, commands, raw)
        gc = summarize_group_commit(gc_raw, a.threads)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    elapsed = time.time() - started
    doc = {
        "run_id": a.run_id,
        "quick": a.quick,
        "config": {"num": a.num, "repeats": a.repeats, "seconds": a.seconds,
                   "sync_num_per_thread": a.sync_num, "threads": a.threads, "seed": a.seed,
                   "rocksdb_lib": a.rocksdb_lib or "debian"},
        "environment": env,
        "commands": commands,
        "elapsed_seconds": elapsed,
        "concurrency_bench": {k: bench[k] for k in ("environment", "config", "sections",
                                                    "median", "metrics")},
        "group_commit": gc,
    }
    with open(os.path.join(a.out, "concurrency.json"), "w") as f:
        json.dump(doc, f, indent=1)
    md = report(a, env, bench, gc, commands)
    with open(os.path.join(a.out, "concurrency.md"), "w") as f:
        f.write(md)
    if not a.quiet:
        print(md)
        log("concurrency: wrote %s and concurrency.json in %.1f s" % (
            os.path.join(a.out, "concurrency.md"), elapsed))


if __name__ == "__main__":
    main()
