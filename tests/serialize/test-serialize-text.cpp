// The paper's serializations: known texts, every mode x bytes per group x byte order x
// element type round-tripping every 16-bit float pattern and a sweep of float32 patterns
// (every sign/exponent/top-mantissa combination, NaN payloads, +-0, +-Inf, denormals),
// chunking and padding, and malformed text failing with its offset.
#include "expect-error.hpp"
#include "serialize/serialize-text.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

using namespace lmgc;
using namespace lmgc::test;
using namespace lmgc::detail;

namespace {

bytes f32_bytes(std::initializer_list<float> v) {
    return float_bytes(std::vector<float>(v));
}

serial_params params(serial_mode m, unsigned bpg = 4,
                     serial_byte_order o = serial_byte_order::little, dtype t = dtype::f32,
                     std::uint64_t chunk = 512) {
    serial_params p;
    p.mode = m;
    p.bytes_per_group = bpg;
    p.order = o;
    p.type = t;
    p.chunk_bytes = chunk;
    return p;
}

// Every 16-bit pattern, or float32 patterns covering every top half (sign, exponent, top
// mantissa bits) with several low halves, plus the named specials.
bytes all_patterns(dtype t) {
    bytes b;
    if (dtype_size(t) == 2) {
        b.resize(65536 * 2);
        for (std::uint32_t v = 0; v < 65536; ++v) {
            b[2 * v] = static_cast<std::uint8_t>(v);
            b[2 * v + 1] = static_cast<std::uint8_t>(v >> 8);
        }
        return b;
    }
    std::vector<std::uint32_t> u = special_f32_bits(1000, 5);
    for (std::uint32_t hi = 0; hi < 65536; ++hi)
        for (const std::uint32_t lo : {0u, 1u, 0x8000u, 0xffffu}) u.push_back(hi << 16 | lo);
    b.resize(u.size() * 4);
    std::memcpy(b.data(), u.data(), b.size());
    return b;
}

} // namespace

TEST(serialize_text, known_texts) {
    const auto one_two = f32_bytes({1.0f, -2.0f});
    auto text = [&](serial_mode m, unsigned bpg = 4,
                    serial_byte_order o = serial_byte_order::little) {
        return serialize_chunk(one_two, params(m, bpg, o));
    };
    EXPECT_EQ(text(serial_mode::hex_none), "0000803f000000c0");
    EXPECT_EQ(text(serial_mode::hex_space), "0000803f 000000c0");
    EXPECT_EQ(text(serial_mode::hex_comma), "0000803f,000000c0");
    EXPECT_EQ(text(serial_mode::hex_comma_space), "0000803f, 000000c0");
    EXPECT_EQ(text(serial_mode::hex_semicolon), "0000803f;000000c0");
    EXPECT_EQ(text(serial_mode::hex_0x), "0x0000803f0x000000c0");
    EXPECT_EQ(text(serial_mode::hex_space, 4, serial_byte_order::big), "3f800000 c0000000");
    EXPECT_EQ(text(serial_mode::hex_space, 1), "00 00 80 3f 00 00 00 c0");
    EXPECT_EQ(text(serial_mode::hex_space, 2, serial_byte_order::big), "3f80 0000 c000 0000");
    EXPECT_EQ(text(serial_mode::hex_space, 8), "0000803f000000c0");
    EXPECT_EQ(text(serial_mode::iso), std::string("\0\0\xc2\x80?\0\0\0\xc3\x80", 10));
    EXPECT_EQ(text(serial_mode::iso, 4, serial_byte_order::big),
              std::string("?\xc2\x80\0\0\xc3\x80\0\0\0", 10));
    // bf16 1.0 is 0x3f80: little "803f", big "3f80".
    const bytes bf = {0x80, 0x3f, 0x00, 0xc0};
    EXPECT_EQ(serialize_chunk(
                  bf, params(serial_mode::hex_space, 2, serial_byte_order::little, dtype::bf16)),
              "803f 00c0");
    EXPECT_EQ(
        serialize_chunk(bf, params(serial_mode::hex_space, 2, serial_byte_order::big, dtype::bf16)),
        "3f80 c000");
    EXPECT_EQ(
        serialize_chunk(bf, params(serial_mode::hex_space, 4, serial_byte_order::big, dtype::bf16)),
        "3f80c000");
}

TEST(serialize_text, mode_names) {
    ASSERT_EQ(serial_modes_all().size(), 7u);
    for (const auto m : serial_modes_all())
        EXPECT_EQ(serial_mode_from_name(serial_mode_name(m)), m);
    EXPECT_EQ(serial_mode_from_name("hex-comma+space"), serial_mode::hex_comma_space);
    EXPECT_FALSE(serial_mode_from_name("hex-tab").has_value());
}

