// Integer cumulative frequency tables: the only thing a probability model hands the coder.
// Keeping this type in common/ lets model/ and coder/ stay independent. Any file may include it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lmgc::detail {

// cum has n+1 entries: cum[0] = 0, cum[s+1] - cum[s] = frequency of symbol s (>= 1 for every
// symbol that may occur), cum[n] = total <= 2^32.
struct cdf_view {
    std::span<const std::uint64_t> cum;
    std::size_t n_symbols() const { return cum.size() - 1; }
    std::uint64_t total() const { return cum.back(); }
    std::uint64_t low(std::size_t s) const { return cum[s]; }
    std::uint64_t freq(std::size_t s) const { return cum[s + 1] - cum[s]; }
};

constexpr std::uint64_t cdf_max_total = std::uint64_t{1} << 32;

// Builds cum from frequencies. Throws lmgc::error(internal) if the total exceeds 2^32.
std::vector<std::uint64_t> cdf_from_freqs(std::span<const std::uint32_t> freqs);

} // namespace lmgc::detail
