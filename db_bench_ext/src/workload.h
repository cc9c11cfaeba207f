// workload.h: db_bench's keys, values and random streams, reproduced exactly.
//
// Same flags and seed draw the same keys as RocksDB 7.8.3's db_bench (tools/db_bench_tool.cc):
//  - keys: GenerateKeyFromInt with no prefix: the number's low min(key_size, 8) bytes big-endian,
//    then '0' padding up to key_size;
//  - per-thread streams: Random64 (std::mt19937_64) seeded seed_base + n, where n counts every
//    benchmark thread started so far in the process (so the second benchmark of a run draws
//    from seed_base + 2);
//  - values: RandomGenerator's 1 MiB of data built from Random(301) (the Lehmer generator of
//    util/random.h) in 100-byte pieces compressible to --compression_ratio, handed out in
//    consecutive value_size slices;
//  - filluniquerandom's order: std::shuffle of 0..num-1 with std::mt19937(uint32_t(seed_base)).
// The standard-library classes are the ones db_bench uses, from the same libstdc++, so the
// streams match bit for bit.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace axbench {

// util/random.h's Random: Lehmer (Park-Miller) generator, seed*16807 mod 2^31-1.
class LehmerRandom {
public:
    explicit LehmerRandom(uint32_t s);
    uint32_t next();
    uint32_t uniform(int n) { return next() % static_cast<uint32_t>(n); }

private:
    uint32_t seed_;
};

// util/random.h's Random64.
class Random64 {
public:
    explicit Random64(uint64_t s) : gen_(s) {}
    uint64_t next() { return gen_(); }

private:
    std::mt19937_64 gen_;
};

// db_bench's RandomGenerator with a fixed value size.
class ValueGenerator {
public:
    ValueGenerator(double compression_ratio, int value_size);
    std::string_view generate();  // the next value_size bytes (wrapping)

private:
    std::string data_;
    unsigned pos_ = 0;
    unsigned len_;
};

// Writes db_bench's key for number v into key (resized to key_size).
void generate_key(uint64_t v, int key_size, std::string* key);

// 0..num-1 in filluniquerandom's order.
std::vector<uint64_t> unique_random_order(uint64_t num, uint32_t seed);

}  // namespace axbench
