/*
 * axi_bench.cc: google-benchmark driver for the ALEX index (alexstorage/index.h).
 *
 * Benchmarks. Each runs once per dataset and is named <Benchmark>/<distribution>/<N>, e.g.
 * Lookup/lognormal/1000000; --benchmark_filter selects by that name. Time is nanoseconds per
 * iteration; what an iteration is, and the counters, are listed here:
 *
 *   BulkLoad      axi_bulk_load of the N sorted keys (with payloads) into a fresh tree. One
 *                 iteration = one whole load (create/destroy not timed).
 *                 Counters: ns_per_key, bytes_per_key, depth, data_nodes, model_nodes.
 *   Lookup        One axi_find per iteration of an existing key, keys taken in a pre-shuffled
 *                 order, on a tree bulk-loaded once and reused. Counter: misses (should be 0).
 *   BinarySearch  Baseline for Lookup: std::lower_bound over a sorted std::vector<uint64_t>
 *                 plus the payload read from a parallel array (ALEX returns a payload too);
 *                 same keys in the same order. Counter: misses.
 *   Scan          axi_lower_bound of a random key drawn from the dataset's distribution (mostly
 *                 absent from the tree), then 100 axi_next steps summing payloads. One
 *                 iteration = one scan. Counter: steps (mean axi_next steps taken per scan).
 *   Insert        All N keys in random order into an empty tree with axi_upsert; one-shot.
 *                 Run twice: the first pass is timed as a whole and gives the reported time and
 *                 ns_per_insert; the second pass reads the clock after every insert and gives
 *                 the latency distribution p50_ns, p99_ns, p999_ns, max_ns (and lat_mean_ns).
 *                 Those latencies INCLUDE one clock_gettime(CLOCK_MONOTONIC) call and the loop
 *                 around it per insert; clock_ns is that overhead, measured on an empty loop.
 *                 Also bytes_per_key, depth after the inserts, keys_done, and the tree's
 *                 own work counters: shifts_per_ins, steps_per_ins, expansions, splits_side,
 *                 splits_down, model_exp, root_exp (see axi_stats).
 *   Erase         All N keys in random order from a freshly bulk-loaded tree; one-shot.
 *                 Counters: ns_per_erase, misses, bytes_left (memory after erasing all keys),
 *                 keys_done.
 *
 * Datasets: N from --axi_sizes times two key distributions, each with exactly N distinct keys
 * (duplicates are dropped and redrawn):
 *   uniform    random 64-bit keys
 *   lognormal  exp(Normal(mu=0, sigma=2)) * 1e9, truncated to uint64
 * A dataset is generated on first use, outside any timed region, and cached for the rest of
 * the run: sorted keys, their payloads, one random permutation of the keys (the order for
 * Lookup, BinarySearch, Insert and Erase) and up to 1M scan start keys. Generation uses this
 * file's own splitmix64, Box-Muller and Fisher-Yates (not <random>, whose distributions differ
 * between standard libraries), so a seed gives the same keys everywhere.
 *
 * Flags (ours; every other flag goes to google-benchmark, and unknown flags are rejected):
 *   --axi_sizes=N[,N...]  key counts to run (default 1000000,10000000). If the flag is absent
 *                         the environment variable AXI_BENCH_SIZES is read instead, e.g.
 *                         AXI_BENCH_SIZES=1000000 for a quick or CI run.
 *   --axi_seed=S          base seed of all data generation (default below); printed in the
 *                         context block so a run can be replayed.
 *   --axi_phase_limit_s=T wall-clock limit per Insert/Erase pass (default 30 s, 0 = none), so
 *                         a pathologically slow implementation cannot stall the whole run. A
 *                         pass that hits it stops at a multiple of 1024 keys; its row is
 *                         labelled TRUNCATED and its counters (keys_done) cover only the keys
 *                         done, which for Insert are the tree's early growth, not the full N.
 *
 * Before the results the context block records the CPU model, build type, compilers and flags,
 * whether the library was built with assertions, the seed, the sizes and the clock overhead.
 *
 * Benchmarks measure; they do not assert. A failed call is reported through SkipWithError.
 */
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <time.h>

