// The cm model: its fixed-point primitives, the generic prior interface (which must agree
// with the codec's fast path), and a frozen stream that pins the format: any change to the
// model's arithmetic shows up here, since old files must keep decoding.
#include "codecs/codec.hpp"
#include "coder/coder-range.hpp"
#include "common/common-checksum.hpp"
#include "model/model-ctxmix-v1.hpp"
#include "model/model-ctxmix.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <cstring>

using namespace lmgc;
using namespace lmgc::detail;
using namespace lmgc::detail::ctxmix;

namespace {

// Gradient-like values from integer arithmetic only, so the data (and the stream coded from
// it) is the same with every standard library.
std::vector<std::uint32_t> lcg_gradients(std::size_t n) {
    std::vector<std::uint32_t> v(n);
    std::uint64_t s = 12345;
    auto next = [&] {
        return static_cast<std::uint32_t>(
            (s = s * 6364136223846793005ull + 1442695040888963407ull) >> 33);
    };
    std::uint32_t level = 110;
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 512 == 0) level = 100 + next() % 20;
        const auto r = next();
        if (r % 3 == 0) {
            v[i] = 0;
            continue;
        }
        const std::uint32_t e = level - (r >> 8) % 5 - ((r >> 11) % 8 == 0 ? 3 : 0);
        v[i] = (r & 1u) << 31 | e << 23 | (next() & 0x7FFFFF);
    }
    return v;
}

// Values that take every path of the model: dense stretches (the zero flag's single
// counter), runs of zeros (its run mode), scattered zeros (the mixed flag), exponent jumps
// far from the prediction (the escape), denormals and both signs of zero.
std::vector<std::uint32_t> mixed_gradients(std::size_t n) {
    auto v = lcg_gradients(n);
    std::uint64_t s = 777;
    auto next = [&] {
        return static_cast<std::uint32_t>(
            (s = s * 6364136223846793005ull + 1442695040888963407ull) >> 33);
    };
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t part = i / 1000 % 4;
        const auto r = next();
        if (part == 0 && v[i] == 0) v[i] = (110u << 23) | (r & 0x807FFFFF);       // dense
        if (part == 1 && i % 1000 >= 300 && i % 1000 < 700) v[i] = (r & 1) << 31; // zero run
        if (r % 97 == 0) v[i] = (r & 0x80000000u) | ((r >> 7) % 255) << 23 | (r & 0x7FFFFF);
        if (r % 211 == 0) v[i] = r & 0x807FFFFF; // denormal
    }
    return v;
}

bytes encode_fast(const std::vector<std::uint32_t>& v) {
    const auto codec = find_codec("cm").make(codec_config{});
    chunk_layout layout;
    layout.type = dtype::f32;
    bytes raw(v.size() * 4), out;
    std::memcpy(raw.data(), v.data(), raw.size());
    codec->encode(raw, layout, out);
    return out;
}

// Records the fast path's decisions: (P(1) in 1/65536, bit); raw bits as decisions of
// probability 1/2, most significant first (as the prior interface gives them).
struct recording_io {
    static constexpr bool decoding = false;
    std::vector<std::pair<int, int>> log;
    int bit(int p16, int y, int) {
        log.emplace_back(p16, y);
        return y;
    }
    std::uint32_t raw(std::uint32_t x, unsigned n) {
        for (unsigned k = n; k-- > 0;) log.emplace_back(32768, static_cast<int>((x >> k) & 1));
        return x;
    }
};

// The codec's encoder adapter, for coding with a model directly.
struct encoder_io {
    static constexpr bool decoding = false;
    range_encoder& enc;
    int bit(int p16, int y, int) {
        enc.encode_bit(static_cast<unsigned>(p16), y);
        return y;
    }
    std::uint32_t raw(std::uint32_t x, unsigned n) {
        enc.encode_bits(x, n);
        return x;
    }
};

// Its decoder counterpart (raw bits range coded too, as encoder_io writes them).
struct decoder_io {
    static constexpr bool decoding = true;
    range_decoder& dec;
    int bit(int p16, int, int) { return dec.decode_bit(static_cast<unsigned>(p16)); }
    std::uint32_t raw(std::uint32_t, unsigned n) { return dec.decode_bits(n); }
};

} // namespace

