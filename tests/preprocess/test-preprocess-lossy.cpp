// --preprocess: each step and their combinations rebuild exactly the lossy tensor from the
// file, count their side information, and keep what they promise (k kept entries, top
// magnitudes, bounded quantization error).
#include "common/common-float.hpp"
#include "lmgc/lmgc.hpp"
#include "preprocess/preprocess-lossy.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace lmgc;
using namespace lmgc::test;
using lmgc::detail::dtype;

namespace {

std::vector<float> floats_of(const bytes& npy, std::size_t n) {
    std::vector<float> v(n);
    std::memcpy(v.data(), npy.data() + (npy.size() - 4 * n), 4 * n);
    return v;
}

struct lossy_run {
    bytes decoded, expected;
    compress_stats st;
};

lossy_run run(const bytes& file, const std::string& spec, const std::string& codec = "zstd",
              std::uint64_t seed = 42) {
    auto p = default_compress_params();
    p.codec = codec;
    p.preprocess = spec;
    p.seed = seed;
    lossy_run r;
    const auto image = compress(file, p, &r.st);
    r.decoded = decompress(image, default_decompress_params());
    r.expected = expected_output(file, p);
    return r;
}

} // namespace

TEST(preprocess, parse_specs) {
    using detail::parse_preprocess;
    EXPECT_EQ(parse_preprocess("sparsify:10").size(), 1u);
    EXPECT_EQ(parse_preprocess("sparsify:10+quantize:8").size(), 2u);
    EXPECT_EQ(parse_preprocess("topk:0.5+sparsify:50+quantize:1").back().bits, 1u);
    for (const char* bad : {"", "sparsify", "sparsify:0", "sparsify:101", "topk:x", "quantize:0",
                            "quantize:17", "quantize:8+sparsify:10", "blur:3", "sparsify:10+"})
        EXPECT_THROW(parse_preprocess(bad), error) << bad;
}

TEST(preprocess, sparsify_keeps_exactly_p_percent_and_is_seeded) {
    const std::size_t n = 10000;
    const auto src = gradient_like(n, 5);
    const auto file = make_npy("<f4", {static_cast<std::int64_t>(n)}, float_bytes(src));
    const auto r = run(file, "sparsify:10");
    ASSERT_EQ(r.decoded, r.expected);
    const auto out = floats_of(r.decoded, n);
    std::size_t kept = 0, kept_nonzero_src = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (std::bit_cast<std::uint32_t>(out[i]) != 0) {
            EXPECT_EQ(out[i], src[i]); // kept values are exact
            ++kept;
        }
        if (std::bit_cast<std::uint32_t>(out[i]) == 0 && src[i] != 0) ++kept_nonzero_src;
    }
    EXPECT_LE(kept, 1000u); // the 1000 kept include some exact zeros of the source
    EXPECT_GT(kept, 500u);
    EXPECT_EQ(r.st.side_info_bytes, 0u); // the seed is in the fixed part
    EXPECT_EQ(r.st.preprocessed_bytes, 1000u * 4);
    // A different seed keeps different entries.
    EXPECT_NE(run(file, "sparsify:10", "zstd", 43).decoded, r.decoded);
    EXPECT_GT(r.st.relative_l2_error, 0.5);
}

TEST(preprocess, topk_keeps_the_largest_magnitudes_and_stores_the_mask) {
    const std::size_t n = 5000;
    const auto src = gradient_like(n, 6);
    const auto file = make_npy("<f4", {static_cast<std::int64_t>(n)}, float_bytes(src));
    const auto r = run(file, "topk:5");
    ASSERT_EQ(r.decoded, r.expected);
    const auto out = floats_of(r.decoded, n);
    float min_kept = INFINITY, max_dropped = 0;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (out[i] != 0) {
            ++kept;
            min_kept = std::min(min_kept, std::fabs(src[i]));
        } else {
            max_dropped = std::max(max_dropped, std::fabs(src[i]));
        }
    }
    EXPECT_EQ(kept, 250u);
    EXPECT_GE(min_kept, max_dropped);
    EXPECT_GT(r.st.side_info_bytes, 20u);        // the mask costs something ...
    EXPECT_LT(r.st.side_info_bytes, n / 8 + 16); // ... less than a bitmap
    EXPECT_EQ(r.st.preprocessed_bytes, 250u * 4 + r.st.side_info_bytes);
}