#include "alexstorage/index.h"

namespace {

constexpr uint64_t kDefaultSeed = 20240601;
constexpr const char *kDefaultSizes = "1000000,10000000";
constexpr double kDefaultPhaseLimitS = 30.0;
constexpr int kScanSteps = 100;
constexpr size_t kMaxProbes = 1000000;

/* ---- random numbers (reproducible across compilers and standard libraries) ---- */

uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform double in (0, 1]. */
double unit_open0(uint64_t *state) {
    return (static_cast<double>(splitmix64(state) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

/* Uniform in [0, bound), by the high half of a 64x64 product (bias below 2^-40 for our n). */
uint64_t below(uint64_t *state, uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(splitmix64(state)) * bound) >> 64);
}

/* The payload stored with a key: cheap, and not the key itself. */
inline uint64_t payload_of(uint64_t key) { return key * 0x9E3779B97F4A7C15ull + 1; }

inline uint64_t now_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

/* Mean cost of one link of the chained clock reads used for insert latencies (empty body). */
double clock_overhead_ns() {
    constexpr int kReps = 1000000;
    std::vector<uint32_t> sink(1024);
    uint64_t prev = now_ns();
    const uint64_t start = prev;
    for (int i = 0; i < kReps; i++) {
        uint64_t c = now_ns();
        sink[static_cast<size_t>(i) & 1023] = static_cast<uint32_t>(c - prev);
        prev = c;
    }
    benchmark::DoNotOptimize(sink.data());
    return static_cast<double>(prev - start) / kReps;
}

/* ---- datasets ---- */

enum class Dist { kUniform, kLognormal };

const char *dist_name(Dist d) { return d == Dist::kUniform ? "uniform" : "lognormal"; }

struct Dataset {
    Dist dist;
    size_t n;
    uint64_t seed;
    bool ready = false;
    std::vector<uint64_t> keys;     /* sorted, distinct, exactly n */
    std::vector<uint64_t> payloads; /* payloads[i] = payload_of(keys[i]) */
    std::vector<uint64_t> order;    /* the keys in one random order */
    std::vector<uint64_t> probes;   /* scan start keys, drawn from the distribution */
    /* Where Lookup and BinarySearch continue in `order`: both see the same key sequence, and
     * google-benchmark's repeated runs of one benchmark do not revisit warmed keys. */
    size_t lookup_pos = 0;
    size_t bsearch_pos = 0;
    size_t scan_pos = 0;

    Dataset(Dist d, size_t count, uint64_t base_seed) : dist(d), n(count) {
        uint64_t s = base_seed ^ (static_cast<uint64_t>(d) + 1) * 0xD1B54A32D192ED03ull;
        s ^= count * 0x8CB92BA72F3D8DD7ull;
        seed = splitmix64(&s);
    }

    uint64_t draw(uint64_t *state) const {
        if (dist == Dist::kUniform) return splitmix64(state);
        /* Box-Muller; one normal per two uniforms keeps the stream simple. */
        const double u1 = unit_open0(state), u2 = unit_open0(state);
        const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
        const double v = std::exp(0.0 + 2.0 * z) * 1e9;
        return v >= 18446744073709549568.0 ? UINT64_MAX : static_cast<uint64_t>(v);
    }

    void ensure() {
        if (ready) return;
        uint64_t ks = seed ^ 0x01, os = seed ^ 0x02, ps = seed ^ 0x03;
        keys.reserve(n);
        while (keys.size() < n) {
            for (size_t i = keys.size(); i < n; i++) keys.push_back(draw(&ks));
            std::sort(keys.begin(), keys.end());
            keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
        }
        payloads.resize(n);
        for (size_t i = 0; i < n; i++) payloads[i] = payload_of(keys[i]);
        order = keys;
        for (size_t i = n; i > 1; i--) std::swap(order[i - 1], order[below(&os, i)]);
        probes.resize(std::min(n, kMaxProbes));
        for (auto &p : probes) p = draw(&ps);
        ready = true;
    }
};

std::vector<std::unique_ptr<Dataset>> g_datasets;

/* One bulk-loaded tree kept for the read-only benchmarks; rebuilt when the dataset changes. */
struct LoadedTree {
    const Dataset *ds = nullptr;
    axi_tree *tree = nullptr;
} g_loaded;

void drop_loaded_tree() {
    axi_destroy(g_loaded.tree);
    g_loaded = LoadedTree{};
}

/* Returns the tree holding ds, bulk-loading it if needed; NULL with *rc set on failure. */
const axi_tree *loaded_tree(const Dataset *ds, int *rc) {
    *rc = AXI_OK;
    if (g_loaded.ds == ds) return g_loaded.tree;
    drop_loaded_tree();
    axi_tree *t = nullptr;
    if ((*rc = axi_create(&t)) != AXI_OK) return nullptr;
    if ((*rc = axi_bulk_load(t, ds->keys.data(), ds->payloads.data(), ds->n)) != AXI_OK) {
        axi_destroy(t);
        return nullptr;
    }
    g_loaded.ds = ds;
    g_loaded.tree = t;
    return t;
}

double bytes_per_key(const axi_stats &s) {
    return s.num_keys ? static_cast<double>(s.memory_bytes) / static_cast<double>(s.num_keys) : 0.0;
}

void skip_with(benchmark::State &st, const char *what, int rc) {
    std::string msg = std::string(what) + ": " + axi_strerror(rc);
    st.SkipWithError(msg.c_str());
}

/* ---- benchmarks ---- */

void BM_BulkLoad(benchmark::State &st, Dataset *ds) {
    ds->ensure();
    drop_loaded_tree(); /* keep one tree in memory at a time */
    uint64_t total_ns = 0;
    axi_stats s{};
    for (auto _ : st) {
        axi_tree *t = nullptr;
        int rc = axi_create(&t);
        if (rc != AXI_OK) {
            skip_with(st, "axi_create", rc);
            break;
        }
        const uint64_t t0 = now_ns();
        rc = axi_bulk_load(t, ds->keys.data(), ds->payloads.data(), ds->n);
        const uint64_t t1 = now_ns();
        if (rc != AXI_OK) {
            axi_destroy(t);
            skip_with(st, "axi_bulk_load", rc);
            break;
        }
        axi_get_stats(t, &s);
        axi_destroy(t);
        total_ns += t1 - t0;
        st.SetIterationTime(static_cast<double>(t1 - t0) * 1e-9);
    }
    const double n = static_cast<double>(ds->n);
    st.counters["ns_per_key"] =
        benchmark::Counter(static_cast<double>(total_ns) / n, benchmark::Counter::kAvgIterations);
    st.counters["bytes_per_key"] = bytes_per_key(s);
    st.counters["depth"] = s.max_depth;
    st.counters["data_nodes"] = static_cast<double>(s.num_data_nodes);
    st.counters["model_nodes"] = static_cast<double>(s.num_model_nodes);
}

void BM_Lookup(benchmark::State &st, Dataset *ds) {
    ds->ensure();
    int rc;
    const axi_tree *t = loaded_tree(ds, &rc);
    if (!t) {
        skip_with(st, "bulk load", rc);
        return;
    }
    const uint64_t *order = ds->order.data();
    const size_t n = ds->n;
    size_t pos = ds->lookup_pos;
    uint64_t misses = 0;
    for (auto _ : st) {
        uint64_t payload = 0;
        misses += !axi_find(t, order[pos], &payload);
        benchmark::DoNotOptimize(payload);
        if (++pos == n) pos = 0;
    }
    ds->lookup_pos = pos;
    st.counters["misses"] = static_cast<double>(misses);
}

void BM_BinarySearch(benchmark::State &st, Dataset *ds) {
    ds->ensure();
    const std::vector<uint64_t> &keys = ds->keys;
    const uint64_t *payloads = ds->payloads.data();
    const uint64_t *order = ds->order.data();
    const size_t n = ds->n;
    size_t pos = ds->bsearch_pos;
    uint64_t misses = 0;
    for (auto _ : st) {
        const uint64_t key = order[pos];
        uint64_t payload = 0;
        auto it = std::lower_bound(keys.begin(), keys.end(), key);
        if (it != keys.end() && *it == key)
            payload = payloads[it - keys.begin()];
        else
            misses++;
        benchmark::DoNotOptimize(payload);
        if (++pos == n) pos = 0;
    }
    ds->bsearch_pos = pos;
    st.counters["misses"] = static_cast<double>(misses);
}

void BM_Scan(benchmark::State &st, Dataset *ds) {
    ds->ensure();
    int rc;
    const axi_tree *t = loaded_tree(ds, &rc);
    if (!t) {
        skip_with(st, "bulk load", rc);
        return;
    }
    const uint64_t *probes = ds->probes.data();
    const size_t np = ds->probes.size();
    size_t pos = ds->scan_pos;
    uint64_t steps = 0;
    for (auto _ : st) {
        axi_cursor cur;
        uint64_t sum = 0;
        if (axi_lower_bound(t, probes[pos], &cur)) {
            sum += axi_cursor_payload(&cur);
            for (int i = 0; i < kScanSteps && axi_next(&cur); i++) {
                sum += axi_cursor_payload(&cur);
                steps++;
            }
        }
        benchmark::DoNotOptimize(sum);
        if (++pos == np) pos = 0;
    }
    ds->scan_pos = pos;
    st.counters["steps"] =
        benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kAvgIterations);
}

/* p in [0,1]; nearest-rank percentile of v (reorders v). */
uint32_t percentile(std::vector<uint32_t> &v, double p) {
    size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
    size_t idx = rank ? rank - 1 : 0;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(idx), v.end());
    return v[idx];
}

