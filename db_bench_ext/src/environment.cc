// environment.cc: see environment.h.
#include "environment.h"

#include <lmdb.h>
#include <lz4.h>
#include <rocksdb/version.h>
#include <sqlite3.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string_view>

namespace axbench {

namespace {

std::string trim(std::string s) {
    size_t b = s.find_first_not_of(" \t\n");
    size_t e = s.find_last_not_of(" \t\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string filesystem_of(std::string path) {
    struct statfs st;
    // The database directory may not exist yet: ask its nearest existing ancestor.
    while (!path.empty() && statfs(path.c_str(), &st) != 0) {
        size_t slash = path.rfind('/');
        path = slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
        if (path == "/") {
            if (statfs("/", &st) != 0) return "unknown";
            break;
        }
    }
    static const struct { unsigned long magic; const char* name; } known[] = {
        {0xEF53, "ext2/3/4"},       {0x58465342, "xfs"},  {0x01021994, "tmpfs"},
        {0x9123683E, "btrfs"},      {0x794c7630, "overlayfs"}, {0x6969, "nfs"},
        {0x2fc12fc1, "zfs"},        {0xF2F52010, "f2fs"}, {0x65735546, "fuse"},
    };
    for (const auto& k : known)
        if (static_cast<unsigned long>(st.f_type) == k.magic) return k.name;
    char buf[32];
    snprintf(buf, sizeof buf, "f_type 0x%lx", static_cast<unsigned long>(st.f_type));
    return buf;
}

// Finds the file the dynamic loader would load for a bare soname, without loading it.
std::string locate_library(const std::string& lib) {
    if (lib.find('/') != std::string::npos) return lib;
    std::vector<std::string> dirs;
    if (const char* ld = getenv("LD_LIBRARY_PATH")) {
        std::string s = ld;
        size_t p = 0;
        while (p <= s.size()) {
            size_t c = s.find(':', p);
            if (c == std::string::npos) c = s.size();
            if (c > p) dirs.push_back(s.substr(p, c - p));
            p = c + 1;
        }
    }
#if defined(__x86_64__)
    const char* triple = "x86_64-linux-gnu";
#elif defined(__aarch64__)
    const char* triple = "aarch64-linux-gnu";
#else
    const char* triple = "";
#endif
    for (const char* d : {"/usr/local/lib", "/lib", "/usr/lib"}) {
        dirs.push_back(std::string(d) + "/" + triple);
        dirs.push_back(d);
    }
    for (const auto& d : dirs) {
        std::string p = d + "/" + lib;
        if (access(p.c_str(), R_OK) == 0) return p;
    }
    return lib;
}

// A library built without NDEBUG imports __assert_fail; one built with it (RocksDB's release
// builds) has no call site left. The symbol name is searched in the file's bytes (it sits in
// .dynstr), which needs no ELF parsing and no loading.
bool imports_assert_fail(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    static const char needle[] = "__assert_fail";
    const size_t n = sizeof needle - 1;
    std::string buf(1 << 20, '\0'), carry;
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        std::string chunk = carry + buf.substr(0, static_cast<size_t>(in.gcount()));
        if (chunk.find(needle) != std::string::npos) return true;
        carry = chunk.size() >= n ? chunk.substr(chunk.size() - n) : chunk;
    }
    return false;
}

}  // namespace

Environment collect_environment(const std::string& db_path, const std::string& rocksdb_lib) {
    Environment e;
    time_t now = time(nullptr);
    char buf[64];
    e.date = trim(ctime_r(&now, buf));

    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        size_t sep = line.find(':');
        if (sep == std::string::npos) continue;
        std::string k = trim(line.substr(0, sep)), v = trim(line.substr(sep + 1));
        if (k == "model name") {
            e.cpus++;
            e.cpu_model = v;
        } else if (k == "cache size") {
            e.cpu_cache = v;
        }
    }
    e.online_cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    std::ifstream meminfo("/proc/meminfo");
    while (std::getline(meminfo, line))
        if (line.rfind("MemTotal:", 0) == 0) e.memory = trim(line.substr(9));

    struct utsname u;
    if (uname(&u) == 0) e.kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
    e.filesystem = filesystem_of(db_path);

    e.build_type = AXB_BUILD_TYPE;
#if defined(__OPTIMIZE__)
    e.build_type += ", optimized";
#else
    e.build_type += ", not optimized";
#endif
#if !defined(NDEBUG)
    e.build_type += ", assertions on";
#endif

    e.rocksdb_library = locate_library(rocksdb_lib.empty() ? "librocksdb.so.7.8" : rocksdb_lib);
    e.rocksdb_assertions = imports_assert_fail(e.rocksdb_library);
    char rv[32];
    snprintf(rv, sizeof rv, "%d.%d.%d", ROCKSDB_MAJOR, ROCKSDB_MINOR, ROCKSDB_PATCH);
    e.rocksdb_header_version = rv;
    e.versions = {
        {"AlexStorage", AXB_VERSION},
        {"RocksDB", std::string(rv) + " (headers; " + e.rocksdb_library + ")"},
        {"LMDB", std::to_string(MDB_VERSION_MAJOR) + "." + std::to_string(MDB_VERSION_MINOR) + "." +
                     std::to_string(MDB_VERSION_PATCH)},
        {"SQLite", sqlite3_libversion()},
        {"LZ4", LZ4_versionString()},
    };
    int maj = 0, min = 0, pat = 0;
    mdb_version(&maj, &min, &pat);
    e.versions[2].second = std::to_string(maj) + "." + std::to_string(min) + "." +
                           std::to_string(pat);
    return e;
}

}  // namespace axbench
