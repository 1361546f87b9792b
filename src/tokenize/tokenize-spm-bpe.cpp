// SentencePiece BPE encoding and decoding, step for step as sentencepiece 0.1.9x does it
// (bpe_model.cc, sentencepiece_processor.cc), so ids agree with spm_encode exactly:
//   1. normalize (tokenize-spm-model.cpp);
//   2. cut into characters, user-defined pieces whole and frozen;
//   3. repeatedly merge the adjacent pair whose concatenation is the best-scoring piece
//      (ties: leftmost), using the same priority queue, so equal cases resolve alike;
//   4. re-segment UNUSED pieces into the pair they were merged from;
//   5. unknown pieces become <0xNN> byte pieces with byte_fallback, otherwise each run of
//      them becomes one <unk>.
#include "tokenize/tokenize-spm-impl.hpp"

#include "common/common-error.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <queue>
#include <tuple>

namespace lmgc::detail {

std::vector<std::pair<std::string_view, int>>
spm_tokenizer::impl::bpe(std::string_view normalized) const {
    std::vector<std::pair<std::string_view, int>> output;
    if (normalized.empty()) return output;

    struct symbol {
        int prev, next;
        bool freeze;
        std::string_view piece;
    };
    struct symbol_pair {
        int left, right;
        float score;
        std::size_t size;
    };
    // Pairs live in a stable pool; the queue orders pointers as sentencepiece does.
    std::deque<symbol_pair> pool;
    struct pair_less {
        bool operator()(const symbol_pair* a, const symbol_pair* b) const {
            return a->score < b->score || (a->score == b->score && a->left > b->left);
        }
    };
    std::priority_queue<const symbol_pair*, std::vector<const symbol_pair*>, pair_less> agenda;
    std::vector<symbol> symbols;
    symbols.reserve(normalized.size());
    std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> rev_merge;

    auto maybe_add_pair = [&](int left, int right) {
        if (left == -1 || right == -1) return;
        const auto& l = symbols[static_cast<std::size_t>(left)];
        const auto& r = symbols[static_cast<std::size_t>(right)];
        if (l.freeze || r.freeze) return;
        const std::string_view piece(l.piece.data(), l.piece.size() + r.piece.size());
        const auto it = merge_map.find(piece);
        if (it == merge_map.end()) return;
        pool.push_back({left, right, scores[static_cast<std::size_t>(it->second)], piece.size()});
        agenda.push(&pool.back());
        if (types[static_cast<std::size_t>(it->second)] == spm_piece_type::unused)
            rev_merge[piece] = {l.piece, r.piece};
    };

    // Characters (UTF-8 lead byte length, as sentencepiece's OneCharLen) or user-defined
    // pieces, which are frozen.
    int index = 0;
    while (!normalized.empty()) {
        symbol s;
        std::size_t len = match_user_defined(normalized);
        s.freeze = len > 0;
        if (!len) {
            static constexpr unsigned char one_char_len[16] = {1, 1, 1, 1, 1, 1, 1, 1,
                                                               1, 1, 1, 1, 2, 2, 3, 4};
            len = std::min<std::size_t>(
                normalized.size(), one_char_len[static_cast<unsigned char>(normalized[0]) >> 4]);
        }
        s.piece = normalized.substr(0, len);
        s.prev = index == 0 ? -1 : index - 1;
        normalized.remove_prefix(len);
        s.next = normalized.empty() ? -1 : index + 1;
        ++index;
        symbols.push_back(s);
    }
    for (std::size_t i = 1; i < symbols.size(); ++i)
        maybe_add_pair(static_cast<int>(i - 1), static_cast<int>(i));

    while (!agenda.empty()) {
        const symbol_pair* top = agenda.top();
        agenda.pop();
        auto& l = symbols[static_cast<std::size_t>(top->left)];
        auto& r = symbols[static_cast<std::size_t>(top->right)];
        // Stale: one side was merged away or grew since the pair was queued.
        if (l.piece.empty() || r.piece.empty() || l.piece.size() + r.piece.size() != top->size)
            continue;
        l.piece = std::string_view(l.piece.data(), l.piece.size() + r.piece.size());
        l.next = r.next;
        if (r.next >= 0) symbols[static_cast<std::size_t>(r.next)].prev = top->left;
        r.piece = std::string_view();
        maybe_add_pair(l.prev, top->left);
        maybe_add_pair(top->left, l.next);
    }

    std::function<void(std::string_view)> resegment = [&](std::string_view w) {
        const int id = spm_piece_to_id(w);
        if (id == -1 || types[static_cast<std::size_t>(id)] != spm_piece_type::unused) {
            output.emplace_back(w, id);
            return;
        }
        const auto p = rev_merge.find(w);
        if (p == rev_merge.end()) {
            output.emplace_back(w, id);
            return;
        }
        resegment(p->second.first);
        resegment(p->second.second);
    };
    for (int i = 0; i != -1; i = symbols[static_cast<std::size_t>(i)].next)
        resegment(symbols[static_cast<std::size_t>(i)].piece);
    return output;
}

void spm_tokenizer::impl::populate(const std::vector<std::pair<std::string_view, int>>& result,
                                   std::vector<int>* ids,
                                   std::vector<std::string>* pieces_out) const {
    static constexpr char hex[] = "0123456789ABCDEF";
    bool is_prev_unk = false;
    for (const auto& [w, id] : result) {
        const auto type = types[static_cast<std::size_t>(id)];
        const bool is_unk = type == spm_piece_type::unknown;
        if (is_unk && byte_fallback) {
            for (const char ch : w) {
                const auto b = static_cast<unsigned char>(ch);
                if (ids) ids->push_back(byte_ids[b]);
                if (pieces_out)
                    pieces_out->push_back(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");
            }
        } else if (is_unk && is_prev_unk) { // a run of unknown pieces is one <unk>
            if (pieces_out) pieces_out->back() += w;
        } else {
            if (ids) ids->push_back(id);
            if (pieces_out) pieces_out->emplace_back(w);
        }
        is_prev_unk = is_unk;
    }
}

std::vector<int> spm_tokenizer::encode(std::string_view text, std::string* normalized) const {
    std::string local;
    std::string& norm = normalized ? *normalized : local;
    norm = p_->normalize(text);
    std::vector<int> ids;
    ids.reserve(norm.size() / 2 + 1);
    p_->populate(p_->bpe(norm), &ids, nullptr);
    return ids;
}

std::vector<std::string> spm_tokenizer::encode_pieces(std::string_view text) const {
    const std::string norm = p_->normalize(text);
    std::vector<std::string> pieces;
    p_->populate(p_->bpe(norm), nullptr, &pieces);
    return pieces;
}

std::string spm_tokenizer::decode(std::span<const int> ids) const {
    const impl& m = *p_;
    LMGC_CHECK(!m.has_denormalizer, errc::unsupported, m.what,
               ": decoding with a denormalization rule is not supported");
    struct item {
        std::string_view piece;
        int id;
    };
    std::vector<item> items;
    items.reserve(ids.size());
    for (const int id : ids) {
        const std::string& w = piece(id);
        items.push_back({w, m.spm_piece_to_id(w)}); // as sentencepiece: id -> piece -> id
    }
    auto type_of = [&](int id) { return m.types[static_cast<std::size_t>(id)]; };

    std::string text;
    // Byte pieces in a row are joined and read as UTF-8; each malformed byte becomes U+FFFD.
    auto flush_bytes = [&](std::size_t begin, std::size_t end) {
        std::string b;
        for (std::size_t i = begin; i < end; ++i) {
            // A byte piece's text is "<0xNN>" (checked when the model was read).
            const std::string_view w = items[i].piece;
            auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'A' + 10; };
            b += static_cast<char>(nibble(w[3]) * 16 + nibble(w[4]));
        }
        std::size_t off = 0;
        while (off < b.size()) {
            std::size_t len = 0;
            bool valid = false;
            spm_decode_utf8(std::string_view(b).substr(off), &len, &valid);
            if (valid)
                text.append(b, off, len);
            else
                text += "\xEF\xBF\xBD";
            off += len;
        }
    };
    auto decode_piece = [&](std::string_view w, int id,
                            bool is_bos_ws) -> std::pair<std::string, bool> {
        const auto t = type_of(id);
        if (t == spm_piece_type::control) return {"", false};
        if (t == spm_piece_type::unknown)
            return {m.pieces[static_cast<std::size_t>(id)] == w ? m.unk_surface : std::string(w),
                    false};
        bool has_bos_ws = false;
        if (is_bos_ws && (m.add_dummy_prefix || m.remove_extra_whitespaces)) {
            if (w.substr(0, spm_space_symbol.size()) == spm_space_symbol) {
                w.remove_prefix(spm_space_symbol.size());
                has_bos_ws = true;
            }
            if (m.remove_extra_whitespaces) has_bos_ws = false;
        }
        std::string out;
        for (std::size_t i = 0; i < w.size();) {
            if (w.substr(i, spm_space_symbol.size()) == spm_space_symbol) {
                out += ' ';
                i += spm_space_symbol.size();
            } else {
                out += w[i++];
            }
        }
        return {out, has_bos_ws};
    };

    std::size_t byte_start = 0;
    bool is_bos_ws = true, bos_ws_seen = false;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (type_of(items[i].id) == spm_piece_type::byte) continue;
        flush_bytes(byte_start, i);
        if (bos_ws_seen || !text.empty()) is_bos_ws = false;
        byte_start = i + 1;
        std::string decoded;
        std::tie(decoded, bos_ws_seen) = decode_piece(items[i].piece, items[i].id, is_bos_ws);
        text += decoded;
    }
    flush_bytes(byte_start, items.size());
    return text;
}

} // namespace lmgc::detail
