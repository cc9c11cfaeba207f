// store_lmdb.cc: the "lmdb" store, over Debian's liblmdb (<lmdb.h>, 0.9.x).
//
// Mapping of the Store contract (store.h) onto LMDB:
//  - One MDB_env per Store on cfg.path (a directory holding data.mdb and lock.mdb), the unnamed
//    main database, default bytewise key order.
//  - Durability: cfg.sync=false opens with MDB_NOSYNC: each commit write()s its pages and meta
//    page into data.mdb but never fsyncs, so a process crash loses nothing and a power loss may
//    lose the last commits. cfg.sync=true keeps LMDB's default: fdatasync at every commit.
//    close() forces one mdb_env_sync, so a clean shutdown is durable in both modes.
//  - One operation per transaction: put and del each run in their own write txn; a batch is one
//    write txn. Writers serialize on LMDB's writer mutex, as they do in any LMDB application.
//  - MDB_NOTLS ties reader slots to MDB_txn objects instead of threads, so a Session keeps one
//    read txn across gets (mdb_txn_reset after each, mdb_txn_renew before the next: no malloc
//    and no slot search per get), and an Iterator's read txn can stay open while the same
//    thread writes. Slots: one per Session plus one per live Iterator.
//  - The map is virtual address space, sized from cfg.num at open (map_size_for); a write that
//    does not fit fails with MDB_MAP_FULL as an ordinary error.
#include "store.h"
#include "store_fs.h"

#include <lmdb.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace axbench {
namespace {

constexpr const char* kDataFile = "data.mdb";
constexpr const char* kLockFile = "lock.mdb";

// Every message names the store, the failing call and LMDB's (or the OS's) own text.
bool lmdb_fail(std::string* err, const char* what, int rc)
{
    *err = std::string("lmdb: ") + what + ": " + mdb_strerror(rc);
    return false;
}


// Map size: max(1 GiB, 4x the estimated data, 2x an existing data.mdb), rounded up to 1 MiB.
// Per entry LMDB stores the key, the value, an 8-byte node header and a 2-byte slot pointer;
// 4x covers half-full pages after random inserts, copy-on-write of overwrites, and pages a
// long read txn keeps from reuse. 2x the existing file covers reopening a database filled by an
// earlier run with a larger --num. Computed in double so huge flags saturate, not wrap.
size_t map_size_for(const StoreConfig& cfg, uint64_t existing_bytes)
{
    const double kMiB = 1024.0 * 1024.0;
    const double kCap = double(uint64_t(1) << 46);  // 64 TiB: well inside x86-64 user space
    double entry = double(std::max(cfg.key_size, 0)) + double(std::max(cfg.value_size, 0)) + 16;
    double want = std::max({1024.0 * kMiB, 4.0 * double(std::max<int64_t>(cfg.num, 0)) * entry,
                            2.0 * double(existing_bytes)});
    want = std::min(want, kCap);
    return size_t(std::ceil(want / kMiB) * kMiB);
}

class LmdbIterator final : public Iterator {
public:
    LmdbIterator(MDB_txn* txn, MDB_cursor* cur) : txn_(txn), cur_(cur) {}
    ~LmdbIterator() override
    {
        mdb_cursor_close(cur_);
        mdb_txn_abort(txn_);
    }

    void seek_to_first() override { move(nullptr, MDB_FIRST); }
    void seek_to_last() override { move(nullptr, MDB_LAST); }
    void seek(std::string_view target) override
    {
        // MDB_SET_RANGE refuses an empty key (MDB_BAD_VALSIZE); every key is >= "".
        if (target.empty())
            return move(nullptr, MDB_FIRST);
        MDB_val k{target.size(), const_cast<char*>(target.data())};
        move(&k, MDB_SET_RANGE);
    }
    bool valid() const override { return valid_; }
    void next() override { move(nullptr, MDB_NEXT); }
    void prev() override { move(nullptr, MDB_PREV); }
    std::string_view key() const override { return {static_cast<const char*>(k_.mv_data), k_.mv_size}; }
    std::string_view value() const override
    {
        return {static_cast<const char*>(v_.mv_data), v_.mv_size};
    }
    bool status(std::string* err) const override
    {
        if (err_.empty())
            return true;
        *err = err_;
        return false;
    }

private:
    // k_ and v_ point into the map; they stay valid while txn_ is open and the cursor is
    // not moved, which is exactly the lifetime key()/value() promise.
    void move(MDB_val* target, MDB_cursor_op op)
    {
        if (target)
            k_ = *target;
        int rc = mdb_cursor_get(cur_, &k_, &v_, op);
        valid_ = rc == 0;
        if (rc != 0 && rc != MDB_NOTFOUND)
            lmdb_fail(&err_, "mdb_cursor_get", rc);
    }

