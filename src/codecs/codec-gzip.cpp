// "gzip": zlib deflate at level 9 (the paper's GZIP baseline). Raw deflate in a zlib wrapper;
// the container's checksum covers integrity, zlib's adler32 is kept for compatibility.
#include "codecs/codec.hpp"

#include <zlib.h>

#include <limits>

namespace lmgc::detail {
namespace {

class codec_gzip final : public codec_i {
  public:
    explicit codec_gzip(int level) : level_(level) {}
    std::vector<codec_option> params() const override {
        return {{"level", std::to_string(level_)}};
    }
    void encode(byte_span raw, const chunk_layout&, bytes& out) const override {
        LMGC_CHECK(raw.size() <= std::numeric_limits<uLong>::max(), errc::usage,
                   "gzip: chunk too large");
        uLongf bound = compressBound(static_cast<uLong>(raw.size()));
        const std::size_t base = out.size();
        out.resize(base + bound);
        const int rc = compress2(out.data() + base, &bound, raw.data(),
                                 static_cast<uLong>(raw.size()), level_);
        LMGC_CHECK(rc == Z_OK, errc::internal, "gzip: compress2 failed (", rc, ")");
        out.resize(base + bound);
    }
    void decode(byte_span coded, const chunk_layout&, std::span<std::uint8_t> out) const override {
        uLongf n = static_cast<uLongf>(out.size());
        uLong used = static_cast<uLong>(coded.size());
        // uncompress2 needs a non-null destination even for empty output.
        std::uint8_t dummy = 0;
        const int rc = uncompress2(out.empty() ? &dummy : out.data(), &n, coded.data(), &used);
        LMGC_CHECK(rc == Z_OK && n == out.size(), errc::corrupt,
                   "gzip: chunk does not decompress (", zError(rc), ")");
        LMGC_CHECK(used == coded.size(), errc::corrupt, "gzip: ", coded.size() - used,
                   " bytes after the stream");
    }

  private:
    int level_;
};

} // namespace

std::unique_ptr<codec_i> make_codec_gzip(const codec_config& cfg) {
    return std::make_unique<codec_gzip>(static_cast<int>(cfg.get_int("level", 9, 1, 9)));
}

} // namespace lmgc::detail