/* Keys done before the phase limit; inserts/erases check the clock every kLimitStride keys. */
constexpr size_t kLimitStride = 1024;
uint64_t g_phase_limit_ns = 0; /* 0: no limit */

void label_truncated(benchmark::State &st, size_t done, size_t n) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "TRUNCATED by --axi_phase_limit_s after %zu of %zu keys; counters cover those",
                  done, n);
    st.SetLabel(buf);
}

void BM_Insert(benchmark::State &st, Dataset *ds, double clock_ns) {
    ds->ensure();
    drop_loaded_tree();
    const uint64_t *order = ds->order.data();
    const size_t n = ds->n;
    std::vector<uint32_t> lat(n);
    uint64_t total_ns = 0, timed_pass_ns = 0;
    size_t done = 0;
    axi_stats s{};
    for (auto _ : st) {
        /* Pass 1: the whole phase, one clock read at each end (and one per kLimitStride keys
         * for the phase limit). */
        axi_tree *t = nullptr;
        int rc = axi_create(&t);
        if (rc != AXI_OK) {
            skip_with(st, "axi_create", rc);
            break;
        }
        const uint64_t t0 = now_ns();
        const uint64_t deadline = g_phase_limit_ns ? t0 + g_phase_limit_ns : UINT64_MAX;
        size_t i = 0;
        while (i < n) {
            rc = axi_upsert(t, order[i], payload_of(order[i]), nullptr);
            if (rc != AXI_OK) break;
            if (++i % kLimitStride == 0 && now_ns() > deadline) break;
        }
        const uint64_t t1 = now_ns();
        done = i;
        axi_get_stats(t, &s);
        axi_destroy(t);
        if (rc != AXI_OK) {
            skip_with(st, "axi_upsert", rc);
            break;
        }
        total_ns += t1 - t0;

        /* Pass 2: the same inserts into a new tree, one chained clock read after each. */
        t = nullptr;
        if ((rc = axi_create(&t)) != AXI_OK) {
            skip_with(st, "axi_create", rc);
            break;
        }
        const uint64_t start = now_ns();
        uint64_t prev = start;
        for (i = 0; i < done && rc == AXI_OK; i++) {
            rc = axi_upsert(t, order[i], payload_of(order[i]), nullptr);
            const uint64_t c = now_ns();
            const uint64_t d = c - prev;
            lat[i] = d > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(d);
            prev = c;
        }
        timed_pass_ns = prev - start;
        axi_destroy(t);
        if (rc != AXI_OK) {
            skip_with(st, "axi_upsert", rc);
            break;
        }
        st.SetIterationTime(static_cast<double>(t1 - t0) * 1e-9);
    }
    if (st.error_occurred() || done == 0) return;
    if (done < n) label_truncated(st, done, n);
    lat.resize(done);
    const double done_d = static_cast<double>(done);
    st.counters["ns_per_insert"] = benchmark::Counter(static_cast<double>(total_ns) / done_d,
                                                      benchmark::Counter::kAvgIterations);
    st.counters["lat_mean_ns"] = static_cast<double>(timed_pass_ns) / done_d;
    st.counters["p50_ns"] = percentile(lat, 0.50);
    st.counters["p99_ns"] = percentile(lat, 0.99);
    st.counters["p999_ns"] = percentile(lat, 0.999);
    st.counters["max_ns"] = *std::max_element(lat.begin(), lat.end());
    st.counters["clock_ns"] = clock_ns;
    st.counters["bytes_per_key"] = bytes_per_key(s);
    st.counters["depth"] = s.max_depth;
    st.counters["keys_done"] = done_d;
    /* Where the insert time went (pass 1's tree), for whoever tunes the implementation. */
    st.counters["shifts_per_ins"] = static_cast<double>(s.shifts) / done_d;
    st.counters["steps_per_ins"] = static_cast<double>(s.search_steps) / done_d;
    st.counters["expansions"] = static_cast<double>(s.expansions);
    st.counters["splits_side"] = static_cast<double>(s.splits_sideways);
    st.counters["splits_down"] = static_cast<double>(s.splits_down);
    st.counters["model_exp"] = static_cast<double>(s.model_expansions);
    st.counters["root_exp"] = static_cast<double>(s.root_expansions);
}

