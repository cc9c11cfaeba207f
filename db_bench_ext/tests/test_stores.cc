// test_stores.cc: the conformance checks every store of alex_db_bench passes (store.h).
//
// The same checks run on each store, each check in a fresh directory (mkdtemp under $TMPDIR
// or /tmp, removed afterwards; the store's path is <tmp>/db, which does not exist until the
// store creates it):
//   basic           put/get round trip, missing key, overwrite, delete, delete of a missing
//                   key, empty and large values, binary keys, the get buffer is replaced
//   batch           100 puts + deletes invisible before batch_write and all visible after; the
//                   order of operations inside a batch; an empty batch; a batch is cleared;
//                   a concurrent reader's snapshots never see half of a batch
//   iterator_order  bytewise order (bytes >= 0x80, embedded zeros, different lengths) forward
//                   and backward, seek, seek_to_last, prev back to the start, next after prev
//                   and prev after next, the ends
//   snapshot        an iterator made before writes (put, overwrite, delete, batch, another
//                   session) does not see them, nor does one made on the empty store; a new
//                   iterator does
//   reopen          close (twice), a new Store opened with create=false sees all the data
//   open_errors     create=false on a missing path fails with a message and leaves nothing
//                   behind; a path that is a regular file fails with a
//                   message; close of a store whose open failed, and of a never-opened one
//   key_too_long    a key of max_key_size() works, one byte more is refused with a message, in
//                   a put and in a batch (which then applies nothing) (when max_key_size() is
//                   at most 16 MiB)
//   threads         4 threads, each with its own session, 2,000 mixed puts/gets on distinct
//                   key ranges; then every key is there
//   destroy         destroy removes the directory; destroying a missing path succeeds
//
// Usage: test_stores [store...]   (default: alex lmdb sqlite rocksdb alex_capi hybrid)
// CTest runs one store per test (bench_stores.<store>). Every failure message starts with
// [<store>]. The data are fixed (no seed); only thread interleavings vary.
//
// A failed check returns from the check function (so C++ destructors run and a Store is never
// left open), and the cmocka test then fails; cmocka's longjmp never crosses C++ frames.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "store.h"

// cmocka last: it defines macros with common names (fail, skip, expect_value, ...) that would
// rewrite the standard headers. It has no extern "C" of its own.
#include <cstdarg>
#include <cstddef>
#include <csetjmp>
#include <cstdint>
extern "C" {
#include <cmocka.h>
}

using axbench::Iterator;
using axbench::Session;
using axbench::Store;
using axbench::StoreConfig;
using Get = axbench::Session::Get;

namespace {

struct Ctx {
    std::string store;  // the store's name for make_store
    std::string tmp;    // mkdtemp directory, removed by teardown
    std::string db;     // tmp + "/db"
};

// ---- reporting ------------------------------------------------------------------------------

bool check_failed(const Ctx& ctx, int line, const char* cond, const std::string& msg)
{
    print_error("[%s] test_stores.cc:%d: %s (check: %s)\n", ctx.store.c_str(), line, msg.c_str(),
                cond);
    return false;
}

// Fails the current check function (it returns false) with a message naming the store.
#define CHECK(cond, msg)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return check_failed(*ctx, __LINE__, #cond, (msg));                                     \
    } while (0)

