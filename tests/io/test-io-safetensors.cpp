// .safetensors: many tensors of every dtype, metadata, order kept, byte-exact round trips;
// malformed headers fail cleanly.
#include "io/io-tensor-file.hpp"
#include "lmgc/lmgc.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <random>

using namespace lmgc;
using namespace lmgc::test;

namespace {

bytes rnd(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
}

bytes sample_file() {
    return make_safetensors({{"z.weight", "F32", {10, 20}, float_bytes(gradient_like(200, 1))},
                             {"a.bias", "F16", {7}, rnd(14, 2)},
                             {"m.bf", "BF16", {3, 3}, rnd(18, 3)},
                             {"idx", "I64", {5}, rnd(40, 4)},
                             {"d", "F64", {4}, rnd(32, 5)},
                             {"flags", "BOOL", {3}, rnd(3, 6)},
                             {"empty", "F32", {0, 4}, {}},
                             {"u", "U8", {9}, rnd(9, 7)},
                             {"i32", "I32", {2}, rnd(8, 8)}},
                            {{"step", "400"}, {"arch", "convnet"}});
}

} // namespace

TEST(io_safetensors, parse_and_round_trip) {
    const auto file = sample_file();
    const auto pf = detail::parse_safetensors(file);
    ASSERT_EQ(pf.tensors.size(), 8u); // the empty tensor has no region
    EXPECT_EQ(pf.tensors[0].name, "z.weight");
    EXPECT_EQ(pf.tensors[1].type, detail::dtype::f16);
    for (const auto* codec : {"zstd", "gzip", "store"})
        for (const std::uint64_t chunk : {std::uint64_t{16}, std::uint64_t{1} << 20}) {
            auto p = default_compress_params();
            p.codec = codec;
            p.chunk_bytes = chunk;
            const auto image = compress(file, p);
            EXPECT_EQ(decompress(image, default_decompress_params()), file);
            const auto fi = inspect(image);
            EXPECT_EQ(fi.source_format, "safetensors");
            ASSERT_EQ(fi.tensors.size(), 8u);
            EXPECT_EQ(fi.tensors[0].name, "z.weight");
            EXPECT_EQ(fi.tensors[0].shape, (std::vector<std::int64_t>{10, 20}));
        }
}

TEST(io_safetensors, malformed_headers_fail_cleanly) {
    const auto good = sample_file();
    auto expect_bad = [](const bytes& f, const char* why) {
        try {
            detail::parse_safetensors(f);
            ADD_FAILURE() << "accepted: " << why;
        } catch (const error& e) {
            EXPECT_TRUE(e.code() == errc::bad_input || e.code() == errc::unsupported) << why;
        }
    };
    expect_bad(bytes(good.begin(), good.begin() + 5), "short");
    auto bad = good;
    bad[7] = 0x7f; // header length huge
    expect_bad(bad, "header length past end");
    auto with_header = [](const std::string& json, std::size_t data) {
        bytes f;
        lmgc::detail::byte_writer w(f);
        w.le<std::uint64_t>(json.size());
        w.raw({reinterpret_cast<const std::uint8_t*>(json.data()), json.size()});
        f.resize(f.size() + data, 0);
        return f;
    };
    expect_bad(
        with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}", 4),
        "offsets past end");
    expect_bad(
        with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}", 8),
        "size mismatch");
    expect_bad(
        with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}", 8),
        "negative shape");
    expect_bad(
        with_header("{\"a\": {\"dtype\": \"Q7\", \"shape\": [2], \"data_offsets\": [0, 8]}", 8),
        "bad dtype");
    expect_bad(
        with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
                    "\"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}",
                    12),
        "overlap");
    expect_bad(with_header("{\"a\": junk}", 8), "junk json");
    expect_bad(with_header("[1,2]", 8), "not an object");
    expect_bad(with_header("{\"a\": {\"dtype\": \"F32\", \"shape\": [2]}}", 8), "missing offsets");
}