void BM_Erase(benchmark::State &st, Dataset *ds) {
    ds->ensure();
    drop_loaded_tree();
    const uint64_t *order = ds->order.data();
    const size_t n = ds->n;
    uint64_t total_ns = 0, misses = 0, bytes_left = 0;
    size_t done = 0;
    for (auto _ : st) {
        axi_tree *t = nullptr;
        int rc = axi_create(&t);
        if (rc == AXI_OK) rc = axi_bulk_load(t, ds->keys.data(), ds->payloads.data(), n);
        if (rc != AXI_OK) {
            axi_destroy(t);
            skip_with(st, "bulk load", rc);
            break;
        }
        uint64_t found = 0;
        const uint64_t t0 = now_ns();
        const uint64_t deadline = g_phase_limit_ns ? t0 + g_phase_limit_ns : UINT64_MAX;
        size_t i = 0;
        while (i < n) {
            found += axi_erase(t, order[i], nullptr);
            if (++i % kLimitStride == 0 && now_ns() > deadline) break;
        }
        const uint64_t t1 = now_ns();
        axi_stats s;
        axi_get_stats(t, &s);
        axi_destroy(t);
        done = i;
        total_ns += t1 - t0;
        misses = done - found;
        bytes_left = s.memory_bytes;
        st.SetIterationTime(static_cast<double>(t1 - t0) * 1e-9);
    }
    if (st.error_occurred() || done == 0) return;
    if (done < n) label_truncated(st, done, n);
    st.counters["ns_per_erase"] = benchmark::Counter(
        static_cast<double>(total_ns) / static_cast<double>(done), benchmark::Counter::kAvgIterations);
    st.counters["misses"] = static_cast<double>(misses);
    st.counters["bytes_left"] = static_cast<double>(bytes_left);
    st.counters["keys_done"] = static_cast<double>(done);
}

