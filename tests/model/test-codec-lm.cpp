// The "lm" codec end to end on CPU with tiny random Llama checkpoints: bit-exact round trips
// in both alphabets and several batch sizes, determinism, refusals by name, and a damaged
// window reported as a divergence.
#include "codecs/codec-lm.hpp"
#include "llm-fixture.hpp"
#include "lmgc/research.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

using namespace lmgc;
using namespace lmgc::detail;

namespace {

struct fixture {
    test::temp_dir dir;
    std::string model;
    fixture(test::tiny_llama t = {}) : model(dir.file("m")) { test::make_tiny_llama(model, t); }
};

// A shared model for the round-trip tests (made once).
const std::string& shared_model() {
    static fixture f;
    return f.model;
}

codec_config enc_config(const std::string& model, std::vector<codec_option> extra) {
    codec_config c;
    c.options = {{"model", model}, {"context", "48"}};
    for (auto& o : extra) c.options.push_back(std::move(o));
    return c;
}

codec_config dec_config(const lm_engine& enc, std::vector<codec_option> user) {
    codec_config c;
    c.decoding = true;
    c.recorded = enc.params();
    c.options = std::move(user);
    return c;
}

template <typename Fn> lmgc::error error_of(Fn&& fn) {
    try {
        fn();
    } catch (const lmgc::error& e) {
        return e;
    }
    return lmgc::error(errc::ok, "");
}

#define SKIP_WITHOUT_SPM()                                                                         \
    if (!test::have_spm_train()) GTEST_SKIP() << "spm_train not installed"

struct rt_case {
    const char* name;
    const char* tokens;
    int batch;
    const char* serialization;
};

void PrintTo(const rt_case& c, std::ostream* os) {
    *os << c.name;
}

class lm_round_trip : public ::testing::TestWithParam<rt_case> {};

} // namespace

TEST_P(lm_round_trip, bit_exact) {
    SKIP_WITHOUT_SPM();
    const auto& c = GetParam();
    // 700 bytes: 2 text chunks of 512, windows of 47 tokens -> a window count that no batch
    // size here divides.
    auto data = test::float_bytes(test::gradient_like(175, 9));
    const lm_engine enc(enc_config(shared_model(), {{"tokens", c.tokens},
                                                    {"batch", std::to_string(c.batch)},
                                                    {"serialization", c.serialization}}));
    bytes payload;
    lm_stats st;
    enc.encode(data, dtype::f32, payload, &st, {});
    EXPECT_GT(st.n_windows, 3u);
    if (c.batch > 1) {
        EXPECT_NE(st.n_windows % static_cast<std::uint64_t>(c.batch), 0u)
            << "want a padded last batch";
    }
    EXPECT_NEAR(st.coded_bits, st.model_bits, 0.01 * st.model_bits + 1);
    // The range coder costs at most a few bytes per window above the integer tables' ideal.
    EXPECT_LE(static_cast<double>(payload.size()),
              st.coded_bits / 8 + 10.0 * static_cast<double>(st.n_windows));
    if (std::string(c.tokens) == "symbol" && std::string(c.serialization) == "hex-space") {
        EXPECT_LT(st.n_coded, st.n_tokens); // separators are free
    }
    const lm_engine dec(dec_config(enc, {{"model", shared_model()}}));
    bytes back(data.size());
    std::uint64_t advanced = 0;
    dec.decode(payload, dtype::f32, back, [&](std::uint64_t n) { advanced += n; });
    EXPECT_EQ(back, data);
    EXPECT_EQ(advanced, data.size());
    // Deterministic: the same input codes to the same bytes.
    bytes again;
    enc.encode(data, dtype::f32, again, nullptr, {});
    EXPECT_EQ(again, payload);
}

INSTANTIATE_TEST_SUITE_P(
    cases, lm_round_trip,
    ::testing::Values(rt_case{"canonical_b1", "canonical", 1, "hex-space"},
                      rt_case{"canonical_b3", "canonical", 3, "hex-space"},
                      rt_case{"canonical_b7_comma", "canonical", 7, "hex-comma"},
                      rt_case{"symbol_b3", "symbol", 3, "hex-space"},
                      rt_case{"symbol_b5_none", "symbol", 5, "hex-none"},
                      rt_case{"canonical_iso_b2", "canonical", 2, "iso"}),
    [](const ::testing::TestParamInfo<rt_case>& pi) { return std::string(pi.param.name); });

