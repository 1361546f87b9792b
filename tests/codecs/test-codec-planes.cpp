// The planes codec (level 1): bit-exact round trips of every float type (special values,
// tiny and odd-sized chunks, zero runs across lanes and decoder blocks, constants, random
// bits, gradients, real gradients), the payload layout of docs/format.md, a frozen stream,
// and hostile payloads failing cleanly.
#include "codec-test-util.hpp"
#include "common/common-checksum.hpp"
#include "lmgc/lmgc.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <vector>

using namespace lmgc;
using namespace lmgc::test;
using detail::dtype;

namespace {

// Encodes and decodes raw through the codec table, with the SIMD loops (where the CPU has
// them) and without: the same payload, decoded back both ways; returns the payload.
bytes round_trip(dtype t, const bytes& raw) {
    const auto coded = encode_direct("planes", t, raw);
    EXPECT_EQ(encode_direct("planes", t, raw, without_simd), coded)
        << detail::dtype_name(t) << ", " << raw.size() << " bytes, encoded with simd=0";
    EXPECT_EQ(decode_direct("planes", t, coded, raw.size()), raw)
        << detail::dtype_name(t) << ", " << raw.size() << " bytes";
    EXPECT_EQ(decode_direct("planes", t, coded, raw.size(), without_simd), raw)
        << detail::dtype_name(t) << ", " << raw.size() << " bytes, simd=0";
    return coded;
}

// Values with zero runs of the given lengths between runs of gradients, in type t.
bytes with_zero_runs(dtype t, std::size_t n, std::size_t run, std::size_t gap, std::uint64_t seed) {
    bytes raw = gradients(t, n, seed);
    const std::size_t elem = detail::dtype_size(t);
    for (std::size_t i = 0; i < n; i += run + gap)
        std::memset(raw.data() + i * elem, 0, std::min(run, n - i) * elem);
    return raw;
}

// raw with each zero value made the smallest denormal: no zeros, so coded in the dense mode.
bytes without_zeros(dtype t, bytes raw) {
    const std::size_t elem = detail::dtype_size(t);
    for (std::size_t i = 0; i + elem <= raw.size(); i += elem)
        if (std::all_of(raw.begin() + static_cast<std::ptrdiff_t>(i),
                        raw.begin() + static_cast<std::ptrdiff_t>(i + elem),
                        [](std::uint8_t b) { return b == 0; }))
            raw[i] = 1;
    return raw;
}

// A dense payload's zero runs (at, len), read by the rules of docs/format.md, and where the
// field after them (desc_size) starts.
struct listed_runs {
    std::vector<std::pair<std::size_t, std::size_t>> runs;
    std::size_t k = 0, list_bytes = 0, end = 0;
};
listed_runs read_runs(const bytes& coded) {
    listed_runs out;
    detail::byte_reader r(detail::byte_span(coded).subspan(6));
    const std::size_t count = r.varint();
    std::size_t end = 0;
    if (coded[0] == 2) {
        for (std::size_t i = 0; i < count; ++i) {
            const std::size_t gap = r.varint(), len = r.varint() + 16;
            out.runs.push_back({end + gap, len});
            end += gap + len;
        }
    } else if (count) {
        out.k = r.u8();
        out.list_bytes = r.varint();
        const auto list = r.raw(out.list_bytes);
        std::size_t pos = 0;
        auto bit = [&] { return (list[pos / 8] >> (pos % 8)) & 1u; };
        auto get = [&](std::size_t n) {
            std::size_t v = 0;
            for (std::size_t b = 0; b < n; ++b, ++pos) v |= std::size_t{bit()} << b;
            return v;
        };
        auto get_eg = [&] {
            std::size_t zeros = 0;
            while (!bit()) ++zeros, ++pos;
            ++pos;
            return ((std::size_t{1} << zeros) | get(zeros)) - 1;
        };
        for (std::size_t i = 0; i < count; ++i) {
            const std::size_t gap = get_eg() << out.k | get(out.k), len = get_eg() + 1;
            out.runs.push_back({end + gap, len});
            end += gap + len;
        }
        EXPECT_EQ((pos + 7) / 8, list.size()); // every byte of the list used
    }
    out.end = 6 + r.pos();
    return out;
}

} // namespace

