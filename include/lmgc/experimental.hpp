// lmgc experimental API: calls for the CLI's research subcommands (serialization, tokens,
// model inspection, gradient collection, experiments). May change between versions.
// Each section belongs to one pipeline stage.
#pragma once

#include "lmgc/lmgc.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace lmgc::experimental {

// ---------------------------------------------------------------------------------------
// bench (codecs): the codec benchmark behind `lmgc bench codecs`. Compresses and
// decompresses the same tensor files with each codec, in each chunking mode asked for, all in
// one run; checks every round trip byte for byte (a mismatch is an error, never a number);
// reports rates and the best and median speed of the timed repeats. See docs/codecs.md.
// ---------------------------------------------------------------------------------------

struct codec_bench_params {
    std::vector<std::string> codecs;        ///< names; empty = every built-in codec but "store" and "lm"
    std::vector<std::uint64_t> chunk_bytes; ///< one run per entry, 0 = unchunked; empty = {0}
    int repeats;                            ///< timed repeats after one untimed warm-up, >= 1
    int n_threads;                          ///< threads of each compress/decompress; 0 = all cores
    input_format format;                    ///< how to read the files
    bool u2_as_bf16;                        ///< .npy "<u2" arrays hold bfloat16 values
    progress_fn progress;                   ///< optional: (runs done, runs in all)
};
/// codecs {}, chunk_bytes {0}, repeats 3, n_threads 1 (speeds of one core), format auto.
codec_bench_params default_codec_bench_params();

/// One codec in one chunking mode, summed over all the files.
struct codec_bench_result {
    std::string codec;              ///< the codec asked for
    std::uint64_t chunk_bytes = 0;  ///< 0 = unchunked
    std::string codecs_used;        ///< codec of each stream, "+"-joined and deduplicated,
                                    ///< e.g. "fpzip+zstd" when integer tensors fell back
    std::uint64_t tensor_bytes = 0; ///< tensor data of the files (what rates refer to)
    std::uint64_t output_bytes = 0; ///< the .lmgc files
    std::uint64_t payload_bytes = 0; ///< the coded chunks alone, without container overhead
    double rate_percent = 0;         ///< 100 * output_bytes / tensor_bytes
    double payload_rate_percent = 0; ///< 100 * payload_bytes / tensor_bytes
    /// Tensor megabytes (10^6 bytes) per second over all files, from the fastest and the
    /// median repeat.
    double compress_mbps_best = 0, compress_mbps_median = 0;
    double decompress_mbps_best = 0, decompress_mbps_median = 0;
};

/// Runs every codec in every mode over files (read into memory once, before any timing).
/// Results are ordered by codec, then by mode. Throws lmgc::error: io (unreadable file),
/// bad_input (not a tensor file), usage (unknown codec, bad params), unsupported (codec not
/// built in), internal (a round trip that is not byte-identical, or a codec whose output
/// changes between repeats).
std::vector<codec_bench_result> bench_codecs(const std::vector<std::string>& files,
                                             const codec_bench_params& params);

// ---------------------------------------------------------------------------------------
// serialize / tokenize: the paper's text forms of tensors and the model's tokens of them
// (`lmgc serialize`, `deserialize`, `tokenize`, `tokens`). docs/serialization.md.
// ---------------------------------------------------------------------------------------

/// How tensors become text.
struct serialize_params {
    std::string mode;          ///< "iso", "hex-none", "hex-space", "hex-comma",
                               ///< "hex-comma+space", "hex-semicolon", "hex-0x"
    unsigned bytes_per_group;  ///< bytes per group: 1, 2, 4 or 8
    bool big_endian;           ///< each element sign-and-exponent first (the paper: false)
    std::uint64_t chunk_bytes; ///< bytes per chunk, each serialized alone (the paper: 512);
                               ///< 0: one chunk per stream
    input_format format;       ///< how to read the tensor file
    bool u2_as_bf16;           ///< .npy "<u2" arrays hold bfloat16 values
};
/// hex-space, 4 bytes per group, little-endian, 512-byte chunks, format detected.
serialize_params default_serialize_params();
/// The mode names, in the paper's table order.
std::vector<std::string> serialize_modes();

/// The tensors of a tensor file as text: one stream per element type (in order of first
/// appearance, as `compress` groups them), each cut into chunks; every chunk's text is
/// followed by '\n'. Throws lmgc::error (usage for bad params, bad_input for the file).
std::string serialize_tensors(std::span<const std::uint8_t> file, const serialize_params& params);

