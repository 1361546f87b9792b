// Each codec writes the payload docs/format.md says it does: a standard .xz stream, PNG
// image, FLAC stream, zfp stream, ...; and the codec table behaves (names, options, errors).
#include "codec-test-util.hpp"
#include "common/common-checksum.hpp"
#include "lmgc/lmgc.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <set>

using namespace lmgc;
using namespace lmgc::test;
using detail::dtype;

namespace {

bool available(const std::string& name) {
    for (const auto& e : detail::codec_table())
        if (e.name == name) return e.available();
    return false;
}

#define REQUIRE_CODEC(name)                                                                        \
    if (!available(name)) GTEST_SKIP() << name << " not built in"

std::uint32_t be32(const bytes& b, std::size_t at) {
    return std::uint32_t{b[at]} << 24 | std::uint32_t{b[at + 1]} << 16 |
           std::uint32_t{b[at + 2]} << 8 | b[at + 3];
}

} // namespace

TEST(codecs_registry, names_are_unique_and_described) {
    std::set<std::string> names;
    for (const auto& e : detail::codec_table()) {
        EXPECT_TRUE(names.insert(std::string(e.name)).second) << e.name;
        EXPECT_FALSE(e.summary.empty());
        // Only the LLM prior codes a whole stream by default (it batches its windows itself).
        EXPECT_TRUE(e.default_chunk_bytes > 0 || e.name == "lm") << e.name;
        if (!e.available()) {
            EXPECT_FALSE(e.library.empty());
            try {
                detail::find_codec(e.name);
                ADD_FAILURE() << e.name << " is missing but can be found";
            } catch (const error& err) {
                EXPECT_EQ(err.code(), errc::unsupported);
            }
        }
    }
    for (const auto* n : {"gzip", "lzma", "zstd", "brotli", "png", "flac", "fpzip", "zfp",
                          "shuffle-zstd", "shuffle-lzma", "store"})
        EXPECT_TRUE(names.count(n)) << n;
    const auto listed = list_codecs();
    EXPECT_EQ(listed.size(), names.size());
}

TEST(codecs_registry, unknown_codec_and_bad_options_are_usage_errors) {
    auto p = default_compress_params();
    p.codec = "no-such-codec";
    const auto file = make_npy("<f4", {10}, float_bytes(gradient_like(10, 1)));
    try {
        compress(file, p);
        FAIL();
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::usage);
    }
    for (const auto& [codec, key, value] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"lzma", "preset", "10"},
             {"brotli", "quality", "12"},
             {"png", "level", "x"},
             {"flac", "level", "9"},
             {"brotli", "lgwin", "25"}}) {
        if (!available(codec)) continue;
        p.codec = codec;
        p.codec_options = {{key, value}};
        try {
            compress(file, p);
            ADD_FAILURE() << codec << " accepted " << key << "=" << value;
        } catch (const error& e) {
            EXPECT_EQ(e.code(), errc::usage) << e.what();
        }
    }
}

TEST(codecs_registry, options_are_recorded_and_used_to_decode) {
    REQUIRE_CODEC("lzma");
    const auto file = make_npy("<f4", {3000}, float_bytes(gradient_like(3000, 2)));
    auto p = default_compress_params();
    p.codec = "shuffle-lzma";
    p.codec_options = {{"preset", "1"}};
    const auto image = compress(file, p);
    const auto fi = inspect(image);
    ASSERT_EQ(fi.streams.size(), 1u);
    EXPECT_EQ(fi.streams[0].codec_params, (std::vector<codec_option>{{"preset", "1"}}));
    EXPECT_EQ(decompress(image, default_decompress_params()), file);
}

TEST(codecs_formats, lzma_writes_an_xz_stream_with_crc64) {
    REQUIRE_CODEC("lzma");
    const auto raw = float_bytes(gradient_like(1000, 3));
    const auto coded = encode_direct("lzma", dtype::f32, raw);
    const std::uint8_t magic[] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
    ASSERT_GT(coded.size(), 12u);
    EXPECT_EQ(std::memcmp(coded.data(), magic, 6), 0);
    EXPECT_EQ(coded[7], 0x04); // stream flags: CRC64
    EXPECT_EQ(coded[coded.size() - 2], 'Y');
    EXPECT_EQ(coded[coded.size() - 1], 'Z');
    // The xz tool reads it, when installed.
    if (run("command -v xz >/dev/null") != 0) GTEST_SKIP() << "xz not installed";
    temp_dir dir;
    write_bytes(dir.file("c.xz"), coded);
    ASSERT_EQ(run("xz -dc " + dir.file("c.xz") + " > " + dir.file("c.raw")), 0);
    EXPECT_EQ(read_bytes(dir.file("c.raw")), raw);
}

