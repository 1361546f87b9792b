// The C++ side of examples/bench_overhead.py: times lmgc::compress and lmgc::decompress of a
// tensor file held in memory (what lmgc.numpy.save / load do below Python). One untimed
// round first (it allocates the coder's per-thread tables, which a long-lived Python
// process already has), then one timed round, so the Python script can alternate C++ and
// Python runs on a busy machine.
// Usage: lmgc-bench-python-overhead FILE [CODEC [THREADS]]; prints one JSON line.
#include "lmgc/lmgc.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE [CODEC [THREADS]]\n", argv[0]);
        return 2;
    }
    try {
        const auto input = lmgc::read_file(argv[1]);
        auto cp = lmgc::default_compress_params();
        cp.codec = argc > 2 ? argv[2] : "";
        cp.n_threads = argc > 3 ? std::stoi(argv[3]) : 0;
        auto dp = lmgc::default_decompress_params();
        dp.n_threads = cp.n_threads;
        (void)lmgc::decompress(lmgc::compress(input, cp), dp); // warm-up
        using clock = std::chrono::steady_clock;
        // Wall time, and CPU time of the process (all threads): on a shared machine the CPU
        // time is the steadier measure.
        const auto t0 = clock::now();
        const auto c0 = std::clock();
        const auto image = lmgc::compress(input, cp);
        const auto t1 = clock::now();
        const auto c1 = std::clock();
        const auto back = lmgc::decompress(image, dp);
        const auto t2 = clock::now();
        const auto c2 = std::clock();
        if (back != input) {
            std::fprintf(stderr, "round trip differs\n");
            return 1;
        }
        std::printf("{\"compress_s\": %.6f, \"decompress_s\": %.6f, \"compress_cpu_s\": %.6f, "
                    "\"decompress_cpu_s\": %.6f, \"output_bytes\": %zu}\n",
                    std::chrono::duration<double>(t1 - t0).count(),
                    std::chrono::duration<double>(t2 - t1).count(),
                    double(c1 - c0) / CLOCKS_PER_SEC, double(c2 - c1) / CLOCKS_PER_SEC,
                    image.size());
    } catch (const lmgc::error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
