// Finds the geometry of the values in a chunk for the cm model: kernel size, kernel row
// width and row stride per segment, from tensor shapes or, for flat data, from the data.
// Encoder only: the result travels in the payload.
#include "model/model-ctxmix.hpp"

namespace lmgc::detail::ctxmix {

template <typename U>
std::vector<segment> find_segments(std::span<const U> values, unsigned, unsigned,
                                   std::span<const tensor_hint> hints) {
    std::vector<segment> out;
    const auto n = static_cast<std::int64_t>(values.size());
    for (const auto& h : hints) {
        const std::int64_t b = h.start < 0 ? 0 : h.start;
        const std::int64_t e = h.start + static_cast<std::int64_t>(h.n_values);
        if (b >= n || e <= b) continue;
        segment s;
        s.start = static_cast<std::uint64_t>(b);
        if (h.shape.size() >= 2) {
            std::uint64_t k = 1;
            for (std::size_t d = 2; d < h.shape.size(); ++d) k *= static_cast<std::uint64_t>(h.shape[d]);
            const std::uint64_t w = h.shape.size() >= 3 ? static_cast<std::uint64_t>(h.shape.back()) : 1;
            if (k >= 1 && k <= segment_kernel_max && w >= 1 && k % w == 0) {
                s.kernel = static_cast<std::uint32_t>(k);
                s.width = static_cast<std::uint32_t>(w);
                s.phase = static_cast<std::uint32_t>(static_cast<std::uint64_t>(b - h.start) % k);
                s.row = k * static_cast<std::uint64_t>(h.shape[1]);
            }
        }
        if (!out.empty() && out.back().start == s.start) out.pop_back();
        out.push_back(s);
    }
    if (out.empty() || out.front().start != 0) out.insert(out.begin(), segment{});
    return out;
}

template std::vector<segment> find_segments<std::uint16_t>(std::span<const std::uint16_t>, unsigned, unsigned, std::span<const tensor_hint>);
template std::vector<segment> find_segments<std::uint32_t>(std::span<const std::uint32_t>, unsigned, unsigned, std::span<const tensor_hint>);
template std::vector<segment> find_segments<std::uint64_t>(std::span<const std::uint64_t>, unsigned, unsigned, std::span<const tensor_hint>);

} // namespace lmgc::detail::ctxmix
