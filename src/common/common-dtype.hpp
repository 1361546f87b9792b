// Element types of tensors, shared by io, container and codecs. Any file may include this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "lmgc/lmgc.hpp"

namespace lmgc::detail {

// The public enum and its table (lmgc.hpp); the codes are stored in .lmgc headers.
using lmgc::dtype;
using lmgc::dtype_from_name;
using lmgc::dtype_is_float;
using lmgc::dtype_name;
using lmgc::dtype_size;

// Validates a value read from a file.
std::optional<dtype> dtype_from_code(std::uint64_t code) noexcept;

} // namespace lmgc::detail
