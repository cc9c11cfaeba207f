#!/usr/bin/env bash
# soak.sh: the long soak of the engine (issue 8; docs/reliability.md, "Soak").
#
# Builds the soak test in Release (the normal CMake configuration, in build/), runs it for 10
# minutes (core/tests/soak/test_soak.c: writers, readers, iterators, snapshots, range, full and
# background compaction, and a SIGKILL and reopen of the database every ~30 s, all checked
# against a model, with RSS and fds sampled every second), and writes results/<date>-soak/:
#
#   soak.csv    one row per sample, written by the test (seconds,rss_kib,fds,ops,...)
#   soak.log    the test's output: seed, operation counts, kills, reopens, keys checked, lost
#   README.md   tables generated from the two by scripts/soak_report.py, and
#   soak.png    RSS and fds over time (when /usr/bin/python3 has matplotlib)
#
#   scripts/soak.sh                        # 600 s into results/<YYYY-MM-DD>-soak/
#   scripts/soak.sh --seconds 120          # a shorter run
#   scripts/soak.sh --out /tmp/soak --build-dir /tmp/build-release
#   ALEXSTORAGE_SEED=<n> scripts/soak.sh   # replay a run's random choices
#
# The exit status is the test's: non-zero if any check failed (the report is written anyway).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
invocation="scripts/soak.sh${*:+ $*}" # for the report
seconds=600
build_dir=${BUILD_DIR:-$here/build}
out=""
while (($#)); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;   # length of the run
    --out) out=$2; shift 2 ;;           # results directory (default results/<date>-soak)
    --build-dir) build_dir=$2; shift 2 ;; # Release build tree (default build/, or BUILD_DIR)
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $seconds =~ ^[0-9]+$ ]] || { echo "soak.sh: --seconds needs a whole number" >&2; exit 2; }
out=${out:-$here/results/$(date -u +%Y-%m-%d)-soak}

echo "== soak: configure and build test_soak (Release, $build_dir)"
cmake -S "$here" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release --log-level=WARNING >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target test_soak -- --no-print-directory >/dev/null
grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$build_dir/CMakeCache.txt" ||
  { echo "soak.sh: $build_dir is not a Release build" >&2; exit 2; }

mkdir -p "$out"
rm -f "$out/soak.csv" "$out/soak.log" "$out/README.md" "$out/soak.png"
bin="$build_dir/core/tests/soak/test_soak"
cmd=("$bin" "--seconds=$seconds" "--csv=$out/soak.csv")
echo "== soak: ${cmd[*]}  (about $seconds s)"
status=0
"${cmd[@]}" 2>&1 | tee "$out/soak.log" || status=$?
# pipefail gives the test's status (tee succeeds)
echo "== soak: report ($out)"
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
"$python" "$here/scripts/soak_report.py" --csv "$out/soak.csv" --log "$out/soak.log" \
  --out "$out" --status "$status" --build-dir "$build_dir" \
  --command "$invocation (ran ${cmd[*]})"
exit "$status"
