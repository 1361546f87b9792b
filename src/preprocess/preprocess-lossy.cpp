// Sparsification, top-k and uniform quantization with exactly reproducible reconstruction.
// Kept-entry counts are integer functions of (n, P), the random mask comes from a seeded
// integer generator, and the top-k mask is stored (range coded, adaptive), so encoder and
// decoder agree bit for bit.
#include "preprocess/preprocess-lossy.hpp"

#include "coder/coder-range.hpp"
#include "common/common-error.hpp"
#include "common/common-float.hpp"
#include "common/common-random.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numeric>

namespace lmgc::detail {
namespace {

std::uint64_t kept_count(std::uint64_t n, std::uint32_t ppm) {
    return (n * ppm + 500000) / 1000000;
}

// Knuth's selection sampling (Algorithm S): exactly k of n positions, uniformly at random.
std::vector<std::uint8_t> random_mask(std::uint64_t n, std::uint64_t k, std::uint64_t seed,
                                      std::uint64_t tensor_index, std::size_t step_index) {
    std::uint64_t state = seed ^ (0x5851f42d4c957f2dull * (tensor_index + 1)) ^ (step_index << 56);
    std::vector<std::uint8_t> mask(n, 0);
    std::uint64_t chosen = 0;
    for (std::uint64_t i = 0; i < n && chosen < k; ++i) {
        if (mul_high64(splitmix64(state), n - i) < k - chosen) { // uniform draw in [0, n-i)
            mask[i] = 1;
            ++chosen;
        }
    }
    return mask;
}

// The k entries of largest magnitude; ties go to the lower index.
std::vector<std::uint8_t> topk_mask(const std::vector<double>& v, std::uint64_t k) {
    std::vector<std::uint64_t> idx(v.size());
    std::iota(idx.begin(), idx.end(), 0);
    auto before = [&](std::uint64_t a, std::uint64_t b) {
        const double ma = std::fabs(v[a]), mb = std::fabs(v[b]);
        return ma > mb || (ma == mb && a < b);
    };
    if (k < idx.size())
        std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
                         before);
    std::vector<std::uint8_t> mask(v.size(), 0);
    for (std::uint64_t i = 0; i < k && i < idx.size(); ++i) mask[idx[i]] = 1;
    return mask;
}

// The top-k mask, range coded with an adaptive order-1 bit model.
class mask_model {
  public:
    unsigned p1() const { return p_[prev_]; }
    void update(int bit) {
        auto& p = p_[prev_];
        if (bit)
            p += (65536 - p) >> 5;
        else
            p -= p >> 5;
        p = std::clamp<unsigned>(p, 64, 65536 - 64);
        prev_ = bit;
    }

  private:
    unsigned p_[2] = {32768, 32768};
    int prev_ = 0;
};

bytes encode_mask(const std::vector<std::uint8_t>& mask) {
    bytes out;
    range_encoder enc(out);
    mask_model m;
    for (const auto b : mask) {
        enc.encode_bit(m.p1(), b);
        m.update(b);
    }
    enc.finish();
    return out;
}

std::vector<std::uint8_t> decode_mask(byte_span code, std::uint64_t n, std::uint64_t k) {
    range_decoder dec(code);
    mask_model m;
    std::vector<std::uint8_t> mask(n);
    std::uint64_t ones = 0;
    for (auto& b : mask) {
        b = static_cast<std::uint8_t>(dec.decode_bit(m.p1()));
        m.update(b);
        ones += b;
    }
    LMGC_CHECK(ones == k && dec.overrun() <= 8, errc::corrupt, "preprocess: damaged top-k mask");
    return mask;
}

// Uniform quantizer over [lo, hi]; 1 bit keeps the sign and the mean magnitude.
struct quantizer {
    unsigned bits;
    double lo, hi;
    std::uint32_t levels() const { return (1u << bits) - 1; }
    double step() const { return levels() ? (hi - lo) / levels() : 0.0; }
    std::uint32_t code(double x) const {
        if (bits == 1) return x >= 0 ? 1u : 0u;
        if (hi <= lo) return 0;
        const double q = std::floor((x - lo) / step() + 0.5);
        return static_cast<std::uint32_t>(std::clamp(q, 0.0, static_cast<double>(levels())));
    }
    double value(std::uint32_t q) const {
        if (bits == 1) return q ? hi : -hi; // hi holds the mean magnitude
        return lo + static_cast<double>(q) * step();
    }
};

std::size_t code_bytes(unsigned bits) {
    return bits <= 8 ? 1 : 2;
}

} // namespace

