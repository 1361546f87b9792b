// lmgc experimental API: calls for the CLI's research subcommands (serialization, tokens,
// model inspection, gradient collection, experiments). May change between versions.
// Each section belongs to one pipeline stage.
#pragma once

#include "lmgc/lmgc.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lmgc::experimental {

// ---- LLM prior (src/model, src/codecs/codec-lm*.cpp). Needs LibTorch: without it every
// call below throws lmgc::error(unsupported). ----

/// Settings of the "lm" codec, as the CLI's --model, --serialization, ... options. Zero or
/// empty means the codec's default (docs/llm.md).
struct llm_settings {
    std::string model;         ///< Hugging Face checkpoint folder (config.json, safetensors, tokenizer.model)
    std::string serialization; ///< "hex-space" (default), "hex-none", "hex-comma", ..., "iso"
    int bytes_per_group = 0;   ///< 4 by default
    std::string tokens;        ///< "canonical" (default) or "symbol"
    int context = 0;           ///< tokens per window including BOS; 2048 by default
    int batch = 0;             ///< windows evaluated together; 4 on CPU, 128 on CUDA by default
    std::string device;        ///< "cpu" (default), "cuda", "cuda:N"
    std::string dtype;         ///< "fp32" (CPU default), "bf16" (CUDA default), "fp16"
    int n_threads = 0;         ///< CPU threads; 0 = all cores
};

/// Whether this build has the LLM prior (LibTorch).
bool llm_available() noexcept;
/// The codec options ({"model", dir}, ...) for the settings that are set.
std::vector<codec_option> llm_codec_options(const llm_settings& s);

/// The model's view of a token sequence.
struct llm_prediction {
    std::vector<int> ids;        ///< the sequence evaluated (BOS first when made from text)
    std::vector<std::string> pieces;
    std::vector<double> log2p;   ///< log2p[i] = log2 P(ids[i+1] | ids[0..i]), float softmax
    std::vector<double> log2q;   ///< the same from the integer table the coder would use
};
/// Runs the model step by step over ids, or over text tokenized with the model's tokenizer
/// (BOS first) when ids is empty.
llm_prediction llm_predict(const llm_settings& s, const std::vector<int>& ids, const std::string& text);

/// What `lmgc analyze` reports: the model's ideal code length next to the real coded size.
struct llm_analysis {
    std::uint64_t tensor_bytes = 0; ///< float tensor bytes coded
    std::uint64_t n_values = 0;     ///< float values
    std::uint64_t n_tokens = 0, n_coded = 0, n_windows = 0;
    double model_bits = 0;          ///< -sum log2 p with the model's float probabilities
    double coded_bits = 0;          ///< -sum log2 p with the integer tables (what the coder pays)
    std::uint64_t payload_bytes = 0; ///< the lm codec's payload (range-coded windows + index)
    bool verified = false;          ///< the payload was decoded back bit-exactly
    double encode_seconds = 0, decode_seconds = 0, tokenize_seconds = 0;
    std::vector<codec_option> params; ///< what the codec records
};
/// Compresses the float tensors of a file with the lm codec in memory (and, with verify,
/// decompresses and compares). Throws lmgc::error.
llm_analysis llm_analyze(const std::string& path, const llm_settings& s, bool verify,
                         input_format format = input_format::auto_detect, progress_fn progress = {});

/// Writes a random-weight LlamaForCausalLM checkpoint with a small synthetic tokenizer into
/// dir: shape "tiny" (hidden 64, 2 layers, GQA) or "tinyllama" (TinyLlama-1.1B's exact
/// shape), dtype "fp32", "bf16" or "fp16". For benchmarks and GPU checks without downloads.
void llm_write_random_model(const std::string& dir, const std::string& shape,
                            const std::string& dtype, std::uint64_t seed = 1);

/// Tokens per second of one whole-sequence (prefill) forward pass of batch x length random
/// tokens, best of `repeats` after one warm-up: what the paper's code ran per window.
double llm_prefill_tokens_per_second(const llm_settings& s, int batch, int length, int repeats = 3);

} // namespace lmgc::experimental
