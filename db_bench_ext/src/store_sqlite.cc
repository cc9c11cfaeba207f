// store_sqlite.cc: the "sqlite" store, over Debian's libsqlite3 (3.40).
//
// Mapping of the Store contract (store.h) onto SQLite:
//  - One database file, <cfg.path>/sqlite.db, with one table kv(k BLOB PRIMARY KEY, v BLOB)
//    WITHOUT ROWID: the rows live in the primary-key b-tree, ordered by memcmp of the key bytes
//    (then by length), which is RocksDB's bytewise order.
//  - journal_mode=WAL, so readers run while a writer commits. Durability: cfg.sync=false sets
//    synchronous=OFF (each commit is write()n to the WAL, never fsynced: survives a process
//    crash, not a power loss); cfg.sync=true sets synchronous=FULL (the WAL is fsynced at every
//    commit). close() checkpoints with synchronous=FULL, so a clean shutdown is durable.
//  - One connection per Session (SQLITE_OPEN_NOMUTEX: a Session is used by one thread), with
//    its prepared statements. put/del/get are single autocommit statements; a batch is
//    BEGIN IMMEDIATE ... COMMIT. Writers of different Sessions wait for each other through
//    busy_timeout instead of failing with SQLITE_BUSY.
//  - An Iterator runs a read transaction on a connection of its own (a Session's connection
//    cannot hold it: the Session's next put would join the iterator's transaction). Iterator
//    connections are pooled per Session, so db_bench's iterator-per-seek costs a BEGIN, not an
//    sqlite3_open.
//  - The page cache, PRAGMA cache_size=-<cfg.cache_size/1024> KiB, is per connection.
#include "store.h"
#include "store_fs.h"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace axbench {
namespace {

constexpr const char* kDbFile = "sqlite.db";
constexpr int kBusyTimeoutMs = 60000;

bool sql_fail(std::string* err, const char* what, sqlite3* db)
{
    *err = std::string("sqlite: ") + what + ": " + sqlite3_errmsg(db);
    return false;
}


// A zero-length blob, never SQL NULL: sqlite3_bind_blob64 binds NULL for a null pointer, and
// an empty std::string_view may carry one.
int bind_blob(sqlite3_stmt* st, int i, std::string_view b, sqlite3_destructor_type lifetime)
{
    return sqlite3_bind_blob64(st, i, b.empty() ? "" : b.data(), b.size(), lifetime);
}

std::string_view column_blob(sqlite3_stmt* st, int i)
{
    // column_blob first: column_bytes then reports the size of the same (blob) form.
    const void* p = sqlite3_column_blob(st, i);
    return {static_cast<const char*>(p), size_t(sqlite3_column_bytes(st, i))};
}

// What every connection of one Store is opened with.
struct ConnSettings {
    std::string file;
    bool sync = false;
    int64_t cache_kib = 0;  // 0: SQLite's default cache
};

// Opens a connection on an existing database with this Store's per-connection settings.
// On failure *out is null and nothing is left open.
bool open_conn(const ConnSettings& cs, int flags, sqlite3** out, std::string* err)
{
    sqlite3* db = nullptr;
    std::string pragmas = cs.sync ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=OFF;";
    if (cs.cache_kib > 0)
        pragmas += "PRAGMA cache_size=-" + std::to_string(cs.cache_kib) + ";";
    int rc = sqlite3_open_v2(cs.file.c_str(), &db,
                             flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nullptr);
    if (rc != SQLITE_OK) {
        *err = "sqlite: open " + cs.file + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto fail;
    }
    if ((rc = sqlite3_busy_timeout(db, kBusyTimeoutMs)) != SQLITE_OK) {
        sql_fail(err, "busy_timeout", db);
        goto fail;
    }
    if ((rc = sqlite3_exec(db, pragmas.c_str(), nullptr, nullptr, nullptr)) != SQLITE_OK) {
        sql_fail(err, pragmas.c_str(), db);
        goto fail;
    }
    *out = db;
    return true;

fail:
    sqlite3_close_v2(db);  // accepts null
    *out = nullptr;
    return false;
}

bool prepare(sqlite3* db, const char* sql, sqlite3_stmt** st, std::string* err)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, nullptr) == SQLITE_OK)
        return true;
    *err = std::string("sqlite: prepare \"") + sql + "\": " + sqlite3_errmsg(db);
    return false;
}

// Runs a statement that returns no rows (BEGIN, COMMIT, ...) and leaves it reset.
bool run(sqlite3* db, sqlite3_stmt* st, const char* what, std::string* err)
{
    int rc = sqlite3_step(st);
    bool ok = rc == SQLITE_DONE || rc == SQLITE_ROW;
    if (!ok)
        sql_fail(err, what, db);
    sqlite3_reset(st);
    return ok;
}