std::vector<preprocess_step> parse_preprocess(std::string_view spec) {
    std::vector<preprocess_step> steps;
    std::size_t pos = 0;
    while (pos <= spec.size()) {
        const auto plus = spec.find('+', pos);
        const auto part = spec.substr(pos, plus == std::string_view::npos ? spec.npos : plus - pos);
        const auto colon = part.find(':');
        LMGC_CHECK(colon != std::string_view::npos, errc::usage, "--preprocess: '", part,
                   "' should be sparsify:P, topk:P or quantize:B");
        const auto name = part.substr(0, colon);
        const std::string arg(part.substr(colon + 1));
        preprocess_step s;
        if (name == "sparsify" || name == "topk") {
            double p = 0;
            const auto r = std::from_chars(arg.data(), arg.data() + arg.size(), p);
            LMGC_CHECK(r.ec == std::errc() && r.ptr == arg.data() + arg.size() && p > 0 && p <= 100,
                       errc::usage, "--preprocess: ", name,
                       " needs a percentage in (0, 100], got '", arg, "'");
            s.op =
                name == "sparsify" ? preprocess_step::kind::sparsify : preprocess_step::kind::topk;
            s.ppm = static_cast<std::uint32_t>(std::llround(p * 10000.0));
            LMGC_CHECK(s.ppm > 0, errc::usage, "--preprocess: ", name, " percentage too small");
        } else if (name == "quantize") {
            unsigned b = 0;
            const auto r = std::from_chars(arg.data(), arg.data() + arg.size(), b);
            LMGC_CHECK(r.ec == std::errc() && r.ptr == arg.data() + arg.size() && b >= 1 && b <= 16,
                       errc::usage, "--preprocess: quantize needs 1..16 bits, got '", arg, "'");
            s.op = preprocess_step::kind::quantize;
            s.bits = b;
        } else {
            LMGC_FAIL(errc::usage, "--preprocess: unknown step '", name,
                      "' (sparsify, topk, quantize)");
        }
        LMGC_CHECK(steps.empty() || steps.back().op != preprocess_step::kind::quantize, errc::usage,
                   "--preprocess: quantize must be the last step");
        steps.push_back(s);
        if (plus == std::string_view::npos) break;
        pos = plus + 1;
    }
    LMGC_CHECK(!steps.empty(), errc::usage, "--preprocess: empty");
    return steps;
}

dtype preprocess_stream_type(dtype type, const std::vector<preprocess_step>& steps) {
    if (!steps.empty() && steps.back().op == preprocess_step::kind::quantize)
        return code_bytes(steps.back().bits) == 1 ? dtype::u8 : dtype::u16;
    return type;
}

std::uint64_t preprocess_stream_bytes(dtype type, std::uint64_t n,
                                      const std::vector<preprocess_step>& steps) {
    for (const auto& s : steps) {
        if (s.op == preprocess_step::kind::quantize) {
            if (s.bits == 1) return (n + 7) / 8; // packed signs
            return n * code_bytes(s.bits);
        }
        n = kept_count(n, s.ppm);
    }
    return n * dtype_size(type);
}