TEST(model_ctxmix, logistic_tables) {
    // squash is monotonic, stretch inverts it up to rounding, both in range.
    int prev = 0;
    for (int d = -2047; d <= 2047; ++d) {
        const int p = squash(d);
        ASSERT_GE(p, prev);
        ASSERT_GE(p, 1);
        ASSERT_LE(p, 4095);
        prev = p;
    }
    for (int p = 1; p < 4095; ++p) {
        const int s = stretch(p);
        ASSERT_GE(s, -2047);
        ASSERT_LE(s, 2047);
        EXPECT_NEAR(squash(s), p, 40) << p;
    }
    EXPECT_EQ(squash(0), 2047);
    // Counters move towards what they see and stay in range.
    counter c = counter_init;
    for (int k = 0; k < 1000; ++k) counter_update(c, 1);
    EXPECT_GT(counter_p12(c), 4080);
    for (int k = 0; k < 1000; ++k) counter_update(c, 0);
    EXPECT_LT(counter_p12(c), 15);
}

TEST(model_ctxmix, prior_interface_matches_the_fast_path) {
    // The prior interface (model_prior_i, one decision at a time, state in members) and the
    // codec's fast path (code_values(), state in locals) share the per-decision functions:
    // they must give every decision the same probability.
    for (const unsigned mant : {1u, 2u}) {
        auto v = mixed_gradients(24000);
        const std::vector<segment> segs{segment{0, 9, 3, 4, 0}, segment{9000, 1, 1, 0, 0},
                                        segment{15000, 25, 5, 0, 100}};
        float_params fp;
        fp.mant_modelled = mant;
        recording_io rec;
        {
            auto copy = v;
            float_model<fmt_f32> fast(copy.data(), copy.size(), segs, fp);
            fast.code_values(rec, copy.size());
        }

        const auto vb = std::span(reinterpret_cast<const std::uint8_t*>(v.data()), v.size() * 4);
        auto enc_prior = float_prior::make(dtype::f32, vb, segs, fp);
        bytes stream;
        range_encoder enc(stream);
        std::size_t steps = 0;
        while (!enc_prior->done()) {
            const auto cdf = enc_prior->predict();
            ASSERT_EQ(cdf.n_symbols(), 2u);
            ASSERT_GE(cdf.freq(0), 1u);
            ASSERT_GE(cdf.freq(1), 1u);
            const auto s = enc_prior->next_symbol();
            ASSERT_LT(steps, rec.log.size());
            ASSERT_EQ(static_cast<int>(cdf.freq(1)), rec.log[steps].first) << "decision " << steps;
            ASSERT_EQ(static_cast<int>(s), rec.log[steps].second) << "decision " << steps;
            enc.encode(cdf, s);
            enc_prior->update(s);
            ++steps;
        }
        enc.finish();
        EXPECT_EQ(steps, rec.log.size());

        // Decoding through the interface gives the values back.
        const bytes zeros(vb.size(), 0);
        auto dec_prior = float_prior::make(dtype::f32, zeros, segs, fp);
        range_decoder dec(stream);
        while (!dec_prior->done()) {
            const auto cdf = dec_prior->predict();
            dec_prior->update(dec.decode(cdf));
        }
        bytes back(vb.size());
        dec_prior->copy_values(back);
        EXPECT_TRUE(std::equal(back.begin(), back.end(), vb.begin()));

        // reset() starts over: the same first prediction again.
        dec_prior->reset();
        auto again = float_prior::make(dtype::f32, zeros, segs, fp);
        EXPECT_EQ(dec_prior->predict().freq(1), again->predict().freq(1));
    }
}

TEST(model_ctxmix, frozen_stream) {
    // The version-1 model, kept to decode old files: its bytes must never change.
    // The segments are fixed here: the encoder's choice of segments may change freely.
    auto v = lcg_gradients(30000);
    const std::vector<segment> segs{segment{0, 9, 3, 2, 0}, segment{20000, 1, 1, 0, 0}};
    float_params fp;
    fp.mant_modelled = 1;
    v1::float_model<fmt_f32> model(v.data(), v.size(), segs, fp);
    bytes coded;
    range_encoder enc(coded);
    encoder_io io{enc};
    model.code_values(io, v.size());
    enc.finish();
    EXPECT_EQ(coded.size(), 71018u);
    EXPECT_EQ(crc32c(coded), 3254031580u);
}