    MDB_txn* txn_;
    MDB_cursor* cur_;
    MDB_val k_{0, nullptr};
    MDB_val v_{0, nullptr};
    bool valid_ = false;
    std::string err_;
};

class LmdbSession final : public Session {
public:
    LmdbSession(MDB_env* env, MDB_dbi dbi) : env_(env), dbi_(dbi) {}
    ~LmdbSession() override
    {
        if (rtxn_)
            mdb_txn_abort(rtxn_);
    }

    bool put(std::string_view key, std::string_view value, std::string* err) override
    {
        MDB_txn* txn;
        int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
        if (rc)
            return lmdb_fail(err, "mdb_txn_begin", rc);
        if ((rc = put_in(txn, key, value))) {
            mdb_txn_abort(txn);
            return lmdb_fail(err, "mdb_put", rc);
        }
        // mdb_txn_commit frees the txn whether or not it succeeds.
        if ((rc = mdb_txn_commit(txn)))
            return lmdb_fail(err, "mdb_txn_commit", rc);
        return true;
    }

    bool del(std::string_view key, std::string* err) override
    {
        MDB_txn* txn;
        int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
        if (rc)
            return lmdb_fail(err, "mdb_txn_begin", rc);
        if ((rc = del_in(txn, key))) {
            mdb_txn_abort(txn);
            return lmdb_fail(err, "mdb_del", rc);
        }
        if ((rc = mdb_txn_commit(txn)))
            return lmdb_fail(err, "mdb_txn_commit", rc);
        return true;
    }

    Get get(std::string_view key, std::string* value, std::string* err) override
    {
        // LMDB cannot hold an empty key (mdb_get would say MDB_BAD_VALSIZE): it is absent.
        if (key.empty())
            return Get::kNotFound;
        // rtxn_ is reset between calls: it holds its reader slot but pins no snapshot, so an
        // idle Session never keeps writers from reusing pages.
        int rc = rtxn_ ? mdb_txn_renew(rtxn_) : mdb_txn_begin(env_, nullptr, MDB_RDONLY, &rtxn_);
        if (rc) {
            if (!rtxn_)
                lmdb_fail(err, "mdb_txn_begin", rc);
            else
                lmdb_fail(err, "mdb_txn_renew", rc);
            return Get::kError;
        }
        MDB_val k{key.size(), const_cast<char*>(key.data())};
        MDB_val v;
        rc = mdb_get(rtxn_, dbi_, &k, &v);
        if (rc == 0)
            value->assign(static_cast<const char*>(v.mv_data), v.mv_size);
        mdb_txn_reset(rtxn_);
        if (rc == MDB_NOTFOUND)
            return Get::kNotFound;
        if (rc) {
            lmdb_fail(err, "mdb_get", rc);
            return Get::kError;
        }
        return Get::kFound;
    }

    void batch_put(std::string_view key, std::string_view value) override
    {
        batch_.push_back({false, key.size(), value.size()});
        batch_buf_.append(key).append(value);
    }

    void batch_delete(std::string_view key) override
    {
        batch_.push_back({true, key.size(), 0});
        batch_buf_.append(key);
    }

    // The batch is cleared whether or not it is applied: a failed batch leaves no trace in
    // the database (the txn is aborted) and none in the session.
    bool batch_write(std::string* err) override
    {
        MDB_txn* txn;
        int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
        if (rc) {
            clear_batch();
            return lmdb_fail(err, "mdb_txn_begin", rc);
        }
        const char* what = "mdb_put";
        size_t off = 0;
        for (const BatchOp& op : batch_) {
            std::string_view key(batch_buf_.data() + off, op.klen);
            off += op.klen;
            if (op.is_delete) {
                what = "mdb_del";
                rc = del_in(txn, key);
            } else {
                what = "mdb_put";
                rc = put_in(txn, key, std::string_view(batch_buf_.data() + off, op.vlen));
                off += op.vlen;
            }
            if (rc)
                break;
        }
        clear_batch();
        if (rc) {
            mdb_txn_abort(txn);
            return lmdb_fail(err, what, rc);
        }
        if ((rc = mdb_txn_commit(txn)))
            return lmdb_fail(err, "mdb_txn_commit", rc);
        return true;
    }