/* ---- command line and context ---- */

/* Parses "N[,N...]" of positive integers into out; false on any malformed element. */
bool parse_sizes(const char *text, std::vector<size_t> *out) {
    out->clear();
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        if (*p < '0' || *p > '9') return false;
        unsigned long long v = std::strtoull(p, &end, 10);
        if (errno || end == p || v == 0 || v > (1ull << 32)) return false;
        out->push_back(static_cast<size_t>(v));
        p = end;
        if (*p == ',') {
            p++;
            if (!*p) return false;
        } else if (*p) {
            return false;
        }
    }
    return !out->empty();
}

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("model name", 0) == 0) {
            size_t colon = line.find(':');
            if (colon != std::string::npos) {
                size_t b = line.find_first_not_of(" \t", colon + 1);
                return b == std::string::npos ? std::string() : line.substr(b);
            }
        }
    }
    return "unknown";
}

std::string compiler_name() {
#if defined(__clang__)
    return std::string("Clang ") + __clang_version__;
#elif defined(__GNUC__)
    return std::string("GCC ") + __VERSION__;
#else
    return "unknown";
#endif
}

void print_flags_help() {
    std::printf(
        "axi_bench: ALEX index benchmarks (see the comment at the top of axi_bench.cc).\n"
        "  --axi_sizes=N[,N...]  key counts (default %s; env AXI_BENCH_SIZES if absent)\n"
        "  --axi_seed=S          base seed of the data generator (default %" PRIu64 ")\n"
        "  --axi_phase_limit_s=T stop an Insert/Erase pass after T seconds (default %g; 0 = "
        "none)\n\n",
        kDefaultSizes, kDefaultSeed, kDefaultPhaseLimitS);
}

} // namespace