// A connection for iterators, with the statements of every move. Its read transaction spans
// one Iterator's life.
struct IterConn {
    sqlite3* db = nullptr;
    sqlite3_stmt* begin = nullptr;
    sqlite3_stmt* commit = nullptr;
    sqlite3_stmt* snapshot = nullptr;  // a first read, which is what starts the transaction
    sqlite3_stmt* fwd_ge = nullptr;    // seek, seek_to_first
    sqlite3_stmt* fwd_gt = nullptr;    // next after prev
    sqlite3_stmt* bwd_lt = nullptr;    // prev after next
    sqlite3_stmt* bwd_all = nullptr;   // seek_to_last

    ~IterConn()
    {
        for (sqlite3_stmt* st : {begin, commit, snapshot, fwd_ge, fwd_gt, bwd_lt, bwd_all})
            sqlite3_finalize(st);  // accepts null
        sqlite3_close_v2(db);
    }

    bool open(const ConnSettings& cs, std::string* err)
    {
        return open_conn(cs, SQLITE_OPEN_READWRITE, &db, err) &&
               prepare(db, "BEGIN", &begin, err) && prepare(db, "COMMIT", &commit, err) &&
               prepare(db, "SELECT 1 FROM kv LIMIT 1", &snapshot, err) &&
               prepare(db, "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k", &fwd_ge, err) &&
               prepare(db, "SELECT k, v FROM kv WHERE k > ?1 ORDER BY k", &fwd_gt, err) &&
               prepare(db, "SELECT k, v FROM kv WHERE k < ?1 ORDER BY k DESC", &bwd_lt, err) &&
               prepare(db, "SELECT k, v FROM kv ORDER BY k DESC", &bwd_all, err);
    }
};

// Idle iterator connections of one Session. Shared with its Iterators, which may outlive the
// Session (store.h only orders both before Store::close); used by one thread at a time.
class IterPool {
public:
    explicit IterPool(ConnSettings cs) : cs_(std::move(cs)) {}

    std::unique_ptr<IterConn> take(std::string* err)
    {
        if (!idle_.empty()) {
            std::unique_ptr<IterConn> c = std::move(idle_.back());
            idle_.pop_back();
            return c;
        }
        auto c = std::make_unique<IterConn>();
        if (!c->open(cs_, err))
            return nullptr;
        return c;
    }

    // c has no transaction open and no statement pending.
    void give_back(std::unique_ptr<IterConn> c) { idle_.push_back(std::move(c)); }

private:
    ConnSettings cs_;
    std::vector<std::unique_ptr<IterConn>> idle_;
};

// Positioned on a row of cur_, a statement stepping in the current direction. Each run of
// next()s (or prev()s) steps one statement; only a seek or a change of direction starts a new
// one (from the current key, exclusive, so the row under the iterator is not seen twice).
class SqliteIterator final : public Iterator {
public:
    SqliteIterator(std::shared_ptr<IterPool> pool, std::unique_ptr<IterConn> c)
        : pool_(std::move(pool)), c_(std::move(c))
    {
    }

    ~SqliteIterator() override
    {
        if (cur_)
            sqlite3_reset(cur_);
        std::string ignored;
        // Read-only: COMMIT only ends the snapshot. A connection that cannot end it is closed.
        if (run(c_->db, c_->commit, "COMMIT", &ignored))
            pool_->give_back(std::move(c_));
    }

    void seek_to_first() override
    {
        std::string_view all;  // every key is >= the empty blob
        start(c_->fwd_ge, &all, true);
    }
    void seek_to_last() override { start(c_->bwd_all, nullptr, false); }
    void seek(std::string_view target) override { start(c_->fwd_ge, &target, true); }
    bool valid() const override { return valid_; }

    void next() override
    {
        if (forward_)
            step();
        else
            start(c_->fwd_gt, &key_, true);
    }

    void prev() override
    {
        if (!forward_)
            step();
        else
            start(c_->bwd_lt, &key_, false);
    }

    std::string_view key() const override { return key_; }
    std::string_view value() const override { return value_; }

