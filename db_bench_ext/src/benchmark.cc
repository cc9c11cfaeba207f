// benchmark.cc: see benchmark.h. Each workload names the db_bench function it reproduces; the
// order of random draws is db_bench's, draw for draw, because the counts it prints ("X of Y
// found", the reads/writes of readrandomwriterandom) must come out the same (tests/fidelity).
#include "benchmark.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "flags.h"
#include "json_out.h"
#include "stats.h"
#include "workload.h"

namespace axbench {

namespace {

// db_bench's ErrorExit for a failure inside a run: other threads may still be running, so leave
// without running static destructors under them.
[[noreturn]] void die(const std::string& what) {
    fprintf(stderr, "%s\n", what.c_str());
    fflush(stdout);
    fflush(stderr);
    _exit(1);
}

enum class WriteMode { kSequential, kRandom, kUniqueRandom };

// db_bench's Duration: a run of max_ops operations, or of max_seconds when that is set (checked
// every ops_between_duration_checks operations).
class Duration {
public:
    Duration(uint64_t max_seconds, int64_t max_ops)
        : max_seconds_(max_seconds), max_ops_(max_ops), start_(now_nanos()) {}
    bool done(int64_t increment) {
        if (increment <= 0) increment = 1;
        ops_ += increment;
        if (max_seconds_) {
            const auto g = static_cast<int64_t>(FLAGS_ops_between_duration_checks);
            if (ops_ / g != (ops_ - increment) / g)
                return (now_nanos() - start_) / 1000000000u >= max_seconds_;
            return false;
        }
        return ops_ > max_ops_;
    }

private:
    uint64_t max_seconds_;
    int64_t max_ops_;
    int64_t ops_ = 0;
    uint64_t start_;
};

struct SharedState {
    std::mutex mu;
    std::condition_variable cv;
    int total = 0;
    int num_initialized = 0;
    int num_done = 0;
    bool start = false;
};

struct ThreadState {
    int tid;
    Random64 rand;
    Stats stats;
    SharedState* shared = nullptr;
    Session* session = nullptr;
    std::map<std::string, int64_t> counters;  // found, reads, ...: Result::counters
    ThreadState(int index, uint64_t seed) : tid(index), rand(seed) {}
};

class Benchmark;

// A benchmark this driver runs: its name, whether it starts on a fresh database, its workload.
struct BenchmarkInfo {
    const char* name;
    bool fresh_db;
    void (Benchmark::*method)(ThreadState*);
};

class Benchmark {
public:
    explicit Benchmark(std::vector<std::string> argv) : argv_(std::move(argv)) {}
    int run(const std::vector<std::string>& names);
    static const BenchmarkInfo* find(const std::string& name);
    static std::string known_names();

private:
    using Method = void (Benchmark::*)(ThreadState*);
    static const BenchmarkInfo kBenchmarks[];

    void open_store(bool create);
    void close_store();
    void fresh_db();
    void print_header();
    Result run_benchmark(int n, const std::string& name, Method method);

    // workloads (db_bench's names in comments)
    void do_write(ThreadState* t, WriteMode mode);  // DoWrite
    void write_seq(ThreadState* t) { do_write(t, WriteMode::kSequential); }
    void write_random(ThreadState* t) { do_write(t, WriteMode::kRandom); }
    void write_unique_random(ThreadState* t) { do_write(t, WriteMode::kUniqueRandom); }
    void read_through(ThreadState* t, bool reverse);
    void read_sequential(ThreadState* t) { read_through(t, false); }  // ReadSequential
    void read_reverse(ThreadState* t) { read_through(t, true); }      // ReadReverse
    void read_random(ThreadState* t);            // ReadRandom
    void seek_random(ThreadState* t);            // SeekRandom
    void do_delete(ThreadState* t, bool seq);    // DoDelete
    void delete_seq(ThreadState* t) { do_delete(t, true); }
    void delete_random(ThreadState* t) { do_delete(t, false); }
    void read_while_writing(ThreadState* t);     // ReadWhileWriting
    void bg_writer(ThreadState* t);              // BGWriter(kWrite)
    void read_random_write_random(ThreadState* t);  // ReadRandomWriteRandom
    void update_random(ThreadState* t);          // UpdateRandom

    std::vector<std::string> argv_;
    std::unique_ptr<Store> store_;
    StoreConfig cfg_;
    bool open_ = false;
    Environment env_;
    std::vector<Result> results_;

