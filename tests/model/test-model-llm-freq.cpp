// The torch-free parts of the LLM prior: config.json, checkpoint files, fingerprint, and the
// integer frequency procedure.
#include "common/common-sha256.hpp"
#include "model/model-llm.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <random>

using namespace lmgc;
using namespace lmgc::detail;

namespace {

const char* tinyllama_config = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 1,
  "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
  "intermediate_size": 5632, "max_position_embeddings": 2048, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 22, "num_key_value_heads": 4,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 10000.0,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.35.0",
  "use_cache": true, "vocab_size": 32000})";

std::string replace(std::string s, const std::string& from, const std::string& to) {
    const auto p = s.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    return s.replace(p, from.size(), to);
}

template <typename Fn> std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const lmgc::error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST(llm_config, tinyllama) {
    const auto c = llm_parse_config(tinyllama_config);
    EXPECT_EQ(c.vocab_size, 32000);
    EXPECT_EQ(c.hidden_size, 2048);
    EXPECT_EQ(c.n_layers, 22);
    EXPECT_EQ(c.n_heads, 32);
    EXPECT_EQ(c.n_kv_heads, 4);
    EXPECT_EQ(c.head_dim, 64);
    EXPECT_EQ(c.intermediate_size, 5632);
    EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
    EXPECT_FALSE(c.tie_word_embeddings);
    // Round trip through our writer.
    const auto c2 = llm_parse_config(llm_config_json(c, "bfloat16"));
    EXPECT_EQ(c2.n_kv_heads, 4);
    EXPECT_EQ(c2.head_dim, 64);
    EXPECT_DOUBLE_EQ(c2.rope_theta, 10000.0);
}

TEST(llm_config, defaults_and_errors) {
    // No num_key_value_heads: plain multi-head attention.
    auto c = llm_parse_config(replace(tinyllama_config, "\"num_key_value_heads\": 4,", ""));
    EXPECT_EQ(c.n_kv_heads, 32);
    EXPECT_NE(error_of([&] {
                  llm_parse_config(
                      replace(tinyllama_config, "LlamaForCausalLM", "GPT2LMHeadModel"));
              }).find("GPT2LMHeadModel' is not supported"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  llm_parse_config(
                      replace(tinyllama_config, "\"rope_scaling\": null",
                              "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}"));
              }).find("rope_scaling"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  llm_parse_config(replace(tinyllama_config, "\"hidden_size\": 2048,", ""));
              }).find("hidden_size"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  llm_parse_config(replace(tinyllama_config, "\"num_key_value_heads\": 4",
                                           "\"num_key_value_heads\": 5"));
              }).find("not a multiple"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  llm_parse_config(replace(tinyllama_config, "\"silu\"", "\"gelu\""));
              }).find("gelu"),
              std::string::npos);
}

TEST(llm_files, missing_files_are_named) {
    test::temp_dir d;
    EXPECT_NE(error_of([&] { llm_find_files(d.file("nope")); }).find("does not exist"),
              std::string::npos);
    EXPECT_NE(error_of([&] { llm_find_files(d.path()); }).find("no config.json"),
              std::string::npos);
    test::write_bytes(d.file("config.json"), test::bytes{'{', '}'});
    EXPECT_NE(error_of([&] { llm_find_files(d.path()); }).find("no tokenizer.model"),
              std::string::npos);
    test::write_bytes(d.file("tokenizer.model"), test::bytes{1, 2, 3});
    EXPECT_NE(error_of([&] { llm_find_files(d.path()); }).find("no model.safetensors"),
              std::string::npos);
}

TEST(llm_files, shards_and_fingerprint) {
    test::temp_dir d;
    llm_config c = llm_parse_config(tinyllama_config);
    c.vocab_size = 64;
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.n_layers = 3;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 4;
    llm_write_random_checkpoint(d.path(), c, llm_dtype::bf16, 7, 0.1, 3);
    test::write_bytes(d.file("tokenizer.model"), test::bytes{1, 2, 3});
    const auto f = llm_find_files(d.path());
    ASSERT_EQ(f.weights.size(), 3u);
    EXPECT_NE(f.weights[0].find("model-00001-of-00003.safetensors"), std::string::npos);
    EXPECT_FALSE(f.index.empty());
    const auto fp1 = llm_fingerprint(f, 2);
    EXPECT_EQ(fp1.size(), 64u);
    EXPECT_EQ(llm_fingerprint(f, 1), fp1); // independent of the thread count
    // One changed byte of one shard changes it.
    auto w = test::read_bytes(f.weights[1]);
    w.back() ^= 1;
    test::write_bytes(f.weights[1], w);
    EXPECT_NE(llm_fingerprint(f, 2), fp1);
    // So does the tokenizer.
    w.back() ^= 1;
    test::write_bytes(f.weights[1], w);
    EXPECT_EQ(llm_fingerprint(f, 2), fp1);
    test::write_bytes(d.file("tokenizer.model"), test::bytes{1, 2, 4});
    EXPECT_NE(llm_fingerprint(f, 2), fp1);
}