std::string printable(std::string_view s)
{
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
            out += char(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    if (out.size() > 80)
        out = out.substr(0, 77) + "...";
    return out + "\"";
}

// ---- store helpers --------------------------------------------------------------------------

StoreConfig config(const Ctx& ctx, bool create)
{
    StoreConfig cfg;
    cfg.path = ctx.db;
    cfg.create = create;
    cfg.sync = false;
    cfg.compression = "none";
    cfg.cache_size = 8 << 20;
    cfg.num = 10000;
    cfg.key_size = 16;
    cfg.value_size = 100;
    cfg.threads = 4;
    return cfg;
}

bool make(Ctx* ctx, std::unique_ptr<Store>* out)
{
    std::string err;
    *out = axbench::make_store(ctx->store, axbench::StoreLibraries{}, &err);
    CHECK(*out != nullptr, "make_store: " + err);
    return true;
}

// A made and opened store with one session.
bool open_store(Ctx* ctx, bool create, std::unique_ptr<Store>* store,
                std::unique_ptr<Session>* session)
{
    if (!make(ctx, store))
        return false;
    std::string err;
    CHECK((*store)->open(config(*ctx, create), &err), "open " + ctx->db + ": " + err);
    *session = (*store)->new_session(&err);
    CHECK(*session != nullptr, "new_session: " + err);
    return true;
}

// Session and store closed in the contract's order.
bool close_store(Ctx* ctx, std::unique_ptr<Store>* store, std::unique_ptr<Session>* session)
{
    session->reset();
    std::string err;
    CHECK((*store)->close(&err), "close: " + err);
    store->reset();
    return true;
}

bool put(Ctx* ctx, Session* s, std::string_view k, std::string_view v)
{
    std::string err;
    CHECK(s->put(k, v, &err), "put " + printable(k) + ": " + err);
    return true;
}

bool del(Ctx* ctx, Session* s, std::string_view k)
{
    std::string err;
    CHECK(s->del(k, &err), "del " + printable(k) + ": " + err);
    return true;
}

bool want_value(Ctx* ctx, Session* s, std::string_view k, std::string_view want)
{
    std::string v = "stale contents the get must replace", err;
    Get r = s->get(k, &v, &err);
    CHECK(r != Get::kError, "get " + printable(k) + ": " + err);
    CHECK(r == Get::kFound, "get " + printable(k) + ": not found, expected " + printable(want));
    CHECK(v == want, "get " + printable(k) + " = " + printable(v) + ", expected " + printable(want));
    return true;
}

bool want_missing(Ctx* ctx, Session* s, std::string_view k)
{
    std::string v, err;
    Get r = s->get(k, &v, &err);
    CHECK(r != Get::kError, "get " + printable(k) + ": " + err);
    CHECK(r == Get::kNotFound, "get " + printable(k) + " = " + printable(v) + ", expected absent");
    return true;
}

bool new_iter(Ctx* ctx, Session* s, std::unique_ptr<Iterator>* it)
{
    std::string err;
    *it = s->new_iterator(&err);
    CHECK(*it != nullptr, "new_iterator: " + err);
    return true;
}

bool iter_ok(Ctx* ctx, const Iterator* it)
{
    std::string err;
    CHECK(it->status(&err), "iterator status: " + err);
    return true;
}

// The iterator is at (k, v), or invalid when k is null.
bool want_at(Ctx* ctx, const Iterator* it, const std::string* k, const std::string* v,
               const std::string& where)
{
    if (!iter_ok(ctx, it))
        return false;
    if (!k) {
        CHECK(!it->valid(), where + ": iterator at " + printable(it->key()) + ", expected the end");
        return true;
    }
    CHECK(it->valid(), where + ": iterator invalid, expected " + printable(*k));
    CHECK(it->key() == *k, where + ": key " + printable(it->key()) + ", expected " + printable(*k));
    if (v)
        CHECK(it->value() == *v, where + ": value of " + printable(*k) + " is " +
                                     printable(it->value()) + ", expected " + printable(*v));
    return true;
}

// The whole store, through a new iterator, equals want.
bool want_contents(Ctx* ctx, Session* s, const std::map<std::string, std::string>& want,
                     const std::string& where)
{
    std::unique_ptr<Iterator> it;
    if (!new_iter(ctx, s, &it))
        return false;
    it->seek_to_first();
    for (const auto& [k, v] : want) {
        if (!want_at(ctx, it.get(), &k, &v, where))
            return false;
        it->next();
    }
    return want_at(ctx, it.get(), nullptr, nullptr, where);
}

std::string key_of(const char* prefix, int i)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%06d", prefix, i);
    return buf;
}

// ---- checks ---------------------------------------------------------------------------------

