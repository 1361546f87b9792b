// The fast codec: bit-exact round trips of every element type it codes (special values, tiny
// and odd-sized chunks, zeros, constants, random bits, gradients, real gradients), the
// payload layout of docs/format.md, a frozen stream, and hostile payloads failing cleanly.
#include "codec-test-util.hpp"
#include "common/common-checksum.hpp"
#include "common/common-float.hpp"
#include "lmgc/lmgc.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>

using namespace lmgc;
using namespace lmgc::test;
using detail::dtype;

namespace {

constexpr std::size_t n_lanes_for_rows = 4; // the codec's lanes (docs/format.md)

// Encodes and decodes raw through the codec table, with lag classes (the default) and
// without (level 2), each decoded with the SIMD pass and without; returns the default's
// payload.
bytes round_trip(dtype t, const bytes& raw) {
    const auto coded = encode_direct("fast", t, raw);
    EXPECT_EQ(decode_direct("fast", t, coded, raw.size()), raw)
        << detail::dtype_name(t) << ", " << raw.size() << " bytes";
    EXPECT_EQ(decode_direct("fast", t, coded, raw.size(), without_simd), raw)
        << detail::dtype_name(t) << ", " << raw.size() << " bytes, simd=0";
    const auto plain = encode_direct("fast", t, raw, {{"lag_classes", "0"}});
    EXPECT_EQ(decode_direct("fast", t, plain, raw.size()), raw)
        << detail::dtype_name(t) << ", " << raw.size() << " bytes, without lag classes";
    return coded;
}

// A byte of the payload changed, `times` times over: each decodes to an error of the corrupt
// kind or to some output, never to a crash or an overrun (ASan build), and the same with the
// SIMD pass and without.
void expect_damage_fails_cleanly(dtype t, const bytes& coded, std::size_t n, int times,
                                 std::mt19937_64& rng) {
    for (int k = 0; k < times; ++k) {
        bytes b = coded;
        b[rng() % b.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
        EXPECT_EQ(decode_outcome("fast", t, b, n, {}),
                  decode_outcome("fast", t, b, n, without_simd));
    }
}

// A random magnitude of class c (0: zero; 1..man: a denormal whose leading bit is c - 1;
// above: exponent field c - man) for a type with `man` mantissa bits.
std::uint64_t magnitude_of_class(unsigned c, unsigned man, std::mt19937_64& rng) {
    if (c > man) return std::uint64_t{c - man} << man | (rng() & ((std::uint64_t{1} << man) - 1));
    if (c > 0) return std::uint64_t{1} << (c - 1) | (rng() & ((std::uint64_t{1} << (c - 1)) - 1));
    return 0;
}

} // namespace

TEST(codec_fast, in_the_table_for_float_types_only) {
    expect_float_codec_entry("fast");
}

TEST(codec_fast, gradients_of_every_type_round_trip_and_compress) {
    for (const auto t : float_types) {
        const auto raw = gradients(t, 200000, 3);
        const auto coded = round_trip(t, raw);
        EXPECT_EQ(mode_of(coded), 0);
        // ~35% zeros and a per-block scale: well below the raw size.
        EXPECT_LT(coded.size(), raw.size() * (t == dtype::f64 ? 60 : 75) / 100)
            << detail::dtype_name(t);
    }
}

TEST(codec_fast, special_values_alone_in_runs_and_mixed_into_gradients) {
    for (const auto t : float_types) {
        SCOPED_TRACE(detail::dtype_name(t));
        const auto in = special_value_inputs(t);
        round_trip(t, in.alone);
        EXPECT_EQ(mode_of(round_trip(t, in.runs)), 0);
        EXPECT_EQ(mode_of(round_trip(t, in.mixed)), 0);
    }
    // Every 16-bit pattern (all denormals, infinities and NaNs of both formats).
    std::vector<std::uint16_t> all(65536);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint16_t>(i * 40503u);
    round_trip(dtype::f16, as_bytes(all));
    round_trip(dtype::bf16, as_bytes(all));
    // Every f32 denormal class (leading bit 0..22), with random bits below it.
    std::vector<std::uint32_t> den;
    std::mt19937_64 rng(5);
    for (int k = 0; k < 5000; ++k) {
        const unsigned p = static_cast<unsigned>(rng() % 23);
        den.push_back(static_cast<std::uint32_t>(rng() & 0x80000000u) | 1u << p |
                      (static_cast<std::uint32_t>(rng()) & ((1u << p) - 1)));
    }
    EXPECT_EQ(mode_of(round_trip(dtype::f32, as_bytes(den))), 0);
}

TEST(codec_fast, tiny_chunks_and_partial_trailing_elements) {
    for (const auto t : float_types) {
        // Zeros code even when tiny (f64), so the coded path sees 1-3 values too.
        for (const auto& raw : tiny_inputs(t, 3)) round_trip(t, raw);
        bytes odd = gradients(t, 5000, 3);
        odd.push_back(0xAB);
        EXPECT_EQ(mode_of(round_trip(t, odd)), 0);
    }
    EXPECT_EQ(mode_of(round_trip(dtype::f64, bytes(3 * 8, 0))), 0);
}

TEST(codec_fast, sizes_around_lanes_groups_and_the_sign_lag) {
    // Every count from 1 to 300 values (lanes of unequal length, steps shorter than the sign
    // lag, the raw-bit tail) and some larger ones, in coded mode: values from a few classes
    // with signs that follow the value 3 back.
    for (const auto t : float_types) {
        SCOPED_TRACE(detail::dtype_name(t));
        const auto g = gradients(t, 20000, 13);
        const std::size_t elem = detail::dtype_size(t);
        // Powers of two of a few exponents (no raw bits): coded even when tiny.
        const std::uint64_t one = t == dtype::f32   ? 0x3f800000u
                                  : t == dtype::f64 ? 0x3ff0000000000000u
                                  : t == dtype::f16 ? 0x3c00u
                                                    : 0x3f80u;
        const unsigned man = t == dtype::f32 ? 23 : t == dtype::f64 ? 52 : t == dtype::f16 ? 10 : 7;
        std::mt19937_64 rng(n_seed(t));
        for (std::size_t n = 1; n <= 300; ++n) {
            bytes raw(g.begin(), g.begin() + static_cast<std::ptrdiff_t>(n * elem));
            round_trip(t, raw);
            bytes pow2(n * elem);
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint64_t v = (rng() % 5 == 0) ? 0 : one - ((rng() % 3) << man);
                std::memcpy(pow2.data() + i * elem, &v, elem);
            }
            const auto coded = round_trip(t, pow2);
            if (n >= 24) {
                EXPECT_EQ(mode_of(coded), 0) << n;
            }
        }
        for (const std::size_t n : {1021u, 4096u, 4097u, 12289u, 20000u}) {
            bytes raw(g.begin(), g.begin() + static_cast<std::ptrdiff_t>(n * elem));
            for (std::size_t i = 3; i < n; i += 3) // signs agree 3 apart
                raw[i * elem + elem - 1] = static_cast<std::uint8_t>(
                    (raw[i * elem + elem - 1] & 0x7F) | (raw[(i - 3) * elem + elem - 1] & 0x80));
            EXPECT_EQ(mode_of(round_trip(t, raw)), 0) << n;
        }
    }
}

