#include "common/common-checksum.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

using namespace lmgc::detail;

TEST(common_checksum, crc32c_known_values) {
    // RFC 3720 test vector and the standard "123456789" check value.
    const std::string s = "123456789";
    EXPECT_EQ(crc32c({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}), 0xE3069283u);
    std::vector<std::uint8_t> zeros(32, 0);
    EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
    // Incremental equals one-shot.
    std::vector<std::uint8_t> data(1000);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
    const auto whole = crc32c(data);
    const auto part = crc32c(std::span(data).subspan(0, 333));
    EXPECT_EQ(crc32c(std::span(data).subspan(333), part), whole);
}

// The matrix method combining used before (zlib's crc32_combine up to 1.2.11), as a
// reference: len2 zero bytes applied to crc1 by repeated squaring of the one-bit operator.
namespace {
std::uint32_t times(const std::uint32_t* mat, std::uint32_t vec) {
    std::uint32_t sum = 0;
    for (int i = 0; vec; ++i, vec >>= 1)
        if (vec & 1) sum ^= mat[i];
    return sum;
}
std::uint32_t combine_by_matrices(std::uint32_t crc1, std::uint32_t crc2, std::uint64_t len2) {
    if (len2 == 0) return crc1;
    std::uint32_t even[32], odd[32];
    odd[0] = 0x82F63B78u;
    for (int i = 1; i < 32; ++i) odd[i] = 1u << (i - 1);
    auto square = [](std::uint32_t* sq, const std::uint32_t* mat) {
        for (int i = 0; i < 32; ++i) sq[i] = times(mat, mat[i]);
    };
    square(even, odd);
    square(odd, even);
    do {
        square(even, odd);
        if (len2 & 1) crc1 = times(even, crc1);
        len2 >>= 1;
        if (len2 == 0) break;
        square(odd, even);
        if (len2 & 1) crc1 = times(odd, crc1);
        len2 >>= 1;
    } while (len2 != 0);
    return crc1 ^ crc2;
}
} // namespace

TEST(common_checksum, combine_equals_one_pass_over_the_whole) {
    std::vector<std::uint8_t> data(5000);
    std::mt19937_64 rng(5);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    const auto whole = crc32c(data);
    for (std::size_t cut : {0u, 1u, 7u, 8u, 333u, 4096u, 4999u, 5000u}) {
        const auto a = crc32c(std::span(data).subspan(0, cut));
        const auto b = crc32c(std::span(data).subspan(cut));
        EXPECT_EQ(crc32c_combine(a, b, data.size() - cut), whole) << cut;
    }
}

TEST(common_checksum, combine_matches_the_matrix_method_at_every_length_scale) {
    // Lengths up to 2^64 - 1 bytes, where no buffer can check them directly.
    std::mt19937_64 rng(6);
    for (int i = 0; i < 2000; ++i) {
        const auto a = static_cast<std::uint32_t>(rng()), b = static_cast<std::uint32_t>(rng());
        const std::uint64_t len = rng() >> (rng() % 64);
        EXPECT_EQ(crc32c_combine(a, b, len), combine_by_matrices(a, b, len)) << len;
    }
    EXPECT_EQ(crc32c_combine(1, 2, ~std::uint64_t{0}),
              combine_by_matrices(1, 2, ~std::uint64_t{0}));
}

TEST(common_checksum, large_buffers_equal_small_steps) {
    // From 12 KiB on, crc32c runs three chains and combines them; pieces of 1000 bytes run
    // one. Every size around the thirds' rounding, and a previous CRC carried in.
    std::vector<std::uint8_t> data(100000);
    std::mt19937_64 rng(7);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    for (std::size_t n : {12287u, 12288u, 12289u, 12290u, 12295u, 12296u, 50001u, 100000u}) {
        const auto whole = std::span<const std::uint8_t>(data).first(n);
        std::uint32_t steps = 0x1234u;
        for (std::size_t at = 0; at < n; at += 1000)
            steps = crc32c(whole.subspan(at, std::min<std::size_t>(1000, n - at)), steps);
        EXPECT_EQ(crc32c(whole, 0x1234u), steps) << n;
    }
}