    uint64_t seed_base_ = 0;
    int total_thread_count_ = 0;  // db_bench's: thread seeds are seed_base + this count
    // Per benchmark (db_bench's members of the same names).
    int64_t num_ = 0, reads_ = 0, writes_ = 0, deletes_ = 0, entries_per_batch_ = 1;
    int64_t readwrites_ = 0;
    bool unique_order_before_clock_ = false;  // fillrandom_unique
    std::vector<uint64_t> unique_order_;      // fillrandom_unique's keys, drawn before the clock
};

std::string default_db_path(const std::string& store) {
    return "/tmp/alexstoragetest-" + std::to_string(geteuid()) + "/dbbench_" + store;
}

bool mkdir_parents(const std::string& path) {
    for (size_t p = 1; p < path.size(); p++) {
        if (path[p] != '/') continue;
        std::string d = path.substr(0, p);
        if (mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) return false;
    }
    return true;
}

}  // namespace

const BenchmarkInfo Benchmark::kBenchmarks[] = {
    {"fillseq", true, &Benchmark::write_seq},
    {"fillbatch", true, &Benchmark::write_seq},
    {"fillrandom", true, &Benchmark::write_random},
    {"filluniquerandom", true, &Benchmark::write_unique_random},
    {"fillrandom_unique", true, &Benchmark::write_unique_random},
    {"overwrite", false, &Benchmark::write_random},
    {"fillsync", true, &Benchmark::write_random},
    {"readseq", false, &Benchmark::read_sequential},
    {"readreverse", false, &Benchmark::read_reverse},
    {"readrandom", false, &Benchmark::read_random},
    {"seekrandom", false, &Benchmark::seek_random},
    {"deleteseq", false, &Benchmark::delete_seq},
    {"deleterandom", false, &Benchmark::delete_random},
    {"readwhilewriting", false, &Benchmark::read_while_writing},
    {"readrandomwriterandom", false, &Benchmark::read_random_write_random},
    {"updaterandom", false, &Benchmark::update_random},
};

const BenchmarkInfo* Benchmark::find(const std::string& name) {
    for (const auto& b : kBenchmarks)
        if (name == b.name) return &b;
    return nullptr;
}

std::string Benchmark::known_names() {
    std::string known;
    for (const auto& b : kBenchmarks) known += (known.empty() ? "" : ", ") + std::string(b.name);
    return known;
}

bool validate_flags(std::vector<std::string>* benchmarks) {
    std::vector<std::string> errors;
    auto bad = [&](const std::string& e) { errors.push_back(e); };
    if (FLAGS_num <= 0) bad("--num must be > 0 (got " + std::to_string(FLAGS_num) + ")");
    if (FLAGS_reads < -1) bad("--reads must be -1 (= --num) or >= 0");
    if (FLAGS_writes < -1) bad("--writes must be -1 (= --num) or >= 0");
    if (FLAGS_deletes < -1) bad("--deletes must be -1 (= --num) or >= 0");
    if (FLAGS_value_size < 0) bad("--value_size must be >= 0");
    if (FLAGS_key_size < 1) bad("--key_size must be >= 1");
    if (FLAGS_threads < 1) bad("--threads must be >= 1");
    if (FLAGS_threads > 1024) bad("--threads must be <= 1024");
    if (FLAGS_readwritepercent < 0 || FLAGS_readwritepercent > 100)
        bad("--readwritepercent must be in 0..100");
    if (FLAGS_seek_nexts < 0) bad("--seek_nexts must be >= 0");
    if (FLAGS_duration < 0) bad("--duration must be >= 0");
    if (FLAGS_stats_interval < 0) bad("--stats_interval must be >= 0");
    if (FLAGS_batch_size < 1) bad("--batch_size must be >= 1");
    if (!(FLAGS_compression_ratio > 0 && FLAGS_compression_ratio <= 1))
        bad("--compression_ratio must be in (0, 1]");
    if (FLAGS_cache_size < -1) bad("--cache_size must be -1 (fair default) or >= 0");
    if (FLAGS_bloom_bits < -1) bad("--bloom_bits must be -1 (default 10) or >= 0");
    if (FLAGS_write_buffer_size <= 0) bad("--write_buffer_size must be > 0");
    if (FLAGS_ops_between_duration_checks == 0) bad("--ops_between_duration_checks must be > 0");
    if (FLAGS_perf_level < 1 || FLAGS_perf_level > 5) bad("--perf_level must be in 1..5");
    static const char* kCompressions[] = {"none", "snappy", "zlib", "bzip2",
                                          "lz4",  "lz4hc",  "zstd"};
    if (std::find_if(std::begin(kCompressions), std::end(kCompressions), [](const char* c) {
            return FLAGS_compression_type == c;
        }) == std::end(kCompressions))
        bad("unknown --compression_type '" + FLAGS_compression_type +
            "' (none, snappy, zlib, bzip2, lz4, lz4hc, zstd)");
    const auto& stores = store_names();
    if (std::find(stores.begin(), stores.end(), FLAGS_store) == stores.end()) {
        std::string known;
        for (const auto& s : stores) known += (known.empty() ? "" : ", ") + s;
        bad("unknown --store '" + FLAGS_store + "' (known: " + known + ")");
    }

    benchmarks->clear();
    std::stringstream ss(FLAGS_benchmarks);
    std::string name;
    while (std::getline(ss, name, ',')) {
        if (name.empty()) continue;  // db_bench: no message for an empty name
        if (!Benchmark::find(name)) {
            bad("unknown benchmark '" + name + "' (known: " + Benchmark::known_names() + ")");
        } else {
            benchmarks->push_back(name);
        }
    }
    if (benchmarks->empty() && errors.empty()) bad("--benchmarks names no benchmark");
    for (const auto& e : errors) fprintf(stderr, "alex_db_bench: %s\n", e.c_str());
    return errors.empty();
}

void Benchmark::open_store(bool create) {
    std::string err;
    cfg_.create = create;
    if (!store_->open(cfg_, &err)) die("open error: " + err);
    open_ = true;
}

void Benchmark::close_store() {
    if (!open_) return;
    std::string err;
    open_ = false;
    if (!store_->close(&err)) die("close error: " + err);
}

// db_bench: delete the DBs, DestroyDB, Open.
void Benchmark::fresh_db() {
    close_store();
    std::string err;
    if (!store_->destroy(cfg_.path, &err)) die("destroy error: " + err);
    open_store(true);
}

void Benchmark::print_header() {
    // db_bench's PrintEnvironment (stderr), then its header (stdout), then ours.
    fprintf(stderr, "RocksDB:    version %s\n", env_.rocksdb_header_version.c_str());
    fprintf(stderr, "Date:       %s\n", env_.date.c_str());
    fprintf(stderr, "CPU:        %d * %s\n", env_.cpus, env_.cpu_model.c_str());
    fprintf(stderr, "CPUCache:   %s\n", env_.cpu_cache.c_str());

    fprintf(stdout, "Store:      %s: %s\n", store_->name(), store_->version().c_str());
    for (const auto& [k, v] : store_->describe())
        fprintf(stdout, "  %-18s %s\n", (k + ":").c_str(), v.c_str());
    fprintf(stdout, "Keys:       %d bytes each (+ 0 bytes user-defined timestamp)\n",
            FLAGS_key_size);
    fprintf(stdout, "Values:     %d bytes each (%d bytes after compression)\n", FLAGS_value_size,
            static_cast<int>(FLAGS_value_size * FLAGS_compression_ratio + 0.5));
    fprintf(stdout, "Entries:    %" PRId64 "\n", FLAGS_num);
    fprintf(stdout, "RawSize:    %.1f MB (estimated)\n",
            (static_cast<int64_t>(FLAGS_key_size + FLAGS_value_size) * FLAGS_num) / 1048576.0);
    fprintf(stdout, "FileSize:   %.1f MB (estimated)\n",
            ((FLAGS_key_size + FLAGS_value_size * FLAGS_compression_ratio) * FLAGS_num) /
                1048576.0);
    fprintf(stdout, "Compression: %s\n", FLAGS_compression_type.c_str());
    fprintf(stdout, "Durability: %s\n", FLAGS_sync ? "sync (each write durable)"
                                                   : "buffered (no fsync per write)");
    fprintf(stdout, "Threads:    %d\n", FLAGS_threads);
    fprintf(stdout, "Seed:       %" PRIu64 "\n", seed_base_);
    fprintf(stdout, "CPU:        %d * %s (%d online), %s cache, memory %s\n", env_.cpus,
            env_.cpu_model.c_str(), env_.online_cores, env_.cpu_cache.c_str(), env_.memory.c_str());
    fprintf(stdout, "Kernel:     %s\n", env_.kernel.c_str());
    fprintf(stdout, "Filesystem: %s (%s)\n", env_.filesystem.c_str(), cfg_.path.c_str());
    std::string versions;
    for (const auto& [lib, v] : env_.versions)
        versions += (versions.empty() ? "" : "; ") + lib + " " + v;
    fprintf(stdout, "Versions:   %s\n", versions.c_str());
    fprintf(stdout, "Build:      alex_db_bench %s\n", env_.build_type.c_str());
#if defined(__GNUC__) && !defined(__OPTIMIZE__)
    fprintf(stdout, "WARNING: Optimization is disabled: benchmarks unnecessarily slow\n");
#endif
    if (env_.rocksdb_assertions)
        fprintf(stdout,
                "WARNING: Assertions are enabled in %s (built without NDEBUG); RocksDB "
                "benchmarks unnecessarily slow\n",
                env_.rocksdb_library.c_str());
    fprintf(stdout, "------------------------------------------------\n");
    fflush(stdout);
}

int Benchmark::run(const std::vector<std::string>& names) {
    std::string err;
    StoreLibraries libs{FLAGS_rocksdb_lib, FLAGS_alex_capi_lib};
    store_ = make_store(FLAGS_store, libs, &err);
    if (!store_) {
        fprintf(stderr, "alex_db_bench: %s\n", err.c_str());
        return 1;
    }

    // Limits of the store, before anything is written.
    std::vector<std::string> errors;
    if (static_cast<uint64_t>(FLAGS_value_size) > store_->max_value_size())
        errors.push_back("--value_size=" + std::to_string(FLAGS_value_size) + " is larger than " +
                         FLAGS_store + " allows (" + std::to_string(store_->max_value_size()) +
                         " bytes)");
    if (static_cast<uint64_t>(FLAGS_key_size) > store_->max_key_size())
        errors.push_back("--key_size=" + std::to_string(FLAGS_key_size) + " is larger than " +
                         FLAGS_store + " allows (" + std::to_string(store_->max_key_size()) +
                         " bytes)");
    if (!store_->supports_compression(FLAGS_compression_type))
        errors.push_back("--store=" + FLAGS_store + " does not support --compression_type=" +
                         FLAGS_compression_type +
                         (FLAGS_store == "lmdb" || FLAGS_store == "sqlite"
                              ? std::string(" (it has no compression; use none)")
                              : std::string(" (AlexStorage has none and lz4)")));
    for (const auto& n : names)
        if ((n == "filluniquerandom" || n == "fillrandom_unique") && FLAGS_writes > FLAGS_num)
            errors.push_back(n + " writes each key once: --writes must be <= --num");
    for (const auto& e : errors) fprintf(stderr, "alex_db_bench: %s\n", e.c_str());
    if (!errors.empty()) return 1;

    cfg_.path = FLAGS_db.empty() ? default_db_path(FLAGS_store) : FLAGS_db;
    struct stat st;
    if (stat(cfg_.path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "alex_db_bench: --db=%s exists and is not a directory\n",
                cfg_.path.c_str());
        return 1;
    }
    if (FLAGS_db.empty() && !mkdir_parents(cfg_.path)) {
        fprintf(stderr, "alex_db_bench: cannot create the parent of %s: %s\n", cfg_.path.c_str(),
                strerror(errno));
        return 1;
    }
    cfg_.sync = FLAGS_sync;
    cfg_.disable_wal = FLAGS_disable_wal;
    cfg_.compression = FLAGS_compression_type;
    const int64_t data_bytes = FLAGS_num * (FLAGS_key_size + FLAGS_value_size);
    cfg_.cache_size = FLAGS_cache_size >= 0 ? FLAGS_cache_size
                                            : std::max<int64_t>(8 << 20, data_bytes / 4 * 5);
    cfg_.bloom_bits = FLAGS_bloom_bits >= 0 ? FLAGS_bloom_bits : 10;
    cfg_.write_buffer_size = FLAGS_write_buffer_size;
    cfg_.num = FLAGS_num;
    cfg_.key_size = FLAGS_key_size;
    cfg_.value_size = FLAGS_value_size;
    cfg_.threads = FLAGS_threads + 1;  // readwhilewriting adds a writer
    cfg_.perf_level = FLAGS_perf_level;

    if (FLAGS_seed == 0) {
        seed_base_ = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count());
        fprintf(stdout, "Set seed to %" PRIu64 " because --seed was 0\n", seed_base_);
    } else {
        seed_base_ = static_cast<uint64_t>(FLAGS_seed);
    }
    readwrites_ = (FLAGS_writes < 0 && FLAGS_reads < 0)
                      ? FLAGS_num
                      : (FLAGS_writes > FLAGS_reads ? FLAGS_writes : FLAGS_reads);