TEST(codec_fast, lag_classes_with_denormals_across_decoder_blocks) {
    // Classes and signs that repeat 3 values on, so that lag classes pay, drawn from normals
    // and from denormals of every leading bit (those below the lag classes' 10 top bits have
    // lag class 0): the decoder takes a value's lag class from its class, the encoder from
    // its top bits. 60000 values: several of the decoder's blocks, and its careful tail.
    for (const auto t : {dtype::f32, dtype::f16, dtype::bf16}) {
        SCOPED_TRACE(detail::dtype_name(t));
        const unsigned man = t == dtype::f32 ? 23 : t == dtype::f16 ? 10 : 7;
        const unsigned bits = t == dtype::f32 ? 32 : 16;
        const std::size_t n = 60000, elem = bits / 8;
        std::mt19937_64 rng(n_seed(t) + 1);
        std::vector<unsigned> cls(n);
        bytes raw(n * elem);
        for (std::size_t i = 0; i < n; ++i) {
            const bool repeat = i >= 3 && rng() % 8 != 0;
            cls[i] =
                repeat ? cls[i - 3]
                       : (rng() % 3 == 0 ? static_cast<unsigned>(rng() % (man + 1)) // 0, denormals
                                         : man + 100 + static_cast<unsigned>(rng() % 12));
            std::uint64_t v = magnitude_of_class(cls[i], man, rng);
            const std::uint64_t sign =
                i >= 3 ? (raw[(i - 3) * elem + elem - 1] >> 7) ^ (rng() % 16 == 0) : rng() & 1;
            v |= sign << (bits - 1);
            std::memcpy(raw.data() + i * elem, &v, elem);
        }
        const auto coded = round_trip(t, raw);
        ASSERT_EQ(mode_of(coded), 0);
        detail::byte_reader r(detail::byte_span(coded).subspan(5));
        r.varint();                // center
        EXPECT_EQ(r.varint(), 3u); // lag
        EXPECT_EQ(r.u8(), 4u);     // lag classes
        expect_damage_fails_cleanly(t, coded, raw.size(), 300, rng);

        // Level 2 (lag_classes=0) on the same values: no lag classes, the lag for the sign
        // alone (also 3 here), a larger payload that still decodes.
        const auto plain = encode_direct("fast", t, raw, {{"lag_classes", "0"}});
        EXPECT_EQ(decode_direct("fast", t, plain, raw.size()), raw);
        detail::byte_reader p(detail::byte_span(plain).subspan(5));
        p.varint();
        EXPECT_EQ(p.varint(), 3u);
        EXPECT_EQ(p.u8(), 1u);
        EXPECT_GT(plain.size(), coded.size() + n / 32);
    }
}