bool check_basic(Ctx* ctx)
{
    std::unique_ptr<Store> store;
    std::unique_ptr<Session> s;
    if (!open_store(ctx, true, &store, &s))
        return false;
    std::string err;

    if (!put(ctx, s.get(), "alpha", "one") || !want_value(ctx, s.get(), "alpha", "one") ||
        !want_missing(ctx, s.get(), "alpha2") || !want_missing(ctx, s.get(), "alph") ||
        !want_missing(ctx, s.get(), "never written"))
        return false;
    // Overwrite, with a shorter and then a longer value.
    if (!put(ctx, s.get(), "alpha", "1") || !want_value(ctx, s.get(), "alpha", "1") ||
        !put(ctx, s.get(), "alpha", std::string(300, 'x')) ||
        !want_value(ctx, s.get(), "alpha", std::string(300, 'x')))
        return false;
    if (!del(ctx, s.get(), "alpha") || !want_missing(ctx, s.get(), "alpha"))
        return false;
    CHECK(s->del("never written", &err), "delete of a missing key: " + err);
    CHECK(s->del("alpha", &err), "second delete of a deleted key: " + err);
    // Put after delete brings the key back.
    if (!put(ctx, s.get(), "alpha", "again") || !want_value(ctx, s.get(), "alpha", "again"))
        return false;

    // An empty value is a value, not an absence.
    if (!put(ctx, s.get(), "empty", "") || !want_value(ctx, s.get(), "empty", ""))
        return false;

    // Binary keys and values: zero bytes, bytes >= 0x80.
    const std::string bk("\x00k\xff\x80\x00", 5), bv("\x00\x01\xfe\xff\x00", 5);
    if (!put(ctx, s.get(), bk, bv) || !want_value(ctx, s.get(), bk, bv) ||
        !want_missing(ctx, s.get(), std::string("\x00k\xff\x80", 4)))
        return false;

    // A value larger than a page (LMDB overflow pages, SQLite overflow chains, RocksDB blocks).
    std::string big(200 * 1024, '\0');
    for (size_t i = 0; i < big.size(); i++)
        big[i] = char((i * 131 + 7) & 0xff);
    CHECK(store->max_value_size() >= big.size(),
          "max_value_size() " + std::to_string(store->max_value_size()) + " < 200 KiB");
    if (!put(ctx, s.get(), "big", big) || !want_value(ctx, s.get(), "big", big))
        return false;
    return close_store(ctx, &store, &s);
}

bool check_batch(Ctx* ctx)
{
    std::unique_ptr<Store> store;
    std::unique_ptr<Session> s;
    if (!open_store(ctx, true, &store, &s))
        return false;
    std::string err;

    for (int i = 0; i < 50; i++)
        if (!put(ctx, s.get(), key_of("d", i), "to be deleted"))
            return false;
    for (int i = 0; i < 100; i++)
        s->batch_put(key_of("b", i), "value " + std::to_string(i));
    for (int i = 0; i < 50; i++)
        s->batch_delete(key_of("d", i));
    s->batch_delete("never written");
    // Nothing is applied before batch_write.
    if (!want_missing(ctx, s.get(), key_of("b", 0)) ||
        !want_value(ctx, s.get(), key_of("d", 0), "to be deleted"))
        return false;
    CHECK(s->batch_write(&err), "batch_write of 100 puts and 51 deletes: " + err);
    for (int i = 0; i < 100; i++)
        if (!want_value(ctx, s.get(), key_of("b", i), "value " + std::to_string(i)))
            return false;
    for (int i = 0; i < 50; i++)
        if (!want_missing(ctx, s.get(), key_of("d", i)))
            return false;

    // Operations apply in order: put then delete leaves nothing, delete then put a value,
    // and the last of two puts wins.
    s->batch_put("x", "1");
    s->batch_delete("x");
    s->batch_delete("y");
    s->batch_put("y", "2");
    s->batch_put("z", "first");
    s->batch_put("z", "second");
    CHECK(s->batch_write(&err), "batch_write: " + err);
    if (!want_missing(ctx, s.get(), "x") || !want_value(ctx, s.get(), "y", "2") ||
        !want_value(ctx, s.get(), "z", "second"))
        return false;

    // An empty batch is fine, and batch_write cleared the last one: deleting "y" and writing
    // an empty batch must not put it back.
    CHECK(s->batch_write(&err), "empty batch_write: " + err);
    if (!del(ctx, s.get(), "y"))
        return false;
    CHECK(s->batch_write(&err), "empty batch_write after a delete: " + err);
    if (!want_missing(ctx, s.get(), "y"))
        return false;

    // Atomicity seen from another session: each batch rewrites the 100 "g" keys with one
    // generation; a reader's snapshots must hold a single generation each, never a mix. The
    // writer goes on until the reader has taken enough snapshots to overlap many batches
    // (bounded, for a store whose iterators are slow).
    const int kMinGenerations = 30, kMaxGenerations = 5000, kMinSnapshots = 50;
    for (int i = 0; i < 100; i++)
        s->batch_put(key_of("g", i), "gen 0");
    CHECK(s->batch_write(&err), "batch_write: " + err);
    std::unique_ptr<Session> reader = store->new_session(&err);
    CHECK(reader != nullptr, "new_session: " + err);
    std::atomic<bool> done{false}, reader_failed{false};
    std::string reader_err;  // written by the reader thread only, read after join
    std::atomic<int> snapshots{0};
    std::thread t([&] {
        for (bool last = false; !last;) {
            last = done.load();
            std::string e;
            std::unique_ptr<Iterator> it = reader->new_iterator(&e);
            if (!it) {
                reader_err = "reader new_iterator: " + e;
            } else {
                std::string gen;
                int n = 0;
                for (it->seek("g"); it->valid() && it->key().substr(0, 1) == "g" &&
                                    reader_err.empty();
                     it->next(), n++) {
                    if (n == 0)
                        gen = std::string(it->value());
                    else if (it->value() != gen)
                        reader_err = "a snapshot holds " + printable(gen) + " and " +
                                     printable(it->value()) + " (at " + printable(it->key()) +
                                     "): a batch was seen half applied";
                }
                if (!it->status(&e))
                    reader_err = "reader iterator: " + e;
                else if (reader_err.empty() && n != 100)
                    reader_err = "a snapshot holds " + std::to_string(n) + " g keys, not 100";
                snapshots++;
            }
            if (!reader_err.empty()) {
                reader_failed = true;
                return;
            }
        }
    });
    std::string writer_err;
    int g = 1;
    for (; (g <= kMinGenerations || snapshots.load() < kMinSnapshots) && g <= kMaxGenerations &&
           writer_err.empty() && !reader_failed.load();
         g++) {
        for (int i = 0; i < 100; i++)
            s->batch_put(key_of("g", i), "gen " + std::to_string(g));
        if (!s->batch_write(&err))
            writer_err = "batch_write of generation " + std::to_string(g) + ": " + err;
    }
    done = true;
    t.join();
    CHECK(writer_err.empty(), writer_err);
    CHECK(reader_err.empty(), reader_err);
    print_message("[%s] batch: a reader checked %d snapshots during %d batches\n",
                  ctx->store.c_str(), snapshots.load(), g - 1);
    for (int i = 0; i < 100; i++)
        if (!want_value(ctx, s.get(), key_of("g", i), "gen " + std::to_string(g - 1)))
            return false;
    reader.reset();
    return close_store(ctx, &store, &s);
}

