#!/usr/bin/env bash
# test.sh: the project's test command (README, command 2; CI runs exactly this).
#
# Installs what is missing and builds Release (scripts/setup.sh), then runs the whole CTest
# suite on the Release build in build/, then the static analysis (scripts/lint.sh: clang-tidy
# and cppcheck on core/src and plugin/src, in build-lint/; any finding fails), then the whole
# suite again on an AddressSanitizer + UBSan build in build-asan/ (sizes scaled by
# ALEXSTORAGE_TEST_SCALE, default 0.25 there, to keep it quick).
# Then the tests that start threads run under ThreadSanitizer (build-tsan/), and the libFuzzer
# targets (core/tests/fuzz) fuzz for 20 s each in a clang build (build-fuzz/). Warnings are
# errors in every build. Exit status is non-zero if any test or lint check fails.
#
#   scripts/test.sh                     # everything
#   ALEXSTORAGE_SEED=123 scripts/test.sh   # replay randomized tests with one seed
#   CTEST_ARGS="-R oracle" scripts/test.sh # pass extra arguments to ctest
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc)
ctest_args=(--output-on-failure -j "$jobs" ${CTEST_ARGS:-})

"$here/scripts/setup.sh"

build_and_test() { # <dir> <label> <extra cmake args...>
  local dir=$1 label=$2
  shift 2
  echo "== $label: configure and build ($dir)"
  cmake -S "$here" -B "$dir" -DALEXSTORAGE_WERROR=ON "$@" --log-level=WARNING >/dev/null
  cmake --build "$dir" -j "$jobs" -- --no-print-directory >/dev/null
  echo "== $label: ctest"
  (cd "$dir" && ctest "${ctest_args[@]}")
}

# Tests that start threads (keep in step when adding one): they run under TSan too. The rocksdb
# store is left out: Debian's librocksdb is not built with TSan, so TSan cannot see its locks.
tsan_targets=(test_db_api test_concurrency test_group_faults test_io test_soak test_stores
  alex_db_bench)
tsan_tests='^test_db_api[.]test_threads$|^test_concurrency[.]|^test_group_faults[.]|^test_io$'
tsan_tests+='|^bench_(stores|threads)[.](alex|alex_capi|hybrid|lmdb|sqlite)$'
tsan_tests+='|^test_soak[.]' # 10 s under TSan (ALEXSTORAGE_SOAK_SECONDS below), 30 s elsewhere

build_and_test "$here/build" "Release" -DCMAKE_BUILD_TYPE=Release
echo "== Lint: clang-tidy and cppcheck on core/src and plugin/src (build-lint)"
"$here/scripts/lint.sh"
ALEXSTORAGE_TEST_SCALE=${ALEXSTORAGE_TEST_SCALE:-0.25} \
  build_and_test "$here/build-asan" "ASan+UBSan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DALEXSTORAGE_SANITIZE=address -DALEXSTORAGE_BUILD_BENCHMARKS=OFF
echo "== ThreadSanitizer: configure and build threaded tests (build-tsan)"
cmake -S "$here" -B "$here/build-tsan" -DALEXSTORAGE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DALEXSTORAGE_SANITIZE=thread -DALEXSTORAGE_BUILD_BENCHMARKS=OFF --log-level=WARNING >/dev/null
cmake --build "$here/build-tsan" -j "$jobs" --target "${tsan_targets[@]}" -- --no-print-directory \
  >/dev/null
echo "== ThreadSanitizer: ctest"
(cd "$here/build-tsan" &&
  ALEXSTORAGE_SOAK_SECONDS=${ALEXSTORAGE_SOAK_SECONDS:-10} ctest --output-on-failure -R "$tsan_tests")
echo "== Fuzzers: clang, libFuzzer with ASan+UBSan, each target for 20 s, then its regressions (build-fuzz)"
fuzz_targets=(fuzz_open fuzz_ops fuzz_writebatch fuzz_checkpoint)
CC=clang CXX=clang++ cmake -S "$here" -B "$here/build-fuzz" -DALEXSTORAGE_WERROR=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALEXSTORAGE_BUILD_BENCHMARKS=OFF --log-level=WARNING >/dev/null
cmake --build "$here/build-fuzz" -j "$jobs" --target "${fuzz_targets[@]}" -- --no-print-directory \
  >/dev/null
(cd "$here/build-fuzz" && ctest --output-on-failure -j "$jobs" -L fuzz)
echo "== all test suites passed"