TEST(codec_fast, lag_classes_option_is_recorded_only_when_off) {
    const auto& e = detail::find_codec("fast");
    detail::codec_config cfg;
    EXPECT_TRUE(e.make(cfg)->params().empty()); // default streams keep their bytes
    cfg.options = {{"lag_classes", "1"}};
    EXPECT_TRUE(e.make(cfg)->params().empty());
    cfg.options = {{"lag_classes", "0"}};
    EXPECT_EQ(e.make(cfg)->params(), (std::vector<codec_option>{{"lag_classes", "0"}}));
    for (const char* bad : {"2", "-1", "yes", ""}) {
        cfg.options = {{"lag_classes", bad}};
        errc code = errc::ok;
        try {
            e.make(cfg);
        } catch (const error& err) {
            code = err.code();
        }
        EXPECT_EQ(code, errc::usage) << bad;
    }
    // Level 2 is fast without lag classes, recorded in the file; level 3 is plain fast; level
    // 1 is planes (test-codec-planes.cpp).
    const auto file = make_npy("<f4", {20000}, float_bytes(gradient_like(20000, 4)));
    for (const int level : {1, 2, 3}) {
        auto p = default_compress_params();
        p.level = level;
        const auto image = compress(file, p);
        EXPECT_EQ(decompress(image, default_decompress_params()), file);
        const auto fi = inspect(image);
        EXPECT_EQ(fi.level, level);
        ASSERT_EQ(fi.streams.size(), 1u);
        EXPECT_EQ(fi.streams[0].codec, level == 1 ? "planes" : "fast");
        const std::vector<codec_option> recorded =
            level == 2 ? std::vector<codec_option>{{"lag_classes", "0"}}
                       : std::vector<codec_option>{};
        EXPECT_EQ(fi.streams[0].codec_params, recorded);
    }
}

TEST(codec_fast, row_lags_where_rows_repeat_their_classes) {
    // Classes that repeat one row on (1152 and 4608 values: 128 and 512 kernels of 3x3), as
    // in VGG16's last conv layers, with random signs and nothing repeating nearer: the encoder
    // takes the row as the lag, with lag classes, and the decoder looks a row back through the
    // symbols of the whole chunk (across its blocks of 2048 steps) where its blocks did not
    // reach before. Without the repeats, no row lag.
    for (const auto t : {dtype::f32, dtype::f16, dtype::bf16}) {
        for (const std::size_t row : {std::size_t{1152}, std::size_t{4608}}) {
            SCOPED_TRACE(std::string(detail::dtype_name(t)) + ", row " + std::to_string(row));
            const unsigned man = t == dtype::f32 ? 23 : t == dtype::f16 ? 10 : 7;
            const unsigned bits = t == dtype::f32 ? 32 : 16;
            const std::size_t n = n_lanes_for_rows * (8 * row + 3000), elem = bits / 8;
            for (const bool repeats : {true, false}) {
                std::mt19937_64 rng(n_seed(t) + row);
                std::vector<unsigned> cls(n);
                bytes raw(n * elem);
                for (std::size_t i = 0; i < n; ++i) {
                    const bool repeat = repeats && i >= row && rng() % 8 != 0;
                    cls[i] = repeat ? cls[i - row]
                             : rng() % 16 == 0
                                 ? static_cast<unsigned>(rng() % (man + 1)) // 0, denormals
                                 : man + 100 + static_cast<unsigned>(rng() % 12);
                    std::uint64_t v = magnitude_of_class(cls[i], man, rng);
                    v |= (rng() & 1) << (bits - 1);
                    std::memcpy(raw.data() + i * elem, &v, elem);
                }
                const auto coded = round_trip(t, raw);
                ASSERT_EQ(mode_of(coded), 0);
                detail::byte_reader r(detail::byte_span(coded).subspan(5));
                r.varint(); // center
                const auto lag = r.varint();
                const unsigned n_lag = r.u8();
                if (repeats) {
                    EXPECT_EQ(lag, row);
                    EXPECT_EQ(n_lag, 4u);
                } else {
                    EXPECT_LT(lag, 64u);
                }
                if (repeats) expect_damage_fails_cleanly(t, coded, raw.size(), 100, rng);
            }
        }
    }
}

