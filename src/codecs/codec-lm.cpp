// "lm": the paper's LM-GC made to decode. A chunk's floats are serialized (hex text), turned
// into model tokens (canonical or symbol), cut into windows of `context` tokens with BOS, and
// coded window by window with a range coder driven by the LLM's integer frequency tables.
// Windows are evaluated `batch` at a time, step by step; the decoder runs the very same steps
// (same batch shape, padded last batch), so it sees the same tables. Payload: docs/format.md.
#include "codecs/codec-lm.hpp"

#include "coder/coder-range.hpp"
#include "common/common-checksum.hpp"
#include "common/common-error.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace lmgc::detail {
namespace {

constexpr std::string_view lm_version = "1";
// Names the logits -> frequencies procedure of model-llm.hpp; a decoder must implement it.
constexpr std::string_view lm_freq_procedure = "q8-exp-2^31-v1";
constexpr std::uint8_t payload_version = 1;

const std::string* user_option(const codec_config& cfg, std::string_view key) {
    const std::string* v = nullptr;
    for (const auto& [k, val] : cfg.options)
        if (k == key) v = &val;
    return v;
}

const std::string& recorded(const codec_config& cfg, std::string_view key) {
    for (const auto& [k, v] : cfg.recorded)
        if (k == key) return v;
    LMGC_FAIL(errc::corrupt, "the file's lm parameters lack '", key, "'");
}

// Decoding: a setting the user gave must equal what the encoder recorded.
void check_same(const codec_config& cfg, std::string_view key) {
    const auto* u = user_option(cfg, key);
    if (!u) return;
    const auto& r = recorded(cfg, key);
    LMGC_CHECK(*u == r, errc::mismatch, "the file was compressed with ", key, "=", r,
               ", and decoding needs the encoder's exact evaluation: ", key, "=", *u,
               " is refused (leave it out)");
}

std::string base_name(std::string s) {
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    const auto p = s.find_last_of('/');
    return p == std::string::npos ? s : s.substr(p + 1);
}

std::uint16_t window_check(std::span<const int> tokens) {
    std::uint32_t c = 0;
    for (const int t : tokens) {
        std::uint8_t le[4];
        store_le(le, static_cast<std::uint32_t>(t));
        c = crc32c(std::span<const std::uint8_t>(le, 4), c);
    }
    return static_cast<std::uint16_t>(c);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

lm_engine::lm_engine(const codec_config& cfg) {
    // Settings; when decoding, cfg.get() returns what the encoder recorded.
    const auto mode_name = cfg.get_or("serialization", "hex-space");
    const auto mode = serial_mode_from_name(mode_name);
    LMGC_CHECK(mode.has_value(), cfg.decoding ? errc::corrupt : errc::usage,
               "unknown serialization '", mode_name, "'");
    serial_.mode = *mode;
    serial_.bytes_per_group = static_cast<unsigned>(cfg.get_int("bytes-per-group", 4, 1, 8));
    serial_.chunk_bytes =
        static_cast<std::uint64_t>(cfg.get_int("text-chunk-bytes", 512, 0, std::int64_t{1} << 40));
    const auto order = cfg.get_or("byte-order", "little");
    LMGC_CHECK(order == "little" || order == "big", cfg.decoding ? errc::corrupt : errc::usage,
               "byte-order must be little or big, not '", order, "'");
    serial_.order = order == "big" ? serial_byte_order::big : serial_byte_order::little;
    const auto tokens = cfg.get_or("tokens", "canonical");
    LMGC_CHECK(tokens == "canonical" || tokens == "symbol",
               cfg.decoding ? errc::corrupt : errc::usage,
               "tokens must be canonical or symbol, not '", tokens, "'");
    symbol_ = tokens == "symbol";
    context_ = static_cast<int>(cfg.get_int("context", 2048, 2, 1 << 20));
    n_threads_ = static_cast<int>(cfg.get_int("threads", 0, 0, 4096));

    const std::string* dir = user_option(cfg, "model");
    if (!dir) {
        if (cfg.decoding)
            LMGC_FAIL(errc::usage,
                      "decompressing this file needs --model DIR (it was compressed with model '",
                      cfg.get_or("model-name", "?"), "', sha256 ", cfg.get_or("model-sha256", "?"),
                      ")");
        LMGC_FAIL(errc::usage,
                  "the lm codec needs --model DIR (a Hugging Face Llama checkpoint folder)");
    }
    llm_load_params lp;
    lp.n_threads = n_threads_;
    if (cfg.decoding) {
        for (const auto key : {"serialization", "bytes-per-group", "text-chunk-bytes", "byte-order",
                               "tokens", "context", "batch", "dtype"})
            check_same(cfg, key);
        LMGC_CHECK(recorded(cfg, "lm-version") == lm_version, errc::unsupported,
                   "lm payload version ", recorded(cfg, "lm-version"), " is not supported");
        LMGC_CHECK(recorded(cfg, "freq") == lm_freq_procedure, errc::unsupported,
                   "frequency procedure '", recorded(cfg, "freq"),
                   "' is not supported (this lmgc has ", lm_freq_procedure, ")");
        LMGC_CHECK(recorded(cfg, "libtorch") == llm_torch_version(), errc::mismatch,
                   "the file was compressed with LibTorch ", recorded(cfg, "libtorch"),
                   ", this lmgc uses ", llm_torch_version(),
                   ": the logits may differ, decoding is refused");
        const auto& dc = recorded(cfg, "device-class");
        const auto* ud = user_option(cfg, "device");
        lp.device = ud ? *ud : (dc.rfind("cuda", 0) == 0 ? "cuda" : "cpu");
        lp.dtype = recorded(cfg, "dtype");
    } else {
        lp.device = cfg.get_or("device", "cpu");
        lp.dtype = cfg.get_or("dtype", "");
    }
    model_ = llm_model::load(*dir, lp);
    if (cfg.decoding) {
        const auto& want = recorded(cfg, "model-sha256");
        LMGC_CHECK(model_->fingerprint() == want, errc::mismatch, "the model in '", *dir,
                   "' is not the one the file was compressed with (sha256 ",
                   model_->fingerprint().substr(0, 16), "... here, ", want.substr(0, 16),
                   "... in the file, model '", cfg.get_or("model-name", "?"), "')");
        const auto& dc = recorded(cfg, "device-class");
        LMGC_CHECK(model_->device_class() == dc, errc::mismatch,
                   "the file was compressed on device class '", dc, "', this run is on '",
                   model_->device_class(), "': the logits may differ, decoding is refused");
    }
    batch_ = static_cast<int>(
        cfg.get_int("batch", model_->device().rfind("cuda", 0) == 0 ? 128 : 4, 1, 65536));
    LMGC_CHECK(context_ <= model_->config().max_position_embeddings, errc::usage, "context ",
               context_, " exceeds the model's max_position_embeddings (",
               model_->config().max_position_embeddings, ")");
    tok_ = spm_tokenizer::load(model_->files().tokenizer);
    LMGC_CHECK(tok_->vocab_size() <= model_->config().vocab_size, errc::bad_input,
               "the tokenizer has ", tok_->vocab_size(),
               " pieces, more than the model's vocabulary (", model_->config().vocab_size, ")");
    bos_ = tok_->bos_id() >= 0 ? tok_->bos_id() : static_cast<int>(model_->config().bos_token_id);
    if (symbol_)
        alphabet_ = symbol_alphabet_of(*tok_, serial_for(dtype::f32));
    else
        LMGC_CHECK(tok_->has_byte_fallback() || serial_mode_is_hex(serial_.mode), errc::unsupported,
                   "canonical tokens of iso text need a tokenizer with byte fallback");
}

serial_params lm_engine::serial_for(dtype type) const {
    serial_params p = serial_;
    p.type = type;
    // A group never splits an element; byte order reverses whole elements.
    serial_params_check(p);
    return p;
}

std::vector<codec_option> lm_engine::params() const {
    return {{"lm-version", std::string(lm_version)},
            {"model-sha256", model_->fingerprint()},
            {"model-name", base_name(model_->files().dir)},
            {"serialization", std::string(serial_mode_name(serial_.mode))},
            {"bytes-per-group", std::to_string(serial_.bytes_per_group)},
            {"text-chunk-bytes", std::to_string(serial_.chunk_bytes)},
            {"byte-order", std::string(serial_byte_order_name(serial_.order))},
            {"tokens", symbol_ ? "symbol" : "canonical"},
            {"context", std::to_string(context_)},
            {"batch", std::to_string(batch_)},
            {"dtype", std::string(llm_dtype_name(model_->dtype()))},
            {"device-class", model_->device_class()},
            {"libtorch", llm_torch_version()},
            {"freq", std::string(lm_freq_procedure)}};
}

void lm_engine::encode(byte_span raw, dtype type, bytes& out, lm_stats* stats,
                       const std::function<void(std::uint64_t)>& advance,
                       double* coded_bits) const {
    const auto t0 = std::chrono::steady_clock::now();
    const serial_params sp = serial_for(type);
    const std::vector<int> ids =
        symbol_ ? symbol_encode(*alphabet_, raw, sp) : canonical_encode(*tok_, raw, sp, n_threads_);
    const double t_tok = seconds_since(t0);
    const auto windows = cut_windows(ids.size(), static_cast<std::uint32_t>(context_));
    const std::size_t n_win = windows.size();

    llm_alphabet alpha;
    if (symbol_) alpha.token_ids.assign(alphabet_->digit_ids.begin(), alphabet_->digit_ids.end());
    std::optional<llm_batch> lb;
    if (n_win) lb.emplace(model_, batch_, context_, alpha);

    std::vector<bytes> coded(n_win);
    std::vector<std::uint16_t> checks(n_win);
    lm_stats st;
    st.n_tokens = ids.size();
    st.n_windows = n_win;
    const std::size_t B = static_cast<std::size_t>(batch_);
    std::uint64_t reported = 0;
    for (std::size_t first = 0; first < n_win; first += B) {
        // Steps = the longest window of the batch; shorter rows and padding rows are fed BOS.
        std::size_t steps = 0;
        for (std::size_t r = 0; r < B && first + r < n_win; ++r)
            steps = std::max<std::size_t>(steps, windows[first + r].count);
        std::vector<std::int32_t> in(B * steps, bos_), sym(B * steps, 0);
        std::vector<std::uint8_t> is_coded(B * steps, 0);
        for (std::size_t r = 0; r < B && first + r < n_win; ++r) {
            const auto& w = windows[first + r];
            for (std::size_t t = 0; t < w.count; ++t) {
                const auto k = w.first + t;
                if (t > 0) in[r * steps + t] = ids[k - 1];
                if (!symbol_) {
                    sym[r * steps + t] = ids[k];
                    is_coded[r * steps + t] = 1;
                } else if (alphabet_->fixed_at(k) < 0) {
                    sym[r * steps + t] = alphabet_->digit_value(ids[k]);
                    is_coded[r * steps + t] = 1;
                }
            }
        }
        std::vector<std::uint64_t> low(B * steps), freq(B * steps);
        std::vector<double> lp(stats ? B * steps : 0);
        lb->reset();
        lb->encode_steps(in, sym, static_cast<int>(steps), low, freq, lp);
        for (std::size_t r = 0; r < B && first + r < n_win; ++r) {
            const auto& w = windows[first + r];
            range_encoder enc(coded[first + r]);
            for (std::size_t t = 0; t < w.count; ++t) {
                const auto i = r * steps + t;
                if (!is_coded[i]) continue;
                enc.encode(low[i], freq[i], llm_freq_total);
                ++st.n_coded;
                st.coded_bits -=
                    std::log2(static_cast<double>(freq[i]) / static_cast<double>(llm_freq_total));
                if (stats) st.model_bits -= lp[i];
            }
            enc.finish();
            checks[first + r] = window_check(std::span(ids).subspan(w.first, w.count));
        }
        if (advance) {
            const std::uint64_t done = raw.size() * std::min(n_win, first + B) / n_win;
            advance(done - reported);
            reported = done;
        }
    }
    byte_writer wr(out);
    wr.u8(payload_version);
    wr.varint(ids.size());
    wr.varint(n_win);
    for (std::size_t w = 0; w < n_win; ++w) {
        wr.varint(coded[w].size());
        wr.le<std::uint16_t>(checks[w]);
    }
    for (const auto& c : coded) wr.raw(c);
    st.tokenize_seconds = t_tok;
    st.model_seconds = seconds_since(t0) - t_tok;
    if (stats) *stats = st;
    if (coded_bits) *coded_bits = st.coded_bits;
}

void lm_engine::decode(byte_span coded, dtype type, std::span<std::uint8_t> out,
                       const std::function<void(std::uint64_t)>& advance) const {
    const serial_params sp = serial_for(type);
    byte_reader rd(coded, errc::corrupt, "lm payload truncated");
    const auto version = rd.u8();
    LMGC_CHECK(version == payload_version, errc::corrupt, "lm payload version ", int{version},
               " is not supported");
    // Every token costs at least a fraction of a bit, but a hostile count must not make us
    // allocate: a stream of n bytes has at most ~2.5 tokens per byte in any mode.
    const std::uint64_t max_tokens =
        out.size() * 4 + 64 + (serial_.chunk_bytes ? 4 * serial_.chunk_bytes : 0);
    const auto n_tokens = rd.varint_max(max_tokens, "token count");
    const auto windows = cut_windows(n_tokens, static_cast<std::uint32_t>(context_));
    const auto n_win = rd.varint();
    LMGC_CHECK(n_win == windows.size(), errc::corrupt, "lm payload: ", n_win, " windows for ",
               n_tokens, " tokens (expected ", windows.size(), ")");
    if (symbol_) {
        const serial_layout l = serial_layout_of(sp, out.size());
        const auto n_groups = l.n_chunks * l.chunk_bytes / sp.bytes_per_group;
        LMGC_CHECK(n_tokens == alphabet_->stream_tokens(n_groups), errc::corrupt,
                   "lm payload: ", n_tokens, " symbol tokens for ", out.size(), " bytes");
    }
    std::vector<std::uint64_t> sizes(n_win);
    std::vector<std::uint16_t> checks(n_win);
    std::uint64_t total = 0;
    for (std::size_t w = 0; w < n_win; ++w) {
        sizes[w] = rd.varint_max(rd.remaining(), "window size");
        checks[w] = rd.le<std::uint16_t>();
        total += sizes[w];
    }
    LMGC_CHECK(total == rd.remaining(), errc::corrupt, "lm payload: window sizes add up to ", total,
               ", ", rd.remaining(), " bytes remain");
    std::vector<byte_span> spans(n_win);
    for (std::size_t w = 0; w < n_win; ++w) spans[w] = rd.raw(sizes[w]);

    llm_alphabet alpha;
    if (symbol_) alpha.token_ids.assign(alphabet_->digit_ids.begin(), alphabet_->digit_ids.end());
    std::optional<llm_batch> lb;
    if (n_win) lb.emplace(model_, batch_, context_, alpha);
    std::vector<int> ids(n_tokens);
    const std::size_t B = static_cast<std::size_t>(batch_);
    std::uint64_t reported = 0;
    for (std::size_t first = 0; first < n_win; first += B) {
        std::size_t steps = 0;
        std::vector<range_decoder> dec;
        for (std::size_t r = 0; r < B; ++r) {
            if (first + r < n_win) steps = std::max<std::size_t>(steps, windows[first + r].count);
            dec.emplace_back(first + r < n_win ? spans[first + r] : byte_span{});
        }
        lb->reset();
        std::vector<std::int32_t> in(B), sym(B);
        std::vector<std::uint64_t> target(B), low(B), freq(B);
        std::vector<std::uint8_t> is_coded(B);
        for (std::size_t t = 0; t < steps; ++t) {
            for (std::size_t r = 0; r < B; ++r) {
                in[r] = bos_;
                is_coded[r] = 0;
                target[r] = 0;
                if (first + r >= n_win) continue;
                const auto& w = windows[first + r];
                if (t > 0 && t < w.count) in[r] = ids[w.first + t - 1];
                if (t < w.count && (!symbol_ || alphabet_->fixed_at(w.first + t) < 0)) {
                    is_coded[r] = 1;
                    target[r] = dec[r].target(llm_freq_total);
                }
            }
            lb->step(in);
            lb->find(target, sym, low, freq);
            for (std::size_t r = 0; r < B; ++r) {
                if (first + r >= n_win) continue;
                const auto& w = windows[first + r];
                if (t >= w.count) continue;
                const auto k = w.first + t;
                if (is_coded[r]) {
                    dec[r].consume(low[r], freq[r]);
                    ids[k] =
                        symbol_ ? alphabet_->digit_ids[static_cast<std::size_t>(sym[r])] : sym[r];
                } else {
                    ids[k] = alphabet_->fixed_at(k);
                }
            }
        }
        for (std::size_t r = 0; r < B && first + r < n_win; ++r) {
            const auto& w = windows[first + r];
            LMGC_CHECK(
                window_check(std::span(ids).subspan(w.first, w.count)) == checks[first + r],
                errc::corrupt, "decoder diverged in window ", first + r, " of ", n_win,
                " (the file is damaged, or the model's evaluation differs from the encoder's)");
        }
        if (advance) {
            const std::uint64_t done = out.size() * std::min<std::size_t>(n_win, first + B) / n_win;
            advance(done - reported);
            reported = done;
        }
    }
    const bytes back = with_context("lm: tokens to bytes", [&] {
        try {
            return symbol_ ? symbol_decode(*alphabet_, ids, sp, out.size())
                           : canonical_decode(*tok_, ids, sp, out.size());
        } catch (const error& e) {
            throw error(errc::corrupt, e.what());
        }
    });
    LMGC_CHECK(back.size() == out.size(), errc::corrupt, "lm: decoded ", back.size(),
               " bytes, expected ", out.size());
    std::copy(back.begin(), back.end(), out.begin());
}

namespace {

class codec_lm final : public codec_i {
  public:
    explicit codec_lm(const codec_config& cfg) : engine_(cfg) {}
    std::vector<codec_option> params() const override { return engine_.params(); }
    void encode(byte_span raw, const chunk_layout& layout, bytes& out) const override {
        engine_.encode(raw, layout.type, out, nullptr, layout.advance, layout.ideal_bits);
    }
    void decode(byte_span coded, const chunk_layout& layout,
                std::span<std::uint8_t> out) const override {
        engine_.decode(coded, layout.type, out, layout.advance);
    }
    // One chunk at a time: the model uses every core (or the GPU) for a chunk.
    bool parallel() const override { return false; }

  private:
    lm_engine engine_;
};

} // namespace

std::unique_ptr<codec_i> make_codec_lm(const codec_config& cfg) {
    return std::make_unique<codec_lm>(cfg);
}

} // namespace lmgc::detail
