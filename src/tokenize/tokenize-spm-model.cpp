// Reading a SentencePiece tokenizer.model (protobuf wire format, proto2 defaults) into an
// spm_tokenizer, the checks sentencepiece's ModelInterface::InitializePieces makes, and the
// normalizer (normalizer.cc): user-defined pieces kept whole, the precompiled character map
// looked up in its darts-clone double array, whitespace escaped to U+2581.
#include "tokenize/tokenize-spm-impl.hpp"

#include "common/common-checksum.hpp"
#include "common/common-error.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>

namespace lmgc::detail {
namespace {

// Protobuf wire types.
constexpr unsigned wire_varint = 0, wire_fixed64 = 1, wire_len = 2, wire_fixed32 = 5;

// A reader of one protobuf message: fields in order, unknown ones skipped.
class pb_message {
  public:
    pb_message(byte_span data, const std::string& what)
        : r_(data, errc::bad_input, what + ": truncated protobuf"), what_(what) {}

    // Reads the next field key; false at the end of the message.
    bool next() {
        if (r_.at_end()) return false;
        const auto key = r_.varint();
        field_ = key >> 3;
        wire_ = static_cast<unsigned>(key & 7);
        LMGC_CHECK(field_ != 0, errc::bad_input, what_, ": protobuf field number 0 at offset ",
                   r_.pos());
        return true;
    }
    std::uint64_t field() const { return field_; }

    std::uint64_t varint() {
        expect(wire_varint);
        return r_.varint();
    }
    bool boolean() { return varint() != 0; }
    std::int32_t int32() { return static_cast<std::int32_t>(varint()); }
    float f32() {
        expect(wire_fixed32);
        return r_.le<float>();
    }
    byte_span bytes() {
        expect(wire_len);
        return r_.blob();
    }
    std::string string() {
        const auto b = bytes();
        return std::string(b.begin(), b.end());
    }
    void skip() {
        switch (wire_) {
        case wire_varint:
            r_.varint();
            break;
        case wire_fixed64:
            r_.raw(8);
            break;
        case wire_len:
            r_.blob();
            break;
        case wire_fixed32:
            r_.raw(4);
            break;
        default:
            LMGC_FAIL(errc::bad_input, what_, ": unsupported protobuf wire type ", wire_,
                      " (field ", field_, ") at offset ", r_.pos());
        }
    }

