#!/usr/bin/env bash
# bench_index.sh: run the ALEX index benchmarks (core/bench/axi_bench) and summarise them.
#
# Runs $BUILD_DIR/core/bench/axi_bench with console output, records the full google-benchmark
# JSON in results/index/<UTC timestamp>.json, then prints a markdown table made from that JSON
# (and saves it next to it as <timestamp>.md). Every number in the table comes from the JSON.
#
#   scripts/bench_index.sh                                  # 1M and 10M keys, ~3 min
#   AXI_BENCH_SIZES=1000000 scripts/bench_index.sh          # 1M only (quick / CI)
#   BUILD_DIR=out scripts/bench_index.sh --benchmark_filter='Lookup|BinarySearch'
#   scripts/bench_index.sh --benchmark_repetitions=5        # table shows the median
#
# Arguments are passed to axi_bench (its --axi_* flags or google-benchmark's --benchmark_*).
# BUILD_DIR defaults to build/ in the repository; a relative BUILD_DIR is taken from the
# current directory, as in scripts/setup.sh, which builds it. RESULTS_DIR (default
# results/index in the repository) is where the JSON and table go. Needs python3 for the table.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$here/build}
bench=$build_dir/core/bench/axi_bench

if [ ! -x "$bench" ]; then
  echo "bench_index: $bench not found; build first (scripts/setup.sh, or BUILD_DIR=...)" >&2
  exit 1
fi
python=$(command -v /usr/bin/python3 || command -v python3 || true)
if [ -z "$python" ]; then
  echo "bench_index: python3 is needed for the summary table (Debian package python3)" >&2
  exit 1
fi

out_dir=${RESULTS_DIR:-$here/results/index}
mkdir -p "$out_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
json=$out_dir/$stamp.json
table=$out_dir/$stamp.md

"$bench" --benchmark_format=console --benchmark_out="$json" --benchmark_out_format=json "$@"

echo
"$python" - "$json" <<'PY' | tee "$table"
import json, statistics, sys

path = sys.argv[1]
with open(path) as f:
    doc = json.load(f)
ctx = doc.get("context", {})
SCALE = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Collect runs per (benchmark, dist, n). With --benchmark_repetitions, use the median aggregate.
runs, medians, errors, order = {}, {}, {}, []
for b in doc.get("benchmarks", []):
    parts = b.get("run_name", b["name"]).split("/")
    if len(parts) < 3:
        continue
    key = (parts[0], parts[1], int(parts[2]))
    if key not in order:
        order.append(key)
    if b.get("error_occurred"):
        errors[key] = b.get("error_message", "error")
        continue
    b = dict(b)
    for t in ("real_time", "cpu_time"):
        if t in b:
            b[t] = b[t] * SCALE.get(b.get("time_unit", "ns"), 1.0)
    if b.get("run_type") == "aggregate":
        if b.get("aggregate_name") == "median":
            medians[key] = b
    else:
        runs.setdefault(key, []).append(b)

def value(key, field):
    """The field of one benchmark: its median aggregate, else the median over its runs."""
    if key in medians:
        return medians[key].get(field)
    vals = [r[field] for r in runs.get(key, []) if field in r]
    return statistics.median(vals) if vals else None

def fmt(v, digits=1):
    if v is None:
        return ""
    if digits == 0 or abs(v) >= 1e4:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"

# ns per operation: the per-key/op counters of the one-shot phases, else time per iteration.
PER_OP = {"BulkLoad": "ns_per_key", "Insert": "ns_per_insert", "Erase": "ns_per_erase"}

print(f"ALEX index benchmarks, {ctx.get('date', '?')}, {ctx.get('cpu_model', '?')} "
      f"x{ctx.get('num_cpus', '?')}, build {ctx.get('build_type', '?')}, "
      f"{ctx.get('compiler', '?')}, seed {ctx.get('axi_seed', '?')}")
reps = " (median of repetitions)" if medians else ""
print(f"Source: {path}{reps}")
print()
print("| benchmark | keys | N | ns/op | ALEX/binary search | p50 ns | p99 ns | p99.9 ns "
      "| max ns | bytes/key |")
print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
notes = []
for key in order:
    bench, dist, n = key
    label = (medians.get(key) or (runs.get(key) or [{}])[0]).get("label", "")
    if label:
        notes.append(f"{bench}/{dist}/{n}: {label}")
    cells = [bench + (" *" if label else ""), dist, f"{n:,}"]
    if key in errors and key not in runs and key not in medians:
        print("| " + " | ".join(cells + [f"error: {errors[key]}"] + [""] * 6) + " |")
        continue
    ns = value(key, PER_OP.get(bench, "real_time"))
    ratio = None
    if bench == "Lookup":
        bs = value(("BinarySearch", dist, n), "real_time")
        ratio = ns / bs if ns is not None and bs else None
    cells += [fmt(ns), fmt(ratio, 2)]
    if bench == "Insert":
        cells += [fmt(value(key, f), 0) for f in ("p50_ns", "p99_ns", "p999_ns", "max_ns")]
    else:
        cells += [""] * 4
    cells.append(fmt(value(key, "bytes_per_key")))
    print("| " + " | ".join(cells) + " |")
print()
for note in notes:
    print(f"* {note}")
print("ns/op: BulkLoad per key loaded, Lookup/BinarySearch per lookup, Scan per scan "
      "(lower_bound + 100 axi_next), Insert/Erase mean per key over the whole phase.")
print("ALEX/binary search: Lookup time over std::lower_bound time on the same keys in the same "
      "order; below 1 means ALEX is faster.")
clock = ctx.get("latency_clock_overhead", "")
print("Insert percentiles are single-insert latencies and include the clock read"
      + (f": {clock}." if clock else "."))
PY
echo "bench_index: results in $json and $table"
