// Float bytes to the paper's text forms and back. The writer is table-driven (two hex digits
// per byte); the parser walks the text once, checking every character against the layout
// the parameters fix, so any deviation is reported at its offset.
#include "serialize/serialize-text.hpp"

#include "common/common-error.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace lmgc::detail {
namespace {

constexpr std::array<serial_mode, 7> all_modes{
    serial_mode::iso,       serial_mode::hex_none,        serial_mode::hex_space,
    serial_mode::hex_comma, serial_mode::hex_comma_space, serial_mode::hex_semicolon,
    serial_mode::hex_0x,
};

constexpr char hex_digits[] = "0123456789abcdef";

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool is_pow2_upto8(std::uint64_t v) noexcept {
    return v == 1 || v == 2 || v == 4 || v == 8;
}

// The unit every chunk must be a multiple of: whole groups and whole elements.
std::uint64_t serial_unit(const serial_params& p) noexcept {
    return std::max<std::uint64_t>(p.bytes_per_group, dtype_size(p.type));
}

// Index of the source byte for text position i: byte order reverses each element, which for
// a power-of-two element size inside an element-aligned chunk is i ^ (size - 1).
std::size_t source_mask(const serial_params& p) noexcept {
    return p.order == serial_byte_order::big ? dtype_size(p.type) - 1 : 0;
}

// Shows a character of malformed text in an error message.
std::string show_char(std::string_view text, std::size_t at) {
    if (at >= text.size()) return "end of text";
    const auto c = static_cast<unsigned char>(text[at]);
    if (c >= 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
    static const char* const hex = "0123456789abcdef";
    return std::string("byte 0x") + hex[c >> 4] + hex[c & 15];
}

// Decodes one UTF-8 character at text[at]; returns its code point and length, or -1 when
// the bytes are not well-formed UTF-8.
std::int32_t decode_utf8(std::string_view text, std::size_t at, std::size_t* len) noexcept {
    const auto b0 = static_cast<unsigned char>(text[at]);
    if (b0 < 0x80) {
        *len = 1;
        return b0;
    }
    if ((b0 & 0xe0) == 0xc0 && at + 1 < text.size()) {
        const auto b1 = static_cast<unsigned char>(text[at + 1]);
        const std::int32_t cp = ((b0 & 0x1f) << 6) | (b1 & 0x3f);
        if ((b1 & 0xc0) == 0x80 && cp >= 0x80) {
            *len = 2;
            return cp;
        }
    }
    *len = 1;
    return -1;
}

} // namespace

std::string_view serial_mode_name(serial_mode m) noexcept {
    switch (m) {
    case serial_mode::iso:
        return "iso";
    case serial_mode::hex_none:
        return "hex-none";
    case serial_mode::hex_space:
        return "hex-space";
    case serial_mode::hex_comma:
        return "hex-comma";
    case serial_mode::hex_comma_space:
        return "hex-comma+space";
    case serial_mode::hex_semicolon:
        return "hex-semicolon";
    case serial_mode::hex_0x:
        return "hex-0x";
    }
    return "?";
}

std::optional<serial_mode> serial_mode_from_name(std::string_view name) noexcept {
    for (const auto m : all_modes)
        if (serial_mode_name(m) == name) return m;
    return std::nullopt;
}

std::span<const serial_mode> serial_modes_all() noexcept {
    return all_modes;
}

bool serial_mode_is_hex(serial_mode m) noexcept {
    return m != serial_mode::iso;
}

std::string_view serial_separator(serial_mode m) noexcept {
    switch (m) {
    case serial_mode::hex_space:
        return " ";
    case serial_mode::hex_comma:
        return ",";
    case serial_mode::hex_comma_space:
        return ", ";
    case serial_mode::hex_semicolon:
        return ";";
    default:
        return "";
    }
}

std::string_view serial_group_prefix(serial_mode m) noexcept {
    return m == serial_mode::hex_0x ? "0x" : "";
}

std::string_view serial_byte_order_name(serial_byte_order o) noexcept {
    return o == serial_byte_order::big ? "big" : "little";
}

void serial_params_check(const serial_params& p) {
    LMGC_CHECK(serial_mode_name(p.mode) != "?", errc::usage, "unknown serialization mode ",
               static_cast<int>(p.mode));
    LMGC_CHECK(is_pow2_upto8(p.bytes_per_group), errc::usage,
               "bytes per group must be 1, 2, 4 or 8, not ", p.bytes_per_group);
    LMGC_CHECK(p.order == serial_byte_order::little || p.order == serial_byte_order::big,
               errc::usage, "unknown byte order ", static_cast<int>(p.order));
    LMGC_CHECK(is_pow2_upto8(dtype_size(p.type)), errc::usage, "cannot serialize elements of type ",
               dtype_name(p.type));
    const auto unit = serial_unit(p);
    LMGC_CHECK(p.chunk_bytes % unit == 0, errc::usage, "chunk size ", p.chunk_bytes,
               " is not a multiple of ", unit, " bytes (whole groups of whole ", dtype_name(p.type),
               " elements)");
}

serial_layout serial_layout_of(const serial_params& p, std::uint64_t stream_bytes) {
    serial_params_check(p);
    serial_layout l;
    l.stream_bytes = stream_bytes;
    if (stream_bytes == 0) return l;
    const auto unit = serial_unit(p);
    const auto whole = (stream_bytes + unit - 1) / unit * unit;
    l.chunk_bytes = p.chunk_bytes ? p.chunk_bytes : whole;
    l.n_chunks = (stream_bytes + l.chunk_bytes - 1) / l.chunk_bytes;
    l.pad_bytes = l.n_chunks * l.chunk_bytes - stream_bytes;
    l.groups_per_chunk = l.chunk_bytes / p.bytes_per_group;
    if (p.mode == serial_mode::iso) {
        l.chunk_chars = l.chunk_bytes;
    } else {
        const auto g = l.groups_per_chunk;
        l.chunk_chars = g * (serial_group_prefix(p.mode).size() + 2 * p.bytes_per_group) +
                        (g - 1) * serial_separator(p.mode).size();
    }
    return l;
}

void serialize_chunk_append(byte_span chunk, const serial_params& p, std::string& out) {
    serial_params_check(p);
    LMGC_CHECK(chunk.size() % serial_unit(p) == 0, errc::usage, "chunk of ", chunk.size(),
               " bytes is not a multiple of ", serial_unit(p));
    const std::size_t mask = source_mask(p);
    if (p.mode == serial_mode::iso) {
        for (std::size_t i = 0; i < chunk.size(); ++i) {
            const std::uint8_t b = chunk[i ^ mask];
            if (b < 0x80) {
                out += static_cast<char>(b);
            } else { // Latin-1 U+0080..U+00FF in UTF-8
                out += static_cast<char>(0xc0 | (b >> 6));
                out += static_cast<char>(0x80 | (b & 0x3f));
            }
        }
        return;
    }
    const std::string_view sep = serial_separator(p.mode);
    const std::string_view prefix = serial_group_prefix(p.mode);
    const std::size_t bpg = p.bytes_per_group;
    out.reserve(out.size() + chunk.size() / bpg * (prefix.size() + 2 * bpg + sep.size()));
    for (std::size_t i = 0; i < chunk.size(); i += bpg) {
        if (i) out += sep;
        out += prefix;
        for (std::size_t j = i; j < i + bpg; ++j) {
            const std::uint8_t b = chunk[j ^ mask];
            out += hex_digits[b >> 4];
            out += hex_digits[b & 15];
        }
    }
}

std::string serialize_chunk(byte_span chunk, const serial_params& p) {
    std::string out;
    serialize_chunk_append(chunk, p, out);
    return out;
}

void parse_chunk(std::string_view text, const serial_params& p, std::span<std::uint8_t> out,
                 std::uint64_t base_offset) {
    serial_params_check(p);
    LMGC_CHECK(out.size() % serial_unit(p) == 0, errc::usage, "chunk of ", out.size(),
               " bytes is not a multiple of ", serial_unit(p));
    const std::size_t mask = source_mask(p);
    std::size_t at = 0;
    auto fail = [&](std::size_t where, const std::string& why) {
        LMGC_FAIL(errc::bad_input, "serialized text: offset ", base_offset + where, ": ", why);
    };
    if (p.mode == serial_mode::iso) {
        for (std::size_t i = 0; i < out.size(); ++i) {
            if (at >= text.size())
                fail(at, concat("text ends after ", i, " of ", out.size(), " characters"));
            std::size_t len = 0;
            const auto cp = decode_utf8(text, at, &len);
            if (cp < 0) fail(at, "malformed UTF-8 (" + show_char(text, at) + ")");
            if (cp > 0xff) fail(at, concat("character U+", std::hex, cp, " is not Latin-1"));
            out[i ^ mask] = static_cast<std::uint8_t>(cp);
            at += len;
        }
    } else {
        const std::string_view sep = serial_separator(p.mode);
        const std::string_view prefix = serial_group_prefix(p.mode);
        const std::size_t bpg = p.bytes_per_group;
        for (std::size_t i = 0; i < out.size(); i += bpg) {
            const std::size_t group = i / bpg;
            if (i) {
                if (text.substr(at, sep.size()) != sep)
                    fail(at, concat("expected the separator '", sep, "' after group ", group - 1,
                                    " (", 2 * bpg, " hex digits), found ", show_char(text, at),
                                    ": wrong group length or missing separator"));
                at += sep.size();
            }
            if (text.substr(at, prefix.size()) != prefix)
                fail(at, concat("expected '", prefix, "' before group ", group, ", found ",
                                show_char(text, at)));
            at += prefix.size();
            for (std::size_t j = i; j < i + bpg; ++j) {
                int hv[2];
                for (int k = 0; k < 2; ++k) {
                    if (at >= text.size())
                        fail(at, concat("text ends inside group ", group, " (", 2 * bpg,
                                        " hex digits a group)"));
                    hv[k] = hex_value(text[at]);
                    if (hv[k] < 0)
                        fail(at, concat("expected a lowercase hex digit in group ", group,
                                        ", found ", show_char(text, at),
                                        hex_value(static_cast<char>(std::tolower(
                                            static_cast<unsigned char>(text[at])))) >= 0
                                            ? " (hex is lowercase)"
                                            : ": bad hex digit or wrong group length"));
                    ++at;
                }
                out[j ^ mask] = static_cast<std::uint8_t>(hv[0] << 4 | hv[1]);
            }
        }
    }
    if (at != text.size())
        fail(at, concat("unexpected ", show_char(text, at),
                        " after the last group (the chunk holds ", out.size(), " bytes)"));
}

std::vector<std::string> serialize_stream(byte_span stream, const serial_params& p) {
    const serial_layout l = serial_layout_of(p, stream.size());
    std::vector<std::string> texts;
    texts.reserve(l.n_chunks);
    bytes padded;
    for (std::uint64_t c = 0; c < l.n_chunks; ++c) {
        const auto off = c * l.chunk_bytes;
        byte_span chunk;
        if (off + l.chunk_bytes <= stream.size()) {
            chunk = stream.subspan(off, l.chunk_bytes);
        } else { // the last chunk: zero padding, as the paper's released code does
            padded.assign(l.chunk_bytes, 0);
            std::memcpy(padded.data(), stream.data() + off, stream.size() - off);
            chunk = padded;
        }
        texts.push_back(serialize_chunk(chunk, p));
    }
    return texts;
}

namespace {

// Strips the padding of a parsed stream after checking it is zero.
void strip_padding(bytes& out, const serial_layout& l, std::uint64_t base_offset) {
    for (std::uint64_t i = l.stream_bytes; i < out.size(); ++i)
        LMGC_CHECK(out[i] == 0, errc::bad_input, "serialized text: offset ", base_offset,
                   ": padding byte ", i - l.stream_bytes, " of the last chunk is not zero");
    out.resize(l.stream_bytes);
}

} // namespace

bytes deserialize_stream(std::span<const std::string> chunk_texts, std::uint64_t stream_bytes,
                         const serial_params& p) {
    const serial_layout l = serial_layout_of(p, stream_bytes);
    LMGC_CHECK(chunk_texts.size() == l.n_chunks, errc::bad_input,
               "serialized text: ", chunk_texts.size(), " chunks for a stream of ", stream_bytes,
               " bytes, which has ", l.n_chunks);
    bytes out(l.n_chunks * l.chunk_bytes);
    std::uint64_t base = 0;
    for (std::uint64_t c = 0; c < l.n_chunks; ++c) {
        detail::with_context(concat("chunk ", c), [&] {
            parse_chunk(chunk_texts[c], p, std::span(out).subspan(c * l.chunk_bytes, l.chunk_bytes),
                        base);
        });
        base += chunk_texts[c].size();
    }
    strip_padding(out, l, base);
    return out;
}

std::string serialize_stream_lines(byte_span stream, const serial_params& p) {
    const serial_layout l = serial_layout_of(p, stream.size());
    std::string out;
    out.reserve(l.n_chunks * (l.chunk_chars + 1));
    for (auto& t : serialize_stream(stream, p)) {
        out += t;
        out += '\n';
    }
    return out;
}

bytes parse_stream_lines(std::string_view text, std::uint64_t stream_bytes, const serial_params& p,
                         std::size_t* consumed, std::uint64_t base_offset) {
    const serial_layout l = serial_layout_of(p, stream_bytes);
    bytes out(l.n_chunks * l.chunk_bytes);
    std::size_t at = 0;
    for (std::uint64_t c = 0; c < l.n_chunks; ++c) {
        // A chunk's text ends where its chunk_chars characters end; in hex modes that is a
        // fixed byte count, in iso mode it depends on how many characters take two bytes.
        std::size_t end = at;
        if (p.mode == serial_mode::iso) {
            for (std::uint64_t k = 0; k < l.chunk_chars && end < text.size(); ++k) {
                std::size_t len = 0;
                decode_utf8(text, end, &len);
                end += len;
            }
        } else {
            end = std::min<std::size_t>(text.size(), at + l.chunk_chars);
        }
        // Parsing up to the next newline (when the line is short) gives the better message.
        const auto nl = text.find('\n', at);
        if (p.mode != serial_mode::iso && nl != std::string_view::npos && nl < end) end = nl;
        parse_chunk(text.substr(at, end - at), p,
                    std::span(out).subspan(c * l.chunk_bytes, l.chunk_bytes), base_offset + at);
        LMGC_CHECK(end < text.size() && text[end] == '\n', errc::bad_input,
                   "serialized text: offset ", base_offset + end,
                   ": expected the end of line after chunk ", c, ", found ", show_char(text, end));
        at = end + 1;
    }
    strip_padding(out, l, base_offset + at);
    if (consumed) *consumed = at;
    return out;
}

} // namespace lmgc::detail