TEST(preprocess, quantize_bits_bound_the_error) {
    const std::size_t n = 4096;
    const auto src = gradient_like(n, 7);
    const auto file = make_npy("<f4", {static_cast<std::int64_t>(n)}, float_bytes(src));
    float lo = INFINITY, hi = -INFINITY;
    for (const float x : src) lo = std::min(lo, x), hi = std::max(hi, x);
    for (const unsigned bits : {8u, 16u, 4u}) {
        const auto r = run(file, "quantize:" + std::to_string(bits));
        ASSERT_EQ(r.decoded, r.expected);
        const auto out = floats_of(r.decoded, n);
        const double step = (static_cast<double>(hi) - lo) / ((1u << bits) - 1);
        for (std::size_t i = 0; i < n; ++i)
            ASSERT_LE(std::fabs(out[i] - src[i]), step * 0.5 + 1e-6 * step + 1e-12);
        EXPECT_EQ(r.st.preprocessed_bytes, n * (bits <= 8 ? 1 : 2) + 16);
    }
    const auto r1 = run(file, "quantize:1");
    ASSERT_EQ(r1.decoded, r1.expected);
    const auto out = floats_of(r1.decoded, n);
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(std::signbit(out[i]), src[i] < 0) << i;
    EXPECT_EQ(r1.st.preprocessed_bytes, n / 8 + 16);
}

TEST(preprocess, combinations_dtypes_and_formats) {
    std::vector<std::uint16_t> bf(3000), hf(3000);
    const auto g = gradient_like(3000, 8);
    for (std::size_t i = 0; i < g.size(); ++i) {
        bf[i] = detail::f32_to_bf16(g[i]);
        hf[i] = detail::f32_to_f16(g[i] * 100);
    }
    bytes bfb(bf.size() * 2), hfb(hf.size() * 2), f64b(3000 * 8);
    std::memcpy(bfb.data(), bf.data(), bfb.size());
    std::memcpy(hfb.data(), hf.data(), hfb.size());
    for (std::size_t i = 0; i < 3000; ++i) detail::store_le<double>(f64b.data() + 8 * i, g[i]);
    const auto st = make_safetensors({{"w", "F32", {30, 100}, float_bytes(g)},
                                      {"steps", "I64", {2}, bytes(16, 7)},
                                      {"b", "BF16", {3000}, bfb},
                                      {"h", "F16", {3000}, hfb},
                                      {"d", "F64", {3000}, f64b}});
    for (const auto* spec : {"sparsify:10+quantize:8", "topk:10+quantize:16", "sparsify:50+topk:20",
                             "quantize:1", "sparsify:3"})
        for (const auto* codec : {"zstd", "store", "gzip"}) {
            SCOPED_TRACE(std::string(spec) + " " + codec);
            const auto r = run(st, spec, codec);
            ASSERT_EQ(r.decoded, r.expected);
            EXPECT_NE(r.decoded, st);
            EXPECT_EQ(r.decoded.size(), st.size());
            // the integer tensor passes through unchanged
            const std::size_t int_at = st.size() - (16 + bfb.size() + hfb.size() + f64b.size());
            EXPECT_TRUE(std::equal(st.begin() + static_cast<std::ptrdiff_t>(int_at),
                                   st.begin() + static_cast<std::ptrdiff_t>(int_at + 16),
                                   r.decoded.begin() + static_cast<std::ptrdiff_t>(int_at)));
        }
    // big-endian npy
    bytes be = float_bytes(g);
    detail::swap_bytes_inplace(be, 4);
    const auto npy_be = make_npy(">f4", {3000}, be);
    const auto r = run(npy_be, "topk:10+quantize:8");
    ASSERT_EQ(r.decoded, r.expected);
}

TEST(preprocess, non_finite_values_refuse_quantize_but_not_sparsify) {
    auto g = gradient_like(100, 9);
    g[5] = INFINITY;
    const auto file = make_npy("<f4", {100}, float_bytes(g));
    EXPECT_THROW(run(file, "quantize:8"), error);
    const auto r = run(file, "sparsify:50");
    EXPECT_EQ(r.decoded, r.expected);
}

TEST(preprocess, damaged_side_information_is_detected) {
    const auto file = make_npy("<f4", {2000}, float_bytes(gradient_like(2000, 10)));
    auto p = default_compress_params();
    p.codec = "store";
    p.preprocess = "topk:10+quantize:8";
    auto image = compress(file, p);
    // Flip every byte of the header region in turn: always an error, never wrong output.
    for (std::size_t i = 8; i < 200 && i < image.size(); ++i) {
        auto bad = image;
        bad[i] ^= 0x10;
        EXPECT_THROW(decompress(bad, default_decompress_params()), error) << i;
    }
}

