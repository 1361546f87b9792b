// Helpers shared by the codec tests: the codec names to run, direct calls through the codec
// table (bypassing the container), and sample data.
#pragma once

#include "codecs/codec.hpp"
#include "common/common-float.hpp"
#include "lmgc/lmgc.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace lmgc::test {

// Every codec of the table that is built in and codes without outside resources ("lm" needs
// a model folder; tests/model/test-codec-lm.cpp covers it with test-made checkpoints).
inline std::vector<std::string> built_in_codecs() {
    std::vector<std::string> out;
    for (const auto& e : detail::codec_table())
        if (e.available() && e.name != "lm") out.emplace_back(e.name);
    return out;
}

// Names gtest's parameterized tests after the codec ('-' is not allowed in names).
struct codec_param_name {
    std::string operator()(const ::testing::TestParamInfo<std::string>& p) const {
        std::string s = p.param;
        for (auto& c : s)
            if (c == '-') c = '_';
        return s;
    }
};

// The codec lmgc records for a tensor of type t when the user asks for codec.
inline std::string expected_codec(const std::string& codec, detail::dtype t) {
    const auto& e = detail::find_codec(codec);
    return e.supports(t) ? codec : std::string(detail::byte_codec_name());
}

inline bytes random_bytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
}

// A chunk layout of one tensor covering the whole chunk.
struct one_tensor_layout {
    std::vector<std::int64_t> shape;
    detail::chunk_layout layout;
    one_tensor_layout(detail::dtype t, std::size_t nbytes)
        : shape{static_cast<std::int64_t>(nbytes / detail::dtype_size(t))} {
        layout.type = t;
        layout.tensors.push_back({0, nbytes, shape});
    }
};

// Encodes raw with the named codec directly (no container).
inline bytes encode_direct(const std::string& codec, detail::dtype t, const bytes& raw,
                           std::vector<codec_option> options = {}) {
    const one_tensor_layout l(t, raw.size());
    detail::codec_config cfg;
    cfg.options = std::move(options);
    const auto c = detail::find_codec(codec).make(cfg);
    bytes out;
    c->encode(raw, l.layout, out);
    return out;
}

// Decodes a payload directly into n bytes (with decoder settings, e.g. simd=0); throws what
// the codec throws.
inline bytes decode_direct(const std::string& codec, detail::dtype t, const bytes& coded,
                           std::size_t n, std::vector<codec_option> options = {}) {
    const one_tensor_layout l(t, n);
    detail::codec_config cfg;
    cfg.options = std::move(options);
    cfg.decoding = true;
    const auto c = detail::find_codec(codec).make(cfg);
    bytes out(n);
    c->decode(coded, l.layout, out);
    return out;
}

// The decoding setting that turns a float codec's SIMD pass off (fast, planes): the portable
// loop, which must give the same bytes, or the same error, as the default's.
inline const std::vector<codec_option> without_simd = {{"simd", "0"}};

// A payload decoded directly with the given decoder settings: its output, or the message of
// its error (which must be of the corrupt kind).
inline std::pair<bytes, std::string> decode_outcome(const std::string& codec, detail::dtype t,
                                                    const bytes& coded, std::size_t n,
                                                    const std::vector<codec_option>& options) {
    try {
        return {decode_direct(codec, t, coded, n, options), ""};
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::corrupt) << e.what();
        return {{}, e.what()};
    }
}

// --- Float test values shared by the float codecs' tests (fast, planes) ---

// The float element types (those the float codecs code).
constexpr dtype float_types[] = {dtype::f32, dtype::f16, dtype::bf16, dtype::f64};

