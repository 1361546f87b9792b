// Element type table.
#include "common/common-dtype.hpp"

#include <array>

namespace lmgc {
namespace {

struct dtype_row {
    dtype type;
    std::string_view name;
    std::size_t size;
    bool is_float;
};

constexpr std::array<dtype_row, 13> dtype_table{{
    {dtype::f64, "f64", 8, true},
    {dtype::f32, "f32", 4, true},
    {dtype::f16, "f16", 2, true},
    {dtype::bf16, "bf16", 2, true},
    {dtype::i8, "i8", 1, false},
    {dtype::u8, "u8", 1, false},
    {dtype::i16, "i16", 2, false},
    {dtype::u16, "u16", 2, false},
    {dtype::i32, "i32", 4, false},
    {dtype::u32, "u32", 4, false},
    {dtype::i64, "i64", 8, false},
    {dtype::u64, "u64", 8, false},
    {dtype::boolean, "bool", 1, false},
}};

const dtype_row* find_row(dtype t) noexcept {
    for (const auto& r : dtype_table)
        if (r.type == t) return &r;
    return nullptr;
}

} // namespace

std::size_t dtype_size(dtype t) noexcept {
    const auto* r = find_row(t);
    return r ? r->size : 0;
}
bool dtype_is_float(dtype t) noexcept {
    const auto* r = find_row(t);
    return r && r->is_float;
}
std::string_view dtype_name(dtype t) noexcept {
    const auto* r = find_row(t);
    return r ? r->name : "?";
}
std::optional<dtype> dtype_from_name(std::string_view name) noexcept {
    for (const auto& r : dtype_table)
        if (r.name == name) return r.type;
    return std::nullopt;
}
namespace detail {
std::optional<dtype> dtype_from_code(std::uint64_t code) noexcept {
    for (const auto& r : dtype_table)
        if (static_cast<std::uint64_t>(r.type) == code) return r.type;
    return std::nullopt;
}

} // namespace detail
} // namespace lmgc