TEST(serialize_text, every_mode_round_trips_every_float_bit_pattern) {
    for (const dtype t : {dtype::f32, dtype::f16, dtype::bf16}) {
        const bytes data = all_patterns(t);
        for (const auto m : serial_modes_all())
            for (const unsigned bpg : {1u, 2u, 4u, 8u})
                for (const auto o : {serial_byte_order::little, serial_byte_order::big}) {
                    const auto p = params(m, bpg, o, t);
                    SCOPED_TRACE(std::string(serial_mode_name(m)) + " bpg " + std::to_string(bpg) +
                                 " " + std::string(serial_byte_order_name(o)) + " " +
                                 std::string(dtype_name(t)));
                    const auto texts = serialize_stream(data, p);
                    const auto layout = serial_layout_of(p, data.size());
                    ASSERT_EQ(texts.size(), layout.n_chunks);
                    ASSERT_EQ(deserialize_stream(texts, data.size(), p), data);
                    if (m != serial_mode::iso) {
                        EXPECT_EQ(texts[0].size(), layout.chunk_chars);
                    }
                }
    }
}

TEST(serialize_text, chunking_and_padding) {
    const auto v = gradient_like(300, 3); // 1200 bytes: 2 full chunks and 176 bytes
    const auto data = float_bytes(v);
    const auto p = params(serial_mode::hex_space);
    const auto l = serial_layout_of(p, data.size());
    EXPECT_EQ(l.chunk_bytes, 512u);
    EXPECT_EQ(l.n_chunks, 3u);
    EXPECT_EQ(l.pad_bytes, 3 * 512u - 1200u);
    EXPECT_EQ(l.groups_per_chunk, 128u);
    EXPECT_EQ(l.chunk_chars, 128u * 8 + 127);
    const auto texts = serialize_stream(data, p);
    // Each chunk is serialized alone: chunk 1 is the text of bytes 512..1023.
    EXPECT_EQ(texts[1], serialize_chunk(byte_span(data).subspan(512, 512), p));
    // The last chunk ends in zero padding.
    EXPECT_EQ(texts[2].substr(texts[2].size() - 17), "00000000 00000000");
    EXPECT_EQ(deserialize_stream(texts, data.size(), p), data);

    // Unchunked: one chunk, padded only to a whole group.
    auto u = params(serial_mode::hex_space, 8, serial_byte_order::little, dtype::f32, 0);
    const auto three = f32_bytes({1, 2, 3});
    const auto lu = serial_layout_of(u, three.size());
    EXPECT_EQ(lu.n_chunks, 1u);
    EXPECT_EQ(lu.pad_bytes, 4u);
    EXPECT_EQ(serialize_stream(three, u)[0], "0000803f00000040 0000404000000000");
    EXPECT_EQ(deserialize_stream(serialize_stream(three, u), three.size(), u), three);

    // Odd sizes of 2-byte elements, and the empty stream.
    for (const std::size_t n : {1u, 2u, 3u, 255u, 256u, 257u, 1000u}) {
        bytes h(2 * n);
        for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<std::uint8_t>(i * 37 + 1);
        for (const unsigned bpg : {1u, 2u, 4u, 8u}) {
            const auto q = params(serial_mode::hex_comma, bpg, serial_byte_order::big, dtype::bf16);
            EXPECT_EQ(deserialize_stream(serialize_stream(h, q), h.size(), q), h)
                << n << " " << bpg;
        }
    }
    EXPECT_TRUE(serialize_stream({}, p).empty());
    EXPECT_TRUE(deserialize_stream({}, 0, p).empty());
}

TEST(serialize_text, lines_form_round_trips_including_newlines_in_iso) {
    bytes data(2000);
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<std::uint8_t>(i % 7 == 0 ? '\n' : i * 131);
    for (const auto m : serial_modes_all()) {
        const auto p = params(m, 4, serial_byte_order::little, dtype::f32);
        const std::string text = serialize_stream_lines(data, p) + "tail";
        std::size_t used = 0;
        EXPECT_EQ(parse_stream_lines(text, data.size(), p, &used), data) << serial_mode_name(m);
        EXPECT_EQ(text.substr(used), "tail");
    }
}