bool check_iterator_order(Ctx* ctx)
{
    std::unique_ptr<Store> store;
    std::unique_ptr<Session> s;
    if (!open_store(ctx, true, &store, &s))
        return false;

    using namespace std::string_literals;
    std::vector<std::string> keys = {
        "a"s, "ab"s, "abc"s, "abd"s, "b"s, "a\0"s, "a\0b"s, "a\x01"s, "\0"s, "\0\0"s, "\x01"s,
        "\x7f"s, "\x80"s, "\x80\0"s, "\x80\x7f"s, "\x81"s, "\xfe\xff"s, "\xff"s, "\xff\0"s,
        "\xff\xff"s, "zzzz"s, "m"s, "mm"s, "m\xc3\xa9"s, std::string(300, 'm'),
    };
    // A long key only where the store takes it; each store's own limit has its own check.
    keys.erase(std::remove_if(keys.begin(), keys.end(),
                              [&](const std::string& k) { return k.size() > store->max_key_size(); }),
               keys.end());
    std::map<std::string, std::string> want;
    for (const std::string& k : keys)
        want[k] = "v" + std::to_string(k.size()) + printable(k);
    // Inserted in a fixed scrambled order, not sorted.
    for (size_t i = 0; i < keys.size(); i++) {
        const std::string& k = keys[(i * 7) % keys.size()];
        if (!put(ctx, s.get(), k, want[k]))
            return false;
    }
    CHECK(keys.size() % 7 != 0, "test setup: the scramble must visit every key");

    std::vector<std::pair<std::string, std::string>> sorted(want.begin(), want.end());
    std::unique_ptr<Iterator> it;
    if (!new_iter(ctx, s.get(), &it))
        return false;

    // Forward.
    it->seek_to_first();
    for (size_t i = 0; i < sorted.size(); i++, it->next())
        if (!want_at(ctx, it.get(), &sorted[i].first, &sorted[i].second,
                       "forward scan, position " + std::to_string(i)))
            return false;
    if (!want_at(ctx, it.get(), nullptr, nullptr, "forward scan, past the last key"))
        return false;

    // Backward, from seek_to_last to the first key.
    it->seek_to_last();
    for (size_t i = sorted.size(); i-- > 0; it->prev())
        if (!want_at(ctx, it.get(), &sorted[i].first, &sorted[i].second,
                       "backward scan, position " + std::to_string(i)))
            return false;
    if (!want_at(ctx, it.get(), nullptr, nullptr, "backward scan, before the first key"))
        return false;

    // seek: each key exactly, just after each key, just before each key, and the ends.
    std::vector<std::string> targets = {""s, "\0"s, "a\0\0"s, "aa"s, "abcd"s, "l"s,
                                        "\x80\x80"s, "\xff\xff\xff"s, "\xff\xff\0"s};
    for (const std::string& k : keys) {
        targets.push_back(k);
        targets.push_back(k + '\0');
        if (!k.empty() && k.back() != '\0')
            targets.push_back(k.substr(0, k.size() - 1) + char(k.back() - 1) + "\xff\xff");
    }
    for (const std::string& t : targets) {
        auto lb = want.lower_bound(t);
        it->seek(t);
        if (!want_at(ctx, it.get(), lb == want.end() ? nullptr : &lb->first,
                       lb == want.end() ? nullptr : &lb->second, "seek(" + printable(t) + ")"))
            return false;
    }

    // Changes of direction: next after prev and prev after next return to the same keys.
    for (size_t i = 1; i + 1 < sorted.size(); i++) {
        const std::string where = "around " + printable(sorted[i].first);
        it->seek(sorted[i].first);
        it->prev();
        if (!want_at(ctx, it.get(), &sorted[i - 1].first, &sorted[i - 1].second,
                       where + ": seek, prev"))
            return false;
        it->next();
        if (!want_at(ctx, it.get(), &sorted[i].first, &sorted[i].second,
                       where + ": seek, prev, next"))
            return false;
        it->next();
        if (!want_at(ctx, it.get(), &sorted[i + 1].first, &sorted[i + 1].second,
                       where + ": seek, prev, next, next"))
            return false;
        it->prev();
        if (!want_at(ctx, it.get(), &sorted[i].first, &sorted[i].second,
                       where + ": seek, prev, next, next, prev"))
            return false;
        it->prev();
        it->next();
        if (!want_at(ctx, it.get(), &sorted[i].first, &sorted[i].second,
                       where + ": ..., prev, next"))
            return false;
    }
    // Walking off either end from a seek in the middle.
    it->seek(sorted[1].first);
    it->prev();
    it->prev();
    if (!want_at(ctx, it.get(), nullptr, nullptr, "seek(second), prev, prev"))
        return false;
    it->seek(sorted[sorted.size() - 2].first);
    it->next();
    it->next();
    if (!want_at(ctx, it.get(), nullptr, nullptr, "seek(second to last), next, next"))
        return false;
    // seek to a key taken from the iterator itself (the target views the iterator's memory).
    it->seek_to_last();
    it->prev();
    it->seek(it->key());
    if (!want_at(ctx, it.get(), &sorted[sorted.size() - 2].first,
                   &sorted[sorted.size() - 2].second, "seek(it->key())"))
        return false;

    // A prefix of reads, as readseq/readreverse do, then a fresh seek_to_first.
    it->seek_to_last();
    it->prev();
    it->prev();
    it->seek_to_first();
    if (!want_at(ctx, it.get(), &sorted[0].first, &sorted[0].second, "seek_to_first again"))
        return false;
    it.reset();
    return close_store(ctx, &store, &s);
}

