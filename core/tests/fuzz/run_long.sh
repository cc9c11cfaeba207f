#!/bin/sh
# run_long.sh: long fuzzing runs of the libFuzzer targets in core/tests/fuzz/.
#
#   core/tests/fuzz/run_long.sh [seconds] [target...]
#
# Configures a clang build in build-fuzz-long/ (at the repository root; ALEXSTORAGE_SANITIZE=address,
# no benchmarks), builds the fuzz targets and runs each for the given number of seconds
# (default 3600), one after the other, or at once with JOBS=n (n targets in parallel).
# Each target starts from its seed corpus (corpus/<target>/) plus what earlier long runs found
# (build-fuzz-long/fuzz-corpus/<target>/, kept between runs). Crashes, leaks, timeouts and OOMs are
# saved to core/tests/fuzz/crashes/<target>-<kind>-<hash>; logs go to build-fuzz-long/fuzz-logs/.
# Reproduce one with: build-fuzz-long/core/tests/fuzz/<target> core/tests/fuzz/crashes/<file>
# Once it is understood (and fixed), move it to regressions/<target>/<what-it-found>
# (regressions/README.md), where every fuzz build replays it.
#
# The databases live under /dev/shm when it is writable (else build-fuzz-long/fuzz-tmp/).
# Environment: CC (default clang), BUILD (default <repo>/build-fuzz-long), JOBS (default 1),
# FUZZ_ARGS (extra libFuzzer flags, after ours so they win, e.g. "-max_len=65536").
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
secs=${1:-3600}
[ $# -gt 0 ] && shift
targets=${*:-"fuzz_open fuzz_ops fuzz_writebatch fuzz_checkpoint"}
build=${BUILD:-$root/build-fuzz-long}
jobs=${JOBS:-1}
crashes=$here/crashes

CC=${CC:-clang} cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DALEXSTORAGE_SANITIZE=address -DALEXSTORAGE_BUILD_BENCHMARKS=OFF \
    -DALEXSTORAGE_BUILD_TESTS=ON >/dev/null
# shellcheck disable=SC2086
cmake --build "$build" --target $targets -j "$(nproc)"

mkdir -p "$crashes" "$build/fuzz-logs"
run_one() {
    t=$1
    corpus=$build/fuzz-corpus/$t
    # The databases on tmpfs when possible: the engine syncs at every close and checkpoint.
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        tmp=/dev/shm/alexstorage-fuzz-$t.$$
    else
        tmp=$build/fuzz-tmp/$t
    fi
    mkdir -p "$corpus" "$tmp"
    cp -n "$here/corpus/$t"/* "$corpus/" 2>/dev/null || true
    echo "$t: ${secs}s, log $build/fuzz-logs/$t.log"
    case $t in
        fuzz_open | fuzz_checkpoint) max_len=16384 ;;
        *) max_len=4096 ;; # fuzz_ops.c ignores longer inputs
    esac
    rc=0
    # shellcheck disable=SC2086
    TMPDIR=$tmp "$build/core/tests/fuzz/$t" -max_total_time="$secs" -rss_limit_mb=2048 \
        -timeout=60 -print_final_stats=1 -max_len="$max_len" -artifact_prefix="$crashes/$t-" \
        ${FUZZ_ARGS:-} "$corpus" >"$build/fuzz-logs/$t.log" 2>&1 || rc=$?
    rm -rf "$tmp"
    tail -n 12 "$build/fuzz-logs/$t.log" | grep -E 'stat::|ERROR|SUMMARY|Done' || true
    [ $rc -eq 0 ] || echo "$t: FAILED (exit $rc), see the log and $crashes/"
    return $rc
}

status=0
if [ "$jobs" -gt 1 ]; then
    pids=""
    for t in $targets; do
        run_one "$t" & pids="$pids $!"
    done
    for p in $pids; do wait "$p" || status=1; done
else
    for t in $targets; do run_one "$t" || status=1; done
fi
exit $status