    bool status(std::string* err) const override
    {
        if (err_.empty())
            return true;
        *err = err_;
        return false;
    }

private:
    // Makes st the stepping statement, from *from (or from the end, for a null from). *from
    // may view the current row (key_) or the caller's copy of it, both of which die when cur_
    // is reset: it is copied into pivot_ first. pivot_ stays bound (SQLITE_STATIC) to st while
    // st steps; it changes only here, after which st (or another statement) is re-bound
    // before any step, and SQLite never reads the bindings of a statement it does not step.
    void start(sqlite3_stmt* st, const std::string_view* from, bool forward)
    {
        if (from)
            pivot_.assign(from->data(), from->size());
        if (cur_)
            sqlite3_reset(cur_);
        cur_ = st;
        forward_ = forward;
        if (from && bind_blob(st, 1, pivot_, SQLITE_STATIC) != SQLITE_OK)
            return fail("bind");
        step();
    }

    void step()
    {
        int rc = sqlite3_step(cur_);
        if (rc == SQLITE_ROW) {
            key_ = column_blob(cur_, 0);
            value_ = column_blob(cur_, 1);
            valid_ = true;
            return;
        }
        if (rc == SQLITE_DONE) {
            valid_ = false;
            return;
        }
        fail("step");
    }

    void fail(const char* what)
    {
        valid_ = false;
        sql_fail(&err_, what, c_->db);
        if (cur_)
            sqlite3_reset(cur_);
        cur_ = nullptr;
    }

    std::shared_ptr<IterPool> pool_;
    std::unique_ptr<IterConn> c_;
    sqlite3_stmt* cur_ = nullptr;
    bool forward_ = true;
    bool valid_ = false;
    std::string_view key_, value_;  // into cur_'s current row
    std::string pivot_;             // where cur_ started from
    std::string err_;
};

class SqliteSession final : public Session {
public:
    explicit SqliteSession(ConnSettings cs) : pool_(std::make_shared<IterPool>(cs)), cs_(cs) {}

    ~SqliteSession() override
    {
        for (sqlite3_stmt* st : {put_, del_, get_, begin_, commit_, rollback_})
            sqlite3_finalize(st);
        sqlite3_close_v2(db_);
    }

    bool open(std::string* err)
    {
        return open_conn(cs_, SQLITE_OPEN_READWRITE, &db_, err) &&
               prepare(db_, "INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)", &put_, err) &&
               prepare(db_, "DELETE FROM kv WHERE k = ?1", &del_, err) &&
               prepare(db_, "SELECT v FROM kv WHERE k = ?1", &get_, err) &&
               prepare(db_, "BEGIN IMMEDIATE", &begin_, err) &&
               prepare(db_, "COMMIT", &commit_, err) && prepare(db_, "ROLLBACK", &rollback_, err);
    }

    bool put(std::string_view key, std::string_view value, std::string* err) override
    {
        return put_in(key, value, "put", err);
    }

    // DELETE of a missing key changes no row and succeeds, as RocksDB's Delete does.
    bool del(std::string_view key, std::string* err) override
    {
        return del_in(key, "delete", err);
    }

    Get get(std::string_view key, std::string* value, std::string* err) override
    {
        Get r = Get::kError;
        int rc = bind_blob(get_, 1, key, SQLITE_STATIC);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(get_);
            if (rc == SQLITE_ROW) {
                std::string_view v = column_blob(get_, 0);
                value->assign(v.data(), v.size());
                r = Get::kFound;
            } else if (rc == SQLITE_DONE) {
                r = Get::kNotFound;
            }
        }
        if (r == Get::kError)
            sql_fail(err, "get", db_);
        // Also ends the autocommit read transaction, which would otherwise pin the snapshot.
        sqlite3_reset(get_);
        return r;
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

    // Cleared whether or not it is applied; a failed batch is rolled back entirely.
    bool batch_write(std::string* err) override
    {
        bool ok = run(db_, begin_, "BEGIN IMMEDIATE", err);
        if (ok) {
            size_t off = 0;
            for (const BatchOp& op : batch_) {
                std::string_view key(batch_buf_.data() + off, op.klen);
                off += op.klen;
                if (op.is_delete) {
                    ok = del_in(key, "batch delete", err);
                } else {
                    ok = put_in(key, std::string_view(batch_buf_.data() + off, op.vlen),
                                "batch put", err);
                    off += op.vlen;
                }
                if (!ok)
                    break;
            }
            if (ok)
                ok = run(db_, commit_, "COMMIT", err);
            if (!ok) {
                // After some errors SQLite has already rolled back; ROLLBACK then fails
                // harmlessly ("no transaction is active"), and *err keeps the first cause.
                std::string ignored;
                run(db_, rollback_, "ROLLBACK", &ignored);
            }
        }
        batch_.clear();
        batch_buf_.clear();
        return ok;
    }

