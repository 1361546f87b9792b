// The LLM prior: a Llama-family checkpoint in Hugging Face layout (config.json, safetensors,
// tokenizer.model), evaluated step by step over batches of windows with a static KV cache,
// and turned into integer cumulative frequencies for the range coder. No LibTorch types
// here (pimpl): only src/model/model-llm-torch.cpp includes torch. Included by the lm codec,
// the experimental API and tests.
#pragma once

#include "common/common-bytes.hpp"
#include "model/model-prior.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lmgc::detail {

// What config.json says about the architecture. Only LlamaForCausalLM is supported.
struct llm_config {
    std::string architecture;
    std::int64_t vocab_size = 0;
    std::int64_t hidden_size = 0;
    std::int64_t intermediate_size = 0;
    std::int64_t n_layers = 0;
    std::int64_t n_heads = 0;
    std::int64_t n_kv_heads = 0; // grouped-query attention when < n_heads
    std::int64_t head_dim = 0;   // hidden_size / n_heads unless config.json says otherwise
    std::int64_t max_position_embeddings = 0;
    double rope_theta = 10000.0;
    double rms_norm_eps = 1e-6;
    bool tie_word_embeddings = false;
    bool attention_bias = false; // q/k/v/o projections carry biases
    bool mlp_bias = false;       // gate/up/down projections carry biases
    std::int64_t bos_token_id = 1;
};

// Parses config.json. Throws bad_input naming a missing or malformed key, unsupported for
// another architecture, hidden_act other than silu, or a non-null rope_scaling.
llm_config llm_parse_config(std::string_view json_text);
// The config.json text of a config (for writing test and benchmark checkpoints).
std::string llm_config_json(const llm_config& c, std::string_view torch_dtype);

// The files of a checkpoint folder.
struct llm_files {
    std::string dir;
    std::string config;               // config.json
    std::string tokenizer;            // tokenizer.model
    std::string index;                // model.safetensors.index.json, or "" for a single file
    std::vector<std::string> weights; // model.safetensors or the shards, in order
};
// Finds the files; throws io naming the first one missing.
llm_files llm_find_files(const std::string& dir);

// SHA-256 fingerprint of a checkpoint (lowercase hex): of config.json, tokenizer.model and
// every weights file, each hashed in 64 MiB blocks on up to n_threads threads
// (docs/llm.md gives the exact construction).
std::string llm_fingerprint(const llm_files& files, int n_threads);

enum class llm_dtype : std::uint8_t { f32, bf16, f16 };
std::string_view llm_dtype_name(llm_dtype t) noexcept; // "fp32", "bf16", "fp16"
// Accepts fp32/f32/float32, bf16/bfloat16, fp16/f16/float16; throws usage otherwise.
llm_dtype llm_dtype_from_name(std::string_view name);

struct llm_load_params {
    std::string device = "cpu"; // "cpu", "cuda" or "cuda:N"
    std::string dtype;          // "" = fp32 on CPU, bf16 on CUDA
    int n_threads = 0;          // CPU threads for LibTorch; 0 = all cores
    bool fingerprint = true;    // compute the SHA-256 fingerprint while loading
};

class llm_model {
  public:
    // Loads a checkpoint folder. Weights are memory-mapped; on CPU in the file's own dtype
    // they are used in place, otherwise converted once (the mapping is then released).
    // Throws io (missing file), bad_input (malformed config, tensor of the wrong shape or
    // dtype), unsupported (architecture, device or dtype not available).
    static std::shared_ptr<llm_model> load(const std::string& dir, const llm_load_params& params);
    ~llm_model();
    llm_model(const llm_model&) = delete;
    llm_model& operator=(const llm_model&) = delete;

    const llm_config& config() const;
    const llm_files& files() const;
    const std::string& fingerprint() const; // "" when not computed
    llm_dtype dtype() const;
    std::string device() const; // "cpu", "cuda:0"
    // What must match between encoder and decoder besides the model and LibTorch:
    // "cpu:x86_64-avx2", "cuda:NVIDIA H100 80GB HBM3:sm_90".
    std::string device_class() const;
    // Number of weights and their bytes in the compute dtype.
    std::uint64_t n_params() const;

    struct impl;
    impl& get() const { return *p_; }

  private:
    llm_model();
    std::unique_ptr<impl> p_;
};

// The LibTorch version this build uses ("1.13.0").
std::string llm_torch_version();
// Whether LibTorch sees a CUDA device.
bool llm_cuda_available();

// ---- Integer frequencies (exact integer code; see docs/llm.md) ----
//
// A row of float32 logits over an alphabet of n symbols becomes a cumulative table with
// cum[0] = 0, cum[n] = llm_freq_total and every frequency >= 1:
//   q_i   = round_half_even(clamp(nan_to_num(x_i), -2^20, 2^20) * 2^8)   exact in float32
//   d_i   = min(max_j q_j - q_i, llm_freq_d_max)
//   w_i   = llm_exp_table()[d_i]  (= round(2^30 exp(-d / 256)), made with integer arithmetic)
//   C_s   = sum_{i<s} w_i,  W = C_n,  K = floor((llm_freq_total - n) * 2^32 / W)
//   cum_s = s + floor(C_s * K / 2^32) for s < n,  cum_n = llm_freq_total.
// The only floating-point step is the scaling by 2^8 and rounding, both exact, so every
// device and every implementation (plain C++ here, torch integer ops on the device) gives
// the same table for the same logits.
constexpr unsigned llm_freq_total_bits = 31;
constexpr std::uint64_t llm_freq_total = std::uint64_t{1} << llm_freq_total_bits;
constexpr int llm_freq_logit_frac_bits = 8;
constexpr std::int64_t llm_freq_d_max = 8191;
constexpr std::size_t llm_freq_max_symbols = 262144;