    std::unique_ptr<Iterator> new_iterator(std::string* err) override
    {
        MDB_txn* txn;
        MDB_cursor* cur;
        int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
        if (rc) {
            lmdb_fail(err, "mdb_txn_begin", rc);
            return nullptr;
        }
        if ((rc = mdb_cursor_open(txn, dbi_, &cur))) {
            mdb_txn_abort(txn);
            lmdb_fail(err, "mdb_cursor_open", rc);
            return nullptr;
        }
        return std::make_unique<LmdbIterator>(txn, cur);
    }

private:
    struct BatchOp {
        bool is_delete;
        size_t klen, vlen;
    };

    int put_in(MDB_txn* txn, std::string_view key, std::string_view value)
    {
        MDB_val k{key.size(), const_cast<char*>(key.data())};
        MDB_val v{value.size(), const_cast<char*>(value.data())};
        return mdb_put(txn, dbi_, &k, &v, 0);
    }

    // Deleting a missing key succeeds, as in RocksDB; an empty key is always missing.
    int del_in(MDB_txn* txn, std::string_view key)
    {
        if (key.empty())
            return 0;
        MDB_val k{key.size(), const_cast<char*>(key.data())};
        int rc = mdb_del(txn, dbi_, &k, nullptr);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }

    void clear_batch()
    {
        batch_.clear();
        batch_buf_.clear();
    }

    MDB_env* env_;
    MDB_dbi dbi_;
    MDB_txn* rtxn_ = nullptr;  // reset (no snapshot) except inside get()
    // Keys and values of the batch, back to back in batch_buf_, in batch_ order; the buffers
    // keep their capacity between batches.
    std::vector<BatchOp> batch_;
    std::string batch_buf_;
};

class LmdbStore final : public Store {
public:
    LmdbStore()
    {
        // The key limit is a property of the library build, readable before any open.
        MDB_env* env;
        if (mdb_env_create(&env) == 0) {
            max_key_ = uint64_t(mdb_env_get_maxkeysize(env));
            mdb_env_close(env);
        }
    }
    ~LmdbStore() override
    {
        std::string ignored;
        close(&ignored);
    }

    const char* name() const override { return "lmdb"; }

    bool open(const StoreConfig& cfg, std::string* err) override
    {
        if (env_) {
            *err = "lmdb: open: already open on " + path_;
            return false;
        }
        bool created;
        if (!fs_prepare_dir("lmdb", cfg.path, cfg.create, &created, err))
            return false;
        std::string data = cfg.path + "/" + kDataFile;
        uint64_t existing = 0;
        struct stat st;
        if (::stat(data.c_str(), &st) == 0) {
            existing = uint64_t(st.st_size);
        } else if (errno != ENOENT) {
            return fs_fail("lmdb", "stat " + data, errno, err);
        } else if (!cfg.create) {
            // mdb_env_open would quietly create an empty database here.
            *err = "lmdb: no database in " + cfg.path + " (" + kDataFile +
                   " is missing and create is false)";
            return false;
        }

        map_size_ = map_size_for(cfg, existing);
        // Readers: each Session keeps a slot, each live Iterator takes one more.
        unsigned readers = unsigned(std::max(126, 2 * std::max(cfg.threads, 1) + 64));
        unsigned flags = MDB_NOTLS | (cfg.sync ? 0 : MDB_NOSYNC);
        MDB_env* env = nullptr;
        MDB_txn* txn = nullptr;
        const char* what = "mdb_env_create";
        int rc = mdb_env_create(&env);
        if (rc)
            goto fail;
        what = "mdb_env_set_mapsize";
        if ((rc = mdb_env_set_mapsize(env, map_size_)))
            goto fail;
        what = "mdb_env_set_maxreaders";
        if ((rc = mdb_env_set_maxreaders(env, readers)))
            goto fail;
        what = "mdb_env_open";
        if ((rc = mdb_env_open(env, cfg.path.c_str(), flags, 0644)))
            goto fail;
        // Slots left by a crashed process would pin old snapshots for ever.
        what = "mdb_reader_check";
        if ((rc = mdb_reader_check(env, nullptr)))
            goto fail;
        what = "mdb_txn_begin";
        if ((rc = mdb_txn_begin(env, nullptr, 0, &txn)))
            goto fail;
        what = "mdb_dbi_open";
        if ((rc = mdb_dbi_open(txn, nullptr, 0, &dbi_)))
            goto fail;
        what = "mdb_txn_commit";
        rc = mdb_txn_commit(txn);
        txn = nullptr;
        if (rc)
            goto fail;
        // A new directory or data.mdb must not lose its directory entry at a power loss.
        if ((created && !fs_sync_dir("lmdb", fs_parent_of(cfg.path), err)) ||
            (existing == 0 && !fs_sync_dir("lmdb", cfg.path, err))) {
            mdb_env_close(env);
            return false;
        }
        env_ = env;
        path_ = cfg.path;
        sync_ = cfg.sync;
        disable_wal_ = cfg.disable_wal;
        readers_ = readers;
        return true;

    fail:
        if (txn)
            mdb_txn_abort(txn);
        if (env)
            mdb_env_close(env);
        *err = std::string("lmdb: ") + what + " " + cfg.path + ": " + mdb_strerror(rc);
        return false;
    }

