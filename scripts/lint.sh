#!/usr/bin/env bash
# lint.sh: static analysis of the hand-written C sources, core/src/*.c and plugin/src/*.c.
#
#   clang-tidy  the checks in .clang-tidy (the Clang Static Analyzer, bugprone-*, cert-*,
#               misc-*), every warning an error
#   cppcheck    --enable=warning,performance,portability, with the same include paths and
#               defines as the build
#
# docs/lint.md lists the checks and the reason for each exclusion. Both tools read the compile
# commands of a configure in build-lint/ (LINT_BUILD_DIR), a Debug configure with clang, so
# that assertions (our invariants) are visible to the analyzer; nothing is compiled except the
# generated header the plugin includes (plugin/gen/gen_capi.py header). The plugin's generated
# capi_gen.c and capi_probe.c are not linted: they are generator output in the build tree,
# checked by the generator's tests (docs/plugin-gen.md).
#
# Exit status is non-zero on any finding; the last line is a one-line summary.
#
#   scripts/lint.sh
#   LINT_JOBS=4 scripts/lint.sh     # clang-tidy processes in parallel (default: nproc)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${LINT_BUILD_DIR:-$here/build-lint}
jobs=${LINT_JOBS:-$(nproc)}
start=$SECONDS

CC=clang cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DALEXSTORAGE_BUILD_TESTS=OFF -DALEXSTORAGE_BUILD_BENCHMARKS=OFF -DALEXSTORAGE_WERROR=ON \
  --log-level=WARNING >/dev/null
cmake --build "$dir" --target axp_gen_header -- --no-print-directory >/dev/null

# One compile command per linted file. The core's sources are in three targets (shared,
# static, gate-slowdown copy) with the same flags but for visibility and a benchmark-only
# define; linting each file once, as the shared library builds it, is enough.
mkdir -p "$dir/lint"
python3 - "$here" "$dir/compile_commands.json" "$dir/lint/compile_commands.json" <<'EOF'
import json, sys
root, src, dst = sys.argv[1:]
keep, seen = [], set()
for e in json.load(open(src)):
    f = e["file"]
    if not any(f.startswith(f"{root}/{d}/src/") for d in ("core", "plugin")) or f in seen:
        continue
    if f.startswith(f"{root}/core/src/") and "/alexstorage.dir/" not in e.get("command", ""):
        continue
    seen.add(f)
    keep.append(e)
json.dump(keep, open(dst, "w"), indent=1)
EOF
files=("$here"/core/src/*.c "$here"/plugin/src/*.c)

# clang-tidy, one file per process. Its "N warnings generated" chatter (system headers, all
# filtered out) goes to stderr, which is kept only if a run fails without a finding.
tidy_out=$dir/lint/clang-tidy.txt
tidy_err=$dir/lint/clang-tidy.stderr
tidy_rc=0
printf '%s\0' "${files[@]}" |
  xargs -0 -P "$jobs" -n 1 clang-tidy -p "$dir/lint" --quiet --warnings-as-errors='*' \
    >"$tidy_out" 2>"$tidy_err" || tidy_rc=$?
tidy_n=$(grep -cE '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$tidy_out" || true)
cat "$tidy_out"
if ((tidy_rc != 0 && tidy_n == 0)); then
  grep -v 'warnings\? generated\|^Suppressed\|^Use -header-filter\|treated as errors' \
    "$tidy_err" >&2 || true
  tidy_n=1 # a failure without a finding (a crash, a bad compile command) still fails
fi

# cppcheck. readdirCalled is suppressed: it recommends readdir_r, which POSIX 2008 made
# obsolete and glibc deprecates (readdir on a stream of one thread is safe).
cpp_out=$dir/lint/cppcheck.txt
cpp_rc=0
cppcheck --project="$dir/lint/compile_commands.json" --std=c11 --library=posix \
  --enable=warning,performance,portability --inline-suppr --suppress=readdirCalled \
  --error-exitcode=1 -j "$jobs" --quiet \
  --template='{file}:{line}:{column}: {severity}: {message} [{id}]' >"$cpp_out" 2>&1 ||
  cpp_rc=$?
cpp_n=$(grep -cE '^[^ ]+:[0-9]+:[0-9]+: ' "$cpp_out" || true)
cat "$cpp_out"
if ((cpp_rc != 0 && cpp_n == 0)); then
  cpp_n=1
fi

status=ok
((tidy_n == 0 && cpp_n == 0)) || status=FAILED
echo "lint: $status: clang-tidy $tidy_n finding(s), cppcheck $cpp_n finding(s) in ${#files[@]}" \
  "files ($((SECONDS - start)) s)"
[ "$status" = ok ]