// A float codec's entry: built in, 1 MiB chunks by default, coding the float types and no
// others (those go to the byte codec).
inline void expect_float_codec_entry(const std::string& name) {
    const auto& e = detail::find_codec(name);
    EXPECT_TRUE(e.available());
    EXPECT_EQ(e.default_chunk_bytes, 1u << 20);
    for (const auto t : float_types) EXPECT_TRUE(e.supports(t)) << detail::dtype_name(t);
    for (const auto t : {dtype::i8, dtype::u8, dtype::i16, dtype::u16, dtype::i32, dtype::u32,
                         dtype::i64, dtype::u64, dtype::boolean})
        EXPECT_FALSE(e.supports(t)) << detail::dtype_name(t);
}

// Payload modes (docs/format.md): 0 coded, 1 stored.
inline int mode_of(const bytes& coded) {
    return coded.size() > 2 ? coded[2] : -1;
}

// Gradient-like values in element type t.
inline bytes gradients(dtype t, std::size_t n, std::uint64_t seed) {
    const auto g = gradient_like(n, seed);
    switch (t) {
    case dtype::f32:
        return float_bytes(g);
    case dtype::f64: {
        std::vector<double> d;
        for (std::size_t i = 0; i < g.size(); ++i) d.push_back(g[i] * (1.0 + 1e-9 * (i % 7)));
        return as_bytes(d);
    }
    default: {
        std::vector<std::uint16_t> h;
        for (const float x : g)
            h.push_back(t == dtype::f16 ? detail::f32_to_f16(x) : detail::f32_to_bf16(x));
        return as_bytes(h);
    }
    }
}

// Special bit patterns of each type: +-0, +-inf, NaNs with payloads, denormals, extremes.
inline bytes specials(dtype t) {
    switch (t) {
    case dtype::f32: {
        std::vector<std::uint32_t> v = special_f32_bits(0, 1);
        return as_bytes(v);
    }
    case dtype::f64:
        return as_bytes(std::vector<std::uint64_t>{
            0x0ull, 0x8000000000000000ull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
            0x7ff8000000000000ull, 0xfff8000000000001ull, 0x7ff0000000000001ull,
            0x7ff4dead0000beefull, 0x0000000000000001ull, 0x800fffffffffffffull,
            0x0008000000000000ull, 0x0010000000000000ull, 0x7fefffffffffffffull,
            0xffefffffffffffffull});
    case dtype::f16:
        return as_bytes(std::vector<std::uint16_t>{0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe01,
                                                   0x7c01, 0x7d55, 0x0001, 0x83ff, 0x0200, 0x0400,
                                                   0x7bff, 0xfbff});
    default:
        return as_bytes(std::vector<std::uint16_t>{0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0xffc1,
                                                   0x7f81, 0x7fd5, 0x0001, 0x807f, 0x0040, 0x0080,
                                                   0x7f7f, 0xff7f});
    }
}

// Special values of type t three ways: alone, in runs of 300 each, and sprinkled into
// gradients (1 value in 16). The last two must code (not be stored).
struct special_inputs {
    bytes alone, runs, mixed;
};
inline special_inputs special_value_inputs(dtype t) {
    const std::size_t elem = detail::dtype_size(t);
    special_inputs in{specials(t), {}, gradients(t, 20000, 9)};
    const bytes& sp = in.alone;
    for (std::size_t k = 0; k < sp.size(); k += elem)
        for (int r = 0; r < 300; ++r)
            in.runs.insert(in.runs.end(), sp.begin() + k, sp.begin() + k + elem);
    std::mt19937_64 rng(9);
    for (std::size_t i = 0; i < in.mixed.size() / elem; ++i)
        if (rng() % 16 == 0) {
            const std::size_t k = rng() % (sp.size() / elem);
            std::memcpy(in.mixed.data() + i * elem, sp.data() + k * elem, elem);
        }
    return in;
}

