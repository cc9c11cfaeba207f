// workload.cc: see workload.h; each function names the db_bench code it reproduces.
#include "workload.h"

#include <algorithm>
#include <cstring>

namespace axbench {

namespace {
constexpr uint32_t kM = 2147483647u;  // 2^31 - 1
constexpr uint64_t kA = 16807;
}  // namespace

// Random::GoodSeed: 0 and M would make the sequence constant.
LehmerRandom::LehmerRandom(uint32_t s) : seed_((s & kM) != 0 ? (s & kM) : 1) {}

uint32_t LehmerRandom::next() {
    uint64_t product = seed_ * kA;
    // product % M, using ((x << 31) % M) == x; one correction suffices since seed_ < M.
    seed_ = static_cast<uint32_t>((product >> 31) + (product & kM));
    if (seed_ > kM) seed_ -= kM;
    return seed_;
}

// test::CompressibleString(rnd, ratio, 100, &piece), appended until the data is at least
// max(1 MiB, value_size) long.
ValueGenerator::ValueGenerator(double compression_ratio, int value_size)
    : len_(static_cast<unsigned>(value_size)) {
    LehmerRandom rnd(301);
    const size_t want = std::max<size_t>(1048576, static_cast<size_t>(value_size));
    const int piece_len = 100;
    int raw = static_cast<int>(piece_len * compression_ratio);
    if (raw < 1) raw = 1;
    std::string raw_data, piece;
    while (data_.size() < want) {
        raw_data.resize(static_cast<size_t>(raw));
        for (int i = 0; i < raw; i++) raw_data[i] = static_cast<char>(' ' + rnd.uniform(95));
        piece.clear();
        while (piece.size() < static_cast<size_t>(piece_len)) piece += raw_data;
        piece.resize(piece_len);
        data_ += piece;
    }
}

std::string_view ValueGenerator::generate() {
    if (pos_ + len_ > data_.size()) pos_ = 0;
    pos_ += len_;
    return std::string_view(data_.data() + pos_ - len_, len_);
}

// Benchmark::GenerateKeyFromInt without prefixes.
void generate_key(uint64_t v, int key_size, std::string* key) {
    key->resize(static_cast<size_t>(key_size));
    char* pos = key->data();
    const int fill = std::min(key_size, 8);
    for (int i = 0; i < fill; ++i) pos[i] = static_cast<char>((v >> ((fill - i - 1) << 3)) & 0xFF);
    if (key_size > fill) memset(pos + fill, '0', static_cast<size_t>(key_size - fill));
}

// KeyGenerator(UNIQUE_RANDOM): RandomShuffle(values, seed) = std::shuffle with std::mt19937.
std::vector<uint64_t> unique_random_order(uint64_t num, uint32_t seed) {
    std::vector<uint64_t> v(num);
    for (uint64_t i = 0; i < num; ++i) v[i] = i;
    std::mt19937 rng(seed);
    std::shuffle(v.begin(), v.end(), rng);
    return v;
}

}  // namespace axbench