preprocessed_tensor preprocess_forward(byte_span data, dtype type,
                                       const std::vector<preprocess_step>& steps,
                                       std::uint64_t seed, std::uint64_t tensor_index) {
    const std::size_t es = dtype_size(type);
    LMGC_ASSERT(dtype_is_float(type) && data.size() % es == 0);
    const std::uint64_t n = data.size() / es;
    // kept[i]: positions (into the original tensor) still present after each mask step.
    std::vector<std::uint64_t> kept(n);
    std::iota(kept.begin(), kept.end(), 0);
    std::vector<double> vals(n);
    for (std::uint64_t i = 0; i < n; ++i) vals[i] = load_float(data.data() + i * es, type);

    preprocessed_tensor out;
    out.stream_type = preprocess_stream_type(type, steps);
    byte_writer side(out.side_info);
    std::vector<double> recon_vals = vals; // lossy values at the kept positions
    bool quantized = false;
    for (std::size_t si = 0; si < steps.size(); ++si) {
        const auto& s = steps[si];
        std::vector<double> cur(kept.size());
        for (std::size_t j = 0; j < kept.size(); ++j) cur[j] = vals[kept[j]];
        if (s.op == preprocess_step::kind::quantize) {
            quantizer q{s.bits, 0, 0};
            for (const double x : cur)
                LMGC_CHECK(std::isfinite(x), errc::bad_input,
                           "quantize: tensor has non-finite values");
            if (s.bits == 1) {
                double sum = 0;
                for (const double x : cur) sum += std::fabs(x);
                q.hi = cur.empty() ? 0.0 : sum / static_cast<double>(cur.size());
            } else if (!cur.empty()) {
                q.lo = *std::min_element(cur.begin(), cur.end());
                q.hi = *std::max_element(cur.begin(), cur.end());
            }
            side.le<double>(q.lo);
            side.le<double>(q.hi);
            const std::size_t cb = code_bytes(s.bits);
            out.stream.assign(s.bits == 1 ? (cur.size() + 7) / 8 : cur.size() * cb, 0);
            for (std::size_t j = 0; j < cur.size(); ++j) {
                const auto c = q.code(cur[j]);
                if (s.bits == 1)
                    out.stream[j / 8] |= static_cast<std::uint8_t>(c << (j % 8));
                else if (cb == 1)
                    out.stream[j] = static_cast<std::uint8_t>(c);
                else
                    store_le<std::uint16_t>(out.stream.data() + 2 * j,
                                            static_cast<std::uint16_t>(c));
                recon_vals[kept[j]] = q.value(c);
            }
            quantized = true;
            continue;
        }
        const std::uint64_t k = kept_count(kept.size(), s.ppm);
        std::vector<std::uint8_t> mask;
        if (s.op == preprocess_step::kind::sparsify) {
            mask = random_mask(kept.size(), k, seed, tensor_index, si);
        } else {
            mask = topk_mask(cur, k);
            side.blob(encode_mask(mask));
        }
        std::vector<std::uint64_t> next;
        next.reserve(k);
        for (std::size_t j = 0; j < kept.size(); ++j)
            if (mask[j]) next.push_back(kept[j]);
        kept = std::move(next);
    }
    if (!quantized) {
        out.stream.resize(kept.size() * es);
        for (std::size_t j = 0; j < kept.size(); ++j)
            std::memcpy(out.stream.data() + j * es, data.data() + kept[j] * es, es);
    }
    // Reconstruction: zeros except the kept positions.
    out.reconstructed.assign(data.size(), 0);
    for (const auto i : kept) {
        if (quantized)
            store_float(out.reconstructed.data() + i * es, type, recon_vals[i]);
        else
            std::memcpy(out.reconstructed.data() + i * es, data.data() + i * es, es);
    }
    return out; // unkept entries stay all-zero bytes: +0.0 in every float format
}

bytes preprocess_inverse(byte_span stream, byte_span side_info, dtype type, std::uint64_t n,
                         const std::vector<preprocess_step>& steps, std::uint64_t seed,
                         std::uint64_t tensor_index) {
    const std::size_t es = dtype_size(type);
    LMGC_CHECK(dtype_is_float(type), errc::corrupt, "preprocess: applied to a non-float tensor");
    LMGC_CHECK(stream.size() == preprocess_stream_bytes(type, n, steps), errc::corrupt,
               "preprocess: representation has the wrong size");
    byte_reader side(side_info, errc::corrupt, "preprocess: side information truncated");
    std::vector<std::uint64_t> kept(n);
    std::iota(kept.begin(), kept.end(), 0);
    bytes out(n * es, 0);
    for (std::size_t si = 0; si < steps.size(); ++si) {
        const auto& s = steps[si];
        if (s.op == preprocess_step::kind::quantize) {
            quantizer q{s.bits, side.le<double>(), side.le<double>()};
            LMGC_CHECK(std::isfinite(q.lo) && std::isfinite(q.hi), errc::corrupt,
                       "preprocess: bad quantizer range");
            const std::size_t cb = code_bytes(s.bits);
            for (std::size_t j = 0; j < kept.size(); ++j) {
                std::uint32_t c;
                if (s.bits == 1)
                    c = (stream[j / 8] >> (j % 8)) & 1u;
                else if (cb == 1)
                    c = stream[j];
                else
                    c = load_le<std::uint16_t>(stream.data() + 2 * j);
                LMGC_CHECK(c <= q.levels() || s.bits == 1, errc::corrupt,
                           "preprocess: code out of range");
                store_float(out.data() + kept[j] * es, type, q.value(c));
            }
            LMGC_CHECK(side.at_end(), errc::corrupt, "preprocess: unexpected side information");
            return out;
        }
        const std::uint64_t k = kept_count(kept.size(), s.ppm);
        const auto mask = s.op == preprocess_step::kind::sparsify
                              ? random_mask(kept.size(), k, seed, tensor_index, si)
                              : decode_mask(side.blob(), kept.size(), k);
        std::vector<std::uint64_t> next;
        next.reserve(k);
        for (std::size_t j = 0; j < kept.size(); ++j)
            if (mask[j]) next.push_back(kept[j]);
        kept = std::move(next);
    }
    for (std::size_t j = 0; j < kept.size(); ++j)
        std::memcpy(out.data() + kept[j] * es, stream.data() + j * es, es);
    LMGC_CHECK(side.at_end(), errc::corrupt, "preprocess: unexpected side information");
    return out;
}

} // namespace lmgc::detail