TEST(serialize_text, malformed_text_names_the_offset) {
    const auto p = params(serial_mode::hex_space, 4, serial_byte_order::little, dtype::f32, 8);
    bytes out(8);
    auto parse = [&](std::string_view t) { return [&, t] { parse_chunk(t, p, out, 100); }; };
    parse_chunk("0000803f 000000c0", p, out);
    EXPECT_EQ(out, f32_bytes({1.0f, -2.0f}));
    expect_error(parse("0000803g 000000c0"), errc::bad_input,
                 "offset 107: expected a lowercase hex digit");
    expect_error(parse("0000803F 000000c0"), errc::bad_input, "(hex is lowercase)");
    expect_error(parse("0000803 000000c0"), errc::bad_input, "offset 107");
    expect_error(parse("0000803f0 00000c0"), errc::bad_input,
                 "offset 108: expected the separator ' '");
    expect_error(parse("0000803f000000c0"), errc::bad_input,
                 "wrong group length or missing separator");
    expect_error(parse("0000803f 000000c"), errc::bad_input,
                 "offset 116: text ends inside group 1");
    expect_error(parse("0000803f 000000c0 "), errc::bad_input,
                 "offset 117: unexpected ' ' after the last group");
    expect_error(parse(""), errc::bad_input, "offset 100");

    const auto x = params(serial_mode::hex_0x, 4, serial_byte_order::little, dtype::f32, 8);
    expect_error([&] { parse_chunk("0x0000803f0000000c0", x, out); }, errc::bad_input,
                 "offset 10: expected '0x' before group 1");

    const auto iso = params(serial_mode::iso, 4, serial_byte_order::little, dtype::f32, 4);
    bytes o4(4);
    parse_chunk("ab\xc3\xbf\x01", iso, o4);
    EXPECT_EQ(o4, (bytes{'a', 'b', 0xff, 1}));
    expect_error([&] { parse_chunk("ab\xe2\x96\x81\x01", iso, o4); }, errc::bad_input,
                 "offset 2: character U+2581 is not Latin-1");
    expect_error([&] { parse_chunk("ab\x80\x01", iso, o4); }, errc::bad_input,
                 "offset 2: malformed UTF-8");
    expect_error([&] { parse_chunk("ab\xc4\x80\x01", iso, o4); }, errc::bad_input,
                 "U+100 is not Latin-1");
    expect_error([&] { parse_chunk("ab\xc3", iso, o4); }, errc::bad_input,
                 "offset 2: malformed UTF-8");
    expect_error([&] { parse_chunk("abc", iso, o4); }, errc::bad_input,
                 "text ends after 3 of 4 characters");

    // Whole streams: wrong chunk count, non-zero padding, a short line.
    const auto three = f32_bytes({1, 2, 3});
    const auto q = params(serial_mode::hex_space, 4, serial_byte_order::little, dtype::f32, 8);
    auto texts = serialize_stream(three, q);
    ASSERT_EQ(texts.size(), 2u);
    texts[1] = "00004040 00000001";
    expect_error([&] { deserialize_stream(texts, three.size(), q); }, errc::bad_input,
                 "padding byte 3");
    expect_error([&] { deserialize_stream(texts, 4, q); }, errc::bad_input,
                 "2 chunks for a stream of 4 bytes");
    const std::string lines = "0000803f 00000040\n00004040\n";
    expect_error([&] { parse_stream_lines(lines, three.size(), q, nullptr); }, errc::bad_input,
                 "offset 26: expected the separator ' ' after group 0");
    expect_error([&] { parse_stream_lines("0000803f 00000040 ", three.size(), q, nullptr); },
                 errc::bad_input, "offset 17: expected the end of line after chunk 0");
}

TEST(serialize_text, bad_parameters_are_usage_errors) {
    expect_error([] { serial_layout_of(params(serial_mode::hex_space, 3), 16); }, errc::usage,
                 "bytes per group");
    expect_error(
        [] {
            serial_layout_of(
                params(serial_mode::hex_space, 8, serial_byte_order::little, dtype::f32, 500), 16);
        },
        errc::usage, "not a multiple of 8");
    expect_error(
        [] {
            serial_layout_of(
                params(serial_mode::hex_space, 1, serial_byte_order::little, dtype::f32, 2), 16);
        },
        errc::usage, "whole groups of whole f32 elements");
    expect_error([] { serialize_chunk(bytes(6), params(serial_mode::hex_space)); }, errc::usage,
                 "not a multiple of 4");
}

TEST(serialize_text, random_damage_is_an_error_or_other_bytes) {
    std::mt19937_64 rng(17);
    const auto data = float_bytes(gradient_like(300, 8));
    for (const auto m : serial_modes_all()) {
        const auto p = params(m, 4, serial_byte_order::little, dtype::f32);
        const std::string text = serialize_stream_lines(data, p);
        int errors = 0;
        for (int k = 0; k < 300; ++k) {
            std::string bad = text;
            const std::size_t at = rng() % bad.size();
            switch (k % 3) {
            case 0:
                bad[at] = static_cast<char>(rng());
                break;
            case 1:
                bad.erase(at, 1);
                break;
            default:
                bad.insert(at, 1, static_cast<char>(rng()));
                break;
            }
            if (bad == text) continue;
            try {
                std::size_t used = 0;
                const auto back = parse_stream_lines(bad, data.size(), p, &used);
                // Accepted: then it is another valid text, which means other bytes (or
                // trailing text the caller must reject).
                EXPECT_TRUE(back != data || used != bad.size()) << serial_mode_name(m) << " " << k;
            } catch (const error& e) {
                EXPECT_EQ(e.code(), errc::bad_input);
                EXPECT_NE(std::string(e.what()).find("offset"), std::string::npos) << e.what();
                ++errors;
            }
        }
        EXPECT_GT(errors, 30) << serial_mode_name(m);
    }
}
