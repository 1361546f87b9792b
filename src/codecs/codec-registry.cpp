// The codec table: one row per codec. Adding a codec takes a file, a row here and a test
// (docs/adding-a-codec.md).
#include "codecs/codec.hpp"

#include "common/common-error.hpp"

#include <charconv>

namespace lmgc::detail {

// Factories, one per codec file, declared here rather than in a header: only this table
// calls them. A codec whose library was missing at build time has a null factory.
using codec_factory = std::unique_ptr<codec_i> (*)(const codec_config&);
std::unique_ptr<codec_i> make_codec_store(const codec_config&);
std::unique_ptr<codec_i> make_codec_cm(const codec_config&);
std::unique_ptr<codec_i> make_codec_fast(const codec_config&);
std::unique_ptr<codec_i> make_codec_planes(const codec_config&);
#ifdef LMGC_HAVE_ZLIB
std::unique_ptr<codec_i> make_codec_gzip(const codec_config&);
constexpr codec_factory gzip_factory = make_codec_gzip;
#else
constexpr codec_factory gzip_factory = nullptr;
#endif
#ifdef LMGC_TORCH_MODULE_BUILT
// Loads the LibTorch module on first use (module/module-loader.hpp).
std::unique_ptr<codec_i> make_codec_lm_from_module(const codec_config&);
constexpr codec_factory lm_factory = make_codec_lm_from_module;
#else
constexpr codec_factory lm_factory = nullptr;
#endif
#ifdef LMGC_HAVE_ZSTD
std::unique_ptr<codec_i> make_codec_zstd(const codec_config&);
constexpr codec_factory zstd_factory = make_codec_zstd;
std::unique_ptr<codec_i> make_codec_shuffle_zstd(const codec_config&);
constexpr codec_factory shuffle_zstd_factory = make_codec_shuffle_zstd;
#else
constexpr codec_factory zstd_factory = nullptr;
constexpr codec_factory shuffle_zstd_factory = nullptr;
#endif
#ifdef LMGC_HAVE_LZMA
std::unique_ptr<codec_i> make_codec_lzma(const codec_config&);
constexpr codec_factory lzma_factory = make_codec_lzma;
std::unique_ptr<codec_i> make_codec_shuffle_lzma(const codec_config&);
constexpr codec_factory shuffle_lzma_factory = make_codec_shuffle_lzma;
#else
constexpr codec_factory lzma_factory = nullptr;
constexpr codec_factory shuffle_lzma_factory = nullptr;
#endif
#ifdef LMGC_HAVE_BROTLI
std::unique_ptr<codec_i> make_codec_brotli(const codec_config&);
constexpr codec_factory brotli_factory = make_codec_brotli;
#else
constexpr codec_factory brotli_factory = nullptr;
#endif
#ifdef LMGC_HAVE_PNG
std::unique_ptr<codec_i> make_codec_png(const codec_config&);
constexpr codec_factory png_factory = make_codec_png;
#else
constexpr codec_factory png_factory = nullptr;
#endif
#ifdef LMGC_HAVE_FLAC
std::unique_ptr<codec_i> make_codec_flac(const codec_config&);
constexpr codec_factory flac_factory = make_codec_flac;
#else
constexpr codec_factory flac_factory = nullptr;
#endif
#ifdef LMGC_HAVE_FPZIP
std::unique_ptr<codec_i> make_codec_fpzip(const codec_config&);
constexpr codec_factory fpzip_factory = make_codec_fpzip;
#else
constexpr codec_factory fpzip_factory = nullptr;
#endif
#ifdef LMGC_HAVE_ZFP
std::unique_ptr<codec_i> make_codec_zfp(const codec_config&);
constexpr codec_factory zfp_factory = make_codec_zfp;
#else
constexpr codec_factory zfp_factory = nullptr;
#endif

namespace {

constexpr std::uint64_t MiB = 1u << 20;

// name, summary, library it needs, element types, default chunk size, factory, the settings
// a user may give (space-separated), whether it needs a model folder
const codec_entry table[] = {
    {"cm", "context-mixing model of float bits (weights-free prior, fixed point)", "",
     supports_floats, 1 * MiB, make_codec_cm, "mantissa_bits"},
    {"fast", "exponent classes by tANS in the context of an exponent level, raw mantissas; GB/s",
     "", supports_floats, 1 * MiB, make_codec_fast, "lag_classes simd"},
    {"planes", "top byte (sign, high exponent bits) by tANS, zeros a symbol or listed, other bytes stored",
     "", supports_floats, 1 * MiB, make_codec_planes, "simd"},
    {"gzip", "deflate (zlib), level 9", "zlib", supports_any, 16 * MiB, gzip_factory, "level"},
    {"lzma", ".xz (liblzma), LZMA2 preset 9", "liblzma", supports_any, 16 * MiB, lzma_factory,
     "preset"},
    {"zstd", "Zstandard, level 19", "libzstd", supports_any, 16 * MiB, zstd_factory, "level"},
    {"brotli", "Brotli, quality 11", "libbrotli", supports_any, 16 * MiB, brotli_factory,
     "quality lgwin"},
    {"png", "bytes as a near-square 8-bit grayscale PNG (libpng), level 9", "libpng", supports_any,
     16 * MiB, png_factory, "level"},
    {"flac", "bytes as 8-bit mono FLAC audio (libFLAC), level 8", "libFLAC", supports_any, 16 * MiB,
     flac_factory, "level"},
    {"fpzip", "fpzip, lossless (f32, f64)", "libfpzip", supports_float32_64, 16 * MiB,
     fpzip_factory, ""},
    {"zfp", "zfp, reversible mode (f32, f64, i32, i64)", "libzfp", supports_zfp_types, 16 * MiB,
     zfp_factory, ""},
    {"shuffle-zstd", "byte planes of each element transposed, then zstd 19", "libzstd",
     supports_any, 16 * MiB, shuffle_zstd_factory, "level"},
    {"shuffle-lzma", "byte planes of each element transposed, then lzma preset 9", "liblzma",
     supports_any, 16 * MiB, shuffle_lzma_factory, "preset"},
    {"lm", "LLM prior (Llama via LibTorch, --model DIR) + range coder: LM-GC", "LibTorch",
     supports_floats, 0, lm_factory,
     "model model-name serialization bytes-per-group text-chunk-bytes byte-order tokens context "
     "batch device dtype threads",
     true},
    {"store", "no compression (for tests and incompressible data)", "", supports_any, 16 * MiB,
     make_codec_store, ""},
};

} // namespace

bool supports_any(dtype) {
    return true;
}
bool supports_float32_64(dtype t) {
    return t == dtype::f32 || t == dtype::f64;
}
bool supports_floats(dtype t) {
    return dtype_is_float(t);
}
bool supports_zfp_types(dtype t) {
    return t == dtype::f32 || t == dtype::f64 || t == dtype::i32 || t == dtype::i64;
}

std::span<const codec_entry> codec_table() {
    return table;
}

const codec_entry& find_codec(std::string_view name) {
    for (const auto& e : table) {
        if (e.name != name) continue;
        LMGC_CHECK(e.available(), errc::unsupported, "codec '", name,
                   "' is not built in (built without ", e.library, ")");
        return e;
    }
    LMGC_FAIL(errc::usage, "unknown codec '", name, "' (see `lmgc codecs`)");
}

namespace {
// The first codec of the list that is built in.
std::string_view first_built(std::initializer_list<std::string_view> names) {
    for (const auto n : names)
        for (const auto& e : table)
            if (e.name == n && e.available()) return n;
    return "store";
}
} // namespace

std::string_view default_codec_name() {
    return first_built({"cm"});
}

std::string_view byte_codec_name() {
    return first_built({"zstd", "gzip"});
}

std::span<const level_row> level_ladder() {
    // docs/levels.md: measured side by side with `lmgc bench codecs --levels --classical`.
    // Levels 6-9 are the same codec today (cm gains nothing past 2 modelled mantissa bits); a
    // level keeps its place when a variant fills it.
    static const level_row ladder[] = {
        {1, "planes", {}, "top bytes by tANS, other bytes stored (~1 GB/s in f32)"},
        {2, "fast", {{"lag_classes", "0"}}, "without lag classes: decodes ~20% faster than 3"},
        {3, "fast", {}, "tANS exponents, raw mantissas (hundreds of MB/s)"},
        {4, "cm", {{"mantissa_bits", "0"}}, "no mantissa bit modelled (~10% faster than 5)"},
        {5, "cm", {{"mantissa_bits", "1"}}, "the smallest files at tens of MB/s"},
        {6, "cm", {{"mantissa_bits", "2"}}, "2 mantissa bits modelled (~0.1% smaller)"},
        {7, "cm", {{"mantissa_bits", "2"}}, "2 mantissa bits modelled"},
        {8, "cm", {{"mantissa_bits", "2"}}, "2 mantissa bits modelled"},
        {9, "cm", {{"mantissa_bits", "2"}}, "2 mantissa bits modelled"},
    };
    return ladder;
}

bool codec_entry::knows_option(std::string_view key) const {
    std::string_view rest = options;
    while (!rest.empty()) {
        const auto sp = rest.find(' ');
        if (rest.substr(0, sp) == key) return true;
        if (sp == std::string_view::npos) break;
        rest.remove_prefix(sp + 1);
    }
    return false;
}

void check_options(const codec_entry& e, std::span<const codec_option> options) {
    for (const auto& [k, v] : options)
        LMGC_CHECK(e.knows_option(k), errc::usage, "codec '", e.name, "' has no setting '", k, "'",
                   e.options.empty() ? std::string(" (it has none)")
                                     : " (it has: " + std::string(e.options) + ")");
}

codec_choice codec_for(const compress_params& params) {
    LMGC_CHECK(params.level >= 0 && params.level <= 9, errc::usage, "level ", params.level,
               " is out of range (1 to 9, or 0 for the default)");
    codec_choice c;
    if (!params.codec.empty()) {
        c.entry = &find_codec(params.codec);
    } else {
        const auto& row = level_ladder()[static_cast<std::size_t>(
            (params.level ? params.level : default_level) - 1)];
        c.entry = &find_codec(first_built({row.codec, default_codec_name()}));
        if (c.entry->name == row.codec)
            for (const auto& o : row.options) c.options.push_back(o);
    }
    check_options(*c.entry, params.codec_options);
    for (const auto& o : params.codec_options) c.options.push_back(o);
    return c;
}

std::optional<std::string> codec_config::get(std::string_view key) const {
    if (decoding)
        for (const auto& [k, v] : recorded)
            if (k == key) return v;
    for (const auto& [k, v] : options)
        if (k == key) return v;
    return std::nullopt;
}

std::string codec_config::get_or(std::string_view key, std::string fallback) const {
    auto v = get(key);
    return v ? *v : std::move(fallback);
}

long long codec_config::get_int(std::string_view key, long long fallback, long long min,
                                long long max) const {
    const auto v = get(key);
    if (!v) return fallback;
    long long x = 0;
    const auto r = std::from_chars(v->data(), v->data() + v->size(), x);
    LMGC_CHECK(r.ec == std::errc() && r.ptr == v->data() + v->size(),
               decoding ? errc::corrupt : errc::usage, "option ", key, "=", *v,
               " is not an integer");
    LMGC_CHECK(x >= min && x <= max, decoding ? errc::corrupt : errc::usage, "option ", key, "=", x,
               " is outside [", min, ", ", max, "]");
    return x;
}

} // namespace lmgc::detail
