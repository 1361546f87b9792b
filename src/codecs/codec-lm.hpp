// The "lm" codec's engine: serialize -> tokenize -> LLM prior (batched windows, KV cache) ->
// range coder, and back. Shared by the codec (codec-lm.cpp) and the experimental LLM calls
// (analyze, predict). Needs LibTorch at link time; this header is torch-free.
#pragma once

#include "codecs/codec.hpp"
#include "model/model-llm.hpp"
#include "serialize/serialize-text.hpp"
#include "tokenize/tokenize-tokens.hpp"

#include <functional>
#include <memory>
#include <optional>

namespace lmgc::detail {

// What the encoder measured besides the coded bytes.
struct lm_stats {
    std::uint64_t n_tokens = 0; // model tokens of the stream (BOS not counted)
    std::uint64_t n_coded = 0;  // tokens that were coded (symbol mode skips separators)
    std::uint64_t n_windows = 0;
    double model_bits = 0; // -sum log2 p of the model's float softmax
    double coded_bits = 0; // -sum log2 (freq / total): what the integer tables cost
    double tokenize_seconds = 0;
    double model_seconds = 0; // the evaluation + coding
};

class lm_engine {
  public:
    // Reads the options (see docs/llm.md); when decoding, checks the recorded params against
    // the user's options and the loaded model and throws mismatch naming what differs.
    explicit lm_engine(const codec_config& cfg);

    std::vector<codec_option> params() const;
    // coded_bits, if given, receives -sum log2(freq / total) of the coded tokens.
    void encode(byte_span raw, dtype type, bytes& out, lm_stats* stats,
                const std::function<void(std::uint64_t)>& advance,
                double* coded_bits = nullptr) const;
    void decode(byte_span coded, dtype type, std::span<std::uint8_t> out,
                const std::function<void(std::uint64_t)>& advance) const;

    const llm_model& model() const { return *model_; }
    std::shared_ptr<llm_model> model_ptr() const { return model_; }
    const spm_tokenizer& tokenizer() const { return *tok_; }
    int bos_id() const { return bos_; }
    int batch() const { return batch_; }
    int context() const { return context_; }
    bool symbol_tokens() const { return symbol_; }

  private:
    serial_params serial_for(dtype type) const;

    std::shared_ptr<llm_model> model_;
    std::optional<spm_tokenizer> tok_;
    serial_params serial_;
    bool symbol_ = false;
    std::optional<symbol_alphabet> alphabet_;
    int context_ = 2048;
    int batch_ = 4;
    int bos_ = 1;
    int n_threads_ = 0;
};

} // namespace lmgc::detail
