// Serialized text <-> model tokens: the canonical scheme (the model's own tokenization of each
// chunk, as the paper), the symbol scheme (one token per character, fixed alphabet per
// position) and windows. See tokenize-tokens.hpp for the exact definitions.
#include "tokenize/tokenize-tokens.hpp"

#include "common/common-error.hpp"
#include "common/common-parallel.hpp"

#include <algorithm>

namespace lmgc::detail {
namespace {

// The text the normalizer must produce for the canonical inverse to be exact: the dummy
// prefix, then the text with every ' ' written as the whitespace symbol.
std::string expected_normalized(const spm_tokenizer& tok, std::string_view text) {
    std::string out;
    if (text.empty()) return out;
    const auto ws = tok.space_symbol();
    if (tok.adds_dummy_prefix()) out += ws;
    for (const char c : text) {
        if (c == ' ')
            out += ws;
        else
            out += c;
    }
    return out;
}

std::uint64_t to_u64(std::size_t v) {
    return static_cast<std::uint64_t>(v);
}

} // namespace

// --- canonical ---

std::vector<int> canonical_chunk_tokens(const spm_tokenizer& tok, std::string_view chunk_text) {
    std::string norm;
    std::vector<int> ids = tok.encode(chunk_text, &norm);
    const std::string want = expected_normalized(tok, chunk_text);
    if (norm != want) {
        std::size_t at = 0;
        while (at < norm.size() && at < want.size() && norm[at] == want[at]) ++at;
        LMGC_FAIL(errc::unsupported,
                  "canonical tokens: the tokenizer's normalization changes the "
                  "serialized text (normalized byte ",
                  at,
                  "), so its tokens would not decode to the same bytes; use symbol tokens or "
                  "a tokenizer with identity normalization");
    }
    for (std::size_t i = 0; i < ids.size(); ++i)
        if (tok.piece_type(ids[i]) == spm_piece_type::unknown)
            LMGC_FAIL(errc::unsupported,
                      "canonical tokens: the tokenizer has no piece (and no byte "
                      "fallback) for '",
                      tok.encode_pieces(chunk_text).at(i),
                      "' in the serialized text, so its tokens would not decode exactly");
    // Drop the dummy prefix when it stands alone; keep it when the text itself starts with a
    // space (iso), so that one leading whitespace symbol is always the dummy.
    if (tok.adds_dummy_prefix() && !ids.empty() && chunk_text.front() != ' ' &&
        tok.piece_type(ids.front()) != spm_piece_type::byte &&
        tok.piece(ids.front()) == tok.space_symbol())
        ids.erase(ids.begin());
    return ids;
}

std::vector<int> canonical_tokens(const spm_tokenizer& tok,
                                  std::span<const std::string> chunk_texts, int n_threads,
                                  std::vector<std::uint64_t>* chunk_ends) {
    std::vector<std::vector<int>> per(chunk_texts.size());
    parallel_for(chunk_texts.size(), resolve_threads(n_threads), [&](std::size_t c) {
        per[c] = with_context(concat("chunk ", c),
                              [&] { return canonical_chunk_tokens(tok, chunk_texts[c]); });
    });
    std::size_t total = 0;
    for (const auto& v : per) total += v.size();
    std::vector<int> ids;
    ids.reserve(total);
    if (chunk_ends) chunk_ends->clear();
    for (const auto& v : per) {
        ids.insert(ids.end(), v.begin(), v.end());
        if (chunk_ends) chunk_ends->push_back(to_u64(ids.size()));
    }
    return ids;
}

std::vector<int> canonical_encode(const spm_tokenizer& tok, byte_span stream,
                                  const serial_params& p, int n_threads) {
    const auto texts = serialize_stream(stream, p);
    return canonical_tokens(tok, texts, n_threads);
}

canonical_reader::canonical_reader(const spm_tokenizer& tok, const serial_params& p,
                                   std::uint64_t stream_bytes)
    : tok_(&tok), p_(p), layout_(serial_layout_of(p, stream_bytes)) {
    out_.resize(layout_.n_chunks * layout_.chunk_bytes);
}

void canonical_reader::push(int id) {
    const auto k = n_tokens_;
    LMGC_CHECK(!done(), errc::bad_input, "canonical tokens: token ", k,
               ": the stream is already complete");
    LMGC_CHECK(id >= 0 && id < tok_->vocab_size(), errc::bad_input, "canonical tokens: token ", k,
               ": id ", id, " is out of range (", tok_->vocab_size(), " pieces)");
    const auto type = tok_->piece_type(id);
    LMGC_CHECK(type != spm_piece_type::control && type != spm_piece_type::unknown, errc::bad_input,
               "canonical tokens: token ", k, ": '", tok_->piece(id), "' (id ", id,
               ") is a control or unknown piece, which no serialized text gives");
    if (type == spm_piece_type::byte) {
        pending_ += static_cast<char>(tok_->piece_byte(id));
    } else {
        pending_ += tok_->piece(id);
    }
    take_chars();
    ++n_tokens_;
}

void canonical_reader::take_chars() {
    const std::string_view ws = tok_->space_symbol();
    const bool escaped = tok_->escapes_whitespaces();
    std::size_t at = 0;
    auto fail = [&](const std::string& why) {
        LMGC_FAIL(errc::bad_input, "canonical tokens: token ", n_tokens_, ": chunk ", chunk_, ": ",
                  why);
    };
    while (chunk_ < layout_.n_chunks && at < pending_.size()) {
        // One character: the whitespace symbol, or a UTF-8 character of at most U+00FF.
        const auto lead = static_cast<unsigned char>(pending_[at]);
        const std::size_t len = lead < 0x80             ? 1
                                : (lead & 0xe0) == 0xc0 ? 2
                                : (lead & 0xf0) == 0xe0 ? 3
                                                        : 4;
        if (pending_.size() - at < len) break; // wait for the rest of the character
        const std::string_view ch(pending_.data() + at, len);
        bool is_space = ch == ws;
        if (!is_space) {
            std::size_t n = 0;
            bool valid = false;
            const auto cp = spm_decode_utf8(ch, &n, &valid);
            if (!valid || n != len) fail("malformed UTF-8 in the pieces' text");
            if (cp > 0xff) fail(concat("character U+", std::hex, cp, " is in no serialization"));
            if (escaped && cp == 0x20) fail("a raw space, which the tokenizer would have escaped");
        }
        at += len;
        if (at_chunk_start_) {
            at_chunk_start_ = false;
            if (is_space && tok_->adds_dummy_prefix()) continue; // the dummy prefix
        }
        if (is_space)
            current_ += ' ';
        else
            current_.append(ch);
        if (++chars_ == layout_.chunk_chars) {
            with_context(concat("canonical tokens: token ", n_tokens_, ": chunk ", chunk_), [&] {
                parse_chunk(
                    current_, p_,
                    std::span(out_).subspan(chunk_ * layout_.chunk_bytes, layout_.chunk_bytes));
            });
            texts_.push_back(std::move(current_));
            current_.clear();
            chars_ = 0;
            ++chunk_;
            at_chunk_start_ = true;
        }
    }
    pending_.erase(0, at);
    if (done() && !pending_.empty()) fail("the token runs past the end of the stream");
}

bytes canonical_reader::finish() const {
    LMGC_CHECK(done(), errc::bad_input, "canonical tokens: the stream ends after ", n_tokens_,
               " tokens inside chunk ", chunk_, " of ", layout_.n_chunks);
    bytes out = out_;
    for (std::uint64_t i = layout_.stream_bytes; i < out.size(); ++i)
        LMGC_CHECK(out[i] == 0, errc::bad_input, "canonical tokens: padding byte ",
                   i - layout_.stream_bytes, " of the last chunk is not zero");
    out.resize(layout_.stream_bytes);
    return out;
}

std::vector<std::string> canonical_texts(const spm_tokenizer& tok, std::span<const int> ids,
                                         const serial_params& p, std::uint64_t stream_bytes) {
    canonical_reader r(tok, p, stream_bytes);
    for (const int id : ids) r.push(id);
    r.finish();
    return r.texts();
}

bytes canonical_decode(const spm_tokenizer& tok, std::span<const int> ids, const serial_params& p,
                       std::uint64_t stream_bytes) {
    canonical_reader r(tok, p, stream_bytes);
    for (const int id : ids) r.push(id);
    return r.finish();
}

// --- symbol ---

namespace {

int char_token(const spm_tokenizer& tok, char c) {
    const std::string s = c == ' ' ? std::string(tok.space_symbol()) : std::string(1, c);
    const int id = tok.piece_to_id(s);
    if (id >= 0) {
        const auto t = tok.piece_type(id);
        if (t == spm_piece_type::normal || t == spm_piece_type::user_defined) return id;
    }
    const int b = tok.byte_id(static_cast<std::uint8_t>(c));
    LMGC_CHECK(b >= 0, errc::unsupported, "symbol tokens: the tokenizer has no piece for '", c,
               "' and no byte fallback");
    return b;
}

std::vector<int> string_tokens(const spm_tokenizer& tok, std::string_view s) {
    std::vector<int> out;
    for (const char c : s) out.push_back(char_token(tok, c));
    return out;
}

} // namespace

int symbol_alphabet::fixed_at(std::uint64_t k) const noexcept {
    const std::uint64_t s = separator_ids.size();
    std::uint64_t r = (k + s) % period();
    if (r < s) return separator_ids[r];
    r -= s;
    if (r < prefix_ids.size()) return prefix_ids[r];
    return -1;
}

int symbol_alphabet::digit_value(int id) const noexcept {
    for (int v = 0; v < 16; ++v)
        if (digit_ids[static_cast<std::size_t>(v)] == id) return v;
    return -1;
}

symbol_alphabet symbol_alphabet_of(const spm_tokenizer& tok, const serial_params& p) {
    serial_params_check(p);
    LMGC_CHECK(serial_mode_is_hex(p.mode), errc::usage, "symbol tokens need a hex mode, not ",
               serial_mode_name(p.mode));
    symbol_alphabet a;
    static constexpr char digits[] = "0123456789abcdef";
    for (std::size_t v = 0; v < 16; ++v) a.digit_ids[v] = char_token(tok, digits[v]);
    for (std::size_t v = 0; v < 16; ++v)
        for (std::size_t w = 0; w < v; ++w)
            LMGC_CHECK(a.digit_ids[v] != a.digit_ids[w], errc::unsupported,
                       "symbol tokens: hex digits '", digits[v], "' and '", digits[w],
                       "' share a token");
    a.separator_ids = string_tokens(tok, serial_separator(p.mode));
    a.prefix_ids = string_tokens(tok, serial_group_prefix(p.mode));
    a.digits_per_group = 2 * p.bytes_per_group;
    return a;
}

std::vector<int> symbol_encode(const symbol_alphabet& a, byte_span stream, const serial_params& p) {
    const serial_layout l = serial_layout_of(p, stream.size());
    LMGC_CHECK(serial_mode_is_hex(p.mode) && a.digits_per_group == 2 * p.bytes_per_group,
               errc::usage, "symbol tokens: the alphabet was made for other parameters");
    const std::size_t mask = p.order == serial_byte_order::big ? dtype_size(p.type) - 1 : 0;
    const std::uint64_t padded = l.n_chunks * l.chunk_bytes;
    const std::uint64_t n_groups = padded / p.bytes_per_group;
    std::vector<int> out;
    out.reserve(a.stream_tokens(n_groups));
    for (std::uint64_t g = 0; g < n_groups; ++g) {
        if (g) out.insert(out.end(), a.separator_ids.begin(), a.separator_ids.end());
        out.insert(out.end(), a.prefix_ids.begin(), a.prefix_ids.end());
        for (std::uint64_t j = g * p.bytes_per_group; j < (g + 1) * p.bytes_per_group; ++j) {
            const std::uint64_t src = j ^ mask;
            const std::uint8_t b = src < stream.size() ? stream[src] : 0;
            out.push_back(a.digit_ids[b >> 4]);
            out.push_back(a.digit_ids[b & 15]);
        }
    }
    return out;
}

bytes symbol_decode(const symbol_alphabet& a, std::span<const int> ids, const serial_params& p,
                    std::uint64_t stream_bytes) {
    const serial_layout l = serial_layout_of(p, stream_bytes);
    LMGC_CHECK(serial_mode_is_hex(p.mode) && a.digits_per_group == 2 * p.bytes_per_group,
               errc::usage, "symbol tokens: the alphabet was made for other parameters");
    const std::size_t mask = p.order == serial_byte_order::big ? dtype_size(p.type) - 1 : 0;
    const std::uint64_t padded = l.n_chunks * l.chunk_bytes;
    const std::uint64_t n_groups = padded / p.bytes_per_group;
    LMGC_CHECK(ids.size() == a.stream_tokens(n_groups), errc::bad_input,
               "symbol tokens: ", ids.size(), " tokens for a stream of ", stream_bytes,
               " bytes, which takes ", a.stream_tokens(n_groups));
    bytes out(padded);
    std::uint64_t nibble = 0; // digits so far
    for (std::uint64_t k = 0; k < ids.size(); ++k) {
        const int fixed = a.fixed_at(k);
        if (fixed >= 0) {
            LMGC_CHECK(ids[k] == fixed, errc::bad_input, "symbol tokens: token ", k, ": id ",
                       ids[k], " where the separator token ", fixed, " belongs");
            continue;
        }
        const int v = a.digit_value(ids[k]);
        LMGC_CHECK(v >= 0, errc::bad_input, "symbol tokens: token ", k, ": id ", ids[k],
                   " is not a hex digit token");
        const std::uint64_t byte = nibble / 2;
        auto& b = out[byte ^ mask];
        b = static_cast<std::uint8_t>(nibble % 2 ? (b | v) : (v << 4));
        ++nibble;
    }
    for (std::uint64_t i = stream_bytes; i < out.size(); ++i)
        LMGC_CHECK(out[i] == 0, errc::bad_input, "symbol tokens: padding byte ", i - stream_bytes,
                   " is not zero");
    out.resize(stream_bytes);
    return out;
}

// --- windows ---

std::vector<token_window> cut_windows(std::uint64_t n_tokens, std::uint32_t context) {
    LMGC_CHECK(context >= 2, errc::usage, "a window needs room for BOS and one token (context ",
               context, ")");
    const std::uint64_t per = context - 1;
    std::vector<token_window> out;
    out.reserve((n_tokens + per - 1) / per);
    for (std::uint64_t first = 0; first < n_tokens; first += per)
        out.push_back({first, std::min(per, n_tokens - first)});
    return out;
}

std::vector<int> window_input(std::span<const int> ids, const token_window& w, int bos_id,
                              std::uint32_t context, int pad_id) {
    LMGC_CHECK(w.first <= ids.size() && w.count <= ids.size() - w.first, errc::usage, "window [",
               w.first, ", +", w.count, ") is outside the ", ids.size(), " tokens");
    LMGC_CHECK(bos_id >= 0, errc::usage, "the tokenizer has no BOS piece");
    std::vector<int> out;
    out.reserve(std::max<std::uint64_t>(w.count + 1, context));
    out.push_back(bos_id);
    out.insert(out.end(), ids.begin() + static_cast<std::ptrdiff_t>(w.first),
               ids.begin() + static_cast<std::ptrdiff_t>(w.first + w.count));
    if (pad_id >= 0) {
        LMGC_CHECK(out.size() <= context, errc::usage, "window of ", out.size(),
                   " tokens is longer than the context ", context);
        out.resize(context, pad_id);
    }
    return out;
}

} // namespace lmgc::detail
