// The codec benchmark: one run over several files and codecs, rates that match what
// compress() writes, both chunking modes, clear errors; and the `lmgc bench` command.
#include "codecs/codec.hpp"
#include "lmgc/lmgc.hpp"
#include "lmgc/research.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <random>

using namespace lmgc;
using namespace lmgc::test;

namespace {

struct fixture_files {
    temp_dir dir;
    std::vector<std::string> paths;
    std::vector<bytes> data;
    fixture_files() {
        std::mt19937_64 rng(5);
        bytes idx(64);
        for (auto& b : idx) b = static_cast<std::uint8_t>(rng());
        data.push_back(make_npy("<f4", {4000}, float_bytes(gradient_like(4000, 1))));
        data.push_back(
            make_safetensors({{"w", "F32", {50, 20}, float_bytes(gradient_like(1000, 2))},
                              {"idx", "I64", {8}, idx}}));
        for (std::size_t i = 0; i < data.size(); ++i) {
            paths.push_back(dir.file(i ? "b.safetensors" : "a.npy"));
            write_bytes(paths.back(), data[i]);
        }
    }
};

bool built_in(const std::string& name) {
    for (const auto& c : list_codecs())
        if (c.name == name) return c.available;
    return false;
}

errc error_of(const std::vector<std::string>& files, const experimental::codec_bench_params& p) {
    try {
        experimental::bench_codecs(files, p);
    } catch (const error& e) {
        return e.code();
    }
    return errc::ok;
}

} // namespace

TEST(bench_codecs, rates_match_compress_and_modes_are_separate) {
    if (!built_in("gzip") || !built_in("zstd")) GTEST_SKIP() << "needs gzip and zstd";
    fixture_files f;
    auto p = experimental::default_codec_bench_params();
    EXPECT_EQ(p.n_threads, 1);
    p.codecs = {"store", "gzip", "zstd"};
    p.chunk_bytes = {0, 512};
    p.repeats = 2;
    std::uint64_t calls = 0;
    p.progress = [&](std::uint64_t done, std::uint64_t total) {
        EXPECT_EQ(total, 6u);
        calls = done;
    };
    const auto res = experimental::bench_codecs(f.paths, p);
    ASSERT_EQ(res.size(), 6u);
    EXPECT_EQ(calls, 6u);
    for (std::size_t i = 0; i < res.size(); ++i) {
        const auto& r = res[i];
        SCOPED_TRACE(r.codec + " " + std::to_string(r.chunk_bytes));
        EXPECT_EQ(r.codec, p.codecs[i / 2]);
        EXPECT_EQ(r.chunk_bytes, p.chunk_bytes[i % 2]);
        EXPECT_EQ(r.tensor_bytes, 4000u * 4 + 1000u * 4 + 64);
        // The same sizes as compressing each file on its own.
        std::uint64_t out = 0;
        for (const auto& d : f.data) {
            auto cp = default_compress_params();
            cp.codec = r.codec;
            cp.unchunked = r.chunk_bytes == 0;
            cp.chunk_bytes = r.chunk_bytes;
            out += compress(d, cp).size();
        }
        EXPECT_EQ(r.output_bytes, out);
        EXPECT_LT(r.payload_bytes, r.output_bytes);
        EXPECT_DOUBLE_EQ(r.rate_percent, 100.0 * static_cast<double>(r.output_bytes) /
                                             static_cast<double>(r.tensor_bytes));
        EXPECT_GT(r.compress_mbps_best, 0);
        EXPECT_GE(r.compress_mbps_best, r.compress_mbps_median);
        EXPECT_GE(r.decompress_mbps_best, r.decompress_mbps_median);
        EXPECT_GT(r.decompress_mbps_median, 0);
    }
    EXPECT_GT(res[0].rate_percent, 100.0); // store only adds the container
    EXPECT_LT(res[2].rate_percent, 100.0); // gzip compresses gradients
    EXPECT_LT(res[2].payload_rate_percent, res[3].payload_rate_percent); // chunks cost
}

TEST(bench_codecs, fallback_codec_is_reported) {
    fixture_files f;
    auto p = experimental::default_codec_bench_params();
    p.repeats = 1;
    if (!built_in("fpzip")) GTEST_SKIP() << "fpzip not built in";
    p.codecs = {"fpzip"};
    const auto res = experimental::bench_codecs(f.paths, p);
    ASSERT_EQ(res.size(), 1u);
    // The I64 tensor goes to the byte codec.
    EXPECT_EQ(res[0].codecs_used, "fpzip+" + std::string(detail::byte_codec_name()));
}

TEST(bench_codecs, bad_requests_are_errors) {
    fixture_files f;
    auto p = experimental::default_codec_bench_params();
    p.codecs = {"store"};
    EXPECT_EQ(error_of({}, p), errc::usage);
    EXPECT_EQ(error_of({f.dir.file("missing.npy")}, p), errc::io);
    p.repeats = 0;
    EXPECT_EQ(error_of(f.paths, p), errc::usage);
    p.repeats = 1;
    p.codecs = {"nope"};
    EXPECT_EQ(error_of(f.paths, p), errc::usage);
    temp_dir d;
    write_bytes(d.file("junk.npy"), bytes{1, 2, 3});
    p.codecs = {"store"};
    EXPECT_EQ(error_of({d.file("junk.npy")}, p), errc::bad_input);
}

TEST(bench_codecs, cli_prints_a_table_of_both_modes) {
    if (!built_in("gzip")) GTEST_SKIP() << "needs gzip";
    fixture_files f;
    std::string out;
    ASSERT_EQ(run(lmgc_bin() + " bench codecs " + f.paths[0] + " " + f.paths[1] +
                      " --codecs gzip,store --chunk-bytes 0,512 -r 1",
                  &out),
              0)
        << out;
    EXPECT_NE(out.find("| codec"), std::string::npos) << out;
    EXPECT_NE(out.find("| gzip  | unchunked"), std::string::npos) << out;
    EXPECT_NE(out.find("| gzip  | 512 B chunks"), std::string::npos) << out;
    EXPECT_NE(out.find("| store | 512 B chunks"), std::string::npos) << out;
    EXPECT_EQ(run(lmgc_bin() + " bench", &out), 2) << out;
    EXPECT_EQ(run(lmgc_bin() + " bench nosuchmode", &out), 2) << out;
    EXPECT_EQ(run(lmgc_bin() + " bench codecs", &out), 2) << out;
    EXPECT_EQ(run(lmgc_bin() + " bench codecs " + f.paths[0] + " --codecs nope", &out), 2) << out;
    EXPECT_EQ(run(lmgc_bin() + " bench codecs " + f.paths[0] + " --chunk-bytes 5x", &out), 2)
        << out;
    EXPECT_EQ(run(lmgc_bin() + " bench codecs " + f.dir.file("missing.npy"), &out), 1) << out;
    EXPECT_EQ(run(lmgc_bin() + " bench --help", &out), 0) << out;
    EXPECT_NE(out.find("codecs"), std::string::npos);
}
