// The C++ side of examples/bench_overhead.py: times lmgc::compress_tensors and
// lmgc::decompress_tensors of one float32 tensor held in memory, called as lmgc.numpy.save /
// load call them below Python (the stream into a buffer sized beforehand; decoding into an
// uninitialized buffer from the allocator). Two untimed rounds first, as a long-lived Python
// process is warm too (the first allocates the coder's per-thread tables; in the first two
// calls of a process, with 60 MB, glibc's malloc thresholds still move and each call takes
// 16k more page faults), then one timed round, so the Python script can alternate C++ and
// Python runs on a busy machine.
// Usage: lmgc-bench-python-overhead FILE [CODEC [THREADS]]; FILE holds the tensor's raw
// little-endian float32 values (tensor "g", 1-D, as bench_overhead.py saves it). Prints one
// JSON line.
#include "lmgc/lmgc.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <sys/mman.h>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE [CODEC [THREADS]]\n", argv[0]);
        return 2;
    }
    try {
        const auto values = lmgc::read_file(argv[1]);
        const lmgc::tensor_ref g{
            "g", lmgc::dtype::f32, {static_cast<std::int64_t>(values.size() / 4)}, values.data()};
        auto cp = lmgc::default_compress_params();
        cp.codec = argc > 2 ? argv[2] : "";
        cp.n_threads = argc > 3 ? std::stoi(argv[3]) : 0;
        auto dp = lmgc::default_decompress_params();
        dp.n_threads = cp.n_threads;
        // The .lmgc stream goes into a vector reserved as the extension sizes its bytes object,
        // decoding into an uninitialized buffer, as numpy.empty gives the Python side.
        std::vector<std::uint8_t> image;
        const lmgc::write_fn write = [&](std::span<const std::uint8_t> b) {
            image.insert(image.end(), b.begin(), b.end());
        };
        const auto compress = [&] {
            image.reserve(values.size() + values.size() / 64 + 4096 + 256);
            (void)lmgc::compress_tensors({&g, 1}, cp, write);
        };
        // numpy (>= 1.22) advises transparent huge pages for arrays of 4 MiB and more: the
        // same here, so that only the call differs.
        std::unique_ptr<std::uint8_t, decltype(&std::free)> out(nullptr, &std::free);
        const lmgc::tensor_allocator allocate = [&](const lmgc::tensor_info& t) {
            constexpr std::size_t huge = std::size_t{2} << 20;
            void* p = nullptr;
            if (::posix_memalign(&p, huge, std::max<std::size_t>(t.nbytes, 1)) != 0)
                throw std::bad_alloc();
            if (t.nbytes >= (std::size_t{4} << 20)) ::madvise(p, t.nbytes, MADV_HUGEPAGE);
            out.reset(static_cast<std::uint8_t*>(p));
            return p;
        };
        for (int warm_up = 0; warm_up < 2; ++warm_up) {
            compress();
            (void)lmgc::decompress_tensors(image, dp, allocate);
            image = {}; // freed before the clock starts, as the Python side frees its outputs
            out.reset();
        }
        using clock = std::chrono::steady_clock;
        // Wall time, and CPU time of the process (all threads): on a shared machine the CPU
        // time is the steadier measure.
        const auto t0 = clock::now();
        const auto c0 = std::clock();
        compress();
        const auto t1 = clock::now();
        const auto c1 = std::clock();
        const auto h = lmgc::decompress_tensors(image, dp, allocate);
        const auto t2 = clock::now();
        const auto c2 = std::clock();
        if (h.tensors.size() != 1 || h.tensors[0].nbytes != values.size() / 4 * 4 ||
            std::memcmp(out.get(), values.data(), h.tensors[0].nbytes) != 0) {
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