// The weight table, llm_freq_d_max + 1 entries.
std::span<const std::int64_t> llm_exp_table();
// The reference implementation of the procedure above. cum must have logits.size() + 1 entries.
void llm_cdf_from_logits(std::span<const float> logits, std::span<std::uint64_t> cum);

// ---- Step-by-step evaluation of a batch of windows ----

// The symbols coded at each step: the whole vocabulary (token_ids empty), or a subset of
// tokens (the 16 hex digits), symbol i standing for token_ids[i].
struct llm_alphabet {
    std::vector<std::int32_t> token_ids;
};

// A batch of `batch` rows (windows), each evaluated one token at a time up to `context`
// positions, with a preallocated KV cache. All rows advance together, so the shapes of
// every step depend only on (batch, position): the encoder and the decoder that run the
// same calls get bit-identical logits.
class llm_batch {
  public:
    llm_batch(std::shared_ptr<llm_model> model, int batch, int context, llm_alphabet alphabet);
    ~llm_batch();
    llm_batch(const llm_batch&) = delete;
    llm_batch& operator=(const llm_batch&) = delete;

    int batch() const;
    int context() const;
    std::size_t n_symbols() const; // alphabet size
    int position() const;          // steps taken since reset()

    // All rows back to position 0 (the cache is overwritten, not cleared).
    void reset();
    // Feeds tokens[b] to row b at the current position; the prediction for the next
    // position is kept on the device. tokens.size() == batch.
    void step(std::span<const std::int32_t> tokens);

    // After a step: for each row, the coder interval [low, low + freq) of symbol[b] (an
    // alphabet index) out of llm_freq_total. Encoder side.
    void code(std::span<const std::int32_t> symbols, std::span<std::uint64_t> low,
              std::span<std::uint64_t> freq);
    // After a step: for each row, the symbol whose interval holds target[b] (< llm_freq_total)
    // and that interval. Decoder side.
    void find(std::span<const std::uint64_t> targets, std::span<std::int32_t> symbols,
              std::span<std::uint64_t> low, std::span<std::uint64_t> freq);

    // The encoder's whole-batch path: runs n_steps steps feeding tokens[b * n_steps + t] and
    // codes symbols[b * n_steps + t] after step t (any value in [0, n) where nothing is
    // coded), with no host round trip per step. low/freq are laid out like symbols.
    // log2p, if not empty, receives the model's float log2 probability of each symbol.
    // Leaves the batch at position n_steps. Gives the same intervals as step() + code().
    void encode_steps(std::span<const std::int32_t> tokens, std::span<const std::int32_t> symbols,
                      int n_steps, std::span<std::uint64_t> low, std::span<std::uint64_t> freq,
                      std::span<double> log2p = {});

    // After a step, row b: float32 logits over the alphabet, the integer table made from
    // them on the device (n + 1 entries), float64 log2-softmax over the alphabet.
    std::vector<float> logits(int row) const;
    std::vector<std::uint64_t> cdf(int row) const;
    std::vector<double> log2_softmax(int row) const;

  private:
    struct impl;
    std::unique_ptr<impl> p_;
};

// The LLM as a model_prior_i (one window, batch 1): predict() evaluates the token fed by the
// last update() (BOS after reset()) and returns its integer table. For tools and tests that
// code one token at a time; the lm codec batches windows with llm_batch instead.
class llm_prior final : public model_prior_i {
  public:
    llm_prior(std::shared_ptr<llm_model> model, int context, llm_alphabet alphabet, int bos_id);
    cdf_view predict() override;
    void update(std::size_t symbol) override;
    void reset() override;

  private:
    llm_batch batch_;
    std::vector<std::int32_t> token_of_; // symbol -> token id (empty: identity)
    std::int32_t bos_;
    std::int32_t pending_;
    bool evaluated_ = false;
    std::vector<std::uint64_t> cum_;
};

// Logits of a whole-sequence (prefill) forward pass with a causal mask: tokens is
// [batch][length] row-major; returns float32 [batch][length][vocab]. For benchmarks and
// tests only: coding always uses llm_batch.
std::vector<float> llm_prefill_logits(llm_model& model, std::span<const std::int32_t> tokens,
                                      int batch, int length, bool keep_logits = true);

// Writes a random-weight LlamaForCausalLM checkpoint (config.json, model.safetensors or
// n_shards shards with an index) into dir; weights ~ N(0, std) from a fixed-seed generator,
// norms 1. The tokenizer is not written. For tests and benchmarks.
void llm_write_random_checkpoint(const std::string& dir, const llm_config& c, llm_dtype file_dtype,
                                 std::uint64_t seed, double std, int n_shards = 1);

// Writes a small Llama-like SentencePiece BPE tokenizer.model (specials, 256 byte pieces,
// "▁", hex digits, separators and a few merges of hex letters), for random-weight models on
// machines without spm_train (scripts/gpu-check, benchmarks).
void llm_write_synthetic_tokenizer(const std::string& path);

} // namespace lmgc::detail