    std::unique_ptr<Iterator> new_iterator(std::string* err) override
    {
        std::unique_ptr<IterConn> c = pool_->take(err);
        if (!c)
            return nullptr;
        if (!run(c->db, c->begin, "BEGIN", err))
            return nullptr;
        // BEGIN is deferred: the snapshot is taken by the first read, here, so the iterator
        // sees the store as of new_iterator() and not as of its first seek.
        if (!run(c->db, c->snapshot, "begin snapshot", err)) {
            std::string ignored;
            run(c->db, c->commit, "COMMIT", &ignored);
            return nullptr;
        }
        return std::make_unique<SqliteIterator>(pool_, std::move(c));
    }

private:
    struct BatchOp {
        bool is_delete;
        size_t klen, vlen;
    };

    // SQLITE_STATIC: the views outlive the step. The message is taken before the reset,
    // while it is the statement's own.
    bool put_in(std::string_view key, std::string_view value, const char* what, std::string* err)
    {
        int rc = bind_blob(put_, 1, key, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = bind_blob(put_, 2, value, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(put_);
        bool ok = rc == SQLITE_DONE || sql_fail(err, what, db_);
        sqlite3_reset(put_);
        return ok;
    }

    bool del_in(std::string_view key, const char* what, std::string* err)
    {
        int rc = bind_blob(del_, 1, key, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(del_);
        bool ok = rc == SQLITE_DONE || sql_fail(err, what, db_);
        sqlite3_reset(del_);
        return ok;
    }

    std::shared_ptr<IterPool> pool_;
    ConnSettings cs_;
    sqlite3* db_ = nullptr;
    sqlite3_stmt* put_ = nullptr;
    sqlite3_stmt* del_ = nullptr;
    sqlite3_stmt* get_ = nullptr;
    sqlite3_stmt* begin_ = nullptr;
    sqlite3_stmt* commit_ = nullptr;
    sqlite3_stmt* rollback_ = nullptr;
    std::vector<BatchOp> batch_;
    std::string batch_buf_;
};

class SqliteStore final : public Store {
public:
    SqliteStore()
    {
        // SQLITE_LIMIT_LENGTH is per connection but starts at the build's SQLITE_MAX_LENGTH.
        sqlite3* db = nullptr;
        if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                            nullptr) == SQLITE_OK)
            length_limit_ = uint64_t(sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1));
        sqlite3_close_v2(db);
    }
    ~SqliteStore() override
    {
        std::string ignored;
        close(&ignored);
    }

    const char* name() const override { return "sqlite"; }

    bool open(const StoreConfig& cfg, std::string* err) override
    {
        if (main_) {
            *err = "sqlite: open: already open on " + cs_.file;
            return false;
        }
        bool created;
        if (!fs_prepare_dir("sqlite", cfg.path, cfg.create, &created, err))
            return false;
        ConnSettings cs;
        cs.file = cfg.path + "/" + kDbFile;
        cs.sync = cfg.sync;
        cs.cache_kib = cfg.cache_size / 1024;
        struct stat st;
        bool exists = ::stat(cs.file.c_str(), &st) == 0;
        if (!exists && errno != ENOENT)
            return fs_fail("sqlite", "stat " + cs.file, errno, err);
        if (!exists && !cfg.create) {
            *err = "sqlite: no database in " + cfg.path + " (" + kDbFile +
                   " is missing and create is false)";
            return false;
        }

        sqlite3* db = nullptr;
        sqlite3_stmt* st_wal = nullptr;
        const char* schema = cfg.create
            ? "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID"
            : "SELECT 1 FROM kv LIMIT 0";  // fails with "no such table: kv" on a foreign file
        std::string mode;
        if (!open_conn(cs, SQLITE_OPEN_READWRITE | (cfg.create ? SQLITE_OPEN_CREATE : 0), &db,
                       err))
            return false;
        // journal_mode answers with the mode it is in; it stays "delete" where WAL is
        // impossible (no shared memory), which would be a different store.
        if (!prepare(db, "PRAGMA journal_mode=WAL", &st_wal, err))
            goto fail;
        if (sqlite3_step(st_wal) != SQLITE_ROW) {
            sql_fail(err, "PRAGMA journal_mode=WAL", db);
            goto fail;
        }
        if (const unsigned char* m = sqlite3_column_text(st_wal, 0))
            mode = reinterpret_cast<const char*>(m);
        if (mode != "wal") {
            *err = "sqlite: " + cs.file + ": journal_mode is \"" + mode + "\", not \"wal\"";
            goto fail;
        }
        sqlite3_finalize(st_wal);
        st_wal = nullptr;
        if (sqlite3_exec(db, schema, nullptr, nullptr, nullptr) != SQLITE_OK) {
            sql_fail(err, cfg.create ? "create table" : "open", db);
            goto fail;
        }
        // A new directory or database file must keep its directory entry at a power loss.
        if ((created && !fs_sync_dir("sqlite", fs_parent_of(cfg.path), err)) ||
            (!exists && !fs_sync_dir("sqlite", cfg.path, err)))
            goto fail;
        main_ = db;
        cs_ = cs;
        disable_wal_ = cfg.disable_wal;
        return true;

    fail:
        sqlite3_finalize(st_wal);
        sqlite3_close_v2(db);
        return false;
    }

