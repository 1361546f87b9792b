#include "common/common-checksum.hpp"

#include <gtest/gtest.h>

#include <string>

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