TEST(codec_fast, row_lag_from_the_tensor_shape) {
    // Rows of 1536 values (not in the encoder's list of row lengths) whose classes repeat one
    // row on. Coded as a 1-D tensor, the encoder does not try that lag; as the [rows, 1536]
    // tensor it is, it does, and the payload is smaller.
    const std::size_t row = 1536, rows = 40, n = row * rows;
    std::mt19937_64 rng(15);
    std::vector<unsigned> cls(n);
    bytes raw(n * 4);
    for (std::size_t i = 0; i < n; ++i) {
        cls[i] =
            i >= row && rng() % 8 != 0 ? cls[i - row] : 100 + static_cast<unsigned>(rng() % 12);
        const std::uint32_t v = static_cast<std::uint32_t>(rng() & 1) << 31 | (cls[i] - 23) << 23 |
                                static_cast<std::uint32_t>(rng() & 0x7fffff);
        std::memcpy(raw.data() + 4 * i, &v, 4);
    }
    auto lag_of = [](const bytes& coded) {
        detail::byte_reader r(detail::byte_span(coded).subspan(5));
        r.varint(); // center
        return r.varint();
    };
    const auto flat = round_trip(dtype::f32, raw);
    EXPECT_NE(lag_of(flat), row);

    const std::vector<std::int64_t> shape = {static_cast<std::int64_t>(rows),
                                             static_cast<std::int64_t>(row)};
    detail::chunk_layout layout;
    layout.type = dtype::f32;
    layout.tensors.push_back({0, raw.size(), shape});
    bytes coded;
    detail::find_codec("fast").make(detail::codec_config{})->encode(raw, layout, coded);
    EXPECT_EQ(decode_direct("fast", dtype::f32, coded, raw.size()), raw);
    EXPECT_EQ(lag_of(coded), row);
    EXPECT_LT(coded.size() * 100, flat.size() * 98) << coded.size() << " vs " << flat.size();
}

TEST(codec_fast, every_way_to_find_classes_across_types_and_zero_low_bits) {
    // The encoder finds a value's class with branches, without (wider types) or from a table
    // kept per thread for a 16-bit type and zero_low (chunks with 1 denormal in 32 or more).
    // Chunks of each type, heavy and light in denormals, with 0 to 3 low mantissa bits zero,
    // one after the other on this thread, so that a table kept for the wrong type or
    // zero_low would code wrong classes or raw bits.
    std::mt19937_64 rng(7);
    for (int round = 0; round < 2; ++round)
        for (const unsigned zero_low : {0u, 3u, 1u})
            for (const auto t : {dtype::f16, dtype::bf16, dtype::f16, dtype::f32, dtype::f64})
                for (const bool denormals : {true, false}) {
                    SCOPED_TRACE(std::string(detail::dtype_name(t)) + " zero_low " +
                                 std::to_string(zero_low) + (denormals ? " denormals" : ""));
                    const unsigned man = t == dtype::f32   ? 23
                                         : t == dtype::f64 ? 52
                                         : t == dtype::f16 ? 10
                                                           : 7;
                    const std::size_t elem = detail::dtype_size(t), n = 5000;
                    bytes raw(n * elem);
                    for (std::size_t i = 0; i < n; ++i) {
                        std::uint64_t v = rng();
                        v &= (std::uint64_t{1} << man) - 1; // a random mantissa
                        if (!denormals || rng() % 4 != 0)   // else a denormal (or zero)
                            v |= std::uint64_t{1 + rng() % 3} << man;
                        v = v >> zero_low << zero_low;
                        if (rng() % 2) v |= std::uint64_t{1} << (elem * 8 - 1);
                        std::memcpy(raw.data() + i * elem, &v, elem);
                    }
                    const auto coded = round_trip(t, raw);
                    ASSERT_EQ(mode_of(coded), 0);
                    EXPECT_EQ(coded[3], zero_low); // the payload's zero_low byte
                }
}