bool check_snapshot(Ctx* ctx)
{
    std::unique_ptr<Store> store;
    std::unique_ptr<Session> s;
    if (!open_store(ctx, true, &store, &s))
        return false;
    std::string err;
    std::unique_ptr<Session> other = store->new_session(&err);
    CHECK(other != nullptr, "new_session: " + err);

    // An iterator of the empty store stays empty (SQLite, for one, takes its snapshot at the
    // first read, not at BEGIN).
    std::unique_ptr<Iterator> empty_it;
    if (!new_iter(ctx, s.get(), &empty_it))
        return false;
    std::map<std::string, std::string> before = {{"k1", "v1"}, {"k2", "v2"}, {"k3", "v3"}};
    for (const auto& [k, v] : before)
        if (!put(ctx, s.get(), k, v))
            return false;

    std::unique_ptr<Iterator> old_it;
    if (!new_iter(ctx, s.get(), &old_it))
        return false;
    // Writes after the iterator was made: from its own session and from another one.
    if (!put(ctx, s.get(), "k4", "new") || !put(ctx, s.get(), "k2", "changed") ||
        !del(ctx, s.get(), "k3") || !put(ctx, other.get(), "k0", "other session") ||
        !put(ctx, other.get(), "k1", "changed by other"))
        return false;
    s->batch_put("k5", "batched");
    s->batch_delete("k1");
    CHECK(s->batch_write(&err), "batch_write: " + err);

    empty_it->seek_to_first();
    if (!want_at(ctx, empty_it.get(), nullptr, nullptr, "iterator of the empty store, first"))
        return false;
    empty_it->seek_to_last();
    if (!want_at(ctx, empty_it.get(), nullptr, nullptr, "iterator of the empty store, last"))
        return false;
    empty_it->seek("k");
    if (!want_at(ctx, empty_it.get(), nullptr, nullptr, "iterator of the empty store, seek"))
        return false;
    empty_it.reset();

    // The old iterator, first used only now, sees the store as of its creation.
    old_it->seek_to_first();
    for (const auto& [k, v] : before) {
        if (!want_at(ctx, old_it.get(), &k, &v, "iterator made before the writes"))
            return false;
        old_it->next();
    }
    if (!want_at(ctx, old_it.get(), nullptr, nullptr, "iterator made before the writes"))
        return false;
    const std::string k3 = "k3", v3 = "v3", k1 = "k1", v1 = "v1";
    old_it->seek("k4");
    if (!want_at(ctx, old_it.get(), nullptr, nullptr, "old iterator, seek(k4)"))
        return false;
    old_it->seek_to_last();
    if (!want_at(ctx, old_it.get(), &k3, &v3, "old iterator, seek_to_last"))
        return false;
    old_it->seek("k0");
    if (!want_at(ctx, old_it.get(), &k1, &v1, "old iterator, seek(k0)"))
        return false;

    // A new iterator sees everything; the old one is still usable after it.
    std::map<std::string, std::string> after = {
        {"k0", "other session"}, {"k2", "changed"}, {"k4", "new"}, {"k5", "batched"}};
    if (!want_contents(ctx, s.get(), after, "iterator made after the writes") ||
        !want_contents(ctx, other.get(), after, "other session's iterator after the writes"))
        return false;
    old_it->seek_to_first();
    if (!want_at(ctx, old_it.get(), &k1, &v1, "old iterator after a new one"))
        return false;
    old_it.reset();
    other.reset();
    return close_store(ctx, &store, &s);
}