TEST(codec_planes, in_the_table_for_float_types_only) {
    expect_float_codec_entry("planes");
}

TEST(codec_planes, gradients_of_every_type_round_trip_and_compress) {
    for (const auto t : float_types) {
        const auto raw = gradients(t, 200000, 3);
        const auto coded = round_trip(t, raw);
        EXPECT_EQ(mode_of(coded), 0);
        // ~35% zeros and a per-block scale: the zeros cost next to nothing, the top byte of
        // the others a few bits.
        EXPECT_LT(coded.size(), raw.size() *
                                    (t == dtype::f64   ? 65
                                     : t == dtype::f32 ? 75
                                                       : 66) /
                                    100)
            << detail::dtype_name(t);
        // fast (which also codes the exponent's low bit and skips zero low bits) is smaller.
        EXPECT_LE(encode_direct("fast", t, raw).size(), coded.size()) << detail::dtype_name(t);
    }
}

TEST(codec_planes, special_values_alone_in_runs_and_mixed_into_gradients) {
    for (const auto t : float_types) {
        SCOPED_TRACE(detail::dtype_name(t));
        const auto in = special_value_inputs(t);
        round_trip(t, in.alone);
        EXPECT_EQ(mode_of(round_trip(t, in.runs)), 2); // the zeros in one run
        EXPECT_EQ(mode_of(round_trip(t, in.mixed)), 0);
    }
    // Every 16-bit pattern: all 256 top bytes and the zero symbol in one chunk.
    std::vector<std::uint16_t> all(65536);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint16_t>(i * 40503u);
    round_trip(dtype::f16, as_bytes(all));
    round_trip(dtype::bf16, as_bytes(all));
}

TEST(codec_planes, tiny_chunks_and_partial_trailing_elements) {
    for (const auto t : float_types) {
        for (const auto& raw : tiny_inputs(t, 9)) round_trip(t, raw);
        bytes odd = gradients(t, 5000, 3);
        odd.push_back(0xAB);
        EXPECT_EQ(mode_of(round_trip(t, odd)), 0);
    }
}

TEST(codec_planes, sizes_around_lanes_and_decoder_blocks) {
    // Every count from 1 to 300 values (lanes of unequal length, empty lanes), and counts
    // around the decoder's blocks of 2048 steps (8192 values), where the low bytes of the
    // last lane end at the payload's end and its last block is decoded the careful way.
    for (const auto t : float_types) {
        SCOPED_TRACE(detail::dtype_name(t));
        for (std::size_t n = 1; n <= 300; ++n) round_trip(t, gradients(t, n, n));
        for (const std::size_t n : {8191u, 8192u, 8193u, 8196u, 16383u, 16384u, 16385u, 40000u})
            round_trip(t, gradients(t, n, n));
    }
}

TEST(codec_planes, zero_runs_across_lanes_and_blocks) {
    // Runs of zeros from one value to whole lanes and blocks, values that end or start a lane
    // on a zero, and a lane of zeros only beside lanes without any.
    for (const auto t : float_types) {
        SCOPED_TRACE(detail::dtype_name(t));
        for (const std::size_t run : {1u, 2u, 7u, 200u, 9000u})
            for (const std::size_t gap : {1u, 3u, 100u, 20000u})
                round_trip(t, with_zero_runs(t, 50000, run, gap, run * 31 + gap));
        const std::size_t elem = detail::dtype_size(t);
        bytes raw = gradients(t, 40000, 5);
        std::memset(raw.data() + 10000 * elem, 0, 10000 * elem); // lane 1
        const auto coded = round_trip(t, raw);
        EXPECT_EQ(mode_of(coded), 0);
        // Zeros cost far less than a byte: the 10,000 zeros add well under 10,000 bytes' worth
        // compared with a lane of values.
        EXPECT_LT(coded.size(), round_trip(t, gradients(t, 40000, 5)).size());
    }
}