int main(int argc, char **argv) {
    const char *sizes_text = nullptr;
    const char *sizes_source = "default";
    uint64_t seed = kDefaultSeed;
    double phase_limit_s = kDefaultPhaseLimitS;

    /* Take our --axi_* flags out of argv; google-benchmark parses the rest. */
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (std::strncmp(a, "--axi_sizes=", 12) == 0) {
            sizes_text = a + 12;
            sizes_source = "--axi_sizes";
        } else if (std::strncmp(a, "--axi_seed=", 11) == 0) {
            char *end;
            errno = 0;
            seed = std::strtoull(a + 11, &end, 0);
            if (errno || end == a + 11 || *end) {
                std::fprintf(stderr, "axi_bench: bad value in '%s'\n", a);
                return 2;
            }
        } else if (std::strncmp(a, "--axi_phase_limit_s=", 20) == 0) {
            char *end;
            errno = 0;
            const double v = std::strtod(a + 20, &end);
            if (errno || end == a + 20 || *end || !(v >= 0) || v > 1e6) {
                std::fprintf(stderr, "axi_bench: bad value in '%s'\n", a);
                return 2;
            }
            phase_limit_s = v;
        } else if (std::strncmp(a, "--axi_", 6) == 0) {
            std::fprintf(stderr, "axi_bench: unknown flag '%s'\n", a);
            print_flags_help();
            return 2;
        } else {
            if (std::strcmp(a, "--help") == 0 || std::strcmp(a, "-h") == 0) print_flags_help();
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
    argv[argc] = nullptr;
    if (!sizes_text) {
        const char *env = std::getenv("AXI_BENCH_SIZES");
        if (env && *env) {
            sizes_text = env;
            sizes_source = "AXI_BENCH_SIZES";
        } else {
            sizes_text = kDefaultSizes;
        }
    }
    std::vector<size_t> sizes;
    if (!parse_sizes(sizes_text, &sizes)) {
        std::fprintf(stderr, "axi_bench: bad size list '%s' (from %s)\n", sizes_text, sizes_source);
        return 2;
    }

    g_phase_limit_ns = static_cast<uint64_t>(phase_limit_s * 1e9);

    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

    const double clock_ns = clock_overhead_ns();
    char buf[128];

    benchmark::AddCustomContext("cpu_model", cpu_model());
    benchmark::AddCustomContext("build_type", AXI_BENCH_BUILD_TYPE);
    benchmark::AddCustomContext("compiler", compiler_name() + " (driver), " AXI_BENCH_C_COMPILER
                                                              " (library)");
    benchmark::AddCustomContext("library_c_flags", AXI_BENCH_C_FLAGS);
    benchmark::AddCustomContext("driver_cxx_flags", AXI_BENCH_CXX_FLAGS);
    benchmark::AddCustomContext("library_asserts",
                                std::strstr(AXI_BENCH_C_FLAGS, "-DNDEBUG") ? "off (NDEBUG)" : "ON");
    benchmark::AddCustomContext("sanitizer", *AXI_BENCH_SANITIZE ? AXI_BENCH_SANITIZE : "none");
    benchmark::AddCustomContext("libbenchmark_note",
                                "library_build_type and any 'Library was built as DEBUG' warning "
                                "describe google-benchmark itself, not AlexStorage (see "
                                "build_type and library_c_flags)");
    std::snprintf(buf, sizeof buf, "%" PRIu64, seed);
    benchmark::AddCustomContext("axi_seed", buf);
    std::snprintf(buf, sizeof buf, "%g s per Insert/Erase pass (0 = none)", phase_limit_s);
    benchmark::AddCustomContext("axi_phase_limit", buf);
    benchmark::AddCustomContext("axi_sizes", std::string(sizes_text) + " (from " + sizes_source + ")");
    std::snprintf(buf, sizeof buf,
                  "%.1f ns per insert (one chained clock_gettime(CLOCK_MONOTONIC) + loop), "
                  "included in Insert p50/p99/p999/max/lat_mean",
                  clock_ns);
    benchmark::AddCustomContext("latency_clock_overhead", buf);

    for (size_t n : sizes)
        for (Dist d : {Dist::kUniform, Dist::kLognormal})
            g_datasets.push_back(std::make_unique<Dataset>(d, n, seed));

    auto name = [](const char *bench, const Dataset &ds) {
        return std::string(bench) + "/" + dist_name(ds.dist) + "/" + std::to_string(ds.n);
    };
    for (auto &p : g_datasets) {
        Dataset *ds = p.get();
        /* Whole loads: enough repetitions for a stable mean, about 20M keys loaded in all. */
        const int64_t loads = std::max<int64_t>(2, static_cast<int64_t>(20000000 / ds->n));
        benchmark::RegisterBenchmark(name("BulkLoad", *ds).c_str(), BM_BulkLoad, ds)
            ->Unit(benchmark::kNanosecond)
            ->UseManualTime()
            ->Iterations(loads);
    }
    for (auto &p : g_datasets)
        benchmark::RegisterBenchmark(name("Lookup", *p).c_str(), BM_Lookup, p.get())
            ->Unit(benchmark::kNanosecond);
    for (auto &p : g_datasets)
        benchmark::RegisterBenchmark(name("BinarySearch", *p).c_str(), BM_BinarySearch, p.get())
            ->Unit(benchmark::kNanosecond);
    for (auto &p : g_datasets)
        benchmark::RegisterBenchmark(name("Scan", *p).c_str(), BM_Scan, p.get())
            ->Unit(benchmark::kNanosecond);
    for (auto &p : g_datasets)
        benchmark::RegisterBenchmark(name("Insert", *p).c_str(), BM_Insert, p.get(), clock_ns)
            ->Unit(benchmark::kNanosecond)
            ->UseManualTime()
            ->Iterations(1);
    for (auto &p : g_datasets)
        benchmark::RegisterBenchmark(name("Erase", *p).c_str(), BM_Erase, p.get())
            ->Unit(benchmark::kNanosecond)
            ->UseManualTime()
            ->Iterations(1);

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    drop_loaded_tree();
    return 0;
}
