// store_capi.cc: the stores that speak RocksDB's C API (rocksdb/c.h): rocksdb, alex_capi, hybrid.
//
// All three run through this one file, so a difference between them is a difference between the
// libraries, not between two harnesses. The library is dlopen()ed with RTLD_LOCAL and every
// function is taken from it by dlsym() into CapiLib, so Debian's librocksdb and our
// librocksdb_alex.so never bind each other's rocksdb_* symbols (the driver links neither; one
// store per process). Function pointer types come from the declarations in <rocksdb/c.h>
// (decltype), so a signature mismatch is a compile error, not a crash.
//
// The calls are the ones db_bench makes through the C++ API: writes of the fill benchmarks go
// through a WriteBatch (db_bench's DoWrite), single puts and deletes through Put/Delete, and point
// reads through a pinned Get (db_bench's ReadRandom reads into a PinnableSlice).
#include <dlfcn.h>
#include <sys/stat.h>

#include <rocksdb/c.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "store.h"

namespace axbench {
namespace {

// The functions this store uses, resolved from one library.
struct CapiLib {
    void* handle = nullptr;
    std::string path;  // as loaded (dlinfo: the real file)
#define AXB_CAPI_FUNCS(X)                                                                       \
    X(rocksdb_options_create) X(rocksdb_options_destroy) X(rocksdb_options_set_create_if_missing) \
    X(rocksdb_options_set_compression) X(rocksdb_options_set_write_buffer_size)                  \
    X(rocksdb_options_set_enable_pipelined_write) X(rocksdb_options_set_table_cache_numshardbits) \
    X(rocksdb_options_set_block_based_table_factory) X(rocksdb_block_based_options_create)       \
    X(rocksdb_block_based_options_destroy) X(rocksdb_block_based_options_set_block_cache)        \
    X(rocksdb_block_based_options_set_filter_policy) X(rocksdb_cache_create_lru)                 \
    X(rocksdb_cache_destroy) X(rocksdb_filterpolicy_create_bloom_full) X(rocksdb_open)           \
    X(rocksdb_close) X(rocksdb_destroy_db) X(rocksdb_writeoptions_create)                        \
    X(rocksdb_writeoptions_destroy) X(rocksdb_writeoptions_set_sync)                             \
    X(rocksdb_writeoptions_disable_WAL) X(rocksdb_readoptions_create)                            \
    X(rocksdb_readoptions_destroy) X(rocksdb_put) X(rocksdb_delete) X(rocksdb_get_pinned)        \
    X(rocksdb_pinnableslice_value) X(rocksdb_pinnableslice_destroy) X(rocksdb_writebatch_create) \
    X(rocksdb_writebatch_destroy) X(rocksdb_writebatch_put) X(rocksdb_writebatch_delete)         \
    X(rocksdb_writebatch_clear) X(rocksdb_write) X(rocksdb_create_iterator)                      \
    X(rocksdb_iter_destroy) X(rocksdb_iter_seek_to_first) X(rocksdb_iter_seek_to_last)           \
    X(rocksdb_iter_seek) X(rocksdb_iter_valid) X(rocksdb_iter_next) X(rocksdb_iter_prev)         \
    X(rocksdb_iter_key) X(rocksdb_iter_value) X(rocksdb_iter_get_error) X(rocksdb_flush_wal) X(rocksdb_set_perf_level) X(rocksdb_free)
#define AXB_CAPI_FIELD(f) decltype(&::f) f = nullptr;
    AXB_CAPI_FUNCS(AXB_CAPI_FIELD)
#undef AXB_CAPI_FIELD
    // Present in librocksdb_alex.so only (plugin/include/rocksdb_alex.h).
    void (*alexstorage_options_set_mode)(rocksdb_options_t*, const char*, char**) = nullptr;
    // Present in real RocksDB only: rocksdb::GetRocksVersionAsString(bool), a C++ function.
    std::string (*rocks_version)(bool) = nullptr;

