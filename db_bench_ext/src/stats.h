// stats.h: per-thread operation counts and timings, merged and reported the way db_bench's Stats
// class does (tools/db_bench_tool.cc): the same result line, the same "Microseconds per <op>"
// histogram block, the same "... finished N ops" progress. Per-operation timing (two clock reads
// per operation) runs only when a histogram or JSON output asked for it, as in db_bench.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "histogram.h"

namespace axbench {

// db_bench's OperationType values this driver uses, in the order their histograms print.
enum class OpType { kRead, kWrite, kDelete, kSeek, kUpdate };
const char* op_type_name(OpType t);  // "read", "write", ...

uint64_t now_nanos();  // CLOCK_MONOTONIC

struct OpHistograms {
    DbBenchHistogram micros;  // db_bench's: whole microseconds between consecutive operations
    FineHistogram nanos;      // the same intervals in nanoseconds, for JSON
};

class Stats {
public:
    // Process-wide switches, set once before any thread starts.
    static void configure(bool time_ops, bool progress, int64_t stats_interval);

    void start(int id);
    void stop();
    void finished_ops(int64_t n, OpType type);
    void add_bytes(int64_t n) { bytes_ += n; }
    void add_message(std::string_view msg);
    void set_exclude_from_merge() { exclude_from_merge_ = true; }
    bool excluded() const { return exclude_from_merge_; }
    // Stats::Merge: sums counts and per-thread seconds, keeps the earliest start.
    void merge(const Stats& other);
    // Sets the merged start/finish as db_bench's merge_stats has them: finish = now.
    void begin_merge();

    uint64_t done() const { return done_; }
    uint64_t bytes() const { return bytes_; }
    double thread_seconds() const { return seconds_; }
    double elapsed_seconds() const { return (finish_ - start_) * 1e-9; }
    const std::string& message() const { return message_; }
    const std::map<OpType, OpHistograms>& histograms() const { return hist_; }

private:
    int id_ = -1;
    uint64_t start_ = 0, finish_ = 0, last_op_finish_ = 0, last_report_finish_ = 0;
    double seconds_ = 0;
    uint64_t done_ = 0, last_report_done_ = 0, next_report_ = 100, bytes_ = 0;
    std::map<OpType, OpHistograms> hist_;
    std::string message_;
    bool exclude_from_merge_ = false;
};

}  // namespace axbench
