// Logits to integer frequencies: the weight table exp(-d/256) made with integer arithmetic
// only, and the plain C++ reference of the procedure in model-llm.hpp. The device path in
// model-llm-torch.cpp runs the same integer steps with torch ops; tests check both agree.
#include "model/model-llm.hpp"

#include "common/common-error.hpp"

#include <array>
#include <cmath>

namespace lmgc::detail {
namespace {

__extension__ typedef unsigned __int128 u128;

// exp(-1/256) in Q0.62 by its Taylor series, every term an exact integer operation, so the
// table is the same on every machine (a libm exp() could differ in the last bit).
std::uint64_t exp_minus_1_over_256_q62() {
    const std::uint64_t one = std::uint64_t{1} << 62;
    std::uint64_t sum = one, term = one;
    for (std::uint64_t k = 1; k < 12; ++k) {
        term = term / (256 * k);
        sum = (k & 1) ? sum - term : sum + term;
    }
    return sum;
}

struct exp_table {
    std::array<std::int64_t, llm_freq_d_max + 1> w{};
    exp_table() {
        const std::uint64_t e = exp_minus_1_over_256_q62();
        std::uint64_t p = std::uint64_t{1} << 62; // exp(-d/256) in Q0.62
        for (std::int64_t d = 0; d <= llm_freq_d_max; ++d) {
            w[static_cast<std::size_t>(d)] =
                static_cast<std::int64_t>((p + (std::uint64_t{1} << 31)) >> 32);
            p = static_cast<std::uint64_t>((static_cast<u128>(p) * e + (u128{1} << 61)) >> 62);
        }
    }
};

} // namespace

std::span<const std::int64_t> llm_exp_table() {
    static const exp_table t;
    return t.w;
}

void llm_cdf_from_logits(std::span<const float> logits, std::span<std::uint64_t> cum) {
    const std::size_t n = logits.size();
    LMGC_CHECK(n >= 1 && n <= llm_freq_max_symbols && cum.size() == n + 1, errc::internal,
               "llm_cdf_from_logits: bad sizes");
    const auto table = llm_exp_table();
    constexpr float lim = 1048576.0f; // 2^20
    std::vector<std::int64_t> q(n);
    std::int64_t m = INT64_MIN;
    for (std::size_t i = 0; i < n; ++i) {
        float x = logits[i];
        if (std::isnan(x)) x = -lim;
        x = x < -lim ? -lim : (x > lim ? lim : x);
        // x * 256 is exact; nearbyint rounds half to even in the default rounding mode.
        q[i] = static_cast<std::int64_t>(std::nearbyint(x * 256.0f));
        m = std::max(m, q[i]);
    }
    std::int64_t total_w = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t d = std::min(m - q[i], llm_freq_d_max);
        q[i] = table[static_cast<std::size_t>(d)];
        total_w += q[i];
    }
    const auto avail = static_cast<std::int64_t>(llm_freq_total - n);
    const std::int64_t k = (avail << 32) / total_w;
    std::int64_t c = 0;
    for (std::size_t s = 0; s < n; ++s) {
        cum[s] = static_cast<std::uint64_t>(static_cast<std::int64_t>(s) + ((c * k) >> 32));
        c += q[s];
    }
    cum[n] = llm_freq_total;
}

} // namespace lmgc::detail
