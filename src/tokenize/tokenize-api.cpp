// The public tokenize calls: the tokenizer handle and the token counts `lmgc tokens` prints.
#include "serialize/serialize-streams.hpp"
#include "tokenize/tokenize-tokens.hpp"

#include "common/common-error.hpp"

namespace lmgc::experimental {

using namespace detail;

struct tokenizer::impl {
    spm_tokenizer tok;
};

tokenizer tokenizer::load(const std::string& path) {
    return tokenizer(std::make_shared<const impl>(impl{spm_tokenizer::load(path)}));
}
std::vector<int> tokenizer::encode(std::string_view text) const {
    return p_->tok.encode(text);
}
std::vector<std::string> tokenizer::encode_pieces(std::string_view text) const {
    return p_->tok.encode_pieces(text);
}
std::string tokenizer::decode(std::span<const int> ids) const {
    return p_->tok.decode(ids);
}
int tokenizer::vocab_size() const {
    return p_->tok.vocab_size();
}
int tokenizer::bos_id() const {
    return p_->tok.bos_id();
}
int tokenizer::eos_id() const {
    return p_->tok.eos_id();
}
int tokenizer::unk_id() const {
    return p_->tok.unk_id();
}
std::string tokenizer::piece(int id) const {
    return p_->tok.piece(id);
}

namespace {

std::uint64_t count_chars(std::string_view s) {
    std::uint64_t n = 0;
    for (const char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
    return n;
}

} // namespace

std::vector<token_count> count_tokens(std::span<const std::uint8_t> file, const tokenizer& tk,
                                      const serialize_params& params,
                                      const std::vector<std::string>& modes, std::uint32_t context,
                                      int n_threads) {
    const spm_tokenizer& tok = tk.get().tok;
    const parsed_file pf = parse_for_serialize(file, params);
    const auto streams = tensor_streams(file, pf);
    std::vector<token_count> out;
    for (const auto& mode : modes) {
        serialize_params mp = params;
        mp.mode = mode;
        token_count row;
        row.mode = mode;
        row.exact = true;
        for (const auto& s : streams) {
            const serial_params p = serial_params_from(mp, s.type);
            row.elements += s.data.size() / dtype_size(s.type);
            const auto texts = serialize_stream(s.data, p);
            for (const auto& t : texts) row.characters += count_chars(t);
            if (row.note.empty()) {
                try {
                    const auto ids = canonical_tokens(tok, texts, n_threads);
                    row.tokens += ids.size();
                    row.windows += cut_windows(ids.size(), context).size();
                    if (canonical_decode(tok, ids, p, s.data.size()) != s.data) row.exact = false;
                } catch (const error& e) {
                    if (e.code() != errc::unsupported) throw;
                    row.note = e.what();
                    row.tokens = row.windows = 0;
                    row.exact = false;
                }
            }
            if (serial_mode_is_hex(p.mode)) {
                try {
                    const auto a = symbol_alphabet_of(tok, p);
                    const auto ids = symbol_encode(a, s.data, p);
                    row.symbol_tokens += ids.size();
                    if (symbol_decode(a, ids, p, s.data.size()) != s.data) row.exact = false;
                } catch (const error& e) {
                    if (e.code() != errc::unsupported) throw;
                    if (row.note.empty()) row.note = e.what();
                    row.exact = false;
                }
            }
        }
        out.push_back(std::move(row));
    }
    return out;
}

std::vector<std::vector<int>> stream_tokens(std::span<const std::uint8_t> file, const tokenizer& tk,
                                            const serialize_params& params,
                                            const std::string& scheme, int n_threads) {
    LMGC_CHECK(scheme == "canonical" || scheme == "symbol", errc::usage,
               "token scheme must be canonical or symbol, not '", scheme, "'");
    const spm_tokenizer& tok = tk.get().tok;
    const parsed_file pf = parse_for_serialize(file, params);
    std::vector<std::vector<int>> out;
    for (const auto& s : tensor_streams(file, pf)) {
        const serial_params p = serial_params_from(params, s.type);
        if (scheme == "canonical") {
            out.push_back(canonical_encode(tok, s.data, p, n_threads));
        } else {
            LMGC_CHECK(serial_mode_is_hex(p.mode), errc::usage,
                       "symbol tokens need a hex serialization, not ", serial_mode_name(p.mode));
            out.push_back(symbol_encode(symbol_alphabet_of(tok, p), s.data, p));
        }
    }
    return out;
}

} // namespace lmgc::experimental