    env_ = collect_environment(cfg_.path, FLAGS_rocksdb_lib);
    if (!FLAGS_use_existing_db && !store_->destroy(cfg_.path, &err)) {
        fprintf(stderr, "alex_db_bench: destroy error: %s\n", err.c_str());
        return 1;
    }
    std::string open_err;
    cfg_.create = !FLAGS_use_existing_db;
    if (!store_->open(cfg_, &open_err)) {
        fprintf(stderr, "open error: %s\n", open_err.c_str());
        if (FLAGS_use_existing_db)
            fprintf(stderr, "alex_db_bench: --use_existing_db needs an existing %s database at %s\n",
                    FLAGS_store.c_str(), cfg_.path.c_str());
        return 1;
    }
    open_ = true;
    print_header();

    for (const auto& name : names) {
        num_ = FLAGS_num;
        reads_ = FLAGS_reads < 0 ? FLAGS_num : FLAGS_reads;
        writes_ = FLAGS_writes < 0 ? FLAGS_num : FLAGS_writes;
        deletes_ = FLAGS_deletes < 0 ? FLAGS_num : FLAGS_deletes;
        entries_per_batch_ = FLAGS_batch_size;
        unique_order_before_clock_ = false;
        bool sync = FLAGS_sync;
        int num_threads = FLAGS_threads;
        const BenchmarkInfo* info = find(name);
        // db_bench's adjustments of the run to the benchmark.
        if (name == "fillbatch") {
            entries_per_batch_ = 1000;
        } else if (name == "filluniquerandom" || name == "fillrandom_unique") {
            if (num_threads > 1) {
                fprintf(stderr, "filluniquerandom and fillanddeleteuniquerandom multithreaded "
                                "not supported, use 1 thread");
                num_threads = 1;
            }
            unique_order_before_clock_ = name == "fillrandom_unique";
        } else if (name == "fillsync") {
            num_ /= 1000;
            sync = true;
        } else if (name == "readwhilewriting") {
            num_threads++;  // the writer
        }

        if (info->fresh_db) {
            if (FLAGS_use_existing_db) {
                fprintf(stdout, "%-12s : skipped (--use_existing_db is true)\n", name.c_str());
                Result r;
                r.name = name;
                r.skipped = true;
                r.skip_reason = "--use_existing_db is true";
                results_.push_back(r);
                continue;
            }
            cfg_.sync = sync;  // fillsync: this database's writes are synced
            fresh_db();
        } else if (cfg_.sync != sync) {
            // A store's durability is set at open: reopen (keeping the data) to change it.
            close_store();
            cfg_.sync = sync;
            open_store(false);
        }
        if (unique_order_before_clock_) {
            uint64_t n = static_cast<uint64_t>(num_);
            unique_order_ = unique_random_order(n, static_cast<uint32_t>(seed_base_));
        }
        fprintf(stdout, "DB path: [%s]\n", cfg_.path.c_str());
        results_.push_back(run_benchmark(num_threads, name, info->method));
        unique_order_.clear();
        unique_order_.shrink_to_fit();
    }
    close_store();
    if (!FLAGS_json.empty()) {
        std::string jerr;
        if (!write_json(FLAGS_json, argv_, env_, *store_, cfg_, seed_base_, results_, &jerr)) {
            fprintf(stderr, "alex_db_bench: %s\n", jerr.c_str());
            return 1;
        }
    }
    return 0;
}

