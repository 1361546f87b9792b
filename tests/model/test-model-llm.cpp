// The LLM prior with LibTorch on CPU: loading (errors named), the step-by-step forward pass
// against an independent float64 reference that recomputes every prefix from scratch, and
// the device-side integer tables against the plain C++ reference.
#include "coder/coder-range.hpp"
#include "io/io-tensor-file.hpp"
#include "llm-fixture.hpp"
#include "model/model-llm.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>

using namespace lmgc;
using namespace lmgc::detail;

namespace {

// ---- An independent float64 Llama: plain loops over weights read straight from the file ----

struct ref_llama {
    llm_config c;
    std::map<std::string, std::vector<double>> w;

    explicit ref_llama(const std::string& dir) {
        const auto f = llm_find_files(dir);
        const auto cfg = read_file(f.config);
        c = llm_parse_config(std::string(cfg.begin(), cfg.end()));
        for (const auto& path : f.weights) {
            const auto file = read_file(path);
            for (const auto& t : parse_safetensors(file).tensors) {
                const std::size_t n = t.nbytes / dtype_size(t.type);
                std::vector<double> v(n);
                for (std::size_t i = 0; i < n; ++i) {
                    const std::uint8_t* p = file.data() + t.offset + i * dtype_size(t.type);
                    if (t.type == dtype::f32) {
                        float x;
                        std::memcpy(&x, p, 4);
                        v[i] = x;
                    } else if (t.type == dtype::bf16) {
                        const std::uint32_t u = std::uint32_t{load_le<std::uint16_t>(p)} << 16;
                        float x;
                        std::memcpy(&x, &u, 4);
                        v[i] = x;
                    } else {
                        ADD_FAILURE() << "unexpected dtype";
                    }
                }
                w[t.name] = std::move(v);
            }
        }
    }
    const std::vector<double>& get(const std::string& n) const {
        const auto it = w.find(n);
        if (it == w.end()) throw std::runtime_error("reference: no " + n);
        return it->second;
    }
    // y = W x (+ b), W [out, in] row-major.
    static std::vector<double> matvec(const std::vector<double>& W, const std::vector<double>& x,
                                      std::size_t out, const std::vector<double>* b = nullptr) {
        std::vector<double> y(out);
        const std::size_t in = x.size();
        for (std::size_t o = 0; o < out; ++o) {
            double s = b ? (*b)[o] : 0.0;
            for (std::size_t i = 0; i < in; ++i) s += W[o * in + i] * x[i];
            y[o] = s;
        }
        return y;
    }
    std::vector<double> rms(const std::vector<double>& x, const std::vector<double>& g) const {
        double ss = 0;
        for (const auto v : x) ss += v * v;
        const double r = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + c.rms_norm_eps);
        std::vector<double> y(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] * r * g[i];
        return y;
    }
    void rope(double* v, std::size_t pos) const {
        const auto hd = static_cast<std::size_t>(c.head_dim), half = hd / 2;
        for (std::size_t i = 0; i < half; ++i) {
            const double inv =
                std::pow(c.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(hd));
            const double a = static_cast<double>(pos) * inv;
            const double x1 = v[i], x2 = v[i + half];
            v[i] = x1 * std::cos(a) - x2 * std::sin(a);
            v[i + half] = x2 * std::cos(a) + x1 * std::sin(a);
        }
    }
    const std::vector<double>* opt(const std::string& n) const {
        const auto it = w.find(n);
        return it == w.end() ? nullptr : &it->second;
    }
    // Logits after the last token of seq, recomputing the whole prefix.
    std::vector<double> logits(const std::vector<std::int32_t>& seq) const {
        const auto H = static_cast<std::size_t>(c.hidden_size), L = seq.size();
        const auto hd = static_cast<std::size_t>(c.head_dim),
                   nh = static_cast<std::size_t>(c.n_heads),
                   nkv = static_cast<std::size_t>(c.n_kv_heads),
                   I = static_cast<std::size_t>(c.intermediate_size);
        const auto& emb = get("model.embed_tokens.weight");
        std::vector<std::vector<double>> h(L, std::vector<double>(H));
        for (std::size_t t = 0; t < L; ++t)
            for (std::size_t i = 0; i < H; ++i)
                h[t][i] = emb[static_cast<std::size_t>(seq[t]) * H + i];
        for (std::int64_t l = 0; l < c.n_layers; ++l) {
            const std::string p = "model.layers." + std::to_string(l) + ".";
            std::vector<std::vector<double>> q(L), k(L), v(L);
            for (std::size_t t = 0; t < L; ++t) {
                const auto x = rms(h[t], get(p + "input_layernorm.weight"));
                q[t] = matvec(get(p + "self_attn.q_proj.weight"), x, nh * hd,
                              opt(p + "self_attn.q_proj.bias"));
                k[t] = matvec(get(p + "self_attn.k_proj.weight"), x, nkv * hd,
                              opt(p + "self_attn.k_proj.bias"));
                v[t] = matvec(get(p + "self_attn.v_proj.weight"), x, nkv * hd,
                              opt(p + "self_attn.v_proj.bias"));
                for (std::size_t a = 0; a < nh; ++a) rope(&q[t][a * hd], t);
                for (std::size_t a = 0; a < nkv; ++a) rope(&k[t][a * hd], t);
            }
            for (std::size_t t = 0; t < L; ++t) {
                std::vector<double> att(nh * hd, 0.0);
                for (std::size_t a = 0; a < nh; ++a) {
                    const std::size_t kv = a / (nh / nkv);
                    std::vector<double> s(t + 1);
                    double mx = -1e300;
                    for (std::size_t u = 0; u <= t; ++u) {
                        double d = 0;
                        for (std::size_t i = 0; i < hd; ++i)
                            d += q[t][a * hd + i] * k[u][kv * hd + i];
                        s[u] = d / std::sqrt(static_cast<double>(hd));
                        mx = std::max(mx, s[u]);
                    }
                    double z = 0;
                    for (auto& x : s) z += (x = std::exp(x - mx));
                    for (std::size_t u = 0; u <= t; ++u)
                        for (std::size_t i = 0; i < hd; ++i)
                            att[a * hd + i] += s[u] / z * v[u][kv * hd + i];
                }
                const auto o = matvec(get(p + "self_attn.o_proj.weight"), att, H,
                                      opt(p + "self_attn.o_proj.bias"));
                for (std::size_t i = 0; i < H; ++i) h[t][i] += o[i];
                const auto x = rms(h[t], get(p + "post_attention_layernorm.weight"));
                auto g =
                    matvec(get(p + "mlp.gate_proj.weight"), x, I, opt(p + "mlp.gate_proj.bias"));
                const auto up =
                    matvec(get(p + "mlp.up_proj.weight"), x, I, opt(p + "mlp.up_proj.bias"));
                for (std::size_t i = 0; i < I; ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * up[i];
                const auto dn =
                    matvec(get(p + "mlp.down_proj.weight"), g, H, opt(p + "mlp.down_proj.bias"));
                for (std::size_t i = 0; i < H; ++i) h[t][i] += dn[i];
            }
        }
        const auto x = rms(h[L - 1], get("model.norm.weight"));
        const auto& head = c.tie_word_embeddings ? emb : get("lm_head.weight");
        return matvec(head, x, static_cast<std::size_t>(c.vocab_size));
    }
};

std::vector<double> log2_softmax(const std::vector<double>& x) {
    double mx = -1e300, z = 0;
    for (const auto v : x) mx = std::max(mx, v);
    for (const auto v : x) z += std::exp(v - mx);
    std::vector<double> r(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) r[i] = (x[i] - mx - std::log(z)) / std::log(2.0);
    return r;
}

std::vector<std::vector<std::int32_t>> random_sequences(int n, int len, int vocab,
                                                        std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::vector<std::int32_t>> r(static_cast<std::size_t>(n));
    for (auto& s : r) {
        s.push_back(1); // BOS
        for (int i = 1; i < len; ++i)
            s.push_back(
                static_cast<std::int32_t>(3 + rng() % static_cast<std::uint64_t>(vocab - 3)));
    }
    return r;
}

template <typename Fn> std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const lmgc::error& e) {
        return e.what();
    }
    return "";
}

