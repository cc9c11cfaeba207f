#!/usr/bin/env bash
# reliability.sh: the long reliability campaign, and its report in results/<date>-reliability/.
#
# The test suite runs every campaign briefly; this runs them at length on the Release build
# (build/, via scripts/setup.sh) and the fuzzers in a clang build (build-fuzz-long/, via
# core/tests/fuzz/run_long.sh), one after the other, then writes report.md from the figures
# the tests print (scripts/reliability_report.py). Each campaign's output is kept in logs/.
#
#   scripts/reliability.sh                 # the full campaign (about 1.5 hours on 2 cores)
#   scripts/reliability.sh --quick         # every campaign at its suite size (a few minutes)
#   OUT=/tmp/rel scripts/reliability.sh    # write somewhere else
#
# Sizes (environment, defaults of the full campaign):
#   CRASH_ITERS=2000        iterations of each crash loop (test_crash)
#   POWERLOSS_POINTS=3000   power-loss points of each case (test_powerloss)
#   GROUP_TRIALS=400        trials of each group-commit fault case (test_group_faults)
#   FUZZ_SECONDS=600        seconds of each libFuzzer target
#   SOAK_SECONDS=600        seconds of the soak (scripts/soak.sh, its report in soak/)
# test_faults (every I/O call site of its workload) and test_corruption (every region of every
# file) are exhaustive at their normal size and run as they are.
# Exit status: non-zero if any campaign failed; the report is written either way.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1
if ((quick)); then
  : "${CRASH_ITERS:=}" "${POWERLOSS_POINTS:=}" "${GROUP_TRIALS:=}" "${FUZZ_SECONDS:=20}" \
    "${SOAK_SECONDS:=30}"
else
  : "${CRASH_ITERS:=2000}" "${POWERLOSS_POINTS:=3000}" "${GROUP_TRIALS:=400}" \
    "${FUZZ_SECONDS:=600}" "${SOAK_SECONDS:=600}"
fi
out=${OUT:-$here/results/$(date -u +%Y-%m-%d)-reliability}
mkdir -p "$out/logs"

"$here/scripts/setup.sh" || exit 1
bin=$here/build/core/tests

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$here" rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "kernel: $(uname -srm)"
  echo "cpus: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "memory: $(grep MemTotal /proc/meminfo | awk '{print $2 " kB"}')"
  echo "gcc: $(gcc --version | head -1)"
  echo "clang: $(clang --version | head -1)"
  echo "tmp for simulated I/O: $( [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")"
} >"$out/env.txt"
: >"$out/commands.txt"

status=0
run() { # <log name> <env assignments...> -- <command...>
  local log=$1
  shift
  local envs=()
  while [ "$1" != "--" ]; do
    [ -n "${1#*=}" ] && envs+=("$1") # an empty size: the test's own default
    shift
  done
  shift
  echo "${envs[*]} $*" | sed "s|$here/||g" >>"$out/commands.txt"
  echo "== $log: ${envs[*]} $(basename "$1") ${*:2}"
  local t0=$SECONDS
  if ! env "${envs[@]}" "$@" >"$out/logs/$log.log" 2>&1; then
    echo "   FAILED (see $out/logs/$log.log)"
    status=1
  fi
  echo "   $((SECONDS - t0)) s"
}

run crash ALEXSTORAGE_CRASH_ITERS="$CRASH_ITERS" -- "$bin/reliability/test_crash"
run powerloss ALEXSTORAGE_POWERLOSS_POINTS="$POWERLOSS_POINTS" -- "$bin/reliability/test_powerloss"
run faults ALEXSTORAGE_TEST_SCALE=1 -- "$bin/reliability/test_faults"
run group_faults ALEXSTORAGE_GROUP_TRIALS="$GROUP_TRIALS" -- "$bin/reliability/test_group_faults"
run corruption ALEXSTORAGE_TEST_SCALE=1 -- "$bin/reliability/test_corruption"
# The soak through its own script: its CSV of RSS and fds, and its report, go to soak/.
run soak -- "$here/scripts/soak.sh" --seconds "$SOAK_SECONDS" --out "$out/soak"

# The fuzzers: run_long.sh builds them (clang) and writes one log per target.
echo "FUZZ_SECONDS=$FUZZ_SECONDS core/tests/fuzz/run_long.sh $FUZZ_SECONDS" >>"$out/commands.txt"
echo "== fuzz: core/tests/fuzz/run_long.sh $FUZZ_SECONDS"
fuzz_build=${FUZZ_BUILD:-$here/build-fuzz-long}
if ! BUILD=$fuzz_build "$here/core/tests/fuzz/run_long.sh" "$FUZZ_SECONDS" >"$out/logs/fuzz.txt" 2>&1; then
  echo "   FAILED (see $out/logs/fuzz.txt)"
  status=1
fi
for f in "$fuzz_build"/fuzz-logs/fuzz_*.log; do
  [ -f "$f" ] && cp "$f" "$out/logs/"
done

/usr/bin/python3 "$here/scripts/reliability_report.py" "$out" || status=1
exit $status
