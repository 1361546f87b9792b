// Gradient file writers: what make_safetensors_f32 and make_npy_f32 write is read back by
// the io stage's parsers with the same names, shapes, order, metadata and bytes.
#include "collect/collect-data.hpp"
#include "common/common-json.hpp"
#include "io/io-tensor-file.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <cstring>

using namespace lmgc;
using namespace lmgc::detail;
using namespace lmgc::test;

TEST(collect_writer, safetensors_round_trip) {
    const auto a = gradient_like(6, 1), b = gradient_like(5, 2), c = gradient_like(1, 3);
    const std::vector<named_f32> t = {
        {"features.0.weight", {2, 3}, a}, {"features.0.bias", {5}, b}, {"1.0.0.gamma", {1}, c}};
    const auto file =
        make_safetensors_f32(t, {{"step", "400"}, {"loss", "2.5"}, {"arch", "convnet"}});
    const auto n = load_le<std::uint64_t>(file.data());
    EXPECT_EQ((8 + n) % 8, 0u); // data 8-aligned
    const auto pf = parse_safetensors(file);
    ASSERT_EQ(pf.tensors.size(), 3u);
    // Data in the given order, so the concatenation is the flat gradient.
    EXPECT_EQ(pf.tensors[0].name, "features.0.weight");
    EXPECT_EQ(pf.tensors[1].name, "features.0.bias");
    EXPECT_EQ(pf.tensors[2].name, "1.0.0.gamma");
    EXPECT_EQ(pf.tensors[0].shape, (std::vector<std::int64_t>{2, 3}));
    EXPECT_EQ(pf.tensors[0].type, dtype::f32);
    EXPECT_EQ(pf.tensors[1].offset, pf.tensors[0].offset + 24);
    EXPECT_EQ(std::memcmp(file.data() + pf.tensors[1].offset, b.data(), 20), 0);
    const auto doc =
        json_parse(std::string_view(reinterpret_cast<const char*>(file.data() + 8), n));
    EXPECT_EQ(doc.at("__metadata__").at("step").as_string(), "400");
    EXPECT_EQ(doc.at("__metadata__").at("arch").as_string(), "convnet");
    // JSON key order is the parameter order (after the metadata).
    const auto& keys = doc.as_object();
    ASSERT_EQ(keys.size(), 4u);
    EXPECT_EQ(keys[1].first, "features.0.weight");
    EXPECT_EQ(keys[3].first, "1.0.0.gamma");
    // And the whole file goes through the compressor losslessly.
    auto params = default_compress_params();
    params.codec = "store";
    EXPECT_EQ(decompress(compress(file, params), default_decompress_params()), file);
}

TEST(collect_writer, npy_round_trip) {
    const auto v = gradient_like(1000, 9);
    const auto file = make_npy_f32(v, {1000});
    EXPECT_EQ((file.size() - 4000) % 64, 0u); // header padded to 64
    const auto pf = parse_npy(file);
    ASSERT_EQ(pf.tensors.size(), 1u);
    EXPECT_EQ(pf.tensors[0].shape, (std::vector<std::int64_t>{1000}));
    EXPECT_EQ(pf.tensors[0].type, dtype::f32);
    EXPECT_EQ(std::memcmp(file.data() + pf.tensors[0].offset, v.data(), 4000), 0);
    // numpy's spelling of shapes.
    const std::string hdr(reinterpret_cast<const char*>(file.data() + 10),
                          pf.tensors[0].offset - 10);
    EXPECT_NE(hdr.find("'shape': (1000,)"), std::string::npos) << hdr;
    const auto m = make_npy_f32(std::span<const float>(v).first(12), {3, 4});
    const std::string h2(reinterpret_cast<const char*>(m.data() + 10), 60);
    EXPECT_NE(h2.find("'shape': (3, 4)"), std::string::npos) << h2;
    EXPECT_EQ(parse_npy(m).tensors[0].shape, (std::vector<std::int64_t>{3, 4}));
}
