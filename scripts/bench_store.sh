#!/usr/bin/env bash
# bench_store.sh: run the store comparison (core/bench/store_bench): AlexStorage, LMDB and
# RocksDB through one driver, same keys, values and order (see the top of store_bench.c).
#
# Runs $BUILD_DIR/core/bench/store_bench with the given arguments, saves its JSON as
# results/store/<UTC timestamp>.json and its output (environment block and markdown table) as
# <timestamp>.md next to it. Every number in the table is also in the JSON.
#
#   scripts/bench_store.sh                              # N = 1,000,000, all stores, ~1-2 min
#   scripts/bench_store.sh --repetitions=3              # table shows the median of 3 runs
#   scripts/bench_store.sh --num=100000 --stores=alex,rocksdb
#   scripts/bench_store.sh --sync                       # every write synced, N = 20,000
#   BUILD_DIR=out scripts/bench_store.sh --dir=/mnt/nvme
#
# Arguments go to store_bench (store_bench --help lists them; --json is set here). BUILD_DIR
# defaults to build/ in the repository; a relative BUILD_DIR is taken from the current
# directory, as in scripts/setup.sh, which builds it. RESULTS_DIR (default results/store in the
# repository) is where the JSON and table go. Benchmark numbers are only worth recording from
# a Release build; the environment block says which build produced them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$here/build}
bench=$build_dir/core/bench/store_bench

if [ ! -x "$bench" ]; then
  echo "bench_store: $bench not found; build first (scripts/setup.sh, or BUILD_DIR=...)" >&2
  exit 1
fi
for arg in "$@"; do
  case $arg in
    --json|--json=*)
      echo "bench_store: --json is set by this script (results go to RESULTS_DIR)" >&2
      exit 1 ;;
  esac
done

out_dir=${RESULTS_DIR:-$here/results/store}
mkdir -p "$out_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
json=$out_dir/$stamp.json
table=$out_dir/$stamp.md

# The source the numbers came from, recorded above the driver's own output.
rev=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$rev" != unknown ] && [ -n "$(git -C "$here" status --porcelain 2>/dev/null)" ]; then
  rev="$rev with uncommitted changes"
fi

set +e
{
  echo "<!-- scripts/bench_store.sh $*; source $rev; JSON: $json -->"
  "$bench" --json="$json" "$@"
} | tee "$table"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "bench_store: store_bench failed (exit $status); partial output in $table" >&2
  exit "$status"
fi
echo "bench_store: results in $json and $table"
