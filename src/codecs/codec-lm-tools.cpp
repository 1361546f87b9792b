// The LLM tools over the lm codec's engine: predict, analyze and the prefill benchmark.
// Built into the LibTorch module; the research library forwards experimental::llm_* here.
#include "codecs/codec-lm.hpp"
#include "common/common-error.hpp"
#include "io/io-tensor-file.hpp"
#include "lmgc/research.hpp"
#include "model/model-llm.hpp"

#include <chrono>
#include <cmath>
#include <map>
#include <random>

namespace lmgc::torch_impl {

using namespace lmgc::detail;
using namespace lmgc::experimental;

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

} // namespace lmgc::torch_impl