    bool close(std::string* err) override
    {
        if (!env_)
            return true;
        // MDB_NOSYNC commits are only write()n: force them to disk before closing.
        int rc = mdb_env_sync(env_, 1);
        mdb_env_close(env_);
        env_ = nullptr;
        if (rc)
            return lmdb_fail(err, "mdb_env_sync", rc);
        return true;
    }

    bool destroy(const std::string& path, std::string* err) override
    {
        return fs_destroy("lmdb", path, {kDataFile, kLockFile}, err);
    }

    std::unique_ptr<Session> new_session(std::string* err) override
    {
        if (!env_) {
            *err = "lmdb: new_session: the store is not open";
            return nullptr;
        }
        return std::make_unique<LmdbSession>(env_, dbi_);
    }

    uint64_t max_key_size() const override { return max_key_; }
    // A node records its data size in 32 bits.
    uint64_t max_value_size() const override { return 0xffffffffu; }
    bool supports_compression(const std::string& name) const override { return name == "none"; }

    std::string version() const override
    {
        int major, minor, patch;
        mdb_version(&major, &minor, &patch);
        return "LMDB " + std::to_string(major) + "." + std::to_string(minor) + "." +
               std::to_string(patch);
    }

    std::vector<std::pair<std::string, std::string>> describe() const override
    {
        std::vector<std::pair<std::string, std::string>> d;
        d.emplace_back("durability",
                       sync_ ? "LMDB default: fdatasync of data.mdb at every commit"
                             : "MDB_NOSYNC: each commit write()n to data.mdb, no fsync "
                               "(survives a process crash, not a power loss)");
        d.emplace_back("transactions",
                       "one write txn per put/del, one per batch; gets in a per-session read "
                       "txn (mdb_txn_reset/renew)");
        d.emplace_back("disable_wal", std::string(disable_wal_ ? "set" : "not set") +
                                          ": no effect (LMDB has no WAL)");
        d.emplace_back("map_size", std::to_string(map_size_ >> 20) + " MiB (virtual)");
        d.emplace_back("max_readers", std::to_string(readers_));
        d.emplace_back("cache", "OS page cache through mmap; cache_size has no effect");
        d.emplace_back("compression", "none");
        return d;
    }

private:
    MDB_env* env_ = nullptr;
    MDB_dbi dbi_ = 0;
    std::string path_;
    bool sync_ = false;
    bool disable_wal_ = false;
    size_t map_size_ = 0;
    unsigned readers_ = 0;
    uint64_t max_key_ = 511;  // LMDB's compiled default, if mdb_env_create failed
};

}  // namespace

std::unique_ptr<Store> make_lmdb_store() { return std::make_unique<LmdbStore>(); }

}  // namespace axbench
