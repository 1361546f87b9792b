// Finds the geometry of the values in a chunk for the cm model: kernel size, kernel row
// width and row stride per segment, from tensor shapes where the file has them, and for
// flat data (the paper's layout: all layers in one vector) from the data itself.
// Encoder only: the result travels in the payload, so this may change without breaking
// old files.
#include "model/model-ctxmix.hpp"

#include <algorithm>

namespace lmgc::detail::ctxmix {
namespace {

// Values per detection block: a geometry is chosen for each.
constexpr std::size_t block_values = 4096;
// Flat tensors shorter than this keep the plain (kernel-less) geometry.
constexpr std::size_t detect_min_values = 2 * block_values;

// Candidate kernels (K = w * w) for flat data: 3x3 (most convolutions), 5x5, 7x7; 1 = none.
constexpr std::uint32_t kernel_widths[] = {3, 5, 7};

// Per value: log-magnitude class (0 = zero, else 1 + exponent) and sign, packed.
template <typename U>
std::vector<std::uint16_t> features(std::span<const U> values, unsigned exp_bits,
                                    unsigned man_bits) {
    std::vector<std::uint16_t> f(values.size());
    const U abs_mask = static_cast<U>((U{1} << (exp_bits + man_bits)) - 1);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const U v = values[i];
        const unsigned l =
            (v & abs_mask) ? static_cast<unsigned>((v >> man_bits) & ((U{1} << exp_bits) - 1)) + 1
                           : 0;
        f[i] =
            static_cast<std::uint16_t>(l << 1 | static_cast<unsigned>(v >> (exp_bits + man_bits)));
    }
    return f;
}

// How unlike two values are: zero vs nonzero, else sign disagreement and exponent distance.
// (Branch-free: the outcomes are unpredictable.)
inline int dist(std::uint16_t a, std::uint16_t b) {
    const int la = a >> 1, lb = b >> 1;
    const int d = la - lb, de = d < 0 ? -d : d;
    const int nonzero = ((a ^ b) & 1) * 2 + (de < 4 ? de : 4);
    const bool za = la == 0, zb = lb == 0;
    return za != zb ? 6 : (za ? 0 : nonzero);
}

struct geometry {
    std::uint32_t kernel = 1, width = 1, origin = 0; // pos(i) = (i - origin) mod kernel
    bool operator==(const geometry&) const = default;
};

// Chooses a geometry per block of values[b, e) (absolute chunk indices) and appends segments.
void detect(std::span<const std::uint16_t> f, std::size_t b, std::size_t e,
            std::vector<segment>& out) {
    geometry cur;
    bool have_cur = false;
    for (std::size_t blk = b; blk < e; blk += block_values) {
        const std::size_t end = std::min(e, blk + block_values);
        // Gains over an unrelated pair (lag 97) of using i-1 as the left neighbour and
        // i-w as the one above, accumulated by position modulo each kernel size.
        std::int64_t base_sum = 0, base_n = 0, flat_gain = 0;
        std::int64_t left[3][49] = {}, up[3][49] = {};
        for (std::size_t i = std::max(blk, b + 97); i < end; i += 4) {
            base_sum += dist(f[i], f[i - 97]);
            ++base_n;
        }
        if (base_n < 32) {
            if (!have_cur) out.push_back(segment{blk, 1, 1, 0, 0}), have_cur = true, cur = {};
            continue;
        }
        // Gains are kept in units of 1/64 to compare with the base mean.
        const std::int64_t base64 = base_sum * 64 / base_n;
        const std::size_t from = std::max(blk, b + 49);
        std::uint32_t r9 = static_cast<std::uint32_t>(from % 9),
                      r25 = static_cast<std::uint32_t>(from % 25),
                      r49 = static_cast<std::uint32_t>(from % 49);
        // Every other value: half the time, and plenty of samples per block.
        for (std::size_t i = from; i < end; i += 4) {
            const std::int64_t d1 = base64 - 64 * dist(f[i], f[i - 1]);
            flat_gain += d1;
            left[0][r9] += d1;
            left[1][r25] += d1;
            left[2][r49] += d1;
            up[0][r9] += base64 - 64 * dist(f[i], f[i - 3]);
            up[1][r25] += base64 - 64 * dist(f[i], f[i - 5]);
            up[2][r49] += base64 - 64 * dist(f[i], f[i - 7]);
            if ((r9 += 4) >= 9) r9 -= 9;
            if ((r25 += 4) >= 25) r25 -= 25;
            if ((r49 += 4) >= 49) r49 -= 49;
        }
        geometry best;
        std::int64_t best_gain = flat_gain, cur_gain = flat_gain;
        for (int k = 0; k < 3; ++k) {
            const std::uint32_t w = kernel_widths[k], kk = w * w;
            std::int64_t all = 0;
            for (std::uint32_t r = 0; r < kk; ++r) all += left[k][r] + up[k][r];
            for (std::uint32_t o = 0; o < kk; ++o) {
                // Residue r sits at kernel position (r - o) mod kk: all of them, less the
                // left gains at the start of a kernel row and the up gains in the top row.
                std::int64_t g = all;
                for (std::uint32_t j = 0; j < w; ++j) {
                    g -= left[k][(o + j * w) % kk];
                    g -= up[k][(o + j) % kk];
                }
                const geometry cand{kk, w, o};
                if (have_cur && cand == cur) cur_gain = g;
                if (g > best_gain) best_gain = g, best = cand;
            }
        }
        // Hysteresis: switching costs a segment record and the model's warm-up.
        const std::int64_t margin = base64 * static_cast<std::int64_t>(end - blk) / 32;
        if (have_cur && (cur == best || best_gain - cur_gain < margin)) continue;
        cur = best;
        have_cur = true;
        segment s;
        s.start = blk;
        s.kernel = best.kernel;
        s.width = best.width;
        s.phase = static_cast<std::uint32_t>((blk + best.kernel - best.origin % best.kernel) %
                                             best.kernel);
        out.push_back(s);
    }
}

} // namespace