TEST(preprocess, float16_conversions_round_trip) {
    for (std::uint32_t h = 0; h < 65536; ++h) {
        const auto hh = static_cast<std::uint16_t>(h);
        const float f = detail::f16_to_f32(hh);
        if (std::isnan(f)) continue;
        ASSERT_EQ(detail::f32_to_f16(f), hh) << h;
        ASSERT_EQ(detail::f32_to_bf16(detail::bf16_to_f32(hh)), hh) << h;
    }
    EXPECT_EQ(detail::f32_to_f16(65520.0f), 0x7c00);
    EXPECT_EQ(detail::f32_to_f16(65519.0f), 0x7bff);
    EXPECT_EQ(detail::f32_to_f16(5.9604645e-08f), 0x0001);
    EXPECT_EQ(detail::f32_to_f16(2.9802322e-08f), 0x0000); // ties to even
}

// Each step, alone and combined, on a file of several tensors: the file alone rebuilds the
// lossy tensors that preprocess_forward makes (placed where the originals were), and the side
// information the stats count is exactly the sum of every float tensor's, stored in the file.
TEST(preprocess, file_rebuilds_each_tensor_and_counts_its_side_information) {
    const auto g1 = gradient_like(3000, 21), g2 = gradient_like(777, 22),
               g3 = gradient_like(64, 23);
    const bytes ints(8 * 5, 3);
    const std::vector<st_tensor> tensors = {{"a", "F32", {30, 100}, float_bytes(g1)},
                                            {"n", "I64", {5}, ints},
                                            {"b", "F32", {777}, float_bytes(g2)},
                                            {"c", "F32", {8, 8}, float_bytes(g3)}};
    const auto file = make_safetensors(tensors);
    const std::size_t data_start = file.size() - (3000 + 777 + 64) * 4 - ints.size();
    temp_dir d;
    write_bytes(d.file("in.safetensors"), file);
    for (const auto* spec : {"sparsify:10", "topk:10", "quantize:1", "quantize:8", "quantize:16",
                             "topk:10+quantize:8", "sparsify:30+topk:50+quantize:16"}) {
        SCOPED_TRACE(spec);
        const auto steps = detail::parse_preprocess(spec);
        auto p = default_compress_params();
        p.codec = "store";
        p.preprocess = spec;
        p.seed = 77;
        // Independently: each float tensor through preprocess_forward, index = its place in
        // the file's tensor list.
        bytes want = file;
        std::uint64_t side = 0, stream = 0;
        std::size_t at = data_start;
        for (std::size_t ti = 0; ti < tensors.size(); ++ti) {
            const auto& t = tensors[ti];
            if (t.dtype == "F32") {
                const auto pp = detail::preprocess_forward(t.data, dtype::f32, steps, 77, ti);
                std::memcpy(want.data() + at, pp.reconstructed.data(), t.data.size());
                side += pp.side_info.size();
                stream += pp.stream.size();
                if (std::string(spec).rfind("topk:10", 0) == 0 && steps.size() == 1) {
                    // kept values are the originals, bit for bit
                    for (std::size_t i = 0; i < t.data.size(); i += 4) {
                        float y;
                        std::memcpy(&y, pp.reconstructed.data() + i, 4);
                        if (y != 0.0f) {
                            ASSERT_EQ(
                                std::memcmp(pp.reconstructed.data() + i, t.data.data() + i, 4), 0);
                        }
                    }
                }
            } else {
                stream += t.data.size();
            }
            at += t.data.size();
        }
        const auto st = compress_file(d.file("in.safetensors"), d.file("x.lmgc"), p, true);
        EXPECT_EQ(st.side_info_bytes, side);
        EXPECT_EQ(st.preprocessed_bytes, stream + side);
        EXPECT_GE(st.output_bytes, stream + side); // store: all of it is in the file
        decompress_file(d.file("x.lmgc"), d.file("out.safetensors"), default_decompress_params(),
                        true);
        const auto got = read_bytes(d.file("out.safetensors"));
        EXPECT_EQ(got, want);
        EXPECT_EQ(got, expected_output(file, p));
        EXPECT_EQ(inspect_file(d.file("x.lmgc")).preprocess, spec);
    }
}