// A file of f32 gradients (seeded by `seed`), f16, bf16 and f64 tensors and an integer one,
// through the container with the float codec `name` at 256 KiB chunks and 1-3 threads: the
// same bytes whatever the thread count, decoded back exactly, the integer tensor in the byte
// codec and the others in `name`.
inline void expect_container_round_trips_at_any_thread_count(const std::string& name,
                                                             std::uint64_t seed) {
    const auto g = float_bytes(gradient_like(300000, seed));
    const auto file = make_safetensors({{"w", "F32", {300000}, g},
                                        {"h", "F16", {5000}, gradients(dtype::f16, 5000, 2)},
                                        {"b", "BF16", {5000}, gradients(dtype::bf16, 5000, 3)},
                                        {"d", "F64", {5000}, gradients(dtype::f64, 5000, 4)},
                                        {"step", "I64", {1}, random_bytes(8, 6)}});
    bytes first;
    for (const int threads : {1, 2, 3}) {
        auto p = default_compress_params();
        p.codec = name;
        p.chunk_bytes = 256 * 1024;
        p.n_threads = threads;
        const auto image = compress(file, p);
        if (first.empty()) first = image;
        EXPECT_EQ(image, first); // the same bytes whatever the thread count
        auto dp = default_decompress_params();
        dp.n_threads = threads;
        EXPECT_EQ(decompress(image, dp), file);
        for (const auto& t : inspect(image).tensors)
            EXPECT_EQ(t.codec, t.name == "step" ? std::string(detail::byte_codec_name()) : name);
    }
}

// Tiny chunks of type t: 0..max_n gradient values, and as many zeros, each followed by 0 to
// (element size - 1) bytes of a partial trailing element.
inline std::vector<bytes> tiny_inputs(dtype t, std::size_t max_n) {
    const std::size_t elem = detail::dtype_size(t);
    std::vector<bytes> out;
    for (std::size_t n = 0; n <= max_n; ++n) {
        const auto g = gradients(t, n, 11);
        for (std::size_t extra = 0; extra < elem; ++extra) {
            bytes raw = g, zeros(n * elem, 0);
            for (std::size_t k = 0; k < extra; ++k) {
                raw.push_back(static_cast<std::uint8_t>(0xA0 + k));
                zeros.push_back(static_cast<std::uint8_t>(0xA0 + k));
            }
            out.push_back(std::move(raw));
            out.push_back(std::move(zeros));
        }
    }
    return out;
}

inline std::uint64_t n_seed(dtype t) {
    return static_cast<std::uint64_t>(t) * 7919;
}

// Real gradients when the shared development data is around (CI has it beside the clone).
// The test target defines LMGC_TEST_SOURCE_DIR.
inline std::vector<std::string> real_gradient_files() {
    std::vector<std::string> out;
    const char* src = std::getenv("LMGC_SOURCE");
#ifdef LMGC_TEST_SOURCE_DIR
    if (!src) src = LMGC_TEST_SOURCE_DIR;
#endif
    if (!src) return out;
    for (const char* rel : {"/../shared/data/grads", "/../../shared/data/grads"}) {
        const std::filesystem::path d = std::string(src) + rel;
        std::error_code ec;
        if (!std::filesystem::is_directory(d, ec)) continue;
        for (const auto& e : std::filesystem::directory_iterator(d, ec))
            if (e.path().extension() == ".npy") out.push_back(e.path().string());
        if (!out.empty()) break;
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Deterministic gradient-like f32 values from an LCG (no library RNG: the frozen stream
// below must not depend on the standard library's distributions).
inline bytes lcg_gradients(std::size_t n) {
    std::vector<std::uint32_t> v(n);
    std::uint64_t s = 12345;
    auto next = [&] {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::uint32_t>(s >> 33);
    };
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t r = next();
        if ((i / 200) % 3 == 0) continue; // zero runs
        const std::uint32_t exp = 112 + (r % 7) + static_cast<std::uint32_t>(i / 5000 % 3);
        v[i] = (r >> 31) << 31 | exp << 23 | (next() & 0x7fffff);
    }
    return as_bytes(v);
}

} // namespace lmgc::test