TEST(codec_fast, simd_pass_gives_the_portable_bytes) {
    // The decoder's AVX2 pass (16-bit types with lag classes) against its portable one
    // (simd=0): chunks whose classes and signs repeat 3 or 1152 values on (lag classes, a
    // short and a row lag), with normals, denormals of every leading bit and zeros,
    // 0 to 3 low mantissa bits zero (the pass shifts the raw bits back up), sizes that end
    // anywhere in the pass's two steps and its raw-bit window; each decodes to the values,
    // both ways. Then damaged copies: the same output, or the same error, both ways.
    for (const auto t : {dtype::bf16, dtype::f16}) {
        const unsigned man = t == dtype::f16 ? 10 : 7;
        for (const std::size_t lag : {std::size_t{3}, std::size_t{1152}})
            for (const unsigned zero_low : {0u, 3u, 1u})
                for (const std::size_t extra : {std::size_t{11}, std::size_t{6}}) {
                    const std::size_t n = (lag < 64 ? 20000 : 4 * (8 * lag + 3000)) + extra;
                    SCOPED_TRACE(std::string(detail::dtype_name(t)) + " lag " +
                                 std::to_string(lag) + " zero_low " + std::to_string(zero_low) +
                                 " n " + std::to_string(n));
                    std::mt19937_64 rng(n + lag + zero_low);
                    std::vector<unsigned> cls(n);
                    bytes raw(n * 2);
                    for (std::size_t i = 0; i < n; ++i) {
                        const bool repeat = i >= lag && rng() % 8 != 0;
                        cls[i] = repeat ? cls[i - lag]
                                 : rng() % 4 == 0
                                     ? static_cast<unsigned>(rng() % (man + 1)) // 0, denormals
                                     : man + 100 + static_cast<unsigned>(rng() % 12);
                        // Denormals with their leading bit among the zeroed low bits are zero.
                        std::uint64_t v = magnitude_of_class(cls[i], man, rng) >> zero_low
                                                                                      << zero_low;
                        // Signs that mostly agree with the value's `lag` back.
                        const std::uint64_t sign =
                            i >= lag ? (raw[2 * (i - lag) + 1] >> 7) ^ (rng() % 16 == 0)
                                     : rng() & 1;
                        v |= sign << 15;
                        detail::store_le(raw.data() + 2 * i, static_cast<std::uint16_t>(v));
                    }
                    const auto coded = encode_direct("fast", t, raw);
                    ASSERT_EQ(mode_of(coded), 0);
                    EXPECT_EQ(coded[3], zero_low);
                    detail::byte_reader r(detail::byte_span(coded).subspan(5));
                    r.varint(); // center
                    EXPECT_EQ(r.varint(), lag);
                    EXPECT_EQ(r.u8(), 4u); // lag classes
                    EXPECT_EQ(decode_direct("fast", t, coded, raw.size()), raw);
                    EXPECT_EQ(decode_direct("fast", t, coded, raw.size(), without_simd), raw);
                    expect_damage_fails_cleanly(t, coded, raw.size(), 40, rng);
                }
    }
}

TEST(codec_fast, zeros_and_constants) {
    // Bit patterns of -0, 1.0 and a NaN with its lowest payload bit set, per type.
    struct consts {
        dtype t;
        std::uint64_t neg_zero, one, nan;
    };
    for (const auto& c :
         {consts{dtype::f32, 0x80000000u, 0x3f800000u, 0x7fff0001u},
          consts{dtype::f16, 0x8000u, 0x3c00u, 0x7fffu},
          consts{dtype::bf16, 0x8000u, 0x3f80u, 0x7fffu},
          consts{dtype::f64, 0x8000000000000000u, 0x3ff0000000000000u, 0x7fff000000000001u}}) {
        SCOPED_TRACE(detail::dtype_name(c.t));
        const std::size_t elem = detail::dtype_size(c.t), n = 100000;
        EXPECT_LT(round_trip(c.t, bytes(n * elem, 0)).size(), 64u);
        auto filled = [&](std::uint64_t v) {
            bytes b(n * elem);
            for (std::size_t i = 0; i < n; ++i) std::memcpy(b.data() + i * elem, &v, elem);
            return b;
        };
        // The class costs nothing; mantissa bits that are zero in every value are left out.
        EXPECT_LT(round_trip(c.t, filled(c.neg_zero)).size(), 64u);
        EXPECT_LT(round_trip(c.t, filled(c.one)).size(), 64u);
        // The NaN's low bit set: every mantissa bit is raw, still below the raw size.
        EXPECT_LT(round_trip(c.t, filled(c.nan)).size(), n * elem);
    }
}

TEST(codec_fast, random_bit_patterns_are_stored) {
    for (const auto t : float_types) {
        const auto raw = random_bytes(100000 * detail::dtype_size(t), 5);
        const auto coded = round_trip(t, raw);
        EXPECT_EQ(mode_of(coded), 1) << detail::dtype_name(t);
        EXPECT_EQ(coded.size(), raw.size() + 3);
    }
}