// RunBenchmark: n threads with consecutive seeds start together; their Stats merge into one.
Result Benchmark::run_benchmark(int n, const std::string& name, Method method) {
    SharedState shared;
    shared.total = n;
    std::vector<std::unique_ptr<ThreadState>> states;
    std::vector<std::unique_ptr<Session>> sessions;
    for (int i = 0; i < n; i++) {
        std::string err;
        auto s = store_->new_session(&err);
        if (!s) die("session error: " + err);
        total_thread_count_++;
        auto t = std::make_unique<ThreadState>(i, seed_base_ + total_thread_count_);
        t->shared = &shared;
        t->session = s.get();
        sessions.push_back(std::move(s));
        states.push_back(std::move(t));
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < n; i++) {
        ThreadState* t = states[i].get();
        threads.emplace_back([this, t, method] {
            {
                std::unique_lock<std::mutex> l(t->shared->mu);
                if (++t->shared->num_initialized >= t->shared->total) t->shared->cv.notify_all();
                t->shared->cv.wait(l, [t] { return t->shared->start; });
            }
            t->session->thread_start();
            t->stats.start(t->tid);
            (this->*method)(t);
            t->stats.stop();
            std::lock_guard<std::mutex> l(t->shared->mu);
            if (++t->shared->num_done >= t->shared->total) t->shared->cv.notify_all();
        });
    }
    {
        std::unique_lock<std::mutex> l(shared.mu);
        shared.cv.wait(l, [&] { return shared.num_initialized >= n; });
        shared.start = true;
        shared.cv.notify_all();
        shared.cv.wait(l, [&] { return shared.num_done >= n; });
    }
    for (auto& th : threads) th.join();

    Stats merged;
    merged.begin_merge();
    for (auto& t : states) merged.merge(t->stats);

    // Stats::Report.
    Result r;
    r.name = name;
    r.threads = n;
    uint64_t done = std::max<uint64_t>(merged.done(), 1);
    double elapsed = merged.elapsed_seconds();
    std::string extra;
    if (merged.bytes() > 0) {
        char rate[100];
        r.mb_per_s = (merged.bytes() / 1048576.0) / elapsed;
        snprintf(rate, sizeof rate, "%6.1f MB/s", r.mb_per_s);
        extra = rate;
    }
    if (!merged.message().empty()) extra += (extra.empty() ? "" : " ") + merged.message();
    r.micros_per_op = merged.thread_seconds() * 1e6 / done;
    r.ops_per_sec = done / elapsed;
    r.seconds = elapsed;
    r.operations = merged.done();
    r.bytes = merged.bytes();
    r.message = merged.message();
    fprintf(stdout, "%-12s : %11.3f micros/op %ld ops/sec %.3f seconds %" PRIu64 " operations;%s%s\n",
            name.c_str(), r.micros_per_op, static_cast<long>(r.ops_per_sec), elapsed, done,
            extra.empty() ? "" : " ", extra.c_str());
    for (const auto& [type, h] : merged.histograms()) {
        if (FLAGS_histogram)
            fprintf(stdout, "Microseconds per %s:\n%s\n", op_type_name(type),
                    h.micros.to_string().c_str());
        LatencySummary l;
        l.op = op_type_name(type);
        l.count = h.nanos.count();
        l.mean_ns = h.nanos.mean();
        l.p50_ns = h.nanos.percentile(50);
        l.p75_ns = h.nanos.percentile(75);
        l.p99_ns = h.nanos.percentile(99);
        l.p999_ns = h.nanos.percentile(99.9);
        l.p9999_ns = h.nanos.percentile(99.99);
        l.min_ns = h.nanos.min();
        l.max_ns = h.nanos.max();
        l.dbbench_p50_us = h.micros.percentile(50);
        l.dbbench_p99_us = h.micros.percentile(99);
        l.dbbench_average_us = h.micros.average();
        r.latencies.push_back(l);
    }
    fflush(stdout);
    // The counters behind the message, as numbers, from the threads whose Stats merged.
    for (auto& t : states)
        if (!t->stats.excluded())
            for (const auto& [k, v] : t->counters) r.counters[k] += v;
    return r;
}

