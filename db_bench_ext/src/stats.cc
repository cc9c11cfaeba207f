// stats.cc: see stats.h.
#include "stats.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace axbench {

namespace {
bool g_time_ops = false;
bool g_progress = false;
int64_t g_stats_interval = 0;
}  // namespace

const char* op_type_name(OpType t) {
    switch (t) {
    case OpType::kRead: return "read";
    case OpType::kWrite: return "write";
    case OpType::kDelete: return "delete";
    case OpType::kSeek: return "seek";
    case OpType::kUpdate: return "update";
    }
    return "op";
}

uint64_t now_nanos() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

void Stats::configure(bool time_ops, bool progress, int64_t stats_interval) {
    g_time_ops = time_ops;
    g_progress = progress;
    g_stats_interval = stats_interval;
}

void Stats::start(int id) {
    id_ = id;
    next_report_ = g_stats_interval ? static_cast<uint64_t>(g_stats_interval) : 100;
    hist_.clear();
    done_ = last_report_done_ = bytes_ = 0;
    seconds_ = 0;
    start_ = finish_ = last_report_finish_ = last_op_finish_ = now_nanos();
    message_.clear();
    exclude_from_merge_ = false;
}

void Stats::stop() {
    finish_ = now_nanos();
    seconds_ = (finish_ - start_) * 1e-9;
}

void Stats::add_message(std::string_view msg) {
    if (msg.empty()) return;
    if (!message_.empty()) message_ += ' ';
    message_ += msg;
}

void Stats::finished_ops(int64_t n, OpType type) {
    if (g_time_ops) {
        uint64_t now = now_nanos();
        OpHistograms& h = hist_[type];
        // db_bench subtracts two NowMicros() readings; so do we, to bin alike.
        h.micros.add(now / 1000 - last_op_finish_ / 1000);
        h.nanos.add(now - last_op_finish_);
        last_op_finish_ = now;
    }
    done_ += static_cast<uint64_t>(n);
    if (done_ < next_report_ || !g_progress) return;
    if (!g_stats_interval) {
        if (next_report_ < 1000) next_report_ += 100;
        else if (next_report_ < 5000) next_report_ += 500;
        else if (next_report_ < 10000) next_report_ += 1000;
        else if (next_report_ < 50000) next_report_ += 5000;
        else if (next_report_ < 100000) next_report_ += 10000;
        else if (next_report_ < 500000) next_report_ += 50000;
        else next_report_ += 100000;
        fprintf(stderr, "... finished %" PRIu64 " ops%30s\r", done_, "");
    } else {
        uint64_t now = now_nanos();
        double since_last = (now - last_report_finish_) * 1e-9;
        double since_start = (now - start_) * 1e-9;
        time_t wall = time(nullptr);
        char when[64];
        strftime(when, sizeof when, "%Y/%m/%d-%H:%M:%S", localtime(&wall));
        fprintf(stderr,
                "%s ... thread %d: (%" PRIu64 ",%" PRIu64 ") ops and (%.1f,%.1f) ops/second in "
                "(%.6f,%.6f) seconds\n",
                when, id_, done_ - last_report_done_, done_,
                (done_ - last_report_done_) / since_last, done_ / since_start, since_last,
                since_start);
        next_report_ += static_cast<uint64_t>(g_stats_interval);
        last_report_finish_ = now;
        last_report_done_ = done_;
    }
    fflush(stderr);
}

void Stats::begin_merge() {
    start_ = finish_ = now_nanos();
    seconds_ = 0;
    done_ = bytes_ = 0;
}

void Stats::merge(const Stats& o) {
    if (o.exclude_from_merge_) return;
    for (const auto& [type, h] : o.hist_) {
        OpHistograms& mine = hist_[type];
        mine.micros.merge(h.micros);
        mine.nanos.merge(h.nanos);
    }
    done_ += o.done_;
    bytes_ += o.bytes_;
    seconds_ += o.seconds_;
    if (o.start_ < start_) start_ = o.start_;
    if (o.finish_ > finish_) finish_ = o.finish_;
    if (message_.empty()) message_ = o.message_;
}

}  // namespace axbench