TEST(codec_planes, zeros_constants_and_random_bits) {
    for (const auto t : float_types) {
        SCOPED_TRACE(detail::dtype_name(t));
        const std::size_t elem = detail::dtype_size(t);
        const auto zeros = round_trip(t, bytes(100000 * elem, 0));
        EXPECT_EQ(mode_of(zeros), 0);
        EXPECT_LT(zeros.size(), 200u); // one symbol, no low bytes
        bytes constant(50000 * elem);
        for (std::size_t i = 0; i < constant.size(); ++i)
            constant[i] = static_cast<std::uint8_t>(0x3c + i % elem);
        EXPECT_EQ(mode_of(round_trip(t, constant)), 2); // no zeros: dense
        // Random bits: nothing to gain, stored (mode 1), 3 bytes of header.
        const auto random = random_bytes(100000 * elem, 7);
        const auto coded = round_trip(t, random);
        EXPECT_EQ(mode_of(coded), 1);
        EXPECT_EQ(coded.size(), random.size() + 3);
    }
}

TEST(codec_planes, real_gradients_round_trip_between_fast_and_zstd) {
    // The shared ConvNet gradients: planes sits between fast (smaller) and zstd -1.
    const auto files = real_gradient_files();
    if (files.empty()) GTEST_SKIP() << "no shared/data/grads beside the source tree";
    for (const auto& f : files) {
        SCOPED_TRACE(f);
        const auto file = read_bytes(f);
        auto p = default_compress_params();
        p.codec = "planes";
        const auto image = compress(file, p);
        EXPECT_EQ(decompress(image, default_decompress_params()), file);
        p.codec = "fast";
        const auto fast = compress(file, p);
        p.codec = "zstd";
        p.codec_options = {{"level", "1"}};
        const auto zstd = compress(file, p);
        EXPECT_LT(fast.size(), image.size());
        EXPECT_LT(image.size(), zstd.size());
    }
}

TEST(codec_planes, chunks_threads_and_mixed_files_through_the_container) {
    expect_container_round_trips_at_any_thread_count("planes", 5);
}

TEST(codec_planes, simd_first_pass_gives_the_portable_keys) {
    // The dense 16-bit first pass in AVX2 computes each key from the top byte before it in the
    // lane: top bytes at and around the center (clamped at -2 and +2), centers at the ends of
    // the magnitude range, both signs, lanes of unequal lengths, sizes ending anywhere in a
    // block of 16 steps. The payloads must be the ones the portable pass writes.
    std::uint64_t seed = 7;
    auto next = [&seed] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::uint32_t>(seed >> 33);
    };
    for (const dtype t : {dtype::bf16, dtype::f16})
        for (const unsigned center : {0u, 1u, 2u, 60u, 125u, 126u, 127u})
            for (const std::size_t n : {130u, 135u, 196u, 197u, 198u, 199u, 1000u, 4099u, 65541u}) {
                bytes raw(2 * n);
                for (std::size_t i = 0; i < n; ++i) {
                    const int m =
                        std::clamp(static_cast<int>(center) +
                                       (next() % 4 ? 0 : static_cast<int>(next() % 9) - 4),
                                   0, 127);
                    raw[2 * i] = static_cast<std::uint8_t>(next() | (m == 0 ? 1 : 0));
                    raw[2 * i + 1] = static_cast<std::uint8_t>(m | (next() & 1) << 7);
                }
                SCOPED_TRACE(::testing::Message() << detail::dtype_name(t) << ", center " << center
                                                  << ", " << n << " values");
                EXPECT_EQ(mode_of(round_trip(t, raw)), 2);
            }
}

