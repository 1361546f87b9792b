// The serialize stage: the paper's text forms of float bytes (iso, hex with separators) and
// their exact inverse. Included by tokenize/, the LLM prior (model/), the driver and tests.
//
// How to use it (all in lmgc::detail):
//
//   serial_params p;                        // defaults: hex-space, 4 bytes per group,
//   p.mode = serial_mode::hex_space;        // little-endian (memory order, as the paper),
//   p.type = dtype::bf16;                   // 512-byte chunks; type sets the element size
//   const serial_layout L = serial_layout_of(p, stream.size());   // chunks, padding, sizes
//   std::vector<std::string> texts = serialize_stream(stream, p);  // one UTF-8 text per chunk
//   bytes back = deserialize_stream(texts, stream.size(), p);      // == stream, bit for bit
//
// The stream is cut into chunks of p.chunk_bytes bytes (the paper: 512), each serialized on
// its own; the last chunk is padded with zero bytes (L.pad_bytes, a function of the stream
// size, so the inverse needs only stream_bytes). A chunk's text is its groups of
// p.bytes_per_group bytes, each written as lowercase hex (two digits a byte, in memory order,
// or sign-and-exponent first with serial_byte_order::big), prefixed "0x" in hex-0x mode and
// joined by the mode's separator; in iso mode every byte is one Latin-1 character (UTF-8
// encoded in the std::string, as a tokenizer sees it) and there is no separator.
//
// Errors: bad parameters throw lmgc::error(usage); malformed text throws
// lmgc::error(bad_input, "serialized text: offset N: ...") naming the byte offset.
#pragma once

#include "common/common-bytes.hpp"
#include "common/common-dtype.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lmgc::detail {

// Values may be stored in .lmgc headers: never renumber.
enum class serial_mode : std::uint8_t {
    iso = 1,             // each byte one Latin-1 character, no separator
    hex_none = 2,        // "0000803f0000803f"   (the paper's Hn)
    hex_space = 3,       // "0000803f 0000803f"  (Hs)
    hex_comma = 4,       // "0000803f,0000803f"  (Hc)
    hex_comma_space = 5, // "0000803f, 0000803f" (Hc+s)
    hex_semicolon = 6,   // "0000803f;0000803f"  (Hsemi)
    hex_0x = 7,          // "0x0000803f0x0000803f"
};

// "iso", "hex-none", "hex-space", "hex-comma", "hex-comma+space", "hex-semicolon", "hex-0x".
std::string_view serial_mode_name(serial_mode m) noexcept;
std::optional<serial_mode> serial_mode_from_name(std::string_view name) noexcept;
// Every mode, in the order above (the paper's table order).
std::span<const serial_mode> serial_modes_all() noexcept;
bool serial_mode_is_hex(serial_mode m) noexcept;
// Text between two groups ("" for iso, hex-none and hex-0x).
std::string_view serial_separator(serial_mode m) noexcept;
// Text before every group ("0x" for hex-0x, else "").
std::string_view serial_group_prefix(serial_mode m) noexcept;

enum class serial_byte_order : std::uint8_t {
    little = 1, // memory order of a little-endian machine: 1.0f is "0000803f" (the paper)
    big = 2,    // each element reversed, sign and exponent first: 1.0f is "3f800000"
};
std::string_view serial_byte_order_name(serial_byte_order o) noexcept;

struct serial_params {
    serial_mode mode = serial_mode::hex_space;
    unsigned bytes_per_group = 4; // 1, 2, 4 or 8
    serial_byte_order order = serial_byte_order::little;
    std::uint64_t chunk_bytes = 512; // bytes per chunk; 0: one chunk per stream
    dtype type = dtype::f32;         // element type: its size is what
                                     // byte order reverses
};

// Throws lmgc::error(usage) naming the bad field: bytes_per_group not 1/2/4/8, element size
// not 1/2/4/8, chunk_bytes not a multiple of max(bytes_per_group, element size).
void serial_params_check(const serial_params& p);

// Sizes of a stream's serialization.
struct serial_layout {
    std::uint64_t stream_bytes = 0; // payload
    std::uint64_t pad_bytes = 0;    // zero bytes appended to fill the last chunk
    std::uint64_t chunk_bytes = 0;  // bytes per chunk (every chunk, the last padded)
    std::uint64_t n_chunks = 0;     // 0 for an empty stream
    std::uint64_t groups_per_chunk = 0;
    std::uint64_t chunk_chars = 0; // characters (code points) in each chunk's text
};
serial_layout serial_layout_of(const serial_params& p, std::uint64_t stream_bytes);

// Appends the text of one chunk (chunk.size() a multiple of max(bytes_per_group, element
// size)) to out.
void serialize_chunk_append(byte_span chunk, const serial_params& p, std::string& out);
std::string serialize_chunk(byte_span chunk, const serial_params& p);

// Parses a text of serialize_chunk back into out (out.size() is the chunk's byte count);
// the whole text must be consumed. Errors name base_offset + the offset in text.
void parse_chunk(std::string_view text, const serial_params& p, std::span<std::uint8_t> out,
                 std::uint64_t base_offset = 0);

// The texts of every chunk of a stream (padding included), and the exact inverse. The
// inverse checks that the padding bytes are zero.
std::vector<std::string> serialize_stream(byte_span stream, const serial_params& p);
bytes deserialize_stream(std::span<const std::string> chunk_texts, std::uint64_t stream_bytes,
                         const serial_params& p);

// The text-file form the CLI writes: every chunk's text followed by '\n'. In iso mode a
// text may itself hold '\n' characters; the parser knows each chunk's length.
std::string serialize_stream_lines(byte_span stream, const serial_params& p);
// Parses the stream_bytes' worth of chunk lines at the start of text; returns the bytes and
// sets *consumed to the number of text bytes used. Errors name base_offset + offset.
bytes parse_stream_lines(std::string_view text, std::uint64_t stream_bytes, const serial_params& p,
                         std::size_t* consumed, std::uint64_t base_offset = 0);

} // namespace lmgc::detail
