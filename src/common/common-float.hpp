// Conversions between float32 and the 16-bit float formats (IEEE half, bfloat16), with
// round-to-nearest-even, exact for every bit pattern that fits. Any file may include this.
#pragma once

#include "common/common-bytes.hpp"
#include "common/common-dtype.hpp"

#include <bit>
#include <cstdint>

namespace lmgc::detail {

inline float bf16_to_f32(std::uint16_t h) {
    return std::bit_cast<float>(std::uint32_t{h} << 16);
}

inline std::uint16_t f32_to_bf16(float f) {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return static_cast<std::uint16_t>((u >> 16) | 0x40); // quiet NaN
    const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>((u + rounding) >> 16);
}

inline float f16_to_f32(std::uint16_t h) {
    const std::uint32_t sign = std::uint32_t{h & 0x8000u} << 16;
    const std::uint32_t exp = (h >> 10) & 0x1fu;
    std::uint32_t mant = h & 0x3ffu;
    std::uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { // subnormal: normalize
            int e = -1;
            do {
                ++e;
                mant <<= 1;
            } while ((mant & 0x400u) == 0);
            bits =
                sign | ((127 - 15 - static_cast<std::uint32_t>(e)) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    return std::bit_cast<float>(bits);
}

inline std::uint16_t f32_to_f16(float f) {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
    const std::uint32_t sign = (u >> 16) & 0x8000u;
    const std::uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u)
        return static_cast<std::uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
    if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u); // overflow -> inf
    if (abs < 0x38800000u) { // subnormal or zero in half
        if (abs < 0x33000000u) return static_cast<std::uint16_t>(sign);
        const std::uint32_t e = abs >> 23;
        const std::uint32_t m = (abs & 0x7fffffu) | 0x800000u;
        const std::uint32_t shift = 126 - e; // 14 + (113 - e)
        std::uint32_t r = m >> shift;
        const std::uint32_t rem = m & ((1u << shift) - 1);
        const std::uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1u))) ++r;
        return static_cast<std::uint16_t>(sign | r);
    }
    std::uint32_t r = ((abs - 0x38000000u) >> 13);
    const std::uint32_t rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
    return static_cast<std::uint16_t>(sign | r);
}

// One little-endian element of a float dtype (f64, f32, f16, bf16) as a double, and back
// (rounded to nearest even). Other dtypes read as 0 and are not written.
inline double load_float(const std::uint8_t* p, dtype t) {
    switch (t) {
    case dtype::f64:
        return load_le<double>(p);
    case dtype::f32:
        return load_le<float>(p);
    case dtype::f16:
        return f16_to_f32(load_le<std::uint16_t>(p));
    case dtype::bf16:
        return bf16_to_f32(load_le<std::uint16_t>(p));
    default:
        return 0.0;
    }
}

inline void store_float(std::uint8_t* p, dtype t, double v) {
    switch (t) {
    case dtype::f64:
        store_le<double>(p, v);
        return;
    case dtype::f32:
        store_le<float>(p, static_cast<float>(v));
        return;
    case dtype::f16:
        store_le<std::uint16_t>(p, f32_to_f16(static_cast<float>(v)));
        return;
    case dtype::bf16:
        store_le<std::uint16_t>(p, f32_to_bf16(static_cast<float>(v)));
        return;
    default:
        return;
    }
}

} // namespace lmgc::detail