  private:
    void expect(unsigned wire) {
        LMGC_CHECK(wire_ == wire, errc::bad_input, what_, ": protobuf field ", field_,
                   " has wire type ", wire_, ", expected ", wire, " (not a tokenizer.model?)");
    }
    byte_reader r_;
    std::string what_;
    std::uint64_t field_ = 0;
    unsigned wire_ = 0;
};

struct trainer_fields {
    int model_type = 1; // UNIGRAM
    bool byte_fallback = false;
    bool split_digits = false;
    bool treat_whitespace_as_suffix = false;
    std::string unk_piece = "<unk>", bos_piece = "<s>", eos_piece = "</s>", pad_piece = "<pad>";
    std::string unk_surface = " \xE2\x81\x87 ";
};

struct normalizer_fields {
    std::string name;
    std::string charsmap;
    bool add_dummy_prefix = true;
    bool remove_extra_whitespaces = true;
    bool escape_whitespaces = true;
};

trainer_fields read_trainer(byte_span data, const std::string& what) {
    trainer_fields t;
    pb_message m(data, what + ": trainer_spec");
    while (m.next()) {
        switch (m.field()) {
        case 3:
            t.model_type = m.int32();
            break;
        case 35:
            t.byte_fallback = m.boolean();
            break;
        case 25:
            t.split_digits = m.boolean();
            break;
        case 24:
            t.treat_whitespace_as_suffix = m.boolean();
            break;
        case 45:
            t.unk_piece = m.string();
            break;
        case 46:
            t.bos_piece = m.string();
            break;
        case 47:
            t.eos_piece = m.string();
            break;
        case 48:
            t.pad_piece = m.string();
            break;
        case 44:
            t.unk_surface = m.string();
            break;
        default:
            m.skip();
        }
    }
    return t;
}

normalizer_fields read_normalizer(byte_span data, const std::string& what) {
    normalizer_fields n;
    pb_message m(data, what);
    while (m.next()) {
        switch (m.field()) {
        case 1:
            n.name = m.string();
            break;
        case 2:
            n.charsmap = m.string();
            break;
        case 3:
            n.add_dummy_prefix = m.boolean();
            break;
        case 4:
            n.remove_extra_whitespaces = m.boolean();
            break;
        case 5:
            n.escape_whitespaces = m.boolean();
            break;
        default:
            m.skip();
        }
    }
    return n;
}

// "<0xNN>" (uppercase hex, as sentencepiece's ByteToPiece writes it) -> NN, else -1.
int piece_to_byte(std::string_view p) noexcept {
    static constexpr char hex[] = "0123456789ABCDEF";
    if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
    const char* hi = std::char_traits<char>::find(hex, 16, p[3]);
    const char* lo = std::char_traits<char>::find(hex, 16, p[4]);
    if (!hi || !lo) return -1;
    return static_cast<int>((hi - hex) * 16 + (lo - hex));
}

const char* model_type_name(int t) {
    switch (t) {
    case 1:
        return "Unigram";
    case 2:
        return "BPE";
    case 3:
        return "word";
    case 4:
        return "char";
    default:
        return "unknown";
    }
}

} // namespace

spm_tokenizer spm_tokenizer::from_bytes(byte_span model, const std::string& what) {
    auto p = std::make_shared<impl>();
    p->what = what;
    p->crc = crc32c(model);
    trainer_fields tf;
    normalizer_fields nf;
    bool has_trainer = false;
    {
        pb_message m(model, what);
        while (m.next()) {
            switch (m.field()) {
            case 1: { // SentencePiece
                pb_message sp(m.bytes(), what + ": piece " + std::to_string(p->pieces.size()));
                std::string piece;
                float score = 0;
                int type = 1;
                while (sp.next()) {
                    switch (sp.field()) {
                    case 1:
                        piece = sp.string();
                        break;
                    case 2:
                        score = sp.f32();
                        break;
                    case 3:
                        type = sp.int32();
                        break;
                    default:
                        sp.skip();
                    }
                }
                LMGC_CHECK(type >= 1 && type <= 6, errc::bad_input, what, ": piece ",
                           p->pieces.size(), " has unknown type ", type);
                p->pieces.push_back(std::move(piece));
                p->scores.push_back(score);
                p->types.push_back(static_cast<spm_piece_type>(type));
                break;
            }
            case 2:
                tf = read_trainer(m.bytes(), what);
                has_trainer = true;
                break;
            case 3:
                nf = read_normalizer(m.bytes(), what + ": normalizer_spec");
                break;
            case 5: {
                const auto dn = read_normalizer(m.bytes(), what + ": denormalizer_spec");
                p->has_denormalizer = !dn.charsmap.empty();
                break;
            }
            default:
                m.skip();
            }
        }
    }
    LMGC_CHECK(!p->pieces.empty(), errc::bad_input, what,
               ": no pieces (empty or not a SentencePiece model)");
    LMGC_CHECK(p->pieces.size() < (1u << 30), errc::bad_input, what, ": too many pieces");
    LMGC_CHECK(has_trainer, errc::bad_input, what, ": no trainer_spec");
    p->model_type = tf.model_type;
    LMGC_CHECK(tf.model_type == 2, errc::unsupported, what, ": ", model_type_name(tf.model_type),
               " tokenizer models are not supported, only BPE (the Llama family's)");
    LMGC_CHECK(!tf.treat_whitespace_as_suffix, errc::unsupported, what,
               ": treat_whitespace_as_suffix is not supported");
    p->byte_fallback = tf.byte_fallback;
    p->split_digits = tf.split_digits;
    p->unk_surface = tf.unk_surface;
    p->add_dummy_prefix = nf.add_dummy_prefix;
    p->remove_extra_whitespaces = nf.remove_extra_whitespaces;
    p->escape_whitespaces = nf.escape_whitespaces;

    // ModelInterface::InitializePieces.
    p->byte_ids.fill(-1);
    for (std::size_t i = 0; i < p->pieces.size(); ++i) {
        const int id = static_cast<int>(i);
        const std::string& w = p->pieces[i];
        const auto t = p->types[i];
        LMGC_CHECK(!w.empty(), errc::bad_input, what, ": piece ", i, " is empty");
        const bool mergeable = t == spm_piece_type::normal || t == spm_piece_type::user_defined ||
                               t == spm_piece_type::unused;
        auto& map = mergeable ? p->merge_map : p->reserved_map;
        LMGC_CHECK(map.emplace(w, id).second, errc::bad_input, what, ": piece '", w,
                   "' is defined twice");
        if (t == spm_piece_type::user_defined) {
            // sentencepiece builds its matcher from C strings: a NUL ends the key.
            const std::string_view key(w.c_str());
            if (!key.empty()) {
                p->user_defined[static_cast<unsigned char>(key[0])].push_back(key);
                p->has_user_defined = true;
            }
        }
        if (t == spm_piece_type::unknown) {
            LMGC_CHECK(p->unk < 0, errc::bad_input, what, ": two unknown pieces");
            p->unk = id;
        }
        if (t == spm_piece_type::byte) {
            LMGC_CHECK(tf.byte_fallback, errc::bad_input, what, ": byte piece ", w,
                       " although byte_fallback is off");
            const int b = piece_to_byte(w);
            LMGC_CHECK(b >= 0, errc::bad_input, what, ": byte piece '", w, "' is invalid");
            p->byte_ids[static_cast<std::size_t>(b)] = id;
        }
    }
    LMGC_CHECK(p->unk >= 0, errc::bad_input, what, ": no unknown piece");
    if (tf.byte_fallback)
        for (int b = 0; b < 256; ++b)
            LMGC_CHECK(p->byte_ids[static_cast<std::size_t>(b)] >= 0, errc::bad_input, what,
                       ": byte_fallback is on but there is no piece for byte ", b);
    for (auto& bucket : p->user_defined)
        std::stable_sort(bucket.begin(), bucket.end(), [](std::string_view a, std::string_view b) {
            return a.size() > b.size();
        });

    // bos_id() and friends: the piece's id when it is a control piece.
    auto control_id = [&](const std::string& piece) {
        const int id = p->spm_piece_to_id(piece);
        return p->types[static_cast<std::size_t>(id)] == spm_piece_type::control ? id : -1;
    };
    p->bos = control_id(tf.bos_piece);
    p->eos = control_id(tf.eos_piece);
    p->pad = control_id(tf.pad_piece);
    {
        const int id = p->spm_piece_to_id(tf.unk_piece);
        p->unk_reported =
            p->types[static_cast<std::size_t>(id)] == spm_piece_type::unknown ? id : -1;
    }

    // Normalizer::Init / DecodePrecompiledCharsMap: <u32 trie size><trie><strings>.
    if (!nf.charsmap.empty()) {
        const std::string& cm = nf.charsmap;
        LMGC_CHECK(cm.size() > 4, errc::bad_input, what, ": normalization rule is broken");
        std::uint32_t trie_size = 0;
        std::memcpy(&trie_size, cm.data(), 4);
        LMGC_CHECK(trie_size <= cm.size() - 4 && trie_size % 4 == 0, errc::bad_input, what,
                   ": normalization rule is broken (trie of ", trie_size, " bytes)");
        p->trie.resize(trie_size / 4);
        std::memcpy(p->trie.data(), cm.data() + 4, trie_size);
        p->charsmap_strings = cm.substr(4 + trie_size);
    }
    return spm_tokenizer(std::move(p));
}

spm_tokenizer spm_tokenizer::load(const std::string& path) {
    std::string file = path;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) file = path + "/tokenizer.model";
    const auto data = read_file(file);
    return from_bytes(data, file);
}

