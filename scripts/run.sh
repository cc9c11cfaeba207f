#!/usr/bin/env bash
# run.sh: the project's main job (README, command 1).
#
# Installs what is missing, builds Release (scripts/setup.sh), then runs the main benchmark
# and prints its table. Until the db_bench-compatible driver lands, the main job is the ALEX
# index benchmark (scripts/bench_index.sh); its JSON and table go to results/index/.
# Arguments are passed through to the benchmark, e.g.
#   scripts/run.sh                                 # 1M and 10M keys, a few minutes
#   AXI_BENCH_SIZES=1000000 scripts/run.sh         # 1M only
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$here/scripts/setup.sh"
exec "$here/scripts/bench_index.sh" "$@"
