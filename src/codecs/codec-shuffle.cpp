// "shuffle-zstd", "shuffle-lzma": the byte planes of the chunk's elements transposed (byte 0
// of every element, then byte 1 of every element, ...; the shuffle filter of HDF5 and Blosc),
// then coded by "zstd" or "lzma" with their settings. Floats' sign/exponent bytes then sit
// together, which a byte-oriented coder models far better. Payload: the inner codec's payload
// of the shuffled bytes. A tail that is not a whole element (never made by lmgc) is kept last.
#include "codecs/codec.hpp"

namespace lmgc::detail {
namespace {

void shuffle(byte_span in, std::size_t elem, std::span<std::uint8_t> out) {
    const std::size_t n = in.size() / elem;
    for (std::size_t j = 0; j < elem; ++j)
        for (std::size_t i = 0; i < n; ++i) out[j * n + i] = in[i * elem + j];
    for (std::size_t k = n * elem; k < in.size(); ++k) out[k] = in[k];
}

void unshuffle(byte_span in, std::size_t elem, std::span<std::uint8_t> out) {
    const std::size_t n = in.size() / elem;
    for (std::size_t j = 0; j < elem; ++j)
        for (std::size_t i = 0; i < n; ++i) out[i * elem + j] = in[j * n + i];
    for (std::size_t k = n * elem; k < in.size(); ++k) out[k] = in[k];
}

class codec_shuffle final : public codec_i {
  public:
    explicit codec_shuffle(std::unique_ptr<codec_i> inner) : inner_(std::move(inner)) {}
    std::vector<codec_option> params() const override { return inner_->params(); }
    void encode(byte_span raw, const chunk_layout& layout, bytes& out) const override {
        bytes planes(raw.size());
        shuffle(raw, dtype_size(layout.type), planes);
        inner_->encode(planes, layout, out);
    }
    void decode(byte_span coded, const chunk_layout& layout,
                std::span<std::uint8_t> out) const override {
        bytes planes(out.size());
        inner_->decode(coded, layout, planes);
        unshuffle(planes, dtype_size(layout.type), out);
    }
    bool parallel() const override { return inner_->parallel(); }

  private:
    std::unique_ptr<codec_i> inner_;
};

} // namespace

std::unique_ptr<codec_i> make_codec_shuffle_zstd(const codec_config& cfg) {
    return std::make_unique<codec_shuffle>(find_codec("zstd").make(cfg));
}

std::unique_ptr<codec_i> make_codec_shuffle_lzma(const codec_config& cfg) {
    return std::make_unique<codec_shuffle>(find_codec("lzma").make(cfg));
}

} // namespace lmgc::detail
