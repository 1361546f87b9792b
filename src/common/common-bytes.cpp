// Byte-order helpers.
#include "common/common-bytes.hpp"

#include <algorithm>

namespace lmgc::detail {

void swap_bytes_inplace(std::span<std::uint8_t> data, std::size_t elem_size) {
    if (elem_size <= 1) return;
    LMGC_ASSERT(data.size() % elem_size == 0);
    for (std::size_t i = 0; i + elem_size <= data.size(); i += elem_size)
        std::reverse(data.begin() + static_cast<std::ptrdiff_t>(i),
                     data.begin() + static_cast<std::ptrdiff_t>(i + elem_size));
}

} // namespace lmgc::detail
