// store_alex.cc: the "alex" store, AlexStorage's native core API (core/include/alexstorage/db.h).
//
// The core is thread-safe (db.h, 6.), so every Session shares the one axs_db handle; each Session
// owns its batch. Reads are pinned (axs_get_pinned: no copy inside the engine) and copied once
// into the caller's buffer, as the capi stores copy out of a pinned slice.
#include <alexstorage/db.h>

#include <cstdlib>
#include <string>

#include "store.h"

namespace axbench {
namespace {

bool check(int rc, const char* what, axs_db* db, std::string* err) {
    if (rc == AXS_OK) return true;
    *err = std::string("alex: ") + what + ": " + axs_strerror(rc);
    const char* detail = db ? axs_last_error(db) : nullptr;
    if (detail && *detail) *err += std::string(" (") + detail + ")";
    return false;
}

class AlexIterator final : public Iterator {
public:
    explicit AlexIterator(axs_iter* it) : it_(it) {}
    ~AlexIterator() override { axs_iter_destroy(it_); }
    void seek_to_first() override { axs_iter_seek_to_first(it_); }
    void seek_to_last() override { axs_iter_seek_to_last(it_); }
    void seek(std::string_view t) override { axs_iter_seek(it_, t.data(), t.size()); }
    bool valid() const override { return axs_iter_valid(it_); }
    void next() override { axs_iter_next(it_); }
    void prev() override { axs_iter_prev(it_); }
    std::string_view key() const override {
        size_t n = 0;
        const void* p = axs_iter_key(it_, &n);
        return {static_cast<const char*>(p), n};
    }
    std::string_view value() const override {
        size_t n = 0;
        const void* p = axs_iter_value(it_, &n);
        return {static_cast<const char*>(p), n};
    }
    bool status(std::string* err) const override {
        return check(axs_iter_status(it_), "iterator", nullptr, err);
    }

private:
    axs_iter* it_;
};

class AlexSession final : public Session {
public:
    AlexSession(axs_db* db, const axs_write_options* wo, axs_batch* batch)
        : db_(db), wo_(wo), batch_(batch) {}
    ~AlexSession() override { axs_batch_destroy(batch_); }

    bool put(std::string_view k, std::string_view v, std::string* err) override {
        return check(axs_put(db_, wo_, k.data(), k.size(), v.data(), v.size()), "put", db_, err);
    }
    bool del(std::string_view k, std::string* err) override {
        return check(axs_delete(db_, wo_, k.data(), k.size()), "delete", db_, err);
    }
    Get get(std::string_view k, std::string* value, std::string* err) override {
        axs_pinned* pin = nullptr;
        bool found = false;
        if (!check(axs_get_pinned(db_, nullptr, k.data(), k.size(), &pin, &found), "get", db_,
                   err))
            return Get::kError;
        if (!found) return Get::kNotFound;
        size_t n = 0;
        const void* d = axs_pinned_data(pin, &n);
        value->assign(static_cast<const char*>(d), n);
        axs_pinned_release(pin);
        return Get::kFound;
    }
    void batch_put(std::string_view k, std::string_view v) override {
        // A refused record (too long) fails the whole batch at batch_write, as RocksDB's would.
        if (axs_batch_put(batch_, k.data(), k.size(), v.data(), v.size()) != AXS_OK)
            batch_bad_ = true;
    }
    void batch_delete(std::string_view k) override {
        if (axs_batch_delete(batch_, k.data(), k.size()) != AXS_OK) batch_bad_ = true;
    }
    bool batch_write(std::string* err) override {
        bool ok;
        if (batch_bad_) {
            *err = "alex: write: a batch record was refused (key or value too long)";
            ok = false;
        } else {
            ok = check(axs_write(db_, wo_, batch_), "write", db_, err);
        }
        axs_batch_clear(batch_);
        batch_bad_ = false;
        return ok;
    }
    std::unique_ptr<Iterator> new_iterator(std::string* err) override {
        axs_iter* it = nullptr;
        if (!check(axs_iter_create(db_, nullptr, &it), "iterator", db_, err)) return nullptr;
        return std::make_unique<AlexIterator>(it);
    }

private:
    axs_db* db_;
    const axs_write_options* wo_;
    axs_batch* batch_;
    bool batch_bad_ = false;
};

class AlexStore final : public Store {
public:
    ~AlexStore() override {
        std::string ignored;
        close(&ignored);
    }
    const char* name() const override { return "alex"; }

    bool open(const StoreConfig& cfg, std::string* err) override {
        cfg_ = cfg;
        if (!supports_compression(cfg.compression)) {
            *err = "alex: unsupported compression '" + cfg.compression + "' (none or lz4)";
            return false;
        }
        axs_options o;
        axs_options_init(&o);
        o.create_if_missing = cfg.create;
        o.compression = cfg.compression == "lz4" ? AXS_COMPRESSION_LZ4 : AXS_COMPRESSION_NONE;
        char* msg = nullptr;
        int rc = axs_open(cfg.path.c_str(), &o, &db_, &msg);
        if (rc != AXS_OK) {
            *err = std::string("alex: open ") + cfg.path + ": " + (msg ? msg : axs_strerror(rc));
            free(msg);
            db_ = nullptr;
            return false;
        }
        axs_write_options_init(&wo_);
        wo_.sync = cfg.sync;
        wo_.disable_wal = cfg.disable_wal;
        return true;
    }

    bool close(std::string* err) override {
        if (!db_) return true;
        int rc = axs_close(db_);
        db_ = nullptr;
        return check(rc, "close", nullptr, err);
    }

    bool destroy(const std::string& path, std::string* err) override {
        int rc = axs_destroy(path.c_str(), nullptr);
        if (rc == AXS_ENOTFOUND) return true;
        if (rc != AXS_OK) {
            *err = "alex: destroy " + path + ": " + axs_strerror(rc);
            return false;
        }
        return true;
    }

    std::unique_ptr<Session> new_session(std::string* err) override {
        if (!db_) {
            *err = "alex: not open";
            return nullptr;
        }
        axs_batch* b = axs_batch_create();
        if (!b) {
            *err = "alex: out of memory";
            return nullptr;
        }
        return std::make_unique<AlexSession>(db_, &wo_, b);
    }

    uint64_t max_key_size() const override { return AXS_MAX_KEY_LEN; }
    uint64_t max_value_size() const override { return AXS_MAX_VALUE_LEN; }
    bool supports_compression(const std::string& c) const override {
        return c == "none" || c == "lz4";
    }
    std::string version() const override { return "AlexStorage " AXB_VERSION " (core API)"; }
    std::vector<std::pair<std::string, std::string>> describe() const override {
        return {
            {"api", "native core API (alexstorage/db.h), linked statically"},
            {"durability", cfg_.sync ? "sync=true: fdatasync before each write returns"
                                     : "sync=false: buffered (in the OS, no fsync)"},
            {"disable_wal", cfg_.disable_wal ? "accepted, no effect: the log is the data"
                                             : "false"},
            {"compression", cfg_.compression},
        };
    }

private:
    StoreConfig cfg_;
    axs_db* db_ = nullptr;
    axs_write_options wo_{};
};

}  // namespace

std::unique_ptr<Store> make_alex_store() { return std::make_unique<AlexStore>(); }

}  // namespace axbench
