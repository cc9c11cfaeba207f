// histogram.h: latency histograms.
//
// DbBenchHistogram is db_bench's HistogramImpl (monitoring/histogram.cc): integer samples (db_bench
// feeds whole microseconds), buckets 1, 2, 3, 4, 6, 9, 13, ... (x1.5 each, cut to two significant
// digits), percentiles interpolated linearly inside a bucket, and its exact text block. The
// "Microseconds per read:" block of alex_db_bench therefore reads like db_bench's and is computed
// the same way from the same kind of samples.
//
// FineHistogram keeps nanoseconds with a bounded relative error for the JSON results: 64 linear
// sub-buckets per power of two, so a percentile is within 1/64 (1.6%) of the true sample; fixed
// memory whatever the run length. (No C/C++ HDR histogram library is packaged in Debian, and
// db_bench's own buckets are 50% wide: too coarse for sub-microsecond reads.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace axbench {

class DbBenchHistogram {
public:
    DbBenchHistogram();
    void add(uint64_t value);
    void merge(const DbBenchHistogram& other);
    uint64_t count() const { return num_; }
    double percentile(double p) const;
    double average() const;
    double stddev() const;
    uint64_t min() const { return num_ ? min_ : 0; }
    uint64_t max() const { return num_ ? max_ : 0; }
    std::string to_string() const;  // HistogramStat::ToString's block

private:
    std::vector<uint64_t> buckets_;
    uint64_t min_, max_ = 0, num_ = 0, sum_ = 0, sum_squares_ = 0;
};

class FineHistogram {
public:
    void add(uint64_t ns);
    void merge(const FineHistogram& other);
    uint64_t count() const { return num_; }
    double percentile(double p) const;  // nanoseconds
    double mean() const { return num_ ? static_cast<double>(sum_) / num_ : 0.0; }
    uint64_t min() const { return num_ ? min_ : 0; }
    uint64_t max() const { return max_; }

private:
    static constexpr int kSubBits = 6;  // 64 sub-buckets per power of two
    static constexpr int kSub = 1 << kSubBits;
    static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;
    static int index(uint64_t v);
    static uint64_t lower(int idx);  // smallest value of bucket idx
    std::vector<uint64_t> counts_ = std::vector<uint64_t>(kBuckets);
    uint64_t min_ = UINT64_MAX, max_ = 0, num_ = 0, sum_ = 0;
};

}  // namespace axbench