/// The inverse: `like` is the original file (or any file with the same tensor layout); the
/// result is `like` with every tensor's bytes taken from text. Malformed text throws
/// lmgc::error(bad_input, "... offset N: ...").
std::vector<std::uint8_t> deserialize_tensors(std::string_view text,
                                              std::span<const std::uint8_t> like,
                                              const serialize_params& params);

/// A SentencePiece BPE tokenizer (the Llama family's) read from a tokenizer.model by lmgc's
/// own reader: ids as `spm_encode --output_format=id` gives them, without BOS. Unigram
/// models throw lmgc::error(unsupported). Cheap to copy; thread-safe.
class tokenizer {
  public:
    /// path: a tokenizer.model file, or a folder holding one.
    static tokenizer load(const std::string& path);
    std::vector<int> encode(std::string_view text) const;
    std::vector<std::string> encode_pieces(std::string_view text) const;
    std::string decode(std::span<const int> ids) const;
    int vocab_size() const;
    int bos_id() const; ///< -1 when there is none
    int eos_id() const;
    int unk_id() const;
    std::string piece(int id) const;

    struct impl;
    const impl& get() const { return *p_; }

  private:
    explicit tokenizer(std::shared_ptr<const impl> p) : p_(std::move(p)) {}
    std::shared_ptr<const impl> p_;
};

/// Token counts of a tensor file's serialization in one mode (what `lmgc tokens` prints).
struct token_count {
    std::string mode;
    std::uint64_t elements = 0;      ///< tensor elements serialized
    std::uint64_t characters = 0;    ///< characters of every chunk text (padding included)
    std::uint64_t tokens = 0;        ///< canonical tokens: the model's tokenizer per chunk,
                                     ///< dummy "▁" dropped (the paper's count)
    std::uint64_t symbol_tokens = 0; ///< one token per character (hex modes; 0 for iso)
    std::uint64_t windows = 0;       ///< windows of `context` tokens (BOS + context-1)
    bool exact = false;              ///< the canonical tokens decoded back to the same bytes
    std::string note;                ///< why tokens is 0 (the tokenizer cannot represent it)
    double tokens_per_element() const {
        return elements ? static_cast<double>(tokens) / static_cast<double>(elements) : 0.0;
    }
};
/// Serializes the file in each of `modes` (other settings from params), tokenizes the text
/// both ways, decodes the canonical tokens back and compares. n_threads 0: all cores.
std::vector<token_count> count_tokens(std::span<const std::uint8_t> file, const tokenizer& tok,
                                      const serialize_params& params,
                                      const std::vector<std::string>& modes,
                                      std::uint32_t context = 2048, int n_threads = 0);
/// The token ids the lm codec codes for each float stream of a tensor file (one stream per
/// element type, as `compress` groups them): the stream serialized with params in one mode,
/// then `scheme` "canonical" (the tokenizer per chunk, dummy "▁" dropped) or "symbol" (one
/// token per character, hex modes only); no BOS, no windows. For training and checking
/// models on exactly what the codec sees (`lmgc tokens --dump`). Throws lmgc::error (usage
/// for a bad scheme or mode, unsupported when the tokenizer cannot represent the text).
std::vector<std::vector<int>> stream_tokens(std::span<const std::uint8_t> file,
                                            const tokenizer& tok, const serialize_params& params,
                                            const std::string& scheme, int n_threads = 0);

// ---------------------------------------------------------------------------------------
// collect: gradient collection. Trains the paper's networks (convnet, vgg16, resnet18, vit)
// with LibTorch and saves the gradient of every parameter every grad_interval steps, before
// the optimizer step, as grad_<step>.safetensors (and .npy with flat_npy). See
// docs/collect.md. In a build without LibTorch every call but collect_available(),
// default_collect_params() and collect_dataset() throws lmgc::error(errc::unsupported).
// ---------------------------------------------------------------------------------------

/// Whether this build can train (was built with LibTorch).
bool collect_available() noexcept;

/// What the progress callback sees after each training step.
struct collect_step_info {
    std::uint64_t step = 0;        ///< steps done, 1-based
    std::uint64_t total_steps = 0; ///< steps of the whole run
    int epoch = 0;                 ///< 1-based
    double loss = 0;               ///< mean training loss of the epoch so far
    double accuracy = 0;           ///< training accuracy of the epoch so far, in %
    double lr = 0;                 ///< learning rate used for this step
    double steps_per_second = 0;   ///< since the start of training
    std::string saved_file;        ///< the gradient file written at this step, or ""
};
using collect_progress_fn = std::function<void(const collect_step_info&)>;

