// `lmgc bench` with the LLM prior: lm rows run with a (random, tiny) checkpoint, report the
// prior's ideal code length, expand into one row per ablation value, and are checked by
// decoding like every other row.
#include "lmgc/lmgc.hpp"
#include "lmgc/research.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

using namespace lmgc;
using namespace lmgc::test;
namespace ex = lmgc::experimental;

TEST(bench_lm, rows_ablations_and_ideal_code_length) {
    if (!ex::llm_available()) GTEST_SKIP() << "built without LibTorch";
    temp_dir d;
    const auto model = d.file("tiny");
    ex::llm_write_random_model(model, "tiny", "fp32", 1);
    std::filesystem::create_directories(d.file("set"));
    for (int i = 0; i < 2; ++i)
        write_bytes(d.file("set/grad_0000000" + std::to_string(i) + ".npy"),
                    make_npy("<f4", {96}, float_bytes(gradient_like(96, 40 + i))));
    auto p = ex::default_experiment_params();
    p.codecs = {"gzip", "lm:" + model + ":Hs", "lm:" + model + ":Hn:tokens=symbol"};
    p.chunk_bytes = {0};
    p.sample = 1;
    p.repeats = 2;
    p.bytes_per_group = {2, 4};
    p.context = {64, 128};
    int decoded = 0;
    p.test_hooks.after_decompress = [&](const std::string&, std::vector<std::uint8_t>&) {
        ++decoded;
    };
    const auto res = ex::run_experiment(ex::gradient_sets_from({d.file("set")}), p);
    // gzip once, each lm codec once per (bytes per group, context).
    ASSERT_EQ(res.rows.size(), 1u + 2 * 4);
    EXPECT_EQ(decoded, 2 * 9);
    std::set<std::string> variants;
    for (const auto& row : res.rows) {
        SCOPED_TRACE(row.codec + " " + row.variant);
        if (row.codec == "gzip") {
            EXPECT_FALSE(row.has_ideal);
            EXPECT_FALSE(row.is_model);
            continue;
        }
        EXPECT_TRUE(row.is_model);
        EXPECT_TRUE(row.own_chunking);
        EXPECT_TRUE(row.has_ideal);
        EXPECT_GT(row.ideal_rate.mean, 0);
        // The coder pays at least the ideal code length.
        EXPECT_GE(row.payload_rate.mean + 1e-9, row.ideal_rate.mean * 0.999);
        variants.insert(row.codec + " " + row.variant);
    }
    EXPECT_EQ(variants.size(), 8u);
    EXPECT_TRUE(variants.count("lm:tiny:Hs bytes-per-group=2 context=64"));
    EXPECT_TRUE(variants.count("lm:tiny:Hn:tokens=symbol bytes-per-group=4 context=128"));
    for (const auto& r : res.runs) {
        if (r.codec == "gzip") continue;
        EXPECT_GT(r.ideal_bits, 0);
        EXPECT_EQ(r.streams, "lm");
        // The same file as `lmgc compress` with those settings writes.
        auto cp = default_compress_params();
        cp.codec = "lm";
        cp.codec_options = {{"model", model}};
        cp.codec_options.emplace_back(
            "serialization", r.codec.find(":Hs") != std::string::npos ? "hex-space" : "hex-none");
        if (r.codec.find("symbol") != std::string::npos)
            cp.codec_options.emplace_back("tokens", "symbol");
        cp.codec_options.emplace_back("bytes-per-group",
                                      r.variant.find("group=2") != std::string::npos ? "2" : "4");
        cp.codec_options.emplace_back(
            "context", r.variant.find("context=64") != std::string::npos ? "64" : "128");
        cp.n_threads = 1;
        EXPECT_EQ(compress(read_bytes(r.file), cp).size(), r.output_bytes) << r.variant;
    }
    // An lm spec that sets what the ablation varies is refused.
    p.codecs = {"lm:" + model + ":Hs:context=64"};
    EXPECT_THROW(ex::run_experiment(ex::gradient_sets_from({d.file("set")}), p), error);
}
