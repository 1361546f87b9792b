// Element types of tensors, shared by io, container and codecs. Any file may include this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace lmgc::detail {

// Values are stored in .lmgc headers: never renumber.
enum class dtype : std::uint8_t {
    f64 = 1,
    f32 = 2,
    f16 = 3,
    bf16 = 4,
    i8 = 5,
    u8 = 6,
    i16 = 7,
    u16 = 8,
    i32 = 9,
    u32 = 10,
    i64 = 11,
    u64 = 12,
    boolean = 13,
};

std::size_t dtype_size(dtype t) noexcept;
bool dtype_is_float(dtype t) noexcept;
// Short lowercase name: "f32", "bf16", "i64", "bool".
std::string_view dtype_name(dtype t) noexcept;
std::optional<dtype> dtype_from_name(std::string_view name) noexcept;
// Validates a value read from a file.
std::optional<dtype> dtype_from_code(std::uint64_t code) noexcept;

} // namespace lmgc::detail
