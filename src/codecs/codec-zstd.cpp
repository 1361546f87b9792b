// "zstd": Zstandard at level 19; also the generic codec for non-float tensors.
#include "codecs/codec.hpp"

#include <zstd.h>

namespace lmgc::detail {
namespace {

class codec_zstd final : public codec_i {
  public:
    explicit codec_zstd(int level) : level_(level) {}
    std::vector<codec_option> params() const override {
        return {{"level", std::to_string(level_)}};
    }
    void encode(byte_span raw, const chunk_layout&, bytes& out) const override {
        const std::size_t bound = ZSTD_compressBound(raw.size());
        const std::size_t base = out.size();
        out.resize(base + bound);
        const std::size_t n =
            ZSTD_compress(out.data() + base, bound, raw.data(), raw.size(), level_);
        LMGC_CHECK(!ZSTD_isError(n), errc::internal, "zstd: ", ZSTD_getErrorName(n));
        out.resize(base + n);
    }
    void decode(byte_span coded, const chunk_layout&, std::span<std::uint8_t> out) const override {
        // One frame exactly: ZSTD_decompress would also take several, or trailing frames.
        LMGC_CHECK(ZSTD_findFrameCompressedSize(coded.data(), coded.size()) == coded.size(),
                   errc::corrupt, "zstd: chunk is not one whole frame");
        const std::size_t n = ZSTD_decompress(out.data(), out.size(), coded.data(), coded.size());
        LMGC_CHECK(!ZSTD_isError(n) && n == out.size(), errc::corrupt,
                   "zstd: chunk does not decompress (",
                   ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size", ")");
    }

  private:
    int level_;
};

} // namespace

std::unique_ptr<codec_i> make_codec_zstd(const codec_config& cfg) {
    return std::make_unique<codec_zstd>(
        static_cast<int>(cfg.get_int("level", 19, 1, ZSTD_maxCLevel())));
}

} // namespace lmgc::detail