TEST(model_ctxmix, frozen_stream_v2) {
    // The current model (cm payload version 2). If this fails, its arithmetic changed:
    // files written before no longer decode. Bump the cm payload version (docs/format.md),
    // keep this model as it is for them (as model-ctxmix-v1.hpp keeps version 1), and
    // update the values only on purpose.
    // Segments with and without a row (the row-back context).
    const auto v = mixed_gradients(30000);
    const std::vector<segment> segs{segment{0, 9, 3, 2, 0}, segment{12000, 9, 3, 5, 36},
                                    segment{20000, 1, 1, 0, 0}};
    float_params fp;
    fp.mant_modelled = 1;
    bytes coded;
    {
        auto copy = v;
        float_model<fmt_f32> model(copy.data(), copy.size(), segs, fp);
        range_encoder enc(coded);
        encoder_io io{enc};
        model.code_values(io, copy.size());
        enc.finish();
    }
    EXPECT_EQ(coded.size(), 74552u);
    EXPECT_EQ(crc32c(coded), 2756558360u);
    // The frozen stream decodes to the values.
    {
        std::vector<std::uint32_t> back(v.size(), 0);
        float_model<fmt_f32> model(back.data(), back.size(), segs, fp);
        range_decoder dec(coded);
        decoder_io io{dec};
        model.code_values(io, back.size());
        EXPECT_EQ(back, v);
    }

    // The whole payload (header, range-coded decisions, raw bits) of a chunk too short for
    // the encoder's segment search (which may change freely).
    const auto p = encode_fast(mixed_gradients(5000));
    EXPECT_EQ(p[0], 2);
    EXPECT_EQ(p.size(), 13332u);
    EXPECT_EQ(crc32c(p), 3490230920u);
}

TEST(model_ctxmix, segments_from_shapes_and_data) {
    // A conv weight (shape known) and a flat vector with 3x3 kernel structure.
    std::vector<tensor_hint> hints;
    hints.push_back({0, 64 * 16 * 9, {64, 16, 3, 3}});
    hints.push_back({64 * 16 * 9, 64, {64}});
    const std::vector<std::uint32_t> vals(64 * 16 * 9 + 64, 0x3f800000u);
    const auto segs = find_segments<std::uint32_t>(vals, 8, 23, hints);
    ASSERT_EQ(segs.size(), 2u);
    EXPECT_EQ(segs[0].kernel, 9u);
    EXPECT_EQ(segs[0].width, 3u);
    EXPECT_EQ(segs[0].row, 16u * 9u);
    EXPECT_EQ(segs[1].start, 64u * 16u * 9u);
    EXPECT_EQ(segs[1].kernel, 1u);

    // Flat data whose kernels of 9 start at offset 4: signs shared along kernel rows and
    // exponents shared by kernel.
    std::vector<std::uint32_t> flat(40000);
    std::uint64_t s = 7;
    auto next = [&] {
        return static_cast<std::uint32_t>((s = s * 6364136223846793005ull + 1) >> 33);
    };
    for (std::size_t k = 0; k * 9 + 4 < flat.size(); ++k) {
        const std::uint32_t e = 100 + next() % 20;
        for (std::size_t j = 0; j < 9 && k * 9 + 4 + j < flat.size(); ++j) {
            const std::uint32_t sign = (next() % 8 == 0) ^ ((k + j / 3) & 1);
            flat[k * 9 + 4 + j] = sign << 31 | e << 23 | (next() & 0x7FFFFF);
        }
    }
    const auto found = find_segments<std::uint32_t>(flat, 8, 23, {});
    ASSERT_FALSE(found.empty());
    const auto& g = found.back();
    EXPECT_EQ(g.kernel, 9u);
    EXPECT_EQ(g.width, 3u);
    // pos(i) = (i - start + phase) % 9 must be 0 at i = 4.
    EXPECT_EQ((4 + 9 * 1000 - g.start % 9 + g.phase) % 9, 0u);
}

TEST(model_ctxmix, version_1_payloads_decode) {
    // A cm payload of version 1 as the version-1 encoder wrote it for these values (its
    // size and CRC-32C were taken from that encoder's output, commit add4b16): header,
    // then the frozen model's range-coded values. The current decoder must give the
    // values back.
    auto v = lcg_gradients(30000);
    const segment seg{0, 25, 5, 6, 0}; // what that encoder's segment search chose
    float_params fp;
    fp.mant_modelled = 1;
    bytes data;
    {
        auto copy = v;
        v1::float_model<fmt_f32> model(copy.data(), copy.size(), std::span(&seg, 1), fp);
        range_encoder enc(data);
        encoder_io io{enc};
        model.code_values(io, copy.size());
        enc.encode_bits(0xC3A55A, 24); // end marker
        enc.finish();
    }
    bytes payload = {1, static_cast<std::uint8_t>(dtype::f32), 0};
    byte_writer w(payload);
    for (const std::uint64_t x : {1u, 0u, 1u, 0u, 25u, 5u, 6u, 0u}) w.varint(x);
    w.varint(data.size());
    w.raw(data);
    EXPECT_EQ(payload.size(), 71021u);
    EXPECT_EQ(crc32c(payload), 1103452898u);

    const auto codec = find_codec("cm").make(codec_config{});
    chunk_layout layout;
    layout.type = dtype::f32;
    bytes back(v.size() * 4);
    codec->decode(payload, layout, back);
    EXPECT_EQ(std::memcmp(back.data(), v.data(), back.size()), 0);
}