TEST(codec_fast, real_gradients_in_every_type_beat_byte_shuffling) {
    const auto files = real_gradient_files();
    if (files.empty()) GTEST_SKIP() << "shared/data/grads not found next to the source tree";
    for (const auto& f : files) {
        const auto file = read_file(f);
        auto p = default_compress_params();
        p.codec = "fast";
        compress_stats st;
        const auto image = compress(file, p, &st);
        EXPECT_EQ(decompress(image, default_decompress_params()), file) << f;
        // shuffle-zstd reaches 56.1% and 55.7% on these files.
        EXPECT_LT(st.rate_percent(), 55.5) << f;
    }
    // The same values as bf16 and f16, through the codec.
    const auto file = read_file(files[0]);
    bytes raw(file.end() - 317706 * 4, file.end());
    std::vector<float> v(raw.size() / 4);
    std::memcpy(v.data(), raw.data(), raw.size());
    std::vector<std::uint16_t> h, bf;
    for (const float x : v)
        h.push_back(detail::f32_to_f16(x)), bf.push_back(detail::f32_to_bf16(x));
    EXPECT_LT(round_trip(dtype::bf16, as_bytes(bf)).size(), bf.size() * 2 * 46 / 100);
    EXPECT_LT(round_trip(dtype::f16, as_bytes(h)).size(), h.size() * 2 * 54 / 100);
}

TEST(codec_fast, chunks_threads_and_mixed_files_through_the_container) {
    expect_container_round_trips_at_any_thread_count("fast", 17);
}

TEST(codec_fast, frozen_stream) {
    // If this fails, the coded bytes changed: files written before may no longer decode the
    // same. Bump the fast payload version (docs/format.md) if the decoder changed, and update
    // the values only on purpose.
    const auto raw = lcg_gradients(100000);
    const auto coded = encode_direct("fast", dtype::f32, raw);
    EXPECT_EQ(decode_direct("fast", dtype::f32, coded, raw.size()), raw);
    EXPECT_EQ(coded.size(), 216627u);
    EXPECT_EQ(detail::crc32c(coded), 1190877233u);
    // With a lag and lag classes: the top byte (sign, exponent) repeats 3 values on, with a
    // sign flip every third value (so the sign pattern repeats 6 on).
    bytes rows = raw;
    for (std::size_t i = 3; i < rows.size() / 4; ++i) {
        if (i % 5) rows[4 * i + 3] = rows[4 * (i - 3) + 3];
        if (i % 3 == 1) rows[4 * i + 3] ^= 0x80;
    }
    const auto coded_rows = encode_direct("fast", dtype::f32, rows);
    EXPECT_EQ(decode_direct("fast", dtype::f32, coded_rows, rows.size()), rows);
    detail::byte_reader r(detail::byte_span(coded_rows).subspan(5));
    r.varint();                // center
    EXPECT_EQ(r.varint(), 6u); // lag (of the sign pattern)
    EXPECT_EQ(r.u8(), 4u);     // lag classes
    // Tables of 2^9 slots with lag classes (2^10 in the first encoder: 224314 bytes, CRC
    // 32139031; decoders read both). Payload version 1: f32 chunks never take version 2.
    EXPECT_EQ(coded_rows[0], 1);
    EXPECT_EQ(coded_rows[4], 9);
    EXPECT_EQ(coded_rows.size(), 224257u);
    EXPECT_EQ(detail::crc32c(coded_rows), 565647553u);
}

TEST(codec_fast, frozen_bf16_streams) {
    // As frozen_stream, for bf16 (its first pass has paths of its own: 7 raw bits, classes by
    // branches): lanes of zeros beside lanes of values (zero runs of 200 every 600, lanes
    // 25,000 apart), the ends of runs, denormals every 37 values over a stretch, then a lag
    // with lag classes (the sign and exponent repeating 3 on, the sign flipping every third).
    // If this fails, the coded bytes changed: see frozen_stream.
    const auto f32 = lcg_gradients(100000);
    bytes raw(f32.size() / 2);
    for (std::size_t i = 0; i < raw.size() / 2; ++i) {
        raw[2 * i] = f32[4 * i + 2];
        raw[2 * i + 1] = f32[4 * i + 3];
    }
    for (std::size_t i = 30000; i < 35000; i += 37) {
        raw[2 * i] = static_cast<std::uint8_t>(1 + i % 127);
        raw[2 * i + 1] = static_cast<std::uint8_t>((i & 1) << 7);
    }
    bytes rows = raw;
    for (std::size_t i = 3; i < rows.size() / 2; ++i) {
        if (i % 5) rows[2 * i + 1] = rows[2 * (i - 3) + 1];
        if (i % 3 == 1) rows[2 * i + 1] ^= 0x80;
    }
    struct frozen {
        const bytes* raw;
        std::vector<codec_option> options;
        std::size_t size;
        std::uint32_t crc;
    };
    const frozen cases[] = {{&raw, {}, 83816, 1760034744u}, // no lag classes taken
                            {&raw, {{"lag_classes", "0"}}, 83816, 1760034744u},
                            {&rows, {}, 90059, 2861962930u},
                            {&rows, {{"lag_classes", "0"}}, 92989, 4222180086u}};
    for (const auto& c : cases) {
        const auto coded = encode_direct("fast", dtype::bf16, *c.raw, c.options);
        EXPECT_EQ(decode_direct("fast", dtype::bf16, coded, c.raw->size()), *c.raw);
        EXPECT_EQ(coded.size(), c.size) << (&c - cases);
        EXPECT_EQ(detail::crc32c(coded), c.crc) << (&c - cases);
    }
}

