// "zfp": zfp in reversible (lossless) mode over the chunk's values as a 1-D array; f32, f64,
// i32 and i64. Payload: the zfp stream as zfp_compress writes it after a full zfp header
// (magic, field type and size, mode: 148 bits at most), zero-padded to the library's stream
// word (8 bits in Debian's libzfp, 64 in zfp's default build; the decoder takes either).
//
// zfp's bit reader has no bounds, so the decoder copies the payload into a buffer with a
// block's worth of zero padding, decodes one block of 4 values at a time, and stops as soon
// as the reader has passed the payload's end.
#include "codecs/codec.hpp"

#include <zfp.h>

#include <cstring>

namespace lmgc::detail {
namespace {

template <typename T> struct zfp_ops;
template <> struct zfp_ops<float> {
    static constexpr zfp_type type = zfp_type_float;
    static constexpr auto block = zfp_decode_block_float_1;
    static constexpr auto partial = zfp_decode_partial_block_strided_float_1;
};
template <> struct zfp_ops<double> {
    static constexpr zfp_type type = zfp_type_double;
    static constexpr auto block = zfp_decode_block_double_1;
    static constexpr auto partial = zfp_decode_partial_block_strided_double_1;
};
template <> struct zfp_ops<int32> {
    static constexpr zfp_type type = zfp_type_int32;
    static constexpr auto block = zfp_decode_block_int32_1;
    static constexpr auto partial = zfp_decode_partial_block_strided_int32_1;
};
template <> struct zfp_ops<int64> {
    static constexpr zfp_type type = zfp_type_int64;
    static constexpr auto block = zfp_decode_block_int64_1;
    static constexpr auto partial = zfp_decode_partial_block_strided_int64_1;
};

// Owns the zfp handles of one call.
struct zfp_handles {
    bitstream* bits = nullptr;
    zfp_stream* zfp = nullptr;
    zfp_field* field = nullptr;
    ~zfp_handles() {
        if (field) zfp_field_free(field);
        if (zfp) zfp_stream_close(zfp);
        if (bits) stream_close(bits);
    }
};

template <typename T> void encode_as(byte_span raw, bytes& out) {
    const std::size_t n = raw.size() / sizeof(T);
    std::vector<T> values(n); // aligned copy: zfp reads T* directly
    std::memcpy(values.data(), raw.data(), n * sizeof(T));
    zfp_handles h;
    h.field = zfp_field_1d(values.data(), zfp_ops<T>::type, n);
    h.zfp = zfp_stream_open(nullptr);
    LMGC_CHECK(h.field && h.zfp, errc::internal, "zfp: out of memory");
    zfp_stream_set_reversible(h.zfp);
    std::vector<std::uint64_t> buf((zfp_stream_maximum_size(h.zfp, h.field) + 7) / 8);
    h.bits = stream_open(buf.data(), buf.size() * 8);
    LMGC_CHECK(h.bits, errc::internal, "zfp: out of memory");
    zfp_stream_set_bit_stream(h.zfp, h.bits);
    zfp_stream_rewind(h.zfp);
    const bool ok = zfp_write_header(h.zfp, h.field, ZFP_HEADER_FULL) != 0;
    const std::size_t size = ok ? zfp_compress(h.zfp, h.field) : 0;
    LMGC_CHECK(size > 0, errc::internal, "zfp: compression failed");
    const auto* p = reinterpret_cast<const std::uint8_t*>(buf.data());
    out.insert(out.end(), p, p + size);
}

template <typename T> void decode_as(byte_span coded, std::span<std::uint8_t> out) {
    const std::size_t n = out.size() / sizeof(T);
    // A block reads at most 4 * (bits of T) * 3 + 32 bits whatever the input (zfp's
    // embedded coder: per bit plane, verbatim bits plus run-length tests); pad by more.
    constexpr std::size_t pad_words = 4 * sizeof(T) * 8 * 3 / 64 + 8;
    std::vector<std::uint64_t> buf((coded.size() + 7) / 8 + pad_words, 0);
    if (!coded.empty()) std::memcpy(buf.data(), coded.data(), coded.size());
    const std::uint64_t end_bits = std::uint64_t{coded.size()} * 8;
    zfp_handles h;
    h.bits = stream_open(buf.data(), buf.size() * 8);
    h.zfp = zfp_stream_open(h.bits);
    h.field = zfp_field_alloc();
    LMGC_CHECK(h.bits && h.zfp && h.field, errc::internal, "zfp: out of memory");
    const bool header =
        zfp_read_header(h.zfp, h.field, ZFP_HEADER_FULL) != 0 && stream_rtell(h.bits) <= end_bits;
    LMGC_CHECK(header && h.field->type == zfp_ops<T>::type &&
                   zfp_field_dimensionality(h.field) == 1 && h.field->nx == n &&
                   zfp_stream_compression_mode(h.zfp) == zfp_mode_reversible,
               errc::corrupt, "zfp: header does not describe this chunk");
    zfp_stream_set_reversible(h.zfp); // exactly the encoder's settings, whatever the header says
    T block[4];
    for (std::size_t i = 0; i < n; i += 4) {
        const std::size_t k = std::min<std::size_t>(4, n - i);
        if (k == 4)
            zfp_ops<T>::block(h.zfp, block);
        else
            zfp_ops<T>::partial(h.zfp, block, k, 1);
        LMGC_CHECK(stream_rtell(h.bits) <= end_bits, errc::corrupt, "zfp: payload truncated");
        std::memcpy(out.data() + i * sizeof(T), block, k * sizeof(T));
    }
    stream_align(h.bits);
    const std::size_t used = stream_rtell(h.bits) / 8;
    bool padding_only = used <= coded.size() && coded.size() - used < 8;
    for (std::size_t i = used; padding_only && i < coded.size(); ++i) padding_only = !coded[i];
    LMGC_CHECK(padding_only, errc::corrupt, "zfp: payload has ", coded.size(),
               " bytes, the stream ", used);
}

class codec_zfp final : public codec_i {
  public:
    void encode(byte_span raw, const chunk_layout& layout, bytes& out) const override {
        check_elements(layout.type, raw.size(), errc::internal);
        if (raw.empty()) return;
        switch (layout.type) {
        case dtype::f32:
            return encode_as<float>(raw, out);
        case dtype::f64:
            return encode_as<double>(raw, out);
        case dtype::i32:
            return encode_as<int32>(raw, out);
        default:
            return encode_as<int64>(raw, out);
        }
    }
    void decode(byte_span coded, const chunk_layout& layout,
                std::span<std::uint8_t> out) const override {
        check_elements(layout.type, out.size(), errc::corrupt);
        if (out.empty()) {
            LMGC_CHECK(coded.empty(), errc::corrupt, "zfp: payload of an empty chunk is not empty");
            return;
        }
        switch (layout.type) {
        case dtype::f32:
            return decode_as<float>(coded, out);
        case dtype::f64:
            return decode_as<double>(coded, out);
        case dtype::i32:
            return decode_as<int32>(coded, out);
        default:
            return decode_as<int64>(coded, out);
        }
    }

  private:
    static void check_elements(dtype t, std::size_t size, errc code) {
        LMGC_CHECK(supports_zfp_types(t), code, "zfp: codes only f32, f64, i32 and i64, not ",
                   dtype_name(t));
        LMGC_CHECK(size % dtype_size(t) == 0, code, "zfp: chunk of ", size,
                   " bytes is not whole elements");
    }
};

} // namespace

std::unique_ptr<codec_i> make_codec_zfp(const codec_config&) {
    return std::make_unique<codec_zfp>();
}

} // namespace lmgc::detail
