#!/usr/bin/python3
"""compare.py: the comparison matrix, its report and plots, and the CI performance gate.

Runs db_bench_ext's alex_db_bench over stores x workloads x scales x repeats, one process per
step, alternating the order of stores from one repeat to the next so that drift on a shared
machine hits every store alike. Writes into results/<run-id>/:

  raw/<scale>/<store>/r<k>-<step>.json   every result, as the driver wrote it (--json)
  raw/.../*.txt                          the driver's text output
  commands.txt                           every command, in the order it ran
  environment.txt                        machine, versions, builds (from the driver)
  report.md                              the tables, from the medians over repeats
  summary.json                           the medians the tables show
  *.png                                  plots (matplotlib), linked from report.md

  compare/compare.py                       # 100K, every store, 3 repeats (README command 1)
  compare/compare.py --scales 100K,1M,10M --repeats 3 --rocksdb-lib both
  compare/compare.py --sync                # the write workloads with every write durable
  compare/compare.py --gate                # CI's performance gate (see gate.py)

Debian's /usr/bin/python3 runs it (its python3-matplotlib draws the plots).
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

# Report columns, in the seeds' order, and their labels.
STORE_LABELS = {
    "alex": "AlexStorage",
    "rocksdb": "RocksDB",
    "sqlite": "SQLite",
    "lmdb": "LMDB",
    "hybrid": "Hybrid",
    "alex_capi": "AlexStorage (C API)",
    "rocksdb_release": "RocksDB (release)",
    "hybrid_release": "Hybrid (release RocksDB)",
}
ALL_STORES = ["alex", "alex_capi", "hybrid", "rocksdb", "lmdb", "sqlite"]

# The workloads of the report. `bench` is the driver's benchmark, `ops` the operation types
# whose latencies the report shows, `step` the process it runs in (steps below).
WORKLOADS = [
    {"id": "bulk_insert_random", "title": "Bulk insert, random order (fillrandom_unique)",
     "bench": "fillrandom_unique", "ops": ["write"], "step": "load"},
    {"id": "bulk_insert_seq", "title": "Bulk insert, sequential (fillseq)",
     "bench": "fillseq", "ops": ["write"], "step": "seq"},
    {"id": "point_reads", "title": "Point reads (readrandom on a filled store)",
     "bench": "readrandom", "ops": ["read"], "step": "load"},
    {"id": "mixed_80_20", "title": "80/20 mixed (readrandomwriterandom, readwritepercent=80)",
     "bench": "readrandomwriterandom", "ops": ["read", "write"], "step": "load"},
    {"id": "read_while_writing", "title": "Reads while writing (readwhilewriting, 2 reader "
     "threads + 1 writer)", "bench": "readwhilewriting", "ops": ["read"], "step": "load"},
    {"id": "seek_scan", "title": "Seek + 100 nexts (seekrandom, seek_nexts=100)",
     "bench": "seekrandom", "ops": ["seek"], "step": "scan"},
    {"id": "delete", "title": "Random deletes (deleterandom)", "bench": "deleterandom",
     "ops": ["delete"], "step": "scan"},
]
SYNC_WORKLOADS = [
    {"id": "sync_overwrite", "title": "Synced random writes (overwrite --sync)",
     "bench": "overwrite", "ops": ["write"], "step": "sync"},
    {"id": "sync_mixed_80_20", "title": "Synced 80/20 mixed (readrandomwriterandom --sync)",
     "bench": "readrandomwriterandom", "ops": ["read", "write"], "step": "sync"},
    {"id": "sync_delete", "title": "Synced random deletes (deleterandom --sync)",
     "bench": "deleterandom", "ops": ["delete"], "step": "sync"},
]

SCALES = {"10K": 10_000, "100K": 100_000, "1M": 1_000_000, "10M": 10_000_000}
# Operation caps, so a 10M run measures 10M keys without 10M seeks of 100 nexts each.
READ_CAP = 1_000_000
SEEK_CAP = 100_000
SYNC_CAP = 20_000


def fmt_int(x):
    return "{:,}".format(int(round(x)))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Matrix:
    def __init__(self, a):
        self.a = a
        self.driver = a.driver
        self.out = a.out
        self.cells_done = 0
        self.started = time.time()
        self.cell_seconds = {}  # scale -> [seconds of finished cells]

    # ---- the stores as the matrix sees them (a store + a RocksDB library) ------------------
    def variants(self):
        v = []
        for s in self.a.stores:
            uses_rocksdb = s in ("rocksdb", "hybrid")
            if not uses_rocksdb or self.a.rocksdb_lib in ("debian", "both"):
                v.append((s, s, None))
            if uses_rocksdb and self.a.rocksdb_lib in ("release", "both"):
                v.append((s + "_release", s, self.a.release_lib))
            elif uses_rocksdb and self.a.rocksdb_lib not in ("debian", "both", "release"):
                v.append((s, s, self.a.rocksdb_lib))
        return v

    def steps(self, n):
        """The processes of one (store, scale, repeat), in order: name -> driver flags."""
        reads = min(n, READ_CAP)
        common = ["--num=%d" % n, "--key_size=16", "--value_size=100",
                  "--compression_type=" + self.a.compression, "--seed=%d" % self.a.seed]
        if self.a.sync:
            return [
                ("load", common + ["--benchmarks=fillrandom_unique"]),
                ("sync", common + ["--use_existing_db", "--sync", "--readwritepercent=80",
                                   "--benchmarks=overwrite,readrandomwriterandom,deleterandom",
                                   "--writes=%d" % min(n, self.a.sync_ops),
                                   "--reads=%d" % min(n, self.a.sync_ops),
                                   "--deletes=%d" % min(n, self.a.sync_ops)]),
            ]
        return [
            ("seq", common + ["--benchmarks=fillseq"]),
            # readseq warms every cache (RocksDB's block cache, the page cache) before the
            # timed reads; its own figures are kept in raw/ but not reported.
            ("load", common + ["--benchmarks=fillrandom_unique,readseq,readrandom,"
                               "readrandomwriterandom,readwhilewriting",
                               "--reads=%d" % reads, "--readwritepercent=80", "--threads=2"]),
            ("scan", common + ["--use_existing_db", "--benchmarks=readseq,seekrandom,deleterandom",
                               "--reads=%d" % min(n, SEEK_CAP), "--seek_nexts=100",
                               "--deletes=%d" % reads]),
        ]

    def run_cell(self, scale, repeat, variant, store, lib):
        n = SCALES[scale]
        cell_dir = os.path.join(self.out, "raw", scale, variant)
        os.makedirs(cell_dir, exist_ok=True)
        db = os.path.join(self.a.workdir, "db_" + variant)
        env = dict(os.environ)
        extra = []
        if lib:
            if store == "rocksdb":
                extra.append("--rocksdb_lib=" + lib)
            else:  # hybrid: the plugin loads real RocksDB from this variable
                env["ALEXSTORAGE_ROCKSDB_LIB"] = lib
        results = []
        t0 = time.time()
        for step, flags in self.steps(n):
            for sub, sub_flags in self.split_threads(step, flags):
                jpath = os.path.join(cell_dir, "r%d-%s.json" % (repeat, sub))
                cmd = [self.driver, "--store=" + store, "--db=" + db, "--json=" + jpath] + \
                    extra + sub_flags
                line = ("ALEXSTORAGE_ROCKSDB_LIB=%s " % lib if lib and store == "hybrid"
                        else "") + " ".join(cmd)
                # Written as it runs, so a run stopped halfway still says what it ran.
                with open(os.path.join(self.out, "commands.txt"), "a") as f:
                    f.write(line + "\n")
                p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env=env)
                with open(jpath[:-5] + ".txt", "w") as f:
                    f.write(p.stdout)
                    f.write(p.stderr)
                if p.returncode != 0:
                    sys.exit("compare: %s failed (exit %d):\n%s\n%s" % (
                        " ".join(cmd), p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
                with open(jpath) as f:
                    results.append(json.load(f))
        shutil.rmtree(db, ignore_errors=True)
        self.cell_seconds.setdefault(scale, []).append(time.time() - t0)
        return results

    @staticmethod
    def split_threads(step, flags):
        """readwhilewriting needs --threads=2; the other benchmarks of the load step run with
        one thread, as the seeds' tables did: one process per thread count, the second one on
        the database the first left (--use_existing_db)."""
        if "--threads=2" not in flags:
            return [(step, flags)]
        base = [f for f in flags if f != "--threads=2" and not f.startswith("--benchmarks=")]
        benches = [f for f in flags if f.startswith("--benchmarks=")][0][len("--benchmarks="):]
        single = [b for b in benches.split(",") if b != "readwhilewriting"]
        return [(step, base + ["--benchmarks=" + ",".join(single)]),
                (step + "-threads", base + ["--use_existing_db", "--threads=2",
                                            "--benchmarks=readwhilewriting"])]

    def eta(self, remaining_by_scale):
        secs = 0.0
        known = [s for v in self.cell_seconds.values() for s in v]
        for sc, count in remaining_by_scale.items():
            mine = self.cell_seconds.get(sc)
            if mine:
                per = statistics.mean(mine)
            elif known:  # scale from a smaller scale's cells, linearly in keys
                base_sc = max(self.cell_seconds, key=lambda k: SCALES[k])
                per = statistics.mean(self.cell_seconds[base_sc]) * SCALES[sc] / SCALES[base_sc]
            else:
                return None
            secs += per * count
        return secs

    def run(self):
        variants = self.variants()
        plan = []
        for scale in self.a.scales:
            for r in range(self.a.repeats):
                order = variants if r % 2 == 0 else list(reversed(variants))
                for v in order:
                    plan.append((scale, r, v))
        raw = {}
        for i, (scale, r, (variant, store, lib)) in enumerate(plan):
            remaining = {}
            for sc, _, _ in plan[i:]:
                remaining[sc] = remaining.get(sc, 0) + 1
            eta = self.eta(remaining)
            elapsed = time.time() - self.started
            log("[%d/%d] %s %s repeat %d/%d; elapsed %s%s" % (
                i + 1, len(plan), scale, variant, r + 1, self.a.repeats, hms(elapsed),
                "" if eta is None else ", about %s left" % hms(eta)))
            raw.setdefault(scale, {}).setdefault(variant, []).append(
                self.run_cell(scale, r, variant, store, lib))
        log("matrix done in %s" % hms(time.time() - self.started))
        return raw


def hms(s):
    s = int(s)
    return "%dh%02dm%02ds" % (s // 3600, s % 3600 // 60, s % 60) if s >= 3600 else \
        "%dm%02ds" % (s // 60, s % 60)


# ---- from raw results to medians ---------------------------------------------------------------

def load_raw(out):
    """raw[scale][variant] = [the JSON documents of repeat k, ...] from out/raw/."""
    raw = {}
    base = os.path.join(out, "raw")
    for scale in sorted(os.listdir(base), key=lambda s: SCALES.get(s, 0)):
        for variant in sorted(os.listdir(os.path.join(base, scale))):
            d = os.path.join(base, scale, variant)
            by_repeat = {}
            for name in sorted(os.listdir(d)):
                if name.endswith(".json") and name.startswith("r"):
                    k = int(name[1:].split("-", 1)[0])
                    with open(os.path.join(d, name)) as f:
                        by_repeat.setdefault(k, []).append(json.load(f))
            raw.setdefault(scale, {})[variant] = [by_repeat[k] for k in sorted(by_repeat)]
    return raw


def find_result(run_jsons, bench):
    for j in run_jsons:
        for r in j["results"]:
            if r["name"] == bench and not r.get("skipped"):
                return r
    return None


def summarize(raw, workloads):
    """summary[workload][scale][variant] = {metric: median over repeats}."""
    summary = {}
    for w in workloads:
        for scale, by_variant in raw.items():
            for variant, repeats in by_variant.items():
                samples = {}
                for run_jsons in repeats:
                    r = find_result(run_jsons, w["bench"])
                    if r is None:
                        continue
                    samples.setdefault("ops_per_sec", []).append(r["ops_per_sec"])
                    samples.setdefault("mean_ns", []).append(r["micros_per_op"] * 1000.0)
                    for op in w["ops"]:
                        lat = r["latency"].get(op)
                        if lat:
                            for k in ("p50_ns", "p99_ns", "p99.9_ns", "p75_ns", "p99.99_ns"):
                                samples.setdefault(op + ":" + k, []).append(lat[k])
                if samples:
                    summary.setdefault(w["id"], {}).setdefault(scale, {})[variant] = {
                        k: statistics.median(v) for k, v in samples.items()}
                    summary[w["id"]][scale][variant]["repeats"] = len(samples["ops_per_sec"])
    return summary


# ---- report -------------------------------------------------------------------------------------

def ordered_variants(present):
    order = ["alex", "rocksdb", "rocksdb_release", "sqlite", "lmdb", "hybrid", "hybrid_release",
             "alex_capi"]
    return [v for v in order if v in present]


def metric_rows(w):
    rows = []
    for op in w["ops"]:
        suffix = " (%s)" % op if len(w["ops"]) > 1 else ""
        rows.append(("p50%s, ns" % suffix, op + ":p50_ns", "low"))
    rows.append(("mean, ns/op", "mean_ns", "low"))
    for op in w["ops"]:
        suffix = " (%s)" % op if len(w["ops"]) > 1 else ""
        rows.append(("p99%s, ns" % suffix, op + ":p99_ns", "low"))
    rows.append(("ops/sec", "ops_per_sec", "high"))
    return rows


def winner_cell(values, better):
    vals = {v: x for v, x in values.items() if x is not None and x > 0}
    if len(vals) < 2:
        return "-"
    ranked = sorted(vals, key=lambda v: vals[v], reverse=(better == "high"))
    best, second = ranked[0], ranked[1]
    factor = vals[second] / vals[best] if better == "low" else vals[best] / vals[second]
    return "%s (x%.2f over %s)" % (STORE_LABELS[best], factor, STORE_LABELS[second])


def alex_vs_rocksdb(values, better, rocks="rocksdb"):
    a, r = values.get("alex"), values.get(rocks)
    if not a or not r:
        return "-"
    f = r / a if better == "low" else a / r
    return "%.2fx faster" % f if f >= 1 else "%.2fx slower" % (1 / f)


def report(a, env_text, summary, workloads, claims, plots):
    lines = []
    w_ = lines.append
    w_("# AlexStorage vs RocksDB, SQLite, LMDB: %s" % a.run_id)
    w_("")
    w_("Written by `compare/compare.py` from the JSON in `raw/`; every figure is the median of "
       "the repeats of its scale (%s; stores alternate their order between repeats). "
       "Commands: `commands.txt`. Environment: `environment.txt`." % ", ".join(
           "%s: %d" % (sc, n) for sc, n in a.repeats_by_scale.items()))
    w_("")
    w_("- Scales: %s keys; key 16 bytes, value 100 bytes (db_bench's keys and values); "
       "compression: %s; durability: %s." % (", ".join(a.scales), a.compression,
       "every write synced (--sync)" if a.sync else "buffered (no fsync per write; each store's "
       "mapping in db_bench_ext/README.md)"))
    w_("- RocksDB: %s." % rocksdb_desc(a))
    w_("- Operation caps: reads, mixed operations and deletes at most %s per run, seeks (each "
       "followed by 100 nexts) at most %s%s; the data set is always the full scale." % (
           fmt_int(READ_CAP), fmt_int(SEEK_CAP),
           ", synced operations at most %s per benchmark" % fmt_int(a.sync_ops) if a.sync
           else ""))
    w_("- Latencies are per operation, in nanoseconds, from the driver's histograms (within "
       "1.6%); mean is db_bench's micros/op. Winner: the best store for the row and its factor "
       "over the runner-up.")
    w_("")
    w_("```")
    w_(env_text.strip())
    w_("```")
    for w in workloads:
        if w["id"] not in summary:
            continue
        w_("")
        w_("## %s" % w["title"])
        for scale in a.scales:
            cells = summary[w["id"]].get(scale)
            if not cells:
                continue
            variants = ordered_variants(cells)
            w_("")
            w_("**%s keys**" % scale)
            w_("")
            release = "rocksdb_release" in variants and "rocksdb" in variants
            head = ["Metric"] + [STORE_LABELS[v] for v in variants] + ["Winner",
                                                                       "AlexStorage vs RocksDB"]
            if release:
                head.append("AlexStorage vs RocksDB (release)")
            w_("| " + " | ".join(head) + " |")
            w_("|" + "---|" * len(head))
            for label, key, better in metric_rows(w):
                values = {v: cells[v].get(key) for v in variants}
                row = [label] + [fmt_int(values[v]) if values[v] is not None else "-"
                                 for v in variants]
                row += [winner_cell(values, better), alex_vs_rocksdb(values, better)]
                if release:
                    row.append(alex_vs_rocksdb(values, better, "rocksdb_release"))
                w_("| " + " | ".join(row) + " |")
        if len(a.scales) > 1:
            w_("")
            w_("Scaling, p50 %s latency (ns) as the data set grows:" % w["ops"][0])
            w_("")
            head = ["Store"] + a.scales + ["%s -> %s" % (a.scales[0], a.scales[-1])]
            w_("| " + " | ".join(head) + " |")
            w_("|" + "---|" * len(head))
            key = w["ops"][0] + ":p50_ns"
            present = set()
            for sc in a.scales:
                present |= set(summary[w["id"]].get(sc, {}))
            for v in ordered_variants(present):
                vals = [summary[w["id"]].get(sc, {}).get(v, {}).get(key) for sc in a.scales]
                factor = "x%.2f" % (vals[-1] / vals[0]) if vals[0] and vals[-1] else "-"
                w_("| %s | %s | %s |" % (STORE_LABELS[v], " | ".join(
                    fmt_int(x) if x else "-" for x in vals), factor))
    if claims and not a.sync:
        w_("")
        w_("## The design notes' claims beside these measurements")
        w_("")
        w_("Claims, not measurements: %s" % claims["source"])
        w_("")
        w_("| Workload | Scale | Store | Claimed, ns/op | Measured here, mean ns/op |")
        w_("|---|---|---|---|---|")
        for wid, by_scale in claims["claims"].items():
            for scale, by_store in by_scale.items():
                for store, claimed in by_store.items():
                    got = summary.get(wid, {}).get(scale, {}).get(store, {}).get("mean_ns")
                    w_("| %s | %s | %s | %s (claim) | %s |" % (
                        wid, scale, STORE_LABELS[store], fmt_int(claimed),
                        fmt_int(got) if got else "not run"))
    if plots:
        w_("")
        w_("## Plots")
        for title, name in plots:
            w_("")
            w_("%s:" % title)
            w_("")
            w_("![%s](%s)" % (title, name))
    return "\n".join(lines) + "\n"


def rocksdb_desc(a):
    if a.rocksdb_lib == "debian":
        return "Debian's librocksdb 7.8.3 (built with assertions on, as Debian ships it)"
    if a.rocksdb_lib == "release":
        return "7.8.3 built from Debian's source with Debian's flags plus -DNDEBUG " \
               "(scripts/build_rocksdb_release.sh)"
    if a.rocksdb_lib == "both":
        return "both Debian's librocksdb 7.8.3 (assertions on) and a release build of the same " \
               "source with -DNDEBUG (scripts/build_rocksdb_release.sh), columns '(release)'"
    return "the library at %s" % a.rocksdb_lib


# ---- plots ---------------------------------------------------------------------------------------

def draw_plots(a, summary, workloads):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("compare: matplotlib missing (python3-matplotlib): no plots")
        return []
    plots = []
    # 1. p50 latency by store and scale, one panel per workload.
    if len(a.scales) > 1:
        ws = [w for w in workloads if w["id"] in summary]
        fig, axes = plt.subplots(1, len(ws), figsize=(4 * len(ws), 3.6), squeeze=False)
        for ax, w in zip(axes[0], ws):
            key = w["ops"][0] + ":p50_ns"
            present = set()
            for sc in a.scales:
                present |= set(summary[w["id"]].get(sc, {}))
            for v in ordered_variants(present):
                xs, ys = [], []
                for sc in a.scales:
                    val = summary[w["id"]].get(sc, {}).get(v, {}).get(key)
                    if val:
                        xs.append(SCALES[sc])
                        ys.append(val)
                ax.plot(xs, ys, marker="o", label=STORE_LABELS[v])
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(w["id"], fontsize=9)
            ax.set_xlabel("keys")
            ax.set_ylabel("p50 ns/op")
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(a.out, "latency_by_scale.png"), dpi=110)
        plt.close(fig)
        plots.append(("p50 latency by store and scale, per workload", "latency_by_scale.png"))
    # 2. p50/p99 bars per workload at each scale.
    for scale in a.scales:
        ws = [w for w in workloads if scale in summary.get(w["id"], {})]
        if not ws:
            continue
        fig, axes = plt.subplots(1, len(ws), figsize=(4 * len(ws), 3.6), squeeze=False)
        for ax, w in zip(axes[0], ws):
            cells = summary[w["id"]][scale]
            vs = ordered_variants(cells)
            op = w["ops"][0]
            p50 = [cells[v].get(op + ":p50_ns", 0) for v in vs]
            p99 = [cells[v].get(op + ":p99_ns", 0) for v in vs]
            xs = range(len(vs))
            ax.bar([x - 0.2 for x in xs], p50, width=0.4, label="p50")
            ax.bar([x + 0.2 for x in xs], p99, width=0.4, label="p99")
            ax.set_xticks(list(xs))
            ax.set_xticklabels([STORE_LABELS[v] for v in vs], rotation=45, ha="right",
                               fontsize=7)
            ax.set_yscale("log")
            ax.set_title("%s, %s" % (w["id"], scale), fontsize=9)
            ax.set_ylabel("ns/op")
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        name = "p50_p99_%s.png" % scale
        fig.savefig(os.path.join(a.out, name), dpi=110)
        plt.close(fig)
        plots.append(("p50 and p99 per store at %s keys" % scale, name))
    # 3. Latency-percentile curve of point reads at 1M (or the largest scale run).
    scale = "1M" if "1M" in a.scales else a.scales[-1]
    cells = summary.get("point_reads", {}).get(scale) or summary.get(
        "sync_overwrite", {}).get(scale)
    if cells:
        wid = "point_reads" if "point_reads" in summary else "sync_overwrite"
        op = "read" if wid == "point_reads" else "write"
        fig, ax = plt.subplots(figsize=(6, 4))
        pct = [50, 75, 99, 99.9, 99.99]
        keys = ["p50_ns", "p75_ns", "p99_ns", "p99.9_ns", "p99.99_ns"]
        for v in ordered_variants(cells):
            ys = [cells[v].get(op + ":" + k) for k in keys]
            if all(ys):
                ax.plot(range(len(pct)), ys, marker="o", label=STORE_LABELS[v])
        ax.set_xticks(range(len(pct)))
        ax.set_xticklabels(["p%s" % p for p in pct])
        ax.set_yscale("log")
        ax.set_ylabel("ns/op")
        ax.set_title("%s latency percentiles at %s keys" % (wid, scale), fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        name = "percentiles_%s_%s.png" % (wid, scale)
        fig.savefig(os.path.join(a.out, name), dpi=110)
        plt.close(fig)
        plots.append(("%s latency percentiles at %s keys" % (wid, scale), name))
    return plots


# ---- environment -------------------------------------------------------------------------------

def environment_text(a, raw):
    any_json = None
    for by_variant in raw.values():
        for repeats in by_variant.values():
            any_json = repeats[0][0]
            break
        break
    e = any_json["environment"] if any_json else {}
    lines = [
        "date:        %s" % e.get("date", ""),
        "cpu:         %s x %s (%s online), cache %s" % (e.get("cpus"), e.get("cpu_model"),
                                                       e.get("online_cores"), e.get("cpu_cache")),
        "memory:      %s" % e.get("memory", ""),
        "kernel:      %s" % e.get("kernel", ""),
        "filesystem:  %s (%s)" % (e.get("filesystem", ""), a.workdir or "database directory"),
        "build:       alex_db_bench %s" % e.get("build_type", ""),
        "versions:    %s" % "; ".join("%s %s" % kv for kv in e.get("versions", {}).items()),
        "rocksdb:     %s" % rocksdb_desc(a),
    ]
    if a.rocksdb_lib in ("release", "both"):
        lines.append("release lib: %s" % a.release_lib)
        info = os.path.join(os.path.dirname(os.path.dirname(a.release_lib)), "BUILD-INFO")
        if os.path.exists(info):
            with open(info) as f:
                lines += ["             " + l.rstrip() for l in f]
    lines.append("debian lib assertions: %s" % ("on" if e.get("rocksdb_assertions") else "off"))
    lines.append("git:         %s" % git_describe())
    lines.append("python:      %s %s" % (platform.python_implementation(),
                                         platform.python_version()))
    return "\n".join(lines) + "\n"


def git_describe():
    try:
        return subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True).stdout.strip()
    except OSError:
        return "unknown"


def print_tables(report_md):
    """The report's tables on the terminal (README command 1), without the plot links."""
    out = []
    for line in report_md.splitlines():
        if line.startswith("![") or line.startswith("## Plots"):
            continue
        out.append(line)
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", default="100K", help="comma-separated: 10K,100K,1M,10M")
    ap.add_argument("--stores", default=",".join(ALL_STORES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sync", action="store_true", help="synced-write variant of the matrix")
    ap.add_argument("--sync-ops", dest="sync_ops", type=int, default=SYNC_CAP,
                    help="with --sync: operations per synced benchmark (default %d)" % SYNC_CAP)
    ap.add_argument("--compression", default="none", help="none or lz4 (lmdb/sqlite: none)")
    ap.add_argument("--rocksdb-lib", dest="rocksdb_lib", default="debian",
                    help="debian, release (scripts/build_rocksdb_release.sh), both, or a path")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--driver", default=os.path.join(ROOT, "build", "db_bench_ext",
                                                     "alex_db_bench"))
    ap.add_argument("--out", help="results directory (default results/<run-id>)")
    ap.add_argument("--run-id", dest="run_id")
    ap.add_argument("--workdir", help="where the databases live (default: a temporary "
                    "directory under /tmp)")
    ap.add_argument("--quiet", action="store_true", help="do not print the tables at the end")
    ap.add_argument("--report-only", dest="report_only", action="store_true",
                    help="run nothing: write report.md, summary.json and the plots again from "
                    "the raw/ of --out (e.g. after a run was stopped)")
    ap.add_argument("--add", action="store_true",
                    help="add this run's scales to the results directory --out names (e.g. a "
                    "10M run with fewer repeats); the report then covers all of them")
    a = ap.parse_args()

    a.scales = [s.strip() for s in a.scales.split(",") if s.strip()]
    for s in a.scales:
        if s not in SCALES:
            sys.exit("compare: unknown scale %s (known: %s)" % (s, ", ".join(SCALES)))
    a.scales.sort(key=lambda s: SCALES[s])
    a.stores = [s.strip() for s in a.stores.split(",") if s.strip()]
    for s in a.stores:
        if s not in ALL_STORES:
            sys.exit("compare: unknown store %s (known: %s)" % (s, ", ".join(ALL_STORES)))
    if a.repeats < 1:
        sys.exit("compare: --repeats must be >= 1")
    if not a.report_only and not os.access(a.driver, os.X_OK):
        sys.exit("compare: no driver at %s (build first: scripts/setup.sh)" % a.driver)
    a.release_lib = None
    if a.rocksdb_lib in ("release", "both"):
        p = subprocess.run([os.path.join(ROOT, "scripts", "build_rocksdb_release.sh")],
                           stdout=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit("compare: the release RocksDB build failed")
        a.release_lib = p.stdout.strip().splitlines()[-1]
    elif a.rocksdb_lib != "debian" and not os.path.exists(a.rocksdb_lib):
        sys.exit("compare: --rocksdb-lib %s does not exist" % a.rocksdb_lib)
    if not a.run_id:
        a.run_id = "%s-%s%s%s" % (datetime.date.today().isoformat(), "-".join(a.scales),
                                  "-sync" if a.sync else "",
                                  "-" + a.rocksdb_lib if a.rocksdb_lib in ("release", "both")
                                  else "")
    a.out = a.out or os.path.join(ROOT, "results", a.run_id)
    if os.path.isdir(os.path.join(a.out, "raw")) and not (a.add or a.report_only):
        sys.exit("compare: %s already holds a run; use another --out, or --add to add scales "
                 "to it" % a.out)
    os.makedirs(a.out, exist_ok=True)
    tmp = None
    if not a.workdir and not a.report_only:
        tmp = a.workdir = tempfile.mkdtemp(prefix="axs_compare_")
    workloads = SYNC_WORKLOADS if a.sync else WORKLOADS
    # Appended: a directory grown with --add keeps every invocation's commands and machine.
    with open(os.path.join(a.out, "commands.txt"), "a") as f:
        f.write("# compare/compare.py %s\n" % " ".join(sys.argv[1:]))
    if a.report_only:
        raw = load_raw(a.out)
    else:
        try:
            raw = Matrix(a).run()
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
    env_text = environment_text(a, raw)
    with open(os.path.join(a.out, "environment.txt"), "a") as f:
        f.write("# scales %s\n" % ", ".join(a.scales))
        f.write(env_text)
    # The report covers every scale the directory holds (this run's, and earlier ones' with
    # --add).
    raw = load_raw(a.out)
    a.scales = list(raw)
    a.repeats_by_scale = {sc: max(len(r) for r in raw[sc].values()) for sc in raw}
    summary = summarize(raw, workloads)
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump({"run_id": a.run_id, "scales": a.scales, "repeats": a.repeats_by_scale,
                   "rocksdb": rocksdb_desc(a), "summary": summary}, f, indent=1)
    with open(os.path.join(HERE, "seed_claims.json")) as f:
        claims = json.load(f)
    plots = draw_plots(a, summary, workloads)
    md = report(a, env_text, summary, workloads, claims, plots)
    with open(os.path.join(a.out, "report.md"), "w") as f:
        f.write(md)
    if not a.quiet:
        print_tables(md)
    log("compare: wrote %s" % os.path.join(a.out, "report.md"))


if __name__ == "__main__":
    main()
