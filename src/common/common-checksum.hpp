// CRC-32C (Castagnoli), the checksum of every .lmgc chunk and header. Any file may include this.
#pragma once

#include <cstdint>
#include <span>

namespace lmgc::detail {

// CRC-32C of data, continuing from a previous result (0 to start).
std::uint32_t crc32c(std::span<const std::uint8_t> data, std::uint32_t previous = 0) noexcept;

} // namespace lmgc::detail
