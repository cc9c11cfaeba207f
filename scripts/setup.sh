#!/usr/bin/env bash
# setup.sh: install every Debian package AlexStorage needs (if missing), then configure and
# build the Release tree in build/. Idempotent: a second run installs nothing and prints
# only the build's own one-line summary.
#
#   scripts/setup.sh            # Release build in ./build
#   BUILD_DIR=out scripts/setup.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$here/build}

# Every package the build, the tests and the benchmarks use. Keep in step with CMakeLists.txt.
packages=(
  build-essential cmake pkg-config clang llvm libclang-rt-14-dev valgrind python3
  libcmocka-dev libbenchmark-dev libgflags-dev liblz4-dev libisal-dev
  librocksdb-dev rocksdb-tools liblmdb-dev libsqlite3-dev nlohmann-json3-dev python3-matplotlib
  clang-tidy cppcheck
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S "$here" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release --log-level=WARNING >/dev/null
cmake --build "$build_dir" -j "$(nproc)" -- --no-print-directory 2>&1 | grep -Ev '^\[|^-- |^$' || true
test -f "$build_dir/CMakeCache.txt"