TEST(lm_codec, special_floats_and_empty) {
    SKIP_WITHOUT_SPM();
    bytes data;
    for (const auto u : test::special_f32_bits(40, 3)) {
        std::uint8_t b[4];
        store_le(b, u);
        data.insert(data.end(), b, b + 4);
    }
    for (const auto* tokens : {"canonical", "symbol"}) {
        const lm_engine enc(enc_config(shared_model(), {{"tokens", tokens}, {"batch", "2"}}));
        bytes payload;
        enc.encode(data, dtype::f32, payload, nullptr, {});
        const lm_engine dec(dec_config(enc, {{"model", shared_model()}}));
        bytes back(data.size());
        dec.decode(payload, dtype::f32, back, {});
        EXPECT_EQ(back, data) << tokens;
        // An empty stream.
        bytes empty_payload;
        enc.encode({}, dtype::f32, empty_payload, nullptr, {});
        bytes none;
        dec.decode(empty_payload, dtype::f32, none, {});
    }
}

TEST(lm_codec, refuses_a_different_model_dtype_or_batch) {
    SKIP_WITHOUT_SPM();
    const lm_engine enc(enc_config(shared_model(), {{"batch", "2"}}));
    // Another model (different weights, same shape and tokenizer).
    fixture other(test::tiny_llama{true, false, llm_dtype::f32, 1, false, 99});
    auto e = error_of([&] { lm_engine(dec_config(enc, {{"model", other.model}})); });
    EXPECT_EQ(e.code(), errc::mismatch);
    EXPECT_NE(std::string(e.what()).find("is not the one the file was compressed with"),
              std::string::npos)
        << e.what();
    e = error_of([&] { lm_engine(dec_config(enc, {{"model", shared_model()}, {"batch", "3"}})); });
    EXPECT_EQ(e.code(), errc::mismatch);
    EXPECT_NE(std::string(e.what()).find("batch=2"), std::string::npos) << e.what();
    e = error_of([&] {
        lm_engine(dec_config(enc, {{"model", shared_model()}, {"dtype", "bf16"}}));
    });
    EXPECT_EQ(e.code(), errc::mismatch);
    EXPECT_NE(std::string(e.what()).find("dtype=fp32"), std::string::npos) << e.what();
    e = error_of([&] { lm_engine(dec_config(enc, {})); });
    EXPECT_EQ(e.code(), errc::usage);
    EXPECT_NE(std::string(e.what()).find("needs --model"), std::string::npos) << e.what();
    // Recorded conditions that this run cannot meet.
    auto cfg = dec_config(enc, {{"model", shared_model()}});
    for (auto& [k, v] : cfg.recorded)
        if (k == "device-class") v = "cuda:Some GPU:sm_90:cudart-12000";
    e = error_of([&] { lm_engine{cfg}; });
    EXPECT_TRUE(e.code() == errc::mismatch || e.code() == errc::unsupported) << e.what();
    cfg = dec_config(enc, {{"model", shared_model()}});
    for (auto& [k, v] : cfg.recorded)
        if (k == "libtorch") v = "0.0.1";
    e = error_of([&] { lm_engine{cfg}; });
    EXPECT_EQ(e.code(), errc::mismatch);
    EXPECT_NE(std::string(e.what()).find("LibTorch 0.0.1"), std::string::npos) << e.what();
}

