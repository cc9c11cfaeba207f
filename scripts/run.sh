#!/usr/bin/env bash
# run.sh: the project's main job (README, command 1).
#
# Installs what is missing, builds Release (scripts/setup.sh), then runs the comparison matrix
# (compare/compare.py) at 100K keys on every store, 3 repeats, and prints its tables. The run's
# JSON, commands, environment, report.md and plots go to results/<date>-100K/. Arguments go to
# compare.py, e.g.
#   scripts/run.sh                                   # 100K, all stores (a few minutes)
#   scripts/run.sh --scales 100K,1M --stores alex,rocksdb,lmdb
#   scripts/run.sh --scales 100K,1M,10M --rocksdb-lib both   # the published matrix
#   scripts/run.sh --sync                            # synced writes
# The ALEX index benchmark of earlier versions is scripts/bench_index.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$here/scripts/setup.sh"
exec /usr/bin/python3 "$here/compare/compare.py" "$@"