// --- normalizer ---

std::uint32_t spm_decode_utf8(std::string_view s, std::size_t* len, bool* valid) noexcept {
    auto trail = [](char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; };
    auto ok_cp = [](std::uint32_t c) { return c < 0xd800 || (c >= 0xe000 && c <= 0x10ffff); };
    const std::size_t n = s.size();
    const auto b0 = static_cast<unsigned char>(s[0]);
    std::uint32_t cp = 0xfffd;
    *len = 1;
    if (b0 < 0x80) {
        cp = b0;
    } else if (n >= 2 && (b0 & 0xe0) == 0xc0) {
        const std::uint32_t c = ((b0 & 0x1fu) << 6) | (static_cast<unsigned char>(s[1]) & 0x3fu);
        if (trail(s[1]) && c >= 0x80 && ok_cp(c)) cp = c, *len = 2;
    } else if (n >= 3 && (b0 & 0xf0) == 0xe0) {
        const std::uint32_t c = ((b0 & 0x0fu) << 12) |
                                ((static_cast<unsigned char>(s[1]) & 0x3fu) << 6) |
                                (static_cast<unsigned char>(s[2]) & 0x3fu);
        if (trail(s[1]) && trail(s[2]) && c >= 0x800 && ok_cp(c)) cp = c, *len = 3;
    } else if (n >= 4 && (b0 & 0xf8) == 0xf0) {
        const std::uint32_t c = ((b0 & 0x07u) << 18) |
                                ((static_cast<unsigned char>(s[1]) & 0x3fu) << 12) |
                                ((static_cast<unsigned char>(s[2]) & 0x3fu) << 6) |
                                (static_cast<unsigned char>(s[3]) & 0x3fu);
        if (trail(s[1]) && trail(s[2]) && trail(s[3]) && c >= 0x10000 && ok_cp(c)) cp = c, *len = 4;
    }
    // U+FFFD itself (three bytes) is valid; a one-byte 0xFFFD result is the error marker.
    *valid = cp != 0xfffd || *len == 3;
    return cp;
}