bool check_reopen(Ctx* ctx)
{
    std::unique_ptr<Store> store;
    std::unique_ptr<Session> s;
    if (!open_store(ctx, true, &store, &s))
        return false;
    std::string err;
    std::map<std::string, std::string> want;
    for (int i = 0; i < 500; i++) {
        std::string k = key_of("r", i), v = "value " + std::to_string(i * 7);
        if (!put(ctx, s.get(), k, v))
            return false;
        want[k] = v;
    }
    for (int i = 0; i < 500; i += 5) {
        if (!del(ctx, s.get(), key_of("r", i)))
            return false;
        want.erase(key_of("r", i));
    }
    for (int i = 0; i < 100; i++) {
        s->batch_put(key_of("q", i), "batched " + std::to_string(i));
        want[key_of("q", i)] = "batched " + std::to_string(i);
    }
    CHECK(s->batch_write(&err), "batch_write: " + err);
    s.reset();
    CHECK(store->close(&err), "close: " + err);
    CHECK(store->close(&err), "second close (close is idempotent): " + err);
    store.reset();

    if (!open_store(ctx, false, &store, &s))
        return false;
    for (const auto& [k, v] : want)
        if (!want_value(ctx, s.get(), k, v))
            return false;
    if (!want_missing(ctx, s.get(), key_of("r", 0)) ||
        !want_contents(ctx, s.get(), want, "after reopen"))
        return false;
    // The reopened store takes writes.
    if (!put(ctx, s.get(), "after reopen", "yes") ||
        !want_value(ctx, s.get(), "after reopen", "yes"))
        return false;
    return close_store(ctx, &store, &s);
}

bool check_open_errors(Ctx* ctx)
{
    std::unique_ptr<Store> store;
    if (!make(ctx, &store))
        return false;
    std::string err;
    CHECK(!store->open(config(*ctx, false), &err),
          "open with create=false on the missing path " + ctx->db + " succeeded");
    CHECK(!err.empty(), "open with create=false on a missing path failed without a message");
    // A failed open leaves nothing behind (RocksDB's own DB::Open would make the directory
    // before finding no CURRENT file; the capi store checks the path first).
    struct stat st;
    CHECK(::stat(ctx->db.c_str(), &st) != 0,
          "open with create=false failed but left " + ctx->db + " behind");
    CHECK(store->close(&err), "close of a store whose open failed: " + err);
    std::error_code ec;
    std::filesystem::remove_all(ctx->db, ec);
    store.reset();

    // The path is a regular file: refused with create=true or false.
    FILE* f = std::fopen(ctx->db.c_str(), "w");
    CHECK(f != nullptr, "test setup: cannot create " + ctx->db);
    std::fputs("not a database\n", f);
    std::fclose(f);
    for (bool create : {true, false}) {
        if (!make(ctx, &store))
            return false;
        err.clear();
        CHECK(!store->open(config(*ctx, create), &err),
              "open on a regular file succeeded (create=" + std::to_string(create) + ")");
        CHECK(!err.empty(), "open on a regular file failed without a message");
        store.reset();
    }
    // A store that was never opened closes and destroys quietly.
    if (!make(ctx, &store))
        return false;
    CHECK(store->close(&err), "close of a never-opened store: " + err);
    return true;
}

