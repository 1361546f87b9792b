// Range coder: carry propagation and the short flush.
#include "coder/coder-range.hpp"

#include <algorithm>

namespace lmgc::detail {

void range_encoder::shift_low() {
    // Emit the top byte of the 56-bit window unless it may still change by a carry
    // (0xFF with no carry yet): then count it in cache_size_ and decide later.
    if ((low_ & (top - 1)) < (std::uint64_t{0xFF} << 48) || (low_ >> 56) != 0) {
        const std::uint8_t carry = static_cast<std::uint8_t>(low_ >> 56);
        std::uint8_t b = cache_;
        do {
            if (skip_first_)
                skip_first_ = false;
            else
                out_->push_back(static_cast<std::uint8_t>(b + carry));
            b = 0xFF;
        } while (--cache_size_ != 0);
        cache_ = static_cast<std::uint8_t>(low_ >> 48);
    }
    ++cache_size_;
    low_ = (low_ & (bottom - 1)) << 8;
}

void range_encoder::finish() {
    // Any value in [low, low + range) decodes correctly. Pick the one with the most
    // trailing zero bits, emit it, and drop trailing zero bytes: the decoder reads
    // zeros past the end.
    for (int k = 56; k >= 0; --k) {
        const std::uint64_t mask = (std::uint64_t{1} << k) - 1;
        const std::uint64_t v = (low_ + mask) & ~mask;
        if (v - low_ < range_) {
            low_ = v;
            break;
        }
    }
    for (int i = 0; i < 8; ++i) shift_low();
    // The decoder reads exactly as many bytes as were written here; dropping at most 7
    // keeps its documented bound overrun() <= 7 (more trailing zeros happen: carries turn
    // pending 0xFF runs into zeros, and data bytes can be zero).
    for (int i = 0; i < 7 && out_->size() > start_ && out_->back() == 0; ++i) out_->pop_back();
}

range_decoder::range_decoder(byte_span in) : in_(in) {
    for (int i = 0; i < 7; ++i) code_ = (code_ << 8) | next_byte();
    if (code_ >= range_) code_ = range_ - 1;
}

std::size_t range_decoder::decode(const cdf_view& cdf) {
    const std::uint64_t t = target(cdf.total());
    // Largest s with cum[s] <= t.
    const auto it = std::upper_bound(cdf.cum.begin(), cdf.cum.end(), t);
    std::size_t s = static_cast<std::size_t>(it - cdf.cum.begin()) - 1;
    // Zero-frequency symbols share their cum value with the next one; upper_bound already
    // skips them. Clamp for corrupt input where t hits the very end.
    if (s >= cdf.n_symbols()) s = cdf.n_symbols() - 1;
    consume(cdf.low(s), cdf.freq(s));
    return s;
}

} // namespace lmgc::detail