TEST(codec_fast, tiny_denormals_have_lag_classes_of_their_own) {
    // f16 kernels of zeros and tiny denormals (below the 10 bits lag classes index): payload
    // version 2, where their lag classes are their classes' (version 1 put them with zero).
    const auto raw = as_bytes(tiny_f16_kernels(20000, 1));
    const auto coded = encode_direct("fast", dtype::f16, raw);
    EXPECT_EQ(decode_direct("fast", dtype::f16, coded, raw.size()), raw);
    ASSERT_GT(coded.size(), 16u);
    EXPECT_EQ(coded[0], 2);
    EXPECT_EQ(mode_of(coded), 0);
    detail::byte_reader r(detail::byte_span(coded).subspan(5));
    r.varint();                // center
    EXPECT_EQ(r.varint(), 9u); // lag: one kernel
    EXPECT_EQ(r.u8(), 4u);     // lag classes
    // Frozen: a change of these bytes needs a new payload version (docs/format.md).
    EXPECT_EQ(coded.size(), 85299u);
    EXPECT_EQ(detail::crc32c(coded), 1500065450u);
    // The same values scaled up out of the tiny range (normals): version 1, as before.
    auto big = tiny_f16_kernels(20000, 1);
    for (auto& h : big)
        if (h & 0x7fff) h = static_cast<std::uint16_t>(h + (8u << 10)); // exponent + 8
    const auto coded_big = encode_direct("fast", dtype::f16, as_bytes(big));
    EXPECT_EQ(decode_direct("fast", dtype::f16, coded_big, raw.size()), as_bytes(big));
    EXPECT_EQ(coded_big[0], 1);
    // Version 2 is refused without lag classes and for stored chunks.
    bytes v2_stored = encode_direct("fast", dtype::f16, random_bytes(4000, 2));
    ASSERT_EQ(mode_of(v2_stored), 1);
    v2_stored[0] = 2;
    EXPECT_THROW(decode_direct("fast", dtype::f16, v2_stored, 4000), error);
}

// Parses the header of a coded fast payload as docs/format.md gives it; returns the lag and
// the number of lag classes, checking the fields on the way.
std::pair<std::uint64_t, unsigned> check_coded_header(const bytes& coded, dtype t, std::size_t n) {
    EXPECT_TRUE(coded[0] == 1 || coded[0] == 2) << int(coded[0]);
    EXPECT_EQ(coded[1], static_cast<std::uint8_t>(t));
    EXPECT_EQ(coded[2], 0);
    EXPECT_EQ(coded[3], 0); // gradients use every mantissa bit: zero_low 0
    const unsigned table_log = coded[4];
    detail::byte_reader r(detail::byte_span(coded).subspan(5));
    const auto center = r.varint();
    EXPECT_GT(center, 23u + 100u); // exponent classes of values near 1e-4 .. 1e-2
    EXPECT_LT(center, 23u + 127u);
    const auto lag = r.varint();
    EXPECT_LE(lag, n);
    const unsigned n_lag = r.u8();
    EXPECT_TRUE(n_lag == 1 || (n_lag == 4 && lag >= 2)) << n_lag;
    EXPECT_TRUE(coded[0] == 1 || n_lag == 4);      // version 2 only with lag classes
    EXPECT_EQ(table_log, n_lag > 1 ? 9u : 10u);    // for a chunk this large
    const auto mask = r.raw((31 * n_lag + 7) / 8); // which contexts have a table
    EXPECT_EQ(mask[0] & 1, 1);
    EXPECT_EQ(mask.back() >> (31 * n_lag % 8), 0);
    r.blob();                  // table descriptions
    const auto sym = r.blob(); // coded symbols, read from their end
    EXPECT_FALSE(sym.empty());
    if (!sym.empty()) {
        EXPECT_NE(sym.back(), 0); // the end mark
    }
    EXPECT_GT(r.remaining(), n * 23 / 8 * 6 / 10); // raw mantissas of the nonzero values
    return {lag, n_lag};
}