TEST(lm_codec, damaged_window_is_reported_as_divergence) {
    SKIP_WITHOUT_SPM();
    auto data = test::float_bytes(test::gradient_like(120, 4));
    const lm_engine enc(enc_config(shared_model(), {{"batch", "2"}}));
    bytes payload;
    lm_stats st;
    enc.encode(data, dtype::f32, payload, &st, {});
    ASSERT_GE(st.n_windows, 4u);
    // Find window 2's bytes: header, then (size varint, u16 check) per window.
    byte_reader rd(payload);
    (void)rd.u8();
    (void)rd.varint();
    const auto n = rd.varint();
    std::vector<std::uint64_t> sizes;
    for (std::uint64_t w = 0; w < n; ++w) {
        sizes.push_back(rd.varint());
        (void)rd.le<std::uint16_t>();
    }
    std::size_t at = rd.pos() + sizes[0] + sizes[1];
    ASSERT_GT(sizes[2], 1u);
    payload[at + sizes[2] / 2] ^= 0x40;
    const lm_engine dec(dec_config(enc, {{"model", shared_model()}}));
    bytes back(data.size());
    const auto e = error_of([&] { dec.decode(payload, dtype::f32, back, {}); });
    EXPECT_EQ(e.code(), errc::corrupt);
    EXPECT_NE(std::string(e.what()).find("decoder diverged in window 2 of"), std::string::npos)
        << e.what();
    // Truncated and inconsistent payloads fail cleanly too.
    for (const std::size_t cut :
         {std::size_t{0}, std::size_t{1}, std::size_t{3}, payload.size() - 1}) {
        const auto e2 =
            error_of([&] { dec.decode(byte_span(payload).first(cut), dtype::f32, back, {}); });
        EXPECT_EQ(e2.code(), errc::corrupt) << cut;
    }
}

TEST(lm_codec, through_the_public_api_and_cli) {
    SKIP_WITHOUT_SPM();
    test::temp_dir d;
    const auto values = test::gradient_like(100, 5);
    const auto npy = test::make_npy("<f4", {10, 10}, test::float_bytes(values));
    test::write_bytes(d.file("g.npy"), npy);
    // Public API.
    auto cp = default_compress_params();
    cp.codec = "lm";
    experimental::llm_settings s;
    s.model = shared_model();
    s.context = 40;
    s.batch = 3;
    s.tokens = "symbol";
    cp.codec_options = experimental::llm_codec_options(s);
    compress_stats st;
    const auto image = compress(npy, cp, &st);
    EXPECT_GT(st.payload_bytes, 0u);
    auto dp = default_decompress_params();
    dp.codec_options = {{"model", shared_model()}};
    EXPECT_EQ(decompress(image, dp), npy);
    // The CLI: compress, decompress, compare; a wrong --batch is refused by name.
    const std::string bin = test::lmgc_bin();
    std::string out;
    ASSERT_EQ(test::run(bin + " compress " + d.file("g.npy") + " --model " + shared_model() +
                            " --context 40 --batch 2 -o " + d.file("g.lmgc"),
                        &out),
              0)
        << out;
    ASSERT_EQ(test::run(bin + " decompress " + d.file("g.lmgc") + " --model " + shared_model() +
                            " -o " + d.file("back.npy"),
                        &out),
              0)
        << out;
    EXPECT_EQ(test::read_bytes(d.file("back.npy")), npy);
    EXPECT_EQ(test::run(bin + " decompress " + d.file("g.lmgc") + " --model " + shared_model() +
                            " --batch 4 -f -o " + d.file("x.npy"),
                        &out),
              1);
    EXPECT_NE(out.find("batch=2"), std::string::npos) << out;
    ASSERT_EQ(test::run(bin + " analyze " + d.file("g.npy") + " --model " + shared_model() +
                            " --context 40 -q",
                        &out),
              0)
        << out;
    EXPECT_NE(out.find("decoded back bit-exactly"), std::string::npos) << out;
    ASSERT_EQ(test::run(bin + " predict --model " + shared_model() + " --ids 1,5,9,12", &out), 0)
        << out;
    double a = 1, b = 1, c = 1;
    ASSERT_EQ(std::sscanf(out.c_str(), "%lf %lf %lf", &a, &b, &c), 3) << out;
    EXPECT_LT(a, 0);
    EXPECT_LT(b, 0);
    EXPECT_LT(c, 0);
}

TEST(lm_codec, decoding_does_not_depend_on_the_thread_count) {
    SKIP_WITHOUT_SPM();
    auto data = test::float_bytes(test::gradient_like(128, 6));
    const lm_engine enc(enc_config(shared_model(), {{"batch", "4"}, {"threads", "2"}}));
    bytes payload;
    enc.encode(data, dtype::f32, payload, nullptr, {});
    const lm_engine dec(dec_config(enc, {{"model", shared_model()}, {"threads", "1"}}));
    bytes back(data.size());
    dec.decode(payload, dtype::f32, back, {});
    EXPECT_EQ(back, data);
}