// DoWrite: num_ops writes (--writes, else num_) in batches of entries_per_batch_; the keys come
// from a KeyGenerator over num_ keys. Every batch, sequential or not, goes through a write batch,
// as db_bench's do. RANDOM and UNIQUE_RANDOM draw one number to pick the database (db_bench's
// SelectDBWithCfh: drawn even with one database), then one per key in RANDOM mode.
void Benchmark::do_write(ThreadState* t, WriteMode mode) {
    const int64_t num_ops = writes_ == 0 ? num_ : writes_;
    Duration duration(mode == WriteMode::kRandom ? FLAGS_duration : 0, num_ops);
    const uint64_t keys = static_cast<uint64_t>(num_);
    std::vector<uint64_t> order;
    const std::vector<uint64_t>* unique = &unique_order_;
    if (mode == WriteMode::kUniqueRandom && !unique_order_before_clock_) {
        order = unique_random_order(keys, static_cast<uint32_t>(seed_base_));  // timed, as db_bench
        unique = &order;
    }
    uint64_t next = 0;
    if (num_ != FLAGS_num) {
        char msg[100];
        snprintf(msg, sizeof msg, "(%" PRId64 " ops)", num_);
        t->stats.add_message(msg);
    }
    ValueGenerator gen(FLAGS_compression_ratio, FLAGS_value_size);
    std::string key, err;
    int64_t bytes = 0;
    while (keys != 0 && !duration.done(entries_per_batch_)) {
        if (mode != WriteMode::kSequential) (void)(t->rand.next() % 1);  // the database pick
        for (int64_t j = 0; j < entries_per_batch_; j++) {
            uint64_t k;
            switch (mode) {
            case WriteMode::kSequential: k = next++; break;
            case WriteMode::kRandom: k = t->rand.next() % keys; break;
            default:
                if (next >= unique->size()) die("filluniquerandom: more writes than keys");
                k = (*unique)[next++];
                break;
            }
            generate_key(k, FLAGS_key_size, &key);
            std::string_view v = gen.generate();
            t->session->batch_put(key, v);
            bytes += static_cast<int64_t>(v.size()) + FLAGS_key_size;
        }
        if (!t->session->batch_write(&err)) die("put error: " + err);
        t->stats.finished_ops(entries_per_batch_, OpType::kWrite);
    }
    t->stats.add_bytes(bytes);
}