struct collect_params {
    std::string arch;            ///< convnet, vgg16, resnet18, vit
    std::string dataset;         ///< fashion-mnist, mnist, cifar10, tinyimagenet, synthetic
    std::string data_dir;        ///< "" = the dataset's default folder (fashion-mnist only)
    int epochs;                  ///< run length in epochs when steps is 0
    std::uint64_t steps;         ///< run length in steps; 0 = use epochs
    std::uint64_t grad_interval; ///< save gradients every N steps (the paper: 400)
    int batch;                   ///< batch size (the paper: 128)
    std::string optimizer;       ///< "" = the arch's recipe (sgd; vit: adamw), or sgd, adamw
    double lr;                   ///< 0 = the default: sgd 0.1; adamw 1e-3 (one-cycle peak)
    double momentum;             ///< sgd momentum (0.9)
    double weight_decay;         ///< < 0 = default: sgd 5e-4; adamw 0.1 on conv/linear weights
    bool augment;                ///< the paper's data augmentation for the dataset
    std::uint64_t seed;          ///< weights, shuffling, augmentation, dropout
    std::string device;          ///< "cpu", "cuda", "cuda:1"
    int n_threads;               ///< CPU threads for LibTorch; 0 = all cores
    std::string out_dir;         ///< created if missing
    bool flat_npy;               ///< also write grad_<step>.npy, the flat float32 vector
    bool overwrite;              ///< replace gradient files already in out_dir
    bool evaluate;               ///< measure test accuracy at the end (needs the test split)
    // The synthetic dataset: random class templates plus noise, so that it is learnable.
    int synthetic_channels, synthetic_size, synthetic_classes, synthetic_samples;
    collect_progress_fn progress; ///< optional, called after every step
};
collect_params default_collect_params();

/// Input shape and class count of a dataset as the networks see it (no images are read).
struct collect_dataset_info {
    std::string name;
    int channels = 0, height = 0, width = 0, classes = 0;
    std::string default_dir;    ///< "" when the dataset needs --data
    std::string expected_files; ///< what must be in the folder, for messages and docs
};
/// Throws lmgc::error(usage) for an unknown dataset name.
collect_dataset_info collect_dataset(const collect_params& params);

/// One trainable parameter, in the network's parameter order.
struct collect_param_info {
    std::string name;
    std::vector<std::int64_t> shape;
    std::uint64_t numel = 0;
};

/// The network that collect_gradients would train, built but not trained.
struct collect_model_info {
    std::string arch, dataset;
    int channels = 0, height = 0, width = 0, classes = 0; ///< the input the network takes
    std::uint64_t n_params = 0;
    std::vector<collect_param_info> params;
    std::string description; ///< the layers, one per line
};
collect_model_info collect_describe(const collect_params& params);

struct collect_summary {
    std::uint64_t steps = 0;
    int epochs = 0;            ///< epochs started
    double final_loss = 0;     ///< mean loss of the last epoch
    double final_accuracy = 0; ///< training accuracy of the last epoch, %
    double test_accuracy = -1; ///< with evaluate, else -1
    std::uint64_t n_params = 0;
    std::vector<std::string> files; ///< gradient files written, in order
    std::uint64_t bytes_written = 0;
    double seconds = 0;      ///< training time, without loading data
    double load_seconds = 0; ///< loading (and decoding) the dataset
    double steps_per_second = 0;
    std::string device; ///< as used, e.g. "cpu (2 threads)"
};

/// Trains and writes gradient files. Throws lmgc::error: usage for bad parameters, io for a
/// missing dataset (naming the expected files), bad_input for malformed dataset files.
collect_summary collect_gradients(const collect_params& params);

/// Training speed of one architecture on synthetic data of the paper's shape.
struct collect_bench_result {
    std::string arch;
    std::uint64_t n_params = 0;
    int batch = 0;
    double median_steps_per_second = 0;
    double best_steps_per_second = 0;
    int timed_steps = 0;
};
/// Times `steps` training steps per arch after `warmup` untimed ones, with params' batch,
/// device, threads and synthetic shape (arch and dataset are ignored).
std::vector<collect_bench_result> collect_benchmark(const collect_params& params,
                                                    const std::vector<std::string>& archs,
                                                    int warmup, int steps);

// ---------------------------------------------------------------------------------------
// LLM prior (src/model, src/codecs/codec-lm*.cpp): the paper's LM-GC, decodable. Needs
// LibTorch: without it every call below throws lmgc::error(unsupported). docs/llm.md.
// ---------------------------------------------------------------------------------------

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
