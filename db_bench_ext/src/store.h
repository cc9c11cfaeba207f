// store.h: the one interface every store of alex_db_bench implements.
//
// The driver (benchmark.cc) never calls a storage library directly: it opens a Store, gives each
// benchmark thread its own Session, and times the Session's calls. One implementation per store:
//   store_capi.cc    rocksdb, alex_capi, hybrid: RocksDB's C API, from a dlopen'ed library
//   store_alex.cc    alex: the native AlexStorage core API
//   store_lmdb.cc    lmdb
//   store_sqlite.cc  sqlite
//
// Contract for every implementation:
//  1. Errors never abort: a call that fails returns false (or Get::kError) and sets *err to a
//     message that names the store and the library's own error text. The driver decides to
//     stop. "Not found" is not an error.
//  2. Durability is StoreConfig::sync for every write: false = buffered (survives a process
//     crash, not a power loss, like RocksDB's default WAL without sync); true = each write (or
//     batch) durable before the call returns. Each store documents its mapping in describe().
//  3. One operation per transaction: put/del/get are each their own atomic unit; only a batch
//     (batch_put/batch_delete ... batch_write) groups writes, atomically.
//  4. Threads: Store methods are called from the main thread only. Each benchmark thread owns
//     one Session (new_session() is called from the main thread, the Session is then used only
//     by its thread); Sessions of one Store run concurrently.
//  5. Lifetime: Sessions and Iterators are destroyed before the Store is closed. An Iterator is
//     used by the thread of the Session that made it and may outlive that Session.
//  6. batch_write clears the batch whether it succeeds or fails. Keys are 1 byte or longer
//     (LMDB refuses empty keys; the driver never makes one).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace axbench {

struct StoreConfig {
    std::string path;            // database directory (the store may create files inside it)
    bool create = true;          // create if missing (false with --use_existing_db)
    bool sync = false;           // see contract 2
    bool disable_wal = false;    // RocksDB's WriteOptions.disableWAL; others: see describe()
    std::string compression;     // "none", "lz4", or a RocksDB name (snappy, zstd, ...)
    int64_t cache_size = 0;      // bytes of block / page cache for stores that have one
    int bloom_bits = 10;         // RocksDB bloom filter bits per key; 0 = no filter
    int64_t write_buffer_size = 64 << 20;  // RocksDB memtable size
    int64_t num = 0;             // keys the run will hold (LMDB sizes its map from it)
    int key_size = 16;
    int value_size = 100;
    int threads = 1;             // sessions that may run at once
    int perf_level = 1;          // RocksDB's per-thread perf level (db_bench's --perf_level)
};

class Iterator {
public:
    virtual ~Iterator() = default;
    virtual void seek_to_first() = 0;
    virtual void seek_to_last() = 0;
    virtual void seek(std::string_view target) = 0;  // first key >= target
    virtual bool valid() const = 0;
    virtual void next() = 0;  // requires valid()
    virtual void prev() = 0;  // requires valid()
    // Views valid until the iterator moves or is destroyed.
    virtual std::string_view key() const = 0;
    virtual std::string_view value() const = 0;
    // true when no error happened; otherwise false and *err says why.
    virtual bool status(std::string* err) const = 0;
};

class Session {
public:
    enum class Get { kFound, kNotFound, kError };

    virtual ~Session() = default;
    // Called by the benchmark thread that owns the session before its first operation, for
    // per-thread library settings (RocksDB's perf level is thread-local).
    virtual void thread_start() {}
    virtual bool put(std::string_view key, std::string_view value, std::string* err) = 0;
    virtual bool del(std::string_view key, std::string* err) = 0;
    // On kFound, *value holds a copy of the value (its buffer is reused between calls).
    virtual Get get(std::string_view key, std::string* value, std::string* err) = 0;

    // A batch being built in this session; batch_write applies it atomically and clears it.
    virtual void batch_put(std::string_view key, std::string_view value) = 0;
    virtual void batch_delete(std::string_view key) = 0;
    virtual bool batch_write(std::string* err) = 0;

    // A consistent view of the store as of now; nullptr (and *err) on failure.
    virtual std::unique_ptr<Iterator> new_iterator(std::string* err) = 0;
};

class Store {
public:
    virtual ~Store() = default;
    virtual const char* name() const = 0;
    // Opens (creating if cfg.create) the database at cfg.path.
    virtual bool open(const StoreConfig& cfg, std::string* err) = 0;
    // Closes after making every write durable (a clean shutdown). Idempotent.
    virtual bool close(std::string* err) = 0;
    // Removes the database at path (closed). A path that does not exist is not an error.
    virtual bool destroy(const std::string& path, std::string* err) = 0;
    virtual std::unique_ptr<Session> new_session(std::string* err) = 0;

    // Limits, checked by the driver before a run: the largest key and value this store accepts.
    virtual uint64_t max_key_size() const = 0;
    virtual uint64_t max_value_size() const = 0;
    // Compression names this store supports ("none" at least); others are refused up front.
    virtual bool supports_compression(const std::string& name) const = 0;

    // The library and its version, e.g. "LMDB 0.9.24" (for the environment block).
    virtual std::string version() const = 0;
    // Settings that matter for fairness, as (name, value) lines printed before results, e.g.
    // ("durability", "MDB_NOSYNC: write() per commit, no fsync").
    virtual std::vector<std::pair<std::string, std::string>> describe() const = 0;
};

// The stores this build knows, in the order --help lists them.
const std::vector<std::string>& store_names();
// nullptr and *err for an unknown name. The capi stores need their libraries' paths (flags).
struct StoreLibraries {
    std::string rocksdb_lib;  // --rocksdb_lib
    std::string alex_lib;     // --alex_capi_lib
};
std::unique_ptr<Store> make_store(const std::string& name, const StoreLibraries& libs,
                                  std::string* err);

// Factories of the individual implementations (store_*.cc).
std::unique_ptr<Store> make_alex_store();
std::unique_ptr<Store> make_lmdb_store();
std::unique_ptr<Store> make_sqlite_store();
// mode: "rocksdb" (library = libs.rocksdb_lib), "alex_capi" or "hybrid" (libs.alex_lib).
std::unique_ptr<Store> make_capi_store(const std::string& mode, const StoreLibraries& libs,
                                       std::string* err);

}  // namespace axbench
