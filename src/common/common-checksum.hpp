// CRC-32C (Castagnoli), the checksum of every .lmgc chunk and header. Any file may include this.
#pragma once

#include <cstdint>
#include <span>

namespace lmgc::detail {

// CRC-32C of data, continuing from a previous result (0 to start).
std::uint32_t crc32c(std::span<const std::uint8_t> data, std::uint32_t previous = 0) noexcept;

// The CRC-32C of A followed by B, from crc32c(A), crc32c(B) and B's length.
std::uint32_t crc32c_combine(std::uint32_t crc_a, std::uint32_t crc_b,
                             std::uint64_t len_b) noexcept;

} // namespace lmgc::detail