bool check_key_too_long(Ctx* ctx)
{
    std::unique_ptr<Store> store;
    std::unique_ptr<Session> s;
    if (!open_store(ctx, true, &store, &s))
        return false;
    const uint64_t max = store->max_key_size();
    if (max > (16u << 20)) {
        print_message("[%s] key_too_long: max_key_size() = %llu, too large to try; skipped\n",
                      ctx->store.c_str(), (unsigned long long)max);
        return close_store(ctx, &store, &s);
    }
    std::string err;
    std::string longest(max, 'k'), too_long(max + 1, 'k');
    longest[0] = too_long[0] = 'L';
    if (!put(ctx, s.get(), longest, "fits") || !want_value(ctx, s.get(), longest, "fits"))
        return false;
    CHECK(!s->put(too_long, "too long", &err),
          "put of a " + std::to_string(max + 1) + "-byte key (max_key_size " +
              std::to_string(max) + ") succeeded");
    CHECK(!err.empty(), "put of a too-long key failed without a message");

    // In a batch: refused, and nothing of the batch applied.
    err.clear();
    s->batch_put("batch neighbour", "must not appear");
    s->batch_put(too_long, "too long");
    CHECK(!s->batch_write(&err), "batch_write with a too-long key succeeded");
    CHECK(!err.empty(), "batch_write with a too-long key failed without a message");
    if (!want_missing(ctx, s.get(), "batch neighbour"))
        return false;
    // The session still works, and the failed batch was cleared.
    CHECK(s->batch_write(&err), "empty batch_write after a failed one: " + err);
    if (!put(ctx, s.get(), "after", "ok") || !want_value(ctx, s.get(), "after", "ok") ||
        !want_missing(ctx, s.get(), "batch neighbour") ||
        !want_value(ctx, s.get(), longest, "fits"))
        return false;
    return close_store(ctx, &store, &s);
}

bool check_threads(Ctx* ctx)
{
    std::unique_ptr<Store> store;
    std::unique_ptr<Session> s;
    if (!open_store(ctx, true, &store, &s))
        return false;
    const int kThreads = 4, kOps = 2000;
    std::string err;
    std::vector<std::unique_ptr<Session>> sessions;
    for (int t = 0; t < kThreads; t++) {
        sessions.push_back(store->new_session(&err));
        CHECK(sessions.back() != nullptr, "new_session " + std::to_string(t) + ": " + err);
    }
    auto key = [](int t, int i) { return "t" + std::to_string(t) + "/" + key_of("", i); };
    auto val = [](int t, int i) { return "value of " + std::to_string(t) + "/" + std::to_string(i); };
    std::vector<std::string> errors(kThreads);
    std::vector<int> written(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            Session* ss = sessions[size_t(t)].get();
            std::string e, v;
            uint64_t x = 0x9e3779b97f4a7c15ull * uint64_t(t + 1);
            int n = 0;  // keys 0..n-1 of this thread are written
            for (int op = 0; op < kOps && errors[size_t(t)].empty(); op++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                if (op % 4 != 3 || n == 0) {
                    if (!ss->put(key(t, n), val(t, n), &e))
                        errors[size_t(t)] = "put: " + e;
                    n++;
                    continue;
                }
                // A key this thread wrote must be there; the next one must not be yet.
                int i = int((x >> 33) % uint64_t(n));
                Get r = ss->get(key(t, i), &v, &e);
                if (r != Get::kFound || v != val(t, i))
                    errors[size_t(t)] = "get " + key(t, i) + ": " +
                                        (r == Get::kError ? e : r == Get::kNotFound
                                                                  ? std::string("not found")
                                                                  : "wrong value " + printable(v));
                else if ((r = ss->get(key(t, n), &v, &e)) != Get::kNotFound)
                    errors[size_t(t)] = "get " + key(t, n) + " (not written yet): " +
                                        (r == Get::kError ? e : "found " + printable(v));
            }
            written[size_t(t)] = n;
        });
    }
    for (std::thread& th : threads)
        th.join();
    for (int t = 0; t < kThreads; t++)
        CHECK(errors[size_t(t)].empty(), "thread " + std::to_string(t) + ": " + errors[size_t(t)]);
    sessions.clear();

    std::map<std::string, std::string> want;
    for (int t = 0; t < kThreads; t++)
        for (int i = 0; i < written[size_t(t)]; i++) {
            if (!want_value(ctx, s.get(), key(t, i), val(t, i)))
                return false;
            want[key(t, i)] = val(t, i);
        }
    if (!want_contents(ctx, s.get(), want, "after the threads"))
        return false;
    return close_store(ctx, &store, &s);
}

