// "png": the chunk's n bytes as an 8-bit grayscale PNG image (libpng, zlib level 9), the
// paper's PNG baseline. The image is w x h with w the divisor of n nearest to round(sqrt(n))
// from below and h = n / w (the paper's _get_the_two_closest_factors), so w * h = n always
// and nothing is padded; a prime n gives a 1 x n image. Empty chunks have an empty payload.
//
// libpng reports errors by longjmp: the functions that call it hold no C++ objects, so the
// jump skips no destructor.
#include "codecs/codec.hpp"

#include <png.h>

#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <limits>

namespace lmgc::detail {
namespace {

constexpr std::uint64_t png_dim_max = 0x7fffffff; // PNG's limit on width and height

struct png_dims {
    std::uint64_t w, h;
};
png_dims dims_for(std::uint64_t n) {
    auto a = static_cast<std::uint64_t>(std::llround(std::sqrt(static_cast<double>(n))));
    while (a > 1 && (a * a > n + a || n % a != 0)) --a; // guard the double's rounding too
    return {a, a ? n / a : 0};
}

struct png_context {
    char message[160] = "libpng error";
    byte_span in; // reading
    std::size_t pos = 0;
    bytes* out = nullptr; // writing
    bool out_of_memory = false;
};

[[noreturn]] void on_error(png_structp png, png_const_charp msg) {
    auto* ctx = static_cast<png_context*>(png_get_error_ptr(png));
    std::snprintf(ctx->message, sizeof ctx->message, "%s", msg);
    png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}

void on_write(png_structp png, png_bytep data, std::size_t n) {
    auto* ctx = static_cast<png_context*>(png_get_io_ptr(png));
    try {
        ctx->out->insert(ctx->out->end(), data, data + n);
    } catch (...) {
        ctx->out_of_memory = true;
    }
    if (ctx->out_of_memory) png_error(png, "out of memory");
}
void on_flush(png_structp) {}

void on_read(png_structp png, png_bytep data, std::size_t n) {
    auto* ctx = static_cast<png_context*>(png_get_io_ptr(png));
    if (n > ctx->in.size() - ctx->pos) png_error(png, "truncated");
    std::memcpy(data, ctx->in.data() + ctx->pos, n);
    ctx->pos += n;
}

// Writes pixels (w * h bytes) as a PNG to ctx.out. False on error, with ctx.message.
bool write_png(png_context& ctx, const std::uint8_t* pixels, png_uint_32 w, png_uint_32 h,
               int level) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    if (!png) return false;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, nullptr);
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    png_set_write_fn(png, &ctx, on_write, on_flush);
    png_set_user_limits(png, png_dim_max, png_dim_max);
    png_set_compression_level(png, level);
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (png_uint_32 y = 0; y < h; ++y) png_write_row(png, pixels + std::size_t{y} * w);
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    return true;
}

// Reads ctx.in as a w x h 8-bit grayscale PNG into pixels. False on any error or any other
// kind of image, with ctx.message.
bool read_png(png_context& ctx, std::uint8_t* pixels, png_uint_32 w, png_uint_32 h) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    if (!png) return false;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, nullptr, nullptr);
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, nullptr);
        return false;
    }
    png_set_read_fn(png, &ctx, on_read);
    png_set_user_limits(png, png_dim_max, png_dim_max);
    png_set_benign_errors(png, 0);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, nullptr, 0);
    png_read_info(png, info);
    png_uint_32 iw = 0, ih = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &iw, &ih, &depth, &color, &interlace, nullptr, nullptr);
    if (iw != w || ih != h || depth != 8 || color != PNG_COLOR_TYPE_GRAY ||
        interlace != PNG_INTERLACE_NONE)
        png_error(png, "not the expected 8-bit grayscale image");
    for (png_uint_32 y = 0; y < h; ++y) png_read_row(png, pixels + std::size_t{y} * w, nullptr);
    png_read_end(png, nullptr);
    png_destroy_read_struct(&png, &info, nullptr);
    return true;
}

class codec_png final : public codec_i {
  public:
    explicit codec_png(int level) : level_(level) {}
    std::vector<codec_option> params() const override {
        return {{"level", std::to_string(level_)}};
    }
    void encode(byte_span raw, const chunk_layout&, bytes& out) const override {
        if (raw.empty()) return;
        const auto d = dims_for(raw.size());
        LMGC_CHECK(d.h <= png_dim_max, errc::unsupported, "png: ", raw.size(),
                   " bytes do not fit a PNG image (", d.w, " x ", d.h,
                   "); use smaller chunks (--chunk-bytes)");
        png_context ctx;
        ctx.out = &out;
        LMGC_CHECK(write_png(ctx, raw.data(), static_cast<png_uint_32>(d.w),
                             static_cast<png_uint_32>(d.h), level_),
                   errc::internal, "png: ", ctx.message);
    }
    void decode(byte_span coded, const chunk_layout&, std::span<std::uint8_t> out) const override {
        if (out.empty()) {
            LMGC_CHECK(coded.empty(), errc::corrupt, "png: payload of an empty chunk is not empty");
            return;
        }
        const auto d = dims_for(out.size());
        LMGC_CHECK(d.h <= png_dim_max, errc::corrupt, "png: chunk size too large for PNG");
        png_context ctx;
        ctx.in = coded;
        const bool ok =
            read_png(ctx, out.data(), static_cast<png_uint_32>(d.w), static_cast<png_uint_32>(d.h));
        LMGC_CHECK(ok, errc::corrupt, "png: chunk does not decode (", ctx.message, ")");
        LMGC_CHECK(ctx.pos == coded.size(), errc::corrupt, "png: ", coded.size() - ctx.pos,
                   " bytes after the image");
    }

  private:
    int level_;
};

} // namespace

std::unique_ptr<codec_i> make_codec_png(const codec_config& cfg) {
    return std::make_unique<codec_png>(static_cast<int>(cfg.get_int("level", 9, 0, 9)));
}

} // namespace lmgc::detail