TEST(codecs_formats, png_is_the_papers_near_square_grayscale_image) {
    REQUIRE_CODEC("png");
    // n -> (width, height): width is the divisor of n nearest below round(sqrt(n)).
    const std::vector<std::tuple<std::size_t, std::uint32_t, std::uint32_t>> dims = {
        {512, 16, 32},  {1, 1, 1},     {7, 1, 7},      {12, 3, 4},
        {4096, 64, 64}, {509, 1, 509}, {1018, 2, 509}, {56, 7, 8}};
    for (const auto& [n, w, h] : dims) {
        SCOPED_TRACE(n);
        const auto raw = random_bytes(n, n);
        const auto coded = encode_direct("png", dtype::u8, raw);
        const std::uint8_t sig[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        ASSERT_GT(coded.size(), 33u);
        EXPECT_EQ(std::memcmp(coded.data(), sig, 8), 0);
        EXPECT_EQ(std::memcmp(coded.data() + 12, "IHDR", 4), 0);
        EXPECT_EQ(be32(coded, 16), w);
        EXPECT_EQ(be32(coded, 20), h);
        EXPECT_EQ(coded[24], 8); // bit depth
        EXPECT_EQ(coded[25], 0); // grayscale
        EXPECT_EQ(decode_direct("png", dtype::u8, coded, n), raw);
    }
}

TEST(codecs_formats, flac_is_8_bit_mono_with_the_sample_count) {
    REQUIRE_CODEC("flac");
    for (const std::size_t n : {1u, 15u, 16u, 4096u, 10000u}) {
        SCOPED_TRACE(n);
        const auto raw = random_bytes(n, n);
        const auto coded = encode_direct("flac", dtype::u8, raw);
        ASSERT_GT(coded.size(), 42u);
        EXPECT_EQ(std::memcmp(coded.data(), "fLaC", 4), 0);
        EXPECT_EQ(coded[4] & 0x7f, 0); // first block: STREAMINFO
        const std::uint8_t* si = coded.data() + 8;
        const unsigned channels = ((si[12] >> 1) & 7) + 1;
        const unsigned bps = (((si[12] & 1) << 4) | (si[13] >> 4)) + 1;
        const std::uint64_t samples = (std::uint64_t{si[13] & 0x0fu} << 32) | be32(coded, 8 + 14);
        EXPECT_EQ(channels, 1u);
        EXPECT_EQ(bps, 8u);
        EXPECT_EQ(samples, n);
        bool md5_set = false;
        for (int i = 18; i < 34; ++i) md5_set |= si[i] != 0;
        EXPECT_TRUE(md5_set);
        EXPECT_EQ(decode_direct("flac", dtype::u8, coded, n), raw);
    }
}

TEST(codecs_formats, fpzip_stream_is_guarded_by_a_crc) {
    REQUIRE_CODEC("fpzip");
    const auto raw = float_bytes(gradient_like(500, 4));
    const auto coded = encode_direct("fpzip", dtype::f32, raw);
    ASSERT_GT(coded.size(), 4u);
    EXPECT_EQ(detail::load_le<std::uint32_t>(coded.data()),
              detail::crc32c(detail::byte_span(coded).subspan(4)));
}

TEST(codecs_formats, zfp_stream_has_a_header) {
    REQUIRE_CODEC("zfp");
    for (const auto t : {dtype::f32, dtype::f64, dtype::i32, dtype::i64}) {
        const auto raw = random_bytes(8 * 37, 5);
        const auto coded = encode_direct("zfp", t, raw);
        EXPECT_EQ(std::memcmp(coded.data(), "zfp", 3), 0);
        EXPECT_EQ(decode_direct("zfp", t, coded, raw.size()), raw);
    }
}

TEST(codecs_formats, shuffle_transposes_byte_planes_of_any_element_size) {
    REQUIRE_CODEC("shuffle-zstd");
    for (const auto t : {dtype::u8, dtype::i16, dtype::f32, dtype::f64}) {
        const std::size_t elem = detail::dtype_size(t);
        const auto raw = random_bytes(elem * 101, elem);
        const auto coded = encode_direct("shuffle-zstd", t, raw);
        // The payload is zstd's coding of the planes.
        const auto planes = decode_direct("zstd", t, coded, raw.size());
        for (std::size_t i = 0; i < 101; ++i)
            for (std::size_t j = 0; j < elem; ++j)
                ASSERT_EQ(planes[j * 101 + i], raw[i * elem + j]);
        EXPECT_EQ(decode_direct("shuffle-zstd", t, coded, raw.size()), raw);
    }
}

TEST(codecs_formats, float_only_codecs_send_integers_to_the_byte_codec) {
    REQUIRE_CODEC("fpzip");
    const auto file = make_safetensors({{"w", "F32", {100}, float_bytes(gradient_like(100, 6))},
                                        {"step", "I64", {1}, random_bytes(8, 7)},
                                        {"h", "F16", {10}, random_bytes(20, 8)}});
    auto p = default_compress_params();
    p.codec = "fpzip";
    const auto image = compress(file, p);
    const auto fi = inspect(image);
    ASSERT_EQ(fi.tensors.size(), 3u);
    EXPECT_EQ(fi.tensors[0].codec, "fpzip");
    EXPECT_EQ(fi.tensors[1].codec, detail::byte_codec_name());
    EXPECT_EQ(fi.tensors[2].codec, detail::byte_codec_name());
    EXPECT_EQ(decompress(image, default_decompress_params()), file);
}
