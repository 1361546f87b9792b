// lmgc experimental API: the core library's calls that may change between versions — the
// paper's serializations and tokenization. The research tools (bench, collect, the LLM
// tools) are in research.hpp. Each section belongs to one pipeline stage.
#pragma once

#include "lmgc/lmgc.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lmgc::experimental {

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

} // namespace lmgc::experimental
