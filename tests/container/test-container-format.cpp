// The .lmgc container end to end through the public API: round trips of every input kind,
// and every kind of damage detected with a clear error.
#include "container/container-format.hpp"
#include "lmgc/lmgc.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <random>

using namespace lmgc;
using namespace lmgc::test;

namespace {

bytes sample_npy() {
    return make_npy("<f4", {5000}, float_bytes(gradient_like(5000, 7)));
}

bytes compress_with(const bytes& in, const std::string& codec = "store",
                    std::uint64_t chunk = 4096) {
    auto p = default_compress_params();
    p.codec = codec;
    p.chunk_bytes = chunk;
    return compress(in, p);
}

errc error_of(const bytes& image) {
    try {
        decompress(image, default_decompress_params());
    } catch (const error& e) {
        return e.code();
    }
    return errc::ok;
}

} // namespace

TEST(container, round_trip_many_chunks_and_threads) {
    const auto in = sample_npy();
    for (const int threads : {1, 2, 7}) {
        auto p = default_compress_params();
        p.codec = "store";
        p.chunk_bytes = 1000; // rounded down to a multiple of 4
        p.n_threads = threads;
        compress_stats st;
        const auto image = compress(in, p, &st);
        EXPECT_EQ(st.tensor_bytes, 20000u);
        EXPECT_EQ(st.output_bytes, image.size());
        auto dp = default_decompress_params();
        dp.n_threads = threads;
        EXPECT_EQ(decompress(image, dp), in);
        const auto fi = inspect(image);
        EXPECT_EQ(fi.chunks.size(), 20u);
        EXPECT_EQ(fi.streams.at(0).chunk_bytes, 1000u);
        EXPECT_EQ(fi.tensors.at(0).shape, std::vector<std::int64_t>{5000});
    }
}

TEST(container, unchunked_stream_is_one_chunk) {
    const auto in = sample_npy();
    auto p = default_compress_params();
    p.unchunked = true;
    const auto image = compress(in, p);
    const auto fi = inspect(image);
    ASSERT_EQ(fi.chunks.size(), 1u);
    EXPECT_EQ(fi.streams[0].chunk_bytes, 0u);
    EXPECT_EQ(decompress(image, default_decompress_params()), in);
}

TEST(container, bad_magic_newer_version_and_empty) {
    auto image = compress_with(sample_npy());
    EXPECT_EQ(error_of({}), errc::corrupt);
    auto bad = image;
    bad[1] = 'X';
    EXPECT_EQ(error_of(bad), errc::corrupt);
    auto newer = image;
    newer[8] = 3; // major version 3
    try {
        decompress(newer, default_decompress_params());
        FAIL() << "newer version accepted";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::unsupported);
        EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
    }
}

TEST(container, every_truncation_is_detected) {
    const auto image = compress_with(sample_npy(), "zstd");
    for (std::size_t n = 0; n < image.size(); ++n) {
        const bytes cut(image.begin(), image.begin() + static_cast<std::ptrdiff_t>(n));
        ASSERT_NE(error_of(cut), errc::ok) << "truncated to " << n;
    }
    auto longer = image;
    longer.push_back(0);
    EXPECT_EQ(error_of(longer), errc::corrupt);
}

TEST(container, every_single_bit_flip_is_detected) {
    const auto in = make_npy("<f4", {600}, float_bytes(gradient_like(600, 8)));
    for (const std::string codec : {"store", "zstd", "gzip"}) {
        const auto image = compress_with(in, codec, 1024);
        for (std::size_t i = 0; i < image.size(); ++i)
            for (int b = 0; b < 8; b += 3) {
                auto bad = image;
                bad[i] ^= static_cast<std::uint8_t>(1u << b);
                ASSERT_NE(error_of(bad), errc::ok)
                    << codec << ": flip at byte " << i << " bit " << b;
            }
    }
}

TEST(container, foreign_files_are_refused) {
    std::mt19937_64 rng(9);
    for (int t = 0; t < 200; ++t) {
        bytes junk(rng() % 300);
        for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
        if (t % 2) // valid magic, junk after
            for (std::size_t i = 0; i < 8 && i < junk.size(); ++i)
                junk[i] = detail::container_magic[i];
        EXPECT_NE(error_of(junk), errc::ok);
    }
}

TEST(container, header_fields_are_cross_checked) {
    // Hand-built headers with inconsistent fields must fail validation, not crash.
    using namespace lmgc::detail;
    container_header h;
    h.format = source_format::raw;
    h.original_bytes = 16;
    h.streams.push_back({"store", {}, dtype::f32, 16, 8});
    container_tensor t;
    t.name = "data";
    t.type = dtype::f32;
    t.shape = {4};
    t.nbytes = 16;
    t.stream_bytes = 16;
    h.tensors.push_back(t);
    h.chunks.push_back({0, 8, 8, 0});
    h.chunks.push_back({0, 8, 8, 0});
    const std::vector<bytes> payloads(2, bytes(8, 0));
    EXPECT_NO_THROW(read_container(write_container(h, payloads)));

    auto bad = h;
    bad.tensors[0].shape = {5};
    EXPECT_THROW(read_container(write_container(bad, payloads)), error);
    bad = h;
    bad.original_bytes = 17;
    EXPECT_THROW(read_container(write_container(bad, payloads)), error);
    bad = h; // the streams imply 4 chunks; the index holds 2
    bad.streams[0].chunk_bytes = 4;
    EXPECT_THROW(read_container(write_container(bad, payloads)), error);
    bad = h; // and 1 chunk here
    bad.streams[0].chunk_bytes = 0;
    EXPECT_THROW(read_container(write_container(bad, payloads)), error);
    bad = h;
    bad.streams[0].codec = "no-such-codec";
    const auto img = write_container(bad, payloads);
    try {
        decompress(img, default_decompress_params());
        FAIL();
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::unsupported);
        EXPECT_NE(std::string(e.what()).find("no-such-codec"), std::string::npos);
    }
}
