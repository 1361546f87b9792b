// Helpers shared by the files of the bench stage (src/bench/) only.
#pragma once

#include "lmgc/research.hpp"

#include <chrono>
#include <string>

namespace lmgc::detail {

using bench_clock = std::chrono::steady_clock;

inline double seconds_since(bench_clock::time_point t0) {
    return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

// "cifar10" -> "CIFAR-10", "convnet" -> "ConvNet"; unknown names as they are.
std::string bench_dataset_label(const std::string& dataset);
std::string bench_arch_label(const std::string& arch);

// "unchunked", "512 B chunks", "default (4 MiB)" for a model prior in its own chunking.
std::string bench_mode_name(std::uint64_t chunk_bytes, bool own_chunking);

// "41.26 ± 0.80" (mean only when there was one repeat).
std::string bench_format_mean_std(const experimental::mean_std& v, int decimals);

} // namespace lmgc::detail
