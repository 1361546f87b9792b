// .npy: every supported dtype, byte order, memory order and version round-trips byte for
// byte; malformed headers fail with a message.
#include "io/io-tensor-file.hpp"
#include "lmgc/lmgc.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

using namespace lmgc;
using namespace lmgc::test;

namespace {

bytes random_bytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
}

void expect_round_trip(const bytes& file, const std::string& codec = "zstd") {
    auto p = default_compress_params();
    p.codec = codec;
    p.chunk_bytes = 1000;
    const auto image = compress(file, p);
    EXPECT_EQ(decompress(image, default_decompress_params()), file);
}

} // namespace

TEST(io_npy, all_dtypes_orders_versions_round_trip) {
    struct dt {
        const char* code;
        std::size_t size;
    };
    const dt dts[] = {{"f4", 4}, {"f8", 8}, {"f2", 2}, {"V2", 2}, {"u2", 2}, {"i1", 1}, {"u1", 1},
                      {"i2", 2}, {"i4", 4}, {"u4", 4}, {"i8", 8}, {"u8", 8}, {"b1", 1}, {"c8", 8}};
    int seed = 0;
    for (const auto& d : dts)
        for (const char order : {'<', '>', '|'}) {
            if (order == '|' && d.size > 1) continue;
            if (order != '|' && d.size == 1) continue;
            for (const int major : {1, 2, 3})
                for (const bool fortran : {false, true}) {
                    const std::string descr = std::string(1, order) + d.code;
                    const auto file =
                        make_npy(descr, {3, 7}, random_bytes(21 * d.size, ++seed), fortran, major);
                    SCOPED_TRACE(descr + " v" + std::to_string(major));
                    const auto pf = detail::parse_npy(file);
                    ASSERT_EQ(pf.tensors.size(), 1u);
                    EXPECT_EQ(pf.tensors[0].fortran_order, fortran);
                    expect_round_trip(file);
                }
        }
}

TEST(io_npy, header_fields_are_understood) {
    const auto file = make_npy(">f4", {2, 3, 4}, random_bytes(96, 1));
    const auto pf = detail::parse_npy(file);
    ASSERT_EQ(pf.tensors.size(), 1u);
    const auto& t = pf.tensors[0];
    EXPECT_EQ(t.type, detail::dtype::f32);
    EXPECT_TRUE(t.big_endian);
    EXPECT_EQ(t.shape, (std::vector<std::int64_t>{2, 3, 4}));
    EXPECT_EQ(t.offset + t.nbytes, file.size());
    detail::read_options opt;
    opt.u2_as_bf16 = true;
    EXPECT_EQ(detail::parse_npy(make_npy("<u2", {4}, random_bytes(8, 2)), opt).tensors[0].type,
              detail::dtype::bf16);
    EXPECT_EQ(detail::parse_npy(make_npy("<V2", {4}, random_bytes(8, 2))).tensors[0].type,
              detail::dtype::bf16);
}

TEST(io_npy, empty_and_scalar_arrays) {
    expect_round_trip(make_npy("<f4", {0}, {}));
    expect_round_trip(make_npy("<f4", {3, 0}, {}));
    expect_round_trip(make_npy("<f4", {}, random_bytes(4, 3))); // 0-d scalar
}

TEST(io_npy, special_float_values_round_trip) {
    const auto bits = special_f32_bits(5000, 11);
    bytes data(bits.size() * 4);
    std::memcpy(data.data(), bits.data(), data.size());
    const auto file = make_npy("<f4", {static_cast<std::int64_t>(bits.size())}, data);
    for (const auto* codec : {"zstd", "gzip", "store"}) expect_round_trip(file, codec);
}

TEST(io_npy, malformed_headers_fail_cleanly) {
    const auto good = make_npy("<f4", {4}, random_bytes(16, 4));
    auto expect_bad = [](const bytes& f, const char* why) {
        try {
            detail::parse_npy(f);
            ADD_FAILURE() << "accepted: " << why;
        } catch (const error& e) {
            EXPECT_TRUE(e.code() == errc::bad_input || e.code() == errc::unsupported) << why;
            EXPECT_NE(std::string(e.what()).find("npy"), std::string::npos) << e.what();
        }
    };
    expect_bad(bytes(good.begin(), good.begin() + 9), "truncated magic");
    expect_bad(make_npy("<f4", {5}, random_bytes(16, 4)), "data shorter than shape");
    expect_bad(make_npy("<f4", {-1}, {}), "negative dimension");
    expect_bad(make_npy("<f4", {1ll << 40, 1ll << 40}, {}), "huge shape");
    expect_bad(make_npy("<O", {1}, random_bytes(8, 1)), "object dtype");
    expect_bad(make_npy("<f3", {1}, random_bytes(8, 1)), "unknown dtype");
    auto bad = good;
    bad[6] = 9;
    expect_bad(bad, "version 9");
    bad = good;
    bad[8] = 0xff;
    bad[9] = 0xff;
    expect_bad(bad, "header length past the end");
    bad = good;
    bad[12] = '#';
    expect_bad(bad, "junk in dict");
}

TEST(io_raw, raw_mode_needs_whole_floats) {
    auto p = default_compress_params();
    p.format = input_format::raw;
    const auto data = float_bytes(gradient_like(1000, 3));
    EXPECT_EQ(decompress(compress(data, p), default_decompress_params()), data);
    try {
        compress(random_bytes(4001, 5), p);
        FAIL();
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::bad_input);
        EXPECT_NE(std::string(e.what()).find("multiple of 4"), std::string::npos);
    }
    EXPECT_EQ(decompress(compress(bytes{}, p), default_decompress_params()), bytes{});
}

TEST(io_detect, unknown_and_empty_files) {
    auto p = default_compress_params();
    EXPECT_THROW(compress(bytes{}, p), error);
    EXPECT_THROW(compress(random_bytes(100, 6), p), error);
}

// Genuine files from numpy (python3-numpy); skipped where it is missing.
TEST(io_npy, genuine_numpy_files_round_trip) {
    if (run("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "/usr/bin/python3 with numpy not found";
    temp_dir dir;
    std::string log;
    ASSERT_EQ(
        run("/usr/bin/python3 " + source_dir() + "/tests/io/make-npy-fixtures.py " + dir.path(),
            &log),
        0)
        << log;
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        const auto name = entry.path().filename().string();
        SCOPED_TRACE(name);
        const auto file = read_bytes(entry.path().string());
        const auto pf = detail::parse_tensor_file(file, input_format::auto_detect);
        EXPECT_EQ(pf.format, detail::source_format::npy);
        if (!pf.tensors.empty()) {
            const auto& t = pf.tensors[0];
            EXPECT_EQ(t.offset + t.nbytes, file.size());
            EXPECT_EQ(t.offset % 64, 0u) << "numpy aligns the data to 64 bytes";
            EXPECT_EQ(t.big_endian,
                      name.find("-be-") != std::string::npos && t.type != detail::dtype::u8 &&
                          t.type != detail::dtype::i8 && t.type != detail::dtype::boolean);
            EXPECT_EQ(t.fortran_order, name.find("-F-") != std::string::npos &&
                                           name.find("-scalar-") == std::string::npos &&
                                           name.find("-0-") == std::string::npos);
        }
        expect_round_trip(file);
        ++n;
    }
    EXPECT_EQ(n, 14 * 2 * 4 * 2 * 3 + 3);
}
