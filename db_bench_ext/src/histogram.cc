// histogram.cc: see histogram.h.
#include "histogram.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>

namespace axbench {

namespace {

// HistogramBucketMapper's limits: 1, 2, then x1.5 rounded down to two significant digits.
const std::vector<uint64_t>& bucket_limits() {
    static const std::vector<uint64_t> limits = [] {
        std::vector<uint64_t> v = {1, 2};
        double val = 2;
        while ((val = 1.5 * val) <= static_cast<double>(std::numeric_limits<uint64_t>::max())) {
            uint64_t b = static_cast<uint64_t>(val);
            uint64_t pow10 = 1;
            while (b / 10 > 10) {
                b /= 10;
                pow10 *= 10;
            }
            v.push_back(b * pow10);
        }
        return v;
    }();
    return limits;
}

size_t bucket_index(uint64_t value) {
    const auto& l = bucket_limits();
    if (value >= l.back()) return l.size() - 1;
    return static_cast<size_t>(std::lower_bound(l.begin(), l.end(), value) - l.begin());
}

}  // namespace

DbBenchHistogram::DbBenchHistogram()
    : buckets_(bucket_limits().size()), min_(bucket_limits().back()) {}

void DbBenchHistogram::add(uint64_t value) {
    buckets_[bucket_index(value)]++;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
    num_++;
    sum_ += value;
    sum_squares_ += value * value;
}

void DbBenchHistogram::merge(const DbBenchHistogram& o) {
    for (size_t b = 0; b < buckets_.size(); b++) buckets_[b] += o.buckets_[b];
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
    num_ += o.num_;
    sum_ += o.sum_;
    sum_squares_ += o.sum_squares_;
}

// HistogramStat::Percentile.
double DbBenchHistogram::percentile(double p) const {
    const auto& l = bucket_limits();
    double threshold = num_ * (p / 100.0);
    uint64_t cumulative = 0;
    for (size_t b = 0; b < buckets_.size(); b++) {
        cumulative += buckets_[b];
        if (cumulative >= threshold) {
            uint64_t left_point = b == 0 ? 0 : l[b - 1];
            uint64_t right_point = l[b];
            uint64_t left_sum = cumulative - buckets_[b];
            uint64_t right_sum = cumulative;
            double pos = 0;
            if (right_sum != left_sum) pos = (threshold - left_sum) / (right_sum - left_sum);
            double r = left_point + (right_point - left_point) * pos;
            r = std::max(r, static_cast<double>(min()));
            r = std::min(r, static_cast<double>(max()));
            return r;
        }
    }
    return static_cast<double>(max());
}

double DbBenchHistogram::average() const {
    return num_ ? static_cast<double>(sum_) / static_cast<double>(num_) : 0.0;
}

double DbBenchHistogram::stddev() const {
    if (num_ == 0) return 0.0;
    double n = static_cast<double>(num_), s = static_cast<double>(sum_),
           sq = static_cast<double>(sum_squares_);
    return std::sqrt(std::max((sq * n - s * s) / (n * n), 0.0));
}

// HistogramStat::ToString.
std::string DbBenchHistogram::to_string() const {
    const auto& l = bucket_limits();
    std::string r;
    char buf[1650];
    snprintf(buf, sizeof buf, "Count: %" PRIu64 " Average: %.4f  StdDev: %.2f\n", num_,
             average(), stddev());
    r += buf;
    snprintf(buf, sizeof buf, "Min: %" PRIu64 "  Median: %.4f  Max: %" PRIu64 "\n", min(),
             percentile(50), max());
    r += buf;
    snprintf(buf, sizeof buf,
             "Percentiles: P50: %.2f P75: %.2f P99: %.2f P99.9: %.2f P99.99: %.2f\n",
             percentile(50), percentile(75), percentile(99), percentile(99.9),
             percentile(99.99));
    r += buf;
    r += "------------------------------------------------------\n";
    if (num_ == 0) return r;
    const double mult = 100.0 / num_;
    uint64_t cumulative = 0;
    for (size_t b = 0; b < buckets_.size(); b++) {
        if (buckets_[b] == 0) continue;
        cumulative += buckets_[b];
        snprintf(buf, sizeof buf, "%c %7" PRIu64 ", %7" PRIu64 " ] %8" PRIu64 " %7.3f%% %7.3f%% ",
                 b == 0 ? '[' : '(', b == 0 ? 0 : l[b - 1], l[b], buckets_[b],
                 mult * buckets_[b], mult * cumulative);
        r += buf;
        r.append(static_cast<size_t>(mult * buckets_[b] / 5 + 0.5), '#');
        r += '\n';
    }
    return r;
}

// Values below kSub get exact buckets; above, the top kSubBits+1 significant bits pick the
// bucket: group g = bit length - kSubBits, bucket = g * kSub + the next kSubBits bits.
int FineHistogram::index(uint64_t v) {
    if (v < static_cast<uint64_t>(kSub)) return static_cast<int>(v);
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - kSubBits;
    return (shift + 1) * kSub + static_cast<int>((v >> shift) & (kSub - 1));
}

uint64_t FineHistogram::lower(int idx) {
    if (idx < kSub) return static_cast<uint64_t>(idx);
    int shift = idx / kSub - 1;
    uint64_t mant = static_cast<uint64_t>(kSub + idx % kSub);
    return mant << shift;
}

void FineHistogram::add(uint64_t ns) {
    counts_[index(ns)]++;
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
    num_++;
    sum_ += ns;
}

void FineHistogram::merge(const FineHistogram& o) {
    for (int i = 0; i < kBuckets; i++) counts_[i] += o.counts_[i];
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
    num_ += o.num_;
    sum_ += o.sum_;
}

// The sample of rank ceil(p% of n), placed at the middle of its bucket (clamped to min/max).
double FineHistogram::percentile(double p) const {
    if (num_ == 0) return 0.0;
    double rank = std::ceil(num_ * (p / 100.0));
    if (rank < 1) rank = 1;
    uint64_t cumulative = 0;
    for (int i = 0; i < kBuckets; i++) {
        cumulative += counts_[i];
        if (static_cast<double>(cumulative) >= rank) {
            double lo = static_cast<double>(lower(i));
            double hi = i + 1 < kBuckets ? static_cast<double>(lower(i + 1)) : lo;
            double mid = i < kSub ? lo : (lo + hi) / 2;
            return std::clamp(mid, static_cast<double>(min_), static_cast<double>(max_));
        }
    }
    return static_cast<double>(max_);
}

}  // namespace axbench
