// Frequency-table helpers.
#include "common/common-cdf.hpp"

#include "common/common-error.hpp"

namespace lmgc::detail {

std::vector<std::uint64_t> cdf_from_freqs(std::span<const std::uint32_t> freqs) {
    std::vector<std::uint64_t> cum(freqs.size() + 1, 0);
    for (std::size_t i = 0; i < freqs.size(); ++i) cum[i + 1] = cum[i] + freqs[i];
    LMGC_CHECK(cum.back() <= cdf_max_total, errc::internal, "frequency total ", cum.back(),
               " exceeds 2^32");
    LMGC_CHECK(cum.back() > 0, errc::internal, "frequency table with no nonzero frequency");
    return cum;
}

} // namespace lmgc::detail