    bool load(const std::string& lib, std::string* err) {
        handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            *err = "cannot load " + lib + ": " + dlerror();
            return false;
        }
        char origin[4096] = "";
        if (dlinfo(handle, RTLD_DI_ORIGIN, origin) == 0) {
            std::string base = lib.substr(lib.rfind('/') + 1);
            path = std::string(origin) + "/" + base;
        } else {
            path = lib;
        }
        std::string missing;
#define AXB_CAPI_RESOLVE(f)                                                    \
    f = reinterpret_cast<decltype(f)>(dlsym(handle, #f));                      \
    if (!f) missing += (missing.empty() ? "" : ", ") + std::string(#f);
        AXB_CAPI_FUNCS(AXB_CAPI_RESOLVE)
#undef AXB_CAPI_RESOLVE
        if (!missing.empty()) {
            *err = path + " lacks RocksDB C API functions: " + missing;
            return false;
        }
        alexstorage_options_set_mode = reinterpret_cast<decltype(alexstorage_options_set_mode)>(
            dlsym(handle, "alexstorage_options_set_mode"));
        rocks_version = reinterpret_cast<decltype(rocks_version)>(
            dlsym(handle, "_ZN7rocksdb23GetRocksVersionAsStringB5cxx11Eb"));
        return true;
    }
    ~CapiLib() {
        // Not dlclose()d: RocksDB leaves static objects and threads behind that must outlive
        // the handle; the process ends soon after the store does.
    }
};

// Takes a RocksDB errptr string (malloc'd by the library) into *err, freeing it with the same
// library's rocksdb_free. Returns true when there was no error.
bool take_error(const CapiLib& L, const char* store, const char* what, char* e, std::string* err) {
    if (!e) return true;
    *err = std::string(store) + ": " + what + ": " + e;
    L.rocksdb_free(e);
    return false;
}

class CapiIterator final : public Iterator {
public:
    CapiIterator(const CapiLib& L, const char* store, rocksdb_iterator_t* it)
        : L_(L), store_(store), it_(it) {}
    ~CapiIterator() override { L_.rocksdb_iter_destroy(it_); }
    void seek_to_first() override { L_.rocksdb_iter_seek_to_first(it_); }
    void seek_to_last() override { L_.rocksdb_iter_seek_to_last(it_); }
    void seek(std::string_view t) override { L_.rocksdb_iter_seek(it_, t.data(), t.size()); }
    bool valid() const override { return L_.rocksdb_iter_valid(it_) != 0; }
    void next() override { L_.rocksdb_iter_next(it_); }
    void prev() override { L_.rocksdb_iter_prev(it_); }
    std::string_view key() const override {
        size_t n = 0;
        const char* p = L_.rocksdb_iter_key(it_, &n);
        return {p, n};
    }
    std::string_view value() const override {
        size_t n = 0;
        const char* p = L_.rocksdb_iter_value(it_, &n);
        return {p, n};
    }
    bool status(std::string* err) const override {
        char* e = nullptr;
        L_.rocksdb_iter_get_error(it_, &e);
        return take_error(L_, store_, "iterator", e, err);
    }

private:
    const CapiLib& L_;
    const char* store_;
    rocksdb_iterator_t* it_;
};

class CapiSession final : public Session {
public:
    CapiSession(const CapiLib& L, const char* store, rocksdb_t* db,
                const rocksdb_writeoptions_t* wo, const rocksdb_readoptions_t* ro, int perf_level)
        : L_(L), store_(store), db_(db), wo_(wo), ro_(ro), batch_(L.rocksdb_writebatch_create()),
          perf_level_(perf_level) {}
    ~CapiSession() override { L_.rocksdb_writebatch_destroy(batch_); }

    // As each db_bench thread does (SetPerfLevel(FLAGS_perf_level), 1 = disabled by default):
    // RocksDB's default level counts every key comparison in thread-local perf counters.
    // perf_level_ < 0: leave the library's default (alex_capi: the native engine has none).
    void thread_start() override {
        if (perf_level_ >= 0) L_.rocksdb_set_perf_level(perf_level_);
    }

    bool put(std::string_view k, std::string_view v, std::string* err) override {
        char* e = nullptr;
        L_.rocksdb_put(db_, wo_, k.data(), k.size(), v.data(), v.size(), &e);
        return take_error(L_, store_, "put", e, err);
    }
    bool del(std::string_view k, std::string* err) override {
        char* e = nullptr;
        L_.rocksdb_delete(db_, wo_, k.data(), k.size(), &e);
        return take_error(L_, store_, "delete", e, err);
    }
    Get get(std::string_view k, std::string* value, std::string* err) override {
        char* e = nullptr;
        rocksdb_pinnableslice_t* p = L_.rocksdb_get_pinned(db_, ro_, k.data(), k.size(), &e);
        if (!take_error(L_, store_, "get", e, err)) return Get::kError;
        if (!p) return Get::kNotFound;
        size_t n = 0;
        const char* d = L_.rocksdb_pinnableslice_value(p, &n);
        value->assign(d, n);
        L_.rocksdb_pinnableslice_destroy(p);
        return Get::kFound;
    }
    void batch_put(std::string_view k, std::string_view v) override {
        L_.rocksdb_writebatch_put(batch_, k.data(), k.size(), v.data(), v.size());
    }
    void batch_delete(std::string_view k) override {
        L_.rocksdb_writebatch_delete(batch_, k.data(), k.size());
    }
    bool batch_write(std::string* err) override {
        char* e = nullptr;
        L_.rocksdb_write(db_, wo_, batch_, &e);
        L_.rocksdb_writebatch_clear(batch_);
        return take_error(L_, store_, "write", e, err);
    }
    std::unique_ptr<Iterator> new_iterator(std::string* err) override {
        rocksdb_iterator_t* it = L_.rocksdb_create_iterator(db_, ro_);
        if (!it) {
            *err = std::string(store_) + ": rocksdb_create_iterator returned NULL";
            return nullptr;
        }
        return std::make_unique<CapiIterator>(L_, store_, it);
    }

private:
    const CapiLib& L_;
    const char* store_;
    rocksdb_t* db_;
    const rocksdb_writeoptions_t* wo_;
    const rocksdb_readoptions_t* ro_;
    rocksdb_writebatch_t* batch_;
    int perf_level_;
};

// RocksDB's C API compression constants (c.h's enum), by db_bench's --compression_type names.
int compression_code(const std::string& name) {
    static const struct { const char* name; int code; } table[] = {
        {"none", rocksdb_no_compression},   {"snappy", rocksdb_snappy_compression},
        {"zlib", rocksdb_zlib_compression}, {"bzip2", rocksdb_bz2_compression},
        {"lz4", rocksdb_lz4_compression},   {"lz4hc", rocksdb_lz4hc_compression},
        {"zstd", rocksdb_zstd_compression},
    };
    for (const auto& t : table)
        if (name == t.name) return t.code;
    return -1;
}

class CapiStore final : public Store {
public:
    explicit CapiStore(std::string mode) : mode_(std::move(mode)) {}
    ~CapiStore() override {
        std::string ignored;
        close(&ignored);
    }

    bool load(const StoreLibraries& libs, std::string* err) {
        std::string lib = mode_ == "rocksdb" ? libs.rocksdb_lib : libs.alex_lib;
        if (lib.empty()) lib = mode_ == "rocksdb" ? AXB_DEFAULT_ROCKSDB_LIB : AXB_DEFAULT_ALEX_LIB;
        if (!L_.load(lib, err)) return false;
        if (mode_ != "rocksdb" && !L_.alexstorage_options_set_mode) {
            *err = L_.path + " is not librocksdb_alex.so (no alexstorage_options_set_mode); "
                   "--alex_capi_lib must name the plugin";
            return false;
        }
        if (mode_ == "rocksdb" && L_.alexstorage_options_set_mode) {
            *err = L_.path + " is the AlexStorage plugin, not RocksDB; --rocksdb_lib must name "
                   "a real librocksdb";
            return false;
        }
        return true;
    }

    const char* name() const override { return mode_.c_str(); }

    bool open(const StoreConfig& cfg, std::string* err) override {
        cfg_ = cfg;
        int code = compression_code(cfg.compression);
        if (code < 0 || !supports_compression(cfg.compression)) {
            *err = mode_ + ": unsupported compression '" + cfg.compression + "'";
            return false;
        }
        // RocksDB's open makes a missing directory before it finds no database there; a failed
        // open must not leave one behind.
        struct stat st;
        if (!cfg.create && stat(cfg.path.c_str(), &st) != 0) {
            *err = mode_ + ": open " + cfg.path + ": does not exist (create is off)";
            return false;
        }
        rocksdb_options_t* o = L_.rocksdb_options_create();
        L_.rocksdb_options_set_create_if_missing(o, cfg.create ? 1 : 0);
        L_.rocksdb_options_set_compression(o, code);
        L_.rocksdb_options_set_write_buffer_size(o, static_cast<size_t>(cfg.write_buffer_size));
        // The two db_bench defaults that differ from RocksDB's Options() (db_bench's
        // --enable_pipelined_write=true, --table_cache_numshardbits=4): RocksDB opened as its
        // own benchmark opens it.
        L_.rocksdb_options_set_enable_pipelined_write(o, 1);
        L_.rocksdb_options_set_table_cache_numshardbits(o, 4);
        rocksdb_block_based_table_options_t* t = L_.rocksdb_block_based_options_create();
        if (cfg.cache_size > 0) {
            cache_ = L_.rocksdb_cache_create_lru(static_cast<size_t>(cfg.cache_size));
            L_.rocksdb_block_based_options_set_block_cache(t, cache_);
        }
        if (cfg.bloom_bits > 0)  // the table options take ownership of the policy
            L_.rocksdb_block_based_options_set_filter_policy(
                t, L_.rocksdb_filterpolicy_create_bloom_full(cfg.bloom_bits));
        L_.rocksdb_options_set_block_based_table_factory(o, t);
        L_.rocksdb_block_based_options_destroy(t);
        char* e = nullptr;
        if (mode_ != "rocksdb")
            L_.alexstorage_options_set_mode(o, mode_ == "hybrid" ? "hybrid" : "native", &e);
        bool ok = take_error(L_, mode_.c_str(), "alexstorage_options_set_mode", e, err);
        if (ok) {
            db_ = L_.rocksdb_open(o, cfg.path.c_str(), &e);
            ok = take_error(L_, mode_.c_str(), "open", e, err);
        }
        L_.rocksdb_options_destroy(o);
        if (!ok) {
            db_ = nullptr;
            return false;
        }
        wo_ = L_.rocksdb_writeoptions_create();
        L_.rocksdb_writeoptions_set_sync(wo_, cfg.sync ? 1 : 0);
        L_.rocksdb_writeoptions_disable_WAL(wo_, cfg.disable_wal ? 1 : 0);
        ro_ = L_.rocksdb_readoptions_create();
        return true;
    }

    bool close(std::string* err) override {
        bool ok = true;
        if (db_) {
            // A clean shutdown: the WAL is synced (RocksDB's close does not sync a WAL written
            // with sync=false) and RocksDB replays it at the next open, as after db_bench.
            char* e = nullptr;
            if (!cfg_.disable_wal) L_.rocksdb_flush_wal(db_, 1, &e);
            ok = take_error(L_, mode_.c_str(), "flush_wal", e, err);
            L_.rocksdb_close(db_);
            db_ = nullptr;
        }
        if (wo_) L_.rocksdb_writeoptions_destroy(wo_);
        if (ro_) L_.rocksdb_readoptions_destroy(ro_);
        if (cache_) L_.rocksdb_cache_destroy(cache_);
        wo_ = nullptr;
        ro_ = nullptr;
        cache_ = nullptr;
        return ok;
    }

    bool destroy(const std::string& path, std::string* err) override {
        rocksdb_options_t* o = L_.rocksdb_options_create();
        char* e = nullptr;
        L_.rocksdb_destroy_db(o, path.c_str(), &e);
        L_.rocksdb_options_destroy(o);
        return take_error(L_, mode_.c_str(), "destroy", e, err);
    }

    std::unique_ptr<Session> new_session(std::string* err) override {
        if (!db_) {
            *err = mode_ + ": not open";
            return nullptr;
        }
        return std::make_unique<CapiSession>(L_, mode_.c_str(), db_, wo_, ro_,
                                             mode_ == "alex_capi" ? -1 : cfg_.perf_level);
    }

    uint64_t max_key_size() const override {
        // RocksDB takes keys up to 4 GiB - 1 in principle; the plugin stops at 64 KiB.
        return mode_ == "rocksdb" ? 0xffffffffull - 1 : 64 * 1024;
    }
    uint64_t max_value_size() const override {
        // RocksDB: values are limited to 3 GiB (WriteBatch's 32-bit lengths, kMaxVarint32);
        // the plugin's core stores values up to 64 MiB (AXS_MAX_VALUE_LEN).
        return mode_ == "rocksdb" ? 3ull * 1024 * 1024 * 1024 : 64ull * 1024 * 1024;
    }
    bool supports_compression(const std::string& c) const override {
        if (mode_ == "rocksdb") return compression_code(c) >= 0;
        return c == "none" || c == "lz4";  // AlexStorage's codecs
    }

    std::string version() const override {
        if (L_.rocks_version) return "RocksDB " + L_.rocks_version(true) + " (" + L_.path + ")";
        return "AlexStorage " AXB_VERSION " plugin (" + L_.path + ")";
    }

    std::vector<std::pair<std::string, std::string>> describe() const override {
        std::vector<std::pair<std::string, std::string>> d;
        d.emplace_back("library", L_.path);
        d.emplace_back("api", "RocksDB C API (rocksdb/c.h), dlopen RTLD_LOCAL");
        if (mode_ == "hybrid")
            d.emplace_back("mode", "hybrid: real RocksDB takes every write, the ALEX read side "
                                   "serves reads");
        d.emplace_back("durability", cfg_.sync ? "WriteOptions.sync=true: each write synced"
                                                : "WriteOptions.sync=false: buffered");
        d.emplace_back("disable_wal", cfg_.disable_wal ? "true" : "false");
        d.emplace_back("compression", cfg_.compression);
        if (mode_ != "alex_capi") {
            d.emplace_back("perf_level", std::to_string(cfg_.perf_level) +
                                             " per benchmark thread (rocksdb_set_perf_level)");
            d.emplace_back("block_cache", cfg_.cache_size > 0
                                              ? std::to_string(cfg_.cache_size) + " bytes LRU"
                                              : std::string("RocksDB's default"));
            d.emplace_back("bloom_bits", cfg_.bloom_bits > 0 ? std::to_string(cfg_.bloom_bits)
                                                             : std::string("none"));
            d.emplace_back("write_buffer_size", std::to_string(cfg_.write_buffer_size));
            d.emplace_back("as db_bench", "enable_pipelined_write=true, table_cache_numshardbits=4");
        }
        return d;
    }

private:
    std::string mode_;
    CapiLib L_;
    StoreConfig cfg_;
    rocksdb_t* db_ = nullptr;
    rocksdb_cache_t* cache_ = nullptr;
    rocksdb_writeoptions_t* wo_ = nullptr;
    rocksdb_readoptions_t* ro_ = nullptr;
};

}  // namespace

std::unique_ptr<Store> make_capi_store(const std::string& mode, const StoreLibraries& libs,
                                       std::string* err) {
    auto s = std::make_unique<CapiStore>(mode);
    if (!s->load(libs, err)) return nullptr;
    return s;
}

}  // namespace axbench
