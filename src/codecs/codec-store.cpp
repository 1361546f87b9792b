// "store": copies bytes unchanged. Always built; the fallback when nothing else is.
#include "codecs/codec.hpp"

#include <cstring>

namespace lmgc::detail {
namespace {

class codec_store final : public codec_i {
  public:
    void encode(byte_span raw, const chunk_layout&, bytes& out) const override {
        out.insert(out.end(), raw.begin(), raw.end());
    }
    void decode(byte_span coded, const chunk_layout&, std::span<std::uint8_t> out) const override {
        LMGC_CHECK(coded.size() == out.size(), errc::corrupt, "store: chunk has ", coded.size(),
                   " bytes, expected ", out.size());
        if (!out.empty()) std::memcpy(out.data(), coded.data(), out.size());
    }
};

} // namespace

std::unique_ptr<codec_i> make_codec_store(const codec_config&) {
    return std::make_unique<codec_store>();
}

} // namespace lmgc::detail