TEST(codec_planes, frozen_streams) {
    // If this fails, the coded bytes changed: files written before may no longer decode the
    // same. Bump the planes payload version (docs/format.md) if the decoder changed, and update
    // the values only on purpose. f32 with runs of 200 zeros (dense: payload version 3; version
    // 2 until stop 29, test dense_version_2_payloads_still_decode), and its top halves as bf16;
    // both again with every 5th value zero too (coded: version 1).
    const auto raw = lcg_gradients(100000);
    auto top_half_bytes = [](const bytes& f32) {
        std::vector<float> v(f32.size() / 4);
        std::memcpy(v.data(), f32.data(), f32.size());
        return top_halves(v);
    };
    bytes scattered = raw;
    for (std::size_t i = 0; i < scattered.size() / 4; i += 5) std::memset(&scattered[4 * i], 0, 4);
    const auto half = top_half_bytes(raw), half_scattered = top_half_bytes(scattered);
    struct frozen {
        dtype t;
        const bytes* raw;
        int mode;
        std::size_t size;
        std::uint32_t crc;
    };
    const frozen cases[] = {{dtype::f32, &raw, 2, 217941, 1012626545u},
                            {dtype::bf16, &half, 2, 84741, 303148096u},
                            {dtype::f32, &scattered, 0, 184444, 1113414284u},
                            {dtype::bf16, &half_scattered, 0, 77884, 3754901385u}};
    for (const auto& c : cases) {
        SCOPED_TRACE(detail::dtype_name(c.t));
        const auto coded = encode_direct("planes", c.t, *c.raw);
        EXPECT_EQ(decode_direct("planes", c.t, coded, c.raw->size()), *c.raw);
        EXPECT_EQ(mode_of(coded), c.mode);
        EXPECT_EQ(coded[0], c.mode == 2 ? 3 : 1);
        EXPECT_EQ(coded.size(), c.size);
        EXPECT_EQ(detail::crc32c(coded), c.crc);
    }
}

TEST(codecs_formats, planes_payload_is_what_format_md_says) {
    // version 1, element type, mode 0 (coded), table_log, context mask, center, then the table
    // descriptions and the tANS stream, each after its size; then the low bytes of the nonzero
    // values in the decoder's order: step by step (value j of each of the 4 lanes).
    const std::size_t n = 4000, q = n / 4;
    bytes raw = gradients(dtype::bf16, n, 1);
    std::memset(raw.data(), 0, 2 * 100); // 100 zeros at the start of lane 0
    const auto coded = encode_direct("planes", dtype::bf16, raw);
    ASSERT_EQ(mode_of(coded), 0);
    EXPECT_EQ(coded[0], 1);
    EXPECT_EQ(coded[1], static_cast<std::uint8_t>(dtype::bf16));
    EXPECT_EQ(coded[3], 10);    // 4000 values: 2^(bit_width - 2) slots
    EXPECT_EQ(coded[4] & 3, 3); // contexts 0 (at the center) and 1 (after a zero) have tables
    EXPECT_LT(coded[4], 64);    // 6 contexts
    // The center: the most common magnitude bits of the top byte, in every 16th value.
    std::array<int, 128> common{};
    for (std::size_t i = 0; i < n; i += 16)
        if (raw[2 * i] || raw[2 * i + 1]) ++common[raw[2 * i + 1] & 127];
    EXPECT_EQ(coded[5], std::max_element(common.begin(), common.end()) - common.begin());
    detail::byte_reader r(detail::byte_span(coded).subspan(6));
    r.raw(r.varint()); // table descriptions
    r.raw(r.varint()); // tANS stream
    std::size_t at = 6 + r.pos(), nonzero = 0;
    for (std::size_t j = 0; j < q; ++j)
        for (std::size_t k = 0; k < 4; ++k) {
            const std::size_t i = k * q + j;
            if (raw[2 * i] || raw[2 * i + 1]) {
                ++nonzero;
                EXPECT_EQ(coded[at++], raw[2 * i]) << i;
            }
        }
    EXPECT_EQ(r.remaining(), nonzero);
}

