// alex_db_bench: db_bench's workloads, flags and output on every store AlexStorage is compared
// with. See db_bench_ext/README.md; `alex_db_bench --help` lists the flags.
#include <string>
#include <vector>

#include "benchmark.h"
#include "flags.h"

int main(int argc, char** argv) {
    std::vector<std::string> args(argv, argv + argc);
    gflags::SetUsageMessage(
        "\nUSAGE:\n" + std::string(argv[0]) +
        " [OPTIONS]...\n\ndb_bench's benchmarks on --store=rocksdb|alex|alex_capi|hybrid|lmdb|sqlite");
    gflags::SetVersionString(AXB_VERSION);
    gflags::ParseCommandLineFlags(&argc, &argv, true);
    if (argc > 1) {
        fprintf(stderr, "alex_db_bench: unexpected argument '%s' (flags are --name=value)\n",
                argv[1]);
        return 1;
    }
    return axbench::run_benchmarks(args);
}