// ReadSequential / ReadReverse: up to reads_ entries through one iterator, from the first key
// forward or from the last key back.
void Benchmark::read_through(ThreadState* t, bool reverse) {
    std::string err;
    auto it = t->session->new_iterator(&err);
    if (!it) die("iterator error: " + err);
    int64_t i = 0, bytes = 0;
    if (reverse)
        it->seek_to_last();
    else
        it->seek_to_first();
    for (; i < reads_ && it->valid(); reverse ? it->prev() : it->next()) {
        bytes += static_cast<int64_t>(it->key().size() + it->value().size());
        t->stats.finished_ops(1, OpType::kRead);
        ++i;
    }
    if (!it->status(&err)) die("iterator error: " + err);
    t->counters["reads"] += i;
    t->stats.add_bytes(bytes);
}

// db_bench's closing message of readrandom and seekrandom, "(X of Y found)\n" (its newline
// included), and the same figures as counters.
static void report_found(ThreadState* t, int64_t found, int64_t tried, int64_t bytes,
                         const char* tried_name) {
    char msg[100];
    snprintf(msg, sizeof msg, "(%" PRId64 " of %" PRId64 " found)\n", found, tried);
    t->stats.add_bytes(bytes);
    t->stats.add_message(msg);
    t->counters["found"] += found;
    t->counters[tried_name] += tried;
}

