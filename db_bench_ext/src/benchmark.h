// benchmark.h: the benchmark runner: db_bench's Benchmark class on the Store interface.
//
// Life of a run (Benchmark::run): check every flag and benchmark name before touching the disk;
// destroy the database unless --use_existing_db (as db_bench does); open it; print the
// environment and header; then for each benchmark: reopen a fresh database if the benchmark
// wants one, start its threads together, merge their Stats and print db_bench's result line.
// Any store error ends the run with a message and exit status 1 (db_bench's ErrorExit).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "environment.h"
#include "store.h"

namespace axbench {

struct LatencySummary {
    std::string op;  // "read", "write", ...
    uint64_t count = 0;
    double mean_ns = 0, p50_ns = 0, p75_ns = 0, p99_ns = 0, p999_ns = 0, p9999_ns = 0;
    uint64_t min_ns = 0, max_ns = 0;
    // db_bench's own figures (whole-microsecond samples, its bucket interpolation)
    double dbbench_p50_us = 0, dbbench_p99_us = 0, dbbench_average_us = 0;
};

struct Result {
    std::string name;
    bool skipped = false;
    std::string skip_reason;
    int threads = 0;
    double micros_per_op = 0, ops_per_sec = 0, seconds = 0, mb_per_s = 0;
    uint64_t operations = 0, bytes = 0;
    std::string message;                      // db_bench's extra text, e.g. "(5 of 10 found)"
    std::map<std::string, int64_t> counters;  // the same figures as numbers: found, reads, ...
    std::vector<LatencySummary> latencies;    // with --histogram or --json only
};

// Runs the benchmarks the flags name. Returns the process exit status.
int run_benchmarks(const std::vector<std::string>& argv);

// Checks flags and benchmark names; on error prints why and returns false.
bool validate_flags(std::vector<std::string>* benchmarks);

}  // namespace axbench
