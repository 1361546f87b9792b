// CRC-32C: the SSE4.2 instruction where the CPU has it (x86-64; three chains at once on large
// buffers), else slicing-by-8 in software (~1.5 GB/s); both give the same value. Also the
// combination of two CRCs, so pieces checksummed out of order give the checksum of the whole.
#include "common/common-checksum.hpp"

#include <array>
#include <cstring>

namespace lmgc::detail {
namespace {

constexpr std::uint32_t crc32c_poly = 0x82F63B78u; // reflected Castagnoli polynomial

struct crc_tables {
    std::array<std::array<std::uint32_t, 256>, 8> t{};
    constexpr crc_tables() {
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ crc32c_poly : c >> 1;
            t[0][i] = c;
        }
        for (std::uint32_t i = 0; i < 256; ++i)
            for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
};

constexpr crc_tables tables{};

std::uint32_t crc32c_software(std::span<const std::uint8_t> data, std::uint32_t previous) noexcept;

#if defined(__x86_64__) && defined(__GNUC__)
#define LMGC_CRC_HW 1
// One 8-byte step per instruction (3-cycle latency: ~8 GB/s at 3 GHz).
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(const std::uint8_t* p, std::size_t n,
                                                             std::uint32_t c) noexcept {
    std::uint64_t c0 = c;
    while (n >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        c0 = __builtin_ia32_crc32di(c0, w);
        p += 8;
        n -= 8;
    }
    std::uint32_t c32 = static_cast<std::uint32_t>(c0);
    while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}

// Three chains over consecutive thirds of 8 * k bytes each, in one loop.
__attribute__((target("sse4.2"))) void crc32c_sse42_thirds(const std::uint8_t* p, std::size_t third,
                                                           std::uint64_t (&c)[3]) noexcept {
    std::uint64_t a = c[0], b = c[1], d = c[2];
    for (std::size_t i = 0; i < third; i += 8) {
        std::uint64_t wa, wb, wd;
        std::memcpy(&wa, p + i, 8);
        std::memcpy(&wb, p + third + i, 8);
        std::memcpy(&wd, p + 2 * third + i, 8);
        a = __builtin_ia32_crc32di(a, wa);
        b = __builtin_ia32_crc32di(b, wb);
        d = __builtin_ia32_crc32di(d, wd);
    }
    c[0] = a, c[1] = b, c[2] = d;
}

bool cpu_has_sse42() noexcept {
    static const bool has = __builtin_cpu_supports("sse4.2");
    return has;
}
#endif

// Combining, as zlib 1.2.12+ does it: polynomials over GF(2) modulo the CRC polynomial, in
// the CRC's reflected bit order (x^0 is the top bit). a * b mod p, bit by bit.
constexpr std::uint32_t multiply_mod_p(std::uint32_t a, std::uint32_t b) noexcept {
    std::uint32_t m = 1u << 31, product = 0;
    for (;;) {
        if (a & m) {
            product ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ crc32c_poly : b >> 1;
    }
    return product;
}

// x^(2^k) mod p for every k a 64-bit length in bytes can need (k = 3..66).
struct power_table {
    std::array<std::uint32_t, 67> x2k{};
    constexpr power_table() {
        std::uint32_t p = 1u << 30; // x^1
        for (auto& e : x2k) {
            e = p;
            p = multiply_mod_p(p, p);
        }
    }
};
constexpr power_table powers{};

// x^(n * 2^k) mod p.
std::uint32_t x_to_n_times_2k(std::uint64_t n, unsigned k) noexcept {
    std::uint32_t p = 1u << 31; // x^0
    for (; n; n >>= 1, ++k)
        if (n & 1) p = multiply_mod_p(powers.x2k[k], p);
    return p;
}

} // namespace

std::uint32_t crc32c(std::span<const std::uint8_t> data, std::uint32_t previous) noexcept {
#ifdef LMGC_CRC_HW
    if (cpu_has_sse42()) {
        // Three thirds in one loop: the instruction's latency is 3 cycles and its throughput
        // 1 per cycle, so three independent chains run about three times as fast; the thirds'
        // CRCs are then combined (~1,000 operations each).
        const std::size_t n = data.size();
        if (n < 3 * 4096) return ~crc32c_sse42(data.data(), n, ~previous);
        const std::size_t third = n / 3 / 8 * 8;
        const std::uint8_t* p = data.data();
        std::uint64_t c[3] = {~previous, 0xFFFFFFFFu, 0xFFFFFFFFu};
        crc32c_sse42_thirds(p, third, c);
        const std::uint32_t last =
            ~crc32c_sse42(p + 3 * third, n - 3 * third, static_cast<std::uint32_t>(c[2]));
        const std::uint32_t ab = crc32c_combine(~static_cast<std::uint32_t>(c[0]),
                                                ~static_cast<std::uint32_t>(c[1]), third);
        return crc32c_combine(ab, last, n - 2 * third);
    }
#endif
    return crc32c_software(data, previous);
}

std::uint32_t crc32c_combine(std::uint32_t crc1, std::uint32_t crc2, std::uint64_t len2) noexcept {
    // crc1 followed by len2 bytes: crc1 * x^(8 * len2), then add crc2. About 1,000 operations
    // whatever len2 (the matrix squaring it replaces took ~60,000, and the pipelines combine
    // once per tensor piece: 13% of `fast`'s decompression time on small tensors).
    if (len2 == 0) return crc1;
    return multiply_mod_p(x_to_n_times_2k(len2, 3), crc1) ^ crc2;
}

namespace {

std::uint32_t crc32c_software(std::span<const std::uint8_t> data, std::uint32_t previous) noexcept {
    std::uint32_t c = ~previous;
    const std::uint8_t* p = data.data();
    std::size_t n = data.size();
    const auto& t = tables.t;
    while (n >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        w ^= c;
        c = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^
            t[4][(w >> 24) & 0xff] ^ t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^
            t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
    return ~c;
}

} // namespace

} // namespace lmgc::detail
