// environment.h: what the results were measured on, printed before them and kept in the JSON.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace axbench {

struct Environment {
    std::string date;          // ctime of the run
    int cpus = 0;              // "model name" lines of /proc/cpuinfo, as db_bench counts
    std::string cpu_model;
    std::string cpu_cache;
    int online_cores = 0;      // sysconf(_SC_NPROCESSORS_ONLN)
    std::string memory;        // MemTotal
    std::string kernel;        // uname: sysname release machine
    std::string filesystem;    // type of the file system holding the database directory
    std::string build_type;    // CMAKE_BUILD_TYPE of this driver, plus "optimized"/"-O0"
    std::vector<std::pair<std::string, std::string>> versions;  // library -> version
    std::string rocksdb_header_version;  // <rocksdb/version.h> this driver was built with
    std::string rocksdb_library;   // the RocksDB shared library that --store=rocksdb loads
    bool rocksdb_assertions = false;  // that library calls __assert_fail (built without NDEBUG)
};

// db_path: the database directory (or its nearest existing parent, for the file system).
// rocksdb_lib: --rocksdb_lib or empty for the default.
Environment collect_environment(const std::string& db_path, const std::string& rocksdb_lib);

}  // namespace axbench
