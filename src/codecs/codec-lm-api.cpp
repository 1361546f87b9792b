// The experimental LLM calls (predict, analyze, random models, prefill benchmark) over the lm
// codec's engine. Builds without LibTorch too: the calls that need a model then throw
// unsupported.
#include "lmgc/experimental.hpp"

#include "common/common-error.hpp"
#include "io/io-tensor-file.hpp"
#include "model/model-llm.hpp"
#ifdef LMGC_HAVE_TORCH
#include "codecs/codec-lm.hpp"
#endif

#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <sys/stat.h>

namespace lmgc::experimental {

using namespace lmgc::detail;

bool llm_available() noexcept {
#ifdef LMGC_HAVE_TORCH
    return true;
#else
    return false;
#endif
}

std::vector<codec_option> llm_codec_options(const llm_settings& s) {
    std::vector<codec_option> o;
    if (!s.model.empty()) o.emplace_back("model", s.model);
    if (!s.serialization.empty()) o.emplace_back("serialization", s.serialization);
    if (s.bytes_per_group) o.emplace_back("bytes-per-group", std::to_string(s.bytes_per_group));
    if (!s.tokens.empty()) o.emplace_back("tokens", s.tokens);
    if (s.context) o.emplace_back("context", std::to_string(s.context));
    if (s.batch) o.emplace_back("batch", std::to_string(s.batch));
    if (!s.device.empty()) o.emplace_back("device", s.device);
    if (!s.dtype.empty()) o.emplace_back("dtype", s.dtype);
    if (s.n_threads) o.emplace_back("threads", std::to_string(s.n_threads));
    return o;
}

void llm_write_random_model(const std::string& dir, const std::string& shape,
                            const std::string& dtype, std::uint64_t seed) {
    llm_config c;
    c.architecture = "LlamaForCausalLM";
    double std_dev = 0.02;
    if (shape == "tiny") {
        c.vocab_size = 512;
        c.hidden_size = 64;
        c.intermediate_size = 176;
        c.n_layers = 2;
        c.n_heads = 4;
        c.n_kv_heads = 2;
        c.head_dim = 16;
        c.max_position_embeddings = 4096;
        std_dev = 0.3;
    } else if (shape == "tinyllama") { // TinyLlama-1.1B-Chat-v1.0's config.json
        c.vocab_size = 32000;
        c.hidden_size = 2048;
        c.intermediate_size = 5632;
        c.n_layers = 22;
        c.n_heads = 32;
        c.n_kv_heads = 4;
        c.head_dim = 64;
        c.max_position_embeddings = 2048;
        c.rms_norm_eps = 1e-5;
    } else {
        LMGC_FAIL(errc::usage, "shape must be tiny or tinyllama, not '", shape, "'");
    }
    c.rope_theta = 10000.0;
    c.bos_token_id = 1;
    ::mkdir(dir.c_str(), 0755);
    llm_write_random_checkpoint(dir, c, llm_dtype_from_name(dtype), seed, std_dev);
    llm_write_synthetic_tokenizer(dir + "/tokenizer.model");
}

#ifdef LMGC_HAVE_TORCH

namespace {

codec_config config_of(const llm_settings& s) {
    codec_config cfg;
    cfg.options = llm_codec_options(s);
    return cfg;
}

// What predict and the prefill benchmark load: the model as the settings ask, no fingerprint
// (nothing is written that a decoder would check).
llm_load_params load_params_of(const llm_settings& s) {
    llm_load_params lp;
    lp.device = s.device.empty() ? "cpu" : s.device;
    lp.dtype = s.dtype;
    lp.n_threads = s.n_threads;
    lp.fingerprint = false;
    return lp;
}

} // namespace

llm_prediction llm_predict(const llm_settings& s, const std::vector<int>& ids,
                           const std::string& text) {
    LMGC_CHECK(!s.model.empty(), errc::usage, "predict needs --model DIR");
    const auto model = llm_model::load(s.model, load_params_of(s));
    const auto tok = spm_tokenizer::load(model->files().tokenizer);
    llm_prediction r;
    if (!ids.empty()) {
        r.ids = ids;
    } else {
        r.ids.push_back(tok.bos_id() >= 0 ? tok.bos_id()
                                          : static_cast<int>(model->config().bos_token_id));
        const auto t = tok.encode(text);
        r.ids.insert(r.ids.end(), t.begin(), t.end());
    }
    const auto V = model->config().vocab_size;
    for (const int id : r.ids) {
        LMGC_CHECK(id >= 0 && id < V, errc::usage, "token id ", id, " is outside the vocabulary (",
                   V, ")");
        r.pieces.push_back(id < tok.vocab_size() ? tok.piece(id) : "?");
    }
    LMGC_CHECK(r.ids.size() >= 2, errc::usage, "predict needs at least two tokens");
    LMGC_CHECK(static_cast<std::int64_t>(r.ids.size()) <= model->config().max_position_embeddings,
               errc::usage, r.ids.size(), " tokens exceed the model's max_position_embeddings");
    llm_batch b(model, 1, static_cast<int>(r.ids.size()), {});
    for (std::size_t i = 0; i + 1 < r.ids.size(); ++i) {
        b.step(std::vector<std::int32_t>{r.ids[i]});
        const auto next = static_cast<std::size_t>(r.ids[i + 1]);
        r.log2p.push_back(b.log2_softmax(0)[next]);
        const auto cum = b.cdf(0);
        r.log2q.push_back(std::log2(static_cast<double>(cum[next + 1] - cum[next]) /
                                    static_cast<double>(llm_freq_total)));
    }
    return r;
}

llm_analysis llm_analyze(const std::string& path, const llm_settings& s, bool verify,
                         input_format format, progress_fn progress) {
    const auto file = read_file(path);
    const auto pf = with_context(path, [&] { return parse_tensor_file(file, format); });
    // The float tensors, one stream per element type (as compress() groups them).
    std::map<dtype, bytes> streams;
    for (const auto& t : pf.tensors) {
        if (!dtype_is_float(t.type)) continue;
        auto& sd = streams[t.type];
        const auto at = sd.size();
        sd.insert(sd.end(), file.begin() + static_cast<std::ptrdiff_t>(t.offset),
                  file.begin() + static_cast<std::ptrdiff_t>(t.offset + t.nbytes));
        if (t.big_endian)
            swap_bytes_inplace(std::span(sd).subspan(at, t.nbytes), dtype_size(t.type));
    }
    LMGC_CHECK(!streams.empty(), errc::bad_input, path, ": no float tensors to analyze");
    const lm_engine engine(config_of(s));
    llm_analysis a;
    a.params = engine.params();
    std::uint64_t total = 0, done = 0;
    for (const auto& [t, sd] : streams) total += sd.size() * (verify ? 2 : 1);
    if (progress) progress(0, total);
    auto advance = [&](std::uint64_t n) {
        done += n;
        if (progress) progress(done, total);
    };
    for (const auto& [t, sd] : streams) {
        a.tensor_bytes += sd.size();
        a.n_values += sd.size() / dtype_size(t);
        bytes payload;
        lm_stats st;
        const auto t0 = std::chrono::steady_clock::now();
        engine.encode(sd, t, payload, &st, advance);
        a.encode_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        a.tokenize_seconds += st.tokenize_seconds;
        a.n_tokens += st.n_tokens;
        a.n_coded += st.n_coded;
        a.n_windows += st.n_windows;
        a.model_bits += st.model_bits;
        a.coded_bits += st.coded_bits;
        a.payload_bytes += payload.size();
        if (verify) {
            bytes back(sd.size());
            const auto t1 = std::chrono::steady_clock::now();
            engine.decode(payload, t, back, advance);
            a.decode_seconds +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
            LMGC_CHECK(back == sd, errc::internal,
                       "analyze: the payload did not decode back to the input");
        }
    }
    a.verified = verify;
    return a;
}

double llm_prefill_tokens_per_second(const llm_settings& s, int batch, int length, int repeats) {
    const auto model = llm_model::load(s.model, load_params_of(s));
    std::mt19937 rng(1);
    std::vector<std::int32_t> tokens(static_cast<std::size_t>(batch) *
                                     static_cast<std::size_t>(length));
    for (auto& t : tokens)
        t = static_cast<std::int32_t>(rng() %
                                      static_cast<std::uint32_t>(model->config().vocab_size));
    double best = 0;
    for (int r = 0; r <= repeats; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        (void)llm_prefill_logits(*model, tokens, batch, length, false);
        const double sec =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (r > 0)
            best = std::max(best, static_cast<double>(tokens.size()) / sec); // r = 0 warms up
    }
    return best;
}

#else

llm_prediction llm_predict(const llm_settings&, const std::vector<int>&, const std::string&) {
    LMGC_FAIL(errc::unsupported, "this lmgc is built without LibTorch: no LLM prior");
}
llm_analysis llm_analyze(const std::string&, const llm_settings&, bool, input_format, progress_fn) {
    LMGC_FAIL(errc::unsupported, "this lmgc is built without LibTorch: no LLM prior");
}
double llm_prefill_tokens_per_second(const llm_settings&, int, int, int) {
    LMGC_FAIL(errc::unsupported, "this lmgc is built without LibTorch: no LLM prior");
}

#endif

} // namespace lmgc::experimental
