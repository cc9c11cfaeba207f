// flags.h: alex_db_bench's command-line flags (gflags), defined in flags.cc. Names and defaults
// are db_bench's (RocksDB 7.8.3) except where flags.cc says otherwise and why.
#pragma once

#include <gflags/gflags.h>

DECLARE_string(benchmarks);
DECLARE_int64(num);
DECLARE_int64(reads);
DECLARE_int64(writes);
DECLARE_int64(deletes);
DECLARE_int32(value_size);
DECLARE_int32(key_size);
DECLARE_int32(threads);
DECLARE_int32(readwritepercent);
DECLARE_int64(seed);
DECLARE_bool(histogram);
DECLARE_bool(sync);
DECLARE_bool(disable_wal);
DECLARE_bool(use_existing_db);
DECLARE_string(db);
DECLARE_string(compression_type);
DECLARE_double(compression_ratio);
DECLARE_int64(cache_size);
DECLARE_int32(bloom_bits);
DECLARE_int64(write_buffer_size);
DECLARE_int32(seek_nexts);
DECLARE_int32(duration);
DECLARE_int64(stats_interval);
DECLARE_int64(batch_size);
DECLARE_bool(progress_reports);
DECLARE_int32(perf_level);
DECLARE_uint64(ops_between_duration_checks);
DECLARE_string(store);
DECLARE_string(json);
DECLARE_string(rocksdb_lib);
DECLARE_string(alex_capi_lib);