TEST(sha256, known_values) {
    EXPECT_EQ(sha256_hex(sha256_of({})),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const std::string abc = "abc";
    EXPECT_EQ(sha256_hex(sha256_of({reinterpret_cast<const std::uint8_t*>(abc.data()), 3})),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const std::string two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    EXPECT_EQ(
        sha256_hex(sha256_of({reinterpret_cast<const std::uint8_t*>(two.data()), two.size()})),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    // A million 'a', fed in uneven pieces.
    sha256 h;
    const std::string a(1000, 'a');
    for (int i = 0; i < 1000; ++i) h.update(a);
    EXPECT_EQ(sha256_hex(h.final()),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    sha256 g;
    for (int i = 0; i < 1000; ++i) {
        g.update(std::string_view(a).substr(0, 333));
        g.update(std::string_view(a).substr(0, 667));
    }
    EXPECT_EQ(sha256_hex(g.final()),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(llm_freq, exp_table) {
    const auto t = llm_exp_table();
    ASSERT_EQ(t.size(), static_cast<std::size_t>(llm_freq_d_max + 1));
    EXPECT_EQ(t[0], std::int64_t{1} << 30);
    for (std::size_t d = 0; d < t.size(); d += 97)
        EXPECT_NEAR(static_cast<double>(t[d]),
                    std::ldexp(std::exp(-static_cast<double>(d) / 256.0), 30), 1.0)
            << d;
    for (std::size_t d = 1; d < t.size(); ++d) EXPECT_LE(t[d], t[d - 1]);
    EXPECT_EQ(t.back(), 0);
}

TEST(llm_freq, tables_are_valid_and_close_to_softmax) {
    std::mt19937_64 rng(3);
    std::normal_distribution<float> nd(0.0f, 4.0f);
    for (const std::size_t n : {1u, 2u, 16u, 300u, 32000u}) {
        std::vector<float> x(n);
        for (auto& v : x) v = nd(rng);
        std::vector<std::uint64_t> cum(n + 1);
        llm_cdf_from_logits(x, cum);
        EXPECT_EQ(cum[0], 0u);
        EXPECT_EQ(cum[n], llm_freq_total);
        double mx = -1e300, z = 0;
        for (const auto v : x) mx = std::max(mx, static_cast<double>(v));
        for (const auto v : x) z += std::exp(v - mx);
        for (std::size_t i = 0; i < n; ++i) {
            ASSERT_GE(cum[i + 1], cum[i] + 1) << i;
            const double p = std::exp(x[i] - mx) / z;
            const double q =
                static_cast<double>(cum[i + 1] - cum[i]) / static_cast<double>(llm_freq_total);
            // Quantized log-probabilities: within 1/512 nat of the softmax, once p is well above
            // the floor of one count.
            if (p > 1e-4) {
                EXPECT_NEAR(std::log2(q), std::log2(p), 0.01) << n << " " << i;
            }
        }
    }
}

TEST(llm_freq, hostile_logits) {
    const float inf = std::numeric_limits<float>::infinity();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (const auto& x : std::vector<std::vector<float>>{{nan, nan, nan},
                                                         {inf, -inf, nan, 0.0f},
                                                         {1e30f, -1e30f, 3.0f},
                                                         {0.0f, 0.0f, 0.0f, 0.0f}}) {
        std::vector<std::uint64_t> cum(x.size() + 1);
        llm_cdf_from_logits(x, cum);
        EXPECT_EQ(cum.back(), llm_freq_total);
        for (std::size_t i = 0; i < x.size(); ++i) EXPECT_GE(cum[i + 1], cum[i] + 1);
    }
    // Equal logits: equal frequencies up to the rounding of the cumulative floor.
    std::vector<float> eq(4, 1.5f);
    std::vector<std::uint64_t> cum(5);
    llm_cdf_from_logits(eq, cum);
    for (std::size_t i = 0; i < 4; ++i)
        EXPECT_NEAR(static_cast<double>(cum[i + 1] - cum[i]), llm_freq_total / 4.0, 2.0);
}
