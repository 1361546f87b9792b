// Portable random numbers: splitmix64 and xoshiro256** (seeded by splitmix64), with unbiased
// bounded draws. The same stream with every compiler and standard library, which the
// seeded parts of lmgc (data order, augmentation, random masks, random test models) need.
// Any file may include this.
#pragma once

#include <array>
#include <cstdint>

namespace lmgc::detail {

// Advances x and returns the next splitmix64 output.
inline std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// (a * b) >> 64: the high half of a 64x64-bit product.
inline std::uint64_t mul_high64(std::uint64_t a, std::uint64_t b) {
    __extension__ typedef unsigned __int128 uint128; // GCC and Clang
    return static_cast<std::uint64_t>((static_cast<uint128>(a) * b) >> 64);
}

class xoshiro256ss {
  public:
    explicit xoshiro256ss(std::uint64_t seed) {
        for (auto& s : s_) s = splitmix64(seed);
    }
    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    // Uniform in [0, n), n > 0 (Lemire's method, unbiased).
    std::uint64_t below(std::uint64_t n) {
        __extension__ typedef unsigned __int128 uint128;
        uint128 m = static_cast<uint128>(next()) * n;
        auto low = static_cast<std::uint64_t>(m);
        if (low < n) {
            const std::uint64_t threshold = (0 - n) % n;
            while (low < threshold) {
                m = static_cast<uint128>(next()) * n;
                low = static_cast<std::uint64_t>(m);
            }
        }
        return static_cast<std::uint64_t>(m >> 64);
    }
    // Uniform in [0, 1) with 53 bits.
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::array<std::uint64_t, 4> s_{};
};

} // namespace lmgc::detail
