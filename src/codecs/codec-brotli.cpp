// "brotli": one Brotli stream (RFC 7932) at quality 11, window 2^22, as the Python binding's
// brotli.compress writes it.
#include "codecs/codec.hpp"

#include <brotli/decode.h>
#include <brotli/encode.h>

namespace lmgc::detail {
namespace {

class codec_brotli final : public codec_i {
  public:
    codec_brotli(int quality, int lgwin) : quality_(quality), lgwin_(lgwin) {}
    std::vector<codec_option> params() const override {
        return {{"quality", std::to_string(quality_)}, {"lgwin", std::to_string(lgwin_)}};
    }
    void encode(byte_span raw, const chunk_layout&, bytes& out) const override {
        std::size_t n = BrotliEncoderMaxCompressedSize(raw.size());
        LMGC_CHECK(n != 0, errc::usage, "brotli: chunk too large");
        const std::size_t base = out.size();
        out.resize(base + n);
        const bool ok = BrotliEncoderCompress(quality_, lgwin_, BROTLI_MODE_GENERIC, raw.size(),
                                              raw.data(), &n, out.data() + base);
        LMGC_CHECK(ok, errc::internal, "brotli: encoder failed");
        out.resize(base + n);
    }
    void decode(byte_span coded, const chunk_layout&, std::span<std::uint8_t> out) const override {
        // The streaming decoder, so that trailing bytes and a short output are both caught.
        auto* st = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
        LMGC_CHECK(st != nullptr, errc::internal, "brotli: cannot create a decoder");
        std::size_t avail_in = coded.size(), avail_out = out.size();
        const std::uint8_t* next_in = coded.data();
        std::uint8_t* next_out = out.data();
        const auto rc =
            BrotliDecoderDecompressStream(st, &avail_in, &next_in, &avail_out, &next_out, nullptr);
        const char* why = rc == BROTLI_DECODER_RESULT_ERROR
                              ? BrotliDecoderErrorString(BrotliDecoderGetErrorCode(st))
                          : rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT  ? "truncated"
                          : rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT ? "too long"
                          : avail_in || avail_out                         ? "wrong size"
                                                                          : nullptr;
        BrotliDecoderDestroyInstance(st);
        LMGC_CHECK(why == nullptr, errc::corrupt, "brotli: chunk does not decompress (", why, ")");
    }

  private:
    int quality_, lgwin_;
};

} // namespace

std::unique_ptr<codec_i> make_codec_brotli(const codec_config& cfg) {
    return std::make_unique<codec_brotli>(
        static_cast<int>(cfg.get_int("quality", BROTLI_MAX_QUALITY, 0, BROTLI_MAX_QUALITY)),
        static_cast<int>(cfg.get_int("lgwin", BROTLI_DEFAULT_WINDOW, BROTLI_MIN_WINDOW_BITS,
                                     BROTLI_MAX_WINDOW_BITS)));
}

} // namespace lmgc::detail