std::size_t spm_tokenizer::impl::match_user_defined(std::string_view w) const {
    if (!has_user_defined || w.empty()) return 0;
    for (const auto key : user_defined[static_cast<unsigned char>(w[0])])
        if (w.substr(0, key.size()) == key) return key.size();
    return 0;
}

std::pair<std::string_view, std::size_t>
spm_tokenizer::impl::normalize_prefix(std::string_view input) const {
    if (const auto n = match_user_defined(input)) return {input.substr(0, n), n};
    std::size_t longest_length = 0;
    std::uint32_t longest_value = 0;
    if (!trie.empty()) {
        // darts-clone commonPrefixSearch; sentencepiece keeps at most 32 results.
        auto unit_offset = [](std::uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); };
        auto unit_label = [](std::uint32_t u) { return u & ((1u << 31) | 0xffu); };
        auto unit_has_leaf = [](std::uint32_t u) { return ((u >> 8) & 1u) == 1u; };
        auto unit_value = [](std::uint32_t u) { return u & ((1u << 31) - 1); };
        std::size_t n_results = 0;
        std::uint32_t node = 0;
        node ^= unit_offset(trie[0]);
        for (std::size_t i = 0; i < input.size(); ++i) {
            const auto c = static_cast<unsigned char>(input[i]);
            node ^= c;
            if (node >= trie.size()) break;
            const std::uint32_t u = trie[node];
            if (unit_label(u) != c) break;
            node ^= unit_offset(u);
            if (node >= trie.size()) break;
            if (unit_has_leaf(u)) {
                if (n_results < 32 && (longest_length == 0 || i + 1 > longest_length)) {
                    longest_length = i + 1;
                    longest_value = unit_value(trie[node]);
                }
                ++n_results;
            }
        }
    }
    if (longest_length == 0) {
        std::size_t len = 0;
        bool valid = false;
        spm_decode_utf8(input, &len, &valid);
        if (!valid) return {"\xEF\xBF\xBD", 1}; // malformed: U+FFFD for one byte
        return {input.substr(0, len), len};
    }
    LMGC_CHECK(longest_value < charsmap_strings.size(), errc::bad_input, what,
               ": normalization rule points outside its strings");
    // The replacement is NUL-terminated inside the strings blob.
    const std::string_view rest(charsmap_strings.data() + longest_value,
                                charsmap_strings.size() - longest_value);
    return {rest.substr(0, rest.find('\0')), longest_length};
}