struct variant {
    const char* name;
    test::tiny_llama t;
};

class llm_forward : public ::testing::TestWithParam<variant> {};

} // namespace

TEST_P(llm_forward, matches_float64_reference_by_prefix_recomputation) {
    if (!test::have_spm_train()) GTEST_SKIP() << "spm_train not installed";
    test::temp_dir d;
    const auto& v = GetParam();
    test::make_tiny_llama(d.path(), v.t);
    llm_load_params lp;
    lp.n_threads = 2;
    const auto model = llm_model::load(d.path(), lp);
    EXPECT_EQ(model->config().tie_word_embeddings, v.t.tied);
    EXPECT_EQ(model->fingerprint().size(), 64u);
    const ref_llama ref(d.path());
    constexpr int B = 3, L = 24;
    const auto seqs = random_sequences(B, L, v.t.vocab, 11);
    llm_batch batch(model, B, 64, {});
    double worst = 0;
    for (int t = 0; t + 1 < L; ++t) {
        std::vector<std::int32_t> in(B);
        for (int b = 0; b < B; ++b)
            in[static_cast<std::size_t>(b)] =
                seqs[static_cast<std::size_t>(b)][static_cast<std::size_t>(t)];
        batch.step(in);
        for (int b = 0; b < B; ++b) {
            const auto& s = seqs[static_cast<std::size_t>(b)];
            const std::vector<std::int32_t> prefix(s.begin(), s.begin() + t + 1);
            const auto want = log2_softmax(ref.logits(prefix));
            const auto got = batch.log2_softmax(b);
            ASSERT_EQ(got.size(), want.size());
            for (std::size_t i = 0; i < got.size(); ++i)
                worst = std::max(worst, std::fabs(got[i] - want[i]));
            // The device's integer table equals the plain C++ reference on the same logits.
            const auto lg = batch.logits(b);
            std::vector<std::uint64_t> cum(lg.size() + 1);
            llm_cdf_from_logits(lg, cum);
            ASSERT_EQ(batch.cdf(b), cum) << "row " << b << " step " << t;
        }
    }
    EXPECT_LT(worst, 1e-3) << "largest |log2 p - reference| in bits";
    RecordProperty("max_abs_delta_bits", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(
    variants, llm_forward,
    ::testing::Values(variant{"gqa_untied", {true, false, llm_dtype::f32, 1, false, 1}},
                      variant{"mha_tied", {false, true, llm_dtype::f32, 1, false, 2}},
                      variant{"gqa_tied_bf16_sharded", {true, true, llm_dtype::bf16, 3, false, 3}},
                      variant{"mha_untied_bias", {false, false, llm_dtype::f32, 2, true, 4}}),
    [](const ::testing::TestParamInfo<variant>& pi) { return std::string(pi.param.name); });

TEST(llm_batch, encode_steps_find_and_prefill_agree) {
    if (!test::have_spm_train()) GTEST_SKIP() << "spm_train not installed";
    test::temp_dir d;
    test::make_tiny_llama(d.path());
    const auto model = llm_model::load(d.path(), {});
    constexpr int B = 4, L = 20;
    const auto seqs = random_sequences(B, L + 1, 320, 5);
    std::vector<std::int32_t> tokens, symbols;
    for (const auto& s : seqs) {
        tokens.insert(tokens.end(), s.begin(), s.begin() + L);
        symbols.insert(symbols.end(), s.begin() + 1, s.begin() + L + 1);
    }
    const std::size_t n = tokens.size();
    std::vector<std::uint64_t> low(n), freq(n);
    std::vector<double> lp(n);
    llm_batch a(model, B, 32, {});
    a.encode_steps(tokens, symbols, L, low, freq, lp);
    // Step by step, with the decoder's search: same intervals, symbols recovered.
    llm_batch b(model, B, 32, {});
    std::vector<float> step_logits;
    for (int t = 0; t < L; ++t) {
        std::vector<std::int32_t> in(B), sym(B), found(B);
        std::vector<std::uint64_t> lo(B), fr(B), target(B), lo2(B), fr2(B);
        for (int r = 0; r < B; ++r) {
            in[static_cast<std::size_t>(r)] = tokens[static_cast<std::size_t>(r * L + t)];
            sym[static_cast<std::size_t>(r)] = symbols[static_cast<std::size_t>(r * L + t)];
        }
        b.step(in);
        b.code(sym, lo, fr);
        for (int r = 0; r < B; ++r) {
            const auto i = static_cast<std::size_t>(r * L + t);
            ASSERT_EQ(lo[static_cast<std::size_t>(r)], low[i]);
            ASSERT_EQ(fr[static_cast<std::size_t>(r)], freq[i]);
            EXPECT_NEAR(
                lp[i],
                b.log2_softmax(r)[static_cast<std::size_t>(sym[static_cast<std::size_t>(r)])],
                1e-5);
            target[static_cast<std::size_t>(r)] = low[i] + (t * 7919 + r) % freq[i];
        }
        b.find(target, found, lo2, fr2);
        EXPECT_EQ(found, sym);
        EXPECT_EQ(lo2, lo);
        EXPECT_EQ(fr2, fr);
        if (t == L - 1) step_logits = b.logits(2);
    }
    // A whole-sequence prefill gives the same logits up to float rounding.
    const auto pre = llm_prefill_logits(*model, tokens, B, L);
    const std::size_t V = 320;
    double worst = 0;
    for (std::size_t i = 0; i < V; ++i)
        worst = std::max(
            worst, static_cast<double>(std::fabs(pre[(2 * L + (L - 1)) * V + i] - step_logits[i])));
    EXPECT_LT(worst, 1e-4);
}

TEST(llm_batch, alphabet_subset) {
    if (!test::have_spm_train()) GTEST_SKIP() << "spm_train not installed";
    test::temp_dir d;
    test::make_tiny_llama(d.path());
    const auto model = llm_model::load(d.path(), {});
    llm_alphabet alpha;
    for (int i = 0; i < 16; ++i) alpha.token_ids.push_back(100 + 3 * i);
    llm_batch full(model, 2, 8, {}), sub(model, 2, 8, alpha);
    const std::vector<std::int32_t> in{1, 1};
    full.step(in);
    sub.step(in);
    EXPECT_EQ(sub.n_symbols(), 16u);
    const auto fl = full.logits(1), sl = sub.logits(1);
    for (int i = 0; i < 16; ++i)
        EXPECT_EQ(sl[static_cast<std::size_t>(i)], fl[static_cast<std::size_t>(100 + 3 * i)]);
    std::vector<std::uint64_t> cum(17);
    llm_cdf_from_logits(sl, cum);
    EXPECT_EQ(sub.cdf(1), cum);
}

TEST(llm_model, load_errors_name_the_problem) {
    if (!test::have_spm_train()) GTEST_SKIP() << "spm_train not installed";
    test::temp_dir d;
    test::make_tiny_llama(d.path());
    // Wrong shape: a config that disagrees with the weights.
    auto cfg = test::read_bytes(d.file("config.json"));
    std::string s(cfg.begin(), cfg.end());
    const auto p = s.find("\"intermediate_size\":48");
    ASSERT_NE(p, std::string::npos) << s;
    s.replace(p, 22, "\"intermediate_size\":40");
    test::write_bytes(d.file("config.json"), test::bytes(s.begin(), s.end()));
    auto e = error_of([&] { llm_model::load(d.path(), {}); });
    EXPECT_NE(e.find("model.layers.0.mlp.gate_proj.weight' has shape [48, 32], config.json implies "
                     "[40, 32]"),
              std::string::npos)
        << e;
    // Missing lm_head with untied embeddings.
    test::temp_dir d2;
    test::make_tiny_llama(d2.path(), {true, true});
    cfg = test::read_bytes(d2.file("config.json"));
    s.assign(cfg.begin(), cfg.end());
    const auto q = s.find("\"tie_word_embeddings\":true");
    ASSERT_NE(q, std::string::npos);
    s.replace(q, 26, "\"tie_word_embeddings\":false");
    test::write_bytes(d2.file("config.json"), test::bytes(s.begin(), s.end()));
    e = error_of([&] { llm_model::load(d2.path(), {}); });
    EXPECT_NE(e.find("no tensor 'lm_head.weight'"), std::string::npos) << e;
    // A tensor of an integer dtype.
    test::temp_dir d3;
    test::make_tiny_llama(d3.path());
    auto w = test::read_bytes(d3.file("model.safetensors"));
    std::string all(w.begin(), w.end());
    const auto r = all.find("\"F32\"");
    ASSERT_NE(r, std::string::npos);
    all.replace(r, 5, "\"I32\"");
    test::write_bytes(d3.file("model.safetensors"), test::bytes(all.begin(), all.end()));
    e = error_of([&] { llm_model::load(d3.path(), {}); });
    EXPECT_NE(e.find("has dtype i32; expected F32, BF16 or F16"), std::string::npos) << e;
    // Devices and dtypes this build cannot run.
    llm_load_params lp;
    lp.device = "tpu";
    EXPECT_NE(error_of([&] { llm_model::load(d.path(), lp); }).find("device must be"),
              std::string::npos);
    lp.device = "cpu";
    lp.dtype = "fp8";
    EXPECT_NE(error_of([&] { llm_model::load(d.path(), lp); }).find("dtype must be"),
              std::string::npos);
    if (!llm_cuda_available()) {
        lp.dtype = "";
        lp.device = "cuda";
        EXPECT_NE(error_of([&] { llm_model::load(d.path(), lp); }).find("no CUDA device"),
                  std::string::npos);
    }
}

TEST(llm_model, bf16_on_cpu_runs) {
    if (!test::have_spm_train()) GTEST_SKIP() << "spm_train not installed";
    test::temp_dir d;
    test::make_tiny_llama(d.path(), {true, false, llm_dtype::bf16});
    llm_load_params lp;
    lp.dtype = "bf16";
    const auto model = llm_model::load(d.path(), lp);
    EXPECT_EQ(model->dtype(), llm_dtype::bf16);
    llm_batch b(model, 2, 8, {});
    b.step(std::vector<std::int32_t>{1, 1});
    const auto lg = b.log2_softmax(0);
    double z = 0;
    for (const auto v : lg) z += std::exp2(v);
    EXPECT_NEAR(z, 1.0, 1e-6);
}

TEST(llm_prior, codes_tokens_through_the_prior_interface) {
    if (!test::have_spm_train()) GTEST_SKIP() << "spm_train not installed";
    test::temp_dir d;
    test::make_tiny_llama(d.path());
    const auto model = llm_model::load(d.path(), {});
    llm_alphabet alpha;
    for (int i = 0; i < 16; ++i) alpha.token_ids.push_back(50 + i);
    llm_prior prior(model, 64, alpha, 1);
    std::mt19937 rng(2);
    std::vector<std::size_t> syms(40);
    for (auto& s : syms) s = rng() % 16;
    bytes coded;
    range_encoder enc(coded);
    for (const auto s : syms) {
        enc.encode(prior.predict(), s);
        prior.update(s);
    }
    enc.finish();
    prior.reset();
    range_decoder dec(coded);
    for (const auto s : syms) {
        const auto got = dec.decode(prior.predict());
        ASSERT_EQ(got, s);
        prior.update(got);
    }
}
