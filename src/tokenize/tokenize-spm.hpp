// The tokenize stage, part 1: our own reader of a SentencePiece `tokenizer.model` and an
// encoder that gives the same ids as SentencePiece's BPE (Llama, TinyLlama, Llama 2,
// OpenLLaMA), so the tokenizer can run in the same process as LibTorch (Debian's
// libsentencepiece cannot: protobuf clash, see DESIGN.md). Included by tokenize/, the LLM
// prior (model/), the driver and tests.
//
// How to use it (lmgc::detail):
//
//   const spm_tokenizer tok = spm_tokenizer::load("/models/tinyllama");  // folder or file
//   std::vector<int> ids = tok.encode("0000803f 0000803f");  // as `spm_encode
//                                                           // --output_format=id`: no BOS
//   std::string text = tok.decode(ids);                     // as `spm_decode`
//   tok.vocab_size(); tok.bos_id(); tok.eos_id(); tok.unk_id(); tok.pad_id();  // -1: none
//   tok.piece(id);            // "▁the", "<0x0A>", "<s>"
//   tok.piece_to_id("▁the");  // -1 when no piece has that text (SentencePiece gives unk)
//
// What is reproduced: the protobuf ModelProto (pieces with score and type; trainer_spec:
// model_type, byte_fallback, split_digits, treat_whitespace_as_suffix, unk/bos/eos/pad
// pieces, unk_surface; normalizer_spec: add_dummy_prefix, remove_extra_whitespaces,
// escape_whitespaces and the precompiled character map, e.g. nmt_nfkc); normalization with
// the `▁` (U+2581) whitespace symbol; user-defined pieces matched whole before anything else;
// BPE merges by piece score (ties: leftmost first) exactly as sentencepiece's bpe_model.cc,
// including re-segmentation of UNUSED pieces; unknown characters as `<0xNN>` byte pieces
// with byte_fallback, else as one <unk> for each run of unknown pieces; decoding with
// control pieces invisible, byte pieces reassembled into UTF-8 and the dummy prefix
// removed. split_digits only shapes training (the vocabulary then has no piece mixing digits
// with anything), so encoding needs nothing for it; it is reported by has_split_digits().
//
// Not supported, with lmgc::error(unsupported): Unigram, word and char models;
// treat_whitespace_as_suffix. A malformed file throws lmgc::error(bad_input, "<what>: ...").
// Objects are immutable and cheap to copy (shared), and safe to use from many threads.
#pragma once

#include "common/common-bytes.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lmgc::detail {

// ModelProto.SentencePiece.Type values.
enum class spm_piece_type : std::uint8_t {
    normal = 1,
    unknown = 2,
    control = 3,
    user_defined = 4,
    unused = 5,
    byte = 6,
};

// The whitespace symbol SentencePiece writes for ' ' (U+2581, "▁").
inline constexpr std::string_view spm_space_symbol = "\xe2\x96\x81";

// SentencePiece's UTF-8 decoder (util.cc DecodeUTF8) on a non-empty s: the code point and
// its length, or 0xFFFD with *len = 1 for malformed input; *valid as IsValidDecodeUTF8.
std::uint32_t spm_decode_utf8(std::string_view s, std::size_t* len, bool* valid) noexcept;

class spm_tokenizer {
  public:
    // Reads `path`, or `path/tokenizer.model` when path is a folder.
    static spm_tokenizer load(const std::string& path);
    // Parses the bytes of a tokenizer.model; `what` names it in error messages.
    static spm_tokenizer from_bytes(byte_span model, const std::string& what = "tokenizer.model");

    // Token ids of text, exactly as `spm_encode --output_format=id` (no BOS/EOS). If
    // normalized is given, it receives the normalized text the pieces were cut from.
    std::vector<int> encode(std::string_view text, std::string* normalized = nullptr) const;
    // The pieces of encode(text) (as `spm_encode --output_format=piece`).
    std::vector<std::string> encode_pieces(std::string_view text) const;
    // Text of ids, as `spm_decode --input_format=id`. Throws usage on an id out of range.
    std::string decode(std::span<const int> ids) const;
    // The normalized form of text (what BPE cuts into pieces).
    std::string normalize(std::string_view text) const;

    int vocab_size() const noexcept;
    int bos_id() const noexcept; // -1 when the model has none
    int eos_id() const noexcept;
    int unk_id() const noexcept;
    int pad_id() const noexcept;
    // Text of a piece. Throws lmgc::error(usage) when id is out of range.
    const std::string& piece(int id) const;
    spm_piece_type piece_type(int id) const;
    float piece_score(int id) const;
    // Id of the piece with exactly this text, or -1.
    int piece_to_id(std::string_view piece) const noexcept;
    // Id of the byte piece "<0xNN>" for b, or -1 without byte fallback.
    int byte_id(std::uint8_t b) const noexcept;
    // The byte a byte piece stands for, or -1 when id is not a byte piece.
    int piece_byte(int id) const noexcept;

    bool has_byte_fallback() const noexcept;
    bool has_split_digits() const noexcept;
    bool adds_dummy_prefix() const noexcept;
    bool removes_extra_whitespaces() const noexcept;
    bool escapes_whitespaces() const noexcept;
    bool has_charsmap() const noexcept; // a precompiled normalization rule (not "identity")
    // What one ' ' becomes after normalization: "▁", or " " without escape_whitespaces.
    std::string_view space_symbol() const noexcept;
    // CRC-32C of the model file's bytes: a fingerprint for headers.
    std::uint32_t model_crc32c() const noexcept;

    struct impl;

  private:
    explicit spm_tokenizer(std::shared_ptr<const impl> p) : p_(std::move(p)) {}
    std::shared_ptr<const impl> p_;
};

} // namespace lmgc::detail