TEST(codecs_formats, planes_dense_payload_is_what_format_md_says) {
    // version 3, element type, mode 2 (dense), table_log, context mask without context 1
    // (after a zero), center, the zero runs (count, k, the list's size, then per run in bits
    // its distance from the end of the one before: exp-Golomb of it >> k and its k low bits,
    // and its length - 1 in exp-Golomb), the descriptions and the tANS stream, then the low
    // bytes of every value outside the runs in value order, then the partial trailing element.
    // Without zeros, version 2 and no runs.
    const std::size_t n = 4000;
    bytes raw = without_zeros(dtype::f32, gradients(dtype::f32, n, 1));
    std::memset(raw.data() + 4 * 1000, 0, 4 * 100); // values 1000-1099
    std::memset(raw.data() + 4 * 3000, 0, 4 * 16);  // values 3000-3015
    std::memset(raw.data() + 4 * 3500, 0, 4 * 2);   // values 3500-3501
    std::memset(raw.data() + 4 * 3999, 0, 4 * 1);   // the last value
    raw.push_back(0x5A);
    const auto coded = encode_direct("planes", dtype::f32, raw);
    ASSERT_EQ(mode_of(coded), 2);
    EXPECT_EQ(coded[0], 3);
    EXPECT_EQ(coded[1], static_cast<std::uint8_t>(dtype::f32));
    EXPECT_EQ(coded[3], 10);
    EXPECT_EQ(coded[4] & 3, 1);
    EXPECT_EQ(coded[6], 4); // the number of runs
    const auto listed = read_runs(coded);
    const std::vector<std::pair<std::size_t, std::size_t>> runs = {
        {1000, 100}, {3000, 16}, {3500, 2}, {3999, 1}};
    EXPECT_EQ(listed.runs, runs);
    // The k that makes the list shortest: gaps 1000, 1900, 484, 497.
    auto list_bits = [](std::size_t k) {
        std::size_t bits = 0;
        for (const std::size_t gap : {1000u, 1900u, 484u, 497u})
            bits += 2 * std::bit_width((gap >> k) + 1) - 1 + k;
        for (const std::size_t len : {100u, 16u, 2u, 1u}) bits += 2 * std::bit_width(len) - 1;
        return bits;
    };
    for (std::size_t k = 0; k <= 40; ++k) EXPECT_LE(list_bits(listed.k), list_bits(k)) << k;
    EXPECT_EQ(listed.list_bytes, (list_bits(listed.k) + 7) / 8);
    detail::byte_reader r(detail::byte_span(coded).subspan(listed.end));
    r.raw(r.varint()); // table descriptions
    r.raw(r.varint()); // tANS stream
    const std::size_t kept = n - 119;
    ASSERT_EQ(r.remaining(), kept * 3 + 1);
    std::size_t at = listed.end + r.pos();
    for (std::size_t i = 0; i < n; ++i) {
        if ((i >= 1000 && i < 1100) || (i >= 3000 && i < 3016) || i == 3500 || i == 3501 ||
            i == 3999)
            continue;
        for (std::size_t b = 0; b < 3; ++b) ASSERT_EQ(coded[at++], raw[4 * i + b]) << i;
    }
    EXPECT_EQ(coded.back(), 0x5A);
    // Without zeros: version 2, no runs (the bytes a version-2 encoder wrote).
    const auto none = encode_direct("planes", dtype::f32, without_zeros(dtype::f32, raw));
    ASSERT_EQ(mode_of(none), 2);
    EXPECT_EQ(none[0], 2);
    EXPECT_EQ(none[6], 0);
}