TEST(codecs_formats, fast_payload_is_what_format_md_says) {
    // Coded: version 1, dtype, mode 0, zero_low, table_log, center, lag, lag classes, context
    // mask, then two sized sections and the raw bits.
    const std::size_t n = 50000;
    auto raw = gradients(dtype::f32, n, 7);
    auto coded = encode_direct("fast", dtype::f32, raw);
    ASSERT_GT(coded.size(), 16u);
    EXPECT_EQ(check_coded_header(coded, dtype::f32, n), (std::pair<std::uint64_t, unsigned>{0, 1}));
    // Kernel rows of 3: signs and scales repeat 3 values on. The lag is 3, with lag classes.
    for (std::size_t i = 3; i < n; ++i)
        if (i % 5) raw[4 * i + 3] = raw[4 * (i - 3) + 3];
    coded = encode_direct("fast", dtype::f32, raw);
    EXPECT_EQ(decode_direct("fast", dtype::f32, coded, raw.size()), raw);
    EXPECT_EQ(check_coded_header(coded, dtype::f32, n).second, 4u);
    // Stored: the header, then the chunk as it is.
    const auto noise = random_bytes(4000, 1);
    const auto stored = encode_direct("fast", dtype::f32, noise);
    ASSERT_EQ(stored.size(), noise.size() + 3);
    EXPECT_EQ(bytes(stored.begin(), stored.begin() + 3),
              (bytes{1, static_cast<std::uint8_t>(dtype::f32), 1}));
    EXPECT_TRUE(std::equal(noise.begin(), noise.end(), stored.begin() + 3));
}

TEST(codec_fast, hostile_payloads_fail_cleanly) {
    const auto raw = gradients(dtype::f32, 20000, 29);
    const auto coded = encode_direct("fast", dtype::f32, raw);
    ASSERT_EQ(mode_of(coded), 0);
    auto expect_corrupt = [&](const bytes& p, std::size_t n, const char* what) {
        try {
            decode_direct("fast", dtype::f32, p, n);
            ADD_FAILURE() << what << ": decoded";
        } catch (const error& e) {
            EXPECT_EQ(e.code(), errc::corrupt) << what << ": " << e.what();
        }
    };
    // Each header field out of range.
    auto with = [&](std::size_t at, std::uint8_t v) {
        bytes b = coded;
        b[at] = v;
        return b;
    };
    expect_corrupt(with(0, 2), raw.size(), "version 2 without lag classes");
    expect_corrupt(with(0, 3), raw.size(), "version 3");
    expect_corrupt(with(0, 0), raw.size(), "version 0");
    expect_corrupt(with(1, static_cast<std::uint8_t>(dtype::f64)), raw.size(), "other dtype");
    expect_corrupt(with(2, 7), raw.size(), "mode 7");
    expect_corrupt(with(3, 24), raw.size(), "zero_low 24");
    expect_corrupt(with(4, 4), raw.size(), "table_log 4");
    expect_corrupt(with(4, 11), raw.size(), "table_log 11");
    bytes big_center = with(5, 0xFF);
    big_center[6] = 0x7F;
    expect_corrupt(big_center, raw.size(), "center 16383");
    // A stored payload of the wrong size, a coded one for a chunk without a whole value.
    expect_corrupt(bytes{1, static_cast<std::uint8_t>(dtype::f32), 1, 0, 0}, 4, "stored size");
    expect_corrupt(coded, 3, "no whole value");
    // Truncated anywhere, or with bytes after its end.
    for (std::size_t keep = 0; keep < coded.size(); keep += 1 + keep / 3)
        expect_corrupt(bytes(coded.begin(), coded.begin() + static_cast<std::ptrdiff_t>(keep)),
                       raw.size(), "truncated");
    bytes longer = coded;
    longer.push_back(1);
    expect_corrupt(longer, raw.size(), "trailing byte");
    // A valid payload decoded into a much larger chunk: the symbols run out early, and the
    // decoder stops there instead of running through 16 MiB of output.
    expect_corrupt(coded, 16u << 20, "chunk size");
    // Flipped bytes and junk: an error or some output, never a crash (ASan build).
    std::mt19937_64 rng(3);
    for (int k = 0; k < 3000; ++k) {
        bytes b = coded;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f)
            b[rng() % b.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
        try {
            decode_direct("fast", dtype::f32, b, raw.size());
        } catch (const error& e) {
            EXPECT_EQ(e.code(), errc::corrupt) << e.what();
        }
    }
    for (const auto t : float_types)
        for (int k = 0; k < 300; ++k) {
            bytes junk = random_bytes(rng() % 200, rng());
            if (junk.size() > 2) junk[0] = 1, junk[1] = static_cast<std::uint8_t>(t), junk[2] = 0;
            try {
                decode_direct("fast", t, junk, detail::dtype_size(t) * (rng() % 3000));
            } catch (const error& e) {
                EXPECT_EQ(e.code(), errc::corrupt) << e.what();
            }
        }
}
