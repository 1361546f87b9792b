// Integer range coder (LZMA-style carry handling, 64-bit state, 56-bit range). Encodes
// symbols against cumulative frequency tables with totals up to 2^32, single bits against
// 16-bit probabilities, and raw bits. No floating point. Used by the model-driven codecs.
#pragma once

#include "common/common-bytes.hpp"
#include "common/common-cdf.hpp"

#include <cstdint>

namespace lmgc::detail {

// Probabilities for bits are P(bit = 1) in units of 2^-16, valid range [1, 65535].
constexpr unsigned range_prob_bits = 16;

// Copyable (a copy writes to the same output): a coding loop may work on a local copy, which
// the compiler handles better than an encoder behind a pointer, and assign it back.
class range_encoder {
  public:
    explicit range_encoder(bytes& out) : out_(&out) {}

    // Codes a symbol occupying [low, low + freq) of total. Requires freq >= 1,
    // low + freq <= total <= 2^32.
    void encode(std::uint64_t low, std::uint64_t freq, std::uint64_t total) {
        const std::uint64_t r = range_ / total;
        low_ += r * low;
        range_ = r * freq;
        normalize();
    }
    void encode(const cdf_view& cdf, std::size_t symbol) {
        encode(cdf.low(symbol), cdf.freq(symbol), cdf.total());
    }
    // Codes one bit with P(bit = 1) = p1 / 2^16.
    void encode_bit(unsigned p1, int bit) {
        const std::uint64_t bound = (range_ >> range_prob_bits) * p1;
        if (bit) {
            range_ = bound;
        } else {
            low_ += bound;
            range_ -= bound;
        }
        normalize();
    }
    // Codes the low n_bits (1..24) of value, each bit with probability 1/2.
    void encode_bits(std::uint32_t value, unsigned n_bits) {
        const std::uint64_t r = range_ >> n_bits;
        low_ += r * value;
        range_ = r;
        normalize();
    }
    // Writes the final bytes. The encoder must not be used afterwards.
    void finish();

  private:
    static constexpr std::uint64_t top = std::uint64_t{1} << 56;
    static constexpr std::uint64_t bottom = std::uint64_t{1} << 48;

    void normalize() {
        while (range_ < bottom) {
            range_ <<= 8;
            shift_low();
        }
    }
    void shift_low();

    bytes* out_;
    std::uint64_t low_ = 0; // up to 57 bits: bit 56 is a pending carry
    std::uint64_t range_ = top - 1;
    std::uint8_t cache_ = 0;
    std::uint64_t cache_size_ = 1;
    bool skip_first_ = true; // the first byte is always 0 and is not written
    std::size_t start_ = out_->size();
};

class range_decoder {
  public:
    // Input past the end reads as zero bytes (the encoder trims trailing zeros).
    explicit range_decoder(byte_span in);

    // Symbol decoding against a table, by binary search over cum.
    std::size_t decode(const cdf_view& cdf);
    // Two-step decoding for callers with their own search: target() gives a value in
    // [0, total); the caller finds the symbol s with low(s) <= target < low(s) + freq(s)
    // and calls consume(low(s), freq(s)).
    std::uint64_t target(std::uint64_t total) {
        step_ = range_ / total;
        const std::uint64_t t = code_ / step_;
        return t < total ? t : total - 1; // only corrupt input gets here
    }
    void consume(std::uint64_t low, std::uint64_t freq) {
        code_ -= step_ * low;
        range_ = step_ * freq;
        normalize();
        clamp();
    }
    int decode_bit(unsigned p1) {
        const std::uint64_t bound = (range_ >> range_prob_bits) * p1;
        int bit;
        if (code_ < bound) {
            range_ = bound;
            bit = 1;
        } else {
            code_ -= bound;
            range_ -= bound;
            bit = 0;
        }
        normalize();
        return bit;
    }
    std::uint32_t decode_bits(unsigned n_bits) {
        const std::uint64_t r = range_ >> n_bits;
        std::uint64_t v = code_ / r;
        const std::uint64_t max = (std::uint64_t{1} << n_bits) - 1;
        if (v > max) v = max; // only corrupt input gets here
        code_ -= r * v;
        range_ = r;
        normalize();
        clamp();
        return static_cast<std::uint32_t>(v);
    }
    // How many bytes past the end of the input were read (as zeros). A well-formed stream
    // never needs more than 7; more means the input was truncated or is not a range code.
    std::size_t overrun() const { return pos_ > in_.size() ? pos_ - in_.size() : 0; }

  private:
    static constexpr std::uint64_t top = std::uint64_t{1} << 56;
    static constexpr std::uint64_t bottom = std::uint64_t{1} << 48;

    std::uint8_t next_byte() {
        const std::uint8_t b = pos_ < in_.size() ? in_[pos_] : 0;
        ++pos_;
        return b;
    }
    // Keeps code < range if it was (so decode_bit, whatever its input, needs no clamp).
    void normalize() {
        while (range_ < bottom) {
            range_ <<= 8;
            code_ = (code_ << 8) | next_byte();
        }
    }
    // A consistent stream keeps code < range; corrupt input may not after a symbol or raw
    // bits were clamped, and would then decode garbage (caught by the chunk checksum), never
    // read out of bounds.
    void clamp() {
        if (code_ >= range_) code_ = range_ - 1;
    }

    byte_span in_;
    std::size_t pos_ = 0;
    std::uint64_t code_ = 0;
    std::uint64_t range_ = top - 1;
    std::uint64_t step_ = 1;
};

} // namespace lmgc::detail