const char* segments_invalid(std::span<const segment> segs, std::uint64_t n) {
    if (segs.empty()) return "no segments";
    if (segs.size() > n + 1) return "more segments than values";
    for (std::size_t k = 0; k < segs.size(); ++k) {
        const segment& s = segs[k];
        if (k == 0 ? s.start != 0 : s.start <= segs[k - 1].start) return "bad segment start";
        if (s.start > n) return "segment starts past the chunk";
        if (s.kernel < 1 || s.kernel > segment_kernel_max || s.width < 1 || s.width > s.kernel ||
            s.kernel % s.width != 0 || s.phase >= s.kernel || (s.row != 0 && s.row % s.kernel != 0))
            return "bad segment geometry";
    }
    return nullptr;
}

template <typename U>
std::vector<segment> find_segments(std::span<const U> values, unsigned exp_bits, unsigned man_bits,
                                   std::span<const tensor_hint> hints) {
    std::vector<segment> out;
    std::vector<std::uint16_t> feats; // computed on first use
    const auto n = static_cast<std::int64_t>(values.size());
    // With no tensors described (raw data), the chunk is one flat tensor.
    std::vector<tensor_hint> flat;
    if (hints.empty()) {
        flat.push_back(tensor_hint{0, values.size(), {}});
        hints = flat;
    }
    for (const auto& h : hints) {
        const std::int64_t b = h.start < 0 ? 0 : h.start;
        const std::int64_t e = std::min(n, h.start + static_cast<std::int64_t>(h.n_values));
        if (b >= n || e <= b) continue;
        while (!out.empty() && out.back().start >= static_cast<std::uint64_t>(b)) out.pop_back();
        segment s;
        s.start = static_cast<std::uint64_t>(b);
        bool shaped = false;
        if (h.shape.size() >= 2) {
            std::uint64_t k = 1;
            bool ok = true;
            for (std::size_t d = 2; d < h.shape.size(); ++d) {
                if (h.shape[d] <= 0) ok = false;
                k *= static_cast<std::uint64_t>(std::max<std::int64_t>(h.shape[d], 1));
            }
            const std::uint64_t w =
                h.shape.size() >= 3 ? static_cast<std::uint64_t>(h.shape.back()) : 1;
            if (ok && h.shape[1] > 0 && k >= 1 && k <= segment_kernel_max && w >= 1 && k % w == 0) {
                s.kernel = static_cast<std::uint32_t>(k);
                s.width = static_cast<std::uint32_t>(w);
                s.phase = static_cast<std::uint32_t>(static_cast<std::uint64_t>(b - h.start) % k);
                s.row = k * static_cast<std::uint64_t>(h.shape[1]);
                shaped = true;
            }
        }
        if (!shaped && static_cast<std::uint64_t>(e - b) >= detect_min_values) {
            if (feats.empty()) feats = features<U>(values, exp_bits, man_bits);
            detect(feats, static_cast<std::size_t>(b), static_cast<std::size_t>(e), out);
            continue;
        }
        out.push_back(s);
    }
    if (out.empty() || out.front().start != 0) out.insert(out.begin(), segment{});
    return out;
}

template std::vector<segment> find_segments<std::uint16_t>(std::span<const std::uint16_t>, unsigned,
                                                           unsigned, std::span<const tensor_hint>);
template std::vector<segment> find_segments<std::uint32_t>(std::span<const std::uint32_t>, unsigned,
                                                           unsigned, std::span<const tensor_hint>);
template std::vector<segment> find_segments<std::uint64_t>(std::span<const std::uint64_t>, unsigned,
                                                           unsigned, std::span<const tensor_hint>);

} // namespace lmgc::detail::ctxmix
