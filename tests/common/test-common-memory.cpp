// Large-buffer helpers of common-file.hpp: reserve_large, advise_huge_pages and
// populate_parallel keep bytes as they are and never fail (huge pages are a hint; whether the
// kernel gives them is its choice, so not asserted here).
#include "common/common-file.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <sys/mman.h>
#include <vector>

using namespace lmgc::detail;

TEST(common_memory, reserve_large_gives_room_for_large_buffers_only) {
    bytes small;
    reserve_large(small, 1 << 20);
    EXPECT_EQ(small.capacity(), 0u); // below 4 MiB: left to grow as it is written

    bytes big = {1, 2, 3};
    reserve_large(big, std::size_t{8} << 20);
    EXPECT_GE(big.capacity(), std::size_t{8} << 20);
    EXPECT_EQ(big, (bytes{1, 2, 3})); // the bytes it held stay
    const auto* at = big.data();
    big.resize(std::size_t{8} << 20, 7);
    EXPECT_EQ(big.data(), at); // grew in place
    EXPECT_EQ(big[2], 3);
    EXPECT_EQ(big.back(), 7);

    const auto cap = big.capacity();
    reserve_large(big, std::size_t{4} << 20); // less than it has: nothing changes
    EXPECT_EQ(big.capacity(), cap);
}

TEST(common_memory, reserve_large_of_more_than_can_be_had_is_no_error) {
    bytes b = {9};
    reserve_large(b, static_cast<std::size_t>(-1)); // past max_size(): length_error inside
    EXPECT_EQ(b, bytes{9});
}

TEST(common_memory, advise_huge_pages_takes_any_range) {
    std::vector<std::uint8_t> v((std::size_t{5} << 20) + 3, 0x5A);
    advise_huge_pages(nullptr, 0);
    advise_huge_pages(v.data() + 1, 100);                      // small: nothing to do
    advise_huge_pages(v.data() + 3, v.size() - 3);             // unaligned: the whole pages inside
    advise_huge_pages(v.data(), static_cast<std::size_t>(-1)); // past the address space
    for (std::size_t i = 0; i < v.size(); i += 4093) ASSERT_EQ(v[i], 0x5A);
}

TEST(common_memory, populate_parallel_maps_fresh_memory_and_keeps_bytes) {
    std::vector<std::uint8_t> v((std::size_t{20} << 20) + 5, 0x5A);
    populate_parallel(nullptr, 0, 2);
    populate_parallel(v.data() + 3, v.size() - 3, 2); // unaligned: the whole pages inside
    populate_parallel(v.data() + 1, 100, 8);          // small: nothing to do
    populate_parallel(v.data(), static_cast<std::size_t>(-1), 2); // past the address space
    for (std::size_t i = 0; i < v.size(); i += 4093) ASSERT_EQ(v[i], 0x5A);

    // Fresh memory: mapped (resident) after, all zero, writable. Two threads take 32 MiB in
    // two parts; one thread, or less than 8 MiB a part, leaves it alone.
    const std::size_t n = std::size_t{32} << 20, page = 4096;
    void* m = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(m, MAP_FAILED);
    auto* p = static_cast<std::uint8_t*>(m);
    auto resident = [&](std::size_t from, std::size_t to) {
        std::vector<unsigned char> in((to - from + page - 1) / page);
        EXPECT_EQ(::mincore(p + from, to - from, in.data()), 0);
        std::size_t r = 0;
        for (auto c : in) r += c & 1;
        return r;
    };
    populate_parallel(p, n, 1);
    EXPECT_EQ(resident(0, n), 0u);
    populate_parallel(p, std::size_t{12} << 20, 2); // 6 MiB a part
    EXPECT_EQ(resident(0, n), 0u);
    if (::madvise(p, page, MADV_POPULATE_WRITE) != 0) {
        ::munmap(m, n);
        GTEST_SKIP() << "kernel without MADV_POPULATE_WRITE";
    }
    populate_parallel(p, n, 2);
    EXPECT_EQ(resident(0, n), n / page);
    for (std::size_t i = 0; i < n; i += 4093) ASSERT_EQ(p[i], 0);
    p[n - 1] = 1;
    EXPECT_EQ(p[n - 1], 1);
    ::munmap(m, n);
}
