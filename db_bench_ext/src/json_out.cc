// json_out.cc: see json_out.h. nlohmann::json (Debian's nlohmann-json3-dev) does the encoding.
#include "json_out.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "flags.h"

namespace axbench {

bool write_json(const std::string& path, const std::vector<std::string>& argv,
                const Environment& env, const Store& store, const StoreConfig& cfg,
                uint64_t seed, const std::vector<Result>& results, std::string* err) {
    using nlohmann::json;
    json j;
    j["format"] = "alex_db_bench results";
    j["format_version"] = 1;
    j["command"] = argv;
    json e;
    e["date"] = env.date;
    e["cpu_model"] = env.cpu_model;
    e["cpus"] = env.cpus;
    e["cpu_cache"] = env.cpu_cache;
    e["online_cores"] = env.online_cores;
    e["memory"] = env.memory;
    e["kernel"] = env.kernel;
    e["filesystem"] = env.filesystem;
    e["build_type"] = env.build_type;
    e["rocksdb_library"] = env.rocksdb_library;
    e["rocksdb_assertions"] = env.rocksdb_assertions;
    for (const auto& [lib, v] : env.versions) e["versions"][lib] = v;
    j["environment"] = e;
    json s;
    s["name"] = store.name();
    s["version"] = store.version();
    for (const auto& [k, v] : store.describe()) s["settings"][k] = v;
    j["store"] = s;
    json c;
    c["db"] = cfg.path;
    c["num"] = FLAGS_num;
    c["reads"] = FLAGS_reads;
    c["writes"] = FLAGS_writes;
    c["key_size"] = FLAGS_key_size;
    c["value_size"] = FLAGS_value_size;
    c["threads"] = FLAGS_threads;
    c["readwritepercent"] = FLAGS_readwritepercent;
    c["seek_nexts"] = FLAGS_seek_nexts;
    c["batch_size"] = FLAGS_batch_size;
    c["duration"] = FLAGS_duration;
    c["seed"] = seed;
    c["sync"] = FLAGS_sync;
    c["disable_wal"] = FLAGS_disable_wal;
    c["compression_type"] = FLAGS_compression_type;
    c["compression_ratio"] = FLAGS_compression_ratio;
    c["cache_size"] = cfg.cache_size;
    c["bloom_bits"] = cfg.bloom_bits;
    c["write_buffer_size"] = cfg.write_buffer_size;
    c["use_existing_db"] = FLAGS_use_existing_db;
    c["perf_level"] = FLAGS_perf_level;
    j["config"] = c;
    json rs = json::array();
    for (const auto& r : results) {
        json o;
        o["name"] = r.name;
        if (r.skipped) {
            o["skipped"] = r.skip_reason;
            rs.push_back(o);
            continue;
        }
        o["threads"] = r.threads;
        o["micros_per_op"] = r.micros_per_op;
        o["ops_per_sec"] = r.ops_per_sec;
        o["seconds"] = r.seconds;
        o["operations"] = r.operations;
        o["bytes"] = r.bytes;
        o["mb_per_s"] = r.mb_per_s;
        o["message"] = r.message;
        o["counters"] = json::object();
        for (const auto& [k, v] : r.counters) o["counters"][k] = v;
        o["latency"] = json::object();
        for (const auto& l : r.latencies) {
            json x;
            x["count"] = l.count;
            x["mean_ns"] = l.mean_ns;
            x["min_ns"] = l.min_ns;
            x["p50_ns"] = l.p50_ns;
            x["p75_ns"] = l.p75_ns;
            x["p99_ns"] = l.p99_ns;
            x["p99.9_ns"] = l.p999_ns;
            x["p99.99_ns"] = l.p9999_ns;
            x["max_ns"] = l.max_ns;
            x["dbbench_average_us"] = l.dbbench_average_us;
            x["dbbench_p50_us"] = l.dbbench_p50_us;
            x["dbbench_p99_us"] = l.dbbench_p99_us;
            o["latency"][l.op] = x;
        }
        rs.push_back(o);
    }
    j["results"] = rs;

    // Written whole to a temporary name, then renamed: a reader never sees half a file.
    std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp);
        if (!out) {
            *err = "cannot write --json file " + tmp;
            return false;
        }
        out << j.dump(2) << "\n";
        if (!out.flush()) {
            *err = "cannot write --json file " + tmp;
            return false;
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        *err = "cannot rename " + tmp + " to " + path;
        std::remove(tmp.c_str());
        return false;
    }
    return true;
}

}  // namespace axbench