    // The last connection to close: a checkpoint with synchronous=FULL fsyncs the WAL, copies
    // it into sqlite.db and fsyncs that, whatever the sessions' synchronous was.
    bool close(std::string* err) override
    {
        if (!main_)
            return true;
        bool ok = true;
        sqlite3_stmt* ckpt = nullptr;
        if (sqlite3_exec(main_, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr) !=
            SQLITE_OK) {
            ok = sql_fail(err, "close: PRAGMA synchronous=FULL", main_);
        } else if (!prepare(main_, "PRAGMA wal_checkpoint(TRUNCATE)", &ckpt, err)) {
            ok = false;
        } else if (sqlite3_step(ckpt) != SQLITE_ROW) {
            ok = sql_fail(err, "close: wal_checkpoint", main_);
        } else if (sqlite3_column_int(ckpt, 0) != 0) {
            // The first column is 1 when a reader or writer kept the checkpoint from ending.
            *err = "sqlite: close: wal_checkpoint(TRUNCATE) blocked (a session or iterator "
                   "of this store is still open)";
            ok = false;
        }
        sqlite3_finalize(ckpt);
        if (sqlite3_close(main_) != SQLITE_OK && ok)
            ok = sql_fail(err, "close", main_);
        main_ = nullptr;
        return ok;
    }

    bool destroy(const std::string& path, std::string* err) override
    {
        const std::string db = kDbFile;
        return fs_destroy("sqlite", path, {db, db + "-wal", db + "-shm", db + "-journal"}, err);
    }

    std::unique_ptr<Session> new_session(std::string* err) override
    {
        if (!main_) {
            *err = "sqlite: new_session: the store is not open";
            return nullptr;
        }
        auto s = std::make_unique<SqliteSession>(cs_);
        if (!s->open(err))
            return nullptr;
        return s;
    }

    // A row's record (a small header, the key, the value) must fit SQLITE_LIMIT_LENGTH, so
    // each of key and value gets half of it: any key of the limit fits with any value of it.
    uint64_t max_key_size() const override { return length_limit_ / 2 - 32; }
    uint64_t max_value_size() const override { return length_limit_ / 2 - 32; }
    bool supports_compression(const std::string& name) const override { return name == "none"; }

    std::string version() const override { return std::string("SQLite ") + sqlite3_libversion(); }

    std::vector<std::pair<std::string, std::string>> describe() const override
    {
        std::vector<std::pair<std::string, std::string>> d;
        d.emplace_back("durability",
                       cs_.sync ? "journal_mode=WAL, synchronous=FULL: WAL fsynced at every "
                                  "commit"
                                : "journal_mode=WAL, synchronous=OFF: each commit write()n to "
                                  "the WAL, no fsync (survives a process crash, not a power "
                                  "loss)");
        d.emplace_back("transactions",
                       "autocommit statement per put/del/get; batch = BEGIN IMMEDIATE..COMMIT; "
                       "iterator = read transaction on a pooled connection");
        d.emplace_back("disable_wal", std::string(disable_wal_ ? "set" : "not set") +
                                          ": no effect (the WAL is SQLite's journal)");
        d.emplace_back("cache", cs_.cache_kib > 0
                                    ? "PRAGMA cache_size=-" + std::to_string(cs_.cache_kib) +
                                          " (KiB, per connection: each session and each live "
                                          "iterator has its own)"
                                    : std::string("SQLite default (2000 KiB per connection)"));
        d.emplace_back("table", "kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID");
        d.emplace_back("connections", "one per session, SQLITE_OPEN_NOMUTEX, busy_timeout=" +
                                          std::to_string(kBusyTimeoutMs) + " ms");
        d.emplace_back("compression", "none");
        return d;
    }

private:
    sqlite3* main_ = nullptr;  // open from open() to close(); the last to close
    ConnSettings cs_;
    bool disable_wal_ = false;
    uint64_t length_limit_ = 1000000000;  // SQLITE_MAX_LENGTH's default
};

}  // namespace

std::unique_ptr<Store> make_sqlite_store() { return std::make_unique<SqliteStore>(); }

}  // namespace axbench