TEST(codec_planes, dense_version_2_payloads_still_decode) {
    // Version 2 (stop 26-28 encoders) listed runs of 16 or more zeros as varints (distance from
    // the end of the run before, length - 16), and left shorter runs among the values coded.
    // The payload of a chunk whose runs are all that long, its list rewritten that way, decodes
    // to the same values; with its last run one value longer (past the chunk's end), an error.
    for (const auto t : float_types) {
        SCOPED_TRACE(detail::dtype_name(t));
        const std::size_t elem = detail::dtype_size(t), n = 20000;
        bytes raw = without_zeros(t, gradients(t, n, 12));
        for (const auto& [at, len] : std::vector<std::pair<std::size_t, std::size_t>>{
                 {0, 16}, {100, 40}, {5000, 3000}, {19950, 50}})
            std::memset(raw.data() + at * elem, 0, len * elem);
        const auto v3 = round_trip(t, raw);
        ASSERT_EQ(mode_of(v3), 2);
        ASSERT_EQ(v3[0], 3);
        const auto listed = read_runs(v3);
        ASSERT_EQ(listed.runs.size(), 4u);
        auto as_v2 = [&](std::size_t longer) {
            bytes v2(v3.begin(), v3.begin() + 6);
            v2[0] = 2;
            detail::byte_writer w(v2);
            w.varint(listed.runs.size());
            std::size_t end = 0;
            for (std::size_t i = 0; i < listed.runs.size(); ++i) {
                const auto [at, len] = listed.runs[i];
                w.varint(at - end);
                w.varint(len - 16 + (i + 1 == listed.runs.size() ? longer : 0));
                end = at + len;
            }
            w.raw(detail::byte_span(v3).subspan(listed.end));
            return v2;
        };
        EXPECT_EQ(decode_direct("planes", t, as_v2(0), raw.size()), raw);
        EXPECT_EQ(decode_direct("planes", t, as_v2(0), raw.size(), without_simd), raw);
        EXPECT_THROW(decode_direct("planes", t, as_v2(1), raw.size()), error);
    }
}

