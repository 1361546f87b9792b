// "fpzip": lossless fpzip (full precision) of the chunk's f32 or f64 values as a 1-D array.
// Payload: CRC-32C of the rest (u32 LE), then the fpzip stream as the fpzip Python binding
// writes it (fpzip_write_header: magic, version, type, precision, nx ny nz nf; then the data).
//
// libfpzip 1.3 reads its input without bounds, and on damaged input its range decoder can
// index its own tables out of range; the CRC makes sure it only ever sees a stream our
// encoder wrote (damage is caught; a file crafted with a matching CRC is not).
// fpzip_errno is a plain global that every fpzip call writes, so calls are serialized by a
// mutex (other codecs' chunks still run in parallel).
#include "codecs/codec.hpp"

#include "common/common-checksum.hpp"

#include <fpzip.h>

#include <climits>
#include <mutex>

namespace lmgc::detail {
namespace {

// Shared by every instance: fpzip_errno is one global for all of them.
std::mutex fpzip_mutex;

const char* fpzip_message() {
    const int e = static_cast<int>(fpzip_errno);
    return e >= 0 && e <= static_cast<int>(fpzipErrorInternal) ? fpzip_errstr[e] : "error";
}

class codec_fpzip final : public codec_i {
  public:
    void encode(byte_span raw, const chunk_layout& layout, bytes& out) const override {
        const auto [type, elem] = type_of(layout.type, errc::usage);
        LMGC_CHECK(raw.size() % elem == 0, errc::internal, "fpzip: chunk of ", raw.size(),
                   " bytes is not whole elements");
        const std::size_t n = raw.size() / elem;
        LMGC_CHECK(n <= INT_MAX, errc::unsupported, "fpzip: more than 2^31 values in a chunk");
        if (n == 0) return;
        // A full-precision stream can exceed the input slightly (random data); grow and
        // retry on overflow rather than guess a tight bound.
        const std::size_t base = out.size();
        std::size_t cap = raw.size() + raw.size() / 8 + 1024;
        std::lock_guard<std::mutex> lock(fpzip_mutex);
        for (;;) {
            out.resize(base + 4 + cap);
            FPZ* fpz = fpzip_write_to_buffer(out.data() + base + 4, cap);
            LMGC_CHECK(fpz != nullptr, errc::internal, "fpzip: cannot create a stream");
            fpz->type = type;
            fpz->prec = 0;
            fpz->nx = static_cast<int>(n);
            fpz->ny = fpz->nz = fpz->nf = 1;
            const bool head = fpzip_write_header(fpz) != 0;
            const std::size_t size = head ? fpzip_write(fpz, raw.data()) : 0;
            const fpzipError err = fpzip_errno;
            fpzip_write_close(fpz);
            if (size > 0) {
                out.resize(base + 4 + size);
                store_le<std::uint32_t>(out.data() + base,
                                        crc32c(byte_span(out).subspan(base + 4)));
                return;
            }
            LMGC_CHECK(err == fpzipErrorBufferOverflow || err == fpzipErrorWriteStream,
                       errc::internal, "fpzip: ", fpzip_message());
            cap *= 2;
        }
    }

    void decode(byte_span coded, const chunk_layout& layout,
                std::span<std::uint8_t> out) const override {
        const auto [type, elem] = type_of(layout.type, errc::corrupt);
        LMGC_CHECK(out.size() % elem == 0, errc::corrupt, "fpzip: chunk is not whole elements");
        const std::size_t n = out.size() / elem;
        if (n == 0) {
            LMGC_CHECK(coded.empty(), errc::corrupt,
                       "fpzip: payload of an empty chunk is not empty");
            return;
        }
        LMGC_CHECK(coded.size() > 4, errc::corrupt, "fpzip: payload truncated");
        const byte_span stream = coded.subspan(4);
        LMGC_CHECK(load_le<std::uint32_t>(coded.data()) == crc32c(stream), errc::corrupt,
                   "fpzip: payload checksum mismatch");
        std::lock_guard<std::mutex> lock(fpzip_mutex);
        FPZ* fpz = fpzip_read_from_buffer(stream.data());
        LMGC_CHECK(fpz != nullptr, errc::internal, "fpzip: cannot create a stream");
        bool ok = fpzip_read_header(fpz) != 0;
        ok = ok && fpz->type == type && fpz->prec == 0 && fpz->nx == static_cast<long long>(n) &&
             fpz->ny == 1 && fpz->nz == 1 && fpz->nf == 1;
        const std::size_t used = ok ? fpzip_read(fpz, out.data()) : 0;
        fpzip_read_close(fpz);
        LMGC_CHECK(ok && used == stream.size(), errc::corrupt, "fpzip: chunk does not decode (",
                   ok ? "wrong size" : "bad header", ")");
    }

  private:
    struct fpzip_type {
        int type;
        std::size_t elem;
    };
    static fpzip_type type_of(dtype t, errc code) {
        LMGC_CHECK(t == dtype::f32 || t == dtype::f64, code, "fpzip: codes only f32 and f64, not ",
                   dtype_name(t));
        return t == dtype::f32 ? fpzip_type{FPZIP_TYPE_FLOAT, 4} : fpzip_type{FPZIP_TYPE_DOUBLE, 8};
    }
};

} // namespace

std::unique_ptr<codec_i> make_codec_fpzip(const codec_config&) {
    return std::make_unique<codec_fpzip>();
}

} // namespace lmgc::detail
