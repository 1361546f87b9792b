// Fuzz target for the range coder. The first byte picks the mode:
//  - even: the input describes a frequency table (2..262144 symbols, totals up to 2^32),
//    a symbol sequence and interleaved binary and raw-bit codings; they are encoded,
//    decoded, and must come back identical;
//  - odd: the input is treated as a coded stream and decoded against such tables: any
//    bytes must decode to in-range symbols without reading out of bounds.
#include "coder/coder-range.hpp"
#include "fuzz-common.hpp"

#include <algorithm>

using namespace lmgc::detail;

namespace {

// Reads the fuzz input as a stream of numbers; zeros once exhausted.
class input {
  public:
    input(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
    std::uint8_t u8() { return pos_ < n_ ? d_[pos_++] : 0; }
    std::uint32_t u32() {
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) v = (v << 8) | u8();
        return v;
    }
    bool done() const { return pos_ >= n_; }
    lmgc::detail::byte_span rest() const {
        return {d_ + std::min(pos_, n_), n_ - std::min(pos_, n_)};
    }

  private:
    const std::uint8_t* d_;
    std::size_t n_, pos_ = 0;
};

struct op {
    int kind; // 0 symbol, 1 bit, 2 raw bits
    std::uint32_t value, param;
};

std::vector<std::uint64_t> make_table(input& in) {
    const std::uint8_t shape = in.u8();
    std::size_t n = 2 + in.u8();
    if ((shape & 7) == 7) n = 2 + (in.u32() % 262143); // up to 262,144 symbols, 1 in 8
    std::vector<std::uint32_t> freqs(n);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t f = i < 512 ? in.u8() : 1;
        if (shape & 2) f = f % 3 == 0 ? 0 : f; // zero-frequency symbols that never occur
        freqs[i] = f;
        total += f;
    }
    if (total == 0) freqs[0] = 1, total = 1;
    // Scale towards the 2^32 limit on the total (bits 3..7 of shape ask for up to 2^31x).
    unsigned shift = shape >> 3;
    // A lone symbol scaled to exactly 2^32 would wrap its uint32 frequency to 0.
    while (shift > 0 && (total << shift) > cdf_max_total - 1) --shift;
    for (auto& f : freqs) f <<= shift;
    return cdf_from_freqs(freqs);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    const std::uint8_t mode = in.u8();
    const auto cum = make_table(in);
    const cdf_view cdf{cum};
    const std::size_t n = cdf.n_symbols();

    if (mode & 1) {
        // Garbage into the decoder.
        range_decoder dec(in.rest());
        for (int i = 0; i < 500; ++i) {
            const auto s = dec.decode(cdf);
            LMGC_FUZZ_REQUIRE(s < n && cdf.freq(s) > 0);
            LMGC_FUZZ_REQUIRE(dec.decode_bit(1 + (i * 7919) % 65535) <= 1);
            LMGC_FUZZ_REQUIRE(dec.decode_bits(1 + i % 24) < (1u << (1 + i % 24)));
        }
        return 0;
    }

    // Round trip.
    std::vector<std::size_t> nonzero;
    for (std::size_t s = 0; s < n && nonzero.size() < 4096; ++s)
        if (cdf.freq(s) > 0) nonzero.push_back(s);
    if (nonzero.empty()) return 0;
    std::vector<op> ops;
    while (!in.done() && ops.size() < 20000) {
        const std::uint8_t k = in.u8();
        if (k < 200) {
            const std::size_t s = (static_cast<std::size_t>(k) << 8 | in.u8()) % nonzero.size();
            ops.push_back({0, static_cast<std::uint32_t>(nonzero[s]), 0});
        } else if (k < 240) {
            const unsigned p1 = 1 + (static_cast<unsigned>(in.u8()) << 8 | in.u8()) % 65535;
            ops.push_back({1, static_cast<std::uint32_t>(k & 1), p1});
        } else {
            const unsigned nb = 1 + in.u8() % 24;
            ops.push_back({2, in.u32() & ((1u << nb) - 1), nb});
        }
    }
    bytes out = {0xAB}; // the encoder appends: existing bytes must stay untouched
    range_encoder enc(out);
    for (const auto& o : ops) {
        if (o.kind == 0)
            enc.encode(cdf, o.value);
        else if (o.kind == 1)
            enc.encode_bit(o.param, static_cast<int>(o.value));
        else
            enc.encode_bits(o.value, o.param);
    }
    enc.finish();
    LMGC_FUZZ_REQUIRE(out[0] == 0xAB);
    range_decoder dec(byte_span(out).subspan(1));
    for (const auto& o : ops) {
        std::uint32_t got = 0;
        if (o.kind == 0)
            got = static_cast<std::uint32_t>(dec.decode(cdf));
        else if (o.kind == 1)
            got = static_cast<std::uint32_t>(dec.decode_bit(o.param));
        else
            got = dec.decode_bits(o.param);
        LMGC_FUZZ_REQUIRE(got == o.value);
    }
    LMGC_FUZZ_REQUIRE(dec.overrun() <= 7);
    return 0;
}