namespace {

// Truncations, changed bytes and bad header fields of a valid payload of `raw` in `mode` (0
// coded, 2 dense): errors of the corrupt kind, never a crash. `bad_headers`: (byte, value).
void expect_hostile_payloads_fail_cleanly(dtype t, const bytes& raw, int mode,
                                          std::initializer_list<std::pair<int, int>> bad_headers,
                                          std::mt19937_64& rng) {
    const auto coded = round_trip(t, raw);
    ASSERT_EQ(mode_of(coded), mode);
    // Every truncation is an error of the corrupt kind.
    for (std::size_t cut = 0; cut < coded.size(); cut += 1 + coded.size() / 97) {
        const bytes b(coded.begin(), coded.begin() + static_cast<std::ptrdiff_t>(cut));
        EXPECT_THROW(decode_direct("planes", t, b, raw.size()), error) << cut;
    }
    // Changed bytes: an error of the corrupt kind or some output, never a crash, and the same
    // with the SIMD join and without.
    for (int k = 0; k < 300; ++k) {
        bytes b = coded;
        b[rng() % b.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
        EXPECT_EQ(decode_outcome("planes", t, b, raw.size(), {}),
                  decode_outcome("planes", t, b, raw.size(), without_simd));
    }
    for (const auto& [at, v] : bad_headers) {
        bytes b = coded;
        b[static_cast<std::size_t>(at)] = static_cast<std::uint8_t>(v);
        EXPECT_THROW(decode_direct("planes", t, b, raw.size()), error) << at << "=" << v;
    }
}

} // namespace

TEST(codec_planes, hostile_payloads_fail_cleanly) {
    std::mt19937_64 rng(3);
    for (const auto t : float_types) {
        SCOPED_TRACE(detail::dtype_name(t));
        for (const std::size_t n : {300u, 3000u, 20000u}) {
            // Coded: header fields out of range (mode 2 needs version 2; there is no 4).
            expect_hostile_payloads_fail_cleanly(
                t, with_zero_runs(t, n, 20, 4, n), 0,
                {{0, 0}, {0, 4}, {2, 2}, {2, 7}, {3, 5}, {3, 11}, {4, 0}, {4, 64}, {5, 128}}, rng);
            // Dense without zero runs (version 2): version 1, or 3 (which needs runs), or a
            // table for the context after a zero (there are none).
            const auto dense = without_zeros(t, gradients(t, n, n + 1));
            const auto coded = encode_direct("planes", t, dense);
            expect_hostile_payloads_fail_cleanly(
                t, dense, 2, {{0, 1}, {0, 3}, {0, 4}, {4, coded.at(4) | 2}, {4, 64}, {5, 128}},
                rng);
            // Dense with zero runs (version 3). Byte 6: 2 runs; 7: k; 8: the list's size:
            // no runs, more runs than the list can hold, k out of range, a list too short or
            // with bytes left over; runs past the chunk's end (changed bytes).
            bytes runs = dense;
            const std::size_t elem = detail::dtype_size(t);
            std::memset(runs.data(), 0, 20 * elem);
            std::memset(runs.data() + (n - 30) * elem, 0, 30 * elem);
            expect_hostile_payloads_fail_cleanly(
                t, runs, 2, {{0, 1}, {6, 0}, {6, 127}, {7, 41}, {7, 255}, {8, 0}, {8, 127}}, rng);
            // Many short runs (one zero in 100 values).
            bytes scattered = dense;
            for (std::size_t i = 5; i < n; i += 100)
                std::memset(scattered.data() + i * elem, 0, elem);
            expect_hostile_payloads_fail_cleanly(t, scattered, 2, {{0, 1}, {6, 0}, {7, 41}}, rng);
            // A run list of zero bits only: an exp-Golomb code that never ends.
            bytes blank = encode_direct("planes", t, scattered);
            const auto listed = read_runs(blank);
            std::fill_n(blank.begin() + static_cast<std::ptrdiff_t>(listed.end - listed.list_bytes),
                        listed.list_bytes, 0);
            EXPECT_THROW(decode_direct("planes", t, blank, scattered.size()), error);
        }
    }
}

TEST(codec_planes, dense_when_at_most_one_zero_run_in_64_values) {
    // The dense mode (no zero symbol) lists every zero run, ~10 bits each where they are one in
    // 64 values; the coded mode pays for its zero symbol about as much: at the limit the two
    // payloads are within 1% of each other. A run counts once whatever its length.
    for (const auto t : float_types) {
        SCOPED_TRACE(detail::dtype_name(t));
        const std::size_t elem = detail::dtype_size(t), n = 25600;
        bytes raw = without_zeros(t, gradients(t, n, 9));
        for (std::size_t i = 0; i < 399; ++i) std::memset(raw.data() + (i * 64) * elem, 0, elem);
        std::memset(raw.data() + 25540 * elem, 0, 40 * elem); // the 400th run
        const auto dense = round_trip(t, raw);
        EXPECT_EQ(mode_of(dense), 2);
        EXPECT_EQ(read_runs(dense).runs.size(), 400u);
        std::memset(raw.data() + 25598 * elem, 0, elem); // the 401st
        const auto coded = round_trip(t, raw);
        EXPECT_EQ(mode_of(coded), 0);
        EXPECT_LT(dense.size(), coded.size() * 101 / 100);
        EXPECT_LT(coded.size(), dense.size() * 101 / 100);
        // 400 runs of 1 to 15 zeros: dense; one more zero between two of them: coded.
        bytes runs = without_zeros(t, gradients(t, n, 10));
        for (std::size_t i = 0; i < 400; ++i)
            std::memset(runs.data() + (i * 64) * elem, 0, (1 + i % 15) * elem);
        EXPECT_EQ(mode_of(round_trip(t, runs)), 2);
        std::memset(runs.data() + 40 * elem, 0, elem);
        EXPECT_EQ(mode_of(round_trip(t, runs)), 0);
    }
}

TEST(codec_planes, dense_zero_runs_anywhere) {
    // Runs at the chunk's start and end, back to back with one value between, across the
    // decoder's blocks, of every length from 16 to 40; a chunk of one value among zeros; and
    // zeros only (coded: there is nothing left to code densely). Runs cost a few bytes each.
    for (const auto t : float_types) {
        SCOPED_TRACE(detail::dtype_name(t));
        const std::size_t elem = detail::dtype_size(t), n = 30000;
        const bytes values = without_zeros(t, gradients(t, n, 4));
        bytes raw = values;
        auto zero = [&](std::size_t at, std::size_t len) {
            std::memset(raw.data() + at * elem, 0, len * elem);
        };
        zero(0, 20);
        zero(21, 16);
        zero(n - 17, 17);
        zero(8000, 9000);
        for (std::size_t len = 16, at = 20000; len <= 40; at += len + 3, ++len) zero(at, len);
        const auto coded = round_trip(t, raw);
        EXPECT_EQ(mode_of(coded), 2);
        EXPECT_LT(coded.size(), encode_direct("planes", t, values).size() * 75 / 100);
        bytes one(5000 * elem, 0);
        std::memcpy(one.data() + 2500 * elem, values.data(), elem);
        EXPECT_EQ(mode_of(round_trip(t, one)), 2);
        EXPECT_EQ(mode_of(round_trip(t, bytes(5000 * elem, 0))), 0);
        bytes odd = raw;
        odd.push_back(0x77);
        round_trip(t, odd);
    }
    // Runs at and across the edges of the encoder's 64-value scan blocks, one ending at the
    // chunk's end where a block ends: listed exactly.
    for (const auto t : float_types) {
        SCOPED_TRACE(detail::dtype_name(t));
        const std::size_t elem = detail::dtype_size(t), n = 6400;
        bytes raw = without_zeros(t, gradients(t, n, 8));
        const std::vector<std::pair<std::size_t, std::size_t>> runs = {
            {0, 1}, {60, 10}, {127, 1}, {129, 200}, {1024, 64}, {1152, 63}, {6336, 64}};
        for (const auto& [at, len] : runs) std::memset(raw.data() + at * elem, 0, len * elem);
        const auto coded = round_trip(t, raw);
        ASSERT_EQ(mode_of(coded), 2);
        EXPECT_EQ(read_runs(coded).runs, runs);
    }
    // Runs longer than 2^24 values (exp-Golomb codes of more than 24 zeros in the list).
    const std::size_t n = (std::size_t{1} << 24) + 300;
    bytes raw(2 * n, 0);
    const bytes values = without_zeros(dtype::bf16, gradients(dtype::bf16, 300, 6));
    std::memcpy(raw.data(), values.data(), 200);                 // 100 values
    std::memcpy(raw.data() + 2 * (n - 200), values.data(), 400); // 200 values
    const auto coded = round_trip(dtype::bf16, raw);
    EXPECT_EQ(mode_of(coded), 2);
    const std::vector<std::pair<std::size_t, std::size_t>> one_run = {{100, n - 300}};
    EXPECT_EQ(read_runs(coded).runs, one_run);
}

TEST(codec_planes, dense_sizes_around_lanes_and_decoder_blocks) {
    // As in the coded mode: every count to 300, counts around the blocks of 2048 steps, odd
    // trailing bytes, special values.
    for (const auto t : float_types) {
        SCOPED_TRACE(detail::dtype_name(t));
        for (std::size_t n = 1; n <= 300; ++n) round_trip(t, without_zeros(t, gradients(t, n, n)));
        for (const std::size_t n : {8191u, 8192u, 8193u, 8196u, 16383u, 16384u, 16385u, 40000u})
            EXPECT_EQ(mode_of(round_trip(t, without_zeros(t, gradients(t, n, n)))), 2) << n;
        bytes odd = without_zeros(t, gradients(t, 5000, 3));
        odd.push_back(0xAB);
        EXPECT_EQ(mode_of(round_trip(t, odd)), 2);
        EXPECT_EQ(mode_of(round_trip(t, without_zeros(t, special_value_inputs(t).mixed))), 2);
    }
}