// ReadRandom: reads_ point reads (or --duration seconds) of uniformly random keys.
void Benchmark::read_random(ThreadState* t) {
    int64_t read = 0, found = 0, bytes = 0;
    Duration duration(FLAGS_duration, reads_);
    std::string key, value, err;
    while (!duration.done(1)) {
        (void)t->rand.next();  // the database pick
        uint64_t k = t->rand.next() % static_cast<uint64_t>(FLAGS_num);
        generate_key(k, FLAGS_key_size, &key);
        read++;
        switch (t->session->get(key, &value, &err)) {
        case Session::Get::kFound:
            found++;
            bytes += static_cast<int64_t>(key.size() + value.size());
            break;
        case Session::Get::kNotFound: break;
        case Session::Get::kError: die("Get returned an error: " + err);
        }
        t->stats.finished_ops(1, OpType::kRead);
    }
    report_found(t, found, read, bytes, "reads");
}

// SeekRandom: a new iterator per seek (db_bench without --use_tailing_iterator), then up to
// seek_nexts Next() calls, each copying out the value as db_bench does.
void Benchmark::seek_random(ThreadState* t) {
    int64_t read = 0, found = 0, bytes = 0;
    Duration duration(FLAGS_duration, reads_);
    std::string key, err;
    char value_buffer[256];
    while (!duration.done(1)) {
        uint64_t pos = t->rand.next() % static_cast<uint64_t>(FLAGS_num);
        generate_key(pos, FLAGS_key_size, &key);
        auto it = t->session->new_iterator(&err);
        if (!it) die("iterator error: " + err);
        it->seek(key);
        read++;
        if (it->valid() && it->key() == key) found++;
        for (int j = 0; j < FLAGS_seek_nexts && it->valid(); ++j) {
            std::string_view v = it->value();
            memcpy(value_buffer, v.data(), std::min(v.size(), sizeof value_buffer));
            bytes += static_cast<int64_t>(it->key().size() + v.size());
            it->next();
        }
        if (!it->status(&err)) die("iterator error: " + err);
        t->stats.finished_ops(1, OpType::kSeek);
    }
    report_found(t, found, read, bytes, "seeks");
}

// DoDelete: deletes_ keys in batches of entries_per_batch_, sequential or random.
void Benchmark::do_delete(ThreadState* t, bool seq) {
    Duration duration(seq ? 0 : FLAGS_duration, deletes_);
    int64_t i = 0;
    std::string key, err;
    while (!duration.done(entries_per_batch_)) {
        (void)t->rand.next();  // the database pick
        for (int64_t j = 0; j < entries_per_batch_; ++j) {
            uint64_t k = seq ? static_cast<uint64_t>(i + j)
                             : t->rand.next() % static_cast<uint64_t>(FLAGS_num);
            generate_key(k, FLAGS_key_size, &key);
            t->session->batch_delete(key);
        }
        if (!t->session->batch_write(&err)) die("del error: " + err);
        t->stats.finished_ops(entries_per_batch_, OpType::kDelete);
        i += entries_per_batch_;
    }
    t->counters["deletes"] += i;
}

// ReadWhileWriting: thread 0 writes until the readers finish; the others run readrandom.
void Benchmark::read_while_writing(ThreadState* t) {
    if (t->tid > 0)
        read_random(t);
    else
        bg_writer(t);
}

