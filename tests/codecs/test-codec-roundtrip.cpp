// Every built-in codec round-trips every kind of tensor file bit for bit, through the public
// API, unchunked and in small chunks; tensors a codec does not code go to the byte codec, and
// the manifest says so.
#include "codec-test-util.hpp"
#include "lmgc/lmgc.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

using namespace lmgc;
using namespace lmgc::test;
using detail::dtype;

namespace {

struct sample {
    std::string name;
    bytes file;
    input_format format = input_format::auto_detect;
};

bytes doubles_bytes(const std::vector<double>& v) {
    bytes b(v.size() * 8);
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
}

std::vector<double> gradient_like_f64(std::size_t n, std::uint64_t seed) {
    const auto f = gradient_like(n, seed);
    std::vector<double> d(f.begin(), f.end());
    for (std::size_t i = 0; i < d.size(); i += 3) d[i] *= 1.0 + 1e-9; // use the low bits too
    return d;
}

// +-0, +-Inf, NaNs with payloads, denormals, extremes, then random bit patterns.
bytes special_f64(std::size_t n_random, std::uint64_t seed) {
    std::vector<std::uint64_t> v = {0x0ull,
                                    0x8000000000000000ull,
                                    0x7ff0000000000000ull,
                                    0xfff0000000000000ull,
                                    0x7ff8000000000000ull,
                                    0xfff8000000000001ull,
                                    0x7ff0000000000001ull,
                                    0x7ff4dead0000beefull,
                                    0x0000000000000001ull,
                                    0x800fffffffffffffull,
                                    0x0010000000000000ull,
                                    0x7fefffffffffffffull,
                                    0xffefffffffffffffull};
    std::mt19937_64 rng(seed);
    for (std::size_t i = 0; i < n_random; ++i) v.push_back(rng());
    bytes b(v.size() * 8);
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

bytes u32_bytes(const std::vector<std::uint32_t>& v) {
    bytes b(v.size() * 4);
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
}

std::vector<sample> samples() {
    std::vector<sample> s;
    const auto g = float_bytes(gradient_like(3001, 11));
    s.push_back({"npy_f32", make_npy("<f4", {3001}, g)});
    s.push_back({"npy_f32_2d_fortran",
                 make_npy("<f4", {25, 40}, float_bytes(gradient_like(1000, 12)), true)});
    s.push_back({"npy_f32_big_endian", make_npy(">f4", {777}, random_bytes(777 * 4, 13))});
    s.push_back({"npy_f64", make_npy("<f8", {1501}, doubles_bytes(gradient_like_f64(1501, 14)))});
    s.push_back({"npy_f16", make_npy("<f2", {999}, random_bytes(999 * 2, 15))});
    s.push_back({"npy_i32", make_npy("<i4", {513}, random_bytes(513 * 4, 16))});
    s.push_back({"npy_i64", make_npy("<i8", {257}, random_bytes(257 * 8, 17))});
    s.push_back({"npy_u8", make_npy("|u1", {1000}, random_bytes(1000, 18))});
    s.push_back(
        {"npy_special_f32", make_npy("<f4", {1018}, u32_bytes(special_f32_bits(1000, 19)))});
    s.push_back({"npy_special_f64", make_npy("<f8", {513}, special_f64(500, 20))});
    s.push_back({"npy_random_f32", make_npy("<f4", {4096}, random_bytes(4096 * 4, 21))});
    s.push_back({"npy_empty", make_npy("<f4", {0}, {})});
    s.push_back({"npy_one", make_npy("<f4", {1}, float_bytes({-0.0f}))});
    auto seven = special_f64(0, 0);
    seven.resize(7 * 8);
    s.push_back({"npy_seven_f64", make_npy("<f8", {7}, seven)});
    s.push_back({"safetensors_mixed",
                 make_safetensors(
                     {{"conv.weight", "F32", {8, 4, 3, 3}, float_bytes(gradient_like(288, 22))},
                      {"conv.bias", "F32", {7}, float_bytes(gradient_like(7, 23))},
                      {"fc.weight", "F64", {10, 10}, doubles_bytes(gradient_like_f64(100, 24))},
                      {"h", "F16", {33}, random_bytes(66, 25)},
                      {"b", "BF16", {5, 5}, random_bytes(50, 26)},
                      {"step", "I64", {1}, random_bytes(8, 27)},
                      {"idx", "I32", {9}, random_bytes(36, 28)},
                      {"mask", "U8", {11}, random_bytes(11, 29)},
                      {"one", "F32", {1}, float_bytes({1.0f})}},
                     {{"step", "400"}})});
    s.push_back({"raw_f32", float_bytes(gradient_like(2500, 30)), input_format::raw});
    return s;
}

class codecs_roundtrip : public ::testing::TestWithParam<std::string> {};

} // namespace

TEST_P(codecs_roundtrip, every_file_kind_and_mode) {
    const std::string codec = GetParam();
    for (const auto& s : samples()) {
        // unchunked, the paper's 512-byte chunks, and tiny chunks of 3 floats / 1 double
        for (const std::uint64_t chunk :
             {std::uint64_t{0}, std::uint64_t{512}, std::uint64_t{12}}) {
            SCOPED_TRACE(s.name + ", chunk " + std::to_string(chunk));
            auto p = default_compress_params();
            p.codec = codec;
            p.unchunked = chunk == 0;
            p.chunk_bytes = chunk;
            p.format = s.format;
            p.n_threads = 2;
            compress_stats st;
            const auto image = compress(s.file, p, &st);
            EXPECT_EQ(st.output_bytes, image.size());
            ASSERT_EQ(decompress(image, default_decompress_params()), s.file);
            const auto fi = inspect(image);
            for (const auto& t : fi.tensors)
                EXPECT_EQ(t.codec, expected_codec(codec, t.type))
                    << t.name << " " << dtype_name(t.type);
            for (const auto& c : fi.chunks)
                if (chunk) {
                    EXPECT_LE(c.raw_bytes, chunk);
                }
        }
    }
}

TEST_P(codecs_roundtrip, deterministic_output) {
    const auto file = make_npy("<f4", {5000}, float_bytes(gradient_like(5000, 31)));
    auto p = default_compress_params();
    p.codec = GetParam();
    p.chunk_bytes = 512;
    p.n_threads = 1;
    const auto a = compress(file, p);
    p.n_threads = 3;
    EXPECT_EQ(compress(file, p), a); // same bytes whatever the thread count
}

TEST_P(codecs_roundtrip, direct_sizes_around_block_edges) {
    // Sizes around the codecs' internal blocks: zfp's 4 values, FLAC's 16-sample minimum
    // and 4096-sample blocks, PNG's factorization (primes give 1 x n images).
    const std::string codec = GetParam();
    const auto t = detail::find_codec(codec).supports(dtype::f32) ? dtype::f32 : dtype::u8;
    for (const std::size_t n : {1u, 2u, 3u, 4u, 5u, 7u, 15u, 16u, 17u, 31u, 127u, 1021u, 1024u,
                                4095u, 4096u, 4097u, 12289u}) {
        SCOPED_TRACE("n = " + std::to_string(n));
        const bytes raw = float_bytes(gradient_like(n, n));
        const auto coded = encode_direct(codec, t, raw);
        EXPECT_EQ(decode_direct(codec, t, coded, raw.size()), raw);
    }
}

TEST_P(codecs_roundtrip, empty_chunk_direct) {
    const std::string codec = GetParam();
    const auto t = detail::find_codec(codec).supports(dtype::f32) ? dtype::f32 : dtype::u8;
    const auto coded = encode_direct(codec, t, {});
    EXPECT_EQ(decode_direct(codec, t, coded, 0), bytes{});
}

INSTANTIATE_TEST_SUITE_P(codecs, codecs_roundtrip, ::testing::ValuesIn(built_in_codecs()),
                         codec_param_name());
