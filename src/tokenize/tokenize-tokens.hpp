// The tokenize stage, part 2: serialized text to the token ids a language model reads, two
// ways, each with its exact inverse, and the cutting of a token stream into windows.
// Included by the LLM prior (model/), the driver and tests.
//
// How to use it (lmgc::detail; `tok` an spm_tokenizer, `p` serial_params, `stream` bytes):
//
//   // canonical: what the paper does, the model's own tokenization of every chunk
//   std::vector<int> ids = canonical_encode(tok, stream, p);
//   bytes back = canonical_decode(tok, ids, p, stream.size());   // == stream
//   canonical_reader r(tok, p, stream.size());   // or token by token, while decoding:
//   r.push(id); ... r.done(); r.bytes();         // knows when the stream is complete
//
//   // symbol: one model token per hex digit and per separator character
//   const symbol_alphabet a = symbol_alphabet_of(tok, p);
//   std::vector<int> ids = symbol_encode(a, stream, p);
//   a.fixed_at(k);          // -1: position k is a hex digit, code it over a.digit_ids
//                           // (16 ids, digit value v <-> a.digit_ids[v]); else the one
//                           // token id that must stand there (separator, "0x"): 0 bits
//   bytes back = symbol_decode(a, ids, p, stream.size());
//
//   // windows: BOS + context-1 stream tokens each (the paper: context 2048)
//   for (const token_window& w : cut_windows(ids.size(), 2048))
//       std::vector<int> input = window_input(ids, w, tok.bos_id());
//
// canonical, precisely: chunk texts are tokenized one by one (no BOS); the first token is
// dropped when it is the lone whitespace piece "▁" that the dummy prefix produced (the paper
// drops ids 1 and 29871 for Llama); the rest are concatenated. The inverse joins the pieces'
// text (byte pieces as their bytes) and re-cuts it into chunks, knowing each chunk's length;
// a "▁" at the start of a chunk is the dummy prefix merged into the first piece ("▁ab"),
// since no hex chunk text starts with a space. Where the paper's scheme is not invertible
// and what lmgc does instead:
//   - iso chunks whose first byte is 0x20: the paper drops every leading lone "▁", losing
//     that byte; lmgc drops the dummy "▁" only when the text does not start with a space,
//     so exactly one leading "▁" is always the dummy prefix (identical to the paper for
//     every hex mode and every other iso chunk);
//   - characters the tokenizer cannot represent (no piece, no byte fallback: <unk>) or that
//     its normalizer changes (e.g. nmt_nfkc, remove_extra_whitespaces on iso text): encoding
//     refuses with lmgc::error(unsupported) naming the offset, rather than emit tokens that
//     would not decode to the same bytes. Llama-family tokenizers (identity normalization,
//     byte fallback) represent every mode.
//
// symbol, precisely: the padded stream's groups in text order, the separator's tokens
// between every two groups (across chunk boundaries too, so the pattern never changes),
// "0x"'s tokens before each group in hex-0x mode. A character's token is the model's piece
// for that single character (' ' is "▁"), else its <0xNN> byte piece. Hex modes only.
//
// Errors: a token stream that is not a valid encoding throws lmgc::error(bad_input,
// "canonical tokens: token K: ..." / "symbol tokens: token K: ...").
#pragma once

#include "serialize/serialize-text.hpp"
#include "tokenize/tokenize-spm.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lmgc::detail {

// --- canonical ---

// Canonical tokens of one chunk's text. Throws unsupported when they would not decode back
// to exactly this text (see above).
std::vector<int> canonical_chunk_tokens(const spm_tokenizer& tok, std::string_view chunk_text);

// Canonical tokens of every chunk, concatenated. Chunks are tokenized on up to n_threads
// threads (0: all cores). If chunk_ends is given it receives, per chunk, the index one past
// its last token.
std::vector<int> canonical_tokens(const spm_tokenizer& tok,
                                  std::span<const std::string> chunk_texts, int n_threads = 1,
                                  std::vector<std::uint64_t>* chunk_ends = nullptr);
