// "lzma": an .xz stream (LZMA2, preset 9, CRC64 check) as `xz -9` and Python's lzma.compress
// write it (the paper's LZMA baseline). The dictionary is shrunk to the chunk's size, which
// changes nothing in the output's compression but avoids allocating 674 MiB per 512-byte chunk.
#include "codecs/codec.hpp"

#include <lzma.h>

#include <algorithm>
#include <bit>

namespace lmgc::detail {
namespace {

// The dictionary the encoder uses for n bytes, and so the most a valid payload needs.
std::uint32_t dict_size_for(std::uint64_t n, std::uint32_t preset_dict) {
    const std::uint64_t want = std::bit_ceil(std::max<std::uint64_t>(n, LZMA_DICT_SIZE_MIN));
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(want, preset_dict));
}

class codec_lzma final : public codec_i {
  public:
    explicit codec_lzma(std::uint32_t preset) : preset_(preset) {}
    std::vector<codec_option> params() const override {
        return {{"preset", std::to_string(preset_)}};
    }
    void encode(byte_span raw, const chunk_layout&, bytes& out) const override {
        lzma_options_lzma opt;
        LMGC_CHECK(!lzma_lzma_preset(&opt, preset_), errc::internal, "lzma: bad preset");
        opt.dict_size = dict_size_for(raw.size(), opt.dict_size);
        lzma_filter filters[] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, nullptr}};
        const std::size_t base = out.size();
        out.resize(base + lzma_stream_buffer_bound(raw.size()));
        std::size_t pos = base;
        const lzma_ret rc =
            lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC64, nullptr, raw.data(), raw.size(),
                                      out.data(), &pos, out.size());
        LMGC_CHECK(rc == LZMA_OK, errc::internal, "lzma: encoder failed (", int(rc), ")");
        out.resize(pos);
    }
    void decode(byte_span coded, const chunk_layout&, std::span<std::uint8_t> out) const override {
        // A hostile header may ask for a 4 GiB dictionary: allow only what our encoder uses
        // for this size, plus the decoder's own state.
        lzma_options_lzma opt;
        lzma_lzma_preset(&opt, 9);
        std::uint64_t memlimit = dict_size_for(out.size(), opt.dict_size) + (1u << 20);
        std::size_t in_pos = 0, out_pos = 0;
        std::uint8_t dummy = 0; // liblzma wants a non-null buffer even when empty
        const lzma_ret rc =
            lzma_stream_buffer_decode(&memlimit, 0, nullptr, coded.data(), &in_pos, coded.size(),
                                      out.empty() ? &dummy : out.data(), &out_pos, out.size());
        LMGC_CHECK(rc == LZMA_OK && in_pos == coded.size() && out_pos == out.size(), errc::corrupt,
                   "lzma: chunk does not decompress (",
                   rc == LZMA_OK ? "wrong size" : error_name(rc), ")");
    }

  private:
    static const char* error_name(lzma_ret rc) {
        switch (rc) {
        case LZMA_FORMAT_ERROR:
            return "not an .xz stream";
        case LZMA_OPTIONS_ERROR:
            return "unsupported options";
        case LZMA_DATA_ERROR:
            return "corrupt data";
        case LZMA_BUF_ERROR:
            return "truncated or too long";
        case LZMA_MEMLIMIT_ERROR:
            return "asks for too much memory";
        case LZMA_MEM_ERROR:
            return "out of memory";
        default:
            return "error";
        }
    }
    std::uint32_t preset_;
};

} // namespace

std::unique_ptr<codec_i> make_codec_lzma(const codec_config& cfg) {
    return std::make_unique<codec_lzma>(static_cast<std::uint32_t>(cfg.get_int("preset", 9, 0, 9)));
}

} // namespace lmgc::detail
