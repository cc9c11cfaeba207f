// flags.cc: every flag of alex_db_bench. db_bench's names, meanings and defaults, except:
//  - cache_size and bloom_bits default to "fair" values (db_bench: an 8 MiB block cache and no
//    bloom filter, which starves RocksDB's reads next to stores that read from the page cache);
//  - compression_type defaults to none (db_bench: snappy, which the other stores do not have);
//  - store, json, rocksdb_lib and alex_capi_lib are ours.
// Unknown flags are an error (gflags' default).
#include "flags.h"

DEFINE_string(benchmarks,
              "fillseq,fillsync,fillrandom,overwrite,readrandom,seekrandom,readseq,readreverse,"
              "readwhilewriting,readrandomwriterandom,updaterandom",
              "Comma-separated list of benchmarks to run in order:\n"
              "\tfillseq       -- write N values in sequential key order\n"
              "\tfillrandom    -- write N values in random key order\n"
              "\tfilluniquerandom -- write each of the N keys once, in random order\n"
              "\tfillrandom_unique -- filluniquerandom with its key order drawn before the "
              "clock starts\n"
              "\toverwrite     -- overwrite N values in random key order\n"
              "\tfillbatch     -- write N values in sequential key order in batches of 1000\n"
              "\tfillsync      -- write N/1000 values in random key order, each synced\n"
              "\treadseq       -- read N times sequentially\n"
              "\treadreverse   -- read N times in reverse order\n"
              "\treadrandom    -- read N times in random order\n"
              "\tseekrandom    -- N random seeks, each followed by seek_nexts Next()\n"
              "\tdeleteseq     -- delete N keys in sequential order\n"
              "\tdeleterandom  -- delete N keys in random order\n"
              "\treadrandomwriterandom -- cycles of readwritepercent reads then "
              "100-readwritepercent writes\n"
              "\treadwhilewriting -- threads readers plus 1 writer\n"
              "\tupdaterandom  -- N read-modify-writes of random keys\n");
DEFINE_int64(num, 1000000, "Number of key/values to place in database");
DEFINE_int64(reads, -1, "Number of read operations to do. If negative, do FLAGS_num reads.");
DEFINE_int64(writes, -1, "Number of write operations to do. If negative, do --num reads.");
DEFINE_int64(deletes, -1, "Number of delete operations to do. If negative, do FLAGS_num deletions.");
DEFINE_int32(value_size, 100, "Size of each value");
DEFINE_int32(key_size, 16, "size of each key");
DEFINE_int32(threads, 1, "Number of concurrent threads to run.");
DEFINE_int32(readwritepercent, 90,
             "Ratio of reads to reads/writes (expressed as percentage) for the "
             "ReadRandomWriteRandom workload. The default value 90 means 90% operations out of "
             "all reads and writes operations are reads. In other words, 9 gets for every 1 put.");
DEFINE_int64(seed, 0, "Seed base for random number generators. When 0 it is derived from the "
                      "current time.");
DEFINE_bool(histogram, false, "Print histogram of operation timings");
DEFINE_bool(sync, false, "Sync all writes to disk");
DEFINE_bool(disable_wal, false, "If true, do not write WAL for write (RocksDB and the RocksDB side "
                                "of hybrid; other stores say what it means for them)");
DEFINE_bool(use_existing_db, false,
            "If true, do not destroy the existing database. If you set this flag and also "
            "specify a benchmark that wants a fresh database, that benchmark will be skipped.");
DEFINE_string(db, "", "Use the db with the following name (default: "
                      "/tmp/alexstoragetest-<uid>/dbbench_<store>)");
DEFINE_string(compression_type, "none",
              "Algorithm to use to compress the database: none, lz4 (every store that compresses "
              "has it: rocksdb, alex, alex_capi, hybrid) or, for rocksdb only, snappy, zlib, "
              "bzip2, lz4hc, zstd. db_bench's default is snappy; ours is none so every store "
              "stores the same bytes.");
DEFINE_double(compression_ratio, 0.5,
              "Arrange to generate values that shrink to this fraction of their original size "
              "after compression");
DEFINE_int64(cache_size, -1,
             "Number of bytes to use as a block cache of uncompressed data (RocksDB; SQLite's page "
             "cache). -1: large enough for the data set, num * (key_size + value_size) * 5/4, "
             "at least 8 MiB (db_bench's default is 8 MiB).");
DEFINE_int32(bloom_bits, -1,
             "Bloom filter bits per key for RocksDB. -1: 10 (db_bench: no filter). 0 disables.");
DEFINE_int64(write_buffer_size, 64 << 20, "Number of bytes to buffer in memtable before compacting");
DEFINE_int32(seek_nexts, 0, "How many times to call Next() after Seek() in seekrandom");
DEFINE_int32(duration, 0, "Time in seconds for the random-ops tests to run. When 0 then num & "
                          "reads determine the test duration");
DEFINE_int64(stats_interval, 0, "Stats are reported every N operations when this is greater than "
                                "zero. When 0 the interval grows over time.");
DEFINE_int64(batch_size, 1, "Batch size");
DEFINE_bool(progress_reports, true,
            "If true, report the number of finished operations on stderr (db_bench's '... "
            "finished N ops'). Shown only when stderr is a terminal unless given explicitly.");
DEFINE_int32(perf_level, 1,
             "Level of perf collection: RocksDB's perf level, set in every benchmark thread of "
             "the rocksdb and hybrid stores as db_bench sets it (1 = disabled, db_bench's "
             "default; 2 = counts, RocksDB's own default; up to 5)");
DEFINE_uint64(ops_between_duration_checks, 1000, "Check duration limit every x ops");
DEFINE_string(store, "rocksdb",
              "Store to benchmark: rocksdb (Debian's librocksdb through its C API), alex (the "
              "native AlexStorage API), alex_capi (librocksdb_alex.so through the same C API code "
              "as rocksdb), hybrid (the plugin in hybrid mode), lmdb, sqlite");
DEFINE_string(json, "", "Also write every result, with its latency percentiles and the "
                        "environment, as JSON to this file");
DEFINE_string(rocksdb_lib, "", "RocksDB shared library for --store=rocksdb (default: Debian's "
                               "librocksdb.so.7.8); e.g. a release build");
DEFINE_string(alex_capi_lib, "", "librocksdb_alex.so for --store=alex_capi and hybrid (default: "
                                 "the one built with this driver)");
