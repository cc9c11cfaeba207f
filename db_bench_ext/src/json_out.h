// json_out.h: --json=FILE, every result of a run with its latency percentiles, the store's
// settings and the environment, for compare/ and anyone else who would rather not parse text.
// The format is documented in db_bench_ext/README.md ("JSON output").
#pragma once

#include <string>
#include <vector>

#include "benchmark.h"
#include "environment.h"
#include "store.h"

namespace axbench {

bool write_json(const std::string& path, const std::vector<std::string>& argv,
                const Environment& env, const Store& store, const StoreConfig& cfg,
                uint64_t seed, const std::vector<Result>& results, std::string* err);

}  // namespace axbench
