// JPEG decoding for TinyImageNet through libjpeg(-turbo), optional: without it the
// functions report errc::unsupported. libjpeg reports errors by longjmp, so each call keeps
// its C++ objects outside the setjmp frame.
#include "collect/collect-data.hpp"

#include "common/common-error.hpp"

#ifdef LMGC_HAVE_JPEG
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#endif

namespace lmgc::detail {

#ifdef LMGC_HAVE_JPEG
namespace {

struct jpeg_error_state {
    jpeg_error_mgr mgr;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

void on_jpeg_error(j_common_ptr cinfo) {
    auto* st = reinterpret_cast<jpeg_error_state*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, st->message);
    std::longjmp(st->jump, 1);
}

void on_jpeg_message(j_common_ptr, int) {} // warnings (e.g. extraneous bytes) stay quiet

// Returns false with st->message set on failure. `out` is sized by the caller's callback.
bool decode_raw(const std::uint8_t* data, std::size_t size, jpeg_error_state* st, int* w, int* h,
                std::vector<std::uint8_t>* out) {
    jpeg_decompress_struct cinfo;
    cinfo.err = jpeg_std_error(&st->mgr);
    st->mgr.error_exit = on_jpeg_error;
    st->mgr.emit_message = on_jpeg_message;
    if (setjmp(st->jump)) {
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB; // converts grayscale and YCbCr alike
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_width == 0 || cinfo.output_height == 0 || cinfo.output_width > 16384 ||
        cinfo.output_height > 16384 || cinfo.output_components != 3) {
        std::snprintf(st->message, sizeof st->message, "unsupported image size or components");
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    *w = static_cast<int>(cinfo.output_width);
    *h = static_cast<int>(cinfo.output_height);
    // resize() may throw bad_alloc; the vector is the caller's, so no destructor is skipped.
    out->resize(static_cast<std::size_t>(*w) * static_cast<std::size_t>(*h) * 3);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out->data() + static_cast<std::size_t>(cinfo.output_scanline) *
                                         static_cast<std::size_t>(*w) * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return true;
}

bool encode_raw(const std::uint8_t* rgb, int width, int height, int quality, jpeg_error_state* st,
                unsigned char** buf, unsigned long* size) {
    jpeg_compress_struct cinfo;
    cinfo.err = jpeg_std_error(&st->mgr);
    st->mgr.error_exit = on_jpeg_error;
    st->mgr.emit_message = on_jpeg_message;
    if (setjmp(st->jump)) {
        jpeg_destroy_compress(&cinfo);
        return false;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, buf, size);
    cinfo.image_width = static_cast<JDIMENSION>(width);
    cinfo.image_height = static_cast<JDIMENSION>(height);
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = const_cast<JSAMPROW>(rgb + static_cast<std::size_t>(cinfo.next_scanline) *
                                                      static_cast<std::size_t>(width) * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return true;
}

} // namespace

bool have_jpeg() noexcept {
    return true;
}

void decode_jpeg_rgb(byte_span data, const std::string& what, int* width, int* height,
                     std::vector<std::uint8_t>* rgb) {
    jpeg_error_state st{};
    LMGC_CHECK(!data.empty(), errc::bad_input, what, ": empty JPEG file");
    LMGC_CHECK(decode_raw(data.data(), data.size(), &st, width, height, rgb), errc::bad_input, what,
               ": cannot decode JPEG: ", st.message);
}

bytes encode_jpeg_rgb(const std::uint8_t* rgb, int width, int height, int quality) {
    jpeg_error_state st{};
    unsigned char* buf = nullptr;
    unsigned long size = 0;
    const bool ok = encode_raw(rgb, width, height, quality, &st, &buf, &size);
    bytes out;
    if (ok) out.assign(buf, buf + size);
    std::free(buf);
    LMGC_CHECK(ok, errc::internal, "cannot encode JPEG: ", st.message);
    return out;
}

#else

bool have_jpeg() noexcept {
    return false;
}

void decode_jpeg_rgb(byte_span, const std::string& what, int*, int*, std::vector<std::uint8_t>*) {
    LMGC_FAIL(errc::unsupported, what, ": this lmgc was built without libjpeg");
}

bytes encode_jpeg_rgb(const std::uint8_t*, int, int, int) {
    LMGC_FAIL(errc::unsupported, "this lmgc was built without libjpeg");
}

#endif

} // namespace lmgc::detail
