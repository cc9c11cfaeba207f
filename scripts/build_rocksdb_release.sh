#!/usr/bin/env bash
# build_rocksdb_release.sh: RocksDB 7.8.3 as Debian builds it, minus assertions (-DNDEBUG).
#
# Debian's librocksdb is compiled without NDEBUG, so thousands of assert()s run in every
# operation; a RocksDB user deploying a release build would not pay them. This script takes
# Debian's own source package (apt-get source rocksdb, with Debian's patches), configures it
# with Debian's cmake options and Debian's compiler flags (dpkg-buildflags), adds -DNDEBUG, and
# builds only the shared library. Nothing else differs, so "Debian" vs "release" in results/
# measures the assertions alone.
#
# The build is cached outside the repository (a RocksDB build is ~40 minutes on 2 cores):
#   ${ALEXSTORAGE_CACHE:-~/.cache/alexstorage}/rocksdb-7.8.3-release/lib/librocksdb.so.7.8.3
# A second run finds it and only prints the path. Use it with
#   build/db_bench_ext/alex_db_bench --store=rocksdb --rocksdb_lib=<that path>
#   compare/compare.py --rocksdb-lib release
#
# deb-src: if apt has no deb-src entry for bookworm, the script adds
# /etc/apt/sources.list.d/alexstorage-deb-src.sources (Debian's mirror, main) and runs
# apt-get update.
set -euo pipefail

version=7.8.3
cache=${ALEXSTORAGE_CACHE:-$HOME/.cache/alexstorage}
dest=$cache/rocksdb-$version-release
lib=$dest/lib/librocksdb.so.$version

if [ -f "$lib" ]; then
  echo "$lib"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive

# The build needs what Debian's build-depends list for the library (not for the docs or tests).
packages=(dpkg-dev cmake g++ make libsnappy-dev zlib1g-dev libbz2-dev liblz4-dev libzstd-dev
          libgflags-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "build_rocksdb_release: enabling deb-src (alexstorage-deb-src.sources)" >&2
  "${sudo_cmd[@]}" tee /etc/apt/sources.list.d/alexstorage-deb-src.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  "${sudo_cmd[@]}" apt-get update -qq
fi
if ((${#missing[@]})); then
  echo "build_rocksdb_release: installing ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$dest/work
rm -rf "$work"
mkdir -p "$work"
(cd "$work" && apt-get source -qq "rocksdb=$version-2" >/dev/null 2>&1) || {
  echo "build_rocksdb_release: apt-get source rocksdb=$version-2 failed" >&2
  exit 1
}
src=$(find "$work" -maxdepth 1 -type d -name "rocksdb-$version*" | head -1)
[ -n "$src" ] || { echo "build_rocksdb_release: no source tree in $work" >&2; exit 1; }

# Debian's flags (debian/rules: dh's cmake with CMAKE_BUILD_TYPE=None and these options).
cflags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS) -DNDEBUG"
ldflags="$(dpkg-buildflags --get LDFLAGS)"
echo "build_rocksdb_release: building $src (about 40 minutes on 2 cores)" >&2
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="$cflags" -DCMAKE_C_FLAGS="$cflags" -DCMAKE_SHARED_LINKER_FLAGS="$ldflags" \
  -DWITH_BZ2=ON -DWITH_LZ4=ON -DWITH_ZLIB=ON -DWITH_ZSTD=ON -DWITH_SNAPPY=ON \
  -DROCKSDB_BUILD_SHARED=ON -DWITH_BENCHMARK_TOOLS=OFF -DWITH_CORE_TOOLS=OFF -DWITH_TOOLS=OFF \
  -DWITH_TESTS=OFF -DWITH_GFLAGS=OFF -DPORTABLE=ON -DFAIL_ON_WARNINGS=OFF >"$work/cmake.log" 2>&1
cmake --build "$work/build" -j "$(nproc)" --target rocksdb-shared >"$work/build.log" 2>&1 || {
  echo "build_rocksdb_release: build failed, see $work/build.log" >&2
  exit 1
}
mkdir -p "$dest/lib"
built=$(find "$work/build" -maxdepth 1 -name "librocksdb.so.$version" | head -1)
cp -a "$built" "$lib.tmp"
mv "$lib.tmp" "$lib"
ln -sf "librocksdb.so.$version" "$dest/lib/librocksdb.so.7.8"
echo "flags: $cflags" >"$dest/BUILD-INFO"
echo "source: Debian rocksdb $version-2 (apt-get source), debian/rules cmake options" >>"$dest/BUILD-INFO"
rm -rf "$work"
echo "$lib"