std::string spm_tokenizer::impl::normalize(std::string_view input) const {
    std::string out;
    if (input.empty()) return out;
    if (remove_extra_whitespaces) { // heading spaces
        while (!input.empty()) {
            const auto p = normalize_prefix(input);
            if (p.first != " ") break;
            input.remove_prefix(p.second);
        }
    }
    if (input.empty()) return out;
    out.reserve(input.size() * 3);
    const std::string_view space = escape_whitespaces ? spm_space_symbol : std::string_view(" ");
    if (add_dummy_prefix) out += space;
    bool is_prev_space = remove_extra_whitespaces;
    while (!input.empty()) {
        const auto p = normalize_prefix(input);
        std::string_view sp = p.first;
        while (is_prev_space && !sp.empty() && sp.front() == ' ') sp.remove_prefix(1);
        if (!sp.empty()) {
            for (const char c : sp) {
                if (escape_whitespaces && c == ' ')
                    out += spm_space_symbol;
                else
                    out += c;
            }
            is_prev_space = sp.back() == ' ';
        }
        input.remove_prefix(p.second);
        if (!remove_extra_whitespaces) is_prev_space = false;
    }
    if (remove_extra_whitespaces)
        while (out.size() >= space.size() &&
               out.compare(out.size() - space.size(), space.size(), space) == 0)
            out.resize(out.size() - space.size());
    return out;
}

// --- accessors ---

std::string spm_tokenizer::normalize(std::string_view text) const {
    return p_->normalize(text);
}
int spm_tokenizer::vocab_size() const noexcept {
    return static_cast<int>(p_->pieces.size());
}
int spm_tokenizer::bos_id() const noexcept {
    return p_->bos;
}
int spm_tokenizer::eos_id() const noexcept {
    return p_->eos;
}
int spm_tokenizer::unk_id() const noexcept {
    return p_->unk_reported;
}
int spm_tokenizer::pad_id() const noexcept {
    return p_->pad;
}

const std::string& spm_tokenizer::piece(int id) const {
    LMGC_CHECK(id >= 0 && id < vocab_size(), errc::usage, "token id ", id, " is out of range (",
               vocab_size(), " pieces)");
    return p_->pieces[static_cast<std::size_t>(id)];
}
spm_piece_type spm_tokenizer::piece_type(int id) const {
    piece(id);
    return p_->types[static_cast<std::size_t>(id)];
}
float spm_tokenizer::piece_score(int id) const {
    piece(id);
    return p_->scores[static_cast<std::size_t>(id)];
}
int spm_tokenizer::piece_to_id(std::string_view w) const noexcept {
    if (const auto it = p_->reserved_map.find(w); it != p_->reserved_map.end()) return it->second;
    if (const auto it = p_->merge_map.find(w); it != p_->merge_map.end()) return it->second;
    return -1;
}
int spm_tokenizer::byte_id(std::uint8_t b) const noexcept {
    return p_->byte_ids[b];
}
int spm_tokenizer::piece_byte(int id) const noexcept {
    if (id < 0 || id >= vocab_size() ||
        p_->types[static_cast<std::size_t>(id)] != spm_piece_type::byte)
        return -1;
    return piece_to_byte(p_->pieces[static_cast<std::size_t>(id)]);
}
bool spm_tokenizer::has_byte_fallback() const noexcept {
    return p_->byte_fallback;
}
bool spm_tokenizer::has_split_digits() const noexcept {
    return p_->split_digits;
}
bool spm_tokenizer::adds_dummy_prefix() const noexcept {
    return p_->add_dummy_prefix;
}
bool spm_tokenizer::removes_extra_whitespaces() const noexcept {
    return p_->remove_extra_whitespaces;
}
bool spm_tokenizer::escapes_whitespaces() const noexcept {
    return p_->escape_whitespaces;
}
bool spm_tokenizer::has_charsmap() const noexcept {
    return !p_->trie.empty();
}
std::string_view spm_tokenizer::space_symbol() const noexcept {
    return p_->escape_whitespaces ? spm_space_symbol : std::string_view(" ");
}
std::uint32_t spm_tokenizer::model_crc32c() const noexcept {
    return p_->crc;
}

} // namespace lmgc::detail