// BGWriter(kWrite): random puts until every reader is done; its Stats stay out of the merge.
void Benchmark::bg_writer(ThreadState* t) {
    ValueGenerator gen(FLAGS_compression_ratio, FLAGS_value_size);
    int64_t bytes = 0, written = 0;
    t->stats.set_exclude_from_merge();
    std::string key, err;
    while (true) {
        (void)t->rand.next();  // the database pick
        {
            std::lock_guard<std::mutex> l(t->shared->mu);
            if (t->shared->num_done + 1 >= t->shared->num_initialized) break;
        }
        generate_key(t->rand.next() % static_cast<uint64_t>(FLAGS_num), FLAGS_key_size, &key);
        std::string_view v = gen.generate();
        if (!t->session->put(key, v, &err)) die("put or merge error: " + err);
        written++;
        bytes += static_cast<int64_t>(key.size() + v.size());
        t->stats.finished_ops(1, OpType::kWrite);
    }
    t->stats.add_bytes(bytes);
    t->counters["writes"] += written;
}

// ReadRandomWriteRandom: fixed cycles of readwritepercent gets then 100 - readwritepercent
// puts (not a coin flip), over random keys.
void Benchmark::read_random_write_random(ThreadState* t) {
    ValueGenerator gen(FLAGS_compression_ratio, FLAGS_value_size);
    int64_t found = 0, reads_done = 0, writes_done = 0;
    int get_weight = 0, put_weight = 0;
    Duration duration(FLAGS_duration, readwrites_);
    std::string key, value, err;
    while (!duration.done(1)) {
        (void)t->rand.next();  // the database pick
        generate_key(t->rand.next() % static_cast<uint64_t>(FLAGS_num), FLAGS_key_size, &key);
        if (get_weight == 0 && put_weight == 0) {
            get_weight = FLAGS_readwritepercent;
            put_weight = 100 - get_weight;
        }
        if (get_weight > 0) {
            switch (t->session->get(key, &value, &err)) {
            case Session::Get::kFound: found++; break;
            case Session::Get::kNotFound: break;
            case Session::Get::kError: die("get error: " + err);
            }
            get_weight--;
            reads_done++;
            t->stats.finished_ops(1, OpType::kRead);
        } else if (put_weight > 0) {
            if (!t->session->put(key, gen.generate(), &err)) die("put error: " + err);
            put_weight--;
            writes_done++;
            t->stats.finished_ops(1, OpType::kWrite);
        }
    }
    char msg[100];
    snprintf(msg, sizeof msg,
             "( reads:%" PRId64 " writes:%" PRId64 " total:%" PRId64 " found:%" PRId64 ")",
             reads_done, writes_done, readwrites_, found);
    t->stats.add_message(msg);
    t->counters["reads"] += reads_done;
    t->counters["writes"] += writes_done;
    t->counters["found"] += found;
}

// UpdateRandom: get then put of the same random key, readwrites_ times.
void Benchmark::update_random(ThreadState* t) {
    ValueGenerator gen(FLAGS_compression_ratio, FLAGS_value_size);
    int64_t found = 0, bytes = 0;
    Duration duration(FLAGS_duration, readwrites_);
    std::string key, value, err;
    while (!duration.done(1)) {
        (void)t->rand.next();  // the database pick
        generate_key(t->rand.next() % static_cast<uint64_t>(FLAGS_num), FLAGS_key_size, &key);
        switch (t->session->get(key, &value, &err)) {
        case Session::Get::kFound:
            ++found;
            bytes += static_cast<int64_t>(key.size() + value.size());
            break;
        case Session::Get::kNotFound: break;
        case Session::Get::kError: die("Get returned an error: " + err);
        }
        std::string_view v = gen.generate();
        if (!t->session->put(key, v, &err)) die("put error: " + err);
        bytes += static_cast<int64_t>(key.size() + v.size());
        t->stats.finished_ops(1, OpType::kUpdate);
    }
    char msg[100];
    snprintf(msg, sizeof msg, "( updates:%" PRId64 " found:%" PRId64 ")", readwrites_, found);
    t->stats.add_bytes(bytes);
    t->stats.add_message(msg);
    t->counters["updates"] += readwrites_;
    t->counters["found"] += found;
}

int run_benchmarks(const std::vector<std::string>& argv) {
    std::vector<std::string> names;
    if (!validate_flags(&names)) return 1;
    // Progress on stderr as db_bench prints it, but only to a terminal unless asked for.
    gflags::CommandLineFlagInfo info;
    bool progress_explicit = gflags::GetCommandLineFlagInfo("progress_reports", &info) &&
                             !info.is_default;
    bool progress = FLAGS_progress_reports &&
                    (progress_explicit || FLAGS_stats_interval > 0 || isatty(2));
    Stats::configure(FLAGS_histogram || !FLAGS_json.empty(), progress, FLAGS_stats_interval);
    Benchmark b(argv);
    return b.run(names);
}

}  // namespace axbench