// serialize_stream + canonical_tokens.
std::vector<int> canonical_encode(const spm_tokenizer& tok, byte_span stream,
                                  const serial_params& p, int n_threads = 1);

// Follows a canonical token stream one token at a time and rebuilds the chunk texts and
// bytes. Throws bad_input as soon as a token cannot continue a valid stream.
class canonical_reader {
  public:
    canonical_reader(const spm_tokenizer& tok, const serial_params& p, std::uint64_t stream_bytes);
    // Adds the next token. Throws bad_input for control or unknown pieces, characters no
    // serialization writes, malformed chunk text, or tokens past the end of the stream.
    void push(int id);
    // Every chunk is complete (no token may follow).
    bool done() const noexcept { return chunk_ == layout_.n_chunks; }
    std::uint64_t chunks_done() const noexcept { return chunk_; }
    std::uint64_t tokens() const noexcept { return n_tokens_; }
    // The stream's bytes (padding removed). Throws bad_input when the stream is incomplete.
    bytes finish() const;
    // The chunk texts read so far.
    const std::vector<std::string>& texts() const noexcept { return texts_; }

  private:
    void take_chars();
    const spm_tokenizer* tok_;
    serial_params p_;
    serial_layout layout_;
    std::string pending_; // piece bytes not yet read as characters
    std::string current_; // characters of the chunk being read
    std::uint64_t chars_ = 0;
    std::uint64_t chunk_ = 0;
    std::uint64_t n_tokens_ = 0;
    bool at_chunk_start_ = true;
    bytes out_;
    std::vector<std::string> texts_;
};

// The inverse of canonical_tokens / canonical_encode.
std::vector<std::string> canonical_texts(const spm_tokenizer& tok, std::span<const int> ids,
                                         const serial_params& p, std::uint64_t stream_bytes);
bytes canonical_decode(const spm_tokenizer& tok, std::span<const int> ids, const serial_params& p,
                       std::uint64_t stream_bytes);

// --- symbol ---

struct symbol_alphabet {
    std::array<int, 16> digit_ids{}; // token of '0'..'9', 'a'..'f'
    std::vector<int> separator_ids;  // tokens between two groups, in order (maybe none)
    std::vector<int> prefix_ids;     // tokens before every group, in order ("0x")
    std::uint32_t digits_per_group = 8;

    // Tokens per group with the separator before it.
    std::uint64_t period() const noexcept {
        return separator_ids.size() + prefix_ids.size() + digits_per_group;
    }
    // Tokens of a stream of n_groups groups.
    std::uint64_t stream_tokens(std::uint64_t n_groups) const noexcept {
        return n_groups ? n_groups * period() - separator_ids.size() : 0;
    }
    // -1 when position k holds a hex digit; else the token id fixed at k.
    int fixed_at(std::uint64_t k) const noexcept;
    // 0..15 for a digit token, else -1.
    int digit_value(int id) const noexcept;
};

// Throws usage for iso mode, unsupported when a character has neither a piece nor a byte
// piece.
symbol_alphabet symbol_alphabet_of(const spm_tokenizer& tok, const serial_params& p);
std::vector<int> symbol_encode(const symbol_alphabet& a, byte_span stream, const serial_params& p);
bytes symbol_decode(const symbol_alphabet& a, std::span<const int> ids, const serial_params& p,
                    std::uint64_t stream_bytes);

// --- windows ---

// A window is BOS followed by stream tokens [first, first + count).
struct token_window {
    std::uint64_t first = 0;
    std::uint64_t count = 0;
};
// Disjoint windows of context - 1 stream tokens each (the last may hold fewer); context >= 2.
std::vector<token_window> cut_windows(std::uint64_t n_tokens, std::uint32_t context);
// BOS + the window's tokens; when pad_id >= 0, padded with pad_id to context tokens (the
// paper pads the last window with EOS).
std::vector<int> window_input(std::span<const int> ids, const token_window& w, int bos_id,
                              std::uint32_t context = 0, int pad_id = -1);

} // namespace lmgc::detail