bool check_destroy(Ctx* ctx)
{
    std::unique_ptr<Store> store;
    std::unique_ptr<Session> s;
    if (!open_store(ctx, true, &store, &s) || !put(ctx, s.get(), "k", "v"))
        return false;
    s.reset();
    std::string err;
    CHECK(store->close(&err), "close: " + err);
    CHECK(store->destroy(ctx->db, &err), "destroy " + ctx->db + ": " + err);
    struct stat st;
    CHECK(::stat(ctx->db.c_str(), &st) != 0 && errno == ENOENT,
          "destroy left " + ctx->db + " in place");
    CHECK(store->destroy(ctx->db, &err), "destroy of a missing path: " + err);
    store.reset();

    // A fresh Store can destroy too, and a destroyed database starts empty.
    if (!open_store(ctx, true, &store, &s) || !want_missing(ctx, s.get(), "k") ||
        !put(ctx, s.get(), "k2", "v2") || !close_store(ctx, &store, &s))
        return false;
    if (!make(ctx, &store))
        return false;
    CHECK(store->destroy(ctx->db, &err), "destroy by a store that never opened it: " + err);
    CHECK(::stat(ctx->db.c_str(), &st) != 0 && errno == ENOENT,
          "destroy left " + ctx->db + " in place");
    return true;
}

// ---- cmocka plumbing ------------------------------------------------------------------------

int setup(void** state)
{
    const char* name = static_cast<const char*>(*state);
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/axbench_stores_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) {
        print_error("[%s] mkdtemp %s: %s\n", name, tmpl.c_str(), std::strerror(errno));
        return -1;
    }
    Ctx* ctx = new Ctx;
    ctx->store = name;
    ctx->tmp = buf.data();
    ctx->db = ctx->tmp + "/db";
    *state = ctx;
    return 0;
}

int teardown(void** state)
{
    Ctx* ctx = static_cast<Ctx*>(*state);
    std::error_code ec;
    std::filesystem::remove_all(ctx->tmp, ec);
    if (ec)
        print_error("[%s] removing %s: %s\n", ctx->store.c_str(), ctx->tmp.c_str(),
                    ec.message().c_str());
    delete ctx;
    return 0;
}

template <bool (*Check)(Ctx*)>
void run_check(void** state)
{
    Ctx* ctx = static_cast<Ctx*>(*state);
    bool ok = Check(ctx);
    if (!ok)
        fail_msg("[%s] check failed (see above)", ctx->store.c_str());
}

}  // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> stores;
    for (int i = 1; i < argc; i++)
        stores.push_back(argv[i]);
    if (stores.empty())
        stores = {"alex", "lmdb", "sqlite", "rocksdb", "alex_capi", "hybrid"};

    int failed = 0;
    for (const std::string& name : stores) {
        void* st = const_cast<char*>(name.c_str());
        const CMUnitTest tests[] = {
            {"basic", run_check<check_basic>, setup, teardown, st},
            {"batch", run_check<check_batch>, setup, teardown, st},
            {"iterator_order", run_check<check_iterator_order>, setup, teardown, st},
            {"snapshot", run_check<check_snapshot>, setup, teardown, st},
            {"reopen", run_check<check_reopen>, setup, teardown, st},
            {"open_errors", run_check<check_open_errors>, setup, teardown, st},
            {"key_too_long", run_check<check_key_too_long>, setup, teardown, st},
            {"threads", run_check<check_threads>, setup, teardown, st},
            {"destroy", run_check<check_destroy>, setup, teardown, st},
        };
        print_message("[==========] store %s\n", name.c_str());
        failed += _cmocka_run_group_tests(name.c_str(), tests, sizeof tests / sizeof tests[0],
                                          nullptr, nullptr);
    }
    return failed == 0 ? 0 : 1;
}
